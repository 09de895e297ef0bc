/* test_deadline_ext.c — extensions and restarts of the deadline engine: an
 * approved extension moves finish_due and the finish stage's flags fire
 * against the new due (a new epoch); a denied one moves nothing; the caps
 * (extension.max in all from the original finish_due, extension.times
 * approvals) are refused with conflict; a dispatcher killed with kill -9
 * between a yellow and its red raises the red exactly once after restart,
 * and the yellow never again. Also 督办's reach. */
#include "test_deadline.h"

static th_disp s_d;

/* Start again on the same config, database and ports. */
static void s_restart(void)
{
    char cfg[sizeof s_d.config], db[sizeof s_d.db];
    snprintf(cfg, sizeof cfg, "%s", s_d.config);
    snprintf(db, sizeof db, "%s", s_d.db);
    th_disp_start(&s_d, cfg, db, NULL);
}

static int setup(void **state)
{
    dl_start(&s_d);
    return 0;
}

static int teardown(void **state)
{
    if (s_d.pid) assert_int_equal(th_disp_stop(&s_d), 0);
    return 0;
}

/* Two tickets with a 2 s finish stage (yellow at 1 s): one gets 3 s more,
 * approved; the other asks 1 s more, denied. */
static void test_extension_decided(void **state)
{
    dl_log l;
    dl_log_init(&l, s_d.events);
    th_client *op = th_client_new(s_d.front, "operator", NULL);
    th_client *mgr = th_client_new(s_d.front, "manager", NULL);
    th_client *w = th_client_new(s_d.front, "worker", "t.a.g1");
    th_sub *tev = th_sub_new(s_d.events, "ticket.extension_decided.");
    cJSON *a = dl_create(op, "fin", "C-A1", "13900000021");
    cJSON *b = dl_create(op, "fin", "C-A1", "13900000022");
    const char *ano = th_gets(a, "no"), *bno = th_gets(b, "no");
    int64_t a0 = td_ms(th_gets(a, "dispatched_at")), adue = td_ms(th_gets(a, "finish_due"));
    int64_t bdue = td_ms(th_gets(b, "finish_due"));
    assert_int_equal(adue - a0, 2000);
    td_ok(w, "sign", "{\"ticket\":\"%s\"}", ano);
    td_ok(w, "sign", "{\"ticket\":\"%s\"}", bno);
    cJSON *r = th_ok(w, "extend", "{\"ticket\":\"%s\",\"by\":\"3s\",\"reason\":\"等配件\"}", ano);
    assert_int_equal(td_ms(th_gets(r, "ticket.extension.until")), adue + 3000);
    assert_int_equal(td_ms(th_gets(r, "ticket.finish_due")), adue); /* not yet */
    cJSON_Delete(r);
    td_ok(w, "extend", "{\"ticket\":\"%s\",\"by\":\"1s\",\"reason\":\"再等等\"}", bno);

    /* only managers decide */
    th_err(op, "forbidden", "decide", "{\"ticket\":\"%s\",\"approve\":true}", ano);
    r = th_ok(mgr, "decide", "{\"ticket\":\"%s\",\"approve\":true,\"note\":\"同意\"}", ano);
    td_assert_str(r, "ticket.extension.state", "approved");
    int64_t newdue = td_ms(th_gets(r, "ticket.finish_due"));
    assert_int_equal(newdue, adue + 3000);
    cJSON_Delete(r);
    r = th_ok(mgr, "decide", "{\"ticket\":\"%s\",\"approve\":false}", bno);
    td_assert_str(r, "ticket.extension.state", "denied");
    assert_int_equal(td_ms(th_gets(r, "ticket.finish_due")), bdue);
    cJSON_Delete(r);
    /* decided once: there is nothing left to decide */
    td_err_msg(mgr, "conflict", "no extension request", "decide",
               "{\"ticket\":1,\"approve\":true}");
    /* the decisions are events of the lead */
    cJSON *ev = th_sub_wait(tev, "ticket.extension_decided.t.a.g1", 3000);
    assert_non_null(ev);
    td_assert_str(ev, "ticket.no", ano);
    assert_non_null(strstr(th_gets(ev, "note"), "同意"));
    cJSON_Delete(ev);
    ev = th_sub_wait(tev, "ticket.extension_decided.t.a.g1", 3000);
    assert_non_null(ev);
    td_assert_str(ev, "ticket.no", bno);
    assert_non_null(strstr(th_gets(ev, "note"), "denied"));
    cJSON_Delete(ev);
    th_sub_destroy(&tev);

    /* the denied one: yellow at 1 s, red at its unmoved due */
    const cJSON *y = dl_wait(&l, bno, "finish", "yellow", 0, 5000);
    assert_int_equal(td_ms(th_gets(y, "due")), bdue);
    const cJSON *red = dl_wait(&l, bno, "finish", "red", 1, 5000);
    assert_int_equal(td_ms(th_gets(red, "due")), bdue);
    assert_true(td_ms(th_gets(red, "time")) >= bdue);
    td_ok(w, "finish", "{\"ticket\":\"%s\",\"result\":\"已处理\"}", bno);

    /* the approved one: the stage now spans 5 s, so its yellow comes at
     * 2.5 s and its red at the new due; nothing against the old due */
    y = dl_wait(&l, ano, "finish", "yellow", 0, 6000);
    assert_int_equal(td_ms(th_gets(y, "due")), newdue);
    int64_t yt = td_ms(th_gets(y, "time"));
    fprintf(stderr, "# extended yellow raised %lld ms after its threshold\n",
            (long long)(yt - (a0 + 2500)));
    assert_true(yt >= a0 + 2500);
    assert_true(yt - (a0 + 2500) < dl_lag_limit_ms());
    red = dl_wait(&l, ano, "finish", "red", 1, 6000);
    assert_int_equal(td_ms(th_gets(red, "due")), newdue);
    assert_true(td_ms(th_gets(red, "time")) >= newdue);
    td_assert_str(red, "escalated_to", "t.a");
    td_ok(w, "finish", "{\"ticket\":\"%s\",\"result\":\"已处理\"}", ano);
    dl_pump(&l, 200);
    assert_int_equal(dl_count(&l, ano, NULL, NULL, -1, NULL), 2);
    assert_int_equal(dl_count(&l, bno, NULL, NULL, -1, NULL), 2);

    cJSON_Delete(a);
    cJSON_Delete(b);
    th_client_destroy(&w);
    th_client_destroy(&mgr);
    th_client_destroy(&op);
    dl_log_free(&l);
}

