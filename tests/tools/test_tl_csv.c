/*
 * test_tl_csv.c - the CSV table reader shared by the importers: row numbers
 * (CRLF, CR, empty lines, line breaks in quoted cells), trimming, the
 * separator found from the header line, the text (UTF-8 with or without a
 * BOM, refused when not UTF-8, Windows-1258 and -1252 converted, NFC),
 * syntax errors, callbacks that stop, cells taken by the sink, input
 * larger than one read, and every allocation failing.
 *
 * The test is linked with --wrap=malloc,--wrap=realloc (see
 * CMakeLists.txt) so that the reader's allocations can be made to fail;
 * libc and libcsv allocate as usual.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tl_csv.h"

#define STRICT_MSG "error parsing data while strict checking enabled"

/* ---- failing allocations ---------------------------------------------- */

void *__real_malloc(size_t n);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_realloc(void *p, size_t n);

/* Allocations of the code under test made so far, and the one to fail
 * (-1: none).  The only mutable file-scope state, for the wrappers. */
static long allocs;
static long fail_at = -1;

static bool fail_now(void)
{
    return fail_at >= 0 && allocs++ == fail_at;
}

void *__wrap_malloc(size_t n)
{
    return fail_now() ? NULL : __real_malloc(n);
}

void *__wrap_realloc(void *p, size_t n)
{
    return fail_now() ? NULL : __real_realloc(p, n);
}

/* ---- a sink that writes what it gets as text -------------------------- */

/* "1[a][b] 2[1][2] ": each call's row number and its cells in brackets.
 * No allocation, so that only the reader's can fail. */
struct got {
    char log[4096];
    size_t len;
    struct tl_error *err;
    int header_rc;   /* what the header callback returns */
    size_t stop_row; /* the row callback returns 7 at this row (0: never) */
    char *taken[4];  /* cells taken by the sink, when take is set */
    size_t ntaken;
    bool take;
};

static void log_row(struct got *g, size_t row, char **cells, size_t n)
{
    int k = snprintf(g->log + g->len, sizeof(g->log) - g->len, "%zu", row);

    assert_true(k > 0 && (size_t)k < sizeof(g->log) - g->len);
    g->len += (size_t)k;
    for (size_t i = 0; i < n; i++) {
        assert_non_null(cells[i]);
        k = snprintf(g->log + g->len, sizeof(g->log) - g->len, "[%s]",
                     cells[i]);
        assert_true(k > 0 && (size_t)k < sizeof(g->log) - g->len);
        g->len += (size_t)k;
    }
    assert_true(g->len + 1 < sizeof(g->log));
    g->log[g->len++] = ' ';
    g->log[g->len] = '\0';
}

static int on_header(void *arg, char **names, size_t n)
{
    struct got *g = arg;

    if (n == 0)
        assert_null(names);
    log_row(g, 1, names, n);
    tl_csv_free(names, n);
    if (g->header_rc != 0)
        return tl_fail(g->err, g->header_rc, "bad header");
    return 0;
}

static int on_row(void *arg, size_t row, char **cells, size_t n)
{
    struct got *g = arg;
    bool blank = true;

    assert_true(row >= 2);
    assert_true(n >= 1);
    for (size_t i = 0; i < n; i++)
        blank = blank && cells[i][0] == '\0';
    assert_false(blank);
    log_row(g, row, cells, n);
    if (g->take && g->ntaken < 4) {
        g->taken[g->ntaken++] = cells[0];
        cells[0] = NULL;
    }
    return row == g->stop_row ? 7 : 0;
}

/* Read text (len bytes) with delim and encoding; the log is in g. */
static int read_enc(const char *text, size_t len, char delim,
                    const char *encoding, struct got *g, struct tl_error *err)
{
    const struct tl_csv_sink sink = {g, on_header, on_row};
    const struct tl_csv_opts o = {delim, encoding};
    FILE *f = fmemopen((void *)text, len, "r");
    int rc;

    assert_non_null(f);
    g->err = err;
    rc = tl_csv_read(f, &o, &sink, err);
    fclose(f);
    return rc;
}

