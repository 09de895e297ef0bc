/* wstore.c — the worker's local SQLite store: tickets as last seen, the
 * inbox cursor and the outbox. Owns the connection and every statement; it
 * knows nothing of sockets or the console.
 *
 * WAL with synchronous=NORMAL: a commit is durable against a crash of this
 * process (the WAL is written before COMMIT returns) but may be lost on a
 * power cut until the next checkpoint. That is the right trade here: the
 * dispatcher is the authority and keeps synchronous=FULL; what the worker
 * could lose on a power cut is its cursor (it re-reads the feed) and actions
 * typed in the last moment before the cut — and it saves an fsync per
 * action, which matters for auto workers doing thousands a second. */
#include "wstore.h"

#include "hotline/proto.h"
#include "hotline/timefmt.h"
#include "hotline/util.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>

#define WS_SCHEMA_VERSION 2

enum {
    Q_META_GET,
    Q_META_SET,
    Q_T_GET,
    Q_T_BY_NO,
    Q_T_BY_IDX,
    Q_T_UPSERT,
    Q_T_MAXIDX,
    Q_T_ALL,
    Q_T_OPEN,
    Q_A_INSERT,
    Q_A_GET,
    Q_A_STATE,
    Q_A_EACH,
    Q_A_COUNT,
    Q_A_OPENFOR,
    Q_T_HEAD,
    Q_BEGIN,
    Q_COMMIT,
    Q__COUNT
};

static const char *const s_sql[Q__COUNT] = {
    [Q_META_GET] = "SELECT value FROM meta WHERE key = ?1",
    [Q_META_SET] = "INSERT INTO meta(key, value) VALUES (?1, ?2) "
                   "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    [Q_T_GET] = "SELECT id, idx, no, status, lead, assigned, json FROM tickets WHERE id = ?1",
    [Q_T_BY_NO] = "SELECT id, idx, no, status, lead, assigned, json FROM tickets WHERE no = ?1",
    [Q_T_BY_IDX] = "SELECT id, idx, no, status, lead, assigned, json FROM tickets WHERE idx = ?1",
    /* ?2 is the next free short index, taken only by a new ticket (the
     * store counts them: max(idx) + 1 at open); an absent no or status
     * keeps the stored one */
    [Q_T_UPSERT] = "INSERT INTO tickets(id, idx, no, status, lead, assigned, seen_at, json) "
                   "VALUES (?1, ?2, coalesce(?3, ''), coalesce(?4, ''), ?5, ?6, ?7, ?8) "
                   "ON CONFLICT(id) DO UPDATE SET no = coalesce(?3, no), "
                   "status = coalesce(?4, status), lead = ?5, assigned = assigned + ?6, "
                   "seen_at = ?7, json = ?8 "
                   "RETURNING idx, no, status, lead, assigned",
    [Q_T_MAXIDX] = "SELECT coalesce(max(idx), 0) FROM tickets",
    [Q_T_ALL] = "SELECT id, idx, no, status, lead, assigned, json FROM tickets ORDER BY idx",
    [Q_T_OPEN] = "SELECT id, idx, no, status, lead, assigned, json FROM tickets "
                 "WHERE lead = ?1 AND status IN ('dispatched', 'accepted') ORDER BY idx",
    [Q_A_INSERT] = "INSERT INTO outbox(op, ticket, ref, args, idem, created_at, state) "
                   "VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending')",
    [Q_A_GET] = "SELECT n, op, ticket, ref, args, idem, created_at, state, code, message "
                "FROM outbox WHERE n = ?1",
    [Q_A_STATE] = "UPDATE outbox SET state = ?2, code = ?3, message = ?4, updated_at = ?5 "
                  "WHERE n = ?1",
    [Q_A_EACH] = "SELECT n, op, ticket, ref, args, idem, created_at, state, code, message "
                 "FROM outbox WHERE state IN (?1, ?2, ?3, ?4) ORDER BY n",
    [Q_A_COUNT] = "SELECT count(*) FROM outbox WHERE state = ?1",
    [Q_A_OPENFOR] = "SELECT 1 FROM outbox WHERE ticket = ?1 AND state IN ('pending', 'sent') "
                    "LIMIT 1",
    [Q_T_HEAD] = "SELECT id, idx, no, status, lead, assigned, NULL FROM tickets WHERE id = ?1",
    [Q_BEGIN] = "BEGIN IMMEDIATE",
    [Q_COMMIT] = "COMMIT",
};

