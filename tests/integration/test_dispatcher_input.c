/* test_dispatcher_input.c — untrusted input: every malformed request gets
 * its error reply (with "re" = the id when the id was usable, else null)
 * and the dispatcher goes on serving; nothing half-applied remains. */
#include "test_dispatcher.h"

static th_disp s_d;
static th_client *s_c;

static int s_setup(void **state)
{
    td_start(&s_d, "config/test-small.json");
    s_c = th_client_new(s_d.front, "operator", NULL);
    return 0;
}

static int s_teardown(void **state)
{
    th_client_destroy(&s_c);
    assert_int_equal(th_disp_stop(&s_d), 0);
    return 0;
}

/* Send raw bytes; expect error code with re = want_re (NULL: null); then
 * a ping must succeed. */
static void s_bad(const void *data, size_t len, const char *code, const char *want_re)
{
    th_send_raw(s_c, data, len);
    cJSON *r = th_recv_reply(s_c, 5000);
    if (!r) fail_msg("no reply to a bad request (expected %s)", code);
    const char *got = th_err_code(r);
    if (!got || strcmp(got, code) != 0) {
        char *t = cJSON_PrintUnformatted(r);
        fail_msg("expected %s, got %s", code, t);
    }
    assert_true(cJSON_IsFalse(th_get(r, "ok")));
    assert_int_equal(th_geti(r, "v"), 1);
    const char *msg = th_gets(r, "error.message");
    assert_true(msg && *msg);
    const cJSON *re = th_get(r, "re");
    assert_non_null(re);
    if (want_re) {
        if (!cJSON_IsString(re) || strcmp(re->valuestring, want_re) != 0)
            fail_msg("re: expected \"%s\"", want_re);
    } else if (!cJSON_IsNull(re)) {
        fail_msg("re: expected null");
    }
    cJSON_Delete(r);
    cJSON_Delete(th_ok(s_c, "ping", ""));
}

static void s_bads(const char *text, const char *code, const char *want_re)
{
    s_bad(text, strlen(text), code, want_re);
}

/* The next reply (5 s); fails the test when none comes. */
static cJSON *s_reply(void)
{
    cJSON *r = th_recv_reply(s_c, 5000);
    assert_non_null(r);
    return r;
}

/* Send raw bytes that must be served; returns the ok reply. */
static cJSON *s_good(const void *data, size_t len)
{
    th_send_raw(s_c, data, len);
    cJSON *r = s_reply();
    assert_true(th_is_ok(r));
    return r;
}

/* A create request (with id) whose description is chars times 字; caller frees. */
static char *s_create_long(const char *id, int chars)
{
    size_t n = (size_t)chars * 3 + 200;
    char *text = malloc(n);
    size_t k = (size_t)snprintf(text, n,
                                "{\"v\":1,\"id\":\"%s\",\"op\":\"create\",\"ticket\":{"
                                "\"category\":\"misc.other\",\"description\":\"",
                                id);
    for (int i = 0; i < chars; i++)
        k += (size_t)snprintf(text + k, n - k, "字");
    snprintf(text + k, n - k, "\"}}");
    return text;
}

static void test_not_json(void **state)
{
    s_bads("hello there", "bad_request", NULL);
    s_bads("", "bad_request", NULL);
    s_bads("{\"v\":1,\"id\":\"a\",\"op\":\"ping\"", "bad_request", NULL);
    s_bads("{\"v\":1,\"id\":\"a\",\"op\":\"ping\"} trailing", "bad_request", NULL);
    s_bads("[1,2,3]", "bad_request", NULL);
    s_bads("[{\"v\":1,\"id\":\"a\",\"op\":\"ping\"}]", "bad_request", NULL);
    s_bads("\"just a string\"", "bad_request", NULL);
    s_bads("null", "bad_request", NULL);
    /* nesting far past any sane depth */
    static char deep[20001];
    memset(deep, '[', 10000);
    memset(deep + 10000, ']', 10000);
    s_bad(deep, 20000, "bad_request", NULL);
}

