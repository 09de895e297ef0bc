/* test_console.c — the `hotline` console against a real dispatcher: every
 * operator and manager command run as the real binary, checking what it
 * prints (human and --json) and the dispatcher's state afterwards; exit
 * statuses 1 (refused), 2 (usage) and 3 (unreachable); retries that keep
 * their idem, against a fake front socket that drops the first try. */
#include "harness.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <zmq.h>

static th_disp s_d;
static char s_cfg[1024];

static int setup(void **state)
{
    (void)state;
    memset(&s_d, 0, sizeof s_d);
    snprintf(s_cfg, sizeof s_cfg, "%s", th_src("config/test-small.json"));
    char db[64];
    static int n;
    snprintf(db, sizeof db, "console-%d.db", ++n);
    th_disp_start(&s_d, s_cfg, th_path(db), NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    th_disp_stop(&s_d);
    return 0;
}

/* Run bin/hotline against s_d with the given arguments (NULL-terminated)
 * and stdin text; returns the exit status. */
static int hl_in(const char *input, char **out, char **err, ...)
{
    const char *pre[] = {"--connect", s_d.front, "--events", s_d.events,
                         "--config",  s_cfg,     "--no-color", NULL};
    va_list ap;
    va_start(ap, err);
    int rc = th_run_binv("hotline", pre, input, out, err, 30000, ap);
    va_end(ap);
    return rc;
}

#define hl(out, err, ...) hl_in(NULL, out, err, __VA_ARGS__, NULL)

static void expect_in(const char *text, const char *needle)
{
    if (!text || !strstr(text, needle))
        fail_msg("expected \"%s\" in:\n%s", needle, text ? text : "(nothing)");
}

static void expect_not_in(const char *text, const char *needle)
{
    if (text && strstr(text, needle)) fail_msg("did not expect \"%s\" in:\n%s", needle, text);
}

/* The ticket number on the first line "工单 <no> ..." of call's output. */
static void first_no(const char *out, char *no, size_t size)
{
    const char *p = strstr(out, "20");
    assert_non_null(p);
    size_t n = strcspn(p, " （(，\n");
    assert_true(n < size);
    memcpy(no, p, n);
    no[n] = '\0';
}

static cJSON *get_ticket(th_client *c, const char *no)
{
    return th_ok(c, "get", "{\"ticket\":\"%s\"}", no);
}

/* The ticket no, read from the dispatcher, has these string fields: pairs
 * of a path below "ticket." and its value, ending with NULL. */
static void expect_ticket(th_client *c, const char *no, ...)
{
    cJSON *r = get_ticket(c, no);
    va_list ap;
    va_start(ap, no);
    const char *path;
    while ((path = va_arg(ap, const char *)) != NULL) {
        const char *want = va_arg(ap, const char *);
        char full[128];
        snprintf(full, sizeof full, "ticket.%s", path);
        const char *got = th_gets(r, full);
        if (!got || strcmp(got, want) != 0)
            fail_msg("ticket %s: %s is \"%s\", want \"%s\"", no, full, got ? got : "(none)", want);
    }
    va_end(ap);
    cJSON_Delete(r);
}

/* ---- call ------------------------------------------------------------- */

static void test_call_flags_and_repeat(void **state)
{
    (void)state;
    char *out, *err, no[64], no2[64];
    /* the category by part of its Chinese name */
    int rc = hl(&out, &err, "call", "--category", "噪音", "--desc", "工地夜间施工，噪音很大",
                "--phone", "13800000001", "--name", "王先生", "--cell", "C-A1");
    assert_int_equal(rc, 0);
    expect_in(out, "已登记");
    expect_in(out, "甲镇（t.a）"); /* the lead's name from the units op */
    expect_in(out, "噪音扰民");
    expect_in(out, "签收时限");
    first_no(out, no, sizeof no);
    free(out);
    free(err);

    th_client *c = th_client_new(s_d.front, "operator", NULL);
    expect_ticket(c, no, "status", "dispatched", "lead", "t.a", "category", "env.noise",
                  "caller.phone", "13800000001", "caller.name", "王先生", "location.cell", "C-A1",
                  NULL);

    /* the same caller, category and cell: a repeat, said plainly */
    rc = hl(&out, &err, "call", "--category", "env.noise", "--desc", "又打来催问", "--phone",
            "13800000001", "--cell", "C-A1");
    assert_int_equal(rc, 0);
    expect_in(out, "重复来电");
    expect_in(out, no);
    expect_in(out, "未新建工单");
    expect_in(out, "第 2 次来电");
    free(out);
    free(err);
    cJSON *r = get_ticket(c, no);
    assert_int_equal(th_geti(r, "ticket.repeat_calls"), 1);
    cJSON_Delete(r);
    r = th_ok(c, "list", "{\"phone\":\"13800000001\"}");
    assert_int_equal(cJSON_GetArraySize(th_get(r, "tickets")), 1);
    cJSON_Delete(r);

    /* --json: the reply object as it came */
    rc = hl(&out, &err, "--json", "call", "--category", "停水", "--desc", "家里停水", "--phone",
            "13800000002", "--lat", "30.015", "--lon", "100.035", "--urgency", "urgent");
    assert_int_equal(rc, 0);
    cJSON *j = cJSON_Parse(out);
    assert_non_null(j);
    assert_true(th_is_ok(j));
    assert_non_null(th_gets(j, "re"));
    assert_true(cJSON_IsFalse(th_get(j, "repeat")));
    assert_string_equal(th_gets(j, "ticket.lead"), "t.water");
    assert_string_equal(th_gets(j, "ticket.urgency"), "urgent");
    assert_string_equal(th_gets(j, "ticket.location.cell"), "C-B2"); /* located by the point */
    snprintf(no2, sizeof no2, "%s", th_gets(j, "ticket.no"));
    cJSON_Delete(j);
    free(out);
    free(err);
    expect_ticket(c, no2, "co.0", "t.b", NULL); /* co territorial */

    /* no location: triage, and the operator is told to dispatch */
    rc = hl(&out, &err, "call", "--category", "misc.other", "--desc", "没有地址的来电", "--address",
            "不详");
    assert_int_equal(rc, 0);
    expect_in(out, "待派");
    expect_in(out, "hotline dispatch");
    free(out);
    free(err);

    /* -q: the number only */
    rc = hl(&out, &err, "-q", "call", "--category", "road", "--desc", "G318国道有坑", "--cell",
            "C-A2");
    assert_int_equal(rc, 0);
    assert_int_equal(strlen(out), 16); /* YYYYMMDD-NNNNNN and a newline */
    out[15] = '\0';
    expect_ticket(c, out, "category", "road.damage", NULL);
    free(out);
    free(err);
    th_client_destroy(&c);
}

static void test_call_interactive(void **state)
{
    (void)state;
    char *out, *err, no[64];
    /* "e" matches several categories: the console lists them and asks
     * again; "停水" then picks one */
    /* category, description, title, phone, name, cell, address, urgency */
    const char *input = "e\n停水\n乙镇停水一天了\n\n13800000003\n李女士\nC-B1\n\nurgent\n";
    int rc = hl_in(input, &out, &err, "call", "--interactive", NULL);
    if (rc != 0) fail_msg("exit %d; stderr:\n%s", rc, err);
    expect_in(err, "分类");
    expect_in(err, "个分类"); /* the ambiguity was explained */
    expect_in(err, "water.outage");
    expect_in(out, "已登记");
    first_no(out, no, sizeof no);
    th_client *c = th_client_new(s_d.front, "operator", NULL);
    expect_ticket(c, no, "category", "water.outage", "description", "乙镇停水一天了",
                  "caller.phone", "13800000003", "caller.name", "李女士", "location.cell", "C-B1",
                  "urgency", "urgent", NULL);
    free(out);
    free(err);

    /* flags given are not asked for again */
    rc = hl_in("工地噪音\n\n\n\n\n\n\n", &out, &err, "call", "--interactive", "--category", "噪音",
               "--cell", "C-A2", NULL);
    assert_int_equal(rc, 0);
    expect_not_in(err, "分类（");
    expect_in(out, "甲镇");
    free(out);
    free(err);

    /* input that ends before the description is a usage error */
    rc = hl_in("噪音\n", &out, &err, "call", "--interactive", NULL);
    assert_int_equal(rc, 2);
    expect_in(err, "description");
    free(out);
    free(err);
    th_client_destroy(&c);
}

/* ---- show, list, history ----------------------------------------------- */

static void test_show_list_history(void **state)
{
    (void)state;
    th_client *c = th_client_new(s_d.front, "operator", NULL);
    char nos[5][32];
    for (int i = 0; i < 5; i++) {
        cJSON *r = th_ok(c, "create",
                         "{\"ticket\":{\"category\":\"%s\",\"description\":\"第%d个问题\","
                         "\"title\":\"标题%d\",\"caller\":{\"phone\":\"1390000000%d\"},"
                         "\"location\":{\"cell\":\"%s\"}}}",
                         i == 4   ? "misc.other"
                         : i >= 2 ? "road.damage"
                                  : "env.noise",
                         i, i, i % 2, i == 4 ? "C-B1" : "C-A1");
        snprintf(nos[i], sizeof nos[i], "%s", th_gets(r, "ticket.no"));
        cJSON_Delete(r);
    }
    cJSON_Delete(th_ok(c, "note", "{\"ticket\":\"%s\",\"text\":\"已电话联系施工方\"}", nos[0]));

    /* show: the ticket and its timeline */
    char *out, *err;
    int rc = hl(&out, &err, "show", nos[0]);
    assert_int_equal(rc, 0);
    expect_in(out, nos[0]);
    expect_in(out, "已派单");
    expect_in(out, "第0个问题");
    expect_in(out, "甲镇（t.a）");
    expect_in(out, "时间线");
    expect_in(out, "登记");
    expect_in(out, "备注");
    expect_in(out, "已电话联系施工方");
    free(out);
    free(err);
    rc = hl(&out, &err, "--json", "show", nos[0]);
    assert_int_equal(rc, 0);
    cJSON *j = cJSON_Parse(out);
    assert_non_null(j);
    assert_string_equal(th_gets(j, "ticket.no"), nos[0]);
    cJSON_Delete(j);
    free(out);
    free(err);
    /* by numeric id too */
    rc = hl(&out, &err, "-q", "show", "1");
    assert_int_equal(rc, 0);
    free(out);
    free(err);

    /* list with a filter, human and --json, against the dispatcher's own list */
    rc = hl(&out, &err, "list", "--unit", "t.b");
    assert_int_equal(rc, 0);
    expect_in(out, nos[4]);
    expect_not_in(out, nos[0]);
    expect_in(out, "乙镇");
    expect_in(out, "共 1 张工单");
    free(out);
    free(err);
    rc = hl(&out, &err, "--json", "list", "--phone", "13900000001", "--status",
            "dispatched,accepted");
    assert_int_equal(rc, 0);
    j = cJSON_Parse(out);
    cJSON *r = th_ok(c, "list", "{\"phone\":\"13900000001\"}");
    assert_non_null(j);
    assert_int_equal(cJSON_GetArraySize(th_get(j, "tickets")),
                     cJSON_GetArraySize(th_get(r, "tickets")));
    assert_int_equal(cJSON_GetArraySize(th_get(j, "tickets")), 2);
    cJSON_Delete(j);
    cJSON_Delete(r);
    free(out);
    free(err);

    /* paging: one a page; --all follows the cursor to the end */
    rc = hl(&out, &err, "list", "--limit", "2");
    assert_int_equal(rc, 0);
    expect_in(out, "共 2 张工单");
    expect_in(out, "--after");
    free(out);
    free(err);
    rc = hl(&out, &err, "-q", "list", "--limit", "1", "--all");
    assert_int_equal(rc, 0);
    for (int i = 0; i < 5; i++)
        expect_in(out, nos[i]);
    free(out);
    free(err);
    rc = hl(&out, &err, "-q", "list", "--status", "triage");
    assert_int_equal(rc, 0);
    assert_string_equal(out, "");
    free(out);
    free(err);

    /* history: a caller's tickets */
    rc = hl(&out, &err, "history", "13900000000");
    assert_int_equal(rc, 0);
    expect_in(out, "共 3 张工单");
    expect_in(out, "3 张未办结");
    expect_in(out, nos[0]);
    expect_in(out, nos[2]);
    expect_in(out, nos[4]);
    expect_not_in(out, nos[1]);
    free(out);
    free(err);
    rc = hl(&out, &err, "history", "10000000000");
    assert_int_equal(rc, 0);
    expect_in(out, "没有工单记录");
    free(out);
    free(err);
    th_client_destroy(&c);
}

/* ---- changes ------------------------------------------------------------ */

static char *create(th_client *c, const char *category, const char *cell, const char *phone)
{
    cJSON *r;
    if (cell)
        r = th_ok(c, "create",
                  "{\"ticket\":{\"category\":\"%s\",\"description\":\"测试\","
                  "\"caller\":{\"phone\":\"%s\"},\"location\":{\"cell\":\"%s\"}}}",
                  category, phone, cell);
    else
        r = th_ok(c, "create",
                  "{\"ticket\":{\"category\":\"%s\",\"description\":\"测试\","
                  "\"caller\":{\"phone\":\"%s\"}}}",
                  category, phone);
    char *no = strdup(th_gets(r, "ticket.no"));
    cJSON_Delete(r);
    return no;
}

static void test_changes(void **state)
{
    (void)state;
    th_client *c = th_client_new(s_d.front, "operator", NULL);
    char *out, *err;
    /* dispatch a triage ticket with a co unit */
    char *t1 = create(c, "misc.other", NULL, "13700000001");
    int rc = hl(&out, &err, "dispatch", t1, "t.b", "--co", "t.water", "--note", "按地址派单");
    assert_int_equal(rc, 0);
    expect_in(out, "已派单");
    expect_in(out, "乙镇（t.b）");
    expect_in(out, "水务（t.water）");
    free(out);
    free(err);
    expect_ticket(c, t1, "status", "dispatched", "lead", "t.b", "co.0", "t.water", NULL);

    /* note: free text in several words */
    rc = hl(&out, &err, "note", t1, "来电人", "补充：下午在家");
    assert_int_equal(rc, 0);
    free(out);
    free(err);
    cJSON *r = get_ticket(c, t1);
    const cJSON *ev, *events = th_get(r, "ticket.events");
    if (!events) events = th_get(r, "events");
    int seen = 0;
    cJSON_ArrayForEach(ev, events) seen |=
        cJSON_GetStringValue(cJSON_GetObjectItem(ev, "note")) &&
        strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(ev, "note")), "来电人 补充：下午在家") == 0;
    assert_true(seen);
    cJSON_Delete(r);

    /* merge into another ticket */
    char *t2 = create(c, "env.noise", "C-A1", "13700000002");
    rc = hl(&out, &err, "merge", t2, t1);
    assert_int_equal(rc, 0);
    expect_in(out, "已并单");
    free(out);
    free(err);
    expect_ticket(c, t2, "status", "merged", NULL);

    /* cancel with a reason */
    char *t3 = create(c, "env.noise", "C-A1", "13700000003");
    rc = hl(&out, &err, "--json", "cancel", t3, "来电人撤回诉求");
    assert_int_equal(rc, 0);
    cJSON *j = cJSON_Parse(out);
    assert_string_equal(th_gets(j, "ticket.status"), "cancelled");
    cJSON_Delete(j);
    free(out);
    free(err);
    expect_ticket(c, t3, "status", "cancelled", NULL);

    /* callback: a worker of the lead resolves two tickets first */
    th_client *w = th_client_new(s_d.front, "worker", "t.a");
    char *t4 = create(c, "env.noise", "C-A2", "13700000004");
    char *t5 = create(c, "env.noise", "C-A2", "13700000005");
    char *tk[] = {t4, t5};
    for (int i = 0; i < 2; i++) {
        cJSON_Delete(th_ok(w, "sign", "{\"ticket\":\"%s\"}", tk[i]));
        cJSON_Delete(th_ok(w, "finish", "{\"ticket\":\"%s\",\"result\":\"已处理\"}", tk[i]));
    }
    rc = hl(&out, &err, "callback", t4, "satisfied", "--note", "回访满意");
    assert_int_equal(rc, 0);
    expect_in(out, "已结案");
    free(out);
    free(err);
    expect_ticket(c, t4, "status", "closed", "satisfaction", "satisfied", NULL);
    rc = hl(&out, &err, "callback", t5, "不满意");
    assert_int_equal(rc, 0);
    expect_in(out, "重办");
    free(out);
    free(err);
    expect_ticket(c, t5, "status", "dispatched", "lead", "t.a", NULL);
    r = get_ticket(c, t5);
    assert_int_equal(th_geti(r, "ticket.reopen_count"), 1);
    cJSON_Delete(r);

    /* a closed ticket cannot be called back again: refused, exit 1 */
    rc = hl(&out, &err, "callback", t4, "basic");
    assert_int_equal(rc, 1);
    expect_in(err, "conflict");
    assert_string_equal(out, "");
    free(out);
    free(err);
    /* with --json the refusal is printed as it came, too */
    rc = hl(&out, &err, "--json", "callback", t4, "basic");
    assert_int_equal(rc, 1);
    j = cJSON_Parse(out);
    assert_non_null(j);
    assert_string_equal(th_err_code(j), "conflict");
    cJSON_Delete(j);
    free(out);
    free(err);

    th_client_destroy(&w);
    th_client_destroy(&c);
    free(t1), free(t2), free(t3), free(t4), free(t5);
}

