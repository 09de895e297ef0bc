/* cli.h — the hotline console's shared state and helpers: the session with
 * the dispatcher, exit statuses, command-line arguments of one command, the
 * category catalogue read from the config file, and output helpers (local
 * times, Chinese names of statuses, tables aligned for Chinese text). */
#ifndef HOTLINE_CLI_H
#define HOTLINE_CLI_H

#include "hotline/client.h"
#include "hotline/curve.h"
#include "hotline/proto.h"
#include "hotline/util.h"

#include <cjson/cJSON.h>
#include <stdio.h>

/* Exit statuses (clients/README.md). */
enum { CLI_OK = 0, CLI_REFUSED = 1, CLI_USAGE = 2, CLI_UNREACHABLE = 3 };

#define CLI_DEFAULT_CONNECT "tcp://127.0.0.1:7450"
#define CLI_DEFAULT_EVENTS "tcp://127.0.0.1:7451"
/* stats waits this long per try unless --timeout says otherwise */
#define CLI_STATS_TIMEOUT_MS 60000

typedef struct cli {
    const char *connect;
    const char *events;
    const char *role; /* after defaults: "operator" or "manager" */
    int role_given;   /* --role or HOTLINE_ROLE */
    int json;         /* --json: print replies as they came */
    int quiet;        /* -q: only the essential identifier(s) */
    int color;        /* ANSI colours on stdout */
    int timeout_ms;
    int timeout_given; /* --timeout */
    int tries;
    const char *idem;   /* --idem for the (first) state-changing request */
    const char *config; /* --config, HOTLINE_CONFIG, or a default */
    int config_given;
    hl_client *client;
    cJSON *catalog; /* the parsed config file, or NULL */
    cJSON *units;   /* the "units" array of the units op, or NULL */
    int units_tried;
    int curve;          /* secure mode: keys holds the CURVE keys */
    hl_curve_keys keys; /* for every socket: the DEALER and watch's SUB */
} cli;

/* ---- one command's arguments --------------------------------------- */

typedef struct cli_optspec {
    const char *name; /* without the leading "--" */
    int has_arg;
} cli_optspec;

typedef struct cli_args {
    const char *cmd;
    const char *pos[32];
    int npos;
    struct {
        const char *name;
        const char *value; /* "" for a flag */
    } opt[64];
    int nopt;
} cli_args;

/* Parse argv of a command against its options (name/has_arg, terminated by
 * name NULL); "--name=value" and "--name value" both work, "--" ends the
 * options. Returns 0, or prints a usage message and returns CLI_USAGE. */
int cli_args_parse(cli_args *a, const char *cmd, int argc, char **argv, const cli_optspec *spec);
/* The last value of an option, or NULL. */
const char *cli_opt(const cli_args *a, const char *name);
int cli_has(const cli_args *a, const char *name);
/* The i-th value of a repeated option, or NULL past the end. */
const char *cli_opt_nth(const cli_args *a, const char *name, int i);

/* Print "hotline: <message>" and a hint to stderr; returns CLI_USAGE. */
int cli_usage(const char *cmd, const char *fmt, ...) HL_PRINTF(2, 3);

/* Parse a positive integer option; on failure prints a usage message. */
int cli_int(const char *cmd, const char *what, const char *s, long long lo, long long hi,
            long long *out);

/* ---- the session ----------------------------------------------------- */

/* Send a request; args consumed. On CLI_OK *rep holds the ok reply (caller
 * frees). A refusal prints "hotline: <what> refused: <code>: <message>" and
 * returns CLI_REFUSED; no reply after every try prints the unreachable
 * message and returns CLI_UNREACHABLE. With --json the reply is printed as it
 * came in both the ok and the refused case when print_json is set. */
int cli_call(cli *c, const char *op, cJSON *args, hl_reply *rep, int print_json);
/* Print the last reply as it came (for --json), with a newline. */
void cli_print_raw(cli *c);

/* ---- names ------------------------------------------------------------- */

/* The unit's name from the units op (fetched once), or NULL. */
const char *cli_unit_name(cli *c, const char *id);
/* "name" when known, else the id; "-" for NULL. */
const char *cli_unit_label(cli *c, const char *id);
/* Load the catalogue (config file); 0, or CLI_USAGE when a config file given
 * explicitly cannot be read. Without one, runs without names. Sets TZ from
 * the config's timezone. */
int cli_catalog_load(cli *c);
/* The Chinese name of a category code, or NULL. */
const char *cli_category_name(cli *c, const char *code);
/* Resolve what an operator typed — a code, or part of a code or of a
 * Chinese name — to a category code. Returns the code (borrowed), or NULL
 * with *nmatch set to the number of candidates (0 or ≥ 2). */
const char *cli_category_find(cli *c, const char *typed, int *nmatch);
/* Print the categories matching typed (all when NULL) to f, one a line. */
void cli_category_list(cli *c, const char *typed, FILE *f);

