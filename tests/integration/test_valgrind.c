/* test_valgrind.c — the programs under valgrind's memcheck, in every
 * `make test`: a dispatcher's life (tickets through sign, finish, callback
 * and reopen, reads, refusals, bad frames, the events socket), a SIGTERM
 * restart on the same database, an auto worker handling tickets across that
 * restart, and the console client. th_main fails the test when any report
 * shows an invalid access, a use of uninitialised memory or a leak.
 * `make valgrind` runs other integration tests the same way. In the
 * sanitizer build the same scenario runs without valgrind (which cannot run
 * ASan programs): ASan and LSan check the programs there. */
#include "test_fault.h"
#include "test_worker.h"

#include <signal.h>

/* Wait until the worker has resolved ticket id, dispatching it to t.a again
 * whenever the worker returned it. */
static void s_wait_resolved(th_client *op, int64_t id)
{
    int64_t end = th_mono_ms() + th_slow(30000);
    for (;;) {
        char *st = td_field(op, id, "ticket.status");
        int resolved = st && strcmp(st, "resolved") == 0;
        if (st && strcmp(st, "triage") == 0)
            td_ok(op, "dispatch", "{\"ticket\":%lld,\"unit\":\"t.a\",\"note\":\"再派\"}",
                  (long long)id);
        free(st);
        if (resolved) return;
        if (th_mono_ms() > end) fail_msg("ticket %lld not resolved", (long long)id);
        th_sleep_ms(50);
    }
}

static void test_life_under_valgrind(void **state)
{
    if (tf_sanitized()) {
        /* valgrind cannot run ASan programs; their own sanitizers check the
         * same scenario (an error aborts, a leak fails the exit status) */
        unsetenv("HOTLINE_VALGRIND");
        print_message("# sanitizer build: ASan/LSan check the programs instead of valgrind\n");
    }
    th_disp d = {0};
    char config[512], db[512];
    snprintf(config, sizeof config, "%s", th_src("config/test-small.json"));
    snprintf(db, sizeof db, "%s", th_path("vg/hotline.db"));
    th_disp_start(&d, config, db, NULL);
    pid_t w = tw_auto(&d, "t.a", th_path("vg-w.db"), "sign=0,finish=0,return=0.3,seed=5");
    th_sub *sub = th_sub_new(d.events, "ticket.");
    th_client *op = th_client_new(d.front, "operator", NULL);
    th_client *mgr = th_client_new(d.front, "manager", NULL);

    int64_t ids[6];
    for (int i = 0; i < 6; i++) {
        cJSON *r = th_ok(op, "create",
                         "{\"idem\":\"vg-%d\",\"ticket\":{\"category\":\"env.noise\",\"description\":"
                         "\"内存检查 %d\",\"caller\":{\"phone\":\"1360000%04d\"},\"location\":"
                         "{\"cell\":\"C-A2\"}}}",
                         i, i, i);
        ids[i] = th_geti(r, "ticket.id");
        cJSON_Delete(r);
    }
    cJSON *ev = th_sub_wait(sub, "ticket.created.", th_slow(5000));
    assert_non_null(ev);
    cJSON_Delete(ev);
    /* the worker signs and finishes, or returns (re-dispatched here) */
    for (int i = 0; i < 6; i++)
        s_wait_resolved(op, ids[i]);
    /* a retried create is answered from its idempotency key */
    cJSON *again = th_ok(op, "create",
                         "{\"idem\":\"vg-0\",\"ticket\":{\"category\":\"env.noise\","
                         "\"description\":\"内存检查 0\",\"location\":{\"cell\":\"C-A2\"}}}");
    assert_int_equal(th_geti(again, "ticket.id"), ids[0]);
    cJSON_Delete(again);
    td_ok(op, "callback", "{\"ticket\":%lld,\"result\":\"satisfied\"}", (long long)ids[0]);
    td_ok(op, "callback", "{\"ticket\":%lld,\"result\":\"unsatisfied\",\"note\":\"还吵\"}",
          (long long)ids[1]);
    /* reads, refusals and bad frames */
    td_ok(mgr, "get", "{\"ticket\":%lld}", (long long)ids[1]);
    td_ok(mgr, "list", "{\"status\":[\"resolved\",\"closed\"],\"limit\":3}");
    td_ok(mgr, "events", "{\"after\":0,\"limit\":50}");
    td_ok(mgr, "units", "");
    cJSON_Delete(th_call(mgr, "stats", "")); /* whatever this version says */
    th_err(op, "conflict", "callback", "{\"ticket\":%lld,\"result\":\"basic\"}", (long long)ids[0]);
    th_err(op, "not_found", "get", "{\"ticket\":999}");
    th_err(op, "unknown_unit", "dispatch", "{\"ticket\":%lld,\"unit\":\"nowhere\"}",
           (long long)ids[2]);
    th_client *raw = th_client_new(d.front, NULL, NULL);
    th_send_raw(raw, "{not json", 9);
    cJSON *r = th_recv_reply(raw, th_slow(5000));
    assert_string_equal(th_err_code(r), "bad_request");
    cJSON_Delete(r);
    const char *frames[] = {"{\"v\":1,\"id\":\"a\",\"op\":\"ping\"}", "extra"};
    th_send_frames(raw, 2, frames);
    r = th_recv_reply(raw, th_slow(5000));
    assert_string_equal(th_err_code(r), "bad_request");
    cJSON_Delete(r);
    th_client_destroy(&raw);

    /* a SIGTERM restart: the worker reconnects and handles the reopened one */
    assert_int_equal(th_disp_stop(&d), 0);
    th_disp_start(&d, config, db, NULL);
    td_ok(op, "hello", "{\"role\":\"operator\"}");
    td_ok(mgr, "hello", "{\"role\":\"manager\"}");
    s_wait_resolved(op, ids[1]);
    td_ok(op, "callback", "{\"ticket\":%lld,\"result\":\"basic\"}", (long long)ids[1]);
    td_assert_status(op, ids[1], "closed");

    /* the console client */
    char no[40];
    char *n0 = td_field(op, ids[2], "ticket.no");
    snprintf(no, sizeof no, "%s", n0);
    free(n0);
    const char *argv[] = {th_bin("hotline"), "--connect", d.front, "--config", config,
                          "--no-color", "show", no, NULL};
    char *out = NULL, *err = NULL;
    assert_int_equal(th_run(argv, NULL, &out, &err, th_slow(20000)), 0);
    assert_non_null(strstr(out, no));
    free(out);
    free(err);

    assert_int_equal(th_stop_pid(w, SIGTERM, th_slow(20000)), 0);
    th_sub_destroy(&sub);
    th_client_destroy(&op);
    th_client_destroy(&mgr);
    assert_int_equal(th_disp_stop(&d), 0);
}

int main(void)
{
    setenv("HOTLINE_VALGRIND", "1", 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_life_under_valgrind),
    };
    return TH_MAIN("valgrind", tests);
}
