/* test_dispatcher_durable.c — durability: clients create tickets as fast as
 * they can, the dispatcher is killed with SIGKILL mid-stream and restarted
 * on the same database; every acknowledged ticket is there exactly once,
 * nothing is half-made, the event log has no gap, and retries with the
 * same idempotency key complete the rest. Also a clean SIGTERM restart. */
#include "test_dispatcher.h"

#include <signal.h>
#include <sys/resource.h>

#define NWRITERS 3
#define PER_WRITER 3000
#define WINDOW 64
#define KILL_AFTER 400 /* acknowledged creates before the kill */

typedef struct writer {
    th_client *c;
    int next;
    int outstanding;
    int64_t acked[PER_WRITER]; /* ticket id once acknowledged, 0 before */
} writer;

static void s_send_create(writer *w, int k, int i)
{
    char req[400];
    snprintf(req, sizeof req,
             "{\"v\":1,\"id\":\"w%d-%d\",\"op\":\"create\",\"idem\":\"w%d-%d\","
             "\"ticket\":{\"category\":\"env.noise\",\"description\":\"marker w%d-%d end\","
             "\"location\":{\"cell\":\"C-A1\"}}}",
             k, i, k, i, k, i);
    th_send_raw(w->c, req, strlen(req));
}

/* Take a reply: record the acknowledgement of an ok create. */
static void s_take(writer *ws, cJSON *r)
{
    const char *re = th_gets(r, "re");
    int k, i;
    if (re && sscanf(re, "w%d-%d", &k, &i) == 2 && k >= 0 && k < NWRITERS && i >= 0 &&
        i < PER_WRITER) {
        ws[k].outstanding--;
        if (th_is_ok(r)) ws[k].acked[i] = th_geti(r, "ticket.id");
    }
    cJSON_Delete(r);
}

/* Parse "marker wK-I end" out of a description. */
static int s_marker(const char *desc, int *k, int *i)
{
    return desc && sscanf(desc, "marker w%d-%d end", k, i) == 2 && *k >= 0 && *k < NWRITERS &&
           *i >= 0 && *i < PER_WRITER;
}

typedef struct s_counts {
    int (*counts)[PER_WRITER];
    int64_t (*ids)[PER_WRITER];
} s_counts;

static void s_census_ticket(const cJSON *t, void *arg)
{
    s_counts *c = arg;
    int k, i;
    if (!s_marker(th_gets(t, "description"), &k, &i))
        fail_msg("a ticket without a marker: %s", th_gets(t, "description"));
    c->counts[k][i]++;
    c->ids[k][i] = th_geti(t, "id");
    /* no half-made ticket: routed, numbered, with deadlines */
    assert_string_equal(th_gets(t, "status"), "dispatched");
    assert_string_equal(th_gets(t, "lead"), "t.a");
    assert_non_null(th_gets(t, "no"));
    assert_non_null(th_gets(t, "finish_due"));
}

/* Count the tickets of every marker, paging through list. */
static int s_census(th_client *c, int counts[NWRITERS][PER_WRITER],
                    int64_t ids[NWRITERS][PER_WRITER])
{
    s_counts sc = {counts, ids};
    return (int)td_each_item(c, "list", "tickets", NULL, s_census_ticket, &sc);
}

static void s_created_event(const cJSON *ev, void *arg)
{
    assert_string_equal(th_gets(ev, "kind"), "created");
    assert_true(th_geti(ev, "ticket.id") >= 1);
}

/* The event log: seq 1..n without a gap, one created event per ticket. */
static int s_check_log(th_client *mgr, int tickets)
{
    int n = (int)td_each_event(mgr, 1, s_created_event, NULL);
    assert_int_equal(n, tickets);
    return n;
}

