/* core.c — what every request means: sessions and roles (DESIGN §8), the
 * ticket state machine (§4), repeat calls, idempotency, units' feeds and
 * the event log. Writes only through store.h and hands its output back to
 * the caller; must not touch sockets or send anything itself. */
#include "core.h"

#include "assess.h"
#include "deadline.h"
#include "route.h"
#include "ticket.h"

#include "hotline/map.h"
#include "hotline/proto.h"
#include "hotline/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct core {
    const hl_config *cfg;
    store *st;
    hl_map *sessions;
    core_session **workers;     /* per unit: its worker sessions */
    unsigned char *online;      /* per unit: announced online */
    unsigned char *online_save; /* at core_begin */
    int secure;                 /* CURVE: sessions belong to keys */
    int defer;                  /* long reads become jobs for another thread (core_job) */
    hl_ms wake;                 /* the earliest next_check written in this batch */
    char err[600];
};

/* One request being handled. */
typedef struct req_ctx {
    core *c;
    const hl_config *cfg;
    store *st;
    core_session *s;
    const core_principal *who; /* secure mode: the key's principal */
    hl_request *req;
    const cJSON *args;
    hl_ms now;
    char actor[300];
    char msg[1024];
    cJSON *result;
    core_outq *out;
    size_t out_start;
    char note[400]; /* a note an op composes for its event */
    core_job *job;  /* the read the reply waits for, when deferred */
} req_ctx;

/* ---- output queue ------------------------------------------------------------ */

void core_outq_init(core_outq *q)
{
    memset(q, 0, sizeof *q);
}

static void s_out_add(core_outq *q, core_out_kind kind, int unit, char *topic, char *text)
{
    if (q->n == q->cap) {
        q->cap = q->cap ? q->cap * 2 : 64;
        q->items = hl_realloc(q->items, q->cap * sizeof *q->items);
    }
    q->items[q->n++] = (core_out){kind, unit, topic, text};
}

void core_outq_truncate(core_outq *q, size_t n)
{
    for (size_t i = n; i < q->n; i++) {
        free(q->items[i].topic);
        free(q->items[i].text);
    }
    if (n < q->n) q->n = n;
}

void core_outq_free(core_outq *q)
{
    core_outq_truncate(q, 0);
    free(q->items);
    core_outq_init(q);
}

void core_reply_free(core_reply *r)
{
    core_job_free(r->job);
    free(r->text);
    free(r->re);
    memset(r, 0, sizeof *r);
}

/* ---- core ------------------------------------------------------------------------- */

core *core_new(const hl_config *cfg, store *st)
{
    core *c = hl_calloc(1, sizeof *c);
    c->cfg = cfg;
    c->st = st;
    c->sessions = hl_map_new();
    c->workers = hl_calloc((size_t)cfg->nunits + 1, sizeof *c->workers);
    c->online = hl_calloc((size_t)cfg->nunits + 1, 1);
    c->online_save = hl_calloc((size_t)cfg->nunits + 1, 1);
    return c;
}

static void s_session_free(core_session *s)
{
    free(s->key);
    free(s);
}

void core_destroy(core **cp)
{
    core *c = *cp;
    if (!c) return;
    *cp = NULL;
    size_t pos = 0;
    const void *k;
    size_t kl;
    void *v;
    while (hl_map_next(c->sessions, &pos, &k, &kl, &v))
        s_session_free(v);
    hl_map_destroy(&c->sessions);
    free(c->workers);
    free(c->online);
    free(c->online_save);
    free(c);
}

const char *core_errmsg(const core *c)
{
    return c->err[0] ? c->err : "no error";
}

int core_begin(core *c)
{
    memcpy(c->online_save, c->online, (size_t)c->cfg->nunits);
    c->wake = 0;
    if (store_begin(c->st) != STORE_OK) {
        snprintf(c->err, sizeof c->err, "%s", store_errmsg(c->st));
        return -1;
    }
    return 0;
}

int core_commit(core *c)
{
    if (store_commit(c->st) == STORE_OK) return 0;
    snprintf(c->err, sizeof c->err, "%s", store_errmsg(c->st));
    /* what was announced in this batch was never published */
    memcpy(c->online, c->online_save, (size_t)c->cfg->nunits);
    return -1;
}

void core_rollback(core *c)
{
    store_rollback(c->st);
    memcpy(c->online, c->online_save, (size_t)c->cfg->nunits);
}

void core_idle(core *c)
{
    store_checkpoint_idle(c->st);
}

/* ---- sessions ------------------------------------------------------------------------ */

static void s_unlink_worker(core *c, core_session *s)
{
    if (s->role != HL_ROLE_WORKER || s->unit < 0) return;
    if (s->prev)
        s->prev->next = s->next;
    else
        c->workers[s->unit] = s->next;
    if (s->next) s->next->prev = s->prev;
    s->prev = s->next = NULL;
}

static void s_link_worker(core *c, core_session *s)
{
    if (s->role != HL_ROLE_WORKER || s->unit < 0) return;
    s->prev = NULL;
    s->next = c->workers[s->unit];
    if (s->next) s->next->prev = s;
    c->workers[s->unit] = s;
}

static void s_session_drop(core *c, core_session *s)
{
    s_unlink_worker(c, s);
    hl_map_del(c->sessions, s->key, s->keylen);
    s_session_free(s);
}

static int s_cmp_ms(const void *a, const void *b)
{
    hl_ms x = *(const hl_ms *)a, y = *(const hl_ms *)b;
    return x < y ? -1 : x > y;
}

/* Keep the session table bounded: drop the tenth heard from least recently. */
static void s_sessions_evict(core *c)
{
    size_t n = hl_map_size(c->sessions), i = 0, pos = 0;
    hl_ms *seen = hl_malloc(n * sizeof *seen);
    core_session **all = hl_malloc(n * sizeof *all);
    const void *k;
    size_t kl;
    void *v;
    while (i < n && hl_map_next(c->sessions, &pos, &k, &kl, &v)) {
        all[i] = v;
        seen[i] = all[i]->last_seen;
        i++;
    }
    qsort(seen, i, sizeof *seen, s_cmp_ms);
    hl_ms cut = seen[i / 10];
    size_t dropped = 0;
    for (size_t j = 0; j < i && dropped < i / 10 + 1; j++) {
        if (all[j]->last_seen <= cut) {
            s_session_drop(c, all[j]);
            dropped++;
        }
    }
    hl_warn("%zu sessions: forgot the %zu heard from least recently", n, dropped);
    free(seen);
    free(all);
}

static core_session *s_session(core *c, const void *peer, size_t len)
{
    return hl_map_get(c->sessions, peer, len);
}

static core_session *s_session_new(core *c, const void *peer, size_t len)
{
    if (hl_map_size(c->sessions) >= CORE_MAX_SESSIONS) s_sessions_evict(c);
    core_session *s = hl_calloc(1, sizeof *s);
    s->key = hl_malloc(len ? len : 1);
    memcpy(s->key, peer, len);
    s->keylen = len;
    s->unit = -1;
    hl_map_put(c->sessions, peer, len, s);
    return s;
}

void core_forget(core *c, const void *peer, size_t peerlen)
{
    core_session *s = s_session(c, peer, peerlen);
    if (s) s_session_drop(c, s);
}

core_session *core_unit_workers(core *c, int unit)
{
    return unit >= 0 && unit < c->cfg->nunits ? c->workers[unit] : NULL;
}

static int s_live_workers(core *c, int unit, hl_ms now, hl_ms *last)
{
    hl_ms window = 3 * c->cfg->dispatcher.heartbeat_ms;
    int n = 0;
    if (last) *last = 0;
    for (core_session *s = c->workers[unit]; s; s = s->next) {
        if (now - s->last_seen <= window) n++;
        if (last && s->last_seen > *last) *last = s->last_seen;
    }
    return n;
}

/* ---- events and feeds --------------------------------------------------------------------- */

static void s_actor(req_ctx *x)
{
    core_session *s = x->s;
    if (!s) {
        snprintf(x->actor, sizeof x->actor, "system");
    } else if (s->role == HL_ROLE_WORKER) {
        snprintf(x->actor, sizeof x->actor, "worker:%s", x->cfg->units[s->unit].id);
    } else if (s->client[0]) {
        snprintf(x->actor, sizeof x->actor, "%s:%s", hl_role_name(s->role), s->client);
    } else {
        snprintf(x->actor, sizeof x->actor, "%s", hl_role_name(s->role));
    }
}

/* Append an event to the log and queue it for publishing. body is the
 * text of the event's members after seq and time (no braces; may be ""). */
static int s_publish_text(core *c, core_outq *out, int64_t ticket_id, const char *kind,
                          const char *topic, const char *actor, const char *from, const char *to,
                          const char *unit, const char *note, const char *body, size_t bodylen,
                          hl_ms now)
{
    store_event ev = {
        .seq = store_event_next_seq(c->st),
        .ticket_id = ticket_id,
        .time = now,
        .kind = kind,
        .topic = topic,
        .actor = actor,
        .from = from,
        .to = to,
        .unit = unit,
        .note = note,
    };
    /* seq goes first in the published object */
    hl_buf b;
    hl_buf_init(&b);
    hl_buf_adds(&b, "{\"seq\":");
    hl_json_write_int(&b, ev.seq);
    hl_buf_adds(&b, ",\"time\":");
    hl_json_write_time(&b, now);
    if (bodylen) {
        hl_buf_addc(&b, ',');
        hl_buf_add(&b, body, bodylen);
    }
    hl_buf_addc(&b, '}');
    char *text = hl_buf_steal(&b);
    ev.json = text;
    if (store_event_append(c->st, &ev) != STORE_OK) {
        free(text);
        return -1;
    }
    s_out_add(out, CORE_OUT_EVENT, -1, hl_strdup(topic), text);
    return 0;
}

/* The same with the members in a JSON object (consumed). */
static int s_publish(core *c, core_outq *out, int64_t ticket_id, const char *kind,
                     const char *topic, const char *actor, const char *from, const char *to,
                     const char *unit, const char *note, cJSON *json, hl_ms now)
{
    char *members = hl_json_print(json);
    cJSON_Delete(json);
    size_t len = strlen(members);
    int rc = s_publish_text(c, out, ticket_id, kind, topic, actor, from, to, unit, note,
                            members + 1, len >= 2 ? len - 2 : 0, now);
    free(members);
    return rc;
}

