/* tickets.c — the operator's ticket commands: show, list, history, and the
 * changes dispatch, callback, merge, cancel, note. Each sends one request
 * and prints the outcome; the dispatcher decides what is allowed. */
#include "cli.h"
#include "hotline/timefmt.h"
#include "hotline/utf8.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static void s_label(const char *label)
{
    char pad[64];
    printf("  %s  ", hl_utf8_pad(label, 8, pad, sizeof pad));
}

static int s_open_status(const char *s)
{
    return hl_streq(s, "triage") || hl_streq(s, "dispatched") || hl_streq(s, "accepted") ||
           hl_streq(s, "resolved");
}

/* Join positional arguments from i on with spaces (free text such as a
 * reason may be given unquoted). Caller frees. */
static char *s_join(const cli_args *a, int from)
{
    hl_buf b;
    hl_buf_init(&b);
    for (int i = from; i < a->npos; i++) {
        if (i > from) hl_buf_addc(&b, ' ');
        hl_buf_adds(&b, a->pos[i]);
    }
    return hl_buf_steal(&b);
}

static void s_print_co(cli *c, const cJSON *arr)
{
    int n = 0;
    const cJSON *u;
    cJSON_ArrayForEach(u, arr)
    {
        if (cJSON_IsString(u))
            printf("%s%s（%s）", n++ ? "、" : "", cli_unit_label(c, u->valuestring),
                   u->valuestring);
    }
    if (!n) printf("无");
    printf("\n");
}

static void s_due_line(const char *label, const char *due)
{
    char b1[64], b2[96];
    s_label(label);
    printf("%s%s\n", cli_time(due, 1, b1, sizeof b1), cli_time_left(due, b2, sizeof b2));
}

void cli_print_ticket_brief(cli *c, const cJSON *t, const char *what)
{
    const char *no = hl_json_str(t, "no"), *status = hl_json_str(t, "status");
    printf("工单 %s %s，状态：%s\n", no ? no : "?", what, cli_status_zh(status));
    const char *lead = hl_json_str(t, "lead");
    if (lead && s_open_status(status)) {
        s_label("主办单位");
        printf("%s（%s）\n", cli_unit_label(c, lead), lead);
        const cJSON *co = cJSON_GetObjectItemCaseSensitive(t, "co");
        if (cJSON_GetArraySize(co) > 0) {
            s_label("协办单位");
            s_print_co(c, co);
        }
    }
    if (hl_streq(status, "dispatched") && hl_json_str(t, "sign_due"))
        s_due_line("签收时限", hl_json_str(t, "sign_due"));
    if ((hl_streq(status, "dispatched") || hl_streq(status, "accepted")) &&
        hl_json_str(t, "finish_due"))
        s_due_line("办结时限", hl_json_str(t, "finish_due"));
}

int cli_change(cli *c, const char *op, cJSON *args, const char *what)
{
    hl_reply r;
    int rc = cli_call(c, op, args, &r, 1);
    if (rc) return rc;
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(r.root, "ticket");
    if (c->json) {
    } else if (c->quiet) {
        printf("%s\n", hl_json_str(t, "no") ? hl_json_str(t, "no") : "?");
    } else {
        cli_print_ticket_brief(c, t, what);
    }
    hl_reply_free(&r);
    return CLI_OK;
}

/* ---- show ---------------------------------------------------------------- */

static void s_time_line(const char *label, const cJSON *t, const char *key)
{
    const char *v = hl_json_str(t, key);
    if (!v) return;
    char b[64];
    s_label(label);
    printf("%s\n", cli_time(v, 1, b, sizeof b));
}

static void s_text_line(const char *label, const char *v)
{
    if (!v || !*v) return;
    s_label(label);
    printf("%s\n", v);
}

