/* hotline/http.h — a small HTTP/1.1 server on a libuv loop, shared by the
 * dispatcher (Open311, the managers' dashboard) and the worker (the
 * handheld page). Requests are parsed by Debian's http-parser; this module
 * owns connections, limits, timeouts, routing, responses and server-sent
 * event streams. It knows nothing of tickets: handlers do. */
#ifndef HOTLINE_HTTP_H
#define HOTLINE_HTTP_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <uv.h>

typedef struct hl_http hl_http;
typedef struct hl_http_req hl_http_req;
typedef struct hl_http_stream hl_http_stream;

/* Limits; a zero field takes the default in brackets. */
typedef struct hl_http_limits {
    size_t max_header;     /* request line and headers, bytes [16384] → 431 */
    size_t max_body;       /* body bytes [65536] → 413 */
    int header_timeout_ms; /* first byte to the end of the headers [10000] → 408 */
    int body_timeout_ms;   /* end of the headers to the end of the body [30000] → 408 */
    int idle_timeout_ms;   /* a kept-alive connection waiting for its next request [30000] */
    int max_conns;         /* open connections; more get 503 and are closed [256] */
    size_t
        max_stream_queue; /* bytes an event stream may have unsent before it is dropped [262144] */
} hl_http_limits;

/* Methods, as bits so a route can take several. */
enum {
    HL_HTTP_GET = 1,
    HL_HTTP_HEAD = 2,
    HL_HTTP_POST = 4,
    HL_HTTP_PUT = 8,
    HL_HTTP_DELETE = 16,
    HL_HTTP_OPTIONS = 32,
    HL_HTTP_PATCH = 64,
    HL_HTTP_OTHER = 128
};

/* A handler answers its request with hl_http_respond (now or later, from
 * another callback of the loop) or turns it into an event stream with
 * hl_http_stream_start. It must answer exactly once: the request stays
 * valid until then, even when the client has gone (the answer is then
 * dropped). */
typedef void (*hl_http_handler)(hl_http_req *r, void *arg);

/* Formats the server's own error answers (404, 405, 408, 413 …) for a
 * path, so an API can keep its error format. Returns the body (caller
 * frees) and sets *ctype, or NULL for the plain-text default. */
typedef char *(*hl_http_error_fn)(const char *path, int status, const char *message,
                                  const char **ctype, void *arg);

/* Parse "host:port" (host an IPv4 address, "localhost", "[v6]" or "*" for
 * every address; port 0 or "*" for any free port). 0, or -1 with *err. */
int hl_http_parse_addr(const char *addr, struct sockaddr_storage *out, char **err);
/* 1 when addr ("host:port") stays on this machine (127.x, localhost, [::1]). */
int hl_http_addr_local(const char *addr);

/* Listen on addr. Returns NULL and sets *err (caller frees) when the
 * address is invalid or cannot be bound. lim may be NULL (defaults). */
hl_http *hl_http_new(uv_loop_t *loop, const char *addr, const hl_http_limits *lim, char **err);
/* Close the listener, every connection and stream (streams' close
 * callbacks run); the loop must run for the handles to finish. Pending
 * requests are answered into the void. Nulls *h. */
void hl_http_destroy(hl_http **h);
/* The bound address, "127.0.0.1:34567" (the real port when 0 was asked). */
const char *hl_http_bound(const hl_http *h);
/* The server name sent in every answer ("hotline-dispatcher/0.1.0"). */
void hl_http_set_server_name(hl_http *h, const char *name);
void hl_http_set_error_fn(hl_http *h, hl_http_error_fn fn, void *arg);

/* Route methods (bits) on a path: exact ("/api/units"), or a prefix when
 * the pattern ends in '*' ("/open311/v2/" with a star). Exact routes are tried
 * first, then prefixes, each in the order added; a path that matches a
 * route of other methods gets 405 with Allow;
 * a path that matches none gets 404. HEAD is served by a GET route (the
 * body is left out). */
void hl_http_route(hl_http *h, int methods, const char *pattern, hl_http_handler fn, void *arg);

/* ---- a request --------------------------------------------------------- */

