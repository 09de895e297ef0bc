/* console.c — the worker's console: reads commands from stdin (tty, pipe or
 * file) inside the loop, turns them into outbox actions or store queries, and
 * prints announcements and results on stdout, 40 columns wide, no escape
 * codes. Owns the stdin handle; talks to the dispatcher only through the agent. */
#include "console.h"

#include "hotline/proto.h"
#include "hotline/timefmt.h"
#include "hotline/utf8.h"
#include "hotline/util.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define CON_LINE_MAX 8192
#define CON_FLUSH_MS 10000

/* ---- parsing ------------------------------------------------------------------ */

static int s_is_space(const char *p, size_t *len)
{
    if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') {
        *len = 1;
        return 1;
    }
    if ((unsigned char)p[0] == 0xE3 && (unsigned char)p[1] == 0x80 && (unsigned char)p[2] == 0x80) {
        *len = 3; /* U+3000 IDEOGRAPHIC SPACE, as Chinese input methods type it */
        return 1;
    }
    return 0;
}

static const char *s_skip_space(const char *p)
{
    size_t n;
    while (*p && s_is_space(p, &n)) p += n;
    return p;
}

/* The next word (caller frees) or NULL at the end; advances *pp. */
static char *s_word(const char **pp)
{
    const char *p = s_skip_space(*pp);
    if (!*p) {
        *pp = p;
        return NULL;
    }
    const char *start = p;
    size_t n;
    while (*p && !s_is_space(p, &n)) p++;
    *pp = p;
    return hl_strndup(start, (size_t)(p - start));
}

/* The rest of the line, trimmed (caller frees), or NULL when empty. */
static char *s_rest(const char *p)
{
    p = s_skip_space(p);
    if (!*p) return NULL;
    size_t len = strlen(p);
    size_t n;
    while (len > 0) {
        const char *q = p + len - 1;
        if (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n') {
            len--;
        } else if (len >= 3 && s_is_space(p + len - 3, &n) && n == 3) {
            len -= 3;
        } else {
            break;
        }
    }
    return hl_strndup(p, len);
}

static const struct {
    const char *name;
    con_cmdkind kind;
} s_cmds[] = {
    {"list", CMD_LIST},     {"ls", CMD_LIST},       {"l", CMD_LIST},       {"列表", CMD_LIST},
    {"show", CMD_SHOW},     {"s", CMD_SHOW},        {"查看", CMD_SHOW},    {"sign", CMD_SIGN},
    {"签收", CMD_SIGN},     {"note", CMD_NOTE},     {"备注", CMD_NOTE},    {"finish", CMD_FINISH},
    {"办结", CMD_FINISH},   {"return", CMD_RETURN}, {"退单", CMD_RETURN},  {"extend", CMD_EXTEND},
    {"延期", CMD_EXTEND},   {"report", CMD_REPORT}, {"上报", CMD_REPORT},  {"sync", CMD_SYNC},
    {"同步", CMD_SYNC},     {"status", CMD_STATUS}, {"状态", CMD_STATUS},  {"help", CMD_HELP},
    {"h", CMD_HELP},        {"?", CMD_HELP},        {"帮助", CMD_HELP},    {"quit", CMD_QUIT},
    {"exit", CMD_QUIT},     {"q", CMD_QUIT},        {"退出", CMD_QUIT},
};

void con_cmd_free(con_cmd *cmd)
{
    free(cmd->ref);
    free(cmd->text);
    free(cmd->dur);
    free(cmd->category);
    free(cmd->cell);
    memset(cmd, 0, sizeof *cmd);
}

static int s_usage_err(char *err, size_t size, const char *what, const char *usage)
{
    snprintf(err, size, "%s; type: %s", what, usage);
    return -1;
}

int con_parse(const char *line, con_cmd *cmd, char *err, size_t errsize)
{
    memset(cmd, 0, sizeof *cmd);
    const char *p = line;
    char *word = s_word(&p);
    if (!word) return 0; /* CMD_NONE */
    for (char *q = word; *q; q++) *q = (char)tolower((unsigned char)*q);
    con_cmdkind kind = CMD_NONE;
    for (size_t i = 0; i < HL_ARRAY_LEN(s_cmds); i++)
        if (strcmp(word, s_cmds[i].name) == 0) kind = s_cmds[i].kind;
    if (kind == CMD_NONE) {
        char shown[40];
        hl_utf8_pad(word, 20, shown, sizeof shown);
        /* trim the padding */
        for (size_t n = strlen(shown); n > 0 && shown[n - 1] == ' '; n--) shown[n - 1] = '\0';
        snprintf(err, errsize, "unknown command \"%s\"; type help", shown);
        free(word);
        return -1;
    }
    free(word);
    cmd->kind = kind;
    int rc = 0;
    switch (kind) {
    case CMD_LIST: {
        char *arg = s_word(&p);
        if (arg && strcasecmp(arg, "all") != 0 && strcmp(arg, "全部") != 0)
            rc = s_usage_err(err, errsize, "list takes nothing or \"all\"", "list [all]");
        cmd->all = arg != NULL;
        free(arg);
        break;
    }
    case CMD_SHOW:
        cmd->ref = s_word(&p);
        if (!cmd->ref) rc = s_usage_err(err, errsize, "show needs a ticket", "show N");
        break;
    case CMD_SIGN:
        cmd->ref = s_word(&p);
        cmd->text = s_rest(p);
        if (!cmd->ref) rc = s_usage_err(err, errsize, "sign needs a ticket", "sign N [note]");
        break;
    case CMD_NOTE:
    case CMD_FINISH:
    case CMD_RETURN: {
        static const char *const what[][2] = {
            {"note needs a ticket and a text", "note N TEXT"},
            {"finish needs a ticket and the result", "finish N RESULT"},
            {"return needs a ticket and the reason", "return N REASON"},
        };
        int k = kind == CMD_NOTE ? 0 : kind == CMD_FINISH ? 1 : 2;
        cmd->ref = s_word(&p);
        cmd->text = s_rest(p);
        if (!cmd->ref || !cmd->text) rc = s_usage_err(err, errsize, what[k][0], what[k][1]);
        break;
    }
    case CMD_EXTEND: {
        cmd->ref = s_word(&p);
        cmd->dur = s_word(&p);
        cmd->text = s_rest(p);
        if (!cmd->ref || !cmd->dur || !cmd->text) {
            rc = s_usage_err(err, errsize, "extend needs a ticket, a duration and the reason",
                             "extend N 2wd REASON");
            break;
        }
        hl_duration d;
        hl_ms t;
        if (hl_duration_parse(cmd->dur, &d) != 0 && hl_time_parse(cmd->dur, &t) != 0)
            rc = s_usage_err(err, errsize,
                             "the extension must be a duration (4h, 2d, 3wd) or a time",
                             "extend N 3wd REASON");
        break;
    }
    case CMD_REPORT: {
        cmd->category = s_word(&p);
        if (!cmd->category) {
            cmd->prompt = 1;
            break;
        }
        cmd->cell = s_word(&p);
        cmd->text = s_rest(p);
        if (!cmd->cell || !cmd->text) {
            rc = s_usage_err(err, errsize, "report needs a category, a cell (- for none) and a "
                                           "description (or no arguments to be asked)",
                             "report env.litter C-A1 TEXT");
            break;
        }
        if (strcmp(cmd->cell, "-") == 0) {
            free(cmd->cell);
            cmd->cell = NULL;
        }
        break;
    }
    default: break;
    }
    if (rc != 0) con_cmd_free(cmd);
    return rc;
}

