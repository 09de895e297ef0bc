/* test_worker.h — helpers shared by the worker's integration tests
 * (test_worker*.c): a config with a one-second heartbeat, console workers
 * on pipes, ticket creation and history checks through the dispatcher. */
#ifndef HOTLINE_TEST_WORKER_H
#define HOTLINE_TEST_WORKER_H

#include "harness.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TW_FN static __attribute__((unused))

/* test-small.json with a heartbeat of 1 s, so that a silent dispatcher is
 * noticed within three seconds. */
TW_FN const char *tw_config(void)
{
    static char path[1024];
    if (path[0]) return path;
    char *text = th_read(th_src("config/test-small.json"));
    assert_non_null(text);
    cJSON *j = cJSON_Parse(text);
    free(text);
    assert_non_null(j);
    cJSON *d = cJSON_GetObjectItem(j, "dispatcher");
    cJSON_ReplaceItemInObject(d, "heartbeat", cJSON_CreateString("1s"));
    char *out = cJSON_Print(j);
    cJSON_Delete(j);
    snprintf(path, sizeof path, "%s", th_write("config-hb1.json", out));
    free(out);
    return path;
}

/* A console worker of unit on d, with its own store; stderr to a log. */
TW_FN th_proc *tw_console(const th_disp *d, const char *unit, const char *db)
{
    char log[512], bin[512];
    snprintf(log, sizeof log, "%s.log", db);
    snprintf(bin, sizeof bin, "%s", th_bin("hotline-worker"));
    const char *argv[] = {bin, "--unit", unit, "--connect", d->front, "--db", db, "--console",
                          NULL};
    return th_proc_start(log, argv);
}

/* An auto worker of unit on d. */
TW_FN pid_t tw_auto(const th_disp *d, const char *unit, const char *db, const char *policy)
{
    char log[512], bin[512];
    snprintf(log, sizeof log, "%s.log", db);
    snprintf(bin, sizeof bin, "%s", th_bin("hotline-worker"));
    const char *argv[] = {bin, "--unit", unit, "--connect", d->front, "--db", db,
                          "--auto", policy, NULL};
    return th_spawn(log, argv);
}

typedef struct tw_ticket {
    int64_t id;
    char no[40];
} tw_ticket;

/* Create a ticket (as operator) in category at cell; a distinct phone keeps
 * it from being taken for a repeat call. */
TW_FN tw_ticket tw_create(th_client *op, const char *category, const char *cell, int n)
{
    cJSON *r = th_ok(op, "create",
                     "{\"ticket\":{\"category\":\"%s\",\"description\":\"测试工单 %d：楼下噪音扰民\","
                     "\"caller\":{\"name\":\"测试\",\"phone\":\"1390000%04d\"},"
                     "\"location\":{\"cell\":\"%s\"}}}",
                     category, n, n, cell);
    tw_ticket t = {0};
    t.id = th_geti(r, "ticket.id");
    const char *no = th_gets(r, "ticket.no");
    assert_non_null(no);
    snprintf(t.no, sizeof t.no, "%s", no);
    assert_true(t.id > 0);
    cJSON_Delete(r);
    return t;
}

/* The ticket with its history (caller frees). */
TW_FN cJSON *tw_get(th_client *c, int64_t id)
{
    return th_ok(c, "get", "{\"ticket\":%lld}", (long long)id);
}

/* How many events of kind the ticket's history holds. */
TW_FN int tw_events(const cJSON *got, const char *kind)
{
    int n = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, th_get(got, "ticket.events"))
    {
        const char *k = cJSON_GetStringValue(cJSON_GetObjectItem(e, "kind"));
        if (k && strcmp(k, kind) == 0) n++;
    }
    return n;
}

/* The note of the first event of kind, or NULL. */
TW_FN const char *tw_event_note(const cJSON *got, const char *kind)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, th_get(got, "ticket.events"))
    {
        const char *k = cJSON_GetStringValue(cJSON_GetObjectItem(e, "kind"));
        if (k && strcmp(k, kind) == 0) return cJSON_GetStringValue(cJSON_GetObjectItem(e, "note"));
    }
    return NULL;
}

/* Send a line and wait for a line of the answer. */
static void tw_cmd(th_proc *w, size_t *pos, const char *expect, const char *fmt, ...)
    __attribute__((format(printf, 4, 5), unused));
TW_FN void tw_cmd(th_proc *w, size_t *pos, const char *expect, const char *fmt, ...)
{
    char line[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    th_proc_send(w, "%s", line);
    th_proc_must(w, pos, expect, 10000);
}

/* quit, and the worker exits 0 within ms. */
TW_FN void tw_quit(th_proc **w, int ms)
{
    th_proc_send(*w, "quit");
    int rc = th_proc_wait_exit(*w, ms);
    if (rc != 0) {
        fprintf(stderr, "# worker output:\n%s\n", th_proc_out(*w));
    }
    assert_int_equal(rc, 0);
    th_proc_destroy(w);
}

#endif