int hl_http_method(const hl_http_req *r); /* HL_HTTP_* */
const char *hl_http_method_name(const hl_http_req *r);
const char *hl_http_path(const hl_http_req *r);  /* percent-decoded, without the query */
const char *hl_http_query(const hl_http_req *r); /* raw, "" when none */
/* What the route's '*' matched ("services.json" for the route "/open311/v2/" + star). */
const char *hl_http_rest(const hl_http_req *r);
/* A header's value (name case-insensitive), or NULL. */
const char *hl_http_header(const hl_http_req *r, const char *name);
const char *hl_http_body(const hl_http_req *r, size_t *len);
/* The client's address, "127.0.0.1:51234". */
const char *hl_http_peer(const hl_http_req *r);
/* 1 when the client has gone (its answer will be dropped). */
int hl_http_gone(const hl_http_req *r);
/* Bearer token of the Authorization header, or of the access_token query
 * parameter (RFC 6750 §2.3, for EventSource, which cannot set headers);
 * caller frees; NULL when none. */
char *hl_http_bearer(const hl_http_req *r);

/* The value of name in application/x-www-form-urlencoded text (a query or
 * a form body), decoded ('+' is a space); caller frees; NULL when absent.
 * *bad is set (may be NULL) when the text is not valid UTF-8 after
 * decoding, in which case NULL is returned. */
char *hl_http_form_value(const char *text, size_t len, const char *name, int *bad);
/* Percent-decode in place ('+' to space when plus); returns the length. */
size_t hl_http_decode(char *s, int plus);

/* ---- answers ------------------------------------------------------------- */

/* Add a response header (before responding). */
void hl_http_add_header(hl_http_req *r, const char *name, const char *value);
/* The JSON APIs' answers: a JSON value (consumed), never cached; an error
 * as {"error": {"code", "message"}}. */
int hl_http_json(hl_http_req *r, int status, cJSON *body);
int hl_http_json_error(hl_http_req *r, int status, const char *code, const char *message);
/* The JSON APIs' error fn: under /api/, the server's own answers (404, 405,
 * 413 …) in the same shape, code "http_<status>"; elsewhere the plain
 * default. */
char *hl_http_api_error(const char *path, int status, const char *message, const char **ctype,
                        void *arg);
/* Answer with status and body (copied; len may be -1 for strlen). Returns
 * 0, or -1 when the client has gone. Frees the request. */
int hl_http_respond(hl_http_req *r, int status, const char *ctype, const char *body, long len);
/* Answer with a plain-text error through the server's error format. */
int hl_http_error(hl_http_req *r, int status, const char *message);
const char *hl_http_status_text(int status);

/* ---- server-sent events ---------------------------------------------------- */

/* Turn the request into an event stream (200, text/event-stream; the
 * client is told to reconnect after 2 s when it breaks). The
 * stream lives until the client goes, the server drops it (its queue grew
 * past max_stream_queue: a slow reader never holds the loop back) or
 * hl_http_stream_close; on_close is then called once. Returns NULL (and
 * answers 500) when the client has gone. */
hl_http_stream *hl_http_stream_start(hl_http_req *r, void (*on_close)(hl_http_stream *s, void *arg),
                                     void *arg);
/* Queue one event (event and id may be NULL; data may hold newlines). A
 * client that reconnects sends the last id it saw as Last-Event-ID.
 * Returns 0, or -1 when the stream was dropped (on_close has run by then
 * or will). */
int hl_http_stream_send(hl_http_stream *s, const char *event, const char *id, const char *data);
/* A comment line, to keep proxies and the client's timers awake. */
int hl_http_stream_ping(hl_http_stream *s);
void hl_http_stream_close(hl_http_stream *s);
void *hl_http_stream_arg(const hl_http_stream *s);

/* ---- static files compiled in (protocol/embed.sh) ---------------------------- */

typedef struct hl_http_asset {
    const char *path; /* "/index.html" */
    const char *ctype;
    const unsigned char *data;
    size_t len;
} hl_http_asset;

/* Answer r with the asset whose path equals path ("/" means "/index.html");
 * 0 when found and answered, -1 (r untouched) when there is none. */
int hl_http_serve_asset(hl_http_req *r, const char *path, const hl_http_asset *assets, size_t n);

/* Open connections, for tests and logs. */
int hl_http_conns(const hl_http *h);

#endif
