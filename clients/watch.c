/* watch.c — `hotline watch`: the live feed of events and alerts for
 * managers. Follows the events socket (SUB) and fills every hole from the
 * durable event log (the events op): after a seq gap, after a reconnect,
 * and on an idle timer, so a missed publication is printed late but never
 * lost. Prints each event once, in seq order. */
#include "cli.h"
#include "hotline/timefmt.h"
#include "hotline/utf8.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

static volatile sig_atomic_t s_stop;

static void s_on_signal(int sig)
{
    (void)sig;
    s_stop = 1;
}

typedef struct watch {
    cli *c;
    const char *prefix;
    int64_t last;    /* every event up to this seq has been handled */
    long long count; /* stop after this many printed; 0 = no limit */
    long long printed;
    int fetch_failed; /* the last catch-up could not reach the dispatcher */
} watch;

/* ---- printing ---------------------------------------------------------------- */

/* The topic an event was (or would have been) published under. */
static void s_topic(const cJSON *ev, char *buf, size_t size)
{
    const char *t = hl_json_str(ev, "topic");
    const cJSON *tk = cJSON_GetObjectItemCaseSensitive(ev, "ticket");
    const char *level = hl_json_str(ev, "level"), *kind = hl_json_str(ev, "kind");
    const char *unit = hl_json_str(ev, "unit");
    if (t)
        snprintf(buf, size, "%s", t);
    else if (level && hl_json_str(ev, "stage"))
        snprintf(buf, size, "alert.%s.%s", level, unit ? unit : "-");
    else if (kind && tk)
        snprintf(buf, size, "ticket.%s.%s", kind,
                 hl_json_str(tk, "lead") ? hl_json_str(tk, "lead") : "-");
    else if (kind && unit)
        snprintf(buf, size, "unit.%s.%s", kind, unit);
    else
        snprintf(buf, size, "%s", kind ? kind : "event");
}

static void s_print_line(watch *w, const char *topic, const cJSON *ev, const char *raw)
{
    cli *c = w->c;
    if (c->json) {
        if (raw) {
            printf("%s\n", raw);
        } else {
            char *text = cJSON_PrintUnformatted(ev);
            printf("%s\n", text ? text : "{}");
            free(text);
        }
        return;
    }
    char tm[64], seq[32] = "", pad1[64], pad2[64], due[64];
    const char *time = hl_json_str(ev, "time");
    hl_ms t;
    if (time && hl_time_parse(time, &t) == 0) {
        char full[64];
        cli_time(time, 1, full, sizeof full);
        snprintf(tm, sizeof tm, "%s", full + 11); /* HH:MM:SS */
    } else {
        snprintf(tm, sizeof tm, "--:--:--");
    }
    int64_t n;
    if (hl_json_int(ev, "seq", &n) == 0) snprintf(seq, sizeof seq, "#%lld", (long long)n);
    const cJSON *tk = cJSON_GetObjectItemCaseSensitive(ev, "ticket");
    const char *no = hl_json_str(tk, "no");
    const char *code = hl_json_str(tk, "category");
    const char *cname = cli_category_name(c, code);
    if (hl_starts_with(topic, "alert.")) {
        const char *level = hl_json_str(ev, "level"), *stage = hl_json_str(ev, "stage");
        const char *esc = hl_json_str(ev, "escalated_to");
        int red = hl_streq(level, "red");
        char what[96], tier[48] = "";
        snprintf(what, sizeof what, "%s %s", red ? "红牌" : "黄牌", red ? "RED" : "YELLOW");
        if (hl_json_int(ev, "tier", &n) == 0 && n > 0)
            snprintf(tier, sizeof tier, "（第 %lld 级）", (long long)n);
        cli_time(hl_json_str(ev, "due"), 1, due, sizeof due);
        if (c->color) printf("\033[%sm", red ? "1;31" : "33");
        printf("%s  %s  %s  %s%s  %s  %s  主办 %s", tm, hl_utf8_pad(seq, 6, pad1, sizeof pad1),
               hl_utf8_pad(what, 12, pad2, sizeof pad2), cli_level_zh(stage), red ? "超时" : "预警",
               no ? no : "?", cname ? cname : (code ? code : ""),
               cli_unit_label(c, hl_json_str(ev, "unit")));
        if (esc) printf("  升级至 %s%s", cli_unit_label(c, esc), tier);
        printf("  时限 %s", due + (strlen(due) > 11 ? 11 : 0));
        if (c->color) printf("\033[0m");
        printf("\n");
    } else if (hl_starts_with(topic, "ticket.")) {
        const char *kind = hl_json_str(ev, "kind");
        const char *lead = hl_json_str(tk, "lead");
        const char *note = hl_json_str(ev, "note");
        const char *actor = hl_json_str(ev, "actor");
        printf("%s  %s  %s  %s  %s  %s  %s", tm, hl_utf8_pad(seq, 6, pad1, sizeof pad1),
               hl_utf8_pad(cli_kind_zh(kind), 12, pad2, sizeof pad2), no ? no : "?",
               cli_status_zh(hl_json_str(tk, "status")), cname ? cname : (code ? code : ""),
               lead ? cli_unit_label(c, lead) : "（待派）");
        if (actor) printf("  [%s]", actor);
        if (note && *note) printf("  %s", note);
        printf("\n");
    } else if (hl_starts_with(topic, "unit.")) {
        const char *unit = hl_json_str(ev, "unit");
        if (!unit) unit = strchr(topic + 5, '.') ? strchr(topic + 5, '.') + 1 : NULL;
        int online = hl_starts_with(topic, "unit.online");
        printf("%s  %s  %s  %s（%s）%s\n", tm, hl_utf8_pad(seq, 6, pad1, sizeof pad1),
               hl_utf8_pad(online ? "上线" : "离线", 12, pad2, sizeof pad2),
               cli_unit_label(c, unit), unit ? unit : "?", online ? "已上线" : "已离线");
    } else {
        char *text = cJSON_PrintUnformatted(ev);
        printf("%s  %s  %s  %s\n", tm, hl_utf8_pad(seq, 6, pad1, sizeof pad1), topic,
               text ? text : "");
        free(text);
    }
}

