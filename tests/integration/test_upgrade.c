/*
 * test_upgrade.c - the plugin host rebuilds from the log, at start, a plugin
 * whose state was built with another state layout than the loaded plugin
 * writes (struct povtrack_plugin's state_layout, recorded beside each
 * cursor in DATA/state, database "layouts": see core/pt_state.h).
 *
 * The real daemon runs the six built-in plugins on events that touch each
 * of them; it is stopped and its state edited with raw LMDB as an upgrade
 * would leave it, then started again with its standard error in a file.
 *
 * test_old_layouts_rebuilt: fund's record says layout 1 (an older fund),
 * credit's is gone (a state from before layouts were recorded) and
 * relocation's was recorded at an earlier cursor than its own (a host that
 * did not record layouts advanced it since).  Checked:
 *   - one warning per rebuilt plugin, the exact line for fund;
 *   - the state of those three was dropped (a marker key planted in their
 *     databases is gone) and the other three kept theirs (marker still
 *     there): only the plugins whose layout changed were rebuilt;
 *   - after catching up every plugin answers byte for byte what it
 *     answered before the restart and what a fresh rebuild (DATA/state
 *     removed) answers;
 *   - no plugin is quarantined, every cursor is back at the log's last
 *     sequence with the plugin's layout recorded beside it, and `povtrack
 *     verify` reads the cursors of that state.
 * test_same_layouts_kept: a restart on a state with the right layouts
 * rebuilds nothing: no warning, every marker kept, cursors unchanged, the
 * same answers.
 *
 * Every wait is a handshake (a ping answered, a query with min_seq, a
 * process reaped).
 */
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <lmdb.h>

#include "daemon.h"
#include "json_events.h"
#include "pt_state.h"
#include "tl_json.h"

#define TIMEOUT_MS 15000

/* The built-in plugins and the layouts they declare. */
static const struct {
    const char *name;
    uint32_t layout;
} PLUGINS[] = {
    {"poverty", 4}, {"fund", 3},      {"standard", 3},      {"relocation", 4},
    {"credit", 4},  {"deadlines", 1}, {"production", 2},    {"protection", 2},
    {"budget", 2},  {"donors", 2},    {"commendations", 2},
};
#define NPLUGINS (sizeof PLUGINS / sizeof PLUGINS[0])

