/* calls.c — logging a call: `hotline call` from flags or with prompts, and
 * `hotline categories`. Builds the create request and reports the outcome
 * (new ticket or repeat call) in the operator's words; routing is the
 * dispatcher's, never guessed here. */
#include "cli.h"
#include "hotline/utf8.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const cli_optspec s_call_opts[] = {
    {"category", 1}, {"desc", 1},    {"description", 1}, {"title", 1}, {"phone", 1},
    {"name", 1},     {"cell", 1},    {"lat", 1},         {"lon", 1},   {"address", 1},
    {"urgency", 1},  {"channel", 1}, {"interactive", 0}, {NULL, 0}};

typedef struct call_in {
    const char *category, *desc, *title, *phone, *name, *cell, *address, *urgency, *channel;
    int has_ll;
    double lat, lon;
} call_in;

static const char *s_nonempty(const char *s)
{
    return s && *s ? s : NULL;
}

static int s_one_of(const char *s, const char *const *values)
{
    for (; *values; values++)
        if (strcmp(s, *values) == 0) return 1;
    return 0;
}

static int s_number(const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || *end || errno || !isfinite(v) || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

/* ---- prompts ----------------------------------------------------------- */

typedef struct prompter {
    char *line;
    size_t cap;
    int eof;
} prompter;

/* Ask on stderr (stdout stays the ticket's), read one line from stdin,
 * trimmed. NULL at the end of input. */
static const char *s_ask(prompter *p, const char *question)
{
    if (p->eof) return NULL;
    fprintf(stderr, "%s", question);
    fflush(stderr);
    ssize_t n = getline(&p->line, &p->cap, stdin);
    if (n < 0) {
        p->eof = 1;
        fputc('\n', stderr);
        return NULL;
    }
    while (n > 0 && (p->line[n - 1] == '\n' || p->line[n - 1] == '\r' || p->line[n - 1] == ' ' ||
                     p->line[n - 1] == '\t'))
        p->line[--n] = '\0';
    char *s = p->line;
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

/* Fill what the flags left out by asking. Strings asked for are kept in
 * keep[] (the caller frees them). */
static int s_interactive(cli *c, call_in *in, char **keep, int *nkeep)
{
    prompter p = {0};
    int rc = CLI_OK;
    const char *s;
#define KEEP(x) (keep[(*nkeep)++] = hl_strdup(x))
    if (!c->catalog)
        fprintf(stderr, "（未找到城市配置，分类只能按代码输入；可用 --config 指定）\n");
    while (!in->category) {
        s = s_ask(&p, "分类（输入代码或中文名称的一部分，? 列出全部）: ");
        if (!s) {
            rc = cli_usage("call", "input ended before a category was chosen");
            goto out;
        }
        if (!*s) continue;
        if (strcmp(s, "?") == 0 || strcmp(s, "？") == 0) {
            cli_category_list(c, NULL, stderr);
            continue;
        }
        int n;
        const char *code = cli_category_find(c, s, &n);
        if (code) {
            const char *name = cli_category_name(c, code);
            fprintf(stderr, "  → %s %s\n", name ? name : "", code);
            in->category = KEEP(code);
        } else if (n > 1) {
            fprintf(stderr, "  “%s”对应 %d 个分类，请再具体一些：\n", s, n);
            cli_category_list(c, s, stderr);
        } else if (!c->catalog) {
            in->category = KEEP(s);
        } else {
            fprintf(stderr, "  没有与“%s”相符的分类（? 列出全部）\n", s);
        }
    }
    while (!in->desc) {
        s = s_ask(&p, "诉求内容: ");
        if (!s) {
            rc = cli_usage("call", "input ended before the description was given");
            goto out;
        }
        if (*s) in->desc = KEEP(s);
    }
    if (!in->title && (s = s_ask(&p, "标题（可空）: ")) && *s) in->title = KEEP(s);
    if (!in->phone && (s = s_ask(&p, "来电号码（可空）: ")) && *s) in->phone = KEEP(s);
    if (!in->name && (s = s_ask(&p, "来电人姓名（可空）: ")) && *s) in->name = KEEP(s);
    if (!in->cell && !in->has_ll && (s = s_ask(&p, "网格编号（可空）: ")) && *s) in->cell = KEEP(s);
    while (!in->cell && !in->has_ll && (s = s_ask(&p, "经纬度 纬度,经度（可空）: ")) && *s) {
        char *comma = strpbrk(s, ",， ");
        char lat[64] = "", lon[64] = "";
        if (comma) {
            snprintf(lat, sizeof lat, "%.*s", (int)(comma - s), s);
            const char *rest = comma + ((unsigned char)*comma >= 0x80 ? 3 : 1);
            while (*rest == ' ')
                rest++;
            snprintf(lon, sizeof lon, "%s", rest);
        }
        if (comma && s_number(lat, -90, 90, &in->lat) == 0 &&
            s_number(lon, -180, 180, &in->lon) == 0)
            in->has_ll = 1;
        else
            fprintf(stderr, "  请输入“纬度,经度”，例如 35.99,119.41\n");
    }
    if (!in->address && (s = s_ask(&p, "地址（可空）: ")) && *s) in->address = KEEP(s);
    while (!in->urgency) {
        s = s_ask(&p, "紧急程度 normal/urgent/critical（默认 normal）: ");
        if (!s || !*s) break;
        static const char *const urg[] = {"normal", "urgent", "critical", NULL};
        if (s_one_of(s, urg))
            in->urgency = KEEP(s);
        else
            fprintf(stderr, "  请输入 normal、urgent 或 critical\n");
    }
#undef KEEP
out:
    free(p.line);
    return rc;
}

/* ---- the outcome ------------------------------------------------------------- */

static void s_label(const char *label)
{
    char pad[64];
    printf("  %s  ", hl_utf8_pad(label, 8, pad, sizeof pad));
}

static void s_print_units(cli *c, const cJSON *arr)
{
    int n = 0;
    const cJSON *u;
    cJSON_ArrayForEach(u, arr)
    {
        if (!cJSON_IsString(u)) continue;
        printf("%s%s（%s）", n++ ? "、" : "", cli_unit_label(c, u->valuestring), u->valuestring);
    }
    if (!n) printf("无");
    printf("\n");
}

static void s_print_created(cli *c, const cJSON *t, int repeat)
{
    const char *no = hl_json_str(t, "no");
    const char *status = hl_json_str(t, "status");
    int64_t id = 0, repeats = 0;
    hl_json_int(t, "id", &id);
    hl_json_int(t, "repeat_calls", &repeats);
    if (repeat) {
        printf("重复来电：该来电人反映的同一问题已有未办结工单 %s（%s），未新建工单；"
               "已记录为该工单的第 %lld 次来电。\n",
               no ? no : "?", cli_status_zh(status), (long long)repeats + 1);
    } else {
        printf("工单 %s 已登记（id %lld），状态：%s\n", no ? no : "?", (long long)id,
               cli_status_zh(status));
    }
    const char *code = hl_json_str(t, "category");
    const char *cname = hl_json_str(t, "category_name");
    if (!cname) cname = cli_category_name(c, code);
    s_label("分类");
    printf("%s（%s）\n", cname ? cname : "", code ? code : "?");
    const char *lead = hl_json_str(t, "lead");
    s_label("主办单位");
    if (lead)
        printf("%s（%s）\n", cli_unit_label(c, lead), lead);
    else
        printf("待派：未能按规则确定主办单位，请派单：hotline dispatch %s 单位\n", no ? no : "NO");
    s_label("协办单位");
    s_print_units(c, cJSON_GetObjectItemCaseSensitive(t, "co"));
    const cJSON *loc = cJSON_GetObjectItemCaseSensitive(t, "location");
    const char *cell = hl_json_str(loc, "cell"), *town = hl_json_str(loc, "town");
    const char *addr = hl_json_str(loc, "address");
    s_label("位置");
    if (!cell && !town && !addr)
        printf("未提供\n");
    else
        printf("%s%s%s%s%s\n", town ? cli_unit_label(c, town) : "", town && cell ? " · 网格 " : "",
               cell ? cell : "", (town || cell) && addr ? " · " : "", addr ? addr : "");
    char b1[64], b2[96];
    const char *due = hl_json_str(t, "sign_due");
    if (due && hl_streq(status, "dispatched")) {
        s_label("签收时限");
        printf("%s%s\n", cli_time(due, 1, b1, sizeof b1), cli_time_left(due, b2, sizeof b2));
    }
    due = hl_json_str(t, "finish_due");
    if (due && (hl_streq(status, "dispatched") || hl_streq(status, "accepted"))) {
        s_label("办结时限");
        printf("%s%s\n", cli_time(due, 1, b1, sizeof b1), cli_time_left(due, b2, sizeof b2));
    }
}

int cmd_call(cli *c, int argc, char **argv)
{
    cli_args a;
    int rc = cli_args_parse(&a, "call", argc, argv, s_call_opts);
    if (rc) return rc;
    if (a.npos) return cli_usage("call", "unexpected argument \"%s\"", a.pos[0]);
    call_in in = {0};
    in.category = s_nonempty(cli_opt(&a, "category"));
    in.desc = s_nonempty(cli_opt(&a, "desc"));
    if (!in.desc) in.desc = s_nonempty(cli_opt(&a, "description"));
    in.title = s_nonempty(cli_opt(&a, "title"));
    in.phone = s_nonempty(cli_opt(&a, "phone"));
    in.name = s_nonempty(cli_opt(&a, "name"));
    in.cell = s_nonempty(cli_opt(&a, "cell"));
    in.address = s_nonempty(cli_opt(&a, "address"));
    in.urgency = s_nonempty(cli_opt(&a, "urgency"));
    in.channel = s_nonempty(cli_opt(&a, "channel"));
    const char *lat = cli_opt(&a, "lat"), *lon = cli_opt(&a, "lon");
    if (!lat != !lon) return cli_usage("call", "give both --lat and --lon, or neither");
    if (lat) {
        if (s_number(lat, -90, 90, &in.lat) != 0)
            return cli_usage("call", "--lat must be a latitude from -90 to 90, not \"%s\"", lat);
        if (s_number(lon, -180, 180, &in.lon) != 0)
            return cli_usage("call", "--lon must be a longitude from -180 to 180, not \"%s\"", lon);
        in.has_ll = 1;
    }
    static const char *const urg[] = {"normal", "urgent", "critical", NULL};
    static const char *const chan[] = {"phone", "web", "app", "grid", NULL};
    if (in.urgency && !s_one_of(in.urgency, urg))
        return cli_usage("call", "--urgency must be normal, urgent or critical");
    if (in.channel && !s_one_of(in.channel, chan))
        return cli_usage("call", "--channel must be phone, web, app or grid");

    char *keep[16];
    int nkeep = 0;
    /* the category as typed: a code, or part of a code or Chinese name */
    if (in.category) {
        int n;
        const char *code = cli_category_find(c, in.category, &n);
        if (code) {
            in.category = code;
        } else if (n > 1) {
            fprintf(stderr, "hotline call: \"%s\" matches %d categories; be more specific:\n",
                    in.category, n);
            cli_category_list(c, in.category, stderr);
            return CLI_USAGE;
        } else if (c->catalog && !strchr(in.category, '.')) {
            fprintf(stderr, "hotline call: no category matches \"%s\"; the categories are:\n",
                    in.category);
            cli_category_list(c, NULL, stderr);
            return CLI_USAGE;
        }
        /* otherwise a code the catalogue does not know: the dispatcher decides */
    }
    if (cli_has(&a, "interactive")) {
        rc = s_interactive(c, &in, keep, &nkeep);
        if (rc) goto out;
    } else if (!in.category || !in.desc) {
        rc = cli_usage("call", "--category and --desc are required (or use --interactive)");
        goto out;
    }
    if (hl_utf8_count(in.desc) > HL_DESCRIPTION_MAX) {
        rc = cli_usage("call", "the description has %zu characters; at most %d are allowed",
                       hl_utf8_count(in.desc), HL_DESCRIPTION_MAX);
        goto out;
    }

    cJSON *t = cJSON_CreateObject();
    cJSON_AddStringToObject(t, "category", in.category);
    cJSON_AddStringToObject(t, "description", in.desc);
    if (in.title) cJSON_AddStringToObject(t, "title", in.title);
    if (in.urgency) cJSON_AddStringToObject(t, "urgency", in.urgency);
    if (in.channel) cJSON_AddStringToObject(t, "channel", in.channel);
    if (in.phone || in.name) {
        cJSON *caller = cJSON_AddObjectToObject(t, "caller");
        if (in.name) cJSON_AddStringToObject(caller, "name", in.name);
        if (in.phone) cJSON_AddStringToObject(caller, "phone", in.phone);
    }
    if (in.cell || in.has_ll || in.address) {
        cJSON *loc = cJSON_AddObjectToObject(t, "location");
        if (in.cell) cJSON_AddStringToObject(loc, "cell", in.cell);
        if (in.has_ll) {
            cJSON_AddNumberToObject(loc, "lat", in.lat);
            cJSON_AddNumberToObject(loc, "lon", in.lon);
        }
        if (in.address) cJSON_AddStringToObject(loc, "address", in.address);
    }
    cJSON *args = cJSON_CreateObject();
    cJSON_AddItemToObject(args, "ticket", t);
    hl_reply r;
    rc = cli_call(c, "create", args, &r, 1);
    if (rc) goto out;
    const cJSON *ticket = cJSON_GetObjectItemCaseSensitive(r.root, "ticket");
    int repeat = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r.root, "repeat"));
    if (c->json) {
        /* printed as it came */
    } else if (c->quiet) {
        printf("%s\n", hl_json_str(ticket, "no") ? hl_json_str(ticket, "no") : "?");
    } else {
        s_print_created(c, ticket, repeat);
    }
    hl_reply_free(&r);
out:
    for (int i = 0; i < nkeep; i++)
        free(keep[i]);
    return rc;
}

