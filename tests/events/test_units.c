/*
 * test_units.c - the rules for units over time (ev_unit.h): histories left
 * by unit.defined and unit.changed, reference checks at an event's date,
 * and where a unit's households go.
 *
 * Events are built by ev_builders.h (packed with msgpack-c and decoded by
 * ev_decode), so every case is an event the daemon would accept.  The
 * registry is in memory and
 * applies ev_unit_update's output to itself (copying the strings, which
 * point into the event or the registry), so that a sequence of events can
 * be played as the log would record it.
 *
 * The worked example is Phan Thiet on 1 July 2025: wards 22921 (Phu Hai),
 * 22924 (Phu Thuy) and 22936 (Thanh Hai) of district 593 (Phan Thiet) of
 * province 60 (Binh Thuan) merge into the enlarged ward 22924 directly
 * under province 68 (Lam Dong); district 593 is abolished; 60 merges into
 * 68.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ev_builders.h"
#include "ev_event.h"
#include "ev_unit.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Local (UTC+7) midnights. */
#define E TEV_AT                   /* 2025-07-01: the reorganisation */
#define D_2024 INT64_C(1717174800) /* 2024-06-01 */
#define D_2024_12_31 INT64_C(1735578000)
#define D_2025_03 INT64_C(1740762000) /* 2025-03-01 */
#define D_2026 INT64_C(1767200400)    /* 2026-01-01 */
#define DAY INT64_C(86400)
#define NO_EFF TEV_NO_EFF /* mk_defined: no data.effective */

#define MIN EV_TIME_MIN
#define MAX EV_TIME_MAX

/* ------------------------------------------------------------------------ */
/* Events                                                                   */

/* unit.defined (ev_builders.h), with the next "ev-<n>" id. */
static struct tev *mk_defined(const char *code, const char *name,
                              const char *parent, int64_t effective)
{
    return tev_defined(NULL, code, name, parent, effective);
}

/* A merge into succ (the event's unit). */
static struct tev *mk_merge(int64_t e, const char *preds, const char *succ,
                            const char *name, const char *parent)
{
    return tev_changed(NULL, "merge", succ, e, preds, succ, NULL, name, parent);
}

/* A change of one predecessor, the event's unit: the first code of preds. */
static struct tev *mk_one(const char *kind, int64_t e, const char *preds,
                          const char *succs, const char *name,
                          const char *parent)
{
    char unit[8];

    snprintf(unit, sizeof unit, "%.*s", (int)strcspn(preds, ","), preds);
    return tev_changed(NULL, kind, unit, e, preds, NULL, succs, name, parent);
}

/* review.closed: an event that only needs its unit in force at "at". */
static struct tev *mk_review(const char *unit, int64_t at)
{
    return tev_review(NULL, unit, at);
}

static struct tev *mk_relocated(const char *unit, const char *from, int64_t at)
{
    msgpack_packer pk;
    struct tev *t =
        tev_begin(&pk, NULL, "relocation.completed", unit, at, "HH-1", 2);

    pack_s(&pk, "from");
    pack_s(&pk, from);
    pack_s(&pk, "reason");
    pack_s(&pk, "flood");
    return tev_end(t);
}

static struct tev *mk_exited(const char *unit, int64_t at)
{
    msgpack_packer pk;
    struct tev *t =
        tev_begin(&pk, NULL, "household.exited", unit, at, "HH-1", 2);

    pack_s(&pk, "reason");
    pack_s(&pk, "moved_out");
    pack_s(&pk, "year");
    msgpack_pack_int(&pk, 2025);
    return tev_end(t);
}

/* ------------------------------------------------------------------------ */
/* The registry                                                             */

struct rspan {
    int64_t from, to;
    char name[EV_TEXT_MAX];
    uint32_t name_len;
    char parent[EV_UNIT_MAX];
    uint32_t parent_len;
    bool has_parent;
    enum ev_level level;
    enum ev_change ended_by;
    char succ[EV_UNIT_MAX];
    uint32_t succ_len;
    bool has_succ;
    uint64_t since_seq, closed_seq;
};

struct rcode {
    char code[EV_UNIT_MAX];
    uint32_t len;
    uint32_t n;
    struct rspan span[EV_SPANS_MAX];
};

#define REG_CODES 128

struct mreg {
    struct ev_registry reg;
    struct rcode codes[REG_CODES]; /* in the order first written */
    size_t n;
    int history_rc; /* nonzero: history() fails with it */
    int child_rc;   /* nonzero: child_after() fails with it */
};

static struct rcode *reg_find(struct mreg *m, struct ev_str code)
{
    for (size_t i = 0; i < m->n; i++)
        if (m->codes[i].len == code.len &&
            memcmp(m->codes[i].code, code.ptr, code.len) == 0)
            return &m->codes[i];
    return NULL;
}

static struct ev_str opt(const char *p, uint32_t len, bool present)
{
    struct ev_str s = {present ? p : NULL, present ? len : 0};
    return s;
}

static void reg_to_history(const struct rcode *c, struct ev_history *out)
{
    memset(out, 0, sizeof *out);
    out->code = (struct ev_str){c->code, c->len};
    out->n = c->n;
    for (uint32_t i = 0; i < c->n; i++) {
        const struct rspan *r = &c->span[i];
        struct ev_span *s = &out->span[i];
        s->from = r->from;
        s->to = r->to;
        s->name = (struct ev_str){r->name, r->name_len};
        s->parent = opt(r->parent, r->parent_len, r->has_parent);
        s->level = r->level;
        s->ended_by = r->ended_by;
        s->successor = opt(r->succ, r->succ_len, r->has_succ);
        s->since_seq = r->since_seq;
        s->closed_seq = r->closed_seq;
    }
}

static int reg_history(void *arg, struct ev_str code, struct ev_history *out)
{
    struct mreg *m = arg;
    struct rcode *c;

    if (m->history_rc != 0)
        return m->history_rc;
    if ((c = reg_find(m, code)) == NULL)
        return POVTRACK_ENOTFOUND;
    reg_to_history(c, out);
    return POVTRACK_OK;
}

static int reg_child_after(void *arg, struct ev_str parent, int64_t t,
                           struct ev_str *child)
{
    struct mreg *m = arg;

