/*
 * st_verify.c - the log checker; see st_verify.h.
 *
 * One pass over "events" in key order checks the sequence, decodes each
 * record and looks its id up in "ids".  The index itself is scanned only
 * when its entry count differs from the number of records found in it:
 * records whose entry is right have distinct ids (two records with one id
 * cannot both be named by the one entry), so they account for that many
 * distinct entries, and when the index holds no more than that there is no
 * entry left over for a scan to find.  This keeps a healthy log at one read
 * of each record and one index lookup per record.
 */
#include "st_verify.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <msgpack.h>

#include "st_internal.h"

/* Records between two progress calls. */
#define PROGRESS_EVERY 16384

struct walk {
    struct st_log *log;
    MDB_txn *txn;
    struct st_verify_report *rep;
    msgpack_zone zone;   /* the record being decoded; cleared for each */
    msgpack_sbuffer enc; /* its canonical re-encoding */
    msgpack_packer pk;
    uint64_t ids_ok; /* records whose index entry names them */
};

static const char *const check_names[ST_VERIFY_NCHECKS] = {"sequence",
                                                           "records", "ids"};

const char *st_verify_check_name(enum st_verify_check c)
{
    if ((unsigned)c >= ST_VERIFY_NCHECKS)
        return NULL;
    return check_names[c];
}

/* Count n failures of check c; the first message is kept, as it points at
 * the damage most directly (later ones are often its consequences). */
