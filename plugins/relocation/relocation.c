/*
 * relocation.c - the built-in "relocation" plugin: households moved out of
 * disaster areas (Decision 590/QĐ-TTg, domain-reference §5) and the
 * support each received at its destination: land, housing, water,
 * livelihood.
 *
 * Queries, each over the unit and its descendants:
 *   q {"unit"} -> {"unit", "relocated", "fully_supported",
 *     "share_fully_supported" (percent, nil when nothing was relocated),
 *     "missing": {item: relocated households still without it},
 *     "by_reason": {reason: n} (all five reasons)}.
 *   q {"unit", "year": 1970..9999} -> {"unit", "year", then the same keys
 *     as above}, counting only the households whose relocation's "at" falls
 *     in that calendar year, Vietnam time (UTC+7).
 *   q {"unit", "list": "missing", "year"?, "limit"?: 1..1000 (100)} ->
 *     {"households": [{"household", "unit", "relocated_at", "missing":
 *     [items]}], "more": bool}: relocated households still missing an item.
 *   q {"unit", "list": "households", "year"?, "limit"?} -> {"households":
 *     [{"household", "unit" (destination), "from", "reason",
 *     "relocated_at", "items": {"land", "housing", "water", "livelihood":
 *     {"at": first arrival, "amount": sum of the amounts given, nil when
 *     none had one} or nil when the item has not arrived}}], "more": bool}:
 *     every relocated household.
 *   Lists run by relocation time, then household; "year" keeps the
 *   households relocated in that local year; "more" tells that the limit
 *   cut the list.
 *   Every form takes "as_of" (unix seconds; with a year, not before its
 *   end): the figures and lists regrouped into the units in force then
 *   (below), "as_of" in the answer of the counts.
 *
 * Rules:
 *   - A household counts in the unit of its relocation.completed (the
 *     destination) and each ancestor.  A later relocation.completed for the
 *     same household replaces the earlier one (place, time, reason).
 *   - relocation.support records, per item, the earliest "at" and the sum
 *     of the amounts (saturating at INT64_MAX).  Support that arrives
 *     before the relocation is kept and counts as soon as the relocation
 *     arrives.
 *   - Alerts, from tick(now), once per household and code, when now >= at
 *     + follow_up_days (config, default 180): relocation.livelihood_missing
 *     (warning) when no livelihood support is dated at or before that
 *     deadline, relocation.incomplete (info) when land, housing or water is
 *     not.  Judging support by its date (not by whether it was applied
 *     before the tick) keeps the alerts a function of the log; a support
 *     event published after the tick that should have seen it cannot undo
 *     an alert already raised.
 *
 * Units change over time (events/ev_unit.h).  A relocated household is
 * rolled up on the hierarchy in force at its relocation.completed's "at"
 * (kept in 'H'), for every figure: 'U', 'Y', 'M' and 'R'.  A support item
 * that arrives later, even after a change of units, moves the household
 * within the same units; a replacing relocation.completed uncounts it at
 * the old place and time and counts it at the new.  A household relocated
 * to commune 22924 in 2024 thus stays in district 593 and province 60; one
 * relocated there in 2026 (after the 2025 merger) counts in province 68.
 * The same date is not enough: apply() reads the unit registry as the log
 * stood at the record being applied, so a change recorded after a
 * relocation was counted, effective before its date (a relocation to
 * 22921 on 2025-07-02, logged before the merger of 2025-07-01 was
 * recorded), would resolve that date differently for the records after
 * it.  So 'H' also keeps the registry version the household was counted
 * on (the chain's .version, host units_seq), and every recount (a support
 * item) and uncount (a replacing relocation) reads the chain with
 * pu_ancestors_cached_as_of(at, version): the household moves within, or
 * leaves, the very units it was counted in.  A relocation counted anew
 * uses the registry as it now stands and keeps that version.  "year"
 * selects households by the local year of that "at".
 *
 * A query's date is its as_of, else the end of its year, else now.  A
 * unit that had ended by then is refused in the ingest's words, with where
 * to ask instead (pu_check_query_unit).  as_of T regroups into the units
 * in force at T (pu_regroup): a household counts in the unit asked when
 * its destination's households are at T in that unit or below, so Lam
 * Dong (68) as of the end of 2025 has Binh Thuan's relocations.  The
 * destination's own counters ('o', 'y') serve the counts; the lists take,
 * under each such destination, the index entries of the households
 * relocated to it, merged in time order.  A destination defined only
 * after T counts nowhere.
 *
 * A state written by version 1.1 or earlier (96-byte 'H', no version) is
 * refused as corrupt rather than misread: rebuild it ('povtrack rebuild
 * relocation') after upgrading.  1.2 wrote layout 2, without the own
 * counters, 1.3 layout 3, without the count of supports per item: the
 * host rebuilds either at start (state_layout 4).
 *
 * Voids and corrections (record.voided, record.corrected): a relocation
 * voided no longer counts its household, when it is the relocation the
 * household is counted by (one replaced by a later relocation.completed
 * counts nowhere already; the one it replaced does not come back); a
 * support voided takes its amount back, and its item when no other
 * support of the item remains (the earliest arrival is otherwise kept).
 * A correction takes the record back so, then applies the corrected
 * record like any other.
 *
 * State (integers big-endian, times in keys sign-flipped, unit codes
 * NUL-padded to 5 bytes):
 *   'H' household -> u8 relocated, u8 reason, u8 items (bit item-1), u8
 *        alerted (1 livelihood_missing, 2 incomplete), 4 zero, i64 at,
 *        unit[5], from[5], u8 supports[4] (relocation.support records of
 *        each item, saturating at 255), 2 zero, i64 first at[4], i64
 *        amount[4], u64 version: the registry version it is counted on
 *        (104 bytes)
 *   'U' unit[5] -> i64 relocated, fully, missing[4], by_reason[5]
 *   'Y' unit[5] year[8] -> the same counters, for the households whose
 *        relocation "at" falls in that local year (the unit and each
 *        ancestor).  Kept by the same deltas as 'U': a repeated
 *        relocation.completed uncounts the household from its old year
 *        and counts it in the new one; a support item arriving moves it
 *        within its relocation's year.  The "year" query is one get.
 *   'o' unit[5], 'y' year[8] unit[5] -> as 'U' and 'Y', of the households
 *        relocated to the unit itself (not below it)
 *   'M' unit[5] at[8] household -> u8 missing items, unit[5] (destination):
 *        relocated households still missing something, for the unit and
 *        each ancestor: the "missing" list is one prefix scan (with a
 *        year, one range scan: at is in the key)
 *   'R' unit[5] at[8] household -> 1 byte: every relocated household, for
 *        the destination and each ancestor, written and deleted with the
 *        relocation (support does not touch it); the "households" list
 *        scans it and reads each household's 'H' record
 *   'Q' at[8] household -> 1 byte: relocated households not yet checked
 *        for the follow-up alerts, by relocation time.  tick() scans the
 *        head (at <= now - follow-up) and deletes what it checked, so each
 *        tick reads only the households whose deadline passed since the
 *        last tick, plus any relocation applied after its deadline had
 *        already passed (a cursor over a permanent index would miss
 *        those: log order is not time order).  The queue's head is thus
 *        the "checked up to" point, kept without a per-second write.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <povtrack/plugin_util.h>
#include <povtrack/plugin.h>

#define RL_DAY INT64_C(86400)
#define RL_DEFAULT_FOLLOW_UP 180
#define RL_FOLLOW_UP_MAX 36500 /* keeps day arithmetic far from overflow */
#define RL_H_LEN 104
#define RL_LIMIT_DEFAULT 100
#define RL_LIMIT_MAX 1000
#define RL_TICK_BATCH 1024 /* households checked per tick; the rest next */
#define RL_YEAR_MIN 1970
#define RL_YEAR_MAX 9999
#define NITEM 4
#define NREASON 5
#define ALL_ITEMS 0xfu

