/* test_config.c — configuration loading: the shipped configs load, and each
 * kind of refusal names its JSON path and reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "hotline/config.h"
#include "hotline/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UNITS                                                                              \
    "\"units\":[{\"id\":\"c\",\"name\":\"市\",\"level\":\"city\"},"                          \
    "{\"id\":\"c.t\",\"name\":\"镇\",\"level\":\"town\",\"parent\":\"c\"},"                  \
    "{\"id\":\"c.t.g\",\"name\":\"网格\",\"level\":\"grid\",\"parent\":\"c.t\"},"            \
    "{\"id\":\"c.w\",\"name\":\"水务\",\"level\":\"department\",\"parent\":\"c\"}]"
#define CELLS                                                                              \
    "\"cells\":[{\"id\":\"K1\",\"name\":\"一\",\"unit\":\"c.t.g\",\"polygon\":[[100,30],[100.01,30]," \
    "[100.01,30.01],[100,30.01]]}]"
#define CATS                                                                               \
    "\"categories\":[{\"code\":\"env.noise\",\"name\":\"噪音\",\"handling\":\"territorial\"}," \
    "{\"code\":\"water.out\",\"name\":\"停水\",\"handling\":\"department\",\"department\":\"c.w\"," \
    "\"co\":[\"territorial\"],\"sla\":{\"finish\":\"24h\"}}]"

/* Parse text; expect failure whose errors contain every needle. */
static void refuse(const char *text, const char *needle1, const char *needle2)
{
    char *errors = NULL;
    hl_config *cfg = hl_config_parse(text, strlen(text), "t.json", &errors);
    if (cfg) {
        hl_config_destroy(&cfg);
        fail_msg("accepted: %s", text);
    }
    assert_non_null(errors);
    if (!strstr(errors, needle1)) fail_msg("errors lack \"%s\":\n%s", needle1, errors);
    if (needle2 && !strstr(errors, needle2)) fail_msg("errors lack \"%s\":\n%s", needle2, errors);
    assert_true(strncmp(errors, "config: ", 8) == 0);
    free(errors);
}

static hl_config *accept(const char *text)
{
    char *errors = NULL;
    hl_config *cfg = hl_config_parse(text, strlen(text), "t.json", &errors);
    if (!cfg) fail_msg("refused: %s", errors);
    return cfg;
}

static void test_minimal_and_defaults(void **state)
{
    (void)state;
    hl_config *cfg = accept("{" UNITS "," CATS "}");
    assert_int_equal(cfg->nunits, 4);
    assert_int_equal(cfg->ncategories, 2);
    assert_string_equal(cfg->dispatcher.front, "tcp://127.0.0.1:7450");
    assert_string_equal(cfg->dispatcher.events, "tcp://127.0.0.1:7451");
    assert_int_equal(cfg->dispatcher.synchronous, 2);
    assert_int_equal(cfg->dispatcher.heartbeat_ms, 5000);
    assert_int_equal(cfg->dispatcher.dedup_window_ms, 86400000);
    assert_int_equal(cfg->dispatcher.max_message, 65536);
    assert_int_equal(cfg->dispatcher.wal_pages, 32000);
    assert_int_equal(cfg->sla[HL_URG_NORMAL].finish.n, 5);
    assert_int_equal(cfg->sla[HL_URG_NORMAL].finish.unit, HL_DUR_WORKDAY);
    assert_int_equal(cfg->sla[HL_URG_CRITICAL].sign.n, 10);
    assert_true(cfg->sla[HL_URG_URGENT].warn > 0.79 && cfg->sla[HL_URG_URGENT].warn < 0.81);
    assert_int_equal(cfg->extension.times, 3);
    assert_int_equal(cfg->extension.max.n, 10);
    assert_false(cfg->security.curve);
    assert_false(cfg->open311.require_key);
    /* the tree */
    int g = hl_config_unit(cfg, "c.t.g"), t = hl_config_unit(cfg, "c.t");
    assert_int_equal(cfg->units[g].town, t);
    assert_int_equal(cfg->units[g].depth, 2);
    assert_int_equal(cfg->units[hl_config_unit(cfg, "c.w")].town, -1);
    assert_true(hl_config_unit_under(cfg, g, hl_config_unit(cfg, "c")));
    assert_false(hl_config_unit_under(cfg, hl_config_unit(cfg, "c.w"), t));
    /* category SLA overrides the urgency default, only where given */
    hl_sla s = hl_config_sla(cfg, hl_config_category(cfg, "water.out"), HL_URG_NORMAL);
    assert_int_equal(s.finish.unit, HL_DUR_HOUR);
    assert_int_equal(s.finish.n, 24);
    assert_int_equal(s.sign.n, 4);
    assert_int_equal(hl_config_category(cfg, "nope"), -1);
    hl_config_destroy(&cfg);
    assert_null(cfg);
}

