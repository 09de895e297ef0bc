/* test_store.c — unit tests for dispatcher/store.c on a real SQLite file:
 * every ticket field survives a round trip, the schema version is set once,
 * a request's mark/undo and a batch's rollback leave nothing behind (event
 * seq included), daily numbering, the repeat-call lookup, list filters,
 * feeds, the event log and idempotency keys. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core.h"
#include "store.h"
#include "ticket.h"

#include "hotline/util.h"

static char s_db[512];

static int s_setup(void **state)
{
    static int n;
    mkdir("tests/out", 0755);
    snprintf(s_db, sizeof s_db, "tests/out/store-%d-%d.db", (int)getpid(), ++n);
    return 0;
}

static int s_teardown(void **state)
{
    const char *suffix[] = {"", "-wal", "-shm", ".lock"};
    for (int i = 0; i < 4; i++) {
        char p[600];
        snprintf(p, sizeof p, "%s%s", s_db, suffix[i]);
        unlink(p);
    }
    return 0;
}

static store *s_open(void)
{
    char *err = NULL;
    store *st = store_open(s_db, 2, &err);
    if (!st) fail_msg("store_open: %s", err);
    return st;
}

/* A ticket with every field set. */
static void s_full(ticket *t)
{
    memset(t, 0, sizeof *t);
    t->status = TS_ACCEPTED;
    ticket_set(&t->category, "env.noise");
    t->urgency = HL_URG_URGENT;
    t->channel = HL_CH_APP;
    ticket_set(&t->title, "标题");
    ticket_set(&t->description, "描述 with \"quotes\" and 'apostrophes'");
    ticket_set(&t->caller_name, "张三");
    ticket_set(&t->caller_phone, "13800000000");
    ticket_set(&t->cell, "C-A1");
    t->has_point = 1;
    t->lat = 30.005;
    t->lon = 100.005;
    ticket_set(&t->address, "人民路1号");
    ticket_set(&t->town, "t.a");
    ticket_set(&t->lead, "t.a.g1");
    char *co[] = {"t.a", "t.water"};
    ticket_set_co(t, co, 2);
    ticket_set(&t->escalated_to, "t");
    t->created_at = 1764200000000;
    t->dispatched_at = 1764200000001;
    t->signed_at = 1764200000002;
    t->resolved_at = 1764200000003;
    t->closed_at = 1764200000004;
    t->sign_due = 1764200000005;
    t->finish_due = 1764200000006;
    t->yellow = 2;
    t->red = 1;
    t->repeat_calls = 3;
    t->reopen_count = 4;
    t->supervise_count = 5;
    t->ext_state = TEXT_APPROVED;
    t->ext_until = 1764200000007;
    ticket_set(&t->ext_reason, "等待配件");
    t->ext_count = 1;
    ticket_set(&t->result, "已处理");
    ticket_set(&t->satisfaction, "basic");
    ticket_set(&t->merged_into, "20261127-000001");
    ticket_set(&t->return_reason, "错派");
    t->dispatch_id = 42;
}

/* Insert a full ticket numbered on day; its number must be want_no (when
 * not NULL). Returns its id. */
static int64_t s_insert(store *st, const char *day, const char *want_no)
{
    ticket t;
    s_full(&t);
    assert_int_equal(store_ticket_insert(st, &t, day), 0);
    if (want_no) assert_string_equal(t.no, want_no);
    int64_t id = t.id;
    ticket_clear(&t);
    return id;
}

/* The value of a query that yields one integer. */
static int s_sql_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    int v = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    return v;
}

