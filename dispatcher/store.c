/* store.c — the SQLite backend of store.h: schema and forward migrations,
 * WAL and group-committed batches, prepared statements kept for the life of
 * the store. All of the dispatcher's SQL lives here; nothing here decides
 * what a request means. */
#include "store.h"

#include "hotline/map.h"
#include "hotline/util.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

/* ---- schema --------------------------------------------------------------- */

/* Migration i brings the schema from version i to i + 1. Add new ones at
 * the end; never edit one that has shipped. */
static const char *const s_migrations[] = {
    /* v1: tickets, dispatches, event log, feeds, idempotency keys, alerts */
    "CREATE TABLE tickets ("
    "  id INTEGER PRIMARY KEY,"
    "  no TEXT NOT NULL UNIQUE,"
    "  status TEXT NOT NULL,"
    "  category TEXT NOT NULL,"
    "  urgency TEXT NOT NULL,"
    "  channel TEXT NOT NULL,"
    "  title TEXT,"
    "  description TEXT NOT NULL,"
    "  caller_name TEXT,"
    "  caller_phone TEXT,"
    "  cell TEXT,"
    "  lat REAL,"
    "  lon REAL,"
    "  address TEXT,"
    "  town TEXT,"
    "  lead TEXT,"
    "  co TEXT NOT NULL DEFAULT '[]',"
    "  escalated_to TEXT,"
    "  created_at INTEGER NOT NULL,"
    "  dispatched_at INTEGER,"
    "  signed_at INTEGER,"
    "  resolved_at INTEGER,"
    "  closed_at INTEGER,"
    "  sign_due INTEGER,"
    "  finish_due INTEGER,"
    "  yellow INTEGER NOT NULL DEFAULT 0,"
    "  red INTEGER NOT NULL DEFAULT 0,"
    "  repeat_calls INTEGER NOT NULL DEFAULT 0,"
    "  reopen_count INTEGER NOT NULL DEFAULT 0,"
    "  supervise_count INTEGER NOT NULL DEFAULT 0,"
    "  ext_state TEXT,"
    "  ext_until INTEGER,"
    "  ext_reason TEXT,"
    "  ext_count INTEGER NOT NULL DEFAULT 0,"
    "  result TEXT,"
    "  satisfaction TEXT,"
    "  merged_into TEXT,"
    "  return_reason TEXT,"
    "  dispatch_id INTEGER"
    ");"
    "CREATE INDEX tickets_status ON tickets(status);"
    "CREATE INDEX tickets_lead_status ON tickets(lead, status);"
    "CREATE INDEX tickets_lead ON tickets(lead);"
    "CREATE INDEX tickets_phone ON tickets(caller_phone);"
    "CREATE INDEX tickets_repeat ON tickets(caller_phone, category, cell, created_at);"
    "CREATE TABLE ticket_co ("
    "  ticket_id INTEGER NOT NULL,"
    "  unit TEXT NOT NULL,"
    "  PRIMARY KEY (ticket_id, unit)"
    ") WITHOUT ROWID;"
    "CREATE INDEX ticket_co_unit ON ticket_co(unit, ticket_id);"
    "CREATE TABLE dispatches ("
    "  id INTEGER PRIMARY KEY,"
    "  ticket_id INTEGER NOT NULL,"
    "  unit TEXT NOT NULL,"
    "  dispatched_at INTEGER NOT NULL,"
    "  sign_due INTEGER,"
    "  finish_due INTEGER,"
    "  signed_at INTEGER,"
    "  resolved_at INTEGER,"
    "  ended_at INTEGER,"
    "  end_reason TEXT,"
    "  callback TEXT,"
    "  reopened INTEGER NOT NULL DEFAULT 0,"
    "  yellow INTEGER NOT NULL DEFAULT 0,"
    "  red INTEGER NOT NULL DEFAULT 0,"
    "  next_check INTEGER"
    ");"
    "CREATE INDEX dispatches_ticket ON dispatches(ticket_id);"
    "CREATE INDEX dispatches_unit_time ON dispatches(unit, dispatched_at);"
    "CREATE INDEX dispatches_time ON dispatches(dispatched_at);"
    "CREATE INDEX dispatches_next_check ON dispatches(next_check) WHERE next_check IS NOT NULL;"
    "CREATE TABLE events ("
    "  seq INTEGER PRIMARY KEY,"
    "  ticket_id INTEGER,"
    "  time INTEGER NOT NULL,"
    "  kind TEXT NOT NULL,"
    "  topic TEXT NOT NULL,"
    "  actor TEXT NOT NULL,"
    "  from_status TEXT,"
    "  to_status TEXT,"
    "  unit TEXT,"
    "  note TEXT,"
    "  json TEXT NOT NULL"
    ");"
    "CREATE INDEX events_ticket ON events(ticket_id, seq);"
    "CREATE TABLE feed ("
    "  seq INTEGER PRIMARY KEY,"
    "  unit TEXT NOT NULL,"
    "  kind TEXT NOT NULL,"
    "  ticket_id INTEGER NOT NULL,"
    "  time INTEGER NOT NULL"
    ");"
    "CREATE INDEX feed_unit ON feed(unit, seq);"
    "CREATE TABLE idem ("
    "  key TEXT PRIMARY KEY,"
    "  op TEXT NOT NULL,"
    "  result TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL"
    ") WITHOUT ROWID;"
    "CREATE INDEX idem_created ON idem(created_at);"
    "CREATE TABLE alerts ("
    "  id INTEGER PRIMARY KEY,"
    "  event_seq INTEGER NOT NULL,"
    "  ticket_id INTEGER NOT NULL,"
    "  dispatch_id INTEGER NOT NULL,"
    "  stage TEXT NOT NULL,"
    "  level TEXT NOT NULL,"
    "  tier INTEGER NOT NULL,"
    "  unit TEXT NOT NULL,"
    "  escalated_to TEXT,"
    "  due INTEGER NOT NULL,"
    "  time INTEGER NOT NULL,"
    "  epoch INTEGER NOT NULL DEFAULT 0,"
    "  UNIQUE (dispatch_id, stage, level, tier, epoch)"
    ");"
    "CREATE INDEX alerts_unit ON alerts(unit, id);"
    "CREATE INDEX alerts_ticket ON alerts(ticket_id);"
    "CREATE TABLE daily_seq ("
    "  day TEXT PRIMARY KEY,"
    "  n INTEGER NOT NULL"
    ") WITHOUT ROWID;",
    /* v2: the deadline engine's state per dispatch. finish_due0 is the
     * finish_due the dispatch began with (extensions are capped from it);
     * sign_step and finish_step count the alerts each stage has raised;
     * extensions counts the approved ones and is the finish stage's epoch.
     * Dispatches still open are looked at once on the first start, which
     * sets their next_check to their real next threshold. */
    "ALTER TABLE dispatches ADD COLUMN finish_due0 INTEGER;"
    "ALTER TABLE dispatches ADD COLUMN sign_step INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE dispatches ADD COLUMN finish_step INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE dispatches ADD COLUMN extensions INTEGER NOT NULL DEFAULT 0;"
    "UPDATE dispatches SET finish_due0 = finish_due;"
    "UPDATE dispatches SET next_check = dispatched_at"
    " WHERE ended_at IS NULL AND resolved_at IS NULL;",
    /* v3: idempotency keys in a rowid table. As a WITHOUT ROWID table a
     * row (the whole first reply, a kilobyte and more) was an index entry,
     * too long for its page: every change wrote an overflow page besides.
     * Now the row is appended and only the key is indexed. */
    "CREATE TABLE idem_v3 ("
    "  id INTEGER PRIMARY KEY,"
    "  key TEXT NOT NULL UNIQUE,"
    "  op TEXT NOT NULL,"
    "  result TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL"
    ");"
    "INSERT INTO idem_v3 (key, op, result, created_at)"
    " SELECT key, op, result, created_at FROM idem ORDER BY created_at;"
    "DROP TABLE idem;"
    "ALTER TABLE idem_v3 RENAME TO idem;"
    "CREATE INDEX idem_created ON idem(created_at);",
    /* v4: five b-trees fewer to write on every create. tickets_phone was
     * the first column of tickets_repeat, which serves a phone's history as
     * well (a caller has few tickets to sort). Idempotency keys are appended
     * in time order, so the purge walks them from the oldest by rowid.
     * Nothing looked dispatches up by ticket or by unit. The day's last
     * ticket number is read from the tickets' own unique index. */
    "DROP INDEX IF EXISTS tickets_phone; DROP INDEX IF EXISTS idem_created;"
    " DROP INDEX IF EXISTS dispatches_ticket; DROP INDEX IF EXISTS dispatches_unit_time;"
    " DROP TABLE IF EXISTS daily_seq;",
    /* v5: the lists the managers' dashboard asks for every 15 s: overdue
     * tickets and flagged ones. Through tickets_status they read every open
     * ticket (with a million open, 26 s on the loop); these partial indexes
     * hold only the open tickets by finish_due, and the flagged ones. A
     * ticket gets its red and yellow entries when first flagged, which
     * creates never pay for. */
    "CREATE INDEX IF NOT EXISTS tickets_due ON tickets(finish_due)"
    " WHERE status IN ('dispatched', 'accepted');"
    "CREATE INDEX IF NOT EXISTS tickets_red ON tickets(id) WHERE red > 0;"
    "CREATE INDEX IF NOT EXISTS tickets_yellow ON tickets(id) WHERE yellow > 0;",
};

