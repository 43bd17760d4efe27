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

/* tests/events: the unit event builders test_st_units.c uses too. */
#include "../events/ev_builders.h"
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
    struct ev_error err = {0};
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

/* ---- the units check: a log with unit events ---- */

/* Local (UTC+7) midnights. */
#define E TEV_AT                   /* 2025-07-01 */
#define D_2024 INT64_C(1717174800) /* 2024-06-01 */
#define D_2026 INT64_C(1767200400) /* 2026-01-01 */

/* Append t[0..n) with the reference checks ingest runs, stored in their
 * canonical form at seqs first, first + 1, ...; then free them. */
static void append_tevs(struct st_log *log, uint64_t first, struct tev **t,
                        size_t n)
{
    struct st_item items[8];
    msgpack_sbuffer canon[8];

    assert_true(n <= 8);
    for (size_t i = 0; i < n; i++) {
        msgpack_packer pk;

        msgpack_sbuffer_init(&canon[i]);
        msgpack_packer_init(&pk, &canon[i], msgpack_sbuffer_write);
        assert_int_equal(ev_encode(&t[i]->ev, &pk), 0);
        sth_item(&items[i], &t[i]->ev, canon[i].data, canon[i].size, PUB);
    }
    sth_append_stored(log, RECEIVED, items, n, st_check_refs, first);
    for (size_t i = 0; i < n; i++) {
        msgpack_sbuffer_destroy(&canon[i]);
        tev_free(t[i]);
    }
}

/* Seqs 1..6: Bình Thuận (60), Lâm Đồng (68), Phan Thiết (593) and three
 * of its communes; 7: a review of 22936 in 2024. */
static void append_phan_thiet_base(struct st_log *log)
{
    struct tev *t[] = {
        tev_defined("def-60", "60", "Bình Thuận", NULL, TEV_NO_EFF),
        tev_defined("def-68", "68", "Lâm Đồng", NULL, TEV_NO_EFF),
        tev_defined("def-593", "593", "Phan Thiết", "60", TEV_NO_EFF),
        tev_defined("def-22921", "22921", "Phú Hài", "593", TEV_NO_EFF),
        tev_defined("def-22924", "22924", "Phú Thủy", "593", TEV_NO_EFF),
        tev_defined("def-22936", "22936", "Thanh Hải", "593", TEV_NO_EFF),
    };
    struct tev *r[] = {tev_review("rv-1", "22936", D_2024)};

    append_tevs(log, 1, t, 6);
    append_tevs(log, 7, r, 1);
}

/*
 * The reorganisation of 1 July 2025 (tests/storage/test_st_units.c):
 *   1-7   the base above
 *   8     merge 22921, 22924, 22936 into 22924 (Phường Phú Thủy, under 68)
 *   9     abolish the district 593
 *   10    a review of 22924 in 2026
 *   11    merge the province 60 into 68
 * Nine unit events; six codes in "units".
 */
static void build_phan_thiet(const char *dir)
{
    struct st_log *log = sth_open(dir, 0, 0);
    struct tev *t[] = {
        tev_changed("chg-1", "merge", "22924", E, "22921,22924,22936", "22924",
                    NULL, "Phường Phú Thủy", "68"),
        tev_changed("chg-2", "abolish", "593", E, "593", NULL, NULL, NULL,
                    NULL),
        tev_review("rv-2", "22924", D_2026),
        tev_changed("chg-3", "merge", "68", E, "60,68", "68", NULL, NULL, NULL),
    };

    append_phan_thiet_base(log);
    append_tevs(log, 8, t, 4);
    st_log_close(log);
}

/* The other checks pass: the damage is the units check's alone. */
static void expect_units_only(const struct st_verify_report *rep)
{
    expect_pass(rep, ST_VERIFY_SEQUENCE);
    expect_pass(rep, ST_VERIFY_RECORDS);
    expect_pass(rep, ST_VERIFY_IDS);
}

/* ---- raw writes to "units" and "unitseq" ---- */

