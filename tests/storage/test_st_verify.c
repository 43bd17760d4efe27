/*
 * test_st_verify.c - the log checker (st_verify.h) on logs built with the
 * storage API, then damaged with raw LMDB writes: each damage must fail
 * the check it breaks, with a message naming the place, and leave the other
 * checks passing where they can.
 *
 * Events are real catalogue events (decoded and canonically encoded by the
 * events module), since the checker validates them.  Every test runs in a
 * fresh mkdtemp directory, removed afterwards.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <cmocka.h>

#include <lmdb.h>
#include <msgpack.h>

#include "harness.h"
#include "st_log.h"
#include "st_verify.h"

#define NEVENTS 50
#define PUB "test"
#define RECEIVED INT64_C(1700000000123456)

/* ---- events ---- */

static void pack_cstr(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str(pk, strlen(s));
    msgpack_pack_str_body(pk, s, strlen(s));
}

/* A donation.received event map; reversed packs the keys in the other
 * order (same meaning, not the canonical bytes). */
static void pack_donation(msgpack_sbuffer *sb, const char *id, int64_t amount,
                          bool reversed)
{
    msgpack_packer pk;

    msgpack_sbuffer_init(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 6);
    for (int i = 0; i < 6; i++) {
        switch (reversed ? 5 - i : i) {
        case 0:
            pack_cstr(&pk, "v");
            msgpack_pack_int(&pk, 1);
            break;
        case 1:
            pack_cstr(&pk, "id");
            pack_cstr(&pk, id);
            break;
        case 2:
            pack_cstr(&pk, "type");
            pack_cstr(&pk, "donation.received");
            break;
        case 3:
            pack_cstr(&pk, "at");
            msgpack_pack_int64(&pk, 1730000000);
            break;
        case 4:
            pack_cstr(&pk, "unit");
            pack_cstr(&pk, "60");
            break;
        default:
            pack_cstr(&pk, "data");
            msgpack_pack_map(&pk, 4);
            pack_cstr(&pk, "amount");
            msgpack_pack_int64(&pk, amount);
            pack_cstr(&pk, "donor");
            pack_cstr(&pk, "Cong ty A");
            pack_cstr(&pk, "donor_kind");
            pack_cstr(&pk, "business");
            pack_cstr(&pk, "level");
            pack_cstr(&pk, "province");
            break;
        }
    }
}

/* An event decoded by the events module and its canonical bytes. */
struct evb {
    msgpack_sbuffer raw;
    msgpack_unpacked up;
    struct ev_event ev;
    msgpack_sbuffer canon;
};

static void evb_make(struct evb *b, const char *id, int64_t amount)
{
    struct ev_error err = {{0}};
    msgpack_packer pk;
    size_t off = 0;

    pack_donation(&b->raw, id, amount, false);
    msgpack_unpacked_init(&b->up);
    assert_int_equal(
        msgpack_unpack_next(&b->up, b->raw.data, b->raw.size, &off),
        MSGPACK_UNPACK_SUCCESS);
    if (ev_decode(&b->up.data, INT64_MAX, &b->ev, &err) != 0)
        fail_msg("test event does not decode: %s", err.msg);
    msgpack_sbuffer_init(&b->canon);
    msgpack_packer_init(&pk, &b->canon, msgpack_sbuffer_write);
    assert_int_equal(ev_encode(&b->ev, &pk), 0);
}

static void evb_free(struct evb *b)
{
    msgpack_unpacked_destroy(&b->up);
    msgpack_sbuffer_destroy(&b->raw);
    msgpack_sbuffer_destroy(&b->canon);
}

/* A log in dir holding ev-1 .. ev-n at seq 1 .. n. */
static void build_log(const char *dir, int n)
{
    /* At least one element: calloc(0) may return NULL. */
    struct evb *b = calloc((size_t)n + 1, sizeof(*b));
    struct st_item *items = calloc((size_t)n + 1, sizeof(*items));
    struct st_log *log;
    char id[32];

    assert_non_null(b);
    assert_non_null(items);
    log = sth_open(dir, 0, 0);
    for (int i = 0; i < n; i++) {
        snprintf(id, sizeof(id), "ev-%d", i + 1);
        evb_make(&b[i], id, 1000 + i);
        sth_item(&items[i], &b[i].ev, b[i].canon.data, b[i].canon.size, PUB);
    }
    sth_append_stored(log, RECEIVED, items, (size_t)n, NULL, 1);
    for (int i = 0; i < n; i++)
        evb_free(&b[i]);
    st_log_close(log);
    free(items);
    free(b);
}

