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
 * "near_poor_formerly_poor", "poor_start", "exited", "flow_gap",
 * "flow_balanced", "target_pp", "multidimensional_target_pp"} (+ "as_of"
 * when asked; unknown values are nil).  multidimensional_rate = 100 *
 * (poor + near_poor) / households.  near_poor_formerly_poor: near-poor in
 * year, poor in some earlier year (escaped, but not far).  target_pp and
 * multidimensional_target_pp are the configured bands [min, max].
 *
 * Query q {"unit": code, "cohort": int} -> {"unit", "cohort", "escaped",
 * "relapsed_1y", "relapsed_2y", "relapsed_3y", "rate_1y", "rate_2y",
 * "rate_3y"}: the households that escaped in the cohort year c (poor in
 * c-1, an explicit non-poor status in c), counted in the unit of their
 * year-c status and its ancestors; relapsed_ky of them were poor again in
 * some year of c+1..c+k (cumulative); rate_ky is the percent of escaped,
 * nil when nothing escaped.  "year" and "cohort" together are refused, and
 * so is "as_of" with "cohort".
 *
 * ---- Units over time ----
 *
 * Units change (events/ev_unit.h): on 2025-07-01 districts were abolished
 * and provinces and communes merged, some keeping a predecessor's code.
 *   - A year's figures are rolled up on the hierarchy of the last instant
 *     of that year (pu_year_end, Vietnam time): a 2023 status of commune
 *     22921 counts in 22921, district 593 and province 60; a 2026 status of
 *     the merged ward 22924 counts in 22924 and province 68.
 *   - A record whose unit is not in force at the end of its year (a 2025
 *     status sent for 22921 before it merged on 2025-07-01) counts where
 *     the unit's households went (host unit_map): a merge -> the
 *     successor; a split -> the part that keeps the code, else the first
 *     successor; abolished -> the parent (and on from there); rename and
 *     reparent keep the code.  Such a unit's published households count
 *     like a child's in the successor (unless the successor publishes its
 *     own).  A record whose unit was not yet defined at the end of its
 *     year counts nowhere on that year's hierarchy (unit_map finds no
 *     trail).
 *   - poor_start(u, Y) and exited(u, Y) are the poor of Y-1 (and those of
 *     them that exited in Y) regrouped onto the hierarchy of the end of Y:
 *     each (unit c, year Y-1) goes to unit_map(c, end Y-1, end Y) and its
 *     ancestors then.
 *   - A query for a unit that was not in force at the end of the year
 *     asked is refused, naming where its households went; a unit defined
 *     only later answers zeros.
 *   - "as_of" T >= the end of Y answers Y's figures regrouped into the
 *     units in force at T: every unit c with own records in Y counts when
 *     unit_map(c, end Y, T) is U or below U at T; households are the sum
 *     of the effective households of the topmost units of Y (on the end-Y
 *     hierarchy) that map into U's subtree; the year before is regrouped
 *     to the same T (reduction_pp, poor_start, exited).  as_of before the
 *     end of Y is refused (regrouping runs forward only).
 *   - The host shows apply() the registry as the log stood at the record
 *     (povtrack_plugin.h).  A change of units is usually recorded after the
 *     records it regroups (the 2024 statuses before the July 2025 merger),
 *     so the plugin reads unit.defined (with "effective") and unit.changed
 *     itself: such an event marks the years from the one before its
 *     effective date "dirty" (meta key 'M'); the next record of another
 *     type first rebuilds those years' rolled-up keys ('C', 'N', 'B') from
 *     the own keys ('O', 'D') on the registry as it now stands.  Until then
 *     a query of a dirty year computes its answer from the own keys
 *     directly (the "as_of" code, at the end of the year), so answers never
 *     lag behind the registry.  Renames change no hierarchy and mark
 *     nothing.  The rebuild reads the log in the same order, so it gives
 *     the same state.
 *
 * ---- Flows and exits ----
 *
 * household.exited(h, Y, reason) records that h left the register in Y.
 * exited(u, Y) counts the households poor in Y-1 with an exit in Y, in the
 * unit of their Y-1 status regrouped as poor_start is.  Exits are kept in
 * the household's history beside its statuses: a Y-1 status arriving after
 * the exit is counted consistently, and a later exit for the same (h, Y)
 * replaces the earlier one.  Statuses of an exited household are counted
 * as recorded, for any year: the flow identity
 *
 *   poor_start + newly_poor + relapsed - escaped - exited = poor
 *
 * is computed from the same records as the counters, so a household
 * recorded twice (a poor status in Y and an exit in Y, or a status and an
 * exit both leaving) shows as a gap, not hidden.  flow_gap = poor - (the
 * left side): negative when records are missing (a household poor in Y-1
 * with neither a status in Y nor an exit), positive when households are
 * poor at the end without a flow (moved in while poor, or counted twice).
 * A household moving between units while poor leaves a gap in both
 * units; their common ancestor balances.
 *
 * ---- Alerts (on review.closed(u, y)) ----
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
 * ---- State ----
 *
 * See plugin_util.h for the encoding: all integers big-endian, years in
 * keys sign-flipped, unit codes NUL-padded to 5 bytes.  Keys of yearly
 * figures are year first so that a year's units can be scanned.
 *
 *   'M' -> u8 layout (2), 7 bytes zero, i64 dirty_from        (16 bytes)
 *        the layout marker, and the first year whose rolled-up keys must
 *        be rebuilt (INT64_MAX: none).  A state without it that holds
 *        anything was written by an older version and is refused.
 *   'O' year[8] unit[5] -> i64 x C_COUNT                       (80 bytes)
 *        own counters: records of households filed directly under unit
 *        (as recorded, even when the unit is not in force at the end of
 *        the year).  The counters, in order: poor, near_poor, escaped,
 *        newly_poor, relapsed, near_poor_formerly_poor, relapsed_1y,
 *        relapsed_2y, relapsed_3y, exited_next (poor here in year, exited
 *        in year+1).
 *   'C' year[8] unit[5] -> the same counters, of the unit INCLUDING every
 *        household of its descendants on the hierarchy of the end of the
 *        year.  The relapsed_ky counters are keyed by the cohort year (the
 *        year of the escape), so a cohort query is this one key.
 *   'B' year[8] unit[5] -> i64 poor_start, i64 exited          (16 bytes)
 *        poor and exited_next of year-1 regrouped onto the end-of-year
 *        hierarchy (see above), rolled up.
 *   'D' year[8] unit[5] -> i64 published                        (8 bytes)
 *        the last unit.households of (unit, year), as published.
 *   'N' year[8] unit[5] -> u8 has_published, 7 bytes zero, i64 published,
 *                          i64 childsum, i64 childknown          (32 bytes)
 *        the household denominator on the end-of-year hierarchy.  eff =
 *        published when has_published, else childsum when childknown > 0
 *        (at least one child has a known eff), else unknown.
 *        childsum/childknown are maintained by delta propagation up the
 *        ancestor chain whenever a unit's eff changes.
 *   'H' household -> n x { i64 year, u8 kind, unit[5], 2 bytes zero }
 *        the household's history (16 bytes an entry, sorted by year, a
 *        year's status before its exit): kind is the status (1-4), or
 *        0x80 | the exit reason for a household.exited.  A changed record
 *        recomputes that household's contributions and applies only the
 *        differences.
 *   'R' unit[5] cohort[8] k[1] -> empty
 *        relapse_high already raised for (unit, cohort, k).
 *   'F' year[8] unit[5] + 6 x i64 (start, newly, relapsed, escaped,
 *        exited, poor) -> empty: flow_mismatch already raised with these
 *        numbers.
 *
 * A state written by version 1.x (no 'M' marker; unit-first keys) is
 * refused as corrupt rather than misread: rebuild it (remove DATA/state)
 * after upgrading.
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
#define POV_DEFAULT_MD_TARGET_MIN 1.0 /* national: 1-1.5 points a year */
#define POV_DEFAULT_MD_TARGET_MAX 1.5
#define POV_DEFAULT_RELAPSE_MAX 10.0 /* percent of a cohort */
#define POV_RELAPSE_YEARS 3          /* relapsed_1y .. relapsed_3y */