/* A ticket event: ticket.<kind>.<unit|->. Written as text: it is on the
 * path of every change. */
static int s_event(req_ctx *x, const ticket *t, const char *kind, int from, const char *unit,
                   const char *note, const char *actor)
{
    char topic[160];
    snprintf(topic, sizeof topic, "ticket.%s.%s", kind, unit ? unit : "-");
    if (!actor) actor = x->actor;
    hl_buf b;
    hl_buf_init(&b);
    hl_buf_adds(&b, "\"kind\":");
    hl_json_write_str(&b, kind);
    hl_buf_adds(&b, ",\"actor\":");
    hl_json_write_str(&b, actor);
    if (note) {
        hl_buf_adds(&b, ",\"note\":");
        hl_json_write_str(&b, note);
    }
    hl_buf_adds(&b, ",\"ticket\":");
    ticket_json_brief_write(t, &b);
    int rc = s_publish_text(x->c, x->out, t->id, kind, topic, actor,
                            from >= 0 ? ticket_status_name((ticket_status)from) : NULL,
                            ticket_status_name(t->status), unit, note, b.data, b.len, x->now);
    hl_buf_free(&b);
    return rc;
}

/* A unit event: unit.online.<unit> or unit.offline.<unit>. */
static int s_unit_event(core *c, core_outq *out, int unit, int online, const char *actor, hl_ms now)
{
    const char *kind = online ? "online" : "offline";
    const char *id = c->cfg->units[unit].id;
    char topic[160];
    snprintf(topic, sizeof topic, "unit.%s.%s", kind, id);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "kind", kind);
    cJSON_AddStringToObject(o, "unit", id);
    hl_json_add_int(o, "workers", s_live_workers(c, unit, now, NULL));
    return s_publish(c, out, 0, kind, topic, actor, NULL, NULL, id, NULL, o, now);
}

/* Add an item to a unit's feed and queue one push per unit per request. */
static int s_feed(req_ctx *x, const char *unit, const char *kind, int64_t ticket_id)
{
    int64_t seq;
    if (store_feed_add(x->st, unit, kind, ticket_id, x->now, &seq) != STORE_OK) return -1;
    int u = hl_config_unit(x->cfg, unit);
    if (u < 0) return 0;
    /* {"v":1,"push":"inbox","unit":…,"seq":…}, as hl_push_build prints it */
    hl_buf b;
    hl_buf_init(&b);
    hl_buf_adds(&b, "{\"v\":1,\"push\":\"inbox\",\"unit\":");
    hl_json_write_str(&b, unit);
    hl_buf_adds(&b, ",\"seq\":");
    hl_json_write_int(&b, seq);
    hl_buf_addc(&b, '}');
    char *text = hl_buf_steal(&b);
    for (size_t i = x->out_start; i < x->out->n; i++) {
        core_out *o = &x->out->items[i];
        if (o->kind == CORE_OUT_PUSH && o->unit == u) {
            free(o->text);
            o->text = text;
            return 0;
        }
    }
    s_out_add(x->out, CORE_OUT_PUSH, u, NULL, text);
    return 0;
}

/* Who a ticket involved before a change. */
typedef struct rel {
    char *lead;
    char **co;
    int nco;
} rel;

static void s_rel_save(rel *r, const ticket *t)
{
    r->lead = t->lead ? hl_strdup(t->lead) : NULL;
    r->nco = t->nco;
    r->co = t->nco ? hl_calloc((size_t)t->nco, sizeof(char *)) : NULL;
    for (int i = 0; i < t->nco; i++)
        r->co[i] = hl_strdup(t->co[i]);
}

static void s_rel_free(rel *r)
{
    free(r->lead);
    for (int i = 0; i < r->nco; i++)
        free(r->co[i]);
    free(r->co);
    memset(r, 0, sizeof *r);
}

static int s_rel_of(const char *lead, char *const *co, int nco, const char *unit)
{
    if (lead && strcmp(lead, unit) == 0) return 2;
    for (int i = 0; i < nco; i++)
        if (strcmp(co[i], unit) == 0) return 1;
    return 0;
}

/* Feed every unit the change concerns: a unit that joins the ticket or
 * changes role on it gets "assigned", one that leaves it "revoked", one
 * that stays gets lead_kind (the lead) or "changed" (a co unit). With
 * revoke_all every unit involved before gets "revoked". */
static int s_feed_change(req_ctx *x, const ticket *t, const rel *old, const char *lead_kind,
                         int revoke_all)
{
    const char *units[2 + 64];
    int n = 0;
    if (t->lead) units[n++] = t->lead;
    for (int i = 0; i < t->nco && n < 33; i++)
        units[n++] = t->co[i];
    if (old->lead) units[n++] = old->lead;
    for (int i = 0; i < old->nco && n < 66; i++)
        units[n++] = old->co[i];
    for (int i = 0; i < n; i++) {
        int dup = 0;
        for (int k = 0; k < i && !dup; k++)
            dup = strcmp(units[k], units[i]) == 0;
        if (dup) continue;
        int before = s_rel_of(old->lead, old->co, old->nco, units[i]);
        int after = revoke_all ? 0 : s_rel_of(t->lead, t->co, t->nco, units[i]);
        const char *kind;
        if (after == 0)
            kind = "revoked";
        else if (before != after)
            kind = "assigned";
        else
            kind = after == 2 ? lead_kind : "changed";
        if (s_feed(x, units[i], kind, t->id) != 0) return -1;
    }
    return 0;
}

/* ---- helpers for ops ---------------------------------------------------------------------------
 */

HL_PRINTF(3, 4)
static hl_err s_fail(req_ctx *x, hl_err e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->msg, sizeof x->msg, fmt, ap);
    va_end(ap);
    return e;
}

static hl_err s_internal(req_ctx *x)
{
    return s_fail(x, HL_E_INTERNAL, "the database failed: %s; nothing was applied",
                  store_errmsg(x->st));
}

static const char *s_unit_id(req_ctx *x)
{
    return x->s && x->s->unit >= 0 ? x->cfg->units[x->s->unit].id : NULL;
}

static int s_is_worker(req_ctx *x)
{
    return x->s->role == HL_ROLE_WORKER;
}

static int s_is_lead(req_ctx *x, const ticket *t)
{
    return s_is_worker(x) && t->lead && hl_streq(t->lead, s_unit_id(x));
}

static int s_is_member(req_ctx *x, const ticket *t)
{
    return s_is_lead(x, t) || (s_is_worker(x) && ticket_has_co(t, s_unit_id(x)));
}

static int s_can_read(req_ctx *x, const ticket *t)
{
    return !s_is_worker(x) || s_is_member(x, t);
}

/* "triage, dispatched or accepted" */
static void s_status_list(unsigned set, char *buf, size_t size)
{
    int n = 0, total = 0;
    for (int i = 0; i < TS__COUNT; i++)
        total += (set & TS_BIT(i)) != 0;
    buf[0] = '\0';
    for (int i = 0; i < TS__COUNT; i++) {
        if (!(set & TS_BIT(i))) continue;
        size_t len = strlen(buf);
        snprintf(buf + len, size - len, "%s%s",
                 n == 0           ? ""
                 : n == total - 1 ? " or "
                                  : ", ",
                 ticket_status_name((ticket_status)i));
        n++;
    }
}

static hl_err s_need(req_ctx *x, const ticket *t, unsigned allowed)
{
    if (allowed & TS_BIT(t->status)) return HL_OK;
    char list[120];
    s_status_list(allowed, list, sizeof list);
    return s_fail(x, HL_E_CONFLICT, "ticket %s is %s; %s needs status %s", t->no,
                  ticket_status_name(t->status), x->req->op, list);
}

static hl_err s_need_lead(req_ctx *x, const ticket *t)
{
    if (s_is_lead(x, t)) return HL_OK;
    if (!t->lead)
        return s_fail(x, HL_E_FORBIDDEN,
                      "ticket %s is %s and led by no unit; only a worker of its lead unit may "
                      "%s it",
                      t->no, ticket_status_name(t->status), x->req->op);
    return s_fail(x, HL_E_FORBIDDEN, "ticket %s is led by %s; only a worker of that unit may %s it",
                  t->no, t->lead, x->req->op);
}

/* Load the ticket named by argument name (an id or a number). */
static hl_err s_load(req_ctx *x, const char *name, ticket *t)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(x->args, name);
    int rc;
    char shown[40];
    if (cJSON_IsNumber(v)) {
        rc = store_ticket_get(x->st, (int64_t)v->valuedouble, t);
        snprintf(shown, sizeof shown, "%lld", (long long)v->valuedouble);
    } else if (cJSON_IsString(v)) {
        rc = store_ticket_by_no(x->st, v->valuestring, t);
        hl_strlcpy(shown, v->valuestring, sizeof shown);
    } else {
        return s_fail(x, HL_E_BAD_REQUEST, "%s: must be a ticket id or number", name);
    }
    if (rc == STORE_NONE)
        return s_fail(x, HL_E_NOT_FOUND,
                      "no ticket %s (%s takes a ticket id or a number such "
                      "as 20261127-000017)",
                      shown, name);
    if (rc != STORE_OK) return s_internal(x);
    return HL_OK;
}

static const char *s_arg_str(req_ctx *x, const char *name)
{
    const char *s = hl_json_str(x->args, name);
    return s && *s ? s : NULL;
}

static hl_err s_unknown_unit(req_ctx *x, const char *path, const char *id)
{
    char shown[80];
    hl_strlcpy(shown, id, sizeof shown);
    return s_fail(x, HL_E_UNKNOWN_UNIT, "%s: no unit \"%s\" in this city; ask `units` for the ids",
                  path, shown);
}

/* The SLA of a ticket: its category's override over its urgency's. */
static hl_sla s_sla(const hl_config *cfg, const ticket *t)
{
    return hl_config_sla(cfg, hl_config_category(cfg, t->category), t->urgency);
}

