/*
 * test_credit.c - the credit plugin through the real log and host (units
 * of scenarios.h).
 *
 * Loans (M = 1,000,000 VND; times +07):
 *   L1  22901 hA poor              50M  2023-06-01; repaid 10M + 45M (55M:
 *                                       over-paid, outstanding 0)
 *   L2  22901 hB near_poor         30M  2024-12-31 23:59:59 (last second of
 *                                       2024) + a 10M tranche in 2025
 *   L3  22950 hC poor              20M  2025-01-01 00:00:00 (first second
 *                                       of 2025)
 *   L4  22902 hD water_sanitation  25M  2024-06-01; repaid 5M
 *   L9  22903 hE poor               8M  2024-06-01, in part 2; its 5M
 *                                       repayment is logged in part 1
 * Statuses: 2023 hA poor, hB near_poor (22901).  2024: hA poor, hB
 * near_poor (22901), hC poor (22950), hD average (22902), hE poor
 * (22903, logged before its loan), hF poor in 22902 then again in 22901
 * (last wins, unit of that event), hG poor then average (22902).
 * 2025: hC poor (22950).
 *
 *   22901: L1 L2: loans 2, disbursed 90M, repaid 55M, outstanding 40M;
 *          coverage 2024: pnp hA hB hF = 3, with loan hA hB = 2.
 *   593 part 1: + L4: loans 3, disbursed 115M, repaid 60M, outst. 60M;
 *          2024: pnp hA hB hF hE = 4, with loan 2.
 *   593 part 2: + L9 (8M, 5M repaid first): loans 4, disbursed 123M,
 *          repaid 65M, outstanding 63M; with loan 3 (hE).
 *   594: L3 20M; 2024: hC 1, with loan 0 (L3 is 2025); 2025: 1 and 1.
 *   60: 5 loans, 143M, 65M, 83M; 2024: 5 pnp, 3 with loan, 60%.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "scenarios.h"

#define M INT64_C(1000000)
#define T23 INT64_C(1685552400) /* 2023-06-01 00:00 +07 */
#define T24 INT64_C(1717174800) /* 2024-06-01 00:00 +07 */
#define Y25 INT64_C(1735664400) /* 2025-01-01 00:00 +07 */

static struct ev_str s_(const char *s)
{
    struct ev_str r = {s, s != NULL ? (uint32_t)strlen(s) : 0};
    return r;
}

static void lend(struct fx *fx, int64_t at, const char *unit, const char *hh,
                 const char *loan, const char *program, int64_t amount)
{
    struct ev_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = EV_CREDIT_DISBURSED;
    ev.at = at;
    ev.unit = s_(unit);
    ev.household = s_(hh);
    ev.data.loan = s_(loan);
    ev.data.program = s_(program);
    ev.data.amount = amount;
    fx_add(fx, &ev);
}

static void repay(struct fx *fx, int64_t at, const char *unit, const char *hh,
                  const char *loan, int64_t amount)
{
    struct ev_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = EV_CREDIT_REPAID;
    ev.at = at;
    ev.unit = s_(unit);
    ev.household = s_(hh);
    ev.data.loan = s_(loan);
    ev.data.amount = amount;
    fx_add(fx, &ev);
}

static void part1(struct fx *fx)
{
    sc_units(fx);
    lend(fx, T23, "22901", "hA", "L1", "poor", 50 * M);
    repay(fx, T23 + 100, "22901", "hA", "L1", 10 * M);
    repay(fx, T24, "22901", "hA", "L1", 45 * M);
    lend(fx, Y25 - 1, "22901", "hB", "L2", "near_poor", 30 * M);
    lend(fx, Y25 + 100, "22901", "hB", "L2", "near_poor", 10 * M);
    lend(fx, Y25, "22950", "hC", "L3", "poor", 20 * M);
    lend(fx, T24, "22902", "hD", "L4", "water_sanitation", 25 * M);
    repay(fx, T24 + 1, "22902", "hD", "L4", 5 * M);
    repay(fx, T24 + 2, "22903", "hE", "L9", 5 * M); /* before L9 */
    fx_status(fx, T23, "22901", "hA", 2023, EV_STATUS_POOR);
    fx_status(fx, T23, "22901", "hB", 2023, EV_STATUS_NEAR_POOR);
    fx_status(fx, T24, "22901", "hA", 2024, EV_STATUS_POOR);
    fx_status(fx, T24, "22901", "hB", 2024, EV_STATUS_NEAR_POOR);
    fx_status(fx, T24, "22950", "hC", 2024, EV_STATUS_POOR);
    fx_status(fx, T24, "22902", "hD", 2024, EV_STATUS_AVERAGE);
    fx_status(fx, T24, "22903", "hE", 2024, EV_STATUS_POOR);
    fx_status(fx, T24, "22902", "hF", 2024, EV_STATUS_POOR);
    fx_status(fx, T24 + 5, "22901", "hF", 2024, EV_STATUS_POOR);
    fx_status(fx, T24, "22902", "hG", 2024, EV_STATUS_POOR);
    fx_status(fx, T24 + 5, "22902", "hG", 2024, EV_STATUS_AVERAGE);
    fx_status(fx, Y25, "22950", "hC", 2025, EV_STATUS_POOR);
}

