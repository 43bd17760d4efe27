/*
 * test_donors.c - the donors plugin (public acknowledgement of donors)
 * through the real log and host (units of scenarios.h).
 *
 * Donations (M = 1,000,000 VND; 2024 unless said):
 *   60     Công ty A, business, 100M and 50M (two days); 7M in 2023
 *   593    Công ty A, organisation, 10M (another donor: another kind)
 *   22901  Nguyễn Văn An, person, 2M; anonymous, named "Trần Bí Mật",
 *          5M; anonymous, named "Nhà hảo tâm", 3M; Lê Cúc, person, 1M in
 *          kind
 *   22950  Nguyễn Văn An, person, 1M
 *
 *   60, 2024: received 172M, 8 donations, 5 donors: Công ty A (business)
 *       150M, Công ty A (organisation) 10M, anonymous 8M (2), Nguyễn Văn
 *       An 3M (2), Lê Cúc 1M (1M in kind)
 *   593, 2024: 21M, 4 donors
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

#define M PE_M
#define ANON "Ẩn danh / anonymous"

static void scenario(struct fx *fx)
{
    int64_t d1 = pe_time(2024, 10, 17, 9), d2 = pe_time(2024, 10, 18, 9);
    sc_units(fx);
    pe_donation(fx, d1, "60", 100 * M, "Công ty A", EV_DONOR_BUSINESS, false);
    pe_donation(fx, d2, "60", 50 * M, "Công ty A", EV_DONOR_BUSINESS, false);
    pe_donation(fx, pe_time(2023, 11, 1, 9), "60", 7 * M, "Công ty A",
                EV_DONOR_BUSINESS, false);
    pe_donation(fx, d1, "593", 10 * M, "Công ty A", EV_DONOR_ORGANISATION,
                false);
    pe_donation(fx, d1, "22901", 2 * M, "Nguyễn Văn An", EV_DONOR_PERSON,
                false);
    pe_donation(fx, d1, "22901", 5 * M, "Trần Bí Mật", EV_DONOR_ANONYMOUS,
                false);
    pe_donation(fx, d2, "22901", 3 * M, "Nhà hảo tâm", EV_DONOR_ANONYMOUS,
                false);
    pe_donation(fx, d2, "22901", 1 * M, "Lê Cúc", EV_DONOR_PERSON, true);
    pe_donation(fx, d2, "22950", 1 * M, "Nguyễn Văn An", EV_DONOR_PERSON,
                false);
}

struct row {
    const char *donor, *kind;
    int64_t amount, donations, in_kind;
};

static void expect_list(const msgpack_object *res, const struct row *rows,
                        size_t n, int64_t more)
{
    const msgpack_object *l = fx_get(res, "list");
    assert_int_equal(l->type, MSGPACK_OBJECT_ARRAY);
    assert_int_equal(l->via.array.size, n);
    for (size_t i = 0; i < n; i++) {
        const msgpack_object *o = &l->via.array.ptr[i];
        char s[128];
        assert_int_equal(o->via.map.size, 5);
        assert_string_equal(fx_str(o, "donor", s, sizeof s), rows[i].donor);
        assert_string_equal(fx_str(o, "donor_kind", s, sizeof s), rows[i].kind);
        assert_int_equal(fx_i64(o, "amount"), rows[i].amount);
        assert_int_equal(fx_i64(o, "donations"), rows[i].donations);
        assert_int_equal(fx_i64(o, "in_kind"), rows[i].in_kind);
    }
    assert_int_equal(fx_i64(res, "more"), more);
}

static void test_list(void **state)
{
    (void)state;
    static const struct row p60[] = {
        {"Công ty A", "business", 150 * M, 2, 0},
        {"Công ty A", "organisation", 10 * M, 1, 0},
        {ANON, "anonymous", 8 * M, 2, 0},
        {"Nguyễn Văn An", "person", 3 * M, 2, 0},
        {"Lê Cúc", "person", 1 * M, 1, 1 * M},
    };
    struct fx *fx = fx_new("donors");
    struct fx_reply r;
    scenario(fx);
    fx_sync(fx);
    const msgpack_object *res =
        fx_query(fx, &r, "donors", "{\"unit\":\"60\",\"year\":2024}");
    assert_int_equal(res->via.map.size, 8);
    assert_int_equal(fx_i64(res, "year"), 2024);
    assert_int_equal(fx_i64(res, "received"), 172 * M);
    assert_int_equal(fx_i64(res, "donations"), 8);
    assert_int_equal(fx_i64(res, "donors"), 5);
    const msgpack_object *an = fx_get(res, "anonymous");
    assert_int_equal(fx_i64(an, "amount"), 8 * M);
    assert_int_equal(fx_i64(an, "donations"), 2);
    expect_list(res, p60, FX_NELEMS(p60), 0);
    /* The name given with an anonymous donation is never shown. */
    assert_false(pe_holds(r.root, "Trần Bí Mật"));
    assert_false(pe_holds(r.root, "Nhà hảo tâm"));
    fx_reply_free(&r);

    /* The district: its own donor and its communes'. */
    res = fx_query(fx, &r, "donors", "{\"unit\":\"593\",\"year\":2024}");
    assert_int_equal(fx_i64(res, "received"), 21 * M);
    static const struct row p593[] = {
        {"Công ty A", "organisation", 10 * M, 1, 0},
        {ANON, "anonymous", 8 * M, 2, 0},
        {"Nguyễn Văn An", "person", 2 * M, 1, 0},
        {"Lê Cúc", "person", 1 * M, 1, 1 * M},
    };
    expect_list(res, p593, FX_NELEMS(p593), 0);
    fx_reply_free(&r);
    static const struct row p22950[] = {
        {"Nguyễn Văn An", "person", 1 * M, 1, 0}};
    res = fx_query(fx, &r, "donors", "{\"unit\":\"22950\",\"year\":2024}");
    expect_list(res, p22950, 1, 0);
    fx_reply_free(&r);

    /* All time: the 2023 donation joins Công ty A's; a limit cuts the
     * list, not the totals. */
    res = fx_query(fx, &r, "donors", "{\"unit\":\"60\",\"limit\":2}");
    assert_int_equal(res->via.map.size, 7);
    assert_int_equal(fx_i64(res, "received"), 179 * M);
    static const struct row all[] = {
        {"Công ty A", "business", 157 * M, 3, 0},
        {"Công ty A", "organisation", 10 * M, 1, 0}};
    expect_list(res, all, 2, 3);
    fx_reply_free(&r);

    /* A period of seconds: [from, to) holds the first day only. */
    char q[128];
    snprintf(q, sizeof q, "{\"unit\":\"60\",\"from\":%lld,\"to\":%lld}",
             (long long)pe_time(2024, 10, 17, 9),
             (long long)pe_time(2024, 10, 18, 9));
    res = fx_query(fx, &r, "donors", q);
    assert_int_equal(fx_i64(res, "received"), 117 * M);
    assert_int_equal(fx_i64(res, "donors"), 4);
    fx_reply_free(&r);
    res = fx_query(fx, &r, "donors", "{\"unit\":\"60\",\"year\":2022}");
    assert_int_equal(fx_i64(res, "received"), 0);
    expect_list(res, NULL, 0, 0);
    fx_reply_free(&r);

    static const char *const errs[][2] = {
        {"{\"unit\":\"60\",\"year\":2024,\"from\":1}",
         "donors: year: not with from or to"},
        {"{\"unit\":\"60\",\"from\":2,\"to\":1}",
         "donors: to: must not be before from"},
        {"{\"unit\":\"60\",\"limit\":0}",
         "donors: limit: must be between 1 and 10000"},
        {"{\"unit\":\"60\",\"year\":\"2024\"}",
         "donors: year: must be an integer"},
        {"{}", "donors: unit: required"},
    };
    for (size_t i = 0; i < FX_NELEMS(errs); i++) {
        assert_string_equal(fx_query_error(fx, &r, "donors", errs[i][0]),
                            errs[i][1]);
        fx_reply_free(&r);
    }
    fx_free(fx);
}