/* Events for every plugin, in one request. */
static const char EVENTS[] =
    "["
    "{\"v\":1,\"id\":\"u-60\",\"type\":\"unit.defined\",\"at\":1609459200,"
    "\"unit\":\"60\",\"data\":{\"name\":\"Tinh Binh Thuan\",\"parent\":null,"
    "\"level\":\"province\"}},"
    "{\"v\":1,\"id\":\"u-593\",\"type\":\"unit.defined\",\"at\":1609459200,"
    "\"unit\":\"593\",\"data\":{\"name\":\"Phan Thiet\",\"parent\":\"60\","
    "\"level\":\"district\"}},"
    "{\"v\":1,\"id\":\"u-22924\",\"type\":\"unit.defined\",\"at\":1609459200,"
    "\"unit\":\"22924\",\"data\":{\"name\":\"Phu Thuy\",\"parent\":\"593\","
    "\"level\":\"commune\"}},"
    "{\"v\":1,\"id\":\"u-23231\",\"type\":\"unit.defined\",\"at\":1609459200,"
    "\"unit\":\"23231\",\"data\":{\"name\":\"Phuoc Hoi\",\"parent\":\"593\","
    "\"level\":\"commune\"}},"
    "{\"v\":1,\"id\":\"hh-22924-2023\",\"type\":\"unit.households\",\"at\":"
    "1702598400,\"unit\":\"22924\",\"data\":{\"year\":2023,\"households\":"
    "120}},"
    "{\"v\":1,\"id\":\"hh-22924-2024\",\"type\":\"unit.households\",\"at\":"
    "1734220800,\"unit\":\"22924\",\"data\":{\"year\":2024,\"households\":"
    "120}},"
    "{\"v\":1,\"id\":\"hh-23231-2024\",\"type\":\"unit.households\",\"at\":"
    "1734220800,\"unit\":\"23231\",\"data\":{\"year\":2024,\"households\":"
    "90}},"
    "{\"v\":1,\"id\":\"st-h1-2023\",\"type\":\"household.status\",\"at\":"
    "1702598400,\"unit\":\"22924\",\"household\":\"h1\",\"data\":{"
    "\"year\":2023,\"status\":\"poor\"}},"
    "{\"v\":1,\"id\":\"st-h3-2023\",\"type\":\"household.status\",\"at\":"
    "1702598400,\"unit\":\"22924\",\"household\":\"h3\",\"data\":{"
    "\"year\":2023,\"status\":\"poor\"}},"
    "{\"v\":1,\"id\":\"st-h1-2024\",\"type\":\"household.status\",\"at\":"
    "1734220800,\"unit\":\"22924\",\"household\":\"h1\",\"data\":{"
    "\"year\":2024,\"status\":\"near_poor\"}},"
    "{\"v\":1,\"id\":\"st-h3-2024\",\"type\":\"household.status\",\"at\":"
    "1734220800,\"unit\":\"22924\",\"household\":\"h3\",\"data\":{"
    "\"year\":2024,\"status\":\"poor\"}},"
    "{\"v\":1,\"id\":\"st-h2-2024\",\"type\":\"household.status\",\"at\":"
    "1734220800,\"unit\":\"23231\",\"household\":\"h2\",\"data\":{"
    "\"year\":2024,\"status\":\"poor\"}},"
    "{\"v\":1,\"id\":\"as-h1-2024\",\"type\":\"household.assessed\",\"at\":"
    "1730000000,\"unit\":\"22924\",\"household\":\"h1\",\"data\":{"
    "\"year\":2024,\"area\":\"urban\",\"members\":4,\"income\":1800000,"
    "\"deprived\":[\"water\",\"latrine\",\"telecom\"]}},"
    "{\"v\":1,\"id\":\"as-h2-2024\",\"type\":\"household.assessed\",\"at\":"
    "1730000000,\"unit\":\"23231\",\"household\":\"h2\",\"data\":{"
    "\"year\":2024,\"area\":\"rural\",\"members\":5,\"income\":900000,"
    "\"deprived\":[\"employment\",\"nutrition\",\"health_insurance\","
    "\"housing_area\"]}},"
    "{\"v\":1,\"id\":\"rv-60-2024\",\"type\":\"review.closed\",\"at\":"
    "1734307200,\"unit\":\"60\",\"data\":{\"year\":2024}},"
    "{\"v\":1,\"id\":\"pl-1\",\"type\":\"donation.pledged\",\"at\":"
    "1717200000,\"unit\":\"593\",\"data\":{\"pledge\":\"CK-2024-01\","
    "\"amount\":50000000,\"donor\":\"Ngan hang\",\"due\":1735664400}},"
    "{\"v\":1,\"id\":\"dn-1\",\"type\":\"donation.received\",\"at\":"
    "1719792000,\"unit\":\"593\",\"data\":{\"amount\":30000000,\"donor\":"
    "\"Ngan hang\",\"donor_kind\":\"organisation\",\"level\":\"district\","
    "\"pledge\":\"CK-2024-01\"}},"
    "{\"v\":1,\"id\":\"dn-2\",\"type\":\"donation.received\",\"at\":"
    "1722470400,\"unit\":\"22924\",\"data\":{\"amount\":150000000,\"donor\":"
    "\"Cong ty Y\",\"donor_kind\":\"business\",\"level\":\"commune\"}},"
    "{\"v\":1,\"id\":\"fd-1\",\"type\":\"fund.disbursed\",\"at\":1727740800,"
    "\"unit\":\"23231\",\"household\":\"h2\",\"data\":{\"amount\":"
    "20000000,\"purpose\":\"housing\",\"level\":\"commune\"}},"
    "{\"v\":1,\"id\":\"rl-1\",\"type\":\"relocation.completed\",\"at\":"
    "1717200000,\"unit\":\"22924\",\"household\":\"h3\",\"data\":{"
    "\"from\":\"23231\",\"reason\":\"flood\"}},"
    "{\"v\":1,\"id\":\"rs-1\",\"type\":\"relocation.support\",\"at\":"
    "1719792000,\"unit\":\"22924\",\"household\":\"h3\",\"data\":{"
    "\"item\":\"land\",\"amount\":40000000}},"
    "{\"v\":1,\"id\":\"cr-1\",\"type\":\"credit.disbursed\",\"at\":"
    "1717200000,\"unit\":\"23231\",\"household\":\"h2\",\"data\":{"
    "\"loan\":\"VBSP-001\",\"program\":\"ho_ngheo\",\"amount\":50000000}},"
    "{\"v\":1,\"id\":\"cr-2\",\"type\":\"credit.repaid\",\"at\":1730000000,"
    "\"unit\":\"23231\",\"household\":\"h2\",\"data\":{\"loan\":"
    "\"VBSP-001\",\"amount\":5000000}},"
    "{\"v\":1,\"id\":\"pk-1\",\"type\":\"production.linked\",\"at\":"
    "1717200000,\"unit\":\"23231\",\"household\":\"h2\",\"data\":{"
    "\"link\":\"LK-1\",\"partner\":\"HTX A\",\"partner_kind\":"
    "\"cooperative\",\"product\":\"Thanh long\",\"year\":2024}},"
    "{\"v\":1,\"id\":\"as-h2-nl\",\"type\":\"household.assessed\",\"at\":"
    "1730000001,\"unit\":\"23231\",\"household\":\"h2\",\"data\":{"
    "\"year\":2024,\"area\":\"rural\",\"members\":1,\"income\":900000,"
    "\"deprived\":[\"employment\",\"nutrition\",\"water\"],"
    "\"no_labour_capacity\":true}},"
    "{\"v\":1,\"id\":\"bu-1\",\"type\":\"budget.allocated\",\"at\":"
    "1717200000,\"unit\":\"593\",\"data\":{\"program\":"
    "\"poverty_reduction\",\"component\":\"DA1\",\"year\":2024,"
    "\"amount\":100000000}},"
    "{\"v\":1,\"id\":\"cm-1\",\"type\":\"commendation.awarded\",\"at\":"
    "1717200000,\"unit\":\"60\",\"data\":{\"recipient\":\"HTX A\","
    "\"recipient_kind\":\"collective\",\"awarded_by\":\"UBND\","
    "\"level\":\"province\"}},"
    "{\"v\":1,\"id\":\"rp-1\",\"type\":\"report.due\",\"at\":1704067200,"
    "\"unit\":\"593\",\"data\":{\"org\":\"UBND-593\",\"report\":"
    "\"bao-cao-2024\",\"due\":1733011200}},"
    "{\"v\":1,\"id\":\"rp-2\",\"type\":\"report.submitted\",\"at\":"
    "1733500000,\"unit\":\"593\",\"data\":{\"org\":\"UBND-593\",\"report\":"
    "\"bao-cao-2024\"}}"
    "]";

