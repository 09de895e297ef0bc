/* test_authz.c — the authorisation matrix (DESIGN §8): every op of the op
 * table against five callers — an operator, a manager, a worker of the
 * ticket's lead unit, a worker of its co unit and a worker of another
 * unit — each on a fresh ticket in the status the row needs. A row's cells
 * say ok, forbidden, or conflict (the caller may, the status may not:
 * authorisation is decided before the status). Rows with a wrong status
 * show that a caller who may not act learns nothing about the status. */
#include "test_dispatcher.h"

#include "hotline/proto.h"
#include "hotline/util.h"

enum { R_OP, R_MGR, R_LEAD, R_CO, R_OTHER, R__N };
static const char *const s_role_names[R__N] = {"operator", "manager", "lead worker", "co worker",
                                               "other worker"};

/* The ticket of a row: water.outage at C-A1 is led by t.water with t.a
 * (the cell's town) as co unit; workers of t.b are the others. */
typedef enum {
    S_NONE,       /* no ticket */
    S_TRIAGE,     /* returned by the lead: no lead, t.a still co */
    S_DISPATCHED, /* waiting for 签收 */
    S_ACCEPTED,   /* signed */
    S_PENDING,    /* signed, an extension request pending */
    S_RESOLVED,   /* finished, waiting for the callback */
    S_CLOSED      /* called back, satisfied */
} status;

/* Expected outcomes. */
#define OK "ok"
#define NO "forbidden"
#define CF "conflict"

typedef struct row {
    const char *op;
    status st;
    /* arguments; $T is the ticket's id, $U another open ticket's id */
    const char *args;
    const char *expect[R__N]; /* operator, manager, lead, co, other */
} row;

static const row s_rows[] = {
    {"hello", S_NONE, "(each caller's own)", {OK, OK, OK, OK, OK}},
    {"ping", S_NONE, "{}", {OK, OK, OK, OK, OK}},
    {"units", S_NONE, "{}", {OK, OK, OK, OK, OK}},
    {"create",
     S_NONE,
     "{\"ticket\":{\"category\":\"misc.other\",\"description\":\"来电\"}}",
     {OK, OK, NO, NO, NO}},
    {"create",
     S_NONE,
     "{\"ticket\":{\"category\":\"env.litter\",\"description\":\"巡查发现\",\"channel\":\"grid\"}}",
     {OK, OK, OK, OK, OK}},
    {"get", S_DISPATCHED, "{\"ticket\":$T}", {OK, OK, OK, OK, NO}},
    {"get", S_CLOSED, "{\"ticket\":$T}", {OK, OK, OK, OK, NO}},
    {"list", S_NONE, "{}", {OK, OK, OK, OK, OK}},
    {"list", S_NONE, "{\"unit\":\"t.water\"}", {OK, OK, OK, NO, NO}},
    {"dispatch", S_TRIAGE, "{\"ticket\":$T,\"unit\":\"t.water\"}", {OK, OK, NO, NO, NO}},
    {"dispatch", S_ACCEPTED, "{\"ticket\":$T,\"unit\":\"t.transport\"}", {OK, OK, NO, NO, NO}},
    {"dispatch", S_CLOSED, "{\"ticket\":$T,\"unit\":\"t.water\"}", {CF, CF, NO, NO, NO}},
    {"callback", S_RESOLVED, "{\"ticket\":$T,\"result\":\"satisfied\"}", {OK, OK, NO, NO, NO}},
    {"callback", S_ACCEPTED, "{\"ticket\":$T,\"result\":\"satisfied\"}", {CF, CF, NO, NO, NO}},
    {"merge", S_DISPATCHED, "{\"ticket\":$T,\"into\":$U}", {OK, OK, NO, NO, NO}},
    {"merge", S_CLOSED, "{\"ticket\":$T,\"into\":$U}", {CF, CF, NO, NO, NO}},
    {"cancel", S_DISPATCHED, "{\"ticket\":$T,\"reason\":\"市民撤诉\"}", {OK, OK, NO, NO, NO}},
    {"cancel", S_CLOSED, "{\"ticket\":$T,\"reason\":\"市民撤诉\"}", {CF, CF, NO, NO, NO}},
    {"note", S_ACCEPTED, "{\"ticket\":$T,\"text\":\"已联系\"}", {OK, OK, OK, OK, NO}},
    {"note", S_TRIAGE, "{\"ticket\":$T,\"text\":\"已联系\"}", {OK, OK, NO, OK, NO}},
    {"note", S_CLOSED, "{\"ticket\":$T,\"text\":\"已联系\"}", {CF, CF, CF, CF, NO}},
    {"supervise", S_DISPATCHED, "{\"ticket\":$T,\"note\":\"请加快\"}", {NO, OK, NO, NO, NO}},
    {"supervise", S_RESOLVED, "{\"ticket\":$T,\"note\":\"请加快\"}", {NO, CF, NO, NO, NO}},
    {"decide", S_PENDING, "{\"ticket\":$T,\"approve\":true}", {NO, OK, NO, NO, NO}},
    {"decide", S_ACCEPTED, "{\"ticket\":$T,\"approve\":true}", {NO, CF, NO, NO, NO}},
    {"alerts", S_NONE, "{}", {NO, OK, NO, NO, NO}},
    {"stats", S_NONE, "{}", {NO, OK, NO, NO, NO}},
    {"events", S_NONE, "{\"after\":0}", {NO, OK, NO, NO, NO}},
    {"inbox", S_NONE, "{\"after\":0}", {NO, NO, OK, OK, OK}},
    {"sign", S_DISPATCHED, "{\"ticket\":$T,\"note\":\"收到\"}", {NO, NO, OK, NO, NO}},
    {"sign", S_ACCEPTED, "{\"ticket\":$T}", {NO, NO, CF, NO, NO}},
    {"finish", S_ACCEPTED, "{\"ticket\":$T,\"result\":\"已修复\"}", {NO, NO, OK, NO, NO}},
    {"finish", S_DISPATCHED, "{\"ticket\":$T,\"result\":\"已修复\"}", {NO, NO, CF, NO, NO}},
    {"return", S_DISPATCHED, "{\"ticket\":$T,\"reason\":\"不属本单位\"}", {NO, NO, OK, NO, NO}},
    {"return", S_RESOLVED, "{\"ticket\":$T,\"reason\":\"不属本单位\"}", {NO, NO, CF, NO, NO}},
    {"extend",
     S_ACCEPTED,
     "{\"ticket\":$T,\"by\":\"2wd\",\"reason\":\"需协调施工方\"}",
     {NO, NO, OK, NO, NO}},
    {"extend",
     S_PENDING,
     "{\"ticket\":$T,\"by\":\"2wd\",\"reason\":\"再次申请\"}",
     {NO, NO, CF, NO, NO}},
    {"extend",
     S_DISPATCHED,
     "{\"ticket\":$T,\"by\":\"2wd\",\"reason\":\"需协调施工方\"}",
     {NO, NO, CF, NO, NO}},
};

