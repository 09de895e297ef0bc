/* http.c — the HTTP/1.1 server of hotline/http.h: a libuv listener,
 * connections parsed by http-parser, limits and timeouts, routing,
 * responses and server-sent event streams. Must not know what a ticket is,
 * and must never block the loop: a slow client is timed out or dropped. */
#include "hotline/http.h"
#include "hotline/proto.h"

#include "hotline/utf8.h"
#include "hotline/util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <http_parser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define LINGER_MS 2000 /* after an answer that closes: read and drop, then close */

typedef struct route {
    int methods;
    char *pattern;
    size_t len;
    int prefix;
    hl_http_handler fn;
    void *arg;
} route;

typedef struct conn conn;

struct hl_http {
    uv_loop_t *loop;
    uv_tcp_t listener;
    hl_http_limits lim;
    char bound[80];
    char *server_name;
    route *routes;
    size_t nroutes;
    hl_http_error_fn errfn;
    void *errarg;
    conn *conns;
    int nconns;
    int destroyed;
};

typedef struct hdr {
    char *name;
    char *value;
} hdr;

struct hl_http_req {
    conn *c;
    hl_http *h;
    int method;
    char method_name[16];
    hl_buf url;
    char *path;
    char *query;
    const char *rest;
    hdr *hdrs;
    size_t nhdrs, caphdrs;
    hl_buf body;
    hl_buf extra; /* response headers added by the handler */
    int keep_alive;
    int head;
    int handed; /* given to a handler, not yet answered */
};

struct hl_http_stream {
    conn *c;
    void (*on_close)(hl_http_stream *s, void *arg);
    void *arg;
};

enum {
    C_IDLE,     /* waiting for a request */
    C_HEADERS,  /* reading a request line and headers */
    C_BODY,     /* reading a body */
    C_HANDLING, /* a handler has the request */
    C_STREAM,   /* an event stream */
    C_CLOSING   /* answered for the last time; draining */
};

struct conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    hl_http *h;
    conn *prev, *next;
    http_parser parser;
    char peer[64];
    int state;
    hl_buf in; /* bytes read and not parsed yet */
    size_t header_bytes;
    int field_open; /* the last header callback was a field */
    hl_http_req *req;
    int err_status; /* an error found by a parser callback */
    const char *err_msg;
    int processing; /* inside s_process */
    int closed;     /* uv_close called */
    int handles;    /* handles not yet closed (tcp, timer) */
    hl_http_stream *stream;
};

static const http_parser_settings s_settings;

/* ---- small helpers --------------------------------------------------------------- */

const char *hl_http_status_text(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 204:
        return "No Content";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 411:
        return "Length Required";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 422:
        return "Unprocessable Content";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 503:
        return "Service Unavailable";
    default:
        return "Unknown";
    }
}

static int s_method_bit(unsigned m)
{
    switch (m) {
    case HTTP_GET:
        return HL_HTTP_GET;
    case HTTP_HEAD:
        return HL_HTTP_HEAD;
    case HTTP_POST:
        return HL_HTTP_POST;
    case HTTP_PUT:
        return HL_HTTP_PUT;
    case HTTP_DELETE:
        return HL_HTTP_DELETE;
    case HTTP_OPTIONS:
        return HL_HTTP_OPTIONS;
    case HTTP_PATCH:
        return HL_HTTP_PATCH;
    default:
        return HL_HTTP_OTHER;
    }
}

static int s_hex(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

size_t hl_http_decode(char *s, int plus)
{
    char *o = s;
    for (const char *p = s; *p; p++) {
        if (*p == '%' && s_hex(p[1]) >= 0 && s_hex(p[2]) >= 0) {
            *o++ = (char)(s_hex(p[1]) * 16 + s_hex(p[2]));
            p += 2;
        } else if (*p == '+' && plus) {
            *o++ = ' ';
        } else {
            *o++ = *p;
        }
    }
    *o = '\0';
    return (size_t)(o - s);
}

char *hl_http_form_value(const char *text, size_t len, const char *name, int *bad)
{
    if (bad) *bad = 0;
    if (!text) return NULL;
    size_t nlen = strlen(name);
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(stop - p));
        const char *kend = eq ? eq : stop;
        char *key = hl_strndup(p, (size_t)(kend - p));
        hl_http_decode(key, 1);
        int match = strlen(key) == nlen && memcmp(key, name, nlen) == 0;
        free(key);
        if (match) {
            char *v = eq ? hl_strndup(eq + 1, (size_t)(stop - eq - 1)) : hl_strdup("");
            size_t vlen = hl_http_decode(v, 1);
            if (memchr(v, '\0', vlen) || !hl_utf8_valid(v, vlen)) {
                if (bad) *bad = 1;
                free(v);
                return NULL;
            }
            return v;
        }
        p = stop + 1;
    }
    return NULL;
}

