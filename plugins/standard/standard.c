/*
 * standard.c - the built-in "standard" plugin: classifies assessed
 * households by the multidimensional poverty standard in force for the
 * assessment's year, and checks "leave no one behind" against the official
 * status once a unit's review for the year is closed.
 *
 * Standards are data (a table of periods), two built in:
 *   2022-2026  Decree 07/2021, extended through 2026 by Decree 351/2025:
 *              lines rural 1,500,000 / urban 2,000,000 VND per person per
 *              month, average-living-standard up to 2,250,000 / 3,000,000,
 *              the 12 indicators of ev_indicators_for_year(2024).
 *   2027-2030  Decree 351/2025: lines 2,200,000 / 2,800,000, indicators of
 *              ev_indicators_for_year(2027).  The average-living-standard
 *              line of this period is NOT published in our sources: we use
 *              1.5 x the poverty line (3,300,000 / 4,200,000), the ratio of
 *              the 2022-2026 standard.  It is derived again from a
 *              configured line unless the average is configured too.
 * A year inside no period uses the latest period that ended before it, or
 * the earliest period for years before every period (so years before 2022
 * use 2022-2026 and years after 2030 use 2027-2030).
 *
 * Config ([plugin.standard]; the host offers lookup by key only, so keys
 * are probed, years 2000-2100):
 *   standard.<first>.<field>         override a built-in period, named by
 *                                    its first year (2022 or 2027)
 *   standard.<first>-<last>.<field>  add a period; rural_line and
 *                                    urban_line required; it takes
 *                                    precedence over the built-ins for its
 *                                    years; added periods must not overlap
 *   fields: rural_line, urban_line, rural_average, urban_average (positive
 *   VND, average > line), indicators (codes separated by spaces or commas,
 *   each valid in the catalogue for every year of the period).
 *
 * Rule: income <= line: poor with >= 3 deprivations of the period's set,
 * else near_poor; line < income <= average-line: average; else above.
 *
 * State (integers big-endian, years in keys sign-flipped, unit codes
 * NUL-padded to 5 bytes; see plugin_util.h):
 *   'R' year[8] household -> record (REC_LEN = 56 bytes): the last
 *        assessment (unit, area, income, line used, deprived & set, class)
 *        and the last official status (unit, status) of (household,
 *        year), which LNOB list it is on and which alerts were raised, and
 *        for each of the assessment and the status the registry version
 *        its units were read on (u64 each, see below).  Self-contained, so
 *        a replacement subtracts exactly what was added, where it was
 *        added.
 *   'C' unit[5] year[8] -> i64[V_N] aggregates of the unit INCLUDING its
 *        descendants (a household counts in its unit and every ancestor).
 *   'Z' unit[5] year[8] -> "" the unit's review for the year is closed.
 *   'M' unit[5] year[8] household -> "" the household's LNOB unit (status
 *        unit, else assessment unit) is this unit or a descendant: lets
 *        review.closed visit its subtree (the registry knows parents only).
 *   'L' unit[5] year[8] list[1] household -> LNOB unit[5]: list members,
 *        under the LNOB unit and every ancestor, for the list query.
 *   'V' -> u64 fingerprint of the standards table the state was built with.
 *   'P' -> seq[8] key: a review.closed in progress (applied in steps of
 *        STD_STEP_CHUNKS x STD_CHUNK households, POVTRACK_EAGAIN): the
 *        record's sequence and the last 'M' key it has handled.  Gone
 *        once the review is done.
 *   'c' year[8] unit[5] -> i64[V_N]: what counts in the unit itself (the
 *        first unit of the year-end chain, not its descendants), for as_of.
 *
 * Units change over time (events/ev_unit.h).  Every figure here is about a
 * year (an assessment or a status of (household, year), a year's
 * review.closed), so every roll-up - 'C', 'M', 'L', 'Z' and the unit an
 * alert names - uses the hierarchy in force at the end of that year
 * (pu_year_end), the same date however often the record is replaced.  A
 * household's unit that ended during the year (a commune merged on
 * 2025-07-01) counts where its households went (pu_ancestors_at maps it):
 * a 2025 status in commune 22921, merged into 22924 under province 68,
 * counts in 22924 and 68, and its 'L' entries name 22924.  A review.closed
 * of year y closes the unit its code leads to at the end of y (a review of
 * a commune merged during y closes the merged commune).
 *
 * The same date is not enough: apply() reads the registry as the log stood
 * at the record being applied, so a change effective in y but recorded
 * after a record of y was counted resolves the end of y differently for
 * the records after it.  So the 'R' record keeps, for its assessment and
 * for its status, the registry version their units were read on (the
 * chain's .version, host units_seq): the assessment's figures roll up on
 * the chain of (assessment unit, end of y, its version), the LNOB list
 * figures and the 'M' and 'L' entries on that of the LNOB unit and its
 * part's version.  Whatever recomputes a record later (a replacing
 * assessment or status subtracting the old one, a review.closed listing
 * it, the other part arriving) reads the old part's chains on its stored
 * version, so what is taken back leaves the very units it was counted in;
 * the part an event replaces is counted on the registry as it now stands
 * and keeps that version.  A 2025 assessment in 22921 logged in March and
 * corrected after the merger was recorded thus leaves 22921, 593 and 60
 * (where it was counted) and the correction counts in 22924 and 68.  (A
 * record left on the older version stays under the units of that version:
 * a review.closed of a unit the newer registry names does not reach it.)
 *
 * A query's date is its as_of, else the end of its year (years 1000-9999).
 * A unit that had ended by then is refused in the ingest's words, with
 * where to ask instead (pu_check_query_unit).  "as_of" (not before the end
 * of the year) regroups the year into the units in force then
 * (pu_regroup): the own counters ('c') of every unit whose households are
 * then in the unit asked, and for a list, the members whose LNOB unit is
 * such a unit, by household id.  Lam Dong (68) as of the end of 2025
 * thus has Binh Thuan's 2024 assessments and lists.
 *
 * A state written by version 1.0 (40-byte records, no versions) is refused
 * as corrupt rather than misread: rebuild it ('povtrack rebuild standard')
 * after upgrading.  1.1 wrote layout 2, without 'c': the host rebuilds it
 * at start (state_layout 3).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <povtrack/plugin_util.h>
#include <povtrack/plugin.h>

#define STD_YEAR_MIN 2000 /* the catalogue's year range */
#define STD_YEAR_MAX 2100
#define STD_PERIODS_MAX 16
#define STD_LINE_MAX INT64_C(1000000000000) /* keeps 3/2 x line exact */
#define STD_POOR_MIN 3                      /* deprivations for "poor" */
#define STD_LIMIT_DEFAULT 1000
#define STD_LIMIT_MAX 10000
#define STD_CHUNK 256      /* households handled per scan of a closed review */
#define STD_STEP_CHUNKS 8  /* scans per step of a review: 2,048 households */
#define STD_QYEAR_MIN 1000 /* years a query may name */
#define STD_QYEAR_MAX 9999

enum cls { CLS_POOR, CLS_NEAR, CLS_AVERAGE, CLS_ABOVE, CLS_COUNT };
static const char *const cls_names[CLS_COUNT] = {"poor", "near_poor", "average",
                                                 "above"};

/* LNOB lists; 0 = on none. */
enum { L_NONE, L_UNREC, L_UNSUP, L_NOASSESS, L_COUNT };
static const char *const list_names[L_COUNT] = {
    NULL, "unrecognised", "recognition_unsupported", "no_assessment"};

