/*
 * test_protection.c - the protection plugin (poor households with no
 * labour capacity and their regular social assistance) through the real
 * log and host (units of scenarios.h).
 *
 * 2024 (k = 1,000 VND):
 *   hA 22901 poor, no labour capacity, two regular payments of 500k
 *      (logged before its status)                       -> assisted
 *   hB 22901 poor, no labour capacity, an emergency payment of 1,000k
 *      only                                             -> unassisted
 *   hC 22902 poor, assessed with labour capacity        -> not counted
 *   hD 22902 poor, never assessed                       -> not counted
 *   hE 22950 near_poor, no labour capacity, paid        -> not poor
 *   hF 22903 poor, no labour capacity, paid on 2023-12-31 (a 2023
 *      payment)                                         -> unassisted
 *   hG 22901 poor, assessed without labour capacity, then assessed again
 *      without the field (the last assessment wins)     -> not counted
 *
 *   22901: poor 3, no_labour 2, assisted 1, regular 1,000k, emergency
 *          1,000k;  22902: poor 2, no_labour 0;  22903: poor 1,
 *          no_labour 1;  593: poor 6, no_labour 3, assisted 1;  60 the
 *          same;  594: nothing poor.
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

#define K INT64_C(1000)
#define REG EV_ASSISTANCE_REGULAR
#define EMG EV_ASSISTANCE_EMERGENCY

static void scenario(struct fx *fx)
{
    int64_t t = pe_time(2024, 3, 1, 9), p = pe_time(2024, 6, 5, 9);
    sc_units(fx);
    pe_assistance(fx, p, "22901", "hA", REG, 500 * K);
    pe_assessed(fx, t, "22901", "hA", 2024, 1);
    fx_status(fx, t, "22901", "hA", 2024, EV_STATUS_POOR);
    pe_assistance(fx, p + 30 * SC_DAY, "22901", "hA", REG, 500 * K);
    fx_status(fx, t, "22901", "hB", 2024, EV_STATUS_POOR);
    pe_assessed(fx, t, "22901", "hB", 2024, 1);
    pe_assistance(fx, p, "22901", "hB", EMG, 1000 * K);
    fx_status(fx, t, "22902", "hC", 2024, EV_STATUS_POOR);
    pe_assessed(fx, t, "22902", "hC", 2024, 0);
    fx_status(fx, t, "22902", "hD", 2024, EV_STATUS_POOR);
    fx_status(fx, t, "22950", "hE", 2024, EV_STATUS_NEAR_POOR);
    pe_assessed(fx, t, "22950", "hE", 2024, 1);
    pe_assistance(fx, p, "22950", "hE", REG, 500 * K);
    fx_status(fx, t, "22903", "hF", 2024, EV_STATUS_POOR);
    pe_assessed(fx, t, "22903", "hF", 2024, 1);
    pe_assistance(fx, pe_time(2023, 12, 31, 16), "22903", "hF", REG, 500 * K);
    fx_status(fx, t, "22901", "hG", 2024, EV_STATUS_POOR);
    pe_assessed(fx, t, "22901", "hG", 2024, 1);
    pe_assessed(fx, t + 1, "22901", "hG", 2024, -1);
}

struct counts {
    int64_t poor, no_labour, assisted, regular, emergency;
};

/* The answer to {"unit", "year"<tail>} (tail "" or ",\"as_of\":..."). */
static void expect_counts_q(struct fx *fx, const char *unit, int year,
                            const char *tail, struct counts c)
{
    char q[128];
    struct fx_reply r;
    snprintf(q, sizeof q, "{\"unit\":\"%s\",\"year\":%d%s}", unit, year, tail);
    const msgpack_object *res = fx_query(fx, &r, "protection", q);
    assert_int_equal(res->via.map.size, tail[0] != '\0' ? 11 : 10);
    assert_int_equal(fx_i64(res, "poor"), c.poor);
    assert_int_equal(fx_i64(res, "no_labour"), c.no_labour);
    assert_int_equal(fx_i64(res, "assisted"), c.assisted);
    assert_int_equal(fx_i64(res, "unassisted"), c.no_labour - c.assisted);
    assert_int_equal(fx_i64(res, "regular_amount"), c.regular);
    assert_int_equal(fx_i64(res, "emergency_amount"), c.emergency);
    if (c.no_labour == 0) {
        assert_true(fx_is_nil(res, "assisted_share"));
    } else {
        double want = 100.0 * (double)c.assisted / (double)c.no_labour;
        double got = fx_f64(res, "assisted_share");
        assert_true(got > want - 1e-9 && got < want + 1e-9);
    }
    if (c.poor == 0)
        assert_true(fx_is_nil(res, "no_labour_share"));
    fx_reply_free(&r);
}

