/*
 * test_st_amend.c - voids and corrections in the log (st_log.h: "amends",
 * st_view_target, st_reader_amends, st_reader_amended_before): a target
 * must be in the log, an original of the type named, never voided; a void
 * names the record's unit as it stands; corrections chain; the index
 * survives a restart and is read by readers.
 *
 * Events are built as structs and encoded with ev_encode, so the stored
 * bytes are canonical and decode again.  Appended without a check(): the
 * storage enforces the target's rules on its own, as it does a unit
 * change's.  Every test runs in a fresh mkdtemp directory (harness.h).
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

#include "harness.h"
#include "st_log.h"
#include "st_verify.h"

#define PUB "mttq-593"
#define RECEIVED INT64_C(1751302800000000)
#define AT INT64_C(1751302800)

/* One event and its canonical bytes. */
struct aev {
    struct ev_event ev;
    msgpack_sbuffer sb;
};

static void encode(struct aev *a)
{
    msgpack_packer pk;

    msgpack_sbuffer_init(&a->sb);
    msgpack_packer_init(&pk, &a->sb, msgpack_sbuffer_write);
    assert_int_equal(ev_encode(&a->ev, &pk), POVTRACK_OK);
}

/* A donation.received of amount to unit. */
static void donation(struct aev *a, const char *id, const char *unit,
                     int64_t amount)
{
    memset(a, 0, sizeof *a);
    a->ev.type = EV_DONATION_RECEIVED;
    a->ev.id = sth_str(id);
    a->ev.at = AT;
    a->ev.unit = sth_str(unit);
    a->ev.data.amount = amount;
    a->ev.data.donor = sth_str("Công ty A");
    a->ev.data.donor_kind = EV_DONOR_BUSINESS;
    a->ev.data.level = EV_LEVEL_COMMUNE;
    encode(a);
}

/* A correction of target (claimed to be of type) into a donation of amount
 * to unit. */
static void correction(struct aev *a, const char *id, const char *target,
                       enum ev_type type, const char *unit, int64_t amount)
{
    memset(a, 0, sizeof *a);
    a->ev.type = EV_RECORD_CORRECTED;
    a->ev.id = sth_str(id);
    a->ev.at = AT + 60;
    a->ev.unit = sth_str(unit);
    a->ev.data.target = sth_str(target);
    a->ev.data.target_type = type;
    a->ev.data.remark = sth_str("sai số tiền");
    a->ev.data.amount = amount;
    a->ev.data.donor = sth_str("Công ty A");
    a->ev.data.donor_kind = EV_DONOR_BUSINESS;
    a->ev.data.level = EV_LEVEL_COMMUNE;
    encode(a);
}

static void void_of(struct aev *a, const char *id, const char *target,
                    const char *unit)
{
    memset(a, 0, sizeof *a);
    a->ev.type = EV_RECORD_VOIDED;
    a->ev.id = sth_str(id);
    a->ev.at = AT + 120;
    a->ev.unit = sth_str(unit);
    a->ev.data.target = sth_str(target);
    a->ev.data.target_type = EV_DONATION_RECEIVED;
    a->ev.data.remark = sth_str("hàng trùng");
    encode(a);
}

/* Append one event alone; its status, and its error in err. */
static enum st_item_status put(struct st_log *log, struct aev *a, char *err,
                               size_t errlen)
{
    struct st_item it;

    sth_item(&it, &a->ev, a->sb.data, a->sb.size, PUB);
    assert_int_equal(st_log_append_batch(log, RECEIVED, &it, 1, NULL, NULL), 0);
    snprintf(err, errlen, "%s", it.error);
    msgpack_sbuffer_destroy(&a->sb);
    return it.status;
}

static void put_ok(struct st_log *log, struct aev *a)
{
    char err[EV_ERROR_MAX];

    if (put(log, a, err, sizeof err) != ST_ITEM_OK)
        fail_msg("%.*s: %s", (int)a->ev.id.len, a->ev.id.ptr, err);
}

static void put_refused(struct st_log *log, struct aev *a, const char *want)
{
    char err[EV_ERROR_MAX];

    assert_int_equal(put(log, a, err, sizeof err), ST_ITEM_REJECTED);
    assert_string_equal(err, want);
}

struct listed {
    uint64_t seq[8];
    int voided[8];
    int n;
};

static int list_cb(void *arg, uint64_t seq, int voided)
{
    struct listed *l = arg;

    assert_true(l->n < 8);
    l->seq[l->n] = seq;
    l->voided[l->n++] = voided;
    return 0;
}

