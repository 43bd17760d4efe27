/*
 * tl_unitmap.h - turn the official mapping of administrative units (old
 * code -> new code, effective date) into unit.defined and unit.changed
 * events.
 *
 * The table is what the 2025 reorganisation published (provinces 63 -> 34,
 * districts abolished, communes merged): one row per old unit and new unit
 * it goes into.  Columns, recognised by their header (case, spaces and
 * diacritics do not matter, tl_fold_key()):
 *   old_code   (ma_cu)          required; 2, 3 or 5 digits, as text
 *   new_code   (ma_moi)         required column; an empty cell: abolished
 *   effective  (ngay_hieu_luc)  YYYY-MM-DD or DD/MM/YYYY, 00:00 in Vietnam
 *                               (UTC+7); an empty cell or no column takes
 *                               opts.effective
 *   new_name   (ten_moi)        optional
 *   new_parent (ma_cha_moi)     optional
 *   old_name   (ten_cu)         optional, only quoted in notes
 *   stt, ghi_chu, note          ignored; other columns ignored with a note
 *
 * Rules, for each effective date in ascending order:
 *  - an old code with one new code N, grouped with the others going into
 *    N: "merge" of the group (predecessors ascending) into N, with the
 *    new_name and new_parent of N when given; when the group is N alone,
 *    "reparent" (new_parent given, with the name when given), "rename"
 *    (only new_name given) or nothing (a note);
 *  - an old code with two or more new codes: "split", the successor
 *    keeping the old code first, then the others in file order (a kept
 *    code with a new name or parent also gets a rename/reparent);
 *  - an old code with an empty new code: one "abolish" per old code;
 *  - a new code that is no old code of that date is a new unit:
 *    unit.defined with "effective", new_name and new_parent (both required;
 *    a province has no parent).
 * Within a date: every unit.defined first (provinces, then districts, then
 * communes, by code), then the changes by the level of their "unit":
 * communes, districts, provinces; within a level splits, merges,
 * renames/reparents, abolitions, each by code.  The daemon then finds the
 * communes moved before their district goes and the provinces merge.
 *
 * Ids are "<prefix>-<YYYYMMDD>-<kind>-<unit>" (kind "defined" for
 * unit.defined, YYYYMMDD the effective date) and "at" is opts.at or the
 * effective date, so the same table gives the same bytes, and sending them
 * again stores nothing twice.
 *
 * A row is refused ("row 7, column new_code: \"2292\" is not a 2, 3 or 5
 * digit code") for a bad cell, an old and a new code of different levels,
 * a parent not above the unit, a name or parent on an abolished row, the
 * same old -> new pair twice on one date, an old code both abolished and
 * mapped, two different names or parents for one new code on one date, a
 * row going into a code that is itself closed on that date, a new unit
 * without name or parent, or more than TL_UNITMAP_CODES_MAX codes in a
 * merge or split.  Every bad row is reported and then no event at all.
 */
#ifndef POVTRACK_TL_UNITMAP_H
#define POVTRACK_TL_UNITMAP_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "tl_error.h"

#define TL_UNITMAP_ID_PREFIX "unitmap"
#define TL_UNITMAP_PREFIX_MAX 100 /* bytes; ids stay within 128 */
#define TL_UNITMAP_CODES_MAX 32   /* predecessors, and successors */
#define TL_UNITMAP_TEXT_MAX 256   /* bytes of a name, as the daemon wants */
/* How events are written: one compact JSON object a line, what `povtrack
 * send` reads. */
#define TL_UNITMAP_DUMP_FLAGS JSON_COMPACT

struct tl_unitmap_opts {
    const char *id_prefix; /* NULL: TL_UNITMAP_ID_PREFIX */
    bool has_effective;    /* effective: for rows without a date */
    int64_t effective;
    bool has_at; /* at: "at" of every event; otherwise the effective date */
    int64_t at;
    char delim;           /* cell separator; 0: found (tl_csv.h) */
    const char *encoding; /* NULL: UTF-8; else an iconv name (tl_csv.h) */
};

struct tl_unitmap_counts {
    size_t rows; /* data rows read, blank rows not counted */
    size_t defined, merge, split, rename, reparent, abolish;
    size_t events;
};

struct tl_unitmap_sink {
    void *arg;
    /* An event, in output order; only called when no row is bad.  The sink
     * owns ev (json_decref it).  Non-zero stops and is returned. */
    int (*event)(void *arg, json_t *ev);
    /* A bad row, in row order, msg like "row 7, column ma_moi: ...".
     * Non-zero stops and is returned. */
    int (*bad_row)(void *arg, size_t row, const char *msg);
    /* Something the user should know that is not an error (may be NULL). */
    void (*note)(void *arg, const char *msg);
};

/* Read the whole table from in, check it, then give its events to the sink.
 * Returns 0 after the last event; POVTRACK_EINVALID for a bad header, CSV
 * syntax or bad rows (each reported to the sink first; err then says how many
 * and no event was given); POVTRACK_EIO; POVTRACK_ENOMEM; or a callback's
 * non-zero code. counts (may be NULL) is filled in every case. */
int tl_unitmap_csv(FILE *in, const struct tl_unitmap_opts *o,
                   const struct tl_unitmap_sink *sink,
                   struct tl_unitmap_counts *counts, struct tl_error *err);

#endif /* POVTRACK_TL_UNITMAP_H */
