/*
 * test_tl_import.c - the spreadsheet importer (tl_import): cell parsers;
 * headers and values whatever their case, diacritics and form; a required
 * column missing; every problem of every row at once, at its cell, in
 * English and Vietnamese, with the daemon's own checks; stable ids (from
 * receipt numbers or content, never the file or the row); repeated rows;
 * and the comparison with what the log holds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tl_import.h"
#include "tl_json.h"

#define SAMPLE TOOLS_TEST_DIR "/donations-sample.csv"

/* 00:00 in Vietnam on 2024-10-17. */
#define OCT17 INT64_C(1729098000)
/* "Now" for the checks: 2026-12-06 12:00 in Vietnam. */
#define NOW INT64_C(1796533200)

static void test_dates(void **state)
{
    struct tl_error err = {{0}};
    int64_t at = 0;

    (void)state;
    assert_int_equal(tl_parse_date("2024-10-17", &at, &err), POVTRACK_OK);
    assert_true(at == OCT17);
    assert_int_equal(tl_parse_date("17/10/2024", &at, &err), POVTRACK_OK);
    assert_true(at == OCT17);
    assert_int_equal(tl_parse_date("1/2/2024", &at, &err), POVTRACK_OK);
    assert_int_equal(tl_parse_date("29/02/2024", &at, &err), POVTRACK_OK);
    assert_int_equal(tl_parse_date("2000-01-02", &at, &err), POVTRACK_OK);
    assert_true(at == INT64_C(946746000));
    assert_int_equal(tl_parse_date("29/02/2023", &at, &err), POVTRACK_EINVALID);
    assert_non_null(strstr(err.msg, "not a day of the calendar"));
    memset(&err, 0, sizeof(err));
    assert_int_equal(tl_parse_date("2024-13-01", &at, &err), POVTRACK_EINVALID);
    assert_int_equal(tl_parse_date("2024/10/17", &at, &err), POVTRACK_EINVALID);
    assert_int_equal(tl_parse_date("17-10-2024", &at, &err), POVTRACK_EINVALID);
    assert_int_equal(tl_parse_date("2024-10-17x", &at, &err),
                     POVTRACK_EINVALID);
    assert_int_equal(tl_parse_date("17/10/24", &at, &err), POVTRACK_EINVALID);
    memset(&err, 0, sizeof(err));
    assert_int_equal(tl_parse_date("", &at, &err), POVTRACK_EINVALID);
    assert_string_equal(err.msg, "empty date");
}

static void amount_ok(const char *s, int64_t want)
{
    struct tl_error err = {{0}};
    int64_t v = -1;

    if (tl_parse_vnd(s, &v, &err) != POVTRACK_OK)
        fail_msg("\"%s\": %s", s, err.msg);
    assert_true(v == want);
}

static void amount_bad(const char *s, const char *why)
{
    struct tl_error err = {{0}};
    int64_t v = -1;

    assert_int_equal(tl_parse_vnd(s, &v, &err), POVTRACK_EINVALID);
    if (strstr(err.msg, why) == NULL)
        fail_msg("\"%s\": got \"%s\", want \"%s\"", s, err.msg, why);
}

static void test_amounts(void **state)
{
    (void)state;
    amount_ok("1500000", 1500000);
    amount_ok("1.500.000", 1500000);
    amount_ok("1,500,000", 1500000);
    amount_ok("1.500", 1500);
    amount_ok("200.000 đ", 200000);
    amount_ok("200.000\xc2\xa0đ", 200000); /* a no-break space */
    amount_ok("5.000.000 VND", 5000000);
    amount_ok("5000000₫", 5000000);
    amount_ok("300.000 đồng", 300000);
    amount_ok("0", 0);
    amount_ok("9223372036854775807", INT64_MAX);
    amount_bad("1.500,50", "decimals");
    amount_bad("1,500.5", "decimals");
    amount_bad("1,5", "decimals");
    amount_bad("1500000.00", "decimals");
    amount_bad("1.50.000", "misplaced");
    amount_bad("1500.000.000", "misplaced");
    amount_bad(".500", "misplaced");
    amount_bad("một triệu", "not an amount");
    amount_bad("1 500 000", "not an amount");
    amount_bad("", "empty amount");
    amount_bad("VND", "not an amount");
    amount_bad("-500000", "negative");
    amount_bad("9223372036854775808", "too large");
}

/* ---- reading sheets --------------------------------------------------- */

static struct tl_import_opts opts(void)
{
    struct tl_import_opts o;

    memset(&o, 0, sizeof(o));
    o.unit = "22957";
    o.publisher = "mttq-593";
    o.now = NOW;
    return o;
}

