/*
 * test_wcache.c - the plugin host's write-back cache (core/pt_wcache.h)
 * against a real LMDB environment in a temporary directory.
 *
 * Built with a private copy of pt_wcache.c compiled with a spill threshold
 * of PT_WCACHE_SPILL_ENTRIES = 4 entries and PT_WCACHE_SPILL_BYTES = 2 MiB
 * (tests/core/CMakeLists.txt), so that a handful of puts crosses a spill,
 * which with the real thresholds (2^18 entries, 32 MiB) only a rebuild of
 * a whole province reaches.  Each test says what LMDB holds (read with
 * mdb_get, past the cache) and what the cache answers, before and after
 * spills, flushes, commits and aborts; test_against_a_model runs random
 * operations and compares every answer and every commit with a model.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <lmdb.h>

#include "pt_wcache.h"

#if PT_WCACHE_SPILL_ENTRIES != 4 || PT_WCACHE_SPILL_BYTES != (2u << 20)
#error "build with -DPT_WCACHE_SPILL_ENTRIES=4 -DPT_WCACHE_SPILL_BYTES=2097152"
#endif

/* Bigger than what a spill of small values leaves in the arena (one 1 MiB
 * block), smaller than the byte threshold plus that block: one such value
 * crosses PT_WCACHE_SPILL_BYTES on its own. */
#define BIG_VALUE ((size_t)3 << 19) /* 1.5 MiB */

/* One test's environment: two plugin databases, as the host gives two
 * plugins, and the cache. */
struct fx {
    char dir[64];
    MDB_env *env;
    MDB_dbi a, b;
    struct pt_wcache *c;
};

static int fx_open(struct fx *f, size_t mapsize)
{
    MDB_txn *txn;
    if (mdb_env_create(&f->env) != 0 || mdb_env_set_maxdbs(f->env, 2) != 0 ||
        mdb_env_set_mapsize(f->env, mapsize) != 0 ||
        /* Durability is not what this tests: no fsync per commit. */
        mdb_env_open(f->env, f->dir, MDB_NOSYNC, 0600) != 0 ||
        mdb_txn_begin(f->env, NULL, 0, &txn) != 0)
        return -1;
    if (mdb_dbi_open(txn, "a", MDB_CREATE, &f->a) != 0 ||
        mdb_dbi_open(txn, "b", MDB_CREATE, &f->b) != 0) {
        mdb_txn_abort(txn);
        return -1;
    }
    if (mdb_txn_commit(txn) != 0)
        return -1;
    f->c = pt_wcache_new();
    return f->c != NULL ? 0 : -1;
}

static int setup_sized(void **state, size_t mapsize)
{
    struct fx *f = calloc(1, sizeof *f);
    if (f == NULL)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/povtrack-wc-XXXXXX");
    if (mkdtemp(f->dir) == NULL) {
        free(f);
        return -1;
    }
    *state = f;
    return fx_open(f, mapsize);
}

static int setup(void **state)
{
    return setup_sized(state, (size_t)64 << 20);
}

/* A map too small for BIG_VALUE: a spill of it runs out of map. */
static int setup_small_map(void **state)
{
    return setup_sized(state, (size_t)256 << 10);
}

