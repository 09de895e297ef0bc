/* test_dispatcher.h — helpers shared by the dispatcher's integration tests
 * (test_dispatcher_*.c): start a dispatcher on a fresh database, create
 * tickets, read fields of replies. Header-only: each test is one binary. */
#ifndef HOTLINE_TEST_DISPATCHER_H
#define HOTLINE_TEST_DISPATCHER_H

#include "harness.h"

#include "hotline/timefmt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Start a dispatcher on config (a path relative to the source tree, or an
 * absolute path) with a database of its own under th_dir(). */
static inline void td_start(th_disp *d, const char *config)
{
    static int n;
    char db[64];
    snprintf(db, sizeof db, "db%d/hotline.db", ++n);
    memset(d, 0, sizeof *d);
    th_disp_start(d, config[0] == '/' ? config : th_src(config), th_path(db), NULL);
}

/* Write a copy of config/test-small.json with one text replaced (for a
 * setting a test needs); returns its path. */
static inline const char *td_small_with(const char *name, const char *from, const char *to)
{
    char *text = th_read(th_src("config/test-small.json"));
    assert_non_null(text);
    char *at = strstr(text, from);
    if (!at) fail_msg("test bug: \"%s\" is not in config/test-small.json", from);
    size_t n = strlen(text) - strlen(from) + strlen(to) + 1;
    char *out = malloc(n);
    snprintf(out, n, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
    const char *path = th_write(name, out);
    free(text);
    free(out);
    return path;
}

/* An RFC 3339 time of a reply, in ms. */
static inline int64_t td_ms(const char *rfc)
{
    hl_ms t = 0;
    if (!rfc || hl_time_parse(rfc, &t) != 0) fail_msg("not a time: %s", rfc ? rfc : "(null)");
    return t;
}

/* The dispatcher's clock, read with ping. */
static inline int64_t td_server_now(th_client *c)
{
    cJSON *p = th_ok(c, "ping", "");
    int64_t t = td_ms(th_gets(p, "time"));
    cJSON_Delete(p);
    return t;
}

/* th_ok for a request whose reply is not needed. */
#define td_ok(...) cJSON_Delete(th_ok(__VA_ARGS__))

/* create with the ticket object given as JSON text; returns the reply. */
static inline cJSON *td_create(th_client *c, const char *ticket_json)
{
    return th_ok(c, "create", "{\"ticket\":%s}", ticket_json);
}

/* create and return the new ticket's id. */
static inline int64_t td_create_id(th_client *c, const char *ticket_json)
{
    cJSON *r = td_create(c, ticket_json);
    int64_t id = th_geti(r, "ticket.id");
    assert_true(id > 0);
    cJSON_Delete(r);
    return id;
}

/* A string field of the ticket id, read with get (as the client c). */
static inline char *td_field(th_client *c, int64_t id, const char *path)
{
    cJSON *r = th_ok(c, "get", "{\"ticket\":%lld}", (long long)id);
    const cJSON *v = th_get(r, path);
    char *s = cJSON_IsString(v) ? strdup(v->valuestring)
              : cJSON_IsNull(v) ? NULL
                                : cJSON_PrintUnformatted(v);
    cJSON_Delete(r);
    return s;
}

/* assert a string field of a reply (NULL: the field is JSON null). */
#define td_assert_str(reply, path, want)                                                           \
    do {                                                                                           \
        const cJSON *v_ = th_get((reply), (path));                                                 \
        const char *w_ = (want);                                                                   \
        if (w_ == NULL) {                                                                          \
            if (!cJSON_IsNull(v_)) fail_msg("%s: expected null", (path));                          \
        } else {                                                                                   \
            if (!cJSON_IsString(v_)) fail_msg("%s: expected \"%s\", got no string", (path), w_);   \
            if (strcmp(v_->valuestring, w_) != 0)                                                  \
                fail_msg("%s: expected \"%s\", got \"%s\"", (path), w_, v_->valuestring);          \
        }                                                                                          \
    } while (0)

/* The status of ticket id. */
static inline void td_assert_status(th_client *c, int64_t id, const char *want)
{
    cJSON *r = th_ok(c, "get", "{\"ticket\":%lld}", (long long)id);
    td_assert_str(r, "ticket.status", want);
    cJSON_Delete(r);
}

/* The error reply of a request, checked for code and (when given) a piece
 * of its message. */
static inline void td_err_msg(th_client *c, const char *code, const char *needle, const char *op,
                              const char *args)
{
    cJSON *r = th_call(c, op, "%s", args);
    const char *got = th_err_code(r);
    const char *msg = th_gets(r, "error.message");
    if (!got || strcmp(got, code) != 0) {
        char *t = cJSON_PrintUnformatted(r);
        fail_msg("%s %s: expected %s, got %s", op, args, code, t);
    }
    if (needle && (!msg || !strstr(msg, needle)))
        fail_msg("%s: message \"%s\" does not mention \"%s\"", op, msg ? msg : "", needle);
    cJSON_Delete(r);
}

/* Every event of the durable log in order, read page by page as mgr (a
 * manager): each(ev, arg) for each one (each may be NULL). With gapless the
 * seqs must run 1, 2, 3 ... without a gap. Returns how many there are. */
static inline int64_t td_each_event(th_client *mgr, int gapless,
                                    void (*each)(const cJSON *ev, void *arg), void *arg)
{
    int64_t after = 0, n = 0;
    for (;;) {
        cJSON *r = th_ok(mgr, "events", "{\"after\":%lld,\"limit\":1000}", (long long)after);
        const cJSON *ev;
        int k = 0;
        cJSON_ArrayForEach(ev, th_get(r, "events"))
        {
            if (gapless && th_geti(ev, "seq") != n + 1)
                fail_msg("event log gap: seq %lld where %lld was due",
                         (long long)th_geti(ev, "seq"), (long long)(n + 1));
            n++;
            k++;
            if (each) each(ev, arg);
        }
        after = th_geti(r, "last");
        cJSON_Delete(r);
        if (k == 0) return n;
    }
}

/* Every item of a listing op ("list" or "alerts") as c, page by page (1000
 * a page, following next): each(item, arg) for each one of the array key
 * ("tickets", "alerts"); each may be NULL. filters (JSON members such as
 * "\"status\":[\"closed\"]", or NULL) go with every request. Returns how
 * many items there are. */
static inline int64_t td_each_item(th_client *c, const char *op, const char *key,
                                   const char *filters,
                                   void (*each)(const cJSON *item, void *arg), void *arg)
{
    int64_t after = 0, n = 0;
    for (;;) {
        char args[1024];
        int len = snprintf(args, sizeof args, "{\"limit\":1000");
        if (filters) len += snprintf(args + len, sizeof args - (size_t)len, ",%s", filters);
        if (after)
            len += snprintf(args + len, sizeof args - (size_t)len, ",\"after\":%lld",
                            (long long)after);
        snprintf(args + len, sizeof args - (size_t)len, "}");
        cJSON *r = th_ok(c, op, "%s", args);
        const cJSON *item;
        cJSON_ArrayForEach(item, th_get(r, key))
        {
            n++;
            if (each) each(item, arg);
        }
        const cJSON *next = th_get(r, "next");
        after = cJSON_IsNumber(next) ? (int64_t)next->valuedouble : 0;
        cJSON_Delete(r);
        if (!after) return n;
    }
}

/* Number of events in the durable log (as a manager). */
static inline int td_event_count(th_client *mgr)
{
    return (int)td_each_event(mgr, 0, NULL, NULL);
}

#endif
