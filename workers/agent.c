/* agent.c — inbox sync and the outbox pump, between the session and the
 * local store. Owns the in-memory queue of unanswered actions and the loop's
 * "before sleep" hook, which commits the store and only then sends: nothing
 * leaves the process that the store could forget. No SQL, no console. */
#include "agent.h"

#include "hotline/map.h"
#include "hotline/timefmt.h"
#include "hotline/util.h"

#include <stdlib.h>
#include <string.h>

#define AGENT_WINDOW 64      /* actions in flight at once */
#define AGENT_INBOX_LIMIT 100
/* Pushes say when the feed grows; a sync now and then covers a push lost
 * on the way (a full queue at the dispatcher, say). */
#define AGENT_RESYNC_MS 30000
/* An "internal" answer (the dispatcher's database failed, nothing applied)
 * is worth a few more tries before the action counts as refused. */
#define AGENT_RETRIES 3
#define AGENT_RETRY_MS 2000

typedef struct ag_item {
    int64_t n;
    char *op;
    int64_t ticket; /* 0 when unknown */
    char *ref;
    char *args; /* JSON object text */
    char *idem;
    int64_t created_at;
    char *refusal; /* a forbidden reply's message, while a ping checks the session */
    int retries;      /* "internal" answers so far */
    int unsure;       /* it may have gone before: its answer may be a replay */
    char *answer;     /* an unsure item's ok reply, while its ticket is read again */
    int64_t retry_at; /* monotonic ms before which it is not sent again */
    int sent;         /* sent at least once by this process */
    int inflight;
    int done;
} ag_item;

struct agent {
    uv_loop_t *loop;
    wstore *store;
    sess *sess;
    char *unit;
    agent_ui ui;
    void *ui_arg;
    int columns_only; /* agent_set_columns_only */
    uv_prepare_t prep;
    uv_timer_t resync;
    uv_timer_t retry;
    int handles;

    ag_item *q; /* unanswered actions, by n; answered ones are marked done and compacted away */
    size_t qhead, qlen, qcap;
    size_t open;     /* items not done */
    size_t inflight;
    hl_map *open_by_ticket; /* ticket id -> how many items not done (as a pointer-sized count) */
    hl_buf text;            /* scratch: the arguments of an action, the inbox request */

    int link;      /* as last told to the UI: -1 not yet, 0 down, 1 up */
    int syncing;   /* an inbox request is out */
    int sync_again;
    int sync_items;/* items brought by the sync in progress */
};

/* ---- the queue ------------------------------------------------------------- */

static void s_item_free(ag_item *it)
{
    free(it->op);
    free(it->ref);
    free(it->args);
    free(it->idem);
    free(it->refusal);
    free(it->answer);
}

static void s_open_count(agent *a, int64_t ticket, int delta)
{
    if (ticket <= 0) return;
    intptr_t k = (intptr_t)hl_map_get(a->open_by_ticket, &ticket, sizeof ticket) + delta;
    if (k > 0)
        hl_map_put(a->open_by_ticket, &ticket, sizeof ticket, (void *)k);
    else
        hl_map_del(a->open_by_ticket, &ticket, sizeof ticket);
}

static void s_q_push(agent *a, int64_t n, const char *op, int64_t ticket, const char *ref,
                     const char *args, const char *idem, int64_t created_at)
{
    if (a->qlen == a->qcap) {
        /* compact before growing */
        if (a->qhead > 0) {
            memmove(a->q, a->q + a->qhead, (a->qlen - a->qhead) * sizeof *a->q);
            a->qlen -= a->qhead;
            a->qhead = 0;
        }
        if (a->qlen == a->qcap) {
            a->qcap = a->qcap ? a->qcap * 2 : 64;
            a->q = hl_realloc(a->q, a->qcap * sizeof *a->q);
        }
    }
    ag_item *it = &a->q[a->qlen++];
    memset(it, 0, sizeof *it);
    it->n = n;
    it->op = hl_strdup(op);
    it->ticket = ticket;
    it->ref = hl_strdup(ref ? ref : "");
    it->args = hl_strdup(args);
    it->idem = hl_strdup(idem);
    it->created_at = created_at;
    a->open++;
    s_open_count(a, ticket, 1);
}

