/* test_worker_wstore.c — unit tests for workers/wstore.c: the local store's
 * tickets (short indexes, lookups, the open list), the inbox cursor, and the
 * outbox (unique idem keys, states, order) across reopening. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hotline/proto.h"
#include "wstore.h"

#include <sqlite3.h>

static char s_dir[64];

static const char *s_path(const char *name)
{
    static char buf[4][256];
    static int next;
    char *p = buf[next++ % 4];
    snprintf(p, 256, "%s/%s", s_dir, name);
    return p;
}

static int s_setup(void **state)
{
    (void)state;
    snprintf(s_dir, sizeof s_dir, "/tmp/hl-wstore-XXXXXX");
    return mkdtemp(s_dir) ? 0 : -1;
}

static int s_teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static wstore *s_open(const char *name, const char *unit)
{
    char *err = NULL;
    wstore *s = wstore_open(s_path(name), unit, &err);
    if (!s) fail_msg("open: %s", err);
    return s;
}

static cJSON *s_ticket(int64_t id, const char *no, const char *status, const char *lead)
{
    cJSON *t = cJSON_CreateObject();
    cJSON_AddNumberToObject(t, "id", (double)id);
    cJSON_AddStringToObject(t, "no", no);
    cJSON_AddStringToObject(t, "status", status);
    if (lead)
        cJSON_AddStringToObject(t, "lead", lead);
    else
        cJSON_AddNullToObject(t, "lead");
    cJSON_AddStringToObject(t, "category_name", "噪音扰民");
    return t;
}

static void test_open_creates_directories_and_keeps_the_unit(void **state)
{
    (void)state;
    wstore *s = s_open("a/b/c/w.db", "t.a");
    assert_int_equal(wstore_cursor(s), 0);
    wstore_set_cursor(s, 42);
    wstore_set_last_sync(s, 1234);
    wstore_close(&s);
    assert_null(s);
    s = s_open("a/b/c/w.db", "t.a");
    assert_int_equal(wstore_cursor(s), 42);
    assert_int_equal(wstore_last_sync(s), 1234);
    wstore_close(&s);
    /* a store belongs to one unit */
    char *err = NULL;
    assert_null(wstore_open(s_path("a/b/c/w.db"), "t.b", &err));
    assert_non_null(strstr(err, "belongs to unit t.a"));
    assert_non_null(strstr(err, "--db"));
    free(err);
}

static void test_tickets(void **state)
{
    (void)state;
    wstore *s = s_open("t.db", "t.a");
    ws_ticket prev;
    cJSON *t = s_ticket(17, "20261127-000017", "dispatched", "t.a");
    assert_int_equal(wstore_ticket_put(s, t, 1, &prev), 0);
    assert_int_equal(prev.id, 0); /* new */
    assert_null(prev.json);
    cJSON_Delete(t);
    t = s_ticket(3, "20261127-000003", "dispatched", "t.a");
    wstore_ticket_put(s, t, 1, NULL);
    cJSON_Delete(t);
    t = s_ticket(5, "20261127-000005", "dispatched", "t.b"); /* not ours */
    wstore_ticket_put(s, t, 0, NULL);
    cJSON_Delete(t);
    wstore_commit(s);

    /* short indexes in order of arrival */
    ws_ticket got;
    assert_int_equal(wstore_ticket_find(s, "1", &got), 0);
    assert_int_equal(got.id, 17);
    assert_int_equal(got.idx, 1);
    assert_int_equal(got.assigned, 1);
    assert_string_equal(hl_json_str(got.json, "category_name"), "噪音扰民");
    wstore_ticket_free(&got);
    assert_int_equal(wstore_ticket_find(s, "2", &got), 0);
    assert_int_equal(got.id, 3);
    wstore_ticket_free(&got);
    /* by id, by number; a bare number without such index is the id */
    assert_int_equal(wstore_ticket_find(s, "#3", &got), 0);
    assert_int_equal(got.idx, 2);
    wstore_ticket_free(&got);
    assert_int_equal(wstore_ticket_find(s, "20261127-000017", &got), 0);
    assert_int_equal(got.id, 17);
    wstore_ticket_free(&got);
    assert_int_equal(wstore_ticket_find(s, "17", &got), 0);
    assert_int_equal(got.id, 17);
    wstore_ticket_free(&got);
    assert_int_equal(wstore_ticket_find(s, "99", &got), -1);
    assert_int_equal(wstore_ticket_find(s, "#99", &got), -1);
    assert_int_equal(wstore_ticket_find(s, "x", &got), -1);
    assert_int_equal(wstore_ticket_find(s, "", &got), -1);

    /* update: the previous version comes back, the index stays */
    t = s_ticket(17, "20261127-000017", "accepted", "t.a");
    assert_int_equal(wstore_ticket_put(s, t, 0, &prev), 0);
    cJSON_Delete(t);
    assert_int_equal(prev.id, 17);
    assert_string_equal(prev.status, "dispatched");
    wstore_ticket_free(&prev);
    t = s_ticket(17, "20261127-000017", "dispatched", "t.a"); /* reopened */
    wstore_ticket_put(s, t, 1, NULL);
    cJSON_Delete(t);
    assert_int_equal(wstore_ticket_get(s, 17, &got), 0);
    assert_int_equal(got.idx, 1);
    assert_int_equal(got.assigned, 2);
    assert_string_equal(got.status, "dispatched");
    wstore_ticket_free(&got);

    /* not a ticket */
    cJSON *bad = cJSON_CreateObject();
    assert_int_equal(wstore_ticket_put(s, bad, 0, NULL), -1);
    cJSON_Delete(bad);
    wstore_close(&s);
}

