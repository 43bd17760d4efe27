/*
 * test_relocation.c - the relocation plugin through the real log and host
 * (units of scenarios.h), with fx_tick() driving pt_host_tick at chosen
 * times.
 *
 * Scenario (T0 = SC_D0, 2024-10-17 00:00 +07; F = 180 days):
 *
 *   hh  destination  at      reason     support (at)
 *   r1  22901        T0      landslide  land T0+1d, housing T0+2d,
 *                                       water T0+3d, livelihood T0+10d
 *   r2  22901        T0+1h   flood      land T0+1d
 *   r3  22950        T0+2h   erosion    livelihood T0-5d (logged BEFORE the
 *                                       relocation), housing T0+2h+F
 *                                       (exactly the deadline), land
 *                                       T0+2h+F+1 (one second late)
 *   r4  22902        T0+3h   flood      none
 *
 *   missing now: r2 housing water livelihood; r3 water; r4 all four.
 *   22901: relocated 2, fully 1 (r1), missing housing/water/livelihood 1.
 *   593 (r1 r2 r4): 3, fully 1, land 1, housing 2, water 2, livelihood 2,
 *        landslide 1, flood 2; share 100/3.
 *   60: 4, fully 1, land 1, housing 2, water 3, livelihood 2, landslide 1,
 *        flood 2, erosion 1; share 25.
 *
 *   Alerts at deadline (support dated <= deadline counts):
 *   r1 (T0+F): none.  r2 (T0+1h+F): livelihood_missing, incomplete
 *   (housing, water).  r3 (T0+2h+F): incomplete (land, water): its land
 *   came 1 s late.  r4 (T0+3h+F): livelihood_missing, incomplete (land,
 *   housing, water).
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

#define T0 SC_D0
#define H SC_H
#define DAY SC_DAY
#define F (180 * SC_DAY)

static void relocated(struct fx *fx, int64_t at, const char *unit,
                      const char *hh, const char *from, enum ev_reason reason)
{
    struct ev_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = EV_RELOCATION_COMPLETED;
    ev.at = at;
    ev.unit = fx_ev_str(unit);
    ev.household = fx_ev_str(hh);
    ev.data.from = fx_ev_str(from);
    ev.data.reason = reason;
    fx_add(fx, &ev);
}

static void support(struct fx *fx, int64_t at, const char *unit, const char *hh,
                    enum ev_item item, int64_t amount)
{
    struct ev_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = EV_RELOCATION_SUPPORT;
    ev.at = at;
    ev.unit = fx_ev_str(unit);
    ev.household = fx_ev_str(hh);
    ev.data.item = item;
    ev.data.has_amount = amount > 0;
    ev.data.amount = amount;
    fx_add(fx, &ev);
}

static void scenario(struct fx *fx)
{
    sc_units(fx);
    support(fx, T0 - 5 * DAY, "22950", "r3", EV_ITEM_LIVELIHOOD, 5000000);
    fx_commit(fx); /* r3's support is applied before its relocation */
    relocated(fx, T0, "22901", "r1", "22902", EV_REASON_LANDSLIDE);
    support(fx, T0 + 1 * DAY, "22901", "r1", EV_ITEM_LAND, 0);
    support(fx, T0 + 2 * DAY, "22901", "r1", EV_ITEM_HOUSING, 40000000);
    support(fx, T0 + 3 * DAY, "22901", "r1", EV_ITEM_WATER, 0);
    support(fx, T0 + 10 * DAY, "22901", "r1", EV_ITEM_LIVELIHOOD, 0);
    relocated(fx, T0 + 1 * H, "22901", "r2", "22902", EV_REASON_FLOOD);
    support(fx, T0 + 1 * DAY, "22901", "r2", EV_ITEM_LAND, 0);
    relocated(fx, T0 + 2 * H, "22950", "r3", "22950", EV_REASON_EROSION);
    support(fx, T0 + 2 * H + F, "22950", "r3", EV_ITEM_HOUSING, 0);
    support(fx, T0 + 2 * H + F + 1, "22950", "r3", EV_ITEM_LAND, 0);
    relocated(fx, T0 + 3 * H, "22902", "r4", "22903", EV_REASON_FLOOD);
}

struct want {
    int64_t relocated, fully, land, housing, water, livelihood;
    int64_t landslide, flood, erosion;
    double share; /* < 0: nil */
    int64_t other;
};

/* q {"unit"} (year 0) or q {"unit", "year"}, and with as_of when it is
 * not NULL: the year's reply has the same keys plus "year" (and
 * "as_of"). */
static void expect_year_as_of(struct fx *fx, const char *unit, int64_t year,
                              const char *as_of, const struct want *w)
{
    char q[128], s[16], a[48] = "";
    if (as_of != NULL)
        snprintf(a, sizeof a, ",\"as_of\":%s", as_of);
    if (year != 0)
        snprintf(q, sizeof q, "{\"unit\":\"%s\",\"year\":%lld%s}", unit,
                 (long long)year, a);
    else
        snprintf(q, sizeof q, "{\"unit\":\"%s\"%s}", unit, a);
    struct fx_reply r;
    const msgpack_object *res = fx_query(fx, &r, "relocation", q);
    assert_int_equal(res->via.map.size,
                     (year != 0 ? 7 : 6) + (as_of != NULL ? 1 : 0));
    assert_string_equal(fx_str(res, "unit", s, sizeof s), unit);
    if (year != 0)
        assert_int_equal(fx_i64(res, "year"), year);
    assert_int_equal(fx_i64(res, "relocated"), w->relocated);
    assert_int_equal(fx_i64(res, "fully_supported"), w->fully);
    if (w->share < 0)
        assert_true(fx_is_nil(res, "share_fully_supported"));
    else
        assert_true(fx_f64(res, "share_fully_supported") > w->share - 1e-9 &&
                    fx_f64(res, "share_fully_supported") < w->share + 1e-9);
    const msgpack_object *m = fx_get(res, "missing");
    assert_int_equal(m->via.map.size, 4);
    assert_int_equal(fx_i64(m, "land"), w->land);
    assert_int_equal(fx_i64(m, "housing"), w->housing);
    assert_int_equal(fx_i64(m, "water"), w->water);
    assert_int_equal(fx_i64(m, "livelihood"), w->livelihood);
    const msgpack_object *b = fx_get(res, "by_reason");
    assert_int_equal(b->via.map.size, 5);
    assert_int_equal(fx_i64(b, "landslide"), w->landslide);
    assert_int_equal(fx_i64(b, "flood"), w->flood);
    assert_int_equal(fx_i64(b, "erosion"), w->erosion);
    assert_int_equal(fx_i64(b, "forest"), 0);
    assert_int_equal(fx_i64(b, "other"), w->other);
    fx_reply_free(&r);
}