#define DIM_COUNT 6
static const char *const dim_names[DIM_COUNT] = {
    "employment", "health",           "education",
    "housing",    "water_sanitation", "information"};

/* Aggregate vector of a (unit, year). */
enum {
    V_ASSESSED = 0,
    V_CLASS = 1,                  /* CLS_COUNT */
    V_DEP = V_CLASS + CLS_COUNT,  /* EV_IND_COUNT headcounts */
    V_DIM = V_DEP + EV_IND_COUNT, /* DIM_COUNT */
    V_SUMDEP = V_DIM + DIM_COUNT, /* deprivations summed over the poor */
    V_LIST = V_SUMDEP + 1,        /* L_COUNT - 1 */
    V_N = V_LIST + L_COUNT - 1
};

#define YKEY_LEN (1 + PU_UNIT_W + 8)
#define REC_LEN 56
#define F_ASSESSED 1u
#define F_STATUS 2u

struct period {
    int64_t first, last;
    int64_t line[2], avg[2]; /* [0] rural, [1] urban; avg 0: 3/2 x line */
    uint32_t set;
    bool added; /* configured period: wins over the built-ins */
};

struct standard {
    const struct povtrack_host *host;
    struct period p[STD_PERIODS_MAX];
    int n;
    uint64_t fingerprint;
    bool fp_checked;       /* the 'V' key was compared in this process */
    struct pu_units units; /* unit chains met so far */
};

/* Everything known of (household, year). */
struct rec {
    unsigned flags;
    enum ev_area area;
    int cls, ndep, list;
    enum ev_status status;
    unsigned alerted; /* bit per list whose alert was raised */
    uint8_t a_unit[PU_UNIT_W], s_unit[PU_UNIT_W];
    uint32_t deprived;
    int64_t income, line;
    /* The registry versions the assessment's and the status's units were
     * read on (UINT64_MAX: the part is new, read it as the registry now
     * stands). */
    uint64_t a_ver, s_ver;
};

/* ---- the standards table ---- */

static const struct period builtin[] = {
    {2022, 2026, {1500000, 2000000}, {2250000, 3000000}, 0, false},
    {2027, 2030, {2200000, 2800000}, {0, 0}, 0, false},
};

static int64_t avg_line(const struct period *p, int urban)
{
    int64_t l = p->line[urban];
    return p->avg[urban] != 0 ? p->avg[urban] : l + l / 2;
}

static const struct period *period_for(const struct standard *s, int64_t y)
{
    const struct period *pick = NULL;
    for (int pass = 0; pass < 2; pass++) /* added periods first */
        for (int i = 0; i < s->n; i++)
            if (s->p[i].added == (pass == 0) && s->p[i].first <= y &&
                y <= s->p[i].last)
                return &s->p[i];
    /* A standard stays in force until the next one: the latest period
     * that ended before y; before every period, the earliest one. */
    for (int i = 0; i < s->n; i++)
        if (s->p[i].last < y && (pick == NULL || s->p[i].last > pick->last))
            pick = &s->p[i];
    for (int i = 0; i < s->n && (pick == NULL || pick->last >= y); i++)
        if (pick == NULL || s->p[i].first < pick->first)
            pick = &s->p[i];
    return pick;
}

static const char *const fields[] = {
    "rural_line", "urban_line", "rural_average", "urban_average", "indicators"};
#define NFIELDS 5

/* Parse "employment, water ..." into a set valid in every year of p. */
static int parse_indicators(const struct povtrack_host *host, povtrack_ctx *ctx,
                            const char *key, const char *val,
                            const struct period *p, uint32_t *out)
{
    uint32_t set = 0;
    const char *c = val;
    while (*c != '\0') {
        size_t n = strcspn(c, " ,\t");
        if (n == 0) {
            c++;
            continue;
        }
        int ind = 0;
        while (ind < EV_IND_COUNT &&
               !(strlen(ev_indicator_name((enum ev_indicator)ind)) == n &&
                 memcmp(ev_indicator_name((enum ev_indicator)ind), c, n) == 0))
            ind++;
        if (ind == EV_IND_COUNT) {
            host->log(ctx, POVTRACK_LOG_ERROR, "%s: unknown indicator '%.*s'",
                      key, (int)n, c);
            return POVTRACK_ECONFIG;
        }
        set |= 1u << ind;
        c += n;
    }
    for (int64_t y = p->first; y <= p->last; y++) {
        uint32_t bad = set & ~ev_indicators_for_year(y);
        for (int ind = 0; bad != 0 && ind < EV_IND_COUNT; ind++)
            if (bad & (1u << ind)) {
                host->log(ctx, POVTRACK_LOG_ERROR,
                          "%s: indicator '%s' does not exist in %lld", key,
                          ev_indicator_name((enum ev_indicator)ind),
                          (long long)y);
                return POVTRACK_ECONFIG;
            }
    }
    if (set == 0) {
        host->log(ctx, POVTRACK_LOG_ERROR, "%s: no indicator given", key);
        return POVTRACK_ECONFIG;
    }
    *out = set;
    return 0;
}

/* Apply the keys "standard.<id>.<field>" to p; *seen: any key present. */
static int read_period(const struct povtrack_host *host, povtrack_ctx *ctx,
                       const char *id, struct period *p, bool *seen)
{
    char key[64];
    *seen = false;
    for (int f = 0; f < NFIELDS; f++) {
        snprintf(key, sizeof key, "standard.%s.%s", id, fields[f]);
        const char *v = host->config(ctx, key);
        if (v == NULL)
            continue;
        *seen = true;
        if (f == 4) {
            if (parse_indicators(host, ctx, key, v, p, &p->set) != 0)
                return POVTRACK_ECONFIG;
            continue;
        }
        int64_t x = 0;
        if (pu_config_pos_i64(host, ctx, key, &x) != 0)
            return POVTRACK_ECONFIG;
        if (x > STD_LINE_MAX) {
            host->log(ctx, POVTRACK_LOG_ERROR, "%s: %lld is implausibly large",
                      key, (long long)x);
            return POVTRACK_ECONFIG;
        }
        (f < 2 ? p->line : p->avg)[f % 2] = x;
    }
    return 0;
}

static int check_period(const struct povtrack_host *host, povtrack_ctx *ctx,
                        const struct period *p)
{
    for (int u = 0; u < 2; u++) {
        const char *area = u ? "urban" : "rural";
        if (p->line[u] == 0) {
            host->log(ctx, POVTRACK_LOG_ERROR,
                      "standard.%lld-%lld.%s_line: required for an added "
                      "period",
                      (long long)p->first, (long long)p->last, area);
            return POVTRACK_ECONFIG;
        }
        if (avg_line(p, u) <= p->line[u]) {
            host->log(ctx, POVTRACK_LOG_ERROR,
                      "standard %lld-%lld: %s average line %lld must be "
                      "above the %s line %lld",
                      (long long)p->first, (long long)p->last, area,
                      (long long)avg_line(p, u), area, (long long)p->line[u]);
            return POVTRACK_ECONFIG;
        }
    }
    return 0;
}

static uint64_t fnv(uint64_t h, int64_t v)
{
    for (int i = 0; i < 8; i++) {
        h ^= (uint64_t)v >> (8 * i) & 0xffu;
        h *= UINT64_C(1099511628211);
    }
    return h;
}