/* ---- rendering ------------------------------------------------------------------ */

const char *con_status_zh(const char *status)
{
    static const char *const map[][2] = {
        {"triage", "待派"},     {"dispatched", "待签收"}, {"accepted", "办理中"},
        {"resolved", "已办结"}, {"closed", "已关闭"},     {"merged", "已并单"},
        {"cancelled", "已撤销"},
    };
    for (size_t i = 0; status && i < HL_ARRAY_LEN(map); i++)
        if (strcmp(status, map[i][0]) == 0) return map[i][1];
    return status ? status : "?";
}

const char *con_urgency_zh(const char *urgency)
{
    if (hl_streq(urgency, "urgent")) return "紧急";
    if (hl_streq(urgency, "critical")) return "特急";
    return "普通";
}

char *con_short_time(const char *rfc3339, char *buf, size_t size)
{
    hl_ms t;
    if (!rfc3339 || hl_time_parse(rfc3339, &t) != 0) {
        snprintf(buf, size, "-");
        return buf;
    }
    time_t secs = (time_t)(t / 1000);
    struct tm tm;
    localtime_r(&secs, &tm);
    strftime(buf, size, "%m-%d %H:%M", &tm);
    return buf;
}

void con_wrap(hl_buf *b, const char *indent, const char *text, int width)
{
    int iw = hl_utf8_width(indent);
    int room = width - iw;
    if (room < 8) room = 8;
    const char *p = text ? text : "";
    int first = 1;
    while (*p || first) {
        first = 0;
        /* a newline in the text starts a new line */
        const char *nl = strchr(p, '\n');
        size_t seg_len = nl ? (size_t)(nl - p) : strlen(p);
        char *seg = hl_strndup(p, seg_len);
        size_t take = hl_utf8_fit(seg, room);
        if (take < seg_len) {
            /* do not cut an ASCII word if a space is near */
            size_t cut = take;
            while (cut > 0 && seg[cut] != ' ' && (unsigned char)seg[cut - 1] < 0x80 &&
                   seg[cut - 1] != ' ')
                cut--;
            if (cut > take / 2) take = cut;
            if (take == 0) { /* one character wider than the room: take it anyway */
                take = 1;
                while (take < seg_len && ((unsigned char)seg[take] & 0xC0) == 0x80) take++;
            }
        }
        hl_buf_adds(b, indent);
        size_t keep = take;
        while (keep > 0 && seg[keep - 1] == ' ') keep--;
        hl_buf_add(b, seg, keep);
        hl_buf_addc(b, '\n');
        free(seg);
        p += take;
        if (take >= seg_len && nl) p = nl + 1;
        while (*p == ' ') p++;
        if (!*p) break;
    }
}

static void s_pad(hl_buf *b, const char *s, int cols)
{
    char buf[512];
    hl_buf_adds(b, hl_utf8_pad(s ? s : "", cols, buf, sizeof buf));
}

void con_render_header(hl_buf *b)
{
    s_pad(b, "#", 5);
    s_pad(b, "工单号 no", 16);
    s_pad(b, "状态", 7);
    s_pad(b, "", 2);
    hl_buf_adds(b, "类别\n");
}

void con_render_row(hl_buf *b, const ws_ticket *t, int pending)
{
    char idx[24];
    snprintf(idx, sizeof idx, "[%lld]", (long long)t->idx);
    s_pad(b, idx, 5);
    s_pad(b, t->no, 15);
    hl_buf_addc(b, ' ');
    s_pad(b, con_status_zh(t->status), 6);
    hl_buf_adds(b, pending ? " * " : "   ");
    const char *cat = hl_json_str(t->json, "category_name");
    if (!cat) cat = hl_json_str(t->json, "category");
    char buf[128];
    hl_utf8_pad(cat ? cat : "", 10, buf, sizeof buf);
    /* no trailing blanks */
    for (size_t n = strlen(buf); n > 0 && buf[n - 1] == ' '; n--) buf[n - 1] = '\0';
    hl_buf_adds(b, buf);
    hl_buf_addc(b, '\n');
}

static void s_field(hl_buf *b, const char *label, const char *value, int width)
{
    if (!value || !*value) return;
    char *line = hl_sprintf("%s %s", label, value);
    /* first line carries the label; continuation lines are indented */
    int lw = hl_utf8_width(label) + 1;
    size_t take = hl_utf8_fit(line, width);
    if (take >= strlen(line)) {
        hl_buf_adds(b, line);
        hl_buf_addc(b, '\n');
    } else {
        hl_buf_add(b, line, take);
        hl_buf_addc(b, '\n');
        char indent[16];
        int n = lw < (int)sizeof indent - 1 ? lw : (int)sizeof indent - 1;
        if (n > 4) n = 4;
        memset(indent, ' ', (size_t)n);
        indent[n] = '\0';
        const char *rest = line + take;
        while (*rest == ' ') rest++;
        if (*rest) con_wrap(b, indent, rest, width);
    }
    free(line);
}

