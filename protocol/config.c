/* config.c — load, validate and resolve the configuration file. Every
 * refusal names its JSON path; all refusals are collected, not only the
 * first. Owns the resolved model; must not open sockets or databases. */
#include "hotline/config.h"
#include "hotline/map.h"
#include "hotline/utf8.h"
#include "hotline/util.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct loader {
    hl_config *cfg;
    hl_buf errors;
    int nerrors;
    hl_map *units, *cells, *categories;
} loader;

HL_PRINTF(3, 4)
static void s_err(loader *L, const char *path, const char *fmt, ...)
{
    if (L->nerrors++ >= 100) return; /* enough to act on */
    hl_buf_printf(&L->errors, "config: %s: ", path);
    va_list ap;
    va_start(ap, fmt);
    char *m = hl_vsprintf(fmt, ap);
    va_end(ap);
    hl_buf_adds(&L->errors, m);
    hl_buf_addc(&L->errors, '\n');
    free(m);
}

static const char *const s_levels[] = {"city", "department", "town", "grid"};
static const char *const s_handlings[] = {"grid", "territorial", "department"};
static const char *const s_urgencies[] = {"normal", "urgent", "critical"};
static const char *const s_channels[] = {"phone", "web", "app", "grid"};

static int s_index_of(const char *s, const char *const *names, int n)
{
    for (int i = 0; s && i < n; i++)
        if (strcmp(s, names[i]) == 0) return i;
    return -1;
}

const char *hl_level_name(hl_level l)
{
    return (unsigned)l < 4 ? s_levels[l] : "?";
}
const char *hl_handling_name(hl_handling h)
{
    return (unsigned)h < 3 ? s_handlings[h] : "?";
}
const char *hl_urgency_name(hl_urgency u)
{
    return (unsigned)u < 3 ? s_urgencies[u] : "?";
}
int hl_urgency_parse(const char *s)
{
    return s_index_of(s, s_urgencies, 3);
}
const char *hl_channel_name(hl_channel c)
{
    return (unsigned)c < 4 ? s_channels[c] : "?";
}
int hl_channel_parse(const char *s)
{
    return s_index_of(s, s_channels, 4);
}

/* ---- typed getters that report with a path ---------------------------- */

/* A string member; NULL when absent (reported if required) or mistyped. */
static const char *s_str(loader *L, const cJSON *obj, const char *key, const char *path,
                         int required)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v || cJSON_IsNull(v)) {
        if (required) s_err(L, path, "\"%s\" is required", key);
        return NULL;
    }
    if (!cJSON_IsString(v) || !v->valuestring[0]) {
        s_err(L, path, "\"%s\" must be a non-empty string", key);
        return NULL;
    }
    return v->valuestring;
}

static int s_duration(loader *L, const cJSON *v, const char *path, hl_duration *out)
{
    if (!cJSON_IsString(v) || hl_duration_parse(v->valuestring, out) != 0) {
        s_err(L, path,
              "bad duration %s%s%s: use a positive integer and a unit s, m, h, d, wh or wd "
              "(\"90s\", \"4h\", \"5wd\")",
              cJSON_IsString(v) ? "\"" : "", cJSON_IsString(v) ? v->valuestring : "(not a string)",
              cJSON_IsString(v) ? "\"" : "");
        return -1;
    }
    return 0;
}

/* A list of strings given as an array, or a single string. */
static int s_strlist(loader *L, const cJSON *v, const char *path, hl_strlist *out)
{
    out->items = NULL;
    out->n = 0;
    if (!v) return 0;
    if (cJSON_IsString(v)) {
        out->items = hl_calloc(1, sizeof(char *));
        out->items[0] = hl_strdup(v->valuestring);
        out->n = 1;
        return 0;
    }
    if (!cJSON_IsArray(v)) {
        s_err(L, path, "must be an array of strings");
        return -1;
    }
    int n = cJSON_GetArraySize(v), i = 0;
    out->items = hl_calloc((size_t)n, sizeof(char *));
    const cJSON *it;
    cJSON_ArrayForEach(it, v)
    {
        if (!cJSON_IsString(it) || !it->valuestring[0]) {
            s_err(L, path, "item %d must be a non-empty string", i);
            i++;
            continue;
        }
        out->items[out->n++] = hl_strdup(it->valuestring);
        i++;
    }
    return 0;
}

