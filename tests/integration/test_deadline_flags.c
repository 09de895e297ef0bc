/* test_deadline_flags.c — the 红黄旗 of a real dispatcher with SLAs of a
 * second or two: yellow, red and a tier-2 red, each exactly once, on the
 * events socket and in `alerts`, escalating up the parent chain and no
 * further than the root; the lag of each alert after its threshold; a
 * ticket signed before its yellow raises no sign alert, nor does one that
 * left the lead's hands. */
#include "test_deadline.h"

/* Exactly these members, in this order. */
static void s_assert_keys(const cJSON *o, const char *const *keys, int n)
{
    const cJSON *it = o ? o->child : NULL;
    for (int i = 0; i < n; i++, it = it ? it->next : NULL) {
        if (!it || strcmp(it->string, keys[i]) != 0)
            fail_msg("member %d: expected \"%s\", got \"%s\"", i, keys[i],
                     it ? it->string : "(end)");
    }
    if (it && strcmp(it->string, "_topic") != 0) fail_msg("unexpected member \"%s\"", it->string);
}

static void s_check_alert(const dl_log *l, const cJSON *a, const char *no, const char *level,
                          int tier, const char *escalated_to, int64_t due, int64_t threshold,
                          const char *what)
{
    static const char *const keys[] = {"seq",  "time",         "level", "stage", "tier",
                                       "unit", "escalated_to", "due",   "ticket"};
    static const char *const tkeys[] = {"id", "no", "status", "lead", "category", "urgency"};
    s_assert_keys(a, keys, 9);
    s_assert_keys(th_get(a, "ticket"), tkeys, 6);
    char topic[64];
    snprintf(topic, sizeof topic, "alert.%s.t.a.g1", level);
    td_assert_str(a, "_topic", topic);
    td_assert_str(a, "level", level);
    td_assert_str(a, "stage", "sign");
    td_assert_str(a, "unit", "t.a.g1");
    td_assert_str(a, "escalated_to", escalated_to);
    td_assert_str(a, "ticket.no", no);
    td_assert_str(a, "ticket.lead", "t.a.g1");
    td_assert_str(a, "ticket.status", "dispatched");
    assert_int_equal(th_geti(a, "tier"), tier);
    assert_int_equal(td_ms(th_gets(a, "due")), due);
    /* never early; late by less than the bound (generous under ASan) */
    int64_t raised = td_ms(th_gets(a, "time"));
    int64_t seen = l->seen_at[dl_index(l, a)];
    fprintf(stderr, "# %s: raised %lld ms and received %lld ms after its threshold\n", what,
            (long long)(raised - threshold), (long long)(seen - threshold));
    assert_true(raised >= threshold);
    assert_true(raised - threshold < dl_lag_limit_ms());
    assert_true(seen - threshold < dl_lag_limit_ms());
}

/* yellow at half the sign time, red at due escalating to the parent, a
 * second red a stage-length later escalating to the root, then nothing */