/* Verify dir through a read-only handle, as `povtrack verify` does. */
static void verify_dir(const char *dir, struct st_verify_report *rep)
{
    struct st_log *log = sth_open(dir, ST_OPEN_READONLY, 0);
    int rc = st_verify(log, rep, NULL, NULL);

    st_log_close(log);
    if (rc != 0)
        fail_msg("st_verify: %s", st_strerror(rc));
}

/* Check c failed n times, with a first message containing each of the
 * NULL-terminated parts. */
static void expect_fail(const struct st_verify_report *rep,
                        enum st_verify_check c, uint64_t n, ...)
{
    const struct st_verify_outcome *o = &rep->check[c];
    const char *part;
    va_list ap;

    if (o->failed != n)
        fail_msg("check %s: %llu failures (\"%s\"), expected %llu",
                 st_verify_check_name(c), (unsigned long long)o->failed,
                 o->first, (unsigned long long)n);
    va_start(ap, n);
    while ((part = va_arg(ap, const char *)) != NULL)
        if (strstr(o->first, part) == NULL) {
            va_end(ap);
            fail_msg("check %s: message \"%s\" lacks \"%s\"",
                     st_verify_check_name(c), o->first, part);
        }
    va_end(ap);
}

static void expect_pass(const struct st_verify_report *rep,
                        enum st_verify_check c)
{
    const struct st_verify_outcome *o = &rep->check[c];

    if (o->failed != 0 || o->first[0] != '\0')
        fail_msg("check %s failed %llu times: %s", st_verify_check_name(c),
                 (unsigned long long)o->failed, o->first);
}

/* ---- raw LMDB damage (the st_log handle is closed meanwhile: one
 * environment is never open twice in a process) ---- */

struct raw {
    MDB_env *env;
    MDB_txn *txn;
};

