/* calendar.c — the working-time calendar: which local days are working days
 * (weekdays, holidays, make-up days 调休), the working spans within a day, and
 * the wh/wd deadline arithmetic over them in the configured IANA time zone. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "hotline/calendar.h"
#include "hotline/util.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* Longest walk over local days before add_work gives up and falls back to
 * wall-clock time: 100 years, enough for the longest duration the config
 * accepts (3660wd ≈ 15 years of working days) with room for sparse weeks. */
#define HL_CAL_MAX_WALK_DAYS (100 * 366)

struct hl_calendar {
    char *tz;    /* zone name as configured ("Asia/Shanghai", "UTC") */
    char *tzenv; /* what TZ is set to for it ("UTC0" for "UTC") */
    unsigned workdays; /* bit w set: ISO weekday w (1 = Monday … 7 = Sunday) works */
    hl_cal_span spans[HL_CAL_MAX_SPANS];
    int nspans;
    int64_t day_ms;
    int32_t *holidays; /* sorted, unique local day numbers */
    int nholidays, capholidays;
    int32_t *extra; /* sorted, unique make-up working days */
    int nextra, capextra;
    /* Memo of local midnights, the only part that changes after set-up
     * (hence the casts from const): mktime and localtime cost thousands of
     * instructions each in a zone past its last transition (glibc parses
     * the zone's rule string on every call), and every dispatch walks the
     * same few days. One thread uses a calendar at a time. */
    struct {
        int64_t day;
        hl_ms mid;
    } memo[64];
    int64_t last_day;        /* the local day of the last s_local_day … */
    hl_ms last_lo, last_hi;  /* … and its bounds [midnight, next midnight) */
};

/* ---- date helpers --------------------------------------------------------- */

/* ISO weekday of a day number: 1970-01-01 was a Thursday (4). */
static int s_weekday(int64_t day)
{
    int64_t r = (day + 3) % 7;
    if (r < 0) r += 7;
    return (int)r + 1;
}

static int s_two_digits(const char *s, int *out)
{
    if (!isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1])) return -1;
    *out = (s[0] - '0') * 10 + (s[1] - '0');
    return 0;
}

int hl_cal_parse_hhmm(const char *s)
{
    int h, m;
    if (!s || strlen(s) != 5 || s[2] != ':') return -1;
    if (s_two_digits(s, &h) || s_two_digits(s + 3, &m)) return -1;
    if (h == 24 && m == 0) return 1440; /* end of day, for spans */
    if (h > 23 || m > 59) return -1;
    return h * 60 + m;
}

int hl_cal_parse_date(const char *s, int32_t *day)
{
    int c, yy, mo, d;
    if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-') return -1;
    if (s_two_digits(s, &c) || s_two_digits(s + 2, &yy) || s_two_digits(s + 5, &mo) ||
        s_two_digits(s + 8, &d))
        return -1;
    int y = c * 100 + yy;
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (y < 1 || mo < 1 || mo > 12 || d < 1) return -1;
    if (d > mdays[mo - 1] + (mo == 2 && leap)) return -1;
    *day = (int32_t)hl_days_from_civil(y, (unsigned)mo, (unsigned)d);
    return 0;
}

/* ---- time zone ------------------------------------------------------------ */

/* The zone must be a TZif file under TZDIR (or /usr/share/zoneinfo): glibc
 * silently falls back to UTC for names it cannot load, which would shift
 * every deadline by the zone offset without a word. */
static int s_check_zone(const char *tz, char **err)
{
    if (!tz || !*tz) {
        if (err) *err = hl_strdup("empty time zone name");
        return -1;
    }
    if (tz[0] == '/' || tz[0] == ':' || strstr(tz, "..")) {
        if (err) *err = hl_sprintf("bad time zone name \"%s\": want an IANA name like Asia/Shanghai", tz);
        return -1;
    }
    const char *dir = getenv("TZDIR");
    if (!dir || !*dir) dir = "/usr/share/zoneinfo";
    char *path = hl_sprintf("%s/%s", dir, tz);
    struct stat st;
    int ok = 0;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
        FILE *f = fopen(path, "rb");
        char magic[4];
        if (f) {
            ok = fread(magic, 1, 4, f) == 4 && memcmp(magic, "TZif", 4) == 0;
            fclose(f);
        }
    }
    free(path);
    if (!ok) {
        if (err)
            *err = hl_sprintf("unknown time zone \"%s\": no zone file %s/%s "
                              "(is time zone data installed? apt-get install tzdata)",
                              tz, dir, tz);
        return -1;
    }
    return 0;
}

