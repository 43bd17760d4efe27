/*
 * test_rebuild.c - determinism: the state of both plugins is a function of
 * the log alone.  Applying the whole log in one go and applying it one
 * record per transaction (pt_host_catch_up with max_records = 1, after
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_batch_vs_batches_of_one),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
