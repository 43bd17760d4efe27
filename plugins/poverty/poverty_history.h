/*
 * poverty_history.h - households' histories: each household's statuses,
 * moves and exits ('H' of poverty_state.h), and the counters they
 * contribute to the own keys 'O' (rolled up through poverty_units.h).
 *
 * A household's counters follow from its whole history: its status per
 * year (poor, near-poor), and its flows of a year y, all in the unit of its
 * year-y status: escaped (poor in y-1, an explicit non-poor status in y;
 * a missing year is no information), newly poor or relapsed (poor in y but
 * not in y-1; relapsed when poor in some earlier year), near-poor formerly
 * poor, and for an escape whether it was poor again within 1, 2 and 3
 * years (keyed by the year of the escape, the cohort).  A record changes
 * the history; the contributions of the history before and after are
 * computed and only the difference is applied, so a replaced record (a
 * corrected status, a household filed under another unit) is never
 * counted twice, and the flows of the years around it are corrected.
 *
 * household.exited(h, Y, reason) records that h left the register in Y.
 * exited(u, Y) counts the households poor in Y-1 with an exit in Y, in the
 * unit of their Y-1 status regrouped as poor_start is (the counter
 * exited_next of Y-1).  Exits are kept in the household's history beside
 * its statuses: a Y-1 status arriving after the exit is counted
 * consistently, and a later exit for the same (h, Y) replaces the earlier
 * one.  Statuses of an exited household are counted as recorded, for any
 * year: a household recorded twice shows as a gap in the flow identity
 * (poverty.c), not hidden.
 *
 * household.moved(h, from, to, at) records that h moved in the local year
 * Y of "at" (the last move of a year in log order is kept).  A household
 * poor in Y-1 that moved in Y and did not exit in Y counts as moved_out(Y)
 * where its Y-1 status is, regrouped as poor_start is (the counter
 * moved_out_next of Y-1), and as moved_in(Y) in the unit of its Y status
 * (where its Y figures count), or where it moved to when it has none (its
 * missing status then shows there).  So a poor household that moves, as
 * when a split commune's households are assigned to the new communes,
 * balances the flow identity of both units; without the move it leaves a
 * gap in each.
 */
#ifndef POVTRACK_POVERTY_HISTORY_H
#define POVTRACK_POVERTY_HISTORY_H

#include <stdbool.h>

#include "poverty_state.h"
#include <povtrack/plugin.h>

/*
 * household.status, household.moved or household.exited: record it in the
 * household's history, replacing any earlier record of the same kind for
 * that year (a move's year is the local year of its "at"), and apply the
 * change of its contributions ('O' and the rolled-up keys).  Returns 0 or
 * POVTRACK_EIO.
 */
int pov_apply_record(struct poverty *p, povtrack_ctx *ctx,
                     const struct ev_event *ev);

#endif
