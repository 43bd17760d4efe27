/*
 * test_tl_fold.c - folding and composing Vietnamese text (tl_fold): the
 * spellings a clerk writes of one header or value fold to one key, and
 * decomposed text (Windows-1258, NFD) composes to the NFC that the rest of
 * the tree stores.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "tl_fold.h"

static void key_is(const char *in, const char *want)
{
    char buf[256];

    snprintf(buf, sizeof(buf), "%s", in);
    tl_fold_key(buf);
    if (strcmp(buf, want) != 0)
        fail_msg("key of \"%s\": got \"%s\", want \"%s\"", in, buf, want);
}

static void fold_is(const char *in, const char *want)
{
    char buf[256];
    size_t n = tl_fold(in, strlen(in), buf);

    assert_int_equal(n, strlen(buf));
    if (strcmp(buf, want) != 0)
        fail_msg("fold of \"%s\": got \"%s\", want \"%s\"", in, buf, want);
}

static void nfc_is(const char *in, const char *want)
{
    char buf[256];
    size_t n;

    snprintf(buf, sizeof(buf), "%s", in);
    n = tl_nfc(buf, strlen(buf));
    assert_int_equal(n, strlen(buf));
    if (strcmp(buf, want) != 0)
        fail_msg("NFC of \"%s\": got \"%s\", want \"%s\"", in, buf, want);
}

/* The cases: one column and one value whatever the case, the
 * marks and the form. */
static void test_keys(void **state)
{
    (void)state;
    key_is("Đơn vị", "don_vi");
    key_is("ĐƠN VỊ", "don_vi");
    key_is("don vi", "don_vi");
    key_is("  Don_Vi  ", "don_vi");
    key_is("Ẩn danh", "an_danh");
    key_is("ẩn danh", "an_danh");
    key_is("an danh", "an_danh");
    key_is("A\xcc\x82\xcc\x89n danh", "an_danh"); /* NFD */
    key_is("Số tiền (VND)", "so_tien_vnd");
    key_is("SỐ BIÊN LAI", "so_bien_lai");
    key_is("Họ và tên", "ho_va_ten");
    key_is("Mã đơn vị", "ma_don_vi");
    key_is("Phường", "phuong");
    key_is("Thị trấn", "thi_tran");
    key_is("Cá nhân", "ca_nhan");
    key_is("Trung ương", "trung_uong");
    key_is("near-poor", "near_poor");
    key_is("Ngày\xc2\xa0nhận", "ngay_nhan");  /* no-break space */
    key_is("\xef\xbb\xbfNgày", "ngay");       /* stray BOM */
    key_is("Ghi chú – khác", "ghi_chu_khac"); /* en dash */
    key_is("Hình thức:", "hinh_thuc");
    key_is("", "");
    key_is(" - ", "");
    /* Outside the Latin letters: kept as they are. */
    key_is("Ωmega 名前", "Ωmega_名前");
}

static void test_fold(void **state)
{
    (void)state;
    fold_is("Nguyễn Văn Đức", "nguyen van duc");
    fold_is("ỨNG HỘ", "ung ho");
    fold_is("Ærøskøbing Straße", "aeroskobing strasse");
    fold_is("Œuvre", "oeuvre");
    /* Marks alone go; bytes that are not UTF-8 stay. */
    fold_is("\xcc\x81x\xff", "x\xff");
    fold_is("×÷", "×÷");
    /* Every Vietnamese vowel with every tone, upper and lower case. */
    fold_is("ÀÁẢÃẠàáảãạĂẰẮẲẴẶăằắẳẵặÂẦẤẨẪẬâầấẩẫậ",
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    fold_is("ÈÉẺẼẸèéẻẽẹÊỀẾỂỄỆêềếểễệ", "eeeeeeeeeeeeeeeeeeeeee");
    fold_is("ÌÍỈĨỊìíỉĩị", "iiiiiiiiii");
    fold_is("ÒÓỎÕỌòóỏõọÔỒỐỔỖỘôồốổỗộƠỜỚỞỠỢơờớởỡợ",
            "oooooooooooooooooooooooooooooooooo");
    fold_is("ÙÚỦŨỤùúủũụƯỪỨỬỮỰưừứửữự", "uuuuuuuuuuuuuuuuuuuuuu");
    fold_is("ỲÝỶỸỴỳýỷỹỵĐđ", "yyyyyyyyyydd");
}

static void test_nfc(void **state)
{
    (void)state;
    /* Already composed, and ASCII: unchanged. */
    nfc_is("Nguyễn Văn Đức", "Nguyễn Văn Đức");
    nfc_is("plain", "plain");
    /* Fully decomposed. */
    nfc_is("Nguye\xcc\x82\xcc\x83n", "Nguyễn");
    nfc_is("Ho\xcc\x9b\xcc\x80ng", "Hờng");
    nfc_is("e\xcc\xa3\xcc\x82", "ệ");
    /* Marks out of canonical order (circumflex before dot below). */
    nfc_is("e\xcc\x82\xcc\xa3", "ệ");
    /* Windows-1258 style: a letter of the code page and a tone mark. */
    nfc_is("\xc3\xaa\xcc\xa3", "ệ"); /* ê U+0323 */
    nfc_is("\xc6\xb0\xcc\x80", "ừ"); /* ư U+0300 */
    nfc_is("A\xcc\x82\xcc\x89n danh", "Ẩn danh");
    nfc_is("D\xcc\x9bo\xcc\x9b", "D\xcc\x9bơ"); /* no D with horn: kept */
    /* A mark at the start, or after a character outside the scope. */
    nfc_is("\xcc\x81"
           "a",
           "\xcc\x81"
           "a");
    nfc_is("\xce\xb1\xcc\x81", "\xce\xb1\xcc\x81");
    /* NFC would be longer than the input (é U+0323 -> ẹ U+0301): kept. */
    nfc_is("\xc3\xa9\xcc\xa3", "\xc3\xa9\xcc\xa3");
    /* Not UTF-8: copied. */
    nfc_is("a\xff\xcc\x81", "a\xff\xcc\x81");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_fold),
        cmocka_unit_test(test_nfc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
