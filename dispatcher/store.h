/* store.h — the dispatcher's persistence, as ticket-level domain operations.
 * No database types leave this interface, so a second backend (PostgreSQL)
 * can implement it. Work is grouped in batches: store_begin … store_commit
 * makes every operation in between durable at once (one fsync); a mark
 * inside a batch lets a request that fails before writing anything leave
 * the batch untouched. */
#ifndef HOTLINE_STORE_H
#define HOTLINE_STORE_H

#include "ticket.h"

#include "hotline/timefmt.h"

#include <stddef.h>
#include <stdint.h>

typedef struct store store;

/* Return values: 0 done, -1 failed (store_errmsg says why), 1 nothing found. */
enum { STORE_OK = 0, STORE_ERROR = -1, STORE_NONE = 1 };

/* The schema version this build writes (PRAGMA user_version). */
#define STORE_SCHEMA_VERSION 5

/* Open (creating or migrating) the database at path, or a private
 * in-memory database when path is STORE_MEMORY (tests, fuzzing). synchronous
 * is the SQLite level 0 off, 1 normal, 2 full, 3 extra. Returns NULL and sets
 * *err (caller frees) on failure. */
#define STORE_MEMORY ":memory:"
store *store_open(const char *path, int synchronous, char **err);
/* A second, read-only connection to the database a store_open made, for
 * store_stats off the loop (one thread at a time). Takes no lock, writes
 * nothing; store_close closes it. */
store *store_open_reader(const char *path, char **err);
void store_close(store **st);
/* The last failure, for people ("disk I/O error"). */
const char *store_errmsg(const store *st);
/* Cap the database at pages pages of STORE_PAGE_SIZE bytes (0: no cap),
 * outside a batch. A cap below the current size holds it where it is.
 * Once the cap is reached, writes fail as on a full disk (the batch is
 * refused, nothing of it remains); raising the cap lets them succeed again.
 * *effective (may be NULL) receives the cap in force. */
#define STORE_PAGE_SIZE 4096
int store_set_max_pages(store *st, int64_t pages, int64_t *effective);

/* Checkpoints off the request path (a file database only): a thread with
 * a connection of its own copies the write-ahead log into the database
 * while requests go on, and store_checkpoint_idle — called between batches,
 * after their replies went out — lets the log start over once it is pages
 * long and the thread has caught up (at 4 × pages it copies all of it
 * itself). Without it SQLite checkpoints inside the commit that pushes the
 * log past 1,000 pages. Returns -1 (store_errmsg says why) when the thread
 * or its connection cannot be had. */
int store_checkpointer_start(store *st, int pages);
void store_checkpoint_idle(store *st);
/* What the checkpoints have done, for tests and the log: the log's length
 * in pages after the last commit, how many times it started over, and the
 * rounds run by the thread and by store_checkpoint_idle. */
typedef struct store_ckpt_stats {
    int64_t log_pages, restarts, thread_rounds, idle_rounds, full_rounds;
} store_ckpt_stats;
void store_checkpoint_stats(store *st, store_ckpt_stats *out);

/* Batches. store_commit returns -1 when the batch could not be made
 * durable; it is then rolled back and nothing of it remains. */
int store_begin(store *st);
int store_commit(store *st);
void store_rollback(store *st);
/* Within a batch: mark before a request, unmark when it succeeded, undo
 * when it failed. A mark costs nothing. A request that failed before it
 * wrote anything is undone alone and the batch goes on; one that failed
 * after writing (a database error, or a bug: requests check before they
 * write) abandons the whole batch: nothing of it remains, every later
 * store_mark fails and store_commit returns -1 with the reason. */
int store_mark(store *st);
void store_unmark(store *st);
void store_undo(store *st);

/* ---- tickets ---------------------------------------------------------- */

/* Insert a new ticket: assigns t->id (store_ticket_next_id) and t->no
 * ("YYYYMMDD-NNNNNN" from the local date yyyymmdd and that day's
 * sequence); every other field is written as given, dispatch_id included.
 * Writes the co list too. */
