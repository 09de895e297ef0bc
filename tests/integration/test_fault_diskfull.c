/* test_fault_diskfull.c — the database reaches its size cap
 * (dispatcher.max_db_pages, which SQLite enforces as a full disk): changes
 * are refused with internal and a message that says the disk is full and
 * nothing was applied; reads go on; nothing refused exists, even when the
 * refusal came in the middle of a group-committed batch; and once the cap
 * is raised (config rewritten, SIGHUP) the same dispatcher takes changes
 * again and the refused requests, retried with their idem, apply once. */
#include "test_fault.h"

#include <signal.h>

#define NK 4   /* pipelining clients */
#define PER 60 /* creates each */

static char s_pad[2400 * 3 + 1]; /* 2400 characters: about a page per ticket */

static void s_pad_init(void)
{
    s_pad[0] = '\0';
    for (int i = 0; i < 2400; i++)
        strcat(s_pad, "满");
}

/* A refusal for want of room says so. */
static void s_assert_full(const cJSON *r)
{
    const char *msg = th_gets(r, "error.message");
    if (strcmp(th_err_code(r), "internal") != 0 || !strstr(msg, "full") ||
        !strstr(msg, "nothing was applied"))
        fail_msg("refused, but not as a full disk: %s %s", th_err_code(r), msg);
}

static void test_cap_refuses_and_resumes(void **state)
{
    s_pad_init();
    /* about 40 pages of schema: room for some tickets, not for 240 */
    const char *capped = tf_config_with("cap.json", "\"max_db_pages\": 90");
    th_disp d = {0};
    char db[512];
    snprintf(db, sizeof db, "%s", th_path("cap/hotline.db"));
    th_disp_start(&d, capped, db, NULL);

    th_client *c[NK];
    for (int k = 0; k < NK; k++)
        c[k] = th_client_new(d.front, "operator", NULL);
    static int acked[NK][PER], refused[NK][PER];
    memset(acked, 0, sizeof acked);
    memset(refused, 0, sizeof refused);
    int nacked = 0, nrefused = 0;
    /* one client fills the database, one request at a time, up to the cap;
     * then the others pipeline theirs, so the refusals land inside batches
     * of many requests (SQLite rolls back the whole transaction on a full
     * disk: nothing of the batch may then be applied piecemeal) */
    for (int i = 0; i < PER && !nrefused; i++) {
        const char *req = tf_create_req(0, i, s_pad);
        th_send_raw(c[0], req, strlen(req));
        cJSON *r = th_recv_reply(c[0], 10000);
        assert_non_null(r);
        if (th_is_ok(r)) {
            acked[0][i] = 1;
            nacked++;
        } else {
            s_assert_full(r);
            refused[0][i] = 1;
            nrefused++;
        }
        cJSON_Delete(r);
    }
    assert_true(nrefused == 1);
    for (int i = 0; i < PER; i++)
        for (int k = 1; k < NK; k++) {
            const char *req = tf_create_req(k, i, i % 2 ? s_pad : NULL);
            th_send_raw(c[k], req, strlen(req));
        }
    for (int k = 1; k < NK; k++)
        for (int n = 0; n < PER; n++) {
            cJSON *r = th_recv_reply(c[k], 30000);
            assert_non_null(r);
            int kk, i;
            assert_true(tf_re(th_gets(r, "re"), &kk, &i));
            assert_int_equal(kk, k);
            if (th_is_ok(r)) {
                acked[k][i] = 1;
                nacked++;
            } else {
                s_assert_full(r);
                refused[k][i] = 1;
                nrefused++;
            }
            cJSON_Delete(r);
        }
    print_message("# %d creates acknowledged, %d refused at the cap\n", nacked, nrefused);
    assert_true(nacked > 5);
    assert_true(nrefused > PER);

    /* reads go on, and hold exactly what was acknowledged */
    th_client *mgr = th_client_new(d.front, "manager", NULL);
    td_ok(mgr, "ping", "");
    static int counts[NK * PER];
    int total = tf_census(mgr, NK, PER, counts);
    for (int k = 0; k < NK; k++)
        for (int i = 0; i < PER; i++) {
            if (acked[k][i] && counts[k * PER + i] != 1)
                fail_msg("acknowledged m%d-%d exists %d times", k, i, counts[k * PER + i]);
            if (refused[k][i] && counts[k * PER + i] != 0)
                fail_msg("refused m%d-%d exists: half-applied", k, i);
        }
    assert_int_equal(total, nacked);
    int created;
    tf_check_log(mgr, &created);
    assert_int_equal(created, nacked);

    /* room again: raise the cap and tell the dispatcher, no restart */
    const char *roomy = tf_config_with("cap.json", "\"max_db_pages\": 100000");
    assert_string_equal(roomy, capped);
    pid_t pid = d.pid;
    assert_int_equal(kill(pid, SIGHUP), 0);
    int64_t end = th_mono_ms() + 10000;
    int resumed = 0;
    th_client *op = th_client_new(d.front, "operator", NULL);
    while (!resumed && th_mono_ms() < end) {
        cJSON *r = th_call(op, "create", "{\"ticket\":{\"category\":\"env.noise\","
                                         "\"description\":\"marker m0-0 end probe\","
                                         "\"location\":{\"cell\":\"C-A2\"}},\"idem\":\"probe\"}");
        resumed = th_is_ok(r);
        cJSON_Delete(r);
        if (!resumed) th_sleep_ms(50);
    }
    assert_true(resumed);
    assert_int_equal(d.pid, pid); /* the same process */

    /* the refused ones, retried with their keys, apply once; the acknowledged
     * ones, retried, return the first result */
    for (int k = 0; k < NK; k++)
        for (int i = 0; i < PER; i++) {
            const char *req = tf_create_req(k, i, s_pad);
            th_send_raw(c[k], req, strlen(req));
        }
    for (int k = 0; k < NK; k++)
        for (int n = 0; n < PER; n++) {
            cJSON *r = th_recv_reply(c[k], 30000);
            assert_non_null(r);
            if (!th_is_ok(r)) fail_msg("retry refused: %s", th_gets(r, "error.message"));
            cJSON_Delete(r);
        }
    total = tf_census(mgr, NK, PER, counts);
    assert_int_equal(total, NK * PER + 1); /* and the probe */
    for (int k = 0; k < NK; k++)
        for (int i = 0; i < PER; i++)
            assert_int_equal(counts[k * PER + i], 1 + (k == 0 && i == 0));
    tf_check_log(mgr, &created);
    assert_int_equal(created, NK * PER + 1);

    for (int k = 0; k < NK; k++)
        th_client_destroy(&c[k]);
    th_client_destroy(&op);
    th_client_destroy(&mgr);
    assert_int_equal(th_disp_stop(&d), 0);
}

