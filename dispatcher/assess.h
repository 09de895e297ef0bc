/* assess.h — the assessment of units (考核, DESIGN §7): from the counts of
 * each unit's dispatches in a period to its three rates, its weighted score
 * and its rank. The counting itself is one query in the store; this module
 * only does the arithmetic, so it can be tested without a database. */
#ifndef HOTLINE_ASSESS_H
#define HOTLINE_ASSESS_H

#include <stdint.h>

/* One unit's row: the counts come from the store, the rest from
 * assess_rank(). A rate that cannot be computed (nothing to divide by) has
 * its has_ flag clear and is reported as null. */
typedef struct assess_row {
    char unit[128];
    int64_t assigned, signed_on_time, finished_on_time, overdue, returned, reopened;
    int64_t callbacks, satisfied, basic, unsatisfied, yellow, red;
    int has_sign_rate, has_finish_rate, has_satisfaction, has_score;
    double sign_rate, finish_rate, satisfaction;
    double score; /* 0..100, rounded to two decimals */
    int rank;     /* 1..n among the rows with a score; 0 for a row without one */
} assess_row;

typedef struct assess_weights {
    double sign_rate, finish_rate, satisfaction;
} assess_weights;

/* Fill the rates and the score of one row: sign_rate =
 * signed_on_time / assigned, finish_rate = finished_on_time / assigned,
 * satisfaction = (satisfied + basic) / callbacks; score = 100 × the
 * weighted mean of the rates that exist (weights of missing rates drop out
 * and the rest are renormalised; no score when no weight is left). */
void assess_rates(assess_row *r, const assess_weights *w);

/* Rates and scores of every row, then sort them by rank: score
 * descending, ties by assigned descending, then by unit id; rows without
 * a score come last (rank 0), ordered by unit id. Ranks are 1, 2, 3, …
 * with no two rows sharing one. */
void assess_rank(assess_row *rows, int n, const assess_weights *w);

#endif
