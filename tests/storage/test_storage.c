/*
 * test_storage.c - the storage module against its contract (st_log.h).
 *
 * Events are built with msgpack-c directly and struct ev_event filled by
 * hand: the log treats event bytes as opaque, so the tests do not depend on
 * the events module's implementation - except that the log applies the unit
 * rules of ev_unit.h to unit.defined, so the units defined here follow them
 * (a code's length matches its level).  Unit histories: test_st_units.c.  Every
 * test runs in a fresh mkdtemp directory, removed afterwards.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <lmdb.h>
#include <msgpack.h>

#include "harness.h"
#include "st_log.h"

#define PUB "pub-a"
#define RECEIVED INT64_C(1700000000123456)

/* ---- events ---- */

/* One test event: the decoded struct and its bytes.  The ev_str fields
 * point into this struct, so it must not be copied after tev_*(). */
struct tev {
    struct ev_event ev;
    msgpack_sbuffer sb;
    char id[EV_ID_MAX + 1];
    char unit[8];
    char name[64];
    char parent[8];
};

static void pack_str(msgpack_packer *pk, const char *s, size_t len)
{
    msgpack_pack_str(pk, len);
    msgpack_pack_str_body(pk, s, len);
}

static void pack_cstr(msgpack_packer *pk, const char *s)
{
    pack_str(pk, s, strlen(s));
}

/* Common head of the event map: v, id, type, at, unit (then "data"). */
static void pack_head(msgpack_packer *pk, const struct tev *t, const char *type)
{
    msgpack_pack_map(pk, 6);
    pack_cstr(pk, "v");
    msgpack_pack_int(pk, 1);
    pack_cstr(pk, "id");
    pack_cstr(pk, t->id);
    pack_cstr(pk, "type");
    pack_cstr(pk, type);
    pack_cstr(pk, "at");
    msgpack_pack_int64(pk, t->ev.at);
    pack_cstr(pk, "unit");
    pack_cstr(pk, t->unit);
    pack_cstr(pk, "data");
}

/* A household.status-like event; variant changes its bytes, pad makes it
 * bigger. */
static void tev_status(struct tev *t, const char *id, int64_t variant,
                       size_t pad)
{
    msgpack_packer pk;
    char padding[1024];

    assert_true(pad <= sizeof(padding));
    memset(t, 0, sizeof(*t));
    snprintf(t->id, sizeof(t->id), "%s", id);
    snprintf(t->unit, sizeof(t->unit), "01");
    t->ev.type = EV_HOUSEHOLD_STATUS;
    t->ev.id = sth_str(t->id);
    t->ev.at = 1700000000;
    t->ev.unit = sth_str(t->unit);
    t->ev.data.year = variant;
    msgpack_sbuffer_init(&t->sb);
    msgpack_packer_init(&pk, &t->sb, msgpack_sbuffer_write);
    pack_head(&pk, t, "household.status");
    msgpack_pack_map(&pk, pad ? 2 : 1);
    pack_cstr(&pk, "year");
    msgpack_pack_int64(&pk, variant);
    if (pad) {
        memset(padding, 'x', pad);
        pack_cstr(&pk, "pad");
        pack_str(&pk, padding, pad);
    }
}

/* A unit.defined event; parent NULL for a province. */
static void tev_unit(struct tev *t, const char *id, const char *code,
                     const char *name, const char *parent, enum ev_level level)
{
    static const char *const levels[] = {"", "central", "province", "district",
                                         "commune"};
    msgpack_packer pk;

    memset(t, 0, sizeof(*t));
    snprintf(t->id, sizeof(t->id), "%s", id);
    snprintf(t->unit, sizeof(t->unit), "%s", code);
    snprintf(t->name, sizeof(t->name), "%s", name);
    t->ev.type = EV_UNIT_DEFINED;
    t->ev.id = sth_str(t->id);
    t->ev.at = 1700000000;
    t->ev.unit = sth_str(t->unit);
    t->ev.data.name = sth_str(t->name);
    if (parent != NULL) {
        snprintf(t->parent, sizeof(t->parent), "%s", parent);
        t->ev.data.parent = sth_str(t->parent);
    }
    t->ev.data.level = level;
    msgpack_sbuffer_init(&t->sb);
    msgpack_packer_init(&pk, &t->sb, msgpack_sbuffer_write);
    pack_head(&pk, t, "unit.defined");
    msgpack_pack_map(&pk, 3);
    pack_cstr(&pk, "name");
    pack_cstr(&pk, name);
    pack_cstr(&pk, "parent");
    if (parent != NULL)
        pack_cstr(&pk, parent);
    else
        msgpack_pack_nil(&pk);
    pack_cstr(&pk, "level");
    pack_cstr(&pk, levels[level]);
}

static void tev_free(struct tev *t)
{
    msgpack_sbuffer_destroy(&t->sb);
}

static void item_of(struct st_item *it, const struct tev *t)
{
    sth_item(it, &t->ev, t->sb.data, t->sb.size, PUB);
}

/* Append n status events id-<base+i> in one batch; all must be stored. */
static void append_n(struct st_log *log, int base, int n, size_t pad)
{
    struct tev *t = calloc((size_t)n, sizeof(*t));
    struct st_item *items = calloc((size_t)n, sizeof(*items));
    char id[32];

    assert_non_null(t);
    assert_non_null(items);
    for (int i = 0; i < n; i++) {
        snprintf(id, sizeof(id), "id-%d", base + i);
        tev_status(&t[i], id, base + i, pad);
        item_of(&items[i], &t[i]);
    }
    sth_append_stored(log, RECEIVED, items, (size_t)n, NULL, 0);
    for (int i = 0; i < n; i++)
        tev_free(&t[i]);
    free(items);
    free(t);
}

static uint64_t last_seq(struct st_log *log)
{
    struct st_reader *r;
    uint64_t seq = UINT64_MAX;

    assert_int_equal(st_reader_begin(log, &r), 0);
    assert_int_equal(st_reader_last_seq(r, &seq), 0);
    st_reader_end(r);
    return seq;
}

static void assert_record(const struct st_record *rec, uint64_t seq,
                          const struct tev *t)
{
    assert_int_equal(rec->seq, seq);
    assert_true(rec->received == RECEIVED);
    assert_int_equal(rec->publisher.len, strlen(PUB));
    assert_memory_equal(rec->publisher.ptr, PUB, strlen(PUB));
    assert_int_equal(rec->event_len, t->sb.size);
    assert_memory_equal(rec->event, t->sb.data, t->sb.size);
}

/* ---- tests ---- */

static void test_append_read_back(void **state)
{
    struct fx *f = *state;
    struct st_log *log = sth_open(f->dir, 0, 0);
    struct tev t[3];
    struct st_item items[3];
    struct st_reader *r;
    struct st_record rec;
    uint64_t seq;

    tev_status(&t[0], "a", 1, 0);
    tev_status(&t[1], "b", 2, 0);
    tev_unit(&t[2], "c", "01", "Ha Giang", NULL, EV_LEVEL_PROVINCE);
    for (int i = 0; i < 3; i++)
        item_of(&items[i], &t[i]);
    assert_int_equal(st_log_append_batch(log, RECEIVED, items, 3, NULL, NULL),
                     0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(items[i].status, ST_ITEM_OK);
        assert_int_equal(items[i].seq, (uint64_t)i + 1);
        assert_string_equal(items[i].error, "");
    }

    assert_int_equal(st_reader_begin(log, &r), 0);
    assert_int_equal(st_reader_last_seq(r, &seq), 0);
    assert_int_equal(seq, 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(st_reader_get(r, (uint64_t)i + 1, &rec), 0);
        assert_record(&rec, (uint64_t)i + 1, &t[i]);
    }
    assert_int_equal(st_reader_get(r, 4, &rec), POVTRACK_ENOTFOUND);
    assert_int_equal(st_reader_get(r, 0, &rec), POVTRACK_ENOTFOUND);
    st_reader_end(r);

    for (int i = 0; i < 3; i++)
        tev_free(&t[i]);
    st_log_close(log);
}