static ag_item *s_q_find(agent *a, int64_t n)
{
    size_t lo = a->qhead, hi = a->qlen;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (a->q[mid].n < n)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < a->qlen && a->q[lo].n == n && !a->q[lo].done ? &a->q[lo] : NULL;
}

static void s_q_done(agent *a, ag_item *it)
{
    if (it->inflight) a->inflight--;
    it->inflight = 0;
    it->done = 1;
    s_open_count(a, it->ticket, -1);
    s_item_free(it);
    a->open--;
    while (a->qhead < a->qlen && a->q[a->qhead].done) a->qhead++;
    if (a->qhead == a->qlen) a->qhead = a->qlen = 0;
}

/* ---- replies read in place --------------------------------------------------------- */

/* A reply's text as a span (session.c checked it: sess_text_fn). */
static js_span s_trim(const char *text, size_t len)
{
    js_span v = {text, len};
    while (v.n && (*v.p == ' ' || *v.p == '\t' || *v.p == '\n' || *v.p == '\r')) v.p++, v.n--;
    return v;
}

/* The first member called name of a checked object; 0 or -1. */
static int s_member(js_span obj, const char *name, js_span *val)
{
    js_iter it;
    if (js_obj_begin(&it, obj) != 0) return -1;
    js_trust(&it);
    js_span k, v;
    while (js_obj_next(&it, &k, &v) > 0)
        if (js_key_is(k, name)) {
            *val = v;
            return 0;
        }
    return -1;
}

/* ---- actions ------------------------------------------------------------------ */

/* The item is answered: it leaves the queue, and the UI hears of it — with
 * what the queue kept of the row, which is what the store holds. */
static void s_finish(agent *a, ag_item *it, ws_state st, const char *code, const char *message,
                     const cJSON *result)
{
    ws_action act = {0};
    act.n = it->n;
    act.op = it->op;
    act.ticket = it->ticket;
    act.ref = it->ref;
    act.args = it->args;
    act.idem = it->idem;
    act.created_at = it->created_at;
    act.state = st;
    it->op = it->ref = it->args = it->idem = NULL; /* now act's */
    s_q_done(a, it);
    if (a->ui.action) {
        act.code = (char *)code;
        act.message = (char *)message;
        a->ui.action(a, &act, result, a->ui_arg);
    }
    free(act.op);
    free(act.ref);
    free(act.args);
    free(act.idem);
}

static void s_pump(agent *a);

static void s_on_verify(sess *s, const hl_reply *rep, void *arg, int64_t n);
static int s_put_span(agent *a, js_span t, int assign, ws_ticket *now);
static void s_sync_send(agent *a);

static void s_retry_cb(uv_timer_t *t)
{
    (void)t;
}

static void s_refuse(agent *a, ag_item *it, const char *code, const char *message)
{
    wstore_action_set_state(a->store, it->n, WS_REFUSED, code, message);
    wstore_commit(a->store);
    hl_info("action %lld refused by the dispatcher: %s: %s", (long long)it->n, code, message);
    s_finish(a, it, WS_REFUSED, code, message, NULL);
}

/* The item succeeded (answer: the reply's text): saved as done, and the UI
 * told. */
static void s_done(agent *a, ag_item *it, const char *answer, size_t len)
{
    wstore_action_set_state(a->store, it->n, WS_DONE, NULL, NULL);
    /* a person sees "done" only once it is saved; a UI that shows
     * nobody anything has the loop's before-sleep hook commit it with
     * the rest of the turn (a lost "done" resends with the same idem) */
    if (!a->columns_only) wstore_commit(a->store);
    /* the reply as a tree only for a UI that reads it */
    cJSON *result = a->ui.action && !a->columns_only ? cJSON_ParseWithLength(answer, len) : NULL;
    s_finish(a, it, WS_DONE, NULL, NULL, result);
    cJSON_Delete(result);
}

/* The item goes again, with the same idem (its answer was lost, could not
 * be checked, or was a failure worth retrying): out of flight, and an
 * unsure item's answer kept for checking dropped, to be checked again. */
static void s_requeue(agent *a, ag_item *it)
{
    free(it->answer);
    it->answer = NULL;
    if (it->inflight) a->inflight--;
    it->inflight = 0;
}

/* An unsure item done: with the ticket read again when ticket is an
 * object, else without it (no longer ours: the inbox tells what became of
 * it). */
