/*
 * poverty.c - the built-in "poverty" plugin: poor and near-poor household
 * counts, the two rates (the poor-household rate of the provincial target
 * and the ministry's multidimensional rate, poor plus near-poor), flows
 * (escaped, newly poor, relapsed, exited) and the flow identity, and the
 * yearly reduction of both rates per administrative unit, with alerts when
 * a closed review misses a target or the flows do not balance; and whether
 * escapes last ("sustainable escape", Directive 05-CT/TW): per escape
 * cohort, how many households fell back into poverty within 1, 2 and 3
 * years.
 *
 * Query q {"unit": code, "year": int, "as_of"?: unix seconds} -> {"unit",
 * "year", "households", "poor", "near_poor", "poor_rate", "near_poor_rate",
 * "multidimensional_rate", "escaped", "newly_poor", "relapsed",
 * "reduction_pp", "multidimensional_reduction_pp",
 * "near_poor_formerly_poor", "poor_start", "exited", "moved_in",
 * "moved_out", "flow_gap", "flow_balanced", "target_pp",
 * "multidimensional_target_pp"} (+ "as_of" when asked; unknown values are
 * nil).  multidimensional_rate = 100 *
 * (poor + near_poor) / households.  near_poor_formerly_poor: near-poor in
 * year, poor in some earlier year (escaped, but not far).  target_pp and
 * multidimensional_target_pp are the configured bands [min, max].
 *
 * Query q {"unit": code, "cohort": int, "as_of"?: unix seconds} ->
 * {"unit", "cohort", "escaped", "relapsed_1y", "relapsed_2y",
 * "relapsed_3y", "rate_1y", "rate_2y", "rate_3y"} (+ "as_of"): the
 * households that escaped in the cohort year c (poor in c-1, an explicit
 * non-poor status in c), counted in the unit of their year-c status and
 * its ancestors; relapsed_ky of them were poor again in some year of
 * c+1..c+k (cumulative); rate_ky is the percent of escaped, nil when
 * nothing escaped.  "year" and "cohort" together are refused.
 *
 * A year's (or cohort's) figures are those of the units in force at the
 * end of the year, or at "as_of" (poverty_units.h).  A query for a unit
 * that had ended by then is refused in the ingest's words, with where to
 * ask instead (pu_check_query_unit); a unit defined only later answers
 * zeros.
 *
 * ---- The flow identity ----
 *
 *   poor_start + newly_poor + relapsed + moved_in
 *     - escaped - exited - moved_out = poor
 *
 * is computed from the same records as the counters (poverty_history.h),
 * so a household recorded twice (a poor status in Y and an exit in Y, or a
 * status and an exit both leaving) shows as a gap, not hidden.  flow_gap =
 * poor - (the left side): negative when records are missing (a household
 * poor in Y-1 with neither a status in Y nor an exit), positive when
 * households are poor at the end without a flow (moved in while poor, or
 * counted twice).  A household moving between units while poor leaves a
 * gap in both units (their common ancestor balances) unless its move is
 * recorded (household.moved: moved_out where it was, moved_in where it
 * went, poverty_history.h).
 *
 * ---- Alerts (on review.closed(u, y)) ----
 *
 * The figures checked are u's on the units of the end of y, and so is the
 * year before they are compared with: in a year of reorganisation (a
 * change of units effective in y, 'E'), y-1 regrouped onto the units of
 * the end of y, as an as_of query at the end of y answers, and the
 * cohorts of y-1..y-3 likewise when a change fell after them: a merged
 * commune is compared with its predecessors together, not with the ward
 * whose code it kept.
 *
 *   poverty.target_missed (warning): reduction_pp < target_min_pp;
 *   poverty.rate_rose (critical): the same with reduction_pp < 0;
 *   poverty.multidimensional_target_missed (warning):
 *     multidimensional_reduction_pp < multidimensional_target_min_pp;
 *   poverty.flow_mismatch (warning): the flow identity of (u, y) does not
 *     balance; once per (unit, year, the six numbers) ('F' marker);
 *   poverty.relapse_high (warning): for each k = 1..3 and cohort c = y-k,
 *     when rate_ky(u, c) > relapse_max_share (config, percent, default
 *     10), once per (unit, cohort, k) ('R' marker).
 * Nothing for a rate check when either year's rate is unknown.
 *
 * ---- The files ----
 *
 *   poverty.c          this overview; the plugin descriptor, config, the
 *                      dispatch of apply, the figures of a (unit, year),
 *                      the review.closed alerts, queries and packing.
 *   poverty_state.h/c  the stored state: every key's layout, the layout
 *                      marker and the dirty years, counters, denominators,
 *                      scanning a year.
 *   poverty_history.h/c  households' histories (statuses and exits) and
 *                      the counters they contribute to the own keys.
 *   poverty_units.h/c  units over time: the rolled-up keys on the year-end
 *                      hierarchy, regrouping (unit_map, as_of), and the
 *                      rebuild of dirty years after a change of units.
 * Each header is its module's contract; what the files share is named
 * pov_* (C_* for the counters).  The plugin is built with hidden
 * visibility, so the one symbol it exports is povtrack_plugin_entry.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <povtrack/plugin_util.h>
#include "poverty_history.h"
#include "poverty_state.h"
#include "poverty_units.h"
#include <povtrack/plugin.h>

#define POV_DEFAULT_TARGET_MIN 0.7
#define POV_DEFAULT_TARGET_MAX 1.0
#define POV_DEFAULT_MD_TARGET_MIN 1.0 /* national: 1-1.5 points a year */
#define POV_DEFAULT_MD_TARGET_MAX 1.5
#define POV_DEFAULT_RELAPSE_MAX 10.0 /* percent of a cohort */