static int teardown(void **state)
{
    struct fx *f = *state;
    char path[96];
    pt_wcache_free(f->c);
    if (f->env != NULL)
        mdb_env_close(f->env);
    snprintf(path, sizeof path, "%s/data.mdb", f->dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/lock.mdb", f->dir);
    unlink(path);
    rmdir(f->dir);
    free(f);
    return 0;
}

static MDB_txn *begin(struct fx *f)
{
    MDB_txn *txn = NULL;
    assert_int_equal(mdb_txn_begin(f->env, NULL, 0, &txn), 0);
    return txn;
}

/* Flush everything, commit and reset: how the host ends a chunk. */
static void commit(struct fx *f, MDB_txn *txn)
{
    assert_int_equal(pt_wcache_flush(f->c, txn, 0, 1), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    pt_wcache_reset(f->c);
}

/* Abort and reset: how the host drops a chunk. */
static void abort_txn(struct fx *f, MDB_txn *txn)
{
    mdb_txn_abort(txn);
    pt_wcache_reset(f->c);
}

static void put(struct fx *f, MDB_txn *txn, MDB_dbi dbi, const char *key,
                const char *val)
{
    assert_int_equal(
        pt_wcache_put(f->c, txn, dbi, key, strlen(key), val, strlen(val)), 0);
}

/* Does the cache answer val for key (NULL: MDB_NOTFOUND)? */
static void cached_is(struct fx *f, MDB_txn *txn, MDB_dbi dbi, const char *key,
                      const char *val)
{
    const void *v = NULL;
    size_t n = 0;
    int rc = pt_wcache_get(f->c, txn, dbi, key, strlen(key), &v, &n);
    if (val == NULL) {
        assert_int_equal(rc, MDB_NOTFOUND);
        return;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(n, strlen(val));
    assert_memory_equal(v, val, n);
}

/* Does txn itself, past the cache, hold val for key (NULL: nothing)? */
static void lmdb_is(MDB_txn *txn, MDB_dbi dbi, const char *key, const char *val)
{
    MDB_val k = {strlen(key), (void *)key}, v;
    int rc = mdb_get(txn, dbi, &k, &v);
    if (val == NULL) {
        assert_int_equal(rc, MDB_NOTFOUND);
        return;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(v.mv_size, strlen(val));
    assert_memory_equal(v.mv_data, val, v.mv_size);
}

/* What a committed transaction left: read in a read-only transaction of
 * its own. */
static void committed_is(struct fx *f, MDB_dbi dbi, const char *key,
                         const char *val)
{
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(f->env, NULL, MDB_RDONLY, &txn), 0);
    lmdb_is(txn, dbi, key, val);
    mdb_txn_abort(txn);
}

static size_t entries(struct fx *f, MDB_dbi dbi)
{
    MDB_txn *txn;
    MDB_stat st;
    assert_int_equal(mdb_txn_begin(f->env, NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(mdb_stat(txn, dbi, &st), 0);
    mdb_txn_abort(txn);
    return st.ms_entries;
}

/* Below the threshold, puts stay in the cache: gets see them, LMDB does not
 * until the flush, and the commit keeps them. */
static void test_puts_wait_for_the_flush(void **state)
{
    struct fx *f = *state;
    MDB_txn *txn = begin(f);
    put(f, txn, f->a, "k1", "one");
    put(f, txn, f->a, "k2", "two");
    put(f, txn, f->a, "k1", "uno"); /* rewritten: still one entry */
    put(f, txn, f->a, "k3", "three");
    cached_is(f, txn, f->a, "k1", "uno");
    cached_is(f, txn, f->a, "k2", "two");
    cached_is(f, txn, f->a, "k3", "three");
    cached_is(f, txn, f->a, "k4", NULL);
    lmdb_is(txn, f->a, "k1", NULL);
    lmdb_is(txn, f->a, "k3", NULL);
    commit(f, txn);
    committed_is(f, f->a, "k1", "uno");
    committed_is(f, f->a, "k2", "two");
    committed_is(f, f->a, "k3", "three");
    assert_int_equal(entries(f, f->a), 3);
}

/* The fourth entry spills all four into the transaction; the cache then
 * starts empty, and what follows (a rewrite, a delete of a spilled key)
 * lands on top of what was spilled. */
static void test_spill_at_the_entry_threshold(void **state)
{
    struct fx *f = *state;
    MDB_txn *txn = begin(f);
    put(f, txn, f->a, "k1", "one");
    put(f, txn, f->b, "k2", "two"); /* entries of both databases count */
    put(f, txn, f->a, "k3", "three");
    lmdb_is(txn, f->a, "k1", NULL);
    lmdb_is(txn, f->b, "k2", NULL);
    put(f, txn, f->b, "k4", "four");
    lmdb_is(txn, f->a, "k1", "one");
    lmdb_is(txn, f->b, "k2", "two");
    lmdb_is(txn, f->a, "k3", "three");
    lmdb_is(txn, f->b, "k4", "four");

    put(f, txn, f->a, "k1", "a longer value than before");
    cached_is(f, txn, f->a, "k1", "a longer value than before");
    lmdb_is(txn, f->a, "k1", "one"); /* the rewrite waits for the flush */
    assert_int_equal(pt_wcache_del(f->c, txn, f->b, "k2", 2), 0);
    cached_is(f, txn, f->b, "k2", NULL);
    assert_int_equal(pt_wcache_del(f->c, txn, f->b, "k2", 2), MDB_NOTFOUND);
    commit(f, txn);
    committed_is(f, f->a, "k1", "a longer value than before");
    committed_is(f, f->b, "k2", NULL);
    committed_is(f, f->a, "k3", "three");
    committed_is(f, f->b, "k4", "four");
    assert_int_equal(entries(f, f->a), 2);
    assert_int_equal(entries(f, f->b), 1);
}

/* Deletes: of a key put in the same transaction (never reaching LMDB, also
 * across a spill), of a flushed key, of a key that never was; and a put
 * after a delete brings the key back. */
static void test_deletes(void **state)
{
    struct fx *f = *state;
    MDB_txn *txn = begin(f);
    put(f, txn, f->a, "old", "committed before");
    commit(f, txn);

    txn = begin(f);
    assert_int_equal(pt_wcache_del(f->c, txn, f->a, "never", 5), MDB_NOTFOUND);
    put(f, txn, f->a, "gone", "put, then deleted");
    assert_int_equal(pt_wcache_del(f->c, txn, f->a, "gone", 4), 0);
    cached_is(f, txn, f->a, "gone", NULL);
    /* Through the cache: "old" becomes an entry, then a deleted one. */
    put(f, txn, f->a, "old", "rewritten");
    assert_int_equal(pt_wcache_flush(f->c, txn, f->a, 0), 0);
    lmdb_is(txn, f->a, "old", "rewritten");
    assert_int_equal(pt_wcache_del(f->c, txn, f->a, "old", 3), 0);
    cached_is(f, txn, f->a, "old", NULL);
    lmdb_is(txn, f->a, "old", "rewritten"); /* until the flush */
    assert_int_equal(pt_wcache_del(f->c, txn, f->a, "old", 3), MDB_NOTFOUND);
    /* "gone" and "old" are two entries: two more make the spill, which
     * must delete "old" and find nothing to delete for "gone". */
    put(f, txn, f->a, "x", "1");
    lmdb_is(txn, f->a, "x", NULL);
    put(f, txn, f->a, "y", "2");
    lmdb_is(txn, f->a, "x", "1");
    lmdb_is(txn, f->a, "old", NULL);
    lmdb_is(txn, f->a, "gone", NULL);
    put(f, txn, f->a, "gone", "back");
    cached_is(f, txn, f->a, "gone", "back");
    commit(f, txn);
    committed_is(f, f->a, "old", NULL);
    committed_is(f, f->a, "gone", "back");
    committed_is(f, f->a, "x", "1");
    committed_is(f, f->a, "y", "2");
    assert_int_equal(entries(f, f->a), 3);
}

/* A flush of one database leaves the other's writes pending. */
static void test_flush_of_one_database(void **state)
{
    struct fx *f = *state;
    MDB_txn *txn = begin(f);
    put(f, txn, f->a, "ka", "in a");
    put(f, txn, f->b, "kb", "in b");
    assert_int_equal(pt_wcache_flush(f->c, txn, f->a, 0), 0);
    lmdb_is(txn, f->a, "ka", "in a");
    lmdb_is(txn, f->b, "kb", NULL);
    cached_is(f, txn, f->b, "kb", "in b");
    /* A flushed entry is still the cache's answer, and a rewrite of it is
     * pending again. */
    put(f, txn, f->a, "ka", "in a, again");
    lmdb_is(txn, f->a, "ka", "in a");
    assert_int_equal(pt_wcache_flush(f->c, txn, 0, 1), 0);
    lmdb_is(txn, f->a, "ka", "in a, again");
    lmdb_is(txn, f->b, "kb", "in b");
    commit(f, txn);
    committed_is(f, f->b, "kb", "in b");
}

/* One value bigger than the rest of the byte budget spills on its own,
 * whatever the entry count; the cache's copy was the value put. */
static void test_spill_at_the_byte_threshold(void **state)
{
    struct fx *f = *state;
    unsigned char *big = malloc(BIG_VALUE);
    assert_non_null(big);
    for (size_t i = 0; i < BIG_VALUE; i++)
        big[i] = (unsigned char)(i * 31 + 7);
    MDB_txn *txn = begin(f);
    put(f, txn, f->a, "small", "s");
    assert_int_equal(pt_wcache_put(f->c, txn, f->a, "big", 3, big, BIG_VALUE),
                     0);
    lmdb_is(txn, f->a, "small", "s");
    MDB_val k = {3, "big"}, v;
    assert_int_equal(mdb_get(txn, f->a, &k, &v), 0);
    assert_int_equal(v.mv_size, BIG_VALUE);
    assert_memory_equal(v.mv_data, big, BIG_VALUE);
    commit(f, txn);
    assert_int_equal(entries(f, f->a), 2);
    free(big);
}

/* An aborted transaction leaves nothing: neither what stayed in the cache
 * nor what spills had written into it; after the reset the cache answers
 * from what is committed. */
static void test_abort_leaves_nothing(void **state)
{
    struct fx *f = *state;
    MDB_txn *txn = begin(f);
    put(f, txn, f->a, "base", "committed");
    commit(f, txn);

    txn = begin(f);
    char key[16], val[16];
    for (int i = 0; i < 10; i++) { /* two spills, two entries left */
        snprintf(key, sizeof key, "k%02d", i);
        snprintf(val, sizeof val, "v%02d", i);
        put(f, txn, i % 2 ? f->a : f->b, key, val);
    }
    put(f, txn, f->a, "base", "overwritten");
    assert_int_equal(pt_wcache_del(f->c, txn, f->a, "k01", 3), 0);
    lmdb_is(txn, f->b, "k00", "v00"); /* spilled into the transaction */
    abort_txn(f, txn);

    assert_int_equal(entries(f, f->a), 1);
    assert_int_equal(entries(f, f->b), 0);
    committed_is(f, f->a, "base", "committed");
    txn = begin(f);
    cached_is(f, txn, f->a, "base", "committed");
    cached_is(f, txn, f->a, "k09", NULL);
    cached_is(f, txn, f->b, "k08", NULL);
    put(f, txn, f->a, "after", "the abort");
    commit(f, txn);
    committed_is(f, f->a, "after", "the abort");
    assert_int_equal(entries(f, f->a), 2);
}

/* A spill that runs out of map returns MDB_MAP_FULL (the host grows the
 * map and redoes the chunk); aborting then leaves nothing. */
static void test_spill_out_of_map(void **state)
{
    struct fx *f = *state;
    void *big = calloc(1, BIG_VALUE);
    assert_non_null(big);
    MDB_txn *txn = begin(f);
    put(f, txn, f->a, "small", "s");
    assert_int_equal(pt_wcache_put(f->c, txn, f->a, "big", 3, big, BIG_VALUE),
                     MDB_MAP_FULL);
    abort_txn(f, txn);
    free(big);
    assert_int_equal(entries(f, f->a), 0);
    txn = begin(f);
    cached_is(f, txn, f->a, "small", NULL);
    put(f, txn, f->a, "small", "fits");
    commit(f, txn);
    committed_is(f, f->a, "small", "fits");
}

/* ---- random operations against a model ---- */

#define MODEL_KEYS 12 /* per database */
#define MODEL_VAL_MAX 40
#define MODEL_TXNS 60
#define MODEL_OPS 40 /* per transaction, at most */

/* A key's value, or absent. */
struct mval {
    int present;
    size_t len;
    unsigned char bytes[MODEL_VAL_MAX];
};

/* What is committed and what the open transaction sees, per database. */
struct model {
    struct mval committed[2][MODEL_KEYS];
    struct mval txn[2][MODEL_KEYS];
};

static uint64_t rng_next(uint64_t *s)
{
    /* splitmix64: the same sequence on every run. */
    uint64_t z = (*s += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* Keys of different lengths and shared prefixes, so that the flush's
 * ordering (LMDB's: bytes, then the shorter first) is exercised. */
static size_t model_key(int i, char *key)
{
    return (size_t)snprintf(key, 16, "%.*s%d", i % 3, "kkk", i);
}

/* Every committed key of both databases equals the model, and nothing
 * else is stored. */
static void model_check_committed(struct fx *f, const struct model *m)
{
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(f->env, NULL, MDB_RDONLY, &txn), 0);
    for (int d = 0; d < 2; d++) {
        MDB_dbi dbi = d ? f->b : f->a;
        size_t present = 0;
        for (int i = 0; i < MODEL_KEYS; i++) {
            char key[16];
            MDB_val k = {model_key(i, key), key}, v;
            const struct mval *want = &m->committed[d][i];
            int rc = mdb_get(txn, dbi, &k, &v);
            if (!want->present) {
                assert_int_equal(rc, MDB_NOTFOUND);
                continue;
            }
            present++;
            assert_int_equal(rc, 0);
            assert_int_equal(v.mv_size, want->len);
            assert_memory_equal(v.mv_data, want->bytes, want->len);
        }
        MDB_stat st;
        assert_int_equal(mdb_stat(txn, dbi, &st), 0);
        assert_int_equal(st.ms_entries, present);
    }
    mdb_txn_abort(txn);
}

static void test_against_a_model(void **state)
{
    struct fx *f = *state;
    struct model *m = calloc(1, sizeof *m);
    assert_non_null(m);
    uint64_t seed = 2021;
    size_t spills_crossed = 0, commits = 0, aborts = 0;
    for (int t = 0; t < MODEL_TXNS; t++) {
        memcpy(m->txn, m->committed, sizeof m->txn);
        MDB_txn *txn = begin(f);
        int ops = 1 + (int)(rng_next(&seed) % MODEL_OPS);
        size_t puts = 0;
        for (int o = 0; o < ops; o++) {
            int d = (int)(rng_next(&seed) % 2);
            int i = (int)(rng_next(&seed) % MODEL_KEYS);
            MDB_dbi dbi = d ? f->b : f->a;
            char key[16];
            size_t klen = model_key(i, key);
            struct mval *want = &m->txn[d][i];
            unsigned op = (unsigned)(rng_next(&seed) % 10);
            const void *v = NULL;
            size_t vlen = 0;
            if (op < 5) { /* put a value of 0 to MODEL_VAL_MAX bytes */
                struct mval nv = {
                    1, rng_next(&seed) % (MODEL_VAL_MAX + 1), {0}};
                for (size_t j = 0; j < nv.len; j++)
                    nv.bytes[j] = (unsigned char)rng_next(&seed);
                assert_int_equal(
                    pt_wcache_put(f->c, txn, dbi, key, klen, nv.bytes, nv.len),
                    0);
                *want = nv;
                puts++;
            } else if (op < 7) {
                int rc = pt_wcache_del(f->c, txn, dbi, key, klen);
                assert_int_equal(rc, want->present ? 0 : MDB_NOTFOUND);
                want->present = 0;
            } else if (op < 9) {
                int rc = pt_wcache_get(f->c, txn, dbi, key, klen, &v, &vlen);
                if (!want->present) {
                    assert_int_equal(rc, MDB_NOTFOUND);
                    continue;
                }
                assert_int_equal(rc, 0);
                assert_int_equal(vlen, want->len);
                assert_memory_equal(v, want->bytes, vlen);
                /* Put back a shorter copy of the value the get pointed
                 * at, from that very pointer (a plugin's read-modify-write
                 * of its own value). */
                if (vlen > 0) {
                    assert_int_equal(pt_wcache_put(f->c, txn, dbi, key, klen,
                                                   (const char *)v + 1,
                                                   vlen - 1),
                                     0);
                    memmove(want->bytes, want->bytes + 1, vlen - 1);
                    want->len = vlen - 1;
                    puts++;
                }
            } else {
                assert_int_equal(pt_wcache_flush(f->c, txn, dbi, 0), 0);
            }
        }
        spills_crossed += puts >= PT_WCACHE_SPILL_ENTRIES;
        if (rng_next(&seed) % 4 == 0) {
            abort_txn(f, txn);
            aborts++;
        } else {
            commit(f, txn);
            memcpy(m->committed, m->txn, sizeof m->committed);
            commits++;
        }
        model_check_committed(f, m);
    }
    /* The run covered what it is for. */
    assert_true(spills_crossed > MODEL_TXNS / 2);
    assert_true(commits > 0 && aborts > 0);
    free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_puts_wait_for_the_flush, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_spill_at_the_entry_threshold,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_deletes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flush_of_one_database, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_spill_at_the_byte_threshold, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_abort_leaves_nothing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_spill_out_of_map, setup_small_map,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_against_a_model, setup, teardown),
    };
    return cmocka_run_group_tests_name("core_wcache", tests, NULL, NULL);
}