static int read_text(const char *text, const struct tl_import_opts *o,
                     struct tl_import_sheet *s, struct tl_error *err)
{
    FILE *f = fmemopen((void *)text, strlen(text), "r");
    int rc;

    assert_non_null(f);
    rc = tl_import_read(f, o, s, err);
    fclose(f);
    return rc;
}

/* The sheet reads; its problems are exactly want (texts, in order). */
static void reads(const char *text, const struct tl_import_opts *o,
                  struct tl_import_sheet *s, const char *const *want)
{
    struct tl_error err = {{0}};
    size_t n = 0;
    int rc = read_text(text, o, s, &err);

    if (rc != POVTRACK_OK)
        fail_msg("rc %d: %s", rc, err.msg);
    while (want != NULL && want[n] != NULL)
        n++;
    for (size_t i = 0; i < s->nproblems || i < n; i++) {
        const char *got = i < s->nproblems ? s->problems[i].text : "(none)";
        const char *exp = i < n ? want[i] : "(none)";
        if (strcmp(got, exp) != 0)
            fail_msg("problem %zu:\n  got  %s\n  want %s", i, got, exp);
    }
}

static const json_t *event_of_row(const struct tl_import_sheet *s, size_t row)
{
    for (size_t i = 0; i < s->nrows; i++)
        if (s->rows[i].row == row)
            return s->rows[i].event;
    fail_msg("no event for row %zu", row);
    return NULL;
}

static const char *str(const json_t *ev, const char *key)
{
    const json_t *v = json_object_get(ev, key);
    if (v == NULL)
        v = json_object_get(json_object_get(ev, "data"), key);
    return json_string_value(v);
}

static json_int_t num(const json_t *ev, const char *key)
{
    const json_t *v = json_object_get(ev, key);
    if (v == NULL)
        v = json_object_get(json_object_get(ev, "data"), key);
    assert_true(json_is_integer(v));
    return json_integer_value(v);
}

/* The sample of tests/tools: every kind of bad cell, each at its cell. */
static void test_sample_csv(void **state)
{
    static const char *const want[] = {
        "row 5, column ngay: 2024-13-01 is not a day of the calendar",
        "row 6, column ngay: 31/02/2024 is not a day of the calendar",
        "row 7, column ngay: 2024/10/21 is not a date (write DD/MM/YYYY or "
        "YYYY-MM-DD)",
        "row 8, column so_tien: 1.500,50 has decimals: amounts are whole VND",
        "row 9, column so_tien: 1,5 has decimals: amounts are whole VND",
        "row 10, column so_tien: một triệu is not an amount in VND",
        "row 11, column so_tien: empty, and the amount is required",
        "row 12, column so_tien: -500000 is negative",
        "row 13, column so_tien: 1.50.000: a thousands separator is out of "
        "place",
        "row 14, column ngay: empty, and the date is required",
        "row 15, column hien_vat: có lẽ is not yes or no: write Hiện vật or "
        "Tiền mặt, Chuyển khoản (or Có/Không, x, 1/0)",
        "row 16: 10 cells but the header has 9 columns",
        NULL};
    struct tl_import_opts o = opts();
    struct tl_import_sheet s;
    FILE *f = fopen(SAMPLE, "r");
    char text[8192];
    size_t n;
    const json_t *e;

    (void)state;
    assert_non_null(f);
    n = fread(text, 1, sizeof(text) - 1, f);
    text[n] = '\0';
    fclose(f);
    o.unit = "60";
    reads(text, &o, &s, want);
    assert_int_equal(s.data_rows, 16);
    assert_int_equal(s.nrows, 4);
    assert_int_equal(s.nnotes, 0);

    e = event_of_row(&s, 2);
    assert_int_equal(num(e, "v"), 1);
    assert_string_equal(str(e, "type"), "donation.received");
    assert_string_equal(str(e, "unit"), "60");
    assert_true(num(e, "at") == OCT17);
    assert_true(num(e, "amount") == 1500000);
    assert_string_equal(str(e, "donor"), "Nguyễn Văn An");
    assert_string_equal(str(e, "donor_kind"), "person");
    assert_string_equal(str(e, "level"), "province");
    assert_null(json_object_get(json_object_get(e, "data"), "pledge"));
    assert_null(json_object_get(json_object_get(e, "data"), "in_kind"));
    e = event_of_row(&s, 3);
    assert_true(num(e, "at") == OCT17 + 86400);
    assert_string_equal(str(e, "donor_kind"), "business");
    assert_string_equal(str(e, "pledge"), "CK-2024-60-1");
    e = event_of_row(&s, 4);
    assert_true(num(e, "amount") == 2000000);
    assert_true(
        json_is_true(json_object_get(json_object_get(e, "data"), "in_kind")));
    /* Empty level cell: the unit's own level. */
    assert_string_equal(str(e, "level"), "province");
    e = event_of_row(&s, 17);
    assert_string_equal(str(e, "donor_kind"), "anonymous");
    tl_import_free(&s);
}

