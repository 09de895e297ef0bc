/* hotline/util.h — logging, allocation that never returns NULL, small
 * string and buffer helpers shared by every hotline program. */
#ifndef HOTLINE_UTIL_H
#define HOTLINE_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __GNUC__
#define HL_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define HL_NORETURN __attribute__((noreturn))
#else
#define HL_PRINTF(a, b)
#define HL_NORETURN
#endif

#define HL_VERSION "0.1.0"

/* Logging to stderr, one line each, prefixed by the program name set with
 * hl_log_init(). hl_fatal: the environment is unusable (exit 1).
 * hl_panic: a broken invariant (abort). */
enum { HL_LOG_DEBUG, HL_LOG_INFO, HL_LOG_WARN, HL_LOG_ERROR };
void hl_log_init(const char *progname, int min_level);
void hl_log(int level, const char *fmt, ...) HL_PRINTF(2, 3);
#define hl_debug(...) hl_log(HL_LOG_DEBUG, __VA_ARGS__)
#define hl_info(...) hl_log(HL_LOG_INFO, __VA_ARGS__)
#define hl_warn(...) hl_log(HL_LOG_WARN, __VA_ARGS__)
#define hl_error(...) hl_log(HL_LOG_ERROR, __VA_ARGS__)
HL_NORETURN void hl_fatal(const char *fmt, ...) HL_PRINTF(1, 2);
HL_NORETURN void hl_panic(const char *fmt, ...) HL_PRINTF(1, 2);

/* Allocation: these never return NULL; out of memory aborts with a message. */
void *hl_malloc(size_t n);
void *hl_calloc(size_t n, size_t size);
void *hl_realloc(void *p, size_t n);
char *hl_strdup(const char *s);
char *hl_strndup(const char *s, size_t n);
char *hl_sprintf(const char *fmt, ...) HL_PRINTF(1, 2);
char *hl_vsprintf(const char *fmt, va_list ap);

/* Copy at most size-1 bytes and terminate; returns strlen(src). */
size_t hl_strlcpy(char *dst, const char *src, size_t size);
int hl_streq(const char *a, const char *b); /* NULL-safe equality */
int hl_starts_with(const char *s, const char *prefix);

/* A growable byte buffer, always NUL-terminated. */
typedef struct hl_buf {
    char *data;
    size_t len;
    size_t cap;
} hl_buf;
void hl_buf_init(hl_buf *b);
void hl_buf_free(hl_buf *b);
void hl_buf_reset(hl_buf *b);
/* Make room for n more bytes now (one allocation instead of several). */
void hl_buf_reserve(hl_buf *b, size_t n);
void hl_buf_add(hl_buf *b, const void *p, size_t n);
void hl_buf_adds(hl_buf *b, const char *s);
void hl_buf_addc(hl_buf *b, char c);
void hl_buf_printf(hl_buf *b, const char *fmt, ...) HL_PRINTF(2, 3);
/* Hand the contents to the caller (to free) and reset the buffer. */
char *hl_buf_steal(hl_buf *b);

/* Read a whole file; returns NULL and sets *err (caller frees) on failure. */
char *hl_read_file(const char *path, size_t *len, char **err);

#define HL_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
