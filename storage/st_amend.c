/*
 * st_amend.c - voids and corrections: the rules of a target, checked in
 * the commit against the log as of that commit, and the "amends" index
 * that lists, for an original record, what voided or corrected it.
 *
 * Why an index rather than a scan: whether a record was voided decides
 * whether a correction may be stored, and the plugin host must know, for
 * every void or correction it hands over, the record as it stood just
 * before; both are one cursor step in "amends".
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "st_internal.h"

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static int same_code(struct ev_str a, struct ev_str b)
{
    return a.len == b.len && a.ptr != NULL && b.ptr != NULL &&
           memcmp(a.ptr, b.ptr, a.len) == 0;
}

static void amend_key(unsigned char k[16], uint64_t original, uint64_t seq)
{
    st_put_u64be(k, original);
    st_put_u64be(k + 8, seq);
}

int st_amends_each(MDB_txn *txn, const struct st_log *log, uint64_t original,
                   st_amend_fn fn, void *arg)
{
    unsigned char kb[16];
    MDB_val k = {sizeof kb, kb}, v;
    MDB_cursor *cur;
    int rc;

    if (log->amends == 0)
        return 0; /* a reader of a log older than voids */
    if ((rc = st_mdb_rc(mdb_cursor_open(txn, log->amends, &cur))) != 0)
        return rc;
    amend_key(kb, original, 0);
    rc = st_mdb_rc(mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE));
    while (rc == 0) {
        if (k.mv_size != 16 || v.mv_size != 1) {
            rc = POVTRACK_EFORMAT;
            break;
        }
        if (st_get_u64be(k.mv_data) != original)
            break;
        rc = fn(arg, st_get_u64be((const unsigned char *)k.mv_data + 8),
                *(const unsigned char *)v.mv_data == 'v');
        if (rc != 0)
            break;
        rc = st_mdb_rc(mdb_cursor_get(cur, &k, &v, MDB_NEXT));
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Read and decode record seq inside txn (its bytes stay in the map). */
static int read_event(MDB_txn *txn, const struct st_log *log, uint64_t seq,
                      msgpack_unpacked *up, struct ev_event *ev,
                      struct ev_str *publisher)
{
    unsigned char kb[8];
    MDB_val k = {sizeof kb, kb}, v;
    struct st_record rec;
    struct ev_error err;
    int rc;

    st_put_u64be(kb, seq);
    rc = st_mdb_rc(mdb_get(txn, log->events, &k, &v));
    if (rc == MDB_NOTFOUND)
        return POVTRACK_EFORMAT; /* "ids" or "amends" name no record */
    if (rc == 0)
        rc = st_record_parse(seq, v.mv_data, v.mv_size, &rec);
    if (rc != 0)
        return rc;
    if (msgpack_unpack_next(up, rec.event, rec.event_len, NULL) !=
            MSGPACK_UNPACK_SUCCESS ||
        ev_decode(&up->data, INT64_MAX, ev, &err) != POVTRACK_OK)
        return POVTRACK_EFORMAT;
    if (publisher != NULL)
        *publisher = rec.publisher;
    return 0;
}

struct last_amend {
    uint64_t seq;
    int voided;
};

static int note_last(void *arg, uint64_t seq, int voided)
{
    struct last_amend *l = arg;

    l->seq = seq;
    l->voided = voided;
    return 0;
}

static int resolve(MDB_txn *txn, const struct st_log *log,
                   const struct ev_event *amend, struct st_target *out,
                   char *err, size_t errlen)
{
    const struct ev_str id = amend->data.target;
    const char *what = amend->type == EV_RECORD_VOIDED ? "voided" : "corrected";
    MDB_val k = {id.len, (void *)id.ptr}, v;
    struct last_amend last = {0, 0};
    int rc;

    if (!ev_type_amends(amend->type) || id.ptr == NULL)
        return POVTRACK_EINVAL;
    rc = st_mdb_rc(mdb_get(txn, log->ids, &k, &v));
    if (rc == MDB_NOTFOUND) {
        set_err(err, errlen,
                "data.target: no record with id \"%.*s\" in the log",
                (int)id.len, id.ptr);
        return POVTRACK_EINVALID;
    }
    if (rc != 0)
        return rc;
    if (v.mv_size != 8)
        return POVTRACK_EFORMAT;
    out->original = st_get_u64be(v.mv_data);
    rc = read_event(txn, log, out->original, &out->unpacked, &out->event,
                    &out->publisher);
    if (rc != 0)
        return rc;
    const struct ev_event *t = &out->event;
    if (ev_type_amends(t->type)) {
        set_err(err, errlen,
                "data.target: \"%.*s\" is itself a %s of \"%.*s\"; void or "
                "correct \"%.*s\" instead",
                (int)id.len, id.ptr,
                t->type == EV_RECORD_VOIDED ? "void" : "correction",
                (int)t->data.target.len, t->data.target.ptr,
                (int)t->data.target.len, t->data.target.ptr);
        return POVTRACK_EINVALID;
    }
    if (t->type != amend->data.target_type) {
        set_err(err, errlen, "data.type: \"%.*s\" is a %s, not a %s",
                (int)id.len, id.ptr, ev_type_name(t->type),
                ev_type_name(amend->data.target_type));
        return POVTRACK_EINVALID;
    }
    rc = st_amends_each(txn, log, out->original, note_last, &last);
    if (rc != 0)
        return rc;
    if (last.voided) {
        out->voided = 1;
        set_err(err, errlen,
                "data.target: \"%.*s\" was voided (seq %" PRIu64
                "); a voided record cannot be %s",
                (int)id.len, id.ptr, last.seq, what);
        return POVTRACK_EINVALID;
    }
    out->current = out->original;
    if (last.seq != 0) {
        /* The latest correction, seen as the record it holds. */
        msgpack_unpacked_destroy(&out->unpacked);
        msgpack_unpacked_init(&out->unpacked);
        out->current = last.seq;
        rc = read_event(txn, log, last.seq, &out->unpacked, &out->event,
                        &out->publisher);
        if (rc != 0)
            return rc;
        if (out->event.type != EV_RECORD_CORRECTED)
            return POVTRACK_EFORMAT;
        out->event.type = out->event.data.target_type;
    }
    if (amend->type == EV_RECORD_VOIDED &&
        !same_code(amend->unit, out->event.unit)) {
        set_err(err, errlen,
                "unit: must be the unit of the record voided (%.*s), not "
                "%.*s",
                (int)out->event.unit.len, out->event.unit.ptr,
                (int)amend->unit.len, amend->unit.ptr);
        return POVTRACK_EINVALID;
    }
    return 0;
}

int st_view_target(struct st_view *view, const struct ev_event *amend,
                   struct st_target *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    msgpack_unpacked_init(&out->unpacked);
    int rc = resolve(view->txn, view->log, amend, out, err, errlen);
    if (rc != 0)
        st_target_free(out);
    return rc;
}

void st_target_free(struct st_target *t)
{
    msgpack_unpacked_destroy(&t->unpacked);
    memset(t, 0, sizeof *t);
}

int st_amend_apply(struct st_view *view, uint64_t seq, struct st_item *it)
{
    struct st_target t;
    unsigned char kb[16];
    MDB_val k = {sizeof kb, kb}, v;
    int rc = st_view_target(view, it->ev, &t, it->error, sizeof it->error);

    if (rc != 0)
        return rc;
    amend_key(kb, t.original, seq);
    st_target_free(&t);
    v.mv_size = 1;
    v.mv_data = it->ev->type == EV_RECORD_VOIDED ? "v" : "c";
    return st_mdb_rc(mdb_put(view->txn, view->log->amends, &k, &v, 0));
}