    if (m->child_rc != 0)
        return m->child_rc;
    for (size_t i = 0; i < m->n; i++) {
        const struct rcode *c = &m->codes[i];
        for (uint32_t j = 0; j < c->n; j++) {
            const struct rspan *r = &c->span[j];
            if (r->to > t && r->has_parent && r->parent_len == parent.len &&
                memcmp(r->parent, parent.ptr, parent.len) == 0) {
                *child = (struct ev_str){c->code, c->len};
                return POVTRACK_OK;
            }
        }
    }
    return POVTRACK_ENOTFOUND;
}

static struct mreg *reg_new(void)
{
    struct mreg *m = calloc(1, sizeof *m);

    assert_non_null(m);
    m->reg.arg = m;
    m->reg.history = reg_history;
    m->reg.child_after = reg_child_after;
    return m;
}

static void copy_str(char *dst, size_t cap, uint32_t *len, bool *present,
                     struct ev_str s)
{
    if (present != NULL)
        *present = s.ptr != NULL;
    *len = s.ptr != NULL ? s.len : 0;
    assert_true(*len <= cap);
    if (*len > 0)
        memcpy(dst, s.ptr, *len);
}

/* Write the histories an event leaves behind: copied out first, as their
 * strings may point into the registry itself. */
static void reg_apply(struct mreg *m, const struct ev_unit_update *u)
{
    struct rcode *tmp = calloc(u->n ? u->n : 1, sizeof *tmp);

    assert_non_null(tmp);
    for (uint32_t i = 0; i < u->n; i++) {
        const struct ev_history *h = &u->hist[i];
        struct rcode *c = &tmp[i];
        assert_true(h->n >= 1 && h->n <= EV_SPANS_MAX);
        copy_str(c->code, sizeof c->code, &c->len, NULL, h->code);
        c->n = h->n;
        for (uint32_t j = 0; j < h->n; j++) {
            const struct ev_span *s = &h->span[j];
            struct rspan *r = &c->span[j];
            r->from = s->from;
            r->to = s->to;
            copy_str(r->name, sizeof r->name, &r->name_len, NULL, s->name);
            copy_str(r->parent, sizeof r->parent, &r->parent_len,
                     &r->has_parent, s->parent);
            r->level = s->level;
            r->ended_by = s->ended_by;
            copy_str(r->succ, sizeof r->succ, &r->succ_len, &r->has_succ,
                     s->successor);
            r->since_seq = s->since_seq;
            r->closed_seq = s->closed_seq;
            /* The invariants of ev_unit.h. */
            assert_true(s->from < s->to);
            if (j > 0) {
                assert_true(h->span[j - 1].to <= s->from);
                assert_int_equal(s->level, h->span[0].level);
            }
        }
    }
    for (uint32_t i = 0; i < u->n; i++) {
        struct rcode *c = reg_find(m, (struct ev_str){tmp[i].code, tmp[i].len});
        if (c == NULL) {
            assert_true(m->n < REG_CODES);
            c = &m->codes[m->n++];
        }
        *c = tmp[i];
    }
    free(tmp);
}

/* Play an event: ev_unit_update, applied when accepted.  ev_check_refs
 * must give the same answer.  Frees the event. */
static int play(struct mreg *m, struct tev *t, struct ev_error *err)
{
    struct ev_unit_update *u = malloc(sizeof *u);
    struct ev_error err2 = {0};
    int rc, rc2;

    assert_non_null(u);
    memset(err, 0, sizeof *err);
    rc2 = ev_check_refs(&t->ev, &m->reg, &err2);
    rc = ev_unit_update(&t->ev, &m->reg, u, err);
    assert_int_equal(rc, rc2);
    if (rc != POVTRACK_OK)
        assert_string_equal(err->msg, err2.msg);
    if (rc == POVTRACK_OK)
        reg_apply(m, u);
    free(u);
    tev_free(t);
    return rc;
}

static void ok(struct mreg *m, struct tev *t)
{
    struct ev_error err;
    int rc = play(m, t, &err);

    if (rc != POVTRACK_OK)
        fail_msg("refused (rc %d): %s", rc, err.msg);
}

/* Refused with exactly msg, and nothing changed. */
static void refused(struct mreg *m, struct tev *t, const char *msg)
{
    struct mreg *before = malloc(sizeof *before);
    struct ev_error err;
    int rc;

    assert_non_null(before);
    memcpy(before, m, sizeof *m);
    rc = play(m, t, &err);
    if (rc != POVTRACK_EINVALID || strcmp(err.msg, msg) != 0)
        fail_msg("rc %d \"%s\"\n  want POVTRACK_EINVALID \"%s\"", rc, err.msg,
                 msg);
    assert_memory_equal(before, m, sizeof *m);
    free(before);
}

/* ev_check_refs of a non-unit event; frees it. */
static void refs(struct mreg *m, struct tev *t, const char *msg)
{
    struct ev_error err = {0};
    int rc = ev_check_refs(&t->ev, &m->reg, &err);

    if (msg == NULL && rc != POVTRACK_OK)
        fail_msg("refused: %s", err.msg);
    if (msg != NULL && (rc != POVTRACK_EINVALID || strcmp(err.msg, msg) != 0))
        fail_msg("rc %d \"%s\"\n  want POVTRACK_EINVALID \"%s\"", rc, err.msg,
                 msg);
    tev_free(t);
}

static struct ev_history history(struct mreg *m, const char *code)
{
    struct ev_history h;

    if (reg_history(m, (struct ev_str){code, (uint32_t)strlen(code)}, &h) !=
        POVTRACK_OK)
        fail_msg("%s: no history", code);
    return h;
}

