/* hotline/timefmt.h — wall-clock time in milliseconds since the Unix epoch,
 * RFC 3339 UTC formatting and parsing, and durations ("90s", "4wh", "5wd"). */
#ifndef HOTLINE_TIMEFMT_H
#define HOTLINE_TIMEFMT_H

#include <stdint.h>
#include <stddef.h>

typedef int64_t hl_ms; /* milliseconds since 1970-01-01T00:00:00Z */

#define HL_TIME_LEN 25 /* "2026-11-27T05:40:00.123Z" + NUL */

/* Current wall-clock time. HOTLINE_TIME_OFFSET_MS in the environment, read
 * once, shifts it (demos and tests use it to start on a chosen date). */
hl_ms hl_now(void);
/* Monotonic milliseconds, for intervals. */
int64_t hl_mono_ms(void);

/* Format as "YYYY-MM-DDTHH:MM:SS.mmmZ" into buf (at least HL_TIME_LEN). */
char *hl_time_format(hl_ms t, char buf[HL_TIME_LEN]);
/* Parse RFC 3339: date, 'T' or ' ', time, optional fraction (any digits,
 * truncated to ms), then 'Z' or ±HH:MM. Returns 0 and sets *out, or -1. */
int hl_time_parse(const char *s, hl_ms *out);

/* Days since 1970-01-01 of a date of the proleptic Gregorian calendar
 * (month 1-12), and the date of such a day number. */
int64_t hl_days_from_civil(int64_t y, unsigned m, unsigned d);
void hl_civil_from_days(int64_t days, int *y, int *m, int *d);

typedef enum {
    HL_DUR_SEC,
    HL_DUR_MIN,
    HL_DUR_HOUR,
    HL_DUR_DAY,
    HL_DUR_WORKHOUR, /* wh: working hours on the calendar */
    HL_DUR_WORKDAY   /* wd: working days on the calendar */
} hl_dur_unit;

typedef struct hl_duration {
    int64_t n;
    hl_dur_unit unit;
} hl_duration;

/* Parse "<positive integer><unit>", unit one of s m h d wh wd. Refuses zero,
 * signs, spaces, overflow past ten years. Returns 0 or -1. */
int hl_duration_parse(const char *s, hl_duration *out);
/* Format back into the canonical text ("5wd"). */
char *hl_duration_format(const hl_duration *d, char *buf, size_t size);
/* 1 when the duration counts working time (wh, wd). */
int hl_duration_is_working(const hl_duration *d);
/* Wall-clock length in ms of an s/m/h/d duration; -1 for wh/wd. */
int64_t hl_duration_wall_ms(const hl_duration *d);

#endif
