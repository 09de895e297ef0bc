/* session.c — the worker's link: one DEALER per connection attempt, hello,
 * pings, the outstanding-request table, link-down detection and reconnection
 * with backoff. Owns its sockets and timers; knows nothing of tickets.
 *
 * A connection is abandoned, never reused, once it is suspect: ZeroMQ would
 * reconnect a DEALER by itself, but the dispatcher keys sessions by
 * connection, so a silently reconnected socket would carry requests into a
 * connection that never said hello. A socket monitor reports a dropped
 * connection at once; three heartbeats without any reply catch the rest. */
#include "session.h"

#include "jscan.h"

#include "hotline/curve.h"
#include "hotline/map.h"
#include "hotline/timefmt.h"
#include "hotline/util.h"
#include "hotline/zloop.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define SESS_BACKOFF_MIN 1000
#define SESS_BACKOFF_MAX 32000
#define SESS_HB_DEFAULT 5000
#define SESS_RECV_BATCH 256

typedef enum { ST_IDLE, ST_HELLO, ST_UP } sess_state;

typedef struct sess_req {
    sess_reply_fn fn;
    sess_text_fn text_fn; /* instead of fn: the reply read in place */
    void *arg;
    int64_t tag;
} sess_req;

/* One connection attempt: the DEALER, its monitor and their watches. */
typedef struct sess_conn {
    void *sock;
    void *mon;
    hl_zwatch *wsock;
    hl_zwatch *wmon;
} sess_conn;

struct sess {
    uv_loop_t *loop;
    void *zctx;
    char *endpoint;
    char *unit;
    char *client;
    sess_hooks hooks;
    void *arg;
    int curve;          /* secure mode: every socket uses keys */
    hl_curve_keys keys;

    sess_state state;
    sess_conn cur;
    sess_conn old[4]; /* retired, closed from the reaper (not inside their callbacks) */
    int nold;
    uv_timer_t timer; /* backoff wait, hello timeout or heartbeat tick */
    uv_timer_t reaper;
    int handles_open;
    int destroyed;

    hl_map *reqs; /* id -> sess_req* */
    hl_buf out;   /* the text of the request being sent (sess_request_text) */
    uint64_t next_id;
    unsigned conn_gen;
    int64_t hb_ms;
    int64_t backoff_ms;
    int64_t last_rx;     /* monotonic ms of the last message received */
    int64_t next_attempt;
    char down_why[160];
};

static void s_attempt(sess *s);
static void s_go_down(sess *s, const char *why);

/* ---- helpers ------------------------------------------------------------ */

static void s_conn_close(sess_conn *c)
{
    hl_zwatch_destroy(&c->wsock);
    hl_zwatch_destroy(&c->wmon);
    if (c->sock) {
        zmq_socket_monitor(c->sock, NULL, 0);
        zmq_close(c->sock);
    }
    if (c->mon) zmq_close(c->mon);
    memset(c, 0, sizeof *c);
}

static void s_reap_cb(uv_timer_t *t)
{
    sess *s = t->data;
    for (int i = 0; i < s->nold; i++) s_conn_close(&s->old[i]);
    s->nold = 0;
}

/* Retire the current connection: it stops being read now and is closed on
 * the next loop turn, outside whatever callback we are in. */
static void s_retire(sess *s)
{
    if (!s->cur.sock) return;
    if (s->nold == (int)HL_ARRAY_LEN(s->old)) s_reap_cb(&s->reaper);
    s->old[s->nold++] = s->cur;
    memset(&s->cur, 0, sizeof s->cur);
    uv_timer_start(&s->reaper, s_reap_cb, 0, 0);
}

/* Fail every outstanding request (their owners see NULL). */
static void s_fail_all(sess *s)
{
    size_t n = hl_map_size(s->reqs);
    if (!n) return;
    sess_req **all = hl_malloc(n * sizeof *all);
    size_t pos = 0, k = 0;
    const void *key;
    size_t klen;
    void *val;
    while (k < n && hl_map_next(s->reqs, &pos, &key, &klen, &val)) all[k++] = val;
    hl_map_destroy(&s->reqs);
    s->reqs = hl_map_new();
    for (size_t i = 0; i < k; i++) {
        if (!s->destroyed) {
            if (all[i]->text_fn)
                all[i]->text_fn(s, NULL, NULL, 0, all[i]->arg, all[i]->tag);
            else
                all[i]->fn(s, NULL, all[i]->arg, all[i]->tag);
        }
        free(all[i]);
    }
    free(all);
}

