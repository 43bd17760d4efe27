/*
 * fund.c - the built-in "fund" plugin: the For the Poor fund (Quỹ "Vì
 * người nghèo") per administrative unit: donations received, pledges and
 * what remains outstanding on them, disbursements by purpose, balance.
 *
 * Query q {"unit": code, "from": unix?, "to": unix?} -> {"unit",
 * "received", "donations", "pledged", "pledge_outstanding", "disbursed",
 * "balance", "by_purpose": {purpose: amount} (all 7 purposes)}, summed over
 * the unit and its descendants, over events with from <= at < to.
 *
 * pledge_outstanding: a pledge lies at its own (unit, at); its outstanding
 * amount is its pledged amount minus every donation.received naming it
 * (whenever that donation arrived, before the pledge included), floored at
 * 0.  A repeated donation.pledged with the same pledge id is a correction:
 * it replaces the earlier one (amount and place).
 *
 * State (see plugin_util.h: integers big-endian, times in keys
 * sign-flipped, unit codes NUL-padded to 5 bytes).  A metrics vector is
 * NM i64: received, donations, pledged, outstanding, disbursed, then the
 * disbursed amount of each purpose (ev_purpose 1..7).
 *
 *   'T' unit[5]                 -> dense vector (96 bytes): all time
 *   'D' unit[5] day[8]          -> dense vector: one day (UTC+7 calendar
 *                                  day, the day number since 1970-01-01)
 *   'E' unit[5] at[8] seq[8]    -> sparse vector (u16 bitmap of the
 *                                  non-zero slots, then an i64 each): one
 *                                  event, read only for the partial days
 *                                  at the edges of a range
 *   'P' pledge                  -> u8 has_pledge, 7 zero, i64 amount,
 *                                  i64 paid, unit[5], 3 zero, i64 at,
 *                                  u64 seq                   (48 bytes)
 *
 * T, D and E are kept for the event's unit AND each ancestor, so a query
 * never needs to enumerate descendants: all time is one key, a range is
 * its whole days plus at most two partial days of per-event entries.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin_util.h"
#include "povtrack_plugin.h"

#define FUND_DEFAULT_LARGE INT64_C(100000000) /* VND */
/* Vietnam is UTC+7 all year (no DST): a day bucket is a local day. */
#define FUND_TZ_OFFSET INT64_C(25200)
#define FUND_DAY INT64_C(86400)
/* Query bounds are clamped into [0, FUND_TIME_MAX]: every event's "at" is
 * inside (EV_AT_MIN > 0), and day arithmetic cannot overflow. */
#define FUND_TIME_MAX (INT64_C(1) << 52)

enum fund_metric {
    M_RECEIVED,
    M_DONATIONS,
    M_PLEDGED,
    M_OUTSTANDING,
    M_DISBURSED,
    M_PURPOSE, /* + purpose - 1, for the 7 purposes */
    NM = M_PURPOSE + EV_PURPOSE_COUNT - 1
};

#define FUND_DENSE_LEN (8 * NM)
#define FUND_SPARSE_MAX (2 + 8 * NM)
#define FUND_P_LEN 48

struct fund {
    const struct povtrack_host *host;
    int64_t large_donation;
};

struct pledge {
    bool has_pledge;
    int64_t amount;
    int64_t paid;
    uint8_t unit[PU_UNIT_W];
    int64_t at;
    uint64_t seq;
};

static int64_t day_of(int64_t at)
{
    int64_t t = at + FUND_TZ_OFFSET;
    return t >= 0 ? t / FUND_DAY : -((-t + FUND_DAY - 1) / FUND_DAY);
}

static int64_t day_start(int64_t day)
{
    return day * FUND_DAY - FUND_TZ_OFFSET;
}

/* ---- vector encodings ---- */

static void dense_decode(const uint8_t *b, int64_t v[NM])
{
    for (int i = 0; i < NM; i++)
        v[i] = pu_get_i64(b + 8 * i);
}

static size_t dense_encode(const int64_t v[NM], uint8_t *b)
{
    for (int i = 0; i < NM; i++)
        pu_put_i64(b + 8 * i, v[i]);
    return FUND_DENSE_LEN;
}