static int load_standards(struct standard *s, povtrack_ctx *ctx)
{
    const struct povtrack_host *host = s->host;
    char id[32];
    bool seen;
    s->n = 0;
    for (size_t i = 0; i < sizeof builtin / sizeof builtin[0]; i++) {
        struct period *p = &s->p[s->n++];
        *p = builtin[i];
        p->set = ev_indicators_for_year(p->first);
        snprintf(id, sizeof id, "%lld", (long long)p->first);
        if (read_period(host, ctx, id, p, &seen) != 0 ||
            check_period(host, ctx, p) != 0)
            return POVTRACK_ECONFIG;
    }
    for (int64_t a = STD_YEAR_MIN; a <= STD_YEAR_MAX; a++) {
        bool is_builtin = false;
        for (size_t i = 0; i < sizeof builtin / sizeof builtin[0]; i++)
            is_builtin = is_builtin || builtin[i].first == a;
        /* A misnamed built-in would otherwise be silently ignored. */
        for (int f = 0; f < NFIELDS && !is_builtin; f++) {
            char key[64];
            snprintf(key, sizeof key, "standard.%lld.%s", (long long)a,
                     fields[f]);
            if (host->config(ctx, key) != NULL) {
                host->log(ctx, POVTRACK_LOG_ERROR,
                          "%s: no built-in standard starts in %lld (2022, "
                          "2027); add a period with "
                          "standard.<first>-<last>.<field>",
                          key, (long long)a);
                return POVTRACK_ECONFIG;
            }
        }
        for (int64_t b = a; b <= STD_YEAR_MAX; b++) {
            struct period p = {.first = a, .last = b, .added = true};
            p.set = ev_indicators_for_year(a);
            snprintf(id, sizeof id, "%lld-%lld", (long long)a, (long long)b);
            if (read_period(host, ctx, id, &p, &seen) != 0)
                return POVTRACK_ECONFIG;
            if (!seen)
                continue;
            if (check_period(host, ctx, &p) != 0)
                return POVTRACK_ECONFIG;
            /* The default set must hold in every year too. */
            uint32_t common = p.set;
            for (int64_t y = a; y <= b; y++)
                common &= ev_indicators_for_year(y);
            if (common != p.set) {
                host->log(ctx, POVTRACK_LOG_ERROR,
                          "standard.%s: the catalogue's indicators change "
                          "inside the period; set standard.%s.indicators",
                          id, id);
                return POVTRACK_ECONFIG;
            }
            for (int i = 0; i < s->n; i++)
                if (s->p[i].added && s->p[i].first <= b && a <= s->p[i].last) {
                    host->log(ctx, POVTRACK_LOG_ERROR,
                              "standard.%s overlaps standard.%lld-%lld", id,
                              (long long)s->p[i].first,
                              (long long)s->p[i].last);
                    return POVTRACK_ECONFIG;
                }
            if (s->n == STD_PERIODS_MAX) {
                host->log(ctx, POVTRACK_LOG_ERROR,
                          "standard: more than %d periods", STD_PERIODS_MAX);
                return POVTRACK_ECONFIG;
            }
            s->p[s->n++] = p;
        }
    }
    uint64_t h = UINT64_C(14695981039346656037);
    for (int i = 0; i < s->n; i++) {
        const struct period *p = &s->p[i];
        int64_t v[] = {p->first,        p->last,          p->line[0],
                       p->line[1],      avg_line(p, 0),   avg_line(p, 1),
                       (int64_t)p->set, (int64_t)p->added};
        for (size_t j = 0; j < sizeof v / sizeof v[0]; j++)
            h = fnv(h, v[j]);
    }
    s->fingerprint = h;
    return 0;
}

/* ---- records and keys ---- */

static void ykey(uint8_t *k, char prefix, const uint8_t *unit, int64_t year)
{
    k[0] = (uint8_t)prefix;
    memcpy(k + 1, unit, PU_UNIT_W);
    pu_put_key_i64(k + 1 + PU_UNIT_W, year);
}

static size_t rkey(uint8_t *k, int64_t year, struct ev_str hh)
{
    k[0] = 'R';
    pu_put_key_i64(k + 1, year);
    memcpy(k + 9, hh.ptr, hh.len);
    return 9 + hh.len;
}

/* 1 found, 0 absent (zeroed), POVTRACK_EIO. */
static int rec_load(struct standard *s, povtrack_ctx *ctx, int64_t year,
                    struct ev_str hh, struct rec *r)
{
    uint8_t k[9 + EV_HOUSEHOLD_MAX];
    const void *v;
    size_t vlen;
    memset(r, 0, sizeof *r);
    int rc = pu_get(s->host, ctx, k, rkey(k, year, hh), &v, &vlen);
    if (rc <= 0)
        return rc;
    if (vlen != REC_LEN) {
        s->host->log(ctx, POVTRACK_LOG_ERROR,
                     "standard: bad record value (a state of version 1.0 "
                     "must be rebuilt: povtrack rebuild standard)");
        return POVTRACK_EIO;
    }
    const uint8_t *b = v;
    r->flags = b[0];
    r->area = (enum ev_area)b[1];
    r->cls = b[2];
    r->ndep = b[3];
    r->status = (enum ev_status)b[4];
    r->alerted = b[5];
    r->list = b[6] < L_COUNT ? b[6] : L_NONE;
    memcpy(r->a_unit, b + 8, PU_UNIT_W);
    memcpy(r->s_unit, b + 13, PU_UNIT_W);
    r->deprived = (uint32_t)b[20] << 24 | (uint32_t)b[21] << 16 |
                  (uint32_t)b[22] << 8 | b[23];
    r->income = pu_get_i64(b + 24);
    r->line = pu_get_i64(b + 32);
    r->a_ver = pu_get_u64(b + 40);
    r->s_ver = pu_get_u64(b + 48);
    if (r->cls >= CLS_COUNT) {
        s->host->log(ctx, POVTRACK_LOG_ERROR, "standard: bad record class");
        return POVTRACK_EIO;
    }
    return 1;
}

static int rec_store(struct standard *s, povtrack_ctx *ctx, int64_t year,
                     struct ev_str hh, const struct rec *r)
{
    uint8_t k[9 + EV_HOUSEHOLD_MAX], b[REC_LEN] = {0};
    b[0] = (uint8_t)r->flags;
    b[1] = (uint8_t)r->area;
    b[2] = (uint8_t)r->cls;
    b[3] = (uint8_t)r->ndep;
    b[4] = (uint8_t)r->status;
    b[5] = (uint8_t)r->alerted;
    b[6] = (uint8_t)r->list;
    memcpy(b + 8, r->a_unit, PU_UNIT_W);
    memcpy(b + 13, r->s_unit, PU_UNIT_W);
    for (int i = 0; i < 4; i++)
        b[20 + i] = (uint8_t)(r->deprived >> (24 - 8 * i));
    pu_put_i64(b + 24, r->income);
    pu_put_i64(b + 32, r->line);
    pu_put_u64(b + 40, r->a_ver);
    pu_put_u64(b + 48, r->s_ver);
    return pu_put(s->host, ctx, k, rkey(k, year, hh), b, sizeof b);
}

/* The unit LNOB checks and lists use: the official one when known. */
static const uint8_t *lnob_unit(const struct rec *r)
{
    return (r->flags & F_STATUS) ? r->s_unit : r->a_unit;
}

/* The registry version lnob_unit was read on. */
static uint64_t lnob_ver(const struct rec *r)
{
    return (r->flags & F_STATUS) ? r->s_ver : r->a_ver;
}