int hl_http_addr_local(const char *addr)
{
    if (!addr) return 0;
    return hl_starts_with(addr, "127.") || hl_starts_with(addr, "localhost:") ||
           hl_starts_with(addr, "[::1]:");
}

int hl_http_parse_addr(const char *addr, struct sockaddr_storage *out, char **err)
{
    const char *colon = addr ? strrchr(addr, ':') : NULL;
    if (!colon || colon == addr) {
        *err = hl_sprintf("HTTP address \"%s\": give host:port, e.g. 127.0.0.1:7452",
                          addr ? addr : "");
        return -1;
    }
    char host[64];
    size_t hl = (size_t)(colon - addr);
    if (hl >= sizeof host) {
        *err = hl_sprintf("HTTP address \"%s\": the host is too long", addr);
        return -1;
    }
    memcpy(host, addr, hl);
    host[hl] = '\0';
    const char *ps = colon + 1;
    long port = 0;
    if (strcmp(ps, "*") != 0) {
        char *e;
        port = strtol(ps, &e, 10);
        if (!*ps || *e || port < 0 || port > 65535) {
            *err = hl_sprintf("HTTP address \"%s\": the port must be 0..65535 or *", addr);
            return -1;
        }
    }
    memset(out, 0, sizeof *out);
    if (host[0] == '[') {
        size_t n = strlen(host);
        if (n < 3 || host[n - 1] != ']') {
            *err = hl_sprintf("HTTP address \"%s\": an IPv6 host is written [::1]", addr);
            return -1;
        }
        host[n - 1] = '\0';
        if (uv_ip6_addr(host + 1, (int)port, (struct sockaddr_in6 *)out) != 0) {
            *err = hl_sprintf("HTTP address \"%s\": not an IPv6 address", addr);
            return -1;
        }
        return 0;
    }
    const char *ip = host;
    if (strcmp(host, "*") == 0) ip = "0.0.0.0";
    if (strcmp(host, "localhost") == 0) ip = "127.0.0.1";
    if (uv_ip4_addr(ip, (int)port, (struct sockaddr_in *)out) != 0) {
        *err = hl_sprintf("HTTP address \"%s\": the host must be an IPv4 address, localhost, "
                          "[IPv6] or *",
                          addr);
        return -1;
    }
    return 0;
}

static void s_addr_text(const struct sockaddr_storage *sa, char *buf, size_t size)
{
    char ip[64] = "?";
    int port = 0;
    if (sa->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)sa;
        uv_ip4_name(a, ip, sizeof ip);
        port = ntohs(a->sin_port);
        snprintf(buf, size, "%s:%d", ip, port);
    } else if (sa->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)sa;
        uv_ip6_name(a, ip, sizeof ip);
        port = ntohs(a->sin6_port);
        snprintf(buf, size, "[%s]:%d", ip, port);
    } else {
        snprintf(buf, size, "?");
    }
}

/* ---- requests -------------------------------------------------------------------- */

static hl_http_req *s_req_new(conn *c)
{
    hl_http_req *r = hl_calloc(1, sizeof *r);
    r->c = c;
    r->h = c->h;
    hl_buf_init(&r->url);
    hl_buf_init(&r->body);
    hl_buf_init(&r->extra);
    return r;
}

static void s_req_free(hl_http_req *r)
{
    if (!r) return;
    hl_buf_free(&r->url);
    hl_buf_free(&r->body);
    hl_buf_free(&r->extra);
    free(r->path);
    free(r->query);
    for (size_t i = 0; i < r->nhdrs; i++) {
        free(r->hdrs[i].name);
        free(r->hdrs[i].value);
    }
    free(r->hdrs);
    free(r);
}

int hl_http_method(const hl_http_req *r)
{
    return r->method;
}

const char *hl_http_method_name(const hl_http_req *r)
{
    return r->method_name;
}

const char *hl_http_path(const hl_http_req *r)
{
    return r->path ? r->path : "/";
}

const char *hl_http_query(const hl_http_req *r)
{
    return r->query ? r->query : "";
}

const char *hl_http_rest(const hl_http_req *r)
{
    return r->rest ? r->rest : "";
}

const char *hl_http_header(const hl_http_req *r, const char *name)
{
    for (size_t i = 0; i < r->nhdrs; i++)
        if (strcasecmp(r->hdrs[i].name, name) == 0) return r->hdrs[i].value;
    return NULL;
}

const char *hl_http_body(const hl_http_req *r, size_t *len)
{
    if (len) *len = r->body.len;
    return r->body.data ? r->body.data : "";
}

const char *hl_http_peer(const hl_http_req *r)
{
    return r->c ? r->c->peer : "?";
}

int hl_http_gone(const hl_http_req *r)
{
    return !r->c || r->c->closed;
}

