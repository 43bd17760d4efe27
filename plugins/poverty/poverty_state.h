/*
 * poverty_state.h - the poverty plugin's stored state: the key layouts,
 * the layout marker and the dirty years, and reading and writing the
 * counters, the denominators and a year's keys.
 *
 * This module only encodes.  Where a record's counts go on the unit
 * hierarchy (the rolled-up keys 'C', 'N' and 'B', and their rebuild) is
 * poverty_units.c's business; what a household contributes, and its
 * history 'H', is poverty_history.c's; the alert markers 'R' and 'F' are
 * poverty.c's.  All the keys are listed here so that their prefixes stay
 * apart.
 *
 * See plugin_util.h for the encoding: all integers big-endian, years in
 * keys sign-flipped, unit codes NUL-padded to 5 bytes.  Keys of yearly
 * figures are year first so that a year's units can be scanned.
 *
 *   'M' -> u8 layout (4), 7 bytes zero, i64 dirty_from        (16 bytes)
 *        the layout marker, and the first year whose rolled-up keys must
 *        be rebuilt (INT64_MAX: none).  A state without it that holds
 *        anything was written by an older version and is refused.
 *   'O' year[8] unit[5] -> i64 x C_COUNT                       (96 bytes)
 *        own counters: records of households filed directly under unit
 *        (as recorded, even when the unit is not in force at the end of
 *        the year).  The counters, in order: poor, near_poor, escaped,
 *        newly_poor, relapsed, near_poor_formerly_poor, relapsed_1y,
 *        relapsed_2y, relapsed_3y, exited_next (poor here in year, exited
 *        in year+1), moved_in (poor in year-1 elsewhere, a
 *        household.moved in year, counted where its year status is),
 *        moved_out_next (poor here in year, moved in year+1).
 *   'C' year[8] unit[5] -> the same counters, of the unit INCLUDING every
 *        household of its descendants on the hierarchy of the end of the
 *        year.  The relapsed_ky counters are keyed by the cohort year (the
 *        year of the escape), so a cohort query is this one key.
 *   'B' year[8] unit[5] -> i64 poor_start, i64 exited, i64 moved_out
 *                                                              (24 bytes)
 *        poor, exited_next and moved_out_next of year-1 regrouped onto
 *        the end-of-year hierarchy (poverty_units.h), rolled up.
 *   'D' year[8] unit[5] -> i64 published, i64 span_from        (16 bytes)
 *        the last unit.households of (unit, year), as published, and the
 *        start of the unit's span in force when it was published
 *        (INT64_MIN: open): a code that goes on under a new span in the
 *        year (the ward 22924 that absorbed two others on 2025-07-01) is
 *        another unit at the end of the year than the one that published
 *        early in it, so that count is the successor's child, not its own.
 *   'N' year[8] unit[5] -> u8 has_published, 7 bytes zero, i64 published,
 *                          i64 childsum, i64 childknown          (32 bytes)
 *        the household denominator on the end-of-year hierarchy.  eff =
 *        published when has_published, else childsum when childknown > 0
 *        (at least one child has a known eff), else unknown.
 *        childsum/childknown are maintained by delta propagation up the
 *        ancestor chain whenever a unit's eff changes.
 *   'H' household -> n x { i64 year, u8 kind, unit[5], 2 bytes zero }
 *        the household's history (16 bytes an entry, sorted by year, a
 *        year's status before its move before its exit): kind is the
 *        status (1-4), 0x80 | the exit reason for a household.exited, or
 *        0x40 for a household.moved (the local year of its "at"; unit:
 *        where it moved to).  A changed record recomputes that household's
 *        contributions and applies only the differences.
 *   'R' unit[5] cohort[8] k[1] -> empty
 *        relapse_high already raised for (unit, cohort, k).
 *   'F' year[8] unit[5] + 8 x i64 (start, newly, relapsed, moved in,
 *        escaped, exited, moved out, poor) -> empty: flow_mismatch already
 *        raised with these numbers.
 *   'E' year[8] -> empty: a change of units (not a rename) is effective
 *        in that year, so a review of it compares the year before
 *        regrouped onto its units (poverty.c).
 *
 * A state written by version 1.x (no 'M' marker; unit-first keys) is
 * refused as corrupt rather than misread: rebuild it ('povtrack rebuild
 * poverty') after upgrading.
 *
 * Every function returning int gives 0 or a POVTRACK_* error, logged
 * through the host.
 */
#ifndef POVTRACK_POVERTY_STATE_H
#define POVTRACK_POVERTY_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <povtrack/plugin_util.h>
#include <povtrack/plugin.h>

#define POV_RELAPSE_YEARS 3 /* relapsed_1y .. relapsed_3y */

#define POV_LAYOUT 4
#define POV_CLEAN INT64_MAX /* dirty_from when nothing is dirty */

