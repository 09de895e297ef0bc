/* drive.c — B1, B2 and B3: the real dispatcher (and, for B2, real auto
 * workers) driven over the wire protocol by pipelined DEALER clients in
 * one thread. Requests are formatted with snprintf and replies scanned for
 * "re" and "ok" only, so the driver costs the machine little of what it
 * measures. */
#include "bench.h"

#include "hotline/proto.h"
#include "hotline/util.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#define DESCRIPTION "楼下广场舞音响声音过大，晚上十点以后仍未停止，严重影响老人和孩子休息，希望尽快处理。"

/* ---- connections ------------------------------------------------------------- */

static void *s_dealer(void *ctx, const char *front)
{
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    int zero = 0, hwm = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_connect(s, front);
    return s;
}

/* Read a reply's id and ok from the start of the text. Returns 0 for a
 * reply, 1 for a push, -1 for anything else. */
static int s_scan(const char *m, size_t len, unsigned *id, int *ok)
{
    char buf[160];
    size_t n = len < sizeof buf - 1 ? len : sizeof buf - 1;
    memcpy(buf, m, n);
    buf[n] = '\0';
    if (strstr(buf, "\"push\":")) return 1;
    const char *re = strstr(buf, "\"re\":\"");
    const char *okp = strstr(buf, "\"ok\":");
    if (!re || !okp) return -1;
    re += 6;
    while (*re && (*re < '0' || *re > '9')) re++; /* ids are a letter and a number */
    *id = (unsigned)strtoul(re, NULL, 10);
    *ok = strncmp(okp + 5, "true", 4) == 0;
    return 0;
}

/* Receive one message without waiting into buf (NUL-terminated, cut at
 * size - 1); its full length, or -1 when none waits. */
static int s_recv(void *s, char *buf, size_t size)
{
    int n = zmq_recv(s, buf, size - 1, ZMQ_DONTWAIT);
    if (n < 0) return -1;
    buf[(size_t)n < size - 1 ? (size_t)n : size - 1] = '\0';
    return n;
}

/* Say hello and wait for the answer (10 s). 0 when accepted. */
static int s_hello(void *s, const char *role, const char *client)
{
    char req[256];
    snprintf(req, sizeof req,
             "{\"v\":1,\"id\":\"h0\",\"op\":\"hello\",\"role\":\"%s\",\"client\":\"%s\"}", role,
             client);
    zmq_send(s, req, strlen(req), 0);
    zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
    char buf[4096];
    int64_t end = bn_ns() + 10000000000LL;
    while (bn_ns() < end) {
        if (zmq_poll(&it, 1, 100) <= 0) continue;
        unsigned id;
        int ok;
        while (s_recv(s, buf, sizeof buf) >= 0)
            if (s_scan(buf, strlen(buf), &id, &ok) == 0) return ok ? 0 : -1;
    }
    return -1;
}

static int s_create_req(char *buf, size_t size, char kind, unsigned k, const char *cell,
                        const char *tag)
{
    return snprintf(buf, size,
                    "{\"v\":1,\"id\":\"%c%u\",\"op\":\"create\",\"idem\":\"%s-%u\",\"ticket\":{"
                    "\"category\":\"env.noise\",\"description\":\"" DESCRIPTION "\","
                    "\"caller\":{\"name\":\"张先生\",\"phone\":\"139%08u\"},\"location\":{"
                    "\"cell\":\"%s\",\"address\":\"人民路100号\"}}}",
                    kind, k, tag, k, k, cell);
}

/* ---- B1: creates, pipelined ------------------------------------------------------- */

/* total creates over nclients connections, window outstanding on each.
 * Returns creates per second (replied ok), or -1. */