static void s_print_ticket(cli *c, const cJSON *t, const cJSON *events)
{
    const char *no = hl_json_str(t, "no"), *status = hl_json_str(t, "status");
    int64_t id = 0, n;
    hl_json_int(t, "id", &id);
    printf("工单 %s（id %lld）  %s %s\n", no ? no : "?", (long long)id, cli_status_zh(status),
           status ? status : "");
    const char *code = hl_json_str(t, "category");
    const char *cname = hl_json_str(t, "category_name");
    if (!cname) cname = cli_category_name(c, code);
    s_label("分类");
    printf("%s（%s）  紧急程度 %s  渠道 %s\n", cname ? cname : "", code ? code : "?",
           hl_json_str(t, "urgency") ? hl_json_str(t, "urgency") : "-",
           hl_json_str(t, "channel") ? hl_json_str(t, "channel") : "-");
    s_text_line("标题", hl_json_str(t, "title"));
    s_text_line("诉求", hl_json_str(t, "description"));
    const cJSON *caller = cJSON_GetObjectItemCaseSensitive(t, "caller");
    const char *cn = hl_json_str(caller, "name"), *cp = hl_json_str(caller, "phone");
    if (cn || cp) {
        s_label("来电人");
        printf("%s%s%s\n", cn ? cn : "", cn && cp ? "  " : "", cp ? cp : "");
    }
    const cJSON *loc = cJSON_GetObjectItemCaseSensitive(t, "location");
    const char *cell = hl_json_str(loc, "cell"), *town = hl_json_str(loc, "town");
    const char *addr = hl_json_str(loc, "address");
    double lat, lon;
    int ll = hl_json_num(loc, "lat", &lat) == 0 && hl_json_num(loc, "lon", &lon) == 0;
    s_label("位置");
    if (!cell && !town && !addr && !ll) {
        printf("未提供\n");
    } else {
        int sep = 0;
        if (town) printf("%s", cli_unit_label(c, town)), sep = 1;
        if (cell) printf("%s网格 %s", sep ? " · " : "", cell), sep = 1;
        if (addr) printf("%s%s", sep ? " · " : "", addr), sep = 1;
        if (ll) printf("%s%.5f,%.5f", sep ? " · " : "", lat, lon);
        printf("\n");
    }
    const char *lead = hl_json_str(t, "lead");
    s_label("主办单位");
    if (lead)
        printf("%s（%s）\n", cli_unit_label(c, lead), lead);
    else
        printf("无（待派）\n");
    s_label("协办单位");
    s_print_co(c, cJSON_GetObjectItemCaseSensitive(t, "co"));
    const char *esc = hl_json_str(t, "escalated_to");
    if (esc) {
        s_label("升级至");
        printf("%s（%s）\n", cli_unit_label(c, esc), esc);
    }
    s_time_line("登记", t, "created_at");
    s_time_line("派单", t, "dispatched_at");
    s_time_line("签收", t, "signed_at");
    if (hl_streq(status, "dispatched") && hl_json_str(t, "sign_due"))
        s_due_line("签收时限", hl_json_str(t, "sign_due"));
    if ((hl_streq(status, "dispatched") || hl_streq(status, "accepted")) &&
        hl_json_str(t, "finish_due"))
        s_due_line("办结时限", hl_json_str(t, "finish_due"));
    s_time_line("办结", t, "resolved_at");
    s_time_line("结案", t, "closed_at");
    const cJSON *flags = cJSON_GetObjectItemCaseSensitive(t, "flags");
    int64_t y = 0, r = 0;
    hl_json_int(flags, "yellow", &y);
    hl_json_int(flags, "red", &r);
    if (y || r) {
        s_label("红黄牌");
        printf("黄牌 %lld  红牌 %lld\n", (long long)y, (long long)r);
    }
    int64_t rep = 0, reo = 0, sup = 0;
    hl_json_int(t, "repeat_calls", &rep);
    hl_json_int(t, "reopen_count", &reo);
    hl_json_int(t, "supervise_count", &sup);
    if (rep || reo || sup) {
        s_label("次数");
        printf("重复来电 %lld  重办 %lld  督办 %lld\n", (long long)rep, (long long)reo,
               (long long)sup);
    }
    const cJSON *ext = cJSON_GetObjectItemCaseSensitive(t, "extension");
    if (cJSON_IsObject(ext)) {
        char b[64];
        const char *st = hl_json_str(ext, "state");
        s_label("延期");
        printf("至 %s（%s）%s\n", cli_time(hl_json_str(ext, "until"), 1, b, sizeof b),
               hl_streq(st, "pending")    ? "待审批"
               : hl_streq(st, "approved") ? "已批准"
               : hl_streq(st, "denied")   ? "未批准"
                                          : (st ? st : "?"),
               hl_json_str(ext, "reason") ? hl_json_str(ext, "reason") : "");
    }
    s_text_line("办理结果", hl_json_str(t, "result"));
    if (hl_json_str(t, "satisfaction"))
        s_text_line("回访", cli_result_zh(hl_json_str(t, "satisfaction")));
    const cJSON *mi = cJSON_GetObjectItemCaseSensitive(t, "merged_into");
    if (cJSON_IsString(mi)) s_text_line("并入", mi->valuestring);
    if (cJSON_IsNumber(mi) && hl_json_int(t, "merged_into", &n) == 0) {
        s_label("并入");
        printf("id %lld\n", (long long)n);
    }
    s_text_line("退单理由", hl_json_str(t, "return_reason"));
    if (cJSON_GetArraySize(events) <= 0) return;
    printf("时间线\n");
    static const char *const hdr[] = {"#", "时间", "事项", "操作人", "状态", "说明"};
    cli_table *tb = cli_table_new(6, hdr);
    cli_table_right(tb, 0);
    const cJSON *e;
    cJSON_ArrayForEach(e, events)
    {
        char seq[32] = "", tm[64], st[96] = "";
        int64_t s;
        if (hl_json_int(e, "seq", &s) == 0) snprintf(seq, sizeof seq, "%lld", (long long)s);
        cli_time(hl_json_str(e, "time"), 1, tm, sizeof tm);
        const char *from = hl_json_str(e, "from"), *to = hl_json_str(e, "to");
        if (from && to && strcmp(from, to) != 0)
            snprintf(st, sizeof st, "%s→%s", cli_status_zh(from), cli_status_zh(to));
        else if (to && !from)
            snprintf(st, sizeof st, "%s", cli_status_zh(to));
        const char *row[] = {seq,
                             tm,
                             cli_kind_zh(hl_json_str(e, "kind")),
                             hl_json_str(e, "actor"),
                             st,
                             hl_json_str(e, "note")};
        cli_table_row(tb, row);
    }
    cli_table_indent(tb, 2);
    cli_table_print(&tb, stdout, 0);
}

