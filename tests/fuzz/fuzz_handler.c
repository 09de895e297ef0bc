/* fuzz_handler.c — libFuzzer harness for the dispatcher's whole request
 * handler (core) on a private in-memory store, with config/test-small.json
 * loaded once. Each input is a fresh dispatcher fed a sequence of frames.
 *
 * Input: records separated by '\n'. A record is one control byte and the
 * frame (the rest of the record, possibly empty):
 *   bits 0-2  the peer (8 sessions); peers 0-3 said hello before the input
 *             starts (operator, manager, worker of t.a, worker of t.b),
 *             peers 4-7 did not;
 *   bit 3     end the batch before this frame (a new loop turn);
 *   bits 6-7  01: forget the peer first (it disconnected); 10: run the
 *             heartbeat tick and the deadlines as of 2 × peer days from now
 *             first (red and yellow flags, escalations); 11: end the batch
 *             by rolling it back (a failed commit) instead of committing it,
 *             and for peer 7 also cap the database at its size (a full
 *             disk: later writes fail, SQLite rolls their batch back) or
 *             lift the cap.
 * Bits 4-5 are free, so the digits are text: "0{...}" is a request from
 * the operator, "8{...}" the same after a commit, "1" .. "7" and "9" .. "?"
 * the other peers.
 *
 * Checked, beyond "no crash, no leak": every reply is a protocol reply
 * whose "re" is the request's id; an error says why; only a successful
 * change says it changed something; a request appends to the event log
 * exactly the events it queues for publishing, and a refused one appends
 * none but its worker's unit coming online; after every batch the log is
 * gapless from seq 1, holds exactly what was published and committed, and
 * every ticket is consistent with its status and its own history. */
#include "core.h"
#include "store.h"
#include "ticket.h"

#include "hotline/config.h"
#include "hotline/proto.h"
#include "hotline/util.h"

#include <libgen.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NPEERS 8

static hl_config *s_cfg;
static int s_verbose; /* HOTLINE_FUZZ_VERBOSE=1: print each frame and its reply */

static void s_die(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_handler: invariant broken: %s%s%s\n", what, detail ? ": " : "",
            detail ? detail : "");
    abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    hl_log_init("fuzz_handler", HL_LOG_ERROR + 1); /* quiet: warnings are expected here */
    s_verbose = getenv("HOTLINE_FUZZ_VERBOSE") != NULL;
    char *errors = NULL;
    const char *env = getenv("HOTLINE_FUZZ_CONFIG");
    char path[4096];
    if (env) {
        snprintf(path, sizeof path, "%s", env);
    } else {
        /* build/fuzz/fuzz_handler → config/test-small.json of the same tree */
        char self[4096];
        snprintf(self, sizeof self, "%s", (*argv)[0]);
        snprintf(path, sizeof path, "%s/../../config/test-small.json", dirname(self));
        FILE *f = fopen(path, "r");
        if (f)
            fclose(f);
        else
            snprintf(path, sizeof path, "config/test-small.json");
    }
    s_cfg = hl_config_load(path, &errors);
    if (!s_cfg) {
        fprintf(stderr, "fuzz_handler: cannot load %s:\n%s", path, errors ? errors : "");
        exit(1);
    }
    return 0;
}

/* ---- what a run keeps --------------------------------------------------- */

typedef struct run {
    core *c;
    store *st;
    core_outq out;
    int64_t published; /* events published by committed batches */
    int64_t pending;   /* events queued in the open batch */
    int in_batch;
    int capped; /* the database is held at its size: a full disk */
} run;

static void s_peer_key(int peer, char key[8])
{
    snprintf(key, 8, "peer-%d", peer);
}

/* Check a reply against the request it answers. */
static void s_check_reply(const core_reply *rep, const void *frame, size_t len)
{
    if (!rep->text) s_die("no reply", NULL);
    hl_reply r;
    if (hl_reply_parse(rep->text, strlen(rep->text), &r) != 0)
        s_die("the reply is not a protocol reply", rep->text);
    if (r.push) s_die("a reply that is a push", rep->text);
    if (!r.ok && (!r.code || !r.message || !r.message[0] || r.err == HL_E__COUNT))
        s_die("an error without a known code and a message", rep->text);
    if (rep->changed && !r.ok) s_die("a refused request says it changed something", rep->text);
    /* "re" is the request's id whenever the request had a usable one */
    hl_request req;
    char msg[256];
    hl_request_parse(frame, len, s_cfg->dispatcher.max_message, &req, msg, sizeof msg);
    if (req.id && !hl_streq(req.id, r.re)) s_die("re is not the request's id", rep->text);
    if (!req.id && r.re) s_die("re set for a request without a usable id", rep->text);
    if (req.id && !hl_streq(req.id, rep->re)) s_die("core_reply.re differs from the id", rep->re);
    hl_request_free(&req);
    hl_reply_free(&r);
}

