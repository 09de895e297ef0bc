/* jscan.c — JSON read in place (see jscan.h). No allocation; recursion only
 * into nested containers, at most JS_DEPTH deep (cJSON's own limit). */
#include "jscan.h"

#include <stdlib.h>
#include <string.h>

#define JS_DEPTH 1000
#define JS_MAX_INT 9007199254740991.0

static const char *s_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
    return p;
}

static int s_hex(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static long s_u4(const char *p, const char *end)
{
    if (end - p < 4) return -1;
    long v = 0;
    for (int i = 0; i < 4; i++) {
        int h = s_hex(p[i]);
        if (h < 0) return -1;
        v = v * 16 + h;
    }
    return v;
}

/* Bytes that end a run of plain string characters: the quote, the
 * backslash and the control characters (which JSON wants escaped). */
static const unsigned char s_str_stop[256] = {
    [0] = 1, [1] = 1, [2] = 1, [3] = 1, [4] = 1, [5] = 1, [6] = 1, [7] = 1,
    [8] = 1, [9] = 1, [10] = 1, [11] = 1, [12] = 1, [13] = 1, [14] = 1, [15] = 1,
    [16] = 1, [17] = 1, [18] = 1, [19] = 1, [20] = 1, [21] = 1, [22] = 1, [23] = 1,
    [24] = 1, [25] = 1, [26] = 1, [27] = 1, [28] = 1, [29] = 1, [30] = 1, [31] = 1,
    ['"'] = 1, ['\\'] = 1,
};

/* p at the opening quote; returns past the closing one. */
static const char *s_skip_str(const char *p, const char *end)
{
    p++;
    while (p < end) {
        while (end - p >= 4 && !s_str_stop[(unsigned char)p[0]] &&
               !s_str_stop[(unsigned char)p[1]] && !s_str_stop[(unsigned char)p[2]] &&
               !s_str_stop[(unsigned char)p[3]])
            p += 4;
        while (p < end && !s_str_stop[(unsigned char)*p]) p++;
        if (p >= end) return NULL;
        unsigned char c = (unsigned char)*p;
        if (c == '"') return p + 1;
        if (c < 0x20) return NULL;
        /* a backslash */
        if (++p >= end) return NULL;
        switch (*p) {
        case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
            p++;
            break;
        case 'u':
            if (s_u4(p + 1, end) < 0) return NULL;
            p += 5;
            break;
        default: return NULL;
        }
    }
    return NULL;
}

static const char *s_digits(const char *p, const char *end)
{
    const char *q = p;
    while (q < end && *q >= '0' && *q <= '9') q++;
    return q > p ? q : NULL;
}

static const char *s_skip_num(const char *p, const char *end)
{
    if (p < end && *p == '-') p++;
    if (p >= end) return NULL;
    if (*p == '0')
        p++;
    else if (!(p = s_digits(p, end)))
        return NULL;
    if (p < end && *p == '.' && !(p = s_digits(p + 1, end))) return NULL;
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-')) p++;
        if (!(p = s_digits(p, end))) return NULL;
    }
    return p;
}

static const char *s_lit(const char *p, const char *end, const char *word, size_t n)
{
    return (size_t)(end - p) >= n && memcmp(p, word, n) == 0 ? p + n : NULL;
}

static const char *s_skip_val(const char *p, const char *end, int depth)
{
    p = s_ws(p, end);
    if (p >= end) return NULL;
    switch (*p) {
    case '"': return s_skip_str(p, end);
    case 't': return s_lit(p, end, "true", 4);
    case 'f': return s_lit(p, end, "false", 5);
    case 'n': return s_lit(p, end, "null", 4);
    case '{':
    case '[': {
        if (depth >= JS_DEPTH) return NULL;
        char close = *p == '{' ? '}' : ']';
        p = s_ws(p + 1, end);
        if (p < end && *p == close) return p + 1;
        for (;;) {
            if (close == '}') {
                p = s_ws(p, end);
                if (p >= end || *p != '"' || !(p = s_skip_str(p, end))) return NULL;
                p = s_ws(p, end);
                if (p >= end || *p != ':') return NULL;
                p++;
            }
            if (!(p = s_skip_val(p, end, depth + 1))) return NULL;
            p = s_ws(p, end);
            if (p >= end) return NULL;
            if (*p == close) return p + 1;
            if (*p != ',') return NULL;
            p++;
        }
    }
    default: return s_skip_num(p, end);
    }
}

const char *js_skip(const char *p, const char *end)
{
    return p && p <= end ? s_skip_val(p, end, 0) : NULL;
}