/* Headers and values match whatever their case, diacritics and form; the
 * separator is found. */
static void test_headers_and_values(void **state)
{
    /* Capitals, one header decomposed (NFD), ';' as Excel writes it in a
     * Vietnamese locale, a BOM, values in every spelling. */
    static const char text[] =
        "\xEF\xBB\xBF"
        "STT;NGÀY NHẬN;HỌ VÀ TÊN;SỐ TIỀN;LOA\xCC\xA3I;ĐƠN VỊ;CẤP;HÌNH THỨC;"
        "GHI CHÚ\r\n"
        "1;17/10/2024;An;1.000.000;Ẩn danh;22957;Xã;Tiền mặt;x\r\n"
        "2;17/10/2024;Bình;1.000.000;ẩn danh;22957;phường;Hiện vật;\r\n"
        "3;17/10/2024;Chi;1.000.000;an danh;22957;Tỉnh;Chuyển khoản;\r\n"
        "4;17/10/2024;Dung;1.000.000;Doanh nghiệp;593;huyen;có;\r\n"
        "5;17/10/2024;Đức;1.000.000;TỔ CHỨC;60;Trung ương;0;\r\n"
        "6;17/10/2024;Em;1.000.000;person;60;;;\r\n";
    struct tl_import_opts o = opts();
    struct tl_import_sheet s;

    (void)state;
    reads(text, &o, &s, NULL);
    assert_int_equal(s.nrows, 6);
    assert_string_equal(s.unit_column, "ĐƠN VỊ");
    assert_string_equal(str(event_of_row(&s, 2), "donor_kind"), "anonymous");
    assert_string_equal(str(event_of_row(&s, 3), "donor_kind"), "anonymous");
    assert_string_equal(str(event_of_row(&s, 4), "donor_kind"), "anonymous");
    assert_string_equal(str(event_of_row(&s, 5), "donor_kind"), "business");
    assert_string_equal(str(event_of_row(&s, 6), "donor_kind"), "organisation");
    assert_string_equal(str(event_of_row(&s, 7), "donor_kind"), "person");
    assert_string_equal(str(event_of_row(&s, 2), "level"), "commune");
    assert_string_equal(str(event_of_row(&s, 3), "level"), "commune");
    assert_string_equal(str(event_of_row(&s, 4), "level"), "province");
    assert_string_equal(str(event_of_row(&s, 5), "level"), "district");
    assert_string_equal(str(event_of_row(&s, 6), "level"), "central");
    assert_string_equal(str(event_of_row(&s, 7), "level"), "province");
    assert_string_equal(str(event_of_row(&s, 5), "unit"), "593");
    assert_true(json_is_false(json_object_get(
        json_object_get(event_of_row(&s, 2), "data"), "in_kind")));
    assert_true(json_is_true(json_object_get(
        json_object_get(event_of_row(&s, 3), "data"), "in_kind")));
    assert_true(json_is_true(json_object_get(
        json_object_get(event_of_row(&s, 5), "data"), "in_kind")));
    assert_int_equal(s.nnotes, 0);
    tl_import_free(&s);

    /* "Mã đơn vị" says it better than "Đơn vị" (a name column): noted. */
    reads("Ngày,Đơn vị,Mã đơn vị,Tên,Số tiền,Loại\n"
          "17/10/2024,Xã Thiện Nghiệp,22957,An,100,Cá nhân\n",
          &o, &s, NULL);
    assert_string_equal(str(event_of_row(&s, 2), "unit"), "22957");
    assert_int_equal(s.nnotes, 1);
    assert_string_equal(s.notes[0], "column Đơn vị is ignored: column Mã "
                                    "đơn vị gives the unit");
    tl_import_free(&s);
}

/* A column that maps to nothing, and a required field no column gives:
 * the sheet as a whole, naming both. */