static void test_escalation(void **state)
{
    dl_log l;
    dl_log_init(&l, dl_d.events);
    th_client *op = th_client_new(dl_d.front, "operator", NULL);
    th_client *mgr = th_client_new(dl_d.front, "manager", NULL);
    th_client *w = th_client_new(dl_d.front, "worker", "t.a.g1");
    cJSON *t = dl_create(op, "esc", "C-A1", "13900000001");
    const char *no = th_gets(t, "no");
    int64_t t0 = td_ms(th_gets(t, "dispatched_at"));
    int64_t due = td_ms(th_gets(t, "sign_due"));
    assert_int_equal(due - t0, 1000);

    const cJSON *y = dl_wait(&l, no, "sign", "yellow", 0, 5000);
    s_check_alert(&l, y, no, "yellow", 0, NULL, due, t0 + 500, "yellow");
    const cJSON *r1 = dl_wait(&l, no, "sign", "red", 1, 5000);
    s_check_alert(&l, r1, no, "red", 1, "t.a", due, due, "red tier 1");
    const cJSON *r2 = dl_wait(&l, no, "sign", "red", 2, 5000);
    s_check_alert(&l, r2, no, "red", 2, "t", due, due + 1000, "red tier 2");
    assert_true(th_geti(y, "seq") < th_geti(r1, "seq"));
    assert_true(th_geti(r1, "seq") < th_geti(r2, "seq"));
    /* t is the root: no tier 3 at due + 2 s (wait past it, then some) */
    dl_pump(&l, (int)(due + 2000 + 700 - dl_wall_ms()));
    assert_int_equal(dl_count(&l, no, NULL, NULL, -1, NULL), 3);

    /* the same three in `alerts`, as published */
    cJSON *listed[8];
    int n = dl_listed(mgr, no, listed, 8);
    assert_int_equal(n, 3);
    const cJSON *seen[] = {y, r1, r2};
    for (int i = 0; i < 3; i++) {
        cJSON *pub = cJSON_Duplicate(seen[i], 1);
        cJSON_DeleteItemFromObject(pub, "_topic");
        if (!cJSON_Compare(pub, listed[i], 1)) {
            char *a = cJSON_PrintUnformatted(pub), *b = cJSON_PrintUnformatted(listed[i]);
            fail_msg("alert %d differs:\n published %s\n listed    %s", i, a, b);
        }
        cJSON_Delete(pub);
        cJSON_Delete(listed[i]);
    }
    /* filters: by unit (the lead) and level */
    cJSON *r = th_ok(mgr, "alerts", "{\"unit\":\"t.a.g1\",\"level\":\"red\"}");
    assert_int_equal(cJSON_GetArraySize(th_get(r, "alerts")), 2);
    td_assert_str(r, "alerts.0.escalated_to", "t"); /* newest first */
    cJSON_Delete(r);
    r = th_ok(mgr, "alerts", "{\"unit\":\"t.a\"}");
    assert_int_equal(cJSON_GetArraySize(th_get(r, "alerts")), 0);
    cJSON_Delete(r);
    r = th_ok(mgr, "alerts", "{\"level\":\"red\",\"limit\":1}");
    assert_int_equal(cJSON_GetArraySize(th_get(r, "alerts")), 1);
    int64_t next = th_geti(r, "next");
    assert_true(next > 0);
    cJSON_Delete(r);
    r = th_ok(mgr, "alerts", "{\"level\":\"red\",\"limit\":1,\"after\":%lld}", (long long)next);
    td_assert_str(r, "alerts.0.escalated_to", "t.a");
    assert_true(cJSON_IsNull(th_get(r, "next")));
    cJSON_Delete(r);

    /* counted on the ticket, which shows the highest unit reached */
    r = th_ok(op, "get", "{\"ticket\":\"%s\"}", no);
    assert_int_equal(th_geti(r, "ticket.flags.yellow"), 1);
    assert_int_equal(th_geti(r, "ticket.flags.red"), 2);
    td_assert_str(r, "ticket.escalated_to", "t");
    /* and in its history, by the system */
    int flags = 0;
    const cJSON *ev;
    cJSON_ArrayForEach(ev, th_get(r, "ticket.events"))
    {
        const char *kind = th_gets(ev, "kind");
        if (!hl_streq(kind, "yellow") && !hl_streq(kind, "red")) continue;
        td_assert_str(ev, "actor", "system");
        flags++;
    }
    assert_int_equal(flags, 3);
    cJSON_Delete(r);
    r = th_ok(op, "list", "{\"flag\":\"red\"}");
    td_assert_str(r, "tickets.0.no", no);
    cJSON_Delete(r);

    /* the lead's workers learn of each from their feed */
    r = th_ok(w, "inbox", "{\"after\":0}");
    int changed = 0;
    cJSON_ArrayForEach(ev, th_get(r, "items")) changed += hl_streq(th_gets(ev, "kind"), "changed");
    assert_int_equal(changed, 3);
    cJSON_Delete(r);

    /* signing now ends the sign stage: no more alerts (finish is 60 s) */
    td_ok(w, "sign", "{\"ticket\":\"%s\"}", no);
    cJSON_Delete(t);
    th_client_destroy(&w);
    th_client_destroy(&mgr);
    th_client_destroy(&op);
    dl_log_free(&l);
}