static void s_emit(watch *w, const char *topic, const cJSON *ev, const char *raw)
{
    if (w->count && w->printed >= w->count) return;
    if (!hl_starts_with(topic, w->prefix)) return;
    s_print_line(w, topic, ev, raw);
    fflush(stdout);
    w->printed++;
}

/* ---- the durable log ------------------------------------------------------------ */

/* The first event after `after`: 1 with *seq, 0 none, -1 no reply (exit
 * status in *rc). */
static int s_probe(watch *w, int64_t after, int64_t *seq, int64_t *last, int *rc)
{
    cJSON *args = cJSON_CreateObject();
    cJSON_AddNumberToObject(args, "after", (double)after);
    cJSON_AddNumberToObject(args, "limit", 1);
    hl_reply r;
    *rc = cli_call(w->c, "events", args, &r, 0);
    if (*rc) return -1;
    const cJSON *ev = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(r.root, "events"), 0);
    int found = ev && hl_json_int(ev, "seq", seq) == 0;
    if (last && hl_json_int(r.root, "last", last) != 0) *last = -1;
    hl_reply_free(&r);
    return found;
}

/* The seq of the newest event in the log: where a watch without --from
 * starts. Read from "last" when the dispatcher reports the log's head there,
 * otherwise found by probing (a few dozen requests for a million events). */
static int s_head(watch *w, int64_t *head)
{
    int rc;
    int64_t lo, last, s;
    int f = s_probe(w, 0, &lo, &last, &rc);
    if (f < 0) return rc;
    if (f == 0) {
        *head = 0;
        return CLI_OK;
    }
    if (last > lo) {
        f = s_probe(w, last, &s, NULL, &rc);
        if (f < 0) return rc;
        if (f == 0) {
            *head = last;
            return CLI_OK;
        }
        lo = s;
    }
    int64_t step = 64, hi;
    for (;;) {
        f = s_probe(w, lo + step, &s, NULL, &rc);
        if (f < 0) return rc;
        if (f == 0) {
            hi = lo + step;
            break;
        }
        lo = s;
        step *= 2;
    }
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        f = s_probe(w, mid, &s, NULL, &rc);
        if (f < 0) return rc;
        if (f == 0)
            hi = mid;
        else
            lo = s;
    }
    *head = lo;
    return CLI_OK;
}

/* Print every logged event after w->last. 0, or -1 when the dispatcher did
 * not answer (said once until it answers again). */
