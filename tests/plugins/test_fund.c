/*
 * test_fund.c - the fund plugin through the real log and host, on the
 * scenario of scenarios.c (sc_fund_part1/2); every expectation below is
 * summed by hand from the table there.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "fixture.h"
#include "scenarios.h"

#define D0 SC_D0
#define D1 (SC_D0 + SC_DAY)
#define D2 (SC_D0 + 2 * SC_DAY)
#define D3 (SC_D0 + 3 * SC_DAY)
#define H SC_H
#define M INT64_C(1000000)

struct want {
    int64_t received, donations, pledged, outstanding, disbursed;
    int64_t housing, education, tet;
};

/* Query fund for unit over [from, to) (a negative bound: absent) and
 * compare every field. */
static void expect(struct fx *fx, const char *unit, int64_t from, int64_t to,
                   const struct want *w)
{
    char q[160];
    int n = snprintf(q, sizeof q, "{\"unit\":\"%s\"", unit);
    if (from >= 0)
        n += snprintf(q + n, sizeof q - (size_t)n, ",\"from\":%lld",
                      (long long)from);
    if (to >= 0)
        n += snprintf(q + n, sizeof q - (size_t)n, ",\"to\":%lld",
                      (long long)to);
    snprintf(q + n, sizeof q - (size_t)n, "}");

    struct fx_reply r;
    const msgpack_object *res = fx_query(fx, &r, "fund", q);
    char s[16];
    assert_string_equal(fx_str(res, "unit", s, sizeof s), unit);
    assert_int_equal(fx_i64(res, "received"), w->received);
    assert_int_equal(fx_i64(res, "donations"), w->donations);
    assert_int_equal(fx_i64(res, "pledged"), w->pledged);
    assert_int_equal(fx_i64(res, "pledge_outstanding"), w->outstanding);
    assert_int_equal(fx_i64(res, "disbursed"), w->disbursed);
    assert_int_equal(fx_i64(res, "balance"), w->received - w->disbursed);
    const msgpack_object *bp = fx_get(res, "by_purpose");
    assert_int_equal(bp->type, MSGPACK_OBJECT_MAP);
    assert_int_equal(bp->via.map.size, 7);
    assert_int_equal(fx_i64(bp, "housing"), w->housing);
    assert_int_equal(fx_i64(bp, "education"), w->education);
    assert_int_equal(fx_i64(bp, "tet"), w->tet);
    assert_int_equal(fx_i64(bp, "livelihood"), 0);
    assert_int_equal(fx_i64(bp, "health"), 0);
    assert_int_equal(fx_i64(bp, "disaster"), 0);
    assert_int_equal(fx_i64(bp, "other"), 0);
    fx_reply_free(&r);
}

static struct fx *fund_fx(void)
{
    struct fx *fx = fx_new("fund");
    sc_units(fx);
    sc_fund_part1(fx);
    fx_sync(fx);
    return fx;
}

static void test_totals(void **state)
{
    (void)state;
    struct fx *fx = fund_fx();

    /* Part 1 only: P1 and P4 unpaid, P2 over-paid by r7 (before it),
     * P3 unpaid.  received r1 r7 r2 r3 r4 r5 = 1+5+2+4+8+150. */
    struct want w1 = {170 * M, 6,      22 * M, 10 * M + 0 + 6 * M + 2 * M,
                      24 * M,  20 * M, 3 * M,  1 * M};
    expect(fx, "60", -1, -1, &w1);

    sc_fund_part2(fx);
    fx_sync(fx);
    /* + r6 3M (P1 -> 7M outstanding) + r8 0.5M (P4 -> 1.5M). */
    struct want w60 = {173500000, 8,      22 * M, 14500000,
                       24 * M,    20 * M, 3 * M,  1 * M};
    expect(fx, "60", -1, -1, &w60);
    /* 593 and below: everything but r3, P3 and d3 (22950). */
    struct want w593 = {169500000, 7,      16 * M, 8500000,
                        23 * M,    20 * M, 3 * M,  0};
    expect(fx, "593", -1, -1, &w593);
    /* 22901 alone: r1 r4 r5 r6 r8; P1 P4; d1. */
    struct want w22901 = {162500000, 5, 12 * M, 8500000, 20 * M, 20 * M, 0, 0};
    expect(fx, "22901", -1, -1, &w22901);
    /* 594: r3, P3, d3 (all in 22950). */
    struct want w594 = {4 * M, 1, 6 * M, 6 * M, 1 * M, 0, 0, 1 * M};
    expect(fx, "594", -1, -1, &w594);
    /* A unit with nothing. */
    struct want none = {0};
    expect(fx, "22903", -1, -1, &none);
    fx_free(fx);
}

static void test_ranges(void **state)
{
    (void)state;
    struct fx *fx = fund_fx();
    sc_fund_part2(fx);
    fx_sync(fx);

    /* [D0+2h, D1+3h): r7 (from is inclusive) 5, P1 10/7, r2 2, P4 2/1.5
     * (its payment r8 lies outside the range but still counts), d2 3 edu,
     * r3 4, r6 3, r4 8.  Partial day at both edges. */
    struct want w = {22 * M, 5, 12 * M, 8500000, 3 * M, 0, 3 * M, 0};
    expect(fx, "60", D0 + 2 * H, D1 + 3 * H, &w);

    /* [D0+1h, D0+2h): r1 only; r7 at exactly "to" is excluded. */
    struct want w1 = {1 * M, 1, 0, 0, 0, 0, 0, 0};
    expect(fx, "60", D0 + 1 * H, D0 + 2 * H, &w1);

    /* Whole day D1 (day buckets only): r6 3, r4 8, P2 4/0, d1 20. */
    struct want wd1 = {11 * M, 2, 4 * M, 0, 20 * M, 20 * M, 0, 0};
    expect(fx, "60", D1, D2, &wd1);

    /* Open end from D2: P3 6/6, d3 1 tet, r5 150, r8 0.5. */
    struct want wd2 = {150500000, 2, 6 * M, 6 * M, 1 * M, 0, 0, 1 * M};
    expect(fx, "60", D2, -1, &wd2);

    /* Open start to D0+12h, district 593: r1 1, r7 5, P1 10/7, r2 2;
     * P4 at exactly D0+12h excluded. */
    struct want w593 = {8 * M, 3, 10 * M, 7 * M, 0, 0, 0, 0};
    expect(fx, "593", -1, D0 + 12 * H, &w593);

    /* [D0+23h, D2+1h+1s): partial D0 (r3 4), whole D1 (r6 3, r4 8, P2
     * 4/0, d1 20), partial D2 (P3 6/6 at D2+1h). */
    struct want wmix = {15 * M, 3, 10 * M, 6 * M, 20 * M, 20 * M, 0, 0};
    expect(fx, "60", D0 + 23 * H, D2 + 1 * H + 1, &wmix);

    /* Commune 22950 over three whole days: r3 4, P3 6/6, d3 1 tet. */
    struct want w22950 = {4 * M, 1, 6 * M, 6 * M, 1 * M, 0, 0, 1 * M};
    expect(fx, "22950", D0, D3, &w22950);

    /* Empty range, and a range before anything. */
    struct want none = {0};
    expect(fx, "60", D1 + 2 * H, D1 + 2 * H, &none);
    expect(fx, "60", 0, D0, &none);
    /* The whole time as explicit bounds equals the all-time total. */
    struct want all = {173500000, 8,      22 * M, 14500000,
                       24 * M,    20 * M, 3 * M,  1 * M};
    expect(fx, "60", 0, D3, &all);
    expect(fx, "60", D0 - SC_DAY, -1, &all); /* from at a day start */
    expect(fx, "60", D0 - 1, -1, &all);      /* from inside a day */
    fx_free(fx);
}

