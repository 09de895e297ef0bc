/* scale.c — B4 and B5: the dispatcher on a database of a million tickets,
 * built once per run by the bulk loader (load.c): restart time, deadline
 * alerts among a million open tickets against the same among a thousand,
 * and the resident memory after real work on it. */
#include "bench.h"

#include "hotline/util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

/* The million-ticket database, loaded once per run (all of them open, their
 * thresholds hours ahead); NULL when loading failed. */
static const char *s_big_db(const bn_opts *o, int *n)
{
    static char path[1024];
    static int state, count; /* state: 0 not yet, 1 loaded, -1 failed */
    if (state == 0) {
        count = o->quick ? 20000 : 1000000;
        snprintf(path, sizeof path, "%s/big.db", o->dir);
        bn_rm_db(path);
        double t0 = bn_sec();
        state = bn_load(o, path, count, count) == 0 ? 1 : -1;
        fprintf(stderr, "bench: loaded %d open tickets through the store in %.1f s\n", count,
                bn_sec() - t0);
    }
    *n = count;
    return state == 1 ? path : NULL;
}

/* A synchronous request on s; the reply's text (caller frees) or NULL. */
static char *s_call(void *s, const char *req, int timeout_ms)
{
    zmq_send(s, req, strlen(req), 0);
    zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
    int64_t end = bn_ns() + (int64_t)timeout_ms * 1000000;
    while (bn_ns() < end) {
        if (zmq_poll(&it, 1, 100) <= 0) continue;
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, s, 0) < 0) return NULL;
        char *text = hl_strndup(zmq_msg_data(&m), zmq_msg_size(&m));
        zmq_msg_close(&m);
        if (strstr(text, "\"push\":")) {
            free(text);
            continue;
        }
        return text;
    }
    return NULL;
}

typedef struct b4_case {
    double restart;         /* the slower of the two starts, seconds */
    double delay_p50, delay_max; /* threshold to alert received, ms */
    double cpu_per_alert;   /* main-thread CPU, µs */
    int alerts;
} b4_case;

/* due alerts falling due among the tickets of db: load them, start the
 * dispatcher, take the alerts off the events socket, then start it again. */
static int s_b4_run(const bn_opts *o, const char *db, const char *tag, int due, b4_case *r)
{
    memset(r, 0, sizeof *r);
    int64_t step = 2; /* ms between thresholds: 1,000 over two seconds */
    hl_ms first = hl_now() + (o->quick ? 3000 : 5000);
    int64_t first_id = 0;
    if (bn_load_due(o, db, due, first, step, &first_id) != 0) return -1;
    bn_disp d;
    if (bn_disp_start(&d, o, db, tag) != 0) return -1;
    double start1 = d.ready_sec;
    void *ctx = zmq_ctx_new();
    void *sub = zmq_socket(ctx, ZMQ_SUB);
    int zero = 0;
    zmq_setsockopt(sub, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(sub, ZMQ_RCVHWM, &zero, sizeof zero);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "alert.", 6);
    zmq_connect(sub, d.events);
    if (hl_now() > first - 200) fprintf(stderr, "bench: B4 %s: the start took past the first threshold\n", tag);
    while (hl_now() < first - 200) bn_sleep_ms(20);
    double cpu0 = bn_main_cpu_sec(d.pid);
    bn_samples delay = {0};
    zmq_pollitem_t it = {sub, 0, ZMQ_POLLIN, 0};
    hl_ms end = first + (hl_ms)due * step + 30000;
    char topic[128], buf[4096];
    while (r->alerts < due && hl_now() < end) {
        if (zmq_poll(&it, 1, 200) <= 0) continue;
        for (;;) {
            int n = zmq_recv(sub, topic, sizeof topic, ZMQ_DONTWAIT);
            if (n < 0) break;
            n = zmq_recv(sub, buf, sizeof buf - 1, 0);
            if (n < 0) break;
            buf[n < (int)sizeof buf - 1 ? n : (int)sizeof buf - 1] = '\0';
            hl_ms now = hl_now();
            const char *p = strstr(buf, "\"ticket\":{\"id\":");
            int64_t id = p ? strtoll(p + 15, NULL, 10) : 0;
            if (id < first_id || id >= first_id + due) continue;
            bn_samples_add(&delay, (double)(now - (first + (id - first_id) * step)));
            r->alerts++;
        }
    }
    bn_sleep_ms(100);
    double cpu = bn_main_cpu_sec(d.pid) - cpu0;
    zmq_close(sub);
    zmq_ctx_term(ctx);
    bn_disp_stop(&d);
    r->delay_p50 = bn_pct(&delay, 50);
    r->delay_max = bn_pct(&delay, 100);
    bn_samples_free(&delay);
    r->cpu_per_alert = r->alerts ? cpu / r->alerts * 1e6 : NAN;
    /* and a plain restart, nothing falling due */
    if (bn_disp_start(&d, o, db, tag) != 0) return -1;
    r->restart = d.ready_sec > start1 ? d.ready_sec : start1;
    bn_disp_stop(&d);
    fprintf(stderr,
            "bench: B4 %s: starts %.3f s and %.3f s; %d of %d alerts, delay p50 %.0f ms, max "
            "%.0f ms; %.0f µs CPU per alert\n",
            tag, start1, d.ready_sec, r->alerts, due, r->delay_p50, r->delay_max,
            r->cpu_per_alert);
    return r->alerts == due ? 0 : -1;
}