static th_disp s_d;
static th_client *s_c[R__N];
static int s_phone;

static int setup(void **state)
{
    (void)state;
    /* the matrix makes a few hundred tickets: durability is not under test */
    const char *cfg =
        td_small_with("authz.json", "\"synchronous\": \"full\"", "\"synchronous\": \"off\"");
    memset(&s_d, 0, sizeof s_d);
    th_disp_start(&s_d, cfg, th_path("authz.db"), NULL);
    s_c[R_OP] = th_client_new(s_d.front, "operator", NULL);
    s_c[R_MGR] = th_client_new(s_d.front, "manager", NULL);
    s_c[R_LEAD] = th_client_new(s_d.front, "worker", "t.water");
    s_c[R_CO] = th_client_new(s_d.front, "worker", "t.a");
    s_c[R_OTHER] = th_client_new(s_d.front, "worker", "t.b");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (int r = 0; r < R__N; r++)
        th_client_destroy(&s_c[r]);
    th_disp_stop(&s_d);
    return 0;
}

/* A fresh ticket in status st; its id. */
static int64_t s_ticket(status st)
{
    char t[300];
    snprintf(t, sizeof t,
             "{\"category\":\"water.outage\",\"description\":\"矩阵测试：停水\","
             "\"caller\":{\"phone\":\"1370000%04d\"},\"location\":{\"cell\":\"C-A1\"}}",
             ++s_phone);
    int64_t id = td_create_id(s_c[R_OP], t);
    th_client *lead = s_c[R_LEAD];
    switch (st) {
    case S_NONE:
    case S_DISPATCHED:
        break;
    case S_TRIAGE:
        td_ok(lead, "return", "{\"ticket\":%lld,\"reason\":\"退回\"}", (long long)id);
        break;
    case S_CLOSED:
    case S_RESOLVED:
    case S_PENDING:
    case S_ACCEPTED:
        td_ok(lead, "sign", "{\"ticket\":%lld}", (long long)id);
        if (st == S_PENDING)
            td_ok(lead, "extend", "{\"ticket\":%lld,\"by\":\"1wd\",\"reason\":\"待料\"}",
                  (long long)id);
        if (st == S_RESOLVED || st == S_CLOSED)
            td_ok(lead, "finish", "{\"ticket\":%lld,\"result\":\"已恢复供水\"}", (long long)id);
        if (st == S_CLOSED)
            td_ok(s_c[R_OP], "callback", "{\"ticket\":%lld,\"result\":\"satisfied\"}",
                  (long long)id);
        break;
    }
    static const char *const want[] = {NULL,       "triage",   "dispatched", "accepted",
                                       "accepted", "resolved", "closed"};
    if (want[st]) td_assert_status(s_c[R_OP], id, want[st]);
    return id;
}