static void s_confirm_done(agent *a, ag_item *it, js_span ticket)
{
    if (ticket.p)
        s_put_span(a, ticket, 0, NULL);
    else
        s_sync_send(a);
    char *answer = it->answer;
    it->answer = NULL;
    s_done(a, it, answer, strlen(answer));
    free(answer);
}

/* The ticket of an unsure item's action, read again (s_on_action). */
static void s_on_confirm(sess *s, const hl_reply *rep, const char *text, size_t len, void *arg,
                         int64_t n)
{
    agent *a = arg;
    ag_item *it = s_q_find(a, n);
    if (!it || !it->answer) return;
    if (rep && rep->ok) {
        js_span t;
        if (s_member(s_trim(text, len), "ticket", &t) != 0 || !js_is_object(t)) t = (js_span){0};
        s_confirm_done(a, it, t);
    } else if (rep && rep->err == HL_E_FORBIDDEN) {
        /* not ours any more, or no session any more: a ping tells which */
        if (sess_request(s, "ping", NULL, NULL, s_on_verify, a, n) != 0) s_requeue(a, it);
    } else if (rep && rep->err == HL_E_NOT_FOUND) {
        s_confirm_done(a, it, (js_span){0});
    } else {
        s_requeue(a, it);
    }
}

static void s_on_action(sess *s, const hl_reply *rep, const char *text, size_t len, void *arg,
                        int64_t n)
{
    agent *a = arg;
    ag_item *it = s_q_find(a, n);
    if (!it) return;
    if (!rep) { /* the link went down first: it goes again, with the same idem */
        s_requeue(a, it);
        return;
    }
    if (rep->ok && it->unsure && it->ticket > 0) {
        /* The same idem sent again is answered with the result stored the
         * first time: the ticket as it was then, which may since have moved
         * on (a callback reopened it while this answer was lost). Stored, it
         * would hide the newer state the inbox brought. So the ticket is read
         * again, and the action counts as done with that copy stored. */
        hl_buf_reset(&a->text);
        hl_buf_adds(&a->text, "{\"ticket\":");
        hl_json_write_int(&a->text, it->ticket);
        hl_buf_addc(&a->text, '}');
        if (sess_request_text(s, "get", a->text.data, NULL, s_on_confirm, a, n) == 0) {
            free(it->answer);
            it->answer = hl_strndup(text, len);
        } else { /* cannot ask now: it goes again, and is checked again */
            s_requeue(a, it);
        }
        return;
    }
    if (rep->ok) {
        /* the reply read in place: the ticket stored as it came */
        js_span t;
        if (s_member(s_trim(text, len), "ticket", &t) == 0 && js_is_object(t))
            s_put_span(a, t, 0, NULL);
        s_done(a, it, text, len);
        return;
    }
    if (rep->err == HL_E_FORBIDDEN) {
        /* Forbidden may mean the ticket is no longer ours — or that this
         * connection lost its session (the dispatcher restarted under a
         * reconnecting socket). A ping tells which: it is only refused
         * when there is no session. */
        free(it->refusal);
        it->refusal = hl_strdup(rep->message);
        if (sess_request(s, "ping", NULL, NULL, s_on_verify, a, n) == 0) return;
        /* cannot verify now: treat as lost, resend later */
        s_requeue(a, it);
        return;
    }
    if (rep->err == HL_E_INTERNAL && it->retries < AGENT_RETRIES) {
        it->retries++;
        s_requeue(a, it);
        it->retry_at = hl_mono_ms() + (int64_t)AGENT_RETRY_MS * it->retries;
        hl_warn("action %lld: the dispatcher failed (%s); trying again in %d s", (long long)n,
                rep->message, AGENT_RETRY_MS * it->retries / 1000);
        /* the wake-up runs the loop's before-sleep hook, which sends */
        uv_timer_start(&a->retry, s_retry_cb, (uint64_t)AGENT_RETRY_MS * (uint64_t)it->retries,
                       0);
        return;
    }
    s_refuse(a, it, rep->code, rep->message);
}

/* The ping after a forbidden answer, to an action or to an unsure item's
 * get: answered, the session stands and the ticket is no longer ours (the
 * action is refused; an unsure item's action stood, and is done without
 * its ticket); refused, the session is gone (the dispatcher restarted) and
 * the item goes again after the next hello. */