/* The outbox's states, checked as a chain of comparisons: SQLite builds a
 * temporary b-tree for a constant IN list of more than two values on every
 * row it checks, which made each outbox write cost three times as much
 * (schema version 1 had the IN form; wstore_open rebuilds it). */
#define WS_STATE_CHECK "state = 'pending' OR state = 'sent' OR state = 'done' OR state = 'refused'"

static const char s_schema[] =
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);"
    "CREATE TABLE IF NOT EXISTS tickets("
    "  id INTEGER PRIMARY KEY,"
    "  idx INTEGER NOT NULL UNIQUE,"
    "  no TEXT,"
    "  status TEXT,"
    "  lead TEXT,"
    "  assigned INTEGER NOT NULL DEFAULT 0,"
    "  seen_at INTEGER,"
    "  json TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS tickets_no ON tickets(no);"
    "CREATE INDEX IF NOT EXISTS tickets_open ON tickets(lead, status);"
    "CREATE TABLE IF NOT EXISTS outbox("
    "  n INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  op TEXT NOT NULL,"
    "  ticket INTEGER,"
    "  ref TEXT,"
    "  args TEXT NOT NULL,"
    "  idem TEXT NOT NULL UNIQUE,"
    "  created_at INTEGER NOT NULL,"
    "  state TEXT NOT NULL CHECK (" WS_STATE_CHECK "),"
    "  code TEXT,"
    "  message TEXT,"
    "  updated_at INTEGER);"
    "CREATE INDEX IF NOT EXISTS outbox_state ON outbox(state, n);"
    "CREATE INDEX IF NOT EXISTS outbox_ticket ON outbox(ticket, state);";

struct wstore {
    sqlite3 *db;
    sqlite3_stmt *q[Q__COUNT];
    int in_tx;
    int64_t idem_next;  /* the last idem number handed out (meta "idem_next") … */
    int idem_dirty;     /* … and not yet written to meta */
    char idem_prefix[56]; /* "<unit, clipped>-<8 hex of this run>" */
    int64_t cursor;       /* cached */
    int64_t next_idx;     /* the short index the next new ticket gets */
    char unit[72];
};

static const char *const s_state_names[] = {"pending", "sent", "done", "refused"};

const char *wstore_state_name(ws_state st)
{
    return (unsigned)st < HL_ARRAY_LEN(s_state_names) ? s_state_names[st] : "?";
}

static ws_state s_state_parse(const char *s)
{
    for (unsigned i = 0; i < HL_ARRAY_LEN(s_state_names); i++)
        if (hl_streq(s, s_state_names[i])) return (ws_state)i;
    return WS_PENDING;
}

/* A failed statement in the local store means the disk or the file is
 * broken: nothing sensible is left to do but stop with the reason. */
static void s_check(wstore *s, int rc, const char *what)
{
    if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW)
        hl_fatal("local store: %s: %s", what, sqlite3_errmsg(s->db));
}

static sqlite3_stmt *s_stmt(wstore *s, int q)
{
    sqlite3_stmt *st = s->q[q];
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return st;
}

/* Run a prepared statement that returns no rows; a failure is fatal. */
static void s_run(wstore *s, int q, const char *what)
{
    sqlite3_stmt *st = s->q[q];
    s_check(s, sqlite3_step(st), what);
    sqlite3_reset(st);
}

/* BEGIN and COMMIT are prepared once: an auto worker commits hundreds of
 * times a second, and sqlite3_exec parsed them every time. */
static void s_tx(wstore *s)
{
    if (!s->in_tx) {
        s_run(s, Q_BEGIN, "BEGIN IMMEDIATE");
        s->in_tx = 1;
    }
}

static void s_meta_set_int(wstore *s, const char *key, int64_t n);

void wstore_commit(wstore *s)
{
    if (s && s->in_tx) {
        if (s->idem_dirty) {
            s_meta_set_int(s, "idem_next", s->idem_next);
            s->idem_dirty = 0;
        }
        s_run(s, Q_COMMIT, "COMMIT");
        s->in_tx = 0;
    }
}

