/*
 * tl_fold.c - see tl_fold.h.
 */
#include "tl_fold.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "tl_fold_tables.h"

#define NOT_UTF8 UINT32_MAX
#define MARK_FIRST 0x0300
#define MARK_END 0x0370
#define SEGMENT_MAX 32 /* a letter and its marks; more: left as it is */

/* The code point at p (n bytes left) into *cp; returns its length.  A byte
 * that starts no valid sequence is one byte of NOT_UTF8. */
static size_t decode(const unsigned char *p, size_t n, uint32_t *cp)
{
    uint32_t c = p[0];
    size_t len, i;

    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        c &= 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        c &= 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        c &= 0x07;
    } else {
        *cp = NOT_UTF8;
        return 1;
    }
    if (n < len) {
        *cp = NOT_UTF8;
        return 1;
    }
    for (i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80) {
            *cp = NOT_UTF8;
            return 1;
        }
        c = (c << 6) | (p[i] & 0x3F);
    }
    /* Overlong forms and surrogates are not text. */
    if ((len == 3 && (c < 0x800 || (c >= 0xD800 && c <= 0xDFFF))) ||
        (len == 4 && (c < 0x10000 || c > 0x10FFFF))) {
        *cp = NOT_UTF8;
        return 1;
    }
    *cp = c;
    return len;
}

