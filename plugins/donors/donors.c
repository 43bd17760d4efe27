/*
 * donors.c - the built-in "donors" plugin: the public acknowledgement of
 * donors to the For the Poor fund (plan III.3: the Fatherland Front
 * publishes who gave what), a list per unit and period.
 *
 * Why a plugin of its own rather than a query of the fund plugin: the
 * fund keeps sums per unit and day, and a list of donors needs the donor
 * of every donation; keeping it beside the fund's counters would make
 * every donation cost the fund a key per ancestor it does not need for
 * its own answers, and the list has its own rule (below) that the fund
 * must not know.  Both read the same donation.received events, so the
 * totals agree: "received" here is the fund's "received" for the period.
 *
 * Rules:
 *   - A donation counts in the unit of its event and every ancestor, as
 *     the hierarchy stood at its "at", for the period holding its "at"
 *     (from <= at < to; a year is the Vietnam calendar year).
 *   - A donor is the pair (donor_kind, donor): the same name as a person
 *     and as a business are two donors.
 *   - An anonymous donation (donor_kind "anonymous") is never stored with
 *     its name, even when one was given: every anonymous donation of the
 *     period is one row, donor "Ẩn danh / anonymous".
 *   - A void (record.voided) takes a donation out where it was counted; a
 *     correction (record.corrected) also counts the corrected donation in
 *     its place: as the fund's "received".  A row whose donations were
 *     all taken back is not listed.
 *
 * Query q {"unit", "year"? | "from"? "to"?, "as_of"?, "limit"?} ->
 * {"unit", "as_of"?, "year"?, "received", "donations", "donors", "anonymous":
 * {"amount", "donations"}, "list": [{"donor", "donor_kind", "amount",
 * "donations", "in_kind"}], "more"}: "donors" counts the rows (the anonymous
 * one included); the list is sorted by amount, largest first, then kind and
 * name (byte order), at most limit rows (default 1000, 1-10000); "more"
 * is how many rows were left out; "in_kind" is the part of the amount
 * given in kind.
 *
 * Units over time, as every plugin (plugin_util.h): the query's date is
 * its as_of, else the end of its period (now without one), and a unit
 * that had ended by then is refused in the ingest's words with where to
 * ask instead (pu_check_query_date).  as_of T (the period must end by it;
 * without "to" it ends at T) lists the period's donations on the units in
 * force at T: those recorded under every unit whose households are at T
 * in the unit asked or below (pu_regroup), so Lam Dong's 2025 (68, as of
 * the end of 2025) has the January-June donations recorded under Binh
 * Thuan's communes, a donor who gave in two of them one row.  It reads
 * each unit's own donations ('o').
 *
 * State (integers big-endian, times in keys sign-flipped, unit codes
 * NUL-padded to 5 bytes):
 *   'D' unit[5] at[8] kind[1] donor -> i64 amount, i64 donations, i64
 *        in kind: the donations of one donor at one second (the donor
 *        empty when anonymous)
 *   'o' at[8] unit[5] kind[1] donor -> the same, of the event's unit
 *        alone (not its ancestors): what as_of regroups
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

#define DN_WHO "donors"
#define DN_ANONYMOUS "Ẩn danh / anonymous"
#define DN_LIMIT_DEFAULT 1000
#define DN_LIMIT_MAX 10000
/* Records one query may gather before it asks for a shorter period. */
#define DN_SCAN_MAX 2000000

enum { V_AMOUNT, V_DONATIONS, V_IN_KIND, NV };

/* Count the donation ev (sign -1: take it back), on the registry version
 * (UINT64_MAX: as it now stands). */
static int dn_count(struct pl_plugin *dn, povtrack_ctx *ctx,
                    const struct ev_event *ev, uint64_t version, int64_t sign)
{
    struct pu_chain ch;
    int rc = pu_ancestors_cached_as_of(dn->host, ctx, &dn->units, ev->unit,
                                       ev->at, version, &ch);
    if (rc != 0)
        return rc == POVTRACK_NOTFOUND ? POVTRACK_EIO : rc;
    /* The name of an anonymous donor is left out here, once, so that no
     * answer can ever show it. */
    bool anonymous = ev->data.donor_kind == EV_DONOR_ANONYMOUS;
    uint8_t tail[8 + 1 + EV_TEXT_MAX];
    size_t tl = 9;
    pu_put_key_i64(tail, ev->at);
    tail[8] = (uint8_t)ev->data.donor_kind;
    if (!anonymous) {
        memcpy(tail + 9, ev->data.donor.ptr, ev->data.donor.len);
        tl += ev->data.donor.len;
    }
    int64_t d[NV] = {sign * ev->data.amount, sign,
                     ev->data.in_kind ? sign * ev->data.amount : 0};
    uint8_t unit[PU_UNIT_W];
    rc = pl_chain_add(dn->host, ctx, DN_WHO, &ch, 'D', tail, tl, d, NV);
    /* The unit's own, for as_of. */
    if (rc == 0)
        rc = pu_put_unit(unit, ev->unit) != 0 ? POVTRACK_EIO : 0;
    return rc != 0 ? rc
                   : pl_own_add(dn->host, ctx, DN_WHO, 'o', ev->at, unit,
                                tail + 8, tl - 8, d, NV);
}

