/*
 * test_national.c - the national daemon ([national], README Many
 * provinces): a real povtrackd whose povtrack-mirror reads the streams of
 * two real provinces (povtrackds with [mirror] 60 and 68) on a real
 * three-node nats-server cluster (cluster.h).
 *
 *   exactly_once  both provinces load their units and import the same
 *                 spreadsheets (same file names, so the same ids in each
 *                 province), then take donations in six rounds; after each
 *                 round the national daemon's mirror or the national
 *                 povtrackd itself is SIGKILLed (in turn) once it has
 *                 moved on.  In the end the national log holds every
 *                 record of both provinces exactly once: per province the
 *                 origin sequences are 1..N without gap or duplicate, each
 *                 record with the province's received time and publisher
 *                 and its id under the province ("60/<id>"); and the
 *                 country's figures (unit 00: the fund's receipts, the
 *                 poverty plugin's poor and near-poor) are the sum of the
 *                 provinces' own.
 *   foreign_unit  province 68's log also holds units and a donation of
 *                 province 60's subtree: those records are not in the
 *                 national log, national.foreign_unit (critical) is
 *                 raised, the cursor moves past them, and 60's figures
 *                 nationally are 60's own.
 *
 * Waits are on the daemons' replies (stats, queries with min_seq), never
 * sleeps.
 */
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "cluster.h"
#include "daemon.h"
#include "st_log.h"

#define WAIT_MS 90000
#define OUT_MAX 65536
#define PLUGINS "poverty fund"

struct fx {
    struct td p60, p68, nat;
    struct tc c;
    char cfg60[420], cfg68[420], cfgnat[420];
    char out[OUT_MAX], err[OUT_MAX];
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    fputs(text, f);
    return fclose(f) == 0 ? 0 : -1;
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    char dir[420], text[1024];
    if (f == NULL || td_init(&f->p60) != 0 || td_init(&f->p68) != 0 ||
        td_init(&f->nat) != 0)
        return -1;
    *state = f;
    snprintf(dir, sizeof dir, "%s/nats", f->nat.dir);
    snprintf(f->cfg60, sizeof f->cfg60, "%s/povtrackd.ini", f->p60.dir);
    snprintf(f->cfg68, sizeof f->cfg68, "%s/povtrackd.ini", f->p68.dir);
    snprintf(f->cfgnat, sizeof f->cfgnat, "%s/povtrackd.ini", f->nat.dir);
    if (tc_start(&f->c, dir) != 0 ||
        tc_write_config(&f->c, f->cfg60, NULL, NULL) != 0 ||
        tc_write_config(&f->c, f->cfg68, "province = 68", NULL) != 0)
        return -1;
    snprintf(text, sizeof text, "[national]\nservers = %s\nprovinces = 60,68\n",
             f->c.urls);
    return write_file(f->cfgnat, text);
}

static int teardown(void **state)
{
    struct fx *f = *state;
    struct td *d[] = {&f->nat, &f->p60, &f->p68};
    for (size_t i = 0; i < 3; i++) {
        if (d[i]->pid > 0)
            td_stop(d[i]);
    }
    tc_stop(&f->c);
    for (size_t i = 0; i < 3; i++)
        td_destroy(d[i]);
    free(f);
    return 0;
}

static void start(struct td *d, const char *config)
{
    assert_int_equal(
        td_start_logged(
            d, (const char *[]){"-c", config, "--plugins", PLUGINS, NULL}),
        0);
}

/* povtrack CMD ARGS... against d: its exit status; output in f->out,
 * f->err. */
