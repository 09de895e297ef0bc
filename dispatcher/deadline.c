/* deadline.c — thresholds, tiers and escalation targets of the 红黄旗.
 * Owns the arithmetic only; it must not read the clock or the database, so
 * that every answer here is a unit-testable function of its arguments. */
#include "deadline.h"

#include <math.h>

const char *deadline_stage_name(deadline_stage_kind k)
{
    return k == DL_SIGN ? "sign" : "finish";
}

/* An extended stage spans start..due: its length in the stage's kind of
 * time (working milliseconds for wh/wd, wall milliseconds otherwise). */
static int64_t s_span(const hl_calendar *cal, const deadline_stage *s, int working)
{
    return working ? hl_cal_work_between(cal, s->start, s->due) : s->due - s->start;
}

static hl_ms s_plus(const hl_calendar *cal, hl_ms t, int64_t ms, int working)
{
    return working ? hl_cal_add_work(cal, t, ms) : t + ms;
}

hl_ms deadline_threshold(const hl_calendar *cal, const deadline_stage *s, int step)
{
    if (step == 1) return s->due;
    if (!s->extended) {
        if (step <= 0) return hl_cal_add(cal, s->start, &s->len, s->warn);
        return hl_cal_add(cal, s->due, &s->len, (double)(step - 1));
    }
    int working = hl_duration_is_working(&s->len);
    int64_t span = s_span(cal, s, working);
    if (step <= 0) return s_plus(cal, s->start, (int64_t)llround((double)span * s->warn), working);
    return s_plus(cal, s->due, span * (step - 1), working);
}

int deadline_steps(const hl_config *cfg, int lead)
{
    int tiers = lead >= 0 && lead < cfg->nunits ? cfg->units[lead].depth : 0;
    return 1 + (tiers > 0 ? tiers : 1);
}

int deadline_escalation(const hl_config *cfg, int lead, int tier)
{
    int u = lead;
    for (int i = 0; i < tier && u >= 0; i++)
        u = cfg->units[u].parent;
    return tier > 0 ? u : -1;
}

hl_ms deadline_next(const hl_calendar *cal, const deadline_state *d, int *stage)
{
    hl_ms best = 0;
    for (int k = 0; k < DL__STAGES; k++) {
        if (!d->open[k] || d->step[k] >= d->nsteps) continue;
        hl_ms t = deadline_threshold(cal, &d->stage[k], d->step[k]);
        if (best == 0 || t < best) {
            best = t;
            if (stage) *stage = k;
        }
    }
    return best;
}