/* TZ is process-wide; re-apply this calendar's zone if something (another
 * calendar, a test) changed it. A getenv and a strcmp in the common case. */
static void s_apply_tz(const hl_calendar *cal)
{
    const char *cur = getenv("TZ");
    if (cur && strcmp(cur, cal->tzenv) == 0) return;
    setenv("TZ", cal->tzenv, 1);
    tzset();
}

static time_t s_floor_secs(hl_ms t)
{
    return (time_t)(t >= 0 ? t / 1000 : (t - 999) / 1000);
}

/* Local day number of instant t (TZ already applied), without the memo. */
static int64_t s_local_day_slow(hl_ms t)
{
    time_t secs = s_floor_secs(t);
    struct tm tm;
    if (!localtime_r(&secs, &tm)) return secs / 86400;
    return hl_days_from_civil((int64_t)tm.tm_year + 1900, (unsigned)tm.tm_mon + 1,
                              (unsigned)tm.tm_mday);
}

/* The instant of local day `day` at `min` minutes past midnight (min may be
 * 1440: next midnight). Non-existent local times resolve as mktime does. */
static hl_ms s_local_instant(int64_t day, int min)
{
    int y, m, d;
    hl_civil_from_days(day, &y, &m, &d);
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = y - 1900;
    tm.tm_mon = m - 1;
    tm.tm_mday = d;
    tm.tm_hour = min / 60;
    tm.tm_min = min % 60;
    tm.tm_isdst = -1;
    return (hl_ms)mktime(&tm) * 1000;
}

/* The instant local day `day` begins (TZ already applied), memoised. */
static hl_ms s_midnight(const hl_calendar *cal, int64_t day)
{
    hl_calendar *m = (hl_calendar *)cal;
    unsigned slot = (unsigned)((uint64_t)day & (HL_ARRAY_LEN(m->memo) - 1));
    if (m->memo[slot].day != day) {
        m->memo[slot].mid = s_local_instant(day, 0);
        m->memo[slot].day = day;
    }
    return m->memo[slot].mid;
}

/* Local day number of instant t (TZ already applied). */
static int64_t s_local_day(const hl_calendar *cal, hl_ms t)
{
    hl_calendar *m = (hl_calendar *)cal;
    if (t >= m->last_lo && t < m->last_hi) return m->last_day;
    int64_t day = s_local_day_slow(t);
    hl_ms lo = s_midnight(cal, day), hi = s_midnight(cal, day + 1);
    if (t >= lo && t < hi) { /* remembered only when the bounds agree */
        m->last_day = day;
        m->last_lo = lo;
        m->last_hi = hi;
    }
    return day;
}

static void s_memo_clear(hl_calendar *cal)
{
    for (size_t i = 0; i < HL_ARRAY_LEN(cal->memo); i++)
        cal->memo[i].day = INT64_MIN;
    cal->last_lo = cal->last_hi = 0;
}

/* ---- lifecycle and settings ----------------------------------------------- */

static void s_update_day_ms(hl_calendar *cal)
{
    int64_t ms = 0;
    for (int i = 0; i < cal->nspans; i++)
        ms += (int64_t)(cal->spans[i].end_min - cal->spans[i].start_min) * 60000;
    cal->day_ms = ms;
}

hl_calendar *hl_cal_new(const char *tz, char **err)
{
    if (err) *err = NULL;
    int utc = tz && strcmp(tz, "UTC") == 0;
    if (!utc && s_check_zone(tz, err) < 0) return NULL;

    hl_calendar *cal = hl_calloc(1, sizeof *cal);
    cal->tz = hl_strdup(tz);
    cal->tzenv = hl_strdup(utc ? "UTC0" : tz); /* POSIX form: needs no zone file */
    cal->workdays = 0x3e;                      /* Monday (bit 1) … Friday (bit 5) */
    cal->spans[0] = (hl_cal_span){8 * 60 + 30, 12 * 60};
    cal->spans[1] = (hl_cal_span){13 * 60 + 30, 17 * 60 + 30};
    cal->nspans = 2;
    s_update_day_ms(cal);
    s_memo_clear(cal);
    setenv("TZ", cal->tzenv, 1);
    tzset();
    return cal;
}

