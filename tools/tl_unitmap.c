/*
 * tl_unitmap.c - see tl_unitmap.h.
 *
 * The whole table is read first (rows that cannot be read are reported and
 * left out), then checked across rows, then turned into events, which are
 * sorted and given to the sink only when no row was bad.  The cross-row
 * work runs on three sorted views of the rows, by (date, old code), by
 * (date, new code) and by (date, old code, new code), so a national table
 * of some 10,000 rows costs a few sorts.
 */
#include "tl_unitmap.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "tl_csv.h"
#include "tl_fold.h"
#include "tl_import.h"  /* tl_parse_date */
#include "tl_unitdir.h" /* tl_unit_level */

enum col {
    C_IGNORE = 0,
    C_OLD,
    C_NEW,
    C_EFF,
    C_NAME,
    C_PARENT,
    C_OLD_NAME,
    C_COUNT,
    C_NONE = C_COUNT /* a message about the row, not one cell */
};

static const char *const col_names[C_COUNT] = {
    "-",        "old_code",   "new_code", "effective",
    "new_name", "new_parent", "old_name"};

/* Headers as keys (tl_fold_key: "Mã cũ" -> "ma_cu"). */
static const struct {
    const char *header;
    enum col col;
} aliases[] = {
    {"old_code", C_OLD},
    {"ma_cu", C_OLD},
    {"new_code", C_NEW},
    {"ma_moi", C_NEW},
    {"effective", C_EFF},
    {"ngay_hieu_luc", C_EFF},
    {"new_name", C_NAME},
    {"ten_moi", C_NAME},
    {"new_parent", C_PARENT},
    {"ma_cha_moi", C_PARENT},
    {"old_name", C_OLD_NAME},
    {"ten_cu", C_OLD_NAME},
    /* Row numbers and remarks: expected, ignored without a note. */
    {"stt", C_IGNORE},
    {"ghi_chu", C_IGNORE},
    {"note", C_IGNORE},
};

/* One row of the table that could be read at least as far as its old code
 * and date.  Strings are owned; absent cells are "". */
struct mrow {
    size_t row;
    int64_t eff;
    char *old;
    char *new_code; /* "": abolished */
    char *name;
    char *parent;
    char *old_name;
    bool bad; /* reported: left out of the events */
};

struct bad {
    size_t row, seq;
    char *msg;
};

/* An event waiting for its place in the output. */
struct pend {
    int64_t eff;
    int sec;  /* 0 unit.defined, 1 unit.changed */
    int rank; /* unit.defined: code length; changes: commune 0 .. province 2 */
    int cat;  /* changes: split 0, merge 1, rename/reparent 2, abolish 3 */
    const char *code; /* the event's unit */
    const char *kind; /* "defined" or the change's kind */
    json_t *ev;
};

/* A single new code: old code `old` goes into `code` alone. */
struct single {
    int64_t eff;
    const char *code;
    const struct mrow *r;
};

struct um {
    const struct tl_unitmap_opts *o;
    const struct tl_unitmap_sink *sink;
    struct tl_unitmap_counts *counts;
    struct tl_error *err;
    const char *prefix;
    int rc; /* first failure; stops everything */
    /* The data row being read, set for the call only (tl_csv_read owns it). */
    size_t row;
    char **cells;
    size_t ncells;
    /* The header and which column gives each field (-1: none). */
    char **header;
    size_t ncols;
    enum col *map;
    long col_of[C_COUNT];
    struct mrow *rows;
    size_t nrows, rows_cap;
    struct bad *bads;
    size_t nbads, bads_cap;
    struct pend *pends;
    size_t npends, pends_cap;
};

/* ---- small helpers ---------------------------------------------------- */

/* p itself when it holds more than n elements, else p grown (NULL when
 * out of memory; p is then untouched). */
static void *grow(void *p, size_t *cap, size_t n, size_t size)
{
    size_t c;
    void *q;

    if (n < *cap)
        return p;
    c = *cap ? *cap * 2 : 16;
    if (c > SIZE_MAX / size)
        return NULL;
    q = realloc(p, c * size);
    if (q != NULL)
        *cap = c;
    return q;
}

static int nomem(struct um *u)
{
    if (u->rc == 0)
        u->rc = tl_fail(u->err, POVTRACK_ENOMEM, "out of memory");
    return u->rc;
}

/* Units in code order: provinces, districts, communes, each ascending. */
static int cmp_code(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);

    if (la != lb)
        return la < lb ? -1 : 1;
    return strcmp(a, b);
}

static int cmp_i64(int64_t a, int64_t b)
{
    return a < b ? -1 : a > b;
}

static int cmp_size(size_t a, size_t b)
{
    return a < b ? -1 : a > b;
}

