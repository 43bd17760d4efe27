/*
 * scenarios.h - event scenarios shared by the plugin tests (and by the
 * rebuild test, which replays them all).  Hand-computed expectations are
 * written beside each scenario in scenarios.c and checked in the tests.
 *
 * Unit tree (GSO-style codes, invented):
 *
 *   60 (province)
 *   +-- 593 (district)
 *   |   +-- 22901, 22902, 22903 (communes)
 *   +-- 594 (district)
 *       +-- 22950 (commune)
 */
#ifndef POVTRACK_TEST_PLUGIN_SCENARIOS_H
#define POVTRACK_TEST_PLUGIN_SCENARIOS_H

#include "fixture.h"

#define SC_AT INT64_C(1703041200) /* 2023-12-20T10:00:00+07:00 */

/* 2024-10-17T00:00:00+07:00, the Day for the Poor: start of day D0. */
#define SC_D0 INT64_C(1729098000)
#define SC_H INT64_C(3600)
#define SC_DAY INT64_C(86400)

void sc_units(struct fx *fx);

/* Commune 22901, 2020-2023, six households: see scenarios.c. */
void sc_poverty_flows(struct fx *fx);

/* 593 and 22901, 2022-2024, with review.closed events. */
void sc_poverty_alerts(struct fx *fx);

/* Donations, pledges and disbursements over days D0-D2, in two parts:
 * part 1 then part 2 (the payments of pledges P1 and P4). */
void sc_fund_part1(struct fx *fx);
void sc_fund_part2(struct fx *fx);

/* Escape cohorts 2020-2024 in commune 22902 (one household moving to
 * 22950 for a year), with review.closed events of 22902; then the
 * out-of-order correction of one 2022 status.  See scenarios.c. */
void sc_poverty_cohorts(struct fx *fx);
void sc_poverty_cohorts_fix(struct fx *fx);

/* 2024-10-17 .. 2025-01-01 local: the first instant of local year 2025. */
#define SC_Y2025 INT64_C(1735664400) /* 2025-01-01T00:00:00+07:00 */

/* Disbursements to households hX, hY, hZ and their official statuses, in
 * three stages (see scenarios.c). */
void sc_fund_households1(struct fx *fx);
void sc_fund_households2(struct fx *fx);
void sc_fund_households3(struct fx *fx);

#endif /* POVTRACK_TEST_PLUGIN_SCENARIOS_H */
