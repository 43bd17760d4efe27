/*
 * test_production.c - the production plugin (production links and OCOP)
 * through the real log and host (units of scenarios.h).
 *
 * Links (2024 unless said):
 *   L1 cooperative "HTX Thanh Long", product "Thanh long": hA and hB
 *      (22901; hA's record sent twice), hC (22902); hA in 2023 too
 *   L2 enterprise "Công ty Hải Sản", product "Nước mắm": hA (22901, its
 *      second link), hD (22950); a later record of L2 naming another
 *      partner and kind changes nothing
 * Statuses 2024: hA poor, hB near_poor, hE poor (22901); hC poor (22902,
 * logged after its link); hD average (22950).
 * OCOP: "Thanh long" 4 stars (22901, 2023-05); "Nước mắm" 3 stars (22950,
 * 2024-08), re-rated 5 stars in 2025.
 *
 *   22901 2024: linked 2 (hA hB), links 2 (1 enterprise, 1 cooperative),
 *               poor 2 (hA hE) of which linked 1, near_poor 1 linked 1
 *   593 2024:   linked 3, links 2, poor 3 of which linked 2, near 1/1
 *   594 2024:   linked 1 (hD), links 1 (enterprise)
 *   60 2024:    linked 4, links 2, poor 3 of which 2; OCOP 2 (one new)
 *   22901 2023: linked 1, links 1; OCOP 1 (new)
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

#define COOP EV_PARTNER_COOPERATIVE
#define ENT EV_PARTNER_ENTERPRISE
#define HTX "HTX Thanh Long"
#define CTY "Công ty Hải Sản"

static void l1(struct fx *fx, int64_t at, const char *unit, const char *hh,
               int64_t year)
{
    pe_linked(fx, at, unit, hh, "L1", HTX, COOP, "Thanh long", year);
}

static void l2(struct fx *fx, int64_t at, const char *unit, const char *hh)
{
    pe_linked(fx, at, unit, hh, "L2", CTY, ENT, "Nước mắm", 2024);
}

static void scenario(struct fx *fx)
{
    int64_t t = pe_time(2024, 4, 1, 9);
    sc_units(fx);
    l1(fx, t, "22901", "hA", 2024);
    l1(fx, t + 1, "22901", "hA", 2024);
    l1(fx, t, "22901", "hB", 2024);
    l1(fx, t, "22902", "hC", 2024);
    l1(fx, pe_time(2023, 4, 1, 9), "22901", "hA", 2023);
    l2(fx, t, "22901", "hA");
    l2(fx, t, "22950", "hD");
    pe_linked(fx, t + 2, "22950", "hD", "L2", "Someone else", COOP, "Cá", 2024);
    fx_status(fx, t, "22901", "hA", 2024, EV_STATUS_POOR);
    fx_status(fx, t, "22901", "hB", 2024, EV_STATUS_NEAR_POOR);
    fx_status(fx, t, "22901", "hE", 2024, EV_STATUS_POOR);
    fx_status(fx, t + 5, "22902", "hC", 2024, EV_STATUS_POOR);
    fx_status(fx, t, "22950", "hD", 2024, EV_STATUS_AVERAGE);
    pe_ocop(fx, pe_time(2023, 5, 2, 9), "22901", "Thanh long", 4);
    pe_ocop(fx, pe_time(2024, 8, 2, 9), "22950", "Nước mắm", 3);
}

struct counts {
    int64_t linked, links, enterprise, cooperative;
    int64_t poor, poor_linked, near, near_linked;
    int64_t ocop, stars[3], fresh;
};

static void expect_share(const msgpack_object *res, const char *key,
                         int64_t num, int64_t den)
{
    if (den == 0) {
        assert_true(fx_is_nil(res, key));
        return;
    }
    double want = 100.0 * (double)num / (double)den, got = fx_f64(res, key);
    assert_true(got > want - 1e-9 && got < want + 1e-9);
}

/* The answer to {"unit", "year"<tail>} (tail "" or ",\"as_of\":..."). */
static void expect_counts_q(struct fx *fx, const char *unit, int year,
                            const char *tail, struct counts c)
{
    char q[128];
    struct fx_reply r;
    snprintf(q, sizeof q, "{\"unit\":\"%s\",\"year\":%d%s}", unit, year, tail);
    const msgpack_object *res = fx_query(fx, &r, "production", q);
    assert_int_equal(res->via.map.size, tail[0] != '\0' ? 15 : 14);
    assert_int_equal(fx_i64(res, "households_linked"), c.linked);
    assert_int_equal(fx_i64(res, "links"), c.links);
    const msgpack_object *bk = fx_get(res, "links_by_partner_kind");
    assert_int_equal(fx_i64(bk, "enterprise"), c.enterprise);
    assert_int_equal(fx_i64(bk, "cooperative"), c.cooperative);
    assert_int_equal(fx_i64(res, "poor"), c.poor);
    assert_int_equal(fx_i64(res, "poor_linked"), c.poor_linked);
    expect_share(res, "poor_linked_share", c.poor_linked, c.poor);
    assert_int_equal(fx_i64(res, "near_poor"), c.near);
    assert_int_equal(fx_i64(res, "near_poor_linked"), c.near_linked);
    expect_share(res, "near_poor_linked_share", c.near_linked, c.near);
    assert_int_equal(fx_i64(res, "ocop_products"), c.ocop);
    const msgpack_object *bs = fx_get(res, "ocop_by_stars");
    assert_int_equal(bs->via.map.size, 3);
    assert_int_equal(fx_i64(bs, "3"), c.stars[0]);
    assert_int_equal(fx_i64(bs, "4"), c.stars[1]);
    assert_int_equal(fx_i64(bs, "5"), c.stars[2]);
    assert_int_equal(fx_i64(res, "ocop_new"), c.fresh);
    fx_reply_free(&r);
}