static char *s_meta_get(wstore *s, const char *key)
{
    sqlite3_stmt *st = s_stmt(s, Q_META_GET);
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    s_check(s, rc, "read meta");
    char *v = NULL;
    if (rc == SQLITE_ROW && sqlite3_column_text(st, 0))
        v = hl_strdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_reset(st);
    return v;
}

static void s_meta_set(wstore *s, const char *key, const char *value)
{
    s_tx(s);
    sqlite3_stmt *st = s_stmt(s, Q_META_SET);
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
    s_check(s, sqlite3_step(st), "write meta");
    sqlite3_reset(st);
}

static int64_t s_meta_int(wstore *s, const char *key)
{
    char *v = s_meta_get(s, key);
    int64_t n = v ? strtoll(v, NULL, 10) : 0;
    free(v);
    return n;
}

static void s_meta_set_int(wstore *s, const char *key, int64_t n)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", (long long)n);
    s_meta_set(s, key, buf);
}

/* mkdir -p of the directory part of path. */
static int s_mkdirs_for(const char *path, char **err)
{
    char dir[1024];
    hl_strlcpy(dir, path, sizeof dir);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir) return 0;
    *slash = '\0';
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(dir, 0755) != 0 && errno != EEXIST) goto fail;
        *p = '/';
    }
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) goto fail;
    return 0;
fail:
    *err = hl_sprintf("cannot create directory %s: %s", dir, strerror(errno));
    return -1;
}

/* Version 1 → 2: the outbox again, with the state check as comparisons. */
static const char s_v2[] =
    "CREATE TABLE outbox_v2("
    "  n INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  op TEXT NOT NULL,"
    "  ticket INTEGER,"
    "  ref TEXT,"
    "  args TEXT NOT NULL,"
    "  idem TEXT NOT NULL UNIQUE,"
    "  created_at INTEGER NOT NULL,"
    "  state TEXT NOT NULL CHECK (" WS_STATE_CHECK "),"
    "  code TEXT,"
    "  message TEXT,"
    "  updated_at INTEGER);"
    "INSERT INTO outbox_v2 SELECT n, op, ticket, ref, args, idem, created_at, state, code, "
    "message, updated_at FROM outbox;"
    "DROP TABLE outbox;"
    "ALTER TABLE outbox_v2 RENAME TO outbox;"
    "CREATE INDEX outbox_state ON outbox(state, n);"
    "CREATE INDEX outbox_ticket ON outbox(ticket, state);";

/* Bring the store to WS_SCHEMA_VERSION (the tables exist by now). */
static int s_migrate(sqlite3 *db, char **msg)
{
    sqlite3_stmt *st;
    int version = 0;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW) version = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
    }
    if (version > WS_SCHEMA_VERSION) {
        *msg = sqlite3_mprintf("it has version %d, newer than this worker knows (%d)", version,
                               WS_SCHEMA_VERSION);
        return SQLITE_ERROR;
    }
    if (version == WS_SCHEMA_VERSION) return SQLITE_OK;
    /* a store made before versions were counted, or by version 1: its
     * outbox has the IN check when its SQL says so */
    int old = 0;
    if (sqlite3_prepare_v2(db,
                           "SELECT sql LIKE '%state IN (%' FROM sqlite_master WHERE name = 'outbox'",
                           -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW) old = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
    }
    char setv[64];
    snprintf(setv, sizeof setv, "PRAGMA user_version = %d", WS_SCHEMA_VERSION);
    int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, msg);
    if (rc == SQLITE_OK && old) rc = sqlite3_exec(db, s_v2, NULL, NULL, msg);
    if (rc == SQLITE_OK) rc = sqlite3_exec(db, setv, NULL, NULL, msg);
    if (rc == SQLITE_OK) rc = sqlite3_exec(db, "COMMIT", NULL, NULL, msg);
    if (rc != SQLITE_OK) sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