enum {
    V_RELOCATED,
    V_FULLY,
    V_MISSING,
    V_REASON = V_MISSING + NITEM,
    NV = V_REASON + NREASON
};

#define A_LIVELIHOOD 1u
#define A_INCOMPLETE 2u

struct relocation {
    const struct povtrack_host *host;
    int64_t follow_up;     /* seconds */
    struct pu_units units; /* unit chains met so far */
};

struct household {
    bool relocated;
    uint8_t reason, items, alerted;
    int64_t at;
    uint8_t unit[PU_UNIT_W], from[PU_UNIT_W];
    int64_t first_at[NITEM], amount[NITEM];
    uint8_t supports[NITEM]; /* records of each item, saturating */
    uint64_t version;        /* the registry version it is counted on */
};

static int del_key(struct relocation *r, povtrack_ctx *ctx, const uint8_t *k,
                   size_t kl)
{
    int rc = r->host->del(ctx, k, kl);
    if (rc == 0 || rc == POVTRACK_NOTFOUND)
        return 0;
    r->host->log(ctx, POVTRACK_LOG_ERROR, "relocation: del failed: %s",
                 pu_strerror(r->host, rc));
    return POVTRACK_EIO;
}

/* ---- households ---- */

static size_t hh_key(uint8_t *k, struct ev_str hh)
{
    k[0] = 'H';
    memcpy(k + 1, hh.ptr, hh.len);
    return 1 + hh.len;
}

static int hh_get(struct relocation *r, povtrack_ctx *ctx, const uint8_t *k,
                  size_t kl, struct household *h)
{
    const void *val;
    size_t vlen;
    memset(h, 0, sizeof *h);
    int rc = pu_get(r->host, ctx, k, kl, &val, &vlen);
    if (rc <= 0)
        return rc;
    if (vlen != RL_H_LEN) {
        r->host->log(ctx, POVTRACK_LOG_ERROR,
                     "relocation: corrupt record (a state of version 1.1 "
                     "must be rebuilt: povtrack rebuild relocation)");
        return POVTRACK_EIO;
    }
    const uint8_t *b = val;
    h->relocated = b[0] != 0;
    h->reason = b[1];
    h->items = b[2];
    h->alerted = b[3];
    h->at = pu_get_i64(b + 8);
    memcpy(h->unit, b + 16, PU_UNIT_W);
    memcpy(h->from, b + 21, PU_UNIT_W);
    memcpy(h->supports, b + 26, NITEM);
    for (int i = 0; i < NITEM; i++) {
        h->first_at[i] = pu_get_i64(b + 32 + 8 * i);
        h->amount[i] = pu_get_i64(b + 64 + 8 * i);
    }
    h->version = pu_get_u64(b + 96);
    return 1;
}

static int hh_put(struct relocation *r, povtrack_ctx *ctx, const uint8_t *k,
                  size_t kl, const struct household *h)
{
    uint8_t b[RL_H_LEN] = {0};
    b[0] = h->relocated;
    b[1] = h->reason;
    b[2] = h->items;
    b[3] = h->alerted;
    pu_put_i64(b + 8, h->at);
    memcpy(b + 16, h->unit, PU_UNIT_W);
    memcpy(b + 21, h->from, PU_UNIT_W);
    memcpy(b + 26, h->supports, NITEM);
    for (int i = 0; i < NITEM; i++) {
        pu_put_i64(b + 32 + 8 * i, h->first_at[i]);
        pu_put_i64(b + 64 + 8 * i, h->amount[i]);
    }
    pu_put_u64(b + 96, h->version);
    return pu_put(r->host, ctx, k, kl, b, sizeof b);
}

/* tag ('M' or 'R') unit[5] at[8] household, or 'Q' at[8] household (unit
 * NULL). */
static size_t idx_key(uint8_t *k, uint8_t tag, const uint8_t *unit, int64_t at,
                      struct ev_str hh)
{
    size_t n = 0;
    k[n++] = tag;
    if (unit != NULL) {
        memcpy(k + n, unit, PU_UNIT_W);
        n += PU_UNIT_W;
    }
    pu_put_key_i64(k + n, at);
    memcpy(k + n + 8, hh.ptr, hh.len);
    return n + 8 + hh.len;
}

/* Local year of a relocation; an "at" too near INT64_MAX for the UTC+7
 * shift (only in a damaged log) is clamped rather than overflowed. */
static int64_t rl_year(int64_t at)
{
    return pu_local_year(
        at > INT64_MAX - PU_TZ_OFFSET ? INT64_MAX - PU_TZ_OFFSET : at);
}

