/*
 * tl_mp.c - see tl_mp.h.
 */
#include "tl_mp.h"

#include <string.h>

#include <povtrack/client.h>

#include "tl_fmt.h"

const msgpack_object *tl_mp_get(const msgpack_object *map, const char *key)
{
    return povtrack_client_map_get(map, key);
}

bool tl_mp_i64(const msgpack_object *map, const char *key, int64_t *v)
{
    const msgpack_object *o = tl_mp_get(map, key);

    if (o == NULL)
        return false;
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
        o->via.u64 <= (uint64_t)INT64_MAX) {
        *v = (int64_t)o->via.u64;
        return true;
    }
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *v = o->via.i64;
        return true;
    }
    return false;
}

bool tl_mp_num(const msgpack_object *map, const char *key, double *v)
{
    const msgpack_object *o = tl_mp_get(map, key);
    int64_t i;

    if (o == NULL)
        return false;
    if (o->type == MSGPACK_OBJECT_FLOAT32 ||
        o->type == MSGPACK_OBJECT_FLOAT64) {
        *v = o->via.f64;
        return true;
    }
    if (tl_mp_i64(map, key, &i)) {
        *v = (double)i;
        return true;
    }
    return false;
}

bool tl_mp_str(const msgpack_object *map, const char *key, char *buf,
               size_t cap)
{
    const msgpack_object *o = tl_mp_get(map, key);

    if (o == NULL || o->type != MSGPACK_OBJECT_STR || o->via.str.size >= cap ||
        memchr(o->via.str.ptr, '\0', o->via.str.size) != NULL)
        return false;
    memcpy(buf, o->via.str.ptr, o->via.str.size);
    buf[o->via.str.size] = '\0';
    return true;
}

/* Is key a year, a time in unix seconds or a sequence: a number that
 * names something rather than counts it, shown as it is ("year: 2024",
 * not "year: 2,024"). */
static bool names_a_point(const msgpack_object *key)
{
    static const char *const exact[] = {"year",      "as_of",  "from",
                                        "to",        "at",     "due",
                                        "effective", "cohort", "seq"};
    static const char *const suffix[] = {"_year", "_seq", "_at"};
    size_t n;

    if (key->type != MSGPACK_OBJECT_STR)
        return false;
    n = key->via.str.size;
    for (size_t i = 0; i < sizeof exact / sizeof exact[0]; i++)
        if (n == strlen(exact[i]) && memcmp(key->via.str.ptr, exact[i], n) == 0)
            return true;
    for (size_t i = 0; i < sizeof suffix / sizeof suffix[0]; i++) {
        size_t m = strlen(suffix[i]);
        if (n > m && memcmp(key->via.str.ptr + n - m, suffix[i], m) == 0)
            return true;
    }
    return false;
}

static int show_scalar(FILE *f, const msgpack_object *o, bool plain)
{
    char buf[TL_FMT_INT_MAX];

    if (plain && o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        return fprintf(f, "%llu", (unsigned long long)o->via.u64) < 0
                   ? POVTRACK_EIO
                   : 0;
    if (plain && o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        return fprintf(f, "%lld", (long long)o->via.i64) < 0 ? POVTRACK_EIO : 0;
    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
        return fputs("-", f) == EOF ? POVTRACK_EIO : 0;
    case MSGPACK_OBJECT_BOOLEAN:
        return fputs(o->via.boolean ? "true" : "false", f) == EOF ? POVTRACK_EIO
                                                                  : 0;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        if (o->via.u64 > (uint64_t)INT64_MAX)
            return fprintf(f, "%llu", (unsigned long long)o->via.u64) < 0
                       ? POVTRACK_EIO
                       : 0;
        return fputs(tl_fmt_int((int64_t)o->via.u64, buf), f) == EOF
                   ? POVTRACK_EIO
                   : 0;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        return fputs(tl_fmt_int(o->via.i64, buf), f) == EOF ? POVTRACK_EIO : 0;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        return fprintf(f, "%.4g", o->via.f64) < 0 ? POVTRACK_EIO : 0;
    case MSGPACK_OBJECT_STR:
        return fwrite(o->via.str.ptr, 1, o->via.str.size, f) == o->via.str.size
                   ? 0
                   : POVTRACK_EIO;
    case MSGPACK_OBJECT_ARRAY: /* empty: a list with nothing in it */
    case MSGPACK_OBJECT_MAP:
        return fputs("(none)", f) == EOF ? POVTRACK_EIO : 0;
    default:
        return fputs("<binary>", f) == EOF ? POVTRACK_EIO : 0;
    }
}

static bool is_container(const msgpack_object *o)
{
    return (o->type == MSGPACK_OBJECT_MAP && o->via.map.size > 0) ||
           (o->type == MSGPACK_OBJECT_ARRAY && o->via.array.size > 0);
}

int tl_mp_show(FILE *f, const msgpack_object *o, int indent)
{
    if (o->type == MSGPACK_OBJECT_MAP) {
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            const msgpack_object *k = &o->via.map.ptr[i].key;
            const msgpack_object *v = &o->via.map.ptr[i].val;
            if (fprintf(f, "%*s", indent, "") < 0 ||
                show_scalar(f, k, false) != 0 || fputs(":", f) == EOF)
                return POVTRACK_EIO;
            if (is_container(v)) {
                if (fputc('\n', f) == EOF || tl_mp_show(f, v, indent + 2))
                    return POVTRACK_EIO;
            } else if (fputc(' ', f) == EOF ||
                       show_scalar(f, v, names_a_point(k)) != 0 ||
                       fputc('\n', f) == EOF) {
                return POVTRACK_EIO;
            }
        }
        return 0;
    }
    if (o->type == MSGPACK_OBJECT_ARRAY) {
        for (uint32_t i = 0; i < o->via.array.size; i++) {
            const msgpack_object *v = &o->via.array.ptr[i];
            if (fprintf(f, "%*s-", indent, "") < 0)
                return POVTRACK_EIO;
            if (is_container(v)) {
                if (fputc('\n', f) == EOF || tl_mp_show(f, v, indent + 2))
                    return POVTRACK_EIO;
            } else if (fputc(' ', f) == EOF || show_scalar(f, v, false) != 0 ||
                       fputc('\n', f) == EOF) {
                return POVTRACK_EIO;
            }
        }
        return 0;
    }
    if (fprintf(f, "%*s", indent, "") < 0 || show_scalar(f, o, false) != 0 ||
        fputc('\n', f) == EOF)
        return POVTRACK_EIO;
    return 0;
}
