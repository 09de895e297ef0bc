/* test_deadline.c — unit tests for dispatcher/deadline.c (the thresholds of
 * the 红黄旗 in wall-clock and working time, across the 2026 National Day
 * holiday; extended stages; tiers and escalation up the unit tree; the next
 * threshold of a dispatch), and for the engine behind it driven in-process
 * on an in-memory store: a long backlog is worked off in bounded chunks,
 * each alert once, and the deadline queries walk the next_check index; a
 * version-1 database migrates. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "test_time.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core.h"
#include "deadline.h"
#include "store.h"

#include "hotline/config.h"
#include "hotline/util.h"

static hl_config *s_cfg(void)
{
    char *err = NULL;
    hl_config *cfg = hl_config_load("config/test-small.json", &err);
    if (!cfg) fail_msg("%s", err);
    return cfg;
}

static hl_duration s_dur(const char *text)
{
    hl_duration d;
    assert_int_equal(hl_duration_parse(text, &d), 0);
    return d;
}

/* 4h sign, warn 0.8: yellow at 3.2 h, red at due, then one more red per 4 h */
static void test_wall_thresholds(void **state)
{
    hl_config *cfg = s_cfg();
    hl_ms t0 = tt_ms("2026-11-27T01:00:00Z");
    deadline_stage s = {t0, t0 + 4 * 3600000, s_dur("4h"), 0, 0.8};
    assert_time(deadline_threshold(cfg->calendar, &s, 0), "2026-11-27T04:12:00Z");
    assert_time(deadline_threshold(cfg->calendar, &s, 1), "2026-11-27T05:00:00Z");
    assert_time(deadline_threshold(cfg->calendar, &s, 2), "2026-11-27T09:00:00Z");
    assert_time(deadline_threshold(cfg->calendar, &s, 3), "2026-11-27T13:00:00Z");
    /* seconds, as the tests' cities use */
    deadline_stage q = {1000, 3000, s_dur("2s"), 0, 0.5};
    assert_int_equal(deadline_threshold(cfg->calendar, &q, 0), 2000);
    assert_int_equal(deadline_threshold(cfg->calendar, &q, 1), 3000);
    assert_int_equal(deadline_threshold(cfg->calendar, &q, 2), 5000);
    hl_config_destroy(&cfg);
}

/* 5wd from Wednesday 2026-09-30 16:00 in Shanghai, across the National Day
 * holiday (10-01 … 10-07) and the make-up Saturday 10-10: due on the fifth
 * following working day (10-13) at 16:00. warn 0.8 is 4 working days' worth
 * of working time: 10-12 16:00. The tier-2 red is 5 more working days after
 * due: 10-20 16:00. */
static void test_working_thresholds(void **state)
{
    hl_config *cfg = s_cfg();
    hl_ms t0 = tt_ms("2026-09-30T16:00:00+08:00");
    hl_duration d = s_dur("5wd");
    deadline_stage s = {t0, hl_cal_add(cfg->calendar, t0, &d, 1.0), d, 0, 0.8};
    assert_time(s.due, "2026-10-13T16:00:00+08:00");
    assert_time(deadline_threshold(cfg->calendar, &s, 0), "2026-10-12T16:00:00+08:00");
    assert_time(deadline_threshold(cfg->calendar, &s, 1), "2026-10-13T16:00:00+08:00");
    assert_time(deadline_threshold(cfg->calendar, &s, 2), "2026-10-20T16:00:00+08:00");
    /* 4 working hours from 11:00, warn 0.5: 2 h of work is 13:30 + 1 h
     * (lunch does not count); due 16:30 */
    hl_ms m = tt_ms("2026-11-26T11:00:00+08:00");
    hl_duration wh = s_dur("4wh");
    deadline_stage w = {m, hl_cal_add(cfg->calendar, m, &wh, 1.0), wh, 0, 0.5};
    assert_time(w.due, "2026-11-26T16:30:00+08:00");
    assert_time(deadline_threshold(cfg->calendar, &w, 0), "2026-11-26T14:30:00+08:00");
    /* a Friday evening dispatch: its clock starts on Monday morning */
    hl_ms fri = tt_ms("2026-11-27T19:00:00+08:00");
    deadline_stage f = {fri, hl_cal_add(cfg->calendar, fri, &wh, 1.0), wh, 0, 0.5};
    assert_time(deadline_threshold(cfg->calendar, &f, 0), "2026-11-30T10:30:00+08:00");
    assert_time(f.due, "2026-11-30T14:00:00+08:00");
    hl_config_destroy(&cfg);
}

