/* hotline/config.h — the configuration file (config/README.md): loading,
 * validation with JSON paths in every refusal, and the resolved model the
 * dispatcher routes with. A loaded config is immutable. */
#ifndef HOTLINE_CONFIG_H
#define HOTLINE_CONFIG_H

#include "hotline/calendar.h"
#include "hotline/timefmt.h"

#include <stddef.h>

typedef enum { HL_LEVEL_CITY, HL_LEVEL_DEPARTMENT, HL_LEVEL_TOWN, HL_LEVEL_GRID } hl_level;
typedef enum { HL_HANDLE_GRID, HL_HANDLE_TERRITORIAL, HL_HANDLE_DEPARTMENT } hl_handling;
typedef enum { HL_URG_NORMAL, HL_URG_URGENT, HL_URG_CRITICAL, HL_URG__COUNT } hl_urgency;
typedef enum { HL_CH_PHONE, HL_CH_WEB, HL_CH_APP, HL_CH_GRID, HL_CH__COUNT } hl_channel;

const char *hl_level_name(hl_level l);
const char *hl_handling_name(hl_handling h);
const char *hl_urgency_name(hl_urgency u);
int hl_urgency_parse(const char *s);  /* -1 when unknown */
const char *hl_channel_name(hl_channel c);
int hl_channel_parse(const char *s);  /* -1 when unknown */

/* A co entry: a unit index, or one of the tokens. */
enum { HL_CO_TERRITORIAL = -1, HL_CO_GRID = -2 };

typedef struct hl_unit {
    char *id;
    char *name;
    hl_level level;
    int parent; /* index, -1 for a root */
    int town;   /* nearest ancestor-or-self of level town, -1 if none */
    int depth;  /* 0 for a root */
} hl_unit;

typedef struct hl_cell {
    char *id;
    char *name;
    int unit;      /* index of the owning unit */
    double *ring;  /* lon,lat pairs */
    int npoints;
    double minlon, minlat, maxlon, maxlat;
} hl_cell;

/* An SLA, possibly partial (category overrides). */
typedef struct hl_sla {
    int has_sign, has_finish, has_warn;
    hl_duration sign, finish;
    double warn;
} hl_sla;

typedef struct hl_category {
    char *code;
    char *name;
    hl_handling handling;
    int department; /* unit index, -1 unless handling is department */
    int *co;        /* unit indexes or HL_CO_* tokens */
    int nco;
    hl_sla sla;     /* overrides; has_* say which */
} hl_category;

typedef struct hl_strlist {
    char **items;
    int n;
} hl_strlist;

typedef struct hl_rule {
    char *name;
    hl_strlist categories; /* codes; a trailing '*' matches a prefix */
    int urgencies;         /* bit set of hl_urgency, 0 = any */
    int channels;          /* bit set of hl_channel, 0 = any */
    int *towns;            /* unit indexes; n 0 = any */
    int ntowns;
    hl_strlist cells;      /* cell ids */
    hl_strlist keywords;
    int lead;              /* unit index */
    int *co;
    int nco;
} hl_rule;

typedef struct hl_apikey {
    char *key;
    hl_channel channel;
    char *name;
} hl_apikey;

struct hl_config_index;

typedef struct hl_config {
    struct hl_config_index *index; /* lookup tables, private to config.c */
    char *path;
    char *name;
    char *timezone;
    struct {
        char *front, *events, *http, *db;
        int synchronous; /* 0 off, 1 normal, 2 full, 3 extra */
        int64_t heartbeat_ms;
        int64_t dedup_window_ms;
        size_t max_message;
        int64_t max_db_pages; /* 0: no cap; re-read on SIGHUP */
        int wal_pages;        /* the write-ahead log starts over past this length */
    } dispatcher;
    hl_calendar *calendar;
    hl_sla sla[HL_URG__COUNT]; /* complete: has_* all set */
    hl_unit *units;
    int nunits;
    hl_cell *cells;
    int ncells;
    hl_category *categories;
    int ncategories;
    hl_rule *rules;
    int nrules;
    struct {
        double sign_rate, finish_rate, satisfaction;
    } weights;
    struct {
        hl_duration max;
        int times;
    } extension;
    int has_return_window;
    hl_duration return_window;
    struct {
        int curve;
        char *secret_key;
        char *clients;
    } security;
    struct {
        hl_apikey *keys;
        int nkeys;
        int require_key;
    } open311;
} hl_config;

/* Load and validate. On failure returns NULL and sets *errors to every
 * refusal found, one per line, each "config: <path>: <reason>" (caller
 * frees). Relative paths in the file stay as written. */
hl_config *hl_config_load(const char *path, char **errors);
/* The same from text already in memory (name is used in messages only). */
hl_config *hl_config_parse(const char *text, size_t len, const char *name, char **errors);
void hl_config_destroy(hl_config **cfg);

/* Lookups; -1 when absent. Linear for cells/categories is avoided: these use
 * hash tables built at load time. */
int hl_config_unit(const hl_config *cfg, const char *id);
int hl_config_category(const hl_config *cfg, const char *code);
int hl_config_cell(const hl_config *cfg, const char *id);
/* The cell whose polygon holds the point, -1 if none. */
int hl_config_locate(const hl_config *cfg, double lat, double lon);
/* 1 when unit a is b or below b. */
int hl_config_unit_under(const hl_config *cfg, int a, int b);

/* The effective SLA of a category at an urgency: category override over
 * the urgency default. */
hl_sla hl_config_sla(const hl_config *cfg, int category, hl_urgency urgency);

/* A short summary for --check: units by level, cells, categories, rules. */
char *hl_config_summary(const hl_config *cfg);

#endif