void bn_b4_deadlines(const bn_opts *o)
{
    int due = o->quick ? 200 : 1000, n;
    const char *small = bn_path(o, "b4-small.db");
    bn_rm_db(small);
    b4_case s, b;
    if (s_b4_run(o, small, "b4-small", due, &s) != 0) {
        bn_row_failed("B4", "alerts among 1,000 open tickets failed");
        return;
    }
    bn_rm_db(small);
    const char *big = s_big_db(o, &n);
    if (!big || s_b4_run(o, big, "b4-big", due, &b) != 0) {
        bn_row_failed("B4", "alerts among a million open tickets failed");
        return;
    }
    const char *nb = o->quick ? "20,000" : "1,000,000";
    double rr = b.restart / s.restart, cr = b.cpu_per_alert / s.cpu_per_alert;
    bn_row("B4", bn_fmt("restart (start to reply), %s open", nb),
           bn_fmt("%.3f s", b.restart), bn_fmt("%.3f s with %d open", s.restart, due),
           bn_fmt("%.2f", rr), "<= 2 s", b.restart <= 2.0 ? BN_MET : BN_NOT_MET);
    bn_row("B4", bn_fmt("alert delay p50/max, %s open", nb),
           bn_fmt("%.0f / %.0f ms", b.delay_p50, b.delay_max),
           bn_fmt("%.0f / %.0f ms with %d open", s.delay_p50, s.delay_max, due),
           bn_fmt("%.2f", b.delay_max / (s.delay_max > 0 ? s.delay_max : 1)),
           "max <= 1 s (DESIGN 6)", b.delay_max <= 1000 ? BN_MET : BN_NOT_MET);
    bn_row("B4", bn_fmt("CPU per alert, %s open", nb), bn_fmt("%.0f us", b.cpu_per_alert),
           bn_fmt("%.0f us with %d open", s.cpu_per_alert, due), bn_fmt("%.2f", cr), "ratio <= 1.5",
           cr <= 1.5 ? BN_MET : BN_NOT_MET);
}