char *hl_http_bearer(const hl_http_req *r)
{
    const char *a = hl_http_header(r, "Authorization");
    if (a && strncasecmp(a, "Bearer ", 7) == 0) {
        a += 7;
        while (*a == ' ')
            a++;
        size_t n = strlen(a);
        while (n > 0 && a[n - 1] == ' ')
            n--;
        return n ? hl_strndup(a, n) : NULL;
    }
    const char *q = hl_http_query(r);
    char *t = hl_http_form_value(q, strlen(q), "access_token", NULL);
    if (t && !*t) {
        free(t);
        t = NULL;
    }
    return t;
}

void hl_http_add_header(hl_http_req *r, const char *name, const char *value)
{
    /* no header injection: a value with a line break is cut there */
    size_t n = strcspn(value, "\r\n");
    hl_buf_printf(&r->extra, "%s: %.*s\r\n", name, (int)n, value);
}

/* ---- connections ------------------------------------------------------------------- */

static void s_conn_free_if_done(conn *c)
{
    if (c->handles > 0 || (c->req && c->req->handed)) return;
    if (c->req) s_req_free(c->req);
    hl_buf_free(&c->in);
    free(c->stream);
    free(c);
}

static void s_on_handle_closed(uv_handle_t *hd)
{
    conn *c = hd->data;
    c->handles--;
    s_conn_free_if_done(c);
}

static void s_close(conn *c)
{
    if (c->closed) return;
    c->closed = 1;
    hl_http *h = c->h;
    if (h) {
        if (c->prev)
            c->prev->next = c->next;
        else
            h->conns = c->next;
        if (c->next) c->next->prev = c->prev;
        h->nconns--;
    }
    if (c->stream && c->stream->on_close) {
        void (*fn)(hl_http_stream *, void *) = c->stream->on_close;
        c->stream->on_close = NULL;
        fn(c->stream, c->stream->arg);
    }
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, s_on_handle_closed);
    uv_close((uv_handle_t *)&c->tcp, s_on_handle_closed);
}

static void s_on_timer(uv_timer_t *t);

static void s_arm(conn *c, int ms)
{
    if (c->closed) return;
    uv_timer_stop(&c->timer);
    if (ms > 0) uv_timer_start(&c->timer, s_on_timer, (uint64_t)ms, 0);
}

typedef struct wreq {
    uv_write_t w;
    conn *c;
    int close_after;
    char data[];
} wreq;

static void s_on_shutdown(uv_shutdown_t *sr, int status)
{
    conn *c = sr->data;
    free(sr);
    if (status != 0 || c->closed) {
        s_close(c);
        return;
    }
    /* drain what the client still sends (a body we refused) for a moment,
     * so the answer is not lost to a reset */
    s_arm(c, LINGER_MS);
}

static void s_on_write(uv_write_t *w, int status)
{
    wreq *wr = (wreq *)w;
    conn *c = wr->c;
    int close_after = wr->close_after;
    free(wr);
    if (c->closed) return;
    if (status != 0) {
        s_close(c);
        return;
    }
    if (close_after) {
        uv_shutdown_t *sr = hl_malloc(sizeof *sr);
        sr->data = c;
        if (uv_shutdown(sr, (uv_stream_t *)&c->tcp, s_on_shutdown) != 0) {
            free(sr);
            s_close(c);
        }
    }
}

/* Queue bytes on the connection. Returns 0, or -1 (the connection is closed). */
static int s_write(conn *c, const char *data, size_t len, int close_after)
{
    if (c->closed) return -1;
    wreq *wr = hl_malloc(sizeof *wr + len);
    wr->c = c;
    wr->close_after = close_after;
    memcpy(wr->data, data, len);
    uv_buf_t b = uv_buf_init(wr->data, (unsigned)len);
    if (uv_write(&wr->w, (uv_stream_t *)&c->tcp, &b, 1, s_on_write) != 0) {
        free(wr);
        s_close(c);
        return -1;
    }
    return 0;
}

static void s_process(conn *c);
static void s_alloc(uv_handle_t *hd, size_t suggested, uv_buf_t *buf);
static void s_on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf);

