/*
 * test_tl_unitmap.c - the mapping table of administrative units as unit
 * events: the Phan Thiết and Bình Thuận/Lâm Đồng samples event by event,
 * splits, renames and reparents, the order within a date, the bad-row
 * rules, and byte-identical output from run to run.
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
#include "tl_unitmap.h"

#define PHAN_THIET TOOLS_TEST_DIR "/unit-mapping-phan-thiet.csv"
#define BT_LD TOOLS_TEST_DIR "/unit-mapping-binh-thuan-lam-dong.csv"

/* 00:00 in Vietnam on 2025-07-01. */
#define JUL1 INT64_C(1751302800)

struct collected {
    json_t *events;
    char *bad[64];
    size_t bad_rows[64];
    size_t nbad;
    char *notes[16];
    size_t nnotes;
    struct tl_unitmap_counts n;
};

static int on_event(void *arg, json_t *ev)
{
    struct collected *c = arg;

    assert_int_equal(json_array_append_new(c->events, ev), 0);
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

static void release(struct collected *c)
{
    json_decref(c->events);
    for (size_t i = 0; i < c->nbad; i++)
        free(c->bad[i]);
    for (size_t i = 0; i < c->nnotes; i++)
        free(c->notes[i]);
}

static int run_file(FILE *f, const struct tl_unitmap_opts *o,
                    struct collected *c, struct tl_error *err)
{
    struct tl_unitmap_sink sink = {c, on_event, on_bad, on_note};

    assert_non_null(f);
    memset(c, 0, sizeof(*c));
    c->events = json_array();
    assert_non_null(c->events);
    return tl_unitmap_csv(f, o, &sink, &c->n, err);
}

static int run_path(const char *path, const struct tl_unitmap_opts *o,
                    struct collected *c, struct tl_error *err)
{
    FILE *f = fopen(path, "r");
    int rc = run_file(f, o, c, err);

    fclose(f);
    return rc;
}

static int run_text(const char *text, const struct tl_unitmap_opts *o,
                    struct collected *c, struct tl_error *err)
{
    FILE *f = fmemopen((void *)text, strlen(text), "r");
    int rc = run_file(f, o, c, err);

    fclose(f);
    return rc;
}

/* Event i equals the JSON text want (key order aside). */
static void event_is(const struct collected *c, size_t i, const char *want)
{
    json_error_t jerr;
    json_t *w = json_loads(want, JSON_REJECT_DUPLICATES, &jerr);
    json_t *got = json_array_get(c->events, i);

    if (w == NULL)
        fail_msg("bad expected JSON (%s): %s", jerr.text, want);
    if (got == NULL)
        fail_msg("no event %zu", i);
    if (!json_equal(got, w)) {
        char *s = json_dumps(got, TL_UNITMAP_DUMP_FLAGS);
        print_error("event %zu:\n got  %s\n want %s\n", i, s, want);
        free(s);
        json_decref(w);
        fail();
    }
    json_decref(w);
}

static void ids_are(const struct collected *c, const char *const *ids, size_t n)
{
    for (size_t i = 0; i < n && i < json_array_size(c->events); i++) {
        const char *id = json_string_value(
            json_object_get(json_array_get(c->events, i), "id"));
        if (id == NULL || strcmp(id, ids[i]) != 0)
            fail_msg("event %zu: id %s, want %s", i, id ? id : "(none)",
                     ids[i]);
    }
    assert_int_equal(json_array_size(c->events), n);
}

/* Exactly n bad rows, else show them. */
static void nbad_is(const struct collected *c, size_t n)
{
    if (c->nbad == n)
        return;
    for (size_t i = 0; i < c->nbad; i++)
        print_error("  %s\n", c->bad[i]);
    fail_msg("%zu bad rows, want %zu", c->nbad, n);
}

/* The events as `povtrack unitmap` writes them. */
static char *dump(const struct collected *c)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    assert_non_null(f);
    for (size_t i = 0; i < json_array_size(c->events); i++) {
        assert_int_equal(
            json_dumpf(json_array_get(c->events, i), f, TL_UNITMAP_DUMP_FLAGS),
            0);
        fputc('\n', f);
    }
    assert_int_equal(fclose(f), 0);
    return buf;
}

