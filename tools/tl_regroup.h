/*
 * tl_regroup.h - which unit in force at a date takes what was recorded
 * under a unit code of any time, asked of the daemon.
 *
 * Reports and summaries are on the units in force at their as_of; the
 * plugins regroup their figures themselves, but alerts carry the unit they
 * were raised on, which may since have merged, split or been abolished.
 * The daemon answers {"op": "units", "regroup": [codes], "at": T} with the
 * code each one's households are under at T (the rule of ev_unit_map:
 * merge -> successor, split -> the part keeping the code else the first
 * successor, abolished -> its parent of the day before, and on).
 *
 * Usage: tl_regroup_add() every code met, tl_regroup_ask() once, then
 * tl_regroup_get().  Codes are asked in batches the daemon's default
 * container limit accepts.
 */
#ifndef POVTRACK_TL_REGROUP_H
#define POVTRACK_TL_REGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tl_cli.h"

#define TL_REGROUP_CODE_MAX 16

struct tl_regroup_entry {
    char code[TL_REGROUP_CODE_MAX];
    char now[TL_REGROUP_CODE_MAX]; /* "" until asked, or when none */
};

struct tl_regroup {
    int64_t at;
    struct tl_regroup_entry *v;
    size_t n, cap;
    bool sorted; /* v is sorted by code and has no duplicates */
};

/* An empty map onto the units in force at at. */
void tl_regroup_init(struct tl_regroup *rg, int64_t at);
void tl_regroup_free(struct tl_regroup *rg);

/* Note code to be asked for: 0 or POVTRACK_ENOMEM (a code longer than any
 * unit's is noted as it is and will map to none). */
int tl_regroup_add(struct tl_regroup *rg, const char *code);

/* Ask the daemon for every code noted: 0, or the exit code after the
 * failure was printed (tl_cli_request's). */
int tl_regroup_ask(struct tl_regroup *rg, struct tl_cli *cli);

/* The code in force at rg->at that takes code, or NULL when the daemon
 * knows none (or code was not asked for). */
const char *tl_regroup_get(const struct tl_regroup *rg, const char *code);

/* Say on f why unit cannot be the root of a summary on the
 * units in force at at: where what was recorded under it is then ("unit
 * 60 is not in force on 2025-12-31: what was recorded under it is in 68;
 * ask for 68"), or that povtrackd knows no such unit then.  Returns
 * TL_EXIT_FAIL. */
int tl_regroup_refuse_root(struct tl_cli *cli, FILE *f, const char *unit,
                           int64_t at);

#endif /* POVTRACK_TL_REGROUP_H */
