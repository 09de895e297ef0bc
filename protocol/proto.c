/* proto.c — protocol version 1: the op table, envelope parsing and argument
 * validation, replies and pushes. Knows the shape of messages, not what the
 * ops mean: semantics and authorisation belong to the dispatcher. */
#include "hotline/proto.h"
#include "hotline/timefmt.h"
#include "hotline/utf8.h"
#include "hotline/util.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const s_err_codes[HL_E__COUNT] = {
    [HL_OK] = "ok",
    [HL_E_BAD_REQUEST] = "bad_request",
    [HL_E_UNSUPPORTED_VERSION] = "unsupported_version",
    [HL_E_UNKNOWN_OP] = "unknown_op",
    [HL_E_FORBIDDEN] = "forbidden",
    [HL_E_NOT_FOUND] = "not_found",
    [HL_E_CONFLICT] = "conflict",
    [HL_E_UNKNOWN_UNIT] = "unknown_unit",
    [HL_E_UNKNOWN_CATEGORY] = "unknown_category",
    [HL_E_UNKNOWN_CELL] = "unknown_cell",
    [HL_E_TOO_LARGE] = "too_large",
    [HL_E_INTERNAL] = "internal",
};

static const char *const s_err_text[HL_E__COUNT] = {
    [HL_OK] = "no error",
    [HL_E_BAD_REQUEST] = "the request is malformed",
    [HL_E_UNSUPPORTED_VERSION] = "only protocol version 1 is supported",
    [HL_E_UNKNOWN_OP] = "no such operation",
    [HL_E_FORBIDDEN] = "not allowed for this session",
    [HL_E_NOT_FOUND] = "no such ticket",
    [HL_E_CONFLICT] = "not allowed in the ticket's current status",
    [HL_E_UNKNOWN_UNIT] = "no such unit",
    [HL_E_UNKNOWN_CATEGORY] = "no such category",
    [HL_E_UNKNOWN_CELL] = "no such grid cell",
    [HL_E_TOO_LARGE] = "the message is too large",
    [HL_E_INTERNAL] = "the dispatcher failed to process the request",
};

const char *hl_err_code(hl_err e)
{
    return (unsigned)e < HL_E__COUNT ? s_err_codes[e] : "internal";
}

const char *hl_strerror(hl_err e)
{
    return (unsigned)e < HL_E__COUNT ? s_err_text[e] : "unknown error";
}

hl_err hl_err_from_code(const char *code)
{
    for (int i = 0; code && i < HL_E__COUNT; i++)
        if (strcmp(s_err_codes[i], code) == 0) return (hl_err)i;
    return HL_E__COUNT;
}

int hl_role_parse(const char *s)
{
    if (hl_streq(s, "operator")) return HL_ROLE_OPERATOR;
    if (hl_streq(s, "manager")) return HL_ROLE_MANAGER;
    if (hl_streq(s, "worker")) return HL_ROLE_WORKER;
    return 0;
}

const char *hl_role_name(int role)
{
    switch (role) {
    case HL_ROLE_OPERATOR: return "operator";
    case HL_ROLE_MANAGER: return "manager";
    case HL_ROLE_WORKER: return "worker";
    default: return "none";
    }
}

/* ---- the op table ---------------------------------------------------- */

static const char *const s_roles[] = {"operator", "manager", "worker", NULL};
static const char *const s_urgencies[] = {"normal", "urgent", "critical", NULL};
static const char *const s_channels[] = {"phone", "web", "app", "grid", NULL};
static const char *const s_statuses[] = {"triage",   "dispatched", "accepted",  "resolved",
                                         "closed",   "merged",     "cancelled", NULL};
static const char *const s_flags[] = {"yellow", "red", NULL};
static const char *const s_results[] = {"satisfied", "basic", "unsatisfied", NULL};