static void test_phan_thiet(void **state)
{
    static const char want[] =
        "{\"v\":1,\"id\":\"unitmap-20250701-merge-22924\","
        "\"type\":\"unit.changed\",\"at\":1751302800,\"unit\":\"22924\","
        "\"data\":{\"kind\":\"merge\",\"effective\":1751302800,"
        "\"predecessors\":[\"22921\",\"22924\",\"22936\"],"
        "\"successor\":\"22924\",\"name\":\"Phường Phú Thủy\","
        "\"parent\":\"68\"}}\n";
    struct tl_unitmap_opts o = {0};
    struct tl_error err = {{0}};
    struct collected c;
    char *out;

    (void)state;
    assert_int_equal(run_path(PHAN_THIET, &o, &c, &err), POVTRACK_OK);
    assert_int_equal(c.nbad, 0);
    assert_int_equal(c.nnotes, 0);
    assert_int_equal(c.n.rows, 3);
    assert_int_equal(c.n.merge, 1);
    assert_int_equal(c.n.events, 1);
    event_is(&c, 0, want);
    /* The exact bytes, key order included. */
    out = dump(&c);
    assert_string_equal(out, want);
    free(out);
    release(&c);
}

static void test_binh_thuan_lam_dong(void **state)
{
    struct tl_unitmap_opts o = {0};
    struct tl_error err = {{0}};
    struct collected c;

    (void)state;
    assert_int_equal(run_path(BT_LD, &o, &c, &err), POVTRACK_OK);
    assert_int_equal(c.nbad, 0);
    assert_int_equal(c.nnotes, 0);
    assert_int_equal(c.n.rows, 7);
    assert_int_equal(c.n.events, 3);
    assert_int_equal(c.n.merge, 2);
    assert_int_equal(c.n.abolish, 1);
    /* Communes, then the district, then the provinces, whatever the order
     * of the rows. */
    event_is(&c, 0,
             "{\"v\":1,\"id\":\"unitmap-20250701-merge-22924\","
             "\"type\":\"unit.changed\",\"at\":1751302800,\"unit\":\"22924\","
             "\"data\":{\"kind\":\"merge\",\"effective\":1751302800,"
             "\"predecessors\":[\"22921\",\"22924\",\"22936\"],"
             "\"successor\":\"22924\",\"name\":\"Phường Phú Thủy\","
             "\"parent\":\"68\"}}");
    event_is(&c, 1,
             "{\"v\":1,\"id\":\"unitmap-20250701-abolish-593\","
             "\"type\":\"unit.changed\",\"at\":1751302800,\"unit\":\"593\","
             "\"data\":{\"kind\":\"abolish\",\"effective\":1751302800,"
             "\"predecessors\":[\"593\"]}}");
    event_is(&c, 2,
             "{\"v\":1,\"id\":\"unitmap-20250701-merge-68\","
             "\"type\":\"unit.changed\",\"at\":1751302800,\"unit\":\"68\","
             "\"data\":{\"kind\":\"merge\",\"effective\":1751302800,"
             "\"predecessors\":[\"60\",\"67\",\"68\"],"
             "\"successor\":\"68\",\"name\":\"Tỉnh Lâm Đồng\"}}");
    release(&c);
}

static void test_deterministic(void **state)
{
    struct tl_unitmap_opts o = {0};
    struct tl_error err = {{0}};
    struct collected a, b;
    char *x, *y;

    (void)state;
    assert_int_equal(run_path(BT_LD, &o, &a, &err), POVTRACK_OK);
    assert_int_equal(run_path(BT_LD, &o, &b, &err), POVTRACK_OK);
    x = dump(&a);
    y = dump(&b);
    assert_true(strlen(x) > 0);
    assert_string_equal(x, y);
    free(x);
    free(y);
    release(&a);
    release(&b);
}