/*
 * A repeated donation.pledged for the same pledge id corrects the pledge:
 * P5 first 10M in 22901 on D0, a 1M payment, then P5 again, 4M in 22950
 * on D1.  Only the correction counts: pledged 4M, outstanding 3M, both in
 * 22950 on D1; a payment naming a pledge that never comes changes nothing
 * but "received".
 */
static void test_pledge_corrected(void **state)
{
    (void)state;
    struct fx *fx = fx_new("fund");
    sc_units(fx);
    fx_pledge(fx, D0 + 1 * H, "22901", "P5", 10 * M, "Ngo H");
    fx_received(fx, D0 + 2 * H, "22901", 1 * M, "Ngo H", "P5");
    fx_received(fx, D0 + 3 * H, "22901", 2 * M, "Ngo H", "P-never");
    fx_sync(fx);
    struct want before = {3 * M, 2, 10 * M, 9 * M, 0, 0, 0, 0};
    expect(fx, "60", -1, -1, &before);

    fx_pledge(fx, D1 + 1 * H, "22950", "P5", 4 * M, "Ngo H");
    fx_sync(fx);
    struct want all = {3 * M, 2, 4 * M, 3 * M, 0, 0, 0, 0};
    expect(fx, "60", -1, -1, &all);
    struct want w593 = {3 * M, 2, 0, 0, 0, 0, 0, 0};
    expect(fx, "593", -1, -1, &w593);
    expect(fx, "60", D0, D0 + 4 * H, &w593); /* old place: edge entries */
    struct want w594 = {0, 0, 4 * M, 3 * M, 0, 0, 0, 0};
    expect(fx, "594", -1, -1, &w594);
    expect(fx, "594", D1 + 1 * H, D1 + 1 * H + 1, &w594);
    fx_free(fx);
}

static void test_large_donation_alert(void **state)
{
    (void)state;
    struct fx *fx = fund_fx();
    struct fx_reply r;
    fx_request(fx, &r, "{\"op\":\"alerts\",\"since\":0}");
    const msgpack_object *alerts = fx_get(r.root, "alerts");
    assert_int_equal(alerts->via.array.size, 1);
    const msgpack_object *a = &alerts->via.array.ptr[0];
    char buf[256];
    assert_string_equal(fx_str(a, "code", buf, sizeof buf),
                        "fund.large_donation");
    assert_string_equal(fx_str(a, "severity", buf, sizeof buf), "info");
    assert_string_equal(fx_str(a, "unit", buf, sizeof buf), "22901");
    assert_string_equal(fx_str(a, "message", buf, sizeof buf),
                        "large donation: 150,000,000 VND from Công ty ABC "
                        "to unit 22901");
    assert_int_equal(fx_i64(a, "at"), D2 + 5 * H);
    fx_reply_free(&r);
    fx_free(fx);

    /* The threshold is inclusive and configurable: 8,000,000 catches r4
     * (exactly 8M) and r5. */
    fx = fx_new("fund");
    fx_conf(fx, "fund", "large_donation", "8000000");
    sc_units(fx);
    sc_fund_part1(fx);
    fx_sync(fx);
    fx_request(fx, &r, "{\"op\":\"alerts\",\"since\":0}");
    alerts = fx_get(r.root, "alerts");
    assert_int_equal(alerts->via.array.size, 2);
    assert_string_equal(
        fx_str(&alerts->via.array.ptr[0], "message", buf, sizeof buf),
        "large donation: 8,000,000 VND from Dang F to unit "
        "22901");
    fx_reply_free(&r);
    fx_free(fx);
}

/* Fields of the household part of a fund result; share < 0: nil. */
struct hwant {
    int64_t to_households, to_recognised;
    double share;
};

static void expect_hh(const msgpack_object *res, const struct hwant *w)
{
    assert_int_equal(fx_i64(res, "to_households"), w->to_households);
    assert_int_equal(fx_i64(res, "to_recognised"), w->to_recognised);
    if (w->share < 0)
        assert_true(fx_is_nil(res, "recognised_share"));
    else
        assert_float_equal(fx_f64(res, "recognised_share"), w->share, 1e-9);
}

/* Query {"unit", "year"} and check the household part, beneficiaries and
 * support per beneficiary (nil when no beneficiary). */
static void expect_year(struct fx *fx, const char *unit, int year,
                        const struct hwant *w, int64_t beneficiaries)
{
    char q[96];
    struct fx_reply r;
    snprintf(q, sizeof q, "{\"unit\":\"%s\",\"year\":%d}", unit, year);
    const msgpack_object *res = fx_query(fx, &r, "fund", q);
    assert_int_equal(res->via.map.size, 16);
    expect_hh(res, w);
    assert_int_equal(fx_i64(res, "year"), year);
    assert_int_equal(fx_i64(res, "beneficiaries"), beneficiaries);
    if (beneficiaries == 0)
        assert_true(fx_is_nil(res, "support_per_beneficiary"));
    else
        assert_float_equal(fx_f64(res, "support_per_beneficiary"),
                           (double)w->to_households / (double)beneficiaries,
                           1e-6);
    fx_reply_free(&r);
}

/* Query {"unit", "from"?, "to"?} (negative: absent), check the household
 * part. */
static void expect_range_hh(struct fx *fx, const char *unit, int64_t from,
                            int64_t to, const struct hwant *w)
{
    char q[160];
    struct fx_reply r;
    if (from < 0)
        snprintf(q, sizeof q, "{\"unit\":\"%s\"}", unit);
    else
        snprintf(q, sizeof q, "{\"unit\":\"%s\",\"from\":%lld,\"to\":%lld}",
                 unit, (long long)from, (long long)to);
    const msgpack_object *res = fx_query(fx, &r, "fund", q);
    assert_int_equal(res->via.map.size, 12);
    expect_hh(res, w);
    fx_reply_free(&r);
}

/* Alerts of one code, in store order, into out[] (up to max). */
static size_t alerts_of(const msgpack_object *alerts, const char *code,
                        const msgpack_object **out, size_t max)
{
    char c[64];
    size_t n = 0;
    for (uint32_t i = 0; i < alerts->via.array.size; i++) {
        const msgpack_object *a = &alerts->via.array.ptr[i];
        if (strcmp(fx_str(a, "code", c, sizeof c), code) == 0) {
            if (n < max)
                out[n] = a;
            n++;
        }
    }
    return n;
}

/* Check one alert's unit, household (NULL: none), message and at. */
static void expect_alert(const msgpack_object *a, const char *sev,
                         const char *unit, const char *hh, const char *msg,
                         int64_t at)
{
    char buf[512];
    assert_string_equal(fx_str(a, "severity", buf, sizeof buf), sev);
    assert_string_equal(fx_str(a, "unit", buf, sizeof buf), unit);
    if (hh != NULL)
        assert_string_equal(fx_str(a, "household", buf, sizeof buf), hh);
    assert_string_equal(fx_str(a, "message", buf, sizeof buf), msg);
    assert_int_equal(fx_i64(a, "at"), at);
}

/*
 * Disbursements to households (sc_fund_households*, figures in
 * scenarios.c): levels, the recognised share with statuses before and
 * after the disbursements and changed later, beneficiaries per year and
 * beneficiary_not_poor once per household-year.
 */