/* Which LNOB list the record belongs on, closure aside. */
static int lnob_list(const struct rec *r)
{
    bool a = r->flags & F_ASSESSED, st = r->flags & F_STATUS;
    bool off_poor = st && r->status == EV_STATUS_POOR;
    bool recognised = off_poor || (st && r->status == EV_STATUS_NEAR_POOR);
    if (a && r->cls == CLS_POOR && !recognised)
        return L_UNREC;
    if (off_poor && a && r->cls >= CLS_AVERAGE)
        return L_UNSUP;
    if (off_poor && !a)
        return L_NOASSESS;
    return L_NONE;
}

/* ---- aggregates ---- */

/* What moves under one unit, as read on one registry version. */
struct delta {
    uint8_t unit[PU_UNIT_W];
    uint64_t version;
    int64_t v[V_N];
};

static int64_t *delta_for(struct delta *ds, int *nd, const uint8_t *unit,
                          uint64_t version)
{
    for (int i = 0; i < *nd; i++)
        if (memcmp(ds[i].unit, unit, PU_UNIT_W) == 0 &&
            ds[i].version == version)
            return ds[i].v;
    memset(&ds[*nd], 0, sizeof ds[*nd]);
    memcpy(ds[*nd].unit, unit, PU_UNIT_W);
    ds[*nd].version = version;
    return ds[(*nd)++].v;
}

/* Add sign x everything r contributes; ds has room for 2 more units. */
static void contrib(const struct rec *r, int64_t sign, struct delta *ds,
                    int *nd)
{
    if (r->flags & F_ASSESSED) {
        int64_t *v = delta_for(ds, nd, r->a_unit, r->a_ver);
        unsigned dims = 0;
        v[V_ASSESSED] += sign;
        v[V_CLASS + r->cls] += sign;
        for (int i = 0; i < EV_IND_COUNT; i++) {
            if (!(r->deprived & (1u << i)))
                continue;
            v[V_DEP + i] += sign;
            const char *d = ev_indicator_dimension((enum ev_indicator)i);
            for (int j = 0; d != NULL && j < DIM_COUNT; j++)
                if (strcmp(d, dim_names[j]) == 0)
                    dims |= 1u << j;
        }
        for (int j = 0; j < DIM_COUNT; j++)
            if (dims & (1u << j))
                v[V_DIM + j] += sign;
        if (r->cls == CLS_POOR)
            v[V_SUMDEP] += sign * r->ndep;
    }
    if (r->list != L_NONE)
        delta_for(ds, nd, lnob_unit(r), lnob_ver(r))[V_LIST + r->list - 1] +=
            sign;
}

/* 'c' year[8] unit[5]: the counters of what counts in the unit itself
 * (not below it), year first so that as_of reads a year in one scan. */
static void own_key(uint8_t *k, const uint8_t *unit, int64_t year)
{
    k[0] = 'c';
    pu_put_key_i64(k + 1, year);
    memcpy(k + 9, unit, PU_UNIT_W);
}

/* The counters at key k ('C' or 'c'); zeros when absent. */
static int counters_read(struct standard *s, povtrack_ctx *ctx,
                         const uint8_t *k, int64_t c[V_N])
{
    const void *v;
    size_t vlen;
    memset(c, 0, sizeof(int64_t) * V_N);
    int rc = pu_get(s->host, ctx, k, YKEY_LEN, &v, &vlen);
    if (rc <= 0)
        return rc;
    if (vlen != 8 * V_N) {
        s->host->log(ctx, POVTRACK_LOG_ERROR, "standard: bad counter value");
        return POVTRACK_EIO;
    }
    for (int i = 0; i < V_N; i++)
        c[i] = pu_get_i64((const uint8_t *)v + 8 * i);
    return 0;
}

static int counters_get(struct standard *s, povtrack_ctx *ctx,
                        const uint8_t *unit, int64_t year, int64_t c[V_N])
{
    uint8_t k[YKEY_LEN];
    ykey(k, 'C', unit, year);
    return counters_read(s, ctx, k, c);
}

/* The chain of unit as the hierarchy stood at the end of year (every
 * roll-up of this plugin is about a year), on the registry version given
 * (UINT64_MAX: as it now stands; ch->version tells which it was). */
static int year_chain(struct standard *s, povtrack_ctx *ctx,
                      const uint8_t *unit, int64_t year, uint64_t version,
                      struct pu_chain *ch)
{
    return pu_ancestors_cached_as_of(s->host, ctx, &s->units, pu_get_unit(unit),
                                     pu_year_end(year), version, ch);
}

/* Add d to the unit and every ancestor. */
static int delta_apply(struct standard *s, povtrack_ctx *ctx,
                       const struct delta *d, int64_t year)
{
    bool zero = true;
    for (int i = 0; i < V_N; i++)
        zero = zero && d->v[i] == 0;
    struct pu_chain ch;
    if (zero)
        return 0;
    if (year_chain(s, ctx, d->unit, year, d->version, &ch) != 0)
        return POVTRACK_EIO; /* units passed the reference checks */
    /* The unit's own counters ('c'), then each rolled up ('C'). */
    for (int u = -1; u < ch.n; u++) {
        int64_t c[V_N];
        uint8_t k[YKEY_LEN], v[8 * V_N];
        const uint8_t *unit = ch.code[u < 0 ? 0 : u];
        if (u < 0)
            own_key(k, unit, year);
        else
            ykey(k, 'C', unit, year);
        int rc = counters_read(s, ctx, k, c);
        if (rc != 0)
            return rc;
        for (int i = 0; i < V_N; i++)
            pu_put_i64(v + 8 * i, c[i] + d->v[i]);
        if ((rc = pu_put(s->host, ctx, k, sizeof k, v, sizeof v)) != 0)
            return rc;
    }
    return 0;
}

/* ---- indexes ---- */

/* Put (or delete) 'M' / 'L' entries of hh under every unit of ch. */
static int index_set(struct standard *s, povtrack_ctx *ctx,
                     const struct pu_chain *ch, char prefix, int64_t year,
                     int list, struct ev_str hh, const uint8_t *val, bool put)
{
    uint8_t k[YKEY_LEN + 1 + EV_HOUSEHOLD_MAX];
    size_t off = YKEY_LEN + (prefix == 'L');
    for (int u = 0; u < ch->n; u++) {
        ykey(k, prefix, ch->code[u], year);
        k[YKEY_LEN] = (uint8_t)list; /* overwritten by hh for 'M' */
        memcpy(k + off, hh.ptr, hh.len);
        int rc = put ? pu_put(s->host, ctx, k, off + hh.len,
                              val != NULL ? (const void *)val : "",
                              val != NULL ? PU_UNIT_W : 0)
                     : s->host->del(ctx, k, off + hh.len);
        if (!put && rc != 0 && rc != POVTRACK_NOTFOUND) {
            s->host->log(ctx, POVTRACK_LOG_ERROR, "state del failed: %s",
                         pu_strerror(s->host, rc));
            return POVTRACK_EIO;
        }
        if (put && rc != 0)
            return rc;
    }
    return 0;
}