void hl_cal_destroy(hl_calendar **cal)
{
    if (!cal || !*cal) return;
    free((*cal)->tz);
    free((*cal)->tzenv);
    free((*cal)->holidays);
    free((*cal)->extra);
    free(*cal);
    *cal = NULL;
}

void hl_cal_set_workdays(hl_calendar *cal, const int *weekdays, int n)
{
    cal->workdays = 0;
    for (int i = 0; i < n; i++)
        if (weekdays[i] >= 1 && weekdays[i] <= 7) cal->workdays |= 1u << weekdays[i];
}

int hl_cal_set_hours(hl_calendar *cal, const hl_cal_span *spans, int n)
{
    if (!spans || n < 1 || n > HL_CAL_MAX_SPANS) return -1;
    for (int i = 0; i < n; i++) {
        if (spans[i].start_min < 0 || spans[i].end_min > 1440) return -1;
        if (spans[i].start_min >= spans[i].end_min) return -1;
        if (i > 0 && spans[i].start_min < spans[i - 1].end_min) return -1;
    }
    memcpy(cal->spans, spans, (size_t)n * sizeof *spans);
    cal->nspans = n;
    s_update_day_ms(cal);
    return 0;
}

/* Index of the first element >= day. */
static int s_lower_bound(const int32_t *a, int n, int64_t day)
{
    int lo = 0, hi = n;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (a[mid] < day)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static int s_contains(const int32_t *a, int n, int64_t day)
{
    int i = s_lower_bound(a, n, day);
    return i < n && a[i] == day;
}

static void s_insert_day(int32_t **a, int *n, int *cap, int32_t day)
{
    int i = s_lower_bound(*a, *n, day);
    if (i < *n && (*a)[i] == day) return;
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 32;
        *a = hl_realloc(*a, (size_t)*cap * sizeof **a);
    }
    memmove(*a + i + 1, *a + i, (size_t)(*n - i) * sizeof **a);
    (*a)[i] = day;
    (*n)++;
}

int hl_cal_add_holiday(hl_calendar *cal, const char *date)
{
    int32_t day;
    if (hl_cal_parse_date(date, &day) < 0) return -1;
    s_insert_day(&cal->holidays, &cal->nholidays, &cal->capholidays, day);
    return 0;
}

int hl_cal_add_extra_workday(hl_calendar *cal, const char *date)
{
    int32_t day;
    if (hl_cal_parse_date(date, &day) < 0) return -1;
    s_insert_day(&cal->extra, &cal->nextra, &cal->capextra, day);
    return 0;
}

/* ---- classification ------------------------------------------------------- */

static int s_is_working_day(const hl_calendar *cal, int64_t day)
{
    if (s_contains(cal->extra, cal->nextra, day)) return 1;
    if (!(cal->workdays & (1u << s_weekday(day)))) return 0;
    return !s_contains(cal->holidays, cal->nholidays, day);
}

/* 1 when some working day may still come at or after `day`. */
static int s_work_ahead(const hl_calendar *cal, int64_t day)
{
    if (cal->day_ms <= 0) return 0;
    if (cal->workdays) return 1; /* holidays are finite: weekdays come back */
    return cal->nextra > 0 && cal->extra[cal->nextra - 1] >= day;
}

int hl_cal_is_workday(const hl_calendar *cal, hl_ms t)
{
    s_apply_tz(cal);
    return s_is_working_day(cal, s_local_day(cal, t));
}

int64_t hl_cal_day_ms(const hl_calendar *cal)
{
    return cal->day_ms;
}

void hl_cal_local_yyyymmdd(const hl_calendar *cal, hl_ms t, char out[9])
{
    s_apply_tz(cal);
    int y, m, d;
    hl_civil_from_days(s_local_day(cal, t), &y, &m, &d);
    if (y < 0 || y > 9999) y = y < 0 ? 0 : 9999;
    snprintf(out, 9, "%04d%02d%02d", y, m, d);
}

/* ---- working-time arithmetic ---------------------------------------------- */

/* Walks consecutive local days, caching the next day's midnight so that a run
 * of working days costs about one mktime each. */