/* Years of queries. */
#define POV_QYEAR_MIN 1000
#define POV_QYEAR_MAX 9999

/* ---- indicators ---- */

/* One year's figures of a unit, and the year before's, as compared. */
struct pov_year {
    int64_t c[C_COUNT];
    bool hh_known;
    int64_t households;
};

struct pov_stats {
    struct pov_year cur, prev;
    int64_t poor_start, exited, moved_out;
    bool rate_known;
    double poor_rate, near_rate, md_rate;
    bool prev_rate_known;
    double prev_poor_rate, prev_md_rate;
    bool reduction_known;
    double reduction_pp, md_reduction_pp;
    /* poor - (start + newly + relapsed + moved_in - escaped - exited -
     * moved_out) */
    int64_t flow_gap;
};

static void stats_fill(struct pov_stats *st)
{
    const struct pov_year *y = &st->cur, *q = &st->prev;
    st->rate_known = y->hh_known && y->households != 0;
    if (st->rate_known) {
        double hh = (double)y->households;
        st->poor_rate = 100.0 * (double)y->c[C_POOR] / hh;
        st->near_rate = 100.0 * (double)y->c[C_NEAR] / hh;
        st->md_rate = 100.0 * (double)(y->c[C_POOR] + y->c[C_NEAR]) / hh;
    }
    st->prev_rate_known = q->hh_known && q->households != 0;
    if (st->prev_rate_known) {
        double hh = (double)q->households;
        st->prev_poor_rate = 100.0 * (double)q->c[C_POOR] / hh;
        st->prev_md_rate = 100.0 * (double)(q->c[C_POOR] + q->c[C_NEAR]) / hh;
    }
    st->reduction_known = st->rate_known && st->prev_rate_known;
    if (st->reduction_known) {
        st->reduction_pp = st->prev_poor_rate - st->poor_rate;
        st->md_reduction_pp = st->prev_md_rate - st->md_rate;
    }
    st->flow_gap =
        y->c[C_POOR] -
        (st->poor_start + y->c[C_NEWLY] + y->c[C_RELAPSED] + y->c[C_MOVED_IN] -
         y->c[C_ESCAPED] - st->exited - st->moved_out);
}

/* (unit, year) from the rolled-up keys. */
static int load_year(struct poverty *p, povtrack_ctx *ctx, const uint8_t *unit,
                     int64_t year, struct pov_year *y)
{
    struct pov_denom n;
    int rc = pov_counters_get(p, ctx, 'C', year, unit, y->c);
    if (rc == 0)
        rc = pov_denom_get(p, ctx, year, unit, &n);
    if (rc != 0)
        return rc;
    y->hh_known = pov_denom_known(&n);
    y->households = pov_denom_value(&n);
    return 0;
}

static void from_regroup(struct pov_year *y, const struct pov_rg_result *r)
{
    memcpy(y->c, r->c, sizeof y->c);
    y->hh_known = r->hh_known;
    y->households = r->households;
}

/*
 * The figures of (unit, year): from the rolled-up keys (as_of < 0 and the
 * year is not dirty), else regrouped from the own keys, at the end of the
 * year (dirty) or at as_of.  year is within POV_QYEAR_MIN..MAX.
 */