static void s_on_verify(sess *s, const hl_reply *rep, void *arg, int64_t n)
{
    agent *a = arg;
    ag_item *it = s_q_find(a, n);
    if (!it) return;
    if (rep && rep->ok && it->answer) {
        s_confirm_done(a, it, (js_span){0});
    } else if (rep && rep->ok) {
        char *message = it->refusal;
        it->refusal = NULL;
        s_refuse(a, it, "forbidden", message ? message : "");
        free(message);
    } else {
        s_requeue(a, it);
        if (rep) sess_drop(s, "the dispatcher no longer knows this session");
    }
}

static void s_pump(agent *a)
{
    if (!sess_is_up(a->sess)) return;
    int marked = 0;
    int64_t now = hl_mono_ms();
    for (size_t i = a->qhead; i < a->qlen && a->inflight < AGENT_WINDOW; i++) {
        ag_item *it = &a->q[i];
        if (it->done) continue;
        if (it->inflight) continue;
        if (it->retry_at > now) break; /* in order: what follows waits too */
        if (sess_request_text(a->sess, it->op, it->args, it->idem, s_on_action, a, it->n) != 0)
            break; /* would block: keep the order, try again on the next turn */
        if (it->sent) it->unsure = 1;
        it->sent = 1;
        it->inflight = 1;
        a->inflight++;
        wstore_action_set_state(a->store, it->n, WS_SENT, NULL, NULL);
        marked = 1;
    }
    if (marked) wstore_commit(a->store);
}

static int s_load_one(const ws_action *act, void *arg)
{
    agent *a = arg;
    s_q_push(a, act->n, act->op, act->ticket, act->ref, act->args, act->idem, act->created_at);
    /* pending or sent: a worker that stopped may have sent it a moment before */
    a->q[a->qlen - 1].unsure = 1;
    return 0;
}

int64_t agent_act_text(agent *a, const char *op, int64_t ticket, const char *ref,
                       const char *args)
{
    char idem[HL_IDEM_MAX + 1];
    int64_t created_at = 0;
    int64_t n = wstore_action_add_text(a->store, op, ticket, ref, args, idem, &created_at);
    s_q_push(a, n, op, ticket, ref, args, idem, created_at);
    return n;
}

int64_t agent_act(agent *a, const char *op, int64_t ticket, const char *ref, cJSON *args)
{
    char *text = hl_json_print(args);
    cJSON_Delete(args);
    int64_t n = agent_act_text(a, op, ticket, ref, text);
    free(text);
    return n;
}

int agent_open_for(const agent *a, int64_t ticket)
{
    return ticket > 0 && hl_map_get(a->open_by_ticket, &ticket, sizeof ticket) != NULL;
}

size_t agent_open_actions(const agent *a)
{
    return a->open;
}

/* ---- inbox ------------------------------------------------------------------------ */

typedef struct ag_note {
    char kind[16];
    ws_ticket now, prev;
    int deferred; /* 1: stored with a later item of its ticket; 2: and counted there */
    int assign;   /* what the item adds to the ticket's assignments */
} ag_note;

/* A feed item read in place. */
typedef struct ag_entry {
    int64_t seq;
    int has_kind; /* kind is a string (long ones are cut here, as a note's) */
    char kind[64];
    int assign;   /* assigned or reopened */
    js_span ticket; /* .p NULL when not an object */
    int64_t tid;    /* the ticket's id as hl_json_int reads it, else 0 */
    int scanned;    /* in holds the ticket's fields */
    int has_no, has_status, has_lead; /* which of in's fields were there */
    ws_ticket_in in;
} ag_entry;

/* Store a ticket object's text: read in place, or as a tree when a field is
 * too long for that (or it has no id: then nothing is stored). now, when
 * not NULL, receives the stored columns. 0, or -1 when it is not a ticket. */
static int s_put_span(agent *a, js_span t, int assign, ws_ticket *now)
{
    ws_ticket_in in;
    if (wstore_ticket_scan(t, &in) == 0) {
        wstore_ticket_put_text(a->store, &in, assign, now);
        return 0;
    }
    cJSON *tree = cJSON_ParseWithLength(t.p, t.n);
    int64_t id = 0;
    int rc = tree && hl_json_int(tree, "id", &id) == 0 ? wstore_ticket_put(a->store, tree, assign, NULL)
                                                       : -1;
    cJSON_Delete(tree);
    if (rc == 0 && now && wstore_ticket_head(a->store, id, now) != 0) rc = -1;
    return rc;
}

