/* test_worker_offline.c — the worker without its dispatcher: actions taken
 * at the console while the dispatcher is down are kept as pending, are
 * applied exactly once when it returns, and one the dispatcher refuses (the
 * ticket was re-dispatched meanwhile) is reported and kept; pending actions
 * survive a restart of the worker; an action whose reply was lost is resent
 * with the same idem and applied once. */
#include "test_worker.h"

#include <unistd.h>

static void test_offline_actions_applied_once(void **state)
{
    (void)state;
    th_disp d = {0};
    const char *dbp = th_path("off.db");
    char db[512];
    snprintf(db, sizeof db, "%s", dbp);
    th_disp_start(&d, tw_config(), db, NULL);
    th_client *op = th_client_new(d.front, "operator", NULL);
    const char *wdbp = th_path("off-w.db");
    char wdb[512];
    snprintf(wdb, sizeof wdb, "%s", wdbp);
    th_proc *w = tw_console(&d, "t.a", wdb);
    size_t pos = 0;
    th_proc_must(w, &pos, "已连接 link up", 10000);
    tw_ticket t[4];
    for (int i = 0; i < 4; i++) t[i] = tw_create(op, "env.noise", "C-A2", i + 1);
    char want[128];
    snprintf(want, sizeof want, "[4] %s", t[3].no);
    th_proc_must(w, &pos, want, 5000);
    th_client_destroy(&op);

    /* the dispatcher goes away */
    assert_int_equal(th_disp_stop(&d), 0);
    th_proc_must(w, &pos, "连接断开 link down", 5000);
    tw_cmd(w, &pos, "(offline", "sign 1 已到现场");
    tw_cmd(w, &pos, "(offline", "note 2 明天上午处理");
    tw_cmd(w, &pos, "(offline", "sign 3");
    tw_cmd(w, &pos, "(offline", "return 4 不属于本镇管辖");
    tw_cmd(w, &pos, "连接 link: down", "status");
    th_proc_must(w, &pos, "待发送 pending: 4", 1000);
    snprintf(want, sizeof want, "* pending sign %s", t[0].no);
    th_proc_must(w, &pos, want, 1000);
    /* list marks the tickets with an action not yet confirmed */
    th_proc_send(w, "list");
    snprintf(want, sizeof want, "[1]  %s 待签收 * ", t[0].no);
    th_proc_must(w, &pos, want, 5000);

    /* Hold the worker while the dispatcher comes back and the hotline
     * re-dispatches ticket 3 elsewhere: the worker's sign for it, sent
     * afterwards, must be refused. */
    pid_t wpid = th_proc_pid(w);
    assert_int_equal(kill(wpid, SIGSTOP), 0);
    th_disp_start(&d, tw_config(), db, NULL);
    op = th_client_new(d.front, "operator", NULL);
    cJSON *r = th_ok(op, "dispatch", "{\"ticket\":%lld,\"unit\":\"t.b\",\"note\":\"改派乙镇\"}",
                     (long long)t[2].id);
    cJSON_Delete(r);
    assert_int_equal(kill(wpid, SIGCONT), 0);

    th_proc_must(w, &pos, "已连接 link up", 15000);
    size_t p0 = pos;
    snprintf(want, sizeof want, "已完成 done: sign %s", t[0].no);
    th_proc_must(w, &p0, want, 10000);
    p0 = pos;
    snprintf(want, sizeof want, "已完成 done: note %s", t[1].no);
    th_proc_must(w, &p0, want, 10000);
    p0 = pos;
    snprintf(want, sizeof want, "已完成 done: return %s", t[3].no);
    th_proc_must(w, &p0, want, 10000);
    p0 = pos;
    snprintf(want, sizeof want, "被拒绝 refused: sign %s", t[2].no);
    th_proc_must(w, &p0, want, 10000);
    th_proc_must(w, &p0, "forbidden", 1000);
    th_proc_must(w, &p0, "已保留 kept", 1000);
    p0 = pos;
    snprintf(want, sizeof want, "撤回 revoked [3] %s", t[2].no);
    th_proc_must(w, &p0, want, 10000);

    /* the dispatcher's history: each applied exactly once */
    cJSON *g = tw_get(op, t[0].id);
    assert_string_equal(th_gets(g, "ticket.status"), "accepted");
    assert_int_equal(tw_events(g, "accepted"), 1);
    cJSON_Delete(g);
    g = tw_get(op, t[1].id);
    assert_int_equal(tw_events(g, "noted"), 1);
    assert_string_equal(tw_event_note(g, "noted"), "明天上午处理");
    cJSON_Delete(g);
    g = tw_get(op, t[2].id);
    assert_string_equal(th_gets(g, "ticket.status"), "dispatched");
    assert_string_equal(th_gets(g, "ticket.lead"), "t.b");
    assert_int_equal(tw_events(g, "accepted"), 0);
    cJSON_Delete(g);
    g = tw_get(op, t[3].id);
    assert_string_equal(th_gets(g, "ticket.status"), "triage");
    assert_int_equal(tw_events(g, "returned"), 1);
    cJSON_Delete(g);

    tw_cmd(w, &pos, "待发送 pending: 0", "status");
    th_proc_must(w, &pos, "被拒绝 refused: 1", 1000);
    snprintf(want, sizeof want, "! sign %s", t[2].no);
    th_proc_must(w, &pos, want, 1000);
    tw_quit(&w, 10000);

    /* the refusal is kept across a restart */
    w = tw_console(&d, "t.a", wdb);
    pos = 0;
    th_proc_must(w, &pos, "已连接 link up", 10000);
    tw_cmd(w, &pos, "被拒绝 refused: 1", "status");
    tw_quit(&w, 10000);
    th_client_destroy(&op);
    th_disp_stop(&d);
}