static void test_empty_log(void **state)
{
    struct fx *f = *state;
    struct st_log *log = sth_open(f->dir, 0, 0);
    struct st_reader *r;
    struct st_record rec;

    assert_int_equal(last_seq(log), 0);
    assert_int_equal(st_reader_begin(log, &r), 0);
    assert_int_equal(st_reader_next(r, &rec), POVTRACK_EEND);
    st_reader_end(r);
    /* An empty batch commits nothing and succeeds. */
    assert_int_equal(st_log_append_batch(log, RECEIVED, NULL, 0, NULL, NULL),
                     0);
    st_log_close(log);
}

static void test_gapless(void **state)
{
    struct fx *f = *state;
    struct st_log *log = sth_open(f->dir, 0, 0);
    struct tev t[4];
    struct st_item items[4];
    struct st_reader *r;
    struct st_record rec;
    uint64_t expect = 1;

    append_n(log, 0, 3, 0);   /* 1..3 */
    append_n(log, 100, 1, 0); /* 4 */

    /* Rejected and duplicate items in between consume no sequence. */
    tev_status(&t[0], "id-0", 0, 0);  /* duplicate of seq 1 */
    tev_status(&t[1], "id-1", 99, 0); /* reused id */
    tev_status(&t[2], "fresh-1", 5, 0);
    tev_status(&t[3], "fresh-2", 6, 0);
    for (int i = 0; i < 4; i++)
        item_of(&items[i], &t[i]);
    assert_int_equal(st_log_append_batch(log, RECEIVED, items, 4, NULL, NULL),
                     0);
    assert_int_equal(items[0].status, ST_ITEM_DUPLICATE);
    assert_int_equal(items[1].status, ST_ITEM_REJECTED);
    assert_int_equal(items[2].status, ST_ITEM_OK);
    assert_int_equal(items[2].seq, 5);
    assert_int_equal(items[3].status, ST_ITEM_OK);
    assert_int_equal(items[3].seq, 6);

    assert_int_equal(st_reader_begin(log, &r), 0);
    assert_int_equal(st_reader_seek(r, 1), 0);
    while (st_reader_next(r, &rec) == 0)
        assert_int_equal(rec.seq, expect++);
    assert_int_equal(expect, 7);
    st_reader_end(r);
    for (int i = 0; i < 4; i++)
        tev_free(&t[i]);
    st_log_close(log);
}

static void test_duplicate_across_batches(void **state)
{
    struct fx *f = *state;
    struct st_log *log = sth_open(f->dir, 0, 0);
    struct tev a, b;
    struct st_item it;

    tev_status(&a, "dup", 1, 0);
    tev_status(&b, "other", 1, 0);
    item_of(&it, &b);
    assert_int_equal(st_log_append_batch(log, RECEIVED, &it, 1, NULL, NULL), 0);
    item_of(&it, &a);
    assert_int_equal(st_log_append_batch(log, RECEIVED, &it, 1, NULL, NULL), 0);
    assert_int_equal(it.status, ST_ITEM_OK);
    assert_int_equal(it.seq, 2);

    /* Same id, same bytes, even from another publisher at another time. */
    item_of(&it, &a);
    it.publisher = sth_str("someone-else");
    assert_int_equal(st_log_append_batch(log, RECEIVED + 5, &it, 1, NULL, NULL),
                     0);
    assert_int_equal(it.status, ST_ITEM_DUPLICATE);
    assert_int_equal(it.seq, 2);
    assert_string_equal(it.error, "");
    assert_int_equal(last_seq(log), 2);

    tev_free(&a);
    tev_free(&b);
    st_log_close(log);
}

static void test_reused_id_rejected(void **state)
{
    struct fx *f = *state;
    struct st_log *log = sth_open(f->dir, 0, 0);
    struct tev a, a2;
    struct st_item it;

    tev_status(&a, "same-id", 1, 0);
    tev_status(&a2, "same-id", 2, 0);
    item_of(&it, &a);
    assert_int_equal(st_log_append_batch(log, RECEIVED, &it, 1, NULL, NULL), 0);
    item_of(&it, &a2);
    assert_int_equal(st_log_append_batch(log, RECEIVED, &it, 1, NULL, NULL), 0);
    assert_int_equal(it.status, ST_ITEM_REJECTED);
    assert_string_equal(
        it.error, "id: reused with different content (first stored at seq 1)");
    assert_int_equal(last_seq(log), 1);

    tev_free(&a);
    tev_free(&a2);
    st_log_close(log);
}

static void test_dup_and_reuse_in_one_batch(void **state)
{
    struct fx *f = *state;
    struct st_log *log = sth_open(f->dir, 0, 0);
    struct tev t[4];
    struct st_item items[4];

    tev_status(&t[0], "x", 1, 0);
    tev_status(&t[1], "y", 1, 0);
    tev_status(&t[2], "x", 1, 0); /* same bytes as items[0] */
    tev_status(&t[3], "x", 2, 0); /* other bytes */
    for (int i = 0; i < 4; i++)
        item_of(&items[i], &t[i]);
    assert_int_equal(st_log_append_batch(log, RECEIVED, items, 4, NULL, NULL),
                     0);
    assert_int_equal(items[0].status, ST_ITEM_OK);
    assert_int_equal(items[0].seq, 1);
    assert_int_equal(items[1].status, ST_ITEM_OK);
    assert_int_equal(items[1].seq, 2);
    assert_int_equal(items[2].status, ST_ITEM_DUPLICATE);
    assert_int_equal(items[2].seq, 1);
    assert_int_equal(items[3].status, ST_ITEM_REJECTED);
    assert_string_equal(
        items[3].error,
        "id: reused with different content (first stored at seq 1)");
    assert_int_equal(last_seq(log), 2);

    for (int i = 0; i < 4; i++)
        tev_free(&t[i]);
    st_log_close(log);
}

/* check(): rejects ids starting with "bad", fails the batch on "boom". */
struct ck {
    int calls;
};

static int ck_ids(void *arg, struct st_view *view, struct st_item *item)
{
    struct ck *c = arg;
    const struct ev_event *ev = item->ev;

    (void)view;
    c->calls++;
    if (ev->id.len >= 3 && memcmp(ev->id.ptr, "bad", 3) == 0) {
        snprintf(item->error, sizeof(item->error), "id: looks bad");
        return POVTRACK_EINVALID;
    }
    if (ev->id.len == 4 && memcmp(ev->id.ptr, "boom", 4) == 0)
        return POVTRACK_ENOMEM;
    return 0;
}

static void test_check_rejects_one(void **state)
{
    struct fx *f = *state;
    struct st_log *log = sth_open(f->dir, 0, 0);
    struct tev t[3];
    struct st_item items[3];
    struct st_reader *r;
    struct st_record rec;
    uint64_t seq;
    struct ck c = {0};

    tev_status(&t[0], "good-1", 1, 0);
    tev_status(&t[1], "bad-1", 1, 0);
    tev_status(&t[2], "good-2", 1, 0);
    for (int i = 0; i < 3; i++)
        item_of(&items[i], &t[i]);
    assert_int_equal(st_log_append_batch(log, RECEIVED, items, 3, ck_ids, &c),
                     0);
    assert_int_equal(c.calls, 3);
    assert_int_equal(items[0].status, ST_ITEM_OK);
    assert_int_equal(items[0].seq, 1);
    assert_int_equal(items[1].status, ST_ITEM_REJECTED);
    assert_string_equal(items[1].error, "id: looks bad");
    assert_int_equal(items[2].status, ST_ITEM_OK);
    assert_int_equal(items[2].seq, 2);

    assert_int_equal(st_reader_begin(log, &r), 0);
    assert_int_equal(st_reader_get(r, 2, &rec), 0);
    assert_record(&rec, 2, &t[2]);
    /* Nothing of the rejected item is stored, not even its id. */
    assert_int_equal(st_reader_find_id(r, sth_str("bad-1"), &seq),
                     POVTRACK_ENOTFOUND);
    st_reader_end(r);

    /* A rejected id may come back later with other content. */
    tev_free(&t[1]);
    tev_status(&t[1], "bad-1", 2, 0);
    item_of(&items[0], &t[1]);
    assert_int_equal(st_log_append_batch(log, RECEIVED, items, 1, NULL, NULL),
                     0);
    assert_int_equal(items[0].status, ST_ITEM_OK);
    assert_int_equal(items[0].seq, 3);

    for (int i = 0; i < 3; i++)
        tev_free(&t[i]);
    st_log_close(log);
}

