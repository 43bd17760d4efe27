/*
 * json_events.c - see json_events.h.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>

#include "json_events.h"
#include "tl_json.h"

void tj_pack(msgpack_sbuffer *sb, const char *json)
{
    json_error_t jerr;
    json_t *v = json_loads(json, 0, &jerr);
    if (v == NULL)
        fail_msg("bad test JSON: %s: %s", jerr.text, json);
    msgpack_sbuffer_init(sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    struct tl_error err;
    assert_int_equal(tl_json_pack(v, &pk, &err), 0);
    json_decref(v);
}

uint64_t tj_publish_ok(struct td *d, const char *json, int timeout_ms)
{
    msgpack_sbuffer sb;
    msgpack_unpacked up;
    uint64_t last = 0;
    tj_pack(&sb, json);
    msgpack_unpacked_init(&up);
    assert_int_equal(td_ingest_raw(d, sb.data, sb.size, &up, timeout_ms), 0);
    msgpack_sbuffer_destroy(&sb);
    assert_int_equal(up.data.type, MSGPACK_OBJECT_ARRAY);
    for (uint32_t i = 0; i < up.data.via.array.size; i++) {
        const msgpack_object *a = &up.data.via.array.ptr[i];
        const msgpack_object *seq = td_get(a, "seq");
        if (!td_str_eq(td_get(a, "status"), "ok") || seq == NULL) {
            const msgpack_object *e = td_get(a, "error");
            fail_msg("event %u not acked: %.*s", i,
                     e != NULL ? (int)e->via.str.size : 0,
                     e != NULL ? e->via.str.ptr : "");
        }
        if (seq->via.u64 > last)
            last = seq->via.u64;
    }
    msgpack_unpacked_destroy(&up);
    return last;
}

char *tj_query(struct td *d, const char *plugin, const char *q_json,
               uint64_t min_seq, int timeout_ms, size_t *len)
{
    msgpack_sbuffer sb;
    char why[256];
    tj_pack(&sb, q_json);
    char *res = td_query_packed(d, plugin, sb.data, sb.size, min_seq,
                                timeout_ms, len, why, sizeof why);
    msgpack_sbuffer_destroy(&sb);
    if (res == NULL)
        fail_msg("query %s %s failed: %s", plugin, q_json, why);
    return res;
}