/* An extended stage spans its start to the new due, in the stage's kind of
 * time; the thresholds follow that span. */
static void test_extended_thresholds(void **state)
{
    hl_config *cfg = s_cfg();
    /* working: Monday 08:30 to Friday 17:30 is 5 working days (37.5 h);
     * warn 0.8 is 30 h of work: Thursday's end; tier 2 a week later */
    deadline_stage s = {tt_ms("2026-11-23T08:30:00+08:00"), tt_ms("2026-11-27T17:30:00+08:00"),
                        s_dur("2wd"), 1, 0.8};
    assert_time(deadline_threshold(cfg->calendar, &s, 0), "2026-11-26T17:30:00+08:00");
    assert_time(deadline_threshold(cfg->calendar, &s, 1), "2026-11-27T17:30:00+08:00");
    assert_time(deadline_threshold(cfg->calendar, &s, 2), "2026-12-04T17:30:00+08:00");
    /* wall clock: 2 s stretched to 5 s */
    deadline_stage w = {1000, 6000, s_dur("2s"), 1, 0.5};
    assert_int_equal(deadline_threshold(cfg->calendar, &w, 0), 3500);
    assert_int_equal(deadline_threshold(cfg->calendar, &w, 1), 6000);
    assert_int_equal(deadline_threshold(cfg->calendar, &w, 2), 11000);
    assert_int_equal(deadline_threshold(cfg->calendar, &w, 3), 16000);
    /* an unextended stage agrees with the span rule */
    hl_ms t0 = tt_ms("2026-09-30T16:00:00+08:00");
    hl_duration d = s_dur("5wd");
    deadline_stage a = {t0, hl_cal_add(cfg->calendar, t0, &d, 1.0), d, 0, 0.8};
    deadline_stage b = a;
    b.extended = 1;
    for (int k = 0; k < 4; k++)
        assert_int_equal(deadline_threshold(cfg->calendar, &a, k),
                         deadline_threshold(cfg->calendar, &b, k));
    hl_config_destroy(&cfg);
}

/* t > t.a > t.a.g1: a grid lead has two tiers, a town one, the root one
 * red that escalates nowhere */
static void test_tiers(void **state)
{
    hl_config *cfg = s_cfg();
    int t = hl_config_unit(cfg, "t"), a = hl_config_unit(cfg, "t.a"),
        g = hl_config_unit(cfg, "t.a.g1");
    assert_int_equal(deadline_steps(cfg, g), 3);
    assert_int_equal(deadline_steps(cfg, a), 2);
    assert_int_equal(deadline_steps(cfg, t), 2);
    assert_int_equal(deadline_escalation(cfg, g, 0), -1);
    assert_int_equal(deadline_escalation(cfg, g, 1), a);
    assert_int_equal(deadline_escalation(cfg, g, 2), t);
    assert_int_equal(deadline_escalation(cfg, g, 3), -1);
    assert_int_equal(deadline_escalation(cfg, a, 1), t);
    assert_int_equal(deadline_escalation(cfg, t, 1), -1);
    assert_string_equal(deadline_stage_name(DL_SIGN), "sign");
    assert_string_equal(deadline_stage_name(DL_FINISH), "finish");
    hl_config_destroy(&cfg);
}

