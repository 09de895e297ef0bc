/* test_calendar.c — unit tests for protocol/calendar.c: working days with the
 * 2026 Chinese holidays and make-up days in Asia/Shanghai, wh/wd arithmetic,
 * time zones (including a DST zone), and the parse helpers. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "test_time.h"

#include <stdlib.h>
#include <string.h>

#include "hotline/calendar.h"

#define WH(n) ((int64_t)(n) * 3600000)

/* Asia/Shanghai with the 2026 National Day holidays and their make-up days. */
static hl_calendar *s_china(void)
{
    char *err = NULL;
    hl_calendar *cal = hl_cal_new("Asia/Shanghai", &err);
    assert_non_null(cal);
    assert_null(err);
    static const char *hol[] = {"2026-10-01", "2026-10-02", "2026-10-03", "2026-10-04",
                                "2026-10-05", "2026-10-06", "2026-10-07"};
    for (size_t i = 0; i < sizeof hol / sizeof hol[0]; i++)
        assert_int_equal(hl_cal_add_holiday(cal, hol[i]), 0);
    assert_int_equal(hl_cal_add_extra_workday(cal, "2026-09-20"), 0);
    assert_int_equal(hl_cal_add_extra_workday(cal, "2026-10-10"), 0);
    return cal;
}

static void test_defaults(void **state)
{
    (void)state;
    char *err = NULL;
    hl_calendar *cal = hl_cal_new("Asia/Shanghai", &err);
    assert_non_null(cal);
    assert_int_equal(hl_cal_day_ms(cal), WH(7) + 30 * 60000); /* 3.5 h + 4 h */
    assert_true(hl_cal_is_workday(cal, tt_ms("2026-11-27T10:00:00+08:00")));   /* Friday */
    assert_false(hl_cal_is_workday(cal, tt_ms("2026-11-28T10:00:00+08:00")));  /* Saturday */
    assert_false(hl_cal_is_workday(cal, tt_ms("2026-11-29T10:00:00+08:00")));  /* Sunday */
    assert_true(hl_cal_is_workday(cal, tt_ms("2026-10-05T10:00:00+08:00")));   /* no holidays yet */
    hl_cal_destroy(&cal);
    assert_null(cal);
    hl_cal_destroy(&cal); /* idempotent */
}

static void test_day_classification(void **state)
{
    (void)state;
    hl_calendar *cal = s_china();
    assert_true(hl_cal_is_workday(cal, tt_ms("2026-10-10T09:00:00+08:00")));  /* Sat make-up */
    assert_true(hl_cal_is_workday(cal, tt_ms("2026-09-20T09:00:00+08:00")));  /* Sun make-up */
    assert_false(hl_cal_is_workday(cal, tt_ms("2026-10-05T09:00:00+08:00"))); /* Mon holiday */
    assert_false(hl_cal_is_workday(cal, tt_ms("2026-10-03T09:00:00+08:00"))); /* Sat holiday */
    assert_false(hl_cal_is_workday(cal, tt_ms("2026-10-11T09:00:00+08:00"))); /* plain Sunday */
    assert_true(hl_cal_is_workday(cal, tt_ms("2026-10-08T09:00:00+08:00")));  /* Thu after */
    assert_true(hl_cal_is_workday(cal, tt_ms("2026-09-30T23:59:59+08:00")));
    /* 2026-09-30T16:30Z is already 10-01 in Shanghai: a holiday. */
    assert_false(hl_cal_is_workday(cal, tt_ms("2026-09-30T16:30:00Z")));
    hl_cal_destroy(&cal);
}

static void test_5wd_across_national_day(void **state)
{
    (void)state;
    hl_calendar *cal = s_china();
    hl_duration d;
    assert_int_equal(hl_duration_parse("5wd", &d), 0);
    /* 1.5 h on 09-30, 10-01..07 off, 10-08, 10-09, Sat 10-10, Mon 10-12: 31.5 h,
     * then 6 h on Tue 10-13: 3.5 h to 12:00 and 2.5 h from 13:30. */
    hl_ms t = tt_ms("2026-09-30T16:00:00+08:00");
    assert_time(hl_cal_add(cal, t, &d, 1.0), "2026-10-13T16:00:00+08:00");
    assert_time(hl_cal_add_work(cal, t, 5 * hl_cal_day_ms(cal)), "2026-10-13T16:00:00+08:00");
    /* The yellow flag at 0.8: 30 h of work lands on Mon 10-12 at 16:00. */
    assert_time(hl_cal_add(cal, t, &d, 0.8), "2026-10-12T16:00:00+08:00");
    hl_cal_destroy(&cal);
}

