/* test_fault_flap.c — a worker whose link flaps every few seconds loses
 * nothing: an auto worker handles a stream of tickets while the dispatcher
 * is, in turn, frozen (SIGSTOP) long enough for the worker to declare the
 * link down, killed with SIGKILL and restarted, and stopped with SIGTERM
 * and restarted. In the end every ticket was signed and finished exactly
 * once according to the dispatcher's own history, and the worker has
 * nothing left to send. */
#include "test_fault.h"
#include "test_worker.h"

#include <signal.h>

#define CYCLES 6
#define BURST 40

/* Create BURST tickets for t.a, pipelined; numbers from base. */
static void s_burst(th_client *op, int base)
{
    for (int i = base; i < base + BURST; i++) {
        char req[600];
        snprintf(req, sizeof req,
                 "{\"v\":1,\"id\":\"c%d\",\"op\":\"create\",\"idem\":\"c%d\",\"ticket\":"
                 "{\"category\":\"env.noise\",\"description\":\"闪断测试 %d\",\"caller\":"
                 "{\"phone\":\"1370000%04d\"},\"location\":{\"cell\":\"C-A2\"}}}",
                 i, i, i, i);
        th_send_raw(op, req, strlen(req));
    }
    for (int i = 0; i < BURST; i++) {
        cJSON *r = th_recv_reply(op, 20000);
        assert_non_null(r);
        if (!th_is_ok(r)) fail_msg("create refused: %s", th_gets(r, "error.message"));
        cJSON_Delete(r);
    }
}

/* Tickets signed so far (accepted or resolved). */
static int s_signed_count(th_client *c)
{
    cJSON *r = th_ok(c, "list", "{\"status\":[\"accepted\",\"resolved\"],\"limit\":1000}");
    int n = cJSON_GetArraySize(th_get(r, "tickets"));
    cJSON_Delete(r);
    return n;
}

/* Is the unit online (a worker of it heard from lately)? */
static int s_online(th_client *c, const char *unit)
{
    cJSON *r = th_ok(c, "units", "");
    int on = 0;
    const cJSON *u;
    cJSON_ArrayForEach(u, th_get(r, "units"))
    {
        if (th_gets(u, "id") && strcmp(th_gets(u, "id"), unit) == 0)
            on = cJSON_IsTrue(cJSON_GetObjectItem(u, "online"));
    }
    cJSON_Delete(r);
    return on;
}

static int s_open_count(th_client *c)
{
    cJSON *r = th_ok(c, "list", "{\"status\":[\"dispatched\",\"accepted\"],\"limit\":1000}");
    int n = cJSON_GetArraySize(th_get(r, "tickets"));
    cJSON_Delete(r);
    return n;
}

typedef struct counts {
    int created, accepted, resolved, other;
} counts;

typedef struct s_tally {
    counts *per;
    int made;
} s_tally;

/* Count an event of the log under its ticket. */
static void s_tally_event(const cJSON *e, void *arg)
{
    s_tally *t = arg;
    int64_t id = th_geti(e, "ticket.id");
    const char *kind = th_gets(e, "kind");
    if (id < 1) return; /* units online and offline */
    assert_true(id <= t->made);
    if (strcmp(kind, "created") == 0)
        t->per[id].created++;
    else if (strcmp(kind, "accepted") == 0)
        t->per[id].accepted++;
    else if (strcmp(kind, "resolved") == 0)
        t->per[id].resolved++;
    else
        t->per[id].other++;
}

static void test_flapping_link_loses_nothing(void **state)
{
    th_disp d = {0};
    char config[512], db[512];
    snprintf(config, sizeof config, "%s", tw_config()); /* 1 s heartbeat */
    snprintf(db, sizeof db, "%s", th_path("flap/hotline.db"));
    th_disp_start(&d, config, db, NULL);
    pid_t w = tw_auto(&d, "t.a", th_path("flap-w.db"), "sign=100ms,finish=200ms,seed=3");

    th_client *op = th_client_new(d.front, "operator", NULL);
    assert_true(TH_WAIT_UNTIL(s_online(op, "t.a"), 10000));
    th_client_destroy(&op);

    int made = 0;
    int64_t t0 = th_mono_ms();
    for (int cycle = 0; cycle < CYCLES; cycle++) {
        op = th_client_new(d.front, "operator", NULL);
        int before = s_signed_count(op);
        s_burst(op, made);
        made += BURST;
        /* the worker is at work on the burst when the link goes */
        assert_true(TH_WAIT_UNTIL(s_signed_count(op) >= before + BURST / 4, 20000));
        th_client_destroy(&op);
        switch (cycle % 3) {
        case 0: /* frozen past three heartbeats: the worker declares the link down */
            assert_int_equal(kill(d.pid, SIGSTOP), 0);
            th_sleep_ms(5000); /* the fault itself, not a wait for something */
            assert_int_equal(kill(d.pid, SIGCONT), 0);
            break;
        case 1:
            th_disp_kill9(&d);
            th_disp_start(&d, config, db, NULL);
            break;
        case 2:
            assert_int_equal(th_disp_stop(&d), 0);
            th_disp_start(&d, config, db, NULL);
            break;
        }
    }
    /* every ticket handled: none left dispatched or accepted */
    th_client *mgr = th_client_new(d.front, "manager", NULL);
    int left = 0;
    int64_t end = th_mono_ms() + 90000;
    while ((left = s_open_count(mgr)) > 0 && th_mono_ms() < end)
        th_sleep_ms(100);
    print_message("# %d tickets through %d link flaps in %lld ms (%d left)\n", made, CYCLES,
                  (long long)(th_mono_ms() - t0), left);
    assert_int_equal(left, 0);

    /* exactly once, by the dispatcher's history */
    counts *per = calloc((size_t)made + 1, sizeof *per);
    s_tally tally = {per, made};
    td_each_event(mgr, 0, s_tally_event, &tally);
    for (int id = 1; id <= made; id++)
        if (per[id].created != 1 || per[id].accepted != 1 || per[id].resolved != 1 ||
            per[id].other != 0)
            fail_msg("ticket %d: created %d, accepted %d, resolved %d, other %d", id,
                     per[id].created, per[id].accepted, per[id].resolved, per[id].other);
    free(per);
    int created;
    tf_check_log(mgr, &created);
    assert_int_equal(created, made);

    /* the worker went through link downs, and has nothing left to send */
    char *log = th_read(th_path("flap-w.db.log"));
    assert_non_null(log);
    int downs = 0;
    for (const char *p = log; (p = strstr(p, "down:")) != NULL; p++)
        downs++;
    free(log);
    assert_true(downs >= CYCLES);
    assert_int_equal(th_stop_pid(w, SIGTERM, 10000), 0);
    th_client_destroy(&mgr);
    assert_int_equal(th_disp_stop(&d), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flapping_link_loses_nothing),
    };
    return TH_MAIN("fault_flap", tests);
}
