/* test_dispatcher_ops.c — every operation of the dispatcher against the real
 * process (config/test-small.json): sessions and roles, create/get/list,
 * the whole state machine with its refusals, inbox and pushes, units,
 * events and alerts. */
#include "test_dispatcher.h"

#define T_NOISE_A1                                                                                 \
    "{\"category\":\"env.noise\",\"description\":\"广场舞音响太吵\",\"caller\":{\"name\":"  \
    "\"张三\","                                                                                  \
    "\"phone\":\"13800000001\"},\"location\":{\"cell\":\"C-A1\",\"address\":\"甲镇人民路1号\"}}"

/* A dispatcher and the clients of a test, connected in the order of the
 * letters of who: o an operator, m a manager, a and b workers of t.a and
 * t.b; the others stay NULL. */
typedef struct s_city {
    th_disp d;
    th_client *op, *mgr, *wa, *wb;
} s_city;

static void s_open(s_city *c, const char *config, const char *who)
{
    memset(c, 0, sizeof *c);
    td_start(&c->d, config ? config : "config/test-small.json");
    for (const char *w = who; *w; w++) {
        switch (*w) {
        case 'o': c->op = th_client_new(c->d.front, "operator", NULL); break;
        case 'm': c->mgr = th_client_new(c->d.front, "manager", NULL); break;
        case 'a': c->wa = th_client_new(c->d.front, "worker", "t.a"); break;
        case 'b': c->wb = th_client_new(c->d.front, "worker", "t.b"); break;
        default: fail_msg("test bug: no client '%c'", *w);
        }
    }
}

/* Close the clients; the dispatcher must stop cleanly. */
static void s_close(s_city *c)
{
    th_client **all[] = {&c->op, &c->mgr, &c->wa, &c->wb};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (*all[i]) th_client_destroy(all[i]);
    assert_int_equal(th_disp_stop(&c->d), 0);
}

/* A ticket's history (the reply of get) has exactly these kinds, in order. */
static const cJSON *s_assert_kinds(const cJSON *reply, const char *const kinds[], int n)
{
    const cJSON *ev = th_get(reply, "ticket.events");
    assert_int_equal(cJSON_GetArraySize(ev), n);
    for (int i = 0; i < n; i++) {
        char p[32];
        snprintf(p, sizeof p, "%d.kind", i);
        td_assert_str(ev, p, kinds[i]);
    }
    return ev;
}

static void test_session_and_roles(void **state)
{
    th_disp d;
    td_start(&d, "config/test-small.json");
    th_client *anon = th_client_new(d.front, NULL, NULL);
    th_err(anon, "forbidden", "ping", "");
    th_err(anon, "forbidden", "get", "{\"ticket\":1}");
    th_err(anon, "forbidden", "create",
           "{\"ticket\":{\"category\":\"env.noise\",\"description\":\"x\"}}");
    th_err(anon, "bad_request", "hello", "{\"role\":\"mayor\"}");
    td_err_msg(anon, "bad_request", "unit", "hello", "{\"role\":\"worker\"}");
    td_err_msg(anon, "unknown_unit", "t.zz", "hello", "{\"role\":\"worker\",\"unit\":\"t.zz\"}");
    th_err(anon, "forbidden", "ping", ""); /* refused hellos leave no session */
    cJSON *r = th_ok(anon, "hello", "{\"role\":\"operator\",\"client\":\"坐席01\"}");
    assert_non_null(th_gets(r, "server"));
    assert_true(strncmp(th_gets(r, "server"), "hotline/", 8) == 0);
    assert_int_equal(th_geti(r, "heartbeat_ms"), 5000);
    assert_non_null(th_gets(r, "time"));
    cJSON_Delete(r);
    r = th_ok(anon, "ping", "");
    assert_non_null(th_gets(r, "time"));
    cJSON_Delete(r);
    /* coarse roles */
    th_err(anon, "forbidden", "sign", "{\"ticket\":1}");
    th_err(anon, "forbidden", "finish", "{\"ticket\":1,\"result\":\"x\"}");
    th_err(anon, "forbidden", "inbox", "{\"after\":0}");
    th_err(anon, "forbidden", "supervise", "{\"ticket\":1,\"note\":\"x\"}");
    th_err(anon, "forbidden", "events", "{\"after\":0}");
    th_err(anon, "forbidden", "alerts", "{}");
    th_client *w = th_client_new(d.front, "worker", "t.a");
    th_err(w, "forbidden", "dispatch", "{\"ticket\":1,\"unit\":\"t.a\"}");
    th_err(w, "forbidden", "callback", "{\"ticket\":1,\"result\":\"satisfied\"}");
    th_err(w, "forbidden", "cancel", "{\"ticket\":1,\"reason\":\"x\"}");
    th_err(w, "forbidden", "merge", "{\"ticket\":1,\"into\":2}");
    /* a second hello re-identifies the connection */
    td_ok(w, "hello", "{\"role\":\"manager\"}");
    td_ok(w, "events", "{\"after\":0}");
    th_client_destroy(&anon);
    th_client_destroy(&w);
    assert_int_equal(th_disp_stop(&d), 0);
}

