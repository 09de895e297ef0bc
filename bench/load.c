/* load.c — the bench-only bulk loader: writes tickets straight through the
 * store module (the dispatcher's own domain operations, in transactions of
 * 20,000), so a database of a million tickets takes a minute rather than
 * hours over the wire. Each ticket gets what a create through the protocol
 * gives it: its row, a dispatch to its town with the deadline engine's
 * next_check, a "created" event and a feed item. Used for B4 and B5 only;
 * the real dispatcher then opens the file. */
#include "bench.h"

#include "store.h"
#include "ticket.h"

#include "hotline/calendar.h"
#include "hotline/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOAD_TX 20000

static int s_fail(store *st, const char *what)
{
    fprintf(stderr, "bench: loader: %s: %s\n", what, store_errmsg(st));
    return -1;
}

/* The yellow threshold of a sign stage that starts at t: what the deadline
 * engine computes (the SLA's warn fraction of the sign duration). */
static hl_ms s_yellow(const bn_opts *o, const hl_sla *sla, hl_ms t)
{
    return hl_cal_add(o->cfg->calendar, t, &sla->sign, sla->warn);
}

/* One ticket through the store, as a create of the protocol leaves it:
 * dispatched at `at` to its town (next_check the engine's next threshold),
 * or, when closed, ended an hour later. */
static int s_ticket(store *st, const bn_opts *o, const hl_sla *sla, int i, const char *cell,
                    const char *town, hl_ms at, int closed, ticket *t)
{
    ticket_clear(t);
    ticket_set(&t->category, "env.noise");
    t->urgency = HL_URG_NORMAL;
    t->channel = HL_CH_PHONE;
    ticket_set(&t->description,
               "楼下广场舞音响声音过大，晚上十点以后仍未停止，严重影响老人和孩子休息。");
    ticket_set(&t->caller_name, "张先生");
    char phone[24];
    snprintf(phone, sizeof phone, "137%08d", i);
    ticket_set(&t->caller_phone, phone);
    ticket_set(&t->cell, cell);
    ticket_set(&t->address, "人民路100号");
    ticket_set(&t->town, town);
    ticket_set(&t->lead, town);
    t->created_at = at;
    t->status = TS_DISPATCHED;
    t->dispatched_at = at;
    t->sign_due = hl_cal_add(o->cfg->calendar, at, &sla->sign, 1.0);
    t->finish_due = hl_cal_add(o->cfg->calendar, at, &sla->finish, 1.0);
    char day[9];
    hl_cal_local_yyyymmdd(o->cfg->calendar, at, day);
    /* as a create does it: the dispatch first, for the id the ticket gets */
    t->id = store_ticket_next_id(st);
    store_dispatch d = {.ticket_id = t->id,
                        .unit = t->lead,
                        .dispatched_at = at,
                        .sign_due = t->sign_due,
                        .finish_due = t->finish_due,
                        .finish_due0 = t->finish_due,
                        .next_check = closed ? 0 : s_yellow(o, sla, at)};
    if (store_dispatch_open(st, &d, &t->dispatch_id) != STORE_OK) return s_fail(st, "dispatch");
    if (store_ticket_insert(st, t, day) != STORE_OK) return s_fail(st, "insert");
    if (closed) {
        t->status = TS_CLOSED;
        t->signed_at = at + 60000;
        t->resolved_at = at + 3600000;
        t->closed_at = at + 7200000;
        ticket_set(&t->result, "已到现场核实处理，问题已解决，并已向来电人反馈。");
        ticket_set(&t->satisfaction, "satisfied");
        if (store_dispatch_end(st, t->dispatch_id, t->closed_at, "closed") != STORE_OK)
            return s_fail(st, "dispatch end");
        t->dispatch_id = 0;
        if (store_ticket_update(st, t) != STORE_OK) return s_fail(st, "update");
    }
    int64_t seq = store_event_next_seq(st);
    char json[600], topic[96];
    snprintf(json, sizeof json,
             "{\"seq\":%lld,\"kind\":\"created\",\"actor\":\"operator:loader\",\"ticket\":{"
             "\"id\":%lld,\"no\":\"%s\",\"status\":\"dispatched\",\"lead\":\"%s\","
             "\"category\":\"env.noise\",\"urgency\":\"normal\"}}",
             (long long)seq, (long long)t->id, t->no, t->lead);
    snprintf(topic, sizeof topic, "ticket.created.%s", t->lead);
    store_event ev = {.seq = seq,
                      .ticket_id = t->id,
                      .time = at,
                      .kind = "created",
                      .topic = topic,
                      .actor = "operator:loader",
                      .to = "dispatched",
                      .unit = t->lead,
                      .note = "routed by territorial handling",
                      .json = json};
    int64_t fseq;
    if (store_event_append(st, &ev) != STORE_OK ||
        store_feed_add(st, t->lead, "assigned", t->id, at, &fseq) != STORE_OK)
        return s_fail(st, "event");
    return 0;
}