/* 0, or -1 when b is not a valid sparse vector. */
static int sparse_decode(const uint8_t *b, size_t len, int64_t v[NM])
{
    memset(v, 0, sizeof(int64_t) * NM);
    if (len < 2)
        return -1;
    unsigned bits = (unsigned)b[0] << 8 | b[1];
    size_t o = 2;
    for (int i = 0; i < NM; i++) {
        if (!(bits & (1u << i)))
            continue;
        if (o + 8 > len)
            return -1;
        v[i] = pu_get_i64(b + o);
        o += 8;
    }
    return o == len ? 0 : -1;
}

static size_t sparse_encode(const int64_t v[NM], uint8_t *b)
{
    unsigned bits = 0;
    size_t o = 2;
    for (int i = 0; i < NM; i++) {
        if (v[i] == 0)
            continue;
        bits |= 1u << i;
        pu_put_i64(b + o, v[i]);
        o += 8;
    }
    b[0] = (uint8_t)(bits >> 8);
    b[1] = (uint8_t)bits;
    return o;
}

static int decode_value(bool sparse, const void *val, size_t vlen,
                        int64_t v[NM])
{
    if (sparse)
        return sparse_decode(val, vlen, v);
    if (vlen != FUND_DENSE_LEN)
        return -1;
    dense_decode(val, v);
    return 0;
}

/* Add d to the vector at key (absent reads as zeros).  A per-event entry
 * that drops to all zeros is deleted: it no longer contributes. */
static int vec_add(struct fund *f, povtrack_ctx *ctx, const uint8_t *key,
                   size_t klen, const int64_t d[NM], bool sparse)
{
    const void *val;
    size_t vlen;
    int64_t v[NM] = {0};
    int rc = pu_get(f->host, ctx, key, klen, &val, &vlen);
    if (rc < 0)
        return rc;
    if (rc == 1 && decode_value(sparse, val, vlen, v) != 0) {
        f->host->log(ctx, POVTRACK_LOG_ERROR, "fund: corrupt state value");
        return POVTRACK_EIO;
    }
    bool zero = true;
    for (int i = 0; i < NM; i++) {
        v[i] += d[i];
        zero = zero && v[i] == 0;
    }
    if (sparse && zero) {
        if (rc == 0)
            return 0;
        int drc = f->host->del(ctx, key, klen);
        if (drc != 0 && drc != POVTRACK_NOTFOUND) {
            f->host->log(ctx, POVTRACK_LOG_ERROR, "fund: del failed (%d)", drc);
            return POVTRACK_EIO;
        }
        return 0;
    }
    uint8_t
        b[FUND_SPARSE_MAX > FUND_DENSE_LEN ? FUND_SPARSE_MAX : FUND_DENSE_LEN];
    size_t n = sparse ? sparse_encode(v, b) : dense_encode(v, b);
    return pu_put(f->host, ctx, key, klen, b, n);
}

/* Build a key 'X' unit[5] [t[8] [seq[8]]]; returns its length. */
static size_t fund_key(uint8_t *k, char prefix, const uint8_t *unit,
                       const int64_t *t, const uint64_t *seq)
{
    size_t n = 0;
    k[n++] = (uint8_t)prefix;
    memcpy(k + n, unit, PU_UNIT_W);
    n += PU_UNIT_W;
    if (t != NULL) {
        pu_put_key_i64(k + n, *t);
        n += 8;
    }
    if (seq != NULL) {
        pu_put_u64(k + n, *seq);
        n += 8;
    }
    return n;
}

/*
 * Add d, the contribution of the event at (unit, at, seq), to the all-time
 * total, the day bucket and the per-event entry of the unit and each of its
 * ancestors.
 */
