/*
 * protocol_ack.c - ingest acknowledgements: packed by the daemon, read by
 * clients (see <povtrack/protocol.h>, Ingest acks).
 */
#include <povtrack/protocol.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const status_names[] = {
    [POVTRACK_ACK_OK] = "ok",
    [POVTRACK_ACK_DUPLICATE] = "duplicate",
    [POVTRACK_ACK_REJECTED] = "rejected",
};

const char *povtrack_proto_ack_status_name(enum povtrack_ack_status s)
{
    return (unsigned)s < sizeof status_names / sizeof status_names[0]
               ? status_names[s]
               : NULL;
}

/* ---- packing ---- */

const char *povtrack_proto_ack_id(const msgpack_object *o, uint32_t *len)
{
    const msgpack_object *v = povtrack_proto_map_get(o, POVTRACK_KEY_ID);

    *len = 0;
    if (v == NULL || v->type != MSGPACK_OBJECT_STR || v->via.str.size == 0 ||
        v->via.str.size > POVTRACK_PROTO_ID_MAX ||
        !povtrack_proto_utf8_valid(v->via.str.ptr, v->via.str.size))
        return NULL;
    *len = v->via.str.size;
    return v->via.str.ptr;
}

/* {"id", ["index",] "status", "seq" | "error"}; index < 0: none. */
static int pack_ack(msgpack_packer *pk, const char *id, uint32_t id_len,
                    int64_t index, enum povtrack_ack_status status,
                    uint64_t seq, const char *error)
{
    const char *name = povtrack_proto_ack_status_name(status);
    int rc;

    if (name == NULL)
        return POVTRACK_EINVAL;
    if ((rc = msgpack_pack_map(pk, index >= 0 ? 4 : 3)) != 0 ||
        (rc = povtrack_proto_pack_cstr(pk, POVTRACK_KEY_ID)) != 0)
        return rc;
    /* An id is valid UTF-8 already (povtrack_proto_ack_id): as it is. */
    rc = id == NULL ? msgpack_pack_nil(pk)
                    : povtrack_proto_pack_text(pk, id, id_len);
    if (rc != 0)
        return rc;
    if (index >= 0 &&
        ((rc = povtrack_proto_pack_cstr(pk, POVTRACK_KEY_INDEX)) != 0 ||
         (rc = msgpack_pack_int64(pk, index)) != 0))
        return rc;
    if ((rc = povtrack_proto_pack_cstr(pk, POVTRACK_KEY_STATUS)) != 0 ||
        (rc = povtrack_proto_pack_cstr(pk, name)) != 0)
        return rc;
    if (status == POVTRACK_ACK_REJECTED) {
        if (error == NULL)
            error = "";
        if ((rc = povtrack_proto_pack_cstr(pk, POVTRACK_KEY_ERROR)) != 0)
            return rc;
        return povtrack_proto_pack_text(pk, error, strlen(error));
    }
    if ((rc = povtrack_proto_pack_cstr(pk, POVTRACK_KEY_SEQ)) != 0)
        return rc;
    return msgpack_pack_uint64(pk, seq);
}

int povtrack_proto_pack_ack(msgpack_packer *pk, const char *id, uint32_t id_len,
                            uint32_t index, enum povtrack_ack_status status,
                            uint64_t seq, const char *error)
{
    int rc = pack_ack(pk, id, id_len, id == NULL ? (int64_t)index : -1, status,
                      seq, error);
    /* Non-zero from the packer's writer: it could not take the bytes. */
    return rc == 0 || rc == POVTRACK_EINVAL ? rc : POVTRACK_ENOMEM;
}

int povtrack_proto_pack_refused(msgpack_packer *pk, const char *error)
{
    int rc = msgpack_pack_array(pk, 1);
    if (rc == 0)
        rc = pack_ack(pk, NULL, 0, -1, POVTRACK_ACK_REJECTED, 0, error);
    return rc == 0 ? 0 : POVTRACK_ENOMEM; /* the writer failed */
}

/* ---- reading ---- */