static int s_collect(const ws_ticket *t, void *arg)
{
    char *out = arg;
    char one[32];
    snprintf(one, sizeof one, "%lld,", (long long)t->id);
    strcat(out, one);
    return 0;
}

static void test_open_list(void **state)
{
    (void)state;
    wstore *s = s_open("open.db", "t.a");
    const char *statuses[] = {"dispatched", "accepted", "resolved", "triage", "dispatched"};
    const char *leads[] = {"t.a", "t.a", "t.a", NULL, "t.b"};
    for (int i = 0; i < 5; i++) {
        char no[32];
        snprintf(no, sizeof no, "20261127-%06d", i + 1);
        cJSON *t = s_ticket(i + 1, no, statuses[i], leads[i]);
        wstore_ticket_put(s, t, 0, NULL);
        cJSON_Delete(t);
    }
    char out[256] = "";
    wstore_ticket_each(s, 1, s_collect, out);
    assert_string_equal(out, "1,2,");
    out[0] = '\0';
    wstore_ticket_each(s, 0, s_collect, out);
    assert_string_equal(out, "1,2,3,4,5,");
    wstore_close(&s);
}

static int s_actions(const ws_action *a, void *arg)
{
    char *out = arg;
    char one[64];
    snprintf(one, sizeof one, "%s:%s,", a->op, wstore_state_name(a->state));
    strcat(out, one);
    return 0;
}

static void test_outbox(void **state)
{
    (void)state;
    wstore *s = s_open("out.db", "t.a");
    cJSON *args = cJSON_CreateObject();
    cJSON_AddNumberToObject(args, "ticket", 7);
    int64_t n1 = wstore_action_add(s, "sign", 7, "20261127-000007", args);
    args = cJSON_CreateObject();
    cJSON_AddNumberToObject(args, "ticket", 7);
    cJSON_AddStringToObject(args, "text", "进展");
    int64_t n2 = wstore_action_add(s, "note", 7, "20261127-000007", args);
    args = cJSON_CreateObject();
    int64_t n3 = wstore_action_add(s, "create", 0, "env.litter", args);
    wstore_commit(s);
    assert_true(n1 < n2 && n2 < n3);

    ws_action a1, a2;
    assert_int_equal(wstore_action_get(s, n1, &a1), 0);
    assert_int_equal(wstore_action_get(s, n2, &a2), 0);
    assert_string_equal(a1.op, "sign");
    assert_int_equal(a1.ticket, 7);
    assert_string_equal(a1.ref, "20261127-000007");
    assert_int_equal(a1.state, WS_PENDING);
    assert_true(strncmp(a1.idem, "t.a-", 4) == 0);
    assert_true(strlen(a1.idem) <= 64);
    assert_string_not_equal(a1.idem, a2.idem);
    cJSON *parsed = cJSON_Parse(a2.args);
    assert_string_equal(hl_json_str(parsed, "text"), "进展");
    cJSON_Delete(parsed);
    char idem1[80];
    snprintf(idem1, sizeof idem1, "%s", a1.idem);
    wstore_action_free(&a1);
    wstore_action_free(&a2);

    assert_true(wstore_action_open_for(s, 7));
    assert_false(wstore_action_open_for(s, 8));
    wstore_action_set_state(s, n1, WS_SENT, NULL, NULL);
    wstore_action_set_state(s, n2, WS_REFUSED, "forbidden", "ticket 7 is led by t.b");
    wstore_commit(s);
    assert_int_equal(wstore_action_count(s, WS_PENDING), 1);
    assert_int_equal(wstore_action_count(s, WS_SENT), 1);
    assert_int_equal(wstore_action_count(s, WS_REFUSED), 1);
    char out[256] = "";
    wstore_action_each(s, (1u << WS_PENDING) | (1u << WS_SENT), s_actions, out);
    assert_string_equal(out, "sign:sent,create:pending,");
    wstore_close(&s);

    /* a restart keeps everything; new keys never repeat old ones */
    s = s_open("out.db", "t.a");
    out[0] = '\0';
    wstore_action_each(s, ~0u, s_actions, out);
    assert_string_equal(out, "sign:sent,note:refused,create:pending,");
    assert_int_equal(wstore_action_get(s, n2, &a2), 0);
    assert_string_equal(a2.code, "forbidden");
    assert_string_equal(a2.message, "ticket 7 is led by t.b");
    wstore_action_free(&a2);
    int64_t n4 = wstore_action_add(s, "sign", 9, "9", cJSON_CreateObject());
    assert_int_equal(wstore_action_get(s, n4, &a1), 0);
    assert_string_not_equal(a1.idem, idem1);
    assert_true(n4 > n3);
    wstore_action_free(&a1);
    wstore_action_set_state(s, n1, WS_DONE, NULL, NULL);
    assert_false(wstore_action_open_for(s, 7));
    assert_int_equal(wstore_action_get(s, 999, &a1), -1);
    wstore_close(&s);
}

