/*
 * budget.c - the built-in "budget" plugin: the National Target
 * Programmes' budget (plan II.4: "the State leads", the programmes on
 * sustainable poverty reduction and on ethnic-minority and mountainous
 * areas), allocated and spent per unit, programme, component and year,
 * and each unit's execution rate; it sits beside the For the Poor fund,
 * which is what society gives.
 *
 * Rules:
 *   - budget.allocated and budget.spent add their amount to the unit of
 *     the event and every ancestor, for the budget year of the event
 *     ("year"), the programme and the component, on the hierarchy of the
 *     last day of that year (a year's budget is settled on the units of
 *     its end; a unit that ended during the year counts where its
 *     households went).  Amounts add up: a supplementary allocation is
 *     another budget.allocated.
 *   - Spending is also kept by the Vietnam calendar day of its "at", so
 *     that what was spent of a year's budget by a given date is known
 *     (spending of a year's budget may run into the next year).
 *   - execution rate = spent / allocated x 100, nil when nothing was
 *     allocated (it may pass 100).
 *
 * Query q {"unit", "year", "as_of"?} -> {"unit", "as_of"?, "year",
 * "allocated", "spent", "execution_rate", "by_program": {programme:
 * {"allocated", "spent", "execution_rate", "by_component": {component:
 * {"allocated", "spent", "execution_rate"}}}}}: both programmes always,
 * their components as recorded (byte order).
 *
 * Units over time, as every plugin (plugin_util.h): the query's date is
 * its as_of, else the end of its year, and a unit that had ended by then
 * is refused in the ingest's words with where to ask instead
 * (pu_check_query_year).  as_of T (not before the end of the year)
 * regroups the year's budget into the units in force at T: the records
 * of every unit whose households are at T in the unit asked or below
 * (pu_regroup), so Lam Dong's 2024 (68, as of the end of 2025) is Binh
 * Thuan's and old Lam Dong's together, components of the same name added
 * up.  It reads each unit's own records ('v').
 *
 * Alert, from tick (the wall clock): budget.low_execution (warning), once
 * per (unit, year), at the end of check_date (MM-DD, Vietnam time) of the
 * budget year, when the unit was allocated something for the year and
 * had spent less than min_execution percent of it by then (spending dated
 * at or before that instant; the allocation as known at the tick).  Its
 * "at" is that instant.  Every unit with an allocation is checked, the
 * province and its districts as well as the communes.
 *
 * State (integers big-endian, years and days in keys sign-flipped, unit
 * codes NUL-padded to 5 bytes):
 *   'V' unit[5] year[8] programme[1] component -> i64 allocated, i64 spent
 *   'Y' unit[5] year[8]                        -> i64 allocated, i64 spent
 *   'S' unit[5] year[8] day[8]                 -> i64 spent that day
 *   'v' year[8] unit[5] programme[1] component -> i64 allocated, i64 spent
 *        of the unit itself (not its descendants): what as_of regroups
 *   'Q' year[8] unit[5] -> "": (unit, year) not yet checked; tick
 *        consumes the years whose check date has passed
 *
 * Layout 1 (version 1.0) had no own records: the host rebuilds it at
 * start (state_layout 2).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <povtrack/plugin_util.h>

#include "../plan/plan_util.h"

#define BU_WHO "budget"
#define BU_DEFAULT_MIN_EXECUTION 50
#define BU_DEFAULT_CHECK_DATE "09-30"
/* Checks one tick does at most; the rest wait for the next tick. */
#define BU_TICK_BATCH 1024

enum { V_ALLOCATED, V_SPENT, NV };

struct budget {
    struct pl_plugin base; /* host, units */
    double min_execution;  /* percent */
    int check_month, check_day;
};

/* The last instant of check_date in year: spending at or before it
 * counts for the check. */
static int64_t check_at(const struct budget *b, int64_t year)
{
    return pu_day_start(pu_days_from_civil(year, b->check_month, b->check_day) +
                        1) -
           1;
}