void bn_b5_memory(const bn_opts *o)
{
    int n;
    const char *db = s_big_db(o, &n);
    if (!db) {
        bn_row_failed("B5", "loading the database failed");
        return;
    }
    bn_disp d;
    if (bn_disp_start(&d, o, db, "b5") != 0) {
        bn_row_failed("B5", "the dispatcher did not start");
        return;
    }
    long rss_start = bn_rss_kb(d.pid);
    /* real work on it: creates, every unit's open list, the newest tickets */
    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    int zero = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_connect(s, d.front);
    char *r = s_call(s, "{\"v\":1,\"id\":\"h\",\"op\":\"hello\",\"role\":\"manager\"}", 10000);
    int ok = r != NULL;
    free(r);
    const char *cells[16], *towns[16];
    int nc = bn_town_cells(o->cfg, cells, towns, 10);
    char req[1024];
    int ncreate = o->quick ? 200 : 5000;
    for (int i = 0; ok && i < ncreate; i++) {
        snprintf(req, sizeof req,
                 "{\"v\":1,\"id\":\"c%d\",\"op\":\"create\",\"idem\":\"b5-%d\",\"ticket\":{"
                 "\"category\":\"env.noise\",\"description\":\"噪音扰民\",\"caller\":{\"phone\":"
                 "\"136%08d\"},\"location\":{\"cell\":\"%s\"}}}",
                 i, i, i, cells[i % nc]);
        free(r = s_call(s, req, 30000));
        ok = r != NULL;
    }
    for (int i = 0; ok && i < nc; i++) {
        snprintf(req, sizeof req,
                 "{\"v\":1,\"id\":\"l%d\",\"op\":\"list\",\"unit\":\"%s\",\"status\":["
                 "\"dispatched\"],\"limit\":1000}",
                 i, towns[i]);
        free(r = s_call(s, req, 30000));
        ok = r != NULL;
    }
    for (int i = 0; ok && i < 1000; i++) {
        snprintf(req, sizeof req, "{\"v\":1,\"id\":\"g%d\",\"op\":\"get\",\"ticket\":%d}", i,
                 1 + (int)((int64_t)i * 7919 % n));
        free(r = s_call(s, req, 30000));
        ok = r != NULL;
    }
    free(r = s_call(s, "{\"v\":1,\"id\":\"e\",\"op\":\"events\",\"after\":0,\"limit\":1000}",
                    30000));
    /* the assessment of all time (every dispatch), as the dashboard asks
     * for it: how long it takes, and how long a ping on another connection
     * waits meanwhile */
    double stats_s = -1, ping_max = 0;
    int pings = 0;
    if (ok) {
        void *p = zmq_socket(ctx, ZMQ_DEALER);
        zmq_setsockopt(p, ZMQ_LINGER, &zero, sizeof zero);
        zmq_connect(p, d.front);
        free(r = s_call(p, "{\"v\":1,\"id\":\"h\",\"op\":\"hello\",\"role\":\"manager\"}", 10000));
        const char *st = "{\"v\":1,\"id\":\"s\",\"op\":\"stats\"}";
        double t0 = bn_sec();
        zmq_send(s, st, strlen(st), 0);
        zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
        while (bn_sec() - t0 < 120) {
            if (zmq_poll(&it, 1, 0) > 0) {
                zmq_msg_t m;
                zmq_msg_init(&m);
                zmq_msg_recv(&m, s, 0);
                int is_stats =
                    memmem(zmq_msg_data(&m), zmq_msg_size(&m), "\"re\":\"s\"", 8) != NULL;
                zmq_msg_close(&m);
                if (is_stats) {
                    stats_s = bn_sec() - t0;
                    break;
                }
            }
            double t1 = bn_sec();
            free(r = s_call(p, "{\"v\":1,\"id\":\"p\",\"op\":\"ping\"}", 30000));
            if (!r) break;
            double ms = (bn_sec() - t1) * 1000.0;
            if (ms > ping_max) ping_max = ms;
            pings++;
            bn_sleep_ms(5);
        }
        zmq_close(p);
    }
    zmq_close(s);
    zmq_ctx_term(ctx);
    long rss = bn_rss_kb(d.pid), hwm = bn_hwm_kb(d.pid);
    bn_disp_stop(&d);
    if (!ok || hwm < 0) {
        bn_row_failed("B5", "requests on the big database failed");
        return;
    }
    fprintf(stderr, "bench: B5 RSS %ld KiB after start, %ld KiB after work, peak %ld KiB\n",
            rss_start, rss, hwm);
    double mb = (double)hwm / 1024.0;
    bn_row("B5", bn_fmt("peak RSS, %d tickets stored", n), bn_fmt("%.1f MiB", mb), NULL, NULL,
           "<= 100 MB", mb * 1048576.0 <= 100e6 ? BN_MET : BN_NOT_MET);
    if (stats_s < 0) {
        bn_row_failed("B5", "stats over every dispatch did not answer");
        return;
    }
    fprintf(stderr, "bench: B5 all-time stats %.2f s; %d pings meanwhile, the slowest %.1f ms\n",
            stats_s, pings, ping_max);
    bn_row("B5", "a ping during an all-time stats", bn_fmt("max %s", bn_fmt_ms(ping_max)),
           bn_fmt("stats %.2f s", stats_s), bn_fmt("%.3f", ping_max / 1000.0 / stats_s),
           "the loop not held up", BN_NA);
}
