/* http.c — the handheld page and its small JSON API on the worker's loop:
 * the unit's tickets from the local store, actions appended to the outbox
 * through agent_act (as the console does), the link's state. Must not talk
 * to the dispatcher itself nor touch SQL: the agent and wstore do. */
#include "http.h"

#include "hotline/http.h"
#include "hotline/proto.h"
#include "hotline/timefmt.h"
#include "hotline/utf8.h"
#include "hotline/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handheld_assets.h" /* generated from workers/web/ by protocol/embed.sh */

#define HH_REFUSED_SHOWN 20

struct handheld {
    agent *a;
    hl_http *http;
    char *token;
    char *unit_name; /* from the dispatcher's units, once known */
    int asking;      /* a units request is out */
};

/* With a token, every API request must carry it. */
static int s_auth(handheld *h, hl_http_req *r)
{
    if (!h->token) return 0;
    char *t = hl_http_bearer(r);
    int ok = 0;
    if (t && strlen(t) == strlen(h->token)) {
        unsigned char d = 0;
        for (size_t i = 0; t[i]; i++)
            d |= (unsigned char)(t[i] ^ h->token[i]);
        ok = d == 0;
    }
    free(t);
    if (ok) return 0;
    hl_http_add_header(r, "WWW-Authenticate", "Bearer realm=\"hotline-worker\"");
    hl_http_json_error(
        r, 401, "unauthorized",
        "this station's page needs its token: send Authorization: Bearer <token> (the "
        "station's administrator has it)");
    return -1;
}

/* ---- state ---------------------------------------------------------------------- */

typedef struct state_ctx {
    handheld *h;
    cJSON *tickets;
    cJSON *open_actions; /* per ticket id: array of pending ops */
} state_ctx;

static int s_action_cb(const ws_action *a, void *arg)
{
    cJSON *arr = arg;
    cJSON *o = cJSON_CreateObject();
    hl_json_add_int(o, "n", a->n);
    cJSON_AddStringToObject(o, "op", a->op);
    hl_json_add_int(o, "ticket", a->ticket);
    hl_json_add_str(o, "ref", a->ref);
    cJSON_AddStringToObject(o, "state", wstore_state_name(a->state));
    hl_json_add_time(o, "created_at", a->created_at);
    hl_json_add_str(o, "code", a->code);
    hl_json_add_str(o, "message", a->message);
    cJSON *args = cJSON_Parse(a->args ? a->args : "");
    if (args) cJSON_AddItemToObject(o, "args", args);
    cJSON_AddItemToArray(arr, o);
    return 0;
}

static int s_ticket_cb(const ws_ticket *t, void *arg)
{
    state_ctx *x = arg;
    if (!t->json) return 0;
    cJSON *o = cJSON_Duplicate(t->json, 1);
    hl_json_add_int(o, "idx", t->idx);
    /* the ops waiting in the outbox for it */
    cJSON *pend = cJSON_AddArrayToObject(o, "pending");
    const cJSON *a;
    cJSON_ArrayForEach(a, x->open_actions)
    {
        int64_t id = 0;
        hl_json_int(a, "ticket", &id);
        const char *ref = hl_json_str(a, "ref");
        if ((id && id == t->id) || (!id && ref && strcmp(ref, t->no) == 0))
            cJSON_AddItemToArray(pend, cJSON_CreateString(hl_json_str(a, "op")));
    }
    cJSON_AddItemToArray(x->tickets, o);
    return 0;
}

/* The unit's name, for the page's title: asked once the link is up. */
static void s_on_units(sess *s, const hl_reply *rep, void *arg, int64_t tag)
{
    (void)s;
    (void)tag;
    handheld *h = arg;
    h->asking = 0;
    if (!rep || !rep->ok) return;
    const cJSON *u;
    cJSON_ArrayForEach(u, cJSON_GetObjectItemCaseSensitive(rep->root, "units"))
    {
        if (!hl_streq(hl_json_str(u, "id"), agent_unit(h->a))) continue;
        const char *name = hl_json_str(u, "name");
        if (name && *name) {
            free(h->unit_name);
            h->unit_name = hl_strdup(name);
        }
    }
}