/* The donors' totals are the fund's: the same events, the same periods. */
static void test_same_as_fund(void **state)
{
    (void)state;
    static const char *const qs[] = {
        "{\"unit\":\"60\",\"year\":2024}", "{\"unit\":\"593\",\"year\":2024}",
        "{\"unit\":\"22901\",\"year\":2024}", "{\"unit\":\"60\"}",
        "{\"unit\":\"594\",\"year\":2023}"};
    struct fx *fx = fx_new("fund donors");
    scenario(fx);
    fx_sync(fx);
    for (size_t i = 0; i < FX_NELEMS(qs); i++) {
        struct fx_reply a, b;
        const msgpack_object *f = fx_query(fx, &a, "fund", qs[i]);
        const msgpack_object *d = fx_query(fx, &b, "donors", qs[i]);
        assert_int_equal(fx_i64(f, "received"), fx_i64(d, "received"));
        assert_int_equal(fx_i64(f, "donations"), fx_i64(d, "donations"));
        fx_reply_free(&a);
        fx_reply_free(&b);
    }
    fx_free(fx);
}

static void snap(struct fx *fx, struct fx_snap *s)
{
    static const char *const units[] = {"60", "593", "594", "22901", "22950"};
    char q[64];
    for (size_t u = 0; u < FX_NELEMS(units); u++) {
        for (int y = 2023; y <= 2024; y++) {
            snprintf(q, sizeof q, "{\"unit\":\"%s\",\"year\":%d}", units[u], y);
            fx_snap_query(fx, s, "donors", q);
        }
        snprintf(q, sizeof q, "{\"unit\":\"%s\"}", units[u]);
        fx_snap_query(fx, s, "donors", q);
    }
}

