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

static void test_bad_config(void **state)
{
    (void)state;
    static const char *const bad[] = {"0", "-5", "abc", "12x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct fx *fx = fx_new("fund");
        char err[512] = "";
        fx_conf(fx, "fund", "large_donation", bad[i]);
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
    fx_free(fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_totals),
        cmocka_unit_test(test_ranges),
        cmocka_unit_test(test_pledge_corrected),
        cmocka_unit_test(test_large_donation_alert),
        cmocka_unit_test(test_bad_config),
        cmocka_unit_test(test_query_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
