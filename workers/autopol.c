/* autopol.c — the auto policy: parsing, the deterministic draw, and the
 * autopilot that schedules sign/return and finish steps on one timer over a
 * binary heap (thousands of tickets cost one libuv timer). Acts only through
 * agent_act, so its actions go through the outbox like anyone's. */
#include "autopol.h"

#include "hotline/timefmt.h"
#include "hotline/util.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- parsing ---------------------------------------------------------------- */

int auto_delay_parse(const char *text, int64_t *ms)
{
    if (!text || !*text) return -1;
    if (strcmp(text, "0") == 0) {
        *ms = 0;
        return 0;
    }
    const char *p = text;
    int64_t n = 0;
    if (!isdigit((unsigned char)*p)) return -1;
    while (isdigit((unsigned char)*p)) {
        n = n * 10 + (*p - '0');
        if (n > 100000000) return -1;
        p++;
    }
    if (strcmp(p, "ms") == 0) {
        *ms = n;
        return 0;
    }
    hl_duration d;
    if (hl_duration_parse(text, &d) != 0 || hl_duration_is_working(&d)) return -1;
    *ms = hl_duration_wall_ms(&d);
    return *ms >= 0 ? 0 : -1;
}

int auto_policy_parse(const char *text, auto_policy *out, char *err, size_t errsize)
{
    auto_policy p = {2000, 30000, 0.0, 1};
    if (!text) text = "";
    char *copy = hl_strdup(text), *save = NULL;
    int rc = 0;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ') tok++;
        if (!*tok) continue;
        char *eq = strchr(tok, '=');
        if (!eq) {
            snprintf(err, errsize, "--auto: \"%s\" is not key=value (keys: sign, finish, return, "
                                   "seed)", tok);
            rc = -1;
            break;
        }
        *eq = '\0';
        const char *key = tok, *val = eq + 1;
        if (strcmp(key, "sign") == 0 || strcmp(key, "finish") == 0) {
            int64_t ms;
            if (auto_delay_parse(val, &ms) != 0) {
                snprintf(err, errsize, "--auto: %s=%s is not a delay; use e.g. 0, 200ms, 2s, 5m",
                         key, val);
                rc = -1;
                break;
            }
            if (key[0] == 's')
                p.sign_ms = ms;
            else
                p.finish_ms = ms;
        } else if (strcmp(key, "return") == 0) {
            char *end;
            errno = 0;
            double d = strtod(val, &end);
            if (!*val || *end || errno || !isfinite(d) || d < 0 || d > 1) {
                snprintf(err, errsize, "--auto: return=%s must be a probability from 0 to 1",
                         val);
                rc = -1;
                break;
            }
            p.return_p = d;
        } else if (strcmp(key, "seed") == 0) {
            char *end;
            errno = 0;
            unsigned long long s = strtoull(val, &end, 10);
            if (!*val || *end || errno || val[0] == '-') {
                snprintf(err, errsize, "--auto: seed=%s must be a non-negative integer", val);
                rc = -1;
                break;
            }
            p.seed = s;
        } else {
            snprintf(err, errsize, "--auto: unknown key \"%s\" (keys: sign, finish, return, seed)",
                     key);
            rc = -1;
            break;
        }
    }
    free(copy);
    if (rc == 0) *out = p;
    return rc;
}

/* ---- the draw ------------------------------------------------------------------ */

