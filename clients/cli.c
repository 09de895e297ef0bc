/* cli.c — what every console command shares: argument parsing, the call
 * to the dispatcher with its exit statuses, unit and category names, local
 * times, and tables aligned by display width. No command logic here. */
#include "cli.h"
#include "hotline/timefmt.h"
#include "hotline/utf8.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- arguments ---------------------------------------------------------- */

int cli_usage(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (cmd)
        fprintf(stderr, "hotline %s: %s\n(run hotline --help for the commands and options)\n", cmd,
                msg);
    else
        fprintf(stderr, "hotline: %s\n(run hotline --help for the commands and options)\n", msg);
    return CLI_USAGE;
}

int cli_args_parse(cli_args *a, const char *cmd, int argc, char **argv, const cli_optspec *spec)
{
    memset(a, 0, sizeof *a);
    a->cmd = cmd;
    int ended = 0;
    for (int i = 1; i < argc; i++) {
        const char *w = argv[i];
        if (!ended && strcmp(w, "--") == 0) {
            ended = 1;
            continue;
        }
        if (ended || strncmp(w, "--", 2) != 0 || w[2] == '\0') {
            if (a->npos >= (int)HL_ARRAY_LEN(a->pos)) return cli_usage(cmd, "too many arguments");
            a->pos[a->npos++] = w;
            continue;
        }
        const char *name = w + 2;
        const char *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        const cli_optspec *s = spec;
        while (s && s->name && (strlen(s->name) != nlen || strncmp(s->name, name, nlen) != 0))
            s++;
        if (!s || !s->name) return cli_usage(cmd, "unknown option --%.*s", (int)nlen, name);
        const char *val = "";
        if (s->has_arg) {
            if (eq)
                val = eq + 1;
            else if (i + 1 < argc)
                val = argv[++i];
            else
                return cli_usage(cmd, "option --%s needs a value", s->name);
        } else if (eq) {
            return cli_usage(cmd, "option --%s takes no value", s->name);
        }
        if (a->nopt >= (int)HL_ARRAY_LEN(a->opt)) return cli_usage(cmd, "too many options");
        a->opt[a->nopt].name = s->name;
        a->opt[a->nopt].value = val;
        a->nopt++;
    }
    return CLI_OK;
}

const char *cli_opt(const cli_args *a, const char *name)
{
    const char *v = NULL;
    for (int i = 0; i < a->nopt; i++)
        if (strcmp(a->opt[i].name, name) == 0) v = a->opt[i].value;
    return v;
}

int cli_has(const cli_args *a, const char *name)
{
    return cli_opt(a, name) != NULL;
}

const char *cli_opt_nth(const cli_args *a, const char *name, int n)
{
    for (int i = 0; i < a->nopt; i++)
        if (strcmp(a->opt[i].name, name) == 0 && n-- == 0) return a->opt[i].value;
    return NULL;
}

int cli_int(const char *cmd, const char *what, const char *s, long long lo, long long hi,
            long long *out)
{
    char *end;
    errno = 0;
    long long v = s ? strtoll(s, &end, 10) : 0;
    if (!s || !*s || *end || errno || v < lo || v > hi)
        return cli_usage(cmd, "%s must be a whole number from %lld to %lld, not \"%s\"", what, lo,
                         hi, s ? s : "");
    *out = v;
    return CLI_OK;
}

cJSON *cli_ticket_ref(const char *s)
{
    int digits = *s != '\0';
    for (const char *p = s; *p; p++)
        if (!isdigit((unsigned char)*p)) digits = 0;
    if (digits && strlen(s) < 16) return cJSON_CreateNumber((double)strtoll(s, NULL, 10));
    return cJSON_CreateString(s);
}

/* ---- the session ---------------------------------------------------------- */

void cli_print_raw(cli *c)
{
    const char *raw = hl_client_raw(c->client);
    if (raw) printf("%s\n", raw);
}

