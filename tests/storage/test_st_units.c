/*
 * test_st_units.c - unit histories in the log (st_log.h, "units" and
 * "unitseq"): what unit.defined and unit.changed leave behind, the seqs
 * stamped on spans, the registry versions, the registry as of a record,
 * logs written before histories, and refused changes.
 *
 * Events are built by tests/events/ev_builders.h (packed with msgpack-c
 * and decoded by ev_decode), and appended with the reference checks ingest
 * runs (ev_check_refs on st_view_registry, as tests/plugins/fixture.c
 * does).  Every test runs in a fresh mkdtemp directory (harness.h), removed
 * afterwards.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <lmdb.h>
#include <msgpack.h>

#include "ev_builders.h"
#include "ev_unit.h"
#include "harness.h"
#include "st_log.h"

#define RECEIVED INT64_C(1751302800000000)
/* Local (UTC+7) midnights. */
#define E TEV_AT                   /* 2025-07-01 */
#define D_2024 INT64_C(1717174800) /* 2024-06-01 */
#define D_2026 INT64_C(1767200400) /* 2026-01-01 */
#define NO_EFF TEV_NO_EFF
#define MIN EV_TIME_MIN
#define MAX EV_TIME_MAX

/* ---- events (ev_builders.h) ---- */

/* unit.defined with id "def-<code>[-<effective>]". */
static struct tev *mk_defined(const char *code, const char *name,
                              const char *parent, int64_t effective)
{
    char id[64];

    if (effective == NO_EFF)
        snprintf(id, sizeof id, "def-%s", code);
    else
        snprintf(id, sizeof id, "def-%s-%lld", code, (long long)effective);
    return tev_defined(id, code, name, parent, effective);
}

/* ---- appending ---- */

#define BATCH_MAX 16

/* Append t[0..n) in one batch, then free them; items get the results. */
static void batch(struct st_log *log, st_check_fn check, struct tev **t,
                  size_t n, struct st_item *items)
{
    assert_true(n <= BATCH_MAX);
    for (size_t i = 0; i < n; i++)
        sth_item(&items[i], &t[i]->ev, t[i]->sb.data, t[i]->sb.size, "test");
    assert_int_equal(st_log_append_batch(log, RECEIVED, items, n, check, NULL),
                     0);
    for (size_t i = 0; i < n; i++)
        tev_free(t[i]);
}

/* Append t[0..n) with the checks; every item must be stored, at seqs
 * first, first + 1, ... */
static void append_ok(struct st_log *log, uint64_t first, struct tev **t,
                      size_t n)
{
    struct st_item items[BATCH_MAX];

    batch(log, st_check_refs, t, n, items);
    sth_assert_stored(items, n, first);
}

/* ---- reading ---- */

struct want {
    int64_t from, to;
    const char *name; /* NULL: not checked */
    const char *parent;
    enum ev_change ended_by;
    const char *successor;
    uint64_t since_seq, closed_seq;
};

/* code's history in a registry is exactly want[0..n). */
static void history_is(const struct ev_registry *reg, const char *code,
                       const struct want *want, uint32_t n)
{
    struct ev_history h;
    char what[64];
    int rc;

    memset(&h, 0, sizeof h);
    rc = reg->history(reg->arg, sth_str(code), &h);
    if (rc != POVTRACK_OK)
        fail_msg("%s: history rc %d", code, rc);
    assert_str(h.code, code, "code");
    if (h.n != n)
        fail_msg("%s: %u spans, want %u", code, h.n, n);
    for (uint32_t i = 0; i < n; i++) {
        const struct ev_span *s = &h.span[i];
        const struct want *w = &want[i];
        if (s->from != w->from || s->to != w->to)
            fail_msg("%s span %u: [%lld, %lld), want [%lld, %lld)", code, i,
                     (long long)s->from, (long long)s->to, (long long)w->from,
                     (long long)w->to);
        snprintf(what, sizeof what, "%s span %u name", code, i);
        if (w->name != NULL)
            assert_str(s->name, w->name, what);
        snprintf(what, sizeof what, "%s span %u parent", code, i);
        assert_str(s->parent, w->parent, what);
        snprintf(what, sizeof what, "%s span %u successor", code, i);
        assert_str(s->successor, w->successor, what);
        if (s->ended_by != w->ended_by || s->since_seq != w->since_seq ||
            s->closed_seq != w->closed_seq)
            fail_msg("%s span %u: ended_by %d seqs %llu/%llu, want %d "
                     "%llu/%llu",
                     code, i, s->ended_by, (unsigned long long)s->since_seq,
                     (unsigned long long)s->closed_seq, w->ended_by,
                     (unsigned long long)w->since_seq,
                     (unsigned long long)w->closed_seq);
    }
}