/* The events a request queued: every one parses, carries the next seq, and
 * their number is what the store appended. */
static void s_check_out(run *r, size_t from, int64_t seq_before, int ok)
{
    int64_t seq = seq_before;
    for (size_t i = from; i < r->out.n; i++) {
        const core_out *o = &r->out.items[i];
        cJSON *j = cJSON_Parse(o->text);
        if (!cJSON_IsObject(j)) s_die("queued output is not a JSON object", o->text);
        if (o->kind == CORE_OUT_EVENT) {
            int64_t v;
            if (hl_json_int(j, "seq", &v) != 0 || v != seq)
                s_die("a published event does not carry the next seq", o->text);
            seq++;
            if (!ok && strncmp(o->topic, "unit.online.", 12) != 0)
                s_die("a refused request published an event", o->topic);
        } else {
            if (!ok) s_die("a refused request pushed to a unit", o->text);
            if (o->unit < 0 || o->unit >= s_cfg->nunits) s_die("a push to no unit", o->text);
        }
        cJSON_Delete(j);
    }
    if (store_event_next_seq(r->st) != seq)
        s_die("the store appended other events than were queued", NULL);
}

/* ---- invariants after a batch ---------------------------------------------- */

typedef struct log_walk {
    int64_t expect;
} log_walk;

static void s_log_cb(int64_t seq, const char *topic, const char *json, void *arg)
{
    log_walk *w = arg;
    if (seq != w->expect) s_die("the event log has a gap", topic);
    w->expect++;
    cJSON *j = cJSON_Parse(json ? json : "");
    int64_t v;
    if (!cJSON_IsObject(j) || hl_json_int(j, "seq", &v) != 0 || v != seq)
        s_die("a logged event's JSON does not carry its seq", json);
    cJSON_Delete(j);
}

typedef struct hist_walk {
    int n;
    char first[32];
    char last_to[32];
} hist_walk;

static void s_hist_cb(const store_event *ev, void *arg)
{
    hist_walk *h = arg;
    if (h->n++ == 0) hl_strlcpy(h->first, ev->kind ? ev->kind : "", sizeof h->first);
    if (ev->to) hl_strlcpy(h->last_to, ev->to, sizeof h->last_to);
}

typedef struct ticket_walk {
    run *r;
    int n;
} ticket_walk;

static void s_ticket_cb(const ticket *t, void *arg)
{
    ticket_walk *w = arg;
    w->n++;
    const char *st = ticket_status_name(t->status);
    int live = t->status == TS_DISPATCHED || t->status == TS_ACCEPTED || t->status == TS_RESOLVED;
    if (live != (t->dispatch_id != 0)) s_die("a dispatch row where none belongs (or none)", t->no);
    if (live && !t->lead) s_die("a dispatched ticket without a lead", t->no);
    if (live && (!t->dispatched_at || !t->sign_due || !t->finish_due))
        s_die("a dispatched ticket without deadlines", t->no);
    if (t->status == TS_ACCEPTED && !t->signed_at) s_die("accepted but never signed", t->no);
    if (t->status == TS_RESOLVED && !t->resolved_at) s_die("resolved without a time", t->no);
    if (!ticket_status_open(t->status) && !t->closed_at) s_die("closed without a time", t->no);
    if (t->status == TS_MERGED && !t->merged_into) s_die("merged into nothing", t->no);
    if (t->lead && hl_config_unit(s_cfg, t->lead) < 0) s_die("led by an unknown unit", t->lead);
    for (int i = 0; i < t->nco; i++)
        if (hl_config_unit(s_cfg, t->co[i]) < 0) s_die("co-handled by an unknown unit", t->co[i]);
    hist_walk h = {0};
    if (store_ticket_history(w->r->st, t->id, s_hist_cb, &h) != STORE_OK)
        s_die("cannot read a ticket's history", store_errmsg(w->r->st));
    if (h.n == 0 || strcmp(h.first, "created") != 0)
        s_die("a ticket's history does not start with created", t->no);
    if (strcmp(h.last_to, st) != 0) s_die("a ticket's status is not where its history ends", t->no);
}

static void s_check_store(run *r)
{
    log_walk w = {1};
    if (store_events_after(r->st, 0, 1000000, s_log_cb, &w) != STORE_OK)
        s_die("cannot read the event log", store_errmsg(r->st));
    if (w.expect - 1 != r->published)
        s_die("the log does not hold exactly the published events", NULL);
    if (store_event_next_seq(r->st) != w.expect) s_die("the next seq is not after the log", NULL);
    store_filter f = {.limit = 1000000};
    ticket_walk tw = {r, 0};
    if (store_ticket_list(r->st, &f, s_ticket_cb, &tw) != STORE_OK)
        s_die("cannot list tickets", store_errmsg(r->st));
}

