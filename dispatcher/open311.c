/* open311.c — Open311 GeoReport v2: the city's categories as services, a
 * posted service request as a ticket (channel from its api_key), tickets
 * as service requests, in JSON and XML with the spec's error format. Only
 * translates: every read and change is a protocol request run through core
 * (web_call), answered after its batch's commit. */
#include "open311.h"

#include "hotline/proto.h"
#include "hotline/timefmt.h"
#include "hotline/utf8.h"
#include "hotline/util.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define O311_SPEC "http://wiki.open311.org/GeoReport_v2"
#define O311_CHANGESET "2026-11-27T00:00:00Z" /* when this interface last changed */
#define O311_MAX_RESULTS 1000
#define O311_WINDOW_MS (90LL * 24 * 3600 * 1000)
#define O311_MAX_PAGES 50 /* list pages scanned for one query (50 000 tickets) */
#define O311_MAX_IDS 1000

struct open311 {
    web *w;
    const hl_config *cfg;
};

/* ---- output: JSON and XML ---------------------------------------------------------- */

static void s_xml_text(hl_buf *b, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        switch (*p) {
        case '&':
            hl_buf_adds(b, "&amp;");
            break;
        case '<':
            hl_buf_adds(b, "&lt;");
            break;
        case '>':
            hl_buf_adds(b, "&gt;");
            break;
        case '"':
            hl_buf_adds(b, "&quot;");
            break;
        case '\'':
            hl_buf_adds(b, "&apos;");
            break;
        default:
            /* XML 1.0 allows no control characters but tab and line breaks */
            if (*p < 0x20 && *p != '\t' && *p != '\n' && *p != '\r') break;
            hl_buf_addc(b, (char)*p);
        }
    }
}

/* <name>value</name>, or <name/> for an absent value. */
static void s_xml_el(hl_buf *b, const char *name, const char *value)
{
    if (!value || !*value) {
        hl_buf_printf(b, "<%s/>", name);
        return;
    }
    hl_buf_printf(b, "<%s>", name);
    s_xml_text(b, value);
    hl_buf_printf(b, "</%s>", name);
}

/* Write a JSON value as XML: an object's members become elements in order,
 * an array's items elements named item, null an empty element. */
static void s_xml_value(hl_buf *b, const char *name, const cJSON *v)
{
    if (cJSON_IsObject(v)) {
        hl_buf_printf(b, "<%s>", name);
        const cJSON *it;
        cJSON_ArrayForEach(it, v) s_xml_value(b, it->string, it);
        hl_buf_printf(b, "</%s>", name);
    } else if (cJSON_IsArray(v)) {
        /* the caller names arrays' items through a wrapper object */
        hl_buf_printf(b, "<%s>", name);
        const cJSON *it;
        cJSON_ArrayForEach(it, v) s_xml_value(b, "item", it);
        hl_buf_printf(b, "</%s>", name);
    } else if (cJSON_IsString(v)) {
        s_xml_el(b, name, v->valuestring);
    } else if (cJSON_IsBool(v)) {
        s_xml_el(b, name, cJSON_IsTrue(v) ? "true" : "false");
    } else if (cJSON_IsNumber(v)) {
        char num[64];
        if (v->valuedouble == (double)(int64_t)v->valuedouble && fabs(v->valuedouble) < 1e15)
            snprintf(num, sizeof num, "%lld", (long long)v->valuedouble);
        else
            snprintf(num, sizeof num, "%.7f", v->valuedouble);
        s_xml_el(b, name, num);
    } else {
        s_xml_el(b, name, NULL);
    }
}

