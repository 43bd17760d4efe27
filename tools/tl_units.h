/*
 * tl_units.h - an official list of administrative units (the General
 * Statistics Office's, as ../shared/data/units-*.csv holds it) turned into
 * unit.defined events, parents before children.
 *
 * Columns, recognised by their header whatever the case and diacritics:
 *   code   (Mã, Mã đơn vị)        00 the country (level central; its
 *                                 provinces may name it as their parent),
 *                                 2 digits a province, 3 a district, 5 a
 *                                 commune, as text (leading zeros kept)
 *   name   (Tên, Tên đơn vị)      required
 *   parent (Mã cha, Mã cấp trên)  the parent's code; empty for a province
 *   level  (Cấp)                  optional: province, district or commune
 *                                 (or Tỉnh, Huyện, Xã...); it must agree
 *                                 with the code's length
 *   type   (Loại)                 "Thành phố", "Huyện"...: not stored
 * Other columns are ignored with a note.
 *
 * One event a row, in this order: provinces, districts, communes, each by
 * code, so that a parent is defined before its children in one send.
 * Ids are "<prefix>-<code>" (with --effective: "<prefix>-<YYYYMMDD>-<code>")
 * and "at" is fixed (opts.at), so loading the same list again stores
 * nothing twice.  A row is refused for a bad code, a code twice, an empty
 * name, a parent missing below a province or given for one, a parent not
 * one level above (a commune's is a district, or its province where
 * districts were abolished), a level that disagrees with the code, or an
 * event the catalogue refuses; every bad row is reported and then no
 * event at all is given.
 */
#ifndef POVTRACK_TL_UNITS_H
#define POVTRACK_TL_UNITS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "tl_error.h"

#define TL_UNITS_ID_PREFIX "units"
#define TL_UNITS_PREFIX_MAX 100

struct tl_units_opts {
    const char *id_prefix; /* NULL: TL_UNITS_ID_PREFIX */
    int64_t at;            /* "at" of every event */
    bool has_effective;    /* data.effective of every event */
    int64_t effective;
    char delim;           /* tl_csv_opts */
    const char *encoding; /* tl_csv_opts */
};

struct tl_units_counts {
    size_t rows, provinces, districts, communes;
};

struct tl_units_sink {
    void *arg;
    /* An event, in order; only when no row is bad.  The sink owns ev.
     * Non-zero stops and is returned. */
    int (*event)(void *arg, json_t *ev);
    /* A bad row, in row order ("row 7, column code: ..."). */
    int (*bad_row)(void *arg, size_t row, const char *msg);
    /* A note (may be NULL). */
    void (*note)(void *arg, const char *msg);
};

/* Read the list from in, check it, then give its events to sink.  Returns
 * 0; POVTRACK_EINVALID for a bad header, CSV, text or bad rows (err says
 * how many; no event given); POVTRACK_EIO; POVTRACK_ENOMEM; a callback's
 * code.  counts (may be NULL) is filled in every case. */
int tl_units_csv(FILE *in, const struct tl_units_opts *o,
                 const struct tl_units_sink *sink,
                 struct tl_units_counts *counts, struct tl_error *err);

#endif /* POVTRACK_TL_UNITS_H */
