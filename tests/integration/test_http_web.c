/* test_http_web.c — the dashboard's API on a real dispatcher: info,
 * alerts, overdue by unit, the ranking, ticket lookup, and the live event
 * stream (fed after each commit; a client that does not read is dropped and
 * the dispatcher goes on). */
#include "test_dispatcher.h"
#include "test_http.h"

#include "hotline/util.h"

#include <stdlib.h>
#include <sys/socket.h>

static th_disp s_d;
static int s_port;

/* The test city with deadlines in seconds: sign 1 s, finish 2 s. */
static int s_setup(void **state)
{
    (void)state;
    static int n;
    char db[64];
    snprintf(db, sizeof db, "db%d/hotline.db", ++n);
    const char *cfg = td_small_with(
        "fast.json", "\"normal\": {\"sign\": \"4h\", \"finish\": \"5wd\", \"warn\": 0.8}",
        "\"normal\": {\"sign\": \"1s\", \"finish\": \"2s\", \"warn\": 0.8}");
    s_port = th_disp_start_http(&s_d, cfg, db);
    return 0;
}

static int s_teardown(void **state)
{
    (void)state;
    assert_int_equal(th_disp_stop(&s_d), 0);
    return 0;
}

static cJSON *s_api(const char *path, int status)
{
    th_resp *r = th_http_get(s_port, path);
    if (r->status != status) fail_msg("GET %s: %d %s", path, r->status, r->body);
    assert_non_null(strstr(th_hdr(r, "Content-Type"), "application/json"));
    cJSON *j = th_resp_json(r);
    th_resp_free(r);
    return j;
}

static const char *s_noise = "{\"category\":\"env.noise\",\"description\":\"噪音\","
                             "\"caller\":{\"phone\":\"139%05d\"},"
                             "\"location\":{\"lat\":30.005,\"lon\":100.005}}";

static char *s_create(th_client *c, int i)
{
    char t[400];
    snprintf(t, sizeof t, s_noise, i);
    cJSON *r = td_create(c, t);
    char *no = strdup(th_gets(r, "ticket.no"));
    cJSON_Delete(r);
    return no;
}

static void test_info(void **state)
{
    (void)state;
    cJSON *j = s_api("/api/info", 200);
    assert_non_null(th_gets(j, "name"));
    assert_string_equal(th_gets(j, "timezone"), "Asia/Shanghai");
    assert_false(cJSON_IsTrue(th_get(j, "secure")));
    assert_true(cJSON_GetArraySize(th_get(j, "units")) >= 6);
    assert_string_equal(th_gets(j, "units.0.id"), "t");
    assert_true(cJSON_GetArraySize(th_get(j, "categories")) == 5);
    cJSON_Delete(j);
}

static int s_has_alert(const char *no, const char *level)
{
    cJSON *j = s_api("/api/alerts?limit=100", 200);
    int found = 0;
    const cJSON *a;
    cJSON_ArrayForEach(a, th_get(j, "alerts")) found |=
        hl_streq(th_gets(a, "ticket.no"), no) && hl_streq(th_gets(a, "level"), level);
    cJSON_Delete(j);
    return found;
}

static int s_overdue_has(const char *no)
{
    cJSON *j = s_api("/api/overdue", 200);
    int found = 0;
    const cJSON *u, *t;
    cJSON_ArrayForEach(u, th_get(j, "units"))
    {
        cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(u, "tickets")) found |=
            hl_streq(th_gets(t, "no"), no) && hl_streq(th_gets(u, "unit"), "t.a") &&
            hl_streq(th_gets(u, "name"), "甲镇");
    }
    cJSON_Delete(j);
    return found;
}

static void test_alerts_overdue_stats_lookup(void **state)
{
    (void)state;
    cJSON *j = s_api("/api/alerts", 200);
    assert_int_equal(cJSON_GetArraySize(th_get(j, "alerts")), 0);
    cJSON_Delete(j);
    th_client *op = th_client_new(s_d.front, "operator", NULL);
    char *no = s_create(op, 1);
    /* the sign deadline (1 s) passes: a red alert, and the ticket is overdue */
    assert_true(TH_WAIT_UNTIL(s_has_alert(no, "red"), 10000));
    assert_true(TH_WAIT_UNTIL(s_overdue_has(no), 10000));
    j = s_api("/api/overdue", 200);
    assert_true(th_geti(j, "total") >= 1);
    assert_true(th_geti(j, "units.0.count") >= 1);
    assert_non_null(th_gets(j, "units.0.tickets.0.stage"));
    cJSON_Delete(j);

    j = s_api("/api/stats", 200);
    if (cJSON_IsTrue(th_get(j, "available"))) {
        assert_string_equal(th_gets(j, "units.0.unit"), "t.a");
        assert_int_equal(th_geti(j, "units.0.assigned"), 1);
    } else {
        assert_non_null(th_gets(j, "message"));
    }
    cJSON_Delete(j);
    j = s_api("/api/stats?since=yesterday", 400);
    cJSON_Delete(j);

    char path[100];
    snprintf(path, sizeof path, "/api/tickets/%s", no);
    j = s_api(path, 200);
    assert_string_equal(th_gets(j, "ticket.no"), no);
    assert_string_equal(th_gets(j, "ticket.events.0.kind"), "created");
    cJSON_Delete(j);
    j = s_api("/api/tickets/19990101-000001", 404);
    assert_string_equal(th_gets(j, "error.code"), "not_found");
    cJSON_Delete(j);
    j = s_api("/api/tickets/", 404);
    cJSON_Delete(j);
    free(no);
    th_client_destroy(&op);
}

