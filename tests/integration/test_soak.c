/* test_soak.c — the soak: SOAK_TICKETS tickets (default 2,000; `make soak`
 * runs 100,000) through their whole life with SOAK_WORKERS auto workers
 * (default 20, one unit each) on the 诸城市 configuration, while the
 * dispatcher is restarted SOAK_RESTARTS times (default 2), alternately with
 * SIGTERM and SIGKILL, mid-stream.
 *
 * The driver plays the hotline (as a manager, who also reads the log): it creates the tickets (a window of them
 * open at a time), follows the durable event log with `events`, calls back
 * every resolved ticket (some callers unsatisfied the first time: 重办,
 * the ticket goes back to its unit), and dispatches again every ticket a
 * unit returned. Every change carries an idem key and is resent until
 * answered, across the restarts. The workers sign, finish and (2%) return.
 *
 * Afterwards: every ticket is closed; by the event log each was created
 * once, closed once and last, resolved 1 + reopened times, accepted as
 * often as resolved, dispatched by the hotline as often as returned, and
 * reopened exactly when its caller was unsatisfied; its reopen_count says
 * so; the log's seq runs from 1 without a gap; when the dispatcher offers
 * `stats`, its units were assigned 1 + re-dispatches + reopens dispatches
 * per ticket. Prints tickets/s, restarts and the duration. */
#include "test_fault.h"
#include "test_worker.h"

#include "hotline/config.h"

#include <signal.h>

#define WINDOW 256      /* requests in flight */
#define OPEN_MAX 4000   /* tickets created and not yet closed */
#define RETRY_MS 3000
#define UNSATISFIED 29  /* every 29th ticket's caller is unsatisfied once */

/* ---- the plan: which category and cell lead to which unit ---------------- */

typedef struct plan {
    const char *unit, *category, *cell; /* cell NULL for a department */
} plan;

static plan s_plan[64];
static int s_nplan;

/* Towns through territorial handling and a cell of theirs, then departments
 * through their categories (without co units, away from the rules). */
static void s_make_plan(const hl_config *cfg, int want)
{
    s_nplan = 0;
    const char *territorial = NULL;
    for (int c = 0; c < cfg->ncategories; c++)
        if (cfg->categories[c].handling == HL_HANDLE_TERRITORIAL && !territorial &&
            strncmp(cfg->categories[c].code, "road.", 5) != 0)
            territorial = cfg->categories[c].code;
    assert_non_null(territorial);
    for (int u = 0; u < cfg->nunits && s_nplan < want; u++) {
        if (cfg->units[u].level != HL_LEVEL_TOWN) continue;
        for (int k = 0; k < cfg->ncells; k++)
            if (cfg->units[cfg->cells[k].unit].town == u) {
                s_plan[s_nplan++] = (plan){cfg->units[u].id, territorial, cfg->cells[k].id};
                break;
            }
    }
    for (int c = 0; c < cfg->ncategories && s_nplan < want; c++) {
        const hl_category *cat = &cfg->categories[c];
        if (cat->handling != HL_HANDLE_DEPARTMENT || cat->nco || cat->department < 0) continue;
        if (strncmp(cat->code, "road.", 5) == 0 || strncmp(cat->code, "enterprise.", 11) == 0)
            continue;
        int dup = 0;
        for (int i = 0; i < s_nplan; i++)
            dup |= strcmp(s_plan[i].unit, cfg->units[cat->department].id) == 0;
        if (!dup) s_plan[s_nplan++] = (plan){cfg->units[cat->department].id, cat->code, NULL};
    }
    assert_int_equal(s_nplan, want);
}

/* ---- the driver's state ------------------------------------------------------ */

/* What the driver knows of a ticket, by its id: learnt from the event log,
 * which may tell of a ticket before its create's answer (lost in a crash)
 * comes back on a resend. */
typedef struct tix {
    int resolved;  /* resolved events seen */
    int returned;  /* returned events seen */
    int closed;
    char unit[48]; /* the unit that last returned it */
} tix;

enum { REQ_CREATE, REQ_CALLBACK, REQ_DISPATCH, REQ_EVENTS, REQ_HELLO };