static int cli(struct fx *f, struct td *d, const char *cmd,
               const char *const *args)
{
    const char *argv[16] = {cmd, "--ingest", d->ingest, "--query", d->query};
    size_t n = 5;
    for (size_t i = 0; args[i] != NULL && n < 15; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    return td_cli_run(d->dir, argv, f->out, sizeof f->out, f->err,
                      sizeof f->err);
}

static void cli_ok(struct fx *f, struct td *d, const char *cmd,
                   const char *const *args)
{
    int rc = cli(f, d, cmd, args);
    if (rc != 0)
        fail_msg("povtrack %s %s: exit %d\n%s\n%s", cmd, args[0], rc, f->out,
                 f->err);
}

/* d's stats, as JSON (the caller decrefs), or NULL. */
static json_t *stats(struct fx *f, struct td *d)
{
    if (cli(f, d, "stats", (const char *[]){"--json", NULL}) != 0)
        return NULL;
    return json_loads(f->out, 0, NULL);
}

static uint64_t json_u64(const json_t *j, const char *key)
{
    return (uint64_t)json_integer_value(json_object_get(j, key));
}

static uint64_t last_seq(struct fx *f, struct td *d)
{
    json_t *j = stats(f, d);
    assert_non_null(j);
    uint64_t v = json_u64(j, "last_seq");
    json_decref(j);
    return v;
}

/* The national daemon's cursor of province (0 without an answer). */
static uint64_t cursor(struct fx *f, const char *province)
{
    json_t *j = stats(f, &f->nat);
    uint64_t v = 0;
    if (j != NULL)
        v = json_u64(json_object_get(json_object_get(j, "national"), province),
                     "cursor");
    json_decref(j);
    return v;
}

/* Until the national daemon's cursors are want60 and want68, its stream
 * last sequences too, and every plugin has applied its log. */
static void wait_caught_up(struct fx *f, uint64_t want60, uint64_t want68)
{
    int64_t deadline = mono_ms() + WAIT_MS;
    char last[256] = "";
    while (mono_ms() < deadline) {
        json_t *j = stats(f, &f->nat);
        if (j == NULL)
            continue;
        json_t *n = json_object_get(j, "national");
        json_t *a = json_object_get(n, "60"), *b = json_object_get(n, "68");
        int ok = json_u64(a, "cursor") == want60 &&
                 json_u64(b, "cursor") == want68 &&
                 json_u64(a, "stream_last_seq") == want60 &&
                 json_u64(b, "stream_last_seq") == want68 &&
                 json_u64(a, "lag_records") == 0 &&
                 json_u64(b, "lag_records") == 0;
        json_t *pl = json_object_get(j, "plugins");
        for (size_t i = 0; ok && i < json_array_size(pl); i++)
            ok = json_u64(json_array_get(pl, i), "applied_seq") ==
                 json_u64(j, "last_seq");
        snprintf(last, sizeof last,
                 "cursors %" PRIu64 "/%" PRIu64 ", want %" PRIu64 "/%" PRIu64,
                 json_u64(a, "cursor"), json_u64(b, "cursor"), want60, want68);
        json_decref(j);
        if (ok)
            return;
    }
    fail_msg("the national daemon did not catch up: %s", last);
}

static const char UNITS68[] = "code,name,type,parent,level\n"
                              "68,Tỉnh Lâm Đồng,Tỉnh,,province\n"
                              "672,Thành phố Đà Lạt,Thành phố,68,district\n"
                              "24778,Phường 1,Phường,672,commune\n"
                              "24781,Phường 2,Phường,672,commune\n";

/* The same sheets (file names, receipt numbers, household codes) in each
 * province, with its own units and amounts. */
static const char SHEET_HEAD[] =
    "STT,SỐ BIÊN LAI,NGÀY,HỌ VÀ TÊN,SỐ TIỀN,LOẠI,ĐƠN VỊ\n";
static const char *const SHEET[2][3] = {
    {"1,BL-001,17/10/2024,Nguyễn Văn An,1.500.000,Cá nhân,22957\n",
     "2,BL-002,18/10/2024,Trần Thị Bình,2.000.000,Cá nhân,22960\n",
     "3,BL-003,19/10/2024,Công ty TNHH Thanh Long,30.000.000,Doanh "
     "nghiệp,593\n"},
    {"1,BL-001,17/10/2024,Nguyễn Văn An,2.500.000,Cá nhân,24778\n",
     "2,BL-002,18/10/2024,Trần Thị Bình,4.000.000,Cá nhân,24781\n",
     "3,BL-003,19/10/2024,Công ty TNHH Đà Lạt,50.000.000,Doanh "
     "nghiệp,672\n"}};
static const char HOUSEHOLDS_HEAD[] = "MÃ HỘ,ĐƠN VỊ,NĂM,TÌNH TRẠNG,NGÀY\n";
static const char *const HOUSEHOLDS[2] = {
    "HN-001,22957,2024,Nghèo,10/12/2024\n"
    "HN-002,22957,2024,Cận nghèo,10/12/2024\n"
    "HN-003,22960,2024,Nghèo,10/12/2024\n",
    "HN-001,24778,2024,Nghèo,10/12/2024\n"
    "HN-002,24781,2024,Nghèo,10/12/2024\n"
    "HN-003,24781,2024,Cận nghèo,10/12/2024\n"};

/* Province k (0: 60, 1: 68) of d: its units, then the two sheets, from a
 * directory of its own under d's. */
static void load_province(struct fx *f, struct td *d, int k)
{
    char dir[400], units[460], sheet[460], households[460], text[2048];
    snprintf(dir, sizeof dir, "%s/sheets", d->dir);
    snprintf(units, sizeof units, "%s/units.csv", dir);
    snprintf(sheet, sizeof sheet, "%s/so-ung-ho-2024.csv", dir);
    snprintf(households, sizeof households, "%s/ho-ngheo-2024.csv", dir);
    assert_int_equal(mkdir(dir, 0700), 0);
    if (k == 0)
        cli_ok(f, d, "units",
               (const char *[]){"import",
                                POVTRACK_SOURCE_DIR
                                "/examples/clerk/units-phan-thiet.csv",
                                NULL});
    else {
        assert_int_equal(write_file(units, UNITS68), 0);
        cli_ok(f, d, "units", (const char *[]){"import", units, NULL});
    }
    snprintf(text, sizeof text, "%s%s%s%s", SHEET_HEAD, SHEET[k][0],
             SHEET[k][1], SHEET[k][2]);
    assert_int_equal(write_file(sheet, text), 0);
    cli_ok(f, d, "import-csv", (const char *[]){sheet, NULL});
    snprintf(text, sizeof text, "%s%s", HOUSEHOLDS_HEAD, HOUSEHOLDS[k]);
    assert_int_equal(write_file(households, text), 0);
    cli_ok(f, d, "import-csv",
           (const char *[]){households, "--type", "household.status", NULL});
}

/* n donations to unit of d in one request, ids bulk-<round>-<i>. */
static void publish(struct td *d, const char *unit, int round, int n)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, (uint32_t)n);
    for (int i = 0; i < n; i++) {
        char id[64];
        snprintf(id, sizeof id, "bulk-%d-%d", round, i);
        td_pack_event_head(&pk, id, "donation.received", 1730000000 + round,
                           unit, NULL);
        msgpack_pack_map(&pk, 4);
        td_pack_cstr(&pk, "amount");
        msgpack_pack_int64(&pk, 1000 + i);
        td_pack_cstr(&pk, "donor");
        td_pack_cstr(&pk, "Ủy ban Mặt trận Tổ quốc");
        td_pack_cstr(&pk, "donor_kind");
        td_pack_cstr(&pk, "organisation");
        td_pack_cstr(&pk, "level");
        td_pack_cstr(&pk, "commune");
    }
    assert_int_equal(td_ingest_ok(d, &sb, (uint32_t)n, 20000), 0);
    msgpack_sbuffer_destroy(&sb);
}