/* ---- managers ------------------------------------------------------------------ */

static int s_unavailable(const char *err)
{
    return err && strstr(err, "not available");
}

static void test_manager_commands(void **state)
{
    (void)state;
    th_client *c = th_client_new(s_d.front, "operator", NULL);
    char *no = create(c, "env.noise", "C-A1", "13600000001");
    char *out, *err;

    /* supervise: manager by default; an operator is refused */
    int rc = hl(&out, &err, "supervise", no, "请加快办理");
    assert_int_equal(rc, 0);
    expect_in(out, "已督办");
    free(out);
    free(err);
    cJSON *r = get_ticket(c, no);
    assert_int_equal(th_geti(r, "ticket.supervise_count"), 1);
    cJSON_Delete(r);
    rc = hl(&out, &err, "--role", "operator", "supervise", no, "x");
    assert_int_equal(rc, 1);
    expect_in(err, "forbidden");
    free(out);
    free(err);

    /* alerts: a table (maybe empty) and the reply as it came */
    rc = hl(&out, &err, "alerts");
    assert_int_equal(rc, 0);
    expect_in(out, "条预警");
    free(out);
    free(err);
    rc = hl(&out, &err, "--json", "alerts", "--level", "red", "--unit", "t.a");
    assert_int_equal(rc, 0);
    cJSON *j = cJSON_Parse(out);
    assert_true(th_is_ok(j));
    assert_true(cJSON_IsArray(th_get(j, "alerts")));
    cJSON_Delete(j);
    free(out);
    free(err);

    /* stats: the ranking table, CSV and JSON */
    rc = hl(&out, &err, "stats", "--since", "2020-01-01");
    if (rc == 1 && s_unavailable(err)) {
        fprintf(stderr, "# skip stats: the dispatcher says: %s", err);
        free(out);
        free(err);
    } else {
        assert_int_equal(rc, 0);
        expect_in(out, "考核排名");
        expect_in(out, "甲镇");
        expect_in(out, "得分");
        free(out);
        free(err);
        rc = hl(&out, &err, "stats", "--csv");
        assert_int_equal(rc, 0);
        expect_in(out, "rank,unit,name,assigned,signed_on_time");
        expect_in(out, "t.a,甲镇,");
        free(out);
        free(err);
        rc = hl(&out, &err, "--json", "stats");
        assert_int_equal(rc, 0);
        j = cJSON_Parse(out);
        assert_true(cJSON_IsArray(th_get(j, "units")));
        cJSON_Delete(j);
        free(out);
        free(err);
    }

    /* decide: needs an extension request by the lead's worker */
    th_client *w = th_client_new(s_d.front, "worker", "t.a");
    cJSON_Delete(th_ok(w, "sign", "{\"ticket\":\"%s\"}", no));
    cJSON *ext =
        th_call(w, "extend", "{\"ticket\":\"%s\",\"by\":\"2wd\",\"reason\":\"需协调\"}", no);
    cJSON_Delete(ext);
    rc = hl(&out, &err, "decide", no, "approve", "--note", "同意延期");
    if (rc == 1 && s_unavailable(err)) {
        fprintf(stderr, "# skip decide: the dispatcher says: %s", err);
    } else {
        assert_int_equal(rc, 0);
        expect_in(out, "延期已批准");
        expect_ticket(c, no, "extension.state", "approved", NULL);
    }
    free(out);
    free(err);

    /* units: who is online (the worker above), names aligned */
    rc = hl(&out, &err, "units");
    assert_int_equal(rc, 0);
    expect_in(out, "甲镇第一网格工作站");
    expect_in(out, "在线");
    expect_in(out, "共 7 个单位，1 个在线");
    free(out);
    free(err);
    rc = hl(&out, &err, "-q", "units", "--online");
    assert_int_equal(rc, 0);
    assert_string_equal(out, "t.a\n");
    free(out);
    free(err);
    rc = hl(&out, &err, "--json", "units");
    assert_int_equal(rc, 0);
    j = cJSON_Parse(out);
    const cJSON *u;
    int online = 0;
    cJSON_ArrayForEach(u, th_get(j, "units")) if (cJSON_IsTrue(cJSON_GetObjectItem(u, "online")))
        online++;
    assert_int_equal(online, 1);
    cJSON_Delete(j);
    free(out);
    free(err);
    th_client_destroy(&w);
    th_client_destroy(&c);
    free(no);
}