/* The SLA deadlines of a dispatch at now. */
static void s_dues(req_ctx *x, ticket *t)
{
    hl_sla sla = s_sla(x->cfg, t);
    t->sign_due = hl_cal_add(x->cfg->calendar, x->now, &sla.sign, 1.0);
    t->finish_due = hl_cal_add(x->cfg->calendar, x->now, &sla.finish, 1.0);
}

/* Where dispatch d of ticket t stands for the deadline engine, with t as
 * it is after the change at hand. The sign stage is open while t waits in
 * dispatched; the finish stage while t is dispatched or accepted and not
 * resolved; neither once the dispatch has ended. */
static void s_dl_state(const hl_config *cfg, const ticket *t, const store_dispatch *d,
                       deadline_state *ds)
{
    hl_sla sla = s_sla(cfg, t);
    memset(ds, 0, sizeof *ds);
    ds->stage[DL_SIGN] = (deadline_stage){d->dispatched_at, d->sign_due, sla.sign, 0, sla.warn};
    ds->stage[DL_FINISH] =
        (deadline_stage){d->dispatched_at, d->finish_due, sla.finish, d->extensions > 0, sla.warn};
    int current = d->ended_at == 0 && t->lead;
    ds->open[DL_SIGN] = current && t->status == TS_DISPATCHED && !d->signed_at && d->sign_due;
    ds->open[DL_FINISH] = current && (t->status == TS_DISPATCHED || t->status == TS_ACCEPTED) &&
                          !d->resolved_at && d->finish_due;
    ds->step[DL_SIGN] = d->sign_step;
    ds->step[DL_FINISH] = d->finish_step;
    ds->nsteps = deadline_steps(cfg, hl_config_unit(cfg, t->lead));
}

/* The next threshold of dispatch d of t (0: none). */
static hl_ms s_dl_next(const hl_config *cfg, const ticket *t, const store_dispatch *d)
{
    deadline_state ds;
    s_dl_state(cfg, t, d, &ds);
    return deadline_next(cfg->calendar, &ds, NULL);
}

/* A next_check written in this batch: the timer may have to fire earlier. */
static void s_wake(core *c, hl_ms at)
{
    if (at && (!c->wake || at < c->wake)) c->wake = at;
}

/* Start a new dispatch of t to its lead: a new row, fresh deadlines. */
static int s_dispatch_open(req_ctx *x, ticket *t)
{
    t->status = TS_DISPATCHED;
    t->dispatched_at = x->now;
    t->signed_at = 0;
    t->resolved_at = 0;
    s_dues(x, t);
    ticket_set(&t->escalated_to, NULL);
    t->ext_state = TEXT_NONE;
    t->ext_until = 0;
    ticket_set(&t->ext_reason, NULL);
    t->ext_count = 0;
    store_dispatch d = {.ticket_id = t->id,
                        .unit = t->lead,
                        .dispatched_at = t->dispatched_at,
                        .sign_due = t->sign_due,
                        .finish_due = t->finish_due,
                        .finish_due0 = t->finish_due};
    d.next_check = s_dl_next(x->cfg, t, &d);
    s_wake(x->c, d.next_check);
    return store_dispatch_open(x->st, &d, &t->dispatch_id);
}

static int s_dispatch_end(req_ctx *x, ticket *t, const char *reason)
{
    if (!t->dispatch_id) return 0;
    int rc = store_dispatch_end(x->st, t->dispatch_id, x->now, reason);
    t->dispatch_id = 0;
    return rc;
}

static void s_result_ticket(req_ctx *x, const ticket *t)
{
    cJSON_AddItemToObject(x->result, "ticket", ticket_json_raw(t, x->cfg));
}

/* ---- session ops
 * ------------------------------------------------------------------------------------ */

/* "worker of zc.jiayue (贾悦镇工作站)", "operator", for messages. */
static void s_principal_text(const hl_config *cfg, int role, int unit, const char *name, char *buf,
                             size_t size)
{
    int n = snprintf(buf, size, "%s", hl_role_name(role));
    if (unit >= 0 && n >= 0 && (size_t)n < size)
        n += snprintf(buf + n, size - (size_t)n, " of %s", cfg->units[unit].id);
    if (name && *name && n >= 0 && (size_t)n < size)
        snprintf(buf + n, size - (size_t)n, " (%s)", name);
}

static hl_err s_op_hello(req_ctx *x, const void *peer, size_t peerlen)
{
    int role = hl_role_parse(s_arg_str(x, "role"));
    const char *unit = s_arg_str(x, "unit");
    const char *client = hl_json_str(x->args, "client");
    int u = -1;
    if (role == HL_ROLE_WORKER && !unit)
        return s_fail(x, HL_E_BAD_REQUEST, "unit: a worker must name its unit");
    if (unit && (u = hl_config_unit(x->cfg, unit)) < 0) return s_unknown_unit(x, "unit", unit);
    const core_principal *who = x->c->secure ? x->who : NULL;
    if (who && (role != who->role || (unit && u != who->unit))) {
        char has[200], asked[200];
        s_principal_text(x->cfg, who->role, who->unit, who->name, has, sizeof has);
        s_principal_text(x->cfg, role, u, NULL, asked, sizeof asked);
        return s_fail(x, HL_E_FORBIDDEN,
                      "this key belongs to %s; it cannot say hello as %s (use the key issued "
                      "for that role and unit)",
                      has, asked);
    }
    core_session *s = s_session(x->c, peer, peerlen);
    if (!s) s = s_session_new(x->c, peer, peerlen);
    s_unlink_worker(x->c, s);
    s->role = role;
    s->unit = who ? who->unit : u;
    /* in secure mode the keys file names the actor, not what hello claims */
    if (who && who->name && *who->name) client = who->name;
    hl_strlcpy(s->client, client ? client : "", sizeof s->client);
    hl_strlcpy(s->curve_key, who ? who->key : "", sizeof s->curve_key);
    s->last_seen = x->now;
    s_link_worker(x->c, s);
    x->s = s;
    s_actor(x);
    cJSON_AddStringToObject(x->result, "server", "hotline/" HL_VERSION);
    hl_json_add_int(x->result, "heartbeat_ms", x->cfg->dispatcher.heartbeat_ms);
    hl_json_add_time(x->result, "time", x->now);
    return HL_OK;
}

static hl_err s_op_ping(req_ctx *x)
{
    hl_json_add_time(x->result, "time", x->now);
    return HL_OK;
}

static hl_err s_op_units(req_ctx *x)
{
    cJSON *arr = cJSON_AddArrayToObject(x->result, "units");
    for (int i = 0; i < x->cfg->nunits; i++) {
        const hl_unit *u = &x->cfg->units[i];
        hl_ms last;
        int n = s_live_workers(x->c, i, x->now, &last);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "id", u->id);
        cJSON_AddStringToObject(o, "name", u->name);
        cJSON_AddStringToObject(o, "level", hl_level_name(u->level));
        hl_json_add_str(o, "parent", u->parent >= 0 ? x->cfg->units[u->parent].id : NULL);
        cJSON_AddBoolToObject(o, "online", n > 0);
        hl_json_add_int(o, "workers", n);
        hl_json_add_time(o, "last_seen", last);
        cJSON_AddItemToArray(arr, o);
    }
    return HL_OK;
}

/* ---- reading
 * ------------------------------------------------------------------------------------------ */

static void s_history_cb(const store_event *ev, void *arg)
{
    cJSON *o = cJSON_CreateObject();
    hl_json_add_int(o, "seq", ev->seq);
    hl_json_add_time(o, "time", ev->time);
    hl_json_add_str(o, "kind", ev->kind);
    hl_json_add_str(o, "actor", ev->actor);
    hl_json_add_str(o, "from", ev->from);
    hl_json_add_str(o, "to", ev->to);
    hl_json_add_str(o, "note", ev->note);
    cJSON_AddItemToArray(arg, o);
}

static hl_err s_op_get(req_ctx *x)
{
    ticket t = {0};
    hl_err e = s_load(x, "ticket", &t);
    if (e == HL_OK && !s_can_read(x, &t))
        e = s_fail(x, HL_E_FORBIDDEN,
                   "ticket %s is neither led nor co-handled by %s; a worker reads only its "
                   "unit's tickets",
                   t.no, s_unit_id(x));
    if (e == HL_OK) {
        cJSON *tj = ticket_json(&t, x->cfg);
        cJSON *events = cJSON_AddArrayToObject(tj, "events");
        if (store_ticket_history(x->st, t.id, s_history_cb, events) != STORE_OK) {
            cJSON_Delete(tj);
            e = s_internal(x);
        } else {
            cJSON_AddItemToObject(x->result, "ticket", tj);
        }
    }
    ticket_clear(&t);
    return e;
}

typedef struct list_acc {
    req_ctx *x;
    cJSON *arr;
    int n, limit;
    int64_t last_id;
    int more;
} list_acc;

static void s_list_cb(const ticket *t, void *arg)
{
    list_acc *a = arg;
    if (a->n >= a->limit) {
        a->more = 1;
        return;
    }
    cJSON_AddItemToArray(a->arr, ticket_json_raw(t, a->x->cfg));
    a->last_id = t->id;
    a->n++;
}

static hl_err s_op_list(req_ctx *x)
{
    store_filter f = {0};
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(x->args, "status");
    const cJSON *it;
    cJSON_ArrayForEach(it, st)
    {
        int s = ticket_status_parse(it->valuestring);
        if (s >= 0) f.statuses |= TS_BIT(s);
    }
    const char *unit = s_arg_str(x, "unit");
    if (unit && hl_config_unit(x->cfg, unit) < 0) return s_unknown_unit(x, "unit", unit);
    if (s_is_worker(x)) {
        if (unit && strcmp(unit, s_unit_id(x)) != 0)
            return s_fail(x, HL_E_FORBIDDEN, "a worker of %s lists only its own unit's tickets",
                          s_unit_id(x));
        f.member = s_unit_id(x);
    }
    f.lead = unit;
    f.phone = s_arg_str(x, "phone");
    int b;
    if (hl_json_bool(x->args, "overdue", &b) == 0) f.overdue = b;
    f.now = x->now;
    const char *flag = s_arg_str(x, "flag");
    f.yellow = hl_streq(flag, "yellow");
    f.red = hl_streq(flag, "red");
    int64_t v;
    int limit = hl_json_int(x->args, "limit", &v) == 0 ? (int)v : 100;
    if (hl_json_int(x->args, "after", &v) == 0) f.before = v;
    f.limit = limit + 1;
    list_acc a = {x, cJSON_AddArrayToObject(x->result, "tickets"), 0, limit, 0, 0};
    if (store_ticket_list(x->st, &f, s_list_cb, &a) != STORE_OK) return s_internal(x);
    if (a.more)
        hl_json_add_int(x->result, "next", a.last_id);
    else
        cJSON_AddNullToObject(x->result, "next");
    return HL_OK;
}

