/* test_route.c — unit tests for dispatcher/route.c: every routing path
 * (explicit cell, point-in-polygon, rules by category prefix, keyword,
 * urgency, channel, towns and cells, then grid / territorial / department
 * handling, co tokens, triage) with config/test-small.json, the 诸城市 demo
 * config/zhucheng.json, and small configs written for the edge cases. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "route.h"

#include "hotline/config.h"
#include "hotline/util.h"

static hl_config *s_load(const char *path)
{
    char *err = NULL;
    hl_config *cfg = hl_config_load(path, &err);
    if (!cfg) fail_msg("cannot load %s: %s", path, err);
    return cfg;
}

static hl_config *s_parse(const char *text)
{
    char *err = NULL;
    hl_config *cfg = hl_config_parse(text, strlen(text), "inline", &err);
    if (!cfg) fail_msg("inline config refused: %s", err);
    return cfg;
}

typedef struct want {
    const char *cell; /* NULL: no cell */
    const char *town;
    const char *lead; /* NULL: triage */
    const char *co;   /* comma-separated, "" for none */
} want;

static route_input s_in(const hl_config *cfg, const char *category)
{
    route_input in = {0};
    in.category = hl_config_category(cfg, category);
    assert_true(in.category >= 0);
    in.urgency = HL_URG_NORMAL;
    in.channel = HL_CH_PHONE;
    in.description = "市民来电反映问题";
    return in;
}

static route_input s_at(const hl_config *cfg, const char *category, double lat, double lon)
{
    route_input in = s_in(cfg, category);
    in.has_point = 1;
    in.lat = lat;
    in.lon = lon;
    return in;
}

static route_input s_cell(const hl_config *cfg, const char *category, const char *cell)
{
    route_input in = s_in(cfg, category);
    in.cell = cell;
    return in;
}

static const char *s_unit(const hl_config *cfg, int u)
{
    return u >= 0 ? cfg->units[u].id : NULL;
}

static void s_check(const hl_config *cfg, const route_input *in, want w)
{
    route_result r;
    char msg[300];
    assert_int_equal(route_ticket(cfg, in, &r, msg, sizeof msg), HL_OK);
    const char *cell = r.cell >= 0 ? cfg->cells[r.cell].id : NULL;
    if (!hl_streq(cell, w.cell)) fail_msg("cell: got %s, want %s", cell, w.cell);
    if (!hl_streq(s_unit(cfg, r.town), w.town))
        fail_msg("town: got %s, want %s", s_unit(cfg, r.town), w.town);
    if (!hl_streq(s_unit(cfg, r.lead), w.lead))
        fail_msg("lead: got %s, want %s", s_unit(cfg, r.lead), w.lead);
    char co[400] = "";
    for (int i = 0; i < r.nco; i++) {
        if (i) strcat(co, ",");
        strcat(co, cfg->units[r.co[i]].id);
    }
    if (strcmp(co, w.co) != 0) fail_msg("co: got \"%s\", want \"%s\"", co, w.co);
    route_result_free(&r);
}

/* ---- config/test-small.json ------------------------------------------------ */

static void test_small_explicit_cell(void **state)
{
    hl_config *cfg = s_load("config/test-small.json");
    route_input in = s_cell(cfg, "env.litter", "C-A1");
    s_check(cfg, &in, (want){"C-A1", "t.a", "t.a.g1", ""});
    /* a cell owned by a town directly: grid handling gives the town */
    in = s_cell(cfg, "env.litter", "C-A2");
    s_check(cfg, &in, (want){"C-A2", "t.a", "t.a", ""});
    in = s_cell(cfg, "env.noise", "C-B2");
    s_check(cfg, &in, (want){"C-B2", "t.b", "t.b", ""});
    /* an explicit cell wins over a point elsewhere */
    in = s_cell(cfg, "env.noise", "C-B1");
    in.has_point = 1;
    in.lat = 30.005;
    in.lon = 100.005;
    s_check(cfg, &in, (want){"C-B1", "t.b", "t.b", ""});
    hl_config_destroy(&cfg);
}

static void test_small_unknown_cell(void **state)
{
    hl_config *cfg = s_load("config/test-small.json");
    route_input in = s_cell(cfg, "env.noise", "C-Z9");
    route_result r;
    char msg[300] = "";
    assert_int_equal(route_ticket(cfg, &in, &r, msg, sizeof msg), HL_E_UNKNOWN_CELL);
    assert_non_null(strstr(msg, "C-Z9"));
    assert_int_equal(r.nco, 0);
    assert_null(r.co);
    hl_config_destroy(&cfg);
}