static void expect_counts(struct fx *fx, const char *unit, int year,
                          struct counts c)
{
    expect_counts_q(fx, unit, year, "", c);
}

/* The links list as "link:households:stars,..." (stars - when nil). */
static void expect_links(struct fx *fx, const char *q, const char *want,
                         int64_t more)
{
    char got[512] = "";
    struct fx_reply r;
    const msgpack_object *res = fx_query(fx, &r, "production", q);
    const msgpack_object *l = fx_get(res, "links");
    for (uint32_t i = 0; i < l->via.array.size; i++) {
        const msgpack_object *o = &l->via.array.ptr[i];
        char id[64], stars[8] = "-";
        size_t n = strlen(got);
        assert_int_equal(o->via.map.size, 6);
        if (!fx_is_nil(o, "ocop_stars"))
            snprintf(stars, sizeof stars, "%lld",
                     (long long)fx_i64(o, "ocop_stars"));
        snprintf(got + n, sizeof got - n, "%s%s:%lld:%s", i ? "," : "",
                 fx_str(o, "link", id, sizeof id),
                 (long long)fx_i64(o, "households"), stars);
    }
    assert_string_equal(got, want);
    assert_int_equal(fx_i64(res, "more"), more);
    fx_reply_free(&r);
}

static void test_links(void **state)
{
    (void)state;
    struct fx *fx = fx_new("production");
    struct fx_reply r;
    scenario(fx);
    fx_sync(fx);
    expect_counts(fx, "22901", 2024,
                  (struct counts){2, 2, 1, 1, 2, 1, 1, 1, 1, {0, 1, 0}, 0});
    expect_counts(fx, "22902", 2024,
                  (struct counts){1, 1, 0, 1, 1, 1, 0, 0, 0, {0, 0, 0}, 0});
    expect_counts(fx, "593", 2024,
                  (struct counts){3, 2, 1, 1, 3, 2, 1, 1, 1, {0, 1, 0}, 0});
    expect_counts(fx, "594", 2024,
                  (struct counts){1, 1, 1, 0, 0, 0, 0, 0, 1, {1, 0, 0}, 1});
    expect_counts(fx, "60", 2024,
                  (struct counts){4, 2, 1, 1, 3, 2, 1, 1, 2, {1, 1, 0}, 1});
    expect_counts(fx, "22901", 2023,
                  (struct counts){1, 1, 0, 1, 0, 0, 0, 0, 1, {0, 1, 0}, 1});
    expect_counts(fx, "60", 2022,
                  (struct counts){0, 0, 0, 0, 0, 0, 0, 0, 0, {0, 0, 0}, 0});

    /* The list: by link id, households in the unit, the product's stars
     * as now rated; the partner and product of the link's first record. */
    expect_links(fx, "{\"unit\":\"593\",\"year\":2024,\"list\":\"links\"}",
                 "L1:3:4,L2:1:3", 0);
    expect_links(fx, "{\"unit\":\"594\",\"year\":2024,\"list\":\"links\"}",
                 "L2:1:3", 0);
    expect_links(fx,
                 "{\"unit\":\"60\",\"year\":2024,\"list\":\"links\","
                 "\"limit\":1}",
                 "L1:3:4", 1);
    const msgpack_object *res =
        fx_query(fx, &r, "production",
                 "{\"unit\":\"594\",\"year\":2024,\"list\":\"links\"}");
    const msgpack_object *o = &fx_get(res, "links")->via.array.ptr[0];
    char s[64];
    assert_string_equal(fx_str(o, "partner", s, sizeof s), CTY);
    assert_string_equal(fx_str(o, "partner_kind", s, sizeof s), "enterprise");
    assert_string_equal(fx_str(o, "product", s, sizeof s), "Nước mắm");
    fx_reply_free(&r);

    /* A re-rating replaces the stars; a status moves a household between
     * the poor and the near-poor where it is counted. */
    pe_ocop(fx, pe_time(2025, 3, 2, 9), "22950", "Nước mắm", 5);
    fx_status(fx, pe_time(2024, 9, 1, 9), "22901", "hA", 2024,
              EV_STATUS_NEAR_POOR);
    fx_sync(fx);
    expect_counts(fx, "22901", 2024,
                  (struct counts){2, 2, 1, 1, 1, 0, 2, 2, 1, {0, 1, 0}, 0});
    expect_counts(fx, "60", 2024,
                  (struct counts){4, 2, 1, 1, 2, 1, 2, 2, 2, {0, 1, 1}, 1});
    expect_counts(fx, "60", 2025,
                  (struct counts){0, 0, 0, 0, 0, 0, 0, 0, 2, {0, 1, 1}, 0});
    expect_links(fx, "{\"unit\":\"593\",\"year\":2024,\"list\":\"links\"}",
                 "L1:3:4,L2:1:5", 0);

    assert_string_equal(
        fx_query_error(fx, &r, "production", "{\"unit\":\"60\"}"),
        "production: year: required");
    fx_reply_free(&r);
    assert_string_equal(fx_query_error(fx, &r, "production",
                                       "{\"unit\":\"60\",\"year\":2024,"
                                       "\"list\":\"ocop\"}"),
                        "production: list: must be \"links\"");
    fx_reply_free(&r);
    fx_free(fx);
}

