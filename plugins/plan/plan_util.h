/*
 * plan_util.h - what the plugins of the rest of the plan (budget, donors,
 * commendations, protection, production) share: counters kept as vectors
 * of i64 under a key, rolled up over a unit's chain; each unit's own
 * records, which an as_of query regroups (plugin_util.h's pu_regroup);
 * scans; the query arguments they take (a year, a period, as_of, a limit)
 * and the check of a query's date and unit every plugin makes
 * (pu_check_query_date).
 *
 * Header-only, on the SDK alone (<povtrack/plugin_util.h>), like the
 * plugins themselves: each plugin is its own shared object and gets its
 * own copy, so nothing crosses the plugin boundary.  Names start with pl_;
 * every function returns 0 or a code of <povtrack/errors.h>, and logs a
 * state failure once, naming the plugin (who).
 */
#ifndef POVTRACK_PLAN_UTIL_H
#define POVTRACK_PLAN_UTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <povtrack/plugin_util.h>

/* The years the catalogue allows (data.year). */
#define PL_YEAR_MIN 2000
#define PL_YEAR_MAX 2100
/* Longest counter vector. */
#define PL_VEC_MAX 16
/* Longest key these plugins build: a tag, a unit, a year, and a text field
 * or a household; within POVTRACK_KEY_MAX. */
#define PL_KEY_MAX (1 + PU_UNIT_W + 8 + 1 + EV_TEXT_MAX + EV_HOUSEHOLD_MAX)
_Static_assert(PL_KEY_MAX <= POVTRACK_KEY_MAX, "PL_KEY_MAX");

/* What each of these plugins keeps in memory, at the start of its state:
 * the host and its cache of unit chains (a plugin with settings puts
 * them after it). */
struct pl_plugin {
    const struct povtrack_host *host;
    struct pu_units units;
};

/* init's common work: a zeroed state of size bytes (a struct that starts
 * with struct pl_plugin) holding host. */
static inline int pl_init(povtrack_ctx *ctx, const struct povtrack_host *host,
                          const char *who, size_t size, void **state)
{
    struct pl_plugin *p = calloc(1, size);
    if (p == NULL) {
        host->log(ctx, POVTRACK_LOG_ERROR, "%s: out of memory", who);
        return POVTRACK_ENOMEM;
    }
    p->host = host;
    *state = p;
    return 0;
}

/* fini of a state pl_init made. */
static inline void pl_fini(void *state)
{
    struct pl_plugin *p = state;
    pu_units_free(&p->units);
    free(p);
}

/* A plugin without settings: its init, and its config map, empty, so that
 * a misspelt key in its section stops povtrackd at start instead of
 * being ignored.  Declares prefix_init and prefix_config. */
#define PL_PLUGIN_WITHOUT_SETTINGS(prefix, who)                                \
    static int prefix##_init(povtrack_ctx *ctx,                                \
                             const struct povtrack_host *host, void **state)   \
    {                                                                          \
        return pl_init(ctx, host, who, sizeof(struct pl_plugin), state);       \
    }                                                                          \
    static const struct povtrack_config_key prefix##_config[] = {{.name = NULL}}

/* The value at key, which must be size bytes: 1 with *val at it (valid
 * until the next host call), 0 when absent, POVTRACK_EIO (logged, naming
 * what) for a value of another size, or the host's code. */
static inline int pl_get_fixed(const struct povtrack_host *host,
                               povtrack_ctx *ctx, const char *who,
                               const char *what, const void *key, size_t klen,
                               size_t size, const uint8_t **val)
{
    const void *v;
    size_t vlen;
    int rc = pu_get(host, ctx, key, klen, &v, &vlen);
    if (rc == 1 && vlen != size) {
        host->log(ctx, POVTRACK_LOG_ERROR,
                  "%s: corrupt %s (%zu bytes, want %zu): rebuild it "
                  "(povtrack rebuild %s)",
                  who, what, vlen, size, who);
        return POVTRACK_EIO;
    }
    *val = v;
    return rc;
}

/* Read the i64 vector of n at key into v (zeros when absent).  1 found,
 * 0 absent, or pl_get_fixed's error. */
static inline int pl_vec_get(const struct povtrack_host *host,
                             povtrack_ctx *ctx, const char *who,
                             const void *key, size_t klen, int64_t *v, int n)
{
    const uint8_t *val;
    int rc = pl_get_fixed(host, ctx, who, "counters", key, klen, (size_t)n * 8,
                          &val);
    memset(v, 0, sizeof *v * (size_t)n);
    for (int i = 0; rc == 1 && i < n; i++)
        v[i] = pu_get_i64(val + 8 * i);
    return rc;
}