typedef struct req {
    int kind;
    int i;    /* create: the ticket's number; callback, dispatch: its id */
    int k;    /* which callback / dispatch of the ticket */
    int64_t sent;
} req;

typedef struct soak {
    int n, nworkers, restarts;
    tix *t;            /* by ticket id */
    int64_t *id_of;    /* create number -> ticket id */
    int64_t *index_of; /* ticket id -> create number + 1 */
    req fl[WINDOW + 8];
    int nfl;
    int next_create, created, closed;
    int64_t ev_after;    /* events read up to this seq */
    int64_t ev_next_at;  /* when to ask for events again */
    int ev_in_flight;
    int64_t hello_at;
    int *todo_cb, *todo_d; /* ticket ids whose callback / dispatch is due */
    int ntodo_cb, ntodo_d;
    int resent;
    th_client *op;
} soak;

static const char *s_getenv(const char *name, const char *dflt)
{
    const char *v = getenv(name);
    return v && *v ? v : dflt;
}

/* Is this ticket's caller unsatisfied with the first handling? */
static int s_unsatisfied(int64_t id)
{
    return id % UNSATISFIED == 7;
}

static void s_send_req(soak *s, req *r)
{
    char text[1200];
    const plan *p;
    switch (r->kind) {
    case REQ_CREATE:
        p = &s_plan[r->i % s_nplan];
        if (p->cell)
            snprintf(text, sizeof text,
                     "{\"v\":1,\"id\":\"c%d\",\"op\":\"create\",\"idem\":\"soak-c%d\",\"ticket\":"
                     "{\"category\":\"%s\",\"description\":\"浸泡测试工单 %d\",\"caller\":"
                     "{\"name\":\"测试\",\"phone\":\"1%010d\"},\"location\":{\"cell\":\"%s\"}}}",
                     r->i, r->i, p->category, r->i, r->i, p->cell);
        else
            snprintf(text, sizeof text,
                     "{\"v\":1,\"id\":\"c%d\",\"op\":\"create\",\"idem\":\"soak-c%d\",\"ticket\":"
                     "{\"category\":\"%s\",\"description\":\"浸泡测试工单 %d\",\"caller\":"
                     "{\"name\":\"测试\",\"phone\":\"1%010d\"}}}",
                     r->i, r->i, p->category, r->i, r->i);
        break;
    case REQ_CALLBACK:
        snprintf(text, sizeof text,
                 "{\"v\":1,\"id\":\"b%d.%d\",\"op\":\"callback\",\"idem\":\"soak-b%d.%d\","
                 "\"ticket\":%d,\"result\":\"%s\"}",
                 r->i, r->k, r->i, r->k, r->i,
                 r->k == 1 && s_unsatisfied(r->i) ? "unsatisfied"
                 : r->i % 3                       ? "satisfied"
                                                  : "basic");
        break;
    case REQ_DISPATCH:
        snprintf(text, sizeof text,
                 "{\"v\":1,\"id\":\"d%d.%d\",\"op\":\"dispatch\",\"idem\":\"soak-d%d.%d\","
                 "\"ticket\":%d,\"unit\":\"%s\",\"note\":\"退回后重新派单\"}",
                 r->i, r->k, r->i, r->k, r->i, s->t[r->i].unit);
        break;
    case REQ_EVENTS:
        snprintf(text, sizeof text,
                 "{\"v\":1,\"id\":\"e%lld\",\"op\":\"events\",\"after\":%lld,\"limit\":1000}",
                 (long long)s->ev_after, (long long)s->ev_after);
        break;
    default:
        snprintf(text, sizeof text,
                 "{\"v\":1,\"id\":\"h\",\"op\":\"hello\",\"role\":\"manager\",\"client\":\"soak\"}");
    }
    th_send_raw(s->op, text, strlen(text));
    r->sent = th_mono_ms();
}

static void s_issue(soak *s, int kind, int i, int k)
{
    req *r = &s->fl[s->nfl++];
    *r = (req){kind, i, k, 0};
    if (kind == REQ_EVENTS) s->ev_in_flight = 1;
    s_send_req(s, r);
}

