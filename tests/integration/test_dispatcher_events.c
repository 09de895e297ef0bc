/* test_dispatcher_events.c — the events socket: a client that is also
 * subscribed sees each transition's event after its reply, never before;
 * what is published is exactly the durable log (`events` op); units go
 * online with their first worker and offline when their workers fall
 * silent for three heartbeats. */
#include "test_dispatcher.h"

#include <zmq.h>

/* Raw sockets, so the test sees the order in which messages arrive. */
typedef struct rawc {
    void *dealer;
    unsigned n;
} rawc;

static void *s_ctx;

static void s_raw_send(rawc *c, const char *op, const char *args, char *id, size_t idsize)
{
    snprintf(id, idsize, "r%u", ++c->n);
    char req[1000];
    snprintf(req, sizeof req, "{\"v\":1,\"id\":\"%s\",\"op\":\"%s\"%s%s}", id, op,
             args && *args ? "," : "", args ? args : "");
    assert_true(zmq_send(c->dealer, req, strlen(req), 0) == (int)strlen(req));
}

static cJSON *s_raw_recv(void *sock)
{
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, sock, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&m);
        return NULL;
    }
    cJSON *j = cJSON_ParseWithLength(zmq_msg_data(&m), zmq_msg_size(&m));
    zmq_msg_close(&m);
    return j;
}

static int s_readable(void *sock)
{
    int ev = 0;
    size_t len = sizeof ev;
    zmq_getsockopt(sock, ZMQ_EVENTS, &ev, &len);
    return (ev & ZMQ_POLLIN) != 0;
}

/* Receive one event (topic, JSON) from sub; the topic is added as _topic. */
static cJSON *s_sub_recv(void *sub)
{
    char topic[200];
    int n = zmq_recv(sub, topic, sizeof topic - 1, ZMQ_DONTWAIT);
    if (n < 0) return NULL;
    topic[n < (int)sizeof topic - 1 ? n : (int)sizeof topic - 1] = '\0';
    cJSON *j = s_raw_recv(sub);
    assert_non_null(j);
    cJSON_AddStringToObject(j, "_topic", topic);
    return j;
}

/* Send a request and wait for its reply and for the event of kind on the
 * ticket; fail if the event is seen while the reply has not arrived.
 * Returns the reply; *ticket is set from it when 0. */
static cJSON *s_step(rawc *c, void *sub, const char *op, const char *args, const char *kind,
                     int64_t *ticket)
{
    char id[32];
    s_raw_send(c, op, args, id, sizeof id);
    cJSON *reply = NULL, *event = NULL;
    int64_t end = th_mono_ms() + 10000;
    while ((!reply || !event) && th_mono_ms() < end) {
        zmq_pollitem_t items[2] = {{c->dealer, 0, ZMQ_POLLIN, 0}, {sub, 0, ZMQ_POLLIN, 0}};
        zmq_poll(items, 2, 100);
        /* look at the events first: one that is here while its reply is
         * not is the failure this test is about */
        while (s_readable(sub)) {
            cJSON *e = s_sub_recv(sub);
            if (!e) break;
            const char *k = th_gets(e, "kind");
            int mine = k && strcmp(k, kind) == 0 &&
                       (!reply || th_geti(e, "ticket.id") == th_geti(reply, "ticket.id"));
            if (mine && !event) {
                if (!reply && !s_readable(c->dealer))
                    fail_msg("event %s for %s arrived before its reply", th_gets(e, "_topic"), op);
                event = e;
            } else {
                cJSON_Delete(e);
            }
        }
        while (!reply && s_readable(c->dealer)) {
            cJSON *r = s_raw_recv(c->dealer);
            if (!r) break;
            if (th_gets(r, "re") && strcmp(th_gets(r, "re"), id) == 0) {
                if (!th_is_ok(r)) fail_msg("%s refused: %s", op, th_gets(r, "error.message"));
                reply = r;
            } else {
                cJSON_Delete(r); /* a push */
            }
        }
    }
    if (!reply || !event) fail_msg("%s: no %s within 10 s", op, !reply ? "reply" : "event");
    if (ticket && !*ticket) *ticket = th_geti(reply, "ticket.id");
    assert_int_equal(th_geti(event, "ticket.id"), th_geti(reply, "ticket.id"));
    assert_string_equal(th_gets(event, "ticket.status"), th_gets(reply, "ticket.status"));
    cJSON_Delete(event);
    return reply;
}

