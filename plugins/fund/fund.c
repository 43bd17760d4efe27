/*
 * fund.c - the built-in "fund" plugin: the For the Poor fund (Quỹ "Vì
 * người nghèo") per administrative unit: donations received, pledges and
 * what remains outstanding on them, disbursements by purpose and level,
 * what reached households recognised as poor or near-poor, balance.
 *
 * Query q {"unit": code, "from": unix?, "to": unix?} -> {"unit",
 * "received", "donations", "pledged", "pledge_outstanding", "disbursed",
 * "balance", "by_purpose": {purpose: amount} (all 7 purposes),
 * "disbursed_by_level": {"central", "province", "district", "commune"},
 * "to_households", "to_recognised", "recognised_share"}, summed over the
 * unit and its descendants, over events with from <= at < to.
 *   to_households: fund.disbursed naming a household;
 *   to_recognised: of that, to households whose official status (the last
 *     household.status in the log) for the local (UTC+7) calendar year of
 *     the disbursement's "at" is poor or near_poor -- as known now: a
 *     status arriving or changing later moves the amount;
 *   recognised_share: percent to_recognised / to_households, nil when 0.
 * Query q {"unit", "year": int} is the range [1 January year, 1 January
 * year+1) local time, with "year", "beneficiaries" (distinct households
 * with a disbursement of that year in the unit or below) and
 * "support_per_beneficiary" (to_households / beneficiaries, a double, nil
 * when no beneficiary) and "month_for_the_poor" {"from", "to", "received",
 * "donations"} (the Front's campaign month, 17 October to 18 November of
 * that year, local days) added.  "year" with "from" or "to" is refused.
 * With "as_of" (unix seconds) the period's figures are regrouped into the
 * units in force then (below), and "as_of" is in the answer; without a
 * "to", the period ends at as_of; a period that ends after as_of is
 * refused (regrouping runs forward only).
 *
 * pledge_outstanding: a pledge lies at its own (unit, at); its outstanding
 * amount is its pledged amount minus every donation.received naming it
 * (whenever that donation arrived, before the pledge included), floored at
 * 0.  A repeated donation.pledged with the same pledge id is a correction:
 * it replaces the earlier one (amount, place and due).
 *
 * Voids and corrections (record.voided, record.corrected) of a
 * donation.received, donation.pledged or fund.disbursed take the record
 * as it stood (the host's rec->replaced) out of every figure where it was
 * counted, on the registry version it was counted on, and a correction
 * counts the corrected record anew, as a record of its own at the
 * correction's sequence: amounts, pledge payments, purposes, levels,
 * beneficiaries and the recognised share follow.  A pledge already
 * replaced by a later donation.pledged of its id is not moved by an
 * amendment of the earlier one.  The alerts the record raised when it was
 * applied (fund.large_donation) are resolved by the host; a corrected
 * donation that is still large raises its own.
 *
 * Alerts: fund.large_donation (info, apply); fund.beneficiary_not_poor
 * (warning, apply: a household-year with a disbursement and a known
 * official status neither poor nor near-poor, once per household-year);
 * fund.pledge_overdue (info, tick: due < now and outstanding > 0, once per
 * pledge); fund.idle_balance (warning, tick: all-time balance of a unit
 * above idle_balance and no disbursement for idle_days).  Tick alerts
 * depend on the wall clock by nature (a deadline passes whether or not an
 * event arrives), so they are not a function of the log: a rebuild raises
 * them again at its first ticks.  The state they write (markers 'O', 'A',
 * 'h' and consumption of 'Q') is never read by apply or query, which stay
 * a function of the log.
 *
 * Units change over time (events/ev_unit.h).  Every figure of this plugin
 * is about an event, so each roll-up uses the hierarchy in force at that
 * event's "at" (pu_ancestors_cached_as_of):
 *   - a donation.received: at its own "at";
 *   - a fund.disbursed: its amounts, its beneficiary count and its unit's
 *     idle clock at its own "at", and so does the recognised share that a
 *     later household.status moves (the "at" is kept in its 'B' entry);
 *   - a pledge: pledged and outstanding, payments included, at the "at" of
 *     the donation.pledged that placed it (kept in 'P'); a correction
 *     uncounts it at the old place and time and counts it at the new.
 * So what was counted is uncounted on the same date, in the same units,
 * and nothing moves when units change later: donations to commune 22924
 * in 2024 lie in district 593 and province 60, those of 2026 (after the
 * 2025 merger) in province 68 only.
 *
 * The same date is not enough: apply() reads the unit registry as the log
 * stood at the record being applied, so a change recorded only after
 * events dated past its effective day (a pledge in 22921 on 2025-07-02,
 * logged before the merger of 2025-07-01 was recorded) would resolve that
 * date differently for the records after it.  So what may be changed or
 * taken back later keeps the registry version it was counted on (the
 * chain's .version, host units_seq) next to its date: a pledge in 'P', a
 * disbursement to a household in its 'B' entry.  A payment, a correction
 * (its uncounting half), a status moving the recognised amount and the
 * beneficiary check of a later disbursement read that entry's chain with
 * pu_ancestors_cached_as_of(its "at", its version); what is counted anew
 * (an event's own figures, a correction's new place) uses the registry as
 * it now stands and keeps that version.  Such a pledge thus stays in
 * 22921, 593 and 60 however it is paid after the merger is recorded, and
 * a correction takes it out of there.  The range and "year" queries
 * select events by their "at", wherever each was counted.
 *
 * A query's date is its as_of, else the last instant of its period (a
 * query without "to" or "year": now).  A unit that had ended by then is
 * refused in the ingest's words, with where to ask instead
 * (pu_check_query_unit); a unit defined only later answers zeros.
 *
 * as_of T regroups the period's records into the units in force at T:
 * every record counts in the unit asked when its own unit's households are
 * at T in that unit or below (pu_regroup: a merger's predecessors in the
 * successor, an abolished unit in its parent, a code that goes on in
 * itself), so Lam Dong's 2021-2025 (68, as of the end of 2025) is Binh
 * Thuan's and old Lam Dong's together, and a 2025 report on 68 has the
 * January-June receipts recorded under 60's communes.  It reads the own
 * records of each unit: its own day buckets 'd', its per-event entries
 * marked own, and its own beneficiaries 'y' (a household paid by two of
 * the units regrouped together, listed in 'x', counts once).
 *
 * State (see plugin_util.h: integers big-endian, times in keys
 * sign-flipped, unit codes NUL-padded to 5 bytes).  A metrics vector is
 * NM i64: received, donations, pledged, outstanding, disbursed, the
 * disbursed amount of each purpose (ev_purpose 1..7) and of each level
 * (ev_level central..commune), to_households, to_recognised.
 *
 *   'T' unit[5]                 -> dense vector (8 * NM bytes): all time
 *   'D' unit[5] day[8]          -> dense vector: one day (UTC+7 calendar
 *                                  day, the day number since 1970-01-01)
 *   'E' unit[5] at[8] seq[8]    -> sparse vector (u32 bitmap of the
 *                                  non-zero slots, its top bit set when
 *                                  unit is the event's own, then an i64
 *                                  each): one event, read only for the
 *                                  partial days at the edges of a range
 *   'd' unit[5] day[8]          -> dense vector: one day of the unit's
 *                                  own records (not its descendants')
 *   'o' unit[5]                 -> empty: the unit has own records
 *   'P' pledge                  -> u8 has_pledge, 7 zero, i64 amount,
 *                                  i64 paid, unit[5], 3 zero, i64 at,
 *                                  u64 seq, i64 due, u64 version: the
 *                                  registry version it is counted on
 *                                  (64 bytes)
 *   'Q' due[8] pledge           -> empty: pledges whose due the tick has
 *                                  not passed yet (a correction re-adds)
 *   'O' pledge                  -> empty: pledge_overdue raised (tick)
 *   'S' year[8] household       -> u8 official status for that year
 *   'B' year[8] household       -> u8 alerted (beneficiary_not_poor), u8
 *                                  layout (2), 6 zero, then per
 *                                  disbursement to the household in that
 *                                  year: unit[5], 3 zero, i64 at, u64
 *                                  seq, i64 amount, u64 version (40
 *                                  bytes): what a status change moves
 *                                  between the recognised buckets, on the
 *                                  registry version it was counted on
 *   'Y' unit[5] year[8]         -> i64 beneficiaries of the year
 *   'y' year[8] unit[5]         -> i64 households the unit itself paid in
 *                                  the year
 *   'x' year[8] household       -> empty: more than one unit paid the
 *                                  household in the year
 *   'L' unit[5]                 -> u8 has_disbursed, 7 zero, i64 last:
 *                                  latest disbursement "at" in the unit
 *                                  or below (the first donation's while
 *                                  there is none)                (16 bytes)
 *   'I' last[8] unit[5]         -> empty: units by 'L' time, for the tick
 *   'A' unit[5]                 -> i64 'L' time of the idle episode
 *                                  already alerted (tick)
 *   'h'                         -> i64 wall time of the last idle check
 *
 * T, D, E, Y and L are kept for the event's unit AND each ancestor, so a
 * query never needs to enumerate descendants: all time is one key, a range
 * is its whole days plus at most two partial days of per-event entries.
 *
 * A state written by version 1.0 (shorter vectors) or 1.1 (56-byte 'P',
 * 'B' without its layout byte and 32-byte entries, no versions) is refused
 * as corrupt rather than misread: rebuild it ('povtrack rebuild fund') after
 * upgrading.  1.2 wrote layout 2, without the own records: the host
 * rebuilds it at start (state_layout 3).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <povtrack/plugin_util.h>
#include <povtrack/plugin.h>

#define FUND_DEFAULT_LARGE 100000000        /* VND */
#define FUND_DEFAULT_IDLE_BALANCE 500000000 /* VND */
#define FUND_DEFAULT_IDLE_DAYS 90
#define FUND_IDLE_DAYS_MAX INT64_C(36500)
/* The idle check reads every idle unit's total: once an hour is plenty
 * for a condition measured in months. */
