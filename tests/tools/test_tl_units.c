/*
 * test_tl_units.c - an official unit list (tl_units) as unit.defined
 * events: the GSO's columns, parents first, fixed ids and "at", and every
 * bad row reported with nothing given.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tl_units.h"

#define PHAN_THIET POVTRACK_SOURCE_DIR "/examples/clerk/units-phan-thiet.csv"

struct got {
    json_t *events;
    char *bad[16];
    size_t nbad;
    size_t nnotes;
};

static int on_event(void *arg, json_t *ev)
{
    struct got *g = arg;
    json_array_append_new(g->events, ev);
    return 0;
}

static int on_bad(void *arg, size_t row, const char *msg)
{
    struct got *g = arg;
    (void)row;
    if (g->nbad < 16)
        g->bad[g->nbad++] = strdup(msg);
    return 0;
}

static void on_note(void *arg, const char *msg)
{
    struct got *g = arg;
    (void)msg;
    g->nnotes++;
}

static int run(FILE *f, const struct tl_units_opts *o, struct got *g,
               struct tl_units_counts *n, struct tl_error *err)
{
    const struct tl_units_sink sink = {g, on_event, on_bad, on_note};

    memset(g, 0, sizeof(*g));
    g->events = json_array();
    return tl_units_csv(f, o, &sink, n, err);
}

static void release(struct got *g)
{
    json_decref(g->events);
    for (size_t i = 0; i < g->nbad; i++)
        free(g->bad[i]);
}

static void test_phan_thiet(void **state)
{
    struct tl_units_opts o = {NULL, INT64_C(946684800), false, 0, 0, NULL};
    struct tl_units_counts n;
    struct tl_error err = {{0}};
    struct got g;
    FILE *f = fopen(PHAN_THIET, "r");
    char *line;

    (void)state;
    assert_non_null(f);
    assert_int_equal(run(f, &o, &g, &n, &err), POVTRACK_OK);
    fclose(f);
    assert_int_equal(n.rows, 17);
    assert_int_equal(n.provinces, 1);
    assert_int_equal(n.districts, 1);
    assert_int_equal(n.communes, 15);
    assert_int_equal(json_array_size(g.events), 17);
    /* Parents first; the exact bytes of the first two. */
    line = json_dumps(json_array_get(g.events, 0),
                      JSON_COMPACT | JSON_PRESERVE_ORDER);
    assert_string_equal(line, "{\"v\":1,\"id\":\"units-60\",\"type\":\"unit."
                              "defined\",\"at\":946684800,\"unit\":\"60\","
                              "\"data\":{\"name\":\"Tỉnh Bình Thuận\","
                              "\"parent\":null,\"level\":\"province\"}}");
    free(line);
    line = json_dumps(json_array_get(g.events, 1),
                      JSON_COMPACT | JSON_PRESERVE_ORDER);
    assert_string_equal(line, "{\"v\":1,\"id\":\"units-593\",\"type\":\"unit."
                              "defined\",\"at\":946684800,\"unit\":\"593\","
                              "\"data\":{\"name\":\"Thành phố Phan Thiết\","
                              "\"parent\":\"60\",\"level\":\"district\"}}");
    free(line);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(g.events, 16), "id")),
        "units-22966");
    assert_int_equal(g.nnotes, 0);
    release(&g);
}