static void test_check_fails_batch(void **state)
{
    struct fx *f = *state;
    struct st_log *log = sth_open(f->dir, 0, 0);
    struct tev t[3];
    struct st_item items[3];
    struct ck c = {0};

    tev_status(&t[0], "good-1", 1, 0);
    tev_status(&t[1], "boom", 1, 0);
    tev_status(&t[2], "good-2", 1, 0);
    for (int i = 0; i < 3; i++)
        item_of(&items[i], &t[i]);
    /* The callback's own error comes back and nothing is stored. */
    assert_int_equal(st_log_append_batch(log, RECEIVED, items, 3, ck_ids, &c),
                     POVTRACK_ENOMEM);
    assert_int_equal(c.calls, 2);
    assert_int_equal(last_seq(log), 0);

    /* The log is still usable and sequences start at 1. */
    item_of(&items[0], &t[2]);
    assert_int_equal(st_log_append_batch(log, RECEIVED, items, 1, ck_ids, &c),
                     0);
    assert_int_equal(items[0].status, ST_ITEM_OK);
    assert_int_equal(items[0].seq, 1);

    for (int i = 0; i < 3; i++)
        tev_free(&t[i]);
    st_log_close(log);
}

/* check(): a unit.defined's parent must be defined (possibly earlier in the
 * same batch); records what it saw. */
struct unit_ck {
    int found;
    enum ev_level parent_level;
    char parent_name[64];
};

static int ck_parent(void *arg, struct st_view *view, struct st_item *item)
{
    struct unit_ck *c = arg;
    const struct ev_event *ev = item->ev;
    struct ev_unit u;
    int rc;

    if (ev->type != EV_UNIT_DEFINED || ev->data.parent.ptr == NULL)
        return 0;
    rc = st_view_unit(view, ev->data.parent, &u);
    if (rc == POVTRACK_ENOTFOUND) {
        snprintf(item->error, sizeof(item->error),
                 "data.parent: unit %.*s is not defined",
                 (int)ev->data.parent.len, ev->data.parent.ptr);
        return POVTRACK_EINVALID;
    }
    if (rc != 0)
        return rc;
    c->found++;
    c->parent_level = u.level;
    snprintf(c->parent_name, sizeof(c->parent_name), "%.*s", (int)u.name.len,
             u.name.ptr);
    assert_int_equal(u.code.len, ev->data.parent.len);
    assert_memory_equal(u.code.ptr, ev->data.parent.ptr, u.code.len);
    return 0;
}

static void test_check_sees_unit_in_batch(void **state)
{
    struct fx *f = *state;
    struct st_log *log = sth_open(f->dir, 0, 0);
    struct tev t[3];
    struct st_item items[3];
    struct st_reader *r;
    struct ev_unit u;
    struct unit_ck c = {0};

    tev_unit(&t[0], "u1", "02", "Ha Giang", NULL, EV_LEVEL_PROVINCE);
    tev_unit(&t[1], "u2", "024", "Dong Van", "02", EV_LEVEL_DISTRICT);
    tev_unit(&t[2], "u3", "00700", "Lung Cu", "999", EV_LEVEL_COMMUNE);
    for (int i = 0; i < 3; i++)
        item_of(&items[i], &t[i]);
    assert_int_equal(
        st_log_append_batch(log, RECEIVED, items, 3, ck_parent, &c), 0);
    assert_int_equal(items[0].status, ST_ITEM_OK);
    assert_int_equal(items[1].status, ST_ITEM_OK);
    assert_int_equal(items[2].status, ST_ITEM_REJECTED);
    assert_string_equal(items[2].error, "data.parent: unit 999 is not defined");
    assert_int_equal(c.found, 1);
    assert_int_equal(c.parent_level, EV_LEVEL_PROVINCE);
    assert_string_equal(c.parent_name, "Ha Giang");

    /* The registry as readers see it. */
    assert_int_equal(st_reader_begin(log, &r), 0);
    assert_int_equal(st_reader_unit(r, sth_str("024"), &u), 0);
    assert_int_equal(u.name.len, strlen("Dong Van"));
    assert_memory_equal(u.name.ptr, "Dong Van", u.name.len);
    assert_int_equal(u.parent.len, 2);
    assert_memory_equal(u.parent.ptr, "02", 2);
    assert_int_equal(u.level, EV_LEVEL_DISTRICT);
    assert_int_equal(u.code.len, 3);
    assert_int_equal(st_reader_unit(r, sth_str("02"), &u), 0);
    assert_null(u.parent.ptr);
    assert_int_equal(u.level, EV_LEVEL_PROVINCE);
    /* A rejected unit.defined leaves no unit behind. */
    assert_int_equal(st_reader_unit(r, sth_str("00700"), &u),
                     POVTRACK_ENOTFOUND);
    st_reader_end(r);

    /* Redefining a unit replaces its registry entry (here: a new name). */
    tev_free(&t[0]);
    tev_unit(&t[0], "u1-renamed", "02", "Tuyen Quang", NULL, EV_LEVEL_PROVINCE);
    item_of(&items[0], &t[0]);
    assert_int_equal(
        st_log_append_batch(log, RECEIVED, items, 1, ck_parent, &c), 0);
    assert_int_equal(items[0].status, ST_ITEM_OK);
    assert_int_equal(st_reader_begin(log, &r), 0);
    assert_int_equal(st_reader_unit(r, sth_str("02"), &u), 0);
    assert_int_equal(u.name.len, strlen("Tuyen Quang"));
    assert_memory_equal(u.name.ptr, "Tuyen Quang", u.name.len);
    st_reader_end(r);

    for (int i = 0; i < 3; i++)
        tev_free(&t[i]);
    st_log_close(log);
}

/* Names of every msgpack str size class survive the registry. */
static void test_unit_long_names(void **state)
{
    struct fx *f = *state;
    struct st_log *log = sth_open(f->dir, 0, 0);
    static const size_t lens[] = {0, 31, 32, 255, 256, 1000};
    char name[1001], code[8];
    struct st_reader *r;
    struct ev_unit u;

    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        struct tev t;
        struct st_item it;

        memset(name, 'n', lens[i]);
        name[lens[i]] = '\0';
        /* A province "10" and districts "101".. under it: the log's rules
         * (ev_unit_update) want a code's length to match its level. */
        if (i == 0)
            snprintf(code, sizeof(code), "10");
        else
            snprintf(code, sizeof(code), "10%zu", i);
        /* tev_unit keeps at most 63 bytes of the name: point it at ours. */
        tev_unit(&t, code, code, "x", i ? "10" : NULL,
                 i ? EV_LEVEL_DISTRICT : EV_LEVEL_PROVINCE);
        t.ev.data.name = sth_str(name);
        item_of(&it, &t);
        assert_int_equal(st_log_append_batch(log, RECEIVED, &it, 1, NULL, NULL),
                         0);
        assert_int_equal(it.status, ST_ITEM_OK);
        tev_free(&t);
    }
    assert_int_equal(st_reader_begin(log, &r), 0);
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        if (i == 0)
            snprintf(code, sizeof(code), "10");
        else
            snprintf(code, sizeof(code), "10%zu", i);
        assert_int_equal(st_reader_unit(r, sth_str(code), &u), 0);
        assert_int_equal(u.name.len, lens[i]);
        for (size_t j = 0; j < lens[i]; j++)
            assert_int_equal(u.name.ptr[j], 'n');
        assert_int_equal(u.level, i ? EV_LEVEL_DISTRICT : EV_LEVEL_PROVINCE);
    }
    st_reader_end(r);
    st_log_close(log);
}

