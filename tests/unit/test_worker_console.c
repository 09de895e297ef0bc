/* test_worker_console.c — unit tests for the pure parts of workers/console.c:
 * command parsing (aliases, ideographic spaces, errors that say what to
 * type) and rendering that fits 40 columns with CJK text aligned. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "console.h"
#include "hotline/utf8.h"

static con_cmd s_ok(const char *line)
{
    con_cmd c;
    char err[256];
    if (con_parse(line, &c, err, sizeof err) != 0) fail_msg("\"%s\": %s", line, err);
    return c;
}

static void s_bad(const char *line, const char *want)
{
    con_cmd c;
    char err[256] = "";
    assert_int_equal(con_parse(line, &c, err, sizeof err), -1);
    if (!strstr(err, want)) fail_msg("\"%s\": error \"%s\" lacks \"%s\"", line, err, want);
}

static void test_parse_commands(void **state)
{
    (void)state;
    con_cmd c = s_ok("");
    assert_int_equal(c.kind, CMD_NONE);
    c = s_ok("   ");
    assert_int_equal(c.kind, CMD_NONE);
    c = s_ok("list");
    assert_int_equal(c.kind, CMD_LIST);
    assert_false(c.all);
    c = s_ok("LIST all");
    assert_true(c.all);
    c = s_ok("show 3");
    assert_int_equal(c.kind, CMD_SHOW);
    assert_string_equal(c.ref, "3");
    con_cmd_free(&c);

    c = s_ok("sign 2");
    assert_int_equal(c.kind, CMD_SIGN);
    assert_string_equal(c.ref, "2");
    assert_null(c.text);
    con_cmd_free(&c);
    c = s_ok("  sign   20261127-000003   已到现场 处理中  ");
    assert_string_equal(c.ref, "20261127-000003");
    assert_string_equal(c.text, "已到现场 处理中");
    con_cmd_free(&c);
    /* an ideographic space separates like a space */
    c = s_ok("签收\xE3\x80\x80" "1\xE3\x80\x80" "马上到\xE3\x80\x80");
    assert_int_equal(c.kind, CMD_SIGN);
    assert_string_equal(c.ref, "1");
    assert_string_equal(c.text, "马上到");
    con_cmd_free(&c);

    c = s_ok("note #17 已联系业主");
    assert_int_equal(c.kind, CMD_NOTE);
    assert_string_equal(c.ref, "#17");
    assert_string_equal(c.text, "已联系业主");
    con_cmd_free(&c);
    c = s_ok("finish 1 已清理完毕");
    assert_int_equal(c.kind, CMD_FINISH);
    assert_string_equal(c.text, "已清理完毕");
    con_cmd_free(&c);
    c = s_ok("退单 1 不属于本镇");
    assert_int_equal(c.kind, CMD_RETURN);
    assert_string_equal(c.text, "不属于本镇");
    con_cmd_free(&c);
    c = s_ok("extend 1 3wd 需要协调 水务");
    assert_int_equal(c.kind, CMD_EXTEND);
    assert_string_equal(c.dur, "3wd");
    assert_string_equal(c.text, "需要协调 水务");
    con_cmd_free(&c);
    c = s_ok("extend 1 2026-12-10T09:00:00Z 等材料");
    assert_string_equal(c.dur, "2026-12-10T09:00:00Z");
    con_cmd_free(&c);

    c = s_ok("report env.litter C-A1 村口 垃圾");
    assert_int_equal(c.kind, CMD_REPORT);
    assert_false(c.prompt);
    assert_string_equal(c.category, "env.litter");
    assert_string_equal(c.cell, "C-A1");
    assert_string_equal(c.text, "村口 垃圾");
    con_cmd_free(&c);
    c = s_ok("report env.litter - 路边垃圾");
    assert_null(c.cell);
    con_cmd_free(&c);
    c = s_ok("report");
    assert_true(c.prompt);
    con_cmd_free(&c);

    assert_int_equal(s_ok("sync").kind, CMD_SYNC);
    assert_int_equal(s_ok("status").kind, CMD_STATUS);
    assert_int_equal(s_ok("help").kind, CMD_HELP);
    assert_int_equal(s_ok("?").kind, CMD_HELP);
    assert_int_equal(s_ok("quit").kind, CMD_QUIT);
    assert_int_equal(s_ok("退出").kind, CMD_QUIT);
}

static void test_parse_errors(void **state)
{
    (void)state;
    s_bad("frobnicate", "unknown command \"frobnicate\"; type help");
    s_bad("show", "type: show N");
    s_bad("sign", "type: sign N [note]");
    s_bad("note 1", "type: note N TEXT");
    s_bad("finish 1", "type: finish N RESULT");
    s_bad("return 1", "type: return N REASON");
    s_bad("extend 1 3wd", "extend N");
    s_bad("extend 1 soon 理由", "duration");
    s_bad("report env.litter C-A1", "report env.litter C-A1 TEXT");
    s_bad("list everything", "list [all]");
}

