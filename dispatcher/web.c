/* web.c — the dispatcher's HTTP front end: the listener, bearer tokens,
 * the batches that carry HTTP requests through core (answered after their
 * commit), the managers' dashboard (embedded page, JSON API) and its live
 * event stream. Must not speak SQL nor change tickets except through core. */
#include "web.h"

#include "open311.h"

#include "hotline/proto.h"
#include "hotline/timefmt.h"
#include "hotline/utf8.h"
#include "hotline/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "web_assets.h" /* generated from dispatcher/web/ by protocol/embed.sh */

#define WEB_PING_MS 15000
#define WEB_MAX_STREAMS 64
#define WEB_TOKEN_MIN 20
#define WEB_TOKENS_FILE "tokens.json"

typedef struct call {
    web *w;
    web_who who;
    char **frames; /* hello, then the ops */
    size_t nframes;
    web_done_fn done;
    void *arg;
    core_reply *reps; /* after the batch: one per frame */
    int jobs;         /* replies still being read off the loop */
    struct call *next;
} call;

typedef struct token {
    char *token;
    web_who who;
} token;

typedef struct stream_ref {
    hl_http_stream *s;
    uint64_t serial; /* names it to a catch-up that may outlive it */
    int catching_up; /* live events wait in held until the missed ones are sent */
    char **held;
    int nheld;
    int64_t *held_seq;
    char *token; /* secure mode: the bearer token it was opened with */
    struct stream_ref *next;
} stream_ref;

struct web {
    uv_loop_t *loop;
    const hl_config *cfg;
    server *sv;
    hl_http *http;
    open311 *o311;
    uv_idle_t idle;
    uv_timer_t ping;
    uv_signal_t sigterm, sigint, sighup;
    call *head, *tail;
    token *tokens;
    int ntokens;
    stream_ref *streams;
    int nstreams;
    uint64_t serials;
    int secure;
    int stopped;
    int waiting;       /* calls whose answers are being read off the loop */
    char *tokens_path; /* secure mode */
};

/* ---- batches through core ------------------------------------------------------ */

static void s_on_idle(uv_idle_t *h);

static char *s_frame(const char *id, const char *op, cJSON *args)
{
    return hl_request_build(id, op, args ? args : cJSON_CreateObject());
}

void web_call(web *w, const web_who *who, web_op *ops, size_t n, web_done_fn done, void *arg)
{
    call *c = hl_calloc(1, sizeof *c);
    c->w = w;
    c->who = *who;
    c->nframes = n + 1;
    c->frames = hl_calloc(n + 1, sizeof *c->frames);
    cJSON *hello = cJSON_CreateObject();
    cJSON_AddStringToObject(hello, "role", hl_role_name(who->role));
    if (who->unit >= 0) cJSON_AddStringToObject(hello, "unit", w->cfg->units[who->unit].id);
    cJSON_AddStringToObject(hello, "client", who->client);
    c->frames[0] = s_frame("hello", "hello", hello);
    for (size_t i = 0; i < n; i++) {
        char id[24];
        snprintf(id, sizeof id, "r%zu", i);
        c->frames[i + 1] = s_frame(id, ops[i].op, ops[i].args);
    }
    c->done = done;
    c->arg = arg;
    if (w->tail)
        w->tail->next = c;
    else
        w->head = c;
    w->tail = c;
    if (!w->stopped) uv_idle_start(&w->idle, s_on_idle);
}

static void s_call_free(call *c)
{
    for (size_t i = 0; i < c->nframes; i++)
        free(c->frames[i]);
    free(c->frames);
    free(c);
}

/* Every reply of the call is in: hand them to its done. */
static void s_call_finish(call *c)
{
    size_t n = c->nframes - 1;
    cJSON **replies = hl_calloc(n ? n : 1, sizeof *replies);
    cJSON *hello = cJSON_Parse(c->reps[0].text);
    int hello_ok = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(hello, "ok"));
    for (size_t i = 0; i < n; i++) {
        /* a refused hello answers for every op of the call */
        const char *text = hello_ok ? c->reps[1 + i].text : c->reps[0].text;
        replies[i] = cJSON_Parse(text ? text : "");
        if (!replies[i]) {
            char *e = hl_reply_error(NULL, HL_E_INTERNAL, "unreadable reply");
            replies[i] = cJSON_Parse(e);
            free(e);
        }
    }
    cJSON_Delete(hello);
    for (size_t i = 0; i < c->nframes; i++)
        core_reply_free(&c->reps[i]);
    free(c->reps);
    c->reps = NULL;
    c->done(replies, n, c->arg);
    s_call_free(c);
}

static void s_close_http(web *w);

typedef struct call_job {
    call *c;
    size_t i; /* which reply */
} call_job;

static void s_call_job_done(char *text, void *arg)
{
    call_job *cj = arg;
    call *c = cj->c;
    c->reps[cj->i].text = text;
    free(cj);
    if (--c->jobs > 0) return;
    web *w = c->w;
    s_call_finish(c);
    /* a stop waits for these answers before it closes the listener */
    if (--w->waiting == 0 && w->stopped) s_close_http(w);
}

