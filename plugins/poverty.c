/*
 * poverty.c - the built-in "poverty" plugin: poor and near-poor household
 * counts, rates, flows (escaped, newly poor, relapsed) and the yearly
 * reduction of the poor-household rate per administrative unit, with alerts
 * when a closed review misses the reduction target; and whether escapes
 * last ("sustainable escape", Directive 05-CT/TW): per escape cohort, how
 * many households fell back into poverty within 1, 2 and 3 years.
 *
 * Query q {"unit": code, "year": int} -> {"unit", "year", "households",
 * "poor", "near_poor", "poor_rate", "near_poor_rate", "escaped",
 * "newly_poor", "relapsed", "reduction_pp", "near_poor_formerly_poor"}
 * (unknown values are nil).  near_poor_formerly_poor: near-poor in year,
 * poor in some earlier year (escaped, but not far).
 *
 * Query q {"unit": code, "cohort": int} -> {"unit", "cohort", "escaped",
 * "relapsed_1y", "relapsed_2y", "relapsed_3y", "rate_1y", "rate_2y",
 * "rate_3y"}: the households that escaped in the cohort year c (poor in
 * c-1, an explicit non-poor status in c), counted in the unit of their
 * year-c status and its ancestors; relapsed_ky of them were poor again in
 * some year of c+1..c+k (cumulative); rate_ky is the percent of escaped,
 * nil when nothing escaped.  "year" and "cohort" together are refused.
 *
 * Alert poverty.relapse_high (warning) on review.closed(u, y): for each
 * k = 1..3 and cohort c = y-k, when rate_ky(u, c) > relapse_max_share
 * (config, percent, default 10), once per (unit, cohort, k).
 *
 * State (see plugin_util.h for the encoding: all integers big-endian, years
 * in keys sign-flipped, unit codes NUL-padded to 5 bytes).  Everything a
 * query needs is kept as running aggregates, so a query reads four keys
 * whatever the number of households:
 *
 *   'C' unit[5] year[8] -> i64 poor, near_poor, escaped, newly_poor,
 *                          relapsed, near_poor_formerly_poor,
 *                          relapsed_1y, relapsed_2y, relapsed_3y (72 bytes)
 *        counters of the unit, INCLUDING every household of its
 *        descendants: a household counts in its unit and all ancestors.
 *        The relapsed_ky counters are keyed by the cohort year (the year
 *        of the escape), so a cohort query is this one key.
 *   'N' unit[5] year[8] -> u8 has_published, 7 bytes zero, i64 published,
 *                          i64 childsum, i64 childknown          (32 bytes)
 *        the household denominator.  eff = published when has_published,
 *        else childsum when childknown > 0 (at least one child has a known
 *        eff), else unknown.  childsum/childknown are maintained by delta
 *        propagation up the ancestor chain whenever a unit's eff changes.
 *   'H' household -> n x { i64 year, u8 status, unit[5], 2 bytes zero }
 *        the household's history (16 bytes an entry, sorted by year), so
 *        that a changed status recomputes that household's flows and
 *        applies only the differences to the counters.
 *   'R' unit[5] cohort[8] k[1] -> empty
 *        relapse_high already raised for (unit, cohort, k).
 *
 * A state written by version 1.0 (40-byte counters) is refused as corrupt
 * rather than misread: rebuild it (remove DATA/state) after upgrading.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin_util.h"
#include "povtrack_plugin.h"

#define POV_DEFAULT_TARGET_MIN 0.7
#define POV_DEFAULT_TARGET_MAX 1.0
#define POV_DEFAULT_RELAPSE_MAX 10.0 /* percent of a cohort */
#define POV_RELAPSE_YEARS 3          /* relapsed_1y .. relapsed_3y */

enum pov_counter {
    C_POOR,
    C_NEAR,
    C_ESCAPED,
    C_NEWLY,
    C_RELAPSED,
    C_NEAR_FORMER, /* near-poor, poor in an earlier year */
    C_REL1,        /* escaped this year, poor again within 1 year; C_REL1 +
                      k - 1 for k years */
    C_COUNT = C_REL1 + POV_RELAPSE_YEARS
};