static void expect_year(struct fx *fx, const char *unit, int64_t year,
                        const struct want *w)
{
    expect_year_as_of(fx, unit, year, NULL, w);
}

static void expect(struct fx *fx, const char *unit, const struct want *w)
{
    expect_year(fx, unit, 0, w);
}

/* The refusal of a query for a unit that had ended by its date. */
static void expect_ended(struct fx *fx, const char *q, const char *want)
{
    fx_assert_refused(fx, "relocation", q, want);
}

#define END25 "1767200399" /* 2025-12-31T23:59:59+07:00 */
#define END26 "1798736399"
#define JUL25_1 "1751302799" /* the last second before 2025-07-01 */

static void test_rollup(void **state)
{
    (void)state;
    struct fx *fx = fx_new("relocation");
    sc_units(fx);
    support(fx, T0 - 5 * DAY, "22950", "r3", EV_ITEM_LIVELIHOOD, 5000000);
    fx_sync(fx);
    /* Support alone relocates no one. */
    struct want none = {.share = -1};
    expect(fx, "594", &none);

    fx_free(fx);
    fx = fx_new("relocation");
    scenario(fx);
    fx_sync(fx);
    struct want w22901 = {2, 1, 0, 1, 1, 1, 1, 1, 0, 50.0, 0};
    expect(fx, "22901", &w22901);
    struct want w593 = {3, 1, 1, 2, 2, 2, 1, 2, 0, 100.0 / 3, 0};
    expect(fx, "593", &w593);
    /* r3: livelihood (before), housing, land; water missing. */
    struct want w594 = {1, 0, 0, 0, 1, 0, 0, 0, 1, 0.0, 0};
    expect(fx, "594", &w594);
    expect(fx, "22950", &w594);
    struct want w60 = {4, 1, 1, 2, 3, 2, 1, 2, 1, 25.0, 0};
    expect(fx, "60", &w60);
    expect(fx, "22903", &none);

    /* r4 gets water, r3 gets water: r3 becomes fully supported. */
    support(fx, T0 + 50 * DAY, "22902", "r4", EV_ITEM_WATER, 0);
    support(fx, T0 + 60 * DAY, "22950", "r3", EV_ITEM_WATER, 0);
    fx_sync(fx);
    struct want w60b = {4, 2, 1, 2, 1, 2, 1, 2, 1, 50.0, 0};
    expect(fx, "60", &w60b);

    /* A second relocation.completed for r2 moves it to 22950 (other). */
    relocated(fx, T0 + 4 * H, "22950", "r2", "22901", EV_REASON_OTHER);
    fx_sync(fx);
    struct want w22901b = {1, 1, 0, 0, 0, 0, 1, 0, 0, 100.0, 0};
    expect(fx, "22901", &w22901b);
    struct want w593b = {2, 1, 1, 1, 0, 1, 1, 1, 0, 50.0, 0};
    expect(fx, "593", &w593b);
    /* r2 now in 594: r3 (water since T0+60d) and r2 (land; other). */
    struct want w594b = {2, 1, 0, 1, 1, 1, 0, 0, 1, 50.0, 1};
    expect(fx, "594", &w594b);
    fx_free(fx);
}

/* One entry of the missing list. */
static void expect_entry(const msgpack_object *e, const char *hh,
                         const char *unit, int64_t at, const char *items)
{
    char s[64], got[64] = "";
    assert_string_equal(fx_str(e, "household", s, sizeof s), hh);
    assert_string_equal(fx_str(e, "unit", s, sizeof s), unit);
    assert_int_equal(fx_i64(e, "relocated_at"), at);
    const msgpack_object *m = fx_get(e, "missing");
    assert_int_equal(m->type, MSGPACK_OBJECT_ARRAY);
    for (uint32_t i = 0; i < m->via.array.size; i++) {
        const msgpack_object *o = &m->via.array.ptr[i];
        assert_int_equal(o->type, MSGPACK_OBJECT_STR);
        snprintf(got + strlen(got), sizeof got - strlen(got), "%s%.*s",
                 i ? " " : "", (int)o->via.str.size, o->via.str.ptr);
    }
    assert_string_equal(got, items);
}

static void test_missing_list(void **state)
{
    (void)state;
    struct fx *fx = fx_new("relocation");
    scenario(fx);
    fx_sync(fx);
    struct fx_reply r;
    /* By relocation time: r2 (T0+1h), r3 (T0+2h), r4 (T0+3h); r1 is
     * complete. */
    const msgpack_object *res = fx_query(
        fx, &r, "relocation", "{\"unit\":\"60\",\"list\":\"missing\"}");
    const msgpack_object *l = fx_get(res, "households");
    assert_int_equal(l->via.array.size, 3);
    expect_entry(&l->via.array.ptr[0], "r2", "22901", T0 + 1 * H,
                 "housing water livelihood");
    expect_entry(&l->via.array.ptr[1], "r3", "22950", T0 + 2 * H, "water");
    expect_entry(&l->via.array.ptr[2], "r4", "22902", T0 + 3 * H,
                 "land housing water livelihood");
    assert_false(fx_get(res, "more")->via.boolean);
    fx_reply_free(&r);

    res = fx_query(fx, &r, "relocation",
                   "{\"unit\":\"60\",\"list\":\"missing\",\"limit\":2}");
    assert_int_equal(fx_get(res, "households")->via.array.size, 2);
    assert_true(fx_get(res, "more")->via.boolean);
    fx_reply_free(&r);
    res = fx_query(fx, &r, "relocation",
                   "{\"unit\":\"60\",\"list\":\"missing\",\"limit\":3}");
    assert_int_equal(fx_get(res, "households")->via.array.size, 3);
    assert_false(fx_get(res, "more")->via.boolean);
    fx_reply_free(&r);

    /* The subtree only: 593 has r2 and r4; 22901 only r2; 22903 none. */
    res = fx_query(fx, &r, "relocation",
                   "{\"unit\":\"593\",\"list\":\"missing\"}");
    l = fx_get(res, "households");
    assert_int_equal(l->via.array.size, 2);
    expect_entry(&l->via.array.ptr[1], "r4", "22902", T0 + 3 * H,
                 "land housing water livelihood");
    fx_reply_free(&r);
    res = fx_query(fx, &r, "relocation",
                   "{\"unit\":\"22903\",\"list\":\"missing\"}");
    assert_int_equal(fx_get(res, "households")->via.array.size, 0);
    fx_reply_free(&r);

    /* Once r3 has water it leaves every list. */
    support(fx, T0 + 60 * DAY, "22950", "r3", EV_ITEM_WATER, 0);
    fx_sync(fx);
    res = fx_query(fx, &r, "relocation",
                   "{\"unit\":\"594\",\"list\":\"missing\"}");
    assert_int_equal(fx_get(res, "households")->via.array.size, 0);
    fx_reply_free(&r);

    assert_string_equal(
        fx_query_error(fx, &r, "relocation",
                       "{\"unit\":\"60\",\"list\":\"complete\"}"),
        "relocation: list: must be \"missing\" or \"households\"");
    fx_reply_free(&r);
    assert_string_equal(
        fx_query_error(fx, &r, "relocation",
                       "{\"unit\":\"60\",\"list\":\"missing\",\"limit\":0}"),
        "relocation: limit: must be between 1 and 1000");
    fx_reply_free(&r);
    assert_string_equal(fx_query_error(fx, &r, "relocation", "{}"),
                        "relocation: unit: required");
    fx_reply_free(&r);
    fx_free(fx);
}