/* Send a full answer on c; closes afterwards unless keep_alive. */
static int s_send_answer(conn *c, int status, const char *ctype, const char *body, size_t len,
                         const char *extra, int keep_alive, int head)
{
    hl_buf b;
    hl_buf_init(&b);
    hl_buf_printf(&b, "HTTP/1.1 %d %s\r\n", status, hl_http_status_text(status));
    if (c->h && c->h->server_name) hl_buf_printf(&b, "Server: %s\r\n", c->h->server_name);
    if (ctype) hl_buf_printf(&b, "Content-Type: %s\r\n", ctype);
    hl_buf_printf(&b, "Content-Length: %zu\r\n", len);
    hl_buf_adds(&b, "X-Content-Type-Options: nosniff\r\n");
    if (extra) hl_buf_adds(&b, extra);
    hl_buf_adds(&b, keep_alive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n");
    if (!head && len) hl_buf_add(&b, body, len);
    int rc = s_write(c, b.data, b.len, !keep_alive);
    hl_buf_free(&b);
    return rc;
}

/* An error answer made by the server itself (parsing, limits, routing). */
static void s_fail(conn *c, hl_http_req *r, int status, const char *message, const char *extra,
                   int keep_alive)
{
    const char *ctype = "text/plain; charset=utf-8";
    char *body = NULL;
    if (c->h && c->h->errfn)
        body = c->h->errfn(r && r->path ? r->path : "", status, message, &ctype, c->h->errarg);
    if (!body) {
        ctype = "text/plain; charset=utf-8";
        body = hl_sprintf("%d %s: %s\n", status, hl_http_status_text(status), message);
    }
    s_send_answer(c, status, ctype, body, strlen(body), extra, keep_alive, r && r->head);
    free(body);
}

/* The request on c was answered: go on with the next one, or close. */
static void s_next(conn *c, int keep_alive)
{
    if (c->req) {
        s_req_free(c->req);
        c->req = NULL;
    }
    if (c->closed) return;
    /* read again: the next request, or (closing) what the client still sends */
    uv_read_start((uv_stream_t *)&c->tcp, s_alloc, s_on_read);
    if (!keep_alive) {
        c->state = C_CLOSING;
        return;
    }
    c->state = C_IDLE;
    c->header_bytes = 0;
    c->field_open = 0;
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    s_arm(c, c->h ? c->h->lim.idle_timeout_ms : 1);
    if (!c->processing) s_process(c);
}

static void s_on_timer(uv_timer_t *t)
{
    conn *c = t->data;
    switch (c->state) {
    case C_HEADERS:
    case C_BODY: {
        const char *msg = c->state == C_HEADERS
                              ? "the request's headers did not arrive in time"
                              : "the request's body did not arrive in time; send it whole";
        c->state = C_CLOSING;
        s_fail(c, c->req, 408, msg, NULL, 0);
        break;
    }
    default:
        s_close(c);
    }
}

/* ---- parsing callbacks ------------------------------------------------------------- */

static int s_count(conn *c, size_t n)
{
    c->header_bytes += n;
    if (c->h && c->header_bytes > c->h->lim.max_header) {
        c->err_status = 431;
        c->err_msg = "the request line and headers are too large";
        return -1;
    }
    return 0;
}

static int s_on_begin(http_parser *p)
{
    conn *c = p->data;
    c->state = C_HEADERS;
    c->req = s_req_new(c);
    if (c->h) s_arm(c, c->h->lim.header_timeout_ms);
    return 0;
}

static int s_on_url(http_parser *p, const char *at, size_t n)
{
    conn *c = p->data;
    if (s_count(c, n)) return -1;
    hl_buf_add(&c->req->url, at, n);
    return 0;
}

static int s_on_field(http_parser *p, const char *at, size_t n)
{
    conn *c = p->data;
    hl_http_req *r = c->req;
    if (s_count(c, n + 4)) return -1;
    if (!c->field_open) {
        if (r->nhdrs == 100) {
            c->err_status = 431;
            c->err_msg = "more than 100 headers";
            return -1;
        }
        if (r->nhdrs == r->caphdrs) {
            r->caphdrs = r->caphdrs ? r->caphdrs * 2 : 16;
            r->hdrs = hl_realloc(r->hdrs, r->caphdrs * sizeof *r->hdrs);
        }
        r->hdrs[r->nhdrs++] = (hdr){hl_strdup(""), hl_strdup("")};
        c->field_open = 1;
    }
    hdr *h = &r->hdrs[r->nhdrs - 1];
    size_t old = strlen(h->name);
    h->name = hl_realloc(h->name, old + n + 1);
    memcpy(h->name + old, at, n);
    h->name[old + n] = '\0';
    return 0;
}

static int s_on_value(http_parser *p, const char *at, size_t n)
{
    conn *c = p->data;
    hl_http_req *r = c->req;
    if (s_count(c, n)) return -1;
    c->field_open = 0;
    if (!r->nhdrs) return 0;
    hdr *h = &r->hdrs[r->nhdrs - 1];
    size_t old = strlen(h->value);
    h->value = hl_realloc(h->value, old + n + 1);
    memcpy(h->value + old, at, n);
    h->value[old + n] = '\0';
    return 0;
}

static int s_on_headers(http_parser *p)
{
    conn *c = p->data;
    hl_http_req *r = c->req;
    c->field_open = 0;
    r->method = s_method_bit(p->method);
    hl_strlcpy(r->method_name, http_method_str((enum http_method)p->method), sizeof r->method_name);
    r->head = p->method == HTTP_HEAD;
    /* the target: origin form only ("/path?query") */
    const char *url = r->url.data ? r->url.data : "";
    if (url[0] != '/') {
        c->err_status = 400;
        c->err_msg = "the request target must be a path starting with /";
        return -1;
    }
    const char *q = strchr(url, '?');
    size_t plen = q ? (size_t)(q - url) : strlen(url);
    const char *hash = memchr(url, '#', plen);
    if (hash) plen = (size_t)(hash - url);
    r->path = hl_strndup(url, plen);
    size_t dlen = hl_http_decode(r->path, 0);
    if (memchr(r->path, '\0', dlen) || !hl_utf8_valid(r->path, dlen)) {
        c->err_status = 400;
        c->err_msg = "the path is not valid UTF-8 after percent-decoding";
        return -1;
    }
    r->query = hl_strdup(q ? q + 1 : "");
    char *qh = strchr(r->query, '#');
    if (qh) *qh = '\0';
    hl_http *h = c->h;
    size_t max_body = h ? h->lim.max_body : 0;
    int chunked = (p->flags & F_CHUNKED) != 0;
    int has_len = (p->flags & F_CONTENTLENGTH) != 0;
    if (has_len && p->content_length > max_body) {
        c->err_status = 413;
        c->err_msg = "the body is larger than this server accepts";
        return -1;
    }
    if (!has_len && !chunked && (r->method & (HL_HTTP_POST | HL_HTTP_PUT | HL_HTTP_PATCH))) {
        c->err_status = 411;
        c->err_msg = "a request with a body needs a Content-Length header";
        return -1;
    }
    const char *expect = hl_http_header(r, "Expect");
    if (expect) {
        if (strcasecmp(expect, "100-continue") != 0) {
            c->err_status = 417;
            c->err_msg = "only Expect: 100-continue is understood";
            return -1;
        }
        if (p->http_major == 1 && p->http_minor >= 1) {
            static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
            s_write(c, cont, sizeof cont - 1, 0);
        }
    }
    c->state = C_BODY;
    if (h) s_arm(c, h->lim.body_timeout_ms);
    return 0;
}

static int s_on_body(http_parser *p, const char *at, size_t n)
{
    conn *c = p->data;
    hl_http_req *r = c->req;
    if (c->h && r->body.len + n > c->h->lim.max_body) {
        c->err_status = 413;
        c->err_msg = "the body is larger than this server accepts";
        return -1;
    }
    hl_buf_add(&r->body, at, n);
    return 0;
}

static int s_on_complete(http_parser *p)
{
    conn *c = p->data;
    c->req->keep_alive = http_should_keep_alive(p);
    /* one request at a time: stop here, answer, then parse the next */
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings s_settings = {
    .on_message_begin = s_on_begin,
    .on_url = s_on_url,
    .on_header_field = s_on_field,
    .on_header_value = s_on_value,
    .on_headers_complete = s_on_headers,
    .on_body = s_on_body,
    .on_message_complete = s_on_complete,
};

/* ---- routing ------------------------------------------------------------------------ */

static void s_dispatch(conn *c)
{
    hl_http_req *r = c->req;
    hl_http *h = c->h;
    c->state = C_HANDLING;
    uv_timer_stop(&c->timer);
    uv_read_stop((uv_stream_t *)&c->tcp);
    int want = r->method == HL_HTTP_HEAD ? HL_HTTP_GET : r->method;
    int allowed = 0;
    /* exact paths first: a known path asked with another method is a 405,
     * not something for a catch-all prefix */
    for (int pass = 0; pass < 2 && !allowed; pass++) {
        for (size_t i = 0; h && i < h->nroutes; i++) {
            route *rt = &h->routes[i];
            if (rt->prefix != pass) continue;
            const char *path = r->path;
            int match = rt->prefix ? strncmp(path, rt->pattern, rt->len) == 0
                                   : strcmp(path, rt->pattern) == 0;
            if (!match) continue;
            if (!(rt->methods & want)) {
                allowed |= rt->methods;
                continue;
            }
            r->rest = rt->prefix ? path + rt->len : "";
            r->handed = 1;
            rt->fn(r, rt->arg);
            return;
        }
    }
    if (allowed) {
        char allow[80] = "";
        static const struct {
            int bit;
            const char *name;
        } names[] = {{HL_HTTP_GET, "GET, HEAD"},   {HL_HTTP_POST, "POST"},
                     {HL_HTTP_PUT, "PUT"},         {HL_HTTP_DELETE, "DELETE"},
                     {HL_HTTP_OPTIONS, "OPTIONS"}, {HL_HTTP_PATCH, "PATCH"}};
        for (size_t i = 0; i < HL_ARRAY_LEN(names); i++)
            if (allowed & names[i].bit) {
                size_t n = strlen(allow);
                snprintf(allow + n, sizeof allow - n, "%s%s", n ? ", " : "", names[i].name);
            }
        char extra[120], msg[160];
        snprintf(extra, sizeof extra, "Allow: %s\r\n", allow);
        snprintf(msg, sizeof msg, "%s is not allowed on %s; use %s", r->method_name, r->path,
                 allow);
        s_fail(c, r, 405, msg, extra, r->keep_alive);
    } else {
        char msg[300];
        snprintf(msg, sizeof msg, "nothing at %.200s", r->path);
        s_fail(c, r, 404, msg, NULL, r->keep_alive);
    }
    s_next(c, r->keep_alive);
}

/* Parse what has arrived, answering one request at a time. */
static void s_process(conn *c)
{
    c->processing = 1;
    while (!c->closed && c->in.len > 0 &&
           (c->state == C_IDLE || c->state == C_HEADERS || c->state == C_BODY)) {
        size_t n = http_parser_execute(&c->parser, &s_settings, c->in.data, c->in.len);
        enum http_errno e = HTTP_PARSER_ERRNO(&c->parser);
        if (e == HPE_PAUSED) {
            memmove(c->in.data, c->in.data + n, c->in.len - n);
            c->in.len -= n;
            c->in.data[c->in.len] = '\0';
            http_parser_pause(&c->parser, 0);
            s_dispatch(c);
            continue;
        }
        if (e != HPE_OK) {
            int status = c->err_status ? c->err_status : 400;
            char msg[200];
            if (c->err_msg)
                snprintf(msg, sizeof msg, "%s", c->err_msg);
            else if (e == HPE_INVALID_METHOD)
                snprintf(msg, sizeof msg, "unknown method");
            else
                snprintf(msg, sizeof msg, "malformed request: %s", http_errno_description(e));
            if (e == HPE_INVALID_METHOD && !c->err_status) status = 501;
            if (e == HPE_HEADER_OVERFLOW) status = 431;
            c->state = C_CLOSING;
            uv_timer_stop(&c->timer);
            hl_debug("http %s: %d %s", c->peer, status, msg);
            s_fail(c, c->req, status, msg, NULL, 0);
            c->in.len = 0;
            break;
        }
        c->in.len = 0; /* all of it was taken */
    }
    c->processing = 0;
}

static void s_alloc(uv_handle_t *hd, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    static char slab[65536];
    (void)hd;
    *buf = uv_buf_init(slab, sizeof slab);
}

static void s_on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    conn *c = st->data;
    if (n < 0) {
        /* the client went (or the connection broke) */
        s_close(c);
        return;
    }
    if (n == 0) return;
    if (c->state == C_STREAM || c->state == C_CLOSING) return; /* nothing more to read */
    if (c->state == C_HANDLING) return;
    /* hold at most one request's worth of unparsed bytes */
    hl_http *h = c->h;
    size_t cap = h ? h->lim.max_header + h->lim.max_body + 65536 : 65536;
    if (c->in.len + (size_t)n > cap) {
        c->state = C_CLOSING;
        s_fail(c, c->req, 413, "too much data at once", NULL, 0);
        return;
    }
    hl_buf_add(&c->in, buf->base, (size_t)n);
    s_process(c);
}

static void s_on_conn(uv_stream_t *server, int status)
{
    hl_http *h = server->data;
    if (status < 0) {
        hl_warn("http: accept: %s", uv_strerror(status));
        return;
    }
    conn *c = hl_calloc(1, sizeof *c);
    c->h = h;
    hl_buf_init(&c->in);
    uv_tcp_init(h->loop, &c->tcp);
    uv_timer_init(h->loop, &c->timer);
    c->tcp.data = c->timer.data = c;
    c->handles = 2;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
        c->closed = 1;
        uv_close((uv_handle_t *)&c->timer, s_on_handle_closed);
        uv_close((uv_handle_t *)&c->tcp, s_on_handle_closed);
        return;
    }
    struct sockaddr_storage sa;
    int salen = sizeof sa;
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&sa, &salen) == 0)
        s_addr_text(&sa, c->peer, sizeof c->peer);
    else
        snprintf(c->peer, sizeof c->peer, "?");
    c->next = h->conns;
    if (h->conns) h->conns->prev = c;
    h->conns = c;
    h->nconns++;
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    uv_tcp_nodelay(&c->tcp, 1);
    if (h->nconns > h->lim.max_conns) {
        hl_warn("http: %d connections open, the most allowed; refusing %s", h->nconns - 1, c->peer);
        c->state = C_CLOSING;
        s_fail(c, NULL, 503, "too many connections; try again shortly", "Retry-After: 5\r\n", 0);
        uv_read_start((uv_stream_t *)&c->tcp, s_alloc, s_on_read);
        return;
    }
    c->state = C_IDLE;
    s_arm(c, h->lim.idle_timeout_ms);
    uv_read_start((uv_stream_t *)&c->tcp, s_alloc, s_on_read);
}