#define POV_YKEY_LEN (1 + PU_UNIT_W + 8)
#define POV_C_VLEN (8 * C_COUNT)
#define POV_N_VLEN 32
#define POV_H_ENTRY 16

struct poverty {
    const struct povtrack_host *host;
    double target_min_pp;
    double target_max_pp;
    double relapse_max_share; /* percent */
    struct pu_units units;    /* unit chains met so far */
};

/* One entry of a household's history. */
struct hist {
    int64_t year;
    enum ev_status status;
    uint8_t unit[PU_UNIT_W];
};

/* Counter changes for one (unit, year), summed before touching storage so
 * that a replaced status whose contributions cancel writes nothing. */
struct delta {
    uint8_t unit[PU_UNIT_W];
    int64_t year;
    int64_t d[C_COUNT];
};

/* The households denominator of one (unit, year). */
struct denom {
    bool has_published;
    int64_t published;
    int64_t childsum;
    int64_t childknown;
};

static void ykey(uint8_t *k, char prefix, const uint8_t *unit, int64_t year)
{
    k[0] = (uint8_t)prefix;
    memcpy(k + 1, unit, PU_UNIT_W);
    pu_put_key_i64(k + 1 + PU_UNIT_W, year);
}

static bool denom_known(const struct denom *n)
{
    return n->has_published || n->childknown > 0;
}

static int64_t denom_value(const struct denom *n)
{
    if (n->has_published)
        return n->published;
    return n->childknown > 0 ? n->childsum : 0;
}

/* ---- storage of counters and denominators ---- */

/* Returns 0 (absent reads as zeros) or POVTRACK_EIO. */
static int counters_get(struct poverty *p, povtrack_ctx *ctx,
                        const uint8_t *unit, int64_t year, int64_t c[C_COUNT])
{
    uint8_t k[POV_YKEY_LEN];
    const void *v;
    size_t vlen;
    ykey(k, 'C', unit, year);
    memset(c, 0, sizeof(int64_t) * C_COUNT);
    int rc = pu_get(p->host, ctx, k, sizeof k, &v, &vlen);
    if (rc <= 0)
        return rc;
    if (vlen != POV_C_VLEN) {
        p->host->log(ctx, POVTRACK_LOG_ERROR,
                     "poverty: bad counter value (%zu bytes; a state of an "
                     "older version must be rebuilt)",
                     vlen);
        return POVTRACK_EIO;
    }
    for (int i = 0; i < C_COUNT; i++)
        c[i] = pu_get_i64((const uint8_t *)v + 8 * i);
    return 0;
}

static int counters_add(struct poverty *p, povtrack_ctx *ctx,
                        const uint8_t *unit, int64_t year,
                        const int64_t d[C_COUNT])
{
    int64_t c[C_COUNT];
    int rc = counters_get(p, ctx, unit, year, c);
    if (rc != 0)
        return rc;
    uint8_t k[POV_YKEY_LEN], v[POV_C_VLEN];
    for (int i = 0; i < C_COUNT; i++)
        pu_put_i64(v + 8 * i, c[i] + d[i]);
    ykey(k, 'C', unit, year);
    return pu_put(p->host, ctx, k, sizeof k, v, sizeof v);
}

static int denom_get(struct poverty *p, povtrack_ctx *ctx, const uint8_t *unit,
                     int64_t year, struct denom *n)
{
    uint8_t k[POV_YKEY_LEN];
    const void *v;
    size_t vlen;
    ykey(k, 'N', unit, year);
    memset(n, 0, sizeof *n);
    int rc = pu_get(p->host, ctx, k, sizeof k, &v, &vlen);
    if (rc <= 0)
        return rc;
    if (vlen != POV_N_VLEN) {
        p->host->log(ctx, POVTRACK_LOG_ERROR, "poverty: bad households value");
        return POVTRACK_EIO;
    }
    const uint8_t *b = v;
    n->has_published = b[0] != 0;
    n->published = pu_get_i64(b + 8);
    n->childsum = pu_get_i64(b + 16);
    n->childknown = pu_get_i64(b + 24);
    return 0;
}

