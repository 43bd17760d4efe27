/*
 * plan_events.c - see plan_events.h.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <povtrack/plugin_util.h>

#include "plan_events.h"

static struct ev_event base(enum ev_type type, int64_t at, const char *unit,
                            const char *hh)
{
    struct ev_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = type;
    ev.at = at;
    ev.unit = fx_ev_str(unit);
    ev.household = fx_ev_str(hh);
    return ev;
}

void pe_linked(struct fx *fx, int64_t at, const char *unit, const char *hh,
               const char *link, const char *partner, enum ev_partner_kind kind,
               const char *product, int64_t year)
{
    struct ev_event ev = base(EV_PRODUCTION_LINKED, at, unit, hh);
    ev.data.link = fx_ev_str(link);
    ev.data.partner = fx_ev_str(partner);
    ev.data.partner_kind = kind;
    ev.data.product = fx_ev_str(product);
    ev.data.year = year;
    fx_add(fx, &ev);
}

void pe_ocop(struct fx *fx, int64_t at, const char *unit, const char *product,
             int64_t stars)
{
    struct ev_event ev = base(EV_OCOP_CERTIFIED, at, unit, NULL);
    ev.data.product = fx_ev_str(product);
    ev.data.stars = stars;
    fx_add(fx, &ev);
}

void pe_assessed(struct fx *fx, int64_t at, const char *unit, const char *hh,
                 int64_t year, int no_labour)
{
    struct ev_event ev = base(EV_HOUSEHOLD_ASSESSED, at, unit, hh);
    ev.data.year = year;
    ev.data.area = EV_AREA_RURAL;
    ev.data.members = 2;
    ev.data.income = 0;
    ev.data.deprived =
        1u << EV_IND_EMPLOYMENT | 1u << EV_IND_WATER | 1u << EV_IND_LATRINE;
    ev.data.has_no_labour_capacity = no_labour >= 0;
    ev.data.no_labour_capacity = no_labour == 1;
    fx_add(fx, &ev);
}

void pe_assistance(struct fx *fx, int64_t at, const char *unit, const char *hh,
                   enum ev_assistance kind, int64_t amount)
{
    struct ev_event ev = base(EV_ASSISTANCE_PAID, at, unit, hh);
    ev.data.assistance = kind;
    ev.data.amount = amount;
    fx_add(fx, &ev);
}

void pe_budget(struct fx *fx, bool spent, int64_t at, const char *unit,
               enum ev_ntp program, const char *component, int64_t year,
               int64_t amount)
{
    struct ev_event ev =
        base(spent ? EV_BUDGET_SPENT : EV_BUDGET_ALLOCATED, at, unit, NULL);
    ev.data.ntp = program;
    ev.data.component = fx_ev_str(component);
    ev.data.year = year;
    ev.data.amount = amount;
    fx_add(fx, &ev);
}

void pe_donation(struct fx *fx, int64_t at, const char *unit, int64_t amount,
                 const char *donor, enum ev_donor_kind kind, bool in_kind)
{
    struct ev_event ev = base(EV_DONATION_RECEIVED, at, unit, NULL);
    ev.data.amount = amount;
    ev.data.donor = fx_ev_str(donor);
    ev.data.donor_kind = kind;
    ev.data.level = strlen(unit) == 2   ? EV_LEVEL_PROVINCE
                    : strlen(unit) == 3 ? EV_LEVEL_DISTRICT
                                        : EV_LEVEL_COMMUNE;
    ev.data.has_in_kind = in_kind;
    ev.data.in_kind = in_kind;
    fx_add(fx, &ev);
}

void pe_commendation(struct fx *fx, int64_t at, const char *unit,
                     const char *recipient, enum ev_recipient_kind kind,
                     const char *by, enum ev_level level, const char *decision)
{
    struct ev_event ev = base(EV_COMMENDATION_AWARDED, at, unit, NULL);
    ev.data.recipient = fx_ev_str(recipient);
    ev.data.recipient_kind = kind;
    ev.data.awarded_by = fx_ev_str(by);
    ev.data.level = level;
    ev.data.decision = fx_ev_str(decision);
    fx_add(fx, &ev);
}

int64_t pe_time(int y, int m, int d, int h)
{
    return pu_day_start(pu_days_from_civil(y, m, d)) + (int64_t)h * 3600;
}

bool pe_holds(const msgpack_object *o, const char *s)
{
    char *bytes;
    size_t n = fx_pack(o, &bytes), len = strlen(s);
    bool found = false;
    for (size_t i = 0; !found && i + len <= n; i++)
        found = memcmp(bytes + i, s, len) == 0;
    free(bytes);
    return found;
}

static const char *day_plugin; /* for day_snap, which takes no argument */

static void day_snap(struct fx *fx, struct fx_snap *s)
{
    static const char *const tails[] = {
        "", ",\"year\":2024", ",\"year\":2026",
        ",\"year\":2024,\"as_of\":1798736399",
        ",\"to\":1751302800,\"as_of\":1798736399"};
    fx_snap_r25(fx, s, day_plugin, tails, FX_NELEMS(tails), true);
}

/* A query and the number of events its key must count. */
struct pe_want {
    const char *q;
    int64_t n;
};

