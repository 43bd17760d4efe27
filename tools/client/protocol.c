/*
 * protocol.c - the protocol module's walk of untrusted msgpack (the
 * pre-validator and the strict check), decoding replies, and packing and
 * reading query requests and replies (see <povtrack/protocol.h>).
 *
 * The pre-validator is a structural scan before msgpack-c.
 *
 * msgpack_unpack_next() believes the counts in headers: the five bytes
 * dd ff 00 00 00 declare an array of 4278190080 elements and make it
 * allocate some hundred gigabytes before noticing the input ends (msgpack-c
 * issue #1013).  This walker reads every header once, checks each declared
 * size against the bytes that remain, and allocates nothing.  Input that
 * passes holds every element it declares, so whatever the unpacker then
 * allocates is bounded by the input's length.
 */
#include <povtrack/protocol.h>

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Ceiling on max_depth: the stack of open containers lives in this frame.
 * A larger max_depth is treated as this one, which is stricter, never
 * looser. */
#define STACK_MAX 64

/* H_STR is a blob whose bytes the strict check reads as text. */
enum { H_BAD = 0, H_SCALAR, H_BLOB, H_STR, H_ARRAY, H_MAP };

/*
 * Headers 0xc0..0xdf.  width is the size of the big-endian length or count
 * that follows the first byte; fixed is the payload of a scalar, or the
 * bytes a blob carries beyond its declared length (the type byte of ext).
 */
struct hdr {
    unsigned char kind, width, fixed;
};

static const struct hdr hdrs[32] = {
    [0x00] = {H_SCALAR, 0, 0},  /* nil */
    [0x01] = {H_BAD, 0, 0},     /* never used */
    [0x02] = {H_SCALAR, 0, 0},  /* false */
    [0x03] = {H_SCALAR, 0, 0},  /* true */
    [0x04] = {H_BLOB, 1, 0},    /* bin 8 */
    [0x05] = {H_BLOB, 2, 0},    /* bin 16 */
    [0x06] = {H_BLOB, 4, 0},    /* bin 32 */
    [0x07] = {H_BLOB, 1, 1},    /* ext 8 */
    [0x08] = {H_BLOB, 2, 1},    /* ext 16 */
    [0x09] = {H_BLOB, 4, 1},    /* ext 32 */
    [0x0a] = {H_SCALAR, 0, 4},  /* float 32 */
    [0x0b] = {H_SCALAR, 0, 8},  /* float 64 */
    [0x0c] = {H_SCALAR, 0, 1},  /* uint 8 */
    [0x0d] = {H_SCALAR, 0, 2},  /* uint 16 */
    [0x0e] = {H_SCALAR, 0, 4},  /* uint 32 */
    [0x0f] = {H_SCALAR, 0, 8},  /* uint 64 */
    [0x10] = {H_SCALAR, 0, 1},  /* int 8 */
    [0x11] = {H_SCALAR, 0, 2},  /* int 16 */
    [0x12] = {H_SCALAR, 0, 4},  /* int 32 */
    [0x13] = {H_SCALAR, 0, 8},  /* int 64 */
    [0x14] = {H_SCALAR, 0, 2},  /* fixext 1 */
    [0x15] = {H_SCALAR, 0, 3},  /* fixext 2 */
    [0x16] = {H_SCALAR, 0, 5},  /* fixext 4 */
    [0x17] = {H_SCALAR, 0, 9},  /* fixext 8 */
    [0x18] = {H_SCALAR, 0, 17}, /* fixext 16 */
    [0x19] = {H_STR, 1, 0},     /* str 8 */
    [0x1a] = {H_STR, 2, 0},     /* str 16 */
    [0x1b] = {H_STR, 4, 0},     /* str 32 */
    [0x1c] = {H_ARRAY, 2, 0},   /* array 16 */
    [0x1d] = {H_ARRAY, 4, 0},   /* array 32 */
    [0x1e] = {H_MAP, 2, 0},     /* map 16 */
    [0x1f] = {H_MAP, 4, 0},     /* map 32 */
};

