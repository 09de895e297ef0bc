/* test_http_handheld.c — the worker's handheld page API (hotline-worker
 * --http): the unit's tickets from the local store, actions through the
 * outbox (pending while the link is down), reports, the errors, and the
 * bearer token. */
#include "test_dispatcher.h"
#include "test_http.h"

#include "hotline/util.h"

#include <signal.h>
#include <stdlib.h>

static th_disp s_d;
static pid_t s_w;
static int s_hport;

static pid_t s_worker(const char *token_file, int port)
{
    char addr[64], db[64], log[64];
    static int n;
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    snprintf(db, sizeof db, "w%d/worker.db", ++n);
    snprintf(log, sizeof log, "worker%d.log", n);
    const char *argv[] = {th_bin("hotline-worker"),
                          "--unit",
                          "t.a",
                          "--connect",
                          s_d.front,
                          "--db",
                          th_path(db),
                          "--http",
                          addr,
                          token_file ? "--http-token" : NULL,
                          token_file,
                          NULL};
    return th_spawn(th_path(log), argv);
}

static cJSON *s_state(const char *auth)
{
    th_conn *c = th_conn_try_open(s_hport);
    if (!c) return NULL;
    char req[512];
    snprintf(req, sizeof req,
             "GET /api/state HTTP/1.1\r\nHost: x\r\n%s%s%sConnection: close\r\n\r\n",
             auth ? "Authorization: Bearer " : "", auth ? auth : "", auth ? "\r\n" : "");
    th_conn_sends(c, req);
    th_resp *r = th_conn_read(c, 5000);
    th_conn_close(&c);
    cJSON *j = r->status == 200 ? th_resp_json(r) : NULL;
    th_resp_free(r);
    return j;
}

static int s_ready(void)
{
    cJSON *j = s_state(NULL);
    int up = j && cJSON_IsTrue(th_get(j, "link.up"));
    cJSON_Delete(j);
    return up;
}

static int s_setup(void **state)
{
    (void)state;
    static int n;
    char db[64];
    snprintf(db, sizeof db, "db%d/hotline.db", ++n);
    memset(&s_d, 0, sizeof s_d);
    th_disp_start(&s_d, th_src("config/test-small.json"), th_path(db), NULL);
    s_hport = th_free_port();
    s_w = s_worker(NULL, s_hport);
    assert_true(TH_WAIT_UNTIL(s_ready(), 10000));
    return 0;
}

static int s_teardown(void **state)
{
    (void)state;
    assert_int_equal(th_stop_pid(s_w, SIGTERM, 10000), 0);
    th_disp_stop(&s_d);
    return 0;
}

/* The ticket no's status in the page's state ("" when absent); the
 * pending ops in *pending (may be NULL). */
static int s_status_is(const char *no, const char *status, int pending)
{
    cJSON *j = s_state(NULL);
    int ok = 0;
    const cJSON *t;
    cJSON_ArrayForEach(t, th_get(j, "tickets"))
    {
        if (!hl_streq(th_gets(t, "no"), no)) continue;
        ok = hl_streq(th_gets(t, "status"), status) &&
             cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(t, "pending")) == pending;
    }
    cJSON_Delete(j);
    return ok;
}

static int64_t s_create(th_client *op, char *no, size_t size)
{
    cJSON *r = td_create(op, "{\"category\":\"env.noise\",\"description\":\"噪音\","
                             "\"caller\":{\"phone\":\"139\"},\"location\":{\"cell\":\"C-A1\"}}");
    snprintf(no, size, "%s", th_gets(r, "ticket.no"));
    int64_t id = th_geti(r, "ticket.id");
    cJSON_Delete(r);
    return id;
}

static th_resp *s_act(const char *json)
{
    return th_http(s_hport, "POST", "/api/act", "application/json", json);
}