/*
 * Years (Y = SC_Y2025, local 2025-01-01 00:00 = 2024-12-31 17:00 UTC):
 *
 *   stage 1 (one batch, in this log order):
 *     y1 land Y-120s amount 1000 (logged before y1's relocation)
 *     y1 -> 22901 at Y-60 (31 Dec 23:59 local: 2024), landslide, from 22902
 *     y2 livelihood Y-10d (before its relocation, no amount)
 *     y2 -> 22902 at Y (1 Jan 00:00 local: 2025, though UTC says 2024),
 *        flood, from 22903
 *     y3 -> 22950 at T0 (2024), erosion, from 22950; water T0+1d amount 700
 *   stage 2: y1 housing Y+1d 2000, housing Y+2d 500, water Y+3d, livelihood
 *     Y+4d 300: y1 complete, counted in 2024 (its relocation's year) though
 *     the support came in 2025.
 *   stage 3: y3 -> 22901 again at Y+10d (2025), other, from 22950: it moves
 *     from 594/2024 to 593/2025, keeping its water.
 */
static void years_stage1(struct fx *fx)
{
    sc_units(fx);
    support(fx, SC_Y2025 - 120, "22901", "y1", EV_ITEM_LAND, 1000);
    relocated(fx, SC_Y2025 - 60, "22901", "y1", "22902", EV_REASON_LANDSLIDE);
    support(fx, SC_Y2025 - 10 * DAY, "22902", "y2", EV_ITEM_LIVELIHOOD, 0);
    relocated(fx, SC_Y2025, "22902", "y2", "22903", EV_REASON_FLOOD);
    relocated(fx, T0, "22950", "y3", "22950", EV_REASON_EROSION);
    support(fx, T0 + DAY, "22950", "y3", EV_ITEM_WATER, 700);
}

static void years_stage2(struct fx *fx)
{
    support(fx, SC_Y2025 + DAY, "22901", "y1", EV_ITEM_HOUSING, 2000);
    support(fx, SC_Y2025 + 2 * DAY, "22901", "y1", EV_ITEM_HOUSING, 500);
    support(fx, SC_Y2025 + 3 * DAY, "22901", "y1", EV_ITEM_WATER, 0);
    support(fx, SC_Y2025 + 4 * DAY, "22901", "y1", EV_ITEM_LIVELIHOOD, 300);
}

static void years_stage3(struct fx *fx)
{
    relocated(fx, SC_Y2025 + 10 * DAY, "22901", "y3", "22950", EV_REASON_OTHER);
}

static void test_years(void **state)
{
    (void)state;
    struct fx *fx = fx_new("relocation");
    years_stage1(fx);
    fx_sync(fx);
    /* Field order: relocated, fully, missing land housing water
     * livelihood, landslide flood erosion, share, other. */
    struct want none = {.share = -1};
    /* 2024: y1 (lacks housing water livelihood), y3 (has water). */
    struct want w60_24 = {2, 0, 1, 2, 1, 2, 1, 0, 1, 0.0, 0};
    expect_year(fx, "60", 2024, &w60_24);
    struct want w593_24 = {1, 0, 0, 1, 1, 1, 1, 0, 0, 0.0, 0};
    expect_year(fx, "593", 2024, &w593_24);
    expect_year(fx, "22901", 2024, &w593_24);
    struct want w594_24 = {1, 0, 1, 1, 0, 1, 0, 0, 1, 0.0, 0};
    expect_year(fx, "594", 2024, &w594_24);
    /* 2025: y2 alone (has livelihood, from before its relocation). */
    struct want w60_25 = {1, 0, 1, 1, 1, 0, 0, 1, 0, 0.0, 0};
    expect_year(fx, "60", 2025, &w60_25);
    expect_year(fx, "593", 2025, &w60_25);
    expect_year(fx, "22902", 2025, &w60_25);
    expect_year(fx, "22902", 2024, &none);
    expect_year(fx, "22901", 2025, &none);
    expect_year(fx, "60", 2023, &none);
    /* The totals are the sum of the years. */
    struct want w60 = {3, 0, 2, 3, 2, 2, 1, 1, 1, 0.0, 0};
    expect(fx, "60", &w60);

    years_stage2(fx);
    fx_sync(fx);
    /* y1 complete: 2024 fully 1 of 2, only y3's gaps left. */
    struct want w60_24b = {2, 1, 1, 1, 0, 1, 1, 0, 1, 50.0, 0};
    expect_year(fx, "60", 2024, &w60_24b);
    struct want w593_24b = {1, 1, 0, 0, 0, 0, 1, 0, 0, 100.0, 0};
    expect_year(fx, "593", 2024, &w593_24b);
    expect_year(fx, "60", 2025, &w60_25); /* untouched */

    years_stage3(fx);
    fx_sync(fx);
    /* 2024: y1 only; 594 had only y3 and is empty again. */
    expect_year(fx, "60", 2024, &w593_24b);
    expect_year(fx, "593", 2024, &w593_24b);
    struct want zero = {0, 0, 0, 0, 0, 0, 0, 0, 0, -1, 0};
    expect_year(fx, "594", 2024, &zero);
    expect_year(fx, "22950", 2024, &zero);
    /* 2025: y2 (lacks land housing water) and y3 (lacks land housing
     * livelihood; other). */
    struct want w60_25c = {2, 0, 2, 2, 1, 1, 0, 1, 0, 0.0, 1};
    expect_year(fx, "60", 2025, &w60_25c);
    expect_year(fx, "593", 2025, &w60_25c);
    struct want w22901_25 = {1, 0, 1, 1, 0, 1, 0, 0, 0, 0.0, 1};
    expect_year(fx, "22901", 2025, &w22901_25);
    struct want w60c = {3, 1, 2, 2, 1, 1, 1, 1, 0, 100.0 / 3, 1};
    expect(fx, "60", &w60c);

    struct fx_reply r;
    assert_string_equal(fx_query_error(fx, &r, "relocation",
                                       "{\"unit\":\"60\",\"year\":\"x\"}"),
                        "relocation: year: must be an integer");
    fx_reply_free(&r);
    assert_string_equal(
        fx_query_error(fx, &r, "relocation", "{\"unit\":\"60\",\"year\":1969}"),
        "relocation: year: must be 1970-9999");
    fx_reply_free(&r);
    assert_string_equal(
        fx_query_error(fx, &r, "relocation",
                       "{\"unit\":\"60\",\"list\":\"households\","
                       "\"year\":10000}"),
        "relocation: year: must be 1970-9999");
    fx_reply_free(&r);
    fx_free(fx);
}