static MDB_dbi raw_begin(struct raw *r, const char *dir, const char *db)
{
    MDB_dbi dbi;

    assert_int_equal(mdb_env_create(&r->env), 0);
    assert_int_equal(mdb_env_set_maxdbs(r->env, 8), 0);
    assert_int_equal(mdb_env_open(r->env, dir, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(r->env, NULL, 0, &r->txn), 0);
    assert_int_equal(mdb_dbi_open(r->txn, db, 0, &dbi), 0);
    return dbi;
}

static void raw_commit(struct raw *r)
{
    assert_int_equal(mdb_txn_commit(r->txn), 0);
    mdb_env_close(r->env);
}

static void seq_key(unsigned char kb[8], uint64_t seq)
{
    for (int i = 7; i >= 0; i--, seq >>= 8)
        kb[i] = (unsigned char)seq;
}

static void raw_del_seq(const char *dir, uint64_t seq)
{
    struct raw r;
    unsigned char kb[8];
    MDB_dbi dbi = raw_begin(&r, dir, "events");
    MDB_val k = {8, kb};

    seq_key(kb, seq);
    assert_int_equal(mdb_del(r.txn, dbi, &k, NULL), 0);
    raw_commit(&r);
}

static void raw_del_id(const char *dir, const char *id)
{
    struct raw r;
    MDB_dbi dbi = raw_begin(&r, dir, "ids");
    MDB_val k = {strlen(id), (void *)id};

    assert_int_equal(mdb_del(r.txn, dbi, &k, NULL), 0);
    raw_commit(&r);
}

static void raw_put_id(const char *dir, const char *id, uint64_t seq)
{
    struct raw r;
    unsigned char vb[8];
    MDB_dbi dbi = raw_begin(&r, dir, "ids");
    MDB_val k = {strlen(id), (void *)id}, v = {8, vb};

    seq_key(vb, seq);
    assert_int_equal(mdb_put(r.txn, dbi, &k, &v, 0), 0);
    raw_commit(&r);
}

/* Replace the event bytes of record seq, keeping its header. */
static void raw_put_event(const char *dir, uint64_t seq, const void *ev,
                          size_t len)
{
    struct raw r;
    unsigned char kb[8], val[512];
    size_t hdr = 9 + sizeof(PUB) - 1;
    MDB_dbi dbi = raw_begin(&r, dir, "events");
    MDB_val k = {8, kb}, v;

    assert_true(hdr + len <= sizeof(val));
    seq_key(kb, seq);
    assert_int_equal(mdb_get(r.txn, dbi, &k, &v), 0);
    assert_true(v.mv_size > hdr);
    memcpy(val, v.mv_data, hdr);
    memcpy(val + hdr, ev, len);
    v.mv_data = val;
    v.mv_size = hdr + len;
    assert_int_equal(mdb_put(r.txn, dbi, &k, &v, 0), 0);
    raw_commit(&r);
}

/* ---- tests ---- */

static void test_healthy_log_passes(void **state)
{
    struct fx *f = *state;
    struct st_verify_report rep;

    build_log(f->dir, NEVENTS);
    verify_dir(f->dir, &rep);
    for (int c = 0; c < ST_VERIFY_NCHECKS; c++)
        expect_pass(&rep, (enum st_verify_check)c);
    assert_int_equal(rep.last_seq, NEVENTS);
    assert_int_equal(rep.records, NEVENTS);
    assert_int_equal(rep.index_entries, NEVENTS);
    assert_int_equal(rep.check[ST_VERIFY_SEQUENCE].checked, NEVENTS);
    assert_int_equal(rep.check[ST_VERIFY_RECORDS].checked, NEVENTS);
    assert_int_equal(rep.check[ST_VERIFY_IDS].checked, NEVENTS);
}

static void test_empty_log_passes(void **state)
{
    struct fx *f = *state;
    struct st_verify_report rep;

    build_log(f->dir, 0);
    verify_dir(f->dir, &rep);
    for (int c = 0; c < ST_VERIFY_NCHECKS; c++)
        expect_pass(&rep, (enum st_verify_check)c);
    assert_int_equal(rep.last_seq, 0);
    assert_int_equal(rep.records, 0);
}

static void test_missing_index_entry(void **state)
{
    struct fx *f = *state;
    struct st_verify_report rep;

    build_log(f->dir, NEVENTS);
    raw_del_id(f->dir, "ev-7");
    verify_dir(f->dir, &rep);
    expect_pass(&rep, ST_VERIFY_SEQUENCE);
    expect_pass(&rep, ST_VERIFY_RECORDS);
    expect_fail(&rep, ST_VERIFY_IDS, 1, "seq 7", "\"ev-7\"", "not indexed",
                NULL);
    assert_int_equal(rep.index_entries, NEVENTS - 1);
}

static void test_missing_record(void **state)
{
    struct fx *f = *state;
    struct st_verify_report rep;

    build_log(f->dir, NEVENTS);
    raw_del_seq(f->dir, 5);
    verify_dir(f->dir, &rep);
    expect_fail(&rep, ST_VERIFY_SEQUENCE, 1, "seq 5 is missing", NULL);
    expect_pass(&rep, ST_VERIFY_RECORDS);
    /* Its index entry now points at nothing. */
    expect_fail(&rep, ST_VERIFY_IDS, 1, "\"ev-5\"", "seq 5", "not in the log",
                NULL);
    assert_int_equal(rep.records, NEVENTS - 1);
    assert_int_equal(rep.last_seq, NEVENTS);
}

static void test_missing_first_records(void **state)
{
    struct fx *f = *state;
    struct st_verify_report rep;

    build_log(f->dir, NEVENTS);
    raw_del_seq(f->dir, 1);
    raw_del_seq(f->dir, 2);
    raw_del_id(f->dir, "ev-1");
    raw_del_id(f->dir, "ev-2");
    verify_dir(f->dir, &rep);
    expect_fail(&rep, ST_VERIFY_SEQUENCE, 2, "seq 1..2 are missing", NULL);
    expect_pass(&rep, ST_VERIFY_RECORDS);
    expect_pass(&rep, ST_VERIFY_IDS);
}

static void test_corrupt_record(void **state)
{
    struct fx *f = *state;
    struct st_verify_report rep;
    /* A map header declaring 15 pairs, then nothing. */
    static const unsigned char junk[] = {0x8f, 0xa1, 'x'};

    build_log(f->dir, NEVENTS);
    raw_put_event(f->dir, 3, junk, sizeof(junk));
    verify_dir(f->dir, &rep);
    expect_pass(&rep, ST_VERIFY_SEQUENCE);
    expect_fail(&rep, ST_VERIFY_RECORDS, 1, "seq 3", "not msgpack", NULL);
    /* Its id cannot be read; the entry pointing at it is not held against
     * the index. */
    expect_pass(&rep, ST_VERIFY_IDS);
    assert_int_equal(rep.check[ST_VERIFY_IDS].checked, NEVENTS - 1);
}

static void test_invalid_event(void **state)
{
    struct fx *f = *state;
    struct st_verify_report rep;
    msgpack_sbuffer sb;

    build_log(f->dir, NEVENTS);
    pack_donation(&sb, "ev-9", -5, false); /* amount must be positive */
    raw_put_event(f->dir, 9, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
    verify_dir(f->dir, &rep);
    expect_pass(&rep, ST_VERIFY_SEQUENCE);
    expect_fail(&rep, ST_VERIFY_RECORDS, 1, "seq 9", "does not validate",
                "data.amount", NULL);
    expect_pass(&rep, ST_VERIFY_IDS);
}

static void test_non_canonical_event(void **state)
{
    struct fx *f = *state;
    struct st_verify_report rep;
    msgpack_sbuffer sb;
    struct evb b;

    build_log(f->dir, NEVENTS);
    evb_make(&b, "ev-11", 1010);
    pack_donation(&sb, "ev-11", 1010, true);
    /* Same event, other bytes: otherwise this test proves nothing. */
    assert_false(sb.size == b.canon.size &&
                 memcmp(sb.data, b.canon.data, sb.size) == 0);
    raw_put_event(f->dir, 11, sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
    evb_free(&b);
    verify_dir(f->dir, &rep);
    expect_pass(&rep, ST_VERIFY_SEQUENCE);
    expect_fail(&rep, ST_VERIFY_RECORDS, 1, "seq 11", "canonical", NULL);
    expect_pass(&rep, ST_VERIFY_IDS);
}

static void test_stray_index_entry(void **state)
{
    struct fx *f = *state;
    struct st_verify_report rep;

    build_log(f->dir, NEVENTS);
    raw_put_id(f->dir, "ghost", 3);
    verify_dir(f->dir, &rep);
    expect_pass(&rep, ST_VERIFY_SEQUENCE);
    expect_pass(&rep, ST_VERIFY_RECORDS);
    expect_fail(&rep, ST_VERIFY_IDS, 1, "\"ghost\"", "seq 3", "\"ev-3\"", NULL);
    assert_int_equal(rep.index_entries, NEVENTS + 1);
}

static void test_index_points_elsewhere(void **state)
{
    struct fx *f = *state;
    struct st_verify_report rep;

    build_log(f->dir, NEVENTS);
    raw_put_id(f->dir, "ev-4", 9);
    verify_dir(f->dir, &rep);
    expect_pass(&rep, ST_VERIFY_SEQUENCE);
    expect_pass(&rep, ST_VERIFY_RECORDS);
    /* Record 4 lost its entry, and the entry names a record with another
     * id: two failures, the first found in sequence order. */
    expect_fail(&rep, ST_VERIFY_IDS, 2, "\"ev-4\"", "seq 4", "indexed at seq 9",
                NULL);
}

static void test_duplicate_id_in_log(void **state)
{
    struct fx *f = *state;
    struct st_verify_report rep;
    struct evb b;

    /* Record 20 rewritten to carry the id of record 2 (keeping the event
     * valid): one id, two records, one entry. */
    build_log(f->dir, NEVENTS);
    evb_make(&b, "ev-2", 4242);
    raw_put_event(f->dir, 20, b.canon.data, b.canon.size);
    evb_free(&b);
    raw_del_id(f->dir, "ev-20");
    verify_dir(f->dir, &rep);
    expect_pass(&rep, ST_VERIFY_SEQUENCE);
    expect_pass(&rep, ST_VERIFY_RECORDS);
    expect_fail(&rep, ST_VERIFY_IDS, 1, "\"ev-2\" of seq 20",
                "indexed at seq 2", NULL);
}

struct prog {
    uint64_t calls, last_done, last_total;
};

static void on_progress(void *arg, uint64_t done, uint64_t total)
{
    struct prog *p = arg;

    assert_true(done >= p->last_done);
    p->calls++;
    p->last_done = done;
    p->last_total = total;
}

/* On the writer's own handle, with progress: the checker counts as a
 * reader, and the writer can append again afterwards. */
static void test_writer_handle_and_progress(void **state)
{
    struct fx *f = *state;
    struct st_verify_report rep;
    struct st_log *log;
    struct prog p = {0, 0, 0};

    build_log(f->dir, NEVENTS);
    log = sth_open(f->dir, 0, 0);
    assert_int_equal(st_verify(log, &rep, on_progress, &p), 0);
    for (int c = 0; c < ST_VERIFY_NCHECKS; c++)
        expect_pass(&rep, (enum st_verify_check)c);
    assert_true(p.calls >= 1);
    assert_int_equal(p.last_done, NEVENTS);
    assert_int_equal(p.last_total, NEVENTS);
    st_log_close(log);
    assert_int_equal(st_verify(NULL, &rep, NULL, NULL), ST_EINVAL);
    assert_string_equal(st_verify_check_name(ST_VERIFY_IDS), "ids");
    assert_null(st_verify_check_name(ST_VERIFY_NCHECKS));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        STH_TEST(test_healthy_log_passes),
        STH_TEST(test_empty_log_passes),
        STH_TEST(test_missing_index_entry),
        STH_TEST(test_missing_record),
        STH_TEST(test_missing_first_records),
        STH_TEST(test_corrupt_record),
        STH_TEST(test_invalid_event),
        STH_TEST(test_non_canonical_event),
        STH_TEST(test_stray_index_entry),
        STH_TEST(test_index_points_elsewhere),
        STH_TEST(test_duplicate_id_in_log),
        STH_TEST(test_writer_handle_and_progress),
    };
    return cmocka_run_group_tests_name("storage_verify", tests, NULL, NULL);
}