static void test_small_point_in_polygon(void **state)
{
    hl_config *cfg = s_load("config/test-small.json");
    route_input in = s_at(cfg, "env.litter", 30.005, 100.005);
    s_check(cfg, &in, (want){"C-A1", "t.a", "t.a.g1", ""});
    in = s_at(cfg, "env.noise", 30.005, 100.015);
    s_check(cfg, &in, (want){"C-A2", "t.a", "t.a", ""});
    in = s_at(cfg, "env.noise", 30.015, 100.025);
    s_check(cfg, &in, (want){"C-B1", "t.b", "t.b", ""});
    in = s_at(cfg, "env.litter", 30.015, 100.035);
    s_check(cfg, &in, (want){"C-B2", "t.b", "t.b.g1", ""});
    hl_config_destroy(&cfg);
}

static void test_small_triage_without_cell(void **state)
{
    hl_config *cfg = s_load("config/test-small.json");
    /* no location at all */
    route_input in = s_in(cfg, "env.noise");
    s_check(cfg, &in, (want){NULL, NULL, NULL, ""});
    /* a point in the box but in no cell */
    in = s_at(cfg, "env.noise", 30.015, 100.005);
    s_check(cfg, &in, (want){NULL, NULL, NULL, ""});
    in = s_at(cfg, "env.litter", 31.0, 101.0);
    s_check(cfg, &in, (want){NULL, NULL, NULL, ""});
    hl_config_destroy(&cfg);
}

static void test_small_department_and_co_token(void **state)
{
    hl_config *cfg = s_load("config/test-small.json");
    route_input in = s_cell(cfg, "water.outage", "C-B1");
    s_check(cfg, &in, (want){"C-B1", "t.b", "t.water", "t.b"});
    /* without a cell the territorial token has nothing to stand for */
    in = s_in(cfg, "water.outage");
    s_check(cfg, &in, (want){NULL, NULL, "t.water", ""});
    hl_config_destroy(&cfg);
}

static void test_small_rule_prefix_and_keyword(void **state)
{
    hl_config *cfg = s_load("config/test-small.json");
    route_input in = s_cell(cfg, "road.damage", "C-A1");
    in.description = "国道路面塌陷";
    s_check(cfg, &in, (want){"C-A1", "t.a", "t.transport", ""});
    /* the keyword may be in the title */
    in = s_cell(cfg, "road.damage", "C-A1");
    in.title = "国道坑洼";
    s_check(cfg, &in, (want){"C-A1", "t.a", "t.transport", ""});
    /* no keyword: the category's territorial handling */
    in = s_cell(cfg, "road.damage", "C-A1");
    in.description = "村道路面破损";
    s_check(cfg, &in, (want){"C-A1", "t.a", "t.a", ""});
    /* the keyword without a road.* category does not match */
    in = s_cell(cfg, "env.noise", "C-A1");
    in.description = "国道旁工地夜间施工";
    s_check(cfg, &in, (want){"C-A1", "t.a", "t.a", ""});
    hl_config_destroy(&cfg);
}

static void test_small_urgency_rule(void **state)
{
    hl_config *cfg = s_load("config/test-small.json");
    route_input in = s_cell(cfg, "env.litter", "C-B1");
    in.urgency = HL_URG_CRITICAL;
    s_check(cfg, &in, (want){"C-B1", "t.b", "t", "t.b"});
    /* the first matching rule wins: critical road with 国道 goes to transport */
    in = s_cell(cfg, "road.damage", "C-B1");
    in.urgency = HL_URG_CRITICAL;
    in.description = "国道塌方";
    s_check(cfg, &in, (want){"C-B1", "t.b", "t.transport", ""});
    /* a rule's lead applies even without a location; its co token drops */
    in = s_in(cfg, "env.noise");
    in.urgency = HL_URG_CRITICAL;
    s_check(cfg, &in, (want){NULL, NULL, "t", ""});
    in.urgency = HL_URG_URGENT;
    s_check(cfg, &in, (want){NULL, NULL, NULL, ""});
    hl_config_destroy(&cfg);
}

/* ---- edge cases on a config written for them ------------------------------------ */