static void s_strlist_free(hl_strlist *l)
{
    for (int i = 0; i < l->n; i++) free(l->items[i]);
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

static int s_valid_unit_id(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64 || s[0] == '.' || s[n - 1] == '.') return 0;
    for (const char *p = s; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

static const char *s_jstr(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void *s_idx(int i)
{
    return (void *)(intptr_t)(i + 1);
}
static int s_unidx(void *p)
{
    return p ? (int)(intptr_t)p - 1 : -1;
}

/* ---- sections --------------------------------------------------------- */

static void s_load_dispatcher(loader *L, const cJSON *d)
{
    hl_config *c = L->cfg;
    c->dispatcher.front = hl_strdup("tcp://127.0.0.1:7450");
    c->dispatcher.events = hl_strdup("tcp://127.0.0.1:7451");
    c->dispatcher.http = hl_strdup("127.0.0.1:7452");
    c->dispatcher.db = hl_strdup("var/hotline.db");
    c->dispatcher.synchronous = 2;
    c->dispatcher.wal_pages = 32000;
    c->dispatcher.heartbeat_ms = 5000;
    c->dispatcher.dedup_window_ms = 24 * 3600 * 1000LL;
    c->dispatcher.max_message = 65536;
    if (!d) return;
    if (!cJSON_IsObject(d)) {
        s_err(L, "dispatcher", "must be an object");
        return;
    }
    static const char *strkeys[] = {"front", "events", "http", "db"};
    char **targets[] = {&c->dispatcher.front, &c->dispatcher.events, &c->dispatcher.http,
                        &c->dispatcher.db};
    for (int i = 0; i < 4; i++) {
        char path[64];
        snprintf(path, sizeof path, "dispatcher.%s", strkeys[i]);
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(d, strkeys[i]);
        if (!v) continue;
        if (!cJSON_IsString(v) || !v->valuestring[0]) {
            s_err(L, path, "must be a non-empty string");
            continue;
        }
        free(*targets[i]);
        *targets[i] = hl_strdup(v->valuestring);
    }
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(d, "synchronous");
    if (v) {
        static const char *const modes[] = {"off", "normal", "full", "extra"};
        int m = cJSON_IsString(v) ? s_index_of(v->valuestring, modes, 4) : -1;
        if (m < 0)
            s_err(L, "dispatcher.synchronous", "must be one of off, normal, full, extra");
        else
            c->dispatcher.synchronous = m;
    }
    static const char *durkeys[] = {"heartbeat", "dedup_window"};
    int64_t *dtargets[] = {&c->dispatcher.heartbeat_ms, &c->dispatcher.dedup_window_ms};
    for (int i = 0; i < 2; i++) {
        char path[64];
        snprintf(path, sizeof path, "dispatcher.%s", durkeys[i]);
        v = cJSON_GetObjectItemCaseSensitive(d, durkeys[i]);
        if (!v) continue;
        hl_duration dur;
        if (s_duration(L, v, path, &dur) != 0) continue;
        if (hl_duration_is_working(&dur)) {
            s_err(L, path, "must be a wall-clock duration (s, m, h or d), not working time");
            continue;
        }
        *dtargets[i] = hl_duration_wall_ms(&dur);
    }
    v = cJSON_GetObjectItemCaseSensitive(d, "max_message");
    if (v) {
        if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) ||
            v->valuedouble < 1024 || v->valuedouble > 16 * 1024 * 1024)
            s_err(L, "dispatcher.max_message", "must be an integer from 1024 to 16777216 bytes");
        else
            c->dispatcher.max_message = (size_t)v->valuedouble;
    }
    v = cJSON_GetObjectItemCaseSensitive(d, "max_db_pages");
    if (v) {
        if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < 0 ||
            v->valuedouble > 4294967294.0)
            s_err(L, "dispatcher.max_db_pages",
                  "must be an integer from 0 (no cap) to 4294967294 pages of 4096 bytes");
        else
            c->dispatcher.max_db_pages = (int64_t)v->valuedouble;
    }
    v = cJSON_GetObjectItemCaseSensitive(d, "wal_pages");
    if (v) {
        if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < 100 ||
            v->valuedouble > 1000000)
            s_err(L, "dispatcher.wal_pages",
                  "must be an integer from 100 to 1000000 pages of 4096 bytes");
        else
            c->dispatcher.wal_pages = (int)v->valuedouble;
    }
}

static void s_load_calendar(loader *L, const cJSON *cal)
{
    hl_config *c = L->cfg;
    if (!c->calendar) return; /* the time zone was refused already */
    if (!cal) return;
    if (!cJSON_IsObject(cal)) {
        s_err(L, "calendar", "must be an object");
        return;
    }
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cal, "workdays");
    if (v) {
        int days[7], n = 0, bad = 0;
        const cJSON *it;
        if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) > 7) bad = 1;
        cJSON_ArrayForEach(it, v)
        {
            if (bad) break;
            if (!cJSON_IsNumber(it) || it->valuedouble != floor(it->valuedouble) ||
                it->valuedouble < 1 || it->valuedouble > 7)
                bad = 1;
            else
                days[n++] = (int)it->valuedouble;
        }
        if (bad)
            s_err(L, "calendar.workdays",
                  "must be an array of weekday numbers, 1 (Monday) to 7 (Sunday)");
        else
            hl_cal_set_workdays(c->calendar, days, n);
    }
    v = cJSON_GetObjectItemCaseSensitive(cal, "hours");
    if (v) {
        hl_cal_span spans[HL_CAL_MAX_SPANS];
        int n = 0, bad = !cJSON_IsArray(v) || cJSON_GetArraySize(v) > HL_CAL_MAX_SPANS ||
                        cJSON_GetArraySize(v) == 0;
        const cJSON *it;
        int i = 0;
        cJSON_ArrayForEach(it, v)
        {
            if (bad) break;
            char path[64];
            snprintf(path, sizeof path, "calendar.hours[%d]", i++);
            const cJSON *a = cJSON_GetArrayItem(it, 0), *b = cJSON_GetArrayItem(it, 1);
            int s = cJSON_IsString(a) ? hl_cal_parse_hhmm(a->valuestring) : -1;
            int e = cJSON_IsString(b) ? hl_cal_parse_hhmm(b->valuestring) : -1;
            if (!cJSON_IsArray(it) || cJSON_GetArraySize(it) != 2 || s < 0 || e < 0 || e <= s) {
                s_err(L, path, "must be [\"HH:MM\", \"HH:MM\"] with the start before the end");
                bad = 2;
                break;
            }
            spans[n].start_min = s;
            spans[n].end_min = e;
            n++;
        }
        if (bad == 1)
            s_err(L, "calendar.hours", "must be a non-empty array of at most %d [start, end] spans",
                  HL_CAL_MAX_SPANS);
        else if (!bad && hl_cal_set_hours(c->calendar, spans, n) != 0)
            s_err(L, "calendar.hours", "spans must be in order and must not overlap");
    }
    static const char *keys[] = {"holidays", "extra_workdays"};
    int32_t *seen[2] = {NULL, NULL};
    int nseen[2] = {0, 0};
    for (int k = 0; k < 2; k++) {
        v = cJSON_GetObjectItemCaseSensitive(cal, keys[k]);
        if (!v) continue;
        char path[64];
        snprintf(path, sizeof path, "calendar.%s", keys[k]);
        if (!cJSON_IsArray(v)) {
            s_err(L, path, "must be an array of dates \"YYYY-MM-DD\"");
            continue;
        }
        seen[k] = hl_calloc((size_t)cJSON_GetArraySize(v) + 1, sizeof(int32_t));
        int i = 0;
        const cJSON *it;
        cJSON_ArrayForEach(it, v)
        {
            char ipath[80];
            snprintf(ipath, sizeof ipath, "%s[%d]", path, i++);
            int32_t day;
            if (!cJSON_IsString(it) || hl_cal_parse_date(it->valuestring, &day) != 0) {
                s_err(L, ipath, "must be a date \"YYYY-MM-DD\"");
                continue;
            }
            if (k == 1) {
                for (int j = 0; j < nseen[0]; j++)
                    if (seen[0][j] == day)
                        s_err(L, ipath, "%s is also listed as a holiday", it->valuestring);
                hl_cal_add_extra_workday(c->calendar, it->valuestring);
            } else {
                hl_cal_add_holiday(c->calendar, it->valuestring);
            }
            seen[k][nseen[k]++] = day;
        }
    }
    free(seen[0]);
    free(seen[1]);
}