int cli_call(cli *c, const char *op, cJSON *args, hl_reply *rep, int print_json)
{
    const hl_opspec *spec = hl_op_find(op);
    const char *idem = NULL;
    if (spec && spec->mutates && c->idem) {
        idem = c->idem;
        c->idem = NULL; /* the key names one state change */
    }
    if (hl_client_call(c->client, op, args, idem, rep) != 0) {
        const char *why = hl_client_error(c->client);
        if (why)
            fprintf(stderr, "hotline: no reply from the dispatcher: %s\n", why);
        else
            fprintf(stderr,
                    "hotline: dispatcher unreachable at %s after %d tries (%d ms each); "
                    "is hotline-dispatcher running there? (see --connect, HOTLINE_CONNECT)\n",
                    hl_client_endpoint(c->client), hl_client_tries(c->client), c->timeout_ms);
        return CLI_UNREACHABLE;
    }
    if (print_json && c->json) cli_print_raw(c);
    if (!rep->ok) {
        fprintf(stderr, "hotline: %s refused: %s: %s\n", op, rep->code,
                rep->message && *rep->message ? rep->message : hl_strerror(rep->err));
        hl_reply_free(rep);
        return CLI_REFUSED;
    }
    return CLI_OK;
}

/* ---- units ------------------------------------------------------------------- */

const char *cli_unit_name(cli *c, const char *id)
{
    if (!id) return NULL;
    if (!c->units && !c->units_tried) {
        c->units_tried = 1;
        hl_reply r;
        int json = c->json;
        c->json = 0;
        hl_client *cl = c->client;
        if (hl_client_call(cl, "units", NULL, NULL, &r) == 0) {
            if (r.ok) c->units = cJSON_DetachItemFromObject(r.root, "units");
            hl_reply_free(&r);
        }
        c->json = json;
    }
    const cJSON *u;
    cJSON_ArrayForEach(u, c->units)
    {
        if (hl_streq(hl_json_str(u, "id"), id)) return hl_json_str(u, "name");
    }
    return NULL;
}

const char *cli_unit_label(cli *c, const char *id)
{
    if (!id) return "-";
    const char *n = cli_unit_name(c, id);
    return n ? n : id;
}

/* ---- the catalogue --------------------------------------------------------------- */

