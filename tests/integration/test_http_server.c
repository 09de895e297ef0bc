/* test_http_server.c — the HTTP server itself (protocol/http.c) on a real
 * dispatcher: keep-alive and pipelining, the 4xx answers (400, 404, 405,
 * 408, 411, 413, 431, 501), the idle timeout, the connection limit, HEAD,
 * the embedded dashboard files, and the loopback-only rule. */
#include "test_http.h"

#include <signal.h>
#include <stdlib.h>

static th_disp s_d;
static int s_port;

static int s_setup(void **state)
{
    (void)state;
    /* short timeouts and a small connection limit, so the tests need not wait */
    setenv("HOTLINE_HTTP_IDLE_MS", "600", 1);
    setenv("HOTLINE_HTTP_HEADER_MS", "400", 1);
    setenv("HOTLINE_HTTP_BODY_MS", "400", 1);
    setenv("HOTLINE_HTTP_MAX_CONNS", "8", 1);
    static int n;
    char db[64];
    snprintf(db, sizeof db, "db%d/hotline.db", ++n);
    s_port = th_disp_start_http(&s_d, "config/test-small.json", db);
    return 0;
}

static int s_teardown(void **state)
{
    (void)state;
    assert_int_equal(th_disp_stop(&s_d), 0);
    return 0;
}

static void test_keep_alive_two_requests_one_connection(void **state)
{
    (void)state;
    th_conn *c = th_conn_open(s_port);
    th_conn_sends(c, "GET /open311/v2/services.json HTTP/1.1\r\nHost: x\r\n\r\n");
    th_resp *a = th_conn_read(c, 5000);
    assert_int_equal(a->status, 200);
    assert_false(a->closed);
    assert_string_equal(th_hdr(a, "Connection"), "keep-alive");
    th_conn_sends(c, "GET /open311/v2/discovery.json HTTP/1.1\r\nHost: x\r\n\r\n");
    th_resp *b = th_conn_read(c, 5000);
    assert_int_equal(b->status, 200);
    assert_non_null(strstr(b->body, "\"endpoints\""));
    /* still open */
    assert_false(th_conn_closed(c, 50));
    th_resp_free(a);
    th_resp_free(b);
    th_conn_close(&c);
}