/* A list document: <outer><inner>…</inner>…</outer> from an array of objects. */
static char *s_xml_list(const char *outer, const char *inner, const cJSON *arr)
{
    hl_buf b;
    hl_buf_init(&b);
    hl_buf_printf(&b, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<%s>", outer);
    const cJSON *it;
    cJSON_ArrayForEach(it, arr) s_xml_value(&b, inner, it);
    hl_buf_printf(&b, "</%s>\n", outer);
    return hl_buf_steal(&b);
}

static int s_send(hl_http_req *r, int xml, int status, char *body)
{
    hl_http_add_header(r, "Cache-Control", "no-store");
    int rc = hl_http_respond(
        r, status, xml ? "text/xml; charset=utf-8" : "application/json; charset=utf-8", body, -1);
    free(body);
    return rc;
}

/* An answer that is a list: JSON array, or XML outer/inner. arr consumed. */
static int s_send_list(hl_http_req *r, int xml, int status, cJSON *arr, const char *outer,
                       const char *inner)
{
    char *body = xml ? s_xml_list(outer, inner, arr) : hl_json_print(arr);
    cJSON_Delete(arr);
    return s_send(r, xml, status, body);
}

static int s_is_xml_path(const char *path)
{
    size_t n = strlen(path);
    return n >= 4 && strcmp(path + n - 4, ".xml") == 0;
}

char *open311_error_body(const char *path, int status, const char *message, const char **ctype)
{
    int xml = s_is_xml_path(path);
    cJSON *arr = cJSON_CreateArray();
    cJSON *e = cJSON_CreateObject();
    hl_json_add_int(e, "code", status);
    cJSON_AddStringToObject(e, "description", message);
    cJSON_AddItemToArray(arr, e);
    char *body = xml ? s_xml_list("errors", "error", arr) : hl_json_print(arr);
    cJSON_Delete(arr);
    *ctype = xml ? "text/xml; charset=utf-8" : "application/json; charset=utf-8";
    return body;
}

HL_PRINTF(4, 5)
static int s_error(hl_http_req *r, int xml, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = hl_vsprintf(fmt, ap);
    va_end(ap);
    const char *ctype;
    char *body = open311_error_body(xml ? ".xml" : ".json", status, msg, &ctype);
    free(msg);
    hl_http_add_header(r, "Cache-Control", "no-store");
    int rc = hl_http_respond(r, status, ctype, body, -1);
    free(body);
    return rc;
}

/* ---- discovery and services ------------------------------------------------------------ */

static const char *s_group_name(const char *code, char *buf, size_t size)
{
    static const struct {
        const char *prefix, *name;
    } groups[] = {{"env", "环境保护"},    {"city", "城市管理"},    {"road", "道路设施"},
                  {"water", "供水"},      {"power", "供电"},       {"gas", "燃气"},
                  {"heat", "供暖"},       {"housing", "住房物业"}, {"labor", "劳动保障"},
                  {"market", "市场监管"}, {"agri", "农业农村"},    {"safety", "安全生产"},
                  {"social", "社会事务"}, {"traffic", "交通出行"}, {"edu", "教育"},
                  {"health", "医疗卫生"}, {"civil", "民政服务"},   {"enterprise", "企业服务"},
                  {"misc", "其他"}};
    size_t n = strcspn(code, ".");
    for (size_t i = 0; i < HL_ARRAY_LEN(groups); i++)
        if (strlen(groups[i].prefix) == n && strncmp(groups[i].prefix, code, n) == 0)
            return groups[i].name;
    snprintf(buf, size, "%.*s", (int)n, code);
    return buf;
}

static cJSON *s_service(const open311 *o, const hl_category *c)
{
    const hl_config *cfg = o->cfg;
    cJSON *s = cJSON_CreateObject();
    cJSON_AddStringToObject(s, "service_code", c->code);
    cJSON_AddStringToObject(s, "service_name", c->name);
    char desc[400];
    switch (c->handling) {
    case HL_HANDLE_DEPARTMENT:
        snprintf(desc, sizeof desc, "%s：由%s办理", c->name,
                 c->department >= 0 ? cfg->units[c->department].name : "主管部门");
        break;
    case HL_HANDLE_TERRITORIAL:
        snprintf(desc, sizeof desc, "%s：由所在镇街属地办理", c->name);
        break;
    default:
        snprintf(desc, sizeof desc, "%s：由所在网格办理", c->name);
        break;
    }
    cJSON_AddStringToObject(s, "description", desc);
    cJSON_AddFalseToObject(s, "metadata");
    cJSON_AddStringToObject(s, "type", "realtime");
    char kw[200], grp[40];
    const char *group = s_group_name(c->code, grp, sizeof grp);
    snprintf(kw, sizeof kw, "%s,%s", c->name, group);
    cJSON_AddStringToObject(s, "keywords", kw);
    cJSON_AddStringToObject(s, "group", group);
    return s;
}

static void s_discovery(open311 *o, hl_http_req *r, int xml)
{
    const char *host = hl_http_header(r, "Host");
    char url[300];
    snprintf(url, sizeof url, "http://%.200s/open311/v2",
             host && *host && !strpbrk(host, "<>\"' ") ? host : web_bound(o->w));
    char contact[300];
    snprintf(contact, sizeof contact, "%s", o->cfg->name ? o->cfg->name : "12345政务服务便民热线");
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "changeset", O311_CHANGESET);
    cJSON_AddStringToObject(d, "contact", contact);
    cJSON_AddStringToObject(d, "key_service",
                            "api_key: ask the hotline's administrator (config open311.api_keys)");
    cJSON *eps = cJSON_AddArrayToObject(d, "endpoints");
    cJSON *ep = cJSON_CreateObject();
    cJSON_AddStringToObject(ep, "specification", O311_SPEC);
    cJSON_AddStringToObject(ep, "url", url);
    cJSON_AddStringToObject(ep, "changeset", O311_CHANGESET);
    cJSON_AddStringToObject(ep, "type", "production");
    cJSON *formats = cJSON_AddArrayToObject(ep, "formats");
    cJSON_AddItemToArray(formats, cJSON_CreateString("text/xml"));
    cJSON_AddItemToArray(formats, cJSON_CreateString("application/json"));
    cJSON_AddItemToArray(eps, ep);
    if (!xml) {
        s_send(r, 0, 200, hl_json_print(d));
        cJSON_Delete(d);
        return;
    }
    hl_buf b;
    hl_buf_init(&b);
    hl_buf_adds(&b, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<discovery>");
    s_xml_el(&b, "changeset", O311_CHANGESET);
    s_xml_el(&b, "contact", contact);
    s_xml_el(&b, "key_service", hl_json_str(d, "key_service"));
    hl_buf_adds(&b, "<endpoints><endpoint>");
    s_xml_el(&b, "specification", O311_SPEC);
    s_xml_el(&b, "url", url);
    s_xml_el(&b, "changeset", O311_CHANGESET);
    s_xml_el(&b, "type", "production");
    hl_buf_adds(&b,
                "<formats><format>text/xml</format><format>application/json</format></formats>");
    hl_buf_adds(&b, "</endpoint></endpoints></discovery>\n");
    cJSON_Delete(d);
    s_send(r, 1, 200, hl_buf_steal(&b));
}

static void s_services(open311 *o, hl_http_req *r, int xml)
{
    cJSON *arr = cJSON_CreateArray();
    for (int i = 0; i < o->cfg->ncategories; i++)
        cJSON_AddItemToArray(arr, s_service(o, &o->cfg->categories[i]));
    s_send_list(r, xml, 200, arr, "services", "service");
}

/* services/{code}: no service has extra attributes (metadata false), so a
 * definition is its code with an empty attribute list. */
static void s_definition(open311 *o, hl_http_req *r, const char *code, int xml)
{
    if (hl_config_category(o->cfg, code) < 0) {
        s_error(r, xml, 404, "service_code %.80s not found; GET services.%s lists them", code,
                xml ? "xml" : "json");
        return;
    }
    if (!xml) {
        cJSON *d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "service_code", code);
        cJSON_AddArrayToObject(d, "attributes");
        s_send(r, 0, 200, hl_json_print(d));
        cJSON_Delete(d);
        return;
    }
    hl_buf b;
    hl_buf_init(&b);
    hl_buf_adds(&b, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<service_definition>");
    s_xml_el(&b, "service_code", code);
    hl_buf_adds(&b, "<attributes/></service_definition>\n");
    s_send(r, 1, 200, hl_buf_steal(&b));
}

/* ---- tickets as service requests ------------------------------------------------------- */

static int s_is_closed(const char *status)
{
    return hl_streq(status, "closed") || hl_streq(status, "merged") ||
           hl_streq(status, "cancelled");
}

static void s_add_nullable_str(cJSON *o, const char *key, const char *v)
{
    if (v && *v)
        cJSON_AddStringToObject(o, key, v);
    else
        cJSON_AddNullToObject(o, key);
}

/* The GeoReport record of a ticket (with its events when it has them). */
static cJSON *s_request(const open311 *o, const cJSON *t)
{
    cJSON *q = cJSON_CreateObject();
    const cJSON *loc = cJSON_GetObjectItemCaseSensitive(t, "location");
    const char *status = hl_json_str(t, "status");
    cJSON_AddStringToObject(q, "service_request_id",
                            hl_json_str(t, "no") ? hl_json_str(t, "no") : "");
    cJSON_AddStringToObject(q, "status", s_is_closed(status) ? "closed" : "open");
    /* the latest event's note says where the request stands */
    const cJSON *events = cJSON_GetObjectItemCaseSensitive(t, "events");
    const cJSON *last = NULL, *ev;
    cJSON_ArrayForEach(ev, events) last = ev;
    const char *note = last ? hl_json_str(last, "note") : NULL;
    s_add_nullable_str(q, "status_notes", note);
    s_add_nullable_str(q, "service_name", hl_json_str(t, "category_name"));
    s_add_nullable_str(q, "service_code", hl_json_str(t, "category"));
    s_add_nullable_str(q, "description", hl_json_str(t, "description"));
    const char *lead = hl_json_str(t, "lead");
    int u = lead ? hl_config_unit(o->cfg, lead) : -1;
    s_add_nullable_str(q, "agency_responsible", u >= 0 ? o->cfg->units[u].name : NULL);
    cJSON_AddNullToObject(q, "service_notice");
    s_add_nullable_str(q, "requested_datetime", hl_json_str(t, "created_at"));
    const char *updated = last ? hl_json_str(last, "time") : NULL;
    s_add_nullable_str(q, "updated_datetime", updated ? updated : hl_json_str(t, "created_at"));
    s_add_nullable_str(q, "expected_datetime",
                       s_is_closed(status) ? NULL : hl_json_str(t, "finish_due"));
    s_add_nullable_str(q, "address", hl_json_str(loc, "address"));
    cJSON_AddNullToObject(q, "address_id");
    cJSON_AddNullToObject(q, "zipcode");
    double lat, lon;
    if (hl_json_num(loc, "lat", &lat) == 0 && hl_json_num(loc, "lon", &lon) == 0) {
        cJSON_AddNumberToObject(q, "lat", lat);
        cJSON_AddNumberToObject(q, "long", lon);
    } else {
        cJSON_AddNullToObject(q, "lat");
        cJSON_AddNullToObject(q, "long");
    }
    cJSON_AddNullToObject(q, "media_url");
    return q;
}

/* Who Open311 acts as: an operator named after the api key's holder. */
static void s_who(web_who *who, const char *keyname)
{
    memset(who, 0, sizeof *who);
    snprintf(who->key, sizeof who->key, "open311");
    who->role = HL_ROLE_OPERATOR;
    who->unit = -1;
    char client[200];
    snprintf(client, sizeof client, "Open311 %s", keyname ? keyname : "");
    size_t cut = hl_utf8_fit(client, 60);
    snprintf(who->client, sizeof who->client, "%.*s", (int)cut, client);
}

/* ---- GET requests ------------------------------------------------------------------------ */

typedef struct query {
    open311 *o;
    hl_http_req *r;
    int xml;
    int single;  /* requests/{id}: one record or 404 */
    char id[40]; /* its id */
    int by_ids;  /* service_request_id given */
    hl_ms start, end;
    cJSON *statuses; /* list's status argument, or NULL */
    char **codes;
    int ncodes;
    cJSON *found; /* tickets picked so far */
    int64_t after;
    int pages;
} query;

static void s_query_free(query *q)
{
    for (int i = 0; i < q->ncodes; i++)
        free(q->codes[i]);
    free(q->codes);
    cJSON_Delete(q->statuses);
    cJSON_Delete(q->found);
    free(q);
}

static void s_free_replies(cJSON **rep, size_t n)
{
    for (size_t i = 0; i < n; i++)
        cJSON_Delete(rep[i]);
    free(rep);
}

/* Round 2: each picked ticket read whole (its events give status_notes and
 * updated_datetime); then the answer. */
static void s_done_gets(cJSON **rep, size_t n, void *arg)
{
    query *q = arg;
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++) {
        if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rep[i], "ok"))) {
            const char *code =
                hl_json_str(cJSON_GetObjectItemCaseSensitive(rep[i], "error"), "code");
            if (hl_streq(code, "not_found")) continue; /* an id that is not a ticket */
            s_error(q->r, q->xml, 500, "%s", web_reply_message(rep[i]));
            cJSON_Delete(arr);
            s_free_replies(rep, n);
            s_query_free(q);
            return;
        }
        cJSON_AddItemToArray(arr,
                             s_request(q->o, cJSON_GetObjectItemCaseSensitive(rep[i], "ticket")));
    }
    s_free_replies(rep, n);
    if (q->single && cJSON_GetArraySize(arr) == 0) {
        cJSON_Delete(arr);
        s_error(q->r, q->xml, 404, "service_request_id %s not found", q->id);
    } else {
        s_send_list(q->r, q->xml, 200, arr, "service_requests", "request");
    }
    s_query_free(q);
}

