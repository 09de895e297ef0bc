/* main.c — hotline, the console of operators and managers: global options,
 * environment, the command table and exit statuses. Each command lives in
 * its own file (calls.c, tickets.c, manage.c, watch.c); nothing here speaks
 * to the dispatcher. */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct command {
    const char *name;
    int (*fn)(cli *c, int argc, char **argv);
    int manager; /* manager-only: the role defaults to manager */
    const char *synopsis;
} command;

static const command s_commands[] = {
    {"call", cmd_call, 0, "call --category C --desc TEXT [...] | call --interactive"},
    {"show", cmd_show, 0, "show NO"},
    {"list", cmd_list, 0,
     "list [--status S,..] [--unit U] [--phone P] [--overdue] [--flag yellow|red] "
     "[--limit N] [--after CURSOR | --all]"},
    {"history", cmd_history, 0, "history PHONE"},
    {"dispatch", cmd_dispatch, 0, "dispatch NO UNIT [--co UNIT ...] [--note TEXT]"},
    {"callback", cmd_callback, 0, "callback NO satisfied|basic|unsatisfied [--note TEXT]"},
    {"merge", cmd_merge, 0, "merge NO INTO [--note TEXT]"},
    {"cancel", cmd_cancel, 0, "cancel NO REASON"},
    {"note", cmd_note, 0, "note NO TEXT"},
    {"categories", cmd_categories, 0, "categories [TEXT]"},
    {"units", cmd_units, 0, "units [--online] [--level LEVEL]"},
    {"watch", cmd_watch, 1, "watch [PREFIX] [--count N] [--for SECONDS] [--from SEQ] [--poll MS]"},
    {"alerts", cmd_alerts, 1,
     "alerts [--unit U] [--level yellow|red] [--limit N] [--after CURSOR | --all]"},
    {"supervise", cmd_supervise, 1, "supervise NO NOTE"},
    {"decide", cmd_decide, 1, "decide NO approve|deny [--note TEXT]"},
    {"stats", cmd_stats, 1, "stats [--since T] [--until T] [--unit U] [--csv]"},
    {NULL, NULL, 0, NULL},
};

#define KEYGEN_SYNOPSIS "keygen [--role R [--unit U] [--name N]] [--out PREFIX] [--keys FILE]"

static void s_usage(FILE *f)
{
    fprintf(f, "usage: hotline [OPTIONS] COMMAND [ARGS]\n"
               "\n"
               "The 12345 hotline console for operators and managers.\n"
               "\n"
               "Operators:\n");
    for (const command *k = s_commands; k->name; k++)
        if (!k->manager) fprintf(f, "  hotline %s\n", k->synopsis);
    fprintf(f, "Managers (the role defaults to manager for these):\n");
    for (const command *k = s_commands; k->name; k++)
        if (k->manager) fprintf(f, "  hotline %s\n", k->synopsis);
    fprintf(f, "Secure mode (CURVE keys; offline, options after the word keygen):\n"
               "  hotline " KEYGEN_SYNOPSIS "\n");
    fprintf(f,
            "\n"
            "Options (anywhere on the line):\n"
            "  --connect EP     the dispatcher's front socket ($HOTLINE_CONNECT, default %s)\n"
            "  --events EP      its events socket ($HOTLINE_EVENTS, default %s)\n"
            "  --role ROLE      operator or manager ($HOTLINE_ROLE; default operator,\n"
            "                   manager for the manager commands)\n"
            "  --config FILE    city config for category names and the time zone\n"
            "                   ($HOTLINE_CONFIG, default config/zhucheng.json if present)\n"
            "  --json           print the dispatcher's reply object as it came\n"
            "  -q, --quiet      print only ticket numbers (call, list, history)\n"
            "  --timeout MS     wait per try (default %d); --retries N tries (default %d)\n"
            "  --idem KEY       idempotency key of the state change (default: random)\n"
            "  --key FILE       secure mode: this user's secret key file ($HOTLINE_KEY)\n"
            "  --server-key K   the dispatcher's public key, a file or the key itself\n"
            "                   ($HOTLINE_SERVER_KEY); both or neither\n"
            "  --color, --no-color   force ANSI colours on or off (default: on a terminal)\n"
            "  -h, --help, -V, --version\n"
            "\n"
            "Exit status: 0 done, 1 refused by the dispatcher, 2 usage error,\n"
            "3 dispatcher unreachable after the retries. See clients/README.md.\n",
            CLI_DEFAULT_CONNECT, CLI_DEFAULT_EVENTS, HL_CLIENT_TIMEOUT_DEFAULT,
            HL_CLIENT_TRIES_DEFAULT);
}

/* A global option at argv[*i]: consume it (and its value) and return 1;
 * 0 when it is not one; -1 on a missing value. */