static int bad_ack(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int bad_ack(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (errlen > 0) {
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return POVTRACK_EPROTO;
}

/* o as a string without NUL bytes (a C string once copied). */
static bool get_str(const msgpack_object *o, const char **ptr, size_t *len)
{
    if (o == NULL || o->type != MSGPACK_OBJECT_STR ||
        memchr(o->via.str.ptr, '\0', o->via.str.size) != NULL)
        return false;
    *ptr = o->via.str.ptr;
    *len = o->via.str.size;
    return true;
}

static bool status_from(const char *p, size_t n, enum povtrack_ack_status *s)
{
    for (unsigned i = 0; i < sizeof status_names / sizeof status_names[0];
         i++) {
        if (strlen(status_names[i]) == n &&
            memcmp(p, status_names[i], n) == 0) {
            *s = (enum povtrack_ack_status)i;
            return true;
        }
    }
    return false;
}

/* Two passes over the array: the first checks every ack and sums the
 * bytes of their strings, the second copies them into one allocation
 * holding the ack structs followed by their NUL-terminated strings. */
int povtrack_proto_parse_acks(const msgpack_object *arr,
                              struct povtrack_acks *out, char *err,
                              size_t errlen)
{
    size_t bytes, n;
    char *pool = NULL;
    struct povtrack_ack *acks = NULL;

    memset(out, 0, sizeof(*out));
    if (arr->type != MSGPACK_OBJECT_ARRAY)
        return bad_ack(err, errlen, "not an array");
    n = arr->via.array.size;
    bytes = n * sizeof(*acks);
    for (size_t pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < n; i++) {
            const msgpack_object *a = &arr->via.array.ptr[i];
            const msgpack_object *id =
                povtrack_proto_map_get(a, POVTRACK_KEY_ID);
            const msgpack_object *st =
                povtrack_proto_map_get(a, POVTRACK_KEY_STATUS);
            const msgpack_object *seq =
                povtrack_proto_map_get(a, POVTRACK_KEY_SEQ);
            const msgpack_object *er =
                povtrack_proto_map_get(a, POVTRACK_KEY_ERROR);
            const char *p = NULL, *e = NULL;
            size_t plen = 0, elen = 0;
            enum povtrack_ack_status status;

            if (!get_str(st, &p, &plen))
                return bad_ack(err, errlen, "ack %zu has no status", i);
            if (!status_from(p, plen, &status))
                return bad_ack(err, errlen, "ack %zu: unknown status \"%.*s\"",
                               i, (int)plen, p);
            p = NULL;
            plen = 0;
            if (id != NULL && id->type != MSGPACK_OBJECT_NIL &&
                !get_str(id, &p, &plen))
                return bad_ack(err, errlen, "ack %zu: id is not a string", i);
            if (status == POVTRACK_ACK_REJECTED) {
                if (!get_str(er, &e, &elen))
                    return bad_ack(err, errlen,
                                   "ack %zu: rejected without an error", i);
            } else if (seq == NULL ||
                       seq->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
                return bad_ack(err, errlen, "ack %zu: accepted without a seq",
                               i);
            }
            if (pass == 0) {
                bytes +=
                    (p != NULL ? plen + 1 : 0) + (e != NULL ? elen + 1 : 0);
                continue;
            }
            acks[i].status = status;
            acks[i].seq = status == POVTRACK_ACK_REJECTED ? 0 : seq->via.u64;
            acks[i].id = NULL;
            acks[i].error = NULL;
            if (p != NULL) {
                memcpy(pool, p, plen);
                pool[plen] = '\0';
                acks[i].id = pool;
                pool += plen + 1;
            }
            if (e != NULL) {
                memcpy(pool, e, elen);
                pool[elen] = '\0';
                acks[i].error = pool;
                pool += elen + 1;
            }
        }
        if (pass == 0) {
            out->storage_ = malloc(bytes > 0 ? bytes : 1);
            if (out->storage_ == NULL) {
                bad_ack(err, errlen, "out of memory");
                return POVTRACK_ENOMEM;
            }
            acks = out->storage_;
            pool = (char *)(acks + n);
        }
    }
    out->acks = acks;
    out->count = n;
    return 0;
}

void povtrack_proto_acks_free(struct povtrack_acks *acks)
{
    if (acks == NULL)
        return;
    free(acks->storage_);
    memset(acks, 0, sizeof(*acks));
}
