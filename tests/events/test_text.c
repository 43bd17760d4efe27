/*
 * test_text.c - text on the wire and the strict reply check
 * (<povtrack/protocol.h>: povtrack_proto_utf8_*, _text_escape, _pack_text,
 * _check_strict).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ev_event.h"

#define LIT(s) (s), sizeof(s) - 1

static void test_utf8(void **state)
{
    (void)state;
    assert_true(povtrack_proto_utf8_valid(LIT("")));
    assert_true(
        povtrack_proto_utf8_valid(LIT("Phường Phú Thủy \xf0\x9f\x8f\xa0")));
    assert_int_equal(povtrack_proto_utf8_prefix(LIT("ab\xff")), 2);
    assert_int_equal(povtrack_proto_utf8_prefix(LIT("\xc0\xaf")),
                     0); /* overlong */
    assert_int_equal(povtrack_proto_utf8_prefix(LIT("x\xed\xa0\x80")),
                     1); /* surrogate */
    assert_int_equal(povtrack_proto_utf8_prefix(LIT("\xf4\x90\x80\x80")), 0);
    assert_int_equal(povtrack_proto_utf8_prefix(LIT("\xe1\x80")),
                     0); /* cut short */
}

static void test_escape(void **state)
{
    (void)state;
    char buf[64];
    /* Valid text is copied, backslashes and all. */
    assert_int_equal(
        povtrack_proto_text_escape(buf, sizeof buf, LIT("a\\x41 é")), 8);
    assert_string_equal(buf, "a\\x41 é");
    /* The bytes, each as \xHH in lower-case hex. */
    assert_int_equal(
        povtrack_proto_text_escape(buf, sizeof buf, LIT("\xff\xfe\xfd\xfc")),
        16);
    assert_string_equal(buf, "\\xff\\xfe\\xfd\\xfc");
    /* A sequence cut short: each of its bytes on its own. */
    povtrack_proto_text_escape(buf, sizeof buf, LIT("h\xe1\x80!"));
    assert_string_equal(buf, "h\\xe1\\x80!");
    /* Cut to fit between characters and escapes, never inside one; the
     * length of the whole is returned. */
    assert_int_equal(povtrack_proto_text_escape(buf, 4, LIT("aéb")), 4);
    assert_string_equal(buf, "aé");
    assert_int_equal(povtrack_proto_text_escape(buf, 3, LIT("aé")), 3);
    assert_string_equal(buf, "a");
    assert_int_equal(povtrack_proto_text_escape(buf, 6, LIT("a\xff")), 5);
    assert_string_equal(buf, "a\\xff");
    assert_int_equal(povtrack_proto_text_escape(buf, 5,
                                                LIT("a\xff"
                                                    "b")),
                     6);
    assert_string_equal(buf, "a");
    assert_int_equal(povtrack_proto_text_escape(NULL, 0, LIT("\xff")), 4);
}

static void test_pack(void **state)
{
    (void)state;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    assert_int_equal(povtrack_proto_pack_text(&pk, LIT("é")), 0);
    assert_int_equal(povtrack_proto_pack_text(&pk, LIT("u\xff")), 0);
    assert_int_equal(sb.size, 1 + 2 + 1 + 5);
    assert_memory_equal(sb.data, "\xa2\xc3\xa9\xa5u\\xff", sb.size);
    msgpack_sbuffer_destroy(&sb);
}

static void test_strict(void **state)
{
    (void)state;
    struct ev_error err;
    /* {"said": "hé", "n": [1, nil]} */
    assert_int_equal(povtrack_proto_check_strict(
                         LIT("\x82\xa4said\xa3h\xc3\xa9\xa1n\x92\x01\xc0"),
                         err.msg, sizeof err.msg),
                     POVTRACK_OK);
    /* Bytes that are not UTF-8 are fine in a bin, not in a str. */
    assert_int_equal(povtrack_proto_check_strict(LIT("\x91\xc4\x02\xff\xfe"),
                                                 err.msg, sizeof err.msg),
                     POVTRACK_OK);
    assert_int_equal(povtrack_proto_check_strict(LIT("\x91\xd9\x02\xff\xfe"),
                                                 err.msg, sizeof err.msg),
                     POVTRACK_EINVALID);
    assert_string_equal(err.msg, "string at byte 3 is not valid UTF-8");
    assert_int_equal(povtrack_proto_check_strict(LIT("\x81\xa2\xff\xfe\x01"),
                                                 err.msg, sizeof err.msg),
                     POVTRACK_EINVALID); /* a key too */
    assert_string_equal(err.msg, "string at byte 2 is not valid UTF-8");
    assert_int_equal(
        povtrack_proto_check_strict(LIT("\xc0\xc0"), err.msg, sizeof err.msg),
        POVTRACK_EINVALID);
    assert_string_equal(err.msg, "trailing bytes after the msgpack object");
    assert_int_equal(
        povtrack_proto_check_strict(LIT("\x92\x01"), err.msg, sizeof err.msg),
        POVTRACK_EINVALID);
    /* The request pre-check does not read text. */
    struct povtrack_proto_limits lim = {8, UINT32_MAX, UINT32_MAX, UINT32_MAX,
                                        NULL};
    assert_int_equal(povtrack_proto_precheck(LIT("\x91\xd9\x02\xff\xfe"), &lim,
                                             err.msg, sizeof err.msg),
                     POVTRACK_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_pack),
        cmocka_unit_test(test_strict),
    };
    return cmocka_run_group_tests_name("events_text", tests, NULL, NULL);
}
