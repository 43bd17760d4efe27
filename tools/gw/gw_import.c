/*
 * gw_import.c - see gw_import.h.
 */
#include "gw_import.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_api.h"
#include "tl_import.h"

/* What the importer hands over, in row order. */
struct rows {
    json_t *events; /* the good rows' events */
    json_t *at_row; /* the spreadsheet row of each of them */
    json_t *errors; /* {"row", "column"?, "reason"} */
    json_t *notes;  /* text */
    size_t count;   /* data rows read */
};

static int on_event(void *arg, size_t row, json_t *ev)
{
    struct rows *rs = arg;
    rs->count++;
    if (json_array_append_new(rs->events, ev) != 0 ||
        json_array_append_new(rs->at_row, json_integer((json_int_t)row)) != 0)
        return POVTRACK_ENOMEM;
    return 0;
}

/* msg is "row R, column C: reason" or "row R: reason" (tl_import.c). */
static int on_bad_row(void *arg, size_t row, const char *msg)
{
    struct rows *rs = arg;
    const char *p = msg;
    if (strncmp(p, "row ", 4) == 0)
        for (p += 4; isdigit((unsigned char)*p); p++)
            ;
    json_t *e = json_pack("{s:I}", "row", (json_int_t)row);
    rs->count++;
    if (e == NULL)
        return POVTRACK_ENOMEM;
    if (strncmp(p, ", column ", 9) == 0 && strstr(p, ": ") != NULL) {
        const char *colon = strstr(p, ": ");
        json_object_set_new(e, "column",
                            json_stringn(p + 9, (size_t)(colon - p - 9)));
        p = colon + 2;
    } else if (strncmp(p, ": ", 2) == 0) {
        p += 2;
    }
    json_object_set_new(e, "reason", json_string(p));
    return json_array_append_new(rs->errors, e) == 0 ? 0 : POVTRACK_ENOMEM;
}

static void on_note(void *arg, const char *msg)
{
    struct rows *rs = arg;
    json_array_append_new(rs->notes, json_string(msg));
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

/* The import options of the query string; 0, or the error answered. */
static int options(struct gw_req *r, struct tl_import_opts *o, char *prefix,
                   enum MHD_Result *result)
{
    struct tl_error err = {{0}};
    const char *name = gw_arg(r, "name"), *delim = gw_arg(r, "delimiter");

    o->type = gw_arg(r, "type");
    o->unit = gw_arg(r, "unit");
    o->map = gw_arg(r, "map");
    if (o->unit != NULL && o->unit[0] == '\0')
        o->unit = NULL;
    o->delim = ',';
    if (delim != NULL && strcmp(delim, "tab") == 0)
        o->delim = '\t';
    else if (delim != NULL && strlen(delim) == 1 && strchr(",;|", delim[0]))
        o->delim = delim[0];
    else if (delim != NULL) {
        *result = gw_reply_error(r, 400, "delimiter", 0,
                                 "must be \",\", \";\", \"|\" or \"tab\"");
        return POVTRACK_EINVALID;
    }
    if (name == NULL || name[0] == '\0') {
        *result = gw_reply_error(r, 400, "name", 0,
                                 "give the file's name (name=donations.csv): "
                                 "the events' ids are made from it, so that "
                                 "importing the same file again stores "
                                 "nothing twice");
        return POVTRACK_EINVALID;
    }
    if (tl_import_id_prefix(name, prefix, &err) != 0) {
        *result = gw_reply_error(r, 400, "name", 0, "%s", err.msg);
        return POVTRACK_EINVALID;
    }
    o->id_prefix = prefix;
    return 0;
}

/* Read the body with the CLI's importer; 0, or the error answered. */
static int read_rows(struct gw_req *r, const struct tl_import_opts *o,
                     struct rows *rs, enum MHD_Result *result)
{
    struct tl_import_sink sink = {rs, on_event, on_bad_row, on_note};
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
    int rc = tl_import_csv(in, o, &sink, &err);
    fclose(in);
    if (rc == POVTRACK_EINVALID)
        *result = gw_reply_error(r, 400, "body", 0, "%s", err.msg);
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

enum MHD_Result gw_import(struct gw_req *r)
{
    struct tl_import_opts o = {0};
    char prefix[TL_ID_PREFIX_MAX + 1];
    struct rows rs = {json_array(), json_array(), json_array(), json_array(),
                      0};
    bool dry = gw_api_arg_true(gw_arg(r, "dry_run"));
    json_t *checked = NULL, *stored = NULL, *errors = NULL,
           *acks = json_array();
    enum MHD_Result result = MHD_NO;
    int status = 200, rc;

    if (rs.events == NULL || rs.at_row == NULL || rs.errors == NULL ||
        rs.notes == NULL || acks == NULL)
        rc = POVTRACK_ENOMEM,
        result = gw_reply_error(r, 500, NULL, 0, "out of memory");
    else
        rc = options(r, &o, prefix, &result);
    if (rc == 0)
        rc = read_rows(r, &o, &rs, &result);
    /* Every event is checked first, the file's good and bad rows alike:
     * the clerk gets all the errors at once. */
    if (rc == 0 && json_array_size(rs.events) > 0 &&
        (rc = gw_api_submit(r, rs.events, true, &checked, &status, &result)) ==
            0)
        by_spreadsheet_row(&rs, json_object_get(checked, "conflicts"),
                           (const char *const[]){"field", "id", "reason"},
                           rs.errors);
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
            "{s:b,s:I,s:I,s:o,s:O,s:I,s:I,s:I,s:O}", "dry_run", dry, "rows",
            (json_int_t)rs.count, "valid",
            (json_int_t)(rs.count - json_array_size(rs.errors)), "errors",
            errors, "notes", rs.notes, "imported",
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
    return result;
}