int store_ticket_insert(store *st, ticket *t, const char yyyymmdd[9]);
/* The id the next store_ticket_insert gives, so that rows pointing to the
 * new ticket (its first dispatch) can go in first. */
int64_t store_ticket_next_id(const store *st);
/* Rewrite every mutable field of the ticket t->id. */
int store_ticket_update(store *st, const ticket *t);
/* Replace the co units of ticket t->id with t->co (the queryable copy). */
int store_ticket_set_co(store *st, const ticket *t);
/* Load by id or by number into *out (cleared first). STORE_NONE if absent. */
int store_ticket_get(store *st, int64_t id, ticket *out);
int store_ticket_by_no(store *st, const char *no, ticket *out);
/* The newest open ticket with this phone, category and cell (NULL cell
 * matches a ticket without cell) created at or after since. */
int store_ticket_find_repeat(store *st, const char *phone, const char *category, const char *cell,
                             hl_ms since, int64_t *id);

/* A list query; unset filters are NULL / 0. */
typedef struct store_filter {
    unsigned statuses;  /* TS_BIT set, 0 = any */
    const char *lead;   /* lead = unit */
    const char *member; /* lead = unit or unit among the co units */
    const char *phone;  /* caller phone */
    int overdue;        /* dispatched or accepted with finish_due < now */
    hl_ms now;
    int yellow, red; /* flag counters > 0 */
    int64_t before;  /* id < before; 0 = no bound */
    int limit;
} store_filter;
typedef void (*store_ticket_cb)(const ticket *t, void *arg);
/* Tickets matching f, newest (highest id) first, at most f->limit. */
int store_ticket_list(store *st, const store_filter *f, store_ticket_cb cb, void *arg);
/* The query plan of the list f makes, one line per step (tests and
 * diagnosis: which index it reads). */
int store_list_plan(store *st, const store_filter *f, char *plan, size_t size);

/* ---- dispatches (one row per assignment to a lead) -------------------- */

/* A dispatch and the deadline engine's state of it (dispatcher/deadline.h). */
typedef struct store_dispatch {
    int64_t id;
    int64_t ticket_id;
    const char *unit; /* the lead; given to store_dispatch_open, NULL when read */
    hl_ms dispatched_at, sign_due, finish_due;
    hl_ms finish_due0; /* finish_due as the dispatch began (extensions are capped from it) */
    hl_ms signed_at, resolved_at, ended_at;
    int sign_step, finish_step; /* alerts raised so far by each stage */
    int extensions;             /* approved extensions: the finish stage's epoch */
    int yellow, red;            /* alerts raised (read only: store_alert_add counts) */
    hl_ms next_check;           /* when the deadline engine looks at it next; 0 never */
} store_dispatch;
/* Open a dispatch (unit, times and next_check from d); sets *id. */
int store_dispatch_open(store *st, const store_dispatch *d, int64_t *id);
/* Read a dispatch into *out; STORE_NONE if there is none. */
int store_dispatch_get(store *st, int64_t id, store_dispatch *out);
/* End a dispatch: reason is returned, redispatched, cancelled, merged,
 * reopened or closed. Nothing is pending on it afterwards. */
int store_dispatch_end(store *st, int64_t id, hl_ms at, const char *reason);
int store_dispatch_signed(store *st, int64_t id, hl_ms at, hl_ms next_check);
/* Resolved: both stages are done, nothing is pending. */
int store_dispatch_resolved(store *st, int64_t id, hl_ms at);
/* Record the callback result (satisfied, basic, unsatisfied). */
int store_dispatch_callback(store *st, int64_t id, const char *result);
/* An approved extension: the new finish_due, the count of approved
 * extensions (the new epoch of the finish stage, whose steps start over). */
int store_dispatch_extended(store *st, int64_t id, hl_ms finish_due, int extensions,
                            hl_ms next_check);
/* The deadline engine moved on: steps raised so far and the next check. */
int store_dispatch_progress(store *st, int64_t id, int sign_step, int finish_step,
                            hl_ms next_check);

/* The dispatches whose next_check is at or before now, earliest first, at
 * most limit (an index walk: the cost does not depend on how many
 * dispatches are open). */