/* One entry of the households list; item_at 0: the item is nil; amount 0:
 * its amount is nil.  Items in order land, housing, water, livelihood. */
struct hw {
    const char *hh, *unit, *from, *reason;
    int64_t at, item_at[4], amount[4];
};

static void expect_hh(const msgpack_object *e, const struct hw *w)
{
    static const char *const names[] = {"land", "housing", "water",
                                        "livelihood"};
    char s[64];
    assert_int_equal(e->via.map.size, 6);
    assert_string_equal(fx_str(e, "household", s, sizeof s), w->hh);
    assert_string_equal(fx_str(e, "unit", s, sizeof s), w->unit);
    assert_string_equal(fx_str(e, "from", s, sizeof s), w->from);
    assert_string_equal(fx_str(e, "reason", s, sizeof s), w->reason);
    assert_int_equal(fx_i64(e, "relocated_at"), w->at);
    const msgpack_object *items = fx_get(e, "items");
    assert_int_equal(items->type, MSGPACK_OBJECT_MAP);
    assert_int_equal(items->via.map.size, 4);
    for (int i = 0; i < 4; i++) {
        /* The map's keys come in item order. */
        const msgpack_object *k = &items->via.map.ptr[i].key;
        assert_int_equal(k->type, MSGPACK_OBJECT_STR);
        assert_int_equal(k->via.str.size, strlen(names[i]));
        assert_memory_equal(k->via.str.ptr, names[i], k->via.str.size);
        if (w->item_at[i] == 0) {
            assert_true(fx_is_nil(items, names[i]));
            continue;
        }
        const msgpack_object *it = fx_get(items, names[i]);
        assert_int_equal(it->via.map.size, 2);
        assert_int_equal(fx_i64(it, "at"), w->item_at[i]);
        if (w->amount[i] == 0)
            assert_true(fx_is_nil(it, "amount"));
        else
            assert_int_equal(fx_i64(it, "amount"), w->amount[i]);
    }
}

/* The households of a list reply, as "hh hh ..."; returns "more". */
static bool list_names(struct fx *fx, const char *q, char *out, size_t n)
{
    struct fx_reply r;
    char s[64];
    const msgpack_object *res = fx_query(fx, &r, "relocation", q);
    const msgpack_object *l = fx_get(res, "households");
    out[0] = '\0';
    for (uint32_t i = 0; i < l->via.array.size; i++)
        snprintf(out + strlen(out), n - strlen(out), "%s%s", i ? " " : "",
                 fx_str(&l->via.array.ptr[i], "household", s, sizeof s));
    bool more = fx_get(res, "more")->via.boolean;
    fx_reply_free(&r);
    return more;
}

static void test_households_list(void **state)
{
    (void)state;
    struct fx *fx = fx_new("relocation");
    years_stage1(fx);
    fx_sync(fx);
    char got[256];
    /* Before y3 moves: by relocation time y3 (T0), y1 (Y-60), y2 (Y). */
    assert_false(list_names(fx, "{\"unit\":\"60\",\"list\":\"households\"}",
                            got, sizeof got));
    assert_string_equal(got, "y3 y1 y2");
    assert_false(list_names(fx, "{\"unit\":\"594\",\"list\":\"households\"}",
                            got, sizeof got));
    assert_string_equal(got, "y3");

    years_stage2(fx);
    years_stage3(fx);
    fx_sync(fx);
    struct fx_reply r;
    const msgpack_object *res = fx_query(
        fx, &r, "relocation", "{\"unit\":\"60\",\"list\":\"households\"}");
    assert_int_equal(res->via.map.size, 2);
    const msgpack_object *l = fx_get(res, "households");
    assert_int_equal(l->via.array.size, 3);
    /* y1: land before the relocation (Y-120, 1000); housing first at Y+1d,
     * amounts 2000 + 500; water with no amount; livelihood Y+4d, 300. */
    struct hw y1 = {"y1",
                    "22901",
                    "22902",
                    "landslide",
                    SC_Y2025 - 60,
                    {SC_Y2025 - 120, SC_Y2025 + DAY, SC_Y2025 + 3 * DAY,
                     SC_Y2025 + 4 * DAY},
                    {1000, 2500, 0, 300}};
    expect_hh(&l->via.array.ptr[0], &y1);
    /* y2: only livelihood, from before its relocation, without amount. */
    struct hw y2 = {"y2",        "22902",  "22903",
                    "flood",     SC_Y2025, {0, 0, 0, SC_Y2025 - 10 * DAY},
                    {0, 0, 0, 0}};
    expect_hh(&l->via.array.ptr[1], &y2);
    /* y3: its second relocation; the water of the first stays. */
    struct hw y3 = {"y3",
                    "22901",
                    "22950",
                    "other",
                    SC_Y2025 + 10 * DAY,
                    {0, 0, T0 + DAY, 0},
                    {0, 0, 700, 0}};
    expect_hh(&l->via.array.ptr[2], &y3);
    assert_false(fx_get(res, "more")->via.boolean);
    fx_reply_free(&r);

    /* The subtree: 594 lost y3; 22901 has y1 and y3. */
    assert_false(list_names(fx, "{\"unit\":\"594\",\"list\":\"households\"}",
                            got, sizeof got));
    assert_string_equal(got, "");
    assert_false(list_names(fx, "{\"unit\":\"22901\",\"list\":\"households\"}",
                            got, sizeof got));
    assert_string_equal(got, "y1 y3");

    /* The year filter: 31 Dec 23:59 local is 2024, 1 Jan 00:00 2025. */
    assert_false(list_names(
        fx, "{\"unit\":\"60\",\"list\":\"households\",\"year\":2024}", got,
        sizeof got));
    assert_string_equal(got, "y1");
    res = fx_query(fx, &r, "relocation",
                   "{\"unit\":\"60\",\"list\":\"households\",\"year\":2025}");
    l = fx_get(res, "households");
    assert_int_equal(l->via.array.size, 2);
    expect_hh(&l->via.array.ptr[0], &y2);
    expect_hh(&l->via.array.ptr[1], &y3);
    fx_reply_free(&r);
    assert_false(list_names(
        fx, "{\"unit\":\"60\",\"list\":\"households\",\"year\":2023}", got,
        sizeof got));
    assert_string_equal(got, "");
    /* ... and it applies to the missing list too: y1 is complete. */
    assert_false(
        list_names(fx, "{\"unit\":\"60\",\"list\":\"missing\",\"year\":2025}",
                   got, sizeof got));
    assert_string_equal(got, "y2 y3");
    assert_false(
        list_names(fx, "{\"unit\":\"60\",\"list\":\"missing\",\"year\":2024}",
                   got, sizeof got));
    assert_string_equal(got, "");

    /* limit and more. */
    assert_true(
        list_names(fx, "{\"unit\":\"60\",\"list\":\"households\",\"limit\":2}",
                   got, sizeof got));
    assert_string_equal(got, "y1 y2");
    assert_false(
        list_names(fx, "{\"unit\":\"60\",\"list\":\"households\",\"limit\":3}",
                   got, sizeof got));
    assert_string_equal(got, "y1 y2 y3");
    assert_true(list_names(fx,
                           "{\"unit\":\"60\",\"list\":\"households\","
                           "\"year\":2025,\"limit\":1}",
                           got, sizeof got));
    assert_string_equal(got, "y2");
    assert_string_equal(
        fx_query_error(fx, &r, "relocation",
                       "{\"unit\":\"60\",\"list\":\"households\","
                       "\"limit\":1001}"),
        "relocation: limit: must be between 1 and 1000");
    fx_reply_free(&r);
    fx_free(fx);
}