static double s_creates(const bn_opts *o, const bn_disp *d, int nclients, int window, int total,
                        const char *tag)
{
    const char *cells[16], *towns[16];
    int ncells = bn_town_cells(o->cfg, cells, towns, 10);
    if (ncells == 0) return -1;
    void *ctx = zmq_ctx_new();
    void **socks = hl_calloc((size_t)nclients, sizeof *socks);
    int *inflight = hl_calloc((size_t)nclients, sizeof *inflight);
    zmq_pollitem_t *items = hl_calloc((size_t)nclients, sizeof *items);
    int rc = 0;
    for (int i = 0; i < nclients && rc == 0; i++) {
        socks[i] = s_dealer(ctx, d->front);
        items[i] = (zmq_pollitem_t){socks[i], 0, ZMQ_POLLIN, 0};
        rc = s_hello(socks[i], "operator", "bench");
    }
    int sent = 0, done = 0, failed = 0;
    char req[1024], buf[8192];
    double t0 = bn_sec(), last = t0;
    while (rc == 0 && done < total) {
        for (int i = 0; i < nclients && sent < total; i++)
            while (inflight[i] < window && sent < total) {
                int n = s_create_req(req, sizeof req, 'c', (unsigned)sent, cells[sent % ncells],
                                     tag);
                if (zmq_send(socks[i], req, (size_t)n, 0) < 0) break;
                inflight[i]++;
                sent++;
            }
        if (zmq_poll(items, nclients, 1000) < 0 && errno != EINTR) break;
        for (int i = 0; i < nclients; i++) {
            int n;
            while ((n = s_recv(socks[i], buf, sizeof buf)) >= 0) {
                unsigned id;
                int ok;
                if (s_scan(buf, (size_t)n, &id, &ok) != 0) continue;
                inflight[i]--;
                done++;
                if (!ok) {
                    if (failed++ < 3) fprintf(stderr, "bench: create refused: %.300s\n", buf);
                }
                last = bn_sec();
            }
        }
        if (bn_sec() - last > 30) {
            fprintf(stderr, "bench: no reply for 30 s (%d of %d answered)\n", done, total);
            rc = -1;
        }
    }
    double secs = last - t0;
    for (int i = 0; i < nclients; i++)
        if (socks[i]) zmq_close(socks[i]);
    free(socks);
    free(inflight);
    free(items);
    zmq_ctx_term(ctx);
    if (rc != 0 || failed > 0 || secs <= 0) return -1;
    return total / secs;
}

void bn_b1_create(const bn_opts *o)
{
    int total = o->count ? o->count : o->quick ? 2000 : 60000;
    int raw_n = o->quick ? 2000 : 100000;
    double limit = bn_raw_sqlite(o, raw_n, 100);
    const char *db = bn_path(o, "b1.db");
    bn_rm_db(db);
    bn_disp d;
    if (bn_disp_start(&d, o, db, "b1") != 0) {
        bn_row_failed("B1", "the dispatcher did not start");
        return;
    }
    double cpu0 = bn_cpu_sec(d.pid);
    double rate = s_creates(o, &d, 16, 32, total, "b1");
    double cpu = bn_cpu_sec(d.pid) - cpu0;
    bn_disp_stop(&d);
    bn_rm_db(db);
    if (rate < 0 || limit <= 0) {
        bn_row_failed("B1", rate < 0 ? "creates failed (see the log)" : "raw SQLite failed");
        return;
    }
    fprintf(stderr, "bench: B1 dispatcher CPU %.1f µs per create\n", cpu / total * 1e6);
    double ratio = rate / limit;
    bn_row("B1", "creates/s, 16 pipelined clients", bn_fmt_rate(rate),
           bn_fmt("%s raw SQLite (ticket+event)", bn_fmt_rate(limit)), bn_fmt("%.2f", ratio),
           ">= 0.40 of the limit", ratio >= 0.4 ? BN_MET : BN_NOT_MET);
}

/* ---- B2: lifecycles with auto workers ------------------------------------------------ */

