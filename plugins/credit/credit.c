/*
 * credit.c - the built-in "credit" plugin: social policy credit (Vietnam
 * Bank for Social Policies) per administrative unit and programme: loans,
 * amounts disbursed and repaid, outstanding balance, and the share of poor
 * and near-poor households that have a policy loan (domain-reference §6).
 *
 * Query q {"unit"} -> {"unit", "loans", "disbursed", "repaid",
 * "outstanding", "by_program": {program: {"loans", "disbursed", "repaid",
 * "outstanding"}}} over the unit and its descendants; q {"unit", "year"}
 * adds "coverage": {"poor_near_poor", "with_loan", "rate"}.  "as_of"
 * (unix seconds) regroups both into the units in force then (below) and
 * is in the answer; with a year it must not be before the year's end.
 *
 * Rules:
 *   - A loan lies where its credit.disbursed says: unit, programme,
 *     household of the FIRST credit.disbursed naming it (log order).  A
 *     later credit.disbursed for the same loan is a further tranche: its
 *     amount adds to the loan's disbursed amount at the loan's place.
 *   - A credit.repaid applies to the loan it names; its own unit and
 *     household are not used.  Before the loan exists the repayment is
 *     kept in the loan's record and counted when the loan arrives.
 *   - "repaid" counts every repayment in full, over-payments included;
 *     a loan's outstanding balance is max(0, disbursed - repaid), so
 *     summed "outstanding" can exceed "disbursed" - "repaid" (over-payment
 *     of one loan never offsets another's debt).
 *   - Coverage of (unit, year): households whose status for that year (last
 *     household.status for (h, y) in log order, counted in that event's
 *     unit and its ancestors) is poor or near_poor, and of those the ones
 *     whose earliest loan disbursement falls in that year or before (UTC+7
 *     calendar year), repaid or not.  rate = 100 * with_loan /
 *     poor_near_poor, nil when there are none.
 *
 * Units change over time (events/ev_unit.h); each roll-up uses the
 * hierarchy in force on one date:
 *   - a loan's figures (loans, disbursed, repaid, outstanding, overall and
 *     by programme): the "at" of the credit.disbursed that created the
 *     loan, kept in 'L' as "placed".  Later tranches and repayments, even
 *     dated after a change of units, land where the loan was counted, so a
 *     change of the loan is never split across two hierarchies;
 *   - coverage of (unit, year): the end of that year (pu_year_end), for
 *     both poor_near_poor and with_loan: a status whose unit was merged or
 *     abolished during the year counts where its households went (a 2025
 *     status in commune 22921, merged into 22924 under province 68 on
 *     2025-07-01, counts in 22924 and 68, not in 22921, 593 or 60).
 * The same date each time, and the same registry: apply() reads the unit
 * registry as the log stood at the record being applied, so a change of
 * units recorded after a loan was placed (or a status counted), effective
 * before its date, would resolve that date differently for the records
 * after it.  So each entry that is counted and may later be changed or
 * taken back keeps the registry version it was counted under (the chain's
 * .version, host units_seq): a loan in 'L', a household-year status in
 * 'S'.  Every later change of it (a tranche, a repayment, a corrected
 * status, a with_loan added by an earlier loan) reads the chain again with
 * pu_ancestors_cached_as_of(its date, its version), so counting and
 * uncounting hit the same units whatever was recorded in between.  A new
 * entry (a loan's first disbursement, a replacing status, even the same
 * status from the same unit when it was counted on an older registry) is
 * counted on the registry as it now stands and keeps that version.  A loan in
 * 22921 dated 2025-07-02, logged before the merger was recorded, thus stays in
 * 22921, 593 and 60 when repaid after it; a 2025 status in 22921 logged in
 * March and corrected after the merger was recorded is uncounted there,
 * and the correction counted where the registry now puts it.
 *
 * A query's date is its as_of, else the end of its year, else now (the
 * loans are all-time).  A unit that had ended by then is refused in the
 * ingest's words, with where to ask instead (pu_check_query_unit).  as_of
 * T regroups into the units in force at T (pu_regroup): every loan counts
 * in the unit asked when the households of its own unit (where it was
 * placed) are at T in that unit or below, and a year's coverage likewise
 * from the unit each status counted in: Lam Dong (68) as of the end of
 * 2025 has Binh Thuan's loans.  A loan of a unit defined only after T
 * counts nowhere; one placed after T in a code in force at T counts there
 * (a loan's amounts are not split by date).  The own figures are kept per
 * unit for it: 'u', 'p' and 'c' below.
 *
 * A state written by version 1.0 (48-byte loan header, no "placed") or 1.1
 * (56-byte loan header and 6-byte status, no version) is refused as
 * corrupt rather than misread: rebuild it ('povtrack rebuild credit') after
 * upgrading.  1.2 wrote layout 2, without the own figures, 1.3 layout 3,
 * without the count of tranches: the host rebuilds either at start
 * (state_layout 4).
 *
 * Voids and corrections (record.voided, record.corrected): a repayment
 * voided is taken back from its loan; a tranche voided from the loan's
 * disbursed amount where the loan lies, and with its last tranche the
 * loan itself (its repayments then wait, as those that come before a
 * loan).  A correction takes the record back so, then applies the
 * corrected record like any other (a loan's only tranche corrected into
 * another unit places the loan there).  Coverage follows: every tranche is
 * kept under its household ('T'), so the household's first loan ('F') is
 * the first tranche left, and the years it no longer covers lose the
 * household with a loan.
 *
 * State (integers big-endian, years in keys sign-flipped, unit codes
 * NUL-padded to 5 bytes).  Every counter is kept for the unit of the event
 * and each ancestor, so a query reads two keys and scans one unit's
 * programmes.  A vector is 4 i64: loans, disbursed, repaid, outstanding.
 *   'U' unit[5]              -> vector, all programmes
 *   'P' unit[5] program      -> vector of one programme
 *   'L' loan                 -> u8 has_loan, 7 zero, i64 disbursed,
 *                               i64 repaid, i64 first at, unit[5], 3 zero,
 *                               u16 program len, u16 household len,
 *                               u32 tranches, i64 placed, u64 version,
 *                               program, household (64 + n bytes);
 *                               has_loan 0: only repayments seen so far.
 *                               first at: the earliest disbursement
 *                               (coverage); placed: the "at" of the
 *                               first credit.disbursed in log order, the
 *                               date of its roll-ups; version: the
 *                               registry version they were read on
 *   'F' household            -> i64 earliest disbursement of its loans
 *   'T' u8 len household at[8] seq[8] -> empty: each tranche of the
 *                               household's loans (the loan's household),
 *                               at its date and record
 *   'S' u8 len household year[8] -> u8 status, unit[5], 2 zero, u64
 *                               version (16 bytes): last status of (h, y)
 *                               and, when poor or near-poor, the registry
 *                               version its coverage was counted on (0
 *                               otherwise); length-prefixed so one
 *                               household's years are one small prefix
 *                               scan
 *   'C' unit[5] year[8]      -> i64 poor_near_poor, i64 with_loan
 *   'u' unit[5], 'p' unit[5] program -> as 'U' and 'P', of the loans placed
 *                               in the unit itself (not its descendants)
 *   'c' year[8] unit[5]      -> as 'C', of the statuses counted in the
 *                               unit itself (where its households are at
 *                               the end of the year)
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <povtrack/plugin_util.h>
#include <povtrack/plugin.h>

#define CR_YEAR_MIN 2000
#define CR_YEAR_MAX 2100
#define CR_L_HDR 64
#define CR_S_LEN 16

enum { V_LOANS, V_DISBURSED, V_REPAID, V_OUTSTANDING, NV };

struct credit {
    const struct povtrack_host *host;
    struct pu_units units; /* unit chains met so far */
};