typedef struct events_acc {
    cJSON *arr;
    int64_t last;
} events_acc;

static void s_events_cb(int64_t seq, const char *topic, const char *json, void *arg)
{
    events_acc *a = arg;
    cJSON *o = cJSON_Parse(json ? json : "");
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        o = cJSON_CreateObject();
        hl_json_add_int(o, "seq", seq);
    }
    cJSON_AddStringToObject(o, "topic", topic ? topic : "");
    cJSON_AddItemToArray(a->arr, o);
    a->last = seq;
}

static hl_err s_op_events(req_ctx *x)
{
    int64_t after = 0, limit = 100;
    hl_json_int(x->args, "after", &after);
    hl_json_int(x->args, "limit", &limit);
    events_acc a = {cJSON_AddArrayToObject(x->result, "events"), after};
    if (store_events_after(x->st, after, (int)limit, s_events_cb, &a) != STORE_OK)
        return s_internal(x);
    hl_json_add_int(x->result, "last", a.last);
    return HL_OK;
}

typedef struct feed_item {
    int64_t seq;
    char kind[16];
    int64_t ticket_id;
} feed_item;

typedef struct inbox_acc {
    feed_item *items;
    int n;
} inbox_acc;

static void s_inbox_cb(int64_t seq, const char *kind, int64_t ticket_id, void *arg)
{
    inbox_acc *a = arg;
    feed_item *it = &a->items[a->n++];
    it->seq = seq;
    hl_strlcpy(it->kind, kind ? kind : "changed", sizeof it->kind);
    it->ticket_id = ticket_id;
}

static hl_err s_op_inbox(req_ctx *x)
{
    int64_t after = 0, limit = 100;
    hl_json_int(x->args, "after", &after);
    hl_json_int(x->args, "limit", &limit);
    inbox_acc a = {hl_calloc((size_t)limit, sizeof(feed_item)), 0};
    hl_err e = HL_OK;
    if (store_feed_after(x->st, s_unit_id(x), after, (int)limit, s_inbox_cb, &a) != STORE_OK)
        e = s_internal(x);
    cJSON *arr = cJSON_AddArrayToObject(x->result, "items");
    int64_t last = after;
    ticket t = {0};
    for (int i = 0; e == HL_OK && i < a.n; i++) {
        int rc = store_ticket_get(x->st, a.items[i].ticket_id, &t);
        if (rc == STORE_ERROR) {
            e = s_internal(x);
            break;
        }
        cJSON *o = cJSON_CreateObject();
        hl_json_add_int(o, "seq", a.items[i].seq);
        cJSON_AddStringToObject(o, "kind", a.items[i].kind);
        if (rc == STORE_OK)
            cJSON_AddItemToObject(o, "ticket", ticket_json_raw(&t, x->cfg));
        else
            cJSON_AddNullToObject(o, "ticket");
        cJSON_AddItemToArray(arr, o);
        last = a.items[i].seq;
    }
    ticket_clear(&t);
    free(a.items);
    hl_json_add_int(x->result, "last", last);
    return e;
}

typedef struct alerts_acc {
    cJSON *arr;
    int n, limit;
    int64_t last_id;
    int more;
} alerts_acc;

static void s_alerts_cb(int64_t id, const char *json, void *arg)
{
    alerts_acc *a = arg;
    if (a->n >= a->limit) {
        a->more = 1;
        return;
    }
    cJSON *o = cJSON_Parse(json ? json : "");
    if (!o) o = cJSON_CreateObject();
    cJSON_AddItemToArray(a->arr, o);
    a->last_id = id;
    a->n++;
}

static hl_err s_op_alerts(req_ctx *x)
{
    const char *unit = s_arg_str(x, "unit");
    if (unit && hl_config_unit(x->cfg, unit) < 0) return s_unknown_unit(x, "unit", unit);
    int64_t limit = 100, after = 0;
    hl_json_int(x->args, "limit", &limit);
    hl_json_int(x->args, "after", &after);
    alerts_acc a = {cJSON_AddArrayToObject(x->result, "alerts"), 0, (int)limit, 0, 0};
    if (store_alerts_list(x->st, unit, s_arg_str(x, "level"), after, (int)limit + 1, s_alerts_cb,
                          &a) != STORE_OK)
        return s_internal(x);
    if (a.more)
        hl_json_add_int(x->result, "next", a.last_id);
    else
        cJSON_AddNullToObject(x->result, "next");
    return HL_OK;
}

static hl_err s_op_later(req_ctx *x)
{
    return s_fail(x, HL_E_BAD_REQUEST,
                  "%s is not available yet in this version of the dispatcher (hotline %s)",
                  x->req->op, HL_VERSION);
}

/* ---- assessment (考核) ------------------------------------------------------------- */

typedef struct stats_acc {
    assess_row *rows;
    int n, cap;
} stats_acc;

static void s_stats_cb(const char *unit, const store_counts *k, void *arg)
{
    stats_acc *a = arg;
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 64;
        a->rows = hl_realloc(a->rows, (size_t)a->cap * sizeof *a->rows);
    }
    assess_row *r = &a->rows[a->n++];
    memset(r, 0, sizeof *r);
    hl_strlcpy(r->unit, unit ? unit : "", sizeof r->unit);
    r->assigned = k->assigned;
    r->signed_on_time = k->signed_on_time;
    r->finished_on_time = k->finished_on_time;
    r->overdue = k->overdue;
    r->returned = k->returned;
    r->reopened = k->reopened;
    r->callbacks = k->callbacks;
    r->satisfied = k->satisfied;
    r->basic = k->basic;
    r->unsatisfied = k->unsatisfied;
    r->yellow = k->yellow;
    r->red = k->red;
}

static void s_add_rate(cJSON *o, const char *key, int has, double v)
{
    if (has)
        cJSON_AddNumberToObject(o, key, v);
    else
        cJSON_AddNullToObject(o, key);
}

/* A stats request, checked: what it counts, for whichever thread does. */
struct core_job {
    const hl_config *cfg;
    char *id; /* the request's */
    hl_ms since, until, now;
    int has_since, has_until;
    char *unit; /* NULL: every unit */
};

/* The stats result into result; -1 when the store failed. */
static int s_stats_result(const core_job *j, store *st, cJSON *result)
{
    stats_acc a = {0};
    if (store_stats(st, j->since, j->until, j->now, s_stats_cb, &a) != STORE_OK) {
        free(a.rows);
        return -1;
    }
    const hl_config *cfg = j->cfg;
    assess_weights w = {cfg->weights.sign_rate, cfg->weights.finish_rate,
                        cfg->weights.satisfaction};
    assess_rank(a.rows, a.n, &w);
    char buf[HL_TIME_LEN];
    hl_json_add_str(result, "since", j->has_since ? hl_time_format(j->since, buf) : NULL);
    hl_json_add_str(result, "until", j->has_until ? hl_time_format(j->until, buf) : NULL);
    cJSON *arr = cJSON_AddArrayToObject(result, "units");
    for (int i = 0; i < a.n; i++) {
        const assess_row *r = &a.rows[i];
        if (j->unit && strcmp(j->unit, r->unit) != 0) continue;
        int u = hl_config_unit(cfg, r->unit);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "unit", r->unit);
        hl_json_add_str(o, "name", u >= 0 ? cfg->units[u].name : NULL);
        const char *keys[] = {"assigned", "signed_on_time", "finished_on_time", "overdue",
                              "returned", "reopened",       "callbacks",        "satisfied",
                              "basic",    "unsatisfied",    "yellow",           "red"};
        const int64_t vals[] = {r->assigned, r->signed_on_time, r->finished_on_time, r->overdue,
                                r->returned, r->reopened,       r->callbacks,        r->satisfied,
                                r->basic,    r->unsatisfied,    r->yellow,           r->red};
        for (size_t k = 0; k < HL_ARRAY_LEN(keys); k++)
            hl_json_add_int(o, keys[k], vals[k]);
        s_add_rate(o, "sign_rate", r->has_sign_rate, r->sign_rate);
        s_add_rate(o, "finish_rate", r->has_finish_rate, r->finish_rate);
        s_add_rate(o, "satisfaction", r->has_satisfaction, r->satisfaction);
        s_add_rate(o, "score", r->has_score, r->score);
        if (r->rank > 0)
            hl_json_add_int(o, "rank", r->rank);
        else
            cJSON_AddNullToObject(o, "rank");
        cJSON_AddItemToArray(arr, o);
    }
    free(a.rows);
    return 0;
}

/* Over a long range the count reads every dispatch in it (a year of a
 * city's: seconds). With deferral on, the loop only checks the request and
 * the count runs on another thread, on its own connection to the last
 * committed state (core_job_run): the loop goes on answering meanwhile. */
static hl_err s_op_stats(req_ctx *x)
{
    core_job j = {x->cfg, NULL, INT64_MIN, INT64_MAX, x->now, 0, 0, NULL};
    const char *since_s = s_arg_str(x, "since"), *until_s = s_arg_str(x, "until");
    j.has_since = since_s && hl_time_parse(since_s, &j.since) == 0;
    j.has_until = until_s && hl_time_parse(until_s, &j.until) == 0;
    if (since_s && until_s && j.until <= j.since)
        return s_fail(x, HL_E_BAD_REQUEST, "until: must be later than since");
    const char *unit = s_arg_str(x, "unit");
    if (unit && hl_config_unit(x->cfg, unit) < 0) return s_unknown_unit(x, "unit", unit);
    if (x->c->defer) {
        x->job = hl_malloc(sizeof *x->job);
        *x->job = j;
        x->job->id = hl_strdup(x->req->id);
        x->job->unit = unit ? hl_strdup(unit) : NULL;
        return HL_OK;
    }
    j.unit = (char *)unit;
    return s_stats_result(&j, x->st, x->result) == 0 ? HL_OK : s_internal(x);
}