void con_render_ticket(hl_buf *b, int64_t idx, const cJSON *t, int width)
{
    char head[96], tbuf[32], v[512];
    const char *no = hl_json_str(t, "no");
    const char *status = hl_json_str(t, "status");
    if (idx > 0)
        snprintf(head, sizeof head, "[%lld] %s %s", (long long)idx, no ? no : "?",
                 con_status_zh(status));
    else
        snprintf(head, sizeof head, "%s %s", no ? no : "?", con_status_zh(status));
    hl_buf_adds(b, head);
    hl_buf_addc(b, '\n');
    const char *title = hl_json_str(t, "title");
    s_field(b, "标题", title, width);
    const char *catn = hl_json_str(t, "category_name"), *cat = hl_json_str(t, "category");
    snprintf(v, sizeof v, "%s · %s", catn ? catn : (cat ? cat : "?"),
             con_urgency_zh(hl_json_str(t, "urgency")));
    s_field(b, "类别", v, width);
    const char *lead = hl_json_str(t, "lead");
    const cJSON *co = cJSON_GetObjectItemCaseSensitive(t, "co");
    hl_buf cob;
    hl_buf_init(&cob);
    const cJSON *it;
    cJSON_ArrayForEach(it, co)
    {
        if (!cJSON_IsString(it)) continue;
        if (cob.len) hl_buf_adds(&cob, ", ");
        hl_buf_adds(&cob, it->valuestring);
    }
    s_field(b, "牵头", lead, width);
    s_field(b, "协办", cob.len ? cob.data : NULL, width);
    hl_buf_free(&cob);
    const cJSON *loc = cJSON_GetObjectItemCaseSensitive(t, "location");
    s_field(b, "网格", hl_json_str(loc, "cell"), width);
    s_field(b, "地址", hl_json_str(loc, "address"), width);
    const cJSON *caller = cJSON_GetObjectItemCaseSensitive(t, "caller");
    const char *cname = hl_json_str(caller, "name"), *phone = hl_json_str(caller, "phone");
    if (cname || phone) {
        snprintf(v, sizeof v, "%s%s%s", cname ? cname : "", cname && phone ? " " : "",
                 phone ? phone : "");
        s_field(b, "来电", v, width);
    }
    s_field(b, "签收时限", con_short_time(hl_json_str(t, "sign_due"), tbuf, sizeof tbuf), width);
    s_field(b, "办结时限", con_short_time(hl_json_str(t, "finish_due"), tbuf, sizeof tbuf),
            width);
    const cJSON *flags = cJSON_GetObjectItemCaseSensitive(t, "flags");
    int64_t yellow = 0, red = 0;
    hl_json_int(flags, "yellow", &yellow);
    hl_json_int(flags, "red", &red);
    if (yellow || red) {
        snprintf(v, sizeof v, "黄牌 %lld 红牌 %lld", (long long)yellow, (long long)red);
        s_field(b, "预警", v, width);
    }
    const cJSON *ext = cJSON_GetObjectItemCaseSensitive(t, "extension");
    if (cJSON_IsObject(ext)) {
        const char *st = hl_json_str(ext, "state");
        snprintf(v, sizeof v, "%s %s %s",
                 hl_streq(st, "approved") ? "已批准"
                 : hl_streq(st, "denied") ? "未批准"
                                           : "待审批",
                 con_short_time(hl_json_str(ext, "until"), tbuf, sizeof tbuf),
                 hl_json_str(ext, "reason") ? hl_json_str(ext, "reason") : "");
        s_field(b, "延期", v, width);
    }
    s_field(b, "描述", hl_json_str(t, "description"), width);
    s_field(b, "结果", hl_json_str(t, "result"), width);
    s_field(b, "退单理由", hl_json_str(t, "return_reason"), width);
}

static void s_feed_head(hl_buf *b, const char *label, const ws_ticket *t)
{
    hl_buf_printf(b, "%s [%lld] %s\n", label, (long long)t->idx, t->no);
}

static void s_feed_detail(hl_buf *b, const ws_ticket *t)
{
    char tbuf[32], tbuf2[32], line[256];
    const char *catn = hl_json_str(t->json, "category_name");
    if (!catn) catn = hl_json_str(t->json, "category");
    snprintf(line, sizeof line, "  %s · %s", catn ? catn : "?",
             con_urgency_zh(hl_json_str(t->json, "urgency")));
    char buf[256];
    hl_buf_adds(b, hl_utf8_pad(line, CON_WIDTH, buf, sizeof buf));
    /* trim the padding */
    while (b->len && b->data[b->len - 1] == ' ') b->data[--b->len] = '\0';
    hl_buf_addc(b, '\n');
    hl_buf_printf(b, "  签收 %s 办结 %s\n",
                  con_short_time(hl_json_str(t->json, "sign_due"), tbuf, sizeof tbuf),
                  con_short_time(hl_json_str(t->json, "finish_due"), tbuf2, sizeof tbuf2));
    const char *desc = hl_json_str(t->json, "title");
    if (!desc || !*desc) desc = hl_json_str(t->json, "description");
    if (desc) {
        /* one line of it: the rest is for show */
        char *flat = hl_strdup(desc);
        for (char *q = flat; *q; q++)
            if (*q == '\n' || *q == '\r' || *q == '\t') *q = ' ';
        hl_utf8_pad(flat, CON_WIDTH - 2, buf, sizeof buf);
        while (*buf && buf[strlen(buf) - 1] == ' ') buf[strlen(buf) - 1] = '\0';
        hl_buf_printf(b, "  %s\n", buf);
        free(flat);
    }
}

static int s_involves(const ws_ticket *t, const char *unit)
{
    if (!t || !t->id) return 0;
    if (strcmp(t->lead, unit) == 0) return 1;
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(t->json, "co"))
    {
        if (cJSON_IsString(it) && strcmp(it->valuestring, unit) == 0) return 1;
    }
    return 0;
}