/* Run every queued call in one batch: one commit, then the answers. */
static void s_run_batch(web *w)
{
    call *list = w->head;
    w->head = w->tail = NULL;
    uv_idle_stop(&w->idle);
    if (!list) return;
    core *cr = server_core(w->sv);
    core_outq *out = server_outq(w->sv);
    int began = core_begin(cr) == 0;
    char errmsg[800];
    if (!began)
        snprintf(errmsg, sizeof errmsg, "the database is unavailable: %s; nothing was applied",
                 core_errmsg(cr));
    size_t total = 0;
    for (call *c = list; c; c = c->next)
        total += c->nframes;
    core_reply *reps = hl_calloc(total ? total : 1, sizeof *reps);
    size_t k = 0;
    for (call *c = list; c; c = c->next) {
        /* the session: a peer key no ZeroMQ routing id can have */
        char peer[64];
        size_t plen = (size_t)snprintf(peer, sizeof peer, "%cweb%c%s", 0, 0, c->who.key);
        core_principal who = {c->who.key, c->who.role, c->who.unit, c->who.client};
        for (size_t i = 0; i < c->nframes; i++, k++) {
            if (!began) {
                reps[k].text = hl_reply_error(NULL, HL_E_INTERNAL, errmsg);
                continue;
            }
            core_handle_as(cr, peer, plen, &who, c->frames[i], strlen(c->frames[i]), &reps[k], out);
        }
    }
    if (began && core_commit(cr) != 0) {
        hl_error("commit failed: %s", core_errmsg(cr));
        snprintf(errmsg, sizeof errmsg,
                 "the database could not save the change: %s; nothing was applied",
                 core_errmsg(cr));
        for (size_t i = 0; i < total; i++) {
            if (!reps[i].changed) continue;
            free(reps[i].text);
            reps[i].text = hl_reply_error(reps[i].re, HL_E_INTERNAL, errmsg);
        }
        core_outq_truncate(out, 0);
    }
    server_flush(w->sv);
    k = 0;
    while (list) {
        call *c = list;
        list = c->next;
        c->reps = hl_calloc(c->nframes, sizeof *c->reps);
        memcpy(c->reps, reps + k, c->nframes * sizeof *c->reps);
        k += c->nframes;
        /* a read left to another thread (stats) answers later */
        for (size_t i = 0; i < c->nframes; i++)
            c->jobs += c->reps[i].job != NULL;
        if (!c->jobs) {
            s_call_finish(c);
            continue;
        }
        w->waiting++;
        for (size_t i = 0; i < c->nframes; i++) {
            if (!c->reps[i].job) continue;
            call_job *cj = hl_malloc(sizeof *cj);
            cj->c = c;
            cj->i = i;
            core_job *j = c->reps[i].job;
            c->reps[i].job = NULL;
            server_run_job(w->sv, j, s_call_job_done, cj);
        }
    }
    free(reps);
}

static void s_on_idle(uv_idle_t *h)
{
    s_run_batch(h->data);
}

/* ---- replies and answers ---------------------------------------------------------- */

const char *web_reply_message(const cJSON *reply)
{
    const char *m = hl_json_str(cJSON_GetObjectItemCaseSensitive(reply, "error"), "message");
    return m ? m : "the dispatcher did not answer";
}

int web_reply_status(const cJSON *reply)
{
    const char *code = hl_json_str(cJSON_GetObjectItemCaseSensitive(reply, "error"), "code");
    switch (hl_err_from_code(code ? code : "")) {
    case HL_E_FORBIDDEN:
        return 403;
    case HL_E_NOT_FOUND:
        return 404;
    case HL_E_CONFLICT:
        return 409;
    case HL_E_TOO_LARGE:
        return 413;
    case HL_E_INTERNAL:
    case HL_E__COUNT:
        return 500;
    default:
        return 400;
    }
}

static int s_ok(const cJSON *reply)
{
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(reply, "ok"));
}

/* Answer with a failed reply's error. */
static int s_reply_error(hl_http_req *r, const cJSON *reply)
{
    const char *code = hl_json_str(cJSON_GetObjectItemCaseSensitive(reply, "error"), "code");
    return hl_http_json_error(r, web_reply_status(reply), code ? code : "internal",
                              web_reply_message(reply));
}

static void s_free_replies(cJSON **replies, size_t n)
{
    for (size_t i = 0; i < n; i++)
        cJSON_Delete(replies[i]);
    free(replies);
}

/* The server's own errors (404, 405, 408, 413 …) in each API's format. */
static char *s_error_fn(const char *path, int status, const char *message, const char **ctype,
                        void *arg)
{
    if (hl_starts_with(path, "/open311/")) return open311_error_body(path, status, message, ctype);
    return hl_http_api_error(path, status, message, ctype, arg);
}

/* ---- who is asking -------------------------------------------------------------------- */

/* The tokens file: beside the keys file (security.clients), tokens.json. */
static char *s_tokens_path(const hl_config *cfg)
{
    const char *keys = cfg->security.clients;
    const char *slash = strrchr(keys, '/');
    if (!slash) return hl_strdup(WEB_TOKENS_FILE);
    return hl_sprintf("%.*s/%s", (int)(slash - keys), keys, WEB_TOKENS_FILE);
}

static cJSON *s_read_json(const char *path, char **err)
{
    char *ferr = NULL;
    size_t len;
    char *text = hl_read_file(path, &len, &ferr);
    if (!text) {
        *err = ferr;
        return NULL;
    }
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        *err = hl_sprintf("%s: not a JSON object", path);
        return NULL;
    }
    return root;
}

static void s_tokens_free(token *v, int n)
{
    for (int i = 0; i < n; i++)
        free(v[i].token);
    free(v);
}

/* The principal a key of the keys file stands for: 0, or -1 when keys has
 * no such key (or its entry is unusable). */
