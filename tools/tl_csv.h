/*
 * tl_csv.h - read a table saved from a spreadsheet as CSV: a header row,
 * then data rows, each given to a sink with its row number.
 *
 * What the reader does, so that the importers (tl_import, tl_unitmap,
 * tl_units) all read tables alike:
 *  - The text: UTF-8, with or without the byte order mark Excel writes;
 *    or, when opts->encoding names one, that encoding (iconv of the C
 *    library: "cp1258" is Excel's legacy Vietnamese, "cp1252" its Western
 *    European), converted to UTF-8.  Text that is not valid UTF-8 without
 *    an encoding is refused as a whole, with the line and what to do, and
 *    so is an encoding given for a file that is valid UTF-8 with non-ASCII
 *    text in it (it would turn every accented letter into two).
 *  - Then composed to NFC (tl_nfc), so that a name is the same bytes
 *    whether the program that wrote it composed its letters or not (the
 *    Windows-1258 code page writes tone marks apart).
 *  - The cell separator is opts->delim, or when 0 the one of ',', ';' and
 *    tab that the header line (outside quotes) holds most of: Excel
 *    writes ';' in a Vietnamese locale.  A header line with none is ','.
 *  - The syntax is strict (libcsv's CSV_STRICT and CSV_STRICT_FINI): a
 *    quote inside an unquoted cell, or a quoted cell still open at the end
 *    of the file, is an error.
 *  - Rows are numbered as the spreadsheet numbers them: the header is row
 *    1, and each LF, CR or CRLF outside quotes ends one row, so an empty
 *    line is a row too and the numbers follow the file.  A line break
 *    inside a quoted cell is part of the cell.
 *  - Cells are copied with spaces, tabs and no-break spaces trimmed at
 *    both ends, and a trailing '\r' as well.  An empty cell is "", never
 *    NULL.
 *  - The first row is the header, even when it is empty (n is then 0); its
 *    names are given as written (trimmed): the importers match them with
 *    tl_fold_key() and quote them as the clerk wrote them.
 *  - A data row with no cell or only empty cells (what spreadsheets leave
 *    at the end) keeps its number but is not given to the sink.
 */
#ifndef POVTRACK_TL_CSV_H
#define POVTRACK_TL_CSV_H

#include <stddef.h>
#include <stdio.h>

#include "tl_error.h"

/* How to read the file; a NULL opts is all defaults. */
struct tl_csv_opts {
    char delim;           /* cell separator; 0: found from the header line */
    const char *encoding; /* NULL or "utf-8": UTF-8; else an iconv name */
};

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
 * or sets err and returns, before any row is given for the first four:
 *  - POVTRACK_EINVALID "line 7 is not UTF-8 text (byte 0xe9): save the
 *    spreadsheet as CSV UTF-8, or give --encoding cp1258 ..." (and the
 *    other refusals of the text above);
 *  - POVTRACK_EINVALID "unknown encoding \"x\" ...";
 *  - POVTRACK_EINVALID "empty file: no header row";
 *  - POVTRACK_EIO "read error";
 *  - POVTRACK_EINVALID "CSV syntax error after row R: <libcsv's reason>" (R:
 *    the last row read in full), or "CSV syntax error at the end: <reason>";
 *  - POVTRACK_ENOMEM "out of memory".
 * libcsv's own buffer running out of memory is a POVTRACK_EINVALID syntax
 * error too, its reason "memory exhausted while increasing buffer size".
 * Rows given to the sink before a failure stay given. */
int tl_csv_read(FILE *in, const struct tl_csv_opts *opts,
                const struct tl_csv_sink *sink, struct tl_error *err);

/* Free cells[0..n) and the array (NULL: nothing). */
void tl_csv_free(char **cells, size_t n);

#endif /* POVTRACK_TL_CSV_H */