static void s_hello(soak *s)
{
    int64_t now = th_mono_ms();
    if (now - s->hello_at < 200) return;
    s->hello_at = now;
    req h = {REQ_HELLO, 0, 0, 0};
    s_send_req(s, &h);
}

/* The in-flight request a reply answers, by its id. */
static int s_find(soak *s, const char *re)
{
    int kind, i = 0, k = 0;
    long long after = 0;
    if (!re) return -1;
    if (sscanf(re, "c%d", &i) == 1 && re[0] == 'c')
        kind = REQ_CREATE;
    else if (re[0] == 'b' && sscanf(re, "b%d.%d", &i, &k) == 2)
        kind = REQ_CALLBACK;
    else if (re[0] == 'd' && sscanf(re, "d%d.%d", &i, &k) == 2)
        kind = REQ_DISPATCH;
    else if (re[0] == 'e' && sscanf(re, "e%lld", &after) == 1)
        kind = REQ_EVENTS;
    else
        return -1;
    for (int f = 0; f < s->nfl; f++) {
        const req *r = &s->fl[f];
        if (r->kind != kind) continue;
        if (kind == REQ_EVENTS ? after == s->ev_after : (r->i == i && r->k == k)) return f;
    }
    return -1;
}

static void s_drop(soak *s, int f)
{
    if (s->fl[f].kind == REQ_EVENTS) s->ev_in_flight = 0;
    s->fl[f] = s->fl[--s->nfl];
}

/* Follow the log: what the workers and the dispatcher did. */
static void s_events(soak *s, const cJSON *r)
{
    const cJSON *e;
    int n = 0;
    cJSON_ArrayForEach(e, th_get(r, "events"))
    {
        n++;
        int64_t seq = th_geti(e, "seq");
        if (seq != s->ev_after + 1)
            fail_msg("event log gap: seq %lld after %lld", (long long)seq, (long long)s->ev_after);
        s->ev_after = seq;
        const char *kind = th_gets(e, "kind");
        int64_t id = th_geti(e, "ticket.id");
        if (id < 1 || !kind) continue; /* units online and offline */
        if (id > s->n) fail_msg("ticket %lld exists, beyond the %d made", (long long)id, s->n);
        tix *t = &s->t[id];
        if (strcmp(kind, "resolved") == 0) {
            t->resolved++;
            s->todo_cb[s->ntodo_cb++] = (int)id;
        } else if (strcmp(kind, "returned") == 0) {
            /* topic ticket.returned.<unit>: the unit it goes back to */
            const char *topic = th_gets(e, "topic");
            if (!topic || strncmp(topic, "ticket.returned.", 16) != 0)
                fail_msg("a returned event with topic %s", topic ? topic : "(none)");
            snprintf(t->unit, sizeof t->unit, "%s", topic + 16);
            t->returned++;
            s->todo_d[s->ntodo_d++] = (int)id;
        } else if (strcmp(kind, "closed") == 0) {
            t->closed = 1;
            s->closed++;
        }
    }
    /* more at once while there is a backlog, else look again shortly */
    s->ev_next_at = th_mono_ms() + (n == 1000 ? 0 : 20);
}

