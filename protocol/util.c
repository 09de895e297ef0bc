/* util.c — logging, never-NULL allocation, strings and buffers.
 * Owns nothing global but the log prefix; must not depend on ZeroMQ or SQLite. */

#include "hotline/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static char s_prog[64] = "hotline";
static int s_min_level = HL_LOG_INFO;

void hl_log_init(const char *progname, int min_level)
{
    hl_strlcpy(s_prog, progname, sizeof s_prog);
    s_min_level = min_level;
    const char *env = getenv("HOTLINE_LOG");
    if (env && strcmp(env, "debug") == 0) s_min_level = HL_LOG_DEBUG;
    if (env && strcmp(env, "warn") == 0) s_min_level = HL_LOG_WARN;
}

static void s_vlog(int level, const char *fmt, va_list ap)
{
    static const char *names[] = {"debug", "info", "warning", "error"};
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    char line[2048];
    int n = snprintf(line, sizeof line, "%02d:%02d:%02d.%03ld %s: %s: ", tm.tm_hour, tm.tm_min,
                     tm.tm_sec, ts.tv_nsec / 1000000, s_prog, names[level]);
    if (n < 0) n = 0;
    if ((size_t)n < sizeof line) vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    fprintf(stderr, "%s\n", line);
}

void hl_log(int level, const char *fmt, ...)
{
    if (level < s_min_level) return;
    va_list ap;
    va_start(ap, fmt);
    s_vlog(level, fmt, ap);
    va_end(ap);
}

void hl_fatal(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    s_vlog(HL_LOG_ERROR, fmt, ap);
    va_end(ap);
    exit(1);
}

void hl_panic(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    s_vlog(HL_LOG_ERROR, fmt, ap);
    va_end(ap);
    abort();
}

static void *s_oom(size_t n)
{
    fprintf(stderr, "%s: out of memory allocating %zu bytes\n", s_prog, n);
    abort();
}

void *hl_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    return p ? p : s_oom(n);
}

void *hl_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    return p ? p : s_oom(n * size);
}

void *hl_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    return q ? q : s_oom(n);
}

char *hl_strdup(const char *s)
{
    return hl_strndup(s, strlen(s));
}

char *hl_strndup(const char *s, size_t n)
{
    char *p = hl_malloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *hl_vsprintf(const char *fmt, va_list ap)
{
    va_list aq;
    va_copy(aq, ap);
    int n = vsnprintf(NULL, 0, fmt, aq);
    va_end(aq);
    if (n < 0) hl_panic("hl_vsprintf: bad format \"%s\"", fmt);
    char *p = hl_malloc((size_t)n + 1);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    return p;
}

char *hl_sprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *p = hl_vsprintf(fmt, ap);
    va_end(ap);
    return p;
}

size_t hl_strlcpy(char *dst, const char *src, size_t size)
{
    size_t len = strlen(src);
    if (size) {
        size_t n = len < size - 1 ? len : size - 1;
        memcpy(dst, src, n);
        dst[n] = '\0';
    }
    return len;
}

int hl_streq(const char *a, const char *b)
{
    if (!a || !b) return a == b;
    return strcmp(a, b) == 0;
}

int hl_starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

void hl_buf_init(hl_buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void hl_buf_free(hl_buf *b)
{
    free(b->data);
    hl_buf_init(b);
}

void hl_buf_reset(hl_buf *b)
{
    b->len = 0;
    if (b->data) b->data[0] = '\0';
}

static void s_buf_reserve(hl_buf *b, size_t extra)
{
    size_t need = b->len + extra + 1;
    if (need <= b->cap) return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) cap *= 2;
    b->data = hl_realloc(b->data, cap);
    b->cap = cap;
}

void hl_buf_reserve(hl_buf *b, size_t extra)
{
    s_buf_reserve(b, extra);
}

/* The adds test the room themselves: JSON is written a few bytes at a
 * time, and these run some hundred times per ticket. */
void hl_buf_add(hl_buf *b, const void *p, size_t n)
{
    if (b->len + n + 1 > b->cap) s_buf_reserve(b, n);
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void hl_buf_adds(hl_buf *b, const char *s)
{
    hl_buf_add(b, s, strlen(s));
}

void hl_buf_addc(hl_buf *b, char c)
{
    if (b->len + 2 > b->cap) s_buf_reserve(b, 1);
    b->data[b->len++] = c;
    b->data[b->len] = '\0';
}

void hl_buf_printf(hl_buf *b, const char *fmt, ...)
{
    va_list ap, aq;
    va_start(ap, fmt);
    va_copy(aq, ap);
    int n = vsnprintf(NULL, 0, fmt, aq);
    va_end(aq);
    if (n < 0) hl_panic("hl_buf_printf: bad format \"%s\"", fmt);
    s_buf_reserve(b, (size_t)n);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    va_end(ap);
}

char *hl_buf_steal(hl_buf *b)
{
    if (!b->data) return hl_strdup("");
    char *p = b->data;
    hl_buf_init(b);
    return p;
}

char *hl_read_file(const char *path, size_t *len, char **err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        *err = hl_sprintf("cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    hl_buf b;
    hl_buf_init(&b);
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) hl_buf_add(&b, chunk, n);
    if (ferror(f)) {
        *err = hl_sprintf("cannot read %s: %s", path, strerror(errno));
        fclose(f);
        hl_buf_free(&b);
        return NULL;
    }
    fclose(f);
    if (len) *len = b.len;
    return hl_buf_steal(&b);
}