static rawc s_raw_new(const char *ep, const char *hello)
{
    rawc c = {zmq_socket(s_ctx, ZMQ_DEALER), 0};
    int zero = 0;
    zmq_setsockopt(c.dealer, ZMQ_LINGER, &zero, sizeof zero);
    assert_int_equal(zmq_connect(c.dealer, ep), 0);
    char id[32];
    s_raw_send(&c, "hello", hello, id, sizeof id);
    zmq_pollitem_t it = {c.dealer, 0, ZMQ_POLLIN, 0};
    assert_true(zmq_poll(&it, 1, 5000) == 1);
    cJSON *r = s_raw_recv(c.dealer);
    assert_true(th_is_ok(r));
    cJSON_Delete(r);
    return c;
}

/* Wait until the subscription has reached the publisher: events of a
 * request made after that are seen. */
static void *s_sub_ready(const char *events_ep, th_client *probe_op)
{
    void *sub = zmq_socket(s_ctx, ZMQ_SUB);
    int zero = 0;
    zmq_setsockopt(sub, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0);
    assert_int_equal(zmq_connect(sub, events_ep), 0);
    /* a note on a probe ticket publishes an event: repeat until one comes */
    int64_t probe =
        td_create_id(probe_op, "{\"category\":\"misc.other\",\"description\":\"probe\"}");
    int seen =
        TH_WAIT_UNTIL(({
                          cJSON_Delete(th_ok(probe_op, "note", "{\"ticket\":%lld,\"text\":\"p\"}",
                                             (long long)probe));
                          zmq_pollitem_t it = {sub, 0, ZMQ_POLLIN, 0};
                          zmq_poll(&it, 1, 50) == 1;
                      }),
                      5000);
    assert_true(seen);
    cJSON *e;
    int64_t quiet = th_mono_ms() + 200; /* drain the probe events */
    while (th_mono_ms() < quiet) {
        zmq_pollitem_t it = {sub, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, 50) == 1 && (e = s_sub_recv(sub))) cJSON_Delete(e);
    }
    return sub;
}

static void test_event_after_reply(void **state)
{
    s_ctx = zmq_ctx_new();
    th_disp d;
    td_start(&d, "config/test-small.json");
    th_client *probe = th_client_new(d.front, "operator", NULL);
    void *sub = s_sub_ready(d.events, probe);
    rawc op = s_raw_new(d.front, "\"role\":\"operator\",\"client\":\"ordering\"");
    rawc wa = s_raw_new(d.front, "\"role\":\"worker\",\"unit\":\"t.a\"");
    for (int i = 0; i < 25; i++) {
        int64_t t = 0;
        char args[300];
        cJSON_Delete(s_step(&op, sub, "create",
                            "\"ticket\":{\"category\":\"env.noise\",\"description\":\"order\","
                            "\"caller\":{\"phone\":\"1\"},\"location\":{\"cell\":\"C-A1\"}},"
                            "\"idem\":null",
                            i == 0 ? "created" : "repeat", &t));
        if (i > 0) continue; /* the same call again: repeat events on the same ticket */
        snprintf(args, sizeof args, "\"ticket\":%lld", (long long)t);
        cJSON_Delete(s_step(&wa, sub, "sign", args, "accepted", NULL));
        snprintf(args, sizeof args, "\"ticket\":%lld,\"text\":\"note\"", (long long)t);
        cJSON_Delete(s_step(&op, sub, "note", args, "noted", NULL));
        snprintf(args, sizeof args, "\"ticket\":%lld,\"result\":\"done\"", (long long)t);
        cJSON_Delete(s_step(&wa, sub, "finish", args, "resolved", NULL));
    }
    for (int i = 0; i < 25; i++) {
        int64_t t = 0;
        char args[300];
        cJSON_Delete(s_step(&op, sub, "create",
                            "\"ticket\":{\"category\":\"env.noise\",\"description\":\"order\","
                            "\"location\":{\"cell\":\"C-A1\"}}",
                            "created", &t));
        snprintf(args, sizeof args, "\"ticket\":%lld", (long long)t);
        cJSON_Delete(s_step(&wa, sub, "sign", args, "accepted", NULL));
        snprintf(args, sizeof args, "\"ticket\":%lld,\"result\":\"done\"", (long long)t);
        cJSON_Delete(s_step(&wa, sub, "finish", args, "closed", NULL));
    }
    zmq_close(op.dealer);
    zmq_close(wa.dealer);
    zmq_close(sub);
    zmq_ctx_term(s_ctx);
    th_client_destroy(&probe);
    assert_int_equal(th_disp_stop(&d), 0);
}

