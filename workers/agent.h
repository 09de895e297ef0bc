/* agent.h — the worker's agent: ties the session and the local store. It
 * syncs the unit's inbox into the store (on connect, on push, on demand),
 * and sends the outbox in order, pipelined, each action with its idem, until
 * the dispatcher has answered it: done, or refused and kept with the reason.
 * The console or the auto policy sits on top through agent_ui. */
#ifndef HOTLINE_WORKER_AGENT_H
#define HOTLINE_WORKER_AGENT_H

#include "session.h"
#include "wstore.h"

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct agent agent;

typedef struct agent_ui {
    /* A feed item was stored: kind is assigned, reopened, revoked or changed;
     * prev is the version stored before (id 0 when the ticket is new). */
    void (*ticket)(agent *a, const char *kind, const ws_ticket *now, const ws_ticket *prev,
                   void *arg);
    /* An action was answered: act->state is WS_DONE or WS_REFUSED (code and
     * message set). result is the reply (NULL when refused). */
    void (*action)(agent *a, const ws_action *act, const cJSON *result, void *arg);
    /* The link went up or down. */
    void (*link)(agent *a, int up, const char *why, void *arg);
    /* A sync finished: items is how many feed items it brought. */
    void (*synced)(agent *a, int items, void *arg);
    /* hello refused (unknown unit, say). */
    void (*refused)(agent *a, const char *code, const char *message, void *arg);
} agent_ui;

agent *agent_new(uv_loop_t *loop, void *zctx, wstore *store, const char *endpoint,
                 const char *unit, const char *client);
/* Install the UI (NULL for none); this also ends columns-only mode. */
void agent_set_ui(agent *a, const agent_ui *ui, void *arg);
/* For a UI that reads only the columns of now and prev (id, no, status,
 * lead, assigned) and shows nothing to a person: the agent then passes them
 * without json (NULL), and commits answered actions with the next loop
 * turn instead of one by one. The auto policy asks for it. */
void agent_set_columns_only(agent *a, int on);
/* Load the outbox and connect. */
void agent_start(agent *a);
/* Close the session and handles (the loop must run for them to finish);
 * the store stays the caller's. Nulls *a. */
void agent_destroy(agent **a);

wstore *agent_store(agent *a);
sess *agent_sess(agent *a);
const char *agent_unit(const agent *a);
int agent_link_up(const agent *a);

/* Take an action: append it to the outbox (args consumed) and send it as
 * soon as the link allows. ticket is the id (0 when unknown), ref how the
 * user named the ticket. Returns the outbox row number. The write is
 * committed before the next loop wait, and always before it is sent. */
int64_t agent_act(agent *a, const char *op, int64_t ticket, const char *ref, cJSON *args);
/* The same with the arguments as JSON object text (not consumed), stored
 * and sent as they are. */
int64_t agent_act_text(agent *a, const char *op, int64_t ticket, const char *ref,
                       const char *args);
/* 1 when the ticket has an action not yet answered (pending or sent): the
 * queue's own count, which is what the store would answer. */
int agent_open_for(const agent *a, int64_t ticket);
/* Ask the inbox now (or as soon as the link is up). */
void agent_sync(agent *a);
/* Actions not yet answered (pending or sent). */
size_t agent_open_actions(const agent *a);
/* Send a read-only request (get) when the link is up; -1 otherwise. */
int agent_request(agent *a, const char *op, cJSON *args, sess_reply_fn fn, void *arg);
/* Is a sync running? */
int agent_syncing(const agent *a);

#endif
