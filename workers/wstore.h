/* wstore.h — the worker's local store (SQLite, WAL): the unit's tickets as
 * last seen, the inbox cursor, and the outbox of actions taken here. It is
 * what lets a worker keep working while the link is down and lose nothing
 * across restarts. Nothing else in workers/ speaks SQL. */
#ifndef HOTLINE_WORKER_WSTORE_H
#define HOTLINE_WORKER_WSTORE_H

#include "jscan.h"

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

typedef struct wstore wstore;

/* Outbox states. 'sent' means handed to the link and not yet answered; a
 * restart treats it like 'pending' (the resend carries the same idem). */
typedef enum {
    WS_PENDING = 0,
    WS_SENT,
    WS_DONE,
    WS_REFUSED,
} ws_state;

const char *wstore_state_name(ws_state st);

/* A ticket as the local store keeps it. json is a parsed copy (caller's to
 * free through wstore_ticket_free); the columns mirror fields of it. */
typedef struct ws_ticket {
    int64_t id;
    int64_t idx;      /* the short local number shown by the console */
    char no[40];
    char status[16];
    char lead[72];
    int64_t assigned; /* assignments of this ticket to the unit seen so far */
    cJSON *json;
} ws_ticket;

void wstore_ticket_free(ws_ticket *t);

/* An outbox row. Strings are owned by the row (free with wstore_action_free). */
typedef struct ws_action {
    int64_t n;        /* order of entry; actions are sent in this order */
    char *op;         /* sign, note, finish, return, extend, create */
    int64_t ticket;   /* ticket id, 0 when unknown (create, or a ref typed by number) */
    char *ref;        /* what the user named the ticket by, for display ("20261127-000003") */
    char *args;       /* the request's arguments, JSON object text (without idem) */
    char *idem;
    int64_t created_at;
    ws_state state;
    char *code;       /* refusal: error code and message */
    char *message;
} ws_action;

void wstore_action_free(ws_action *a);

/* Open (creating) the store for unit; refuses a store made for another unit.
 * Returns NULL and sets *err (caller frees) on failure. The directory of
 * path is created when missing. */
wstore *wstore_open(const char *path, const char *unit, char **err);
/* Commit what is open and close; nulls *s. */
void wstore_close(wstore **s);

/* Writes open a transaction lazily; wstore_commit ends it (no-op when none
 * is open). Callers commit before anything leaves the process that depends
 * on the writes (a request carrying an idem, a line shown to the user). */
void wstore_commit(wstore *s);

/* The inbox cursor: the last feed seq processed. */
int64_t wstore_cursor(wstore *s);
void wstore_set_cursor(wstore *s, int64_t seq);
/* Time (ms since epoch) of the last completed sync; 0 when never. */
int64_t wstore_last_sync(wstore *s);
void wstore_set_last_sync(wstore *s, int64_t t);

/* Insert or update a ticket from its JSON (must have id). count_assign is
 * added to the ticket's assignment counter (1 for an assignment seen). When prev is not
 * NULL it receives the stored version before the update (json NULL and id 0
 * when the ticket was new); free it with wstore_ticket_free. Returns 0, or -1
 * when the JSON is not a ticket. */
int wstore_ticket_put(wstore *s, const cJSON *ticket, int count_assign, ws_ticket *prev);
/* A ticket as received, read in place: the fields the store keeps in
 * columns, and the JSON text itself, stored as it came. After
 * wstore_ticket_scan the fields point into the struct's own buffers: a copy
 * of the struct must point them at its own. */
typedef struct ws_ticket_in {
    int64_t id;
    const char *no, *status, *lead; /* NULL when absent, null or not a string */
    const char *json;               /* the ticket object's text */
    size_t json_len;
    char buf_no[64], buf_status[32], buf_lead[128];
} ws_ticket_in;

/* Read id, no, status and lead from a ticket object's span (one the js_
 * functions produced, so already checked). Returns 0, or -1 when it is not
 * a ticket (no positive integral id) or a field does not fit its buffer: the
 * caller then parses the text and uses wstore_ticket_put. */
int wstore_ticket_scan(js_span ticket, ws_ticket_in *in);
/* Insert or update a ticket from its text and fields, in one statement,
 * adding count_assign to its assignments. When now is not NULL it receives
 * the stored columns (json NULL). No previous version is read. */
void wstore_ticket_put_text(wstore *s, const ws_ticket_in *in, int count_assign, ws_ticket *now);

/* Load a ticket by id; 0 or -1 when absent. */
int wstore_ticket_get(wstore *s, int64_t id, ws_ticket *out);
/* The same without the json (NULL): the columns only, no parse. */
int wstore_ticket_head(wstore *s, int64_t id, ws_ticket *out);
/* Resolve what a user typed: "#17" (id), a ticket number "20261127-000017",
 * or a bare number (the short index, else the id). 0 or -1 when unknown. */
int wstore_ticket_find(wstore *s, const char *ref, ws_ticket *out);
/* Call fn for each ticket, by short index; with open_only, only those the
 * unit leads in status dispatched or accepted. fn returns non-zero to stop. */
typedef int (*wstore_ticket_fn)(const ws_ticket *t, void *arg);
void wstore_ticket_each(wstore *s, int open_only, wstore_ticket_fn fn, void *arg);

/* Append an action to the outbox as pending; its idem is made here and is
 * unique. args is consumed. Returns the row number n. */
int64_t wstore_action_add(wstore *s, const char *op, int64_t ticket, const char *ref,
                          cJSON *args);
/* The same with args already JSON object text (not consumed); idem (at
 * least HL_IDEM_MAX + 1 bytes) and created_at receive what was stored. */
int64_t wstore_action_add_text(wstore *s, const char *op, int64_t ticket, const char *ref,
                               const char *args, char *idem, int64_t *created_at);
int wstore_action_get(wstore *s, int64_t n, ws_action *out);
void wstore_action_set_state(wstore *s, int64_t n, ws_state st, const char *code,
                             const char *message);
/* Call fn for each action in the given states (bit mask 1 << ws_state), in order. */
typedef int (*wstore_action_fn)(const ws_action *a, void *arg);
void wstore_action_each(wstore *s, unsigned states, wstore_action_fn fn, void *arg);
/* Actions in a state. */
int64_t wstore_action_count(wstore *s, ws_state st);
/* 1 when the ticket has an action pending or sent. */
int wstore_action_open_for(wstore *s, int64_t ticket);

#endif
