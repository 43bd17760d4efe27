/*
 * test_rebuild.c - determinism: the state of the plugins is a function of
 * the log alone (poverty and fund; the plan's five, budget, production,
 * protection, donors and commendations, across the 2025 reorganisation
 * recorded late, with as_of).  Applying the whole log in one go and applying it
 * one record per transaction (pt_host_catch_up with max_records = 1, after
 * dropping the state) must give byte-identical query results and alerts.
 * The tick alerts (fund.pledge_overdue, fund.idle_balance) depend on the
 * wall clock by design; given the same ticks after the same log they must
 * be identical too, so both runs tick at the same chosen times.
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

/* The same wall-clock ticks for both runs: pledges overdue, then (60 days
 * later, idle_days 30) idle balances; then every query the tests care
 * about, plus all alerts. */
static void snapshot(struct fx *fx, struct fx_snap *s)
{
    static const char *const units[] = {"60", "593", "594", "22901", "22950"};
    struct fx_reply r;
    char q[160];
    fx_tick(fx, SC_D0 + 40 * SC_DAY);
    fx_tick(fx, SC_Y2025 + 60 * SC_DAY);
    for (size_t u = 0; u < 5; u++) {
        for (int y = 2020; y <= 2024; y++) {
            if (u >= 3 && y != 2023)
                continue;
            snprintf(q, sizeof q, "{\"unit\":\"%s\",\"year\":%d}", units[u], y);
            fx_snap_query(fx, s, "poverty", q);
        }
        snprintf(q, sizeof q, "{\"unit\":\"%s\"}", units[u]);
        fx_snap_query(fx, s, "fund", q);
        snprintf(q, sizeof q, "{\"unit\":\"%s\",\"from\":%lld,\"to\":%lld}",
                 units[u], (long long)(SC_D0 + 2 * SC_H),
                 (long long)(SC_D0 + SC_DAY + 3 * SC_H));
        fx_snap_query(fx, s, "fund", q);
        for (int c = 2020; c <= 2024; c++) {
            snprintf(q, sizeof q, "{\"unit\":\"%s\",\"cohort\":%d}", units[u],
                     c);
            fx_snap_query(fx, s, "poverty", q);
        }
        for (int y = 2024; y <= 2025; y++) {
            snprintf(q, sizeof q, "{\"unit\":\"%s\",\"year\":%d}", units[u], y);
            fx_snap_query(fx, s, "fund", q);
        }
    }
    fx_request(fx, &r, "{\"op\":\"alerts\",\"since\":0}");
    const msgpack_object *alerts = fx_get(r.root, "alerts");
    /* Alerts of both plugins were raised: the scenario really ran. */
    assert_true(alerts->via.array.size >= 2);
    static const char *const codes[] = {
        "poverty.target_missed", "poverty.relapse_high",
        "fund.large_donation",   "fund.beneficiary_not_poor",
        "fund.pledge_overdue",   "fund.idle_balance",
    };
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        if (fx_count_alerts(alerts, codes[i]) == 0)
            fail_msg("no %s alert: the scenario did not run", codes[i]);
    fx_snap_add(s, alerts);
    fx_reply_free(&r);
}

static void test_one_batch_vs_batches_of_one(void **state)
{
    (void)state;
    struct fx *fx = fx_new("poverty fund");
    fx_conf(fx, "fund", "idle_balance", "50000000");
    fx_conf(fx, "fund", "idle_days", "30");
    /* The log is written in several batches, with an interleaving of
     * both plugins' events. */
    sc_poverty_flows(fx);
    sc_fund_part1(fx);
    fx_commit(fx);
    sc_poverty_alerts(fx);
    fx_status(fx, SC_AT + 5, "22901", "hC", 2021, EV_STATUS_POOR);
    fx_status(fx, SC_AT + 6, "22950", "hB", 2022, EV_STATUS_NEAR_POOR);
    sc_fund_part2(fx);
    sc_poverty_cohorts(fx);
    sc_fund_households1(fx);
    fx_commit(fx);
    sc_poverty_cohorts_fix(fx);
    sc_fund_households2(fx);
    fx_commit(fx);
    sc_fund_households3(fx);
    fx_commit(fx);

    /* Run 1: everything in as few transactions as the host likes.  Run 2:
     * rebuilt from scratch, one record per transaction (more than 100 of
     * them: really one at a time). */
    fx_sync(fx);
    fx_assert_rebuild_one_by_one_same(fx, snapshot, 100);
    fx_free(fx);
}

