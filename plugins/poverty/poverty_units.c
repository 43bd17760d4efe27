/*
 * poverty_units.c - the poverty plugin's units over time (see
 * poverty_units.h): the rolled-up keys kept on the year-end hierarchy as
 * records arrive, their rebuild after a change of units, and regrouping a
 * year's own keys into the units of a later instant.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <povtrack/plugin_util.h>
#include "poverty_state.h"
#include "poverty_units.h"
#include <povtrack/plugin.h>

/* Years of the catalogue (ev_event.c): the years a rebuild visits. */
#define POV_YEAR_FIRST 2000
#define POV_YEAR_LAST 2100

/* ---- the unit registry ---- */

int pov_chain_at(struct poverty *p, povtrack_ctx *ctx, struct pu_units *cache,
                 const uint8_t *unit, int64_t at, struct pu_chain *ch)
{
    int rc =
        pu_ancestors_cached_at(p->host, ctx, cache, pu_get_unit(unit), at, ch);
    if (rc == 0 || rc == POVTRACK_NOTFOUND)
        return rc;
    return POVTRACK_EIO;
}

int pov_map_unit(struct poverty *p, povtrack_ctx *ctx, const uint8_t *unit,
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
               "poverty: unit registry: mapping %.*s failed: %s", (int)code.len,
               code.ptr, pu_strerror(h, rc));
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
        struct pov_denom n;
        int rc = pov_denom_get(p, ctx, year, ch->code[i], &n);
        if (rc != 0)
            return rc;
        bool pk = pov_denom_known(&n);
        int64_t pv = pov_denom_value(&n);
        n.childsum += nv - ov;
        n.childknown += (int64_t)nk - (int64_t)ok;
        if ((rc = pov_denom_put(p, ctx, year, ch->code[i], &n)) != 0)
            return rc;
        ok = pk;
        ov = pv;
        nk = pov_denom_known(&n);
        nv = pov_denom_value(&n);
    }
    return 0;
}

/* The start of unit's span in force at "at": 0, POVTRACK_NOTFOUND (not in
 * force then) or POVTRACK_EIO (logged). */
static int span_from_at(struct poverty *p, povtrack_ctx *ctx,
                        const uint8_t *unit, int64_t at, int64_t *from)
{
    struct povtrack_unit u = {.size = sizeof u};
    int rc = p->host->unit_at(ctx, pu_get_unit(unit), at, &u);
    if (rc == 0) {
        *from = u.from;
        return 0;
    }
    if (rc == POVTRACK_NOTFOUND || rc == POVTRACK_NOTINFORCE)
        return POVTRACK_NOTFOUND;
    p->host->log(ctx, POVTRACK_LOG_ERROR,
                 "poverty: unit registry lookup failed: %s",
                 pu_strerror(p->host, rc));
    return POVTRACK_EIO;
}

/*
 * Add (sign +1) or take back (-1) households(unit, year) = value,
 * published while unit's span from span_from was in force, on the end-of-
 * year hierarchy ('N').  The unit as it stands at the end of the year
 * holds the value as its own when it is the span that published it; a
 * unit not in force then, or a code that went on under a new span since
 * (the ward that absorbed two others), counts it as a child of where its
 * households went.
 */
static int households_contrib(struct poverty *p, povtrack_ctx *ctx,
                              int64_t year, const uint8_t *unit, int64_t value,
                              int64_t span_from, int sign)
{
    struct pu_chain ch;
    int64_t end = pu_year_end(year), from;
    int rc = pov_chain_at(p, ctx, &p->units, unit, end, &ch);
    if (rc == POVTRACK_NOTFOUND)
        return 0; /* leads nowhere at the end of the year */
    if (rc != 0)
        return rc;
    bool own = !ch.mapped;
    if (own) {
        if ((rc = span_from_at(p, ctx, unit, end, &from)) != 0)
            return rc == POVTRACK_NOTFOUND ? POVTRACK_EIO : rc;
        own = from == span_from;
    }
    if (!own)
        return sign > 0 ? denom_propagate(p, ctx, year, &ch, 0, false, 0, true,
                                          value)
                        : denom_propagate(p, ctx, year, &ch, 0, true, value,
                                          false, 0);
    struct pov_denom n;
    if ((rc = pov_denom_get(p, ctx, year, ch.code[0], &n)) != 0)
        return rc;
    bool ok = pov_denom_known(&n);
    int64_t ov = pov_denom_value(&n);
    n.has_published = sign > 0;
    n.published = sign > 0 ? value : 0;
    if ((rc = pov_denom_put(p, ctx, year, ch.code[0], &n)) != 0)
        return rc;
    return denom_propagate(p, ctx, year, &ch, 1, ok, ov, pov_denom_known(&n),
                           pov_denom_value(&n));
}

