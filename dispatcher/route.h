/* route.h — routing of a new ticket (分级负责、部门管理、属地办理): where it
 * happened, which rule or handling gives the lead, and the co units.
 * A pure function of the configuration and the ticket's fields. */
#ifndef HOTLINE_ROUTE_H
#define HOTLINE_ROUTE_H

#include "hotline/config.h"
#include "hotline/proto.h"

typedef struct route_input {
    int category; /* index into cfg->categories */
    hl_urgency urgency;
    hl_channel channel;
    const char *title;       /* may be NULL */
    const char *description; /* may be NULL */
    const char *cell;        /* explicit cell id, NULL when not given */
    int has_point;           /* lat/lon given */
    double lat, lon;
} route_input;

typedef struct route_result {
    int cell; /* cell index, -1 when the ticket has no cell */
    int town; /* unit index of the cell's town, -1 when none */
    int lead; /* unit index, -1 when nothing places it (triage) */
    int rule; /* index of the rule that matched, -1 when handling decided */
    int *co;  /* unit indexes, never the lead, no duplicates */
    int nco;
} route_result;

/* Route a ticket. Returns HL_OK with *out filled (release it with
 * route_result_free), or HL_E_UNKNOWN_CELL when an explicit cell does not
 * exist, with a sentence for a person in msg; *out is then empty. */
hl_err route_ticket(const hl_config *cfg, const route_input *in, route_result *out, char *msg,
                    size_t msgsize);
void route_result_free(route_result *r);

/* Resolve a co list (unit indexes or HL_CO_TERRITORIAL / HL_CO_GRID)
 * against a cell (-1 for none): tokens without a cell are dropped, the lead
 * and duplicates are left out. Appends to out (room for n more entries) and
 * returns the new count. */
int route_resolve_co(const hl_config *cfg, const int *list, int n, int cell, int lead, int *out,
                     int nout);

/* The town of a cell (nearest ancestor-or-self of level town), -1 if none. */
int route_cell_town(const hl_config *cfg, int cell);

#endif
