/*
 * test_budget.c - the budget plugin (the National Target Programmes)
 * through the real log and host (units of scenarios.h).
 *
 * The 2024 budget (M = 1,000,000 VND; PR poverty_reduction, EM
 * ethnic_minority; times +07):
 *   22901  PR "Dự án 1" 1,000M  spent 400M 2024-05-10, 300M 2024-10-15,
 *                               100M 2025-02-01 (carried over)
 *          PR "Dự án 2"   500M  nothing spent
 *          EM "Dự án 4"   300M  spent 300M 2024-09-30 23:00 (by the
 *                               check date: its last hour)
 *   22950  PR "Dự án 1"   800M  spent 500M 2024-03-01
 *   593    PR "Dự án 1"   200M  (the district's own)
 *
 *   22901: allocated 1,800M, spent 1,100M, 61.11%; PR 1,500 / 800;
 *          by 2024-09-30: 700M, 38.89%: under 50%
 *   593:   2,000M, 1,100M; by the check date 35%: under
 *   594:   800M, 500M; 62.5%: not under
 *   60:    2,800M, 1,600M; by the check date 1,200M, 42.86%: under
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
#include "plan_events.h"
#include "scenarios.h"

#define M PE_M
#define PR EV_NTP_POVERTY_REDUCTION
#define EM EV_NTP_ETHNIC_MINORITY
#define DA1 "Dự án 1"
#define DA2 "Dự án 2"
#define DA4 "Dự án 4"

static void allocate(struct fx *fx, const char *unit, enum ev_ntp p,
                     const char *c, int64_t amount)
{
    pe_budget(fx, false, pe_time(2024, 2, 1, 9), unit, p, c, 2024, amount);
}

static void spend(struct fx *fx, int64_t at, const char *unit, enum ev_ntp p,
                  const char *c, int64_t amount)
{
    pe_budget(fx, true, at, unit, p, c, 2024, amount);
}

static void scenario(struct fx *fx)
{
    sc_units(fx);
    /* Spending logged before its allocation counts all the same. */
    spend(fx, pe_time(2024, 5, 10, 9), "22901", PR, DA1, 400 * M);
    allocate(fx, "22901", PR, DA1, 1000 * M);
    allocate(fx, "22901", PR, DA2, 500 * M);
    allocate(fx, "22901", EM, DA4, 300 * M);
    allocate(fx, "22950", PR, DA1, 800 * M);
    allocate(fx, "593", PR, DA1, 200 * M);
    spend(fx, pe_time(2024, 10, 15, 9), "22901", PR, DA1, 300 * M);
    spend(fx, pe_time(2024, 9, 30, 23), "22901", EM, DA4, 300 * M);
    spend(fx, pe_time(2024, 3, 1, 9), "22950", PR, DA1, 500 * M);
    spend(fx, pe_time(2025, 2, 1, 9), "22901", PR, DA1, 100 * M);
}

static void expect_rate(const msgpack_object *o, int64_t alloc, int64_t spent)
{
    assert_int_equal(fx_i64(o, "allocated"), alloc);
    assert_int_equal(fx_i64(o, "spent"), spent);
    if (alloc == 0) {
        assert_true(fx_is_nil(o, "execution_rate"));
        return;
    }
    double want = 100.0 * (double)spent / (double)alloc;
    double got = fx_f64(o, "execution_rate");
    assert_true(got > want - 1e-9 && got < want + 1e-9);
}

/* The totals of {"unit", "year"<tail>} (tail "" or ",\"as_of\":..."). */
static void expect_total_q(struct fx *fx, const char *unit, int year,
                           const char *tail, int64_t alloc, int64_t spent)
{
    char q[128];
    struct fx_reply r;
    snprintf(q, sizeof q, "{\"unit\":\"%s\",\"year\":%d%s}", unit, year, tail);
    const msgpack_object *res = fx_query(fx, &r, "budget", q);
    assert_int_equal(res->via.map.size, tail[0] != '\0' ? 7 : 6);
    expect_rate(res, alloc, spent);
    fx_reply_free(&r);
}

