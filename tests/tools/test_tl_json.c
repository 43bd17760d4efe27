/*
 * test_tl_json.c - JSON <-> msgpack conversion of the CLI.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tl_json.h"

/* Pack the JSON text, unpack it into *out (zone-backed). */
static void pack_text(const char *text, msgpack_sbuffer *sb,
                      msgpack_unpacked *up)
{
    json_error_t jerr;
    json_t *v = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    struct tl_error err = {{0}};
    msgpack_packer pk;
    size_t off = 0;

    assert_non_null(v);
    msgpack_sbuffer_init(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    assert_int_equal(tl_json_pack(v, &pk, &err), POVTRACK_OK);
    json_decref(v);
    msgpack_unpacked_init(up);
    assert_int_equal(msgpack_unpack_next(up, sb->data, sb->size, &off),
                     MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(off, sb->size);
}

static const msgpack_object *get(const msgpack_object *m, const char *k)
{
    for (uint32_t i = 0; i < m->via.map.size; i++)
        if (m->via.map.ptr[i].key.via.str.size == strlen(k) &&
            memcmp(m->via.map.ptr[i].key.via.str.ptr, k, strlen(k)) == 0)
            return &m->via.map.ptr[i].val;
    fail_msg("no key %s", k);
    return NULL;
}

static void test_scalars(void **state)
{
    msgpack_sbuffer sb;
    msgpack_unpacked up;
    const msgpack_object *o;

    (void)state;
    pack_text("{\"pos\":1500000,\"neg\":-7,\"big\":9223372036854775807,"
              "\"real\":1.0,\"null\":null,\"t\":true,\"f\":false}",
              &sb, &up);
    o = &up.data;
    assert_int_equal(o->type, MSGPACK_OBJECT_MAP);
    assert_int_equal(get(o, "pos")->type, MSGPACK_OBJECT_POSITIVE_INTEGER);
    assert_int_equal(get(o, "pos")->via.u64, 1500000);
    assert_int_equal(get(o, "neg")->type, MSGPACK_OBJECT_NEGATIVE_INTEGER);
    assert_int_equal(get(o, "neg")->via.i64, -7);
    assert_true(get(o, "big")->via.u64 == (uint64_t)INT64_MAX);
    /* A JSON real stays a float even when it is whole: the daemon, not the
     * CLI, decides that amounts must be integers. */
    assert_int_equal(get(o, "real")->type, MSGPACK_OBJECT_FLOAT64);
    assert_true(get(o, "real")->via.f64 == 1.0);
    assert_int_equal(get(o, "null")->type, MSGPACK_OBJECT_NIL);
    assert_int_equal(get(o, "t")->type, MSGPACK_OBJECT_BOOLEAN);
    assert_true(get(o, "t")->via.boolean);
    assert_false(get(o, "f")->via.boolean);
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_destroy(&sb);
}

static void test_nested_and_unicode(void **state)
{
    msgpack_sbuffer sb;
    msgpack_unpacked up;
    const msgpack_object *o, *arr, *s;

    (void)state;
    pack_text("{\"data\":{\"deprived\":[\"water\",\"latrine\"],"
              "\"name\":\"T\\u1ec9nh B\\u00ecnh Thu\\u1eadn\","
              "\"nul\":\"a\\u0000b\"},\"e\":[],\"m\":{}}",
              &sb, &up);
    o = get(&up.data, "data");
    arr = get(o, "deprived");
    assert_int_equal(arr->type, MSGPACK_OBJECT_ARRAY);
    assert_int_equal(arr->via.array.size, 2);
    assert_memory_equal(arr->via.array.ptr[1].via.str.ptr, "latrine", 7);
    s = get(o, "name");
    assert_int_equal(s->type, MSGPACK_OBJECT_STR);
    assert_int_equal(s->via.str.size, strlen("Tỉnh Bình Thuận"));
    assert_memory_equal(s->via.str.ptr, "Tỉnh Bình Thuận", s->via.str.size);
    /* An escaped NUL is kept: strings are counted, not terminated. */
    s = get(o, "nul");
    assert_int_equal(s->via.str.size, 3);
    assert_memory_equal(s->via.str.ptr, "a\0b", 3);
    assert_int_equal(get(&up.data, "e")->via.array.size, 0);
    assert_int_equal(get(&up.data, "m")->type, MSGPACK_OBJECT_MAP);
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_destroy(&sb);
}

static void test_round_trip(void **state)
{
    const char *text = "{\"v\":1,\"id\":\"mttq-1\",\"at\":1729098000,"
                       "\"data\":{\"amount\":-5,\"r\":2.5,\"x\":null,"
                       "\"l\":[1,[2,[3]],{\"k\":\"Đức Linh\"}]}}";
    json_t *want = json_loads(text, 0, NULL), *got = NULL;
    struct tl_error err = {{0}};
    msgpack_sbuffer sb;
    msgpack_unpacked up;

    (void)state;
    pack_text(text, &sb, &up);
    assert_int_equal(tl_json_from_msgpack(&up.data, &got, &err), POVTRACK_OK);
    assert_true(json_equal(want, got));
    json_decref(want);
    json_decref(got);
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_destroy(&sb);
}

static void test_from_msgpack_refuses(void **state)
{
    msgpack_object o;
    struct tl_error err = {{0}};
    json_t *v = NULL;

    (void)state;
    memset(&o, 0, sizeof(o));
    o.type = MSGPACK_OBJECT_POSITIVE_INTEGER;
    o.via.u64 = UINT64_MAX;
    assert_int_equal(tl_json_from_msgpack(&o, &v, &err), POVTRACK_EINVALID);
    assert_null(v);
    assert_non_null(strstr(err.msg, "does not fit"));
    memset(&err, 0, sizeof(err));
    o.type = MSGPACK_OBJECT_STR;
    o.via.str.ptr = "\xff\xfe";
    o.via.str.size = 2;
    assert_int_equal(tl_json_from_msgpack(&o, &v, &err), POVTRACK_EINVALID);
    assert_non_null(strstr(err.msg, "UTF-8"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scalars),
        cmocka_unit_test(test_nested_and_unicode),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_from_msgpack_refuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