static void s_api_state(hl_http_req *r, void *arg)
{
    handheld *h = arg;
    if (s_auth(h, r) != 0) return;
    agent *a = h->a;
    if (!h->unit_name && !h->asking && agent_link_up(a) &&
        agent_request(a, "units", cJSON_CreateObject(), s_on_units, h) == 0)
        h->asking = 1;
    wstore *st = agent_store(a);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "unit", agent_unit(a));
    hl_json_add_str(o, "unit_name", h->unit_name);
    cJSON *link = cJSON_AddObjectToObject(o, "link");
    cJSON_AddBoolToObject(link, "up", agent_link_up(a));
    cJSON_AddBoolToObject(link, "syncing", agent_syncing(a));
    hl_json_add_time(link, "last_sync", wstore_last_sync(st));
    hl_json_add_time(o, "time", hl_now());
    cJSON *open_actions = cJSON_CreateArray();
    wstore_action_each(st, (1u << WS_PENDING) | (1u << WS_SENT), s_action_cb, open_actions);
    state_ctx x = {h, cJSON_AddArrayToObject(o, "tickets"), open_actions};
    wstore_ticket_each(st, 0, s_ticket_cb, &x);
    cJSON_AddItemToObject(o, "actions", open_actions);
    /* the latest refusals, so the worker sees what did not go through */
    cJSON *refused = cJSON_CreateArray();
    wstore_action_each(st, 1u << WS_REFUSED, s_action_cb, refused);
    while (cJSON_GetArraySize(refused) > HH_REFUSED_SHOWN)
        cJSON_DeleteItemFromArray(refused, 0);
    cJSON_AddItemToObject(o, "refused", refused);
    hl_http_json(r, 200, o);
}

/* ---- actions -------------------------------------------------------------------- */

/* The request's fields: a JSON object body, or a form. Caller frees. */
static cJSON *s_fields(hl_http_req *r)
{
    size_t len;
    const char *body = hl_http_body(r, &len);
    const char *ctype = hl_http_header(r, "Content-Type");
    if (ctype && hl_starts_with(ctype, "application/json")) {
        cJSON *o = cJSON_ParseWithLength(body, len);
        if (cJSON_IsObject(o) && hl_utf8_valid(body, len)) return o;
        cJSON_Delete(o);
        return NULL;
    }
    static const char *const names[] = {"op",          "ticket", "text",    "category",
                                        "description", "cell",   "address", "note"};
    cJSON *o = cJSON_CreateObject();
    for (size_t i = 0; i < HL_ARRAY_LEN(names); i++) {
        int bad = 0;
        char *v = hl_http_form_value(body, len, names[i], &bad);
        if (bad) {
            cJSON_Delete(o);
            return NULL;
        }
        if (v) cJSON_AddStringToObject(o, names[i], v);
        free(v);
    }
    return o;
}

/* Queue an action and answer with its outbox row. */
static void s_queue(handheld *h, hl_http_req *r, const char *op, int64_t id, const char *shown,
                    cJSON *args)
{
    const hl_opspec *spec = hl_op_find(op);
    char msg[300];
    if (spec && hl_args_check(args, spec->args, "", msg, sizeof msg) != HL_OK) {
        cJSON_Delete(args);
        hl_http_json_error(r, 400, "bad_request", msg);
        return;
    }
    int64_t n = agent_act(h->a, op, id, shown, args);
    wstore_commit(agent_store(h->a));
    cJSON *o = cJSON_CreateObject();
    hl_json_add_int(o, "n", n);
    cJSON_AddStringToObject(o, "op", op);
    cJSON_AddStringToObject(o, "state", "pending");
    cJSON_AddBoolToObject(o, "link", agent_link_up(h->a));
    hl_http_json(r, 202, o);
}

static void s_api_act(hl_http_req *r, void *arg)
{
    handheld *h = arg;
    if (s_auth(h, r) != 0) return;
    cJSON *f = s_fields(r);
    if (!f) {
        hl_http_json_error(r, 400, "bad_request",
                           "send a JSON object or a form (op, ticket, text)");
        return;
    }
    const char *op = hl_json_str(f, "op");
    const char *text = hl_json_str(f, "text");
    static const char *const ops[] = {"sign", "note", "finish", "return"};
    static const char *const field[] = {"note", "text", "result", "reason"};
    int k = -1;
    for (int i = 0; op && i < 4; i++)
        if (strcmp(op, ops[i]) == 0) k = i;
    if (k < 0) {
        cJSON_Delete(f);
        hl_http_json_error(r, 400, "bad_request", "op: one of sign, note, finish, return");
        return;
    }
    /* the ticket: its id, or its number */
    const cJSON *tv = cJSON_GetObjectItemCaseSensitive(f, "ticket");
    char ref[64];
    if (cJSON_IsNumber(tv))
        snprintf(ref, sizeof ref, "#%lld", (long long)tv->valuedouble);
    else if (cJSON_IsString(tv) && strlen(tv->valuestring) < 40)
        snprintf(ref, sizeof ref, "%s%s", strchr(tv->valuestring, '-') ? "" : "#", tv->valuestring);
    else
        ref[0] = '\0';
    ws_ticket t;
    if (!ref[0] || wstore_ticket_find(agent_store(h->a), ref, &t) != 0) {
        cJSON_Delete(f);
        hl_http_json_error(r, 404, "not_found",
                           "no such ticket at this station; pull down to refresh");
        return;
    }
    if (k != 0 && (!text || !*text)) {
        char msg[100];
        snprintf(msg, sizeof msg, "text: %s needs a %s", op,
                 k == 1   ? "note"
                 : k == 2 ? "result"
                          : "reason");
        wstore_ticket_free(&t);
        cJSON_Delete(f);
        hl_http_json_error(r, 400, "bad_request", msg);
        return;
    }
    cJSON *args = cJSON_CreateObject();
    hl_json_add_int(args, "ticket", t.id);
    if (text && *text) cJSON_AddStringToObject(args, field[k], text);
    char shown[64];
    snprintf(shown, sizeof shown, "%s", t.no);
    int64_t id = t.id;
    wstore_ticket_free(&t);
    cJSON_Delete(f); /* op and text pointed into it */
    s_queue(h, r, ops[k], id, shown, args);
}