#define POV_LAYOUT 2
/* Years of the catalogue (ev_event.c) and of queries. */
#define POV_YEAR_FIRST 2000
#define POV_YEAR_LAST 2100
#define POV_QYEAR_MIN 1000
#define POV_QYEAR_MAX 9999
#define POV_CLEAN INT64_MAX /* dirty_from when nothing is dirty */

enum pov_counter {
    C_POOR,
    C_NEAR,
    C_ESCAPED,
    C_NEWLY,
    C_RELAPSED,
    C_NEAR_FORMER, /* near-poor, poor in an earlier year */
    C_REL1,        /* escaped this year, poor again within 1 year; C_REL1 +
                      k - 1 for k years */
    C_EXIT_NEXT = C_REL1 + POV_RELAPSE_YEARS, /* poor, exited next year */
    C_COUNT
};

#define POV_YKEY_LEN (1 + 8 + PU_UNIT_W)
#define POV_C_VLEN (8 * C_COUNT)
#define POV_B_VLEN 16
#define POV_D_VLEN 8
#define POV_N_VLEN 32
#define POV_M_VLEN 16
#define POV_H_ENTRY 16
#define POV_H_EXIT 0x80u

struct poverty {
    const struct povtrack_host *host;
    double target_min_pp;
    double target_max_pp;
    double md_min_pp; /* multidimensional band */
    double md_max_pp;
    double relapse_max_share; /* percent */
    struct pu_units units;    /* unit chains met so far (apply only) */
};

/* One entry of a household's history: a status, or an exit. */
struct hist {
    int64_t year;
    bool exit;
    enum ev_status status; /* !exit */
    enum ev_exit reason;   /* exit */
    uint8_t unit[PU_UNIT_W];
};

/* Counter changes for one (unit, year), summed before touching storage so
 * that a replaced record whose contributions cancel writes nothing. */
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

static void ykey(uint8_t *k, char prefix, int64_t year, const uint8_t *unit)
{
    k[0] = (uint8_t)prefix;
    pu_put_key_i64(k + 1, year);
    memcpy(k + 9, unit, PU_UNIT_W);
}