static void test_round_trip(void **state)
{
    store *st = s_open();
    ticket t, u = {0};
    s_full(&t);
    assert_int_equal(store_begin(st), 0);
    assert_int_equal(store_ticket_insert(st, &t, "20261127"), 0);
    assert_int_equal(store_commit(st), 0);
    assert_true(t.id > 0);
    assert_string_equal(t.no, "20261127-000001");
    assert_int_equal(store_ticket_get(st, t.id, &u), STORE_OK);
    /* the wire objects of both are the same, field for field */
    char *err = NULL;
    const char *cfgtext = "{\"units\":[{\"id\":\"t\",\"name\":\"T\",\"level\":\"city\"}],"
                          "\"categories\":[{\"code\":\"env.noise\",\"name\":\"噪音\","
                          "\"handling\":\"territorial\"}]}";
    hl_config *cfg = hl_config_parse(cfgtext, strlen(cfgtext), "inline", &err);
    assert_non_null(cfg);
    cJSON *a = ticket_json(&t, cfg), *b = ticket_json(&u, cfg);
    char *ta = cJSON_PrintUnformatted(a), *tb = cJSON_PrintUnformatted(b);
    assert_string_equal(ta, tb);
    assert_int_equal(u.dispatch_id, 42);
    assert_int_equal(u.ext_count, 1);
    free(ta);
    free(tb);
    cJSON_Delete(a);
    cJSON_Delete(b);
    /* by number, and an update of what changes */
    ticket v = {0};
    assert_int_equal(store_ticket_by_no(st, "20261127-000001", &v), STORE_OK);
    assert_int_equal(v.id, t.id);
    v.status = TS_CLOSED;
    ticket_set(&v.lead, NULL);
    ticket_set_co(&v, NULL, 0);
    v.ext_state = TEXT_NONE;
    assert_int_equal(store_begin(st), 0);
    assert_int_equal(store_ticket_update(st, &v), 0);
    assert_int_equal(store_ticket_set_co(st, &v), 0);
    assert_int_equal(store_commit(st), 0);
    assert_int_equal(store_ticket_get(st, t.id, &u), STORE_OK);
    assert_int_equal(u.status, TS_CLOSED);
    assert_null(u.lead);
    assert_int_equal(u.nco, 0);
    assert_int_equal(u.ext_state, TEXT_NONE);
    assert_string_equal(u.description, t.description);
    assert_int_equal(store_ticket_get(st, 999, &u), STORE_NONE);
    assert_int_equal(store_ticket_by_no(st, "nope", &u), STORE_NONE);
    ticket_clear(&t);
    ticket_clear(&u);
    ticket_clear(&v);
    hl_config_destroy(&cfg);
    store_close(&st);
}

static void test_schema_version(void **state)
{
    store *st = s_open();
    store_close(&st);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(s_db, &db), SQLITE_OK);
    assert_int_equal(s_sql_int(db, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
    sqlite3_stmt *s;
    sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, NULL);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(s, 0), "wal");
    sqlite3_finalize(s);
    sqlite3_close(db);
    /* a second open finds the schema in place */
    st = s_open();
    store_close(&st);
    /* two stores on one file: the second is refused */
    st = s_open();
    char *err = NULL;
    store *other = store_open(s_db, 2, &err);
    assert_null(other);
    assert_non_null(strstr(err, "in use"));
    free(err);
    store_close(&st);
}

static int64_t s_event(store *st, const char *kind, int64_t ticket_id)
{
    store_event ev = {.seq = store_event_next_seq(st),
                      .ticket_id = ticket_id,
                      .time = 1000,
                      .kind = kind,
                      .topic = "ticket.x.-",
                      .actor = "system",
                      .json = "{}"};
    assert_int_equal(store_event_append(st, &ev), 0);
    return ev.seq;
}

static void s_count_cb(const ticket *t, void *arg)
{
    (*(int *)arg)++;
}

static int s_count(store *st, const store_filter *f)
{
    int n = 0;
    assert_int_equal(store_ticket_list(st, f, s_count_cb, &n), 0);
    return n;
}

/* One request of a batch: a mark, then a full ticket numbered on 20261127
 * (want_no when not NULL) and its created event (seq want_seq); the
 * caller unmarks or undoes it. */
static void s_create_req(store *st, const char *want_no, int64_t want_seq)
{
    assert_int_equal(store_mark(st), 0);
    assert_int_equal(s_event(st, "created", s_insert(st, "20261127", want_no)), want_seq);
}

/* Purge the idempotency keys older than before in a batch of its own;
 * returns how many went. */
static int64_t s_purge(store *st, hl_ms before)
{
    int64_t n = -1;
    assert_int_equal(store_begin(st), 0);
    assert_int_equal(store_idem_purge(st, before, &n), 0);
    assert_int_equal(store_commit(st), 0);
    return n;
}

/* The idempotency key is stored, with op and result (when not NULL). */
static void s_idem_ok(store *st, const char *key, const char *want_op, const char *want_result)
{
    char *op = NULL, *result = NULL;
    assert_int_equal(store_idem_get(st, key, &op, &result), STORE_OK);
    if (want_op) assert_string_equal(op, want_op);
    if (want_result) assert_string_equal(result, want_result);
    free(op);
    free(result);
}