static void s_api_report(hl_http_req *r, void *arg)
{
    handheld *h = arg;
    if (s_auth(h, r) != 0) return;
    cJSON *f = s_fields(r);
    if (!f) {
        hl_http_json_error(r, 400, "bad_request",
                           "send a JSON object or a form (category, description, cell)");
        return;
    }
    const char *category = hl_json_str(f, "category");
    const char *desc = hl_json_str(f, "description");
    const char *cell = hl_json_str(f, "cell");
    const char *address = hl_json_str(f, "address");
    if (!category || !*category || !desc || !*desc) {
        cJSON_Delete(f);
        hl_http_json_error(r, 400, "bad_request", "category and description are required");
        return;
    }
    cJSON *args = cJSON_CreateObject();
    cJSON *t = cJSON_AddObjectToObject(args, "ticket");
    cJSON_AddStringToObject(t, "category", category);
    cJSON_AddStringToObject(t, "description", desc);
    cJSON_AddStringToObject(t, "channel", "grid");
    if ((cell && *cell) || (address && *address)) {
        cJSON *loc = cJSON_AddObjectToObject(t, "location");
        if (cell && *cell) cJSON_AddStringToObject(loc, "cell", cell);
        if (address && *address) cJSON_AddStringToObject(loc, "address", address);
    }
    char shown[80];
    snprintf(shown, sizeof shown, "%.64s", category);
    cJSON_Delete(f);
    s_queue(h, r, "create", 0, shown, args);
}

static void s_api_sync(hl_http_req *r, void *arg)
{
    handheld *h = arg;
    if (s_auth(h, r) != 0) return;
    agent_sync(h->a);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "link", agent_link_up(h->a));
    hl_http_json(r, 202, o);
}

static void s_static(hl_http_req *r, void *arg)
{
    (void)arg;
    if (hl_http_serve_asset(r, hl_http_path(r), handheld_assets, HL_ARRAY_LEN(handheld_assets)) !=
        0)
        hl_http_error(r, 404, "nothing here; the handheld page is at /");
}

/* ---- set-up ---------------------------------------------------------------------- */

handheld *hh_new(uv_loop_t *loop, agent *a, const char *addr, const char *token, char **err)
{
    if (!token && !hl_http_addr_local(addr)) {
        *err = hl_sprintf("refusing to serve the handheld page on %s without a token: only "
                          "loopback addresses (127.0.0.1:PORT) are open; give --http-token FILE "
                          "to serve phones on the network",
                          addr);
        return NULL;
    }
    hl_http_limits lim = {0};
    hl_http *http = hl_http_new(loop, addr, &lim, err);
    if (!http) return NULL;
    handheld *h = hl_calloc(1, sizeof *h);
    h->a = a;
    h->http = http;
    h->token = token ? hl_strdup(token) : NULL;
    hl_http_set_server_name(http, "hotline-worker/" HL_VERSION);
    hl_http_set_error_fn(http, hl_http_api_error, h);
    hl_http_route(http, HL_HTTP_GET, "/api/state", s_api_state, h);
    hl_http_route(http, HL_HTTP_POST, "/api/act", s_api_act, h);
    hl_http_route(http, HL_HTTP_POST, "/api/report", s_api_report, h);
    hl_http_route(http, HL_HTTP_POST, "/api/sync", s_api_sync, h);
    hl_http_route(http, HL_HTTP_GET, "/*", s_static, h);
    hl_info("handheld page on http://%s/%s", hl_http_bound(http),
            token ? " (bearer token required)" : "");
    return h;
}

void hh_destroy(handheld **hp)
{
    handheld *h = *hp;
    if (!h) return;
    *hp = NULL;
    hl_http_destroy(&h->http);
    free(h->token);
    free(h->unit_name);
    free(h);
}

const char *hh_bound(const handheld *h)
{
    return hl_http_bound(h->http);
}
