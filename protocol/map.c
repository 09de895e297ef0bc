/* map.c — string-keyed hash map with tombstones; FNV-1a hashing. Grows at
 * 70% load (tombstones included), so probes stay short. */
#include "hotline/map.h"
#include "hotline/util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *key; /* NULL: empty; s_tomb: deleted */
    size_t len;
    uint64_t hash;
    void *value;
} slot;

struct hl_map {
    slot *slots;
    size_t cap; /* power of two */
    size_t used; /* live entries */
    size_t filled; /* live + tombstones */
};

static char s_tomb_mark;
#define s_tomb (&s_tomb_mark)

static uint64_t s_hash(const void *key, size_t len)
{
    const unsigned char *p = key;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

hl_map *hl_map_new(void)
{
    hl_map *m = hl_calloc(1, sizeof *m);
    m->cap = 16;
    m->slots = hl_calloc(m->cap, sizeof(slot));
    return m;
}

void hl_map_destroy(hl_map **mp)
{
    hl_map *m = *mp;
    if (!m) return;
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].key && m->slots[i].key != s_tomb) free(m->slots[i].key);
    free(m->slots);
    free(m);
    *mp = NULL;
}

static slot *s_find(const hl_map *m, const void *key, size_t len, uint64_t h, int for_insert)
{
    size_t mask = m->cap - 1;
    slot *tomb = NULL;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        slot *s = &m->slots[i];
        if (!s->key) return for_insert && tomb ? tomb : (for_insert ? s : NULL);
        if (s->key == s_tomb) {
            if (!tomb) tomb = s;
            continue;
        }
        if (s->hash == h && s->len == len && memcmp(s->key, key, len) == 0) return s;
    }
}

static void s_grow(hl_map *m)
{
    slot *old = m->slots;
    size_t oldcap = m->cap;
    size_t cap = m->cap;
    while (m->used * 10 >= cap * 5) cap *= 2; /* rehash to ≤ 50% */
    m->cap = cap;
    m->slots = hl_calloc(cap, sizeof(slot));
    m->filled = m->used;
    for (size_t i = 0; i < oldcap; i++) {
        if (!old[i].key || old[i].key == s_tomb) continue;
        slot *s = s_find(m, old[i].key, old[i].len, old[i].hash, 1);
        *s = old[i];
    }
    free(old);
}

void hl_map_put(hl_map *m, const void *key, size_t len, void *value)
{
    uint64_t h = s_hash(key, len);
    slot *s = s_find(m, key, len, h, 0);
    if (s) {
        s->value = value;
        return;
    }
    if ((m->filled + 1) * 10 >= m->cap * 7) s_grow(m);
    s = s_find(m, key, len, h, 1);
    if (!s->key) m->filled++;
    s->key = hl_malloc(len + 1);
    memcpy(s->key, key, len);
    s->key[len] = '\0';
    s->len = len;
    s->hash = h;
    s->value = value;
    m->used++;
}

void *hl_map_get(const hl_map *m, const void *key, size_t len)
{
    slot *s = s_find(m, key, len, s_hash(key, len), 0);
    return s ? s->value : NULL;
}

void *hl_map_del(hl_map *m, const void *key, size_t len)
{
    slot *s = s_find(m, key, len, s_hash(key, len), 0);
    if (!s) return NULL;
    void *v = s->value;
    free(s->key);
    s->key = s_tomb;
    s->value = NULL;
    m->used--;
    return v;
}

size_t hl_map_size(const hl_map *m)
{
    return m->used;
}

int hl_map_next(const hl_map *m, size_t *pos, const void **key, size_t *len, void **value)
{
    for (size_t i = *pos; i < m->cap; i++) {
        slot *s = &m->slots[i];
        if (!s->key || s->key == s_tomb) continue;
        *pos = i + 1;
        if (key) *key = s->key;
        if (len) *len = s->len;
        if (value) *value = s->value;
        return 1;
    }
    *pos = m->cap;
    return 0;
}