/* ---- the server ---------------------------------------------------------------------- */

static void s_on_listener_closed(uv_handle_t *hd)
{
    hl_http *h = hd->data;
    for (size_t i = 0; i < h->nroutes; i++)
        free(h->routes[i].pattern);
    free(h->routes);
    free(h->server_name);
    free(h);
}

hl_http *hl_http_new(uv_loop_t *loop, const char *addr, const hl_http_limits *lim, char **err)
{
    struct sockaddr_storage sa;
    if (hl_http_parse_addr(addr, &sa, err) != 0) return NULL;
    hl_http *h = hl_calloc(1, sizeof *h);
    h->loop = loop;
    if (lim) h->lim = *lim;
    if (!h->lim.max_header) h->lim.max_header = 16384;
    if (!h->lim.max_body) h->lim.max_body = 65536;
    if (!h->lim.header_timeout_ms) h->lim.header_timeout_ms = 10000;
    if (!h->lim.body_timeout_ms) h->lim.body_timeout_ms = 30000;
    if (!h->lim.idle_timeout_ms) h->lim.idle_timeout_ms = 30000;
    if (!h->lim.max_conns) h->lim.max_conns = 256;
    if (!h->lim.max_stream_queue) h->lim.max_stream_queue = 262144;
    uv_tcp_init(loop, &h->listener);
    h->listener.data = h;
    int rc = uv_tcp_bind(&h->listener, (const struct sockaddr *)&sa, 0);
    if (rc == 0) rc = uv_listen((uv_stream_t *)&h->listener, 128, s_on_conn);
    if (rc != 0) {
        *err = hl_sprintf("cannot listen for HTTP on %s: %s", addr, uv_strerror(rc));
        uv_close((uv_handle_t *)&h->listener, s_on_listener_closed);
        return NULL;
    }
    struct sockaddr_storage got;
    int len = sizeof got;
    uv_tcp_getsockname(&h->listener, (struct sockaddr *)&got, &len);
    s_addr_text(&got, h->bound, sizeof h->bound);
    return h;
}