static void s_fetch(query *q, cJSON *ids /* array of numbers or strings; consumed */)
{
    int n = cJSON_GetArraySize(ids);
    if (n == 0) {
        cJSON_Delete(ids);
        s_done_gets(hl_calloc(1, sizeof(cJSON *)), 0, q);
        return;
    }
    web_op *ops = hl_calloc((size_t)n, sizeof *ops);
    int i = 0;
    cJSON *it;
    cJSON_ArrayForEach(it, ids)
    {
        cJSON *args = cJSON_CreateObject();
        cJSON_AddItemToObject(args, "ticket", cJSON_Duplicate(it, 0));
        ops[i].op = "get";
        ops[i].args = args;
        i++;
    }
    cJSON_Delete(ids);
    web_who who;
    s_who(&who, "reader");
    web_call(q->o->w, &who, ops, (size_t)n, s_done_gets, q);
    free(ops);
}

static void s_list_page(query *q);

/* Round 1: list pages, newest first, until the window's start or 1000 picked. */
static void s_done_list(cJSON **rep, size_t n, void *arg)
{
    query *q = arg;
    if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rep[0], "ok"))) {
        s_error(q->r, q->xml, 500, "%s", web_reply_message(rep[0]));
        s_free_replies(rep, n);
        s_query_free(q);
        return;
    }
    int done = 0;
    cJSON *t;
    cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(rep[0], "tickets"))
    {
        hl_ms created = 0;
        const char *c = hl_json_str(t, "created_at");
        if (c) hl_time_parse(c, &created);
        if (created < q->start) {
            done = 1; /* older ones follow */
            break;
        }
        if (created > q->end) continue;
        int match = q->ncodes == 0;
        for (int i = 0; i < q->ncodes && !match; i++)
            match = hl_streq(hl_json_str(t, "category"), q->codes[i]);
        if (!match) continue;
        int64_t id;
        hl_json_int(t, "id", &id);
        cJSON_AddItemToArray(q->found, cJSON_CreateNumber((double)id));
        if (cJSON_GetArraySize(q->found) >= O311_MAX_RESULTS) {
            done = 1;
            break;
        }
    }
    int64_t next;
    if (hl_json_int(rep[0], "next", &next) != 0) done = 1;
    s_free_replies(rep, n);
    if (!done && ++q->pages >= O311_MAX_PAGES) done = 1;
    if (done) {
        cJSON *ids = q->found;
        q->found = NULL;
        s_fetch(q, ids);
        return;
    }
    q->after = next;
    s_list_page(q);
}