static void test_mark_undo_rollback(void **state)
{
    store *st = s_open();
    assert_int_equal(store_event_next_seq(st), 1);
    assert_int_equal(store_begin(st), 0);
    /* a request that fails before it writes leaves the batch as it was */
    assert_int_equal(store_mark(st), 0);
    store_undo(st);
    /* the next one succeeds */
    s_create_req(st, "20261127-000001", 1);
    store_unmark(st);
    assert_int_equal(store_commit(st), 0);
    /* one that fails after writing takes its whole batch with it: the
     * requests before it in the batch, and every one after */
    assert_int_equal(store_begin(st), 0);
    s_create_req(st, "20261127-000002", 2);
    store_unmark(st);
    s_create_req(st, NULL, 3);
    store_undo(st);
    assert_int_not_equal(store_mark(st), 0);
    assert_int_not_equal(store_commit(st), 0);
    assert_non_null(strstr(store_errmsg(st), "abandoned"));
    assert_int_equal(store_event_next_seq(st), 2);
    store_filter f = {.limit = 100};
    assert_int_equal(s_count(st, &f), 1);
    /* the numbers come back too */
    assert_int_equal(store_begin(st), 0);
    s_create_req(st, "20261127-000002", 2);
    store_unmark(st);
    assert_int_equal(store_commit(st), 0);
    /* a batch rolled back leaves nothing, and the seq comes back */
    assert_int_equal(store_begin(st), 0);
    s_create_req(st, NULL, 3);
    store_unmark(st);
    store_rollback(st);
    assert_int_equal(store_event_next_seq(st), 3);
    assert_int_equal(s_count(st, &f), 2);
    store_close(&st);
    /* the seq and the numbers are read back after a restart */
    st = s_open();
    assert_int_equal(store_event_next_seq(st), 3);
    assert_int_equal(store_begin(st), 0);
    s_insert(st, "20261127", "20261127-000003");
    assert_int_equal(store_commit(st), 0);
    store_close(&st);
}

/* Open the store, insert tickets of the days given ("day want-no" pairs)
 * in one batch, each numbered as wanted, and close it. */
static void s_numbered_batch(const char *const (*rows)[2], int n)
{
    store *st = s_open();
    assert_int_equal(store_begin(st), 0);
    for (int i = 0; i < n; i++)
        s_insert(st, rows[i][0], rows[i][1]);
    assert_int_equal(store_commit(st), 0);
    store_close(&st);
}

