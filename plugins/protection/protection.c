/*
 * protection.c - the built-in "protection" plugin: social protection of
 * poor households with no labour capacity (plan II.3: "social protection
 * for poor households that have no labour capacity"): how many poor
 * households have no member able to work, and how many of them receive
 * regular social assistance (Decree 20/2021: the monthly allowance).
 *
 * Per household and year (h, y):
 *   - its status: the last household.status for (h, y) in log order, in
 *     the unit of that event;
 *   - no labour capacity: the last household.assessed for (h, y) says
 *     no_labour_capacity true (absent reads as false);
 *   - its assistance: the assistance.paid naming h whose "at" falls in
 *     the Vietnam calendar year y, regular and emergency apart.
 * It counts, in the unit of its status and every ancestor, on the
 * hierarchy of the end of y (a unit that ended during the year counts
 * where its households went): "poor" when its status is poor;
 * "no_labour" when poor with no labour capacity; "assisted" when that and
 * at least one regular payment; the amounts paid to the no_labour ones.
 * Each (h, y) keeps the registry version it is counted on: a later
 * assessment or payment changes it where it was counted, a later status
 * moves it (taken back there, counted again on the registry as it now
 * stands), whatever order the events come in.
 *
 * Query q {"unit", "year", "as_of"?} -> {"unit", "as_of"?, "year",
 * "poor", "no_labour",
 * "no_labour_share" (of the poor), "assisted", "assisted_share" (of the
 * no_labour; nil when there are none), "unassisted", "regular_amount",
 * "emergency_amount"}.  q {"unit", "year", "list": "unassisted",
 * "as_of"?, "limit"?} -> {"households": [{"household", "unit"}],
 * "more"}: the no_labour households of u or below without a regular
 * payment, by household id, at most limit (default 100, 1-1000).
 *
 * Units over time, as every plugin (plugin_util.h): the query's date is
 * its as_of, else the end of its year, and a unit that had ended by then
 * is refused in the ingest's words with where to ask instead
 * (pu_check_query_year).  as_of T (not before the end of the year)
 * regroups the year into the units in force at T: the households counted
 * in every unit whose households are at T in the unit asked or below
 * (pu_regroup), so Lam Dong's 2024 (68, as of the end of 2025) is Binh
 * Thuan's and old Lam Dong's together; a listed household's "unit" is
 * then where its unit's households are at T.  It reads each unit's own
 * counters ('c').
 *
 * Alert, from apply: protection.no_assistance (warning), when the review
 * of (u, y) is closed (review.closed; a unit that ended during y is
 * checked as the unit its households went to), for every no_labour
 * household of u or below with no regular payment in y so far; once per
 * (household, year), in the household's unit, "at" the review's.
 *
 * State (integers big-endian, years in keys sign-flipped, unit codes
 * NUL-padded to 5 bytes, households length-prefixed):
 *   'H' u8 len household year[8] -> u8 status, u8 no labour capacity,
 *        u8 alerted, unit[5], u64 version, i64 regular payments, i64
 *        regular amount, i64 emergency amount (40 bytes)
 *   'T' year[8] u8 len household -> "": the no_labour households of y
 *   'C' unit[5] year[8] -> i64 poor, no_labour, assisted, regular amount,
 *        emergency amount
 *   'c' year[8] unit[5] -> the same, of the households counted in the unit
 *        itself (not its descendants): what as_of regroups
 *
 * Layout 1 (version 1.0) had no own counters: the host rebuilds it at
 * start (state_layout 2).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <povtrack/plugin_util.h>

#include "../plan/plan_util.h"

#define PR_WHO "protection"
#define PR_H_LEN 40
#define PR_HH_KEY (1 + 1 + EV_HOUSEHOLD_MAX + 8)
#define PR_LIMIT_DEFAULT 100
#define PR_LIMIT_MAX 1000

enum { V_POOR, V_NO_LABOUR, V_ASSISTED, V_REGULAR, V_EMERGENCY, NV };

/* What is known of a household in a year. */
struct hy {
    uint8_t status, no_labour, alerted;
    uint8_t unit[PU_UNIT_W];
    uint64_t version;
    int64_t regular_n, regular, emergency;
};