/* The reader's whole registry (as_of UINT64_MAX). */
static void reader_history_is(struct st_reader *r, const char *code,
                              const struct want *want, uint32_t n)
{
    struct st_registry sr;

    st_reader_registry(r, UINT64_MAX, &sr);
    history_is(&sr.reg, code, want, n);
    /* st_reader_history says the same. */
    struct ev_history h;
    assert_int_equal(st_reader_history(r, sth_str(code), &h), 0);
    assert_int_equal(h.n, n);
}

static void units_seq_is(struct st_reader *r, uint64_t seq, uint64_t version,
                         uint64_t next)
{
    uint64_t v = 12345, nx = 12345;

    assert_int_equal(st_reader_units_seq(r, seq, &v, &nx), 0);
    if (v != version || nx != next)
        fail_msg("units_seq(%llu): version %llu next %llu, want %llu %llu",
                 (unsigned long long)seq, (unsigned long long)v,
                 (unsigned long long)nx, (unsigned long long)version,
                 (unsigned long long)next);
}

/* ev_check_refs of a review.closed at "at" against reg: NULL msg for OK. */
static void refs_are(const struct ev_registry *reg, const char *unit,
                     int64_t at, const char *msg)
{
    struct tev *t = tev_review("r", unit, at);
    struct ev_error err = {0};
    int rc = ev_check_refs(&t->ev, reg, &err);

    if (msg == NULL && rc != POVTRACK_OK)
        fail_msg("%s refused: rc %d %s", unit, rc, err.msg);
    if (msg != NULL && (rc != POVTRACK_EINVALID || strcmp(err.msg, msg) != 0))
        fail_msg("%s: rc %d \"%s\", want \"%s\"", unit, rc, err.msg, msg);
    tev_free(t);
}

static void map_is(const struct ev_registry *reg, const char *code, int64_t t0,
                   int64_t t1, const char *want)
{
    struct ev_str out = {NULL, 0};
    int rc = ev_unit_map(reg, sth_str(code), t0, t1, &out);

    if (want == NULL) {
        assert_int_equal(rc, POVTRACK_ENOTFOUND);
        return;
    }
    if (rc != POVTRACK_OK)
        fail_msg("map %s: rc %d, want %s", code, rc, want);
    assert_str(out, want, code);
}

/* ---- the Phan Thiet base: seqs 1..6 ---- */

static void append_base(struct st_log *log)
{
    struct tev *t[] = {
        mk_defined("60", "Bình Thuận", NULL, NO_EFF),
        mk_defined("68", "Lâm Đồng", NULL, NO_EFF),
        mk_defined("593", "Phan Thiết", "60", NO_EFF),
        mk_defined("22921", "Phú Hài", "593", NO_EFF),
        mk_defined("22924", "Phú Thủy", "593", NO_EFF),
        mk_defined("22936", "Thanh Hải", "593", NO_EFF),
    };
    append_ok(log, 1, t, 6);
}

static struct tev *merge_communes(const char *id)
{
    return tev_changed(id, "merge", "22924", E, "22921,22924,22936", "22924",
                       NULL, "Phường Phú Thủy", "68");
}

static struct tev *abolish_593(const char *id)
{
    return tev_changed(id, "abolish", "593", E, "593", NULL, NULL, NULL, NULL);
}

static struct tev *merge_provinces(const char *id)
{
    return tev_changed(id, "merge", "68", E, "60,68", "68", NULL, NULL, NULL);
}

/* ---- tests ---- */

struct codes_seen {
    char codes[16][8];
    int n;
};

static int visit_history(void *arg, const struct ev_history *h)
{
    struct codes_seen *c = arg;

    assert_true(c->n < 16);
    snprintf(c->codes[c->n++], 8, "%.*s", (int)h->code.len, h->code.ptr);
    return 0;
}