static void s_reply(soak *s, cJSON *r)
{
    const char *re = th_gets(r, "re");
    int f = s_find(s, re);
    if (f < 0) { /* a hello's answer, or a late answer to a resent request */
        cJSON_Delete(r);
        return;
    }
    req q = s->fl[f];
    if (!th_is_ok(r)) {
        const char *code = th_err_code(r);
        const char *msg = th_gets(r, "error.message");
        if (code && strcmp(code, "forbidden") == 0 && msg && strstr(msg, "hello")) {
            s_hello(s); /* a restarted dispatcher: say hello, then resend */
            s_send_req(s, &s->fl[f]);
            s->resent++;
        } else if (code && strcmp(code, "internal") == 0) {
            s_send_req(s, &s->fl[f]);
            s->resent++;
        } else {
            char *t = cJSON_PrintUnformatted(r);
            fail_msg("refused: %s", t);
        }
        cJSON_Delete(r);
        return;
    }
    s_drop(s, f);
    if (q.kind == REQ_CREATE) {
        int64_t id = th_geti(r, "ticket.id");
        if (id < 1 || id > s->n) fail_msg("create c%d made ticket %lld", q.i, (long long)id);
        if (s->id_of[q.i] && s->id_of[q.i] != id)
            fail_msg("c%d made tickets %lld and %lld", q.i, (long long)s->id_of[q.i],
                     (long long)id);
        if (s->index_of[id] && s->index_of[id] != q.i + 1)
            fail_msg("ticket %lld answers c%d and c%lld", (long long)id, q.i,
                     (long long)s->index_of[id] - 1);
        const char *lead = th_gets(r, "ticket.lead");
        if (!lead || strcmp(lead, s_plan[q.i % s_nplan].unit) != 0)
            fail_msg("c%d went to %s, not %s", q.i, lead ? lead : "(none)",
                     s_plan[q.i % s_nplan].unit);
        if (cJSON_IsTrue(cJSON_GetObjectItem(r, "repeat"))) fail_msg("c%d taken as a repeat", q.i);
        if (!s->id_of[q.i]) s->created++;
        s->id_of[q.i] = id;
        s->index_of[id] = q.i + 1;
    } else if (q.kind == REQ_EVENTS) {
        s_events(s, r);
    }
    cJSON_Delete(r);
}

/* One turn: resend the unanswered, issue what is due, take replies. */
static void s_turn(soak *s)
{
    int64_t now = th_mono_ms();
    for (int f = 0; f < s->nfl; f++)
        if (now - s->fl[f].sent > RETRY_MS) {
            s_send_req(s, &s->fl[f]);
            s->resent++;
        }
    if (!s->ev_in_flight && s->closed < s->n && now >= s->ev_next_at && s->nfl < WINDOW)
        s_issue(s, REQ_EVENTS, 0, 0);
    while (s->ntodo_cb && s->nfl < WINDOW) {
        int id = s->todo_cb[--s->ntodo_cb];
        s_issue(s, REQ_CALLBACK, id, s->t[id].resolved);
    }
    while (s->ntodo_d && s->nfl < WINDOW) {
        int id = s->todo_d[--s->ntodo_d];
        s_issue(s, REQ_DISPATCH, id, s->t[id].returned);
    }
    while (s->next_create < s->n && s->nfl < WINDOW && s->next_create - s->closed < OPEN_MAX)
        s_issue(s, REQ_CREATE, s->next_create++, 0);
    cJSON *r = th_recv_reply(s->op, 5);
    while (r) {
        s_reply(s, r);
        r = th_recv_reply(s->op, 0);
    }
}

/* ---- the checks afterwards ---------------------------------------------------- */

typedef struct evc {
    int created, accepted, resolved, returned, dispatched, reopened, closed, other;
    int64_t last_seq, closed_seq;
} evc;

typedef struct s_tally {
    const soak *s;
    evc *c;
} s_tally;

/* Count an event of the log under its ticket. */
static void s_tally_event(const cJSON *e, void *arg)
{
    s_tally *t = arg;
    int64_t seq = th_geti(e, "seq");
    int64_t id = th_geti(e, "ticket.id");
    if (id < 1) return;
    if (id > t->s->n) fail_msg("an event of ticket %lld, beyond the %d made", (long long)id,
                               t->s->n);
    evc *x = &t->c[id];
    const char *kind = th_gets(e, "kind");
    x->last_seq = seq;
    if (!strcmp(kind, "created")) x->created++;
    else if (!strcmp(kind, "accepted")) x->accepted++;
    else if (!strcmp(kind, "resolved")) x->resolved++;
    else if (!strcmp(kind, "returned")) x->returned++;
    else if (!strcmp(kind, "dispatched")) x->dispatched++;
    else if (!strcmp(kind, "reopened")) x->reopened++;
    else if (!strcmp(kind, "closed")) {
        x->closed++;
        x->closed_seq = seq;
    } else x->other++;
}