int pov_apply_households(struct poverty *p, povtrack_ctx *ctx,
                         const struct ev_event *ev)
{
    uint8_t unit[PU_UNIT_W], k[POV_YKEY_LEN], v[POV_D_VLEN];
    int64_t year = ev->data.year, span_from;
    const void *old;
    size_t vlen;
    if (pu_put_unit(unit, ev->unit) != 0)
        return POVTRACK_EIO; /* the unit passed the reference checks */
    /* In force at "at": the reference checks saw to it. */
    int rc = span_from_at(p, ctx, unit, ev->at, &span_from);
    if (rc != 0)
        return rc == POVTRACK_NOTFOUND ? POVTRACK_EIO : rc;
    pov_ykey(k, 'D', year, unit);
    if ((rc = pu_get(p->host, ctx, k, sizeof k, &old, &vlen)) < 0)
        return rc;
    if (rc == 1) {
        if (vlen != POV_D_VLEN) {
            p->host->log(ctx, POVTRACK_LOG_ERROR, "poverty: bad 'D' value");
            return POVTRACK_EIO;
        }
        /* The latest publication replaces the earlier one; copy it out of
         * the map before the writes below. */
        int64_t ov = pu_get_i64(old);
        int64_t ospan = pu_get_i64((const uint8_t *)old + 8);
        if ((rc = households_contrib(p, ctx, year, unit, ov, ospan, -1)) != 0)
            return rc;
    }
    pu_put_i64(v, ev->data.households);
    pu_put_i64(v + 8, span_from);
    if ((rc = pu_put(p->host, ctx, k, sizeof k, v, sizeof v)) != 0)
        return rc;
    return households_contrib(p, ctx, year, unit, ev->data.households,
                              span_from, +1);
}

/* ---- counters: rolled up, and regrouped into the next year ---- */

int pov_roll_up(struct poverty *p, povtrack_ctx *ctx, const uint8_t *unit,
                int64_t year, const int64_t d[C_COUNT])
{
    struct pu_chain ch, nx;
    int64_t end = pu_year_end(year), next = pu_year_end(year + 1);
    int rc = pov_chain_at(p, ctx, &p->units, unit, end, &ch);
    if (rc != 0 && rc != POVTRACK_NOTFOUND)
        return rc;
    bool found = rc == 0;
    for (int i = 0; found && i < ch.n; i++)
        if ((rc = pov_counters_add(p, ctx, 'C', year, ch.code[i], d)) != 0)
            return rc;
    int64_t b[B_COUNT] = {[B_POOR] = d[C_POOR],
                          [B_EXITED] = d[C_EXIT_NEXT],
                          [B_MOVED_OUT] = d[C_MOVED_OUT_NEXT]};
    if (b[B_POOR] == 0 && b[B_EXITED] == 0 && b[B_MOVED_OUT] == 0)
        return 0;
    if (found && !ch.mapped && ch.to > next) {
        nx = ch; /* the same chain still holds at the end of year+1 */
    } else {
        uint8_t m[PU_UNIT_W];
        rc = pov_map_unit(p, ctx, unit, end, next, m);
        if (rc == 0)
            rc = pov_chain_at(p, ctx, &p->units, m, next, &nx);
        if (rc == POVTRACK_NOTFOUND)
            return 0;
        if (rc != 0)
            return rc;
    }
    for (int i = 0; i < nx.n; i++)
        if ((rc = pov_start_add(p, ctx, year + 1, nx.code[i], b)) != 0)
            return rc;
    return 0;
}

/* ---- changes of units ---- */

/*
 * Rebuild the rolled-up keys that depend on the hierarchy from year on
 * ('C' and 'N' of year and later, 'B' of year+1 and later) from the own
 * keys, on the registry as it stands at this record.
 */
static int reconcile_year(struct poverty *p, povtrack_ctx *ctx, int64_t year)
{
    int rc = pov_del_year(p, ctx, 'C', year);
    if (rc == 0)
        rc = pov_del_year(p, ctx, 'N', year);
    if (rc == 0)
        rc = pov_del_year(p, ctx, 'B', year + 1);
    if (rc != 0)
        return rc;
    struct pov_coll c = {.vlen = POV_C_VLEN};
    rc = pov_coll_year(p->host, ctx, 'O', year, &c);
    for (size_t i = 0; rc == 0 && i < c.n; i++) {
        const uint8_t *e = pov_coll_at(&c, i);
        int64_t d[C_COUNT];
        for (int j = 0; j < C_COUNT; j++)
            d[j] = pu_get_i64(e + PU_UNIT_W + 8 * j);
        rc = pov_roll_up(p, ctx, e, year, d);
    }
    free(c.buf);
    if (rc != 0)
        return rc;
    struct pov_coll dn = {.vlen = POV_D_VLEN};
    rc = pov_coll_year(p->host, ctx, 'D', year, &dn);
    for (size_t i = 0; rc == 0 && i < dn.n; i++) {
        const uint8_t *e = pov_coll_at(&dn, i);
        rc = households_contrib(p, ctx, year, e, pu_get_i64(e + PU_UNIT_W),
                                pu_get_i64(e + PU_UNIT_W + 8), +1);
    }
    free(dn.buf);
    return rc;
}

