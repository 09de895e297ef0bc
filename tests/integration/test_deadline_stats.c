/* test_deadline_stats.c — the assessment (考核) of a scripted day over
 * three units: work on time and late, a return, reopenings, callbacks of
 * each kind, a cancellation, an overdue ticket and the flags the deadline
 * engine raised; every number of `stats` is checked against the table
 * worked out by hand below, and so are the period and unit filters. And
 * stats over a large history is counted off the loop: the requests behind
 * it are answered first. */
#include "test_deadline.h"

#include <math.h>
#include <sqlite3.h>

/* The expected table. Dispatches (a reopened or re-dispatched ticket is a
 * new dispatch; "quick" is sign 1 s / finish 2 s, "easy" is 4 h / 5 wd):
 *
 * t.a.g1  A1 easy: sign, finish, callback satisfied       on time, on time
 *         A2 easy: sign, finish, callback unsatisfied     on time, on time, reopened
 *         A2 again: sign, finish, callback basic          on time, on time
 *         A3 easy: returned before signing                returned
 *         A4 quick: signed after its sign red, finished after its finish red,
 *                   callback satisfied                    late, late; 2 yellow, 2 red
 *         A5 quick: never signed                          overdue; sign Y R1 R2,
 *                                                          finish Y R1 R2: 2 yellow, 4 red
 *         A6 easy: cancelled
 *   assigned 7, signed 3, finished 3, overdue 1, returned 1, reopened 1,
 *   callbacks 4 (2 satisfied, 1 basic, 1 unsatisfied), yellow 4, red 6
 *   rates 3/7, 3/7, 3/4; score 100 × (0.2·3/7 + 0.4·3/7 + 0.4·0.75) = 55.71
 *
 * t.b.g1  A3 re-dispatched here: sign, finish, callback unsatisfied
 *                                                          on time, on time, reopened
 *         A3 again: open, not yet signed (easy: not overdue)
 *         B2 easy: signed, then returned                  on time, returned
 *         B3 easy: sign, finish, no callback yet          on time, on time
 *   assigned 4, signed 3, finished 2, overdue 0, returned 1, reopened 1,
 *   callbacks 1 (1 unsatisfied), yellow 0, red 0
 *   rates 3/4, 2/4, 0/1; score 100 × (0.2·0.75 + 0.4·0.5 + 0.4·0) = 35.00
 *
 * t.water W1 easy: sign, finish, no callback              on time, on time
 *   assigned 1, signed 1, finished 1; satisfaction null (no callbacks), so
 *   its weight drops out: score 100 × (0.2 + 0.4) / 0.6 = 100.00
 *
 * Ranking: t.water 1, t.a.g1 2, t.b.g1 3. */
typedef struct expect {
    const char *unit, *name;
    int64_t n[12];                               /* in the order of s_counts */
    double sign_rate, finish_rate, satisfaction; /* < 0: null */
    double score;
    int rank;
} expect;

static const char *const s_counts[12] = {"assigned",    "signed_on_time", "finished_on_time",
                                         "overdue",     "returned",       "reopened",
                                         "callbacks",   "satisfied",      "basic",
                                         "unsatisfied", "yellow",         "red"};

