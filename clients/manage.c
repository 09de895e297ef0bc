/* manage.c — the manager's commands (alerts, supervise, decide, stats) and
 * units. Presents what the dispatcher computed — flags, escalations, the
 * ranking of DESIGN §7 — and computes none of it itself. */
#include "cli.h"
#include "hotline/utf8.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static const cli_optspec s_no_opts[] = {{NULL, 0}};

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

/* ---- alerts ------------------------------------------------------------- */

static void s_alert_row(cli *c, cli_table *tb, const cJSON *al)
{
    char tm[64], due[64], tier[16] = "";
    const char *level = hl_json_str(al, "level");
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(al, "ticket");
    int64_t n;
    if (hl_json_int(al, "tier", &n) == 0) snprintf(tier, sizeof tier, "%lld", (long long)n);
    const char *code = hl_json_str(t, "category");
    const char *cname = cli_category_name(c, code);
    const char *esc = hl_json_str(al, "escalated_to");
    const char *row[] = {cli_time(hl_json_str(al, "time"), 0, tm, sizeof tm),
                         cli_level_zh(level),
                         cli_level_zh(hl_json_str(al, "stage")),
                         tier,
                         cli_unit_label(c, hl_json_str(al, "unit")),
                         esc ? cli_unit_label(c, esc) : "",
                         cli_time(hl_json_str(al, "due"), 0, due, sizeof due),
                         hl_json_str(t, "no"),
                         cname ? cname : code};
    cli_table_row(tb, row);
    if (hl_streq(level, "red")) cli_table_color(tb, "1;31");
    if (hl_streq(level, "yellow")) cli_table_color(tb, "33");
}

/* One page of alerts: the numbers with -q, else rows of the table. */
static void s_alerts_page(cli *c, cJSON *reply, void *tb)
{
    const cJSON *al;
    cJSON_ArrayForEach(al, cJSON_GetObjectItemCaseSensitive(reply, "alerts"))
    {
        if (c->quiet)
            printf("%s\n", hl_json_str(cJSON_GetObjectItemCaseSensitive(al, "ticket"), "no"));
        else if (!c->json)
            s_alert_row(c, tb, al);
    }
}

int cmd_alerts(cli *c, int argc, char **argv)
{
    static const cli_optspec opts[] = {{"unit", 1},  {"level", 1}, {"limit", 1},
                                       {"after", 1}, {"all", 0},   {NULL, 0}};
    cli_args a;
    int rc = cli_args_parse(&a, "alerts", argc, argv, opts);
    if (rc) return rc;
    if (a.npos) return cli_usage("alerts", "unexpected argument \"%s\"", a.pos[0]);
    cJSON *f = cJSON_CreateObject();
    const char *v;
    if ((v = cli_opt(&a, "unit"))) cJSON_AddStringToObject(f, "unit", v);
    if ((rc = cli_filter_level(&a, "alerts", "level", f)) ||
        (rc = cli_filter_limit(&a, "alerts", f))) {
        cJSON_Delete(f);
        return rc;
    }
    long long n;
    int all = cli_has(&a, "all");
    if ((v = cli_opt(&a, "after"))) {
        if (all || cli_int("alerts", "--after", v, 0, 9007199254740991LL, &n)) {
            cJSON_Delete(f);
            return all ? cli_usage("alerts", "give --after or --all, not both") : CLI_USAGE;
        }
        cJSON_AddNumberToObject(f, "after", (double)n);
    }
    static const char *const hdr[] = {"时间",   "牌",   "阶段",   "级",  "单位",
                                      "升级至", "时限", "工单号", "分类"};
    cli_table *tb = cli_table_new(9, hdr);
    cli_table_right(tb, 3);
    cli_table_cap(tb, 4, 20);
    cli_table_cap(tb, 5, 20);
    char next[64];
    rc = cli_pages(c, "alerts", f, all, s_alerts_page, tb, next, sizeof next);
    if (rc == CLI_OK && !c->json && !c->quiet) cli_table_total(c, &tb, "条预警", next);
    if (tb) cli_table_free(&tb);
    cJSON_Delete(f);
    return rc;
}

/* ---- supervise and decide --------------------------------------------------- */

int cmd_supervise(cli *c, int argc, char **argv)
{
    cli_args a;
    int rc = cli_args_parse(&a, "supervise", argc, argv, s_no_opts);
    if (rc) return rc;
    if (a.npos < 2)
        return cli_usage("supervise", "give the ticket and a note: hotline supervise NO NOTE");
    cJSON *args = cJSON_CreateObject();
    cJSON_AddItemToObject(args, "ticket", cli_ticket_ref(a.pos[0]));
    char *note = s_join(&a, 1);
    cJSON_AddStringToObject(args, "note", note);
    free(note);
    return cli_change(c, "supervise", args, "已督办");
}

