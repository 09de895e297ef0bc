/* console.h — the worker's console for staff and handhelds: commands on
 * stdin, plain text on stdout that fits a 40-column screen (CJK aligned by
 * display width) and that tests can parse when stdin is a pipe. The parsing
 * and rendering functions are pure, for unit tests. */
#ifndef HOTLINE_WORKER_CONSOLE_H
#define HOTLINE_WORKER_CONSOLE_H

#include "agent.h"
#include "hotline/util.h"

#include <stdio.h>
#include <uv.h>

#define CON_WIDTH 40

typedef enum {
    CMD_NONE, /* empty line */
    CMD_LIST,
    CMD_SHOW,
    CMD_SIGN,
    CMD_NOTE,
    CMD_FINISH,
    CMD_RETURN,
    CMD_EXTEND,
    CMD_REPORT,
    CMD_SYNC,
    CMD_STATUS,
    CMD_HELP,
    CMD_QUIT,
} con_cmdkind;

typedef struct con_cmd {
    con_cmdkind kind;
    int all;        /* list all */
    char *ref;      /* ticket as typed */
    char *text;     /* note text, result, reason; report description */
    char *dur;      /* extend: duration or RFC 3339 time */
    char *category; /* report */
    char *cell;     /* report; NULL for none */
    int prompt;     /* report without arguments: ask for them */
} con_cmd;

/* Parse one line. Returns 0 with cmd filled (free with con_cmd_free), or -1
 * with a message for the user (what was wrong and what to type) in err. */
int con_parse(const char *line, con_cmd *cmd, char *err, size_t errsize);
void con_cmd_free(con_cmd *cmd);

/* Chinese names for statuses and urgencies ("待签收", "紧急"). */
const char *con_status_zh(const char *status);
const char *con_urgency_zh(const char *urgency);
/* "MM-DD HH:MM" in local time of an RFC 3339 string; "-" when absent. */
char *con_short_time(const char *rfc3339, char *buf, size_t size);
/* Append text wrapped at width columns, every line starting with indent. */
void con_wrap(hl_buf *b, const char *indent, const char *text, int width);
/* One row of `list`: index, number, status, pending mark, category. */
void con_render_row(hl_buf *b, const ws_ticket *t, int pending);
/* The header of `list`. */
void con_render_header(hl_buf *b);
/* `show`: the ticket in full, wrapped to width. */
void con_render_ticket(hl_buf *b, int64_t idx, const cJSON *ticket, int width);
/* The announcement of a feed item (new ticket, reopened, revoked, changed)
 * for a worker of unit; nothing is appended for a change not worth a line
 * (one this worker made itself, already shown when it was confirmed). */
void con_render_feed(hl_buf *b, const char *unit, const char *kind, const ws_ticket *now,
                     const ws_ticket *prev);

typedef struct console console;

/* A console on stdin/stdout driving agent a; on_exit is called once, when
 * the user quits or stdin ends (after the bounded flush; code 0), or when
 * the dispatcher refuses this worker (code 1). */
console *con_new(uv_loop_t *loop, agent *a, void (*on_exit)(int code, void *arg), void *arg);
/* Start reading stdin. Returns 0, or -1 when stdin cannot be read. */
int con_start(console *c);
/* Begin quitting (as the quit command does). */
void con_quit(console *c);
void con_destroy(console **c);

#endif