static int denom_put(struct poverty *p, povtrack_ctx *ctx, const uint8_t *unit,
                     int64_t year, const struct denom *n)
{
    uint8_t k[POV_YKEY_LEN], v[POV_N_VLEN] = {0};
    ykey(k, 'N', unit, year);
    v[0] = n->has_published ? 1 : 0;
    pu_put_i64(v + 8, n->published);
    pu_put_i64(v + 16, n->childsum);
    pu_put_i64(v + 24, n->childknown);
    return pu_put(p->host, ctx, k, sizeof k, v, sizeof v);
}

/* ---- unit.households ---- */

/*
 * Publish households(u, y) = value and propagate the change of u's
 * effective value up the chain: each ancestor's childsum moves by the
 * difference, and the propagation stops at the first ancestor whose own
 * effective value does not change (it has a published value).
 */
static int apply_households(struct poverty *p, povtrack_ctx *ctx,
                            const struct ev_event *ev)
{
    struct pu_chain ch;
    int rc = pu_ancestors_cached(p->host, ctx, &p->units, ev->unit, &ch);
    if (rc != 0)
        return POVTRACK_EIO; /* the unit passed the reference checks */
    int64_t year = ev->data.year;
    struct denom n;
    if ((rc = denom_get(p, ctx, ch.code[0], year, &n)) != 0)
        return rc;
    bool old_known = denom_known(&n);
    int64_t old_val = denom_value(&n);
    n.has_published = true;
    n.published = ev->data.households;
    if ((rc = denom_put(p, ctx, ch.code[0], year, &n)) != 0)
        return rc;
    bool new_known = true;
    int64_t new_val = n.published;

    for (int i = 1; i < ch.n; i++) {
        if (old_known == new_known && old_val == new_val)
            break;
        if ((rc = denom_get(p, ctx, ch.code[i], year, &n)) != 0)
            return rc;
        bool pk = denom_known(&n);
        int64_t pv = denom_value(&n);
        n.childsum += new_val - old_val;
        n.childknown += (int64_t)new_known - (int64_t)old_known;
        if ((rc = denom_put(p, ctx, ch.code[i], year, &n)) != 0)
            return rc;
        old_known = pk;
        old_val = pv;
        new_known = denom_known(&n);
        new_val = denom_value(&n);
    }
    return 0;
}

/* ---- household.status ---- */

/* Histories up to this many years are handled in stack buffers; longer
 * ones (a household followed for decades) on the heap. */
#define POV_HIST_STACK 16

/* Load a household's history into buf (room for cap entries) or, when it
 * does not fit with one entry to spare, into a heap array the caller
 * frees (*out != buf). */
static int hist_load(struct poverty *p, povtrack_ctx *ctx, const uint8_t *key,
                     size_t klen, struct hist *buf, size_t cap,
                     struct hist **out, size_t *n)
{
    const void *v;
    size_t vlen;
    *out = buf;
    *n = 0;
    int rc = pu_get(p->host, ctx, key, klen, &v, &vlen);
    if (rc < 0)
        return rc;
    size_t cnt = rc == 0 ? 0 : vlen / POV_H_ENTRY;
    if (rc == 1 && vlen % POV_H_ENTRY != 0) {
        p->host->log(ctx, POVTRACK_LOG_ERROR, "poverty: bad history value");
        return POVTRACK_EIO;
    }
    /* One spare entry for the year the caller may insert. */
    struct hist *h = cnt + 1 <= cap ? buf : calloc(cnt + 1, sizeof *h);
    if (h == NULL)
        return POVTRACK_EIO;
    memset(h, 0, (cnt + 1) * sizeof *h);
    for (size_t i = 0; i < cnt; i++) {
        const uint8_t *e = (const uint8_t *)v + i * POV_H_ENTRY;
        h[i].year = pu_get_i64(e);
        h[i].status = (enum ev_status)e[8];
        memcpy(h[i].unit, e + 9, PU_UNIT_W);
    }
    *out = h;
    *n = cnt;
    return 0;
}