static bool target(const struct hy *h)
{
    return h->status == EV_STATUS_POOR && h->no_labour;
}

/* Its counters: what it adds to its unit's. */
static void contribution(const struct hy *h, int64_t v[NV])
{
    bool t = target(h);
    v[V_POOR] = h->status == EV_STATUS_POOR;
    v[V_NO_LABOUR] = t;
    v[V_ASSISTED] = t && h->regular_n > 0;
    v[V_REGULAR] = t ? h->regular : 0;
    v[V_EMERGENCY] = t ? h->emergency : 0;
}

static size_t hy_key(uint8_t *k, struct ev_str hh, int64_t year)
{
    k[0] = 'H';
    k[1] = (uint8_t)hh.len;
    memcpy(k + 2, hh.ptr, hh.len);
    pu_put_key_i64(k + 2 + hh.len, year);
    return 2 + hh.len + 8;
}

static size_t target_key(uint8_t *k, struct ev_str hh, int64_t year)
{
    k[0] = 'T';
    pu_put_key_i64(k + 1, year);
    k[9] = (uint8_t)hh.len;
    memcpy(k + 10, hh.ptr, hh.len);
    return 10 + hh.len;
}

static int hy_get(struct pl_plugin *p, povtrack_ctx *ctx, const uint8_t *k,
                  size_t kl, struct hy *h)
{
    const uint8_t *b;
    memset(h, 0, sizeof *h);
    int rc =
        pl_get_fixed(p->host, ctx, PR_WHO, "household", k, kl, PR_H_LEN, &b);
    if (rc <= 0)
        return rc;
    h->status = b[0];
    h->no_labour = b[1];
    h->alerted = b[2];
    memcpy(h->unit, b + 3, PU_UNIT_W);
    h->version = pu_get_u64(b + 8);
    h->regular_n = pu_get_i64(b + 16);
    h->regular = pu_get_i64(b + 24);
    h->emergency = pu_get_i64(b + 32);
    return 1;
}

static int hy_put(struct pl_plugin *p, povtrack_ctx *ctx, const uint8_t *k,
                  size_t kl, const struct hy *h)
{
    uint8_t b[PR_H_LEN] = {h->status, h->no_labour, h->alerted};
    memcpy(b + 3, h->unit, PU_UNIT_W);
    pu_put_u64(b + 8, h->version);
    pu_put_i64(b + 16, h->regular_n);
    pu_put_i64(b + 24, h->regular);
    pu_put_i64(b + 32, h->emergency);
    return pu_put(p->host, ctx, k, kl, b, sizeof b);
}

/* Add sign x v to 'C' of h's unit and ancestors at the end of year, on
 * h's registry version (set when it is UINT64_MAX). */
static int count(struct pl_plugin *p, povtrack_ctx *ctx, struct hy *h,
                 int64_t year, const int64_t v[NV], int sign)
{
    int64_t d[NV];
    bool any = false;
    struct pu_chain ch;
    for (int i = 0; i < NV; i++)
        any |= (d[i] = sign * v[i]) != 0;
    if (!any)
        return 0;
    uint8_t y[8];
    pu_put_key_i64(y, year);
    int rc =
        pl_year_chain(p->host, ctx, &p->units, h->unit, year, &h->version, &ch);
    if (rc == 0)
        rc = pl_chain_add(p->host, ctx, PR_WHO, &ch, 'C', y, 8, d, NV);
    /* And in its unit's own, for as_of. */
    return rc != 0 ? rc
                   : pl_own_add(p->host, ctx, PR_WHO, 'c', year, h->unit, NULL,
                                0, d, NV);
}