/* A donation counts where it was received; a void takes the donation as
 * it stood out of where it was counted (the version the host says), a
 * correction also counts the corrected donation. */
static int dn_apply(void *state, povtrack_ctx *ctx,
                    const struct povtrack_record *rec)
{
    struct pl_plugin *dn = state;
    const struct ev_event *ev = rec->event;
    if (ev->type == EV_DONATION_RECEIVED)
        return dn_count(dn, ctx, ev, UINT64_MAX, 1);
    const struct ev_event *was;
    struct ev_event now;
    bool corrected;
    if (!ev_type_amends(ev->type) ||
        ev->data.target_type != EV_DONATION_RECEIVED)
        return 0; /* not in the mask */
    int rc = pu_amendment(rec, &was, &now, &corrected);
    if (rc == 0)
        rc = dn_count(dn, ctx, was, rec->replaced_units_seq, -1);
    if (rc != 0 || !corrected)
        return rc;
    return dn_count(dn, ctx, &now, UINT64_MAX, 1);
}

/* ---- query ---- */

struct row {
    uint8_t kind;
    char *donor; /* NUL-terminated copy; "" when anonymous */
    size_t len;
    int64_t v[NV];
};

struct gather {
    struct row *rows;
    size_t n, cap;
    bool bad, full;
};

static int gather_cb(void *arg, const void *key, size_t klen, const void *val,
                     size_t vlen)
{
    struct gather *g = arg;
    const uint8_t *k = key;
    if (klen < 1 + PU_UNIT_W + 9 || vlen != 8 * NV || k[14] < 1 || k[14] > 4) {
        g->bad = true;
        return 1;
    }
    if (pu_get_i64((const uint8_t *)val + 8 * V_DONATIONS) == 0)
        return 0; /* every donation of the row voided or moved */
    if (g->n == DN_SCAN_MAX) {
        g->full = true;
        return 1;
    }
    if (g->n == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 256;
        struct row *r = realloc(g->rows, cap * sizeof *r);
        if (r == NULL) {
            g->bad = true;
            return 1;
        }
        g->rows = r;
        g->cap = cap;
    }
    struct row *r = &g->rows[g->n];
    r->kind = k[14];
    r->len = klen - 15;
    r->donor = malloc(r->len + 1);
    if (r->donor == NULL) {
        g->bad = true;
        return 1;
    }
    memcpy(r->donor, k + 15, r->len);
    r->donor[r->len] = '\0';
    for (int i = 0; i < NV; i++)
        r->v[i] = pu_get_i64((const uint8_t *)val + 8 * i);
    g->n++;
    return 0;
}

/* gather_cb for an own entry 'o' at unit kind donor: the kind at the
 * same offset as in 'D'. */
static int own_gather_cb(void *arg, const uint8_t *key, size_t klen,
                         const uint8_t *val, size_t vlen)
{
    struct gather *g = arg;
    return gather_cb(g, key, klen, val, vlen) != 0 && g->bad ? POVTRACK_EIO : 0;
}

static int by_donor(const void *a, const void *b)
{
    const struct row *x = a, *y = b;
    if (x->kind != y->kind)
        return x->kind < y->kind ? -1 : 1;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->donor, y->donor, n);
    return c != 0 ? c : (x->len > y->len) - (x->len < y->len);
}

static int by_amount(const void *a, const void *b)
{
    const struct row *x = a, *y = b;
    if (x->v[V_AMOUNT] != y->v[V_AMOUNT])
        return x->v[V_AMOUNT] > y->v[V_AMOUNT] ? -1 : 1;
    return by_donor(a, b);
}

/* pl_merge_runs' fold: one donor's rows into one. */
static void fold_row(void *into, void *from)
{
    struct row *a = into, *b = from;
    for (int j = 0; j < NV; j++)
        a->v[j] += b->v[j];
    free(b->donor);
}

/* One row per donor: sort by donor, add up each run into its first row. */
static size_t merge_rows(struct gather *g)
{
    size_t out =
        pl_merge_runs(g->rows, g->n, sizeof *g->rows, by_donor, fold_row);
    g->n = out;
    if (out > 1)
        qsort(g->rows, out, sizeof *g->rows, by_amount);
    return out;
}