/* YYYYMMDD of a Vietnam midnight (Howard Hinnant's civil_from_days). */
static void ymd_of(int64_t eff, char *buf, size_t cap)
{
    int64_t t = eff + 7 * 3600;
    int64_t z = t / 86400 - (t % 86400 < 0 ? 1 : 0) + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    int64_t y = yoe + era * 400 + (m <= 2);

    snprintf(buf, cap, "%04d%02d%02d", (int)y, (int)m, (int)d);
}

/* The column a message names: as the header spells it, or the field's
 * English name when the table has no such column. */
static const char *label(const struct um *u, enum col c)
{
    return u->col_of[c] >= 0 ? u->header[u->col_of[c]] : col_names[c];
}

/* Record a bad row: "row R, column C: ..." (C_NONE: "row R: ..."). */
static int add_bad(struct um *u, size_t row, enum col c, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int add_bad(struct um *u, size_t row, enum col c, const char *fmt, ...)
{
    char msg[TL_ERROR_MAX + 400];
    struct bad *b;
    va_list ap;
    int n;

    if (c == C_NONE)
        n = snprintf(msg, sizeof(msg), "row %zu: ", row);
    else
        n = snprintf(msg, sizeof(msg), "row %zu, column %s: ", row,
                     label(u, c));
    if (n < 0 || (size_t)n >= sizeof(msg))
        n = 0;
    va_start(ap, fmt);
    vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
    va_end(ap);
    b = grow(u->bads, &u->bads_cap, u->nbads, sizeof(*b));
    if (b == NULL)
        return nomem(u);
    u->bads = b;
    b[u->nbads].row = row;
    b[u->nbads].seq = u->nbads;
    b[u->nbads].msg = strdup(msg);
    if (b[u->nbads].msg == NULL)
        return nomem(u);
    u->nbads++;
    return POVTRACK_OK;
}

static void note(struct um *u, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void note(struct um *u, const char *fmt, ...)
{
    char msg[TL_ERROR_MAX + 400];
    va_list ap;

    if (u->sink->note == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    u->sink->note(u->sink->arg, msg);
}

/* ---- reading the table ------------------------------------------------ */

/* The header row (tl_csv_sink.header): keep it and map its columns. */
static int build_map(void *arg, char **names, size_t ncols)
{
    struct um *u = arg;

    u->header = names;
    u->ncols = ncols;
    u->map = calloc(u->ncols > 0 ? u->ncols : 1, sizeof(*u->map));
    if (u->map == NULL)
        return nomem(u);
    for (size_t c = 0; c < u->ncols; c++) {
        size_t a, n = sizeof(aliases) / sizeof(aliases[0]);
        enum col f;

        tl_fold_key(u->header[c]);
        for (a = 0; a < n; a++)
            if (strcmp(aliases[a].header, u->header[c]) == 0)
                break;
        if (a == n) {
            note(u, "column \"%s\" is ignored", u->header[c]);
            continue;
        }
        f = aliases[a].col;
        if (f != C_IGNORE && u->col_of[f] >= 0)
            return tl_fail(u->err, POVTRACK_EINVALID,
                           "two columns give %s: \"%s\" and \"%s\"",
                           col_names[f], u->header[u->col_of[f]], u->header[c]);
        u->map[c] = f;
        if (f != C_IGNORE)
            u->col_of[f] = (long)c;
    }
    if (u->col_of[C_OLD] < 0)
        return tl_fail(u->err, POVTRACK_EINVALID,
                       "no old_code column (ma_cu, old_code) in the header");
    if (u->col_of[C_NEW] < 0)
        return tl_fail(u->err, POVTRACK_EINVALID,
                       "no new_code column (ma_moi, new_code) in the header");
    if (u->col_of[C_EFF] < 0 && !u->o->has_effective)
        return tl_fail(u->err, POVTRACK_EINVALID,
                       "no effective column (ngay_hieu_luc, effective): add "
                       "one or give --effective DATE");
    return POVTRACK_OK;
}

static const char *cell(const struct um *u, enum col c)
{
    long i = u->col_of[c];

    return i >= 0 && (size_t)i < u->ncells ? u->cells[i] : "";
}

/* The cell of c, taken out of the row being read (or a copy of ""). */
static char *take(struct um *u, enum col c)
{
    long i = u->col_of[c];
    char *s;

    if (i >= 0 && (size_t)i < u->ncells) {
        s = u->cells[i];
        u->cells[i] = NULL;
        return s;
    }
    return strdup("");
}

static int bad_code(struct um *u, enum col c, const char *s)
{
    bool digits = s[0] != '\0';

    for (const char *p = s; *p != '\0'; p++)
        if (!isdigit((unsigned char)*p))
            digits = false;
    return add_bad(u, u->row, c, "\"%s\" is not a 2, 3 or 5 digit code%s", s,
                   digits && (strlen(s) == 1 || strlen(s) == 4)
                       ? " (a lost leading zero? keep codes as text)"
                       : "");
}

/* A data row (tl_csv_sink.row): check its cells; keep it when its old code
 * and date could be read (marked bad when another cell could not). */
static int read_row(void *arg, size_t row, char **cells, size_t ncells)
{
    struct um *u = arg;
    const char *old, *new_code, *name, *parent, *eff_cell;
    struct tl_error cerr = {{0}};
    struct mrow *r;
    int64_t eff = 0;
    size_t nbads;

    u->row = row;
    u->cells = cells;
    u->ncells = ncells;
    old = cell(u, C_OLD);
    new_code = cell(u, C_NEW);
    name = cell(u, C_NAME);
    parent = cell(u, C_PARENT);
    eff_cell = cell(u, C_EFF);
    /* Blank rows, what spreadsheets leave at the end, never come here. */
    u->counts->rows++;
    if (u->ncells > u->ncols)
        return add_bad(u, u->row, C_NONE,
                       "%zu cells but the header has %zu columns", u->ncells,
                       u->ncols);
    if (old[0] == '\0')
        return add_bad(u, u->row, C_OLD,
                       "empty: every row needs the code of an old unit");
    if (tl_unit_level(old) == NULL)
        return bad_code(u, C_OLD, old);
    if (eff_cell[0] != '\0') {
        if (tl_parse_date(eff_cell, &eff, &cerr) != 0)
            return add_bad(u, u->row, C_EFF, "%s", cerr.msg);
    } else if (u->o->has_effective) {
        eff = u->o->effective;
    } else {
        return add_bad(u, u->row, C_EFF,
                       "empty date: fill it in or give --effective DATE");
    }
    /* From here the row is kept, bad or not: its old code exists. */
    nbads = u->nbads;
    if (new_code[0] != '\0' && tl_unit_level(new_code) == NULL)
        bad_code(u, C_NEW, new_code);
    else if (new_code[0] != '\0' && strlen(new_code) != strlen(old))
        add_bad(u, u->row, C_NEW, "%s is a %s but old_code %s is a %s",
                new_code, tl_unit_level(new_code), old, tl_unit_level(old));
    else if (name[0] != '\0' && new_code[0] == '\0')
        add_bad(u, u->row, C_NAME,
                "no new_code: %s is abolished and gets no new name", old);
    else if (strlen(name) > TL_UNITMAP_TEXT_MAX)
        add_bad(u, u->row, C_NAME, "longer than %d bytes", TL_UNITMAP_TEXT_MAX);
    else if (parent[0] != '\0' && new_code[0] == '\0')
        add_bad(u, u->row, C_PARENT,
                "no new_code: %s is abolished and gets no new parent", old);
    else if (parent[0] != '\0' && tl_unit_level(parent) == NULL)
        bad_code(u, C_PARENT, parent);
    else if (parent[0] != '\0' && strlen(new_code) == 2)
        add_bad(u, u->row, C_PARENT,
                "%s is a province, which has no parent: leave it empty",
                new_code);
    else if (parent[0] != '\0' && strlen(parent) >= strlen(new_code))
        add_bad(u, u->row, C_PARENT,
                "%s (a %s) cannot be the parent of %s (a %s)", parent,
                tl_unit_level(parent), new_code, tl_unit_level(new_code));
    if (u->rc != 0)
        return u->rc;
    r = grow(u->rows, &u->rows_cap, u->nrows, sizeof(*r));
    if (r == NULL)
        return nomem(u);
    u->rows = r;
    r += u->nrows;
    memset(r, 0, sizeof(*r));
    r->row = u->row;
    r->eff = eff;
    r->bad = u->nbads > nbads;
    r->old = take(u, C_OLD);
    r->new_code = take(u, C_NEW);
    r->name = take(u, C_NAME);
    r->parent = take(u, C_PARENT);
    r->old_name = take(u, C_OLD_NAME);
    u->nrows++;
    if (r->old == NULL || r->new_code == NULL || r->name == NULL ||
        r->parent == NULL || r->old_name == NULL)
        return nomem(u);
    return POVTRACK_OK;
}

/* ---- sorted views ----------------------------------------------------- */

static int cmp_by_old(const void *a, const void *b)
{
    const struct mrow *x = *(const struct mrow *const *)a;
    const struct mrow *y = *(const struct mrow *const *)b;
    int c = cmp_i64(x->eff, y->eff);

    if (c == 0)
        c = cmp_code(x->old, y->old);
    return c != 0 ? c : cmp_size(x->row, y->row);
}

static int cmp_by_new(const void *a, const void *b)
{
    const struct mrow *x = *(const struct mrow *const *)a;
    const struct mrow *y = *(const struct mrow *const *)b;
    int c = cmp_i64(x->eff, y->eff);

    if (c == 0)
        c = cmp_code(x->new_code, y->new_code);
    return c != 0 ? c : cmp_size(x->row, y->row);
}

static int cmp_by_pair(const void *a, const void *b)
{
    const struct mrow *x = *(const struct mrow *const *)a;
    const struct mrow *y = *(const struct mrow *const *)b;
    int c = cmp_i64(x->eff, y->eff);

    if (c == 0)
        c = cmp_code(x->old, y->old);
    if (c == 0)
        c = cmp_code(x->new_code, y->new_code);
    return c != 0 ? c : cmp_size(x->row, y->row);
}

struct views {
    struct mrow **by_old, **by_new, **by_pair;
    size_t n;
};

/* The rows of v (sorted by date, then old code when use_old, else new
 * code) with date eff and that code: [*lo, return value). */
static size_t group(struct mrow **v, size_t n, int64_t eff, const char *code,
                    bool use_old, size_t *lo)
{
    size_t a = 0, b = n;

    while (a < b) {
        size_t mid = a + (b - a) / 2;
        int c = cmp_i64(v[mid]->eff, eff);
        if (c == 0)
            c = cmp_code(use_old ? v[mid]->old : v[mid]->new_code, code);
        if (c < 0)
            a = mid + 1;
        else
            b = mid;
    }
    *lo = a;
    while (b < n && v[b]->eff == eff &&
           strcmp(use_old ? v[b]->old : v[b]->new_code, code) == 0)
        b++;
    return b;
}

/* End of the group starting at i in v, by date and old or new code. */
static size_t group_end(struct mrow **v, size_t n, size_t i, bool use_old)
{
    size_t j = i + 1;

    while (j < n && v[j]->eff == v[i]->eff &&
           strcmp(use_old ? v[j]->old : v[j]->new_code,
                  use_old ? v[i]->old : v[i]->new_code) == 0)
        j++;
    return j;
}

/* ---- checks across rows ----------------------------------------------- */

/* The same old -> new twice on one date. */
static int check_pairs(struct um *u, const struct views *v)
{
    const struct mrow *prev = NULL; /* the last good row */

    for (size_t i = 0; i < v->n && u->rc == 0; i++) {
        struct mrow *r = v->by_pair[i];

        if (r->bad)
            continue;
        if (prev == NULL || prev->eff != r->eff ||
            strcmp(prev->old, r->old) != 0 ||
            strcmp(prev->new_code, r->new_code) != 0) {
            prev = r;
            continue;
        }
        r->bad = true;
        if (r->new_code[0] == '\0')
            add_bad(u, r->row, C_OLD, "%s is already abolished in row %zu",
                    r->old, prev->row);
        else
            add_bad(u, r->row, C_NEW, "%s -> %s is already in row %zu", r->old,
                    r->new_code, prev->row);
    }
    return u->rc;
}

/* An old code both abolished and going into a new code on one date. */
static int check_olds(struct um *u, const struct views *v)
{
    for (size_t i = 0, j; i < v->n && u->rc == 0; i = j) {
        struct mrow *first = NULL;

        j = group_end(v->by_old, v->n, i, true);
        for (size_t k = i; k < j && u->rc == 0; k++) {
            struct mrow *r = v->by_old[k];
            if (r->bad)
                continue;
            if (first == NULL) {
                first = r;
                continue;
            }
            if ((first->new_code[0] == '\0') == (r->new_code[0] == '\0'))
                continue;
            r->bad = true;
            if (r->new_code[0] == '\0')
                add_bad(u, r->row, C_NEW,
                        "empty, so %s would be abolished, but row %zu has it "
                        "go into %s",
                        r->old, first->row, first->new_code);
            else
                add_bad(u, r->row, C_NEW,
                        "%s is abolished in row %zu and cannot also go into "
                        "%s",
                        r->old, first->row, r->new_code);
        }
    }
    return u->rc;
}

/* One name and parent per new code and date. */
static void check_same(struct um *u, struct mrow **g, size_t n, enum col c)
{
    const struct mrow *first = NULL;

    for (size_t k = 0; k < n && u->rc == 0; k++) {
        struct mrow *r = g[k];
        const char *s = c == C_NAME ? r->name : r->parent;
        if (r->bad || s[0] == '\0')
            continue;
        if (first == NULL) {
            first = r;
            continue;
        }
        const char *f = c == C_NAME ? first->name : first->parent;
        if (strcmp(s, f) == 0)
            continue;
        r->bad = true;
        add_bad(u, r->row, c,
                "\"%s\" differs from \"%s\" given for %s in row %zu", s, f,
                r->new_code, first->row);
    }
}

/* The name and parent given for a new code (first non-empty cells). */
static void new_info(struct mrow **g, size_t n, const char **name,
                     const char **parent)
{
    *name = *parent = "";
    for (size_t k = 0; k < n; k++) {
        if (g[k]->bad)
            continue;
        if ((*name)[0] == '\0')
            *name = g[k]->name;
        if ((*parent)[0] == '\0')
            *parent = g[k]->parent;
    }
}

static int check_news(struct um *u, const struct views *v)
{
    for (size_t i = 0, j; i < v->n && u->rc == 0; i = j) {
        struct mrow *n0 = v->by_new[i], *first = NULL;
        const char *code = n0->new_code, *name, *parent;
        size_t lo, hi;
        bool any_bad = false, continues = false;

        j = group_end(v->by_new, v->n, i, false);
        if (code[0] == '\0')
            continue;
        check_same(u, v->by_new + i, j - i, C_NAME);
        check_same(u, v->by_new + i, j - i, C_PARENT);
        hi = group(v->by_old, v->n, n0->eff, code, true, &lo);
        for (size_t k = lo; k < hi; k++) {
            const struct mrow *r = v->by_old[k];
            any_bad = any_bad || r->bad;
            continues = continues || strcmp(r->new_code, code) == 0;
        }
        if (lo < hi) {
            /* An old code of the date: it must go on as itself. */
            const struct mrow *o = v->by_old[lo];
            if (continues || any_bad)
                continue;
            for (size_t k = i; k < j && u->rc == 0; k++) {
                struct mrow *r = v->by_new[k];
                if (r->bad)
                    continue;
                r->bad = true;
                if (o->new_code[0] == '\0')
                    add_bad(u, r->row, C_NEW,
                            "%s is abolished on this date (row %zu)", code,
                            o->row);
                else
                    add_bad(u, r->row, C_NEW,
                            "%s itself goes into %s on this date (row %zu)",
                            code, o->new_code, o->row);
            }
            continue;
        }
        /* A new unit: it needs a name and, below a province, a parent. */
        for (size_t k = i; k < j && first == NULL; k++)
            if (!v->by_new[k]->bad)
                first = v->by_new[k];
        if (first == NULL)
            continue;
        new_info(v->by_new + i, j - i, &name, &parent);
        if (name[0] == '\0') {
            first->bad = true;
            add_bad(u, first->row, C_NAME,
                    "%s is a new unit (not an old code on this date): give "
                    "its name",
                    code);
        }
        if (parent[0] == '\0' && strlen(code) != 2) {
            first->bad = true;
            add_bad(u, first->row, C_PARENT,
                    "%s is a new unit (not an old code on this date): give "
                    "its parent",
                    code);
        }
    }
    return u->rc;
}

/* ---- events ----------------------------------------------------------- */

static int put(json_t *obj, const char *key, json_t *v)
{
    return json_object_set_new(obj, key, v) == 0 ? 0 : -1;
}

static json_t *codes(const char *const *c, size_t n)
{
    json_t *a = json_array();

    for (size_t i = 0; a != NULL && i < n; i++)
        if (json_array_append_new(a, json_string(c[i])) != 0) {
            json_decref(a);
            a = NULL;
        }
    return a;
}

/* Wrap data (always consumed) into an event and queue it. */
static int queue(struct um *u, int64_t eff, const char *kind, const char *unit,
                 json_t *data)
{
    static const char *const cats[] = {"split", "merge", "rename", "reparent",
                                       "abolish"};
    static const int cat_of[] = {0, 1, 2, 2, 3};
    char id[TL_UNITMAP_PREFIX_MAX + 128], ymd[48];
    bool defined = strcmp(kind, "defined") == 0;
    struct pend *p;
    json_t *ev;

    if (data == NULL)
        return nomem(u);
    ymd_of(eff, ymd, sizeof(ymd));
    snprintf(id, sizeof(id), "%s-%s-%s-%s", u->prefix, ymd, kind, unit);
    ev = json_pack("{s:i, s:s, s:s, s:I, s:s, s:O}", "v", 1, "id", id, "type",
                   defined ? "unit.defined" : "unit.changed", "at",
                   (json_int_t)(u->o->has_at ? u->o->at : eff), "unit", unit,
                   "data", data);
    json_decref(data);
    if (ev == NULL)
        return nomem(u);
    p = grow(u->pends, &u->pends_cap, u->npends, sizeof(*p));
    if (p == NULL) {
        json_decref(ev);
        return nomem(u);
    }
    u->pends = p;
    p += u->npends++;
    p->eff = eff;
    p->code = unit;
    p->kind = kind;
    p->ev = ev;
    p->sec = defined ? 0 : 1;
    p->rank = defined             ? (int)strlen(unit)
              : strlen(unit) == 5 ? 0
              : strlen(unit) == 3 ? 1
                                  : 2;
    p->cat = 0;
    for (size_t i = 0; !defined && i < sizeof(cats) / sizeof(cats[0]); i++)
        if (strcmp(kind, cats[i]) == 0)
            p->cat = cat_of[i];
    return POVTRACK_OK;
}

/* data of a unit.changed: keys in the order of the catalogue. */
static json_t *change(const char *kind, int64_t eff, json_t *preds,
                      const char *successor, json_t *successors,
                      const char *name, const char *parent)
{
    json_t *d = json_object();
    int rc = d == NULL ? -1 : 0;

    if (rc == 0)
        rc = put(d, "kind", json_string(kind));
    if (rc == 0)
        rc = put(d, "effective", json_integer((json_int_t)eff));
    if (rc == 0) {
        rc = put(d, "predecessors", preds);
        preds = NULL;
    }
    if (rc == 0 && successor != NULL)
        rc = put(d, "successor", json_string(successor));
    if (rc == 0 && successors != NULL) {
        rc = put(d, "successors", successors);
        successors = NULL;
    }
    if (rc == 0 && name != NULL && name[0] != '\0')
        rc = put(d, "name", json_string(name));
    if (rc == 0 && parent != NULL && parent[0] != '\0')
        rc = put(d, "parent", json_string(parent));
    json_decref(preds);
    json_decref(successors);
    if (rc != 0) {
        json_decref(d);
        return NULL;
    }
    return d;
}

/* A code going on as itself with a new name and/or parent. */
static int retitle(struct um *u, int64_t eff, const char *code,
                   const char *name, const char *parent)
{
    const char *kind = parent[0] != '\0' ? "reparent" : "rename";

    return queue(u, eff, kind, code,
                 change(kind, eff, codes(&code, 1), code, NULL, name, parent));
}

static int defined(struct um *u, int64_t eff, const char *code,
                   const char *name, const char *parent)
{
    json_t *p = parent[0] != '\0' ? json_string(parent) : json_null();
    json_t *d =
        json_pack("{s:s, s:O, s:s, s:I}", "name", name, "parent", p, "level",
                  tl_unit_level(code), "effective", (json_int_t)eff);

    json_decref(p);
    return queue(u, eff, "defined", code, d);
}

static int cmp_single(const void *a, const void *b)
{
    const struct single *x = a, *y = b;
    int c = cmp_i64(x->eff, y->eff);

    if (c == 0)
        c = cmp_code(x->code, y->code);
    return c != 0 ? c : cmp_code(x->r->old, y->r->old);
}

/* Old codes: abolitions, splits, and the singles left for merges. */
static int plan_olds(struct um *u, const struct views *v, struct single *s,
                     size_t *ns)
{
    const char **succ = malloc(v->n * sizeof(*succ) + 1);

    if (succ == NULL)
        return nomem(u);
    *ns = 0;
    for (size_t i = 0, j; i < v->n && u->rc == 0; i = j) {
        struct mrow *g0 = NULL;
        size_t k, n = 0;

        j = group_end(v->by_old, v->n, i, true);
        for (k = i; k < j; k++)
            if (!v->by_old[k]->bad) {
                g0 = g0 != NULL ? g0 : v->by_old[k];
                n++;
            }
        if (n == 0)
            continue;
        if (g0->new_code[0] == '\0') {
            queue(u, g0->eff, "abolish", g0->old,
                  change("abolish", g0->eff, codes((const char **)&g0->old, 1),
                         NULL, NULL, NULL, NULL));
            continue;
        }
        if (n == 1) {
            s[*ns].eff = g0->eff;
            s[*ns].code = g0->new_code;
            s[*ns].r = g0;
            (*ns)++;
            continue;
        }
        /* A split: the successor keeping the code first. */
        n = 0;
        for (k = i; k < j; k++)
            if (!v->by_old[k]->bad &&
                strcmp(v->by_old[k]->new_code, g0->old) == 0)
                succ[n++] = g0->old;
        for (k = i; k < j && u->rc == 0; k++) {
            const struct mrow *r = v->by_old[k];
            if (r->bad || strcmp(r->new_code, g0->old) == 0)
                continue;
            if (n == TL_UNITMAP_CODES_MAX)
                add_bad(u, r->row, C_NEW,
                        "%s splits into more than %d units, more than one "
                        "event can hold",
                        g0->old, TL_UNITMAP_CODES_MAX);
            succ[n++] = r->new_code;
        }
        queue(u, g0->eff, "split", g0->old,
              change("split", g0->eff, codes((const char **)&g0->old, 1), NULL,
                     codes(succ, n), NULL, NULL));
    }
    free(succ);
    return u->rc;
}

/* Groups of singles: merges, renames and reparents. */
static int plan_merges(struct um *u, const struct views *v,
                       const struct single *s, size_t ns)
{
    const char **pred = malloc(ns * sizeof(*pred) + 1);

    if (pred == NULL)
        return nomem(u);
    for (size_t i = 0, j; i < ns && u->rc == 0; i = j) {
        const char *code = s[i].code, *name, *parent;
        size_t lo, hi;

        for (j = i + 1;
             j < ns && s[j].eff == s[i].eff && strcmp(s[j].code, code) == 0;
             j++)
            ;
        hi = group(v->by_new, v->n, s[i].eff, code, false, &lo);
        new_info(v->by_new + lo, hi - lo, &name, &parent);
        if (j - i == 1 && strcmp(s[i].r->old, code) == 0) {
            const struct mrow *r = s[i].r;
            if (name[0] != '\0' || parent[0] != '\0')
                retitle(u, r->eff, code, name, parent);
            else
                note(u,
                     "row %zu: %s%s%s%s -> %s with no new name or parent: "
                     "nothing to record",
                     r->row, code, r->old_name[0] ? " (" : "", r->old_name,
                     r->old_name[0] ? ")" : "", code);
            continue;
        }
        for (size_t k = i; k < j; k++) {
            if (k - i == TL_UNITMAP_CODES_MAX)
                add_bad(u, s[k].r->row, C_NEW,
                        "more than %d units go into %s, more than one event "
                        "can hold",
                        TL_UNITMAP_CODES_MAX, code);
            pred[k - i] = s[k].r->old;
        }
        queue(u, s[i].eff, "merge", code,
              change("merge", s[i].eff, codes(pred, j - i), code, NULL, name,
                     parent));
    }
    free(pred);
    return u->rc;
}

/* New codes: new units, and kept codes of splits with a new name or
 * parent that no merge carried. */
static int plan_news(struct um *u, const struct views *v,
                     const struct single *s, size_t ns)
{
    for (size_t i = 0, j; i < v->n && u->rc == 0; i = j) {
        const struct mrow *n0 = v->by_new[i];
        const char *code = n0->new_code, *name, *parent;
        struct single key = {n0->eff, code, n0};
        size_t lo, hi, a = 0, b = ns;
        bool good = false;

        j = group_end(v->by_new, v->n, i, false);
        for (size_t k = i; k < j; k++)
            good = good || !v->by_new[k]->bad;
        if (code[0] == '\0' || !good)
            continue;
        new_info(v->by_new + i, j - i, &name, &parent);
        hi = group(v->by_old, v->n, n0->eff, code, true, &lo);
        if (lo == hi) {
            if (name[0] != '\0' && (parent[0] != '\0' || strlen(code) == 2))
                defined(u, n0->eff, code, name, parent);
            continue;
        }
        if (name[0] == '\0' && parent[0] == '\0')
            continue;
        /* Did a merge or rename into code carry them already? */
        while (a < b) {
            size_t mid = a + (b - a) / 2;
            int c = cmp_i64(s[mid].eff, key.eff);
            if (c == 0)
                c = cmp_code(s[mid].code, code);
            if (c < 0)
                a = mid + 1;
            else
                b = mid;
        }
        if (a < ns && s[a].eff == key.eff && strcmp(s[a].code, code) == 0)
            continue;
        retitle(u, n0->eff, code, name, parent);
    }
    return u->rc;
}

static int cmp_pend(const void *a, const void *b)
{
    const struct pend *x = a, *y = b;
    int c = cmp_i64(x->eff, y->eff);

    if (c == 0)
        c = x->sec - y->sec;
    if (c == 0)
        c = x->rank - y->rank;
    if (c == 0)
        c = x->cat - y->cat;
    if (c == 0)
        c = cmp_code(x->code, y->code);
    return c;
}

static int cmp_bad(const void *a, const void *b)
{
    const struct bad *x = a, *y = b;
    int c = cmp_size(x->row, y->row);

    return c != 0 ? c : cmp_size(x->seq, y->seq);
}

static void count(struct tl_unitmap_counts *c, const char *kind)
{
    if (strcmp(kind, "defined") == 0)
        c->defined++;
    else if (strcmp(kind, "merge") == 0)
        c->merge++;
    else if (strcmp(kind, "split") == 0)
        c->split++;
    else if (strcmp(kind, "rename") == 0)
        c->rename++;
    else if (strcmp(kind, "reparent") == 0)
        c->reparent++;
    else
        c->abolish++;
    c->events++;
}

static int convert(struct um *u)
{
    struct views v = {NULL, NULL, NULL, u->nrows};
    struct single *s = NULL;
    size_t ns = 0;
    size_t nalloc = u->nrows + 1;

    v.by_old = malloc(nalloc * sizeof(*v.by_old));
    v.by_new = malloc(nalloc * sizeof(*v.by_new));
    v.by_pair = malloc(nalloc * sizeof(*v.by_pair));
    s = malloc(nalloc * sizeof(*s));
    if (v.by_old == NULL || v.by_new == NULL || v.by_pair == NULL ||
        s == NULL) {
        nomem(u);
        goto out;
    }
    for (size_t i = 0; i < u->nrows; i++)
        v.by_old[i] = v.by_new[i] = v.by_pair[i] = &u->rows[i];
    qsort(v.by_old, v.n, sizeof(*v.by_old), cmp_by_old);
    qsort(v.by_new, v.n, sizeof(*v.by_new), cmp_by_new);
    qsort(v.by_pair, v.n, sizeof(*v.by_pair), cmp_by_pair);
    if (check_pairs(u, &v) != 0 || check_olds(u, &v) != 0 ||
        check_news(u, &v) != 0)
        goto out;
    /* The plan may find more bad rows (too many codes for one event), so
     * it runs even when some are known, and is dropped then. */
    if (plan_olds(u, &v, s, &ns) != 0)
        goto out;
    qsort(s, ns, sizeof(*s), cmp_single);
    if (plan_merges(u, &v, s, ns) != 0 || plan_news(u, &v, s, ns) != 0)
        goto out;
    if (u->nbads > 0) {
        qsort(u->bads, u->nbads, sizeof(*u->bads), cmp_bad);
        for (size_t i = 0; i < u->nbads && u->rc == 0; i++)
            u->rc =
                u->sink->bad_row(u->sink->arg, u->bads[i].row, u->bads[i].msg);
        if (u->rc == 0)
            u->rc = tl_fail(u->err, POVTRACK_EINVALID,
                            "%zu bad row%s: no event written", u->nbads,
                            u->nbads == 1 ? "" : "s");
        goto out;
    }
    if (u->npends > 0) /* pends is NULL then, which qsort() may not get */
        qsort(u->pends, u->npends, sizeof(*u->pends), cmp_pend);
    for (size_t i = 0; i < u->npends && u->rc == 0; i++) {
        json_t *ev = u->pends[i].ev;
        u->pends[i].ev = NULL;
        count(u->counts, u->pends[i].kind);
        u->rc = u->sink->event(u->sink->arg, ev);
    }
out:
    free(v.by_old);
    free(v.by_new);
    free(v.by_pair);
    free(s);
    return u->rc;
}

/* ---- entry point ------------------------------------------------------ */

static bool good_prefix(const char *p)
{
    size_t n = strlen(p);

    if (n == 0 || n > TL_UNITMAP_PREFIX_MAX)
        return false;
    for (; *p != '\0'; p++)
        if (*p < 0x21 || *p > 0x7e)
            return false;
    return true;
}

int tl_unitmap_csv(FILE *in, const struct tl_unitmap_opts *o,
                   const struct tl_unitmap_sink *sink,
                   struct tl_unitmap_counts *counts, struct tl_error *err)
{
    struct tl_unitmap_counts local;
    struct um u;
    struct tl_csv_sink csink = {&u, build_map, read_row};

    memset(&u, 0, sizeof(u));
    u.o = o;
    u.sink = sink;
    u.err = err;
    u.counts = counts != NULL ? counts : &local;
    memset(u.counts, 0, sizeof(*u.counts));
    u.prefix = o->id_prefix != NULL ? o->id_prefix : TL_UNITMAP_ID_PREFIX;
    for (int c = 0; c < C_COUNT; c++)
        u.col_of[c] = -1;
    if (!good_prefix(u.prefix))
        return tl_fail(err, POVTRACK_EINVALID,
                       "the id prefix must be 1 to %d printable ASCII "
                       "characters without spaces",
                       TL_UNITMAP_PREFIX_MAX);
    struct tl_csv_opts copts = {o->delim, o->encoding};
    u.rc = tl_csv_read(in, &copts, &csink, err);
    if (u.rc == 0)
        convert(&u);
    tl_csv_free(u.header, u.ncols);
    free(u.map);
    for (size_t i = 0; i < u.nrows; i++) {
        free(u.rows[i].old);
        free(u.rows[i].new_code);
        free(u.rows[i].name);
        free(u.rows[i].parent);
        free(u.rows[i].old_name);
    }
    free(u.rows);
    for (size_t i = 0; i < u.nbads; i++)
        free(u.bads[i].msg);
    free(u.bads);
    for (size_t i = 0; i < u.npends; i++)
        json_decref(u.pends[i].ev);
    free(u.pends);
    return u.rc;
}