/* Units reported online by `units`; -1 on no answer. */
static int s_online(void *s, const char *const *units, int n)
{
    const char *req = "{\"v\":1,\"id\":\"u1\",\"op\":\"units\"}";
    zmq_send(s, req, strlen(req), 0);
    zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, 5000) <= 0) return -1;
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, s, 0) < 0) return -1;
    cJSON *r = cJSON_ParseWithLength(zmq_msg_data(&m), zmq_msg_size(&m));
    zmq_msg_close(&m);
    int count = 0;
    const cJSON *u;
    cJSON_ArrayForEach(u, cJSON_GetObjectItem(r, "units"))
    {
        const char *id = hl_json_str(u, "id");
        for (int i = 0; id && i < n; i++)
            if (strcmp(id, units[i]) == 0 && cJSON_IsTrue(cJSON_GetObjectItem(u, "online")))
                count++;
    }
    cJSON_Delete(r);
    return count;
}

/* The ticket id of an event's JSON, or 0. */
static unsigned s_event_ticket(const char *json)
{
    const char *p = strstr(json, "\"ticket\":{\"id\":");
    return p ? (unsigned)strtoul(p + 15, NULL, 10) : 0;
}

typedef struct b2_result {
    double rate, steady, secs;
    double disp_cpu, work_cpu;
} b2_result;

static int s_lifecycles(const bn_opts *o, const bn_disp *d, const char *const *cells, int ncells,
                        int total, int max_open, b2_result *res)
{
    void *ctx = zmq_ctx_new();
    enum { NCREATE = 4 };
    void *cs[NCREATE], *cb;
    int cin[NCREATE] = {0}, cbin = 0;
    int rc = 0;
    for (int i = 0; i < NCREATE && rc == 0; i++) {
        cs[i] = s_dealer(ctx, d->front);
        rc = s_hello(cs[i], "operator", "bench-create");
    }
    cb = s_dealer(ctx, d->front);
    if (rc == 0) rc = s_hello(cb, "operator", "bench-callback");
    void *sub = zmq_socket(ctx, ZMQ_SUB);
    int zero = 0;
    zmq_setsockopt(sub, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(sub, ZMQ_RCVHWM, &zero, sizeof zero);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "ticket.resolved.", 16);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "ticket.closed.", 14);
    zmq_connect(sub, d->events);
    bn_sleep_ms(300); /* the subscription reaches the publisher */

    unsigned *queue = hl_calloc((size_t)total + 1, sizeof *queue);
    size_t qhead = 0, qtail = 0;
    int created = 0, sent = 0, closed = 0, failed = 0, resolved = 0;
    double t0 = bn_sec(), last = t0, t20 = 0, t80 = 0;
    zmq_pollitem_t items[NCREATE + 2];
    for (int i = 0; i < NCREATE; i++) items[i] = (zmq_pollitem_t){cs[i], 0, ZMQ_POLLIN, 0};
    items[NCREATE] = (zmq_pollitem_t){cb, 0, ZMQ_POLLIN, 0};
    items[NCREATE + 1] = (zmq_pollitem_t){sub, 0, ZMQ_POLLIN, 0};
    char req[1024], buf[8192];
    while (rc == 0 && closed < total) {
        for (int i = 0; i < NCREATE; i++)
            while (cin[i] < 64 && sent < total && sent - closed < max_open) {
                int n = s_create_req(req, sizeof req, 'c', (unsigned)sent, cells[sent % ncells],
                                     "b2");
                if (zmq_send(cs[i], req, (size_t)n, 0) < 0) break;
                cin[i]++;
                sent++;
            }
        while (cbin < 256 && qhead < qtail) {
            unsigned id = queue[qhead];
            int n = snprintf(req, sizeof req,
                             "{\"v\":1,\"id\":\"k%u\",\"op\":\"callback\",\"idem\":\"b2k-%u\","
                             "\"ticket\":%u,\"result\":\"satisfied\",\"note\":\"回访满意\"}",
                             id, id, id);
            if (zmq_send(cb, req, (size_t)n, 0) < 0) break;
            qhead++;
            cbin++;
        }
        if (zmq_poll(items, NCREATE + 2, 1000) < 0 && errno != EINTR) break;
        for (int i = 0; i <= NCREATE; i++) {
            void *s = i < NCREATE ? cs[i] : cb;
            int n;
            while ((n = s_recv(s, buf, sizeof buf)) >= 0) {
                unsigned id;
                int ok;
                if (s_scan(buf, (size_t)n, &id, &ok) != 0) continue;
                if (i < NCREATE) {
                    cin[i]--;
                    created++;
                } else {
                    cbin--;
                }
                if (!ok && failed++ < 3) fprintf(stderr, "bench: refused: %.300s\n", buf);
                last = bn_sec();
            }
        }
        for (;;) {
            char topic[128];
            int n = zmq_recv(sub, topic, sizeof topic - 1, ZMQ_DONTWAIT);
            if (n < 0) break;
            topic[n < (int)sizeof topic - 1 ? n : (int)sizeof topic - 1] = '\0';
            n = s_recv(sub, buf, sizeof buf);
            if (n < 0) break;
            unsigned id = s_event_ticket(buf);
            if (hl_starts_with(topic, "ticket.resolved.")) {
                if (id && qtail < (size_t)total) queue[qtail++] = id;
                resolved++;
            } else if (hl_starts_with(topic, "ticket.closed.")) {
                closed++;
                if (closed == total / 5) t20 = bn_sec();
                if (closed == total * 4 / 5) t80 = bn_sec();
            }
            last = bn_sec();
        }
        if (bn_sec() - last > 30) {
            fprintf(stderr,
                    "bench: B2 stalled for 30 s: %d created, %d resolved, %d closed of %d\n",
                    created, resolved, closed, total);
            rc = -1;
        }
    }
    res->secs = last - t0;
    res->rate = res->secs > 0 ? total / res->secs : -1;
    res->steady = t80 > t20 ? (total * 4 / 5 - total / 5) / (t80 - t20) : res->rate;
    for (int i = 0; i < NCREATE; i++) zmq_close(cs[i]);
    zmq_close(cb);
    zmq_close(sub);
    zmq_ctx_term(ctx);
    free(queue);
    return rc == 0 && failed == 0 ? 0 : -1;
}