#define S_NMIGRATIONS ((int)HL_ARRAY_LEN(s_migrations))
_Static_assert(HL_ARRAY_LEN(s_migrations) == STORE_SCHEMA_VERSION,
               "one migration per schema version");

/* The columns every ticket query reads, in the order s_read_ticket expects. */
#define TICKET_COLS                                                                                \
    "id, no, status, category, urgency, channel, title, description, caller_name, "                \
    "caller_phone, cell, lat, lon, address, town, lead, co, escalated_to, created_at, "            \
    "dispatched_at, signed_at, resolved_at, closed_at, sign_due, finish_due, yellow, red, "        \
    "repeat_calls, reopen_count, supervise_count, ext_state, ext_until, ext_reason, ext_count, "   \
    "result, satisfaction, merged_into, return_reason, dispatch_id"

/* Ticket parameters are numbered in TICKET_COLS order (?1 = id … ?39 =
 * dispatch_id), so one binder serves the insert and the update. */
enum {
    TP_ID = 1,
    TP_NO,
    TP_STATUS,
    TP_CATEGORY,
    TP_URGENCY,
    TP_CHANNEL,
    TP_TITLE,
    TP_DESCRIPTION,
    TP_CALLER_NAME,
    TP_CALLER_PHONE,
    TP_CELL,
    TP_LAT,
    TP_LON,
    TP_ADDRESS,
    TP_TOWN,
    TP_LEAD,
    TP_CO,
    TP_ESCALATED_TO,
    TP_CREATED_AT,
    TP_DISPATCHED_AT,
    TP_SIGNED_AT,
    TP_RESOLVED_AT,
    TP_CLOSED_AT,
    TP_SIGN_DUE,
    TP_FINISH_DUE,
    TP_YELLOW,
    TP_RED,
    TP_REPEAT_CALLS,
    TP_REOPEN_COUNT,
    TP_SUPERVISE_COUNT,
    TP_EXT_STATE,
    TP_EXT_UNTIL,
    TP_EXT_REASON,
    TP_EXT_COUNT,
    TP_RESULT,
    TP_SATISFACTION,
    TP_MERGED_INTO,
    TP_RETURN_REASON,
    TP_DISPATCH_ID
};

#define TICKET_VALUES                                                                              \
    "?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, "  \
    "?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30, ?31, ?32, ?33, ?34, ?35, ?36, ?37, ?38, "   \
    "?39"

/* What a ticket's life changes. The rest (number, category, text, caller,
 * place, creation time) is written once, so an update leaves the phone and
 * repeat-call indexes alone. */
#define TICKET_UPDATE                                                                              \
    "UPDATE tickets SET status = ?3, lead = ?16, co = ?17, escalated_to = ?18, "                   \
    "dispatched_at = ?20, signed_at = ?21, resolved_at = ?22, closed_at = ?23, sign_due = ?24, "   \
    "finish_due = ?25, yellow = ?26, red = ?27, repeat_calls = ?28, reopen_count = ?29, "          \
    "supervise_count = ?30, ext_state = ?31, ext_until = ?32, ext_reason = ?33, ext_count = ?34, " \
    "result = ?35, satisfaction = ?36, merged_into = ?37, return_reason = ?38, dispatch_id = ?39 " \
    "WHERE id = ?1"

/* List queries: one statement per combination of filters, each composed
 * once, only from these constant fragments, and kept prepared. */
enum {
    LF_PHONE = 1,
    LF_LEAD = 2,
    LF_MEMBER = 4,
    LF_STATUS = 8,
    LF_OVERDUE = 16,
    LF_YELLOW = 32,
    LF_RED = 64,
    LF_STATUS1 = 128, /* one status: walks an index newest first, no sorting */
    LF__COUNT = 256
};
static const char *const s_list_frag[] = {
    " AND caller_phone = :phone",
    " AND lead = :lead",
    " AND (lead = :member OR id IN (SELECT ticket_id FROM ticket_co WHERE unit = :member))",
    " AND status IN (:s0, :s1, :s2, :s3, :s4, :s5, :s6)",
    " AND status IN ('dispatched', 'accepted') AND finish_due < :now",
    " AND yellow > 0",
    " AND red > 0",
    " AND status = :s0",
};

struct store {
    sqlite3 *db;
    char *path;
    int lockfd;
    int synchronous; /* the level store_open set, 0 off … 3 extra */
    char err[512];
    int in_batch;
    int lost; /* SQLite ended the batch's transaction by itself */
    int marked;
    int64_t next_seq;   /* the seq of the next event */
    int64_t marked_seq; /* next_seq at store_mark */
    int64_t next_ticket, marked_ticket; /* the id the next ticket gets; at store_mark */
    int64_t marked_changes; /* sqlite3_total_changes64 at store_mark */
    /* The day's ticket numbering, counted here from the day's last number
     * in the tickets table (an upsert per ticket was a tenth of a create). */
    char day[9];
    int64_t day_n, marked_day_n;
    int day_valid; /* day and day_n are the table's, plus this batch's */
    sqlite3_stmt *begin, *commit, *rollback;
    sqlite3_stmt *daily_last, *daily_get, *t_insert, *t_update, *t_get, *t_by_no, *t_repeat;
    sqlite3_stmt *co_delete, *co_insert;
    sqlite3_stmt *d_open, *d_get, *d_end, *d_signed, *d_resolved, *d_callback, *d_extended;
    sqlite3_stmt *d_progress, *d_due, *d_first, *d_stats;
    sqlite3_stmt *e_append, *e_after, *e_history, *e_max, *t_max;
    sqlite3_stmt *f_add, *f_after;
    sqlite3_stmt *i_get, *i_put, *i_purge;
    sqlite3_stmt *a_add, *a_count_yellow, *a_count_red, *a_list;
    sqlite3_stmt *list[LF__COUNT];
    /* the checkpointer (store_checkpointer_start); ck_db is its connection,
     * the fields after ck_mu are shared with its thread under ck_mu */
    sqlite3 *ck_db;
    pthread_t ck_thread;
    int64_t wal_pages; /* the log's length after the last commit (loop only) */
    int64_t ck_asked;  /* wal_pages when the thread was last asked */
    int64_t ck_step, ck_reset, ck_tail, ck_limit; /* in pages, from store_checkpointer_start */
    pthread_mutex_t ck_mu;
    pthread_cond_t ck_cv;
    int ck_stop, ck_wanted, ck_busy, ck_loop;
    int64_t ck_backfilled; /* pages of the current log copied */
    int64_t ck_gen;        /* bumped when the log starts over */
    int ck_warned;
    store_ckpt_stats ck_stats;
};

/* ---- helpers ---------------------------------------------------------------- */

static int s_fail(store *st, const char *what)
{
    snprintf(st->err, sizeof st->err, "%s: %s", what, sqlite3_errmsg(st->db));
    return STORE_ERROR;
}

const char *store_errmsg(const store *st)
{
    return st->err[0] ? st->err : "no error";
}

static int s_prepare(store *st, sqlite3_stmt **out, const char *sql)
{
    if (sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, out, NULL) != SQLITE_OK)
        return s_fail(st, "preparing a statement");
    return STORE_OK;
}

/* Run a statement that returns no rows; reset it either way. */
static int s_run(store *st, sqlite3_stmt *s, const char *what)
{
    int rc = sqlite3_step(s);
    int ret = (rc == SQLITE_DONE || rc == SQLITE_ROW) ? STORE_OK : s_fail(st, what);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return ret;
}

static void s_done(sqlite3_stmt *s)
{
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
}

/* Step a statement that yields at most one row: STORE_OK with the row to
 * read (then s_done), STORE_NONE without one, STORE_ERROR with why. */
static int s_row(store *st, sqlite3_stmt *s, const char *what)
{
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) return STORE_OK;
    return rc == SQLITE_DONE ? STORE_NONE : s_fail(st, what);
}

/* End a walk over rows, rc being the step that stopped it. */
static int s_rows_end(store *st, sqlite3_stmt *s, int rc, const char *what)
{
    int ret = rc == SQLITE_DONE ? STORE_OK : s_fail(st, what);
    s_done(s);
    return ret;
}

/* The index of a named parameter. sqlite3_bind_parameter_index compares
 * the name with every parameter of the statement; a create binds some sixty
 * names, so the answers are remembered by (statement, name address) and
 * checked with sqlite3_bind_parameter_name, which is a lookup by index: a
 * stale or colliding entry is found out and replaced. One thread. */
static int s_idx(sqlite3_stmt *s, const char *name)
{
    static struct {
        sqlite3_stmt *s;
        const char *name;
        int i;
    } memo[1024];
    size_t h = ((uintptr_t)s / 8 * 31 + (uintptr_t)name) % HL_ARRAY_LEN(memo);
    if (memo[h].s == s && memo[h].name == name) {
        const char *n = sqlite3_bind_parameter_name(s, memo[h].i);
        if (n && strcmp(n, name) == 0) return memo[h].i;
    }
    int i = sqlite3_bind_parameter_index(s, name);
    memo[h].s = s;
    memo[h].name = name;
    memo[h].i = i;
    return i;
}

/* Strings are bound without a copy: every caller keeps them alive until
 * the statement has run. */
