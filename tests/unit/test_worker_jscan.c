/* test_worker_jscan.c — unit tests for workers/jscan.c (JSON read in place):
 * what it accepts and refuses, strings and numbers read as cJSON reads them,
 * checked and trusted iteration giving the same spans; the ticket scan of
 * workers/wstore.c; and the request text of workers/session.c against
 * hl_request_build. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hotline/proto.h"
#include "hotline/util.h"
#include "jscan.h"
#include "session.h"
#include "wstore.h"

static int s_valid(const char *text)
{
    js_span v;
    return js_value(text, strlen(text), &v) == 0;
}

static js_span s_val(const char *text)
{
    js_span v;
    if (js_value(text, strlen(text), &v) != 0) fail_msg("not JSON: %s", text);
    return v;
}

static void test_accepts_and_refuses(void **state)
{
    (void)state;
    static const char *const good[] = {
        "{}", "[]", " {\"a\":1} ", "[1,-2,3.5,1e3,-0.5E-2,true,false,null,\"x\"]",
        "{\"a\":{\"b\":[{\"c\":\"\\u4e2d\\n\\\"\"}]}}", "\"\\ud83d\\ude00\"", "0",
        "{\"k\" : [ 1 , { } ] }"};
    for (size_t i = 0; i < HL_ARRAY_LEN(good); i++)
        if (!s_valid(good[i])) fail_msg("refused %s", good[i]);
    static const char *const bad[] = {
        "", "{", "[1,]", "{\"a\":}", "{\"a\" 1}", "{a:1}", "[1 2]", "+1", ".5", "-", "1.", "1e",
        "\"abc", "\"\\x\"", "\"\\u12g4\"", "tru", "nul", "{\"a\":1,}", "\"a\nb\"", "[\"\\"};
    for (size_t i = 0; i < HL_ARRAY_LEN(bad); i++)
        if (s_valid(bad[i])) fail_msg("accepted %s", bad[i]);
    /* nesting is limited as cJSON limits it */
    char deep[2200];
    char deep2[2001];
    memset(deep2, '[', 1000);
    memset(deep2 + 1000, ']', 1000);
    deep2[2000] = '\0';
    assert_true(s_valid(deep2));
    memset(deep, '[', 1001);
    memset(deep + 1001, ']', 1001);
    deep[2002] = '\0';
    assert_false(s_valid(deep));
    /* never past the given length: the same text cut short is refused */
    const char *t = "{\"a\":\"bc\"}";
    js_span v;
    for (size_t n = 0; n < strlen(t); n++) assert_int_equal(js_value(t, n, &v), -1);
    assert_int_equal(js_value(t, strlen(t), &v), 0);
    assert_int_equal(v.n, strlen(t));
}

static void test_strings(void **state)
{
    (void)state;
    char buf[64];
    assert_int_equal(js_str(s_val("\"abc\""), buf, sizeof buf), 3);
    assert_string_equal(buf, "abc");
    assert_int_equal(js_str(s_val("\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\""), buf, sizeof buf), 12);
    assert_string_equal(buf, "a\"b\\c/d\b\f\n\r\t");
    assert_true(js_str(s_val("\"\\u4e2d\\u6587\""), buf, sizeof buf) > 0);
    assert_string_equal(buf, "中文");
    assert_true(js_str(s_val("\"\\ud83d\\ude00\""), buf, sizeof buf) > 0);
    assert_string_equal(buf, "\xF0\x9F\x98\x80");
    assert_true(js_str(s_val("\"\\u00e9\""), buf, sizeof buf) > 0);
    assert_string_equal(buf, "\xC3\xA9");
    /* what cJSON refuses, and what does not fit */
    assert_int_equal(js_str(s_val("\"\\ud83d\""), buf, sizeof buf), -1);
    assert_int_equal(js_str(s_val("\"\\ude00\""), buf, sizeof buf), -1);
    assert_int_equal(js_str(s_val("\"\\u0000\""), buf, sizeof buf), -1);
    assert_int_equal(js_str(s_val("\"abcd\""), buf, 4), -1);
    assert_int_equal(js_str(s_val("\"abc\""), buf, 4), 3);
    assert_int_equal(js_str(s_val("17"), buf, sizeof buf), -1);
    assert_int_equal(js_str(s_val("null"), buf, sizeof buf), -1);
}