/* Reads in a batch that is lost see the batch's changes before they are
 * lost: their answers must not go out as if those changes existed. A
 * client pipelines a small create, a list and a create too big for the
 * room left, over and over, near the cap: no list answer may show a ticket
 * that does not exist in the end. */
static void test_cap_no_phantom_reads(void **state)
{
    s_pad_init();
    const char *capped = tf_config_with("phantom.json", "\"max_db_pages\": 70");
    th_disp d = {0};
    th_disp_start(&d, capped, th_path("phantom/hotline.db"), NULL);
    th_client *c = th_client_new(d.front, "operator", NULL);
    enum { N = 40 };
    for (int i = 0; i < N; i++) {
        const char *req = tf_create_req(0, i, NULL);
        th_send_raw(c, req, strlen(req));
        char list[100];
        snprintf(list, sizeof list, "{\"v\":1,\"id\":\"l%d\",\"op\":\"list\",\"limit\":3}", i);
        th_send_raw(c, list, strlen(list));
        req = tf_create_req(1, i, s_pad);
        th_send_raw(c, req, strlen(req));
    }
    static int shown[2][N], acked[2][N];
    memset(shown, 0, sizeof shown);
    memset(acked, 0, sizeof acked);
    int lists_ok = 0, lists_refused = 0;
    for (int n = 0; n < 3 * N; n++) {
        cJSON *r = th_recv_reply(c, th_slow(30000));
        assert_non_null(r);
        int k, i;
        const char *re = th_gets(r, "re");
        if (re && re[0] == 'l') {
            if (th_is_ok(r)) {
                lists_ok++;
                const cJSON *t;
                cJSON_ArrayForEach(t, th_get(r, "tickets"))
                {
                    if (tf_marker(th_gets(t, "description"), &k, &i) && k < 2 && i < N)
                        shown[k][i] = 1;
                }
            } else {
                assert_string_equal(th_err_code(r), "internal");
                lists_refused++;
            }
        } else if (tf_re(re, &k, &i) && th_is_ok(r)) {
            acked[k][i] = 1;
        }
        cJSON_Delete(r);
    }
    th_client *mgr = th_client_new(d.front, "manager", NULL);
    static int counts[2 * N];
    tf_census(mgr, 2, N, counts);
    int phantoms = 0;
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < N; i++) {
            if (acked[k][i]) assert_int_equal(counts[k * N + i], 1);
            if (!acked[k][i]) assert_int_equal(counts[k * N + i], 0);
            if (shown[k][i] && !counts[k * N + i]) phantoms++;
        }
    print_message("# %d list answers, %d refused with their lost batch; %d phantom tickets shown\n",
                  lists_ok, lists_refused, phantoms);
    assert_int_equal(phantoms, 0);
    assert_true(lists_refused > 0);
    th_client_destroy(&c);
    th_client_destroy(&mgr);
    assert_int_equal(th_disp_stop(&d), 0);
}