static void test_page_and_state(void **state)
{
    (void)state;
    th_resp *r = th_http_get(s_hport, "/");
    assert_int_equal(r->status, 200);
    assert_non_null(strstr(r->body, "width=device-width"));
    th_resp_free(r);
    r = th_http_get(s_hport, "/handheld.js");
    assert_int_equal(r->status, 200);
    th_resp_free(r);
    cJSON *j = s_state(NULL);
    assert_non_null(j);
    assert_string_equal(th_gets(j, "unit"), "t.a");
    cJSON_Delete(j);
    /* the unit's name, learnt from the dispatcher */
    assert_true(TH_WAIT_UNTIL(({
                                  cJSON *x = s_state(NULL);
                                  int named = hl_streq(th_gets(x, "unit_name"), "甲镇");
                                  cJSON_Delete(x);
                                  named;
                              }),
                              5000));
    j = s_state(NULL);
    assert_true(cJSON_IsArray(th_get(j, "tickets")));
    assert_true(cJSON_IsArray(th_get(j, "actions")));
    assert_true(cJSON_IsArray(th_get(j, "refused")));
    cJSON_Delete(j);
}

static void test_sign_note_finish_through_the_outbox(void **state)
{
    (void)state;
    th_client *op = th_client_new(s_d.front, "operator", NULL);
    char no[40], body[300];
    int64_t id = s_create(op, no, sizeof no);
    assert_true(TH_WAIT_UNTIL(s_status_is(no, "dispatched", 0), 10000));
    snprintf(body, sizeof body, "{\"op\":\"sign\",\"ticket\":%lld}", (long long)id);
    th_resp *r = s_act(body);
    assert_int_equal(r->status, 202);
    cJSON *j = th_resp_json(r);
    assert_string_equal(th_gets(j, "state"), "pending");
    cJSON_Delete(j);
    th_resp_free(r);
    assert_true(TH_WAIT_UNTIL(s_status_is(no, "accepted", 0), 10000));
    /* by number, as a form */
    snprintf(body, sizeof body,
             "op=note&ticket=%s&text=%%E5%%B7%%B2%%E5%%88%%B0%%E7%%8E%%B0%%E5%%9C%%BA", no);
    r = th_http_post(s_hport, "/api/act", body);
    assert_int_equal(r->status, 202);
    th_resp_free(r);
    snprintf(body, sizeof body, "{\"op\":\"finish\",\"ticket\":%lld,\"text\":\"已处理\"}",
             (long long)id);
    r = s_act(body);
    assert_int_equal(r->status, 202);
    th_resp_free(r);
    assert_true(TH_WAIT_UNTIL(s_status_is(no, "resolved", 0), 10000));
    cJSON *t = th_ok(op, "get", "{\"ticket\":%lld}", (long long)id);
    assert_string_equal(th_gets(t, "ticket.result"), "已处理");
    int noted = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, th_get(t, "ticket.events")) noted |=
        hl_streq(th_gets(e, "kind"), "noted") && hl_streq(th_gets(e, "note"), "已到现场");
    assert_true(noted);
    assert_non_null(strstr(th_gets(t, "ticket.events.1.actor"), "worker:t.a"));
    cJSON_Delete(t);
    th_client_destroy(&op);
}

static void test_offline_actions_pending(void **state)
{
    (void)state;
    th_client *op = th_client_new(s_d.front, "operator", NULL);
    char no[40], body[200];
    int64_t id = s_create(op, no, sizeof no);
    th_client_destroy(&op);
    assert_true(TH_WAIT_UNTIL(s_status_is(no, "dispatched", 0), 10000));
    th_disp_stop(&s_d);
    assert_true(TH_WAIT_UNTIL(({
                                  cJSON *j = s_state(NULL);
                                  int down = j && cJSON_IsFalse(th_get(j, "link.up"));
                                  cJSON_Delete(j);
                                  down;
                              }),
                              30000));
    snprintf(body, sizeof body, "{\"op\":\"sign\",\"ticket\":%lld}", (long long)id);
    th_resp *r = s_act(body);
    assert_int_equal(r->status, 202);
    cJSON *j = th_resp_json(r);
    assert_false(cJSON_IsTrue(th_get(j, "link")));
    cJSON_Delete(j);
    th_resp_free(r);
    /* waiting in the outbox, shown on the ticket */
    assert_true(s_status_is(no, "dispatched", 1));
    j = s_state(NULL);
    assert_int_equal(cJSON_GetArraySize(th_get(j, "actions")), 1);
    assert_string_equal(th_gets(j, "actions.0.op"), "sign");
    cJSON_Delete(j);
    char cfg[512], db[512];
    snprintf(cfg, sizeof cfg, "%s", s_d.config);
    snprintf(db, sizeof db, "%s", s_d.db);
    th_disp_start(&s_d, cfg, db, NULL);
    assert_true(TH_WAIT_UNTIL(s_status_is(no, "accepted", 0), 40000));
}