/* ---- skipping text already checked ------------------------------------------- */

/* p just past an opening quote: past the closing one (the first quote not
 * escaped, i.e. after an even run of backslashes). */
static const char *s_str_end(const char *p, const char *end)
{
    const char *from = p;
    for (;;) {
        const char *q = memchr(p, '"', (size_t)(end - p));
        if (!q) return NULL;
        const char *b = q;
        while (b > from && b[-1] == '\\') b--;
        if (((q - b) & 1) == 0) return q + 1;
        p = q + 1;
    }
}

enum { C_PLAIN, C_QUOTE, C_OPEN, C_CLOSE };
static const unsigned char s_class[256] = {
    ['"'] = C_QUOTE, ['{'] = C_OPEN, ['['] = C_OPEN, ['}'] = C_CLOSE, [']'] = C_CLOSE,
};
/* what ends a number or a literal */
static const unsigned char s_scalar_end[256] = {
    [','] = 1, ['}'] = 1, [']'] = 1, [' '] = 1, ['\t'] = 1, ['\n'] = 1, ['\r'] = 1,
};

static const char *s_skip_fast(const char *p, const char *end)
{
    p = s_ws(p, end);
    if (p >= end) return NULL;
    unsigned char c = (unsigned char)*p;
    if (c == '"') return s_str_end(p + 1, end);
    if (s_class[c] != C_OPEN) {
        const char *q = p;
        while (q < end && !s_scalar_end[(unsigned char)*q]) q++;
        return q > p ? q : NULL;
    }
    int depth = 0;
    while (p < end) {
        switch (s_class[(unsigned char)*p++]) {
        case C_PLAIN: break;
        case C_QUOTE:
            if (!(p = s_str_end(p, end))) return NULL;
            break;
        case C_OPEN: depth++; break;
        default:
            if (--depth == 0) return p;
        }
    }
    return NULL;
}

void js_trust(js_iter *it)
{
    it->trusted = 1;
}

int js_value(const char *p, size_t n, js_span *out)
{
    const char *end = p + n;
    const char *start = s_ws(p, end);
    const char *stop = js_skip(start, end);
    if (!stop) return -1;
    out->p = start;
    out->n = (size_t)(stop - start);
    return 0;
}

/* ---- iteration ------------------------------------------------------------- */

static int s_begin(js_iter *it, js_span v, char open, char close)
{
    it->first = 1;
    it->trusted = 0;
    it->close = close;
    if (!v.p || v.n < 2 || v.p[0] != open) {
        it->p = it->end = NULL;
        return -1;
    }
    it->p = v.p + 1;
    it->end = v.p + v.n;
    return 0;
}

int js_obj_begin(js_iter *it, js_span obj)
{
    return s_begin(it, obj, '{', '}');
}

int js_arr_begin(js_iter *it, js_span arr)
{
    return s_begin(it, arr, '[', ']');
}

/* Past the separator before the next entry: 1 another follows, 0 the end. */
static int s_sep(js_iter *it)
{
    if (!it->p) return -1;
    const char *p = s_ws(it->p, it->end);
    if (p >= it->end) return -1;
    if (*p == it->close) {
        it->p = NULL; /* done; next calls return -1 */
        return 0;
    }
    if (!it->first) {
        if (*p != ',') return -1;
        p = s_ws(p + 1, it->end);
    }
    it->first = 0;
    it->p = p;
    return 1;
}

static int s_val(js_iter *it, js_span *val)
{
    const char *start = s_ws(it->p, it->end);
    const char *stop =
        it->trusted ? s_skip_fast(start, it->end) : s_skip_val(start, it->end, 1);
    if (!stop) return -1;
    val->p = start;
    val->n = (size_t)(stop - start);
    it->p = stop;
    return 1;
}

int js_obj_next(js_iter *it, js_span *key, js_span *val)
{
    int rc = s_sep(it);
    if (rc <= 0) return rc;
    const char *p = it->p;
    if (*p != '"') return -1;
    const char *q = it->trusted ? s_str_end(p + 1, it->end) : s_skip_str(p, it->end);
    if (!q) return -1;
    key->p = p + 1;
    key->n = (size_t)(q - p - 2);
    q = s_ws(q, it->end);
    if (q >= it->end || *q != ':') return -1;
    it->p = q + 1;
    return s_val(it, val);
}

int js_arr_next(js_iter *it, js_span *val)
{
    int rc = s_sep(it);
    if (rc <= 0) return rc;
    return s_val(it, val);
}