/* The relocation alerts stored so far, as "code household" lines. */
static void alerts(struct fx *fx, char *out, size_t n)
{
    struct fx_reply r;
    char code[64], hh[16], msg[256];
    out[0] = '\0';
    fx_request(fx, &r, "{\"op\":\"alerts\",\"since\":0}");
    const msgpack_object *a = fx_get(r.root, "alerts");
    for (uint32_t i = 0; i < a->via.array.size; i++) {
        const msgpack_object *e = &a->via.array.ptr[i];
        fx_str(e, "code", code, sizeof code);
        fx_str(e, "household", hh, sizeof hh);
        fx_str(e, "message", msg, sizeof msg);
        snprintf(out + strlen(out), n - strlen(out), "%s%s %s", i ? "; " : "",
                 code, hh);
    }
    fx_reply_free(&r);
}

static void test_alerts(void **state)
{
    (void)state;
    struct fx *fx = fx_new("relocation");
    scenario(fx);
    fx_sync(fx);
    char got[1024];

    fx_tick(fx, T0 + F - 1); /* one second before r1's deadline */
    alerts(fx, got, sizeof got);
    assert_string_equal(got, "");
    fx_tick(fx, T0 + F); /* r1's deadline: complete, nothing */
    fx_tick(fx, T0 + F + 1 * H - 1);
    alerts(fx, got, sizeof got);
    assert_string_equal(got, "");

    fx_tick(fx, T0 + F + 1 * H); /* exactly r2's deadline */
    alerts(fx, got, sizeof got);
    assert_string_equal(got, "relocation.livelihood_missing r2; "
                             "relocation.incomplete r2");

    /* r3 and r4 at once; every alert checked in full for r3. */
    fx_tick(fx, T0 + F + 3 * H);
    struct fx_reply r;
    fx_request(fx, &r, "{\"op\":\"alerts\",\"since\":0}");
    const msgpack_object *a = fx_get(r.root, "alerts");
    assert_int_equal(a->via.array.size, 5);
    char s[256];
    const msgpack_object *e = &a->via.array.ptr[2];
    assert_string_equal(fx_str(e, "code", s, sizeof s),
                        "relocation.incomplete");
    assert_string_equal(fx_str(e, "severity", s, sizeof s), "info");
    assert_string_equal(fx_str(e, "unit", s, sizeof s), "22950");
    assert_string_equal(fx_str(e, "household", s, sizeof s), "r3");
    assert_int_equal(fx_i64(e, "at"), T0 + 2 * H + F);
    /* 2024-10-17 02:00 +07 */
    assert_string_equal(fx_str(e, "message", s, sizeof s),
                        "household r3, relocated to 22950 on 2024-10-17, "
                        "still lacks land, water after 180 days");
    e = &a->via.array.ptr[3];
    assert_string_equal(fx_str(e, "code", s, sizeof s),
                        "relocation.livelihood_missing");
    assert_string_equal(fx_str(e, "severity", s, sizeof s), "warning");
    assert_string_equal(fx_str(e, "message", s, sizeof s),
                        "household r4, relocated to 22902 on 2024-10-17, "
                        "has no livelihood support after 180 days");
    e = &a->via.array.ptr[4];
    assert_string_equal(fx_str(e, "message", s, sizeof s),
                        "household r4, relocated to 22902 on 2024-10-17, "
                        "still lacks land, housing, water after 180 days");
    fx_reply_free(&r);

    /* Once per household and code: later ticks and later support, even a
     * new relocation of r4, raise nothing more. */
    support(fx, T0 + F + 5 * H, "22901", "r2", EV_ITEM_LIVELIHOOD, 0);
    relocated(fx, T0 + 5 * H, "22903", "r4", "22902", EV_REASON_FLOOD);
    fx_sync(fx);
    fx_tick(fx, T0 + F + 10 * DAY);
    alerts(fx, got, sizeof got);
    assert_string_equal(got, "relocation.livelihood_missing r2; "
                             "relocation.incomplete r2; "
                             "relocation.incomplete r3; "
                             "relocation.livelihood_missing r4; "
                             "relocation.incomplete r4");

    /* A relocation applied after its deadline has passed is still
     * checked, at the next tick. */
    relocated(fx, T0, "22903", "r5", "22902", EV_REASON_OTHER);
    for (int i = 1; i <= 4; i++)
        support(fx, T0 + DAY, "22903", "r5", (enum ev_item)i, 0);
    relocated(fx, T0, "22903", "r6", "22902", EV_REASON_OTHER);
    support(fx, T0 + DAY, "22903", "r6", EV_ITEM_LIVELIHOOD, 0);
    fx_sync(fx);
    fx_tick(fx, T0 + F + 20 * DAY);
    alerts(fx, got, sizeof got);
    assert_non_null(strstr(got, "; relocation.incomplete r6"));
    assert_null(strstr(got, "r5"));
    assert_null(strstr(got, "livelihood_missing r6"));
    fx_free(fx);
}