static void expect_total(struct fx *fx, const char *unit, int year,
                         int64_t alloc, int64_t spent)
{
    expect_total_q(fx, unit, year, "", alloc, spent);
}

static void test_allocated_and_spent(void **state)
{
    (void)state;
    struct fx *fx = fx_new("budget");
    scenario(fx);
    fx_sync(fx);
    struct fx_reply r;
    const msgpack_object *res =
        fx_query(fx, &r, "budget", "{\"unit\":\"22901\",\"year\":2024}");
    char s[16];
    assert_string_equal(fx_str(res, "unit", s, sizeof s), "22901");
    assert_int_equal(fx_i64(res, "year"), 2024);
    expect_rate(res, 1800 * M, 1100 * M);
    const msgpack_object *bp = fx_get(res, "by_program");
    assert_int_equal(bp->via.map.size, 2);
    const msgpack_object *pr = fx_get(bp, "poverty_reduction");
    expect_rate(pr, 1500 * M, 800 * M);
    const msgpack_object *bc = fx_get(pr, "by_component");
    assert_int_equal(bc->via.map.size, 2);
    expect_rate(fx_get(bc, DA1), 1000 * M, 800 * M);
    expect_rate(fx_get(bc, DA2), 500 * M, 0);
    const msgpack_object *em = fx_get(bp, "ethnic_minority");
    expect_rate(em, 300 * M, 300 * M);
    assert_int_equal(fx_get(em, "by_component")->via.map.size, 1);
    expect_rate(fx_get(fx_get(em, "by_component"), DA4), 300 * M, 300 * M);
    fx_reply_free(&r);

    expect_total(fx, "593", 2024, 2000 * M, 1100 * M);
    expect_total(fx, "594", 2024, 800 * M, 500 * M);
    expect_total(fx, "60", 2024, 2800 * M, 1600 * M);
    /* A unit without a budget, another year: zeros and no rate; both
     * programmes are there, empty. */
    expect_total(fx, "22902", 2024, 0, 0);
    expect_total(fx, "60", 2025, 0, 0);
    res = fx_query(fx, &r, "budget", "{\"unit\":\"22902\",\"year\":2024}");
    bp = fx_get(res, "by_program");
    assert_int_equal(bp->via.map.size, 2);
    assert_int_equal(
        fx_get(fx_get(bp, "ethnic_minority"), "by_component")->via.map.size, 0);
    fx_reply_free(&r);

    assert_string_equal(fx_query_error(fx, &r, "budget", "{\"unit\":\"60\"}"),
                        "budget: year: required");
    fx_reply_free(&r);
    assert_string_equal(
        fx_query_error(fx, &r, "budget", "{\"unit\":\"60\",\"year\":1999}"),
        "budget: year: must be between 2000 and 2100");
    fx_reply_free(&r);
    assert_string_equal(
        fx_query_error(fx, &r, "budget", "{\"unit\":\"61\",\"year\":2024}"),
        "budget: unit: '61' is not a defined unit");
    fx_reply_free(&r);
    fx_free(fx);
}

/* The units budget.low_execution names, in the order the alerts list. */
static size_t low_units(struct fx *fx, char units[][8], size_t max)
{
    struct fx_reply r;
    fx_request(fx, &r, "{\"op\":\"alerts\",\"since\":0}");
    const msgpack_object *a = fx_get(r.root, "alerts");
    size_t n = 0;
    for (uint32_t i = 0; i < a->via.array.size && n < max; i++) {
        char code[64];
        fx_str(&a->via.array.ptr[i], "code", code, sizeof code);
        if (strcmp(code, "budget.low_execution") == 0)
            fx_str(&a->via.array.ptr[i], "unit", units[n++], 8);
    }
    fx_reply_free(&r);
    return n;
}

static bool listed(char units[][8], size_t n, const char *unit)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(units[i], unit) == 0)
            return true;
    return false;
}