void con_render_feed(hl_buf *b, const char *unit, const char *kind, const ws_ticket *now,
                     const ws_ticket *prev)
{
    int lead = strcmp(now->lead, unit) == 0;
    int open = strcmp(now->status, "dispatched") == 0 || strcmp(now->status, "accepted") == 0;
    /* a feed read late (after a restart) may bring an assignment whose
     * ticket has since been closed or moved on: nothing new to announce */
    if ((strcmp(kind, "assigned") == 0 || strcmp(kind, "reopened") == 0) && !open) return;
    if (strcmp(kind, "assigned") == 0) {
        s_feed_head(b, lead ? "新工单 new ticket" : "协办 co-handle", now);
        s_feed_detail(b, now);
    } else if (strcmp(kind, "reopened") == 0) {
        s_feed_head(b, "重办 reopened", now);
        s_feed_detail(b, now);
    } else if (strcmp(kind, "revoked") == 0) {
        /* after this worker's own return the store already shows it gone */
        if (!s_involves(prev, unit)) return;
        s_feed_head(b, "撤回 revoked", now);
        if (now->lead[0] && strcmp(now->status, "dispatched") == 0)
            hl_buf_printf(b, "  改派至 now led by %s\n", now->lead);
        else
            hl_buf_printf(b, "  %s (%s)\n", con_status_zh(now->status), now->status);
    } else {
        int status_changed = prev && prev->id && strcmp(prev->status, now->status) != 0;
        const cJSON *pe = prev && prev->json ? cJSON_GetObjectItem(prev->json, "extension") : NULL;
        const cJSON *ne = cJSON_GetObjectItem(now->json, "extension");
        const char *pes = hl_json_str(pe, "state"), *nes = hl_json_str(ne, "state");
        int ext_changed = nes && !hl_streq(pes, nes);
        int64_t ps = 0, ns = 0;
        if (prev && prev->json) hl_json_int(prev->json, "supervise_count", &ps);
        hl_json_int(now->json, "supervise_count", &ns);
        int supervised = ns > ps;
        if (!status_changed && !ext_changed && !supervised && prev && prev->id) return;
        s_feed_head(b, "更新 changed", now);
        if (status_changed)
            hl_buf_printf(b, "  %s → %s (%s)\n", con_status_zh(prev->status),
                          con_status_zh(now->status), now->status);
        if (ext_changed)
            hl_buf_printf(b, "  延期 extension %s\n",
                          hl_streq(nes, "approved") ? "已批准 approved"
                          : hl_streq(nes, "denied") ? "未批准 denied"
                                                    : "待审批 pending");
        if (supervised) hl_buf_printf(b, "  督办 supervised (%lld)\n", (long long)ns);
        if (!status_changed && !ext_changed && !supervised)
            hl_buf_printf(b, "  %s (%s)\n", con_status_zh(now->status), now->status);
    }
}

/* ---- the console at run time --------------------------------------------------------- */

struct console {
    uv_loop_t *loop;
    agent *agent;
    void (*on_exit)(int code, void *arg);
    void *arg;
    int tty; /* stdout is a terminal */
    int in_kind;
    union {
        uv_tty_t tty;
        uv_pipe_t pipe;
    } in;
    int in_open;  /* the stream handle is initialised */
    uv_fs_t fsreq;
    int fs_busy;
    char rbuf[16384];
    hl_buf line;
    int discard; /* skipping the rest of an over-long line */
    int report_step; /* 0 none, 1 category, 2 cell, 3 description */
    char *rep_category, *rep_cell;
    int sync_asked; /* the user asked for a sync: say when it is done */
    /* Until the first sync is done (or the first connection attempt has
     * failed) input waits, so that "sign 1" piped in at start-up finds
     * ticket 1 and a script's output does not depend on timing. */
    int ready;
    char **held;
    size_t nheld, capheld;
    int eof_held;
    int quitting, exited;
    uv_timer_t flush_timer;
    int handles; /* open handles to close before freeing */
    int destroyed;
};

static void s_out(console *c, const hl_buf *b)
{
    (void)c;
    if (!b->len) return;
    fwrite(b->data, 1, b->len, stdout);
    fflush(stdout);
}

static void s_outf(console *c, const char *fmt, ...) HL_PRINTF(2, 3);
static void s_outf(console *c, const char *fmt, ...)
{
    (void)c;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stdout, fmt, ap);
    va_end(ap);
    fflush(stdout);
}

static void s_error(console *c, const char *msg)
{
    hl_buf b;
    hl_buf_init(&b);
    char *line = hl_sprintf("错误 error: %s", msg);
    con_wrap(&b, "", line, CON_WIDTH);
    free(line);
    s_out(c, &b);
    hl_buf_free(&b);
}

static void s_prompt(console *c)
{
    if (!c->tty || c->quitting) return;
    switch (c->report_step) {
    case 1: s_outf(c, "类别 category? "); break;
    case 2: s_outf(c, "网格 cell (- none)? "); break;
    case 3: s_outf(c, "描述 description? "); break;
    default: s_outf(c, "> "); break;
    }
}

/* The display name of an action's ticket: its number when known. */
static void s_action_ref(console *c, const ws_action *a, char *buf, size_t size)
{
    ws_ticket t;
    if (a->ticket > 0 && wstore_ticket_get(agent_store(c->agent), a->ticket, &t) == 0) {
        snprintf(buf, size, "%s", t.no[0] ? t.no : a->ref);
        wstore_ticket_free(&t);
    } else {
        snprintf(buf, size, "%s", a->ref && *a->ref ? a->ref : "-");
    }
}

static const char *s_op_word(const char *op)
{
    return hl_streq(op, "create") ? "report" : op;
}

static void s_exit(console *c, int code)
{
    if (c->exited) return;
    c->exited = 1;
    uv_timer_stop(&c->flush_timer);
    size_t open = agent_open_actions(c->agent);
    if (open)
        s_outf(c, "再见 bye: %zu action(s) kept;\n  they are sent at the next start\n", open);
    else
        s_outf(c, "再见 bye\n");
    c->on_exit(code, c->arg);
}

static void s_check_flush(console *c)
{
    if (!c->quitting || c->exited) return;
    size_t open = agent_open_actions(c->agent);
    sess *s = agent_sess(c->agent);
    if (open == 0 || (!sess_is_up(s) && !sess_connecting(s))) s_exit(c, 0);
}

static void s_flush_timeout(uv_timer_t *t)
{
    console *c = t->data;
    s_outf(c, "等待超时 no answer within %d s\n", CON_FLUSH_MS / 1000);
    s_exit(c, 0);
}