static void snap(struct fx *fx, struct fx_snap *s)
{
    static const char *const units[] = {"60",    "593",   "594",
                                        "22901", "22902", "22950"};
    char q[96];
    for (size_t u = 0; u < FX_NELEMS(units); u++)
        for (int y = 2023; y <= 2025; y++) {
            snprintf(q, sizeof q, "{\"unit\":\"%s\",\"year\":%d}", units[u], y);
            fx_snap_query_nonneg(fx, s, "production", q);
            snprintf(q, sizeof q,
                     "{\"unit\":\"%s\",\"year\":%d,\"list\":\"links\"}",
                     units[u], y);
            fx_snap_query(fx, s, "production", q);
        }
}

static void test_rebuild(void **state)
{
    (void)state;
    struct fx *fx = fx_new("production");
    scenario(fx);
    fx_commit(fx);
    pe_ocop(fx, pe_time(2025, 3, 2, 9), "22950", "Nước mắm", 5);
    fx_status(fx, pe_time(2024, 9, 1, 9), "22901", "hA", 2024,
              EV_STATUS_NEAR_POOR);
    l2(fx, pe_time(2024, 9, 2, 9), "22902", "hC");
    fx_sync(fx);
    fx_assert_rebuild_same(fx, snap, 20);
    fx_free(fx);
}