static void test_numbering(void **state)
{
    static const char *const first[][2] = {{"20261127", "20261127-000001"},
                                           {"20261127", "20261127-000002"},
                                           {"20261128", "20261128-000001"},
                                           {"20261127", "20261127-000003"}};
    s_numbered_batch(first, 4);
    /* a restart goes on from each day's last number in the tickets table */
    static const char *const again[][2] = {{"20261128", "20261128-000002"},
                                           {"20261127", "20261127-000004"},
                                           {"20261129", "20261129-000001"}};
    s_numbered_batch(again, 3);
    /* a clock set back to a day before the newest ticket's; and a day past
     * 999999 tickets, whose numbers no longer sort as text */
    static const char *const back[][2] = {{"20261128", "20261128-000003"}};
    s_numbered_batch(back, 1);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(s_db, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "UPDATE tickets SET no = '20261130-999999' WHERE no = "
                                  "'20261129-000001'",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    static const char *const big[][2] = {{"20261130", "20261130-1000000"},
                                         {"20261128", "20261128-000004"}};
    s_numbered_batch(big, 2);
    static const char *const bigger[][2] = {{"20261130", "20261130-1000001"}};
    s_numbered_batch(bigger, 1);
}

static void test_repeat_lookup_and_list(void **state)
{
    store *st = s_open();
    ticket t;
    assert_int_equal(store_begin(st), 0);
    struct {
        const char *phone, *cell;
        ticket_status status;
        hl_ms created;
        const char *lead;
    } rows[] = {
        {"139", "C-A1", TS_DISPATCHED, 1000, "t.a"},
        {"139", NULL, TS_TRIAGE, 2000, NULL},
        {"139", "C-A1", TS_CLOSED, 3000, "t.a"},
        {"138", "C-A1", TS_RESOLVED, 4000, "t.b"},
    };
    for (int i = 0; i < 4; i++) {
        s_full(&t);
        ticket_set(&t.caller_phone, rows[i].phone);
        ticket_set(&t.cell, rows[i].cell);
        ticket_set(&t.lead, rows[i].lead);
        t.status = rows[i].status;
        t.created_at = rows[i].created;
        t.yellow = i == 3;
        t.red = 0;
        t.finish_due = i == 0 ? 500 : 0;
        assert_int_equal(store_ticket_insert(st, &t, "20261127"), 0);
        ticket_clear(&t);
    }
    assert_int_equal(store_commit(st), 0);
    int64_t id = 0;
    /* open tickets only, same cell (NULL matches NULL), within the window */
    assert_int_equal(store_ticket_find_repeat(st, "139", "env.noise", "C-A1", 0, &id), STORE_OK);
    assert_int_equal(id, 1);
    assert_int_equal(store_ticket_find_repeat(st, "139", "env.noise", NULL, 0, &id), STORE_OK);
    assert_int_equal(id, 2);
    assert_int_equal(store_ticket_find_repeat(st, "139", "env.noise", "C-A1", 1001, &id),
                     STORE_NONE);
    assert_int_equal(store_ticket_find_repeat(st, "139", "env.litter", "C-A1", 0, &id), STORE_NONE);
    assert_int_equal(store_ticket_find_repeat(st, "138", "env.noise", "C-A1", 0, &id), STORE_OK);
    assert_int_equal(id, 4);
    /* list filters */
    store_filter f = {.limit = 100};
    assert_int_equal(s_count(st, &f), 4);
    f.phone = "139";
    assert_int_equal(s_count(st, &f), 3);
    f.statuses = TS_OPEN_SET;
    assert_int_equal(s_count(st, &f), 2);
    store_filter g = {.limit = 100, .lead = "t.a"};
    assert_int_equal(s_count(st, &g), 2);
    store_filter m = {.limit = 100, .member = "t.water"}; /* every row has t.water as co */
    assert_int_equal(s_count(st, &m), 4);
    store_filter o = {.limit = 100, .overdue = 1, .now = 600};
    assert_int_equal(s_count(st, &o), 1);
    store_filter y = {.limit = 100, .yellow = 1};
    assert_int_equal(s_count(st, &y), 1);
    store_filter r = {.limit = 100, .red = 1};
    assert_int_equal(s_count(st, &r), 0);
    store_filter b = {.limit = 2, .before = 4};
    assert_int_equal(s_count(st, &b), 2);
    store_close(&st);
}

typedef struct seen {
    int64_t seq[16];
    char kind[16][16];
    int n;
} seen;

static void s_feed_cb(int64_t seq, const char *kind, int64_t ticket_id, void *arg)
{
    seen *s = arg;
    s->seq[s->n] = seq;
    snprintf(s->kind[s->n++], 16, "%s", kind);
}

static void s_ev_cb(int64_t seq, const char *topic, const char *json, void *arg)
{
    seen *s = arg;
    s->seq[s->n] = seq;
    snprintf(s->kind[s->n++], 16, "%s", topic);
}

static void s_hist_cb(const store_event *ev, void *arg)
{
    seen *s = arg;
    s->seq[s->n] = ev->seq;
    snprintf(s->kind[s->n++], 16, "%s", ev->kind);
}

static void test_feeds_log_idem(void **state)
{
    store *st = s_open();
    assert_int_equal(store_begin(st), 0);
    int64_t a, b, c;
    assert_int_equal(store_feed_add(st, "t.a", "assigned", 1, 10, &a), 0);
    assert_int_equal(store_feed_add(st, "t.b", "assigned", 1, 10, &b), 0);
    assert_int_equal(store_feed_add(st, "t.a", "revoked", 1, 11, &c), 0);
    assert_true(a < b && b < c);
    s_event(st, "created", 1);
    s_event(st, "online", 0);
    s_event(st, "accepted", 1);
    assert_int_equal(store_idem_put(st, "k-old", "create", "{\"x\":1}", 1000), 0);
    assert_int_equal(store_idem_put(st, "k-new", "sign", "{\"y\":2}", 5000), 0);
    assert_int_equal(store_commit(st), 0);

    seen s = {0};
    assert_int_equal(store_feed_after(st, "t.a", 0, 10, s_feed_cb, &s), 0);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.kind[0], "assigned");
    assert_string_equal(s.kind[1], "revoked");
    memset(&s, 0, sizeof s);
    assert_int_equal(store_feed_after(st, "t.a", a, 10, s_feed_cb, &s), 0);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.seq[0], c);
    memset(&s, 0, sizeof s);
    assert_int_equal(store_events_after(st, 1, 1, s_ev_cb, &s), 0);
    assert_int_equal(s.n, 1);
    assert_int_equal(s.seq[0], 2);
    memset(&s, 0, sizeof s);
    assert_int_equal(store_ticket_history(st, 1, s_hist_cb, &s), 0);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.kind[0], "created");
    assert_string_equal(s.kind[1], "accepted");

    char *op = NULL, *res = NULL;
    s_idem_ok(st, "k-new", "sign", "{\"y\":2}");
    assert_int_equal(store_idem_get(st, "k-none", &op, &res), STORE_NONE);
    assert_int_equal(s_purge(st, 2000), 1);
    assert_int_equal(store_idem_get(st, "k-old", &op, &res), STORE_NONE);
    s_idem_ok(st, "k-new", NULL, NULL);
    /* a duplicate key is refused with a message (core never tries) */
    assert_int_equal(store_begin(st), 0);
    assert_int_equal(store_idem_put(st, "k-new", "sign", "{}", 6000), STORE_ERROR);
    assert_non_null(strstr(store_errmsg(st), "idempotency"));
    store_rollback(st);
    /* a key stored after a younger one (the clock was set back) waits for
     * a later purge; when every key is old, all go */
    int64_t n = -1;
    assert_int_equal(store_begin(st), 0);
    assert_int_equal(store_idem_put(st, "k-back", "note", "{}", 1500), 0);
    assert_int_equal(store_idem_purge(st, 2000, &n), 0);
    assert_int_equal(store_commit(st), 0);
    assert_int_equal(n, 0);
    s_idem_ok(st, "k-back", NULL, NULL);
    assert_int_equal(s_purge(st, 9000), 2);
    assert_int_equal(store_idem_get(st, "k-new", &op, &res), STORE_NONE);
    assert_int_equal(store_idem_get(st, "k-back", &op, &res), STORE_NONE);
    store_close(&st);
}

