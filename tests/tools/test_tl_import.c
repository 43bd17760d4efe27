/*
 * test_tl_import.c - the spreadsheet importer: cell parsers, column
 * mapping, and every bad-row rule against donations-sample.csv.
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

#define SAMPLE TOOLS_TEST_DIR "/donations-sample.csv"

/* 00:00 in Vietnam on 2024-10-17. */
#define OCT17 INT64_C(1729098000)

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
    amount_ok("5.000.000 VND", 5000000);
    amount_ok("5000000₫", 5000000);
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

static void test_id_prefix(void **state)
{
    char buf[TL_ID_PREFIX_MAX + 1];
    struct tl_error err = {{0}};

    (void)state;
    assert_int_equal(tl_import_id_prefix("/a/b/donations-2024.csv", buf, &err),
                     POVTRACK_OK);
    assert_string_equal(buf, "csv-donations-2024");
    assert_int_equal(tl_import_id_prefix("ủng hộ.csv", buf, &err), POVTRACK_OK);
    /* Replaced bytes could make two names collide: a hash tells them
     * apart. */
    assert_int_equal(strncmp(buf, "csv-", 4), 0);
    assert_non_null(strchr(buf + 4, '-'));
    for (const char *p = buf; *p; p++)
        assert_true(*p > 32 && *p < 127);
    assert_int_equal(tl_import_id_prefix("/tmp/", buf, &err),
                     POVTRACK_EINVALID);
}

struct collected {
    json_t *events;
    char *bad[64];
    size_t nbad;
    size_t bad_rows[64];
    char *notes[16];
    size_t nnotes;
};

static int on_event(void *arg, size_t row, json_t *ev)
{
    struct collected *c = arg;

    (void)row;
    json_array_append_new(c->events, ev);
    return 0;
}

static int on_bad(void *arg, size_t row, const char *msg)
{
    struct collected *c = arg;

    assert_true(c->nbad < 64);
    c->bad_rows[c->nbad] = row;
    c->bad[c->nbad++] = strdup(msg);
    return 0;
}

static void on_note(void *arg, const char *msg)
{
    struct collected *c = arg;

    if (c->nnotes < 16)
        c->notes[c->nnotes++] = strdup(msg);
}

static int import(const char *map, struct collected *c, struct tl_error *err)
{
    struct tl_import_opts o = {NULL, "60", map, "csv-donations-sample", 0};
    struct tl_import_sink sink = {c, on_event, on_bad, on_note};
    FILE *f = fopen(SAMPLE, "r");
    int rc;

    assert_non_null(f);
    memset(c, 0, sizeof(*c));
    c->events = json_array();
    rc = tl_import_csv(f, &o, &sink, err);
    fclose(f);
    return rc;
}

static void release(struct collected *c)
{
    json_decref(c->events);
    for (size_t i = 0; i < c->nbad; i++)
        free(c->bad[i]);
    for (size_t i = 0; i < c->nnotes; i++)
        free(c->notes[i]);
}

static json_t *event_with_id(json_t *events, const char *id)
{
    for (size_t i = 0; i < json_array_size(events); i++) {
        json_t *e = json_array_get(events, i);
        if (strcmp(json_string_value(json_object_get(e, "id")), id) == 0)
            return e;
    }
    fail_msg("no event %s", id);
    return NULL;
}

static void test_sample_csv(void **state)
{
    static const struct {
        size_t row;
        const char *msg;
    } want[] = {
        {5, "row 5, column ngay: \"2024-13-01\" is not a day of the calendar"},
        {6, "row 6, column ngay: \"31/02/2024\" is not a day of the calendar"},
        {7, "row 7, column ngay: \"2024/10/21\" is not a date"},
        {8, "row 8, column so_tien: \"1.500,50\" has decimals"},
        {9, "row 9, column so_tien: \"1,5\" has decimals"},
        {10, "row 10, column so_tien: \"một triệu\" is not an amount"},
        {11, "row 11, column so_tien: empty amount"},
        {12, "row 12, column so_tien: negative amount"},
        {13, "row 13, column so_tien: \"1.50.000\": misplaced thousands"},
        {14, "row 14, column ngay: empty date"},
        {15, "row 15, column hien_vat: \"có lẽ\" is not yes/no"},
        {16, "row 16: 10 cells but the header has 9 columns"},
    };
    struct tl_error err = {{0}};
    struct collected c;
    json_t *e, *d;

    (void)state;
    assert_int_equal(import(NULL, &c, &err), POVTRACK_OK);
    assert_int_equal(c.nbad, sizeof(want) / sizeof(want[0]));
    for (size_t i = 0; i < c.nbad; i++) {
        assert_int_equal(c.bad_rows[i], want[i].row);
        if (strncmp(c.bad[i], want[i].msg, strlen(want[i].msg)) != 0)
            fail_msg("got \"%s\", want \"%s...\"", c.bad[i], want[i].msg);
    }
    /* Known columns only: nothing to note. */
    assert_int_equal(c.nnotes, 0);
    assert_int_equal(json_array_size(c.events), 4);

    e = event_with_id(c.events, "csv-donations-sample-r2");
    d = json_object_get(e, "data");
    assert_int_equal(json_integer_value(json_object_get(e, "v")), 1);
    assert_string_equal(json_string_value(json_object_get(e, "type")),
                        "donation.received");
    assert_string_equal(json_string_value(json_object_get(e, "unit")), "60");
    assert_true(json_integer_value(json_object_get(e, "at")) == OCT17);
    assert_true(json_integer_value(json_object_get(d, "amount")) == 1500000);
    assert_string_equal(json_string_value(json_object_get(d, "donor")),
                        "Nguyễn Văn An");
    assert_string_equal(json_string_value(json_object_get(d, "donor_kind")),
                        "person");
    assert_string_equal(json_string_value(json_object_get(d, "level")),
                        "province");
    assert_null(json_object_get(d, "pledge"));
    assert_null(json_object_get(d, "in_kind"));

    e = event_with_id(c.events, "csv-donations-sample-r3");
    d = json_object_get(e, "data");
    assert_true(json_integer_value(json_object_get(e, "at")) == OCT17 + 86400);
    assert_true(json_integer_value(json_object_get(d, "amount")) == 1500000);
    assert_string_equal(json_string_value(json_object_get(d, "donor_kind")),
                        "business");
    assert_string_equal(json_string_value(json_object_get(d, "pledge")),
                        "CK-2024-60-1");

    e = event_with_id(c.events, "csv-donations-sample-r4");
    d = json_object_get(e, "data");
    assert_true(json_integer_value(json_object_get(d, "amount")) == 2000000);
    assert_true(json_is_true(json_object_get(d, "in_kind")));
    /* Empty level cell: the unit's own level. */
    assert_string_equal(json_string_value(json_object_get(d, "level")),
                        "province");

    e = event_with_id(c.events, "csv-donations-sample-r17");
    d = json_object_get(e, "data");
    assert_true(json_integer_value(json_object_get(d, "amount")) == 5000000);
    assert_string_equal(json_string_value(json_object_get(d, "donor_kind")),
                        "anonymous");
    release(&c);
}