#define STR(n, req, lo, hi) {n, HL_T_STRING, req, lo, hi, NULL, NULL}
#define INT(n, req, lo, hi) {n, HL_T_INT, req, lo, hi, NULL, NULL}
#define NUM(n, req, lo, hi) {n, HL_T_NUMBER, req, lo, hi, NULL, NULL}
#define ENUM(n, req, v) {n, HL_T_ENUM, req, 0, 0, v, NULL}
#define BOOL(n, req) {n, HL_T_BOOL, req, 0, 0, NULL, NULL}
#define TICKET(n, req) {n, HL_T_TICKET, req, 0, 0, NULL, NULL}
#define OBJ(n, req, sub) {n, HL_T_OBJECT, req, 0, 0, NULL, sub}
#define END {NULL, 0, 0, 0, 0, NULL, NULL}
#define LIMIT INT("limit", 0, 1, 1000)
#define NOTE STR("note", 0, 0, 2000)

static const hl_arg a_none[] = {END};
static const hl_arg a_hello[] = {ENUM("role", 1, s_roles), STR("unit", 0, 1, 64),
                                 STR("client", 0, 0, 64), END};
static const hl_arg a_caller[] = {STR("name", 0, 0, 64), STR("phone", 0, 0, 32), END};
static const hl_arg a_location[] = {STR("cell", 0, 1, 64), NUM("lat", 0, -90, 90),
                                    NUM("lon", 0, -180, 180), STR("address", 0, 0, 500), END};
static const hl_arg a_newticket[] = {STR("category", 1, 1, 64),
                                     STR("description", 1, 1, HL_DESCRIPTION_MAX),
                                     STR("title", 0, 0, 200),
                                     ENUM("urgency", 0, s_urgencies),
                                     ENUM("channel", 0, s_channels),
                                     OBJ("caller", 0, a_caller),
                                     OBJ("location", 0, a_location),
                                     END};
static const hl_arg a_create[] = {OBJ("ticket", 1, a_newticket), END};
static const hl_arg a_get[] = {TICKET("ticket", 1), END};
static const hl_arg a_list[] = {{"status", HL_T_ENUMARRAY, 0, 0, 7, s_statuses, NULL},
                                STR("unit", 0, 1, 64),
                                STR("phone", 0, 1, 32),
                                BOOL("overdue", 0),
                                ENUM("flag", 0, s_flags),
                                LIMIT,
                                INT("after", 0, 0, 9007199254740991.0),
                                END};
static const hl_arg a_dispatch[] = {TICKET("ticket", 1), STR("unit", 1, 1, 64),
                                    {"co", HL_T_STRARRAY, 0, 0, 16, NULL, NULL}, NOTE, END};
static const hl_arg a_callback[] = {TICKET("ticket", 1), ENUM("result", 1, s_results), NOTE, END};
static const hl_arg a_merge[] = {TICKET("ticket", 1), TICKET("into", 1), NOTE, END};
static const hl_arg a_cancel[] = {TICKET("ticket", 1), STR("reason", 1, 1, 2000), END};
static const hl_arg a_note[] = {TICKET("ticket", 1), STR("text", 1, 1, 2000), END};
static const hl_arg a_supervise[] = {TICKET("ticket", 1), STR("note", 1, 1, 2000), END};
static const hl_arg a_decide[] = {TICKET("ticket", 1), BOOL("approve", 1), NOTE, END};
static const hl_arg a_alerts[] = {STR("unit", 0, 1, 64), ENUM("level", 0, s_flags), LIMIT,
                                  INT("after", 0, 0, 9007199254740991.0), END};
static const hl_arg a_stats[] = {{"since", HL_T_TIME, 0, 0, 0, NULL, NULL},
                                 {"until", HL_T_TIME, 0, 0, 0, NULL, NULL},
                                 STR("unit", 0, 1, 64),
                                 END};
