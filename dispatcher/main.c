/* main.c — hotline-dispatcher: command line, configuration, start-up and
 * shutdown. Owns the process; the work is done by the modules it starts
 * (store, core, server). */
#include "auth.h"
#include "core.h"
#include "server.h"
#include "store.h"
#include "web.h"

#include "hotline/config.h"
#include "hotline/util.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void s_usage(FILE *f)
{
    fprintf(
        f,
        "usage: hotline-dispatcher -c CONFIG [--db PATH] [--front EP] [--events EP] [--http ADDR]\n"
        "                          [--check]\n"
        "\n"
        "The 12345 hotline dispatcher: owns the ticket database, routes tickets to units,\n"
        "keeps deadlines and publishes events. Runs in the foreground and logs to stderr.\n"
        "\n"
        "  -c, --config FILE   configuration file (see config/README.md)\n"
        "      --db PATH       database file (overrides dispatcher.db)\n"
        "      --front EP      request socket endpoint (overrides dispatcher.front)\n"
        "      --events EP     events socket endpoint (overrides dispatcher.events)\n"
        "      --http ADDR     HTTP host:port for the dashboard and Open311 (overrides\n"
        "                      dispatcher.http; port 0 or * picks a free one; - turns it off)\n"
        "      --check         validate the configuration, print a summary, exit\n"
        "  -h, --help          this text\n"
        "  -V, --version       print the version\n"
        "\n"
        "With security.curve true (secure mode) both sockets use CURVE, clients are\n"
        "admitted by their keys (security.clients), and SIGHUP reloads that keys file.\n"
        "Without it only loopback addresses may be bound.\n"
        "\n"
        "SIGTERM or SIGINT stops it after committing what it holds. SIGHUP also re-reads\n"
        "CONFIG for dispatcher.max_db_pages (the cap on the database's size) and\n"
        "open311 (api_keys, require_key), and in secure mode the HTTP bearer tokens.\n"
        "\n"
        "Exit status: 0 stopped by SIGTERM/SIGINT or --check passed; 1 runtime failure;\n"
        "2 usage error or invalid configuration.\n");
}

/* Create the directories above path (mkdir -p of its dirname). */
static int s_make_parent(const char *path, char **err)
{
    char *dir = hl_strdup(path);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir) {
        free(dir);
        return 0;
    }
    *slash = '\0';
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
            *err = hl_sprintf("cannot create the directory %s: %s", dir, strerror(errno));
            free(dir);
            return -1;
        }
        *p = '/';
    }
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        *err = hl_sprintf("cannot create the directory %s: %s", dir, strerror(errno));
        free(dir);
        return -1;
    }
    free(dir);
    return 0;
}

/* Without CURVE only this machine may connect. */
static int s_check_security(const hl_config *cfg, const char *front, const char *events)
{
    if (cfg->security.curve) return 0;
    const char *eps[] = {front, events};
    const char *names[] = {"front", "events"};
    for (int i = 0; i < 2; i++) {
        if (server_endpoint_local(eps[i])) continue;
        hl_error("refusing to bind the %s socket to %s without CURVE: only loopback addresses "
                 "(tcp://127.0.0.1:PORT) are allowed in development mode; to serve other "
                 "machines enable CURVE (security.curve: true with keys)",
                 names[i], eps[i]);
        return -1;
    }
    return 0;
}

/* Apply the configured cap on the database size (dispatcher.max_db_pages). */
static int s_apply_db_cap(store *st, int64_t pages)
{
    int64_t now;
    if (store_set_max_pages(st, pages, &now) != STORE_OK) {
        hl_error("cannot cap the database size: %s", store_errmsg(st));
        return -1;
    }
    if (pages > 0 && now != pages)
        hl_warn("dispatcher.max_db_pages %lld is below the database's size: capped at its %lld "
                "pages",
                (long long)pages, (long long)now);
    if (now > 0)
        hl_info("database size capped at %lld pages (%lld MB)", (long long)now,
                (long long)(now * STORE_PAGE_SIZE >> 20));
    else if (pages == 0)
        hl_info("database size not capped");
    return 0;
}