static void s_load_sla_obj(loader *L, const cJSON *o, const char *path, hl_sla *sla)
{
    if (!cJSON_IsObject(o)) {
        s_err(L, path, "must be an object with sign, finish and warn");
        return;
    }
    char p[128];
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "sign");
    snprintf(p, sizeof p, "%s.sign", path);
    if (v && s_duration(L, v, p, &sla->sign) == 0) sla->has_sign = 1;
    v = cJSON_GetObjectItemCaseSensitive(o, "finish");
    snprintf(p, sizeof p, "%s.finish", path);
    if (v && s_duration(L, v, p, &sla->finish) == 0) sla->has_finish = 1;
    v = cJSON_GetObjectItemCaseSensitive(o, "warn");
    snprintf(p, sizeof p, "%s.warn", path);
    if (v) {
        if (!cJSON_IsNumber(v) || !(v->valuedouble > 0 && v->valuedouble < 1))
            s_err(L, p, "must be a fraction between 0 and 1 (such as 0.8)");
        else {
            sla->warn = v->valuedouble;
            sla->has_warn = 1;
        }
    }
}

static void s_load_sla(loader *L, const cJSON *s)
{
    hl_config *c = L->cfg;
    static const char *defaults[3][2] = {{"4h", "5wd"}, {"30m", "24h"}, {"10m", "2h"}};
    for (int u = 0; u < 3; u++) {
        hl_sla *sla = &c->sla[u];
        hl_duration_parse(defaults[u][0], &sla->sign);
        hl_duration_parse(defaults[u][1], &sla->finish);
        sla->warn = 0.8;
        sla->has_sign = sla->has_finish = sla->has_warn = 1;
    }
    if (!s) return;
    if (!cJSON_IsObject(s)) {
        s_err(L, "sla", "must be an object keyed by urgency (normal, urgent, critical)");
        return;
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, s)
    {
        char path[96];
        snprintf(path, sizeof path, "sla.%s", it->string);
        int u = s_index_of(it->string, s_urgencies, 3);
        if (u < 0) {
            s_err(L, path, "unknown urgency \"%s\": use normal, urgent or critical", it->string);
            continue;
        }
        hl_sla part = {0};
        s_load_sla_obj(L, it, path, &part);
        if (part.has_sign) c->sla[u].sign = part.sign;
        if (part.has_finish) c->sla[u].finish = part.finish;
        if (part.has_warn) c->sla[u].warn = part.warn;
    }
}