/* What is compared byte for byte: every plugin, one or two questions. */
static const struct {
    const char *plugin, *q;
} QUERIES[] = {
    {"poverty", "{\"unit\":\"60\",\"year\":2024}"},
    {"poverty", "{\"unit\":\"22924\",\"year\":2023}"},
    {"fund", "{\"unit\":\"60\"}"},
    {"fund", "{\"unit\":\"593\",\"year\":2024}"},
    {"standard", "{\"unit\":\"60\",\"year\":2024}"},
    {"relocation", "{\"unit\":\"60\"}"},
    {"credit", "{\"unit\":\"60\"}"},
    {"credit", "{\"unit\":\"593\",\"year\":2024}"},
    {"deadlines", "{}"},
    {"donors", "{\"unit\":\"60\",\"year\":2024}"},
    {"protection", "{\"unit\":\"60\",\"year\":2024}"},
    {"production", "{\"unit\":\"60\",\"year\":2024}"},
    {"budget", "{\"unit\":\"60\",\"year\":2024}"},
    {"commendations", "{\"unit\":\"60\"}"},
};
#define NQUERIES (sizeof QUERIES / sizeof QUERIES[0])

/* Raw msgpack results of QUERIES, in order. */
struct answers {
    char *data[NQUERIES];
    size_t len[NQUERIES];
};

