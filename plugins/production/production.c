/*
 * production.c - the built-in "production" plugin: enterprises and
 * cooperatives linking with poor and near-poor households in production,
 * and the OCOP programme's products (plan II.3: "encourage enterprises
 * and cooperatives to link with poor and near-poor households ...;
 * develop the One Commune One Product programme").
 *
 * Rules:
 *   - A link (its "link" id: a contract, a production model) is with the
 *     partner, partner kind and product of its first production.linked in
 *     log order.  A household takes part in a link in a year once, however
 *     often production.linked repeats it.
 *   - households_linked(u, y): households with a link in y, each counted
 *     once, in the unit of its first production.linked of y (log order);
 *     links(u, y): the links with a household in u or below in y, by the
 *     partner's kind.  Both on the hierarchy of the end of y (a unit that
 *     ended during the year counts where its households went).
 *   - poor(u, y), near_poor(u, y): households whose last household.status
 *     for y is poor (near_poor), in that event's unit, on the hierarchy
 *     of the end of y; poor_linked, near_poor_linked: of them, those with
 *     a link in y (anywhere).  Each status keeps the registry version it
 *     is counted on, so a later status or link changes it where it was
 *     counted.
 *   - An OCOP product (its "product" name, the certificate's) lies at the
 *     unit, with the stars, of its last ocop.certified (a re-rating
 *     replaces them), counted from the Vietnam calendar year of its first
 *     certification, on the hierarchy of its last one's "at".
 *
 * Query q {"unit", "year", "as_of"?} -> {"unit", "as_of"?, "year",
 * "households_linked",
 * "links", "links_by_partner_kind": {"enterprise", "cooperative"},
 * "poor", "poor_linked", "poor_linked_share", "near_poor",
 * "near_poor_linked", "near_poor_linked_share", "ocop_products" (certified
 * by the end of y), "ocop_by_stars": {"3", "4", "5"}, "ocop_new" (first
 * certified in y)}.  q {"unit", "year", "as_of"?, "list": "links",
 * "limit"?} ->
 * {"links": [{"link", "partner", "partner_kind", "product", "ocop_stars"
 * (nil unless the product is certified), "households"}], "more"}: the
 * links with households in u or below in y, by link id, at most limit
 * (default 100, 1-1000), "households" those in u or below.
 *
 * Units over time, as every plugin (plugin_util.h): the query's date is
 * its as_of, else the end of its year, and a unit that had ended by then
 * is refused in the ingest's words with where to ask instead
 * (pu_check_query_year).  as_of T (not before the end of the year)
 * regroups the year into the units in force at T: what was counted in
 * every unit whose households are at T in the unit asked or below
 * (pu_regroup), so Lam Dong's 2024 (68, as of the end of 2025) is Binh
 * Thuan's and old Lam Dong's together; a link with households in two of
 * those units counts once, its households added up; an OCOP product
 * counts where it was placed.  It reads each unit's own records ('c',
 * 'k', 'n').
 *
 * State (integers big-endian, years in keys sign-flipped, unit codes
 * NUL-padded to 5 bytes, households length-prefixed):
 *   'G' link -> u8 partner kind, 1 zero, u16 partner len, u16 product
 *        len, partner, product
 *   'P' u8 len household year[8] link -> "": the household takes part
 *   'H' u8 len household year[8] -> u8 status, u8 linked, unit[5] of the
 *        status, 1 zero, u64 version (16 bytes)
 *   'C' unit[5] year[8] -> i64 households_linked, links, by enterprise,
 *        by cooperative, poor, poor_linked, near_poor, near_poor_linked
 *   'K' unit[5] year[8] link -> i64 households of the link in u
 *   'O' product -> u8 stars, unit[5], 2 zero, i64 first at, i64 placed
 *        at, u64 version (32 bytes)
 *   'N' unit[5] year[8] stars[1] -> i64 products first certified in y
 *   'c' year[8] unit[5] -> as 'C', but links (zero): what was counted in
 *        the unit itself, not its descendants
 *   'k' year[8] unit[5] link -> i64 households of the link in the unit
 *        itself
 *   'n' year[8] unit[5] stars[1] -> i64 products placed in the unit
 *        itself, first certified in y
 * The last three are what as_of regroups.
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

#define PD_WHO "production"
#define PD_G_HDR 6
#define PD_H_LEN 16
#define PD_O_LEN 32
#define PD_HH_KEY (1 + 1 + EV_HOUSEHOLD_MAX + 8)
#define PD_LIMIT_DEFAULT 100
#define PD_LIMIT_MAX 1000
#define PD_STARS_MIN 3
#define PD_STARS_MAX 5

enum {
    V_HOUSEHOLDS,
    V_LINKS,
    V_ENTERPRISE,
    V_COOPERATIVE,
    V_POOR,
    V_POOR_LINKED,
    V_NEAR,
    V_NEAR_LINKED,
    NV
};

/* A household's year. */
struct hy {
    uint8_t status, linked;
    uint8_t unit[PU_UNIT_W];
    uint64_t version;
};