static void test_shipped_configs(void **state)
{
    (void)state;
    char *errors = NULL;
    hl_config *cfg = hl_config_load("config/zhucheng.json", &errors);
    if (!cfg) fail_msg("%s", errors);
    assert_true(cfg->ncells >= 60);
    assert_true(cfg->ncategories >= 20);
    /* the city centre lies in 密州街道 */
    int cell = hl_config_locate(cfg, 35.99, 119.41);
    assert_true(cell >= 0);
    int town = cfg->units[cfg->cells[cell].unit].town;
    assert_string_equal(cfg->units[town].id, "zc.mizhou");
    assert_int_equal(hl_config_locate(cfg, 39.9, 116.4), -1); /* Beijing: outside */
    /* every town has at least two grid stations */
    for (int i = 0; i < cfg->nunits; i++) {
        if (cfg->units[i].level != HL_LEVEL_TOWN) continue;
        int stations = 0;
        for (int k = 0; k < cfg->nunits; k++)
            if (cfg->units[k].level == HL_LEVEL_GRID && cfg->units[k].parent == i) stations++;
        if (stations < 2) fail_msg("%s has %d grid stations", cfg->units[i].id, stations);
    }
    /* National Day 2026 and the make-up Saturday */
    hl_ms t;
    hl_time_parse("2026-10-05T04:00:00Z", &t);
    assert_false(hl_cal_is_workday(cfg->calendar, t));
    hl_time_parse("2026-10-10T04:00:00Z", &t);
    assert_true(hl_cal_is_workday(cfg->calendar, t));
    hl_config_destroy(&cfg);

    cfg = hl_config_load("config/test-small.json", &errors);
    if (!cfg) fail_msg("%s", errors);
    hl_config_destroy(&cfg);

    cfg = hl_config_load("config/does-not-exist.json", &errors);
    assert_null(cfg);
    assert_non_null(strstr(errors, "does-not-exist.json"));
    free(errors);
}

static void test_refuse_json(void **state)
{
    (void)state;
    refuse("{\"units\": [", "not valid JSON", NULL);
    refuse("[1]", "top level must be a JSON object", NULL);
    refuse("{" CATS "}", "config: units: is required", NULL);
    refuse("{" UNITS "}", "config: categories: is required", NULL);
    refuse("{\"units\":[]," CATS "}", "config: units: must be a non-empty array", NULL);
}

static void test_refuse_unknown_parent(void **state)
{
    (void)state;
    refuse("{\"units\":[{\"id\":\"c\",\"name\":\"市\",\"level\":\"city\"},"
           "{\"id\":\"c.x\",\"name\":\"x\",\"level\":\"town\",\"parent\":\"c.foo\"}]," CATS "}",
           "config: units[1].parent: unknown unit \"c.foo\"", NULL);
}

static void test_refuse_duplicate_unit(void **state)
{
    (void)state;
    refuse("{\"units\":[{\"id\":\"c\",\"name\":\"市\",\"level\":\"city\"},"
           "{\"id\":\"c\",\"name\":\"又\",\"level\":\"town\"}]," CATS "}",
           "config: units[1]: duplicate unit id \"c\"", NULL);
}

static void test_refuse_parent_cycle(void **state)
{
    (void)state;
    refuse("{\"units\":[{\"id\":\"a\",\"name\":\"甲\",\"level\":\"town\",\"parent\":\"b\"},"
           "{\"id\":\"b\",\"name\":\"乙\",\"level\":\"town\",\"parent\":\"a\"}],"
           "\"categories\":[{\"code\":\"x\",\"name\":\"x\",\"handling\":\"territorial\"}]}",
           "parent cycle", "config: units[");
}

static void test_refuse_bad_duration(void **state)
{
    (void)state;
    refuse("{" UNITS "," CATS ",\"sla\":{\"normal\":{\"finish\":\"5 days\"}}}",
           "config: sla.normal.finish: bad duration \"5 days\"", NULL);
    refuse("{" UNITS ",\"categories\":[{\"code\":\"x\",\"name\":\"x\",\"handling\":\"grid\","
           "\"sla\":{\"sign\":\"0h\"}}]}",
           "config: categories[0].sla.sign: bad duration", NULL);
    refuse("{" UNITS "," CATS ",\"dispatcher\":{\"heartbeat\":\"2wh\"}}",
           "config: dispatcher.heartbeat: must be a wall-clock duration", NULL);
    refuse("{" UNITS "," CATS ",\"extension\":{\"max\":\"ten\"}}", "config: extension.max: bad duration",
           NULL);
}