static const cli_optspec s_no_opts[] = {{NULL, 0}};

int cmd_show(cli *c, int argc, char **argv)
{
    cli_args a;
    int rc = cli_args_parse(&a, "show", argc, argv, s_no_opts);
    if (rc) return rc;
    if (a.npos != 1) return cli_usage("show", "give one ticket number: hotline show NO");
    cJSON *args = cJSON_CreateObject();
    cJSON_AddItemToObject(args, "ticket", cli_ticket_ref(a.pos[0]));
    hl_reply r;
    rc = cli_call(c, "get", args, &r, 1);
    if (rc) return rc;
    if (!c->json) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(r.root, "ticket");
        const cJSON *ev = cJSON_GetObjectItemCaseSensitive(t, "events");
        if (!ev) ev = cJSON_GetObjectItemCaseSensitive(r.root, "events");
        if (c->quiet)
            printf("%s\n", hl_json_str(t, "no") ? hl_json_str(t, "no") : "?");
        else
            s_print_ticket(c, t, ev);
    }
    hl_reply_free(&r);
    return CLI_OK;
}

/* ---- list and history ---------------------------------------------------------- */

static cJSON *s_cursor(const char *s)
{
    int digits = *s != '\0';
    for (const char *p = s; *p; p++)
        if (!isdigit((unsigned char)*p)) digits = 0;
    if (digits && strlen(s) < 16) return cJSON_CreateNumber((double)strtoll(s, NULL, 10));
    return cJSON_CreateString(s);
}

static void s_flags_text(const cJSON *t, char *buf, size_t size)
{
    const cJSON *flags = cJSON_GetObjectItemCaseSensitive(t, "flags");
    int64_t y = 0, r = 0;
    hl_json_int(flags, "yellow", &y);
    hl_json_int(flags, "red", &r);
    buf[0] = '\0';
    if (r && y)
        snprintf(buf, size, "红%lld 黄%lld", (long long)r, (long long)y);
    else if (r)
        snprintf(buf, size, "红%lld", (long long)r);
    else if (y)
        snprintf(buf, size, "黄%lld", (long long)y);
}

static int s_overdue(const cJSON *t)
{
    const char *st = hl_json_str(t, "status");
    if (!hl_streq(st, "dispatched") && !hl_streq(st, "accepted")) return 0;
    hl_ms due;
    const char *d = hl_json_str(t, "finish_due");
    return d && hl_time_parse(d, &due) == 0 && due < hl_now();
}