static int read_text(const char *text, size_t len, char delim, struct got *g,
                     struct tl_error *err)
{
    return read_enc(text, len, delim, NULL, g, err);
}

/* The text reads without error and the sink sees want. */
static void reads_as(const char *text, const char *want)
{
    struct got g = {.len = 0};
    struct tl_error err = {{0}};
    int rc = read_text(text, strlen(text), 0, &g, &err);

    if (rc != POVTRACK_OK)
        fail_msg("%s", err.msg);
    assert_string_equal(g.log, want);
    assert_string_equal(err.msg, "");
}

/* The text fails with rc and msg after the sink saw want. */
static void fails_as(const char *text, int want_rc, const char *msg,
                     const char *want)
{
    struct got g = {.len = 0};
    struct tl_error err = {{0}};

    assert_int_equal(read_text(text, strlen(text), 0, &g, &err), want_rc);
    assert_string_equal(err.msg, msg);
    assert_string_equal(g.log, want);
}

/* ---- tests ------------------------------------------------------------ */

static void test_line_ends(void **state)
{
    (void)state;
    reads_as("a,b\n1,2\n3,4\n", "1[a][b] 2[1][2] 3[3][4] ");
    /* The '\n' of a CRLF is not a row of its own. */
    reads_as("a,b\r\n1,2\r\n3,4\r\n", "1[a][b] 2[1][2] 3[3][4] ");
    /* A lone CR ends a row too; the last row needs no line end. */
    reads_as("a\r1\r\n2\n3", "1[a] 2[1] 3[2] 4[3] ");
    reads_as("a", "1[a] ");
}

static void test_empty_lines_keep_numbers(void **state)
{
    (void)state;
    /* Rows 2 (empty), 4 (empty cells), 5 (blank cells, CRLF) and 6 (an
     * empty CRLF line) are counted but not given. */
    reads_as("a,b\n\n1,2\n,\n \t, \r\n\r\n3,4\n\n\n",
             "1[a][b] 3[1][2] 7[3][4] ");
    /* A short row is given as it is: the sink judges it. */
    reads_as("a,b,c\n1\n", "1[a][b][c] 2[1] ");
    /* An empty first line is the header, with no column. */
    reads_as("\nb\n", "1 2[b] ");
}

static void test_quoted_cells(void **state)
{
    (void)state;
    /* Line breaks inside quotes are the cell's, not rows. */
    reads_as("a,b\n\"x\ny\",\"1,5\"\n\"p\r\nq\",\"he said \"\"hi\"\"\"\n2,3\n",
             "1[a][b] 2[x\ny][1,5] 3[p\r\nq][he said \"hi\"] 4[2][3] ");
    /* Quoted or not, cells are trimmed of spaces, tabs and a last CR. */
    reads_as("a,b\n\" x \",\"\ty\r\"\n", "1[a][b] 2[x][y] ");
    reads_as("a,b\n\"\",\"z\"\n", "1[a][b] 2[][z] ");
}

static void test_header_bom_delimiter(void **state)
{
    static const char text[] = "\xEF\xBB\xBF Số Tiền ;NGÀY;\tDon  Vi\t;x,y\n"
                               "  1 ; 2;3 ;4,5\n";
    struct got g = {.len = 0};
    struct tl_error err = {{0}};

    (void)state;
    assert_int_equal(read_text(text, sizeof(text) - 1, ';', &g, &err),
                     POVTRACK_OK);
    /* Names as written, trimmed: the importers fold them themselves. */
    assert_string_equal(g.log, "1[Số Tiền][NGÀY][Don  Vi][x,y] "
                               "2[1][2][3][4,5] ");
    /* A BOM elsewhere than at the start is text. */
    reads_as("a\n\xEF\xBB\xBFx\n", "1[a] 2[\xEF\xBB\xBFx] ");
    /* No-break spaces (Excel's thousands separator in some locales) are
     * trimmed like spaces; inside a cell they stay. */
    reads_as("a,b\n\xC2\xA0"
             "1\xC2\xA0"
             "500\xC2\xA0,x\n",
             "1[a][b] 2[1\xC2\xA0"
             "500][x] ");
}