static int s_principal(const web *w, const cJSON *keys, const char *key, web_who *out)
{
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(keys, key);
    int role = hl_role_parse(hl_json_str(p, "role"));
    const char *unit = hl_json_str(p, "unit");
    int u = unit ? hl_config_unit(w->cfg, unit) : -1;
    if (!p || !role || (unit && u < 0)) return -1;
    memset(out, 0, sizeof *out);
    hl_strlcpy(out->key, key, sizeof out->key);
    out->role = role;
    out->unit = u;
    const char *name = hl_json_str(p, "name");
    hl_strlcpy(out->client, name && *name ? name : "web", sizeof out->client);
    return 0;
}

/* The tokens of toks (tokens.json), each standing for the principal of a
 * key in keys (the keys file). A token of a key the keys file does not
 * hold refuses the file, or with lenient (a reload after a key was
 * removed) is left out with a warning. */
static int s_tokens_parse(const web *w, const cJSON *toks, const cJSON *keys, int lenient,
                          token **out, int *nout, char **err)
{
    int n = cJSON_GetArraySize(toks), k = 0;
    token *v = hl_calloc((size_t)n + 1, sizeof *v);
    const cJSON *it;
    cJSON_ArrayForEach(it, toks)
    {
        const char *key = it->string;
        const char *tok = cJSON_IsString(it) ? it->valuestring : NULL;
        web_who who;
        if (s_principal(w, keys, key, &who) != 0) {
            if (lenient) {
                hl_warn("HTTP: %s: \"%.40s\" is no longer a key of the keys file: its token is "
                        "refused from now on",
                        w->tokens_path, key);
                continue;
            }
            *err = hl_sprintf("%s: \"%.40s\": not a key of the keys file %s (a token stands for "
                              "a key's principal)",
                              w->tokens_path, key, w->cfg->security.clients);
            goto fail;
        }
        if (!tok || strlen(tok) < WEB_TOKEN_MIN) {
            *err = hl_sprintf("%s: \"%.40s\": the token must be a string of at least %d "
                              "characters (make one with: head -c 24 /dev/urandom | base64)",
                              w->tokens_path, key, WEB_TOKEN_MIN);
            goto fail;
        }
        for (int i = 0; i < k; i++)
            if (strcmp(v[i].token, tok) == 0) {
                *err = hl_sprintf("%s: \"%.40s\": the same token is given to two keys",
                                  w->tokens_path, key);
                goto fail;
            }
        v[k].token = hl_strdup(tok);
        v[k++].who = who;
    }
    *out = v;
    *nout = k;
    return 0;
fail:
    s_tokens_free(v, k);
    return -1;
}

/* Secure mode: read the bearer tokens (tokens.json beside the keys file)
 * and the keys file. No tokens file: no token, and the API answers 401
 * saying where the file goes. 0 with *keys the keys file (the caller's),
 * or -1 with *err. */
static int s_tokens_read(const web *w, int lenient, token **out, int *nout, cJSON **keys,
                         char **err)
{
    char *rerr = NULL;
    *keys = s_read_json(w->cfg->security.clients, &rerr);
    if (!*keys) {
        *err = hl_sprintf("cannot read the keys file for the HTTP bearer tokens: %s", rerr);
        free(rerr);
        return -1;
    }
    *out = NULL;
    *nout = 0;
    if (access(w->tokens_path, F_OK) != 0) {
        hl_warn("HTTP: no bearer tokens (%s does not exist): the dashboard's API refuses every "
                "request until it does",
                w->tokens_path);
        return 0;
    }
    cJSON *toks = s_read_json(w->tokens_path, &rerr);
    if (!toks) {
        *err = hl_sprintf("cannot read the HTTP bearer tokens: %s", rerr);
        free(rerr);
        return -1;
    }
    int rc = s_tokens_parse(w, toks, *keys, lenient, out, nout, err);
    cJSON_Delete(toks);
    if (rc == 0)
        hl_info("HTTP: %d bearer token%s from %s", *nout, *nout == 1 ? "" : "s", w->tokens_path);
    return rc;
}

static int s_load_tokens(web *w, char **err)
{
    w->tokens_path = s_tokens_path(w->cfg);
    cJSON *keys = NULL;
    int rc = s_tokens_read(w, 0, &w->tokens, &w->ntokens, &keys, err);
    cJSON_Delete(keys);
    return rc;
}

static const token *s_token_find(const web *w, const char *tok);

/* Compare without leaking where the first difference is. */
static int s_token_eq(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char d = (unsigned char)(la != lb);
    for (size_t i = 0; i < la; i++)
        d |= (unsigned char)(a[i] ^ b[i % (lb ? lb : 1)]);
    return d == 0;
}

/* Who r acts as on the dashboard API: in development mode the dashboard
 * (a manager); in secure mode the principal of its bearer token, which
 * must be one of roles. Answers 401/403 itself and returns -1 otherwise. */
static int s_who(web *w, hl_http_req *r, int roles, web_who *out)
{
    if (!w->secure) {
        memset(out, 0, sizeof *out);
        snprintf(out->key, sizeof out->key, "dashboard");
        out->role = HL_ROLE_MANAGER;
        out->unit = -1;
        snprintf(out->client, sizeof out->client, "dashboard");
        return 0;
    }
    char *tok = hl_http_bearer(r);
    const token *found = s_token_find(w, tok);
    free(tok);
    if (!found) {
        hl_http_add_header(r, "WWW-Authenticate", "Bearer realm=\"hotline\"");
        char msg[700];
        snprintf(msg, sizeof msg,
                 "this dispatcher runs in secure mode: send Authorization: Bearer <token> with "
                 "a manager's token (%s)",
                 w->tokens_path ? w->tokens_path : WEB_TOKENS_FILE);
        hl_http_json_error(r, 401, "unauthorized", msg);
        return -1;
    }
    if (!(found->who.role & roles)) {
        char msg[200];
        snprintf(msg, sizeof msg, "the token belongs to a %s; the dashboard is for managers",
                 hl_role_name(found->who.role));
        hl_http_json_error(r, 403, "forbidden", msg);
        return -1;
    }
    *out = found->who;
    return 0;
}

