/* test_proto.c — request envelope validation, replies and pushes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "hotline/proto.h"
#include "hotline/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static hl_err parse(const char *text, hl_request *req, char *msg)
{
    return hl_request_parse(text, strlen(text), HL_MAX_MESSAGE_DEFAULT, req, msg, 256);
}

/* Expect an error code; return a copy of the recovered id (or NULL). */
static void expect_err(const char *text, hl_err want, const char *want_id, const char *msg_has)
{
    hl_request req;
    char msg[256] = "";
    hl_err e = parse(text, &req, msg);
    if (e != want) fail_msg("%s: got %s (%s), want %s", text, hl_err_code(e), msg, hl_err_code(want));
    if (want_id)
        assert_string_equal(req.id, want_id);
    else
        assert_null(req.id);
    assert_true(strlen(msg) > 0);
    if (msg_has && !strstr(msg, msg_has)) fail_msg("message \"%s\" lacks \"%s\"", msg, msg_has);
    hl_request_free(&req);
}

static void test_good_requests(void **state)
{
    (void)state;
    hl_request req;
    char msg[256];
    assert_int_equal(parse("{\"v\":1,\"id\":\"a1\",\"op\":\"ping\"}", &req, msg), HL_OK);
    assert_string_equal(req.id, "a1");
    assert_string_equal(req.op, "ping");
    assert_null(req.idem);
    assert_non_null(req.spec);
    hl_request_free(&req);

    const char *create =
        "{\"v\":1,\"id\":\"c\",\"op\":\"create\",\"idem\":\"k-1\",\"ticket\":{"
        "\"category\":\"env.noise\",\"description\":\"楼下广场舞噪音\",\"urgency\":\"urgent\","
        "\"caller\":{\"name\":\"张先生\",\"phone\":\"13800000000\"},"
        "\"location\":{\"lat\":36.0,\"lon\":119.4,\"address\":\"密州路1号\"}}}";
    assert_int_equal(parse(create, &req, msg), HL_OK);
    assert_string_equal(req.idem, "k-1");
    assert_true(req.spec->mutates);
    hl_request_free(&req);

    /* ticket by number or id; unknown extra fields are ignored */
    assert_int_equal(parse("{\"v\":1,\"id\":\"g\",\"op\":\"get\",\"ticket\":\"20261127-000001\",\"x\":1}",
                           &req, msg),
                     HL_OK);
    hl_request_free(&req);
    assert_int_equal(parse("{\"v\":1,\"id\":\"g\",\"op\":\"get\",\"ticket\":17}", &req, msg), HL_OK);
    hl_request_free(&req);
    assert_int_equal(parse("{\"v\":1,\"id\":\"x\",\"op\":\"extend\",\"ticket\":3,\"by\":\"2wd\","
                           "\"reason\":\"需要协调\"}",
                           &req, msg),
                     HL_OK);
    hl_request_free(&req);
    assert_int_equal(parse("{\"v\":1,\"id\":\"l\",\"op\":\"list\",\"status\":[\"triage\",\"closed\"],"
                           "\"overdue\":true,\"flag\":\"red\",\"limit\":1000}",
                           &req, msg),
                     HL_OK);
    hl_request_free(&req);
}

static void test_not_json(void **state)
{
    (void)state;
    expect_err("hello", HL_E_BAD_REQUEST, NULL, "JSON");
    expect_err("{\"v\":1,\"id\":\"a\",", HL_E_BAD_REQUEST, NULL, "JSON");
    expect_err("", HL_E_BAD_REQUEST, NULL, NULL);
    expect_err("[1,2,3]", HL_E_BAD_REQUEST, NULL, "object");
    expect_err("{\"v\":1,\"id\":\"a\",\"op\":\"ping\"} trailing", HL_E_BAD_REQUEST, NULL, NULL);
}

