/*
 * gw_import.c - see gw_import.h.
 */
#include "gw_import.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gw_api.h"
#include "tl_import.h"

/* What the importer made of the sheet, in row order. */
struct rows {
    json_t *events;        /* the good rows' events, repeats left out */
    json_t *at_row;        /* the spreadsheet row of each of them */
    json_t *errors;        /* {"row", "column"?, "reason"} */
    json_t *notes;         /* text */
    json_t *repeated;      /* {"row", "repeats"}: not sent a second time */
    size_t count;          /* data rows read */
    char unit_column[128]; /* the header rows take their unit from, or "" */
};

/* The sheet's rows and problems into rs. */
static int collect(const struct tl_import_sheet *s, struct rows *rs)
{
    rs->count = s->data_rows;
    snprintf(rs->unit_column, sizeof rs->unit_column, "%s", s->unit_column);
    for (size_t i = 0; i < s->nrows; i++) {
        const struct tl_import_row *row = &s->rows[i];
        int rc = row->repeats != 0
                     ? json_array_append_new(
                           rs->repeated,
                           json_pack("{s:I,s:I}", "row", (json_int_t)row->row,
                                     "repeats", (json_int_t)row->repeats))
                     : json_array_append(rs->events, row->event) ||
                           json_array_append_new(
                               rs->at_row, json_integer((json_int_t)row->row));
        if (rc != 0)
            return POVTRACK_ENOMEM;
    }
    for (size_t i = 0; i < s->nproblems; i++) {
        const struct tl_import_problem *p = &s->problems[i];
        json_t *e = json_pack("{s:I,s:s}", "row", (json_int_t)p->row, "reason",
                              p->reason != NULL ? p->reason : p->text);
        if (e == NULL)
            return POVTRACK_ENOMEM;
        if (p->column != NULL)
            json_object_set_new(e, "column", json_string(p->column));
        if (json_array_append_new(rs->errors, e) != 0)
            return POVTRACK_ENOMEM;
    }
    for (size_t i = 0; i < s->nnotes; i++)
        if (json_array_append_new(rs->notes, json_string(s->notes[i])) != 0)
            return POVTRACK_ENOMEM;
    return 0;
}

/* The spreadsheet row of the index-th event. */
static json_int_t row_of(const struct rows *rs, json_t *index)
{
    return json_integer_value(
        json_array_get(rs->at_row, (size_t)json_integer_value(index)));
}

/* Each item of items (a summary's "conflicts" or "acks") appended to out
 * as {"row", keys...}: its index as the spreadsheet's row, the keys copied
 * (null when absent). */
static void by_spreadsheet_row(const struct rows *rs, json_t *items,
                               const char *const keys[3], json_t *out)
{
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it)
    {
        json_t *o =
            json_pack("{s:I}", "row", row_of(rs, json_object_get(it, "index")));
        for (int k = 0; o != NULL && k < 3; k++) {
            json_t *v = json_object_get(it, keys[k]);
            json_object_set(o, keys[k], v != NULL ? v : json_null());
        }
        if (o != NULL)
            json_array_append_new(out, o);
    }
}

/* povtrackd's refusals name the event's field; the clerk knows the
 * spreadsheet's column.  A refused unit ("unit: 99999 is not defined")
 * came from the unit column, when the sheet has one (else from the unit
 * asked for, which has no column). */
static void unit_columns(const struct rows *rs, json_t *errors)
{
    size_t i;
    json_t *e;
    if (rs->unit_column[0] == '\0')
        return;
    json_array_foreach(errors, i, e)
    {
        const char *field = json_string_value(json_object_get(e, "field"));
        if (field != NULL && strcmp(field, "unit") == 0 &&
            json_object_get(e, "column") == NULL)
            json_object_set_new(e, "column", json_string(rs->unit_column));
    }
}

static int by_row(const void *a, const void *b)
{
    json_int_t x = json_integer_value(
                   json_object_get(*(json_t *const *)a, "row")),
               y = json_integer_value(
                   json_object_get(*(json_t *const *)b, "row"));
    return (x > y) - (x < y);
}