static void test_create_and_get(void **state)
{
    s_city c;
    s_open(&c, NULL, "o");
    th_client *op = c.op;
    cJSON *r = td_create(op, T_NOISE_A1);
    assert_true(cJSON_IsFalse(th_get(r, "repeat")));
    const cJSON *t = th_get(r, "ticket");
    /* every field of the ticket object is present */
    const char *fields[] = {"id",
                            "no",
                            "status",
                            "category",
                            "category_name",
                            "urgency",
                            "channel",
                            "title",
                            "description",
                            "caller",
                            "location",
                            "lead",
                            "co",
                            "escalated_to",
                            "created_at",
                            "dispatched_at",
                            "signed_at",
                            "resolved_at",
                            "closed_at",
                            "sign_due",
                            "finish_due",
                            "flags",
                            "repeat_calls",
                            "reopen_count",
                            "supervise_count",
                            "extension",
                            "result",
                            "satisfaction",
                            "merged_into",
                            "return_reason"};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (!cJSON_GetObjectItemCaseSensitive(t, fields[i]))
            fail_msg("ticket has no %s", fields[i]);
    const char *no = th_gets(t, "no");
    assert_int_equal(strlen(no), 15);
    assert_int_equal(no[8], '-');
    assert_string_equal(no + 9, "000001");
    td_assert_str(t, "status", "dispatched");
    td_assert_str(t, "category_name", "噪音扰民");
    td_assert_str(t, "urgency", "normal");
    td_assert_str(t, "channel", "phone");
    td_assert_str(t, "title", NULL);
    td_assert_str(t, "caller.name", "张三");
    td_assert_str(t, "location.cell", "C-A1");
    td_assert_str(t, "location.town", "t.a");
    td_assert_str(t, "location.address", "甲镇人民路1号");
    assert_true(cJSON_IsNull(th_get(t, "location.lat")));
    td_assert_str(t, "lead", "t.a");
    assert_int_equal(cJSON_GetArraySize(th_get(t, "co")), 0);
    assert_non_null(th_gets(t, "dispatched_at"));
    assert_non_null(th_gets(t, "sign_due"));
    assert_non_null(th_gets(t, "finish_due"));
    assert_true(strcmp(th_gets(t, "sign_due"), th_gets(t, "finish_due")) < 0);
    td_assert_str(t, "signed_at", NULL);
    assert_int_equal(th_geti(t, "flags.yellow"), 0);
    assert_true(cJSON_IsNull(th_get(t, "extension")));
    int64_t id = th_geti(t, "id");
    char no_copy[32];
    snprintf(no_copy, sizeof no_copy, "%s", no);
    cJSON_Delete(r);

    /* get by id and by number, with the history */
    r = th_ok(op, "get", "{\"ticket\":%lld}", (long long)id);
    td_assert_str(r, "ticket.no", no_copy);
    const cJSON *ev = th_get(r, "ticket.events");
    assert_int_equal(cJSON_GetArraySize(ev), 1);
    td_assert_str(ev, "0.kind", "created");
    td_assert_str(ev, "0.from", NULL);
    td_assert_str(ev, "0.to", "dispatched");
    td_assert_str(ev, "0.actor", "operator:test");
    assert_true(th_geti(ev, "0.seq") >= 1);
    assert_non_null(th_gets(ev, "0.time"));
    assert_non_null(th_gets(ev, "0.note"));
    cJSON_Delete(r);
    r = th_ok(op, "get", "{\"ticket\":\"%s\"}", no_copy);
    assert_int_equal(th_geti(r, "ticket.id"), id);
    cJSON_Delete(r);

    /* the next ticket of the day gets the next number; title and lat/lon kept */
    r = td_create(
        op, "{\"category\":\"env.litter\",\"title\":\"垃圾堆积\",\"description\":\"路边垃圾\","
            "\"urgency\":\"urgent\",\"channel\":\"web\","
            "\"location\":{\"lat\":30.005,\"lon\":100.005}}");
    assert_string_equal(th_gets(r, "ticket.no") + 9, "000002");
    td_assert_str(r, "ticket.title", "垃圾堆积");
    td_assert_str(r, "ticket.urgency", "urgent");
    td_assert_str(r, "ticket.channel", "web");
    td_assert_str(r, "ticket.lead", "t.a.g1");
    td_assert_str(r, "ticket.caller.phone", NULL);
    assert_true(th_get(r, "ticket.location.lat")->valuedouble == 30.005);
    cJSON_Delete(r);

    /* refusals */
    td_err_msg(op, "not_found", "9999", "get", "{\"ticket\":9999}");
    td_err_msg(op, "not_found", "20990101-000001", "get", "{\"ticket\":\"20990101-000001\"}");
    td_err_msg(op, "unknown_category", "env.nope", "create",
               "{\"ticket\":{\"category\":\"env.nope\",\"description\":\"x\"}}");
    td_err_msg(op, "unknown_cell", "C-Z9", "create",
               "{\"ticket\":{\"category\":\"env.noise\",\"description\":\"x\","
               "\"location\":{\"cell\":\"C-Z9\"}}}");
    td_err_msg(op, "bad_request", "lat", "create",
               "{\"ticket\":{\"category\":\"env.noise\",\"description\":\"x\","
               "\"location\":{\"lat\":30.0}}}");
    th_err(op, "bad_request", "create", "{\"ticket\":{\"category\":\"env.noise\"}}");
    th_err(op, "bad_request", "create",
           "{\"ticket\":{\"category\":\"env.noise\",\"description\":\"x\",\"urgency\":\"soon\"}}");
    /* refused creates made nothing: the third ticket is number 3 */
    r = td_create(op, "{\"category\":\"misc.other\",\"description\":\"咨询\"}");
    assert_string_equal(th_gets(r, "ticket.no") + 9, "000003");
    td_assert_str(r, "ticket.status", "triage");
    td_assert_str(r, "ticket.lead", NULL);
    td_assert_str(r, "ticket.dispatched_at", NULL);
    td_assert_str(r, "ticket.sign_due", NULL);
    cJSON_Delete(r);
    s_close(&c);
}