struct loan {
    bool has_loan;
    uint32_t tranches; /* credit.disbursed records of the loan */
    int64_t disbursed, repaid, at;
    int64_t placed;   /* the "at" its figures are rolled up on */
    uint64_t version; /* the registry version they are rolled up on */
    uint8_t unit[PU_UNIT_W];
    struct ev_str program, household; /* point into buf */
    char buf[EV_TEXT_MAX + EV_HOUSEHOLD_MAX];
};

static int64_t outstanding(int64_t disbursed, int64_t repaid)
{
    return disbursed > repaid ? disbursed - repaid : 0;
}

/* Add d[0..n) to the i64 vector at key (absent reads as zeros).  A vector
 * that drops to zeros (every loan of a programme voided) is deleted, so
 * that no empty programme is listed. */
static int vec_add(struct credit *c, povtrack_ctx *ctx, const uint8_t *k,
                   size_t kl, const int64_t *d, int n)
{
    const void *val;
    size_t vlen;
    int64_t v[NV] = {0};
    int rc = pu_get(c->host, ctx, k, kl, &val, &vlen);
    if (rc < 0)
        return rc;
    if (rc == 1 && vlen != (size_t)n * 8) {
        c->host->log(ctx, POVTRACK_LOG_ERROR, "credit: corrupt counters");
        return POVTRACK_EIO;
    }
    uint8_t b[8 * NV];
    bool zero = true;
    for (int i = 0; i < n; i++) {
        v[i] = rc == 1 ? pu_get_i64((const uint8_t *)val + 8 * i) : 0;
        pu_put_i64(b + 8 * i, v[i] + d[i]);
        zero = zero && v[i] + d[i] == 0;
    }
    if (zero)
        return pu_del(c->host, ctx, k, kl);
    return pu_put(c->host, ctx, k, kl, b, (size_t)n * 8);
}

/* Add a loan vector to 'U' and 'P' of unit and each ancestor, as the
 * hierarchy stood when the loan was placed, on the registry version it was
 * placed on (UINT64_MAX for a new loan: l->version is set to the version
 * used): every change of the loan lands where the loan was counted. */
static int loan_add(struct credit *c, povtrack_ctx *ctx, struct loan *l,
                    const int64_t d[NV])
{
    struct pu_chain ch;
    if (pu_ancestors_cached_as_of(c->host, ctx, &c->units, pu_get_unit(l->unit),
                                  l->placed, l->version, &ch) != 0)
        return POVTRACK_EIO; /* the unit passed the reference checks */
    l->version = ch.version;
    for (int i = 0; i < ch.n; i++) {
        /* The loan's own unit also in 'u' and 'p', for as_of. */
        for (int own = 0; own <= (i == 0); own++) {
            uint8_t k[1 + PU_UNIT_W + EV_TEXT_MAX];
            k[0] = own ? 'u' : 'U';
            memcpy(k + 1, ch.code[i], PU_UNIT_W);
            int rc = vec_add(c, ctx, k, 1 + PU_UNIT_W, d, NV);
            k[0] = own ? 'p' : 'P';
            memcpy(k + 1 + PU_UNIT_W, l->program.ptr, l->program.len);
            if (rc == 0)
                rc = vec_add(c, ctx, k, 1 + PU_UNIT_W + l->program.len, d, NV);
            if (rc != 0)
                return rc;
        }
    }
    return 0;
}