/* The errors in row order (the importer's and the daemon's interleave). */
static json_t *sorted(json_t *errors)
{
    size_t n = json_array_size(errors);
    json_t **v = calloc(n + 1, sizeof *v);
    json_t *out = json_array();
    for (size_t i = 0; v != NULL && i < n; i++)
        v[i] = json_array_get(errors, i);
    if (v != NULL)
        qsort(v, n, sizeof *v, by_row);
    for (size_t i = 0; v != NULL && out != NULL && i < n; i++)
        json_array_append(out, v[i]);
    free(v);
    return out;
}

/* The import options of the query string, as `povtrack import-csv` takes
 * them; 0, or the error answered.  The ids are the CLI's: from the
 * receipt numbers or the rows' content and the publisher's key, so a sheet
 * imported again, from here or with the CLI and the same key, under any
 * name, stores nothing twice. */
static int options(struct gw_req *r, struct tl_import_opts *o,
                   enum MHD_Result *result)
{
    const char *delim = gw_arg(r, "delimiter");

    o->type = gw_arg(r, "type");
    if (o->type != NULL && o->type[0] == '\0')
        o->type = NULL;
    if (o->type != NULL && !tl_import_type_ok(o->type)) {
        *result = gw_reply_error(r, 400, "type", 0,
                                 "%.64s is not a type a spreadsheet can give "
                                 "(donation.received, the default; "
                                 "donation.pledged, fund.disbursed ...: "
                                 "the types of the catalogue but units and "
                                 "household.assessed)",
                                 o->type);
        return POVTRACK_EINVALID;
    }
    o->unit = gw_arg(r, "unit");
    if (o->unit != NULL && o->unit[0] == '\0')
        o->unit = NULL;
    o->sheet = gw_arg(r, "sheet");
    if (o->sheet != NULL && o->sheet[0] == '\0')
        o->sheet = NULL;
    o->id_column = gw_arg(r, "id_column");
    if (o->id_column != NULL && o->id_column[0] == '\0')
        o->id_column = NULL;
    o->encoding = gw_arg(r, "encoding");
    o->publisher = r->who->public_key;
    o->lang = r->who->lang == GW_LANG_EN ? TL_LANG_EN : TL_LANG_VI;
    if (gw_api_arg_flag(r, "allow_duplicate_rows", &o->allow_duplicate_rows,
                        result) != 0)
        return POVTRACK_EINVALID;
    /* The note on a repeated row names the upload page's box (the
     * allow_duplicate_rows of this request), not the CLI's flag. */
    o->allow_duplicates_how =
        o->lang == TL_LANG_EN
            ? "tick “Identical rows are separate donations”"
            : "đánh dấu ô “Hai dòng giống nhau là hai lần ủng hộ”";
    o->now = (int64_t)time(NULL);
    o->delim = 0; /* the reader finds it */
    if (delim != NULL && strcmp(delim, "tab") == 0)
        o->delim = '\t';
    else if (delim != NULL && strlen(delim) == 1 && strchr(",;|", delim[0]))
        o->delim = delim[0];
    else if (delim != NULL && delim[0] != '\0') {
        *result = gw_reply_error(r, 400, "delimiter", 0,
                                 "must be \",\", \";\", \"|\" or \"tab\"");
        return POVTRACK_EINVALID;
    }
    return 0;
}

/* Read the body with the CLI's importer; 0, or the error answered. */
static int read_rows(struct gw_req *r, const struct tl_import_opts *o,
                     struct rows *rs, enum MHD_Result *result)
{
    struct tl_import_sheet sheet;
    struct tl_error err = {{0}};

    if (r->body == NULL || r->len == 0) {
        *result = gw_reply_error(r, 400, "body", 0,
                                 "send the spreadsheet as the body (CSV, "
                                 "UTF-8, a header row)");
        return POVTRACK_EINVALID;
    }
    FILE *in = fmemopen(r->body, r->len, "r");
    if (in == NULL) {
        *result = gw_reply_error(r, 500, NULL, 0, "out of memory");
        return POVTRACK_ENOMEM;
    }
    int rc = tl_import_read(in, o, &sheet, &err);
    fclose(in);
    if (rc == 0)
        rc = collect(&sheet, rs);
    /* A sheet refused whole says why in its row-0 problems (which
     * required column is missing, and the unknown header that may be it):
     * the summary alone ("lacks 1 column") would not tell the clerk which. */
    char why[sizeof err.msg + 1024];
    size_t len = (size_t)snprintf(why, sizeof why, "%s", err.msg);
    for (size_t i = 0;
         rc == POVTRACK_EINVALID && i < sheet.nproblems && len < sizeof why;
         i++)
        if (sheet.problems[i].row == 0)
            len +=
                (size_t)snprintf(why + len, sizeof why - len, "%s%s",
                                 len > 0 ? "; " : "", sheet.problems[i].text);
    tl_import_free(&sheet);
    if (rc == POVTRACK_EINVALID)
        *result = gw_reply_error(r, 400, "body", 0, "%s", why);
    else if (rc != 0)
        *result = gw_reply_error(r, 500, NULL, 0, "%s",
                                 err.msg[0] ? err.msg : povtrack_strerror(rc));
    else if (rs->count == 0) {
        *result = gw_reply_error(r, 400, "body", 0,
                                 "the file has a header but no rows");
        rc = POVTRACK_EINVALID;
    }
    return rc;
}