static void s_timer_cb(uv_timer_t *t);

static void s_schedule_attempt(sess *s)
{
    s->state = ST_IDLE;
    s->next_attempt = hl_mono_ms() + s->backoff_ms;
    uv_timer_start(&s->timer, s_timer_cb, (uint64_t)s->backoff_ms, 0);
    s->backoff_ms *= 2;
    if (s->backoff_ms > SESS_BACKOFF_MAX) s->backoff_ms = SESS_BACKOFF_MAX;
}

static void s_go_down(sess *s, const char *why)
{
    if (s->state == ST_IDLE) return;
    int was_up = s->state == ST_UP;
    hl_strlcpy(s->down_why, why, sizeof s->down_why);
    s_retire(s);
    s_schedule_attempt(s);
    if (was_up)
        hl_warn("link to %s down: %s; reconnecting in %lld s", s->endpoint, why,
                (long long)((s->next_attempt - hl_mono_ms() + 999) / 1000));
    else
        hl_info("no answer from %s (%s); next attempt in %lld s", s->endpoint, why,
                (long long)((s->next_attempt - hl_mono_ms() + 999) / 1000));
    s_fail_all(s);
    if (!s->destroyed && s->hooks.down) s->hooks.down(s, why, s->arg);
}

static int s_send(sess *s, const char *text)
{
    size_t len = strlen(text);
    int rc = zmq_send(s->cur.sock, text, len, ZMQ_DONTWAIT);
    hl_zwatch_recheck(s->cur.wsock);
    if (rc != (int)len) {
        if (errno != EAGAIN) hl_warn("send to %s failed: %s", s->endpoint, zmq_strerror(errno));
        return -1;
    }
    return 0;
}

/* "w<generation>.<n>", without printf */
static size_t s_req_id(sess *s, char *id)
{
    char digits[24];
    size_t n = 0;
    id[n++] = 'w';
    for (int pass = 0; pass < 2; pass++) {
        uint64_t v = pass == 0 ? s->conn_gen : ++s->next_id;
        int k = 0;
        do {
            digits[k++] = (char)('0' + v % 10);
            v /= 10;
        } while (v);
        while (k > 0) id[n++] = digits[--k];
        if (pass == 0) id[n++] = '.';
    }
    id[n] = '\0';
    return n;
}

static int s_track(sess *s, const char *id, sess_reply_fn fn, sess_text_fn text_fn, void *arg,
                   int64_t tag)
{
    sess_req *r = hl_malloc(sizeof *r);
    r->fn = fn;
    r->text_fn = text_fn;
    r->arg = arg;
    r->tag = tag;
    hl_map_puts(s->reqs, id, r);
    return 0;
}

static int s_request_raw(sess *s, const char *op, cJSON *args, const char *idem, sess_reply_fn fn,
                         void *arg, int64_t tag)
{
    if (!s->cur.sock) {
        cJSON_Delete(args);
        return -1;
    }
    char id[48];
    s_req_id(s, id);
    if (!args) args = cJSON_CreateObject();
    if (idem) cJSON_AddStringToObject(args, "idem", idem);
    char *text = hl_request_build(id, op, args);
    int rc = s_send(s, text);
    free(text);
    if (rc != 0) return -1;
    return s_track(s, id, fn, NULL, arg, tag);
}

/* What hl_request_build prints, written straight: {"v":1,"id":…,"op":…,
 * the members of args, "idem":…}. */
