/*
 * scenarios.c - see scenarios.h.
 */
#include <stdio.h>
#include <string.h>

#include "scenarios.h"

#define AT SC_AT
#define D0 SC_D0
#define D1 (SC_D0 + SC_DAY)
#define D2 (SC_D0 + 2 * SC_DAY)
#define H SC_H

void sc_units(struct fx *fx)
{
    fx_unit(fx, "60", NULL, EV_LEVEL_PROVINCE);
    fx_unit(fx, "593", "60", EV_LEVEL_DISTRICT);
    fx_unit(fx, "594", "60", EV_LEVEL_DISTRICT);
    fx_unit(fx, "22901", "593", EV_LEVEL_COMMUNE);
    fx_unit(fx, "22902", "593", EV_LEVEL_COMMUNE);
    fx_unit(fx, "22903", "593", EV_LEVEL_COMMUNE);
    fx_unit(fx, "22950", "594", EV_LEVEL_COMMUNE);
}

/*
 * Flows over 2020-2023 in commune 22901 (100 households each year), events
 * deliberately out of year order.  Histories ("-" = no status event):
 *
 *        2020    2021    2022    2023
 *   hA   poor    poor    near    poor
 *   hB   none    poor    poor    average
 *   hC   poor    -       poor    poor
 *   hD   -       near    poor    -
 *   hE   poor    none    -       poor
 *   hF   -       -       poor    near
 *
 *   2020: poor hA hC hE = 3; newly hA hC hE = 3.
 *   2021: poor hA hB = 2; near hD = 1; escaped hE; newly hB.
 *   2022: poor hB hC hD hF = 4; near hA = 1; escaped hA; newly hD hF;
 *         relapsed hC (2021 unknown, poor in 2020).
 *   2023: poor hA hC hE = 3; near hF = 1; escaped hB hF; relapsed hA
 *         (near in 2022, poor 2021) and hE (2022 unknown, poor 2020);
 *         hD has no 2023 status: not escaped.
 *   poor rate 3, 2, 4, 3 %: reduction 2021 +1.0, 2022 -2.0, 2023 +1.0.
 */
void sc_poverty_flows(struct fx *fx)
{
    sc_units(fx);
    for (int y = 2020; y <= 2023; y++)
        fx_households(fx, AT, "22901", y, 100);
    fx_status(fx, AT, "22901", "hA", 2023, EV_STATUS_POOR);
    fx_status(fx, AT, "22901", "hB", 2023, EV_STATUS_AVERAGE);
    fx_status(fx, AT, "22901", "hC", 2023, EV_STATUS_POOR);
    fx_status(fx, AT, "22901", "hE", 2023, EV_STATUS_POOR);
    fx_status(fx, AT, "22901", "hF", 2023, EV_STATUS_NEAR_POOR);
    fx_status(fx, AT, "22901", "hA", 2020, EV_STATUS_POOR);
    fx_status(fx, AT, "22901", "hB", 2020, EV_STATUS_NONE);
    fx_status(fx, AT, "22901", "hC", 2020, EV_STATUS_POOR);
    fx_status(fx, AT, "22901", "hE", 2020, EV_STATUS_POOR);
    fx_status(fx, AT, "22901", "hA", 2022, EV_STATUS_NEAR_POOR);
    fx_status(fx, AT, "22901", "hB", 2022, EV_STATUS_POOR);
    fx_status(fx, AT, "22901", "hC", 2022, EV_STATUS_POOR);
    fx_status(fx, AT, "22901", "hD", 2022, EV_STATUS_POOR);
    fx_status(fx, AT, "22901", "hF", 2022, EV_STATUS_POOR);
    fx_status(fx, AT, "22901", "hA", 2021, EV_STATUS_POOR);
    fx_status(fx, AT, "22901", "hB", 2021, EV_STATUS_POOR);
    fx_status(fx, AT, "22901", "hD", 2021, EV_STATUS_NEAR_POOR);
    fx_status(fx, AT, "22901", "hE", 2021, EV_STATUS_NONE);
}

/*
 * District 593 publishes 1000 households a year; commune 22901 500.  All
 * poor households live in 22901 (40 households, the first n poor, the
 * rest near-poor):
 *   2022: 35 poor  -> 593: 3.5 %  22901: 7.0 %
 *   2023: 31 poor  -> 593: 3.1 %  22901: 6.2 %
 *   2024: 33 poor  -> 593: 3.3 %  22901: 6.6 %
 * Reviews: 593/2023 down 0.4 (< 0.7: target_missed); 22901/2023 down 0.8
 * (met: no alert); 60/2023: 60 publishes nothing, so 1000 from 593 (594
 * knows nothing), the same as 593: target_missed; 594/2023: nothing known,
 * no alert; 593/2024 up 0.2 (target_missed and rate_rose).
 * Does not define the units (call sc_units first).
 */