static void s_load_units(loader *L, const cJSON *arr)
{
    hl_config *c = L->cfg;
    if (!arr) {
        s_err(L, "units", "is required: the tree of units (city, departments, towns, grids)");
        return;
    }
    if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) == 0) {
        s_err(L, "units", "must be a non-empty array of units");
        return;
    }
    int n = cJSON_GetArraySize(arr);
    c->units = hl_calloc((size_t)n, sizeof(hl_unit));
    char **parents = hl_calloc((size_t)n, sizeof(char *));
    int *pos = hl_calloc((size_t)n, sizeof(int));
    int i = 0;
    const cJSON *u;
    cJSON_ArrayForEach(u, arr)
    {
        char path[64];
        snprintf(path, sizeof path, "units[%d]", i++);
        if (!cJSON_IsObject(u)) {
            s_err(L, path, "must be an object with id, name and level");
            continue;
        }
        const char *id = s_str(L, u, "id", path, 1);
        const char *name = s_str(L, u, "name", path, 1);
        const char *level = s_str(L, u, "level", path, 1);
        int lv = s_index_of(level, s_levels, 4);
        const cJSON *pv = cJSON_GetObjectItemCaseSensitive(u, "parent");
        if (level && lv < 0)
            s_err(L, path, "unknown level \"%s\": use city, department, town or grid", level);
        if (id && !s_valid_unit_id(id)) {
            s_err(L, path,
                  "bad id \"%s\": use 1 to 64 letters, digits, '.', '_' or '-', such as "
                  "\"zc.jiayue\"",
                  id);
            id = NULL;
        }
        if (id && hl_map_gets(L->units, id)) {
            s_err(L, path, "duplicate unit id \"%s\"", id);
            id = NULL;
        }
        if (pv && !cJSON_IsNull(pv) && (!cJSON_IsString(pv) || !pv->valuestring[0])) {
            char ppath[80];
            snprintf(ppath, sizeof ppath, "%s.parent", path);
            s_err(L, ppath, "must be the id of another unit");
            pv = NULL;
        }
        if (!id || !name || lv < 0) continue;
        hl_unit *unit = &c->units[c->nunits];
        unit->id = hl_strdup(id);
        unit->name = hl_strdup(name);
        unit->level = (hl_level)lv;
        unit->parent = -1;
        unit->town = -1;
        parents[c->nunits] = cJSON_IsString(pv) ? hl_strdup(pv->valuestring) : NULL;
        pos[c->nunits] = i - 1;
        hl_map_puts(L->units, id, s_idx(c->nunits));
        c->nunits++;
    }
    /* resolve parents, reporting by the unit's position in the file */
    for (int k = 0; k < c->nunits; k++) {
        if (!parents[k]) continue;
        int p = s_unidx(hl_map_gets(L->units, parents[k]));
        if (p < 0) {
            char path[96];
            snprintf(path, sizeof path, "units[%d].parent", pos[k]);
            s_err(L, path, "unknown unit \"%s\"", parents[k]);
        } else {
            c->units[k].parent = p;
        }
    }
    for (int k = 0; k < n; k++) free(parents[k]);
    free(parents);
    /* cycles: a chain longer than the number of units loops */
    for (int k = 0; k < c->nunits; k++) {
        int steps = 0, p = k;
        while (p >= 0 && steps <= c->nunits) {
            p = c->units[p].parent;
            steps++;
        }
        if (p >= 0) {
            char path[96];
            snprintf(path, sizeof path, "units[%d].parent", pos[k]);
            s_err(L, path, "parent cycle through unit \"%s\"", c->units[k].id);
            /* break the cycle so later passes terminate */
            c->units[k].parent = -1;
        }
    }
    for (int k = 0; k < c->nunits; k++) {
        int depth = 0, town = -1;
        for (int p = k; p >= 0; p = c->units[p].parent) {
            if (town < 0 && c->units[p].level == HL_LEVEL_TOWN) town = p;
            if (p != k) depth++;
        }
        c->units[k].depth = depth;
        c->units[k].town = town;
    }
    free(pos);
}

/* A unit reference; reports and returns -1 when unknown. */
static int s_unit_ref(loader *L, const char *id, const char *path)
{
    int u = s_unidx(hl_map_gets(L->units, id));
    if (u < 0) s_err(L, path, "unknown unit \"%s\"", id);
    return u;
}

/* co: unit ids or the tokens "territorial" / "grid". */
static void s_load_co(loader *L, const cJSON *v, const char *path, int **out, int *nout)
{
    *out = NULL;
    *nout = 0;
    if (!v) return;
    hl_strlist l;
    if (s_strlist(L, v, path, &l) != 0) return;
    *out = hl_calloc((size_t)l.n + 1, sizeof(int));
    for (int i = 0; i < l.n; i++) {
        char ipath[128];
        snprintf(ipath, sizeof ipath, "%s[%d]", path, i);
        int u;
        if (strcmp(l.items[i], "territorial") == 0)
            u = HL_CO_TERRITORIAL;
        else if (strcmp(l.items[i], "grid") == 0)
            u = HL_CO_GRID;
        else if ((u = s_unit_ref(L, l.items[i], ipath)) < 0)
            continue;
        (*out)[(*nout)++] = u;
    }
    s_strlist_free(&l);
}

static void s_load_cells(loader *L, const cJSON *arr)
{
    hl_config *c = L->cfg;
    if (!arr) return;
    if (!cJSON_IsArray(arr)) {
        s_err(L, "cells", "must be an array of grid cells");
        return;
    }
    int n = cJSON_GetArraySize(arr), i = 0;
    c->cells = hl_calloc((size_t)n + 1, sizeof(hl_cell));
    const cJSON *o;
    cJSON_ArrayForEach(o, arr)
    {
        char path[64];
        snprintf(path, sizeof path, "cells[%d]", i++);
        if (!cJSON_IsObject(o)) {
            s_err(L, path, "must be an object with id, name, unit and polygon");
            continue;
        }
        const char *id = s_str(L, o, "id", path, 1);
        const char *name = s_str(L, o, "name", path, 0);
        const char *unit = s_str(L, o, "unit", path, 1);
        char upath[80], ppath[80];
        snprintf(upath, sizeof upath, "%s.unit", path);
        snprintf(ppath, sizeof ppath, "%s.polygon", path);
        int u = unit ? s_unit_ref(L, unit, upath) : -1;
        if (id && (strlen(id) > 64 || !hl_utf8_valid(id, strlen(id)))) {
            s_err(L, path, "cell id must be 1 to 64 characters");
            id = NULL;
        }
        if (id && hl_map_gets(L->cells, id)) {
            s_err(L, path, "duplicate cell id \"%s\"", id);
            id = NULL;
        }
        const cJSON *poly = cJSON_GetObjectItemCaseSensitive(o, "polygon");
        int np = cJSON_IsArray(poly) ? cJSON_GetArraySize(poly) : 0;
        double *ring = NULL;
        int bad = 0;
        if (np < 3 || np > 10000) {
            s_err(L, ppath, "must be an array of at least 3 [lon, lat] points");
            bad = 1;
        } else {
            ring = hl_calloc((size_t)np * 2, sizeof(double));
            int k = 0;
            const cJSON *pt;
            cJSON_ArrayForEach(pt, poly)
            {
                const cJSON *x = cJSON_GetArrayItem(pt, 0), *y = cJSON_GetArrayItem(pt, 1);
                if (!cJSON_IsArray(pt) || cJSON_GetArraySize(pt) != 2 || !cJSON_IsNumber(x) ||
                    !cJSON_IsNumber(y) || fabs(x->valuedouble) > 180 || fabs(y->valuedouble) > 90) {
                    s_err(L, ppath,
                          "point %d must be [lon, lat] with lon in -180..180 and lat in -90..90",
                          k);
                    bad = 1;
                    break;
                }
                ring[2 * k] = x->valuedouble;
                ring[2 * k + 1] = y->valuedouble;
                k++;
            }
        }
        if (!id || u < 0 || bad) {
            free(ring);
            continue;
        }
        hl_cell *cell = &c->cells[c->ncells];
        cell->id = hl_strdup(id);
        cell->name = hl_strdup(name ? name : id);
        cell->unit = u;
        cell->ring = ring;
        cell->npoints = np;
        cell->minlon = cell->maxlon = ring[0];
        cell->minlat = cell->maxlat = ring[1];
        for (int k = 1; k < np; k++) {
            cell->minlon = fmin(cell->minlon, ring[2 * k]);
            cell->maxlon = fmax(cell->maxlon, ring[2 * k]);
            cell->minlat = fmin(cell->minlat, ring[2 * k + 1]);
            cell->maxlat = fmax(cell->maxlat, ring[2 * k + 1]);
        }
        hl_map_puts(L->cells, id, s_idx(c->ncells));
        c->ncells++;
    }
}