void sess_format_request(hl_buf *b, const char *id, const char *op, const char *args,
                         const char *idem)
{
    hl_buf_adds(b, "{\"v\":");
    hl_json_write_int(b, HL_PROTO_VERSION);
    hl_buf_adds(b, ",\"id\":");
    hl_json_write_str(b, id);
    hl_buf_adds(b, ",\"op\":");
    hl_json_write_str(b, op);
    size_t alen = args ? strlen(args) : 0;
    /* args is an object's text, "{…}": its members go in as they are */
    const char *p = args, *e = args + alen;
    while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
    while (e > p && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r')) e--;
    if (e - p >= 2 && *p == '{' && e[-1] == '}') {
        p++;
        e--;
        while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
        if (p < e) {
            hl_buf_addc(b, ',');
            hl_buf_add(b, p, (size_t)(e - p));
        }
    }
    if (idem) {
        hl_buf_adds(b, ",\"idem\":");
        hl_json_write_str(b, idem);
    }
    hl_buf_addc(b, '}');
}

/* ---- replies and pushes --------------------------------------------------- */

static void s_on_ping(sess *s, const hl_reply *rep, void *arg, int64_t tag)
{
    (void)arg;
    (void)tag;
    /* A ping refused means this connection has no session at the dispatcher
     * (it restarted and ZeroMQ reconnected underneath): start over. */
    if (rep && !rep->ok) s_go_down(s, "the dispatcher no longer knows this session");
}

static void s_on_hello(sess *s, const hl_reply *rep, void *arg, int64_t tag)
{
    (void)arg;
    (void)tag;
    if (!rep) return; /* the link went down first; an attempt is scheduled */
    if (!rep->ok) {
        hl_error("the dispatcher refused hello as a worker of %s: %s: %s", s->unit, rep->code,
                 rep->message);
        char code[32], msg[256];
        hl_strlcpy(code, rep->code, sizeof code);
        hl_strlcpy(msg, rep->message, sizeof msg);
        s_go_down(s, "hello refused");
        if (!s->destroyed && s->hooks.refused) s->hooks.refused(s, code, msg, s->arg);
        return;
    }
    int64_t hb = 0;
    if (hl_json_int(rep->root, "heartbeat_ms", &hb) != 0 || hb < 50) hb = SESS_HB_DEFAULT;
    s->hb_ms = hb;
    s->state = ST_UP;
    s->backoff_ms = SESS_BACKOFF_MIN;
    s->next_attempt = 0;
    s->last_rx = hl_mono_ms();
    uv_timer_start(&s->timer, s_timer_cb, (uint64_t)s->hb_ms, (uint64_t)s->hb_ms);
    hl_info("connected to %s as a worker of %s (heartbeat %lld ms)", s->endpoint, s->unit,
            (long long)s->hb_ms);
    if (s->hooks.up) s->hooks.up(s, s->arg);
}

/* The top level read in place: 1 when it is a successful reply (ok true,
 * no push) whose re fits re; the whole message is checked on the way. */
static int s_peek(const char *data, size_t len, char *re, size_t resize)
{
    const char *p = data, *end = data + len;
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) p++;
    js_span root = {p, (size_t)(end - p)}, k, v, v_re = {0}, v_ok = {0};
    js_iter it;
    if (js_obj_begin(&it, root) != 0) return 0;
    int rc, have_push = 0;
    while ((rc = js_obj_next(&it, &k, &v)) > 0) {
        if (k.n == 2 && !v_re.p && js_key_is(k, "re"))
            v_re = v;
        else if (k.n == 2 && !v_ok.p && js_key_is(k, "ok"))
            v_ok = v;
        else if (!have_push && js_key_is(k, "push"))
            have_push = 1 + js_is_string(v);
    }
    if (rc < 0 || have_push == 2 || js_bool(v_ok) != 1 || !v_re.p) return 0;
    return js_str(v_re, re, resize) >= 0;
}

static void s_handle(sess *s, const void *data, size_t len)
{
    /* A successful reply to a request that reads its reply in place costs
     * no tree; everything else is parsed as before. */
    char re[80];
    sess_req *tr;
    if (s_peek(data, len, re, sizeof re) == 1 && (tr = hl_map_gets(s->reqs, re)) &&
        tr->text_fn) {
        hl_map_del(s->reqs, re, strlen(re));
        hl_reply ok = {0};
        ok.re = re;
        ok.ok = 1;
        tr->text_fn(s, &ok, data, len, tr->arg, tr->tag);
        free(tr);
        return;
    }
    hl_reply rep;
    if (hl_reply_parse(data, len, &rep) != 0) {
        hl_warn("ignoring a message from %s that is not a protocol reply (%zu bytes)",
                s->endpoint, len);
        return;
    }
    if (rep.push) {
        if (s->state == ST_UP && s->hooks.push) s->hooks.push(s, &rep, s->arg);
    } else if (!rep.re) {
        hl_warn("dispatcher reply without a request id: %s: %s", rep.ok ? "ok" : rep.code,
                rep.ok ? "" : rep.message);
    } else {
        sess_req *r = hl_map_del(s->reqs, rep.re, strlen(rep.re));
        if (!r) {
            hl_debug("reply to an unknown request %s ignored", rep.re);
        } else {
            if (r->text_fn)
                r->text_fn(s, &rep, data, len, r->arg, r->tag);
            else
                r->fn(s, &rep, r->arg, r->tag);
            free(r);
        }
    }
    hl_reply_free(&rep);
}