static void test_restart(void **state)
{
    struct fx *f = *state;
    struct st_log *log = sth_open(f->dir, 0, 0);
    struct tev a;
    struct st_item it;
    struct st_reader *r;
    struct st_record rec;
    struct ev_unit u;

    append_n(log, 0, 5, 0);
    tev_unit(&a, "unit-01", "01", "Ha Noi", NULL, EV_LEVEL_PROVINCE);
    item_of(&it, &a);
    assert_int_equal(st_log_append_batch(log, RECEIVED, &it, 1, NULL, NULL), 0);
    assert_int_equal(it.seq, 6);
    st_log_close(log);

    log = sth_open(f->dir, 0, 0);
    assert_int_equal(last_seq(log), 6);
    /* Duplicates are still recognised... */
    item_of(&it, &a);
    assert_int_equal(st_log_append_batch(log, RECEIVED, &it, 1, NULL, NULL), 0);
    assert_int_equal(it.status, ST_ITEM_DUPLICATE);
    assert_int_equal(it.seq, 6);
    /* ...and the sequence continues. */
    append_n(log, 10, 2, 0);
    assert_int_equal(last_seq(log), 8);

    assert_int_equal(st_reader_begin(log, &r), 0);
    assert_int_equal(st_reader_get(r, 6, &rec), 0);
    assert_record(&rec, 6, &a);
    assert_int_equal(st_reader_unit(r, sth_str("01"), &u), 0);
    assert_int_equal(u.level, EV_LEVEL_PROVINCE);
    st_reader_end(r);
    st_log_close(log);

    /* A reader opened afterwards sees the same. */
    log = sth_open(f->dir, ST_OPEN_READONLY, 0);
    assert_int_equal(last_seq(log), 8);
    /* A read-only log refuses to append. */
    assert_int_equal(st_log_append_batch(log, RECEIVED, &it, 1, NULL, NULL),
                     POVTRACK_EINVAL);
    st_log_close(log);
    tev_free(&a);
}

#define TINY_MAP ((size_t)64 << 10)

static void test_map_growth(void **state)
{
    struct fx *f = *state;
    struct st_log *log = sth_open(f->dir, 0, TINY_MAP);
    size_t before = st_log_map_size(log);
    struct st_reader *r;
    struct st_record rec;
    uint64_t expect = 1;

    assert_true(before >= TINY_MAP);
    assert_true(before < (size_t)1 << 20);
    /* 60 batches of 20 events of ~600 bytes: ~700 KiB, ten times the map. */
    for (int b = 0; b < 60; b++)
        append_n(log, b * 20, 20, 600);
    assert_true(st_log_map_size(log) > before);
    assert_int_equal(last_seq(log), 1200);

    assert_int_equal(st_reader_begin(log, &r), 0);
    while (st_reader_next(r, &rec) == 0) {
        assert_int_equal(rec.seq, expect++);
        assert_true(rec.event_len > 600);
    }
    assert_int_equal(expect, 1201);
    st_reader_end(r);
    st_log_close(log);

    /* The grown size persists; reopening with a tiny size does not shrink. */
    log = sth_open(f->dir, 0, TINY_MAP);
    assert_true(st_log_map_size(log) > before);
    assert_int_equal(last_seq(log), 1200);
    st_log_close(log);
}

/* A reader of the writer's own handle: growth waits for reset snapshots. */
static void test_reader_same_handle_growth(void **state)
{
    struct fx *f = *state;
    struct st_log *log = sth_open(f->dir, 0, TINY_MAP);
    struct st_reader *r;
    struct st_record rec;
    size_t before = st_log_map_size(log);
    struct tev t[20];
    struct st_item items[20];
    uint64_t seq, expect;
    int rc = 0, b;

    append_n(log, 0, 5, 0);
    assert_int_equal(st_reader_begin(log, &r), 0);
    assert_int_equal(st_reader_last_seq(r, &seq), 0);
    assert_int_equal(seq, 5);

    /* With the snapshot live the map cannot be remapped: the batch that
     * needs more room fails whole, and nothing of it is stored. */
    for (b = 0; b < 100 && rc == 0; b++) {
        char id[32];

        for (int i = 0; i < 20; i++) {
            snprintf(id, sizeof(id), "live-%d-%d", b, i);
            tev_status(&t[i], id, i, 600);
            item_of(&items[i], &t[i]);
        }
        rc = st_log_append_batch(log, RECEIVED, items, 20, NULL, NULL);
        for (int i = 0; i < 20; i++)
            tev_free(&t[i]);
    }
    assert_int_equal(rc, MDB_MAP_FULL);
    assert_int_equal(st_log_map_size(log), before);
    seq = 5 + (uint64_t)(b - 1) * 20;
    /* The snapshot still reads what it saw. */
    assert_int_equal(st_reader_get(r, 5, &rec), 0);
    assert_int_equal(st_reader_get(r, 6, &rec), POVTRACK_ENOTFOUND);

    /* Reset: the writer may now grow. */
    st_reader_reset(r);
    assert_int_equal(st_reader_get(r, 5, &rec), POVTRACK_EINVAL);
    append_n(log, 1000, 20, 600);
    append_n(log, 2000, 20, 600);
    assert_true(st_log_map_size(log) > before);
    seq += 40;

    /* After renew the reader sees everything, iterating from where it
     * left off. */
    assert_int_equal(st_reader_renew(r), 0);
    assert_int_equal(st_reader_seek(r, 5), 0);
    expect = 5;
    while (st_reader_next(r, &rec) == 0)
        assert_int_equal(rec.seq, expect++);
    assert_int_equal(expect, seq + 1);
    st_reader_end(r);
    st_log_close(log);
}

/* ---- a reader in another process (MDB_MAP_RESIZED) ---- */

static int wait_byte(int fd, char *c)
{
    struct pollfd p = {fd, POLLIN, 0};

    if (poll(&p, 1, 30000) != 1)
        return -1;
    return read(fd, c, 1) == 1 ? 0 : -1;
}

static int wait_u64(int fd, uint64_t *v)
{
    struct pollfd p = {fd, POLLIN, 0};

    if (poll(&p, 1, 30000) != 1)
        return -1;
    return read(fd, v, sizeof(*v)) == (ssize_t)sizeof(*v) ? 0 : -1;
}

/* The child: returns 0 on success, a step number on failure. */
static int child_reader(const char *dir, int in, int out)
{
    struct st_log *log = NULL;
    struct st_reader *r = NULL, *r2 = NULL;
    struct st_record rec;
    char err[256], c;
    uint64_t n = 0, seq = 0, expect = 1;
    size_t map0;
    int rc;

    if (wait_byte(in, &c) != 0)
        return 1;
    if (st_log_open(dir, ST_OPEN_READONLY, &log, err, sizeof(err)) != 0) {
        fprintf(stderr, "child: %s\n", err);
        return 2;
    }
    if (st_reader_begin(log, &r) != 0 || st_reader_last_seq(r, &seq) != 0 ||
        seq != 5)
        return 3;
    map0 = st_log_map_size(log);
    if (write(out, "r", 1) != 1)
        return 4;

    /* The writer grows its map far past ours and appends. */
    if (wait_u64(in, &n) != 0)
        return 5;
    /* With r live, a second reader cannot adopt the new size. */
    if (st_reader_begin(log, &r2) != MDB_MAP_RESIZED || r2 != NULL)
        return 6;
    /* r's renew resets it first, so it may remap. */
    rc = st_reader_renew(r);
    if (rc != 0) {
        fprintf(stderr, "child: renew: %s\n", st_strerror(rc));
        return 7;
    }
    if (st_log_map_size(log) <= map0)
        return 8;
    if (st_reader_last_seq(r, &seq) != 0 || seq != n)
        return 9;
    if (st_reader_seek(r, 1) != 0)
        return 10;
    while ((rc = st_reader_next(r, &rec)) == 0) {
        if (rec.seq != expect++ || rec.publisher.len != strlen(PUB) ||
            memcmp(rec.publisher.ptr, PUB, rec.publisher.len) != 0)
            return 11;
    }
    if (rc != POVTRACK_EEND || expect != n + 1)
        return 12;
    if (st_reader_begin(log, &r2) != 0)
        return 13;
    st_reader_end(r2);
    st_reader_end(r);
    st_log_close(log);
    if (write(out, "d", 1) != 1)
        return 14;
    return 0;
}