void bn_b2_lifecycle(const bn_opts *o)
{
    int total = o->count ? o->count : o->quick ? 1000 : 100000;
    const char *cells[16], *towns[16];
    int n = bn_town_cells(o->cfg, cells, towns, 10);
    if (n < 10 && !o->quick) {
        bn_row_failed("B2", "the configuration has fewer than 10 towns");
        return;
    }
    const char *db = bn_path(o, "b2.db");
    bn_rm_db(db);
    bn_disp d;
    if (bn_disp_start(&d, o, db, "b2") != 0) {
        bn_row_failed("B2", "the dispatcher did not start");
        return;
    }
    pid_t w[16];
    for (int i = 0; i < n; i++) w[i] = bn_worker_start(o, &d, towns[i], "sign=0,finish=0");
    /* the workers are there when their units are online */
    void *ctx = zmq_ctx_new();
    void *c = s_dealer(ctx, d.front);
    int online = -1;
    if (s_hello(c, "manager", "bench") == 0)
        for (int k = 0; k < 200 && (online = s_online(c, towns, n)) < n; k++) bn_sleep_ms(50);
    zmq_close(c);
    zmq_ctx_term(ctx);
    b2_result r = {0};
    int rc = -1;
    double dcpu0 = bn_cpu_sec(d.pid), wcpu0 = 0;
    for (int i = 0; i < n; i++) wcpu0 += bn_cpu_sec(w[i]);
    if (online == n) rc = s_lifecycles(o, &d, cells, n, total, 4000, &r);
    r.disp_cpu = bn_cpu_sec(d.pid) - dcpu0;
    for (int i = 0; i < n; i++) r.work_cpu += bn_cpu_sec(w[i]);
    r.work_cpu -= wcpu0;
    for (int i = 0; i < n; i++) bn_stop(w[i], 10000);
    bn_disp_stop(&d);
    bn_rm_db(db);
    if (rc != 0) {
        bn_row_failed("B2", online < n ? "the workers did not come online" : "lifecycles failed");
        return;
    }
    fprintf(stderr,
            "bench: B2 %d lifecycles in %.2f s; steady %.0f/s; CPU per lifecycle: dispatcher "
            "%.0f µs, workers %.0f µs\n",
            total, r.secs, r.steady, r.disp_cpu / total * 1e6, r.work_cpu / total * 1e6);
    bn_row("B2", bn_fmt("lifecycles/s, %d auto workers", n), bn_fmt_rate(r.rate), NULL, NULL,
           ">= 5,000/s on 2 cores", r.rate >= 5000 ? BN_MET : BN_NOT_MET);
}