static void test_4wh_same_day(void **state)
{
    (void)state;
    hl_calendar *cal = s_china();
    hl_duration d;
    assert_int_equal(hl_duration_parse("4wh", &d), 0);
    /* Tue 11:00 → 12:00 is 1 h; 13:30 + 3 h = 16:30. */
    assert_time(hl_cal_add(cal, tt_ms("2026-11-24T11:00:00+08:00"), &d, 1.0),
                "2026-11-24T16:30:00+08:00");
    /* From 08:30: 3.5 h by 12:00, 0.5 h after lunch. */
    assert_time(hl_cal_add(cal, tt_ms("2026-11-24T08:30:00+08:00"), &d, 1.0),
                "2026-11-24T14:00:00+08:00");
    hl_cal_destroy(&cal);
}

static void test_4wh_over_weekend(void **state)
{
    (void)state;
    hl_calendar *cal = s_china();
    hl_duration d;
    assert_int_equal(hl_duration_parse("4wh", &d), 0);
    /* Friday evening: nothing left that day; Monday 08:30–12:00 is 3.5 h,
     * then 0.5 h after 13:30. */
    assert_time(hl_cal_add(cal, tt_ms("2026-11-27T19:00:00+08:00"), &d, 1.0),
                "2026-11-30T14:00:00+08:00");
    /* Friday 16:30: 1 h left that day, 3 h on Monday → 11:30. */
    assert_time(hl_cal_add(cal, tt_ms("2026-11-27T16:30:00+08:00"), &d, 1.0),
                "2026-11-30T11:30:00+08:00");
    hl_cal_destroy(&cal);
}

static void test_span_edges(void **state)
{
    (void)state;
    hl_calendar *cal = s_china();
    /* Ending exactly at a span end returns that span end. */
    assert_time(hl_cal_add_work(cal, tt_ms("2026-11-24T08:30:00+08:00"), WH(3) + 30 * 60000),
                "2026-11-24T12:00:00+08:00");
    assert_time(hl_cal_add_work(cal, tt_ms("2026-11-24T08:30:00+08:00"), hl_cal_day_ms(cal)),
                "2026-11-24T17:30:00+08:00");
    /* Starting at a span end: the next span. */
    assert_time(hl_cal_add_work(cal, tt_ms("2026-11-24T12:00:00+08:00"), WH(1)),
                "2026-11-24T14:30:00+08:00");
    /* Starting at the end of the day: the next working day. */
    assert_time(hl_cal_add_work(cal, tt_ms("2026-11-24T17:30:00+08:00"), hl_cal_day_ms(cal)),
                "2026-11-25T17:30:00+08:00");
    /* One millisecond. */
    assert_time(hl_cal_add_work(cal, tt_ms("2026-11-24T17:29:59.999+08:00"), 1),
                "2026-11-24T17:30:00+08:00");
    assert_time(hl_cal_add_work(cal, tt_ms("2026-11-24T17:30:00+08:00"), 1),
                "2026-11-25T08:30:00.001+08:00");
    hl_cal_destroy(&cal);
}

static void test_start_outside_hours(void **state)
{
    (void)state;
    hl_calendar *cal = s_china();
    /* Inside lunch: work starts at 13:30. */
    assert_time(hl_cal_add_work(cal, tt_ms("2026-11-24T12:30:00+08:00"), WH(1)),
                "2026-11-24T14:30:00+08:00");
    /* Before 08:30. */
    assert_time(hl_cal_add_work(cal, tt_ms("2026-11-24T07:00:00+08:00"), WH(1)),
                "2026-11-24T09:30:00+08:00");
    assert_time(hl_cal_add_work(cal, tt_ms("2026-11-24T00:00:00+08:00"), WH(4)),
                "2026-11-24T14:00:00+08:00");
    /* On a holiday: first working time is Thu 10-08 08:30. */
    assert_time(hl_cal_add_work(cal, tt_ms("2026-10-03T10:00:00+08:00"), WH(1)),
                "2026-10-08T09:30:00+08:00");
    /* After hours on Fri 10-09: the make-up Saturday 10-10 comes next. */
    assert_time(hl_cal_add_work(cal, tt_ms("2026-10-09T17:45:00+08:00"), WH(2)),
                "2026-10-10T10:30:00+08:00");
    /* Sunday 09-20 is a make-up day. */
    assert_time(hl_cal_add_work(cal, tt_ms("2026-09-19T10:00:00+08:00"), WH(1)),
                "2026-09-20T09:30:00+08:00");
    hl_cal_destroy(&cal);
}