wstore *wstore_open(const char *path, const char *unit, char **err)
{
    if (s_mkdirs_for(path, err) != 0) return NULL;
    wstore *s = hl_calloc(1, sizeof *s);
    if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        *err = hl_sprintf("cannot open local store %s: %s", path,
                          s->db ? sqlite3_errmsg(s->db) : "out of memory");
        sqlite3_close(s->db);
        free(s);
        return NULL;
    }
    sqlite3_busy_timeout(s->db, 2000);
    char *msg = NULL;
    int rc = sqlite3_exec(s->db,
                          "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                          "PRAGMA foreign_keys=ON;",
                          NULL, NULL, &msg);
    if (rc == SQLITE_OK) rc = sqlite3_exec(s->db, s_schema, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        *err = hl_sprintf("local store %s is not usable: %s (move it away or pick another "
                          "with --db)",
                          path, msg ? msg : sqlite3_errmsg(s->db));
        sqlite3_free(msg);
        sqlite3_close(s->db);
        free(s);
        return NULL;
    }
    rc = s_migrate(s->db, &msg);
    if (rc != SQLITE_OK) {
        *err = hl_sprintf("local store %s cannot be brought to version %d: %s (move it away or "
                          "pick another with --db)",
                          path, WS_SCHEMA_VERSION, msg ? msg : sqlite3_errmsg(s->db));
        sqlite3_free(msg);
        sqlite3_close(s->db);
        free(s);
        return NULL;
    }
    for (int i = 0; i < Q__COUNT; i++) {
        if (sqlite3_prepare_v3(s->db, s_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->q[i], NULL) !=
            SQLITE_OK)
            hl_panic("local store: prepare %s: %s", s_sql[i], sqlite3_errmsg(s->db));
    }
    char *owner = s_meta_get(s, "unit");
    if (owner && strcmp(owner, unit) != 0) {
        *err = hl_sprintf("local store %s belongs to unit %s, not %s; give this unit its own "
                          "--db",
                          path, owner, unit);
        free(owner);
        wstore_close(&s);
        return NULL;
    }
    if (!owner) {
        s_meta_set(s, "unit", unit);
        wstore_commit(s);
    }
    free(owner);
    hl_strlcpy(s->unit, unit, sizeof s->unit);
    s->cursor = s_meta_int(s, "cursor");
    s->idem_next = s_meta_int(s, "idem_next");
    sqlite3_stmt *mx = s_stmt(s, Q_T_MAXIDX);
    s_check(s, sqlite3_step(mx), "next index");
    s->next_idx = sqlite3_column_int64(mx, 0) + 1;
    sqlite3_reset(mx);

    uint32_t r = 0;
    if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r) r = (uint32_t)hl_mono_ms() ^ (uint32_t)hl_now();
    char clipped[41];
    hl_strlcpy(clipped, unit, sizeof clipped);
    snprintf(s->idem_prefix, sizeof s->idem_prefix, "%s-%08x", clipped, r);
    return s;
}

void wstore_close(wstore **sp)
{
    wstore *s = *sp;
    if (!s) return;
    *sp = NULL;
    wstore_commit(s);
    for (int i = 0; i < Q__COUNT; i++) sqlite3_finalize(s->q[i]);
    sqlite3_close(s->db);
    free(s);
}

int64_t wstore_cursor(wstore *s)
{
    return s->cursor;
}

void wstore_set_cursor(wstore *s, int64_t seq)
{
    if (seq == s->cursor) return;
    s->cursor = seq;
    s_meta_set_int(s, "cursor", seq);
}

int64_t wstore_last_sync(wstore *s)
{
    return s_meta_int(s, "last_sync");
}

void wstore_set_last_sync(wstore *s, int64_t t)
{
    s_meta_set_int(s, "last_sync", t);
}

/* ---- tickets ------------------------------------------------------------ */

void wstore_ticket_free(ws_ticket *t)
{
    if (t && t->json) cJSON_Delete(t->json);
    if (t) t->json = NULL;
}

static void s_col_str(sqlite3_stmt *st, int col, char *dst, size_t size)
{
    const unsigned char *v = sqlite3_column_text(st, col);
    hl_strlcpy(dst, v ? (const char *)v : "", size);
}

static void s_row_ticket(sqlite3_stmt *st, ws_ticket *t)
{
    memset(t, 0, sizeof *t);
    t->id = sqlite3_column_int64(st, 0);
    t->idx = sqlite3_column_int64(st, 1);
    s_col_str(st, 2, t->no, sizeof t->no);
    s_col_str(st, 3, t->status, sizeof t->status);
    s_col_str(st, 4, t->lead, sizeof t->lead);
    t->assigned = sqlite3_column_int64(st, 5);
    if (sqlite3_column_type(st, 6) == SQLITE_NULL) return; /* the head only: json stays NULL */
    const char *json = (const char *)sqlite3_column_text(st, 6);
    t->json = json ? cJSON_Parse(json) : NULL;
    if (!t->json) t->json = cJSON_CreateObject();
}