static void test_households(void **state)
{
    (void)state;
    struct fx *fx = fx_new("fund");
    struct fx_reply r;
    const msgpack_object *res, *al[4];
    sc_units(fx);
    sc_fund_households1(fx);
    fx_sync(fx);

    res = fx_query(fx, &r, "fund", "{\"unit\":\"60\"}");
    assert_int_equal(fx_i64(res, "disbursed"), 37 * M);
    const msgpack_object *lv = fx_get(res, "disbursed_by_level");
    assert_int_equal(lv->type, MSGPACK_OBJECT_MAP);
    assert_int_equal(lv->via.map.size, 4);
    assert_int_equal(fx_i64(lv, "central"), 7 * M);
    assert_int_equal(fx_i64(lv, "province"), 2 * M);
    assert_int_equal(fx_i64(lv, "district"), 6 * M);
    assert_int_equal(fx_i64(lv, "commune"), 22 * M); /* g1 g2 g4 g7 */
    struct hwant all1 = {30 * M, 12 * M, 40.0};
    expect_hh(res, &all1);
    fx_reply_free(&r);
    /* Local year 2024 = [2024-01-01, 2025-01-01) UTC+7: g1..g6. */
    res = fx_query(fx, &r, "fund", "{\"unit\":\"60\",\"year\":2024}");
    assert_int_equal(fx_i64(res, "disbursed"), 34 * M);
    assert_int_equal(fx_i64(fx_get(res, "disbursed_by_level"), "commune"),
                     19 * M);
    fx_reply_free(&r);
    struct hwant y60 = {27 * M, 12 * M, 1200.0 / 27.0};
    expect_year(fx, "60", 2024, &y60, 3);
    /* g7 at 2025-01-01 03:00 local (2024 in UTC) is 2025's. */
    struct hwant y25 = {3 * M, 0, 0.0};
    expect_year(fx, "60", 2025, &y25, 1);
    struct hwant none = {0, 0, -1};
    expect_year(fx, "60", 2023, &none, 0);
    struct hwant y593 = {25 * M, 10 * M, 40.0};
    expect_year(fx, "593", 2024, &y593, 3); /* hY once for g2 and g3 */
    struct hwant y22901 = {14 * M, 10 * M, 10.0 / 14.0 * 100.0};
    expect_year(fx, "22901", 2024, &y22901, 2);
    expect_range_hh(fx, "594", -1, -1, &none);

    fx_request(fx, &r, "{\"op\":\"alerts\",\"since\":0}");
    const msgpack_object *alerts = fx_get(r.root, "alerts");
    assert_int_equal(alerts_of(alerts, "fund.beneficiary_not_poor", al, 4), 1);
    expect_alert(al[0], "warning", "22901", "hY",
                 "household hY received 4,000,000 VND from the fund in 2024 "
                 "but its official status for 2024 is average, neither poor "
                 "nor near-poor",
                 D0 + 2 * H);
    fx_reply_free(&r);

    /* Stage 2: hZ's status arrives after g4; hX's changes to none. */
    sc_fund_households2(fx);
    fx_sync(fx);
    struct hwant all2 = {30 * M, 5 * M, 500.0 / 30.0};
    expect_range_hh(fx, "60", -1, -1, &all2);
    /* The moved amounts are in the event entries and the day buckets. */
    struct hwant g4 = {5 * M, 5 * M, 100.0};
    expect_range_hh(fx, "60", D0 + 4 * H, D0 + 5 * H, &g4);
    struct hwant d0 = {25 * M, 5 * M, 20.0}; /* g1 g2 g3 g4 */
    expect_range_hh(fx, "593", D0, D1, &d0);
    struct hwant y60b = {27 * M, 5 * M, 500.0 / 27.0};
    expect_year(fx, "60", 2024, &y60b, 3);
    fx_request(fx, &r, "{\"op\":\"alerts\",\"since\":0}");
    alerts = fx_get(r.root, "alerts");
    assert_int_equal(alerts_of(alerts, "fund.beneficiary_not_poor", al, 4), 2);
    expect_alert(al[1], "warning", "22901", "hX",
                 "household hX received 12,000,000 VND from the fund in 2024 "
                 "but its official status for 2024 is none, neither poor nor "
                 "near-poor",
                 D1 + H);
    fx_reply_free(&r);

    /* Stage 3: hX poor again; another disbursement to hY (reported). */
    sc_fund_households3(fx);
    fx_sync(fx);
    struct hwant all3 = {31 * M, 17 * M, 1700.0 / 31.0};
    expect_range_hh(fx, "60", -1, -1, &all3);
    struct hwant y22901c = {15 * M, 10 * M, 1000.0 / 15.0};
    expect_year(fx, "22901", 2024, &y22901c, 2);
    fx_request(fx, &r, "{\"op\":\"alerts\",\"since\":0}");
    alerts = fx_get(r.root, "alerts");
    assert_int_equal(alerts_of(alerts, "fund.beneficiary_not_poor", al, 4), 2);
    assert_int_equal(alerts->via.array.size, 2);
    fx_reply_free(&r);
    fx_free(fx);
}

/* All alerts of the fixture's host. */
static const msgpack_object *all_alerts(struct fx *fx, struct fx_reply *r)
{
    fx_request(fx, r, "{\"op\":\"alerts\",\"since\":0}");
    return fx_get(r->root, "alerts");
}

static size_t count_of(struct fx *fx, const char *code)
{
    struct fx_reply r;
    const msgpack_object *al[1];
    size_t n = alerts_of(all_alerts(fx, &r), code, al, 0);
    fx_reply_free(&r);
    return n;
}

/*
 * pledge_overdue through the host's tick (pt_host_tick with chosen
 * times).  Dues are at + 30 days: P1 D0+3h+30d (7M of 10M outstanding
 * after part 2), P4 D0+12h+30d (1.5M), P2 D1+4h+30d (over-paid: 0), P3
 * D2+1h+30d (6M).  Ticks are hours apart: the host keys tick alerts by
 * (applied seq, now + ordinal).
 */
static void test_pledge_overdue(void **state)
{
    (void)state;
    struct fx *fx = fund_fx();
    struct fx_reply r;
    const msgpack_object *al[4];
    const int64_t P1_DUE = D0 + 3 * H + 30 * SC_DAY;
    sc_fund_part2(fx);
    fx_sync(fx);

    assert_int_equal(pt_host_tick(fx->host, D0 + 10 * SC_DAY), 0);
    assert_int_equal(count_of(fx, "fund.pledge_overdue"), 0);
    /* due < now, strictly. */
    assert_int_equal(pt_host_tick(fx->host, P1_DUE), 0);
    assert_int_equal(count_of(fx, "fund.pledge_overdue"), 0);
    assert_int_equal(pt_host_tick(fx->host, P1_DUE + 1), 0);
    assert_int_equal(
        alerts_of(all_alerts(fx, &r), "fund.pledge_overdue", al, 4), 1);
    expect_alert(al[0], "info", "22901", NULL,
                 "pledge P1: 7,000,000 VND of 10,000,000 outstanding, due "
                 "2024-11-16",
                 P1_DUE);
    fx_reply_free(&r);

    /* P4 and P3 later; P2 owes nothing; P1 is not repeated. */
    assert_int_equal(pt_host_tick(fx->host, D2 + 40 * SC_DAY), 0);
    assert_int_equal(pt_host_tick(fx->host, D2 + 41 * SC_DAY), 0);
    assert_int_equal(
        alerts_of(all_alerts(fx, &r), "fund.pledge_overdue", al, 4), 3);
    expect_alert(al[1], "info", "22901", NULL,
                 "pledge P4: 1,500,000 VND of 2,000,000 outstanding, due "
                 "2024-11-16",
                 D0 + 12 * H + 30 * SC_DAY);
    expect_alert(al[2], "info", "22950", NULL,
                 "pledge P3: 6,000,000 VND of 6,000,000 outstanding, due "
                 "2024-11-18",
                 D2 + 1 * H + 30 * SC_DAY);
    fx_reply_free(&r);

    /* P2 corrected to 9M (5M paid): 4M outstanding, due already past. */
    fx_pledge(fx, D1 + 4 * H, "593", "P2", 9 * M, "Hoi Nong dan");
    fx_sync(fx);
    assert_int_equal(pt_host_tick(fx->host, D2 + 42 * SC_DAY), 0);
    assert_int_equal(
        alerts_of(all_alerts(fx, &r), "fund.pledge_overdue", al, 4), 4);
    expect_alert(al[3], "info", "593", NULL,
                 "pledge P2: 4,000,000 VND of 9,000,000 outstanding, due "
                 "2024-11-17",
                 D1 + 4 * H + 30 * SC_DAY);
    fx_reply_free(&r);
    fx_free(fx);
}