/* The separator is the one of , ; and tab the header line holds most of,
 * outside quotes: Excel in a Vietnamese locale writes ';'. */
static void test_delimiter_found(void **state)
{
    (void)state;
    reads_as("Ngày;Số tiền;Ghi chú\n01/11/2024;1.500,000;a, b\n",
             "1[Ngày][Số tiền][Ghi chú] 2[01/11/2024][1.500,000][a, b] ");
    reads_as("a\tb\tc\n1\t2,5\t3\n", "1[a][b][c] 2[1][2,5][3] ");
    reads_as("a,b;c\n1,2;3\n", "1[a][b;c] 2[1][2;3] ");
    /* Separators inside a quoted header name do not count. */
    reads_as("\"a;b;c\",d\n1,2\n", "1[a;b;c][d] 2[1][2] ");
    /* None at all: one column, as with ','. */
    reads_as("a\n1;2\n", "1[a] 2[1;2] ");
    /* Given, it wins. */
    struct got g = {.len = 0};
    struct tl_error err = {{0}};
    assert_int_equal(read_text("a;b,c\n1;2,3\n", 12, ',', &g, &err),
                     POVTRACK_OK);
    assert_string_equal(g.log, "1[a;b][c] 2[1;2][3] ");
}

/* The text: refused when not UTF-8 (as a whole, nothing given), read in
 * the encoding named, composed to NFC. */
static void test_encodings(void **state)
{
    /* "Nguyễn Văn Đức,Ẩn danh" as Excel saves it in Windows-1258: the
     * tone marks are combining characters of their own. */
    static const char cp1258[] = "T\xea"
                                 "n\n"
                                 "Nguy\xea\xde"
                                 "n V\xe3"
                                 "n \xd0\xfd\xec"
                                 "c\n"
                                 "\xc2\xd2"
                                 "n danh\n";
    static const char cp1252[] = "Nom\nRen\xe9\n";
    struct got g = {.len = 0};
    struct tl_error err = {{0}};

    (void)state;
    assert_int_equal(read_text(cp1258, sizeof(cp1258) - 1, 0, &g, &err),
                     POVTRACK_EINVALID);
    assert_string_equal(err.msg,
                        "line 1 is not UTF-8 text (byte 0xea): save the "
                        "spreadsheet as CSV UTF-8, or give --encoding cp1258 "
                        "(Excel's Vietnamese) or --encoding cp1252 (Western "
                        "European)");
    assert_string_equal(g.log, "");

    memset(&g, 0, sizeof(g));
    memset(&err, 0, sizeof(err));
    assert_int_equal(
        read_enc(cp1258, sizeof(cp1258) - 1, 0, "cp1258", &g, &err),
        POVTRACK_OK);
    /* NFC: the same bytes as the UTF-8 file would hold. */
    assert_string_equal(g.log, "1[Tên] 2[Nguyễn Văn Đức] 3[Ẩn danh] ");

    memset(&g, 0, sizeof(g));
    assert_int_equal(
        read_enc(cp1252, sizeof(cp1252) - 1, 0, "WINDOWS-1252", &g, &err),
        POVTRACK_OK);
    assert_string_equal(g.log, "1[Nom] 2[René] ");

    /* A UTF-8 file in decomposed form (NFD) is composed too. */
    reads_as("Te\xcc\x82n\nNguye\xcc\x82\xcc\x83n\n", "1[Tên] 2[Nguyễn] ");
    /* The second line is the bad one. */
    memset(&g, 0, sizeof(g));
    memset(&err, 0, sizeof(err));
    assert_int_equal(read_text("a\r\n\xff\n", 5, 0, &g, &err),
                     POVTRACK_EINVALID);
    assert_non_null(strstr(err.msg, "line 2 is not UTF-8 text (byte 0xff)"));

    /* An encoding for a file that is UTF-8 already would garble it. */
    memset(&g, 0, sizeof(g));
    memset(&err, 0, sizeof(err));
    assert_int_equal(read_enc("Tên\n", 5, 0, "cp1258", &g, &err),
                     POVTRACK_EINVALID);
    assert_string_equal(err.msg, "the file is UTF-8 already: leave out "
                                 "--encoding cp1258");
    memset(&err, 0, sizeof(err));
    assert_int_equal(read_enc("a\n", 2, 0, "klingon", &g, &err),
                     POVTRACK_EINVALID);
    assert_string_equal(err.msg, "unknown encoding \"klingon\" (give cp1258, "
                                 "cp1252 or utf-8)");
    /* "utf-8" named is the default. */
    memset(&g, 0, sizeof(g));
    assert_int_equal(read_enc("Tên\n", 5, 0, "UTF-8", &g, &err), POVTRACK_OK);
    assert_string_equal(g.log, "1[Tên] ");
}

