/*
 * ev_unit.h - administrative units over time, and the reference checks of
 * events against them.
 *
 * Units change: on 1 July 2025 Vietnam abolished districts, merged 63
 * provinces into 34 and merged communes, and an enlarged commune often
 * keeps one predecessor's code (22924 was the ward Phu Thuy before, and the
 * larger merged ward after).  A code alone is therefore not a unit: the
 * registry keeps, per code, a history of spans, each with the name, level
 * and parent the code had from one instant to another.
 *
 * The country: EV_COUNTRY, level central, no parent; a province's parent
 * is none (a province's own log) or the country (the national daemon's,
 * README Many provinces), so that the same plugins answer for the whole
 * country.  "00" is two digits like a province's code, and no province
 * has it (the GSO's codes run from 01).
 *
 * Invariants the rules below keep, so that a walk up the hierarchy at any
 * instant always ends at a province or the country:
 *   - a code's spans are sorted, do not overlap, and are at most
 *     EV_SPANS_MAX; once a code has ended without going on it is never used
 *     again (Decision 124/2004: a closed code is not reassigned);
 *   - a code's level never changes (it is fixed by the code's length);
 *   - while a span is in force its parent is in force, at a higher level.
 *
 * How the events change histories:
 *
 *   unit.defined (code, name, parent, level, effective?)
 *     Without effective: the code's first definition, from the beginning of
 *     time; sent again, it may rename that first span but not move it.
 *     With effective E: a new code is in force from E; a code already in
 *     force goes on from E with the new name and parent (its current span
 *     ends at E); a span starting exactly at E may be renamed.  Changes come
 *     in date order: E must be after the start of the code's last span.
 *
 *   unit.changed (kind, effective E, predecessors, successor(s), name?,
 *                 parent?)
 *     Every predecessor must be in force just before E and not have
 *     changed since.  A predecessor that is not a successor ends at E, and
 *     must by then have no unit under it (move or end those first).  A
 *     successor that is also a predecessor goes on (with a new span from E
 *     when name or parent change); a successor already in force at E
 *     absorbs the predecessors; a merge's successor not defined at E is
 *     created from E with the event's name and parent.  A split's new
 *     successors must be defined (unit.defined with effective E) first.
 *     kinds: merge (predecessors -> successor), split (one -> successors),
 *     rename, reparent (one unit, keeps its code), abolish (no successor).
 *
 * Where a unit's households go (ev_unit_map) when it ends: to the unit it
 * merged into; on a split, to the first successor (the part that keeps the
 * code, when one does, goes on under the code itself); when abolished, to
 * its parent of the day before, and from there on.
 */
#ifndef POVTRACK_EV_UNIT_H
#define POVTRACK_EV_UNIT_H

#include <stdint.h>

#include "ev_event.h"

#define EV_TIME_MIN INT64_MIN /* a span open to the past */
#define EV_TIME_MAX INT64_MAX /* a span open to the future */
#define EV_SPANS_MAX 8        /* spans of one code */
#define EV_COUNTRY "00"       /* the country's unit code (level central) */

/* One span of a code's history: in force on [from, to). */
struct ev_span {
    int64_t from;
    int64_t to;
    struct ev_str name;
    struct ev_str parent; /* ptr NULL for a province */
    enum ev_level level;
    /* How the span ended when the code did not go on at "to": merge, split
     * or abolish; EV_CHANGE_NONE while open or when a next span starts at
     * "to". */
    enum ev_change ended_by;
    struct ev_str successor; /* merge or split: where its households went */
    /* When the log learnt of it: the sequence of the record that began the
     * span, and of the one that gave it its end (0: open, or not known -
     * a log written before spans were versioned).  Set by storage. */
    uint64_t since_seq;
    uint64_t closed_seq;
};

struct ev_history {
    struct ev_str code;
    uint32_t n; /* spans, 1..EV_SPANS_MAX, sorted by from */
    struct ev_span span[EV_SPANS_MAX];
};

/* Index of the span in force at t, or -1. */
int ev_history_find(const struct ev_history *h, int64_t t);
/* Index of the last span that started at or before t, or -1. */
int ev_history_latest(const struct ev_history *h, int64_t t);

/* The history as the log knew it just after record seq: spans begun later
 * are dropped, and ends given later are undone.  Plugins read the registry
 * as of the record they apply, so that a change recorded later does not
 * make a rebuild differ from the live state. */
void ev_history_as_of(struct ev_history *h, uint64_t seq);

/* The registry as the rules read it.  history() returns POVTRACK_OK,
 * POVTRACK_ENOTFOUND (no such code) or another error; strings may point into
 * the registry's storage and must stay valid while the caller works.
 * child_after() looks for a unit whose span ends after t (to > t) with
 * parent as its parent: POVTRACK_OK with *child set, POVTRACK_ENOTFOUND, or an
 * error. */
struct ev_registry {
    void *arg;
    int (*history)(void *arg, struct ev_str code, struct ev_history *out);
    int (*child_after)(void *arg, struct ev_str parent, int64_t t,
                       struct ev_str *child);
};

/* The histories a unit.defined or unit.changed leaves behind. */
#define EV_UPDATE_MAX (2 * EV_CODES_MAX)
struct ev_unit_update {
    uint32_t n;
    struct ev_history hist[EV_UPDATE_MAX];
};

/*
 * Apply the rules above to a unit.defined or unit.changed event: POVTRACK_OK
 * with out holding the new history of every code the event touches (strings
 * point into the event or the registry's storage: write them out before the
 * registry changes), POVTRACK_EINVALID with err naming the field and the
 * reason, or the registry's error.  out is large (about 40 KiB): allocate it.
 */
int ev_unit_update(const struct ev_event *ev, const struct ev_registry *reg,
                   struct ev_unit_update *out, struct ev_error *err);

/*
 * Reference checks that need the registry.  The event's unit (and
 * relocation.completed's and household.moved's "from") must be in force
 * at the event's "at"; unit.defined and unit.changed must pass
 * ev_unit_update's rules; a unit.defined code's length must match its
 * level (province 2, district 3, commune 5 digits).  A record.corrected is
 * checked as the record it holds (data.type); a record.voided has nothing
 * to check here (its unit is its target's: the log checks its target).
 * Returns POVTRACK_OK, POVTRACK_EINVALID (err set), POVTRACK_ENOMEM or the
 * registry's error.
 */
int ev_check_refs(const struct ev_event *ev, const struct ev_registry *reg,
                  struct ev_error *err);

/*
 * Where the households of code, as the code stood at t0, are at t1 >= t0:
 * *out is a code in force at t1 (it points into the registry's storage).
 * When code is not in force at t0, its last span that started before t0
 * is taken.  POVTRACK_ENOTFOUND when there is no such span or the trail ends (a
 * province abolished without successor); POVTRACK_EINVAL when t1 < t0.
 */
int ev_unit_map(const struct ev_registry *reg, struct ev_str code, int64_t t0,
                int64_t t1, struct ev_str *out);

/* "YYYY-MM-DD", the date of t in Vietnam (UTC+7), for messages; "the beginning"
 * for EV_TIME_MIN and "never" for EV_TIME_MAX.  buf holds 32 bytes. */
#define EV_DATE_LEN 32
const char *ev_fmt_date(int64_t t, char *buf);

#endif /* POVTRACK_EV_UNIT_H */