static void test_kill9_mid_stream(void **state)
{
    static writer ws[NWRITERS];
    static int counts[NWRITERS][PER_WRITER];
    static int64_t ids[NWRITERS][PER_WRITER];
    memset(ws, 0, sizeof ws);
    th_disp d;
    /* a short write-ahead log: the checkpoint thread and the log's starting
     * over run all through the stream, the kill and the retries */
    td_start(&d, td_small_with("kill9.json", "\"max_message\": 65536",
                               "\"max_message\": 65536, \"wal_pages\": 100"));
    for (int k = 0; k < NWRITERS; k++)
        ws[k].c = th_client_new(d.front, "operator", NULL);

    int acked = 0;
    int64_t end = th_mono_ms() + 60000;
    while (acked < KILL_AFTER && th_mono_ms() < end) {
        for (int k = 0; k < NWRITERS; k++)
            while (ws[k].outstanding < WINDOW && ws[k].next < PER_WRITER) {
                s_send_create(&ws[k], k, ws[k].next++);
                ws[k].outstanding++;
            }
        for (int k = 0; k < NWRITERS; k++) {
            cJSON *r;
            while ((r = th_recv_reply(ws[k].c, k == 0 ? 5 : 0)) != NULL)
                s_take(ws, r);
        }
        acked = 0;
        for (int k = 0; k < NWRITERS; k++)
            for (int i = 0; i < ws[k].next; i++)
                acked += ws[k].acked[i] != 0;
    }
    assert_true(acked >= KILL_AFTER);
    /* a burst the dispatcher is still chewing on when it dies */
    for (int k = 0; k < NWRITERS; k++)
        for (int j = 0; j < 150 && ws[k].next < PER_WRITER; j++) {
            s_send_create(&ws[k], k, ws[k].next++);
            ws[k].outstanding++;
        }
    th_disp_kill9(&d);
    /* replies already on their way were acknowledgements too */
    for (int k = 0; k < NWRITERS; k++) {
        cJSON *r;
        while ((r = th_recv_reply(ws[k].c, 200)) != NULL)
            s_take(ws, r);
    }
    int sent = 0, in_flight = 0;
    acked = 0;
    for (int k = 0; k < NWRITERS; k++) {
        sent += ws[k].next;
        for (int i = 0; i < ws[k].next; i++) {
            acked += ws[k].acked[i] != 0;
            in_flight += ws[k].acked[i] == 0;
        }
    }
    assert_true(in_flight > 0); /* the kill did land mid-stream */
    print_message("# sent %d creates, %d acknowledged before SIGKILL\n", sent, acked);

    char config[512], db[512];
    snprintf(config, sizeof config, "%s", d.config);
    snprintf(db, sizeof db, "%s", d.db);
    int64_t t0 = th_mono_ms();
    th_disp_start(&d, config, db, NULL);
    int64_t restart_ms = th_mono_ms() - t0;
    assert_true(restart_ms < 10000);

    th_client *mgr = th_client_new(d.front, "manager", NULL);
    int total = s_census(mgr, counts, ids);
    for (int k = 0; k < NWRITERS; k++)
        for (int i = 0; i < PER_WRITER; i++) {
            if (counts[k][i] > 1) fail_msg("w%d-%d made %d tickets", k, i, counts[k][i]);
            if (ws[k].acked[i] && counts[k][i] != 1)
                fail_msg("acknowledged w%d-%d (ticket %lld) is missing after the restart", k, i,
                         (long long)ws[k].acked[i]);
            if (ws[k].acked[i]) assert_int_equal(ids[k][i], ws[k].acked[i]);
            if (i >= ws[k].next) assert_int_equal(counts[k][i], 0);
        }
    assert_true(total >= acked);
    s_check_log(mgr, total);

    /* the writers retry what was not acknowledged, with the same keys */
    th_client *retry = th_client_new(d.front, "operator", NULL);
    for (int k = 0; k < NWRITERS; k++)
        for (int i = 0; i < ws[k].next; i++) {
            if (ws[k].acked[i]) continue;
            char args[300];
            snprintf(args, sizeof args,
                     "{\"idem\":\"w%d-%d\",\"ticket\":{\"category\":\"env.noise\","
                     "\"description\":\"marker w%d-%d end\",\"location\":{\"cell\":\"C-A1\"}}}",
                     k, i, k, i);
            cJSON *r = th_ok(retry, "create", "%s", args);
            if (counts[k][i] == 1) assert_int_equal(th_geti(r, "ticket.id"), ids[k][i]);
            cJSON_Delete(r);
        }
    memset(counts, 0, sizeof counts);
    total = s_census(mgr, counts, ids);
    assert_int_equal(total, sent);
    for (int k = 0; k < NWRITERS; k++)
        for (int i = 0; i < ws[k].next; i++)
            assert_int_equal(counts[k][i], 1);
    s_check_log(mgr, total);

    th_client_destroy(&retry);
    th_client_destroy(&mgr);
    for (int k = 0; k < NWRITERS; k++)
        th_client_destroy(&ws[k].c);
    assert_int_equal(th_disp_stop(&d), 0);
    /* the second run's log says how often the log started over */
    char *log = th_read(d.log);
    assert_non_null(log);
    const char *at = NULL, *p = log;
    while ((p = strstr(p, "the log started over ")) != NULL)
        at = p++;
    assert_non_null(at);
    long restarts = strtol(at + strlen("the log started over "), NULL, 10);
    print_message("# %.*s\n", (int)strcspn(at, "\n"), at);
    assert_true(restarts >= 1);
    free(log);
}

/* SIGTERM: exit 0; the restart serves the same tickets, numbers and log go
 * on where they stopped, and old connections must say hello again. */