void core_set_defer(core *c, int on)
{
    c->defer = on;
}

char *core_job_run(const core_job *j, store *reader)
{
    cJSON *result = cJSON_CreateObject();
    char *text;
    if (s_stats_result(j, reader, result) == 0) {
        char *r = hl_json_print(result);
        text = hl_reply_ok_text(j->id, r);
        free(r);
    } else {
        char msg[700];
        snprintf(msg, sizeof msg, "the database could not be read: %s", store_errmsg(reader));
        text = hl_reply_error(j->id, HL_E_INTERNAL, msg);
    }
    cJSON_Delete(result);
    return text;
}

void core_job_free(core_job *j)
{
    if (!j) return;
    free(j->id);
    free(j->unit);
    free(j);
}

/* ---- create
 * ----------------------------------------------------------------------------------------- */

/* A repeat call: count it on the open ticket instead of making a new one. */
static hl_err s_repeat(req_ctx *x, int64_t id, const char *description)
{
    ticket t = {0};
    hl_err e = HL_OK;
    if (store_ticket_get(x->st, id, &t) != STORE_OK) return s_internal(x);
    t.repeat_calls++;
    rel old;
    s_rel_save(&old, &t);
    if (store_ticket_update(x->st, &t) != STORE_OK ||
        s_event(x, &t, "repeat", (int)t.status, t.lead, description, NULL) != 0 ||
        s_feed_change(x, &t, &old, "changed", 0) != 0)
        e = s_internal(x);
    s_rel_free(&old);
    if (e == HL_OK) {
        s_result_ticket(x, &t);
        cJSON_AddTrueToObject(x->result, "repeat");
    }
    ticket_clear(&t);
    return e;
}

static hl_err s_op_create(req_ctx *x)
{
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(x->args, "ticket");
    const char *code = hl_json_str(in, "category");
    int cat = hl_config_category(x->cfg, code);
    if (cat < 0) {
        char shown[80];
        hl_strlcpy(shown, code ? code : "", sizeof shown);
        return s_fail(x, HL_E_UNKNOWN_CATEGORY,
                      "ticket.category: no category \"%s\" in this city's configuration (for "
                      "example \"%s\")",
                      shown, x->cfg->ncategories ? x->cfg->categories[0].code : "");
    }
    const char *s;
    int urgency = (s = hl_json_str(in, "urgency")) ? hl_urgency_parse(s) : HL_URG_NORMAL;
    int channel = (s = hl_json_str(in, "channel")) ? hl_channel_parse(s) : HL_CH_PHONE;
    if (urgency < 0) urgency = HL_URG_NORMAL;
    if (channel < 0) channel = HL_CH_PHONE;
    if (s_is_worker(x) && channel != HL_CH_GRID)
        return s_fail(x, HL_E_FORBIDDEN,
                      "a worker creates tickets only from patrol (巡查上报): set "
                      "ticket.channel to \"grid\"");
    const cJSON *caller = cJSON_GetObjectItemCaseSensitive(in, "caller");
    const cJSON *loc = cJSON_GetObjectItemCaseSensitive(in, "location");
    double lat = 0, lon = 0;
    int has_lat = hl_json_num(loc, "lat", &lat) == 0, has_lon = hl_json_num(loc, "lon", &lon) == 0;
    if (has_lat != has_lon)
        return s_fail(x, HL_E_BAD_REQUEST, "ticket.location: give both lat and lon, or neither");
    const char *cell = hl_json_str(loc, "cell");
    if (cell && !*cell) cell = NULL;
    const char *title = hl_json_str(in, "title");
    const char *description = hl_json_str(in, "description");

    route_input ri = {
        cat, (hl_urgency)urgency, (hl_channel)channel, title, description, cell, has_lat, lat, lon};
    route_result rr;
    hl_err e = route_ticket(x->cfg, &ri, &rr, x->msg, sizeof x->msg);
    if (e != HL_OK) {
        if (e == HL_E_UNKNOWN_CELL) {
            char m[sizeof x->msg];
            snprintf(m, sizeof m, "ticket.location.cell: %s", x->msg);
            hl_strlcpy(x->msg, m, sizeof x->msg);
        }
        return e;
    }
    const char *cell_id = rr.cell >= 0 ? x->cfg->cells[rr.cell].id : NULL;
    const char *phone = hl_json_str(caller, "phone");
    if (phone && !*phone) phone = NULL;

    if (phone) {
        int64_t id;
        int rc = store_ticket_find_repeat(x->st, phone, code, cell_id,
                                          x->now - x->cfg->dispatcher.dedup_window_ms, &id);
        if (rc == STORE_ERROR) {
            route_result_free(&rr);
            return s_internal(x);
        }
        if (rc == STORE_OK) {
            route_result_free(&rr);
            return s_repeat(x, id, description);
        }
    }

    ticket t = {0};
    ticket_set(&t.category, code);
    t.urgency = (hl_urgency)urgency;
    t.channel = (hl_channel)channel;
    ticket_set(&t.title, title);
    ticket_set(&t.description, description);
    ticket_set(&t.caller_name, hl_json_str(caller, "name"));
    ticket_set(&t.caller_phone, phone);
    ticket_set(&t.cell, cell_id);
    t.has_point = has_lat;
    t.lat = lat;
    t.lon = lon;
    ticket_set(&t.address, hl_json_str(loc, "address"));
    ticket_set(&t.town, rr.town >= 0 ? x->cfg->units[rr.town].id : NULL);
    ticket_set(&t.lead, rr.lead >= 0 ? x->cfg->units[rr.lead].id : NULL);
    char *co[64];
    int nco = 0;
    for (int i = 0; i < rr.nco && nco < 64; i++)
        co[nco++] = x->cfg->units[rr.co[i]].id;
    ticket_set_co(&t, co, nco);
    t.status = TS_TRIAGE;
    t.created_at = x->now;

    char why[300];
    if (rr.rule >= 0)
        snprintf(why, sizeof why, "routed by rule \"%s\"", x->cfg->rules[rr.rule].name);
    else if (rr.lead >= 0)
        snprintf(why, sizeof why, "routed by %s handling",
                 hl_handling_name(x->cfg->categories[cat].handling));
    else
        snprintf(why, sizeof why, "%s handling needs a location in a grid cell: left for triage",
                 hl_handling_name(x->cfg->categories[cat].handling));
    route_result_free(&rr);

    char day[9];
    hl_cal_local_yyyymmdd(x->cfg->calendar, x->now, day);
    rel none = {0};
    /* the dispatch goes in first, for the id the ticket will get, so that
     * the ticket's row is written once, as it will stay */
    t.id = store_ticket_next_id(x->st);
    int rc = t.lead ? s_dispatch_open(x, &t) : STORE_OK;
    if (rc == STORE_OK) rc = store_ticket_insert(x->st, &t, day);
    if (rc != STORE_OK || s_event(x, &t, "created", -1, t.lead, why, NULL) != 0 ||
        s_feed_change(x, &t, &none, "assigned", 0) != 0) {
        ticket_clear(&t);
        return s_internal(x);
    }
    s_result_ticket(x, &t);
    cJSON_AddFalseToObject(x->result, "repeat");
    ticket_clear(&t);
    return HL_OK;
}

/* ---- transitions
 * ------------------------------------------------------------------------------------ */

/* Resolve a co argument (unit ids or the tokens territorial / grid) for t
 * led by lead; NULL-terminated ids in out. */
static hl_err s_co_arg(req_ctx *x, const cJSON *arr, const ticket *t, int lead, char **out,
                       int *nout)
{
    int list[16], n = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, arr)
    {
        const char *id = it->valuestring;
        int u;
        if (strcmp(id, "territorial") == 0)
            u = HL_CO_TERRITORIAL;
        else if (strcmp(id, "grid") == 0)
            u = HL_CO_GRID;
        else if ((u = hl_config_unit(x->cfg, id)) < 0)
            return s_unknown_unit(x, "co", id);
        if (n < 16) list[n++] = u;
    }
    int res[16];
    int cell = hl_config_cell(x->cfg, t->cell);
    int k = route_resolve_co(x->cfg, list, n, cell, lead, res, 0);
    for (int i = 0; i < k; i++)
        out[i] = x->cfg->units[res[i]].id;
    *nout = k;
    return HL_OK;
}

static hl_err s_op_dispatch(req_ctx *x)
{
    const char *unit = s_arg_str(x, "unit");
    int u = hl_config_unit(x->cfg, unit);
    if (u < 0) return s_unknown_unit(x, "unit", unit ? unit : "");
    ticket t = {0};
    hl_err e = s_load(x, "ticket", &t);
    if (e == HL_OK)
        e = s_need(x, &t, TS_BIT(TS_TRIAGE) | TS_BIT(TS_DISPATCHED) | TS_BIT(TS_ACCEPTED));
    char *co[64];
    int nco = 0;
    const cJSON *coarg = cJSON_GetObjectItemCaseSensitive(x->args, "co");
    if (e == HL_OK && cJSON_IsArray(coarg)) e = s_co_arg(x, coarg, &t, u, co, &nco);
    if (e != HL_OK) {
        ticket_clear(&t);
        return e;
    }
    const char *lead = x->cfg->units[u].id;
    if (!cJSON_IsArray(coarg)) /* keep the co units, minus the new lead */
        for (int i = 0; i < t.nco && nco < 64; i++)
            if (strcmp(t.co[i], lead) != 0) co[nco++] = t.co[i];
    rel old;
    s_rel_save(&old, &t);
    int from = (int)t.status;
    ticket_set_co(&t, co, nco);
    ticket_set(&t.lead, lead);
    if (s_dispatch_end(x, &t, "redispatched") != 0 || s_dispatch_open(x, &t) != 0 ||
        store_ticket_update(x->st, &t) != STORE_OK || store_ticket_set_co(x->st, &t) != STORE_OK ||
        s_event(x, &t, "dispatched", from, t.lead, s_arg_str(x, "note"), NULL) != 0 ||
        s_feed_change(x, &t, &old, "assigned", 0) != 0)
        e = s_internal(x);
    s_rel_free(&old);
    if (e == HL_OK) s_result_ticket(x, &t);
    ticket_clear(&t);
    return e;
}