/* follow_up_days moves the deadline; bad values stop the host opening. */
static void test_config(void **state)
{
    (void)state;
    struct fx *fx = fx_new("relocation");
    fx_conf(fx, "relocation", "follow_up_days", "30");
    scenario(fx);
    fx_sync(fx);
    char got[512];
    fx_tick(fx, T0 + 30 * DAY + 1 * H - 1);
    alerts(fx, got, sizeof got);
    assert_string_equal(got, "");
    fx_tick(fx, T0 + 30 * DAY + 1 * H);
    alerts(fx, got, sizeof got);
    /* At 30 days r2 lacks housing, water and livelihood (as at 180). */
    assert_string_equal(got, "relocation.livelihood_missing r2; "
                             "relocation.incomplete r2");
    fx_free(fx);

    static const char *const bad[] = {"0", "-3", "x", "36501", "1.5"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fx = fx_new("relocation");
        char err[512] = "";
        fx_conf(fx, "relocation", "follow_up_days", bad[i]);
        fx_unit(fx, "60", NULL, EV_LEVEL_PROVINCE);
        fx_commit(fx);
        assert_int_not_equal(fx_host_open(fx, err, sizeof err), 0);
        fx_free(fx);
    }
}

/* Tick at T0 + F + 10 days (the same tick before and after a rebuild),
 * then take the answers and the alerts. */
static void snap_take(struct fx *fx, struct fx_snap *s)
{
    static const char *const q[] = {
        "{\"unit\":\"60\"}",
        "{\"unit\":\"593\"}",
        "{\"unit\":\"594\"}",
        "{\"unit\":\"22901\"}",
        "{\"unit\":\"22903\"}",
        "{\"unit\":\"60\",\"list\":\"missing\"}",
        "{\"unit\":\"593\",\"list\":\"missing\",\"limit\":1}",
        "{\"unit\":\"60\",\"year\":2024}",
        "{\"unit\":\"60\",\"year\":2025}",
        "{\"unit\":\"594\",\"year\":2025}",
        "{\"unit\":\"22950\",\"year\":2024}",
        "{\"unit\":\"60\",\"list\":\"households\"}",
        "{\"unit\":\"60\",\"list\":\"households\",\"year\":2025}",
        "{\"unit\":\"593\",\"list\":\"households\",\"limit\":2}",
        "{\"unit\":\"60\",\"list\":\"missing\",\"year\":2024}",
    };
    _Static_assert(sizeof q / sizeof q[0] < FX_SNAP_MAX, "snap too small");
    fx_tick(fx, T0 + F + 10 * DAY);
    for (size_t i = 0; i < sizeof q / sizeof q[0]; i++) {
        fx_snap_query(fx, s, "relocation", q[i]);
    }
    assert_int_equal(fx_snap_alerts(fx, s), 5);
}

static void test_rebuild(void **state)
{
    (void)state;
    struct fx *fx = fx_new("relocation");
    scenario(fx);
    fx_commit(fx);
    support(fx, T0 + 60 * DAY, "22950", "r4", EV_ITEM_LAND, 7);
    relocated(fx, T0 + 4 * H, "22950", "r2", "22901", EV_REASON_OTHER);
    /* Across the year boundary (deadlines after the tick: no new alerts):
     * r7 on 31 Dec 23:59 local with support in 2025; r8 on 1 Jan 00:00,
     * then moved back to 2024 by a second relocation. */
    relocated(fx, SC_Y2025 - 60, "22903", "r7", "22902", EV_REASON_FOREST);
    support(fx, SC_Y2025 + DAY, "22903", "r7", EV_ITEM_HOUSING, 9);
    relocated(fx, SC_Y2025, "22950", "r8", "22903", EV_REASON_FLOOD);
    support(fx, SC_Y2025 + 2 * DAY, "22950", "r8", EV_ITEM_WATER, 0);
    relocated(fx, SC_Y2025 - 1, "22902", "r8", "22950", EV_REASON_FLOOD);
    fx_sync(fx);
    fx_assert_rebuild_one_by_one_same(fx, snap_take, 15);
    fx_free(fx);
}

static void amend_snap(struct fx *fx, struct fx_snap *s)
{
    static const char *const q[] = {
        "{\"unit\":\"60\"}",
        "{\"unit\":\"594\"}",
        "{\"unit\":\"22901\"}",
        "{\"unit\":\"60\",\"list\":\"missing\"}",
        "{\"unit\":\"60\",\"year\":2024}",
        "{\"unit\":\"60\",\"list\":\"households\"}",
    };
    fx_tick(fx, T0 + F + 10 * DAY);
    for (size_t i = 0; i < FX_NELEMS(q); i++)
        fx_snap_query(fx, s, "relocation", q[i]);
    fx_snap_alerts(fx, s);
}

/*
 * Voids and corrections: a relocation voided no longer counts; a support
 * voided makes its item missing again; a relocation corrected (place and
 * reason) counts where and why it now says, with its support.  A rebuild
 * answers the same.
 */
static void test_void_and_correct(void **state)
{
    (void)state;
    struct fx *fx = fx_new("relocation");
    char r1_housing[16], r2[16], r4[16];
    scenario(fx);
    /* scenario()'s last twelve ids, from r3's first support to r4. */
    unsigned last = fx->next_id;
    snprintf(r4, sizeof r4, "fx-%u", last);
    snprintf(r2, sizeof r2, "fx-%u", last - 5);
    snprintf(r1_housing, sizeof r1_housing, "fx-%u", last - 8);
    fx_sync(fx);
    struct want w60 = {4, 1, 1, 2, 3, 2, 1, 2, 1, 25.0, 0};
    expect(fx, "60", &w60);

    fx_void(fx, T0 + 20 * DAY, "22902", r4, EV_RELOCATION_COMPLETED);
    fx_sync(fx);
    struct want w60a = {3, 1, 0, 1, 2, 1, 1, 1, 1, 100.0 / 3, 0};
    expect(fx, "60", &w60a);
    struct want none = {.share = -1};
    expect(fx, "22902", &none);

    fx_void(fx, T0 + 20 * DAY, "22901", r1_housing, EV_RELOCATION_SUPPORT);
    fx_sync(fx);
    struct want w60b = {3, 0, 0, 2, 2, 1, 1, 1, 1, 0.0, 0};
    expect(fx, "60", &w60b);

    relocated(fx, T0 + 1 * H, "22950", "r2", "22902", EV_REASON_EROSION);
    fx_as_correction(fx, r2);
    fx_sync(fx);
    struct want w60c = {3, 0, 0, 2, 2, 1, 1, 0, 2, 0.0, 0};
    expect(fx, "60", &w60c);
    struct want w22901 = {1, 0, 0, 1, 0, 0, 1, 0, 0, 0.0, 0};
    expect(fx, "22901", &w22901);
    struct want w594 = {2, 0, 0, 1, 2, 1, 0, 0, 2, 0.0, 0};
    expect(fx, "594", &w594);

    fx_assert_rebuild_same(fx, amend_snap, 10);
    fx_free(fx);
}