static void test_missing_columns(void **state)
{
    struct tl_import_opts o = opts();
    struct tl_import_sheet s;
    struct tl_error err = {{0}};

    (void)state;
    assert_int_equal(read_text("Thời điểm,Tên,Số tiền,Loại\n"
                               "17/10/2024,An,100,Cá nhân\n",
                               &o, &s, &err),
                     POVTRACK_EINVALID);
    assert_int_equal(s.nproblems, 1);
    assert_string_equal(s.problems[0].text,
                        "Thời điểm is not a column I know; the sheet has no "
                        "date column (Ngày, Ngày nhận, Date): rename it or "
                        "give --column date=\"Thời điểm\"");
    assert_string_equal(err.msg, "the sheet lacks 1 column it needs: nothing "
                                 "imported");
    assert_int_equal(s.nrows, 0);
    tl_import_free(&s);

    /* Every missing one is listed; an enumerated one can be --set. */
    memset(&err, 0, sizeof(err));
    o.unit = NULL;
    o.lang = TL_LANG_VI;
    assert_int_equal(read_text("Ngày,Tên\n17/10/2024,An\n", &o, &s, &err),
                     POVTRACK_EINVALID);
    assert_int_equal(s.nproblems, 3);
    assert_string_equal(s.problems[0].text,
                        "bảng không có cột đơn vị (Mã đơn vị, Đơn vị, Unit): "
                        "thêm cột, hoặc dùng --unit MÃ");
    assert_string_equal(s.problems[1].text,
                        "bảng không có cột số tiền (Số tiền, Amount): thêm "
                        "cột, hoặc dùng --column amount=TÊN_CỘT");
    assert_string_equal(s.problems[2].text,
                        "bảng không có cột loại người ủng hộ (Loại, Đối "
                        "tượng, Donor kind): thêm cột, hoặc dùng --set "
                        "donor_kind=GIÁ_TRỊ cho mọi dòng");
    tl_import_free(&s);

    /* --column and --set give them. */
    static const char *const cols[] = {"date=Thời điểm"};
    static const char *const sets[] = {"donor_kind=Cá nhân"};
    o = opts();
    o.columns = cols;
    o.ncolumns = 1;
    o.sets = sets;
    o.nsets = 1;
    reads("Thời điểm,Tên,Số tiền\n17/10/2024,An,100\n", &o, &s, NULL);
    assert_string_equal(str(event_of_row(&s, 2), "donor_kind"), "person");
    assert_true(num(event_of_row(&s, 2), "at") == OCT17);
    tl_import_free(&s);

    /* Bad options stop before anything is read. */
    static const char *const bad_set[] = {"donor_kind=friend"};
    o.sets = bad_set;
    memset(&err, 0, sizeof(err));
    assert_int_equal(read_text("Thời điểm,Tên,Số tiền\n", &o, &s, &err),
                     POVTRACK_EINVALID);
    assert_non_null(strstr(err.msg, "--set donor_kind=friend: friend is not "
                                    "a donor kind"));
    tl_import_free(&s);
    static const char *const bad_col[] = {"date=Ngày giờ"};
    o.columns = bad_col;
    o.nsets = 0;
    memset(&err, 0, sizeof(err));
    assert_int_equal(read_text("Thời điểm,Tên,Số tiền\n", &o, &s, &err),
                     POVTRACK_EINVALID);
    assert_string_equal(err.msg, "--column date=Ngày giờ: the sheet has no "
                                 "column \"Ngày giờ\"");
    tl_import_free(&s);
}

/* The daemon's own checks, worded for the cell: in the future, not
 * positive, too long, not a unit code; in English and in Vietnamese. */
static void test_catalogue_checks(void **state)
{
    char text[1024], donor[300];
    struct tl_import_opts o = opts();
    struct tl_import_sheet s;

    (void)state;
    memset(donor, 'x', 290);
    donor[290] = '\0';
    snprintf(text, sizeof(text),
             "Ngày,Tên,Số tiền,Loại,Mã đơn vị\n"
             "12/03/2027,An,100,Cá nhân,22957\n"
             "31/12/1999,An,100,Cá nhân,22957\n"
             "17/10/2024,An,0,Cá nhân,22957\n"
             "17/10/2024,%s,100,Cá nhân,22957\n"
             "17/10/2024,An,100,Cá nhân,2295\n"
             "07/12/2026,An,100,Cá nhân,22957\n",
             donor);
    static const char *const en[] = {
        "row 2, column Ngày: 12/03/2027 is in the future",
        "row 3, column Ngày: 31/12/1999 is before the year 2000",
        "row 4, column Số tiền: 0: the amount must be more than 0",
        "row 5, column Tên: too long: 290 bytes, at most 256 (about 85 "
        "Vietnamese characters)",
        "row 6, column Mã đơn vị: 2295 is not a unit code (2, 3 or 5 digits; "
        "a lost leading zero? keep codes as text)",
        NULL};
    reads(text, &o, &s, en);
    /* Tomorrow is not the future yet: the daemon allows a day. */
    assert_int_equal(s.nrows, 1);
    assert_string_equal(s.problems[0].column, "Ngày");
    assert_string_equal(s.problems[0].value, "12/03/2027");
    assert_string_equal(s.problems[0].reason, "12/03/2027 is in the future");
    tl_import_free(&s);

    static const char *const vi[] = {
        "dòng 2, cột Ngày: 12/03/2027 là ngày trong tương lai",
        "dòng 3, cột Ngày: 31/12/1999 là trước năm 2000",
        "dòng 4, cột Số tiền: 0: số tiền phải lớn hơn 0",
        "dòng 5, cột Tên: dài quá: 290 byte, tối đa 256 (khoảng 85 chữ "
        "tiếng Việt)",
        "dòng 6, cột Mã đơn vị: 2295 không phải là mã đơn vị (2, 3 hoặc 5 "
        "chữ số; mất số 0 ở đầu? hãy để mã ở dạng văn bản)",
        NULL};
    o.lang = TL_LANG_VI;
    reads(text, &o, &s, vi);
    tl_import_free(&s);

    /* A value from --unit is named as the option. */
    o = opts();
    o.unit = "9999";
    static const char *const opt[] = {
        "row 2, --unit 9999: 9999 is not a unit code (2, 3 or 5 digits; a "
        "lost leading zero? keep codes as text)",
        NULL};
    reads("Ngày,Tên,Số tiền,Loại\n17/10/2024,An,100,Cá nhân\n", &o, &s, opt);
    tl_import_free(&s);
}

