/* hotline/calendar.h — the working-time calendar: working weekdays, working
 * hours within a day, holidays and make-up working days (调休), in one IANA
 * time zone. Deadlines in wh/wd are computed here. */
#ifndef HOTLINE_CALENDAR_H
#define HOTLINE_CALENDAR_H

#include "hotline/timefmt.h"

#define HL_CAL_MAX_SPANS 8

typedef struct hl_calendar hl_calendar;

/* A span of working time within a day, minutes after local midnight. */
typedef struct hl_cal_span {
    int start_min;
    int end_min;
} hl_cal_span;

/* Create a calendar. tz is an IANA zone name ("Asia/Shanghai") or "UTC";
 * the zone is applied process-wide (TZ), since the dispatcher serves one
 * city. Returns NULL and sets *err (caller frees) when the zone is unknown. */
hl_calendar *hl_cal_new(const char *tz, char **err);
void hl_cal_destroy(hl_calendar **cal);

/* Settings; by default Monday–Friday, 08:30–12:00 and 13:30–17:30, no
 * holidays. weekday: 1 = Monday … 7 = Sunday. Dates are "YYYY-MM-DD". */
void hl_cal_set_workdays(hl_calendar *cal, const int *weekdays, int n);
/* Spans must be ordered and not overlap; returns -1 otherwise. */
int hl_cal_set_hours(hl_calendar *cal, const hl_cal_span *spans, int n);
int hl_cal_add_holiday(hl_calendar *cal, const char *date);
int hl_cal_add_extra_workday(hl_calendar *cal, const char *date);

/* Parse "HH:MM" into minutes after midnight; -1 if malformed. */
int hl_cal_parse_hhmm(const char *s);
/* Parse "YYYY-MM-DD" into a day number (days since 1970-01-01); -1 if bad. */
int hl_cal_parse_date(const char *s, int32_t *day);

/* 1 when the local date of t is a working day. */
int hl_cal_is_workday(const hl_calendar *cal, hl_ms t);
/* Working milliseconds in one working day (sum of the spans). */
int64_t hl_cal_day_ms(const hl_calendar *cal);

/* Add working time: the first instant at which `work_ms` milliseconds of
 * working time have passed since t. With work_ms = 0 returns t. */
hl_ms hl_cal_add_work(const hl_calendar *cal, hl_ms t, int64_t work_ms);
/* Working milliseconds between a and b (0 if b <= a). */
int64_t hl_cal_work_between(const hl_calendar *cal, hl_ms a, hl_ms b);

/* t + fraction × d. s/m/h/d durations are wall-clock; wh is hl_cal_day_ms-
 * independent working hours; wd counts working days as whole days'
 * worth of working time (hl_cal_day_ms each), so 5wd from Wednesday 16:00
 * lands on the fifth following working day at 16:00. fraction in (0, 1e6]. */
hl_ms hl_cal_add(const hl_calendar *cal, hl_ms t, const hl_duration *d, double fraction);

/* The local date of t as "YYYYMMDD" (9 bytes with NUL), for ticket numbers. */
void hl_cal_local_yyyymmdd(const hl_calendar *cal, hl_ms t, char out[9]);

#endif