static void fail(struct walk *w, enum st_verify_check c, uint64_t n,
                 const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void fail(struct walk *w, enum st_verify_check c, uint64_t n,
                 const char *fmt, ...)
{
    struct st_verify_outcome *o = &w->rep->check[c];
    va_list ap;

    o->failed = o->failed > UINT64_MAX - n ? UINT64_MAX : o->failed + n;
    if (o->first[0] != '\0')
        return;
    va_start(ap, fmt);
    vsnprintf(o->first, sizeof(o->first), fmt, ap);
    va_end(ap);
}

/*
 * Decode the event of the record value v (at seq) into *ev, which points
 * into the map and w->zone until the next call.  Returns 0 for a valid
 * event in canonical form, 1 with why filled when the record is not one,
 * and ST_ENOMEM when memory ran out (a failure of this run, not of the
 * record).
 */
static int decode_record(struct walk *w, uint64_t seq, const MDB_val *v,
                         struct ev_event *ev, char *why, size_t whylen)
{
    struct ev_error everr = {{0}};
    struct st_record rec;
    msgpack_object obj;
    msgpack_unpack_return ur;
    size_t off = 0;
    int rc;

    msgpack_zone_clear(&w->zone);
    if (st_record_parse(seq, v->mv_data, v->mv_size, &rec) != 0) {
        snprintf(why, whylen, "the record header is corrupt (%zu bytes)",
                 v->mv_size);
        return 1;
    }
    /* Before msgpack_unpack, which would allocate whatever size a corrupt
     * header declares. */
    if (ev_precheck(rec.event, rec.event_len, EV_DEPTH_MAX, &everr) != 0) {
        snprintf(why, whylen, "the event is not msgpack: %s", everr.msg);
        return 1;
    }
    ur = msgpack_unpack(rec.event, rec.event_len, &off, &w->zone, &obj);
    if (ur == MSGPACK_UNPACK_NOMEM_ERROR)
        return ST_ENOMEM;
    if (ur != MSGPACK_UNPACK_SUCCESS || off != rec.event_len) {
        snprintf(why, whylen, "the event is not one msgpack object");
        return 1;
    }
    rc = ev_decode(&obj, INT64_MAX, ev, &everr);
    if (rc == EV_ENOMEM)
        return ST_ENOMEM;
    if (rc != 0) {
        snprintf(why, whylen, "the event does not validate: %s", everr.msg);
        return 1;
    }
    /* The log stores ev_encode's bytes; any other form would make a resent
     * event look like a conflicting one instead of a duplicate. */
    msgpack_sbuffer_clear(&w->enc);
    if (ev_encode(ev, &w->pk) != 0)
        return ST_ENOMEM;
    if (w->enc.size != rec.event_len ||
        memcmp(w->enc.data, rec.event, rec.event_len) != 0) {
        snprintf(why, whylen, "the event is not in canonical form");
        return 1;
    }
    return 0;
}

/* ids[ev->id] must be seq. */
static int check_id(struct walk *w, uint64_t seq, const struct ev_event *ev)
{
    MDB_val k = {ev->id.len, (void *)ev->id.ptr}, v;
    int idlen = (int)ev->id.len;
    uint64_t at;
    int rc;

    w->rep->check[ST_VERIFY_IDS].checked++;
    if (ev->id.len > (uint32_t)mdb_env_get_maxkeysize(w->log->env)) {
        fail(w, ST_VERIFY_IDS, 1,
             "seq %" PRIu64 ": the id is longer than the index can hold", seq);
        return 0;
    }
    rc = mdb_get(w->txn, w->log->ids, &k, &v);
    if (rc == MDB_NOTFOUND) {
        fail(w, ST_VERIFY_IDS, 1,
             "seq %" PRIu64 " (id \"%.*s\") is not indexed", seq, idlen,
             ev->id.ptr);
        return 0;
    }
    if (rc != 0)
        return rc;
    if (v.mv_size != 8) {
        fail(w, ST_VERIFY_IDS, 1,
             "the index entry of id \"%.*s\" (seq %" PRIu64
             ") is not a sequence",
             idlen, ev->id.ptr, seq);
        return 0;
    }
    at = st_get_u64be(v.mv_data);
    if (at != seq) {
        fail(w, ST_VERIFY_IDS, 1,
             "id \"%.*s\" of seq %" PRIu64 " is indexed at seq %" PRIu64, idlen,
             ev->id.ptr, seq, at);
        return 0;
    }
    w->ids_ok++;
    return 0;
}

static int check_record(struct walk *w, uint64_t seq, const MDB_val *v)
{
    char why[ST_VERIFY_MSG_MAX - 32];
    struct ev_event ev;
    int rc = decode_record(w, seq, v, &ev, why, sizeof(why));

    if (rc < 0)
        return rc;
    w->rep->check[ST_VERIFY_RECORDS].checked++;
    if (rc != 0) {
        fail(w, ST_VERIFY_RECORDS, 1, "seq %" PRIu64 ": %s", seq, why);
        return 0;
    }
    return check_id(w, seq, &ev);
}

/* The pass over "events": sequence, records, and each record's index
 * entry. */
static int walk_events(struct walk *w, uint64_t total,
                       st_verify_progress_fn progress, void *arg)
{
    struct st_verify_report *rep = w->rep;
    uint64_t expected = 1; /* the sequence the next key should hold */
    MDB_cursor *cur;
    MDB_val k, v;
    int rc = mdb_cursor_open(w->txn, w->log->events, &cur);

    if (rc != 0)
        return rc;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        uint64_t seq;

        rep->records++;
        rep->check[ST_VERIFY_SEQUENCE].checked++;
        if (progress != NULL && rep->records % PROGRESS_EVERY == 0)
            progress(arg, rep->records, total);
        if (k.mv_size != 8) {
            char shown[40];

            st_printable(shown, sizeof(shown), k.mv_data, k.mv_size);
            fail(w, ST_VERIFY_SEQUENCE, 1,
                 "a key of %zu bytes (\"%s\") is not a sequence", k.mv_size,
                 shown);
            continue; /* its record has no sequence to report it under */
        }
        seq = st_get_u64be(k.mv_data);
        if (seq == 0) {
            fail(w, ST_VERIFY_SEQUENCE, 1,
                 "a record at seq 0 (sequences start at 1)");
        } else if (seq > expected) {
            if (seq - expected == 1)
                fail(w, ST_VERIFY_SEQUENCE, 1,
                     "seq %" PRIu64 " is missing (the log goes on at %" PRIu64
                     ")",
                     expected, seq);
            else
                fail(w, ST_VERIFY_SEQUENCE, seq - expected,
                     "seq %" PRIu64 "..%" PRIu64
                     " are missing (the log goes on at %" PRIu64 ")",
                     expected, seq - 1, seq);
        }
        if (seq >= expected) {
            rep->last_seq = seq;
            expected = seq == UINT64_MAX ? UINT64_MAX : seq + 1;
        }
        rc = check_record(w, seq, &v);
        if (rc != 0)
            break;
    }
    mdb_cursor_close(cur);
    if (rc == MDB_NOTFOUND)
        rc = 0;
    if (rc == 0 && progress != NULL)
        progress(arg, rep->records, total);
    return rc;
}