static void s_assert_width(const char *text, int max)
{
    char *copy = strdup(text);
    for (char *line = strtok(copy, "\n"); line; line = strtok(NULL, "\n")) {
        if (hl_utf8_width(line) > max) fail_msg("line of %d columns: \"%s\"", hl_utf8_width(line), line);
    }
    free(copy);
}

static ws_ticket s_ticket(int64_t idx, const char *status, const char *lead, const char *catname)
{
    ws_ticket t;
    memset(&t, 0, sizeof t);
    t.id = idx + 100;
    t.idx = idx;
    snprintf(t.no, sizeof t.no, "20261127-%06lld", (long long)(idx + 100));
    snprintf(t.status, sizeof t.status, "%s", status);
    snprintf(t.lead, sizeof t.lead, "%s", lead ? lead : "");
    t.json = cJSON_CreateObject();
    cJSON_AddNumberToObject(t.json, "id", (double)t.id);
    cJSON_AddStringToObject(t.json, "no", t.no);
    cJSON_AddStringToObject(t.json, "status", status);
    if (lead) cJSON_AddStringToObject(t.json, "lead", lead);
    cJSON_AddStringToObject(t.json, "category_name", catname);
    cJSON_AddStringToObject(t.json, "urgency", "urgent");
    cJSON_AddStringToObject(t.json, "description",
                            "小区门口的马路上有一个很大的坑，下雨天积水严重，电动车经过时容易摔倒，"
                            "请尽快派人修复。This line mixes English words too.");
    cJSON_AddStringToObject(t.json, "sign_due", "2026-11-27T06:00:00.000Z");
    cJSON_AddStringToObject(t.json, "finish_due", "2026-12-04T09:30:00.000Z");
    return t;
}

static void test_rows_align(void **state)
{
    (void)state;
    hl_buf b;
    hl_buf_init(&b);
    con_render_header(&b);
    ws_ticket a = s_ticket(1, "dispatched", "t.a", "噪音扰民");
    ws_ticket c = s_ticket(12, "accepted", "t.a", "城市道路设施损坏及其他市政问题");
    con_render_row(&b, &a, 0);
    con_render_row(&b, &c, 1);
    s_assert_width(b.data, CON_WIDTH);
    /* the category column starts at the same display column on every row */
    char *l1 = strstr(b.data, "[1]"), *l2 = strstr(b.data, "[12]");
    assert_non_null(l1);
    assert_non_null(l2);
    char *c1 = strstr(l1, "噪音"), *c2 = strstr(l2, "城市");
    char pre1[128] = "", pre2[128] = "";
    memcpy(pre1, l1, (size_t)(c1 - l1));
    memcpy(pre2, l2, (size_t)(c2 - l2));
    assert_int_equal(hl_utf8_width(pre1), hl_utf8_width(pre2));
    assert_non_null(strstr(l2, " * ")); /* an unconfirmed action */
    assert_non_null(strstr(b.data, "…"));  /* the long category is clipped */
    hl_buf_free(&b);
    wstore_ticket_free(&a);
    wstore_ticket_free(&c);
}

static void test_wrap(void **state)
{
    (void)state;
    const char *text = "小区门口的马路上有一个很大的坑，下雨天积水严重，电动车经过时容易摔倒，"
                       "请尽快派人修复。This line mixes English words too, supercalifragilistic"
                       "expialidocious-and-longer-than-a-line-of-forty-columns end.";
    hl_buf b;
    hl_buf_init(&b);
    con_wrap(&b, "  ", text, CON_WIDTH);
    s_assert_width(b.data, CON_WIDTH);
    /* nothing is lost but the spaces at the breaks */
    char joined[1024] = "", want[1024] = "";
    char *copy = strdup(b.data);
    for (char *line = strtok(copy, "\n"); line; line = strtok(NULL, "\n")) {
        assert_true(strncmp(line, "  ", 2) == 0);
        strcat(joined, line + 2);
    }
    free(copy);
    size_t nw = 0, nn = 0;
    for (const char *p = text; *p; p++)
        if (*p != ' ') want[nw++] = *p;
    want[nw] = '\0';
    char nospace[1024] = "";
    for (const char *p = joined; *p; p++)
        if (*p != ' ') nospace[nn++] = *p;
    nospace[nn] = '\0';
    assert_string_equal(nospace, want);
    hl_buf_free(&b);
}