/*
 * A change of units recorded late (fixture.h).  Logged before it: h1 and
 * h2 poor in 2025 in 22921, and h1 linked (L1, 22921), counted in 22921,
 * 593 and 60 on the registry of then.  After it: h2 linked from 22924
 * (its household and link counted where 22924 is at the end of 2025: 22924
 * and 68; its status, as linked, where the status is counted: 22921, 593,
 * 60); h1's status recorded again from 22924: it moves to 22924 and 68,
 * linked.  An OCOP product of 22921 certified in June, logged after: on
 * the units of its day, 22921, 593 and 60.  So without as_of 22924 and 68
 * have h1 (poor, linked) and h2's link: linked 1, L1 with 1 household,
 * poor 1 linked 1, no product; 22921, 593 and 60 are refused for 2025.
 * As of the end of 2025 they have everything: linked 2, L1 once with 2
 * households, poor 2 linked 2, the 4-star product, new in 2025.
 */
#define END25 "1767200399" /* 2025-12-31 23:59:59 +07 */

static void late_snap(struct fx *fx, struct fx_snap *s)
{
    static const char *const tails[] = {
        ",\"year\":2024", ",\"year\":2025", ",\"year\":2025,\"list\":\"links\"",
        ",\"year\":2025,\"as_of\":" END25,
        ",\"year\":2025,\"list\":\"links\",\"as_of\":" END25};
    fx_snap_r25(fx, s, "production", tails, FX_NELEMS(tails), true);
}

static void test_late_change(void **state)
{
    (void)state;
    const int64_t T25 = FX_R25_T2025;
    struct fx *fx = fx_new("production");
    fx_r25_units(fx);
    fx_status(fx, T25, "22921", "h1", 2025, EV_STATUS_POOR);
    fx_status(fx, T25, "22921", "h2", 2025, EV_STATUS_POOR);
    l1(fx, T25, "22921", "h1", 2025);
    fx_sync(fx);
    for (size_t u = 0; u < FX_R25_NOLD; u++)
        expect_counts(fx, fx_r25_old[u], 2025,
                      (struct counts){1, 1, 0, 1, 2, 1, 0, 0, 0, {0}, 0});
    fx_r25_changes(fx, FX_R25_LATE_RECORDED);
    l1(fx, FX_R25_T0801, "22924", "h2", 2025);
    fx_status(fx, FX_R25_T0801, "22924", "h1", 2025, EV_STATUS_POOR);
    pe_ocop(fx, FX_R25_T0620, "22921", "Thanh long", 4);
    fx_sync(fx);
    for (size_t u = 0; u < FX_R25_NNOW; u++)
        expect_counts(fx, fx_r25_now[u], 2025,
                      (struct counts){1, 1, 0, 1, 1, 1, 0, 0, 0, {0}, 0});
    expect_links(fx, "{\"unit\":\"68\",\"year\":2025,\"list\":\"links\"}",
                 "L1:1:4", 0);
    /* 22921, 593 and 60 had ended by the end of 2025. */
    fx_assert_refused(fx, "production", "{\"unit\":\"22921\",\"year\":2025}",
                      "production: unit: 22921 is not in force on 2025-12-31: "
                      "merged into 22924 on 2025-07-01; ask for 22924");
    fx_assert_refused(fx, "production", "{\"unit\":\"593\",\"year\":2025}",
                      "production: unit: 593 is not in force on 2025-12-31: "
                      "abolished on 2025-07-01; ask for 68");
    /* As of the end of 2025, everything: h1 (linked in 22921) and h2
     * (linked from 22924) linked, L1 once with both, both poor and
     * linked, the product of 22921. */
    for (size_t u = 0; u < FX_R25_NNOW; u++)
        expect_counts_q(
            fx, fx_r25_now[u], 2025, ",\"as_of\":" END25,
            (struct counts){2, 1, 0, 1, 2, 2, 0, 0, 1, {0, 1, 0}, 1});
    expect_links(fx,
                 "{\"unit\":\"68\",\"year\":2025,\"list\":\"links\","
                 "\"as_of\":" END25 "}",
                 "L1:2:4", 0);
    fx_assert_rebuild_same(fx, late_snap, 10);
    fx_free(fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_links),
        cmocka_unit_test(test_rebuild),
        cmocka_unit_test(test_late_change),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
