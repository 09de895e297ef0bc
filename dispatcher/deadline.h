/* deadline.h — the arithmetic of the 红黄旗 (DESIGN §6): when a stage of a
 * dispatch raises its yellow flag and its reds, which unit each red
 * escalates to, and the next threshold a dispatch waits for. Pure
 * functions of the configuration and the dispatch's state: no I/O, no
 * clock, no database (core and store keep the state, server the timer). */
#ifndef HOTLINE_DEADLINE_H
#define HOTLINE_DEADLINE_H

#include "hotline/config.h"
#include "hotline/timefmt.h"

/* The two stages of a dispatch. */
typedef enum { DL_SIGN = 0, DL_FINISH = 1, DL__STAGES } deadline_stage_kind;

const char *deadline_stage_name(deadline_stage_kind k); /* "sign", "finish" */

/* One stage: it runs from start (the dispatch time) to due. */
typedef struct deadline_stage {
    hl_ms start;
    hl_ms due;
    hl_duration len; /* the stage's SLA duration */
    /* due was moved by an approved extension: the stage then spans
     * start..due, measured in working time when len is (wh, wd) and in
     * wall-clock time otherwise */
    int extended;
    double warn; /* the SLA's warn fraction, in (0, 1] */
} deadline_stage;

/* The alerts of a stage are numbered by step: step 0 is the yellow flag
 * (warn of the stage's time has passed: hl_cal_add(start, len, warn), a
 * working-time fraction for wh/wd); step k >= 1 is the red flag of tier k,
 * at due + (k - 1) stage lengths (step 1 at due itself). */
hl_ms deadline_threshold(const hl_calendar *cal, const deadline_stage *s, int step);

/* How many steps a stage of a dispatch led by unit `lead` (a unit index)
 * has: the yellow plus one red per tier, and there are as many tiers as
 * the lead has ancestors (at least one: a root lead still gets its red). */
int deadline_steps(const hl_config *cfg, int lead);

/* The unit a red of tier `tier` escalates to: the tier-th ancestor of lead
 * (tier 1 = its parent), or -1 when lead has no such ancestor. */
int deadline_escalation(const hl_config *cfg, int lead, int tier);

/* Where a dispatch stands. A stage that is not open (done, or the dispatch
 * is no longer current) raises nothing more. */
typedef struct deadline_state {
    deadline_stage stage[DL__STAGES];
    int open[DL__STAGES];
    int step[DL__STAGES]; /* steps raised so far in the stage */
    int nsteps;           /* deadline_steps of the lead */
} deadline_state;

/* The earliest threshold still to come of d, and its stage in *stage
 * (when stage is not NULL); 0 when nothing is pending. Ties go to the
 * sign stage. */
hl_ms deadline_next(const hl_calendar *cal, const deadline_state *d, int *stage);

#endif