static void test_reader_process_growth(void **state)
{
    struct fx *f = *state;
    int to_child[2], to_parent[2], status = 0;
    struct st_log *log;
    uint64_t n;
    size_t before;
    pid_t pid;
    char c;

    assert_int_equal(pipe(to_child), 0);
    assert_int_equal(pipe(to_parent), 0);
    /* Fork before the writer opens anything: the child must not inherit a
     * live LMDB environment. */
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int rc;

        close(to_child[1]);
        close(to_parent[0]);
        rc = child_reader(f->dir, to_child[0], to_parent[1]);
        close(to_child[0]);
        close(to_parent[1]);
        exit(rc);
    }
    close(to_child[0]);
    close(to_parent[1]);

    log = sth_open(f->dir, 0, TINY_MAP);
    before = st_log_map_size(log);
    append_n(log, 0, 5, 0);
    assert_int_equal(write(to_child[1], "a", 1), 1);
    assert_int_equal(wait_byte(to_parent[0], &c), 0);
    assert_int_equal(c, 'r');

    for (int b = 0; b < 40; b++)
        append_n(log, 100 + b * 20, 20, 600);
    assert_true(st_log_map_size(log) > before);
    n = 5 + 40 * 20;
    assert_int_equal(write(to_child[1], &n, sizeof(n)), sizeof(n));
    assert_int_equal(wait_byte(to_parent[0], &c), 0);
    assert_int_equal(c, 'd');

    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    close(to_child[1]);
    close(to_parent[0]);
    /* The writer cleared no slot: the child ended its readers. */
    {
        int dead = -1;

        assert_int_equal(st_log_reader_check(log, &dead), 0);
        assert_int_equal(dead, 0);
    }
    st_log_close(log);
}

/* ---- records appended as they are (a standby's follower) ---- */

/* A valid donation.received (st_log_append_raw decodes what it appends,
 * as the plugin host does), id don-<i>, its donor padded to pad bytes. */
static void tev_donation(struct tev *t, int i, size_t pad)
{
    msgpack_packer pk;
    char donor[256];

    assert_true(pad > 0 && pad <= 256); /* data.donor's most */
    memset(t, 0, sizeof(*t));
    snprintf(t->id, sizeof(t->id), "don-%d", i);
    snprintf(t->unit, sizeof(t->unit), "01");
    t->ev.type = EV_DONATION_RECEIVED;
    t->ev.id = sth_str(t->id);
    t->ev.at = 1700000000;
    t->ev.unit = sth_str(t->unit);
    msgpack_sbuffer_init(&t->sb);
    msgpack_packer_init(&pk, &t->sb, msgpack_sbuffer_write);
    pack_head(&pk, t, "donation.received");
    msgpack_pack_map(&pk, 4);
    pack_cstr(&pk, "amount");
    msgpack_pack_int64(&pk, 1000 + i);
    pack_cstr(&pk, "donor");
    memset(donor, 'x', pad);
    pack_str(&pk, donor, pad);
    pack_cstr(&pk, "donor_kind");
    pack_cstr(&pk, "organisation");
    pack_cstr(&pk, "level");
    pack_cstr(&pk, "province");
}

/* The child of test_append_raw: copy the log in src, record by record, to
 * the log in dst with st_log_append_raw, 50 a transaction, from another
 * process than the one that created dst (its map grows here).  0, or the
 * step that failed. */
static int child_copy_raw(const char *src, const char *dst, int in, int out)
{
    struct st_log *a = NULL, *b = NULL;
    struct st_reader *r = NULL;
    struct st_raw raw[50];
    struct st_record rec;
    char err[256], c;
    uint64_t last = 0;
    int rc = 10;

    if (wait_byte(in, &c) != 0 || c != 'a')
        return 1;
    if (st_log_open(src, ST_OPEN_READONLY, &a, err, sizeof(err)) != 0 ||
        st_log_open_sized(dst, 0, TINY_MAP, &b, err, sizeof(err)) != 0 ||
        st_reader_begin(a, &r) != 0 || st_reader_last_seq(r, &last) != 0)
        return 2;
    /* A record that does not follow the log is refused, nothing stored. */
    if (st_reader_get(r, 2, &rec) != 0)
        return 3;
    raw[0] = (struct st_raw){2, rec.raw, rec.raw_len};
    if (st_log_append_raw(b, raw, 1, err, sizeof(err)) != POVTRACK_EDIVERGED ||
        strstr(err, "does not follow") == NULL)
        return 4;
    for (uint64_t seq = 1; seq <= last; seq += 50) {
        size_t n = 0;
        for (; n < 50 && seq + n <= last; n++) {
            if (st_reader_get(r, seq + n, &rec) != 0)
                return 5;
            raw[n] = (struct st_raw){seq + n, rec.raw, rec.raw_len};
        }
        if (st_log_append_raw(b, raw, n, err, sizeof(err)) != 0)
            return 6;
    }
    /* Record 1 again, at the next sequence: its id is stored. */
    if (st_reader_get(r, 1, &rec) != 0)
        return 7;
    raw[0] = (struct st_raw){last + 1, rec.raw, rec.raw_len};
    if (st_log_append_raw(b, raw, 1, err, sizeof(err)) != POVTRACK_EDIVERGED ||
        strstr(err, "already at seq 1") == NULL)
        return 8;
    rc = write(out, "d", 1) == 1 ? 0 : 9;
    st_reader_end(r);
    st_log_close(a);
    st_log_close(b);
    return rc;
}