static void test_invalid_utf8(void **state)
{
    (void)state;
    expect_err("{\"v\":1,\"id\":\"a\",\"op\":\"ping\",\"x\":\"\xff\xfe\"}", HL_E_BAD_REQUEST, NULL,
               "UTF-8");
    /* overlong encoding of '/' and a UTF-16 surrogate are refused too */
    expect_err("{\"v\":1,\"id\":\"\xc0\xaf\",\"op\":\"ping\"}", HL_E_BAD_REQUEST, NULL, "UTF-8");
    expect_err("{\"v\":1,\"id\":\"\xed\xa0\x80\",\"op\":\"ping\"}", HL_E_BAD_REQUEST, NULL, "UTF-8");
    /* truncated sequence at the end */
    expect_err("{\"v\":1,\"id\":\"a\",\"op\":\"ping\"}\xe5\xad", HL_E_BAD_REQUEST, NULL, "UTF-8");
    /* an embedded NUL byte */
    hl_request req;
    char msg[256];
    const char text[] = "{\"v\":1,\"id\":\"a\0\",\"op\":\"ping\"}";
    assert_int_equal(hl_request_parse(text, sizeof text - 1, 65536, &req, msg, sizeof msg),
                     HL_E_BAD_REQUEST);
    hl_request_free(&req);
}

static void test_id(void **state)
{
    (void)state;
    expect_err("{\"v\":1,\"op\":\"ping\"}", HL_E_BAD_REQUEST, NULL, "id");
    expect_err("{\"v\":1,\"id\":\"\",\"op\":\"ping\"}", HL_E_BAD_REQUEST, NULL, "id");
    expect_err("{\"v\":1,\"id\":7,\"op\":\"ping\"}", HL_E_BAD_REQUEST, NULL, "id");
    char text[256], id65[66];
    memset(id65, 'x', 65);
    id65[65] = '\0';
    snprintf(text, sizeof text, "{\"v\":1,\"id\":\"%s\",\"op\":\"ping\"}", id65);
    expect_err(text, HL_E_BAD_REQUEST, NULL, "id");
    /* 64 characters (not bytes) is the limit: 64 Chinese characters pass */
    char id64[64 * 3 + 1] = "";
    for (int i = 0; i < 64; i++) strcat(id64, "号");
    snprintf(text, sizeof text, "{\"v\":1,\"id\":\"%s\",\"op\":\"ping\"}", id64);
    hl_request req;
    char msg[256];
    assert_int_equal(parse(text, &req, msg), HL_OK);
    hl_request_free(&req);
}

static void test_version_and_op(void **state)
{
    (void)state;
    expect_err("{\"v\":2,\"id\":\"a\",\"op\":\"ping\"}", HL_E_UNSUPPORTED_VERSION, "a", "version");
    expect_err("{\"id\":\"a\",\"op\":\"ping\"}", HL_E_BAD_REQUEST, "a", "\"v\"");
    expect_err("{\"v\":\"1\",\"id\":\"a\",\"op\":\"ping\"}", HL_E_BAD_REQUEST, "a", "\"v\"");
    expect_err("{\"v\":1,\"id\":\"a\",\"op\":\"fly\"}", HL_E_UNKNOWN_OP, "a", "fly");
    expect_err("{\"v\":1,\"id\":\"a\"}", HL_E_BAD_REQUEST, "a", "op");
    expect_err("{\"v\":1,\"id\":\"a\",\"op\":5}", HL_E_BAD_REQUEST, "a", "op");
    expect_err("{\"v\":1,\"id\":\"a\",\"op\":\"ping\",\"idem\":\"\"}", HL_E_BAD_REQUEST, "a", "idem");
}