static void test_numbers_and_bools(void **state)
{
    (void)state;
    int64_t n = -1;
    assert_int_equal(js_int(s_val("17"), &n), 0);
    assert_int_equal(n, 17);
    assert_int_equal(js_int(s_val("-42"), &n), 0);
    assert_int_equal(n, -42);
    assert_int_equal(js_int(s_val("17.0"), &n), 0);
    assert_int_equal(n, 17);
    assert_int_equal(js_int(s_val("1.7e1"), &n), 0);
    assert_int_equal(n, 17);
    assert_int_equal(js_int(s_val("9007199254740991"), &n), 0);
    assert_int_equal(n, 9007199254740991LL);
    n = 5;
    assert_int_equal(js_int(s_val("9007199254740992"), &n), -1);
    assert_int_equal(js_int(s_val("1.5"), &n), -1);
    assert_int_equal(js_int(s_val("\"17\""), &n), -1);
    assert_int_equal(js_int(s_val("true"), &n), -1);
    assert_int_equal(js_int(s_val("null"), &n), -1);
    assert_int_equal(n, 5); /* untouched when refused */
    js_span none = {0};
    assert_int_equal(js_int(none, &n), -1);
    assert_int_equal(js_bool(s_val("true")), 1);
    assert_int_equal(js_bool(s_val("false")), 0);
    assert_int_equal(js_bool(s_val("null")), -1);
    assert_int_equal(js_bool(s_val("1")), -1);
}

/* Checked and trusted iteration walk the same members. */
static void s_walk(const char *text, int trusted, char *out, size_t size)
{
    js_span root = s_val(text), k, v;
    js_iter it;
    assert_int_equal(js_obj_begin(&it, root), 0);
    if (trusted) js_trust(&it);
    out[0] = '\0';
    int rc;
    while ((rc = js_obj_next(&it, &k, &v)) > 0) {
        char piece[512];
        snprintf(piece, sizeof piece, "%.*s=%.*s;", (int)k.n, k.p, (int)v.n, v.p);
        strncat(out, piece, size - strlen(out) - 1);
    }
    assert_int_equal(rc, 0);
}

static void test_iteration(void **state)
{
    (void)state;
    const char *text = "{\"a\":1, \"b\" : \"x\\\"}y\\\\\" ,\"c\":[1,{\"d\":\"]\"}],\"e\":{},"
                       "\"f\":null,\"g\":-1.5e3,\"h\":true}";
    char checked[1024], trusted[1024];
    s_walk(text, 0, checked, sizeof checked);
    s_walk(text, 1, trusted, sizeof trusted);
    assert_string_equal(checked, "a=1;b=\"x\\\"}y\\\\\";c=[1,{\"d\":\"]\"}];e={};f=null;g=-1.5e3;"
                                 "h=true;");
    assert_string_equal(trusted, checked);

    js_span v;
    assert_int_equal(js_get(s_val(text), "c", &v), 0);
    assert_true(js_is_array(v));
    js_iter it;
    assert_int_equal(js_arr_begin(&it, v), 0);
    js_span el;
    int count = 0;
    while (js_arr_next(&it, &el) > 0) count++;
    assert_int_equal(count, 2);
    assert_int_equal(js_get(s_val(text), "zz", &v), -1);
    assert_int_equal(js_get(s_val("[1]"), "a", &v), -1);
    /* the first of two members of a name, as cJSON finds it */
    assert_int_equal(js_get(s_val("{\"a\":1,\"a\":2}"), "a", &v), 0);
    assert_int_equal(v.n, 1);
    assert_int_equal(v.p[0], '1');
    /* an escaped key matches its decoded name */
    assert_int_equal(js_get(s_val("{\"\\u0069d\":7}"), "id", &v), 0);
    assert_int_equal(v.p[0], '7');
    /* an object whose text breaks off mid-way ends in an error, not a member */
    const char *cut = "{\"a\":1,\"b\":[1,";
    js_span broken = {cut, strlen(cut)};
    assert_int_equal(js_obj_begin(&it, broken), 0);
    js_span k;
    assert_int_equal(js_obj_next(&it, &k, &v), 1);
    assert_int_equal(js_obj_next(&it, &k, &v), -1);
}