static void test_bad_rows(void **state)
{
    static const char text[] = "Mã;Tên;Loại;Mã cha;Cấp\n"
                               "60;Tỉnh Bình Thuận;Tỉnh;;Tỉnh\n"
                               "593;Phan Thiết;Thành phố;60;district\n"
                               "2295;Xã A;Xã;593;commune\n"
                               "22957;;Xã;593;commune\n"
                               "22960;Xã B;Xã;;commune\n"
                               "22963;Xã C;Xã;22960;commune\n"
                               "22966;Xã D;Xã;593;district\n"
                               "593;Phan Thiết;Thành phố;60;district\n"
                               "61;Tỉnh E;Tỉnh;60;province\n";
    static const char *const want[] = {
        "row 4, column Mã: \"2295\" is not a 2, 3 or 5 digit code (a lost "
        "leading zero? keep codes as text)",
        "row 5, column Tên: empty: every unit has a name",
        "row 6, column Mã cha: empty: 22960 (a commune) needs its parent",
        "row 7, column Mã cha: \"22960\" cannot be the parent of 22963 (a "
        "commune): give the code of the unit above it",
        "row 8, column Cấp: \"district\" but 22966 has the code of a commune",
        "row 10, column Mã cha: 61 is a province, whose parent is none or the "
        "country (00): leave it empty",
        "row 9, column Mã: 593 is already in row 3",
    };
    struct tl_units_opts o = {NULL, INT64_C(946684800), false, 0, 0, NULL};
    struct tl_units_counts n;
    struct tl_error err = {{0}};
    struct got g;
    FILE *f = fmemopen((void *)text, sizeof(text) - 1, "r");

    (void)state;
    assert_int_equal(run(f, &o, &g, &n, &err), POVTRACK_EINVALID);
    fclose(f);
    assert_string_equal(err.msg, "7 bad rows: nothing sent");
    assert_int_equal(g.nbad, sizeof(want) / sizeof(want[0]));
    for (size_t i = 0; i < g.nbad; i++)
        assert_string_equal(g.bad[i], want[i]);
    assert_int_equal(json_array_size(g.events), 0);
    release(&g);
}

/* The country's row: 00, level central, the provinces under it. */
static void test_country(void **state)
{
    static const char text[] = "code,name,type,parent,level\n"
                               "60,Tỉnh Bình Thuận,Tỉnh,00,province\n"
                               "00,Việt Nam,,,\n"
                               "68,Tỉnh Lâm Đồng,Tỉnh,,province\n";
    struct tl_units_opts o = {NULL, INT64_C(946684800), false, 0, 0, NULL};
    struct tl_units_counts n;
    struct tl_error err = {{0}};
    struct got g;
    FILE *f = fmemopen((void *)text, sizeof(text) - 1, "r");
    char *line;

    (void)state;
    assert_int_equal(run(f, &o, &g, &n, &err), POVTRACK_OK);
    fclose(f);
    assert_int_equal(n.rows, 3);
    assert_int_equal(n.provinces, 2);
    line = json_dumps(json_array_get(g.events, 0),
                      JSON_COMPACT | JSON_PRESERVE_ORDER);
    assert_string_equal(line, "{\"v\":1,\"id\":\"units-00\",\"type\":\"unit."
                              "defined\",\"at\":946684800,\"unit\":\"00\","
                              "\"data\":{\"name\":\"Việt Nam\","
                              "\"parent\":null,\"level\":\"central\"}}");
    free(line);
    release(&g);
}

static void test_effective_and_checks(void **state)
{
    char name[400], text[600];
    struct tl_units_opts o = {
        "gso", INT64_C(946684800), true, INT64_C(1740762000), 0, NULL};
    struct tl_units_counts n;
    struct tl_error err = {{0}};
    struct got g;
    FILE *f;

    (void)state;
    f = fmemopen((void *)"code,name,parent\n60,Bình Thuận,\n", 32, "r");
    assert_int_equal(run(f, &o, &g, &n, &err), POVTRACK_OK);
    fclose(f);
    json_t *e = json_array_get(g.events, 0);
    assert_string_equal(json_string_value(json_object_get(e, "id")),
                        "gso-20250301-60");
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(e, "data"), "effective")),
                     INT64_C(1740762000));
    release(&g);

    /* The catalogue's own rules: a name over 256 bytes. */
    memset(name, 'x', 300);
    name[300] = '\0';
    snprintf(text, sizeof(text), "code,name,parent\n60,%s,\n", name);
    f = fmemopen(text, strlen(text), "r");
    assert_int_equal(run(f, &o, &g, &n, &err), POVTRACK_EINVALID);
    fclose(f);
    assert_int_equal(g.nbad, 1);
    assert_string_equal(g.bad[0], "row 2: data.name: must be at most 256 "
                                  "bytes (about 85 Vietnamese characters); "
                                  "this one has 300 bytes");
    release(&g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_phan_thiet),
        cmocka_unit_test(test_bad_rows),
        cmocka_unit_test(test_country),
        cmocka_unit_test(test_effective_and_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