/* A figure of plugin's 2024 answer for unit from d, once it has applied
 * its whole log. */
static int64_t figure(struct fx *f, struct td *d, const char *plugin,
                      const char *unit, const char *key)
{
    char minseq[32], unit_kv[32];
    snprintf(minseq, sizeof minseq, "%" PRIu64, last_seq(f, d));
    snprintf(unit_kv, sizeof unit_kv, "unit=%s", unit);
    cli_ok(f, d, "query",
           (const char *[]){plugin, unit_kv, "year=2024", "--min-seq", minseq,
                            "--json", NULL});
    json_t *j = json_loads(f->out, 0, NULL);
    assert_non_null(j);
    json_t *v = json_object_get(json_object_get(j, "result"), key);
    if (!json_is_integer(v))
        fail_msg("%s unit=%s: no integer %s in %s", plugin, unit, key, f->out);
    int64_t n = json_integer_value(v);
    json_decref(j);
    return n;
}

/* The national log against the provinces' logs: every record of each
 * exactly once (origins 1..N, no gap, no duplicate), with the province's
 * received time and publisher and its id under the province; nothing
 * else but the country's unit.  Returns the records of the national
 * log. */
static uint64_t expect_exactly_once(struct fx *f, uint64_t n60, uint64_t n68)
{
    char dir[400];
    char err[512];
    struct st_log *nlog, *plog[2];
    struct st_reader *nr, *pr[2];
    const char *code[2] = {"60", "68"};
    struct td *prov[2] = {&f->p60, &f->p68};
    uint64_t want[2] = {n60, n68};
    unsigned char *seen[2];
    snprintf(dir, sizeof dir, "%s/log", f->nat.data_dir);
    assert_int_equal(st_log_open(dir, ST_OPEN_READONLY, &nlog, err, sizeof err),
                     0);
    assert_int_equal(st_reader_begin(nlog, &nr), 0);
    for (int k = 0; k < 2; k++) {
        snprintf(dir, sizeof dir, "%s/log", prov[k]->data_dir);
        assert_int_equal(
            st_log_open(dir, ST_OPEN_READONLY, &plog[k], err, sizeof err), 0);
        assert_int_equal(st_reader_begin(plog[k], &pr[k]), 0);
        seen[k] = calloc(want[k] + 1, 1);
        assert_non_null(seen[k]);
    }
    uint64_t count = 0, others = 0;
    struct st_record rec, orig;
    while (st_reader_next(nr, &rec) == 0) {
        struct st_origin o;
        count++;
        int rc = st_reader_origin(nr, rec.seq, &o);
        if (rc == POVTRACK_ENOTFOUND) {
            others++; /* the country's unit */
            continue;
        }
        assert_int_equal(rc, 0);
        int k = strcmp(o.province, "60") == 0 ? 0 : 1;
        assert_string_equal(o.province, code[k]);
        if (o.seq == 0 || o.seq > want[k])
            fail_msg("national seq %" PRIu64 ": origin %s/%" PRIu64
                     " beyond the province's log (%" PRIu64 ")",
                     rec.seq, o.province, o.seq, want[k]);
        if (seen[k][o.seq]++)
            fail_msg("province %s's record %" PRIu64 " twice (again at "
                     "national seq %" PRIu64 ")",
                     o.province, o.seq, rec.seq);
        assert_int_equal(st_reader_get(pr[k], o.seq, &orig), 0);
        assert_int_equal(rec.received, orig.received);
        assert_int_equal(rec.publisher.len, orig.publisher.len);
        assert_memory_equal(rec.publisher.ptr, orig.publisher.ptr,
                            orig.publisher.len);
        /* The id, namespaced: "<province>/" then the province's id. */
        msgpack_unpacked a, b;
        msgpack_unpacked_init(&a);
        msgpack_unpacked_init(&b);
        assert_int_equal(
            msgpack_unpack_next(&a, rec.event, rec.event_len, NULL),
            MSGPACK_UNPACK_SUCCESS);
        assert_int_equal(
            msgpack_unpack_next(&b, orig.event, orig.event_len, NULL),
            MSGPACK_UNPACK_SUCCESS);
        const msgpack_object *ida = td_get(&a.data, "id");
        const msgpack_object *idb = td_get(&b.data, "id");
        assert_non_null(ida);
        assert_non_null(idb);
        assert_int_equal(ida->via.str.size, idb->via.str.size + 3);
        assert_memory_equal(ida->via.str.ptr, code[k], 2);
        assert_int_equal(ida->via.str.ptr[2], '/');
        assert_memory_equal(ida->via.str.ptr + 3, idb->via.str.ptr,
                            idb->via.str.size);
        msgpack_unpacked_destroy(&a);
        msgpack_unpacked_destroy(&b);
    }
    for (int k = 0; k < 2; k++) {
        for (uint64_t s = 1; s <= want[k]; s++)
            if (!seen[k][s])
                fail_msg("province %s's record %" PRIu64
                         " is not in the national log",
                         code[k], s);
        uint64_t c = 0;
        assert_int_equal(st_reader_cursor(nr, code[k], &c), 0);
        assert_int_equal(c, want[k]);
        free(seen[k]);
        st_reader_end(pr[k]);
        st_log_close(plog[k]);
    }
    assert_int_equal(others, 1);
    assert_int_equal(count, n60 + n68 + 1);
    st_reader_end(nr);
    st_log_close(nlog);
    return count;
}

