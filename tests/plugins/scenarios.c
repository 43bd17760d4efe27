/*
 * scenarios.c - see scenarios.h.
 */
#include <stdio.h>

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