/* ---- the dashboard's API ------------------------------------------------------------------ */

static void s_api_info(hl_http_req *r, void *arg)
{
    web *w = arg;
    web_who who;
    if (s_who(w, r, HL_ROLE_MANAGER, &who) != 0) return;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", w->cfg->name ? w->cfg->name : "12345");
    cJSON_AddStringToObject(o, "server", "hotline/" HL_VERSION);
    cJSON_AddBoolToObject(o, "secure", w->secure);
    cJSON_AddStringToObject(o, "user", who.client);
    hl_json_add_time(o, "time", hl_now());
    hl_json_add_str(o, "timezone", w->cfg->timezone);
    cJSON *cats = cJSON_AddArrayToObject(o, "categories");
    for (int i = 0; i < w->cfg->ncategories; i++) {
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "code", w->cfg->categories[i].code);
        cJSON_AddStringToObject(x, "name", w->cfg->categories[i].name);
        cJSON_AddItemToArray(cats, x);
    }
    cJSON *units = cJSON_AddArrayToObject(o, "units");
    for (int i = 0; i < w->cfg->nunits; i++) {
        const hl_unit *u = &w->cfg->units[i];
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "id", u->id);
        cJSON_AddStringToObject(x, "name", u->name);
        cJSON_AddStringToObject(x, "level", hl_level_name(u->level));
        hl_json_add_str(x, "parent", u->parent >= 0 ? w->cfg->units[u->parent].id : NULL);
        cJSON_AddItemToArray(units, x);
    }
    hl_http_json(r, 200, o);
}

/* A limit query parameter in [1, max], else def. */
static int s_limit(hl_http_req *r, int def, int max)
{
    const char *q = hl_http_query(r);
    char *v = hl_http_form_value(q, strlen(q), "limit", NULL);
    int n = def;
    if (v) {
        char *e;
        long x = strtol(v, &e, 10);
        if (*v && !*e && x >= 1 && x <= max) n = (int)x;
        free(v);
    }
    return n;
}

/* Answer with one member of the single reply, {key: …}, or its error. */
static void s_reply_member(hl_http_req *r, cJSON **rep, size_t n, const char *key)
{
    if (!s_ok(rep[0])) {
        s_reply_error(r, rep[0]);
    } else {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToObject(o, key, cJSON_DetachItemFromObject(rep[0], key));
        hl_http_json(r, 200, o);
    }
    s_free_replies(rep, n);
}

static void s_done_alerts(cJSON **rep, size_t n, void *arg)
{
    s_reply_member(arg, rep, n, "alerts");
}

static void s_api_alerts(hl_http_req *r, void *arg)
{
    web *w = arg;
    web_who who;
    if (s_who(w, r, HL_ROLE_MANAGER, &who) != 0) return;
    cJSON *args = cJSON_CreateObject();
    hl_json_add_int(args, "limit", s_limit(r, 50, 1000));
    const char *q = hl_http_query(r);
    char *level = hl_http_form_value(q, strlen(q), "level", NULL);
    if (level && (strcmp(level, "red") == 0 || strcmp(level, "yellow") == 0))
        cJSON_AddStringToObject(args, "level", level);
    free(level);
    web_op op = {"alerts", args};
    web_call(w, &who, &op, 1, s_done_alerts, r);
}

typedef struct overdue_ctx {
    web *w;
    hl_http_req *r;
} overdue_ctx;

/* Overdue tickets (finish_due passed, or a red flag on the sign stage),
 * grouped by lead unit, most first. */