static void s_sock_cb(hl_zwatch *w, void *sock, void *arg)
{
    (void)w;
    sess *s = arg;
    for (int i = 0; i < SESS_RECV_BATCH && s->cur.sock == sock; i++) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            break;
        }
        s->last_rx = hl_mono_ms();
        int more = zmq_msg_more(&m);
        s_handle(s, zmq_msg_data(&m), zmq_msg_size(&m));
        zmq_msg_close(&m);
        /* one frame per message: drain and ignore any extra frames */
        while (more && s->cur.sock == sock) {
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, sock, ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(&m);
                break;
            }
            more = zmq_msg_more(&m);
            zmq_msg_close(&m);
        }
    }
}

static void s_mon_cb(hl_zwatch *w, void *sock, void *arg)
{
    (void)w;
    sess *s = arg;
    uint16_t event;
    uint32_t value;
    for (int i = 0; i < 16 && s->cur.mon == sock && hl_zmon_recv(sock, &event, &value) == 0; i++) {
        if (event == ZMQ_EVENT_DISCONNECTED) {
            s_go_down(s, "the dispatcher closed the connection");
            break;
        }
        if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
            hl_error("the dispatcher at %s refused this worker's key (status %u): its public key "
                     "%s is not in the dispatcher's keys file; ask its administrator to add it",
                     s->endpoint, (unsigned)value, s->keys.public_key);
            s_go_down(s, "the dispatcher refused this worker's key");
            break;
        }
        if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL &&
            value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH) {
            if (s->curve)
                hl_error("the dispatcher at %s does not use CURVE (development mode): leave out "
                         "--key and --server-key",
                         s->endpoint);
            else
                hl_error("the dispatcher at %s is in secure mode (CURVE): give --key FILE (this "
                         "worker's secret key) and --server-key FILE (the dispatcher's public "
                         "key)",
                         s->endpoint);
            s_go_down(s, "CURVE on one side only");
            break;
        }
        if (s->curve && (event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL ||
                         event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL)) {
            hl_error("the CURVE handshake with %s failed: is --server-key the dispatcher's "
                     "public key?",
                     s->endpoint);
            s_go_down(s, "the CURVE handshake failed");
            break;
        }
    }
}

/* ---- timers --------------------------------------------------------------- */

static void s_timer_cb(uv_timer_t *t)
{
    sess *s = t->data;
    switch (s->state) {
    case ST_IDLE: s_attempt(s); break;
    case ST_HELLO: s_go_down(s, "no reply to hello"); break;
    case ST_UP:
        if (hl_mono_ms() - s->last_rx >= 3 * s->hb_ms) {
            s_go_down(s, "no reply for three heartbeats");
            break;
        }
        if (s_request_raw(s, "ping", NULL, NULL, s_on_ping, NULL, 0) != 0)
            hl_debug("ping not sent (socket busy)");
        break;
    }
}

/* ---- connection attempts ----------------------------------------------------- */

static void s_attempt(sess *s)
{
    sess_conn c = {0};
    c.sock = zmq_socket(s->zctx, ZMQ_DEALER);
    if (!c.sock) hl_fatal("cannot create a ZeroMQ socket: %s", zmq_strerror(errno));
    int linger = 0;
    zmq_setsockopt(c.sock, ZMQ_LINGER, &linger, sizeof linger);
    if (s->curve && hl_curve_apply(c.sock, &s->keys) != 0)
        hl_fatal("cannot set the CURVE keys: %s", zmq_strerror(errno));
    char monep[96];
    snprintf(monep, sizeof monep, "inproc://hotline-worker-mon-%p-%u", (void *)s, ++s->conn_gen);
    /* a refused key or a CURVE mismatch shows only here: the socket itself
     * stays silent */
    if (zmq_socket_monitor(c.sock, monep,
                           ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) == 0) {
        c.mon = zmq_socket(s->zctx, ZMQ_PAIR);
        if (c.mon && zmq_connect(c.mon, monep) != 0) {
            zmq_close(c.mon);
            c.mon = NULL;
        }
    }
    if (zmq_connect(c.sock, s->endpoint) != 0)
        hl_fatal("cannot connect to %s: %s (give --connect tcp://HOST:PORT)", s->endpoint,
                 zmq_strerror(errno));
    c.wsock = hl_zwatch_new(s->loop, c.sock, s_sock_cb, s);
    if (c.mon) c.wmon = hl_zwatch_new(s->loop, c.mon, s_mon_cb, s);
    if (!c.wsock) hl_fatal("cannot watch the ZeroMQ socket");
    s->cur = c;
    s->state = ST_HELLO;
    s->next_attempt = 0;
    s->last_rx = hl_mono_ms();
    cJSON *args = cJSON_CreateObject();
    cJSON_AddStringToObject(args, "role", "worker");
    cJSON_AddStringToObject(args, "unit", s->unit);
    cJSON_AddStringToObject(args, "client", s->client);
    if (s_request_raw(s, "hello", args, NULL, s_on_hello, NULL, 0) != 0) {
        s_go_down(s, "could not send hello");
        return;
    }
    uv_timer_start(&s->timer, s_timer_cb, (uint64_t)(3 * s->hb_ms), 0);
}