static const hl_arg a_events[] = {INT("after", 1, 0, 9007199254740991.0), LIMIT, END};
static const hl_arg a_inbox[] = {INT("after", 1, 0, 9007199254740991.0), LIMIT, END};
static const hl_arg a_sign[] = {TICKET("ticket", 1), NOTE, END};
static const hl_arg a_finish[] = {TICKET("ticket", 1), STR("result", 1, 1, 2000), END};
static const hl_arg a_return[] = {TICKET("ticket", 1), STR("reason", 1, 1, 2000), END};
static const hl_arg a_extend[] = {TICKET("ticket", 1),
                                  {"until", HL_T_TIME, 0, 0, 0, NULL, NULL},
                                  {"by", HL_T_DURATION, 0, 0, 0, NULL, NULL},
                                  STR("reason", 1, 1, 2000),
                                  END};

#define OPS_CENTRE (HL_ROLE_OPERATOR | HL_ROLE_MANAGER)

const hl_opspec hl_ops[] = {
    {"hello", HL_ROLE_ANY, 0, a_hello},
    {"ping", HL_ROLE_ANY, 0, a_none},
    {"units", HL_ROLE_ANY, 0, a_none},
    {"create", HL_ROLE_ANY, 1, a_create},
    {"get", HL_ROLE_ANY, 0, a_get},
    {"list", HL_ROLE_ANY, 0, a_list},
    {"dispatch", OPS_CENTRE, 1, a_dispatch},
    {"callback", OPS_CENTRE, 1, a_callback},
    {"merge", OPS_CENTRE, 1, a_merge},
    {"cancel", OPS_CENTRE, 1, a_cancel},
    {"note", HL_ROLE_ANY, 1, a_note},
    {"supervise", HL_ROLE_MANAGER, 1, a_supervise},
    {"decide", HL_ROLE_MANAGER, 1, a_decide},
    {"alerts", HL_ROLE_MANAGER, 0, a_alerts},
    {"stats", HL_ROLE_MANAGER, 0, a_stats},
    {"events", HL_ROLE_MANAGER, 0, a_events},
    {"inbox", HL_ROLE_WORKER, 0, a_inbox},
    {"sign", HL_ROLE_WORKER, 1, a_sign},
    {"finish", HL_ROLE_WORKER, 1, a_finish},
    {"return", HL_ROLE_WORKER, 1, a_return},
    {"extend", HL_ROLE_WORKER, 1, a_extend},
    {NULL, 0, 0, NULL},
};

const hl_opspec *hl_op_find(const char *name)
{
    for (const hl_opspec *op = hl_ops; name && op->name; op++)
        if (strcmp(op->name, name) == 0) return op;
    return NULL;
}

/* ---- validation ------------------------------------------------------ */

static int s_in_values(const char *s, const char *const *values)
{
    for (; *values; values++)
        if (strcmp(s, *values) == 0) return 1;
    return 0;
}

static void s_values_list(const char *const *values, char *buf, size_t size)
{
    size_t n = 0;
    buf[0] = '\0';
    for (int i = 0; values[i] && n + 1 < size; i++) {
        int w = snprintf(buf + n, size - n, "%s%s", i ? ", " : "", values[i]);
        if (w < 0) break;
        n += (size_t)w;
    }
}

static int s_is_integral(const cJSON *v, double lo, double hi)
{
    if (!cJSON_IsNumber(v)) return 0;
    double d = v->valuedouble;
    return isfinite(d) && d == floor(d) && d >= lo && d <= hi;
}

/* "path.name", or "name" at the top, cut to size. By hand: it runs for
 * every argument of every request, where snprintf was a tenth of a
 * create's parsing. */
static void s_join(char *buf, size_t size, const char *path, const char *name)
{
    size_t n = 0;
    for (const char *p = path; p && *p && n + 1 < size; p++) buf[n++] = *p;
    if (n && n + 1 < size) buf[n++] = '.';
    for (const char *p = name; *p && n + 1 < size; p++) buf[n++] = *p;
    buf[n] = '\0';
}