static void raw_put_kv(const char *dir, const char *db, const void *key,
                       size_t klen, const void *val, size_t vlen)
{
    struct raw r;
    MDB_dbi dbi = raw_begin(&r, dir, db);
    MDB_val k = {klen, (void *)key}, v = {vlen, (void *)val};

    assert_int_equal(mdb_put(r.txn, dbi, &k, &v, 0), 0);
    raw_commit(&r);
}

static void raw_del_kv(const char *dir, const char *db, const void *key,
                       size_t klen)
{
    struct raw r;
    MDB_dbi dbi = raw_begin(&r, dir, db);
    MDB_val k = {klen, (void *)key};

    assert_int_equal(mdb_del(r.txn, dbi, &k, NULL), 0);
    raw_commit(&r);
}

static void raw_put_unitseq(const char *dir, uint64_t seq)
{
    unsigned char kb[8];

    seq_key(kb, seq);
    raw_put_kv(dir, "unitseq", kb, sizeof(kb), "", 0);
}

static void raw_del_unitseq(const char *dir, uint64_t seq)
{
    unsigned char kb[8];

    seq_key(kb, seq);
    raw_del_kv(dir, "unitseq", kb, sizeof(kb));
}

/* Empty "unitseq" (del 0) or remove it (del 1). */
static void raw_drop(const char *dir, const char *db, int del)
{
    struct raw r;
    MDB_dbi dbi = raw_begin(&r, dir, db);

    assert_int_equal(mdb_drop(r.txn, dbi, del), 0);
    raw_commit(&r);
}

static void pack_opt(msgpack_packer *pk, const char *s)
{
    if (s == NULL)
        msgpack_pack_nil(pk);
    else
        pack_s(pk, s);
}

/* A span as "units" stores it (NULL strings: nil). */
struct hspan {
    int64_t from, to; /* EV_TIME_MIN / EV_TIME_MAX: open */
    const char *name, *parent, *level, *ended_by, *successor;
    uint64_t since_seq, closed_seq;
};

static void put_history(const char *dir, const char *code,
                        const struct hspan *s, uint32_t n)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, n);
    for (uint32_t i = 0; i < n; i++) {
        msgpack_pack_array(&pk, 9);
        if (s[i].from == EV_TIME_MIN)
            msgpack_pack_nil(&pk);
        else
            msgpack_pack_int64(&pk, s[i].from);
        if (s[i].to == EV_TIME_MAX)
            msgpack_pack_nil(&pk);
        else
            msgpack_pack_int64(&pk, s[i].to);
        pack_s(&pk, s[i].name);
        pack_opt(&pk, s[i].parent);
        pack_s(&pk, s[i].level);
        pack_opt(&pk, s[i].ended_by);
        pack_opt(&pk, s[i].successor);
        msgpack_pack_uint64(&pk, s[i].since_seq);
        msgpack_pack_uint64(&pk, s[i].closed_seq);
    }
    raw_put_kv(dir, "units", code, strlen(code), sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
}

/* [name, parent|nil, level]: what a writer before histories stored. */
static void put_old_form(const char *dir, const char *code, const char *name,
                         const char *parent, const char *level)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 3);
    pack_s(&pk, name);
    pack_opt(&pk, parent);
    pack_s(&pk, level);
    raw_put_kv(dir, "units", code, strlen(code), sb.data, sb.size);
    msgpack_sbuffer_destroy(&sb);
}

/* The base log (seqs 1..7) as a writer before histories left it: every
 * value in the old form, no "unitseq" (drop 1) or an empty one (0). */
static void build_old_log(const char *dir, int drop)
{
    struct st_log *log = sth_open(dir, 0, 0);

    append_phan_thiet_base(log);
    st_log_close(log);
    put_old_form(dir, "60", "Bình Thuận", NULL, "province");
    put_old_form(dir, "68", "Lâm Đồng", NULL, "province");
    put_old_form(dir, "593", "Phan Thiết", "60", "district");
    put_old_form(dir, "22921", "Phú Hài", "593", "commune");
    put_old_form(dir, "22924", "Phú Thủy", "593", "commune");
    put_old_form(dir, "22936", "Thanh Hải", "593", "commune");
    raw_drop(dir, "unitseq", drop);
}

