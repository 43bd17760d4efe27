/*
 * tl_csv.c - see tl_csv.h.
 */
#include "tl_csv.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <csv.h>

#define CHUNK 65536

struct reader {
    const struct tl_csv_sink *sink;
    struct tl_error *err;
    int rc; /* first failure; stops everything */
    size_t row;
    int last_term; /* terminator of the previous row, to fold CRLF */
    bool header_seen;
    /* The row being read. */
    char **cells;
    size_t ncells, cap;
};

void tl_csv_normalise(char *s)
{
    for (; *s != '\0'; s++) {
        if (*s == ' ')
            *s = '_';
        else if (*s >= 'A' && *s <= 'Z')
            *s = (char)(*s - 'A' + 'a');
    }
}

void tl_csv_free(char **cells, size_t n)
{
    if (cells == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        free(cells[i]);
    free(cells);
}

static char *trim_dup(const char *s, size_t len)
{
    char *d;

    while (len > 0 && (*s == ' ' || *s == '\t')) {
        s++;
        len--;
    }
    while (len > 0 &&
           (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r'))
        len--;
    d = malloc(len + 1);
    if (d != NULL) {
        memcpy(d, s, len);
        d[len] = '\0';
    }
    return d;
}

static void nomem(struct reader *r)
{
    r->rc = tl_fail(r->err, POVTRACK_ENOMEM, "out of memory");
}

static void on_cell(void *s, size_t len, void *arg)
{
    struct reader *r = arg;
    char *cell;

    if (r->rc != 0)
        return;
    if (r->ncells == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        char **p;

        if (cap > SIZE_MAX / sizeof(*p)) {
            nomem(r);
            return;
        }
        p = realloc(r->cells, cap * sizeof(*p));
        if (p == NULL) {
            nomem(r);
            return;
        }
        r->cells = p;
        r->cap = cap;
    }
    cell = trim_dup(s != NULL ? s : "", s != NULL ? len : 0);
    if (cell == NULL) {
        nomem(r);
        return;
    }
    r->cells[r->ncells++] = cell;
}

static bool blank(char *const *cells, size_t n)
{
    for (size_t c = 0; c < n; c++)
        if (cells[c][0] != '\0')
            return false;
    return true;
}

static void on_row(int term, void *arg)
{
    struct reader *r = arg;
    int prev = r->last_term;

    r->last_term = term;
    if (r->rc != 0)
        return;
    /* CSV_REPALL_NL reports empty lines too, so that row numbers follow the
     * file; the '\n' of a CRLF is not a row of its own. */
    if (r->ncells == 0 && term == '\n' && prev == '\r')
        return;
    r->row++;
    if (!r->header_seen) {
        char **names = r->cells;
        size_t n = r->ncells;

        r->header_seen = true;
        r->cells = NULL;
        r->ncells = r->cap = 0;
        for (size_t c = 0; c < n; c++)
            tl_csv_normalise(names[c]);
        r->rc = r->sink->header(r->sink->arg, names, n);
        return;
    }
    if (!blank(r->cells, r->ncells))
        r->rc = r->sink->row(r->sink->arg, r->row, r->cells, r->ncells);
    for (size_t c = 0; c < r->ncells; c++)
        free(r->cells[c]);
    r->ncells = 0;
}

int tl_csv_read(FILE *in, char delim, const struct tl_csv_sink *sink,
                struct tl_error *err)
{
    struct csv_parser p;
    struct reader r;
    char *buf;
    bool first = true;
    size_t n;

    memset(&r, 0, sizeof(r));
    r.sink = sink;
    r.err = err;
    buf = malloc(CHUNK);
    if (buf == NULL ||
        csv_init(&p, CSV_STRICT | CSV_STRICT_FINI | CSV_REPALL_NL) != 0) {
        free(buf);
        return tl_fail(err, POVTRACK_ENOMEM, "out of memory");
    }
    csv_set_delim(&p, delim ? (unsigned char)delim : CSV_COMMA);
    while (r.rc == 0 && (n = fread(buf, 1, CHUNK, in)) > 0) {
        size_t skip = 0;
        /* Excel writes UTF-8 with a byte order mark. */
        if (first && n >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
            skip = 3;
        first = false;
        if (csv_parse(&p, buf + skip, n - skip, on_cell, on_row, &r) !=
                n - skip &&
            r.rc == 0)
            r.rc = tl_fail(err, POVTRACK_EINVALID,
                           "CSV syntax error after row %zu: %s", r.row,
                           csv_strerror(csv_error(&p)));
    }
    if (r.rc == 0 && ferror(in))
        r.rc = tl_fail(err, POVTRACK_EIO, "read error");
    if (r.rc == 0 && csv_fini(&p, on_cell, on_row, &r) != 0 && r.rc == 0)
        r.rc =
            tl_fail(err, POVTRACK_EINVALID, "CSV syntax error at the end: %s",
                    csv_strerror(csv_error(&p)));
    if (r.rc == 0 && !r.header_seen)
        r.rc = tl_fail(err, POVTRACK_EINVALID, "empty file: no header row");
    csv_free(&p);
    free(buf);
    tl_csv_free(r.cells, r.ncells);
    return r.rc;
}