/* The common shape of a transition: load, check, change, save, event, feed. */
typedef hl_err (*change_fn)(req_ctx *x, ticket *t, const char **kind, const char **note,
                            const char **lead_kind, int *revoke_all);

static hl_err s_transition(req_ctx *x, unsigned allowed, int lead_only, change_fn change)
{
    ticket t = {0};
    hl_err e = s_load(x, "ticket", &t);
    if (e == HL_OK && lead_only) e = s_need_lead(x, &t);
    if (e == HL_OK) e = s_need(x, &t, allowed);
    if (e != HL_OK) {
        ticket_clear(&t);
        return e;
    }
    rel old;
    s_rel_save(&old, &t);
    int from = (int)t.status;
    const char *kind = NULL, *note = NULL, *lead_kind = "changed";
    int revoke_all = 0;
    e = change(x, &t, &kind, &note, &lead_kind, &revoke_all);
    if (e == HL_OK) {
        const char *unit = t.lead ? t.lead : old.lead;
        if (store_ticket_update(x->st, &t) != STORE_OK ||
            s_event(x, &t, kind, from, unit, note, NULL) != 0 ||
            s_feed_change(x, &t, &old, lead_kind, revoke_all) != 0)
            e = s_internal(x);
    }
    s_rel_free(&old);
    if (e == HL_OK) s_result_ticket(x, &t);
    ticket_clear(&t);
    return e;
}

static hl_err s_ch_sign(req_ctx *x, ticket *t, const char **kind, const char **note,
                        const char **lead_kind, int *revoke_all)
{
    t->status = TS_ACCEPTED;
    t->signed_at = x->now;
    *kind = "accepted";
    *note = s_arg_str(x, "note");
    /* the sign stage is done; the finish stage goes on where it was */
    store_dispatch d;
    int rc = store_dispatch_get(x->st, t->dispatch_id, &d);
    if (rc == STORE_ERROR) return s_internal(x);
    hl_ms next = 0;
    if (rc == STORE_OK) {
        d.signed_at = x->now;
        next = s_dl_next(x->cfg, t, &d);
    }
    return store_dispatch_signed(x->st, t->dispatch_id, x->now, next) == STORE_OK ? HL_OK
                                                                                  : s_internal(x);
}

static hl_err s_op_sign(req_ctx *x)
{
    return s_transition(x, TS_BIT(TS_DISPATCHED), 1, s_ch_sign);
}

static hl_err s_ch_return(req_ctx *x, ticket *t, const char **kind, const char **note,
                          const char **lead_kind, int *revoke_all)
{
    if (x->cfg->has_return_window && t->dispatched_at) {
        hl_ms until = hl_cal_add(x->cfg->calendar, t->dispatched_at, &x->cfg->return_window, 1.0);
        if (x->now > until) {
            char d[HL_TIME_LEN], w[32], u[HL_TIME_LEN];
            hl_duration_format(&x->cfg->return_window, w, sizeof w);
            return s_fail(x, HL_E_CONFLICT,
                          "ticket %s was dispatched at %s and the return window of %s ended at "
                          "%s; it can no longer be returned: handle it, or ask the hotline to "
                          "re-dispatch it",
                          t->no, hl_time_format(t->dispatched_at, d), w, hl_time_format(until, u));
        }
    }
    const char *reason = s_arg_str(x, "reason");
    if (s_dispatch_end(x, t, "returned") != 0) return s_internal(x);
    t->status = TS_TRIAGE;
    ticket_set(&t->return_reason, reason);
    ticket_set(&t->lead, NULL);
    t->dispatched_at = t->signed_at = t->sign_due = t->finish_due = 0;
    t->ext_state = TEXT_NONE;
    t->ext_until = 0;
    ticket_set(&t->ext_reason, NULL);
    ticket_set(&t->escalated_to, NULL);
    *kind = "returned";
    *note = reason;
    return HL_OK;
}

static hl_err s_op_return(req_ctx *x)
{
    return s_transition(x, TS_BIT(TS_DISPATCHED) | TS_BIT(TS_ACCEPTED), 1, s_ch_return);
}

static hl_err s_ch_supervise(req_ctx *x, ticket *t, const char **kind, const char **note,
                             const char **lead_kind, int *revoke_all)
{
    t->supervise_count++;
    *kind = "supervised";
    *note = s_arg_str(x, "note");
    return HL_OK;
}

static hl_err s_op_supervise(req_ctx *x)
{
    return s_transition(x, TS_BIT(TS_DISPATCHED) | TS_BIT(TS_ACCEPTED), 0, s_ch_supervise);
}

static hl_err s_ch_extend(req_ctx *x, ticket *t, const char **kind, const char **note,
                          const char **lead_kind, int *revoke_all)
{
    const char *until_s = s_arg_str(x, "until"), *by_s = s_arg_str(x, "by");
    if (!until_s == !by_s)
        return s_fail(x, HL_E_BAD_REQUEST,
                      "give exactly one of until (a time) or by (a duration such as \"2wd\")");
    if (t->ext_state == TEXT_PENDING)
        return s_fail(x, HL_E_CONFLICT,
                      "ticket %s already has an extension request waiting for a decision", t->no);
    hl_ms until;
    if (until_s) {
        hl_time_parse(until_s, &until);
    } else {
        hl_duration d;
        hl_duration_parse(by_s, &d);
        until = hl_cal_add(x->cfg->calendar, t->finish_due ? t->finish_due : x->now, &d, 1.0);
    }
    if (t->finish_due && until <= t->finish_due) {
        char f[HL_TIME_LEN];
        return s_fail(x, HL_E_BAD_REQUEST,
                      "until: an extension must end after the current finish_due %s",
                      hl_time_format(t->finish_due, f));
    }
    /* the caps (extension.times, extension.max) count over the dispatch */
    store_dispatch d;
    int rc = store_dispatch_get(x->st, t->dispatch_id, &d);
    if (rc == STORE_ERROR) return s_internal(x);
    if (rc == STORE_OK) {
        const hl_config *cfg = x->cfg;
        if (d.extensions >= cfg->extension.times)
            return s_fail(x, HL_E_CONFLICT,
                          "ticket %s has had %d extension%s approved in this dispatch, the most "
                          "allowed (extension.times %d); finish it, or return it",
                          t->no, d.extensions, d.extensions == 1 ? "" : "s", cfg->extension.times);
        hl_ms base = d.finish_due0 ? d.finish_due0 : t->finish_due;
        hl_ms cap = hl_cal_add(cfg->calendar, base, &cfg->extension.max, 1.0);
        if (base && until > cap) {
            char u[HL_TIME_LEN], b[HL_TIME_LEN], c[HL_TIME_LEN], m[32];
            hl_duration_format(&cfg->extension.max, m, sizeof m);
            return s_fail(x, HL_E_CONFLICT,
                          "ticket %s: an extension until %s is too long; the extensions of one "
                          "dispatch may add up to %s (extension.max) after its original "
                          "finish_due %s, so until %s at the latest",
                          t->no, hl_time_format(until, u), m, hl_time_format(base, b),
                          hl_time_format(cap, c));
        }
    }
    t->ext_state = TEXT_PENDING;
    t->ext_until = until;
    ticket_set(&t->ext_reason, s_arg_str(x, "reason"));
    t->ext_count++;
    *kind = "extension_requested";
    *note = t->ext_reason;
    return HL_OK;
}

static hl_err s_op_extend(req_ctx *x)
{
    return s_transition(x, TS_BIT(TS_ACCEPTED), 1, s_ch_extend);
}

/* decide: approve (finish_due moves, the finish stage's flags start over
 * in a new epoch) or deny (nothing moves) the pending extension. */
static hl_err s_ch_decide(req_ctx *x, ticket *t, const char **kind, const char **note,
                          const char **lead_kind, int *revoke_all)
{
    if (t->ext_state != TEXT_PENDING)
        return s_fail(x, HL_E_CONFLICT,
                      "ticket %s has no extension request waiting for a decision (extension: %s)",
                      t->no, t->ext_state ? ticket_ext_state_name(t->ext_state) : "none");
    int approve = 0;
    hl_json_bool(x->args, "approve", &approve);
    const char *given = s_arg_str(x, "note");
    char until[HL_TIME_LEN];
    hl_time_format(t->ext_until, until);
    *kind = "extension_decided";
    if (!approve) {
        t->ext_state = TEXT_DENIED;
        snprintf(x->note, sizeof x->note, "extension until %s denied%s%s", until, given ? ": " : "",
                 given ? given : "");
        *note = x->note;
        return HL_OK;
    }
    store_dispatch d;
    int rc = store_dispatch_get(x->st, t->dispatch_id, &d);
    if (rc == STORE_ERROR) return s_internal(x);
    t->ext_state = TEXT_APPROVED;
    t->finish_due = t->ext_until;
    if (rc == STORE_OK) {
        d.finish_due = t->ext_until;
        d.extensions++;
        d.finish_step = 0;
        hl_ms next = s_dl_next(x->cfg, t, &d);
        s_wake(x->c, next);
        if (store_dispatch_extended(x->st, d.id, d.finish_due, d.extensions, next) != STORE_OK)
            return s_internal(x);
    }
    snprintf(x->note, sizeof x->note, "extension approved: finish_due moved to %s%s%s", until,
             given ? ": " : "", given ? given : "");
    *note = x->note;
    return HL_OK;
}

static hl_err s_op_decide(req_ctx *x)
{
    return s_transition(x, TS_BIT(TS_ACCEPTED), 0, s_ch_decide);
}