static void test_split(void **state)
{
    /* The kept code is listed second: it still comes first. */
    static const char text[] =
        "old_code,new_code,new_name,new_parent,effective\n"
        "22900,22905,Xã Tân Lập,593,2025-07-01\n"
        "22900,22900,,,2025-07-01\n"
        "00100,00102,Phường Hai,001,01/07/2025\n"
        "00100,00101,Phường Một,001,01/07/2025\n";
    struct tl_unitmap_opts o = {0};
    struct tl_error err = {{0}};
    struct collected c;

    (void)state;
    assert_int_equal(run_text(text, &o, &c, &err), POVTRACK_OK);
    assert_int_equal(c.nbad, 0);
    assert_int_equal(c.n.defined, 3);
    assert_int_equal(c.n.split, 2);
    /* Leading zeros kept; new units first, by code. */
    event_is(&c, 0,
             "{\"v\":1,\"id\":\"unitmap-20250701-defined-00101\","
             "\"type\":\"unit.defined\",\"at\":1751302800,\"unit\":\"00101\","
             "\"data\":{\"name\":\"Phường Một\",\"parent\":\"001\","
             "\"level\":\"commune\",\"effective\":1751302800}}");
    event_is(&c, 1,
             "{\"v\":1,\"id\":\"unitmap-20250701-defined-00102\","
             "\"type\":\"unit.defined\",\"at\":1751302800,\"unit\":\"00102\","
             "\"data\":{\"name\":\"Phường Hai\",\"parent\":\"001\","
             "\"level\":\"commune\",\"effective\":1751302800}}");
    event_is(&c, 2,
             "{\"v\":1,\"id\":\"unitmap-20250701-defined-22905\","
             "\"type\":\"unit.defined\",\"at\":1751302800,\"unit\":\"22905\","
             "\"data\":{\"name\":\"Xã Tân Lập\",\"parent\":\"593\","
             "\"level\":\"commune\",\"effective\":1751302800}}");
    /* Successors in file order when none keeps the code. */
    event_is(&c, 3,
             "{\"v\":1,\"id\":\"unitmap-20250701-split-00100\","
             "\"type\":\"unit.changed\",\"at\":1751302800,\"unit\":\"00100\","
             "\"data\":{\"kind\":\"split\",\"effective\":1751302800,"
             "\"predecessors\":[\"00100\"],"
             "\"successors\":[\"00102\",\"00101\"]}}");
    event_is(&c, 4,
             "{\"v\":1,\"id\":\"unitmap-20250701-split-22900\","
             "\"type\":\"unit.changed\",\"at\":1751302800,\"unit\":\"22900\","
             "\"data\":{\"kind\":\"split\",\"effective\":1751302800,"
             "\"predecessors\":[\"22900\"],"
             "\"successors\":[\"22900\",\"22905\"]}}");
    assert_int_equal(json_array_size(c.events), 5);
    release(&c);
}