static void answers_free(struct answers *a)
{
    for (size_t i = 0; i < NQUERIES; i++)
        free(a->data[i]);
    memset(a, 0, sizeof *a);
}

struct fixture {
    struct td d;
    char state_dir[400];
    char log_path[400];
    uint64_t last; /* the log's last sequence */
    struct answers before, after, fresh;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    if (f == NULL || td_init(&f->d) != 0) {
        free(f);
        return -1;
    }
    snprintf(f->state_dir, sizeof f->state_dir, "%s/" PT_DATA_STATE_SUBDIR,
             f->d.data_dir);
    snprintf(f->log_path, sizeof f->log_path, "%s/povtrackd.log", f->d.dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    td_destroy(&f->d);
    answers_free(&f->before);
    answers_free(&f->after);
    answers_free(&f->fresh);
    free(f);
    return 0;
}

/* ---- the daemon ---- */

static void ask_all(struct td *d, uint64_t min_seq, struct answers *out)
{
    for (size_t i = 0; i < NQUERIES; i++)
        out->data[i] = tj_query(d, QUERIES[i].plugin, QUERIES[i].q, min_seq,
                                TIMEOUT_MS, &out->len[i]);
}

static void assert_same_answers(const struct answers *a,
                                const struct answers *b, const char *what)
{
    for (size_t i = 0; i < NQUERIES; i++)
        if (a->len[i] != b->len[i] ||
            memcmp(a->data[i], b->data[i], a->len[i]) != 0)
            fail_msg("%s: %s %s answers differently", what, QUERIES[i].plugin,
                     QUERIES[i].q);
}

/* Every plugin runs (none quarantined) and has applied last. */
static void assert_all_running(struct td *d, uint64_t last)
{
    static const unsigned char req[] = {0x81, 0xa2, 'o', 'p', 0xa5,
                                        's',  't',  'a', 't', 's'};
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    assert_int_equal(td_request_raw(d, req, sizeof req, &up, TIMEOUT_MS), 0);
    const msgpack_object *ps = td_get(&up.data, "plugins");
    assert_non_null(ps);
    assert_int_equal(ps->type, MSGPACK_OBJECT_ARRAY);
    assert_int_equal(ps->via.array.size, NPLUGINS);
    for (uint32_t i = 0; i < ps->via.array.size; i++) {
        const msgpack_object *p = &ps->via.array.ptr[i];
        const msgpack_object *name = td_get(p, "name");
        assert_non_null(name);
        if (!td_str_eq(td_get(p, "status"), "running"))
            fail_msg("plugin %.*s is not running", (int)name->via.str.size,
                     name->via.str.ptr);
        assert_int_equal(td_get(p, "applied_seq")->via.u64, last);
    }
    msgpack_unpacked_destroy(&up);
}

/* Start the daemon with its standard error (and its children's) appended
 * to f->log_path. */
static void start_logged(struct fixture *f)
{
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    assert_true(saved >= 0);
    int fd = open(f->log_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
    assert_true(fd >= 0);
    assert_true(dup2(fd, STDERR_FILENO) >= 0);
    close(fd);
    int rc = td_start(&f->d, NULL);
    fflush(stderr);
    assert_true(dup2(saved, STDERR_FILENO) >= 0);
    close(saved);
    assert_int_equal(rc, 0);
}

/* The daemon's log since start_logged (the caller frees it). */
static char *read_log(const struct fixture *f)
{
    char *text = td_read_file(f->log_path);
    if (text == NULL)
        fail_msg("cannot read %s", f->log_path);
    return text;
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

/* The first run: start, publish EVENTS, remember the answers, stop. */
static void first_run(struct fixture *f)
{
    assert_int_equal(td_start(&f->d, NULL), 0);
    f->last = tj_publish_ok(&f->d, EVENTS, TIMEOUT_MS);
    ask_all(&f->d, f->last, &f->before);
    assert_all_running(&f->d, f->last);
    assert_int_equal(td_stop(&f->d), 0);
}

/* ---- the state, raw, while the daemon is stopped ---- */

/* A key no built-in plugin writes (none starts a key with 0xff). */
static const char MARKER[] = "\xffupgrade-test";

static MDB_env *state_open(const struct fixture *f)
{
    MDB_env *env;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 64), 0);
    assert_int_equal(mdb_env_open(env, f->state_dir, 0, PT_STATE_FILE_MODE), 0);
    return env;
}

static MDB_dbi db(MDB_txn *txn, const char *name)
{
    MDB_dbi dbi;
    assert_int_equal(mdb_dbi_open(txn, name, 0, &dbi), 0);
    return dbi;
}

static MDB_val key_of(const char *s)
{
    MDB_val k = {strlen(s), (void *)s};
    return k;
}

static void put_be(unsigned char *p, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char)v;
}