/* Where the scan reports: the caller's err buffer. */
struct out {
    char *err;
    size_t errlen;
};

static int fail(const struct out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int fail(const struct out *o, const char *fmt, ...)
{
    va_list ap;

    if (o->errlen > 0) {
        va_start(ap, fmt);
        vsnprintf(o->err, o->errlen, fmt, ap);
        va_end(ap);
    }
    return POVTRACK_EINVALID;
}

static uint32_t read_be(const unsigned char *p, unsigned width)
{
    uint32_t v = 0;

    while (width-- > 0)
        v = (v << 8) | *p++;
    return v;
}

/*
 * Decode the header at *pp: its kind and n, the payload bytes of a scalar
 * or blob or the element count of a container.  Advances past the header
 * only; the caller checks n against what is left.
 */
static int read_header(const unsigned char **pp, const unsigned char *end,
                       unsigned *kind, uint64_t *n, const struct out *err)
{
    const unsigned char *p = *pp;
    unsigned char b;
    struct hdr h;

    if (p == end)
        return fail(err, "event: truncated msgpack object");
    b = *p++;
    if (b <= 0x7f || b >= 0xe0) { /* fixint */
        *kind = H_SCALAR;
        *n = 0;
    } else if (b <= 0x8f) {
        *kind = H_MAP;
        *n = b & 0x0f;
    } else if (b <= 0x9f) {
        *kind = H_ARRAY;
        *n = b & 0x0f;
    } else if (b <= 0xbf) { /* fixstr */
        *kind = H_STR;
        *n = b & 0x1f;
    } else {
        h = hdrs[b - 0xc0];
        if (h.kind == H_BAD)
            return fail(err, "event: invalid msgpack byte 0x%02x", b);
        if ((size_t)(end - p) < h.width)
            return fail(err, "event: truncated msgpack object");
        *kind = h.kind;
        *n = (uint64_t)read_be(p, h.width) + h.fixed;
        p += h.width;
    }
    *pp = p;
    return 0;
}

/* The walk of povtrack_proto_precheck; with utf8, every str must also hold
 * valid UTF-8. */
static int scan(const void *buf, size_t len,
                const struct povtrack_proto_limits *lim, bool utf8,
                const struct out *err)
{
    unsigned max_depth = lim->depth_max;
    size_t open[STACK_MAX]; /* elements still unread, per open container */
    const unsigned char *p = buf, *end;
    unsigned depth = 0, kind = H_BAD;
    uint64_t n = 0;
    size_t left;
    int rc;

    if (len == 0)
        return fail(err, "event: empty buffer");
    if (buf == NULL)
        return fail(err, "event: no buffer");
    if (max_depth > STACK_MAX)
        max_depth = STACK_MAX;
    end = p + len;

    for (;;) {
        if ((rc = read_header(&p, end, &kind, &n, err)) != 0)
            return rc;
        left = (size_t)(end - p);
        bool blob = kind == H_BLOB || kind == H_STR;
        if (blob && n > lim->string_max)
            return fail(err,
                        "event: string of %" PRIu64
                        " bytes exceeds limits.string_max (%" PRIu32 ")",
                        n, lim->string_max);
        if ((kind == H_ARRAY || kind == H_MAP) &&
            n > (depth == 0 ? lim->top_max : lim->container_max))
            return fail(err,
                        "event: %s of %" PRIu64 " elements exceeds %s (%" PRIu32
                        ")",
                        kind == H_MAP ? "map" : "array", n,
                        depth > 0               ? "limits.container_max"
                        : lim->top_name != NULL ? lim->top_name
                                                : "the top-level limit",
                        depth == 0 ? lim->top_max : lim->container_max);
        if (kind == H_SCALAR || blob) {
            if (n > left)
                return blob ? fail(err,
                                   "event: payload of %" PRIu64
                                   " bytes exceeds the %zu bytes left",
                                   n, left)
                            : fail(err, "event: truncated msgpack object");
            if (utf8 && kind == H_STR &&
                !povtrack_proto_utf8_valid((const char *)p, n))
                return fail(err, "event: string at byte %zu is not valid UTF-8",
                            (size_t)(p - (const unsigned char *)buf));
            p += n;
        } else {
            if (depth == max_depth)
                return fail(err,
                            "event: nesting deeper than %u levels "
                            "(limits.depth_max)",
                            max_depth);
            /* Every element takes at least one byte, a map entry two. */
            if (n > (kind == H_MAP ? left / 2 : left))
                return fail(err,
                            "event: %s of %" PRIu64
                            " elements exceeds the %zu bytes left",
                            kind == H_MAP ? "map" : "array", n, left);
            if (kind == H_MAP)
                n *= 2;
            if (n > 0) {
                open[depth++] = (size_t)n;
                continue;
            }
        }
        /* An element is complete; so is every container it fills up. */
        while (depth > 0 && --open[depth - 1] == 0)
            depth--;
        if (depth == 0)
            break;
    }
    if (p != end)
        return fail(err, "event: trailing bytes after the msgpack object");
    return 0;
}

int povtrack_proto_precheck(const void *buf, size_t len,
                            const struct povtrack_proto_limits *lim, char *err,
                            size_t errlen)
{
    struct out o = {err, errlen};
    return scan(buf, len, lim, false, &o);
}

/* scan() for any msgpack, a reply as often as not: the walker speaks of
 * requests ("event: ..."), these messages do not. */
static int scan_any(const void *buf, size_t len,
                    const struct povtrack_proto_limits *lim, bool utf8,
                    const struct out *o)
{
    int rc = scan(buf, len, lim, utf8, o);
    if (rc != 0 && o->errlen > 0 && strncmp(o->err, "event: ", 7) == 0)
        memmove(o->err, o->err + 7, strlen(o->err + 7) + 1);
    return rc;
}

int povtrack_proto_check_strict(const void *buf, size_t len, char *err,
                                size_t errlen)
{
    struct povtrack_proto_limits lim = {STACK_MAX, UINT32_MAX, UINT32_MAX,
                                        UINT32_MAX, NULL};
    struct out o = {err, errlen};
    return scan_any(buf, len, &lim, true, &o);
}

int povtrack_proto_unpack(const void *buf, size_t len, msgpack_zone *zone,
                          msgpack_object *out, char *err, size_t errlen)
{
    struct povtrack_proto_limits lim = {POVTRACK_PROTO_REPLY_DEPTH_MAX,
                                        UINT32_MAX, UINT32_MAX, UINT32_MAX,
                                        NULL};
    struct out o = {err, errlen};
    size_t off = 0;
    msgpack_unpack_return ur;

    if (scan_any(buf, len, &lim, false, &o) != 0)
        return POVTRACK_EPROTO;
    ur = msgpack_unpack(buf, len, &off, zone, out);
    if (ur == MSGPACK_UNPACK_NOMEM_ERROR) {
        fail(&o, "out of memory");
        return POVTRACK_ENOMEM;
    }
    if (ur != MSGPACK_UNPACK_SUCCESS || off != len) {
        fail(&o, "malformed msgpack");
        return POVTRACK_EPROTO;
    }
    return 0;
}

const msgpack_object *povtrack_proto_map_get(const msgpack_object *map,
                                             const char *key)
{
    size_t klen;

    if (map == NULL || map->type != MSGPACK_OBJECT_MAP)
        return NULL;
    klen = strlen(key);
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == klen &&
            memcmp(k->via.str.ptr, key, klen) == 0)
            return &map->via.map.ptr[i].val;
    }
    return NULL;
}

