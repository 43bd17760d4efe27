/*
 * test_tl_fmt.c - number, money, time and display-width formatting.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <msgpack.h>

#include "tl_fmt.h"
#include "tl_mp.h"

static void test_int(void **state)
{
    char b[TL_FMT_INT_MAX];

    (void)state;
    assert_string_equal(tl_fmt_int(0, b), "0");
    assert_string_equal(tl_fmt_int(999, b), "999");
    assert_string_equal(tl_fmt_int(1000, b), "1,000");
    assert_string_equal(tl_fmt_int(1500000, b), "1,500,000");
    assert_string_equal(tl_fmt_int(-1234567, b), "-1,234,567");
    assert_string_equal(tl_fmt_int(-100, b), "-100");
    assert_string_equal(tl_fmt_int(INT64_MAX, b), "9,223,372,036,854,775,807");
    assert_string_equal(tl_fmt_int(INT64_MIN, b), "-9,223,372,036,854,775,808");
}

static void test_vnd(void **state)
{
    char b[TL_FMT_VND_MAX];

    (void)state;
    assert_string_equal(tl_fmt_vnd(1500000, b), "1,500,000 VND");
    assert_string_equal(tl_fmt_vnd(200000, b), "200,000 VND");
    assert_string_equal(tl_fmt_vnd(0, b), "0 VND");
    assert_string_equal(tl_fmt_vnd(INT64_MIN, b),
                        "-9,223,372,036,854,775,808 VND");
}

static void test_time(void **state)
{
    char b[TL_FMT_TIME_MAX];

    (void)state;
    assert_string_equal(tl_fmt_time(0, false, b), "1970-01-01T00:00:00Z");
    assert_string_equal(tl_fmt_time(1729098000, false, b),
                        "2024-10-16T17:00:00Z");
    assert_string_equal(tl_fmt_time(1500000, true, b),
                        "1970-01-01T00:00:01.500000Z");
    assert_string_equal(tl_fmt_time(INT64_C(1729098000000000), true, b),
                        "2024-10-16T17:00:00Z");
}

static void test_utf8_width(void **state)
{
    (void)state;
    assert_int_equal(tl_utf8_width(""), 0);
    assert_int_equal(tl_utf8_width("abc"), 3);
    /* Precomposed: one column per code point, not per byte. */
    assert_int_equal(strlen("Tỉnh Bình Thuận"), 20);
    assert_int_equal(tl_utf8_width("Tỉnh Bình Thuận"), 15);
    assert_int_equal(tl_utf8_width("Huyện Đức Linh"), 14);
    /* Decomposed (NFD): the combining grave takes no column. */
    assert_int_equal(tl_utf8_width("Bi\xcc\x80nh"), 4);
    assert_int_equal(tl_utf8_width("₫"), 1);
}

static void test_print_cell(void **state)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    (void)state;
    assert_non_null(f);
    tl_print_cell(f, "Đức Linh", 10, false);
    fputc('|', f);
    tl_print_cell(f, "Bắc", 5, true);
    fputc('|', f);
    tl_print_cell(f, "longer than width", 4, false);
    fclose(f);
    assert_string_equal(buf, "Đức Linh  |  Bắc|longer than width");
    free(buf);
}

/* A plugin's answer as `povtrack query` prints it: amounts grouped, the
 * year, a time and a sequence as they are ("year: 2,024" read as a
 * count). */
static void test_mp_show(void **state)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_unpacked u;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    (void)state;
    assert_non_null(f);
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 7);
    msgpack_pack_str_with_body(&pk, "year", 4);
    msgpack_pack_int64(&pk, 2024);
    msgpack_pack_str_with_body(&pk, "as_of", 5);
    msgpack_pack_int64(&pk, 1767200399);
    msgpack_pack_str_with_body(&pk, "applied_seq", 11);
    msgpack_pack_int64(&pk, 375657);
    msgpack_pack_str_with_body(&pk, "allocated", 9);
    msgpack_pack_int64(&pk, 62100000000);
    msgpack_pack_str_with_body(&pk, "balance", 7);
    msgpack_pack_int64(&pk, -1500000);
    /* An empty list or map is said as such, not as binary. */
    msgpack_pack_str_with_body(&pk, "households", 10);
    msgpack_pack_array(&pk, 0);
    msgpack_pack_str_with_body(&pk, "by_level", 8);
    msgpack_pack_map(&pk, 0);
    msgpack_unpacked_init(&u);
    assert_int_equal(msgpack_unpack_next(&u, sb.data, sb.size, NULL),
                     MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(tl_mp_show(f, &u.data, 0), 0);
    fclose(f);
    assert_string_equal(buf, "year: 2024\nas_of: 1767200399\n"
                             "applied_seq: 375657\n"
                             "allocated: 62,100,000,000\n"
                             "balance: -1,500,000\n"
                             "households: (none)\n"
                             "by_level: (none)\n");
    free(buf);
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&sb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_int),        cmocka_unit_test(test_vnd),
        cmocka_unit_test(test_time),       cmocka_unit_test(test_utf8_width),
        cmocka_unit_test(test_print_cell), cmocka_unit_test(test_mp_show),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