/* ---- tests of the units check ---- */

static void test_units_healthy(void **state)
{
    struct fx *f = *state;
    struct st_verify_report rep;

    build_phan_thiet(f->dir);
    verify_dir(f->dir, &rep);
    for (int c = 0; c < ST_VERIFY_NCHECKS; c++)
        expect_pass(&rep, (enum st_verify_check)c);
    assert_int_equal(rep.last_seq, 11);
    assert_int_equal(rep.unit_events, 9);
    assert_int_equal(rep.unit_entries, 6);
    assert_int_equal(rep.unitseq_entries, 9);
    assert_int_equal(rep.legacy_unit_events, 0);
    assert_int_equal(rep.unitseq_absent, 0);
    /* 9 unit events replayed + 6 stored histories compared. */
    assert_int_equal(rep.check[ST_VERIFY_UNITS].checked, 15);
    assert_string_equal(st_verify_check_name(ST_VERIFY_UNITS), "units");
}

static void test_units_wrong_parent(void **state)
{
    struct fx *f = *state;
    struct st_verify_report rep;
    const struct hspan s[] = {
        {EV_TIME_MIN, E, "Phú Hài", "60", "commune", "merge", "22924", 4, 8}};

    build_phan_thiet(f->dir);
    put_history(f->dir, "22921", s, 1);
    verify_dir(f->dir, &rep);
    expect_units_only(&rep);
    expect_fail(&rep, ST_VERIFY_UNITS, 1, "unit 22921", "span 0 parent",
                "stored \"60\", replayed \"593\"", "seq 8", NULL);
}

static void test_units_wrong_closed_seq(void **state)
{
    struct fx *f = *state;
    struct st_verify_report rep;
    const struct hspan s[] = {{EV_TIME_MIN, E, "Phan Thiết", "60", "district",
                               "abolish", NULL, 3, 10}};

    build_phan_thiet(f->dir);
    put_history(f->dir, "593", s, 1);
    verify_dir(f->dir, &rep);
    expect_units_only(&rep);
    expect_fail(&rep, ST_VERIFY_UNITS, 1, "unit 593", "span 0 closed_seq",
                "stored 10, replayed 9", NULL);
}

/* The history as it stood before the merge: one span too few. */
static void test_units_stale_history(void **state)
{
    struct fx *f = *state;
    struct st_verify_report rep;
    const struct hspan s[] = {{EV_TIME_MIN, EV_TIME_MAX, "Phú Thủy", "593",
                               "commune", NULL, NULL, 5, 0}};

    build_phan_thiet(f->dir);
    put_history(f->dir, "22924", s, 1);
    verify_dir(f->dir, &rep);
    expect_units_only(&rep);
    expect_fail(&rep, ST_VERIFY_UNITS, 1, "unit 22924",
                "1 spans stored, 2 replayed", NULL);
}

static void test_units_missing_entry(void **state)
{
    struct fx *f = *state;
    struct st_verify_report rep;

    build_phan_thiet(f->dir);
    raw_del_kv(f->dir, "units", "22936", 5);
    verify_dir(f->dir, &rep);
    expect_units_only(&rep);
    expect_fail(&rep, ST_VERIFY_UNITS, 1, "unit 22936",
                "missing from \"units\"", "seq 8", NULL);
    assert_int_equal(rep.unit_entries, 5);
    assert_int_equal(rep.check[ST_VERIFY_UNITS].checked, 9 + 5);
}

static void test_units_stray_entry(void **state)
{
    struct fx *f = *state;
    struct st_verify_report rep;
    const struct hspan s[] = {
        {EV_TIME_MIN, EV_TIME_MAX, "Ma", "68", "commune", NULL, NULL, 3, 0}};

    build_phan_thiet(f->dir);
    put_history(f->dir, "22999", s, 1);
    verify_dir(f->dir, &rep);
    expect_units_only(&rep);
    expect_fail(&rep, ST_VERIFY_UNITS, 1, "unit 22999",
                "no unit event of the log defines it", NULL);
    assert_int_equal(rep.unit_entries, 7);
}