static void test_exactly_once(void **state)
{
    struct fx *f = *state;
    enum { ROUNDS = 6, PER_ROUND = 600 };
    start(&f->p60, f->cfg60);
    start(&f->p68, f->cfg68);
    load_province(f, &f->p60, 0);
    load_province(f, &f->p68, 1);
    start(&f->nat, f->cfgnat);
    for (int round = 0; round < ROUNDS; round++) {
        uint64_t before = cursor(f, "60");
        publish(&f->p60, "22957", round, PER_ROUND);
        publish(&f->p68, "24778", round, PER_ROUND);
        /* Once the national daemon is on its way through them. */
        int64_t deadline = mono_ms() + WAIT_MS;
        while (cursor(f, "60") <= before && mono_ms() < deadline)
            ;
        if (round % 2 == 0) {
            pid_t mirror = tc_mirror_pid(&f->nat);
            assert_true(mirror > 0);
            assert_int_equal(kill(mirror, SIGKILL), 0);
            assert_true(tc_wait_mirror_pid(&f->nat, mirror) > 0);
        } else {
            assert_int_equal(kill(f->nat.pid, SIGKILL), 0);
            assert_int_equal(waitpid(f->nat.pid, NULL, 0), f->nat.pid);
            f->nat.pid = 0;
            start(&f->nat, f->cfgnat);
        }
    }
    uint64_t n60 = last_seq(f, &f->p60), n68 = last_seq(f, &f->p68);
    wait_caught_up(f, n60, n68);
    expect_exactly_once(f, n60, n68);

    /* The country is the sum of its provinces. */
    static const struct {
        const char *plugin, *key;
    } figures[] = {{"fund", "received"},
                   {"fund", "donations"},
                   {"poverty", "poor"},
                   {"poverty", "near_poor"}};
    for (size_t i = 0; i < sizeof figures / sizeof figures[0]; i++) {
        int64_t a = figure(f, &f->p60, figures[i].plugin, "60", figures[i].key);
        int64_t b = figure(f, &f->p68, figures[i].plugin, "68", figures[i].key);
        int64_t country =
            figure(f, &f->nat, figures[i].plugin, "00", figures[i].key);
        int64_t na =
            figure(f, &f->nat, figures[i].plugin, "60", figures[i].key);
        if (country != a + b || na != a || a <= 0 || b <= 0)
            fail_msg("%s %s: 60 %" PRId64 ", 68 %" PRId64 ", country %" PRId64
                     " (60 nationally %" PRId64 ")",
                     figures[i].plugin, figures[i].key, a, b, country, na);
    }
    /* The national daemon takes no publisher's events. */
    msgpack_sbuffer sb;
    msgpack_unpacked up;
    char error[512] = "";
    msgpack_sbuffer_init(&sb);
    msgpack_unpacked_init(&up);
    td_pack_donations(&sb, "refused", 0, 1, 5000);
    assert_int_equal(td_ingest_raw(&f->nat, sb.data, sb.size, &up, 20000), 0);
    const msgpack_object *ack = &up.data.via.array.ptr[0];
    assert_true(td_str_eq(td_get(ack, "status"), "rejected"));
    assert_int_equal(td_str_copy(td_get(ack, "error"), error, sizeof error), 0);
    assert_memory_equal(error, "national: ", 10);
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_destroy(&sb);
}