static void s_bind_text(sqlite3_stmt *s, const char *name, const char *v)
{
    int i = s_idx(s, name);
    if (!i) return;
    if (v)
        sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, i);
}

static void s_pos_text(sqlite3_stmt *s, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(s, i);
}

/* A time or id by position: 0 is stored as NULL. */
static void s_pos_opt(sqlite3_stmt *s, int i, int64_t v)
{
    if (v)
        sqlite3_bind_int64(s, i, v);
    else
        sqlite3_bind_null(s, i);
}

static void s_bind_int(sqlite3_stmt *s, const char *name, int64_t v)
{
    int i = s_idx(s, name);
    if (i) sqlite3_bind_int64(s, i, v);
}

/* A time or id: 0 is stored as NULL. */
static void s_bind_opt(sqlite3_stmt *s, const char *name, int64_t v)
{
    int i = s_idx(s, name);
    if (!i) return;
    if (v)
        sqlite3_bind_int64(s, i, v);
    else
        sqlite3_bind_null(s, i);
}

static const char *s_col_text(sqlite3_stmt *s, int i)
{
    return (const char *)sqlite3_column_text(s, i);
}

static int64_t s_col_int(sqlite3_stmt *s, int i)
{
    return sqlite3_column_type(s, i) == SQLITE_NULL ? 0 : sqlite3_column_int64(s, i);
}

static int s_exec(store *st, const char *sql, const char *what)
{
    char *msg = NULL;
    if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(st->err, sizeof st->err, "%s: %s", what, msg ? msg : sqlite3_errmsg(st->db));
        sqlite3_free(msg);
        return STORE_ERROR;
    }
    return STORE_OK;
}

/* The counters kept beside the database: the next event seq and the next
 * ticket id, read back after a batch is undone or on open. */
static int s_load_next_seq(store *st)
{
    if (sqlite3_step(st->e_max) != SQLITE_ROW) {
        s_fail(st, "reading the event log");
        s_done(st->e_max);
        return STORE_ERROR;
    }
    st->next_seq = sqlite3_column_int64(st->e_max, 0) + 1;
    s_done(st->e_max);
    if (sqlite3_step(st->t_max) != SQLITE_ROW) {
        s_fail(st, "reading the tickets");
        s_done(st->t_max);
        return STORE_ERROR;
    }
    st->next_ticket = sqlite3_column_int64(st->t_max, 0) + 1;
    s_done(st->t_max);
    return STORE_OK;
}

/* ---- open / close ------------------------------------------------------------- */

static int s_lock(store *st, const char *path)
{
    char *lockpath = hl_sprintf("%s.lock", path);
    st->lockfd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (st->lockfd < 0) {
        snprintf(st->err, sizeof st->err, "cannot create the lock file %s: %s", lockpath,
                 strerror(errno));
        free(lockpath);
        return STORE_ERROR;
    }
    if (flock(st->lockfd, LOCK_EX | LOCK_NB) != 0) {
        snprintf(st->err, sizeof st->err,
                 "the database %s is in use by another dispatcher (lock file %s); stop it first",
                 path, lockpath);
        free(lockpath);
        return STORE_ERROR;
    }
    free(lockpath);
    return STORE_OK;
}

static int s_migrate(store *st)
{
    sqlite3_stmt *s;
    if (s_prepare(st, &s, "PRAGMA user_version") != STORE_OK) return STORE_ERROR;
    int version = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int(s, 0) : -1;
    sqlite3_finalize(s);
    if (version < 0) return s_fail(st, "reading the schema version");
    if (version > S_NMIGRATIONS) {
        snprintf(st->err, sizeof st->err,
                 "the database has schema version %d, newer than this dispatcher knows (%d); "
                 "use a newer hotline-dispatcher",
                 version, S_NMIGRATIONS);
        return STORE_ERROR;
    }
    for (int v = version; v < S_NMIGRATIONS; v++) {
        if (s_exec(st, "BEGIN IMMEDIATE", "starting a migration") != STORE_OK) return STORE_ERROR;
        char setv[64];
        snprintf(setv, sizeof setv, "PRAGMA user_version = %d", v + 1);
        if (s_exec(st, s_migrations[v], "migrating the schema") != STORE_OK ||
            s_exec(st, setv, "setting the schema version") != STORE_OK ||
            s_exec(st, "COMMIT", "committing a migration") != STORE_OK) {
            char keep[sizeof st->err];
            memcpy(keep, st->err, sizeof keep);
            sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
            memcpy(st->err, keep, sizeof keep);
            return STORE_ERROR;
        }
        if (v > 0 || version > 0) hl_info("database migrated to schema version %d", v + 1);
    }
    return STORE_OK;
}

/* What the assessment counts of each dispatch made in a time range
 * (store_stats), on the loop's connection or a reader's. Summed per unit
 * in store_stats, not by GROUP BY: that would sort every dispatch of the
 * period (a year's: a hundred MB in a temporary b-tree) to make a few
 * dozen sums. */
static const char s_stats_sql[] =
    "SELECT unit, 1,"
    " signed_at IS NOT NULL AND signed_at <= sign_due,"
    " resolved_at IS NOT NULL AND resolved_at <= finish_due,"
    " ended_at IS NULL AND resolved_at IS NULL AND finish_due < :now,"
    " end_reason IS 'returned', reopened, callback IS NOT NULL,"
    " callback IS 'satisfied', callback IS 'basic',"
    " callback IS 'unsatisfied', yellow, red"
    " FROM dispatches WHERE dispatched_at >= :since AND dispatched_at < :until";

static int s_prepare_all(store *st)
{
    struct {
        sqlite3_stmt **s;
        const char *sql;
    } t[] = {
        {&st->begin, "BEGIN"},
        {&st->commit, "COMMIT"},
        {&st->rollback, "ROLLBACK"},
        /* the newest ticket's number; "YYYYMMDD-NNNNNN" */
        {&st->daily_last, "SELECT no FROM tickets ORDER BY id DESC LIMIT 1"},
        /* a day's numbers lie between "YYYYMMDD-" and "YYYYMMDD." ('.'
         * follows '-'); as numbers, for a day past 999999 tickets */
        {&st->daily_get, "SELECT max(CAST(substr(no, 10) AS INTEGER)) FROM tickets"
                         " WHERE no > :day || '-' AND no < :day || '.'"},
        {&st->t_insert, "INSERT INTO tickets (" TICKET_COLS ") VALUES (" TICKET_VALUES ")"},
        {&st->t_update, TICKET_UPDATE},
        {&st->t_get, "SELECT " TICKET_COLS " FROM tickets WHERE id = :id"},
        {&st->t_by_no, "SELECT " TICKET_COLS " FROM tickets WHERE no = :no"},
        {&st->t_repeat,
         "SELECT id FROM tickets WHERE caller_phone = :phone AND category = :category"
         " AND cell IS :cell AND created_at >= :since"
         " AND status IN ('triage', 'dispatched', 'accepted', 'resolved')"
         " ORDER BY created_at DESC LIMIT 1"},
        {&st->co_delete, "DELETE FROM ticket_co WHERE ticket_id = :id"},
        {&st->co_insert, "INSERT OR IGNORE INTO ticket_co (ticket_id, unit) VALUES (:id, :unit)"},
        {&st->d_open, "INSERT INTO dispatches (ticket_id, unit, dispatched_at, sign_due,"
                      " finish_due, finish_due0, next_check)"
                      " VALUES (:ticket, :unit, :at, :sign_due, :finish_due, :finish_due,"
                      " :next_check)"},
        {&st->d_get, "SELECT id, ticket_id, dispatched_at, sign_due, finish_due, finish_due0,"
                     " signed_at, resolved_at, ended_at, sign_step, finish_step, extensions,"
                     " next_check, yellow, red FROM dispatches WHERE id = :id"},
        {&st->d_end, "UPDATE dispatches SET ended_at = :at, end_reason = :reason, "
                     "next_check = NULL WHERE id = :id"},
        {&st->d_signed,
         "UPDATE dispatches SET signed_at = :at, next_check = :next_check WHERE id = :id"},
        {&st->d_resolved,
         "UPDATE dispatches SET resolved_at = :at, next_check = NULL WHERE id = :id"},
        {&st->d_callback, "UPDATE dispatches SET callback = :result, "
                          "reopened = (:result = 'unsatisfied') WHERE id = :id"},
        {&st->d_extended, "UPDATE dispatches SET finish_due = :finish_due, extensions = :n,"
                          " finish_step = 0, next_check = :next_check WHERE id = :id"},
        {&st->d_progress, "UPDATE dispatches SET sign_step = :sign_step,"
                          " finish_step = :finish_step, next_check = :next_check WHERE id = :id"},
        /* both walk the partial index dispatches_next_check */
        {&st->d_due, "SELECT id, ticket_id FROM dispatches WHERE next_check IS NOT NULL"
                     " AND next_check <= :now ORDER BY next_check LIMIT :limit"},
        {&st->d_first, "SELECT next_check FROM dispatches WHERE next_check IS NOT NULL"
                       " ORDER BY next_check LIMIT 1"},
        {&st->d_stats, s_stats_sql},
        {&st->e_append, "INSERT INTO events (seq, ticket_id, time, kind, topic, actor, "
                        "from_status, to_status, unit, note, json) VALUES (:seq, :ticket, :time, "
                        ":kind, :topic, :actor, :from, :to, :unit, :note, :json)"},
        {&st->e_after,
         "SELECT seq, topic, json FROM events WHERE seq > :after ORDER BY seq LIMIT :limit"},
        {&st->e_history, "SELECT seq, time, kind, actor, from_status, to_status, unit, note "
                         "FROM events WHERE ticket_id = :ticket ORDER BY seq"},
        {&st->e_max, "SELECT COALESCE(MAX(seq), 0) FROM events"},
        {&st->t_max, "SELECT COALESCE(MAX(id), 0) FROM tickets"},
        {&st->f_add, "INSERT INTO feed (unit, kind, ticket_id, time) "
                     "VALUES (:unit, :kind, :ticket, :time)"},
        {&st->f_after, "SELECT seq, kind, ticket_id FROM feed WHERE unit = :unit AND seq > :after"
                       " ORDER BY seq LIMIT :limit"},
        {&st->i_get, "SELECT op, result FROM idem WHERE key = :key"},
        {&st->i_put, "INSERT INTO idem (key, op, result, created_at) "
                     "VALUES (:key, :op, :result, :at)"},
        /* the keys before the oldest one still young; a clock set back
         * leaves an old key behind a young one until a later purge */
        {&st->i_purge, "DELETE FROM idem WHERE id < coalesce("
                       "(SELECT id FROM idem WHERE created_at >= :before ORDER BY id LIMIT 1),"
                       " (SELECT max(id) + 1 FROM idem))"},
        {&st->a_add, "INSERT INTO alerts (event_seq, ticket_id, dispatch_id, stage, level, tier,"
                     " unit, escalated_to, due, time, epoch) VALUES (:seq, :ticket, :dispatch,"
                     " :stage, :level, :tier, :unit, :escalated_to, :due, :time, :epoch)"
                     " ON CONFLICT (dispatch_id, stage, level, tier, epoch) DO NOTHING"},
        {&st->a_count_yellow, "UPDATE dispatches SET yellow = yellow + 1 WHERE id = :id"},
        {&st->a_count_red, "UPDATE dispatches SET red = red + 1 WHERE id = :id"},
        {&st->a_list, "SELECT a.id, e.json FROM alerts a JOIN events e ON e.seq = a.event_seq"
                      " WHERE a.id < :before AND (:unit IS NULL OR a.unit = :unit)"
                      " AND (:level IS NULL OR a.level = :level)"
                      " ORDER BY a.id DESC LIMIT :limit"},
    };
    for (size_t i = 0; i < HL_ARRAY_LEN(t); i++)
        if (s_prepare(st, t[i].s, t[i].sql) != STORE_OK) return STORE_ERROR;
    return STORE_OK;
}