/* Span i of code (of n spans in all) is exactly this. */
static void span_is(struct mreg *m, const char *code, uint32_t n, uint32_t i,
                    int64_t from, int64_t to, const char *name,
                    const char *parent, enum ev_change ended_by,
                    const char *successor)
{
    struct ev_history h = history(m, code);
    char what[64];

    if (h.n != n)
        fail_msg("%s: %u spans, want %u", code, h.n, n);
    const struct ev_span *s = &h.span[i];
    if (s->from != from || s->to != to)
        fail_msg("%s span %u: [%lld, %lld), want [%lld, %lld)", code, i,
                 (long long)s->from, (long long)s->to, (long long)from,
                 (long long)to);
    snprintf(what, sizeof what, "%s span %u name", code, i);
    if (name != NULL)
        assert_str(s->name, name, what);
    snprintf(what, sizeof what, "%s span %u parent", code, i);
    assert_str(s->parent, parent, what);
    snprintf(what, sizeof what, "%s span %u successor", code, i);
    assert_str(s->successor, successor, what);
    if (s->ended_by != ended_by)
        fail_msg("%s span %u: ended_by %d, want %d", code, i, s->ended_by,
                 ended_by);
}

/* Households of code at t0, at t1: the code (NULL: POVTRACK_ENOTFOUND). */
static void map_is(struct mreg *m, const char *code, int64_t t0, int64_t t1,
                   const char *want)
{
    struct ev_str out = {NULL, 0};
    int rc = ev_unit_map(&m->reg, (struct ev_str){code, (uint32_t)strlen(code)},
                         t0, t1, &out);

    if (want == NULL) {
        if (rc != POVTRACK_ENOTFOUND)
            fail_msg("map %s: rc %d \"%.*s\", want POVTRACK_ENOTFOUND", code,
                     rc, (int)out.len, out.ptr ? out.ptr : "");
        return;
    }
    if (rc != POVTRACK_OK)
        fail_msg("map %s: rc %d, want %s", code, rc, want);
    assert_str(out, want, code);
}

/* Binh Thuan and Lam Dong before July 2025, from the beginning of time. */
static struct mreg *phan_thiet_before(void)
{
    struct mreg *m = reg_new();

    ok(m, mk_defined("60", "Bình Thuận", NULL, NO_EFF));
    ok(m, mk_defined("68", "Lâm Đồng", NULL, NO_EFF));
    ok(m, mk_defined("593", "Phan Thiết", "60", NO_EFF));
    ok(m, mk_defined("22921", "Phú Hài", "593", NO_EFF));
    ok(m, mk_defined("22924", "Phú Thủy", "593", NO_EFF));
    ok(m, mk_defined("22936", "Thanh Hải", "593", NO_EFF));
    return m;
}

/* The three events of 1 July 2025, in the order that works. */
static struct mreg *phan_thiet_after(void)
{
    struct mreg *m = phan_thiet_before();

    ok(m, mk_merge(E, "22921,22924,22936", "22924", "Phường Phú Thủy", "68"));
    ok(m, mk_one("abolish", E, "593", NULL, NULL, NULL));
    ok(m, mk_merge(E, "60,68", "68", NULL, NULL));
    return m;
}

/* ------------------------------------------------------------------------ */
/* The Phan Thiet merger                                                    */

static void test_phan_thiet(void **state)
{
    struct mreg *m = phan_thiet_before();
    struct ev_unit_update *u = malloc(sizeof *u);
    struct ev_error err;
    struct tev *t;

    (void)state;
    assert_non_null(u);
    span_is(m, "22924", 1, 0, MIN, MAX, "Phú Thủy", "593", EV_CHANGE_NONE,
            NULL);

    /* What the communes' merge changes: the three communes (the new
     * parent is only looked at, and not written again). */
    t = mk_merge(E, "22921,22924,22936", "22924", "Phường Phú Thủy", "68");
    assert_int_equal(ev_unit_update(&t->ev, &m->reg, u, &err), POVTRACK_OK);
    assert_int_equal(u->n, 3);
    assert_str(u->hist[0].code, "22921", "touched 0");
    assert_str(u->hist[1].code, "22924", "touched 1");
    assert_str(u->hist[2].code, "22936", "touched 2");
    reg_apply(m, u);
    tev_free(t);
    free(u);

    ok(m, mk_one("abolish", E, "593", NULL, NULL, NULL));
    ok(m, mk_merge(E, "60,68", "68", NULL, NULL));

    span_is(m, "60", 1, 0, MIN, E, "Bình Thuận", NULL, EV_CHANGE_MERGE, "68");
    span_is(m, "68", 1, 0, MIN, MAX, "Lâm Đồng", NULL, EV_CHANGE_NONE, NULL);
    span_is(m, "593", 1, 0, MIN, E, "Phan Thiết", "60", EV_CHANGE_ABOLISH,
            NULL);
    span_is(m, "22921", 1, 0, MIN, E, "Phú Hài", "593", EV_CHANGE_MERGE,
            "22924");
    span_is(m, "22936", 1, 0, MIN, E, "Thanh Hải", "593", EV_CHANGE_MERGE,
            "22924");
    /* The code goes on: its old span ends without an "ended_by". */
    span_is(m, "22924", 2, 0, MIN, E, "Phú Thủy", "593", EV_CHANGE_NONE, NULL);
    span_is(m, "22924", 2, 1, E, MAX, "Phường Phú Thủy", "68", EV_CHANGE_NONE,
            NULL);
    assert_int_equal(history(m, "22924").span[1].level, EV_LEVEL_COMMUNE);

    /* Events at a date: the unit must be in force then. */
    refs(m, mk_review("22936", D_2026),
         "unit: 22936 is not in force on 2026-01-01: merged into 22924 on "
         "2025-07-01");
    refs(m, mk_review("22936", E),
         "unit: 22936 is not in force on 2025-07-01: merged into 22924 on "
         "2025-07-01");
    refs(m, mk_review("22936", E - 1), NULL); /* 2025-06-30 23:59:59 */
    refs(m, mk_review("22936", D_2024), NULL);
    refs(m, mk_review("22924", D_2024), NULL);
    refs(m, mk_review("22924", E), NULL);
    refs(m, mk_review("22924", D_2026), NULL);
    refs(m, mk_review("593", D_2026),
         "unit: 593 is not in force on 2026-01-01: abolished on 2025-07-01");
    refs(m, mk_review("60", D_2026),
         "unit: 60 is not in force on 2026-01-01: merged into 68 on "
         "2025-07-01");
    refs(m, mk_review("68", D_2026), NULL);
    refs(m, mk_review("22999", D_2026), "unit: 22999 is not defined");
    refs(m, mk_relocated("22924", "22921", D_2026),
         "data.from: 22921 is not in force on 2026-01-01: merged into 22924 "
         "on 2025-07-01");
    refs(m, mk_relocated("22921", "22924", D_2026),
         "unit: 22921 is not in force on 2026-01-01: merged into 22924 on "
         "2025-07-01");
    refs(m, mk_relocated("22924", "22921", D_2024), NULL);
    refs(m, mk_exited("22924", D_2026), NULL);
    refs(m, mk_exited("22936", D_2026),
         "unit: 22936 is not in force on 2026-01-01: merged into 22924 on "
         "2025-07-01");
    free(m);
}