static hl_err s_check_one(const cJSON *v, const hl_arg *a, const char *path, char *msg,
                          size_t msgsize)
{
    char vals[200];
    switch (a->type) {
    case HL_T_STRING: {
        size_t n = cJSON_IsString(v) ? hl_utf8_count(v->valuestring) : 0;
        if (!cJSON_IsString(v) || n < (size_t)a->min || n > (size_t)a->max) {
            snprintf(msg, msgsize, "%s: must be a string of %.0f to %.0f characters", path,
                     a->min, a->max);
            return HL_E_BAD_REQUEST;
        }
        return HL_OK;
    }
    case HL_T_INT:
        if (!s_is_integral(v, a->min, a->max)) {
            snprintf(msg, msgsize, "%s: must be an integer from %.0f to %.0f", path, a->min,
                     a->max);
            return HL_E_BAD_REQUEST;
        }
        return HL_OK;
    case HL_T_NUMBER:
        if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < a->min ||
            v->valuedouble > a->max) {
            snprintf(msg, msgsize, "%s: must be a number from %g to %g", path, a->min, a->max);
            return HL_E_BAD_REQUEST;
        }
        return HL_OK;
    case HL_T_BOOL:
        if (!cJSON_IsBool(v)) {
            snprintf(msg, msgsize, "%s: must be true or false", path);
            return HL_E_BAD_REQUEST;
        }
        return HL_OK;
    case HL_T_ENUM:
        if (!cJSON_IsString(v) || !s_in_values(v->valuestring, a->values)) {
            s_values_list(a->values, vals, sizeof vals);
            snprintf(msg, msgsize, "%s: must be one of %s", path, vals);
            return HL_E_BAD_REQUEST;
        }
        return HL_OK;
    case HL_T_ENUMARRAY:
    case HL_T_STRARRAY: {
        int n = cJSON_IsArray(v) ? cJSON_GetArraySize(v) : -1;
        if (n < 0 || n > (int)a->max) {
            snprintf(msg, msgsize, "%s: must be an array of at most %.0f strings", path, a->max);
            return HL_E_BAD_REQUEST;
        }
        const cJSON *it;
        cJSON_ArrayForEach(it, v)
        {
            int good = cJSON_IsString(it);
            if (good && a->type == HL_T_ENUMARRAY) good = s_in_values(it->valuestring, a->values);
            if (good && a->type == HL_T_STRARRAY) {
                size_t len = hl_utf8_count(it->valuestring);
                good = len >= 1 && len <= 64;
            }
            if (!good) {
                if (a->type == HL_T_ENUMARRAY) {
                    s_values_list(a->values, vals, sizeof vals);
                    snprintf(msg, msgsize, "%s: every item must be one of %s", path, vals);
                } else {
                    snprintf(msg, msgsize, "%s: every item must be a string of 1 to 64 characters",
                             path);
                }
                return HL_E_BAD_REQUEST;
            }
        }
        return HL_OK;
    }
    case HL_T_TICKET:
        if (s_is_integral(v, 1, 9007199254740991.0)) return HL_OK;
        if (cJSON_IsString(v) && v->valuestring[0] && strlen(v->valuestring) <= 32) return HL_OK;
        snprintf(msg, msgsize, "%s: must be a ticket id (a positive integer) or a ticket number",
                 path);
        return HL_E_BAD_REQUEST;
    case HL_T_TIME: {
        hl_ms t;
        if (!cJSON_IsString(v) || hl_time_parse(v->valuestring, &t) != 0) {
            snprintf(msg, msgsize, "%s: must be an RFC 3339 time such as 2026-11-27T05:40:00.000Z",
                     path);
            return HL_E_BAD_REQUEST;
        }
        return HL_OK;
    }
    case HL_T_DURATION: {
        hl_duration d;
        if (!cJSON_IsString(v) || hl_duration_parse(v->valuestring, &d) != 0) {
            snprintf(msg, msgsize,
                     "%s: must be a duration such as \"90s\", \"30m\", \"4h\", \"2d\", \"4wh\" "
                     "or \"2wd\"",
                     path);
            return HL_E_BAD_REQUEST;
        }
        return HL_OK;
    }
    case HL_T_OBJECT:
        if (!cJSON_IsObject(v)) {
            snprintf(msg, msgsize, "%s: must be an object", path);
            return HL_E_BAD_REQUEST;
        }
        return hl_args_check(v, a->sub, path, msg, msgsize);
    case HL_T_ANY: return HL_OK;
    }
    return HL_OK;
}

