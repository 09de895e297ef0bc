/* utf8.c — UTF-8 validation and display width. The width table covers the
 * ranges hotline shows (CJK, Hangul, full-width forms, emoji); combining
 * marks count as zero. */
#include "hotline/utf8.h"

#include <stdint.h>
#include <string.h>

int hl_utf8_valid(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        if (c == 0) return 0;
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        uint32_t cp;
        if (c >= 0xC2 && c <= 0xDF) {
            n = 1;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 2;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3;
            cp = c & 0x07;
        } else {
            return 0;
        }
        for (size_t k = 1; k <= n; k++) {
            if (i + k >= len || (s[i + k] & 0xC0) != 0x80) return 0;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF))) return 0;
        if (cp >= 0xD800 && cp <= 0xDFFF) return 0;
        i += n + 1;
    }
    return 1;
}

size_t hl_utf8_count(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80) n++;
    return n;
}

static uint32_t s_decode(const unsigned char *s, size_t *adv)
{
    unsigned char c = s[0];
    if (c < 0x80) {
        *adv = 1;
        return c;
    }
    size_t n = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : 1;
    uint32_t cp = c & (0x3F >> n);
    size_t k = 1;
    for (; k <= n && (s[k] & 0xC0) == 0x80; k++) cp = (cp << 6) | (s[k] & 0x3F);
    *adv = k;
    return cp;
}

static int s_cp_width(uint32_t cp)
{
    if (cp == 0) return 0;
    if (cp < 0x20 || (cp >= 0x7F && cp < 0xA0)) return 0;
    if ((cp >= 0x300 && cp <= 0x36F) || (cp >= 0x200B && cp <= 0x200F) || cp == 0xFE0F)
        return 0;
    if ((cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0x303E) ||
        (cp >= 0x3041 && cp <= 0x33FF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
        (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0xA000 && cp <= 0xA4CF) ||
        (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0xF900 && cp <= 0xFAFF) ||
        (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFF60) ||
        (cp >= 0xFFE0 && cp <= 0xFFE6) || (cp >= 0x1F300 && cp <= 0x1F64F) ||
        (cp >= 0x1F900 && cp <= 0x1F9FF) || (cp >= 0x20000 && cp <= 0x3FFFD))
        return 2;
    return 1;
}

int hl_utf8_width(const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    int w = 0;
    while (*s) {
        size_t adv;
        w += s_cp_width(s_decode(s, &adv));
        s += adv;
    }
    return w;
}

size_t hl_utf8_fit(const char *str, int cols)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    int w = 0;
    while (s[i]) {
        size_t adv;
        int cw = s_cp_width(s_decode(s + i, &adv));
        if (w + cw > cols) break;
        w += cw;
        i += adv;
    }
    return i;
}

char *hl_utf8_pad(const char *s, int cols, char *buf, size_t size)
{
    if (size == 0) return buf;
    size_t out = 0;
    int w = hl_utf8_width(s);
    size_t take;
    int ellipsis = 0;
    if (w <= cols) {
        take = strlen(s);
    } else {
        take = hl_utf8_fit(s, cols > 0 ? cols - 1 : 0);
        ellipsis = cols > 0;
    }
    if (take > size - 1) take = size - 1;
    memcpy(buf, s, take);
    out = take;
    buf[out] = '\0';
    int used = hl_utf8_width(buf);
    if (ellipsis && out + 3 < size) {
        memcpy(buf + out, "\xE2\x80\xA6", 3); /* … */
        out += 3;
        used += 1;
    }
    while (used < cols && out + 1 < size) {
        buf[out++] = ' ';
        used++;
    }
    buf[out] = '\0';
    return buf;
}