/* A ticket's row: number, time, status, category, lead, phone, due, flags, text. */
static void s_ticket_row(cli *c, cli_table *tb, const cJSON *t, int history)
{
    char created[64], due[64], flags[64], status[64];
    const char *code = hl_json_str(t, "category");
    const char *cname = hl_json_str(t, "category_name");
    if (!cname) cname = cli_category_name(c, code);
    const char *st = hl_json_str(t, "status");
    snprintf(status, sizeof status, "%s%s", cli_status_zh(st), s_overdue(t) ? "/超期" : "");
    cli_time(hl_json_str(t, "created_at"), 0, created, sizeof created);
    if (hl_streq(st, "dispatched") || hl_streq(st, "accepted"))
        cli_time(hl_json_str(t, "finish_due"), 0, due, sizeof due);
    else
        snprintf(due, sizeof due, "-");
    s_flags_text(t, flags, sizeof flags);
    const char *text = hl_json_str(t, "title");
    if (!text || !*text) text = hl_json_str(t, "description");
    const char *lead = hl_json_str(t, "lead");
    const cJSON *caller = cJSON_GetObjectItemCaseSensitive(t, "caller");
    if (history) {
        const char *row[] = {hl_json_str(t, "no"),
                             created,
                             status,
                             cname ? cname : code,
                             lead ? cli_unit_label(c, lead) : "（待派）",
                             text};
        cli_table_row(tb, row);
    } else {
        const char *row[] = {hl_json_str(t, "no"),
                             created,
                             status,
                             cname ? cname : code,
                             lead ? cli_unit_label(c, lead) : "（待派）",
                             hl_json_str(caller, "phone"),
                             due,
                             flags,
                             text};
        cli_table_row(tb, row);
    }
    int64_t r = 0;
    hl_json_int(cJSON_GetObjectItemCaseSensitive(t, "flags"), "red", &r);
    if (r && s_open_status(st))
        cli_table_color(tb, "31");
    else if (s_overdue(t))
        cli_table_color(tb, "33");
}

static const cli_optspec s_list_opts[] = {{"status", 1},  {"unit", 1}, {"phone", 1},
                                          {"overdue", 0}, {"flag", 1}, {"limit", 1},
                                          {"after", 1},   {"all", 0},  {NULL, 0}};

/* One page of list: its tickets move to the array out. */
static void s_list_page(cli *c, cJSON *reply, void *out)
{
    cJSON *tickets = cJSON_DetachItemFromObject(reply, "tickets");
    cJSON *t;
    while (tickets && (t = cJSON_DetachItemViaPointer(tickets, tickets->child)) != NULL)
        cJSON_AddItemToArray(out, t);
    cJSON_Delete(tickets);
}

/* Fetch pages of list with the given filters (after is replaced per page).
 * Prints each page's reply with --json. Collects the tickets into *out
 * (caller frees). */
static int s_list_pages(cli *c, cJSON *filters, int all, cJSON **out, char *next_text,
                        size_t next_size)
{
    *out = cJSON_CreateArray();
    return cli_pages(c, "list", filters, all, s_list_page, *out, next_text, next_size);
}