static void test_append_raw(void **state)
{
    struct fx *f = *state;
    int to_child[2], to_parent[2], status = 0;
    char copy[128], c;
    struct st_reader *ra, *rb;
    struct st_record x, y;
    uint64_t last = 0, seq = 0;
    pid_t pid;

    snprintf(copy, sizeof(copy), "%s/copy", f->root);
    assert_int_equal(pipe(to_child), 0);
    assert_int_equal(pipe(to_parent), 0);
    /* Fork before anything is opened: the child must not inherit a live
     * LMDB environment. */
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(to_child[1]);
        close(to_parent[0]);
        exit(child_copy_raw(f->dir, copy, to_child[0], to_parent[1]));
    }
    close(to_child[0]);
    close(to_parent[1]);

    struct st_log *a = sth_open(f->dir, 0, 0);
    struct tev t;
    struct st_item it;
    tev_unit(&t, "u", "01", "Ha Giang", NULL, EV_LEVEL_PROVINCE);
    item_of(&it, &t);
    sth_append_stored(a, RECEIVED, &it, 1, NULL, 1);
    tev_free(&t);
    for (int i = 0; i < 800; i++) {
        tev_donation(&t, i, 250);
        item_of(&it, &t);
        sth_append_stored(a, RECEIVED + i, &it, 1, NULL, (uint64_t)i + 2);
        tev_free(&t);
    }
    /* The copy made here, at its smallest map; the child grows it. */
    struct st_log *b = sth_open(copy, 0, TINY_MAP);
    size_t before = st_log_map_size(b);
    assert_int_equal(write(to_child[1], "a", 1), 1);
    int got = wait_byte(to_parent[0], &c);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (got != 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("the copying child failed at step %d",
                 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    assert_int_equal(c, 'd');
    close(to_child[1]);
    close(to_parent[0]);

    /* This handle's map is smaller than the one the child grew: its next
     * batch adopts the larger one (MDB_MAP_RESIZED) and goes on. */
    append_n(b, 5000, 1, 0);
    assert_true(st_log_map_size(b) > before);

    /* Byte for byte the same records, and the indexes as the original's. */
    assert_int_equal(st_reader_begin(a, &ra), 0);
    assert_int_equal(st_reader_begin(b, &rb), 0);
    assert_int_equal(st_reader_last_seq(ra, &last), 0);
    assert_int_equal(last, 801);
    for (uint64_t s = 1; s <= last; s++) {
        assert_int_equal(st_reader_get(ra, s, &x), 0);
        assert_int_equal(st_reader_get(rb, s, &y), 0);
        assert_int_equal(x.raw_len, y.raw_len);
        assert_memory_equal(x.raw, y.raw, x.raw_len);
    }
    assert_int_equal(st_reader_find_id(rb, sth_str("don-777"), &seq), 0);
    assert_int_equal(seq, 779);
    struct ev_unit u;
    assert_int_equal(st_reader_unit(rb, sth_str("01"), &u), 0);
    assert_int_equal(st_reader_last_seq(rb, &last), 0);
    assert_int_equal(last, 802);
    st_reader_end(ra);
    st_reader_end(rb);
    st_log_close(a);
    st_log_close(b);
}

/* ---- rejection of what is not a log ---- */

static void expect_open_fails(const char *dir, unsigned flags, int want,
                              const char *msg_part)
{
    struct st_log *log = (struct st_log *)1;
    char err[1024] = "";
    int rc = st_log_open(dir, flags, &log, err, sizeof(err));

    if (rc != want || strstr(err, msg_part) == NULL)
        fail_msg("open %s: rc %d (%s), err \"%s\"; wanted %d and \"%s\"", dir,
                 rc, st_strerror(rc), err, want, msg_part);
    assert_null(log);
    /* The message names the directory. */
    assert_non_null(strstr(err, dir));
}

/* A file of n bytes c at path (replaced). */
static void write_bytes(const char *path, int c, size_t n)
{
    FILE *fp = fopen(path, "w");

    assert_non_null(fp);
    for (size_t i = 0; i < n; i++)
        assert_int_not_equal(fputc(c, fp), EOF);
    assert_int_equal(fclose(fp), 0);
}

/* Write key=val into database name (NULL: main) of a raw LMDB environment. */
static void raw_put(const char *dir, const char *name, const char *key,
                    const char *val)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_val k = {strlen(key), (void *)key}, v = {strlen(val), (void *)val};

    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 8), 0);
    assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, name, name ? MDB_CREATE : 0, &dbi), 0);
    assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

static void test_not_a_log(void **state)
{
    struct fx *f = *state;
    char dir[160], path[200];
    struct stat sb;
    FILE *fp;

    /* Another program's LMDB environment. */
    snprintf(dir, sizeof(dir), "%s/foreign", f->root);
    assert_int_equal(mkdir(dir, 0700), 0);
    raw_put(dir, NULL, "hello", "world");
    expect_open_fails(dir, 0, POVTRACK_EFORMAT, "not a povtrack log");
    expect_open_fails(dir, ST_OPEN_READONLY, POVTRACK_EFORMAT,
                      "not a povtrack log");

    /* A log of another format. */
    snprintf(dir, sizeof(dir), "%s/other-format", f->root);
    st_log_close(sth_open(dir, 0, 0));
    raw_put(dir, "meta", "format", "povtrack-log-0");
    expect_open_fails(dir, 0, POVTRACK_EFORMAT,
                      "format mismatch: the log is \"povtrack-log-0\"");
    expect_open_fails(dir, ST_OPEN_READONLY, POVTRACK_EFORMAT,
                      "format mismatch");

    /* A data.mdb that is not LMDB at all, and longer than a log that was
     * never written (those: test_unwritten_log): left as it is. */
    snprintf(dir, sizeof(dir), "%s/garbage", f->root);
    assert_int_equal(mkdir(dir, 0700), 0);
    snprintf(path, sizeof(path), "%s/data.mdb", dir);
    write_bytes(path, 'x', ST_UNWRITTEN_MAX + 1);
    expect_open_fails(dir, 0, POVTRACK_ENOCOMMIT, "not an LMDB file");
    expect_open_fails(dir, ST_OPEN_READONLY, POVTRACK_ENOCOMMIT,
                      "not an LMDB file");
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_size, ST_UNWRITTEN_MAX + 1);

    /* A directory of other files: no log is created there. */
    snprintf(dir, sizeof(dir), "%s/documents", f->root);
    assert_int_equal(mkdir(dir, 0700), 0);
    snprintf(path, sizeof(path), "%s/notes.txt", dir);
    fp = fopen(path, "w");
    assert_non_null(fp);
    fclose(fp);
    expect_open_fails(dir, 0, POVTRACK_EFORMAT, "not a povtrack log directory");
    snprintf(path, sizeof(path), "%s/data.mdb", dir);
    assert_int_not_equal(stat(path, &sb), 0);

    /* A reader does not create anything. */
    snprintf(dir, sizeof(dir), "%s/absent", f->root);
    expect_open_fails(dir, ST_OPEN_READONLY, -ENOENT, "No such file");
    assert_int_not_equal(stat(dir, &sb), 0);
    assert_int_equal(mkdir(dir, 0700), 0);
    expect_open_fails(dir, ST_OPEN_READONLY, -ENOENT, "no povtrack log here");
    snprintf(path, sizeof(path), "%s/lock.mdb", dir);
    assert_int_not_equal(stat(path, &sb), 0);

    /* A file where the directory should be. */
    snprintf(path, sizeof(path), "%s/documents/notes.txt", f->root);
    expect_open_fails(path, 0, -ENOTDIR, "not a directory");

    /* Bad arguments. */
    {
        struct st_log *log;
        char err[64];

        assert_int_equal(st_log_open(NULL, 0, &log, err, sizeof(err)),
                         POVTRACK_EINVAL);
        assert_int_equal(st_log_open(f->dir, 0x80, &log, err, sizeof(err)),
                         POVTRACK_EINVAL);
        assert_null(log);
    }
}

/* Open dir as the writer, which must repair it: the notice holds want. */
static struct st_log *open_repaired(const char *dir, const char *want)
{
    struct st_log *log = sth_open(dir, 0, 0);

    if (strstr(st_log_notice(log), want) == NULL)
        fail_msg("%s: notice \"%s\", wanted \"%s\"", dir, st_log_notice(log),
                 want);
    append_n(log, 0, 2, 0);
    assert_int_equal(last_seq(log), 2);
    return log;
}

/* What a creation cut short leaves (by an older writer, in place; by this
 * one, a temporary file), and where the line runs between a log that was
 * never written and one that may hold events. */