static void test_refuse_department_without_department(void **state)
{
    (void)state;
    refuse("{" UNITS ",\"categories\":[{\"code\":\"w\",\"name\":\"水\",\"handling\":\"department\"}]}",
           "config: categories[0].department: is required when handling is \"department\"", NULL);
    refuse("{" UNITS ",\"categories\":[{\"code\":\"w\",\"name\":\"水\",\"handling\":\"department\","
           "\"department\":\"c.nope\"}]}",
           "config: categories[0].department: unknown unit \"c.nope\"", NULL);
}

static void test_refuse_rule_without_lead(void **state)
{
    (void)state;
    refuse("{" UNITS "," CATS ",\"rules\":[{\"name\":\"r\",\"when\":{\"category\":[\"env.*\"]}}]}",
           "config: rules[0].lead: is required", NULL);
    refuse("{" UNITS "," CATS ",\"rules\":[{\"name\":\"r\",\"when\":{},\"lead\":\"c.zz\"}]}",
           "config: rules[0].lead: unknown unit \"c.zz\"", NULL);
    refuse("{" UNITS "," CATS ",\"rules\":[{\"when\":{\"category\":[\"env.nois\"]},\"lead\":\"c\"}]}",
           "config: rules[0].when.category[0]: unknown category \"env.nois\"", NULL);
    refuse("{" UNITS "," CATS ",\"rules\":[{\"when\":{\"urgency\":[\"asap\"]},\"lead\":\"c\"}]}",
           "config: rules[0].when.urgency: unknown value \"asap\"", NULL);
    refuse("{" UNITS "," CATS ",\"rules\":[{\"when\":{\"weather\":\"rain\"},\"lead\":\"c\"}]}",
           "config: rules[0].when.weather: unknown condition", NULL);
}

static void test_refuse_references(void **state)
{
    (void)state;
    refuse("{" UNITS "," CATS ",\"cells\":[{\"id\":\"K\",\"unit\":\"c.q\",\"polygon\":[[1,1],[1,2],[2,2]]}]}",
           "config: cells[0].unit: unknown unit \"c.q\"", NULL);
    refuse("{" UNITS "," CATS ",\"cells\":[{\"id\":\"K\",\"unit\":\"c.t\",\"polygon\":[[1,1],[1,2]]}]}",
           "config: cells[0].polygon: must be an array of at least 3", NULL);
    refuse("{" UNITS "," CATS ",\"cells\":[{\"id\":\"K\",\"unit\":\"c.t\",\"polygon\":[[1,1],[1,200],[2,2]]}]}",
           "config: cells[0].polygon: point 1", NULL);
    refuse("{" UNITS "," CATS "," CELLS ",\"rules\":[{\"when\":{\"cells\":[\"K9\"]},\"lead\":\"c\"}]}",
           "config: rules[0].when.cells[0]: unknown cell \"K9\"", NULL);
    refuse("{" UNITS ",\"categories\":[{\"code\":\"a\",\"name\":\"甲\",\"handling\":\"grid\"},"
           "{\"code\":\"a\",\"name\":\"乙\",\"handling\":\"grid\"}]}",
           "config: categories[1]: duplicate category code \"a\"", NULL);
    refuse("{" UNITS ",\"categories\":[{\"code\":\"a\",\"name\":\"甲\",\"handling\":\"grid\",\"co\":[\"c.nn\"]}]}",
           "config: categories[0].co[0]: unknown unit \"c.nn\"", NULL);
    refuse("{" UNITS ",\"categories\":[{\"code\":\"a\",\"name\":\"甲\",\"handling\":\"nearby\"}]}",
           "config: categories[0]: unknown handling \"nearby\"", NULL);
    refuse("{\"units\":[{\"id\":\"c\",\"name\":\"市\",\"level\":\"county\"}]," CATS "}",
           "config: units[0]: unknown level \"county\"", NULL);
    refuse("{\"units\":[{\"id\":\"c d\",\"name\":\"市\",\"level\":\"city\"}]," CATS "}",
           "config: units[0]: bad id", NULL);
}