static void s_stop_input(console *c);

void con_quit(console *c)
{
    if (c->quitting) return;
    c->quitting = 1;
    s_stop_input(c);
    size_t open = agent_open_actions(c->agent);
    sess *s = agent_sess(c->agent);
    if (open && (sess_is_up(s) || sess_connecting(s))) {
        s_outf(c, "发送中 sending %zu action(s)…\n", open);
        uv_timer_start(&c->flush_timer, s_flush_timeout, CON_FLUSH_MS, 0);
        return;
    }
    s_exit(c, 0);
}

/* ---- commands ------------------------------------------------------------------------------ */

typedef struct list_ctx {
    console *c;
    hl_buf b;
    int n;
    int counts[2];
} list_ctx;

static int s_list_row(const ws_ticket *t, void *arg)
{
    list_ctx *lc = arg;
    int pending = wstore_action_open_for(agent_store(lc->c->agent), t->id);
    con_render_row(&lc->b, t, pending);
    lc->n++;
    if (strcmp(t->status, "dispatched") == 0) lc->counts[0]++;
    if (strcmp(t->status, "accepted") == 0) lc->counts[1]++;
    return 0;
}

static void s_cmd_list(console *c, int all)
{
    list_ctx lc = {.c = c};
    hl_buf_init(&lc.b);
    con_render_header(&lc.b);
    wstore_ticket_each(agent_store(c->agent), !all, s_list_row, &lc);
    if (lc.n == 0) {
        hl_buf_reset(&lc.b);
        hl_buf_adds(&lc.b, all ? "没有工单 no tickets here yet\n" : "没有待办 no open tickets\n");
    } else if (all) {
        hl_buf_printf(&lc.b, "共 %d 件 total %d\n", lc.n, lc.n);
    } else {
        hl_buf_printf(&lc.b, "共 %d 件: 待签收 %d 办理中 %d\n", lc.n, lc.counts[0], lc.counts[1]);
    }
    if (lc.n) hl_buf_adds(&lc.b, "(* = action not yet confirmed)\n");
    s_out(c, &lc.b);
    hl_buf_free(&lc.b);
}

typedef struct pend_ctx {
    int64_t ticket;
    hl_buf *b;
    int n;
} pend_ctx;

static int s_pend_line(const ws_action *a, void *arg)
{
    pend_ctx *pc = arg;
    if (pc->ticket && a->ticket != pc->ticket) return 0;
    hl_buf_printf(pc->b, "  * %s %s\n", a->state == WS_SENT ? "sent" : "pending",
                  s_op_word(a->op));
    pc->n++;
    return 0;
}

static void s_show_json(console *c, int64_t idx, const cJSON *ticket)
{
    hl_buf b;
    hl_buf_init(&b);
    con_render_ticket(&b, idx, ticket, CON_WIDTH);
    int64_t id = 0;
    if (hl_json_int(ticket, "id", &id) == 0) {
        pend_ctx pc = {id, &b, 0};
        wstore_action_each(agent_store(c->agent), (1u << WS_PENDING) | (1u << WS_SENT),
                           s_pend_line, &pc);
    }
    s_out(c, &b);
    hl_buf_free(&b);
}

static void s_on_get(sess *s, const hl_reply *rep, void *arg, int64_t tag)
{
    (void)s;
    (void)tag;
    console *c = arg;
    if (!rep) {
        s_error(c, "the link went down; try show again later");
        return;
    }
    if (!rep->ok) {
        char *m = hl_sprintf("%s: %s", rep->code, rep->message);
        s_error(c, m);
        free(m);
        return;
    }
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(rep->root, "ticket");
    if (!cJSON_IsObject(t)) {
        s_error(c, "the dispatcher sent no ticket");
        return;
    }
    s_show_json(c, 0, t);
}

static int s_looks_like_no(const char *ref)
{
    return ref && strchr(ref, '-') != NULL;
}

/* The ticket argument for a request: the id when known, else what was typed
 * (a number as the id, a ticket number as a string). */
static void s_add_ticket_arg(cJSON *args, const char *ref, int64_t id)
{
    if (id > 0) {
        hl_json_add_int(args, "ticket", id);
    } else if (ref[0] == '#') {
        hl_json_add_int(args, "ticket", strtoll(ref + 1, NULL, 10));
    } else {
        cJSON_AddStringToObject(args, "ticket", ref);
    }
}

static void s_cmd_show(console *c, const char *ref)
{
    ws_ticket t;
    if (wstore_ticket_find(agent_store(c->agent), ref, &t) == 0) {
        s_show_json(c, t.idx, t.json);
        wstore_ticket_free(&t);
        return;
    }
    if (!agent_link_up(c->agent)) {
        char *m = hl_sprintf("no ticket %s here and the link is down; type list", ref);
        s_error(c, m);
        free(m);
        return;
    }
    cJSON *args = cJSON_CreateObject();
    if (ref[0] == '#' || !s_looks_like_no(ref))
        hl_json_add_int(args, "ticket", strtoll(ref[0] == '#' ? ref + 1 : ref, NULL, 10));
    else
        cJSON_AddStringToObject(args, "ticket", ref);
    if (agent_request(c->agent, "get", args, s_on_get, c) != 0)
        s_error(c, "the link is busy; try again");
}

static void s_queued(console *c, const char *op, const char *shown)
{
    if (agent_link_up(c->agent))
        s_outf(c, "已记录 queued: %s %s\n", op, shown);
    else
        s_outf(c, "已记录 queued: %s %s\n  (offline: sent when the link returns)\n", op, shown);
}

