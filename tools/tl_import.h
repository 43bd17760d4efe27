/*
 * tl_import.h - turn a donations spreadsheet (CSV) into events.
 *
 * The Fatherland Front keeps donations in spreadsheets with Vietnamese
 * headers.  Each row becomes one event of --type (donation.received by
 * default); the row's cells are parsed here only as far as needed to build
 * the event (dates, amounts, yes/no); whether the event is valid is the
 * daemon's decision.
 *
 * Conventions (documented in `povtrack import-csv --help`):
 *  - Rows are numbered as a spreadsheet numbers them: the header is row 1.
 *  - A date (YYYY-MM-DD or DD/MM/YYYY, also D/M/YYYY) means midnight at the
 *    start of that day in Vietnam (UTC+7, no daylight saving), so "at" is
 *    the UTC instant 17:00 of the previous day.
 *  - Amounts are whole VND: "1500000", "1.500.000", "1,500,000" and a
 *    trailing "VND", "đ" or "₫" are accepted; a lone separator followed by
 *    other than three digits ("1,5"), or both separators ("1.500,50"), is a
 *    decimal and refused.
 *  - Without an id column (or with an empty id cell) the id is derived from
 *    the file's name and the row number, so importing the same file again is
 *    idempotent (the daemon acks the events as duplicates).
 *  - Without a level (no column, or an empty cell), donation.received and
 *    fund.disbursed get the level of the row's unit (from the length of its
 *    code: 2, 3 or 5 digits).
 */
#ifndef POVTRACK_TL_IMPORT_H
#define POVTRACK_TL_IMPORT_H

#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "tl_error.h"

#define TL_ID_PREFIX_MAX 100 /* bytes, leaves room for "-r<row>" */

struct tl_import_opts {
    const char *type;      /* event type; NULL: "donation.received" */
    const char *unit;      /* unit code when there is no unit column */
    const char *map;       /* "column=field,..." or NULL */
    const char *id_prefix; /* prefix of derived ids */
    char delim;            /* cell separator; 0: ',' */
};

struct tl_import_sink {
    void *arg;
    /* A good row.  The sink owns ev (json_decref it).  Non-zero stops the
     * import and is returned by tl_import_csv(). */
    int (*event)(void *arg, size_t row, json_t *ev);
    /* A bad row, msg like "row 7, column so_tien: empty amount". */
    int (*bad_row)(void *arg, size_t row, const char *msg);
    /* Something the user should know that is not an error. */
    void (*note)(void *arg, const char *msg);
};

/* Read all of in.  Returns 0 when every row went to a callback (bad rows
 * are not errors), POVTRACK_EINVALID for a bad header, --map or CSV syntax,
 * POVTRACK_EIO, POVTRACK_ENOMEM, or a callback's non-zero code. */
int tl_import_csv(FILE *in, const struct tl_import_opts *o,
                  const struct tl_import_sink *sink, struct tl_error *err);

/* Cell parsers, exposed for the tests.  Messages name the problem, not the
 * cell: the importer adds "row R, column C: ". */
int tl_parse_date(const char *s, int64_t *at, struct tl_error *err);
int tl_parse_vnd(const char *s, int64_t *amount, struct tl_error *err);

/* An instant in ISO 8601, as the web gateway takes dates: "YYYY-MM-DD"
 * (00:00 that day in Vietnam), or "YYYY-MM-DDTHH:MM[:SS[.frac]]" with "Z"
 * or an offset "+HH:MM" (without one: Vietnam time, UTC+7); fractions of
 * a second are dropped.  Into *t as unix seconds. */
int tl_parse_time(const char *s, int64_t *t, struct tl_error *err);

/* The prefix of derived ids for a file path: "csv-" and the base name
 * without ".csv", bytes outside [A-Za-z0-9._-] replaced by '_' with a hash
 * of the original name appended when any was.  buf must hold
 * TL_ID_PREFIX_MAX + 1 bytes. */
int tl_import_id_prefix(const char *path, char *buf, struct tl_error *err);

#endif /* POVTRACK_TL_IMPORT_H */