static int s_ticket_query(wstore *s, int q, sqlite3_stmt *st, ws_ticket *out)
{
    (void)q;
    int rc = sqlite3_step(st);
    s_check(s, rc, "read ticket");
    if (rc != SQLITE_ROW) {
        sqlite3_reset(st);
        return -1;
    }
    s_row_ticket(st, out);
    sqlite3_reset(st);
    return 0;
}

int wstore_ticket_get(wstore *s, int64_t id, ws_ticket *out)
{
    sqlite3_stmt *st = s_stmt(s, Q_T_GET);
    sqlite3_bind_int64(st, 1, id);
    return s_ticket_query(s, Q_T_GET, st, out);
}

int wstore_ticket_head(wstore *s, int64_t id, ws_ticket *out)
{
    sqlite3_stmt *st = s_stmt(s, Q_T_HEAD);
    sqlite3_bind_int64(st, 1, id);
    return s_ticket_query(s, Q_T_HEAD, st, out);
}

int wstore_ticket_scan(js_span ticket, ws_ticket_in *in)
{
    in->id = 0;
    in->no = in->status = in->lead = NULL;
    in->json = ticket.p;
    in->json_len = ticket.n;
    js_iter it;
    if (js_obj_begin(&it, ticket) != 0) return -1;
    js_trust(&it);
    /* the first member of each name counts, as cJSON finds it */
    enum { F_ID = 1, F_NO = 2, F_STATUS = 4, F_LEAD = 8, F_ALL = 15 };
    unsigned seen = 0;
    js_span k, v;
    int rc;
    while (seen != F_ALL && (rc = js_obj_next(&it, &k, &v)) > 0) {
        unsigned f;
        char *dst = NULL;
        size_t size = 0;
        const char **field = NULL;
        if (js_key_is(k, "id"))
            f = F_ID;
        else if (js_key_is(k, "no"))
            f = F_NO, dst = in->buf_no, size = sizeof in->buf_no, field = &in->no;
        else if (js_key_is(k, "status"))
            f = F_STATUS, dst = in->buf_status, size = sizeof in->buf_status, field = &in->status;
        else if (js_key_is(k, "lead"))
            f = F_LEAD, dst = in->buf_lead, size = sizeof in->buf_lead, field = &in->lead;
        else
            continue;
        if (seen & f) continue;
        seen |= f;
        if (f == F_ID) {
            if (js_int(v, &in->id) != 0) in->id = 0;
        } else if (js_is_string(v)) {
            if (js_str(v, dst, size) < 0) return -1; /* too long here: the caller parses */
            *field = dst;
        }
    }
    return in->id > 0 ? 0 : -1;
}