static void s_cmd_action(console *c, const con_cmd *cmd)
{
    static const char *const ops[] = {[CMD_SIGN] = "sign",     [CMD_NOTE] = "note",
                                      [CMD_FINISH] = "finish", [CMD_RETURN] = "return",
                                      [CMD_EXTEND] = "extend"};
    const char *op = ops[cmd->kind];
    ws_ticket t;
    int64_t id = 0;
    char shown[64];
    if (wstore_ticket_find(agent_store(c->agent), cmd->ref, &t) == 0) {
        id = t.id;
        snprintf(shown, sizeof shown, "%s", t.no);
        wstore_ticket_free(&t);
    } else if (s_looks_like_no(cmd->ref) || cmd->ref[0] == '#') {
        snprintf(shown, sizeof shown, "%s", cmd->ref);
    } else {
        char *m = hl_sprintf("no ticket %s here; type list for the numbers, or give the ticket "
                             "number (20261127-000003)",
                             cmd->ref);
        s_error(c, m);
        free(m);
        return;
    }
    cJSON *args = cJSON_CreateObject();
    s_add_ticket_arg(args, cmd->ref, id);
    switch (cmd->kind) {
    case CMD_SIGN:
        if (cmd->text) cJSON_AddStringToObject(args, "note", cmd->text);
        break;
    case CMD_NOTE: cJSON_AddStringToObject(args, "text", cmd->text); break;
    case CMD_FINISH: cJSON_AddStringToObject(args, "result", cmd->text); break;
    case CMD_RETURN: cJSON_AddStringToObject(args, "reason", cmd->text); break;
    case CMD_EXTEND: {
        hl_duration d;
        cJSON_AddStringToObject(args, hl_duration_parse(cmd->dur, &d) == 0 ? "by" : "until",
                                cmd->dur);
        cJSON_AddStringToObject(args, "reason", cmd->text);
        break;
    }
    default: break;
    }
    /* the request must pass the protocol's own checks, or it would be
     * refused later for a reason the user could fix now */
    const hl_opspec *spec = hl_op_find(op);
    char msg[256];
    if (spec && hl_args_check(args, spec->args, "", msg, sizeof msg) != HL_OK) {
        cJSON_Delete(args);
        s_error(c, msg);
        return;
    }
    agent_act(c->agent, op, id, shown, args);
    wstore_commit(agent_store(c->agent));
    s_queued(c, op, shown);
}

static void s_report(console *c, const char *category, const char *cell, const char *text)
{
    cJSON *args = cJSON_CreateObject();
    cJSON *t = cJSON_AddObjectToObject(args, "ticket");
    cJSON_AddStringToObject(t, "category", category);
    cJSON_AddStringToObject(t, "description", text);
    cJSON_AddStringToObject(t, "channel", "grid");
    if (cell) {
        cJSON *loc = cJSON_AddObjectToObject(t, "location");
        cJSON_AddStringToObject(loc, "cell", cell);
    }
    char msg[256];
    if (hl_args_check(args, hl_op_find("create")->args, "", msg, sizeof msg) != HL_OK) {
        cJSON_Delete(args);
        s_error(c, msg);
        return;
    }
    agent_act(c->agent, "create", 0, category, args);
    wstore_commit(agent_store(c->agent));
    s_queued(c, "report", category);
}

typedef struct status_ctx {
    console *c;
    hl_buf *b;
    int64_t total, skip;
} status_ctx;

static int s_status_action(const ws_action *a, void *arg)
{
    status_ctx *sc = arg;
    if (sc->skip > 0) {
        sc->skip--;
        return 0;
    }
    char ref[64];
    s_action_ref(sc->c, a, ref, sizeof ref);
    if (a->state == WS_REFUSED) {
        hl_buf_printf(sc->b, "  ! %s %s\n", s_op_word(a->op), ref);
        char *m = hl_sprintf("%s: %s", a->code ? a->code : "?", a->message ? a->message : "");
        con_wrap(sc->b, "    ", m, CON_WIDTH);
        free(m);
    } else {
        hl_buf_printf(sc->b, "  * %s %s %s\n", a->state == WS_SENT ? "sent" : "pending",
                      s_op_word(a->op), ref);
    }
    return 0;
}

static void s_cmd_status(console *c)
{
    wstore *st = agent_store(c->agent);
    sess *s = agent_sess(c->agent);
    hl_buf b;
    hl_buf_init(&b);
    hl_buf_printf(&b, "单位 unit: %s\n", agent_unit(c->agent));
    if (sess_is_up(s)) {
        hl_buf_printf(&b, "连接 link: up\n  %s\n", sess_endpoint(s));
    } else if (sess_connecting(s)) {
        hl_buf_printf(&b, "连接 link: down, connecting\n  %s\n", sess_endpoint(s));
    } else {
        int64_t wait = sess_next_attempt(s) - hl_mono_ms();
        hl_buf_printf(&b, "连接 link: down, retry in %lld s\n  %s\n",
                      (long long)(wait > 0 ? (wait + 999) / 1000 : 0), sess_endpoint(s));
    }
    int64_t last = wstore_last_sync(st);
    char tb[HL_TIME_LEN], sbuf[32];
    if (last > 0) {
        hl_time_format(last, tb);
        hl_buf_printf(&b, "同步 last sync: %s\n  (seq %lld)\n",
                      con_short_time(tb, sbuf, sizeof sbuf), (long long)wstore_cursor(st));
    } else {
        hl_buf_adds(&b, "同步 last sync: never\n");
    }
    int64_t pending = wstore_action_count(st, WS_PENDING) + wstore_action_count(st, WS_SENT);
    int64_t refused = wstore_action_count(st, WS_REFUSED);
    hl_buf_printf(&b, "待发送 pending: %lld\n", (long long)pending);
    status_ctx sc = {c, &b, pending, pending > 20 ? pending - 20 : 0};
    wstore_action_each(st, (1u << WS_PENDING) | (1u << WS_SENT), s_status_action, &sc);
    hl_buf_printf(&b, "被拒绝 refused: %lld\n", (long long)refused);
    status_ctx rc = {c, &b, refused, refused > 10 ? refused - 10 : 0};
    wstore_action_each(st, 1u << WS_REFUSED, s_status_action, &rc);
    s_out(c, &b);
    hl_buf_free(&b);
}

static void s_cmd_help(console *c)
{
    s_outf(c, "命令 commands; N = [index] from list,\n"
              "  a ticket number or #id:\n"
              "  list [all]        待办 open tickets\n"
              "  show N            详情 details\n"
              "  sign N [note]     签收 sign for it\n"
              "  note N TEXT       备注 progress note\n"
              "  finish N RESULT   办结 finish\n"
              "  return N REASON   退单 return it\n"
              "  extend N 3wd WHY  延期 ask more time\n"
              "  report CAT CELL TEXT\n"
              "                    上报 patrol find\n"
              "  sync              同步 fetch inbox\n"
              "  status            状态 link, actions\n"
              "  quit              退出\n");
}