static void s_sync_send(agent *a);


/* Read one feed item: seq, kind and the ticket with the fields the store
 * keeps, as the tree-reading code did (the first member of a name counts). */
static void s_entry(js_span item, ag_entry *e)
{
    memset(e, 0, sizeof *e);
    js_iter it;
    if (js_obj_begin(&it, item) != 0) return;
    js_trust(&it);
    js_span k, v, seq = {0}, kind = {0}, t = {0};
    while (js_obj_next(&it, &k, &v) > 0) {
        if (!seq.p && js_key_is(k, "seq"))
            seq = v;
        else if (!kind.p && js_key_is(k, "kind"))
            kind = v;
        else if (!t.p && js_key_is(k, "ticket"))
            t = v;
    }
    js_int(seq, &e->seq);
    if (js_is_string(kind)) {
        e->has_kind = 1;
        if (js_str(kind, e->kind, sizeof e->kind) < 0) e->kind[0] = '\0';
        e->assign = strcmp(e->kind, "assigned") == 0 || strcmp(e->kind, "reopened") == 0;
    }
    if (!js_is_object(t)) return;
    e->ticket = t;
    if (wstore_ticket_scan(t, &e->in) == 0) {
        e->scanned = 1;
        e->tid = e->in.id;
        e->has_no = e->in.no != NULL;
        e->has_status = e->in.status != NULL;
        e->has_lead = e->in.lead != NULL;
    } else {
        js_span id;
        if (s_member(t, "id", &id) != 0 || js_int(id, &e->tid) != 0) e->tid = 0;
    }
}

static void s_on_inbox(sess *s, const hl_reply *rep, const char *text, size_t len, void *arg,
                       int64_t after)
{
    (void)s;
    agent *a = arg;
    a->syncing = 0;
    if (!rep) return; /* link down: the next connect syncs again */
    if (!rep->ok) {
        hl_warn("inbox refused by the dispatcher: %s: %s", rep->code, rep->message);
        return;
    }
    /* the page read in place: no tree, each ticket stored as it came */
    js_span root = s_trim(text, len), k, v, items = {0}, lastv = {0};
    js_iter it;
    js_obj_begin(&it, root);
    js_trust(&it);
    while (js_obj_next(&it, &k, &v) > 0) {
        if (!items.p && js_key_is(k, "items"))
            items = v;
        else if (!lastv.p && js_key_is(k, "last"))
            lastv = v;
    }
    int64_t last = -1;
    js_int(lastv, &last);
    int count = 0, cap = 0;
    ag_entry *ents = NULL;
    js_span item;
    if (js_arr_begin(&it, items) == 0) {
        js_trust(&it);
        while (js_arr_next(&it, &item) > 0) {
            if (count == cap) {
                cap = cap ? cap * 2 : 8;
                ents = hl_realloc(ents, (size_t)cap * sizeof *ents);
            }
            s_entry(item, &ents[count++]);
        }
    }
    /* the scanned fields point into each entry's own buffers, which moved
     * with the array: point them there again */
    for (int i = 0; i < count; i++) {
        ws_ticket_in *in = &ents[i].in;
        if (!ents[i].scanned) continue;
        in->no = ents[i].has_no ? in->buf_no : NULL;
        in->status = ents[i].has_status ? in->buf_status : NULL;
        in->lead = ents[i].has_lead ? in->buf_lead : NULL;
    }
    ag_note *notes = count ? hl_calloc((size_t)count, sizeof *notes) : NULL;
    int ne = count;
    int nn = 0;
    int64_t maxseq = wstore_cursor(a->store);
    int lite = a->columns_only;
    for (int i = 0; i < ne; i++) {
        ag_entry *e = &ents[i];
        if (e->seq > maxseq) maxseq = e->seq;
        if (!e->has_kind || !e->ticket.p) continue;
        int assign = e->assign;
        ag_note *nt = &notes[nn];
        /* Every item carries the ticket as it is now, so of several items
         * of one ticket in a page only the last needs storing; the ones
         * before add their assignments to it. Only for a columns-only UI:
         * a console is shown each item against the version before it. */
        int64_t tid = e->tid;
        int later = 0;
        for (int j = i + 1; lite && j < ne && !later; j++)
            later = ents[j].tid == tid && ents[j].has_kind;
        if (later) {
            hl_strlcpy(nt->kind, e->kind, sizeof nt->kind);
            nt->now.id = tid; /* the stored row is read once the page is in */
            nt->deferred = 1;
            nt->assign = assign;
            nn++;
            continue;
        }
        for (int q = 0; q < nn; q++)
            if (notes[q].deferred == 1 && notes[q].now.id == tid) {
                assign += notes[q].assign;
                notes[q].deferred = 2; /* counted */
            }
        if (lite) {
            /* the upsert returns the stored columns */
            if (e->scanned)
                wstore_ticket_put_text(a->store, &e->in, assign, &nt->now);
            else if (s_put_span(a, e->ticket, assign, &nt->now) != 0)
                continue;
        } else {
            if (e->tid > 0 && wstore_ticket_get(a->store, e->tid, &nt->prev) != 0)
                memset(&nt->prev, 0, sizeof nt->prev);
            if (s_put_span(a, e->ticket, assign, NULL) != 0 ||
                wstore_ticket_get(a->store, e->tid, &nt->now) != 0) {
                wstore_ticket_free(&nt->prev);
                memset(&nt->prev, 0, sizeof nt->prev);
                continue;
            }
        }
        hl_strlcpy(nt->kind, e->kind, sizeof nt->kind);
        nn++;
    }
    free(ents);
    if (count == 0 && last >= 0 && last < after) {
        hl_warn("the dispatcher's feed for %s ends at %lld, before this store's cursor %lld "
                "(was its database replaced?); starting over from there",
                a->unit, (long long)last, (long long)after);
        maxseq = last;
    }
    /* items deferred to a later one of their ticket: the stored row now */
    for (int i = 0; i < nn; i++)
        if (notes[i].deferred) wstore_ticket_head(a->store, notes[i].now.id, &notes[i].now);
    /* a page short of the limit is the end of the feed for now: no need to
     * ask again for an empty one (unless a push came meanwhile) */
    int more = count >= AGENT_INBOX_LIMIT;
    wstore_set_cursor(a->store, maxseq);
    if (!more) wstore_set_last_sync(a->store, hl_now());
    wstore_commit(a->store);
    a->sync_items += nn;
    for (int i = 0; i < nn; i++) {
        if (a->ui.ticket) a->ui.ticket(a, notes[i].kind, &notes[i].now, &notes[i].prev, a->ui_arg);
        wstore_ticket_free(&notes[i].now);
        wstore_ticket_free(&notes[i].prev);
    }
    free(notes);
    if (more || a->sync_again) {
        a->sync_again = 0;
        s_sync_send(a);
        return;
    }
    int items_total = a->sync_items;
    a->sync_items = 0;
    if (a->ui.synced) a->ui.synced(a, items_total, a->ui_arg);
}