/* extension.max 6s in all from the original finish_due; extension.times 2 */
static void test_extension_caps(void **state)
{
    th_client *op = th_client_new(s_d.front, "operator", NULL);
    th_client *mgr = th_client_new(s_d.front, "manager", NULL);
    th_client *w = th_client_new(s_d.front, "worker", "t.a.g1");
    cJSON *t = dl_create(op, "easy", "C-A1", "13900000031");
    const char *no = th_gets(t, "no");
    int64_t due0 = td_ms(th_gets(t, "finish_due"));
    char args[200];

    /* nothing pending: decide is a conflict, and a dispatched ticket
     * cannot ask */
    snprintf(args, sizeof args, "{\"ticket\":\"%s\",\"approve\":true}", no);
    td_err_msg(mgr, "conflict", "is dispatched; decide needs status accepted", "decide", args);
    td_ok(w, "sign", "{\"ticket\":\"%s\"}", no);
    td_err_msg(mgr, "conflict", "no extension request", "decide", args);

    /* beyond 6 s in one go, by duration or by time */
    snprintf(args, sizeof args, "{\"ticket\":\"%s\",\"by\":\"7s\",\"reason\":\"x\"}", no);
    td_err_msg(w, "conflict", "extension.max", "extend", args);
    char until[HL_TIME_LEN];
    hl_time_format(due0 + 6001, until);
    snprintf(args, sizeof args, "{\"ticket\":\"%s\",\"until\":\"%s\",\"reason\":\"x\"}", no, until);
    td_err_msg(w, "conflict", "extension.max", "extend", args);

    /* 3 s approved, then 3 s more (6 s in all: the cap) approved */
    td_ok(w, "extend", "{\"ticket\":\"%s\",\"by\":\"3s\",\"reason\":\"一\"}", no);
    td_ok(mgr, "decide", "{\"ticket\":\"%s\",\"approve\":true}", no);
    /* beyond the cap counted from the original due, not the current one */
    snprintf(args, sizeof args, "{\"ticket\":\"%s\",\"by\":\"4s\",\"reason\":\"x\"}", no);
    td_err_msg(w, "conflict", "extension.max", "extend", args);
    cJSON *r = th_ok(w, "extend", "{\"ticket\":\"%s\",\"by\":\"3s\",\"reason\":\"二\"}", no);
    assert_int_equal(td_ms(th_gets(r, "ticket.extension.until")), due0 + 6000);
    cJSON_Delete(r);
    r = th_ok(mgr, "decide", "{\"ticket\":\"%s\",\"approve\":true}", no);
    assert_int_equal(td_ms(th_gets(r, "ticket.finish_due")), due0 + 6000);
    cJSON_Delete(r);
    /* two approved: the third is refused, however short */
    snprintf(args, sizeof args, "{\"ticket\":\"%s\",\"by\":\"1s\",\"reason\":\"x\"}", no);
    td_err_msg(w, "conflict", "extension.times", "extend", args);

    /* a denied request counts for nothing */
    cJSON *u = dl_create(op, "easy", "C-A1", "13900000032");
    const char *uno = th_gets(u, "no");
    td_ok(w, "sign", "{\"ticket\":\"%s\"}", uno);
    for (int i = 0; i < 3; i++) {
        td_ok(w, "extend", "{\"ticket\":\"%s\",\"by\":\"1s\",\"reason\":\"x\"}", uno);
        td_ok(mgr, "decide", "{\"ticket\":\"%s\",\"approve\":false}", uno);
    }
    td_ok(w, "extend", "{\"ticket\":\"%s\",\"by\":\"6s\",\"reason\":\"x\"}", uno);

    cJSON_Delete(u);
    cJSON_Delete(t);
    th_client_destroy(&w);
    th_client_destroy(&mgr);
    th_client_destroy(&op);
}