/* PRAGMA synchronous by level, 0 off … 3 extra */
static const char *const s_sync_sql[] = {"PRAGMA synchronous = OFF", "PRAGMA synchronous = NORMAL",
                                         "PRAGMA synchronous = FULL", "PRAGMA synchronous = EXTRA"};

/* A store on path, not yet connected. */
static store *s_store_new(const char *path)
{
    store *st = hl_calloc(1, sizeof *st);
    st->lockfd = -1;
    st->path = hl_strdup(path);
    return st;
}

/* Open st's connection with flags; for names what it is for in the error
 * ("" or " for reading"). */
static int s_connect(store *st, int flags, const char *for_what)
{
    if (sqlite3_open_v2(st->path, &st->db, flags | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        snprintf(st->err, sizeof st->err, "cannot open the database %s%s: %s", st->path, for_what,
                 st->db ? sqlite3_errmsg(st->db) : "out of memory");
        return STORE_ERROR;
    }
    sqlite3_extended_result_codes(st->db, 1);
    sqlite3_busy_timeout(st->db, 5000);
    return STORE_OK;
}

/* A store that could not be opened: *err says why, and it is closed. */
static store *s_open_failed(store *st, char **err)
{
    *err = hl_sprintf("%s", st->err[0] ? st->err : "cannot open the database");
    store_close(&st);
    return NULL;
}

store *store_open(const char *path, int synchronous, char **err)
{
    store *st = s_store_new(path);
    /* ":memory:" is a private database for tests and fuzzing: no file to
     * lock, and no WAL (nothing outlives the process anyway) */
    int memory = strcmp(path, STORE_MEMORY) == 0;
    if (!memory && s_lock(st, path) != STORE_OK) goto fail;
    /* SQLite keeps allocation statistics under a global mutex by default:
     * a lock and an unlock around every malloc, for numbers nobody reads.
     * Settable only before SQLite starts, so the first store decides. */
    static int configured;
    if (!configured) {
        configured = 1;
        sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    }
    if (s_connect(st, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, "") != STORE_OK) goto fail;
    /* a larger lookaside (small allocations from a per-connection pool,
     * not malloc): a batch keeps hundreds of small objects alive at once */
    sqlite3_db_config(st->db, SQLITE_DBCONFIG_LOOKASIDE, NULL, 1200, 1000);
    if (synchronous < 0 || synchronous > 3) synchronous = 2;
    st->synchronous = synchronous;
    /* WAL: readers (backups, sqlite3 shells) never block the writer, and a
     * commit is one append + fsync. The page cache is bounded (32 MB) so a
     * million tickets do not live in memory. */
    sqlite3_stmt *jm;
    if (s_prepare(st, &jm, "PRAGMA journal_mode = WAL") != STORE_OK) goto fail;
    const char *mode = sqlite3_step(jm) == SQLITE_ROW ? s_col_text(jm, 0) : NULL;
    int wal = mode && strcmp(mode, memory ? "memory" : "wal") == 0;
    sqlite3_finalize(jm);
    if (!wal) {
        snprintf(st->err, sizeof st->err,
                 "cannot put the database %s in WAL mode (is it on a network file system?)", path);
        goto fail;
    }
    if (s_exec(st, s_sync_sql[synchronous], "setting synchronous") != STORE_OK ||
        s_exec(st, "PRAGMA cache_size = -32768", "setting the cache size") != STORE_OK ||
        s_exec(st, "PRAGMA temp_store = MEMORY", "setting temp_store") != STORE_OK)
        goto fail;
    if (s_migrate(st) != STORE_OK) goto fail;
    if (s_prepare_all(st) != STORE_OK) goto fail;
    if (s_load_next_seq(st) != STORE_OK) goto fail;
    return st;
fail:
    return s_open_failed(st, err);
}

store *store_open_reader(const char *path, char **err)
{
    store *st = s_store_new(path);
    if (s_connect(st, SQLITE_OPEN_READONLY, " for reading") != STORE_OK ||
        s_exec(st, "PRAGMA cache_size = -2048", "setting the cache size") != STORE_OK ||
        s_prepare(st, &st->d_stats, s_stats_sql) != STORE_OK)
        return s_open_failed(st, err);
    return st;
}

/* ---- checkpoints ------------------------------------------------------------ */

/* SQLite's own checkpoint runs inside the COMMIT that takes the log past
 * 1,000 pages: a few hundred page writes and two fsyncs on the request path,
 * every few dozen one-request batches, with every request behind it
 * waiting. Here the thread copies the log (PASSIVE: it never holds up the
 * writer) whenever the log has grown by an eighth of its allowed length
 * (ck_step). Copying alone would never let the log start over: SQLite restarts it at the first
 * write after a checkpoint that copied all of it, and with commits arriving while the thread
 * copies, the copy is never whole. So once the log is ck_reset pages long and the thread is within
 * ck_tail pages of its end, the loop copies the tail itself between batches, and its next commit
 * starts the log from the beginning. A thread that falls behind (a disk slower than the writes) is
 * waited for at ck_limit pages and the loop checkpoints in full, as SQLite would have, so the log
 * stays bounded. */

static void *s_ck_main(void *arg)
{
    store *st = arg;
    pthread_mutex_lock(&st->ck_mu);
    for (;;) {
        while (!st->ck_stop && (!st->ck_wanted || st->ck_loop))
            pthread_cond_wait(&st->ck_cv, &st->ck_mu);
        if (st->ck_stop) break;
        st->ck_wanted = 0;
        st->ck_busy = 1;
        int64_t gen = st->ck_gen;
        pthread_mutex_unlock(&st->ck_mu);
        int nlog = -1, ncopied = -1;
        int rc =
            sqlite3_wal_checkpoint_v2(st->ck_db, NULL, SQLITE_CHECKPOINT_PASSIVE, &nlog, &ncopied);
        pthread_mutex_lock(&st->ck_mu);
        st->ck_busy = 0;
        st->ck_stats.thread_rounds++;
        if (rc == SQLITE_OK) {
            if (gen == st->ck_gen) st->ck_backfilled = ncopied; /* else of a log gone */
        } else if (rc != SQLITE_BUSY && !st->ck_warned) {
            st->ck_warned = 1; /* once: the loop's full checkpoints still bound the log */
            hl_warn("background checkpoint failed: %s", sqlite3_errmsg(st->ck_db));
        }
        pthread_cond_broadcast(&st->ck_cv);
    }
    pthread_mutex_unlock(&st->ck_mu);
    return NULL;
}

/* After every commit of the loop's connection: the log's length in pages. */
static int s_wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
    (void)db;
    (void)name;
    store *st = arg;
    int restarted = pages < st->wal_pages;
    st->wal_pages = pages;
    if (restarted) st->ck_asked = 0;
    int ask =
        pages - st->ck_asked >= st->ck_step || (pages >= st->ck_reset && pages > st->ck_asked);
    if (!restarted && !ask) return SQLITE_OK;
    pthread_mutex_lock(&st->ck_mu);
    if (restarted) {
        st->ck_stats.restarts++;
        st->ck_gen++;
        st->ck_backfilled = 0;
    }
    if (ask) {
        st->ck_asked = pages;
        st->ck_wanted = 1;
        pthread_cond_broadcast(&st->ck_cv);
    }
    pthread_mutex_unlock(&st->ck_mu);
    return SQLITE_OK;
}