static int load_stats(struct poverty *p, povtrack_ctx *ctx, const uint8_t *unit,
                      int64_t year, int64_t dirty_from, bool has_as_of,
                      int64_t as_of, struct pov_stats *st)
{
    memset(st, 0, sizeof *st);
    int rc;
    if (has_as_of) {
        struct pov_rg_result r;
        if ((rc = pov_regroup(p, ctx, year, as_of, unit, true, &r)) != 0)
            return rc;
        from_regroup(&st->cur, &r);
        if ((rc = pov_regroup(p, ctx, year - 1, as_of, unit, true, &r)) != 0)
            return rc;
        from_regroup(&st->prev, &r);
        st->poor_start = r.c[C_POOR];
        st->exited = r.c[C_EXIT_NEXT];
        st->moved_out = r.c[C_MOVED_OUT_NEXT];
    } else if (year >= dirty_from) {
        struct pov_rg_result r;
        int64_t end = pu_year_end(year);
        if ((rc = pov_regroup(p, ctx, year, end, unit, true, &r)) != 0)
            return rc;
        from_regroup(&st->cur, &r);
        if ((rc = pov_regroup(p, ctx, year - 1, pu_year_end(year - 1), unit,
                              true, &r)) != 0)
            return rc;
        from_regroup(&st->prev, &r);
        if ((rc = pov_regroup(p, ctx, year - 1, end, unit, false, &r)) != 0)
            return rc;
        st->poor_start = r.c[C_POOR];
        st->exited = r.c[C_EXIT_NEXT];
        st->moved_out = r.c[C_MOVED_OUT_NEXT];
    } else {
        int64_t b[B_COUNT];
        if ((rc = load_year(p, ctx, unit, year, &st->cur)) != 0 ||
            (rc = load_year(p, ctx, unit, year - 1, &st->prev)) != 0 ||
            (rc = pov_start_get(p, ctx, year, unit, b)) != 0)
            return rc;
        st->poor_start = b[B_POOR];
        st->exited = b[B_EXITED];
        st->moved_out = b[B_MOVED_OUT];
    }
    stats_fill(st);
    return 0;
}

/* ---- review.closed ---- */

struct review {
    const struct ev_event *ev;
    const uint8_t *unit; /* the unit whose figures are checked */
    const char *label;   /* its code */
    const char *level;
    struct pov_stats st;
};

/*
 * A closed review fixes the year's figures: compare the reductions of the
 * poor-household rate and of the multidimensional rate with their
 * targets.  No alert when either year's rate is unknown.
 */
static int check_targets(struct poverty *p, povtrack_ctx *ctx,
                         const struct review *rv)
{
    const struct pov_stats *st = &rv->st;
    long long year = (long long)rv->ev->data.year;
    char msg[256];
    int rc = 0;
    if (!st->reduction_known)
        return 0;
    double r = st->reduction_pp;
    if (r < p->target_min_pp) {
        snprintf(msg, sizeof msg,
                 "%s %s: poor-household rate %.2f%% in %lld, %s %.2f points "
                 "from %.2f%% (target %.2f-%.2f)",
                 rv->level, rv->label, st->poor_rate, year,
                 r < 0 ? "up" : "down", r < 0 ? -r : r, st->prev_poor_rate,
                 p->target_min_pp, p->target_max_pp);
        rc = pu_alert(p->host, ctx, "poverty.target_missed", POVTRACK_WARNING,
                      rv->label, NULL, msg, rv->ev->at);
        if (rc == 0 && r < 0)
            rc = pu_alert(p->host, ctx, "poverty.rate_rose", POVTRACK_CRITICAL,
                          rv->label, NULL, msg, rv->ev->at);
    }
    double m = st->md_reduction_pp;
    if (rc == 0 && m < p->md_min_pp) {
        snprintf(msg, sizeof msg,
                 "%s %s: multidimensional poverty rate %.2f%% in %lld, %s "
                 "%.2f points from %.2f%% (target %.2f-%.2f)",
                 rv->level, rv->label, st->md_rate, year, m < 0 ? "up" : "down",
                 m < 0 ? -m : m, st->prev_md_rate, p->md_min_pp, p->md_max_pp);
        rc = pu_alert(p->host, ctx, "poverty.multidimensional_target_missed",
                      POVTRACK_WARNING, rv->label, NULL, msg, rv->ev->at);
    }
    return rc;
}