static size_t encode(uint32_t c, char *out)
{
    if (c < 0x80) {
        out[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        out[0] = (char)(0xC0 | (c >> 6));
        out[1] = (char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        out[0] = (char)(0xE0 | (c >> 12));
        out[1] = (char)(0x80 | ((c >> 6) & 0x3F));
        out[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (c >> 18));
    out[1] = (char)(0x80 | ((c >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((c >> 6) & 0x3F));
    out[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

static bool is_mark(uint32_t c)
{
    return c >= MARK_FIRST && c < MARK_END;
}

static unsigned mark_ccc(uint32_t c)
{
    return is_mark(c) ? mark_class[c - MARK_FIRST] : 0;
}

/* A mark that attaches to the letter before it; the few of class 0 (the
 * grapheme joiner) start a segment of their own instead. */
static bool combining(uint32_t c)
{
    return mark_ccc(c) > 0;
}

/* The ASCII fold of a letter of the module's scope: two bytes, the second
 * a space for a fold of one letter; NULL for anything else. */
static const char *fold_of(uint32_t c)
{
    const char *f = NULL;

    if (c >= 0x00C0 && c < 0x0250)
        f = fold_00c0 + 2 * (c - 0x00C0);
    else if (c >= 0x1E00 && c < 0x1F00)
        f = fold_1e00 + 2 * (c - 0x1E00);
    return f != NULL && f[0] != ' ' ? f : NULL;
}

size_t tl_fold(const char *s, size_t len, char *out)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t r = 0, w = 0;

    /* Every fold takes at most the bytes it reads, so out may be s. */
    while (r < len) {
        uint32_t c;
        size_t n = decode(p + r, len - r, &c);
        const char *f = fold_of(c);

        if (c >= 'A' && c <= 'Z') {
            out[w++] = (char)(c - 'A' + 'a');
        } else if (is_mark(c)) {
            /* dropped */
        } else if (f != NULL) {
            out[w++] = f[0];
            if (f[1] != ' ')
                out[w++] = f[1];
        } else {
            memmove(out + w, s + r, n);
            w += n;
        }
        r += n;
    }
    out[w] = '\0';
    return w;
}

/* Does c separate the words of a key? */
static bool separator(uint32_t c)
{
    if (c < 0x80)
        return !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'));
    return c == NOT_UTF8 || (c >= 0x00A0 && c <= 0x00BF) || c == 0x00D7 ||
           c == 0x00F7 || (c >= 0x2000 && c <= 0x206F) || c == 0x3000 ||
           c == 0xFEFF;
}

void tl_fold_key(char *s)
{
    size_t len = tl_fold(s, strlen(s), s), r = 0, w = 0;
    bool gap = false;

    while (r < len) {
        uint32_t c;
        size_t n = decode((const unsigned char *)s + r, len - r, &c);

        if (separator(c)) {
            gap = w > 0;
        } else {
            if (gap)
                s[w++] = '_';
            gap = false;
            memmove(s + w, s + r, n);
            w += n;
        }
        r += n;
    }
    s[w] = '\0';
}

/* ---- composition ------------------------------------------------------ */

/* The two parts of a precomposed letter; NULL when c has none here. */
static const struct fold_pair *parts_of(uint32_t c)
{
    size_t lo = 0, hi = sizeof(by_composed) / sizeof(by_composed[0]);

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (by_composed[mid].composed == c)
            return &by_composed[mid];
        if (by_composed[mid].composed < c)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* The letter first + mark composes to, or 0.  A scan: only text with
 * combining marks (rare: most programs write NFC) comes here. */
static uint32_t compose(uint32_t first, uint32_t mark)
{
    for (size_t i = 0; i < sizeof(by_composed) / sizeof(by_composed[0]); i++)
        if (by_composed[i].first == first && by_composed[i].mark == mark)
            return by_composed[i].composed;
    return 0;
}

/* Normalise one segment (a letter and the marks after it, seg[0..n)) into
 * out; returns the bytes written, or 0 when it does not fit in cap. */
static size_t compose_segment(const uint32_t *seg, size_t n, char *out,
                              size_t cap)
{
    uint32_t cps[SEGMENT_MAX * 2];
    size_t m = 0, w = 0, kept = 0;
    const struct fold_pair *p;
    uint32_t base = seg[0];
    unsigned last = 0;

    /* Decompose the letter: its marks come before the ones that follow. */
    while ((p = parts_of(base)) != NULL && m < SEGMENT_MAX) {
        cps[SEGMENT_MAX - 1 - m++] = p->mark;
        base = p->first;
    }
    memmove(cps, cps + SEGMENT_MAX - m, m * sizeof(*cps));
    for (size_t i = 1; i < n; i++)
        cps[m++] = seg[i];
    /* Canonical order: a stable sort of the marks by combining class. */
    for (size_t i = 1; i < m; i++) {
        uint32_t c = cps[i];
        size_t j = i;
        while (j > 0 && mark_ccc(cps[j - 1]) > mark_ccc(c)) {
            cps[j] = cps[j - 1];
            j--;
        }
        cps[j] = c;
    }
    /* Compose each mark that no kept mark of the same or a higher class
     * blocks. */
    for (size_t i = 0; i < m; i++) {
        unsigned ccc = mark_ccc(cps[i]);
        uint32_t c = (kept == 0 || last < ccc) ? compose(base, cps[i]) : 0;
        if (c != 0) {
            base = c;
        } else {
            cps[kept++] = cps[i];
            last = ccc;
        }
    }
    for (size_t i = 0; i <= kept; i++) {
        char tmp[4];
        size_t k = encode(i == 0 ? base : cps[i - 1], tmp);
        if (w + k > cap)
            return 0;
        memcpy(out + w, tmp, k);
        w += k;
    }
    return w;
}

size_t tl_nfc(char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t r = 0, w = 0;

    while (r < len) {
        uint32_t seg[SEGMENT_MAX], c;
        size_t start = r, n = 0, k;
        char buf[SEGMENT_MAX * 4 * 2];

        k = decode(p + r, len - r, &c);
        r += k;
        seg[n++] = c;
        /* A letter alone, a mark with no letter before it, or bytes that
         * are not text: as they are. */
        if (c == NOT_UTF8 || combining(c) || r == len) {
            memmove(s + w, s + start, r - start);
            w += r - start;
            continue;
        }
        while (r < len && n < SEGMENT_MAX) {
            uint32_t m;
            size_t km = decode(p + r, len - r, &m);
            if (!combining(m))
                break;
            seg[n++] = m;
            r += km;
        }
        /* A precomposed letter alone is in NFC already. */
        size_t out = n > 1 ? compose_segment(seg, n, buf, r - start) : 0;
        if (out == 0) {
            memmove(s + w, s + start, r - start);
            w += r - start;
        } else {
            memcpy(s + w, buf, out);
            w += out;
        }
    }
    s[w] = '\0';
    return w;
}