static int pr_change(struct pl_plugin *p, povtrack_ctx *ctx,
                     const struct ev_event *ev, int64_t year)
{
    uint8_t k[PR_HH_KEY], tk[10 + EV_HOUSEHOLD_MAX];
    size_t kl = hy_key(k, ev->household, year);
    struct hy h;
    int64_t ov[NV], nv[NV];
    int rc = hy_get(p, ctx, k, kl, &h);
    if (rc < 0)
        return rc;
    rc = 0;
    bool was = target(&h);
    contribution(&h, ov);
    switch (ev->type) {
    case EV_HOUSEHOLD_STATUS:
        /* Moved: taken back where it was counted, counted again on the
         * registry as it now stands. */
        if ((rc = count(p, ctx, &h, year, ov, -1)) != 0)
            return rc;
        memset(ov, 0, sizeof ov);
        h.status = (uint8_t)ev->data.status;
        h.version = UINT64_MAX;
        if (pu_put_unit(h.unit, ev->unit) != 0)
            return POVTRACK_EIO;
        break;
    case EV_HOUSEHOLD_ASSESSED:
        h.no_labour =
            ev->data.has_no_labour_capacity && ev->data.no_labour_capacity;
        break;
    case EV_ASSISTANCE_PAID:
        if (ev->data.assistance == EV_ASSISTANCE_REGULAR) {
            h.regular_n++;
            h.regular += ev->data.amount;
        } else {
            h.emergency += ev->data.amount;
        }
        break;
    default:
        return 0;
    }
    contribution(&h, nv);
    for (int i = 0; i < NV; i++)
        nv[i] -= ov[i];
    /* A household with no status yet is counted nowhere (and has no
     * version) until its status comes. */
    if (h.status != 0 && (rc = count(p, ctx, &h, year, nv, 1)) != 0)
        return rc;
    size_t tl = target_key(tk, ev->household, year);
    if (was != target(&h))
        rc = target(&h) ? pu_put(p->host, ctx, tk, tl, "", 0)
                        : pu_del(p->host, ctx, tk, tl);
    return rc != 0 ? rc : hy_put(p, ctx, k, kl, &h);
}

/* ---- the review's check ---- */

/* Households of a 'T' scan, copied (the host's pointers die at the next
 * write). */
struct hhs {
    char (*hh)[EV_HOUSEHOLD_MAX];
    uint8_t *len;
    size_t n, cap;
    bool bad;
};

static int hhs_cb(void *arg, const void *key, size_t klen, const void *val,
                  size_t vlen)
{
    struct hhs *s = arg;
    const uint8_t *k = key;
    (void)val;
    (void)vlen;
    if (klen < 11 || k[9] != klen - 10 || k[9] > EV_HOUSEHOLD_MAX)
        goto bad;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        char(*hh)[EV_HOUSEHOLD_MAX] = realloc(s->hh, cap * sizeof *hh);
        if (hh == NULL)
            goto bad;
        s->hh = hh;
        uint8_t *len = realloc(s->len, cap);
        if (len == NULL)
            goto bad;
        s->len = len;
        s->cap = cap;
    }
    memcpy(s->hh[s->n], k + 10, k[9]);
    s->len[s->n++] = k[9];
    return 0;
bad:
    s->bad = true;
    return 1;
}

/* The no_labour households of year (all units). */
static int targets(struct pl_plugin *p, povtrack_ctx *ctx, int64_t year,
                   struct hhs *s)
{
    uint8_t from[9] = {'T'}, to[9];
    pu_put_key_i64(from + 1, year);
    pl_prefix_end(to, from, sizeof from);
    memset(s, 0, sizeof *s);
    int rc = pl_scan(p->host, ctx, PR_WHO, from, sizeof from, to, sizeof to,
                     hhs_cb, s);
    return rc != 0 ? rc : s->bad ? POVTRACK_EIO : 0;
}

static void hhs_free(struct hhs *s)
{
    free(s->hh);
    free(s->len);
}

/* The i-th household of s, unassisted and under unit code (on the
 * hierarchy and registry it is counted on; with g, its unit's records
 * regrouped into g's unit, ch then its unit's chain at g's date): 1 with
 * its entry and chain, 0 when not, or an error. */
