/* session.h — the worker's link to the dispatcher: a DEALER socket in the
 * libuv loop, hello as a worker of the unit, pings every heartbeat, link-down
 * detection (three heartbeats without a reply, or the connection dropping),
 * and reconnection with backoff (1 s doubling to 32 s) on a new socket.
 * Keeps the table of outstanding requests: every request sent gets exactly
 * one callback, with its reply or with NULL when the link went down first. */
#ifndef HOTLINE_WORKER_SESSION_H
#define HOTLINE_WORKER_SESSION_H

#include "hotline/curve.h"
#include "hotline/proto.h"

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct sess sess;

/* rep is NULL when the link went down before the reply came. */
typedef void (*sess_reply_fn)(sess *s, const hl_reply *rep, void *arg, int64_t tag);
/* A reply read in place: text and len are the whole message (checked JSON,
 * an object). On success rep->root is NULL: read the text with the js_
 * functions (jscan.h). A refusal comes parsed as for sess_reply_fn (root,
 * code, message). rep and text are NULL when the link went down first. */
typedef void (*sess_text_fn)(sess *s, const hl_reply *rep, const char *text, size_t len,
                             void *arg, int64_t tag);

typedef struct sess_hooks {
    /* hello accepted: requests may be sent */
    void (*up)(sess *s, void *arg);
    /* the link is down (why says how); outstanding requests have had their
     * callbacks; a reconnection is scheduled */
    void (*down)(sess *s, const char *why, void *arg);
    /* an unsolicited push from the dispatcher */
    void (*push)(sess *s, const hl_reply *rep, void *arg);
    /* hello refused (unknown unit, say): the owner decides whether to go on */
    void (*refused)(sess *s, const char *code, const char *message, void *arg);
} sess_hooks;

/* A session for unit, connecting to endpoint; zctx is the caller's ZeroMQ
 * context. Nothing happens until sess_start. */
sess *sess_new(uv_loop_t *loop, void *zctx, const char *endpoint, const char *unit,
               const char *client, const sess_hooks *hooks, void *arg);
/* Secure mode: every connection attempt from now on speaks CURVE with
 * these keys (copied). A refused key or a CURVE mismatch is logged and the
 * link goes down; attempts go on with backoff (a key may be admitted later). */
void sess_set_curve(sess *s, const hl_curve_keys *keys);
/* Connect now. */
void sess_start(sess *s);
/* Stop: close the socket and timers (through uv_close; the loop must run
 * for them to finish) without calling any callback; nulls *s. */
void sess_destroy(sess **s);

/* 1 when hello has been accepted and the link is not known to be down. */
int sess_is_up(const sess *s);
/* The dispatcher's heartbeat interval (from hello; 5 s until known). */
int64_t sess_heartbeat_ms(const sess *s);
/* When down: the monotonic time of the next attempt (0 while connecting). */
int64_t sess_next_attempt(const sess *s);
/* 1 while a connection attempt waits for the hello reply. */
int sess_connecting(const sess *s);
/* Requests waiting for a reply. */
size_t sess_outstanding(const sess *s);
/* When waiting out a backoff, try now. */
void sess_kick(sess *s);
const char *sess_endpoint(const sess *s);
/* Declare the link down now (the owner learned the session is gone). */
void sess_drop(sess *s, const char *why);

/* Send a request (args consumed; idem may be NULL). Returns 0 when it left:
 * fn is then called exactly once. Returns -1 when the link is not up or the
 * socket would block: fn is never called. */
int sess_request(sess *s, const char *op, cJSON *args, const char *idem, sess_reply_fn fn,
                 void *arg, int64_t tag);
/* The same with the arguments as JSON object text (NULL for none; not
 * consumed), written into the request as they are, and the reply read in
 * place: no JSON tree either way. The request's text is what
 * sess_request would send for the same arguments. */
int sess_request_text(sess *s, const char *op, const char *args, const char *idem,
                      sess_text_fn fn, void *arg, int64_t tag);
/* The request's text as sess_request_text sends it, appended to b: byte for
 * byte what hl_request_build prints for the same arguments (compact args). */
struct hl_buf;
void sess_format_request(struct hl_buf *b, const char *id, const char *op, const char *args,
                         const char *idem);

#endif