void sc_poverty_alerts(struct fx *fx)
{
    static const int poor[] = {35, 31, 33};
    char hh[16];
    for (int y = 2022; y <= 2024; y++) {
        fx_households(fx, AT, "593", y, 1000);
        fx_households(fx, AT, "22901", y, 500);
        for (int i = 0; i < 40; i++) {
            snprintf(hh, sizeof hh, "a%02d", i);
            fx_status(fx, AT, "22901", hh, y,
                      i < poor[y - 2022] ? EV_STATUS_POOR
                                         : EV_STATUS_NEAR_POOR);
        }
    }
    fx_review(fx, AT + 100, "593", 2023);
    fx_review(fx, AT + 101, "22901", 2023);
    fx_review(fx, AT + 102, "60", 2023);
    fx_review(fx, AT + 103, "594", 2023);
    fx_review(fx, AT + 200, "593", 2024);
}

/*
 * The fund over three days D0, D1, D2 (UTC+7 days).  Amounts in VND:
 *
 *   at       unit   event
 *   D0+1h    22901  r1 received 1,000,000
 *   D0+2h    593    r7 received 5,000,000 naming P2 (before P2 exists)
 *   D0+3h    22901  P1 pledged 10,000,000
 *   D0+10h   593    r2 received 2,000,000
 *   D0+12h   22901  P4 pledged 2,000,000
 *   D0+20h   593    d2 disbursed 3,000,000 education
 *   D0+23h   22950  r3 received 4,000,000
 *   D1+2h    22901  r4 received 8,000,000
 *   D1+4h    593    P2 pledged 4,000,000 (over-paid by r7: outstanding 0)
 *   D1+6h    22901  d1 disbursed 20,000,000 housing, household h1
 *   D2+1h    22950  P3 pledged 6,000,000 (never paid)
 *   D2+2h    22950  d3 disbursed 1,000,000 tet
 *   D2+5h    22901  r5 received 150,000,000 from "Công ty ABC" (large)
 *   part 2 (a later batch):
 *   D1+1h    22901  r6 received 3,000,000 naming P1 (P1 outstanding 7M)
 *   D2+6h    22901  r8 received 500,000 naming P4 (P4 outstanding 1.5M,
 *                   counted at D0+12h where P4 lies)
 */
void sc_fund_part1(struct fx *fx)
{
    fx_received(fx, D0 + 1 * H, "22901", 1000000, "Nguyen Van A", NULL);
    fx_received(fx, D0 + 2 * H, "593", 5000000, "Hoi Nong dan", "P2");
    fx_pledge(fx, D0 + 3 * H, "22901", "P1", 10000000, "Tran Thi B");
    fx_received(fx, D0 + 10 * H, "593", 2000000, "Le Van C", NULL);
    fx_pledge(fx, D0 + 12 * H, "22901", "P4", 2000000, "Pham D");
    fx_disbursed(fx, D0 + 20 * H, "593", NULL, 3000000, EV_PURPOSE_EDUCATION);
    fx_received(fx, D0 + 23 * H, "22950", 4000000, "Vo E", NULL);
    fx_received(fx, D1 + 2 * H, "22901", 8000000, "Dang F", NULL);
    fx_pledge(fx, D1 + 4 * H, "593", "P2", 4000000, "Hoi Nong dan");
    fx_disbursed(fx, D1 + 6 * H, "22901", "h1", 20000000, EV_PURPOSE_HOUSING);
    fx_pledge(fx, D2 + 1 * H, "22950", "P3", 6000000, "Bui G");
    fx_disbursed(fx, D2 + 2 * H, "22950", NULL, 1000000, EV_PURPOSE_TET);
    fx_received(fx, D2 + 5 * H, "22901", 150000000, "Công ty ABC", NULL);
}

void sc_fund_part2(struct fx *fx)
{
    fx_received(fx, D1 + 1 * H, "22901", 3000000, "Tran Thi B", "P1");
    fx_received(fx, D2 + 6 * H, "22901", 500000, "Pham D", "P4");
}