static store *s_open_for_load(const char *db, const hl_sla **sla, const bn_opts *o)
{
    static hl_sla s;
    s = hl_config_sla(o->cfg, hl_config_category(o->cfg, "env.noise"), HL_URG_NORMAL);
    *sla = &s;
    char *err = NULL;
    /* synchronous off while loading: closing checkpoints and syncs the file */
    store *st = store_open(db, 0, &err);
    if (!st) {
        fprintf(stderr, "bench: loader: %s\n", err);
        free(err);
    }
    return st;
}

int bn_load(const bn_opts *o, const char *db, int n, int open_n)
{
    const char *cells[16], *towns[16];
    int ncells = bn_town_cells(o->cfg, cells, towns, 10);
    const hl_sla *sla;
    store *st = s_open_for_load(db, &sla, o);
    if (!st || ncells == 0) return -1;
    hl_ms now = hl_now();
    /* closed ones spread over the last year, oldest first; the open ones
     * dispatched in the last minute, their thresholds hours ahead */
    hl_ms span = 365LL * 86400000;
    int rc = 0;
    ticket t = {0};
    for (int i = 0; i < n && rc == 0; i++) {
        if (i % LOAD_TX == 0 && store_begin(st) != STORE_OK) {
            rc = s_fail(st, "begin");
            break;
        }
        int open = i >= n - open_n;
        hl_ms at = open ? now - 60000 + (hl_ms)i * 60000 / n
                        : now - span + (hl_ms)((double)span * i / n);
        rc = s_ticket(st, o, sla, i, cells[i % ncells], towns[i % ncells], at, !open, &t);
        if (rc == 0 && ((i + 1) % LOAD_TX == 0 || i + 1 == n) && store_commit(st) != STORE_OK)
            rc = s_fail(st, "commit");
    }
    ticket_clear(&t);
    if (rc != 0) store_rollback(st);
    store_close(&st);
    return rc;
}

int bn_load_due(const bn_opts *o, const char *db, int n, hl_ms first, int64_t step_ms,
                int64_t *first_id)
{
    const char *cells[16], *towns[16];
    int ncells = bn_town_cells(o->cfg, cells, towns, 10);
    const hl_sla *sla;
    store *st = s_open_for_load(db, &sla, o);
    if (!st || ncells == 0) return -1;
    /* dispatched so that the yellow threshold of ticket k falls at
     * first + k * step (the sign duration is wall-clock time) */
    hl_ms offset = s_yellow(o, sla, first) - first;
    int rc = store_begin(st) == STORE_OK ? 0 : s_fail(st, "begin");
    ticket t = {0};
    for (int k = 0; k < n && rc == 0; k++) {
        hl_ms at = first + (hl_ms)k * step_ms - offset;
        rc = s_ticket(st, o, sla, 90000000 + k, cells[k % ncells], towns[k % ncells], at, 0, &t);
        if (k == 0) *first_id = t.id;
        if (rc == 0 && s_yellow(o, sla, at) != first + (hl_ms)k * step_ms) {
            fprintf(stderr, "bench: loader: the sign stage of env.noise is not wall-clock "
                            "time; B4 needs thresholds it can place exactly\n");
            rc = -1;
        }
    }
    if (rc == 0 && store_commit(st) != STORE_OK) rc = s_fail(st, "commit");
    ticket_clear(&t);
    if (rc != 0) store_rollback(st);
    store_close(&st);
    return rc;
}