int store_checkpointer_start(store *st, int pages)
{
    assert(!st->ck_db);
    if (pages < 16) pages = 16;
    st->ck_reset = pages;
    st->ck_step = pages / 8;
    st->ck_tail = pages / 80 > 8 ? pages / 80 : 8;
    st->ck_limit = 4 * (int64_t)pages;
    /* the thread's copies are as durable as the commits: the same level */
    if (sqlite3_open_v2(st->path, &st->ck_db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        snprintf(st->err, sizeof st->err, "cannot open the database for checkpoints: %s",
                 st->ck_db ? sqlite3_errmsg(st->ck_db) : "out of memory");
        goto fail;
    }
    if (sqlite3_exec(st->ck_db, s_sync_sql[st->synchronous], NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(st->err, sizeof st->err, "setting synchronous for checkpoints: %s",
                 sqlite3_errmsg(st->ck_db));
        goto fail;
    }
    pthread_mutex_init(&st->ck_mu, NULL);
    pthread_cond_init(&st->ck_cv, NULL);
    if (pthread_create(&st->ck_thread, NULL, s_ck_main, st) != 0) {
        snprintf(st->err, sizeof st->err, "cannot start the checkpoint thread: %s",
                 strerror(errno));
        pthread_mutex_destroy(&st->ck_mu);
        pthread_cond_destroy(&st->ck_cv);
        goto fail;
    }
    /* replaces SQLite's automatic checkpoint, which is a wal hook too */
    sqlite3_wal_hook(st->db, s_wal_hook, st);
    return STORE_OK;
fail:
    sqlite3_close(st->ck_db);
    st->ck_db = NULL;
    return STORE_ERROR;
}

void store_checkpoint_idle(store *st)
{
    if (!st->ck_db || st->in_batch || st->wal_pages < st->ck_reset) return;
    pthread_mutex_lock(&st->ck_mu);
    int full = st->wal_pages >= st->ck_limit;
    if (!full && (st->ck_busy || st->wal_pages - st->ck_backfilled > st->ck_tail)) {
        pthread_mutex_unlock(&st->ck_mu);
        return; /* the thread is at it, or will be after the next commit */
    }
    while (st->ck_busy)
        pthread_cond_wait(&st->ck_cv, &st->ck_mu);
    st->ck_loop = 1;
    pthread_mutex_unlock(&st->ck_mu);
    int nlog = -1, ncopied = -1;
    int rc = sqlite3_wal_checkpoint_v2(st->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &nlog, &ncopied);
    pthread_mutex_lock(&st->ck_mu);
    st->ck_loop = 0;
    if (full)
        st->ck_stats.full_rounds++;
    else
        st->ck_stats.idle_rounds++;
    if (rc == SQLITE_OK) st->ck_backfilled = ncopied;
    pthread_cond_broadcast(&st->ck_cv);
    pthread_mutex_unlock(&st->ck_mu);
    if (rc != SQLITE_OK && rc != SQLITE_BUSY)
        hl_warn("checkpoint failed: %s", sqlite3_errmsg(st->db));
}

void store_checkpoint_stats(store *st, store_ckpt_stats *out)
{
    if (st->ck_db) pthread_mutex_lock(&st->ck_mu);
    *out = st->ck_stats;
    out->log_pages = st->wal_pages;
    if (st->ck_db) pthread_mutex_unlock(&st->ck_mu);
}

static void s_checkpointer_stop(store *st)
{
    if (!st->ck_db) return;
    pthread_mutex_lock(&st->ck_mu);
    st->ck_stop = 1;
    pthread_cond_broadcast(&st->ck_cv);
    pthread_mutex_unlock(&st->ck_mu);
    pthread_join(st->ck_thread, NULL);
    pthread_mutex_destroy(&st->ck_mu);
    pthread_cond_destroy(&st->ck_cv);
    sqlite3_close(st->ck_db);
    st->ck_db = NULL;
    sqlite3_wal_hook(st->db, NULL, NULL);
}

void store_close(store **stp)
{
    store *st = *stp;
    if (!st) return;
    *stp = NULL;
    s_checkpointer_stop(st);
    if (st->db) {
        if (st->in_batch) sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
        sqlite3_stmt *s;
        while ((s = sqlite3_next_stmt(st->db, NULL)) != NULL)
            sqlite3_finalize(s);
        sqlite3_close(st->db);
    }
    if (st->lockfd >= 0) close(st->lockfd);
    free(st->path);
    free(st);
}

int store_set_max_pages(store *st, int64_t pages, int64_t *effective)
{
    assert(!st->in_batch);
    /* SQLite's own ceiling stands for "no cap". A PRAGMA takes no bound
     * parameters; the number is formatted from an integer, never from text. */
    const int64_t none = 4294967294LL;
    if (pages <= 0 || pages > none) pages = none;
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA max_page_count = %lld", (long long)pages);
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
        return s_fail(st, "setting the size cap");
    int rc = sqlite3_step(s);
    int64_t now = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
    sqlite3_finalize(s);
    if (now < 0) return s_fail(st, "setting the size cap");
    if (effective) *effective = now >= none ? 0 : now;
    return STORE_OK;
}

/* ---- batches ------------------------------------------------------------------ */

/* After some failures (a full disk, an I/O error, out of memory) SQLite
 * rolls back the whole transaction, not just the statement. Then nothing of
 * the batch remains, and nothing more may run in it: a SAVEPOINT outside a
 * transaction opens one of its own and RELEASE would commit it, applying
 * the rest of the batch piecemeal while its commit fails. Returns 1 (and
 * keeps why in err) once the batch is lost. */
static int s_batch_lost(store *st)
{
    if (!st->in_batch) return 0;
    if (st->lost) return 1;
    if (!sqlite3_get_autocommit(st->db)) return 0;
    char keep[sizeof st->err];
    memcpy(keep, st->err, sizeof keep);
    snprintf(st->err, sizeof st->err, "the database rolled back the batch (%s)",
             keep[0] ? keep : sqlite3_errmsg(st->db));
    st->lost = 1;
    return 1;
}

int store_begin(store *st)
{
    assert(!st->in_batch);
    if (s_run(st, st->begin, "starting a transaction") != STORE_OK) return STORE_ERROR;
    st->in_batch = 1;
    st->lost = 0;
    return STORE_OK;
}

int store_commit(store *st)
{
    assert(st->in_batch && !st->marked);
    if (s_batch_lost(st)) {
        st->in_batch = 0;
        st->lost = 0;
        st->day_valid = 0;
        char keep[sizeof st->err];
        memcpy(keep, st->err, sizeof keep);
        s_load_next_seq(st);
        memcpy(st->err, keep, sizeof keep);
        return STORE_ERROR;
    }
    st->in_batch = 0;
    if (s_run(st, st->commit, "committing") == STORE_OK) return STORE_OK;
    st->day_valid = 0;
    char keep[sizeof st->err];
    memcpy(keep, st->err, sizeof keep);
    if (!sqlite3_get_autocommit(st->db)) sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    s_load_next_seq(st);
    memcpy(st->err, keep, sizeof keep);
    return STORE_ERROR;
}

void store_rollback(store *st)
{
    if (!st->in_batch) return;
    st->in_batch = 0;
    st->lost = 0;
    st->day_valid = 0;
    st->marked = 0;
    if (!sqlite3_get_autocommit(st->db)) s_run(st, st->rollback, "rolling back");
    s_load_next_seq(st);
}

/* A mark costs no SQL. A SQLite savepoint per request made every page a
 * request touched, already dirty from earlier requests of the batch, be
 * copied into the statement journal first: some 40 pages per create, the
 * largest single cost of a batch (bench/README.md). Requests check
 * everything before they write, so one that fails after writing has met a
 * database error or a bug; its writes cannot be told from the batch's, and
 * the whole batch goes: nothing of it remains, and its commit says so. */
int store_mark(store *st)
{
    assert(st->in_batch && !st->marked);
    if (s_batch_lost(st)) return STORE_ERROR;
    st->marked = 1;
    st->marked_seq = st->next_seq;
    st->marked_ticket = st->next_ticket;
    st->marked_changes = sqlite3_total_changes64(st->db);
    st->marked_day_n = st->day_n;
    return STORE_OK;
}

void store_unmark(store *st)
{
    assert(st->marked);
    st->marked = 0;
}

void store_undo(store *st)
{
    assert(st->marked);
    st->marked = 0;
    st->next_seq = st->marked_seq;
    st->next_ticket = st->marked_ticket;
    st->day_n = st->marked_day_n;
    if (sqlite3_total_changes64(st->db) == st->marked_changes) return; /* nothing to undo */
    st->day_valid = 0;
    if (s_batch_lost(st)) return;
    char keep[sizeof st->err];
    memcpy(keep, st->err, sizeof keep);
    s_run(st, st->rollback, "abandoning the batch");
    snprintf(st->err, sizeof st->err,
             "a request failed after it had written (%s); the batch was abandoned",
             keep[0] ? keep : "no reason given");
    st->lost = 1;
    hl_error("%s", st->err);
}

/* ---- tickets --------------------------------------------------------------------- */

/* Bind every ticket parameter; co is the JSON text of the co list, which
 * the caller keeps until the statement has run. */
static void s_bind_ticket(sqlite3_stmt *s, const ticket *t, const char *co)
{
    s_pos_opt(s, TP_ID, t->id);
    s_pos_text(s, TP_NO, t->no);
    s_pos_text(s, TP_STATUS, ticket_status_name(t->status));
    s_pos_text(s, TP_CATEGORY, t->category);
    s_pos_text(s, TP_URGENCY, hl_urgency_name(t->urgency));
    s_pos_text(s, TP_CHANNEL, hl_channel_name(t->channel));
    s_pos_text(s, TP_TITLE, t->title);
    s_pos_text(s, TP_DESCRIPTION, t->description ? t->description : "");
    s_pos_text(s, TP_CALLER_NAME, t->caller_name);
    s_pos_text(s, TP_CALLER_PHONE, t->caller_phone);
    s_pos_text(s, TP_CELL, t->cell);
    if (t->has_point) {
        sqlite3_bind_double(s, TP_LAT, t->lat);
        sqlite3_bind_double(s, TP_LON, t->lon);
    } else {
        sqlite3_bind_null(s, TP_LAT);
        sqlite3_bind_null(s, TP_LON);
    }
    s_pos_text(s, TP_ADDRESS, t->address);
    s_pos_text(s, TP_TOWN, t->town);
    s_pos_text(s, TP_LEAD, t->lead);
    s_pos_text(s, TP_CO, co);
    s_pos_text(s, TP_ESCALATED_TO, t->escalated_to);
    sqlite3_bind_int64(s, TP_CREATED_AT, t->created_at);
    s_pos_opt(s, TP_DISPATCHED_AT, t->dispatched_at);
    s_pos_opt(s, TP_SIGNED_AT, t->signed_at);
    s_pos_opt(s, TP_RESOLVED_AT, t->resolved_at);
    s_pos_opt(s, TP_CLOSED_AT, t->closed_at);
    s_pos_opt(s, TP_SIGN_DUE, t->sign_due);
    s_pos_opt(s, TP_FINISH_DUE, t->finish_due);
    sqlite3_bind_int64(s, TP_YELLOW, t->yellow);
    sqlite3_bind_int64(s, TP_RED, t->red);
    sqlite3_bind_int64(s, TP_REPEAT_CALLS, t->repeat_calls);
    sqlite3_bind_int64(s, TP_REOPEN_COUNT, t->reopen_count);
    sqlite3_bind_int64(s, TP_SUPERVISE_COUNT, t->supervise_count);
    s_pos_text(s, TP_EXT_STATE, t->ext_state ? ticket_ext_state_name(t->ext_state) : NULL);
    s_pos_opt(s, TP_EXT_UNTIL, t->ext_until);
    s_pos_text(s, TP_EXT_REASON, t->ext_reason);
    sqlite3_bind_int64(s, TP_EXT_COUNT, t->ext_count);
    s_pos_text(s, TP_RESULT, t->result);
    s_pos_text(s, TP_SATISFACTION, t->satisfaction);
    s_pos_text(s, TP_MERGED_INTO, t->merged_into);
    s_pos_text(s, TP_RETURN_REASON, t->return_reason);
    s_pos_opt(s, TP_DISPATCH_ID, t->dispatch_id);
}

/* Fill t (cleared first) from a row of TICKET_COLS. */
static void s_read_ticket(sqlite3_stmt *s, ticket *t)
{
    ticket_clear(t);
    int i = 0;
    t->id = sqlite3_column_int64(s, i++);
    hl_strlcpy(t->no, s_col_text(s, i++), sizeof t->no);
    int status = ticket_status_parse(s_col_text(s, i++));
    t->status = status >= 0 ? (ticket_status)status : TS_TRIAGE;
    ticket_set(&t->category, s_col_text(s, i++));
    int u = hl_urgency_parse(s_col_text(s, i++));
    t->urgency = u >= 0 ? (hl_urgency)u : HL_URG_NORMAL;
    int c = hl_channel_parse(s_col_text(s, i++));
    t->channel = c >= 0 ? (hl_channel)c : HL_CH_PHONE;
    ticket_set(&t->title, s_col_text(s, i++));
    ticket_set(&t->description, s_col_text(s, i++));
    ticket_set(&t->caller_name, s_col_text(s, i++));
    ticket_set(&t->caller_phone, s_col_text(s, i++));
    ticket_set(&t->cell, s_col_text(s, i++));
    t->has_point = sqlite3_column_type(s, i) != SQLITE_NULL;
    t->lat = sqlite3_column_double(s, i++);
    t->lon = sqlite3_column_double(s, i++);
    ticket_set(&t->address, s_col_text(s, i++));
    ticket_set(&t->town, s_col_text(s, i++));
    ticket_set(&t->lead, s_col_text(s, i++));
    ticket_co_from_text(t, s_col_text(s, i++));
    ticket_set(&t->escalated_to, s_col_text(s, i++));
    t->created_at = s_col_int(s, i++);
    t->dispatched_at = s_col_int(s, i++);
    t->signed_at = s_col_int(s, i++);
    t->resolved_at = s_col_int(s, i++);
    t->closed_at = s_col_int(s, i++);
    t->sign_due = s_col_int(s, i++);
    t->finish_due = s_col_int(s, i++);
    t->yellow = (int)s_col_int(s, i++);
    t->red = (int)s_col_int(s, i++);
    t->repeat_calls = (int)s_col_int(s, i++);
    t->reopen_count = (int)s_col_int(s, i++);
    t->supervise_count = (int)s_col_int(s, i++);
    const char *es = s_col_text(s, i++);
    t->ext_state = es ? (ticket_ext_state)ticket_ext_state_parse(es) : TEXT_NONE;
    t->ext_until = s_col_int(s, i++);
    ticket_set(&t->ext_reason, s_col_text(s, i++));
    t->ext_count = (int)s_col_int(s, i++);
    ticket_set(&t->result, s_col_text(s, i++));
    ticket_set(&t->satisfaction, s_col_text(s, i++));
    ticket_set(&t->merged_into, s_col_text(s, i++));
    ticket_set(&t->return_reason, s_col_text(s, i++));
    t->dispatch_id = s_col_int(s, i++);
}

/* Add t's co units to the queryable copy. */
static int s_co_insert(store *st, const ticket *t)
{
    for (int i = 0; i < t->nco; i++) {
        s_bind_int(st->co_insert, ":id", t->id);
        s_bind_text(st->co_insert, ":unit", t->co[i]);
        if (s_run(st, st->co_insert, "saving co units") != STORE_OK) return STORE_ERROR;
    }
    return STORE_OK;
}

/* The next number of day yyyymmdd. */
static int s_day_next(store *st, const char yyyymmdd[9], int64_t *n)
{
    if (!st->day_valid || memcmp(st->day, yyyymmdd, 8) != 0) {
        memcpy(st->day, yyyymmdd, 8);
        st->day[8] = '\0';
        /* Numbers grow with ids within a day, so the newest ticket's is the
         * day's last when it is of this day (one lookup). Otherwise this is
         * a new day — or the clock went back to an earlier one: count it. */
        sqlite3_stmt *s = st->daily_last;
        int ret = s_row(st, s, "numbering a ticket");
        const char *no = ret == STORE_OK ? s_col_text(s, 0) : NULL;
        int found = no && strncmp(no, st->day, 8) == 0 && no[8] == '-';
        if (found) st->day_n = strtoll(no + 9, NULL, 10);
        s_done(s);
        if (ret == STORE_ERROR) return ret;
        if (!found) {
            s = st->daily_get;
            s_bind_text(s, ":day", st->day);
            ret = s_row(st, s, "numbering a ticket");
            st->day_n = ret == STORE_OK ? sqlite3_column_int64(s, 0) : 0;
            s_done(s);
            if (ret == STORE_ERROR) return ret;
        }
        st->day_valid = 1;
    }
    *n = ++st->day_n;
    return STORE_OK;
}

int store_ticket_insert(store *st, ticket *t, const char yyyymmdd[9])
{
    int64_t n;
    if (s_day_next(st, yyyymmdd, &n) != STORE_OK) return STORE_ERROR;
    snprintf(t->no, sizeof t->no, "%.8s-%06lld", yyyymmdd, (long long)n);
    /* the id is the one store_ticket_next_id promised */
    t->id = st->next_ticket;
    char *co = ticket_co_text(t);
    s_bind_ticket(st->t_insert, t, co);
    int rc = s_run(st, st->t_insert, "saving a ticket");
    free(co);
    if (rc != STORE_OK) {
        t->id = 0;
        return STORE_ERROR;
    }
    st->next_ticket++;
    /* a new ticket has no co rows to replace */
    return s_co_insert(st, t);
}

int64_t store_ticket_next_id(const store *st)
{
    return st->next_ticket;
}

int store_ticket_update(store *st, const ticket *t)
{
    char *co = ticket_co_text(t);
    s_bind_ticket(st->t_update, t, co);
    int rc = s_run(st, st->t_update, "saving a ticket");
    free(co);
    return rc;
}

int store_ticket_set_co(store *st, const ticket *t)
{
    s_bind_int(st->co_delete, ":id", t->id);
    if (s_run(st, st->co_delete, "saving co units") != STORE_OK) return STORE_ERROR;
    return s_co_insert(st, t);
}

static int s_ticket_one(store *st, sqlite3_stmt *s, ticket *out)
{
    int ret = s_row(st, s, "reading a ticket");
    if (ret == STORE_OK) s_read_ticket(s, out);
    s_done(s);
    return ret;
}

int store_ticket_get(store *st, int64_t id, ticket *out)
{
    s_bind_int(st->t_get, ":id", id);
    return s_ticket_one(st, st->t_get, out);
}

int store_ticket_by_no(store *st, const char *no, ticket *out)
{
    s_bind_text(st->t_by_no, ":no", no);
    return s_ticket_one(st, st->t_by_no, out);
}

int store_ticket_find_repeat(store *st, const char *phone, const char *category, const char *cell,
                             hl_ms since, int64_t *id)
{
    sqlite3_stmt *s = st->t_repeat;
    s_bind_text(s, ":phone", phone);
    s_bind_text(s, ":category", category);
    s_bind_text(s, ":cell", cell);
    s_bind_int(s, ":since", since);
    int ret = s_row(st, s, "looking for a repeat call");
    if (ret == STORE_OK) *id = sqlite3_column_int64(s, 0);
    s_done(s);
    return ret;
}

/* The index a list of this shape must use, or NULL to leave it to SQLite.
 * Without statistics the planner takes an equality on status for selective
 * and reads every open ticket; a flag or overdue filter has an index of
 * just those tickets (v5). A phone number is narrower still. */
static const char *s_list_index(unsigned shape)
{
    if (shape & LF_PHONE) return NULL;
    if (shape & LF_RED) return "tickets_red";
    if (shape & LF_YELLOW) return "tickets_yellow";
    if (shape & LF_OVERDUE) return "tickets_due";
    return NULL;
}

static sqlite3_stmt *s_list_stmt(store *st, unsigned shape)
{
    if (st->list[shape]) return st->list[shape];
    hl_buf sql;
    hl_buf_init(&sql);
    const char *index = s_list_index(shape);
    hl_buf_printf(&sql, "SELECT " TICKET_COLS " FROM tickets%s%s WHERE id < :before",
                  index ? " INDEXED BY " : "", index ? index : "");
    for (unsigned i = 0; i < HL_ARRAY_LEN(s_list_frag); i++)
        if (shape & (1u << i)) hl_buf_adds(&sql, s_list_frag[i]);
    hl_buf_adds(&sql, " ORDER BY id DESC LIMIT :limit");
    s_prepare(st, &st->list[shape], sql.data);
    hl_buf_free(&sql);
    return st->list[shape];
}

static unsigned s_list_shape(const store_filter *f, int *nstatus)
{
    unsigned shape = 0;
    if (f->phone) shape |= LF_PHONE;
    if (f->lead) shape |= LF_LEAD;
    if (f->member) shape |= LF_MEMBER;
    *nstatus = 0;
    for (int i = 0; i < TS__COUNT; i++)
        *nstatus += (f->statuses & TS_BIT(i)) != 0;
    if (*nstatus == 1)
        shape |= LF_STATUS1;
    else if (*nstatus > 1)
        shape |= LF_STATUS;
    if (f->overdue) shape |= LF_OVERDUE;
    if (f->yellow) shape |= LF_YELLOW;
    if (f->red) shape |= LF_RED;
    return shape;
}

int store_list_plan(store *st, const store_filter *f, char *plan, size_t size)
{
    int nstatus;
    sqlite3_stmt *s = s_list_stmt(st, s_list_shape(f, &nstatus));
    if (!s || size == 0) return STORE_ERROR;
    char *sql = hl_sprintf("EXPLAIN QUERY PLAN %s", sqlite3_sql(s));
    sqlite3_stmt *q;
    int ret = s_prepare(st, &q, sql);
    free(sql);
    if (ret != STORE_OK) return ret;
    plan[0] = '\0';
    size_t n = 0;
    while (sqlite3_step(q) == SQLITE_ROW && n + 1 < size)
        n += (size_t)snprintf(plan + n, size - n, "%s\n", s_col_text(q, 3));
    sqlite3_finalize(q);
    return STORE_OK;
}

int store_ticket_list(store *st, const store_filter *f, store_ticket_cb cb, void *arg)
{
    int nstatus;
    unsigned shape = s_list_shape(f, &nstatus);
    sqlite3_stmt *s = s_list_stmt(st, shape);
    if (!s) return STORE_ERROR;
    s_bind_int(s, ":before", f->before > 0 ? f->before : INT64_MAX);
    s_bind_int(s, ":limit", f->limit > 0 ? f->limit : 100);
    s_bind_text(s, ":phone", f->phone);
    s_bind_text(s, ":lead", f->lead);
    s_bind_text(s, ":member", f->member);
    s_bind_int(s, ":now", f->now);
    if (f->statuses) {
        /* the IN list has a slot per status; unused slots repeat a used one */
        const char *names[7];
        int n = 0;
        for (int i = 0; i < TS__COUNT; i++)
            if (f->statuses & TS_BIT(i)) names[n++] = ticket_status_name((ticket_status)i);
        for (int i = 0; i < (nstatus == 1 ? 1 : 7); i++) {
            char p[8];
            snprintf(p, sizeof p, ":s%d", i);
            s_bind_text(s, p, names[i < n ? i : 0]);
        }
    }
    ticket t = {0};
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        s_read_ticket(s, &t);
        cb(&t, arg);
    }
    ticket_clear(&t);
    return s_rows_end(st, s, rc, "listing tickets");
}

/* ---- dispatches ----------------------------------------------------------------- */

int store_dispatch_open(store *st, const store_dispatch *d, int64_t *id)
{
    sqlite3_stmt *s = st->d_open;
    s_bind_int(s, ":ticket", d->ticket_id);
    s_bind_text(s, ":unit", d->unit);
    s_bind_int(s, ":at", d->dispatched_at);
    s_bind_opt(s, ":sign_due", d->sign_due);
    s_bind_opt(s, ":finish_due", d->finish_due);
    s_bind_opt(s, ":next_check", d->next_check);
    if (s_run(st, s, "saving a dispatch") != STORE_OK) return STORE_ERROR;
    *id = sqlite3_last_insert_rowid(st->db);
    return STORE_OK;
}

int store_dispatch_get(store *st, int64_t id, store_dispatch *out)
{
    sqlite3_stmt *s = st->d_get;
    s_bind_int(s, ":id", id);
    int ret = s_row(st, s, "reading a dispatch");
    if (ret == STORE_OK) {
        int i = 0;
        store_dispatch d = {0};
        d.id = s_col_int(s, i++);
        d.ticket_id = s_col_int(s, i++);
        d.dispatched_at = s_col_int(s, i++);
        d.sign_due = s_col_int(s, i++);
        d.finish_due = s_col_int(s, i++);
        d.finish_due0 = s_col_int(s, i++);
        d.signed_at = s_col_int(s, i++);
        d.resolved_at = s_col_int(s, i++);
        d.ended_at = s_col_int(s, i++);
        d.sign_step = (int)s_col_int(s, i++);
        d.finish_step = (int)s_col_int(s, i++);
        d.extensions = (int)s_col_int(s, i++);
        d.next_check = s_col_int(s, i++);
        d.yellow = (int)s_col_int(s, i++);
        d.red = (int)s_col_int(s, i++);
        *out = d;
    }
    s_done(s);
    return ret;
}

int store_dispatch_end(store *st, int64_t id, hl_ms at, const char *reason)
{
    s_bind_int(st->d_end, ":id", id);
    s_bind_int(st->d_end, ":at", at);
    s_bind_text(st->d_end, ":reason", reason);
    return s_run(st, st->d_end, "ending a dispatch");
}

int store_dispatch_signed(store *st, int64_t id, hl_ms at, hl_ms next_check)
{
    s_bind_int(st->d_signed, ":id", id);
    s_bind_int(st->d_signed, ":at", at);
    s_bind_opt(st->d_signed, ":next_check", next_check);
    return s_run(st, st->d_signed, "saving a dispatch");
}

int store_dispatch_resolved(store *st, int64_t id, hl_ms at)
{
    s_bind_int(st->d_resolved, ":id", id);
    s_bind_int(st->d_resolved, ":at", at);
    return s_run(st, st->d_resolved, "saving a dispatch");
}

int store_dispatch_callback(store *st, int64_t id, const char *result)
{
    s_bind_int(st->d_callback, ":id", id);
    s_bind_text(st->d_callback, ":result", result);
    return s_run(st, st->d_callback, "saving a callback");
}

int store_dispatch_extended(store *st, int64_t id, hl_ms finish_due, int extensions,
                            hl_ms next_check)
{
    sqlite3_stmt *s = st->d_extended;
    s_bind_int(s, ":id", id);
    s_bind_int(s, ":finish_due", finish_due);
    s_bind_int(s, ":n", extensions);
    s_bind_opt(s, ":next_check", next_check);
    return s_run(st, s, "saving an extension");
}

int store_dispatch_progress(store *st, int64_t id, int sign_step, int finish_step, hl_ms next_check)
{
    sqlite3_stmt *s = st->d_progress;
    s_bind_int(s, ":id", id);
    s_bind_int(s, ":sign_step", sign_step);
    s_bind_int(s, ":finish_step", finish_step);
    s_bind_opt(s, ":next_check", next_check);
    return s_run(st, s, "saving a deadline");
}

int store_deadlines_due(store *st, hl_ms now, int limit, store_due_cb cb, void *arg)
{
    sqlite3_stmt *s = st->d_due;
    s_bind_int(s, ":now", now);
    s_bind_int(s, ":limit", limit);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        cb(sqlite3_column_int64(s, 0), sqlite3_column_int64(s, 1), arg);
    return s_rows_end(st, s, rc, "reading the deadlines");
}

int store_deadline_first(store *st, hl_ms *at)
{
    sqlite3_stmt *s = st->d_first;
    int ret = s_row(st, s, "reading the deadlines");
    if (ret == STORE_OK) *at = sqlite3_column_int64(s, 0);
    s_done(s);
    return ret;
}

typedef struct unit_counts {
    char *unit;
    store_counts n;
} unit_counts;

static int s_unit_cmp(const void *a, const void *b)
{
    return strcmp(((const unit_counts *)a)->unit, ((const unit_counts *)b)->unit);
}

int store_stats(store *st, hl_ms since, hl_ms until, hl_ms now, store_stats_cb cb, void *arg)
{
    sqlite3_stmt *s = st->d_stats;
    s_bind_int(s, ":since", since);
    s_bind_int(s, ":until", until);
    s_bind_int(s, ":now", now);
    hl_map *index = hl_map_new(); /* unit -> its place in units, plus one */
    unit_counts *units = NULL;
    size_t nunits = 0, cap = 0;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *unit = s_col_text(s, 0) ? s_col_text(s, 0) : "";
        size_t k = (size_t)(uintptr_t)hl_map_gets(index, unit);
        if (!k) {
            if (nunits == cap) {
                cap = cap ? cap * 2 : 64;
                units = hl_realloc(units, cap * sizeof *units);
            }
            memset(&units[nunits], 0, sizeof units[nunits]);
            units[nunits].unit = hl_strdup(unit);
            k = ++nunits;
            hl_map_puts(index, units[k - 1].unit, (void *)(uintptr_t)k);
        }
        store_counts *n = &units[k - 1].n;
        int64_t *f[] = {&n->assigned, &n->signed_on_time, &n->finished_on_time, &n->overdue,
                        &n->returned, &n->reopened,       &n->callbacks,        &n->satisfied,
                        &n->basic,    &n->unsatisfied,    &n->yellow,           &n->red};
        for (size_t i = 0; i < HL_ARRAY_LEN(f); i++)
            *f[i] += s_col_int(s, (int)i + 1);
    }
    int ret = s_rows_end(st, s, rc, "counting the dispatches");
    hl_map_destroy(&index);
    if (nunits > 1) qsort(units, nunits, sizeof *units, s_unit_cmp);
    for (size_t i = 0; i < nunits; i++) {
        if (ret == STORE_OK) cb(units[i].unit, &units[i].n, arg);
        free(units[i].unit);
    }
    free(units);
    return ret;
}