/* SIGHUP: re-read the configuration file for the settings that can change
 * while running (dispatcher.max_db_pages, and Open311's api_keys and
 * require_key); the rest needs a restart. */
typedef struct reload {
    uv_signal_t sig;
    const char *path;
    store *st;
    hl_config *cfg; /* the running configuration */
} reload;

/* Open311's keys: the running configuration takes the new file's (the
 * HTTP handlers read them per request, on this loop). require_key's
 * default follows security.curve, which is read at start-up only. */
static void s_apply_open311(hl_config *run, hl_config *cfg)
{
    int before = run->open311.nkeys;
    hl_apikey *keys = run->open311.keys;
    int n = run->open311.nkeys;
    run->open311.keys = cfg->open311.keys;
    run->open311.nkeys = cfg->open311.nkeys;
    cfg->open311.keys = keys; /* freed with cfg */
    cfg->open311.nkeys = n;
    if (cfg->security.curve == run->security.curve)
        run->open311.require_key = cfg->open311.require_key;
    hl_info("SIGHUP: Open311: %d api key%s (%d before), a key %s to post", run->open311.nkeys,
            run->open311.nkeys == 1 ? "" : "s", before,
            run->open311.require_key ? "required" : "not required");
}

static void s_on_hup(uv_signal_t *h, int signum)
{
    reload *r = h->data;
    char *errors = NULL;
    hl_config *cfg = hl_config_load(r->path, &errors);
    if (!cfg) {
        hl_error("SIGHUP: %s: the configuration has errors; keeping the running settings:\n%s",
                 r->path, errors ? errors : "");
        free(errors);
        return;
    }
    hl_info("SIGHUP: re-read %s", r->path);
    s_apply_db_cap(r->st, cfg->dispatcher.max_db_pages);
    s_apply_open311(r->cfg, cfg);
    hl_config_destroy(&cfg);
}

static void *s_cjson_malloc(size_t n)
{
    return hl_malloc(n);
}