/* ---- values ------------------------------------------------------------------ */

int js_key_is(js_span key, const char *name)
{
    size_t n = strlen(name);
    if (!memchr(key.p, '\\', key.n)) return key.n == n && memcmp(key.p, name, n) == 0;
    /* rare: an escaped key, decoded to compare */
    char buf[256];
    js_span quoted = {key.p - 1, key.n + 2};
    long len = js_str(quoted, buf, sizeof buf);
    return len >= 0 && (size_t)len == n && memcmp(buf, name, n) == 0;
}

int js_get(js_span obj, const char *name, js_span *val)
{
    js_iter it;
    if (js_obj_begin(&it, obj) != 0) return -1;
    js_span k, v;
    while (js_obj_next(&it, &k, &v) > 0)
        if (js_key_is(k, name)) {
            *val = v;
            return 0;
        }
    return -1;
}

int js_is_object(js_span v)
{
    return v.p && v.n >= 2 && v.p[0] == '{';
}

int js_is_array(js_span v)
{
    return v.p && v.n >= 2 && v.p[0] == '[';
}

int js_is_string(js_span v)
{
    return v.p && v.n >= 2 && v.p[0] == '"';
}

int js_bool(js_span v)
{
    if (!v.p) return -1;
    if (v.n == 4 && memcmp(v.p, "true", 4) == 0) return 1;
    if (v.n == 5 && memcmp(v.p, "false", 5) == 0) return 0;
    return -1;
}

int js_int(js_span v, int64_t *out)
{
    if (!v.p || !v.n) return -1;
    const char *p = v.p, *end = v.p + v.n;
    int neg = 0;
    if (*p == '-') {
        neg = 1;
        p++;
    }
    /* the common case: plain digits */
    int64_t n = 0;
    const char *q = p;
    while (q < end && *q >= '0' && *q <= '9' && q - p < 16) n = n * 10 + (*q++ - '0');
    if (q == end && q > p) {
        if ((double)n > JS_MAX_INT) return -1;
        *out = neg ? -n : n;
        return 0;
    }
    /* a fraction or an exponent: as a double, like cJSON */
    char buf[64];
    if (v.n >= sizeof buf || v.p[0] == '"' || js_skip(v.p, end) != end) return -1;
    memcpy(buf, v.p, v.n);
    buf[v.n] = '\0';
    char *stop;
    double d = strtod(buf, &stop);
    if (*stop || d != d || d < -JS_MAX_INT || d > JS_MAX_INT || d != (double)(int64_t)d) return -1;
    *out = (int64_t)d;
    return 0;
}

static size_t s_utf8(unsigned long cp, char *o)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

long js_str(js_span v, char *dst, size_t size)
{
    if (!js_is_string(v) || !size) return -1;
    const char *p = v.p + 1, *end = v.p + v.n - 1;
    if (v.p[v.n - 1] != '"') return -1;
    size_t o = 0;
    while (p < end) {
        char c = *p++;
        if ((unsigned char)c < 0x20) return -1;
        if (c != '\\') {
            if (o + 1 >= size) return -1;
            dst[o++] = c;
            continue;
        }
        if (p >= end) return -1;
        char e = *p++;
        char lit;
        switch (e) {
        case '"': lit = '"'; break;
        case '\\': lit = '\\'; break;
        case '/': lit = '/'; break;
        case 'b': lit = '\b'; break;
        case 'f': lit = '\f'; break;
        case 'n': lit = '\n'; break;
        case 'r': lit = '\r'; break;
        case 't': lit = '\t'; break;
        case 'u': {
            long hi = s_u4(p, end);
            if (hi < 0) return -1;
            p += 4;
            unsigned long cp = (unsigned long)hi;
            if (hi >= 0xDC00 && hi <= 0xDFFF) return -1;
            if (hi >= 0xD800 && hi <= 0xDBFF) {
                if (end - p < 6 || p[0] != '\\' || p[1] != 'u') return -1;
                long lo = s_u4(p + 2, end);
                if (lo < 0xDC00 || lo > 0xDFFF) return -1;
                p += 6;
                cp = 0x10000 + (((unsigned long)hi & 0x3FF) << 10) + ((unsigned long)lo & 0x3FF);
            }
            if (cp == 0) return -1; /* a NUL would cut the string short */
            if (o + 4 >= size) return -1;
            o += s_utf8(cp, dst + o);
            continue;
        }
        default: return -1;
        }
        if (o + 1 >= size) return -1;
        dst[o++] = lit;
    }
    dst[o] = '\0';
    return (long)o;
}
