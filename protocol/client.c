/* client.c — the synchronous front-socket client (hotline/client.h): one
 * request in flight, retries on a new socket with the same id and idem.
 * Owns its ZeroMQ context and socket; knows nothing of what the ops mean. */
#include "hotline/client.h"
#include "hotline/curve.h"
#include "hotline/timefmt.h"
#include "hotline/util.h"
#include "hotline/zloop.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

struct hl_client {
    void *ctx;
    void *sock;
    void *mon; /* the socket's handshake events */
    char *endpoint, *role, *unit, *name;
    int timeout_ms, tries;
    int said_hello;
    cJSON *hello;
    unsigned next_id;
    unsigned gen; /* sockets opened, for unique monitor endpoints */
    char *raw;
    int curve;
    hl_curve_keys keys;
    char *why; /* what the handshake told us, when no reply came */
    int fatal; /* retrying cannot help (the key was refused) */
};

hl_client *hl_client_new(const char *endpoint, const char *role, const char *unit, const char *name)
{
    hl_client *c = hl_calloc(1, sizeof *c);
    c->ctx = zmq_ctx_new();
    if (!c->ctx) hl_panic("zmq_ctx_new: %s", zmq_strerror(errno));
    c->endpoint = hl_strdup(endpoint);
    c->role = hl_strdup(role ? role : "operator");
    c->unit = unit ? hl_strdup(unit) : NULL;
    c->name = name ? hl_strdup(name) : NULL;
    c->timeout_ms = HL_CLIENT_TIMEOUT_DEFAULT;
    c->tries = HL_CLIENT_TRIES_DEFAULT;
    return c;
}

static void s_close(hl_client *c)
{
    if (c->sock) {
        zmq_socket_monitor(c->sock, NULL, 0);
        zmq_close(c->sock);
    }
    if (c->mon) zmq_close(c->mon);
    c->sock = NULL;
    c->mon = NULL;
    c->said_hello = 0;
    cJSON_Delete(c->hello);
    c->hello = NULL;
}

void hl_client_destroy(hl_client **cp)
{
    hl_client *c = *cp;
    if (!c) return;
    s_close(c);
    zmq_ctx_term(c->ctx);
    free(c->endpoint);
    free(c->role);
    free(c->unit);
    free(c->name);
    free(c->raw);
    free(c->why);
    memset(&c->keys, 0, sizeof c->keys);
    free(c);
    *cp = NULL;
}

void hl_client_set_curve(hl_client *c, const hl_curve_keys *keys)
{
    s_close(c); /* the keys apply from the next socket on */
    c->curve = keys != NULL;
    if (keys)
        c->keys = *keys;
    else
        memset(&c->keys, 0, sizeof c->keys);
}

const char *hl_client_error(const hl_client *c)
{
    return c->why;
}

void hl_client_set_timeout(hl_client *c, int timeout_ms, int tries)
{
    c->timeout_ms = timeout_ms >= 1 ? timeout_ms : 1;
    c->tries = tries >= 1 ? tries : 1;
}

const char *hl_client_raw(const hl_client *c)
{
    return c->raw;
}

const char *hl_client_endpoint(const hl_client *c)
{
    return c->endpoint;
}

int hl_client_tries(const hl_client *c)
{
    return c->tries;
}

const cJSON *hl_client_hello(const hl_client *c)
{
    return c->hello;
}

void hl_client_new_idem(char out[33])
{
    unsigned char r[16];
    ssize_t got = getrandom(r, sizeof r, 0);
    if (got != (ssize_t)sizeof r) {
        /* no entropy source: time, pid and a counter still make a key that
         * no other call of this process or of a sibling reuses */
        static unsigned counter;
        uint64_t a = (uint64_t)hl_now() ^ ((uint64_t)getpid() << 40);
        uint64_t b = (uint64_t)hl_mono_ms() * 2654435761u + ++counter;
        memcpy(r, &a, 8);
        memcpy(r + 8, &b, 8);
    }
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", r[i]);
}