static int s_catch_up(watch *w)
{
    for (;;) {
        if (s_stop || (w->count && w->printed >= w->count)) return 0;
        cJSON *args = cJSON_CreateObject();
        cJSON_AddNumberToObject(args, "after", (double)w->last);
        cJSON_AddNumberToObject(args, "limit", 500);
        hl_reply r;
        int rc = hl_client_call(w->c->client, "events", args, NULL, &r);
        if (rc != 0 || !r.ok) {
            if (!w->fetch_failed)
                fprintf(stderr, "# cannot fetch missed events from %s (%s); will retry\n",
                        w->c->connect, rc != 0 ? "no reply" : (r.message ? r.message : r.code));
            if (rc == 0) hl_reply_free(&r);
            w->fetch_failed = 1;
            return -1;
        }
        if (w->fetch_failed) fprintf(stderr, "# dispatcher answers again; caught up\n");
        w->fetch_failed = 0;
        int got = 0;
        const cJSON *ev;
        cJSON_ArrayForEach(ev, cJSON_GetObjectItemCaseSensitive(r.root, "events"))
        {
            int64_t seq;
            got++;
            if (hl_json_int(ev, "seq", &seq) != 0 || seq <= w->last) continue;
            char topic[256];
            s_topic(ev, topic, sizeof topic);
            s_emit(w, topic, ev, NULL);
            w->last = seq;
        }
        hl_reply_free(&r);
        if (got < 500) return 0;
    }
}

/* ---- the live feed ------------------------------------------------------------------ */

static void s_on_event(watch *w, const char *topic, const char *data, size_t len)
{
    cJSON *ev = cJSON_ParseWithLength(data, len);
    if (!cJSON_IsObject(ev)) {
        cJSON_Delete(ev);
        return;
    }
    int64_t seq;
    if (hl_json_int(ev, "seq", &seq) != 0) {
        /* not in the durable log (unit presence): shown as it comes */
        char *raw = hl_strndup(data, len);
        s_emit(w, topic, ev, raw);
        free(raw);
        cJSON_Delete(ev);
        return;
    }
    if (seq <= w->last) {
        cJSON_Delete(ev);
        return;
    }
    if (seq > w->last + 1) {
        s_catch_up(w);
        if (seq <= w->last) {
            cJSON_Delete(ev);
            return;
        }
        if (w->fetch_failed)
            fprintf(stderr, "# events #%lld to #%lld were missed and could not be fetched\n",
                    (long long)w->last + 1, (long long)seq - 1);
    }
    char *raw = hl_strndup(data, len);
    s_emit(w, topic, ev, raw);
    free(raw);
    w->last = seq;
    cJSON_Delete(ev);
}

/* Read what waits on the SUB socket (a bounded batch). */
static void s_drain_sub(watch *w, void *sub)
{
    for (int i = 0; i < 256; i++) {
        char topic[256];
        int n = zmq_recv(sub, topic, sizeof topic - 1, ZMQ_DONTWAIT);
        if (n < 0) return;
        topic[n < (int)sizeof topic - 1 ? n : (int)sizeof topic - 1] = '\0';
        int more = 0;
        size_t ml = sizeof more;
        zmq_getsockopt(sub, ZMQ_RCVMORE, &more, &ml);
        if (!more) continue;
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, sub, 0) >= 0) s_on_event(w, topic, zmq_msg_data(&m), zmq_msg_size(&m));
        /* skip any further frames of a malformed message */
        zmq_getsockopt(sub, ZMQ_RCVMORE, &more, &ml);
        zmq_msg_close(&m);
        while (more) {
            zmq_msg_init(&m);
            zmq_msg_recv(&m, sub, 0);
            zmq_msg_close(&m);
            zmq_getsockopt(sub, ZMQ_RCVMORE, &more, &ml);
        }
    }
}

/* The next monitor event of the SUB socket: 1 connected, 0 disconnected,
 * -1 another event, -2 none waiting. */
static int s_monitor_event(void *mon)
{
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, mon, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&m);
        return -2;
    }
    uint16_t event = 0;
    if (zmq_msg_size(&m) >= 2) memcpy(&event, zmq_msg_data(&m), 2);
    int more = zmq_msg_more(&m);
    zmq_msg_close(&m);
    while (more) {
        zmq_msg_init(&m);
        zmq_msg_recv(&m, mon, 0);
        more = zmq_msg_more(&m);
        zmq_msg_close(&m);
    }
    if (event == ZMQ_EVENT_CONNECTED) return 1;
    if (event == ZMQ_EVENT_DISCONNECTED) return 0;
    return -1;
}