static void expect_counts(struct fx *fx, const char *unit, int year,
                          struct counts c)
{
    expect_counts_q(fx, unit, year, "", c);
}

/* The households list=unassisted gives, as "hh@unit,..." */
/* The list of {"unit", "year", "list": "unassisted"<tail>}. */
static void expect_unassisted_q(struct fx *fx, const char *unit, int year,
                                const char *tail, const char *want)
{
    char q[160], got[256] = "";
    struct fx_reply r;
    snprintf(q, sizeof q,
             "{\"unit\":\"%s\",\"year\":%d,\"list\":\"unassisted\"%s}", unit,
             year, tail);
    const msgpack_object *res = fx_query(fx, &r, "protection", q);
    const msgpack_object *l = fx_get(res, "households");
    for (uint32_t i = 0; i < l->via.array.size; i++) {
        char hh[64], u[8];
        size_t n = strlen(got);
        snprintf(got + n, sizeof got - n, "%s%s@%s", i ? "," : "",
                 fx_str(&l->via.array.ptr[i], "household", hh, sizeof hh),
                 fx_str(&l->via.array.ptr[i], "unit", u, sizeof u));
    }
    assert_string_equal(got, want);
    assert_int_equal(fx_i64(res, "more"), 0);
    fx_reply_free(&r);
}

static void expect_unassisted(struct fx *fx, const char *unit, const char *want)
{
    expect_unassisted_q(fx, unit, 2024, "", want);
}

/* The alerts protection.no_assistance, as "hh@unit,..." in list order. */
static void alerts(struct fx *fx, char *out, size_t n)
{
    struct fx_reply r;
    fx_request(fx, &r, "{\"op\":\"alerts\",\"since\":0}");
    const msgpack_object *a = fx_get(r.root, "alerts");
    out[0] = '\0';
    for (uint32_t i = 0; i < a->via.array.size; i++) {
        const msgpack_object *al = &a->via.array.ptr[i];
        char code[64], hh[64], u[8];
        size_t len = strlen(out);
        if (strcmp(fx_str(al, "code", code, sizeof code),
                   "protection.no_assistance") != 0)
            continue;
        snprintf(out + len, n - len, "%s%s@%s", len ? "," : "",
                 fx_str(al, "household", hh, sizeof hh),
                 fx_str(al, "unit", u, sizeof u));
    }
    fx_reply_free(&r);
}

static void test_counts(void **state)
{
    (void)state;
    struct fx *fx = fx_new("protection");
    struct fx_reply r;
    scenario(fx);
    fx_sync(fx);
    expect_counts(fx, "22901", 2024,
                  (struct counts){3, 2, 1, 1000 * K, 1000 * K});
    expect_counts(fx, "22902", 2024, (struct counts){2, 0, 0, 0, 0});
    expect_counts(fx, "22903", 2024, (struct counts){1, 1, 0, 0, 0});
    expect_counts(fx, "593", 2024,
                  (struct counts){6, 3, 1, 1000 * K, 1000 * K});
    expect_counts(fx, "60", 2024, (struct counts){6, 3, 1, 1000 * K, 1000 * K});
    expect_counts(fx, "594", 2024, (struct counts){0, 0, 0, 0, 0});
    expect_counts(fx, "60", 2023, (struct counts){0, 0, 0, 0, 0});
    const msgpack_object *res =
        fx_query(fx, &r, "protection", "{\"unit\":\"593\",\"year\":2024}");
    assert_true(fx_f64(res, "no_labour_share") > 50 - 1e-9 &&
                fx_f64(res, "no_labour_share") < 50 + 1e-9);
    fx_reply_free(&r);
    expect_unassisted(fx, "593", "hB@22901,hF@22903");
    expect_unassisted(fx, "22901", "hB@22901");
    expect_unassisted(fx, "594", "");

    /* A status moves the household; an assessment and a payment change
     * it where it is counted. */
    fx_status(fx, pe_time(2024, 7, 1, 9), "22902", "hB", 2024, EV_STATUS_POOR);
    pe_assessed(fx, pe_time(2024, 7, 1, 9), "22902", "hC", 2024, 1);
    pe_assistance(fx, pe_time(2024, 7, 2, 9), "22902", "hC", REG, 300 * K);
    fx_sync(fx);
    expect_counts(fx, "22901", 2024, (struct counts){2, 1, 1, 1000 * K, 0});
    expect_counts(fx, "22902", 2024,
                  (struct counts){3, 2, 1, 300 * K, 1000 * K});
    expect_counts(fx, "593", 2024,
                  (struct counts){6, 4, 2, 1300 * K, 1000 * K});

    assert_string_equal(
        fx_query_error(fx, &r, "protection", "{\"unit\":\"60\"}"),
        "protection: year: required");
    fx_reply_free(&r);
    assert_string_equal(
        fx_query_error(fx, &r, "protection",
                       "{\"unit\":\"60\",\"year\":2024,\"list\":\"all\"}"),
        "protection: list: must be \"unassisted\"");
    fx_reply_free(&r);
    fx_free(fx);
}