static void test_envelope(void **state)
{
    s_bads("{\"v\":1,\"op\":\"ping\"}", "bad_request", NULL);
    s_bads("{\"v\":1,\"id\":\"\",\"op\":\"ping\"}", "bad_request", NULL);
    s_bads("{\"v\":1,\"id\":17,\"op\":\"ping\"}", "bad_request", NULL);
    char text[300];
    char id65[66];
    memset(id65, 'x', 65);
    id65[65] = '\0';
    snprintf(text, sizeof text, "{\"v\":1,\"id\":\"%s\",\"op\":\"ping\"}", id65);
    s_bads(text, "bad_request", NULL);
    /* 64 characters are fine, also when they are Chinese (192 bytes) */
    char id64[64 * 3 + 1] = "";
    for (int i = 0; i < 64; i++)
        strcat(id64, "号");
    snprintf(text, sizeof text, "{\"v\":1,\"id\":\"%s\",\"op\":\"ping\"}", id64);
    cJSON *r = s_good(text, strlen(text));
    assert_string_equal(th_gets(r, "re"), id64);
    cJSON_Delete(r);
    /* version */
    s_bads("{\"v\":2,\"id\":\"v2\",\"op\":\"ping\"}", "unsupported_version", "v2");
    s_bads("{\"v\":0,\"id\":\"v0\",\"op\":\"ping\"}", "unsupported_version", "v0");
    s_bads("{\"id\":\"nov\",\"op\":\"ping\"}", "bad_request", "nov");
    s_bads("{\"v\":\"1\",\"id\":\"sv\",\"op\":\"ping\"}", "bad_request", "sv");
    /* op */
    s_bads("{\"v\":1,\"id\":\"u1\",\"op\":\"teleport\"}", "unknown_op", "u1");
    s_bads("{\"v\":1,\"id\":\"u2\"}", "bad_request", "u2");
    s_bads("{\"v\":1,\"id\":\"u3\",\"op\":42}", "bad_request", "u3");
    /* idem */
    char idem65[200];
    snprintf(
        idem65, sizeof idem65,
        "{\"v\":1,\"id\":\"i1\",\"op\":\"cancel\",\"ticket\":1,\"reason\":\"x\",\"idem\":\"%s\"}",
        id65);
    s_bads(idem65, "bad_request", "i1");
    s_bads("{\"v\":1,\"id\":\"i2\",\"op\":\"cancel\",\"ticket\":1,\"reason\":\"x\",\"idem\":5}",
           "bad_request", "i2");
}

static void test_argument_types(void **state)
{
    s_bads("{\"v\":1,\"id\":\"a1\",\"op\":\"get\",\"ticket\":true}", "bad_request", "a1");
    s_bads("{\"v\":1,\"id\":\"a2\",\"op\":\"get\",\"ticket\":-5}", "bad_request", "a2");
    s_bads("{\"v\":1,\"id\":\"a3\",\"op\":\"get\",\"ticket\":1.5}", "bad_request", "a3");
    s_bads("{\"v\":1,\"id\":\"a4\",\"op\":\"get\",\"ticket\":1e300}", "bad_request", "a4");
    s_bads("{\"v\":1,\"id\":\"a5\",\"op\":\"get\",\"ticket\":\"\"}", "bad_request", "a5");
    s_bads("{\"v\":1,\"id\":\"a6\",\"op\":\"get\"}", "bad_request", "a6");
    s_bads("{\"v\":1,\"id\":\"a7\",\"op\":\"list\",\"limit\":\"5\"}", "bad_request", "a7");
    s_bads("{\"v\":1,\"id\":\"a8\",\"op\":\"list\",\"limit\":1001}", "bad_request", "a8");
    s_bads("{\"v\":1,\"id\":\"a9\",\"op\":\"list\",\"overdue\":\"yes\"}", "bad_request", "a9");
    s_bads("{\"v\":1,\"id\":\"b1\",\"op\":\"create\",\"ticket\":{\"category\":\"env.noise\","
           "\"description\":5}}",
           "bad_request", "b1");
    s_bads("{\"v\":1,\"id\":\"b2\",\"op\":\"create\",\"ticket\":\"env.noise\"}", "bad_request",
           "b2");
    s_bads("{\"v\":1,\"id\":\"b3\",\"op\":\"create\",\"ticket\":{\"category\":\"env.noise\","
           "\"description\":\"x\",\"location\":{\"lat\":\"30\",\"lon\":100}}}",
           "bad_request", "b3");
    s_bads("{\"v\":1,\"id\":\"b4\",\"op\":\"create\",\"ticket\":{\"category\":\"env.noise\","
           "\"description\":\"x\",\"location\":{\"lat\":91,\"lon\":100}}}",
           "bad_request", "b4");
    s_bads("{\"v\":1,\"id\":\"b5\",\"op\":\"create\",\"ticket\":{\"category\":\"env.noise\","
           "\"description\":\"x\",\"caller\":[\"张三\"]}}",
           "bad_request", "b5");
    s_bads("{\"v\":1,\"id\":\"b6\",\"op\":\"dispatch\",\"ticket\":1,\"unit\":\"t.a\",\"co\":[1]}",
           "bad_request", "b6");
    s_bads("{\"v\":1,\"id\":\"b7\",\"op\":\"hello\",\"role\":\"operator\",\"unit\":7}",
           "bad_request", "b7");
    /* a huge array is refused without being looked at item by item */
    size_t n = 60000;
    char *big = malloc(n);
    size_t k = (size_t)snprintf(big, n, "{\"v\":1,\"id\":\"b8\",\"op\":\"list\",\"status\":[");
    while (k + 20 < n)
        k += (size_t)snprintf(big + k, n - k, "\"triage\",");
    snprintf(big + k - 1, n - k + 1, "]}");
    s_bads(big, "bad_request", "b8");
    free(big);
}