static void test_phan_thiet_stamps(void **state)
{
    struct fx *f = *state;
    struct st_log *log = sth_open(f->dir, 0, 0);
    struct st_reader *r;
    struct st_registry sr;
    struct ev_unit u;
    struct ev_str child;

    append_base(log);
    {
        struct tev *t[] = {tev_review("rv-1", "22936", D_2024)};
        append_ok(log, 7, t, 1);
    }
    {
        struct tev *t[] = {merge_communes("chg-1"), abolish_593("chg-2")};
        append_ok(log, 8, t, 2);
    }
    {
        struct tev *t[] = {tev_review("rv-2", "22924", D_2026),
                           merge_provinces("chg-3")};
        append_ok(log, 10, t, 2);
    }

    assert_int_equal(st_reader_begin(log, &r), 0);
    {
        const struct want w60[] = {
            {MIN, E, "Bình Thuận", NULL, EV_CHANGE_MERGE, "68", 1, 11}};
        const struct want w68[] = {
            {MIN, MAX, "Lâm Đồng", NULL, EV_CHANGE_NONE, NULL, 2, 0}};
        const struct want w593[] = {
            {MIN, E, "Phan Thiết", "60", EV_CHANGE_ABOLISH, NULL, 3, 9}};
        const struct want w22921[] = {
            {MIN, E, "Phú Hài", "593", EV_CHANGE_MERGE, "22924", 4, 8}};
        const struct want w22924[] = {
            {MIN, E, "Phú Thủy", "593", EV_CHANGE_NONE, NULL, 5, 8},
            {E, MAX, "Phường Phú Thủy", "68", EV_CHANGE_NONE, NULL, 8, 0}};
        const struct want w22936[] = {
            {MIN, E, "Thanh Hải", "593", EV_CHANGE_MERGE, "22924", 6, 8}};
        reader_history_is(r, "60", w60, 1);
        reader_history_is(r, "68", w68, 1);
        reader_history_is(r, "593", w593, 1);
        reader_history_is(r, "22921", w22921, 1);
        reader_history_is(r, "22924", w22924, 2);
        reader_history_is(r, "22936", w22936, 1);
    }
    /* The latest span, for the plugin ABI. */
    assert_int_equal(st_reader_unit(r, sth_str("22924"), &u), 0);
    assert_str(u.name, "Phường Phú Thủy", "unit name");
    assert_str(u.parent, "68", "unit parent");
    assert_int_equal(u.level, EV_LEVEL_COMMUNE);
    assert_int_equal(st_reader_unit(r, sth_str("22999"), &u),
                     POVTRACK_ENOTFOUND);

    /* Versions: records 1-6, 8, 9 and 11 changed units. */
    units_seq_is(r, 0, 0, 1);
    units_seq_is(r, 1, 1, 2);
    units_seq_is(r, 5, 5, 6);
    units_seq_is(r, 6, 6, 8);
    units_seq_is(r, 7, 6, 8);
    units_seq_is(r, 8, 8, 9);
    units_seq_is(r, 9, 9, 11);
    units_seq_is(r, 10, 9, 11);
    units_seq_is(r, 11, 11, UINT64_MAX);
    units_seq_is(r, 12, 11, UINT64_MAX);
    units_seq_is(r, UINT64_MAX, 11, UINT64_MAX);
    {
        uint64_t v;
        assert_int_equal(st_reader_units_seq(r, 1, &v, NULL), POVTRACK_EINVAL);
    }

    /* The registry as of record 7: the old hierarchy. */
    st_reader_registry(r, 7, &sr);
    {
        const struct want w22924[] = {
            {MIN, MAX, "Phú Thủy", "593", EV_CHANGE_NONE, NULL, 5, 0}};
        const struct want w593[] = {
            {MIN, MAX, "Phan Thiết", "60", EV_CHANGE_NONE, NULL, 3, 0}};
        history_is(&sr.reg, "22924", w22924, 1);
        history_is(&sr.reg, "593", w593, 1);
    }
    refs_are(&sr.reg, "22936", D_2026, NULL);
    refs_are(&sr.reg, "593", D_2026, NULL);
    map_is(&sr.reg, "22936", D_2024, D_2026, "22936");
    map_is(&sr.reg, "593", D_2024, D_2026, "593");

    /* As of record 8: the communes merged, 593 and 60 not yet ended. */
    st_reader_registry(r, 8, &sr);
    refs_are(&sr.reg, "22936", D_2026,
             "unit: 22936 is not in force on 2026-01-01: merged into 22924 on "
             "2025-07-01");
    refs_are(&sr.reg, "593", D_2026, NULL);
    map_is(&sr.reg, "22936", D_2024, D_2026, "22924");
    /* As of record 10: 593 abolished, its ground still 60's. */
    st_reader_registry(r, 10, &sr);
    refs_are(&sr.reg, "593", D_2026,
             "unit: 593 is not in force on 2026-01-01: abolished on "
             "2025-07-01");
    map_is(&sr.reg, "593", D_2024, D_2026, "60");
    /* All of it. */
    st_reader_registry(r, UINT64_MAX, &sr);
    map_is(&sr.reg, "593", D_2024, D_2026, "68");
    map_is(&sr.reg, "60", D_2024, D_2026, "68");
    refs_are(&sr.reg, "60", D_2026,
             "unit: 60 is not in force on 2026-01-01: merged into 68 on "
             "2025-07-01");
    /* Before the first record, nothing was defined. */
    st_reader_registry(r, 0, &sr);
    refs_are(&sr.reg, "60", D_2024, "unit: 60 is not defined");

    /* Children after a date. */
    assert_int_equal(st_reader_child_after(r, sth_str("593"), E - 1, &child),
                     0);
    assert_true(child.len == 5);
    assert_int_equal(st_reader_child_after(r, sth_str("593"), E, &child),
                     POVTRACK_ENOTFOUND);
    assert_int_equal(st_reader_child_after(r, sth_str("68"), E, &child), 0);
    assert_str(child, "22924", "child of 68");
    assert_int_equal(st_reader_child_after(r, sth_str("60"), E, &child),
                     POVTRACK_ENOTFOUND);

    /* Every history, in code order. */
    {
        struct codes_seen c = {.n = 0};
        static const char *const want[] = {"22921", "22924", "22936",
                                           "593",   "60",    "68"};
        assert_int_equal(st_reader_histories(r, visit_history, &c), 0);
        assert_int_equal(c.n, 6);
        for (int i = 0; i < 6; i++)
            assert_string_equal(c.codes[i], want[i]);
    }
    st_reader_end(r);
    st_log_close(log);

    /* The same after reopening, read-only. */
    log = sth_open(f->dir, ST_OPEN_READONLY, 0);
    assert_int_equal(st_reader_begin(log, &r), 0);
    units_seq_is(r, 10, 9, 11);
    {
        const struct want w22924[] = {
            {MIN, E, "Phú Thủy", "593", EV_CHANGE_NONE, NULL, 5, 8},
            {E, MAX, "Phường Phú Thủy", "68", EV_CHANGE_NONE, NULL, 8, 0}};
        reader_history_is(r, "22924", w22924, 2);
    }
    st_reader_end(r);
    st_log_close(log);
}

