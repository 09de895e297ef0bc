/* test_ticket.c — the ticket objects written as text (ticket_json_write,
 * ticket_json_brief_write, ticket_json_raw) are exactly the text of the
 * cJSON trees they stand in for, for full, empty and odd tickets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ticket.h"

#include "hotline/config.h"
#include "hotline/proto.h"
#include "hotline/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static hl_config *s_cfg;

static int s_setup(void **state)
{
    (void)state;
    char *err = NULL;
    s_cfg = hl_config_load("config/test-small.json", &err);
    if (!s_cfg) fprintf(stderr, "cannot load config/test-small.json: %s\n", err);
    return s_cfg ? 0 : -1;
}

static int s_teardown(void **state)
{
    (void)state;
    hl_config_destroy(&s_cfg);
    return 0;
}

/* The reference: the ticket object and its short form built as cJSON trees,
 * so that cJSON's printing (numbers, escapes) is what the writers match. */
static cJSON *s_tree(const ticket *t, const hl_config *cfg)
{
    cJSON *o = cJSON_CreateObject();
    hl_json_add_int(o, "id", t->id);
    cJSON_AddStringToObject(o, "no", t->no);
    cJSON_AddStringToObject(o, "status", ticket_status_name(t->status));
    hl_json_add_str(o, "category", t->category);
    int cat = hl_config_category(cfg, t->category);
    hl_json_add_str(o, "category_name", cat >= 0 ? cfg->categories[cat].name : NULL);
    cJSON_AddStringToObject(o, "urgency", hl_urgency_name(t->urgency));
    cJSON_AddStringToObject(o, "channel", hl_channel_name(t->channel));
    hl_json_add_str(o, "title", t->title);
    hl_json_add_str(o, "description", t->description);
    cJSON *caller = cJSON_AddObjectToObject(o, "caller");
    hl_json_add_str(caller, "name", t->caller_name);
    hl_json_add_str(caller, "phone", t->caller_phone);
    cJSON *loc = cJSON_AddObjectToObject(o, "location");
    hl_json_add_str(loc, "cell", t->cell);
    if (t->has_point) {
        cJSON_AddNumberToObject(loc, "lat", t->lat);
        cJSON_AddNumberToObject(loc, "lon", t->lon);
    } else {
        cJSON_AddNullToObject(loc, "lat");
        cJSON_AddNullToObject(loc, "lon");
    }
    hl_json_add_str(loc, "address", t->address);
    hl_json_add_str(loc, "town", t->town);
    hl_json_add_str(o, "lead", t->lead);
    cJSON *co = cJSON_AddArrayToObject(o, "co");
    for (int i = 0; i < t->nco; i++)
        cJSON_AddItemToArray(co, cJSON_CreateString(t->co[i]));
    hl_json_add_str(o, "escalated_to", t->escalated_to);
    hl_json_add_time(o, "created_at", t->created_at);
    hl_json_add_time(o, "dispatched_at", t->dispatched_at);
    hl_json_add_time(o, "signed_at", t->signed_at);
    hl_json_add_time(o, "resolved_at", t->resolved_at);
    hl_json_add_time(o, "closed_at", t->closed_at);
    hl_json_add_time(o, "sign_due", t->sign_due);
    hl_json_add_time(o, "finish_due", t->finish_due);
    cJSON *flags = cJSON_AddObjectToObject(o, "flags");
    hl_json_add_int(flags, "yellow", t->yellow);
    hl_json_add_int(flags, "red", t->red);
    hl_json_add_int(o, "repeat_calls", t->repeat_calls);
    hl_json_add_int(o, "reopen_count", t->reopen_count);
    hl_json_add_int(o, "supervise_count", t->supervise_count);
    if (t->ext_state == TEXT_NONE) {
        cJSON_AddNullToObject(o, "extension");
    } else {
        cJSON *ext = cJSON_AddObjectToObject(o, "extension");
        hl_json_add_time(ext, "until", t->ext_until);
        hl_json_add_str(ext, "reason", t->ext_reason);
        cJSON_AddStringToObject(ext, "state", ticket_ext_state_name(t->ext_state));
    }
    hl_json_add_str(o, "result", t->result);
    hl_json_add_str(o, "satisfaction", t->satisfaction);
    hl_json_add_str(o, "merged_into", t->merged_into);
    hl_json_add_str(o, "return_reason", t->return_reason);
    return o;
}