/* ---- query requests and replies ---- */

/* The packing functions return 0 or POVTRACK_ENOMEM: a msgpack writer
 * returns non-zero when it cannot take the bytes, which for the sbuffer is
 * a failed realloc. */

int povtrack_proto_pack_cstr(msgpack_packer *pk, const char *s)
{
    int rc = msgpack_pack_str_with_body(pk, s, strlen(s));
    return rc == 0 ? 0 : POVTRACK_ENOMEM;
}

int povtrack_proto_pack_request(msgpack_packer *pk, const char *op,
                                uint32_t fields)
{
    int rc;

    if ((rc = msgpack_pack_map(pk, 1 + (size_t)fields)) == 0 &&
        (rc = povtrack_proto_pack_cstr(pk, POVTRACK_KEY_OP)) == 0)
        rc = povtrack_proto_pack_cstr(pk, op);
    return rc == 0 ? 0 : POVTRACK_ENOMEM;
}

int povtrack_proto_pack_query(msgpack_packer *pk, const char *plugin,
                              const void *q, size_t q_len, int64_t min_seq)
{
    int rc;

    if ((rc = povtrack_proto_pack_request(pk, POVTRACK_OP_QUERY,
                                          min_seq >= 0 ? 3 : 2)) != 0 ||
        (rc = povtrack_proto_pack_cstr(pk, POVTRACK_KEY_PLUGIN)) != 0 ||
        (rc = povtrack_proto_pack_cstr(pk, plugin)) != 0 ||
        (rc = povtrack_proto_pack_cstr(pk, POVTRACK_KEY_Q)) != 0)
        return rc == 0 ? 0 : POVTRACK_ENOMEM;
    /* q is packed already: its bytes go in as they are. */
    rc = q != NULL && q_len > 0 ? pk->callback(pk->data, q, q_len)
                                : msgpack_pack_map(pk, 0);
    if (rc == 0 && min_seq >= 0 &&
        (rc = povtrack_proto_pack_cstr(pk, POVTRACK_KEY_MIN_SEQ)) == 0)
        rc = msgpack_pack_int64(pk, min_seq);
    return rc == 0 ? 0 : POVTRACK_ENOMEM;
}