/* A refused unit.changed stores nothing; the rest of its batch goes in. */
static void test_refused_change(void **state)
{
    struct fx *f = *state;
    struct st_log *log = sth_open(f->dir, 0, 0);
    struct st_item items[BATCH_MAX];
    struct st_reader *r;
    uint64_t seq;
    const char *msg = "data.predecessors[0]: 593 still has 22921 under it on "
                      "2025-07-01; move or end that unit first";
    const struct want w593[] = {
        {MIN, MAX, "Phan Thiết", "60", EV_CHANGE_NONE, NULL, 3, 0}};

    append_base(log);
    {
        struct tev *t[] = {tev_review("rv-1", "22924", D_2024),
                           abolish_593("abolish-593"),
                           tev_review("rv-2", "22936", D_2024)};
        batch(log, st_check_refs, t, 3, items);
    }
    assert_int_equal(items[0].status, ST_ITEM_OK);
    assert_int_equal(items[0].seq, 7);
    assert_int_equal(items[1].status, ST_ITEM_REJECTED);
    assert_string_equal(items[1].error, msg);
    assert_int_equal(items[2].status, ST_ITEM_OK);
    assert_int_equal(items[2].seq, 8);

    /* Without a check(), the log's own rules refuse it the same way. */
    {
        struct tev *t[] = {tev_review("rv-3", "22924", D_2024),
                           abolish_593("abolish-593"),
                           tev_review("rv-4", "22936", D_2024)};
        batch(log, NULL, t, 3, items);
    }
    assert_int_equal(items[0].status, ST_ITEM_OK);
    assert_int_equal(items[0].seq, 9);
    assert_int_equal(items[1].status, ST_ITEM_REJECTED);
    assert_string_equal(items[1].error, msg);
    assert_int_equal(items[2].status, ST_ITEM_OK);
    assert_int_equal(items[2].seq, 10);

    assert_int_equal(st_reader_begin(log, &r), 0);
    assert_int_equal(st_reader_last_seq(r, &seq), 0);
    assert_int_equal(seq, 10);
    assert_int_equal(st_reader_find_id(r, sth_str("abolish-593"), &seq),
                     POVTRACK_ENOTFOUND);
    units_seq_is(r, 10, 6, UINT64_MAX);
    reader_history_is(r, "593", w593, 1);
    st_reader_end(r);

    /* A unit.changed refused between unit events: those before and after
     * it are stored and versioned. */
    {
        struct tev *t[] = {
            tev_changed("chg-a", "rename", "68", D_2026, "68", NULL, NULL,
                        "Lâm Đồng (mới)", NULL),
            tev_changed("chg-b", "split", "22936", E, "22936", NULL,
                        "22936,22940", NULL, NULL),
            mk_defined("22940", "Mới", "68", E),
        };
        batch(log, st_check_refs, t, 3, items);
    }
    assert_int_equal(items[0].status, ST_ITEM_OK);
    assert_int_equal(items[0].seq, 11);
    assert_int_equal(items[1].status, ST_ITEM_REJECTED);
    assert_string_equal(items[1].error,
                        "data.successors[1]: 22940 is not defined on "
                        "2025-07-01; define it first with unit.defined and "
                        "data.effective");
    assert_int_equal(items[2].status, ST_ITEM_OK);
    assert_int_equal(items[2].seq, 12);
    assert_int_equal(st_reader_begin(log, &r), 0);
    units_seq_is(r, 10, 6, 11);
    units_seq_is(r, 11, 11, 12);
    units_seq_is(r, 12, 12, UINT64_MAX);
    assert_int_equal(st_reader_find_id(r, sth_str("chg-b"), &seq),
                     POVTRACK_ENOTFOUND);
    {
        const struct want w22936[] = {
            {MIN, MAX, "Thanh Hải", "593", EV_CHANGE_NONE, NULL, 6, 0}};
        reader_history_is(r, "22936", w22936, 1);
    }
    st_reader_end(r);

    /* In the right order, in one batch; the refused id is free again. */
    {
        struct tev *t[] = {merge_communes("chg-1"), abolish_593("abolish-593")};
        append_ok(log, 13, t, 2);
    }
    assert_int_equal(st_reader_begin(log, &r), 0);
    {
        const struct want w593b[] = {
            {MIN, E, "Phan Thiết", "60", EV_CHANGE_ABOLISH, NULL, 3, 14}};
        reader_history_is(r, "593", w593b, 1);
    }
    assert_int_equal(st_reader_find_id(r, sth_str("abolish-593"), &seq), 0);
    assert_int_equal(seq, 14);
    units_seq_is(r, 13, 13, 14);
    st_reader_end(r);

    /* 68 changed on 2026-01-01: merging it on 2025-07-01 comes too late. */
    {
        struct tev *t[] = {merge_provinces("chg-3")};
        batch(log, st_check_refs, t, 1, items);
    }
    assert_int_equal(items[0].status, ST_ITEM_REJECTED);
    assert_string_equal(items[0].error,
                        "data.predecessors[1]: 68 already changed on "
                        "2026-01-01; record changes in date order");
    st_log_close(log);
}