int cmd_decide(cli *c, int argc, char **argv)
{
    static const cli_optspec opts[] = {{"note", 1}, {NULL, 0}};
    cli_args a;
    int rc = cli_args_parse(&a, "decide", argc, argv, opts);
    if (rc) return rc;
    if (a.npos != 2)
        return cli_usage("decide", "give the ticket and approve or deny: hotline decide NO "
                                   "approve|deny [--note TEXT]");
    int approve;
    if (strcmp(a.pos[1], "approve") == 0 || strcmp(a.pos[1], "批准") == 0)
        approve = 1;
    else if (strcmp(a.pos[1], "deny") == 0 || strcmp(a.pos[1], "不批准") == 0)
        approve = 0;
    else
        return cli_usage("decide", "the decision must be approve or deny, not \"%s\"", a.pos[1]);
    cJSON *args = cJSON_CreateObject();
    cJSON_AddItemToObject(args, "ticket", cli_ticket_ref(a.pos[0]));
    cJSON_AddBoolToObject(args, "approve", approve);
    if (cli_opt(&a, "note")) cJSON_AddStringToObject(args, "note", cli_opt(&a, "note"));
    return cli_change(c, "decide", args, approve ? "延期已批准" : "延期未批准");
}

/* ---- stats ------------------------------------------------------------------- */

static void s_int_cell(const cJSON *u, const char *key, char *buf, size_t size)
{
    int64_t v;
    if (hl_json_int(u, key, &v) == 0)
        snprintf(buf, size, "%lld", (long long)v);
    else
        snprintf(buf, size, "-");
}

static void s_rate_cell(const cJSON *u, const char *key, int csv, char *buf, size_t size)
{
    double v;
    if (hl_json_num(u, key, &v) != 0)
        snprintf(buf, size, csv ? "" : "-");
    else if (csv)
        snprintf(buf, size, "%.4f", v);
    else
        snprintf(buf, size, "%.1f%%", v * 100.0);
}

int cmd_stats(cli *c, int argc, char **argv)
{
    static const cli_optspec opts[] = {
        {"since", 1}, {"until", 1}, {"unit", 1}, {"csv", 0}, {NULL, 0}};
    cli_args a;
    int rc = cli_args_parse(&a, "stats", argc, argv, opts);
    if (rc) return rc;
    if (a.npos) return cli_usage("stats", "unexpected argument \"%s\"", a.pos[0]);
    cJSON *args = cJSON_CreateObject();
    static const char *const keys[] = {"since", "until"};
    for (int i = 0; i < 2; i++) {
        const char *v = cli_opt(&a, keys[i]);
        char t[32];
        if (!v) continue;
        if (cli_time_arg(v, t) != 0) {
            cJSON_Delete(args);
            return cli_usage("stats",
                             "--%s must be a date (2026-11-01), a local time (2026-11-01 08:00) "
                             "or an RFC 3339 time, not \"%s\"",
                             keys[i], v);
        }
        cJSON_AddStringToObject(args, keys[i], t);
    }
    if (cli_opt(&a, "unit")) cJSON_AddStringToObject(args, "unit", cli_opt(&a, "unit"));
    /* a year of a city's dispatches takes the dispatcher seconds to count */
    if (!c->timeout_given && c->timeout_ms < CLI_STATS_TIMEOUT_MS) {
        c->timeout_ms = CLI_STATS_TIMEOUT_MS;
        hl_client_set_timeout(c->client, c->timeout_ms, c->tries);
    }
    hl_reply r;
    rc = cli_call(c, "stats", args, &r, 1);
    if (rc) return rc;
    if (c->json) {
        hl_reply_free(&r);
        return CLI_OK;
    }
    int csv = cli_has(&a, "csv");
    static const char *const zh[] = {"排名", "单位", "派单",   "按时签收", "按时办结", "超期",
                                     "退单", "重办", "回访",   "满意",     "基本满意", "不满意",
                                     "黄牌", "红牌", "签收率", "办结率",   "满意率",   "得分"};
    static const char *const en[] = {
        "rank",        "unit",     "name",     "assigned",  "signed_on_time", "finished_on_time",
        "overdue",     "returned", "reopened", "callbacks", "satisfied",      "basic",
        "unsatisfied", "yellow",   "red",      "sign_rate", "finish_rate",    "satisfaction",
        "score"};
    static const char *const counts[] = {"assigned",    "signed_on_time", "finished_on_time",
                                         "overdue",     "returned",       "reopened",
                                         "callbacks",   "satisfied",      "basic",
                                         "unsatisfied", "yellow",         "red"};
    int ncols = csv ? 19 : 18;
    cli_table *tb = cli_table_new(ncols, csv ? en : zh);
    if (!csv) {
        cli_table_cap(tb, 1, 24);
        for (int i = 0; i < ncols; i++)
            if (i != 1) cli_table_right(tb, i);
    }
    const cJSON *u;
    cJSON_ArrayForEach(u, cJSON_GetObjectItemCaseSensitive(r.root, "units"))
    {
        char cells[19][48];
        const char *row[19];
        int k = 0;
        s_int_cell(u, "rank", cells[k], sizeof cells[k]);
        row[k] = cells[k];
        k++;
        const char *id = hl_json_str(u, "unit");
        const char *name = hl_json_str(u, "name");
        if (csv) {
            row[k++] = id;
            row[k++] = name ? name : cli_unit_name(c, id);
        } else {
            row[k++] = name ? name : cli_unit_label(c, id);
        }
        for (size_t i = 0; i < HL_ARRAY_LEN(counts); i++, k++) {
            s_int_cell(u, counts[i], cells[k], sizeof cells[k]);
            row[k] = cells[k];
        }
        static const char *const rates[] = {"sign_rate", "finish_rate", "satisfaction"};
        for (int i = 0; i < 3; i++, k++) {
            s_rate_cell(u, rates[i], csv, cells[k], sizeof cells[k]);
            row[k] = cells[k];
        }
        double score;
        if (hl_json_num(u, "score", &score) == 0)
            snprintf(cells[k], sizeof cells[k], csv ? "%.2f" : "%.1f", score);
        else
            snprintf(cells[k], sizeof cells[k], csv ? "" : "-");
        row[k] = cells[k];
        cli_table_row(tb, row);
    }
    if (csv) {
        cli_table_csv(&tb, stdout);
    } else {
        char s1[64], s2[64];
        const char *since = hl_json_str(r.root, "since"), *until = hl_json_str(r.root, "until");
        printf("考核排名（按派单时间 %s 至 %s）\n",
               since ? cli_time(since, 1, s1, sizeof s1) : "最早",
               until ? cli_time(until, 1, s2, sizeof s2) : "现在");
        int rows = cli_table_rows(tb);
        if (rows)
            cli_table_print(&tb, stdout, c->color);
        else {
            cli_table_free(&tb);
            printf("这段时间没有派单\n");
        }
    }
    hl_reply_free(&r);
    return CLI_OK;
}