static void s_load_categories(loader *L, const cJSON *arr)
{
    hl_config *c = L->cfg;
    if (!arr) {
        s_err(L, "categories", "is required: the kinds of case the hotline takes");
        return;
    }
    if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) == 0) {
        s_err(L, "categories", "must be a non-empty array of categories");
        return;
    }
    int n = cJSON_GetArraySize(arr), i = 0;
    c->categories = hl_calloc((size_t)n, sizeof(hl_category));
    const cJSON *o;
    cJSON_ArrayForEach(o, arr)
    {
        char path[64];
        snprintf(path, sizeof path, "categories[%d]", i++);
        if (!cJSON_IsObject(o)) {
            s_err(L, path, "must be an object with code, name and handling");
            continue;
        }
        const char *code = s_str(L, o, "code", path, 1);
        const char *name = s_str(L, o, "name", path, 1);
        const char *handling = s_str(L, o, "handling", path, 1);
        int h = s_index_of(handling, s_handlings, 3);
        if (handling && h < 0)
            s_err(L, path, "unknown handling \"%s\": use grid, territorial or department",
                  handling);
        if (code && (strlen(code) > 64 || strchr(code, '*'))) {
            s_err(L, path, "bad code \"%s\": 1 to 64 characters, no '*'", code);
            code = NULL;
        }
        if (code && hl_map_gets(L->categories, code)) {
            s_err(L, path, "duplicate category code \"%s\"", code);
            code = NULL;
        }
        int dept = -1;
        const char *dname = s_str(L, o, "department", path, 0);
        char dpath[96];
        snprintf(dpath, sizeof dpath, "%s.department", path);
        if (h == HL_HANDLE_DEPARTMENT && !dname)
            s_err(L, dpath, "is required when handling is \"department\"");
        if (dname) dept = s_unit_ref(L, dname, dpath);
        hl_category cat = {0};
        char copath[96], slapath[96];
        snprintf(copath, sizeof copath, "%s.co", path);
        s_load_co(L, cJSON_GetObjectItemCaseSensitive(o, "co"), copath, &cat.co, &cat.nco);
        const cJSON *sla = cJSON_GetObjectItemCaseSensitive(o, "sla");
        snprintf(slapath, sizeof slapath, "%s.sla", path);
        if (sla) s_load_sla_obj(L, sla, slapath, &cat.sla);
        if (!code || !name || h < 0 || (h == HL_HANDLE_DEPARTMENT && dept < 0)) {
            free(cat.co);
            continue;
        }
        cat.code = hl_strdup(code);
        cat.name = hl_strdup(name);
        cat.handling = (hl_handling)h;
        cat.department = h == HL_HANDLE_DEPARTMENT ? dept : -1;
        if (h != HL_HANDLE_DEPARTMENT && dept >= 0) cat.department = dept;
        c->categories[c->ncategories] = cat;
        hl_map_puts(L->categories, code, s_idx(c->ncategories));
        c->ncategories++;
    }
}

static int s_bits_of(loader *L, const cJSON *v, const char *path, const char *const *names,
                     int nnames)
{
    if (!v) return 0;
    hl_strlist l;
    if (s_strlist(L, v, path, &l) != 0) return 0;
    int bits = 0;
    for (int i = 0; i < l.n; i++) {
        int k = s_index_of(l.items[i], names, nnames);
        if (k < 0)
            s_err(L, path, "unknown value \"%s\"", l.items[i]);
        else
            bits |= 1 << k;
    }
    s_strlist_free(&l);
    return bits;
}

