/* test_worker.c — hotline-worker against the real dispatcher on loopback:
 * assignments reach connected workers (two of one unit) within a second;
 * a restarted worker receives what arrived while it was away; the console
 * driven through pipes signs, notes, finishes, returns, extends and reports,
 * with the dispatcher's state checked after each; usage errors. */
#include "test_worker.h"

#include <unistd.h>

static void test_usage_errors(void **state)
{
    (void)state;
    const char *bin = th_bin("hotline-worker");
    char *out = NULL, *err = NULL;
    const char *a1[] = {bin, "--connect", "tcp://127.0.0.1:1", NULL};
    assert_int_equal(th_run(a1, NULL, &out, &err, 5000), 2);
    assert_non_null(strstr(err, "--unit"));
    free(out);
    free(err);
    const char *a2[] = {bin, "--unit", "t.a", "--connect", "tcp://127.0.0.1:1", "--console",
                        "--auto", "sign=1s", NULL};
    assert_int_equal(th_run(a2, NULL, &out, &err, 5000), 2);
    assert_non_null(strstr(err, "exclude"));
    free(out);
    free(err);
    const char *a3[] = {bin, "--unit", "t.a", "--connect", "tcp://127.0.0.1:1", "--auto",
                        "sign=soon", NULL};
    assert_int_equal(th_run(a3, NULL, &out, &err, 5000), 2);
    assert_non_null(strstr(err, "sign=soon"));
    free(out);
    free(err);
    const char *a4[] = {bin, "--unit", "t.a", "--connect", "nonsense", NULL};
    assert_int_equal(th_run(a4, NULL, &out, &err, 5000), 2);
    assert_non_null(strstr(err, "endpoint"));
    free(out);
    free(err);
    const char *a5[] = {bin, "--version", NULL};
    assert_int_equal(th_run(a5, NULL, &out, &err, 5000), 0);
    assert_non_null(strstr(out, "hotline-worker"));
    free(out);
    free(err);
}

/* A worker of a unit the dispatcher does not know is told so and exits 1. */
static void test_unknown_unit(void **state)
{
    (void)state;
    th_disp d = {0};
    th_disp_start(&d, tw_config(), th_path("unknown.db"), NULL);
    th_proc *w = tw_console(&d, "t.nowhere", th_path("unknown-w.db"));
    size_t pos = 0;
    th_proc_must(w, &pos, "错误 error: the dispatcher refused", 10000);
    th_proc_must(w, &pos, "unknown_unit", 1000);
    assert_int_equal(th_proc_wait_exit(w, 10000), 1);
    th_proc_destroy(&w);
    th_disp_stop(&d);
}

static void test_assigned_within_one_second(void **state)
{
    (void)state;
    th_disp d = {0};
    th_disp_start(&d, tw_config(), th_path("feed.db"), NULL);
    /* two workers of one unit: each sees the unit's feed */
    th_proc *w1 = tw_console(&d, "t.a", th_path("feed-w1.db"));
    th_proc *w2 = tw_console(&d, "t.a", th_path("feed-w2.db"));
    size_t p1 = 0, p2 = 0;
    th_proc_must(w1, &p1, "已连接 link up", 10000);
    th_proc_must(w2, &p2, "已连接 link up", 10000);
    th_client *op = th_client_new(d.front, "operator", NULL);
    tw_ticket other = tw_create(op, "env.noise", "C-B1", 900); /* 乙镇's, not ours */
    for (int i = 0; i < 3; i++) {
        tw_ticket t = tw_create(op, "env.noise", "C-A2", i + 1);
        int64_t t0 = th_mono_ms();
        char want[96];
        snprintf(want, sizeof want, "新工单 new ticket [%d] %s", i + 1, t.no);
        th_proc_must(w1, &p1, want, 1000);
        th_proc_must(w2, &p2, want, 1000);
        assert_true(th_mono_ms() - t0 <= 1000);
    }
    assert_null(strstr(th_proc_out(w1), other.no));
    /* the local store holds them: list shows all three, 40 columns wide */
    th_proc_send(w1, "list");
    th_proc_must(w1, &p1, "共 3 件", 5000);
    const char *out = th_proc_out(w1);
    assert_non_null(strstr(out, "[3]  "));
    assert_non_null(strstr(out, "待签收"));
    tw_quit(&w1, 10000);
    /* end of input works like quit */
    th_proc_close_stdin(w2);
    th_proc_must(w2, &p2, "再见 bye", 10000);
    assert_int_equal(th_proc_wait_exit(w2, 10000), 0);
    th_proc_destroy(&w2);
    th_client_destroy(&op);
    th_disp_stop(&d);
}