static void part2(struct fx *fx)
{
    lend(fx, T24, "22903", "hE", "L9", "poor", 8 * M);
}

struct vec {
    int64_t loans, disbursed, repaid, outstanding;
};

static void expect_vec(const msgpack_object *o, const struct vec *v)
{
    assert_int_equal(fx_i64(o, "loans"), v->loans);
    assert_int_equal(fx_i64(o, "disbursed"), v->disbursed);
    assert_int_equal(fx_i64(o, "repaid"), v->repaid);
    assert_int_equal(fx_i64(o, "outstanding"), v->outstanding);
}

/* Check the totals and the number of programmes of unit; returns the
 * reply (caller frees) for the by_program checks. */
static const msgpack_object *expect_totals(struct fx *fx, struct fx_reply *r,
                                           const char *unit,
                                           const struct vec *v, uint32_t nprog)
{
    char q[64], s[16];
    snprintf(q, sizeof q, "{\"unit\":\"%s\"}", unit);
    const msgpack_object *res = fx_query(fx, r, "credit", q);
    assert_int_equal(res->via.map.size, 6);
    assert_string_equal(fx_str(res, "unit", s, sizeof s), unit);
    expect_vec(res, v);
    const msgpack_object *bp = fx_get(res, "by_program");
    assert_int_equal(bp->type, MSGPACK_OBJECT_MAP);
    assert_int_equal(bp->via.map.size, nprog);
    return bp;
}

static void expect_cov(struct fx *fx, const char *unit, int year, int64_t pnp,
                       int64_t wl, double rate)
{
    char q[64];
    snprintf(q, sizeof q, "{\"unit\":\"%s\",\"year\":%d}", unit, year);
    struct fx_reply r;
    const msgpack_object *res = fx_query(fx, &r, "credit", q);
    assert_int_equal(res->via.map.size, 7);
    const msgpack_object *c = fx_get(res, "coverage");
    assert_int_equal(c->via.map.size, 3);
    assert_int_equal(fx_i64(c, "poor_near_poor"), pnp);
    assert_int_equal(fx_i64(c, "with_loan"), wl);
    if (rate < 0) {
        assert_true(fx_is_nil(c, "rate"));
    } else {
        double got = fx_f64(c, "rate");
        assert_true(got > rate - 1e-9 && got < rate + 1e-9);
    }
    fx_reply_free(&r);
}

static void test_loans(void **state)
{
    (void)state;
    struct fx *fx = fx_new("credit");
    part1(fx);
    fx_sync(fx);
    struct fx_reply r;
    struct vec v22901 = {2, 90 * M, 55 * M, 40 * M};
    const msgpack_object *bp = expect_totals(fx, &r, "22901", &v22901, 2);
    struct vec poor = {1, 50 * M, 55 * M, 0}; /* over-paid: floors at 0 */
    expect_vec(fx_get(bp, "poor"), &poor);
    struct vec near = {1, 40 * M, 0, 40 * M}; /* two tranches, one loan */
    expect_vec(fx_get(bp, "near_poor"), &near);
    fx_reply_free(&r);

    /* L9's repayment waits for the loan: not counted anywhere yet. */
    struct vec v593 = {3, 115 * M, 60 * M, 60 * M};
    expect_totals(fx, &r, "593", &v593, 3);
    fx_reply_free(&r);
    struct vec zero = {0};
    expect_totals(fx, &r, "22903", &zero, 0);
    fx_reply_free(&r);

    part2(fx);
    fx_sync(fx);
    struct vec v22903 = {1, 8 * M, 5 * M, 3 * M};
    expect_totals(fx, &r, "22903", &v22903, 1);
    fx_reply_free(&r);
    struct vec v593b = {4, 123 * M, 65 * M, 63 * M};
    bp = expect_totals(fx, &r, "593", &v593b, 3);
    struct vec poor593 = {2, 58 * M, 60 * M, 3 * M};
    expect_vec(fx_get(bp, "poor"), &poor593);
    struct vec ws = {1, 25 * M, 5 * M, 20 * M};
    expect_vec(fx_get(bp, "water_sanitation"), &ws);
    fx_reply_free(&r);
    struct vec v594 = {1, 20 * M, 0, 20 * M};
    expect_totals(fx, &r, "594", &v594, 1);
    fx_reply_free(&r);
    /* 60: outstanding 83M while disbursed - repaid is 78M: L1's 5M
     * over-payment does not offset the others. */
    struct vec v60 = {5, 143 * M, 65 * M, 83 * M};
    bp = expect_totals(fx, &r, "60", &v60, 3);
    struct vec poor60 = {3, 78 * M, 60 * M, 23 * M};
    expect_vec(fx_get(bp, "poor"), &poor60);
    fx_reply_free(&r);

    /* A further repayment of the over-paid loan: counted, no negative
     * balance. */
    repay(fx, T24 + 9, "22901", "hA", "L1", 1 * M);
    fx_sync(fx);
    struct vec v22901b = {2, 90 * M, 56 * M, 40 * M};
    expect_totals(fx, &r, "22901", &v22901b, 2);
    fx_reply_free(&r);
    fx_free(fx);
}