static void test_errors(void **state)
{
    (void)state;
    fails_as("", POVTRACK_EINVALID, "empty file: no header row", "");
    fails_as("\xEF\xBB\xBF", POVTRACK_EINVALID, "empty file: no header row",
             "");
    /* A quote inside an unquoted cell: the rows before it were given. */
    fails_as("a,b\n1,2\n3,x\"y\n4,5\n", POVTRACK_EINVALID,
             "CSV syntax error after row 2: " STRICT_MSG, "1[a][b] 2[1][2] ");
    fails_as("a,b\n\n\n1,\"2\"x\n", POVTRACK_EINVALID,
             "CSV syntax error after row 3: " STRICT_MSG, "1[a][b] ");
    /* A quote never closed. */
    fails_as("a,b\n1,\"2\n3,4\n", POVTRACK_EINVALID,
             "CSV syntax error at the end: " STRICT_MSG, "1[a][b] ");
}

static void test_read_error(void **state)
{
    struct got g = {.len = 0};
    const struct tl_csv_sink sink = {&g, on_header, on_row};
    struct tl_error err = {{0}};
    FILE *f = fopen("/dev/null", "w"); /* reading it fails */

    (void)state;
    assert_non_null(f);
    assert_int_equal(tl_csv_read(f, NULL, &sink, &err), POVTRACK_EIO);
    assert_string_equal(err.msg, "read error");
    assert_string_equal(g.log, "");
    fclose(f);
}

static void test_callbacks_stop(void **state)
{
    static const char text[] = "a\n1\n2\n3\n4\n";
    struct got g = {.header_rc = POVTRACK_EINVALID};
    struct tl_error err = {{0}};

    (void)state;
    /* The header's failure is returned as it is, nothing else given. */
    assert_int_equal(read_text(text, sizeof(text) - 1, 0, &g, &err),
                     POVTRACK_EINVALID);
    assert_string_equal(err.msg, "bad header");
    assert_string_equal(g.log, "1[a] ");

    /* A row's code is returned and the reader adds no message. */
    memset(&g, 0, sizeof(g));
    memset(&err, 0, sizeof(err));
    g.stop_row = 3;
    assert_int_equal(read_text(text, sizeof(text) - 1, 0, &g, &err), 7);
    assert_string_equal(err.msg, "");
    assert_string_equal(g.log, "1[a] 2[1] 3[2] ");
}

static void test_sink_takes_cells(void **state)
{
    static const char text[] = "a,b\nx,1\ny,2\n";
    struct got g = {.take = true};
    struct tl_error err = {{0}};

    (void)state;
    assert_int_equal(read_text(text, sizeof(text) - 1, 0, &g, &err),
                     POVTRACK_OK);
    assert_int_equal(g.ntaken, 2);
    assert_string_equal(g.taken[0], "x");
    assert_string_equal(g.taken[1], "y");
    free(g.taken[0]);
    free(g.taken[1]);
}

/* ---- larger than one read --------------------------------------------- */

struct count {
    size_t ncols, rows, last_row, long_cell;
};

