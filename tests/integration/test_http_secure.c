/* test_http_secure.c — the HTTP front end in secure mode: bearer tokens
 * from tokens.json beside the keys file (a manager's opens the dashboard's
 * API and its event stream, an operator's is forbidden, none or a wrong one
 * is 401), the actor a token acts as, Open311 reads open and posting
 * needing a key, a non-loopback address allowed, a bad tokens file
 * refused at start-up, and the tokens read again on SIGHUP (a removed
 * token, or one whose key left the keys file, refused; the event stream it
 * opened closed; a bad file not taken). */
#include "test_dispatcher.h"
#include "test_http.h"

#include "hotline/util.h"

#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <unistd.h>

static char s_keydir[1024];
static th_keys s_mgr;
static th_disp s_d;
static int s_port;

#define MGR_TOKEN "manager-token-0123456789abcdef"
#define OP_TOKEN "operator-token-0123456789abcdef"
#define MGR2_TOKEN "manager-token-rotated-0123456789"

static char *s_read_key(const char *name, const char *ext)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s.%s", s_keydir, name, ext);
    char *t = th_read(path);
    if (!t || strlen(t) < 40) fail_msg("no key in %s", path);
    t[40] = '\0';
    return t;
}

static void s_keygen(const char *name, const char *role, const char *cname)
{
    char prefix[1100], keys[1100];
    snprintf(prefix, sizeof prefix, "%s/%s", s_keydir, name);
    snprintf(keys, sizeof keys, "%s/clients.json", s_keydir);
    static char bin[1024];
    snprintf(bin, sizeof bin, "%s", th_bin("hotline"));
    const char *argv[16];
    int n = 0;
    argv[n++] = bin;
    argv[n++] = "keygen";
    if (role) {
        argv[n++] = "--role";
        argv[n++] = role;
        argv[n++] = "--name";
        argv[n++] = cname;
        argv[n++] = "--keys";
        argv[n++] = keys;
    }
    argv[n++] = "--out";
    argv[n++] = prefix;
    argv[n] = NULL;
    char *out = NULL, *err = NULL;
    int rc = th_run(argv, NULL, &out, &err, 20000);
    if (rc != 0) fail_msg("hotline keygen %s: exit %d: %s", name, rc, err);
    free(out);
    free(err);
}

/* Keys, the keys file and tokens.json, once. */
static void s_keys(const char *tokens_json)
{
    if (!s_keydir[0]) {
        snprintf(s_keydir, sizeof s_keydir, "%s", th_path("keys"));
        s_keygen("dispatcher", NULL, NULL);
        s_keygen("mgr", "manager", "值班长");
        s_keygen("op", "operator", "坐席01");
        char *k;
        k = s_read_key("dispatcher", "key");
        memcpy(s_mgr.server, k, 41);
        free(k);
        k = s_read_key("mgr", "key");
        memcpy(s_mgr.pub, k, 41);
        free(k);
        k = s_read_key("mgr", "key_secret");
        memcpy(s_mgr.sec, k, 41);
        free(k);
    }
    th_write("keys/tokens.json", tokens_json);
}

static const char *s_config(void)
{
    char *text = th_read(th_src("config/test-small.json"));
    cJSON *j = cJSON_Parse(text);
    free(text);
    cJSON *sec = cJSON_CreateObject();
    char p[1200];
    cJSON_AddBoolToObject(sec, "curve", 1);
    snprintf(p, sizeof p, "%s/dispatcher.key_secret", s_keydir);
    cJSON_AddStringToObject(sec, "secret_key", p);
    snprintf(p, sizeof p, "%s/clients.json", s_keydir);
    cJSON_AddStringToObject(sec, "clients", p);
    cJSON_ReplaceItemInObject(j, "security", sec);
    /* require_key left to its default, which secure mode makes true */
    cJSON_DeleteItemFromObject(cJSON_GetObjectItem(j, "open311"), "require_key");
    char *out = cJSON_Print(j);
    cJSON_Delete(j);
    static char path[1100];
    snprintf(path, sizeof path, "%s", th_write("secure.json", out));
    free(out);
    return path;
}

static char *s_tokens_for(const char *mgr_token, const char *op_token)
{
    char *mk = s_read_key("mgr", "key"), *ok = s_read_key("op", "key");
    char *t = hl_sprintf("{\"%s\": \"%s\", \"%s\": \"%s\"}", mk, mgr_token, ok, op_token);
    free(mk);
    free(ok);
    return t;
}

