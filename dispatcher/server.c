/* server.c — one libuv loop owns the ROUTER front socket, the PUB events
 * socket and (through core) the database. Each loop turn reads a bounded
 * batch, commits it once, then sends replies, pushes and events in that
 * order. Must not interpret requests: that is core's job. */
#include "server.h"

#include "auth.h"

#include "hotline/proto.h"
#include "hotline/util.h"
#include "hotline/zloop.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

/* A read off the loop (core_job), waiting for its turn on the reader. */
typedef struct job {
    uv_work_t work;
    server *sv;
    core_job *job;
    char *text; /* the reply, from the thread */
    server_job_fn done;
    void *arg;
    struct job *next;
} job;

/* A request of the current batch, waiting for the commit. */
typedef struct pending {
    char key[256];
    size_t keylen;
    core_reply rep;
} pending;

struct server {
    uv_loop_t *loop;
    const hl_config *cfg;
    core *core;
    auth *auth; /* secure mode; NULL in development mode */
    void *ctx, *front, *pub;
    char events_ep[256]; /* as bound (the port resolved), for binding again */
    hl_zwatch *watch;
    uv_timer_t tick, purge, rebind;
    uv_signal_t sigterm, sigint, sighup;
    int stopping;
    int handles; /* timers and signals initialised */
    core_outq out;
    pending *pend;
    size_t npend;
    /* deadlines: one timer for the earliest pending threshold, and an idle
     * handle that works through a backlog a chunk per loop turn */
    uv_timer_t deadline;
    uv_idle_t catchup;
    hl_ms armed; /* when the deadline timer fires (wall clock); 0 when idle */
    /* the HTTP front ends (web.c) see every published event */
    void (*on_event)(const char *topic, const char *json, void *arg);
    void *on_event_arg;
    /* reads off the loop: the one running, then those waiting */
    store *reader;
    job *job_running, *jobs_head, *jobs_tail;
};

int server_endpoint_local(const char *ep)
{
    if (hl_starts_with(ep, "ipc://") || hl_starts_with(ep, "inproc://")) return 1;
    if (!hl_starts_with(ep, "tcp://")) return 0;
    const char *host = ep + 6;
    /* tcp://source;destination is for connecting, not binding */
    if (strchr(host, ';')) return 0;
    if (hl_starts_with(host, "127.")) return 1;
    if (hl_starts_with(host, "localhost:")) return 1;
    if (hl_starts_with(host, "[::1]:")) return 1;
    return 0;
}

static void s_deadline_arm_at(server *sv, hl_ms at);

/* ---- sending ---------------------------------------------------------------- */

/* Send to one peer; a peer that is gone is forgotten, a peer that does not
 * read (its queue is full) loses this message. Returns 0 when sent. */