int cmd_watch(cli *c, int argc, char **argv)
{
    static const cli_optspec opts[] = {
        {"count", 1}, {"for", 1}, {"from", 1}, {"poll", 1}, {NULL, 0}};
    cli_args a;
    int rc = cli_args_parse(&a, "watch", argc, argv, opts);
    if (rc) return rc;
    if (a.npos > 1) return cli_usage("watch", "give at most one topic prefix");
    watch w = {.c = c, .prefix = a.npos ? a.pos[0] : ""};
    long long v, seconds = 0, poll_ms = 2000, from = -1;
    const char *o;
    if ((o = cli_opt(&a, "count")) && (rc = cli_int("watch", "--count", o, 1, 1LL << 40, &v)))
        return rc;
    if (o) w.count = v;
    if ((o = cli_opt(&a, "for")) && (rc = cli_int("watch", "--for", o, 1, 1LL << 30, &seconds)))
        return rc;
    if ((o = cli_opt(&a, "poll")) && (rc = cli_int("watch", "--poll", o, 50, 3600000, &poll_ms)))
        return rc;
    if ((o = cli_opt(&a, "from")) &&
        (rc = cli_int("watch", "--from", o, 0, 9007199254740991LL, &from)))
        return rc;

    setvbuf(stdout, NULL, _IOLBF, 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    /* subscribe before reading the head, so nothing falls between them */
    void *ctx = zmq_ctx_new();
    void *sub = zmq_socket(ctx, ZMQ_SUB);
    void *mon = zmq_socket(ctx, ZMQ_PAIR);
    int linger = 0;
    zmq_setsockopt(sub, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(mon, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0); /* all: seq gaps show only on the full feed */
    if (c->curve && hl_curve_apply(sub, &c->keys) != 0) {
        rc = cli_usage("watch", "cannot use the CURVE keys on the events socket: %s",
                       zmq_strerror(errno));
        goto out;
    }
    char monep[64];
    snprintf(monep, sizeof monep, "inproc://hotline-watch-%p", (void *)&w);
    zmq_socket_monitor(sub, monep, ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED);
    zmq_connect(mon, monep);
    if (zmq_connect(sub, c->events) != 0) {
        rc = cli_usage("watch", "cannot use the events endpoint \"%s\": %s", c->events,
                       zmq_strerror(errno));
        goto out;
    }
    if (from >= 0) {
        w.last = from;
    } else {
        rc = s_head(&w, &w.last);
        if (rc) goto out;
    }
    fprintf(stderr, "# watching %s%s%s at %s from #%lld (Ctrl-C to stop)\n", *w.prefix ? "\"" : "",
            *w.prefix ? w.prefix : "all events", *w.prefix ? "\"" : "", c->events,
            (long long)w.last);
    /* from here on one quick try per catch-up: the next one retries */
    hl_client_set_timeout(c->client, c->timeout_ms < 1500 ? c->timeout_ms : 1500, 1);
    if (from >= 0) s_catch_up(&w);

    int64_t end = seconds ? hl_mono_ms() + seconds * 1000 : 0;
    int64_t next_poll = hl_mono_ms() + poll_ms;
    int connected = 0, ever = 0;
    while (!s_stop && !(w.count && w.printed >= w.count)) {
        int64_t now = hl_mono_ms();
        if (end && now >= end) break;
        if (now >= next_poll) {
            s_catch_up(&w);
            next_poll = hl_mono_ms() + poll_ms;
            continue;
        }
        int64_t wait = next_poll - now;
        if (end && end - now < wait) wait = end - now;
        zmq_pollitem_t items[2] = {{sub, 0, ZMQ_POLLIN, 0}, {mon, 0, ZMQ_POLLIN, 0}};
        int n = zmq_poll(items, 2, (long)wait);
        if (n < 0) continue; /* EINTR: look at s_stop */
        if (items[1].revents & ZMQ_POLLIN) {
            int state;
            while ((state = s_monitor_event(mon)) != -2) {
                if (state == 0 && connected) {
                    connected = 0;
                    fprintf(stderr, "# events socket disconnected; reconnecting\n");
                } else if (state == 1 && !connected) {
                    connected = 1;
                    if (ever) fprintf(stderr, "# events socket reconnected; catching up\n");
                    ever = 1;
                    /* what was published before our subscription arrived */
                    s_catch_up(&w);
                    next_poll = hl_mono_ms() + poll_ms;
                }
            }
        }
        if (items[0].revents & ZMQ_POLLIN) s_drain_sub(&w, sub);
    }
    rc = CLI_OK;
out:
    zmq_socket_monitor(sub, NULL, 0);
    zmq_close(mon);
    zmq_close(sub);
    zmq_ctx_term(ctx);
    return rc;
}