/* Add d to the NV counters at key k ('U' or 'Y'). */
static int add_counters(struct relocation *r, povtrack_ctx *ctx,
                        const uint8_t *k, size_t kl, const int64_t *d)
{
    uint8_t b[8 * NV];
    const void *val;
    size_t vlen;
    int rc = pu_get(r->host, ctx, k, kl, &val, &vlen);
    if (rc < 0)
        return rc;
    if (rc == 1 && vlen != sizeof b) {
        r->host->log(ctx, POVTRACK_LOG_ERROR, "relocation: corrupt counters");
        return POVTRACK_EIO;
    }
    for (int i = 0; i < NV; i++)
        pu_put_i64(b + 8 * i,
                   (rc == 1 ? pu_get_i64((const uint8_t *)val + 8 * i) : 0) +
                       d[i]);
    return pu_put(r->host, ctx, k, kl, b, sizeof b);
}

/*
 * Count (sign +1) or uncount (-1) a relocated household: its counters ('U'
 * and its year's 'Y') in the destination and each ancestor, and its 'M'
 * entries there (written when counting with something missing, deleted when
 * uncounting).  placed: the relocation itself comes or goes (not just a
 * support item), so its 'R' entries are written or deleted too.  The
 * ancestors are those of the relocation's "at" (h->at) on the registry
 * version it was counted on (h->version), whenever the count changes: a
 * support item recounts the household where it was counted.  A relocation
 * counted anew has version UINT64_MAX, set here to the version used.
 */