/* The order matters: a unit ends only once nothing is left under it. */
static void test_order_matters(void **state)
{
    struct mreg *m = phan_thiet_before();

    (void)state;
    refused(m, mk_one("abolish", E, "593", NULL, NULL, NULL),
            "data.predecessors[0]: 593 still has 22921 under it on "
            "2025-07-01; move or end that unit first");
    refused(m, mk_merge(E, "60,68", "68", NULL, NULL),
            "data.predecessors[0]: 60 still has 593 under it on 2025-07-01; "
            "move or end that unit first");
    /* One commune left behind is enough to refuse. */
    ok(m, mk_merge(E, "22921,22924", "22924", NULL, "68"));
    refused(m, mk_one("abolish", E, "593", NULL, NULL, NULL),
            "data.predecessors[0]: 593 still has 22936 under it on "
            "2025-07-01; move or end that unit first");
    ok(m, mk_one("reparent", E, "22936", NULL, NULL, "68"));
    ok(m, mk_one("abolish", E, "593", NULL, NULL, NULL));
    ok(m, mk_merge(E, "60,68", "68", NULL, NULL));
    span_is(m, "22936", 2, 1, E, MAX, "Thanh Hải", "68", EV_CHANGE_NONE, NULL);
    /* The merge kept 22924's name: only the parent changed. */
    span_is(m, "22924", 2, 1, E, MAX, "Phú Thủy", "68", EV_CHANGE_NONE, NULL);
    free(m);
}

static void test_unit_map(void **state)
{
    struct mreg *m = phan_thiet_after();
    struct ev_str out;

    (void)state;
    map_is(m, "22936", D_2024_12_31, D_2026, "22924");
    map_is(m, "22921", D_2024_12_31, D_2026, "22924");
    map_is(m, "22924", D_2024_12_31, D_2026, "22924");
    /* abolished: to its parent of the day before, which merged into 68 */
    map_is(m, "593", D_2024, D_2026, "68");
    map_is(m, "60", D_2024, D_2026, "68");
    map_is(m, "68", D_2024, D_2026, "68");
    /* before the change, everything stays where it is */
    map_is(m, "22936", D_2024, E - 1, "22936");
    map_is(m, "593", D_2024, D_2024, "593");
    /* at the instant of the change, the successor */
    map_is(m, "22936", D_2024, E, "22924");
    /* t0 after the code ended: its last span */
    map_is(m, "22936", D_2026, D_2026, "22924");
    map_is(m, "593", D_2026, D_2026 + DAY, "68");
    /* no such code, or t1 before t0 */
    map_is(m, "22999", D_2024, D_2026, NULL);
    assert_int_equal(
        ev_unit_map(&m->reg, (struct ev_str){"22936", 5}, D_2026, D_2024, &out),
        POVTRACK_EINVAL);

    /* A province abolished without successor: the trail ends. */
    ok(m, mk_defined("99", "Tỉnh thử", NULL, NO_EFF));
    ok(m, mk_one("abolish", E, "99", NULL, NULL, NULL));
    map_is(m, "99", D_2024, D_2026, NULL);
    map_is(m, "99", D_2024, E - 1, "99");
    /* A code defined only from E: nothing before. */
    ok(m, mk_defined("22950", "Mới", "68", E));
    map_is(m, "22950", D_2024, D_2026, NULL);
    map_is(m, "22950", E, D_2026, "22950");

    /* A registry error is passed on. */
    m->history_rc = POVTRACK_ENOMEM;
    assert_int_equal(
        ev_unit_map(&m->reg, (struct ev_str){"22936", 5}, D_2024, D_2026, &out),
        POVTRACK_ENOMEM);
    free(m);
}

/* ------------------------------------------------------------------------ */
/* Split, rename, reparent                                                  */

static void test_split(void **state)
{
    struct mreg *m = phan_thiet_after();

    (void)state;
    /* Split 22924 (after the merger) into itself and 22940 from 2026:
     * the new part must be defined first. */
    refused(m, mk_one("split", D_2026, "22924", "22924,22940", NULL, NULL),
            "data.successors[1]: 22940 is not defined on 2026-01-01; define "
            "it first with unit.defined and data.effective");
    ok(m, mk_defined("22940", "Phường Mũi Né", "68", D_2026));
    ok(m, mk_one("split", D_2026, "22924", "22924,22940", NULL, NULL));
    /* The part that keeps the code goes on unchanged. */
    span_is(m, "22924", 2, 1, E, MAX, "Phường Phú Thủy", "68", EV_CHANGE_NONE,
            NULL);
    span_is(m, "22940", 1, 0, D_2026, MAX, "Phường Mũi Né", "68",
            EV_CHANGE_NONE, NULL);
    map_is(m, "22924", D_2024, D_2026 + DAY, "22924");
    refs(m, mk_review("22940", D_2024),
         "unit: 22940 is not in force on 2024-06-01 (only from 2026-01-01)");
    refs(m, mk_review("22940", D_2026), NULL);

    /* A split that ends its predecessor: households go to the first
     * successor. */
    ok(m, mk_defined("22941", "Phường A", "68", D_2026 + DAY));
    refused(m,
            mk_one("split", D_2026 + DAY, "22940", "22941,22942", NULL, NULL),
            "data.successors[1]: 22942 is not defined on 2026-01-02; define "
            "it first with unit.defined and data.effective");
    /* defined, but from a later date */
    ok(m, mk_defined("22942", "Phường B", "68", D_2026 + 2 * DAY));
    refused(m,
            mk_one("split", D_2026 + DAY, "22940", "22941,22942", NULL, NULL),
            "data.successors[1]: 22942 is defined only from 2026-01-03");
    ok(m, mk_defined("22943", "Phường C", "68", D_2026 + DAY));
    ok(m, mk_one("split", D_2026 + DAY, "22940", "22943,22941", NULL, NULL));
    span_is(m, "22940", 1, 0, D_2026, D_2026 + DAY, "Phường Mũi Né", "68",
            EV_CHANGE_SPLIT, "22943");
    refs(m, mk_review("22940", D_2026 + 5 * DAY),
         "unit: 22940 is not in force on 2026-01-06: split into 22943 on "
         "2026-01-02");
    map_is(m, "22940", D_2026, D_2026 + 5 * DAY, "22943");

    /* The kept part may itself be redefined from the split's date first:
     * then the predecessor already goes on at E. */
    ok(m, mk_defined("22924", "Phường Phú Thủy (mới)", "68", D_2026 + 3 * DAY));
    ok(m, mk_defined("22944", "Phường D", "68", D_2026 + 3 * DAY));
    ok(m,
       mk_one("split", D_2026 + 3 * DAY, "22924", "22924,22944", NULL, NULL));
    span_is(m, "22924", 3, 1, E, D_2026 + 3 * DAY, "Phường Phú Thủy", "68",
            EV_CHANGE_NONE, NULL);
    span_is(m, "22924", 3, 2, D_2026 + 3 * DAY, MAX, "Phường Phú Thủy (mới)",
            "68", EV_CHANGE_NONE, NULL);
    free(m);
}