static void test_no_assistance_alert(void **state)
{
    (void)state;
    char got[256];
    struct fx *fx = fx_new("protection");
    scenario(fx);
    fx_sync(fx);
    alerts(fx, got, sizeof got);
    assert_string_equal(got, "");
    /* The district's review: its two unassisted households, once each. */
    fx_review(fx, pe_time(2024, 12, 15, 9), "593", 2024);
    fx_sync(fx);
    alerts(fx, got, sizeof got);
    assert_string_equal(got, "hB@22901,hF@22903");
    /* hF is paid in December; the province's review finds only hB, which
     * was reported already. */
    pe_assistance(fx, pe_time(2024, 12, 20, 9), "22903", "hF", REG, 500 * K);
    fx_review(fx, pe_time(2024, 12, 21, 9), "60", 2024);
    fx_review(fx, pe_time(2024, 12, 21, 9), "22901", 2024);
    fx_sync(fx);
    alerts(fx, got, sizeof got);
    assert_string_equal(got, "hB@22901,hF@22903");
    struct fx_reply r;
    fx_request(fx, &r, "{\"op\":\"alerts\",\"since\":0}");
    const msgpack_object *al = &fx_get(r.root, "alerts")->via.array.ptr[0];
    char msg[256], sev[16];
    assert_string_equal(fx_str(al, "message", msg, sizeof msg),
                        "household hB: poor, no member able to work, no "
                        "regular social assistance in 2024");
    assert_string_equal(fx_str(al, "severity", sev, sizeof sev), "warning");
    assert_int_equal(fx_i64(al, "at"), pe_time(2024, 12, 15, 9));
    fx_reply_free(&r);
    /* A new unassisted household of 594 after the province closed: its
     * own review reports it. */
    fx_status(fx, pe_time(2024, 12, 22, 9), "22950", "hH", 2024,
              EV_STATUS_POOR);
    pe_assessed(fx, pe_time(2024, 12, 22, 9), "22950", "hH", 2024, 1);
    fx_review(fx, pe_time(2024, 12, 23, 9), "594", 2024);
    fx_sync(fx);
    alerts(fx, got, sizeof got);
    assert_string_equal(got, "hB@22901,hF@22903,hH@22950");
    fx_free(fx);
}

static void snap(struct fx *fx, struct fx_snap *s)
{
    static const char *const units[] = {"60",    "593",   "594",  "22901",
                                        "22902", "22903", "22950"};
    char q[96];
    for (size_t u = 0; u < FX_NELEMS(units); u++)
        for (int y = 2023; y <= 2024; y++) {
            snprintf(q, sizeof q, "{\"unit\":\"%s\",\"year\":%d}", units[u], y);
            fx_snap_query_nonneg(fx, s, "protection", q);
            snprintf(q, sizeof q,
                     "{\"unit\":\"%s\",\"year\":%d,\"list\":\"unassisted\"}",
                     units[u], y);
            fx_snap_query(fx, s, "protection", q);
        }
    fx_snap_alerts(fx, s);
}

static void test_rebuild(void **state)
{
    (void)state;
    struct fx *fx = fx_new("protection");
    scenario(fx);
    fx_review(fx, pe_time(2024, 12, 15, 9), "593", 2024);
    fx_commit(fx);
    fx_status(fx, pe_time(2024, 7, 1, 9), "22902", "hB", 2024, EV_STATUS_POOR);
    pe_assistance(fx, pe_time(2024, 12, 20, 9), "22903", "hF", REG, 500 * K);
    fx_review(fx, pe_time(2024, 12, 21, 9), "60", 2024);
    fx_sync(fx);
    fx_assert_rebuild_same(fx, snap, 20);
    fx_free(fx);
}

