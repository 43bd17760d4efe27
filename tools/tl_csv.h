/*
 * tl_csv.h - read a table saved from a spreadsheet as CSV: a header row,
 * then data rows, each given to a sink with its row number.
 *
 * What the reader does, so that the importers (tl_import, tl_unitmap) all
 * read tables alike:
 *  - The syntax is strict (libcsv's CSV_STRICT and CSV_STRICT_FINI): a
 *    quote inside an unquoted cell, or a quoted cell still open at the end
 *    of the file, is an error.  The cell separator is delim (0: ',').
 *  - A UTF-8 byte order mark at the start of the file (Excel writes one) is
 *    skipped.
 *  - Rows are numbered as the spreadsheet numbers them: the header is row
 *    1, and each LF, CR or CRLF outside quotes ends one row, so an empty
 *    line is a row too and the numbers follow the file.  A line break
 *    inside a quoted cell is part of the cell.
 *  - Cells are copied with spaces and tabs trimmed at both ends, and a
 *    trailing '\r' as well.  An empty cell is "", never NULL.
 *  - The first row is the header, even when it is empty (n is then 0); its
 *    names are normalised with tl_csv_normalise().
 *  - A data row with no cell or only empty cells (what spreadsheets leave
 *    at the end) keeps its number but is not given to the sink.
 */
#ifndef POVTRACK_TL_CSV_H
#define POVTRACK_TL_CSV_H

#include <stddef.h>
#include <stdio.h>

#include "tl_error.h"

/* Both callbacks are required. */
struct tl_csv_sink {
    void *arg;
    /* The header row (row 1).  names[0..n) and the array become the sink's
     * whatever it returns: free them with tl_csv_free(names, n) (names may
     * be NULL when n is 0).  Non-zero stops the reading and is returned by
     * tl_csv_read(). */
    int (*header)(void *arg, char **names, size_t n);
    /* A data row: row is its number (2 or more), n >= 1 and some cell is
     * not empty.  The cells stay the reader's and are freed after the call;
     * the sink may keep one by taking it (setting cells[i] to NULL).
     * Non-zero stops the reading and is returned by tl_csv_read(). */
    int (*row)(void *arg, size_t row, char **cells, size_t n);
};

/* Read all of in, giving the header and then each data row to sink.
 * Returns 0 after the last row; a callback's non-zero code as it is (the
 * callback describes its failure in err itself, the reader adds nothing);
 * or sets err and returns:
 *  - POVTRACK_EINVALID "CSV syntax error after row R: <libcsv's reason>" (R:
 * the last row read in full), "CSV syntax error at the end: <reason>", or
 *    "empty file: no header row";
 *  - POVTRACK_EIO "read error";
 *  - POVTRACK_ENOMEM "out of memory".
 * libcsv's own buffer running out of memory is a POVTRACK_EINVALID syntax error
 * too, its reason "memory exhausted while increasing buffer size".  Rows
 * given to the sink before a failure stay given. */
int tl_csv_read(FILE *in, char delim, const struct tl_csv_sink *sink,
                struct tl_error *err);

/* How header names are compared: ASCII letters in lower case and spaces
 * as '_', in place ("Số Tiền" -> "số_tiền"; other bytes are kept). */
void tl_csv_normalise(char *s);

/* Free cells[0..n) and the array (NULL: nothing). */
void tl_csv_free(char **cells, size_t n);

#endif /* POVTRACK_TL_CSV_H */
