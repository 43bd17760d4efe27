/*
 * poverty_history.c - households' histories and the counters they
 * contribute (see poverty_history.h).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <povtrack/plugin_util.h>
#include "poverty_history.h"
#include "poverty_state.h"
#include "poverty_units.h"
#include <povtrack/plugin.h>

/* The stored entry of 'H' (poverty_state.h). */
#define POV_H_ENTRY 16
#define POV_H_EXIT 0x80u
#define POV_H_MOVE 0x40u

/* Histories up to this many years are handled in stack buffers; longer
 * ones (a household followed for decades) on the heap. */
#define POV_HIST_STACK 16

/* What an entry of a household's history records, in the order a year's
 * entries are kept. */
enum hist_kind { K_STATUS, K_MOVE, K_EXIT };

/* One entry of a household's history: a status, a move or an exit. */
struct hist {
    int64_t year;
    enum hist_kind kind;
    enum ev_status status;   /* K_STATUS */
    enum ev_exit reason;     /* K_EXIT */
    uint8_t unit[PU_UNIT_W]; /* a move: where it moved to */
};

/* Counter changes for one (unit, year), summed before touching storage so
 * that a replaced record whose contributions cancel writes nothing. */
struct delta {
    uint8_t unit[PU_UNIT_W];
    int64_t year;
    int64_t d[C_COUNT];
};

static bool all_zero(const int64_t *d, int n)
{
    for (int i = 0; i < n; i++)
        if (d[i] != 0)
            return false;
    return true;
}

/* Apply one (unit, year) counter change: own key, then rolled up. */
static int delta_apply(struct poverty *p, povtrack_ctx *ctx,
                       const struct delta *d)
{
    if (all_zero(d->d, C_COUNT))
        return 0;
    int rc = pov_counters_add(p, ctx, 'O', d->year, d->unit, d->d);
    if (rc == 0)
        rc = pov_roll_up(p, ctx, d->unit, d->year, d->d);
    return rc;
}

/* ---- households' histories ---- */

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
        h[i].kind = (e[8] & POV_H_EXIT)  ? K_EXIT
                    : e[8] == POV_H_MOVE ? K_MOVE
                                         : K_STATUS;
        if (h[i].kind == K_EXIT)
            h[i].reason = (enum ev_exit)(e[8] & ~POV_H_EXIT);
        else if (h[i].kind == K_STATUS)
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
        e[8] = h[i].kind == K_EXIT
                   ? (uint8_t)(POV_H_EXIT | (unsigned)h[i].reason)
               : h[i].kind == K_MOVE ? (uint8_t)POV_H_MOVE
                                     : (uint8_t)h[i].status;
        memcpy(e + 9, h[i].unit, PU_UNIT_W);
    }
    int rc = pu_put(p->host, ctx, key, klen, v, n * POV_H_ENTRY);
    if (v != buf)
        free(v);
    return rc;
}

/* The entry of that kind and year (a status, a move, an exit), or NULL. */
static const struct hist *hist_find(const struct hist *h, size_t n,
                                    int64_t year, enum hist_kind kind)
{
    for (size_t i = 0; i < n; i++)
        if (h[i].year == year && h[i].kind == kind)
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
        if (h[j].kind == K_STATUS && h[j].year >= lo && h[j].year <= hi &&
            h[j].status == EV_STATUS_POOR)
            return true;
    return false;
}

/*
 * Add sign times every counter contribution of a household's history to
 * ds: its stock status per year, and its flows of year y (escaped, newly
 * poor or relapsed; near-poor formerly poor; and, for an escape, whether
 * it was poor again within 1..3 years), all attributed to the unit of its
 * year-y status, so all of one entry's counters land in one delta; for
 * an exit in y of a household poor in y-1, exited_next in the unit and
 * year of that y-1 status (the same delta as its poor count); and for a
 * move in y of a household poor in y-1 that did not exit in y,
 * moved_out_next there and moved_in in the unit of its y status (where
 * its y stock and flows count), or where it moved to when it has none.
 * ds must have room for 3 * n entries.  Years are 2000-2100 (the
 * catalogue's range), so year +- 3 cannot overflow.
 */
static void hist_contrib(const struct hist *h, size_t n, int64_t sign,
                         struct delta *ds, size_t *nd)
{
    for (size_t i = 0; i < n; i++) {
        const struct hist *e = &h[i];
        const struct hist *prev = hist_find(h, n, e->year - 1, K_STATUS);
        bool prev_poor = prev != NULL && prev->status == EV_STATUS_POOR;
        if (e->kind == K_EXIT) {
            if (prev_poor)
                delta_add(ds, nd, prev->unit, prev->year, C_EXIT_NEXT, sign);
            continue;
        }
        if (e->kind == K_MOVE) {
            /* The household leaves the units it counted in at the start of
             * the year for those it counts in at the end: both sides of
             * the flow identity see it go and come. */
            const struct hist *cur = hist_find(h, n, e->year, K_STATUS);
            if (!prev_poor || hist_find(h, n, e->year, K_EXIT) != NULL)
                continue;
            delta_add(ds, nd, prev->unit, prev->year, C_MOVED_OUT_NEXT, sign);
            delta_add(ds, nd, cur != NULL ? cur->unit : e->unit, e->year,
                      C_MOVED_IN, sign);
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
 * Record a status, a move or an exit of household h in a year, replacing
 * any earlier record of the same kind for that year (of moves, the last
 * in log order is kept).  The household's contributions are computed from
 * its whole history before and after the change and only the difference
 * is applied: a replacement moves the household between statuses or
 * units without double counting, and the years around it get their flows
 * corrected.
 */
int pov_apply_record(struct poverty *p, povtrack_ctx *ctx,
                     const struct ev_event *ev)
{
    static const char *const what[] = {
        [K_STATUS] = "household.status",
        [K_MOVE] = "household.moved",
        [K_EXIT] = "household.exited",
    };
    enum hist_kind kind = ev->type == EV_HOUSEHOLD_EXITED  ? K_EXIT
                          : ev->type == EV_HOUSEHOLD_MOVED ? K_MOVE
                                                           : K_STATUS;
    uint8_t key[1 + EV_HOUSEHOLD_MAX];
    if (ev->household.ptr == NULL || ev->household.len == 0 ||
        ev->household.len > EV_HOUSEHOLD_MAX) {
        p->host->log(ctx, POVTRACK_LOG_ERROR,
                     "poverty: %s without a valid household", what[kind]);
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
    /* A status entry's counters land in its own (unit, year) delta, an
     * exit's in its year-before status's, a move's in both of those and
     * the year's status: at most three new deltas an entry, before and
     * after (the history grows by at most one entry). */
    struct delta dbuf[6 * POV_HIST_STACK];
    struct delta *ds = 6 * (n + 1) <= 6 * POV_HIST_STACK
                           ? dbuf
                           : calloc(6 * (n + 1), sizeof *ds);
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
    /* Sorted by year, a year's status before its move before its exit.
     * A move's year is the local year of its date. */
    int64_t year = kind == K_MOVE ? pu_local_year(ev->at) : ev->data.year;
    size_t i = 0;
    while (i < n &&
           (h[i].year < year || (h[i].year == year && h[i].kind < kind)))
        i++;
    if (i == n || h[i].year != year || h[i].kind != kind) {
        memmove(&h[i + 1], &h[i], (n - i) * sizeof *h);
        n++;
        memset(&h[i], 0, sizeof h[i]);
        h[i].year = year;
        h[i].kind = kind;
    }
    if (kind == K_EXIT)
        h[i].reason = ev->data.exit_reason;
    else if (kind == K_STATUS)
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