static void gather_free(struct gather *g)
{
    for (size_t i = 0; i < g->n; i++)
        free(g->rows[i].donor);
    free(g->rows);
}

static int pack_row(msgpack_packer *pk, const struct row *r)
{
    struct ev_str name = {r->donor, (uint32_t)r->len};
    if (r->kind == EV_DONOR_ANONYMOUS)
        name = (struct ev_str){DN_ANONYMOUS, sizeof DN_ANONYMOUS - 1};
    return msgpack_pack_map(pk, 5) | pl_pack_text(pk, "donor", name) |
           pu_pack_key(pk, "donor_kind") |
           pu_pack_key(pk, ev_donor_kind_name(r->kind)) |
           pl_pack_i64(pk, "amount", r->v[V_AMOUNT]) |
           pl_pack_i64(pk, "donations", r->v[V_DONATIONS]) |
           pl_pack_i64(pk, "in_kind", r->v[V_IN_KIND]);
}

static int dn_query(void *state, povtrack_ctx *ctx, const msgpack_object *q,
                    msgpack_packer *pk, char *err, size_t errlen)
{
    struct pl_plugin *dn = state;
    struct pl_listing a;
    int rc = pl_arg_listing(dn->host, ctx, q, 'D', DN_LIMIT_DEFAULT,
                            DN_LIMIT_MAX, &a, err, errlen);
    if (rc != 0)
        return rc;
    struct gather g = {.n = 0};
    if (a.has_as_of)
        rc = pl_own_scan(dn->host, ctx, 'o', a.ch.code[0], a.as_of, a.p.from,
                         a.p.to, own_gather_cb, &g);
    else
        rc = pl_scan(dn->host, ctx, DN_WHO, a.from, sizeof a.from, a.to,
                     sizeof a.to, gather_cb, &g);
    if (rc == 0 && g.full) {
        gather_free(&g);
        snprintf(err, errlen,
                 "more than %d donation records in the period: ask for a "
                 "shorter one",
                 DN_SCAN_MAX);
        return POVTRACK_EINVALID;
    }
    int e = rc != 0 || g.bad;
    if (!e) {
        int64_t tot[NV] = {0}, anon[NV] = {0};
        size_t rows = merge_rows(&g);
        size_t listed = rows < (size_t)a.limit ? rows : (size_t)a.limit;
        for (size_t i = 0; i < rows; i++)
            for (int j = 0; j < NV; j++) {
                tot[j] += g.rows[i].v[j];
                if (g.rows[i].kind == EV_DONOR_ANONYMOUS)
                    anon[j] += g.rows[i].v[j];
            }
        e = msgpack_pack_map(pk, (a.p.has_year ? 8 : 7) + a.has_as_of);
        e |= pl_pack_unit(pk, "unit", a.ch.code[0]);
        e |= pl_pack_as_of(pk, a.has_as_of, a.as_of);
        if (a.p.has_year)
            e |= pl_pack_i64(pk, "year", a.p.year);
        e |= pl_pack_i64(pk, "received", tot[V_AMOUNT]);
        e |= pl_pack_i64(pk, "donations", tot[V_DONATIONS]);
        e |= pl_pack_i64(pk, "donors", (int64_t)rows);
        e |= pu_pack_key(pk, "anonymous") | msgpack_pack_map(pk, 2) |
             pl_pack_i64(pk, "amount", anon[V_AMOUNT]) |
             pl_pack_i64(pk, "donations", anon[V_DONATIONS]);
        e |= pu_pack_key(pk, "list") | msgpack_pack_array(pk, (uint32_t)listed);
        for (size_t i = 0; i < listed && e == 0; i++)
            e = pack_row(pk, &g.rows[i]);
        e |= pl_pack_i64(pk, "more", (int64_t)(rows - listed));
    }
    gather_free(&g);
    return e != 0 ? pl_query_failed(err, errlen) : 0;
}

/* ---- the plugin ---- */

PL_PLUGIN_WITHOUT_SETTINGS(dn, DN_WHO);

/* state_layout: bump it when the stored values change. */
POVTRACK_PLUGIN(.name = "donors", .version = "1.2.0",
                .event_mask = EV_TYPE_BIT(EV_DONATION_RECEIVED) |
                              EV_TYPE_BIT(EV_RECORD_VOIDED) |
                              EV_TYPE_BIT(EV_RECORD_CORRECTED),
                .init = dn_init, .apply = dn_apply, .query = dn_query,
                .fini = pl_fini, .state_layout = 2, .config_map = dn_config);