static int count_header(void *arg, char **names, size_t n)
{
    struct count *c = arg;

    c->ncols = n;
    assert_string_equal(names[n - 1], "c39");
    tl_csv_free(names, n);
    return 0;
}

static int count_row(void *arg, size_t row, char **cells, size_t n)
{
    struct count *c = arg;

    assert_int_equal(n, c->ncols);
    if (strlen(cells[1]) > 1000) {
        c->long_cell = strlen(cells[1]);
        assert_int_equal(cells[1][0], 'x');
        assert_int_equal(cells[1][c->long_cell - 1], 'x');
    } else {
        assert_int_equal(strtoul(cells[0], NULL, 10), row);
    }
    c->rows++;
    c->last_row = row;
    return 0;
}

static void test_large_input(void **state)
{
    struct count c = {0};
    const struct tl_csv_sink sink = {&c, count_header, count_row};
    struct tl_error err = {{0}};
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    (void)state;
    assert_non_null(f);
    /* 40 columns (the cell array grows past 16), 5,000 rows of which one
     * holds a quoted cell of 200,000 bytes with line breaks, so rows and
     * cells straddle the 64 KiB reads. */
    for (int i = 0; i < 40; i++)
        fprintf(f, "%sc%d", i ? "," : "", i);
    fputs("\r\n", f);
    for (size_t row = 2; row <= 5001; row++) {
        fprintf(f, "%zu", row);
        if (row == 2500) {
            fputs(",\"", f);
            for (int i = 0; i < 200000; i++)
                fputc(i % 1000 == 500 ? '\n' : 'x', f);
            fputc('"', f);
        } else {
            fputs(",b", f);
        }
        for (int i = 2; i < 40; i++)
            fputs(",v", f);
        fputs("\r\n", f);
    }
    assert_int_equal(fclose(f), 0);
    f = fmemopen(text, len, "r");
    assert_non_null(f);
    assert_int_equal(tl_csv_read(f, NULL, &sink, &err), POVTRACK_OK);
    fclose(f);
    free(text);
    assert_int_equal(c.ncols, 40);
    assert_int_equal(c.rows, 5000);
    assert_int_equal(c.last_row, 5001);
    assert_int_equal(c.long_cell, 200000);
}

/* ---- out of memory ---------------------------------------------------- */

static void test_out_of_memory(void **state)
{
    /* 20 columns: the cell array is grown once past its first 16. */
    static const char text[] =
        "a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q,r,s,t\n"
        "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20\n"
        "1,2\n";
    struct tl_error err = {{0}};
    struct got g = {.len = 0};
    long total;

    (void)state;
    /* Count the allocations of a good run. */
    allocs = 0;
    fail_at = LONG_MAX;
    assert_int_equal(read_text(text, sizeof(text) - 1, 0, &g, &err),
                     POVTRACK_OK);
    total = allocs;
    fail_at = -1;
    assert_true(total > 40);
    /* Each one failing is "out of memory", with nothing leaked (ASan). */
    for (long k = 0; k < total; k++) {
        memset(&g, 0, sizeof(g));
        memset(&err, 0, sizeof(err));
        allocs = 0;
        fail_at = k;
        int rc = read_text(text, sizeof(text) - 1, 0, &g, &err);
        fail_at = -1;
        if (rc != POVTRACK_ENOMEM)
            fail_msg("allocation %ld failing: rc %d, \"%s\"", k, rc, err.msg);
        assert_string_equal(err.msg, "out of memory");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_line_ends),
        cmocka_unit_test(test_empty_lines_keep_numbers),
        cmocka_unit_test(test_quoted_cells),
        cmocka_unit_test(test_header_bom_delimiter),
        cmocka_unit_test(test_delimiter_found),
        cmocka_unit_test(test_encodings),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_read_error),
        cmocka_unit_test(test_callbacks_stop),
        cmocka_unit_test(test_sink_takes_cells),
        cmocka_unit_test(test_large_input),
        cmocka_unit_test(test_out_of_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