static int s_readable(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int cli_catalog_load(cli *c)
{
    char found[PATH_MAX];
    const char *path = c->config_given ? c->config : NULL;
    if (!path) {
        /* the working directory (a checkout), then next to the binary: a
         * checkout's bin/ or an installed prefix's share/hotline */
        char exe[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        exe[n > 0 ? n : 0] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) *slash = '\0';
        const char *cands[] = {"config/zhucheng.json", "%s/../config/zhucheng.json",
                               "%s/../share/hotline/zhucheng.json"};
        for (size_t i = 0; i < HL_ARRAY_LEN(cands) && !path; i++) {
            if (strstr(cands[i], "%s") && !exe[0]) continue;
            snprintf(found, sizeof found, cands[i], exe);
            if (s_readable(found)) path = found;
        }
        if (!path) return CLI_OK;
    }
    char *err = NULL;
    size_t len;
    char *text = hl_read_file(path, &len, &err);
    if (!text) {
        int rc =
            c->config_given ? cli_usage(NULL, "cannot read the config %s: %s", path, err) : CLI_OK;
        free(err);
        return rc;
    }
    c->catalog = cJSON_ParseWithLength(text, len);
    free(text);
    if (!cJSON_IsObject(c->catalog)) {
        cJSON_Delete(c->catalog);
        c->catalog = NULL;
        if (c->config_given) return cli_usage(NULL, "the config %s is not a JSON object", path);
        return CLI_OK;
    }
    /* show times in the city's zone, as its operators read them */
    const char *tz = hl_json_str(c->catalog, "timezone");
    if (!tz) tz = "Asia/Shanghai";
    char zpath[PATH_MAX];
    snprintf(zpath, sizeof zpath, "/usr/share/zoneinfo/%s", tz);
    if (strcmp(tz, "UTC") == 0 || s_readable(zpath)) {
        setenv("TZ", tz, 1);
        tzset();
    }
    return CLI_OK;
}

const char *cli_category_name(cli *c, const char *code)
{
    const cJSON *k;
    cJSON_ArrayForEach(k, cJSON_GetObjectItemCaseSensitive(c->catalog, "categories"))
    {
        if (hl_streq(hl_json_str(k, "code"), code)) return hl_json_str(k, "name");
    }
    return NULL;
}

static int s_category_matches(const cJSON *k, const char *typed)
{
    const char *code = hl_json_str(k, "code"), *name = hl_json_str(k, "name");
    return (code && strcasestr(code, typed)) || (name && strstr(name, typed));
}

const char *cli_category_find(cli *c, const char *typed, int *nmatch)
{
    const cJSON *cats = cJSON_GetObjectItemCaseSensitive(c->catalog, "categories");
    const cJSON *k;
    *nmatch = 0;
    if (!typed || !*typed) return NULL;
    cJSON_ArrayForEach(k, cats)
    {
        if (hl_streq(hl_json_str(k, "code"), typed) || hl_streq(hl_json_str(k, "name"), typed)) {
            *nmatch = 1;
            return hl_json_str(k, "code");
        }
    }
    const char *only = NULL;
    cJSON_ArrayForEach(k, cats)
    {
        if (s_category_matches(k, typed)) {
            only = hl_json_str(k, "code");
            ++*nmatch;
        }
    }
    return *nmatch == 1 ? only : NULL;
}

void cli_category_list(cli *c, const char *typed, FILE *f)
{
    const cJSON *k;
    char pad[128];
    cJSON_ArrayForEach(k, cJSON_GetObjectItemCaseSensitive(c->catalog, "categories"))
    {
        if (typed && *typed && !s_category_matches(k, typed)) continue;
        const char *code = hl_json_str(k, "code");
        fprintf(f, "  %s  %s\n", hl_utf8_pad(code ? code : "?", 24, pad, sizeof pad),
                hl_json_str(k, "name") ? hl_json_str(k, "name") : "");
    }
}

/* ---- names ------------------------------------------------------------------------ */

typedef struct {
    const char *key, *zh;
} s_pair;

static const char *s_lookup(const s_pair *t, const char *key)
{
    if (!key) return "-";
    for (; t->key; t++)
        if (strcmp(t->key, key) == 0) return t->zh;
    return key;
}

const char *cli_status_zh(const char *status)
{
    static const s_pair t[] = {{"triage", "待派"},      {"dispatched", "已派单"},
                               {"accepted", "已签收"},  {"resolved", "已办结"},
                               {"closed", "已结案"},    {"merged", "已并单"},
                               {"cancelled", "已撤销"}, {NULL, NULL}};
    return s_lookup(t, status);
}

const char *cli_kind_zh(const char *kind)
{
    static const s_pair t[] = {{"created", "登记"},
                               {"dispatched", "派单"},
                               {"accepted", "签收"},
                               {"noted", "备注"},
                               {"resolved", "办结"},
                               {"reopened", "重办"},
                               {"returned", "退单"},
                               {"closed", "结案"},
                               {"merged", "并单"},
                               {"cancelled", "撤销"},
                               {"repeat", "重复来电"},
                               {"extension_requested", "延期申请"},
                               {"extension_decided", "延期审批"},
                               {"supervised", "督办"},
                               {"callback", "回访"},
                               {"yellow", "黄牌"},
                               {"red", "红牌"},
                               {NULL, NULL}};
    return s_lookup(t, kind);
}

const char *cli_level_zh(const char *level)
{
    static const s_pair t[] = {{"city", "市级"}, {"department", "部门"}, {"town", "镇街"},
                               {"grid", "网格"}, {"yellow", "黄牌"},     {"red", "红牌"},
                               {"sign", "签收"}, {"finish", "办结"},     {NULL, NULL}};
    return s_lookup(t, level);
}

const char *cli_result_zh(const char *result)
{
    static const s_pair t[] = {
        {"satisfied", "满意"}, {"basic", "基本满意"}, {"unsatisfied", "不满意"}, {NULL, NULL}};
    return s_lookup(t, result);
}

/* ---- times ---------------------------------------------------------------------------- */

char *cli_time(const char *rfc, int full, char *buf, size_t size)
{
    hl_ms t;
    if (!rfc || hl_time_parse(rfc, &t) != 0) {
        snprintf(buf, size, "-");
        return buf;
    }
    time_t secs = (time_t)(t / 1000);
    struct tm tm;
    localtime_r(&secs, &tm);
    strftime(buf, size, full ? "%Y-%m-%d %H:%M:%S" : "%m-%d %H:%M", &tm);
    return buf;
}

static void s_span(int64_t ms, char *buf, size_t size)
{
    int64_t s = ms / 1000;
    if (s >= 86400)
        snprintf(buf, size, "%lld 天 %lld 小时", (long long)(s / 86400),
                 (long long)(s % 86400 / 3600));
    else if (s >= 3600)
        snprintf(buf, size, "%lld 小时 %lld 分", (long long)(s / 3600), (long long)(s % 3600 / 60));
    else if (s >= 60)
        snprintf(buf, size, "%lld 分 %lld 秒", (long long)(s / 60), (long long)(s % 60));
    else
        snprintf(buf, size, "%lld 秒", (long long)s);
}

char *cli_time_left(const char *rfc, char *buf, size_t size)
{
    hl_ms t;
    buf[0] = '\0';
    if (!rfc || hl_time_parse(rfc, &t) != 0) return buf;
    int64_t d = t - hl_now();
    char span[64];
    s_span(d >= 0 ? d : -d, span, sizeof span);
    snprintf(buf, size, d >= 0 ? "（还有 %s）" : "（已超时 %s）", span);
    return buf;
}

int cli_time_arg(const char *s, char out[32])
{
    hl_ms t;
    if (hl_time_parse(s, &t) == 0) {
        hl_time_format(t, out);
        return 0;
    }
    struct tm tm = {0};
    int y, mo, d, h = 0, mi = 0, sec = 0;
    char tail;
    int n = sscanf(s, "%d-%d-%d %d:%d:%d%c", &y, &mo, &d, &h, &mi, &sec, &tail);
    if (n != 3 && n != 5 && n != 6) return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 ||
        sec > 60)
        return -1;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    tm.tm_isdst = -1;
    time_t secs = mktime(&tm);
    if (secs == (time_t)-1) return -1;
    hl_time_format((hl_ms)secs * 1000, out);
    return 0;
}