static int unassisted_under(struct pl_plugin *p, povtrack_ctx *ctx,
                            const struct hhs *s, size_t i, int64_t year,
                            const uint8_t *code, struct pu_regroup *g,
                            uint8_t *k, size_t *kl, struct hy *h,
                            struct pu_chain *ch)
{
    struct ev_str hh = {s->hh[i], s->len[i]};
    bool in;
    *kl = hy_key(k, hh, year);
    int rc = hy_get(p, ctx, k, *kl, h);
    if (rc <= 0)
        return rc < 0 ? rc : POVTRACK_EIO; /* 'T' without 'H' */
    if (!target(h) || h->regular_n > 0)
        return 0;
    if (g != NULL) {
        if ((rc = pu_regroup_in(g, h->unit, &in)) != 0 || !in)
            return rc;
        rc = pu_ancestors_cached_at(p->host, ctx, &p->units,
                                    pu_get_unit(h->unit), g->at, ch);
        return rc != 0 ? POVTRACK_EIO : 1; /* pu_regroup_in placed it */
    }
    rc = pl_year_chain(p->host, ctx, &p->units, h->unit, year, &h->version, ch);
    return rc != 0 ? rc : pl_chain_has(ch, code);
}

static int pr_review(struct pl_plugin *p, povtrack_ctx *ctx,
                     const struct ev_event *ev)
{
    int64_t year = ev->data.year;
    struct pu_chain rch, ch;
    struct hhs s;
    /* The unit as it stood at the end of the year: a unit that had ended
     * is checked as where its households went. */
    int rc = pu_ancestors_at(p->host, ctx, ev->unit, pu_year_end(year), &rch);
    if (rc == POVTRACK_NOTFOUND)
        return 0; /* it leads nowhere then: nothing of it to check */
    if (rc != 0 || (rc = targets(p, ctx, year, &s)) != 0)
        return rc;
    for (size_t i = 0; rc == 0 && i < s.n; i++) {
        uint8_t k[PR_HH_KEY];
        size_t kl;
        struct hy h;
        rc = unassisted_under(p, ctx, &s, i, year, rch.code[0], NULL, k, &kl,
                              &h, &ch);
        if (rc != 1 || h.alerted) {
            rc = rc == 1 ? 0 : rc;
            continue;
        }
        char unit[PU_UNIT_W + 1], hh[EV_HOUSEHOLD_MAX + 1], msg[256];
        pu_cstr(pu_get_unit(ch.code[0]), unit, sizeof unit);
        pu_cstr((struct ev_str){s.hh[i], s.len[i]}, hh, sizeof hh);
        snprintf(msg, sizeof msg,
                 "household %s: poor, no member able to work, no regular "
                 "social assistance in %lld",
                 hh, (long long)year);
        h.alerted = 1;
        rc = hy_put(p, ctx, k, kl, &h);
        if (rc == 0)
            rc = pu_alert(p->host, ctx, "protection.no_assistance",
                          POVTRACK_WARNING, unit, hh, msg, ev->at);
    }
    hhs_free(&s);
    return rc;
}

static int pr_apply(void *state, povtrack_ctx *ctx,
                    const struct povtrack_record *rec)
{
    struct pl_plugin *p = state;
    const struct ev_event *ev = rec->event;
    switch (ev->type) {
    case EV_HOUSEHOLD_STATUS:
    case EV_HOUSEHOLD_ASSESSED:
        return pr_change(p, ctx, ev, ev->data.year);
    case EV_ASSISTANCE_PAID:
        return pr_change(p, ctx, ev, pu_local_year(ev->at));
    case EV_REVIEW_CLOSED:
        return pr_review(p, ctx, ev);
    default:
        return 0; /* not in the mask */
    }
}

/* ---- query ---- */