static void s_sync_send(agent *a)
{
    if (!sess_is_up(a->sess)) return;
    if (a->syncing) {
        a->sync_again = 1;
        return;
    }
    int64_t after = wstore_cursor(a->store);
    hl_buf_reset(&a->text);
    hl_buf_adds(&a->text, "{\"after\":");
    hl_json_write_int(&a->text, after);
    hl_buf_adds(&a->text, ",\"limit\":");
    hl_json_write_int(&a->text, AGENT_INBOX_LIMIT);
    hl_buf_addc(&a->text, '}');
    if (sess_request_text(a->sess, "inbox", a->text.data, NULL, s_on_inbox, a, after) == 0)
        a->syncing = 1;
    else
        a->sync_again = 1; /* socket busy: the next turn tries again */
}

void agent_sync(agent *a)
{
    s_sync_send(a);
}

int agent_syncing(const agent *a)
{
    return a->syncing;
}

/* ---- session hooks -------------------------------------------------------------- */

static void s_up(sess *s, void *arg)
{
    (void)s;
    agent *a = arg;
    a->syncing = 0;
    a->sync_again = 0;
    a->sync_items = 0;
    a->link = 1;
    if (a->ui.link) a->ui.link(a, 1, NULL, a->ui_arg);
    s_sync_send(a);
    s_pump(a);
}

static void s_down(sess *s, const char *why, void *arg)
{
    (void)s;
    agent *a = arg;
    a->syncing = 0;
    a->sync_items = 0;
    /* every failed attempt ends here; the UI hears of the change only */
    if (a->link == 0) return;
    a->link = 0;
    if (a->ui.link) a->ui.link(a, 0, why, a->ui_arg);
}

