/*
 * tl_csv.c - see tl_csv.h.
 *
 * The whole file is read into memory first: spreadsheets are small (the
 * national unit list is under 1 MB), and the text has to be checked or
 * converted as a whole before a row may be trusted.
 */
#include "tl_csv.h"

#include <errno.h>
#include <iconv.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <csv.h>
#include <povtrack/protocol.h>

#include "tl_fold.h"

#define CHUNK 65536

static const char encoding_hint[] =
    "save the spreadsheet as CSV UTF-8, or give --encoding cp1258 (Excel's "
    "Vietnamese) or --encoding cp1252 (Western European)";

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

void tl_csv_free(char **cells, size_t n)
{
    if (cells == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        free(cells[i]);
    free(cells);
}

/* The length of a space, tab or no-break space at s (n bytes), 0 if none. */
static size_t blank_at(const char *s, size_t n)
{
    if (n >= 1 && (s[0] == ' ' || s[0] == '\t'))
        return 1;
    if (n >= 2 && (unsigned char)s[0] == 0xC2 && (unsigned char)s[1] == 0xA0)
        return 2;
    return 0;
}

static size_t blank_before(const char *s, size_t n)
{
    if (n >= 1 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        return 1;
    if (n >= 2 && (unsigned char)s[n - 2] == 0xC2 &&
        (unsigned char)s[n - 1] == 0xA0)
        return 2;
    return 0;
}

static char *trim_dup(const char *s, size_t len)
{
    size_t k;
    char *d;

    while ((k = blank_at(s, len)) > 0) {
        s += k;
        len -= k;
    }
    while ((k = blank_before(s, len)) > 0)
        len -= k;
    d = malloc(len + 1);
    if (d != NULL) {
        memcpy(d, s, len);
        d[len] = '\0';
    }
    return d;
}

static int nomem(struct tl_error *err)
{
    return tl_fail(err, POVTRACK_ENOMEM, "out of memory");
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
            r->rc = nomem(r->err);
            return;
        }
        p = realloc(r->cells, cap * sizeof(*p));
        if (p == NULL) {
            r->rc = nomem(r->err);
            return;
        }
        r->cells = p;
        r->cap = cap;
    }
    cell = trim_dup(s != NULL ? s : "", s != NULL ? len : 0);
    if (cell == NULL) {
        r->rc = nomem(r->err);
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
        r->rc = r->sink->header(r->sink->arg, names, n);
        return;
    }
    if (!blank(r->cells, r->ncells))
        r->rc = r->sink->row(r->sink->arg, r->row, r->cells, r->ncells);
    for (size_t c = 0; c < r->ncells; c++)
        free(r->cells[c]);
    r->ncells = 0;
}

/* ---- the text --------------------------------------------------------- */

/* All of in into *buf (malloc'ed, one byte more than *len for a NUL). */
static int slurp(FILE *in, char **buf, size_t *len, struct tl_error *err)
{
    size_t cap = CHUNK, n = 0, got;
    char *b = malloc(cap + 1), *p;

    if (b == NULL)
        return nomem(err);
    while ((got = fread(b + n, 1, cap - n, in)) > 0) {
        n += got;
        if (n < cap)
            continue;
        if (cap > (SIZE_MAX - 1) / 2 || (p = realloc(b, cap * 2 + 1)) == NULL) {
            free(b);
            return nomem(err);
        }
        b = p;
        cap *= 2;
    }
    if (ferror(in)) {
        free(b);
        return tl_fail(err, POVTRACK_EIO, "read error");
    }
    b[n] = '\0';
    *buf = b;
    *len = n;
    return POVTRACK_OK;
}

/* The line of byte off, as an editor counts them (LF, CR or CRLF). */
static size_t line_of(const char *s, size_t off)
{
    size_t line = 1;

    for (size_t i = 0; i < off; i++)
        if (s[i] == '\n' ||
            (s[i] == '\r' && (i + 1 >= off || s[i + 1] != '\n')))
            line++;
    return line;
}

static bool is_utf8_name(const char *enc)
{
    return enc == NULL || strcasecmp(enc, "utf-8") == 0 ||
           strcasecmp(enc, "utf8") == 0;
}

static bool has_non_ascii(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] >= 0x80)
            return true;
    return false;
}

/* Convert *buf (*len bytes) from enc to UTF-8, replacing it. */
static int convert(const char *enc, char **buf, size_t *len,
                   struct tl_error *err)
{
    iconv_t cd = iconv_open("UTF-8", enc);
    char *in = *buf, *out, *o;
    size_t inleft = *len, cap, outleft;