static int fund_add(struct fund *f, povtrack_ctx *ctx, struct ev_str unit,
                    int64_t at, uint64_t seq, const int64_t d[NM])
{
    struct pu_chain ch;
    if (pu_ancestors(f->host, ctx, unit, &ch) != 0)
        return POVTRACK_EIO; /* the unit passed the reference checks */
    int64_t day = day_of(at);
    for (int i = 0; i < ch.n; i++) {
        uint8_t k[1 + PU_UNIT_W + 16];
        size_t kl = fund_key(k, 'T', ch.code[i], NULL, NULL);
        int rc = vec_add(f, ctx, k, kl, d, false);
        if (rc == 0) {
            kl = fund_key(k, 'D', ch.code[i], &day, NULL);
            rc = vec_add(f, ctx, k, kl, d, false);
        }
        if (rc == 0) {
            kl = fund_key(k, 'E', ch.code[i], &at, &seq);
            rc = vec_add(f, ctx, k, kl, d, true);
        }
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* ---- pledges ---- */

static int64_t outstanding(int64_t amount, int64_t paid)
{
    return amount > paid ? amount - paid : 0;
}

static size_t pledge_key(uint8_t *k, struct ev_str id)
{
    size_t n = id.len > EV_TEXT_MAX ? EV_TEXT_MAX : id.len;
    k[0] = 'P';
    if (n > 0)
        memcpy(k + 1, id.ptr, n);
    return 1 + n;
}

static int pledge_get(struct fund *f, povtrack_ctx *ctx, const uint8_t *k,
                      size_t kl, struct pledge *pl)
{
    const void *val;
    size_t vlen;
    memset(pl, 0, sizeof *pl);
    int rc = pu_get(f->host, ctx, k, kl, &val, &vlen);
    if (rc <= 0)
        return rc;
    if (vlen != FUND_P_LEN) {
        f->host->log(ctx, POVTRACK_LOG_ERROR, "fund: corrupt pledge value");
        return POVTRACK_EIO;
    }
    const uint8_t *b = val;
    pl->has_pledge = b[0] != 0;
    pl->amount = pu_get_i64(b + 8);
    pl->paid = pu_get_i64(b + 16);
    memcpy(pl->unit, b + 24, PU_UNIT_W);
    pl->at = pu_get_i64(b + 32);
    pl->seq = pu_get_u64(b + 40);
    return 0;
}

static int pledge_put(struct fund *f, povtrack_ctx *ctx, const uint8_t *k,
                      size_t kl, const struct pledge *pl)
{
    uint8_t b[FUND_P_LEN] = {0};
    b[0] = pl->has_pledge ? 1 : 0;
    pu_put_i64(b + 8, pl->amount);
    pu_put_i64(b + 16, pl->paid);
    memcpy(b + 24, pl->unit, PU_UNIT_W);
    pu_put_i64(b + 32, pl->at);
    pu_put_u64(b + 40, pl->seq);
    return pu_put(f->host, ctx, k, kl, b, sizeof b);
}

/* Add (pledged, outstanding) at the pledge's own place. */
static int pledge_contrib(struct fund *f, povtrack_ctx *ctx,
                          const struct pledge *pl, int64_t pledged, int64_t out)
{
    int64_t d[NM] = {0};
    d[M_PLEDGED] = pledged;
    d[M_OUTSTANDING] = out;
    if (pledged == 0 && out == 0)
        return 0;
    return fund_add(f, ctx, pu_get_unit(pl->unit), pl->at, pl->seq, d);
}

static int apply_pledged(struct fund *f, povtrack_ctx *ctx,
                         const struct povtrack_record *rec)
{
    const struct ev_event *ev = rec->event;
    uint8_t k[1 + EV_TEXT_MAX];
    size_t kl = pledge_key(k, ev->data.pledge);
    struct pledge pl;
    int rc = pledge_get(f, ctx, k, kl, &pl);
    if (rc != 0)
        return rc;
    if (pl.has_pledge) {
        rc = pledge_contrib(f, ctx, &pl, -pl.amount,
                            -outstanding(pl.amount, pl.paid));
        if (rc != 0)
            return rc;
    }
    pl.has_pledge = true;
    pl.amount = ev->data.amount;
    if (pu_put_unit(pl.unit, ev->unit) != 0)
        return POVTRACK_EIO;
    pl.at = ev->at;
    pl.seq = rec->seq;
    rc =
        pledge_contrib(f, ctx, &pl, pl.amount, outstanding(pl.amount, pl.paid));
    if (rc == 0)
        rc = pledge_put(f, ctx, k, kl, &pl);
    return rc;
}

/* A donation naming a pledge lowers that pledge's outstanding amount
 * where the pledge lies; before the pledge exists, the payment is kept
 * in the pledge record and counted when the pledge arrives. */
static int pay_pledge(struct fund *f, povtrack_ctx *ctx,
                      const struct ev_event *ev)
{
    uint8_t k[1 + EV_TEXT_MAX];
    size_t kl = pledge_key(k, ev->data.pledge);
    struct pledge pl;
    int rc = pledge_get(f, ctx, k, kl, &pl);
    if (rc != 0)
        return rc;
    int64_t before = outstanding(pl.amount, pl.paid);
    pl.paid += ev->data.amount;
    if (pl.has_pledge) {
        rc = pledge_contrib(f, ctx, &pl, 0,
                            outstanding(pl.amount, pl.paid) - before);
        if (rc != 0)
            return rc;
    }
    return pledge_put(f, ctx, k, kl, &pl);
}

static int apply_received(struct fund *f, povtrack_ctx *ctx,
                          const struct povtrack_record *rec)
{
    const struct ev_event *ev = rec->event;
    int64_t d[NM] = {0};
    d[M_RECEIVED] = ev->data.amount;
    d[M_DONATIONS] = 1;
    int rc = fund_add(f, ctx, ev->unit, ev->at, rec->seq, d);
    if (rc == 0 && ev->data.pledge.ptr != NULL)
        rc = pay_pledge(f, ctx, ev);
    if (rc != 0 || ev->data.amount < f->large_donation)
        return rc;

    char unit[PU_UNIT_W + 1], hh[EV_HOUSEHOLD_MAX + 1];
    char donor[EV_TEXT_MAX + 1], amount[40], msg[512];
    pu_cstr(ev->unit, unit, sizeof unit);
    pu_cstr(ev->data.donor, donor, sizeof donor);
    pu_fmt_thousands(ev->data.amount, amount, sizeof amount);
    snprintf(msg, sizeof msg, "large donation: %s VND from %s to unit %s",
             amount, donor, unit);
    struct povtrack_alert a = {
        .size = sizeof a,
        .code = "fund.large_donation",
        .severity = POVTRACK_INFO,
        .unit = unit,
        .household = ev->household.ptr == NULL
                         ? NULL
                         : pu_cstr(ev->household, hh, sizeof hh),
        .message = msg,
        .at = ev->at,
    };
    rc = f->host->alert(ctx, &a);
    if (rc != 0) {
        f->host->log(ctx, POVTRACK_LOG_ERROR, "fund: alert failed (%d)", rc);
        return POVTRACK_EIO;
    }
    return 0;
}

static int apply_disbursed(struct fund *f, povtrack_ctx *ctx,
                           const struct povtrack_record *rec)
{
    const struct ev_event *ev = rec->event;
    int64_t d[NM] = {0};
    enum ev_purpose pur = ev->data.purpose;
    if (pur <= EV_PURPOSE_NONE || pur >= EV_PURPOSE_COUNT) {
        f->host->log(ctx, POVTRACK_LOG_ERROR,
                     "fund: fund.disbursed at seq %llu has no purpose",
                     (unsigned long long)rec->seq);
        return POVTRACK_EIO;
    }
    d[M_DISBURSED] = ev->data.amount;
    d[M_PURPOSE + pur - 1] = ev->data.amount;
    return fund_add(f, ctx, ev->unit, ev->at, rec->seq, d);
}

/* ---- query ---- */

struct sum {
    int64_t v[NM];
    bool sparse;
    bool bad;
};

static int sum_cb(void *arg, const void *key, size_t klen, const void *val,
                  size_t vlen)
{
    struct sum *s = arg;
    int64_t v[NM];
    (void)key;
    (void)klen;
    if (decode_value(s->sparse, val, vlen, v) != 0) {
        s->bad = true;
        return 1;
    }
    for (int i = 0; i < NM; i++)
        s->v[i] += v[i];
    return 0;
}

/* Sum the prefix-'prefix' entries of unit with time field in [lo, hi);
 * a NULL bound is open. */
static int sum_range(struct fund *f, povtrack_ctx *ctx, struct sum *s,
                     char prefix, const uint8_t *unit, const int64_t *lo,
                     const int64_t *hi)
{
    uint8_t from[1 + PU_UNIT_W + 8], to[1 + PU_UNIT_W + 8];
    size_t fl = fund_key(from, prefix, unit, lo, NULL);
    size_t tl;
    if (hi != NULL) {
        tl = fund_key(to, prefix, unit, hi, NULL);
    } else {
        /* Just past every key of this unit and prefix. */
        tl = fund_key(to, prefix, unit, NULL, NULL);
        memset(to + tl, 0xff, 8);
        tl += 8;
    }
    s->sparse = prefix == 'E';
    int rc = f->host->scan(ctx, from, fl, to, tl, sum_cb, s);
    if (s->bad || (rc != 0 && rc != POVTRACK_NOTFOUND))
        return POVTRACK_EIO;
    return 0;
}

/*
 * Sum [from, to) for unit: whole days from the day buckets, the partial
 * days at either edge from the per-event entries.
 */
static int fund_sum(struct fund *f, povtrack_ctx *ctx, const uint8_t *unit,
                    bool has_from, int64_t from, bool has_to, int64_t to,
                    struct sum *s)
{
    memset(s, 0, sizeof *s);
    if (!has_from && !has_to) {
        uint8_t k[1 + PU_UNIT_W];
        const void *val;
        size_t vlen;
        fund_key(k, 'T', unit, NULL, NULL);
        int rc = pu_get(f->host, ctx, k, sizeof k, &val, &vlen);
        if (rc <= 0)
            return rc;
        return sum_cb(s, k, sizeof k, val, vlen) != 0 ? POVTRACK_EIO : 0;
    }
    if (has_from)
        from = from < 0 ? 0 : from > FUND_TIME_MAX ? FUND_TIME_MAX : from;
    if (has_to)
        to = to < 0 ? 0 : to > FUND_TIME_MAX ? FUND_TIME_MAX : to;
    if (has_from && has_to && from >= to)
        return 0;

    /* Whole days [dlo, dhi); edges [from, start(dlo)) and [start(dhi), to)
     * when from or to falls inside a day. */
    int64_t dlo = 0, dhi = 0;
    bool part_lo = false, part_hi = false;
    if (has_from) {
        dlo = day_of(from);
        if (day_start(dlo) != from) {
            part_lo = true;
            dlo++;
        }
    }
    if (has_to) {
        dhi = day_of(to);
        part_hi = day_start(dhi) != to;
    }
    if (has_from && has_to && dlo > dhi) {
        /* from and to inside the same day: one partial range. */
        return sum_range(f, ctx, s, 'E', unit, &from, &to);
    }
    int rc = 0;
    if (part_lo) {
        int64_t end = day_start(dlo);
        rc = sum_range(f, ctx, s, 'E', unit, &from, &end);
    }
    if (rc == 0 && (!has_from || !has_to || dlo < dhi))
        rc = sum_range(f, ctx, s, 'D', unit, has_from ? &dlo : NULL,
                       has_to ? &dhi : NULL);
    if (rc == 0 && part_hi) {
        int64_t start = day_start(dhi);
        rc = sum_range(f, ctx, s, 'E', unit, &start, &to);
    }
    return rc;
}

static int fund_query(void *state, povtrack_ctx *ctx, const msgpack_object *q,
                      msgpack_packer *pk, char *err, size_t errlen)
{
    struct fund *f = state;
    struct pu_chain ch;
    int rc = pu_arg_unit(f->host, ctx, q, &ch, err, errlen);
    if (rc != 0)
        return rc;
    int64_t from = 0, to = 0;
    bool has_from, has_to;
    if (pu_arg_i64(q, "from", false, &from, &has_from, err, errlen) != 0 ||
        pu_arg_i64(q, "to", false, &to, &has_to, err, errlen) != 0)
        return -1;
    if (has_from && has_to && to < from) {
        snprintf(err, errlen, "to: must not be before from");
        return -1;
    }
    struct sum s;
    if (fund_sum(f, ctx, ch.code[0], has_from, from, has_to, to, &s) != 0) {
        snprintf(err, errlen, "internal error: state read failed");
        return POVTRACK_EIO;
    }
    struct ev_str unit = pu_get_unit(ch.code[0]);
    int e = msgpack_pack_map(pk, 8);
    e |= pu_pack_key(pk, "unit") | pu_pack_str(pk, unit.ptr, unit.len);
    e |= pu_pack_key(pk, "received") | msgpack_pack_int64(pk, s.v[M_RECEIVED]);
    e |=
        pu_pack_key(pk, "donations") | msgpack_pack_int64(pk, s.v[M_DONATIONS]);
    e |= pu_pack_key(pk, "pledged") | msgpack_pack_int64(pk, s.v[M_PLEDGED]);
    e |= pu_pack_key(pk, "pledge_outstanding") |
         msgpack_pack_int64(pk, s.v[M_OUTSTANDING]);
    e |=
        pu_pack_key(pk, "disbursed") | msgpack_pack_int64(pk, s.v[M_DISBURSED]);
    e |= pu_pack_key(pk, "balance") |
         msgpack_pack_int64(pk, s.v[M_RECEIVED] - s.v[M_DISBURSED]);
    e |= pu_pack_key(pk, "by_purpose") |
         msgpack_pack_map(pk, EV_PURPOSE_COUNT - 1);
    for (int p = EV_PURPOSE_NONE + 1; p < EV_PURPOSE_COUNT; p++) {
        const char *name = ev_purpose_name((enum ev_purpose)p);
        e |= pu_pack_key(pk, name != NULL ? name : "?") |
             msgpack_pack_int64(pk, s.v[M_PURPOSE + p - 1]);
    }
    if (e != 0) {
        snprintf(err, errlen, "internal error: packing failed");
        return POVTRACK_EIO;
    }
    return 0;
}

/* ---- plugin callbacks ---- */

static int fund_init(povtrack_ctx *ctx, const struct povtrack_host *host,
                     void **state)
{
    int64_t large = FUND_DEFAULT_LARGE;
    if (pu_config_pos_i64(host, ctx, "large_donation", &large) != 0)
        return -1;
    struct fund *f = calloc(1, sizeof *f);
    if (f == NULL) {
        host->log(ctx, POVTRACK_LOG_ERROR, "fund: out of memory");
        return -1;
    }
    f->host = host;
    f->large_donation = large;
    *state = f;
    return 0;
}

static int fund_apply(void *state, povtrack_ctx *ctx,
                      const struct povtrack_record *rec)
{
    struct fund *f = state;
    switch (rec->event->type) {
    case EV_DONATION_PLEDGED:
        return apply_pledged(f, ctx, rec);
    case EV_DONATION_RECEIVED:
        return apply_received(f, ctx, rec);
    case EV_FUND_DISBURSED:
        return apply_disbursed(f, ctx, rec);
    default:
        return 0; /* not in the mask: nothing to do */
    }
}

static void fund_fini(void *state)
{
    free(state);
}

static const struct povtrack_plugin fund_plugin = {
    .abi_version = POVTRACK_PLUGIN_ABI_VERSION,
    .size = sizeof(struct povtrack_plugin),
    .name = "fund",
    .version = "1.0.0",
    .event_mask = EV_TYPE_BIT(EV_DONATION_PLEDGED) |
                  EV_TYPE_BIT(EV_DONATION_RECEIVED) |
                  EV_TYPE_BIT(EV_FUND_DISBURSED),
    .init = fund_init,
    .apply = fund_apply,
    .query = fund_query,
    .tick = NULL,
    .fini = fund_fini,
};

__attribute__((visibility("default"))) const struct povtrack_plugin *
povtrack_plugin_entry(void);

const struct povtrack_plugin *povtrack_plugin_entry(void)
{
    return &fund_plugin;
}
