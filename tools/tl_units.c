/*
 * tl_units.c - see tl_units.h.
 *
 * The whole list is read first: its rows refer to each other (a parent in
 * another row), and the events go out sorted by level, not in file order.
 */
#include "tl_units.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "tl_csv.h"
#include "tl_fmt.h"
#include "tl_fold.h"
#include "tl_import.h"
#include "tl_unitdir.h"

enum col { C_IGNORE = 0, C_CODE, C_NAME, C_PARENT, C_LEVEL, C_COUNT };

static const char *const col_names[C_COUNT] = {"-", "code", "name", "parent",
                                               "level"};

/* Header keys (tl_fold_key). */
static const struct {
    const char *key;
    enum col col;
} aliases[] = {
    {"code", C_CODE},          {"ma", C_CODE},
    {"ma_don_vi", C_CODE},     {"ma_dvhc", C_CODE},
    {"name", C_NAME},          {"ten", C_NAME},
    {"ten_don_vi", C_NAME},    {"ten_dvhc", C_NAME},
    {"parent", C_PARENT},      {"ma_cha", C_PARENT},
    {"ma_cap_tren", C_PARENT}, {"level", C_LEVEL},
    {"cap", C_LEVEL},          {"type", C_IGNORE},
    {"loai", C_IGNORE},        {"stt", C_IGNORE},
    {"ghi_chu", C_IGNORE},     {"ten_tieng_anh", C_IGNORE},
};

struct urow {
    size_t row;
    char *code, *name, *parent;
};

struct reader {
    const struct tl_units_opts *o;
    const struct tl_units_sink *sink;
    struct tl_units_counts *counts;
    struct tl_error *err;
    char **header;
    size_t ncols;
    enum col *map;
    long col_of[C_COUNT];
    struct urow *rows;
    size_t nrows;
    size_t nbad;
};

static int nomem(struct reader *r)
{
    return tl_fail(r->err, POVTRACK_ENOMEM, "out of memory");
}