hl_err hl_args_check(const cJSON *obj, const hl_arg *args, const char *path, char *msg,
                     size_t msgsize)
{
    for (const hl_arg *a = args; a->name; a++) {
        char sub[160];
        s_join(sub, sizeof sub, path, a->name);
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, a->name);
        if (!v || cJSON_IsNull(v)) {
            if (a->required) {
                snprintf(msg, msgsize, "%s: is required", sub);
                return HL_E_BAD_REQUEST;
            }
            continue;
        }
        hl_err e = s_check_one(v, a, sub, msg, msgsize);
        if (e != HL_OK) return e;
    }
    return HL_OK;
}

/* Failure after the id was read: keep root so req->id stays valid for the
 * reply's "re"; the caller frees with hl_request_free as always. */
static hl_err s_fail_keep(hl_request *req, hl_err e)
{
    req->spec = NULL;
    return e;
}

hl_err hl_request_parse(const void *data, size_t len, size_t max, hl_request *req, char *msg,
                        size_t msgsize)
{
    memset(req, 0, sizeof *req);
    if (len > max) {
        snprintf(msg, msgsize, "message of %zu bytes exceeds the limit of %zu bytes", len, max);
        return HL_E_TOO_LARGE;
    }
    if (!hl_utf8_valid(data, len)) {
        snprintf(msg, msgsize, "message is not valid UTF-8 text");
        return HL_E_BAD_REQUEST;
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(data, len, &end, 0);
    if (!root) {
        snprintf(msg, msgsize, "message is not valid JSON (near byte %zu)",
                 end ? (size_t)(end - (const char *)data) : (size_t)0);
        return HL_E_BAD_REQUEST;
    }
    if (end && (size_t)(end - (const char *)data) < len) {
        const char *p = end;
        while ((size_t)(p - (const char *)data) < len && (*p == ' ' || *p == '\n' || *p == '\r' ||
                                                          *p == '\t'))
            p++;
        if ((size_t)(p - (const char *)data) < len) {
            cJSON_Delete(root);
            snprintf(msg, msgsize, "message has text after the JSON object");
            return HL_E_BAD_REQUEST;
        }
    }
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        snprintf(msg, msgsize, "message must be a JSON object");
        return HL_E_BAD_REQUEST;
    }
    req->root = root;
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(root, "id");
    if (!cJSON_IsString(id) || id->valuestring[0] == '\0' ||
        hl_utf8_count(id->valuestring) > HL_ID_MAX) {
        snprintf(msg, msgsize, "\"id\" must be a string of 1 to %d characters", HL_ID_MAX);
        goto fail;
    }
    req->id = id->valuestring;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "v");
    if (!cJSON_IsNumber(v)) {
        snprintf(msg, msgsize, "\"v\" must be the protocol version number 1");
        goto fail_id;
    }
    if (v->valuedouble != HL_PROTO_VERSION) {
        snprintf(msg, msgsize, "protocol version %g is not supported; use \"v\": 1",
                 v->valuedouble);
        return s_fail_keep(req, HL_E_UNSUPPORTED_VERSION);
    }
    const cJSON *op = cJSON_GetObjectItemCaseSensitive(root, "op");
    if (!cJSON_IsString(op) || op->valuestring[0] == '\0') {
        snprintf(msg, msgsize, "\"op\" must be the name of an operation");
        goto fail_id;
    }
    req->op = op->valuestring;
    req->spec = hl_op_find(req->op);
    if (!req->spec) {
        char shown[40];
        hl_strlcpy(shown, req->op, sizeof shown);
        snprintf(msg, msgsize, "unknown operation \"%s\"", shown);
        return s_fail_keep(req, HL_E_UNKNOWN_OP);
    }
    const cJSON *idem = cJSON_GetObjectItemCaseSensitive(root, "idem");
    if (idem && !cJSON_IsNull(idem)) {
        if (!cJSON_IsString(idem) || idem->valuestring[0] == '\0' ||
            hl_utf8_count(idem->valuestring) > HL_IDEM_MAX) {
            snprintf(msg, msgsize, "\"idem\" must be a string of 1 to %d characters",
                     HL_IDEM_MAX);
            goto fail_id;
        }
        req->idem = idem->valuestring;
    }
    hl_err e = hl_args_check(root, req->spec->args, "", msg, msgsize);
    if (e != HL_OK) return s_fail_keep(req, e);
    return HL_OK;
