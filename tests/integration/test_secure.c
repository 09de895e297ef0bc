/* test_secure.c — secure mode end to end with the real binaries: keys made
 * by `hotline keygen` (files, modes, the keys-file entry, --keys, no
 * overwrite), a dispatcher with security.curve; a worker and the console
 * working with their keys; an unknown key, a client without CURVE and a
 * worker key on the events socket refused at the handshake (no reply, and
 * the dispatcher logs it); hello that differs from the key's principal
 * refused; SIGHUP admitting an added key and refusing a removed one (also
 * on connections made before, and for subscribers); start-up refusals (a
 * secret key readable by others, a bad keys file); non-loopback binds. */
#include "test_dispatcher.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

/* ---- keys and configuration ----------------------------------------------- */

static char s_keydir[1024];
static char s_clients[1024]; /* the keys file made with keygen --keys */
static char s_server_pub[41];
static th_keys s_op, s_mgr, s_wa, s_wb, s_stranger;

/* Run bin/hotline with arguments (NULL-terminated); stdout and stderr. */
static int s_hotline(char **out, char **err, ...)
{
    va_list ap;
    va_start(ap, err);
    int rc = th_run_binv("hotline", NULL, NULL, out, err, 20000, ap);
    va_end(ap);
    return rc;
}

static void s_expect_in(const char *text, const char *needle)
{
    if (!text || !strstr(text, needle))
        fail_msg("expected \"%s\" in:\n%s", needle, text ? text : "(nothing)");
}

/* A key file's key (40 characters). */
static void s_read_key(const char *path, char out[41])
{
    char *t = th_read(path);
    if (!t) fail_msg("no key file %s", path);
    if (strlen(t) != 41 || t[40] != '\n') fail_msg("%s: not a key and a newline: \"%s\"", path, t);
    memcpy(out, t, 40);
    out[40] = '\0';
    free(t);
}

static const char *s_key_path(const char *name, const char *ext)
{
    static char slots[4][1100];
    static int next;
    char *p = slots[next++ % 4];
    snprintf(p, 1100, "%s/%s.%s", s_keydir, name, ext);
    return p;
}

/* The keys of name, as a client of the dispatcher. */
static void s_load(const char *name, th_keys *k)
{
    memcpy(k->server, s_server_pub, sizeof k->server);
    s_read_key(s_key_path(name, "key"), k->pub);
    s_read_key(s_key_path(name, "key_secret"), k->sec);
}

/* hotline keygen for a client; with add, into the keys file. Returns its
 * stdout (the entry). */
static char *s_keygen(const char *name, const char *role, const char *unit, const char *cname,
                      int add)
{
    char prefix[1100];
    snprintf(prefix, sizeof prefix, "%s/%s", s_keydir, name);
    const char *argv[20];
    int n = 0;
    static char bin[1024];
    snprintf(bin, sizeof bin, "%s", th_bin("hotline"));
    argv[n++] = bin;
    argv[n++] = "keygen";
    argv[n++] = "--role";
    argv[n++] = role;
    if (unit) {
        argv[n++] = "--unit";
        argv[n++] = unit;
    }
    if (cname) {
        argv[n++] = "--name";
        argv[n++] = cname;
    }
    argv[n++] = "--out";
    argv[n++] = prefix;
    if (add) {
        argv[n++] = "--keys";
        argv[n++] = s_clients;
    }
    argv[n] = NULL;
    char *out = NULL, *err = NULL;
    int rc = th_run(argv, NULL, &out, &err, 10000);
    if (rc != 0) fail_msg("hotline keygen %s: exit %d: %s", name, rc, err);
    free(err);
    return out;
}

/* Every key of these tests, made once with the real keygen. */
static void s_keys(void)
{
    if (s_keydir[0]) return;
    snprintf(s_keydir, sizeof s_keydir, "%s", th_path("keys"));
    snprintf(s_clients, sizeof s_clients, "%s/clients.json", s_keydir);
    char prefix[1100];
    snprintf(prefix, sizeof prefix, "%s/dispatcher", s_keydir);
    char *out = NULL, *err = NULL;
    int rc = s_hotline(&out, &err, "keygen", "--out", prefix, NULL);
    if (rc != 0) fail_msg("hotline keygen --out %s: exit %d: %s", prefix, rc, err);
    s_read_key(s_key_path("dispatcher", "key"), s_server_pub);
    /* without --role it prints the public key */
    s_expect_in(out, s_server_pub);
    free(out);
    free(err);
    free(s_keygen("op", "operator", NULL, "坐席01", 1));
    free(s_keygen("mgr", "manager", NULL, "值班长", 1));
    free(s_keygen("wa", "worker", "t.a", "甲镇工作站", 1));
    free(s_keygen("wb", "worker", "t.b", NULL, 1));
    free(s_keygen("stranger", "worker", "t.a", "不在名单", 0));
    s_load("op", &s_op);
    s_load("mgr", &s_mgr);
    s_load("wa", &s_wa);
    s_load("wb", &s_wb);
    s_load("stranger", &s_stranger);
}