static int bu_apply(void *state, povtrack_ctx *ctx,
                    const struct povtrack_record *rec)
{
    struct budget *b = state;
    const struct ev_event *ev = rec->event;
    const struct ev_data *d = &ev->data;
    bool spent = ev->type == EV_BUDGET_SPENT;
    uint8_t unit[PU_UNIT_W];
    uint64_t version = UINT64_MAX;
    struct pu_chain ch;
    if (ev->type != EV_BUDGET_ALLOCATED && !spent)
        return 0; /* not in the mask */
    if (pu_put_unit(unit, ev->unit) != 0)
        return POVTRACK_EIO;
    int rc = pl_year_chain(b->base.host, ctx, &b->base.units, unit, d->year,
                           &version, &ch);
    int64_t v[NV] = {spent ? 0 : d->amount, spent ? d->amount : 0};
    uint8_t tail[8 + 1 + EV_TEXT_MAX], k[PL_KEY_MAX], qk[1 + 8 + PU_UNIT_W];
    pu_put_key_i64(tail, d->year);
    tail[8] = (uint8_t)d->ntp;
    memcpy(tail + 9, d->component.ptr, d->component.len);
    if (rc == 0)
        rc = pl_chain_add(b->base.host, ctx, BU_WHO, &ch, 'V', tail,
                          9 + d->component.len, v, NV);
    /* The unit's own, for as_of. */
    if (rc == 0)
        rc = pl_own_add(b->base.host, ctx, BU_WHO, 'v', d->year, unit, tail + 8,
                        1 + d->component.len, v, NV);
    for (int i = 0; rc == 0 && i < ch.n; i++) {
        int64_t old[NV];
        size_t kl = pl_unit_key(k, 'Y', ch.code[i], tail, 8);
        rc = pl_vec_get(b->base.host, ctx, BU_WHO, k, kl, old, NV);
        if (rc == 0) { /* the unit's first record of the year */
            qk[0] = 'Q';
            memcpy(qk + 1, tail, 8);
            memcpy(qk + 9, ch.code[i], PU_UNIT_W);
            rc = pu_put(b->base.host, ctx, qk, sizeof qk, "", 0);
        }
        if (rc >= 0)
            rc = pl_vec_add(b->base.host, ctx, BU_WHO, k, kl, v, NV);
    }
    if (rc == 0 && spent) {
        uint8_t day[16];
        memcpy(day, tail, 8);
        pu_put_key_i64(day + 8, pu_local_day(ev->at));
        int64_t one = d->amount;
        rc = pl_chain_add(b->base.host, ctx, BU_WHO, &ch, 'S', day, sizeof day,
                          &one, 1);
    }
    return rc;
}

/* ---- query ---- */

struct component {
    uint8_t ntp;
    char *name;
    size_t len;
    int64_t v[NV];
};

struct components {
    struct component *c;
    size_t n, cap;
    bool bad;
};

static int components_cb(void *arg, const void *key, size_t klen,
                         const void *val, size_t vlen)
{
    struct components *cs = arg;
    const uint8_t *k = key;
    size_t at = 1 + PU_UNIT_W + 8;
    if (klen <= at + 1 || vlen != 8 * NV || k[at] < 1 || k[at] >= EV_NTP_COUNT)
        goto bad;
    if (cs->n == cs->cap) {
        size_t cap = cs->cap ? cs->cap * 2 : 16;
        struct component *c = realloc(cs->c, cap * sizeof *c);
        if (c == NULL)
            goto bad;
        cs->c = c;
        cs->cap = cap;
    }
    struct component *c = &cs->c[cs->n];
    c->ntp = k[at];
    c->len = klen - at - 1;
    if ((c->name = malloc(c->len)) == NULL)
        goto bad;
    memcpy(c->name, k + at + 1, c->len);
    for (int i = 0; i < NV; i++)
        c->v[i] = pu_get_i64((const uint8_t *)val + 8 * i);
    cs->n++;
    return 0;
bad:
    cs->bad = true;
    return 1;
}

/* components_cb for an own entry 'v' year unit programme component: the
 * programme at the same offset as in 'V'. */
static int own_component_cb(void *arg, const uint8_t *key, size_t klen,
                            const uint8_t *val, size_t vlen)
{
    struct components *cs = arg;
    return components_cb(cs, key, klen, val, vlen) != 0 ? POVTRACK_EIO : 0;
}