static void test_rename_reparent(void **state)
{
    /* No effective column: --effective; "at" from --at (the date of the
     * resolution, before the change takes effect). */
    static const char text[] =
        "Mã cũ,Tên cũ,Mã mới,Tên mới,Mã cha mới\r\n"
        "22924,Phường Phú Thủy,22924,Phường Phú Thủy Mới,68\r\n"
        "22927,,22927,Phường Đổi Tên,\r\n"
        "\r\n"
        "22930,,22930,,68\r\n"
        "22933,Phường Đức Long,22933,,\r\n"
        "22940,,22940,,\r\n"
        "22940,,22941,Xã Mới,68\r\n"
        "22940,,22942,Xã Khác,68\r\n"
        ",,,,\r\n";
    struct tl_unitmap_opts o = {0};
    struct tl_error err = {{0}};
    struct collected c;
    int64_t at;

    (void)state;
    assert_int_equal(tl_parse_date("2025-06-12", &at, &err), POVTRACK_OK);
    o.has_effective = true;
    o.effective = JUL1;
    o.has_at = true;
    o.at = at;
    o.id_prefix = "nq202";
    assert_int_equal(run_text(text, &o, &c, &err), POVTRACK_OK);
    assert_int_equal(c.nbad, 0);
    assert_int_equal(c.n.rows, 7);
    assert_int_equal(c.n.rename, 1);
    assert_int_equal(c.n.reparent, 2);
    assert_int_equal(c.n.defined, 2);
    assert_int_equal(c.n.split, 1);
    assert_int_equal(c.n.events, 6);
    /* Row numbers as in the spreadsheet: the blank line is row 4.  The
     * kept code of a split has nothing to note. */
    assert_int_equal(c.nnotes, 1);
    assert_string_equal(c.notes[0], "row 6: 22933 (Phường Đức Long) -> 22933 "
                                    "with no new name or parent: nothing "
                                    "to record");
    event_is(&c, 0,
             "{\"v\":1,\"id\":\"nq202-20250701-defined-22941\","
             "\"type\":\"unit.defined\",\"at\":1749661200,\"unit\":\"22941\","
             "\"data\":{\"name\":\"Xã Mới\",\"parent\":\"68\","
             "\"level\":\"commune\",\"effective\":1751302800}}");
    event_is(&c, 1,
             "{\"v\":1,\"id\":\"nq202-20250701-defined-22942\","
             "\"type\":\"unit.defined\",\"at\":1749661200,\"unit\":\"22942\","
             "\"data\":{\"name\":\"Xã Khác\",\"parent\":\"68\","
             "\"level\":\"commune\",\"effective\":1751302800}}");
    event_is(&c, 2,
             "{\"v\":1,\"id\":\"nq202-20250701-split-22940\","
             "\"type\":\"unit.changed\",\"at\":1749661200,\"unit\":\"22940\","
             "\"data\":{\"kind\":\"split\",\"effective\":1751302800,"
             "\"predecessors\":[\"22940\"],"
             "\"successors\":[\"22940\",\"22941\",\"22942\"]}}");
    event_is(&c, 3,
             "{\"v\":1,\"id\":\"nq202-20250701-reparent-22924\","
             "\"type\":\"unit.changed\",\"at\":1749661200,\"unit\":\"22924\","
             "\"data\":{\"kind\":\"reparent\",\"effective\":1751302800,"
             "\"predecessors\":[\"22924\"],\"successor\":\"22924\","
             "\"name\":\"Phường Phú Thủy Mới\",\"parent\":\"68\"}}");
    event_is(&c, 4,
             "{\"v\":1,\"id\":\"nq202-20250701-rename-22927\","
             "\"type\":\"unit.changed\",\"at\":1749661200,\"unit\":\"22927\","
             "\"data\":{\"kind\":\"rename\",\"effective\":1751302800,"
             "\"predecessors\":[\"22927\"],\"successor\":\"22927\","
             "\"name\":\"Phường Đổi Tên\"}}");
    event_is(&c, 5,
             "{\"v\":1,\"id\":\"nq202-20250701-reparent-22930\","
             "\"type\":\"unit.changed\",\"at\":1749661200,\"unit\":\"22930\","
             "\"data\":{\"kind\":\"reparent\",\"effective\":1751302800,"
             "\"predecessors\":[\"22930\"],\"successor\":\"22930\","
             "\"parent\":\"68\"}}");
    release(&c);
}

/* A split keeping its code, with a new name for the kept unit that no
 * merge carries: a rename after the split. */
static void test_split_keeps_name(void **state)
{
    static const char text[] = "old_code,new_code,new_name,new_parent,"
                               "effective\n"
                               "22900,22900,Xã Cũ Mới,,2025-07-01\n"
                               "22900,22905,Xã Tân,593,2025-07-01\n";
    struct tl_unitmap_opts o = {0};
    struct tl_error err = {{0}};
    struct collected c;
    static const char *const ids[] = {"unitmap-20250701-defined-22905",
                                      "unitmap-20250701-split-22900",
                                      "unitmap-20250701-rename-22900"};

    (void)state;
    assert_int_equal(run_text(text, &o, &c, &err), POVTRACK_OK);
    ids_are(&c, ids, 3);
    event_is(&c, 2,
             "{\"v\":1,\"id\":\"unitmap-20250701-rename-22900\","
             "\"type\":\"unit.changed\",\"at\":1751302800,\"unit\":\"22900\","
             "\"data\":{\"kind\":\"rename\",\"effective\":1751302800,"
             "\"predecessors\":[\"22900\"],\"successor\":\"22900\","
             "\"name\":\"Xã Cũ Mới\"}}");
    release(&c);
}

