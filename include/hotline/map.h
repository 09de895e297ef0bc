/* hotline/map.h — a string-keyed hash map (open addressing, linear probing)
 * for lookups by id. Keys are copied; values are borrowed pointers. */
#ifndef HOTLINE_MAP_H
#define HOTLINE_MAP_H

#include <stddef.h>

typedef struct hl_map hl_map;

hl_map *hl_map_new(void);
void hl_map_destroy(hl_map **m);
/* Insert or replace; keys are byte strings of len bytes. */
void hl_map_put(hl_map *m, const void *key, size_t len, void *value);
/* The value, or NULL when absent. */
void *hl_map_get(const hl_map *m, const void *key, size_t len);
/* Remove; returns the old value or NULL. */
void *hl_map_del(hl_map *m, const void *key, size_t len);
size_t hl_map_size(const hl_map *m);
/* Iterate: start with *pos = 0; returns 0 at the end. */
int hl_map_next(const hl_map *m, size_t *pos, const void **key, size_t *len, void **value);

/* Convenience for NUL-terminated keys. */
#define hl_map_puts(m, k, v) hl_map_put((m), (k), strlen(k), (v))
#define hl_map_gets(m, k) hl_map_get((m), (k), strlen(k))

#endif