/* Units defined earlier in a batch are seen by later items. */
static void test_split_in_one_batch(void **state)
{
    struct fx *f = *state;
    struct st_log *log = sth_open(f->dir, 0, 0);
    struct st_reader *r;
    struct st_registry sr;

    append_base(log);
    {
        struct tev *t[] = {
            mk_defined("22940", "Phường Mới", "593", E),
            mk_defined("22941", "Phường Mới 2", "593", E),
            tev_changed("split-1", "split", "22936", E, "22936", NULL,
                        "22940,22941", NULL, NULL),
            tev_changed("split-2", "split", "22924", E, "22924", NULL,
                        "22924,22941", NULL, NULL),
        };
        append_ok(log, 7, t, 4);
    }
    assert_int_equal(st_reader_begin(log, &r), 0);
    {
        const struct want w22936[] = {
            {MIN, E, "Thanh Hải", "593", EV_CHANGE_SPLIT, "22940", 6, 9}};
        const struct want w22940[] = {
            {E, MAX, "Phường Mới", "593", EV_CHANGE_NONE, NULL, 7, 0}};
        const struct want w22924[] = {
            {MIN, MAX, "Phú Thủy", "593", EV_CHANGE_NONE, NULL, 5, 0}};
        reader_history_is(r, "22936", w22936, 1);
        reader_history_is(r, "22940", w22940, 1);
        reader_history_is(r, "22924", w22924, 1);
    }
    units_seq_is(r, 8, 8, 9);
    units_seq_is(r, 10, 10, UINT64_MAX);
    st_reader_registry(r, UINT64_MAX, &sr);
    map_is(&sr.reg, "22936", D_2024, D_2026, "22940");
    refs_are(&sr.reg, "22936", D_2026,
             "unit: 22936 is not in force on 2026-01-01: split into 22940 on "
             "2025-07-01");
    /* As of record 8 the split had not happened: 22940 exists, unused. */
    st_reader_registry(r, 8, &sr);
    map_is(&sr.reg, "22936", D_2024, D_2026, "22936");
    refs_are(&sr.reg, "22940", D_2026, NULL);
    st_reader_registry(r, 6, &sr);
    refs_are(&sr.reg, "22940", D_2026, "unit: 22940 is not defined");
    st_reader_end(r);
    st_log_close(log);
}