/* A link's first record. */
struct link {
    uint8_t kind;
    struct ev_str partner, product; /* point into buf */
    char buf[2 * EV_TEXT_MAX];
};

/* An OCOP product. */
struct product {
    uint8_t stars;
    uint8_t unit[PU_UNIT_W];
    int64_t first, placed;
    uint64_t version;
};

static bool is_pnp(uint8_t status)
{
    return status == EV_STATUS_POOR || status == EV_STATUS_NEAR_POOR;
}

static size_t hh_key(uint8_t *k, uint8_t tag, struct ev_str hh, int64_t year)
{
    k[0] = tag;
    k[1] = (uint8_t)hh.len;
    memcpy(k + 2, hh.ptr, hh.len);
    pu_put_key_i64(k + 2 + hh.len, year);
    return 2 + hh.len + 8;
}

static size_t text_key(uint8_t *k, uint8_t tag, struct ev_str s)
{
    k[0] = tag;
    memcpy(k + 1, s.ptr, s.len);
    return 1 + s.len;
}

static int corrupt(struct pl_plugin *p, povtrack_ctx *ctx, const char *what)
{
    p->host->log(ctx, POVTRACK_LOG_ERROR, PD_WHO ": corrupt %s", what);
    return POVTRACK_EIO;
}

static int hy_get(struct pl_plugin *p, povtrack_ctx *ctx, const uint8_t *k,
                  size_t kl, struct hy *h)
{
    const uint8_t *b;
    memset(h, 0, sizeof *h);
    int rc =
        pl_get_fixed(p->host, ctx, PD_WHO, "household", k, kl, PD_H_LEN, &b);
    if (rc <= 0)
        return rc;
    h->status = b[0];
    h->linked = b[1];
    memcpy(h->unit, b + 2, PU_UNIT_W);
    h->version = pu_get_u64(b + 8);
    return 1;
}

static int hy_put(struct pl_plugin *p, povtrack_ctx *ctx, const uint8_t *k,
                  size_t kl, const struct hy *h)
{
    uint8_t b[PD_H_LEN] = {h->status, h->linked};
    memcpy(b + 2, h->unit, PU_UNIT_W);
    pu_put_u64(b + 8, h->version);
    return pu_put(p->host, ctx, k, kl, b, sizeof b);
}

/* Add d to 'C' of unit and its ancestors at the end of year, on the
 * registry version *version (UINT64_MAX: as it now stands; set). */
static int count(struct pl_plugin *p, povtrack_ctx *ctx, const uint8_t *unit,
                 int64_t year, uint64_t *version, const int64_t d[NV])
{
    struct pu_chain ch;
    uint8_t y[8];
    pu_put_key_i64(y, year);
    int rc = pl_year_chain(p->host, ctx, &p->units, unit, year, version, &ch);
    if (rc == 0)
        rc = pl_chain_add(p->host, ctx, PD_WHO, &ch, 'C', y, 8, d, NV);
    /* And in the unit's own, for as_of. */
    return rc != 0 ? rc
                   : pl_own_add(p->host, ctx, PD_WHO, 'c', year, unit, NULL, 0,
                                d, NV);
}