/* ---- tables ------------------------------------------------------------------------------ */

struct cli_table {
    int ncols;
    char **cells; /* rows × ncols; row 0 the headers */
    char **colors;
    int nrows, cap;
    int *caps;
    int *right;
    int indent;
};

static void s_table_grow(cli_table *t)
{
    if (t->nrows < t->cap) return;
    t->cap = t->cap ? t->cap * 2 : 16;
    t->cells = hl_realloc(t->cells, (size_t)t->cap * (size_t)t->ncols * sizeof(char *));
    t->colors = hl_realloc(t->colors, (size_t)t->cap * sizeof(char *));
}

cli_table *cli_table_new(int ncols, const char *const *headers)
{
    cli_table *t = hl_calloc(1, sizeof *t);
    t->ncols = ncols;
    t->caps = hl_calloc((size_t)ncols, sizeof(int));
    t->right = hl_calloc((size_t)ncols, sizeof(int));
    cli_table_row(t, headers);
    return t;
}

void cli_table_row(cli_table *t, const char *const *cells)
{
    s_table_grow(t);
    for (int i = 0; i < t->ncols; i++) {
        const char *s = cells[i] ? cells[i] : "";
        /* a cell is one line: newlines and tabs of free text become spaces */
        char *copy = hl_strdup(s);
        for (char *p = copy; *p; p++)
            if (*p == '\n' || *p == '\r' || *p == '\t') *p = ' ';
        t->cells[t->nrows * t->ncols + i] = copy;
    }
    t->colors[t->nrows] = NULL;
    t->nrows++;
}

void cli_table_color(cli_table *t, const char *sgr)
{
    if (t->nrows > 1) t->colors[t->nrows - 1] = (char *)sgr;
}

void cli_table_cap(cli_table *t, int col, int width)
{
    if (col >= 0 && col < t->ncols) t->caps[col] = width;
}

void cli_table_right(cli_table *t, int col)
{
    if (col >= 0 && col < t->ncols) t->right[col] = 1;
}

void cli_table_indent(cli_table *t, int n)
{
    t->indent = n;
}

int cli_table_rows(const cli_table *t)
{
    return t->nrows - 1;
}

