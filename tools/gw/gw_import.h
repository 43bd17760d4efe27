/*
 * gw_import.h - POST /api/v1/import: a donations spreadsheet (CSV) from
 * the dashboard, read by the code of `povtrack import-csv` (tl_import.h)
 * on the gateway and checked by povtrackd's validate operation, so that
 * the clerk sees every row's error before anything is stored.
 *
 * The body is the CSV file (UTF-8, header row); the query string carries
 * the command line's options: name (the file's name, from which the ids are
 * derived as the CLI derives them, so that importing the same file again
 * stores nothing twice), unit, type, delimiter, and dry_run.  Each row
 * becomes one event or one error: the rows the importer cannot read
 * ("column so_tien: empty amount") and the events povtrackd refuses (field
 * and reason), by spreadsheet row (the header is row 1).  Without dry_run
 * the file is stored only when no row has an error: all rows or none.
 * Answer: {"dry_run", "rows", "valid", "errors": [{"row", "column"?,
 * "field"?, "id"?, "reason"}], "notes", "imported", "duplicates",
 * "last_seq", "acks": [{"row", "id", "status", "seq"}]}; status 200 when
 * no row has an error, else 400 (409 when an id was reused with other
 * content, 403 when only rights are missing), as POST /api/v1/events.
 */
#ifndef POVTRACK_GW_IMPORT_H
#define POVTRACK_GW_IMPORT_H

#include "gw_http.h"

enum MHD_Result gw_import(struct gw_req *r);

#endif /* POVTRACK_GW_IMPORT_H */
