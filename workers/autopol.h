/* autopol.h — the auto policy for drills, demos and benchmarks:
 * "sign=2s,finish=30s,return=0.02,seed=7". Each ticket assigned to the unit
 * is, after the sign delay, either returned (with probability `return`, a
 * deterministic draw from seed, ticket id and how many times the ticket was
 * assigned here) or signed; a signed ticket is finished after the finish
 * delay with a generated result. */
#ifndef HOTLINE_WORKER_AUTOPOL_H
#define HOTLINE_WORKER_AUTOPOL_H

#include "agent.h"

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct auto_policy {
    int64_t sign_ms;
    int64_t finish_ms;
    double return_p;
    uint64_t seed;
} auto_policy;

/* Parse "key=value,..." (keys sign, finish, return, seed; any subset; the
 * defaults are sign=2s, finish=30s, return=0, seed=1). Delays take 0, "ms",
 * "s", "m", "h" or "d". Returns 0, or -1 with a message in err. */
int auto_policy_parse(const char *text, auto_policy *out, char *err, size_t errsize);
/* Parse a delay: "0", "250ms", "2s", "5m", "1h", "1d". 0 or -1. */
int auto_delay_parse(const char *text, int64_t *ms);
/* The deterministic draw in [0, 1) for a ticket's nth assignment. */
double auto_draw(uint64_t seed, int64_t ticket, int64_t nth);
/* 1 when the policy returns this ticket's nth assignment. */
int auto_returns(const auto_policy *p, int64_t ticket, int64_t nth);
/* Generated texts (static strings), chosen by ticket. */
const char *auto_result_text(uint64_t seed, int64_t ticket);
const char *auto_return_text(uint64_t seed, int64_t ticket);

typedef struct autopilot autopilot;

/* Drive agent a with policy p: installs itself as the agent's UI. */
autopilot *auto_new(uv_loop_t *loop, agent *a, const auto_policy *p);
/* Schedule what the store already holds (tickets from an earlier run). */
void auto_resume(autopilot *ap);
void auto_destroy(autopilot **ap);
/* Steps scheduled and not yet due. */
size_t auto_scheduled(const autopilot *ap);

#endif