/*
 * Units over time: the 2025 reorganisation (fixture.h).  Commune 22924
 * keeps its code but moves from district 593 (province 60) to province 68
 * on 2025-07-01.  A household counts on the hierarchy of its relocation's
 * "at", whatever support comes later:
 *   q1  22924  2024     landslide  land 2024; housing, water, livelihood
 *                                  in 2026: fully supported, in 593 and 60
 *   q2  22936  2024     flood      relocated again in 2026, to 22924: out
 *                                  of 593 and 60, into 68
 *   q3  22921  2025-03  erosion    before the merger (logged after it was
 *                                  recorded); land in 2026: stays in 593
 *                                  and 60, in their 2025
 *   q4  22924  2026     flood      in 68
 */
static void r25_snap(struct fx *fx, struct fx_snap *s)
{
    static const char *const tails[] = {
        "",
        ",\"year\":2024",
        ",\"year\":2025",
        ",\"year\":2026",
        ",\"list\":\"households\"",
        ",\"list\":\"missing\"",
        ",\"as_of\":" END26,
        ",\"year\":2025,\"as_of\":" END26,
        ",\"list\":\"households\",\"as_of\":" END26,
        ",\"list\":\"missing\",\"year\":2025,\"as_of\":" END26};
    fx_snap_r25(fx, s, "relocation", tails, FX_NELEMS(tails), false);
}

static void test_reorg_2025(void **state)
{
    (void)state;
    const int64_t R24 = FX_R25_T2024, R25 = FX_R25_T2025, R26 = FX_R25_T2026;
    struct fx *fx = fx_new("relocation");
    char got[256];
    fx_r25_units(fx);
    relocated(fx, R24, "22924", "q1", "22921", EV_REASON_LANDSLIDE);
    support(fx, R24 + DAY, "22924", "q1", EV_ITEM_LAND, 0);
    relocated(fx, R24 + H, "22936", "q2", "22921", EV_REASON_FLOOD);
    fx_sync(fx);
    struct want w24 = {2, 0, 1, 2, 2, 2, 1, 1, 0, 0.0, 0};
    expect(fx, "593", &w24);
    expect(fx, "60", &w24);

    fx_r25_changes(fx, FX_R25_RECORDED);
    relocated(fx, R25, "22921", "q3", "22936", EV_REASON_EROSION);
    fx_commit(fx);
    support(fx, R26, "22924", "q1", EV_ITEM_HOUSING, 0);
    support(fx, R26, "22924", "q1", EV_ITEM_WATER, 0);
    support(fx, R26, "22924", "q1", EV_ITEM_LIVELIHOOD, 0);
    relocated(fx, R26, "22924", "q4", "22924", EV_REASON_FLOOD);
    relocated(fx, R26 + H, "22924", "q2", "22924", EV_REASON_FLOOD);
    support(fx, R26 + 2 * H, "22924", "q3", EV_ITEM_LAND, 0);
    fx_sync(fx);

    /* 593 and 60 have ended (q1 and q3 are counted there). */
    expect_ended(fx, "{\"unit\":\"60\"}",
                 "relocation: unit: 60 is not in force now: merged into 68 on "
                 "2025-07-01; ask for 68");
    expect_ended(fx, "{\"unit\":\"593\",\"year\":2025}",
                 "relocation: unit: 593 is not in force on 2025-12-31: "
                 "abolished on 2025-07-01; ask for 68");
    /* 68: q4 and q2, nothing supported; as of today, with q1 (fully
     * supported) and q3 of Binh Thuan: 4, land missing for q2 and q4. */
    struct want w68 = {2, 0, 2, 2, 2, 2, 0, 2, 0, 0.0, 0};
    expect(fx, "68", &w68);
    expect_year(fx, "68", 2026, &w68);
    struct want all = {4, 1, 2, 3, 3, 3, 1, 2, 1, 25.0, 0};
    expect_year_as_of(fx, "68", 0, END26, &all);
    /* The code 22924 answers for both of its spans; 22936 lost q2. */
    struct want w22924 = {3, 1, 2, 2, 2, 2, 1, 2, 0, 100.0 / 3, 0};
    expect(fx, "22924", &w22924);
    struct want none = {0, 0, 0, 0, 0, 0, 0, 0, 0, -1, 0};
    expect_year_as_of(fx, "22936", 0, JUL25_1, &none);
    struct want q3 = {1, 0, 0, 1, 1, 1, 0, 0, 1, 0.0, 0};
    expect_year_as_of(fx, "22921", 0, JUL25_1, &q3);
    /* Years, by the relocation's "at" and on its hierarchy: q3 of 2025
     * is 60's (its households are in 68 at the end of 2025: 68's 2025 as
     * of then). */
    struct want q1 = {1, 1, 0, 0, 0, 0, 1, 0, 0, 100.0, 0};
    expect_year(fx, "60", 2024, &q1);
    expect_year_as_of(fx, "68", 2025, END25, &q3);
    expect_year_as_of(fx, "22924", 2025, END25, &q3);
    expect_year(fx, "68", 2025, &none);
    expect_year(fx, "68", 2024, &none);
    expect_year_as_of(fx, "68", 2024, END25, &q1);
    expect_ended(fx, "{\"unit\":\"60\",\"year\":2026}",
                 "relocation: unit: 60 is not in force on 2026-12-31: merged "
                 "into 68 on 2025-07-01; ask for 68");
    expect_ended(fx, "{\"unit\":\"60\",\"list\":\"households\"}",
                 "relocation: unit: 60 is not in force now: merged into 68 on "
                 "2025-07-01; ask for 68");
    assert_false(list_names(fx, "{\"unit\":\"68\",\"list\":\"households\"}",
                            got, sizeof got));
    assert_string_equal(got, "q4 q2");
    /* As of today, 68's lists hold Binh Thuan's households, in time
     * order. */
    assert_false(list_names(fx,
                            "{\"unit\":\"68\",\"list\":\"households\","
                            "\"as_of\":" END26 "}",
                            got, sizeof got));
    assert_string_equal(got, "q1 q3 q4 q2");
    assert_true(list_names(fx,
                           "{\"unit\":\"68\",\"list\":\"missing\","
                           "\"limit\":2,\"as_of\":" END26 "}",
                           got, sizeof got));
    assert_string_equal(got, "q3 q4");
    assert_false(list_names(fx,
                            "{\"unit\":\"22924\",\"list\":\"missing\","
                            "\"year\":2025,\"as_of\":" END26 "}",
                            got, sizeof got));
    assert_string_equal(got, "q3");

    /* A rebuild, in one go and one record at a time, answers the same. */
    fx_assert_rebuild_same(fx, r25_snap, 15);
    fx_free(fx);
}