static void test_long_unit_keeps_idem_short(void **state)
{
    (void)state;
    char unit[65];
    memset(unit, 'u', 64);
    unit[64] = '\0';
    wstore *s = s_open("long.db", unit);
    int64_t n = 0;
    for (int i = 0; i < 3; i++) n = wstore_action_add(s, "sign", 1, "1", cJSON_CreateObject());
    ws_action a;
    assert_int_equal(wstore_action_get(s, n, &a), 0);
    assert_true(strlen(a.idem) <= 64);
    wstore_action_free(&a);
    wstore_close(&s);
}

/* A store of schema version 1 (the outbox's state check an IN list) is
 * rebuilt on open, its actions and idem numbering kept. */
static void test_migrates_version_1(void **state)
{
    (void)state;
    sqlite3 *db;
    assert_int_equal(sqlite3_open(s_path("v1.db"), &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(db,
                     "PRAGMA journal_mode=WAL;"
                     "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);"
                     "CREATE TABLE tickets(id INTEGER PRIMARY KEY, idx INTEGER NOT NULL UNIQUE,"
                     " no TEXT, status TEXT, lead TEXT, assigned INTEGER NOT NULL DEFAULT 0,"
                     " seen_at INTEGER, json TEXT NOT NULL);"
                     "CREATE TABLE outbox(n INTEGER PRIMARY KEY AUTOINCREMENT, op TEXT NOT NULL,"
                     " ticket INTEGER, ref TEXT, args TEXT NOT NULL, idem TEXT NOT NULL UNIQUE,"
                     " created_at INTEGER NOT NULL, state TEXT NOT NULL CHECK (state IN"
                     " ('pending', 'sent', 'done', 'refused')), code TEXT, message TEXT,"
                     " updated_at INTEGER);"
                     "CREATE INDEX outbox_state ON outbox(state, n);"
                     "INSERT INTO meta VALUES ('unit', 't.a'), ('idem_next', '7');"
                     "INSERT INTO outbox(n, op, ticket, ref, args, idem, created_at, state)"
                     " VALUES (7, 'sign', 17, '17', '{\"ticket\":17}', 't.a-1-7', 1, 'pending');"
                     "PRAGMA user_version = 1;",
                     NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);
    wstore *s = s_open("v1.db", "t.a");
    ws_action a;
    assert_int_equal(wstore_action_get(s, 7, &a), 0);
    assert_string_equal(a.op, "sign");
    assert_int_equal(a.state, WS_PENDING);
    wstore_action_free(&a);
    int64_t n = wstore_action_add(s, "finish", 17, "17", cJSON_CreateObject());
    assert_true(n > 7);
    assert_int_equal(wstore_action_get(s, n, &a), 0);
    assert_non_null(strstr(a.idem, "-8"));
    wstore_action_free(&a);
    wstore_action_set_state(s, 7, WS_DONE, NULL, NULL);
    wstore_commit(s);
    wstore_close(&s);
    assert_int_equal(sqlite3_open(s_path("v1.db"), &db), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT (SELECT user_version FROM pragma_user_version),"
                                        " (SELECT sql LIKE '%state IN (%' FROM sqlite_master"
                                        " WHERE name = 'outbox')",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 2);
    assert_int_equal(sqlite3_column_int(st, 1), 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
}

/* A ticket stored from its text in one upsert: a new one takes the next
 * short index (also after reopening), an update keeps the index and a
 * missing no or status, adds the assignments, and the text is kept as it
 * came. */
static void s_in(ws_ticket_in *in, const char *text)
{
    js_span v;
    assert_int_equal(js_value(text, strlen(text), &v), 0);
    assert_int_equal(wstore_ticket_scan(v, in), 0);
}

static void test_ticket_put_text(void **state)
{
    (void)state;
    wstore *s = s_open("text.db", "t.a");
    /* one stored the old way first: the count goes on from it */
    cJSON *t = s_ticket(5, "20261127-000005", "dispatched", "t.a");
    assert_int_equal(wstore_ticket_put(s, t, 1, NULL), 0);
    cJSON_Delete(t);
    const char *a = "{\"id\":9, \"no\":\"20261127-000009\",\"status\":\"dispatched\","
                    "\"lead\":\"t.a\",\"title\":\"广场\\\"舞\\\"\"}";
    ws_ticket_in in;
    ws_ticket now;
    s_in(&in, a);
    wstore_ticket_put_text(s, &in, 1, &now);
    assert_int_equal(now.id, 9);
    assert_int_equal(now.idx, 2);
    assert_string_equal(now.no, "20261127-000009");
    assert_string_equal(now.status, "dispatched");
    assert_string_equal(now.lead, "t.a");
    assert_int_equal(now.assigned, 1);
    assert_null(now.json);
    /* an update without no and status, lead null: index kept, count added */
    s_in(&in, "{\"id\":9,\"lead\":null,\"x\":1}");
    wstore_ticket_put_text(s, &in, 1, &now);
    assert_int_equal(now.idx, 2);
    assert_string_equal(now.no, "20261127-000009");
    assert_string_equal(now.status, "dispatched");
    assert_string_equal(now.lead, "");
    assert_int_equal(now.assigned, 2);
    s_in(&in, a);
    wstore_ticket_put_text(s, &in, 0, NULL);
    wstore_commit(s);
    ws_ticket got;
    assert_int_equal(wstore_ticket_head(s, 9, &got), 0);
    assert_int_equal(got.assigned, 2);
    assert_string_equal(got.lead, "t.a");
    /* the text as it came (the space after the first comma too) */
    sqlite3 *db;
    assert_int_equal(sqlite3_open(s_path("text.db"), &db), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT json FROM tickets WHERE id = 9", -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), a);
    sqlite3_finalize(st);
    sqlite3_close(db);
    /* and parsed for the console as any stored ticket */
    assert_int_equal(wstore_ticket_find(s, "2", &got), 0);
    assert_int_equal(got.id, 9);
    assert_string_equal(hl_json_str(got.json, "title"), "广场\"舞\"");
    wstore_ticket_free(&got);
    wstore_close(&s);
    /* after reopening, new tickets go on from the highest index */
    s = s_open("text.db", "t.a");
    s_in(&in, "{\"id\":4,\"no\":\"20261127-000004\",\"status\":\"accepted\",\"lead\":\"t.a\"}");
    wstore_ticket_put_text(s, &in, 0, &now);
    assert_int_equal(now.idx, 3);
    assert_int_equal(now.assigned, 0);
    t = s_ticket(11, "20261127-000011", "dispatched", "t.a");
    assert_int_equal(wstore_ticket_put(s, t, 1, NULL), 0);
    cJSON_Delete(t);
    assert_int_equal(wstore_ticket_head(s, 11, &got), 0);
    assert_int_equal(got.idx, 4);
    wstore_close(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_creates_directories_and_keeps_the_unit),
        cmocka_unit_test(test_tickets),
        cmocka_unit_test(test_ticket_put_text),
        cmocka_unit_test(test_open_list),
        cmocka_unit_test(test_outbox),
        cmocka_unit_test(test_long_unit_keeps_idem_short),
        cmocka_unit_test(test_migrates_version_1),
    };
    return cmocka_run_group_tests_name("worker_wstore", tests, s_setup, s_teardown);
}