static void test_rebuild(void **state)
{
    (void)state;
    struct fx *fx = fx_new("donors");
    scenario(fx);
    fx_commit(fx);
    pe_donation(fx, pe_time(2024, 11, 1, 9), "22902", 4 * M, "Lê Cúc",
                EV_DONOR_PERSON, false);
    fx_sync(fx);
    fx_assert_rebuild_same(fx, snap, 10);
    fx_free(fx);
}

/* A donation voided leaves the list; one corrected (amount and unit) is
 * listed as corrected, where it now lies; the totals stay the fund's, and
 * a rebuild answers the same. */
static void test_void_and_correct(void **state)
{
    (void)state;
    static const struct row p60[] = {
        {"Công ty A", "business", 150 * M, 2, 0},
        {"Công ty A", "organisation", 10 * M, 1, 0},
        {ANON, "anonymous", 8 * M, 2, 0},
        {"Nguyễn Văn An", "person", 3 * M, 2, 0},
        {"Lê Cúc", "person", 1 * M, 1, 1 * M},
        {"Công ty B", "business", 900000, 1, 0},
    };
    static const struct row p22950[] = {
        {"Nguyễn Văn An", "person", 1 * M, 1, 0}};
    static const char *const qs[] = {"{\"unit\":\"60\",\"year\":2024}",
                                     "{\"unit\":\"22901\",\"year\":2024}",
                                     "{\"unit\":\"22950\",\"year\":2024}"};
    int64_t d2 = pe_time(2024, 10, 18, 9);
    char x[16], y[16];
    struct fx *fx = fx_new("fund donors");
    struct fx_reply r;
    scenario(fx);
    pe_donation(fx, d2, "22901", 6 * M, "Phạm Hùng", EV_DONOR_PERSON, false);
    snprintf(x, sizeof x, "fx-%u", fx->next_id);
    pe_donation(fx, d2, "22950", 9 * M, "Công ty B", EV_DONOR_BUSINESS, false);
    snprintf(y, sizeof y, "fx-%u", fx->next_id);
    fx_sync(fx);
    fx_void(fx, d2 + 3600, "22901", x, EV_DONATION_RECEIVED);
    pe_donation(fx, d2, "22901", 900000, "Công ty B", EV_DONOR_BUSINESS, false);
    fx_as_correction(fx, y);
    fx_sync(fx);

    const msgpack_object *res =
        fx_query(fx, &r, "donors", "{\"unit\":\"60\",\"year\":2024}");
    assert_int_equal(fx_i64(res, "received"), 172900000);
    assert_int_equal(fx_i64(res, "donations"), 9);
    assert_int_equal(fx_i64(res, "donors"), 6);
    expect_list(res, p60, FX_NELEMS(p60), 0);
    assert_false(pe_holds(r.root, "Phạm Hùng"));
    fx_reply_free(&r);
    res = fx_query(fx, &r, "donors", "{\"unit\":\"22950\",\"year\":2024}");
    expect_list(res, p22950, 1, 0);
    fx_reply_free(&r);
    for (size_t i = 0; i < FX_NELEMS(qs); i++) {
        struct fx_reply a, b;
        const msgpack_object *f = fx_query(fx, &a, "fund", qs[i]);
        const msgpack_object *d = fx_query(fx, &b, "donors", qs[i]);
        assert_int_equal(fx_i64(f, "received"), fx_i64(d, "received"));
        assert_int_equal(fx_i64(f, "donations"), fx_i64(d, "donations"));
        fx_reply_free(&a);
        fx_reply_free(&b);
    }
    fx_assert_rebuild_same(fx, snap, 10);
    fx_free(fx);
}