/* How many rows have an error (errors sorted by row; row 0 is the sheet's
 * own). */
static size_t rows_with_errors(json_t *errors)
{
    json_int_t last = 0;
    size_t n = 0, i;
    json_t *e;

    json_array_foreach(errors, i, e)
    {
        json_int_t row = json_integer_value(json_object_get(e, "row"));
        if (row != 0 && row != last)
            n++;
        last = row;
    }
    return n;
}

enum MHD_Result gw_import(struct gw_req *r)
{
    struct tl_import_opts o = {0};
    struct rows rs = {json_array(),
                      json_array(),
                      json_array(),
                      json_array(),
                      json_array(),
                      0,
                      ""};
    bool dry = false;
    json_t *checked = NULL, *stored = NULL, *errors = NULL,
           *acks = json_array();
    enum MHD_Result result = MHD_NO;
    int status = 200, rc;

    if (rs.events == NULL || rs.at_row == NULL || rs.errors == NULL ||
        rs.notes == NULL || rs.repeated == NULL || acks == NULL)
        rc = POVTRACK_ENOMEM,
        result = gw_reply_error(r, 500, NULL, 0, "out of memory");
    else if ((rc = gw_api_arg_flag(r, "dry_run", &dry, &result)) == 0)
        rc = options(r, &o, &result);
    if (rc == 0)
        rc = read_rows(r, &o, &rs, &result);
    /* Every event is checked first, the file's good and bad rows alike:
     * the clerk gets all the errors at once. */
    if (rc == 0 && json_array_size(rs.events) > 0 &&
        (rc = gw_api_submit(r, rs.events, true, &checked, &status, &result)) ==
            0) {
        by_spreadsheet_row(&rs, json_object_get(checked, "conflicts"),
                           (const char *const[]){"field", "id", "reason"},
                           rs.errors);
        unit_columns(&rs, rs.errors);
    }
    if (rc == 0 && json_array_size(rs.errors) > 0 && status == 200)
        status = 400;
    /* All or nothing: stored only when no row has an error. */
    if (rc == 0 && !dry && json_array_size(rs.errors) == 0)
        rc = gw_api_submit(r, rs.events, false, &stored, &status, &result);
    if (rc == 0 && stored != NULL)
        by_spreadsheet_row(&rs, json_object_get(stored, "acks"),
                           (const char *const[]){"id", "status", "seq"}, acks);
    if (rc == 0) {
        errors = sorted(rs.errors);
        json_t *out = json_pack(
            "{s:b,s:I,s:I,s:o,s:O,s:O,s:I,s:I,s:I,s:O}", "dry_run", dry, "rows",
            (json_int_t)rs.count, "valid",
            (json_int_t)(rs.count - rows_with_errors(errors)), "errors", errors,
            "notes", rs.notes, "repeated", rs.repeated, "imported",
            (json_int_t)json_integer_value(json_object_get(stored, "imported")),
            "duplicates",
            (json_int_t)json_integer_value(
                json_object_get(stored, "duplicates")),
            "last_seq",
            (json_int_t)json_integer_value(json_object_get(stored, "last_seq")),
            "acks", acks);
        result = gw_reply_json(r, status, out);
    }
    json_decref(acks);
    json_decref(checked);
    json_decref(stored);
    json_decref(rs.events);
    json_decref(rs.at_row);
    json_decref(rs.errors);
    json_decref(rs.notes);
    json_decref(rs.repeated);
    return result;
}