static void s_cmd_sync(console *c)
{
    if (!agent_link_up(c->agent)) {
        s_outf(c, "连接断开 link down:\n  syncs when it returns; retrying now\n");
        sess_kick(agent_sess(c->agent));
        return;
    }
    c->sync_asked = 1;
    agent_sync(c->agent);
    s_outf(c, "同步中 syncing…\n");
}

static void s_report_prompt_line(console *c, const char *line)
{
    char *v = s_rest(line);
    if (!v) {
        free(c->rep_category);
        free(c->rep_cell);
        c->rep_category = c->rep_cell = NULL;
        c->report_step = 0;
        s_outf(c, "已取消 report cancelled\n");
        return;
    }
    if (c->report_step == 1) {
        c->rep_category = v;
        c->report_step = 2;
    } else if (c->report_step == 2) {
        if (strcmp(v, "-") == 0) {
            free(v);
            v = NULL;
        }
        c->rep_cell = v;
        c->report_step = 3;
    } else {
        s_report(c, c->rep_category, c->rep_cell, v);
        free(v);
        free(c->rep_category);
        free(c->rep_cell);
        c->rep_category = c->rep_cell = NULL;
        c->report_step = 0;
    }
}

static void s_line(console *c, const char *line)
{
    if (c->quitting) return;
    if (c->report_step) {
        s_report_prompt_line(c, line);
        s_prompt(c);
        return;
    }
    con_cmd cmd;
    char err[512];
    if (con_parse(line, &cmd, err, sizeof err) != 0) {
        s_error(c, err);
        s_prompt(c);
        return;
    }
    switch (cmd.kind) {
    case CMD_NONE: break;
    case CMD_LIST: s_cmd_list(c, cmd.all); break;
    case CMD_SHOW: s_cmd_show(c, cmd.ref); break;
    case CMD_SIGN:
    case CMD_NOTE:
    case CMD_FINISH:
    case CMD_RETURN:
    case CMD_EXTEND: s_cmd_action(c, &cmd); break;
    case CMD_REPORT:
        if (cmd.prompt) {
            c->report_step = 1;
            if (!c->tty)
                s_outf(c, "上报 report, one per line: category,\n  cell (- for none), "
                          "description\n");
        } else {
            s_report(c, cmd.category, cmd.cell, cmd.text);
        }
        break;
    case CMD_SYNC: s_cmd_sync(c); break;
    case CMD_STATUS: s_cmd_status(c); break;
    case CMD_HELP: s_cmd_help(c); break;
    case CMD_QUIT: con_cmd_free(&cmd); con_quit(c); return;
    }
    con_cmd_free(&cmd);
    s_prompt(c);
}

/* ---- stdin --------------------------------------------------------------------------------- */

static void s_hold(console *c, const char *line)
{
    if (c->nheld == c->capheld) {
        c->capheld = c->capheld ? c->capheld * 2 : 16;
        c->held = hl_realloc(c->held, c->capheld * sizeof *c->held);
    }
    c->held[c->nheld++] = hl_strdup(line);
}

static void s_feed(console *c, const char *data, size_t n)
{
    for (size_t i = 0; i < n && !c->quitting; i++) {
        char ch = data[i];
        if (ch == '\n') {
            if (c->discard) {
                c->discard = 0;
                s_error(c, "line too long (8 KiB at most); it was ignored");
            } else if (!c->ready) {
                s_hold(c, c->line.data ? c->line.data : "");
            } else {
                s_line(c, c->line.data ? c->line.data : "");
            }
            hl_buf_reset(&c->line);
            continue;
        }
        if (c->discard) continue;
        if (c->line.len >= CON_LINE_MAX) {
            c->discard = 1;
            hl_buf_reset(&c->line);
            continue;
        }
        hl_buf_addc(&c->line, ch);
    }
}

static void s_eof(console *c)
{
    if (!c->ready) {
        if (c->line.len && !c->discard) s_hold(c, c->line.data);
        hl_buf_reset(&c->line);
        c->eof_held = 1;
        return;
    }
    if (c->line.len && !c->discard && !c->quitting) s_line(c, c->line.data);
    hl_buf_reset(&c->line);
    con_quit(c);
}

/* The first sync is done, or the link is known to be down: run what was
 * typed meanwhile. */
static void s_set_ready(console *c)
{
    if (c->ready) return;
    c->ready = 1;
    /* detached first: a held "quit" may end the console while we run */
    char **held = c->held;
    size_t n = c->nheld;
    c->held = NULL;
    c->nheld = c->capheld = 0;
    for (size_t i = 0; i < n; i++) {
        if (!c->quitting) s_line(c, held[i]);
        free(held[i]);
    }
    free(held);
    if (c->eof_held && !c->quitting) con_quit(c);
}

static void s_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    console *c = h->data;
    buf->base = c->rbuf;
    buf->len = sizeof c->rbuf;
}

static void s_read_cb(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    console *c = st->data;
    if (n > 0) {
        s_feed(c, buf->base, (size_t)n);
    } else if (n < 0) {
        if (n != UV_EOF) hl_warn("reading stdin: %s", uv_strerror((int)n));
        uv_read_stop(st);
        s_eof(c);
    }
}

static void s_fs_read_cb(uv_fs_t *req);

static void s_fs_next(console *c)
{
    uv_buf_t b = uv_buf_init(c->rbuf, sizeof c->rbuf);
    if (uv_fs_read(c->loop, &c->fsreq, 0, &b, 1, -1, s_fs_read_cb) == 0) c->fs_busy = 1;
}

static void s_fs_read_cb(uv_fs_t *req)
{
    console *c = req->data;
    ssize_t n = req->result;
    uv_fs_req_cleanup(req);
    c->fs_busy = 0;
    if (c->destroyed) {
        if (--c->handles == 0) {
            hl_buf_free(&c->line);
            free(c);
        }
        return;
    }
    if (n > 0) {
        s_feed(c, c->rbuf, (size_t)n);
        if (!c->quitting) s_fs_next(c);
    } else {
        if (n < 0) hl_warn("reading stdin: %s", uv_strerror((int)n));
        s_eof(c);
    }
}