static void test_coverage(void **state)
{
    (void)state;
    struct fx *fx = fx_new("credit");
    part1(fx);
    fx_sync(fx);
    expect_cov(fx, "22901", 2024, 3, 2, 200.0 / 3);
    expect_cov(fx, "22902", 2024, 0, 0, -1); /* hF moved, hG average */
    expect_cov(fx, "22903", 2024, 1, 0, 0.0);
    expect_cov(fx, "593", 2024, 4, 2, 50.0);
    /* L3 on the first second of 2025 is not a 2024 loan. */
    expect_cov(fx, "594", 2024, 1, 0, 0.0);
    expect_cov(fx, "594", 2025, 1, 1, 100.0);
    /* 2023: hA (L1 in 2023) yes, hB (L2 in 2024) no. */
    expect_cov(fx, "22901", 2023, 2, 1, 50.0);
    expect_cov(fx, "60", 2022, 0, 0, -1);

    /* hE's status came before its loan: it now counts. */
    part2(fx);
    fx_sync(fx);
    expect_cov(fx, "22903", 2024, 1, 1, 100.0);
    expect_cov(fx, "593", 2024, 4, 3, 75.0);
    expect_cov(fx, "60", 2024, 5, 3, 60.0);

    /* Status changes move the counters by difference: hB becomes average
     * in 2024, hD poor (it has L4 from 2024), hA's 2023 status moves to
     * 22950. */
    fx_status(fx, T24 + 9, "22901", "hB", 2024, EV_STATUS_AVERAGE);
    fx_status(fx, T24 + 9, "22902", "hD", 2024, EV_STATUS_POOR);
    fx_status(fx, T24 + 9, "22950", "hA", 2023, EV_STATUS_NEAR_POOR);
    fx_sync(fx);
    expect_cov(fx, "22901", 2024, 2, 1, 50.0);
    expect_cov(fx, "22902", 2024, 1, 1, 100.0);
    expect_cov(fx, "60", 2024, 5, 3, 60.0);
    expect_cov(fx, "22901", 2023, 1, 0, 0.0);
    expect_cov(fx, "594", 2023, 1, 1, 100.0);

    /* An earlier loan moves a household's first-loan year back: hC gets
     * an old loan in 2024, so hC counts for 2024 too. */
    lend(fx, T24, "22950", "hC", "L5", "poor", 1 * M);
    fx_sync(fx);
    expect_cov(fx, "594", 2024, 1, 1, 100.0);
    expect_cov(fx, "60", 2024, 5, 4, 80.0);

    struct fx_reply r;
    assert_string_equal(fx_query_error(fx, &r, "credit", "{}"),
                        "credit: unit: required");
    fx_reply_free(&r);
    assert_string_equal(
        fx_query_error(fx, &r, "credit", "{\"unit\":\"60\",\"year\":\"x\"}"),
        "credit: year: must be an integer");
    fx_reply_free(&r);
    assert_string_equal(
        fx_query_error(fx, &r, "credit", "{\"unit\":\"60\",\"year\":1999}"),
        "credit: year: must be between 2000 and 2100");
    fx_reply_free(&r);
    assert_string_equal(fx_query_error(fx, &r, "credit", "{\"unit\":\"599\"}"),
                        "credit: unit: '599' is not a defined unit");
    fx_reply_free(&r);
    fx_free(fx);
}

static void snap(struct fx *fx, struct fx_snap *s)
{
    static const char *const units[] = {"60", "593", "594", "22901", "22903"};
    char q[64];
    for (size_t u = 0; u < 5; u++) {
        for (int y = 2022; y <= 2025; y++) {
            snprintf(q, sizeof q, "{\"unit\":\"%s\",\"year\":%d}", units[u], y);
            fx_snap_query(fx, s, "credit", q);
        }
        snprintf(q, sizeof q, "{\"unit\":\"%s\"}", units[u]);
        fx_snap_query(fx, s, "credit", q);
    }
}

static void test_rebuild(void **state)
{
    (void)state;
    struct fx *fx = fx_new("credit");
    part1(fx);
    fx_commit(fx);
    part2(fx);
    fx_status(fx, T24 + 9, "22901", "hB", 2024, EV_STATUS_AVERAGE);
    lend(fx, T24, "22950", "hC", "L5", "poor", 1 * M);
    fx_sync(fx);
    struct fx_snap a = {0}, b = {0};
    snap(fx, &a);

    assert_true(fx_rebuild_one_by_one(fx) > 25);
    snap(fx, &b);
    fx_snap_assert_equal(&a, &b);
    fx_free(fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loans),
        cmocka_unit_test(test_coverage),
        cmocka_unit_test(test_rebuild),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
