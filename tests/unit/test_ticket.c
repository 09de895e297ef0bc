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

/* Both forms of t, compared. */
static void s_same(const ticket *t)
{
    cJSON *tree = ticket_json(t, s_cfg);
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
    hl_buf_reset(&b);
    tree = ticket_json_brief(t);
    want = cJSON_PrintUnformatted(tree);
    cJSON_Delete(tree);
    ticket_json_brief_write(t, &b);
    assert_string_equal(b.data, want);
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