/* Note a probe ticket until sub sees the event: then the subscription is
 * live. */
static void s_sub_live(th_client *op, th_sub *sub)
{
    int64_t probe = td_create_id(op, "{\"category\":\"misc.other\",\"description\":\"probe\"}");
    cJSON *e = NULL;
    assert_true(TH_WAIT_UNTIL(({
                                  cJSON_Delete(th_ok(op, "note", "{\"ticket\":%lld,\"text\":\"p\"}",
                                                     (long long)probe));
                                  (e = th_sub_wait(sub, "ticket.noted.", 100)) != NULL;
                              }),
                              5000));
    cJSON_Delete(e);
}

/* Every published event is the log's entry, seq for seq. */
static void test_published_is_the_log(void **state)
{
    th_disp d;
    td_start(&d, "config/test-small.json");
    th_client *op = th_client_new(d.front, "operator", NULL);
    th_client *mgr = th_client_new(d.front, "manager", NULL);
    th_sub *sub = th_sub_new(d.events, "");
    /* make sure the subscription is live before counting */
    s_sub_live(op, sub);
    /* start after everything logged so far (more probe notes may follow the
     * one seen) */
    cJSON *before = th_ok(mgr, "events", "{\"after\":0,\"limit\":1000}");
    int64_t from = th_geti(before, "last");
    cJSON_Delete(before);
    th_client *wb = th_client_new(d.front, "worker", "t.b");
    int64_t t = td_create_id(op, "{\"category\":\"water.outage\",\"description\":\"停水\","
                                 "\"location\":{\"cell\":\"C-B1\"}}");
    td_ok(op, "dispatch", "{\"ticket\":%lld,\"unit\":\"t.b\",\"note\":\"改派\"}", (long long)t);
    td_ok(wb, "sign", "{\"ticket\":%lld}", (long long)t);
    td_ok(wb, "return", "{\"ticket\":%lld,\"reason\":\"错派\"}", (long long)t);
    td_ok(op, "cancel", "{\"ticket\":%lld,\"reason\":\"重复\"}", (long long)t);
    cJSON *log = th_ok(mgr, "events", "{\"after\":%lld}", (long long)from);
    const cJSON *items = th_get(log, "events");
    const char *topics[] = {"unit.online.t.b",       "ticket.created.t.water",
                            "ticket.dispatched.t.b", "ticket.accepted.t.b",
                            "ticket.returned.t.b",   "ticket.cancelled.-"};
    assert_int_equal(cJSON_GetArraySize(items), 6);
    for (int i = 0; i < 6; i++) {
        cJSON *pub = th_sub_wait(sub, "", 5000);
        assert_non_null(pub);
        /* skip probe notes still in flight */
        while (pub && th_geti(pub, "seq") <= from) {
            cJSON_Delete(pub);
            pub = th_sub_wait(sub, "", 5000);
        }
        assert_non_null(pub);
        cJSON *logged = cJSON_Duplicate(cJSON_GetArrayItem(items, i), 1);
        assert_string_equal(th_gets(pub, "_topic"), topics[i]);
        assert_string_equal(th_gets(logged, "topic"), topics[i]);
        cJSON_DeleteItemFromObject(pub, "_topic");
        cJSON_DeleteItemFromObject(logged, "topic");
        if (!cJSON_Compare(pub, logged, 1)) {
            char *a = cJSON_PrintUnformatted(pub), *b = cJSON_PrintUnformatted(logged);
            fail_msg("published %s\n  logged %s", a, b);
        }
        assert_int_equal(th_geti(pub, "seq"), from + 1 + i);
        cJSON_Delete(pub);
        cJSON_Delete(logged);
    }
    /* the shapes of the events */
    td_assert_str(items, "2.note", "改派");
    td_assert_str(items, "2.actor", "operator:test");
    td_assert_str(items, "2.ticket.lead", "t.b");
    td_assert_str(items, "2.ticket.status", "dispatched");
    td_assert_str(items, "4.note", "错派");
    td_assert_str(items, "4.ticket.lead", NULL);
    td_assert_str(items, "4.ticket.status", "triage");
    td_assert_str(items, "0.kind", "online");
    td_assert_str(items, "0.unit", "t.b");
    assert_int_equal(th_geti(items, "0.workers"), 1);
    assert_non_null(th_gets(items, "1.note")); /* how it was routed */
    cJSON_Delete(log);
    th_sub_destroy(&sub);
    th_client_destroy(&op);
    th_client_destroy(&mgr);
    th_client_destroy(&wb);
    assert_int_equal(th_disp_stop(&d), 0);
}