typedef void (*store_due_cb)(int64_t dispatch_id, int64_t ticket_id, void *arg);
int store_deadlines_due(store *st, hl_ms now, int limit, store_due_cb cb, void *arg);
/* The earliest next_check of all dispatches in *at; STORE_NONE when no
 * dispatch waits for anything. */
int store_deadline_first(store *st, hl_ms *at);

/* What the assessment counts of one unit's dispatches (DESIGN §7). */
typedef struct store_counts {
    int64_t assigned, signed_on_time, finished_on_time, overdue, returned, reopened;
    int64_t callbacks, satisfied, basic, unsatisfied, yellow, red;
} store_counts;
typedef void (*store_stats_cb)(const char *unit, const store_counts *n, void *arg);
/* Per lead unit, over the dispatches made in [since, until) (INT64_MIN and
 * INT64_MAX for no bound),
 * one call per unit that had any, in unit order. overdue counts the
 * dispatches still current and unresolved with finish_due before now. */
int store_stats(store *st, hl_ms since, hl_ms until, hl_ms now, store_stats_cb cb, void *arg);

/* ---- the event log (append-only) -------------------------------------- */

typedef struct store_event {
    int64_t seq;       /* must be store_event_next_seq() */
    int64_t ticket_id; /* 0 when not about a ticket */
    hl_ms time;
    const char *kind;
    const char *topic;
    const char *actor;
    const char *from, *to; /* statuses or NULL */
    const char *unit;      /* or NULL */
    const char *note;      /* or NULL */
    const char *json;      /* the published message */
} store_event;
/* The seq the next appended event gets. */
int64_t store_event_next_seq(const store *st);
int store_event_append(store *st, const store_event *ev);
/* Events with seq > after, in seq order, at most limit; each as its topic
 * and published JSON. */
typedef void (*store_event_cb)(int64_t seq, const char *topic, const char *json, void *arg);
int store_events_after(store *st, int64_t after, int limit, store_event_cb cb, void *arg);
/* A ticket's history, in seq order. */
typedef void (*store_history_cb)(const store_event *ev, void *arg);
int store_ticket_history(store *st, int64_t ticket_id, store_history_cb cb, void *arg);

/* ---- units' feeds ------------------------------------------------------ */

int store_feed_add(store *st, const char *unit, const char *kind, int64_t ticket_id, hl_ms at,
                   int64_t *seq);
/* Items of unit with seq > after, in seq order, at most limit. */
typedef void (*store_feed_cb)(int64_t seq, const char *kind, int64_t ticket_id, void *arg);
int store_feed_after(store *st, const char *unit, int64_t after, int limit, store_feed_cb cb,
                     void *arg);

/* ---- idempotency keys --------------------------------------------------- */

/* The stored op and result (caller frees both); STORE_NONE if unknown. */
int store_idem_get(store *st, const char *key, char **op, char **result);
int store_idem_put(store *st, const char *key, const char *op, const char *result, hl_ms at);
/* Forget keys created before `before`; *n = how many. */
int store_idem_purge(store *st, hl_ms before, int64_t *n);

/* ---- alerts ------------------------------------------------------------- */

typedef struct store_alert {
    int64_t event_seq; /* the event that publishes it */
    int64_t ticket_id, dispatch_id;
    const char *stage; /* sign, finish */
    const char *level; /* yellow, red */
    int tier;          /* 0 for a yellow */
    int epoch;         /* the stage's epoch (approved extensions, for finish) */
    const char *unit;  /* the lead */
    const char *escalated_to;
    hl_ms due, time;
} store_alert;
/* Record an alert and count it on its dispatch. STORE_NONE, writing
 * nothing, when the same alert (dispatch, stage, level, tier, epoch) is
 * already recorded: an alert is never stored twice. */
int store_alert_add(store *st, const store_alert *a);

/* Alerts newest first (id < before when before > 0), optionally of one
 * unit and level; each as its alert id and published JSON. */
typedef void (*store_alert_cb)(int64_t id, const char *json, void *arg);
int store_alerts_list(store *st, const char *unit, const char *level, int64_t before, int limit,
                      store_alert_cb cb, void *arg);

#endif
