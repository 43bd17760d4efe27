/*
 * tl_mp.h - reading replies: typed access to msgpack map fields, and a
 * generic human-readable rendering for results the CLI has no layout for.
 */
#ifndef POVTRACK_TL_MP_H
#define POVTRACK_TL_MP_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <msgpack.h>

/* The value of key in map (NULL if absent or map is not a map). */
const msgpack_object *tl_mp_get(const msgpack_object *map, const char *key);

/* Integer field: false when absent, nil or not an integer in int64. */
bool tl_mp_i64(const msgpack_object *map, const char *key, int64_t *v);

/* Number field (integer or float): false when absent or nil. */
bool tl_mp_num(const msgpack_object *map, const char *key, double *v);

/* String field copied into buf with a NUL; false when absent, not a
 * string, holding a NUL, or longer than cap - 1 (never truncated). */
bool tl_mp_str(const msgpack_object *map, const char *key, char *buf,
               size_t cap);

/* Print o for people: maps as "key: value" lines indented by depth,
 * arrays as "- item" lines, integers with thousands separators except
 * the values of keys that name a year, a time or a sequence (year, as_of,
 * from, to, at, due, effective, cohort, seq, *_year, *_seq, *_at): those
 * as they are.  0, or POVTRACK_EIO when f fails. */
int tl_mp_show(FILE *f, const msgpack_object *o, int indent);

#endif /* POVTRACK_TL_MP_H */