static void test_zero_work(void **state)
{
    (void)state;
    hl_calendar *cal = s_china();
    hl_ms t = tt_ms("2026-10-03T03:17:00+08:00"); /* a holiday, at night */
    assert_int_equal(hl_cal_add_work(cal, t, 0), t);
    assert_int_equal(hl_cal_add_work(cal, t, -5), t);
    hl_duration d = {3, HL_DUR_WORKDAY};
    assert_int_equal(hl_cal_add(cal, t, &d, 0.0), t);
    hl_cal_destroy(&cal);
}

static void test_wall_clock_durations(void **state)
{
    (void)state;
    hl_calendar *cal = s_china();
    hl_ms t = tt_ms("2026-10-03T10:00:00+08:00"); /* holidays do not matter */
    hl_duration d;
    assert_int_equal(hl_duration_parse("4h", &d), 0);
    assert_int_equal(hl_cal_add(cal, t, &d, 1.0), t + WH(4));
    assert_int_equal(hl_cal_add(cal, t, &d, 0.8), t + 11520000); /* 3.2 h */
    assert_int_equal(hl_duration_parse("1d", &d), 0);
    assert_int_equal(hl_cal_add(cal, t, &d, 0.5), t + WH(12));
    assert_int_equal(hl_duration_parse("30m", &d), 0);
    assert_int_equal(hl_cal_add(cal, t, &d, 0.8), t + 24 * 60000);
    assert_int_equal(hl_duration_parse("1s", &d), 0);
    assert_int_equal(hl_cal_add(cal, t, &d, 1.0 / 3.0), t + 333);
    assert_int_equal(hl_cal_add(cal, t, &d, 2.0 / 3.0), t + 667);
    /* wh with a fraction: 0.8 × 4 wh = 3.2 h from Tue 08:30, before lunch. */
    assert_int_equal(hl_duration_parse("4wh", &d), 0);
    assert_time(hl_cal_add(cal, tt_ms("2026-11-24T08:30:00+08:00"), &d, 0.8),
                "2026-11-24T11:42:00+08:00");
    hl_cal_destroy(&cal);
}

static void test_work_between(void **state)
{
    (void)state;
    hl_calendar *cal = s_china();
    hl_ms t = tt_ms("2026-09-30T16:00:00+08:00");
    assert_int_equal(hl_cal_work_between(cal, t, tt_ms("2026-10-13T16:00:00+08:00")),
                     5 * hl_cal_day_ms(cal));
    assert_int_equal(hl_cal_work_between(cal, t, t), 0);
    assert_int_equal(hl_cal_work_between(cal, t, t - 1000), 0);
    /* Whole holiday week: nothing. */
    assert_int_equal(hl_cal_work_between(cal, tt_ms("2026-10-01T00:00:00+08:00"),
                                         tt_ms("2026-10-08T00:00:00+08:00")),
                     0);
    /* Lunch only. */
    assert_int_equal(hl_cal_work_between(cal, tt_ms("2026-11-24T12:00:00+08:00"),
                                         tt_ms("2026-11-24T13:30:00+08:00")),
                     0);
    assert_int_equal(hl_cal_work_between(cal, tt_ms("2026-11-24T11:00:00+08:00"),
                                         tt_ms("2026-11-24T14:00:00+08:00")),
                     WH(1) + 30 * 60000);

    /* work_between(t, add_work(t, x)) == x from awkward starting points. */
    static const char *starts[] = {
        "2026-09-30T16:00:00+08:00", "2026-11-24T12:30:00+08:00",
        "2026-11-27T19:00:00+08:00", "2026-10-03T10:00:00+08:00",
        "2026-09-19T23:59:59.500+08:00", "2026-11-24T08:29:59.999+08:00",
        "2026-12-31T17:00:00+08:00",
    };
    static const int64_t xs[] = {1, 999, 60000, WH(1), WH(3) + 30 * 60000, WH(4),
                                 WH(7) + 30 * 60000, WH(8), WH(37) + 30 * 60000, WH(100),
                                 WH(1000)};
    for (size_t i = 0; i < sizeof starts / sizeof starts[0]; i++) {
        hl_ms a = tt_ms(starts[i]);
        for (size_t j = 0; j < sizeof xs / sizeof xs[0]; j++) {
            hl_ms b = hl_cal_add_work(cal, a, xs[j]);
            assert_true(b > a);
            assert_int_equal(hl_cal_work_between(cal, a, b), xs[j]);
            /* ... and b is the first such instant. */
            assert_int_equal(hl_cal_work_between(cal, a, b - 1), xs[j] - 1);
        }
    }
    hl_cal_destroy(&cal);
}