static void test_argument_types(void **state)
{
    (void)state;
    expect_err("{\"v\":1,\"id\":\"a\",\"op\":\"hello\"}", HL_E_BAD_REQUEST, "a", "role: is required");
    expect_err("{\"v\":1,\"id\":\"a\",\"op\":\"hello\",\"role\":\"king\"}", HL_E_BAD_REQUEST, "a",
               "role: must be one of operator, manager, worker");
    expect_err("{\"v\":1,\"id\":\"a\",\"op\":\"get\",\"ticket\":true}", HL_E_BAD_REQUEST, "a",
               "ticket");
    expect_err("{\"v\":1,\"id\":\"a\",\"op\":\"get\",\"ticket\":1.5}", HL_E_BAD_REQUEST, "a", "ticket");
    expect_err("{\"v\":1,\"id\":\"a\",\"op\":\"get\",\"ticket\":0}", HL_E_BAD_REQUEST, "a", "ticket");
    expect_err("{\"v\":1,\"id\":\"a\",\"op\":\"create\",\"ticket\":{\"category\":\"x\"}}",
               HL_E_BAD_REQUEST, "a", "ticket.description: is required");
    expect_err("{\"v\":1,\"id\":\"a\",\"op\":\"create\",\"ticket\":{\"category\":1,\"description\":\"d\"}}",
               HL_E_BAD_REQUEST, "a", "ticket.category");
    expect_err("{\"v\":1,\"id\":\"a\",\"op\":\"create\",\"ticket\":{\"category\":\"c\",\"description\":\"d\","
               "\"location\":{\"lat\":\"36\"}}}",
               HL_E_BAD_REQUEST, "a", "ticket.location.lat");
    expect_err("{\"v\":1,\"id\":\"a\",\"op\":\"create\",\"ticket\":{\"category\":\"c\",\"description\":\"d\","
               "\"location\":{\"lat\":96}}}",
               HL_E_BAD_REQUEST, "a", "ticket.location.lat");
    expect_err("{\"v\":1,\"id\":\"a\",\"op\":\"create\",\"ticket\":{\"category\":\"c\",\"description\":\"d\","
               "\"urgency\":\"asap\"}}",
               HL_E_BAD_REQUEST, "a", "ticket.urgency");
    expect_err("{\"v\":1,\"id\":\"a\",\"op\":\"create\",\"ticket\":\"x\"}", HL_E_BAD_REQUEST, "a",
               "ticket: must be an object");
    expect_err("{\"v\":1,\"id\":\"a\",\"op\":\"list\",\"limit\":0}", HL_E_BAD_REQUEST, "a", "limit");
    expect_err("{\"v\":1,\"id\":\"a\",\"op\":\"list\",\"limit\":1001}", HL_E_BAD_REQUEST, "a", "limit");
    expect_err("{\"v\":1,\"id\":\"a\",\"op\":\"list\",\"status\":[\"open\"]}", HL_E_BAD_REQUEST, "a",
               "status");
    expect_err("{\"v\":1,\"id\":\"a\",\"op\":\"list\",\"overdue\":\"yes\"}", HL_E_BAD_REQUEST, "a",
               "overdue");
    expect_err("{\"v\":1,\"id\":\"a\",\"op\":\"dispatch\",\"ticket\":1,\"unit\":\"u\",\"co\":[1]}",
               HL_E_BAD_REQUEST, "a", "co");
    expect_err("{\"v\":1,\"id\":\"a\",\"op\":\"decide\",\"ticket\":1,\"approve\":\"yes\"}",
               HL_E_BAD_REQUEST, "a", "approve");
    expect_err("{\"v\":1,\"id\":\"a\",\"op\":\"stats\",\"since\":\"yesterday\"}", HL_E_BAD_REQUEST, "a",
               "since");
    expect_err("{\"v\":1,\"id\":\"a\",\"op\":\"extend\",\"ticket\":1,\"by\":\"2 weeks\",\"reason\":\"r\"}",
               HL_E_BAD_REQUEST, "a", "by");
    expect_err("{\"v\":1,\"id\":\"a\",\"op\":\"callback\",\"ticket\":1,\"result\":\"great\"}",
               HL_E_BAD_REQUEST, "a", "result");
    /* a huge array is refused by its cap, not walked */
    hl_buf b;
    hl_buf_init(&b);
    hl_buf_adds(&b, "{\"v\":1,\"id\":\"a\",\"op\":\"dispatch\",\"ticket\":1,\"unit\":\"u\",\"co\":[");
    for (int i = 0; i < 5000; i++) hl_buf_printf(&b, "%s\"u%d\"", i ? "," : "", i);
    hl_buf_adds(&b, "]}");
    expect_err(b.data, HL_E_BAD_REQUEST, "a", "co");
    hl_buf_free(&b);
}