static void test_restart_receives_all(void **state)
{
    (void)state;
    th_disp d = {0};
    th_disp_start(&d, tw_config(), th_path("restart.db"), NULL);
    const char *db = th_path("restart-w.db");
    char dbcopy[512];
    snprintf(dbcopy, sizeof dbcopy, "%s", db);
    th_client *op = th_client_new(d.front, "operator", NULL);
    th_proc *w = tw_console(&d, "t.b", dbcopy);
    size_t pos = 0;
    th_proc_must(w, &pos, "已连接 link up", 10000);
    tw_ticket first = tw_create(op, "env.noise", "C-B1", 1);
    char want[96];
    snprintf(want, sizeof want, "新工单 new ticket [1] %s", first.no);
    th_proc_must(w, &pos, want, 5000);
    tw_quit(&w, 10000);

    /* stopped: tickets arrive meanwhile */
    tw_ticket t[8];
    for (int i = 0; i < 4; i++) t[i] = tw_create(op, "env.noise", i % 2 ? "C-B1" : "C-B2", 10 + i);
    w = tw_console(&d, "t.b", dbcopy);
    pos = 0;
    for (int i = 0; i < 4; i++) {
        snprintf(want, sizeof want, "新工单 new ticket [%d] %s", i + 2, t[i].no);
        th_proc_must(w, &pos, want, 5000);
    }
    /* the one seen before is not announced again */
    assert_null(strstr(th_proc_out(w), first.no));

    /* killed outright this time: the store keeps its cursor all the same */
    th_proc_send(w, "status");
    th_proc_must(w, &pos, "pending: 0", 5000);
    assert_int_equal(th_stop_pid(th_proc_pid(w), SIGKILL, 5000), 128 + SIGKILL);
    th_proc_destroy(&w);
    for (int i = 4; i < 8; i++) t[i] = tw_create(op, "env.noise", "C-B2", 10 + i);
    w = tw_console(&d, "t.b", dbcopy);
    pos = 0;
    for (int i = 4; i < 8; i++) {
        snprintf(want, sizeof want, "新工单 new ticket [%d] %s", i + 2, t[i].no);
        th_proc_must(w, &pos, want, 5000);
    }
    th_proc_send(w, "list");
    th_proc_must(w, &pos, "共 9 件", 5000);
    tw_quit(&w, 10000);
    th_client_destroy(&op);
    th_disp_stop(&d);
}