int povtrack_proto_pack_ok(msgpack_packer *pk, uint32_t fields)
{
    int rc;

    if ((rc = msgpack_pack_map(pk, 1 + (size_t)fields)) == 0 &&
        (rc = povtrack_proto_pack_cstr(pk, POVTRACK_KEY_OK)) == 0)
        rc = msgpack_pack_true(pk);
    return rc == 0 ? 0 : POVTRACK_ENOMEM;
}

int povtrack_proto_pack_error(msgpack_packer *pk, const char *msg,
                              uint32_t fields)
{
    int rc;

    if ((rc = msgpack_pack_map(pk, 2 + (size_t)fields)) != 0 ||
        (rc = povtrack_proto_pack_cstr(pk, POVTRACK_KEY_OK)) != 0 ||
        (rc = msgpack_pack_false(pk)) != 0 ||
        (rc = povtrack_proto_pack_cstr(pk, POVTRACK_KEY_ERROR)) != 0)
        return rc == 0 ? 0 : POVTRACK_ENOMEM;
    /* Errors quote requests and plugins' messages about them. */
    return povtrack_proto_pack_text(pk, msg, strlen(msg));
}

int povtrack_proto_parse_reply(const msgpack_object *reply, bool *ok,
                               const char **error, size_t *error_len)
{
    const msgpack_object *o = povtrack_proto_map_get(reply, POVTRACK_KEY_OK);
    const msgpack_object *e;

    *error = NULL;
    *error_len = 0;
    if (o == NULL || o->type != MSGPACK_OBJECT_BOOLEAN)
        return POVTRACK_EPROTO;
    *ok = o->via.boolean;
    e = povtrack_proto_map_get(reply, POVTRACK_KEY_ERROR);
    if (!*ok && e != NULL && e->type == MSGPACK_OBJECT_STR) {
        *error = e->via.str.ptr;
        *error_len = e->via.str.size;
    }
    return 0;
}