/*
 * A change of units recorded late (fixture.h): the merger of 2025-07-01 is
 * logged only on 2025-07-15, after two relocations to 22921 dated
 * 2025-07-02 (counted in 22921, 593 and 60).  After it is recorded:
 *   r1  supported (land and housing, then water and livelihood): it moves
 *       within 22921, 593 and 60, where it was counted, to fully
 *       supported
 *   r2  relocated again, to 22924 on 2025-08-01: out of 22921, 593 and 60
 *       (back to zero for it), into 22924 and 68
 */
static void late_snap(struct fx *fx, struct fx_snap *s)
{
    static const char *const tails[] = {
        "",
        ",\"year\":2025",
        ",\"list\":\"households\"",
        ",\"list\":\"missing\"",
        ",\"year\":2025,\"as_of\":" END25,
        ",\"list\":\"households\",\"as_of\":" END25};
    fx_snap_r25(fx, s, "relocation", tails, FX_NELEMS(tails), true);
}

static void test_late_change(void **state)
{
    (void)state;
    const int64_t T0702 = FX_R25_T0702, T0801 = FX_R25_T0801;
    const char *const *old = fx_r25_old, *const *now = fx_r25_now;
    struct fx *fx = fx_new("relocation");
    char got[256];
    fx_r25_units(fx);
    relocated(fx, T0702, "22921", "r1", "22936", EV_REASON_LANDSLIDE);
    relocated(fx, T0702 + H, "22921", "r2", "22936", EV_REASON_FLOOD);
    fx_sync(fx);
    struct want w0 = {2, 0, 2, 2, 2, 2, 1, 1, 0, 0.0, 0};
    for (size_t u = 0; u < FX_R25_NOLD; u++) {
        expect(fx, old[u], &w0);
        expect_year(fx, old[u], 2025, &w0);
    }

    fx_r25_changes(fx, FX_R25_LATE_RECORDED);
    fx_sync(fx);
    support(fx, T0801, "22924", "r1", EV_ITEM_LAND, 0);
    support(fx, T0801, "22924", "r1", EV_ITEM_HOUSING, 0);
    relocated(fx, T0801 + H, "22924", "r2", "22924", EV_REASON_FLOOD);
    fx_sync(fx);
    /* r1 lies in the old units, which have ended: with r2, in 22924 and
     * 68 as of the end of 2025. */
    struct want n1 = {1, 0, 1, 1, 1, 1, 0, 1, 0, 0.0, 0};
    struct want a1 = {2, 0, 1, 1, 2, 2, 1, 1, 0, 0.0, 0};
    for (size_t u = 0; u < FX_R25_NNOW; u++) {
        expect(fx, now[u], &n1);
        expect_year(fx, now[u], 2025, &n1);
        expect_year_as_of(fx, now[u], 0, END25, &a1);
        expect_year_as_of(fx, now[u], 2025, END25, &a1);
    }
    expect_ended(fx, "{\"unit\":\"22921\",\"year\":2025}",
                 "relocation: unit: 22921 is not in force on 2025-12-31: "
                 "merged into 22924 on 2025-07-01; ask for 22924");
    assert_false(list_names(fx, "{\"unit\":\"68\",\"list\":\"missing\"}", got,
                            sizeof got));
    assert_string_equal(got, "r2");
    assert_false(list_names(fx,
                            "{\"unit\":\"68\",\"list\":\"missing\","
                            "\"as_of\":" END25 "}",
                            got, sizeof got));
    assert_string_equal(got, "r1 r2");

    support(fx, T0801 + 2 * H, "22924", "r1", EV_ITEM_WATER, 0);
    support(fx, T0801 + 2 * H, "22924", "r1", EV_ITEM_LIVELIHOOD, 0);
    fx_sync(fx);
    /* r1 fully supported where it was counted; regrouped, one of two. */
    struct want a2 = {2, 1, 1, 1, 1, 1, 1, 1, 0, 50.0, 0};
    for (size_t u = 0; u < FX_R25_NNOW; u++) {
        expect(fx, now[u], &n1);
        expect_year_as_of(fx, now[u], 2025, END25, &a2);
    }
    assert_false(list_names(fx,
                            "{\"unit\":\"68\",\"list\":\"households\","
                            "\"as_of\":" END25 "}",
                            got, sizeof got));
    assert_string_equal(got, "r1 r2");
    assert_false(list_names(fx,
                            "{\"unit\":\"68\",\"list\":\"missing\","
                            "\"as_of\":" END25 "}",
                            got, sizeof got));
    assert_string_equal(got, "r2");
    assert_false(list_names(fx, "{\"unit\":\"68\",\"list\":\"households\"}",
                            got, sizeof got));
    assert_string_equal(got, "r2");

    /* A rebuild, in one go and one record at a time, answers the same. */
    fx_assert_rebuild_same(fx, late_snap, 10);
    fx_free(fx);
}

/*
 * A state of version 1.1 (96-byte household record, no registry version)
 * is refused as corrupt, not misread: the record is rewritten in the old
 * layout behind the host's back, and the next support quarantines the
 * plugin.
 */
static void test_v11_state_refused(void **state)
{
    (void)state;
    const int64_t R24 = FX_R25_T2024;
    struct fx *fx = fx_new("relocation");
    fx_r25_units(fx);
    relocated(fx, R24, "22924", "r1", "22921", EV_REASON_FLOOD);
    fx_sync(fx);
    uint8_t h[96] = {1, EV_REASON_FLOOD};
    fx_be64(h + 8, (uint64_t)R24);
    memcpy(h + 16, "22924", 5);
    memcpy(h + 21, "22921", 5);
    fx_state_put(fx, "relocation", "Hr1", 3, h, sizeof h);
    support(fx, R24 + DAY, "22924", "r1", EV_ITEM_LAND, 0);
    fx_sync(fx);
    fx_assert_quarantined(fx, "relocation", "{\"unit\":\"60\"}");
    fx_free(fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rollup),
        cmocka_unit_test(test_missing_list),
        cmocka_unit_test(test_alerts),
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_years),
        cmocka_unit_test(test_households_list),
        cmocka_unit_test(test_rebuild),
        cmocka_unit_test(test_void_and_correct),
        cmocka_unit_test(test_reorg_2025),
        cmocka_unit_test(test_late_change),
        cmocka_unit_test(test_v11_state_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