static int by_component(const void *a, const void *b)
{
    const struct component *x = a, *y = b;
    if (x->ntp != y->ntp)
        return x->ntp < y->ntp ? -1 : 1;
    return pu_cmp_bytes(x->name, x->len, y->name, y->len);
}

/* pl_merge_runs' fold: one component of several units into one. */
static void fold_component(void *into, void *from)
{
    struct component *a = into, *b = from;
    for (int j = 0; j < NV; j++)
        a->v[j] += b->v[j];
    free(b->name);
}

/* The components of the units regrouped: in the order of the keys, each
 * once (the units' amounts of the same component added up). */
static void components_merge(struct components *cs)
{
    cs->n = pl_merge_runs(cs->c, cs->n, sizeof *cs->c, by_component,
                          fold_component);
}

/* The year's components of unit, regrouped as the units stand at as_of:
 * the own records of every unit whose households are then in it or below;
 * and their totals. */
static int components_regrouped(struct budget *b, povtrack_ctx *ctx,
                                const uint8_t *unit, int64_t year,
                                int64_t as_of, struct components *cs,
                                int64_t tot[NV])
{
    int rc = pl_own_scan(b->base.host, ctx, 'v', unit, as_of, year, year + 1,
                         own_component_cb, cs);
    if (rc != 0 || cs->bad)
        return rc != 0 ? rc : POVTRACK_EIO;
    components_merge(cs);
    memset(tot, 0, sizeof(int64_t) * NV);
    for (size_t i = 0; i < cs->n; i++)
        for (int j = 0; j < NV; j++)
            tot[j] += cs->c[i].v[j];
    return 0;
}

/* "allocated", "spent", "execution_rate" of v. */
static int pack_totals(msgpack_packer *pk, const int64_t v[NV])
{
    return pl_pack_i64(pk, "allocated", v[V_ALLOCATED]) |
           pl_pack_i64(pk, "spent", v[V_SPENT]) |
           pl_pack_share(pk, "execution_rate", v[V_SPENT], v[V_ALLOCATED]);
}

static int pack_program(msgpack_packer *pk, const struct components *cs,
                        uint8_t ntp)
{
    int64_t tot[NV] = {0};
    uint32_t n = 0;
    for (size_t i = 0; i < cs->n; i++) {
        if (cs->c[i].ntp != ntp)
            continue;
        n++;
        for (int j = 0; j < NV; j++)
            tot[j] += cs->c[i].v[j];
    }
    int e = pu_pack_key(pk, ev_ntp_name(ntp)) | msgpack_pack_map(pk, 4) |
            pack_totals(pk, tot) | pu_pack_key(pk, "by_component") |
            msgpack_pack_map(pk, n);
    for (size_t i = 0; i < cs->n; i++)
        if (cs->c[i].ntp == ntp)
            e |= pu_pack_str(pk, cs->c[i].name, cs->c[i].len) |
                 msgpack_pack_map(pk, 3) | pack_totals(pk, cs->c[i].v);
    return e;
}

static int bu_query(void *state, povtrack_ctx *ctx, const msgpack_object *q,
                    msgpack_packer *pk, char *err, size_t errlen)
{
    struct budget *b = state;
    struct pl_yearly a;
    int rc = pl_arg_yearly(b->base.host, ctx, q, NULL, 0, 0, &a, err, errlen);
    if (rc != 0)
        return rc;
    struct components cs = {.n = 0};
    int64_t tot[NV];
    if (a.has_as_of) {
        rc = components_regrouped(b, ctx, a.ch.code[0], a.year, a.as_of, &cs,
                                  tot);
    } else {
        uint8_t from[1 + PU_UNIT_W + 8], to[1 + PU_UNIT_W + 8];
        pl_unit_key(from, 'V', a.ch.code[0], a.year_key, 8);
        pl_prefix_end(to, from, sizeof from);
        rc = pl_scan(b->base.host, ctx, BU_WHO, from, sizeof from, to,
                     sizeof to, components_cb, &cs);
        from[0] = 'Y';
        if (rc == 0 && !cs.bad)
            rc = pl_vec_get(b->base.host, ctx, BU_WHO, from, sizeof from, tot,
                            NV);
    }
    int e = rc < 0 || cs.bad;
    if (!e) {
        e = msgpack_pack_map(pk, 6 + a.has_as_of) |
            pl_pack_unit(pk, "unit", a.ch.code[0]) |
            pl_pack_as_of(pk, a.has_as_of, a.as_of) |
            pl_pack_i64(pk, "year", a.year) | pack_totals(pk, tot) |
            pu_pack_key(pk, "by_program") |
            msgpack_pack_map(pk, EV_NTP_COUNT - 1);
        for (uint8_t p = 1; p < EV_NTP_COUNT; p++)
            e |= pack_program(pk, &cs, p);
    }
    for (size_t i = 0; i < cs.n; i++)
        free(cs.c[i].name);
    free(cs.c);
    return e != 0 ? pl_query_failed(err, errlen) : 0;
}