/* ---- B3: latency at a paced rate ------------------------------------------------------ */

/* Open loop: request k is due at t0 + k / rate and its latency counts from
 * then, whenever it actually left. */
static int s_paced(const bn_opts *o, const bn_disp *d, int rate, int total, int warm,
                   bn_samples *lat, bn_samples *late)
{
    const char *cells[16], *towns[16];
    int ncells = bn_town_cells(o->cfg, cells, towns, 10);
    void *ctx = zmq_ctx_new();
    void *s = s_dealer(ctx, d->front);
    int rc = s_hello(s, "operator", "bench-paced");
    int64_t *due = hl_calloc((size_t)(total + warm), sizeof *due);
    int64_t step = 1000000000LL / rate;
    int sent = 0, done = 0, failed = 0;
    char req[1024], buf[8192];
    int fd = -1;
    size_t fdlen = sizeof fd;
    if (rc == 0 && zmq_getsockopt(s, ZMQ_FD, &fd, &fdlen) != 0) rc = -1;
    int64_t t0 = bn_ns() + 10000000, last = bn_ns();
    while (rc == 0 && done < total + warm) {
        int64_t now = bn_ns();
        while (sent < total + warm && now >= t0 + step * sent) {
            due[sent] = t0 + step * sent;
            /* how late the driver itself sent it: counted in the latency
             * (open loop), reported apart so a busy machine shows */
            if (sent >= warm) bn_samples_add(late, (double)(bn_ns() - due[sent]) / 1e6);
            int n = s_create_req(req, sizeof req, 'p', (unsigned)sent, cells[sent % ncells], "b3");
            zmq_send(s, req, (size_t)n, 0);
            sent++;
        }
        /* Wait for a reply or the next send, whichever comes first, to the
         * microsecond: zmq_poll counts whole milliseconds, and a sleep
         * between sends would see a reply only after it, charging the
         * dispatcher with up to a millisecond of the driver's own napping.
         * ZMQ_FD wakes ppoll when the socket's state changes; ZMQ_EVENTS
         * (read before every wait) says whether a reply is there. */
        int events = 0;
        size_t elen = sizeof events;
        zmq_getsockopt(s, ZMQ_EVENTS, &events, &elen);
        int64_t wait = sent < total + warm ? t0 + step * sent - bn_ns() : 100000000;
        if (!(events & ZMQ_POLLIN) && wait > 0) {
            struct pollfd pfd = {fd, POLLIN, 0};
            struct timespec ts = {(time_t)(wait / 1000000000), (long)(wait % 1000000000)};
            ppoll(&pfd, 1, &ts, NULL);
        }
        int n;
        while ((n = s_recv(s, buf, sizeof buf)) >= 0) {
            unsigned id;
            int ok;
            if (s_scan(buf, (size_t)n, &id, &ok) != 0 || id >= (unsigned)sent) continue;
            int64_t t = bn_ns();
            if (!ok && failed++ < 3) fprintf(stderr, "bench: refused: %.300s\n", buf);
            if ((int)id >= warm) bn_samples_add(lat, (double)(t - due[id]) / 1e6);
            done++;
            last = t;
        }
        if (bn_ns() - last > 30000000000LL) {
            fprintf(stderr, "bench: B3: no reply for 30 s\n");
            rc = -1;
        }
    }
    free(due);
    zmq_close(s);
    zmq_ctx_term(ctx);
    return rc == 0 && failed == 0 ? 0 : -1;
}