static void test_list_filters_and_cursor(void **state)
{
    s_city c;
    s_open(&c, NULL, "o");
    th_client *op = c.op;
    int64_t ids[7];
    ids[0] = td_create_id(op, "{\"category\":\"env.noise\",\"description\":\"a\",\"caller\":{"
                              "\"phone\":\"139001\"},\"location\":{\"cell\":\"C-A1\"}}");
    ids[1] = td_create_id(op, "{\"category\":\"env.noise\",\"description\":\"b\",\"caller\":{"
                              "\"phone\":\"139002\"},\"location\":{\"cell\":\"C-B1\"}}");
    ids[2] = td_create_id(
        op,
        "{\"category\":\"misc.other\",\"description\":\"c\",\"caller\":{\"phone\":\"139001\"}}");
    ids[3] = td_create_id(
        op,
        "{\"category\":\"water.outage\",\"description\":\"d\",\"location\":{\"cell\":\"C-B1\"}}");
    ids[4] = td_create_id(
        op, "{\"category\":\"env.litter\",\"description\":\"e\",\"location\":{\"cell\":\"C-A2\"}}");
    ids[5] = td_create_id(
        op, "{\"category\":\"env.noise\",\"description\":\"f\",\"location\":{\"cell\":\"C-A2\"}}");
    ids[6] = td_create_id(op, "{\"category\":\"misc.other\",\"description\":\"g\"}");

    /* newest first, paged with next */
    cJSON *r = th_ok(op, "list", "{\"limit\":3}");
    assert_int_equal(cJSON_GetArraySize(th_get(r, "tickets")), 3);
    assert_int_equal(th_geti(r, "tickets.0.id"), ids[6]);
    assert_int_equal(th_geti(r, "tickets.2.id"), ids[4]);
    int64_t next = th_geti(r, "next");
    assert_int_equal(next, ids[4]);
    cJSON_Delete(r);
    r = th_ok(op, "list", "{\"limit\":3,\"after\":%lld}", (long long)next);
    assert_int_equal(th_geti(r, "tickets.0.id"), ids[3]);
    next = th_geti(r, "next");
    cJSON_Delete(r);
    r = th_ok(op, "list", "{\"limit\":3,\"after\":%lld}", (long long)next);
    assert_int_equal(cJSON_GetArraySize(th_get(r, "tickets")), 1);
    assert_int_equal(th_geti(r, "tickets.0.id"), ids[0]);
    assert_true(cJSON_IsNull(th_get(r, "next")));
    cJSON_Delete(r);
    /* an exact page ends with next null */
    r = th_ok(op, "list", "{\"limit\":7}");
    assert_int_equal(cJSON_GetArraySize(th_get(r, "tickets")), 7);
    assert_true(cJSON_IsNull(th_get(r, "next")));
    cJSON_Delete(r);

    /* filters */
    r = th_ok(op, "list", "{\"status\":[\"triage\"]}");
    assert_int_equal(cJSON_GetArraySize(th_get(r, "tickets")), 2);
    assert_int_equal(th_geti(r, "tickets.0.id"), ids[6]);
    assert_int_equal(th_geti(r, "tickets.1.id"), ids[2]);
    cJSON_Delete(r);
    r = th_ok(op, "list", "{\"status\":[\"triage\",\"dispatched\"]}");
    assert_int_equal(cJSON_GetArraySize(th_get(r, "tickets")), 7);
    cJSON_Delete(r);
    r = th_ok(op, "list", "{\"status\":[\"closed\",\"accepted\"]}");
    assert_int_equal(cJSON_GetArraySize(th_get(r, "tickets")), 0);
    assert_true(cJSON_IsNull(th_get(r, "next")));
    cJSON_Delete(r);
    r = th_ok(op, "list", "{\"unit\":\"t.a\"}");
    assert_int_equal(cJSON_GetArraySize(th_get(r, "tickets")), 3); /* a, e (C-A2 is t.a's), f */
    cJSON_Delete(r);
    r = th_ok(op, "list", "{\"unit\":\"t.b\",\"status\":[\"dispatched\"]}");
    assert_int_equal(cJSON_GetArraySize(th_get(r, "tickets")), 1);
    assert_int_equal(th_geti(r, "tickets.0.id"), ids[1]);
    cJSON_Delete(r);
    r = th_ok(op, "list", "{\"phone\":\"139001\"}");
    assert_int_equal(cJSON_GetArraySize(th_get(r, "tickets")), 2);
    assert_int_equal(th_geti(r, "tickets.0.id"), ids[2]);
    assert_int_equal(th_geti(r, "tickets.1.id"), ids[0]);
    cJSON_Delete(r);
    r = th_ok(op, "list", "{\"overdue\":true}");
    assert_int_equal(cJSON_GetArraySize(th_get(r, "tickets")), 0);
    cJSON_Delete(r);
    r = th_ok(op, "list", "{\"overdue\":false,\"flag\":\"red\"}");
    assert_int_equal(cJSON_GetArraySize(th_get(r, "tickets")), 0);
    cJSON_Delete(r);
    td_err_msg(op, "unknown_unit", "t.q", "list", "{\"unit\":\"t.q\"}");
    th_err(op, "bad_request", "list", "{\"limit\":0}");
    th_err(op, "bad_request", "list", "{\"status\":[\"open\"]}");

    /* a worker sees what its unit leads or co-handles, and nothing else */
    th_client *wb = th_client_new(c.d.front, "worker", "t.b");
    r = th_ok(wb, "list", "{}");
    assert_int_equal(cJSON_GetArraySize(th_get(r, "tickets")), 2); /* b leads; d co (territorial) */
    assert_int_equal(th_geti(r, "tickets.0.id"), ids[3]);
    assert_int_equal(th_geti(r, "tickets.1.id"), ids[1]);
    cJSON_Delete(r);
    r = th_ok(wb, "list", "{\"unit\":\"t.b\"}");
    assert_int_equal(cJSON_GetArraySize(th_get(r, "tickets")), 1);
    cJSON_Delete(r);
    td_err_msg(wb, "forbidden", "t.b", "list", "{\"unit\":\"t.a\"}");
    th_client_destroy(&wb);
    s_close(&c);
}