static void assert_amends(struct st_log *log)
{
    struct st_reader *r;
    struct listed l = {0};
    uint64_t cur;

    assert_int_equal(st_reader_begin(log, &r), 0);
    assert_int_equal(st_reader_amends(r, 1, list_cb, &l), 0);
    assert_int_equal(l.n, 3);
    assert_int_equal(l.seq[0], 3);
    assert_int_equal(l.seq[1], 4);
    assert_int_equal(l.seq[2], 5);
    assert_false(l.voided[0]);
    assert_false(l.voided[1]);
    assert_true(l.voided[2]);
    /* The record as it stood before each of them. */
    assert_int_equal(st_reader_amended_before(r, 1, 3, &cur), 0);
    assert_int_equal(cur, 1);
    assert_int_equal(st_reader_amended_before(r, 1, 4, &cur), 0);
    assert_int_equal(cur, 3);
    assert_int_equal(st_reader_amended_before(r, 1, 5, &cur), 0);
    assert_int_equal(cur, 4);
    assert_int_equal(st_reader_amended_before(r, 1, 99, &cur), 0);
    assert_int_equal(cur, 4);
    /* Another record has none. */
    l.n = 0;
    assert_int_equal(st_reader_amends(r, 2, list_cb, &l), 0);
    assert_int_equal(l.n, 0);
    assert_int_equal(st_reader_amended_before(r, 2, 99, &cur), 0);
    assert_int_equal(cur, 2);
    st_reader_end(r);
}

static void test_targets_and_chains(void **state)
{
    struct fx *f = *state;
    struct st_log *log = sth_open(f->dir, 0, 0);
    struct aev a;

    donation(&a, "BL-1", "22957", 5000000);
    put_ok(log, &a); /* seq 1 */
    donation(&a, "BL-2", "22957", 7000000);
    put_ok(log, &a); /* seq 2 */

    void_of(&a, "void-x", "BL-9", "22957");
    put_refused(log, &a, "data.target: no record with id \"BL-9\" in the log");
    correction(&a, "fix-x", "BL-1", EV_DONATION_RECEIVED, "22957", 1);
    a.ev.data.target_type = EV_FUND_DISBURSED; /* with its fields */
    a.ev.data.purpose = EV_PURPOSE_TET;
    msgpack_sbuffer_destroy(&a.sb);
    encode(&a);
    put_refused(log, &a,
                "data.type: \"BL-1\" is a donation.received, not a "
                "fund.disbursed");

    /* Corrections chain: the later replaces the earlier. */
    correction(&a, "fix-1", "BL-1", EV_DONATION_RECEIVED, "22957", 50000000);
    put_ok(log, &a); /* seq 3 */
    correction(&a, "fix-2", "BL-1", EV_DONATION_RECEIVED, "22960", 5500000);
    put_ok(log, &a); /* seq 4 */
    correction(&a, "fix-3", "fix-1", EV_DONATION_RECEIVED, "22957", 1);
    put_refused(log, &a,
                "data.target: \"fix-1\" is itself a correction of \"BL-1\"; "
                "void or correct \"BL-1\" instead");

    /* A void names the record's unit as it now stands (fix-2's). */
    void_of(&a, "void-1", "BL-1", "22957");
    put_refused(log, &a,
                "unit: must be the unit of the record voided (22960), not "
                "22957");
    void_of(&a, "void-1", "BL-1", "22960");
    put_ok(log, &a); /* seq 5 */
    void_of(&a, "void-2", "void-1", "22960");
    put_refused(log, &a,
                "data.target: \"void-1\" is itself a void of \"BL-1\"; void "
                "or correct \"BL-1\" instead");

    /* Nothing more for a voided record. */
    correction(&a, "fix-4", "BL-1", EV_DONATION_RECEIVED, "22960", 1);
    put_refused(log, &a,
                "data.target: \"BL-1\" was voided (seq 5); a voided record "
                "cannot be corrected");
    void_of(&a, "void-3", "BL-1", "22960");
    put_refused(log, &a,
                "data.target: \"BL-1\" was voided (seq 5); a voided record "
                "cannot be voided");

    /* The same void again is a duplicate, not a refusal. */
    {
        struct st_item it;
        void_of(&a, "void-1", "BL-1", "22960");
        sth_item(&it, &a.ev, a.sb.data, a.sb.size, PUB);
        assert_int_equal(st_log_append_batch(log, RECEIVED, &it, 1, NULL, NULL),
                         0);
        assert_int_equal(it.status, ST_ITEM_DUPLICATE);
        assert_int_equal(it.seq, 5);
        msgpack_sbuffer_destroy(&a.sb);
    }

    assert_amends(log);
    st_log_close(log);

    /* After a restart, and for a reader process's read-only handle. */
    log = sth_open(f->dir, 0, 0);
    assert_amends(log);
    st_log_close(log);
    log = sth_open(f->dir, ST_OPEN_READONLY, 0);
    assert_amends(log);
    st_log_close(log);
}

/* The target as a check() sees it (the ingest checks rights on it): the
 * record as it stands, seen as the record it is. */