static void s_done_overdue(cJSON **rep, size_t n, void *arg)
{
    overdue_ctx *x = arg;
    web *w = x->w;
    hl_http_req *r = x->r;
    free(x);
    for (size_t i = 0; i < n; i++)
        if (!s_ok(rep[i])) {
            s_reply_error(r, rep[i]);
            s_free_replies(rep, n);
            return;
        }
    int nu = w->cfg->nunits;
    cJSON **lists = hl_calloc((size_t)nu + 1, sizeof *lists);
    int *counts = hl_calloc((size_t)nu + 1, sizeof *counts);
    int total = 0;
    hl_ms now = hl_now();
    /* ids seen, so a ticket in both lists counts once */
    int64_t *seen = NULL;
    size_t nseen = 0;
    for (size_t i = 0; i < n; i++) {
        cJSON *arr = cJSON_GetObjectItemCaseSensitive(rep[i], "tickets");
        cJSON *t;
        cJSON_ArrayForEach(t, arr)
        {
            int64_t id = 0;
            hl_json_int(t, "id", &id);
            int dup = 0;
            for (size_t k = 0; k < nseen && !dup; k++)
                dup = seen[k] == id;
            if (dup) continue;
            seen = hl_realloc(seen, (nseen + 1) * sizeof *seen);
            seen[nseen++] = id;
            const char *lead = hl_json_str(t, "lead");
            int u = lead ? hl_config_unit(w->cfg, lead) : -1;
            int slot = u >= 0 ? u : nu;
            if (!lists[slot]) lists[slot] = cJSON_CreateArray();
            cJSON *b = cJSON_CreateObject();
            static const char *const keep[] = {
                "id",         "no",    "status",    "category",     "category_name",
                "urgency",    "title", "lead",      "escalated_to", "sign_due",
                "finish_due", "flags", "signed_at", "dispatched_at"};
            for (size_t k = 0; k < HL_ARRAY_LEN(keep); k++) {
                cJSON *v = cJSON_GetObjectItemCaseSensitive(t, keep[k]);
                if (v) cJSON_AddItemToObject(b, keep[k], cJSON_Duplicate(v, 1));
            }
            hl_ms fd = 0;
            const char *fds = hl_json_str(t, "finish_due");
            if (fds) hl_time_parse(fds, &fd);
            cJSON_AddStringToObject(b, "stage", fd && fd < now ? "finish" : "sign");
            const char *desc = hl_json_str(t, "description");
            if (desc) {
                char shortd[200];
                size_t cut = hl_utf8_fit(desc, 60);
                snprintf(shortd, sizeof shortd, "%.*s%s", (int)(cut < 190 ? cut : 190), desc,
                         desc[cut] ? "…" : "");
                cJSON_AddStringToObject(b, "summary", shortd);
            }
            cJSON_AddItemToArray(lists[slot], b);
            counts[slot]++;
            total++;
        }
    }
    free(seen);
    cJSON *o = cJSON_CreateObject();
    hl_json_add_int(o, "total", total);
    hl_json_add_time(o, "time", now);
    cJSON *units = cJSON_AddArrayToObject(o, "units");
    for (;;) {
        int best = -1;
        for (int u = 0; u <= nu; u++)
            if (counts[u] > 0 && (best < 0 || counts[u] > counts[best])) best = u;
        if (best < 0) break;
        cJSON *g = cJSON_CreateObject();
        hl_json_add_str(g, "unit", best < nu ? w->cfg->units[best].id : NULL);
        cJSON_AddStringToObject(g, "name", best < nu ? w->cfg->units[best].name : "（无牵头单位）");
        hl_json_add_int(g, "count", counts[best]);
        cJSON_AddItemToObject(g, "tickets", lists[best]);
        lists[best] = NULL;
        counts[best] = 0;
        cJSON_AddItemToArray(units, g);
    }
    for (int u = 0; u <= nu; u++)
        cJSON_Delete(lists[u]);
    free(lists);
    free(counts);
    s_free_replies(rep, n);
    hl_http_json(r, 200, o);
}

static void s_api_overdue(hl_http_req *r, void *arg)
{
    web *w = arg;
    web_who who;
    if (s_who(w, r, HL_ROLE_MANAGER, &who) != 0) return;
    cJSON *a1 = cJSON_CreateObject();
    cJSON_AddTrueToObject(a1, "overdue");
    hl_json_add_int(a1, "limit", 1000);
    cJSON *a2 = cJSON_CreateObject();
    cJSON_AddStringToObject(a2, "flag", "red");
    cJSON *st = cJSON_AddArrayToObject(a2, "status");
    cJSON_AddItemToArray(st, cJSON_CreateString("dispatched"));
    cJSON_AddItemToArray(st, cJSON_CreateString("accepted"));
    hl_json_add_int(a2, "limit", 1000);
    web_op ops[] = {{"list", a1}, {"list", a2}};
    overdue_ctx *x = hl_calloc(1, sizeof *x);
    x->w = w;
    x->r = r;
    web_call(w, &who, ops, 2, s_done_overdue, x);
}

static void s_done_stats(cJSON **rep, size_t n, void *arg)
{
    hl_http_req *r = arg;
    cJSON *o;
    if (s_ok(rep[0])) {
        o = rep[0];
        rep[0] = NULL;
        cJSON_DeleteItemFromObject(o, "ok");
        cJSON_DeleteItemFromObject(o, "re");
        cJSON_DeleteItemFromObject(o, "v");
        cJSON_AddTrueToObject(o, "available");
    } else if (strstr(web_reply_message(rep[0]), "not available")) {
        /* the assessment is not in this dispatcher yet: say so, do not fail */
        o = cJSON_CreateObject();
        cJSON_AddFalseToObject(o, "available");
        cJSON_AddStringToObject(o, "message", web_reply_message(rep[0]));
    } else {
        s_reply_error(r, rep[0]);
        s_free_replies(rep, n);
        return;
    }
    s_free_replies(rep, n);
    hl_http_json(r, 200, o);
}

static void s_api_stats(hl_http_req *r, void *arg)
{
    web *w = arg;
    web_who who;
    if (s_who(w, r, HL_ROLE_MANAGER, &who) != 0) return;
    cJSON *args = cJSON_CreateObject();
    const char *q = hl_http_query(r);
    static const char *const keys[] = {"since", "until"};
    for (size_t i = 0; i < 2; i++) {
        char *v = hl_http_form_value(q, strlen(q), keys[i], NULL);
        hl_ms t;
        if (v && *v) {
            if (hl_time_parse(v, &t) != 0) {
                char msg[120];
                snprintf(msg, sizeof msg, "%s: give an RFC 3339 time such as 2026-11-01T00:00:00Z",
                         keys[i]);
                free(v);
                cJSON_Delete(args);
                hl_http_json_error(r, 400, "bad_request", msg);
                return;
            }
            cJSON_AddStringToObject(args, keys[i], v);
        }
        free(v);
    }
    web_op op = {"stats", args};
    web_call(w, &who, &op, 1, s_done_stats, r);
}