static void test_description_length(void **state)
{
    (void)state;
    /* 4000 characters pass, 4001 do not — counted in characters, not bytes */
    hl_buf b;
    for (int n = 4000; n <= 4001; n++) {
        hl_buf_init(&b);
        hl_buf_adds(&b, "{\"v\":1,\"id\":\"a\",\"op\":\"create\",\"ticket\":{\"category\":\"c\",\"description\":\"");
        for (int i = 0; i < n; i++) hl_buf_adds(&b, "字");
        hl_buf_adds(&b, "\"}}");
        hl_request req;
        char msg[256];
        hl_err e = parse(b.data, &req, msg);
        assert_int_equal(e, n == 4000 ? HL_OK : HL_E_BAD_REQUEST);
        if (e) assert_non_null(strstr(msg, "ticket.description"));
        hl_request_free(&req);
        hl_buf_free(&b);
    }
}

static void test_too_large(void **state)
{
    (void)state;
    char *big = hl_malloc(70000);
    memset(big, ' ', 70000);
    memcpy(big, "{\"v\":1,\"id\":\"a\",\"op\":\"ping\"}", 28);
    hl_request req;
    char msg[256];
    assert_int_equal(hl_request_parse(big, 70000, 65536, &req, msg, sizeof msg), HL_E_TOO_LARGE);
    assert_null(req.id);
    assert_non_null(strstr(msg, "65536"));
    hl_request_free(&req);
    /* the same bytes within a larger limit are fine (trailing whitespace) */
    assert_int_equal(hl_request_parse(big, 70000, 80000, &req, msg, sizeof msg), HL_OK);
    hl_request_free(&req);
    free(big);
}

static void test_replies(void **state)
{
    (void)state;
    cJSON *res = cJSON_CreateObject();
    cJSON_AddNumberToObject(res, "seq", 5);
    cJSON_AddStringToObject(res, "ok", "shadowed"); /* cannot override the envelope */
    char *text = hl_reply_ok("r1", res);
    hl_reply rep;
    assert_int_equal(hl_reply_parse(text, strlen(text), &rep), 0);
    assert_true(rep.ok);
    assert_string_equal(rep.re, "r1");
    assert_int_equal(cJSON_GetObjectItem(rep.root, "seq")->valueint, 5);
    assert_int_equal(cJSON_GetObjectItem(rep.root, "v")->valueint, 1);
    hl_reply_free(&rep);
    free(text);

    text = hl_reply_error(NULL, HL_E_CONFLICT, "ticket is closed");
    assert_non_null(strstr(text, "\"re\":null"));
    assert_int_equal(hl_reply_parse(text, strlen(text), &rep), 0);
    assert_false(rep.ok);
    assert_null(rep.re);
    assert_int_equal(rep.err, HL_E_CONFLICT);
    assert_string_equal(rep.code, "conflict");
    assert_string_equal(rep.message, "ticket is closed");
    hl_reply_free(&rep);
    free(text);

    cJSON *f = cJSON_CreateObject();
    cJSON_AddStringToObject(f, "unit", "zc.jiayue");
    cJSON_AddNumberToObject(f, "seq", 9);
    text = hl_push_build("inbox", f);
    assert_string_equal(text, "{\"v\":1,\"push\":\"inbox\",\"unit\":\"zc.jiayue\",\"seq\":9}");
    assert_int_equal(hl_reply_parse(text, strlen(text), &rep), 0);
    assert_string_equal(rep.push, "inbox");
    hl_reply_free(&rep);
    free(text);

    text = hl_request_build("q", "ping", NULL);
    assert_string_equal(text, "{\"v\":1,\"id\":\"q\",\"op\":\"ping\"}");
    free(text);
    assert_int_equal(hl_reply_parse("[]", 2, &rep), -1);
    assert_int_equal(hl_reply_parse("{\"v\":1}", 7, &rep), -1);
}