static const char *s_edge_config =
    "{\"units\": ["
    " {\"id\": \"c\", \"name\": \"市\", \"level\": \"city\"},"
    " {\"id\": \"c.t\", \"name\": \"镇\", \"level\": \"town\", \"parent\": \"c\"},"
    " {\"id\": \"c.t.g\", \"name\": \"网格站\", \"level\": \"grid\", \"parent\": \"c.t\"},"
    " {\"id\": \"c.u\", \"name\": \"另一镇\", \"level\": \"town\", \"parent\": \"c\"},"
    " {\"id\": \"c.d\", \"name\": \"部门\", \"level\": \"department\", \"parent\": \"c\"},"
    " {\"id\": \"c.e\", \"name\": \"部门二\", \"level\": \"department\", \"parent\": \"c\"}],"
    " \"cells\": ["
    " {\"id\": \"G\", \"name\": \"g\", \"unit\": \"c.t.g\", \"polygon\": "
    "[[1,1],[2,1],[2,2],[1,2]]},"
    " {\"id\": \"T\", \"name\": \"t\", \"unit\": \"c.t\", \"polygon\": [[2,1],[3,1],[3,2],[2,2]]},"
    " {\"id\": \"U\", \"name\": \"u\", \"unit\": \"c.u\", \"polygon\": [[3,1],[4,1],[4,2],[3,2]]}],"
    " \"categories\": ["
    " {\"code\": \"a.x\", \"name\": \"ax\", \"handling\": \"grid\", \"co\": [\"territorial\", "
    "\"c.d\"]},"
    " {\"code\": \"a.y\", \"name\": \"ay\", \"handling\": \"territorial\"},"
    " {\"code\": \"ab.z\", \"name\": \"abz\", \"handling\": \"department\", \"department\": "
    "\"c.d\"}],"
    " \"rules\": ["
    " {\"name\": \"channel\", \"when\": {\"channel\": [\"grid\"], \"category\": [\"a.y\"]},"
    "  \"lead\": \"c.t\", \"co\": [\"grid\", \"territorial\", \"c.t\", \"c.e\", \"c.e\"]},"
    " {\"name\": \"towns\", \"when\": {\"towns\": [\"c.u\"], \"category\": [\"a.*\"]}, \"lead\": "
    "\"c.e\"},"
    " {\"name\": \"cells\", \"when\": {\"cells\": [\"T\"], \"urgency\": [\"urgent\"]}, \"lead\": "
    "\"c.e\","
    "  \"co\": [\"grid\"]}]}";

static void test_edge_co_dedup_and_lead(void **state)
{
    hl_config *cfg = s_parse(s_edge_config);
    /* grid and territorial both stand for c.t here, which also leads: all
     * dropped; c.e once */
    route_input in = s_cell(cfg, "a.y", "T");
    in.channel = HL_CH_GRID;
    s_check(cfg, &in, (want){"T", "c.t", "c.t", "c.e"});
    /* at the grid cell the grid token is c.t.g, the town c.t leads */
    in = s_cell(cfg, "a.y", "G");
    in.channel = HL_CH_GRID;
    s_check(cfg, &in, (want){"G", "c.t", "c.t", "c.t.g,c.e"});
    /* category co: territorial then a department */
    in = s_cell(cfg, "a.x", "G");
    s_check(cfg, &in, (want){"G", "c.t", "c.t.g", "c.t,c.d"});
    hl_config_destroy(&cfg);
}

static void test_edge_towns_cells_prefix(void **state)
{
    hl_config *cfg = s_parse(s_edge_config);
    /* towns: the cell's town must be listed */
    route_input in = s_cell(cfg, "a.y", "U");
    s_check(cfg, &in, (want){"U", "c.u", "c.e", ""});
    in = s_cell(cfg, "a.y", "T");
    s_check(cfg, &in, (want){"T", "c.t", "c.t", ""});
    /* without a cell a towns rule never matches */
    in = s_in(cfg, "a.y");
    s_check(cfg, &in, (want){NULL, NULL, NULL, ""});
    /* "a.*" is a prefix with the dot: ab.z does not match it */
    in = s_cell(cfg, "ab.z", "U");
    s_check(cfg, &in, (want){"U", "c.u", "c.d", ""});
    /* cells + urgency: both must match; the grid token at T is its unit c.t */
    in = s_cell(cfg, "ab.z", "T");
    in.urgency = HL_URG_URGENT;
    s_check(cfg, &in, (want){"T", "c.t", "c.e", "c.t"});
    in.urgency = HL_URG_NORMAL;
    s_check(cfg, &in, (want){"T", "c.t", "c.d", ""});
    /* the channel rule needs channel grid */
    in = s_cell(cfg, "a.y", "G");
    in.channel = HL_CH_APP;
    s_check(cfg, &in, (want){"G", "c.t", "c.t", ""});
    hl_config_destroy(&cfg);
}

/* ---- config/zhucheng.json ------------------------------------------------------ */

