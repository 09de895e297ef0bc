/* test_dispatcher_idem.c — retries with an idempotency key apply nothing
 * twice (from any connection, across restarts), refused requests can be
 * retried, and repeat calls (重复来电) count on the open ticket. */
#include "test_dispatcher.h"

static int s_count_tickets(th_client *c)
{
    cJSON *r = th_ok(c, "list", "{\"limit\":1000}");
    int n = cJSON_GetArraySize(th_get(r, "tickets"));
    cJSON_Delete(r);
    return n;
}

static void test_idem_create(void **state)
{
    th_disp d;
    td_start(&d, "config/test-small.json");
    th_client *op = th_client_new(d.front, "operator", NULL);
    th_client *mgr = th_client_new(d.front, "manager", NULL);
    const char *args = "{\"idem\":\"call-2026-0001\",\"ticket\":{\"category\":\"env.noise\","
                       "\"description\":\"装修噪音\",\"location\":{\"cell\":\"C-A1\"}}}";
    cJSON *r1 = th_ok(op, "create", "%s", args);
    int events = td_event_count(mgr);
    /* the same request again, from the same and from another connection */
    cJSON *r2 = th_ok(op, "create", "%s", args);
    th_client *op2 = th_client_new(d.front, "operator", NULL);
    cJSON *r3 = th_ok(op2, "create", "%s", args);
    assert_int_equal(th_geti(r2, "ticket.id"), th_geti(r1, "ticket.id"));
    assert_int_equal(th_geti(r3, "ticket.id"), th_geti(r1, "ticket.id"));
    assert_string_equal(th_gets(r3, "ticket.no"), th_gets(r1, "ticket.no"));
    assert_true(cJSON_IsFalse(th_get(r3, "repeat")));
    /* the replay is the first result: the ticket as it was then */
    char *t1 = cJSON_PrintUnformatted(th_get(r1, "ticket"));
    char *t3 = cJSON_PrintUnformatted(th_get(r3, "ticket"));
    assert_string_equal(t1, t3);
    free(t1);
    free(t3);
    assert_int_equal(s_count_tickets(op), 1);
    assert_int_equal(td_event_count(mgr), events);
    /* a new key makes a new ticket (no phone: no repeat detection) */
    td_ok(op, "create",
          "{\"idem\":\"call-2026-0002\",\"ticket\":{\"category\":\"env.noise\","
          "\"description\":\"装修噪音\",\"location\":{\"cell\":\"C-A1\"}}}");
    assert_int_equal(s_count_tickets(op), 2);
    /* a key used for one op cannot be reused for another */
    td_err_msg(op, "conflict", "call-2026-0001", "cancel",
               "{\"idem\":\"call-2026-0001\",\"ticket\":1,\"reason\":\"x\"}");
    td_assert_status(op, 1, "dispatched");

    /* keys survive a restart */
    assert_int_equal(th_disp_stop(&d), 0);
    th_client_destroy(&op);
    th_client_destroy(&op2);
    th_client_destroy(&mgr);
    char config[512], db[512];
    snprintf(config, sizeof config, "%s", d.config);
    snprintf(db, sizeof db, "%s", d.db);
    th_disp_start(&d, config, db, NULL);
    op = th_client_new(d.front, "operator", NULL);
    cJSON *r4 = th_ok(op, "create", "%s", args);
    assert_int_equal(th_geti(r4, "ticket.id"), th_geti(r1, "ticket.id"));
    assert_int_equal(s_count_tickets(op), 2);
    cJSON_Delete(r1);
    cJSON_Delete(r2);
    cJSON_Delete(r3);
    cJSON_Delete(r4);
    th_client_destroy(&op);
    assert_int_equal(th_disp_stop(&d), 0);
}

