/* test_timefmt.c — RFC 3339 times with milliseconds and durations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "hotline/timefmt.h"

#include <string.h>

static void test_format(void **state)
{
    (void)state;
    char buf[HL_TIME_LEN];
    assert_string_equal(hl_time_format(0, buf), "1970-01-01T00:00:00.000Z");
    assert_string_equal(hl_time_format(1795758000123LL, buf), "2026-11-27T05:40:00.123Z");
    assert_string_equal(hl_time_format(951782400000LL, buf), "2000-02-29T00:00:00.000Z");
    assert_string_equal(hl_time_format(1798761599999LL, buf), "2026-12-31T23:59:59.999Z");
    assert_int_equal(strlen(buf), HL_TIME_LEN - 1);
}

static void test_parse(void **state)
{
    (void)state;
    hl_ms t;
    assert_int_equal(hl_time_parse("2026-11-27T05:40:00.123Z", &t), 0);
    assert_int_equal(t, 1795758000123LL);
    assert_int_equal(hl_time_parse("2026-11-27T13:40:00.123+08:00", &t), 0);
    assert_int_equal(t, 1795758000123LL);
    assert_int_equal(hl_time_parse("2026-11-27T05:40:00Z", &t), 0);
    assert_int_equal(t, 1795758000000LL);
    assert_int_equal(hl_time_parse("2026-11-27 05:40:00.1Z", &t), 0);
    assert_int_equal(t, 1795758000100LL);
    assert_int_equal(hl_time_parse("2026-11-27T05:40:00.123456Z", &t), 0);
    assert_int_equal(t, 1795758000123LL);
    assert_int_equal(hl_time_parse("2026-11-26T23:40:00-06:00", &t), 0);
    assert_int_equal(t, 1795758000000LL);
    /* round trip over a range */
    for (hl_ms x = -86400000LL * 3; x < 4102444800000LL; x += 86400000LL * 97 + 12345) {
        char buf[HL_TIME_LEN];
        if (x < 0) continue;
        assert_int_equal(hl_time_parse(hl_time_format(x, buf), &t), 0);
        assert_int_equal(t, x);
    }
}

static void test_parse_refusals(void **state)
{
    (void)state;
    static const char *bad[] = {
        "",        "2026-11-27",           "2026-11-27T05:40:00",   "2026-13-01T00:00:00Z",
        "2026-02-29T00:00:00Z", "2026-04-31T00:00:00Z", "2026-11-27T24:00:00Z", "2026-11-27T05:60:00Z",
        "2026-11-27T05:40:00.Z", "2026-11-27T05:40:00+8", "2026-11-27T05:40:00Zjunk", "yesterday",
        "26-11-27T05:40:00Z", "2026-11-27X05:40:00Z",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        hl_ms t = 42;
        if (hl_time_parse(bad[i], &t) == 0) fail_msg("accepted \"%s\"", bad[i]);
        assert_int_equal(t, 42); /* out-param untouched on failure */
    }
    assert_int_equal(hl_time_parse(NULL, NULL), -1);
}

static void test_durations(void **state)
{
    (void)state;
    struct {
        const char *text;
        int64_t n;
        hl_dur_unit unit;
        int64_t wall;
    } good[] = {
        {"90s", 90, HL_DUR_SEC, 90000},       {"30m", 30, HL_DUR_MIN, 1800000},
        {"4h", 4, HL_DUR_HOUR, 14400000},     {"2d", 2, HL_DUR_DAY, 172800000},
        {"4wh", 4, HL_DUR_WORKHOUR, -1},      {"5wd", 5, HL_DUR_WORKDAY, -1},
        {"10wd", 10, HL_DUR_WORKDAY, -1},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        hl_duration d;
        assert_int_equal(hl_duration_parse(good[i].text, &d), 0);
        assert_int_equal(d.n, good[i].n);
        assert_int_equal(d.unit, good[i].unit);
        assert_int_equal(hl_duration_wall_ms(&d), good[i].wall);
        assert_int_equal(hl_duration_is_working(&d), good[i].wall < 0);
        char buf[32];
        assert_string_equal(hl_duration_format(&d, buf, sizeof buf), good[i].text);
    }
    static const char *bad[] = {"",   "0s",  "-5s", "5",   "s",   "5 s",  "5x",   "5sec",
                                "+5s", "1.5h", "5wdd", "99999999999s", "4000d", " 5s", "5S"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        hl_duration d = {7, HL_DUR_SEC};
        if (hl_duration_parse(bad[i], &d) == 0) fail_msg("accepted \"%s\"", bad[i]);
        assert_int_equal(d.n, 7);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_parse_refusals),
        cmocka_unit_test(test_durations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