static void test_next(void **state)
{
    hl_config *cfg = s_cfg();
    deadline_state d = {0};
    d.stage[DL_SIGN] = (deadline_stage){0, 1000, s_dur("1s"), 0, 0.5};
    d.stage[DL_FINISH] = (deadline_stage){0, 4000, s_dur("4s"), 0, 0.5};
    d.nsteps = 3;
    int k = -1;
    assert_int_equal(deadline_next(cfg->calendar, &d, &k), 0); /* nothing open */
    d.open[DL_SIGN] = d.open[DL_FINISH] = 1;
    assert_int_equal(deadline_next(cfg->calendar, &d, &k), 500);
    assert_int_equal(k, DL_SIGN);
    d.step[DL_SIGN] = 2; /* sign's next: tier 2 at 2000, finish's yellow at 2000: sign first */
    assert_int_equal(deadline_next(cfg->calendar, &d, &k), 2000);
    assert_int_equal(k, DL_SIGN);
    d.step[DL_SIGN] = 3; /* sign exhausted */
    assert_int_equal(deadline_next(cfg->calendar, &d, &k), 2000);
    assert_int_equal(k, DL_FINISH);
    d.open[DL_FINISH] = 0;
    assert_int_equal(deadline_next(cfg->calendar, &d, NULL), 0);
    hl_config_destroy(&cfg);
}

/* ---- the engine, in-process ---------------------------------------------------- */

static void s_req(core *c, const char *peer, core_outq *out, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    core_reply rep;
    core_handle(c, peer, strlen(peer), buf, strlen(buf), &rep, out);
    cJSON *r = cJSON_Parse(rep.text);
    if (!cJSON_IsTrue(cJSON_GetObjectItem(r, "ok"))) fail_msg("%s -> %s", buf, rep.text);
    cJSON_Delete(r);
    core_reply_free(&rep);
}

/* 300 tickets whose every threshold passed long ago (a long downtime):
 * worked off in chunks of at most 256 dispatches, each alert once. */
static void test_backlog_in_chunks(void **state)
{
    hl_config *cfg = s_cfg();
    char *err = NULL;
    store *st = store_open(STORE_MEMORY, 2, &err);
    if (!st) fail_msg("%s", err);
    core *c = core_new(cfg, st);
    core_outq out;
    core_outq_init(&out);
    enum { N = 300 };
    assert_int_equal(core_begin(c), 0);
    s_req(c, "op", &out, "{\"v\":1,\"id\":\"h\",\"op\":\"hello\",\"role\":\"operator\"}");
    for (int i = 0; i < N; i++)
        s_req(c, "op", &out,
              "{\"v\":1,\"id\":\"c%d\",\"op\":\"create\",\"ticket\":{\"category\":\"env.noise\","
              "\"description\":\"x\",\"caller\":{\"phone\":\"1380000%04d\"},"
              "\"location\":{\"cell\":\"C-A1\"}}}",
              i, i);
    hl_ms first = 0;
    assert_int_equal(core_commit(c), 0);
    assert_true(core_wakeup(c) > 0);
    assert_int_equal(core_next_deadline(c, &first), 0);
    assert_int_equal(first, core_wakeup(c)); /* the sign yellow of the first ticket */
    core_outq_truncate(&out, 0);

    /* nothing is due yet */
    int more = 1;
    assert_int_equal(core_begin(c), 0);
    assert_int_equal(core_deadlines(c, first - 1, 256, &out, &more), 0);
    assert_int_equal(core_commit(c), 0);
    assert_int_equal(out.n, 0);
    assert_int_equal(more, 0);

    /* thirty days later: led by the town t.a (one tier), each ticket has a
     * yellow and a red in each stage: 4 alerts, each with a feed push */
    hl_ms later = first + 30LL * 24 * 3600 * 1000;
    int rounds = 0, alerts = 0;
    do {
        assert_int_equal(core_begin(c), 0);
        assert_int_equal(core_deadlines(c, later, 256, &out, &more), 0);
        assert_int_equal(core_commit(c), 0);
        int events = 0;
        for (size_t i = 0; i < out.n; i++)
            if (out.items[i].kind == CORE_OUT_EVENT) {
                assert_true(hl_starts_with(out.items[i].topic, "alert."));
                events++;
            }
        assert_true(events <= 256);
        alerts += events;
        core_outq_truncate(&out, 0);
        rounds++;
    } while (more && rounds < 100);
    assert_int_equal(more, 0);
    assert_int_equal(alerts, 4 * N);
    assert_true(rounds >= (4 * N + 255) / 256);
    assert_int_equal(core_next_deadline(c, &first), 0);
    assert_int_equal(first, 0); /* nothing pending any more */
    /* and again: nothing is raised twice */
    assert_int_equal(core_begin(c), 0);
    assert_int_equal(core_deadlines(c, later + 1000, 256, &out, &more), 0);
    assert_int_equal(core_commit(c), 0);
    assert_int_equal(out.n, 0);

    core_outq_free(&out);
    core_destroy(&c);
    store_close(&st);
    hl_config_destroy(&cfg);
}