static void s_verify(soak *s, th_client *mgr, int64_t *events_total)
{
    evc *c = calloc((size_t)s->n + 1, sizeof *c);
    s_tally tally = {s, c};
    *events_total = td_each_event(mgr, 1, s_tally_event, &tally);
    int64_t dispatches = 0, returns = 0, reopens = 0;
    for (int64_t id = 1; id <= s->n; id++) {
        evc *x = &c[id];
        int i = (int)s->index_of[id] - 1;
        if (i < 0) fail_msg("ticket %lld was never acknowledged", (long long)id);
        int unsat = s_unsatisfied(id);
        if (x->created != 1 || x->closed != 1 || x->closed_seq != x->last_seq ||
            x->resolved != 1 + x->reopened || x->accepted != x->resolved ||
            x->dispatched != x->returned || x->reopened != unsat || x->other)
            fail_msg("ticket %lld (c%d): created %d, accepted %d, resolved %d, returned %d, "
                     "dispatched %d, reopened %d (caller unsatisfied: %d), closed %d%s, other %d",
                     (long long)id, i, x->created, x->accepted, x->resolved, x->returned,
                     x->dispatched, x->reopened, unsat, x->closed,
                     x->closed_seq != x->last_seq ? " (not last)" : "", x->other);
        dispatches += 1 + x->dispatched + x->reopened;
        returns += x->returned;
        reopens += x->reopened;
    }
    /* what the tickets say agrees with their history */
    for (int64_t id = 1; id <= s->n; id += 1 + s->n / 200) {
        cJSON *r = th_ok(mgr, "get", "{\"ticket\":%lld}", (long long)id);
        td_assert_str(r, "ticket.status", "closed");
        assert_int_equal(th_geti(r, "ticket.reopen_count"), c[id].reopened);
        cJSON_Delete(r);
    }
    assert_int_equal(td_each_item(mgr, "list", "tickets", "\"status\":[\"closed\"]", NULL, NULL),
                     s->n);
    cJSON *r = th_ok(mgr, "list", "{\"status\":[\"triage\",\"dispatched\",\"accepted\",\"resolved\"]}");
    assert_int_equal(cJSON_GetArraySize(th_get(r, "tickets")), 0);
    cJSON_Delete(r);
    /* assessment works on dispatches: one per assignment */
    r = th_call(mgr, "stats", "");
    if (th_is_ok(r)) {
        int64_t assigned = 0;
        const cJSON *u;
        cJSON_ArrayForEach(u, th_get(r, "units")) assigned += th_geti(u, "assigned");
        assert_int_equal(assigned, dispatches);
    } else {
        print_message("# stats not offered by this dispatcher: dispatches not counted\n");
    }
    cJSON_Delete(r);
    print_message("# %d tickets closed: %lld dispatches, %lld returned and re-dispatched, %lld "
                  "reopened; %lld events, gapless\n",
                  s->n, (long long)dispatches, (long long)returns, (long long)reopens,
                  (long long)*events_total);
    free(c);
}

/* ---- the run ------------------------------------------------------------------------ */