/*
 * Escape cohorts in commune 22902 (k6 lives in 22950 in 2022), events out
 * of year order; "-" = no status event:
 *
 *        2020    2021    2022          2023    2024
 *   k1   poor    near    poor          near    near
 *   k2   poor    average average       poor    none
 *   k3   poor    none    -             -       poor
 *   k4   poor    near    near (->poor) near    near
 *   k5   poor    poor    near          -       poor
 *   k6   -       poor    none @22950   poor    -
 *   k7   -       -       near          -       -
 *
 * Escapes (poor in c-1, explicit non-poor in c), before the correction:
 *   cohort 2021: k1 k2 k3 k4 (4), all in 22902.  Poor again in 2022: k1
 *     -> relapsed_1y 1 (25%); by 2023 also k2 -> 2y 2 (50%); by 2024 also
 *     k3 -> 3y 3 (75%).  k4 never.
 *   cohort 2022: k5 in 22902, k6 in 22950.  k6 poor in 2023 -> 1y; k5
 *     poor in 2024 (2023 unknown) -> 2y.  22902: 1 escaped, 1y 0, 2y 1,
 *     3y 1.  22950 and 594: 1 escaped, 1y 1, 2y 1, 3y 1.  593: as 22902.
 *     60: 2 escaped, 1y 1, 2y 2, 3y 2.
 *   cohort 2023: k1 (poor 2022, near 2023), not poor in 2024: 1, 0, 0, 0.
 *   cohort 2024: k2 (poor 2023, none 2024): 1, 0, 0, 0.
 *   cohort 2020: nothing escaped: rates nil.
 * near_poor_formerly_poor (22902): 2021 k1 k4 = 2; 2022 k4 k5 = 2 (k7
 *   near but never poor); 2023 k1 k4 = 2; 2024 k1 k4 = 2.
 * Reviews of 22902 (relapse_max_share 10%):
 *   2022: cohort 2021 1y 25% -> relapse_high; (2020, 2019: none escaped).
 *   2023: cohort 2022 1y 0/1 no; cohort 2021 2y 50% -> relapse_high.
 *   2024: cohort 2023 1y 0/1 no; cohort 2022 2y 1/1 100% -> alert;
 *         cohort 2021 3y 75% -> alert.
 * Four relapse_high alerts in all; no target alert (22902 publishes no
 * households, so no rate).
 */
void sc_poverty_cohorts(struct fx *fx)
{
    static const struct {
        const char *hh, *unit;
        int year;
        enum ev_status st;
    } ev[] = {
        {"k1", "22902", 2024, EV_STATUS_NEAR_POOR},
        {"k2", "22902", 2024, EV_STATUS_NONE},
        {"k3", "22902", 2024, EV_STATUS_POOR},
        {"k4", "22902", 2024, EV_STATUS_NEAR_POOR},
        {"k5", "22902", 2024, EV_STATUS_POOR},
        {"k1", "22902", 2022, EV_STATUS_POOR},
        {"k2", "22902", 2022, EV_STATUS_AVERAGE},
        {"k4", "22902", 2022, EV_STATUS_NEAR_POOR},
        {"k5", "22902", 2022, EV_STATUS_NEAR_POOR},
        {"k6", "22950", 2022, EV_STATUS_NONE},
        {"k7", "22902", 2022, EV_STATUS_NEAR_POOR},
        {"k1", "22902", 2020, EV_STATUS_POOR},
        {"k2", "22902", 2020, EV_STATUS_POOR},
        {"k3", "22902", 2020, EV_STATUS_POOR},
        {"k4", "22902", 2020, EV_STATUS_POOR},
        {"k5", "22902", 2020, EV_STATUS_POOR},
        {"k1", "22902", 2023, EV_STATUS_NEAR_POOR},
        {"k2", "22902", 2023, EV_STATUS_POOR},
        {"k4", "22902", 2023, EV_STATUS_NEAR_POOR},
        {"k6", "22902", 2023, EV_STATUS_POOR},
        {"k1", "22902", 2021, EV_STATUS_NEAR_POOR},
        {"k2", "22902", 2021, EV_STATUS_AVERAGE},
        {"k3", "22902", 2021, EV_STATUS_NONE},
        {"k4", "22902", 2021, EV_STATUS_NEAR_POOR},
        {"k5", "22902", 2021, EV_STATUS_POOR},
        {"k6", "22902", 2021, EV_STATUS_POOR},
    };
    for (size_t i = 0; i < sizeof ev / sizeof ev[0]; i++)
        fx_status(fx, AT, ev[i].unit, ev[i].hh, ev[i].year, ev[i].st);
    fx_review(fx, AT + 300, "22902", 2022);
    fx_review(fx, AT + 301, "22902", 2023);
    fx_review(fx, AT + 302, "22902", 2024);
}

/*
 * The correction, in a later batch: k4 was in fact poor in 2022.  k4 then
 * relapses in 2022 (relapsed flow) and escapes again in 2023:
 *   cohort 2021: 4 escaped, 1y 2 (k1 k4, 50%), 2y 3 (75%), 3y 4 (100%);
 *   cohort 2023: k1 k4, 2 escaped, none poor in 2024;
 *   near_poor_formerly_poor 2022: k5 only = 1 (k4 is poor now).
 * 22902's review of 2022 is closed again: cohort 2021 1y is now 50% but
 * was reported already (once per unit, cohort and k): no new alert.
 */