fail_id:
    return s_fail_keep(req, HL_E_BAD_REQUEST);
fail:
    cJSON_Delete(root);
    memset(req, 0, sizeof *req);
    return HL_E_BAD_REQUEST;
}

void hl_request_free(hl_request *req)
{
    if (req->root) cJSON_Delete(req->root);
    memset(req, 0, sizeof *req);
}

/* ---- building messages ----------------------------------------------- */

static void s_move_members(cJSON *dst, cJSON *src)
{
    if (!src) return;
    cJSON *it = src->child;
    while (it) {
        cJSON *next = it->next;
        cJSON *detached = cJSON_DetachItemViaPointer(src, it);
        /* a member named like an envelope key would shadow it: drop it */
        if (cJSON_GetObjectItemCaseSensitive(dst, detached->string))
            cJSON_Delete(detached);
        else
            cJSON_AddItemToObject(dst, detached->string, detached);
        it = next;
    }
    cJSON_Delete(src);
}

static cJSON *s_obj(void)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) hl_panic("out of memory building JSON");
    return o;
}

char *hl_reply_ok(const char *re, cJSON *result)
{
    cJSON *o = s_obj();
    cJSON_AddNumberToObject(o, "v", HL_PROTO_VERSION);
    hl_json_add_str(o, "re", re);
    cJSON_AddTrueToObject(o, "ok");
    s_move_members(o, result);
    char *text = hl_json_print(o);
    cJSON_Delete(o);
    return text;
}

char *hl_reply_ok_text(const char *re, const char *result_text)
{
    hl_buf b;
    hl_buf_init(&b);
    hl_buf_adds(&b, "{\"v\":1,\"re\":");
    hl_json_write_str(&b, re);
    hl_buf_adds(&b, ",\"ok\":true");
    /* the result's members: its text inside the outer braces */
    const char *open = result_text ? strchr(result_text, '{') : NULL;
    const char *close = open ? strrchr(open, '}') : NULL;
    if (open && close) {
        const char *in = open + 1;
        while (in < close && (*in == ' ' || *in == '\n')) in++;
        if (in < close) {
            hl_buf_addc(&b, ',');
            hl_buf_add(&b, in, (size_t)(close - in));
        }
    }
    hl_buf_addc(&b, '}');
    return hl_buf_steal(&b);
}

char *hl_reply_error(const char *re, hl_err code, const char *message)
{
    cJSON *o = s_obj();
    cJSON_AddNumberToObject(o, "v", HL_PROTO_VERSION);
    hl_json_add_str(o, "re", re);
    cJSON_AddFalseToObject(o, "ok");
    cJSON *err = cJSON_AddObjectToObject(o, "error");
    cJSON_AddStringToObject(err, "code", hl_err_code(code));
    cJSON_AddStringToObject(err, "message", message && *message ? message : hl_strerror(code));
    char *text = hl_json_print(o);
    cJSON_Delete(o);
    return text;
}