void bn_b3_latency(const bn_opts *o)
{
    /* BENCH_RATE=N offers another rate (profiling); the table says 1,000 */
    int rate = getenv("BENCH_RATE") ? atoi(getenv("BENCH_RATE")) : 1000;
    if (rate < 1) rate = 1000;
    int total = o->count ? o->count : o->quick ? 1000 : 30000, warm = o->quick ? 100 : 1000;
    double fs99 = 0, fs = bn_fsync_ms(o, o->quick ? 50 : 500, &fs99);
    double rtt = bn_zmq_rtt_ms(o->quick ? 200 : 5000);
    /* for the record (not the floor): SQLite alone committing one ticket
     * and one event per transaction on the store's schema */
    bn_samples tx = {0};
    bn_raw_sqlite_lat(o, o->quick ? 100 : 1000, 1, &tx);
    double tx50 = bn_pct(&tx, 50), tx99 = bn_pct(&tx, 99);
    bn_samples_free(&tx);
    double floor_ms = fs + rtt;
    const char *db = bn_path(o, "b3.db");
    bn_rm_db(db);
    bn_disp d;
    if (bn_disp_start(&d, o, db, "b3") != 0) {
        bn_row_failed("B3", "the dispatcher did not start");
        return;
    }
    bn_samples lat = {0}, late = {0};
    int rc = s_paced(o, &d, rate, total, warm, &lat, &late);
    double late99 = bn_pct(&late, 99);
    bn_samples_free(&late);
    bn_disp_stop(&d);
    bn_rm_db(db);
    if (rc != 0 || fs <= 0 || rtt <= 0) {
        bn_row_failed("B3", "paced creates failed");
        bn_samples_free(&lat);
        return;
    }
    double p50 = bn_pct(&lat, 50), p99 = bn_pct(&lat, 99), p999 = bn_pct(&lat, 99.9);
    double pmax = bn_pct(&lat, 100);
    bn_samples_free(&lat);
    fprintf(stderr,
            "bench: B3 fsync p50 %.3f ms (p99 %.3f ms), ZeroMQ RTT %.3f ms; raw SQLite, one "
            "ticket + event per transaction: p50 %.3f ms, p99 %.3f ms; create max %.2f ms; the "
            "driver sent late by %.2f ms at p99\n",
            fs, fs99, rtt, tx50, tx99, pmax, late99);
    const char *lim = bn_fmt("%s (fsync %.2f + RTT %.2f)", bn_fmt_ms(floor_ms), fs, rtt);
    bn_row("B3", "create p50 at 1,000/s offered", bn_fmt_ms(p50), lim,
           bn_fmt("%.2f", p50 / floor_ms), NULL, BN_NA);
    bn_row("B3", "create p99 at 1,000/s offered", bn_fmt_ms(p99), lim,
           bn_fmt("%.2f", p99 / floor_ms), "p99 <= 3 x the floor",
           p99 <= 3 * floor_ms ? BN_MET : BN_NOT_MET);
    bn_row("B3", "create p99.9 at 1,000/s offered", bn_fmt_ms(p999), lim,
           bn_fmt("%.2f", p999 / floor_ms), NULL, BN_NA);
}