/*
 * idle_balance through the host's tick, idle_balance 50,000,000 and the
 * default 90 days.  Balances (part 1 + 2, plus 90M received by 22903 at
 * D0+30min): 60 239.5M, 593 236.5M, 22901 142.5M, 22903 90M, 594 and
 * 22950 3M.  Last disbursement: 22901 and 593 d1 D1+6h; 60 d3 D2+2h;
 * 22903 none (its first donation D0+30min).
 */
static void test_idle_balance(void **state)
{
    (void)state;
    struct fx *fx = fx_new("fund");
    struct fx_reply r;
    const msgpack_object *al[8];
    const int64_t IDLE = 90 * SC_DAY;
    fx_conf(fx, "fund", "idle_balance", "50000000");
    sc_units(fx);
    sc_fund_part1(fx);
    sc_fund_part2(fx);
    fx_received(fx, D0 + 1800, "22903", 90 * M, "Ho I", NULL);
    fx_sync(fx);

    const int64_t t1 = D0 + 1800 + IDLE - 1;
    assert_int_equal(pt_host_tick(fx->host, t1), 0);
    assert_int_equal(count_of(fx, "fund.idle_balance"), 0);
    assert_int_equal(pt_host_tick(fx->host, t1 + 3600), 0);
    assert_int_equal(alerts_of(all_alerts(fx, &r), "fund.idle_balance", al, 8),
                     1);
    expect_alert(al[0], "warning", "22903", NULL,
                 "unit 22903: balance 90,000,000 VND above 50,000,000 with no "
                 "disbursement since its first donation on 2024-10-17 (90 "
                 "days)",
                 D0 + 1800 + IDLE);
    fx_reply_free(&r);

    /* 593 and 22901 idle; 60 not yet (D2+2h+90d). */
    const int64_t t3 = D2 + 2 * H + IDLE - 1800;
    assert_int_equal(pt_host_tick(fx->host, t3), 0);
    assert_int_equal(alerts_of(all_alerts(fx, &r), "fund.idle_balance", al, 8),
                     3);
    expect_alert(al[1], "warning", "22901", NULL,
                 "unit 22901: balance 142,500,000 VND above 50,000,000 with "
                 "no disbursement since 2024-10-18 (90 days)",
                 D1 + 6 * H + IDLE);
    expect_alert(al[2], "warning", "593", NULL,
                 "unit 593: balance 236,500,000 VND above 50,000,000 with no "
                 "disbursement since 2024-10-18 (90 days)",
                 D1 + 6 * H + IDLE);
    fx_reply_free(&r);
    /* 31 minutes later 60 qualifies, but the check runs once an hour. */
    assert_int_equal(pt_host_tick(fx->host, D2 + 2 * H + IDLE + 60), 0);
    assert_int_equal(count_of(fx, "fund.idle_balance"), 3);
    assert_int_equal(pt_host_tick(fx->host, t3 + 3600), 0);
    assert_int_equal(alerts_of(all_alerts(fx, &r), "fund.idle_balance", al, 8),
                     4);
    expect_alert(al[3], "warning", "60", NULL,
                 "unit 60: balance 239,500,000 VND above 50,000,000 with no "
                 "disbursement since 2024-10-19 (90 days)",
                 D2 + 2 * H + IDLE);
    fx_reply_free(&r);
    /* Same episodes: nothing again. */
    assert_int_equal(pt_host_tick(fx->host, t3 + 2 * 3600), 0);
    assert_int_equal(count_of(fx, "fund.idle_balance"), 4);

    /* A disbursement in 22901 at D2+100d ends the episode of 22901, 593
     * and 60; 90 days after it they are reported again, 22903 is not. */
    fx_disbursed(fx, D2 + 100 * SC_DAY, "22901", NULL, 1 * M, EV_PURPOSE_OTHER);
    fx_sync(fx);
    assert_int_equal(pt_host_tick(fx->host, t3 + 3 * 3600), 0);
    assert_int_equal(count_of(fx, "fund.idle_balance"), 4);
    assert_int_equal(pt_host_tick(fx->host, D2 + 100 * SC_DAY + IDLE), 0);
    assert_int_equal(alerts_of(all_alerts(fx, &r), "fund.idle_balance", al, 8),
                     7);
    char u[3][16];
    for (int i = 0; i < 3; i++)
        fx_str(al[4 + i], "unit", u[i], sizeof u[i]);
    assert_string_equal(u[0], "22901");
    assert_string_equal(u[1], "593");
    assert_string_equal(u[2], "60");
    fx_reply_free(&r);
    fx_free(fx);
}

/* The "month for the poor" of 2024 is [17 Oct 2024 00:00, 19 Nov 2024
 * 00:00) local time = [1729098000, 1731949200) UTC.  Donations one second
 * either side of each edge: only the two inside count. */
static void test_month_for_the_poor(void **state)
{
    (void)state;
    struct fx *fx = fx_new("fund");
    sc_units(fx);
    fx_received(fx, 1729098000 - 1, "22901", 1 * M, "before", NULL);
    fx_received(fx, 1729098000, "22901", 2 * M, "first day", NULL);
    fx_received(fx, 1731949200 - 1, "22901", 4 * M, "last second", NULL);
    fx_received(fx, 1731949200, "22901", 8 * M, "after", NULL);
    fx_sync(fx);
    struct fx_reply r;
    const msgpack_object *res =
        fx_query(fx, &r, "fund", "{\"unit\":\"60\",\"year\":2024}");
    assert_int_equal(fx_i64(res, "received"), 15 * M);
    const msgpack_object *m = fx_get(res, "month_for_the_poor");
    assert_non_null(m);
    assert_int_equal(fx_i64(m, "from"), 1729098000);
    assert_int_equal(fx_i64(m, "to"), 1731949200);
    assert_int_equal(fx_i64(m, "received"), 6 * M);
    assert_int_equal(fx_i64(m, "donations"), 2);
    fx_reply_free(&r);
    /* Without a year there is no campaign month: the 12 keys of a range
     * query only. */
    res = fx_query(fx, &r, "fund", "{\"unit\":\"60\"}");
    assert_int_equal(res->via.map.size, 12);
    fx_reply_free(&r);
    fx_free(fx);
}