/* A socket of our own; connecting never fails for a well-formed endpoint.
 * A monitor reports a failed handshake, which would otherwise look like a
 * dispatcher that does not answer. */
static int s_open(hl_client *c)
{
    c->sock = zmq_socket(c->ctx, ZMQ_DEALER);
    if (!c->sock) hl_panic("zmq_socket: %s", zmq_strerror(errno));
    int linger = 0;
    zmq_setsockopt(c->sock, ZMQ_LINGER, &linger, sizeof linger);
    if (c->curve && hl_curve_apply(c->sock, &c->keys) != 0)
        hl_panic("cannot set the CURVE keys: %s", zmq_strerror(errno));
    char monep[64];
    snprintf(monep, sizeof monep, "inproc://hl-client-%p-%u", (void *)c, ++c->gen);
    if (zmq_socket_monitor(c->sock, monep,
                           ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) == 0) {
        c->mon = zmq_socket(c->ctx, ZMQ_PAIR);
        if (c->mon) zmq_setsockopt(c->mon, ZMQ_LINGER, &linger, sizeof linger);
        if (c->mon && zmq_connect(c->mon, monep) != 0) {
            zmq_close(c->mon);
            c->mon = NULL;
        }
    }
    if (zmq_connect(c->sock, c->endpoint) != 0) {
        hl_error("cannot connect to %s: %s", c->endpoint, zmq_strerror(errno));
        zmq_close(c->sock);
        c->sock = NULL;
        return -1;
    }
    return 0;
}

static void s_why(hl_client *c, int fatal, const char *fmt, ...) HL_PRINTF(3, 4);
static void s_why(hl_client *c, int fatal, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    free(c->why);
    c->why = hl_vsprintf(fmt, ap);
    va_end(ap);
    c->fatal = fatal;
}

/* Read the monitor's events; returns -1 when one means that no reply will
 * ever come on this socket (the key refused, CURVE on one side only). */
static int s_monitor(hl_client *c)
{
    int rc = 0;
    uint16_t event;
    uint32_t value;
    while (hl_zmon_recv(c->mon, &event, &value) == 0) {
        if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
            s_why(c, 1,
                  "the dispatcher at %s refused this client's key (status %u): its public key "
                  "%s is not in the dispatcher's keys file; ask its administrator to add it",
                  c->endpoint, (unsigned)value, c->keys.public_key);
            rc = -1;
        } else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL &&
                   value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH) {
            if (c->curve)
                s_why(c, 1,
                      "the dispatcher at %s does not use CURVE (development mode): leave out "
                      "the key options",
                      c->endpoint);
            else
                s_why(c, 1,
                      "the dispatcher at %s is in secure mode (CURVE): give this client's key "
                      "and the dispatcher's public key (--key FILE --server-key FILE)",
                      c->endpoint);
            rc = -1;
        } else if (c->curve) {
            /* the server could not open our hello: not its key, most likely */
            s_why(c, 0,
                  "the CURVE handshake with %s failed: is the server key the dispatcher's "
                  "public key?",
                  c->endpoint);
        }
    }
    return rc;
}

/* Send text and wait up to the timeout for the reply to id (or one with
 * "re": null: only one request is in flight on this socket). 0 with c->raw
 * and *rep set, or -1 on timeout or a failed handshake. */