static int bad(struct reader *r, size_t row, enum col c, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int bad(struct reader *r, size_t row, enum col c, const char *fmt, ...)
{
    char why[TL_ERROR_MAX], msg[TL_ERROR_MAX + 200];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    if (c != C_COUNT && r->col_of[c] >= 0)
        snprintf(msg, sizeof(msg), "row %zu, column %s: %s", row,
                 r->header[r->col_of[c]], why);
    else
        snprintf(msg, sizeof(msg), "row %zu: %s", row, why);
    r->nbad++;
    return r->sink->bad_row(r->sink->arg, row, msg);
}

static void note(struct reader *r, const char *fmt, const char *a)
{
    char msg[TL_ERROR_MAX];

    if (r->sink->note == NULL)
        return;
    snprintf(msg, sizeof(msg), fmt, a);
    r->sink->note(r->sink->arg, msg);
}

static int build_map(void *arg, char **names, size_t ncols)
{
    struct reader *r = arg;

    r->header = names;
    r->ncols = ncols;
    r->map = calloc(ncols > 0 ? ncols : 1, sizeof(*r->map));
    if (r->map == NULL)
        return nomem(r);
    for (size_t c = 0; c < ncols; c++) {
        char key[256];
        size_t a, n = sizeof(aliases) / sizeof(aliases[0]);

        snprintf(key, sizeof(key), "%s", names[c]);
        tl_fold_key(key);
        for (a = 0; a < n && strcmp(aliases[a].key, key) != 0; a++)
            ;
        if (a == n) {
            note(r, "column \"%s\" is ignored", names[c]);
            continue;
        }
        if (aliases[a].col != C_IGNORE && r->col_of[aliases[a].col] >= 0)
            return tl_fail(r->err, POVTRACK_EINVALID,
                           "two columns give the %s: \"%s\" and \"%s\"",
                           col_names[aliases[a].col],
                           names[r->col_of[aliases[a].col]], names[c]);
        r->map[c] = aliases[a].col;
        if (aliases[a].col != C_IGNORE)
            r->col_of[aliases[a].col] = (long)c;
    }
    if (r->col_of[C_CODE] < 0 || r->col_of[C_NAME] < 0 ||
        r->col_of[C_PARENT] < 0)
        return tl_fail(r->err, POVTRACK_EINVALID,
                       "the list needs the columns code (Mã), name (Tên) "
                       "and parent (Mã cha)");
    return POVTRACK_OK;
}

static const char *cell(struct reader *r, char **cells, size_t n, enum col c)
{
    long i = r->col_of[c];
    return i >= 0 && (size_t)i < n ? cells[i] : "";
}

/* A data row: checked alone here, against the others later. */
static int read_row(void *arg, size_t row, char **cells, size_t ncells)
{
    struct reader *r = arg;
    const char *code = cell(r, cells, ncells, C_CODE);
    const char *name = cell(r, cells, ncells, C_NAME);
    const char *parent = cell(r, cells, ncells, C_PARENT);
    const char *level = cell(r, cells, ncells, C_LEVEL);
    struct urow *a;

    r->counts->rows++;
    if (ncells > r->ncols)
        return bad(r, row, C_COUNT, "%zu cells but the header has %zu columns",
                   ncells, r->ncols);
    if (tl_unit_level(code) == NULL)
        return bad(r, row, C_CODE,
                   "\"%s\" is not a 2, 3 or 5 digit code (a lost leading "
                   "zero? keep codes as text)",
                   code);
    if (name[0] == '\0')
        return bad(r, row, C_NAME, "empty: every unit has a name");
    if (strcmp(code, "00") == 0 && parent[0] != '\0')
        return bad(r, row, C_PARENT,
                   "00 is the country, which has no parent: leave it empty");
    if (strlen(code) == 2 && parent[0] != '\0' && strcmp(parent, "00") != 0)
        return bad(r, row, C_PARENT,
                   "%s is a province, whose parent is none or the country "
                   "(00): leave it empty",
                   code);
    if (strlen(code) > 2 && parent[0] == '\0')
        return bad(r, row, C_PARENT, "empty: %s (a %s) needs its parent", code,
                   tl_unit_level(code));
    if (parent[0] != '\0' &&
        !(strlen(code) == 2 && strcmp(parent, "00") == 0) &&
        (tl_unit_level(parent) == NULL || strlen(parent) >= strlen(code)))
        return bad(r, row, C_PARENT,
                   "\"%s\" cannot be the parent of %s (a %s): give the code "
                   "of the unit above it",
                   parent, code, tl_unit_level(code));
    if (level[0] != '\0') {
        const char *l = tl_import_word("level", level);
        if (l == NULL || strcmp(l, tl_unit_level(code)) != 0)
            return bad(r, row, C_LEVEL, "\"%s\" but %s has the code of a %s",
                       level, code, tl_unit_level(code));
    }
    a = realloc(r->rows, (r->nrows + 1) * sizeof(*a));
    if (a == NULL)
        return nomem(r);
    r->rows = a;
    a = &r->rows[r->nrows];
    a->row = row;
    a->code = strdup(code);
    a->name = strdup(name);
    a->parent = strdup(parent);
    r->nrows++;
    if (a->code == NULL || a->name == NULL || a->parent == NULL)
        return nomem(r);
    return POVTRACK_OK;
}

/* Provinces, districts, communes, each by code; a code twice stays in
 * file order, next to itself. */
static int row_cmp(const void *a, const void *b)
{
    const struct urow *x = a, *y = b;
    size_t lx = strlen(x->code), ly = strlen(y->code);
    int c;

    if (lx != ly)
        return lx < ly ? -1 : 1;
    if ((c = strcmp(x->code, y->code)) != 0)
        return c;
    return x->row < y->row ? -1 : x->row > y->row;
}

static const struct urow *find(const struct reader *r, const char *code)
{
    size_t lo = 0, hi = r->nrows;
    struct urow key = {0, (char *)code, NULL, NULL};

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = row_cmp(&r->rows[mid], &key);
        if (strcmp(r->rows[mid].code, code) == 0)
            return &r->rows[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static json_t *event_of(const struct reader *r, const struct urow *u)
{
    const char *prefix =
        r->o->id_prefix != NULL ? r->o->id_prefix : TL_UNITS_ID_PREFIX;
    char id[TL_UNITS_PREFIX_MAX + 32], date[TL_FMT_TIME_MAX];
    json_t *data;

    if (r->o->has_effective) {
        tl_fmt_vn_date(r->o->effective, date);
        snprintf(id, sizeof(id), "%s-%.4s%.2s%.2s-%s", prefix, date, date + 5,
                 date + 8, u->code);
    } else {
        snprintf(id, sizeof(id), "%s-%s", prefix, u->code);
    }
    data = json_pack("{s:s,s:s?,s:s}", "name", u->name, "parent",
                     u->parent[0] != '\0' ? u->parent : NULL, "level",
                     tl_unit_level(u->code));
    if (data != NULL && r->o->has_effective &&
        json_object_set_new(data, "effective", json_integer(r->o->effective)) !=
            0) {
        json_decref(data);
        return NULL;
    }
    return json_pack("{s:i,s:s,s:s,s:I,s:s,s:o}", "v", 1, "id", id, "type",
                     "unit.defined", "at", (json_int_t)r->o->at, "unit",
                     u->code, "data", data);
}

/* The rows against each other, then the events. */
static int convert(struct reader *r)
{
    struct tl_error e = {{0}};
    int rc = 0;

    qsort(r->rows, r->nrows, sizeof(*r->rows), row_cmp);
    for (size_t i = 0; rc == 0 && i < r->nrows; i++) {
        const struct urow *u = &r->rows[i], *p;

        if (i > 0 && strcmp(r->rows[i - 1].code, u->code) == 0) {
            rc = bad(r, u->row, C_CODE, "%s is already in row %zu", u->code,
                     r->rows[i - 1].row);
            continue;
        }
        /* Said once for the rows of one parent (they are next to each
         * other when the list is the children of one unit). */
        if (u->parent[0] != '\0' && (p = find(r, u->parent)) == NULL &&
            (i == 0 || strcmp(r->rows[i - 1].parent, u->parent) != 0))
            note(r,
                 "parent %s is not in the list: povtrackd must know it "
                 "already",
                 u->parent);
    }
    for (size_t i = 0; rc == 0 && r->nbad == 0 && i < r->nrows; i++) {
        json_t *ev = event_of(r, &r->rows[i]);
        if (ev == NULL)
            return nomem(r);
        memset(&e, 0, sizeof(e));
        /* The catalogue's own checks (lengths of names...). */
        rc = tl_import_check(ev, INT64_MAX, &e);
        json_decref(ev);
        if (rc == POVTRACK_EINVALID)
            rc = bad(r, r->rows[i].row, C_COUNT, "%s", e.msg);
        else if (rc != 0)
            return nomem(r);
    }
    if (rc != 0)
        return rc;
    if (r->nbad > 0)
        return tl_fail(r->err, POVTRACK_EINVALID, "%zu bad row%s: nothing sent",
                       r->nbad, r->nbad == 1 ? "" : "s");
    for (size_t i = 0; rc == 0 && i < r->nrows; i++) {
        json_t *ev = event_of(r, &r->rows[i]);
        size_t n = strlen(r->rows[i].code);

        if (ev == NULL)
            return nomem(r);
        r->counts->provinces += n == 2 && strcmp(r->rows[i].code, "00") != 0;
        r->counts->districts += n == 3;
        r->counts->communes += n == 5;
        rc = r->sink->event(r->sink->arg, ev);
    }
    return rc;
}

int tl_units_csv(FILE *in, const struct tl_units_opts *o,
                 const struct tl_units_sink *sink,
                 struct tl_units_counts *counts, struct tl_error *err)
{
    struct tl_units_counts local;
    struct tl_csv_opts copts = {o->delim, o->encoding};
    struct reader r;
    struct tl_csv_sink csink = {&r, build_map, read_row};
    int rc;

    memset(&r, 0, sizeof(r));
    r.o = o;
    r.sink = sink;
    r.err = err;
    r.counts = counts != NULL ? counts : &local;
    memset(r.counts, 0, sizeof(*r.counts));
    for (int c = 0; c < C_COUNT; c++)
        r.col_of[c] = -1;
    rc = tl_csv_read(in, &copts, &csink, err);
    if (rc == 0)
        rc = convert(&r);
    tl_csv_free(r.header, r.ncols);
    free(r.map);
    for (size_t i = 0; i < r.nrows; i++) {
        free(r.rows[i].code);
        free(r.rows[i].name);
        free(r.rows[i].parent);
    }
    free(r.rows);
    return rc;
}