static void test_order(void **state)
{
    static const char text[] =
        "old_code,new_code,new_name,new_parent,effective,ghi_chu\n"
        "01,01,Thủ đô Hà Nội,,2026-01-01,\n"
        "60,68,Tỉnh Lâm Đồng,,2025-07-01,\n"
        "68,68,,,2025-07-01,\n"
        "62,99,Tỉnh Mới,,2025-07-01,\n"
        "61,99,,,2025-07-01,\n"
        "593,,,,2025-07-01,\n"
        "594,594,Huyện Đổi Tên,,2025-07-01,\n"
        "22950,,,,2025-07-01,\n"
        "22960,22960,Phường Đổi Tên,,2025-07-01,\n"
        "22924,22924,,,2025-07-01,\n"
        "22921,22924,,68,2025-07-01,\n"
        "22940,22940,,,2025-07-01,\n"
        "22940,22998,Xã Mới,99,2025-07-01,\n";
    static const char *const ids[] = {
        "unitmap-20250701-defined-99",   "unitmap-20250701-defined-22998",
        "unitmap-20250701-split-22940",  "unitmap-20250701-merge-22924",
        "unitmap-20250701-rename-22960", "unitmap-20250701-abolish-22950",
        "unitmap-20250701-rename-594",   "unitmap-20250701-abolish-593",
        "unitmap-20250701-merge-68",     "unitmap-20250701-merge-99",
        "unitmap-20260101-rename-01",
    };
    struct tl_unitmap_opts o = {0};
    struct tl_error err = {{0}};
    struct collected c;

    (void)state;
    assert_int_equal(run_text(text, &o, &c, &err), POVTRACK_OK);
    assert_int_equal(c.nbad, 0);
    assert_int_equal(c.nnotes, 0);
    ids_are(&c, ids, sizeof(ids) / sizeof(ids[0]));
    /* A new province has a null parent. */
    event_is(&c, 0,
             "{\"v\":1,\"id\":\"unitmap-20250701-defined-99\","
             "\"type\":\"unit.defined\",\"at\":1751302800,\"unit\":\"99\","
             "\"data\":{\"name\":\"Tỉnh Mới\",\"parent\":null,"
             "\"level\":\"province\",\"effective\":1751302800}}");
    /* The parent given on one row of the group only. */
    event_is(&c, 3,
             "{\"v\":1,\"id\":\"unitmap-20250701-merge-22924\","
             "\"type\":\"unit.changed\",\"at\":1751302800,\"unit\":\"22924\","
             "\"data\":{\"kind\":\"merge\",\"effective\":1751302800,"
             "\"predecessors\":[\"22921\",\"22924\"],"
             "\"successor\":\"22924\",\"parent\":\"68\"}}");
    /* Predecessors ascending. */
    event_is(&c, 9,
             "{\"v\":1,\"id\":\"unitmap-20250701-merge-99\","
             "\"type\":\"unit.changed\",\"at\":1751302800,\"unit\":\"99\","
             "\"data\":{\"kind\":\"merge\",\"effective\":1751302800,"
             "\"predecessors\":[\"61\",\"62\"],"
             "\"successor\":\"99\",\"name\":\"Tỉnh Mới\"}}");
    event_is(&c, 10,
             "{\"v\":1,\"id\":\"unitmap-20260101-rename-01\","
             "\"type\":\"unit.changed\",\"at\":1767200400,\"unit\":\"01\","
             "\"data\":{\"kind\":\"rename\",\"effective\":1767200400,"
             "\"predecessors\":[\"01\"],\"successor\":\"01\","
             "\"name\":\"Thủ đô Hà Nội\"}}");
    release(&c);
}