static void test_idem_transitions(void **state)
{
    th_disp d;
    td_start(&d, "config/test-small.json");
    th_client *op = th_client_new(d.front, "operator", NULL);
    th_client *wa = th_client_new(d.front, "worker", "t.a");
    th_client *mgr = th_client_new(d.front, "manager", NULL);
    int64_t id = td_create_id(
        op, "{\"category\":\"env.noise\",\"description\":\"x\","
            "\"caller\":{\"phone\":\"13900000000\"},\"location\":{\"cell\":\"C-A1\"}}");
    /* a refused request is not remembered: the same key works once it can */
    th_err(wa, "conflict", "finish", "{\"idem\":\"fin-1\",\"ticket\":1,\"result\":\"ok\"}");
    cJSON *s1 = th_ok(wa, "sign", "{\"idem\":\"sign-1\",\"ticket\":1}");
    int events = td_event_count(mgr);
    /* signing twice with the key answers as the first time, no conflict */
    cJSON *s2 = th_ok(wa, "sign", "{\"idem\":\"sign-1\",\"ticket\":1}");
    assert_string_equal(th_gets(s2, "ticket.signed_at"), th_gets(s1, "ticket.signed_at"));
    assert_int_equal(td_event_count(mgr), events);
    th_err(wa, "conflict", "sign", "{\"ticket\":1}"); /* without the key: a second sign */
    td_ok(wa, "finish", "{\"idem\":\"fin-1\",\"ticket\":1,\"result\":\"ok\"}");
    td_ok(wa, "finish", "{\"idem\":\"fin-1\",\"ticket\":1,\"result\":\"ok\"}");
    td_ok(op, "note", "{\"idem\":\"note-1\",\"ticket\":1,\"text\":\"回访前确认\"}");
    td_ok(op, "note", "{\"idem\":\"note-1\",\"ticket\":1,\"text\":\"回访前确认\"}");
    cJSON *c1 =
        th_ok(op, "callback", "{\"idem\":\"cb-1\",\"ticket\":1,\"result\":\"unsatisfied\"}");
    cJSON *c2 =
        th_ok(op, "callback", "{\"idem\":\"cb-1\",\"ticket\":1,\"result\":\"unsatisfied\"}");
    assert_int_equal(th_geti(c2, "ticket.reopen_count"), 1);
    cJSON *r = th_ok(op, "get", "{\"ticket\":%lld}", (long long)id);
    assert_int_equal(th_geti(r, "ticket.reopen_count"), 1);
    assert_int_equal(cJSON_GetArraySize(th_get(r, "ticket.events")), 5);
    cJSON_Delete(r);
    /* idem on a read is ignored */
    cJSON_Delete(th_ok(op, "get", "{\"idem\":\"cb-1\",\"ticket\":1}"));
    cJSON_Delete(s1);
    cJSON_Delete(s2);
    cJSON_Delete(c1);
    cJSON_Delete(c2);
    th_client_destroy(&op);
    th_client_destroy(&wa);
    th_client_destroy(&mgr);
    assert_int_equal(th_disp_stop(&d), 0);
}