static uint64_t s_mix(uint64_t x)
{
    /* splitmix64 finaliser */
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

double auto_draw(uint64_t seed, int64_t ticket, int64_t nth)
{
    uint64_t h = s_mix(seed);
    h = s_mix(h ^ (uint64_t)ticket);
    h = s_mix(h ^ (uint64_t)nth);
    return (double)(h >> 11) / 9007199254740992.0; /* 53 bits in [0, 1) */
}

int auto_returns(const auto_policy *p, int64_t ticket, int64_t nth)
{
    return p->return_p > 0 && auto_draw(p->seed, ticket, nth) < p->return_p;
}

static const char *const s_results[] = {
    "已到现场核实处理，问题已解决，并已向来电人反馈。",
    "经现场协调，相关方已整改完毕，来电人表示认可。",
    "已安排人员处置完毕，后续将加强日常巡查。",
    "已联系责任单位维修完成，现场恢复正常。",
    "经核实情况属实，已依法督促整改到位。",
};

static const char *const s_returns[] = {
    "经核实不属于本单位职责范围，请重新派单。",
    "事发地点不在本辖区，请改派属地单位。",
    "该事项由行业主管部门负责，请重新派单。",
};

const char *auto_result_text(uint64_t seed, int64_t ticket)
{
    return s_results[s_mix(seed ^ (uint64_t)ticket * 31) % HL_ARRAY_LEN(s_results)];
}

const char *auto_return_text(uint64_t seed, int64_t ticket)
{
    return s_returns[s_mix(seed ^ (uint64_t)ticket * 37) % HL_ARRAY_LEN(s_returns)];
}

/* ---- the autopilot ----------------------------------------------------------------- */

enum { STEP_SIGN, STEP_FINISH };

/* How soon a step blocked by an unanswered action on its ticket looks again. */
#define AUTO_RECHECK_MS 250

typedef struct ap_step {
    int64_t due; /* monotonic ms */
    uint64_t order; /* ties broken by scheduling order: deterministic */
    int64_t ticket;
    int64_t nth;
    int kind;
} ap_step;

struct autopilot {
    uv_loop_t *loop;
    agent *agent;
    auto_policy pol;
    uv_timer_t timer;
    ap_step *heap;
    size_t n, cap;
    uint64_t order;
    int64_t armed; /* due of the armed timer, or -1 */
    hl_buf args;   /* an action's arguments being written */
};

static int s_less(const ap_step *a, const ap_step *b)
{
    return a->due < b->due || (a->due == b->due && a->order < b->order);
}

static void s_heap_push(autopilot *ap, ap_step st)
{
    if (ap->n == ap->cap) {
        ap->cap = ap->cap ? ap->cap * 2 : 256;
        ap->heap = hl_realloc(ap->heap, ap->cap * sizeof *ap->heap);
    }
    size_t i = ap->n++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!s_less(&st, &ap->heap[parent])) break;
        ap->heap[i] = ap->heap[parent];
        i = parent;
    }
    ap->heap[i] = st;
}

static ap_step s_heap_pop(autopilot *ap)
{
    ap_step top = ap->heap[0];
    ap_step last = ap->heap[--ap->n];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        const ap_step *best = &last;
        if (l < ap->n && s_less(&ap->heap[l], best)) {
            m = l;
            best = &ap->heap[l];
        }
        if (r < ap->n && s_less(&ap->heap[r], best)) m = r;
        if (m == i) break;
        ap->heap[i] = ap->heap[m];
        i = m;
    }
    if (ap->n) ap->heap[i] = last;
    return top;
}

static void s_timer_cb(uv_timer_t *t);

static void s_arm(autopilot *ap)
{
    if (!ap->n) {
        uv_timer_stop(&ap->timer);
        ap->armed = -1;
        return;
    }
    int64_t due = ap->heap[0].due;
    if (ap->armed == due) return;
    int64_t wait = due - hl_mono_ms();
    uv_timer_start(&ap->timer, s_timer_cb, wait > 0 ? (uint64_t)wait : 0, 0);
    ap->armed = due;
}

static void s_schedule(autopilot *ap, int kind, int64_t ticket, int64_t nth, int64_t delay)
{
    ap_step st = {hl_mono_ms() + delay, ap->order++, ticket, nth, kind};
    s_heap_push(ap, st);
    s_arm(ap);
}

static void s_run_step(autopilot *ap, const ap_step *st)
{
    wstore *store = agent_store(ap->agent);
    ws_ticket t;
    if (wstore_ticket_head(store, st->ticket, &t) != 0) return;
    int ours = strcmp(t.lead, agent_unit(ap->agent)) == 0;
    if (!ours) goto out;
    if (agent_open_for(ap->agent, t.id)) {
        /* an earlier action on the ticket still waits for its answer (say
         * a finish resent after the link came back, while the ticket was
         * reopened): look again shortly instead of dropping the step, which
         * nothing would schedule again */
        ap_step again = *st;
        again.due = hl_mono_ms() + AUTO_RECHECK_MS;
        again.order = ap->order++;
        s_heap_push(ap, again);
        goto out;
    }
    /* the arguments written as text: {"ticket":ID[,"reason"|"result":TEXT]} */
    hl_buf *b = &ap->args;
    hl_buf_reset(b);
    hl_buf_adds(b, "{\"ticket\":");
    hl_json_write_int(b, t.id);
    if (st->kind == STEP_SIGN) {
        if (strcmp(t.status, "dispatched") != 0 || t.assigned != st->nth) goto out;
        if (auto_returns(&ap->pol, t.id, st->nth)) {
            hl_buf_adds(b, ",\"reason\":");
            hl_json_write_str(b, auto_return_text(ap->pol.seed, t.id));
            hl_buf_addc(b, '}');
            agent_act_text(ap->agent, "return", t.id, t.no, b->data);
        } else {
            hl_buf_addc(b, '}');
            agent_act_text(ap->agent, "sign", t.id, t.no, b->data);
        }
    } else {
        if (strcmp(t.status, "accepted") != 0) goto out;
        hl_buf_adds(b, ",\"result\":");
        hl_json_write_str(b, auto_result_text(ap->pol.seed, t.id));
        hl_buf_addc(b, '}');
        agent_act_text(ap->agent, "finish", t.id, t.no, b->data);
    }
out:
    wstore_ticket_free(&t);
}