/* Add d[0..n) to the i64 vector at key. */
static inline int pl_vec_add(const struct povtrack_host *host,
                             povtrack_ctx *ctx, const char *who,
                             const void *key, size_t klen, const int64_t *d,
                             int n)
{
    int64_t v[PL_VEC_MAX];
    uint8_t b[8 * PL_VEC_MAX];
    int rc = pl_vec_get(host, ctx, who, key, klen, v, n);
    if (rc < 0)
        return rc;
    for (int i = 0; i < n; i++)
        pu_put_i64(b + 8 * i, v[i] + d[i]);
    return pu_put(host, ctx, key, klen, b, (size_t)n * 8);
}

/* The key tag | unit[PU_UNIT_W] | tail into k (PL_KEY_MAX bytes); its
 * length. */
static inline size_t pl_unit_key(uint8_t *k, uint8_t tag, const uint8_t *unit,
                                 const void *tail, size_t tl)
{
    k[0] = tag;
    memcpy(k + 1, unit, PU_UNIT_W);
    if (tl > 0)
        memcpy(k + 1 + PU_UNIT_W, tail, tl);
    return 1 + PU_UNIT_W + tl;
}

/* Add d[0..n) to tag | unit | tail for every unit of the chain: a counter
 * of a unit includes its descendants. */