/* Ids: from the receipt number, else from the content and the publisher;
 * never from the file's name or the row's position. */
static void test_stable_ids(void **state)
{
    static const char a[] = "Ngày,Tên,Số tiền,Loại\n"
                            "17/10/2024,An,\"1,000,000\",Cá nhân\n"
                            "18/10/2024,Bình,\"2,000,000\",Cá nhân\n";
    /* The same rows: other order, other formats, a blank row, an ignored
     * column, the header in capitals and decomposed. */
    static const char b[] = "GHI CHU;SO TIEN;NGAY;TEN;LOAI\n"
                            "x;2.000.000;2024-10-18;Bình;ca nhan\n"
                            ";;;;\n"
                            "y;1000000 đ;17/10/2024;An;CÁ NHÂN\n";
    struct tl_import_opts o = opts();
    struct tl_import_sheet s, t;
    char id[TL_IMPORT_ID_MAX + 1];

    (void)state;
    reads(a, &o, &s, NULL);
    reads(b, &o, &t, NULL);
    assert_int_equal(s.nrows, 2);
    assert_int_equal(t.nrows, 2);
    assert_string_equal(s.rows[0].id, t.rows[1].id);
    assert_string_equal(s.rows[1].id, t.rows[0].id);
    assert_string_not_equal(s.rows[0].id, s.rows[1].id);
    /* csv-<8 hex of the publisher>-<sheet>-h<16 hex> */
    assert_int_equal(strncmp(s.rows[0].id, "csv-", 4), 0);
    assert_int_equal(strlen(s.rows[0].id), 4 + 8 + 1 + 17 + 1 + 17);
    assert_non_null(strstr(s.rows[0].id, "-donation-received-h"));
    assert_string_equal(str(s.rows[0].event, "id"), s.rows[0].id);
    snprintf(id, sizeof(id), "%s", s.rows[0].id);
    tl_import_free(&s);
    tl_import_free(&t);

    /* Another publisher or sheet: other ids. */
    o.publisher = "mttq-594";
    reads(a, &o, &s, NULL);
    assert_string_not_equal(s.rows[0].id, id);
    tl_import_free(&s);
    o = opts();
    o.sheet = "Quỹ 2024 (tháng 10)";
    reads(a, &o, &s, NULL);
    assert_non_null(strstr(s.rows[0].id, "-quy-2024-thang-10-h"));
    tl_import_free(&s);

    /* Receipt numbers: the id whatever else the row holds. */
    o = opts();
    reads("Số biên lai,Ngày,Tên,Số tiền,Loại\n"
          "BL/2024-012,17/10/2024,An,100,Cá nhân\n"
          "Biên lai số 13,17/10/2024,An,100,Cá nhân\n",
          &o, &s, NULL);
    assert_int_equal(s.nrows, 2);
    assert_string_equal(s.rows[0].id + 13, "donation-received-bl-bl-2024-012");
    assert_string_equal(s.rows[1].id + 13,
                        "donation-received-bl-bien-lai-so-13");
    assert_string_equal(s.rows[0].receipt, "BL/2024-012");
    snprintf(id, sizeof(id), "%s", s.rows[0].id);
    tl_import_free(&s);
    reads("Receipt,Ngày,Tên,Số tiền,Loại\n"
          "bl 2024 012,17/10/2024,An,999,Cá nhân\n",
          &o, &s, NULL);
    assert_string_equal(s.rows[0].id, id);
    tl_import_free(&s);
    /* --id-column names another; a long one is cut with a hash. */
    o.id_column = "Chứng từ gốc";
    reads("Chứng từ gốc,Ngày,Tên,Số tiền,Loại\n"
          "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA,17/10/2024,"
          "An,100,Cá nhân\n",
          &o, &s, NULL);
    assert_int_equal(strlen(strstr(s.rows[0].id, "-bl-") + 4), 40);
    assert_true(strlen(s.rows[0].id) <= TL_IMPORT_ID_MAX);
    for (const char *p = s.rows[0].id; *p != '\0'; p++)
        assert_true(*p > 0x20 && *p < 0x7f);
    tl_import_free(&s);
}