static void test_local_yyyymmdd(void **state)
{
    (void)state;
    hl_calendar *cal = s_china();
    char out[9];
    hl_cal_local_yyyymmdd(cal, tt_ms("2026-11-27T16:30:00Z"), out);
    assert_string_equal(out, "20261128");
    hl_cal_local_yyyymmdd(cal, tt_ms("2026-11-27T15:59:59.999Z"), out);
    assert_string_equal(out, "20261127");
    hl_cal_local_yyyymmdd(cal, tt_ms("2026-11-27T16:00:00Z"), out);
    assert_string_equal(out, "20261128");
    hl_cal_local_yyyymmdd(cal, tt_ms("2026-12-31T16:00:00Z"), out);
    assert_string_equal(out, "20270101");
    hl_cal_destroy(&cal);

    char *err = NULL;
    cal = hl_cal_new("UTC", &err);
    assert_non_null(cal);
    hl_cal_local_yyyymmdd(cal, tt_ms("2026-11-27T16:30:00Z"), out);
    assert_string_equal(out, "20261127");
    hl_cal_destroy(&cal);
}

static void test_time_zones(void **state)
{
    (void)state;
    char *err = NULL;
    hl_calendar *cal = hl_cal_new("Mars/Olympus_Mons", &err);
    assert_null(cal);
    assert_non_null(err);
    assert_non_null(strstr(err, "Mars/Olympus_Mons"));
    assert_non_null(strstr(err, "tzdata"));
    free(err);

    static const char *bad[] = {"", "../../etc/passwd", "/etc/localtime", "Asia",
                                "zone.tab"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err = NULL;
        assert_null(hl_cal_new(bad[i], &err));
        assert_non_null(err);
        free(err);
    }
    err = NULL;
    assert_null(hl_cal_new(NULL, &err));
    assert_non_null(err);
    free(err);

    err = NULL;
    cal = hl_cal_new("UTC", &err);
    assert_non_null(cal);
    assert_null(err);
    /* Tue 2026-11-24 in UTC hours. */
    assert_time(hl_cal_add_work(cal, tt_ms("2026-11-24T11:00:00Z"), WH(4)),
                "2026-11-24T16:30:00Z");

    /* Two calendars in different zones: each re-applies its own. */
    hl_calendar *sh = s_china();
    assert_time(hl_cal_add_work(cal, tt_ms("2026-11-24T11:00:00Z"), WH(4)),
                "2026-11-24T16:30:00Z");
    assert_time(hl_cal_add_work(sh, tt_ms("2026-11-24T11:00:00+08:00"), WH(4)),
                "2026-11-24T16:30:00+08:00");
    hl_cal_destroy(&sh);
    hl_cal_destroy(&cal);
}

static void test_dst_zone(void **state)
{
    (void)state;
    char *err = NULL;
    hl_calendar *cal = hl_cal_new("America/New_York", &err);
    if (!cal) { /* minimal tzdata without America/: nothing to test here */
        free(err);
        skip();
    }
    hl_cal_span nine_to_five[] = {{9 * 60, 17 * 60}};
    assert_int_equal(hl_cal_set_hours(cal, nine_to_five, 1), 0);
    /* DST starts Sun 2026-03-08: Friday EST, Monday EDT. */
    assert_time(hl_cal_add_work(cal, tt_ms("2026-03-06T16:00:00-05:00"), WH(2)),
                "2026-03-09T10:00:00-04:00");
    /* DST ends Sun 2026-11-01. */
    assert_time(hl_cal_add_work(cal, tt_ms("2026-10-30T16:00:00-04:00"), WH(2)),
                "2026-11-02T10:00:00-05:00");

    /* Round the clock every day: the spring-forward day has 23 h, fall-back 25 h. */
    int all[] = {1, 2, 3, 4, 5, 6, 7};
    hl_cal_set_workdays(cal, all, 7);
    hl_cal_span whole[] = {{0, 1440}};
    assert_int_equal(hl_cal_set_hours(cal, whole, 1), 0);
    assert_int_equal(hl_cal_work_between(cal, tt_ms("2026-03-08T00:00:00-05:00"),
                                         tt_ms("2026-03-09T00:00:00-04:00")),
                     WH(23));
    assert_int_equal(hl_cal_work_between(cal, tt_ms("2026-11-01T00:00:00-04:00"),
                                         tt_ms("2026-11-02T00:00:00-05:00")),
                     WH(25));
    /* Working time is elapsed time: 24 h from Saturday noon EST is 13:00 EDT. */
    assert_time(hl_cal_add_work(cal, tt_ms("2026-03-07T12:00:00-05:00"), WH(24)),
                "2026-03-08T13:00:00-04:00");
    hl_cal_destroy(&cal);
}

