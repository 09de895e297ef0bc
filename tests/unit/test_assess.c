/* test_assess.c — unit tests for dispatcher/assess.c: the three rates, the
 * weighted score with missing rates dropping out (and their weights
 * renormalised), rounding, and the ranking with its tie-breaks. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "assess.h"

static const assess_weights s_w = {0.2, 0.4, 0.4};

static assess_row s_row(const char *unit, int64_t assigned, int64_t sign, int64_t finish,
                        int64_t callbacks, int64_t satisfied, int64_t basic)
{
    assess_row r;
    memset(&r, 0, sizeof r);
    strcpy(r.unit, unit);
    r.assigned = assigned;
    r.signed_on_time = sign;
    r.finished_on_time = finish;
    r.callbacks = callbacks;
    r.satisfied = satisfied;
    r.basic = basic;
    r.unsatisfied = callbacks - satisfied - basic;
    return r;
}

#define assert_near(a, b) assert_true(fabs((a) - (b)) < 1e-9)

static void test_rates_and_score(void **state)
{
    /* 3/7 signed and finished on time, 3 of 4 callbacks content */
    assess_row r = s_row("a", 7, 3, 3, 4, 2, 1);
    assess_rates(&r, &s_w);
    assert_true(r.has_sign_rate && r.has_finish_rate && r.has_satisfaction && r.has_score);
    assert_near(r.sign_rate, 3.0 / 7);
    assert_near(r.finish_rate, 3.0 / 7);
    assert_near(r.satisfaction, 0.75);
    assert_near(r.score, 55.71); /* 100 × (0.6 × 3/7 + 0.3) = 55.714… */

    /* everything perfect */
    r = s_row("b", 2, 2, 2, 2, 1, 1);
    assess_rates(&r, &s_w);
    assert_near(r.score, 100.0);

    /* nothing on time, all unsatisfied */
    r = s_row("c", 5, 0, 0, 3, 0, 0);
    assess_rates(&r, &s_w);
    assert_true(r.has_score);
    assert_near(r.score, 0.0);
}

static void test_missing_rates(void **state)
{
    /* no callbacks: satisfaction is null and its weight drops out */
    assess_row r = s_row("a", 4, 3, 2, 0, 0, 0);
    assess_rates(&r, &s_w);
    assert_false(r.has_satisfaction);
    assert_true(r.has_score);
    assert_near(r.score, 58.33); /* 100 × (0.2 × 0.75 + 0.4 × 0.5) / 0.6 */

    /* nothing assigned: no rate, no score */
    r = s_row("b", 0, 0, 0, 0, 0, 0);
    assess_rates(&r, &s_w);
    assert_false(r.has_sign_rate || r.has_finish_rate || r.has_satisfaction || r.has_score);

    /* a weight of zero counts for nothing; only satisfaction weighs, and
     * there are no callbacks: no score */
    assess_weights only_sat = {0, 0, 1};
    r = s_row("c", 3, 3, 3, 0, 0, 0);
    assess_rates(&r, &only_sat);
    assert_true(r.has_sign_rate);
    assert_false(r.has_score);
    r = s_row("d", 3, 0, 0, 2, 1, 0);
    assess_rates(&r, &only_sat);
    assert_near(r.score, 50.0);
}

static void test_rank(void **state)
{
    assess_row rows[6] = {
        s_row("t.x", 0, 0, 0, 0, 0, 0), /* no score: last */
        s_row("t.b", 4, 3, 2, 1, 0, 0), /* 35.00 */
        s_row("t.a", 7, 3, 3, 4, 2, 1), /* 55.71 */
        s_row("t.w", 1, 1, 1, 0, 0, 0), /* 100.00, one dispatch */
        s_row("t.v", 3, 3, 3, 0, 0, 0), /* 100.00, three: before t.w */
        s_row("t.u", 3, 3, 3, 0, 0, 0), /* 100.00, three: by id before t.v */
    };
    assess_rank(rows, 6, &s_w);
    const char *order[] = {"t.u", "t.v", "t.w", "t.a", "t.b", "t.x"};
    const int ranks[] = {1, 2, 3, 4, 5, 0};
    for (int i = 0; i < 6; i++) {
        assert_string_equal(rows[i].unit, order[i]);
        assert_int_equal(rows[i].rank, ranks[i]);
    }
    /* scores equal to two decimals are ties */
    assess_row near[2] = {s_row("t.p", 300000, 299999, 299999, 1, 1, 0),
                          s_row("t.q", 400000, 400000, 400000, 1, 1, 0)};
    assess_rank(near, 2, &s_w);
    assert_near(near[0].score, 100.0);
    assert_near(near[1].score, 100.0);
    assert_string_equal(near[0].unit, "t.q"); /* more assigned */
    /* one row, and none */
    assess_row one = s_row("t.a", 1, 0, 0, 0, 0, 0);
    assess_rank(&one, 1, &s_w);
    assert_int_equal(one.rank, 1);
    assess_rank(NULL, 0, &s_w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rates_and_score),
        cmocka_unit_test(test_missing_rates),
        cmocka_unit_test(test_rank),
    };
    return cmocka_run_group_tests_name("assess", tests, NULL, NULL);
}