static void test_bad_rows(void **state)
{
    static const char text[] = "ma_cu,ma_moi,ten_moi,ma_cha_moi,ngay_hieu_luc\n"
                               "22921,2292,,,2025-07-01\n"
                               "22921,22924,,,2025-13-01\n"
                               ",22924,,,2025-07-01\n"
                               "593,22924,,,2025-07-01\n"
                               "593,,Huyện,,2025-07-01\n"
                               "22930,22930,,593x,2025-07-01\n"
                               "60,68,,01,2025-07-01\n"
                               "22931,22931,,22900,2025-07-01\n"
                               "22940,22941,Xã A,593,2025-07-01\n"
                               "22940,22941,Xã A,593,2025-07-01\n"
                               "22950,,,,2025-07-01\n"
                               "22950,22951,Xã B,593,2025-07-01\n"
                               "22960,22961,Xã C,593,2025-07-01\n"
                               "22962,22961,Xã D,593,2025-07-01\n"
                               "22970,22971,,593,2025-07-01\n"
                               "22980,22960,,,2025-07-01\n"
                               "22990,22991,Xã E,,2025-07-01\n"
                               "a,b,c,d,e,f\n"
                               "22995,22995,\"Phé\",,2025-07-01\n"
                               "22996,22996,,,\n";
    static const struct {
        size_t row;
        const char *msg;
    } want[] = {
        {2, "row 2, column ma_moi: \"2292\" is not a 2, 3 or 5 digit code "
            "(a lost leading zero? keep codes as text)"},
        {3, "row 3, column ngay_hieu_luc: \"2025-13-01\" is not a day of the "
            "calendar"},
        {4, "row 4, column ma_cu: empty: every row needs the code of an old "
            "unit"},
        {5, "row 5, column ma_moi: 22924 is a commune but old_code 593 is a "
            "district"},
        {6, "row 6, column ten_moi: no new_code: 593 is abolished and gets no "
            "new name"},
        {7, "row 7, column ma_cha_moi: \"593x\" is not a 2, 3 or 5 digit "
            "code"},
        {8, "row 8, column ma_cha_moi: 68 is a province, which has no parent: "
            "leave it empty"},
        {9, "row 9, column ma_cha_moi: 22900 (a commune) cannot be the parent "
            "of 22931 (a commune)"},
        {11, "row 11, column ma_moi: 22940 -> 22941 is already in row 10"},
        {13, "row 13, column ma_moi: 22950 is abolished in row 12 and cannot "
             "also go into 22951"},
        {15, "row 15, column ten_moi: \"Xã D\" differs from \"Xã C\" given "
             "for 22961 in row 14"},
        {16, "row 16, column ten_moi: 22971 is a new unit (not an old code on "
             "this date): give its name"},
        {17, "row 17, column ma_moi: 22960 itself goes into 22961 on this "
             "date (row 14)"},
        {18, "row 18, column ma_cha_moi: 22991 is a new unit (not an old code "
             "on this date): give its parent"},
        {19, "row 19: 6 cells but the header has 5 columns"},
        {21, "row 21, column ngay_hieu_luc: empty date: fill it in or give "
             "--effective DATE"},
    };
    struct tl_unitmap_opts o = {0};
    struct tl_error err = {{0}};
    struct collected c;

    (void)state;
    assert_int_equal(run_text(text, &o, &c, &err), POVTRACK_EINVALID);
    for (size_t i = 0; i < c.nbad && i < sizeof(want) / sizeof(want[0]); i++) {
        assert_int_equal(c.bad_rows[i], want[i].row);
        if (strcmp(c.bad[i], want[i].msg) != 0)
            fail_msg("bad row %zu:\n got  %s\n want %s", i, c.bad[i],
                     want[i].msg);
    }
    assert_int_equal(c.nbad, sizeof(want) / sizeof(want[0]));
    assert_string_equal(err.msg, "16 bad rows: no event written");
    /* Nothing at all when any row is bad. */
    assert_int_equal(json_array_size(c.events), 0);
    assert_int_equal(c.n.events, 0);
    assert_int_equal(c.n.rows, 20);
    release(&c);
}

/* The chain A -> N, N -> abolished on one date. */
static void test_into_abolished(void **state)
{
    static const char text[] = "old_code,new_code,effective\n"
                               "22950,,2025-07-01\n"
                               "22951,22950,2025-07-01\n"
                               "22952,22952,2025-07-01\n"
                               "22952,,2025-07-01\n";
    struct tl_unitmap_opts o = {0};
    struct tl_error err = {{0}};
    struct collected c;

    (void)state;
    assert_int_equal(run_text(text, &o, &c, &err), POVTRACK_EINVALID);
    assert_int_equal(c.nbad, 2);
    assert_string_equal(c.bad[0], "row 3, column new_code: 22950 is abolished "
                                  "on this date (row 2)");
    assert_string_equal(c.bad[1], "row 5, column new_code: empty, so 22952 "
                                  "would be abolished, but row 4 has it go "
                                  "into 22952");
    assert_string_equal(err.msg, "2 bad rows: no event written");
    release(&c);
}