static cJSON *s_tree_brief(const ticket *t)
{
    cJSON *o = cJSON_CreateObject();
    hl_json_add_int(o, "id", t->id);
    cJSON_AddStringToObject(o, "no", t->no);
    cJSON_AddStringToObject(o, "status", ticket_status_name(t->status));
    hl_json_add_str(o, "lead", t->lead);
    hl_json_add_str(o, "category", t->category);
    cJSON_AddStringToObject(o, "urgency", hl_urgency_name(t->urgency));
    return o;
}

/* Both forms of t, compared. */
static void s_same(const ticket *t)
{
    cJSON *tree = s_tree(t, s_cfg);
    char *want = cJSON_PrintUnformatted(tree);
    cJSON_Delete(tree);
    hl_buf b;
    hl_buf_init(&b);
    ticket_json_write(t, s_cfg, &b);
    assert_string_equal(b.data, want);
    free(want);
    /* the raw item prints as the same text inside a result */
    cJSON *res = cJSON_CreateObject();
    cJSON_AddItemToObject(res, "ticket", ticket_json_raw(t, s_cfg));
    char *got = hl_json_print(res);
    char *expect = hl_sprintf("{\"ticket\":%s}", b.data);
    assert_string_equal(got, expect);
    free(got);
    free(expect);
    cJSON_Delete(res);
    /* the tree get grows its events in prints as the same text */
    tree = ticket_json(t, s_cfg);
    got = hl_json_print(tree);
    assert_string_equal(got, b.data);
    free(got);
    cJSON_Delete(tree);
    hl_buf_reset(&b);
    tree = s_tree_brief(t);
    want = cJSON_PrintUnformatted(tree);
    cJSON_Delete(tree);
    ticket_json_brief_write(t, &b);
    assert_string_equal(b.data, want);
    res = cJSON_CreateObject();
    cJSON_AddItemToObject(res, "ticket", ticket_json_brief_raw(t));
    got = hl_json_print(res);
    expect = hl_sprintf("{\"ticket\":%s}", b.data);
    assert_string_equal(got, expect);
    free(got);
    free(expect);
    cJSON_Delete(res);
    free(want);
    hl_buf_free(&b);
}

static void test_full(void **state)
{
    (void)state;
    ticket t = {0};
    t.id = 4242;
    snprintf(t.no, sizeof t.no, "20261127-004242");
    t.status = TS_ACCEPTED;
    ticket_set(&t.category, "env.noise");
    t.urgency = HL_URG_URGENT;
    t.channel = HL_CH_APP;
    ticket_set(&t.title, "标题 \"quoted\"");
    ticket_set(&t.description, "描述\n第二行\t制表\\反斜杠 \x01 control é");
    ticket_set(&t.caller_name, "张三");
    ticket_set(&t.caller_phone, "13800000000");
    ticket_set(&t.cell, "C-A1");
    t.has_point = 1;
    t.lat = 30.005;
    t.lon = 100.00512345678901;
    ticket_set(&t.address, "人民路1号");
    ticket_set(&t.town, "t.a");
    ticket_set(&t.lead, "t.a.g1");
    char *co[] = {"t.a", "t.water"};
    ticket_set_co(&t, co, 2);
    ticket_set(&t.escalated_to, "t");
    t.created_at = 1764200000000;
    t.dispatched_at = 1764200000001;
    t.signed_at = 1764200000002;
    t.resolved_at = 1764200000003;
    t.closed_at = 1764200000004;
    t.sign_due = 1764200000005;
    t.finish_due = 1764200000006;
    t.yellow = 2;
    t.red = 1;
    t.repeat_calls = 3;
    t.reopen_count = 1;
    t.supervise_count = 4;
    t.ext_state = TEXT_APPROVED;
    t.ext_until = 1764300000000;
    ticket_set(&t.ext_reason, "材料不全");
    ticket_set(&t.result, "已处理");
    ticket_set(&t.satisfaction, "basic");
    ticket_set(&t.merged_into, "20261127-000001");
    ticket_set(&t.return_reason, "不属本单位");
    s_same(&t);
    t.ext_state = TEXT_PENDING;
    t.ext_until = 0;
    s_same(&t);
    ticket_clear(&t);
}

static void test_empty_and_unknown(void **state)
{
    (void)state;
    ticket t = {0};
    s_same(&t); /* every string NULL, every time unset */
    t.id = 1;
    ticket_set(&t.category, "no.such.category");
    t.status = TS_TRIAGE;
    t.has_point = 1;
    t.lat = -0.0;
    t.lon = 1e-9;
    s_same(&t);
    ticket_clear(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full),
        cmocka_unit_test(test_empty_and_unknown),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