static int hist_store(struct poverty *p, povtrack_ctx *ctx, const uint8_t *key,
                      size_t klen, const struct hist *h, size_t n)
{
    uint8_t buf[POV_HIST_STACK * POV_H_ENTRY];
    uint8_t *v = n <= POV_HIST_STACK ? buf : calloc(n, POV_H_ENTRY);
    if (v == NULL)
        return POVTRACK_EIO;
    memset(v, 0, n * POV_H_ENTRY);
    for (size_t i = 0; i < n; i++) {
        uint8_t *e = v + i * POV_H_ENTRY;
        pu_put_i64(e, h[i].year);
        e[8] = (uint8_t)h[i].status;
        memcpy(e + 9, h[i].unit, PU_UNIT_W);
    }
    int rc = pu_put(p->host, ctx, key, klen, v, n * POV_H_ENTRY);
    if (v != buf)
        free(v);
    return rc;
}

static const struct hist *hist_find(const struct hist *h, size_t n,
                                    int64_t year)
{
    for (size_t i = 0; i < n; i++)
        if (h[i].year == year)
            return &h[i];
    return NULL;
}

static void delta_add(struct delta *ds, size_t *nd, const uint8_t *unit,
                      int64_t year, enum pov_counter c, int64_t by)
{
    for (size_t i = 0; i < *nd; i++) {
        if (ds[i].year == year && memcmp(ds[i].unit, unit, PU_UNIT_W) == 0) {
            ds[i].d[c] += by;
            return;
        }
    }
    struct delta *d = &ds[(*nd)++];
    memset(d, 0, sizeof *d);
    memcpy(d->unit, unit, PU_UNIT_W);
    d->year = year;
    d->d[c] = by;
}

/* Whether the history has a poor year in [lo, hi]. */
static bool poor_in(const struct hist *h, size_t n, int64_t lo, int64_t hi)
{
    for (size_t j = 0; j < n; j++)
        if (h[j].year >= lo && h[j].year <= hi && h[j].status == EV_STATUS_POOR)
            return true;
    return false;
}

/*
 * Add sign times every counter contribution of a household's history to
 * ds: its stock status per year, and its flows of year y (escaped, newly
 * poor or relapsed; near-poor formerly poor; and, for an escape, whether
 * it was poor again within 1..3 years), all attributed to the unit of its
 * year-y status, so all of one entry's counters land in one delta.  ds
 * must have room for 2 * n entries.  Years are 2000-2100 (the catalogue's
 * range), so year +- 3 cannot overflow.
 */
static void hist_contrib(const struct hist *h, size_t n, int64_t sign,
                         struct delta *ds, size_t *nd)
{
    for (size_t i = 0; i < n; i++) {
        const struct hist *e = &h[i];
        if (e->status == EV_STATUS_POOR)
            delta_add(ds, nd, e->unit, e->year, C_POOR, sign);
        else if (e->status == EV_STATUS_NEAR_POOR)
            delta_add(ds, nd, e->unit, e->year, C_NEAR, sign);

        const struct hist *prev = hist_find(h, n, e->year - 1);
        bool prev_poor = prev != NULL && prev->status == EV_STATUS_POOR;
        if (e->status != EV_STATUS_POOR) {
            if (e->status == EV_STATUS_NEAR_POOR &&
                poor_in(h, n, INT64_MIN, e->year - 1))
                delta_add(ds, nd, e->unit, e->year, C_NEAR_FORMER, sign);
            /* Only an explicit non-poor status escapes: a missing year is
             * no information, not an escape. */
            if (!prev_poor)
                continue;
            delta_add(ds, nd, e->unit, e->year, C_ESCAPED, sign);
            /* Cumulative: poor again in year+1 counts for 1, 2 and 3. */
            for (int k = 1; k <= POV_RELAPSE_YEARS; k++)
                if (poor_in(h, n, e->year + 1, e->year + k))
                    delta_add(ds, nd, e->unit, e->year,
                              (enum pov_counter)(C_REL1 + k - 1), sign);
            continue;
        }
        if (prev_poor)
            continue;
        bool poor_before = poor_in(h, n, INT64_MIN, e->year - 2);
        delta_add(ds, nd, e->unit, e->year, poor_before ? C_RELAPSED : C_NEWLY,
                  sign);
    }
}