static const expect s_table[3] = {
    {"t.water", "水务", {1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 1.0, 1.0, -1, 100.00, 1},
    {"t.a.g1",
     "甲镇一网格",
     {7, 3, 3, 1, 1, 1, 4, 2, 1, 1, 4, 6},
     3.0 / 7,
     3.0 / 7,
     0.75,
     55.71,
     2},
    {"t.b.g1", "乙镇一网格", {4, 3, 2, 0, 1, 1, 1, 0, 0, 1, 0, 0}, 0.75, 0.5, 0.0, 35.00, 3},
};

static void s_rate(const cJSON *u, const char *key, double want)
{
    const cJSON *v = th_get(u, key);
    if (want < 0) {
        if (!cJSON_IsNull(v)) fail_msg("%s: expected null", key);
        return;
    }
    if (!cJSON_IsNumber(v)) fail_msg("%s: expected %g, got no number", key, want);
    if (fabs(v->valuedouble - want) > 1e-9)
        fail_msg("%s: expected %.10g, got %.10g", key, want, v->valuedouble);
}

static void s_check_row(const cJSON *u, const expect *e)
{
    td_assert_str(u, "unit", e->unit);
    td_assert_str(u, "name", e->name);
    for (int i = 0; i < 12; i++)
        if (th_geti(u, s_counts[i]) != e->n[i])
            fail_msg("%s %s: expected %lld, got %lld", e->unit, s_counts[i], (long long)e->n[i],
                     (long long)th_geti(u, s_counts[i]));
    s_rate(u, "sign_rate", e->sign_rate);
    s_rate(u, "finish_rate", e->finish_rate);
    s_rate(u, "satisfaction", e->satisfaction);
    s_rate(u, "score", e->score);
    assert_int_equal(th_geti(u, "rank"), e->rank);
}

/* create and return the ticket number (caller frees) */
static char *s_new(th_client *op, const char *category, const char *cell, const char *phone)
{
    cJSON *t = dl_create(op, category, cell, phone);
    char *no = strdup(th_gets(t, "no"));
    cJSON_Delete(t);
    return no;
}

#define T(no) "{\"ticket\":\"%s\"}", no
#define RESULT(no) "{\"ticket\":\"%s\",\"result\":\"已办结\"}", no
#define CALLBACK(no, r) "{\"ticket\":\"%s\",\"result\":\"" r "\"}", no
#define REASON(no) "{\"ticket\":\"%s\",\"reason\":\"测试\"}", no

static void test_stats_scenario(void **state)
{
    dl_log l;
    dl_log_init(&l, dl_d.events);
    th_client *op = th_client_new(dl_d.front, "operator", NULL);
    th_client *mgr = th_client_new(dl_d.front, "manager", NULL);
    th_client *wa = th_client_new(dl_d.front, "worker", "t.a.g1");
    th_client *wb = th_client_new(dl_d.front, "worker", "t.b.g1");
    th_client *ww = th_client_new(dl_d.front, "worker", "t.water");
    int64_t start = td_server_now(mgr);

    /* the late ones first: their clocks run while the rest is done */
    char *a4 = s_new(op, "quick", "C-A1", "13700000004");
    char *a5 = s_new(op, "quick", "C-A1", "13700000005");
    dl_wait(&l, a4, "sign", "red", 1, 5000);
    td_ok(wa, "sign", T(a4));
    dl_wait(&l, a4, "finish", "red", 1, 5000);
    td_ok(wa, "finish", RESULT(a4));
    td_ok(op, "callback", CALLBACK(a4, "satisfied"));

    char *a1 = s_new(op, "easy", "C-A1", "13700000001");
    td_ok(wa, "sign", T(a1));
    td_ok(wa, "finish", RESULT(a1));
    td_ok(op, "callback", CALLBACK(a1, "satisfied"));

    char *a2 = s_new(op, "easy", "C-A1", "13700000002");
    td_ok(wa, "sign", T(a2));
    td_ok(wa, "finish", RESULT(a2));
    td_ok(op, "callback", CALLBACK(a2, "unsatisfied"));
    td_ok(wa, "sign", T(a2)); /* the reopened dispatch */
    td_ok(wa, "finish", RESULT(a2));
    td_ok(op, "callback", CALLBACK(a2, "basic"));

    char *a3 = s_new(op, "easy", "C-A1", "13700000003");
    td_ok(wa, "return", REASON(a3));
    td_ok(op, "dispatch", "{\"ticket\":\"%s\",\"unit\":\"t.b.g1\"}", a3);
    td_ok(wb, "sign", T(a3));
    td_ok(wb, "finish", RESULT(a3));
    td_ok(op, "callback", CALLBACK(a3, "unsatisfied")); /* open again at t.b.g1 */

    char *a6 = s_new(op, "easy", "C-A1", "13700000006");
    td_ok(op, "cancel", REASON(a6));

    char *b2 = s_new(op, "easy", "C-B1", "13700000012");
    td_ok(wb, "sign", T(b2));
    td_ok(wb, "return", REASON(b2));
    char *b3 = s_new(op, "easy", "C-B1", "13700000013");
    td_ok(wb, "sign", T(b3));
    td_ok(wb, "finish", RESULT(b3));

    /* mid: after every dispatch so far (B3's is the last), before W1's */
    cJSON *g = th_ok(op, "get", T(b3));
    int64_t mid = td_ms(th_gets(g, "ticket.dispatched_at")) + 1;
    cJSON_Delete(g);
    assert_true(TH_WAIT_UNTIL(td_server_now(mgr) >= mid, 2000));
    char *w1 = s_new(op, "water", "C-A1", "13700000021");
    td_ok(ww, "sign", T(w1));
    td_ok(ww, "finish", RESULT(w1));

    /* A5's last flag (its finish red of tier 2, at 4 s) ends its alerts */
    dl_wait(&l, a5, "finish", "red", 2, 8000);
    dl_pump(&l, 200);
    assert_int_equal(dl_count(&l, a5, NULL, NULL, -1, NULL), 6);
    assert_int_equal(dl_count(&l, a4, NULL, NULL, -1, NULL), 4);
    assert_int_equal(l.n, 10);

    /* all time, and the same period given explicitly */
    char since[HL_TIME_LEN], until[HL_TIME_LEN];
    hl_time_format(start, since);
    hl_time_format(td_server_now(mgr) + 1000, until);
    for (int pass = 0; pass < 2; pass++) {
        cJSON *r = pass == 0
                       ? th_ok(mgr, "stats", "")
                       : th_ok(mgr, "stats", "{\"since\":\"%s\",\"until\":\"%s\"}", since, until);
        td_assert_str(r, "since", pass ? since : NULL);
        td_assert_str(r, "until", pass ? until : NULL);
        const cJSON *units = th_get(r, "units");
        assert_int_equal(cJSON_GetArraySize(units), 3);
        for (int i = 0; i < 3; i++)
            s_check_row(cJSON_GetArrayItem(units, i), &s_table[i]);
        cJSON_Delete(r);
    }
    /* one unit: its row, ranked among all */
    cJSON *r = th_ok(mgr, "stats", "{\"unit\":\"t.b.g1\"}");
    assert_int_equal(cJSON_GetArraySize(th_get(r, "units")), 1);
    s_check_row(th_get(r, "units.0"), &s_table[2]);
    cJSON_Delete(r);
    r = th_ok(mgr, "stats", "{\"unit\":\"t.a\"}"); /* led nothing */
    assert_int_equal(cJSON_GetArraySize(th_get(r, "units")), 0);
    cJSON_Delete(r);
    /* by dispatch time: from mid on only W1's dispatch */
    char m[HL_TIME_LEN];
    hl_time_format(mid, m);
    r = th_ok(mgr, "stats", "{\"since\":\"%s\"}", m);
    assert_int_equal(cJSON_GetArraySize(th_get(r, "units")), 1);
    s_check_row(th_get(r, "units.0"), &s_table[0]);
    cJSON_Delete(r);
    /* before mid: everything but W1 (A, then B) */
    r = th_ok(mgr, "stats", "{\"until\":\"%s\"}", m);
    assert_int_equal(cJSON_GetArraySize(th_get(r, "units")), 2);
    td_assert_str(r, "units.0.unit", "t.a.g1");
    assert_int_equal(th_geti(r, "units.0.rank"), 1);
    td_assert_str(r, "units.1.unit", "t.b.g1");
    cJSON_Delete(r);
    r = th_ok(mgr, "stats", "{\"until\":\"%s\"}", since);
    assert_int_equal(cJSON_GetArraySize(th_get(r, "units")), 0);
    cJSON_Delete(r);
    /* refusals */
    th_err(mgr, "bad_request", "stats", "{\"since\":\"%s\",\"until\":\"%s\"}", until, since);
    th_err(mgr, "bad_request", "stats", "{\"since\":\"yesterday\"}");
    th_err(mgr, "unknown_unit", "stats", "{\"unit\":\"t.nope\"}");
    th_err(op, "forbidden", "stats", "");

    char *nos[] = {a1, a2, a3, a4, a5, a6, b2, b3, w1};
    for (size_t i = 0; i < sizeof nos / sizeof nos[0]; i++)
        free(nos[i]);
    th_client_destroy(&ww);
    th_client_destroy(&wb);
    th_client_destroy(&wa);
    th_client_destroy(&mgr);
    th_client_destroy(&op);
    dl_log_free(&l);
}

/* 300,000 dispatches of 2025 (as a city makes in a year), written into
 * the file while the dispatcher is stopped: every other one signed on
 * time, every third finished on time, every fifth unsatisfied. */
#define BIG 300000
static const char s_big_sql[] =
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300000)"
    " INSERT INTO dispatches (ticket_id, unit, dispatched_at, sign_due, finish_due, signed_at,"
    " resolved_at, ended_at, end_reason, callback)"
    " SELECT 1000000 + i, CASE i % 3 WHEN 0 THEN 't.a.g1' WHEN 1 THEN 't.b.g1' ELSE 't.water' END,"
    " 1735689600000 + i * 60000, 1735689600000 + i * 60000 + 3600000,"
    " 1735689600000 + i * 60000 + 86400000,"
    " CASE WHEN i % 2 = 0 THEN 1735689600000 + i * 60000 + 1000 END,"
    " CASE WHEN i % 3 = 0 THEN 1735689600000 + i * 60000 + 2000 END,"
    " 1735689600000 + i * 60000 + 3000, 'closed',"
    " CASE WHEN i % 5 = 0 THEN 'unsatisfied' ELSE 'satisfied' END FROM n";