/* ---- batches ---------------------------------------------------------------- */

static void s_begin(run *r)
{
    if (r->in_batch) return;
    if (core_begin(r->c) != 0) s_die("core_begin", core_errmsg(r->c));
    r->in_batch = 1;
    r->pending = 0;
}

static void s_end(run *r, int rollback)
{
    if (!r->in_batch) return;
    r->in_batch = 0;
    if (rollback) {
        core_rollback(r->c);
    } else if (core_commit(r->c) == 0) {
        r->published += r->pending;
    } else if (!r->capped) {
        s_die("core_commit", core_errmsg(r->c));
    } /* else the full disk lost the batch: nothing of it may remain */
    core_outq_truncate(&r->out, 0);
    s_check_store(r);
}

static void s_handle(run *r, int peer, const void *frame, size_t len)
{
    char key[8];
    s_peer_key(peer, key);
    s_begin(r);
    size_t from = r->out.n;
    int64_t seq = store_event_next_seq(r->st);
    core_reply rep;
    core_handle(r->c, key, strlen(key), frame, len, &rep, &r->out);
    if (s_verbose)
        fprintf(stderr, "%s> %.*s\n%s< %s\n", key, (int)len, (const char *)frame, key, rep.text);
    s_check_reply(&rep, frame, len);
    hl_reply parsed;
    hl_reply_parse(rep.text, strlen(rep.text), &parsed);
    s_check_out(r, from, seq, parsed.ok);
    hl_reply_free(&parsed);
    r->pending += store_event_next_seq(r->st) - seq;
    core_reply_free(&rep);
}

static void s_hello(run *r, int peer, const char *args)
{
    char frame[200];
    snprintf(frame, sizeof frame, "{\"v\":1,\"id\":\"h%d\",\"op\":\"hello\",%s}", peer, args);
    s_handle(r, peer, frame, strlen(frame));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    run r = {0};
    char *err = NULL;
    r.st = store_open(STORE_MEMORY, 0, &err);
    if (!r.st) s_die("store_open", err);
    r.c = core_new(s_cfg, r.st);
    core_outq_init(&r.out);
    s_hello(&r, 0, "\"role\":\"operator\",\"client\":\"op\"");
    s_hello(&r, 1, "\"role\":\"manager\"");
    s_hello(&r, 2, "\"role\":\"worker\",\"unit\":\"t.a\"");
    s_hello(&r, 3, "\"role\":\"worker\",\"unit\":\"t.b\"");
    s_end(&r, 0);

    size_t pos = 0;
    while (pos < size) {
        const uint8_t *nl = memchr(data + pos, '\n', size - pos);
        size_t end = nl ? (size_t)(nl - data) : size;
        if (end == pos) { /* an empty record */
            pos++;
            continue;
        }
        uint8_t ctl = data[pos];
        int peer = ctl & 7;
        int mode = ctl >> 6;
        if ((ctl & 0x08) || mode == 3) s_end(&r, mode == 3);
        if (mode == 3 && peer == 7) {
            r.capped = !r.capped;
            if (store_set_max_pages(r.st, r.capped ? 1 : 0, NULL) != STORE_OK)
                s_die("store_set_max_pages", store_errmsg(r.st));
        }
        if (mode == 1) {
            char key[8];
            s_peer_key(peer, key);
            core_forget(r.c, key, strlen(key));
        }
        if (mode == 2) {
            s_begin(&r);
            size_t from = r.out.n;
            int64_t seq = store_event_next_seq(r.st);
            core_tick(r.c, &r.out);
            int more = 0;
            hl_ms at = hl_now() + (hl_ms)peer * 2 * 24 * 3600 * 1000;
            if (core_deadlines(r.c, at, 64, &r.out, &more) != 0) {
                /* as the server does: the round is rolled back (with the
                 * batch it shares here); only a full disk may cause it */
                if (!r.capped) s_die("core_deadlines", core_errmsg(r.c));
                s_end(&r, 1);
            } else {
                s_check_out(&r, from, seq, 1);
                r.pending += store_event_next_seq(r.st) - seq;
            }
        }
        s_handle(&r, peer, data + pos + 1, end - pos - 1);
        pos = end + 1;
    }
    s_end(&r, 0);

    core_outq_free(&r.out);
    core_destroy(&r.c);
    store_close(&r.st);
    return 0;
}