static void test_rename_reparent(void **state)
{
    struct mreg *m = phan_thiet_before();

    (void)state;
    ok(m, mk_one("rename", E, "22924", NULL, "Phường Phú Thủy", NULL));
    span_is(m, "22924", 2, 0, MIN, E, "Phú Thủy", "593", EV_CHANGE_NONE, NULL);
    span_is(m, "22924", 2, 1, E, MAX, "Phường Phú Thủy", "593", EV_CHANGE_NONE,
            NULL);
    map_is(m, "22924", D_2024, D_2026, "22924");

    /* Renamed to the name it has: nothing changes. */
    ok(m, mk_one("rename", E, "22921", NULL, "Phú Hài", NULL));
    span_is(m, "22921", 1, 0, MIN, MAX, "Phú Hài", "593", EV_CHANGE_NONE, NULL);

    /* A reparent, with a new name too. */
    ok(m, mk_one("reparent", E, "22936", NULL, "Phường Thanh Hải", "68"));
    span_is(m, "22936", 2, 0, MIN, E, "Thanh Hải", "593", EV_CHANGE_NONE, NULL);
    span_is(m, "22936", 2, 1, E, MAX, "Phường Thanh Hải", "68", EV_CHANGE_NONE,
            NULL);
    /* A second change on the same date renames the span it began. */
    ok(m, mk_one("rename", E, "22936", NULL, "Thanh Hải mới", NULL));
    span_is(m, "22936", 2, 1, E, MAX, "Thanh Hải mới", "68", EV_CHANGE_NONE,
            NULL);
    /* ...but does not move it: a span's parent is not versioned, so readers
     * as of the first change must keep seeing it under 68. */
    refused(m, mk_one("reparent", E, "22936", NULL, NULL, "60"),
            "data.parent: 22936 is defined from 2025-07-01 under another "
            "parent; a unit begun on a date keeps its parent that day "
            "(define it with the parent you want)");

    /* The new parent must be a unit above, in force all the span long. */
    refused(m, mk_one("reparent", D_2026, "22921", NULL, NULL, "99"),
            "data.parent: 99 is not defined");
    refused(m, mk_one("reparent", D_2026, "22921", NULL, NULL, "22924"),
            "data.parent: 22924 is a commune, not above a commune");
    refused(m, mk_one("reparent", D_2026, "593", NULL, NULL, "594"),
            "data.parent: 594 is not defined");
    ok(m, mk_defined("62", "Tỉnh mới", NULL, D_2026));
    refused(m, mk_one("reparent", E, "22921", NULL, NULL, "62"),
            "data.parent: 62 is not in force on 2025-07-01");
    ok(m, mk_defined("63", "Tỉnh cũ", NULL, NO_EFF));
    /* 62 is not in force the day before: a successor, not a predecessor */
    ok(m, mk_merge(D_2026, "63", "62", NULL, NULL));
    refused(m, mk_one("reparent", E, "22921", NULL, NULL, "63"),
            "data.parent: 63 ends on 2026-01-01, before this unit does "
            "(never)");
    refused(m, mk_defined("22960", "x", "63", NO_EFF),
            "data.parent: 63 ends on 2026-01-01, before this unit does "
            "(never)");
    refused(m, mk_defined("22960", "x", "62", NO_EFF),
            "data.parent: 62 is not in force from the beginning");
    refused(m, mk_defined("22960", "x", "63", D_2026),
            "data.parent: 63 is not in force on 2026-01-01");
    ok(m, mk_defined("22960", "x", "62", D_2026));
    free(m);
}

