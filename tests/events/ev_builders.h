/*
 * ev_builders.h - unit events for the tests of units over time
 * (tests/events/test_units.c on an in-memory registry,
 * tests/storage/test_st_units.c on the log): packed with msgpack-c and
 * decoded by ev_decode, so every one is an event the daemon would accept;
 * and assert_str, for the strings the unit rules give back.
 *
 * Header-only: the functions are static inline, so a test that uses only
 * some of them still builds with -Werror; the header includes what it
 * needs (cmocka's prerequisites first).  Every builder fails the running
 * cmocka test when its event does not decode.
 */
#ifndef POVTRACK_TEST_EV_BUILDERS_H
#define POVTRACK_TEST_EV_BUILDERS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <msgpack.h>

#include "ev_event.h"

/* The "at" of the unit events built here: 2025-07-01 00:00 +07, the day of
 * the reorganisation both tests play. */
#define TEV_AT INT64_C(1751302800)
/* tev_defined's effective for "no data.effective". */
#define TEV_NO_EFF INT64_MIN

/* An event and the buffers it points into.  Free with tev_free. */
struct tev {
    msgpack_sbuffer sb;
    msgpack_unpacked up;
    struct ev_event ev;
};

static inline void pack_s(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str_with_body(pk, s, strlen(s));
}

/* "a,b,c" as an array of strings. */
static inline void pack_list(msgpack_packer *pk, const char *list)
{
    uint32_t n = 1;
    const char *p;

    for (p = list; *p != '\0'; p++)
        n += *p == ',';
    msgpack_pack_array(pk, n);
    for (p = list;;) {
        size_t len = strcspn(p, ",");
        msgpack_pack_str_with_body(pk, p, len);
        if (p[len] == '\0')
            break;
        p += len + 1;
    }
}

/* Start an event into *pk: v, id, type, at, unit, household (hh NULL:
 * none), then "data" as a map of ndata pairs, which the caller packs
 * before tev_end.  id NULL: "ev-<n>", n counting such events from 1 in
 * the test program. */
static inline struct tev *tev_begin(msgpack_packer *pk, const char *id,
                                    const char *type, const char *unit,
                                    int64_t at, const char *hh, uint32_t ndata)
{
    static unsigned serial;
    struct tev *t = calloc(1, sizeof *t);
    char auto_id[32];

    assert_non_null(t);
    if (id == NULL) {
        snprintf(auto_id, sizeof auto_id, "ev-%u", ++serial);
        id = auto_id;
    }
    msgpack_sbuffer_init(&t->sb);
    msgpack_packer_init(pk, &t->sb, msgpack_sbuffer_write);
    msgpack_pack_map(pk, hh != NULL ? 7 : 6);
    pack_s(pk, "v");
    msgpack_pack_int(pk, 1);
    pack_s(pk, "id");
    pack_s(pk, id);
    pack_s(pk, "type");
    pack_s(pk, type);
    pack_s(pk, "at");
    msgpack_pack_int64(pk, at);
    pack_s(pk, "unit");
    pack_s(pk, unit);
    if (hh != NULL) {
        pack_s(pk, "household");
        pack_s(pk, hh);
    }
    pack_s(pk, "data");
    msgpack_pack_map(pk, ndata);
    return t;
}

/* Decode what was packed into t->ev (which points into t). */
static inline struct tev *tev_end(struct tev *t)
{
    struct ev_error err = {0};
    size_t off = 0;

    msgpack_unpacked_init(&t->up);
    assert_int_equal(msgpack_unpack_next(&t->up, t->sb.data, t->sb.size, &off),
                     MSGPACK_UNPACK_SUCCESS);
    if (ev_decode(&t->up.data, INT64_MAX, &t->ev, &err) != POVTRACK_OK)
        fail_msg("test event does not decode: %s", err.msg);
    return t;
}

