/* timefmt.c — clocks, RFC 3339 UTC times with milliseconds, durations.
 * Pure functions of their arguments (except the clocks); no time zone here:
 * local time belongs to calendar.c. */

#include "hotline/timefmt.h"
#include "hotline/util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int64_t s_offset_ms;
static int s_offset_read;

hl_ms hl_now(void)
{
    if (!s_offset_read) {
        const char *e = getenv("HOTLINE_TIME_OFFSET_MS");
        s_offset_ms = e ? strtoll(e, NULL, 10) : 0;
        s_offset_read = 1;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (hl_ms)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + s_offset_ms;
}

int64_t hl_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant). */
int64_t hl_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

void hl_civil_from_days(int64_t z, int *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t yy = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    unsigned dd = doy - (153 * mp + 2) / 5 + 1;
    unsigned mm = mp < 10 ? mp + 3 : mp - 9;
    *y = (int)(yy + (mm <= 2));
    *m = (int)mm;
    *d = (int)dd;
}

char *hl_time_format(hl_ms t, char buf[HL_TIME_LEN])
{
    int64_t secs = t >= 0 ? t / 1000 : (t - 999) / 1000;
    int ms = (int)(t - secs * 1000);
    int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
    int64_t rem = secs - days * 86400;
    int y, m, d;
    hl_civil_from_days(days, &y, &m, &d);
    if (y < 0 || y > 9999) y = y < 0 ? 0 : 9999;
    /* written by hand: hot in ticket serialisation, and exact in width */
    int parts[] = {y, m, d, (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60), ms};
    static const int widths[] = {4, 2, 2, 2, 2, 2, 3};
    static const char seps[] = "--T::.Z";
    char *p = buf;
    for (int i = 0; i < 7; i++) {
        for (int k = widths[i] - 1, v = parts[i]; k >= 0; k--, v /= 10) p[k] = (char)('0' + v % 10);
        p += widths[i];
        *p++ = seps[i];
    }
    *p = '\0';
    return buf;
}

static int s_digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i])) return -1;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

int hl_time_parse(const char *s, hl_ms *out)
{
    if (!s) return -1;
    const char *p = s;
    int y, mo, d, h, mi, se, ms = 0;
    if (s_digits(&p, 4, &y) || *p++ != '-' || s_digits(&p, 2, &mo) || *p++ != '-' ||
        s_digits(&p, 2, &d))
        return -1;
    if (*p != 'T' && *p != 't' && *p != ' ') return -1;
    p++;
    if (s_digits(&p, 2, &h) || *p++ != ':' || s_digits(&p, 2, &mi) || *p++ != ':' ||
        s_digits(&p, 2, &se))
        return -1;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p)) return -1;
        int scale = 100;
        while (isdigit((unsigned char)*p)) {
            ms += (*p - '0') * scale;
            scale /= 10;
            p++;
        }
    }
    int off = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1, oh, om;
        p++;
        if (s_digits(&p, 2, &oh) || *p++ != ':' || s_digits(&p, 2, &om)) return -1;
        if (oh > 23 || om > 59) return -1;
        off = sign * (oh * 60 + om);
    } else {
        return -1;
    }
    if (*p) return -1;
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || se > 60)
        return -1;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo == 2 && d == 29 && !leap) return -1;
    if (se == 60) se = 59; /* leap second: clamp */
    int64_t days = hl_days_from_civil(y, (unsigned)mo, (unsigned)d);
    int64_t secs = days * 86400 + h * 3600 + mi * 60 + se - (int64_t)off * 60;
    *out = secs * 1000 + ms;
    return 0;
}

int hl_duration_parse(const char *s, hl_duration *out)
{
    if (!s || !isdigit((unsigned char)*s)) return -1;
    int64_t n = 0;
    const char *p = s;
    while (isdigit((unsigned char)*p)) {
        n = n * 10 + (*p - '0');
        if (n > 100000000) return -1;
        p++;
    }
    if (n <= 0) return -1;
    hl_duration d = {n, HL_DUR_SEC};
    int64_t max;
    if (strcmp(p, "s") == 0) {
        d.unit = HL_DUR_SEC;
        max = 10LL * 366 * 86400;
    } else if (strcmp(p, "m") == 0) {
        d.unit = HL_DUR_MIN;
        max = 10LL * 366 * 1440;
    } else if (strcmp(p, "h") == 0) {
        d.unit = HL_DUR_HOUR;
        max = 10LL * 366 * 24;
    } else if (strcmp(p, "d") == 0) {
        d.unit = HL_DUR_DAY;
        max = 10LL * 366;
    } else if (strcmp(p, "wh") == 0) {
        d.unit = HL_DUR_WORKHOUR;
        max = 10LL * 366 * 24;
    } else if (strcmp(p, "wd") == 0) {
        d.unit = HL_DUR_WORKDAY;
        max = 10LL * 366;
    } else {
        return -1;
    }
    if (n > max) return -1;
    *out = d;
    return 0;
}

char *hl_duration_format(const hl_duration *d, char *buf, size_t size)
{
    static const char *units[] = {"s", "m", "h", "d", "wh", "wd"};
    snprintf(buf, size, "%lld%s", (long long)d->n, units[d->unit]);
    return buf;
}

int hl_duration_is_working(const hl_duration *d)
{
    return d->unit == HL_DUR_WORKHOUR || d->unit == HL_DUR_WORKDAY;
}

int64_t hl_duration_wall_ms(const hl_duration *d)
{
    switch (d->unit) {
    case HL_DUR_SEC: return d->n * 1000;
    case HL_DUR_MIN: return d->n * 60000;
    case HL_DUR_HOUR: return d->n * 3600000;
    case HL_DUR_DAY: return d->n * 86400000;
    default: return -1;
    }
}