static void test_refuse_calendar_and_misc(void **state)
{
    (void)state;
    refuse("{" UNITS "," CATS ",\"timezone\":\"Mars/Olympus\"}", "config: timezone:", "Mars/Olympus");
    refuse("{" UNITS "," CATS ",\"calendar\":{\"hours\":[[\"13:00\",\"12:00\"]]}}",
           "config: calendar.hours[0]:", NULL);
    refuse("{" UNITS "," CATS ",\"calendar\":{\"hours\":[[\"08:00\",\"12:00\"],[\"11:00\",\"17:00\"]]}}",
           "config: calendar.hours: spans must be in order", NULL);
    refuse("{" UNITS "," CATS ",\"calendar\":{\"workdays\":[1,8]}}", "config: calendar.workdays:", NULL);
    refuse("{" UNITS "," CATS ",\"calendar\":{\"holidays\":[\"2026-02-30\"]}}",
           "config: calendar.holidays[0]: must be a date", NULL);
    refuse("{" UNITS "," CATS ",\"calendar\":{\"holidays\":[\"2026-10-10\"],\"extra_workdays\":[\"2026-10-10\"]}}",
           "config: calendar.extra_workdays[0]: 2026-10-10 is also listed as a holiday", NULL);
    refuse("{" UNITS "," CATS ",\"sla\":{\"asap\":{\"sign\":\"1h\"}}}", "config: sla.asap: unknown urgency",
           NULL);
    refuse("{" UNITS "," CATS ",\"sla\":{\"normal\":{\"warn\":1.5}}}", "config: sla.normal.warn:", NULL);
    refuse("{" UNITS "," CATS ",\"dispatcher\":{\"synchronous\":\"always\"}}",
           "config: dispatcher.synchronous:", NULL);
    refuse("{" UNITS "," CATS ",\"dispatcher\":{\"max_message\":10}}", "config: dispatcher.max_message:",
           NULL);
    refuse("{" UNITS "," CATS ",\"dispatcher\":{\"wal_pages\":99}}",
           "config: dispatcher.wal_pages:", NULL);
    refuse("{" UNITS "," CATS ",\"dispatcher\":{\"wal_pages\":\"big\"}}",
           "config: dispatcher.wal_pages:", NULL);
    refuse("{" UNITS "," CATS ",\"assessment\":{\"weights\":{\"sign_rate\":0,\"finish_rate\":0,\"satisfaction\":0}}}",
           "config: assessment.weights: at least one weight must be positive", NULL);
    refuse("{" UNITS "," CATS ",\"security\":{\"curve\":\"yes\"}}", "config: security.curve:", NULL);
    refuse("{" UNITS "," CATS ",\"open311\":{\"api_keys\":{\"k\":{\"channel\":\"fax\"}}}}",
           "config: open311.api_keys.k:", NULL);
}

static void test_all_errors_reported(void **state)
{
    (void)state;
    /* two independent faults: both are named, not only the first */
    refuse("{\"units\":[{\"id\":\"c\",\"name\":\"市\",\"level\":\"city\",\"parent\":\"zz\"}],"
           "\"categories\":[{\"code\":\"w\",\"name\":\"水\",\"handling\":\"department\"}]}",
           "units[0].parent", "categories[0].department");
}

static void test_rules_and_lists(void **state)
{
    (void)state;
    hl_config *cfg = accept("{" UNITS "," CATS "," CELLS ",\"rules\":[{\"name\":\"r\",\"when\":{"
                            "\"category\":\"env.*\",\"urgency\":[\"urgent\",\"critical\"],"
                            "\"channel\":[\"grid\"],\"towns\":[\"c.t\"],\"cells\":[\"K1\"],"
                            "\"keywords\":[\"国道\"]},\"lead\":\"c.w\",\"co\":[\"grid\",\"c.t\"]}]}");
    assert_int_equal(cfg->nrules, 1);
    const hl_rule *r = &cfg->rules[0];
    assert_int_equal(r->categories.n, 1);
    assert_string_equal(r->categories.items[0], "env.*");
    assert_int_equal(r->urgencies, (1 << HL_URG_URGENT) | (1 << HL_URG_CRITICAL));
    assert_int_equal(r->channels, 1 << HL_CH_GRID);
    assert_int_equal(r->ntowns, 1);
    assert_int_equal(r->lead, hl_config_unit(cfg, "c.w"));
    assert_int_equal(r->nco, 2);
    assert_int_equal(r->co[0], HL_CO_GRID);
    assert_int_equal(hl_config_cell(cfg, "K1"), 0);
    assert_int_equal(hl_config_locate(cfg, 30.005, 100.005), 0);
    assert_int_equal(hl_config_locate(cfg, 30.02, 100.005), -1);
    char *summary = hl_config_summary(cfg);
    assert_non_null(strstr(summary, "units       4: 1 city, 1 department, 1 town, 1 grid"));
    assert_non_null(strstr(summary, "rules       1"));
    free(summary);
    hl_config_destroy(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_minimal_and_defaults),
        cmocka_unit_test(test_shipped_configs),
        cmocka_unit_test(test_refuse_json),
        cmocka_unit_test(test_refuse_unknown_parent),
        cmocka_unit_test(test_refuse_duplicate_unit),
        cmocka_unit_test(test_refuse_parent_cycle),
        cmocka_unit_test(test_refuse_bad_duration),
        cmocka_unit_test(test_refuse_department_without_department),
        cmocka_unit_test(test_refuse_rule_without_lead),
        cmocka_unit_test(test_refuse_references),
        cmocka_unit_test(test_refuse_calendar_and_misc),
        cmocka_unit_test(test_all_errors_reported),
        cmocka_unit_test(test_rules_and_lists),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