/* With a 1 s heartbeat: a silent unit goes offline within a few seconds,
 * one whose worker pings stays online. */
static void test_online_offline(void **state)
{
    const char *cfg = td_small_with("hb.json", "\"heartbeat\": \"5s\"", "\"heartbeat\": \"1s\"");
    th_disp d;
    td_start(&d, cfg);
    th_sub *sub = th_sub_new(d.events, "");
    th_client *op = th_client_new(d.front, "operator", NULL);
    s_sub_live(op, sub);
    th_client *wa = th_client_new(d.front, "worker", "t.a");
    cJSON *e = th_sub_wait(sub, "unit.online.t.a", 5000);
    assert_non_null(e);
    td_assert_str(e, "_topic", "unit.online.t.a");
    td_assert_str(e, "kind", "online");
    cJSON_Delete(e);
    th_client *wb = th_client_new(d.front, "worker", "t.b");
    e = th_sub_wait(sub, "unit.online.t.b", 5000);
    assert_non_null(e);
    cJSON_Delete(e);
    cJSON *r = th_ok(op, "units", "");
    assert_true(cJSON_IsTrue(th_get(r, "units.1.online")));
    assert_true(cJSON_IsTrue(th_get(r, "units.2.online")));
    cJSON_Delete(r);

    /* t.b keeps pinging, t.a falls silent */
    int64_t start = th_mono_ms(), end = start + 10000;
    cJSON *off = NULL;
    while (!off && th_mono_ms() < end) {
        cJSON_Delete(th_ok(wb, "ping", ""));
        off = th_sub_wait(sub, "unit.offline.", 300);
    }
    assert_non_null(off);
    td_assert_str(off, "_topic", "unit.offline.t.a");
    td_assert_str(off, "unit", "t.a");
    assert_int_equal(th_geti(off, "workers"), 0);
    int64_t took = th_mono_ms() - start;
    assert_true(took >= 2000); /* three heartbeats of silence, not fewer */
    cJSON_Delete(off);
    r = th_ok(op, "units", "");
    assert_true(cJSON_IsFalse(th_get(r, "units.1.online")));
    assert_int_equal(th_geti(r, "units.1.workers"), 0);
    assert_non_null(th_gets(r, "units.1.last_seen"));
    assert_true(cJSON_IsTrue(th_get(r, "units.2.online")));
    cJSON_Delete(r);
    /* t.a's worker speaks again: online again */
    cJSON_Delete(th_ok(wa, "ping", ""));
    e = th_sub_wait(sub, "unit.online.t.a", 5000);
    assert_non_null(e);
    cJSON_Delete(e);
    th_client_destroy(&wa);
    th_client_destroy(&wb);
    th_client_destroy(&op);
    th_sub_destroy(&sub);
    assert_int_equal(th_disp_stop(&d), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_event_after_reply),
        cmocka_unit_test(test_published_is_the_log),
        cmocka_unit_test(test_online_offline),
    };
    return TH_MAIN("dispatcher_events", tests);
}