const char *cli_status_zh(const char *status);
const char *cli_kind_zh(const char *kind);
const char *cli_level_zh(const char *level);
const char *cli_result_zh(const char *result);

/* ---- times --------------------------------------------------------------- */

/* An RFC 3339 time as local "YYYY-MM-DD HH:MM:SS" (full) or "MM-DD HH:MM"
 * (short), "-" for NULL or unparseable. Returns buf. */
char *cli_time(const char *rfc, int full, char *buf, size_t size);
/* " （还有 3 分 20 秒）" or " （已超时 5 秒）" relative to now; "" for NULL. */
char *cli_time_left(const char *rfc, char *buf, size_t size);
/* Accept RFC 3339, "YYYY-MM-DD" or "YYYY-MM-DD HH:MM[:SS]" (local time)
 * and give RFC 3339 UTC. 0 or -1. */
int cli_time_arg(const char *s, char out[32]);

/* ---- tables -------------------------------------------------------------- */

typedef struct cli_table cli_table;
cli_table *cli_table_new(int ncols, const char *const *headers);
/* Add a row of ncols strings (copied); NULL cells print empty. */
void cli_table_row(cli_table *t, const char *const *cells);
/* Colour of the last row added (ANSI SGR such as "31"), or NULL. */
void cli_table_color(cli_table *t, const char *sgr);
/* Cap the width of a column (longer text is clipped with "…"). */
void cli_table_cap(cli_table *t, int col, int width);
void cli_table_right(cli_table *t, int col);
/* Indent every printed line by n spaces. */
void cli_table_indent(cli_table *t, int n);
int cli_table_rows(const cli_table *t);
/* Print aligned (display width, so Chinese text lines up) and free. */
void cli_table_print(cli_table **t, FILE *f, int color);
void cli_table_free(cli_table **t);
/* Print as CSV (RFC 4180 quoting, LF line ends) and free. */
void cli_table_csv(cli_table **t, FILE *f);
/* The end of a listing: the table when it has rows (freed either way),
 * then "共 N <what>" and, when there is a next page, how to see it. */
void cli_table_total(cli *c, cli_table **t, const char *what, const char *next);

/* ---- listings: filters and pages ------------------------------------------ */

/* The option --name of a, when given, must be yellow or red; it goes into
 * the filters f under name. Returns CLI_OK, or prints a usage message and
 * returns CLI_USAGE. */
int cli_filter_level(const cli_args *a, const char *cmd, const char *name, cJSON *f);
/* --limit, when given, must be 1 to 1000; it goes into f as "limit". */
int cli_filter_limit(const cli_args *a, const char *cmd, cJSON *f);
/* The "next" cursor of a page as text; "" when there is none. */
void cli_cursor_text(const cJSON *next, char *buf, size_t size);
/* Call op with the filters f and hand each ok reply to page(c, reply, arg):
 * the first page, or with all every page to the last (f's "after" is
 * replaced as it goes). next gets the cursor after the last page fetched
 * ("" when there is none). Returns CLI_OK or cli_call's status. */
int cli_pages(cli *c, const char *op, cJSON *f, int all,
              void (*page)(cli *c, cJSON *reply, void *arg), void *arg, char *next,
              size_t size);

/* ---- commands -------------------------------------------------------------- */

int cmd_call(cli *c, int argc, char **argv);
int cmd_show(cli *c, int argc, char **argv);
int cmd_list(cli *c, int argc, char **argv);
int cmd_history(cli *c, int argc, char **argv);
int cmd_dispatch(cli *c, int argc, char **argv);
int cmd_callback(cli *c, int argc, char **argv);
int cmd_merge(cli *c, int argc, char **argv);
int cmd_cancel(cli *c, int argc, char **argv);
int cmd_note(cli *c, int argc, char **argv);
int cmd_categories(cli *c, int argc, char **argv);
int cmd_watch(cli *c, int argc, char **argv);
int cmd_alerts(cli *c, int argc, char **argv);
int cmd_supervise(cli *c, int argc, char **argv);
int cmd_decide(cli *c, int argc, char **argv);
int cmd_stats(cli *c, int argc, char **argv);
int cmd_units(cli *c, int argc, char **argv);
int cmd_keygen(cli *c, int argc, char **argv);

/* A ticket argument: digits only → the numeric id, else the number string. */
cJSON *cli_ticket_ref(const char *s);
/* One-paragraph summary of a ticket after a change (status, lead, due). */
void cli_print_ticket_brief(cli *c, const cJSON *ticket, const char *what);
/* Send a change (args consumed) and print its ticket: the brief, or with
 * -q its number; with --json only the reply as it came. */
int cli_change(cli *c, const char *op, cJSON *args, const char *what);

#endif