int cmd_list(cli *c, int argc, char **argv)
{
    cli_args a;
    int rc = cli_args_parse(&a, "list", argc, argv, s_list_opts);
    if (rc) return rc;
    if (a.npos) return cli_usage("list", "unexpected argument \"%s\"", a.pos[0]);
    cJSON *f = cJSON_CreateObject();
    const char *v;
    if ((v = cli_opt(&a, "status"))) {
        static const char *const known[] = {"triage",    "dispatched", "accepted",
                                            "resolved",  "closed",     "merged",
                                            "cancelled", "open",       NULL};
        cJSON *arr = cJSON_AddArrayToObject(f, "status");
        char *copy = hl_strdup(v), *save = NULL;
        for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            int ok = 0;
            for (int i = 0; known[i]; i++)
                ok |= strcmp(tok, known[i]) == 0;
            if (!ok) {
                rc = cli_usage("list",
                               "--status takes triage, dispatched, accepted, resolved, closed, "
                               "merged, cancelled or open, comma-separated; not \"%s\"",
                               tok);
                free(copy);
                cJSON_Delete(f);
                return rc;
            }
            if (strcmp(tok, "open") == 0) {
                /* every status still in someone's hands */
                static const char *const open[] = {"triage", "dispatched", "accepted", "resolved"};
                for (int i = 0; i < 4; i++)
                    cJSON_AddItemToArray(arr, cJSON_CreateString(open[i]));
            } else {
                cJSON_AddItemToArray(arr, cJSON_CreateString(tok));
            }
        }
        free(copy);
    }
    if ((v = cli_opt(&a, "unit"))) cJSON_AddStringToObject(f, "unit", v);
    if ((v = cli_opt(&a, "phone"))) cJSON_AddStringToObject(f, "phone", v);
    if (cli_has(&a, "overdue")) cJSON_AddTrueToObject(f, "overdue");
    if ((rc = cli_filter_level(&a, "list", "flag", f)) || (rc = cli_filter_limit(&a, "list", f))) {
        cJSON_Delete(f);
        return rc;
    }
    int all = cli_has(&a, "all");
    if ((v = cli_opt(&a, "after"))) {
        if (all) {
            cJSON_Delete(f);
            return cli_usage("list", "give --after or --all, not both");
        }
        cJSON_AddItemToObject(f, "after", s_cursor(v));
    }
    cJSON *tickets;
    char next[64];
    rc = s_list_pages(c, f, all, &tickets, next, sizeof next);
    if (rc == CLI_OK && !c->json) {
        const cJSON *t;
        if (c->quiet) {
            cJSON_ArrayForEach(t, tickets) printf("%s\n", hl_json_str(t, "no"));
        } else {
            static const char *const hdr[] = {"工单号", "登记",     "状态",   "分类", "主办单位",
                                              "来电",   "办结时限", "红黄牌", "内容"};
            cli_table *tb = cli_table_new(9, hdr);
            cli_table_cap(tb, 3, 16);
            cli_table_cap(tb, 4, 20);
            cli_table_cap(tb, 8, 30);
            cJSON_ArrayForEach(t, tickets) s_ticket_row(c, tb, t, 0);
            cli_table_total(c, &tb, "张工单", next);
        }
    }
    cJSON_Delete(tickets);
    cJSON_Delete(f);
    return rc;
}

int cmd_history(cli *c, int argc, char **argv)
{
    cli_args a;
    int rc = cli_args_parse(&a, "history", argc, argv, s_no_opts);
    if (rc) return rc;
    if (a.npos != 1) return cli_usage("history", "give one phone number: hotline history PHONE");
    cJSON *f = cJSON_CreateObject();
    cJSON_AddStringToObject(f, "phone", a.pos[0]);
    cJSON_AddNumberToObject(f, "limit", 1000);
    cJSON *tickets;
    char next[64];
    rc = s_list_pages(c, f, 1, &tickets, next, sizeof next);
    if (rc == CLI_OK && !c->json) {
        const cJSON *t;
        int open = 0, total = cJSON_GetArraySize(tickets);
        cJSON_ArrayForEach(t, tickets) open += s_open_status(hl_json_str(t, "status"));
        if (c->quiet) {
            cJSON_ArrayForEach(t, tickets) printf("%s\n", hl_json_str(t, "no"));
        } else if (!total) {
            printf("来电 %s 没有工单记录\n", a.pos[0]);
        } else {
            printf("来电 %s：共 %d 张工单，其中 %d 张未办结\n", a.pos[0], total, open);
            static const char *const hdr[] = {"工单号", "登记", "状态", "分类", "主办单位", "内容"};
            cli_table *tb = cli_table_new(6, hdr);
            cli_table_cap(tb, 4, 20);
            cli_table_cap(tb, 5, 40);
            cJSON_ArrayForEach(t, tickets) s_ticket_row(c, tb, t, 1);
            cli_table_print(&tb, stdout, c->color);
        }
    }
    cJSON_Delete(tickets);
    cJSON_Delete(f);
    return rc;
}

/* ---- changes ------------------------------------------------------------------- */

static cJSON *s_ticket_args(const char *no)
{
    cJSON *args = cJSON_CreateObject();
    cJSON_AddItemToObject(args, "ticket", cli_ticket_ref(no));
    return args;
}

