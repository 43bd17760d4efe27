/*
 * test_layout.c - state layouts with the host opened in-process
 * (pt_host_open: tools and tests; the daemon's guarded open is in
 * tests/integration/test_upgrade.c).
 *
 * test_layout_change_rebuilds: the host records each plugin's declared
 * state layout beside its cursor ("layouts" in DATA/state, core/pt_state.h).
 * With fund's record set to an older layout and the record of a plugin
 * built before state_layout existed removed, the next open drops fund's
 * state alone (a marker key planted in each plugin's database is gone from
 * fund's only), and after catching up every plugin answers byte for byte
 * as before.  The old plugin (descriptor size stopping at fini, a
 * state_layout set past it) loads, is recorded with layout 0 and is never
 * rebuilt on its account.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <lmdb.h>

#include "fixture.h"
#include "pt_state.h"
#include "scenarios.h"

/* A key none of these plugins writes. */
static const char MARKER[] = "\xfflayout-test";

static void snapshot(struct fx *fx, struct fx_snap *s)
{
    fx_snap_query(fx, s, "poverty", "{\"unit\":\"60\",\"year\":2022}");
    fx_snap_query(fx, s, "poverty", "{\"unit\":\"22901\",\"year\":2023}");
    fx_snap_query(fx, s, "fund", "{\"unit\":\"60\"}");
    fx_snap_query(fx, s, "fund", "{\"unit\":\"593\",\"year\":2024}");
    fx_snap_query(fx, s, "legacy", "{}");
}

static MDB_env *state_open(struct fx *fx)
{
    char dir[PATH_MAX + 8];
    snprintf(dir, sizeof dir, "%s/" PT_DATA_STATE_SUBDIR, fx->dir);
    MDB_env *env;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 64), 0);
    assert_int_equal(mdb_env_open(env, dir, 0, PT_STATE_FILE_MODE), 0);
    return env;
}

static MDB_dbi db(MDB_txn *txn, const char *name)
{
    MDB_dbi dbi;
    assert_int_equal(mdb_dbi_open(txn, name, 0, &dbi), 0);
    return dbi;
}

static uint64_t get_be(const void *p, int n)
{
    const unsigned char *b = p;
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | b[i];
    return v;
}

static uint64_t cursor(MDB_txn *txn, const char *plugin)
{
    MDB_val k = {strlen(plugin), (void *)plugin}, v;
    assert_int_equal(mdb_get(txn, db(txn, PT_STATE_CURSORS_DB), &k, &v), 0);
    assert_int_equal(v.mv_size, 8);
    return get_be(v.mv_data, 8);
}

/* Assert the layout recorded for plugin, at seq. */
static void assert_layout(MDB_txn *txn, const char *plugin, uint32_t layout,
                          uint64_t seq)
{
    MDB_val k = {strlen(plugin), (void *)plugin}, v;
    if (mdb_get(txn, db(txn, PT_STATE_LAYOUTS_DB), &k, &v) != 0)
        fail_msg("no layout recorded for %s", plugin);
    assert_int_equal(v.mv_size, PT_STATE_LAYOUT_LEN);
    assert_int_equal(get_be(v.mv_data, 4), layout);
    assert_int_equal(get_be((const char *)v.mv_data + 4, 8), seq);
}

static int has_marker(MDB_txn *txn, const char *plugin)
{
    char name[64];
    snprintf(name, sizeof name, "p.%s", plugin);
    MDB_val k = {sizeof MARKER - 1, (void *)MARKER}, v;
    int rc = mdb_get(txn, db(txn, name), &k, &v);
    assert_true(rc == 0 || rc == MDB_NOTFOUND);
    return rc == 0;
}

static void test_layout_change_rebuilds(void **state)
{
    (void)state;
    static const char *const plugins[] = {"poverty", "fund", "legacy"};
    struct fx *fx = fx_new("poverty fund legacy");
    fx_conf(fx, "legacy", "path", LEGACY_SO_REL);
    sc_poverty_flows(fx);
    sc_fund_part1(fx);
    fx_sync(fx);
    struct fx_snap before = {0}, after = {0};
    snapshot(fx, &before);
    fx_host_close(fx);

    MDB_env *env = state_open(fx);
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    uint64_t last = cursor(txn, "poverty");
    assert_true(last > 0);
    assert_layout(txn, "poverty", 4, last);
    assert_layout(txn, "fund", 3, last);
    assert_layout(txn, "legacy", 0, last);
    unsigned char old[PT_STATE_LAYOUT_LEN] = {0, 0, 0, 1}; /* layout 1 */
    for (int i = 0; i < 8; i++)
        old[4 + i] = (unsigned char)(last >> (56 - 8 * i));
    MDB_val k = {4, "fund"}, v = {sizeof old, old};
    assert_int_equal(mdb_put(txn, db(txn, PT_STATE_LAYOUTS_DB), &k, &v, 0), 0);
    k = (MDB_val){6, "legacy"};
    assert_int_equal(mdb_del(txn, db(txn, PT_STATE_LAYOUTS_DB), &k, NULL), 0);
    for (size_t i = 0; i < 3; i++) {
        char name[64];
        snprintf(name, sizeof name, "p.%s", plugins[i]);
        k = (MDB_val){sizeof MARKER - 1, (void *)MARKER};
        v = (MDB_val){1, "x"};
        assert_int_equal(mdb_put(txn, db(txn, name), &k, &v, 0), 0);
    }
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);

    char err[512] = "";
    if (fx_host_open(fx, err, sizeof err) != 0)
        fail_msg("pt_host_open: %s", err);
    assert_int_equal(pt_host_catch_up_all(fx->host), 0);
    snapshot(fx, &after);
    fx_host_close(fx);

    env = state_open(fx);
    assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
    assert_true(has_marker(txn, "poverty"));
    assert_false(has_marker(txn, "fund"));
    assert_true(has_marker(txn, "legacy"));
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(cursor(txn, plugins[i]), last);
    assert_layout(txn, "poverty", 4, last);
    assert_layout(txn, "fund", 3, last);
    mdb_txn_abort(txn);
    mdb_env_close(env);
    fx_snap_assert_equal(&before, &after);
    fx_free(fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout_change_rebuilds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
