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

static void lend(struct fx *fx, int64_t at, const char *unit, const char *hh,
                 const char *loan, const char *program, int64_t amount)
{
    struct ev_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = EV_CREDIT_DISBURSED;
    ev.at = at;
    ev.unit = fx_ev_str(unit);
    ev.household = fx_ev_str(hh);
    ev.data.loan = fx_ev_str(loan);
    ev.data.program = fx_ev_str(program);
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
    ev.unit = fx_ev_str(unit);
    ev.household = fx_ev_str(hh);
    ev.data.loan = fx_ev_str(loan);
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
/* The all-time figures of unit with the rest of a query (tail: "" or
 * ",\"as_of\":..."), nprog programmes. */
static const msgpack_object *expect_totals_q(struct fx *fx, struct fx_reply *r,
                                             const char *unit, const char *tail,
                                             const struct vec *v,
                                             uint32_t nprog)
{
    char q[128], s[16];
    snprintf(q, sizeof q, "{\"unit\":\"%s\"%s}", unit, tail);
    const msgpack_object *res = fx_query(fx, r, "credit", q);
    assert_int_equal(res->via.map.size, tail[0] != '\0' ? 7 : 6);
    assert_string_equal(fx_str(res, "unit", s, sizeof s), unit);
    expect_vec(res, v);
    const msgpack_object *bp = fx_get(res, "by_program");
    assert_int_equal(bp->type, MSGPACK_OBJECT_MAP);
    assert_int_equal(bp->via.map.size, nprog);
    return bp;
}

static const msgpack_object *expect_totals(struct fx *fx, struct fx_reply *r,
                                           const char *unit,
                                           const struct vec *v, uint32_t nprog)
{
    return expect_totals_q(fx, r, unit, "", v, nprog);
}

/* The coverage of (unit, year), as of as_of when it is not NULL. */
static void expect_cov_q(struct fx *fx, const char *unit, int year,
                         const char *as_of, int64_t pnp, int64_t wl,
                         double rate)
{
    char q[128];
    if (as_of != NULL)
        snprintf(q, sizeof q, "{\"unit\":\"%s\",\"year\":%d,\"as_of\":%s}",
                 unit, year, as_of);
    else
        snprintf(q, sizeof q, "{\"unit\":\"%s\",\"year\":%d}", unit, year);
    struct fx_reply r;
    const msgpack_object *res = fx_query(fx, &r, "credit", q);
    assert_int_equal(res->via.map.size, as_of != NULL ? 8 : 7);
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

static void expect_cov(struct fx *fx, const char *unit, int year, int64_t pnp,
                       int64_t wl, double rate)
{
    expect_cov_q(fx, unit, year, NULL, pnp, wl, rate);
}

/* The refusal of a query for a unit that had ended by its date. */
static void expect_ended(struct fx *fx, const char *q, const char *want)
{
    fx_assert_refused(fx, "credit", q, want);
}

#define END25 "1767200399" /* 2025-12-31T23:59:59+07:00 */
#define END26 "1798736399"

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
    fx_assert_rebuild_one_by_one_same(fx, snap, 25);
    fx_free(fx);
}

/*
 * Voids and corrections: a repayment voided raises the balance again; a
 * further tranche voided lowers the loan; a loan's only tranche voided
 * takes the loan (and what was repaid on it) away; a loan's only tranche
 * corrected into another commune moves the loan there; a repayment that
 * came before its loan, corrected, counts by its new amount.  A rebuild
 * answers the same.
 */
static void test_void_and_correct(void **state)
{
    (void)state;
    struct fx *fx = fx_new("credit");
    struct fx_reply r;
    char id[9][16];
    part1(fx);
    /* part1's nine loan events, before its twelve statuses. */
    for (unsigned i = 0; i < 9; i++)
        snprintf(id[i], sizeof id[i], "fx-%u", fx->next_id - 20 + i);
    part2(fx);
    unsigned part2_id = fx->next_id;
    fx_sync(fx);

    fx_void(fx, T24 + 10, "22901", id[2], EV_CREDIT_REPAID);    /* L1 45M */
    fx_void(fx, T24 + 10, "22901", id[4], EV_CREDIT_DISBURSED); /* L2 10M */
    fx_void(fx, T24 + 10, "22902", id[6], EV_CREDIT_DISBURSED); /* L4 */
    lend(fx, Y25, "22901", "hC", "L3", "poor", 25 * M);
    fx_as_correction(fx, id[5]);
    repay(fx, T24 + 2, "22903", "hE", "L9", 2 * M);
    fx_as_correction(fx, id[8]);
    fx_sync(fx);

    struct vec v22901 = {3, 105 * M, 10 * M, 95 * M};
    const msgpack_object *bp = expect_totals(fx, &r, "22901", &v22901, 2);
    struct vec poor = {2, 75 * M, 10 * M, 65 * M};
    expect_vec(fx_get(bp, "poor"), &poor);
    struct vec near = {1, 30 * M, 0, 30 * M};
    expect_vec(fx_get(bp, "near_poor"), &near);
    fx_reply_free(&r);
    struct vec zero = {0};
    expect_totals(fx, &r, "594", &zero, 0);
    fx_reply_free(&r);
    expect_totals(fx, &r, "22902", &zero, 0);
    fx_reply_free(&r);
    struct vec v22903 = {1, 8 * M, 2 * M, 6 * M};
    expect_totals(fx, &r, "22903", &v22903, 1);
    fx_reply_free(&r);
    struct vec v60 = {4, 113 * M, 12 * M, 101 * M};
    expect_totals(fx, &r, "60", &v60, 2);
    fx_reply_free(&r);

    /* hE's only loan (L9, 2024) voided: its repayment waits again, and
     * hE, poor in 2024, no longer has a loan that year. */
    char l9[16];
    snprintf(l9, sizeof l9, "fx-%u", part2_id);
    expect_cov(fx, "22903", 2024, 1, 1, 100.0);
    fx_void(fx, T24 + 20, "22903", l9, EV_CREDIT_DISBURSED);
    fx_sync(fx);
    expect_totals(fx, &r, "22903", &zero, 0);
    fx_reply_free(&r);
    expect_cov(fx, "22903", 2024, 1, 0, 0.0);
    expect_cov(fx, "60", 2024, 5, 2, 40.0); /* hA, hB */
    /* Lent again, in 2025 only: 2025 covered, 2024 not. */
    lend(fx, Y25 + 5, "22903", "hE", "L9b", "poor", 1 * M);
    fx_sync(fx);
    expect_cov(fx, "22903", 2024, 1, 0, 0.0);

    fx_assert_rebuild_same(fx, snap, 10);
    fx_free(fx);
}

/* What r25_snap and late_snap compare across a rebuild, for every unit of
 * the reorganisation: all time and 2024 to 2026, plain and as of the end
 * of 2026. */
static const char *const r25_tails[] = {"",
                                        ",\"year\":2024",
                                        ",\"year\":2025",
                                        ",\"year\":2026",
                                        ",\"as_of\":" END26,
                                        ",\"year\":2024,\"as_of\":" END26,
                                        ",\"year\":2025,\"as_of\":" END26};

/*
 * Units over time: the 2025 reorganisation (fixture.h).  Commune 22924
 * keeps its code but moves from district 593 (province 60) to province 68
 * on 2025-07-01.  A loan rolls up on the hierarchy of the day it was
 * placed, whatever comes later; coverage on that of the end of its year.
 *   L1 22924 h1 poor       50M 2024, repaid 10M; in 2026 a 20M tranche
 *                          and a 15M repayment: all in 593 and 60
 *   L3 22921 h3 poor        6M 2025-03 (before the merger, logged after
 *                          it was recorded), repaid 1M in 2026
 *   L2 22924 h2 near_poor  30M 2026: in 68, and so is a 5M tranche
 *                          logged after it but dated 2024 (the loan's
 *                          earliest "at" moves, its place does not)
 *   L9 22924 h9 poor        8M 2026, its 2M repayment logged in 2024
 * Statuses: h1 poor 2024 (22924); h3 near_poor 2025 in 22921, logged in
 * 2025-03: 22921 has ended by the end of 2025, so it counts in 22924 and
 * 68; h2 near_poor 2026 (22924).
 */
static void r25_snap(struct fx *fx, struct fx_snap *s)
{
    fx_snap_r25(fx, s, "credit", r25_tails, FX_NELEMS(r25_tails), false);
}

static void test_reorg_2025(void **state)
{
    (void)state;
    const int64_t R24 = FX_R25_T2024, R25 = FX_R25_T2025, R26 = FX_R25_T2026;
    const int64_t H = 3600;
    struct fx *fx = fx_new("credit");
    struct fx_reply r;
    fx_r25_units(fx);
    lend(fx, R24, "22924", "h1", "L1", "poor", 50 * M);
    repay(fx, R24 + H, "22924", "h1", "L1", 10 * M);
    repay(fx, R24 + 2 * H, "22924", "h9", "L9", 2 * M); /* before L9 */
    fx_status(fx, R24, "22924", "h1", 2024, EV_STATUS_POOR);
    fx_sync(fx);
    struct vec l1 = {1, 50 * M, 10 * M, 40 * M};
    expect_totals(fx, &r, "60", &l1, 1);
    fx_reply_free(&r);
    expect_cov(fx, "593", 2024, 1, 1, 100.0);

    fx_r25_changes(fx, FX_R25_RECORDED);
    lend(fx, R25, "22921", "h3", "L3", "poor", 6 * M);
    fx_status(fx, R25, "22921", "h3", 2025, EV_STATUS_NEAR_POOR);
    fx_sync(fx);
    /* h3's 2025 status: where 22921's households are at the end of 2025.
     * 22921, 593 and 60 had ended by then. */
    expect_cov(fx, "22924", 2025, 1, 1, 100.0);
    expect_cov(fx, "68", 2025, 1, 1, 100.0);
    expect_ended(fx, "{\"unit\":\"22921\",\"year\":2025}",
                 "credit: unit: 22921 is not in force on 2025-12-31: merged "
                 "into 22924 on 2025-07-01; ask for 22924");
    expect_ended(fx, "{\"unit\":\"593\",\"year\":2025}",
                 "credit: unit: 593 is not in force on 2025-12-31: abolished "
                 "on 2025-07-01; ask for 68");
    /* L3 itself lies where 22921 was on its day: in 60 as of the day
     * before the change. */
    struct vec l3 = {1, 6 * M, 0, 6 * M};
    expect_totals_q(fx, &r, "22921", ",\"as_of\":1751302799", &l3, 1);
    fx_reply_free(&r);

    lend(fx, R26, "22924", "h1", "L1", "poor", 20 * M);
    repay(fx, R26 + H, "22924", "h1", "L1", 15 * M);
    lend(fx, R26 + 2 * H, "22924", "h2", "L2", "near_poor", 30 * M);
    lend(fx, R26 + 3 * H, "22924", "h9", "L9", "poor", 8 * M);
    lend(fx, R24 + 3 * H, "22924", "h2", "L2", "near_poor", 5 * M);
    repay(fx, R26 + 4 * H, "22924", "h3", "L3", 1 * M);
    fx_status(fx, R26, "22924", "h2", 2026, EV_STATUS_NEAR_POOR);
    fx_sync(fx);

    /* 60 and 593 have ended: L1 (70M, 25M repaid) and L3 (6M, 1M repaid)
     * are counted there, and seen now in 68 as of today. */
    expect_ended(fx, "{\"unit\":\"60\"}",
                 "credit: unit: 60 is not in force now: merged into 68 on "
                 "2025-07-01; ask for 68");
    /* 68: L2 and L9 only; as of the end of 2026, with Binh Thuan's L1 and
     * L3: 4 loans, 119M, 28M repaid, 45 + 5 + 35 + 6 = 91M outstanding. */
    struct vec v68 = {2, 43 * M, 2 * M, 41 * M};
    const msgpack_object *bp = expect_totals(fx, &r, "68", &v68, 2);
    struct vec l9 = {1, 8 * M, 2 * M, 6 * M};
    expect_vec(fx_get(bp, "poor"), &l9);
    fx_reply_free(&r);
    struct vec all = {4, 119 * M, 28 * M, 91 * M};
    bp = expect_totals_q(fx, &r, "68", ",\"as_of\":" END26, &all, 2);
    struct vec poor = {3, 84 * M, 28 * M, 56 * M},
               near = {1, 35 * M, 0, 35 * M};
    expect_vec(fx_get(bp, "poor"), &poor);
    expect_vec(fx_get(bp, "near_poor"), &near);
    fx_reply_free(&r);
    /* The code 22924 answers for both of its spans. */
    struct vec v22924 = {3, 113 * M, 27 * M, 86 * M};
    expect_totals(fx, &r, "22924", &v22924, 2);
    fx_reply_free(&r);
    struct vec l3b = {1, 6 * M, 1 * M, 5 * M};
    expect_totals_q(fx, &r, "22921", ",\"as_of\":1751302799", &l3b, 1);
    fx_reply_free(&r);
    expect_cov(fx, "60", 2024, 1, 1, 100.0);
    expect_cov(fx, "68", 2024, 0, 0, -1);
    expect_cov_q(fx, "68", 2024, END26, 1, 1, 100.0);
    expect_cov(fx, "68", 2026, 1, 1, 100.0);
    expect_ended(fx, "{\"unit\":\"60\",\"year\":2026}",
                 "credit: unit: 60 is not in force on 2026-12-31: merged into "
                 "68 on 2025-07-01; ask for 68");
    expect_ended(fx, "{\"unit\":\"60\",\"year\":2024,\"as_of\":" END26 "}",
                 "credit: unit: 60 is not in force on 2026-12-31: merged into "
                 "68 on 2025-07-01; ask for 68, or give as_of before "
                 "2025-07-01");

    /* h3's 2025 status replaced from 22924: uncounted where it was
     * counted (the end of 2025 in both cases). */
    fx_status(fx, R26 + 5 * H, "22924", "h3", 2025, EV_STATUS_AVERAGE);
    fx_sync(fx);
    expect_cov(fx, "68", 2025, 0, 0, -1);
    expect_cov(fx, "22924", 2025, 0, 0, -1);
    expect_cov_q(fx, "68", 2025, END25, 0, 0, -1);

    /* A rebuild, in one go and one record at a time, answers the same. */
    fx_assert_rebuild_same(fx, r25_snap, 15);
    fx_free(fx);
}

/*
 * A change of units recorded late (fixture.h): the merger of 2025-07-01 is
 * logged only on 2025-07-15, after records dated past it in 22921.  What
 * was counted before it was recorded is changed and taken back where it
 * was counted (on the registry version kept with it), and what is new
 * after it counts where the registry now puts it:
 *   L1 22921 h1 10M 2025-07-02, logged before: in 22921, 593 and 60;
 *      repaid 4M after the change (from 22924): there too
 *   L3 22924 h3  3M 2025-08-01, after: in 22924 and 68
 *   statuses 2025 (logged in March, 22921): h1, h2, h3, h4 poor, counted
 *      in 22921, 593 and 60 (with_loan h1, and h3 once L3 arrives);
 *      corrected after the change from 22924: h1 near_poor (now in 22924
 *      and 68, with its loan), h2 and h3 average; h4's recorded again,
 *      dated June, from 22921 itself: the same code, now read on the
 *      registry that knows the merger, so it moves to 22924 and 68
 */
static void late_snap(struct fx *fx, struct fx_snap *s)
{
    fx_snap_r25(fx, s, "credit", r25_tails, FX_NELEMS(r25_tails), true);
}

static void test_late_change(void **state)
{
    (void)state;
    const int64_t H = 3600, T0801 = FX_R25_T0801;
    const int64_t T0620 = FX_R25_T0620;
    const char *const *old = fx_r25_old, *const *now = fx_r25_now;
    struct fx *fx = fx_new("credit");
    struct fx_reply r;
    fx_r25_units(fx);
    fx_status(fx, FX_R25_T2025, "22921", "h1", 2025, EV_STATUS_POOR);
    fx_status(fx, FX_R25_T2025, "22921", "h2", 2025, EV_STATUS_POOR);
    fx_status(fx, FX_R25_T2025, "22921", "h3", 2025, EV_STATUS_POOR);
    fx_status(fx, FX_R25_T2025, "22921", "h4", 2025, EV_STATUS_POOR);
    lend(fx, FX_R25_T0702, "22921", "h1", "L1", "poor", 10 * M);
    fx_sync(fx);
    struct vec l1 = {1, 10 * M, 0, 10 * M};
    for (size_t u = 0; u < FX_R25_NOLD; u++) {
        expect_totals(fx, &r, old[u], &l1, 1);
        fx_reply_free(&r);
        expect_cov(fx, old[u], 2025, 4, 1, 25.0);
    }

    fx_r25_changes(fx, FX_R25_LATE_RECORDED);
    fx_sync(fx);
    repay(fx, T0801, "22924", "h1", "L1", 4 * M);
    lend(fx, T0801 + H, "22924", "h3", "L3", "poor", 3 * M);
    fx_sync(fx);
    /* The repayment lands where L1 was counted; L3's first loan year adds
     * h3's with_loan where h3's status was counted. */
    struct vec l3 = {1, 3 * M, 0, 3 * M};
    for (size_t u = 0; u < FX_R25_NNOW; u++) {
        expect_totals(fx, &r, now[u], &l3, 1);
        fx_reply_free(&r);
        expect_cov(fx, now[u], 2025, 0, 0, -1);
    }
    /* The old units have ended; what was counted there is in 22924 and 68
     * as of the end of 2025: L1 (10M, 4M repaid) and L3; h1..h4 poor,
     * two with a loan. */
    expect_ended(fx, "{\"unit\":\"22921\"}",
                 "credit: unit: 22921 is not in force now: merged into 22924 "
                 "on 2025-07-01; ask for 22924");
    struct vec both = {2, 13 * M, 4 * M, 9 * M};
    for (size_t u = 0; u < FX_R25_NNOW; u++) {
        expect_totals_q(fx, &r, now[u], ",\"as_of\":" END25, &both, 1);
        fx_reply_free(&r);
        expect_cov_q(fx, now[u], 2025, END25, 4, 2, 50.0);
    }

    fx_status(fx, T0801 + 2 * H, "22924", "h1", 2025, EV_STATUS_NEAR_POOR);
    fx_status(fx, T0801 + 2 * H, "22924", "h2", 2025, EV_STATUS_AVERAGE);
    fx_status(fx, T0801 + 2 * H, "22924", "h3", 2025, EV_STATUS_AVERAGE);
    fx_status(fx, T0620, "22921", "h4", 2025, EV_STATUS_POOR);
    fx_sync(fx);
    /* Taken back where they were counted: regrouped, the old units add
     * nothing more to 2025; h1's and h4's count where 22921's households
     * now are. */
    for (size_t u = 0; u < FX_R25_NNOW; u++) {
        expect_cov(fx, now[u], 2025, 2, 1, 50.0);
        expect_cov_q(fx, now[u], 2025, END25, 2, 1, 50.0);
        expect_totals(fx, &r, now[u], &l3, 1);
        fx_reply_free(&r);
    }

    /* A rebuild, in one go and one record at a time, answers the same. */
    fx_assert_rebuild_same(fx, late_snap, 10);
    fx_free(fx);
}

/*
 * A state of version 1.0 (48-byte loan header, no "placed" date) is
 * refused as corrupt, not misread: the loan record is rewritten in the
 * old layout behind the host's back, and the next change of the loan
 * quarantines the plugin.
 */
static void test_old_state_refused(void **state)
{
    (void)state;
    struct fx *fx = fx_new("credit");
    sc_units(fx);
    lend(fx, T24, "22901", "hA", "L1", "poor", 50 * M);
    fx_sync(fx);

    /* 1.0: has_loan, disbursed, repaid, first at, unit, lengths, then
     * "poor" and "hA" right after the 48-byte header. */
    uint8_t old[48 + 6] = {1};
    fx_be64(old + 8, (uint64_t)(50 * M));
    fx_be64(old + 24, (uint64_t)T24);
    memcpy(old + 32, "22901", 5);
    old[41] = 4;
    old[43] = 2;
    memcpy(old + 48, "poorhA", 6);
    fx_state_put(fx, "credit", "LL1", 3, old, sizeof old);

    repay(fx, T24 + 1, "22901", "hA", "L1", 1 * M);
    fx_sync(fx);
    fx_assert_quarantined(fx, "credit", "{\"unit\":\"60\"}");
    fx_free(fx);
}

/*
 * A state of version 1.1 (56-byte loan header and 6-byte status, no
 * registry versions) is refused as corrupt, not misread: each record is
 * rewritten in the old layout behind the host's back, and the next change
 * of it quarantines the plugin.
 */
static void test_v11_state_refused(void **state)
{
    (void)state;
    const int64_t R24 = FX_R25_T2024;
    struct fx *fx = fx_new("credit");
    fx_r25_units(fx);
    lend(fx, R24, "22924", "hA", "L1", "poor", 50 * M);
    fx_sync(fx);
    uint8_t loan[56 + 6] = {1};
    fx_be64(loan + 8, (uint64_t)(50 * M));
    fx_be64(loan + 24, (uint64_t)R24);
    memcpy(loan + 32, "22924", 5);
    loan[41] = 4;
    loan[43] = 2;
    fx_be64(loan + 48, (uint64_t)R24);
    memcpy(loan + 56, "poorhA", 6);
    fx_state_put(fx, "credit", "LL1", 3, loan, sizeof loan);
    repay(fx, R24 + 1, "22924", "hA", "L1", 1 * M);
    fx_sync(fx);
    fx_assert_quarantined(fx, "credit", "{\"unit\":\"60\"}");
    fx_free(fx);

    fx = fx_new("credit");
    fx_r25_units(fx);
    fx_status(fx, R24, "22924", "hA", 2024, EV_STATUS_POOR);
    fx_sync(fx);
    uint8_t k[2 + 2 + 8] = {'S', 2, 'h', 'A'}, st[6] = {EV_STATUS_POOR};
    fx_be64(k + 4, (uint64_t)2024 ^ (UINT64_C(1) << 63));
    memcpy(st + 1, "22924", 5);
    fx_state_put(fx, "credit", k, sizeof k, st, sizeof st);
    fx_status(fx, R24 + 1, "22924", "hA", 2024, EV_STATUS_AVERAGE);
    fx_sync(fx);
    fx_assert_quarantined(fx, "credit", "{\"unit\":\"60\"}");
    fx_free(fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loans),
        cmocka_unit_test(test_coverage),
        cmocka_unit_test(test_rebuild),
        cmocka_unit_test(test_void_and_correct),
        cmocka_unit_test(test_reorg_2025),
        cmocka_unit_test(test_late_change),
        cmocka_unit_test(test_old_state_refused),
        cmocka_unit_test(test_v11_state_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