static void test_low_execution(void **state)
{
    (void)state;
    char units[16][8];
    struct fx *fx = fx_new("budget");
    scenario(fx);
    fx_sync(fx);
    /* Before the end of the check date: nothing is checked. */
    fx_tick(fx, pe_time(2024, 9, 30, 23) + 3598);
    assert_int_equal(low_units(fx, units, 16), 0);
    /* After it: every unit with an allocation under 50% by then, once. */
    fx_tick(fx, pe_time(2024, 10, 1, 0));
    size_t n = low_units(fx, units, 16);
    assert_int_equal(n, 3);
    assert_true(listed(units, n, "22901") && listed(units, n, "593") &&
                listed(units, n, "60"));
    struct fx_reply r;
    fx_request(fx, &r, "{\"op\":\"alerts\",\"since\":0}");
    const msgpack_object *a = fx_get(r.root, "alerts");
    for (uint32_t i = 0; i < a->via.array.size; i++) {
        char unit[8], msg[256], sev[16];
        const msgpack_object *al = &a->via.array.ptr[i];
        fx_str(al, "unit", unit, sizeof unit);
        fx_str(al, "severity", sev, sizeof sev);
        assert_string_equal(sev, "warning");
        /* at: the last instant of 2024-09-30, whenever the tick ran */
        assert_int_equal(fx_i64(al, "at"), pe_time(2024, 10, 1, 0) - 1);
        if (strcmp(unit, "22901") == 0)
            assert_string_equal(
                fx_str(al, "message", msg, sizeof msg),
                "unit 22901: 38.89% of the 2024 National Target Programme "
                "budget spent by 2024-09-30 (700,000,000 of 1,800,000,000 "
                "VND), under 50%");
    }
    fx_reply_free(&r);
    fx_tick(fx, pe_time(2024, 12, 1, 0));
    assert_int_equal(low_units(fx, units, 16), 3);

    /* An allocation recorded after the check date is checked at the next
     * tick, for its own unit only: 593 and 60 were checked already. */
    allocate(fx, "22902", PR, DA1, 100 * M);
    fx_sync(fx);
    fx_tick(fx, pe_time(2024, 12, 2, 0));
    n = low_units(fx, units, 16);
    assert_int_equal(n, 4);
    assert_true(listed(units, n, "22902"));
    fx_free(fx);

    /* A check date and a share of one's own. */
    fx = fx_new("budget");
    fx_conf(fx, "budget", "min_execution", "60");
    fx_conf(fx, "budget", "check_date", "12-31");
    scenario(fx);
    fx_sync(fx);
    fx_tick(fx, pe_time(2025, 1, 1, 0));
    /* By the end of 2024: 22901 1,000M of 1,800M (55.6%), 593 50%, 594
     * 62.5%, 60 1,500M of 2,800M (53.6%). */
    n = low_units(fx, units, 16);
    assert_int_equal(n, 3);
    assert_true(listed(units, n, "22901") && listed(units, n, "593") &&
                listed(units, n, "60"));
    fx_free(fx);
}

static void test_bad_config(void **state)
{
    (void)state;
    static const char *const bad[][2] = {
        {"min_execution", "101"}, {"min_execution", "-1"},
        {"check_date", "02-29"},  {"check_date", "9-30"},
        {"check_date", "13-01"},  {"check_date", "09-31"}};
    for (size_t i = 0; i < FX_NELEMS(bad); i++) {
        struct fx *fx = fx_new("budget");
        char err[256];
        fx_conf(fx, "budget", bad[i][0], bad[i][1]);
        assert_int_not_equal(fx_host_open(fx, err, sizeof err), 0);
        fx_free(fx);
    }
}