/*
 * A change of units recorded late (fixture.h): 2025 statuses of h1, h2
 * and h3 (poor, no labour capacity) logged in March in 22921 count in
 * 22921, 593 and 60.  The merger is recorded; then h1's regular payment
 * (from 22924) lands where h1 is counted, and h2's status is recorded
 * again from 22924: it moves to 22924 and 68.  Without as_of, 22924 and
 * 68 have h2 alone (1 poor, 1 no labour, 0 assisted); 60 and 22921 had
 * ended by the end of 2025: refused.  As of the end of 2025 they have all
 * three (3, 3, 1 assisted: h1, 400K), unassisted h2 and h3.  A review of
 * 22921 dated in June checks, for 2025, where 22921's households went
 * (22924): h2 only.
 */
#define END25 "1767200399" /* 2025-12-31 23:59:59 +07 */

static void late_snap(struct fx *fx, struct fx_snap *s)
{
    static const char *const tails[] = {
        ",\"year\":2024", ",\"year\":2025", ",\"year\":2025,\"as_of\":" END25,
        ",\"year\":2025,\"as_of\":" END25 ",\"list\":\"unassisted\""};
    fx_snap_r25(fx, s, "protection", tails, FX_NELEMS(tails), true);
    fx_snap_alerts(fx, s);
}

static void test_late_change(void **state)
{
    (void)state;
    char got[256];
    const int64_t T25 = FX_R25_T2025;
    struct fx *fx = fx_new("protection");
    fx_r25_units(fx);
    for (int i = 0; i < 3; i++) {
        const char *hh = i == 0 ? "h1" : i == 1 ? "h2" : "h3";
        fx_status(fx, T25, "22921", hh, 2025, EV_STATUS_POOR);
        pe_assessed(fx, T25, "22921", hh, 2025, 1);
    }
    fx_sync(fx);
    for (size_t u = 0; u < FX_R25_NOLD; u++)
        expect_counts(fx, fx_r25_old[u], 2025, (struct counts){3, 3, 0, 0, 0});
    fx_r25_changes(fx, FX_R25_LATE_RECORDED);
    pe_assistance(fx, FX_R25_T0801, "22924", "h1", REG, 400 * K);
    fx_status(fx, FX_R25_T0801, "22924", "h2", 2025, EV_STATUS_POOR);
    fx_sync(fx);
    /* h1 stays where it was counted: 22921, 593 and 60, which had ended by
     * the end of 2025 and are asked as of before the merger no more; h2
     * moved to the new 22924 and 68. */
    for (size_t u = 0; u < FX_R25_NNOW; u++)
        expect_counts(fx, fx_r25_now[u], 2025, (struct counts){1, 1, 0, 0, 0});
    fx_assert_refused(fx, "protection", "{\"unit\":\"60\",\"year\":2025}",
                      "protection: unit: 60 is not in force on 2025-12-31: "
                      "merged into 68 on 2025-07-01; ask for 68");
    fx_assert_refused(fx, "protection", "{\"unit\":\"22921\",\"year\":2025}",
                      "protection: unit: 22921 is not in force on 2025-12-31: "
                      "merged into 22924 on 2025-07-01; ask for 22924");
    /* On the units of the end of 2025 (as_of), all three: h1's and h3's
     * 22921 regroups into 22924 and 68, h1 with its 400K. */
    for (size_t u = 0; u < FX_R25_NNOW; u++)
        expect_counts_q(fx, fx_r25_now[u], 2025, ",\"as_of\":" END25,
                        (struct counts){3, 3, 1, 400 * K, 0});
    expect_unassisted_q(fx, "68", 2025, ",\"as_of\":" END25,
                        "h2@22924,h3@22924");
    expect_unassisted_q(fx, "68", 2025, "", "h2@22924");
    fx_assert_refused(fx, "protection",
                      "{\"unit\":\"68\",\"year\":2025,\"as_of\":1751302799}",
                      "protection: as_of: must not be before the end of 2025");
    fx_review(fx, FX_R25_T0620, "22921", 2025);
    fx_sync(fx);
    alerts(fx, got, sizeof got);
    assert_string_equal(got, "h2@22924");
    fx_assert_rebuild_same(fx, late_snap, 10);
    fx_free(fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts),
        cmocka_unit_test(test_no_assistance_alert),
        cmocka_unit_test(test_rebuild),
        cmocka_unit_test(test_late_change),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