/* 督办: counted, logged, published under the lead (so the parent's prefix
 * subscription sees it), a changed item in the lead's feed */
static void test_supervise(void **state)
{
    th_client *op = th_client_new(s_d.front, "operator", NULL);
    th_client *mgr = th_client_new(s_d.front, "manager", NULL);
    th_client *w = th_client_new(s_d.front, "worker", "t.a.g1");
    th_sub *parent = th_sub_new(s_d.events, "ticket.supervised.t.a");
    cJSON *t = dl_create(op, "easy", "C-A1", "13900000051");
    const char *no = th_gets(t, "no");
    cJSON *r = th_ok(w, "inbox", "{\"after\":0}");
    int64_t last = th_geti(r, "last");
    cJSON_Delete(r);
    th_err(op, "forbidden", "supervise", "{\"ticket\":\"%s\",\"note\":\"x\"}", no);
    r = th_ok(mgr, "supervise", "{\"ticket\":\"%s\",\"note\":\"请加快办理\"}", no);
    assert_int_equal(th_geti(r, "ticket.supervise_count"), 1);
    cJSON_Delete(r);
    cJSON *ev = th_sub_wait(parent, "ticket.supervised.", 3000);
    assert_non_null(ev);
    td_assert_str(ev, "_topic", "ticket.supervised.t.a.g1");
    td_assert_str(ev, "note", "请加快办理");
    td_assert_str(ev, "ticket.no", no);
    cJSON_Delete(ev);
    r = th_ok(w, "inbox", "{\"after\":%lld}", (long long)last);
    assert_int_equal(cJSON_GetArraySize(th_get(r, "items")), 1);
    td_assert_str(r, "items.0.kind", "changed");
    assert_int_equal(th_geti(r, "items.0.ticket.supervise_count"), 1);
    cJSON_Delete(r);
    th_sub_destroy(&parent);
    cJSON_Delete(t);
    th_client_destroy(&w);
    th_client_destroy(&mgr);
    th_client_destroy(&op);
}

typedef struct s_alert_count {
    const char *no;
    int n;
} s_alert_count;