static int ck_target(void *arg, struct st_view *view, struct st_item *it)
{
    struct st_target t;
    int *calls = arg;
    int rc;

    if (!ev_type_amends(it->ev->type))
        return 0;
    rc = st_view_target(view, it->ev, &t, it->error, sizeof it->error);
    assert_int_equal(rc, 0);
    assert_int_equal(t.original, 1);
    assert_int_equal(t.event.type, EV_DONATION_RECEIVED);
    assert_int_equal(t.event.data.amount, *calls == 0 ? 1000000 : 2000000);
    assert_int_equal(t.current, *calls == 0 ? 1 : 2);
    assert_true(ev_str_eq(t.publisher, PUB));
    st_target_free(&t);
    ++*calls;
    return 0;
}

/* BL-7, its correction and its void appended in one batch, with check and
 * arg; all must be stored at seqs 1 to 3. */
static void append_chain(struct st_log *log, st_check_fn check, void *arg)
{
    struct aev a[3];
    struct st_item items[3];

    donation(&a[0], "BL-7", "22957", 1000000);
    correction(&a[1], "fix-7", "BL-7", EV_DONATION_RECEIVED, "22957", 2000000);
    void_of(&a[2], "void-7", "BL-7", "22957");
    for (int i = 0; i < 3; i++)
        sth_item(&items[i], &a[i].ev, a[i].sb.data, a[i].sb.size, PUB);
    assert_int_equal(st_log_append_batch(log, RECEIVED, items, 3, check, arg),
                     0);
    sth_assert_stored(items, 3, 1);
    for (int i = 0; i < 3; i++)
        msgpack_sbuffer_destroy(&a[i].sb);
}

/* A record, its correction and its void in one batch: each sees what the
 * one before wrote. */
static void test_target_in_batch(void **state)
{
    struct fx *f = *state;
    struct st_log *log = sth_open(f->dir, 0, 0);
    int calls = 0;

    append_chain(log, ck_target, &calls);
    assert_int_equal(calls, 2);
    st_log_close(log);
}

/* Put (del: delete) the "amends" entry (target, seq) with the log closed. */
static void raw_amend(const char *dir, uint64_t target, uint64_t seq, char kind,
                      bool del)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    unsigned char kb[16];
    for (int i = 0; i < 8; i++) {
        kb[7 - i] = (unsigned char)(target >> (8 * i));
        kb[15 - i] = (unsigned char)(seq >> (8 * i));
    }
    MDB_val k = {sizeof kb, kb}, v = {1, &kind};
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 8), 0);
    assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "amends", 0, &dbi), 0);
    assert_int_equal(
        del ? mdb_del(txn, dbi, &k, NULL) : mdb_put(txn, dbi, &k, &v, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

static struct st_verify_report verify(const char *dir)
{
    struct st_verify_report rep;
    struct st_log *log = sth_open(dir, ST_OPEN_READONLY, 0);
    assert_int_equal(st_verify(log, &rep, NULL, NULL), 0);
    st_log_close(log);
    return rep;
}

/* povtrack verify: "amends" holds one entry per void and correction, and
 * nothing else. */
static void test_verify(void **state)
{
    struct fx *f = *state;
    struct st_log *log = sth_open(f->dir, 0, 0);

    append_chain(log, NULL, NULL);
    st_log_close(log);

    struct st_verify_report rep = verify(f->dir);
    for (int c = 0; c < ST_VERIFY_NCHECKS; c++)
        if (rep.check[c].failed != 0)
            fail_msg("%s: %s", st_verify_check_name(c), rep.check[c].first);
    assert_string_equal(st_verify_check_name(ST_VERIFY_AMENDS), "amends");
    assert_int_equal(rep.amend_events, 2);
    assert_int_equal(rep.amend_entries, 2);
    assert_int_equal(rep.check[ST_VERIFY_AMENDS].checked, 4);

    raw_amend(f->dir, 1, 3, 'v', true);
    rep = verify(f->dir);
    assert_int_equal(rep.check[ST_VERIFY_AMENDS].failed, 1);
    assert_string_equal(rep.check[ST_VERIFY_AMENDS].first,
                        "seq 3 (an amendment of seq 1) has no \"amends\" "
                        "entry");
    raw_amend(f->dir, 1, 3, 'c', false);
    raw_amend(f->dir, 1, 9, 'c', false);
    rep = verify(f->dir);
    assert_int_equal(rep.check[ST_VERIFY_AMENDS].failed, 2);
    assert_string_equal(rep.check[ST_VERIFY_AMENDS].first,
                        "the \"amends\" entry of seq 3 says 'c', its record "
                        "'v'");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        STH_TEST(test_targets_and_chains),
        STH_TEST(test_target_in_batch),
        STH_TEST(test_verify),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