static void test_units_corrupt_entry(void **state)
{
    struct fx *f = *state;
    struct st_verify_report rep;
    static const unsigned char junk[] = {0x91, 0xc0};

    build_phan_thiet(f->dir);
    raw_put_kv(f->dir, "units", "68", 2, junk, sizeof(junk));
    verify_dir(f->dir, &rep);
    expect_units_only(&rep);
    /* 68 absorbed 60 at seq 11 without changing: last changed by 2. */
    expect_fail(&rep, ST_VERIFY_UNITS, 1, "unit 68", "does not parse",
                "by seq 2", NULL);
}

static void test_units_missing_unitseq(void **state)
{
    struct fx *f = *state;
    struct st_verify_report rep;

    build_phan_thiet(f->dir);
    raw_del_unitseq(f->dir, 8);
    verify_dir(f->dir, &rep);
    expect_units_only(&rep);
    expect_fail(&rep, ST_VERIFY_UNITS, 1, "seq 8", "of 22924",
                "no \"unitseq\" entry", NULL);
    assert_int_equal(rep.unitseq_entries, 8);
}

/* The first entries gone: no stamp says "written before histories", so
 * the records before the first entry left are not taken for such. */
static void test_units_missing_first_unitseq(void **state)
{
    struct fx *f = *state;
    struct st_verify_report rep;

    build_phan_thiet(f->dir);
    raw_del_unitseq(f->dir, 1);
    raw_del_unitseq(f->dir, 2);
    verify_dir(f->dir, &rep);
    expect_units_only(&rep);
    expect_fail(&rep, ST_VERIFY_UNITS, 2, "seq 1", "of 60",
                "no \"unitseq\" entry", NULL);
    assert_int_equal(rep.legacy_unit_events, 0);
}

static void test_units_stray_unitseq(void **state)
{
    struct fx *f = *state;
    struct st_verify_report rep;

    build_phan_thiet(f->dir);
    raw_put_unitseq(f->dir, 7);
    verify_dir(f->dir, &rep);
    expect_units_only(&rep);
    expect_fail(&rep, ST_VERIFY_UNITS, 1, "\"unitseq\" names seq 7",
                "review.closed of 22936", "changes no unit", NULL);
    assert_int_equal(rep.unitseq_entries, 10);
}

static void test_units_unitseq_past_the_log(void **state)
{
    struct fx *f = *state;
    struct st_verify_report rep;

    build_phan_thiet(f->dir);
    raw_put_unitseq(f->dir, 40);
    verify_dir(f->dir, &rep);
    expect_units_only(&rep);
    expect_fail(&rep, ST_VERIFY_UNITS, 1, "seq 40", "not in the log", NULL);
}

/* A valid unit event the rules refuse where it stands (593 abolished while
 * its communes are under it), written over the review at seq 7 with the
 * review's id. */
static void test_units_refused_on_replay(void **state)
{
    struct fx *f = *state;
    struct st_verify_report rep;
    struct tev *t =
        tev_changed("rv-1", "abolish", "593", E, "593", NULL, NULL, NULL, NULL);
    msgpack_sbuffer canon;
    msgpack_packer pk;

    build_phan_thiet(f->dir);
    msgpack_sbuffer_init(&canon);
    msgpack_packer_init(&pk, &canon, msgpack_sbuffer_write);
    assert_int_equal(ev_encode(&t->ev, &pk), 0);
    raw_put_event(f->dir, 7, canon.data, canon.size);
    msgpack_sbuffer_destroy(&canon);
    tev_free(t);
    verify_dir(f->dir, &rep);
    expect_units_only(&rep);
    /* The refusal, and the unit event without its "unitseq" entry. */
    expect_fail(&rep, ST_VERIFY_UNITS, 2, "seq 7", "unit.changed of 593",
                "refused on replay", "still has", NULL);
    assert_int_equal(rep.unit_events, 10);
}

