/* test_console_demo.c — smoke test of `make demo` (clients/demo.sh) on its
 * own ports and directory: a bounded run (DEMO_SECONDS) in which calls flow
 * end to end to closed tickets, everything it started gone afterwards; and
 * an interrupted run (SIGINT, as Ctrl-C) that stops just as cleanly. */
#include "harness.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <libgen.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int s_port_free(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    int ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

/* A port p with p+1 free as well: the demo's front and events sockets. */
static int s_port_pair(void)
{
    for (int i = 0; i < 50; i++) {
        int p = th_free_port();
        if (p < 65535 && s_port_free(p + 1)) return p;
    }
    fail_msg("no two consecutive free ports");
    return -1;
}

/* Processes whose command line mentions text (the demo's directory). */
static int s_procs_with(const char *text)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    int n = 0;
    while (d && (e = readdir(d)) != NULL) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
        char path[300], buf[4096];
        snprintf(path, sizeof path, "/proc/%s/cmdline", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        size_t len = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        for (size_t i = 0; i < len; i++)
            if (buf[i] == '\0') buf[i] = ' ';
        buf[len] = '\0';
        if (strstr(buf, text)) n++;
    }
    if (d) closedir(d);
    return n;
}

static void s_env(const char *dir, int port, const char *seconds)
{
    char bindir[1024], p[16];
    snprintf(bindir, sizeof bindir, "%s", th_bin("hotline"));
    snprintf(p, sizeof p, "%d", port);
    setenv("DEMO_BIN", dirname(bindir), 1);
    setenv("DEMO_PORT", p, 1);
    setenv("DEMO_DIR", dir, 1);
    setenv("DEMO_INTERVAL", "0.7", 1);
    if (seconds)
        setenv("DEMO_SECONDS", seconds, 1);
    else
        unsetenv("DEMO_SECONDS");
}

/* No sanitizer report in any log of the run. */
static void s_clean_logs(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        if (!strstr(e->d_name, ".log")) continue;
        char path[1200];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        char *text = th_read(path);
        if (text && strstr(text, "Sanitizer")) fail_msg("sanitizer report in %s:\n%s", path, text);
        free(text);
    }
    if (d) closedir(d);
}

static void test_demo_bounded(void **state)
{
    (void)state;
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", th_path("demo-bounded"));
    int port = s_port_pair();
    s_env(dir, port, "16");
    const char *argv[] = {th_src("clients/demo.sh"), NULL};
    char *out, *err;
    int rc = th_run(argv, NULL, &out, &err, 90000);
    if (rc != 0) fail_msg("demo exited %d\nstdout:\n%s\nstderr:\n%s", rc, out, err);
    assert_non_null(strstr(out, "在另一个终端输入"));
    assert_non_null(strstr(out, "bin/hotline watch"));
    assert_non_null(strstr(out, "已登记"));
    assert_non_null(strstr(out, "工单汇总"));
    free(out);
    free(err);
    /* everything it started is gone */
    assert_int_equal(s_procs_with(dir), 0);
    assert_true(s_port_free(port));
    s_clean_logs(dir);

    /* what the database holds: tickets that went all the way */
    th_disp d;
    memset(&d, 0, sizeof d);
    char db[1100];
    snprintf(db, sizeof db, "%s/hotline.db", dir);
    th_disp_start(&d, th_src("config/zhucheng-demo.json"), db, NULL);
    th_client *c = th_client_new(d.front, "manager", NULL);
    cJSON *r = th_ok(c, "list", "{\"limit\":1000}");
    int total = 0, closed = 0, resolved = 0, worked = 0;
    const cJSON *t;
    cJSON_ArrayForEach(t, th_get(r, "tickets"))
    {
        const char *st = th_gets(t, "status");
        total++;
        closed += strcmp(st, "closed") == 0;
        resolved += strcmp(st, "resolved") == 0;
        worked += th_gets(t, "signed_at") != NULL;
    }
    fprintf(stderr, "# demo: %d tickets, %d signed, %d resolved, %d closed\n", total, worked,
            resolved, closed);
    assert_true(total >= 8);
    assert_true(worked >= 3);
    assert_true(closed + resolved >= 1);
    cJSON_Delete(r);
    /* a closed ticket's history: created, signed and finished by its unit,
     * called back by the centre */
    r = th_ok(c, "list", "{\"status\":[\"closed\"],\"limit\":1}");
    const char *no = th_gets(r, "tickets.0.no");
    if (no) {
        cJSON *g = th_ok(c, "get", "{\"ticket\":\"%s\"}", no);
        const cJSON *events = th_get(g, "ticket.events");
        if (!events) events = th_get(g, "events");
        int kinds = 0;
        const cJSON *e;
        cJSON_ArrayForEach(e, events)
        {
            const char *k = th_gets(e, "kind");
            if (!k) continue;
            kinds |= strcmp(k, "created") == 0 ? 1 : 0;
            kinds |= strcmp(k, "accepted") == 0 ? 2 : 0;
            kinds |= strcmp(k, "resolved") == 0 ? 4 : 0;
            kinds |= strcmp(k, "closed") == 0 ? 8 : 0;
        }
        assert_int_equal(kinds, 15);
        cJSON_Delete(g);
    }
    cJSON_Delete(r);
    th_client_destroy(&c);
    th_disp_stop(&d);
}

static void test_demo_interrupted(void **state)
{
    (void)state;
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", th_path("demo-int"));
    int port = s_port_pair();
    s_env(dir, port, NULL);
    const char *log = th_path("demo-int.out");
    const char *argv[] = {th_src("clients/demo.sh"), NULL};
    pid_t pid = th_spawn(log, argv);
    /* running: the banner, then a call or two */
    int64_t end = th_mono_ms() + 30000;
    int calls = 0;
    while (th_mono_ms() < end && calls < 2) {
        char *text = th_read(log);
        calls = 0;
        for (char *p = text; p && (p = strstr(p, "已登记")) != NULL; p++)
            calls++;
        free(text);
        th_sleep_ms(50);
    }
    assert_true(calls >= 2);
    assert_true(s_procs_with(dir) > 1);
    /* Ctrl-C: the terminal signals the script; it stops what it started */
    assert_int_equal(th_stop_pid(pid, SIGINT, 30000), 0);
    char *text = th_read(log);
    assert_non_null(strstr(text, "stopping"));
    free(text);
    assert_true(TH_WAIT_UNTIL(s_procs_with(dir) == 0, 5000));
    assert_true(s_port_free(port));
    s_clean_logs(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_demo_bounded),
        cmocka_unit_test(test_demo_interrupted),
    };
    return TH_MAIN("console_demo", tests);
}