/* sign, note, extend, finish, callback — with each refusal on the way */
static void test_worker_lifecycle(void **state)
{
    s_city c;
    s_open(&c, NULL, "oab");
    th_client *op = c.op, *wa = c.wa, *wb = c.wb;
    int64_t id = td_create_id(op, T_NOISE_A1);
    char args[200];
    snprintf(args, sizeof args, "{\"ticket\":%lld}", (long long)id);

    /* another unit's worker may neither read nor act */
    td_err_msg(wb, "forbidden", "t.b", "get", args);
    td_err_msg(wb, "forbidden", "t.a", "sign", args);
    td_err_msg(wb, "forbidden", NULL, "note", "{\"ticket\":1,\"text\":\"x\"}");
    /* the lead's worker, in the wrong order */
    td_err_msg(wa, "conflict", "is dispatched; finish needs status accepted", "finish",
               "{\"ticket\":1,\"result\":\"done\"}");
    td_err_msg(wa, "conflict", "is dispatched; extend needs status accepted", "extend",
               "{\"ticket\":1,\"by\":\"2wd\",\"reason\":\"x\"}");
    th_err(wa, "not_found", "sign", "{\"ticket\":77}");

    cJSON *r = th_ok(wa, "sign", "{\"ticket\":%lld,\"note\":\"已联系\"}", (long long)id);
    td_assert_str(r, "ticket.status", "accepted");
    assert_non_null(th_gets(r, "ticket.signed_at"));
    cJSON_Delete(r);
    td_err_msg(wa, "conflict", "is accepted; sign needs status dispatched", "sign", args);

    td_ok(wa, "note", "{\"ticket\":%lld,\"text\":\"已到现场\"}", (long long)id);
    td_ok(op, "note", "{\"ticket\":%lld,\"text\":\"市民再次来电催办\"}", (long long)id);

    /* extension: exactly one of until / by, later than finish_due, one at a time */
    th_err(wa, "bad_request", "extend",
           "{\"ticket\":1,\"by\":\"2wd\",\"until\":\"2030-01-01T00:00:00Z\",\"reason\":\"x\"}");
    th_err(wa, "bad_request", "extend", "{\"ticket\":1,\"reason\":\"x\"}");
    th_err(wa, "bad_request", "extend", "{\"ticket\":1,\"by\":\"2 days\",\"reason\":\"x\"}");
    th_err(wa, "bad_request", "extend",
           "{\"ticket\":1,\"until\":\"2001-01-01T00:00:00Z\",\"reason\":\"x\"}");
    r = th_ok(wa, "extend", "{\"ticket\":1,\"by\":\"2wd\",\"reason\":\"需协调施工方\"}");
    td_assert_str(r, "ticket.extension.state", "pending");
    td_assert_str(r, "ticket.extension.reason", "需协调施工方");
    assert_true(strcmp(th_gets(r, "ticket.extension.until"), th_gets(r, "ticket.finish_due")) > 0);
    cJSON_Delete(r);
    td_err_msg(wa, "conflict", "already", "extend",
               "{\"ticket\":1,\"by\":\"1wd\",\"reason\":\"x\"}");

    /* operators cannot finish; the lead's worker can */
    th_err(op, "forbidden", "finish", "{\"ticket\":1,\"result\":\"x\"}");
    th_err(wa, "bad_request", "finish", "{\"ticket\":1}");
    r = th_ok(wa, "finish", "{\"ticket\":1,\"result\":\"已协调商户降低音量\"}");
    td_assert_str(r, "ticket.status", "resolved");
    td_assert_str(r, "ticket.result", "已协调商户降低音量");
    assert_non_null(th_gets(r, "ticket.resolved_at"));
    cJSON_Delete(r);
    td_err_msg(wa, "conflict", "is resolved", "finish", "{\"ticket\":1,\"result\":\"x\"}");
    td_err_msg(wa, "conflict", "is resolved", "return", "{\"ticket\":1,\"reason\":\"x\"}");

    /* callback: wrong result value, then satisfied closes */
    th_err(op, "bad_request", "callback", "{\"ticket\":1,\"result\":\"happy\"}");
    r = th_ok(op, "callback", "{\"ticket\":1,\"result\":\"satisfied\",\"note\":\"市民满意\"}");
    td_assert_str(r, "ticket.status", "closed");
    td_assert_str(r, "ticket.satisfaction", "satisfied");
    assert_non_null(th_gets(r, "ticket.closed_at"));
    cJSON_Delete(r);
    td_err_msg(op, "conflict", "is closed; callback needs status resolved", "callback",
               "{\"ticket\":1,\"result\":\"basic\"}");
    td_err_msg(op, "conflict", "is closed", "note", "{\"ticket\":1,\"text\":\"x\"}");
    td_err_msg(op, "conflict", "is closed", "dispatch", "{\"ticket\":1,\"unit\":\"t.b\"}");
    td_err_msg(op, "conflict", "is closed", "cancel", "{\"ticket\":1,\"reason\":\"x\"}");

    /* the whole history, in order */
    r = th_ok(wa, "get", "{\"ticket\":1}");
    const char *kinds[] = {"created",  "accepted", "noted", "noted", "extension_requested",
                           "resolved", "closed"};
    const cJSON *ev = s_assert_kinds(r, kinds, 7);
    td_assert_str(ev, "1.actor", "worker:t.a");
    td_assert_str(ev, "1.from", "dispatched");
    td_assert_str(ev, "1.to", "accepted");
    td_assert_str(ev, "1.note", "已联系");
    td_assert_str(ev, "2.note", "已到现场");
    td_assert_str(ev, "6.from", "resolved");
    td_assert_str(ev, "6.to", "closed");
    cJSON_Delete(r);
    s_close(&c);
}