static inline void tev_free(struct tev *t)
{
    msgpack_unpacked_destroy(&t->up);
    msgpack_sbuffer_destroy(&t->sb);
    free(t);
}

/* unit.defined at TEV_AT (id as tev_begin's); parent NULL for a province,
 * effective TEV_NO_EFF for none; the level is the one of the code's
 * length, which must be 2, 3 or 5 (central for the country's 00). */
static inline struct tev *tev_defined(const char *id, const char *code,
                                      const char *name, const char *parent,
                                      int64_t effective)
{
    static const char *const levels[] = {
        [2] = "province", [3] = "district", [5] = "commune"};
    size_t len = strlen(code);
    const char *level = strcmp(code, "00") == 0 ? "central" : levels[len];
    msgpack_packer pk;
    struct tev *t;

    assert_true(len == 2 || len == 3 || len == 5);
    t = tev_begin(&pk, id, "unit.defined", code, TEV_AT, NULL,
                  effective != TEV_NO_EFF ? 4 : 3);
    pack_s(&pk, "name");
    pack_s(&pk, name);
    pack_s(&pk, "parent");
    if (parent != NULL)
        pack_s(&pk, parent);
    else
        msgpack_pack_nil(&pk);
    pack_s(&pk, "level");
    pack_s(&pk, level);
    if (effective != TEV_NO_EFF) {
        pack_s(&pk, "effective");
        msgpack_pack_int64(&pk, effective);
    }
    return tev_end(t);
}

/* unit.changed at TEV_AT (id as tev_begin's); NULL leaves a field out.
 * Lists are "a,b,c". */
static inline struct tev *tev_changed(const char *id, const char *kind,
                                      const char *unit, int64_t effective,
                                      const char *preds, const char *succ,
                                      const char *succs, const char *name,
                                      const char *parent)
{
    msgpack_packer pk;
    uint32_t n = 3 + (succ != NULL) + (succs != NULL) + (name != NULL) +
                 (parent != NULL);
    struct tev *t = tev_begin(&pk, id, "unit.changed", unit, TEV_AT, NULL, n);

    pack_s(&pk, "kind");
    pack_s(&pk, kind);
    pack_s(&pk, "effective");
    msgpack_pack_int64(&pk, effective);
    pack_s(&pk, "predecessors");
    pack_list(&pk, preds);
    if (succ != NULL) {
        pack_s(&pk, "successor");
        pack_s(&pk, succ);
    }
    if (succs != NULL) {
        pack_s(&pk, "successors");
        pack_list(&pk, succs);
    }
    if (name != NULL) {
        pack_s(&pk, "name");
        pack_s(&pk, name);
    }
    if (parent != NULL) {
        pack_s(&pk, "parent");
        pack_s(&pk, parent);
    }
    return tev_end(t);
}

/* review.closed of 2025 at "at" (id as tev_begin's): an event that only
 * needs its unit in force at its date. */
static inline struct tev *tev_review(const char *id, const char *unit,
                                     int64_t at)
{
    msgpack_packer pk;
    struct tev *t = tev_begin(&pk, id, "review.closed", unit, at, NULL, 1);

    pack_s(&pk, "year");
    msgpack_pack_int(&pk, 2025);
    return tev_end(t);
}

/* Assert that s, a string the unit rules gave back, is want (NULL: that it
 * is absent); what names it in the message. */
static inline void assert_str(struct ev_str s, const char *want,
                              const char *what)
{
    if (want == NULL) {
        if (s.ptr != NULL)
            fail_msg("%s: \"%.*s\", want absent", what, (int)s.len, s.ptr);
        return;
    }
    if (s.ptr == NULL || s.len != strlen(want) || memcmp(s.ptr, want, s.len))
        fail_msg("%s: \"%.*s\", want \"%s\"", what, s.ptr ? (int)s.len : 6,
                 s.ptr ? s.ptr : "(null)", want);
}

#endif /* POVTRACK_TEST_EV_BUILDERS_H */