/* The 9-byte prefix of year's keys. */
static void yprefix(uint8_t *k, char prefix, int64_t year)
{
    k[0] = (uint8_t)prefix;
    pu_put_key_i64(k + 1, year);
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

static bool all_zero(const int64_t *d, int n)
{
    for (int i = 0; i < n; i++)
        if (d[i] != 0)
            return false;
    return true;
}

/* ---- the layout marker and the dirty years ---- */

static int first_key_fn(void *arg, const void *key, size_t klen,
                        const void *val, size_t vlen)
{
    (void)key;
    (void)klen;
    (void)val;
    (void)vlen;
    *(bool *)arg = true;
    return 1;
}

/*
 * Read 'M' into *dirty_from.  A state without it is new (empty: written
 * now when writable) or of an older layout (refused).  Returns 0,
 * POVTRACK_EINVAL for a state of another layout or POVTRACK_EIO (both
 * logged).
 */
static int meta_load(struct poverty *p, povtrack_ctx *ctx, bool writable,
                     int64_t *dirty_from)
{
    const void *v;
    size_t vlen;
    uint8_t key = 'M';
    *dirty_from = POV_CLEAN;
    int rc = pu_get(p->host, ctx, &key, 1, &v, &vlen);
    if (rc < 0)
        return rc;
    if (rc == 1) {
        const uint8_t *b = v;
        if (vlen != POV_M_VLEN || b[0] != POV_LAYOUT) {
            p->host->log(ctx, POVTRACK_LOG_ERROR,
                         "poverty: state layout %u is not %d: remove "
                         "DATA/state and let the host rebuild it",
                         vlen > 0 ? (unsigned)b[0] : 0u, POV_LAYOUT);
            return POVTRACK_EINVAL;
        }
        *dirty_from = pu_get_i64(b + 8);
        return 0;
    }
    bool any = false;
    rc = p->host->scan(ctx, "", 0, NULL, 0, first_key_fn, &any);
    if (rc != 0 && !any) {
        p->host->log(ctx, POVTRACK_LOG_ERROR, "poverty: state scan failed (%d)",
                     rc);
        return POVTRACK_EIO;
    }
    if (any) {
        p->host->log(ctx, POVTRACK_LOG_ERROR,
                     "poverty: the state was written by an older version "
                     "(no layout marker): remove DATA/state and let the host "
                     "rebuild it");
        return POVTRACK_EINVAL;
    }
    if (!writable)
        return 0;
    uint8_t m[POV_M_VLEN] = {POV_LAYOUT};
    pu_put_i64(m + 8, POV_CLEAN);
    return pu_put(p->host, ctx, &key, 1, m, sizeof m);
}

static int meta_put(struct poverty *p, povtrack_ctx *ctx, int64_t dirty_from)
{
    uint8_t key = 'M', m[POV_M_VLEN] = {POV_LAYOUT};
    pu_put_i64(m + 8, dirty_from);
    return pu_put(p->host, ctx, &key, 1, m, sizeof m);
}

/* ---- storage of counters and denominators ---- */

/* Counters 'C' or 'O' of (year, unit).  Returns 0 (absent reads as zeros)
 * or POVTRACK_EIO. */
static int counters_get(struct poverty *p, povtrack_ctx *ctx, char prefix,
                        int64_t year, const uint8_t *unit, int64_t c[C_COUNT])
{
    uint8_t k[POV_YKEY_LEN];
    const void *v;
    size_t vlen;
    ykey(k, prefix, year, unit);
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

static int counters_add(struct poverty *p, povtrack_ctx *ctx, char prefix,
                        int64_t year, const uint8_t *unit,
                        const int64_t d[C_COUNT])
{
    int64_t c[C_COUNT];
    int rc = counters_get(p, ctx, prefix, year, unit, c);
    if (rc != 0)
        return rc;
    uint8_t k[POV_YKEY_LEN], v[POV_C_VLEN];
    for (int i = 0; i < C_COUNT; i++)
        pu_put_i64(v + 8 * i, c[i] + d[i]);
    ykey(k, prefix, year, unit);
    return pu_put(p->host, ctx, k, sizeof k, v, sizeof v);
}

/* 'B' of (year, unit): poor_start and exited. */
static int start_get(struct poverty *p, povtrack_ctx *ctx, int64_t year,
                     const uint8_t *unit, int64_t b[2])
{
    uint8_t k[POV_YKEY_LEN];
    const void *v;
    size_t vlen;
    ykey(k, 'B', year, unit);
    b[0] = b[1] = 0;
    int rc = pu_get(p->host, ctx, k, sizeof k, &v, &vlen);
    if (rc <= 0)
        return rc;
    if (vlen != POV_B_VLEN) {
        p->host->log(ctx, POVTRACK_LOG_ERROR, "poverty: bad 'B' value");
        return POVTRACK_EIO;
    }
    b[0] = pu_get_i64(v);
    b[1] = pu_get_i64((const uint8_t *)v + 8);
    return 0;
}

static int start_add(struct poverty *p, povtrack_ctx *ctx, int64_t year,
                     const uint8_t *unit, int64_t poor, int64_t exited)
{
    int64_t b[2];
    int rc = start_get(p, ctx, year, unit, b);
    if (rc != 0)
        return rc;
    uint8_t k[POV_YKEY_LEN], v[POV_B_VLEN];
    pu_put_i64(v, b[0] + poor);
    pu_put_i64(v + 8, b[1] + exited);
    ykey(k, 'B', year, unit);
    return pu_put(p->host, ctx, k, sizeof k, v, sizeof v);
}

static int denom_get(struct poverty *p, povtrack_ctx *ctx, int64_t year,
                     const uint8_t *unit, struct denom *n)
{
    uint8_t k[POV_YKEY_LEN];
    const void *v;
    size_t vlen;
    ykey(k, 'N', year, unit);
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

static int denom_put(struct poverty *p, povtrack_ctx *ctx, int64_t year,
                     const uint8_t *unit, const struct denom *n)
{
    uint8_t k[POV_YKEY_LEN], v[POV_N_VLEN] = {0};
    ykey(k, 'N', year, unit);
    v[0] = n->has_published ? 1 : 0;
    pu_put_i64(v + 8, n->published);
    pu_put_i64(v + 16, n->childsum);
    pu_put_i64(v + 24, n->childknown);
    return pu_put(p->host, ctx, k, sizeof k, v, sizeof v);
}

/* ---- scanning a year ---- */

/* The entries of one prefix and year: unit[5] then the value (vlen bytes;
 * 0 keeps no value), one after another. */
struct coll {
    uint8_t *buf;
    size_t n, cap; /* entries */
    size_t vlen;
    int err;
};

static int coll_fn(void *arg, const void *key, size_t klen, const void *val,
                   size_t vlen)
{
    struct coll *c = arg;
    size_t esz = PU_UNIT_W + c->vlen;
    if (klen != POV_YKEY_LEN || (c->vlen != 0 && vlen != c->vlen)) {
        c->err = POVTRACK_EINVAL;
        return 1;
    }
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        uint8_t *b = realloc(c->buf, cap * esz);
        if (b == NULL) {
            c->err = POVTRACK_EIO;
            return 1;
        }
        c->buf = b;
        c->cap = cap;
    }
    uint8_t *e = c->buf + c->n * esz;
    memcpy(e, (const uint8_t *)key + 9, PU_UNIT_W);
    if (c->vlen != 0)
        memcpy(e + PU_UNIT_W, val, c->vlen);
    c->n++;
    return 0;
}

/* Collect the (year) entries of prefix into c (c->vlen set by the caller).
 * Returns 0 or POVTRACK_EIO (logged); the caller frees c->buf. */
static int coll_year(const struct povtrack_host *host, povtrack_ctx *ctx,
                     char prefix, int64_t year, struct coll *c)
{
    uint8_t from[9], to[9];
    yprefix(from, prefix, year);
    yprefix(to, prefix, year + 1);
    c->buf = NULL;
    c->n = c->cap = 0;
    c->err = 0;
    int rc = host->scan(ctx, from, sizeof from, to, sizeof to, coll_fn, c);
    if (c->err == POVTRACK_EINVAL) {
        host->log(ctx, POVTRACK_LOG_ERROR, "poverty: bad '%c' entry of %lld",
                  prefix, (long long)year);
        return POVTRACK_EIO;
    }
    if (c->err != 0 || rc != 0) {
        host->log(ctx, POVTRACK_LOG_ERROR,
                  "poverty: scan of '%c' %lld failed (%d)", prefix,
                  (long long)year, c->err != 0 ? c->err : rc);
        return POVTRACK_EIO;
    }
    return 0;
}

static const uint8_t *coll_at(const struct coll *c, size_t i)
{
    return c->buf + i * (PU_UNIT_W + c->vlen);
}

/* Delete every key of prefix and year. */
static int del_year(struct poverty *p, povtrack_ctx *ctx, char prefix,
                    int64_t year)
{
    struct coll c = {.vlen = 0};
    int rc = coll_year(p->host, ctx, prefix, year, &c);
    for (size_t i = 0; rc == 0 && i < c.n; i++) {
        uint8_t k[POV_YKEY_LEN];
        ykey(k, prefix, year, coll_at(&c, i));
        rc = pu_del(p->host, ctx, k, sizeof k);
    }
    free(c.buf);
    return rc;
}

/* ---- the unit registry ---- */

/* The chain of unit at "at" (pu_ancestors_cached_at): 0, POVTRACK_NOTFOUND
 * (the unit leads nowhere then) or POVTRACK_EIO (logged). */
static int chain_at(struct poverty *p, povtrack_ctx *ctx,
                    struct pu_units *cache, const uint8_t *unit, int64_t at,
                    struct pu_chain *ch)
{
    int rc =
        pu_ancestors_cached_at(p->host, ctx, cache, pu_get_unit(unit), at, ch);
    if (rc == 0 || rc == POVTRACK_NOTFOUND)
        return rc;
    return POVTRACK_EIO;
}

/* Where the households of unit as of "from" are at "to" (host unit_map),
 * copied into out: 0, POVTRACK_NOTFOUND or POVTRACK_EIO (logged). */
static int map_unit(struct poverty *p, povtrack_ctx *ctx, const uint8_t *unit,
                    int64_t from, int64_t to, uint8_t *out)
{
    const struct povtrack_host *h = p->host;
    if (h->size < POVTRACK_HOST_SIZE_UNITS) {
        h->log(ctx, POVTRACK_LOG_ERROR,
               "the plugin host is too old: it has no unit_map");
        return POVTRACK_EIO;
    }
    struct ev_str code = pu_get_unit(unit), m;
    int rc = h->unit_map(ctx, code, from, to, &m);
    if (rc == POVTRACK_NOTFOUND)
        return rc;
    if (rc != 0 || pu_put_unit(out, m) != 0) {
        h->log(ctx, POVTRACK_LOG_ERROR,
               "poverty: unit registry: mapping %.*s failed (%d)",
               (int)code.len, code.ptr, rc);
        return POVTRACK_EIO;
    }
    return 0;
}

/* ---- unit.households ---- */

/*
 * A unit's effective households went from (ok, ov) to (nk, nv): move each
 * ancestor's childsum from ch->code[start] up by the difference, stopping
 * at the first whose own effective value does not change (it has a
 * published value).
 */
static int denom_propagate(struct poverty *p, povtrack_ctx *ctx, int64_t year,
                           const struct pu_chain *ch, int start, bool ok,
                           int64_t ov, bool nk, int64_t nv)
{
    for (int i = start; i < ch->n; i++) {
        if (ok == nk && ov == nv)
            break;
        struct denom n;
        int rc = denom_get(p, ctx, year, ch->code[i], &n);
        if (rc != 0)
            return rc;
        bool pk = denom_known(&n);
        int64_t pv = denom_value(&n);
        n.childsum += nv - ov;
        n.childknown += (int64_t)nk - (int64_t)ok;
        if ((rc = denom_put(p, ctx, year, ch->code[i], &n)) != 0)
            return rc;
        ok = pk;
        ov = pv;
        nk = denom_known(&n);
        nv = denom_value(&n);
    }
    return 0;
}

/*
 * Publish households(unit, year) = value ('D') and move the effective
 * values on the end-of-year hierarchy ('N').  A unit in force then holds
 * the value as published; one that is not counts as a child of where its
 * households went.  replay: rebuilding 'N' from 'D' (the unit had no
 * contribution yet, and 'D' stays as it is).
 */
static int households_set(struct poverty *p, povtrack_ctx *ctx, int64_t year,
                          const uint8_t *unit, int64_t value, bool replay)
{
    bool dk = false;
    int64_t dv = 0;
    int rc;
    if (!replay) {
        uint8_t k[POV_YKEY_LEN], v[POV_D_VLEN];
        const void *old;
        size_t vlen;
        ykey(k, 'D', year, unit);
        if ((rc = pu_get(p->host, ctx, k, sizeof k, &old, &vlen)) < 0)
            return rc;
        if (rc == 1) {
            if (vlen != POV_D_VLEN) {
                p->host->log(ctx, POVTRACK_LOG_ERROR, "poverty: bad 'D' value");
                return POVTRACK_EIO;
            }
            dk = true;
            dv = pu_get_i64(old);
        }
        pu_put_i64(v, value);
        if ((rc = pu_put(p->host, ctx, k, sizeof k, v, sizeof v)) != 0)
            return rc;
    }
    struct pu_chain ch;
    rc = chain_at(p, ctx, &p->units, unit, pu_year_end(year), &ch);
    if (rc == POVTRACK_NOTFOUND)
        return 0; /* leads nowhere at the end of the year */
    if (rc != 0)
        return rc;
    if (ch.mapped)
        return denom_propagate(p, ctx, year, &ch, 0, dk, dv, true, value);
    struct denom n;
    if ((rc = denom_get(p, ctx, year, ch.code[0], &n)) != 0)
        return rc;
    bool ok = denom_known(&n);
    int64_t ov = denom_value(&n);
    n.has_published = true;
    n.published = value;
    if ((rc = denom_put(p, ctx, year, ch.code[0], &n)) != 0)
        return rc;
    return denom_propagate(p, ctx, year, &ch, 1, ok, ov, true, value);
}

static int apply_households(struct poverty *p, povtrack_ctx *ctx,
                            const struct ev_event *ev)
{
    uint8_t unit[PU_UNIT_W];
    if (pu_put_unit(unit, ev->unit) != 0)
        return POVTRACK_EIO; /* the unit passed the reference checks */
    return households_set(p, ctx, ev->data.year, unit, ev->data.households,
                          false);
}

/* ---- counters: own, rolled up, and regrouped into the next year ---- */

/*
 * Add d (counters of records filed under unit in year) to the rolled-up
 * keys: 'C' of the unit's chain at the end of the year, and for poor and
 * exited_next, 'B' of year+1 on the chain of where the unit's households
 * are at the end of year+1.
 */
static int roll_up(struct poverty *p, povtrack_ctx *ctx, const uint8_t *unit,
                   int64_t year, const int64_t d[C_COUNT])
{
    struct pu_chain ch, nx;
    int64_t end = pu_year_end(year), next = pu_year_end(year + 1);
    int rc = chain_at(p, ctx, &p->units, unit, end, &ch);
    if (rc != 0 && rc != POVTRACK_NOTFOUND)
        return rc;
    bool found = rc == 0;
    for (int i = 0; found && i < ch.n; i++)
        if ((rc = counters_add(p, ctx, 'C', year, ch.code[i], d)) != 0)
            return rc;
    if (d[C_POOR] == 0 && d[C_EXIT_NEXT] == 0)
        return 0;
    if (found && !ch.mapped && ch.to > next) {
        nx = ch; /* the same chain still holds at the end of year+1 */
    } else {
        uint8_t m[PU_UNIT_W];
        rc = map_unit(p, ctx, unit, end, next, m);
        if (rc == 0)
            rc = chain_at(p, ctx, &p->units, m, next, &nx);
        if (rc == POVTRACK_NOTFOUND)
            return 0;
        if (rc != 0)
            return rc;
    }
    for (int i = 0; i < nx.n; i++)
        if ((rc = start_add(p, ctx, year + 1, nx.code[i], d[C_POOR],
                            d[C_EXIT_NEXT])) != 0)
            return rc;
    return 0;
}

/* Apply one (unit, year) counter change: own key, then rolled up. */
static int delta_apply(struct poverty *p, povtrack_ctx *ctx,
                       const struct delta *d)
{
    if (all_zero(d->d, C_COUNT))
        return 0;
    int rc = counters_add(p, ctx, 'O', d->year, d->unit, d->d);
    if (rc == 0)
        rc = roll_up(p, ctx, d->unit, d->year, d->d);
    return rc;
}

/* ---- households' histories ---- */

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
    /* One spare entry for the record the caller may insert. */
    struct hist *h = cnt + 1 <= cap ? buf : calloc(cnt + 1, sizeof *h);
    if (h == NULL)
        return POVTRACK_EIO;
    memset(h, 0, (cnt + 1) * sizeof *h);
    for (size_t i = 0; i < cnt; i++) {
        const uint8_t *e = (const uint8_t *)v + i * POV_H_ENTRY;
        h[i].year = pu_get_i64(e);
        h[i].exit = (e[8] & POV_H_EXIT) != 0;
        if (h[i].exit)
            h[i].reason = (enum ev_exit)(e[8] & ~POV_H_EXIT);
        else
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
        e[8] = h[i].exit ? (uint8_t)(POV_H_EXIT | (unsigned)h[i].reason)
                         : (uint8_t)h[i].status;
        memcpy(e + 9, h[i].unit, PU_UNIT_W);
    }
    int rc = pu_put(p->host, ctx, key, klen, v, n * POV_H_ENTRY);
    if (v != buf)
        free(v);
    return rc;
}

/* The status entry of year (exits are not statuses). */
static const struct hist *hist_find(const struct hist *h, size_t n,
                                    int64_t year)
{
    for (size_t i = 0; i < n; i++)
        if (h[i].year == year && !h[i].exit)
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

/* Whether the history has a poor status in [lo, hi]. */
static bool poor_in(const struct hist *h, size_t n, int64_t lo, int64_t hi)
{
    for (size_t j = 0; j < n; j++)
        if (!h[j].exit && h[j].year >= lo && h[j].year <= hi &&
            h[j].status == EV_STATUS_POOR)
            return true;
    return false;
}

/*
 * Add sign times every counter contribution of a household's history to
 * ds: its stock status per year, and its flows of year y (escaped, newly
 * poor or relapsed; near-poor formerly poor; and, for an escape, whether
 * it was poor again within 1..3 years), all attributed to the unit of its
 * year-y status, so all of one entry's counters land in one delta; and for
 * an exit in y of a household poor in y-1, exited_next in the unit and
 * year of that y-1 status (the same delta as its poor count).  ds must
 * have room for 2 * n entries.  Years are 2000-2100 (the catalogue's
 * range), so year +- 3 cannot overflow.
 */
static void hist_contrib(const struct hist *h, size_t n, int64_t sign,
                         struct delta *ds, size_t *nd)
{
    for (size_t i = 0; i < n; i++) {
        const struct hist *e = &h[i];
        const struct hist *prev = hist_find(h, n, e->year - 1);
        bool prev_poor = prev != NULL && prev->status == EV_STATUS_POOR;
        if (e->exit) {
            if (prev_poor)
                delta_add(ds, nd, prev->unit, prev->year, C_EXIT_NEXT, sign);
            continue;
        }
        if (e->status == EV_STATUS_POOR)
            delta_add(ds, nd, e->unit, e->year, C_POOR, sign);
        else if (e->status == EV_STATUS_NEAR_POOR)
            delta_add(ds, nd, e->unit, e->year, C_NEAR, sign);

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

/*
 * Record a status (or an exit) of household h in a year, replacing any
 * earlier record of the same kind for that year.  The household's
 * contributions are computed from its whole history before and after the
 * change and only the difference is applied: a replacement moves the
 * household between statuses or units without double counting, and the
 * years around it get their flows corrected.
 */
static int apply_record(struct poverty *p, povtrack_ctx *ctx,
                        const struct ev_event *ev, bool exit)
{
    uint8_t key[1 + EV_HOUSEHOLD_MAX];
    if (ev->household.ptr == NULL || ev->household.len == 0 ||
        ev->household.len > EV_HOUSEHOLD_MAX) {
        p->host->log(ctx, POVTRACK_LOG_ERROR,
                     "poverty: %s without a valid household",
                     exit ? "household.exited" : "household.status");
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
    /* Each status entry's counters land in its own (unit, year) delta and
     * an exit's in its year-before status's, before and after (the history
     * grows by at most one entry). */
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
    /* Sorted by year, a year's status before its exit. */
    int64_t year = ev->data.year;
    size_t i = 0;
    while (i < n &&
           (h[i].year < year || (h[i].year == year && !h[i].exit && exit)))
        i++;
    if (i == n || h[i].year != year || h[i].exit != exit) {
        memmove(&h[i + 1], &h[i], (n - i) * sizeof *h);
        n++;
        memset(&h[i], 0, sizeof h[i]);
        h[i].year = year;
        h[i].exit = exit;
    }
    if (exit)
        h[i].reason = ev->data.exit_reason;
    else
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

/* ---- changes of units ---- */

/*
 * Rebuild the rolled-up keys that depend on the hierarchy from year on
 * ('C' and 'N' of year and later, 'B' of year+1 and later) from the own
 * keys, on the registry as it stands at this record.
 */
static int reconcile_year(struct poverty *p, povtrack_ctx *ctx, int64_t year)
{
    int rc = del_year(p, ctx, 'C', year);
    if (rc == 0)
        rc = del_year(p, ctx, 'N', year);
    if (rc == 0)
        rc = del_year(p, ctx, 'B', year + 1);
    if (rc != 0)
        return rc;
    struct coll c = {.vlen = POV_C_VLEN};
    rc = coll_year(p->host, ctx, 'O', year, &c);
    for (size_t i = 0; rc == 0 && i < c.n; i++) {
        const uint8_t *e = coll_at(&c, i);
        int64_t d[C_COUNT];
        for (int j = 0; j < C_COUNT; j++)
            d[j] = pu_get_i64(e + PU_UNIT_W + 8 * j);
        rc = roll_up(p, ctx, e, year, d);
    }
    free(c.buf);
    if (rc != 0)
        return rc;
    struct coll dn = {.vlen = POV_D_VLEN};
    rc = coll_year(p->host, ctx, 'D', year, &dn);
    for (size_t i = 0; rc == 0 && i < dn.n; i++) {
        const uint8_t *e = coll_at(&dn, i);
        rc = households_set(p, ctx, year, e, pu_get_i64(e + PU_UNIT_W), true);
    }
    free(dn.buf);
    return rc;
}

static int reconcile(struct poverty *p, povtrack_ctx *ctx, int64_t from)
{
    if (from < POV_YEAR_FIRST - 1)
        from = POV_YEAR_FIRST - 1;
    for (int64_t y = from; y <= POV_YEAR_LAST; y++) {
        int rc = reconcile_year(p, ctx, y);
        if (rc != 0)
            return rc;
    }
    return meta_put(p, ctx, POV_CLEAN);
}

/*
 * A unit.defined with "effective" (a code going on under a new parent, or
 * a new code) or a unit.changed other than a rename may move households
 * of the year before its effective date on (their 'B') and of its year on.
 */
static int apply_unit_event(struct poverty *p, povtrack_ctx *ctx,
                            const struct ev_event *ev, int64_t dirty_from)
{
    if (!ev->data.has_effective)
        return 0;
    if (ev->type == EV_UNIT_CHANGED && ev->data.change == EV_CHANGE_RENAME)
        return 0;
    int64_t e = ev->data.effective;
    if (ev->type == EV_UNIT_DEFINED) {
        /* A code new at e moves nothing: nothing was filed under it. */
        struct povtrack_unit u = {.size = sizeof u};
        if (p->host->size < POVTRACK_HOST_SIZE_UNITS)
            return POVTRACK_EIO;
        int rc = e == INT64_MIN ? POVTRACK_NOTFOUND
                                : p->host->unit_at(ctx, ev->unit, e - 1, &u);
        if (rc == POVTRACK_NOTFOUND || rc == POVTRACK_NOTINFORCE)
            return 0;
        if (rc != 0)
            return POVTRACK_EIO;
    }
    int64_t y = pu_local_year(e) - 1;
    if (y >= dirty_from)
        return 0;
    return meta_put(p, ctx, y);
}

/* ---- regrouping from the own keys ---- */

/* A small map from unit codes to int32 (open addressing). */
struct cmap {
    uint8_t (*key)[PU_UNIT_W];
    int32_t *val;
    size_t cap, n; /* cap a power of two, or 0 */
};

static void cmap_free(struct cmap *m)
{
    free(m->key);
    free(m->val);
    memset(m, 0, sizeof *m);
}

static size_t cmap_idx(const struct cmap *m, const uint8_t *code, bool *found)
{
    size_t i = pu_units_hash(code) & (m->cap - 1);
    while (m->val[i] != INT32_MIN) {
        if (memcmp(m->key[i], code, PU_UNIT_W) == 0) {
            *found = true;
            return i;
        }
        i = (i + 1) & (m->cap - 1);
    }
    *found = false;
    return i;
}

/* The value of code, or INT32_MIN when absent. */
static int32_t cmap_get(const struct cmap *m, const uint8_t *code)
{
    bool found;
    if (m->cap == 0)
        return INT32_MIN;
    size_t i = cmap_idx(m, code, &found);
    return found ? m->val[i] : INT32_MIN;
}

static int cmap_put(struct cmap *m, const uint8_t *code, int32_t v)
{
    if ((m->n + 1) * 2 > m->cap) {
        struct cmap old = *m;
        size_t cap = m->cap ? m->cap * 2 : 64;
        m->key = calloc(cap, sizeof *m->key);
        m->val = malloc(cap * sizeof *m->val);
        if (m->key == NULL || m->val == NULL) {
            free(m->key);
            free(m->val);
            *m = old;
            return POVTRACK_EIO;
        }
        m->cap = cap;
        m->n = 0;
        for (size_t i = 0; i < cap; i++)
            m->val[i] = INT32_MIN;
        for (size_t i = 0; i < old.cap; i++)
            if (old.val[i] != INT32_MIN)
                (void)cmap_put(m, old.key[i], old.val[i]); /* fits */
        cmap_free(&old);
    }
    bool found;
    size_t i = cmap_idx(m, code, &found);
    if (!found) {
        memcpy(m->key[i], code, PU_UNIT_W);
        m->n++;
    }
    m->val[i] = v;
    return 0;
}

/* A unit of the end-of-year hierarchy that holds households. */
struct rg_node {
    uint8_t code[PU_UNIT_W];
    int32_t parent; /* index, -1 for none */
    int depth;
    bool published;
    int64_t pub, childsum, childknown;
};

/* What a year's figures give regrouped into one unit at one instant. */
struct rg_result {
    int64_t c[C_COUNT];
    bool hh_known;
    int64_t households;
};

struct rg {
    struct poverty *p;
    povtrack_ctx *ctx;
    int64_t from, at; /* the end of the year, the instant regrouped to */
    uint8_t unit[PU_UNIT_W];
    struct pu_units cache; /* this call's chains */
    struct cmap in;        /* code -> 0/1: maps into unit's subtree */
    struct cmap idx;       /* code -> node index */
    struct rg_node *node;
    size_t nnode, capnode;
};

static void rg_free(struct rg *g)
{
    pu_units_free(&g->cache);
    cmap_free(&g->in);
    cmap_free(&g->idx);
    free(g->node);
    g->node = NULL;
    g->nnode = g->capnode = 0;
}

/* Whether code's households (as of g->from) are in g->unit's subtree at
 * g->at: 1 or 0 in *in; 0 or POVTRACK_EIO. */
static int rg_in(struct rg *g, const uint8_t *code, int *in)
{
    int32_t v = cmap_get(&g->in, code);
    if (v != INT32_MIN) {
        *in = v;
        return 0;
    }
    uint8_t m[PU_UNIT_W];
    struct pu_chain ch;
    int rc = map_unit(g->p, g->ctx, code, g->from, g->at, m);
    if (rc == 0)
        rc = chain_at(g->p, g->ctx, &g->cache, m, g->at, &ch);
    *in = 0;
    if (rc == 0) {
        for (int i = 0; i < ch.n; i++)
            if (memcmp(ch.code[i], g->unit, PU_UNIT_W) == 0)
                *in = 1;
    } else if (rc != POVTRACK_NOTFOUND) {
        return rc;
    }
    return cmap_put(&g->in, code, *in);
}

/* The node of code (created under parent when new). */
static int rg_node_of(struct rg *g, const uint8_t *code, int32_t parent,
                      int32_t *out)
{
    int32_t v = cmap_get(&g->idx, code);
    if (v != INT32_MIN) {
        *out = v;
        return 0;
    }
    if (g->nnode == g->capnode) {
        size_t cap = g->capnode ? g->capnode * 2 : 64;
        struct rg_node *nn = realloc(g->node, cap * sizeof *nn);
        if (nn == NULL || cap > INT32_MAX)
            return POVTRACK_EIO;
        g->node = nn;
        g->capnode = cap;
    }
    struct rg_node *nd = &g->node[g->nnode];
    memset(nd, 0, sizeof *nd);
    memcpy(nd->code, code, PU_UNIT_W);
    nd->parent = parent;
    nd->depth = parent < 0 ? 0 : g->node[parent].depth + 1;
    *out = (int32_t)g->nnode++;
    return cmap_put(&g->idx, code, *out);
}

/* Node indexes ordered deepest first. */
struct rg_order {
    int depth;
    int32_t idx;
};

static int rg_order_cmp(const void *a, const void *b)
{
    const struct rg_order *x = a, *y = b;
    if (x->depth != y->depth)
        return (x->depth < y->depth) - (x->depth > y->depth);
    return (x->idx > y->idx) - (x->idx < y->idx);
}

/*
 * The households of year regrouped: the effective households of the end-
 * of-year units (rebuilt from 'D' as households_set keeps them in 'N'),
 * summed over the topmost of them that map into g->unit's subtree.
 */
static int rg_households(struct rg *g, int64_t year, struct rg_result *out)
{
    struct coll dn = {.vlen = POV_D_VLEN};
    int rc = coll_year(g->p->host, g->ctx, 'D', year, &dn);
    for (size_t i = 0; rc == 0 && i < dn.n; i++) {
        const uint8_t *e = coll_at(&dn, i);
        struct pu_chain ch;
        rc = chain_at(g->p, g->ctx, &g->cache, e, g->from, &ch);
        if (rc == POVTRACK_NOTFOUND) {
            rc = 0;
            continue;
        }
        int32_t parent = -1, at = -1;
        for (int j = ch.n - 1; rc == 0 && j >= 0; j--) {
            rc = rg_node_of(g, ch.code[j], parent, &at);
            parent = at;
        }
        if (rc == 0 && ch.mapped)
            rc = rg_node_of(g, e, parent, &at); /* a child of its successor */
        if (rc == 0) {
            g->node[at].published = true;
            g->node[at].pub = pu_get_i64(e + PU_UNIT_W);
        }
    }
    free(dn.buf);
    if (rc != 0 || g->nnode == 0)
        return rc;
    /* Deepest first: a node's eff is final before it reaches its parent. */
    struct rg_order *ord = malloc(g->nnode * sizeof *ord);
    if (ord == NULL)
        return POVTRACK_EIO;
    for (size_t i = 0; i < g->nnode; i++) {
        ord[i].depth = g->node[i].depth;
        ord[i].idx = (int32_t)i;
    }
    qsort(ord, g->nnode, sizeof *ord, rg_order_cmp);
    for (size_t i = 0; i < g->nnode; i++) {
        const struct rg_node *nd = &g->node[ord[i].idx];
        if (nd->parent < 0 || !(nd->published || nd->childknown > 0))
            continue;
        g->node[nd->parent].childsum += nd->published ? nd->pub : nd->childsum;
        g->node[nd->parent].childknown++;
    }
    free(ord);
    for (size_t i = 0; rc == 0 && i < g->nnode; i++) {
        const struct rg_node *nd = &g->node[i];
        int in = 0, pin = 0;
        if (!(nd->published || nd->childknown > 0))
            continue;
        if ((rc = rg_in(g, nd->code, &in)) != 0 || !in)
            continue;
        if (nd->parent >= 0 &&
            ((rc = rg_in(g, g->node[nd->parent].code, &pin)) != 0 || pin))
            continue; /* covered by its parent */
        out->hh_known = true;
        out->households += nd->published ? nd->pub : nd->childsum;
    }
    return rc;
}

/*
 * Year's figures regrouped into unit as the units stand at "at" (>= the
 * end of year): counters from 'O', and households when want_hh.
 * Returns 0 or POVTRACK_EIO.
 */
static int regroup(struct poverty *p, povtrack_ctx *ctx, int64_t year,
                   int64_t at, const uint8_t *unit, bool want_hh,
                   struct rg_result *out)
{
    struct rg g = {.p = p, .ctx = ctx, .from = pu_year_end(year), .at = at};
    memcpy(g.unit, unit, PU_UNIT_W);
    memset(out, 0, sizeof *out);
    struct coll c = {.vlen = POV_C_VLEN};
    int rc = coll_year(p->host, ctx, 'O', year, &c);
    for (size_t i = 0; rc == 0 && i < c.n; i++) {
        const uint8_t *e = coll_at(&c, i);
        int in;
        if ((rc = rg_in(&g, e, &in)) != 0 || !in)
            continue;
        for (int j = 0; j < C_COUNT; j++)
            out->c[j] += pu_get_i64(e + PU_UNIT_W + 8 * j);
    }
    free(c.buf);
    if (rc == 0 && want_hh)
        rc = rg_households(&g, year, out);
    rg_free(&g);
    return rc;
}

/* ---- indicators ---- */

/* One year's figures of a unit, and the year before's, as compared. */
struct pov_year {
    int64_t c[C_COUNT];
    bool hh_known;
    int64_t households;
};

struct pov_stats {
    struct pov_year cur, prev;
    int64_t poor_start, exited;
    bool rate_known;
    double poor_rate, near_rate, md_rate;
    bool prev_rate_known;
    double prev_poor_rate, prev_md_rate;
    bool reduction_known;
    double reduction_pp, md_reduction_pp;
    int64_t flow_gap; /* poor - (start + newly + relapsed - escaped - exited) */
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
        y->c[C_POOR] - (st->poor_start + y->c[C_NEWLY] + y->c[C_RELAPSED] -
                        y->c[C_ESCAPED] - st->exited);
}

/* (unit, year) from the rolled-up keys. */
static int load_year(struct poverty *p, povtrack_ctx *ctx, const uint8_t *unit,
                     int64_t year, struct pov_year *y)
{
    struct denom n;
    int rc = counters_get(p, ctx, 'C', year, unit, y->c);
    if (rc == 0)
        rc = denom_get(p, ctx, year, unit, &n);
    if (rc != 0)
        return rc;
    y->hh_known = denom_known(&n);
    y->households = denom_value(&n);
    return 0;
}

static void from_regroup(struct pov_year *y, const struct rg_result *r)
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
        struct rg_result r;
        if ((rc = regroup(p, ctx, year, as_of, unit, true, &r)) != 0)
            return rc;
        from_regroup(&st->cur, &r);
        if ((rc = regroup(p, ctx, year - 1, as_of, unit, true, &r)) != 0)
            return rc;
        from_regroup(&st->prev, &r);
        st->poor_start = r.c[C_POOR];
        st->exited = r.c[C_EXIT_NEXT];
    } else if (year >= dirty_from) {
        struct rg_result r;
        int64_t end = pu_year_end(year);
        if ((rc = regroup(p, ctx, year, end, unit, true, &r)) != 0)
            return rc;
        from_regroup(&st->cur, &r);
        if ((rc = regroup(p, ctx, year - 1, pu_year_end(year - 1), unit, true,
                          &r)) != 0)
            return rc;
        from_regroup(&st->prev, &r);
        if ((rc = regroup(p, ctx, year - 1, end, unit, false, &r)) != 0)
            return rc;
        st->poor_start = r.c[C_POOR];
        st->exited = r.c[C_EXIT_NEXT];
    } else {
        int64_t b[2];
        if ((rc = load_year(p, ctx, unit, year, &st->cur)) != 0 ||
            (rc = load_year(p, ctx, unit, year - 1, &st->prev)) != 0 ||
            (rc = start_get(p, ctx, year, unit, b)) != 0)
            return rc;
        st->poor_start = b[0];
        st->exited = b[1];
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
    int64_t nums[6] = {st->poor_start, c[C_NEWLY], c[C_RELAPSED],
                       c[C_ESCAPED],   st->exited, c[C_POOR]};
    uint8_t key[POV_YKEY_LEN + 6 * 8];
    const void *v;
    size_t vlen;
    ykey(key, 'F', rv->ev->data.year, rv->unit);
    for (int i = 0; i < 6; i++)
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
    char msg[512];
    snprintf(msg, sizeof msg,
             "%s %s: %lld flows do not balance: %lld poor at the start + "
             "%lld newly poor + %lld relapsed - %lld escaped - %lld exited = "
             "%lld, but %lld %s poor at the end (%s)",
             rv->level, rv->label, (long long)rv->ev->data.year,
             (long long)nums[0], (long long)nums[1], (long long)nums[2],
             (long long)nums[3], (long long)nums[4], (long long)computed,
             (long long)nums[5], nums[5] == 1 ? "is" : "are", why);
    if ((rc = pu_put(p->host, ctx, key, sizeof key, "", 0)) != 0)
        return rc;
    return pu_alert(p->host, ctx, "poverty.flow_mismatch", POVTRACK_WARNING,
                    rv->label, NULL, msg, rv->ev->at);
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
        int rc = counters_get(p, ctx, 'C', cohort, rv->unit, c);
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
 * in force then: the alerts name that unit).
 */
static int apply_review(struct poverty *p, povtrack_ctx *ctx,
                        const struct ev_event *ev)
{
    uint8_t code[PU_UNIT_W];
    struct pu_chain ch;
    if (pu_put_unit(code, ev->unit) != 0)
        return POVTRACK_EIO;
    int rc = chain_at(p, ctx, &p->units, code, pu_year_end(ev->data.year), &ch);
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
    if ((rc = load_stats(p, ctx, ch.code[0], ev->data.year, POV_CLEAN, false, 0,
                         &rv.st)) != 0)
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
        return -1;
    if (*lo > *hi) {
        host->log(ctx, POVTRACK_LOG_ERROR, "%s (%g) must not exceed %s (%g)",
                  kmin, *lo, kmax, *hi);
        return -1;
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
        return -1;
    if (relapse < 0 || relapse > 100) {
        host->log(ctx, POVTRACK_LOG_ERROR,
                  "relapse_max_share: must be a percent in 0-100, got %g",
                  relapse);
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
    int rc = meta_load(p, ctx, true, &dirty_from);
    if (rc != 0)
        return rc;
    if (ev->type == EV_UNIT_DEFINED || ev->type == EV_UNIT_CHANGED)
        return apply_unit_event(p, ctx, ev, dirty_from);
    if (dirty_from != POV_CLEAN && (rc = reconcile(p, ctx, dirty_from)) != 0)
        return rc;
    switch (ev->type) {
    case EV_UNIT_HOUSEHOLDS:
        return apply_households(p, ctx, ev);
    case EV_HOUSEHOLD_STATUS:
        return apply_record(p, ctx, ev, false);
    case EV_HOUSEHOLD_EXITED:
        return apply_record(p, ctx, ev, true);
    case EV_REVIEW_CLOSED:
        return apply_review(p, ctx, ev);
    default:
        return 0; /* not in the mask: nothing to do */
    }
}

/*
 * A unit answers for a year when it was in force at the end of it, or was
 * defined only later (zeros).  A unit that had ended is refused, naming
 * where its households went.  Returns 0, -1 (err set) or POVTRACK_EIO.
 */
static int check_in_force(struct poverty *p, povtrack_ctx *ctx,
                          const uint8_t *unit, int64_t at, const char *when,
                          char *err, size_t errlen)
{
    struct povtrack_unit u = {.size = sizeof u};
    struct ev_str code = pu_get_unit(unit);
    if (p->host->size < POVTRACK_HOST_SIZE_UNITS) {
        snprintf(err, errlen, "internal error: unit registry");
        return POVTRACK_EIO;
    }
    int rc = p->host->unit_at(ctx, code, at, &u);
    if (rc == 0 || (rc == POVTRACK_NOTINFORCE && u.from > at))
        return 0;
    if (rc != POVTRACK_NOTINFORCE) {
        snprintf(err, errlen, "internal error: unit registry");
        return POVTRACK_EIO;
    }
    uint8_t m[PU_UNIT_W];
    rc = map_unit(p, ctx, unit, at, at, m);
    if (rc != 0 && rc != POVTRACK_NOTFOUND) {
        snprintf(err, errlen, "internal error: unit registry");
        return POVTRACK_EIO;
    }
    struct ev_str to = pu_get_unit(m);
    if (rc == 0)
        snprintf(err, errlen,
                 "unit: '%.*s' was not in force %s (its households are in "
                 "%.*s)",
                 (int)code.len, code.ptr, when, (int)to.len, to.ptr);
    else
        snprintf(err, errlen, "unit: '%.*s' was not in force %s", (int)code.len,
                 code.ptr, when);
    return -1;
}

static int pack_cohort(struct poverty *p, povtrack_ctx *ctx,
                       const uint8_t *unit, int64_t cohort, int64_t dirty_from,
                       msgpack_packer *pk, char *err, size_t errlen)
{
    int64_t c[C_COUNT];
    int rc;
    if (cohort >= dirty_from) {
        struct rg_result r;
        rc = regroup(p, ctx, cohort, pu_year_end(cohort), unit, false, &r);
        memcpy(c, r.c, sizeof c);
    } else {
        rc = counters_get(p, ctx, 'C', cohort, unit, c);
    }
    if (rc != 0) {
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
    int e = msgpack_pack_map(pk, 20 + (has_as_of ? 1 : 0));
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
    int rc = pu_arg_unit(p->host, ctx, q, &ch, err, errlen);
    if (rc != 0)
        return rc;
    int64_t year = 0, cohort = 0, as_of = 0;
    bool has_year, has_cohort, has_as_of;
    if (pu_arg_i64(q, "cohort", false, &cohort, &has_cohort, err, errlen) !=
            0 ||
        pu_arg_i64(q, "year", !has_cohort, &year, &has_year, err, errlen) !=
            0 ||
        pu_arg_i64(q, "as_of", false, &as_of, &has_as_of, err, errlen) != 0)
        return -1;
    if (has_cohort && has_year) {
        snprintf(err, errlen, "cohort: not with year (two kinds of query)");
        return -1;
    }
    if (has_cohort && has_as_of) {
        snprintf(err, errlen, "as_of: only with year");
        return -1;
    }
    int64_t y = has_cohort ? cohort : year;
    if (y < POV_QYEAR_MIN || y > POV_QYEAR_MAX) {
        snprintf(err, errlen, "%s: must be a year in %d-%d",
                 has_cohort ? "cohort" : "year", POV_QYEAR_MIN, POV_QYEAR_MAX);
        return -1;
    }
    int64_t end = pu_year_end(y);
    if (has_as_of && as_of < end) {
        snprintf(err, errlen, "as_of: must not be before the end of %lld",
                 (long long)y);
        return -1;
    }
    /* unit_at answers for instants before the open end. */
    int64_t at = has_as_of ? (as_of < INT64_MAX ? as_of : INT64_MAX - 1) : end;
    char when[64];
    if (has_as_of)
        snprintf(when, sizeof when, "at as_of");
    else
        snprintf(when, sizeof when, "at the end of %lld", (long long)y);
    if ((rc = check_in_force(p, ctx, ch.code[0], at, when, err, errlen)) != 0)
        return rc;
    int64_t dirty_from;
    rc = meta_load(p, ctx, false, &dirty_from);
    if (rc == POVTRACK_EINVAL) {
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
        return pack_cohort(p, ctx, ch.code[0], cohort, dirty_from, pk, err,
                           errlen);
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

static const struct povtrack_plugin poverty_plugin = {
    .abi_version = POVTRACK_PLUGIN_ABI_VERSION,
    .size = sizeof(struct povtrack_plugin),
    .name = "poverty",
    .version = "2.0.0",
    .event_mask =
        EV_TYPE_BIT(EV_UNIT_DEFINED) | EV_TYPE_BIT(EV_UNIT_CHANGED) |
        EV_TYPE_BIT(EV_UNIT_HOUSEHOLDS) | EV_TYPE_BIT(EV_HOUSEHOLD_STATUS) |
        EV_TYPE_BIT(EV_HOUSEHOLD_EXITED) | EV_TYPE_BIT(EV_REVIEW_CLOSED),
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