void hl_http_destroy(hl_http **hp)
{
    hl_http *h = *hp;
    if (!h) return;
    *hp = NULL;
    h->destroyed = 1;
    while (h->conns) {
        conn *c = h->conns;
        s_close(c); /* unlinks c */
        c->h = NULL;
    }
    uv_close((uv_handle_t *)&h->listener, s_on_listener_closed);
}

const char *hl_http_bound(const hl_http *h)
{
    return h->bound;
}

void hl_http_set_server_name(hl_http *h, const char *name)
{
    free(h->server_name);
    h->server_name = hl_strdup(name);
}

void hl_http_set_error_fn(hl_http *h, hl_http_error_fn fn, void *arg)
{
    h->errfn = fn;
    h->errarg = arg;
}

static cJSON *s_error_json(const char *code, const char *message)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *e = cJSON_AddObjectToObject(o, "error");
    cJSON_AddStringToObject(e, "code", code);
    cJSON_AddStringToObject(e, "message", message);
    return o;
}

int hl_http_json(hl_http_req *r, int status, cJSON *body)
{
    char *text = hl_json_print(body);
    cJSON_Delete(body);
    hl_http_add_header(r, "Cache-Control", "no-store");
    int rc = hl_http_respond(r, status, "application/json; charset=utf-8", text, -1);
    free(text);
    return rc;
}