/* How many alerts of code d's plugin host has stored (up to 1000). */
static size_t count_alerts(struct td *d, const char *code)
{
    static const unsigned char req[] = {0x81, 0xa2, 'o', 'p', 0xa6, 'a',
                                        'l',  'e',  'r', 't', 's'};
    msgpack_unpacked up;
    size_t n = 0;
    msgpack_unpacked_init(&up);
    assert_int_equal(td_request_raw(d, req, sizeof req, &up, 5000), 0);
    const msgpack_object *list = td_get(&up.data, "alerts");
    assert_non_null(list);
    for (uint32_t i = 0; i < list->via.array.size; i++)
        n += td_str_eq(td_get(&list->via.array.ptr[i], "code"), code);
    msgpack_unpacked_destroy(&up);
    return n;
}

/* The rejects of the national log: all, and those of province 68's
 * records from..to refused as foreign units. */
struct rejects {
    uint64_t n, foreign, from, to;
};

static int count_reject(void *arg, const struct st_reject *rj)
{
    struct rejects *r = arg;
    r->n++;
    r->foreign += strcmp(rj->code, "national.foreign_unit") == 0 &&
                  strcmp(rj->province, "68") == 0 &&
                  rj->origin_seq >= r->from && rj->origin_seq <= r->to;
    return 0;
}

