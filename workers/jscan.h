/* jscan.h — reading JSON text in place, without building a tree. The worker
 * receives every ticket of its unit several times over (feed items and the
 * replies to its own actions), each about 1.3 KB of JSON, and needs only a
 * few fields of it plus the text itself to store: a cJSON tree per message
 * cost more than everything else the worker does. These functions check the
 * text as strictly as they read it (RFC 8259 grammar, nesting limited as
 * cJSON limits it) and never read outside [p, p + n). */
#ifndef HOTLINE_WORKER_JSCAN_H
#define HOTLINE_WORKER_JSCAN_H

#include <stddef.h>
#include <stdint.h>

/* A value's text: p points at its first character (a quote for a string). */
typedef struct js_span {
    const char *p;
    size_t n;
} js_span;

/* Skip whitespace and one value; returns the end of the value, or NULL when
 * the text is not valid JSON there. */
const char *js_skip(const char *p, const char *end);

/* The value at the start of [p, p + n) (whitespace around it allowed;
 * anything after it is ignored, as cJSON_ParseWithLength ignores it).
 * 0, or -1 when there is none. */
int js_value(const char *p, size_t n, js_span *out);

/* Iterating an object's members or an array's elements: begin on the
 * value's span, then next until it returns 0 (end) or -1 (not valid). key is
 * the member name's raw text between its quotes (escapes left as they are). */
typedef struct js_iter {
    const char *p, *end;
    int first;
    int trusted;
    char close; /* '}' or ']' */
} js_iter;
int js_obj_begin(js_iter *it, js_span obj);
int js_obj_next(js_iter *it, js_span *key, js_span *val);
int js_arr_begin(js_iter *it, js_span arr);
int js_arr_next(js_iter *it, js_span *val);

/* After begin: the text was checked already (it is a span an earlier,
 * checking walk produced), so values are skipped by matching brackets and
 * quotes only — several times faster. Spans got this way are as good. */
void js_trust(js_iter *it);

/* Does a raw key equal name (escapes in the key decoded)? */
int js_key_is(js_span key, const char *name);

/* The first member called name in an object; 0, or -1 when absent (or the
 * text is not an object). */
int js_get(js_span obj, const char *name, js_span *val);

int js_is_object(js_span v);
int js_is_array(js_span v);
int js_is_string(js_span v);
/* The bool's value: 1 true, 0 false, -1 not a bool. */
int js_bool(js_span v);

/* An integral number within ±(2^53 - 1), as hl_json_int accepts it (so
 * 17, 17.0 and 1.7e1 alike); 0, or -1 otherwise. */
int js_int(js_span v, int64_t *out);

/* A string, unescaped into dst (NUL-terminated, UTF-8). Returns its length,
 * or -1 when v is not a string or the string does not fit in size bytes
 * with its NUL (or has an escape cJSON refuses). */
long js_str(js_span v, char *dst, size_t size);

#endif