/* test-small.json in secure mode with these key files; returns its path
 * (valid for the next three calls). */
static const char *s_config(const char *name, const char *secret, const char *clients)
{
    char *text = th_read(th_src("config/test-small.json"));
    assert_non_null(text);
    cJSON *j = cJSON_Parse(text);
    free(text);
    cJSON *sec = cJSON_CreateObject();
    cJSON_AddBoolToObject(sec, "curve", 1);
    cJSON_AddStringToObject(sec, "secret_key", secret);
    cJSON_AddStringToObject(sec, "clients", clients);
    cJSON_ReplaceItemInObject(j, "security", sec);
    cJSON_ReplaceItemInObject(cJSON_GetObjectItem(j, "dispatcher"), "heartbeat",
                              cJSON_CreateString("1s"));
    char *out = cJSON_Print(j);
    cJSON_Delete(j);
    /* th_write's path is a slot that later harness calls reuse */
    static char slots[4][1100];
    static int next;
    char *path = slots[next++ % 4];
    snprintf(path, 1100, "%s", th_write(name, out));
    free(out);
    return path;
}

/* A secure dispatcher on the shared keys, made first when need be
 * (clients: the keys file to use). */
static void s_start(th_disp *d, const char *clients)
{
    s_keys();
    static int n;
    char name[64], db[64];
    snprintf(name, sizeof name, "secure-%d.json", ++n);
    snprintf(db, sizeof db, "db%d/hotline.db", n);
    const char *cfg = s_config(name, s_key_path("dispatcher", "key_secret"), clients);
    memset(d, 0, sizeof *d);
    d->probe = &s_op;
    th_disp_start(d, cfg, th_path(db), NULL);
}

/* A raw request on a client whose handshake may be refused: 1 when any
 * reply came within ms. */
static int s_answered(th_client *c, int ms)
{
    const char req[] = "{\"v\":1,\"id\":\"probe\",\"op\":\"ping\"}";
    th_send_raw(c, req, strlen(req));
    cJSON *r = th_recv_reply(c, ms);
    int got = r != NULL;
    cJSON_Delete(r);
    return got;
}

static int64_t s_create(th_client *op, int n)
{
    char t[300];
    snprintf(t, sizeof t,
             "{\"category\":\"env.noise\",\"description\":\"安全模式测试 %d\","
             "\"caller\":{\"phone\":\"1380000%04d\"},\"location\":{\"cell\":\"C-A1\"}}",
             n, n);
    return td_create_id(op, t);
}

/* The arguments of hotline-worker for t.a on d with the keys of name and a
 * database of its own (name.db), then extra (may be NULL); they live in a. */
typedef struct s_worker_args {
    char bin[1024], db[1100], key[1100], server[1100];
    const char *argv[16];
} s_worker_args;

static const char *const *s_worker(s_worker_args *a, const th_disp *d, const char *name,
                                   const char *extra)
{
    char db[64];
    snprintf(db, sizeof db, "%s.db", name);
    snprintf(a->bin, sizeof a->bin, "%s", th_bin("hotline-worker"));
    snprintf(a->db, sizeof a->db, "%s", th_path(db));
    snprintf(a->key, sizeof a->key, "%s", s_key_path(name, "key_secret"));
    snprintf(a->server, sizeof a->server, "%s", s_key_path("dispatcher", "key"));
    const char *argv[] = {a->bin, "--unit", "t.a",     "--connect",    d->front,  "--db",
                          a->db,  "--key",  a->key,    "--server-key", a->server, extra,
                          NULL};
    memcpy(a->argv, argv, sizeof argv);
    return a->argv;
}

/* Create tickets with c (numbered from n) until the subscriber s sees one
 * (tries of them, 250 ms each); returns the id of the last. */
static int64_t s_create_until_seen(th_client *c, th_sub *s, int n, int tries)
{
    int64_t id = 0;
    cJSON *e = NULL;
    for (int i = 0; i < tries && !e; i++) {
        id = s_create(c, n + i);
        e = th_sub_wait(s, "ticket.created.", 250);
    }
    assert_non_null(e);
    cJSON_Delete(e);
    return id;
}