static void test_map_override(void **state)
{
    struct tl_error err = {{0}};
    struct collected c;
    json_t *d;

    (void)state;
    /* The remarks column becomes the donor; the donor column is ignored. */
    assert_int_equal(import("nha_tai_tro=-,ghi_chu=donor,stt=id", &c, &err),
                     POVTRACK_OK);
    d = json_object_get(event_with_id(c.events, "2"), "data");
    assert_string_equal(json_string_value(json_object_get(d, "donor")),
                        "trả cam kết");
    event_with_id(c.events, "16");
    assert_int_equal(json_array_size(c.events), 4);
    release(&c);
}

static void map_fails(const char *map, const char *why)
{
    struct tl_error err = {{0}};
    struct collected c;

    assert_int_equal(import(map, &c, &err), POVTRACK_EINVALID);
    if (strstr(err.msg, why) == NULL)
        fail_msg("--map %s: got \"%s\", want \"%s\"", map, err.msg, why);
    assert_int_equal(json_array_size(c.events), 0);
    release(&c);
}

static void test_map_errors(void **state)
{
    (void)state;
    map_fails("so_tien=money", "unknown field \"money\"");
    map_fails("tien=amount", "no column \"tien\"");
    map_fails("so_tien", "is not COLUMN=FIELD");
    map_fails("ngay=-", "no date column");
    map_fails("stt=amount,so_tien=amount", "two columns map to amount");
}

static void test_notes_and_bom(void **state)
{
    const char text[] = "\xEF\xBB\xBFNgày,Số tiền,Nhà tài trợ,Tặng phẩm\r\n"
                        "01/11/2024,300.000,An,x\r\n";
    struct tl_import_opts o = {"donation.received", "593", NULL, "p", 0};
    struct collected c;
    struct tl_import_sink sink = {&c, on_event, on_bad, on_note};
    struct tl_error err = {{0}};
    FILE *f = fmemopen((void *)text, sizeof(text) - 1, "r");
    json_t *e;

    (void)state;
    memset(&c, 0, sizeof(c));
    c.events = json_array();
    assert_int_equal(tl_import_csv(f, &o, &sink, &err), POVTRACK_OK);
    fclose(f);
    assert_int_equal(c.nbad, 0);
    assert_int_equal(c.nnotes, 1);
    assert_non_null(strstr(c.notes[0], "tang_pham"));
    e = event_with_id(c.events, "p-r2");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(e, "data"), "level")),
        "district");
    release(&c);
}

/* A file that is not UTF-8 (a spreadsheet saved as Windows-1258, say) is
 * refused as a whole, with what to do (tl_csv). */
static void test_not_utf8(void **state)
{
    const char text[] = "ngay,nha_tai_tro,so_tien\n"
                        "2024-10-17,Nguy\xe9n,1000\n"
                        "2024-10-18,An,2000\n";
    struct tl_import_opts o = {NULL, "593", NULL, "p", 0};
    struct collected c;
    struct tl_import_sink sink = {&c, on_event, on_bad, on_note};
    struct tl_error err = {{0}};
    FILE *f = fmemopen((void *)text, sizeof(text) - 1, "r");

    (void)state;
    memset(&c, 0, sizeof(c));
    c.events = json_array();
    assert_int_equal(tl_import_csv(f, &o, &sink, &err), POVTRACK_EINVALID);
    fclose(f);
    assert_non_null(strstr(err.msg, "line 2 is not UTF-8 text"));
    assert_int_equal(json_array_size(c.events), 0);
    release(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dates),         cmocka_unit_test(test_amounts),
        cmocka_unit_test(test_id_prefix),     cmocka_unit_test(test_sample_csv),
        cmocka_unit_test(test_map_override),  cmocka_unit_test(test_map_errors),
        cmocka_unit_test(test_notes_and_bom), cmocka_unit_test(test_not_utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