typedef struct s_walker {
    int64_t next_day; /* day whose midnight is cached, or INT64_MIN */
    hl_ms next_mid;
} s_walker;

/* UTC bounds of the working spans of local day `day` into starts/ends. A day
 * of exactly 24 h (no DST or offset change) is midnight + minutes; any other
 * day converts each boundary with mktime. */
static void s_day_spans(const hl_calendar *cal, s_walker *w, int64_t day, hl_ms *starts,
                        hl_ms *ends)
{
    hl_ms mid = w->next_day == day ? w->next_mid : s_midnight(cal, day);
    hl_ms next = s_midnight(cal, day + 1);
    w->next_day = day + 1;
    w->next_mid = next;
    int uniform = next - mid == 86400000;
    for (int i = 0; i < cal->nspans; i++) {
        const hl_cal_span *sp = &cal->spans[i];
        if (uniform) {
            starts[i] = mid + (hl_ms)sp->start_min * 60000;
            ends[i] = mid + (hl_ms)sp->end_min * 60000;
        } else {
            starts[i] = s_local_instant(day, sp->start_min);
            ends[i] = s_local_instant(day, sp->end_min);
            if (ends[i] < starts[i]) ends[i] = starts[i];
        }
    }
}

hl_ms hl_cal_add_work(const hl_calendar *cal, hl_ms t, int64_t work_ms)
{
    if (work_ms <= 0) return t;
    s_apply_tz(cal);
    int64_t day = s_local_day(cal, t);
    s_walker w = {INT64_MIN, 0};
    int64_t left = work_ms;
    hl_ms starts[HL_CAL_MAX_SPANS], ends[HL_CAL_MAX_SPANS];
    for (int64_t i = 0; i < HL_CAL_MAX_WALK_DAYS; i++, day++) {
        if (!s_work_ahead(cal, day)) break;
        if (!s_is_working_day(cal, day)) continue;
        s_day_spans(cal, &w, day, starts, ends);
        for (int k = 0; k < cal->nspans; k++) {
            hl_ms s = starts[k] > t ? starts[k] : t;
            if (ends[k] <= s) continue;
            if (left <= ends[k] - s) return s + left;
            left -= ends[k] - s;
        }
    }
    return t + work_ms; /* no working time ahead: wall clock rather than never */
}

int64_t hl_cal_work_between(const hl_calendar *cal, hl_ms a, hl_ms b)
{
    if (b <= a) return 0;
    s_apply_tz(cal);
    int64_t day = s_local_day(cal, a), last = s_local_day(cal, b);
    if (!s_work_ahead(cal, day)) return b - a; /* consistent with add_work */
    s_walker w = {INT64_MIN, 0};
    int64_t sum = 0;
    hl_ms starts[HL_CAL_MAX_SPANS], ends[HL_CAL_MAX_SPANS];
    for (; day <= last; day++) {
        if (!s_is_working_day(cal, day)) continue;
        s_day_spans(cal, &w, day, starts, ends);
        for (int k = 0; k < cal->nspans; k++) {
            hl_ms s = starts[k] > a ? starts[k] : a;
            hl_ms e = ends[k] < b ? ends[k] : b;
            if (e > s) sum += e - s;
        }
    }
    return sum;
}

/* fraction × x as whole milliseconds, kept well inside int64. */
static int64_t s_scale(double fraction, double x)
{
    double v = fraction * x + 0.5; /* round half up; v >= 0 here */
    if (!(v >= 1)) return 0;
    if (v > 4e18) return (int64_t)4e18;
    return (int64_t)v;
}

hl_ms hl_cal_add(const hl_calendar *cal, hl_ms t, const hl_duration *d, double fraction)
{
    if (!(fraction > 0)) return t; /* also NaN */
    if (fraction > 1e6) fraction = 1e6;
    switch (d->unit) {
    case HL_DUR_WORKHOUR:
        return hl_cal_add_work(cal, t, s_scale(fraction, (double)d->n * 3600000.0));
    case HL_DUR_WORKDAY:
        return hl_cal_add_work(cal, t, s_scale(fraction, (double)d->n * (double)cal->day_ms));
    default:
        return t + s_scale(fraction, (double)hl_duration_wall_ms(d));
    }
}