static void test_repeat_calls(void **state)
{
    th_disp d;
    td_start(&d, "config/test-small.json");
    th_client *op = th_client_new(d.front, "operator", NULL);
    th_client *wa = th_client_new(d.front, "worker", "t.a");
    const char *call = "{\"category\":\"env.noise\",\"description\":\"又吵起来了\","
                       "\"caller\":{\"phone\":\"13700000001\"},\"location\":{\"cell\":\"C-A1\"}}";
    int64_t a = td_create_id(op, call);
    cJSON *r = td_create(op, call);
    assert_true(cJSON_IsTrue(th_get(r, "repeat")));
    assert_int_equal(th_geti(r, "ticket.id"), a);
    assert_int_equal(th_geti(r, "ticket.repeat_calls"), 1);
    cJSON_Delete(r);
    /* the same place found by lat/lon is the same cell */
    r = td_create(
        op,
        "{\"category\":\"env.noise\",\"description\":\"第三次\","
        "\"caller\":{\"phone\":\"13700000001\"},\"location\":{\"lat\":30.005,\"lon\":100.005}}");
    assert_true(cJSON_IsTrue(th_get(r, "repeat")));
    assert_int_equal(th_geti(r, "ticket.repeat_calls"), 2);
    cJSON_Delete(r);
    r = th_ok(op, "get", "{\"ticket\":%lld}", (long long)a);
    td_assert_str(r, "ticket.events.1.kind", "repeat");
    td_assert_str(r, "ticket.events.1.note", "又吵起来了");
    td_assert_str(r, "ticket.events.2.note", "第三次");
    cJSON_Delete(r);
    /* the lead's workers hear of it */
    r = th_ok(wa, "inbox", "{\"after\":0}");
    assert_int_equal(cJSON_GetArraySize(th_get(r, "items")), 3);
    td_assert_str(r, "items.2.kind", "changed");
    assert_int_equal(th_geti(r, "items.2.ticket.repeat_calls"), 2);
    cJSON_Delete(r);

    /* not a repeat: another cell, another category, another phone, no phone */
    r = td_create(op, "{\"category\":\"env.noise\",\"description\":\"x\","
                      "\"caller\":{\"phone\":\"13700000001\"},\"location\":{\"cell\":\"C-A2\"}}");
    assert_true(cJSON_IsFalse(th_get(r, "repeat")));
    cJSON_Delete(r);
    r = td_create(op, "{\"category\":\"env.litter\",\"description\":\"x\","
                      "\"caller\":{\"phone\":\"13700000001\"},\"location\":{\"cell\":\"C-A1\"}}");
    assert_true(cJSON_IsFalse(th_get(r, "repeat")));
    cJSON_Delete(r);
    r = td_create(op, "{\"category\":\"env.noise\",\"description\":\"x\","
                      "\"caller\":{\"phone\":\"13700000002\"},\"location\":{\"cell\":\"C-A1\"}}");
    assert_true(cJSON_IsFalse(th_get(r, "repeat")));
    cJSON_Delete(r);
    for (int i = 0; i < 2; i++) {
        r = td_create(
            op,
            "{\"category\":\"env.noise\",\"description\":\"x\",\"location\":{\"cell\":\"C-A1\"}}");
        assert_true(cJSON_IsFalse(th_get(r, "repeat")));
        cJSON_Delete(r);
    }
    /* without a location both calls have no cell: still the same place */
    int64_t nocell = td_create_id(op, "{\"category\":\"misc.other\",\"description\":\"咨询\","
                                      "\"caller\":{\"phone\":\"13700000009\"}}");
    r = td_create(op, "{\"category\":\"misc.other\",\"description\":\"再咨询\","
                      "\"caller\":{\"phone\":\"13700000009\"}}");
    assert_true(cJSON_IsTrue(th_get(r, "repeat")));
    assert_int_equal(th_geti(r, "ticket.id"), nocell);
    cJSON_Delete(r);
    /* once the first ticket is closed, the same call makes a new ticket */
    td_ok(wa, "sign", "{\"ticket\":%lld}", (long long)a);
    td_ok(wa, "finish", "{\"ticket\":%lld,\"result\":\"ok\"}", (long long)a);
    r = td_create(op, call); /* resolved is still open: a repeat */
    assert_true(cJSON_IsTrue(th_get(r, "repeat")));
    cJSON_Delete(r);
    td_ok(op, "callback", "{\"ticket\":%lld,\"result\":\"satisfied\"}", (long long)a);
    r = td_create(op, call);
    assert_true(cJSON_IsFalse(th_get(r, "repeat")));
    assert_true(th_geti(r, "ticket.id") != a);
    cJSON_Delete(r);
    th_client_destroy(&op);
    th_client_destroy(&wa);
    assert_int_equal(th_disp_stop(&d), 0);
}

/* Only calls within dedup_window count as repeats. */
static void test_dedup_window(void **state)
{
    const char *cfg =
        td_small_with("dedup.json", "\"dedup_window\": \"24h\"", "\"dedup_window\": \"1s\"");
    th_disp d;
    td_start(&d, cfg);
    th_client *op = th_client_new(d.front, "operator", NULL);
    const char *call = "{\"category\":\"env.noise\",\"description\":\"x\","
                       "\"caller\":{\"phone\":\"13600000001\"},\"location\":{\"cell\":\"C-B1\"}}";
    cJSON *r = td_create(op, call);
    int64_t first = th_geti(r, "ticket.id");
    int64_t created = td_ms(th_gets(r, "ticket.created_at"));
    cJSON_Delete(r);
    assert_true(TH_WAIT_UNTIL(td_server_now(op) > created + 1100, 5000));
    r = td_create(op, call);
    assert_true(cJSON_IsFalse(th_get(r, "repeat")));
    assert_true(th_geti(r, "ticket.id") != first);
    cJSON_Delete(r);
    th_client_destroy(&op);
    assert_int_equal(th_disp_stop(&d), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idem_create),
        cmocka_unit_test(test_idem_transitions),
        cmocka_unit_test(test_repeat_calls),
        cmocka_unit_test(test_dedup_window),
    };
    return TH_MAIN("dispatcher_idem", tests);
}
