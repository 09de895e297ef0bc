/* test_dispatcher_cli.c — hotline-dispatcher as a program: exit statuses
 * and messages for a bad configuration, a non-loopback address without
 * CURVE, an endpoint already in use, a database held by another
 * dispatcher or newer than this build; the database directory is created;
 * SIGINT and SIGTERM stop it cleanly. */
#include "test_dispatcher.h"

#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>

/* Run the dispatcher with arguments (NULL-terminated) to completion. */
static int s_run(char **err, ...)
{
    va_list ap;
    va_start(ap, err);
    int rc = th_run_binv("hotline-dispatcher", NULL, NULL, NULL, err, 10000, ap);
    va_end(ap);
    return rc;
}

static void s_expect(int rc, int want, char *err, const char *needle)
{
    if (rc != want) fail_msg("exit status %d, want %d; stderr: %s", rc, want, err ? err : "");
    if (needle && (!err || !strstr(err, needle)))
        fail_msg("stderr does not mention \"%s\": %s", needle, err ? err : "");
    free(err);
}

static void test_bad_config(void **state)
{
    char *err = NULL;
    const char *bad =
        th_write("bad.json", "{\"units\": [{\"id\": \"x\", \"name\": \"X\", \"level\": \"city\","
                             " \"parent\": \"nowhere\"}], \"categories\": []}");
    int rc = s_run(&err, "-c", bad, "--db", th_path("bad.db"), NULL);
    s_expect(rc, 2, err, "config: units[0].parent");
    rc = s_run(&err, "-c", th_path("missing.json"), NULL);
    s_expect(rc, 2, err, "missing.json");
    rc = s_run(&err, NULL);
    s_expect(rc, 2, err, "usage");
    rc = s_run(&err, "-c", th_src("config/test-small.json"), "--bogus", NULL);
    s_expect(rc, 2, err, "usage");
}

static void test_loopback_only_without_curve(void **state)
{
    char *err = NULL;
    char ep[64];
    snprintf(ep, sizeof ep, "tcp://0.0.0.0:%d", th_free_port());
    int rc = s_run(&err, "-c", th_src("config/test-small.json"), "--db", th_path("lo.db"),
                   "--front", ep, NULL);
    s_expect(rc, 2, err, "CURVE");
    snprintf(ep, sizeof ep, "tcp://*:%d", th_free_port());
    rc = s_run(&err, "-c", th_src("config/test-small.json"), "--db", th_path("lo.db"), "--events",
               ep, NULL);
    s_expect(rc, 2, err, "CURVE");
    /* secure mode without its key files is refused at start-up
     * (test_secure covers secure mode) */
    const char *curve = td_small_with("curve.json", "\"curve\": false", "\"curve\": true");
    rc = s_run(&err, "-c", curve, "--db", th_path("lo.db"), NULL);
    s_expect(rc, 2, err, "security.secret_key");
    /* nothing was created for a refused start */
    struct stat sb;
    assert_int_equal(stat(th_path("lo.db"), &sb), -1);
}

static void test_in_use(void **state)
{
    th_disp d;
    td_start(&d, "config/test-small.json");
    char *err = NULL;
    char ev[64];
    snprintf(ev, sizeof ev, "tcp://127.0.0.1:%d", th_free_port());
    /* the front endpoint is taken */
    int rc = s_run(&err, "-c", th_src("config/test-small.json"), "--db", th_path("other.db"),
                   "--front", d.front, "--events", ev, NULL);
    char want[200];
    snprintf(want, sizeof want, "cannot bind the front socket to %s", d.front);
    s_expect(rc, 1, err, want);
    /* the database is held by the running dispatcher */
    char fr[64];
    snprintf(fr, sizeof fr, "tcp://127.0.0.1:%d", th_free_port());
    snprintf(ev, sizeof ev, "tcp://127.0.0.1:%d", th_free_port());
    rc = s_run(&err, "-c", th_src("config/test-small.json"), "--db", d.db, "--front", fr,
               "--events", ev, NULL);
    s_expect(rc, 1, err, "in use by another dispatcher");
    /* and it is still serving */
    th_client *op = th_client_new(d.front, "operator", NULL);
    th_client_destroy(&op);
    assert_int_equal(th_disp_stop(&d), 0);
}

static void test_database_paths(void **state)
{
    /* the directory of the database is created */
    th_disp d;
    memset(&d, 0, sizeof d);
    const char *db = th_path("var/deeper/still/hotline.db");
    th_disp_start(&d, th_src("config/test-small.json"), db, NULL);
    struct stat sb;
    assert_int_equal(stat(db, &sb), 0);
    assert_int_equal(th_disp_stop(&d), 0);

    /* a database from a newer hotline is refused, not touched */
    const char *newer = th_path("newer.db");
    sqlite3 *h;
    assert_int_equal(sqlite3_open(newer, &h), SQLITE_OK);
    assert_int_equal(sqlite3_exec(h, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(h);
    char *err = NULL;
    char fr[64], ev[64];
    snprintf(fr, sizeof fr, "tcp://127.0.0.1:%d", th_free_port());
    snprintf(ev, sizeof ev, "tcp://127.0.0.1:%d", th_free_port());
    int rc = s_run(&err, "-c", th_src("config/test-small.json"), "--db", newer, "--front", fr,
                   "--events", ev, NULL);
    s_expect(rc, 1, err, "schema version 99");
    /* a path that cannot be created */
    th_write("afile", "x");
    rc = s_run(&err, "-c", th_src("config/test-small.json"), "--db", th_path("afile/sub/h.db"),
               "--front", fr, "--events", ev, NULL);
    s_expect(rc, 1, err, "afile");
}

static void test_signals(void **state)
{
    th_disp d;
    td_start(&d, "config/test-small.json");
    th_client *op = th_client_new(d.front, "operator", NULL);
    td_create_id(op, "{\"category\":\"misc.other\",\"description\":\"x\"}");
    th_client_destroy(&op);
    assert_int_equal(th_stop_pid(d.pid, SIGINT, 10000), 0);
    char config[512], db[512];
    snprintf(config, sizeof config, "%s", d.config);
    snprintf(db, sizeof db, "%s", d.db);
    th_disp_start(&d, config, db, NULL);
    op = th_client_new(d.front, "operator", NULL);
    td_assert_status(op, 1, "triage");
    th_client_destroy(&op);
    assert_int_equal(th_disp_stop(&d), 0);
    char *log = th_read(d.log);
    assert_non_null(strstr(log, "SIGINT: stopping"));
    assert_non_null(strstr(log, "SIGTERM: stopping"));
    free(log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_config), cmocka_unit_test(test_loopback_only_without_curve),
        cmocka_unit_test(test_in_use),     cmocka_unit_test(test_database_paths),
        cmocka_unit_test(test_signals),
    };
    return TH_MAIN("dispatcher_cli", tests);
}