static void s_load_rules(loader *L, const cJSON *arr)
{
    hl_config *c = L->cfg;
    if (!arr) return;
    if (!cJSON_IsArray(arr)) {
        s_err(L, "rules", "must be an array of routing rules");
        return;
    }
    int n = cJSON_GetArraySize(arr), i = 0;
    c->rules = hl_calloc((size_t)n + 1, sizeof(hl_rule));
    const cJSON *o;
    cJSON_ArrayForEach(o, arr)
    {
        char path[64], p[128];
        snprintf(path, sizeof path, "rules[%d]", i++);
        if (!cJSON_IsObject(o)) {
            s_err(L, path, "must be an object with name, when and lead");
            continue;
        }
        hl_rule r = {0};
        int ok = 1;
        const char *name = s_str(L, o, "name", path, 0);
        r.name = hl_strdup(name ? name : path);
        const cJSON *when = cJSON_GetObjectItemCaseSensitive(o, "when");
        snprintf(p, sizeof p, "%s.when", path);
        if (when && !cJSON_IsObject(when)) {
            s_err(L, p, "must be an object of conditions");
            ok = 0;
            when = NULL;
        }
        if (when) {
            static const char *known[] = {"category", "urgency", "channel",
                                          "towns",    "cells",   "keywords"};
            const cJSON *k;
            cJSON_ArrayForEach(k, when)
            {
                if (s_index_of(k->string, known, 6) < 0) {
                    snprintf(p, sizeof p, "%s.when.%s", path, k->string);
                    s_err(L, p,
                          "unknown condition: use category, urgency, channel, towns, cells or "
                          "keywords");
                    ok = 0;
                }
            }
            snprintf(p, sizeof p, "%s.when.category", path);
            s_strlist(L, cJSON_GetObjectItemCaseSensitive(when, "category"), p, &r.categories);
            for (int k2 = 0; k2 < r.categories.n; k2++) {
                const char *code = r.categories.items[k2];
                size_t len = strlen(code);
                if (len && code[len - 1] == '*') continue;
                if (!hl_map_gets(L->categories, code)) {
                    char ip[160];
                    snprintf(ip, sizeof ip, "%s[%d]", p, k2);
                    s_err(L, ip, "unknown category \"%s\"", code);
                    ok = 0;
                }
            }
            snprintf(p, sizeof p, "%s.when.urgency", path);
            r.urgencies =
                s_bits_of(L, cJSON_GetObjectItemCaseSensitive(when, "urgency"), p, s_urgencies, 3);
            snprintf(p, sizeof p, "%s.when.channel", path);
            r.channels =
                s_bits_of(L, cJSON_GetObjectItemCaseSensitive(when, "channel"), p, s_channels, 4);
            hl_strlist towns;
            snprintf(p, sizeof p, "%s.when.towns", path);
            s_strlist(L, cJSON_GetObjectItemCaseSensitive(when, "towns"), p, &towns);
            r.towns = hl_calloc((size_t)towns.n + 1, sizeof(int));
            for (int k2 = 0; k2 < towns.n; k2++) {
                char ip[160];
                snprintf(ip, sizeof ip, "%s[%d]", p, k2);
                int u = s_unit_ref(L, towns.items[k2], ip);
                if (u >= 0) r.towns[r.ntowns++] = u;
                else ok = 0;
            }
            s_strlist_free(&towns);
            snprintf(p, sizeof p, "%s.when.cells", path);
            s_strlist(L, cJSON_GetObjectItemCaseSensitive(when, "cells"), p, &r.cells);
            for (int k2 = 0; k2 < r.cells.n; k2++) {
                if (hl_map_gets(L->cells, r.cells.items[k2])) continue;
                char ip[160];
                snprintf(ip, sizeof ip, "%s[%d]", p, k2);
                s_err(L, ip, "unknown cell \"%s\"", r.cells.items[k2]);
                ok = 0;
            }
            snprintf(p, sizeof p, "%s.when.keywords", path);
            s_strlist(L, cJSON_GetObjectItemCaseSensitive(when, "keywords"), p, &r.keywords);
        }
        const char *lead = s_str(L, o, "lead", path, 0);
        snprintf(p, sizeof p, "%s.lead", path);
        if (!lead) {
            if (!cJSON_GetObjectItemCaseSensitive(o, "lead"))
                s_err(L, p, "is required: the unit that leads matching tickets");
            ok = 0;
            r.lead = -1;
        } else if ((r.lead = s_unit_ref(L, lead, p)) < 0) {
            ok = 0;
        }
        snprintf(p, sizeof p, "%s.co", path);
        s_load_co(L, cJSON_GetObjectItemCaseSensitive(o, "co"), p, &r.co, &r.nco);
        c->rules[c->nrules++] = r;
        (void)ok;
    }
}