/* More predecessors or successors than an event holds. */
static void test_limits(void **state)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    struct tl_unitmap_opts o = {0};
    struct tl_error err = {{0}};
    struct collected c;

    (void)state;
    assert_non_null(f);
    fputs("old_code,new_code,new_name,new_parent\n", f);
    /* Rows 2..34: 10001..10033 into 10000; row 35: 10000 itself. */
    for (int i = 1; i <= 33; i++)
        fprintf(f, "%05d,10000,,\n", 10000 + i);
    fputs("10000,10000,,\n", f);
    /* Rows 36..68: 20000 into 33 new units. */
    for (int i = 1; i <= 33; i++)
        fprintf(f, "20000,%05d,Xã %d,001\n", 20000 + i, i);
    assert_int_equal(fclose(f), 0);
    o.has_effective = true;
    o.effective = JUL1;
    assert_int_equal(run_text(text, &o, &c, &err), POVTRACK_EINVALID);
    nbad_is(&c, 2);
    /* Predecessors ascending: 10000, 10001, ..., the 33rd is 10032. */
    assert_string_equal(c.bad[0], "row 33, column new_code: more than 32 "
                                  "units go into 10000, more than one event "
                                  "can hold");
    assert_string_equal(c.bad[1], "row 68, column new_code: 20000 splits "
                                  "into more than 32 units, more than one "
                                  "event can hold");
    assert_int_equal(json_array_size(c.events), 0);
    release(&c);
    free(text);
}

static void header_fails(const char *text, const struct tl_unitmap_opts *o,
                         const char *why)
{
    struct tl_error err = {{0}};
    struct collected c;

    assert_int_equal(run_text(text, o, &c, &err), POVTRACK_EINVALID);
    if (strcmp(err.msg, why) != 0)
        fail_msg("got \"%s\", want \"%s\"", err.msg, why);
    assert_int_equal(json_array_size(c.events), 0);
    release(&c);
}

static void test_header(void **state)
{
    struct tl_unitmap_opts o = {0};
    struct tl_error err = {{0}};
    struct collected c;

    (void)state;
    header_fails("ma_moi,ngay_hieu_luc\n22924,2025-07-01\n", &o,
                 "no old_code column (ma_cu, old_code) in the header");
    header_fails("ma_cu,ngay_hieu_luc\n22924,2025-07-01\n", &o,
                 "no new_code column (ma_moi, new_code) in the header");
    header_fails("ma_cu,ma_moi\n22924,22924\n", &o,
                 "no effective column (ngay_hieu_luc, effective): add one or "
                 "give --effective DATE");
    header_fails("ma_cu,Old Code,ma_moi,effective\n", &o,
                 "two columns give old_code: \"ma_cu\" and \"old_code\"");
    header_fails("", &o, "empty file: no header row");
    header_fails("ma_cu,ma_moi,effective\n\"22924,22924\n", &o,
                 "CSV syntax error at the end: error parsing data while "
                 "strict checking enabled");
    o.id_prefix = "bad prefix";
    header_fails("ma_cu,ma_moi,effective\n", &o,
                 "the id prefix must be 1 to 100 printable ASCII characters "
                 "without spaces");

    /* A BOM, a ';' delimiter, an unknown column (a note), and the cell's
     * date winning over --effective. */
    o.id_prefix = NULL;
    o.delim = ';';
    o.has_effective = true;
    o.effective = 0;
    assert_int_equal(run_text("\xEF\xBB\xBFOLD_CODE;New Code;Ngày hiệu lực;"
                              "Dân số\n"
                              "60;68;01/07/2025;1000\n"
                              "68;68;01/07/2025;\n",
                              &o, &c, &err),
                     POVTRACK_OK);
    assert_int_equal(c.nnotes, 1);
    assert_string_equal(c.notes[0], "column \"dan_so\" is ignored");
    event_is(&c, 0,
             "{\"v\":1,\"id\":\"unitmap-20250701-merge-68\","
             "\"type\":\"unit.changed\",\"at\":1751302800,\"unit\":\"68\","
             "\"data\":{\"kind\":\"merge\",\"effective\":1751302800,"
             "\"predecessors\":[\"60\",\"68\"],\"successor\":\"68\"}}");
    assert_int_equal(json_array_size(c.events), 1);
    release(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_phan_thiet),
        cmocka_unit_test(test_binh_thuan_lam_dong),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_split),
        cmocka_unit_test(test_rename_reparent),
        cmocka_unit_test(test_split_keeps_name),
        cmocka_unit_test(test_order),
        cmocka_unit_test(test_bad_rows),
        cmocka_unit_test(test_into_abolished),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_header),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