static int s_global(cli *c, int argc, char **argv, int *i, const char **timeout,
                    const char **retries, const char **key, const char **server_key)
{
    static const struct {
        const char *name;
        int has_arg;
    } g[] = {{"connect", 1},  {"events", 1},  {"role", 1},       {"config", 1}, {"json", 0},
             {"quiet", 0},    {"timeout", 1}, {"retries", 1},    {"idem", 1},   {"color", 0},
             {"no-color", 0}, {"key", 1},     {"server-key", 1}, {NULL, 0}};
    const char *w = argv[*i];
    if (strcmp(w, "-q") == 0) {
        c->quiet = 1;
        return 1;
    }
    if (strncmp(w, "--", 2) != 0) return 0;
    const char *name = w + 2;
    const char *eq = strchr(name, '=');
    size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
    for (int k = 0; g[k].name; k++) {
        if (strlen(g[k].name) != nlen || strncmp(g[k].name, name, nlen) != 0) continue;
        const char *val = NULL;
        if (g[k].has_arg) {
            if (eq)
                val = eq + 1;
            else if (*i + 1 < argc)
                val = argv[++*i];
            else
                return -1;
        } else if (eq) {
            return -1;
        }
        switch (k) {
        case 0:
            c->connect = val;
            break;
        case 1:
            c->events = val;
            break;
        case 2:
            c->role = val;
            c->role_given = 1;
            break;
        case 3:
            c->config = val;
            c->config_given = 1;
            break;
        case 4:
            c->json = 1;
            break;
        case 5:
            c->quiet = 1;
            break;
        case 6:
            *timeout = val;
            break;
        case 7:
            *retries = val;
            break;
        case 8:
            c->idem = val;
            break;
        case 9:
            c->color = 1;
            break;
        case 10:
            c->color = 0;
            break;
        case 11:
            *key = val;
            break;
        case 12:
            *server_key = val;
            break;
        }
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    hl_log_init("hotline", HL_LOG_WARN);
    cli c = {0};
    c.connect = getenv("HOTLINE_CONNECT");
    c.events = getenv("HOTLINE_EVENTS");
    c.role = getenv("HOTLINE_ROLE");
    if (c.role && *c.role) c.role_given = 1;
    c.config = getenv("HOTLINE_CONFIG");
    if (c.config && *c.config) c.config_given = 1;
    c.color = isatty(1) && !getenv("NO_COLOR");
    c.timeout_ms = HL_CLIENT_TIMEOUT_DEFAULT;
    c.tries = HL_CLIENT_TRIES_DEFAULT;

    /* keygen works offline and has options of its own (--role worker) */
    if (argc > 1 && strcmp(argv[1], "keygen") == 0) return cmd_keygen(&c, argc - 1, argv + 1);

    /* Global options may stand anywhere; the rest is the command line. */
    char **rest = hl_calloc((size_t)argc + 1, sizeof *rest);
    int nrest = 0, ended = 0;
    const char *timeout = NULL, *retries = NULL;
    const char *key = getenv("HOTLINE_KEY"), *server_key = getenv("HOTLINE_SERVER_KEY");
    for (int i = 1; i < argc; i++) {
        if (ended) {
            rest[nrest++] = argv[i];
            continue;
        }
        if (strcmp(argv[i], "--") == 0) {
            ended = 1;
            rest[nrest++] = argv[i];
            continue;
        }
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0 ||
            (nrest == 0 && strcmp(argv[i], "help") == 0)) {
            s_usage(stdout);
            free(rest);
            return CLI_OK;
        }
        if (nrest == 0 && (strcmp(argv[i], "-V") == 0 || strcmp(argv[i], "--version") == 0)) {
            printf("hotline %s\n", HL_VERSION);
            free(rest);
            return CLI_OK;
        }
        int g = s_global(&c, argc, argv, &i, &timeout, &retries, &key, &server_key);
        if (g < 0) {
            free(rest);
            return cli_usage(NULL, "option %s needs a value", argv[i]);
        }
        if (g == 0) rest[nrest++] = argv[i];
    }
    int rc = CLI_USAGE;
    long long v;
    if (timeout && cli_int(NULL, "--timeout", timeout, 1, 3600000, &v) != 0) goto out;
    if (timeout) c.timeout_ms = (int)v;
    c.timeout_given = timeout != NULL;
    if (retries && cli_int(NULL, "--retries", retries, 1, 100, &v) != 0) goto out;
    if (retries) c.tries = (int)v;
    if (!c.connect || !*c.connect) c.connect = CLI_DEFAULT_CONNECT;
    if (!c.events || !*c.events) c.events = CLI_DEFAULT_EVENTS;
    if (nrest == 0) {
        s_usage(stderr);
        goto out;
    }
    if (strcmp(rest[0], "keygen") == 0) {
        rc = cli_usage("keygen",
                       "give keygen first, with only its own options: hotline " KEYGEN_SYNOPSIS);
        goto out;
    }
    if (key && !*key) key = NULL;
    if (server_key && !*server_key) server_key = NULL;
    if (!key != !server_key) {
        rc = cli_usage(NULL,
                       "secure mode needs both --key FILE (this user's secret key) and "
                       "--server-key (the dispatcher's public key)%s",
                       key ? "" : "; HOTLINE_SERVER_KEY without HOTLINE_KEY counts too");
        goto out;
    }
    if (key) {
        char *err = NULL;
        if (hl_curve_load(key, server_key, &c.keys, &err) != 0) {
            rc = cli_usage(NULL, "%s", err);
            free(err);
            goto out;
        }
        c.curve = 1;
    }
    const command *k = s_commands;
    while (k->name && strcmp(k->name, rest[0]) != 0)
        k++;
    if (!k->name) {
        rc = cli_usage(NULL, "unknown command \"%s\"; run hotline --help for the list", rest[0]);
        goto out;
    }
    if (!c.role_given) c.role = k->manager ? "manager" : "operator";
    if (strcmp(c.role, "operator") != 0 && strcmp(c.role, "manager") != 0) {
        rc = cli_usage(NULL, "--role must be operator or manager, not \"%s\"", c.role);
        goto out;
    }
    rc = cli_catalog_load(&c);
    if (rc != CLI_OK) goto out;
    c.client = hl_client_new(c.connect, c.role, NULL, "hotline-console");
    hl_client_set_timeout(c.client, c.timeout_ms, c.tries);
    if (c.curve) hl_client_set_curve(c.client, &c.keys);
    rc = k->fn(&c, nrest, rest);
out:
    hl_client_destroy(&c.client);
    cJSON_Delete(c.catalog);
    cJSON_Delete(c.units);
    free(rest);
    memset(&c.keys, 0, sizeof c.keys);
    fflush(stdout);
    return rc;
}