/* ---- exit statuses --------------------------------------------------------------- */

static void test_exit_codes(void **state)
{
    (void)state;
    char *out, *err;
    th_client *c = th_client_new(s_d.front, "operator", NULL);
    char *no = create(c, "env.noise", "C-A1", "13400000001");
    th_client_destroy(&c);
    /* 1: refused, with the dispatcher's code and message */
    int rc = hl(&out, &err, "show", "20990101-000001");
    assert_int_equal(rc, 1);
    expect_in(err, "not_found");
    free(out);
    free(err);
    rc = hl(&out, &err, "dispatch", no, "t.nowhere");
    free(no);
    assert_int_equal(rc, 1);
    expect_in(err, "unknown_unit");
    free(out);
    free(err);
    rc = hl(&out, &err, "call", "--category", "no.such", "--desc", "x");
    assert_int_equal(rc, 1);
    expect_in(err, "unknown_category");
    free(out);
    free(err);

    /* 2: usage, each with a message that says what is wrong */
    static const char *const bad[][6] = {
        {"frobnicate", NULL},
        {"show", NULL},
        {"call", "--desc", "x", NULL},
        {"call", "--category", "噪音", "--desc", "x", "--lat"},
        {"call", "--category", "e", "--desc", "x", NULL}, /* ambiguous */
        {"call", "--category", "火星", "--desc", "x", NULL},
        {"list", "--status", "open,bogus", NULL},
        {"list", "--limit", "0", NULL},
        {"list", "--frob", NULL},
        {"callback", "1", "happy", NULL},
        {"decide", "1", "maybe", NULL},
        {"stats", "--since", "yesterday", NULL},
        {"watch", "--count", "x", NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *a[6] = {0};
        for (int k = 0; k < 6 && bad[i][k]; k++)
            a[k] = bad[i][k];
        rc = hl(&out, &err, a[0], a[1], a[2], a[3], a[4], a[5]);
        if (rc != 2) fail_msg("%s %s: exit %d, want 2; stderr %s", a[0], a[1] ? a[1] : "", rc, err);
        assert_true(strlen(err) > 10);
        free(out);
        free(err);
    }
    /* --role must be a known role */
    rc = hl(&out, &err, "--role", "mayor", "list");
    assert_int_equal(rc, 2);
    free(out);
    free(err);

    /* 3: nothing listens there; a short timeout keeps this quick */
    char ep[64];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", th_free_port());
    int64_t t0 = th_mono_ms();
    rc = th_run_bin("hotline", NULL, NULL, &out, &err, 20000, "--connect", ep, "--timeout", "150",
                    "--retries", "2", "list", NULL);
    assert_int_equal(rc, 3);
    expect_in(err, "unreachable");
    expect_in(err, ep);
    expect_in(err, "2 tries");
    assert_true(th_mono_ms() - t0 < 5000);
    free(out);
    free(err);
}

/* ---- idempotent retries ---------------------------------------------------------------- */

/* The same idem twice against the real dispatcher: one ticket. */
static void test_idem_real(void **state)
{
    (void)state;
    char *out, *err, a[32], b[32];
    int rc = hl(&out, &err, "-q", "--idem", "call-0001", "call", "--category", "噪音", "--desc",
                "重试测试", "--phone", "13500000001", "--cell", "C-A1");
    assert_int_equal(rc, 0);
    snprintf(a, sizeof a, "%s", out);
    free(out);
    free(err);
    rc = hl(&out, &err, "-q", "--idem", "call-0001", "call", "--category", "噪音", "--desc",
            "重试测试", "--phone", "13500000001", "--cell", "C-A1");
    assert_int_equal(rc, 0);
    snprintf(b, sizeof b, "%s", out);
    free(out);
    free(err);
    assert_string_equal(a, b);
    th_client *c = th_client_new(s_d.front, "operator", NULL);
    cJSON *r = th_ok(c, "list", "{\"phone\":\"13500000001\"}");
    assert_int_equal(cJSON_GetArraySize(th_get(r, "tickets")), 1);
    cJSON *t = get_ticket(c, strtok(a, "\n"));
    assert_int_equal(th_geti(t, "ticket.repeat_calls"), 0); /* not even a repeat */
    cJSON_Delete(t);
    cJSON_Delete(r);
    th_client_destroy(&c);
}

/* One request from a ROUTER: identity and parsed body. */
static cJSON *router_recv(void *sock, zmq_msg_t *ident, int ms)
{
    zmq_pollitem_t it = {sock, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, ms) <= 0) return NULL;
    zmq_msg_init(ident);
    zmq_msg_recv(ident, sock, 0);
    zmq_msg_t body;
    zmq_msg_init(&body);
    zmq_msg_recv(&body, sock, 0);
    cJSON *j = cJSON_ParseWithLength(zmq_msg_data(&body), zmq_msg_size(&body));
    zmq_msg_close(&body);
    return j;
}