/* Find the index entries that belong to no record: each must name a
 * record that exists and carries the entry's id.  Entries naming a record
 * that does not decode are left alone: that record already fails. */
static int scan_index(struct walk *w)
{
    MDB_cursor *cur;
    MDB_val k, v;
    int rc = mdb_cursor_open(w->txn, w->log->ids, &cur);

    if (rc != 0)
        return rc;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        char shown[EV_ID_MAX + 8], why[ST_VERIFY_MSG_MAX];
        unsigned char kb[8];
        MDB_val rk = {sizeof(kb), kb}, rv;
        struct ev_event ev;
        uint64_t seq;

        st_printable(shown, sizeof(shown), k.mv_data, k.mv_size);
        if (v.mv_size != 8) {
            fail(w, ST_VERIFY_IDS, 1,
                 "the index entry of id \"%s\" is not a sequence", shown);
            continue;
        }
        seq = st_get_u64be(v.mv_data);
        st_put_u64be(kb, seq);
        rc = mdb_get(w->txn, w->log->events, &rk, &rv);
        if (rc == MDB_NOTFOUND) {
            fail(w, ST_VERIFY_IDS, 1,
                 "id \"%s\" is indexed at seq %" PRIu64
                 ", which is not in the log",
                 shown, seq);
            continue;
        }
        if (rc != 0)
            break;
        rc = decode_record(w, seq, &rv, &ev, why, sizeof(why));
        if (rc < 0)
            break;
        if (rc != 0) {
            rc = 0; /* that record fails already; its id is unknown */
            continue;
        }
        if (ev.id.len != k.mv_size ||
            memcmp(ev.id.ptr, k.mv_data, k.mv_size) != 0)
            fail(w, ST_VERIFY_IDS, 1,
                 "id \"%s\" is indexed at seq %" PRIu64
                 ", which holds id \"%.*s\"",
                 shown, seq, (int)ev.id.len, ev.id.ptr);
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int st_verify(struct st_log *log, struct st_verify_report *out,
              st_verify_progress_fn progress, void *arg)
{
    struct walk w;
    MDB_stat est, ist;
    int rc;

    if (log == NULL || out == NULL)
        return ST_EINVAL;
    memset(out, 0, sizeof(*out));
    if (log->broken)
        return log->broken;
    memset(&w, 0, sizeof(w));
    w.log = log;
    w.rep = out;
    if (!msgpack_zone_init(&w.zone, MSGPACK_ZONE_CHUNK_SIZE))
        return ST_ENOMEM;
    msgpack_sbuffer_init(&w.enc);
    msgpack_packer_init(&w.pk, &w.enc, msgpack_sbuffer_write);

    rc = st_txn_begin_read(log, &w.txn);
    if (rc == 0) {
        /* Counted like a reader's snapshot: a writer on this handle must
         * not remap under the pointers this walk holds. */
        log->live_snapshots++;
        rc = mdb_stat(w.txn, log->events, &est);
        if (rc == 0)
            rc = mdb_stat(w.txn, log->ids, &ist);
        if (rc == 0)
            rc = walk_events(&w, est.ms_entries, progress, arg);
        if (rc == 0) {
            out->index_entries = ist.ms_entries;
            if (ist.ms_entries != w.ids_ok)
                rc = scan_index(&w);
        }
        mdb_txn_abort(w.txn);
        log->live_snapshots--;
    }
    msgpack_sbuffer_destroy(&w.enc);
    msgpack_zone_destroy(&w.zone);
    return rc;
}