static void test_bad_config(void **state)
{
    (void)state;
    static const char *const bad[][2] = {
        {"large_donation", "0"},   {"large_donation", "-5"},
        {"large_donation", "abc"}, {"large_donation", "12x"},
        {"idle_balance", "0"},     {"idle_days", "x"},
        {"idle_days", "36501"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct fx *fx = fx_new("fund");
        char err[512] = "";
        fx_conf(fx, "fund", bad[i][0], bad[i][1]);
        fx_unit(fx, "60", NULL, EV_LEVEL_PROVINCE);
        fx_commit(fx);
        assert_int_not_equal(fx_host_open(fx, err, sizeof err), 0);
        fx_free(fx);
    }
}

static void test_query_errors(void **state)
{
    (void)state;
    struct fx *fx = fund_fx();
    struct fx_reply r;
    assert_string_equal(fx_query_error(fx, &r, "fund", "{}"),
                        "fund: unit: required");
    fx_reply_free(&r);
    assert_string_equal(
        fx_query_error(fx, &r, "fund", "{\"unit\":\"60\",\"from\":\"x\"}"),
        "fund: from: must be an integer");
    fx_reply_free(&r);
    assert_string_equal(
        fx_query_error(fx, &r, "fund", "{\"unit\":\"60\",\"to\":1.5}"),
        "fund: to: must be an integer");
    fx_reply_free(&r);
    assert_string_equal(
        fx_query_error(fx, &r, "fund",
                       "{\"unit\":\"60\",\"from\":10,\"to\":5}"),
        "fund: to: must not be before from");
    fx_reply_free(&r);
    assert_string_equal(fx_query_error(fx, &r, "fund", "{\"unit\":\"599\"}"),
                        "fund: unit: '599' is not a defined unit");
    fx_reply_free(&r);
    assert_string_equal(
        fx_query_error(fx, &r, "fund",
                       "{\"unit\":\"60\",\"year\":2024,\"from\":0}"),
        "fund: year: not with from or to");
    fx_reply_free(&r);
    assert_string_equal(
        fx_query_error(fx, &r, "fund", "{\"unit\":\"60\",\"year\":1969}"),
        "fund: year: must be 1970-9999");
    fx_reply_free(&r);
    fx_free(fx);
}

/* ---- units over time: the 2025 reorganisation ---- */

struct r25 {
    int64_t received, donations, pledged, outstanding, disbursed;
    int64_t to_households, to_recognised, beneficiaries;
};

/* Query unit with the rest of a query (tail: ",\"year\":2024", ...) and
 * compare; beneficiaries when the tail has a year. */
static void expect_r25_q(struct fx *fx, const char *unit, const char *tail,
                         const struct r25 *w)
{
    char q[160], s[16];
    struct fx_reply r;
    snprintf(q, sizeof q, "{\"unit\":\"%s\"%s}", unit, tail);
    const msgpack_object *res = fx_query(fx, &r, "fund", q);
    assert_string_equal(fx_str(res, "unit", s, sizeof s), unit);
    assert_int_equal(fx_i64(res, "received"), w->received);
    assert_int_equal(fx_i64(res, "donations"), w->donations);
    assert_int_equal(fx_i64(res, "pledged"), w->pledged);
    assert_int_equal(fx_i64(res, "pledge_outstanding"), w->outstanding);
    assert_int_equal(fx_i64(res, "disbursed"), w->disbursed);
    assert_int_equal(fx_i64(fx_get(res, "by_purpose"), "housing"),
                     w->disbursed);
    assert_int_equal(fx_i64(res, "to_households"), w->to_households);
    assert_int_equal(fx_i64(res, "to_recognised"), w->to_recognised);
    if (strstr(tail, "year") != NULL)
        assert_int_equal(fx_i64(res, "beneficiaries"), w->beneficiaries);
    fx_reply_free(&r);
}

/* Query unit for a local year (0: all time) and compare. */
static void expect_r25(struct fx *fx, const char *unit, int year,
                       const struct r25 *w)
{
    char tail[32] = "";
    if (year != 0)
        snprintf(tail, sizeof tail, ",\"year\":%d", year);
    expect_r25_q(fx, unit, tail, w);
}

/* The refusal of a query for a unit that had ended by its date. */
static void expect_ended(struct fx *fx, const char *q, const char *want)
{
    fx_assert_refused(fx, "fund", q, want);
}

/* The ends of 2025 and 2026, and 1 July 2025, for as_of and to. */
#define END25 "1767200399"
#define END26 "1798736399"
#define JUL25 "1751302800"

/* All time and 2024 to 2026, and as of the end of 2026. */
static void r25_snap(struct fx *fx, struct fx_snap *s)
{
    static const char *const tails[] = {"",
                                        ",\"year\":2024",
                                        ",\"year\":2025",
                                        ",\"year\":2026",
                                        ",\"as_of\":" END26,
                                        ",\"year\":2024,\"as_of\":" END26,
                                        ",\"year\":2025,\"as_of\":" END26,
                                        ",\"to\":" JUL25};
    fx_snap_r25(fx, s, "fund", tails, FX_NELEMS(tails), false);
}

/* The 2024 answers of the old district and province. */
static void r25_snap_2024(struct fx *fx, struct fx_snap *s)
{
    fx_snap_query(fx, s, "fund", "{\"unit\":\"593\",\"year\":2024}");
    fx_snap_query(fx, s, "fund", "{\"unit\":\"60\",\"year\":2024}");
}

/*
 * Commune 22924 keeps its code through the merger of 2025-07-01 but moves
 * from district 593 (province 60) to province 68.  Every figure is rolled
 * up on the hierarchy of its event's "at":
 *   2024  r1 22924 10M; r2 22921 5M; P1 22921 pledge 8M; d1 22924 hA 2M
 *   2025-03 (before the merger, logged after it was recorded) r3 22921 3M
 *   2026  r4 22924 7M; r5 68 1M; r6 22924 4M paying P1; d2 22924 hA 3M;
 *         hA poor in 2024 and 2026 (statuses logged in 2026)
 */
static void test_reorg_2025(void **state)
{
    (void)state;
    const int64_t T24 = FX_R25_T2024, T26 = FX_R25_T2026;
    struct fx *fx = fx_new("fund");
    fx_r25_units(fx);
    fx_received(fx, T24, "22924", 10 * M, "Donor A", NULL);
    fx_received(fx, T24 + H, "22921", 5 * M, "Donor B", NULL);
    fx_pledge(fx, T24, "22921", "P1", 8 * M, "Donor C");
    fx_disbursed(fx, T24 + 2 * H, "22924", "hA", 2 * M, EV_PURPOSE_HOUSING);
    fx_sync(fx);
    struct r25 w24 = {15 * M, 2, 8 * M, 8 * M, 2 * M, 2 * M, 0, 1};
    expect_r25(fx, "593", 2024, &w24);
    expect_r25(fx, "60", 2024, &w24);
    struct fx_snap before = {0}, after = {0};
    r25_snap_2024(fx, &before);

    /* The changes are recorded: nothing counted before moves. */
    fx_r25_changes(fx, FX_R25_RECORDED);
    fx_received(fx, FX_R25_T2025, "22921", 3 * M, "Donor D", NULL);
    fx_sync(fx);
    r25_snap_2024(fx, &after);
    fx_snap_assert_equal(&before, &after);

    fx_received(fx, T26, "22924", 7 * M, "Donor E", NULL);
    fx_received(fx, T26 + H, "68", 1 * M, "Donor F", NULL);
    fx_received(fx, T26 + 2 * H, "22924", 4 * M, "Donor C", "P1");
    fx_disbursed(fx, T26 + 3 * H, "22924", "hA", 3 * M, EV_PURPOSE_HOUSING);
    fx_status(fx, T26 + 4 * H, "22924", "hA", 2024, EV_STATUS_POOR);
    fx_status(fx, T26 + 4 * H, "22924", "hA", 2026, EV_STATUS_POOR);
    fx_sync(fx);

    /* 2026 lands in 68; 593 and 60 had ended by then: refused, saying
     * where to ask. */
    struct r25 w68 = {12 * M, 3, 0, 0, 3 * M, 3 * M, 3 * M, 1};
    expect_r25(fx, "68", 2026, &w68);
    expect_r25(fx, "68", 0, &w68);
    struct r25 none = {0};
    expect_ended(fx, "{\"unit\":\"593\",\"year\":2026}",
                 "fund: unit: 593 is not in force on 2026-12-31: abolished on "
                 "2025-07-01; ask for 68");
    expect_ended(fx, "{\"unit\":\"60\",\"year\":2026}",
                 "fund: unit: 60 is not in force on 2026-12-31: merged into 68 "
                 "on 2025-07-01; ask for 68");
    /* 2024 in 593 and 60 as before, but for what is about the 2024 events
     * themselves, and lands where they were counted: P1 paid down by r6
     * (a 2026 donation, to 22924 under 68) and d1 recognised by a status
     * logged in 2026. */
    struct r25 w24b = {15 * M, 2, 8 * M, 4 * M, 2 * M, 2 * M, 2 * M, 1};
    expect_r25(fx, "593", 2024, &w24b);
    expect_r25(fx, "60", 2024, &w24b);
    expect_r25(fx, "68", 2024, &none);
    /* r3: 22921 was in force at its "at"; it stays in 593 and 60 even
     * though at the end of 2025 22921's households are in 22924 and 68:
     * asked for a period that ends while they stood. */
    struct r25 w25 = {3 * M, 1, 0, 0, 0, 0, 0, 0};
    expect_r25_q(fx, "60", ",\"from\":1735664400,\"to\":" JUL25, &w25);
    expect_r25_q(fx, "593", ",\"from\":1735664400,\"to\":" JUL25, &w25);
    expect_r25_q(fx, "22921", ",\"from\":1735664400,\"to\":" JUL25, &w25);
    expect_ended(fx, "{\"unit\":\"22921\",\"year\":2025}",
                 "fund: unit: 22921 is not in force on 2025-12-31: merged "
                 "into 22924 on 2025-07-01; ask for 22924");
    expect_r25(fx, "68", 2025, &none);
    expect_r25(fx, "22924", 2025, &none);
    /* All time: the code 22924 answers for both of its spans. */
    struct r25 w22924 = {21 * M, 3, 0, 0, 5 * M, 5 * M, 5 * M, 0};
    expect_r25(fx, "22924", 0, &w22924);
    struct r25 w60 = {18 * M, 3, 8 * M, 4 * M, 2 * M, 2 * M, 2 * M, 0};
    expect_r25_q(fx, "60", ",\"to\":" JUL25, &w60);
    expect_r25_q(fx, "593", ",\"to\":" JUL25, &w60);
    struct r25 w22921 = {8 * M, 2, 8 * M, 4 * M, 0, 0, 0, 0};
    expect_r25_q(fx, "22921", ",\"to\":" JUL25, &w22921);
    expect_r25_q(fx, "22936", ",\"to\":" JUL25, &none);
    expect_ended(fx, "{\"unit\":\"60\"}",
                 "fund: unit: 60 is not in force now: merged into 68 on "
                 "2025-07-01; ask for 68");
    expect_ended(fx, "{\"unit\":\"22936\"}",
                 "fund: unit: 22936 is not in force now: merged into 22924 "
                 "on 2025-07-01; ask for 22924");
    /* With as_of, the past in today's units: 2024 of 68 is Binh Thuan's
     * (and the three old wards' in 22924), 2025 has r3, and all time in
     * 68 has every record. */
    expect_r25_q(fx, "68", ",\"year\":2024,\"as_of\":" END26, &w24b);
    expect_r25_q(fx, "22924", ",\"year\":2024,\"as_of\":" END26, &w24b);
    expect_r25_q(fx, "68", ",\"year\":2025,\"as_of\":" END25, &w25);
    struct r25 all = {30 * M, 6, 8 * M, 4 * M, 5 * M, 5 * M, 5 * M, 0};
    expect_r25_q(fx, "68", ",\"as_of\":" END26, &all);
    /* As of before the change, 60 holds its own past (and 2024 of 60 asked
     * as of the end of 2026 says where to ask). */
    expect_r25_q(fx, "60", ",\"year\":2024,\"as_of\":1751302799", &w24b);
    expect_ended(fx, "{\"unit\":\"60\",\"year\":2024,\"as_of\":" END26 "}",
                 "fund: unit: 60 is not in force on 2026-12-31: merged into 68 "
                 "on 2025-07-01; ask for 68, or give as_of before 2025-07-01");
    expect_ended(fx, "{\"unit\":\"68\",\"year\":2025,\"as_of\":1751302799}",
                 "fund: as_of: must not be before the end of 2025");
    struct r25 hA24 = {10 * M, 1, 0, 0, 2 * M, 2 * M, 2 * M, 1};
    expect_r25(fx, "22924", 2024, &hA24);
    struct r25 hA26 = {11 * M, 2, 0, 0, 3 * M, 3 * M, 3 * M, 1};
    expect_r25(fx, "22924", 2026, &hA26);

    /* A rebuild, in one go and one record at a time, answers the same. */
    fx_assert_rebuild_same(fx, r25_snap, 15);
    fx_free(fx);
}

/*
 * A change of units recorded late (fixture.h): the merger of 2025-07-01 is
 * logged only on 2025-07-15, after records dated past it in 22921.  What
 * was counted before it was recorded is changed and taken back where it
 * was counted (on the registry version kept with it); what is new after it
 * counts where the registry now puts it.  All of it is 2025:
 *   before  r1 22921 50M (March); P1 22921 pledge 10M (07-02); d1 22921
 *           h1 5M (07-02): in 22921, 593 and 60
 *   after   r2 22924 4M paying P1; r3 22924 50M; d2 22924 h1 2M: in 22924
 *           and 68, and P1's outstanding drops to 6M where P1 lies; h1
 *           poor for 2025: d1 recognised in 22921, 593 and 60, d2 in 22924
 *           and 68; h1 is a beneficiary of 68 too (d2), though d1 was
 *           counted elsewhere
 *   then    P1 corrected from 22924 to 12M: out of 22921, 593 and 60, into
 *           22924 and 68 (8M outstanding); h1 average: nothing recognised
 */
/* All time, 2025 and 2026, and 2025 as of its end. */
static void late_snap(struct fx *fx, struct fx_snap *s)
{
    static const char *const tails[] = {"", ",\"year\":2025", ",\"year\":2026",
                                        ",\"year\":2025,\"as_of\":" END25};
    fx_snap_r25(fx, s, "fund", tails, FX_NELEMS(tails), true);
}

static void test_late_change(void **state)
{
    (void)state;
    const int64_t T0702 = FX_R25_T0702, T0801 = FX_R25_T0801;
    const char *const *old = fx_r25_old, *const *now = fx_r25_now;
    struct fx *fx = fx_new("fund");
    fx_r25_units(fx);
    fx_received(fx, FX_R25_T2025, "22921", 50 * M, "Donor A", NULL);
    fx_pledge(fx, T0702, "22921", "P1", 10 * M, "Donor B");
    fx_disbursed(fx, T0702 + H, "22921", "h1", 5 * M, EV_PURPOSE_HOUSING);
    fx_sync(fx);
    struct r25 w0 = {50 * M, 1, 10 * M, 10 * M, 5 * M, 5 * M, 0, 1};
    for (size_t u = 0; u < FX_R25_NOLD; u++)
        expect_r25(fx, old[u], 2025, &w0);

    fx_r25_changes(fx, FX_R25_LATE_RECORDED);
    fx_sync(fx);
    fx_received(fx, T0801, "22924", 4 * M, "Donor B", "P1");
    fx_received(fx, T0801 + H, "22924", 50 * M, "Donor C", NULL);
    fx_disbursed(fx, T0801 + 2 * H, "22924", "h1", 2 * M, EV_PURPOSE_HOUSING);
    fx_status(fx, T0801 + 3 * H, "22924", "h1", 2025, EV_STATUS_POOR);
    fx_sync(fx);
    struct r25 n1 = {54 * M, 2, 0, 0, 2 * M, 2 * M, 2 * M, 1};
    for (size_t u = 0; u < FX_R25_NNOW; u++)
        expect_r25(fx, now[u], 2025, &n1);
    /* The old units had ended by the end of 2025: refused.  What was
     * counted in them (P1 paid down by r2, d1 recognised) is in 22924 and
     * 68 as of the end of 2025, with what came after; h1, paid by 22921
     * and 22924, counts once. */
    expect_ended(fx, "{\"unit\":\"22921\",\"year\":2025}",
                 "fund: unit: 22921 is not in force on 2025-12-31: merged "
                 "into 22924 on 2025-07-01; ask for 22924");
    struct r25 a1 = {104 * M, 3, 10 * M, 6 * M, 7 * M, 7 * M, 7 * M, 1};
    for (size_t u = 0; u < FX_R25_NNOW; u++)
        expect_r25_q(fx, now[u], ",\"year\":2025,\"as_of\":" END25, &a1);

    fx_pledge(fx, T0801 + 4 * H, "22924", "P1", 12 * M, "Donor B");
    fx_status(fx, T0801 + 4 * H, "22924", "h1", 2025, EV_STATUS_AVERAGE);
    fx_sync(fx);
    /* P1 and d1's recognition are taken back where they were counted:
     * regrouped, 68 holds P1 once, at 12M. */
    struct r25 n2 = {54 * M, 2, 12 * M, 8 * M, 2 * M, 2 * M, 0, 1};
    struct r25 a2 = {104 * M, 3, 12 * M, 8 * M, 7 * M, 7 * M, 0, 1};
    struct r25 o2 = {50 * M, 1, 0, 0, 0, 0, 0, 0};
    for (size_t u = 0; u < FX_R25_NOLD; u++)
        expect_r25_q(fx, old[u], ",\"to\":" JUL25, &o2);
    for (size_t u = 0; u < FX_R25_NNOW; u++) {
        expect_r25_q(fx, now[u], ",\"year\":2025,\"as_of\":" END25, &a2);
        expect_r25_q(fx, now[u], ",\"as_of\":" END25, &a2);
    }
    for (size_t u = 0; u < FX_R25_NNOW; u++) {
        expect_r25(fx, now[u], 2025, &n2);
        expect_r25(fx, now[u], 0, &n2);
    }
    struct r25 none = {0};
    expect_r25_q(fx, "22936", ",\"to\":" JUL25, &none);

    /* A rebuild, in one go and one record at a time, answers the same. */
    fx_assert_rebuild_same(fx, late_snap, 10);
    fx_free(fx);
}

/*
 * A state of version 1.1 (56-byte pledge, 'B' entries of 32 bytes without
 * the layout byte: no registry versions) is refused as corrupt, not
 * misread: each record is rewritten in the old layout behind the host's
 * back, and the next change of it quarantines the plugin.  Five old 'B'
 * entries (160 bytes) would even divide into four new ones.
 */
/* The id the fixture gave the event queued last. */
static const char *last_id(struct fx *fx, char *buf, size_t n)
{
    snprintf(buf, n, "fx-%u", fx->next_id);
    return buf;
}

static void expect_beneficiaries(struct fx *fx, const char *unit, int64_t n)
{
    char q[80];
    snprintf(q, sizeof q, "{\"unit\":\"%s\",\"year\":2024}", unit);
    struct fx_reply r;
    const msgpack_object *res = fx_query(fx, &r, "fund", q);
    assert_int_equal(fx_i64(res, "beneficiaries"), n);
    fx_reply_free(&r);
}

static void amend_snap(struct fx *fx, struct fx_snap *s)
{
    static const char *const units[] = {"60", "593", "594", "22901", "22950"};
    char q[80];
    for (size_t i = 0; i < FX_NELEMS(units); i++) {
        snprintf(q, sizeof q, "{\"unit\":\"%s\"}", units[i]);
        fx_snap_query_nonneg(fx, s, "fund", q);
        snprintf(q, sizeof q, "{\"unit\":\"%s\",\"year\":2024}", units[i]);
        fx_snap_query_nonneg(fx, s, "fund", q);
        snprintf(q, sizeof q, "{\"unit\":\"%s\",\"from\":%lld,\"to\":%lld}",
                 units[i], (long long)(D2 + 5 * H), (long long)(D2 + 9 * H));
        fx_snap_query_nonneg(fx, s, "fund", q);
    }
    fx_snap_alerts(fx, s);
}

/*
 * Voids and corrections: a donation voided leaves every figure; a
 * disbursement to a household corrected into another commune moves its
 * amount, purpose and beneficiary there; a donation paying a pledge
 * corrected twice pays it by the last amount; a corrected record voided
 * leaves nothing.  A rebuild answers the same.
 */
static void test_void_and_correct(void **state)
{
    (void)state;
    struct fx *fx = fund_fx();
    char a[16], b[16], c[16];

    fx_received(fx, D2 + 7 * H, "22901", 9 * M, "Dup", NULL);
    last_id(fx, a, sizeof a);
    fx_disbursed(fx, D2 + 8 * H, "22901", "h2", 2 * M, EV_PURPOSE_EDUCATION);
    last_id(fx, b, sizeof b);
    fx_received(fx, D2 + 6 * H, "22950", 1 * M, "Bui G", "P3");
    last_id(fx, c, sizeof c);
    fx_sync(fx);
    struct want w60 = {180 * M, 8, 22 * M, 17 * M, 26 * M, 20 * M, 5 * M, M};
    expect(fx, "60", -1, -1, &w60);
    expect_beneficiaries(fx, "22901", 2);
    expect_beneficiaries(fx, "60", 2);

    fx_void(fx, D2 + 10 * H, "22901", a, EV_DONATION_RECEIVED);
    fx_disbursed(fx, D2 + 9 * H, "22950", "h2", 1 * M, EV_PURPOSE_TET);
    fx_as_correction(fx, b);
    fx_received(fx, D2 + 6 * H, "22950", 4 * M, "Bui G", "P3");
    fx_as_correction(fx, c);
    fx_sync(fx);
    struct want w60b = {174 * M, 7,      22 * M, 14 * M,
                        25 * M,  20 * M, 3 * M,  2 * M};
    expect(fx, "60", -1, -1, &w60b);
    struct want w22901 = {159 * M, 3, 12 * M, 12 * M, 20 * M, 20 * M, 0, 0};
    expect(fx, "22901", -1, -1, &w22901);
    struct want w22950 = {8 * M, 2, 6 * M, 2 * M, 2 * M, 0, 0, 2 * M};
    expect(fx, "22950", -1, -1, &w22950);
    expect_beneficiaries(fx, "22901", 1);
    expect_beneficiaries(fx, "22950", 1);
    expect_beneficiaries(fx, "593", 1);
    expect_beneficiaries(fx, "594", 1);
    expect_beneficiaries(fx, "60", 2);

    /* Corrections chain; a corrected record voided is gone. */
    fx_received(fx, D2 + 6 * H, "22950", 2 * M, "Bui G", "P3");
    fx_as_correction(fx, c);
    fx_void(fx, D2 + 11 * H, "22950", b, EV_FUND_DISBURSED);
    fx_sync(fx);
    struct want w60c = {172 * M, 7, 22 * M, 16 * M, 24 * M, 20 * M, 3 * M, M};
    expect(fx, "60", -1, -1, &w60c);
    struct want w22950c = {6 * M, 2, 6 * M, 4 * M, 1 * M, 0, 0, 1 * M};
    expect(fx, "22950", -1, -1, &w22950c);
    expect_beneficiaries(fx, "22950", 0);
    expect_beneficiaries(fx, "594", 0);
    expect_beneficiaries(fx, "60", 1);

    fx_assert_rebuild_same(fx, amend_snap, 10);
    fx_free(fx);
}

/* The alerts, active ({"op":"alerts"}) or all ("resolved": true). */
static const msgpack_object *alerts(struct fx *fx, struct fx_reply *r,
                                    bool resolved)
{
    fx_request(fx, r,
               resolved ? "{\"op\":\"alerts\",\"since\":0,\"resolved\":true}"
                        : "{\"op\":\"alerts\",\"since\":0}");
    const msgpack_object *a = fx_get(r->root, "alerts");
    assert_int_equal(a->type, MSGPACK_OBJECT_ARRAY);
    return a;
}

static void alerts_snap(struct fx *fx, struct fx_snap *s)
{
    struct fx_reply r;
    fx_snap_add(s, alerts(fx, &r, true));
    fx_reply_free(&r);
    fx_snap_alerts(fx, s);
    fx_snap_query(fx, s, "fund", "{\"unit\":\"60\"}");
}

/*
 * The alert of a donation voided is resolved, not deleted: kept with the
 * void's sequence, type and reason, listed only when resolved ones are
 * asked for.  A donation corrected and still large: its first alert
 * resolved, a new one for the corrected amount; corrected below the
 * threshold: nothing active.  A rebuild gives the same alerts.
 */
static void test_alerts_resolved(void **state)
{
    (void)state;
    struct fx *fx = fund_fx();
    struct fx_reply r;
    char r5[16], y[16], buf[256];
    snprintf(r5, sizeof r5, "fx-%u", fx->next_id); /* 150M, the last */
    fx_received(fx, D2 + 8 * H, "22950", 120 * M, "Công ty XYZ", NULL);
    snprintf(y, sizeof y, "fx-%u", fx->next_id);
    fx_sync(fx);
    assert_int_equal(alerts(fx, &r, false)->via.array.size, 2);
    fx_reply_free(&r);

    fx_void(fx, D2 + 9 * H, "22901", r5, EV_DONATION_RECEIVED);
    fx_received(fx, D2 + 8 * H, "22950", 130 * M, "Công ty XYZ", NULL);
    fx_as_correction(fx, y);
    fx_sync(fx);
    const msgpack_object *a = alerts(fx, &r, false);
    assert_int_equal(a->via.array.size, 1);
    assert_string_equal(
        fx_str(&a->via.array.ptr[0], "message", buf, sizeof buf),
        "large donation: 130,000,000 VND from Công ty XYZ to "
        "unit 22950");
    fx_reply_free(&r);
    a = alerts(fx, &r, true);
    assert_int_equal(a->via.array.size, 3);
    /* By the sequence of the record that raised each: r5, Y, Y's fix. */
    const msgpack_object *v = &a->via.array.ptr[0], *c = &a->via.array.ptr[1];
    assert_string_equal(fx_str(v, "message", buf, sizeof buf),
                        "large donation: 150,000,000 VND from Công ty ABC to "
                        "unit 22901");
    assert_string_equal(fx_str(v, "resolved_by", buf, sizeof buf),
                        "record.voided");
    assert_string_equal(fx_str(v, "resolved_reason", buf, sizeof buf),
                        "entered twice");
    assert_true(fx_i64(v, "resolved_seq") > fx_i64(v, "seq"));
    assert_string_equal(fx_str(c, "resolved_by", buf, sizeof buf),
                        "record.corrected");
    assert_string_equal(fx_str(c, "resolved_reason", buf, sizeof buf),
                        "wrong amount");
    assert_int_equal(fx_i64(c, "resolved_seq"),
                     fx_i64(&a->via.array.ptr[2], "seq"));
    assert_int_equal(a->via.array.ptr[2].via.map.size, 7); /* active */
    fx_reply_free(&r);

    fx_received(fx, D2 + 8 * H, "22950", 5 * M, "Công ty XYZ", NULL);
    fx_as_correction(fx, y);
    fx_sync(fx);
    assert_int_equal(alerts(fx, &r, false)->via.array.size, 0);
    fx_reply_free(&r);
    assert_int_equal(alerts(fx, &r, true)->via.array.size, 3);
    fx_reply_free(&r);
    fx_assert_rebuild_same(fx, alerts_snap, 10);
    fx_free(fx);
}

static void test_v11_state_refused(void **state)
{
    (void)state;
    const int64_t R24 = FX_R25_T2024;
    struct fx *fx = fx_new("fund");
    fx_r25_units(fx);
    fx_pledge(fx, R24, "22924", "P1", 8 * M, "Donor C");
    fx_sync(fx);
    uint8_t pl[56] = {1};
    fx_be64(pl + 8, (uint64_t)(8 * M));
    memcpy(pl + 24, "22924", 5);
    fx_be64(pl + 32, (uint64_t)R24);
    fx_be64(pl + 40, 7);
    fx_be64(pl + 48, (uint64_t)(R24 + 30 * 86400));
    fx_state_put(fx, "fund", "PP1", 3, pl, sizeof pl);
    fx_received(fx, R24 + H, "22924", 4 * M, "Donor C", "P1");
    fx_sync(fx);
    fx_assert_quarantined(fx, "fund", "{\"unit\":\"60\"}");
    fx_free(fx);

    fx = fx_new("fund");
    fx_r25_units(fx);
    fx_disbursed(fx, R24, "22924", "hA", 2 * M, EV_PURPOSE_HOUSING);
    fx_sync(fx);
    uint8_t k[1 + 8 + 2] = {'B'}, b[8 + 5 * 32] = {0};
    fx_be64(k + 1, (uint64_t)2024 ^ (UINT64_C(1) << 63));
    memcpy(k + 9, "hA", 2);
    for (int i = 0; i < 5; i++) {
        memcpy(b + 8 + 32 * i, "22924", 5);
        fx_be64(b + 8 + 32 * i + 8, (uint64_t)R24);
        fx_be64(b + 8 + 32 * i + 16, 7);
        fx_be64(b + 8 + 32 * i + 24, (uint64_t)(2 * M));
    }
    fx_state_put(fx, "fund", k, sizeof k, b, sizeof b);
    fx_status(fx, R24 + H, "22924", "hA", 2024, EV_STATUS_POOR);
    fx_sync(fx);
    fx_assert_quarantined(fx, "fund", "{\"unit\":\"60\"}");
    fx_free(fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_totals),
        cmocka_unit_test(test_ranges),
        cmocka_unit_test(test_pledge_corrected),
        cmocka_unit_test(test_large_donation_alert),
        cmocka_unit_test(test_households),
        cmocka_unit_test(test_pledge_overdue),
        cmocka_unit_test(test_idle_balance),
        cmocka_unit_test(test_month_for_the_poor),
        cmocka_unit_test(test_bad_config),
        cmocka_unit_test(test_query_errors),
        cmocka_unit_test(test_reorg_2025),
        cmocka_unit_test(test_late_change),
        cmocka_unit_test(test_v11_state_refused),
        cmocka_unit_test(test_void_and_correct),
        cmocka_unit_test(test_alerts_resolved),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