/* ---- events ----------------------------------------------------------------------- */

int64_t store_event_next_seq(const store *st)
{
    return st->next_seq;
}

int store_event_append(store *st, const store_event *ev)
{
    assert(ev->seq == st->next_seq);
    sqlite3_stmt *s = st->e_append;
    s_bind_int(s, ":seq", ev->seq);
    s_bind_opt(s, ":ticket", ev->ticket_id);
    s_bind_int(s, ":time", ev->time);
    s_bind_text(s, ":kind", ev->kind);
    s_bind_text(s, ":topic", ev->topic);
    s_bind_text(s, ":actor", ev->actor);
    s_bind_text(s, ":from", ev->from);
    s_bind_text(s, ":to", ev->to);
    s_bind_text(s, ":unit", ev->unit);
    s_bind_text(s, ":note", ev->note);
    s_bind_text(s, ":json", ev->json);
    if (s_run(st, s, "appending to the event log") != STORE_OK) return STORE_ERROR;
    st->next_seq++;
    return STORE_OK;
}

int store_events_after(store *st, int64_t after, int limit, store_event_cb cb, void *arg)
{
    sqlite3_stmt *s = st->e_after;
    s_bind_int(s, ":after", after);
    s_bind_int(s, ":limit", limit);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        cb(sqlite3_column_int64(s, 0), s_col_text(s, 1), s_col_text(s, 2), arg);
    return s_rows_end(st, s, rc, "reading the event log");
}