static hl_err s_ch_cancel(req_ctx *x, ticket *t, const char **kind, const char **note,
                          const char **lead_kind, int *revoke_all)
{
    if (s_dispatch_end(x, t, "cancelled") != 0) return s_internal(x);
    t->status = TS_CANCELLED;
    t->closed_at = x->now;
    *kind = "cancelled";
    *note = s_arg_str(x, "reason");
    *revoke_all = 1;
    return HL_OK;
}

static hl_err s_op_cancel(req_ctx *x)
{
    return s_transition(x, TS_OPEN_SET, 0, s_ch_cancel);
}

static hl_err s_ch_callback(req_ctx *x, ticket *t, const char **kind, const char **note,
                            const char **lead_kind, int *revoke_all)
{
    const char *result = s_arg_str(x, "result");
    *note = s_arg_str(x, "note");
    ticket_set(&t->satisfaction, result);
    if (store_dispatch_callback(x->st, t->dispatch_id, result) != STORE_OK) return s_internal(x);
    if (hl_streq(result, "unsatisfied")) {
        /* 重办: a new dispatch to the same lead */
        if (s_dispatch_end(x, t, "reopened") != 0 || s_dispatch_open(x, t) != 0)
            return s_internal(x);
        t->reopen_count++;
        *kind = "reopened";
        *lead_kind = "reopened";
        return HL_OK;
    }
    if (s_dispatch_end(x, t, "closed") != 0) return s_internal(x);
    t->status = TS_CLOSED;
    t->closed_at = x->now;
    *kind = "closed";
    return HL_OK;
}

static hl_err s_op_callback(req_ctx *x)
{
    return s_transition(x, TS_BIT(TS_RESOLVED), 0, s_ch_callback);
}

/* finish: resolved, and closed at once when there is nobody to call back. */
static hl_err s_op_finish(req_ctx *x)
{
    ticket t = {0};
    hl_err e = s_load(x, "ticket", &t);
    if (e == HL_OK) e = s_need_lead(x, &t);
    if (e == HL_OK) e = s_need(x, &t, TS_BIT(TS_ACCEPTED));
    if (e != HL_OK) {
        ticket_clear(&t);
        return e;
    }
    rel old;
    s_rel_save(&old, &t);
    ticket_set(&t.result, s_arg_str(x, "result"));
    t.status = TS_RESOLVED;
    t.resolved_at = x->now;
    int rc = store_dispatch_resolved(x->st, t.dispatch_id, x->now) != STORE_OK ||
             s_event(x, &t, "resolved", TS_ACCEPTED, t.lead, t.result, NULL) != 0;
    if (!rc && !t.caller_phone) {
        t.status = TS_CLOSED;
        t.closed_at = x->now;
        rc = s_dispatch_end(x, &t, "closed") != 0 ||
             s_event(x, &t, "closed", TS_RESOLVED, t.lead,
                     "closed without a callback: the caller left no phone number", "system") != 0;
    }
    if (rc || store_ticket_update(x->st, &t) != STORE_OK ||
        s_feed_change(x, &t, &old, "changed", 0) != 0)
        e = s_internal(x);
    s_rel_free(&old);
    if (e == HL_OK) s_result_ticket(x, &t);
    ticket_clear(&t);
    return e;
}

static hl_err s_op_merge(req_ctx *x)
{
    ticket t = {0}, into = {0};
    hl_err e = s_load(x, "ticket", &t);
    if (e == HL_OK) e = s_load(x, "into", &into);
    if (e == HL_OK && t.id == into.id)
        e = s_fail(x, HL_E_BAD_REQUEST, "into: a ticket cannot be merged into itself");
    if (e == HL_OK)
        e = s_need(x, &t, TS_BIT(TS_TRIAGE) | TS_BIT(TS_DISPATCHED) | TS_BIT(TS_ACCEPTED));
    if (e == HL_OK && !ticket_status_open(into.status))
        e = s_fail(x, HL_E_CONFLICT, "ticket %s is %s; merge needs an open ticket to merge into",
                   into.no, ticket_status_name(into.status));
    if (e == HL_OK) {
        rel old;
        s_rel_save(&old, &t);
        int from = (int)t.status;
        char note[200];
        const char *given = s_arg_str(x, "note");
        snprintf(note, sizeof note, "merged into %s", into.no);
        if (s_dispatch_end(x, &t, "merged") != 0) e = s_internal(x);
        t.status = TS_MERGED;
        t.closed_at = x->now;
        ticket_set(&t.merged_into, into.no);
        if (e == HL_OK &&
            (store_ticket_update(x->st, &t) != STORE_OK ||
             s_event(x, &t, "merged", from, t.lead, given ? given : note, NULL) != 0 ||
             s_feed_change(x, &t, &old, "changed", 1) != 0))
            e = s_internal(x);
        s_rel_free(&old);
    }
    if (e == HL_OK) s_result_ticket(x, &t);
    ticket_clear(&t);
    ticket_clear(&into);
    return e;
}

static hl_err s_op_note(req_ctx *x)
{
    ticket t = {0};
    hl_err e = s_load(x, "ticket", &t);
    if (e == HL_OK && s_is_worker(x) && !s_is_member(x, &t))
        e = s_fail(x, HL_E_FORBIDDEN,
                   "ticket %s is neither led nor co-handled by %s; only its units add notes", t.no,
                   s_unit_id(x));
    if (e == HL_OK) e = s_need(x, &t, TS_OPEN_SET);
    if (e == HL_OK) {
        rel old;
        s_rel_save(&old, &t);
        if (s_event(x, &t, "noted", (int)t.status, t.lead, s_arg_str(x, "text"), NULL) != 0 ||
            s_feed_change(x, &t, &old, "changed", 0) != 0)
            e = s_internal(x);
        s_rel_free(&old);
    }
    if (e == HL_OK) s_result_ticket(x, &t);
    ticket_clear(&t);
    return e;
}

/* ---- dispatching requests
 * --------------------------------------------------------------------------- */

typedef struct op_entry {
    const char *name;
    hl_err (*fn)(req_ctx *x);
} op_entry;

static const op_entry s_ops[] = {
    {"ping", s_op_ping},         {"units", s_op_units},         {"create", s_op_create},
    {"get", s_op_get},           {"list", s_op_list},           {"dispatch", s_op_dispatch},
    {"callback", s_op_callback}, {"merge", s_op_merge},         {"cancel", s_op_cancel},
    {"note", s_op_note},         {"supervise", s_op_supervise}, {"decide", s_op_decide},
    {"alerts", s_op_alerts},     {"stats", s_op_stats},         {"events", s_op_events},
    {"inbox", s_op_inbox},       {"sign", s_op_sign},           {"finish", s_op_finish},
    {"return", s_op_return},     {"extend", s_op_extend},
};

static hl_err (*s_op_fn(const char *name))(req_ctx *)
{
    for (size_t i = 0; i < HL_ARRAY_LEN(s_ops); i++)
        if (strcmp(s_ops[i].name, name) == 0) return s_ops[i].fn;
    return NULL;
}

/* A session was heard (whatever its request came to): a worker's unit
 * comes online if it was not. The event has a savepoint of its own so it
 * does not depend on the request's fate. */
static void s_heard(req_ctx *x)
{
    core_session *s = x->s;
    s->last_seen = x->now;
    if (s->role != HL_ROLE_WORKER || s->unit < 0 || x->c->online[s->unit]) return;
    size_t at = x->out->n;
    if (store_mark(x->st) != STORE_OK) {
        hl_warn("cannot record that %s came online: %s", x->cfg->units[s->unit].id,
                store_errmsg(x->st));
        return;
    }
    if (s_unit_event(x->c, x->out, s->unit, 1, x->actor, x->now) != 0) {
        hl_warn("cannot record that %s came online: %s", x->cfg->units[s->unit].id,
                store_errmsg(x->st));
        store_undo(x->st);
        core_outq_truncate(x->out, at);
        return;
    }
    store_unmark(x->st);
    x->c->online[s->unit] = 1;
}

/* Replay the stored result of an idempotency key, or say it is unknown. */
static int s_idem_replay(req_ctx *x, core_reply *rep, hl_err *e)
{
    char *op = NULL, *result = NULL;
    int rc = store_idem_get(x->st, x->req->idem, &op, &result);
    if (rc == STORE_NONE) return 0;
    if (rc != STORE_OK) {
        *e = s_internal(x);
    } else if (strcmp(op, x->req->op) != 0) {
        *e = s_fail(x, HL_E_CONFLICT,
                    "idem \"%s\" was already used for a %s request; use a new key for each "
                    "change",
                    x->req->idem, op);
    } else {
        rep->text = hl_reply_ok_text(x->req->id, result);
        *e = HL_OK;
    }
    free(op);
    free(result);
    return 1;
}

void core_set_secure(core *c, int on)
{
    c->secure = on;
}

void core_handle(core *c, const void *peer, size_t peerlen, const void *frame, size_t len,
                 core_reply *rep, core_outq *out)
{
    core_handle_as(c, peer, peerlen, NULL, frame, len, rep, out);
}