static void test_show_fits(void **state)
{
    (void)state;
    ws_ticket t = s_ticket(3, "accepted", "t.a", "噪音扰民");
    cJSON *co = cJSON_AddArrayToObject(t.json, "co");
    cJSON_AddItemToArray(co, cJSON_CreateString("t.water"));
    cJSON *loc = cJSON_AddObjectToObject(t.json, "location");
    cJSON_AddStringToObject(loc, "cell", "C-A2");
    cJSON_AddStringToObject(loc, "address", "甲镇幸福路与和平街交叉口往东五十米路北的小区门口");
    cJSON *ext = cJSON_AddObjectToObject(t.json, "extension");
    cJSON_AddStringToObject(ext, "state", "pending");
    cJSON_AddStringToObject(ext, "until", "2026-12-10T09:30:00.000Z");
    cJSON_AddStringToObject(ext, "reason", "需要协调多个部门");
    hl_buf b;
    hl_buf_init(&b);
    con_render_ticket(&b, t.idx, t.json, CON_WIDTH);
    s_assert_width(b.data, CON_WIDTH);
    assert_non_null(strstr(b.data, "[3] 20261127-000103 办理中"));
    assert_non_null(strstr(b.data, "协办 t.water"));
    assert_non_null(strstr(b.data, "待审批"));
    assert_non_null(strstr(b.data, "紧急"));
    hl_buf_free(&b);
    wstore_ticket_free(&t);
}

static void test_feed(void **state)
{
    (void)state;
    hl_buf b;
    hl_buf_init(&b);
    ws_ticket none;
    memset(&none, 0, sizeof none);
    ws_ticket t = s_ticket(4, "dispatched", "t.a", "噪音扰民");
    con_render_feed(&b, "t.a", "assigned", &t, &none);
    const char *head = "新工单 new ticket [4] 20261127-000104\n";
    assert_true(strncmp(b.data, head, strlen(head)) == 0);
    s_assert_width(b.data, CON_WIDTH);
    hl_buf_reset(&b);
    /* a co unit is told it co-handles */
    con_render_feed(&b, "t.b", "assigned", &t, &none);
    assert_non_null(strstr(b.data, "协办 co-handle [4]"));
    hl_buf_reset(&b);
    /* an assignment read late, of a ticket since closed: nothing */
    ws_ticket closed = s_ticket(5, "closed", "t.a", "噪音扰民");
    con_render_feed(&b, "t.a", "assigned", &closed, &none);
    assert_int_equal(b.len, 0);
    /* the same state again: nothing */
    con_render_feed(&b, "t.a", "changed", &t, &t);
    assert_int_equal(b.len, 0);
    /* a status change is worth a line */
    ws_ticket acc = s_ticket(4, "accepted", "t.a", "噪音扰民");
    con_render_feed(&b, "t.a", "changed", &acc, &t);
    assert_non_null(strstr(b.data, "更新 changed [4]"));
    assert_non_null(strstr(b.data, "待签收 → 办理中"));
    hl_buf_reset(&b);
    /* re-dispatched elsewhere */
    ws_ticket moved = s_ticket(4, "dispatched", "t.b", "噪音扰民");
    con_render_feed(&b, "t.a", "revoked", &moved, &t);
    assert_non_null(strstr(b.data, "撤回 revoked [4]"));
    assert_non_null(strstr(b.data, "t.b"));
    hl_buf_reset(&b);
    /* after this worker's own return the store already shows it gone */
    ws_ticket triage = s_ticket(4, "triage", NULL, "噪音扰民");
    con_render_feed(&b, "t.a", "revoked", &triage, &triage);
    assert_int_equal(b.len, 0);
    hl_buf_free(&b);
    wstore_ticket_free(&t);
    wstore_ticket_free(&closed);
    wstore_ticket_free(&acc);
    wstore_ticket_free(&moved);
    wstore_ticket_free(&triage);
}

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(con_status_zh("dispatched"), "待签收");
    assert_string_equal(con_status_zh("accepted"), "办理中");
    assert_string_equal(con_status_zh("triage"), "待派");
    assert_string_equal(con_status_zh("weird"), "weird");
    assert_string_equal(con_urgency_zh("critical"), "特急");
    assert_string_equal(con_urgency_zh(NULL), "普通");
    char buf[32];
    assert_string_equal(con_short_time(NULL, buf, sizeof buf), "-");
    assert_string_equal(con_short_time("not a time", buf, sizeof buf), "-");
    assert_int_equal(strlen(con_short_time("2026-11-27T06:00:00.000Z", buf, sizeof buf)), 11);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_commands), cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_rows_align),     cmocka_unit_test(test_wrap),
        cmocka_unit_test(test_show_fits),      cmocka_unit_test(test_feed),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests_name("worker_console", tests, NULL, NULL);
}