/* ---- tick: the check date (wall clock) ---- */

struct pending {
    uint8_t k[BU_TICK_BATCH][1 + 8 + PU_UNIT_W];
    size_t n;
    bool bad;
};

static int pending_cb(void *arg, const void *key, size_t klen, const void *val,
                      size_t vlen)
{
    struct pending *p = arg;
    (void)val;
    (void)vlen;
    if (klen != sizeof p->k[0]) {
        p->bad = true;
        return 1;
    }
    memcpy(p->k[p->n++], key, klen);
    return p->n == BU_TICK_BATCH; /* full: the rest next time */
}

static int spent_cb(void *arg, const void *key, size_t klen, const void *val,
                    size_t vlen)
{
    int64_t *sum = arg;
    (void)key;
    (void)klen;
    if (vlen != 8)
        return POVTRACK_EIO;
    *sum += pu_get_i64(val);
    return 0;
}

/* Check (unit, year) of a 'Q' key. */
static int check_one(struct budget *b, povtrack_ctx *ctx, const uint8_t *qk)
{
    int64_t year = pu_get_key_i64(qk + 1), when = check_at(b, year);
    const uint8_t *unit = qk + 9;
    int64_t tot[NV], spent = 0;
    uint8_t k[1 + PU_UNIT_W + 16], to[1 + PU_UNIT_W + 16];
    pl_unit_key(k, 'Y', unit, qk + 1, 8);
    int rc =
        pl_vec_get(b->base.host, ctx, BU_WHO, k, 1 + PU_UNIT_W + 8, tot, NV);
    if (rc < 0)
        return rc;
    /* What was spent of the year's budget, by day, up to the check date. */
    k[0] = 'S';
    pu_put_key_i64(k + 1 + PU_UNIT_W + 8, INT64_MIN);
    memcpy(to, k, sizeof to);
    pu_put_key_i64(to + 1 + PU_UNIT_W + 8, pu_local_day(when) + 1);
    rc = b->base.host->scan(ctx, k, sizeof k, to, sizeof to, spent_cb, &spent);
    if (rc < 0 && rc != POVTRACK_NOTFOUND) {
        b->base.host->log(ctx, POVTRACK_LOG_ERROR, BU_WHO ": corrupt spending");
        return POVTRACK_EIO;
    }
    if (tot[V_ALLOCATED] <= 0 ||
        (double)spent * 100.0 >= b->min_execution * (double)tot[V_ALLOCATED])
        return 0;
    char code[PU_UNIT_W + 1], s[40], a[40], date[PU_DATE_LEN], msg[512];
    pu_cstr(pu_get_unit(unit), code, sizeof code);
    snprintf(msg, sizeof msg,
             "unit %s: %.2f%% of the %lld National Target Programme budget "
             "spent by %s (%s of %s VND), under %g%%",
             code, 100.0 * (double)spent / (double)tot[V_ALLOCATED],
             (long long)year, pu_fmt_date(when, date, sizeof date),
             pu_fmt_thousands(spent, s, sizeof s),
             pu_fmt_thousands(tot[V_ALLOCATED], a, sizeof a), b->min_execution);
    return pu_alert(b->base.host, ctx, "budget.low_execution", POVTRACK_WARNING,
                    code, NULL, msg, when);
}

