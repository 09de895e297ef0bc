/* main.c — hotline-worker: command line, start-up and shutdown. Owns the
 * process, the loop, the ZeroMQ context and the local store; the work is
 * done by the agent (session, inbox, outbox) and the console or autopilot. */
#include "agent.h"
#include "autopol.h"
#include "console.h"
#include "http.h"
#include "wstore.h"

#include "hotline/timefmt.h"
#include "hotline/util.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>
#include <zmq.h>

static void s_usage(FILE *f)
{
    fprintf(f,
            "usage: hotline-worker --unit ID --connect ENDPOINT [--db PATH]\n"
            "                      [--console | --auto POLICY] [--name NAME]\n"
            "                      [--key FILE --server-key FILE|KEY]\n"
            "                      [--http ADDR [--http-token FILE]]\n"
            "\n"
            "The agent of one unit (town, grid station, department) of the 12345 hotline:\n"
            "receives the unit's tickets, keeps them in a local store, and signs, notes,\n"
            "finishes or returns them — also while the link to the dispatcher is down.\n"
            "\n"
            "  -u, --unit ID          the unit this worker acts for (e.g. zc.jiayue)\n"
            "  -c, --connect EP       the dispatcher's front socket (tcp://127.0.0.1:7450)\n"
            "      --db PATH          local store (default var/worker-<unit>.db)\n"
            "      --console          commands on stdin, results on stdout (type help)\n"
            "      --auto POLICY      act by itself, e.g. sign=2s,finish=30s,return=0.02,seed=7\n"
            "                         (delays 0, 200ms, 2s, 5m, 1h; return is a probability)\n"
            "  -n, --name NAME        client name told to the dispatcher\n"
            "      --http ADDR        serve the handheld page on host:port (loopback only\n"
            "                         unless --http-token is given)\n"
            "      --http-token FILE  a file holding the bearer token phones must send\n"
            "      --key FILE         secure mode: this worker's secret key file (mode 0600)\n"
            "      --server-key K     the dispatcher's public key: its .key file or the key\n"
            "  -h, --help             this text\n"
            "  -V, --version          print the version\n"
            "\n"
            "Without --console or --auto the worker only keeps the store in sync and sends\n"
            "actions left from an earlier run. Logs go to stderr (HOTLINE_LOG=debug for more).\n"
            "Exit status: 0 on quit, end of input, SIGTERM or SIGINT; 1 runtime failure\n"
            "(e.g. the dispatcher refused the unit); 2 usage error.\n");
}

typedef struct worker {
    uv_loop_t loop;
    void *zctx;
    wstore *store;
    agent *agent;
    console *con;
    handheld *hh;
    autopilot *ap;
    uv_signal_t sigint, sigterm;
    int stopping;
    int exit_code;
} worker;

static void s_stop(worker *w, int code)
{
    if (w->stopping) return;
    w->stopping = 1;
    w->exit_code = code;
    con_destroy(&w->con);
    hh_destroy(&w->hh);
    auto_destroy(&w->ap);
    agent_destroy(&w->agent);
    uv_close((uv_handle_t *)&w->sigint, NULL);
    uv_close((uv_handle_t *)&w->sigterm, NULL);
}

static void s_con_exit(int code, void *arg)
{
    s_stop(arg, code);
}

static void s_signal_cb(uv_signal_t *h, int signum)
{
    worker *w = h->data;
    hl_info("%s: stopping", signum == SIGINT ? "SIGINT" : "SIGTERM");
    s_stop(w, 0);
}

/* The passive UI (neither console nor auto): the log says what arrives. */
static void s_log_ticket(agent *a, const char *kind, const ws_ticket *now, const ws_ticket *prev,
                         void *arg)
{
    (void)a;
    (void)prev;
    (void)arg;
    hl_info("%s: ticket %s (%s)", kind, now->no, now->status);
}

static void s_log_action(agent *a, const ws_action *act, const cJSON *result, void *arg)
{
    (void)a;
    (void)result;
    (void)arg;
    if (act->state == WS_DONE)
        hl_info("%s %s: done", act->op, act->ref);
    else
        hl_warn("%s %s: refused: %s: %s", act->op, act->ref, act->code ? act->code : "",
                act->message ? act->message : "");
}