/* Each query of want answered with key n x one. */
static void expect_answers(struct fx *fx, const char *plugin, const char *key,
                           int64_t one, const struct pe_want *want, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct fx_reply r;
        const msgpack_object *res = fx_query(fx, &r, plugin, want[i].q);
        if (fx_i64(res, key) != want[i].n * one)
            fail_msg("%s %s: %s %lld, want %lld", plugin, want[i].q, key,
                     (long long)fx_i64(res, key), (long long)(want[i].n * one));
        fx_reply_free(&r);
    }
}

void pe_check_units_of_the_day(const char *plugin,
                               void (*add)(struct fx *, int64_t at,
                                           const char *unit),
                               const char *key, int64_t one)
{
    /* One record in 22924 under 60 in 2024, one in the new 22924 under 68
     * in 2026 (after the merger recorded in June 2025). */
    static const struct pe_want want[] = {
        {"{\"unit\":\"68\"}", 1},
        {"{\"unit\":\"22924\"}", 2},
        /* A period that ends before the merger, on the units of then. */
        {"{\"unit\":\"60\",\"to\":1751302800}", 1},
        {"{\"unit\":\"593\",\"to\":1751302800}", 1},
        {"{\"unit\":\"22921\",\"to\":1751302800}", 0},
        {"{\"unit\":\"68\",\"to\":1751302800}", 0},
        /* as_of: the past on the units of the end of 2026. */
        {"{\"unit\":\"68\",\"as_of\":1798736399}", 2},
        {"{\"unit\":\"68\",\"to\":1751302800,\"as_of\":1798736399}", 1},
        {"{\"unit\":\"68\",\"year\":2024,\"as_of\":1798736399}", 1},
        {"{\"unit\":\"22924\",\"year\":2024,\"as_of\":1798736399}", 1},
        {"{\"unit\":\"60\",\"year\":2024,\"as_of\":1751302799}", 1},
    };
    struct fx *fx = fx_new(plugin);
    char msg[256];
    fx_r25_units(fx);
    add(fx, FX_R25_T2024, "22924");
    fx_r25_changes(fx, FX_R25_RECORDED);
    add(fx, FX_R25_T2026, "22924");
    fx_sync(fx);
    expect_answers(fx, plugin, key, one, want, FX_NELEMS(want));
    /* A unit that has ended: refused as by every plugin. */
    snprintf(msg, sizeof msg,
             "%s: unit: 60 is not in force now: merged into 68 on "
             "2025-07-01; ask for 68",
             plugin);
    fx_assert_refused(fx, plugin, "{\"unit\":\"60\"}", msg);
    snprintf(msg, sizeof msg,
             "%s: unit: 593 is not in force on 2026-12-31: abolished on "
             "2025-07-01; ask for 68",
             plugin);
    fx_assert_refused(fx, plugin, "{\"unit\":\"593\",\"year\":2026}", msg);
    snprintf(msg, sizeof msg,
             "%s: unit: 60 is not in force on 2026-12-31: merged into 68 on "
             "2025-07-01; ask for 68, or give as_of before 2025-07-01",
             plugin);
    fx_assert_refused(fx, plugin,
                      "{\"unit\":\"60\",\"year\":2024,\"as_of\":1798736399}",
                      msg);
    snprintf(msg, sizeof msg, "%s: as_of: must not be before the end of 2026",
             plugin);
    fx_assert_refused(fx, plugin,
                      "{\"unit\":\"68\",\"year\":2026,\"as_of\":1767200399}",
                      msg);
    day_plugin = plugin;
    fx_assert_rebuild_same(fx, day_snap, 8);
    fx_free(fx);

    /* The merger recorded late: one in 22921 on 2 July 2025, logged
     * before it, counts where 22921 stood then (22921, 593, 60); one in
     * the new 22924 in August after it.  As of the end of 2025, 68 has
     * both, and the 2024 one of 22924 under 60. */
    static const struct pe_want late[] = {
        {"{\"unit\":\"68\",\"year\":2025}", 1},
        {"{\"unit\":\"22924\",\"year\":2025}", 1},
        {"{\"unit\":\"68\",\"year\":2025,\"as_of\":1767200399}", 2},
        {"{\"unit\":\"22924\",\"year\":2025,\"as_of\":1767200399}", 2},
        {"{\"unit\":\"68\",\"as_of\":1767200399}", 3},
        {"{\"unit\":\"68\",\"year\":2024,\"as_of\":1767200399}", 1},
        {"{\"unit\":\"68\",\"year\":2024}", 0},
        {"{\"unit\":\"60\",\"to\":1751302800}", 1},
    };
    fx = fx_new(plugin);
    fx_r25_units(fx);
    add(fx, FX_R25_T2024, "22924");
    add(fx, FX_R25_T0702, "22921");
    fx_r25_changes(fx, FX_R25_LATE_RECORDED);
    add(fx, FX_R25_T0801, "22924");
    fx_sync(fx);
    expect_answers(fx, plugin, key, one, late, FX_NELEMS(late));
    snprintf(msg, sizeof msg,
             "%s: unit: 22921 is not in force on 2025-12-31: merged into "
             "22924 on 2025-07-01; ask for 22924",
             plugin);
    fx_assert_refused(fx, plugin, "{\"unit\":\"22921\",\"year\":2025}", msg);
    fx_assert_rebuild_same(fx, day_snap, 8);
    fx_free(fx);
}