    if (cd == (iconv_t)-1)
        return tl_fail(err, POVTRACK_EINVALID,
                       "unknown encoding \"%s\" (give cp1258, cp1252 or utf-8)",
                       enc);
    /* One byte of a code page is at most three of UTF-8 (and Windows-1258
     * gives no more characters than bytes). */
    if (*len > (SIZE_MAX - 1) / 3) {
        iconv_close(cd);
        return nomem(err);
    }
    cap = *len * 3;
    out = malloc(cap + 1);
    if (out == NULL) {
        iconv_close(cd);
        return nomem(err);
    }
    o = out;
    outleft = cap;
    if (iconv(cd, &in, &inleft, &o, &outleft) == (size_t)-1) {
        int e = errno;
        size_t off = (size_t)(in - *buf);
        unsigned char byte = off < *len ? (unsigned char)(*buf)[off] : 0;

        iconv_close(cd);
        free(out);
        if (e == E2BIG)
            return nomem(err);
        return tl_fail(err, POVTRACK_EINVALID,
                       "line %zu: byte 0x%02x is not a character of %s",
                       line_of(*buf, off), byte, enc);
    }
    iconv_close(cd);
    free(*buf);
    *buf = out;
    *len = cap - outleft;
    out[*len] = '\0';
    return POVTRACK_OK;
}

/* The text of the file as UTF-8 in NFC, from *skip on (a BOM skipped). */
static int text_of(const struct tl_csv_opts *o, char **buf, size_t *len,
                   size_t *skip, struct tl_error *err)
{
    const char *enc = o != NULL ? o->encoding : NULL;
    size_t bad;
    int rc;

    bad = povtrack_proto_utf8_prefix(*buf, *len);
    if (is_utf8_name(enc)) {
        if (bad != *len)
            return tl_fail(err, POVTRACK_EINVALID,
                           "line %zu is not UTF-8 text (byte 0x%02x): %s",
                           line_of(*buf, bad), (unsigned char)(*buf)[bad],
                           encoding_hint);
    } else {
        if (bad == *len && has_non_ascii(*buf, *len))
            return tl_fail(err, POVTRACK_EINVALID,
                           "the file is UTF-8 already: leave out --encoding "
                           "%s",
                           enc);
        if ((rc = convert(enc, buf, len, err)) != 0)
            return rc;
    }
    /* Excel writes UTF-8 with a byte order mark. */
    *skip = *len >= 3 && memcmp(*buf, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
    *len = *skip + tl_nfc(*buf + *skip, *len - *skip);
    return POVTRACK_OK;
}

/* The separator the header line holds most of, outside quotes. */
static char find_delim(const char *s, size_t n)
{
    static const char cands[] = {',', ';', '\t'};
    size_t count[3] = {0, 0, 0}, best = 0;
    bool quoted = false;

    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"')
            quoted = !quoted;
        else if (!quoted && (s[i] == '\n' || s[i] == '\r'))
            break;
        else if (!quoted)
            for (size_t k = 0; k < 3; k++)
                count[k] += s[i] == cands[k];
    }
    for (size_t k = 1; k < 3; k++)
        if (count[k] > count[best])
            best = k;
    return cands[best];
}

int tl_csv_read(FILE *in, const struct tl_csv_opts *opts,
                const struct tl_csv_sink *sink, struct tl_error *err)
{
    struct csv_parser p;
    struct reader r;
    char *buf = NULL;
    size_t len = 0, skip = 0;
    char delim;

    memset(&r, 0, sizeof(r));
    r.sink = sink;
    r.err = err;
    r.rc = slurp(in, &buf, &len, err);
    if (r.rc == 0)
        r.rc = text_of(opts, &buf, &len, &skip, err);
    if (r.rc == 0 && len == skip)
        r.rc = tl_fail(err, POVTRACK_EINVALID, "empty file: no header row");
    if (r.rc != 0) {
        free(buf);
        return r.rc;
    }
    if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI | CSV_REPALL_NL) != 0) {
        free(buf);
        return nomem(err);
    }
    delim = opts != NULL && opts->delim != 0
                ? opts->delim
                : find_delim(buf + skip, len - skip);
    csv_set_delim(&p, (unsigned char)delim);
    if (csv_parse(&p, buf + skip, len - skip, on_cell, on_row, &r) !=
            len - skip &&
        r.rc == 0)
        r.rc = tl_fail(err, POVTRACK_EINVALID,
                       "CSV syntax error after row %zu: %s", r.row,
                       csv_strerror(csv_error(&p)));
    if (r.rc == 0 && csv_fini(&p, on_cell, on_row, &r) != 0 && r.rc == 0)
        r.rc =
            tl_fail(err, POVTRACK_EINVALID, "CSV syntax error at the end: %s",
                    csv_strerror(csv_error(&p)));
    csv_free(&p);
    free(buf);
    tl_csv_free(r.cells, r.ncells);
    return r.rc;
}