static void test_error_codes(void **state)
{
    (void)state;
    static const char *codes[] = {"bad_request", "unsupported_version", "unknown_op", "forbidden",
                                  "not_found",   "conflict",            "unknown_unit",
                                  "unknown_category", "unknown_cell", "too_large", "internal"};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        hl_err e = hl_err_from_code(codes[i]);
        assert_int_not_equal(e, HL_E__COUNT);
        assert_string_equal(hl_err_code(e), codes[i]);
        assert_true(strlen(hl_strerror(e)) > 0);
    }
    assert_int_equal(hl_err_from_code("nope"), HL_E__COUNT);
    for (const hl_opspec *op = hl_ops; op->name; op++) assert_ptr_equal(hl_op_find(op->name), op);
}

/* hl_json_print and the text writers print what cJSON prints. */
static void test_print_as_cjson(void **state)
{
    (void)state;
    const char *samples[] = {
        "{}",
        "[]",
        "{\"a\":[1,-2,0,2147483647,-2147483648,2147483648,1e15,123456789012345,0.5,36.123456,"
        "119.4,1e-7,3.141592653589793,1.7976931348623157e308],\"b\":null,\"c\":true,"
        "\"d\":false}",
        "{\"s\":\"plain\",\"cjk\":\"噪音扰民 楼下广场舞\",\"esc\":\"q\\\"b\\\\s\\/n\\n"
        "r\\rt\\tb\\bf\\fu\\u0001\\u001f\\u007f\\u00e9\"}",
        "{\"nested\":{\"x\":[{\"y\":[[],{}]}],\"\":\"empty key\"},\"big\":-9007199254740991}",
    };
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
        cJSON *j = cJSON_Parse(samples[i]);
        assert_non_null(j);
        char *want = cJSON_PrintUnformatted(j);
        char *got = hl_json_print(j);
        assert_string_equal(got, want);
        free(want);
        free(got);
        cJSON_Delete(j);
    }
    /* raw items go out verbatim; the writers match the tree's print */
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "raw", cJSON_CreateRaw("{\"k\":[1,2]}"));
    char *text = hl_json_print(o);
    assert_string_equal(text, "{\"raw\":{\"k\":[1,2]}}");
    free(text);
    cJSON_Delete(o);
    hl_buf b;
    hl_buf_init(&b);
    hl_json_write_str(&b, "a\"\n\x01");
    hl_buf_addc(&b, ' ');
    hl_json_write_str(&b, NULL);
    hl_buf_addc(&b, ' ');
    hl_json_write_int(&b, -42);
    hl_buf_addc(&b, ' ');
    hl_json_write_num(&b, 0.1);
    hl_buf_addc(&b, ' ');
    hl_json_write_time(&b, 0);
    hl_buf_addc(&b, ' ');
    hl_json_write_time(&b, 1795761600123LL);
    assert_string_equal(b.data, "\"a\\\"\\n\\u0001\" null -42 0.1 null \"2026-11-27T06:40:00.123Z\"");
    hl_buf_free(&b);
    /* a reply from a printed result is the reply from the tree */
    cJSON *r = cJSON_Parse("{\"ticket\":{\"id\":17},\"repeat\":false}");
    char *rt = hl_json_print(r);
    char *a = hl_reply_ok("r1", r);
    char *c = hl_reply_ok_text("r1", rt);
    assert_string_equal(a, c);
    free(a);
    free(c);
    free(rt);
    a = hl_reply_ok("r2", NULL);
    c = hl_reply_ok_text("r2", NULL);
    assert_string_equal(a, c);
    free(a);
    free(c);
    c = hl_reply_ok_text("r3", "{}");
    assert_string_equal(c, "{\"v\":1,\"re\":\"r3\",\"ok\":true}");
    free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_requests),  cmocka_unit_test(test_not_json),
        cmocka_unit_test(test_invalid_utf8),   cmocka_unit_test(test_id),
        cmocka_unit_test(test_version_and_op), cmocka_unit_test(test_argument_types),
        cmocka_unit_test(test_description_length), cmocka_unit_test(test_too_large),
        cmocka_unit_test(test_replies),        cmocka_unit_test(test_error_codes),
        cmocka_unit_test(test_print_as_cjson),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