static int bu_tick(void *state, povtrack_ctx *ctx, int64_t now)
{
    struct budget *b = state;
    /* The years whose check date has passed: up to last. */
    int64_t last = pu_local_year(now);
    if (check_at(b, last) > now)
        last--;
    uint8_t from[1] = {'Q'}, to[9] = {'Q'};
    pu_put_key_i64(to + 1, last + 1);
    struct pending *p = calloc(1, sizeof *p);
    if (p == NULL)
        return POVTRACK_ENOMEM;
    int rc = pl_scan(b->base.host, ctx, BU_WHO, from, sizeof from, to,
                     sizeof to, pending_cb, p);
    if (rc == 0 && p->bad)
        rc = POVTRACK_EIO;
    for (size_t i = 0; rc == 0 && i < p->n; i++) {
        rc = check_one(b, ctx, p->k[i]);
        if (rc == 0)
            rc = pu_del(b->base.host, ctx, p->k[i], sizeof p->k[i]);
    }
    free(p);
    return rc;
}

/* ---- plugin callbacks ---- */

/* "MM-DD" into month and day; a day every year has (not 02-29). */
static bool parse_check_date(const char *s, int *month, int *day)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30,
                                 31, 31, 30, 31, 30, 31};
    if (strlen(s) != 5 || s[2] != '-')
        return false;
    for (int i = 0; i < 5; i++)
        if (i != 2 && (s[i] < '0' || s[i] > '9'))
            return false;
    *month = (s[0] - '0') * 10 + (s[1] - '0');
    *day = (s[3] - '0') * 10 + (s[4] - '0');
    return *month >= 1 && *month <= 12 && *day >= 1 && *day <= days[*month - 1];
}

static int bu_init(povtrack_ctx *ctx, const struct povtrack_host *host,
                   void **state)
{
    double min = BU_DEFAULT_MIN_EXECUTION;
    int month, day;
    if (pu_config_double(host, ctx, "min_execution", &min) != 0)
        return POVTRACK_ECONFIG;
    if (!(min >= 0 && min <= 100)) {
        host->log(ctx, POVTRACK_LOG_ERROR,
                  "min_execution: must be a percent, 0 to 100, got %g", min);
        return POVTRACK_ECONFIG;
    }
    const char *date = host->config(ctx, "check_date");
    if (date == NULL)
        date = BU_DEFAULT_CHECK_DATE;
    if (!parse_check_date(date, &month, &day)) {
        host->log(ctx, POVTRACK_LOG_ERROR,
                  "check_date: must be a day of every year as MM-DD "
                  "(09-30), got '%s'",
                  date);
        return POVTRACK_ECONFIG;
    }
    if (pl_init(ctx, host, BU_WHO, sizeof(struct budget), state) != 0)
        return POVTRACK_ENOMEM;
    struct budget *b = *state;
    b->min_execution = min;
    b->check_month = month;
    b->check_day = day;
    return 0;
}

/* The keys of [plugin.budget]. */
static const struct povtrack_config_key bu_config[] = {
    {.name = "min_execution",
     .type = POVTRACK_CONFIG_DOUBLE,
     .default_value = PU_STR(BU_DEFAULT_MIN_EXECUTION),
     .description = "percent of a year's allocation a unit should have "
                    "spent by check_date; less raises budget.low_execution"},
    {.name = "check_date",
     .type = POVTRACK_CONFIG_STRING,
     .default_value = BU_DEFAULT_CHECK_DATE,
     .description = "MM-DD: the day of the budget year by which "
                    "min_execution should be spent"},
    {.name = NULL},
};

/* state_layout: bump it when the stored values change. */
POVTRACK_PLUGIN(.name = "budget", .version = "1.1.0",
                .event_mask = EV_TYPE_BIT(EV_BUDGET_ALLOCATED) |
                              EV_TYPE_BIT(EV_BUDGET_SPENT),
                .init = bu_init, .apply = bu_apply, .query = bu_query,
                .tick = bu_tick, .fini = pl_fini, .state_layout = 2,
                .config_map = bu_config);
