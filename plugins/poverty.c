/*
 * poverty.c - the built-in "poverty" plugin: poor and near-poor household
 * counts, rates, flows (escaped, newly poor, relapsed) and the yearly
 * reduction of the poor-household rate per administrative unit, with alerts
 * when a closed review misses the reduction target.
 *
 * Query q {"unit": code, "year": int} -> {"unit", "year", "households",
 * "poor", "near_poor", "poor_rate", "near_poor_rate", "escaped",
 * "newly_poor", "relapsed", "reduction_pp"} (unknown values are nil).
 *
 * State (see plugin_util.h for the encoding: all integers big-endian, years
 * in keys sign-flipped, unit codes NUL-padded to 5 bytes).  Everything a
 * query needs is kept as running aggregates, so a query reads four keys
 * whatever the number of households:
 *
 *   'C' unit[5] year[8] -> i64 poor, near_poor, escaped, newly_poor,
 *                          relapsed                              (40 bytes)
 *        counters of the unit, INCLUDING every household of its
 *        descendants: a household counts in its unit and all ancestors.
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

enum pov_counter { C_POOR, C_NEAR, C_ESCAPED, C_NEWLY, C_RELAPSED, C_COUNT };

#define POV_YKEY_LEN (1 + PU_UNIT_W + 8)
#define POV_C_VLEN (8 * C_COUNT)
#define POV_N_VLEN 32
#define POV_H_ENTRY 16

struct poverty {
    const struct povtrack_host *host;
    double target_min_pp;
    double target_max_pp;
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
        p->host->log(ctx, POVTRACK_LOG_ERROR, "poverty: bad counter value");
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
    int rc = pu_ancestors(p->host, ctx, ev->unit, &ch);
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

static int hist_load(struct poverty *p, povtrack_ctx *ctx, const uint8_t *key,
                     size_t klen, struct hist **out, size_t *n)
{
    const void *v;
    size_t vlen;
    *out = NULL;
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
    struct hist *h = calloc(cnt + 1, sizeof *h);
    if (h == NULL)
        return POVTRACK_EIO;
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
    uint8_t *v = calloc(n, POV_H_ENTRY);
    if (v == NULL)
        return POVTRACK_EIO;
    for (size_t i = 0; i < n; i++) {
        uint8_t *e = v + i * POV_H_ENTRY;
        pu_put_i64(e, h[i].year);
        e[8] = (uint8_t)h[i].status;
        memcpy(e + 9, h[i].unit, PU_UNIT_W);
    }
    int rc = pu_put(p->host, ctx, key, klen, v, n * POV_H_ENTRY);
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

/*
 * Add sign times every counter contribution of a household's history to
 * ds: its stock status per year, and its flow of year y (escaped, newly
 * poor or relapsed), attributed to the unit of its year-y status.  ds must
 * have room for 2 * n entries.
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

        const struct hist *prev =
            e->year == INT64_MIN ? NULL : hist_find(h, n, e->year - 1);
        bool prev_poor = prev != NULL && prev->status == EV_STATUS_POOR;
        if (e->status != EV_STATUS_POOR) {
            /* Only an explicit non-poor status escapes: a missing year is
             * no information, not an escape. */
            if (prev_poor)
                delta_add(ds, nd, e->unit, e->year, C_ESCAPED, sign);
            continue;
        }
        if (prev_poor)
            continue;
        bool poor_before = false;
        for (size_t j = 0; j < n && !poor_before; j++)
            poor_before =
                h[j].year < e->year - 1 && h[j].status == EV_STATUS_POOR;
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
    if (pu_ancestors(p->host, ctx, pu_get_unit(d->unit), &ch) != 0)
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

    struct hist *h;
    size_t n;
    int rc = hist_load(p, ctx, key, klen, &h, &n);
    if (rc != 0)
        return rc;
    /* Each history entry contributes at most 2 counters, before and after
     * (the history grows by at most one entry). */
    struct delta *ds = calloc(4 * (n + 1), sizeof *ds);
    if (ds == NULL) {
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
    free(ds);
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

static int pov_alert(struct poverty *p, povtrack_ctx *ctx, const char *code,
                     enum povtrack_severity sev, const char *unit,
                     const char *msg, int64_t at)
{
    struct povtrack_alert a = {
        .size = sizeof a,
        .code = code,
        .severity = sev,
        .unit = unit,
        .household = NULL,
        .message = msg,
        .at = at,
    };
    int rc = p->host->alert(ctx, &a);
    if (rc != 0) {
        p->host->log(ctx, POVTRACK_LOG_ERROR, "poverty: alert failed (%d)", rc);
        return POVTRACK_EIO;
    }
    return 0;
}

/*
 * A closed review fixes the year's figures: compare the reduction of the
 * poor-household rate with the target.  No alert when either year's rate
 * is unknown (nothing to compare).
 */
static int apply_review(struct poverty *p, povtrack_ctx *ctx,
                        const struct ev_event *ev)
{
    struct pu_chain ch;
    if (pu_ancestors(p->host, ctx, ev->unit, &ch) != 0)
        return POVTRACK_EIO;
    struct pov_stats st;
    int rc = load_stats(p, ctx, ch.code[0], ev->data.year, &st);
    if (rc != 0 || !st.reduction_known)
        return rc;
    if (!(st.reduction_pp < p->target_min_pp))
        return 0;

    char unit[PU_UNIT_W + 1], msg[256];
    pu_cstr(ev->unit, unit, sizeof unit);
    const char *level = ev_level_name(ch.level);
    double r = st.reduction_pp;
    snprintf(msg, sizeof msg,
             "%s %s: poor-household rate %.2f%% in %lld, %s %.2f points "
             "from %.2f%% (target %.2f-%.2f)",
             level != NULL ? level : "unit", unit, st.poor_rate,
             (long long)ev->data.year, r < 0 ? "up" : "down", r < 0 ? -r : r,
             st.prev_poor_rate, p->target_min_pp, p->target_max_pp);
    rc = pov_alert(p, ctx, "poverty.target_missed", POVTRACK_WARNING, unit, msg,
                   ev->at);
    if (rc == 0 && r < 0)
        rc = pov_alert(p, ctx, "poverty.rate_rose", POVTRACK_CRITICAL, unit,
                       msg, ev->at);
    return rc;
}

/* ---- plugin callbacks ---- */

static int poverty_init(povtrack_ctx *ctx, const struct povtrack_host *host,
                        void **state)
{
    double lo = POV_DEFAULT_TARGET_MIN, hi = POV_DEFAULT_TARGET_MAX;
    if (pu_config_double(host, ctx, "target_min_pp", &lo) != 0 ||
        pu_config_double(host, ctx, "target_max_pp", &hi) != 0)
        return -1;
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

static int pack_opt_i64(msgpack_packer *pk, bool known, int64_t v)
{
    return known ? msgpack_pack_int64(pk, v) : msgpack_pack_nil(pk);
}

static int pack_opt_double(msgpack_packer *pk, bool known, double v)
{
    return known ? msgpack_pack_double(pk, v) : msgpack_pack_nil(pk);
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
    int64_t year;
    bool has_year;
    if (pu_arg_i64(q, "year", true, &year, &has_year, err, errlen) != 0)
        return -1;
    struct pov_stats st;
    if (load_stats(p, ctx, ch.code[0], year, &st) != 0) {
        snprintf(err, errlen, "internal error: state read failed");
        return POVTRACK_EIO;
    }
    struct ev_str unit = pu_get_unit(ch.code[0]);
    int e = msgpack_pack_map(pk, 11);
    e |= pu_pack_key(pk, "unit") | pu_pack_str(pk, unit.ptr, unit.len);
    e |= pu_pack_key(pk, "year") | msgpack_pack_int64(pk, year);
    e |= pu_pack_key(pk, "households") |
         pack_opt_i64(pk, st.hh_known, st.households);
    e |= pu_pack_key(pk, "poor") | msgpack_pack_int64(pk, st.c[C_POOR]);
    e |= pu_pack_key(pk, "near_poor") | msgpack_pack_int64(pk, st.c[C_NEAR]);
    e |= pu_pack_key(pk, "poor_rate") |
         pack_opt_double(pk, st.rate_known, st.poor_rate);
    e |= pu_pack_key(pk, "near_poor_rate") |
         pack_opt_double(pk, st.rate_known, st.near_rate);
    e |= pu_pack_key(pk, "escaped") | msgpack_pack_int64(pk, st.c[C_ESCAPED]);
    e |= pu_pack_key(pk, "newly_poor") | msgpack_pack_int64(pk, st.c[C_NEWLY]);
    e |= pu_pack_key(pk, "relapsed") | msgpack_pack_int64(pk, st.c[C_RELAPSED]);
    e |= pu_pack_key(pk, "reduction_pp") |
         pack_opt_double(pk, st.reduction_known, st.reduction_pp);
    if (e != 0) {
        snprintf(err, errlen, "internal error: packing failed");
        return POVTRACK_EIO;
    }
    return 0;
}

static void poverty_fini(void *state)
{
    free(state);
}

static const struct povtrack_plugin poverty_plugin = {
    .abi_version = POVTRACK_PLUGIN_ABI_VERSION,
    .size = sizeof(struct povtrack_plugin),
    .name = "poverty",
    .version = "1.0.0",
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