/* ---- logs written before histories ---- */

/* Put key=val into database name of the environment in dir. */
static void raw_put(const char *dir, const char *name, const char *key,
                    const void *val, size_t len)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_val k = {strlen(key), (void *)key}, v = {len, (void *)val};

    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 8), 0);
    assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, name, 0, &dbi), 0);
    assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

static void raw_drop(const char *dir, const char *name)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;

    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 8), 0);
    assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, name, 0, &dbi), 0);
    assert_int_equal(mdb_drop(txn, dbi, 1), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

/* [name, parent|nil, level], the form before histories. */
static void put_old_unit(const char *dir, const char *code, const char *name,
                         const char *parent, const char *level)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 3);
    pack_s(&pk, name);
    if (parent != NULL)
        pack_s(&pk, parent);
    else
        msgpack_pack_nil(&pk);
    pack_s(&pk, level);
    raw_put(dir, "units", code, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
}

static void test_old_units_form(void **state)
{
    struct fx *f = *state;
    struct st_log *log = sth_open(f->dir, 0, 0);
    struct st_reader *r;
    struct st_registry sr;
    struct ev_unit u;
    char longname[300];

    st_log_close(log);
    memset(longname, 'n', sizeof longname - 1); /* a str 16 name */
    longname[sizeof longname - 1] = '\0';
    put_old_unit(f->dir, "60", "Bình Thuận", NULL, "province");
    put_old_unit(f->dir, "593", "Phan Thiết", "60", "district");
    put_old_unit(f->dir, "22924", longname, "593", "commune");
    put_old_unit(f->dir, "22936", "Thanh Hải", "593", "commune");
    /* A log from before "unitseq" too. */
    raw_drop(f->dir, "unitseq");

    log = sth_open(f->dir, ST_OPEN_READONLY, 0);
    assert_int_equal(st_reader_begin(log, &r), 0);
    {
        const struct want w60[] = {
            {MIN, MAX, "Bình Thuận", NULL, EV_CHANGE_NONE, NULL, 0, 0}};
        const struct want w593[] = {
            {MIN, MAX, "Phan Thiết", "60", EV_CHANGE_NONE, NULL, 0, 0}};
        const struct want w22924[] = {
            {MIN, MAX, longname, "593", EV_CHANGE_NONE, NULL, 0, 0}};
        reader_history_is(r, "60", w60, 1);
        reader_history_is(r, "593", w593, 1);
        reader_history_is(r, "22924", w22924, 1);
        /* as of any record: there from the start */
        st_reader_registry(r, 0, &sr);
        history_is(&sr.reg, "593", w593, 1);
    }
    assert_int_equal(st_reader_unit(r, sth_str("593"), &u), 0);
    assert_int_equal(u.level, EV_LEVEL_DISTRICT);
    /* No "unitseq" yet (read-only, before a writer added it): which
     * records changed units is unknown, so each is its own version. */
    units_seq_is(r, 0, 0, 1);
    units_seq_is(r, 5, 5, 6);
    st_reader_end(r);
    st_log_close(log);

    /* A writer adds "unitseq" and goes on with histories. */
    log = sth_open(f->dir, 0, 0);
    {
        struct tev *t[] = {
            tev_changed("mv-1", "reparent", "22936", E, "22936", NULL, NULL,
                        NULL, "60"),
            tev_changed("rn-1", "rename", "593", E, "593", NULL, NULL,
                        "Thành phố Phan Thiết", NULL),
            tev_review("rv-1", "22924", D_2026),
        };
        append_ok(log, 1, t, 3);
    }
    assert_int_equal(st_reader_begin(log, &r), 0);
    {
        const struct want w593[] = {
            {MIN, E, "Phan Thiết", "60", EV_CHANGE_NONE, NULL, 0, 2},
            {E, MAX, "Thành phố Phan Thiết", "60", EV_CHANGE_NONE, NULL, 2, 0}};
        const struct want w22936[] = {
            {MIN, E, "Thanh Hải", "593", EV_CHANGE_NONE, NULL, 0, 1},
            {E, MAX, "Thanh Hải", "60", EV_CHANGE_NONE, NULL, 1, 0}};
        const struct want w593_0[] = {
            {MIN, MAX, "Phan Thiết", "60", EV_CHANGE_NONE, NULL, 0, 0}};
        const struct want w22924[] = {
            {MIN, MAX, longname, "593", EV_CHANGE_NONE, NULL, 0, 0}};
        reader_history_is(r, "593", w593, 2);
        reader_history_is(r, "22936", w22936, 2);
        /* untouched codes keep the old stored form, read the same */
        reader_history_is(r, "22924", w22924, 1);
        st_reader_registry(r, 0, &sr);
        history_is(&sr.reg, "593", w593_0, 1);
        st_reader_registry(r, 1, &sr);
        history_is(&sr.reg, "593", w593_0, 1);
    }
    units_seq_is(r, 0, 0, 1);
    units_seq_is(r, 2, 2, UINT64_MAX);
    units_seq_is(r, 3, 2, UINT64_MAX);
    st_reader_end(r);
    st_log_close(log);
}

