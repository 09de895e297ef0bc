/* agent.c — inbox sync and the outbox pump, between the session and the
 * local store. Owns the in-memory queue of unanswered actions and the loop's
 * "before sleep" hook, which commits the store and only then sends: nothing
 * leaves the process that the store could forget. No SQL, no console. */
#include "agent.h"

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
    char *args; /* JSON object text */
    char *idem;
    char *refusal; /* a forbidden reply's message, while a ping checks the session */
    int retries;      /* "internal" answers so far */
    int64_t retry_at; /* monotonic ms before which it is not sent again */
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

    int link;      /* as last told to the UI: -1 not yet, 0 down, 1 up */
    int syncing;   /* an inbox request is out */
    int sync_again;
    int sync_items;/* items brought by the sync in progress */
};

/* ---- the queue ------------------------------------------------------------- */

static void s_item_free(ag_item *it)
{
    free(it->op);
    free(it->args);
    free(it->idem);
    free(it->refusal);
}

static void s_q_push(agent *a, int64_t n, const char *op, const char *args, const char *idem)
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
    it->args = hl_strdup(args);
    it->idem = hl_strdup(idem);
    a->open++;
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
    s_item_free(it);
    a->open--;
    while (a->qhead < a->qlen && a->q[a->qhead].done) a->qhead++;
    if (a->qhead == a->qlen) a->qhead = a->qlen = 0;
}

/* ---- actions ------------------------------------------------------------------ */

static void s_notify_action(agent *a, int64_t n, const cJSON *result)
{
    if (!a->ui.action) return;
    ws_action act;
    if (wstore_action_get(a->store, n, &act) != 0) return;
    a->ui.action(a, &act, result, a->ui_arg);
    wstore_action_free(&act);
}

static void s_pump(agent *a);

static void s_on_verify(sess *s, const hl_reply *rep, void *arg, int64_t n);

static void s_retry_cb(uv_timer_t *t)
{
    (void)t;
}

static void s_refuse(agent *a, ag_item *it, const char *code, const char *message)
{
    wstore_action_set_state(a->store, it->n, WS_REFUSED, code, message);
    int64_t n = it->n;
    s_q_done(a, it);
    wstore_commit(a->store);
    hl_info("action %lld refused by the dispatcher: %s: %s", (long long)n, code, message);
    s_notify_action(a, n, NULL);
}

