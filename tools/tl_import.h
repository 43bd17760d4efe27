/*
 * tl_import.h - a spreadsheet (CSV) of donations, disbursements and the
 * like, as a Fatherland Front clerk keeps it, turned into checked events
 * with stable ids.
 *
 * Reading (tl_import_read) checks every row before anything is sent, and
 * lists every problem of every row at once: the row as the spreadsheet
 * numbers it (the header is row 1), the column as its header is written,
 * the value, and the reason in words, in Vietnamese or English ("row 7,
 * column Ngày: 12/03/2027 is in the future"; "dòng 7, cột Ngày:
 * 12/03/2027 là ngày trong tương lai").  The checks of the catalogue are
 * the daemon's own: each row's event goes through the events module's
 * decoder (ev_decode, with "at" up to a day after opts->now), and its
 * rejection is worded for the cell it came from.  Whether a unit is
 * defined is the daemon's to say: the caller asks it (tl_unitdir) and
 * reports the units it does not know with tl_import_unknown_unit(): the
 * units of the rows kept and of the rows with other problems
 * (s->bad_row_units), so that every problem is listed at once.
 *
 * Columns are recognised by their header, whatever its case, diacritics
 * or form (tl_fold_key: "Đơn vị", "ĐƠN VỊ" and "don vi" are one column);
 * opts->columns names others ("date=Ngay nhan"), opts->sets gives a value
 * to a field the sheet has no column for, or to its empty cells
 * ("donor_kind=person").  The Vietnamese and English words of every
 * enumerated value are accepted the same way ("Ẩn danh", "an danh",
 * "anonymous").  A field the event type requires, that no column and no
 * opts->sets gives, is an error of the whole sheet, naming the columns
 * the sheet has that are not known (POVTRACK_EINVALID from
 * tl_import_read, nothing read).  The tables are in tl_import.c and in
 * `povtrack import-csv --help`.
 *
 * Cells: a date (YYYY-MM-DD, DD/MM/YYYY or D/M/YYYY) is midnight at the
 * start of that day in Vietnam (UTC+7, no daylight saving), so "at" is the
 * UTC instant 17:00 of the previous day.  Amounts are whole VND:
 * "1500000", "1.500.000", "1,500,000" and a trailing "VND", "đ" or "₫"
 * are accepted; a lone separator followed by other than three digits
 * ("1,5"), or both separators ("1.500,50"), is a decimal and refused.
 * Without a level (no column, or an empty cell), a type that takes one gets
 * the level of the row's unit (from the length of its code).
 *
 * Stable ids.  An event's id never comes from the file's name or the row's
 * position, so a sheet saved under another name, or with rows added,
 * deleted or moved, gives the same ids for the same rows:
 *   csv-<P>-<S>-bl-<receipt>   when the row has a receipt number (the
 *                              column of opts->id_column, or one headed
 *                              Số biên lai, Biên lai, Receipt, ...);
 *   csv-<P>-<S>-h<hash>        otherwise,
 * P: 8 hex digits, FNV-1a (32 bits) of the importing publisher's name
 * (opts->publisher), so two publishers never share an id;
 * S: the sheet (opts->sheet, default the event type with '-' for '.'),
 * folded to [a-z0-9-], at most TL_IMPORT_SHEET_MAX bytes;
 * receipt: the receipt number folded to [a-z0-9-] ("BL/2024-012" ->
 * "bl-2024-012"), cut to 31 bytes plus "-" and 8 hex digits of a hash when
 * longer than 40;
 * hash: 16 hex digits, FNV-1a (64 bits) of the publisher's name and the
 * row's event as the catalogue encodes it canonically without its id (so
 * the cell formats, the column order, the encoding and the ignored
 * columns do not count, the values do).
 * Rows whose events are identical (or share a receipt number with the same
 * content) are repeats: only the first is kept, the others are counted as
 * repeated, unless opts->allow_duplicate_rows, when the second gets the id
 * with ".2", the third ".3"...  Two rows with one receipt number and
 * different content are an error.  Ids are at most 128 printable ASCII
 * bytes.
 *
 * Against the log (tl_import_compare, fed the records the daemon holds):
 * each row is new, unchanged (stored with the same content), or changed
 * (its id stored with other content); records of this publisher's sheet
 * that no row gives any more are gone.  Changed and gone records are what
 * `povtrack correct`/`void` put right.  A record is compared as it now
 * stands: a correction of it (record.corrected, later in the log) replaces
 * its content, a void (record.voided) makes its row voided and takes it
 * off the gone list (what was voided needs nothing more).
 */
#ifndef POVTRACK_TL_IMPORT_H
#define POVTRACK_TL_IMPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>
#include <msgpack.h>

#include "tl_error.h"