#define FUND_IDLE_CHECK_EVERY INT64_C(3600)
/* Overdue pledges handled per tick; the rest wait for the next second. */
#define FUND_TICK_BATCH 256
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
    M_LEVEL = M_PURPOSE + EV_PURPOSE_COUNT - 1, /* + level - 1 */
    M_TO_HH = M_LEVEL + EV_LEVEL_COMMUNE,
    M_TO_RECOG,
    NM
};

#define FUND_DENSE_LEN (8 * NM)
#define FUND_SPARSE_HDR 4
/* In a per-event entry's bitmap: the entry is of the event's own unit (its
 * record's unit), not of an ancestor: what an as_of query regroups. */
#define FUND_E_OWN (UINT32_C(1) << 31)
#define FUND_SPARSE_MAX (FUND_SPARSE_HDR + 8 * NM)
#define FUND_P_LEN 64
#define FUND_B_HDR 8
#define FUND_B_ENTRY 40
#define FUND_B_LAYOUT 2 /* byte 1 of a 'B' value; 0 in version 1.1 */
#define FUND_L_LEN 16
/* 'S'/'B' year[8] household */
#define FUND_HKEY_MAX (1 + 8 + EV_HOUSEHOLD_MAX)

struct fund {
    const struct povtrack_host *host;
    int64_t large_donation;
    int64_t idle_balance;
    int64_t idle_secs;
    /* Money moved since the last idle check (in memory only: a restart
     * starts dirty, so the first tick checks). */
    bool idle_dirty;
    struct pu_units units; /* unit chains met so far */
};

struct pledge {
    bool has_pledge;
    int64_t amount;
    int64_t paid;
    uint8_t unit[PU_UNIT_W];
    int64_t at;
    uint64_t seq;
    int64_t due;
    uint64_t version; /* the registry version it is counted on */
};

_Static_assert(NM < 31, "the sparse bitmap is 32 bits, the top one a flag");

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

static uint32_t get_u32(const uint8_t *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 |
           b[3];
}

/* 0, or POVTRACK_EFORMAT when b is not a valid sparse vector; *own (when
 * not NULL): the entry is its event's own unit's (FUND_E_OWN). */
static int sparse_decode(const uint8_t *b, size_t len, int64_t v[NM], bool *own)
{
    memset(v, 0, sizeof(int64_t) * NM);
    if (len < FUND_SPARSE_HDR)
        return POVTRACK_EFORMAT;
    uint32_t bits = get_u32(b);
    if (own != NULL)
        *own = (bits & FUND_E_OWN) != 0;
    bits &= ~FUND_E_OWN;
    size_t o = FUND_SPARSE_HDR;
    for (int i = 0; i < NM; i++) {
        if (!(bits & (UINT32_C(1) << i)))
            continue;
        if (o + 8 > len)
            return POVTRACK_EFORMAT;
        v[i] = pu_get_i64(b + o);
        o += 8;
    }
    return o == len && bits >> NM == 0 ? 0 : POVTRACK_EFORMAT;
}

static size_t sparse_encode(const int64_t v[NM], uint8_t *b, bool own)
{
    uint32_t bits = own ? FUND_E_OWN : 0;
    size_t o = FUND_SPARSE_HDR;
    for (int i = 0; i < NM; i++) {
        if (v[i] == 0)
            continue;
        bits |= UINT32_C(1) << i;
        pu_put_i64(b + o, v[i]);
        o += 8;
    }
    for (int i = 0; i < 4; i++)
        b[i] = (uint8_t)(bits >> (24 - 8 * i));
    return o;
}

static int decode_value(bool sparse, const void *val, size_t vlen,
                        int64_t v[NM], bool *own)
{
    if (own != NULL)
        *own = false;
    if (sparse)
        return sparse_decode(val, vlen, v, own);
    if (vlen != FUND_DENSE_LEN)
        return POVTRACK_EFORMAT;
    dense_decode(val, v);
    return 0;
}

/* Add d to the vector at key (absent reads as zeros).  A per-event entry
 * that drops to all zeros is deleted: it no longer contributes; own marks
 * it as its event's own unit's.  fresh: the key is known to be absent, so
 * it is not looked up (see fund_add). */
static int vec_add(struct fund *f, povtrack_ctx *ctx, const uint8_t *key,
                   size_t klen, const int64_t d[NM], bool sparse, bool own,
                   bool fresh)
{
    const void *val;
    size_t vlen;
    int64_t v[NM] = {0};
    int rc = fresh ? 0 : pu_get(f->host, ctx, key, klen, &val, &vlen);
    if (rc < 0)
        return rc;
    if (rc == 1 && decode_value(sparse, val, vlen, v, NULL) != 0) {
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
            f->host->log(ctx, POVTRACK_LOG_ERROR, "fund: del failed: %s",
                         pu_strerror(f->host, drc));
            return POVTRACK_EIO;
        }
        return 0;
    }
    uint8_t
        b[FUND_SPARSE_MAX > FUND_DENSE_LEN ? FUND_SPARSE_MAX : FUND_DENSE_LEN];
    size_t n = sparse ? sparse_encode(v, b, own) : dense_encode(v, b);
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

/* Mark unit as holding own records ('o'): the units an as_of query
 * regroups.  Written once. */
static int own_mark(struct fund *f, povtrack_ctx *ctx, const uint8_t *unit)
{
    uint8_t k[1 + PU_UNIT_W];
    const void *val;
    size_t vlen;
    fund_key(k, 'o', unit, NULL, NULL);
    int rc = pu_get(f->host, ctx, k, sizeof k, &val, &vlen);
    return rc != 0 ? (rc < 0 ? rc : 0)
                   : pu_put(f->host, ctx, k, sizeof k, "", 0);
}

/*
 * Add d, the contribution of the event at (unit, at, seq), to the all-time
 * total, the day bucket and the per-event entry of the unit and each of its
 * ancestors, on the registry version *version (the one the entry was
 * counted on; UINT64_MAX for what is counted anew: set to the version
 * used); and to the unit's own day bucket ('d'), its per-event entry marked
 * as its own (FUND_E_OWN) and its own mark ('o'), which an as_of query
 * regroups.  fresh: seq is the record being applied, adding its own
 * contribution once; no record before it can have written an entry keyed
 * by its sequence, so the per-event entries are new and not looked up (a
 * lookup that always misses, on a page of its own: the per-event entries
 * arrive in no particular time order).
 */