static void test_finish_without_phone_and_reopen(void **state)
{
    s_city c;
    s_open(&c, NULL, "oa");
    th_client *op = c.op, *wa = c.wa;
    /* no phone: finishing closes it at once */
    int64_t quiet = td_create_id(
        op,
        "{\"category\":\"env.noise\",\"description\":\"无电话\",\"location\":{\"cell\":\"C-A1\"}}");
    td_ok(wa, "sign", "{\"ticket\":%lld}", (long long)quiet);
    cJSON *r = th_ok(wa, "finish", "{\"ticket\":%lld,\"result\":\"已处理\"}", (long long)quiet);
    td_assert_str(r, "ticket.status", "closed");
    assert_non_null(th_gets(r, "ticket.resolved_at"));
    assert_non_null(th_gets(r, "ticket.closed_at"));
    cJSON_Delete(r);
    r = th_ok(op, "get", "{\"ticket\":%lld}", (long long)quiet);
    td_assert_str(r, "ticket.events.2.kind", "resolved");
    td_assert_str(r, "ticket.events.3.kind", "closed");
    td_assert_str(r, "ticket.events.3.actor", "system");
    cJSON_Delete(r);

    /* unsatisfied: dispatched again to the same lead, with new deadlines */
    int64_t id = td_create_id(op, T_NOISE_A1);
    td_ok(wa, "sign", "{\"ticket\":%lld}", (long long)id);
    td_ok(wa, "finish", "{\"ticket\":%lld,\"result\":\"已处理\"}", (long long)id);
    r = th_ok(op, "get", "{\"ticket\":%lld}", (long long)id);
    char first_dispatch[40];
    snprintf(first_dispatch, sizeof first_dispatch, "%s", th_gets(r, "ticket.dispatched_at"));
    cJSON_Delete(r);
    /* a clock tick apart, so the new dispatch time differs */
    int64_t first = td_ms(first_dispatch);
    assert_true(TH_WAIT_UNTIL(td_server_now(op) > first, 2000));
    r = th_ok(op, "callback", "{\"ticket\":%lld,\"result\":\"unsatisfied\",\"note\":\"仍有噪音\"}",
              (long long)id);
    td_assert_str(r, "ticket.status", "dispatched");
    td_assert_str(r, "ticket.lead", "t.a");
    td_assert_str(r, "ticket.satisfaction", "unsatisfied");
    td_assert_str(r, "ticket.signed_at", NULL);
    td_assert_str(r, "ticket.resolved_at", NULL);
    assert_int_equal(th_geti(r, "ticket.reopen_count"), 1);
    assert_true(td_ms(th_gets(r, "ticket.dispatched_at")) > first);
    cJSON_Delete(r);
    /* and the lead can work it again */
    td_ok(wa, "sign", "{\"ticket\":%lld}", (long long)id);
    td_ok(wa, "finish", "{\"ticket\":%lld,\"result\":\"已彻底解决\"}", (long long)id);
    r = th_ok(op, "callback", "{\"ticket\":%lld,\"result\":\"basic\"}", (long long)id);
    td_assert_str(r, "ticket.status", "closed");
    td_assert_str(r, "ticket.satisfaction", "basic");
    cJSON_Delete(r);
    s_close(&c);
}

static void test_return_and_dispatch(void **state)
{
    s_city c;
    s_open(&c, NULL, "oab");
    th_client *op = c.op, *wa = c.wa, *wb = c.wb;
    int64_t id = td_create_id(op, T_NOISE_A1);
    char args[64];
    snprintf(args, sizeof args, "{\"ticket\":%lld}", (long long)id);
    th_err(wa, "bad_request", "return", args); /* the reason is required */
    cJSON *r =
        th_ok(wa, "return", "{\"ticket\":%lld,\"reason\":\"不属于本镇辖区\"}", (long long)id);
    td_assert_str(r, "ticket.status", "triage");
    td_assert_str(r, "ticket.lead", NULL);
    td_assert_str(r, "ticket.return_reason", "不属于本镇辖区");
    td_assert_str(r, "ticket.sign_due", NULL);
    cJSON_Delete(r);
    /* it is nobody's now */
    td_err_msg(wa, "forbidden", "led by no unit", "sign", args);
    td_err_msg(wa, "forbidden", NULL, "get", args);

    /* dispatch refusals, then to t.b with a territorial co unit */
    td_err_msg(op, "unknown_unit", "t.nope", "dispatch", "{\"ticket\":1,\"unit\":\"t.nope\"}");
    td_err_msg(op, "unknown_unit", "t.x", "dispatch",
               "{\"ticket\":1,\"unit\":\"t.b\",\"co\":[\"t.x\"]}");
    th_err(op, "not_found", "dispatch", "{\"ticket\":42,\"unit\":\"t.b\"}");
    th_err(op, "bad_request", "dispatch", "{\"ticket\":1,\"unit\":\"t.b\",\"co\":\"t.a\"}");
    r = th_ok(op, "dispatch",
              "{\"ticket\":1,\"unit\":\"t.b\",\"co\":[\"territorial\",\"t.b\",\"t.water\"],"
              "\"note\":\"改派乙镇\"}");
    td_assert_str(r, "ticket.status", "dispatched");
    td_assert_str(r, "ticket.lead", "t.b");
    assert_int_equal(cJSON_GetArraySize(th_get(r, "ticket.co")), 2);
    td_assert_str(r, "ticket.co.0", "t.a"); /* C-A1's town */
    td_assert_str(r, "ticket.co.1", "t.water");
    assert_non_null(th_gets(r, "ticket.sign_due"));
    cJSON_Delete(r);
    /* t.a co-handles: may read and note, not act */
    td_ok(wa, "get", "%s", args);
    td_ok(wa, "note", "{\"ticket\":1,\"text\":\"协助核实\"}");
    td_err_msg(wa, "forbidden", "t.b", "sign", args);
    td_ok(wb, "sign", "%s", args);
    /* re-dispatch from accepted keeps the co units (minus the new lead) */
    r = th_ok(op, "dispatch", "{\"ticket\":1,\"unit\":\"t.water\"}");
    td_assert_str(r, "ticket.status", "dispatched");
    td_assert_str(r, "ticket.lead", "t.water");
    td_assert_str(r, "ticket.signed_at", NULL);
    assert_int_equal(cJSON_GetArraySize(th_get(r, "ticket.co")), 1);
    td_assert_str(r, "ticket.co.0", "t.a");
    cJSON_Delete(r);
    td_err_msg(wb, "forbidden", NULL, "get", args);
    /* dispatch to the same lead again is allowed (new deadlines) */
    td_ok(op, "dispatch", "{\"ticket\":1,\"unit\":\"t.water\",\"co\":[]}");
    r = th_ok(op, "get", "%s", args);
    assert_int_equal(cJSON_GetArraySize(th_get(r, "ticket.co")), 0);
    const char *kinds[] = {"created",  "returned",   "dispatched", "noted",
                           "accepted", "dispatched", "dispatched"};
    const cJSON *ev = s_assert_kinds(r, kinds, 7);
    td_assert_str(ev, "1.note", "不属于本镇辖区");
    td_assert_str(ev, "1.to", "triage");
    td_assert_str(ev, "2.from", "triage");
    td_assert_str(ev, "5.from", "accepted");
    cJSON_Delete(r);
    s_close(&c);
}