/* 1 when the review of year is closed for ch's unit or an ancestor. */
static int closed(struct standard *s, povtrack_ctx *ctx,
                  const struct pu_chain *ch, int64_t year)
{
    for (int u = 0; u < ch->n; u++) {
        uint8_t k[YKEY_LEN];
        const void *v;
        size_t vlen;
        ykey(k, 'Z', ch->code[u], year);
        int rc = pu_get(s->host, ctx, k, sizeof k, &v, &vlen);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* ---- leave no one behind ---- */

static int lnob_alert(struct standard *s, povtrack_ctx *ctx,
                      const struct rec *r, const struct pu_chain *ch,
                      int64_t year, struct ev_str hh, int64_t at)
{
    char unit[PU_UNIT_W + 1], hs[EV_HOUSEHOLD_MAX + 1], msg[384], why[200];
    char inc[32], line[32];
    const char *area = r->area == EV_AREA_URBAN ? "urban" : "rural";
    const char *lvl = ev_level_name(ch->level);
    pu_cstr(pu_get_unit(ch->code[0]), unit, sizeof unit);
    pu_cstr(hh, hs, sizeof hs);
    pu_fmt_thousands(r->income, inc, sizeof inc);
    pu_fmt_thousands(r->line, line, sizeof line);
    if (r->list == L_UNREC)
        snprintf(why, sizeof why,
                 "assessed poor (income %s <= %s line %s VND, %d "
                 "deprivation%s) but %s%s",
                 inc, area, line, r->ndep, r->ndep == 1 ? "" : "s",
                 (r->flags & F_STATUS) ? "officially " : "no official status",
                 (r->flags & F_STATUS) ? ev_status_name(r->status) : "");
    else if (r->list == L_UNSUP)
        snprintf(why, sizeof why,
                 "recognised poor but assessed %s (income %s > %s line %s "
                 "VND, %d deprivation%s)",
                 cls_names[r->cls], inc, area, line, r->ndep,
                 r->ndep == 1 ? "" : "s");
    else
        snprintf(why, sizeof why, "recognised poor with no assessment");
    snprintf(msg, sizeof msg, "household %s in %s %s, %lld: %s", hs,
             lvl != NULL ? lvl : "unit", unit, (long long)year, why);
    char code[64];
    snprintf(code, sizeof code, "standard.%s", list_names[r->list]);
    struct povtrack_alert a = {
        .size = sizeof a,
        .code = code,
        .severity = r->list == L_NOASSESS ? POVTRACK_INFO : POVTRACK_WARNING,
        .unit = unit,
        .household = hs,
        .message = msg,
        .at = at,
    };
    int rc = s->host->alert(ctx, &a);
    if (rc != 0) {
        s->host->log(ctx, POVTRACK_LOG_ERROR, "standard: alert failed: %s",
                     pu_strerror(s->host, rc));
        return POVTRACK_EIO;
    }
    return 0;
}

/* A part of nw just replaced (version UINT64_MAX) gets the version the
 * registry now stands at, read with its unit's chain. */
static int pin_version(struct standard *s, povtrack_ctx *ctx,
                       const uint8_t *unit, int64_t year, uint64_t *version)
{
    struct pu_chain ch;
    if (*version != UINT64_MAX)
        return 0;
    if (year_chain(s, ctx, unit, year, UINT64_MAX, &ch) != 0)
        return POVTRACK_EIO;
    *version = ch.version;
    return 0;
}

/*
 * Move (household, year) from record old (had_old: it existed) to nw:
 * re-evaluate the LNOB condition (only once the review is closed; an alert
 * at most once per list), keep the indexes where the LNOB unit is, apply
 * the aggregate differences and store nw.  Each part of old is taken back
 * on the registry version it was counted on; the part of nw an event
 * replaced is counted on the registry as it now stands.
 */
static int settle(struct standard *s, povtrack_ctx *ctx, int64_t year,
                  struct ev_str hh, const struct rec *old, bool had_old,
                  struct rec *nw, int64_t at)
{
    struct pu_chain cn, co;
    if (((nw->flags & F_ASSESSED) &&
         pin_version(s, ctx, nw->a_unit, year, &nw->a_ver) != 0) ||
        ((nw->flags & F_STATUS) &&
         pin_version(s, ctx, nw->s_unit, year, &nw->s_ver) != 0) ||
        year_chain(s, ctx, lnob_unit(nw), year, lnob_ver(nw), &cn) != 0)
        return POVTRACK_EIO;
    bool moved =
        had_old && (memcmp(lnob_unit(old), lnob_unit(nw), PU_UNIT_W) != 0 ||
                    lnob_ver(old) != lnob_ver(nw));
    co = cn;
    if (moved &&
        year_chain(s, ctx, lnob_unit(old), year, lnob_ver(old), &co) != 0)
        return POVTRACK_EIO;
    int rc = closed(s, ctx, &cn, year);
    if (rc < 0)
        return rc;
    nw->list = rc == 1 ? lnob_list(nw) : L_NONE;
    if (nw->list != L_NONE && !(nw->alerted & (1u << nw->list))) {
        if ((rc = lnob_alert(s, ctx, nw, &cn, year, hh, at)) != 0)
            return rc;
        nw->alerted |= 1u << nw->list;
    }
    rc = 0;
    if (moved)
        rc = index_set(s, ctx, &co, 'M', year, 0, hh, NULL, false);
    if (rc == 0 && (!had_old || moved))
        rc = index_set(s, ctx, &cn, 'M', year, 0, hh, NULL, true);
    bool relist = !had_old || moved || old->list != nw->list;
    if (rc == 0 && relist && had_old && old->list != L_NONE)
        rc = index_set(s, ctx, &co, 'L', year, old->list, hh, NULL, false);
    if (rc == 0 && relist && nw->list != L_NONE)
        rc = index_set(s, ctx, &cn, 'L', year, nw->list, hh, cn.code[0], true);
    struct delta ds[4];
    int nd = 0;
    if (had_old)
        contrib(old, -1, ds, &nd);
    contrib(nw, +1, ds, &nd);
    for (int i = 0; rc == 0 && i < nd; i++)
        rc = delta_apply(s, ctx, &ds[i], year);
    return rc != 0 ? rc : rec_store(s, ctx, year, hh, nw);
}

static int apply_household(struct standard *s, povtrack_ctx *ctx,
                           const struct ev_event *ev)
{
    struct ev_str hh = ev->household;
    int64_t year = ev->data.year;
    struct rec old, nw;
    uint8_t unit[PU_UNIT_W];
    if (hh.ptr == NULL || hh.len == 0 || hh.len > EV_HOUSEHOLD_MAX ||
        pu_put_unit(unit, ev->unit) != 0) {
        s->host->log(ctx, POVTRACK_LOG_ERROR,
                     "standard: event without a valid household or unit");
        return POVTRACK_EIO;
    }
    int had = rec_load(s, ctx, year, hh, &old);
    if (had < 0)
        return had;
    nw = old;
    if (ev->type == EV_HOUSEHOLD_STATUS) {
        nw.flags |= F_STATUS;
        nw.status = ev->data.status;
        memcpy(nw.s_unit, unit, PU_UNIT_W);
        nw.s_ver = UINT64_MAX; /* replaced: read as the registry now stands */
    } else {
        const struct period *p = period_for(s, year);
        int urban = ev->data.area == EV_AREA_URBAN;
        nw.flags |= F_ASSESSED;
        nw.area = urban ? EV_AREA_URBAN : EV_AREA_RURAL;
        nw.income = ev->data.income;
        nw.line = p->line[urban];
        nw.deprived = ev->data.deprived & p->set;
        nw.ndep = 0;
        for (int i = 0; i < EV_IND_COUNT; i++)
            nw.ndep += (nw.deprived >> i) & 1u;
        if (nw.income <= nw.line)
            nw.cls = nw.ndep >= STD_POOR_MIN ? CLS_POOR : CLS_NEAR;
        else
            nw.cls = nw.income <= avg_line(p, urban) ? CLS_AVERAGE : CLS_ABOVE;
        memcpy(nw.a_unit, unit, PU_UNIT_W);
        nw.a_ver = UINT64_MAX; /* replaced: read as the registry now stands */
    }
    return settle(s, ctx, year, hh, &old, had == 1, &nw, ev->at);
}

/* Households of one scan chunk under 'M' unit year. */
struct chunk {
    size_t prefix;
    int n;
    uint8_t len[STD_CHUNK];
    char hh[STD_CHUNK][EV_HOUSEHOLD_MAX];
    uint8_t last[YKEY_LEN + EV_HOUSEHOLD_MAX + 1];
    size_t lastlen;
};

static int chunk_add(void *arg, const void *key, size_t klen, const void *val,
                     size_t vlen)
{
    struct chunk *c = arg;
    (void)val;
    (void)vlen;
    if (klen <= c->prefix || klen - c->prefix > EV_HOUSEHOLD_MAX)
        return POVTRACK_EIO;
    c->len[c->n] = (uint8_t)(klen - c->prefix);
    memcpy(c->hh[c->n++], (const uint8_t *)key + c->prefix, klen - c->prefix);
    memcpy(c->last, key, klen);
    c->lastlen = klen;
    return c->n == STD_CHUNK ? 1 : 0;
}

/* Where a review in progress (the 'P' key) is: *resume 1 and from (the
 * last 'M' key handled, *flen bytes) when record seq has begun; 0 when
 * none is in progress.  Negative: an error. */
static int review_progress(struct standard *s, povtrack_ctx *ctx, uint64_t seq,
                           uint8_t *from, size_t *flen)
{
    static const uint8_t k[] = {'P'};
    const void *v;
    size_t vlen;
    int rc = pu_get(s->host, ctx, k, sizeof k, &v, &vlen);
    if (rc != 1)
        return rc;
    if (vlen <= 8 || vlen - 8 > YKEY_LEN + EV_HOUSEHOLD_MAX ||
        pu_get_u64(v) != seq) {
        s->host->log(ctx, POVTRACK_LOG_ERROR,
                     "standard: a review in progress that is not record %llu",
                     (unsigned long long)seq);
        return POVTRACK_EIO;
    }
    *flen = vlen - 8;
    memcpy(from, (const uint8_t *)v + 8, *flen);
    return 1;
}

/*
 * review.closed (u, y): from now on LNOB applies to every household of u's
 * subtree.  Nothing to do when u or an ancestor was already closed: those
 * households are already evaluated, and later events evaluate themselves.
 * A province has hundreds of thousands of households: they are settled in
 * steps of STD_STEP_CHUNKS scans (POVTRACK_EAGAIN), the 'P' key saying
 * where the next step starts.  Settling one household does not change the
 * 'M' entries the scan walks, nor another household's record, so the
 * state after the last step is the same however the steps were cut.
 */
static int apply_review(struct standard *s, povtrack_ctx *ctx,
                        const struct povtrack_record *rec)
{
    const struct ev_event *ev = rec->event;
    struct pu_chain ch;
    int64_t year = ev->data.year;
    uint8_t unit[PU_UNIT_W];
    uint8_t from[YKEY_LEN + EV_HOUSEHOLD_MAX + 1], to[YKEY_LEN];
    size_t flen = 0;
    if (pu_put_unit(unit, ev->unit) != 0 ||
        year_chain(s, ctx, unit, year, UINT64_MAX, &ch) != 0)
        return POVTRACK_EIO;
    int rc = review_progress(s, ctx, rec->seq, from, &flen);
    if (rc < 0)
        return rc;
    if (rc == 1) { /* resume just after the last key handled */
        from[flen++] = 0;
    } else {
        if ((rc = closed(s, ctx, &ch, year)) != 0)
            return rc < 0 ? rc : 0;
        ykey(to, 'Z', ch.code[0], year);
        if ((rc = pu_put(s->host, ctx, to, sizeof to, "", 0)) != 0)
            return rc;
        ykey(from, 'M', ch.code[0], year);
        flen = YKEY_LEN;
    }
    ykey(to, 'M', ch.code[0], year);
    for (int i = YKEY_LEN - 1; i >= 0 && ++to[i] == 0; i--)
        ; /* to: the first key after the prefix */
    struct chunk *c = malloc(sizeof *c);
    if (c == NULL)
        return POVTRACK_EIO;
    int scans = 0;
    do {
        c->prefix = YKEY_LEN;
        c->n = 0;
        rc = s->host->scan(ctx, from, flen, to, sizeof to, chunk_add, c);
        if (rc < 0)
            break;
        for (int i = 0; i < c->n && rc >= 0; i++) {
            struct ev_str hh = {c->hh[i], c->len[i]};
            struct rec r, nw;
            int got = rec_load(s, ctx, year, hh, &r);
            nw = r;
            rc = got < 0 ? got
                 : got == 1
                     ? settle(s, ctx, year, hh, &r, true, &nw, ev->at)
                     : POVTRACK_EIO; /* an index entry without a record */
        }
        if (c->n > 0) { /* resume just after the last key */
            memcpy(from, c->last, c->lastlen);
            from[c->lastlen] = 0;
            flen = c->lastlen + 1;
        }
    } while (rc >= 0 && c->n == STD_CHUNK && ++scans < STD_STEP_CHUNKS);
    static const uint8_t pk[] = {'P'};
    if (rc >= 0 && c->n == STD_CHUNK) { /* more to come: the next step */
        uint8_t v[8 + YKEY_LEN + EV_HOUSEHOLD_MAX];
        pu_put_u64(v, rec->seq);
        memcpy(v + 8, c->last, c->lastlen);
        rc = pu_put(s->host, ctx, pk, sizeof pk, v, 8 + c->lastlen);
        free(c);
        return rc != 0 ? rc : POVTRACK_EAGAIN;
    }
    free(c);
    if (rc < 0)
        return POVTRACK_EIO;
    return pu_del(s->host, ctx, pk, sizeof pk);
}

/* ---- plugin callbacks ---- */

static int standard_init(povtrack_ctx *ctx, const struct povtrack_host *host,
                         void **state)
{
    struct standard *s = calloc(1, sizeof *s);
    if (s == NULL) {
        host->log(ctx, POVTRACK_LOG_ERROR, "standard: out of memory");
        return POVTRACK_ENOMEM;
    }
    s->host = host;
    if (load_standards(s, ctx) != 0) {
        free(s);
        return POVTRACK_ECONFIG;
    }
    *state = s;
    return 0;
}

/* Classifications are kept as computed; say so when the table changed. */
static int check_fingerprint(struct standard *s, povtrack_ctx *ctx)
{
    static const uint8_t k[] = {'V'};
    const void *v;
    size_t vlen;
    uint8_t b[8];
    int rc = pu_get(s->host, ctx, k, sizeof k, &v, &vlen);
    if (rc < 0)
        return rc;
    if (rc == 1 && vlen == 8 && pu_get_u64(v) == s->fingerprint)
        return 0;
    if (rc == 1)
        s->host->log(ctx, POVTRACK_LOG_WARN,
                     "standard: the standards table changed since the state "
                     "was built; earlier assessments keep their class until "
                     "the state is rebuilt (povtrack rebuild standard)");
    pu_put_u64(b, s->fingerprint);
    return pu_put(s->host, ctx, k, sizeof k, b, sizeof b);
}

static int standard_apply(void *state, povtrack_ctx *ctx,
                          const struct povtrack_record *rec)
{
    struct standard *s = state;
    const struct ev_event *ev = rec->event;
    if (!s->fp_checked) {
        int rc = check_fingerprint(s, ctx);
        if (rc != 0)
            return rc;
        s->fp_checked = true;
    }
    switch (ev->type) {
    case EV_HOUSEHOLD_ASSESSED:
    case EV_HOUSEHOLD_STATUS:
        return apply_household(s, ctx, ev);
    case EV_REVIEW_CLOSED:
        return apply_review(s, ctx, rec);
    default:
        return 0;
    }
}

/* A member of an LNOB list: the household and its LNOB unit. */
struct member {
    uint8_t len;
    char hh[EV_HOUSEHOLD_MAX];
    uint8_t unit[PU_UNIT_W];
};

/* List members for the list query, collected before packing the count. */
struct members {
    size_t prefix, n, limit;
    bool more;
    struct member *m;
};

static int member_add(void *arg, const void *key, size_t klen, const void *val,
                      size_t vlen)
{
    struct members *ms = arg;
    if (ms->n == ms->limit) {
        ms->more = true;
        return 1;
    }
    if (klen <= ms->prefix || klen - ms->prefix > EV_HOUSEHOLD_MAX ||
        vlen != PU_UNIT_W)
        return POVTRACK_EIO;
    ms->m[ms->n].len = (uint8_t)(klen - ms->prefix);
    memcpy(ms->m[ms->n].hh, (const uint8_t *)key + ms->prefix,
           klen - ms->prefix);
    memcpy(ms->m[ms->n++].unit, val, PU_UNIT_W);
    return 0;
}

/* The list's members under unit, by household id: its 'L' entries (at
 * most limit, *more when there were others). */
static int list_plain(struct standard *s, povtrack_ctx *ctx,
                      const uint8_t *unit, int64_t year, int list,
                      struct members *ms)
{
    uint8_t from[YKEY_LEN + 1], to[YKEY_LEN + 1];
    ykey(from, 'L', unit, year);
    from[YKEY_LEN] = (uint8_t)list;
    memcpy(to, from, sizeof to);
    to[YKEY_LEN]++;
    ms->prefix = sizeof from;
    int rc =
        s->host->scan(ctx, from, sizeof from, to, sizeof to, member_add, ms);
    return rc < 0 ? POVTRACK_EIO : 0;
}

static int member_cmp(const void *a, const void *b)
{
    const struct member *x = a, *y = b;
    return pu_cmp_bytes(x->hh, x->len, y->hh, y->len);
}

/* A regrouped list in the making (pu_regroup_scan over 'c'). */
struct regrouped_list {
    struct standard *s;
    povtrack_ctx *ctx;
    int64_t year;
    int list;
    struct member *all;
    size_t n, cap;
};

/* 'c' year unit: a unit that counts; the members whose LNOB unit it is. */
static int own_members_cb(void *arg, const uint8_t *key, size_t klen,
                          const uint8_t *val, size_t vlen)
{
    struct regrouped_list *l = arg;
    const uint8_t *unit = key + 9;
    uint8_t from[YKEY_LEN + 1], to[YKEY_LEN + 1];
    struct pu_copied ix = {0};
    size_t off = 0, kl, vl;
    const uint8_t *k, *v;
    (void)klen;
    (void)val;
    (void)vlen;
    ykey(from, 'L', unit, l->year);
    from[YKEY_LEN] = (uint8_t)l->list;
    memcpy(to, from, sizeof to);
    to[YKEY_LEN]++;
    int rc = pu_scan_copied(l->s->host, l->ctx, from, sizeof from, to,
                            sizeof to, &ix);
    while (rc == 0 && pu_copied_next(&ix, &off, &k, &kl, &v, &vl)) {
        if (kl <= sizeof from || kl - sizeof from > EV_HOUSEHOLD_MAX ||
            vl != PU_UNIT_W) {
            rc = POVTRACK_EIO;
            break;
        }
        if (memcmp(v, unit, PU_UNIT_W) != 0)
            continue; /* on the list of a unit below */
        if (l->n == l->cap) {
            size_t cap = l->cap ? l->cap * 2 : 64;
            struct member *na = realloc(l->all, cap * sizeof *na);
            if (na == NULL) {
                rc = POVTRACK_EIO;
                break;
            }
            l->all = na;
            l->cap = cap;
        }
        struct member *m = &l->all[l->n++];
        m->len = (uint8_t)(kl - sizeof from);
        memcpy(m->hh, k + sizeof from, kl - sizeof from);
        memcpy(m->unit, v, PU_UNIT_W);
    }
    pu_copied_free(&ix);
    return rc;
}

/*
 * The list's members regrouped into unit as the units stand at as_of:
 * under each unit with own figures of the year ('c') whose households are
 * then in unit or below, the members whose LNOB unit is that very unit,
 * merged by household id.
 */
static int list_regrouped(struct standard *s, povtrack_ctx *ctx,
                          const uint8_t *unit, int64_t year, int list,
                          int64_t as_of, struct members *ms)
{
    struct pu_regroup g;
    struct regrouped_list l = {s, ctx, year, list, NULL, 0, 0};
    pu_regroup_init(&g, s->host, ctx, unit, as_of, as_of);
    int rc = pu_regroup_keys(&g, 'c', true, year, YKEY_LEN, own_members_cb, &l);
    pu_regroup_free(&g);
    if (rc == 0 && l.n > 1)
        qsort(l.all, l.n, sizeof *l.all, member_cmp);
    for (size_t i = 0; rc == 0 && i < l.n; i++) {
        if (ms->n == ms->limit) {
            ms->more = true;
            break;
        }
        ms->m[ms->n++] = l.all[i];
    }
    free(l.all);
    return rc == 0 ? 0 : POVTRACK_EIO;
}

static int query_list(struct standard *s, povtrack_ctx *ctx,
                      const uint8_t *unit, int64_t year, int list,
                      int64_t limit, bool has_as_of, int64_t as_of,
                      msgpack_packer *pk, char *err, size_t errlen)
{
    struct members ms = {.limit = (size_t)limit};
    ms.m = calloc((size_t)limit, sizeof *ms.m);
    if (ms.m == NULL) {
        snprintf(err, errlen, "internal error: out of memory");
        return POVTRACK_EIO;
    }
    int rc = has_as_of ? list_regrouped(s, ctx, unit, year, list, as_of, &ms)
                       : list_plain(s, ctx, unit, year, list, &ms);
    struct ev_str u = pu_get_unit(unit);
    int e = rc != 0;
    e |= msgpack_pack_map(pk, 5);
    e |= pu_pack_key(pk, "unit") | pu_pack_str(pk, u.ptr, u.len);
    e |= pu_pack_key(pk, "year") | msgpack_pack_int64(pk, year);
    e |= pu_pack_key(pk, "list") | pu_pack_key(pk, list_names[list]);
    e |= pu_pack_key(pk, "households") | msgpack_pack_array(pk, ms.n);
    for (size_t i = 0; i < ms.n && e == 0; i++) {
        struct ev_str mu = pu_get_unit(ms.m[i].unit);
        e |= msgpack_pack_map(pk, 2) | pu_pack_key(pk, "household") |
             pu_pack_str(pk, ms.m[i].hh, ms.m[i].len);
        e |= pu_pack_key(pk, "unit") | pu_pack_str(pk, mu.ptr, mu.len);
    }
    e |= pu_pack_key(pk, "more") |
         (ms.more ? msgpack_pack_true(pk) : msgpack_pack_false(pk));
    free(ms.m);
    if (e != 0) {
        snprintf(err, errlen, "internal error: state read failed");
        return POVTRACK_EIO;
    }
    return 0;
}

/* The year's own counters of every unit whose households are at as_of in
 * unit or below. */
static int counters_regrouped(struct standard *s, povtrack_ctx *ctx,
                              const uint8_t *unit, int64_t year, int64_t as_of,
                              int64_t c[V_N])
{
    struct pu_regroup g;
    struct pu_sums sums = {c, V_N};
    memset(c, 0, sizeof(int64_t) * V_N);
    pu_regroup_init(&g, s->host, ctx, unit, as_of, as_of);
    int rc = pu_regroup_keys(&g, 'c', true, year, YKEY_LEN, pu_sums_add, &sums);
    pu_regroup_free(&g);
    return rc == 0 ? 0 : POVTRACK_EIO;
}

static int standard_query(void *state, povtrack_ctx *ctx,
                          const msgpack_object *q, msgpack_packer *pk,
                          char *err, size_t errlen)
{
    struct standard *s = state;
    struct pu_chain ch;
    static const char *const arg_names[] = {"unit", "year",  "as_of",
                                            "list", "limit", NULL};
    int rc = pu_check_arg_names(q, arg_names, err, errlen);
    if (rc == 0)
        rc = pu_arg_unit(s->host, ctx, q, &ch, err, errlen);
    if (rc != 0)
        return rc;
    int64_t year, limit = STD_LIMIT_DEFAULT, as_of = 0;
    bool has, has_limit, has_as_of;
    if (pu_arg_i64(q, "year", true, &year, &has, err, errlen) != 0 ||
        pu_arg_i64(q, "limit", false, &limit, &has_limit, err, errlen) != 0 ||
        pu_arg_i64(q, "as_of", false, &as_of, &has_as_of, err, errlen) != 0)
        return POVTRACK_EINVALID;
    if (year < STD_QYEAR_MIN || year > STD_QYEAR_MAX) {
        snprintf(err, errlen, "year: must be a year in %d-%d", STD_QYEAR_MIN,
                 STD_QYEAR_MAX);
        return POVTRACK_EINVALID;
    }
    const msgpack_object *lo = pu_map_get(q, "list");
    int list = L_NONE;
    if (lo != NULL && lo->type != MSGPACK_OBJECT_NIL) {
        for (int i = 1; i < L_COUNT && lo->type == MSGPACK_OBJECT_STR; i++)
            if (lo->via.str.size == strlen(list_names[i]) &&
                memcmp(lo->via.str.ptr, list_names[i], lo->via.str.size) == 0)
                list = i;
        if (list == L_NONE) {
            snprintf(err, errlen,
                     "list: must be unrecognised, "
                     "recognition_unsupported or no_assessment");
            return POVTRACK_EINVALID;
        }
    }
    if (has_limit && list == L_NONE) {
        snprintf(err, errlen, "limit: only with list");
        return POVTRACK_EINVALID;
    }
    if (limit < 1 || limit > STD_LIMIT_MAX) {
        snprintf(err, errlen, "limit: must be 1 to %d", STD_LIMIT_MAX);
        return POVTRACK_EINVALID;
    }
    /* The query's date: as_of, else the end of its year. */
    if ((rc = pu_check_query_year(s->host, ctx, pu_get_unit(ch.code[0]),
                                  has_as_of, as_of, true, year, err, errlen)) !=
        0)
        return rc;
    if (list != L_NONE)
        return query_list(s, ctx, ch.code[0], year, list, limit, has_as_of,
                          as_of, pk, err, errlen);

    int64_t c[V_N];
    if ((has_as_of ? counters_regrouped(s, ctx, ch.code[0], year, as_of, c)
                   : counters_get(s, ctx, ch.code[0], year, c)) != 0) {
        snprintf(err, errlen, "internal error: state read failed");
        return POVTRACK_EIO;
    }
    uint32_t set = period_for(s, year)->set;
    int nset = 0;
    for (int i = 0; i < EV_IND_COUNT; i++)
        nset += (set >> i) & 1u;
    struct ev_str u = pu_get_unit(ch.code[0]);
    int e = msgpack_pack_map(pk, 10 + (has_as_of ? 1 : 0));
    e |= pu_pack_key(pk, "unit") | pu_pack_str(pk, u.ptr, u.len);
    e |= pu_pack_key(pk, "year") | msgpack_pack_int64(pk, year);
    if (has_as_of)
        e |= pu_pack_key(pk, "as_of") | msgpack_pack_int64(pk, as_of);
    e |= pu_pack_key(pk, "assessed") | msgpack_pack_int64(pk, c[V_ASSESSED]);
    e |= pu_pack_key(pk, "classes") | msgpack_pack_map(pk, CLS_COUNT);
    for (int i = 0; i < CLS_COUNT; i++)
        e |= pu_pack_key(pk, cls_names[i]) |
             msgpack_pack_int64(pk, c[V_CLASS + i]);
    e |= pu_pack_key(pk, "deprivation") | msgpack_pack_map(pk, (size_t)nset);
    for (int i = 0; i < EV_IND_COUNT; i++)
        if (set & (1u << i))
            e |= pu_pack_key(pk, ev_indicator_name((enum ev_indicator)i)) |
                 msgpack_pack_int64(pk, c[V_DEP + i]);
    e |= pu_pack_key(pk, "dimensions") | msgpack_pack_map(pk, DIM_COUNT);
    for (int i = 0; i < DIM_COUNT; i++)
        e |= pu_pack_key(pk, dim_names[i]) |
             msgpack_pack_int64(pk, c[V_DIM + i]);
    e |= pu_pack_key(pk, "avg_deprivations_poor");
    int64_t npoor = c[V_CLASS + CLS_POOR];
    e |= npoor > 0
             ? msgpack_pack_double(pk, (double)c[V_SUMDEP] / (double)npoor)
             : msgpack_pack_nil(pk);
    for (int i = 1; i < L_COUNT; i++)
        e |= pu_pack_key(pk, list_names[i]) |
             msgpack_pack_int64(pk, c[V_LIST + i - 1]);
    if (e != 0) {
        snprintf(err, errlen, "internal error: packing failed");
        return POVTRACK_EIO;
    }
    return 0;
}

static void standard_fini(void *state)
{
    struct standard *s = state;
    pu_units_free(&s->units);
    free(s);
}

/* The keys of [plugin.standard]: the lines and indicators of a built-in
 * period (standard.<first>.<field>) or of an added one
 * (standard.<first>-<last>.<field>); read_period() checks the years. */
static const struct povtrack_config_key standard_config[] = {
    {.name = "standard.*.rural_line",
     .type = POVTRACK_CONFIG_INT,
     .description = "VND per person per month: the rural poverty line"},
    {.name = "standard.*.urban_line",
     .type = POVTRACK_CONFIG_INT,
     .description = "VND per person per month: the urban poverty line"},
    {.name = "standard.*.rural_average",
     .type = POVTRACK_CONFIG_INT,
     .description = "VND: the rural average-living-standard line"},
    {.name = "standard.*.urban_average",
     .type = POVTRACK_CONFIG_INT,
     .description = "VND: the urban average-living-standard line"},
    {.name = "standard.*.indicators",
     .type = POVTRACK_CONFIG_STRING,
     .description = "the deprivation indicators counted, comma-separated"},
    {.name = NULL},
};

/* state_layout: bump it when the stored values change. */
POVTRACK_PLUGIN(.name = "standard", .version = "1.2.0",
                .event_mask = EV_TYPE_BIT(EV_HOUSEHOLD_ASSESSED) |
                              EV_TYPE_BIT(EV_HOUSEHOLD_STATUS) |
                              EV_TYPE_BIT(EV_REVIEW_CLOSED),
                .init = standard_init, .apply = standard_apply,
                .query = standard_query, .fini = standard_fini,
                .state_layout = 3, .config_map = standard_config);