/* The request handler driven in-process on an in-memory store, the way a
 * fuzz harness drives it: no sockets, no files. */
static cJSON *s_handle(core *c, const char *peer, const char *req, core_outq *out, int *changed)
{
    core_reply rep;
    core_handle(c, peer, strlen(peer), req, strlen(req), &rep, out);
    cJSON *r = cJSON_Parse(rep.text);
    assert_non_null(r);
    if (changed) *changed = rep.changed;
    core_reply_free(&rep);
    return r;
}

static void test_core_in_memory(void **state)
{
    char *err = NULL;
    hl_config *cfg = hl_config_load("config/test-small.json", &err);
    assert_non_null(cfg);
    store *st = store_open(STORE_MEMORY, 2, &err);
    if (!st) fail_msg("%s", err);
    core *c = core_new(cfg, st);
    core_outq out;
    core_outq_init(&out);
    int changed = 0;
    assert_int_equal(core_begin(c), 0);
    cJSON *r = s_handle(c, "p1", "{\"v\":1,\"id\":\"a\",\"op\":\"ping\"}", &out, NULL);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(r, "error"), "code")->valuestring,
                        "forbidden");
    cJSON_Delete(r);
    r = s_handle(c, "p1",
                 "{\"v\":1,\"id\":\"b\",\"op\":\"hello\",\"role\":\"worker\",\"unit\":\"t.a\"}",
                 &out, NULL);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(r, "ok")));
    cJSON_Delete(r);
    assert_int_equal(out.n, 1); /* unit.online.t.a */
    assert_string_equal(out.items[0].topic, "unit.online.t.a");
    r = s_handle(c, "p2", "{\"v\":1,\"id\":\"c\",\"op\":\"hello\",\"role\":\"operator\"}", &out,
                 NULL);
    cJSON_Delete(r);
    r = s_handle(c, "p2",
                 "{\"v\":1,\"id\":\"d\",\"op\":\"create\",\"ticket\":{\"category\":\"env.noise\","
                 "\"description\":\"x\",\"location\":{\"cell\":\"C-A1\"}}}",
                 &out, &changed);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(r, "ok")));
    assert_int_equal(changed, 1);
    cJSON_Delete(r);
    /* the create queued its event and a push to t.a's worker session */
    assert_int_equal(out.n, 3);
    assert_int_equal(out.items[1].kind, CORE_OUT_EVENT);
    assert_string_equal(out.items[1].topic, "ticket.created.t.a");
    assert_int_equal(out.items[2].kind, CORE_OUT_PUSH);
    assert_int_equal(out.items[2].unit, hl_config_unit(cfg, "t.a"));
    assert_non_null(core_unit_workers(c, hl_config_unit(cfg, "t.a")));
    /* a refused change queues nothing */
    r = s_handle(c, "p2", "{\"v\":1,\"id\":\"e\",\"op\":\"cancel\",\"ticket\":9,\"reason\":\"x\"}",
                 &out, &changed);
    assert_int_equal(changed, 0);
    assert_int_equal(out.n, 3);
    cJSON_Delete(r);
    r = s_handle(c, "p2", "not json", &out, NULL);
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(r, "re")));
    cJSON_Delete(r);
    assert_int_equal(core_commit(c), 0);
    core_outq_free(&out);
    core_forget(c, "p1", 2);
    assert_null(core_unit_workers(c, hl_config_unit(cfg, "t.a")));
    core_destroy(&c);
    store_close(&st);
    hl_config_destroy(&cfg);
}

/* At its size cap SQLite rolls the whole transaction back by itself. The
 * batch then stays lost: a later request's mark fails instead of opening a
 * transaction of its own (whose release would commit it piecemeal), the
 * commit fails, nothing of the batch remains, and with room again the next
 * batch works. */