/* The return window (returns.window) measured from the dispatch. */
static void test_return_window(void **state)
{
    const char *cfg = td_small_with("window.json", "\"window\": \"2wd\"", "\"window\": \"1s\"");
    s_city c;
    s_open(&c, cfg, "oa");
    th_client *op = c.op, *wa = c.wa;
    int64_t id = td_create_id(op, T_NOISE_A1);
    cJSON *r = th_ok(op, "get", "{\"ticket\":%lld}", (long long)id);
    char dispatched[40];
    snprintf(dispatched, sizeof dispatched, "%s", th_gets(r, "ticket.dispatched_at"));
    cJSON_Delete(r);
    /* wait until the dispatcher's clock is past the window (1 s) */
    int64_t at = td_ms(dispatched);
    assert_true(TH_WAIT_UNTIL(td_server_now(op) > at + 1100, 5000));
    td_err_msg(wa, "conflict", "return window", "return",
               "{\"ticket\":1,\"reason\":\"不是我们的\"}");
    td_assert_status(op, id, "dispatched");
    /* a fresh dispatch opens a fresh window */
    td_ok(op, "dispatch", "{\"ticket\":1,\"unit\":\"t.a\"}");
    td_ok(wa, "return", "{\"ticket\":1,\"reason\":\"不是我们的\"}");
    td_assert_status(op, id, "triage");
    s_close(&c);
}

static void test_merge_cancel_supervise(void **state)
{
    s_city city;
    s_open(&city, NULL, "oma");
    th_client *op = city.op, *mgr = city.mgr, *wa = city.wa;
    int64_t a = td_create_id(op, T_NOISE_A1);
    int64_t b = td_create_id(op, "{\"category\":\"env.noise\",\"description\":\"同一噪音\","
                                 "\"location\":{\"cell\":\"C-A1\"}}");
    int64_t c = td_create_id(op, "{\"category\":\"misc.other\",\"description\":\"其他\"}");
    char no_a[32];
    cJSON *r = th_ok(op, "get", "{\"ticket\":%lld}", (long long)a);
    snprintf(no_a, sizeof no_a, "%s", th_gets(r, "ticket.no"));
    cJSON_Delete(r);

    /* supervise: managers only, on dispatched or accepted tickets */
    th_err(op, "forbidden", "supervise", "{\"ticket\":1,\"note\":\"x\"}");
    th_err(mgr, "bad_request", "supervise", "{\"ticket\":1}");
    td_err_msg(mgr, "conflict", "is triage; supervise needs status dispatched or accepted",
               "supervise", "{\"ticket\":3,\"note\":\"加快\"}");
    r = th_ok(mgr, "supervise", "{\"ticket\":%lld,\"note\":\"请加快办理\"}", (long long)a);
    assert_int_equal(th_geti(r, "ticket.supervise_count"), 1);
    cJSON_Delete(r);

    /* merge */
    td_err_msg(op, "bad_request", "itself", "merge", "{\"ticket\":2,\"into\":2}");
    th_err(op, "not_found", "merge", "{\"ticket\":2,\"into\":99}");
    r = th_ok(op, "merge", "{\"ticket\":%lld,\"into\":\"%s\"}", (long long)b, no_a);
    td_assert_str(r, "ticket.status", "merged");
    td_assert_str(r, "ticket.merged_into", no_a);
    assert_non_null(th_gets(r, "ticket.closed_at"));
    cJSON_Delete(r);
    td_err_msg(op, "conflict", "is merged", "merge", "{\"ticket\":2,\"into\":1}");
    td_err_msg(op, "conflict", "is merged; merge needs an open ticket", "merge",
               "{\"ticket\":3,\"into\":2}");
    td_err_msg(wa, "conflict", "is merged", "sign", "{\"ticket\":2}");

    /* cancel, from any open status */
    th_err(op, "bad_request", "cancel", "{\"ticket\":3}");
    r = th_ok(mgr, "cancel", "{\"ticket\":%lld,\"reason\":\"重复登记\"}", (long long)c);
    td_assert_str(r, "ticket.status", "cancelled");
    cJSON_Delete(r);
    td_err_msg(op, "conflict",
               "is cancelled; cancel needs status triage, dispatched, accepted or resolved",
               "cancel", "{\"ticket\":3,\"reason\":\"x\"}");
    td_ok(wa, "sign", "{\"ticket\":1}");
    td_ok(wa, "finish", "{\"ticket\":1,\"result\":\"ok\"}");
    td_err_msg(op, "conflict", "is resolved; merge needs status", "merge",
               "{\"ticket\":1,\"into\":3}");
    r = th_ok(op, "cancel", "{\"ticket\":1,\"reason\":\"市民撤诉\"}");
    td_assert_str(r, "ticket.status", "cancelled");
    cJSON_Delete(r);
    s_close(&city);
}