static void s_list_page(query *q)
{
    cJSON *args = cJSON_CreateObject();
    if (q->statuses) cJSON_AddItemToObject(args, "status", cJSON_Duplicate(q->statuses, 1));
    hl_json_add_int(args, "limit", 1000);
    if (q->after) hl_json_add_int(args, "after", q->after);
    web_op op = {"list", args};
    web_who who;
    s_who(&who, "reader");
    web_call(q->o->w, &who, &op, 1, s_done_list, q);
}

static char *s_param(hl_http_req *r, const char *name, int *bad)
{
    const char *qs = hl_http_query(r);
    char *v = hl_http_form_value(qs, strlen(qs), name, bad);
    if (v && !*v) {
        free(v);
        v = NULL;
    }
    return v;
}

/* Split a comma list into trimmed, non-empty items (at most max). */
static int s_split(const char *s, char ***out, int max)
{
    int n = 0;
    char **items = NULL;
    const char *p = s;
    while (*p && n < max) {
        size_t len = strcspn(p, ",");
        const char *a = p, *e = p + len;
        while (a < e && *a == ' ')
            a++;
        while (e > a && e[-1] == ' ')
            e--;
        if (e > a) {
            items = hl_realloc(items, (size_t)(n + 1) * sizeof *items);
            items[n++] = hl_strndup(a, (size_t)(e - a));
        }
        p += len;
        if (*p == ',') p++;
    }
    *out = items;
    return n;
}

