/* web.h — the dispatcher's HTTP front end (config dispatcher.http): the
 * managers' dashboard (static page, JSON API, live events), Open311
 * (open311.h) and bearer tokens. Every read or change of tickets is a
 * protocol request run through core in a batch of its own, answered only
 * after that batch's commit; nothing here speaks SQL. */
#ifndef HOTLINE_WEB_H
#define HOTLINE_WEB_H

#include "core.h"
#include "server.h"

#include "hotline/config.h"
#include "hotline/http.h"

#include <cjson/cJSON.h>
#include <uv.h>

typedef struct web web;

/* Listen on addr (host:port). Refuses a non-loopback address without
 * CURVE (development mode), and in secure mode loads the bearer tokens of
 * the keys file (security.clients). Returns NULL and sets *err (caller
 * frees). cfg and sv are borrowed. The server closes itself on SIGTERM and
 * SIGINT, as the dispatcher's sockets do. */
web *web_new(uv_loop_t *loop, const hl_config *cfg, server *sv, const char *addr, char **err);
void web_destroy(web **w);
/* The bound address ("127.0.0.1:7452"). */
const char *web_bound(const web *w);

/* Who an HTTP request acts as, in core's terms. key names the session (in
 * secure mode the principal's key, at most 40 characters); client is the
 * name given in hello (at most 64 characters). */
typedef struct web_who {
    char key[41];
    int role; /* HL_ROLE_* */
    int unit; /* unit index, -1 when none */
    char client[65];
} web_who;

/* One protocol request: op and its arguments (consumed; may be NULL). */
typedef struct web_op {
    const char *op;
    cJSON *args;
} web_op;

/* Called after the batch's commit with one reply per op (the parsed reply
 * objects, {"ok":true,...} or {"ok":false,"error":{...}}); the callee owns
 * them and frees each with cJSON_Delete. */
typedef void (*web_done_fn)(cJSON **replies, size_t n, void *arg);

/* Run ops as who (hello first) in the next batch. done is always called,
 * from a later loop callback, never from inside web_call. */
void web_call(web *w, const web_who *who, web_op *ops, size_t n, web_done_fn done, void *arg);

const hl_config *web_config(const web *w);
hl_http *web_http(web *w);

/* Helpers for handlers, which answer with hl_http_json and
 * hl_http_json_error. The error message of a failed reply ("…"), or a
 * generic one. */
const char *web_reply_message(const cJSON *reply);
/* The HTTP status for a failed reply's error code (not_found → 404 …). */
int web_reply_status(const cJSON *reply);

#endif