static inline int pl_chain_add(const struct povtrack_host *host,
                               povtrack_ctx *ctx, const char *who,
                               const struct pu_chain *ch, uint8_t tag,
                               const void *tail, size_t tl, const int64_t *d,
                               int n)
{
    uint8_t k[PL_KEY_MAX];
    for (int i = 0; i < ch->n; i++) {
        size_t kl = pl_unit_key(k, tag, ch->code[i], tail, tl);
        int rc = pl_vec_add(host, ctx, who, k, kl, d, n);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* Whether code is one of the chain's units. */
static inline bool pl_chain_has(const struct pu_chain *ch, const uint8_t *code)
{
    for (int i = 0; i < ch->n; i++)
        if (memcmp(ch->code[i], code, PU_UNIT_W) == 0)
            return true;
    return false;
}

/* The chain of a unit stored in a PU_UNIT_W field, as the hierarchy stood
 * at the end of year, on the registry version *version (UINT64_MAX: as
 * it now stands; set to the version used).  A unit that ended during the
 * year counts where its households went.  POVTRACK_EIO (logged) when the
 * registry cannot place it: the unit passed the reference checks. */
static inline int pl_year_chain(const struct povtrack_host *host,
                                povtrack_ctx *ctx, struct pu_units *cache,
                                const uint8_t *unit, int64_t year,
                                uint64_t *version, struct pu_chain *ch)
{
    int rc = pu_ancestors_cached_as_of(host, ctx, cache, pu_get_unit(unit),
                                       pu_year_end(year), *version, ch);
    if (rc != 0)
        return rc == POVTRACK_NOTFOUND ? POVTRACK_EIO : rc;
    *version = ch->version;
    return 0;
}

/* host->scan over [from, to), fn called for each key; fn's non-zero stops
 * it.  0 (also when fn stopped it), or the host's code (logged). */
static inline int pl_scan(const struct povtrack_host *host, povtrack_ctx *ctx,
                          const char *who, const void *from, size_t fl,
                          const void *to, size_t tl, povtrack_scan_fn fn,
                          void *arg)
{
    int rc = host->scan(ctx, from, fl, to, tl, fn, arg);
    if (rc >= 0 || rc == POVTRACK_NOTFOUND)
        return 0;
    host->log(ctx, POVTRACK_LOG_ERROR, "%s: state scan failed: %s", who,
              pu_strerror(host, rc));
    return rc;
}

/* The end of a key range: the first key after every key that starts
 * with prefix (len bytes, not all 0xFF), so that [prefix, end) holds
 * them all. */
static inline void pl_prefix_end(uint8_t *end, const uint8_t *prefix,
                                 size_t len)
{
    size_t i = len;
    memcpy(end, prefix, len);
    while (i > 0 && end[i - 1] == 0xFF)
        end[--i] = 0;
    if (i > 0)
        end[i - 1]++;
}

/* Sort the n elements of size bytes at base by cmp, then fold each run
 * of equal ones into its first (fold(first, other): add other's figures
 * into first and free what other owns).  Returns how many are left: one
 * row per key, for a list gathered from several units or scans. */
static inline size_t pl_merge_runs(void *base, size_t n, size_t size,
                                   int (*cmp)(const void *, const void *),
                                   void (*fold)(void *, void *))
{
    uint8_t *b = base;
    size_t out = 0;
    if (n > 1)
        qsort(base, n, size, cmp);
    for (size_t i = 0; i < n; i++) {
        if (out > 0 && cmp(b + (out - 1) * size, b + i * size) == 0) {
            fold(b + (out - 1) * size, b + i * size);
        } else {
            if (out != i)
                memcpy(b + out * size, b + i * size, size);
            out++;
        }
    }
    return out;
}

/* ---- query arguments ---- */

/* "year", PL_YEAR_MIN to PL_YEAR_MAX: required, or *has says whether it
 * was given.  POVTRACK_EINVALID with err set otherwise. */
static inline int pl_arg_year(const msgpack_object *q, bool required,
                              int64_t *year, bool *has, char *err,
                              size_t errlen)
{
    if (pu_arg_i64(q, "year", required, year, has, err, errlen) != 0)
        return POVTRACK_EINVALID;
    if (*has && (*year < PL_YEAR_MIN || *year > PL_YEAR_MAX)) {
        snprintf(err, errlen, "year: must be between %d and %d", PL_YEAR_MIN,
                 PL_YEAR_MAX);
        return POVTRACK_EINVALID;
    }
    return 0;
}

/* A period of "at": "year" (the Vietnam calendar year) or "from" and
 * "to" (unix seconds, from <= at < to, each optional), not both; all
 * time when none is given.  [*from, *to) is what to count. */
struct pl_period {
    int64_t from, to;
    int64_t year;
    bool has_year, has_from, has_to;
};

static inline int pl_arg_period(const msgpack_object *q, struct pl_period *p,
                                char *err, size_t errlen)
{
    memset(p, 0, sizeof *p);
    if (pl_arg_year(q, false, &p->year, &p->has_year, err, errlen) != 0 ||
        pu_arg_i64(q, "from", false, &p->from, &p->has_from, err, errlen) !=
            0 ||
        pu_arg_i64(q, "to", false, &p->to, &p->has_to, err, errlen) != 0)
        return POVTRACK_EINVALID;
    if (p->has_year && (p->has_from || p->has_to)) {
        snprintf(err, errlen, "year: not with from or to");
        return POVTRACK_EINVALID;
    }
    if (p->has_from && p->has_to && p->to < p->from) {
        snprintf(err, errlen, "to: must not be before from");
        return POVTRACK_EINVALID;
    }
    if (p->has_year) {
        p->from = pu_year_start(p->year);
        p->to = pu_year_start(p->year + 1);
    } else {
        p->from = p->has_from ? p->from : INT64_MIN;
        p->to = p->has_to ? p->to : INT64_MAX;
    }
    return 0;
}

/* "limit", 1 to max (default def). */
static inline int pl_arg_limit(const msgpack_object *q, int64_t def,
                               int64_t max, int64_t *limit, char *err,
                               size_t errlen)
{
    bool has;
    if (pu_arg_i64(q, "limit", false, limit, &has, err, errlen) != 0)
        return POVTRACK_EINVALID;
    if (!has)
        *limit = def;
    if (*limit < 1 || *limit > max) {
        snprintf(err, errlen, "limit: must be between 1 and %lld",
                 (long long)max);
        return POVTRACK_EINVALID;
    }
    return 0;
}

/* "as_of" (unix seconds), optional: the date whose units the answer is
 * on.  POVTRACK_EINVALID with err set when it is not an integer. */
static inline int pl_arg_as_of(const msgpack_object *q, int64_t *as_of,
                               bool *has, char *err, size_t errlen)
{
    *as_of = 0;
    return pu_arg_i64(q, "as_of", false, as_of, has, err, errlen) != 0
               ? POVTRACK_EINVALID
               : 0;
}

/* A listing's arguments: "unit" (pu_arg_unit), a period (pl_arg_period),
 * "as_of" (pl_arg_as_of), "limit" (1 to max, default def); the query's
 * date checked as every plugin's (pu_check_query_date: as_of, else the
 * end of the period); and the range [from, to) of the keys tag |
 * unit[PU_UNIT_W] | at[8] of the unit in the period.  With as_of and no
 * "to", the period ends at as_of, as the fund's. */
struct pl_listing {
    struct pu_chain ch;
    struct pl_period p;
    bool has_as_of;
    int64_t as_of;
    int64_t limit;
    uint8_t from[1 + PU_UNIT_W + 8], to[1 + PU_UNIT_W + 8];
};

static inline int pl_arg_listing(const struct povtrack_host *host,
                                 povtrack_ctx *ctx, const msgpack_object *q,
                                 uint8_t tag, int64_t def, int64_t max,
                                 struct pl_listing *l, char *err, size_t errlen)
{
    uint8_t t[8];
    static const char *const names[] = {"unit",  "year",  "from", "to",
                                        "as_of", "limit", NULL};
    int rc = pu_check_arg_names(q, names, err, errlen);
    if (rc == 0)
        rc = pu_arg_unit(host, ctx, q, &l->ch, err, errlen);
    if (rc != 0)
        return rc;
    if (pl_arg_period(q, &l->p, err, errlen) != 0 ||
        pl_arg_as_of(q, &l->as_of, &l->has_as_of, err, errlen) != 0 ||
        pl_arg_limit(q, def, max, &l->limit, err, errlen) != 0)
        return POVTRACK_EINVALID;
    char period[48] = "to";
    bool has_end = l->p.has_year || l->p.has_to;
    /* The period's last instant ("to" may be any integer). */
    int64_t end = !has_end              ? INT64_MAX
                  : l->p.to > INT64_MIN ? l->p.to - 1
                                        : INT64_MIN;
    if (l->p.has_year)
        snprintf(period, sizeof period, "the end of %lld",
                 (long long)l->p.year);
    if ((rc = pu_check_query_date(host, ctx, pu_get_unit(l->ch.code[0]),
                                  l->has_as_of, l->as_of, end, period, err,
                                  errlen)) != 0)
        return rc;
    if (l->has_as_of && !has_end)
        l->p.to = l->as_of < INT64_MAX ? l->as_of + 1 : INT64_MAX;
    pu_put_key_i64(t, l->p.from);
    pl_unit_key(l->from, tag, l->ch.code[0], t, 8);
    pu_put_key_i64(t, l->p.to);
    pl_unit_key(l->to, tag, l->ch.code[0], t, 8);
    return 0;
}

/* A yearly query that may ask for a list: "unit" (pu_arg_unit), "year"
 * (required), "as_of" (pl_arg_as_of), "list" (absent, or the one list
 * the plugin has; list NULL: it has none), "limit" (1 to max, default
 * def; for the list); the
 * query's date checked as every plugin's (pu_check_query_year: as_of,
 * else the end of the year). */
struct pl_yearly {
    struct pu_chain ch;
    int64_t year;
    uint8_t year_key[8]; /* the year as in keys */
    bool has_as_of;
    int64_t as_of;
    bool list; /* the list is asked for */
    int64_t limit;
};

static inline int pl_arg_yearly(const struct povtrack_host *host,
                                povtrack_ctx *ctx, const msgpack_object *q,
                                const char *list, int64_t def, int64_t max,
                                struct pl_yearly *a, char *err, size_t errlen)
{
    bool has;
    a->limit = def;
    static const char *const names[] = {"unit", "year", "as_of", NULL};
    static const char *const list_names[] = {"unit", "year",  "as_of",
                                             "list", "limit", NULL};
    int rc =
        pu_check_arg_names(q, list != NULL ? list_names : names, err, errlen);
    if (rc == 0)
        rc = pu_arg_unit(host, ctx, q, &a->ch, err, errlen);
    if (rc != 0)
        return rc;
    if (pl_arg_year(q, true, &a->year, &has, err, errlen) != 0 ||
        pl_arg_as_of(q, &a->as_of, &a->has_as_of, err, errlen) != 0 ||
        (list != NULL &&
         pl_arg_limit(q, def, max, &a->limit, err, errlen) != 0))
        return POVTRACK_EINVALID;
    pu_put_key_i64(a->year_key, a->year);
    const msgpack_object *o = pu_map_get(q, "list");
    a->list = o != NULL && o->type != MSGPACK_OBJECT_NIL;
    if (a->list) {
        if (list == NULL) {
            snprintf(err, errlen, "list: this plugin has no list");
            return POVTRACK_EINVALID;
        }
        size_t ll = strlen(list);
        if (o->type != MSGPACK_OBJECT_STR || o->via.str.size != ll ||
            memcmp(o->via.str.ptr, list, ll) != 0) {
            snprintf(err, errlen, "list: must be \"%s\"", list);
            return POVTRACK_EINVALID;
        }
    }
    return pu_check_query_year(host, ctx, pu_get_unit(a->ch.code[0]),
                               a->has_as_of, a->as_of, true, a->year, err,
                               errlen);
}

/* ---- as_of: the records of each unit itself ---- */

/*
 * What an as_of query regroups (pu_regroup, plugin_util.h) is the records
 * of each unit itself, not its descendants': these plugins keep them, next
 * to their rolled-up counters, under keys tag | t[8] | unit[PU_UNIT_W] |
 * tail, t a year or a time, so that one scan of a year or a period finds
 * every unit's own and pu_regroup_scan (unit_off PL_OWN_UNIT) keeps those
 * whose households are in the unit asked at as_of.
 */
#define PL_OWN_UNIT 9 /* offset of the unit in an own key */

/* The own key tag | t | unit | tail into k (PL_KEY_MAX bytes); its
 * length. */
static inline size_t pl_own_key(uint8_t *k, uint8_t tag, int64_t t,
                                const uint8_t *unit, const void *tail,
                                size_t tl)
{
    k[0] = tag;
    pu_put_key_i64(k + 1, t);
    memcpy(k + PL_OWN_UNIT, unit, PU_UNIT_W);
    if (tl > 0)
        memcpy(k + PL_OWN_UNIT + PU_UNIT_W, tail, tl);
    return PL_OWN_UNIT + PU_UNIT_W + tl;
}

/* Add d[0..n) to the own counters tag | t | unit | tail. */
static inline int pl_own_add(const struct povtrack_host *host,
                             povtrack_ctx *ctx, const char *who, uint8_t tag,
                             int64_t t, const uint8_t *unit, const void *tail,
                             size_t tl, const int64_t *d, int n)
{
    uint8_t k[PL_KEY_MAX];
    size_t kl = pl_own_key(k, tag, t, unit, tail, tl);
    return pl_vec_add(host, ctx, who, k, kl, d, n);
}

/* Every own entry tag | t | ... with from <= t < to whose unit counts in
 * unit as the units stand at as_of, handed to fn (pu_regroup_scan: fn may
 * call the host).  Returns 0, fn's value or the host's error. */
static inline int pl_own_scan(const struct povtrack_host *host,
                              povtrack_ctx *ctx, uint8_t tag,
                              const uint8_t *unit, int64_t as_of, int64_t from,
                              int64_t to, pu_regroup_fn fn, void *arg)
{
    struct pu_regroup g;
    uint8_t kf[9] = {tag}, kt[9] = {tag};
    pu_put_key_i64(kf + 1, from);
    pu_put_key_i64(kt + 1, to);
    pu_regroup_init(&g, host, ctx, unit, as_of, as_of);
    int rc = pu_regroup_scan(&g, kf, sizeof kf, kt, sizeof kt, PL_OWN_UNIT, 0,
                             fn, arg);
    pu_regroup_free(&g);
    return rc;
}

/* The sums of the own counters (n i64) tag | year | unit, regrouped into
 * unit at as_of, into v. */
static inline int pl_own_sums(const struct povtrack_host *host,
                              povtrack_ctx *ctx, uint8_t tag,
                              const uint8_t *unit, int64_t as_of, int64_t year,
                              int64_t *v, int n)
{
    struct pu_sums s = {v, n};
    memset(v, 0, sizeof *v * (size_t)n);
    return pl_own_scan(host, ctx, tag, unit, as_of, year, year + 1, pu_sums_add,
                       &s);
}

/* ---- packing ---- */

/* key: v */
static inline int pl_pack_i64(msgpack_packer *pk, const char *key, int64_t v)
{
    return pu_pack_key(pk, key) | msgpack_pack_int64(pk, v);
}

/* "as_of": as_of, in an answer asked with it (nothing otherwise). */
static inline int pl_pack_as_of(msgpack_packer *pk, bool has, int64_t as_of)
{
    return has ? pl_pack_i64(pk, "as_of", as_of) : 0;
}

/* key: num / den x 100, nil when den is 0 */
static inline int pl_pack_share(msgpack_packer *pk, const char *key,
                                int64_t num, int64_t den)
{
    return pu_pack_key(pk, key) | pu_pack_percent(pk, num, den);
}

/* key: the string s (nil when absent) */
static inline int pl_pack_text(msgpack_packer *pk, const char *key,
                               struct ev_str s)
{
    return pu_pack_key(pk, key) | (s.ptr != NULL ? pu_pack_str(pk, s.ptr, s.len)
                                                 : msgpack_pack_nil(pk));
}

/* "unit": the code of a PU_UNIT_W field */
static inline int pl_pack_unit(msgpack_packer *pk, const char *key,
                               const uint8_t *unit)
{
    return pl_pack_text(pk, key, pu_get_unit(unit));
}

/* The one message of a query that could not read or pack its answer. */
static inline int pl_query_failed(char *err, size_t errlen)
{
    snprintf(err, errlen, "internal error: state read failed");
    return POVTRACK_EIO;
}

#endif /* POVTRACK_PLAN_UTIL_H */