static void s_get_requests(open311 *o, hl_http_req *r, int xml)
{
    int bad = 0;
    query *q = hl_calloc(1, sizeof *q);
    q->o = o;
    q->r = r;
    q->xml = xml;
    q->found = cJSON_CreateArray();
    char *ids = s_param(r, "service_request_id", &bad);
    char *code = s_param(r, "service_code", &bad);
    char *start = s_param(r, "start_date", &bad);
    char *end = s_param(r, "end_date", &bad);
    char *status = s_param(r, "status", &bad);
    const char *why = NULL;
    char whybuf[200];
    hl_ms now = hl_now();
    if (bad) why = "a parameter is not valid UTF-8";
    if (!why && ids) {
        /* service_request_id overrides every other parameter */
        char **items;
        int n = s_split(ids, &items, O311_MAX_IDS + 1);
        if (n > O311_MAX_IDS) {
            snprintf(whybuf, sizeof whybuf, "service_request_id: at most %d ids at once",
                     O311_MAX_IDS);
            why = whybuf;
        }
        cJSON *arr = cJSON_CreateArray();
        for (int i = 0; i < n; i++) {
            if (!why && strlen(items[i]) <= 32)
                cJSON_AddItemToArray(arr, cJSON_CreateString(items[i]));
            free(items[i]);
        }
        free(items);
        free(ids);
        free(code);
        free(start);
        free(end);
        free(status);
        if (why) {
            cJSON_Delete(arr);
            s_error(r, xml, 400, "%s", why);
            s_query_free(q);
            return;
        }
        q->by_ids = 1;
        s_fetch(q, arr);
        return;
    }
    if (!why && status) {
        q->statuses = cJSON_CreateArray();
        const char *const open_s[] = {"triage", "dispatched", "accepted", "resolved"};
        const char *const closed_s[] = {"closed", "merged", "cancelled"};
        if (strcmp(status, "open") == 0) {
            for (size_t i = 0; i < HL_ARRAY_LEN(open_s); i++)
                cJSON_AddItemToArray(q->statuses, cJSON_CreateString(open_s[i]));
        } else if (strcmp(status, "closed") == 0) {
            for (size_t i = 0; i < HL_ARRAY_LEN(closed_s); i++)
                cJSON_AddItemToArray(q->statuses, cJSON_CreateString(closed_s[i]));
        } else {
            why = "status: give open or closed";
        }
    }
    if (!why && start && hl_time_parse(start, &q->start) != 0)
        why = "start_date: give a W3C date-time such as 2026-11-01T00:00:00+08:00";
    if (!why && end && hl_time_parse(end, &q->end) != 0)
        why = "end_date: give a W3C date-time such as 2026-11-30T23:59:59+08:00";
    if (!why) {
        /* the default window is the last 90 days, and no window spans more */
        if (!start && !end) {
            q->end = now;
            q->start = now - O311_WINDOW_MS;
        } else if (!start) {
            q->start = q->end - O311_WINDOW_MS;
        } else if (!end) {
            q->end = q->start + O311_WINDOW_MS;
        }
        if (q->end < q->start)
            why = "end_date is before start_date";
        else if (q->end - q->start > O311_WINDOW_MS)
            why = "start_date to end_date may not span more than 90 days";
    }
    if (!why && code) {
        q->ncodes = s_split(code, &q->codes, 64);
        for (int i = 0; i < q->ncodes && !why; i++)
            if (hl_config_category(o->cfg, q->codes[i]) < 0) {
                snprintf(whybuf, sizeof whybuf, "service_code %.80s not found", q->codes[i]);
                why = whybuf;
            }
    }
    free(code);
    free(start);
    free(end);
    free(status);
    if (why) {
        s_error(r, xml, 400, "%s", why);
        s_query_free(q);
        return;
    }
    s_list_page(q);
}