/* The store keeps an alert once, and counts it on its dispatch. */
static void test_alert_unique(void **state)
{
    char *err = NULL;
    store *st = store_open(STORE_MEMORY, 2, &err);
    if (!st) fail_msg("%s", err);
    assert_int_equal(store_begin(st), 0);
    store_dispatch d = {.ticket_id = 7,
                        .unit = "t.a",
                        .dispatched_at = 1000,
                        .sign_due = 2000,
                        .finish_due = 9000,
                        .next_check = 1500};
    int64_t id = 0;
    assert_int_equal(store_dispatch_open(st, &d, &id), 0);
    store_alert a = {.event_seq = 1,
                     .ticket_id = 7,
                     .dispatch_id = id,
                     .stage = "sign",
                     .level = "red",
                     .tier = 1,
                     .unit = "t.a",
                     .escalated_to = "t",
                     .due = 2000,
                     .time = 2001};
    assert_int_equal(store_alert_add(st, &a), STORE_OK);
    a.event_seq = 2;
    assert_int_equal(store_alert_add(st, &a), STORE_NONE);
    a.epoch = 1; /* after an approved extension: another alert */
    assert_int_equal(store_alert_add(st, &a), STORE_OK);
    store_dispatch got;
    assert_int_equal(store_dispatch_get(st, id, &got), STORE_OK);
    assert_int_equal(got.red, 2);
    assert_int_equal(got.yellow, 0);
    assert_int_equal(got.finish_due0, 9000);
    assert_int_equal(got.next_check, 1500);
    assert_int_equal(store_commit(st), 0);
    store_close(&st);
}

/* The deadline queries walk the partial index on next_check. */
static void test_index_used(void **state)
{
    char path[128];
    snprintf(path, sizeof path, "tests/out/deadline-%d.db", (int)getpid());
    mkdir("tests/out", 0755);
    char *err = NULL;
    store *st = store_open(path, 2, &err);
    if (!st) fail_msg("%s", err);
    store_close(&st);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    const char *q[] = {"EXPLAIN QUERY PLAN SELECT id, ticket_id FROM dispatches WHERE next_check "
                       "IS NOT NULL AND next_check <= 5 ORDER BY next_check LIMIT 256",
                       "EXPLAIN QUERY PLAN SELECT next_check FROM dispatches WHERE next_check IS "
                       "NOT NULL ORDER BY next_check LIMIT 1"};
    for (int i = 0; i < 2; i++) {
        sqlite3_stmt *s;
        assert_int_equal(sqlite3_prepare_v2(db, q[i], -1, &s, NULL), SQLITE_OK);
        int indexed = 0, sorted = 0;
        while (sqlite3_step(s) == SQLITE_ROW) {
            const char *detail = (const char *)sqlite3_column_text(s, 3);
            if (strstr(detail, "dispatches_next_check")) indexed = 1;
            if (strstr(detail, "TEMP B-TREE")) sorted = 1;
        }
        sqlite3_finalize(s);
        assert_true(indexed);
        assert_false(sorted);
    }
    sqlite3_close(db);
    const char *suffix[] = {"", "-wal", "-shm", ".lock"};
    for (int i = 0; i < 4; i++) {
        char p[160];
        snprintf(p, sizeof p, "%s%s", path, suffix[i]);
        unlink(p);
    }
}

