/* route.c — DESIGN §5: location (explicit cell, else point-in-polygon),
 * ordered rules, then the category's handling, then co units. Reads only the
 * configuration; must not touch the store, sessions or the clock. */
#include "route.h"

#include "hotline/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int route_cell_town(const hl_config *cfg, int cell)
{
    if (cell < 0 || cell >= cfg->ncells) return -1;
    int unit = cfg->cells[cell].unit;
    return unit >= 0 ? cfg->units[unit].town : -1;
}

static int s_category_matches(const hl_strlist *pats, const char *code)
{
    for (int i = 0; i < pats->n; i++) {
        const char *p = pats->items[i];
        size_t n = strlen(p);
        if (n > 0 && p[n - 1] == '*') {
            if (strncmp(code, p, n - 1) == 0) return 1;
        } else if (strcmp(code, p) == 0) {
            return 1;
        }
    }
    return 0;
}

static int s_text_has(const char *text, const char *word)
{
    return text && strstr(text, word) != NULL;
}

static int s_rule_matches(const hl_config *cfg, const hl_rule *r, const route_input *in, int cell,
                          int town)
{
    if (r->categories.n > 0 &&
        !s_category_matches(&r->categories, cfg->categories[in->category].code))
        return 0;
    if (r->urgencies && !(r->urgencies & (1 << in->urgency))) return 0;
    if (r->channels && !(r->channels & (1 << in->channel))) return 0;
    if (r->ntowns > 0) {
        int hit = 0;
        for (int i = 0; i < r->ntowns && !hit; i++)
            hit = town >= 0 && r->towns[i] == town;
        if (!hit) return 0;
    }
    if (r->cells.n > 0) {
        int hit = 0;
        for (int i = 0; i < r->cells.n && !hit; i++)
            hit = cell >= 0 && strcmp(r->cells.items[i], cfg->cells[cell].id) == 0;
        if (!hit) return 0;
    }
    if (r->keywords.n > 0) {
        int hit = 0;
        for (int i = 0; i < r->keywords.n && !hit; i++)
            hit = s_text_has(in->title, r->keywords.items[i]) ||
                  s_text_has(in->description, r->keywords.items[i]);
        if (!hit) return 0;
    }
    return 1;
}

int route_resolve_co(const hl_config *cfg, const int *list, int n, int cell, int lead, int *out,
                     int nout)
{
    for (int i = 0; i < n; i++) {
        int u = list[i];
        if (u == HL_CO_TERRITORIAL)
            u = route_cell_town(cfg, cell);
        else if (u == HL_CO_GRID)
            u = cell >= 0 ? cfg->cells[cell].unit : -1;
        if (u < 0 || u >= cfg->nunits || u == lead) continue;
        int dup = 0;
        for (int k = 0; k < nout && !dup; k++)
            dup = out[k] == u;
        if (!dup) out[nout++] = u;
    }
    return nout;
}

hl_err route_ticket(const hl_config *cfg, const route_input *in, route_result *out, char *msg,
                    size_t msgsize)
{
    memset(out, 0, sizeof *out);
    out->cell = out->town = out->lead = out->rule = -1;
    if (in->category < 0 || in->category >= cfg->ncategories) {
        snprintf(msg, msgsize, "no such category");
        return HL_E_UNKNOWN_CATEGORY;
    }
    int cell = -1;
    if (in->cell) {
        cell = hl_config_cell(cfg, in->cell);
        if (cell < 0) {
            char shown[80];
            hl_strlcpy(shown, in->cell, sizeof shown);
            snprintf(msg, msgsize,
                     "no grid cell \"%s\" in this city; give a cell id from the configuration, "
                     "or lat/lon instead",
                     shown);
            return HL_E_UNKNOWN_CELL;
        }
    } else if (in->has_point) {
        cell = hl_config_locate(cfg, in->lat, in->lon);
    }
    int town = route_cell_town(cfg, cell);
    const hl_category *cat = &cfg->categories[in->category];

    int lead = -1, rule = -1;
    const int *colist = cat->co;
    int ncolist = cat->nco;
    for (int i = 0; i < cfg->nrules; i++) {
        if (s_rule_matches(cfg, &cfg->rules[i], in, cell, town)) {
            rule = i;
            lead = cfg->rules[i].lead;
            colist = cfg->rules[i].co;
            ncolist = cfg->rules[i].nco;
            break;
        }
    }
    if (rule < 0) {
        switch (cat->handling) {
        case HL_HANDLE_GRID:
            lead = cell >= 0 ? cfg->cells[cell].unit : -1;
            break;
        case HL_HANDLE_TERRITORIAL:
            lead = town;
            break;
        case HL_HANDLE_DEPARTMENT:
            lead = cat->department;
            break;
        }
    }
    out->cell = cell;
    out->town = town;
    out->lead = lead;
    out->rule = rule;
    if (ncolist > 0) {
        out->co = hl_calloc((size_t)ncolist, sizeof(int));
        out->nco = route_resolve_co(cfg, colist, ncolist, cell, lead, out->co, 0);
    }
    return HL_OK;
}

void route_result_free(route_result *r)
{
    free(r->co);
    r->co = NULL;
    r->nco = 0;
}