char *hl_push_build(const char *kind, cJSON *fields)
{
    cJSON *o = s_obj();
    cJSON_AddNumberToObject(o, "v", HL_PROTO_VERSION);
    cJSON_AddStringToObject(o, "push", kind);
    s_move_members(o, fields);
    char *text = hl_json_print(o);
    cJSON_Delete(o);
    return text;
}

char *hl_request_build(const char *id, const char *op, cJSON *args)
{
    cJSON *o = s_obj();
    cJSON_AddNumberToObject(o, "v", HL_PROTO_VERSION);
    cJSON_AddStringToObject(o, "id", id);
    cJSON_AddStringToObject(o, "op", op);
    s_move_members(o, args);
    char *text = hl_json_print(o);
    cJSON_Delete(o);
    return text;
}

int hl_reply_parse(const void *data, size_t len, hl_reply *rep)
{
    memset(rep, 0, sizeof *rep);
    cJSON *root = cJSON_ParseWithLength(data, len);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return -1;
    }
    rep->root = root;
    rep->push = hl_json_str(root, "push");
    if (rep->push) return 0;
    const cJSON *ok = cJSON_GetObjectItemCaseSensitive(root, "ok");
    if (!cJSON_IsBool(ok)) {
        hl_reply_free(rep);
        return -1;
    }
    rep->re = hl_json_str(root, "re");
    rep->ok = cJSON_IsTrue(ok);
    if (!rep->ok) {
        const cJSON *err = cJSON_GetObjectItemCaseSensitive(root, "error");
        rep->code = hl_json_str(err, "code");
        rep->message = hl_json_str(err, "message");
        rep->err = hl_err_from_code(rep->code);
        if (rep->err == HL_E__COUNT) rep->err = HL_E_INTERNAL;
        if (!rep->code) rep->code = "internal";
        if (!rep->message) rep->message = "";
    }
    return 0;
}

void hl_reply_free(hl_reply *rep)
{
    if (rep->root) cJSON_Delete(rep->root);
    memset(rep, 0, sizeof *rep);
}

/* ---- JSON helpers ---------------------------------------------------- */

const char *hl_json_str(const cJSON *obj, const char *key)
{
    const cJSON *v = obj ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

int hl_json_int(const cJSON *obj, const char *key, int64_t *out)
{
    const cJSON *v = obj ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
    if (!s_is_integral(v, -9007199254740991.0, 9007199254740991.0)) return -1;
    *out = (int64_t)v->valuedouble;
    return 0;
}

int hl_json_bool(const cJSON *obj, const char *key, int *out)
{
    const cJSON *v = obj ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
    if (!cJSON_IsBool(v)) return -1;
    *out = cJSON_IsTrue(v);
    return 0;
}

int hl_json_num(const cJSON *obj, const char *key, double *out)
{
    const cJSON *v = obj ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) return -1;
    *out = v->valuedouble;
    return 0;
}

void hl_json_add_str(cJSON *obj, const char *key, const char *s)
{
    if (s)
        cJSON_AddStringToObject(obj, key, s);
    else
        cJSON_AddNullToObject(obj, key);
}

void hl_json_add_int(cJSON *obj, const char *key, int64_t v)
{
    cJSON_AddNumberToObject(obj, key, (double)v);
}

void hl_json_add_time(cJSON *obj, const char *key, int64_t t)
{
    if (t <= 0) {
        cJSON_AddNullToObject(obj, key);
        return;
    }
    char buf[HL_TIME_LEN];
    cJSON_AddStringToObject(obj, key, hl_time_format(t, buf));
}