static void test_worker_create_grid(void **state)
{
    th_disp d;
    td_start(&d, "config/test-small.json");
    th_client *wa = th_client_new(d.front, "worker", "t.a.g1");
    td_err_msg(wa, "forbidden", "grid", "create",
               "{\"ticket\":{\"category\":\"env.litter\",\"description\":\"巡查发现垃圾\","
               "\"location\":{\"cell\":\"C-A1\"}}}");
    cJSON *r = td_create(wa, "{\"category\":\"env.litter\",\"description\":\"巡查发现垃圾\","
                             "\"channel\":\"grid\",\"location\":{\"cell\":\"C-A1\"}}");
    td_assert_str(r, "ticket.channel", "grid");
    td_assert_str(r, "ticket.lead", "t.a.g1");
    assert_null(th_get(r, "ticket.events")); /* create replies carry no history */
    cJSON_Delete(r);
    th_client_destroy(&wa);
    assert_int_equal(th_disp_stop(&d), 0);
}

/* The unit's feed: assigned, changed, revoked, reopened; pushes on growth. */
static void test_inbox_and_pushes(void **state)
{
    th_disp d;
    td_start(&d, "config/test-small.json");
    th_client *op = th_client_new(d.front, "operator", NULL);
    th_client *wa = th_client_new(d.front, "worker", "t.a");
    th_client *wa2 = th_client_new(d.front, "worker", "t.a");
    th_client *wb = th_client_new(d.front, "worker", "t.b");
    cJSON *r = th_ok(wa, "inbox", "{\"after\":0}");
    assert_int_equal(cJSON_GetArraySize(th_get(r, "items")), 0);
    assert_int_equal(th_geti(r, "last"), 0);
    cJSON_Delete(r);

    int64_t id = td_create_id(op, T_NOISE_A1);
    /* both workers of t.a are pushed to; t.b is not */
    cJSON *p = th_wait_push(wa, "inbox", 5000);
    assert_non_null(p);
    td_assert_str(p, "unit", "t.a");
    assert_true(th_geti(p, "seq") > 0);
    cJSON_Delete(p);
    p = th_wait_push(wa2, "inbox", 5000);
    assert_non_null(p);
    cJSON_Delete(p);

    r = th_ok(wa, "inbox", "{\"after\":0}");
    assert_int_equal(cJSON_GetArraySize(th_get(r, "items")), 1);
    td_assert_str(r, "items.0.kind", "assigned");
    assert_int_equal(th_geti(r, "items.0.ticket.id"), id);
    td_assert_str(r, "items.0.ticket.status", "dispatched");
    int64_t last = th_geti(r, "last");
    assert_int_equal(last, th_geti(r, "items.0.seq"));
    cJSON_Delete(r);

    td_ok(wa, "sign", "{\"ticket\":%lld}", (long long)id);
    td_ok(op, "dispatch", "{\"ticket\":%lld,\"unit\":\"t.b\"}", (long long)id);
    p = th_wait_push(wb, "inbox", 5000);
    assert_non_null(p);
    cJSON_Delete(p);
    r = th_ok(wa, "inbox", "{\"after\":%lld}", (long long)last);
    assert_int_equal(cJSON_GetArraySize(th_get(r, "items")), 2);
    td_assert_str(r, "items.0.kind", "changed");
    td_assert_str(r, "items.1.kind", "revoked");
    td_assert_str(r, "items.1.ticket.lead", "t.b"); /* the ticket as it is now */
    assert_true(th_geti(r, "items.1.seq") > th_geti(r, "items.0.seq"));
    last = th_geti(r, "last");
    cJSON_Delete(r);

    r = th_ok(wb, "inbox", "{\"after\":0}");
    assert_int_equal(cJSON_GetArraySize(th_get(r, "items")), 1);
    td_assert_str(r, "items.0.kind", "assigned");
    int64_t lb = th_geti(r, "last");
    cJSON_Delete(r);
    td_ok(wb, "sign", "{\"ticket\":%lld}", (long long)id);
    td_ok(wb, "finish", "{\"ticket\":%lld,\"result\":\"ok\"}", (long long)id);
    td_ok(op, "callback", "{\"ticket\":%lld,\"result\":\"unsatisfied\"}", (long long)id);
    r = th_ok(wb, "inbox", "{\"after\":%lld,\"limit\":2}", (long long)lb);
    assert_int_equal(cJSON_GetArraySize(th_get(r, "items")), 2); /* limit */
    td_assert_str(r, "items.0.kind", "changed");
    lb = th_geti(r, "last");
    cJSON_Delete(r);
    r = th_ok(wb, "inbox", "{\"after\":%lld}", (long long)lb);
    assert_int_equal(cJSON_GetArraySize(th_get(r, "items")), 1);
    td_assert_str(r, "items.0.kind", "reopened");
    lb = th_geti(r, "last");
    cJSON_Delete(r);
    /* cancel revokes */
    td_ok(op, "cancel", "{\"ticket\":%lld,\"reason\":\"x\"}", (long long)id);
    r = th_ok(wb, "inbox", "{\"after\":%lld}", (long long)lb);
    assert_int_equal(cJSON_GetArraySize(th_get(r, "items")), 1);
    td_assert_str(r, "items.0.kind", "revoked");
    td_assert_str(r, "items.0.ticket.status", "cancelled");
    cJSON_Delete(r);
    /* t.a's feed did not grow after the re-dispatch */
    r = th_ok(wa, "inbox", "{\"after\":%lld}", (long long)last);
    assert_int_equal(cJSON_GetArraySize(th_get(r, "items")), 0);
    assert_int_equal(th_geti(r, "last"), last);
    cJSON_Delete(r);
    th_client_destroy(&op);
    th_client_destroy(&wa);
    th_client_destroy(&wa2);
    th_client_destroy(&wb);
    assert_int_equal(th_disp_stop(&d), 0);
}

