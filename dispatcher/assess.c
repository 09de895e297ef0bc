/* assess.c — rates, weighted scores and ranking of units (考核). Works on
 * counts handed to it; must not read the database or the configuration
 * itself, so the arithmetic is testable alone. */
#include "assess.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void assess_rates(assess_row *r, const assess_weights *w)
{
    r->has_sign_rate = r->has_finish_rate = r->assigned > 0;
    r->sign_rate = r->assigned > 0 ? (double)r->signed_on_time / (double)r->assigned : 0;
    r->finish_rate = r->assigned > 0 ? (double)r->finished_on_time / (double)r->assigned : 0;
    r->has_satisfaction = r->callbacks > 0;
    r->satisfaction =
        r->callbacks > 0 ? (double)(r->satisfied + r->basic) / (double)r->callbacks : 0;
    const int has[3] = {r->has_sign_rate, r->has_finish_rate, r->has_satisfaction};
    const double rate[3] = {r->sign_rate, r->finish_rate, r->satisfaction};
    const double weight[3] = {w->sign_rate, w->finish_rate, w->satisfaction};
    double sum = 0, wsum = 0;
    for (int i = 0; i < 3; i++) {
        if (!has[i] || !(weight[i] > 0)) continue;
        sum += weight[i] * rate[i];
        wsum += weight[i];
    }
    r->has_score = wsum > 0;
    /* two decimals: what people compare, and what ties are judged on */
    r->score = wsum > 0 ? round(10000.0 * sum / wsum) / 100.0 : 0;
    r->rank = 0;
}

static int s_cmp(const void *pa, const void *pb)
{
    const assess_row *a = pa, *b = pb;
    if (a->has_score != b->has_score) return a->has_score ? -1 : 1;
    if (a->has_score && a->score != b->score) return a->score > b->score ? -1 : 1;
    if (a->has_score && a->assigned != b->assigned) return a->assigned > b->assigned ? -1 : 1;
    return strcmp(a->unit, b->unit);
}

void assess_rank(assess_row *rows, int n, const assess_weights *w)
{
    for (int i = 0; i < n; i++)
        assess_rates(&rows[i], w);
    if (n > 1) qsort(rows, (size_t)n, sizeof *rows, s_cmp);
    for (int i = 0; i < n; i++)
        rows[i].rank = rows[i].has_score ? i + 1 : 0;
}