static void s_done_ticket(cJSON **rep, size_t n, void *arg)
{
    s_reply_member(arg, rep, n, "ticket");
}

static void s_api_ticket(hl_http_req *r, void *arg)
{
    web *w = arg;
    web_who who;
    if (s_who(w, r, HL_ROLE_MANAGER, &who) != 0) return;
    const char *ref = hl_http_rest(r);
    if (!*ref || strlen(ref) > 32 || strchr(ref, '/')) {
        hl_http_json_error(r, 404, "not_found",
                           "give a ticket: /api/tickets/20261127-000017 or /api/tickets/17");
        return;
    }
    cJSON *args = cJSON_CreateObject();
    char *e;
    long long id = strtoll(ref, &e, 10);
    if (!*e && id > 0)
        hl_json_add_int(args, "ticket", id);
    else
        cJSON_AddStringToObject(args, "ticket", ref);
    web_op op = {"get", args};
    web_call(w, &who, &op, 1, s_done_ticket, r);
}

/* ---- the live stream ---------------------------------------------------------------------- */

#define WEB_CATCHUP_MAX 1000 /* events replayed for a stream that reconnects */

static void s_ref_free(stream_ref *ref)
{
    for (int i = 0; i < ref->nheld; i++)
        free(ref->held[i]);
    free(ref->held);
    free(ref->held_seq);
    free(ref->token);
    free(ref);
}

static void s_stream_closed(hl_http_stream *s, void *arg)
{
    web *w = arg;
    for (stream_ref **p = &w->streams; *p; p = &(*p)->next) {
        if ((*p)->s != s) continue;
        stream_ref *dead = *p;
        *p = dead->next;
        s_ref_free(dead);
        w->nstreams--;
        break;
    }
    if (!w->streams) uv_timer_stop(&w->ping);
}

static void s_on_ping(uv_timer_t *t)
{
    web *w = t->data;
    stream_ref *next;
    for (stream_ref *s = w->streams; s; s = next) {
        next = s->next; /* a dropped stream unlinks itself */
        hl_http_stream_ping(s->s);
    }
}

static const char *s_kind(const char *topic)
{
    return hl_starts_with(topic, "alert.")    ? "alert"
           : hl_starts_with(topic, "ticket.") ? "ticket"
           : hl_starts_with(topic, "unit.")   ? "unit"
                                              : "event";
}

/* The seq of a published event (its first member), or 0. */
static int64_t s_seq_of(const char *json)
{
    const char *p = strstr(json, "\"seq\":");
    return p ? strtoll(p + 6, NULL, 10) : 0;
}

/* Send one event: data {"topic", "event"}, its seq as the id. */
static int s_send_event(hl_http_stream *s, const char *topic, const char *json, int64_t seq)
{
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long)seq);
    char *data = hl_sprintf("{\"topic\":\"%s\",\"event\":%s}", topic, json);
    int rc = hl_http_stream_send(s, s_kind(topic), seq > 0 ? id : NULL, data);
    free(data);
    return rc;
}

typedef struct catchup {
    web *w;
    uint64_t serial;
} catchup;

/* The events a reconnecting stream missed, from the durable log; then what
 * arrived live meanwhile, past the last one replayed. */
static void s_done_catchup(cJSON **rep, size_t n, void *arg)
{
    catchup *cu = arg;
    web *w = cu->w;
    stream_ref *ref = w->streams;
    while (ref && ref->serial != cu->serial)
        ref = ref->next;
    free(cu);
    if (!ref) { /* gone meanwhile */
        s_free_replies(rep, n);
        return;
    }
    hl_http_stream *s = ref->s;
    int64_t last = 0;
    const cJSON *ev;
    int ok = s_ok(rep[0]);
    cJSON_ArrayForEach(ev, cJSON_GetObjectItemCaseSensitive(rep[0], "events"))
    {
        cJSON *e = cJSON_Duplicate(ev, 1);
        char *topic = hl_strdup(hl_json_str(e, "topic") ? hl_json_str(e, "topic") : "");
        cJSON_DeleteItemFromObject(e, "topic");
        int64_t seq = 0;
        hl_json_int(e, "seq", &seq);
        char *json = hl_json_print(e);
        cJSON_Delete(e);
        int rc = s_send_event(s, topic, json, seq);
        free(topic);
        free(json);
        if (rc != 0) { /* dropped: ref is gone */
            s_free_replies(rep, n);
            return;
        }
        last = seq;
    }
    s_free_replies(rep, n);
    if (!ok) hl_warn("HTTP: an event stream could not catch up on the events it missed");
    /* the held live events, past what was replayed, in order */
    ref->catching_up = 0;
    for (int i = 0; i < ref->nheld; i++) {
        if (ref->held_seq[i] > last) {
            char *topic = ref->held[i];
            char *json = topic + strlen(topic) + 1;
            if (s_send_event(s, topic, json, ref->held_seq[i]) != 0) return;
        }
    }
    for (int i = 0; i < ref->nheld; i++)
        free(ref->held[i]);
    free(ref->held);
    free(ref->held_seq);
    ref->held = NULL;
    ref->held_seq = NULL;
    ref->nheld = 0;
}