void cli_table_free(cli_table **tp)
{
    cli_table *t = *tp;
    for (int i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    free(t->colors);
    free(t->caps);
    free(t->right);
    free(t);
    *tp = NULL;
}

void cli_table_print(cli_table **tp, FILE *f, int color)
{
    cli_table *t = *tp;
    int *w = hl_calloc((size_t)t->ncols, sizeof(int));
    for (int r = 0; r < t->nrows; r++)
        for (int i = 0; i < t->ncols; i++) {
            int cw = hl_utf8_width(t->cells[r * t->ncols + i]);
            if (t->caps[i] > 0 && cw > t->caps[i]) cw = t->caps[i];
            if (cw > w[i]) w[i] = cw;
        }
    hl_buf line;
    hl_buf_init(&line);
    for (int r = 0; r < t->nrows; r++) {
        hl_buf_reset(&line);
        for (int k = 0; k < t->indent; k++)
            hl_buf_addc(&line, ' ');
        for (int i = 0; i < t->ncols; i++) {
            const char *s = t->cells[r * t->ncols + i];
            char cell[1024];
            hl_utf8_pad(s, w[i], cell, sizeof cell);
            if (t->right[i]) {
                /* move the padding to the left */
                int cw = hl_utf8_width(s);
                if (cw <= w[i]) {
                    for (int k = cw; k < w[i]; k++)
                        hl_buf_addc(&line, ' ');
                    hl_buf_adds(&line, s);
                } else {
                    hl_buf_adds(&line, cell);
                }
            } else {
                hl_buf_adds(&line, cell);
            }
            if (i < t->ncols - 1) hl_buf_adds(&line, "  ");
        }
        while (line.len > 0 && line.data[line.len - 1] == ' ')
            line.data[--line.len] = '\0';
        if (color && t->colors[r])
            fprintf(f, "\033[%sm%s\033[0m\n", t->colors[r], line.data);
        else
            fprintf(f, "%s\n", line.data);
    }
    hl_buf_free(&line);
    free(w);
    cli_table_free(tp);
}

static void s_csv_cell(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

void cli_table_csv(cli_table **tp, FILE *f)
{
    cli_table *t = *tp;
    for (int r = 0; r < t->nrows; r++) {
        for (int i = 0; i < t->ncols; i++) {
            if (i) fputc(',', f);
            s_csv_cell(f, t->cells[r * t->ncols + i]);
        }
        fputc('\n', f);
    }
    cli_table_free(tp);
}

void cli_table_total(cli *c, cli_table **t, const char *what, const char *next)
{
    int rows = cli_table_rows(*t);
    if (rows)
        cli_table_print(t, stdout, c->color);
    else
        cli_table_free(t);
    printf("共 %d %s", rows, what);
    if (next[0]) printf("；还有更多：加 --after %s 看下一页，或用 --all 看全部", next);
    printf("\n");
}

/* ---- listings: filters and pages ------------------------------------------ */

int cli_filter_level(const cli_args *a, const char *cmd, const char *name, cJSON *f)
{
    const char *v = cli_opt(a, name);
    if (!v) return CLI_OK;
    if (strcmp(v, "yellow") != 0 && strcmp(v, "red") != 0)
        return cli_usage(cmd, "--%s must be yellow or red", name);
    cJSON_AddStringToObject(f, name, v);
    return CLI_OK;
}

int cli_filter_limit(const cli_args *a, const char *cmd, cJSON *f)
{
    const char *v = cli_opt(a, "limit");
    if (!v) return CLI_OK;
    long long n;
    int rc = cli_int(cmd, "--limit", v, 1, 1000, &n);
    if (rc) return rc;
    cJSON_AddNumberToObject(f, "limit", (double)n);
    return CLI_OK;
}

void cli_cursor_text(const cJSON *next, char *buf, size_t size)
{
    if (cJSON_IsNumber(next))
        snprintf(buf, size, "%.0f", next->valuedouble);
    else if (cJSON_IsString(next))
        snprintf(buf, size, "%s", next->valuestring);
    else
        buf[0] = '\0';
}

int cli_pages(cli *c, const char *op, cJSON *f, int all,
              void (*page)(cli *c, cJSON *reply, void *arg), void *arg, char *next,
              size_t size)
{
    next[0] = '\0';
    for (;;) {
        hl_reply r;
        int rc = cli_call(c, op, cJSON_Duplicate(f, 1), &r, 1);
        if (rc) return rc;
        page(c, r.root, arg);
        const cJSON *nx = cJSON_GetObjectItemCaseSensitive(r.root, "next");
        cli_cursor_text(nx, next, size);
        int more = next[0] != '\0';
        if (more && all) {
            cJSON_DeleteItemFromObject(f, "after");
            cJSON_AddItemToObject(f, "after", cJSON_Duplicate(nx, 1));
        }
        hl_reply_free(&r);
        if (!more || !all) return CLI_OK;
    }
}