/* The flow identity of (unit, year), once per set of numbers. */
static int check_flows(struct poverty *p, povtrack_ctx *ctx,
                       const struct review *rv)
{
    const struct pov_stats *st = &rv->st;
    if (st->flow_gap == 0)
        return 0;
    const int64_t *c = st->cur.c;
    int64_t nums[8] = {st->poor_start, c[C_NEWLY], c[C_RELAPSED], c[C_MOVED_IN],
                       c[C_ESCAPED],   st->exited, st->moved_out, c[C_POOR]};
    uint8_t key[POV_YKEY_LEN + 8 * 8];
    const void *v;
    size_t vlen;
    pov_ykey(key, 'F', rv->ev->data.year, rv->unit);
    for (int i = 0; i < 8; i++)
        pu_put_i64(key + POV_YKEY_LEN + 8 * i, nums[i]);
    int rc = pu_get(p->host, ctx, key, sizeof key, &v, &vlen);
    if (rc != 0)
        return rc < 0 ? rc : 0; /* raised before with these numbers */
    int64_t computed = c[C_POOR] - st->flow_gap, gap = st->flow_gap;
    long long ag = (long long)(gap < 0 ? -gap : gap);
    char why[96];
    if (gap < 0)
        snprintf(why, sizeof why, "%lld missing record%s?", ag,
                 ag == 1 ? "" : "s");
    else
        snprintf(why, sizeof why,
                 "%lld more than the flows explain: moved in "
                 "or recorded twice?",
                 ag);
    /* Moves are named only when there are some: the common message stays
     * as it was. */
    char in[48] = "", out[48] = "";
    if (nums[3] != 0 || nums[6] != 0) {
        snprintf(in, sizeof in, " + %lld moved in", (long long)nums[3]);
        snprintf(out, sizeof out, " - %lld moved out", (long long)nums[6]);
    }
    char msg[512];
    snprintf(msg, sizeof msg,
             "%s %s: %lld flows do not balance: %lld poor at the start + "
             "%lld newly poor + %lld relapsed%s - %lld escaped - %lld "
             "exited%s = %lld, but %lld %s poor at the end (%s)",
             rv->level, rv->label, (long long)rv->ev->data.year,
             (long long)nums[0], (long long)nums[1], (long long)nums[2], in,
             (long long)nums[4], (long long)nums[5], out, (long long)computed,
             (long long)nums[7], nums[7] == 1 ? "is" : "are", why);
    if ((rc = pu_put(p->host, ctx, key, sizeof key, "", 0)) != 0)
        return rc;
    return pu_alert(p->host, ctx, "poverty.flow_mismatch", POVTRACK_WARNING,
                    rv->label, NULL, msg, rv->ev->at);
}

/* Whether a change of units is effective in a year of (from, to]: the
 * units of the end of "to" are then not those of the end of "from".
 * 1, 0 or POVTRACK_EIO. */