/* A database of schema version 1 (before the deadline engine) migrates:
 * the new columns are filled and every dispatch still open is looked at
 * once on the first start (next_check = its dispatch time). */
static void test_migration_from_v1(void **state)
{
    char path[128];
    snprintf(path, sizeof path, "tests/out/deadline-v1-%d.db", (int)getpid());
    mkdir("tests/out", 0755);
    char *err = NULL;
    store *st = store_open(path, 2, &err);
    if (!st) fail_msg("%s", err);
    assert_int_equal(store_begin(st), 0);
    store_dispatch d = {
        .ticket_id = 1, .unit = "t.a", .dispatched_at = 1000, .sign_due = 2000, .finish_due = 9000};
    int64_t open_id, ended_id;
    assert_int_equal(store_dispatch_open(st, &d, &open_id), 0);
    d.ticket_id = 2;
    assert_int_equal(store_dispatch_open(st, &d, &ended_id), 0);
    assert_int_equal(store_dispatch_end(st, ended_id, 1500, "cancelled"), 0);
    assert_int_equal(store_commit(st), 0);
    store_close(&st);
    /* back to version 1 by hand */
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    const char *down = "ALTER TABLE dispatches DROP COLUMN finish_due0;"
                       "ALTER TABLE dispatches DROP COLUMN sign_step;"
                       "ALTER TABLE dispatches DROP COLUMN finish_step;"
                       "ALTER TABLE dispatches DROP COLUMN extensions;"
                       "UPDATE dispatches SET next_check = NULL;"
                       "PRAGMA user_version = 1;";
    char *msg = NULL;
    if (sqlite3_exec(db, down, NULL, NULL, &msg) != SQLITE_OK) fail_msg("%s", msg);
    sqlite3_close(db);

    st = store_open(path, 2, &err);
    if (!st) fail_msg("%s", err);
    store_dispatch got;
    assert_int_equal(store_dispatch_get(st, open_id, &got), STORE_OK);
    assert_int_equal(got.finish_due0, 9000);
    assert_int_equal(got.next_check, 1000);
    assert_int_equal(got.sign_step + got.finish_step + got.extensions, 0);
    assert_int_equal(store_dispatch_get(st, ended_id, &got), STORE_OK);
    assert_int_equal(got.next_check, 0);
    hl_ms first = 0;
    assert_int_equal(store_deadline_first(st, &first), STORE_OK);
    assert_int_equal(first, 1000);
    store_close(&st);
    const char *suffix[] = {"", "-wal", "-shm", ".lock"};
    for (int i = 0; i < 4; i++) {
        char p[160];
        snprintf(p, sizeof p, "%s%s", path, suffix[i]);
        unlink(p);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wall_thresholds),
        cmocka_unit_test(test_working_thresholds),
        cmocka_unit_test(test_extended_thresholds),
        cmocka_unit_test(test_tiers),
        cmocka_unit_test(test_next),
        cmocka_unit_test(test_backlog_in_chunks),
        cmocka_unit_test(test_alert_unique),
        cmocka_unit_test(test_index_used),
        cmocka_unit_test(test_migration_from_v1),
    };
    return cmocka_run_group_tests_name("deadline", tests, NULL, NULL);
}