static void test_foreign_unit(void **state)
{
    struct fx *f = *state;
    start(&f->p60, f->cfg60);
    start(&f->p68, f->cfg68);
    load_province(f, &f->p60, 0);
    load_province(f, &f->p68, 1);
    /* Province 68 also loads 60's units and takes a donation there. */
    cli_ok(f, &f->p68, "units",
           (const char *[]){"import",
                            POVTRACK_SOURCE_DIR
                            "/examples/clerk/units-phan-thiet.csv",
                            NULL});
    uint64_t foreign_from = last_seq(f, &f->p68) + 1;
    publish(&f->p68, "22957", 99, 1);
    publish(&f->p68, "24781", 100, 2); /* its own again */
    uint64_t n60 = last_seq(f, &f->p60), n68 = last_seq(f, &f->p68);
    start(&f->nat, f->cfgnat);
    wait_caught_up(f, n60, n68);
    assert_int_equal(
        tc_wait_alert(&f->nat, "national.foreign_unit", "critical"), 0);

    /* 68's records of 60's units (17 units, the donation) are not in the
     * national log; its own are. */
    char dir[400], err[512];
    struct st_log *nlog;
    struct st_reader *nr;
    snprintf(dir, sizeof dir, "%s/log", f->nat.data_dir);
    assert_int_equal(st_log_open(dir, ST_OPEN_READONLY, &nlog, err, sizeof err),
                     0);
    assert_int_equal(st_reader_begin(nlog, &nr), 0);
    struct st_record rec;
    uint64_t from68 = 0, foreign = 0;
    while (st_reader_next(nr, &rec) == 0) {
        struct st_origin o;
        if (st_reader_origin(nr, rec.seq, &o) != 0 || strcmp(o.province, "68"))
            continue;
        from68++;
        if (o.seq >= foreign_from - 17 && o.seq <= foreign_from)
            foreign++;
    }
    struct rejects rj = {0, 0, foreign_from - 17, foreign_from};
    assert_int_equal(st_reader_rejects(nr, 0, count_reject, &rj), 0);
    st_reader_end(nr);
    st_log_close(nlog);
    assert_int_equal(foreign, 0);
    assert_int_equal(from68, n68 - 18);
    assert_int_equal(rj.n, 18);
    assert_int_equal(rj.foreign, 18);
    /* One critical alert per refused record, raised once: a restart of the
     * national daemon raises none again. */
    int64_t deadline = mono_ms() + WAIT_MS;
    while (count_alerts(&f->nat, "national.foreign_unit") < 18 &&
           mono_ms() < deadline)
        ;
    assert_int_equal(count_alerts(&f->nat, "national.foreign_unit"), 18);
    assert_int_equal(td_stop(&f->nat), 0);
    start(&f->nat, f->cfgnat);
    wait_caught_up(f, n60, n68);
    /* The host ticks every second: over three of them, nothing raised
     * again (each look a request the daemon answers). */
    for (int64_t until = mono_ms() + 3000; mono_ms() < until;)
        assert_int_equal(count_alerts(&f->nat, "national.foreign_unit"), 18);
    /* 60's figures nationally are 60's own: the foreign donation counts
     * nowhere. */
    assert_int_equal(figure(f, &f->nat, "fund", "60", "received"),
                     figure(f, &f->p60, "fund", "60", "received"));
    assert_int_equal(figure(f, &f->nat, "fund", "00", "received"),
                     figure(f, &f->p60, "fund", "60", "received") +
                         figure(f, &f->p68, "fund", "68", "received"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_exactly_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_foreign_unit, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
