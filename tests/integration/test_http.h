/* test_http.h — a tiny HTTP/1.1 client for the integration tests of the
 * HTTP front ends (test_http_*.c, test_open311*.c): plain sockets, every
 * read bounded by a deadline, responses parsed just enough to check them
 * (status, headers, a Content-Length or close-delimited body). Header-only:
 * each test is one binary. */
#ifndef HOTLINE_TEST_HTTP_H
#define HOTLINE_TEST_HTTP_H

#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct th_resp {
    int status; /* 0 when no answer came */
    char *head; /* status line and headers */
    char *body; /* NUL-terminated */
    size_t body_len;
    int closed; /* the server closed the connection after it */
} th_resp;

static inline void th_resp_free(th_resp *r)
{
    if (!r) return;
    free(r->head);
    free(r->body);
    free(r);
}

/* A connection to 127.0.0.1:port with its unread bytes. */
typedef struct th_conn {
    int fd;
    char *buf;
    size_t len, cap;
    int eof;
} th_conn;

/* A connection, or NULL when nothing listens (yet). */
static inline th_conn *th_conn_try_open(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return NULL;
    }
    th_conn *c = calloc(1, sizeof *c);
    c->fd = fd;
    c->cap = 65536;
    c->buf = calloc(1, c->cap);
    return c;
}

static inline th_conn *th_conn_open(int port)
{
    th_conn *c = th_conn_try_open(port);
    if (!c) fail_msg("connect 127.0.0.1:%d: %s", port, strerror(errno));
    return c;
}

static inline void th_conn_close(th_conn **cp)
{
    th_conn *c = *cp;
    if (!c) return;
    close(c->fd);
    free(c->buf);
    free(c);
    *cp = NULL;
}