#define TL_IMPORT_SHEET_MAX 32
#define TL_IMPORT_ID_MAX 128
#define TL_IMPORT_DEFAULT_TYPE "donation.received"

enum tl_lang { TL_LANG_EN = 0, TL_LANG_VI = 1 };

struct tl_import_opts {
    const char *type;           /* event type; NULL: donation.received */
    const char *unit;           /* unit of rows without a unit cell */
    const char *const *columns; /* "FIELD=Header" each */
    size_t ncolumns;
    const char *const *sets; /* "FIELD=value" each */
    size_t nsets;
    const char *id_column; /* header of the receipt numbers, or NULL */
    const char *publisher; /* who imports ("unauthenticated" in plain mode) */
    const char *sheet;     /* NULL: the type */
    const char *encoding;  /* tl_csv_opts */
    char delim;            /* tl_csv_opts */
    enum tl_lang lang;
    bool allow_duplicate_rows;
    /* How the user of this interface allows duplicate rows, in lang, for
     * the note on a repeated row ("if they are two donations, %s"); NULL:
     * the CLI's "give --allow-duplicate-rows". */
    const char *allow_duplicates_how;
    int64_t now; /* unix seconds; "at" may be up to a day later */
};

/* What the log says of a row (tl_import_compare). */
enum tl_row_state {
    TL_ROW_UNKNOWN = 0, /* not compared: the log could not be read */
    TL_ROW_NEW,
    TL_ROW_UNCHANGED, /* stored already, the same */
    TL_ROW_CHANGED,   /* its id is stored with other content (as the
                         record now stands, corrections included) */
    /* Appended for corrections kept in the log: */
    TL_ROW_CORRECTED, /* stored, and corrected to what the row says: not
                         sent again (its id holds the first content) */
    TL_ROW_VOIDED     /* stored, then voided: counted nowhere, not sent */
};

/* A good row: its event is valid for the catalogue. */
struct tl_import_row {
    size_t row;
    char id[TL_IMPORT_ID_MAX + 1];
    char *receipt;          /* as written, or NULL */
    json_t *event;          /* v, id, type, at, unit, household?, data */
    unsigned char *content; /* canonical msgpack without the id */
    size_t content_len;
    size_t repeats; /* 0, or the row this one repeats (not sent) */
    enum tl_row_state state;
    uint64_t seq;       /* unchanged, changed, corrected, voided: the stored
                           record's (the original's, not its amendments') */
    json_t *stored;     /* changed: the stored event, as it now stands */
    size_t corrections; /* record.corrected of the stored record seen */
};

/* A record of this sheet in the log that no row gives any more. */
struct tl_import_gone {
    uint64_t seq;
    json_t *event; /* as it now stands */
};

/* The unit code of a row with problems, which is not kept as a row: the
 * caller asks the daemon about it too, so that a unit it does not know is
 * listed with the row's other problems, not in a second round. */
struct tl_import_unit_ref {
    size_t row;
    char code[8]; /* 2, 3 or 5 digits */
};

/* A problem of one row (row 0: of the sheet as a whole). */
struct tl_import_problem {
    size_t row;
    char *column; /* the header as written, or the option ("--unit"); may
                     be NULL */
    char *value;  /* the cell, or NULL */
    char *reason; /* in opts->lang */
    char *text;   /* all of it: "row 7, column Ngày: 12/03/2027 is ..." */
};

struct tl_import_sheet {
    enum tl_lang lang;
    char type[32];
    char prefix[64];            /* "csv-<P>-<S>-": this sheet's ids */
    size_t data_rows;           /* rows read, blank ones not counted */
    struct tl_import_row *rows; /* in row order */
    size_t nrows;
    struct tl_import_problem *problems; /* in row order */
    size_t nproblems;
    char **notes; /* what the clerk should know that is not an error */
    size_t nnotes;
    /* Where rows take their unit from, for messages about it: the unit
     * column's header ("" when none), and the --unit default ("" when
     * none). */
    char unit_column[128];
    char unit_default[16];
    struct tl_import_unit_ref *bad_row_units; /* in row order */
    size_t nbad_row_units;
    struct tl_import_gone *gone; /* by sequence */
    size_t ngone;
    bool compared; /* tl_import_compared() was called */
};

/* Whether a sheet can give events of the type named (the rule
 * tl_import_read applies to opts->type): any of the catalogue but the
 * units' (units import, unitmap) and household.assessed. */
bool tl_import_type_ok(const char *name);

/* Read and check the whole sheet into s (zeroed first; free it with
 * tl_import_free() whatever this returns).  Returns 0 when the sheet
 * could be read (rows with problems are in s->problems, not errors);
 * POVTRACK_EINVALID for a sheet that cannot be imported at all (not UTF-8,
 * CSV syntax, a required column missing, bad opts), err saying why in
 * opts->lang; POVTRACK_EIO; POVTRACK_ENOMEM. */