static void s_push(sess *s, const hl_reply *rep, void *arg)
{
    (void)s;
    agent *a = arg;
    if (!hl_streq(rep->push, "inbox")) {
        hl_debug("push %s ignored", rep->push);
        return;
    }
    const char *unit = hl_json_str(rep->root, "unit");
    int64_t seq = 0;
    if (unit && strcmp(unit, a->unit) != 0) return;
    if (hl_json_int(rep->root, "seq", &seq) == 0 && seq <= wstore_cursor(a->store)) return;
    s_sync_send(a);
}

static void s_refused(sess *s, const char *code, const char *message, void *arg)
{
    (void)s;
    agent *a = arg;
    if (a->ui.refused) a->ui.refused(a, code, message, a->ui_arg);
}

/* Before the loop waits: make the store durable, then send what waits —
 * in that order, so an idem never leaves before its row is committed. */
static void s_prepare_cb(uv_prepare_t *h)
{
    agent *a = h->data;
    wstore_commit(a->store);
    if (a->sync_again && !a->syncing) {
        a->sync_again = 0;
        s_sync_send(a);
    }
    s_pump(a);
    wstore_commit(a->store);
}

static void s_resync_cb(uv_timer_t *t)
{
    agent *a = t->data;
    if (!a->syncing) s_sync_send(a);
}

/* ---- life cycle ------------------------------------------------------------------- */

agent *agent_new(uv_loop_t *loop, void *zctx, wstore *store, const char *endpoint,
                 const char *unit, const char *client)
{
    agent *a = hl_calloc(1, sizeof *a);
    a->loop = loop;
    a->store = store;
    a->unit = hl_strdup(unit);
    a->link = -1;
    a->open_by_ticket = hl_map_new();
    hl_buf_init(&a->text);
    static const sess_hooks hooks = {s_up, s_down, s_push, s_refused};
    a->sess = sess_new(loop, zctx, endpoint, unit, client, &hooks, a);
    uv_prepare_init(loop, &a->prep);
    uv_timer_init(loop, &a->resync);
    uv_timer_init(loop, &a->retry);
    a->prep.data = a;
    a->resync.data = a;
    a->retry.data = a;
    a->handles = 3;
    return a;
}

void agent_set_columns_only(agent *a, int on)
{
    a->columns_only = on;
}

void agent_set_ui(agent *a, const agent_ui *ui, void *arg)
{
    a->columns_only = 0;
    if (ui)
        a->ui = *ui;
    else
        memset(&a->ui, 0, sizeof a->ui);
    a->ui_arg = arg;
}

void agent_start(agent *a)
{
    wstore_action_each(a->store, (1u << WS_PENDING) | (1u << WS_SENT), s_load_one, a);
    if (a->open) hl_info("%zu action(s) from an earlier run wait to be sent", a->open);
    uv_prepare_start(&a->prep, s_prepare_cb);
    uv_timer_start(&a->resync, s_resync_cb, AGENT_RESYNC_MS, AGENT_RESYNC_MS);
    sess_start(a->sess);
}

static void s_closed(uv_handle_t *h)
{
    agent *a = h->data;
    if (--a->handles == 0) free(a);
}

void agent_destroy(agent **ap)
{
    agent *a = *ap;
    if (!a) return;
    *ap = NULL;
    sess_destroy(&a->sess);
    wstore_commit(a->store);
    for (size_t i = a->qhead; i < a->qlen; i++)
        if (!a->q[i].done) s_item_free(&a->q[i]);
    free(a->q);
    free(a->unit);
    hl_map_destroy(&a->open_by_ticket);
    hl_buf_free(&a->text);
    uv_close((uv_handle_t *)&a->prep, s_closed);
    uv_close((uv_handle_t *)&a->resync, s_closed);
    uv_close((uv_handle_t *)&a->retry, s_closed);
}

wstore *agent_store(agent *a)
{
    return a->store;
}

sess *agent_sess(agent *a)
{
    return a->sess;
}

const char *agent_unit(const agent *a)
{
    return a->unit;
}

int agent_link_up(const agent *a)
{
    return sess_is_up(a->sess);
}

int agent_request(agent *a, const char *op, cJSON *args, sess_reply_fn fn, void *arg)
{
    return sess_request(a->sess, op, args, NULL, fn, arg, 0);
}