static void s_get_request(open311 *o, hl_http_req *r, const char *id, int xml)
{
    query *q = hl_calloc(1, sizeof *q);
    q->o = o;
    q->r = r;
    q->xml = xml;
    q->single = 1;
    snprintf(q->id, sizeof q->id, "%.32s", id);
    cJSON *ids = cJSON_CreateArray();
    if (strlen(id) <= 32 && *id) cJSON_AddItemToArray(ids, cJSON_CreateString(id));
    s_fetch(q, ids);
}

/* ---- POST requests ------------------------------------------------------------------------- */

typedef struct post {
    open311 *o;
    hl_http_req *r;
    int xml;
} post;

static void s_done_create(cJSON **rep, size_t n, void *arg)
{
    post *p = arg;
    const hl_config *cfg = p->o->cfg;
    if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rep[0], "ok"))) {
        int status = web_reply_status(rep[0]);
        s_error(p->r, p->xml, status == 409 ? 400 : status, "%s", web_reply_message(rep[0]));
    } else {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(rep[0], "ticket");
        int repeat = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rep[0], "repeat"));
        const char *no = hl_json_str(t, "no");
        const char *lead = hl_json_str(t, "lead");
        int u = lead ? hl_config_unit(cfg, lead) : -1;
        char notice[600];
        if (repeat)
            snprintf(notice, sizeof notice,
                     "您反映的问题已有工单 %s 正在办理，本次来电已合并计入该工单。", no);
        else if (u >= 0)
            snprintf(notice, sizeof notice, "已受理，工单号 %s，已派%s办理。", no,
                     cfg->units[u].name);
        else
            snprintf(notice, sizeof notice, "已受理，工单号 %s，正在分派承办单位。", no);
        cJSON *arr = cJSON_CreateArray();
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "service_request_id", no ? no : "");
        cJSON_AddStringToObject(o, "service_notice", notice);
        cJSON_AddNullToObject(o, "account_id");
        cJSON_AddItemToArray(arr, o);
        s_send_list(p->r, p->xml, 201, arr, "service_requests", "request");
    }
    s_free_replies(rep, n);
    free(p);
}

