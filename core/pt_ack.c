/*
 * pt_ack.c - packing ingest acknowledgements.
 */
#include "pt_ack.h"

#include <string.h>

#include "ev_text.h"

struct ev_str pt_ack_id(const msgpack_object *o)
{
    struct ev_str id = {NULL, 0};
    if (o->type != MSGPACK_OBJECT_MAP)
        return id;
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object *k = &o->via.map.ptr[i].key;
        const msgpack_object *v = &o->via.map.ptr[i].val;
        if (k->type != MSGPACK_OBJECT_STR || k->via.str.size != 2 ||
            memcmp(k->via.str.ptr, "id", 2) != 0)
            continue;
        if (v->type == MSGPACK_OBJECT_STR && v->via.str.size > 0 &&
            v->via.str.size <= EV_ID_MAX &&
            ev_utf8_valid(v->via.str.ptr, v->via.str.size)) {
            id.ptr = v->via.str.ptr;
            id.len = v->via.str.size;
        }
        break;
    }
    return id;
}

static void pack_cstr(msgpack_packer *pk, const char *key)
{
    size_t n = strlen(key);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, key, n);
}

/* {"id", ["index",] "status", "seq" | "error"}; index < 0: none. */
static void pack_ack(msgpack_packer *pk, struct ev_str id, int64_t index,
                     const char *status, uint64_t seq, const char *error)
{
    msgpack_pack_map(pk, index >= 0 ? 4 : 3);
    pack_cstr(pk, "id");
    if (id.ptr == NULL)
        msgpack_pack_nil(pk);
    else
        ev_pack_text(pk, id.ptr, id.len); /* valid already: packed as is */
    if (index >= 0) {
        pack_cstr(pk, "index");
        msgpack_pack_int64(pk, index);
    }
    pack_cstr(pk, "status");
    pack_cstr(pk, status);
    if (error != NULL) {
        pack_cstr(pk, "error");
        ev_pack_text(pk, error, strlen(error));
    } else {
        pack_cstr(pk, "seq");
        msgpack_pack_uint64(pk, seq);
    }
}

void pt_ack_event(msgpack_packer *pk, struct ev_str id, uint32_t index,
                  const char *status, uint64_t seq, const char *error)
{
    pack_ack(pk, id, id.ptr == NULL ? (int64_t)index : -1, status, seq, error);
}

void pt_ack_request_refused(msgpack_packer *pk, const char *error)
{
    msgpack_pack_array(pk, 1);
    pack_ack(pk, (struct ev_str){NULL, 0}, -1, "rejected", 0, error);
}