static int s_exchange(hl_client *c, const char *text, const char *id, hl_reply *rep)
{
    if (zmq_send(c->sock, text, strlen(text), ZMQ_DONTWAIT) < 0 && errno != EAGAIN) return -1;
    int64_t end = hl_mono_ms() + c->timeout_ms;
    for (;;) {
        int64_t left = end - hl_mono_ms();
        if (left <= 0) return -1;
        zmq_pollitem_t it[2] = {{c->sock, 0, ZMQ_POLLIN, 0}, {c->mon, 0, ZMQ_POLLIN, 0}};
        int n = zmq_poll(it, c->mon ? 2 : 1, (long)left);
        if (n < 0 && errno == EINTR) return -1;
        if (n <= 0) continue;
        if (c->mon && (it[1].revents & ZMQ_POLLIN) && s_monitor(c) < 0) return -1;
        if (!(it[0].revents & ZMQ_POLLIN)) continue;
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, c->sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            continue;
        }
        hl_reply r;
        int bad = hl_reply_parse(zmq_msg_data(&m), zmq_msg_size(&m), &r);
        if (bad || r.push || (r.re && strcmp(r.re, id) != 0)) {
            if (!bad) hl_reply_free(&r);
            zmq_msg_close(&m);
            continue;
        }
        free(c->raw);
        c->raw = hl_strndup(zmq_msg_data(&m), zmq_msg_size(&m));
        zmq_msg_close(&m);
        *rep = r;
        return 0;
    }
}

static void s_backoff(int attempt)
{
    int ms = 100;
    for (int i = 1; i < attempt && ms < 1000; i++)
        ms *= 2;
    if (ms > 1000) ms = 1000;
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Say hello on a fresh socket. 0 said, 1 refused (*rep holds the refusal),
 * -1 no answer. */
static int s_hello(hl_client *c, hl_reply *rep)
{
    char id[32];
    snprintf(id, sizeof id, "h%d-%u", (int)getpid(), ++c->next_id);
    cJSON *args = cJSON_CreateObject();
    cJSON_AddStringToObject(args, "role", c->role);
    if (c->unit) cJSON_AddStringToObject(args, "unit", c->unit);
    cJSON_AddStringToObject(args, "client", c->name ? c->name : "hotline");
    char *text = hl_request_build(id, "hello", args);
    int rc = s_exchange(c, text, id, rep);
    free(text);
    if (rc < 0) return -1;
    if (!rep->ok) return 1;
    c->said_hello = 1;
    c->hello = cJSON_Duplicate(rep->root, 1);
    hl_reply_free(rep);
    return 0;
}

int hl_client_call(hl_client *c, const char *op, cJSON *args, const char *idem, hl_reply *rep)
{
    const hl_opspec *spec = hl_op_find(op);
    if (!args) args = cJSON_CreateObject();
    if (spec && spec->mutates && !cJSON_GetObjectItemCaseSensitive(args, "idem")) {
        char fresh[33];
        if (!idem) hl_client_new_idem(fresh);
        cJSON_AddStringToObject(args, "idem", idem ? idem : fresh);
    }
    char id[32];
    snprintf(id, sizeof id, "c%d-%u", (int)getpid(), ++c->next_id);
    char *text = hl_request_build(id, op, args);
    int rc = -1;
    free(c->why);
    c->why = NULL;
    c->fatal = 0;
    for (int attempt = 1; attempt <= c->tries && !c->fatal; attempt++) {
        if (attempt > 1) s_backoff(attempt - 1);
        if (!c->sock && s_open(c) < 0) continue;
        int fresh = 0;
        if (!c->said_hello && strcmp(op, "hello") != 0) {
            int h = s_hello(c, rep);
            if (h == 1) {
                rc = 0;
                break;
            }
            if (h < 0) {
                s_close(c);
                continue;
            }
            fresh = 1;
        }
        if (s_exchange(c, text, id, rep) == 0) {
            if (!fresh && !rep->ok && rep->err == HL_E_FORBIDDEN && strcmp(op, "hello") != 0) {
                /* ZeroMQ reconnects under us: a dispatcher that restarted
                 * knows no hello from this connection. Say it again and ask
                 * once more; a second refusal is the real answer. */
                hl_reply_free(rep);
                c->said_hello = 0;
                cJSON_Delete(c->hello);
                c->hello = NULL;
                int h = s_hello(c, rep);
                if (h == 1) {
                    rc = 0;
                    break;
                }
                if (h < 0 || s_exchange(c, text, id, rep) != 0) {
                    s_close(c);
                    continue;
                }
            }
            rc = 0;
            break;
        }
        /* abandon the socket: a late reply must not answer the next request */
        s_close(c);
    }
    free(text);
    return rc;
}