static void test_soak(void **state)
{
    soak s = {0};
    s.n = atoi(s_getenv("SOAK_TICKETS", "2000"));
    s.nworkers = atoi(s_getenv("SOAK_WORKERS", "20"));
    s.restarts = atoi(s_getenv("SOAK_RESTARTS", "2"));
    assert_true(s.n > 0 && s.nworkers > 0 && s.nworkers <= 32 && s.restarts >= 0);
    char *errors = NULL;
    hl_config *cfg = hl_config_load(th_src("config/zhucheng.json"), &errors);
    if (!cfg) fail_msg("config/zhucheng.json: %s", errors);
    s_make_plan(cfg, s.nworkers);

    th_disp d = {0};
    char config[512], db[512];
    snprintf(config, sizeof config, "%s", th_src("config/zhucheng.json"));
    snprintf(db, sizeof db, "%s", th_path("soak/hotline.db"));
    th_disp_start(&d, config, db, NULL);
    pid_t w[32];
    for (int k = 0; k < s.nworkers; k++) {
        char wdb[128];
        snprintf(wdb, sizeof wdb, "soak-w%02d.db", k);
        w[k] = tw_auto(&d, s_plan[k].unit, th_path(wdb), "sign=0,finish=0,return=0.02,seed=11");
    }
    s.t = calloc((size_t)s.n + 1, sizeof *s.t);
    s.id_of = calloc((size_t)s.n, sizeof *s.id_of);
    s.index_of = calloc((size_t)s.n + 1, sizeof *s.index_of);
    s.todo_cb = calloc((size_t)s.n * 2 + 16, sizeof *s.todo_cb);
    s.todo_d = calloc((size_t)s.n * 2 + 16, sizeof *s.todo_d);
    /* a manager: it reads the event log too */
    s.op = th_client_new(d.front, "manager", NULL);

    int done_restarts = 0;
    int64_t t0 = th_mono_ms();
    int64_t end = t0 + atoll(s_getenv("SOAK_LIMIT_S", "3600")) * 1000;
    int64_t last_report = t0, progress_at = t0;
    int64_t stall_ms = atoll(s_getenv("SOAK_STALL_S", "60")) * 1000;
    int last_closed = 0;
    while ((s.closed < s.n || s.nfl > 0) && th_mono_ms() < end) {
        s_turn(&s);
        if (s.closed != last_closed) {
            last_closed = s.closed;
            progress_at = th_mono_ms();
        } else if (th_mono_ms() - progress_at > stall_ms) {
            /* no ticket closed for a minute: say which are stuck */
            char stuck[400] = "";
            int shown = 0;
            for (int64_t id = 1; id <= s.n && shown < 10; id++)
                if (s.index_of[id] && !s.t[id].closed) {
                    snprintf(stuck + strlen(stuck), sizeof stuck - strlen(stuck), " %lld",
                             (long long)id);
                    shown++;
                }
            fail_msg("no progress for %lld s: %d of %d closed, %d in flight; open tickets:%s",
                     (long long)stall_ms / 1000, s.closed, s.n, s.nfl, stuck);
        }
        /* restarts spread over the run: at closed = n·r/(restarts+1) */
        if (done_restarts < s.restarts &&
            s.closed >= (int64_t)s.n * (done_restarts + 1) / (s.restarts + 1)) {
            done_restarts++;
            int kill9 = done_restarts % 2 == 0;
            print_message("# restart %d (%s) at %d closed, %d created\n", done_restarts,
                          kill9 ? "SIGKILL" : "SIGTERM", s.closed, s.created);
            if (kill9)
                th_disp_kill9(&d);
            else
                assert_int_equal(th_disp_stop(&d), 0);
            th_disp_start(&d, config, db, NULL);
        }
        if (th_mono_ms() - last_report > 10000) {
            last_report = th_mono_ms();
            print_message("# %lld s: %d created, %d closed, %d in flight\n",
                          (long long)(last_report - t0) / 1000, s.created, s.closed, s.nfl);
        }
    }
    int64_t took = th_mono_ms() - t0;
    if (s.closed < s.n)
        fail_msg("only %d of %d tickets closed within the limit (%d created)", s.closed, s.n,
                 s.created);
    print_message("# soak: %d tickets through their lifecycle with %d workers in %.1f s = %.0f "
                  "tickets/s; %d dispatcher restarts; %d requests resent\n",
                  s.n, s.nworkers, took / 1000.0, s.n * 1000.0 / (took ? took : 1), done_restarts,
                  s.resent);
    assert_int_equal(done_restarts, s.restarts);
    assert_int_equal(s.created, s.n); /* every create acknowledged */

    th_client *mgr = th_client_new(d.front, "manager", NULL);
    int64_t events;
    s_verify(&s, mgr, &events);
    th_client_destroy(&mgr);
    for (int k = 0; k < s.nworkers; k++)
        assert_int_equal(th_stop_pid(w[k], SIGTERM, 20000), 0);
    th_client_destroy(&s.op);
    assert_int_equal(th_disp_stop(&d), 0);
    free(s.t);
    free(s.id_of);
    free(s.index_of);
    free(s.todo_cb);
    free(s.todo_d);
    hl_config_destroy(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_soak),
    };
    return TH_MAIN("soak", tests);
}