/* A code changed as often as it can: EV_SPANS_MAX spans, each stamped.
 * Three spans are a 3-element array too: not the old form. */
static void test_full_history(void **state)
{
    struct fx *f = *state;
    struct st_log *log = sth_open(f->dir, 0, 0);
    struct st_item items[BATCH_MAX];
    struct st_reader *r;
    struct want w[EV_SPANS_MAX];
    char id[32], name[32];

    append_base(log);
    w[0] =
        (struct want){MIN, MAX, "Phan Thiết", "60", EV_CHANGE_NONE, NULL, 3, 0};
    for (int k = 1; k < EV_SPANS_MAX; k++) {
        int64_t e = E + (k - 1) * INT64_C(86400);
        snprintf(id, sizeof id, "rn-%d", k);
        snprintf(name, sizeof name, "tên %d", k);
        struct tev *t[] = {
            tev_changed(id, "rename", "593", e, "593", NULL, NULL, name, NULL)};
        append_ok(log, 6 + (uint64_t)k, t, 1);
        w[k - 1].to = e;
        w[k - 1].closed_seq = 6 + (uint64_t)k;
        w[k] = (struct want){
            e, MAX, NULL, "60", EV_CHANGE_NONE, NULL, 6 + (uint64_t)k, 0};
        assert_int_equal(st_reader_begin(log, &r), 0);
        reader_history_is(r, "593", w, (uint32_t)k + 1);
        st_reader_end(r);
    }
    {
        struct tev *t[] = {tev_changed("rn-8", "rename", "593", D_2026, "593",
                                       NULL, NULL, "one more", NULL)};
        batch(log, st_check_refs, t, 1, items);
    }
    assert_int_equal(items[0].status, ST_ITEM_REJECTED);
    assert_string_equal(items[0].error, "unit: 593 has changed 7 "
                                        "times already, the most one code "
                                        "can");
    assert_int_equal(st_reader_begin(log, &r), 0);
    reader_history_is(r, "593", w, EV_SPANS_MAX);
    /* as of the third rename: four spans, the last open */
    struct st_registry sr;
    st_reader_registry(r, 9, &sr);
    w[3].to = MAX;
    w[3].closed_seq = 0;
    history_is(&sr.reg, "593", w, 4);
    st_reader_end(r);
    st_log_close(log);
}

#define NIL INT64_MIN /* pack_span: nil */

static void pack_span(msgpack_packer *pk, int64_t from, int64_t to,
                      const char *level, const char *ended, int64_t since)
{
    msgpack_pack_array(pk, 9);
    if (from == NIL)
        msgpack_pack_nil(pk);
    else
        msgpack_pack_int64(pk, from);
    if (to == NIL)
        msgpack_pack_nil(pk);
    else
        msgpack_pack_int64(pk, to);
    pack_s(pk, "x");
    msgpack_pack_nil(pk);
    pack_s(pk, level);
    if (ended == NULL)
        msgpack_pack_nil(pk);
    else
        pack_s(pk, ended);
    msgpack_pack_nil(pk);
    msgpack_pack_int64(pk, since);
    msgpack_pack_int64(pk, 0);
}

/* Corrupt histories are reported, not trusted; the rules do not run on
 * them. */