static void test_unwritten_log(void **state)
{
    struct fx *f = *state;
    char path[200], aside[256];
    struct st_log *log;
    struct stat sb;

    /* A fresh log has no notice. */
    log = sth_open(f->dir, 0, 0);
    assert_string_equal(st_log_notice(log), "");
    st_log_close(log);
    /* The leftover of a creation this writer cut short, with no data.mdb
     * yet: removed, and said. */
    snprintf(path, sizeof(path), "%s/data.mdb", f->dir);
    assert_int_equal(unlink(path), 0);
    snprintf(path, sizeof(path), "%s/data.mdb.new-123", f->dir);
    write_bytes(path, 0, 8192);
    log = open_repaired(f->dir, "data.mdb.new-123");
    assert_int_not_equal(stat(path, &sb), 0);
    st_log_close(log);

    /* Empty: readers refuse, saying what it is; the writer creates the
     * log in its place. */
    snprintf(path, sizeof(path), "%s/data.mdb", f->dir);
    write_bytes(path, 0, 0);
    expect_open_fails(f->dir, ST_OPEN_READONLY, POVTRACK_ENOCOMMIT,
                      "is empty (0 bytes): the log was never written");
    log = open_repaired(f->dir, "is empty (0 bytes)");
    assert_null(strstr(st_log_notice(log), "moved it to"));
    st_log_close(log);

    /* No valid meta page, as long as the log's first commit at the most:
     * never written either; the bytes are kept beside it. */
    write_bytes(path, 0, ST_UNWRITTEN_MAX);
    expect_open_fails(f->dir, ST_OPEN_READONLY, POVTRACK_ENOCOMMIT,
                      "no valid LMDB meta page (16384 bytes): the log was "
                      "never written");
    log = open_repaired(f->dir, "; moved it to ");
    const char *moved = strstr(st_log_notice(log), "moved it to ");
    assert_non_null(moved);
    moved += strlen("moved it to ");
    snprintf(aside, sizeof(aside), "%.*s", (int)strcspn(moved, ";"), moved);
    st_log_close(log);
    assert_non_null(strstr(aside, "/data.mdb.invalid-"));
    assert_int_equal(stat(aside, &sb), 0);
    assert_int_equal(sb.st_size, ST_UNWRITTEN_MAX);

    /* A log that held events, its meta pages lost: longer than that, so
     * it is refused and left untouched. */
    assert_int_equal(stat(path, &sb), 0);
    assert_true((uint64_t)sb.st_size > ST_UNWRITTEN_MAX);
    {
        int fd = open(path, O_WRONLY);
        char zero[8192] = {0};

        assert_true(fd >= 0);
        assert_int_equal(pwrite(fd, zero, sizeof(zero), 0), sizeof(zero));
        assert_int_equal(close(fd), 0);
    }
    off_t held = sb.st_size;
    expect_open_fails(f->dir, 0, POVTRACK_ENOCOMMIT,
                      "may hold acknowledged events");
    expect_open_fails(f->dir, ST_OPEN_READONLY, POVTRACK_ENOCOMMIT,
                      "restore it from a backup");
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_size, held);
}

static void test_find_id(void **state)
{
    struct fx *f = *state;
    struct st_log *log = sth_open(f->dir, 0, 0);
    struct st_reader *r;
    uint64_t seq = 0;
    char longid[600];

    append_n(log, 0, 10, 0);
    assert_int_equal(st_reader_begin(log, &r), 0);
    assert_int_equal(st_reader_find_id(r, sth_str("id-0"), &seq), 0);
    assert_int_equal(seq, 1);
    assert_int_equal(st_reader_find_id(r, sth_str("id-7"), &seq), 0);
    assert_int_equal(seq, 8);
    assert_int_equal(st_reader_find_id(r, sth_str("id-10"), &seq),
                     POVTRACK_ENOTFOUND);
    assert_int_equal(st_reader_find_id(r, sth_str("id-"), &seq),
                     POVTRACK_ENOTFOUND);
    /* Longer than any stored key: simply not there. */
    memset(longid, 'k', sizeof(longid) - 1);
    longid[sizeof(longid) - 1] = '\0';
    assert_int_equal(st_reader_find_id(r, sth_str(longid), &seq),
                     POVTRACK_ENOTFOUND);
    assert_int_equal(st_reader_find_id(r, sth_str(""), &seq), POVTRACK_EINVAL);
    assert_int_equal(st_reader_unit(r, sth_str(longid), NULL), POVTRACK_EINVAL);
    st_reader_end(r);
    st_log_close(log);
}

static void test_seek_next(void **state)
{
    struct fx *f = *state;
    struct st_log *log = sth_open(f->dir, 0, 0);
    struct st_reader *r;
    struct st_record rec;
    uint64_t expect, last;

    append_n(log, 0, 10, 0);
    assert_int_equal(st_reader_begin(log, &r), 0);

    /* Without a seek, from 1. */
    for (expect = 1; st_reader_next(r, &rec) == 0; expect++)
        assert_int_equal(rec.seq, expect);
    assert_int_equal(expect, 11);
    assert_int_equal(st_reader_next(r, &rec), POVTRACK_EEND);

    assert_int_equal(st_reader_seek(r, 4), 0);
    assert_int_equal(st_reader_next(r, &rec), 0);
    assert_int_equal(rec.seq, 4);
    /* last_seq in between does not disturb the iteration. */
    assert_int_equal(st_reader_last_seq(r, &last), 0);
    assert_int_equal(last, 10);
    for (expect = 5; st_reader_next(r, &rec) == 0; expect++)
        assert_int_equal(rec.seq, expect);
    assert_int_equal(expect, 11);

    /* Past the end, and 0 meaning the start. */
    assert_int_equal(st_reader_seek(r, 11), 0);
    assert_int_equal(st_reader_next(r, &rec), POVTRACK_EEND);
    assert_int_equal(st_reader_seek(r, UINT64_MAX), 0);
    assert_int_equal(st_reader_next(r, &rec), POVTRACK_EEND);
    assert_int_equal(st_reader_seek(r, 0), 0);
    assert_int_equal(st_reader_next(r, &rec), 0);
    assert_int_equal(rec.seq, 1);

    /* Tail the log: at POVTRACK_EEND, renew, and next continues with new ones.
     */
    assert_int_equal(st_reader_seek(r, 9), 0);
    assert_int_equal(st_reader_next(r, &rec), 0);
    assert_int_equal(st_reader_next(r, &rec), 0);
    assert_int_equal(rec.seq, 10);
    assert_int_equal(st_reader_next(r, &rec), POVTRACK_EEND);
    append_n(log, 100, 3, 0);
    /* The old snapshot does not see them... */
    assert_int_equal(st_reader_next(r, &rec), POVTRACK_EEND);
    /* ...a renewed one does. */
    assert_int_equal(st_reader_renew(r), 0);
    for (expect = 11; st_reader_next(r, &rec) == 0; expect++)
        assert_int_equal(rec.seq, expect);
    assert_int_equal(expect, 14);

    /* Renew in the middle keeps the position too. */
    assert_int_equal(st_reader_seek(r, 2), 0);
    assert_int_equal(st_reader_next(r, &rec), 0);
    assert_int_equal(st_reader_renew(r), 0);
    assert_int_equal(st_reader_next(r, &rec), 0);
    assert_int_equal(rec.seq, 3);
    st_reader_end(r);
    st_log_close(log);
}

static void test_record_parse(void **state)
{
    unsigned char v[32] = {0};
    struct st_record rec;

    (void)state;
    /* received = -2 (two's complement), publisher "ab", event 3 bytes. */
    memset(v, 0xff, 8);
    v[7] = 0xfe;
    v[8] = 2;
    memcpy(v + 9, "ab", 2);
    memcpy(v + 11, "\x81\xa1x", 3);
    assert_int_equal(st_record_parse(7, v, 14, &rec), 0);
    assert_int_equal(rec.seq, 7);
    assert_true(rec.received == -2);
    assert_int_equal(rec.publisher.len, 2);
    assert_memory_equal(rec.publisher.ptr, "ab", 2);
    assert_int_equal(rec.event_len, 3);
    assert_ptr_equal(rec.event, v + 11);
    assert_ptr_equal(rec.raw, v);
    assert_int_equal(rec.raw_len, 14);

    /* Empty publisher. */
    v[8] = 0;
    assert_int_equal(st_record_parse(1, v, 10, &rec), 0);
    assert_int_equal(rec.publisher.len, 0);
    assert_int_equal(rec.event_len, 1);

    /* Short or inconsistent values. */
    assert_int_equal(st_record_parse(1, v, 0, &rec), POVTRACK_EFORMAT);
    assert_int_equal(st_record_parse(1, v, 8, &rec), POVTRACK_EFORMAT);
    assert_int_equal(st_record_parse(1, v, 9, &rec),
                     POVTRACK_EFORMAT); /* no event */
    assert_int_equal(st_record_parse(1, NULL, 14, &rec), POVTRACK_EFORMAT);
    v[8] = 200; /* publisher longer than the value */
    assert_int_equal(st_record_parse(1, v, 32, &rec), POVTRACK_EFORMAT);
    v[8] = 22; /* publisher fills the rest: no event */
    assert_int_equal(st_record_parse(1, v, 31, &rec), POVTRACK_EFORMAT);
    assert_int_equal(st_record_parse(1, v, 32, &rec), 0);
    assert_int_equal(rec.event_len, 1);
    assert_int_equal(st_record_parse(1, v, 32, NULL), POVTRACK_EINVAL);
}

