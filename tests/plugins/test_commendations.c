/*
 * test_commendations.c - the commendations plugin through the real log
 * and host (units of scenarios.h).
 *
 * Commendations:
 *   2024-03-01  60     Hội Nông dân xã Hàm Chính, collective, by UBND
 *                      tỉnh Bình Thuận, province, QĐ 45/QĐ-UBND
 *   2024-06-01  22901  Nguyễn Văn An, individual, by UBND xã, commune
 *   2024-06-01  593    Trần Thị Bình, individual, by Thủ tướng Chính
 *                      phủ, central, QĐ 1/QĐ-TTg (the same second,
 *                      logged after the one above)
 *   2023-12-01  22950  HTX Thanh Long, collective, by UBND huyện,
 *                      district
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

static void scenario(struct fx *fx)
{
    int64_t jun = pe_time(2024, 6, 1, 9);
    sc_units(fx);
    pe_commendation(fx, jun, "22901", "Nguyễn Văn An", EV_RECIPIENT_INDIVIDUAL,
                    "UBND xã", EV_LEVEL_COMMUNE, NULL);
    pe_commendation(fx, pe_time(2024, 3, 1, 9), "60",
                    "Hội Nông dân xã Hàm Chính", EV_RECIPIENT_COLLECTIVE,
                    "UBND tỉnh Bình Thuận", EV_LEVEL_PROVINCE, "QĐ 45/QĐ-UBND");
    pe_commendation(fx, jun, "593", "Trần Thị Bình", EV_RECIPIENT_INDIVIDUAL,
                    "Thủ tướng Chính phủ", EV_LEVEL_CENTRAL, "QĐ 1/QĐ-TTg");
    pe_commendation(fx, pe_time(2023, 12, 1, 9), "22950", "HTX Thanh Long",
                    EV_RECIPIENT_COLLECTIVE, "UBND huyện", EV_LEVEL_DISTRICT,
                    NULL);
}

static void expect_entry(const msgpack_object *o, const char *recipient,
                         const char *kind, const char *by, const char *level,
                         const char *decision, int64_t at, const char *unit)
{
    char s[128];
    assert_int_equal(o->via.map.size, 7);
    assert_string_equal(fx_str(o, "recipient", s, sizeof s), recipient);
    assert_string_equal(fx_str(o, "recipient_kind", s, sizeof s), kind);
    assert_string_equal(fx_str(o, "awarded_by", s, sizeof s), by);
    assert_string_equal(fx_str(o, "level", s, sizeof s), level);
    if (decision == NULL)
        assert_true(fx_is_nil(o, "decision"));
    else
        assert_string_equal(fx_str(o, "decision", s, sizeof s), decision);
    assert_int_equal(fx_i64(o, "at"), at);
    assert_string_equal(fx_str(o, "unit", s, sizeof s), unit);
}

static void expect_counts(const msgpack_object *res, int64_t all,
                          int64_t collectives, int64_t individuals,
                          const int64_t levels[4], int64_t more)
{
    static const char *const names[4] = {"central", "province", "district",
                                         "commune"};
    assert_int_equal(fx_i64(res, "commendations"), all);
    assert_int_equal(fx_i64(res, "collectives"), collectives);
    assert_int_equal(fx_i64(res, "individuals"), individuals);
    const msgpack_object *bl = fx_get(res, "by_level");
    assert_int_equal(bl->via.map.size, 4);
    for (int i = 0; i < 4; i++)
        assert_int_equal(fx_i64(bl, names[i]), levels[i]);
    assert_int_equal(fx_i64(res, "more"), more);
}

static void test_list(void **state)
{
    (void)state;
    struct fx *fx = fx_new("commendations");
    struct fx_reply r;
    scenario(fx);
    fx_sync(fx);
    const msgpack_object *res =
        fx_query(fx, &r, "commendations", "{\"unit\":\"60\",\"year\":2024}");
    assert_int_equal(res->via.map.size, 8);
    expect_counts(res, 3, 1, 2, (const int64_t[]){1, 1, 0, 1}, 0);
    const msgpack_object *l = fx_get(res, "list");
    assert_int_equal(l->via.array.size, 3);
    /* By time, then log order. */
    expect_entry(&l->via.array.ptr[0], "Hội Nông dân xã Hàm Chính",
                 "collective", "UBND tỉnh Bình Thuận", "province",
                 "QĐ 45/QĐ-UBND", pe_time(2024, 3, 1, 9), "60");
    expect_entry(&l->via.array.ptr[1], "Nguyễn Văn An", "individual", "UBND xã",
                 "commune", NULL, pe_time(2024, 6, 1, 9), "22901");
    expect_entry(&l->via.array.ptr[2], "Trần Thị Bình", "individual",
                 "Thủ tướng Chính phủ", "central", "QĐ 1/QĐ-TTg",
                 pe_time(2024, 6, 1, 9), "593");
    fx_reply_free(&r);

    res = fx_query(fx, &r, "commendations", "{\"unit\":\"593\",\"year\":2024}");
    expect_counts(res, 2, 0, 2, (const int64_t[]){1, 0, 0, 1}, 0);
    fx_reply_free(&r);
    res = fx_query(fx, &r, "commendations", "{\"unit\":\"594\",\"year\":2024}");
    expect_counts(res, 0, 0, 0, (const int64_t[]){0, 0, 0, 0}, 0);
    assert_int_equal(fx_get(res, "list")->via.array.size, 0);
    fx_reply_free(&r);
    /* All time, listed one: the first of 2023 is the first. */
    res = fx_query(fx, &r, "commendations", "{\"unit\":\"60\",\"limit\":1}");
    assert_int_equal(res->via.map.size, 7);
    expect_counts(res, 4, 2, 2, (const int64_t[]){1, 1, 1, 1}, 3);
    l = fx_get(res, "list");
    assert_int_equal(l->via.array.size, 1);
    expect_entry(&l->via.array.ptr[0], "HTX Thanh Long", "collective",
                 "UBND huyện", "district", NULL, pe_time(2023, 12, 1, 9),
                 "22950");
    fx_reply_free(&r);

    assert_string_equal(fx_query_error(fx, &r, "commendations",
                                       "{\"unit\":\"60\",\"limit\":1001}"),
                        "commendations: limit: must be between 1 and 1000");
    fx_reply_free(&r);
    fx_free(fx);
}