/* A log of a writer before histories: old-form values, no "unitseq". */
static void test_units_old_log(void **state)
{
    struct fx *f = *state;
    struct st_verify_report rep;

    build_old_log(f->dir, 1);
    verify_dir(f->dir, &rep);
    for (int c = 0; c < ST_VERIFY_NCHECKS; c++)
        expect_pass(&rep, (enum st_verify_check)c);
    assert_int_equal(rep.unit_events, 6);
    assert_int_equal(rep.unit_entries, 6);
    assert_int_equal(rep.legacy_unit_events, 6);
    assert_int_equal(rep.unitseq_absent, 1);
    assert_int_equal(rep.unitseq_entries, 0);
}

/* The same with an empty "unitseq" (as a writer of today adds it), then
 * that writer going on: spans begun before keep since_seq 0, what it
 * changes is stamped and versioned. */
static void test_units_old_log_continued(void **state)
{
    struct fx *f = *state;
    struct st_verify_report rep;
    struct st_log *log;

    build_old_log(f->dir, 0);
    verify_dir(f->dir, &rep);
    for (int c = 0; c < ST_VERIFY_NCHECKS; c++)
        expect_pass(&rep, (enum st_verify_check)c);
    assert_int_equal(rep.legacy_unit_events, 6);
    assert_int_equal(rep.unitseq_absent, 0);

    log = sth_open(f->dir, 0, 0);
    {
        struct tev *t[] = {
            tev_changed("mv-1", "reparent", "22936", E, "22936", NULL, NULL,
                        NULL, "60"),
            tev_changed("rn-1", "rename", "593", E, "593", NULL, NULL,
                        "Thành phố Phan Thiết", NULL),
        };
        append_tevs(log, 8, t, 2);
    }
    st_log_close(log);
    verify_dir(f->dir, &rep);
    for (int c = 0; c < ST_VERIFY_NCHECKS; c++)
        expect_pass(&rep, (enum st_verify_check)c);
    assert_int_equal(rep.unit_events, 8);
    assert_int_equal(rep.legacy_unit_events, 6);
    assert_int_equal(rep.unitseq_entries, 2);

    /* Only the old writer's spans may have since_seq 0. */
    {
        const struct hspan s[] = {
            {EV_TIME_MIN, E, "Thanh Hải", "593", "commune", NULL, NULL, 0, 8},
            {E, EV_TIME_MAX, "Thanh Hải", "60", "commune", NULL, NULL, 0, 0}};
        put_history(f->dir, "22936", s, 2);
    }
    verify_dir(f->dir, &rep);
    expect_units_only(&rep);
    expect_fail(&rep, ST_VERIFY_UNITS, 1, "unit 22936", "span 1 since_seq",
                "stored 0, replayed 8", NULL);
}

/* An old-form value passes only when it says what the replay says. */
static void test_units_old_log_wrong_name(void **state)
{
    struct fx *f = *state;
    struct st_verify_report rep;

    build_old_log(f->dir, 1);
    put_old_form(f->dir, "22924", "Phú Thuỷ", "593", "commune");
    verify_dir(f->dir, &rep);
    expect_units_only(&rep);
    expect_fail(&rep, ST_VERIFY_UNITS, 1, "unit 22924", "span 0 name",
                "stored \"Phú Thuỷ\", replayed \"Phú Thủy\"", NULL);
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
    assert_int_equal(st_verify(NULL, &rep, NULL, NULL), POVTRACK_EINVAL);
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
        STH_TEST(test_units_healthy),
        STH_TEST(test_units_wrong_parent),
        STH_TEST(test_units_wrong_closed_seq),
        STH_TEST(test_units_stale_history),
        STH_TEST(test_units_missing_entry),
        STH_TEST(test_units_stray_entry),
        STH_TEST(test_units_corrupt_entry),
        STH_TEST(test_units_missing_unitseq),
        STH_TEST(test_units_missing_first_unitseq),
        STH_TEST(test_units_stray_unitseq),
        STH_TEST(test_units_unitseq_past_the_log),
        STH_TEST(test_units_refused_on_replay),
        STH_TEST(test_units_old_log),
        STH_TEST(test_units_old_log_continued),
        STH_TEST(test_units_old_log_wrong_name),
    };
    return cmocka_run_group_tests_name("storage_verify", tests, NULL, NULL);
}