static void s_log_refused(agent *a, const char *code, const char *message, void *arg)
{
    worker *w = arg;
    hl_error("the dispatcher refused this worker (unit %s): %s: %s", agent_unit(a), code,
             message);
    s_stop(w, 1);
}

static int s_bad_usage(const char *fmt, const char *arg)
{
    fprintf(stderr, "hotline-worker: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n(hotline-worker --help for usage)\n");
    return 2;
}

/* Check the endpoint's syntax once, so a typo is a usage error. */
static int s_endpoint_ok(void *zctx, const char *ep, const hl_curve_keys *keys)
{
    void *s = zmq_socket(zctx, ZMQ_DEALER);
    int linger = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    /* the connection may get as far as the handshake: in secure mode a
     * plain one would be logged by the dispatcher as a client without CURVE */
    if (keys) hl_curve_apply(s, keys);
    int ok = zmq_connect(s, ep) == 0;
    zmq_close(s);
    return ok;
}

int main(int argc, char **argv)
{
    hl_log_init("hotline-worker", HL_LOG_INFO);
    static const struct option opts[] = {
        {"unit", required_argument, NULL, 'u'}, {"connect", required_argument, NULL, 'c'},
        {"db", required_argument, NULL, 'd'},   {"console", no_argument, NULL, 'C'},
        {"auto", required_argument, NULL, 'a'}, {"name", required_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},       {"version", no_argument, NULL, 'V'},
        {"key", required_argument, NULL, 'k'},  {"server-key", required_argument, NULL, 's'},
        {"http", required_argument, NULL, 'H'}, {"http-token", required_argument, NULL, 'T'},
        {NULL, 0, NULL, 0},
    };
    const char *unit = NULL, *endpoint = NULL, *db = NULL, *policy = NULL, *name = NULL;
    const char *key = NULL, *server_key = NULL, *http = NULL, *http_token = NULL;
    int use_console = 0, c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":u:c:n:hV", opts, NULL)) != -1) {
        switch (c) {
        case 'u': unit = optarg; break;
        case 'c': endpoint = optarg; break;
        case 'd': db = optarg; break;
        case 'C': use_console = 1; break;
        case 'a': policy = optarg; break;
        case 'n': name = optarg; break;
        case 'k': key = optarg; break;
        case 's': server_key = optarg; break;
        case 'H': http = optarg; break;
        case 'T': http_token = optarg; break;
        case 'h': s_usage(stdout); return 0;
        case 'V': printf("hotline-worker %s\n", HL_VERSION); return 0;
        case ':': return s_bad_usage("%s needs a value", argv[optind - 1]);
        default: return s_bad_usage("unknown option %s", argv[optind - 1]);
        }
    }
    if (optind < argc) return s_bad_usage("unexpected argument \"%s\"", argv[optind]);
    if (!unit || !*unit) return s_bad_usage("%s", "--unit ID is required (the unit to act for)");
    if (strlen(unit) > 64) return s_bad_usage("--unit %s is longer than 64 characters", unit);
    if (!endpoint || !*endpoint)
        return s_bad_usage("%s", "--connect ENDPOINT is required (e.g. tcp://127.0.0.1:7450)");
    if (use_console && policy)
        return s_bad_usage("%s", "--console and --auto exclude each other; pick one");
    if (name && strlen(name) > 64) return s_bad_usage("--name %s is longer than 64 characters", name);
    auto_policy pol;
    char err[256];
    if (policy && auto_policy_parse(policy, &pol, err, sizeof err) != 0)
        return s_bad_usage("%s", err);
    if (!key != !server_key)
        return s_bad_usage("%s", "secure mode needs both --key FILE (this worker's secret key) "
                                 "and --server-key (the dispatcher's public key)");
    hl_curve_keys keys;
    if (key) {
        char *kerr = NULL;
        if (hl_curve_load(key, server_key, &keys, &kerr) != 0) {
            fprintf(stderr, "hotline-worker: %s\n", kerr);
            free(kerr);
            return 2;
        }
    }

    char *token = NULL;
    if (http_token && !http) return s_bad_usage("%s", "--http-token goes with --http ADDR");
    if (key && http && !http_token)
        return s_bad_usage("%s", "in secure mode (--key) the handheld page needs --http-token FILE");
    if (http_token) {
        char *terr = NULL;
        size_t tlen;
        token = hl_read_file(http_token, &tlen, &terr);
        if (!token) {
            fprintf(stderr, "hotline-worker: --http-token: %s\n", terr);
            free(terr);
            return 2;
        }
        token[strcspn(token, "\r\n")] = '\0';
        if (strlen(token) < 20) {
            free(token);
            return s_bad_usage("--http-token %s: the token must have at least 20 characters",
                               http_token);
        }
    }

    worker w;
    memset(&w, 0, sizeof w);
    w.zctx = zmq_ctx_new();
    if (!w.zctx) hl_fatal("cannot create a ZeroMQ context");
    if (!s_endpoint_ok(w.zctx, endpoint, key ? &keys : NULL)) {
        zmq_ctx_term(w.zctx);
        return s_bad_usage("--connect %s is not a ZeroMQ endpoint (e.g. tcp://127.0.0.1:7450)",
                           endpoint);
    }
    char *dbpath = db ? hl_strdup(db) : hl_sprintf("var/worker-%s.db", unit);
    char *serr = NULL;
    w.store = wstore_open(dbpath, unit, &serr);
    if (!w.store) {
        fprintf(stderr, "hotline-worker: %s\n", serr);
        free(serr);
        free(dbpath);
        zmq_ctx_term(w.zctx);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    uv_loop_init(&w.loop);
    char *client = name ? hl_strdup(name) : hl_sprintf("hotline-worker/%s", HL_VERSION);
    w.agent = agent_new(&w.loop, w.zctx, w.store, endpoint, unit, client);
    free(client);
    if (key) {
        sess_set_curve(agent_sess(w.agent), &keys);
        memset(&keys, 0, sizeof keys);
    }
    hl_info("unit %s, store %s, dispatcher %s, %s%s", unit, dbpath, endpoint,
            use_console ? "console" : policy ? "auto" : "passive", key ? ", CURVE" : "");
    free(dbpath);
    if (use_console) {
        w.con = con_new(&w.loop, w.agent, s_con_exit, &w);
    } else if (policy) {
        w.ap = auto_new(&w.loop, w.agent, &pol);
        hl_info("auto policy: sign after %lld ms, finish after %lld ms, return %.4g, seed %llu",
                (long long)pol.sign_ms, (long long)pol.finish_ms, pol.return_p,
                (unsigned long long)pol.seed);
    } else {
        static const agent_ui ui = {s_log_ticket, s_log_action, NULL, NULL, s_log_refused};
        agent_set_ui(w.agent, &ui, &w);
    }
    if (http) {
        char *herr = NULL;
        w.hh = hh_new(&w.loop, w.agent, http, token, &herr);
        if (!w.hh) {
            hl_error("%s", herr);
            free(herr);
            w.exit_code = 2;
            w.stopping = 1;
            con_destroy(&w.con);
            auto_destroy(&w.ap);
            agent_destroy(&w.agent);
            uv_run(&w.loop, UV_RUN_DEFAULT);
            uv_loop_close(&w.loop);
            wstore_close(&w.store);
            zmq_ctx_term(w.zctx);
            free(token);
            return 2;
        }
    }
    free(token);
    token = NULL;
    uv_signal_init(&w.loop, &w.sigint);
    uv_signal_init(&w.loop, &w.sigterm);
    w.sigint.data = w.sigterm.data = &w;
    uv_signal_start(&w.sigint, s_signal_cb, SIGINT);
    uv_signal_start(&w.sigterm, s_signal_cb, SIGTERM);

    agent_start(w.agent);
    if (w.ap) auto_resume(w.ap);
    if (w.con && con_start(w.con) != 0) {
        hl_error("cannot read commands from stdin");
        s_stop(&w, 1);
    }
    uv_run(&w.loop, UV_RUN_DEFAULT);
    /* everything was closed by s_stop; let the close callbacks run */
    uv_run(&w.loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&w.loop) != 0) hl_warn("the loop still had handles at exit");
    wstore_close(&w.store);
    zmq_ctx_term(w.zctx);
    return w.exit_code;
}