static void s_stop_input(console *c)
{
    if (c->in_open) uv_read_stop((uv_stream_t *)&c->in);
}

/* ---- agent hooks ----------------------------------------------------------------------------- */

static void s_on_ticket(agent *a, const char *kind, const ws_ticket *now, const ws_ticket *prev,
                        void *arg)
{
    (void)a;
    console *c = arg;
    hl_buf b;
    hl_buf_init(&b);
    con_render_feed(&b, agent_unit(c->agent), kind, now, prev);
    s_out(c, &b);
    hl_buf_free(&b);
}

static void s_on_action(agent *a, const ws_action *act, const cJSON *result, void *arg)
{
    (void)a;
    console *c = arg;
    char ref[64];
    s_action_ref(c, act, ref, sizeof ref);
    if (act->state == WS_DONE) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(result, "ticket");
        if (strcmp(act->op, "create") == 0) {
            const char *no = hl_json_str(t, "no");
            int rep = 0;
            hl_json_bool(result, "repeat", &rep);
            s_outf(c, "已完成 done: report → %s\n  %s%s\n", no ? no : "?",
                   con_status_zh(hl_json_str(t, "status")),
                   rep ? " (重复 repeat of an open ticket)" : "");
        } else {
            s_outf(c, "已完成 done: %s %s\n", act->op, ref);
        }
    } else {
        hl_buf b;
        hl_buf_init(&b);
        hl_buf_printf(&b, "被拒绝 refused: %s %s\n", s_op_word(act->op), ref);
        char *m = hl_sprintf("%s: %s", act->code ? act->code : "?",
                             act->message ? act->message : "");
        con_wrap(&b, "  ", m, CON_WIDTH);
        free(m);
        hl_buf_adds(&b, "  已保留 kept; see status\n");
        s_out(c, &b);
        hl_buf_free(&b);
    }
    s_check_flush(c);
}

static void s_on_link(agent *a, int up, const char *why, void *arg)
{
    (void)a;
    (void)why;
    console *c = arg;
    if (up) {
        size_t open = agent_open_actions(c->agent);
        if (open)
            s_outf(c, "已连接 link up; sending %zu action(s)\n", open);
        else
            s_outf(c, "已连接 link up\n");
    } else {
        s_outf(c, "连接断开 link down; will retry\n");
        s_set_ready(c);
    }
    s_check_flush(c);
}

static void s_on_synced(agent *a, int items, void *arg)
{
    (void)a;
    console *c = arg;
    int asked = c->sync_asked;
    c->sync_asked = 0;
    if (asked) s_outf(c, "已同步 synced: %d new item(s)\n", items);
    s_set_ready(c); /* may ask for another sync */
}

static void s_on_refused(agent *a, const char *code, const char *message, void *arg)
{
    console *c = arg;
    char *m = hl_sprintf("the dispatcher refused this worker of %s: %s: %s; check --unit",
                         agent_unit(a), code, message);
    s_error(c, m);
    free(m);
    c->ready = 1;
    if (!c->exited) {
        c->exited = 1;
        c->quitting = 1;
        s_stop_input(c);
        c->on_exit(1, c->arg);
    }
}

/* ---- life cycle -------------------------------------------------------------------------------- */

console *con_new(uv_loop_t *loop, agent *a, void (*on_exit)(int code, void *arg), void *arg)
{
    console *c = hl_calloc(1, sizeof *c);
    c->loop = loop;
    c->agent = a;
    c->on_exit = on_exit;
    c->arg = arg;
    c->tty = isatty(1);
    hl_buf_init(&c->line);
    uv_timer_init(loop, &c->flush_timer);
    c->flush_timer.data = c;
    c->handles = 1;
    static const agent_ui ui = {s_on_ticket, s_on_action, s_on_link, s_on_synced, s_on_refused};
    agent_set_ui(a, &ui, c);
    return c;
}

int con_start(console *c)
{
    uv_handle_type kind = uv_guess_handle(0);
    int rc = -1;
    if (kind == UV_TTY) {
        rc = uv_tty_init(c->loop, &c->in.tty, 0, 1);
    } else if (kind == UV_NAMED_PIPE) {
        rc = uv_pipe_init(c->loop, &c->in.pipe, 0);
        if (rc == 0) {
            c->in_open = 1;
            c->handles++;
            c->in.pipe.data = c;
            rc = uv_pipe_open(&c->in.pipe, 0);
            if (rc != 0) return -1;
            rc = uv_read_start((uv_stream_t *)&c->in, s_alloc_cb, s_read_cb);
            return rc == 0 ? 0 : -1;
        }
    }
    if (kind == UV_TTY && rc == 0) {
        c->in_kind = UV_TTY;
        c->in_open = 1;
        c->handles++;
        c->in.tty.data = c;
        rc = uv_read_start((uv_stream_t *)&c->in, s_alloc_cb, s_read_cb);
        if (rc == 0) s_prompt(c);
        return rc == 0 ? 0 : -1;
    }
    /* a file, /dev/null or anything else: read it through the thread pool */
    c->fsreq.data = c;
    s_fs_next(c);
    return c->fs_busy ? 0 : -1;
}

static void s_closed(uv_handle_t *h)
{
    console *c = h->data;
    if (--c->handles == 0) {
        hl_buf_free(&c->line);
        free(c);
    }
}

void con_destroy(console **cp)
{
    console *c = *cp;
    if (!c) return;
    *cp = NULL;
    c->destroyed = 1;
    agent_set_ui(c->agent, NULL, NULL);
    free(c->rep_category);
    free(c->rep_cell);
    c->rep_category = c->rep_cell = NULL;
    for (size_t i = 0; i < c->nheld; i++) free(c->held[i]);
    free(c->held);
    c->held = NULL;
    c->nheld = 0;
    if (c->in_open) {
        uv_read_stop((uv_stream_t *)&c->in);
        if (c->in_kind == UV_TTY) uv_tty_reset_mode();
        uv_close((uv_handle_t *)&c->in, s_closed);
    }
    if (c->fs_busy) {
        /* the read finishes (or is cancelled) and its callback frees */
        c->handles++;
        uv_cancel((uv_req_t *)&c->fsreq);
    }
    uv_close((uv_handle_t *)&c->flush_timer, s_closed);
}