static void snap(struct fx *fx, struct fx_snap *s)
{
    static const char *const units[] = {"60", "593", "594", "22901", "22950"};
    char q[64];
    fx_tick(fx, pe_time(2024, 10, 1, 0));
    for (size_t u = 0; u < FX_NELEMS(units); u++)
        for (int y = 2023; y <= 2025; y++) {
            snprintf(q, sizeof q, "{\"unit\":\"%s\",\"year\":%d}", units[u], y);
            fx_snap_query(fx, s, "budget", q);
        }
    assert_int_equal(fx_snap_alerts(fx, s), 3);
}

static void test_rebuild(void **state)
{
    (void)state;
    struct fx *fx = fx_new("budget");
    scenario(fx);
    fx_commit(fx);
    allocate(fx, "22901", PR, DA2, 50 * M); /* a supplement */
    fx_sync(fx);
    fx_assert_rebuild_same(fx, snap, 10);
    fx_free(fx);
}

/*
 * Units over time (fixture.h): a year's budget lies on the units of the
 * end of that year.  2024 in 22924: 593 and 60.  2025 in 22921, logged
 * after the merger was recorded and dated before it: 22921 has ended by
 * the end of 2025, so it counts in 22924 and 68.  2026 in 22924: 68.
 * 22921 and 60 had ended by the end of 2025: refused for 2025.
 */
#define END25 "1767200399" /* 2025-12-31 23:59:59 +07 */
#define END26 "1798736399"

static void r25_snap(struct fx *fx, struct fx_snap *s)
{
    static const char *const tails[] = {
        ",\"year\":2024", ",\"year\":2025", ",\"year\":2026",
        ",\"year\":2024,\"as_of\":" END26, ",\"year\":2025,\"as_of\":" END25};
    fx_snap_r25(fx, s, "budget", tails, FX_NELEMS(tails), true);
}

static void test_reorg_2025(void **state)
{
    (void)state;
    struct fx *fx = fx_new("budget");
    fx_r25_units(fx);
    pe_budget(fx, false, FX_R25_T2024, "22924", PR, DA1, 2024, 10 * M);
    fx_r25_changes(fx, FX_R25_RECORDED);
    pe_budget(fx, false, FX_R25_T0620, "22921", PR, DA1, 2025, 20 * M);
    pe_budget(fx, true, FX_R25_T0620, "22921", PR, DA1, 2025, 5 * M);
    pe_budget(fx, false, FX_R25_T2026, "22924", EM, DA4, 2026, 30 * M);
    fx_sync(fx);
    expect_total(fx, "60", 2024, 10 * M, 0);
    expect_total(fx, "593", 2024, 10 * M, 0);
    expect_total(fx, "68", 2024, 0, 0);
    expect_total(fx, "68", 2025, 20 * M, 5 * M);
    expect_total(fx, "22924", 2025, 20 * M, 5 * M);
    fx_assert_refused(fx, "budget", "{\"unit\":\"22921\",\"year\":2025}",
                      "budget: unit: 22921 is not in force on 2025-12-31: "
                      "merged into 22924 on 2025-07-01; ask for 22924");
    fx_assert_refused(fx, "budget", "{\"unit\":\"60\",\"year\":2025}",
                      "budget: unit: 60 is not in force on 2025-12-31: merged "
                      "into 68 on 2025-07-01; ask for 68");
    expect_total(fx, "68", 2026, 30 * M, 0);
    /* 2024 on the units of the end of 2026: Binh Thuan's in 68. */
    expect_total_q(fx, "68", 2024, ",\"as_of\":" END26, 10 * M, 0);
    expect_total_q(fx, "22924", 2024, ",\"as_of\":" END26, 10 * M, 0);
    fx_assert_rebuild_same(fx, r25_snap, 8);
    fx_free(fx);
}