static void test_lost_batch(void **state)
{
    store *st = s_open();
    int64_t cap;
    assert_int_equal(store_set_max_pages(st, 1, &cap), STORE_OK);
    assert_true(cap > 1); /* held at the size it has */
    ticket t, u = {0};
    s_full(&t);
    static char big[20000];
    memset(big, 'x', sizeof big - 1);
    ticket_set(&t.description, big);
    assert_int_equal(store_begin(st), STORE_OK);
    int failed = 0;
    for (int i = 0; i < 20 && !failed; i++) {
        assert_int_equal(store_mark(st), STORE_OK);
        if (store_ticket_insert(st, &t, "20261127") != STORE_OK) {
            failed = 1;
            assert_non_null(strstr(store_errmsg(st), "full"));
            store_undo(st);
        } else {
            store_unmark(st);
        }
    }
    assert_true(failed);
    assert_int_equal(store_mark(st), STORE_ERROR);
    assert_non_null(strstr(store_errmsg(st), "rolled back the batch"));
    assert_int_equal(store_commit(st), STORE_ERROR);
    assert_int_equal(store_ticket_get(st, 1, &u), STORE_NONE);
    assert_int_equal(store_set_max_pages(st, 0, &cap), STORE_OK);
    assert_int_equal(cap, 0);
    assert_int_equal(store_begin(st), STORE_OK);
    assert_int_equal(store_ticket_insert(st, &t, "20261127"), STORE_OK);
    assert_int_equal(store_commit(st), STORE_OK);
    assert_string_equal(t.no, "20261127-000001"); /* the lost batch's numbers are gone too */
    ticket_clear(&t);
    ticket_clear(&u);
    store_close(&st);
}

/* A database of schema version 2 keeps its idempotency keys through the
 * move of the idem table to a rowid table (version 3). */
static void test_migrate_idem_v3(void **state)
{
    store *st = s_open();
    store_close(&st);
    /* turn the file back into version 2's idem table, with a key in it */
    sqlite3 *db;
    assert_int_equal(sqlite3_open(s_db, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "DROP TABLE idem;"
                                  "CREATE TABLE idem (key TEXT PRIMARY KEY, op TEXT NOT NULL,"
                                  " result TEXT NOT NULL, created_at INTEGER NOT NULL)"
                                  " WITHOUT ROWID;"
                                  "CREATE INDEX idem_created ON idem(created_at);"
                                  "INSERT INTO idem VALUES ('k1', 'create', '{\"ticket\":{}}', 5);"
                                  "PRAGMA user_version = 2;",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    st = s_open();
    char *op = NULL, *result = NULL;
    s_idem_ok(st, "k1", "create", "{\"ticket\":{}}");
    assert_int_equal(store_begin(st), 0);
    assert_int_equal(store_idem_put(st, "k2", "sign", "{}", 6), 0);
    assert_int_equal(store_commit(st), 0);
    assert_int_equal(s_purge(st, 6), 1);
    assert_int_equal(store_idem_get(st, "k1", &op, &result), STORE_NONE);
    s_idem_ok(st, "k2", NULL, NULL);
    store_close(&st);
    assert_int_equal(sqlite3_open(s_db, &db), SQLITE_OK);
    sqlite3_stmt *q;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT (SELECT user_version FROM pragma_user_version),"
                                        " (SELECT sql LIKE '%WITHOUT ROWID%' FROM sqlite_master"
                                        " WHERE name = 'idem')",
                                        -1, &q, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(q, 0), STORE_SCHEMA_VERSION);
    assert_int_equal(sqlite3_column_int(q, 1), 0);
    sqlite3_finalize(q);
    sqlite3_close(db);
}

/* Schema version 4 writes two indexes fewer per create; what they served
 * still walks an index: a phone's history, the repeat-call lookup and the
 * purge of old idempotency keys. */
static const char *s_plan(sqlite3 *db, const char *sql, char *out, size_t n)
{
    char q[512];
    snprintf(q, sizeof q, "EXPLAIN QUERY PLAN %s", sql);
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_prepare_v2(db, q, -1, &s, NULL), SQLITE_OK);
    out[0] = 0;
    while (sqlite3_step(s) == SQLITE_ROW) {
        size_t l = strlen(out);
        snprintf(out + l, n - l, "%s; ", (const char *)sqlite3_column_text(s, 3));
    }
    sqlite3_finalize(s);
    return out;
}