static void s_load_rest(loader *L, const cJSON *root)
{
    hl_config *c = L->cfg;
    c->weights.sign_rate = 0.2;
    c->weights.finish_rate = 0.4;
    c->weights.satisfaction = 0.4;
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(root, "assessment");
    if (a && !cJSON_IsObject(a)) s_err(L, "assessment", "must be an object");
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(a, "weights");
    if (w) {
        static const char *keys[] = {"sign_rate", "finish_rate", "satisfaction"};
        double *t[] = {&c->weights.sign_rate, &c->weights.finish_rate, &c->weights.satisfaction};
        if (!cJSON_IsObject(w)) s_err(L, "assessment.weights", "must be an object");
        for (int i = 0; i < 3 && cJSON_IsObject(w); i++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(w, keys[i]);
            if (!v) {
                *t[i] = 0;
                continue;
            }
            char p[64];
            snprintf(p, sizeof p, "assessment.weights.%s", keys[i]);
            if (!cJSON_IsNumber(v) || v->valuedouble < 0 || !isfinite(v->valuedouble))
                s_err(L, p, "must be a number ≥ 0");
            else
                *t[i] = v->valuedouble;
        }
        if (c->weights.sign_rate + c->weights.finish_rate + c->weights.satisfaction <= 0)
            s_err(L, "assessment.weights", "at least one weight must be positive");
    }

    const cJSON *s = cJSON_GetObjectItemCaseSensitive(root, "security");
    c->security.secret_key = hl_strdup("config/keys/dispatcher.key_secret");
    c->security.clients = hl_strdup("config/keys/clients.json");
    if (s && !cJSON_IsObject(s)) s_err(L, "security", "must be an object");
    if (cJSON_IsObject(s)) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(s, "curve");
        if (v && !cJSON_IsBool(v)) s_err(L, "security.curve", "must be true or false");
        c->security.curve = cJSON_IsTrue(v);
        const char *k = s_str(L, s, "secret_key", "security", 0);
        if (k) {
            free(c->security.secret_key);
            c->security.secret_key = hl_strdup(k);
        }
        k = s_str(L, s, "clients", "security", 0);
        if (k) {
            free(c->security.clients);
            c->security.clients = hl_strdup(k);
        }
    }

    const cJSON *o = cJSON_GetObjectItemCaseSensitive(root, "open311");
    c->open311.require_key = c->security.curve;
    if (o && !cJSON_IsObject(o)) s_err(L, "open311", "must be an object");
    if (cJSON_IsObject(o)) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "require_key");
        if (v && !cJSON_IsBool(v)) s_err(L, "open311.require_key", "must be true or false");
        if (cJSON_IsBool(v)) c->open311.require_key = cJSON_IsTrue(v);
        const cJSON *keys = cJSON_GetObjectItemCaseSensitive(o, "api_keys");
        if (keys && !cJSON_IsObject(keys))
            s_err(L, "open311.api_keys", "must be an object mapping keys to {channel, name}");
        if (cJSON_IsObject(keys)) {
            c->open311.keys =
                hl_calloc((size_t)cJSON_GetArraySize(keys) + 1, sizeof(hl_apikey));
            const cJSON *k;
            cJSON_ArrayForEach(k, keys)
            {
                char p[160];
                snprintf(p, sizeof p, "open311.api_keys.%.100s", k->string);
                const char *ch = s_jstr(k, "channel");
                int chn = ch ? hl_channel_parse(ch) : HL_CH_APP;
                if (!cJSON_IsObject(k) || chn < 0) {
                    s_err(L, p, "must be {\"channel\": \"app\"|\"web\"|\"phone\"|\"grid\", \"name\": ...}");
                    continue;
                }
                hl_apikey *ak = &c->open311.keys[c->open311.nkeys++];
                ak->key = hl_strdup(k->string);
                ak->channel = (hl_channel)chn;
                const char *nm = s_jstr(k, "name");
                ak->name = hl_strdup(nm ? nm : k->string);
            }
        }
    }

    hl_duration_parse("10wd", &c->extension.max);
    c->extension.times = 3;
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "extension");
    if (e && !cJSON_IsObject(e)) s_err(L, "extension", "must be an object with max and times");
    if (cJSON_IsObject(e)) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(e, "max");
        if (v) s_duration(L, v, "extension.max", &c->extension.max);
        v = cJSON_GetObjectItemCaseSensitive(e, "times");
        if (v) {
            if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) ||
                v->valuedouble < 0 || v->valuedouble > 100)
                s_err(L, "extension.times", "must be an integer from 0 to 100");
            else
                c->extension.times = (int)v->valuedouble;
        }
    }
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(root, "returns");
    if (r && !cJSON_IsObject(r)) s_err(L, "returns", "must be an object with window");
    if (cJSON_IsObject(r)) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(r, "window");
        if (v && s_duration(L, v, "returns.window", &c->return_window) == 0)
            c->has_return_window = 1;
    }
}

/* ---- public ----------------------------------------------------------- */

struct hl_config_index {
    hl_map *units, *cells, *categories;
};

hl_config *hl_config_parse(const char *text, size_t len, const char *name, char **errors)
{
    *errors = NULL;
    loader L = {0};
    hl_buf_init(&L.errors);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (!root) {
        size_t off = end ? (size_t)(end - text) : 0;
        int line = 1;
        for (size_t i = 0; i < off && i < len; i++)
            if (text[i] == '\n') line++;
        *errors = hl_sprintf("config: %s: not valid JSON (line %d)\n", name, line);
        return NULL;
    }
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        *errors = hl_sprintf("config: %s: the top level must be a JSON object\n", name);
        return NULL;
    }
    hl_config *c = hl_calloc(1, sizeof *c);
    L.cfg = c;
    L.units = hl_map_new();
    L.cells = hl_map_new();
    L.categories = hl_map_new();
    c->path = hl_strdup(name);
    const char *nm = s_str(&L, root, "name", "name", 0);
    c->name = hl_strdup(nm ? nm : "12345 hotline");
    const cJSON *tz = cJSON_GetObjectItemCaseSensitive(root, "timezone");
    if (tz && !cJSON_IsString(tz)) s_err(&L, "timezone", "must be a time zone name such as \"Asia/Shanghai\"");
    c->timezone = hl_strdup(cJSON_IsString(tz) ? tz->valuestring : "Asia/Shanghai");
    char *tzerr = NULL;
    c->calendar = hl_cal_new(c->timezone, &tzerr);
    if (!c->calendar) {
        s_err(&L, "timezone", "%s", tzerr ? tzerr : "unknown time zone");
        free(tzerr);
    }
    s_load_dispatcher(&L, cJSON_GetObjectItemCaseSensitive(root, "dispatcher"));
    s_load_calendar(&L, cJSON_GetObjectItemCaseSensitive(root, "calendar"));
    s_load_sla(&L, cJSON_GetObjectItemCaseSensitive(root, "sla"));
    s_load_units(&L, cJSON_GetObjectItemCaseSensitive(root, "units"));
    s_load_cells(&L, cJSON_GetObjectItemCaseSensitive(root, "cells"));
    s_load_categories(&L, cJSON_GetObjectItemCaseSensitive(root, "categories"));
    s_load_rules(&L, cJSON_GetObjectItemCaseSensitive(root, "rules"));
    s_load_rest(&L, root);
    cJSON_Delete(root);
    c->index = hl_calloc(1, sizeof *c->index);
    c->index->units = L.units;
    c->index->cells = L.cells;
    c->index->categories = L.categories;
    if (L.nerrors) {
        if (L.nerrors > 100) hl_buf_printf(&L.errors, "config: %d more errors not shown\n", L.nerrors - 100);
        *errors = hl_buf_steal(&L.errors);
        hl_config_destroy(&c);
        return NULL;
    }
    hl_buf_free(&L.errors);
    return c;
}

