/*
 * poverty_units.h - the poverty plugin's units over time: the rolled-up
 * keys on the year-end hierarchy ('C', 'N', 'B' of poverty_state.h),
 * regrouping a year's figures into the units of a later instant, and the
 * rebuild of the rolled-up keys after a change of units.  The own keys
 * ('O', 'D') hold records as they were filed; everything that depends on
 * the hierarchy is derived from them here.
 *
 * Units change (events/ev_unit.h): on 2025-07-01 districts were abolished
 * and provinces and communes merged, some keeping a predecessor's code.
 *   - A year's figures are rolled up on the hierarchy of the last instant
 *     of that year (pu_year_end, Vietnam time): a 2023 status of commune
 *     22921 counts in 22921, district 593 and province 60; a 2026 status of
 *     the merged ward 22924 counts in 22924 and province 68.
 *   - A record whose unit is not in force at the end of its year (a 2025
 *     status sent for 22921 before it merged on 2025-07-01) counts where
 *     the unit's households went (host unit_map): a merge -> the
 *     successor; a split -> the part that keeps the code, else the first
 *     successor; abolished -> the parent (and on from there); rename and
 *     reparent keep the code.  Such a unit's published households count
 *     like a child's in the successor (unless the successor publishes its
 *     own), and so does a count published by an earlier span of a code
 *     that went on under a new one: the old ward 22924's 2025 count,
 *     published in March, is at the end of 2025 a child of the new, larger
 *     22924 beside 22921's and 22936's ('D' keeps the span).  A record
 *     whose unit was not yet defined at the end of its year counts nowhere
 *     on that year's hierarchy (unit_map finds no trail).
 *   - poor_start(u, Y) and exited(u, Y) are the poor of Y-1 (and those of
 *     them that exited in Y) regrouped onto the hierarchy of the end of Y:
 *     each (unit c, year Y-1) goes to unit_map(c, end Y-1, end Y) and its
 *     ancestors then.
 *   - "as_of" T >= the end of Y answers Y's figures regrouped into the
 *     units in force at T: every unit c with own records in Y counts when
 *     unit_map(c, end Y, T) is U or below U at T; households are the sum
 *     of the effective households of the topmost units of Y (on the end-Y
 *     hierarchy) that map into U's subtree; the year before is regrouped
 *     to the same T (reduction_pp, poor_start, exited).  as_of before the
 *     end of Y is refused (regrouping runs forward only).
 *   - The host shows apply() the registry as the log stood at the record
 *     (povtrack/plugin.h).  A change of units is usually recorded after the
 *     records it regroups (the 2024 statuses before the July 2025 merger),
 *     so the plugin reads unit.defined (with "effective") and unit.changed
 *     itself: such an event marks the years from the one before its
 *     effective date "dirty" (meta key 'M'); the next record of another
 *     type first rebuilds those years' rolled-up keys ('C', 'N', 'B') from
 *     the own keys ('O', 'D') on the registry as it now stands.  Until then
 *     a query of a dirty year computes its answer from the own keys
 *     directly (the "as_of" code, at the end of the year), so answers never
 *     lag behind the registry.  Renames change no hierarchy and mark
 *     nothing.  The rebuild reads the log in the same order, so it gives
 *     the same state.
 *
 * Functions returning int give 0 or a POVTRACK_* error (POVTRACK_EIO for
 * any failure of storage, the registry or memory).
 */
#ifndef POVTRACK_POVERTY_UNITS_H
#define POVTRACK_POVERTY_UNITS_H

#include <stdbool.h>
#include <stdint.h>

#include <povtrack/plugin_util.h>
#include "poverty_state.h"
#include <povtrack/plugin.h>

/* ---- the unit registry ---- */

/* The chain of unit at "at" (pu_ancestors_cached_at): 0, POVTRACK_NOTFOUND
 * (the unit leads nowhere then) or POVTRACK_EIO (logged). */
int pov_chain_at(struct poverty *p, povtrack_ctx *ctx, struct pu_units *cache,
                 const uint8_t *unit, int64_t at, struct pu_chain *ch);

/* Where the households of unit as of "from" are at "to" (host unit_map),
 * copied into out: 0, POVTRACK_NOTFOUND or POVTRACK_EIO (logged). */
int pov_map_unit(struct poverty *p, povtrack_ctx *ctx, const uint8_t *unit,
                 int64_t from, int64_t to, uint8_t *out);

/* ---- the rolled-up keys ---- */

/*
 * unit.households: publish households(unit, year) ('D') and move the
 * effective values on the end-of-year hierarchy ('N').
 */
int pov_apply_households(struct poverty *p, povtrack_ctx *ctx,
                         const struct ev_event *ev);

/*
 * Add d (counters of records filed under unit in year) to the rolled-up
 * keys: 'C' of the unit's chain at the end of the year, and for poor and
 * exited_next, 'B' of year+1 on the chain of where the unit's households
 * are at the end of year+1.  The caller keeps 'O' itself.
 */
int pov_roll_up(struct poverty *p, povtrack_ctx *ctx, const uint8_t *unit,
                int64_t year, const int64_t d[C_COUNT]);

/* ---- changes of units ---- */

/*
 * unit.defined or unit.changed: mark the years it may regroup dirty in
 * 'M' (dirty_from is the marker's value as apply read it).
 */
int pov_apply_unit_event(struct poverty *p, povtrack_ctx *ctx,
                         const struct ev_event *ev, int64_t dirty_from);

/* Rebuild the rolled-up keys of the dirty years from "from" on, then mark
 * the state clean. */
int pov_reconcile(struct poverty *p, povtrack_ctx *ctx, int64_t from);

/* ---- regrouping from the own keys ---- */

/* What a year's figures give regrouped into one unit at one instant. */
struct pov_rg_result {
    int64_t c[C_COUNT];
    bool hh_known;
    int64_t households;
};

/*
 * Year's figures regrouped into unit as the units stand at "at" (>= the
 * end of year): counters from 'O', and households when want_hh.
 * Returns 0 or POVTRACK_EIO.
 */
int pov_regroup(struct poverty *p, povtrack_ctx *ctx, int64_t year, int64_t at,
                const uint8_t *unit, bool want_hh, struct pov_rg_result *out);

#endif