/* Apply one (unit, year) counter change to the unit and its ancestors. */
static int delta_apply(struct poverty *p, povtrack_ctx *ctx,
                       const struct delta *d)
{
    bool zero = true;
    for (int i = 0; i < C_COUNT; i++)
        zero = zero && d->d[i] == 0;
    if (zero)
        return 0;
    struct pu_chain ch;
    if (pu_ancestors_cached(p->host, ctx, &p->units, pu_get_unit(d->unit),
                            &ch) != 0)
        return POVTRACK_EIO;
    for (int i = 0; i < ch.n; i++) {
        int rc = counters_add(p, ctx, ch.code[i], d->year, d->d);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/*
 * Record status(h, y) = the event's status and unit, replacing any earlier
 * status of that year.  The household's contributions are computed from
 * its whole history before and after the change and only the difference is
 * applied: a replacement moves the household between statuses or units
 * without double counting, and years after y get their newly-poor /
 * relapsed / escaped classification corrected.
 */
static int apply_status(struct poverty *p, povtrack_ctx *ctx,
                        const struct ev_event *ev)
{
    uint8_t key[1 + EV_HOUSEHOLD_MAX];
    if (ev->household.ptr == NULL || ev->household.len == 0 ||
        ev->household.len > EV_HOUSEHOLD_MAX) {
        p->host->log(ctx, POVTRACK_LOG_ERROR,
                     "poverty: household.status without a valid household");
        return POVTRACK_EIO;
    }
    key[0] = 'H';
    memcpy(key + 1, ev->household.ptr, ev->household.len);
    size_t klen = 1 + ev->household.len;

    struct hist hbuf[POV_HIST_STACK], *h;
    size_t n;
    int rc = hist_load(p, ctx, key, klen, hbuf, POV_HIST_STACK, &h, &n);
    if (rc != 0)
        return rc;
    /* Each history entry contributes at most 2 counters, before and after
     * (the history grows by at most one entry). */
    struct delta dbuf[4 * POV_HIST_STACK];
    struct delta *ds = 4 * (n + 1) <= 4 * POV_HIST_STACK
                           ? dbuf
                           : calloc(4 * (n + 1), sizeof *ds);
    if (ds == NULL) {
        if (h != hbuf)
            free(h);
        return POVTRACK_EIO;
    }
    size_t nd = 0;
    hist_contrib(h, n, -1, ds, &nd);

    uint8_t unit[PU_UNIT_W];
    if (pu_put_unit(unit, ev->unit) != 0) {
        rc = POVTRACK_EIO;
        goto out;
    }
    size_t i = 0;
    while (i < n && h[i].year < ev->data.year)
        i++;
    if (i == n || h[i].year != ev->data.year) {
        memmove(&h[i + 1], &h[i], (n - i) * sizeof *h);
        n++;
        h[i].year = ev->data.year;
    }
    h[i].status = ev->data.status;
    memcpy(h[i].unit, unit, PU_UNIT_W);

    hist_contrib(h, n, +1, ds, &nd);
    for (size_t j = 0; j < nd && rc == 0; j++)
        rc = delta_apply(p, ctx, &ds[j]);
    if (rc == 0)
        rc = hist_store(p, ctx, key, klen, h, n);
out:
    if (ds != dbuf)
        free(ds);
    if (h != hbuf)
        free(h);
    return rc;
}

/* ---- indicators ---- */

struct pov_stats {
    bool hh_known;
    int64_t households;
    int64_t c[C_COUNT];
    bool rate_known;
    double poor_rate;
    double near_rate;
    bool prev_rate_known;
    double prev_poor_rate;
    bool reduction_known;
    double reduction_pp;
};

/* Rates of (unit, year) from its counters and denominator. */
static int load_rates(struct poverty *p, povtrack_ctx *ctx, const uint8_t *unit,
                      int64_t year, int64_t c[C_COUNT], struct denom *n,
                      bool *rate_known, double *poor_rate, double *near_rate)
{
    int rc = counters_get(p, ctx, unit, year, c);
    if (rc == 0)
        rc = denom_get(p, ctx, unit, year, n);
    if (rc != 0)
        return rc;
    int64_t hh = denom_value(n);
    *rate_known = denom_known(n) && hh != 0;
    if (*rate_known) {
        *poor_rate = 100.0 * (double)c[C_POOR] / (double)hh;
        *near_rate = 100.0 * (double)c[C_NEAR] / (double)hh;
    }
    return 0;
}

static int load_stats(struct poverty *p, povtrack_ctx *ctx, const uint8_t *unit,
                      int64_t year, struct pov_stats *st)
{
    struct denom n;
    memset(st, 0, sizeof *st);
    int rc = load_rates(p, ctx, unit, year, st->c, &n, &st->rate_known,
                        &st->poor_rate, &st->near_rate);
    if (rc != 0)
        return rc;
    st->hh_known = denom_known(&n);
    st->households = denom_value(&n);
    if (year == INT64_MIN)
        return 0;
    int64_t pc[C_COUNT];
    double prev_near;
    rc = load_rates(p, ctx, unit, year - 1, pc, &n, &st->prev_rate_known,
                    &st->prev_poor_rate, &prev_near);
    if (rc != 0)
        return rc;
    st->reduction_known = st->rate_known && st->prev_rate_known;
    if (st->reduction_known)
        st->reduction_pp = st->prev_poor_rate - st->poor_rate;
    return 0;
}

/* ---- review.closed ---- */

/*
 * A closed review fixes the year's figures: compare the reduction of the
 * poor-household rate with the target.  No alert when either year's rate
 * is unknown (nothing to compare).
 */
static int check_target(struct poverty *p, povtrack_ctx *ctx,
                        const struct ev_event *ev, const struct pu_chain *ch,
                        const char *unit, const char *level)
{
    struct pov_stats st;
    int rc = load_stats(p, ctx, ch->code[0], ev->data.year, &st);
    if (rc != 0 || !st.reduction_known || !(st.reduction_pp < p->target_min_pp))
        return rc;
    char msg[256];
    double r = st.reduction_pp;
    snprintf(msg, sizeof msg,
             "%s %s: poor-household rate %.2f%% in %lld, %s %.2f points "
             "from %.2f%% (target %.2f-%.2f)",
             level, unit, st.poor_rate, (long long)ev->data.year,
             r < 0 ? "up" : "down", r < 0 ? -r : r, st.prev_poor_rate,
             p->target_min_pp, p->target_max_pp);
    rc = pu_alert(p->host, ctx, "poverty.target_missed", POVTRACK_WARNING, unit,
                  NULL, msg, ev->at);
    if (rc == 0 && r < 0)
        rc = pu_alert(p->host, ctx, "poverty.rate_rose", POVTRACK_CRITICAL,
                      unit, NULL, msg, ev->at);
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
                         const struct ev_event *ev, const struct pu_chain *ch,
                         const char *unit, const char *level)
{
    for (int k = 1; k <= POV_RELAPSE_YEARS; k++) {
        int64_t cohort = ev->data.year - k, c[C_COUNT];
        int rc = counters_get(p, ctx, ch->code[0], cohort, c);
        if (rc != 0)
            return rc;
        int64_t esc = c[C_ESCAPED], rel = c[C_REL1 + k - 1];
        double rate = esc > 0 ? 100.0 * (double)rel / (double)esc : 0.0;
        if (esc <= 0 || !(rate > p->relapse_max_share))
            continue;
        uint8_t key[POV_YKEY_LEN + 1];
        const void *v;
        size_t vlen;
        ykey(key, 'R', ch->code[0], cohort);
        key[POV_YKEY_LEN] = (uint8_t)k;
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
                 level, unit, (long long)rel, (long long)esc, (long long)cohort,
                 k, k == 1 ? "" : "s", rate, p->relapse_max_share);
        if ((rc = pu_put(p->host, ctx, key, sizeof key, "", 0)) != 0 ||
            (rc = pu_alert(p->host, ctx, "poverty.relapse_high",
                           POVTRACK_WARNING, unit, NULL, msg, ev->at)) != 0)
            return rc;
    }
    return 0;
}

static int apply_review(struct poverty *p, povtrack_ctx *ctx,
                        const struct ev_event *ev)
{
    struct pu_chain ch;
    if (pu_ancestors_cached(p->host, ctx, &p->units, ev->unit, &ch) != 0)
        return POVTRACK_EIO;
    char unit[PU_UNIT_W + 1];
    pu_cstr(ev->unit, unit, sizeof unit);
    const char *level = ev_level_name(ch.level);
    if (level == NULL)
        level = "unit";
    int rc = check_target(p, ctx, ev, &ch, unit, level);
    if (rc == 0)
        rc = check_relapse(p, ctx, ev, &ch, unit, level);
    return rc;
}

/* ---- plugin callbacks ---- */

static int poverty_init(povtrack_ctx *ctx, const struct povtrack_host *host,
                        void **state)
{
    double lo = POV_DEFAULT_TARGET_MIN, hi = POV_DEFAULT_TARGET_MAX;
    double relapse = POV_DEFAULT_RELAPSE_MAX;
    if (pu_config_double(host, ctx, "target_min_pp", &lo) != 0 ||
        pu_config_double(host, ctx, "target_max_pp", &hi) != 0 ||
        pu_config_double(host, ctx, "relapse_max_share", &relapse) != 0)
        return -1;
    if (relapse < 0 || relapse > 100) {
        host->log(ctx, POVTRACK_LOG_ERROR,
                  "relapse_max_share: must be a percent in 0-100, got %g",
                  relapse);
        return -1;
    }
    if (lo > hi) {
        host->log(ctx, POVTRACK_LOG_ERROR,
                  "target_min_pp (%g) must not exceed target_max_pp (%g)", lo,
                  hi);
        return -1;
    }
    struct poverty *p = calloc(1, sizeof *p);
    if (p == NULL) {
        host->log(ctx, POVTRACK_LOG_ERROR, "poverty: out of memory");
        return -1;
    }
    p->host = host;
    p->target_min_pp = lo;
    p->target_max_pp = hi;
    p->relapse_max_share = relapse;
    *state = p;
    return 0;
}

static int poverty_apply(void *state, povtrack_ctx *ctx,
                         const struct povtrack_record *rec)
{
    struct poverty *p = state;
    const struct ev_event *ev = rec->event;
    switch (ev->type) {
    case EV_UNIT_HOUSEHOLDS:
        return apply_households(p, ctx, ev);
    case EV_HOUSEHOLD_STATUS:
        return apply_status(p, ctx, ev);
    case EV_REVIEW_CLOSED:
        return apply_review(p, ctx, ev);
    default:
        return 0; /* not in the mask: nothing to do */
    }
}

static int pack_cohort(struct poverty *p, povtrack_ctx *ctx,
                       const uint8_t *unit, int64_t cohort, msgpack_packer *pk,
                       char *err, size_t errlen)
{
    int64_t c[C_COUNT];
    if (counters_get(p, ctx, unit, cohort, c) != 0) {
        snprintf(err, errlen, "internal error: state read failed");
        return POVTRACK_EIO;
    }
    static const char *const rel[] = {"relapsed_1y", "relapsed_2y",
                                      "relapsed_3y"};
    static const char *const rate[] = {"rate_1y", "rate_2y", "rate_3y"};
    struct ev_str u = pu_get_unit(unit);
    int e = msgpack_pack_map(pk, 3 + 2 * POV_RELAPSE_YEARS);
    e |= pu_pack_key(pk, "unit") | pu_pack_str(pk, u.ptr, u.len);
    e |= pu_pack_key(pk, "cohort") | msgpack_pack_int64(pk, cohort);
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

static int poverty_query(void *state, povtrack_ctx *ctx,
                         const msgpack_object *q, msgpack_packer *pk, char *err,
                         size_t errlen)
{
    struct poverty *p = state;
    struct pu_chain ch;
    int rc = pu_arg_unit(p->host, ctx, q, &ch, err, errlen);
    if (rc != 0)
        return rc;
    int64_t year = 0, cohort = 0;
    bool has_year, has_cohort;
    if (pu_arg_i64(q, "cohort", false, &cohort, &has_cohort, err, errlen) !=
            0 ||
        pu_arg_i64(q, "year", !has_cohort, &year, &has_year, err, errlen) != 0)
        return -1;
    if (has_cohort && has_year) {
        snprintf(err, errlen, "cohort: not with year (two kinds of query)");
        return -1;
    }
    if (has_cohort)
        return pack_cohort(p, ctx, ch.code[0], cohort, pk, err, errlen);
    struct pov_stats st;
    if (load_stats(p, ctx, ch.code[0], year, &st) != 0) {
        snprintf(err, errlen, "internal error: state read failed");
        return POVTRACK_EIO;
    }
    struct ev_str unit = pu_get_unit(ch.code[0]);
    int e = msgpack_pack_map(pk, 12);
    e |= pu_pack_key(pk, "unit") | pu_pack_str(pk, unit.ptr, unit.len);
    e |= pu_pack_key(pk, "year") | msgpack_pack_int64(pk, year);
    e |= pu_pack_key(pk, "households") |
         pu_pack_opt_i64(pk, st.hh_known, st.households);
    e |= pu_pack_key(pk, "poor") | msgpack_pack_int64(pk, st.c[C_POOR]);
    e |= pu_pack_key(pk, "near_poor") | msgpack_pack_int64(pk, st.c[C_NEAR]);
    e |= pu_pack_key(pk, "poor_rate") |
         pu_pack_opt_double(pk, st.rate_known, st.poor_rate);
    e |= pu_pack_key(pk, "near_poor_rate") |
         pu_pack_opt_double(pk, st.rate_known, st.near_rate);
    e |= pu_pack_key(pk, "escaped") | msgpack_pack_int64(pk, st.c[C_ESCAPED]);
    e |= pu_pack_key(pk, "newly_poor") | msgpack_pack_int64(pk, st.c[C_NEWLY]);
    e |= pu_pack_key(pk, "relapsed") | msgpack_pack_int64(pk, st.c[C_RELAPSED]);
    e |= pu_pack_key(pk, "reduction_pp") |
         pu_pack_opt_double(pk, st.reduction_known, st.reduction_pp);
    e |= pu_pack_key(pk, "near_poor_formerly_poor") |
         msgpack_pack_int64(pk, st.c[C_NEAR_FORMER]);
    if (e != 0) {
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

static const struct povtrack_plugin poverty_plugin = {
    .abi_version = POVTRACK_PLUGIN_ABI_VERSION,
    .size = sizeof(struct povtrack_plugin),
    .name = "poverty",
    .version = "1.1.0",
    .event_mask = EV_TYPE_BIT(EV_UNIT_HOUSEHOLDS) |
                  EV_TYPE_BIT(EV_HOUSEHOLD_STATUS) |
                  EV_TYPE_BIT(EV_REVIEW_CLOSED),
    .init = poverty_init,
    .apply = poverty_apply,
    .query = poverty_query,
    .tick = NULL,
    .fini = poverty_fini,
};

__attribute__((visibility("default"))) const struct povtrack_plugin *
povtrack_plugin_entry(void);

const struct povtrack_plugin *povtrack_plugin_entry(void)
{
    return &poverty_plugin;
}