/* Signed before its yellow: the sign stage raises nothing. A ticket that
 * left the lead's hands (cancelled, returned) raises nothing either. A
 * control ticket created last shows when the alerts would have come. */
static void test_stage_done(void **state)
{
    dl_log l;
    dl_log_init(&l, dl_d.events);
    th_client *op = th_client_new(dl_d.front, "operator", NULL);
    th_client *w = th_client_new(dl_d.front, "worker", "t.a.g1");
    cJSON *signd = dl_create(op, "slow", "C-A1", "13900000011");
    cJSON *cancelled = dl_create(op, "slow", "C-A1", "13900000012");
    cJSON *returned = dl_create(op, "slow", "C-A1", "13900000013");
    cJSON *control = dl_create(op, "slow", "C-A1", "13900000014");
    td_ok(w, "sign", "{\"ticket\":\"%s\"}", th_gets(signd, "no"));
    td_ok(op, "cancel", "{\"ticket\":\"%s\",\"reason\":\"撤诉\"}", th_gets(cancelled, "no"));
    td_ok(w, "return", "{\"ticket\":\"%s\",\"reason\":\"非本辖区\"}", th_gets(returned, "no"));

    /* the control's yellow (1 s) and red (2 s) come; by then the others
     * would have raised theirs */
    const char *cno = th_gets(control, "no");
    dl_wait(&l, cno, "sign", "yellow", 0, 5000);
    dl_wait(&l, cno, "sign", "red", 1, 5000);
    dl_pump(&l, 300);
    assert_int_equal(dl_count(&l, th_gets(signd, "no"), NULL, NULL, -1, NULL), 0);
    assert_int_equal(dl_count(&l, th_gets(cancelled, "no"), NULL, NULL, -1, NULL), 0);
    assert_int_equal(dl_count(&l, th_gets(returned, "no"), NULL, NULL, -1, NULL), 0);
    cJSON *r = th_ok(op, "get", "{\"ticket\":\"%s\"}", th_gets(signd, "no"));
    assert_int_equal(th_geti(r, "ticket.flags.yellow"), 0);
    assert_int_equal(th_geti(r, "ticket.flags.red"), 0);
    td_assert_str(r, "ticket.escalated_to", NULL);
    cJSON_Delete(r);

    /* a re-dispatch starts a new dispatch: fresh deadlines, fresh flags,
     * alerts under the new lead */
    dl_log_clear(&l);
    td_ok(op, "dispatch", "{\"ticket\":\"%s\",\"unit\":\"t.b.g1\"}", cno);
    r = th_ok(op, "get", "{\"ticket\":\"%s\"}", cno);
    int64_t t0 = td_ms(th_gets(r, "ticket.dispatched_at"));
    td_assert_str(r, "ticket.escalated_to", NULL);
    cJSON_Delete(r);
    const cJSON *y = dl_wait(&l, cno, "sign", "yellow", 0, 5000);
    td_assert_str(y, "_topic", "alert.yellow.t.b.g1");
    td_assert_str(y, "unit", "t.b.g1");
    assert_true(td_ms(th_gets(y, "time")) >= t0 + 1000);
    td_ok(op, "cancel", "{\"ticket\":\"%s\",\"reason\":\"测试结束\"}", cno);

    cJSON_Delete(signd);
    cJSON_Delete(cancelled);
    cJSON_Delete(returned);
    cJSON_Delete(control);
    th_client_destroy(&w);
    th_client_destroy(&op);
    dl_log_free(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_escalation, dl_setup, dl_teardown),
        cmocka_unit_test_setup_teardown(test_stage_done, dl_setup, dl_teardown),
    };
    return TH_MAIN("deadline_flags", tests);
}