static int s_setup(void **state)
{
    (void)state;
    if (!s_keydir[0]) s_keys("{}");
    char *t = s_tokens_for(MGR_TOKEN, OP_TOKEN);
    s_keys(t);
    free(t);
    static int n;
    char db[64], addr[64];
    snprintf(db, sizeof db, "db%d/hotline.db", ++n);
    s_port = th_free_port();
    /* every address: allowed in secure mode */
    snprintf(addr, sizeof addr, "0.0.0.0:%d", s_port);
    memset(&s_d, 0, sizeof s_d);
    s_d.probe = &s_mgr;
    th_disp_start(&s_d, s_config(), th_path(db), "--http", addr, NULL);
    return 0;
}

static int s_teardown(void **state)
{
    (void)state;
    assert_int_equal(th_disp_stop(&s_d), 0);
    return 0;
}

static th_resp *s_get(const char *path, const char *token)
{
    th_conn *c = th_conn_open(s_port);
    char req[1024];
    snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\n%s%s%sConnection: close\r\n\r\n", path,
             token ? "Authorization: Bearer " : "", token ? token : "", token ? "\r\n" : "");
    th_conn_sends(c, req);
    th_resp *r = th_conn_read(c, 5000);
    th_conn_close(&c);
    return r;
}

/* The dashboard's event stream opened with token, once it said hello. */
static th_conn *s_stream(const char *token)
{
    th_conn *c = th_conn_open(s_port);
    char req[256];
    snprintf(req, sizeof req, "GET /api/stream?access_token=%s HTTP/1.1\r\nHost: x\r\n\r\n", token);
    th_conn_sends(c, req);
    int64_t end = th_mono_ms() + 5000;
    while (!strstr(c->buf, "event: hello") && th_conn_fill(c, end))
        ;
    assert_non_null(strstr(c->buf, "HTTP/1.1 200"));
    assert_non_null(strstr(c->buf, "event: hello"));
    return c;
}

static void test_tokens(void **state)
{
    (void)state;
    th_resp *r = s_get("/api/info", NULL);
    assert_int_equal(r->status, 401);
    assert_non_null(th_hdr(r, "WWW-Authenticate"));
    assert_non_null(strstr(r->body, "tokens.json"));
    th_resp_free(r);
    r = s_get("/api/info", "not-the-token-0123456789abcdef");
    assert_int_equal(r->status, 401);
    th_resp_free(r);
    r = s_get("/api/alerts", OP_TOKEN);
    assert_int_equal(r->status, 403);
    th_resp_free(r);
    r = s_get("/api/info", MGR_TOKEN);
    assert_int_equal(r->status, 200);
    cJSON *j = th_resp_json(r);
    assert_true(cJSON_IsTrue(th_get(j, "secure")));
    assert_string_equal(th_gets(j, "user"), "值班长");
    cJSON_Delete(j);
    th_resp_free(r);
    r = s_get("/api/stats", MGR_TOKEN);
    assert_int_equal(r->status, 200);
    th_resp_free(r);
    /* the page itself is public: it asks for the token */
    r = s_get("/", NULL);
    assert_int_equal(r->status, 200);
    th_resp_free(r);

    /* the event stream takes the token as a query parameter */
    r = s_get("/api/stream", NULL);
    assert_int_equal(r->status, 401);
    th_resp_free(r);
    th_conn *s = s_stream(MGR_TOKEN);
    th_conn_close(&s);
}

static void test_open311_in_secure_mode(void **state)
{
    (void)state;
    /* reads are public */
    th_resp *r = s_get("/open311/v2/services.json", NULL);
    assert_int_equal(r->status, 200);
    th_resp_free(r);
    /* posting needs a key (require_key defaults to true in secure mode) */
    r = th_http_post(s_port, "/open311/v2/requests.json",
                     "service_code=env.noise&lat=30.005&long=100.005");
    assert_int_equal(r->status, 403);
    th_resp_free(r);
    r = th_http_post(s_port, "/open311/v2/requests.json",
                     "api_key=test-key&service_code=env.noise&lat=30.005&long=100.005");
    assert_int_equal(r->status, 201);
    cJSON *j = th_resp_json(r);
    char path[200];
    snprintf(path, sizeof path, "/api/tickets/%s",
             th_gets(cJSON_GetArrayItem(j, 0), "service_request_id"));
    cJSON_Delete(j);
    th_resp_free(r);
    r = s_get(path, MGR_TOKEN);
    assert_int_equal(r->status, 200);
    j = th_resp_json(r);
    assert_string_equal(th_gets(j, "ticket.channel"), "app");
    assert_non_null(strstr(th_gets(j, "ticket.events.0.actor"), "Open311"));
    cJSON_Delete(j);
    th_resp_free(r);
}