int tl_import_read(FILE *in, const struct tl_import_opts *o,
                   struct tl_import_sheet *s, struct tl_error *err);

/* The daemon does not know unit_code (which may be a row's own, or in
 * s->bad_row_units): every row for it becomes a problem ("unit 99999 is
 * not defined in povtrackd"), and so does every row of s->bad_row_units
 * with it (taken off that list). */
int tl_import_unknown_unit(struct tl_import_sheet *s, const char *unit_code,
                           struct tl_error *err);

/* Compare with one record of the log (seq, and its event as the daemon
 * stores it): records of other publishers or sheets are skipped.  Then,
 * after the last record, tl_import_compared() makes the rows not found
 * new and lists the records no row gave as gone. */
int tl_import_compare(struct tl_import_sheet *s, uint64_t seq,
                      const msgpack_object *event, struct tl_error *err);
int tl_import_compared(struct tl_import_sheet *s, struct tl_error *err);

/* Is the row sent to the daemon: new, stored as it is (acked as a
 * duplicate), or not compared?  Not when changed, corrected or voided. */
bool tl_import_row_sent(const struct tl_import_row *row);

/* A one-line description of an event for messages: "2,000,000 VND from
 * Nguyễn Văn An, 2024-10-17, unit 22957" (in s->lang). */
void tl_import_describe(const struct tl_import_sheet *s, const json_t *event,
                        char *buf, size_t cap);

void tl_import_free(struct tl_import_sheet *s);

/*
 * A correction sheet: one row per field to correct, with the columns
 *   Số biên lai / Receipt / id   the record: a receipt number of this
 *                                publisher's sheet (the id import-csv gave
 *                                it), a record's id, or #N (its sequence)
 *   Trường / Field / Cột         the field: as a data sheet's header says
 *                                it (Số tiền, Đơn vị, Ngày ...) or its
 *                                wire name (amount, unit, at ...)
 *   Giá trị mới / New value      the value, written as a cell of that
 *                                column would be; empty: remove an
 *                                optional field
 *   Lý do / Reason               why (required)
 * in any order, headers matched as a data sheet's are.  Every problem of
 * every row is listed in s->problems, with its row and the column as
 * written; s->type, s->prefix are set as for a data sheet of o.
 */
struct tl_import_fix {
    size_t row;
    char target[TL_IMPORT_ID_MAX + 1]; /* a record's id, or "#N" */
    char field[32];                    /* the wire name */
    json_t *value;                     /* NULL: remove the field */
    char *reason;
};
int tl_import_read_fixes(FILE *in, const struct tl_import_opts *o,
                         struct tl_import_sheet *s,
                         struct tl_import_fix **fixes, size_t *nfixes,
                         struct tl_error *err);
void tl_import_fixes_free(struct tl_import_fix *fixes, size_t n);

/* The wire value a spreadsheet's word means for an enumerated field
 * ("level" and "Phường" -> "commune", "donor_kind" and "ẩn danh" ->
 * "anonymous"), or NULL. */
const char *tl_import_word(const char *field, const char *word);

/* Check one event (JSON, as it will be sent) with the catalogue's decoder,
 * "at" up to max_at: 0; POVTRACK_EINVALID with the decoder's message in
 * err ("data.name: must be at most 256 bytes ..."); POVTRACK_ENOMEM.  For
 * the importers that check rows as a whole rather than cell by cell
 * (tl_units). */
int tl_import_check(const json_t *event, int64_t max_at, struct tl_error *err);

/* Cell parsers, exposed for the tests and for tl_unitmap.  Messages name
 * the problem in English, not the cell. */
int tl_parse_date(const char *s, int64_t *at, struct tl_error *err);
int tl_parse_vnd(const char *s, int64_t *amount, struct tl_error *err);

/* An instant in ISO 8601, as the web gateway takes dates: "YYYY-MM-DD"
 * (00:00 that day in Vietnam), or "YYYY-MM-DDTHH:MM[:SS[.frac]]" with "Z"
 * or an offset "+HH:MM" (without one: Vietnam time, UTC+7); fractions of
 * a second are dropped.  Into *t as unix seconds. */
int tl_parse_time(const char *s, int64_t *t, struct tl_error *err);

/* An event written by hand as JSON (povtrack send, the gateway's API):
 * its times "at", "data.effective" and "data.due" given as text in ISO
 * 8601 (tl_parse_time) become unix seconds in place; numbers are left as
 * they are.  Returns 0, POVTRACK_EINVALID with err naming the field
 * ("at: ..."), or POVTRACK_ENOMEM. */
int tl_event_times(json_t *ev, struct tl_error *err);

#endif /* POVTRACK_TL_IMPORT_H */