void wstore_ticket_put_text(wstore *s, const ws_ticket_in *in, int count_assign, ws_ticket *now)
{
    s_tx(s);
    sqlite3_stmt *st = s->q[Q_T_UPSERT];
    sqlite3_bind_int64(st, 1, in->id);
    sqlite3_bind_int64(st, 2, s->next_idx);
    if (in->no)
        sqlite3_bind_text(st, 3, in->no, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 3);
    if (in->status)
        sqlite3_bind_text(st, 4, in->status, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 4);
    if (in->lead)
        sqlite3_bind_text(st, 5, in->lead, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 5);
    sqlite3_bind_int64(st, 6, count_assign);
    sqlite3_bind_int64(st, 7, hl_now());
    sqlite3_bind_text(st, 8, in->json, (int)in->json_len, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    s_check(s, rc, "write ticket");
    if (rc != SQLITE_ROW) hl_fatal("local store: write ticket: no row returned");
    int64_t idx = sqlite3_column_int64(st, 0);
    if (idx == s->next_idx) s->next_idx++; /* a new ticket took it */
    if (now) {
        memset(now, 0, sizeof *now);
        now->id = in->id;
        now->idx = idx;
        s_col_str(st, 1, now->no, sizeof now->no);
        s_col_str(st, 2, now->status, sizeof now->status);
        s_col_str(st, 3, now->lead, sizeof now->lead);
        now->assigned = sqlite3_column_int64(st, 4);
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

int wstore_ticket_put(wstore *s, const cJSON *ticket, int count_assign, ws_ticket *prev)
{
    ws_ticket_in in;
    if (hl_json_int(ticket, "id", &in.id) != 0 || in.id <= 0) return -1;
    in.no = hl_json_str(ticket, "no");
    in.status = hl_json_str(ticket, "status");
    in.lead = hl_json_str(ticket, "lead");
    /* the old version is parsed only for a caller that asks for it */
    if (prev && wstore_ticket_get(s, in.id, prev) != 0) memset(prev, 0, sizeof *prev);
    char *json = hl_json_print(ticket);
    in.json = json;
    in.json_len = strlen(json);
    wstore_ticket_put_text(s, &in, count_assign, NULL);
    free(json);
    return 0;
}

static int s_all_digits(const char *p)
{
    if (!*p) return 0;
    for (; *p; p++)
        if (*p < '0' || *p > '9') return 0;
    return 1;
}

int wstore_ticket_find(wstore *s, const char *ref, ws_ticket *out)
{
    if (!ref || !*ref) return -1;
    if (ref[0] == '#' && s_all_digits(ref + 1))
        return wstore_ticket_get(s, strtoll(ref + 1, NULL, 10), out);
    if (s_all_digits(ref) && strlen(ref) < 15) {
        sqlite3_stmt *st = s_stmt(s, Q_T_BY_IDX);
        sqlite3_bind_int64(st, 1, strtoll(ref, NULL, 10));
        if (s_ticket_query(s, Q_T_BY_IDX, st, out) == 0) return 0;
        return wstore_ticket_get(s, strtoll(ref, NULL, 10), out);
    }
    sqlite3_stmt *st = s_stmt(s, Q_T_BY_NO);
    sqlite3_bind_text(st, 1, ref, -1, SQLITE_STATIC);
    return s_ticket_query(s, Q_T_BY_NO, st, out);
}

void wstore_ticket_each(wstore *s, int open_only, wstore_ticket_fn fn, void *arg)
{
    sqlite3_stmt *st = s_stmt(s, open_only ? Q_T_OPEN : Q_T_ALL);
    if (open_only) sqlite3_bind_text(st, 1, s->unit, -1, SQLITE_STATIC);
    /* Collect first: fn may use the store (and so reset statements). */
    ws_ticket *rows = NULL;
    size_t n = 0, cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            rows = hl_realloc(rows, cap * sizeof *rows);
        }
        s_row_ticket(st, &rows[n++]);
    }
    s_check(s, rc, "list tickets");
    sqlite3_reset(st);
    int stop = 0;
    for (size_t i = 0; i < n; i++) {
        if (!stop) stop = fn(&rows[i], arg);
        wstore_ticket_free(&rows[i]);
    }
    free(rows);
}

/* ---- outbox ------------------------------------------------------------- */

void wstore_action_free(ws_action *a)
{
    if (!a) return;
    free(a->op);
    free(a->ref);
    free(a->args);
    free(a->idem);
    free(a->code);
    free(a->message);
    memset(a, 0, sizeof *a);
}

static char *s_col_dup(sqlite3_stmt *st, int col)
{
    const unsigned char *v = sqlite3_column_text(st, col);
    return v ? hl_strdup((const char *)v) : NULL;
}

static void s_row_action(sqlite3_stmt *st, ws_action *a)
{
    memset(a, 0, sizeof *a);
    a->n = sqlite3_column_int64(st, 0);
    a->op = s_col_dup(st, 1);
    a->ticket = sqlite3_column_int64(st, 2);
    a->ref = s_col_dup(st, 3);
    a->args = s_col_dup(st, 4);
    a->idem = s_col_dup(st, 5);
    a->created_at = sqlite3_column_int64(st, 6);
    const unsigned char *state = sqlite3_column_text(st, 7);
    a->state = s_state_parse((const char *)state);
    a->code = s_col_dup(st, 8);
    a->message = s_col_dup(st, 9);
    if (!a->op) a->op = hl_strdup("?");
    if (!a->ref) a->ref = hl_strdup("");
    if (!a->args) a->args = hl_strdup("{}");
    if (!a->idem) a->idem = hl_strdup("");
}

/* "<prefix>-<seq>" without printf */
static void s_idem(const wstore *s, int64_t seq, char *out)
{
    size_t n = strlen(s->idem_prefix);
    memcpy(out, s->idem_prefix, n);
    out[n++] = '-';
    char digits[24];
    int k = 0;
    uint64_t v = (uint64_t)seq;
    do {
        digits[k++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (k > 0 && n < HL_IDEM_MAX) out[n++] = digits[--k];
    out[n] = '\0';
}

int64_t wstore_action_add_text(wstore *s, const char *op, int64_t ticket, const char *ref,
                               const char *args, char *idem, int64_t *created_at)
{
    s_tx(s);
    /* counted here, written to meta with the commit */
    int64_t seq = ++s->idem_next;
    s->idem_dirty = 1;
    s_idem(s, seq, idem);
    int64_t now = hl_now();
    sqlite3_stmt *st = s->q[Q_A_INSERT];
    sqlite3_bind_text(st, 1, op, -1, SQLITE_STATIC);
    if (ticket > 0)
        sqlite3_bind_int64(st, 2, ticket);
    else
        sqlite3_bind_null(st, 2);
    sqlite3_bind_text(st, 3, ref ? ref : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, args, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, idem, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, now);
    s_check(s, sqlite3_step(st), "add action");
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (created_at) *created_at = now;
    return sqlite3_last_insert_rowid(s->db);
}

int64_t wstore_action_add(wstore *s, const char *op, int64_t ticket, const char *ref,
                          cJSON *args)
{
    char *text = hl_json_print(args);
    cJSON_Delete(args);
    char idem[HL_IDEM_MAX + 1];
    int64_t n = wstore_action_add_text(s, op, ticket, ref, text, idem, NULL);
    free(text);
    return n;
}

int wstore_action_get(wstore *s, int64_t n, ws_action *out)
{
    sqlite3_stmt *st = s_stmt(s, Q_A_GET);
    sqlite3_bind_int64(st, 1, n);
    int rc = sqlite3_step(st);
    s_check(s, rc, "read action");
    if (rc != SQLITE_ROW) {
        sqlite3_reset(st);
        return -1;
    }
    s_row_action(st, out);
    sqlite3_reset(st);
    return 0;
}

void wstore_action_set_state(wstore *s, int64_t n, ws_state stt, const char *code,
                             const char *message)
{
    s_tx(s);
    sqlite3_stmt *st = s_stmt(s, Q_A_STATE);
    sqlite3_bind_int64(st, 1, n);
    sqlite3_bind_text(st, 2, wstore_state_name(stt), -1, SQLITE_STATIC);
    if (code)
        sqlite3_bind_text(st, 3, code, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 3);
    if (message)
        sqlite3_bind_text(st, 4, message, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 4);
    sqlite3_bind_int64(st, 5, hl_now());
    s_check(s, sqlite3_step(st), "update action");
    sqlite3_reset(st);
}

void wstore_action_each(wstore *s, unsigned states, wstore_action_fn fn, void *arg)
{
    sqlite3_stmt *st = s_stmt(s, Q_A_EACH);
    int k = 1;
    for (unsigned i = 0; i < HL_ARRAY_LEN(s_state_names); i++)
        if (states & (1u << i)) sqlite3_bind_text(st, k++, s_state_names[i], -1, SQLITE_STATIC);
    ws_action *rows = NULL;
    size_t n = 0, cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            rows = hl_realloc(rows, cap * sizeof *rows);
        }
        s_row_action(st, &rows[n++]);
    }
    s_check(s, rc, "list actions");
    sqlite3_reset(st);
    int stop = 0;
    for (size_t i = 0; i < n; i++) {
        if (!stop) stop = fn(&rows[i], arg);
        wstore_action_free(&rows[i]);
    }
    free(rows);
}

int64_t wstore_action_count(wstore *s, ws_state stt)
{
    sqlite3_stmt *st = s_stmt(s, Q_A_COUNT);
    sqlite3_bind_text(st, 1, wstore_state_name(stt), -1, SQLITE_STATIC);
    s_check(s, sqlite3_step(st), "count actions");
    int64_t n = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return n;
}

int wstore_action_open_for(wstore *s, int64_t ticket)
{
    sqlite3_stmt *st = s_stmt(s, Q_A_OPENFOR);
    sqlite3_bind_int64(st, 1, ticket);
    int rc = sqlite3_step(st);
    s_check(s, rc, "find open action");
    sqlite3_reset(st);
    return rc == SQLITE_ROW;
}