static void test_no_working_days(void **state)
{
    (void)state;
    char *err = NULL;
    hl_calendar *cal = hl_cal_new("Asia/Shanghai", &err);
    assert_non_null(cal);
    hl_cal_set_workdays(cal, NULL, 0);
    hl_ms t = tt_ms("2026-11-24T11:00:00+08:00");
    assert_false(hl_cal_is_workday(cal, t));
    /* No working time at all: wall clock rather than an endless walk. */
    assert_int_equal(hl_cal_add_work(cal, t, WH(4)), t + WH(4));
    assert_int_equal(hl_cal_work_between(cal, t, t + WH(4)), WH(4));
    /* A single future make-up day is still found. */
    assert_int_equal(hl_cal_add_extra_workday(cal, "2026-12-05"), 0);
    assert_time(hl_cal_add_work(cal, t, WH(1)), "2026-12-05T09:30:00+08:00");
    /* Past it, wall clock again. */
    hl_ms late = tt_ms("2026-12-06T10:00:00+08:00");
    assert_int_equal(hl_cal_add_work(cal, late, WH(1)), late + WH(1));
    /* Invalid weekdays are ignored. */
    int odd[] = {0, 8, -1, 3};
    hl_cal_set_workdays(cal, odd, 4);
    assert_true(hl_cal_is_workday(cal, tt_ms("2026-11-25T11:00:00+08:00"))); /* Wed */
    assert_false(hl_cal_is_workday(cal, t));                               /* Tue */
    hl_cal_destroy(&cal);
}

static void test_many_holidays(void **state)
{
    (void)state;
    char *err = NULL;
    hl_calendar *cal = hl_cal_new("Asia/Shanghai", &err);
    assert_non_null(cal);
    /* Every day of 2026 after 01-01 up to 12-30 in reverse order, twice
     * (duplicates ignored): growth, ordering, binary search. */
    for (int rep = 0; rep < 2; rep++) {
        for (int32_t day = (int32_t)(tt_ms("2026-12-30T00:00:00Z") / 86400000);
             day > (int32_t)(tt_ms("2026-01-01T00:00:00Z") / 86400000); day--) {
            char date[HL_TIME_LEN];
            hl_time_format((hl_ms)day * 86400000, date);
            date[10] = '\0';
            assert_int_equal(hl_cal_add_holiday(cal, date), 0);
        }
    }
    assert_true(hl_cal_is_workday(cal, tt_ms("2026-01-01T10:00:00+08:00")));  /* Thu */
    assert_false(hl_cal_is_workday(cal, tt_ms("2026-06-01T10:00:00+08:00")));
    assert_true(hl_cal_is_workday(cal, tt_ms("2026-12-31T10:00:00+08:00")));  /* Thu */
    /* From 01-01 17:00, the next working time is 12-31 08:30. */
    assert_time(hl_cal_add_work(cal, tt_ms("2026-01-01T17:00:00+08:00"), WH(1)),
                "2026-12-31T09:00:00+08:00");
    hl_cal_destroy(&cal);
}