static void test_ticket_scan(void **state)
{
    (void)state;
    const char *text = "{\"id\":17,\"no\":\"20261127-000017\",\"status\":\"dispatched\","
                       "\"description\":\"广场舞\\\"音响\\\"太吵\",\"caller\":{\"lead\":\"no\"},"
                       "\"lead\":\"zc.jiayue\",\"co\":[],\"status\":\"closed\"}";
    ws_ticket_in in;
    assert_int_equal(wstore_ticket_scan(s_val(text), &in), 0);
    assert_int_equal(in.id, 17);
    assert_string_equal(in.no, "20261127-000017");
    assert_string_equal(in.status, "dispatched"); /* the first status counts */
    assert_string_equal(in.lead, "zc.jiayue");    /* not caller.lead */
    assert_ptr_equal(in.json, s_val(text).p);
    assert_int_equal(in.json_len, strlen(text));

    /* null and absent fields */
    const char *t2 = "{\"no\":null,\"id\":3,\"lead\":null}";
    assert_int_equal(wstore_ticket_scan(s_val(t2), &in), 0);
    assert_int_equal(in.id, 3);
    assert_null(in.no);
    assert_null(in.status);
    assert_null(in.lead);
    /* not a ticket */
    assert_int_equal(wstore_ticket_scan(s_val("{\"no\":\"x\"}"), &in), -1);
    assert_int_equal(wstore_ticket_scan(s_val("{\"id\":0}"), &in), -1);
    assert_int_equal(wstore_ticket_scan(s_val("{\"id\":\"5\"}"), &in), -1);
    assert_int_equal(wstore_ticket_scan(s_val("[{\"id\":5}]"), &in), -1);
    /* a lead too long for the buffer: the caller must parse the tree */
    char longer[400];
    snprintf(longer, sizeof longer, "{\"id\":5,\"lead\":\"%0200d\"}", 0);
    assert_int_equal(wstore_ticket_scan(s_val(longer), &in), -1);
}

static void test_request_text_is_what_cjson_prints(void **state)
{
    (void)state;
    static const char *const args[] = {
        "{\"ticket\":17}", "{\"ticket\":17,\"result\":\"已到现场\\\"核实\\\"处理\\n\"}",
        "{\"after\":123456789012,\"limit\":100}", "{}", NULL};
    static const char *const idems[] = {"zc.jiayue-0a1b2c3d-7", NULL};
    for (size_t i = 0; i < HL_ARRAY_LEN(args); i++)
        for (size_t j = 0; j < HL_ARRAY_LEN(idems); j++) {
            cJSON *a = args[i] ? cJSON_Parse(args[i]) : cJSON_CreateObject();
            assert_non_null(a);
            if (idems[j]) cJSON_AddStringToObject(a, "idem", idems[j]);
            char *want = hl_request_build("w3.41", "finish", a);
            hl_buf b;
            hl_buf_init(&b);
            sess_format_request(&b, "w3.41", "finish", args[i], idems[j]);
            assert_string_equal(b.data, want);
            hl_buf_free(&b);
            free(want);
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepts_and_refuses),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_numbers_and_bools),
        cmocka_unit_test(test_iteration),
        cmocka_unit_test(test_ticket_scan),
        cmocka_unit_test(test_request_text_is_what_cjson_prints),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