/* ---- keygen ------------------------------------------------------------------ */

static void test_keygen(void **state)
{
    s_keys();
    struct stat sb;
    assert_int_equal(stat(s_key_path("dispatcher", "key_secret"), &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(stat(s_key_path("op", "key_secret"), &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(stat(s_key_path("op", "key"), &sb), 0);
    assert_int_equal(sb.st_mode & 0600, 0600);
    /* the secret's public half is the .key file */
    char derived[41];
    assert_int_equal(zmq_curve_public(derived, s_op.sec), 0);
    assert_string_equal(derived, s_op.pub);

    /* the printed entry is the keys-file entry of the new key */
    char *entry = s_keygen("extra", "worker", "t.b.g1", "乙镇第一网格", 0);
    cJSON *j = cJSON_Parse(entry);
    if (!j) fail_msg("keygen printed no JSON: %s", entry);
    char pub[41];
    s_read_key(s_key_path("extra", "key"), pub);
    const cJSON *p = cJSON_GetObjectItem(j, pub);
    assert_non_null(p);
    assert_string_equal(th_gets(p, "role"), "worker");
    assert_string_equal(th_gets(p, "unit"), "t.b.g1");
    assert_string_equal(th_gets(p, "name"), "乙镇第一网格");
    cJSON_Delete(j);
    free(entry);

    /* --keys built the keys file: four entries, the right principals */
    char *text = th_read(s_clients);
    cJSON *keys = cJSON_Parse(text);
    assert_non_null(keys);
    assert_int_equal(cJSON_GetArraySize(keys), 4);
    assert_string_equal(th_gets(cJSON_GetObjectItem(keys, s_wa.pub), "unit"), "t.a");
    assert_string_equal(th_gets(cJSON_GetObjectItem(keys, s_op.pub), "role"), "operator");
    assert_null(cJSON_GetObjectItem(keys, s_stranger.pub));
    cJSON_Delete(keys);
    free(text);

    /* a key file is never overwritten */
    char prefix[1100], *out = NULL, *err = NULL;
    snprintf(prefix, sizeof prefix, "%s/op", s_keydir);
    int rc = s_hotline(&out, &err, "keygen", "--role", "operator", "--out", prefix, NULL);
    assert_int_equal(rc, 1);
    s_expect_in(err, "never overwritten");
    free(out);
    free(err);
    char again[41];
    s_read_key(s_key_path("op", "key_secret"), again);
    assert_string_equal(again, s_op.sec);

    /* usage errors */
    rc = s_hotline(&out, &err, "keygen", "--role", "worker", "--out", th_path("x"), NULL);
    assert_int_equal(rc, 2);
    s_expect_in(err, "--unit");
    free(out);
    free(err);
    rc = s_hotline(&out, &err, "keygen", "--role", "boss", NULL);
    assert_int_equal(rc, 2);
    free(out);
    free(err);
    rc = s_hotline(&out, &err, "keygen", "--unit", "t.a", NULL);
    assert_int_equal(rc, 2);
    free(out);
    free(err);

    /* without --out the pair is printed, nothing written */
    rc = s_hotline(&out, &err, "keygen", NULL);
    assert_int_equal(rc, 0);
    char pk[41], sk[41];
    assert_int_equal(sscanf(out, "public %40s\nsecret %40s", pk, sk), 2);
    assert_int_equal(zmq_curve_public(derived, sk), 0);
    assert_string_equal(derived, pk);
    free(out);
    free(err);
}

/* --check shows the dispatcher's public key and the keys file. */
static void test_check(void **state)
{
    s_keys();
    const char *cfg = s_config("check.json", s_key_path("dispatcher", "key_secret"), s_clients);
    const char *argv[] = {th_bin("hotline-dispatcher"), "-c", cfg, "--check", NULL};
    char *out = NULL, *err = NULL;
    int rc = th_run(argv, NULL, &out, &err, 10000);
    if (rc != 0) fail_msg("--check: exit %d: %s", rc, err);
    s_expect_in(out, s_server_pub);
    s_expect_in(out, "4 client keys: 1 operator, 1 manager, 2 workers");
    free(out);
    free(err);
}

/* ---- working with keys ------------------------------------------------------------ */

static void test_end_to_end(void **state)
{
    th_disp d;
    s_start(&d, s_clients);
    th_file_must(d.log, "secure mode: CURVE with ZAP", 1000);
    th_file_must(d.log, s_server_pub, 1000);

    /* the operator's key: the keys file names the actor */
    th_client *op = th_client_new_curve(d.front, &s_op, "operator", NULL);
    int64_t id = s_create(op, 1);
    cJSON *got = th_ok(op, "get", "{\"ticket\":%lld}", (long long)id);
    td_assert_str(got, "ticket.events.0.actor", "operator:坐席01");
    char no[40];
    snprintf(no, sizeof no, "%s", th_gets(got, "ticket.no"));
    cJSON_Delete(got);
    th_file_must(d.log, "admitted the key", 1000);

    /* a worker with its key signs it */
    char log[1100];
    snprintf(log, sizeof log, "%s", th_path("wa.log"));
    s_worker_args wa;
    th_proc *w = th_proc_start(log, s_worker(&wa, &d, "wa", "--console"));
    size_t pos = 0;
    th_proc_must(w, &pos, no, 10000);
    th_proc_send(w, "sign %s 已到现场", no);
    th_proc_must(w, &pos, "done: sign", 10000);
    th_proc_send(w, "quit");
    assert_int_equal(th_proc_wait_exit(w, 10000), 0);
    th_proc_destroy(&w);
    td_assert_status(op, id, "accepted");

    /* the console with --key/--server-key */
    char *out = NULL, *err = NULL;
    int rc = s_hotline(&out, &err, "--connect", d.front, "--config",
                       th_src("config/test-small.json"), "--key", s_key_path("op", "key_secret"),
                       "--server-key", s_key_path("dispatcher", "key"), "list", "-q", NULL);
    if (rc != 0) fail_msg("hotline list with keys: exit %d: %s", rc, err);
    s_expect_in(out, no);
    free(out);
    free(err);
    /* ... and from the environment, the server key given as the key itself */
    setenv("HOTLINE_KEY", s_key_path("mgr", "key_secret"), 1);
    setenv("HOTLINE_SERVER_KEY", s_server_pub, 1);
    rc = s_hotline(&out, &err, "--connect", d.front, "--config", th_src("config/test-small.json"),
                   "--role", "manager", "show", no, NULL);
    unsetenv("HOTLINE_KEY");
    unsetenv("HOTLINE_SERVER_KEY");
    if (rc != 0) fail_msg("hotline show with HOTLINE_KEY: exit %d: %s", rc, err);
    s_expect_in(out, no);
    free(out);
    free(err);

    /* watch gets the live event over the CURVE events socket (no polling) */
    const char *vargv[] = {th_bin("hotline"),
                           "--connect",
                           d.front,
                           "--events",
                           d.events,
                           "--config",
                           th_src("config/test-small.json"),
                           "--key",
                           s_key_path("mgr", "key_secret"),
                           "--server-key",
                           s_key_path("dispatcher", "key"),
                           "--no-color",
                           "watch",
                           "ticket.created.",
                           "--poll",
                           "3600000",
                           "--count",
                           "1",
                           NULL};
    th_proc *v = th_proc_start(th_path("watch.log"), vargv);
    /* watch reports the head first; then the SUB is connected */
    char *wlog = NULL;
    int watching = TH_WAIT_UNTIL(
        (free(wlog), wlog = th_read(th_path("watch.log")), wlog && strstr(wlog, "# watching")),
        10000);
    free(wlog);
    assert_true(watching);
    th_sleep_ms(300); /* the subscription travels after the handshake */
    int64_t id2 = s_create(op, 2);
    char no2[40];
    char *f = td_field(op, id2, "ticket.no");
    snprintf(no2, sizeof no2, "%s", f);
    free(f);
    th_proc_must(v, NULL, no2, 10000);
    assert_int_equal(th_proc_wait_exit(v, 10000), 0);
    th_proc_destroy(&v);

    th_client_destroy(&op);
    assert_int_equal(th_disp_stop(&d), 0);
}

/* ---- refusals at the handshake ---------------------------------------------------- */

static void test_unknown_key(void **state)
{
    th_disp d;
    s_start(&d, s_clients);
    /* a key not in the keys file gets no reply at all */
    th_client *c = th_client_new_curve(d.front, &s_stranger, NULL, NULL);
    assert_false(s_answered(c, 1000));
    th_client_destroy(&c);
    char want[200];
    snprintf(want, sizeof want,
             "refused the key %s from 127.0.0.1 on the front socket: not in "
             "the keys file",
             s_stranger.pub);
    th_file_must(d.log, want, 3000);

    /* the console says why, at once */
    char *out = NULL, *err = NULL;
    int64_t t0 = th_mono_ms();
    int rc =
        s_hotline(&out, &err, "--connect", d.front, "--key", s_key_path("stranger", "key_secret"),
                  "--server-key", s_key_path("dispatcher", "key"), "list", NULL);
    assert_int_equal(rc, 3);
    s_expect_in(err, "refused this client's key");
    s_expect_in(err, s_stranger.pub);
    assert_true(th_mono_ms() - t0 < 2500); /* no waiting out the retries */
    free(out);
    free(err);

    /* so does the worker, in its log */
    char log[1100];
    snprintf(log, sizeof log, "%s", th_path("stranger.log"));
    s_worker_args wargs;
    pid_t w = th_spawn(log, s_worker(&wargs, &d, "stranger", NULL));
    int said = TH_WAIT_UNTIL(({
                                 char *t = th_read(log);
                                 int h = t && strstr(t, "refused this worker's key");
                                 free(t);
                                 h;
                             }),
                             10000);
    th_stop_pid(w, SIGTERM, 5000);
    assert_true(said);
    assert_int_equal(th_disp_stop(&d), 0);
}

static void test_client_without_curve(void **state)
{
    th_disp d;
    s_start(&d, s_clients);
    th_client *c = th_client_new(d.front, NULL, NULL);
    assert_false(s_answered(c, 1000));
    th_client_destroy(&c);
    /* which side notices the mismatch first is a race: the dispatcher
     * logs either that the client has no CURVE or that it hung up */
    assert_true(TH_WAIT_UNTIL(
        th_file_has(d.log,
                    "failed the CURVE handshake on the front socket: the client does not use "
                    "CURVE") ||
            th_file_has(d.log, "failed the CURVE handshake on the front socket: the client closed"),
        3000));
    char *out = NULL, *err = NULL;
    int rc = s_hotline(&out, &err, "--connect", d.front, "list", NULL);
    assert_int_equal(rc, 3);
    /* the console names CURVE when it sees the handshake fail; when the
     * dispatcher drops the connection first it can only say unreachable */
    if (!strstr(err, "secure mode (CURVE)")) s_expect_in(err, "unreachable");
    free(out);
    free(err);
    /* the wrong server key: the handshake fails, the console says what to check */
    rc = s_hotline(&out, &err, "--connect", d.front, "--timeout", "300", "--retries", "2", "--key",
                   s_key_path("op", "key_secret"), "--server-key", s_key_path("mgr", "key"), "list",
                   NULL);
    assert_int_equal(rc, 3);
    s_expect_in(err, "server key");
    free(out);
    free(err);
    th_file_must(d.log, "wrong server key", 3000);
    assert_int_equal(th_disp_stop(&d), 0);
}

static void test_hello_must_match_key(void **state)
{
    th_disp d;
    s_start(&d, s_clients);
    th_client *c = th_client_new_curve(d.front, &s_wa, NULL, NULL);
    /* no hello: forbidden as in development mode */
    td_err_msg(c, "forbidden", "hello", "list", "{}");
    td_err_msg(c, "forbidden", "this key belongs to worker of t.a", "hello",
               "{\"role\":\"operator\"}");
    td_err_msg(c, "forbidden", "this key belongs to worker of t.a (甲镇工作站)", "hello",
               "{\"role\":\"worker\",\"unit\":\"t.b\"}");
    td_err_msg(c, "forbidden", "hello", "list", "{}");
    td_ok(c, "hello", "{\"role\":\"worker\",\"unit\":\"t.a\"}");
    td_ok(c, "inbox", "{\"after\":0}");
    th_client_destroy(&c);

    c = th_client_new_curve(d.front, &s_op, NULL, NULL);
    td_err_msg(c, "forbidden", "this key belongs to operator (坐席01)", "hello",
               "{\"role\":\"manager\"}");
    td_err_msg(c, "forbidden", "cannot say hello as operator of t.a", "hello",
               "{\"role\":\"operator\",\"unit\":\"t.a\"}");
    /* what hello claims as the client name does not make the actor */
    td_ok(c, "hello", "{\"role\":\"operator\",\"client\":\"冒名\"}");
    int64_t id = s_create(c, 3);
    char *actor = td_field(c, id, "ticket.events.0.actor");
    assert_string_equal(actor, "operator:坐席01");
    free(actor);
    th_client_destroy(&c);

    /* the manager key can do manager things only as a manager */
    c = th_client_new_curve(d.front, &s_mgr, "manager", NULL);
    td_ok(c, "events", "{\"after\":0}");
    th_client_destroy(&c);
    assert_int_equal(th_disp_stop(&d), 0);
}

static void test_events_need_a_known_key(void **state)
{
    th_disp d;
    s_start(&d, s_clients);
    th_sub *op = th_sub_new_curve(d.events, "ticket.", &s_op);
    th_sub *mgr = th_sub_new_curve(d.events, "ticket.", &s_mgr);
    th_sub *stranger = th_sub_new_curve(d.events, "", &s_stranger);
    th_sub *plain = th_sub_new(d.events, "");
    th_sub *worker = th_sub_new_curve(d.events, "", &s_wa);
    th_client *c = th_client_new_curve(d.front, &s_op, "operator", NULL);
    /* the first events may pass before a subscription is in place: wait
     * until the admitted subscribers see one */
    int64_t id = s_create_until_seen(c, op, 100, 20);
    cJSON *e = th_sub_wait(mgr, "ticket.created.", 3000);
    assert_non_null(e);
    cJSON_Delete(e);
    s_create(c, 200);
    e = th_sub_wait(op, "ticket.created.", 3000);
    assert_non_null(e);
    assert_int_equal(th_geti(e, "ticket.id"), id + 1);
    cJSON_Delete(e);
    /* the others got nothing at all */
    assert_null(th_sub_wait(stranger, "", 500));
    assert_null(th_sub_wait(plain, "", 100));
    assert_null(th_sub_wait(worker, "", 100));
    char want[200];
    snprintf(want, sizeof want, "refused the key %s from 127.0.0.1 on the events socket",
             s_stranger.pub);
    th_file_must(d.log, want, 1000);
    th_file_must(d.log, "workers read their unit's feed through inbox", 1000);
    th_sub_destroy(&op);
    th_sub_destroy(&mgr);
    th_sub_destroy(&stranger);
    th_sub_destroy(&plain);
    th_sub_destroy(&worker);
    th_client_destroy(&c);
    assert_int_equal(th_disp_stop(&d), 0);
}

/* ---- SIGHUP ----------------------------------------------------------------------- */

/* Write the keys file without the key (returns nothing; fails the test
 * when the key is not there). */
static void s_remove_key(const char *path, const char *key)
{
    char *text = th_read(path);
    cJSON *j = cJSON_Parse(text);
    free(text);
    assert_non_null(cJSON_GetObjectItem(j, key));
    cJSON_DeleteItemFromObject(j, key);
    char *out = cJSON_Print(j);
    cJSON_Delete(j);
    FILE *f = fopen(path, "w");
    fputs(out, f);
    fclose(f);
    free(out);
}

static int s_admitted(const th_disp *d, const th_keys *k)
{
    th_client *c = th_client_new_curve(d->front, k, NULL, NULL);
    int got = s_answered(c, 300);
    th_client_destroy(&c);
    return got;
}

static void test_sighup(void **state)
{
    s_keys();
    /* a keys file of its own, to change */
    char *text = th_read(s_clients);
    char clients[1100];
    snprintf(clients, sizeof clients, "%s", th_write("hup-clients.json", text));
    free(text);
    th_disp d;
    s_start(&d, clients);

    /* a key added to the file is refused until SIGHUP, then admitted */
    char *entry = s_keygen("late", "operator", NULL, "夜班坐席", 0);
    th_keys late;
    s_load("late", &late);
    {
        char *t = th_read(clients);
        cJSON *j = cJSON_Parse(t);
        free(t);
        cJSON *e = cJSON_Parse(entry);
        cJSON *p = cJSON_DetachItemFromObject(e, late.pub);
        cJSON_AddItemToObject(j, late.pub, p);
        char *out = cJSON_Print(j);
        th_write("hup-clients.json", out);
        free(out);
        cJSON_Delete(j);
        cJSON_Delete(e);
    }
    free(entry);
    assert_false(s_admitted(&d, &late));
    assert_int_equal(kill(d.pid, SIGHUP), 0);
    th_file_must(d.log, "(1 added, 0 removed, 0 changed)", 3000);
    assert_true(TH_WAIT_UNTIL(s_admitted(&d, &late), 5000));

    /* connections made with it before its removal */
    th_client *c = th_client_new_curve(d.front, &late, "operator", NULL);
    s_create(c, 300);
    th_sub *kept = th_sub_new_curve(d.events, "ticket.created.", &s_op);
    th_sub *gone = th_sub_new_curve(d.events, "ticket.created.", &late);
    th_client *op = th_client_new_curve(d.front, &s_op, "operator", NULL);
    s_create_until_seen(op, gone, 310, 20);
    cJSON *e;
    while ((e = th_sub_wait(kept, "", 100)))
        cJSON_Delete(e);

    s_remove_key(clients, late.pub);
    assert_int_equal(kill(d.pid, SIGHUP), 0);
    th_file_must(d.log, "(0 added, 1 removed, 0 changed)", 3000);
    th_file_must(d.log, "events socket bound again", 3000);
    /* the old connection is refused from its next request on */
    td_err_msg(c, "forbidden", "no longer admitted", "list", "{}");
    td_err_msg(c, "forbidden", "no longer admitted", "hello", "{\"role\":\"operator\"}");
    th_client_destroy(&c);
    /* a new one gets nothing */
    assert_false(s_admitted(&d, &late));
    /* subscribers reconnect: the kept key receives again, the removed one not */
    s_create_until_seen(op, kept, 400, 40);
    s_create(op, 500);
    e = th_sub_wait(kept, "ticket.created.", 3000);
    assert_non_null(e);
    cJSON_Delete(e);
    assert_null(th_sub_wait(gone, "", 500));

    /* a broken keys file is not loaded; the keys in force stay */
    th_write("hup-clients.json", "{\"not a key\": {\"role\": \"operator\"}");
    assert_int_equal(kill(d.pid, SIGHUP), 0);
    th_file_must(d.log, "the keys file was not reloaded", 3000);
    th_file_must(d.log, "not valid JSON", 1000);
    td_ok(op, "ping", "");
    assert_true(s_admitted(&d, &s_mgr));

    th_sub_destroy(&kept);
    th_sub_destroy(&gone);
    th_client_destroy(&op);
    assert_int_equal(th_disp_stop(&d), 0);
}

/* ---- start-up --------------------------------------------------------------------- */

static void s_refused(const char *cfg, const char *needle)
{
    char *err = NULL;
    char db[1100];
    snprintf(db, sizeof db, "%s", th_path("refused.db"));
    int rc = th_run_bin("hotline-dispatcher", NULL, NULL, NULL, &err, 10000, "-c", cfg, "--db", db,
                        NULL);
    if (rc != 2) fail_msg("exit %d, want 2; stderr: %s", rc, err ? err : "");
    s_expect_in(err, needle);
    free(err);
    struct stat sb;
    assert_int_equal(stat(db, &sb), -1); /* nothing was started */
}

static void test_startup_refusals(void **state)
{
    s_keys();
    /* a secret key that others can read */
    char *sec = th_read(s_key_path("dispatcher", "key_secret"));
    char loose[1100]; /* a copy: the harness's path slots are reused */
    snprintf(loose, sizeof loose, "%s", th_write("loose.key_secret", sec));
    free(sec);
    chmod(loose, 0644);
    char want[1200];
    snprintf(want, sizeof want, "chmod 600 %s", loose);
    s_refused(s_config("loose.json", loose, s_clients), "has mode 0644");
    s_refused(s_config("loose.json", loose, s_clients), want);
    /* no secret key at all */
    s_refused(s_config("nokey.json", th_path("nowhere.key_secret"), s_clients),
              "config: security.secret_key");
    /* the public half given for the secret */
    s_refused(s_config("pub.json", s_key_path("dispatcher", "key"), s_clients), "public half");
    /* keys files with mistakes: each is named */
    char bad[2000];
    snprintf(bad, sizeof bad,
             "{\"%s\": {\"role\": \"worker\", \"unit\": \"t.nowhere\"},\n"
             " \"%s\": {\"role\": \"boss\"},\n"
             " \"%s\": {\"role\": \"worker\"},\n"
             " \"short\": {\"role\": \"operator\"}}",
             s_op.pub, s_mgr.pub, s_wa.pub);
    char badkeys[1100];
    snprintf(badkeys, sizeof badkeys, "%s", th_write("bad-clients.json", bad));
    const char *cfg = s_config("badkeys.json", s_key_path("dispatcher", "key_secret"), badkeys);
    s_refused(cfg, "unknown unit \"t.nowhere\"");
    s_refused(cfg, "role \"boss\" must be operator, manager or worker");
    s_refused(cfg, "a worker key must name its unit");
    s_refused(cfg, "\"short\": not a CURVE public key");
    s_refused(s_config("nokeys.json", s_key_path("dispatcher", "key_secret"),
                       th_path("missing-clients.json")),
              "config: security.clients");
}

/* The build's program prog, run with these arguments (NULL-terminated) for
 * at most ms, exits 2 at start-up and says needle on stderr. */
static void s_exits_2(const char *prog, int ms, const char *needle, ...)
{
    char *out = NULL, *err = NULL;
    va_list ap;
    va_start(ap, needle);
    int rc = th_run_binv(prog, NULL, NULL, &out, &err, ms, ap);
    va_end(ap);
    assert_int_equal(rc, 2);
    s_expect_in(err, needle);
    free(out);
    free(err);
}

/* Clients refuse unusable key files with a message naming the file. */
static void test_client_key_errors(void **state)
{
    s_keys();
    /* copies: the harness's path slots are reused */
    char loose[1100], junk[1100], server[1100], db[1100];
    char *sec = th_read(s_key_path("wa", "key_secret"));
    snprintf(loose, sizeof loose, "%s", th_write("loose-wa.key_secret", sec));
    free(sec);
    chmod(loose, 0644);
    snprintf(junk, sizeof junk, "%s", th_write("junk.key_secret", "not a key\n"));
    chmod(junk, 0600);
    snprintf(server, sizeof server, "%s", s_key_path("dispatcher", "key"));
    snprintf(db, sizeof db, "%s", th_path("k.db"));
    /* the console */
    s_exits_2("hotline", 20000, "chmod 600", "--key", loose, "--server-key", server, "list", NULL);
    s_exits_2("hotline", 20000, "does not hold a CURVE key", "--key", junk, "--server-key", server,
              "list", NULL);
    s_exits_2("hotline", 20000, "public half", "--key", s_key_path("op", "key"), "--server-key",
              server, "list", NULL);
    s_exits_2("hotline", 20000, "--server-key", "--key", s_key_path("op", "key_secret"), "list",
              NULL);
    s_exits_2("hotline", 20000, "server key", "--key", s_key_path("op", "key_secret"),
              "--server-key", "0123456789012345678901234567890123456789x", "list", NULL);
    /* the worker */
    s_exits_2("hotline-worker", 10000, "has mode 0644", "--unit", "t.a", "--connect",
              "tcp://127.0.0.1:1", "--db", db, "--key", loose, "--server-key", server, NULL);
    s_exits_2("hotline-worker", 10000, "--server-key", "--unit", "t.a", "--connect",
              "tcp://127.0.0.1:1", "--db", db, "--key", s_key_path("wa", "key_secret"), NULL);
}

static void test_bind(void **state)
{
    s_keys();
    /* with CURVE a non-loopback address may be bound */
    th_disp d;
    memset(&d, 0, sizeof d);
    int port = th_free_port();
    char front[64], any[64];
    snprintf(any, sizeof any, "tcp://0.0.0.0:%d", port);
    snprintf(front, sizeof front, "tcp://127.0.0.1:%d", port);
    snprintf(d.front, sizeof d.front, "%s", front);
    snprintf(d.events, sizeof d.events, "tcp://127.0.0.1:%d", th_free_port());
    d.probe = &s_op;
    const char *cfg = s_config("any.json", s_key_path("dispatcher", "key_secret"), s_clients);
    th_disp_start(&d, cfg, th_path("any/hotline.db"), "--front", any, NULL);
    th_file_must(d.log, "front socket bound to tcp://0.0.0.0", 1000);
    th_client *c = th_client_new_curve(front, &s_mgr, "manager", NULL);
    td_ok(c, "ping", "");
    th_client_destroy(&c);
    assert_int_equal(th_disp_stop(&d), 0);
    /* without it, not */
    char *err = NULL;
    int rc = th_run_bin("hotline-dispatcher", NULL, NULL, NULL, &err, 10000, "-c",
                        th_src("config/test-small.json"), "--db", th_path("lo.db"), "--front", any,
                        NULL);
    assert_int_equal(rc, 2);
    s_expect_in(err, "without CURVE");
    free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keygen),
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_end_to_end),
        cmocka_unit_test(test_unknown_key),
        cmocka_unit_test(test_client_without_curve),
        cmocka_unit_test(test_hello_must_match_key),
        cmocka_unit_test(test_events_need_a_known_key),
        cmocka_unit_test(test_sighup),
        cmocka_unit_test(test_startup_refusals),
        cmocka_unit_test(test_client_key_errors),
        cmocka_unit_test(test_bind),
    };
    return TH_MAIN("secure", tests);
}