static void router_reply(void *sock, zmq_msg_t *ident, const char *text)
{
    zmq_msg_send(ident, sock, ZMQ_SNDMORE);
    zmq_send(sock, text, strlen(text), 0);
}

/* A fake front socket (linger 0) bound to a free port, named in ep. */
static void *router_bind(void *ctx, char *ep, size_t size)
{
    void *sock = zmq_socket(ctx, ZMQ_ROUTER);
    int linger = 0;
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
    snprintf(ep, size, "tcp://127.0.0.1:%d", th_free_port());
    assert_int_equal(zmq_bind(sock, ep), 0);
    return sock;
}

/* The fake front socket's answer to a hello with this id. */
static void router_hello(void *sock, zmq_msg_t *ident, const char *id)
{
    char reply[256];
    snprintf(reply, sizeof reply,
             "{\"v\":1,\"re\":\"%s\",\"ok\":true,\"server\":\"fake\","
             "\"heartbeat_ms\":5000,\"time\":\"2026-11-27T00:00:00.000Z\"}",
             id);
    router_reply(sock, ident, reply);
}

/* A fake front socket that never answers the first create: the console
 * retries on a new connection with the same id and idem. */
static void test_retry_same_idem(void **state)
{
    (void)state;
    void *ctx = zmq_ctx_new();
    char ep[64];
    void *sock = router_bind(ctx, ep, sizeof ep);
    const char *argv[] = {
        th_bin("hotline"), "--connect", ep,       "--timeout", "700", "-q", "call",
        "--category",      "env.noise", "--desc", "慢链路",    NULL};
    const char *log = th_path("retry.log");
    pid_t pid = th_spawn(log, argv);
    char idem1[80] = "", id1[80] = "";
    int creates = 0, hellos = 0;
    int64_t end = th_mono_ms() + 10000;
    while (creates < 2 && th_mono_ms() < end) {
        zmq_msg_t ident;
        cJSON *req = router_recv(sock, &ident, 500);
        if (!req) continue;
        const char *op = th_gets(req, "op"), *id = th_gets(req, "id");
        char reply[1024];
        if (strcmp(op, "hello") == 0) {
            hellos++;
            router_hello(sock, &ident, id);
        } else if (strcmp(op, "create") == 0) {
            creates++;
            const char *idem = th_gets(req, "idem");
            assert_non_null(idem);
            if (creates == 1) {
                /* swallowed: a slow link */
                snprintf(idem1, sizeof idem1, "%s", idem);
                snprintf(id1, sizeof id1, "%s", id);
            } else {
                assert_string_equal(idem, idem1);
                assert_string_equal(id, id1);
                snprintf(reply, sizeof reply,
                         "{\"v\":1,\"re\":\"%s\",\"ok\":true,\"repeat\":false,\"ticket\":"
                         "{\"id\":9,\"no\":\"20261127-000009\",\"status\":\"dispatched\"}}",
                         id);
                router_reply(sock, &ident, reply);
            }
        }
        zmq_msg_close(&ident);
        cJSON_Delete(req);
    }
    assert_int_equal(creates, 2);
    assert_int_equal(hellos, 2); /* a new connection says hello again */
    int rc = th_stop_pid(pid, 0, 10000);
    assert_int_equal(rc, 0);
    char *text = th_read(log);
    expect_in(text, "20261127-000009");
    free(text);
    zmq_close(sock);
    zmq_ctx_term(ctx);
}