static void s_timer_cb(uv_timer_t *t)
{
    autopilot *ap = t->data;
    ap->armed = -1;
    int64_t now = hl_mono_ms();
    /* a bounded batch per turn keeps the loop responsive to the socket */
    for (int i = 0; i < 2000 && ap->n && ap->heap[0].due <= now; i++) {
        ap_step st = s_heap_pop(ap);
        s_run_step(ap, &st);
    }
    s_arm(ap);
}

/* ---- agent hooks --------------------------------------------------------------------- */

static void s_on_ticket(agent *a, const char *kind, const ws_ticket *now, const ws_ticket *prev,
                        void *arg)
{
    (void)a;
    (void)prev;
    autopilot *ap = arg;
    if (strcmp(kind, "assigned") == 0 || strcmp(kind, "reopened") == 0) {
        hl_debug("auto: ticket %s %s", now->no, kind);
        s_schedule(ap, STEP_SIGN, now->id, now->assigned, ap->pol.sign_ms);
    }
}

static void s_on_action(agent *a, const ws_action *act, const cJSON *result, void *arg)
{
    (void)a;
    (void)result;
    autopilot *ap = arg;
    if (act->state == WS_REFUSED) {
        hl_warn("auto: %s %s refused: %s: %s", act->op, act->ref, act->code ? act->code : "",
                act->message ? act->message : "");
        return;
    }
    if (strcmp(act->op, "sign") == 0 && act->ticket > 0)
        s_schedule(ap, STEP_FINISH, act->ticket, 0, ap->pol.finish_ms);
}

static void s_on_link(agent *a, int up, const char *why, void *arg)
{
    (void)a;
    (void)arg;
    if (!up) hl_info("auto: link down (%s); actions wait in the outbox", why ? why : "");
}

static void s_on_refused(agent *a, const char *code, const char *message, void *arg)
{
    (void)arg;
    hl_fatal("the dispatcher refused this worker (unit %s): %s: %s", agent_unit(a), code,
             message);
}

static int s_resume_one(const ws_ticket *t, void *arg)
{
    autopilot *ap = arg;
    if (agent_open_for(ap->agent, t->id)) return 0;
    if (strcmp(t->status, "dispatched") == 0)
        s_schedule(ap, STEP_SIGN, t->id, t->assigned, ap->pol.sign_ms);
    else if (strcmp(t->status, "accepted") == 0)
        s_schedule(ap, STEP_FINISH, t->id, 0, ap->pol.finish_ms);
    return 0;
}

autopilot *auto_new(uv_loop_t *loop, agent *a, const auto_policy *p)
{
    autopilot *ap = hl_calloc(1, sizeof *ap);
    ap->loop = loop;
    ap->agent = a;
    ap->pol = *p;
    ap->armed = -1;
    hl_buf_init(&ap->args);
    uv_timer_init(loop, &ap->timer);
    ap->timer.data = ap;
    static const agent_ui ui = {s_on_ticket, s_on_action, s_on_link, NULL, s_on_refused};
    agent_set_ui(a, &ui, ap);
    agent_set_columns_only(a, 1); /* it reads ids and statuses, and shows nobody anything */
    return ap;
}

void auto_resume(autopilot *ap)
{
    wstore_ticket_each(agent_store(ap->agent), 1, s_resume_one, ap);
}

size_t auto_scheduled(const autopilot *ap)
{
    return ap->n;
}

static void s_closed(uv_handle_t *h)
{
    autopilot *ap = h->data;
    free(ap->heap);
    hl_buf_free(&ap->args);
    free(ap);
}

void auto_destroy(autopilot **app)
{
    autopilot *ap = *app;
    if (!ap) return;
    *app = NULL;
    agent_set_ui(ap->agent, NULL, NULL);
    uv_close((uv_handle_t *)&ap->timer, s_closed);
}
