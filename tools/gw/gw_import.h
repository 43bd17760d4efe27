/*
 * gw_import.h - POST /api/v1/import: a donations spreadsheet (CSV) from
 * the dashboard, read by the code of `povtrack import-csv` (tl_import.h)
 * on the gateway and checked by povtrackd's validate operation, so that
 * the clerk sees every row's error before anything is stored.
 *
 * The body is the CSV file (UTF-8, or the encoding given; a header row);
 * the query string carries the command line's options: unit, type, sheet,
 * id_column, delimiter (found from the header when absent), encoding, and
 * dry_run.  The ids are the CLI's (tl_import.h, "Stable ids": the receipt
 * number or the row's content, and the user's publisher key), so the same
 * rows imported again, under any file name, store nothing twice.  Each row
 * becomes one event or one error: the rows the importer cannot read
 * ("column so_tien: empty amount") and the events povtrackd refuses (field
 * and reason), by spreadsheet row (the header is row 1).  Without dry_run
 * the file is stored only when no row has an error: all rows or none.
 * Answer: {"dry_run", "rows", "valid", "errors": [{"row", "column"?,
 * "field"?, "id"?, "reason"}], "notes", "imported", "duplicates",
 * "last_seq", "acks": [{"row", "id", "status", "seq"}], "repeated":
 * [{"row", "repeats"}] (rows identical to an earlier one, sent once)};
 * status 200 when
 * no row has an error, else 400 (409 when an id was reused with other
 * content, 403 when only rights are missing), as POST /api/v1/events.
 */
#ifndef POVTRACK_GW_IMPORT_H
#define POVTRACK_GW_IMPORT_H

#include "gw_http.h"

enum MHD_Result gw_import(struct gw_req *r);

#endif /* POVTRACK_GW_IMPORT_H */