static void test_units(void **state)
{
    s_city c;
    s_open(&c, NULL, "o");
    th_client *op = c.op;
    cJSON *r = th_ok(op, "units", "");
    const cJSON *units = th_get(r, "units");
    assert_int_equal(cJSON_GetArraySize(units), 7);
    td_assert_str(units, "0.id", "t");
    td_assert_str(units, "0.parent", NULL);
    td_assert_str(units, "0.level", "city");
    td_assert_str(units, "3.id", "t.a.g1");
    td_assert_str(units, "3.name", "甲镇第一网格工作站");
    td_assert_str(units, "3.parent", "t.a");
    td_assert_str(units, "3.level", "grid");
    assert_true(cJSON_IsFalse(th_get(units, "1.online")));
    assert_int_equal(th_geti(units, "1.workers"), 0);
    td_assert_str(units, "1.last_seen", NULL);
    cJSON_Delete(r);
    th_client *w1 = th_client_new(c.d.front, "worker", "t.a");
    th_client *w2 = th_client_new(c.d.front, "worker", "t.a");
    r = th_ok(op, "units", "");
    td_assert_str(r, "units.1.id", "t.a");
    assert_true(cJSON_IsTrue(th_get(r, "units.1.online")));
    assert_int_equal(th_geti(r, "units.1.workers"), 2);
    assert_non_null(th_gets(r, "units.1.last_seen"));
    assert_true(cJSON_IsFalse(th_get(r, "units.2.online")));
    cJSON_Delete(r);
    th_client_destroy(&w1);
    th_client_destroy(&w2);
    s_close(&c);
}

static void test_events_and_alerts(void **state)
{
    th_disp d;
    td_start(&d, "config/test-small.json");
    th_client *op = th_client_new(d.front, "operator", NULL);
    th_client *mgr = th_client_new(d.front, "manager", "t");
    th_client *wa = th_client_new(d.front, "worker", "t.a"); /* unit.online.t.a: seq 1 */
    int64_t id = td_create_id(op, T_NOISE_A1);
    td_ok(wa, "sign", "{\"ticket\":%lld}", (long long)id);
    td_ok(op, "note", "{\"ticket\":%lld,\"text\":\"x\"}", (long long)id);
    cJSON *r = th_ok(mgr, "events", "{\"after\":0}");
    const cJSON *ev = th_get(r, "events");
    assert_int_equal(cJSON_GetArraySize(ev), 4);
    for (int i = 0; i < 4; i++) {
        char p[16];
        snprintf(p, sizeof p, "%d.seq", i);
        assert_int_equal(th_geti(ev, p), i + 1);
    }
    td_assert_str(ev, "0.topic", "unit.online.t.a");
    td_assert_str(ev, "0.kind", "online");
    td_assert_str(ev, "0.unit", "t.a");
    td_assert_str(ev, "1.topic", "ticket.created.t.a");
    td_assert_str(ev, "1.kind", "created");
    td_assert_str(ev, "1.actor", "operator:test");
    assert_int_equal(th_geti(ev, "1.ticket.id"), id);
    td_assert_str(ev, "1.ticket.status", "dispatched");
    td_assert_str(ev, "1.ticket.lead", "t.a");
    td_assert_str(ev, "1.ticket.category", "env.noise");
    td_assert_str(ev, "1.ticket.urgency", "normal");
    assert_non_null(th_gets(ev, "1.time"));
    td_assert_str(ev, "2.topic", "ticket.accepted.t.a");
    td_assert_str(ev, "2.actor", "worker:t.a");
    td_assert_str(ev, "3.topic", "ticket.noted.t.a");
    td_assert_str(ev, "3.note", "x");
    assert_int_equal(th_geti(r, "last"), 4);
    cJSON_Delete(r);
    r = th_ok(mgr, "events", "{\"after\":2,\"limit\":1}");
    assert_int_equal(cJSON_GetArraySize(th_get(r, "events")), 1);
    assert_int_equal(th_geti(r, "events.0.seq"), 3);
    assert_int_equal(th_geti(r, "last"), 3);
    cJSON_Delete(r);
    r = th_ok(mgr, "events", "{\"after\":4}");
    assert_int_equal(cJSON_GetArraySize(th_get(r, "events")), 0);
    assert_int_equal(th_geti(r, "last"), 4);
    cJSON_Delete(r);
    th_err(mgr, "bad_request", "events", "{}");
    th_err(mgr, "bad_request", "events", "{\"after\":-1}");

    /* no deadline has passed: no alerts, and the filters are checked */
    r = th_ok(mgr, "alerts", "{}");
    assert_int_equal(cJSON_GetArraySize(th_get(r, "alerts")), 0);
    assert_true(cJSON_IsNull(th_get(r, "next")));
    cJSON_Delete(r);
    r = th_ok(mgr, "alerts", "{\"unit\":\"t.a\",\"level\":\"red\",\"limit\":5}");
    assert_int_equal(cJSON_GetArraySize(th_get(r, "alerts")), 0);
    cJSON_Delete(r);
    th_err(mgr, "unknown_unit", "alerts", "{\"unit\":\"t.nope\"}");
    th_err(mgr, "bad_request", "alerts", "{\"level\":\"orange\"}");
    th_client_destroy(&op);
    th_client_destroy(&mgr);
    th_client_destroy(&wa);
    assert_int_equal(th_disp_stop(&d), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_session_and_roles),
        cmocka_unit_test(test_create_and_get),
        cmocka_unit_test(test_list_filters_and_cursor),
        cmocka_unit_test(test_worker_lifecycle),
        cmocka_unit_test(test_finish_without_phone_and_reopen),
        cmocka_unit_test(test_return_and_dispatch),
        cmocka_unit_test(test_return_window),
        cmocka_unit_test(test_merge_cancel_supervise),
        cmocka_unit_test(test_worker_create_grid),
        cmocka_unit_test(test_inbox_and_pushes),
        cmocka_unit_test(test_units),
        cmocka_unit_test(test_events_and_alerts),
    };
    return TH_MAIN("dispatcher_ops", tests);
}