static void test_sigterm_restart(void **state)
{
    th_disp d;
    td_start(&d, "config/test-small.json");
    th_client *op = th_client_new(d.front, "operator", NULL);
    th_client *wa = th_client_new(d.front, "worker", "t.a");
    int64_t a = td_create_id(
        op, "{\"category\":\"env.noise\",\"description\":\"一\",\"location\":{\"cell\":\"C-A1\"}}");
    td_create_id(op, "{\"category\":\"misc.other\",\"description\":\"二\"}");
    td_ok(wa, "sign", "{\"ticket\":%lld}", (long long)a);
    th_client *mgr = th_client_new(d.front, "manager", NULL);
    int events = td_event_count(mgr); /* online, created, created, accepted */
    assert_int_equal(events, 4);
    assert_int_equal(th_disp_stop(&d), 0);

    char config[512], db[512];
    snprintf(config, sizeof config, "%s", d.config);
    snprintf(db, sizeof db, "%s", d.db);
    th_disp_start(&d, config, db, NULL);
    /* the old connection reconnects by itself, but its session is gone */
    td_err_msg(op, "forbidden", "hello", "get", "{\"ticket\":1}");
    td_ok(op, "hello", "{\"role\":\"operator\"}");
    td_assert_status(op, a, "accepted");
    cJSON *r = td_create(op, "{\"category\":\"misc.other\",\"description\":\"三\"}");
    assert_string_equal(th_gets(r, "ticket.no") + 9, "000003");
    assert_int_equal(th_geti(r, "ticket.id"), 3);
    cJSON_Delete(r);
    td_ok(mgr, "hello", "{\"role\":\"manager\"}");
    r = th_ok(mgr, "events", "{\"after\":%d}", events);
    assert_int_equal(cJSON_GetArraySize(th_get(r, "events")), 1);
    assert_int_equal(th_geti(r, "events.0.seq"), events + 1);
    td_assert_str(r, "events.0.kind", "created");
    cJSON_Delete(r);
    /* the worker's feed is still there */
    td_ok(wa, "hello", "{\"role\":\"worker\",\"unit\":\"t.a\"}");
    r = th_ok(wa, "inbox", "{\"after\":0}");
    assert_int_equal(cJSON_GetArraySize(th_get(r, "items")), 2);
    cJSON_Delete(r);
    th_client_destroy(&op);
    th_client_destroy(&wa);
    th_client_destroy(&mgr);
    assert_int_equal(th_disp_stop(&d), 0);
}

/* The disk fills up: writes fail. Requests that would change something are
 * refused with internal and "nothing was applied", reads go on, nothing
 * acknowledged is lost, nothing refused half-exists, and after a restart
 * with room the dispatcher carries on. */
static void test_disk_full(void **state)
{
    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = 1 << 20; /* no file may grow past 1 MB */
    th_disp d;
    memset(&d, 0, sizeof d);
    char config[512], db[512];
    snprintf(config, sizeof config, "%s", th_src("config/test-small.json"));
    snprintf(db, sizeof db, "%s", th_path("full/hotline.db"));
    signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0); /* inherited by the dispatcher */
    th_disp_start(&d, config, db, NULL);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);

    th_client *op = th_client_new(d.front, "operator", NULL);
    static char desc[3001 * 3];
    desc[0] = '\0';
    for (int i = 0; i < 3000; i++)
        strcat(desc, "满");
    int acked = 0, refused = 0;
    for (int i = 0; i < 400 && !refused; i++) {
        cJSON *r = th_call(op, "create",
                           "{\"idem\":\"full-%d\",\"ticket\":{\"category\":\"misc.other\","
                           "\"description\":\"%s\"}}",
                           i, desc);
        if (th_is_ok(r)) {
            acked++;
        } else {
            assert_string_equal(th_err_code(r), "internal");
            assert_non_null(strstr(th_gets(r, "error.message"), "nothing was applied"));
            refused = 1;
        }
        cJSON_Delete(r);
    }
    assert_true(refused);
    assert_true(acked > 10);
    /* still serving reads, with exactly what was acknowledged */
    td_ok(op, "ping", "");
    th_client *mgr = th_client_new(d.front, "manager", NULL);
    assert_int_equal(td_each_item(mgr, "list", "tickets", NULL, NULL, NULL), acked);
    s_check_log(mgr, acked);
    th_client_destroy(&op);
    th_client_destroy(&mgr);
    th_disp_stop(&d); /* may fail to checkpoint: no room */

    /* room again: the refused create goes through on retry, once */
    th_disp_start(&d, config, db, NULL);
    op = th_client_new(d.front, "operator", NULL);
    cJSON *r = th_ok(op, "create",
                     "{\"idem\":\"full-%d\",\"ticket\":{\"category\":\"misc.other\","
                     "\"description\":\"%s\"}}",
                     acked, desc);
    assert_int_equal(th_geti(r, "ticket.id"), acked + 1);
    cJSON_Delete(r);
    mgr = th_client_new(d.front, "manager", NULL);
    s_check_log(mgr, acked + 1);
    th_client_destroy(&op);
    th_client_destroy(&mgr);
    assert_int_equal(th_disp_stop(&d), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kill9_mid_stream),
        cmocka_unit_test(test_sigterm_restart),
        cmocka_unit_test(test_disk_full),
    };
    return TH_MAIN("dispatcher_durable", tests);
}