int pov_reconcile(struct poverty *p, povtrack_ctx *ctx, int64_t from)
{
    if (from < POV_YEAR_FIRST - 1)
        from = POV_YEAR_FIRST - 1;
    for (int64_t y = from; y <= POV_YEAR_LAST; y++) {
        int rc = reconcile_year(p, ctx, y);
        if (rc != 0)
            return rc;
    }
    return pov_meta_put(p, ctx, POV_CLEAN);
}

/*
 * A unit.defined with "effective" (a code going on under a new parent, or
 * a new code) or a unit.changed other than a rename may move households
 * of the year before its effective date on (their 'B') and of its year on.
 * Its year is marked a year of reorganisation ('E'), whose reviews compare
 * the year before regrouped onto its units (poverty.c).
 */
int pov_apply_unit_event(struct poverty *p, povtrack_ctx *ctx,
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
    int rc = pov_reform_mark(p, ctx, y + 1);
    if (rc != 0 || y >= dirty_from)
        return rc;
    return pov_meta_put(p, ctx, y);
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

struct rg {
    struct poverty *p;
    povtrack_ctx *ctx;
    int64_t from, at;      /* the end of the year, the instant regrouped to */
    struct pu_units cache; /* this call's chains at the end of the year */
    struct pu_regroup in;  /* which codes map into the unit at "at" */
    struct cmap idx;       /* code -> node index */
    struct rg_node *node;
    size_t nnode, capnode;
};

static void rg_free(struct rg *g)
{
    pu_units_free(&g->cache);
    pu_regroup_free(&g->in);
    cmap_free(&g->idx);
    free(g->node);
    g->node = NULL;
    g->nnode = g->capnode = 0;
}

/* Whether code's households (as of g->from) are in the unit's subtree at
 * g->at: 0 with *in set, or POVTRACK_EIO. */
static int rg_in(struct rg *g, const uint8_t *code, bool *in)
{
    return pu_regroup_in(&g->in, code, in) == 0 ? 0 : POVTRACK_EIO;
}

/* A new node for code under parent, not found by code (rg_node_of). */
static int rg_node_new(struct rg *g, const uint8_t *code, int32_t parent,
                       int32_t *out)
{
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
    return 0;
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
    int rc = rg_node_new(g, code, parent, out);
    return rc == 0 ? cmap_put(&g->idx, code, *out) : rc;
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
 * of-year units (rebuilt from 'D' as households_contrib keeps them in 'N'),
 * summed over the topmost of them that map into the unit's subtree.
 */
static int rg_households(struct rg *g, int64_t year, struct pov_rg_result *out)
{
    struct pov_coll dn = {.vlen = POV_D_VLEN};
    int rc = pov_coll_year(g->p->host, g->ctx, 'D', year, &dn);
    for (size_t i = 0; rc == 0 && i < dn.n; i++) {
        const uint8_t *e = pov_coll_at(&dn, i);
        struct pu_chain ch;
        rc = pov_chain_at(g->p, g->ctx, &g->cache, e, g->from, &ch);
        if (rc == POVTRACK_NOTFOUND) {
            rc = 0;
            continue;
        }
        int32_t parent = -1, at = -1;
        for (int j = ch.n - 1; rc == 0 && j >= 0; j--) {
            rc = rg_node_of(g, ch.code[j], parent, &at);
            parent = at;
        }
        if (rc == 0 && ch.mapped) {
            rc = rg_node_of(g, e, parent, &at); /* a child of its successor */
        } else if (rc == 0) {
            /* Published by an earlier span of a code that went on: a child
             * of the unit the code is at the end of the year, on a node of
             * its own (households_contrib). */
            int64_t from;
            rc = span_from_at(g->p, g->ctx, e, g->from, &from);
            if (rc == 0 && from != pu_get_i64(e + PU_UNIT_W + 8))
                rc = rg_node_new(g, e, parent, &at);
            else if (rc == POVTRACK_NOTFOUND)
                rc = POVTRACK_EIO;
        }
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
        bool in = false, pin = false;
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

int pov_regroup(struct poverty *p, povtrack_ctx *ctx, int64_t year, int64_t at,
                const uint8_t *unit, bool want_hh, struct pov_rg_result *out)
{
    struct rg g = {.p = p, .ctx = ctx, .from = pu_year_end(year), .at = at};
    pu_regroup_init(&g.in, p->host, ctx, unit, g.from, at);
    memset(out, 0, sizeof *out);
    struct pov_coll c = {.vlen = POV_C_VLEN};
    int rc = pov_coll_year(p->host, ctx, 'O', year, &c);
    for (size_t i = 0; rc == 0 && i < c.n; i++) {
        const uint8_t *e = pov_coll_at(&c, i);
        bool in;
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