/* A merge into a code not yet defined creates it. */
static void test_merge_creates(void **state)
{
    struct mreg *m = phan_thiet_before();

    (void)state;
    refused(m, mk_merge(E, "22921,22936", "22950", NULL, "68"),
            "data.name: required to create the successor 22950 (not defined "
            "on 2025-07-01)");
    refused(m, mk_merge(E, "22921,22936", "22950", "Mới", NULL),
            "data.parent: required for a commune");
    refused(m, mk_merge(E, "22921,22936", "22950", "Mới", "99"),
            "data.parent: 99 is not defined");
    refused(m, mk_merge(E, "22921,22999", "22950", "Mới", "68"),
            "data.predecessors[1]: 22999 is not defined");
    ok(m, mk_merge(E, "22921,22936", "22950", "Mới", "68"));
    span_is(m, "22950", 1, 0, E, MAX, "Mới", "68", EV_CHANGE_NONE, NULL);
    assert_int_equal(history(m, "22950").span[0].level, EV_LEVEL_COMMUNE);
    span_is(m, "22921", 1, 0, MIN, E, "Phú Hài", "593", EV_CHANGE_MERGE,
            "22950");
    /* A merge into a unit in force absorbs without change.  (22950 is
     * not in force the day before: it cannot be a predecessor at E.) */
    refused(m, mk_merge(E, "22924,22950", "22950", NULL, NULL),
            "data.predecessors[1]: 22950 is not in force on 2025-06-30, the "
            "day before the change");
    ok(m, mk_merge(E, "22924", "22950", NULL, NULL));
    span_is(m, "22950", 1, 0, E, MAX, "Mới", "68", EV_CHANGE_NONE, NULL);
    span_is(m, "22924", 1, 0, MIN, E, "Phú Thủy", "593", EV_CHANGE_MERGE,
            "22950");
    /* Provinces merge into a new province with no parent, once nothing
     * is left under them: 22950 was created under 68 from E. */
    ok(m, mk_defined("61", "Ninh Thuận", NULL, NO_EFF));
    refused(m, mk_merge(E, "61,68", "70", "Tỉnh gộp", NULL),
            "data.predecessors[1]: 68 still has 22950 under it on "
            "2025-07-01; move or end that unit first");
    ok(m, mk_merge(E, "61", "70", "Tỉnh gộp", NULL));
    span_is(m, "70", 1, 0, E, MAX, "Tỉnh gộp", NULL, EV_CHANGE_NONE, NULL);
    span_is(m, "61", 1, 0, MIN, E, "Ninh Thuận", NULL, EV_CHANGE_MERGE, "70");
    free(m);
}

/* ------------------------------------------------------------------------ */
/* Date order, closed codes, limits                                         */

static void test_date_order(void **state)
{
    struct mreg *m = phan_thiet_after();

    (void)state;
    refused(m, mk_one("rename", D_2025_03, "22921", NULL, "x", NULL),
            "data.predecessors[0]: 22921 already changed on 2025-07-01; "
            "record changes in date order");
    refused(m, mk_one("rename", D_2025_03, "22924", NULL, "x", NULL),
            "data.predecessors[0]: 22924 already changed on 2025-07-01; "
            "record changes in date order");
    refused(m, mk_one("reparent", D_2025_03, "593", NULL, NULL, "68"),
            "data.predecessors[0]: 593 already changed on 2025-07-01; "
            "record changes in date order");
    refused(m, mk_one("rename", D_2026, "22921", NULL, "x", NULL),
            "data.predecessors[0]: 22921 is not in force on 2025-12-31, the "
            "day before the change");
    refused(m, mk_defined("22924", "x", "68", D_2025_03),
            "data.effective: 22924 already has a definition from 2025-07-01; "
            "record changes in date order");
    /* A merge into a successor whose span in force ends later. */
    ok(m, mk_defined("22970", "x", "68", NO_EFF));
    refused(m, mk_defined("22971", "y", "593", NO_EFF),
            "data.parent: 593 ends on 2025-07-01, before this unit does "
            "(never)");
    ok(m, mk_defined("22971", "y", "68", NO_EFF));
    refused(m, mk_merge(D_2025_03, "22971", "22924", "z", NULL),
            "data.successor: 22924 already changed on 2025-07-01; record "
            "changes in date order");
    /* At the same date: the span E began may be renamed, not moved. */
    ok(m, mk_defined("22924", "Phú Thủy 2", "68", E));
    span_is(m, "22924", 2, 1, E, MAX, "Phú Thủy 2", "68", EV_CHANGE_NONE, NULL);
    refused(m, mk_defined("22924", "x", "22", E),
            "unit: 22924 is already defined from 2025-07-01 with parent 68; "
            "to move it, give a later data.effective or send a unit.changed "
            "reparent");
    /* A code defined only from a date needs data.effective. */
    ok(m, mk_defined("22980", "x", "68", E));
    refused(m, mk_defined("22980", "x", "68", NO_EFF),
            "data.effective: required, as 22980 is defined only from "
            "2025-07-01");
    free(m);
}

/* Decision 124/2004: a closed code is not reassigned. */
static void test_closed_code(void **state)
{
    struct mreg *m = phan_thiet_after();

    (void)state;
    refused(m, mk_defined("22921", "x", "68", D_2026),
            "data.effective: 22921 ended on 2025-07-01; a code that ended is "
            "not used again");
    refused(m, mk_defined("593", "x", "68", D_2026),
            "data.effective: 593 ended on 2025-07-01; a code that ended is "
            "not used again");
    refused(m, mk_merge(D_2026, "22924", "22921", "x", "68"),
            "data.successor: 22921 ended on 2025-07-01; a code that ended is "
            "not used again");
    ok(m, mk_defined("22990", "x", "68", D_2026 + DAY));
    refused(m,
            mk_one("split", D_2026 + DAY, "22924", "22990,22936", NULL, NULL),
            "data.successors[1]: 22936 ended on 2025-07-01; a code that "
            "ended is not used again");
    /* Its first span may still be renamed, never moved. */
    refused(m, mk_defined("22921", "x", "68", NO_EFF),
            "unit: 22921 is already defined from the beginning with parent "
            "593; to move it, give a later data.effective or send a "
            "unit.changed reparent");
    ok(m, mk_defined("22921", "Phú Hài (cũ)", "593", NO_EFF));
    span_is(m, "22921", 1, 0, MIN, E, "Phú Hài (cũ)", "593", EV_CHANGE_MERGE,
            "22924");
    free(m);
}

static void test_spans_max(void **state)
{
    struct mreg *m = phan_thiet_after();
    char name[16];
    int64_t t = E;

    (void)state;
    /* 22924 has 2 spans; six renames fill it up. */
    for (int i = 0; i < EV_SPANS_MAX - 2; i++) {
        t += DAY;
        snprintf(name, sizeof name, "tên %d", i);
        ok(m, mk_one("rename", t, "22924", NULL, name, NULL));
    }
    span_is(m, "22924", EV_SPANS_MAX, EV_SPANS_MAX - 1, t, MAX, "tên 5", "68",
            EV_CHANGE_NONE, NULL);
    refused(m, mk_one("rename", t + DAY, "22924", NULL, "one more", NULL),
            "unit: 22924 has changed 7 times already, the most one code can");
    refused(m, mk_defined("22924", "one more", "68", t + DAY),
            "unit: 22924 has changed 7 times already, the most one code can");
    /* Ending needs no new span, and a same-day rename still works. */
    ok(m, mk_one("rename", t, "22924", NULL, "tên cuối", NULL));
    ok(m, mk_merge(t + DAY, "22924", "22970", "x", "68"));
    span_is(m, "22924", EV_SPANS_MAX, EV_SPANS_MAX - 1, t, t + DAY, "tên cuối",
            "68", EV_CHANGE_MERGE, "22970");
    free(m);
}