static void s_print(hl_buf *b, const cJSON *it)
{
    switch (it->type & 0xff) {
    case cJSON_False: hl_buf_add(b, "false", 5); break;
    case cJSON_True: hl_buf_add(b, "true", 4); break;
    case cJSON_NULL: hl_buf_add(b, "null", 4); break;
    case cJSON_Number: hl_json_write_num(b, it->valuedouble); break;
    case cJSON_String: hl_json_write_str(b, it->valuestring ? it->valuestring : ""); break;
    case cJSON_Raw: hl_buf_adds(b, it->valuestring ? it->valuestring : ""); break;
    case cJSON_Array:
    case cJSON_Object: {
        int obj = (it->type & 0xff) == cJSON_Object;
        hl_buf_addc(b, obj ? '{' : '[');
        for (const cJSON *c = it->child; c; c = c->next) {
            if (c != it->child) hl_buf_addc(b, ',');
            if (obj) {
                hl_json_write_str(b, c->string ? c->string : "");
                hl_buf_addc(b, ':');
            }
            s_print(b, c);
        }
        hl_buf_addc(b, obj ? '}' : ']');
        break;
    }
    default: hl_buf_add(b, "null", 4); break;
    }
}

/* The text cJSON_PrintUnformatted gives, written without its per-number
 * sprintf and sscanf round trip (a third of printing a ticket). */
char *hl_json_print(const cJSON *obj)
{
    if (!obj) hl_panic("hl_json_print: no JSON to print");
    hl_buf b;
    hl_buf_init(&b);
    s_print(&b, obj);
    return hl_buf_steal(&b);
}

void hl_json_write_str(hl_buf *b, const char *s)
{
    if (!s) {
        hl_buf_add(b, "null", 4);
        return;
    }
    static const char hex[] = "0123456789abcdef";
    hl_buf_addc(b, '"');
    const unsigned char *run = (const unsigned char *)s, *p = run;
    for (;; p++) {
        unsigned char c = *p;
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        hl_buf_add(b, run, (size_t)(p - run));
        if (!c) break;
        char esc[6] = {'\\', 0, 0, 0, 0, 0};
        size_t n = 2;
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            n = 6;
        }
        hl_buf_add(b, esc, n);
        run = p + 1;
    }
    hl_buf_addc(b, '"');
}

void hl_json_write_int(hl_buf *b, int64_t v)
{
    /* what cJSON prints for the double: the digits, below 10^15 */
    if (v > 999999999999999LL || v < -999999999999999LL) {
        hl_json_write_num(b, (double)v);
        return;
    }
    char buf[24], *p = buf + sizeof buf;
    uint64_t u = v < 0 ? (uint64_t)(-v) : (uint64_t)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0) *--p = '-';
    hl_buf_add(b, p, (size_t)(buf + sizeof buf - p));
}

void hl_json_write_num(hl_buf *b, double v)
{
    /* as cJSON prints a number: %1.15g, or %1.17g when that does not read
     * back (nearly) equal; an integer below 10^15 is the same digits */
    if (!isfinite(v)) {
        hl_buf_add(b, "null", 4);
        return;
    }
    if (v > -1e15 && v < 1e15 && v == (double)(int64_t)v && !(v == 0 && signbit(v))) {
        hl_json_write_int(b, (int64_t)v);
        return;
    }
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%1.15g", v);
    double back = strtod(buf, NULL);
    double big = fabs(back) > fabs(v) ? fabs(back) : fabs(v);
    if (!(fabs(back - v) <= big * DBL_EPSILON)) n = snprintf(buf, sizeof buf, "%1.17g", v);
    hl_buf_add(b, buf, (size_t)n);
}

void hl_json_write_time(hl_buf *b, int64_t t)
{
    if (t <= 0) {
        hl_buf_add(b, "null", 4);
        return;
    }
    char buf[HL_TIME_LEN + 2];
    buf[0] = '"';
    hl_time_format(t, buf + 1);
    buf[HL_TIME_LEN] = '"';
    hl_buf_add(b, buf, HL_TIME_LEN + 1);
}