static void test_zc_point_and_handling(void **state)
{
    hl_config *cfg = s_load("config/zhucheng.json");
    /* the city centre lies in 密州街道 */
    route_input in = s_at(cfg, "env.noise", 35.99, 119.41);
    s_check(cfg, &in, (want){"370782001001002", "zc.mizhou", "zc.mizhou", ""});
    in = s_at(cfg, "env.litter", 35.99, 119.41);
    s_check(cfg, &in, (want){"370782001001002", "zc.mizhou", "zc.mizhou.g01", ""});
    in = s_at(cfg, "social.neighbor", 36.02, 119.44);
    s_check(cfg, &in, (want){"370782001002002", "zc.mizhou", "zc.mizhou.g02", ""});
    /* 贾悦镇 by explicit cell */
    in = s_cell(cfg, "water.outage", "370782102001001");
    s_check(cfg, &in, (want){"370782102001001", "zc.jiayue", "zc.water", "zc.jiayue"});
    in = s_cell(cfg, "env.burning", "370782102001001");
    s_check(cfg, &in, (want){"370782102001001", "zc.jiayue", "zc.jiayue", "zc.eco"});
    in = s_cell(cfg, "housing.property", "370782102002001");
    s_check(cfg, &in, (want){"370782102002001", "zc.jiayue", "zc.jiayue", "zc.housing"});
    /* department without location: the token drops, the department leads */
    in = s_in(cfg, "power.outage");
    s_check(cfg, &in, (want){NULL, NULL, "zc.power", ""});
    /* territorial without location: triage */
    in = s_in(cfg, "misc.other");
    s_check(cfg, &in, (want){NULL, NULL, NULL, ""});
    /* outside the city */
    in = s_at(cfg, "env.noise", 36.5, 119.41);
    s_check(cfg, &in, (want){NULL, NULL, NULL, ""});
    hl_config_destroy(&cfg);
}

static void test_zc_rules(void **state)
{
    hl_config *cfg = s_load("config/zhucheng.json");
    /* 1. critical → 应急管理局 with the town */
    route_input in = s_at(cfg, "road.damage", 35.95, 119.15);
    in.urgency = HL_URG_CRITICAL;
    in.description = "G206国道发生塌陷";
    s_check(cfg, &in, (want){"370782102001003", "zc.jiayue", "zc.emergency", "zc.jiayue"});
    /* 2. gas keyword in any category, before the road rule */
    in = s_at(cfg, "road.damage", 35.95, 119.15);
    in.description = "省道旁天然气管道破裂";
    s_check(cfg, &in, (want){"370782102001003", "zc.jiayue", "zc.gas", "zc.jiayue"});
    in = s_in(cfg, "misc.other");
    in.title = "闻到煤气味";
    s_check(cfg, &in, (want){NULL, NULL, "zc.gas", ""});
    /* 3. road.* with a road keyword */
    in = s_at(cfg, "road.light", 35.95, 119.15);
    in.description = "S222沿线路灯不亮";
    s_check(cfg, &in, (want){"370782102001003", "zc.jiayue", "zc.transport", ""});
    in = s_at(cfg, "road.light", 35.95, 119.15);
    s_check(cfg, &in, (want){"370782102001003", "zc.jiayue", "zc.housing", ""});
    /* 4. enterprise.* in 开发区, elsewhere the department */
    in = s_at(cfg, "enterprise.service", 36.07, 119.40);
    s_check(cfg, &in, (want){"370782400001001", "zc.kaifaqu", "zc.kaifaqu", "zc.approval"});
    in = s_at(cfg, "enterprise.service", 35.99, 119.41);
    s_check(cfg, &in, (want){"370782001001002", "zc.mizhou", "zc.approval", ""});
    hl_config_destroy(&cfg);
}

static void test_resolve_co_bounds(void **state)
{
    hl_config *cfg = s_load("config/test-small.json");
    int list[] = {HL_CO_TERRITORIAL, HL_CO_GRID, 999, -7, hl_config_unit(cfg, "t.water")};
    int out[8];
    /* without a cell both tokens drop; bad indexes are ignored */
    int n = route_resolve_co(cfg, list, 5, -1, -1, out, 0);
    assert_int_equal(n, 1);
    assert_string_equal(cfg->units[out[0]].id, "t.water");
    int cell = hl_config_cell(cfg, "C-A1");
    n = route_resolve_co(cfg, list, 5, cell, hl_config_unit(cfg, "t.water"), out, 0);
    assert_int_equal(n, 2);
    assert_string_equal(cfg->units[out[0]].id, "t.a");
    assert_string_equal(cfg->units[out[1]].id, "t.a.g1");
    assert_int_equal(route_cell_town(cfg, -1), -1);
    assert_int_equal(route_cell_town(cfg, 1000), -1);
    hl_config_destroy(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_explicit_cell),
        cmocka_unit_test(test_small_unknown_cell),
        cmocka_unit_test(test_small_point_in_polygon),
        cmocka_unit_test(test_small_triage_without_cell),
        cmocka_unit_test(test_small_department_and_co_token),
        cmocka_unit_test(test_small_rule_prefix_and_keyword),
        cmocka_unit_test(test_small_urgency_rule),
        cmocka_unit_test(test_edge_co_dedup_and_lead),
        cmocka_unit_test(test_edge_towns_cells_prefix),
        cmocka_unit_test(test_zc_point_and_handling),
        cmocka_unit_test(test_zc_rules),
        cmocka_unit_test(test_resolve_co_bounds),
    };
    return cmocka_run_group_tests_name("route", tests, NULL, NULL);
}