static void test_report_and_errors(void **state)
{
    (void)state;
    th_resp *r =
        th_http(s_hport, "POST", "/api/report", "application/json",
                "{\"category\":\"env.litter\",\"description\":\"路边垃圾堆\",\"cell\":\"C-A1\"}");
    assert_int_equal(r->status, 202);
    th_resp_free(r);
    /* the grid report became a ticket led by the cell's unit */
    th_client *op = th_client_new(s_d.front, "operator", NULL);
    assert_true(TH_WAIT_UNTIL(({
                                  cJSON *l = th_ok(op, "list", "{}");
                                  int found =
                                      hl_streq(th_gets(l, "tickets.0.channel"), "grid") &&
                                      hl_streq(th_gets(l, "tickets.0.category"), "env.litter");
                                  cJSON_Delete(l);
                                  found;
                              }),
                              10000));
    th_client_destroy(&op);

    struct {
        const char *path, *body;
        int status;
    } bad[] = {
        {"/api/act", "{\"op\":\"explode\",\"ticket\":1}", 400},
        {"/api/act", "{\"op\":\"finish\",\"ticket\":999}", 404},
        {"/api/act", "not json", 400},
        {"/api/report", "{\"category\":\"env.litter\"}", 400},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r = th_http(s_hport, "POST", bad[i].path, "application/json", bad[i].body);
        if (r->status != bad[i].status)
            fail_msg("%s %s: %d %s", bad[i].path, bad[i].body, r->status, r->body);
        cJSON *j = th_resp_json(r);
        assert_non_null(th_gets(j, "error.message"));
        cJSON_Delete(j);
        th_resp_free(r);
    }
    r = th_http_get(s_hport, "/api/act");
    assert_int_equal(r->status, 405);
    cJSON *j = th_resp_json(r);
    assert_string_equal(th_gets(j, "error.code"), "http_405");
    cJSON_Delete(j);
    th_resp_free(r);
    r = th_http_get(s_hport, "/api/nothing");
    assert_int_equal(r->status, 404);
    j = th_resp_json(r);
    assert_string_equal(th_gets(j, "error.code"), "http_404");
    cJSON_Delete(j);
    th_resp_free(r);
    r = th_http_get(s_hport, "/nothing");
    assert_int_equal(r->status, 404);
    assert_null(strstr(r->body, "\"error\""));
    th_resp_free(r);
}

static void test_token(void **state)
{
    (void)state;
    assert_int_equal(th_stop_pid(s_w, SIGTERM, 10000), 0);
    const char *tok = th_write("hh.token", "station-token-0123456789abcdef\n");
    s_hport = th_free_port();
    s_w = s_worker(tok, s_hport);
    assert_true(TH_WAIT_UNTIL(({
                                  cJSON *j = s_state("station-token-0123456789abcdef");
                                  int ok = j != NULL;
                                  cJSON_Delete(j);
                                  ok;
                              }),
                              10000));
    th_resp *r = th_http_get(s_hport, "/api/state");
    assert_int_equal(r->status, 401);
    assert_non_null(th_hdr(r, "WWW-Authenticate"));
    th_resp_free(r);
    assert_null(s_state("wrong-token-0123456789abcdef"));
    /* the page itself is open (it asks for the token) */
    r = th_http_get(s_hport, "/");
    assert_int_equal(r->status, 200);
    th_resp_free(r);

    /* without a token, only loopback */
    const char *argv[] = {
        th_bin("hotline-worker"),     "--unit", "t.a",       "--connect", s_d.front, "--db",
        th_path("refused/worker.db"), "--http", "0.0.0.0:0", NULL};
    char *out = NULL, *err = NULL;
    assert_int_equal(th_run(argv, NULL, &out, &err, 10000), 2);
    assert_non_null(strstr(err, "--http-token"));
    free(out);
    free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_page_and_state, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_sign_note_finish_through_the_outbox, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_offline_actions_pending, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_report_and_errors, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_token, s_setup, s_teardown),
    };
    return TH_MAIN("test_http_handheld", tests);
}