int main(int argc, char **argv)
{
    hl_log_init("hotline-dispatcher", HL_LOG_INFO);
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'}, {"db", required_argument, NULL, 'd'},
        {"front", required_argument, NULL, 'f'},  {"events", required_argument, NULL, 'e'},
        {"http", required_argument, NULL, 'H'},   {"check", no_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},         {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    const char *config = NULL, *db = NULL, *front = NULL, *events = NULL, *http = NULL;
    int check = 0, c;
    while ((c = getopt_long(argc, argv, "c:hV", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config = optarg;
            break;
        case 'd':
            db = optarg;
            break;
        case 'f':
            front = optarg;
            break;
        case 'e':
            events = optarg;
            break;
        case 'H':
            http = optarg;
            break;
        case 'k':
            check = 1;
            break;
        case 'h':
            s_usage(stdout);
            return 0;
        case 'V':
            printf("hotline-dispatcher %s\n", HL_VERSION);
            return 0;
        default:
            s_usage(stderr);
            return 2;
        }
    }
    if (!config || optind < argc) {
        s_usage(stderr);
        return 2;
    }
    /* JSON allocation failures abort like every other allocation */
    cJSON_Hooks hooks = {s_cjson_malloc, free};
    cJSON_InitHooks(&hooks);

    char *errors = NULL;
    hl_config *cfg = hl_config_load(config, &errors);
    if (!cfg) {
        fputs(errors, stderr);
        free(errors);
        return 2;
    }
    if (!front) front = cfg->dispatcher.front;
    if (!events) events = cfg->dispatcher.events;
    if (!db) db = cfg->dispatcher.db;
    if (!http) http = cfg->dispatcher.http;
    if (http && (strcmp(http, "-") == 0 || !*http)) http = NULL;
    if (http && !cfg->security.curve && !hl_http_addr_local(http)) {
        hl_error("refusing to serve HTTP on %s without CURVE: only loopback addresses "
                 "(127.0.0.1:PORT) are allowed in development mode; to serve other machines "
                 "enable secure mode (security.curve: true), which also requires bearer tokens",
                 http);
        hl_config_destroy(&cfg);
        return 2;
    }
    if (s_check_security(cfg, front, events) != 0) {
        hl_config_destroy(&cfg);
        return 2;
    }
    auth *au = NULL;
    if (cfg->security.curve) {
        au = auth_new(cfg, &errors);
        if (!au) {
            fputs(errors, stderr);
            free(errors);
            hl_config_destroy(&cfg);
            return 2;
        }
    }
    if (check) {
        char *summary = hl_config_summary(cfg);
        fputs(summary, stdout);
        free(summary);
        if (au) {
            char keys[160];
            auth_summary(au, keys, sizeof keys);
            printf("secure mode: CURVE; the dispatcher's public key is %s\n"
                   "keys file %s: %s\n",
                   auth_public_key(au), cfg->security.clients, keys);
        } else {
            printf("development mode: no CURVE, loopback addresses only\n");
        }
        auth_destroy(&au);
        hl_config_destroy(&cfg);
        return 0;
    }

    int rc = 1;
    char *err = NULL;
    store *st = NULL, *rd = NULL;
    core *cr = NULL;
    server *sv = NULL;
    web *wb = NULL;
    signal(SIGPIPE, SIG_IGN);
    /* a file size limit makes writes fail (the database reports it and the
     * batch is refused) instead of killing the process */
    signal(SIGXFSZ, SIG_IGN);
    if (s_make_parent(db, &err) != 0) goto out;
    st = store_open(db, cfg->dispatcher.synchronous, &err);
    if (!st) goto out;
    hl_info("database %s (schema version %d)", db, STORE_SCHEMA_VERSION);
    /* without the thread SQLite checkpoints inside commits: slower, not wrong */
    if (store_checkpointer_start(st, cfg->dispatcher.wal_pages) != STORE_OK)
        hl_warn("checkpoints stay on the request path: %s", store_errmsg(st));
    if (cfg->dispatcher.max_db_pages > 0 && s_apply_db_cap(st, cfg->dispatcher.max_db_pages) != 0)
        goto out;
    cr = core_new(cfg, st);
    core_set_secure(cr, au != NULL);
    sv = server_new(uv_default_loop(), cfg, cr, au, front, events, &err);
    if (!sv) goto out;
    /* stats over a long range reads for seconds: on a connection of its own,
     * off the loop */
    char *rerr = NULL;
    if ((rd = store_open_reader(db, &rerr)) != NULL) {
        server_set_reader(sv, rd);
    } else {
        hl_warn("stats will be counted on the loop: %s", rerr);
        free(rerr);
    }
    if (http && !(wb = web_new(uv_default_loop(), cfg, sv, http, &err))) goto out;
    /* not a reason to keep the loop running: the server's handles are */
    reload hup = {.path = cfg->path, .st = st, .cfg = cfg};
    uv_signal_init(uv_default_loop(), &hup.sig);
    hup.sig.data = &hup;
    uv_signal_start(&hup.sig, s_on_hup, SIGHUP);
    uv_unref((uv_handle_t *)&hup.sig);
    rc = server_run(sv);
    store_ckpt_stats ck;
    store_checkpoint_stats(st, &ck);
    hl_info("checkpoints: %lld by the thread, %lld between batches, %lld in full; the log "
            "started over %lld times",
            (long long)ck.thread_rounds, (long long)ck.idle_rounds, (long long)ck.full_rounds,
            (long long)ck.restarts);
    uv_close((uv_handle_t *)&hup.sig, NULL);
    uv_run(uv_default_loop(), UV_RUN_NOWAIT);
    hl_info("stopped");
out:
    if (err) {
        hl_error("%s", err);
        free(err);
    }
    web_destroy(&wb);
    server_destroy(&sv);
    store_close(&rd);
    auth_destroy(&au);
    core_destroy(&cr);
    store_close(&st);
    uv_loop_close(uv_default_loop());
    hl_config_destroy(&cfg);
    return rc;
}