/* args with $T and $U replaced. */
static void s_args(const char *tmpl, int64_t t, int64_t u, char *out, size_t size)
{
    size_t n = 0;
    for (const char *p = tmpl; *p && n + 24 < size; p++) {
        if (p[0] == '$' && (p[1] == 'T' || p[1] == 'U')) {
            n += (size_t)snprintf(out + n, size - n, "%lld", (long long)(p[1] == 'T' ? t : u));
            p++;
        } else {
            out[n++] = *p;
        }
    }
    out[n] = '\0';
}

static const char *s_outcome(const cJSON *r)
{
    if (th_is_ok(r)) return OK;
    const char *code = th_err_code(r);
    return code ? code : "(no code)";
}

static void test_matrix(void **state)
{
    (void)state;
    int failures = 0, cells = 0;
    for (size_t i = 0; i < HL_ARRAY_LEN(s_rows); i++) {
        const row *w = &s_rows[i];
        for (int r = 0; r < R__N; r++) {
            int64_t t = w->st == S_NONE ? 0 : s_ticket(w->st);
            int64_t u = strstr(w->args, "$U") ? s_ticket(S_DISPATCHED) : 0;
            cJSON *rep;
            if (strcmp(w->op, "hello") == 0) {
                static const char *const hello[R__N] = {
                    "{\"role\":\"operator\"}", "{\"role\":\"manager\"}",
                    "{\"role\":\"worker\",\"unit\":\"t.water\"}",
                    "{\"role\":\"worker\",\"unit\":\"t.a\"}",
                    "{\"role\":\"worker\",\"unit\":\"t.b\"}"};
                rep = th_call(s_c[r], "hello", "%s", hello[r]);
            } else {
                char args[1024];
                s_args(w->args, t, u, args, sizeof args);
                rep = th_call(s_c[r], w->op, "%s", args);
            }
            const char *got = s_outcome(rep);
            const char *msg = th_gets(rep, "error.message");
            cells++;
            if (strcmp(w->expect[r], NO) != 0 && strcmp(got, "bad_request") == 0 && msg &&
                strstr(msg, "not available yet")) {
                /* the role passed; the op itself is not in this build */
                fprintf(stderr, "# %s as %s: allowed, but not available yet\n", w->op,
                        s_role_names[r]);
                cJSON_Delete(rep);
                continue;
            }
            if (strcmp(got, w->expect[r]) != 0) {
                fprintf(stderr, "# %-9s %-24.24s as %-12s: expected %s, got %s%s%s\n", w->op,
                        w->args, s_role_names[r], w->expect[r], got, msg ? ": " : "",
                        msg ? msg : "");
                failures++;
            } else if (strcmp(got, OK) != 0 && (!msg || !*msg)) {
                fprintf(stderr, "# %s as %s: %s without a message\n", w->op, s_role_names[r], got);
                failures++;
            }
            cJSON_Delete(rep);
        }
    }
    fprintf(stderr, "# %d cells, %d as expected\n", cells, cells - failures);
    assert_int_equal(failures, 0);
}

/* Every op of the protocol's op table has a row. */
static void test_every_op_has_a_row(void **state)
{
    (void)state;
    int missing = 0;
    for (const hl_opspec *o = hl_ops; o->name; o++) {
        int found = 0;
        for (size_t i = 0; i < HL_ARRAY_LEN(s_rows); i++)
            if (strcmp(s_rows[i].op, o->name) == 0) found = 1;
        if (!found) {
            fprintf(stderr, "# op %s has no row in the matrix\n", o->name);
            missing++;
        }
    }
    assert_int_equal(missing, 0);
}

/* A refusal changes nothing: the forbidden cells left their tickets as
 * they were (one spot check per transition, on the ticket's history). */
static void test_refusals_change_nothing(void **state)
{
    (void)state;
    int64_t t = s_ticket(S_DISPATCHED);
    th_err(s_c[R_CO], "forbidden", "sign", "{\"ticket\":%lld}", (long long)t);
    th_err(s_c[R_OTHER], "forbidden", "return", "{\"ticket\":%lld,\"reason\":\"x\"}", (long long)t);
    th_err(s_c[R_OP], "forbidden", "supervise", "{\"ticket\":%lld,\"note\":\"x\"}", (long long)t);
    th_err(s_c[R_LEAD], "forbidden", "cancel", "{\"ticket\":%lld,\"reason\":\"x\"}", (long long)t);
    cJSON *r = th_ok(s_c[R_MGR], "get", "{\"ticket\":%lld}", (long long)t);
    td_assert_str(r, "ticket.status", "dispatched");
    assert_int_equal(cJSON_GetArraySize(th_get(r, "ticket.events")), 1);
    assert_int_equal(th_geti(r, "ticket.supervise_count"), 0);
    cJSON_Delete(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_op_has_a_row),
        cmocka_unit_test_setup_teardown(test_matrix, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals_change_nothing, setup, teardown),
    };
    return TH_MAIN("authz", tests);
}
