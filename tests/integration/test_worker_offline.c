/* test_worker_offline.c — the worker without its dispatcher: actions taken
 * at the console while the dispatcher is down are kept as pending, are
 * applied exactly once when it returns, and one the dispatcher refuses (the
 * ticket was re-dispatched meanwhile) is reported and kept; pending actions
 * survive a restart of the worker; an action whose reply was lost is resent
 * with the same idem and applied once, and the result the dispatcher
 * replays for it does not hide what happened to the ticket since. */
#include "test_dispatcher.h"
#include "test_worker.h"

#include <signal.h>
#include <sqlite3.h>
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

/* A finish whose answer was lost, on a dispatcher of its own. */
typedef struct lost {
    th_disp d;
    th_client *op; /* an operator */
    char wdb[512]; /* the worker's store (the worker is stopped) */
    char idem[64]; /* the finish's */
    tw_ticket a;
} lost;

/* The dispatcher applied the finish (the worker's outbox holds it as sent,
 * unanswered, under x->idem), and then the hotline called the citizen
 * back, who was unsatisfied, so the ticket came back to the unit
 * (reopened). name names the files. */
static void s_lost_finish(lost *x, const char *name)
{
    char db[128];
    snprintf(db, sizeof db, "%s.db", name);
    memset(x, 0, sizeof *x);
    th_disp_start(&x->d, tw_config(), th_path(db), NULL);
    x->op = th_client_new(x->d.front, "operator", NULL);
    snprintf(db, sizeof db, "%s-w.db", name);
    snprintf(x->wdb, sizeof x->wdb, "%s", th_path(db));
    snprintf(x->idem, sizeof x->idem, "t.a-%s-1", name);
    th_disp *d = &x->d;
    th_client *op = x->op;
    const char *wdb = x->wdb, *idem = x->idem;
    th_proc *w = tw_console(d, "t.a", wdb);
    size_t pos = 0;
    th_proc_must(w, &pos, "已连接 link up", 10000);
    tw_ticket a = tw_create(op, "env.noise", "C-A2", 1);
    char want[128];
    snprintf(want, sizeof want, "[1] %s", a.no);
    th_proc_must(w, &pos, want, 5000);
    th_proc_send(w, "sign 1");
    snprintf(want, sizeof want, "已完成 done: sign %s", a.no);
    th_proc_must(w, &pos, want, 10000);
    tw_quit(&w, 10000);

    char args[256], sql[1024];
    snprintf(args, sizeof args, "{\"ticket\":%lld,\"result\":\"已处理完毕\"}", (long long)a.id);
    snprintf(sql, sizeof sql,
             "INSERT INTO outbox(op, ticket, ref, args, idem, created_at, state) "
             "VALUES ('finish', %lld, '%s', '%s', '%s', 1, 'sent')",
             (long long)a.id, a.no, args, idem);
    sqlite3 *h;
    assert_int_equal(sqlite3_open(wdb, &h), SQLITE_OK);
    assert_int_equal(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(h);
    th_client *wk = th_client_new(d->front, "worker", "t.a");
    cJSON *r = th_ok(wk, "finish", "{\"ticket\":%lld,\"result\":\"已处理完毕\",\"idem\":\"%s\"}",
                     (long long)a.id, idem);
    cJSON_Delete(r);
    th_client_destroy(&wk);
    r = th_ok(op, "callback", "{\"ticket\":%lld,\"result\":\"unsatisfied\"}", (long long)a.id);
    td_assert_str(r, "ticket.status", "dispatched");
    cJSON_Delete(r);
    x->a = a;
}

static void s_lost_end(lost *x)
{
    th_client_destroy(&x->op);
    th_disp_stop(&x->d);
}

/* The resent finish's state in the worker's outbox, and the worker's copy
 * of the ticket (status, lead). */
static void s_worker_sees(const char *wdb, const char *idem, int64_t id, const char *state,
                          const char *status, const char *lead)
{
    sqlite3 *h;
    assert_int_equal(sqlite3_open(wdb, &h), SQLITE_OK);
    sqlite3_stmt *q;
    assert_int_equal(sqlite3_prepare_v2(h,
                                        "SELECT (SELECT state FROM outbox WHERE idem = ?1),"
                                        " (SELECT status FROM tickets WHERE id = ?2),"
                                        " (SELECT lead FROM tickets WHERE id = ?2)",
                                        -1, &q, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(q, 1, idem, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 2, id);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(q, 0), state);
    assert_string_equal((const char *)sqlite3_column_text(q, 1), status);
    assert_string_equal((const char *)sqlite3_column_text(q, 2), lead);
    sqlite3_finalize(q);
    sqlite3_close(h);
}

/* The worker, started again, resends the finish with its idem and gets
 * the stored first result: the ticket as resolved. That copy must not
 * replace the reopened one the inbox brought, or the ticket would look
 * resolved here and nobody would sign it again. An auto worker signs and
 * finishes it a second time. */
static void test_replayed_answer_not_stored(void **state)
{
    (void)state;
    lost x;
    s_lost_finish(&x, "replay");
    th_client *op = x.op;
    tw_ticket a = x.a;

    pid_t pid = tw_auto(&x.d, "t.a", x.wdb, "sign=0,finish=0,return=0,seed=1");
    int resolved = 0;
    for (int64_t end = th_mono_ms() + 15000; th_mono_ms() < end && resolved < 2;) {
        cJSON *g = tw_get(op, a.id);
        if (strcmp(th_gets(g, "ticket.status"), "resolved") == 0)
            resolved = tw_events(g, "resolved");
        cJSON_Delete(g);
        if (resolved < 2) usleep(50000);
    }
    assert_int_equal(th_stop_pid(pid, SIGTERM, 10000), 0);
    assert_int_equal(resolved, 2);
    cJSON *g = tw_get(op, a.id);
    assert_int_equal(tw_events(g, "reopened"), 1);
    assert_int_equal(tw_events(g, "accepted"), 2);
    cJSON_Delete(g);
    /* the resent finish is done, and the worker's copy is the ticket's state */
    s_worker_sees(x.wdb, x.idem, a.id, "done", "resolved", "t.a");
    s_lost_end(&x);
}

/* The same, but the hotline then gave the reopened ticket to another unit:
 * the worker can no longer read it (forbidden, while its session stands),
 * so the finish counts as done with nothing stored from the replay, and
 * the inbox's copy (led elsewhere) is what the worker keeps. */
static void test_replayed_answer_ticket_gone(void **state)
{
    (void)state;
    lost x;
    s_lost_finish(&x, "gone");
    th_client *op = x.op;
    tw_ticket a = x.a;
    cJSON *r = th_ok(op, "dispatch", "{\"ticket\":%lld,\"unit\":\"t.b\",\"note\":\"改派乙镇\"}",
                     (long long)a.id);
    cJSON_Delete(r);

    th_proc *w = tw_console(&x.d, "t.a", x.wdb);
    size_t pos = 0, p0;
    th_proc_must(w, &pos, "已连接 link up", 10000);
    char want[128];
    p0 = pos;
    snprintf(want, sizeof want, "已完成 done: finish %s", a.no);
    th_proc_must(w, &p0, want, 10000);
    tw_cmd(w, &pos, "待发送 pending: 0", "status");
    tw_quit(&w, 10000);
    s_worker_sees(x.wdb, x.idem, a.id, "done", "dispatched", "t.b");
    cJSON *g = tw_get(op, a.id);
    assert_int_equal(tw_events(g, "resolved"), 1);
    cJSON_Delete(g);
    s_lost_end(&x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_offline_actions_applied_once),
        cmocka_unit_test(test_pending_survive_restart),
        cmocka_unit_test(test_lost_reply_resent_once),
        cmocka_unit_test(test_replayed_answer_not_stored),
        cmocka_unit_test(test_replayed_answer_ticket_gone),
    };
    return TH_MAIN("worker_offline", tests);
}