static void test_sizes_and_text(void **state)
{
    /* 4001 characters of 字 (12003 bytes, under max_message): refused */
    char *text = s_create_long("d1", 4001);
    s_bads(text, "bad_request", "d1");
    free(text);
    /* 4000 are accepted */
    text = s_create_long("d2", 4000);
    cJSON *r = s_good(text, strlen(text));
    assert_int_equal(strlen(th_gets(r, "ticket.description")), 12000);
    cJSON_Delete(r);
    free(text);

    /* invalid UTF-8: a stray byte, an overlong '/', a surrogate, a NUL */
    const char bad1[] = "{\"v\":1,\"id\":\"e1\",\"op\":\"ping\",\"x\":\"\xff\"}";
    s_bad(bad1, sizeof bad1 - 1, "bad_request", NULL);
    const char bad2[] = "{\"v\":1,\"id\":\"e2\",\"op\":\"ping\",\"x\":\"\xc0\xaf\"}";
    s_bad(bad2, sizeof bad2 - 1, "bad_request", NULL);
    const char bad3[] = "{\"v\":1,\"id\":\"e3\",\"op\":\"ping\",\"x\":\"\xed\xa0\x80\"}";
    s_bad(bad3, sizeof bad3 - 1, "bad_request", NULL);
    const char bad4[] = "{\"v\":1,\"id\":\"e4\",\"op\":\"ping\"}\0";
    s_bad(bad4, sizeof bad4, "bad_request", NULL);
    const char bad5[] = "{\"v\":1,\"id\":\"e5\",\"op\":\"create\",\"ticket\":{\"category\":"
                        "\"misc.other\",\"description\":\"\xe5\xad\"}}";
    s_bad(bad5, sizeof bad5 - 1, "bad_request", NULL);

    /* a frame over max_message (65536): too_large, whatever it holds */
    size_t big = 65537;
    char *frame = malloc(big + 1);
    size_t k = (size_t)snprintf(frame, big + 1, "{\"v\":1,\"id\":\"f1\",\"op\":\"ping\",\"pad\":\"");
    memset(frame + k, 'p', big - k - 2);
    memcpy(frame + big - 2, "\"}", 2);
    s_bad(frame, big, "too_large", NULL);
    /* the same at exactly the limit is served */
    frame[65534] = '"';
    frame[65535] = '}';
    cJSON_Delete(s_good(frame, 65536));
    free(frame);
}

static void test_multi_frame(void **state)
{
    const char *frames[] = {"{\"v\":1,\"id\":\"m1\",\"op\":\"ping\"}", "second"};
    th_send_frames(s_c, 2, frames);
    cJSON *r = s_reply();
    assert_string_equal(th_err_code(r), "bad_request");
    assert_true(cJSON_IsNull(th_get(r, "re")));
    assert_non_null(strstr(th_gets(r, "error.message"), "one frame"));
    cJSON_Delete(r);
    const char *three[] = {"a", "b", "{\"v\":1,\"id\":\"m2\",\"op\":\"ping\"}"};
    th_send_frames(s_c, 3, three);
    r = s_reply();
    assert_string_equal(th_err_code(r), "bad_request");
    cJSON_Delete(r);
    /* the frames were drained: the next reply answers the next request */
    r = th_ok(s_c, "ping", "");
    cJSON_Delete(r);
}

/* None of the refusals above made a ticket or an event. */
static void test_nothing_half_applied(void **state)
{
    th_client *mgr = th_client_new(s_d.front, "manager", NULL);
    cJSON *r = th_ok(mgr, "list", "{}");
    assert_int_equal(cJSON_GetArraySize(th_get(r, "tickets")), 1); /* d2 only */
    cJSON_Delete(r);
    assert_int_equal(td_event_count(mgr), 1);
    th_client_destroy(&mgr);
}

int main(void)
{
    /* one dispatcher serves the whole file: it must survive all of it */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_not_json, s_setup),
        cmocka_unit_test(test_envelope),
        cmocka_unit_test(test_argument_types),
        cmocka_unit_test(test_sizes_and_text),
        cmocka_unit_test(test_multi_frame),
        cmocka_unit_test_teardown(test_nothing_half_applied, s_teardown),
    };
    return TH_MAIN("dispatcher_input", tests);
}