static int reformed_since(struct poverty *p, povtrack_ctx *ctx, int64_t from,
                          int64_t to)
{
    for (int64_t y = from + 1; y <= to; y++) {
        int rc = pov_reform_year(p, ctx, y);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* The counters of a cohort (or any year) of unit on the units of the end
 * of year "on": from the rolled-up keys when no change of units fell in
 * between, else regrouped from the own keys. */
static int cohort_on(struct poverty *p, povtrack_ctx *ctx, const uint8_t *unit,
                     int64_t cohort, int64_t on, int64_t c[C_COUNT])
{
    int rc = reformed_since(p, ctx, cohort, on);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return pov_counters_get(p, ctx, 'C', cohort, unit, c);
    struct pov_rg_result r;
    rc = pov_regroup(p, ctx, cohort, pu_year_end(on), unit, false, &r);
    if (rc == 0)
        memcpy(c, r.c, sizeof r.c);
    return rc;
}

/*
 * Closing year y also closes the k-year window of cohort y-k: by then the
 * cohort's relapses within k years are as final as the review makes them.
 * The 'R' marker keeps a re-closed review from repeating an alert.  The
 * rate is 100.0 * relapsed / escaped: both are exact in a double and the
 * quotient is correctly rounded, so exactly the threshold never fires.
 */
static int check_relapse(struct poverty *p, povtrack_ctx *ctx,
                         const struct review *rv)
{
    for (int k = 1; k <= POV_RELAPSE_YEARS; k++) {
        int64_t cohort = rv->ev->data.year - k, c[C_COUNT];
        int rc = cohort_on(p, ctx, rv->unit, cohort, rv->ev->data.year, c);
        if (rc != 0)
            return rc;
        int64_t esc = c[C_ESCAPED], rel = c[C_REL1 + k - 1];
        double rate = esc > 0 ? 100.0 * (double)rel / (double)esc : 0.0;
        if (esc <= 0 || !(rate > p->relapse_max_share))
            continue;
        uint8_t key[1 + PU_UNIT_W + 8 + 1];
        const void *v;
        size_t vlen;
        key[0] = 'R';
        memcpy(key + 1, rv->unit, PU_UNIT_W);
        pu_put_key_i64(key + 1 + PU_UNIT_W, cohort);
        key[1 + PU_UNIT_W + 8] = (uint8_t)k;
        if ((rc = pu_get(p->host, ctx, key, sizeof key, &v, &vlen)) != 0) {
            if (rc < 0)
                return rc;
            continue; /* raised before */
        }
        char msg[256];
        snprintf(msg, sizeof msg,
                 "%s %s: %lld of %lld households that escaped poverty in "
                 "%lld were poor again within %d year%s (%.2f%%, above "
                 "%.2f%%)",
                 rv->level, rv->label, (long long)rel, (long long)esc,
                 (long long)cohort, k, k == 1 ? "" : "s", rate,
                 p->relapse_max_share);
        if ((rc = pu_put(p->host, ctx, key, sizeof key, "", 0)) != 0 ||
            (rc = pu_alert(p->host, ctx, "poverty.relapse_high",
                           POVTRACK_WARNING, rv->label, NULL, msg,
                           rv->ev->at)) != 0)
            return rc;
    }
    return 0;
}

/*
 * The figures checked are those of the reviewed unit on the hierarchy of
 * the end of the year (where its households went, when it was no longer
 * in force then: the alerts name that unit), compared with the year
 * before on the same units: regrouped in a year of reorganisation, when
 * the units of the year before are others.
 */
static int apply_review(struct poverty *p, povtrack_ctx *ctx,
                        const struct ev_event *ev)
{
    uint8_t code[PU_UNIT_W];
    struct pu_chain ch;
    if (pu_put_unit(code, ev->unit) != 0)
        return POVTRACK_EIO;
    int rc =
        pov_chain_at(p, ctx, &p->units, code, pu_year_end(ev->data.year), &ch);
    if (rc == POVTRACK_NOTFOUND)
        return 0; /* the unit leads nowhere then: no figures */
    if (rc != 0)
        return rc;
    char label[PU_UNIT_W + 1];
    struct review rv = {.ev = ev, .unit = ch.code[0], .label = label};
    pu_cstr(pu_get_unit(ch.code[0]), label, sizeof label);
    rv.level = ev_level_name(ch.level);
    if (rv.level == NULL)
        rv.level = "unit";
    int64_t end = pu_year_end(ev->data.year);
    int reform = reformed_since(p, ctx, ev->data.year - 1, ev->data.year);
    if (reform < 0)
        return reform;
    if ((rc = load_stats(p, ctx, ch.code[0], ev->data.year, POV_CLEAN,
                         reform == 1, end, &rv.st)) != 0)
        return rc;
    if ((rc = check_targets(p, ctx, &rv)) == 0 &&
        (rc = check_flows(p, ctx, &rv)) == 0)
        rc = check_relapse(p, ctx, &rv);
    return rc;
}

/* ---- plugin callbacks ---- */

/* A band [min, max] from the config; errors name the keys. */
static int config_band(const struct povtrack_host *host, povtrack_ctx *ctx,
                       const char *kmin, const char *kmax, double *lo,
                       double *hi)
{
    if (pu_config_double(host, ctx, kmin, lo) != 0 ||
        pu_config_double(host, ctx, kmax, hi) != 0)
        return POVTRACK_ECONFIG;
    if (*lo > *hi) {
        host->log(ctx, POVTRACK_LOG_ERROR, "%s (%g) must not exceed %s (%g)",
                  kmin, *lo, kmax, *hi);
        return POVTRACK_ECONFIG;
    }
    return 0;
}

static int poverty_init(povtrack_ctx *ctx, const struct povtrack_host *host,
                        void **state)
{
    double lo = POV_DEFAULT_TARGET_MIN, hi = POV_DEFAULT_TARGET_MAX;
    double mlo = POV_DEFAULT_MD_TARGET_MIN, mhi = POV_DEFAULT_MD_TARGET_MAX;
    double relapse = POV_DEFAULT_RELAPSE_MAX;
    if (config_band(host, ctx, "target_min_pp", "target_max_pp", &lo, &hi) !=
            0 ||
        config_band(host, ctx, "multidimensional_target_min_pp",
                    "multidimensional_target_max_pp", &mlo, &mhi) != 0 ||
        pu_config_double(host, ctx, "relapse_max_share", &relapse) != 0)
        return POVTRACK_ECONFIG;
    if (relapse < 0 || relapse > 100) {
        host->log(ctx, POVTRACK_LOG_ERROR,
                  "relapse_max_share: must be a percent in 0-100, got %g",
                  relapse);
        return POVTRACK_ECONFIG;
    }
    struct poverty *p = calloc(1, sizeof *p);
    if (p == NULL) {
        host->log(ctx, POVTRACK_LOG_ERROR, "poverty: out of memory");
        return POVTRACK_ENOMEM;
    }
    p->host = host;
    p->target_min_pp = lo;
    p->target_max_pp = hi;
    p->md_min_pp = mlo;
    p->md_max_pp = mhi;
    p->relapse_max_share = relapse;
    *state = p;
    return 0;
}

static int poverty_apply(void *state, povtrack_ctx *ctx,
                         const struct povtrack_record *rec)
{
    struct poverty *p = state;
    const struct ev_event *ev = rec->event;
    int64_t dirty_from;
    int rc = pov_meta_load(p, ctx, true, &dirty_from);
    if (rc != 0)
        return rc;
    if (ev->type == EV_UNIT_DEFINED || ev->type == EV_UNIT_CHANGED)
        return pov_apply_unit_event(p, ctx, ev, dirty_from);
    if (dirty_from != POV_CLEAN &&
        (rc = pov_reconcile(p, ctx, dirty_from)) != 0)
        return rc;
    switch (ev->type) {
    case EV_UNIT_HOUSEHOLDS:
        return pov_apply_households(p, ctx, ev);
    case EV_HOUSEHOLD_STATUS:
    case EV_HOUSEHOLD_MOVED:
    case EV_HOUSEHOLD_EXITED:
        return pov_apply_record(p, ctx, ev);
    case EV_REVIEW_CLOSED:
        return apply_review(p, ctx, ev);
    default:
        return 0; /* not in the mask: nothing to do */
    }
}

static int pack_cohort(struct poverty *p, povtrack_ctx *ctx,
                       const uint8_t *unit, int64_t cohort, int64_t dirty_from,
                       bool has_as_of, int64_t as_of, int64_t at,
                       msgpack_packer *pk, char *err, size_t errlen)
{
    int64_t c[C_COUNT];
    int rc;
    if (has_as_of || cohort >= dirty_from) {
        struct pov_rg_result r;
        rc = pov_regroup(p, ctx, cohort, has_as_of ? at : pu_year_end(cohort),
                         unit, false, &r);
        memcpy(c, r.c, sizeof c);
    } else {
        rc = pov_counters_get(p, ctx, 'C', cohort, unit, c);
    }
    if (rc != 0) {
        snprintf(err, errlen, "internal error: state read failed");
        return POVTRACK_EIO;
    }
    static const char *const rel[] = {"relapsed_1y", "relapsed_2y",
                                      "relapsed_3y"};
    static const char *const rate[] = {"rate_1y", "rate_2y", "rate_3y"};
    struct ev_str u = pu_get_unit(unit);
    int e =
        msgpack_pack_map(pk, 3 + (has_as_of ? 1 : 0) + 2 * POV_RELAPSE_YEARS);
    e |= pu_pack_key(pk, "unit") | pu_pack_str(pk, u.ptr, u.len);
    e |= pu_pack_key(pk, "cohort") | msgpack_pack_int64(pk, cohort);
    if (has_as_of)
        e |= pu_pack_key(pk, "as_of") | msgpack_pack_int64(pk, as_of);
    e |= pu_pack_key(pk, "escaped") | msgpack_pack_int64(pk, c[C_ESCAPED]);
    for (int k = 0; k < POV_RELAPSE_YEARS; k++)
        e |= pu_pack_key(pk, rel[k]) | msgpack_pack_int64(pk, c[C_REL1 + k]);
    for (int k = 0; k < POV_RELAPSE_YEARS; k++)
        e |= pu_pack_key(pk, rate[k]) |
             pu_pack_percent(pk, c[C_REL1 + k], c[C_ESCAPED]);
    if (e != 0) {
        snprintf(err, errlen, "internal error: packing failed");
        return POVTRACK_EIO;
    }
    return 0;
}

static int pack_band(msgpack_packer *pk, const char *key, double lo, double hi)
{
    return pu_pack_key(pk, key) | msgpack_pack_array(pk, 2) |
           msgpack_pack_double(pk, lo) | msgpack_pack_double(pk, hi);
}

static int pack_year(struct poverty *p, const uint8_t *unit, int64_t year,
                     bool has_as_of, int64_t as_of, const struct pov_stats *st,
                     msgpack_packer *pk)
{
    struct ev_str u = pu_get_unit(unit);
    const int64_t *c = st->cur.c;
    int e = msgpack_pack_map(pk, 22 + (has_as_of ? 1 : 0));
    e |= pu_pack_key(pk, "unit") | pu_pack_str(pk, u.ptr, u.len);
    e |= pu_pack_key(pk, "year") | msgpack_pack_int64(pk, year);
    if (has_as_of)
        e |= pu_pack_key(pk, "as_of") | msgpack_pack_int64(pk, as_of);
    e |= pu_pack_key(pk, "households") |
         pu_pack_opt_i64(pk, st->cur.hh_known, st->cur.households);
    e |= pu_pack_key(pk, "poor") | msgpack_pack_int64(pk, c[C_POOR]);
    e |= pu_pack_key(pk, "near_poor") | msgpack_pack_int64(pk, c[C_NEAR]);
    e |= pu_pack_key(pk, "poor_rate") |
         pu_pack_opt_double(pk, st->rate_known, st->poor_rate);
    e |= pu_pack_key(pk, "near_poor_rate") |
         pu_pack_opt_double(pk, st->rate_known, st->near_rate);
    e |= pu_pack_key(pk, "multidimensional_rate") |
         pu_pack_opt_double(pk, st->rate_known, st->md_rate);
    e |= pu_pack_key(pk, "escaped") | msgpack_pack_int64(pk, c[C_ESCAPED]);
    e |= pu_pack_key(pk, "newly_poor") | msgpack_pack_int64(pk, c[C_NEWLY]);
    e |= pu_pack_key(pk, "relapsed") | msgpack_pack_int64(pk, c[C_RELAPSED]);
    e |= pu_pack_key(pk, "reduction_pp") |
         pu_pack_opt_double(pk, st->reduction_known, st->reduction_pp);
    e |= pu_pack_key(pk, "multidimensional_reduction_pp") |
         pu_pack_opt_double(pk, st->reduction_known, st->md_reduction_pp);
    e |= pu_pack_key(pk, "near_poor_formerly_poor") |
         msgpack_pack_int64(pk, c[C_NEAR_FORMER]);
    e |= pu_pack_key(pk, "poor_start") | msgpack_pack_int64(pk, st->poor_start);
    e |= pu_pack_key(pk, "exited") | msgpack_pack_int64(pk, st->exited);
    e |= pu_pack_key(pk, "moved_in") | msgpack_pack_int64(pk, c[C_MOVED_IN]);
    e |= pu_pack_key(pk, "moved_out") | msgpack_pack_int64(pk, st->moved_out);
    e |= pu_pack_key(pk, "flow_gap") | msgpack_pack_int64(pk, st->flow_gap);
    e |= pu_pack_key(pk, "flow_balanced") |
         (st->flow_gap == 0 ? msgpack_pack_true(pk) : msgpack_pack_false(pk));
    e |= pack_band(pk, "target_pp", p->target_min_pp, p->target_max_pp);
    e |=
        pack_band(pk, "multidimensional_target_pp", p->md_min_pp, p->md_max_pp);
    return e;
}

static int poverty_query(void *state, povtrack_ctx *ctx,
                         const msgpack_object *q, msgpack_packer *pk, char *err,
                         size_t errlen)
{
    struct poverty *p = state;
    struct pu_chain ch;
    static const char *const arg_names[] = {"unit", "year", "cohort", "as_of",
                                            NULL};
    int rc = pu_check_arg_names(q, arg_names, err, errlen);
    if (rc == 0)
        rc = pu_arg_unit(p->host, ctx, q, &ch, err, errlen);
    if (rc != 0)
        return rc;
    int64_t year = 0, cohort = 0, as_of = 0;
    bool has_year, has_cohort, has_as_of;
    if (pu_arg_i64(q, "cohort", false, &cohort, &has_cohort, err, errlen) !=
            0 ||
        pu_arg_i64(q, "year", !has_cohort, &year, &has_year, err, errlen) !=
            0 ||
        pu_arg_i64(q, "as_of", false, &as_of, &has_as_of, err, errlen) != 0)
        return POVTRACK_EINVALID;
    if (has_cohort && has_year) {
        snprintf(err, errlen, "cohort: not with year (two kinds of query)");
        return POVTRACK_EINVALID;
    }
    int64_t y = has_cohort ? cohort : year;
    if (y < POV_QYEAR_MIN || y > POV_QYEAR_MAX) {
        snprintf(err, errlen, "%s: must be a year in %d-%d",
                 has_cohort ? "cohort" : "year", POV_QYEAR_MIN, POV_QYEAR_MAX);
        return POVTRACK_EINVALID;
    }
    int64_t end = pu_year_end(y);
    if ((rc = pu_check_query_year(p->host, ctx, pu_get_unit(ch.code[0]),
                                  has_as_of, as_of, true, y, err, errlen)) != 0)
        return rc;
    /* unit_at answers for instants before the open end. */
    int64_t at = has_as_of ? (as_of < INT64_MAX ? as_of : INT64_MAX - 1) : end;
    int64_t dirty_from;
    rc = pov_meta_load(p, ctx, false, &dirty_from);
    if (rc == POVTRACK_EFORMAT) {
        snprintf(err, errlen,
                 "internal error: the state was written by an older version "
                 "of the plugin: rebuild it");
        return POVTRACK_EIO;
    }
    if (rc != 0) {
        snprintf(err, errlen, "internal error: state read failed");
        return POVTRACK_EIO;
    }
    if (has_cohort)
        return pack_cohort(p, ctx, ch.code[0], cohort, dirty_from, has_as_of,
                           as_of, at, pk, err, errlen);
    struct pov_stats st;
    if (load_stats(p, ctx, ch.code[0], year, dirty_from, has_as_of, at, &st) !=
        0) {
        snprintf(err, errlen, "internal error: state read failed");
        return POVTRACK_EIO;
    }
    if (pack_year(p, ch.code[0], year, has_as_of, as_of, &st, pk) != 0) {
        snprintf(err, errlen, "internal error: packing failed");
        return POVTRACK_EIO;
    }
    return 0;
}

static void poverty_fini(void *state)
{
    struct poverty *p = state;
    pu_units_free(&p->units);
    free(p);
}

/* The keys of [plugin.poverty]. */
static const struct povtrack_config_key poverty_config[] = {
    {.name = "target_min_pp",
     .type = POVTRACK_CONFIG_DOUBLE,
     .default_value = PU_STR(POV_DEFAULT_TARGET_MIN),
     .description = "least yearly reduction of the poor rate, points"},
    {.name = "target_max_pp",
     .type = POVTRACK_CONFIG_DOUBLE,
     .default_value = PU_STR(POV_DEFAULT_TARGET_MAX),
     .description = "top of the band, shown in messages"},
    {.name = "multidimensional_target_min_pp",
     .type = POVTRACK_CONFIG_DOUBLE,
     .default_value = PU_STR(POV_DEFAULT_MD_TARGET_MIN),
     .description = "least yearly reduction of the poor + near-poor rate"},
    {.name = "multidimensional_target_max_pp",
     .type = POVTRACK_CONFIG_DOUBLE,
     .default_value = PU_STR(POV_DEFAULT_MD_TARGET_MAX),
     .description = "top of that band"},
    {.name = "relapse_max_share",
     .type = POVTRACK_CONFIG_DOUBLE,
     .default_value = PU_STR(POV_DEFAULT_RELAPSE_MAX),
     .description = "percent of an escape cohort poor again before "
                    "poverty.relapse"},
    {.name = NULL},
};

POVTRACK_PLUGIN(.name = "poverty", .version = "2.2.0",
                .event_mask = EV_TYPE_BIT(EV_UNIT_DEFINED) |
                              EV_TYPE_BIT(EV_UNIT_CHANGED) |
                              EV_TYPE_BIT(EV_UNIT_HOUSEHOLDS) |
                              EV_TYPE_BIT(EV_HOUSEHOLD_STATUS) |
                              EV_TYPE_BIT(EV_HOUSEHOLD_EXITED) |
                              EV_TYPE_BIT(EV_HOUSEHOLD_MOVED) |
                              EV_TYPE_BIT(EV_REVIEW_CLOSED),
                .init = poverty_init, .apply = poverty_apply,
                .query = poverty_query, .fini = poverty_fini,
                /* The layout its 'M' marker also holds (poverty_state.h): bump
                 * when the stored values change. */
                .state_layout = POV_LAYOUT, .config_map = poverty_config);