static void test_pipelined_requests_answered_in_order(void **state)
{
    (void)state;
    th_conn *c = th_conn_open(s_port);
    th_conn_sends(c, "GET /open311/v2/services.json HTTP/1.1\r\nHost: x\r\n\r\n"
                     "GET /open311/v2/services.xml HTTP/1.1\r\nHost: x\r\n\r\n"
                     "GET /nothing-here HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    th_resp *a = th_conn_read(c, 5000), *b = th_conn_read(c, 5000), *z = th_conn_read(c, 5000);
    assert_int_equal(a->status, 200);
    assert_string_equal(a->body[0] == '[' ? "json" : "?", "json");
    assert_int_equal(b->status, 200);
    assert_non_null(strstr(b->body, "<services>"));
    assert_int_equal(z->status, 404);
    assert_true(z->closed);
    assert_true(th_conn_closed(c, 3000));
    th_resp_free(a);
    th_resp_free(b);
    th_resp_free(z);
    th_conn_close(&c);
}

static void test_malformed_request_line_400_and_close(void **state)
{
    (void)state;
    th_conn *c = th_conn_open(s_port);
    th_conn_sends(c, "GET /api/info HTTP/9\r\n\r\n");
    th_resp *r = th_conn_read(c, 5000);
    assert_int_equal(r->status, 400);
    assert_true(r->closed);
    assert_true(th_conn_closed(c, 3000));
    th_resp_free(r);
    th_conn_close(&c);

    c = th_conn_open(s_port);
    th_conn_sends(c, "this is not http\r\n\r\n");
    r = th_conn_read(c, 5000);
    assert_true(r->status == 400 || r->status == 501);
    assert_true(th_conn_closed(c, 3000));
    th_resp_free(r);
    th_conn_close(&c);

    /* an absolute or odd target */
    r = th_http_get(s_port, "*");
    assert_int_equal(r->status, 400);
    th_resp_free(r);
}

static void test_unknown_method_501(void **state)
{
    (void)state;
    th_conn *c = th_conn_open(s_port);
    th_conn_sends(c, "FROB / HTTP/1.1\r\nHost: x\r\n\r\n");
    th_resp *r = th_conn_read(c, 5000);
    assert_int_equal(r->status, 501);
    th_resp_free(r);
    th_conn_close(&c);
}

static void test_not_found_404(void **state)
{
    (void)state;
    th_resp *r = th_http_get(s_port, "/no/such/page");
    assert_int_equal(r->status, 404);
    assert_non_null(strstr(r->body, "/no/such/page"));
    th_resp_free(r);
    /* the API answers in JSON */
    r = th_http_get(s_port, "/api/nothing");
    assert_int_equal(r->status, 404);
    cJSON *j = th_resp_json(r);
    assert_string_equal(th_gets(j, "error.code"), "http_404");
    cJSON_Delete(j);
    th_resp_free(r);
}

static void test_method_not_allowed_405(void **state)
{
    (void)state;
    th_resp *r = th_http_post(s_port, "/api/info", "x=1");
    assert_int_equal(r->status, 405);
    assert_non_null(th_hdr(r, "Allow"));
    assert_non_null(strstr(th_hdr(r, "Allow"), "GET"));
    th_resp_free(r);
    r = th_http(s_port, "DELETE", "/", NULL, NULL);
    assert_int_equal(r->status, 405);
    th_resp_free(r);
}

static void test_length_required_411(void **state)
{
    (void)state;
    th_conn *c = th_conn_open(s_port);
    th_conn_sends(c, "POST /open311/v2/requests.json HTTP/1.1\r\nHost: x\r\n\r\n");
    th_resp *r = th_conn_read(c, 5000);
    assert_int_equal(r->status, 411);
    /* in Open311's format under /open311/ */
    assert_non_null(strstr(r->body, "\"code\":411"));
    th_resp_free(r);
    th_conn_close(&c);
}

static void test_body_too_large_413(void **state)
{
    (void)state;
    /* announced too large: refused before the body is read */
    th_conn *c = th_conn_open(s_port);
    th_conn_sends(c, "POST /open311/v2/requests.json HTTP/1.1\r\nHost: x\r\n"
                     "Content-Type: application/x-www-form-urlencoded\r\n"
                     "Content-Length: 10000000\r\n\r\nservice_code=");
    th_resp *r = th_conn_read(c, 5000);
    assert_int_equal(r->status, 413);
    assert_true(r->closed);
    th_resp_free(r);
    th_conn_close(&c);

    /* chunked, growing past the limit */
    c = th_conn_open(s_port);
    th_conn_sends(c, "POST /open311/v2/requests.json HTTP/1.1\r\nHost: x\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n");
    char chunk[20000];
    memset(chunk, 'a', sizeof chunk);
    char head[32];
    for (int i = 0; i < 5; i++) {
        snprintf(head, sizeof head, "%zx\r\n", sizeof chunk);
        th_conn_sends(c, head);
        th_conn_send(c, chunk, sizeof chunk);
        th_conn_sends(c, "\r\n");
    }
    r = th_conn_read(c, 5000);
    assert_int_equal(r->status, 413);
    th_resp_free(r);
    th_conn_close(&c);
}

static void test_headers_too_large_431(void **state)
{
    (void)state;
    th_conn *c = th_conn_open(s_port);
    th_conn_sends(c, "GET /api/info HTTP/1.1\r\nHost: x\r\nX-Big: ");
    char big[20000];
    memset(big, 'b', sizeof big);
    th_conn_send(c, big, sizeof big);
    th_conn_sends(c, "\r\n\r\n");
    th_resp *r = th_conn_read(c, 5000);
    assert_int_equal(r->status, 431);
    th_resp_free(r);
    th_conn_close(&c);
}

static void test_slow_headers_408(void **state)
{
    (void)state;
    th_conn *c = th_conn_open(s_port);
    th_conn_sends(c, "GET /api/info HTTP/1.1\r\nHost: x\r\n");
    /* the rest never comes: the header timeout (400 ms here) answers */
    th_resp *r = th_conn_read(c, 5000);
    assert_int_equal(r->status, 408);
    assert_true(th_conn_closed(c, 5000));
    th_resp_free(r);
    th_conn_close(&c);

    /* a body that stops half way */
    c = th_conn_open(s_port);
    th_conn_sends(c, "POST /open311/v2/requests.json HTTP/1.1\r\nHost: x\r\n"
                     "Content-Length: 100\r\n\r\nservice_code=");
    r = th_conn_read(c, 5000);
    assert_int_equal(r->status, 408);
    th_resp_free(r);
    th_conn_close(&c);
}

static void test_idle_connection_closed(void **state)
{
    (void)state;
    th_conn *c = th_conn_open(s_port);
    int64_t t0 = th_mono_ms();
    /* nothing sent: closed after the idle timeout (600 ms here), silently */
    assert_true(th_conn_closed(c, 5000));
    assert_true(th_mono_ms() - t0 >= 500);
    assert_int_equal((int)c->len, 0);
    th_conn_close(&c);

    /* and after an answer, a kept-alive connection that stays quiet */
    c = th_conn_open(s_port);
    th_conn_sends(c, "GET /api/info HTTP/1.1\r\nHost: x\r\n\r\n");
    th_resp *r = th_conn_read(c, 5000);
    assert_int_equal(r->status, 200);
    assert_true(th_conn_closed(c, 5000));
    th_resp_free(r);
    th_conn_close(&c);
}

static void test_connection_limit_503(void **state)
{
    (void)state;
    th_conn *open[8];
    for (int i = 0; i < 8; i++) {
        open[i] = th_conn_open(s_port);
        /* each one proven accepted by an answer */
        th_conn_sends(open[i], "GET /api/info HTTP/1.1\r\nHost: x\r\n\r\n");
        th_resp *r = th_conn_read(open[i], 5000);
        assert_int_equal(r->status, 200);
        th_resp_free(r);
    }
    th_conn *extra = th_conn_open(s_port);
    th_resp *r = th_conn_read(extra, 5000);
    assert_int_equal(r->status, 503);
    assert_non_null(th_hdr(r, "Retry-After"));
    th_resp_free(r);
    th_conn_close(&extra);
    for (int i = 0; i < 8; i++)
        th_conn_close(&open[i]);
    /* room again once they are gone */
    assert_true(TH_WAIT_UNTIL(({
                                  th_resp *x = th_http_get(s_port, "/api/info");
                                  int ok = x->status == 200;
                                  th_resp_free(x);
                                  ok;
                              }),
                              5000));
}

static void test_head_and_static_files(void **state)
{
    (void)state;
    th_resp *r = th_http_get(s_port, "/");
    assert_int_equal(r->status, 200);
    assert_non_null(strstr(th_hdr(r, "Content-Type"), "text/html"));
    assert_non_null(th_hdr(r, "Content-Security-Policy"));
    assert_non_null(strstr(r->body, "<html"));
    size_t len = r->body_len;
    th_resp_free(r);
    r = th_http(s_port, "HEAD", "/", NULL, NULL);
    assert_int_equal(r->status, 200);
    assert_int_equal(strtoul(th_hdr(r, "Content-Length"), NULL, 10), len);
    assert_int_equal((int)r->body_len, 0);
    th_resp_free(r);
    r = th_http_get(s_port, "/app.js");
    assert_int_equal(r->status, 200);
    assert_non_null(strstr(th_hdr(r, "Content-Type"), "javascript"));
    th_resp_free(r);
    r = th_http_get(s_port, "/style.css");
    assert_int_equal(r->status, 200);
    assert_non_null(strstr(th_hdr(r, "Content-Type"), "text/css"));
    th_resp_free(r);
}

static void test_expect_continue(void **state)
{
    (void)state;
    th_conn *c = th_conn_open(s_port);
    th_conn_sends(c, "POST /open311/v2/requests.json HTTP/1.1\r\nHost: x\r\n"
                     "Content-Type: application/x-www-form-urlencoded\r\n"
                     "Expect: 100-continue\r\nContent-Length: 26\r\n\r\n");
    /* the interim answer comes before the body is sent */
    int64_t end = th_mono_ms() + 3000;
    while (!strstr(c->buf, "100 Continue") && th_conn_fill(c, end))
        ;
    assert_non_null(strstr(c->buf, "HTTP/1.1 100 Continue"));
    th_conn_sends(c, "service_code=nope&lat=1&x=");
    th_resp *r = th_conn_read(c, 5000);
    assert_int_equal(r->status, 400);
    th_resp_free(r);
    th_conn_close(&c);
}

static void test_non_loopback_refused_without_curve(void **state)
{
    (void)state;
    const char *argv[] = {th_bin("hotline-dispatcher"),
                          "-c",
                          th_src("config/test-small.json"),
                          "--db",
                          th_path("db-refused/hotline.db"),
                          "--http",
                          "0.0.0.0:0",
                          NULL};
    char *out = NULL, *err = NULL;
    int rc = th_run(argv, NULL, &out, &err, 10000);
    assert_int_equal(rc, 2);
    assert_non_null(strstr(err, "loopback"));
    free(out);
    free(err);
}

static void test_server_survives_garbage(void **state)
{
    (void)state;
    /* binary junk, a NUL in the path, a bad percent escape */
    const char *junk[] = {"\x00\x01\x02\xff\r\n\r\n", "GET /a%00b HTTP/1.1\r\nHost: x\r\n\r\n",
                          "GET /%ff%fe HTTP/1.1\r\nHost: x\r\n\r\n",
                          "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n"};
    for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++) {
        th_conn *c = th_conn_open(s_port);
        th_conn_send(c, junk[i], i == 0 ? 8 : strlen(junk[i]));
        th_resp *r = th_conn_read(c, 5000);
        /* junk where the method goes is an unknown method */
        assert_int_equal(r->status, i == 0 ? 501 : 400);
        th_resp_free(r);
        th_conn_close(&c);
    }
    th_resp *r = th_http_get(s_port, "/api/info");
    assert_int_equal(r->status, 200);
    th_resp_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_keep_alive_two_requests_one_connection, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_pipelined_requests_answered_in_order, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_malformed_request_line_400_and_close, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_unknown_method_501, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_not_found_404, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_method_not_allowed_405, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_length_required_411, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_body_too_large_413, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_headers_too_large_431, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_slow_headers_408, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_idle_connection_closed, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_connection_limit_503, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_head_and_static_files, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_expect_continue, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_non_loopback_refused_without_curve, s_setup,
                                        s_teardown),
        cmocka_unit_test_setup_teardown(test_server_survives_garbage, s_setup, s_teardown),
    };
    return TH_MAIN("test_http_server", tests);
}