void core_handle_as(core *c, const void *peer, size_t peerlen, const core_principal *who,
                    const void *frame, size_t len, core_reply *rep, core_outq *out)
{
    memset(rep, 0, sizeof *rep);
    hl_request req;
    req_ctx x = {.c = c, .cfg = c->cfg, .st = c->st, .out = out, .out_start = out->n};
    x.now = hl_now();
    x.who = c->secure ? who : NULL;
    hl_err e =
        hl_request_parse(frame, len, c->cfg->dispatcher.max_message, &req, x.msg, sizeof x.msg);
    x.req = &req;
    x.args = req.root;
    if (req.id) rep->re = hl_strdup(req.id);
    x.s = s_session(c, peer, peerlen);
    /* A session belongs to the key that said hello: a routing id taken
     * over by another key, or a key whose entry changed or went, starts
     * without one. */
    if (c->secure && x.s &&
        (!who || strcmp(x.s->curve_key, who->key) != 0 || x.s->role != who->role ||
         x.s->unit != who->unit)) {
        s_session_drop(c, x.s);
        x.s = NULL;
    }
    if (x.s) s_actor(&x);
    if (e != HL_OK) goto done;
    if (c->secure && !who) {
        e = s_fail(&x, HL_E_FORBIDDEN,
                   "the key of this connection is no longer admitted: it was removed from the "
                   "dispatcher's keys file after the connection was made");
        goto done;
    }
    int is_hello = strcmp(req.op, "hello") == 0;
    if (!is_hello && (!x.s || !x.s->role)) {
        e = s_fail(&x, HL_E_FORBIDDEN,
                   "this connection has not said hello (or the dispatcher restarted since): "
                   "send hello with your role first");
        goto done;
    }
    if (x.s && !(req.spec->roles & x.s->role)) {
        e = s_fail(&x, HL_E_FORBIDDEN, "%s is not allowed for the role %s", req.op,
                   hl_role_name(x.s->role));
        goto done;
    }
    x.result = cJSON_CreateObject();
    if (store_mark(c->st) != STORE_OK) {
        e = s_internal(&x);
        goto done;
    }
    int replayed = 0;
    if (req.spec->mutates && req.idem) replayed = s_idem_replay(&x, rep, &e);
    if (!replayed) {
        if (is_hello)
            e = s_op_hello(&x, peer, peerlen);
        else if (s_op_fn(req.op))
            e = s_op_fn(req.op)(&x);
        else
            e = s_op_later(&x);
    }
    /* the result is printed once: for the reply and for the idem record */
    char *result_text = e == HL_OK && !replayed ? hl_json_print(x.result) : NULL;
    if (result_text && req.spec->mutates && req.idem) {
        /* remember the result, so a retry gets it instead of a second change */
        if (store_idem_put(c->st, req.idem, req.op, result_text, x.now) != STORE_OK)
            e = s_internal(&x);
    }
    if (e == HL_OK) {
        store_unmark(c->st);
        rep->changed = req.spec->mutates && !replayed;
        rep->job = x.job; /* its reply comes from core_job_run */
        x.job = NULL;
        if (!replayed && !rep->job) rep->text = hl_reply_ok_text(req.id, result_text);
        free(result_text);
    } else {
        free(result_text);
        store_undo(c->st);
        core_outq_truncate(out, x.out_start);
        free(rep->text);
        rep->text = NULL;
    }
done:
    if (x.s && x.s->role) s_heard(&x);
    core_job_free(x.job);
    if (!rep->text && !rep->job) rep->text = hl_reply_error(req.id, e, x.msg);
    cJSON_Delete(x.result);
    hl_request_free(&req);
}

void core_tick(core *c, core_outq *out)
{
    hl_ms now = hl_now();
    for (int u = 0; u < c->cfg->nunits; u++) {
        if (!c->online[u] || s_live_workers(c, u, now, NULL) > 0) continue;
        c->online[u] = 0;
        if (s_unit_event(c, out, u, 0, "system", now) != 0)
            hl_warn("cannot record that %s went offline: %s", c->cfg->units[u].id,
                    store_errmsg(c->st));
    }
}

int core_purge(core *c)
{
    int64_t n = 0;
    if (store_idem_purge(c->st, hl_now() - CORE_IDEM_KEEP_MS, &n) != STORE_OK) {
        snprintf(c->err, sizeof c->err, "%s", store_errmsg(c->st));
        return -1;
    }
    if (n > 0) hl_info("forgot %lld idempotency keys older than 7 days", (long long)n);
    return 0;
}

/* ---- deadlines (红黄旗) ------------------------------------------------------------ */

typedef struct due_acc {
    int64_t (*rows)[2]; /* dispatch id, ticket id */
    int n, cap;
} due_acc;

static void s_due_cb(int64_t dispatch_id, int64_t ticket_id, void *arg)
{
    due_acc *a = arg;
    if (a->n >= a->cap) return;
    a->rows[a->n][0] = dispatch_id;
    a->rows[a->n][1] = ticket_id;
    a->n++;
}

/* Raise alert `step` of stage k of dispatch d on ticket t: the durable
 * row, the counts, the event and the lead's feed. ds is advanced. */
static int s_alert(req_ctx *x, ticket *t, const store_dispatch *d, deadline_state *ds, int k)
{
    const hl_config *cfg = x->cfg;
    int step = ds->step[k];
    int lead = hl_config_unit(cfg, t->lead);
    const char *level = step == 0 ? "yellow" : "red";
    int esc = deadline_escalation(cfg, lead, step);
    const char *esc_id = esc >= 0 ? cfg->units[esc].id : NULL;
    store_alert a = {
        .event_seq = store_event_next_seq(x->st),
        .ticket_id = t->id,
        .dispatch_id = d->id,
        .stage = deadline_stage_name((deadline_stage_kind)k),
        .level = level,
        .tier = step,
        .epoch = k == DL_FINISH ? d->extensions : 0,
        .unit = t->lead,
        .escalated_to = esc_id,
        .due = ds->stage[k].due,
        .time = x->now,
    };
    int rc = store_alert_add(x->st, &a);
    if (rc == STORE_ERROR) return -1;
    ds->step[k]++;
    hl_ms next = deadline_next(cfg->calendar, ds, NULL);
    if (store_dispatch_progress(x->st, d->id, ds->step[DL_SIGN], ds->step[DL_FINISH], next) !=
        STORE_OK)
        return -1;
    if (rc == STORE_NONE) {
        /* raised before (it cannot be: the step moves in the same
         * transaction as the row); never raise it twice */
        hl_warn("ticket %s: the %s %s alert of tier %d was already raised; skipped", t->no, a.stage,
                level, step);
        return 0;
    }
    if (step == 0)
        t->yellow++;
    else
        t->red++;
    if (esc_id) {
        /* escalated_to shows the highest unit reached in this dispatch */
        int cur = hl_config_unit(cfg, t->escalated_to);
        if (cur < 0 || cfg->units[esc].depth < cfg->units[cur].depth)
            ticket_set(&t->escalated_to, esc_id);
    }
    if (store_ticket_update(x->st, t) != STORE_OK) return -1;

    char topic[160], due[HL_TIME_LEN];
    snprintf(topic, sizeof topic, "alert.%s.%s", level, t->lead);
    hl_time_format(a.due, due);
    if (step == 0)
        snprintf(x->note, sizeof x->note, "yellow flag: the %s stage is due at %s", a.stage, due);
    else if (esc_id)
        snprintf(x->note, sizeof x->note,
                 "red flag: the %s stage was due at %s; escalated to %s (tier %d)", a.stage, due,
                 esc_id, step);
    else
        snprintf(x->note, sizeof x->note, "red flag: the %s stage was due at %s", a.stage, due);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "level", level);
    cJSON_AddStringToObject(o, "stage", a.stage);
    hl_json_add_int(o, "tier", step);
    cJSON_AddStringToObject(o, "unit", t->lead);
    hl_json_add_str(o, "escalated_to", esc_id);
    hl_json_add_time(o, "due", a.due);
    cJSON_AddItemToObject(o, "ticket", ticket_json_brief_raw(t));
    const char *status = ticket_status_name(t->status);
    if (s_publish(x->c, x->out, t->id, level, topic, "system", status, status, t->lead, x->note, o,
                  x->now) != 0)
        return -1;
    return s_feed(x, t->lead, "changed", t->id);
}

/* Look at one dispatch whose next_check has come: raise its next alert
 * when its threshold has passed, else just move next_check on. */
static int s_deadline_one(req_ctx *x, int64_t dispatch_id, int64_t ticket_id)
{
    ticket t = {0};
    store_dispatch d = {0};
    int rc = store_dispatch_get(x->st, dispatch_id, &d);
    if (rc == STORE_ERROR) return -1;
    if (rc == STORE_NONE) return 0; /* cannot be: the row was just read */
    int trc = store_ticket_get(x->st, ticket_id, &t);
    int ret = 0;
    if (trc == STORE_ERROR) {
        ret = -1;
    } else if (trc == STORE_NONE || t.dispatch_id != dispatch_id) {
        /* no longer the ticket's current dispatch: nothing is pending */
        ret = store_dispatch_progress(x->st, d.id, d.sign_step, d.finish_step, 0) == STORE_OK ? 0
                                                                                              : -1;
    } else {
        deadline_state ds;
        s_dl_state(x->cfg, &t, &d, &ds);
        int k = 0;
        hl_ms at = deadline_next(x->cfg->calendar, &ds, &k);
        if (at && at <= x->now)
            ret = s_alert(x, &t, &d, &ds, k);
        else if (at != d.next_check)
            ret = store_dispatch_progress(x->st, d.id, d.sign_step, d.finish_step, at) == STORE_OK
                      ? 0
                      : -1;
    }
    ticket_clear(&t);
    return ret;
}

int core_deadlines(core *c, hl_ms now, int max, core_outq *out, int *more)
{
    *more = 0;
    if (max < 1) max = 1;
    due_acc a = {hl_malloc((size_t)max * sizeof *a.rows), 0, max};
    req_ctx x = {.c = c, .cfg = c->cfg, .st = c->st, .now = now, .out = out, .out_start = out->n};
    s_actor(&x);
    int rc = store_deadlines_due(c->st, now, max, s_due_cb, &a) == STORE_OK ? 0 : -1;
    for (int i = 0; rc == 0 && i < a.n; i++)
        rc = s_deadline_one(&x, a.rows[i][0], a.rows[i][1]);
    free(a.rows);
    hl_ms first = 0;
    if (rc == 0) {
        int f = store_deadline_first(c->st, &first);
        if (f == STORE_ERROR) rc = -1;
        if (f == STORE_OK && first <= now) *more = 1;
    }
    if (rc != 0) snprintf(c->err, sizeof c->err, "%s", store_errmsg(c->st));
    return rc;
}

int core_next_deadline(core *c, hl_ms *at)
{
    *at = 0;
    int rc = store_deadline_first(c->st, at);
    if (rc == STORE_ERROR) {
        snprintf(c->err, sizeof c->err, "%s", store_errmsg(c->st));
        return -1;
    }
    if (rc == STORE_NONE) *at = 0;
    return 0;
}

hl_ms core_wakeup(const core *c)
{
    return c->wake;
}