hl_config *hl_config_load(const char *path, char **errors)
{
    char *err = NULL;
    size_t len;
    char *text = hl_read_file(path, &len, &err);
    if (!text) {
        *errors = hl_sprintf("config: %s\n", err);
        free(err);
        return NULL;
    }
    hl_config *c = hl_config_parse(text, len, path, errors);
    free(text);
    return c;
}

void hl_config_destroy(hl_config **cp)
{
    hl_config *c = *cp;
    if (!c) return;
    *cp = NULL;
    free(c->path);
    free(c->name);
    free(c->timezone);
    free(c->dispatcher.front);
    free(c->dispatcher.events);
    free(c->dispatcher.http);
    free(c->dispatcher.db);
    hl_cal_destroy(&c->calendar);
    for (int i = 0; i < c->nunits; i++) {
        free(c->units[i].id);
        free(c->units[i].name);
    }
    free(c->units);
    for (int i = 0; i < c->ncells; i++) {
        free(c->cells[i].id);
        free(c->cells[i].name);
        free(c->cells[i].ring);
    }
    free(c->cells);
    for (int i = 0; i < c->ncategories; i++) {
        free(c->categories[i].code);
        free(c->categories[i].name);
        free(c->categories[i].co);
    }
    free(c->categories);
    for (int i = 0; i < c->nrules; i++) {
        hl_rule *r = &c->rules[i];
        free(r->name);
        s_strlist_free(&r->categories);
        free(r->towns);
        s_strlist_free(&r->cells);
        s_strlist_free(&r->keywords);
        free(r->co);
    }
    free(c->rules);
    free(c->security.secret_key);
    free(c->security.clients);
    for (int i = 0; i < c->open311.nkeys; i++) {
        free(c->open311.keys[i].key);
        free(c->open311.keys[i].name);
    }
    free(c->open311.keys);
    if (c->index) {
        hl_map_destroy(&c->index->units);
        hl_map_destroy(&c->index->cells);
        hl_map_destroy(&c->index->categories);
        free(c->index);
    }
    free(c);
}

int hl_config_unit(const hl_config *cfg, const char *id)
{
    return id ? s_unidx(hl_map_gets(cfg->index->units, id)) : -1;
}

int hl_config_category(const hl_config *cfg, const char *code)
{
    return code ? s_unidx(hl_map_gets(cfg->index->categories, code)) : -1;
}

int hl_config_cell(const hl_config *cfg, const char *id)
{
    return id ? s_unidx(hl_map_gets(cfg->index->cells, id)) : -1;
}

/* Ray casting; a point on an edge may fall on either side, which is fine
 * for cells that share edges: the first cell in file order wins. */
static int s_in_ring(const double *ring, int n, double x, double y)
{
    int in = 0;
    for (int i = 0, j = n - 1; i < n; j = i++) {
        double xi = ring[2 * i], yi = ring[2 * i + 1], xj = ring[2 * j], yj = ring[2 * j + 1];
        if (((yi > y) != (yj > y)) && (x < (xj - xi) * (y - yi) / (yj - yi) + xi)) in = !in;
    }
    return in;
}

int hl_config_locate(const hl_config *cfg, double lat, double lon)
{
    for (int i = 0; i < cfg->ncells; i++) {
        const hl_cell *c = &cfg->cells[i];
        if (lon < c->minlon || lon > c->maxlon || lat < c->minlat || lat > c->maxlat) continue;
        if (s_in_ring(c->ring, c->npoints, lon, lat)) return i;
    }
    return -1;
}

int hl_config_unit_under(const hl_config *cfg, int a, int b)
{
    for (int p = a; p >= 0; p = cfg->units[p].parent)
        if (p == b) return 1;
    return 0;
}

hl_sla hl_config_sla(const hl_config *cfg, int category, hl_urgency urgency)
{
    hl_sla s = cfg->sla[urgency];
    if (category >= 0 && category < cfg->ncategories) {
        const hl_sla *o = &cfg->categories[category].sla;
        if (o->has_sign) s.sign = o->sign;
        if (o->has_finish) s.finish = o->finish;
        if (o->has_warn) s.warn = o->warn;
    }
    return s;
}

char *hl_config_summary(const hl_config *cfg)
{
    int bylevel[4] = {0};
    for (int i = 0; i < cfg->nunits; i++) bylevel[cfg->units[i].level]++;
    int byhandling[3] = {0};
    for (int i = 0; i < cfg->ncategories; i++) byhandling[cfg->categories[i].handling]++;
    hl_buf b;
    hl_buf_init(&b);
    hl_buf_printf(&b, "%s: configuration is valid\n", cfg->path);
    hl_buf_printf(&b, "  name        %s (time zone %s)\n", cfg->name, cfg->timezone);
    hl_buf_printf(&b, "  units       %d: %d city, %d department, %d town, %d grid\n", cfg->nunits,
                  bylevel[HL_LEVEL_CITY], bylevel[HL_LEVEL_DEPARTMENT], bylevel[HL_LEVEL_TOWN],
                  bylevel[HL_LEVEL_GRID]);
    hl_buf_printf(&b, "  cells       %d\n", cfg->ncells);
    hl_buf_printf(&b, "  categories  %d: %d grid, %d territorial, %d department\n",
                  cfg->ncategories, byhandling[HL_HANDLE_GRID], byhandling[HL_HANDLE_TERRITORIAL],
                  byhandling[HL_HANDLE_DEPARTMENT]);
    hl_buf_printf(&b, "  rules       %d\n", cfg->nrules);
    hl_buf_printf(&b, "  front       %s\n  events      %s\n  database    %s\n",
                  cfg->dispatcher.front, cfg->dispatcher.events, cfg->dispatcher.db);
    return hl_buf_steal(&b);
}