enum pov_counter {
    C_POOR,
    C_NEAR,
    C_ESCAPED,
    C_NEWLY,
    C_RELAPSED,
    C_NEAR_FORMER, /* near-poor, poor in an earlier year */
    C_REL1,        /* escaped this year, poor again within 1 year; C_REL1 +
                      k - 1 for k years */
    C_EXIT_NEXT = C_REL1 + POV_RELAPSE_YEARS, /* poor, exited next year */
    C_MOVED_IN,       /* poor the year before elsewhere, moved here */
    C_MOVED_OUT_NEXT, /* poor here, moved away next year */
    C_COUNT
};

#define POV_YKEY_LEN (1 + 8 + PU_UNIT_W)
#define POV_C_VLEN (8 * C_COUNT)
#define POV_B_VLEN 24
#define POV_D_VLEN 16
#define POV_N_VLEN 32
#define POV_M_VLEN 16

/*
 * The plugin instance, handed to every module: the host, the config
 * (read by poverty.c's init) and the unit chains apply has met.
 */
struct poverty {
    const struct povtrack_host *host;
    double target_min_pp;
    double target_max_pp;
    double md_min_pp; /* multidimensional band */
    double md_max_pp;
    double relapse_max_share; /* percent */
    struct pu_units units;    /* unit chains met so far (apply only) */
};

/* The households denominator of one (unit, year): the value of 'N'. */
struct pov_denom {
    bool has_published;
    int64_t published;
    int64_t childsum;
    int64_t childknown;
};

/* The key prefix year[8] unit[5] of the yearly keys. */
static inline void pov_ykey(uint8_t *k, char prefix, int64_t year,
                            const uint8_t *unit)
{
    k[0] = (uint8_t)prefix;
    pu_put_key_i64(k + 1, year);
    memcpy(k + 9, unit, PU_UNIT_W);
}

static inline bool pov_denom_known(const struct pov_denom *n)
{
    return n->has_published || n->childknown > 0;
}

static inline int64_t pov_denom_value(const struct pov_denom *n)
{
    if (n->has_published)
        return n->published;
    return n->childknown > 0 ? n->childsum : 0;
}

/* ---- the layout marker and the dirty years ---- */

/*
 * Read 'M' into *dirty_from.  A state without it is new (empty: written
 * now when writable) or of an older layout (refused).  Returns 0,
 * POVTRACK_EFORMAT for a state of another layout or POVTRACK_EIO (both
 * logged).
 */
int pov_meta_load(struct poverty *p, povtrack_ctx *ctx, bool writable,
                  int64_t *dirty_from);
int pov_meta_put(struct poverty *p, povtrack_ctx *ctx, int64_t dirty_from);

/* ---- counters and denominators ---- */

/* Counters 'C' or 'O' of (year, unit).  Returns 0 (absent reads as zeros)
 * or POVTRACK_EIO. */
int pov_counters_get(struct poverty *p, povtrack_ctx *ctx, char prefix,
                     int64_t year, const uint8_t *unit, int64_t c[C_COUNT]);
int pov_counters_add(struct poverty *p, povtrack_ctx *ctx, char prefix,
                     int64_t year, const uint8_t *unit,
                     const int64_t d[C_COUNT]);

/* 'B' of (year, unit): poor_start, exited and moved_out. */
enum pov_start { B_POOR, B_EXITED, B_MOVED_OUT, B_COUNT };
int pov_start_get(struct poverty *p, povtrack_ctx *ctx, int64_t year,
                  const uint8_t *unit, int64_t b[B_COUNT]);
int pov_start_add(struct poverty *p, povtrack_ctx *ctx, int64_t year,
                  const uint8_t *unit, const int64_t d[B_COUNT]);

/* 'E' of year: whether a change of units is effective in it (1, 0), or
 * POVTRACK_EIO; and marking it. */
int pov_reform_year(struct poverty *p, povtrack_ctx *ctx, int64_t year);
int pov_reform_mark(struct poverty *p, povtrack_ctx *ctx, int64_t year);

/* 'N' of (year, unit); absent reads as unknown. */
int pov_denom_get(struct poverty *p, povtrack_ctx *ctx, int64_t year,
                  const uint8_t *unit, struct pov_denom *n);
int pov_denom_put(struct poverty *p, povtrack_ctx *ctx, int64_t year,
                  const uint8_t *unit, const struct pov_denom *n);

/* ---- scanning a year ---- */

/* The entries of one prefix and year: unit[5] then the value (vlen bytes;
 * 0 keeps no value), one after another. */
struct pov_coll {
    uint8_t *buf;
    size_t n, cap; /* entries */
    size_t vlen;
    int err;
};

/* Collect the (year) entries of prefix into c (c->vlen set by the caller).
 * Returns 0 or POVTRACK_EIO (logged); the caller frees c->buf. */
int pov_coll_year(const struct povtrack_host *host, povtrack_ctx *ctx,
                  char prefix, int64_t year, struct pov_coll *c);

/* Entry i: its unit[5], then its value. */
static inline const uint8_t *pov_coll_at(const struct pov_coll *c, size_t i)
{
    return c->buf + i * (PU_UNIT_W + c->vlen);
}

/* Delete every key of prefix and year. */
int pov_del_year(struct poverty *p, povtrack_ctx *ctx, char prefix,
                 int64_t year);

#endif