static void test_schema_v4_plans(void **state)
{
    store *st = s_open();
    store_close(&st);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(s_db, &db), SQLITE_OK);
    assert_int_equal(s_sql_int(db, "SELECT count(*) FROM sqlite_master WHERE name IN"
                                   " ('tickets_phone', 'idem_created', 'dispatches_ticket',"
                                   " 'dispatches_unit_time', 'daily_seq')"),
                     0);
    /* each statement as the store runs it, what its plan must say, and
     * what it must not */
    static const struct {
        const char *sql, *has, *hasnt;
    } plans[] = {
        {"SELECT id FROM tickets WHERE id < 9 AND caller_phone = '1' ORDER BY id DESC LIMIT 5",
         "INDEX tickets_repeat (caller_phone=?)", NULL},
        {"DELETE FROM idem WHERE id < coalesce((SELECT id FROM idem WHERE created_at >= 5"
         " ORDER BY id LIMIT 1), (SELECT max(id) + 1 FROM idem))",
         "USING INTEGER PRIMARY KEY", "TEMP B-TREE"},
        {"SELECT max(CAST(substr(no, 10) AS INTEGER)) FROM tickets"
         " WHERE no > '20261127' || '-' AND no < '20261127' || '.'",
         "SEARCH tickets USING COVERING INDEX sqlite_autoindex_tickets_1", NULL},
        {"SELECT unit, yellow, red FROM dispatches WHERE dispatched_at >= 1 AND dispatched_at < 2",
         "INDEX dispatches_time", "TEMP B-TREE"},
    };
    for (size_t i = 0; i < sizeof plans / sizeof plans[0]; i++) {
        char plan[1024];
        s_plan(db, plans[i].sql, plan, sizeof plan);
        if (!strstr(plan, plans[i].has) || (plans[i].hasnt && strstr(plan, plans[i].hasnt)))
            fail_msg("%s: plan %s", plans[i].sql, plan);
    }
    sqlite3_close(db);
}

/* Every shape of list prepares, and a flag or overdue filter reads its
 * partial index (v5) rather than every open ticket through tickets_status,
 * unless a phone number narrows it first; and the lists through those
 * indexes find what a plain scan finds. */
static void test_list_indexes(void **state)
{
    store *st = s_open();
    assert_int_equal(store_begin(st), 0);
    int want_red = 0, want_yellow = 0, want_overdue = 0, want_red_overdue = 0;
    for (int i = 0; i < 200; i++) {
        ticket t;
        s_full(&t);
        ticket_set(&t.lead, i % 2 ? "t.a" : "t.b");
        t.status = i % 5 == 0 ? TS_CLOSED : i % 5 == 1 ? TS_ACCEPTED : TS_DISPATCHED;
        t.red = i % 7 == 0;
        t.yellow = i % 3 == 0;
        t.finish_due = i % 4 == 0 ? 500 : 5000;
        int open = t.status != TS_CLOSED, overdue = open && t.finish_due < 1000;
        want_red += t.red;
        want_yellow += t.yellow;
        want_overdue += overdue;
        want_red_overdue += t.red && overdue;
        assert_int_equal(store_ticket_insert(st, &t, "20261127"), 0);
        ticket_clear(&t);
    }
    assert_int_equal(store_commit(st), 0);
    for (unsigned combo = 0; combo < 2 * 2 * 2 * 3 * 8; combo++) {
        unsigned c = combo;
        store_filter f = {.limit = 1000, .now = 1000};
        f.phone = c % 2 ? "13800000000" : NULL, c /= 2;
        f.lead = c % 2 ? "t.a" : NULL, c /= 2;
        f.member = c % 2 ? "t.water" : NULL, c /= 2;
        f.statuses = c % 3 == 0 ? 0 : c % 3 == 1 ? TS_BIT(TS_DISPATCHED) : TS_OPEN_SET, c /= 3;
        f.overdue = c & 1, f.yellow = (c >> 1) & 1, f.red = (c >> 2) & 1;
        char plan[2048];
        assert_int_equal(store_list_plan(st, &f, plan, sizeof plan), STORE_OK);
        const char *want = f.phone     ? NULL
                           : f.red     ? "tickets_red"
                           : f.yellow  ? "tickets_yellow"
                           : f.overdue ? "tickets_due"
                                       : NULL;
        if (want && (!strstr(plan, want) || strstr(plan, "tickets_status")))
            fail_msg("combination %u: plan %s, wanted %s", combo, plan, want);
        s_count(st, &f); /* it runs (s_count asserts the list succeeded) */
    }
    store_filter r = {.limit = 1000, .red = 1};
    assert_int_equal(s_count(st, &r), want_red);
    store_filter y = {.limit = 1000, .yellow = 1};
    assert_int_equal(s_count(st, &y), want_yellow);
    store_filter o = {.limit = 1000, .overdue = 1, .now = 1000};
    assert_int_equal(s_count(st, &o), want_overdue);
    store_filter ro = {.limit = 1000, .overdue = 1, .red = 1, .now = 1000};
    assert_int_equal(s_count(st, &ro), want_red_overdue);
    /* newest first, and paged with before */
    store_filter p1 = {.limit = 3, .red = 1};
    assert_int_equal(s_count(st, &p1), 3);
    store_filter p2 = {.limit = 1000, .red = 1, .before = 100};
    int below = 0;
    for (int i = 0; i < 99; i++)
        below += i % 7 == 0;
    assert_int_equal(s_count(st, &p2), below);
    store_close(&st);
}