void sc_poverty_cohorts_fix(struct fx *fx)
{
    fx_status(fx, AT + 400, "22902", "k4", 2022, EV_STATUS_POOR);
    fx_review(fx, AT + 401, "22902", 2022);
}

/* A disbursement at the central level (the fixture derives the level from
 * the unit's code length, so central needs its own event). */
static void disbursed_central(struct fx *fx, int64_t at, const char *unit,
                              int64_t amount, enum ev_purpose purpose)
{
    struct ev_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = EV_FUND_DISBURSED;
    ev.at = at;
    ev.unit.ptr = unit;
    ev.unit.len = (uint32_t)strlen(unit);
    ev.data.amount = amount;
    ev.data.purpose = purpose;
    ev.data.level = EV_LEVEL_CENTRAL;
    fx_add(fx, &ev);
}

/*
 * Money to households, amounts in millions of VND (M):
 *
 *  stage 1 (statuses first, then disbursements):
 *   s1 hX 2024 poor (22901); s2 hY 2024 average (22901)
 *   g1 D0+1h  22901 hX 10 housing    commune   hX poor: recognised
 *   g2 D0+2h  22901 hY  4 livelihood commune   hY average: not; alert
 *                                              beneficiary_not_poor (hY)
 *   g3 D0+3h  593   hY  6 education  district  not; no second alert
 *   g4 D0+4h  22902 hZ  5 health     commune   hZ unknown yet: not
 *   g5 D0+5h  60    hX  2 tet        province  recognised
 *   g6 D0+6h  60    -   7 disaster   central   no household
 *   g7 Y2025+3h 22901 hX 3 tet       commune   local year 2025 (UTC still
 *                                              2024): no 2025 status
 *   60 all time: disbursed 37; central 7, province 2, district 6, commune
 *   22; to_households 30; to_recognised 12 (g1 g5); share 40%.
 *   year 2024 (g1..g6): to_households 27, recognised 12 (44.44%),
 *   beneficiaries hX hY hZ = 3, support 9.  year 2025: g7: 3, 0 (0%),
 *   1 beneficiary, support 3.  593, 2024: g1 g2 g3 g4 = 25, recognised 10,
 *   3 beneficiaries (hY counted once for g2 and g3).  22901, 2024: g1 g2
 *   = 14, 2 beneficiaries.
 *
 *  stage 2 (statuses after the disbursements):
 *   s3 hZ 2024 near_poor (arrives after g4): g4 +5 recognised
 *   s4 hX 2024 none (was poor): g1 g5 -12; alert beneficiary_not_poor
 *      (hX, 12,000,000 VND) at s4
 *   60 all time: recognised 12 + 5 - 12 = 5 of 30 (16.67%).
 *
 *  stage 3:
 *   s5 hX 2024 poor again: +12 -> 17 of 31 (54.84%); no new alert
 *   g8 D1 22901 hY 1 other commune: hY average: not recognised; hY was
 *      reported already: no new alert.  to_households 31.
 */
void sc_fund_households1(struct fx *fx)
{
    const int64_t M = 1000000;
    fx_status(fx, D0, "22901", "hX", 2024, EV_STATUS_POOR);
    fx_status(fx, D0, "22901", "hY", 2024, EV_STATUS_AVERAGE);
    fx_disbursed(fx, D0 + 1 * H, "22901", "hX", 10 * M, EV_PURPOSE_HOUSING);
    fx_disbursed(fx, D0 + 2 * H, "22901", "hY", 4 * M, EV_PURPOSE_LIVELIHOOD);
    fx_disbursed(fx, D0 + 3 * H, "593", "hY", 6 * M, EV_PURPOSE_EDUCATION);
    fx_disbursed(fx, D0 + 4 * H, "22902", "hZ", 5 * M, EV_PURPOSE_HEALTH);
    fx_disbursed(fx, D0 + 5 * H, "60", "hX", 2 * M, EV_PURPOSE_TET);
    disbursed_central(fx, D0 + 6 * H, "60", 7 * M, EV_PURPOSE_DISASTER);
    fx_disbursed(fx, SC_Y2025 + 3 * H, "22901", "hX", 3 * M, EV_PURPOSE_TET);
}

void sc_fund_households2(struct fx *fx)
{
    fx_status(fx, D1, "22902", "hZ", 2024, EV_STATUS_NEAR_POOR);
    fx_status(fx, D1 + H, "22901", "hX", 2024, EV_STATUS_NONE);
}

void sc_fund_households3(struct fx *fx)
{
    fx_status(fx, D2, "22901", "hX", 2024, EV_STATUS_POOR);
    fx_disbursed(fx, D1, "22901", "hY", 1000000, EV_PURPOSE_OTHER);
}