/* ---- the plan's five plugins, across the 2025 reorganisation ---- */

static const char *const PLAN[] = {"budget", "production", "protection",
                                   "donors", "commendations"};

/* Every code of the reorganisation (an ended one's refusal included), each
 * plugin's yearly answers and lists, on the units of their date and as of
 * the end of 2025; and the alerts. */
static void plan_snapshot(struct fx *fx, struct fx_snap *s)
{
    static const char *const yearly[] = {",\"year\":2024", ",\"year\":2025",
                                         ",\"year\":2024,\"as_of\":1767200399",
                                         ",\"year\":2025,\"as_of\":1767200399"};
    static const char *const lists[][2] = {
        {"production",
         ",\"year\":2025,\"list\":\"links\",\"as_of\":1767200399"},
        {"protection",
         ",\"year\":2025,\"list\":\"unassisted\",\"as_of\":1767200399"},
        {"donors", ",\"as_of\":1767200399"},
        {"commendations", ",\"as_of\":1767200399"},
        {"donors", ",\"to\":1751302800"},
        {"commendations", ",\"to\":1751302800"}};
    fx_tick(fx, FX_R25_T0801);
    for (size_t p = 0; p < FX_NELEMS(PLAN); p++)
        fx_snap_r25(fx, s, PLAN[p], yearly, FX_NELEMS(yearly), true);
    for (size_t i = 0; i < FX_NELEMS(lists); i++)
        fx_snap_r25(fx, s, lists[i][0], &lists[i][1], 1, true);
    fx_snap_alerts(fx, s);
}

/* The plan's events in 22921 and 22936 before the merger (some logged
 * only after it was recorded late), and in the new 22924 after it. */
static void plan_events(struct fx *fx, int64_t at, const char *unit,
                        const char *hh, int64_t year)
{
    pe_budget(fx, false, at, unit, EV_NTP_POVERTY_REDUCTION, "Dự án 1", year,
              20 * PE_M);
    pe_budget(fx, true, at, unit, EV_NTP_POVERTY_REDUCTION, "Dự án 1", year,
              5 * PE_M);
    pe_linked(fx, at, unit, hh, "L1", "HTX Thanh Long", EV_PARTNER_COOPERATIVE,
              "Thanh long", year);
    fx_status(fx, at, unit, hh, year, EV_STATUS_POOR);
    pe_assessed(fx, at, unit, hh, year, 1);
    pe_donation(fx, at, unit, 2 * PE_M, "Nguyễn Văn An", EV_DONOR_PERSON,
                false);
    pe_commendation(fx, at, unit, "HTX Thanh Long", EV_RECIPIENT_COLLECTIVE,
                    "UBND tỉnh", EV_LEVEL_PROVINCE, NULL);
}

static void test_plan_one_batch_vs_batches_of_one(void **state)
{
    (void)state;
    struct fx *fx = fx_new("budget production protection donors commendations");
    fx_r25_units(fx);
    plan_events(fx, FX_R25_T2024, "22936", "h1", 2024);
    plan_events(fx, FX_R25_T2025, "22921", "h2", 2025);
    fx_commit(fx);
    plan_events(fx, FX_R25_T0702, "22921", "h3", 2025);
    pe_ocop(fx, FX_R25_T0702, "22921", "Thanh long", 4);
    fx_r25_changes(fx, FX_R25_LATE_RECORDED);
    fx_commit(fx);
    plan_events(fx, FX_R25_T0801, "22924", "h4", 2025);
    pe_assistance(fx, FX_R25_T0801, "22924", "h2", EV_ASSISTANCE_REGULAR,
                  400000);
    fx_status(fx, FX_R25_T0801, "22924", "h3", 2025, EV_STATUS_NEAR_POOR);
    fx_review(fx, FX_R25_T0801, "22924", 2025);
    fx_sync(fx);
    fx_assert_rebuild_one_by_one_same(fx, plan_snapshot, 30);
    fx_free(fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_batch_vs_batches_of_one),
        cmocka_unit_test(test_plan_one_batch_vs_batches_of_one),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
