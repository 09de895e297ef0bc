/* hotline/utf8.h — UTF-8 validation, character counts and terminal display
 * width (CJK characters take two columns), for input checks and for tables
 * aligned with Chinese text. */
#ifndef HOTLINE_UTF8_H
#define HOTLINE_UTF8_H

#include <stddef.h>

/* 1 when the bytes are well-formed UTF-8 (no overlongs, no surrogates,
 * ≤ U+10FFFF) and hold no NUL byte. */
int hl_utf8_valid(const char *s, size_t len);
/* Number of code points of a valid NUL-terminated UTF-8 string. */
size_t hl_utf8_count(const char *s);
/* Columns a valid UTF-8 string takes on a terminal. */
int hl_utf8_width(const char *s);
/* Bytes of the longest prefix of s that fits in `cols` columns. */
size_t hl_utf8_fit(const char *s, int cols);
/* Print s clipped/padded to exactly `cols` columns (clipped text ends with
 * "…" when it does not fit) into buf; returns buf. */
char *hl_utf8_pad(const char *s, int cols, char *buf, size_t size);

#endif