int cmd_dispatch(cli *c, int argc, char **argv)
{
    static const cli_optspec opts[] = {{"co", 1}, {"note", 1}, {NULL, 0}};
    cli_args a;
    int rc = cli_args_parse(&a, "dispatch", argc, argv, opts);
    if (rc) return rc;
    if (a.npos != 2)
        return cli_usage("dispatch", "give the ticket and the unit: hotline dispatch NO UNIT "
                                     "[--co UNIT ...]");
    cJSON *args = s_ticket_args(a.pos[0]);
    cJSON_AddStringToObject(args, "unit", a.pos[1]);
    if (cli_has(&a, "co")) {
        cJSON *co = cJSON_AddArrayToObject(args, "co");
        const char *v;
        for (int i = 0; (v = cli_opt_nth(&a, "co", i)); i++) {
            char *copy = hl_strdup(v), *save = NULL;
            for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
                cJSON_AddItemToArray(co, cJSON_CreateString(tok));
            free(copy);
        }
    }
    if (cli_opt(&a, "note")) cJSON_AddStringToObject(args, "note", cli_opt(&a, "note"));
    return cli_change(c, "dispatch", args, "已派单");
}

int cmd_callback(cli *c, int argc, char **argv)
{
    static const cli_optspec opts[] = {{"note", 1}, {NULL, 0}};
    cli_args a;
    int rc = cli_args_parse(&a, "callback", argc, argv, opts);
    if (rc) return rc;
    if (a.npos != 2)
        return cli_usage("callback", "give the ticket and the result: hotline callback NO "
                                     "satisfied|basic|unsatisfied");
    const char *res = a.pos[1];
    /* the Chinese words work too */
    if (strcmp(res, "满意") == 0) res = "satisfied";
    if (strcmp(res, "基本满意") == 0) res = "basic";
    if (strcmp(res, "不满意") == 0) res = "unsatisfied";
    if (strcmp(res, "satisfied") != 0 && strcmp(res, "basic") != 0 &&
        strcmp(res, "unsatisfied") != 0)
        return cli_usage("callback",
                         "the result must be satisfied, basic or unsatisfied, not "
                         "\"%s\"",
                         a.pos[1]);
    cJSON *args = s_ticket_args(a.pos[0]);
    cJSON_AddStringToObject(args, "result", res);
    if (cli_opt(&a, "note")) cJSON_AddStringToObject(args, "note", cli_opt(&a, "note"));
    return cli_change(c, "callback", args,
                    strcmp(res, "unsatisfied") == 0 ? "回访不满意，已退回原主办单位重办"
                                                    : "已回访");
}

int cmd_merge(cli *c, int argc, char **argv)
{
    static const cli_optspec opts[] = {{"note", 1}, {NULL, 0}};
    cli_args a;
    int rc = cli_args_parse(&a, "merge", argc, argv, opts);
    if (rc) return rc;
    if (a.npos != 2)
        return cli_usage("merge", "give the ticket and the one it joins: hotline merge NO INTO");
    cJSON *args = s_ticket_args(a.pos[0]);
    cJSON_AddItemToObject(args, "into", cli_ticket_ref(a.pos[1]));
    if (cli_opt(&a, "note")) cJSON_AddStringToObject(args, "note", cli_opt(&a, "note"));
    char what[128];
    snprintf(what, sizeof what, "已并入 %s", a.pos[1]);
    return cli_change(c, "merge", args, what);
}

int cmd_cancel(cli *c, int argc, char **argv)
{
    cli_args a;
    int rc = cli_args_parse(&a, "cancel", argc, argv, s_no_opts);
    if (rc) return rc;
    if (a.npos < 2)
        return cli_usage("cancel", "give the ticket and a reason: hotline cancel NO "
                                   "REASON");
    cJSON *args = s_ticket_args(a.pos[0]);
    char *reason = s_join(&a, 1);
    cJSON_AddStringToObject(args, "reason", reason);
    free(reason);
    return cli_change(c, "cancel", args, "已撤销");
}

int cmd_note(cli *c, int argc, char **argv)
{
    cli_args a;
    int rc = cli_args_parse(&a, "note", argc, argv, s_no_opts);
    if (rc) return rc;
    if (a.npos < 2) return cli_usage("note", "give the ticket and the text: hotline note NO TEXT");
    cJSON *args = s_ticket_args(a.pos[0]);
    char *text = s_join(&a, 1);
    cJSON_AddStringToObject(args, "text", text);
    free(text);
    return cli_change(c, "note", args, "已添加备注");
}