int cmd_categories(cli *c, int argc, char **argv)
{
    cli_args a;
    int rc = cli_args_parse(&a, "categories", argc, argv, NULL);
    if (rc) return rc;
    if (!c->catalog)
        return cli_usage("categories", "no city config found; give one with --config FILE");
    const char *typed = a.npos ? a.pos[0] : NULL;
    const cJSON *cats = cJSON_GetObjectItemCaseSensitive(c->catalog, "categories");
    if (c->json) {
        char *text = cJSON_PrintUnformatted(cats);
        printf("%s\n", text ? text : "[]");
        free(text);
        return CLI_OK;
    }
    static const char *const hdr[] = {"代码", "名称", "办理方式", "主办部门"};
    cli_table *t = cli_table_new(4, hdr);
    const cJSON *k;
    cJSON_ArrayForEach(k, cats)
    {
        const char *code = hl_json_str(k, "code"), *name = hl_json_str(k, "name");
        if (typed && !((code && strcasestr(code, typed)) || (name && strstr(name, typed))))
            continue;
        const char *h = hl_json_str(k, "handling");
        const char *hz = hl_streq(h, "grid")          ? "网格"
                         : hl_streq(h, "territorial") ? "属地"
                         : hl_streq(h, "department")  ? "部门"
                                                      : (h ? h : "");
        const char *dept = hl_json_str(k, "department");
        const char *dname = NULL;
        const cJSON *u;
        cJSON_ArrayForEach(u, cJSON_GetObjectItemCaseSensitive(c->catalog, "units"))
        {
            if (dept && hl_streq(hl_json_str(u, "id"), dept)) dname = hl_json_str(u, "name");
        }
        const char *row[] = {code, name, hz, dname ? dname : dept};
        cli_table_row(t, row);
        if (c->quiet) printf("%s\n", code ? code : "");
    }
    int n = cli_table_rows(t);
    if (c->quiet)
        cli_table_free(&t);
    else
        cli_table_print(&t, stdout, c->color);
    if (!n) fprintf(stderr, "hotline categories: nothing matches \"%s\"\n", typed ? typed : "");
    return CLI_OK;
}