/* Abolish: children first, never with them; households go up. */
/* The country, 00: level central, no parent; a province sits under it or
 * under nothing, nothing else sits under it; it rolls its provinces up. */
static void test_country(void **state)
{
    struct mreg *m = reg_new();

    (void)state;
    ok(m, mk_defined("00", "Việt Nam", NULL, NO_EFF));
    ok(m, mk_defined("60", "Bình Thuận", "00", NO_EFF));
    ok(m, mk_defined("68", "Lâm Đồng", NULL, NO_EFF));
    refused(m, mk_defined("61", "x", "60", NO_EFF),
            "data.parent: a province's parent is none or the country (00)");
    refused(m, mk_defined("594", "x", "00", NO_EFF),
            "data.parent: 00 is a central, not above a district");
    refused(m, mk_defined("22918", "x", "00", NO_EFF),
            "data.parent: 00 is a central, not above a commune");
    ok(m, mk_defined("593", "Phan Thiết", "60", NO_EFF));
    ok(m, mk_defined("22921", "Phú Hài", "593", NO_EFF));
    map_is(m, "22921", D_2024, D_2024, "22921");
    free(m);
}

static void test_abolish(void **state)
{
    struct mreg *m = phan_thiet_before();

    (void)state;
    /* A province has no parent to move to. */
    refused(m, mk_one("reparent", E, "60", NULL, NULL, "68"),
            "data.parent: a province's parent is none or the country (00)");
    /* A unit and what is under it cannot end in one event, in either
     * order: the registry still sees the children as they were. */
    refused(m, mk_one("abolish", E, "593,22921,22924,22936", NULL, NULL, NULL),
            "data.predecessors[0]: 593 still has 22921 under it on "
            "2025-07-01; move or end that unit first");
    refused(m, mk_one("abolish", E, "22921,22924,22936,593", NULL, NULL, NULL),
            "data.predecessors[3]: 593 still has 22921 under it on "
            "2025-07-01; move or end that unit first");
    /* An abolished commune's households go to its district, then on. */
    ok(m, mk_one("abolish", E, "22921", NULL, NULL, NULL));
    span_is(m, "22921", 1, 0, MIN, E, "Phú Hài", "593", EV_CHANGE_ABOLISH,
            NULL);
    map_is(m, "22921", D_2024, D_2026, "593");
    refs(m, mk_review("22921", D_2026),
         "unit: 22921 is not in force on 2026-01-01: abolished on 2025-07-01");
    ok(m, mk_one("abolish", D_2026, "22924,22936", NULL, NULL, NULL));
    ok(m, mk_one("abolish", D_2026, "593", NULL, NULL, NULL));
    map_is(m, "22921", D_2024, D_2026 - 1, "593");
    map_is(m, "22921", D_2024, D_2026, "60");
    map_is(m, "22936", D_2024, D_2026, "60");
    free(m);
}

/* ------------------------------------------------------------------------ */
/* Histories by hand                                                        */

static struct ev_history two_spans(void)
{
    struct ev_history h;

    memset(&h, 0, sizeof h);
    h.code = (struct ev_str){"22924", 5};
    h.n = 2;
    h.span[0] = (struct ev_span){.from = MIN,
                                 .to = E,
                                 .name = {"a", 1},
                                 .parent = {"593", 3},
                                 .level = EV_LEVEL_COMMUNE,
                                 .ended_by = EV_CHANGE_MERGE,
                                 .successor = {"22950", 5},
                                 .since_seq = 3,
                                 .closed_seq = 8};
    h.span[1] = (struct ev_span){.from = E,
                                 .to = D_2026,
                                 .name = {"b", 1},
                                 .parent = {"68", 2},
                                 .level = EV_LEVEL_COMMUNE,
                                 .since_seq = 8,
                                 .closed_seq = 12};
    return h;
}

static void test_history_find_latest(void **state)
{
    struct ev_history h = two_spans(), empty;

    (void)state;
    memset(&empty, 0, sizeof empty);
    assert_int_equal(ev_history_find(&empty, 0), -1);
    assert_int_equal(ev_history_latest(&empty, MAX), -1);

    assert_int_equal(ev_history_find(&h, MIN), 0);
    assert_int_equal(ev_history_find(&h, E - 1), 0);
    assert_int_equal(ev_history_find(&h, E), 1); /* from is inclusive */
    assert_int_equal(ev_history_find(&h, D_2026 - 1), 1);
    assert_int_equal(ev_history_find(&h, D_2026), -1); /* to is not */
    assert_int_equal(ev_history_find(&h, MAX), -1);
    assert_int_equal(ev_history_latest(&h, MIN), 0);
    assert_int_equal(ev_history_latest(&h, E - 1), 0);
    assert_int_equal(ev_history_latest(&h, E), 1);
    assert_int_equal(ev_history_latest(&h, MAX), 1);

    /* A history that starts late, with a gap. */
    h.span[0].from = D_2024;
    h.span[0].to = D_2025_03;
    assert_int_equal(ev_history_find(&h, D_2024 - 1), -1);
    assert_int_equal(ev_history_latest(&h, D_2024 - 1), -1);
    assert_int_equal(ev_history_find(&h, D_2025_03), -1);
    assert_int_equal(ev_history_latest(&h, D_2025_03), 0);

    /* A span open at both ends holds at both ends of time but MAX. */
    h.n = 1;
    h.span[0].from = MIN;
    h.span[0].to = MAX;
    assert_int_equal(ev_history_find(&h, MIN), 0);
    assert_int_equal(ev_history_find(&h, MAX - 1), 0);
    assert_int_equal(ev_history_find(&h, MAX), -1);
}