static void s_on_action(sess *s, const hl_reply *rep, void *arg, int64_t n)
{
    agent *a = arg;
    ag_item *it = s_q_find(a, n);
    if (!it) return;
    if (!rep) { /* the link went down first: it goes again, with the same idem */
        if (it->inflight) a->inflight--;
        it->inflight = 0;
        return;
    }
    if (rep->ok) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(rep->root, "ticket");
        if (cJSON_IsObject(t)) wstore_ticket_put(a->store, t, 0, NULL);
        wstore_action_set_state(a->store, n, WS_DONE, NULL, NULL);
        s_q_done(a, it);
        /* a person sees "done" only once it is saved; a UI that shows
         * nobody anything has the loop's before-sleep hook commit it with
         * the rest of the turn (a lost "done" resends with the same idem) */
        if (!a->columns_only) wstore_commit(a->store);
        s_notify_action(a, n, rep->root);
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
        if (it->inflight) a->inflight--;
        it->inflight = 0;
        return;
    }
    if (rep->err == HL_E_INTERNAL && it->retries < AGENT_RETRIES) {
        it->retries++;
        if (it->inflight) a->inflight--;
        it->inflight = 0;
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

static void s_on_verify(sess *s, const hl_reply *rep, void *arg, int64_t n)
{
    agent *a = arg;
    ag_item *it = s_q_find(a, n);
    if (!it) return;
    if (rep && rep->ok) {
        char *message = it->refusal;
        it->refusal = NULL;
        s_refuse(a, it, "forbidden", message ? message : "");
        free(message);
        return;
    }
    if (it->inflight) a->inflight--;
    it->inflight = 0;
    if (rep) sess_drop(s, "the dispatcher no longer knows this session");
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
        cJSON *args = cJSON_Parse(it->args ? it->args : "{}");
        if (!args) args = cJSON_CreateObject();
        if (sess_request(a->sess, it->op, args, it->idem, s_on_action, a, it->n) != 0)
            break; /* would block: keep the order, try again on the next turn */
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
    s_q_push(a, act->n, act->op, act->args, act->idem);
    return 0;
}

int64_t agent_act(agent *a, const char *op, int64_t ticket, const char *ref, cJSON *args)
{
    int64_t n = wstore_action_add(a->store, op, ticket, ref, args);
    ws_action act;
    if (wstore_action_get(a->store, n, &act) == 0) {
        s_q_push(a, n, act.op, act.args, act.idem);
        wstore_action_free(&act);
    }
    return n;
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

static void s_sync_send(agent *a);

static void s_on_inbox(sess *s, const hl_reply *rep, void *arg, int64_t after)
{
    (void)s;
    agent *a = arg;
    a->syncing = 0;
    if (!rep) return; /* link down: the next connect syncs again */
    if (!rep->ok) {
        hl_warn("inbox refused by the dispatcher: %s: %s", rep->code, rep->message);
        return;
    }
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(rep->root, "items");
    int64_t last = -1;
    hl_json_int(rep->root, "last", &last);
    int count = cJSON_IsArray(items) ? cJSON_GetArraySize(items) : 0;
    ag_note *notes = count ? hl_calloc((size_t)count, sizeof *notes) : NULL;
    int nn = 0;
    int64_t maxseq = wstore_cursor(a->store);
    int lite = a->columns_only;
    const cJSON *item;
    cJSON_ArrayForEach(item, items)
    {
        int64_t seq = 0;
        hl_json_int(item, "seq", &seq);
        const char *kind = hl_json_str(item, "kind");
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(item, "ticket");
        if (seq > maxseq) maxseq = seq;
        if (!kind || !cJSON_IsObject(t)) continue;
        int assign = strcmp(kind, "assigned") == 0 || strcmp(kind, "reopened") == 0;
        ag_note *nt = &notes[nn];
        /* Every item carries the ticket as it is now, so of several items
         * of one ticket in a page only the last needs storing; the ones
         * before add their assignments to it. Only for a columns-only UI:
         * a console is shown each item against the version before it. */
        int64_t tid = 0;
        hl_json_int(t, "id", &tid);
        int later = 0;
        for (const cJSON *n = item->next; lite && n && !later; n = n->next) {
            int64_t nid = 0;
            hl_json_int(cJSON_GetObjectItemCaseSensitive(n, "ticket"), "id", &nid);
            later = nid == tid && hl_json_str(n, "kind");
        }
        if (later) {
            hl_strlcpy(nt->kind, kind, sizeof nt->kind);
            nt->now.id = tid; /* the stored row is read once the page is in */
            nt->deferred = 1;
            nt->assign = assign;
            nn++;
            continue;
        }
        for (int k = 0; k < nn; k++)
            if (notes[k].deferred == 1 && notes[k].now.id == tid) {
                assign += notes[k].assign;
                notes[k].deferred = 2; /* counted */
            }
        if (wstore_ticket_put(a->store, t, assign, lite ? NULL : &nt->prev) != 0) continue;
        int64_t id = 0;
        hl_json_int(t, "id", &id);
        if ((lite ? wstore_ticket_head(a->store, id, &nt->now)
                  : wstore_ticket_get(a->store, id, &nt->now)) != 0) {
            wstore_ticket_free(&nt->prev);
            continue;
        }
        hl_strlcpy(nt->kind, kind, sizeof nt->kind);
        nn++;
    }
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
    cJSON *args = cJSON_CreateObject();
    cJSON_AddNumberToObject(args, "after", (double)after);
    cJSON_AddNumberToObject(args, "limit", AGENT_INBOX_LIMIT);
    if (sess_request(a->sess, "inbox", args, NULL, s_on_inbox, a, after) == 0)
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