static void test_console_actions(void **state)
{
    (void)state;
    th_disp d = {0};
    th_disp_start(&d, tw_config(), th_path("console.db"), NULL);
    th_client *op = th_client_new(d.front, "operator", NULL);
    th_proc *w = tw_console(&d, "t.a", th_path("console-w.db"));
    size_t pos = 0;
    th_proc_must(w, &pos, "已连接 link up", 10000);
    tw_ticket a = tw_create(op, "env.noise", "C-A2", 1);
    tw_ticket b = tw_create(op, "env.noise", "C-A2", 2);
    tw_ticket c = tw_create(op, "env.noise", "C-A2", 3);
    char want[128];
    snprintf(want, sizeof want, "[3] %s", c.no);
    th_proc_must(w, &pos, want, 5000);

    /* sign, by the short index, with a note */
    snprintf(want, sizeof want, "已完成 done: sign %s", a.no);
    tw_cmd(w, &pos, want, "sign 1 已到现场");
    cJSON *g = tw_get(op, a.id);
    assert_string_equal(th_gets(g, "ticket.status"), "accepted");
    assert_int_equal(tw_events(g, "accepted"), 1);
    assert_string_equal(tw_event_note(g, "accepted"), "已到现场");
    cJSON_Delete(g);

    /* note */
    snprintf(want, sizeof want, "已完成 done: note %s", a.no);
    tw_cmd(w, &pos, want, "note 1 正在协调施工单位");
    g = tw_get(op, a.id);
    assert_int_equal(tw_events(g, "noted"), 1);
    assert_string_equal(tw_event_note(g, "noted"), "正在协调施工单位");
    cJSON_Delete(g);

    /* finish, naming the ticket by its number */
    snprintf(want, sizeof want, "已完成 done: finish %s", a.no);
    tw_cmd(w, &pos, want, "finish %s 已协调施工单位夜间停工", a.no);
    g = tw_get(op, a.id);
    assert_string_equal(th_gets(g, "ticket.status"), "resolved");
    assert_string_equal(th_gets(g, "ticket.result"), "已协调施工单位夜间停工");
    assert_int_equal(tw_events(g, "resolved"), 1);
    cJSON_Delete(g);

    /* return */
    snprintf(want, sizeof want, "已完成 done: return %s", b.no);
    tw_cmd(w, &pos, want, "return 2 不属于本镇管辖，请改派");
    g = tw_get(op, b.id);
    assert_string_equal(th_gets(g, "ticket.status"), "triage");
    assert_string_equal(th_gets(g, "ticket.return_reason"), "不属于本镇管辖，请改派");
    cJSON_Delete(g);

    /* sign by #id, then ask for an extension */
    snprintf(want, sizeof want, "已完成 done: sign %s", c.no);
    tw_cmd(w, &pos, want, "sign #%lld", (long long)c.id);
    snprintf(want, sizeof want, "已完成 done: extend %s", c.no);
    tw_cmd(w, &pos, want, "extend 3 2d 需要协调多个部门");
    g = tw_get(op, c.id);
    assert_string_equal(th_gets(g, "ticket.status"), "accepted");
    assert_string_equal(th_gets(g, "ticket.extension.state"), "pending");
    assert_string_equal(th_gets(g, "ticket.extension.reason"), "需要协调多个部门");
    cJSON_Delete(g);

    /* show and list reflect the store */
    tw_cmd(w, &pos, "结果 已协调施工单位夜间停工", "show 1");
    th_proc_send(w, "list");
    snprintf(want, sizeof want, "[3]  %s 办理中", c.no);
    th_proc_must(w, &pos, want, 5000);
    th_proc_must(w, &pos, "共 1 件", 5000);

    /* mistakes say what to do */
    tw_cmd(w, &pos, "错误 error: no ticket 99 here; type list", "finish 99 好了");
    tw_cmd(w, &pos, "sign needs a ticket", "sign");
    tw_cmd(w, &pos, "finish needs a ticket", "finish 3");
    tw_cmd(w, &pos, "\"frobnicate\"; type help", "frobnicate 1");
    tw_cmd(w, &pos, "duration (4h, 2d, 3wd)", "extend 3 soon 理由");
    tw_cmd(w, &pos, "sign N [note]", "help");

    /* a refused action is shown with the reason and kept */
    snprintf(want, sizeof want, "被拒绝 refused: sign %s", b.no);
    tw_cmd(w, &pos, want, "sign 2");
    th_proc_must(w, &pos, "已保留 kept", 1000);

    /* report what the patrol found: a ticket of channel grid */
    tw_cmd(w, &pos, "已完成 done: report → ", "report env.litter C-A1 村口垃圾堆积，影响通行");
    char no[40] = {0};
    sscanf(th_proc_out(w) + pos, "%39s", no);
    cJSON *r = th_ok(op, "get", "{\"ticket\":\"%s\"}", no);
    assert_string_equal(th_gets(r, "ticket.channel"), "grid");
    assert_string_equal(th_gets(r, "ticket.lead"), "t.a.g1");
    cJSON_Delete(r);
    /* the same, asked step by step */
    th_proc_send(w, "report");
    th_proc_send(w, "env.litter");
    th_proc_send(w, "-");
    tw_cmd(w, &pos, "已完成 done: report → ", "路边垃圾");

    tw_cmd(w, &pos, "待发送 pending: 0", "status");
    th_proc_must(w, &pos, "被拒绝 refused: 1", 1000);
    snprintf(want, sizeof want, "! sign %s", b.no);
    th_proc_must(w, &pos, want, 1000);
    tw_quit(&w, 10000);
    th_client_destroy(&op);
    th_disp_stop(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage_errors),
        cmocka_unit_test(test_unknown_unit),
        cmocka_unit_test(test_assigned_within_one_second),
        cmocka_unit_test(test_restart_receives_all),
        cmocka_unit_test(test_console_actions),
    };
    return TH_MAIN("worker", tests);
}