static void s_count_alert(const cJSON *e, void *arg)
{
    s_alert_count *a = arg;
    if (hl_starts_with(th_gets(e, "topic"), "alert.") && hl_streq(th_gets(e, "ticket.no"), a->no))
        a->n++;
}

/* The alert events of ticket no in the durable log. */
static int s_logged_alerts(th_client *mgr, const char *no)
{
    s_alert_count a = {no, 0};
    td_each_event(mgr, 0, s_count_alert, &a);
    return a.n;
}

/* kill -9 after the yellow; the red still comes once after the restart */
static void test_kill9_between_yellow_and_red(void **state)
{
    dl_log l;
    dl_log_init(&l, s_d.events);
    th_client *op = th_client_new(s_d.front, "operator", NULL);
    cJSON *t = dl_create(op, "k9", "C-A1", "13900000041");
    const char *no = th_gets(t, "no");
    int64_t due = td_ms(th_gets(t, "sign_due"));
    dl_wait(&l, no, "sign", "yellow", 0, 5000);
    th_client_destroy(&op);
    th_disp_kill9(&s_d);
    int64_t killed = dl_wall_ms();
    assert_true(killed < due); /* the test is only meaningful so */

    /* same ports: the subscriber reconnects by itself */
    s_restart();
    fprintf(stderr, "# restarted %lld ms after the kill, %lld ms before the red\n",
            (long long)(dl_wall_ms() - killed), (long long)(due - dl_wall_ms()));
    th_client *mgr = th_client_new(s_d.front, "manager", NULL);
    /* the subscriber reconnected (it resubscribes when polled): the red
     * comes live, unless the restart took longer than the wait for it */
    if (due > dl_wall_ms() + 500) dl_wait(&l, no, "sign", "red", 1, 5000);
    /* the durable truth: exactly one red, one yellow */
    assert_true(TH_WAIT_UNTIL(s_logged_alerts(mgr, no) >= 2, 8000));
    cJSON *listed[8];
    int n = dl_listed(mgr, no, listed, 8);
    assert_int_equal(n, 2);
    td_assert_str(listed[0], "level", "yellow");
    td_assert_str(listed[1], "level", "red");
    assert_int_equal(th_geti(listed[1], "tier"), 1);
    assert_true(td_ms(th_gets(listed[1], "time")) >= due);
    fprintf(stderr, "# red raised %lld ms after its threshold (across the restart)\n",
            (long long)(td_ms(th_gets(listed[1], "time")) - due));
    for (int i = 0; i < n; i++)
        cJSON_Delete(listed[i]);
    /* and the yellow was not raised again */
    dl_pump(&l, 300);
    assert_int_equal(dl_count(&l, no, "sign", "yellow", 0, NULL), 1);
    assert_true(dl_count(&l, no, "sign", "red", 1, NULL) <= 1);
    assert_int_equal(s_logged_alerts(mgr, no), 2);
    /* signing ends the stage before its tier-2 red (at 8 s) */
    th_client *w = th_client_new(s_d.front, "worker", "t.a.g1");
    td_ok(w, "sign", "{\"ticket\":\"%s\"}", no);
    th_client_destroy(&w);

    /* a clean restart raises nothing again either */
    assert_int_equal(th_disp_stop(&s_d), 0);
    s_restart();
    th_client_destroy(&mgr);
    mgr = th_client_new(s_d.front, "manager", NULL);
    cJSON *r = th_ok(mgr, "get", "{\"ticket\":\"%s\"}", no);
    assert_int_equal(th_geti(r, "ticket.flags.yellow"), 1);
    assert_int_equal(th_geti(r, "ticket.flags.red"), 1);
    td_assert_str(r, "ticket.escalated_to", "t.a");
    cJSON_Delete(r);
    assert_int_equal(s_logged_alerts(mgr, no), 2);

    cJSON_Delete(t);
    th_client_destroy(&mgr);
    dl_log_free(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_extension_decided, setup, teardown),
        cmocka_unit_test_setup_teardown(test_extension_caps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_supervise, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kill9_between_yellow_and_red, setup, teardown),
    };
    return TH_MAIN("deadline_ext", tests);
}
