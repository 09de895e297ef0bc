/* test_worker_autopol.c — unit tests for the auto policy of workers/autopol.c:
 * parsing with its errors, delays, and the deterministic draw. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "autopol.h"
#include "hotline/utf8.h"

static void test_parse(void **state)
{
    (void)state;
    auto_policy p;
    char err[256];
    assert_int_equal(auto_policy_parse("", &p, err, sizeof err), 0);
    assert_int_equal(p.sign_ms, 2000);
    assert_int_equal(p.finish_ms, 30000);
    assert_true(p.return_p == 0.0);
    assert_int_equal(p.seed, 1);
    assert_int_equal(auto_policy_parse("sign=2s,finish=30s,return=0.02,seed=7", &p, err, sizeof err),
                     0);
    assert_int_equal(p.sign_ms, 2000);
    assert_int_equal(p.finish_ms, 30000);
    assert_true(p.return_p == 0.02);
    assert_int_equal(p.seed, 7);
    assert_int_equal(auto_policy_parse("finish=5m, sign=200ms", &p, err, sizeof err), 0);
    assert_int_equal(p.sign_ms, 200);
    assert_int_equal(p.finish_ms, 300000);
    assert_int_equal(auto_policy_parse("sign=0,finish=0,return=1", &p, err, sizeof err), 0);
    assert_int_equal(p.sign_ms, 0);
    assert_true(p.return_p == 1.0);
}

static void s_bad(const char *text, const char *want)
{
    auto_policy p;
    char err[256] = "";
    assert_int_equal(auto_policy_parse(text, &p, err, sizeof err), -1);
    if (!strstr(err, want)) fail_msg("\"%s\": \"%s\" lacks \"%s\"", text, err, want);
}

static void test_parse_errors(void **state)
{
    (void)state;
    s_bad("sign", "not key=value");
    s_bad("speed=3", "unknown key \"speed\"");
    s_bad("sign=soon", "sign=soon is not a delay");
    s_bad("finish=2wd", "finish=2wd is not a delay"); /* working time makes no sense here */
    s_bad("sign=-1s", "not a delay");
    s_bad("return=1.5", "probability");
    s_bad("return=x", "probability");
    s_bad("return=", "probability");
    s_bad("seed=-3", "non-negative integer");
    s_bad("seed=7x", "non-negative integer");
}

static void test_delays(void **state)
{
    (void)state;
    int64_t ms;
    assert_int_equal(auto_delay_parse("0", &ms), 0);
    assert_int_equal(ms, 0);
    assert_int_equal(auto_delay_parse("250ms", &ms), 0);
    assert_int_equal(ms, 250);
    assert_int_equal(auto_delay_parse("3s", &ms), 0);
    assert_int_equal(ms, 3000);
    assert_int_equal(auto_delay_parse("1h", &ms), 0);
    assert_int_equal(ms, 3600000);
    assert_int_equal(auto_delay_parse("", &ms), -1);
    assert_int_equal(auto_delay_parse("ms", &ms), -1);
    assert_int_equal(auto_delay_parse("4wh", &ms), -1);
}

static void test_draw(void **state)
{
    (void)state;
    /* the same inputs, the same draw; any input changes it */
    assert_true(auto_draw(7, 17, 1) == auto_draw(7, 17, 1));
    assert_true(auto_draw(7, 17, 1) != auto_draw(8, 17, 1));
    assert_true(auto_draw(7, 17, 1) != auto_draw(7, 18, 1));
    assert_true(auto_draw(7, 17, 1) != auto_draw(7, 17, 2));
    /* uniform enough: the share of returns is near the probability */
    auto_policy p = {0, 0, 0.2, 7};
    int n = 0;
    for (int id = 1; id <= 20000; id++) {
        double d = auto_draw(7, id, 1);
        assert_true(d >= 0.0 && d < 1.0);
        n += auto_returns(&p, id, 1);
    }
    assert_in_range(n, 3600, 4400);
    p.return_p = 0;
    for (int id = 1; id <= 1000; id++) assert_false(auto_returns(&p, id, 1));
    p.return_p = 1;
    for (int id = 1; id <= 1000; id++) assert_true(auto_returns(&p, id, 1));
}

static void test_texts(void **state)
{
    (void)state;
    for (int id = 1; id < 50; id++) {
        const char *r = auto_result_text(7, id), *q = auto_return_text(7, id);
        assert_true(r && *r && hl_utf8_valid(r, strlen(r)));
        assert_true(q && *q && hl_utf8_valid(q, strlen(q)));
        assert_true(hl_utf8_count(r) <= 2000);
        assert_string_equal(r, auto_result_text(7, id));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse), cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_delays), cmocka_unit_test(test_draw),
        cmocka_unit_test(test_texts),
    };
    return cmocka_run_group_tests_name("worker_autopol", tests, NULL, NULL);
}