/* A cap below what the database already holds keeps it at its size: the
 * dispatcher starts, serves reads and refuses growth. */
static void test_cap_below_size(void **state)
{
    th_disp d = {0};
    char db[512];
    snprintf(db, sizeof db, "%s", th_path("below/hotline.db"));
    th_disp_start(&d, th_src("config/test-small.json"), db, NULL);
    th_client *op = th_client_new(d.front, "operator", NULL);
    for (int i = 0; i < 20; i++)
        td_create_id(op, "{\"category\":\"misc.other\",\"description\":\"先建二十张\"}");
    th_client_destroy(&op);
    assert_int_equal(th_disp_stop(&d), 0);

    const char *tiny = tf_config_with("tiny.json", "\"max_db_pages\": 1");
    th_disp_start(&d, tiny, db, NULL);
    op = th_client_new(d.front, "operator", NULL);
    cJSON *r = th_ok(op, "list", "{\"limit\":100}");
    assert_int_equal(cJSON_GetArraySize(th_get(r, "tickets")), 20);
    cJSON_Delete(r);
    s_pad_init();
    int refused = 0;
    for (int i = 0; i < 50 && !refused; i++) {
        r = th_call(op, "create", "{\"ticket\":{\"category\":\"misc.other\",\"description\":\"%s\"}}",
                    s_pad);
        refused = !th_is_ok(r);
        if (refused) assert_string_equal(th_err_code(r), "internal");
        cJSON_Delete(r);
    }
    assert_true(refused);
    char *log = th_read(d.log);
    assert_non_null(strstr(log, "capped at its"));
    free(log);
    th_client_destroy(&op);
    assert_int_equal(th_disp_stop(&d), 0);
}

/* A bad value is a configuration error at start-up, and on SIGHUP the
 * running settings stay. */
static void test_cap_config_errors(void **state)
{
    const char *bad = tf_config_with("bad.json", "\"max_db_pages\": -5");
    const char *argv[] = {th_bin("hotline-dispatcher"), "-c", bad, "--check", NULL};
    char *out = NULL, *err = NULL;
    assert_int_equal(th_run(argv, NULL, &out, &err, 10000), 2);
    assert_non_null(strstr(err, "dispatcher.max_db_pages"));
    free(out);
    free(err);

    const char *cfg = tf_config_with("hup.json", "\"max_db_pages\": 0");
    th_disp d = {0};
    th_disp_start(&d, cfg, th_path("hup/hotline.db"), NULL);
    tf_config_with("hup.json", "\"max_db_pages\": \"lots\"");
    assert_int_equal(kill(d.pid, SIGHUP), 0);
    int64_t end = th_mono_ms() + 10000;
    int said = 0;
    while (!said && th_mono_ms() < end) {
        char *log = th_read(d.log);
        said = log && strstr(log, "keeping the running settings");
        free(log);
        if (!said) th_sleep_ms(20);
    }
    assert_true(said);
    th_client *op = th_client_new(d.front, "operator", NULL);
    td_create_id(op, "{\"category\":\"misc.other\",\"description\":\"照常受理\"}");
    th_client_destroy(&op);
    assert_int_equal(th_disp_stop(&d), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cap_refuses_and_resumes),
        cmocka_unit_test(test_cap_no_phantom_reads),
        cmocka_unit_test(test_cap_below_size),
        cmocka_unit_test(test_cap_config_errors),
    };
    return TH_MAIN("fault_diskfull", tests);
}
