/* ticket.h — the ticket record the dispatcher works on: statuses, the
 * in-memory struct that the store fills and core changes, and the one place
 * where the ticket object of the wire protocol is built from it. */
#ifndef HOTLINE_TICKET_H
#define HOTLINE_TICKET_H

#include "hotline/config.h"
#include "hotline/timefmt.h"
#include "hotline/util.h"

#include <cjson/cJSON.h>
#include <stdint.h>

typedef enum ticket_status {
    TS_TRIAGE,
    TS_DISPATCHED,
    TS_ACCEPTED,
    TS_RESOLVED,
    TS_CLOSED,
    TS_MERGED,
    TS_CANCELLED,
    TS__COUNT
} ticket_status;

/* Bits of a status set: TS_BIT(TS_TRIAGE) | ... */
#define TS_BIT(s) (1u << (s))
#define TS_OPEN_SET                                                                                \
    (TS_BIT(TS_TRIAGE) | TS_BIT(TS_DISPATCHED) | TS_BIT(TS_ACCEPTED) | TS_BIT(TS_RESOLVED))

const char *ticket_status_name(ticket_status s);
/* The status of a wire name, or -1. */
int ticket_status_parse(const char *s);
/* 1 for triage, dispatched, accepted and resolved. */
int ticket_status_open(ticket_status s);

typedef enum { TEXT_NONE, TEXT_PENDING, TEXT_APPROVED, TEXT_DENIED } ticket_ext_state;
const char *ticket_ext_state_name(ticket_ext_state s);
int ticket_ext_state_parse(const char *s);

/* A ticket. Every char * is owned by the struct (NULL when empty) and set
 * with ticket_set(); times are ms since the epoch, 0 when unset. */
typedef struct ticket {
    int64_t id;
    char no[32];
    ticket_status status;
    char *category;
    hl_urgency urgency;
    hl_channel channel;
    char *title, *description;
    char *caller_name, *caller_phone;
    char *cell;
    int has_point;
    double lat, lon;
    char *address;
    char *town;
    char *lead;
    char **co; /* unit ids */
    int nco;
    char *escalated_to;
    hl_ms created_at, dispatched_at, signed_at, resolved_at, closed_at, sign_due, finish_due;
    int yellow, red;
    int repeat_calls, reopen_count, supervise_count;
    ticket_ext_state ext_state;
    hl_ms ext_until;
    char *ext_reason;
    int ext_count; /* extensions requested during the current dispatch */
    char *result;
    char *satisfaction;
    char *merged_into; /* the no of the ticket it was merged into */
    char *return_reason;
    int64_t dispatch_id; /* the current row of the dispatches table, 0 if none */
} ticket;

/* Free every owned string and zero the struct. */
void ticket_clear(ticket *t);
/* Replace an owned string with a copy of s (NULL or "" clears it). */
void ticket_set(char **field, const char *s);
/* Replace the co list with copies of ids. */
void ticket_set_co(ticket *t, char *const *ids, int n);
/* 1 when unit is in the co list. */
int ticket_has_co(const ticket *t, const char *unit);

/* The ticket object of protocol/PROTOCOL.md, every field present, written
 * as text straight into b — byte for byte what cJSON prints for the same
 * object (tests/unit/test_ticket.c builds it with cJSON and compares), at a
 * fraction of the cost: no tree, no number formatting through printf. */
void ticket_json_write(const ticket *t, const hl_config *cfg, struct hl_buf *b);
/* The short form carried by events: {id, no, status, lead, category, urgency}. */
void ticket_json_brief_write(const ticket *t, struct hl_buf *b);
/* As raw items, for results printed once: the caller may add them to a
 * tree but not look inside. */
cJSON *ticket_json_raw(const ticket *t, const hl_config *cfg);
cJSON *ticket_json_brief_raw(const ticket *t);
/* As a tree, for a result that grows inside the ticket (get's events). */
cJSON *ticket_json(const ticket *t, const hl_config *cfg);

/* The co list as a JSON array text and back (for storage). */
char *ticket_co_text(const ticket *t);
void ticket_co_from_text(ticket *t, const char *text);

#endif