static void test_bad_tokens_file_refused(void **state)
{
    (void)state;
    assert_int_equal(th_disp_stop(&s_d), 0);
    const char *bad[] = {"{\"not-a-key-of-the-keys-file-000000000000\": \"" MGR_TOKEN "\"}", NULL};
    char *short_tok = s_tokens_for("short", OP_TOKEN);
    char *twice = s_tokens_for(OP_TOKEN, OP_TOKEN);
    bad[1] = short_tok;
    const char *all[] = {bad[0], bad[1], twice};
    for (size_t i = 0; i < 3; i++) {
        s_keys(all[i]);
        const char *argv[] = {th_bin("hotline-dispatcher"),  "-c",     s_config(),    "--db",
                              th_path("refused/hotline.db"), "--http", "127.0.0.1:0", NULL};
        char *out = NULL, *err = NULL;
        int rc = th_run(argv, NULL, &out, &err, 10000);
        assert_int_not_equal(rc, 0);
        if (!strstr(err, "tokens.json")) fail_msg("no word of tokens.json: %s", err);
        free(out);
        free(err);
    }
    free(short_tok);
    free(twice);
    /* back to good tokens for the teardown's dispatcher */
    s_setup(NULL);
}

static int s_status(const char *path, const char *token)
{
    th_resp *r = s_get(path, token);
    int status = r->status;
    th_resp_free(r);
    return status;
}

/* The keys file with or without the operator's key. */
static void s_keys_file_op(const char *saved, int with_op)
{
    cJSON *j = cJSON_Parse(saved);
    char *ok = s_read_key("op", "key");
    assert_non_null(cJSON_GetObjectItem(j, ok));
    if (!with_op) cJSON_DeleteItemFromObject(j, ok);
    free(ok);
    char *out = cJSON_Print(j);
    cJSON_Delete(j);
    th_write("keys/clients.json", out);
    free(out);
}

/* tokens.json with these two tokens, and SIGHUP. */
static void s_hup_tokens(const char *mgr_token, const char *op_token)
{
    char *t = s_tokens_for(mgr_token, op_token);
    s_keys(t);
    free(t);
    assert_int_equal(kill(s_d.pid, SIGHUP), 0);
}

static void test_tokens_reloaded_on_sighup(void **state)
{
    (void)state;
    /* a dashboard's live stream, opened with the manager's token */
    th_conn *s = s_stream(MGR_TOKEN);

    /* the manager's token rotated: the old one refused, the new one taken,
     * the stream closed; the operator's untouched */
    assert_int_equal(s_status("/api/info", MGR2_TOKEN), 401);
    s_hup_tokens(MGR2_TOKEN, OP_TOKEN);
    assert_true(TH_WAIT_UNTIL(s_status("/api/info", MGR2_TOKEN) == 200, 5000));
    assert_int_equal(s_status("/api/info", MGR_TOKEN), 401);
    assert_int_equal(s_status("/api/alerts", OP_TOKEN), 403);
    assert_true(th_conn_closed(s, 5000));
    th_conn_close(&s);
    th_file_must(s_d.log, "1 event stream closed", 1000);

    /* the operator's key leaves the keys file while tokens.json has an
     * error (the manager's token too short): the file is not taken, the
     * manager's token in force stays, and the operator's is refused all the
     * same */
    char *saved = th_read(th_path("keys/clients.json"));
    assert_non_null(saved);
    s_keys_file_op(saved, 0);
    s_hup_tokens("short", OP_TOKEN);
    th_file_must(s_d.log, "stay in force, less those whose key left the keys file", 5000);
    assert_int_equal(s_status("/api/info", MGR2_TOKEN), 200);
    assert_int_equal(s_status("/api/alerts", OP_TOKEN), 401);

    /* a good tokens file that still names the removed key: that token is
     * left out with a warning, the others taken */
    s_hup_tokens(MGR2_TOKEN, OP_TOKEN);
    th_file_must(s_d.log, "is no longer a key of the keys file", 5000);
    assert_int_equal(s_status("/api/info", MGR2_TOKEN), 200);
    assert_int_equal(s_status("/api/alerts", OP_TOKEN), 401);

    /* the key back: its token works again */
    s_keys_file_op(saved, 1);
    free(saved);
    assert_int_equal(kill(s_d.pid, SIGHUP), 0);
    assert_true(TH_WAIT_UNTIL(s_status("/api/alerts", OP_TOKEN) == 403, 5000));

    /* no tokens file at all: no token */
    char tokens_path[1200];
    snprintf(tokens_path, sizeof tokens_path, "%s/tokens.json", s_keydir);
    assert_int_equal(unlink(tokens_path), 0);
    assert_int_equal(kill(s_d.pid, SIGHUP), 0);
    assert_true(TH_WAIT_UNTIL(s_status("/api/info", MGR2_TOKEN) == 401, 5000));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_tokens, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_open311_in_secure_mode, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_bad_tokens_file_refused, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_tokens_reloaded_on_sighup, s_setup, s_teardown),
    };
    return TH_MAIN("test_http_secure", tests);
}