int store_ticket_history(store *st, int64_t ticket_id, store_history_cb cb, void *arg)
{
    sqlite3_stmt *s = st->e_history;
    s_bind_int(s, ":ticket", ticket_id);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        store_event ev = {
            .seq = sqlite3_column_int64(s, 0),
            .ticket_id = ticket_id,
            .time = sqlite3_column_int64(s, 1),
            .kind = s_col_text(s, 2),
            .actor = s_col_text(s, 3),
            .from = s_col_text(s, 4),
            .to = s_col_text(s, 5),
            .unit = s_col_text(s, 6),
            .note = s_col_text(s, 7),
        };
        cb(&ev, arg);
    }
    return s_rows_end(st, s, rc, "reading a ticket's history");
}

/* ---- feeds --------------------------------------------------------------------------- */

int store_feed_add(store *st, const char *unit, const char *kind, int64_t ticket_id, hl_ms at,
                   int64_t *seq)
{
    sqlite3_stmt *s = st->f_add;
    s_bind_text(s, ":unit", unit);
    s_bind_text(s, ":kind", kind);
    s_bind_int(s, ":ticket", ticket_id);
    s_bind_int(s, ":time", at);
    if (s_run(st, s, "adding to a unit's inbox") != STORE_OK) return STORE_ERROR;
    *seq = sqlite3_last_insert_rowid(st->db);
    return STORE_OK;
}

