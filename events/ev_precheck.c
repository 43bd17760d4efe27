/*
 * ev_precheck.c - structural scan of untrusted msgpack before msgpack-c.
 *
 * msgpack_unpack_next() believes the counts in headers: the five bytes
 * dd ff 00 00 00 declare an array of 4278190080 elements and make it
 * allocate some hundred gigabytes before noticing the input ends (msgpack-c
 * issue #1013).  This walker reads every header once, checks each declared
 * size against the bytes that remain, and allocates nothing.  Input that
 * passes holds every element it declares, so whatever the unpacker then
 * allocates is bounded by the input's length.
 */
#include "ev_event.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ev_text.h"

/* Ceiling on max_depth: the stack of open containers lives in this frame.
 * A larger max_depth is treated as this one, which is stricter, never
 * looser. */
#define STACK_MAX 64

/* H_STR is a blob whose bytes ev_msgpack_strict reads as text. */
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

static int fail(struct ev_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int fail(struct ev_error *err, const char *fmt, ...)
{
    va_list ap;

    if (err != NULL) {
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return EV_EINVAL;
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
                       unsigned *kind, uint64_t *n, struct ev_error *err)
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
    return EV_OK;
}

int ev_precheck(const void *buf, size_t len, unsigned max_depth,
                struct ev_error *err)
{
    struct ev_limits lim = {max_depth, UINT32_MAX, UINT32_MAX, UINT32_MAX,
                            NULL};
    return ev_precheck_limits(buf, len, &lim, err);
}

/* The walk of ev_precheck_limits; with utf8, every str must also hold
 * valid UTF-8. */
static int scan(const void *buf, size_t len, const struct ev_limits *lim,
                bool utf8, struct ev_error *err)
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
        if ((rc = read_header(&p, end, &kind, &n, err)) != EV_OK)
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
            if (utf8 && kind == H_STR && !ev_utf8_valid((const char *)p, n))
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
    return EV_OK;
}

int ev_precheck_limits(const void *buf, size_t len, const struct ev_limits *lim,
                       struct ev_error *err)
{
    return scan(buf, len, lim, false, err);
}

int ev_msgpack_strict(const void *buf, size_t len, struct ev_error *err)
{
    struct ev_limits lim = {STACK_MAX, UINT32_MAX, UINT32_MAX, UINT32_MAX,
                            NULL};
    int rc = scan(buf, len, &lim, true, err);
    /* The walker speaks of requests ("event: ..."); this is about any
     * msgpack, a reply as often as not. */
    if (rc != EV_OK && err != NULL && strncmp(err->msg, "event: ", 7) == 0)
        memmove(err->msg, err->msg + 7, strlen(err->msg + 7) + 1);
    return rc;
}