static void s_api_stream(hl_http_req *r, void *arg)
{
    web *w = arg;
    web_who who;
    if (s_who(w, r, HL_ROLE_MANAGER, &who) != 0) return;
    if (w->nstreams >= WEB_MAX_STREAMS) {
        hl_http_add_header(r, "Retry-After", "10");
        hl_http_json_error(r, 503, "busy", "too many live streams are open; try again shortly");
        return;
    }
    /* a browser that reconnects says the last event it saw */
    const char *lei = hl_http_header(r, "Last-Event-ID");
    char *e = NULL;
    long long after = lei ? strtoll(lei, &e, 10) : -1;
    int resume = lei && *lei && e && !*e && after >= 0;
    /* the request is gone once it is a stream */
    char *bearer = w->secure ? hl_http_bearer(r) : NULL;
    hl_http_stream *s = hl_http_stream_start(r, s_stream_closed, w);
    if (!s) {
        free(bearer);
        return;
    }
    stream_ref *ref = hl_calloc(1, sizeof *ref);
    ref->s = s;
    ref->token = bearer;
    ref->serial = ++w->serials;
    ref->next = w->streams;
    w->streams = ref;
    w->nstreams++;
    if (!uv_is_active((uv_handle_t *)&w->ping))
        uv_timer_start(&w->ping, s_on_ping, WEB_PING_MS, WEB_PING_MS);
    if (hl_http_stream_send(s, "hello", NULL, "{}") != 0 || !resume) return;
    ref->catching_up = 1;
    cJSON *args = cJSON_CreateObject();
    hl_json_add_int(args, "after", after);
    hl_json_add_int(args, "limit", WEB_CATCHUP_MAX);
    web_op op = {"events", args};
    catchup *cu = hl_calloc(1, sizeof *cu);
    cu->w = w;
    cu->serial = ref->serial;
    web_call(w, &who, &op, 1, s_done_catchup, cu);
}

/* Every event the dispatcher publishes, after its commit. */
static void s_on_event(const char *topic, const char *json, void *arg)
{
    web *w = arg;
    if (!w->streams) return;
    int64_t seq = s_seq_of(json);
    stream_ref *next;
    for (stream_ref *s = w->streams; s; s = next) {
        next = s->next;
        if (!s->catching_up) {
            s_send_event(s->s, topic, json, seq);
            continue;
        }
        if (s->nheld >= WEB_CATCHUP_MAX) {
            hl_warn("HTTP: an event stream fell too far behind while catching up; dropped");
            hl_http_stream_close(s->s);
            s_stream_closed(s->s, w);
            continue;
        }
        s->held = hl_realloc(s->held, (size_t)(s->nheld + 1) * sizeof *s->held);
        s->held_seq = hl_realloc(s->held_seq, (size_t)(s->nheld + 1) * sizeof *s->held_seq);
        /* topic, NUL, json, NUL */
        size_t tl = strlen(topic), jl = strlen(json);
        char *both = hl_malloc(tl + jl + 2);
        memcpy(both, topic, tl + 1);
        memcpy(both + tl + 1, json, jl + 1);
        s->held[s->nheld] = both;
        s->held_seq[s->nheld++] = seq;
    }
}

/* ---- the page ---------------------------------------------------------------------------------
 */

static void s_static(hl_http_req *r, void *arg)
{
    (void)arg;
    if (hl_http_serve_asset(r, hl_http_path(r), web_assets, HL_ARRAY_LEN(web_assets)) != 0) {
        char msg[300];
        snprintf(msg, sizeof msg, "nothing at %.200s; the dashboard is at /", hl_http_path(r));
        hl_http_error(r, 404, msg);
    }
}

/* ---- set-up ---------------------------------------------------------------------------------- */

static void s_close_http(web *w)
{
    open311_destroy(&w->o311);
    hl_http_destroy(&w->http);
}

static void s_stop(web *w)
{
    if (w->stopped) return;
    /* what was asked before the signal is answered first (a query may take
     * a few rounds) */
    for (int i = 0; i < 1000 && w->head; i++)
        s_run_batch(w);
    w->stopped = 1;
    uv_idle_stop(&w->idle);
    uv_timer_stop(&w->ping);
    uv_close((uv_handle_t *)&w->idle, NULL);
    uv_close((uv_handle_t *)&w->ping, NULL);
    uv_close((uv_handle_t *)&w->sigterm, NULL);
    uv_close((uv_handle_t *)&w->sigint, NULL);
    uv_close((uv_handle_t *)&w->sighup, NULL);
    if (!w->waiting) s_close_http(w);
}

static void s_on_signal(uv_signal_t *h, int signum)
{
    (void)signum;
    s_stop(h->data);
}

static const token *s_token_find(const web *w, const char *tok)
{
    const token *found = NULL;
    for (int i = 0; tok && i < w->ntokens; i++)
        if (s_token_eq(tok, w->tokens[i].token)) found = &w->tokens[i];
    return found;
}

/* SIGHUP in secure mode: tokens.json and the keys file read again, as the
 * server reloads its keys. A token whose key left the keys file is
 * refused from now on; a tokens file with errors is not taken (the tokens
 * in force stay, less those whose key left the keys file or changed its
 * principal). An event stream whose token is no longer a manager's is
 * closed. */
