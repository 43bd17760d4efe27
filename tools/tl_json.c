/*
 * tl_json.c - see tl_json.h.
 */
#include "tl_json.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

static int pack_str(msgpack_packer *pk, const char *s, size_t n)
{
    if (msgpack_pack_str(pk, n) != 0)
        return POVTRACK_ENOMEM;
    return msgpack_pack_str_body(pk, s, n);
}

int tl_json_pack(const json_t *v, msgpack_packer *pk, struct tl_error *err)
{
    int r = 0;

    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        const char *key;
        json_t *val;

        r = msgpack_pack_map(pk, json_object_size(v));
        /* json_object_foreach is not const-correct; v is not modified. */
        json_object_foreach((json_t *)v, key, val)
        {
            if (r != 0)
                break;
            r = pack_str(pk, key, strlen(key));
            if (r == 0) {
                int rc = tl_json_pack(val, pk, err);
                if (rc != 0)
                    return rc;
            }
        }
        break;
    }
    case JSON_ARRAY:
        r = msgpack_pack_array(pk, json_array_size(v));
        for (size_t i = 0; r == 0 && i < json_array_size(v); i++) {
            int rc = tl_json_pack(json_array_get(v, i), pk, err);
            if (rc != 0)
                return rc;
        }
        break;
    case JSON_STRING:
        r = pack_str(pk, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        r = msgpack_pack_int64(pk, json_integer_value(v));
        break;
    case JSON_REAL:
        r = msgpack_pack_double(pk, json_real_value(v));
        break;
    case JSON_TRUE:
        r = msgpack_pack_true(pk);
        break;
    case JSON_FALSE:
        r = msgpack_pack_false(pk);
        break;
    case JSON_NULL:
        r = msgpack_pack_nil(pk);
        break;
    }
    if (r != 0)
        return tl_fail(err, POVTRACK_ENOMEM, "out of memory packing msgpack");
    return POVTRACK_OK;
}

static json_t *take(json_t *v, struct tl_error *err, int *rc)
{
    if (v == NULL && *rc == 0)
        *rc = tl_fail(err, POVTRACK_ENOMEM, "out of memory building JSON");
    return v;
}

int tl_json_from_msgpack(const msgpack_object *o, json_t **out,
                         struct tl_error *err)
{
    json_t *v = NULL;
    int rc = 0;

    *out = NULL;
    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
        v = take(json_null(), err, &rc);
        break;
    case MSGPACK_OBJECT_BOOLEAN:
        v = take(json_boolean(o->via.boolean), err, &rc);
        break;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        if (o->via.u64 > (uint64_t)INT64_MAX)
            return tl_fail(err, POVTRACK_EINVALID,
                           "integer %llu does not fit a JSON integer",
                           (unsigned long long)o->via.u64);
        v = take(json_integer((json_int_t)o->via.u64), err, &rc);
        break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        v = take(json_integer((json_int_t)o->via.i64), err, &rc);
        break;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        if (!isfinite(o->via.f64))
            return tl_fail(err, POVTRACK_EINVALID, "non-finite number");
        v = take(json_real(o->via.f64), err, &rc);
        break;
    case MSGPACK_OBJECT_STR:
        /* json_stringn validates UTF-8; NULL then means bad bytes. */
        v = json_stringn(o->via.str.ptr, o->via.str.size);
        if (v == NULL)
            return tl_fail(err, POVTRACK_EINVALID, "string is not valid UTF-8");
        break;
    case MSGPACK_OBJECT_ARRAY:
        v = take(json_array(), err, &rc);
        for (uint32_t i = 0; rc == 0 && i < o->via.array.size; i++) {
            json_t *e;
            rc = tl_json_from_msgpack(&o->via.array.ptr[i], &e, err);
            if (rc == 0 && json_array_append_new(v, e) != 0)
                rc = tl_fail(err, POVTRACK_ENOMEM,
                             "out of memory building JSON");
        }
        break;
    case MSGPACK_OBJECT_MAP:
        v = take(json_object(), err, &rc);
        for (uint32_t i = 0; rc == 0 && i < o->via.map.size; i++) {
            const msgpack_object *k = &o->via.map.ptr[i].key;
            json_t *e;
            if (k->type != MSGPACK_OBJECT_STR ||
                memchr(k->via.str.ptr, '\0', k->via.str.size) != NULL) {
                rc = tl_fail(err, POVTRACK_EINVALID, "map key is not a string");
                break;
            }
            rc = tl_json_from_msgpack(&o->via.map.ptr[i].val, &e, err);
            if (rc == 0 && json_object_setn_new(v, k->via.str.ptr,
                                                k->via.str.size, e) != 0)
                rc = tl_fail(err, POVTRACK_EINVALID,
                             "map key is not valid UTF-8");
        }
        break;
    default:
        return tl_fail(err, POVTRACK_EINVALID,
                       "binary or extension value has no JSON form");
    }
    if (rc != 0) {
        json_decref(v);
        return rc;
    }
    *out = v;
    return POVTRACK_OK;
}

int tl_json_print(FILE *f, const msgpack_object *o, struct tl_error *err)
{
    json_t *v;
    int rc = tl_json_from_msgpack(o, &v, err);

    if (rc != 0)
        return rc;
    /* JSON_ENCODE_ANY: the value may be a scalar; JSON_PRESERVE_ORDER keeps
     * the daemon's key order so output is stable. */
    rc = json_dumpf(v, f, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
    json_decref(v);
    if (rc != 0 || fputc('\n', f) == EOF)
        return tl_fail(err, POVTRACK_EIO, "cannot write JSON output");
    return POVTRACK_OK;
}