static int s_send_peer(server *sv, const void *key, size_t keylen, const char *text,
                       const char *what)
{
    if (zmq_send(sv->front, key, keylen, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(sv->front, text, strlen(text), ZMQ_DONTWAIT) < 0) {
        int err = zmq_errno();
        if (err == EHOSTUNREACH) {
            hl_debug("%s: the peer has gone; forgetting its session", what);
            core_forget(sv->core, key, keylen);
        } else if (err == EAGAIN) {
            hl_warn("%s dropped: the peer does not read its messages (its queue is full)", what);
        } else {
            hl_warn("%s not sent: %s", what, zmq_strerror(err));
        }
        return -1;
    }
    return 0;
}

static void s_send_out(server *sv)
{
    for (size_t i = 0; i < sv->out.n; i++) {
        core_out *o = &sv->out.items[i];
        if (o->kind == CORE_OUT_EVENT) {
            if (zmq_send(sv->pub, o->topic, strlen(o->topic), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
                zmq_send(sv->pub, o->text, strlen(o->text), ZMQ_DONTWAIT) < 0)
                hl_warn("event %s not published: %s", o->topic, zmq_strerror(zmq_errno()));
            if (sv->on_event) sv->on_event(o->topic, o->text, sv->on_event_arg);
            continue;
        }
        /* a push goes to every worker session of the unit; collect the
         * unreachable ones first, since forgetting changes the list */
        char gone[16][256];
        size_t gonelen[16];
        int ngone = 0;
        for (core_session *s = core_unit_workers(sv->core, o->unit); s; s = s->next) {
            if (zmq_send(sv->front, s->key, s->keylen, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
                zmq_send(sv->front, o->text, strlen(o->text), ZMQ_DONTWAIT) < 0) {
                if (zmq_errno() == EHOSTUNREACH && ngone < 16 && s->keylen <= 256) {
                    memcpy(gone[ngone], s->key, s->keylen);
                    gonelen[ngone++] = s->keylen;
                }
            }
        }
        for (int k = 0; k < ngone; k++)
            core_forget(sv->core, gone[k], gonelen[k]);
    }
    core_outq_truncate(&sv->out, 0);
    /* whatever committed this output may have made a deadline earlier than
     * the one the timer waits for (a new dispatch, a sign, an extension) */
    hl_ms wake = core_wakeup(sv->core);
    if (wake && sv->armed && wake < sv->armed) s_deadline_arm_at(sv, wake);
}

/* ---- reads off the loop ------------------------------------------------------------- */

static void s_job_start(server *sv);

static void s_job_work(uv_work_t *w)
{
    job *j = w->data;
    j->text = core_job_run(j->job, j->sv->reader);
}

static void s_job_after(uv_work_t *w, int status)
{
    (void)status; /* nothing cancels a job: each runs */
    job *j = w->data;
    server *sv = j->sv;
    sv->job_running = NULL;
    core_job_free(j->job);
    j->done(j->text, j->arg);
    free(j);
    s_job_start(sv);
}

static void s_job_start(server *sv)
{
    if (sv->job_running || !sv->jobs_head) return;
    job *j = sv->jobs_head;
    sv->jobs_head = j->next;
    if (!sv->jobs_head) sv->jobs_tail = NULL;
    sv->job_running = j;
    j->work.data = j;
    int rc = uv_queue_work(sv->loop, &j->work, s_job_work, s_job_after);
    if (rc != 0) { /* cannot happen with a live loop; answer in place */
        hl_warn("cannot hand a read to the thread pool (%s): running it here", uv_strerror(rc));
        s_job_work(&j->work);
        s_job_after(&j->work, 0);
    }
}

void server_set_reader(server *sv, store *reader)
{
    sv->reader = reader;
    core_set_defer(sv->core, reader != NULL);
}

void server_run_job(server *sv, core_job *cj, server_job_fn done, void *arg)
{
    job *j = hl_calloc(1, sizeof *j);
    j->sv = sv;
    j->job = cj;
    j->done = done;
    j->arg = arg;
    if (sv->jobs_tail)
        sv->jobs_tail->next = j;
    else
        sv->jobs_head = j;
    sv->jobs_tail = j;
    s_job_start(sv);
}

/* A front socket request's job: the reply goes to its peer. */
typedef struct peer_reply {
    server *sv;
    size_t keylen;
    char key[256];
} peer_reply;

static void s_job_reply(char *text, void *arg)
{
    peer_reply *p = arg;
    s_send_peer(p->sv, p->key, p->keylen, text, "reply");
    free(text);
    free(p);
}

/* ---- the batch ------------------------------------------------------------------- */

static void s_on_front(hl_zwatch *w, void *sock, void *arg)
{
    (void)w;
    server *sv = arg;
    if (sv->stopping) return;
    int began = core_begin(sv->core) == 0;
    if (!began) hl_error("cannot start a transaction: %s", core_errmsg(sv->core));
    sv->npend = 0;
    /* A batch ends after SERVER_BATCH requests or SERVER_BATCH_MS of work,
     * whichever comes first: every reply of a batch waits for its commit, so
     * a client that floods expensive requests must not make a batch long.
     * The ROUTER takes messages from its peers in turn, so the next batch
     * starts with what the others sent meanwhile. */
    uint64_t until = uv_hrtime() + (uint64_t)SERVER_BATCH_MS * 1000000u;
    while (sv->npend < SERVER_BATCH && (sv->npend == 0 || uv_hrtime() < until)) {
        zmq_msg_t id, m;
        zmq_msg_init(&id);
        if (zmq_msg_recv(&id, sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&id);
            break;
        }
        if (!zmq_msg_more(&id) || zmq_msg_size(&id) > sizeof sv->pend[0].key) {
            /* a routing id alone cannot come from a DEALER; drop whatever follows */
            while (zmq_msg_more(&id)) {
                zmq_msg_close(&id);
                zmq_msg_init(&id);
                zmq_msg_recv(&id, sock, 0);
            }
            zmq_msg_close(&id);
            continue;
        }
        pending *p = &sv->pend[sv->npend++];
        memset(p, 0, sizeof *p);
        p->keylen = zmq_msg_size(&id);
        memcpy(p->key, zmq_msg_data(&id), p->keylen);
        zmq_msg_close(&id);
        zmq_msg_init(&m);
        zmq_msg_recv(&m, sock, 0); /* the rest of a message is already here */
        int frames = 1;
        if (zmq_msg_more(&m)) {
            zmq_msg_t extra;
            int more = 1;
            while (more) {
                zmq_msg_init(&extra);
                zmq_msg_recv(&extra, sock, 0);
                more = zmq_msg_more(&extra);
                zmq_msg_close(&extra);
                frames++;
            }
        }
        if (frames > 1) {
            char msg[160];
            snprintf(msg, sizeof msg,
                     "send one frame per message: this message had %d frames after the "
                     "routing id",
                     frames);
            p->rep.text = hl_reply_error(NULL, HL_E_BAD_REQUEST, msg);
        } else if (!began) {
            char msg[700];
            snprintf(msg, sizeof msg, "the database is unavailable: %s; nothing was applied",
                     core_errmsg(sv->core));
            p->rep.text = hl_reply_error(NULL, HL_E_INTERNAL, msg);
        } else if (sv->auth) {
            /* the ZAP handler gave the client's public key as its User-Id */
            const core_principal *who = auth_lookup(sv->auth, zmq_msg_gets(&m, "User-Id"));
            core_handle_as(sv->core, p->key, p->keylen, who, zmq_msg_data(&m), zmq_msg_size(&m),
                           &p->rep, &sv->out);
        } else {
            core_handle(sv->core, p->key, p->keylen, zmq_msg_data(&m), zmq_msg_size(&m), &p->rep,
                        &sv->out);
        }
        zmq_msg_close(&m);
    }
    if (began && core_commit(sv->core) != 0) {
        /* nothing of this batch was saved: say so to every request that
         * changed something, and to every successful one after the first of
         * them, whose answer may show what was not saved; answers before it
         * stand, and so do refusals (they say what was wrong) */
        hl_error("commit failed: %s", core_errmsg(sv->core));
        char msg[700], seen[800];
        snprintf(msg, sizeof msg, "the database could not save the change: %s; nothing was applied",
                 core_errmsg(sv->core));
        snprintf(seen, sizeof seen,
                 "the database could not save the batch this request was in: %s; its answer "
                 "could have shown changes that were not saved: ask again",
                 core_errmsg(sv->core));
        int lost = 0;
        for (size_t i = 0; i < sv->npend; i++) {
            pending *p = &sv->pend[i];
            lost |= p->rep.changed;
            if (!lost || p->rep.job) continue; /* a job reads what was committed */
            hl_reply r;
            int refused = 0;
            if (hl_reply_parse(p->rep.text, strlen(p->rep.text), &r) == 0) {
                refused = !r.ok;
                hl_reply_free(&r);
            }
            if (refused) continue;
            free(p->rep.text);
            p->rep.text = hl_reply_error(p->rep.re, HL_E_INTERNAL, p->rep.changed ? msg : seen);
        }
        core_outq_truncate(&sv->out, 0);
    }
    for (size_t i = 0; i < sv->npend; i++) {
        pending *p = &sv->pend[i];
        if (p->rep.job) {
            peer_reply *to = hl_malloc(sizeof *to);
            to->sv = sv;
            to->keylen = p->keylen;
            memcpy(to->key, p->key, p->keylen);
            server_run_job(sv, p->rep.job, s_job_reply, to);
            p->rep.job = NULL;
        } else {
            s_send_peer(sv, p->key, p->keylen, p->rep.text, "reply");
        }
        core_reply_free(&p->rep);
    }
    sv->npend = 0;
    s_send_out(sv);
    core_idle(sv->core);
}

/* ---- timers and signals ------------------------------------------------------------ */

static void s_on_tick(uv_timer_t *t)
{
    server *sv = t->data;
    if (sv->stopping || core_begin(sv->core) != 0) return;
    core_tick(sv->core, &sv->out);
    if (core_commit(sv->core) != 0) {
        hl_error("commit failed: %s", core_errmsg(sv->core));
        core_outq_truncate(&sv->out, 0);
    }
    s_send_out(sv);
    core_idle(sv->core);
    hl_zwatch_recheck(sv->watch);
}

/* ---- deadlines ------------------------------------------------------------------------ */

/* Re-read the timer at least this often, so that a wall clock that jumped
 * is noticed; each look is one index lookup, not a scan. */
#define SERVER_DEADLINE_RECHECK_MS 30000

static void s_on_deadline(uv_timer_t *t);
static void s_on_catchup(uv_idle_t *h);

/* Arm the deadline timer for at (wall clock; 0 = nothing pending). */
static void s_deadline_arm_at(server *sv, hl_ms at)
{
    if (sv->stopping) return;
    hl_ms now = hl_now();
    int64_t delay = at ? at - now : SERVER_DEADLINE_RECHECK_MS;
    if (delay < 0) delay = 0;
    if (delay > SERVER_DEADLINE_RECHECK_MS) delay = SERVER_DEADLINE_RECHECK_MS;
    uv_update_time(sv->loop);
    uv_timer_start(&sv->deadline, s_on_deadline, (uint64_t)delay, 0);
    sv->armed = now + delay;
}

/* Arm for the earliest threshold in the database. */
static void s_deadline_arm(server *sv)
{
    hl_ms at;
    if (core_next_deadline(sv->core, &at) != 0) {
        hl_error("cannot read the deadlines: %s; trying again in a second", core_errmsg(sv->core));
        at = hl_now() + 1000;
    }
    s_deadline_arm_at(sv, at);
}

/* One chunk of due thresholds in a batch of its own, committed before its
 * alerts are published; then the next chunk on the next loop turn (requests
 * are served in between) or the timer for the next threshold. */
static void s_deadline_run(server *sv)
{
    if (sv->stopping) return;
    int more = 0, ok = 0;
    if (core_begin(sv->core) != 0) {
        hl_error("cannot start a transaction for the deadlines: %s", core_errmsg(sv->core));
    } else if (core_deadlines(sv->core, hl_now(), CORE_DEADLINE_CHUNK, &sv->out, &more) != 0) {
        hl_error("deadlines: %s; nothing of this round was applied", core_errmsg(sv->core));
        core_rollback(sv->core);
        core_outq_truncate(&sv->out, 0);
    } else if (core_commit(sv->core) != 0) {
        hl_error("commit failed: %s", core_errmsg(sv->core));
        core_outq_truncate(&sv->out, 0);
    } else {
        ok = 1;
    }
    s_send_out(sv);
    core_idle(sv->core);
    if (sv->watch) hl_zwatch_recheck(sv->watch);
    if (ok && more) {
        uv_timer_stop(&sv->deadline);
        sv->armed = 0;
        uv_idle_start(&sv->catchup, s_on_catchup);
        return;
    }
    uv_idle_stop(&sv->catchup);
    if (ok)
        s_deadline_arm(sv);
    else
        s_deadline_arm_at(sv, hl_now() + 1000);
}

static void s_on_deadline(uv_timer_t *t)
{
    s_deadline_run(t->data);
}

static void s_on_catchup(uv_idle_t *h)
{
    s_deadline_run(h->data);
}

static void s_on_purge(uv_timer_t *t)
{
    server *sv = t->data;
    if (sv->stopping || core_begin(sv->core) != 0) return;
    if (core_purge(sv->core) != 0) {
        core_rollback(sv->core);
        hl_warn("cannot forget old idempotency keys: %s", core_errmsg(sv->core));
    } else if (core_commit(sv->core) != 0) {
        hl_warn("cannot forget old idempotency keys: %s", core_errmsg(sv->core));
    }
}

/* Bind the events socket again, so that every subscriber reconnects and
 * goes through the ZAP handler anew: a PUB socket cannot drop one peer.
 * The old listener closes asynchronously, so the port may stay busy for a
 * moment. Returns 0 when bound. */
static int s_events_bind_again(server *sv)
{
    int64_t end = hl_mono_ms() + 2000;
    for (;;) {
        if (zmq_bind(sv->pub, sv->events_ep) == 0) {
            hl_info("events socket bound again to %s: subscribers reconnect and present their "
                    "keys again",
                    sv->events_ep);
            return 0;
        }
        int err = zmq_errno();
        if (err != EADDRINUSE || hl_mono_ms() >= end) {
            hl_error("cannot bind the events socket to %s again: %s; retrying every second, "
                     "events are not published meanwhile (clients catch up with the events op)",
                     sv->events_ep, zmq_strerror(err));
            return -1;
        }
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
}

static void s_on_rebind(uv_timer_t *t)
{
    server *sv = t->data;
    if (sv->stopping || zmq_bind(sv->pub, sv->events_ep) != 0) return;
    hl_info("events socket bound again to %s", sv->events_ep);
    uv_timer_stop(&sv->rebind);
}

static void s_on_sighup(uv_signal_t *h, int signum)
{
    (void)signum;
    server *sv = h->data;
    if (sv->stopping) return;
    if (!sv->auth) return; /* no keys file in development mode */
    hl_info("SIGHUP: reloading the keys file %s", sv->cfg->security.clients);
    int dropped = 0;
    char *err = NULL;
    if (auth_reload(sv->auth, &dropped, &err) != 0) {
        /* err holds one line per reason */
        size_t n = strlen(err);
        while (n && err[n - 1] == '\n')
            err[--n] = '\0';
        hl_error("the keys file was not reloaded; the keys loaded before stay in force:\n%s", err);
        free(err);
        return;
    }
    /* Connections on the front socket are checked at every request, so a
     * removed key is refused from its next request on. Subscribers are
     * checked only at the handshake: make them all reconnect. */
    if (dropped && !uv_is_active((uv_handle_t *)&sv->rebind)) {
        if (zmq_unbind(sv->pub, sv->events_ep) != 0) {
            hl_error("cannot unbind the events socket from %s: %s; subscribers with removed "
                     "keys keep receiving until they reconnect",
                     sv->events_ep, zmq_strerror(zmq_errno()));
        } else if (s_events_bind_again(sv) != 0) {
            uv_timer_start(&sv->rebind, s_on_rebind, 1000, 1000);
        }
    }
}

static void s_on_signal(uv_signal_t *h, int signum)
{
    server *sv = h->data;
    if (sv->stopping) return;
    hl_info("%s: stopping", signum == SIGTERM ? "SIGTERM" : "SIGINT");
    sv->stopping = 1;
    /* every batch is committed before its callback returns, so stopping
     * the handles is all there is to do */
    hl_zwatch_destroy(&sv->watch);
    if (sv->auth) auth_stop(sv->auth);
    uv_timer_stop(&sv->tick);
    uv_timer_stop(&sv->purge);
    uv_timer_stop(&sv->rebind);
    uv_timer_stop(&sv->deadline);
    uv_idle_stop(&sv->catchup);
    uv_close((uv_handle_t *)&sv->deadline, NULL);
    uv_close((uv_handle_t *)&sv->catchup, NULL);
    uv_close((uv_handle_t *)&sv->tick, NULL);
    uv_close((uv_handle_t *)&sv->purge, NULL);
    uv_close((uv_handle_t *)&sv->rebind, NULL);
    uv_close((uv_handle_t *)&sv->sigterm, NULL);
    uv_close((uv_handle_t *)&sv->sigint, NULL);
    uv_close((uv_handle_t *)&sv->sighup, NULL);
}

/* ---- requests from inside the process ---------------------------------------------- */

core *server_core(server *sv)
{
    return sv->core;
}

core_outq *server_outq(server *sv)
{
    return &sv->out;
}

void server_flush(server *sv)
{
    s_send_out(sv);
    if (sv->watch) hl_zwatch_recheck(sv->watch);
    /* a ticket made here may be due before the threshold the timer waits for */
    hl_ms wake = core_wakeup(sv->core);
    if (wake && sv->armed && wake < sv->armed) s_deadline_arm_at(sv, wake);
}

void server_on_event(server *sv, void (*fn)(const char *topic, const char *json, void *arg),
                     void *arg)
{
    sv->on_event = fn;
    sv->on_event_arg = arg;
}

/* ---- set-up ----------------------------------------------------------------------------- */

/* Bind; last (may be NULL) receives the endpoint as bound. */
static int s_bind(void *sock, const char *ep, const char *what, int secure, char *last,
                  size_t lastsize, char **err)
{
    if (zmq_bind(sock, ep) != 0) {
        *err =
            hl_sprintf("cannot bind the %s socket to %s: %s", what, ep, zmq_strerror(zmq_errno()));
        return -1;
    }
    char buf[256];
    size_t len = sizeof buf;
    if (zmq_getsockopt(sock, ZMQ_LAST_ENDPOINT, buf, &len) != 0) hl_strlcpy(buf, ep, sizeof buf);
    hl_info("%s socket bound to %s%s", what, buf, secure ? " (CURVE)" : "");
    if (last) hl_strlcpy(last, buf, lastsize);
    return 0;
}

server *server_new(uv_loop_t *loop, const hl_config *cfg, core *c, auth *a, const char *front,
                   const char *events, char **err)
{
    server *sv = hl_calloc(1, sizeof *sv);
    sv->loop = loop;
    sv->cfg = cfg;
    sv->core = c;
    sv->pend = hl_calloc(SERVER_BATCH, sizeof *sv->pend);
    core_outq_init(&sv->out);
    sv->ctx = zmq_ctx_new();
    /* The ZAP handler first: a CURVE socket that binds while no handler
     * listens admits every key. */
    if (a && auth_start(a, sv->ctx, loop, err) != 0) {
        server_destroy(&sv);
        return NULL;
    }
    sv->auth = a;
    sv->front = zmq_socket(sv->ctx, ZMQ_ROUTER);
    sv->pub = zmq_socket(sv->ctx, ZMQ_PUB);
    if (a && (auth_secure_socket(a, sv->front, AUTH_DOMAIN_FRONT, err) != 0 ||
              auth_secure_socket(a, sv->pub, AUTH_DOMAIN_EVENTS, err) != 0)) {
        server_destroy(&sv);
        return NULL;
    }
    if (a && (auth_monitor(a, sv->ctx, loop, sv->front, AUTH_DOMAIN_FRONT) != 0 ||
              auth_monitor(a, sv->ctx, loop, sv->pub, AUTH_DOMAIN_EVENTS) != 0))
        hl_warn("cannot monitor the CURVE handshakes: failed ones will not be logged");
    int one = 1, zero = 0, hwm = 100000;
    zmq_setsockopt(sv->front, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
    zmq_setsockopt(sv->front, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(sv->front, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(sv->front, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(sv->pub, ZMQ_LINGER, &zero, sizeof zero);
    /* a subscriber that does not read gets at most this many events queued
     * for it; the rest are dropped, and it catches up from the event log */
    int pub_hwm = SERVER_EVENTS_HWM;
    zmq_setsockopt(sv->pub, ZMQ_SNDHWM, &pub_hwm, sizeof pub_hwm);
    if (s_bind(sv->front, front, "front", a != NULL, NULL, 0, err) != 0 ||
        s_bind(sv->pub, events, "events", a != NULL, sv->events_ep, sizeof sv->events_ep, err) !=
            0) {
        server_destroy(&sv);
        return NULL;
    }
    sv->watch = hl_zwatch_new(loop, sv->front, s_on_front, sv);
    if (!sv->watch) {
        *err = hl_sprintf("cannot watch the front socket: %s", zmq_strerror(zmq_errno()));
        server_destroy(&sv);
        return NULL;
    }
    uv_timer_init(loop, &sv->tick);
    uv_timer_init(loop, &sv->purge);
    uv_timer_init(loop, &sv->rebind);
    sv->rebind.data = sv;
    uv_timer_init(loop, &sv->deadline);
    uv_idle_init(loop, &sv->catchup);
    sv->deadline.data = sv->catchup.data = sv;
    sv->tick.data = sv->purge.data = sv;
    uv_signal_init(loop, &sv->sigterm);
    uv_signal_init(loop, &sv->sigint);
    uv_signal_init(loop, &sv->sighup);
    sv->sigterm.data = sv->sigint.data = sv->sighup.data = sv;
    sv->handles = 1;
    return sv;
}

int server_run(server *sv)
{
    uint64_t hb = (uint64_t)sv->cfg->dispatcher.heartbeat_ms;
    uv_timer_start(&sv->tick, s_on_tick, hb, hb);
    uv_timer_start(&sv->purge, s_on_purge, 1000, 3600 * 1000);
    uv_signal_start(&sv->sigterm, s_on_signal, SIGTERM);
    uv_signal_start(&sv->sigint, s_on_signal, SIGINT);
    uv_signal_start(&sv->sighup, s_on_sighup, SIGHUP);
    /* restart resumes the deadlines from the index: no scan of open tickets */
    s_deadline_arm(sv);
    hl_info("serving");
    uv_run(sv->loop, UV_RUN_DEFAULT);
    return 0;
}

void server_destroy(server **svp)
{
    server *sv = *svp;
    if (!sv) return;
    *svp = NULL;
    if (sv->handles && !sv->stopping) {
        uv_close((uv_handle_t *)&sv->tick, NULL);
        uv_close((uv_handle_t *)&sv->purge, NULL);
        uv_close((uv_handle_t *)&sv->deadline, NULL);
        uv_close((uv_handle_t *)&sv->catchup, NULL);
        uv_close((uv_handle_t *)&sv->sigterm, NULL);
        uv_close((uv_handle_t *)&sv->sigint, NULL);
        uv_close((uv_handle_t *)&sv->rebind, NULL);
        uv_close((uv_handle_t *)&sv->sighup, NULL);
    }
    if (sv->watch) hl_zwatch_destroy(&sv->watch);
    if (sv->auth) auth_stop(sv->auth);
    uv_run(sv->loop, UV_RUN_NOWAIT); /* let closing handles finish */
    for (size_t i = 0; i < sv->npend; i++)
        core_reply_free(&sv->pend[i].rep);
    free(sv->pend);
    core_outq_free(&sv->out);
    if (sv->front) zmq_close(sv->front);
    if (sv->pub) zmq_close(sv->pub);
    /* the ZAP handler goes last: without it libzmq would admit any key */
    if (sv->auth) auth_close(sv->auth);
    if (sv->ctx) zmq_ctx_term(sv->ctx);
    free(sv);
}