static void test_history_as_of(void **state)
{
    struct ev_history h;

    (void)state;
    /* After everything: unchanged. */
    h = two_spans();
    ev_history_as_of(&h, 12);
    assert_int_equal(h.n, 2);
    assert_true(h.span[1].to == D_2026);
    assert_int_equal(h.span[1].closed_seq, 12);

    /* Before the second span's end was recorded: open again. */
    h = two_spans();
    ev_history_as_of(&h, 11);
    assert_int_equal(h.n, 2);
    assert_true(h.span[0].to == E);
    assert_true(h.span[1].to == MAX);
    assert_int_equal(h.span[1].closed_seq, 0);
    assert_int_equal(h.span[1].since_seq, 8);

    /* Exactly at the record that changed it: as changed. */
    h = two_spans();
    ev_history_as_of(&h, 8);
    assert_int_equal(h.n, 2);
    assert_true(h.span[0].to == E);
    assert_int_equal(h.span[0].ended_by, EV_CHANGE_MERGE);
    assert_str(h.span[0].successor, "22950", "successor");

    /* Before it: the second span dropped, the first open, its end undone. */
    h = two_spans();
    ev_history_as_of(&h, 7);
    assert_int_equal(h.n, 1);
    assert_true(h.span[0].from == MIN);
    assert_true(h.span[0].to == MAX);
    assert_int_equal(h.span[0].ended_by, EV_CHANGE_NONE);
    assert_null(h.span[0].successor.ptr);
    assert_int_equal(h.span[0].closed_seq, 0);
    assert_int_equal(h.span[0].since_seq, 3);
    assert_str(h.span[0].name, "a", "name");
    assert_str(h.span[0].parent, "593", "parent");

    /* Before the code was defined: nothing. */
    h = two_spans();
    ev_history_as_of(&h, 2);
    assert_int_equal(h.n, 0);
    h = two_spans();
    ev_history_as_of(&h, 0);
    assert_int_equal(h.n, 0);

    /* A span of an old log (since 0) is there from the start. */
    h = two_spans();
    h.span[0].since_seq = 0;
    ev_history_as_of(&h, 0);
    assert_int_equal(h.n, 1);
    assert_true(h.span[0].to == MAX);

    /* Spans begun later go even from the middle of a history. */
    h = two_spans();
    h.n = 3;
    h.span[2] = h.span[1];
    h.span[1].to = E + DAY;
    h.span[1].since_seq = 20; /* as_of reads only the seqs */
    h.span[2].from = E + DAY;
    ev_history_as_of(&h, 12);
    assert_int_equal(h.n, 2);
    assert_int_equal(h.span[1].since_seq, 8);
}

/* ------------------------------------------------------------------------ */
/* Errors and odds                                                          */

static void test_registry_errors(void **state)
{
    struct mreg *m = phan_thiet_before();
    struct ev_unit_update *u = malloc(sizeof *u);
    struct ev_error err;
    struct tev *t;

    (void)state;
    assert_non_null(u);
    m->history_rc = POVTRACK_ENOMEM;
    t = mk_one("rename", E, "22924", NULL, "x", NULL);
    assert_int_equal(ev_unit_update(&t->ev, &m->reg, u, &err), POVTRACK_ENOMEM);
    assert_string_equal(err.msg, "data.predecessors[0]: unit registry lookup "
                                 "failed: Cannot allocate memory");
    assert_int_equal(ev_check_refs(&t->ev, &m->reg, &err), POVTRACK_ENOMEM);
    tev_free(t);
    t = mk_review("22924", D_2024);
    assert_int_equal(ev_check_refs(&t->ev, &m->reg, &err), POVTRACK_ENOMEM);
    assert_string_equal(err.msg, "unit: unit registry lookup failed: Cannot "
                                 "allocate memory");
    tev_free(t);

    m->history_rc = 0;
    m->child_rc = POVTRACK_EIO;
    /* A district: communes have nothing under them, and no scan. */
    t = mk_one("abolish", E, "593", NULL, NULL, NULL);
    assert_int_equal(ev_unit_update(&t->ev, &m->reg, u, &err), POVTRACK_EIO);
    assert_string_equal(err.msg, "data.predecessors[0]: unit registry scan "
                                 "failed: Input/output error");
    tev_free(t);

    /* Only unit events change units. */
    m->child_rc = 0;
    t = mk_review("22924", D_2024);
    assert_int_equal(ev_unit_update(&t->ev, &m->reg, u, &err),
                     POVTRACK_EINVALID);
    assert_string_equal(err.msg, "type: review.closed does not change units");
    assert_int_equal(ev_unit_update(NULL, &m->reg, u, &err), POVTRACK_EINVALID);
    assert_int_equal(ev_unit_update(&t->ev, NULL, u, &err), POVTRACK_EINVALID);
    assert_int_equal(ev_unit_update(&t->ev, &m->reg, NULL, &err),
                     POVTRACK_EINVALID);
    tev_free(t);
    free(u);
    free(m);
}

static void test_fmt_date(void **state)
{
    char buf[EV_DATE_LEN];

    (void)state;
    assert_string_equal(ev_fmt_date(MIN, buf), "the beginning");
    assert_string_equal(ev_fmt_date(MAX, buf), "never");
    assert_string_equal(ev_fmt_date(E, buf), "2025-07-01");
    assert_string_equal(ev_fmt_date(E - 1, buf), "2025-06-30");
    assert_string_equal(ev_fmt_date(0, buf), "1970-01-01");
    assert_string_equal(ev_fmt_date(D_2026 - 1, buf), "2025-12-31");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_phan_thiet),
        cmocka_unit_test(test_order_matters),
        cmocka_unit_test(test_unit_map),
        cmocka_unit_test(test_split),
        cmocka_unit_test(test_rename_reparent),
        cmocka_unit_test(test_merge_creates),
        cmocka_unit_test(test_date_order),
        cmocka_unit_test(test_closed_code),
        cmocka_unit_test(test_spans_max),
        cmocka_unit_test(test_country),
        cmocka_unit_test(test_abolish),
        cmocka_unit_test(test_history_find_latest),
        cmocka_unit_test(test_history_as_of),
        cmocka_unit_test(test_registry_errors),
        cmocka_unit_test(test_fmt_date),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