static void s_on_sighup(uv_signal_t *h, int signum)
{
    (void)signum;
    web *w = h->data;
    if (w->stopped || !w->secure) return;
    token *v = NULL;
    int n = 0;
    cJSON *keys = NULL;
    char *err = NULL;
    if (s_tokens_read(w, 1, &v, &n, &keys, &err) == 0) {
        s_tokens_free(w->tokens, w->ntokens);
        w->tokens = v;
        w->ntokens = n;
    } else if (!keys) {
        hl_error("SIGHUP: %s; the HTTP bearer tokens loaded before stay in force", err);
    } else {
        hl_error("SIGHUP: %s; the HTTP bearer tokens loaded before stay in force, less those "
                 "whose key left the keys file or changed",
                 err);
        int k = 0;
        for (int i = 0; i < w->ntokens; i++) {
            web_who who;
            token *t = &w->tokens[i];
            if (s_principal(w, keys, t->who.key, &who) == 0 && who.role == t->who.role &&
                who.unit == t->who.unit)
                w->tokens[k++] = *t;
            else
                free(t->token);
        }
        w->ntokens = k;
    }
    free(err);
    cJSON_Delete(keys);
    int closed = 0;
    stream_ref *next;
    for (stream_ref *s = w->streams; s; s = next) {
        next = s->next;
        const token *t = s_token_find(w, s->token);
        if (t && (t->who.role & HL_ROLE_MANAGER)) continue;
        hl_http_stream_close(s->s);
        s_stream_closed(s->s, w);
        closed++;
    }
    if (closed)
        hl_info("HTTP: %d event stream%s closed: %s token is no longer a manager's", closed,
                closed == 1 ? "" : "s", closed == 1 ? "its" : "their");
}

static int s_env_int(const char *name)
{
    const char *v = getenv(name);
    long n = v ? strtol(v, NULL, 10) : 0;
    return n > 0 && n < 100000000 ? (int)n : 0;
}

web *web_new(uv_loop_t *loop, const hl_config *cfg, server *sv, const char *addr, char **err)
{
    int secure = cfg->security.curve;
    if (!secure && !hl_http_addr_local(addr)) {
        *err = hl_sprintf("refusing to serve HTTP on %s without CURVE: only loopback addresses "
                          "(127.0.0.1:PORT) are allowed in development mode; to serve other "
                          "machines enable secure mode (security.curve: true), which also "
                          "requires bearer tokens",
                          addr);
        return NULL;
    }
    web *w = hl_calloc(1, sizeof *w);
    w->loop = loop;
    w->cfg = cfg;
    w->sv = sv;
    w->secure = secure;
    if (secure && s_load_tokens(w, err) != 0) {
        free(w->tokens_path);
        free(w);
        return NULL;
    }
    /* the defaults of hotline/http.h; tests shorten them through the
     * environment (HOTLINE_HTTP_IDLE_MS and friends) */
    hl_http_limits lim = {0};
    lim.idle_timeout_ms = s_env_int("HOTLINE_HTTP_IDLE_MS");
    lim.header_timeout_ms = s_env_int("HOTLINE_HTTP_HEADER_MS");
    lim.body_timeout_ms = s_env_int("HOTLINE_HTTP_BODY_MS");
    lim.max_conns = s_env_int("HOTLINE_HTTP_MAX_CONNS");
    lim.max_stream_queue = (size_t)s_env_int("HOTLINE_HTTP_STREAM_QUEUE");
    w->http = hl_http_new(loop, addr, &lim, err);
    if (!w->http) {
        s_tokens_free(w->tokens, w->ntokens);
        free(w->tokens_path);
        free(w);
        return NULL;
    }
    hl_http_set_server_name(w->http, "hotline-dispatcher/" HL_VERSION);
    hl_http_set_error_fn(w->http, s_error_fn, w);
    uv_idle_init(loop, &w->idle);
    uv_timer_init(loop, &w->ping);
    w->idle.data = w->ping.data = w;
    uv_signal_init(loop, &w->sigterm);
    uv_signal_init(loop, &w->sigint);
    w->sigterm.data = w->sigint.data = w;
    uv_signal_start(&w->sigterm, s_on_signal, SIGTERM);
    uv_signal_start(&w->sigint, s_on_signal, SIGINT);
    uv_signal_init(loop, &w->sighup);
    w->sighup.data = w;
    uv_signal_start(&w->sighup, s_on_sighup, SIGHUP);
    uv_unref((uv_handle_t *)&w->sighup);

    hl_http_route(w->http, HL_HTTP_GET, "/api/info", s_api_info, w);
    hl_http_route(w->http, HL_HTTP_GET, "/api/alerts", s_api_alerts, w);
    hl_http_route(w->http, HL_HTTP_GET, "/api/overdue", s_api_overdue, w);
    hl_http_route(w->http, HL_HTTP_GET, "/api/stats", s_api_stats, w);
    hl_http_route(w->http, HL_HTTP_GET, "/api/tickets/*", s_api_ticket, w);
    hl_http_route(w->http, HL_HTTP_GET, "/api/stream", s_api_stream, w);
    w->o311 = open311_new(w);
    hl_http_route(w->http, HL_HTTP_GET, "/*", s_static, w);
    server_on_event(sv, s_on_event, w);
    hl_info("HTTP on %s: dashboard /, Open311 /open311/v2/%s", hl_http_bound(w->http),
            secure ? " (bearer tokens required for /api/)" : "");
    return w;
}

const char *web_bound(const web *w)
{
    return w->http ? hl_http_bound(w->http) : "";
}

const hl_config *web_config(const web *w)
{
    return w->cfg;
}

hl_http *web_http(web *w)
{
    return w->http;
}

void web_destroy(web **wp)
{
    web *w = *wp;
    if (!w) return;
    *wp = NULL;
    server_on_event(w->sv, NULL, NULL);
    s_stop(w);
    s_close_http(w);                /* answers still being read, if any, go unsent */
    uv_run(w->loop, UV_RUN_NOWAIT); /* let the handles close */
    s_tokens_free(w->tokens, w->ntokens);
    free(w->tokens_path);
    while (w->streams) {
        stream_ref *s = w->streams;
        w->streams = s->next;
        s_ref_free(s);
    }
    free(w);
}