/* ---- public ------------------------------------------------------------------ */

sess *sess_new(uv_loop_t *loop, void *zctx, const char *endpoint, const char *unit,
               const char *client, const sess_hooks *hooks, void *arg)
{
    sess *s = hl_calloc(1, sizeof *s);
    s->loop = loop;
    s->zctx = zctx;
    s->endpoint = hl_strdup(endpoint);
    s->unit = hl_strdup(unit);
    s->client = hl_strdup(client ? client : "hotline-worker");
    if (hooks) s->hooks = *hooks;
    s->arg = arg;
    s->reqs = hl_map_new();
    hl_buf_init(&s->out);
    s->hb_ms = SESS_HB_DEFAULT;
    s->backoff_ms = SESS_BACKOFF_MIN;
    s->state = ST_IDLE;
    uv_timer_init(loop, &s->timer);
    uv_timer_init(loop, &s->reaper);
    s->timer.data = s;
    s->reaper.data = s;
    s->handles_open = 2;
    return s;
}

void sess_set_curve(sess *s, const hl_curve_keys *keys)
{
    s->curve = keys != NULL;
    if (keys) s->keys = *keys;
}

void sess_start(sess *s)
{
    if (s->state == ST_IDLE) s_attempt(s);
}

void sess_kick(sess *s)
{
    if (s->state == ST_IDLE) {
        uv_timer_stop(&s->timer);
        s_attempt(s);
    }
}

static void s_closed(uv_handle_t *h)
{
    sess *s = h->data;
    if (--s->handles_open == 0) {
        free(s->endpoint);
        free(s->unit);
        free(s->client);
        hl_buf_free(&s->out);
        memset(&s->keys, 0, sizeof s->keys);
        free(s);
    }
}

void sess_destroy(sess **sp)
{
    sess *s = *sp;
    if (!s) return;
    *sp = NULL;
    s->destroyed = 1;
    s_retire(s);
    s_reap_cb(&s->reaper);
    s_fail_all(s); /* frees the records; callbacks are not called once destroyed */
    hl_map_destroy(&s->reqs);
    uv_close((uv_handle_t *)&s->timer, s_closed);
    uv_close((uv_handle_t *)&s->reaper, s_closed);
}

int sess_is_up(const sess *s)
{
    return s && s->state == ST_UP;
}

int64_t sess_heartbeat_ms(const sess *s)
{
    return s->hb_ms;
}

int64_t sess_next_attempt(const sess *s)
{
    return s->state == ST_IDLE ? s->next_attempt : 0;
}

int sess_connecting(const sess *s)
{
    return s && s->state == ST_HELLO;
}

size_t sess_outstanding(const sess *s)
{
    return hl_map_size(s->reqs);
}

void sess_drop(sess *s, const char *why)
{
    s_go_down(s, why);
}

const char *sess_endpoint(const sess *s)
{
    return s->endpoint;
}

int sess_request(sess *s, const char *op, cJSON *args, const char *idem, sess_reply_fn fn,
                 void *arg, int64_t tag)
{
    if (s->state != ST_UP) {
        cJSON_Delete(args);
        return -1;
    }
    return s_request_raw(s, op, args, idem, fn, arg, tag);
}

int sess_request_text(sess *s, const char *op, const char *args, const char *idem,
                      sess_text_fn fn, void *arg, int64_t tag)
{
    if (s->state != ST_UP || !s->cur.sock) return -1;
    char id[48];
    s_req_id(s, id);
    hl_buf_reset(&s->out);
    sess_format_request(&s->out, id, op, args, idem);
    int rc = s_send(s, s->out.data);
    if (rc != 0) return -1;
    return s_track(s, id, NULL, fn, arg, tag);
}