int hl_http_json_error(hl_http_req *r, int status, const char *code, const char *message)
{
    return hl_http_json(r, status, s_error_json(code, message));
}

char *hl_http_api_error(const char *path, int status, const char *message, const char **ctype,
                        void *arg)
{
    (void)arg;
    if (!hl_starts_with(path, "/api/")) return NULL;
    char code[16];
    snprintf(code, sizeof code, "http_%d", status);
    cJSON *o = s_error_json(code, message);
    char *text = hl_json_print(o);
    cJSON_Delete(o);
    *ctype = "application/json; charset=utf-8";
    return text;
}

void hl_http_route(hl_http *h, int methods, const char *pattern, hl_http_handler fn, void *arg)
{
    h->routes = hl_realloc(h->routes, (h->nroutes + 1) * sizeof *h->routes);
    route *rt = &h->routes[h->nroutes++];
    size_t n = strlen(pattern);
    rt->prefix = n > 0 && pattern[n - 1] == '*';
    rt->pattern = hl_strndup(pattern, rt->prefix ? n - 1 : n);
    rt->len = strlen(rt->pattern);
    rt->methods = methods;
    rt->fn = fn;
    rt->arg = arg;
}

int hl_http_conns(const hl_http *h)
{
    return h->nconns;
}

/* ---- answers -------------------------------------------------------------------------- */

/* The handler is done with r: free it now if its connection went. */
static int s_release(hl_http_req *r)
{
    conn *c = r->c;
    r->handed = 0;
    if (c->closed) {
        c->req = r; /* s_conn_free_if_done frees it with the connection */
        s_conn_free_if_done(c);
        return -1;
    }
    return 0;
}

int hl_http_respond(hl_http_req *r, int status, const char *ctype, const char *body, long len)
{
    conn *c = r->c;
    if (!r->handed) hl_panic("hl_http_respond: the request was answered already");
    if (s_release(r) != 0) return -1;
    size_t n = len < 0 ? strlen(body ? body : "") : (size_t)len;
    int keep = r->keep_alive && !(c->h && c->h->destroyed);
    int rc = s_send_answer(c, status, ctype, body, n, r->extra.data, keep, r->head);
    s_next(c, keep);
    return rc;
}

