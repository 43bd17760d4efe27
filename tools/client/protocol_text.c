/*
 * protocol_text.c - strict UTF-8 and the \xHH escape of what is not (see
 * <povtrack/protocol.h>, Text).
 */
#include <povtrack/protocol.h>

#include <string.h>

size_t povtrack_proto_utf8_prefix(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;

    while (i < len) {
        unsigned char c = s[i];
        size_t n, k;
        unsigned char lo = 0x80, hi = 0xbf; /* range of the 2nd byte */

        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            n = 1;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            if (c == 0xe0)
                lo = 0xa0;
            else if (c == 0xed)
                hi = 0x9f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            if (c == 0xf0)
                lo = 0x90;
            else if (c == 0xf4)
                hi = 0x8f;
        } else {
            return i;
        }
        if (len - i <= n || s[i + 1] < lo || s[i + 1] > hi)
            return i;
        for (k = 2; k <= n; k++)
            if ((s[i + k] & 0xc0) != 0x80)
                return i;
        i += n + 1;
    }
    return len;
}

bool povtrack_proto_utf8_valid(const char *s, size_t len)
{
    return povtrack_proto_utf8_prefix(s, len) == len;
}

/* Where escape_pieces hands each piece: whole says it must not be cut (an
 * escape); a run of characters may be cut between two of them. */
typedef int (*emit_fn)(void *arg, const char *piece, size_t n, bool whole);

/*
 * The one escaping rule, for both outputs: s as pieces that are each valid
 * UTF-8 on their own (a run of valid characters, or one bad byte as
 * \xHH), handed to emit in order.  Stops when emit returns non-zero and
 * returns that.
 */
static int escape_pieces(const char *s, size_t len, emit_fn emit, void *arg)
{
    static const char hex[] = "0123456789abcdef";
    size_t i = 0;
    int rc;

    while (i < len) {
        size_t good = povtrack_proto_utf8_prefix(s + i, len - i);
        if (good > 0 && (rc = emit(arg, s + i, good, false)) != 0)
            return rc;
        i += good;
        if (i == len)
            break;
        unsigned char c = (unsigned char)s[i++];
        char esc[4] = {'\\', 'x', hex[c >> 4], hex[c & 15]};
        if ((rc = emit(arg, esc, sizeof esc, true)) != 0)
            return rc;
    }
    return 0;
}

/* ---- into a buffer ---- */

struct buf_out {
    char *out;
    size_t cap, used; /* used: bytes written, NUL not included */
    size_t total;     /* bytes of the whole escaped text */
    bool full;        /* a piece did not fit: write nothing more */
};

static int to_buf(void *arg, const char *piece, size_t n, bool whole)
{
    struct buf_out *b = arg;
    size_t room = b->cap > b->used ? b->cap - b->used - 1 : 0;
    size_t take = n;

    b->total += n;
    if (b->full)
        return 0;
    if (take > room) {
        /* Whole characters of a run, as many as fit; none of an escape. */
        take = 0;
        while (!whole && take < room) {
            size_t next = take + 1;
            while (next < n && ((unsigned char)piece[next] & 0xc0) == 0x80)
                next++;
            if (next > room)
                break;
            take = next;
        }
        b->full = true;
    }
    if (take > 0)
        memcpy(b->out + b->used, piece, take);
    b->used += take;
    return 0;
}

size_t povtrack_proto_text_escape(char *out, size_t cap, const char *s,
                                  size_t len)
{
    struct buf_out b = {out, cap, 0, 0, false};

    escape_pieces(s, len, to_buf, &b);
    if (cap > 0)
        out[b.used] = '\0';
    return b.total;
}

/* ---- into a msgpack packer ---- */

static int count(void *arg, const char *piece, size_t n, bool whole)
{
    (void)piece;
    (void)whole;
    *(size_t *)arg += n;
    return 0;
}

static int to_packer(void *arg, const char *piece, size_t n, bool whole)
{
    (void)whole;
    return msgpack_pack_str_body(arg, piece, n);
}

int povtrack_proto_pack_text(msgpack_packer *pk, const char *s, size_t len)
{
    size_t n = 0;
    int rc;

    if (povtrack_proto_utf8_valid(s, len)) {
        if ((rc = msgpack_pack_str(pk, len)) == 0)
            rc = msgpack_pack_str_body(pk, s, len);
    } else {
        escape_pieces(s, len, count, &n);
        if ((rc = msgpack_pack_str(pk, n)) == 0)
            rc = escape_pieces(s, len, to_packer, pk);
    }
    return rc == 0 ? 0 : POVTRACK_ENOMEM; /* the writer failed */
}
