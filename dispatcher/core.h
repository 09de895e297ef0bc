/* core.h — the dispatcher's request handler: sessions, authorisation, the
 * ticket state machine, idempotency, feeds and events. Independent of
 * sockets: it takes one request frame from a peer (an opaque key) and
 * produces a reply plus pushes and events, which the caller sends only
 * after core_commit() made the batch durable. */
#ifndef HOTLINE_CORE_H
#define HOTLINE_CORE_H

#include "store.h"

#include "hotline/config.h"

#include <stddef.h>
#include <stdint.h>

typedef struct core core;

/* Secure mode: who a client's CURVE public key belongs to, from the keys
 * file (dispatcher/auth.c). */
typedef struct core_principal {
    const char *key;  /* the Z85 public key, 40 characters */
    int role;         /* HL_ROLE_* */
    int unit;         /* unit index, -1 when none */
    const char *name; /* may be empty */
} core_principal;

/* A peer that said hello. */
typedef struct core_session {
    char *key; /* the peer key (the ROUTER routing id) */
    size_t keylen;
    int role; /* HL_ROLE_* */
    int unit; /* unit index, -1 when none */
    char client[260];
    char curve_key[41]; /* secure mode: the public key it said hello with */
    hl_ms last_seen;
    struct core_session *prev, *next; /* the worker sessions of one unit */
} core_session;

/* Output waiting for the commit: pushes to a unit's workers, and events. */
typedef enum { CORE_OUT_PUSH, CORE_OUT_EVENT } core_out_kind;
typedef struct core_out {
    core_out_kind kind;
    int unit;    /* PUSH: unit index */
    char *topic; /* EVENT */
    char *text;  /* the JSON */
} core_out;
typedef struct core_outq {
    core_out *items;
    size_t n, cap;
} core_outq;
void core_outq_init(core_outq *q);
/* Free the items from index n on. */
void core_outq_truncate(core_outq *q, size_t n);
void core_outq_free(core_outq *q);

/* A read handed to another thread (core_set_defer): its reply is
 * core_job_run's. */
typedef struct core_job core_job;

/* The answer to one request. */
typedef struct core_reply {
    char *text;    /* the reply JSON; the caller frees */
    char *re;      /* the request id, or NULL; the caller frees */
    int changed;   /* the request changed state (its reply must wait for the commit) */
    core_job *job; /* instead of text: the reply is core_job_run(job) (the caller frees) */
} core_reply;
void core_reply_free(core_reply *r);

/* cfg and st are borrowed and must outlive the core. */
core *core_new(const hl_config *cfg, store *st);
void core_destroy(core **c);

/* A batch: begin, handle requests, commit. When the commit fails, nothing
 * of the batch remains and core_errmsg() says why; the caller then replaces
 * the replies of requests that changed state. */
int core_begin(core *c);
int core_commit(core *c);
/* Abandon the batch: nothing of it remains. */
void core_rollback(core *c);
/* Between batches, once their replies and events went out: housekeeping
 * that must not hold up a reply (letting the database's log start over). */
void core_idle(core *c);
const char *core_errmsg(const core *c);

/* Handle one request frame from a peer, inside a batch. */
void core_handle(core *c, const void *peer, size_t peerlen, const void *frame, size_t len,
                 core_reply *rep, core_outq *out);

/* Secure mode (DESIGN §8): every request comes with the principal of the
 * key its connection authenticated with, hello must agree with it, and a
 * session belongs to that key alone. */
void core_set_secure(core *c, int on);
/* With on, a stats request is checked on the loop and its count left to
 * the caller as a job (core_reply.job), to run after the batch's commit
 * with core_job_run on a connection of its own (store_open_reader),
 * off the loop. Without it (the default), stats is answered in place. */
void core_set_defer(core *c, int on);
/* The reply text for a job (the caller frees): the count read through
 * reader. Touches nothing else of core: any thread may run it. */
char *core_job_run(const core_job *j, store *reader);
void core_job_free(core_job *j);
/* core_handle for a request whose connection authenticated as who; NULL
 * when its key is no longer admitted (removed from the keys file since the
 * handshake): the request is refused and the session forgotten. who is
 * ignored outside secure mode. */
void core_handle_as(core *c, const void *peer, size_t peerlen, const core_principal *who,
                    const void *frame, size_t len, core_reply *rep, core_outq *out);
/* Periodic work inside a batch: units whose workers went silent go
 * offline (events). */
void core_tick(core *c, core_outq *out);
/* Forget idempotency keys older than 7 days, inside a batch. */
int core_purge(core *c);

/* ---- deadlines (红黄旗) ----------------------------------------------------
 * The dispatches table keeps, per current dispatch, the next threshold it
 * waits for (next_check, indexed). The caller arms one timer for the
 * earliest and, when it fires, runs core_deadlines in a batch of its own. */

/* Inside a batch: raise the alerts whose thresholds are at or before now,
 * looking at most at `max` dispatches (one threshold each). Each alert is
 * stored, counted, logged and queued for publishing in out. *more is set
 * when thresholds at or before now remain (call again after a loop turn).
 * Returns -1 when the database failed (roll the batch back). */
int core_deadlines(core *c, hl_ms now, int max, core_outq *out, int *more);
/* The earliest pending threshold in *at (0 when nothing is pending). */
int core_next_deadline(core *c, hl_ms *at);
/* The earliest next_check the last batch wrote (a new dispatch, a sign,
 * an approved extension); 0 when none. After a commit the caller re-arms
 * its timer when this is earlier than the armed time. */
hl_ms core_wakeup(const core *c);

#define CORE_DEADLINE_CHUNK 256

/* The worker sessions of a unit: iterate with ->next. */
core_session *core_unit_workers(core *c, int unit);
/* A peer is gone (its messages cannot be delivered): forget its session. */
void core_forget(core *c, const void *peer, size_t peerlen);

#define CORE_MAX_SESSIONS 100000
#define CORE_IDEM_KEEP_MS (7LL * 24 * 3600 * 1000)

#endif