/*
 * A change of units recorded late (fixture.h), worked out by hand:
 *   2024  22924 (under 593, 60)  PR DA1 10M allocated
 *   2025  22921, 2 July, logged before the change: PR DA1 20M allocated,
 *         5M spent; counted in 22921, 593 and 60 on the registry of then
 *   2025  22924 (the new ward, under 68), August: PR DA1 7M, EM DA4 3M
 * Without as_of: 68 and 22924 have 2025's August 10M (0 spent); 68 has no
 * 2024.  As of the end of 2025: 68 and 22924 have 2025's 30M, 5M spent,
 * PR DA1 27M (the two wards' DA1 one component) and EM DA4 3M; 2024's 10M.
 * 60 as of the day before the change has its 2024.
 */
static void late_snap(struct fx *fx, struct fx_snap *s)
{
    static const char *const tails[] = {",\"year\":2024", ",\"year\":2025",
                                        ",\"year\":2024,\"as_of\":" END25,
                                        ",\"year\":2025,\"as_of\":" END25};
    fx_snap_r25(fx, s, "budget", tails, FX_NELEMS(tails), true);
}

static void test_as_of_late_change(void **state)
{
    (void)state;
    struct fx *fx = fx_new("budget");
    struct fx_reply r;
    fx_r25_units(fx);
    pe_budget(fx, false, FX_R25_T2024, "22924", PR, DA1, 2024, 10 * M);
    pe_budget(fx, false, FX_R25_T0702, "22921", PR, DA1, 2025, 20 * M);
    pe_budget(fx, true, FX_R25_T0702, "22921", PR, DA1, 2025, 5 * M);
    fx_r25_changes(fx, FX_R25_LATE_RECORDED);
    pe_budget(fx, false, FX_R25_T0801, "22924", PR, DA1, 2025, 7 * M);
    pe_budget(fx, false, FX_R25_T0801, "22924", EM, DA4, 2025, 3 * M);
    fx_sync(fx);
    for (size_t u = 0; u < FX_R25_NNOW; u++) {
        expect_total(fx, fx_r25_now[u], 2025, 10 * M, 0);
        expect_total_q(fx, fx_r25_now[u], 2025, ",\"as_of\":" END25, 30 * M,
                       5 * M);
    }
    expect_total(fx, "68", 2024, 0, 0);
    expect_total_q(fx, "68", 2024, ",\"as_of\":" END25, 10 * M, 0);
    expect_total_q(fx, "60", 2024, ",\"as_of\":1751302799", 10 * M, 0);
    expect_total(fx, "60", 2024, 10 * M, 0);
    const msgpack_object *res =
        fx_query(fx, &r, "budget",
                 "{\"unit\":\"68\",\"year\":2025,\"as_of\":" END25 "}");
    assert_int_equal(fx_i64(res, "as_of"), INT64_C(1767200399));
    const msgpack_object *bp = fx_get(res, "by_program");
    const msgpack_object *pr =
        fx_get(fx_get(bp, ev_ntp_name(PR)), "by_component");
    assert_int_equal(pr->via.map.size, 1);
    expect_rate(fx_get(pr, DA1), 27 * M, 5 * M);
    const msgpack_object *em =
        fx_get(fx_get(bp, ev_ntp_name(EM)), "by_component");
    assert_int_equal(em->via.map.size, 1);
    expect_rate(fx_get(em, DA4), 3 * M, 0);
    fx_reply_free(&r);
    fx_assert_refused(fx, "budget",
                      "{\"unit\":\"60\",\"year\":2024,\"as_of\":" END25 "}",
                      "budget: unit: 60 is not in force on 2025-12-31: merged "
                      "into 68 on 2025-07-01; ask for 68, or give as_of before "
                      "2025-07-01");
    fx_assert_refused(fx, "budget",
                      "{\"unit\":\"68\",\"year\":2025,\"as_of\":1751302799}",
                      "budget: as_of: must not be before the end of 2025");
    fx_assert_rebuild_same(fx, late_snap, 8);
    fx_free(fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_allocated_and_spent),
        cmocka_unit_test(test_low_execution),
        cmocka_unit_test(test_bad_config),
        cmocka_unit_test(test_rebuild),
        cmocka_unit_test(test_reorg_2025),
        cmocka_unit_test(test_as_of_late_change),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
