/* test_http.c — the pure parts of the HTTP server (protocol/http.c):
 * percent-decoding, form values, listen addresses, the loopback rule. */
#include "hotline/http.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static void test_decode(void **state)
{
    (void)state;
    char a[] = "a%20b+c%2Bd%e4%b8%ad";
    assert_int_equal(hl_http_decode(a, 1), strlen("a b c+d中"));
    assert_string_equal(a, "a b c+d中");
    char b[] = "a+b%zz%4";
    hl_http_decode(b, 0);
    assert_string_equal(b, "a+b%zz%4"); /* bad escapes stay as they are */
}

static void test_form_value(void **state)
{
    (void)state;
    const char *f = "service_code=env.noise&lat=30.5&description=%E5%99%AA%E9%9F%B3+at+night&"
                    "empty=&flag&x%5Fy=1";
    char *v = hl_http_form_value(f, strlen(f), "service_code", NULL);
    assert_string_equal(v, "env.noise");
    free(v);
    v = hl_http_form_value(f, strlen(f), "description", NULL);
    assert_string_equal(v, "噪音 at night");
    free(v);
    v = hl_http_form_value(f, strlen(f), "empty", NULL);
    assert_string_equal(v, "");
    free(v);
    v = hl_http_form_value(f, strlen(f), "flag", NULL);
    assert_string_equal(v, "");
    free(v);
    v = hl_http_form_value(f, strlen(f), "x_y", NULL); /* names are decoded too */
    assert_string_equal(v, "1");
    free(v);
    assert_null(hl_http_form_value(f, strlen(f), "lat2", NULL));
    assert_null(hl_http_form_value(f, strlen(f), "la", NULL));
    /* only len bytes count */
    v = hl_http_form_value(f, strlen("service_code=env"), "service_code", NULL);
    assert_string_equal(v, "env");
    free(v);
    /* not UTF-8, or a NUL, after decoding: refused */
    int bad = 0;
    const char *g = "a=%ff%fe&b=x%00y";
    assert_null(hl_http_form_value(g, strlen(g), "a", &bad));
    assert_true(bad);
    bad = 0;
    assert_null(hl_http_form_value(g, strlen(g), "b", &bad));
    assert_true(bad);
}

static void test_addresses(void **state)
{
    (void)state;
    struct sockaddr_storage sa;
    char *err = NULL;
    assert_int_equal(hl_http_parse_addr("127.0.0.1:7452", &sa, &err), 0);
    assert_int_equal(sa.ss_family, AF_INET);
    assert_int_equal(hl_http_parse_addr("127.0.0.1:*", &sa, &err), 0);
    assert_int_equal(hl_http_parse_addr("localhost:0", &sa, &err), 0);
    assert_int_equal(hl_http_parse_addr("*:8080", &sa, &err), 0);
    assert_int_equal(hl_http_parse_addr("[::1]:8080", &sa, &err), 0);
    assert_int_equal(sa.ss_family, AF_INET6);
    const char *bad[] = {"127.0.0.1",    "127.0.0.1:",      "127.0.0.1:70000",
                         "127.0.0.1:-1", "host.example:80", "[::1:80",
                         ":80",          "127.0.0.1:8x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err = NULL;
        assert_int_equal(hl_http_parse_addr(bad[i], &sa, &err), -1);
        assert_non_null(err);
        assert_non_null(strstr(err, "HTTP address"));
        free(err);
    }
    assert_true(hl_http_addr_local("127.0.0.1:1"));
    assert_true(hl_http_addr_local("127.8.9.10:1"));
    assert_true(hl_http_addr_local("localhost:1"));
    assert_true(hl_http_addr_local("[::1]:1"));
    assert_false(hl_http_addr_local("0.0.0.0:1"));
    assert_false(hl_http_addr_local("*:1"));
    assert_false(hl_http_addr_local("10.0.0.1:1"));
    assert_false(hl_http_addr_local("[::]:1"));
    assert_false(hl_http_addr_local(NULL));
}

static void test_status_text(void **state)
{
    (void)state;
    assert_string_equal(hl_http_status_text(413), "Content Too Large");
    assert_string_equal(hl_http_status_text(431), "Request Header Fields Too Large");
    assert_string_equal(hl_http_status_text(799), "Unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode),
        cmocka_unit_test(test_form_value),
        cmocka_unit_test(test_addresses),
        cmocka_unit_test(test_status_text),
    };
    return cmocka_run_group_tests_name("http", tests, NULL, NULL);
}