/* ---- units --------------------------------------------------------------------- */

int cmd_units(cli *c, int argc, char **argv)
{
    static const cli_optspec opts[] = {{"online", 0}, {"level", 1}, {NULL, 0}};
    cli_args a;
    int rc = cli_args_parse(&a, "units", argc, argv, opts);
    if (rc) return rc;
    if (a.npos) return cli_usage("units", "unexpected argument \"%s\"", a.pos[0]);
    const char *level = cli_opt(&a, "level");
    if (level && strcmp(level, "city") != 0 && strcmp(level, "department") != 0 &&
        strcmp(level, "town") != 0 && strcmp(level, "grid") != 0)
        return cli_usage("units", "--level must be city, department, town or grid");
    hl_reply r;
    rc = cli_call(c, "units", NULL, &r, 1);
    if (rc) return rc;
    if (c->json) {
        hl_reply_free(&r);
        return CLI_OK;
    }
    static const char *const hdr[] = {"单位", "名称", "级别", "在线", "终端", "最后在线"};
    cli_table *tb = cli_table_new(6, hdr);
    cli_table_right(tb, 4);
    int online_n = 0, total = 0;
    const cJSON *u;
    cJSON_ArrayForEach(u, cJSON_GetObjectItemCaseSensitive(r.root, "units"))
    {
        int online = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(u, "online"));
        if (cli_has(&a, "online") && !online) continue;
        if (level && !hl_streq(hl_json_str(u, "level"), level)) continue;
        total++;
        online_n += online;
        char workers[16], seen[64];
        int64_t w;
        if (hl_json_int(u, "workers", &w) == 0)
            snprintf(workers, sizeof workers, "%lld", (long long)w);
        else
            snprintf(workers, sizeof workers, "-");
        cli_time(hl_json_str(u, "last_seen"), 1, seen, sizeof seen);
        if (c->quiet) {
            printf("%s\n", hl_json_str(u, "id"));
            continue;
        }
        const char *row[] = {hl_json_str(u, "id"),
                             hl_json_str(u, "name"),
                             cli_level_zh(hl_json_str(u, "level")),
                             online ? "在线" : "离线",
                             workers,
                             seen};
        cli_table_row(tb, row);
        if (online) cli_table_color(tb, "32");
    }
    if (c->quiet) {
        cli_table_free(&tb);
    } else {
        cli_table_print(&tb, stdout, c->color);
        printf("共 %d 个单位，%d 个在线\n", total, online_n);
    }
    hl_reply_free(&r);
    return CLI_OK;
}