/* Two identical rows: one event and a note (naming the caller's way to
 * keep both when it gives one), or two with --allow-duplicate-rows; one
 * receipt with two contents: a problem. */
static void test_repeated_rows(void **state)
{
    static const char text[] = "Ngày,Tên,Số tiền,Loại\n"
                               "17/10/2024,An,100,Cá nhân\n"
                               "18/10/2024,Bình,100,Cá nhân\n"
                               "17/10/2024,An,100,Cá nhân\n"
                               "17/10/2024,An,100,Cá nhân\n";
    struct tl_import_opts o = opts();
    struct tl_import_sheet s;

    (void)state;
    reads(text, &o, &s, NULL);
    assert_int_equal(s.nrows, 4);
    assert_int_equal(s.rows[0].repeats, 0);
    assert_int_equal(s.rows[2].repeats, 2);
    assert_int_equal(s.rows[3].repeats, 2);
    assert_int_equal(s.nnotes, 2);
    assert_string_equal(s.notes[0], "row 4 repeats row 2: not imported twice "
                                    "(if they are two donations, give "
                                    "--allow-duplicate-rows)");
    tl_import_free(&s);

    /* Another interface (the gateway's upload page) names its own way. */
    o.allow_duplicates_how = "tick the box";
    reads(text, &o, &s, NULL);
    assert_string_equal(s.notes[0], "row 4 repeats row 2: not imported twice "
                                    "(if they are two donations, tick the "
                                    "box)");
    tl_import_free(&s);
    o.allow_duplicates_how = NULL;

    o.allow_duplicate_rows = true;
    reads(text, &o, &s, NULL);
    assert_int_equal(s.rows[2].repeats, 0);
    assert_int_equal(s.rows[3].repeats, 0);
    size_t n = strlen(s.rows[0].id);
    assert_int_equal(strncmp(s.rows[2].id, s.rows[0].id, n), 0);
    assert_string_equal(s.rows[2].id + n, ".2");
    assert_string_equal(s.rows[3].id + n, ".3");
    tl_import_free(&s);

    o.allow_duplicate_rows = false;
    static const char *const want[] = {
        "row 3, column Số biên lai: receipt 7 is also on row 2, with other "
        "content",
        NULL};
    reads("Số biên lai,Ngày,Tên,Số tiền,Loại\n"
          "7,17/10/2024,An,100,Cá nhân\n"
          "7,17/10/2024,An,200,Cá nhân\n"
          "7,17/10/2024,An,100,Cá nhân\n",
          &o, &s, want);
    assert_int_equal(s.nrows, 2);
    assert_int_equal(s.rows[1].repeats, 2);
    tl_import_free(&s);
}

/* A sheet from Excel's legacy Vietnamese code page, read when named: the
 * same events, ids and NFC names as the UTF-8 sheet. */
static void test_cp1258(void **state)
{
    /* "Ngày,Tên,Số tiền,Loại\n17/10/2024,Nguyễn Văn Đức,100,Ẩn danh\n" as
     * Windows-1258 writes it (tone marks apart). */
    static const char cp[] = "Ng\xe0y,T\xean,S\xf4\xec ti\xea\xcc"
                             "n,Loa\xf2i\n"
                             "17/10/2024,Nguy\xea\xde"
                             "n V\xe3n \xd0\xfd\xec"
                             "c,100,\xc2\xd2n danh\n";
    static const char utf8[] = "Ngày,Tên,Số tiền,Loại\n"
                               "17/10/2024,Nguyễn Văn Đức,100,Ẩn danh\n";
    struct tl_import_opts o = opts();
    struct tl_import_sheet s, t;
    struct tl_error err = {{0}};

    (void)state;
    assert_int_equal(read_text(cp, &o, &s, &err), POVTRACK_EINVALID);
    assert_non_null(strstr(err.msg, "save the spreadsheet as CSV UTF-8, or "
                                    "give --encoding cp1258"));
    tl_import_free(&s);
    o.encoding = "cp1258";
    reads(cp, &o, &s, NULL);
    o.encoding = NULL;
    reads(utf8, &o, &t, NULL);
    assert_int_equal(s.nrows, 1);
    assert_string_equal(str(s.rows[0].event, "donor"), "Nguyễn Văn Đức");
    assert_string_equal(str(s.rows[0].event, "donor_kind"), "anonymous");
    assert_string_equal(s.rows[0].id, t.rows[0].id);
    tl_import_free(&s);
    tl_import_free(&t);
}