/* A corrupt units value is reported, not trusted. */
static void test_corrupt_unit(void **state)
{
    struct fx *f = *state;
    struct st_log *log = sth_open(f->dir, 0, 0);
    struct st_reader *r;
    struct ev_unit u;
    static const char *const bad[] = {
        "",              /* empty */
        "\x92\xa1x\xc0", /* two elements */
        "\x93\xa1x\xc0\xa5"
        "bogus",                      /* unknown level */
        "\x93\xa1x\xc0\xa8province",  /* string runs past the end */
        "\x93\xc0\xc0\xa8province",   /* nil name */
        "\x93\xa1x\xc0\xa8provincez", /* trailing byte */
    };
    static const size_t badlen[] = {0, 4, 10, 11, 11, 14};
    char code[8];

    st_log_close(log);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        MDB_env *env;
        MDB_txn *txn;
        MDB_dbi dbi;
        MDB_val k, v = {badlen[i], (void *)bad[i]};

        snprintf(code, sizeof(code), "9%zu", i);
        k.mv_size = strlen(code);
        k.mv_data = code;
        assert_int_equal(mdb_env_create(&env), 0);
        assert_int_equal(mdb_env_set_maxdbs(env, 8), 0);
        assert_int_equal(mdb_env_open(env, f->dir, 0, 0600), 0);
        assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
        assert_int_equal(mdb_dbi_open(txn, "units", 0, &dbi), 0);
        assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
        assert_int_equal(mdb_txn_commit(txn), 0);
        mdb_env_close(env);
    }
    log = sth_open(f->dir, ST_OPEN_READONLY, 0);
    assert_int_equal(st_reader_begin(log, &r), 0);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(code, sizeof(code), "9%zu", i);
        u.level = EV_LEVEL_DISTRICT;
        if (st_reader_unit(r, sth_str(code), &u) != POVTRACK_EFORMAT)
            fail_msg("corrupt unit value %zu accepted", i);
        assert_int_equal(u.level, EV_LEVEL_DISTRICT); /* untouched */
    }
    st_reader_end(r);
    st_log_close(log);
}

static void test_bad_items(void **state)
{
    struct fx *f = *state;
    struct st_log *log = sth_open(f->dir, 0, 0);
    struct tev a;
    struct st_item it;
    char longpub[300];

    tev_status(&a, "a", 1, 0);
    item_of(&it, &a);
    it.ev = NULL;
    assert_int_equal(st_log_append_batch(log, RECEIVED, &it, 1, NULL, NULL),
                     POVTRACK_EINVAL);
    item_of(&it, &a);
    it.len = 0;
    assert_int_equal(st_log_append_batch(log, RECEIVED, &it, 1, NULL, NULL),
                     POVTRACK_EINVAL);
    assert_int_equal(st_log_append_batch(log, RECEIVED, NULL, 1, NULL, NULL),
                     POVTRACK_EINVAL);
    assert_int_equal(st_log_append_batch(NULL, RECEIVED, &it, 1, NULL, NULL),
                     POVTRACK_EINVAL);

    /* A publisher name too long for the record rejects that item. */
    memset(longpub, 'p', sizeof(longpub) - 1);
    longpub[sizeof(longpub) - 1] = '\0';
    item_of(&it, &a);
    it.publisher = sth_str(longpub);
    assert_int_equal(st_log_append_batch(log, RECEIVED, &it, 1, NULL, NULL), 0);
    assert_int_equal(it.status, ST_ITEM_REJECTED);
    assert_non_null(strstr(it.error, "publisher"));
    assert_int_equal(last_seq(log), 0);

    /* Negative received times round-trip. */
    item_of(&it, &a);
    assert_int_equal(st_log_append_batch(log, -42, &it, 1, NULL, NULL), 0);
    {
        struct st_reader *r;
        struct st_record rec;

        assert_int_equal(st_reader_begin(log, &r), 0);
        assert_int_equal(st_reader_get(r, 1, &rec), 0);
        assert_true(rec.received == -42);
        st_reader_end(r);
    }
    tev_free(&a);
    st_log_close(log);
}

/* LMDB returns errno values positive; storage hands them on negated, as
 * the error space has them, so that they never pass for a success or for
 * another layer's code. */
static void test_lmdb_errno_negated(void **state)
{
    struct fx *f = *state;
    struct st_log *log = sth_open(f->dir, 0, 0);
    char dest[PATH_MAX], err[PATH_MAX + 128];

    /* mdb_env_copy2 cannot create dest/data.mdb: ENOENT from open(2). */
    snprintf(dest, sizeof dest, "%s/missing", f->dir);
    assert_int_equal(st_log_copy(log, dest, err, sizeof err), -ENOENT);
    assert_non_null(strstr(err, strerror(ENOENT)));
    st_log_close(log);
}

static void test_strerror(void **state)
{
    (void)state;
    assert_string_equal(st_strerror(POVTRACK_OK), "success");
    assert_non_null(strstr(st_strerror(POVTRACK_EEND), "end"));
    assert_non_null(strstr(st_strerror(POVTRACK_ENOTFOUND), "not found"));
    assert_non_null(
        strstr(st_strerror(POVTRACK_EFORMAT), "not a povtrack log"));
    assert_string_equal(st_strerror(POVTRACK_ENOMEM), strerror(ENOMEM));
    assert_string_equal(st_strerror(POVTRACK_EINVAL), strerror(EINVAL));
    assert_non_null(strstr(st_strerror(POVTRACK_ENOCOMMIT), "no committed"));
    /* LMDB's own codes get LMDB's message here, and only here. */
    assert_non_null(strstr(st_strerror(MDB_MAP_FULL), "MDB_MAP_FULL"));
    assert_string_equal(st_strerror(MDB_CORRUPTED),
                        mdb_strerror(MDB_CORRUPTED));
    assert_string_equal(st_strerror(-ENOENT), strerror(ENOENT));
    /* Never a positive code: no meaning in the error space. */
    assert_string_equal(st_strerror(ENOENT), "unknown error");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        STH_TEST(test_append_read_back),
        STH_TEST(test_empty_log),
        STH_TEST(test_gapless),
        STH_TEST(test_duplicate_across_batches),
        STH_TEST(test_reused_id_rejected),
        STH_TEST(test_dup_and_reuse_in_one_batch),
        STH_TEST(test_check_rejects_one),
        STH_TEST(test_check_fails_batch),
        STH_TEST(test_check_sees_unit_in_batch),
        STH_TEST(test_unit_long_names),
        STH_TEST(test_restart),
        STH_TEST(test_map_growth),
        STH_TEST(test_reader_same_handle_growth),
        STH_TEST(test_reader_process_growth),
        STH_TEST(test_append_raw),
        STH_TEST(test_not_a_log),
        STH_TEST(test_unwritten_log),
        STH_TEST(test_find_id),
        STH_TEST(test_seek_next),
        cmocka_unit_test(test_record_parse),
        STH_TEST(test_corrupt_unit),
        STH_TEST(test_bad_items),
        cmocka_unit_test(test_strerror),
        STH_TEST(test_lmdb_errno_negated),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