/* The list; with as_of (g not NULL), regrouped into g's unit. */
static int list_unassisted(struct pl_plugin *p, povtrack_ctx *ctx,
                           const uint8_t *code, struct pu_regroup *g,
                           int64_t year, int64_t limit, msgpack_packer *pk)
{
    struct hhs s;
    msgpack_sbuffer sb;
    msgpack_packer lp;
    int64_t n = 0, listed = 0;
    int rc = targets(p, ctx, year, &s);
    if (rc != 0)
        return rc;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&lp, &sb, msgpack_sbuffer_write);
    for (size_t i = 0; rc == 0 && i < s.n; i++) {
        uint8_t k[PR_HH_KEY];
        size_t kl;
        struct hy h;
        struct pu_chain ch;
        rc = unassisted_under(p, ctx, &s, i, year, code, g, k, &kl, &h, &ch);
        if (rc != 1)
            continue;
        rc = 0;
        if (n++ >= limit)
            continue;
        listed++;
        rc =
            msgpack_pack_map(&lp, 2) |
            pl_pack_text(&lp, "household", (struct ev_str){s.hh[i], s.len[i]}) |
            pl_pack_unit(&lp, "unit", ch.code[0]);
    }
    if (rc == 0)
        rc = msgpack_pack_map(pk, 2) | pu_pack_key(pk, "households") |
             msgpack_pack_array(pk, (uint32_t)listed);
    if (rc == 0 && sb.size > 0)
        rc = pk->callback(pk->data, sb.data, sb.size);
    if (rc == 0)
        rc = pl_pack_i64(pk, "more", n - listed);
    msgpack_sbuffer_destroy(&sb);
    hhs_free(&s);
    return rc;
}

static int pr_query(void *state, povtrack_ctx *ctx, const msgpack_object *q,
                    msgpack_packer *pk, char *err, size_t errlen)
{
    struct pl_plugin *p = state;
    struct pl_yearly a;
    int rc = pl_arg_yearly(p->host, ctx, q, "unassisted", PR_LIMIT_DEFAULT,
                           PR_LIMIT_MAX, &a, err, errlen);
    if (rc != 0)
        return rc;
    if (a.list) {
        struct pu_regroup g;
        pu_regroup_init(&g, p->host, ctx, a.ch.code[0], a.as_of, a.as_of);
        rc = list_unassisted(p, ctx, a.ch.code[0], a.has_as_of ? &g : NULL,
                             a.year, a.limit, pk);
        pu_regroup_free(&g);
        return rc != 0 ? pl_query_failed(err, errlen) : 0;
    }
    uint8_t k[1 + PU_UNIT_W + 8];
    int64_t v[NV];
    pl_unit_key(k, 'C', a.ch.code[0], a.year_key, 8);
    if (a.has_as_of ? pl_own_sums(p->host, ctx, 'c', a.ch.code[0], a.as_of,
                                  a.year, v, NV) != 0
                    : pl_vec_get(p->host, ctx, PR_WHO, k, sizeof k, v, NV) < 0)
        return pl_query_failed(err, errlen);
    int e = msgpack_pack_map(pk, 10 + a.has_as_of) |
            pl_pack_unit(pk, "unit", a.ch.code[0]) |
            pl_pack_as_of(pk, a.has_as_of, a.as_of) |
            pl_pack_i64(pk, "year", a.year) |
            pl_pack_i64(pk, "poor", v[V_POOR]) |
            pl_pack_i64(pk, "no_labour", v[V_NO_LABOUR]) |
            pl_pack_share(pk, "no_labour_share", v[V_NO_LABOUR], v[V_POOR]) |
            pl_pack_i64(pk, "assisted", v[V_ASSISTED]) |
            pl_pack_share(pk, "assisted_share", v[V_ASSISTED], v[V_NO_LABOUR]) |
            pl_pack_i64(pk, "unassisted", v[V_NO_LABOUR] - v[V_ASSISTED]) |
            pl_pack_i64(pk, "regular_amount", v[V_REGULAR]) |
            pl_pack_i64(pk, "emergency_amount", v[V_EMERGENCY]);
    return e != 0 ? pl_query_failed(err, errlen) : 0;
}

/* ---- the plugin ---- */

PL_PLUGIN_WITHOUT_SETTINGS(pr, PR_WHO);

/* state_layout: bump it when the stored values change. */
POVTRACK_PLUGIN(.name = "protection", .version = "1.1.0",
                .event_mask = EV_TYPE_BIT(EV_HOUSEHOLD_STATUS) |
                              EV_TYPE_BIT(EV_HOUSEHOLD_ASSESSED) |
                              EV_TYPE_BIT(EV_ASSISTANCE_PAID) |
                              EV_TYPE_BIT(EV_REVIEW_CLOSED),
                .init = pr_init, .apply = pr_apply, .query = pr_query,
                .fini = pl_fini, .state_layout = 2, .config_map = pr_config);