int hl_http_error(hl_http_req *r, int status, const char *message)
{
    conn *c = r->c;
    if (!r->handed) hl_panic("hl_http_error: the request was answered already");
    if (s_release(r) != 0) return -1;
    int keep = r->keep_alive;
    s_fail(c, r, status, message, r->extra.data, keep);
    s_next(c, keep);
    return c->closed ? -1 : 0;
}

/* ---- event streams --------------------------------------------------------------------- */

hl_http_stream *hl_http_stream_start(hl_http_req *r, void (*on_close)(hl_http_stream *s, void *arg),
                                     void *arg)
{
    conn *c = r->c;
    if (s_release(r) != 0) return NULL;
    hl_buf b;
    hl_buf_init(&b);
    hl_buf_printf(&b, "HTTP/1.1 200 OK\r\n");
    if (c->h && c->h->server_name) hl_buf_printf(&b, "Server: %s\r\n", c->h->server_name);
    hl_buf_adds(&b, "Content-Type: text/event-stream; charset=utf-8\r\n"
                    "Cache-Control: no-store\r\nX-Accel-Buffering: no\r\n");
    if (r->extra.data) hl_buf_adds(&b, r->extra.data);
    hl_buf_adds(&b, "Connection: close\r\n\r\n: hotline event stream\nretry: 2000\n\n");
    s_req_free(r);
    c->req = NULL;
    c->state = C_STREAM;
    uv_timer_stop(&c->timer);
    hl_http_stream *s = hl_calloc(1, sizeof *s);
    s->c = c;
    s->on_close = on_close;
    s->arg = arg;
    c->stream = s;
    /* a small kernel buffer: a reader that stalls shows in the queue soon */
    int sndbuf = 32768;
    uv_send_buffer_size((uv_handle_t *)&c->tcp, &sndbuf);
    /* read on, to learn when the client goes */
    uv_read_start((uv_stream_t *)&c->tcp, s_alloc, s_on_read);
    int rc = s_write(c, b.data, b.len, 0);
    hl_buf_free(&b);
    return rc == 0 ? s : NULL;
}

static int s_stream_write(hl_http_stream *s, const char *text, size_t len)
{
    conn *c = s->c;
    if (c->closed) return -1;
    size_t limit = c->h ? c->h->lim.max_stream_queue : 262144;
    if (c->tcp.write_queue_size + len > limit) {
        hl_warn("http: event stream to %s dropped: the client does not keep up (%zu bytes "
                "unsent)",
                c->peer, c->tcp.write_queue_size);
        s_close(c);
        return -1;
    }
    return s_write(c, text, len, 0);
}

int hl_http_stream_send(hl_http_stream *s, const char *event, const char *id, const char *data)
{
    hl_buf b;
    hl_buf_init(&b);
    if (event) hl_buf_printf(&b, "event: %.*s\n", (int)strcspn(event, "\r\n"), event);
    if (id) hl_buf_printf(&b, "id: %.*s\n", (int)strcspn(id, "\r\n"), id);
    const char *p = data ? data : "";
    for (;;) {
        size_t n = strcspn(p, "\r\n");
        hl_buf_adds(&b, "data: ");
        hl_buf_add(&b, p, n);
        hl_buf_addc(&b, '\n');
        p += n;
        if (!*p) break;
        if (p[0] == '\r' && p[1] == '\n') p++;
        p++;
    }
    hl_buf_addc(&b, '\n');
    int rc = s_stream_write(s, b.data, b.len);
    hl_buf_free(&b);
    return rc;
}

int hl_http_stream_ping(hl_http_stream *s)
{
    static const char ping[] = ": ping\n\n";
    return s_stream_write(s, ping, sizeof ping - 1);
}

void hl_http_stream_close(hl_http_stream *s)
{
    s->on_close = NULL;
    s_close(s->c);
}

void *hl_http_stream_arg(const hl_http_stream *s)
{
    return s->arg;
}

/* ---- static files ------------------------------------------------------------------ */

int hl_http_serve_asset(hl_http_req *r, const char *path, const hl_http_asset *assets, size_t n)
{
    if (strcmp(path, "/") == 0) path = "/index.html";
    for (size_t i = 0; i < n; i++) {
        if (strcmp(assets[i].path, path) != 0) continue;
        hl_http_add_header(r, "Cache-Control", "no-cache");
        if (strncmp(assets[i].ctype, "text/html", 9) == 0)
            hl_http_add_header(r, "Content-Security-Policy",
                               "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'");
        hl_http_respond(r, 200, assets[i].ctype, (const char *)assets[i].data, (long)assets[i].len);
        return 0;
    }
    return -1;
}