/* The checkpointer: the log starts over again and again while batches go
 * on, stays within its bound, and nothing committed is lost; a reader that
 * holds an old snapshot keeps the log from starting over (the checkpoints
 * in full then copy what they can, and nothing hangs) until it lets go. */
static void s_ck_batches(store *st, int n, const char *json)
{
    for (int i = 0; i < n; i++) {
        assert_int_equal(store_begin(st), 0);
        store_event ev = {.seq = store_event_next_seq(st),
                          .time = 1000,
                          .kind = "note",
                          .topic = "ticket.x.-",
                          .actor = "system",
                          .json = json};
        assert_int_equal(store_event_append(st, &ev), 0);
        assert_int_equal(store_commit(st), 0);
        store_checkpoint_idle(st);
    }
}

static void s_ck_count_cb(int64_t seq, const char *topic, const char *json, void *arg)
{
    int64_t *n = arg;
    if (seq == *n + 1) (*n)++;
}

static void test_checkpointer(void **state)
{
    char json[3001];
    memset(json, 'x', sizeof json - 1);
    json[0] = '"';
    json[sizeof json - 2] = '"';
    json[sizeof json - 1] = 0;
    store *st = s_open();
    store_ckpt_stats ck;
    store_checkpoint_idle(st); /* without the thread: nothing to do */
    store_checkpoint_stats(st, &ck);
    assert_int_equal(ck.thread_rounds + ck.idle_rounds + ck.full_rounds, 0);
    assert_int_equal(store_checkpointer_start(st, 200), 0);
    s_ck_batches(st, 600, json);
    store_checkpoint_stats(st, &ck);
    assert_true(ck.restarts >= 2);
    assert_true(ck.thread_rounds >= 1);
    assert_true(ck.idle_rounds >= 1);
    assert_true(ck.log_pages <= 800);
    struct stat sb;
    char wal[600];
    snprintf(wal, sizeof wal, "%s-wal", s_db);
    assert_int_equal(stat(wal, &sb), 0);
    assert_true(sb.st_size <= 810 * 4120);

    /* a reader on an old snapshot: no restart, the full checkpoints run.
     * If the log happened to be copied whole when the reader began, SQLite
     * lets it read the database file alone; the next commit may then start
     * the log over once, and from there the reader keeps the log from being
     * copied at all. Either way the log grows past its bound. */
    sqlite3 *rd;
    assert_int_equal(sqlite3_open(s_db, &rd), SQLITE_OK);
    assert_int_equal(sqlite3_exec(rd, "BEGIN; SELECT count(*) FROM events;", NULL, NULL, NULL),
                     SQLITE_OK);
    int64_t restarts = ck.restarts;
    s_ck_batches(st, 900, json);
    store_checkpoint_stats(st, &ck);
    assert_in_range(ck.restarts, restarts, restarts + 1);
    restarts = ck.restarts;
    assert_true(ck.full_rounds >= 1);
    assert_true(ck.log_pages > 800);
    assert_int_equal(sqlite3_exec(rd, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(rd);
    s_ck_batches(st, 50, json);
    store_checkpoint_stats(st, &ck);
    assert_true(ck.restarts > restarts);
    assert_true(ck.log_pages < 800);
    store_close(&st);

    /* everything committed is there, in order, in a sound file */
    st = s_open();
    int64_t n = 0;
    assert_int_equal(store_events_after(st, 0, 10000, s_ck_count_cb, &n), 0);
    assert_int_equal(n, 1550);
    store_close(&st);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(s_db, &db), SQLITE_OK);
    sqlite3_stmt *q;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &q, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(q, 0), "ok");
    sqlite3_finalize(q);
    sqlite3_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_schema_version, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_mark_undo_rollback, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_numbering, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_repeat_lookup_and_list, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_feeds_log_idem, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_lost_batch, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_migrate_idem_v3, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_schema_v4_plans, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_checkpointer, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_list_indexes, s_setup, s_teardown),
        cmocka_unit_test(test_core_in_memory),
    };
    return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