/* A dispatcher that takes 4 s to count: stats waits for it (60 s per try
 * by default, not the 3 s of the other commands) and asks once. */
static void test_stats_waits_for_a_long_count(void **state)
{
    (void)state;
    void *ctx = zmq_ctx_new();
    char ep[64];
    void *sock = router_bind(ctx, ep, sizeof ep);
    const char *argv[] = {th_bin("hotline"), "--connect", ep,      "--role",
                          "manager",         "--json",    "stats", NULL};
    const char *log = th_path("stats-wait.log");
    pid_t pid = th_spawn(log, argv);
    int stats = 0;
    zmq_msg_t held;
    char held_id[80] = "";
    int64_t due = 0, end = th_mono_ms() + 20000;
    while (th_mono_ms() < end && !(stats && !held_id[0])) {
        if (held_id[0] && th_mono_ms() >= due) {
            char reply[256];
            snprintf(reply, sizeof reply,
                     "{\"v\":1,\"re\":\"%s\",\"ok\":true,\"since\":null,\"until\":null,"
                     "\"units\":[]}",
                     held_id);
            router_reply(sock, &held, reply);
            zmq_msg_close(&held);
            held_id[0] = '\0';
            continue;
        }
        zmq_msg_t ident;
        cJSON *req = router_recv(sock, &ident, 50);
        if (!req) continue;
        const char *op = th_gets(req, "op"), *id = th_gets(req, "id");
        if (strcmp(op, "hello") == 0) {
            router_hello(sock, &ident, id);
            zmq_msg_close(&ident);
        } else {
            assert_string_equal(op, "stats");
            stats++;
            /* answered 4 s later */
            zmq_msg_init(&held);
            zmq_msg_move(&held, &ident);
            zmq_msg_close(&ident);
            snprintf(held_id, sizeof held_id, "%s", id);
            due = th_mono_ms() + 4000;
        }
        cJSON_Delete(req);
    }
    assert_int_equal(th_stop_pid(pid, 0, 10000), 0);
    assert_int_equal(stats, 1);
    char *text = th_read(log);
    expect_in(text, "\"units\":[]");
    free(text);
    zmq_close(sock);
    zmq_ctx_term(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_call_flags_and_repeat, setup, teardown),
        cmocka_unit_test_setup_teardown(test_call_interactive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_show_list_history, setup, teardown),
        cmocka_unit_test_setup_teardown(test_changes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_manager_commands, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exit_codes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idem_real, setup, teardown),
        cmocka_unit_test(test_retry_same_idem),
        cmocka_unit_test(test_stats_waits_for_a_long_count),
    };
    return TH_MAIN("console", tests);
}