static void test_stats_off_the_loop(void **state)
{
    (void)state;
    assert_int_equal(th_disp_stop(&dl_d), 0);
    sqlite3 *h;
    assert_int_equal(sqlite3_open(dl_d.db, &h), SQLITE_OK);
    if (sqlite3_exec(h, s_big_sql, NULL, NULL, NULL) != SQLITE_OK)
        fail_msg("loading the dispatches: %s", sqlite3_errmsg(h));
    sqlite3_close(h);
    char config[512], db[512];
    snprintf(config, sizeof config, "%s", dl_d.config);
    snprintf(db, sizeof db, "%s", dl_d.db);
    th_disp_start(&dl_d, config, db, NULL);

    /* on one connection: stats over 2025, then a ping and a list; on
     * another, a call logged meanwhile */
    th_client *mgr = th_client_new(dl_d.front, "manager", NULL);
    th_client *op = th_client_new(dl_d.front, "operator", NULL);
    const char *reqs[] = {
        "{\"v\":1,\"id\":\"s\",\"op\":\"stats\",\"since\":\"2025-01-01T00:00:00Z\","
        "\"until\":\"2026-01-01T00:00:00Z\"}",
        "{\"v\":1,\"id\":\"p\",\"op\":\"ping\"}",
        "{\"v\":1,\"id\":\"l\",\"op\":\"list\",\"limit\":1}"};
    for (size_t i = 0; i < 3; i++)
        th_send_raw(mgr, reqs[i], strlen(reqs[i]));
    free(s_new(op, "easy", "C-A1", "13900000001"));
    char order[4] = "";
    cJSON *stats = NULL;
    for (int i = 0; i < 3; i++) {
        cJSON *r = th_recv_reply(mgr, th_slow(30000));
        if (!r) fail_msg("no reply %d (got \"%s\")", i + 1, order);
        const char *re = th_gets(r, "re");
        assert_non_null(re);
        strncat(order, re, 1);
        assert_true(th_is_ok(r));
        if (strcmp(re, "s") == 0)
            stats = r;
        else
            cJSON_Delete(r);
    }
    /* replies on a connection keep their order, but for stats: its count
     * came after the ping and the list it was sent before */
    assert_string_equal(order, "pls");
    /* and it counted every dispatch of the year */
    assert_int_equal(cJSON_GetArraySize(th_get(stats, "units")), 3);
    int64_t assigned = 0, signed_ = 0, finished = 0, unsatisfied = 0;
    const cJSON *u;
    cJSON_ArrayForEach(u, th_get(stats, "units"))
    {
        assigned += th_geti(u, "assigned");
        signed_ += th_geti(u, "signed_on_time");
        finished += th_geti(u, "finished_on_time");
        unsatisfied += th_geti(u, "unsatisfied");
    }
    assert_int_equal(assigned, BIG);
    assert_int_equal(signed_, BIG / 2);
    assert_int_equal(finished, BIG / 3);
    assert_int_equal(unsatisfied, BIG / 5);
    td_assert_str(stats, "since", "2025-01-01T00:00:00.000Z");
    cJSON_Delete(stats);
    th_client_destroy(&op);
    th_client_destroy(&mgr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_stats_scenario, dl_setup, dl_teardown),
        cmocka_unit_test_setup_teardown(test_stats_off_the_loop, dl_setup, dl_teardown),
    };
    return TH_MAIN("deadline_stats", tests);
}