static void snap(struct fx *fx, struct fx_snap *s)
{
    static const char *const units[] = {"60", "593", "594", "22901", "22950"};
    char q[64];
    for (size_t u = 0; u < FX_NELEMS(units); u++) {
        snprintf(q, sizeof q, "{\"unit\":\"%s\",\"year\":2024}", units[u]);
        fx_snap_query(fx, s, "commendations", q);
        snprintf(q, sizeof q, "{\"unit\":\"%s\"}", units[u]);
        fx_snap_query(fx, s, "commendations", q);
    }
}

static void test_rebuild(void **state)
{
    (void)state;
    struct fx *fx = fx_new("commendations");
    scenario(fx);
    fx_commit(fx);
    pe_commendation(fx, pe_time(2024, 12, 20, 9), "22902", "Lê Văn Cường",
                    EV_RECIPIENT_INDIVIDUAL, "UBND xã", EV_LEVEL_COMMUNE,
                    "QĐ 9");
    fx_sync(fx);
    fx_assert_rebuild_same(fx, snap, 10);
    fx_free(fx);
}

/* Units over time: listed on the units of its day. */
static void commend(struct fx *fx, int64_t at, const char *unit)
{
    pe_commendation(fx, at, unit, "Nguyễn Văn An", EV_RECIPIENT_INDIVIDUAL,
                    "UBND", EV_LEVEL_PROVINCE, NULL);
}

static void test_reorg_2025(void **state)
{
    (void)state;
    pe_check_units_of_the_day("commendations", commend, "commendations", 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list),
        cmocka_unit_test(test_rebuild),
        cmocka_unit_test(test_reorg_2025),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