/* Read from an event stream until needle shows (or ms pass). */
static int s_stream_until(th_conn *c, const char *needle, int ms)
{
    int64_t end = th_mono_ms() + ms;
    while (!strstr(c->buf, needle))
        if (!th_conn_fill(c, end)) return 0;
    return 1;
}

static void test_live_stream(void **state)
{
    (void)state;
    th_conn *s = th_conn_open(s_port);
    th_conn_sends(s, "GET /api/stream HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n");
    assert_true(s_stream_until(s, "event: hello", 5000));
    assert_non_null(strstr(s->buf, "HTTP/1.1 200"));
    assert_non_null(strstr(s->buf, "Content-Type: text/event-stream"));
    th_client *op = th_client_new(s_d.front, "operator", NULL);
    char *no = s_create(op, 2);
    char want[200];
    snprintf(want, sizeof want, "\"no\":\"%s\"", no);
    /* the ticket's creation, then its red flag, as they are committed */
    assert_true(s_stream_until(s, "data: {\"topic\":\"ticket.created.t.a\"", 5000));
    assert_non_null(strstr(s->buf, "event: ticket\nid: "));
    assert_non_null(strstr(s->buf, want));
    assert_true(s_stream_until(s, "data: {\"topic\":\"alert.red.t.a\"", 10000));
    assert_non_null(strstr(s->buf, "event: alert\nid: "));
    assert_non_null(strstr(s->buf, "retry: 2000"));
    th_conn_close(&s);

    /* a browser that reconnects gets what it missed since its last id, once,
     * in order, then the live events */
    s = th_conn_open(s_port);
    th_conn_sends(s, "GET /api/stream HTTP/1.1\r\nHost: x\r\nLast-Event-ID: 0\r\n\r\n");
    assert_true(s_stream_until(s, "data: {\"topic\":\"alert.red.t.a\"", 5000));
    const char *created = strstr(s->buf, "id: 1\ndata: {\"topic\":\"ticket.created.t.a\"");
    assert_non_null(created);
    assert_null(strstr(created + 20, "\"topic\":\"ticket.created.t.a\""));
    char *no2 = s_create(op, 3);
    snprintf(want, sizeof want, "\"no\":\"%s\"", no2);
    assert_true(s_stream_until(s, want, 5000));
    free(no2);
    free(no);
    th_client_destroy(&op);
    th_conn_close(&s);
}

static void test_slow_stream_dropped(void **state)
{
    (void)state;
    assert_int_equal(th_disp_stop(&s_d), 0);
    setenv("HOTLINE_HTTP_STREAM_QUEUE", "4096", 1);
    s_setup(NULL);
    unsetenv("HOTLINE_HTTP_STREAM_QUEUE");
    /* a reader with a tiny receive window that never reads */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int small = 2048;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)s_port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    const char *req = "GET /api/stream HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_true(send(fd, req, strlen(req), 0) > 0);
    th_client *op = th_client_new(s_d.front, "operator", NULL);
    /* many events: the stream falls behind and is dropped; requests go on */
    int dropped = 0;
    for (int i = 0; i < 3000 && !dropped; i++) {
        free(s_create(op, 100 + i));
        if (i % 50 == 49) {
            char *log = th_read(s_d.log);
            dropped = log && strstr(log, "event stream to") && strstr(log, "dropped");
            free(log);
        }
    }
    assert_true(dropped);
    td_ok(op, "ping", "");
    th_resp *r = th_http_get(s_port, "/api/info");
    assert_int_equal(r->status, 200);
    th_resp_free(r);
    close(fd);
    th_client_destroy(&op);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_info, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_alerts_overdue_stats_lookup, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_live_stream, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_slow_stream_dropped, s_setup, s_teardown),
    };
    return TH_MAIN("test_http_web", tests);
}