static void test_parse_helpers(void **state)
{
    (void)state;
    assert_int_equal(hl_cal_parse_hhmm("08:30"), 510);
    assert_int_equal(hl_cal_parse_hhmm("00:00"), 0);
    assert_int_equal(hl_cal_parse_hhmm("23:59"), 1439);
    assert_int_equal(hl_cal_parse_hhmm("24:00"), 1440);
    static const char *bad_hhmm[] = {"8:30", "08:3", "08-30", "24:01", "25:00", "12:60",
                                     "", "08:30 ", "0830", "ab:cd", "+8:30", " 8:30"};
    for (size_t i = 0; i < sizeof bad_hhmm / sizeof bad_hhmm[0]; i++)
        assert_int_equal(hl_cal_parse_hhmm(bad_hhmm[i]), -1);
    assert_int_equal(hl_cal_parse_hhmm(NULL), -1);

    int32_t day = 0;
    assert_int_equal(hl_cal_parse_date("1970-01-01", &day), 0);
    assert_int_equal(day, 0);
    assert_int_equal(hl_cal_parse_date("2026-10-01", &day), 0);
    assert_int_equal((int64_t)day * 86400000, tt_ms("2026-10-01T00:00:00Z"));
    assert_int_equal(hl_cal_parse_date("2028-02-29", &day), 0);
    assert_int_equal(hl_cal_parse_date("2000-02-29", &day), 0);
    static const char *bad_dates[] = {"2026-02-29", "1900-02-29", "2026-13-01", "2026-00-10",
                                      "2026-04-31", "2026-10-00", "2026-1-01", "2026/10/01",
                                      "20261001", "2026-10-01T", "", "0000-01-01",
                                      "2026-10-0a"};
    for (size_t i = 0; i < sizeof bad_dates / sizeof bad_dates[0]; i++)
        assert_int_equal(hl_cal_parse_date(bad_dates[i], &day), -1);
    assert_int_equal(hl_cal_parse_date(NULL, &day), -1);

    hl_calendar *cal = s_china();
    assert_int_equal(hl_cal_add_holiday(cal, "2026-10-32"), -1);
    assert_int_equal(hl_cal_add_extra_workday(cal, "10/10/2026"), -1);
    hl_cal_destroy(&cal);
}

static void test_set_hours(void **state)
{
    (void)state;
    hl_calendar *cal = s_china();
    hl_cal_span overlap[] = {{8 * 60, 12 * 60}, {11 * 60, 17 * 60}};
    assert_int_equal(hl_cal_set_hours(cal, overlap, 2), -1);
    hl_cal_span unordered[] = {{13 * 60, 17 * 60}, {8 * 60, 12 * 60}};
    assert_int_equal(hl_cal_set_hours(cal, unordered, 2), -1);
    hl_cal_span empty[] = {{9 * 60, 9 * 60}};
    assert_int_equal(hl_cal_set_hours(cal, empty, 1), -1);
    hl_cal_span out[] = {{-1, 60}};
    assert_int_equal(hl_cal_set_hours(cal, out, 1), -1);
    hl_cal_span late[] = {{23 * 60, 1441}};
    assert_int_equal(hl_cal_set_hours(cal, late, 1), -1);
    assert_int_equal(hl_cal_set_hours(cal, overlap, 0), -1);
    assert_int_equal(hl_cal_set_hours(cal, overlap, HL_CAL_MAX_SPANS + 1), -1);
    /* Refusals leave the old hours in place. */
    assert_int_equal(hl_cal_day_ms(cal), WH(7) + 30 * 60000);

    /* Touching spans are fine; three spans, 9 h. */
    hl_cal_span three[] = {{8 * 60, 12 * 60}, {12 * 60, 13 * 60}, {14 * 60, 18 * 60}};
    assert_int_equal(hl_cal_set_hours(cal, three, 3), 0);
    assert_int_equal(hl_cal_day_ms(cal), WH(9));
    assert_time(hl_cal_add_work(cal, tt_ms("2026-11-24T11:00:00+08:00"), WH(3)),
                "2026-11-24T15:00:00+08:00");
    hl_duration d = {1, HL_DUR_WORKDAY};
    assert_time(hl_cal_add(cal, tt_ms("2026-11-24T11:00:00+08:00"), &d, 1.0),
                "2026-11-25T11:00:00+08:00");
    hl_cal_destroy(&cal);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_day_classification),
        cmocka_unit_test(test_5wd_across_national_day),
        cmocka_unit_test(test_4wh_same_day),
        cmocka_unit_test(test_4wh_over_weekend),
        cmocka_unit_test(test_span_edges),
        cmocka_unit_test(test_start_outside_hours),
        cmocka_unit_test(test_zero_work),
        cmocka_unit_test(test_wall_clock_durations),
        cmocka_unit_test(test_work_between),
        cmocka_unit_test(test_local_yyyymmdd),
        cmocka_unit_test(test_time_zones),
        cmocka_unit_test(test_dst_zone),
        cmocka_unit_test(test_no_working_days),
        cmocka_unit_test(test_many_holidays),
        cmocka_unit_test(test_parse_helpers),
        cmocka_unit_test(test_set_hours),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