/* Units over time: a donation lies on the units of its day. */
static void donate(struct fx *fx, int64_t at, const char *unit)
{
    pe_donation(fx, at, unit, 2 * M, "Nguyễn Văn An", EV_DONOR_PERSON, false);
}

static void test_reorg_2025(void **state)
{
    (void)state;
    pe_check_units_of_the_day("donors", donate, "received", 2 * M);
}

/* As of the end of 2025, a donor who gave in two wards merged since is
 * one row of 68 (2M + 2M, 2 donations); without as_of, 68 had nothing in
 * 2024. */
static void test_as_of_one_row(void **state)
{
    (void)state;
    struct fx *fx = fx_new("donors");
    struct fx_reply r;
    fx_r25_units(fx);
    donate(fx, FX_R25_T2024, "22921");
    donate(fx, FX_R25_T2024, "22936");
    fx_r25_changes(fx, FX_R25_RECORDED);
    fx_sync(fx);
    const msgpack_object *res =
        fx_query(fx, &r, "donors",
                 "{\"unit\":\"68\",\"year\":2024,\"as_of\":1767200399}");
    assert_int_equal(fx_i64(res, "as_of"), INT64_C(1767200399));
    assert_int_equal(fx_i64(res, "received"), 4 * M);
    assert_int_equal(fx_i64(res, "donors"), 1);
    const msgpack_object *l = fx_get(res, "list");
    assert_int_equal(l->via.array.size, 1);
    assert_int_equal(fx_i64(&l->via.array.ptr[0], "donations"), 2);
    fx_reply_free(&r);
    res = fx_query(fx, &r, "donors", "{\"unit\":\"68\",\"year\":2024}");
    assert_int_equal(fx_i64(res, "received"), 0);
    assert_int_equal(fx_i64(res, "donors"), 0);
    fx_reply_free(&r);
    fx_free(fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list),
        cmocka_unit_test(test_same_as_fund),
        cmocka_unit_test(test_rebuild),
        cmocka_unit_test(test_reorg_2025),
        cmocka_unit_test(test_as_of_one_row),
        cmocka_unit_test(test_void_and_correct),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
