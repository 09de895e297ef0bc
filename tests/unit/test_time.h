/* test_time.h — for the unit tests that reckon with instants
 * (test_calendar.c, test_deadline.c): an RFC 3339 time as ms, and
 * assert_time, which compares instants as text so that a failure shows
 * both. Header-only: each test is one binary. */
#ifndef HOTLINE_TEST_TIME_H
#define HOTLINE_TEST_TIME_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "hotline/timefmt.h"

/* The instant of an RFC 3339 time; fails the test when it is not one. */
static inline hl_ms tt_ms(const char *s)
{
    hl_ms t = 0;
    assert_int_equal(hl_time_parse(s, &t), 0);
    return t;
}

#define assert_time(got, want)                                                                     \
    do {                                                                                           \
        char g_[HL_TIME_LEN], w_[HL_TIME_LEN];                                                     \
        assert_string_equal(hl_time_format((got), g_), hl_time_format(tt_ms(want), w_));           \
    } while (0)

#endif