/* Add (poor_near_poor, with_loan) to 'C' (unit, year) and ancestors, as
 * the hierarchy stood at the end of year (a unit that ended during the year
 * counts where its households went), on the registry version *version (the
 * status entry's; UINT64_MAX for a new one: set to the version used). */
static int cov_add(struct credit *c, povtrack_ctx *ctx, const uint8_t *unit,
                   int64_t year, uint64_t *version, int64_t pnp, int64_t wl)
{
    struct pu_chain ch;
    int64_t d[2] = {pnp, wl};
    if (pnp == 0 && wl == 0)
        return 0;
    if (pu_ancestors_cached_as_of(c->host, ctx, &c->units, pu_get_unit(unit),
                                  pu_year_end(year), *version, &ch) != 0)
        return POVTRACK_EIO;
    *version = ch.version;
    for (int i = 0; i < ch.n; i++) {
        uint8_t k[1 + PU_UNIT_W + 8];
        k[0] = 'C';
        memcpy(k + 1, ch.code[i], PU_UNIT_W);
        pu_put_key_i64(k + 1 + PU_UNIT_W, year);
        int rc = vec_add(c, ctx, k, sizeof k, d, 2);
        if (rc == 0 && i == 0) {
            /* The unit the status counts in, year first, for as_of. */
            k[0] = 'c';
            pu_put_key_i64(k + 1, year);
            memcpy(k + 9, ch.code[0], PU_UNIT_W);
            rc = vec_add(c, ctx, k, sizeof k, d, 2);
        }
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* ---- loans ---- */

static size_t loan_key(uint8_t *k, struct ev_str loan)
{
    k[0] = 'L';
    memcpy(k + 1, loan.ptr, loan.len);
    return 1 + loan.len;
}

static int loan_get(struct credit *c, povtrack_ctx *ctx, const uint8_t *k,
                    size_t kl, struct loan *l)
{
    const void *val;
    size_t vlen;
    memset(l, 0, sizeof *l);
    int rc = pu_get(c->host, ctx, k, kl, &val, &vlen);
    if (rc <= 0)
        return rc;
    const uint8_t *b = val;
    size_t pl = vlen >= CR_L_HDR ? (size_t)b[40] << 8 | b[41] : 0;
    size_t hl = vlen >= CR_L_HDR ? (size_t)b[42] << 8 | b[43] : 0;
    if (vlen < CR_L_HDR || vlen != CR_L_HDR + pl + hl || pl > EV_TEXT_MAX ||
        hl > EV_HOUSEHOLD_MAX) {
        c->host->log(ctx, POVTRACK_LOG_ERROR,
                     "credit: corrupt loan record (a state of version 1.0 "
                     "or 1.1 must be rebuilt: povtrack rebuild credit)");
        return POVTRACK_EIO;
    }
    l->has_loan = b[0] != 0;
    l->tranches = (uint32_t)pu_get_u64(b + 40) & UINT32_C(0xffffffff);
    l->disbursed = pu_get_i64(b + 8);
    l->repaid = pu_get_i64(b + 16);
    l->at = pu_get_i64(b + 24);
    memcpy(l->unit, b + 32, PU_UNIT_W);
    l->placed = pu_get_i64(b + 48);
    l->version = pu_get_u64(b + 56);
    memcpy(l->buf, b + CR_L_HDR, pl + hl);
    l->program = (struct ev_str){l->buf, (uint32_t)pl};
    l->household = (struct ev_str){l->buf + pl, (uint32_t)hl};
    return 1;
}

static int loan_put(struct credit *c, povtrack_ctx *ctx, const uint8_t *k,
                    size_t kl, const struct loan *l)
{
    uint8_t b[CR_L_HDR + EV_TEXT_MAX + EV_HOUSEHOLD_MAX] = {0};
    b[0] = l->has_loan;
    pu_put_i64(b + 8, l->disbursed);
    pu_put_i64(b + 16, l->repaid);
    pu_put_i64(b + 24, l->at);
    memcpy(b + 32, l->unit, PU_UNIT_W);
    b[40] = (uint8_t)(l->program.len >> 8);
    b[41] = (uint8_t)l->program.len;
    b[42] = (uint8_t)(l->household.len >> 8);
    b[43] = (uint8_t)l->household.len;
    b[44] = (uint8_t)(l->tranches >> 24);
    b[45] = (uint8_t)(l->tranches >> 16);
    b[46] = (uint8_t)(l->tranches >> 8);
    b[47] = (uint8_t)l->tranches;
    pu_put_i64(b + 48, l->placed);
    pu_put_u64(b + 56, l->version);
    if (l->has_loan) { /* a pending repayment has neither string */
        memcpy(b + CR_L_HDR, l->program.ptr, l->program.len);
        memcpy(b + CR_L_HDR + l->program.len, l->household.ptr,
               l->household.len);
    }
    return pu_put(c->host, ctx, k, kl, b,
                  CR_L_HDR + l->program.len + l->household.len);
}

/* ---- households ---- */

static size_t status_key(uint8_t *k, struct ev_str hh, const int64_t *year)
{
    k[0] = 'S';
    k[1] = (uint8_t)hh.len;
    memcpy(k + 2, hh.ptr, hh.len);
    if (year == NULL)
        return 2 + hh.len;
    pu_put_key_i64(k + 2 + hh.len, *year);
    return 2 + hh.len + 8;
}

/* Earliest disbursement time of the household's loans: 1 found, 0 none. */
static int first_loan(struct credit *c, povtrack_ctx *ctx, struct ev_str hh,
                      int64_t *at)
{
    uint8_t k[1 + EV_HOUSEHOLD_MAX];
    const void *val;
    size_t vlen;
    k[0] = 'F';
    memcpy(k + 1, hh.ptr, hh.len);
    int rc = pu_get(c->host, ctx, k, 1 + hh.len, &val, &vlen);
    if (rc == 1 && vlen != 8) {
        c->host->log(ctx, POVTRACK_LOG_ERROR, "credit: corrupt first loan");
        return POVTRACK_EIO;
    }
    if (rc == 1)
        *at = pu_get_i64(val);
    return rc;
}

/* One household's poor or near-poor years, from a prefix scan: each
 * year's status unit and the registry version it was counted on. */
struct pnp_years {
    int64_t year[CR_YEAR_MAX - CR_YEAR_MIN + 1];
    uint8_t unit[CR_YEAR_MAX - CR_YEAR_MIN + 1][PU_UNIT_W];
    uint64_t version[CR_YEAR_MAX - CR_YEAR_MIN + 1];
    int n;
    bool bad;
};

static int years_cb(void *arg, const void *key, size_t klen, const void *val,
                    size_t vlen)
{
    struct pnp_years *y = arg;
    const uint8_t *k = key, *v = val;
    if (klen < 10 || vlen != CR_S_LEN ||
        y->n == CR_YEAR_MAX - CR_YEAR_MIN + 1) {
        y->bad = true;
        return 1;
    }
    if (v[0] != EV_STATUS_POOR && v[0] != EV_STATUS_NEAR_POOR)
        return 0;
    y->year[y->n] = pu_get_i64(k + klen - 8) ^ INT64_MIN;
    y->version[y->n] = pu_get_u64(v + 8);
    memcpy(y->unit[y->n++], v + 1, PU_UNIT_W);
    return 0;
}

/*
 * The first loan year of hh moved from old_year to new_year (INT64_MAX:
 * none): the years in between where it is poor or near-poor gain a
 * household with a loan when it moved earlier, lose one when later.
 */
static int first_year_moved(struct credit *c, povtrack_ctx *ctx,
                            struct ev_str hh, int64_t old_year,
                            int64_t new_year)
{
    if (new_year == old_year)
        return 0;
    int64_t delta = new_year < old_year ? 1 : -1;
    int64_t lo = new_year < old_year ? new_year : old_year;
    int64_t hi = new_year < old_year ? old_year : new_year;
    if (hi == INT64_MAX)
        hi = CR_YEAR_MAX + 1;
    struct pnp_years *y = calloc(1, sizeof *y);
    if (y == NULL)
        return POVTRACK_EIO;
    uint8_t k[2 + EV_HOUSEHOLD_MAX + 8], to[2 + EV_HOUSEHOLD_MAX + 8];
    size_t fl = status_key(k, hh, &lo), tl = status_key(to, hh, &hi);
    int rc = c->host->scan(ctx, k, fl, to, tl, years_cb, y);
    if (y->bad || rc < 0) {
        c->host->log(ctx, POVTRACK_LOG_ERROR,
                     "credit: status scan failed (a state of version 1.1 "
                     "must be rebuilt: povtrack rebuild credit)");
        rc = POVTRACK_EIO;
    } else {
        rc = 0;
    }
    for (int i = 0; i < y->n && rc == 0; i++)
        rc = cov_add(c, ctx, y->unit[i], y->year[i], &y->version[i], 0, delta);
    free(y);
    return rc;
}

/* 'T' u8 len household at[8] seq[8]: one tranche of the household's
 * loans, at its date; the first is its first loan. */
static size_t tranche_key(uint8_t *k, struct ev_str hh, int64_t at,
                          uint64_t seq)
{
    k[0] = 'T';
    k[1] = (uint8_t)hh.len;
    memcpy(k + 2, hh.ptr, hh.len);
    pu_put_key_i64(k + 2 + hh.len, at);
    pu_put_u64(k + 10 + hh.len, seq);
    return 18 + hh.len;
}

static int first_tranche_cb(void *arg, const void *key, size_t klen,
                            const void *val, size_t vlen)
{
    (void)val;
    (void)vlen;
    if (klen < 16)
        return POVTRACK_EIO;
    *(int64_t *)arg = pu_get_key_i64((const uint8_t *)key + klen - 16);
    return 1;
}

/* A tranche of hh at (record seq) applied (sign 1) or taken back (-1):
 * the household's tranches, its first loan ('F') and the coverage's
 * with_loan follow. */
static int household_loan(struct credit *c, povtrack_ctx *ctx, struct ev_str hh,
                          int64_t at, uint64_t seq, int sign)
{
    uint8_t k[18 + EV_HOUSEHOLD_MAX], to[19 + EV_HOUSEHOLD_MAX];
    size_t kl = tranche_key(k, hh, at, seq);
    int rc = sign > 0 ? pu_put(c->host, ctx, k, kl, "", 0)
                      : pu_del(c->host, ctx, k, kl);
    int64_t old = 0, first = INT64_MAX;
    if (rc == 0)
        rc = first_loan(c, ctx, hh, &old);
    if (rc < 0)
        return rc;
    int64_t old_year = rc == 1 ? pu_local_year(old) : INT64_MAX;
    /* The household's first tranche, now. */
    memcpy(to, k, 2 + hh.len);
    memset(to + 2 + hh.len, 0xff, 17); /* past every key of the prefix */
    rc = c->host->scan(ctx, k, 2 + hh.len, to, 19 + hh.len, first_tranche_cb,
                       &first);
    if (rc < 0)
        return rc;
    if (first == old && old_year != INT64_MAX)
        return 0;
    int64_t new_year = first == INT64_MAX ? INT64_MAX : pu_local_year(first);
    uint8_t fk[1 + EV_HOUSEHOLD_MAX], b[8];
    fk[0] = 'F';
    memcpy(fk + 1, hh.ptr, hh.len);
    pu_put_i64(b, first);
    rc = first == INT64_MAX ? pu_del(c->host, ctx, fk, 1 + hh.len)
                            : pu_put(c->host, ctx, fk, 1 + hh.len, b, 8);
    return rc != 0 ? rc : first_year_moved(c, ctx, hh, old_year, new_year);
}

/* ---- apply ---- */

/* A tranche (record seq) of the loan ev names. */
static int apply_disbursed(struct credit *c, povtrack_ctx *ctx,
                           const struct ev_event *ev, uint64_t seq)
{
    uint8_t k[1 + EV_TEXT_MAX];
    size_t kl = loan_key(k, ev->data.loan);
    struct loan l;
    int rc = loan_get(c, ctx, k, kl, &l);
    if (rc < 0)
        return rc;
    int64_t d[NV] = {0};
    int64_t before = outstanding(l.disbursed, l.repaid);
    if (!l.has_loan) {
        l.has_loan = true;
        l.at = ev->at;
        l.placed = ev->at;
        l.version = UINT64_MAX; /* the registry as it now stands */
        l.program = ev->data.program;
        l.household = ev->household;
        if (pu_put_unit(l.unit, ev->unit) != 0)
            return POVTRACK_EIO;
        d[V_LOANS] = 1;
        d[V_REPAID] = l.repaid; /* repayments that came first */
        before = 0;
    } else if (ev->at < l.at) {
        l.at = ev->at;
    }
    l.disbursed += ev->data.amount;
    l.tranches++;
    d[V_DISBURSED] = ev->data.amount;
    d[V_OUTSTANDING] = outstanding(l.disbursed, l.repaid) - before;
    rc = loan_add(c, ctx, &l, d);
    if (rc == 0)
        rc = household_loan(c, ctx, l.household, ev->at, seq, 1);
    return rc != 0 ? rc : loan_put(c, ctx, k, kl, &l);
}

/* A repayment of amount (negative: one taken back) to the loan ev names. */
static int apply_repaid(struct credit *c, povtrack_ctx *ctx,
                        const struct ev_event *ev, int64_t amount)
{
    uint8_t k[1 + EV_TEXT_MAX];
    size_t kl = loan_key(k, ev->data.loan);
    struct loan l;
    int rc = loan_get(c, ctx, k, kl, &l);
    if (rc < 0)
        return rc;
    int64_t before = outstanding(l.disbursed, l.repaid);
    l.repaid += amount;
    if (l.has_loan) {
        int64_t d[NV] = {0, 0, amount,
                         outstanding(l.disbursed, l.repaid) - before};
        if ((rc = loan_add(c, ctx, &l, d)) != 0)
            return rc;
    }
    return loan_put(c, ctx, k, kl, &l);
}

/* Take back the tranche was: its amount where the loan lies; with its
 * last tranche the loan itself (its repayments then wait, as those that
 * come before a loan do). */
static int uncount_disbursed(struct credit *c, povtrack_ctx *ctx,
                             const struct ev_event *was, uint64_t seq)
{
    uint8_t k[1 + EV_TEXT_MAX];
    size_t kl = loan_key(k, was->data.loan);
    struct loan l;
    int rc = loan_get(c, ctx, k, kl, &l);
    if (rc < 0)
        return rc;
    if (!l.has_loan || l.tranches == 0)
        return POVTRACK_EIO; /* it was applied: the state is damaged */
    int64_t before = outstanding(l.disbursed, l.repaid);
    l.disbursed -= was->data.amount;
    l.tranches--;
    int64_t d[NV] = {0, -was->data.amount, 0,
                     outstanding(l.disbursed, l.repaid) - before};
    if (l.tranches == 0) {
        d[V_LOANS] = -1;
        d[V_REPAID] = -l.repaid;
        d[V_OUTSTANDING] = -before;
    }
    if ((rc = loan_add(c, ctx, &l, d)) != 0 ||
        (rc = household_loan(c, ctx, l.household, was->at, seq, -1)) != 0)
        return rc;
    if (l.tranches == 0) {
        l.has_loan = false;
        l.disbursed = l.at = l.placed = 0;
        l.version = 0;
        l.program = l.household = (struct ev_str){l.buf, 0};
    }
    return loan_put(c, ctx, k, kl, &l);
}

/* A void takes the record back; a correction then applies the corrected
 * record like any other. */
static int apply_amend(struct credit *c, povtrack_ctx *ctx,
                       const struct povtrack_record *rec)
{
    const struct ev_event *was;
    struct ev_event now;
    bool corrected;
    int rc = pu_amendment(rec, &was, &now, &corrected);
    if (rc == 0)
        rc = was->type == EV_CREDIT_DISBURSED
                 ? uncount_disbursed(c, ctx, was, rec->replaced_seq)
             : was->type == EV_CREDIT_REPAID
                 ? apply_repaid(c, ctx, was, -was->data.amount)
                 : 0;
    if (rc != 0 || !corrected)
        return rc;
    return now.type == EV_CREDIT_DISBURSED
               ? apply_disbursed(c, ctx, &now, rec->seq)
           : now.type == EV_CREDIT_REPAID
               ? apply_repaid(c, ctx, &now, now.data.amount)
               : 0;
}

static bool is_pnp(unsigned status)
{
    return status == EV_STATUS_POOR || status == EV_STATUS_NEAR_POOR;
}

static int apply_status(struct credit *c, povtrack_ctx *ctx,
                        const struct ev_event *ev)
{
    uint8_t k[2 + EV_HOUSEHOLD_MAX + 8], nv[CR_S_LEN] = {0}, ov[CR_S_LEN];
    size_t kl = status_key(k, ev->household, &ev->data.year);
    const void *val;
    size_t vlen;
    int rc = pu_get(c->host, ctx, k, kl, &val, &vlen);
    if (rc == 1 && vlen != sizeof ov) {
        c->host->log(ctx, POVTRACK_LOG_ERROR,
                     "credit: corrupt status (a state of version 1.1 must be "
                     "rebuilt)");
        return POVTRACK_EIO;
    }
    if (rc < 0)
        return rc;
    bool had = rc == 1;
    if (had)
        memcpy(ov, val, sizeof ov);
    nv[0] = (uint8_t)ev->data.status;
    if (pu_put_unit(nv + 1, ev->unit) != 0)
        return POVTRACK_EIO;
    /* The same status from the same unit, counted on the registry as it
     * now stands (or counted nowhere): nothing moves.  Counted on an older
     * registry, it is counted anew like any replacing status. */
    if (had && memcmp(ov, nv, 1 + PU_UNIT_W) == 0 &&
        (!is_pnp(ov[0]) ||
         pu_get_u64(ov + 8) == pu_version(c->host, ctx, UINT64_MAX)))
        return 0;
    int64_t first = 0;
    rc = first_loan(c, ctx, ev->household, &first);
    if (rc < 0)
        return rc;
    int64_t wl = rc == 1 && pu_local_year(first) <= ev->data.year ? 1 : 0;
    /* Counters move by difference: out of the old (status, unit), on the
     * registry version it was counted on, into the new one, on the
     * registry as it now stands (the version used is kept). */
    uint64_t over = had ? pu_get_u64(ov + 8) : 0, nver = UINT64_MAX;
    if (had && is_pnp(ov[0]) &&
        (rc = cov_add(c, ctx, ov + 1, ev->data.year, &over, -1, -wl)) != 0)
        return rc;
    if (!is_pnp(nv[0]))
        nver = 0; /* counted nowhere */
    else if ((rc = cov_add(c, ctx, nv + 1, ev->data.year, &nver, 1, wl)) != 0)
        return rc;
    pu_put_u64(nv + 8, nver);
    return pu_put(c->host, ctx, k, kl, nv, sizeof nv);
}

static int credit_apply(void *state, povtrack_ctx *ctx,
                        const struct povtrack_record *rec)
{
    struct credit *c = state;
    const struct ev_event *ev = rec->event;
    switch (ev->type) {
    case EV_CREDIT_DISBURSED:
        return apply_disbursed(c, ctx, ev, rec->seq);
    case EV_CREDIT_REPAID:
        return apply_repaid(c, ctx, ev, ev->data.amount);
    case EV_RECORD_VOIDED:
    case EV_RECORD_CORRECTED:
        return apply_amend(c, ctx, rec);
    case EV_HOUSEHOLD_STATUS:
        return apply_status(c, ctx, ev);
    default:
        return 0; /* not in the mask */
    }
}

/* ---- query ---- */

static int pack_vec(msgpack_packer *pk, const int64_t v[NV])
{
    static const char *const names[NV] = {"loans", "disbursed", "repaid",
                                          "outstanding"};
    int e = 0;
    for (int i = 0; i < NV; i++)
        e |= pu_pack_key(pk, names[i]) | msgpack_pack_int64(pk, v[i]);
    return e;
}

struct progs {
    msgpack_sbuffer sb;
    msgpack_packer pk;
    uint32_t n;
    bool bad;
};

static int progs_cb(void *arg, const void *key, size_t klen, const void *val,
                    size_t vlen)
{
    struct progs *p = arg;
    int64_t v[NV];
    if (vlen != 8 * NV || klen < 1 + PU_UNIT_W) {
        p->bad = true;
        return 1;
    }
    for (int i = 0; i < NV; i++)
        v[i] = pu_get_i64((const uint8_t *)val + 8 * i);
    p->n++;
    int e = pu_pack_str(&p->pk, (const char *)key + 1 + PU_UNIT_W,
                        klen - 1 - PU_UNIT_W) |
            msgpack_pack_map(&p->pk, NV) | pack_vec(&p->pk, v);
    return e != 0 ? (p->bad = true, 1) : 0;
}

/* Read n i64 at key; zeros when absent.  0 or POVTRACK_EIO. */
static int read_vec(struct credit *c, povtrack_ctx *ctx, const uint8_t *k,
                    size_t kl, int64_t *v, int n)
{
    const void *val;
    size_t vlen;
    memset(v, 0, sizeof *v * (size_t)n);
    int rc = pu_get(c->host, ctx, k, kl, &val, &vlen);
    if (rc < 0 || (rc == 1 && vlen != 8 * (size_t)n))
        return POVTRACK_EIO;
    for (int i = 0; rc == 1 && i < n; i++)
        v[i] = pu_get_i64((const uint8_t *)val + 8 * i);
    return 0;
}

/* One programme's figures, summed over the units regrouped. */
struct prog_sum {
    char name[EV_TEXT_MAX];
    size_t len;
    int64_t v[NV];
};

struct prog_sums {
    struct prog_sum *p;
    size_t n, cap;
};

static int prog_sums_add(struct prog_sums *ps, const uint8_t *name, size_t len,
                         const int64_t v[NV])
{
    size_t i = 0;
    while (i < ps->n &&
           !(ps->p[i].len == len && memcmp(ps->p[i].name, name, len) == 0))
        i++;
    if (i == ps->n) {
        if (len > EV_TEXT_MAX)
            return POVTRACK_EIO;
        if (ps->n == ps->cap) {
            size_t cap = ps->cap ? ps->cap * 2 : 16;
            struct prog_sum *np = realloc(ps->p, cap * sizeof *np);
            if (np == NULL)
                return POVTRACK_EIO;
            ps->p = np;
            ps->cap = cap;
        }
        memset(&ps->p[i], 0, sizeof ps->p[i]);
        memcpy(ps->p[i].name, name, len);
        ps->p[i].len = len;
        ps->n++;
    }
    for (int j = 0; j < NV; j++)
        ps->p[i].v[j] += v[j];
    return 0;
}

static int prog_cmp(const void *a, const void *b)
{
    const struct prog_sum *x = a, *y = b;
    return pu_cmp_bytes(x->name, x->len, y->name, y->len);
}

/* What an as_of query adds up, unit by unit (pu_regroup_scan). */
struct regrouped {
    int64_t tot[NV], cov[2];
    struct prog_sums ps;
};

/* 'p' unit program: one programme's loans in a unit that counts. */
static int prog_cb(void *arg, const uint8_t *key, size_t klen,
                   const uint8_t *val, size_t vlen)
{
    struct regrouped *r = arg;
    int64_t v[NV] = {0};
    struct pu_sums sums = {v, NV};
    int rc = pu_sums_add(&sums, key, klen, val, vlen);
    if (rc == 0 && klen <= 1 + PU_UNIT_W)
        rc = POVTRACK_EIO;
    return rc != 0 ? rc
                   : prog_sums_add(&r->ps, key + 1 + PU_UNIT_W,
                                   klen - 1 - PU_UNIT_W, v);
}

/*
 * The figures regrouped into unit as the units stand at as_of: the loans
 * of every unit whose households are then in unit or below ('u', 'p'),
 * and with a year, its coverage ('c').  The programmes are packed into
 * p (sorted by name, as the plain query's).
 */
static int credit_regrouped(struct credit *c, povtrack_ctx *ctx,
                            const uint8_t *unit, int64_t as_of, bool has_year,
                            int64_t year, int64_t tot[NV], int64_t cov[2],
                            struct progs *p)
{
    struct pu_regroup g;
    struct regrouped r = {0};
    struct pu_sums loans = {r.tot, NV}, coverage = {r.cov, 2};
    pu_regroup_init(&g, c->host, ctx, unit, as_of, as_of);
    /* 'u' unit: the loans placed in each unit that counts. */
    int rc =
        pu_regroup_keys(&g, 'u', false, 0, 1 + PU_UNIT_W, pu_sums_add, &loans);
    if (rc == 0)
        rc = pu_regroup_keys(&g, 'p', false, 0, 0, prog_cb, &r);
    if (rc == 0 && has_year)
        rc = pu_regroup_keys(&g, 'c', true, year, 9 + PU_UNIT_W, pu_sums_add,
                             &coverage);
    pu_regroup_free(&g);
    if (rc == 0 && r.ps.n > 1)
        qsort(r.ps.p, r.ps.n, sizeof *r.ps.p, prog_cmp);
    for (size_t i = 0; rc == 0 && i < r.ps.n; i++) {
        p->n++;
        if (pu_pack_str(&p->pk, r.ps.p[i].name, r.ps.p[i].len) != 0 ||
            msgpack_pack_map(&p->pk, NV) != 0 || pack_vec(&p->pk, r.ps.p[i].v))
            rc = POVTRACK_EIO;
    }
    free(r.ps.p);
    memcpy(tot, r.tot, sizeof r.tot);
    memcpy(cov, r.cov, sizeof r.cov);
    return rc == 0 ? 0 : POVTRACK_EIO;
}

/* The plain figures of unit: 'U', 'C' of the year, and its 'P' keys (one
 * per programme it has seen) packed into p. */
static int credit_plain(struct credit *c, povtrack_ctx *ctx,
                        const uint8_t *unit, bool has_year, int64_t year,
                        int64_t tot[NV], int64_t cov[2], struct progs *p)
{
    uint8_t k[1 + PU_UNIT_W + 8], to[1 + PU_UNIT_W];
    k[0] = 'U';
    memcpy(k + 1, unit, PU_UNIT_W);
    int rc = read_vec(c, ctx, k, 1 + PU_UNIT_W, tot, NV);
    if (rc == 0 && has_year) {
        k[0] = 'C';
        pu_put_key_i64(k + 1 + PU_UNIT_W, year);
        rc = read_vec(c, ctx, k, sizeof k, cov, 2);
    }
    k[0] = 'P';
    memcpy(to, k, sizeof to);
    to[PU_UNIT_W]++; /* just past unit[5]: the last byte is a digit or 0 */
    if (rc == 0)
        rc = c->host->scan(ctx, k, 1 + PU_UNIT_W, to, sizeof to, progs_cb, p);
    return rc < 0 || p->bad ? POVTRACK_EIO : 0;
}

static int credit_query(void *state, povtrack_ctx *ctx, const msgpack_object *q,
                        msgpack_packer *pk, char *err, size_t errlen)
{
    struct credit *c = state;
    struct pu_chain ch;
    static const char *const arg_names[] = {"unit", "year", "as_of", NULL};
    int rc = pu_check_arg_names(q, arg_names, err, errlen);
    if (rc == 0)
        rc = pu_arg_unit(c->host, ctx, q, &ch, err, errlen);
    if (rc != 0)
        return rc;
    int64_t year = 0, as_of = 0;
    bool has_year, has_as_of;
    if (pu_arg_i64(q, "year", false, &year, &has_year, err, errlen) != 0 ||
        pu_arg_i64(q, "as_of", false, &as_of, &has_as_of, err, errlen) != 0)
        return POVTRACK_EINVALID;
    if (has_year && (year < CR_YEAR_MIN || year > CR_YEAR_MAX)) {
        snprintf(err, errlen, "year: must be between %d and %d", CR_YEAR_MIN,
                 CR_YEAR_MAX);
        return POVTRACK_EINVALID;
    }
    /* The query's date: as_of, else the end of its year, else now. */
    if ((rc = pu_check_query_year(c->host, ctx, pu_get_unit(ch.code[0]),
                                  has_as_of, as_of, has_year, year, err,
                                  errlen)) != 0)
        return rc;
    int64_t tot[NV], cov[2] = {0, 0};
    struct progs p = {.n = 0};
    msgpack_sbuffer_init(&p.sb);
    msgpack_packer_init(&p.pk, &p.sb, msgpack_sbuffer_write);
    rc = has_as_of
             ? credit_regrouped(c, ctx, ch.code[0], as_of, has_year, year, tot,
                                cov, &p)
             : credit_plain(c, ctx, ch.code[0], has_year, year, tot, cov, &p);
    int e = rc != 0;
    if (!e) {
        struct ev_str unit = pu_get_unit(ch.code[0]);
        e = msgpack_pack_map(pk, (has_year ? 7 : 6) + (has_as_of ? 1 : 0));
        e |= pu_pack_key(pk, "unit") | pu_pack_str(pk, unit.ptr, unit.len);
        if (has_as_of)
            e |= pu_pack_key(pk, "as_of") | msgpack_pack_int64(pk, as_of);
        e |= pack_vec(pk, tot);
        e |= pu_pack_key(pk, "by_program") | msgpack_pack_map(pk, p.n);
        if (e == 0 && p.sb.size > 0)
            e = pk->callback(pk->data, p.sb.data, p.sb.size);
        if (has_year) {
            e |= pu_pack_key(pk, "coverage") | msgpack_pack_map(pk, 3);
            e |= pu_pack_key(pk, "poor_near_poor") |
                 msgpack_pack_int64(pk, cov[0]);
            e |= pu_pack_key(pk, "with_loan") | msgpack_pack_int64(pk, cov[1]);
            e |= pu_pack_key(pk, "rate") |
                 (cov[0] > 0 ? msgpack_pack_double(pk, 100.0 * (double)cov[1] /
                                                           (double)cov[0])
                             : msgpack_pack_nil(pk));
        }
    }
    msgpack_sbuffer_destroy(&p.sb);
    if (e != 0) {
        snprintf(err, errlen, "internal error: state read failed");
        return POVTRACK_EIO;
    }
    return 0;
}

/* ---- plugin callbacks ---- */

static int credit_init(povtrack_ctx *ctx, const struct povtrack_host *host,
                       void **state)
{
    /* No settings: programmes and amounts come from the events. */
    struct credit *c = calloc(1, sizeof *c);
    if (c == NULL) {
        host->log(ctx, POVTRACK_LOG_ERROR, "credit: out of memory");
        return POVTRACK_ENOMEM;
    }
    c->host = host;
    *state = c;
    return 0;
}

static void credit_fini(void *state)
{
    struct credit *c = state;
    pu_units_free(&c->units);
    free(c);
}

/* [plugin.credit] takes no keys: an empty map, so that a misspelt one
 * stops povtrackd at start instead of being ignored. */
static const struct povtrack_config_key credit_config[] = {{.name = NULL}};

/* state_layout: bump it when the stored values change. */
POVTRACK_PLUGIN(.name = "credit", .version = "1.4.0",
                .event_mask = EV_TYPE_BIT(EV_CREDIT_DISBURSED) |
                              EV_TYPE_BIT(EV_CREDIT_REPAID) |
                              EV_TYPE_BIT(EV_HOUSEHOLD_STATUS) |
                              EV_TYPE_BIT(EV_RECORD_VOIDED) |
                              EV_TYPE_BIT(EV_RECORD_CORRECTED),
                .init = credit_init, .apply = credit_apply,
                .query = credit_query, .fini = credit_fini, .state_layout = 4,
                .config_map = credit_config);