static void test_pending_survive_restart(void **state)
{
    (void)state;
    th_disp d = {0};
    char db[512], wdb[512];
    snprintf(db, sizeof db, "%s", th_path("surv.db"));
    snprintf(wdb, sizeof wdb, "%s", th_path("surv-w.db"));
    th_disp_start(&d, tw_config(), db, NULL);
    th_client *op = th_client_new(d.front, "operator", NULL);
    th_proc *w = tw_console(&d, "t.a", wdb);
    size_t pos = 0;
    th_proc_must(w, &pos, "已连接 link up", 10000);
    tw_ticket a = tw_create(op, "env.noise", "C-A2", 1);
    tw_ticket b = tw_create(op, "env.noise", "C-A2", 2);
    char want[128];
    snprintf(want, sizeof want, "[2] %s", b.no);
    th_proc_must(w, &pos, want, 5000);
    th_client_destroy(&op);
    th_disp_stop(&d);
    th_proc_must(w, &pos, "连接断开 link down", 5000);
    tw_cmd(w, &pos, "(offline", "sign 1");
    tw_cmd(w, &pos, "(offline", "note 2 等待材料");
    /* quit while offline: nothing to wait for, the actions stay */
    th_proc_send(w, "quit");
    th_proc_must(w, &pos, "再见 bye: 2 action(s) kept", 5000);
    assert_int_equal(th_proc_wait_exit(w, 5000), 0);
    th_proc_destroy(&w);

    th_disp_start(&d, tw_config(), db, NULL);
    op = th_client_new(d.front, "operator", NULL);
    w = tw_console(&d, "t.a", wdb);
    pos = 0;
    size_t p0 = 0;
    snprintf(want, sizeof want, "已完成 done: sign %s", a.no);
    th_proc_must(w, &p0, want, 10000);
    p0 = 0;
    snprintf(want, sizeof want, "已完成 done: note %s", b.no);
    th_proc_must(w, &p0, want, 10000);
    cJSON *g = tw_get(op, a.id);
    assert_int_equal(tw_events(g, "accepted"), 1);
    cJSON_Delete(g);
    g = tw_get(op, b.id);
    assert_int_equal(tw_events(g, "noted"), 1);
    cJSON_Delete(g);
    tw_quit(&w, 10000);
    th_client_destroy(&op);
    th_disp_stop(&d);
}

/* The dispatcher freezes with an action in flight: the worker gives the
 * link up after three heartbeats, reconnects, and resends with the same
 * idem; whether or not the first copy was applied, the history has one. */
static void test_lost_reply_resent_once(void **state)
{
    (void)state;
    th_disp d = {0};
    th_disp_start(&d, tw_config(), th_path("lost.db"), NULL);
    th_client *op = th_client_new(d.front, "operator", NULL);
    th_proc *w = tw_console(&d, "t.a", th_path("lost-w.db"));
    size_t pos = 0;
    th_proc_must(w, &pos, "已连接 link up", 10000);
    tw_ticket a = tw_create(op, "env.noise", "C-A2", 1);
    char want[128];
    snprintf(want, sizeof want, "[1] %s", a.no);
    th_proc_must(w, &pos, want, 5000);

    assert_int_equal(kill(d.pid, SIGSTOP), 0);
    th_proc_send(w, "note 1 这条备注只应出现一次");
    th_proc_send(w, "sign 1");
    th_proc_must(w, &pos, "连接断开 link down", 10000);
    tw_cmd(w, &pos, "待发送 pending: 2", "status");
    assert_int_equal(kill(d.pid, SIGCONT), 0);
    size_t p0 = pos;
    snprintf(want, sizeof want, "已完成 done: note %s", a.no);
    th_proc_must(w, &p0, want, 20000);
    p0 = pos;
    snprintf(want, sizeof want, "已完成 done: sign %s", a.no);
    th_proc_must(w, &p0, want, 20000);
    cJSON *g = tw_get(op, a.id);
    assert_int_equal(tw_events(g, "noted"), 1);
    assert_int_equal(tw_events(g, "accepted"), 1);
    cJSON_Delete(g);
    tw_quit(&w, 10000);
    th_client_destroy(&op);
    th_disp_stop(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_offline_actions_applied_once),
        cmocka_unit_test(test_pending_survive_restart),
        cmocka_unit_test(test_lost_reply_resent_once),
    };
    return TH_MAIN("worker_offline", tests);
}