/* One status counter (poor or near-poor, and its _linked) of h, by
 * sign, where h is counted. */
static int count_status(struct pl_plugin *p, povtrack_ctx *ctx, struct hy *h,
                        int64_t year, int64_t sign)
{
    int64_t d[NV] = {0};
    bool poor = h->status == EV_STATUS_POOR;
    if (!is_pnp(h->status))
        return 0;
    d[poor ? V_POOR : V_NEAR] = sign;
    d[poor ? V_POOR_LINKED : V_NEAR_LINKED] = h->linked ? sign : 0;
    return count(p, ctx, h->unit, year, &h->version, d);
}

/* ---- links ---- */

static int link_get(struct pl_plugin *p, povtrack_ctx *ctx, struct ev_str id,
                    struct link *l)
{
    uint8_t k[1 + EV_TEXT_MAX];
    const void *val;
    size_t vlen;
    int rc = pu_get(p->host, ctx, k, text_key(k, 'G', id), &val, &vlen);
    if (rc <= 0)
        return rc;
    const uint8_t *b = val;
    size_t pl = vlen >= PD_G_HDR ? (size_t)b[2] << 8 | b[3] : 0;
    size_t dl = vlen >= PD_G_HDR ? (size_t)b[4] << 8 | b[5] : 0;
    if (vlen != PD_G_HDR + pl + dl || pl > EV_TEXT_MAX || dl > EV_TEXT_MAX)
        return corrupt(p, ctx, "link");
    l->kind = b[0];
    memcpy(l->buf, b + PD_G_HDR, pl + dl);
    l->partner = (struct ev_str){l->buf, (uint32_t)pl};
    l->product = (struct ev_str){l->buf + pl, (uint32_t)dl};
    return 1;
}

/* The link of ev as its first record set it (storing it when it is the
 * first). */
static int link_first(struct pl_plugin *p, povtrack_ctx *ctx,
                      const struct ev_event *ev, struct link *l)
{
    const struct ev_data *d = &ev->data;
    int rc = link_get(p, ctx, d->link, l);
    if (rc != 0)
        return rc < 0 ? rc : 0;
    uint8_t k[1 + EV_TEXT_MAX], b[PD_G_HDR + 2 * EV_TEXT_MAX] = {0};
    b[0] = (uint8_t)d->partner_kind;
    b[2] = (uint8_t)(d->partner.len >> 8);
    b[3] = (uint8_t)d->partner.len;
    b[4] = (uint8_t)(d->product.len >> 8);
    b[5] = (uint8_t)d->product.len;
    memcpy(b + PD_G_HDR, d->partner.ptr, d->partner.len);
    memcpy(b + PD_G_HDR + d->partner.len, d->product.ptr, d->product.len);
    l->kind = b[0];
    return pu_put(p->host, ctx, k, text_key(k, 'G', d->link), b,
                  PD_G_HDR + d->partner.len + d->product.len);
}

/* The link's households in each unit of ch: a unit where it had none
 * gains the link. */