static void test_corrupt_history(void **state)
{
    struct fx *f = *state;
    struct st_log *log = sth_open(f->dir, 0, 0);
    struct st_reader *r;
    struct ev_history h;
    struct ev_unit u;
    char code[8];
    enum { NBAD = 10 };

    st_log_close(log);
    for (int i = 0; i < NBAD; i++) {
        msgpack_sbuffer sb;
        msgpack_packer pk;

        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        switch (i) {
        case 0: /* no span */
            msgpack_pack_array(&pk, 0);
            break;
        case 1: /* one span too many */
            msgpack_pack_array(&pk, EV_SPANS_MAX + 1);
            for (int k = 0; k <= EV_SPANS_MAX; k++)
                pack_span(&pk, k * 10, k * 10 + 10, "province", NULL, 1);
            break;
        case 2: /* empty span */
            msgpack_pack_array(&pk, 1);
            pack_span(&pk, 5, 5, "province", NULL, 1);
            break;
        case 3: /* overlapping spans */
            msgpack_pack_array(&pk, 2);
            pack_span(&pk, NIL, 10, "province", NULL, 1);
            pack_span(&pk, 5, NIL, "province", NULL, 1);
            break;
        case 4: /* unknown way of ending */
            msgpack_pack_array(&pk, 1);
            pack_span(&pk, NIL, 10, "province", "moved", 1);
            break;
        case 5: /* negative seq */
            msgpack_pack_array(&pk, 1);
            pack_span(&pk, NIL, NIL, "province", NULL, -1);
            break;
        case 6: /* unknown level */
            msgpack_pack_array(&pk, 1);
            pack_span(&pk, NIL, NIL, "nation", NULL, 1);
            break;
        case 7: /* a span of 8 elements */
            msgpack_pack_array(&pk, 1);
            msgpack_pack_array(&pk, 8);
            for (int k = 0; k < 8; k++)
                msgpack_pack_nil(&pk);
            break;
        case 8: /* trailing bytes */
            msgpack_pack_array(&pk, 1);
            pack_span(&pk, NIL, NIL, "province", NULL, 1);
            msgpack_pack_nil(&pk);
            break;
        case 9: /* seq past INT64_MAX */
            msgpack_pack_array(&pk, 1);
            msgpack_pack_array(&pk, 9);
            for (int k = 0; k < 4; k++)
                msgpack_pack_nil(&pk);
            pack_s(&pk, "province");
            msgpack_pack_nil(&pk);
            msgpack_pack_nil(&pk);
            msgpack_pack_uint64(&pk, UINT64_MAX);
            msgpack_pack_int64(&pk, 0);
            break;
        }
        snprintf(code, sizeof code, "9%d", i);
        raw_put(f->dir, "units", code, sb.data, sb.size);
        msgpack_sbuffer_destroy(&sb);
    }

    log = sth_open(f->dir, 0, 0);
    assert_int_equal(st_reader_begin(log, &r), 0);
    for (int i = 0; i < NBAD; i++) {
        snprintf(code, sizeof code, "9%d", i);
        if (st_reader_history(r, sth_str(code), &h) != POVTRACK_EFORMAT)
            fail_msg("corrupt history %d accepted", i);
        assert_int_equal(st_reader_unit(r, sth_str(code), &u),
                         POVTRACK_EFORMAT);
    }
    assert_int_equal(
        st_reader_histories(r, visit_history, &(struct codes_seen){.n = 0}),
        POVTRACK_EFORMAT);
    st_reader_end(r);

    /* A check that meets one fails the whole batch: nothing stored. */
    {
        struct st_item items[BATCH_MAX];
        struct tev *t[] = {mk_defined("60", "Bình Thuận", NULL, NO_EFF),
                           tev_review("rv", "93", D_2024)};
        for (size_t i = 0; i < 2; i++)
            sth_item(&items[i], &t[i]->ev, t[i]->sb.data, t[i]->sb.size, NULL);
        assert_int_equal(
            st_log_append_batch(log, RECEIVED, items, 2, st_check_refs, NULL),
            POVTRACK_EFORMAT);
        /* and so does a unit event whose rules read it, without check() */
        struct tev *m = tev_changed("chg", "merge", "60", E, "93,60", "60",
                                    NULL, NULL, NULL);
        sth_item(&items[0], &t[0]->ev, t[0]->sb.data, t[0]->sb.size, NULL);
        sth_item(&items[1], &m->ev, m->sb.data, m->sb.size, NULL);
        assert_int_equal(
            st_log_append_batch(log, RECEIVED, items, 2, NULL, NULL),
            POVTRACK_EFORMAT);
        tev_free(m);
        tev_free(t[0]);
        tev_free(t[1]);
    }
    assert_int_equal(st_reader_begin(log, &r), 0);
    units_seq_is(r, UINT64_MAX, 0, UINT64_MAX);
    assert_int_equal(st_reader_history(r, sth_str("60"), &h),
                     POVTRACK_ENOTFOUND);
    st_reader_end(r);
    st_log_close(log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        STH_TEST(test_phan_thiet_stamps),  STH_TEST(test_refused_change),
        STH_TEST(test_split_in_one_batch), STH_TEST(test_old_units_form),
        STH_TEST(test_full_history),       STH_TEST(test_corrupt_history),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