static int hh_count(struct relocation *r, povtrack_ctx *ctx, struct ev_str hh,
                    struct household *h, int64_t sign, bool placed)
{
    struct pu_chain ch;
    if (pu_ancestors_cached_as_of(r->host, ctx, &r->units, pu_get_unit(h->unit),
                                  h->at, h->version, &ch) != 0)
        return POVTRACK_EIO; /* the unit passed the reference checks */
    h->version = ch.version;
    uint8_t missing = (uint8_t)(~h->items & ALL_ITEMS), one = 1;
    int64_t d[NV] = {0}, year = rl_year(h->at);
    d[V_RELOCATED] = sign;
    d[V_FULLY] = missing == 0 ? sign : 0;
    for (int i = 0; i < NITEM; i++)
        d[V_MISSING + i] = missing & (1u << i) ? sign : 0;
    if (h->reason >= 1 && h->reason <= NREASON)
        d[V_REASON + h->reason - 1] = sign;
    for (int c = 0; c < ch.n; c++) {
        uint8_t k[1 + PU_UNIT_W + 8 + EV_HOUSEHOLD_MAX];
        k[0] = 'U';
        memcpy(k + 1, ch.code[c], PU_UNIT_W);
        int rc = add_counters(r, ctx, k, 1 + PU_UNIT_W, d);
        if (rc == 0 && c == 0) {
            k[0] = 'o'; /* the destination's own, for as_of */
            rc = add_counters(r, ctx, k, 1 + PU_UNIT_W, d);
        }
        if (rc == 0) {
            k[0] = 'Y';
            pu_put_key_i64(k + 1 + PU_UNIT_W, year);
            rc = add_counters(r, ctx, k, 1 + PU_UNIT_W + 8, d);
        }
        if (rc == 0 && c == 0) {
            uint8_t y[1 + 8 + PU_UNIT_W] = {'y'};
            pu_put_key_i64(y + 1, year);
            memcpy(y + 9, ch.code[c], PU_UNIT_W);
            rc = add_counters(r, ctx, y, sizeof y, d);
        }
        size_t kl = idx_key(k, 'M', ch.code[c], h->at, hh);
        if (rc == 0 && sign < 0)
            rc = del_key(r, ctx, k, kl);
        if (rc == 0 && sign > 0 && missing != 0) {
            uint8_t m[1 + PU_UNIT_W] = {missing};
            memcpy(m + 1, h->unit, PU_UNIT_W);
            rc = pu_put(r->host, ctx, k, kl, m, sizeof m);
        }
        if (rc == 0 && placed) {
            kl = idx_key(k, 'R', ch.code[c], h->at, hh);
            rc = sign < 0 ? del_key(r, ctx, k, kl)
                          : pu_put(r->host, ctx, k, kl, &one, 1);
        }
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* ---- apply ---- */

static int apply_completed(struct relocation *r, povtrack_ctx *ctx,
                           const struct ev_event *ev)
{
    uint8_t k[1 + EV_HOUSEHOLD_MAX], q[9 + EV_HOUSEHOLD_MAX], one = 1;
    size_t kl = hh_key(k, ev->household);
    struct household h;
    int rc = hh_get(r, ctx, k, kl, &h);
    if (rc < 0)
        return rc;
    if (h.relocated) { /* replaced: out of the old place and queue */
        rc = hh_count(r, ctx, ev->household, &h, -1, true);
        if (rc == 0)
            rc = del_key(r, ctx, q, idx_key(q, 'Q', NULL, h.at, ev->household));
        if (rc != 0)
            return rc;
    }
    h.relocated = true;
    h.reason = (uint8_t)ev->data.reason;
    h.at = ev->at;
    h.version = UINT64_MAX; /* counted anew: the registry as it now stands */
    if (pu_put_unit(h.unit, ev->unit) != 0 ||
        pu_put_unit(h.from, ev->data.from) != 0)
        return POVTRACK_EIO;
    rc = hh_count(r, ctx, ev->household, &h, 1, true);
    if (rc == 0)
        rc = pu_put(r->host, ctx, q, idx_key(q, 'Q', NULL, h.at, ev->household),
                    &one, 1);
    return rc != 0 ? rc : hh_put(r, ctx, k, kl, &h);
}

static int apply_support(struct relocation *r, povtrack_ctx *ctx,
                         const struct ev_event *ev)
{
    uint8_t k[1 + EV_HOUSEHOLD_MAX];
    size_t kl = hh_key(k, ev->household);
    struct household h;
    int rc = hh_get(r, ctx, k, kl, &h);
    if (rc < 0)
        return rc;
    int i = (int)ev->data.item - 1;
    if (i < 0 || i >= NITEM)
        return POVTRACK_EIO; /* validated at ingest: the log is damaged */
    uint8_t bit = (uint8_t)(1u << i);
    bool newly = !(h.items & bit);
    if (newly || ev->at < h.first_at[i])
        h.first_at[i] = ev->at;
    if (ev->data.has_amount) /* amounts are positive: saturate */
        h.amount[i] = ev->data.amount > INT64_MAX - h.amount[i]
                          ? INT64_MAX
                          : h.amount[i] + ev->data.amount;
    if (h.supports[i] < UINT8_MAX)
        h.supports[i]++;
    if (newly && h.relocated) {
        rc = hh_count(r, ctx, ev->household, &h, -1, false);
        h.items |= bit;
        if (rc == 0)
            rc = hh_count(r, ctx, ev->household, &h, 1, false);
        if (rc != 0)
            return rc;
    }
    h.items |= bit;
    return hh_put(r, ctx, k, kl, &h);
}

/* ---- voids and corrections ---- */

/* Take back the relocation was, when it is the one its household is
 * counted by (a later relocation.completed replaced it otherwise, and
 * nothing of it is counted): the household is no longer relocated; its
 * support stays, counted when a relocation comes again. */
static int uncount_completed(struct relocation *r, povtrack_ctx *ctx,
                             const struct ev_event *was)
{
    uint8_t k[1 + EV_HOUSEHOLD_MAX], q[9 + EV_HOUSEHOLD_MAX];
    uint8_t unit[PU_UNIT_W], from[PU_UNIT_W];
    size_t kl = hh_key(k, was->household);
    struct household h;
    int rc = hh_get(r, ctx, k, kl, &h);
    if (rc < 0)
        return rc;
    if (pu_put_unit(unit, was->unit) != 0 ||
        pu_put_unit(from, was->data.from) != 0)
        return POVTRACK_EIO;
    if (!h.relocated || h.at != was->at || h.reason != was->data.reason ||
        memcmp(h.unit, unit, PU_UNIT_W) != 0 ||
        memcmp(h.from, from, PU_UNIT_W) != 0)
        return 0;
    rc = hh_count(r, ctx, was->household, &h, -1, true);
    if (rc == 0)
        rc = del_key(r, ctx, q, idx_key(q, 'Q', NULL, h.at, was->household));
    h.relocated = false;
    return rc != 0 ? rc : hh_put(r, ctx, k, kl, &h);
}

/* Take back the support was: its amount, and the item itself when no
 * other support of it remains (the household then misses it again; an
 * earliest arrival is kept while another support of the item remains). */
static int uncount_support(struct relocation *r, povtrack_ctx *ctx,
                           const struct ev_event *was)
{
    uint8_t k[1 + EV_HOUSEHOLD_MAX];
    size_t kl = hh_key(k, was->household);
    struct household h;
    int rc = hh_get(r, ctx, k, kl, &h);
    if (rc < 0)
        return rc;
    int i = (int)was->data.item - 1;
    if (i < 0 || i >= NITEM || !(h.items & (1u << i)))
        return POVTRACK_EIO; /* it was applied: the state is damaged */
    if (was->data.has_amount && h.amount[i] != INT64_MAX)
        h.amount[i] -= was->data.amount;
    if (h.supports[i] < UINT8_MAX)
        h.supports[i]--;
    if (h.supports[i] == 0) {
        if (h.relocated)
            rc = hh_count(r, ctx, was->household, &h, -1, false);
        h.items &= (uint8_t) ~(1u << i);
        h.first_at[i] = 0;
        h.amount[i] = 0;
        if (rc == 0 && h.relocated)
            rc = hh_count(r, ctx, was->household, &h, 1, false);
        if (rc != 0)
            return rc;
    }
    return hh_put(r, ctx, k, kl, &h);
}

/* A void takes the record back from every figure; a correction takes it
 * back and applies the corrected record in its place. */
static int apply_amend(struct relocation *r, povtrack_ctx *ctx,
                       const struct povtrack_record *rec)
{
    const struct ev_event *was;
    struct ev_event now;
    bool corrected;
    int rc = pu_amendment(rec, &was, &now, &corrected);
    if (rc == 0)
        rc = was->type == EV_RELOCATION_COMPLETED
                 ? uncount_completed(r, ctx, was)
             : was->type == EV_RELOCATION_SUPPORT ? uncount_support(r, ctx, was)
                                                  : 0;
    if (rc != 0 || !corrected)
        return rc;
    return now.type == EV_RELOCATION_COMPLETED ? apply_completed(r, ctx, &now)
           : now.type == EV_RELOCATION_SUPPORT ? apply_support(r, ctx, &now)
                                               : 0;
}

static int relocation_apply(void *state, povtrack_ctx *ctx,
                            const struct povtrack_record *rec)
{
    struct relocation *r = state;
    switch (rec->event->type) {
    case EV_RELOCATION_COMPLETED:
        return apply_completed(r, ctx, rec->event);
    case EV_RELOCATION_SUPPORT:
        return apply_support(r, ctx, rec->event);
    case EV_RECORD_VOIDED:
    case EV_RECORD_CORRECTED:
        return apply_amend(r, ctx, rec);
    default:
        return 0; /* not in the mask */
    }
}

/* ---- tick ---- */

struct due {
    uint8_t (*keys)[9 + EV_HOUSEHOLD_MAX];
    size_t *lens;
    size_t n;
};

static int due_cb(void *arg, const void *key, size_t klen, const void *val,
                  size_t vlen)
{
    struct due *l = arg;
    (void)val;
    (void)vlen;
    if (l->n == RL_TICK_BATCH || klen > sizeof l->keys[0] || klen < 10)
        return 1;
    memcpy(l->keys[l->n], key, klen);
    l->lens[l->n++] = klen;
    return 0;
}

static int rl_alert(struct relocation *r, povtrack_ctx *ctx, const char *code,
                    enum povtrack_severity sev, struct ev_str hh,
                    const struct household *h, const char *what)
{
    char unit[PU_UNIT_W + 1], hs[EV_HOUSEHOLD_MAX + 1], date[PU_DATE_LEN],
        msg[512];
    pu_cstr(pu_get_unit(h->unit), unit, sizeof unit);
    pu_cstr(hh, hs, sizeof hs);
    snprintf(msg, sizeof msg,
             "household %s, relocated to %s on %s, %s after %lld days", hs,
             unit, pu_fmt_date(h->at, date, sizeof date), what,
             (long long)(r->follow_up / RL_DAY));
    struct povtrack_alert a = {.size = sizeof a,
                               .code = code,
                               .severity = sev,
                               .unit = unit,
                               .household = hs,
                               .message = msg,
                               .at = h->at + r->follow_up};
    int rc = r->host->alert(ctx, &a);
    if (rc != 0) {
        r->host->log(ctx, POVTRACK_LOG_ERROR, "relocation: alert failed: %s",
                     pu_strerror(r->host, rc));
        return POVTRACK_EIO;
    }
    return 0;
}

/* Check one household at its deadline: support counts when dated at or
 * before it. */
static int check(struct relocation *r, povtrack_ctx *ctx, struct ev_str hh,
                 struct household *h)
{
    int64_t deadline = h->at + r->follow_up;
    uint8_t missing = 0;
    for (int i = 0; i < NITEM; i++)
        if (!(h->items & (1u << i)) || h->first_at[i] > deadline)
            missing |= (uint8_t)(1u << i);
    int rc = 0;
    uint8_t liv = 1u << (EV_ITEM_LIVELIHOOD - 1);
    if ((missing & liv) && !(h->alerted & A_LIVELIHOOD)) {
        h->alerted |= A_LIVELIHOOD;
        rc = rl_alert(r, ctx, "relocation.livelihood_missing", POVTRACK_WARNING,
                      hh, h, "has no livelihood support");
    }
    if (rc == 0 && (missing & ~liv) && !(h->alerted & A_INCOMPLETE)) {
        char what[64] = "still lacks";
        const char *sep = " ";
        for (int i = 0; i < NITEM; i++) {
            if (!(missing & ~liv & (1u << i)))
                continue;
            strcat(what, sep);
            strcat(what, ev_item_name((enum ev_item)(i + 1)));
            sep = ", ";
        }
        h->alerted |= A_INCOMPLETE;
        rc = rl_alert(r, ctx, "relocation.incomplete", POVTRACK_INFO, hh, h,
                      what);
    }
    return rc;
}

/* The wall clock is accepted here, and only here: whether a follow-up
 * period has run out depends on it.  The alert's "at" is the deadline. */
static int relocation_tick(void *state, povtrack_ctx *ctx, int64_t now)
{
    struct relocation *r = state;
    struct due l = {malloc(RL_TICK_BATCH * sizeof *l.keys),
                    malloc(RL_TICK_BATCH * sizeof *l.lens), 0};
    int rc = 0;
    if (l.keys == NULL || l.lens == NULL) {
        r->host->log(ctx, POVTRACK_LOG_ERROR, "relocation: out of memory");
        rc = -1;
        goto out;
    }
    /* Due: at + follow_up <= now, i.e. at < now - follow_up + 1. */
    uint8_t from[1] = {'Q'}, to[9] = {'Q'};
    pu_put_key_i64(to + 1, now - r->follow_up + 1);
    rc = r->host->scan(ctx, from, 1, to, sizeof to, due_cb, &l);
    if (rc < 0) {
        r->host->log(ctx, POVTRACK_LOG_ERROR, "relocation: scan failed: %s",
                     pu_strerror(r->host, rc));
        rc = POVTRACK_EIO;
        goto out;
    }
    rc = 0;
    for (size_t i = 0; i < l.n && rc == 0; i++) {
        struct ev_str hh = {(const char *)l.keys[i] + 9,
                            (uint32_t)(l.lens[i] - 9)};
        uint8_t k[1 + EV_HOUSEHOLD_MAX];
        size_t kl = hh_key(k, hh);
        struct household h;
        rc = del_key(r, ctx, l.keys[i], l.lens[i]);
        int g = rc == 0 ? hh_get(r, ctx, k, kl, &h) : rc;
        if (g < 0)
            rc = g;
        else if (g == 1 && h.relocated && h.at == pu_get_key_i64(l.keys[i] + 1))
            if ((rc = check(r, ctx, hh, &h)) == 0)
                rc = hh_put(r, ctx, k, kl, &h);
    }
out:
    free(l.keys);
    free(l.lens);
    return rc;
}

/* ---- query ---- */

struct list {
    struct relocation *r;
    povtrack_ctx *ctx;
    msgpack_packer *pk;
    int64_t limit, n;
    bool more, bad;
};

/* One 'M' entry: {"household", "unit", "relocated_at", "missing"}. */
static int missing_cb(void *arg, const void *key, size_t klen, const void *val,
                      size_t vlen)
{
    struct list *l = arg;
    const uint8_t *k = key, *v = val;
    size_t off = 1 + PU_UNIT_W + 8;
    if (l->n == l->limit) {
        l->more = true;
        return 1;
    }
    if (klen <= off || vlen != 1 + PU_UNIT_W) {
        l->bad = true;
        return 1;
    }
    struct ev_str unit = pu_get_unit(v + 1);
    msgpack_packer *pk = l->pk;
    int nm = 0;
    for (int i = 0; i < NITEM; i++)
        nm += (v[0] >> i) & 1;
    int e = msgpack_pack_map(pk, 4);
    e |= pu_pack_key(pk, "household") |
         pu_pack_str(pk, (const char *)k + off, klen - off);
    e |= pu_pack_key(pk, "unit") | pu_pack_str(pk, unit.ptr, unit.len);
    e |= pu_pack_key(pk, "relocated_at") |
         msgpack_pack_int64(pk, pu_get_key_i64(k + 1 + PU_UNIT_W));
    e |= pu_pack_key(pk, "missing") | msgpack_pack_array(pk, (size_t)nm);
    for (int i = 0; i < NITEM; i++)
        if (v[0] & (1u << i))
            e |= pu_pack_key(pk, ev_item_name((enum ev_item)(i + 1)));
    l->n++;
    return e != 0 ? (l->bad = true, 1) : 0;
}

/* One 'R' entry, with the household's 'H' record: {"household", "unit",
 * "from", "reason", "relocated_at", "items"}. */
static int households_cb(void *arg, const void *key, size_t klen,
                         const void *val, size_t vlen)
{
    struct list *l = arg;
    const uint8_t *k = key;
    size_t off = 1 + PU_UNIT_W + 8;
    (void)val;
    (void)vlen;
    if (l->n == l->limit) {
        l->more = true;
        return 1;
    }
    if (klen <= off || klen - off > EV_HOUSEHOLD_MAX) {
        l->bad = true;
        return 1;
    }
    /* The household is copied into hk before the get. */
    uint8_t hk[1 + EV_HOUSEHOLD_MAX];
    struct ev_str hh = {(const char *)k + off, (uint32_t)(klen - off)};
    size_t hkl = hh_key(hk, hh);
    int64_t at = pu_get_key_i64(k + 1 + PU_UNIT_W);
    struct household h;
    int rc = hh_get(l->r, l->ctx, hk, hkl, &h);
    if (rc != 1 || !h.relocated || h.at != at || h.reason < 1 ||
        h.reason > NREASON) {
        if (rc >= 0)
            l->r->host->log(l->ctx, POVTRACK_LOG_ERROR,
                            "relocation: index entry without its household");
        l->bad = true;
        return 1;
    }
    struct ev_str unit = pu_get_unit(h.unit), from = pu_get_unit(h.from);
    msgpack_packer *pk = l->pk;
    int e = msgpack_pack_map(pk, 6);
    e |= pu_pack_key(pk, "household") |
         pu_pack_str(pk, (const char *)hk + 1, hkl - 1);
    e |= pu_pack_key(pk, "unit") | pu_pack_str(pk, unit.ptr, unit.len);
    e |= pu_pack_key(pk, "from") | pu_pack_str(pk, from.ptr, from.len);
    e |= pu_pack_key(pk, "reason") |
         pu_pack_key(pk, ev_reason_name((enum ev_reason)h.reason));
    e |= pu_pack_key(pk, "relocated_at") | msgpack_pack_int64(pk, h.at);
    e |= pu_pack_key(pk, "items") | msgpack_pack_map(pk, NITEM);
    for (int i = 0; i < NITEM; i++) {
        e |= pu_pack_key(pk, ev_item_name((enum ev_item)(i + 1)));
        if (!(h.items & (1u << i))) {
            e |= msgpack_pack_nil(pk);
            continue;
        }
        e |= msgpack_pack_map(pk, 2) | pu_pack_key(pk, "at") |
             msgpack_pack_int64(pk, h.first_at[i]) | pu_pack_key(pk, "amount") |
             pu_pack_opt_i64(pk, h.amount[i] != 0, h.amount[i]);
    }
    l->n++;
    return e != 0 ? (l->bad = true, 1) : 0;
}

/* "year": absent, or 1970..9999.  Returns 0 or -1 with err set. */
static int arg_year(const msgpack_object *q, int64_t *year, bool *has_year,
                    char *err, size_t errlen)
{
    if (pu_arg_i64(q, "year", false, year, has_year, err, errlen) != 0)
        return POVTRACK_EINVALID;
    if (*has_year && (*year < RL_YEAR_MIN || *year > RL_YEAR_MAX)) {
        snprintf(err, errlen, "year: must be %d-%d", RL_YEAR_MIN, RL_YEAR_MAX);
        return POVTRACK_EINVALID;
    }
    return 0;
}

static bool str_is(const msgpack_object *o, const char *s)
{
    size_t n = strlen(s);
    return o->type == MSGPACK_OBJECT_STR && o->via.str.size == n &&
           memcmp(o->via.str.ptr, s, n) == 0;
}

/* One index entry ('M' or 'R') kept for a regrouped list. */
struct entry {
    uint8_t key[1 + PU_UNIT_W + 8 + EV_HOUSEHOLD_MAX];
    size_t klen;
    uint8_t val[1 + PU_UNIT_W];
    size_t vlen;
};

struct entries {
    struct entry *e;
    size_t n, cap;
};

/* By time, then household: the order of one unit's index. */
static int entry_cmp(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;
    size_t off = 1 + PU_UNIT_W;
    return pu_cmp_bytes(x->key + off, x->klen - off, y->key + off,
                        y->klen - off);
}

/* A regrouped list in the making (pu_regroup_scan over 'o'). */
struct regrouped_list {
    struct relocation *r;
    povtrack_ctx *ctx;
    uint8_t tag;
    int64_t lo, hi;
    struct entries *out;
};

/* Keep an index entry of a household relocated to the very unit it is
 * under, not below it. */
static int keep_own(struct regrouped_list *l, const uint8_t *unit,
                    const uint8_t *key, size_t klen, const uint8_t *val,
                    size_t vlen)
{
    size_t hoff = 1 + PU_UNIT_W + 8;
    struct entries *out = l->out;
    if (klen <= hoff || klen > sizeof out->e->key || vlen > sizeof out->e->val)
        return POVTRACK_EIO;
    const uint8_t *dest = val + 1;
    struct household h;
    if (l->tag == 'R') {
        uint8_t hk[1 + EV_HOUSEHOLD_MAX];
        struct ev_str hh = {(const char *)key + hoff, (uint32_t)(klen - hoff)};
        int rc = hh_get(l->r, l->ctx, hk, hh_key(hk, hh), &h);
        if (rc < 0)
            return rc;
        dest = h.unit;
    } else if (vlen != 1 + PU_UNIT_W) {
        return POVTRACK_EIO;
    }
    if (memcmp(dest, unit, PU_UNIT_W) != 0)
        return 0;
    if (out->n == out->cap) {
        size_t cap = out->cap ? out->cap * 2 : 64;
        struct entry *ne = realloc(out->e, cap * sizeof *ne);
        if (ne == NULL)
            return POVTRACK_EIO;
        out->e = ne;
        out->cap = cap;
    }
    struct entry *e = &out->e[out->n++];
    memcpy(e->key, key, klen);
    e->klen = klen;
    memcpy(e->val, val, vlen);
    e->vlen = vlen;
    return 0;
}

/* 'o' unit: a destination that counts; its entries of [lo, hi). */
static int own_list_cb(void *arg, const uint8_t *key, size_t klen,
                       const uint8_t *val, size_t vlen)
{
    struct regrouped_list *l = arg;
    uint8_t from[1 + PU_UNIT_W + 8], to[1 + PU_UNIT_W + 8];
    struct pu_copied ix = {0};
    size_t off = 0, kl, vl;
    const uint8_t *k, *v;
    (void)klen;
    (void)val;
    (void)vlen;
    from[0] = to[0] = l->tag;
    memcpy(from + 1, key + 1, PU_UNIT_W);
    memcpy(to + 1, key + 1, PU_UNIT_W);
    pu_put_key_i64(from + 1 + PU_UNIT_W, l->lo);
    pu_put_key_i64(to + 1 + PU_UNIT_W, l->hi);
    int rc = pu_scan_copied(l->r->host, l->ctx, from, sizeof from, to,
                            sizeof to, &ix);
    while (rc == 0 && pu_copied_next(&ix, &off, &k, &kl, &v, &vl))
        rc = keep_own(l, key + 1, k, kl, v, vl);
    pu_copied_free(&ix);
    return rc;
}

/*
 * The list's index entries regrouped into unit as the units stand at
 * as_of: under each unit with own relocations ('o') whose households are
 * then in unit or below, the entries of the households relocated to that
 * very unit, merged in time order.  [lo, hi) bounds their time.
 */
static int list_regrouped(struct relocation *r, povtrack_ctx *ctx, uint8_t tag,
                          const uint8_t *unit, int64_t as_of, int64_t lo,
                          int64_t hi, struct entries *out)
{
    struct pu_regroup g;
    struct regrouped_list l = {r, ctx, tag, lo, hi, out};
    pu_regroup_init(&g, r->host, ctx, unit, as_of, as_of);
    int rc = pu_regroup_keys(&g, 'o', false, 0, 1 + PU_UNIT_W, own_list_cb, &l);
    pu_regroup_free(&g);
    if (rc == 0 && out->n > 1)
        qsort(out->e, out->n, sizeof *out->e, entry_cmp);
    return rc == 0 ? 0 : POVTRACK_EIO;
}

static int query_list(struct relocation *r, povtrack_ctx *ctx,
                      const msgpack_object *q, const uint8_t *unit,
                      bool has_year, int64_t year, bool has_as_of,
                      int64_t as_of, msgpack_packer *pk, char *err,
                      size_t errlen)
{
    const msgpack_object *o = pu_map_get(q, "list");
    bool has_limit;
    int64_t limit = RL_LIMIT_DEFAULT;
    bool households = str_is(o, "households");
    if (!households && !str_is(o, "missing")) {
        snprintf(err, errlen, "list: must be \"missing\" or \"households\"");
        return POVTRACK_EINVALID;
    }
    if (pu_arg_i64(q, "limit", false, &limit, &has_limit, err, errlen) != 0)
        return POVTRACK_EINVALID;
    if (limit < 1 || limit > RL_LIMIT_MAX) {
        snprintf(err, errlen, "limit: must be between 1 and %d", RL_LIMIT_MAX);
        return POVTRACK_EINVALID;
    }
    /* The array length is known only after the scan: pack the entries into
     * a side buffer, then the header and the bytes. */
    msgpack_sbuffer sb;
    msgpack_packer side;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&side, &sb, msgpack_sbuffer_write);
    struct list l = {.r = r, .ctx = ctx, .pk = &side, .limit = limit};
    uint8_t tag = households ? 'R' : 'M';
    povtrack_scan_fn fn = households ? households_cb : missing_cb;
    int rc = 0;
    if (has_as_of) {
        struct entries es = {0};
        rc =
            list_regrouped(r, ctx, tag, unit, as_of,
                           has_year ? pu_year_start(year) : INT64_MIN,
                           has_year ? pu_year_start(year + 1) : INT64_MAX, &es);
        for (size_t i = 0; rc == 0 && i < es.n; i++)
            if (fn(&l, es.e[i].key, es.e[i].klen, es.e[i].val, es.e[i].vlen) !=
                0)
                break;
        free(es.e);
    } else {
        /* [tag unit, tag unit+1), or with a year [tag unit start(year),
         * tag unit start(year + 1)): at follows the unit in the key. */
        uint8_t from[1 + PU_UNIT_W + 8], to[1 + PU_UNIT_W + 8];
        size_t len = 1 + PU_UNIT_W;
        from[0] = tag;
        memcpy(from + 1, unit, PU_UNIT_W);
        memcpy(to, from, len);
        if (has_year) {
            pu_put_key_i64(from + len, pu_year_start(year));
            pu_put_key_i64(to + len, pu_year_start(year + 1));
            len += 8;
        } else {
            to[PU_UNIT_W]++; /* past unit[5]: its last byte is a digit or 0 */
        }
        rc = r->host->scan(ctx, from, len, to, len, fn, &l);
    }
    int e = l.bad || rc < 0;
    if (!e) {
        e = msgpack_pack_map(pk, 2) | pu_pack_key(pk, "households") |
            msgpack_pack_array(pk, (size_t)l.n);
        if (e == 0 && sb.size > 0)
            e = pk->callback(pk->data, sb.data, sb.size);
        e |= pu_pack_key(pk, "more") |
             (l.more ? msgpack_pack_true(pk) : msgpack_pack_false(pk));
    }
    msgpack_sbuffer_destroy(&sb);
    if (e != 0) {
        snprintf(err, errlen, "internal error: state read failed");
        return POVTRACK_EIO;
    }
    return 0;
}

/* The counters of unit, all time or of a year ('U', 'Y'). */
static int counts_plain(struct relocation *r, povtrack_ctx *ctx,
                        const uint8_t *unit, bool has_year, int64_t year,
                        int64_t v[NV])
{
    uint8_t k[1 + PU_UNIT_W + 8];
    size_t kl = 1 + PU_UNIT_W;
    const void *val;
    size_t vlen;
    memset(v, 0, sizeof(int64_t) * NV);
    k[0] = has_year ? 'Y' : 'U';
    memcpy(k + 1, unit, PU_UNIT_W);
    if (has_year) {
        pu_put_key_i64(k + kl, year);
        kl += 8;
    }
    int rc = pu_get(r->host, ctx, k, kl, &val, &vlen);
    if (rc < 0 || (rc == 1 && vlen != 8 * NV))
        return POVTRACK_EIO;
    for (int i = 0; rc == 1 && i < NV; i++)
        v[i] = pu_get_i64((const uint8_t *)val + 8 * i);
    return 0;
}

/* The counters regrouped into unit as the units stand at as_of: the own
 * counters ('o', or 'y' of the year) of every destination whose households
 * are then in unit or below. */
static int counts_regrouped(struct relocation *r, povtrack_ctx *ctx,
                            const uint8_t *unit, bool has_year, int64_t year,
                            int64_t as_of, int64_t v[NV])
{
    struct pu_regroup g;
    struct pu_sums sums = {v, NV};
    memset(v, 0, sizeof(int64_t) * NV);
    pu_regroup_init(&g, r->host, ctx, unit, as_of, as_of);
    int rc =
        pu_regroup_keys(&g, has_year ? 'y' : 'o', has_year, year,
                        (has_year ? 9 : 1) + PU_UNIT_W, pu_sums_add, &sums);
    pu_regroup_free(&g);
    return rc == 0 ? 0 : POVTRACK_EIO;
}

static int relocation_query(void *state, povtrack_ctx *ctx,
                            const msgpack_object *q, msgpack_packer *pk,
                            char *err, size_t errlen)
{
    struct relocation *r = state;
    struct pu_chain ch;
    static const char *const arg_names[] = {"unit", "year",  "as_of",
                                            "list", "limit", NULL};
    int rc = pu_check_arg_names(q, arg_names, err, errlen);
    if (rc == 0)
        rc = pu_arg_unit(r->host, ctx, q, &ch, err, errlen);
    if (rc != 0)
        return rc;
    int64_t year = 0, as_of = 0;
    bool has_year, has_as_of;
    if (arg_year(q, &year, &has_year, err, errlen) != 0 ||
        pu_arg_i64(q, "as_of", false, &as_of, &has_as_of, err, errlen) != 0)
        return POVTRACK_EINVALID;
    /* The query's date: as_of, else the end of its year, else now. */
    if ((rc = pu_check_query_year(r->host, ctx, pu_get_unit(ch.code[0]),
                                  has_as_of, as_of, has_year, year, err,
                                  errlen)) != 0)
        return rc;
    const msgpack_object *lo = pu_map_get(q, "list");
    if (lo != NULL && lo->type != MSGPACK_OBJECT_NIL)
        return query_list(r, ctx, q, ch.code[0], has_year, year, has_as_of,
                          as_of, pk, err, errlen);

    int64_t v[NV];
    rc = has_as_of
             ? counts_regrouped(r, ctx, ch.code[0], has_year, year, as_of, v)
             : counts_plain(r, ctx, ch.code[0], has_year, year, v);
    if (rc != 0) {
        snprintf(err, errlen, "internal error: state read failed");
        return POVTRACK_EIO;
    }
    struct ev_str unit = pu_get_unit(ch.code[0]);
    int e = msgpack_pack_map(pk, (has_year ? 7 : 6) + (has_as_of ? 1 : 0));
    e |= pu_pack_key(pk, "unit") | pu_pack_str(pk, unit.ptr, unit.len);
    if (has_as_of)
        e |= pu_pack_key(pk, "as_of") | msgpack_pack_int64(pk, as_of);
    if (has_year)
        e |= pu_pack_key(pk, "year") | msgpack_pack_int64(pk, year);
    e |= pu_pack_key(pk, "relocated") | msgpack_pack_int64(pk, v[V_RELOCATED]);
    e |=
        pu_pack_key(pk, "fully_supported") | msgpack_pack_int64(pk, v[V_FULLY]);
    e |= pu_pack_key(pk, "share_fully_supported") |
         (v[V_RELOCATED] > 0
              ? msgpack_pack_double(pk, 100.0 * (double)v[V_FULLY] /
                                            (double)v[V_RELOCATED])
              : msgpack_pack_nil(pk));
    e |= pu_pack_key(pk, "missing") | msgpack_pack_map(pk, NITEM);
    for (int i = 0; i < NITEM; i++)
        e |= pu_pack_key(pk, ev_item_name((enum ev_item)(i + 1))) |
             msgpack_pack_int64(pk, v[V_MISSING + i]);
    e |= pu_pack_key(pk, "by_reason") | msgpack_pack_map(pk, NREASON);
    for (int i = 0; i < NREASON; i++)
        e |= pu_pack_key(pk, ev_reason_name((enum ev_reason)(i + 1))) |
             msgpack_pack_int64(pk, v[V_REASON + i]);
    if (e != 0) {
        snprintf(err, errlen, "internal error: packing failed");
        return POVTRACK_EIO;
    }
    return 0;
}

/* ---- plugin callbacks ---- */

static int relocation_init(povtrack_ctx *ctx, const struct povtrack_host *host,
                           void **state)
{
    int64_t days = RL_DEFAULT_FOLLOW_UP;
    if (pu_config_pos_i64(host, ctx, "follow_up_days", &days) != 0)
        return POVTRACK_ECONFIG;
    if (days > RL_FOLLOW_UP_MAX) {
        host->log(ctx, POVTRACK_LOG_ERROR,
                  "follow_up_days: must be at most %d, got %lld",
                  RL_FOLLOW_UP_MAX, (long long)days);
        return POVTRACK_ECONFIG;
    }
    struct relocation *r = calloc(1, sizeof *r);
    if (r == NULL) {
        host->log(ctx, POVTRACK_LOG_ERROR, "relocation: out of memory");
        return POVTRACK_ENOMEM;
    }
    r->host = host;
    r->follow_up = days * RL_DAY;
    *state = r;
    return 0;
}

static void relocation_fini(void *state)
{
    struct relocation *r = state;
    pu_units_free(&r->units);
    free(r);
}

/* The keys of [plugin.relocation]. */
static const struct povtrack_config_key relocation_config[] = {
    {.name = "follow_up_days",
     .type = POVTRACK_CONFIG_INT,
     .default_value = PU_STR(RL_DEFAULT_FOLLOW_UP),
     .description = "days after a relocation by which support is expected"},
    {.name = NULL},
};

/* state_layout: bump it when the stored values change. */
POVTRACK_PLUGIN(.name = "relocation", .version = "1.4.0",
                .event_mask = EV_TYPE_BIT(EV_RELOCATION_COMPLETED) |
                              EV_TYPE_BIT(EV_RELOCATION_SUPPORT) |
                              EV_TYPE_BIT(EV_RECORD_VOIDED) |
                              EV_TYPE_BIT(EV_RECORD_CORRECTED),
                .init = relocation_init, .apply = relocation_apply,
                .query = relocation_query, .tick = relocation_tick,
                .fini = relocation_fini, .state_layout = 4,
                .config_map = relocation_config);