static int link_units(struct pl_plugin *p, povtrack_ctx *ctx,
                      const struct pu_chain *ch, const uint8_t *year,
                      struct ev_str id, uint8_t kind)
{
    uint8_t tail[8 + EV_TEXT_MAX], k[PL_KEY_MAX];
    memcpy(tail, year, 8);
    memcpy(tail + 8, id.ptr, id.len);
    for (int i = 0; i < ch->n; i++) {
        int64_t n, one = 1, d[NV] = {0};
        size_t kl = pl_unit_key(k, 'K', ch->code[i], tail, 8 + id.len);
        int rc = pl_vec_get(p->host, ctx, PD_WHO, k, kl, &n, 1);
        if (rc == 0) {
            d[V_LINKS] = 1;
            d[kind == EV_PARTNER_ENTERPRISE ? V_ENTERPRISE : V_COOPERATIVE] = 1;
            uint8_t ck[1 + PU_UNIT_W + 8];
            size_t cl = pl_unit_key(ck, 'C', ch->code[i], year, 8);
            rc = pl_vec_add(p->host, ctx, PD_WHO, ck, cl, d, NV);
        }
        if (rc >= 0)
            rc = pl_vec_add(p->host, ctx, PD_WHO, k, kl, &one, 1);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int apply_linked(struct pl_plugin *p, povtrack_ctx *ctx,
                        const struct ev_event *ev)
{
    const struct ev_data *d = &ev->data;
    uint8_t k[PD_HH_KEY + EV_TEXT_MAX], y[8], unit[PU_UNIT_W];
    struct link l;
    struct hy h;
    struct pu_chain ch;
    uint64_t version = UINT64_MAX;
    const void *val;
    size_t vlen;
    int rc = link_first(p, ctx, ev, &l);
    if (rc != 0)
        return rc;
    /* Once per (household, year, link). */
    size_t kl = hh_key(k, 'P', ev->household, d->year);
    memcpy(k + kl, d->link.ptr, d->link.len);
    if ((rc = pu_get(p->host, ctx, k, kl + d->link.len, &val, &vlen)) != 0)
        return rc < 0 ? rc : 0;
    if ((rc = pu_put(p->host, ctx, k, kl + d->link.len, "", 0)) != 0)
        return rc;
    pu_put_key_i64(y, d->year);
    if (pu_put_unit(unit, ev->unit) != 0)
        return POVTRACK_EIO;
    rc = pl_year_chain(p->host, ctx, &p->units, unit, d->year, &version, &ch);
    if (rc == 0)
        rc = link_units(p, ctx, &ch, y, d->link, l.kind);
    int64_t one = 1;
    if (rc == 0) /* the link's households in the unit itself, for as_of */
        rc = pl_own_add(p->host, ctx, PD_WHO, 'k', d->year, unit, d->link.ptr,
                        d->link.len, &one, 1);
    kl = hh_key(k, 'H', ev->household, d->year);
    if (rc == 0)
        rc = hy_get(p, ctx, k, kl, &h);
    if (rc < 0 || h.linked)
        return rc < 0 ? rc : 0;
    /* The household's first link of the year: counted where this one is,
     * and as linked where its status is counted. */
    int64_t dh[NV] = {[V_HOUSEHOLDS] = 1};
    if ((rc = pl_chain_add(p->host, ctx, PD_WHO, &ch, 'C', y, 8, dh, NV)) !=
            0 ||
        (rc = pl_own_add(p->host, ctx, PD_WHO, 'c', d->year, unit, NULL, 0, dh,
                         NV)) != 0 ||
        (rc = count_status(p, ctx, &h, d->year, -1)) != 0)
        return rc;
    h.linked = 1;
    if ((rc = count_status(p, ctx, &h, d->year, 1)) != 0)
        return rc;
    return hy_put(p, ctx, k, kl, &h);
}

static int apply_status(struct pl_plugin *p, povtrack_ctx *ctx,
                        const struct ev_event *ev)
{
    uint8_t k[PD_HH_KEY];
    size_t kl = hh_key(k, 'H', ev->household, ev->data.year);
    struct hy h;
    int rc = hy_get(p, ctx, k, kl, &h);
    if (rc < 0)
        return rc;
    /* Taken back where it was counted, counted again on the registry as it
     * now stands. */
    if ((rc = count_status(p, ctx, &h, ev->data.year, -1)) != 0)
        return rc;
    h.status = (uint8_t)ev->data.status;
    h.version = UINT64_MAX;
    if (pu_put_unit(h.unit, ev->unit) != 0)
        return POVTRACK_EIO;
    if ((rc = count_status(p, ctx, &h, ev->data.year, 1)) != 0)
        return rc;
    return hy_put(p, ctx, k, kl, &h);
}

/* ---- OCOP ---- */

/* Add sign to 'N' of the product's unit and ancestors, as the hierarchy
 * stood when it was placed, on its registry version (set when new). */
static int count_product(struct pl_plugin *p, povtrack_ctx *ctx,
                         struct product *o, int64_t sign)
{
    struct pu_chain ch;
    uint8_t tail[9];
    int rc =
        pu_ancestors_cached_as_of(p->host, ctx, &p->units, pu_get_unit(o->unit),
                                  o->placed, o->version, &ch);
    if (rc != 0)
        return rc == POVTRACK_NOTFOUND ? POVTRACK_EIO : rc;
    o->version = ch.version;
    pu_put_key_i64(tail, pu_local_year(o->first));
    tail[8] = o->stars;
    rc = pl_chain_add(p->host, ctx, PD_WHO, &ch, 'N', tail, sizeof tail, &sign,
                      1);
    /* And in its unit's own, for as_of. */
    return rc != 0
               ? rc
               : pl_own_add(p->host, ctx, PD_WHO, 'n', pu_local_year(o->first),
                            o->unit, &o->stars, 1, &sign, 1);
}

static int apply_ocop(struct pl_plugin *p, povtrack_ctx *ctx,
                      const struct ev_event *ev)
{
    uint8_t k[1 + EV_TEXT_MAX], b[PD_O_LEN] = {0};
    size_t kl = text_key(k, 'O', ev->data.product);
    const uint8_t *v;
    struct product o = {0};
    int rc = pl_get_fixed(p->host, ctx, PD_WHO, "product", k, kl, PD_O_LEN, &v);
    if (rc < 0)
        return rc;
    if (rc == 1) {
        o.stars = v[0];
        memcpy(o.unit, v + 1, PU_UNIT_W);
        o.first = pu_get_i64(v + 8);
        o.placed = pu_get_i64(v + 16);
        o.version = pu_get_u64(v + 24);
        if ((rc = count_product(p, ctx, &o, -1)) != 0)
            return rc;
        if (ev->at < o.first)
            o.first = ev->at;
    } else {
        o.first = ev->at;
    }
    o.stars = (uint8_t)ev->data.stars;
    o.placed = ev->at;
    o.version = UINT64_MAX;
    if (pu_put_unit(o.unit, ev->unit) != 0)
        return POVTRACK_EIO;
    if ((rc = count_product(p, ctx, &o, 1)) != 0)
        return rc;
    b[0] = o.stars;
    memcpy(b + 1, o.unit, PU_UNIT_W);
    pu_put_i64(b + 8, o.first);
    pu_put_i64(b + 16, o.placed);
    pu_put_u64(b + 24, o.version);
    return pu_put(p->host, ctx, k, kl, b, sizeof b);
}

static int pd_apply(void *state, povtrack_ctx *ctx,
                    const struct povtrack_record *rec)
{
    struct pl_plugin *p = state;
    const struct ev_event *ev = rec->event;
    switch (ev->type) {
    case EV_PRODUCTION_LINKED:
        return apply_linked(p, ctx, ev);
    case EV_HOUSEHOLD_STATUS:
        return apply_status(p, ctx, ev);
    case EV_OCOP_CERTIFIED:
        return apply_ocop(p, ctx, ev);
    default:
        return 0; /* not in the mask */
    }
}

/* ---- query ---- */

struct ocop {
    int64_t year;
    int64_t by_stars[PD_STARS_MAX + 1], fresh;
    bool bad;
};

/* Products first certified in year: n of stars k[14]. */
static int ocop_add(struct ocop *o, const uint8_t *k, size_t klen, int64_t year,
                    const void *val, size_t vlen)
{
    if (klen != 1 + PU_UNIT_W + 9 || vlen != 8 || k[14] < PD_STARS_MIN ||
        k[14] > PD_STARS_MAX) {
        o->bad = true;
        return 1;
    }
    int64_t n = pu_get_i64(val);
    if (year > o->year)
        return 1; /* the years after y: done */
    o->by_stars[k[14]] += n;
    if (year == o->year)
        o->fresh += n;
    return 0;
}

/* 'N' unit year stars */
static int ocop_cb(void *arg, const void *key, size_t klen, const void *val,
                   size_t vlen)
{
    const uint8_t *k = key;
    return ocop_add(arg, k, klen, pu_get_key_i64(k + 1 + PU_UNIT_W), val, vlen);
}

/* 'n' year unit stars (the scan ends after y) */
static int own_ocop_cb(void *arg, const uint8_t *key, size_t klen,
                       const uint8_t *val, size_t vlen)
{
    return ocop_add(arg, key, klen, pu_get_key_i64(key + 1), val, vlen) != 0
               ? POVTRACK_EIO
               : 0;
}

/* A link of a 'K' or 'k' scan, copied. */
struct link_row {
    char id[EV_TEXT_MAX];
    uint32_t len;
    int64_t households;
};

/* Links of a scan. */
struct links {
    struct link_row *l;
    size_t n, cap;
    int64_t total, limit;
    bool bad;
};

static int links_cb(void *arg, const void *key, size_t klen, const void *val,
                    size_t vlen)
{
    struct links *ls = arg;
    size_t at = 1 + PU_UNIT_W + 8;
    if (klen <= at || klen - at > EV_TEXT_MAX || vlen != 8) {
        ls->bad = true;
        return 1;
    }
    if (ls->total++ >= ls->limit)
        return 0;
    if (ls->n == ls->cap) {
        size_t cap = ls->cap ? ls->cap * 2 : 16;
        void *l = realloc(ls->l, cap * sizeof *ls->l);
        if (l == NULL) {
            ls->bad = true;
            return 1;
        }
        ls->l = l;
        ls->cap = cap;
    }
    memcpy(ls->l[ls->n].id, (const uint8_t *)key + at, klen - at);
    ls->l[ls->n].len = (uint32_t)(klen - at);
    ls->l[ls->n++].households = pu_get_i64(val);
    return 0;
}

/* The stars of a certified product, 0 when it is not. */
static int stars_of(struct pl_plugin *p, povtrack_ctx *ctx, struct ev_str pr,
                    uint8_t *stars)
{
    uint8_t k[1 + EV_TEXT_MAX];
    const uint8_t *v;
    int rc = pl_get_fixed(p->host, ctx, PD_WHO, "product", k,
                          text_key(k, 'O', pr), PD_O_LEN, &v);
    *stars = rc == 1 ? v[0] : 0;
    return rc < 0 ? rc : 0;
}

/* links_cb for an own entry 'k' year unit link: the link at the same
 * offset as in 'K'. */
static int own_links_cb(void *arg, const uint8_t *key, size_t klen,
                        const uint8_t *val, size_t vlen)
{
    return links_cb(arg, key, klen, val, vlen) != 0 ? POVTRACK_EIO : 0;
}

static int by_link(const void *a, const void *b)
{
    const struct link_row *x = a, *y = b;
    return pu_cmp_bytes(x->id, x->len, y->id, y->len);
}

/* pl_merge_runs' fold: one link of several units into one. */
static void fold_link(void *into, void *from)
{
    ((struct link_row *)into)->households +=
        ((const struct link_row *)from)->households;
}

/* The links of the year with households in unit or below: as counted
 * ('K'), or with as_of (g not NULL) regrouped into g's unit from the
 * units' own ('k'), a link of two of them once, its households added up.
 * By link id; at most ls->limit kept, ls->total all of them. */
static int links_get(struct pl_plugin *p, povtrack_ctx *ctx,
                     const uint8_t *code, int64_t year, struct pu_regroup *g,
                     struct links *ls)
{
    uint8_t from[1 + PU_UNIT_W + 8], to[1 + PU_UNIT_W + 8];
    if (g == NULL) {
        uint8_t y[8];
        pu_put_key_i64(y, year);
        pl_unit_key(from, 'K', code, y, 8);
        pl_prefix_end(to, from, sizeof from);
        int rc = pl_scan(p->host, ctx, PD_WHO, from, sizeof from, to, sizeof to,
                         links_cb, ls);
        return rc != 0 ? rc : ls->bad ? POVTRACK_EIO : 0;
    }
    int64_t limit = ls->limit;
    ls->limit = INT64_MAX; /* all of them, then merged */
    uint8_t kf[9] = {'k'}, kt[9] = {'k'};
    pu_put_key_i64(kf + 1, year);
    pu_put_key_i64(kt + 1, year + 1);
    int rc = pu_regroup_scan(g, kf, sizeof kf, kt, sizeof kt, PL_OWN_UNIT, 0,
                             own_links_cb, ls);
    if (rc != 0 || ls->bad)
        return rc != 0 ? rc : POVTRACK_EIO;
    size_t out = pl_merge_runs(ls->l, ls->n, sizeof *ls->l, by_link, fold_link);
    ls->total = (int64_t)out;
    ls->n = out < (size_t)limit ? out : (size_t)limit;
    ls->limit = limit;
    return 0;
}

/* The links' counters of the year regrouped (g): links and by the
 * partner's kind. */
static int links_counted(struct pl_plugin *p, povtrack_ctx *ctx, int64_t year,
                         struct pu_regroup *g, int64_t v[NV])
{
    struct links ls = {.limit = INT64_MAX};
    int rc = links_get(p, ctx, NULL, year, g, &ls);
    for (size_t i = 0; rc == 0 && i < ls.n; i++) {
        struct link l;
        if ((rc = link_get(p, ctx, (struct ev_str){ls.l[i].id, ls.l[i].len},
                           &l)) != 1) {
            rc = rc == 0 ? corrupt(p, ctx, "link index") : rc;
            break;
        }
        rc = 0;
        v[V_LINKS]++;
        v[l.kind == EV_PARTNER_ENTERPRISE ? V_ENTERPRISE : V_COOPERATIVE]++;
    }
    free(ls.l);
    return rc;
}

static int list_links(struct pl_plugin *p, povtrack_ctx *ctx,
                      const uint8_t *code, int64_t year, struct pu_regroup *g,
                      int64_t limit, msgpack_packer *pk)
{
    struct links ls = {.limit = limit};
    int rc = links_get(p, ctx, code, year, g, &ls);
    if (rc == 0)
        rc = msgpack_pack_map(pk, 2) | pu_pack_key(pk, "links") |
             msgpack_pack_array(pk, (uint32_t)ls.n);
    for (size_t i = 0; rc == 0 && i < ls.n; i++) {
        struct ev_str id = {ls.l[i].id, ls.l[i].len};
        struct link l;
        uint8_t stars = 0;
        if ((rc = link_get(p, ctx, id, &l)) != 1 ||
            (rc = stars_of(p, ctx, l.product, &stars)) != 0) {
            rc = rc == 0 ? corrupt(p, ctx, "link index") : rc;
            break;
        }
        rc = msgpack_pack_map(pk, 6) | pl_pack_text(pk, "link", id) |
             pl_pack_text(pk, "partner", l.partner) |
             pu_pack_key(pk, "partner_kind") |
             pu_pack_key(pk, ev_partner_kind_name(l.kind)) |
             pl_pack_text(pk, "product", l.product) |
             pu_pack_key(pk, "ocop_stars") |
             pu_pack_opt_i64(pk, stars != 0, stars) |
             pl_pack_i64(pk, "households", ls.l[i].households);
    }
    if (rc == 0)
        rc = pl_pack_i64(pk, "more", ls.total - (int64_t)ls.n);
    free(ls.l);
    return rc;
}

static int pd_query(void *state, povtrack_ctx *ctx, const msgpack_object *q,
                    msgpack_packer *pk, char *err, size_t errlen)
{
    struct pl_plugin *p = state;
    struct pl_yearly a;
    int64_t v[NV];
    int rc = pl_arg_yearly(p->host, ctx, q, "links", PD_LIMIT_DEFAULT,
                           PD_LIMIT_MAX, &a, err, errlen);
    if (rc != 0)
        return rc;
    struct pu_regroup g;
    pu_regroup_init(&g, p->host, ctx, a.ch.code[0], a.as_of, a.as_of);
    struct pu_regroup *rg = a.has_as_of ? &g : NULL;
    if (a.list) {
        rc = list_links(p, ctx, a.ch.code[0], a.year, rg, a.limit, pk);
        pu_regroup_free(&g);
        return rc != 0 ? pl_query_failed(err, errlen) : 0;
    }
    uint8_t k[1 + PU_UNIT_W + 8], to[1 + PU_UNIT_W];
    struct ocop o = {.year = a.year};
    if (rg != NULL) {
        /* Each unit's own, regrouped: the links each once. */
        uint8_t kf[9] = {'n'}, kt[9] = {'n'};
        struct pu_sums sums = {v, NV};
        memset(v, 0, sizeof v);
        pu_put_key_i64(kf + 1, INT64_MIN);
        pu_put_key_i64(kt + 1, a.year + 1);
        uint8_t cf[9] = {'c'}, ct[9] = {'c'};
        pu_put_key_i64(cf + 1, a.year);
        pu_put_key_i64(ct + 1, a.year + 1);
        rc = pu_regroup_scan(rg, cf, sizeof cf, ct, sizeof ct, PL_OWN_UNIT,
                             PL_OWN_UNIT + PU_UNIT_W, pu_sums_add, &sums);
        if (rc == 0)
            rc = links_counted(p, ctx, a.year, rg, v);
        if (rc == 0)
            rc = pu_regroup_scan(rg, kf, sizeof kf, kt, sizeof kt, PL_OWN_UNIT,
                                 0, own_ocop_cb, &o);
    } else {
        pl_unit_key(k, 'C', a.ch.code[0], a.year_key, 8);
        rc = pl_vec_get(p->host, ctx, PD_WHO, k, sizeof k, v, NV);
        k[0] = 'N';
        pl_prefix_end(to, k, sizeof to);
        if (rc >= 0)
            rc = pl_scan(p->host, ctx, PD_WHO, k, sizeof to, to, sizeof to,
                         ocop_cb, &o);
    }
    pu_regroup_free(&g);
    if (rc < 0 || o.bad)
        return pl_query_failed(err, errlen);
    int64_t products = 0;
    for (int s = PD_STARS_MIN; s <= PD_STARS_MAX; s++)
        products += o.by_stars[s];
    int e =
        msgpack_pack_map(pk, 14 + a.has_as_of) |
        pl_pack_unit(pk, "unit", a.ch.code[0]) |
        pl_pack_as_of(pk, a.has_as_of, a.as_of) |
        pl_pack_i64(pk, "year", a.year) |
        pl_pack_i64(pk, "households_linked", v[V_HOUSEHOLDS]) |
        pl_pack_i64(pk, "links", v[V_LINKS]) |
        pu_pack_key(pk, "links_by_partner_kind") | msgpack_pack_map(pk, 2) |
        pl_pack_i64(pk, "enterprise", v[V_ENTERPRISE]) |
        pl_pack_i64(pk, "cooperative", v[V_COOPERATIVE]) |
        pl_pack_i64(pk, "poor", v[V_POOR]) |
        pl_pack_i64(pk, "poor_linked", v[V_POOR_LINKED]) |
        pl_pack_share(pk, "poor_linked_share", v[V_POOR_LINKED], v[V_POOR]) |
        pl_pack_i64(pk, "near_poor", v[V_NEAR]) |
        pl_pack_i64(pk, "near_poor_linked", v[V_NEAR_LINKED]) |
        pl_pack_share(pk, "near_poor_linked_share", v[V_NEAR_LINKED],
                      v[V_NEAR]) |
        pl_pack_i64(pk, "ocop_products", products) |
        pu_pack_key(pk, "ocop_by_stars") | msgpack_pack_map(pk, 3);
    for (int s = PD_STARS_MIN; s <= PD_STARS_MAX; s++) {
        char name[2] = {(char)('0' + s), '\0'};
        e |= pl_pack_i64(pk, name, o.by_stars[s]);
    }
    e |= pl_pack_i64(pk, "ocop_new", o.fresh);
    return e != 0 ? pl_query_failed(err, errlen) : 0;
}

/* ---- the plugin ---- */

PL_PLUGIN_WITHOUT_SETTINGS(pd, PD_WHO);

/* state_layout: bump it when the stored values change. */
POVTRACK_PLUGIN(.name = "production", .version = "1.1.0",
                .event_mask = EV_TYPE_BIT(EV_PRODUCTION_LINKED) |
                              EV_TYPE_BIT(EV_HOUSEHOLD_STATUS) |
                              EV_TYPE_BIT(EV_OCOP_CERTIFIED),
                .init = pd_init, .apply = pd_apply, .query = pd_query,
                .fini = pl_fini, .state_layout = 2, .config_map = pd_config);