static inline void th_conn_send(th_conn *c, const char *data, size_t len)
{
    size_t off = 0;
    while (off < len) {
        ssize_t n = send(c->fd, data + off, len - off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return; /* the server closed; the read tells */
        off += (size_t)n;
    }
}

static inline void th_conn_sends(th_conn *c, const char *text)
{
    th_conn_send(c, text, strlen(text));
}

/* Read more, waiting until the deadline; 0 when nothing came. */
static inline int th_conn_fill(th_conn *c, int64_t deadline)
{
    if (c->eof) return 0;
    int64_t left = deadline - th_mono_ms();
    if (left <= 0) return 0;
    struct pollfd pf = {c->fd, POLLIN, 0};
    if (poll(&pf, 1, (int)left) <= 0) return 0;
    if (c->cap - c->len < 65536) {
        c->cap *= 2;
        c->buf = realloc(c->buf, c->cap);
    }
    ssize_t n = recv(c->fd, c->buf + c->len, c->cap - c->len - 1, 0);
    if (n <= 0) {
        c->eof = 1;
        return 0;
    }
    c->len += (size_t)n;
    c->buf[c->len] = '\0';
    return 1;
}

/* 1 when the server has closed the connection (waits up to ms). */
static inline int th_conn_closed(th_conn *c, int ms)
{
    int64_t end = th_mono_ms() + ms;
    while (!c->eof && th_mono_ms() < end)
        th_conn_fill(c, end);
    return c->eof;
}

static inline const char *th_hdr_in(const char *head, const char *name)
{
    static char value[1024];
    size_t nl = strlen(name);
    for (const char *p = strstr(head, "\r\n"); p && p[2]; p = strstr(p + 2, "\r\n")) {
        const char *line = p + 2;
        if (strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
            const char *v = line + nl + 1;
            while (*v == ' ')
                v++;
            size_t n = strcspn(v, "\r\n");
            if (n >= sizeof value) n = sizeof value - 1;
            memcpy(value, v, n);
            value[n] = '\0';
            return value;
        }
    }
    return NULL;
}

/* A header of a response, or NULL (a static buffer). */
static inline const char *th_hdr(const th_resp *r, const char *name)
{
    return r && r->head ? th_hdr_in(r->head, name) : NULL;
}

/* Read one response (up to ms); status 0 when none came whole. Skips a
 * 100 Continue. An answer to HEAD (head set) has no body. */
static inline th_resp *th_conn_read_x(th_conn *c, int ms, int head_only)
{
    int64_t end = th_mono_ms() + ms;
    th_resp *r = calloc(1, sizeof *r);
    for (;;) {
        char *eoh = c->len ? strstr(c->buf, "\r\n\r\n") : NULL;
        if (!eoh) {
            if (!th_conn_fill(c, end)) break;
            continue;
        }
        size_t hlen = (size_t)(eoh - c->buf) + 4;
        int status = 0;
        sscanf(c->buf, "HTTP/1.%*d %d", &status);
        if (status == 100) {
            memmove(c->buf, c->buf + hlen, c->len - hlen + 1);
            c->len -= hlen;
            continue;
        }
        char *head = strndup(c->buf, hlen);
        const char *cl = th_hdr_in(head, "Content-Length");
        size_t blen;
        if (head_only) {
            blen = 0;
        } else if (cl) {
            blen = (size_t)strtoul(cl, NULL, 10);
            while (c->len < hlen + blen && th_conn_fill(c, end))
                ;
            if (c->len < hlen + blen) {
                free(head);
                break;
            }
        } else {
            /* delimited by the close */
            while (th_conn_fill(c, end))
                ;
            blen = c->len - hlen;
        }
        r->status = status;
        r->head = head;
        r->body = malloc(blen + 1);
        memcpy(r->body, c->buf + hlen, blen);
        r->body[blen] = '\0';
        r->body_len = blen;
        memmove(c->buf, c->buf + hlen + blen, c->len - hlen - blen + 1);
        c->len -= hlen + blen;
        const char *conn = th_hdr(r, "Connection");
        r->closed = conn && strcasecmp(conn, "close") == 0;
        return r;
    }
    r->status = 0;
    r->body = calloc(1, 1);
    return r;
}

static inline th_resp *th_conn_read(th_conn *c, int ms)
{
    return th_conn_read_x(c, ms, 0);
}

/* One request on a fresh connection (Connection: close); body may be NULL. */
static inline th_resp *th_http(int port, const char *method, const char *path, const char *ctype,
                               const char *body)
{
    th_conn *c = th_conn_open(port);
    char head[4096];
    size_t blen = body ? strlen(body) : 0;
    int n =
        snprintf(head, sizeof head, "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n",
                 method, path, port);
    if (body)
        n += snprintf(head + n, sizeof head - (size_t)n,
                      "Content-Type: %s\r\nContent-Length: %zu\r\n",
                      ctype ? ctype : "application/x-www-form-urlencoded", blen);
    snprintf(head + n, sizeof head - (size_t)n, "\r\n");
    th_conn_sends(c, head);
    if (body) th_conn_send(c, body, blen);
    th_resp *r = th_conn_read_x(c, 10000, strcmp(method, "HEAD") == 0);
    th_conn_close(&c);
    return r;
}

static inline th_resp *th_http_get(int port, const char *path)
{
    return th_http(port, "GET", path, NULL, NULL);
}

static inline th_resp *th_http_post(int port, const char *path, const char *form)
{
    return th_http(port, "POST", path, "application/x-www-form-urlencoded", form);
}

/* The body as JSON (fails the test when it is not). */
static inline cJSON *th_resp_json(const th_resp *r)
{
    cJSON *j = cJSON_Parse(r->body);
    if (!j) fail_msg("not JSON (status %d): %.300s", r->status, r->body);
    return j;
}

/* Start a dispatcher with its HTTP server on a free port; returns the port. */
static inline int th_disp_start_http(th_disp *d, const char *config, const char *dbname)
{
    int port = th_free_port();
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    memset(d, 0, sizeof *d);
    th_disp_start(d, config[0] == '/' ? config : th_src(config), th_path(dbname), "--http", addr,
                  NULL);
    return port;
}

#endif