int store_feed_after(store *st, const char *unit, int64_t after, int limit, store_feed_cb cb,
                     void *arg)
{
    sqlite3_stmt *s = st->f_after;
    s_bind_text(s, ":unit", unit);
    s_bind_int(s, ":after", after);
    s_bind_int(s, ":limit", limit);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        cb(sqlite3_column_int64(s, 0), s_col_text(s, 1), sqlite3_column_int64(s, 2), arg);
    return s_rows_end(st, s, rc, "reading a unit's inbox");
}

/* ---- idempotency ------------------------------------------------------------------------ */

int store_idem_get(store *st, const char *key, char **op, char **result)
{
    sqlite3_stmt *s = st->i_get;
    s_bind_text(s, ":key", key);
    int ret = s_row(st, s, "reading an idempotency key");
    if (ret == STORE_OK) {
        *op = hl_strdup(s_col_text(s, 0) ? s_col_text(s, 0) : "");
        *result = hl_strdup(s_col_text(s, 1) ? s_col_text(s, 1) : "{}");
    }
    s_done(s);
    return ret;
}

int store_idem_put(store *st, const char *key, const char *op, const char *result, hl_ms at)
{
    sqlite3_stmt *s = st->i_put;
    s_bind_text(s, ":key", key);
    s_bind_text(s, ":op", op);
    s_bind_text(s, ":result", result);
    s_bind_int(s, ":at", at);
    return s_run(st, s, "saving an idempotency key");
}

int store_idem_purge(store *st, hl_ms before, int64_t *n)
{
    s_bind_int(st->i_purge, ":before", before);
    if (s_run(st, st->i_purge, "forgetting old idempotency keys") != STORE_OK) return STORE_ERROR;
    *n = sqlite3_changes(st->db);
    return STORE_OK;
}

/* ---- alerts --------------------------------------------------------------------------------- */

int store_alert_add(store *st, const store_alert *a)
{
    sqlite3_stmt *s = st->a_add;
    s_bind_int(s, ":seq", a->event_seq);
    s_bind_int(s, ":ticket", a->ticket_id);
    s_bind_int(s, ":dispatch", a->dispatch_id);
    s_bind_text(s, ":stage", a->stage);
    s_bind_text(s, ":level", a->level);
    s_bind_int(s, ":tier", a->tier);
    s_bind_text(s, ":unit", a->unit);
    s_bind_text(s, ":escalated_to", a->escalated_to);
    s_bind_int(s, ":due", a->due);
    s_bind_int(s, ":time", a->time);
    s_bind_int(s, ":epoch", a->epoch);
    if (s_run(st, s, "saving an alert") != STORE_OK) return STORE_ERROR;
    if (sqlite3_changes(st->db) == 0) return STORE_NONE;
    sqlite3_stmt *count = strcmp(a->level, "red") == 0 ? st->a_count_red : st->a_count_yellow;
    s_bind_int(count, ":id", a->dispatch_id);
    return s_run(st, count, "counting an alert");
}

int store_alerts_list(store *st, const char *unit, const char *level, int64_t before, int limit,
                      store_alert_cb cb, void *arg)
{
    sqlite3_stmt *s = st->a_list;
    s_bind_int(s, ":before", before > 0 ? before : INT64_MAX);
    s_bind_text(s, ":unit", unit);
    s_bind_text(s, ":level", level);
    s_bind_int(s, ":limit", limit);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        cb(sqlite3_column_int64(s, 0), s_col_text(s, 1), arg);
    return s_rows_end(st, s, rc, "listing alerts");
}