static void s_post_request(open311 *o, hl_http_req *r, int xml)
{
    const hl_config *cfg = o->cfg;
    size_t blen;
    const char *body = hl_http_body(r, &blen);
    const char *ctype = hl_http_header(r, "Content-Type");
    if (ctype && !hl_starts_with(ctype, "application/x-www-form-urlencoded")) {
        s_error(r, xml, 400, "send the request as application/x-www-form-urlencoded");
        return;
    }
    /* parameters: the form body, or the query string for a bodyless POST */
    const char *text = blen ? body : hl_http_query(r);
    size_t tlen = blen ? blen : strlen(text);
    static const char *const names[] = {"api_key",        "service_code", "lat",       "long",
                                        "address_string", "address_id",   "email",     "device_id",
                                        "account_id",     "first_name",   "last_name", "phone",
                                        "description",    "media_url"};
    enum {
        P_KEY,
        P_CODE,
        P_LAT,
        P_LONG,
        P_ADDR,
        P_ADDRID,
        P_EMAIL,
        P_DEV,
        P_ACCT,
        P_FIRST,
        P_LAST,
        P_PHONE,
        P_DESC,
        P_MEDIA,
        P__N
    };
    char *v[P__N] = {0};
    int bad = 0;
    for (int i = 0; i < P__N; i++) {
        int b = 0;
        v[i] = hl_http_form_value(text, tlen, names[i], &b);
        if (v[i] && !*v[i]) {
            free(v[i]);
            v[i] = NULL;
        }
        bad |= b;
    }
    char why[300] = "";
    int status = 400;
    const hl_apikey *key = NULL;
    for (int i = 0; v[P_KEY] && i < cfg->open311.nkeys; i++)
        if (strcmp(cfg->open311.keys[i].key, v[P_KEY]) == 0) key = &cfg->open311.keys[i];
    int cat = v[P_CODE] ? hl_config_category(cfg, v[P_CODE]) : -1;
    double lat = 0, lon = 0;
    char *e1 = NULL, *e2 = NULL;
    if (v[P_LAT]) lat = strtod(v[P_LAT], &e1);
    if (v[P_LONG]) lon = strtod(v[P_LONG], &e2);
    if (bad) {
        snprintf(why, sizeof why, "a parameter is not valid UTF-8");
    } else if (!key && cfg->open311.require_key) {
        status = 403;
        snprintf(why, sizeof why,
                 v[P_KEY] ? "api_key not recognised; ask the hotline for a key"
                          : "api_key required; ask the hotline for a key");
    } else if (!v[P_CODE]) {
        snprintf(why, sizeof why, "service_code required; GET services.%s lists them",
                 xml ? "xml" : "json");
    } else if (cat < 0) {
        snprintf(why, sizeof why, "service_code %.80s not found; GET services.%s lists them",
                 v[P_CODE], xml ? "xml" : "json");
    } else if (!v[P_LAT] != !v[P_LONG]) {
        snprintf(why, sizeof why, "give both lat and long, or neither");
    } else if (v[P_LAT] && (*e1 || *e2 || !isfinite(lat) || !isfinite(lon) || lat < -90 ||
                            lat > 90 || lon < -180 || lon > 180)) {
        snprintf(why, sizeof why,
                 "lat and long must be decimal degrees (WGS-84): lat -90..90, "
                 "long -180..180");
    } else if (!v[P_LAT] && !v[P_ADDR]) {
        snprintf(why, sizeof why, "a location is required: give lat and long, or address_string");
    } else if (v[P_DESC] && hl_utf8_count(v[P_DESC]) > HL_DESCRIPTION_MAX) {
        snprintf(why, sizeof why, "description: at most %d characters", HL_DESCRIPTION_MAX);
    } else if (v[P_ADDR] && hl_utf8_count(v[P_ADDR]) > 500) {
        snprintf(why, sizeof why, "address_string: at most 500 characters");
    } else if (v[P_PHONE] && hl_utf8_count(v[P_PHONE]) > 32) {
        snprintf(why, sizeof why, "phone: at most 32 characters");
    } else if (hl_utf8_count(v[P_LAST] ? v[P_LAST] : "") +
                   hl_utf8_count(v[P_FIRST] ? v[P_FIRST] : "") >
               63) {
        snprintf(why, sizeof why, "first_name and last_name: at most 63 characters together");
    }
    if (why[0]) {
        s_error(r, xml, status, "%s", why);
        for (int i = 0; i < P__N; i++)
            free(v[i]);
        return;
    }
    cJSON *args = cJSON_CreateObject();
    cJSON *t = cJSON_AddObjectToObject(args, "ticket");
    cJSON_AddStringToObject(t, "category", v[P_CODE]);
    /* the description the citizen gave, with an e-mail address kept in it */
    hl_buf d;
    hl_buf_init(&d);
    hl_buf_adds(&d, v[P_DESC] ? v[P_DESC] : cfg->categories[cat].name);
    if (v[P_EMAIL] && hl_utf8_count(d.data) + hl_utf8_count(v[P_EMAIL]) + 6 <= HL_DESCRIPTION_MAX)
        hl_buf_printf(&d, "（邮箱：%s）", v[P_EMAIL]);
    cJSON_AddStringToObject(t, "description", d.data);
    hl_buf_free(&d);
    cJSON_AddStringToObject(t, "channel", key ? hl_channel_name(key->channel) : "web");
    if (v[P_LAST] || v[P_FIRST] || v[P_PHONE]) {
        cJSON *caller = cJSON_AddObjectToObject(t, "caller");
        if (v[P_LAST] || v[P_FIRST]) {
            /* a Chinese name: family name first, no space */
            char name[200];
            snprintf(name, sizeof name, "%s%s", v[P_LAST] ? v[P_LAST] : "",
                     v[P_FIRST] ? v[P_FIRST] : "");
            cJSON_AddStringToObject(caller, "name", name);
        }
        if (v[P_PHONE]) cJSON_AddStringToObject(caller, "phone", v[P_PHONE]);
    }
    cJSON *loc = cJSON_AddObjectToObject(t, "location");
    if (v[P_LAT]) {
        cJSON_AddNumberToObject(loc, "lat", lat);
        cJSON_AddNumberToObject(loc, "lon", lon);
    }
    if (v[P_ADDR]) cJSON_AddStringToObject(loc, "address", v[P_ADDR]);
    web_who who;
    s_who(&who, key ? key->name : "web");
    post *p = hl_calloc(1, sizeof *p);
    p->o = o;
    p->r = r;
    p->xml = xml;
    web_op op = {"create", args};
    web_call(o->w, &who, &op, 1, s_done_create, p);
    for (int i = 0; i < P__N; i++)
        free(v[i]);
}