static uint64_t get_be(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* What the layouts database holds for plugin: 0 when nothing. */
static int layout_get(MDB_txn *txn, const char *plugin, uint32_t *layout,
                      uint64_t *seq)
{
    MDB_val k = key_of(plugin), v;
    int rc = mdb_get(txn, db(txn, PT_STATE_LAYOUTS_DB), &k, &v);
    if (rc == MDB_NOTFOUND)
        return 0;
    assert_int_equal(rc, 0);
    assert_int_equal(v.mv_size, PT_STATE_LAYOUT_LEN);
    *layout = (uint32_t)get_be(v.mv_data, 4);
    *seq = get_be((const unsigned char *)v.mv_data + 4, 8);
    return 1;
}

static void layout_put(MDB_txn *txn, const char *plugin, uint32_t layout,
                       uint64_t seq)
{
    unsigned char b[PT_STATE_LAYOUT_LEN];
    put_be(b, layout, 4);
    put_be(b + 4, seq, 8);
    MDB_val k = key_of(plugin), v = {sizeof b, b};
    assert_int_equal(mdb_put(txn, db(txn, PT_STATE_LAYOUTS_DB), &k, &v, 0), 0);
}

static void plant_marker(MDB_txn *txn, const char *plugin)
{
    char name[64];
    snprintf(name, sizeof name, "p.%s", plugin);
    MDB_val k = key_of(MARKER), v = {1, "x"};
    assert_int_equal(mdb_put(txn, db(txn, name), &k, &v, 0), 0);
}

static int has_marker(MDB_txn *txn, const char *plugin)
{
    char name[64];
    snprintf(name, sizeof name, "p.%s", plugin);
    MDB_val k = key_of(MARKER), v;
    int rc = mdb_get(txn, db(txn, name), &k, &v);
    assert_true(rc == 0 || rc == MDB_NOTFOUND);
    return rc == 0;
}

/* Every plugin's cursor, read as `povtrack verify` reads it, is last, and
 * the layout recorded beside it is the plugin's, at that cursor. */
static void assert_cursors_and_layouts(const struct fixture *f)
{
    MDB_env *env;
    char err[512];
    assert_int_equal(
        pt_state_open_readonly(f->state_dir, 0, &env, err, sizeof err), 0);
    struct pt_state_cursors cs;
    assert_int_equal(pt_state_read_cursors(env, &cs, err, sizeof err), 0);
    assert_int_equal(cs.n, NPLUGINS);
    for (size_t i = 0; i < cs.n; i++) {
        assert_true(cs.v[i].valid);
        assert_int_equal(cs.v[i].seq, f->last);
    }
    pt_state_cursors_free(&cs);
    mdb_env_close(env);

    env = state_open(f);
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
    for (size_t i = 0; i < NPLUGINS; i++) {
        uint32_t layout = 0;
        uint64_t seq = 0;
        if (!layout_get(txn, PLUGINS[i].name, &layout, &seq))
            fail_msg("no layout recorded for %s", PLUGINS[i].name);
        assert_int_equal(layout, PLUGINS[i].layout);
        assert_int_equal(seq, f->last);
    }
    mdb_txn_abort(txn);
    mdb_env_close(env);
}

/* ---- the tests ---- */

static int is_rebuilt(const char *name)
{
    return strcmp(name, "fund") == 0 || strcmp(name, "credit") == 0 ||
           strcmp(name, "relocation") == 0;
}

static void test_old_layouts_rebuilt(void **state)
{
    struct fixture *f = *state;
    struct td *d = &f->d;
    first_run(f);
    /* A fresh state recorded every layout with its first commit. */
    assert_cursors_and_layouts(f);

    /* Make it look like an upgrade; mark every plugin's state. */
    MDB_env *env = state_open(f);
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    layout_put(txn, "fund", 1, f->last);
    MDB_val k = key_of("credit");
    assert_int_equal(mdb_del(txn, db(txn, PT_STATE_LAYOUTS_DB), &k, NULL), 0);
    layout_put(txn, "relocation", 2, f->last - 3);
    for (size_t i = 0; i < NPLUGINS; i++)
        plant_marker(txn, PLUGINS[i].name);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);

    start_logged(f);
    ask_all(d, f->last, &f->after);
    assert_all_running(d, f->last);
    assert_int_equal(td_stop(d), 0);

    char *log = read_log(f);
    if (count(log, "plugin fund: state layout 1 was written by an older "
                   "version (this one writes 3): rebuilding it from the "
                   "log") != 1 ||
        count(log, "plugin credit: its state records no layout") != 1 ||
        count(log, "plugin relocation: its state was recorded with layout 2 "
                   "at seq") != 1 ||
        count(log, "rebuilding it from the log") != 3 ||
        count(log, "quarantined") != 0)
        fail_msg("unexpected daemon log:\n%s", log);
    free(log);

    /* Only those three lost their state. */
    env = state_open(f);
    assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
    for (size_t i = 0; i < NPLUGINS; i++)
        if (has_marker(txn, PLUGINS[i].name) == is_rebuilt(PLUGINS[i].name))
            fail_msg("%s was %s", PLUGINS[i].name,
                     is_rebuilt(PLUGINS[i].name) ? "not rebuilt"
                                                 : "rebuilt as well");
    mdb_txn_abort(txn);
    mdb_env_close(env);
    assert_cursors_and_layouts(f);

    /* `povtrack verify` reads that state's cursors. */
    char out[4096], err[4096];
    int vrc =
        td_cli_run(d->dir, (const char *[]){"verify", "-d", d->data_dir, NULL},
                   out, sizeof out, err, sizeof err);
    if (vrc != 0 || strstr(out, "verify OK") == NULL)
        fail_msg("verify: exit %d:\n%s%s", vrc, out, err);

    /* A fresh rebuild of everything answers the same, byte for byte. */
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->state_dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(td_start(d, NULL), 0);
    ask_all(d, f->last, &f->fresh);
    assert_all_running(d, f->last);
    assert_int_equal(td_stop(d), 0);
    assert_same_answers(&f->after, &f->fresh, "after the layout rebuild");
    assert_same_answers(&f->before, &f->fresh, "before the upgrade");
}

static void test_same_layouts_kept(void **state)
{
    struct fixture *f = *state;
    struct td *d = &f->d;
    first_run(f);
    MDB_env *env = state_open(f);
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    for (size_t i = 0; i < NPLUGINS; i++)
        plant_marker(txn, PLUGINS[i].name);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);

    start_logged(f);
    ask_all(d, f->last, &f->after);
    assert_all_running(d, f->last);
    assert_int_equal(td_stop(d), 0);

    char *log = read_log(f);
    if (count(log, "rebuilding it from the log") != 0 ||
        count(log, "quarantined") != 0)
        fail_msg("unexpected daemon log:\n%s", log);
    free(log);
    env = state_open(f);
    assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
    for (size_t i = 0; i < NPLUGINS; i++)
        if (!has_marker(txn, PLUGINS[i].name))
            fail_msg("%s was rebuilt", PLUGINS[i].name);
    mdb_txn_abort(txn);
    mdb_env_close(env);
    assert_cursors_and_layouts(f);
    assert_same_answers(&f->before, &f->after, "after a plain restart");
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_old_layouts_rebuilt, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_same_layouts_kept, setup,
                                        teardown),
    };
    return cmocka_run_group_tests_name("upgrade", tests, NULL, NULL);
}