/* A unit the daemon does not know: its rows become problems. */
static void test_unknown_unit(void **state)
{
    struct tl_import_opts o = opts();
    struct tl_import_sheet s;
    struct tl_error err = {{0}};

    (void)state;
    reads("Ngày,Tên,Số tiền,Loại,Đơn vị\n"
          "17/10/2024,An,100,Cá nhân,99999\n"
          "17/10/2024,Bình,100,Cá nhân,22957\n"
          "17/10/2024,Chi,100,Cá nhân,99999\n"
          "17/10/2024,Dung,100,Cá nhân,\n",
          &o, &s, NULL);
    assert_int_equal(s.nrows, 4);
    /* The code as the caller has it: a row's own, freed on the way. */
    assert_int_equal(
        tl_import_unknown_unit(
            &s, json_string_value(json_object_get(s.rows[0].event, "unit")),
            &err),
        0);
    assert_int_equal(s.nrows, 2);
    assert_int_equal(s.nproblems, 2);
    assert_string_equal(s.problems[0].text, "row 2, column Đơn vị: unit "
                                            "99999 is not defined in "
                                            "povtrackd");
    assert_string_equal(s.problems[1].text, "row 4, column Đơn vị: unit "
                                            "99999 is not defined in "
                                            "povtrackd");
    /* The --unit default, for row 5's empty cell. */
    assert_int_equal(tl_import_unknown_unit(&s, "22957", &err), 0);
    assert_int_equal(s.nrows, 0);
    assert_string_equal(s.problems[3].text, "row 5, --unit 22957: unit 22957 "
                                            "is not defined in povtrackd");
    tl_import_free(&s);
}

/* ---- against the log -------------------------------------------------- */

/* The event of row as the daemon would store it (msgpack), with data
 * field key changed to value when key is not NULL. */