static int fund_add(struct fund *f, povtrack_ctx *ctx, struct ev_str unit,
                    int64_t at, uint64_t seq, uint64_t *version,
                    const int64_t d[NM], bool fresh)
{
    struct pu_chain ch;
    if (pu_ancestors_cached_as_of(f->host, ctx, &f->units, unit, at, *version,
                                  &ch) != 0)
        return POVTRACK_EIO; /* the unit passed the reference checks */
    *version = ch.version;
    int64_t day = pu_local_day(at);
    for (int i = 0; i < ch.n; i++) {
        uint8_t k[1 + PU_UNIT_W + 16];
        size_t kl = fund_key(k, 'T', ch.code[i], NULL, NULL);
        int rc = vec_add(f, ctx, k, kl, d, false, false, false);
        if (rc == 0) {
            kl = fund_key(k, 'D', ch.code[i], &day, NULL);
            rc = vec_add(f, ctx, k, kl, d, false, false, false);
        }
        if (rc == 0) {
            kl = fund_key(k, 'E', ch.code[i], &at, &seq);
            rc = vec_add(f, ctx, k, kl, d, true, i == 0, fresh);
        }
        if (rc == 0 && i == 0) {
            kl = fund_key(k, 'd', ch.code[i], &day, NULL);
            rc = vec_add(f, ctx, k, kl, d, false, false, false);
        }
        if (rc == 0 && i == 0)
            rc = own_mark(f, ctx, ch.code[i]);
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

/* 'X' id: the pledge record ('P') and its overdue marker ('O'). */
static size_t pledge_key(uint8_t *k, char prefix, struct ev_str id)
{
    size_t n = id.len > EV_TEXT_MAX ? EV_TEXT_MAX : id.len;
    k[0] = (uint8_t)prefix;
    if (n > 0)
        memcpy(k + 1, id.ptr, n);
    return 1 + n;
}

/* 'Q' due[8] id: the pledge waits for its due in the tick's index. */
static size_t due_key(uint8_t *k, int64_t due, struct ev_str id)
{
    size_t n = id.len > EV_TEXT_MAX ? EV_TEXT_MAX : id.len;
    k[0] = 'Q';
    pu_put_key_i64(k + 1, due);
    if (n > 0)
        memcpy(k + 9, id.ptr, n);
    return 9 + n;
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
        f->host->log(ctx, POVTRACK_LOG_ERROR,
                     "fund: corrupt pledge value (a state of version 1.1 "
                     "must be rebuilt: povtrack rebuild fund)");
        return POVTRACK_EIO;
    }
    const uint8_t *b = val;
    pl->has_pledge = b[0] != 0;
    pl->amount = pu_get_i64(b + 8);
    pl->paid = pu_get_i64(b + 16);
    memcpy(pl->unit, b + 24, PU_UNIT_W);
    pl->at = pu_get_i64(b + 32);
    pl->seq = pu_get_u64(b + 40);
    pl->due = pu_get_i64(b + 48);
    pl->version = pu_get_u64(b + 56);
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
    pu_put_i64(b + 48, pl->due);
    pu_put_u64(b + 56, pl->version);
    return pu_put(f->host, ctx, k, kl, b, sizeof b);
}

/* Add (pledged, outstanding) at the pledge's own place, on the registry
 * version it is counted on (UINT64_MAX when placed: then set). */
static int pledge_contrib(struct fund *f, povtrack_ctx *ctx, struct pledge *pl,
                          int64_t pledged, int64_t out)
{
    int64_t d[NM] = {0};
    d[M_PLEDGED] = pledged;
    d[M_OUTSTANDING] = out;
    if (pledged == 0 && out == 0)
        return 0;
    return fund_add(f, ctx, pu_get_unit(pl->unit), pl->at, pl->seq,
                    &pl->version, d, false);
}

static int apply_pledged(struct fund *f, povtrack_ctx *ctx,
                         const struct povtrack_record *rec)
{
    const struct ev_event *ev = rec->event;
    uint8_t k[1 + EV_TEXT_MAX], q[9 + EV_TEXT_MAX];
    size_t kl = pledge_key(k, 'P', ev->data.pledge);
    struct pledge pl;
    int rc = pledge_get(f, ctx, k, kl, &pl);
    if (rc != 0)
        return rc;
    if (pl.has_pledge) {
        rc = pledge_contrib(f, ctx, &pl, -pl.amount,
                            -outstanding(pl.amount, pl.paid));
        /* The tick may have consumed the old due entry already. */
        if (rc == 0)
            rc = pu_del(f->host, ctx, q, due_key(q, pl.due, ev->data.pledge));
        if (rc != 0)
            return rc;
    }
    pl.has_pledge = true;
    pl.amount = ev->data.amount;
    if (pu_put_unit(pl.unit, ev->unit) != 0)
        return POVTRACK_EIO;
    pl.at = ev->at;
    pl.seq = rec->seq;
    pl.due = ev->data.due;
    pl.version = UINT64_MAX; /* placed anew: the registry as it now stands */
    rc =
        pledge_contrib(f, ctx, &pl, pl.amount, outstanding(pl.amount, pl.paid));
    if (rc == 0)
        rc = pledge_put(f, ctx, k, kl, &pl);
    if (rc == 0)
        rc =
            pu_put(f->host, ctx, q, due_key(q, pl.due, ev->data.pledge), "", 0);
    return rc;
}

/* A donation naming a pledge lowers that pledge's outstanding amount
 * where the pledge lies; before the pledge exists, the payment is kept
 * in the pledge record and counted when the pledge arrives. */
static int pay_pledge(struct fund *f, povtrack_ctx *ctx,
                      const struct ev_event *ev, int64_t amount)
{
    uint8_t k[1 + EV_TEXT_MAX];
    size_t kl = pledge_key(k, 'P', ev->data.pledge);
    struct pledge pl;
    int rc = pledge_get(f, ctx, k, kl, &pl);
    if (rc != 0)
        return rc;
    int64_t before = outstanding(pl.amount, pl.paid);
    pl.paid += amount;
    if (pl.has_pledge) {
        rc = pledge_contrib(f, ctx, &pl, 0,
                            outstanding(pl.amount, pl.paid) - before);
        if (rc != 0)
            return rc;
    }
    return pledge_put(f, ctx, k, kl, &pl);
}

/* ---- idle balances: last activity per unit ---- */

static size_t idle_key(uint8_t *k, int64_t last, const uint8_t *unit)
{
    k[0] = 'I';
    pu_put_key_i64(k + 1, last);
    memcpy(k + 9, unit, PU_UNIT_W);
    return 9 + PU_UNIT_W;
}

/* 1 found, 0 absent, or POVTRACK_EIO. */
static int last_get(struct fund *f, povtrack_ctx *ctx, const uint8_t *unit,
                    bool *has_disb, int64_t *last)
{
    uint8_t k[1 + PU_UNIT_W];
    const void *val;
    size_t vlen;
    fund_key(k, 'L', unit, NULL, NULL);
    int rc = pu_get(f->host, ctx, k, sizeof k, &val, &vlen);
    if (rc <= 0)
        return rc;
    if (vlen != FUND_L_LEN) {
        f->host->log(ctx, POVTRACK_LOG_ERROR, "fund: corrupt 'L' value");
        return POVTRACK_EIO;
    }
    *has_disb = ((const uint8_t *)val)[0] != 0;
    *last = pu_get_i64((const uint8_t *)val + 8);
    return 1;
}

/*
 * Note activity at `at` in unit and its ancestors: a disbursement moves
 * the unit's last-disbursement time forward (a new idle episode); a
 * donation only sets the start of the clock while nothing was ever
 * disbursed (its earliest donation).  The 'I' index follows.
 */
static int idle_touch(struct fund *f, povtrack_ctx *ctx, struct ev_str unit,
                      int64_t at, bool disbursed)
{
    f->idle_dirty = true;
    struct pu_chain ch;
    if (pu_ancestors_cached_at(f->host, ctx, &f->units, unit, at, &ch) != 0)
        return POVTRACK_EIO;
    for (int i = 0; i < ch.n; i++) {
        bool has = false;
        int64_t last = 0;
        int found = last_get(f, ctx, ch.code[i], &has, &last);
        if (found < 0)
            return found;
        bool update = disbursed ? !found || !has || at > last
                                : !found || (!has && at < last);
        if (!update)
            continue;
        uint8_t k[9 + PU_UNIT_W], v[FUND_L_LEN] = {0};
        int rc =
            found ? pu_del(f->host, ctx, k, idle_key(k, last, ch.code[i])) : 0;
        if (rc == 0)
            rc = pu_put(f->host, ctx, k, idle_key(k, at, ch.code[i]), "", 0);
        v[0] = disbursed || has ? 1 : 0;
        pu_put_i64(v + 8, at);
        fund_key(k, 'L', ch.code[i], NULL, NULL);
        if (rc == 0)
            rc = pu_put(f->host, ctx, k, 1 + PU_UNIT_W, v, sizeof v);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int apply_received(struct fund *f, povtrack_ctx *ctx,
                          const struct povtrack_record *rec)
{
    const struct ev_event *ev = rec->event;
    int64_t d[NM] = {0};
    d[M_RECEIVED] = ev->data.amount;
    d[M_DONATIONS] = 1;
    uint64_t version = UINT64_MAX; /* never taken back */
    int rc = fund_add(f, ctx, ev->unit, ev->at, rec->seq, &version, d, true);
    if (rc == 0)
        rc = idle_touch(f, ctx, ev->unit, ev->at, false);
    if (rc == 0 && ev->data.pledge.ptr != NULL)
        rc = pay_pledge(f, ctx, ev, ev->data.amount);
    if (rc != 0 || ev->data.amount < f->large_donation)
        return rc;

    char unit[PU_UNIT_W + 1], hh[EV_HOUSEHOLD_MAX + 1];
    char donor[EV_TEXT_MAX + 1], amount[40], msg[512];
    pu_cstr(ev->unit, unit, sizeof unit);
    pu_cstr(ev->data.donor, donor, sizeof donor);
    pu_fmt_thousands(ev->data.amount, amount, sizeof amount);
    snprintf(msg, sizeof msg, "large donation: %s VND from %s to unit %s",
             amount, donor, unit);
    return pu_alert(f->host, ctx, "fund.large_donation", POVTRACK_INFO, unit,
                    ev->household.ptr == NULL
                        ? NULL
                        : pu_cstr(ev->household, hh, sizeof hh),
                    msg, ev->at);
}

/* ---- households: official status and disbursements per year ---- */

static bool recognised(enum ev_status st)
{
    return st == EV_STATUS_POOR || st == EV_STATUS_NEAR_POOR;
}

/* 'S' or 'B' year[8] household; 0 when the household does not fit. */
static size_t hh_key(uint8_t *k, char prefix, int64_t year, struct ev_str hh)
{
    if (hh.ptr == NULL || hh.len == 0 || hh.len > EV_HOUSEHOLD_MAX)
        return 0;
    k[0] = (uint8_t)prefix;
    pu_put_key_i64(k + 1, year);
    memcpy(k + 9, hh.ptr, hh.len);
    return 9 + hh.len;
}

/* Official status of (household, year): EV_STATUS_NONE_SET when none. */
static int status_get(struct fund *f, povtrack_ctx *ctx, int64_t year,
                      struct ev_str hh, enum ev_status *st)
{
    uint8_t k[FUND_HKEY_MAX];
    const void *val;
    size_t vlen;
    *st = EV_STATUS_NONE_SET;
    int rc = pu_get(f->host, ctx, k, hh_key(k, 'S', year, hh), &val, &vlen);
    if (rc <= 0)
        return rc;
    if (vlen != 1) {
        f->host->log(ctx, POVTRACK_LOG_ERROR, "fund: corrupt status value");
        return POVTRACK_EIO;
    }
    *st = (enum ev_status)((const uint8_t *)val)[0];
    return 0;
}

/* The disbursements of one (household, year): a heap copy of the 'B'
 * value, with room for one more entry. */
struct blist {
    uint8_t *b;
    size_t n; /* entries */
};

static const uint8_t *bl_entry(const struct blist *bl, size_t i)
{
    return bl->b + FUND_B_HDR + i * FUND_B_ENTRY;
}

static int bl_load(struct fund *f, povtrack_ctx *ctx, const uint8_t *k,
                   size_t kl, struct blist *bl)
{
    const void *val;
    size_t vlen = 0;
    int rc = pu_get(f->host, ctx, k, kl, &val, &vlen);
    if (rc < 0)
        return rc;
    if (rc == 0)
        vlen = FUND_B_HDR;
    else if (vlen < FUND_B_HDR || (vlen - FUND_B_HDR) % FUND_B_ENTRY != 0) {
        f->host->log(ctx, POVTRACK_LOG_ERROR, "fund: corrupt 'B' value");
        return POVTRACK_EIO;
    }
    if (rc == 1 && ((const uint8_t *)val)[1] != FUND_B_LAYOUT) {
        f->host->log(ctx, POVTRACK_LOG_ERROR,
                     "fund: corrupt 'B' value (a state of version 1.1 must "
                     "be rebuilt: povtrack rebuild fund)");
        return POVTRACK_EIO;
    }
    bl->b = calloc(1, vlen + FUND_B_ENTRY);
    if (bl->b == NULL)
        return POVTRACK_EIO;
    if (rc == 1)
        memcpy(bl->b, val, vlen);
    else
        bl->b[1] = FUND_B_LAYOUT;
    bl->n = (vlen - FUND_B_HDR) / FUND_B_ENTRY;
    return 0;
}

static int64_t bl_total(const struct blist *bl)
{
    int64_t t = 0;
    for (size_t i = 0; i < bl->n; i++)
        t += pu_get_i64(bl_entry(bl, i) + 24);
    return t;
}

/*
 * beneficiary_not_poor, once per household-year (the 'B' header flag):
 * the household got money from the fund in a year for which its official
 * status is known and is neither poor nor near-poor.  at is the time of
 * the event that revealed it (the disbursement or the status).
 */
static int check_not_poor(struct fund *f, povtrack_ctx *ctx, struct blist *bl,
                          struct ev_str hh, int64_t year, enum ev_status st,
                          int64_t at)
{
    if (bl->n == 0 || bl->b[0] != 0 || st == EV_STATUS_NONE_SET ||
        recognised(st))
        return 0;
    bl->b[0] = 1;
    char unit[PU_UNIT_W + 1], hbuf[EV_HOUSEHOLD_MAX + 1], amount[40];
    char msg[512];
    struct ev_str u = pu_get_unit(bl_entry(bl, 0));
    const char *sname = ev_status_name(st);
    pu_cstr(u, unit, sizeof unit);
    pu_cstr(hh, hbuf, sizeof hbuf);
    snprintf(msg, sizeof msg,
             "household %s received %s VND from the fund in %lld but its "
             "official status for %lld is %s, neither poor nor near-poor",
             hbuf, pu_fmt_thousands(bl_total(bl), amount, sizeof amount),
             (long long)year, (long long)year, sname != NULL ? sname : "?");
    return pu_alert(f->host, ctx, "fund.beneficiary_not_poor", POVTRACK_WARNING,
                    unit, hbuf, msg, at);
}

static int bl_store(struct fund *f, povtrack_ctx *ctx, const uint8_t *k,
                    size_t kl, const struct blist *bl)
{
    return pu_put(f->host, ctx, k, kl, bl->b,
                  FUND_B_HDR + bl->n * FUND_B_ENTRY);
}

/* 'y' year[8] unit[5]: the own beneficiaries of a unit, year first so
 * that an as_of query reads a year's in one scan. */
static size_t own_benef_key(uint8_t *k, const uint8_t *unit, int64_t year)
{
    k[0] = 'y';
    pu_put_key_i64(k + 1, year);
    memcpy(k + 9, unit, PU_UNIT_W);
    return 9 + PU_UNIT_W;
}

/* delta (+1, or -1 for a disbursement voided) to 'Y' unit year (or own
 * 'y' year unit). */
static int beneficiary_add(struct fund *f, povtrack_ctx *ctx, char prefix,
                           const uint8_t *unit, int64_t year, int64_t delta)
{
    uint8_t k[1 + PU_UNIT_W + 8];
    const void *val;
    size_t vlen;
    size_t kl = prefix == 'y' ? own_benef_key(k, unit, year)
                              : fund_key(k, prefix, unit, &year, NULL);
    int rc = pu_get(f->host, ctx, k, kl, &val, &vlen);
    if (rc < 0)
        return rc;
    if (rc == 1 && vlen != 8) {
        f->host->log(ctx, POVTRACK_LOG_ERROR, "fund: corrupt '%c' value",
                     prefix);
        return POVTRACK_EIO;
    }
    uint8_t v[8];
    pu_put_i64(v, (rc == 1 ? pu_get_i64(val) : 0) + delta);
    return pu_put(f->host, ctx, k, kl, v, sizeof v);
}

/*
 * A household counts once per year as a beneficiary of each unit whose
 * subtree paid it: the new disbursement's unit and ancestors that no
 * earlier disbursement of the year already covered get +1.  The list is
 * the household's own year, a handful of entries.  For as_of, it counts
 * once too in the own beneficiaries ('y') of each unit that paid it
 * itself, and a household paid by more than one unit in the year is
 * listed ('x'), so that a regrouping that puts two of them together
 * counts it once.
 */
static int count_beneficiary(struct fund *f, povtrack_ctx *ctx,
                             const struct blist *bl, const struct pu_chain *ch,
                             struct ev_str hh, int64_t year)
{
    bool covered[PU_CHAIN_MAX] = {false}, same_own = false, other_own = false;
    for (size_t e = 0; e < bl->n; e++) {
        bool same = memcmp(bl_entry(bl, e), ch->code[0], PU_UNIT_W) == 0;
        same_own = same_own || same;
        other_own = other_own || !same;
    }
    if (!same_own) {
        uint8_t k[FUND_HKEY_MAX];
        int rc = beneficiary_add(f, ctx, 'y', ch->code[0], year, 1);
        if (rc == 0 && other_own)
            rc = pu_put(f->host, ctx, k, hh_key(k, 'x', year, hh), "", 0);
        if (rc != 0)
            return rc;
    }
    for (size_t e = 0; e < bl->n; e++) {
        /* Each earlier disbursement where it was counted: at its own
         * "at", on its own registry version (its entry's). */
        struct pu_chain ech;
        const uint8_t *be = bl_entry(bl, e);
        if (pu_ancestors_cached_as_of(f->host, ctx, &f->units, pu_get_unit(be),
                                      pu_get_i64(be + 8), pu_get_u64(be + 32),
                                      &ech) != 0)
            return POVTRACK_EIO;
        for (int i = 0; i < ch->n; i++)
            for (int j = 0; j < ech.n; j++)
                covered[i] = covered[i] ||
                             memcmp(ch->code[i], ech.code[j], PU_UNIT_W) == 0;
    }
    for (int i = 0; i < ch->n; i++) {
        int rc =
            covered[i] ? 0 : beneficiary_add(f, ctx, 'Y', ch->code[i], year, 1);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int apply_disbursed(struct fund *f, povtrack_ctx *ctx,
                           const struct povtrack_record *rec)
{
    const struct ev_event *ev = rec->event;
    int64_t d[NM] = {0};
    enum ev_purpose pur = ev->data.purpose;
    enum ev_level lvl = ev->data.level;
    if (pur <= EV_PURPOSE_NONE || pur >= EV_PURPOSE_COUNT ||
        lvl < EV_LEVEL_CENTRAL || lvl > EV_LEVEL_COMMUNE) {
        f->host->log(ctx, POVTRACK_LOG_ERROR,
                     "fund: fund.disbursed at seq %llu has no purpose or level",
                     (unsigned long long)rec->seq);
        return POVTRACK_EIO;
    }
    d[M_DISBURSED] = ev->data.amount;
    d[M_PURPOSE + pur - 1] = ev->data.amount;
    d[M_LEVEL + lvl - 1] = ev->data.amount;
    if (ev->household.ptr == NULL) {
        uint64_t version = UINT64_MAX; /* never taken back */
        int rc =
            fund_add(f, ctx, ev->unit, ev->at, rec->seq, &version, d, true);
        return rc != 0 ? rc : idle_touch(f, ctx, ev->unit, ev->at, true);
    }

    int64_t year = pu_local_year(ev->at);
    enum ev_status st;
    uint8_t k[FUND_HKEY_MAX];
    size_t kl = hh_key(k, 'B', year, ev->household);
    struct pu_chain ch;
    if (kl == 0 || pu_ancestors_cached_at(f->host, ctx, &f->units, ev->unit,
                                          ev->at, &ch) != 0)
        return POVTRACK_EIO; /* validated at ingest: the log is damaged */
    int rc = status_get(f, ctx, year, ev->household, &st);
    if (rc != 0)
        return rc;
    d[M_TO_HH] = ev->data.amount;
    d[M_TO_RECOG] = recognised(st) ? ev->data.amount : 0;
    /* Counted on the registry as it now stands (ch.version), which the
     * entry keeps for the statuses that move it later. */
    uint64_t version = ch.version;
    if ((rc = fund_add(f, ctx, ev->unit, ev->at, rec->seq, &version, d,
                       true)) != 0 ||
        (rc = idle_touch(f, ctx, ev->unit, ev->at, true)) != 0)
        return rc;

    struct blist bl;
    if ((rc = bl_load(f, ctx, k, kl, &bl)) != 0)
        return rc;
    rc = count_beneficiary(f, ctx, &bl, &ch, ev->household, year);
    uint8_t *e = bl.b + FUND_B_HDR + bl.n * FUND_B_ENTRY;
    memcpy(e, ch.code[0], PU_UNIT_W);
    pu_put_i64(e + 8, ev->at);
    pu_put_u64(e + 16, rec->seq);
    pu_put_i64(e + 24, ev->data.amount);
    pu_put_u64(e + 32, version);
    bl.n++;
    if (rc == 0)
        rc = check_not_poor(f, ctx, &bl, ev->household, year, st, ev->at);
    if (rc == 0)
        rc = bl_store(f, ctx, k, kl, &bl);
    free(bl.b);
    return rc;
}

/* ---- voids and corrections ---- */

/* Take the donation was (record seq, counted on registry version) out of
 * where it was counted: its amount, its count, its payment of a pledge. */
static int uncount_received(struct fund *f, povtrack_ctx *ctx,
                            const struct ev_event *was, uint64_t seq,
                            uint64_t version)
{
    int64_t d[NM] = {0};
    d[M_RECEIVED] = -was->data.amount;
    d[M_DONATIONS] = -1;
    int rc = fund_add(f, ctx, was->unit, was->at, seq, &version, d, false);
    if (rc == 0 && was->data.pledge.ptr != NULL)
        rc = pay_pledge(f, ctx, was, -was->data.amount);
    return rc;
}

/*
 * The household-year of a disbursement taken back: the entry at index e
 * leaves bl, and the household stops counting as a beneficiary of each
 * unit that no remaining disbursement of the year covers (count_beneficiary
 * backwards), own beneficiaries and the 'x' list included.
 */
static int uncount_beneficiary(struct fund *f, povtrack_ctx *ctx,
                               struct blist *bl, size_t e, struct ev_str hh,
                               int64_t year)
{
    struct pu_chain gone, ech;
    const uint8_t *ge = bl_entry(bl, e);
    uint8_t own[PU_UNIT_W];
    memcpy(own, ge, PU_UNIT_W);
    if (pu_ancestors_cached_as_of(f->host, ctx, &f->units, pu_get_unit(ge),
                                  pu_get_i64(ge + 8), pu_get_u64(ge + 32),
                                  &gone) != 0)
        return POVTRACK_EIO;
    memmove(bl->b + FUND_B_HDR + e * FUND_B_ENTRY,
            bl->b + FUND_B_HDR + (e + 1) * FUND_B_ENTRY,
            (bl->n - e - 1) * FUND_B_ENTRY);
    bl->n--;
    bool covered[PU_CHAIN_MAX] = {false}, same_own = false, one_own = true;
    for (size_t i = 0; i < bl->n; i++) {
        const uint8_t *be = bl_entry(bl, i);
        same_own = same_own || memcmp(be, own, PU_UNIT_W) == 0;
        one_own = one_own && memcmp(be, bl_entry(bl, 0), PU_UNIT_W) == 0;
        if (pu_ancestors_cached_as_of(f->host, ctx, &f->units, pu_get_unit(be),
                                      pu_get_i64(be + 8), pu_get_u64(be + 32),
                                      &ech) != 0)
            return POVTRACK_EIO;
        for (int j = 0; j < gone.n; j++)
            for (int m = 0; m < ech.n; m++)
                covered[j] = covered[j] ||
                             memcmp(gone.code[j], ech.code[m], PU_UNIT_W) == 0;
    }
    int rc = 0;
    if (!same_own)
        rc = beneficiary_add(f, ctx, 'y', own, year, -1);
    if (rc == 0 && one_own) {
        /* At most one unit paid the household in the year now. */
        uint8_t k[FUND_HKEY_MAX];
        rc = pu_del(f->host, ctx, k, hh_key(k, 'x', year, hh));
    }
    for (int j = 0; rc == 0 && j < gone.n; j++)
        if (!covered[j])
            rc = beneficiary_add(f, ctx, 'Y', gone.code[j], year, -1);
    return rc;
}

/* Take the disbursement was (record seq, counted on registry version)
 * out: its amounts where they lie and, to a household, its entry in the
 * household's year, with the recognised part as the status now says. */
static int uncount_disbursed(struct fund *f, povtrack_ctx *ctx,
                             const struct ev_event *was, uint64_t seq,
                             uint64_t version)
{
    int64_t d[NM] = {0};
    enum ev_purpose pur = was->data.purpose;
    enum ev_level lvl = was->data.level;
    if (pur <= EV_PURPOSE_NONE || pur >= EV_PURPOSE_COUNT ||
        lvl < EV_LEVEL_CENTRAL || lvl > EV_LEVEL_COMMUNE)
        return POVTRACK_EIO; /* validated at ingest: the log is damaged */
    d[M_DISBURSED] = -was->data.amount;
    d[M_PURPOSE + pur - 1] = -was->data.amount;
    d[M_LEVEL + lvl - 1] = -was->data.amount;
    if (was->household.ptr == NULL)
        return fund_add(f, ctx, was->unit, was->at, seq, &version, d, false);

    int64_t year = pu_local_year(was->at);
    uint8_t k[FUND_HKEY_MAX];
    size_t kl = hh_key(k, 'B', year, was->household);
    struct blist bl;
    enum ev_status st;
    int rc =
        kl == 0 ? POVTRACK_EIO : status_get(f, ctx, year, was->household, &st);
    if (rc == 0)
        rc = bl_load(f, ctx, k, kl, &bl);
    if (rc != 0)
        return rc;
    size_t e = 0;
    while (e < bl.n && pu_get_u64(bl_entry(&bl, e) + 16) != seq)
        e++;
    if (e == bl.n) {
        free(bl.b);
        f->host->log(ctx, POVTRACK_LOG_ERROR,
                     "fund: the disbursement at seq %llu is not in its "
                     "household's year",
                     (unsigned long long)seq);
        return POVTRACK_EIO;
    }
    version = pu_get_u64(bl_entry(&bl, e) + 32);
    d[M_TO_HH] = -was->data.amount;
    d[M_TO_RECOG] = recognised(st) ? -was->data.amount : 0;
    rc = fund_add(f, ctx, was->unit, was->at, seq, &version, d, false);
    if (rc == 0)
        rc = uncount_beneficiary(f, ctx, &bl, e, was->household, year);
    if (rc == 0)
        rc = bl_store(f, ctx, k, kl, &bl);
    free(bl.b);
    return rc;
}

/* Take the pledge was (record seq) out, when it is still the pledge its id
 * holds (a later donation.pledged of the same id replaced it otherwise,
 * and nothing of it is counted any more).  Payments stay with the id. */
static int uncount_pledged(struct fund *f, povtrack_ctx *ctx,
                           const struct ev_event *was, uint64_t seq)
{
    uint8_t k[1 + EV_TEXT_MAX], q[9 + EV_TEXT_MAX];
    size_t kl = pledge_key(k, 'P', was->data.pledge);
    struct pledge pl;
    int rc = pledge_get(f, ctx, k, kl, &pl);
    if (rc != 0 || !pl.has_pledge || pl.seq != seq)
        return rc;
    rc = pledge_contrib(f, ctx, &pl, -pl.amount,
                        -outstanding(pl.amount, pl.paid));
    if (rc == 0)
        rc = pu_del(f->host, ctx, q, due_key(q, pl.due, was->data.pledge));
    pl.has_pledge = false;
    pl.amount = 0;
    if (rc == 0)
        rc = pledge_put(f, ctx, k, kl, &pl);
    return rc;
}

/*
 * A void takes the record back from every figure; a correction takes it
 * back and counts the corrected record in its place (its own place, date
 * and registry, keyed by the correction's sequence).
 */
static int apply_amend(struct fund *f, povtrack_ctx *ctx,
                       const struct povtrack_record *rec)
{
    const struct ev_event *was;
    struct ev_event now;
    bool corrected;
    int rc = pu_amendment(rec, &was, &now, &corrected);
    if (rc != 0)
        return rc;
    uint64_t seq = rec->replaced_seq, version = rec->replaced_units_seq;
    switch (was->type) {
    case EV_DONATION_RECEIVED:
        rc = uncount_received(f, ctx, was, seq, version);
        break;
    case EV_FUND_DISBURSED:
        rc = uncount_disbursed(f, ctx, was, seq, version);
        break;
    case EV_DONATION_PLEDGED:
        rc = uncount_pledged(f, ctx, was, seq);
        break;
    default:
        return 0; /* not the fund's */
    }
    if (rc != 0 || !corrected)
        return rc;
    struct povtrack_record nr = *rec;
    nr.event = &now;
    switch (now.type) {
    case EV_DONATION_RECEIVED:
        return apply_received(f, ctx, &nr);
    case EV_FUND_DISBURSED:
        return apply_disbursed(f, ctx, &nr);
    default:
        return apply_pledged(f, ctx, &nr);
    }
}

/*
 * status(h, y) replaced: when it crosses the poor-or-near-poor line, every
 * disbursement of (h, y) moves between the recognised buckets where it
 * lies (its unit, day and event entry), from the household's own list.
 */
static int apply_status(struct fund *f, povtrack_ctx *ctx,
                        const struct ev_event *ev)
{
    uint8_t sk[FUND_HKEY_MAX], bk[FUND_HKEY_MAX];
    int64_t year = ev->data.year;
    size_t skl = hh_key(sk, 'S', year, ev->household);
    size_t bkl = hh_key(bk, 'B', year, ev->household);
    if (skl == 0 || bkl == 0) {
        f->host->log(ctx, POVTRACK_LOG_ERROR,
                     "fund: household.status without a valid household");
        return POVTRACK_EIO;
    }
    enum ev_status old = EV_STATUS_NONE_SET, st = ev->data.status;
    uint8_t sv = (uint8_t)st;
    /* The old status matters only to the household-year's disbursements:
     * without any (nearly always), the new one is just recorded. */
    struct blist bl = {NULL, 0};
    int rc = bl_load(f, ctx, bk, bkl, &bl);
    if (rc == 0 && bl.n > 0)
        rc = status_get(f, ctx, year, ev->household, &old);
    if (rc == 0)
        rc = pu_put(f->host, ctx, sk, skl, &sv, 1);
    if (rc != 0 || bl.n == 0) {
        free(bl.b);
        return rc;
    }
    int64_t sign = (int64_t)recognised(st) - (int64_t)recognised(old);
    for (size_t i = 0; i < bl.n && sign != 0 && rc == 0; i++) {
        const uint8_t *e = bl_entry(&bl, i);
        int64_t d[NM] = {0};
        uint64_t version = pu_get_u64(e + 32); /* where it was counted */
        d[M_TO_RECOG] = sign * pu_get_i64(e + 24);
        rc = fund_add(f, ctx, pu_get_unit(e), pu_get_i64(e + 8),
                      pu_get_u64(e + 16), &version, d, false);
    }
    bool was_alerted = bl.b[0] != 0;
    if (rc == 0)
        rc = check_not_poor(f, ctx, &bl, ev->household, year, st, ev->at);
    if (rc == 0 && bl.b[0] != 0 && !was_alerted)
        rc = bl_store(f, ctx, bk, bkl, &bl);
    free(bl.b);
    return rc;
}

/* ---- query ---- */

struct sum {
    int64_t v[NM];
    bool sparse;
    bool own; /* only the entries of their event's own unit */
    bool bad;
};

static int sum_cb(void *arg, const void *key, size_t klen, const void *val,
                  size_t vlen)
{
    struct sum *s = arg;
    int64_t v[NM];
    bool own;
    (void)key;
    (void)klen;
    if (decode_value(s->sparse, val, vlen, v, &own) != 0) {
        s->bad = true;
        return 1;
    }
    if (s->own && s->sparse && !own)
        return 0;
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
 * days at either edge from the per-event entries.  own: only the unit's
 * own records (its own day buckets 'd' and the per-event entries marked
 * its own), not its descendants'; from or to must then be given.
 */
static int fund_sum(struct fund *f, povtrack_ctx *ctx, const uint8_t *unit,
                    bool own, bool has_from, int64_t from, bool has_to,
                    int64_t to, struct sum *s)
{
    memset(s, 0, sizeof *s);
    s->own = own;
    const char day = own ? 'd' : 'D';
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
        dlo = pu_local_day(from);
        if (pu_day_start(dlo) != from) {
            part_lo = true;
            dlo++;
        }
    }
    if (has_to) {
        dhi = pu_local_day(to);
        part_hi = pu_day_start(dhi) != to;
    }
    if (has_from && has_to && dlo > dhi) {
        /* from and to inside the same day: one partial range. */
        return sum_range(f, ctx, s, 'E', unit, &from, &to);
    }
    int rc = 0;
    if (part_lo) {
        int64_t end = pu_day_start(dlo);
        rc = sum_range(f, ctx, s, 'E', unit, &from, &end);
    }
    if (rc == 0 && (!has_from || !has_to || dlo < dhi))
        rc = sum_range(f, ctx, s, day, unit, has_from ? &dlo : NULL,
                       has_to ? &dhi : NULL);
    if (rc == 0 && part_hi) {
        int64_t start = pu_day_start(dhi);
        rc = sum_range(f, ctx, s, 'E', unit, &start, &to);
    }
    return rc;
}

/* 'Y' unit year: beneficiaries (0 when absent). */
static int beneficiaries_get(struct fund *f, povtrack_ctx *ctx,
                             const uint8_t *unit, int64_t year, int64_t *out)
{
    uint8_t k[1 + PU_UNIT_W + 8];
    const void *val;
    size_t vlen;
    *out = 0;
    int rc = pu_get(f->host, ctx, k, fund_key(k, 'Y', unit, &year, NULL), &val,
                    &vlen);
    if (rc <= 0)
        return rc;
    if (vlen != 8)
        return POVTRACK_EIO;
    *out = pu_get_i64(val);
    return 0;
}

/* What a query sums: the period, and the Front's campaign month of its
 * year. */
struct fund_period {
    bool has_from, has_to, has_year;
    int64_t from, to, year;
    int64_t peak_from, peak_to;
};

static void sum_add(struct sum *to, const struct sum *from)
{
    for (int i = 0; i < NM; i++)
        to->v[i] += from->v[i];
}

/* What an as_of query adds up, unit by unit (pu_regroup_scan). */
struct regrouped {
    struct fund *f;
    povtrack_ctx *ctx;
    const struct fund_period *pd;
    struct sum *s, *peak;
    int64_t benef;
};

/* 'o' unit: the period's own records of a unit that counts. */
static int own_unit_cb(void *arg, const uint8_t *key, size_t klen,
                       const uint8_t *val, size_t vlen)
{
    struct regrouped *r = arg;
    const struct fund_period *pd = r->pd;
    struct sum one;
    (void)klen;
    (void)val;
    (void)vlen;
    int rc = fund_sum(r->f, r->ctx, key + 1, true, pd->has_from, pd->from,
                      pd->has_to, pd->to, &one);
    if (rc == 0)
        sum_add(r->s, &one);
    if (rc == 0 && pd->has_year &&
        (rc = fund_sum(r->f, r->ctx, key + 1, true, true, pd->peak_from, true,
                       pd->peak_to, &one)) == 0)
        sum_add(r->peak, &one);
    return rc;
}

/*
 * The beneficiaries of a year regrouped: the own beneficiaries ('y') of
 * the units whose records count in the unit asked, less the households
 * that more than one of those units paid ('x'), counted once.
 */
static int regrouped_beneficiaries(struct regrouped *r, struct pu_regroup *g,
                                   int64_t year)
{
    uint8_t from[9] = {'x'}, to[9] = {'x'};
    struct pu_copied x = {0};
    struct pu_sums own = {&r->benef, 1};
    size_t off = 0, klen, vlen;
    const uint8_t *k, *v;
    /* 'y' year unit: the households each unit that counts paid itself. */
    int rc =
        pu_regroup_keys(g, 'y', true, year, 9 + PU_UNIT_W, pu_sums_add, &own);
    pu_put_key_i64(from + 1, year);
    pu_put_key_i64(to + 1, year + 1);
    if (rc == 0)
        rc = pu_scan_copied(r->f->host, r->ctx, from, sizeof from, to,
                            sizeof to, &x);
    while (rc == 0 && pu_copied_next(&x, &off, &k, &klen, &v, &vlen)) {
        /* The household's disbursements of the year: count each own unit
         * of them in the unit asked, and take back all but one. */
        uint8_t bk[FUND_HKEY_MAX];
        struct blist bl;
        struct ev_str hh = {(const char *)k + 9, (uint32_t)(klen - 9)};
        size_t bkl = hh_key(bk, 'B', year, hh);
        if (bkl == 0 || (rc = bl_load(r->f, r->ctx, bk, bkl, &bl)) != 0) {
            rc = rc != 0 ? rc : POVTRACK_EIO;
            break;
        }
        int64_t units = 0;
        for (size_t i = 0; rc == 0 && i < bl.n; i++) {
            bool in, seen = false;
            const uint8_t *u = bl_entry(&bl, i);
            for (size_t j = 0; j < i && !seen; j++)
                seen = memcmp(bl_entry(&bl, j), u, PU_UNIT_W) == 0;
            if (!seen && (rc = pu_regroup_in(g, u, &in)) == 0 && in)
                units++;
        }
        free(bl.b);
        if (units > 1)
            r->benef -= units - 1;
    }
    pu_copied_free(&x);
    return rc;
}

/*
 * The figures of a period regrouped into unit as the units stand at as_of:
 * the own records of every unit whose households are then in unit or
 * below ('o' lists the units with own records).
 */
static int fund_regrouped(struct fund *f, povtrack_ctx *ctx,
                          const uint8_t *unit, int64_t as_of,
                          const struct fund_period *pd, struct sum *s,
                          struct sum *peak, int64_t *benef)
{
    struct pu_regroup g;
    struct regrouped r = {f, ctx, pd, s, peak, 0};
    memset(s, 0, sizeof *s);
    memset(peak, 0, sizeof *peak);
    pu_regroup_init(&g, f->host, ctx, unit, as_of, as_of);
    int rc = pu_regroup_keys(&g, 'o', false, 0, 1 + PU_UNIT_W, own_unit_cb, &r);
    if (rc == 0 && pd->has_year)
        rc = regrouped_beneficiaries(&r, &g, pd->year);
    pu_regroup_free(&g);
    *benef = r.benef;
    return rc == 0 ? 0 : POVTRACK_EIO;
}

static int fund_query(void *state, povtrack_ctx *ctx, const msgpack_object *q,
                      msgpack_packer *pk, char *err, size_t errlen)
{
    struct fund *f = state;
    struct pu_chain ch;
    static const char *const arg_names[] = {"unit", "year",  "from",
                                            "to",   "as_of", NULL};
    int rc = pu_check_arg_names(q, arg_names, err, errlen);
    if (rc == 0)
        rc = pu_arg_unit(f->host, ctx, q, &ch, err, errlen);
    if (rc != 0)
        return rc;
    struct fund_period pd = {0};
    int64_t benef = 0, as_of = 0;
    bool has_as_of;
    if (pu_arg_i64(q, "from", false, &pd.from, &pd.has_from, err, errlen) !=
            0 ||
        pu_arg_i64(q, "to", false, &pd.to, &pd.has_to, err, errlen) != 0 ||
        pu_arg_i64(q, "year", false, &pd.year, &pd.has_year, err, errlen) !=
            0 ||
        pu_arg_i64(q, "as_of", false, &as_of, &has_as_of, err, errlen) != 0)
        return POVTRACK_EINVALID;
    if (pd.has_from && pd.has_to && pd.to < pd.from) {
        snprintf(err, errlen, "to: must not be before from");
        return POVTRACK_EINVALID;
    }
    if (pd.has_year && (pd.has_from || pd.has_to)) {
        snprintf(err, errlen, "year: not with from or to");
        return POVTRACK_EINVALID;
    }
    if (pd.has_year && (pd.year < 1970 || pd.year > 9999)) {
        snprintf(err, errlen, "year: must be 1970-9999");
        return POVTRACK_EINVALID;
    }
    if (pd.has_year) {
        /* The local calendar year, as every year of this plugin. */
        pd.has_from = pd.has_to = true;
        pd.from = pu_year_start(pd.year);
        pd.to = pu_year_start(pd.year + 1);
        /* The Front's "month for the poor", 17 October to 18 November,
         * is when most money is raised: its own totals, from the same
         * buckets. */
        pd.peak_from = pu_day_start(pu_days_from_civil(pd.year, 10, 17));
        pd.peak_to = pu_day_start(pu_days_from_civil(pd.year, 11, 19));
    }
    /* The last instant of the period: its date, unless as_of is given. */
    char period[48] = "to";
    if (pd.has_year)
        snprintf(period, sizeof period, "the end of %lld", (long long)pd.year);
    if ((rc = pu_check_query_date(
             f->host, ctx, pu_get_unit(ch.code[0]), has_as_of, as_of,
             pd.has_to ? pd.to - 1 : INT64_MAX, period, err, errlen)) != 0)
        return rc;
    if (has_as_of && !pd.has_to) {
        /* Up to as_of: what the units of as_of can hold. */
        pd.has_to = true;
        pd.to = as_of < FUND_TIME_MAX ? as_of + 1 : FUND_TIME_MAX;
    }
    struct sum s, peak;
    if (has_as_of)
        rc = fund_regrouped(f, ctx, ch.code[0], as_of, &pd, &s, &peak, &benef);
    else if ((rc = fund_sum(f, ctx, ch.code[0], false, pd.has_from, pd.from,
                            pd.has_to, pd.to, &s)) == 0 &&
             pd.has_year &&
             (rc = beneficiaries_get(f, ctx, ch.code[0], pd.year, &benef)) == 0)
        rc = fund_sum(f, ctx, ch.code[0], false, true, pd.peak_from, true,
                      pd.peak_to, &peak);
    if (rc != 0) {
        snprintf(err, errlen, "internal error: state read failed");
        return POVTRACK_EIO;
    }
    bool has_year = pd.has_year;
    int64_t year = pd.year, peak_from = pd.peak_from, peak_to = pd.peak_to;
    struct ev_str unit = pu_get_unit(ch.code[0]);
    int e = msgpack_pack_map(pk, (has_year ? 16 : 12) + (has_as_of ? 1 : 0));
    e |= pu_pack_key(pk, "unit") | pu_pack_str(pk, unit.ptr, unit.len);
    if (has_as_of)
        e |= pu_pack_key(pk, "as_of") | msgpack_pack_int64(pk, as_of);
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
    e |= pu_pack_key(pk, "disbursed_by_level") |
         msgpack_pack_map(pk, EV_LEVEL_COMMUNE);
    for (int l = EV_LEVEL_CENTRAL; l <= EV_LEVEL_COMMUNE; l++) {
        const char *name = ev_level_name((enum ev_level)l);
        e |= pu_pack_key(pk, name != NULL ? name : "?") |
             msgpack_pack_int64(pk, s.v[M_LEVEL + l - 1]);
    }
    e |=
        pu_pack_key(pk, "to_households") | msgpack_pack_int64(pk, s.v[M_TO_HH]);
    e |= pu_pack_key(pk, "to_recognised") |
         msgpack_pack_int64(pk, s.v[M_TO_RECOG]);
    e |= pu_pack_key(pk, "recognised_share") |
         pu_pack_percent(pk, s.v[M_TO_RECOG], s.v[M_TO_HH]);
    if (has_year) {
        e |= pu_pack_key(pk, "year") | msgpack_pack_int64(pk, year);
        e |= pu_pack_key(pk, "beneficiaries") | msgpack_pack_int64(pk, benef);
        e |= pu_pack_key(pk, "support_per_beneficiary") |
             pu_pack_opt_double(pk, benef > 0,
                                benef > 0 ? (double)s.v[M_TO_HH] / (double)benef
                                          : 0.0);
        e |= pu_pack_key(pk, "month_for_the_poor") | msgpack_pack_map(pk, 4);
        e |= pu_pack_key(pk, "from") | msgpack_pack_int64(pk, peak_from);
        e |= pu_pack_key(pk, "to") | msgpack_pack_int64(pk, peak_to);
        e |= pu_pack_key(pk, "received") |
             msgpack_pack_int64(pk, peak.v[M_RECEIVED]);
        e |= pu_pack_key(pk, "donations") |
             msgpack_pack_int64(pk, peak.v[M_DONATIONS]);
    }
    if (e != 0) {
        snprintf(err, errlen, "internal error: packing failed");
        return POVTRACK_EIO;
    }
    return 0;
}

/* ---- tick: deadlines and idle money (wall clock) ---- */

/* Keys of a scan, copied: the host's pointers die at the next write. */
struct keys {
    uint8_t (*k)[9 + EV_TEXT_MAX];
    size_t *len;
    size_t n, max;
};

static int keys_cb(void *arg, const void *key, size_t klen, const void *val,
                   size_t vlen)
{
    struct keys *ks = arg;
    (void)val;
    (void)vlen;
    if (ks->n == ks->max)
        return 1; /* full: the rest next time */
    if (klen > sizeof ks->k[0])
        return POVTRACK_EIO;
    memcpy(ks->k[ks->n], key, klen);
    ks->len[ks->n++] = klen;
    return 0;
}

/* Collect up to max keys in [from, to). */
static int keys_scan(struct fund *f, povtrack_ctx *ctx, const uint8_t *from,
                     size_t fl, const uint8_t *to, size_t tl, size_t max,
                     struct keys *ks)
{
    ks->n = 0;
    ks->max = max;
    ks->k = calloc(max, sizeof ks->k[0]);
    ks->len = calloc(max, sizeof ks->len[0]);
    if (ks->k == NULL || ks->len == NULL)
        return POVTRACK_EIO;
    int rc = f->host->scan(ctx, from, fl, to, tl, keys_cb, ks);
    if (rc == 0 || rc == 1 || rc == POVTRACK_NOTFOUND)
        return 0;
    f->host->log(ctx, POVTRACK_LOG_ERROR, "fund: state scan failed: %s",
                 pu_strerror(f->host, rc));
    return POVTRACK_EIO;
}

static void keys_free(struct keys *ks)
{
    free(ks->k);
    free(ks->len);
}

static int overdue_one(struct fund *f, povtrack_ctx *ctx, const uint8_t *qk,
                       size_t qkl)
{
    struct ev_str id = {(const char *)qk + 9, (uint32_t)(qkl - 9)};
    int64_t due = pu_get_key_i64(qk + 1);
    uint8_t k[1 + EV_TEXT_MAX];
    const void *val;
    size_t vlen;
    struct pledge pl;
    int rc = pledge_get(f, ctx, k, pledge_key(k, 'P', id), &pl);
    int64_t out = outstanding(pl.amount, pl.paid);
    size_t ol = pledge_key(k, 'O', id);
    /* A corrected pledge has its own entry at its new due. */
    if (rc != 0 || !pl.has_pledge || pl.due != due || out == 0)
        return rc;
    if ((rc = pu_get(f->host, ctx, k, ol, &val, &vlen)) != 0)
        return rc < 0 ? rc : 0; /* raised before */
    char unit[PU_UNIT_W + 1], pid[EV_TEXT_MAX + 1], a[40], b[40],
        date[PU_DATE_LEN];
    char msg[512];
    pu_cstr(pu_get_unit(pl.unit), unit, sizeof unit);
    snprintf(msg, sizeof msg, "pledge %s: %s VND of %s outstanding, due %s",
             pu_cstr(id, pid, sizeof pid), pu_fmt_thousands(out, a, sizeof a),
             pu_fmt_thousands(pl.amount, b, sizeof b),
             pu_fmt_date(due, date, sizeof date));
    if ((rc = pu_put(f->host, ctx, k, ol, "", 0)) != 0)
        return rc;
    return pu_alert(f->host, ctx, "fund.pledge_overdue", POVTRACK_INFO, unit,
                    NULL, msg, due);
}

/*
 * Pledges whose due is now past: only the 'Q' entries with due < now,
 * which the tick then consumes, so each pledge is looked at once after
 * its due (and again only if a correction re-adds it).  This is the
 * "(last_checked, now]" window with the boundary kept in the index itself,
 * so a correction whose due is already past is not missed.
 */
static int overdue_tick(struct fund *f, povtrack_ctx *ctx, int64_t now)
{
    uint8_t from[1] = {'Q'}, to[9];
    to[0] = 'Q';
    pu_put_key_i64(to + 1, now);
    struct keys ks;
    int rc = keys_scan(f, ctx, from, 1, to, sizeof to, FUND_TICK_BATCH, &ks);
    for (size_t i = 0; i < ks.n && rc == 0; i++) {
        rc = overdue_one(f, ctx, ks.k[i], ks.len[i]);
        if (rc == 0)
            rc = pu_del(f->host, ctx, ks.k[i], ks.len[i]);
    }
    keys_free(&ks);
    return rc;
}

static int idle_one(struct fund *f, povtrack_ctx *ctx, const uint8_t *ik,
                    int64_t now)
{
    const uint8_t *code = ik + 9;
    int64_t last = pu_get_key_i64(ik + 1);
    uint8_t k[1 + PU_UNIT_W];
    const void *val;
    size_t vlen;
    fund_key(k, 'A', code, NULL, NULL);
    int rc = pu_get(f->host, ctx, k, sizeof k, &val, &vlen);
    if (rc < 0)
        return rc;
    if (rc == 1 && vlen == 8 && pu_get_i64(val) == last)
        return 0; /* this episode was reported */
    struct sum s;
    bool has = false;
    int64_t l2;
    if (fund_sum(f, ctx, code, false, false, 0, false, 0, &s) != 0 ||
        last_get(f, ctx, code, &has, &l2) < 0)
        return POVTRACK_EIO;
    int64_t balance = s.v[M_RECEIVED] - s.v[M_DISBURSED];
    if (balance <= f->idle_balance)
        return 0;
    char unit[PU_UNIT_W + 1], bal[40], lim[40], date[PU_DATE_LEN], msg[512];
    pu_cstr(pu_get_unit(code), unit, sizeof unit);
    snprintf(msg, sizeof msg,
             "unit %s: balance %s VND above %s with no disbursement since "
             "%s%s (%lld days)",
             unit, pu_fmt_thousands(balance, bal, sizeof bal),
             pu_fmt_thousands(f->idle_balance, lim, sizeof lim),
             has ? "" : "its first donation on ",
             pu_fmt_date(last, date, sizeof date),
             (long long)((now - last) / PU_DAY));
    uint8_t v[8];
    pu_put_i64(v, last);
    if ((rc = pu_put(f->host, ctx, k, sizeof k, v, sizeof v)) != 0)
        return rc;
    /* at: when the unit became idle, the same whenever the tick runs. */
    return pu_alert(f->host, ctx, "fund.idle_balance", POVTRACK_WARNING, unit,
                    NULL, msg, last + f->idle_secs);
}

/*
 * Units idle for idle_days: the 'I' entries with last <= now - idle_secs,
 * at most once per FUND_IDLE_CHECK_EVERY of wall time ('h') unless money
 * moved since the last check.  The balance
 * checked is the current all-time one: only a disbursement lowers a
 * balance, so above the threshold now means money has been sitting there
 * (new donations included) since the last disbursement.
 */
static int idle_tick(struct fund *f, povtrack_ctx *ctx, int64_t now)
{
    uint8_t hk[1] = {'h'}, hv[8];
    const void *val;
    size_t vlen;
    int rc = pu_get(f->host, ctx, hk, 1, &val, &vlen);
    if (rc < 0)
        return rc;
    if (rc == 1 && vlen == 8 && !f->idle_dirty) {
        int64_t prev = pu_get_i64(val);
        if (now >= prev && now - prev < FUND_IDLE_CHECK_EVERY)
            return 0;
    }
    f->idle_dirty = false;
    pu_put_i64(hv, now);
    if ((rc = pu_put(f->host, ctx, hk, 1, hv, sizeof hv)) != 0)
        return rc;
    uint8_t from[1] = {'I'}, to[9];
    to[0] = 'I';
    pu_put_key_i64(to + 1, now - f->idle_secs + 1);
    struct keys ks;
    size_t max = 1024;
    /* Every idle unit is checked: grow the batch until the scan fits. */
    for (;;) {
        rc = keys_scan(f, ctx, from, 1, to, sizeof to, max, &ks);
        if (rc != 0 || ks.n < max)
            break;
        keys_free(&ks);
        max *= 4;
    }
    for (size_t i = 0; i < ks.n && rc == 0; i++)
        rc = idle_one(f, ctx, ks.k[i], now);
    keys_free(&ks);
    return rc;
}

static int fund_tick(void *state, povtrack_ctx *ctx, int64_t now)
{
    struct fund *f = state;
    int rc = overdue_tick(f, ctx, now);
    return rc != 0 ? rc : idle_tick(f, ctx, now);
}

/* ---- plugin callbacks ---- */

static int fund_init(povtrack_ctx *ctx, const struct povtrack_host *host,
                     void **state)
{
    int64_t large = FUND_DEFAULT_LARGE;
    int64_t idle_balance = FUND_DEFAULT_IDLE_BALANCE;
    int64_t idle_days = FUND_DEFAULT_IDLE_DAYS;
    if (pu_config_pos_i64(host, ctx, "large_donation", &large) != 0 ||
        pu_config_pos_i64(host, ctx, "idle_balance", &idle_balance) != 0 ||
        pu_config_pos_i64(host, ctx, "idle_days", &idle_days) != 0)
        return POVTRACK_ECONFIG;
    if (idle_days > FUND_IDLE_DAYS_MAX) {
        host->log(ctx, POVTRACK_LOG_ERROR, "idle_days: at most %lld, got %lld",
                  (long long)FUND_IDLE_DAYS_MAX, (long long)idle_days);
        return POVTRACK_ECONFIG;
    }
    struct fund *f = calloc(1, sizeof *f);
    if (f == NULL) {
        host->log(ctx, POVTRACK_LOG_ERROR, "fund: out of memory");
        return POVTRACK_ENOMEM;
    }
    f->host = host;
    f->large_donation = large;
    f->idle_balance = idle_balance;
    f->idle_dirty = true;
    f->idle_secs = idle_days * PU_DAY;
    *state = f;
    return 0;
}

static int fund_apply(void *state, povtrack_ctx *ctx,
                      const struct povtrack_record *rec)
{
    struct fund *f = state;
    switch (rec->event->type) {
    case EV_HOUSEHOLD_STATUS:
        return apply_status(f, ctx, rec->event);
    case EV_DONATION_PLEDGED:
        return apply_pledged(f, ctx, rec);
    case EV_DONATION_RECEIVED:
        return apply_received(f, ctx, rec);
    case EV_FUND_DISBURSED:
        return apply_disbursed(f, ctx, rec);
    case EV_RECORD_VOIDED:
    case EV_RECORD_CORRECTED:
        return apply_amend(f, ctx, rec);
    default:
        return 0; /* not in the mask: nothing to do */
    }
}

static void fund_fini(void *state)
{
    struct fund *f = state;
    pu_units_free(&f->units);
    free(f);
}

/* The keys of [plugin.fund]. */
static const struct povtrack_config_key fund_config[] = {
    {.name = "large_donation",
     .type = POVTRACK_CONFIG_INT,
     .default_value = PU_STR(FUND_DEFAULT_LARGE),
     .description = "VND; a donation of at least this raises "
                    "fund.large_donation"},
    {.name = "idle_balance",
     .type = POVTRACK_CONFIG_INT,
     .default_value = PU_STR(FUND_DEFAULT_IDLE_BALANCE),
     .description = "VND; a balance above this with no disbursement for "
                    "idle_days raises fund.idle_balance"},
    {.name = "idle_days",
     .type = POVTRACK_CONFIG_INT,
     .default_value = PU_STR(FUND_DEFAULT_IDLE_DAYS),
     .description = "days without a disbursement before fund.idle_balance"},
    {.name = NULL},
};

/* state_layout: bump it when the stored values change. */
POVTRACK_PLUGIN(.name = "fund", .version = "1.4.0",
                .event_mask = EV_TYPE_BIT(EV_HOUSEHOLD_STATUS) |
                              EV_TYPE_BIT(EV_DONATION_PLEDGED) |
                              EV_TYPE_BIT(EV_DONATION_RECEIVED) |
                              EV_TYPE_BIT(EV_FUND_DISBURSED) |
                              EV_TYPE_BIT(EV_RECORD_VOIDED) |
                              EV_TYPE_BIT(EV_RECORD_CORRECTED),
                .init = fund_init, .apply = fund_apply, .query = fund_query,
                .tick = fund_tick, .fini = fund_fini, .state_layout = 3,
                .config_map = fund_config);