/* ---- routing ------------------------------------------------------------------------------ */

/* Split "name.ext" into name (copied) and the format; -1 when the
 * extension is neither .json nor .xml. */
static int s_format(const char *rest, char *name, size_t size, int *xml)
{
    const char *dot = strrchr(rest, '.');
    if (!dot) return -1;
    if (strcmp(dot, ".json") == 0)
        *xml = 0;
    else if (strcmp(dot, ".xml") == 0)
        *xml = 1;
    else
        return -1;
    size_t n = (size_t)(dot - rest);
    if (n >= size) return -1;
    memcpy(name, rest, n);
    name[n] = '\0';
    return 0;
}

static void s_not_allowed(hl_http_req *r, int xml, const char *allow)
{
    hl_http_add_header(r, "Allow", allow);
    s_error(r, xml, 405, "%s is not allowed here; use %s", hl_http_method_name(r), allow);
}

static void s_handle(hl_http_req *r, void *arg)
{
    open311 *o = arg;
    const char *rest = hl_http_rest(r);
    char name[200];
    int xml = 0;
    int get = hl_http_method(r) & (HL_HTTP_GET | HL_HTTP_HEAD);
    if (s_format(rest, name, sizeof name, &xml) != 0) {
        s_error(r, s_is_xml_path(rest), 404,
                "nothing at /open311/v2/%.100s; resources end in .json or .xml (start with "
                "discovery.json)",
                rest);
        return;
    }
    if (strcmp(name, "discovery") == 0 || strcmp(name, "services") == 0) {
        if (!get) {
            s_not_allowed(r, xml, "GET, HEAD");
            return;
        }
        if (name[0] == 'd')
            s_discovery(o, r, xml);
        else
            s_services(o, r, xml);
        return;
    }
    if (strcmp(name, "requests") == 0) {
        if (get)
            s_get_requests(o, r, xml);
        else if (hl_http_method(r) == HL_HTTP_POST)
            s_post_request(o, r, xml);
        else
            s_not_allowed(r, xml, "GET, HEAD, POST");
        return;
    }
    if (hl_starts_with(name, "services/") && name[9] && !strchr(name + 9, '/')) {
        if (!get) {
            s_not_allowed(r, xml, "GET, HEAD");
            return;
        }
        s_definition(o, r, name + 9, xml);
        return;
    }
    if (hl_starts_with(name, "requests/") && name[9] && !strchr(name + 9, '/')) {
        if (!get) {
            s_not_allowed(r, xml, "GET, HEAD");
            return;
        }
        s_get_request(o, r, name + 9, xml);
        return;
    }
    s_error(r, xml, 404, "nothing at /open311/v2/%.100s; see discovery.%s for what is here", rest,
            xml ? "xml" : "json");
}

open311 *open311_new(web *w)
{
    open311 *o = hl_calloc(1, sizeof *o);
    o->w = w;
    o->cfg = web_config(w);
    hl_http_route(web_http(w),
                  HL_HTTP_GET | HL_HTTP_POST | HL_HTTP_PUT | HL_HTTP_DELETE | HL_HTTP_PATCH |
                      HL_HTTP_OPTIONS,
                  "/open311/v2/*", s_handle, o);
    return o;
}

void open311_destroy(open311 **op)
{
    free(*op);
    *op = NULL;
}