static void pack_stored(const json_t *event, const char *key, json_int_t value,
                        msgpack_sbuffer *sb, msgpack_unpacked *up)
{
    json_t *copy = json_deep_copy(event);
    msgpack_packer pk;
    size_t off = 0;
    struct tl_error err = {{0}};

    if (key != NULL)
        json_object_set_new(json_object_get(copy, "data"), key,
                            json_integer(value));
    msgpack_sbuffer_init(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    /* The daemon stores keys in its canonical order; the comparison does
     * not depend on it. */
    assert_int_equal(tl_json_pack(copy, &pk, &err), 0);
    json_decref(copy);
    msgpack_unpacked_init(up);
    assert_int_equal(msgpack_unpack_next(up, sb->data, sb->size, &off),
                     MSGPACK_UNPACK_SUCCESS);
}

static void test_compare(void **state)
{
    static const char first[] = "Số biên lai,Ngày,Tên,Số tiền,Loại\n"
                                "1,17/10/2024,An,100,Cá nhân\n"
                                "2,17/10/2024,Bình,200,Cá nhân\n"
                                "3,17/10/2024,Chi,300,Cá nhân\n";
    /* Row 2 kept, receipt 2's amount corrected, 3 deleted, 4 added. */
    static const char second[] = "Số biên lai,Ngày,Tên,Số tiền,Loại\n"
                                 "1,17/10/2024,An,100,Cá nhân\n"
                                 "2,17/10/2024,Bình,250,Cá nhân\n"
                                 "4,18/10/2024,Dung,400,Cá nhân\n";
    struct tl_import_opts o = opts();
    struct tl_import_sheet s, t, other;
    struct tl_error err = {{0}};
    char what[256];

    (void)state;
    reads(first, &o, &s, NULL);
    reads(second, &o, &t, NULL);
    o.sheet = "another";
    reads(first, &o, &other, NULL);
    /* The log: the first import, and another sheet's rows. */
    for (size_t i = 0; i < 3; i++) {
        msgpack_sbuffer sb;
        msgpack_unpacked up;
        pack_stored(s.rows[i].event, NULL, 0, &sb, &up);
        assert_int_equal(tl_import_compare(&t, 10 + i, &up.data, &err), 0);
        msgpack_unpacked_destroy(&up);
        msgpack_sbuffer_destroy(&sb);
        pack_stored(other.rows[i].event, NULL, 0, &sb, &up);
        assert_int_equal(tl_import_compare(&t, 20 + i, &up.data, &err), 0);
        msgpack_unpacked_destroy(&up);
        msgpack_sbuffer_destroy(&sb);
    }
    assert_int_equal(tl_import_compared(&t, &err), 0);
    assert_true(t.compared);
    assert_int_equal(t.rows[0].state, TL_ROW_UNCHANGED);
    assert_int_equal(t.rows[0].seq, 10);
    assert_int_equal(t.rows[1].state, TL_ROW_CHANGED);
    assert_int_equal(t.rows[1].seq, 11);
    assert_int_equal(num(t.rows[1].stored, "amount"), 200);
    assert_int_equal(t.rows[2].state, TL_ROW_NEW);
    assert_int_equal(t.ngone, 1);
    assert_int_equal(t.gone[0].seq, 12);
    tl_import_describe(&t, t.gone[0].event, what, sizeof(what));
    assert_string_equal(what, "300 VND, Chi, 2024-10-17, unit 22957");
    tl_import_free(&s);
    tl_import_free(&t);
    tl_import_free(&other);
}

/* A correction sheet: targets (receipts as the import made their ids, an
 * id, #N), fields by header or wire name, values read as cells; every
 * problem listed with its row and column. */
static void test_correction_sheet(void **state)
{
    static const char text[] = "Số biên lai;Trường;Giá trị mới;Lý do\n"
                               "BL-003;Số tiền;700.000;biên lai ghi 700.000\n"
                               "#42;Đơn vị;22960;nhập nhầm xã\n"
                               "csv-x-bl-1;LOẠI;Ẩn danh;xin giấu tên\n"
                               "BL-007;Ngày;26/10/2024;nhận ngày 26\n"
                               "BL-008;in_kind;;không phải hiện vật\n"
                               "BL-009;Số tiền;bảy trăm;sai\n"
                               "BL-010;Mã khoản vay;L1;sai\n"
                               "BL-011;Số tiền;1.000;\n";
    struct tl_import_opts o = opts();
    struct tl_import_sheet s;
    struct tl_import_fix *fx;
    struct tl_error err = {{0}};
    size_t n;
    (void)state;
    FILE *f = fmemopen((void *)text, strlen(text), "r");
    assert_non_null(f);
    assert_int_equal(tl_import_read_fixes(f, &o, &s, &fx, &n, &err), 0);
    fclose(f);
    assert_int_equal(n, 5);
    assert_string_equal(fx[0].target,
                        "csv-358b32ed-donation-received-bl-bl-003");
    assert_string_equal(fx[0].field, "amount");
    assert_int_equal(json_integer_value(fx[0].value), 700000);
    assert_string_equal(fx[0].reason, "biên lai ghi 700.000");
    assert_string_equal(fx[1].target, "#42");
    assert_string_equal(fx[1].field, "unit");
    assert_string_equal(json_string_value(fx[1].value), "22960");
    assert_string_equal(fx[2].target, "csv-x-bl-1");
    assert_string_equal(fx[2].field, "donor_kind");
    assert_string_equal(json_string_value(fx[2].value), "anonymous");
    assert_string_equal(fx[3].field, "at");
    assert_int_equal(json_integer_value(fx[3].value), 1729875600);
    assert_string_equal(fx[4].field, "in_kind");
    assert_null(fx[4].value); /* empty: removed */
    assert_int_equal(s.nproblems, 3);
    assert_int_equal(s.problems[0].row, 7);
    assert_string_equal(s.problems[0].column, "Giá trị mới");
    assert_int_equal(s.problems[1].row, 8);
    assert_string_equal(s.problems[1].text,
                        "row 8, column Trường: Mã khoản vay is not a field of "
                        "a donation.received that can be corrected");
    assert_int_equal(s.problems[2].row, 9);
    assert_string_equal(s.problems[2].column, "Lý do");
    tl_import_fixes_free(fx, n);
    tl_import_free(&s);

    /* A sheet without a needed column says which. */
    static const char bad[] = "Số biên lai,Giá trị mới,Lý do\nBL-1,1,x\n";
    f = fmemopen((void *)bad, strlen(bad), "r");
    assert_int_equal(tl_import_read_fixes(f, &o, &s, &fx, &n, &err),
                     POVTRACK_EINVALID);
    fclose(f);
    assert_string_equal(err.msg, "the correction sheet has no Trường / Field "
                                 "column (it needs: Số biên lai, Trường, Giá "
                                 "trị mới, Lý do)");
    tl_import_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dates),
        cmocka_unit_test(test_amounts),
        cmocka_unit_test(test_sample_csv),
        cmocka_unit_test(test_headers_and_values),
        cmocka_unit_test(test_missing_columns),
        cmocka_unit_test(test_catalogue_checks),
        cmocka_unit_test(test_stable_ids),
        cmocka_unit_test(test_repeated_rows),
        cmocka_unit_test(test_cp1258),
        cmocka_unit_test(test_unknown_unit),
        cmocka_unit_test(test_compare),
        cmocka_unit_test(test_correction_sheet),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
