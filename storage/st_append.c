/*
 * st_append.c - the write side: one batch, one transaction, one commit.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "st_internal.h"

/* Reject the batch before touching LMDB if an item breaks the calling
 * contract (the daemon hands over decoded, valid events; anything else is a
 * bug, not a publisher's mistake). */
static int check_items(const struct st_log *log, const struct st_item *items,
                       size_t n)
{
    size_t maxkey = (size_t)mdb_env_get_maxkeysize(log->env);

    if (items == NULL)
        return POVTRACK_EINVAL;
    for (size_t i = 0; i < n; i++) {
        const struct st_item *it = &items[i];
        const struct ev_event *ev = it->ev;

        if (ev == NULL || it->bytes == NULL || it->len == 0 ||
            it->len > SIZE_MAX - ST_REC_HDR - ST_PUBLISHER_MAX)
            return POVTRACK_EINVAL;
        if (ev->id.ptr == NULL || ev->id.len == 0 || ev->id.len > maxkey)
            return POVTRACK_EINVAL;
        if (it->publisher.ptr == NULL && it->publisher.len != 0)
            return POVTRACK_EINVAL;
        if ((ev->type == EV_UNIT_DEFINED || ev->type == EV_UNIT_CHANGED) &&
            (ev->unit.ptr == NULL || ev->unit.len == 0 ||
             ev->unit.len > EV_UNIT_MAX))
            return POVTRACK_EINVAL;
    }
    return 0;
}

static void reject(struct st_item *it, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void reject(struct st_item *it, const char *fmt, ...)
{
    va_list ap;

    it->status = ST_ITEM_REJECTED;
    va_start(ap, fmt);
    vsnprintf(it->error, sizeof(it->error), fmt, ap);
    va_end(ap);
}

/*
 * One item inside the batch's transaction.  Returns 0 when the item got a
 * status (OK, DUPLICATE or REJECTED) and an error that fails the batch
 * otherwise; *from_check tells a check() failure apart from LMDB's own (only
 * LMDB's MDB_MAP_FULL means "grow and retry").
 */
static int append_item(struct st_log *log, MDB_txn *txn, struct st_view *view,
                       int64_t received, struct st_item *it, uint64_t *next,
                       st_check_fn check, void *arg, int *from_check)
{
    const struct ev_event *ev = it->ev;
    unsigned char kb[8], sb[8];
    MDB_val idk = {ev->id.len, (void *)ev->id.ptr};
    MDB_val k = {sizeof(kb), kb}, v;
    int rc;

    /* Claim the id with its would-be sequence: one search of the ids tree
     * instead of a lookup and then an insert.  On MDB_KEYEXIST, v holds
     * the stored sequence. */
    if (*next == 0)
        return POVTRACK_EFORMAT;
    st_put_u64be(sb, *next);
    v.mv_size = sizeof(sb);
    v.mv_data = sb;
    rc = st_mdb_rc(mdb_put(txn, log->ids, &idk, &v, MDB_NOOVERWRITE));
    if (rc == MDB_KEYEXIST) {
        struct st_record rec;
        uint64_t seq;

        if (v.mv_size != 8)
            return POVTRACK_EFORMAT;
        seq = st_get_u64be(v.mv_data);
        st_put_u64be(kb, seq);
        rc = st_mdb_rc(mdb_get(txn, log->events, &k, &v));
        if (rc == MDB_NOTFOUND)
            return POVTRACK_EFORMAT; /* "ids" points at no record */
        if (rc != 0)
            return rc;
        rc = st_record_parse(seq, v.mv_data, v.mv_size, &rec);
        if (rc != 0)
            return rc;
        if (rec.event_len == it->len &&
            memcmp(rec.event, it->bytes, it->len) == 0) {
            it->status = ST_ITEM_DUPLICATE;
            it->seq = seq;
        } else {
            reject(it,
                   "id: reused with different content (first stored at seq "
                   "%" PRIu64 ")",
                   seq);
        }
        return 0;
    }
    if (rc != 0)
        return rc;

    if (it->publisher.len > ST_PUBLISHER_MAX) {
        reject(it, "publisher: longer than %d bytes", ST_PUBLISHER_MAX);
        return st_mdb_rc(mdb_del(txn, log->ids, &idk, NULL));
    }
    if (check != NULL) {
        rc = check(arg, view, it);
        if (rc == POVTRACK_EINVALID) {
            it->status = ST_ITEM_REJECTED;
            it->error[sizeof(it->error) - 1] = '\0';
            if (it->error[0] == '\0')
                snprintf(it->error, sizeof(it->error), "rejected");
            return st_mdb_rc(mdb_del(txn, log->ids, &idk, NULL));
        }
        if (rc != 0) {
            *from_check = 1;
            return rc;
        }
        /* A passing check leaves no message behind. */
        it->error[0] = '\0';
    }

    if (*next == 0)
        return POVTRACK_EFORMAT; /* the sequence wrapped: cannot happen honestly
                                  */
    if (ev->type == EV_UNIT_DEFINED || ev->type == EV_UNIT_CHANGED) {
        /* Before the record, so that a change the rules refuse stores
         * nothing; a refused one leaves the transaction as it was. */
        rc = st_units_apply(view, ev, *next, it);
        if (rc == POVTRACK_EINVALID) {
            it->status = ST_ITEM_REJECTED;
            return st_mdb_rc(mdb_del(txn, log->ids, &idk, NULL));
        }
        if (rc != 0)
            return rc;
    }
    if (ev_type_amends(ev->type)) {
        rc = st_amend_apply(view, *next, it);
        if (rc == POVTRACK_EINVALID) {
            it->status = ST_ITEM_REJECTED;
            return st_mdb_rc(mdb_del(txn, log->ids, &idk, NULL));
        }
        if (rc != 0)
            return rc;
    }
    st_put_u64be(kb, *next);
    v.mv_size = ST_REC_HDR + it->publisher.len + it->len;
    v.mv_data = NULL;
    rc = st_mdb_rc(mdb_put(txn, log->events, &k, &v, MDB_APPEND | MDB_RESERVE));
    if (rc != 0)
        return rc;
    {
        unsigned char *p = v.mv_data;
        uint64_t r;

        /* Two's complement big-endian, whatever the sign. */
        memcpy(&r, &received, sizeof(r));
        st_put_u64be(p, r);
        p[8] = (unsigned char)it->publisher.len;
        if (it->publisher.len != 0)
            memcpy(p + ST_REC_HDR, it->publisher.ptr, it->publisher.len);
        memcpy(p + ST_REC_HDR + it->publisher.len, it->bytes, it->len);
    }

    it->status = ST_ITEM_OK;
    it->seq = (*next)++;
    return 0;
}

/*
 * Begin the write transaction and find *next, the sequence the next record
 * takes.  A map grown by another writer process (a standby's follower,
 * st_log_append_raw) is adopted first: LMDB refuses a transaction on a map
 * smaller than the environment's (MDB_MAP_RESIZED).
 */
static int begin_write(struct st_log *log, MDB_txn **txn, uint64_t *next)
{
    MDB_cursor *cur;
    MDB_val k, v;
    int rc;

    for (int tries = 0;; tries++) {
        rc = st_mdb_rc(mdb_txn_begin(log->env, NULL, 0, txn));
        if (rc != MDB_MAP_RESIZED)
            break;
        rc = st_adopt_map_size(log, tries);
        if (rc != 0)
            return rc;
    }
    if (rc != 0)
        return rc;

    /* next = last key + 1: sequences are gapless, so this is also the
     * number of events plus one. */
    *next = 1;
    rc = st_mdb_rc(mdb_cursor_open(*txn, log->events, &cur));
    if (rc == 0) {
        rc = st_mdb_rc(mdb_cursor_get(cur, &k, &v, MDB_LAST));
        mdb_cursor_close(cur);
    }
    if (rc == 0 && k.mv_size != 8)
        rc = POVTRACK_EFORMAT;
    if (rc == 0)
        *next = st_get_u64be(k.mv_data) + 1;
    else if (rc == MDB_NOTFOUND)
        rc = 0;
    if (rc != 0)
        mdb_txn_abort(*txn);
    return rc;
}

/* One attempt at the whole batch.  Sets *map_full when LMDB ran out of map
 * (as opposed to a check() returning that code). */
static int append_once(struct st_log *log, int64_t received,
                       struct st_item *items, size_t n, st_check_fn check,
                       void *arg, int *map_full)
{
    MDB_txn *txn;
    struct st_view view;
    uint64_t next = 1;
    int from_check = 0;
    int rc;

    *map_full = 0;
    rc = begin_write(log, &txn, &next);
    if (rc != 0)
        return rc;

    view.txn = txn;
    view.log = log;
    for (size_t i = 0; i < n; i++) {
        rc = append_item(log, txn, &view, received, &items[i], &next, check,
                         arg, &from_check);
        if (rc != 0)
            goto fail;
    }

    /* The commit frees txn whether it succeeds or not.  It can itself run
     * out of map (saving the free list allocates pages). */
    rc = st_mdb_rc(mdb_txn_commit(txn));
    *map_full = rc == MDB_MAP_FULL;
    return rc;

fail:
    *map_full = rc == MDB_MAP_FULL && !from_check;
    mdb_txn_abort(txn);
    return rc;
}

/*
 * Double the map.  Only with no live read snapshot in this process: the
 * remap would leave their pointers dangling, so then the batch fails with
 * MDB_MAP_FULL instead.  A failed remap leaves LMDB without a map; the log
 * is marked broken so nothing touches it again.
 */
static int grow_map(struct st_log *log)
{
    MDB_envinfo info;
    int rc;

    if (log->live_snapshots != 0)
        return MDB_MAP_FULL;
    rc = st_mdb_rc(mdb_env_info(log->env, &info));
    if (rc != 0)
        return rc;
    if (info.me_mapsize > SIZE_MAX / 2)
        return MDB_MAP_FULL;
    rc = st_mdb_rc(mdb_env_set_mapsize(log->env, info.me_mapsize * 2));
    if (rc != 0)
        log->broken = rc;
    return rc;
}

int st_log_append_batch(struct st_log *log, int64_t received,
                        struct st_item *items, size_t n, st_check_fn check,
                        void *arg)
{
    int rc, map_full;

    if (log == NULL || log->readonly)
        return POVTRACK_EINVAL;
    if (log->broken)
        return log->broken;
    if (n == 0)
        return 0;
    rc = check_items(log, items, n);
    if (rc != 0)
        return rc;

    for (;;) {
        /* Every attempt starts from scratch: a retried batch must not see
         * the statuses of the attempt that ran out of map. */
        for (size_t i = 0; i < n; i++) {
            items[i].status = ST_ITEM_PENDING;
            items[i].seq = 0;
            items[i].error[0] = '\0';
        }
        rc = append_once(log, received, items, n, check, arg, &map_full);
        if (rc == 0 || !map_full)
            return rc;
        rc = grow_map(log);
        if (rc != 0)
            return rc;
    }
}

/* One record of st_log_append_raw inside its transaction: decoded, then
 * appended as append_item appends an event, with the record's own
 * received time and publisher; anything but a fresh append at exactly
 * raw->seq means this log is not the one the records came from. */
static int append_raw_one(struct st_log *log, MDB_txn *txn,
                          struct st_view *view, const struct st_raw *raw,
                          uint64_t *next, char *err, size_t errlen)
{
    struct st_record rec;
    struct ev_event ev;
    struct ev_error everr;
    struct st_item it;
    msgpack_unpacked up;
    int from_check = 0;
    int rc;

    if (raw->seq != *next) {
        snprintf(err, errlen,
                 "record %" PRIu64
                 " does not follow the log, which ends at %" PRIu64,
                 raw->seq, *next - 1);
        return POVTRACK_EDIVERGED;
    }
    rc = st_record_parse(raw->seq, raw->bytes, raw->len, &rec);
    if (rc != 0) {
        snprintf(err, errlen, "record %" PRIu64 ": not a stored record",
                 raw->seq);
        return rc;
    }
    msgpack_unpacked_init(&up);
    everr.msg[0] = '\0';
    if (msgpack_unpack_next(&up, rec.event, rec.event_len, NULL) !=
            MSGPACK_UNPACK_SUCCESS ||
        ev_decode(&up.data, INT64_MAX, &ev, &everr) != POVTRACK_OK) {
        snprintf(err, errlen,
                 "record %" PRIu64 ": its event does not decode (%s)", raw->seq,
                 everr.msg);
        msgpack_unpacked_destroy(&up);
        return POVTRACK_EFORMAT;
    }
    memset(&it, 0, sizeof it);
    it.ev = &ev;
    it.bytes = rec.event;
    it.len = rec.event_len;
    it.publisher = rec.publisher;
    rc = append_item(log, txn, view, rec.received, &it, next, NULL, NULL,
                     &from_check);
    if (rc == 0 && it.status == ST_ITEM_DUPLICATE) {
        snprintf(err, errlen,
                 "record %" PRIu64 ": its id is already at seq %" PRIu64,
                 raw->seq, it.seq);
        rc = POVTRACK_EDIVERGED;
    } else if (rc == 0 && it.status != ST_ITEM_OK) {
        snprintf(err, errlen, "record %" PRIu64 ": %s", raw->seq, it.error);
        rc = POVTRACK_EDIVERGED;
    }
    msgpack_unpacked_destroy(&up);
    return rc;
}

int st_log_append_raw(struct st_log *log, const struct st_raw *recs, size_t n,
                      char *err, size_t errlen)
{
    MDB_txn *txn;
    struct st_view view;
    uint64_t next;
    int rc;

    err[0] = '\0';
    if (log == NULL || log->readonly || (recs == NULL && n != 0))
        return POVTRACK_EINVAL;
    if (log->broken)
        return log->broken;
    if (n == 0)
        return 0;
    for (;;) {
        rc = begin_write(log, &txn, &next);
        if (rc != 0)
            return rc;
        view.txn = txn;
        view.log = log;
        for (size_t i = 0; i < n && rc == 0; i++)
            rc = append_raw_one(log, txn, &view, &recs[i], &next, err, errlen);
        if (rc == 0) {
            rc = st_mdb_rc(mdb_txn_commit(txn));
        } else {
            mdb_txn_abort(txn);
        }
        if (rc != MDB_MAP_FULL)
            return rc;
        err[0] = '\0';
        rc = grow_map(log);
        if (rc != 0)
            return rc;
    }
}

/* st_log_append_origin's transaction; pre[i] marks the items the caller
 * rejected itself. */
static int append_origin_once(struct st_log *log, const char *province,
                              uint64_t cursor, struct st_origin_item *items,
                              size_t n, const unsigned char *pre,
                              st_check_fn check, void *arg, char *err,
                              size_t errlen)
{
    MDB_txn *txn;
    struct st_view view;
    uint64_t next, stored;
    int from_check = 0;
    int rc = begin_write(log, &txn, &next);
    if (rc != 0)
        return rc;
    view.txn = txn;
    view.log = log;
    rc = st_origin_cursor_get(txn, log, province, &stored);
    if (rc == 0 && stored != cursor) {
        snprintf(err, errlen,
                 "province %s: the log has taken its stream up to %" PRIu64
                 ", not %" PRIu64 " (another process writes this log?)",
                 province, stored, cursor);
        rc = POVTRACK_EDIVERGED;
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        struct st_origin_item *o = &items[i];
        if (o->origin_seq != cursor + i + 1) {
            snprintf(err, errlen,
                     "province %s: record %" PRIu64 " does not follow %" PRIu64,
                     province, o->origin_seq, cursor + i);
            rc = POVTRACK_EDIVERGED;
            break;
        }
        if (!pre[i]) {
            o->item.status = ST_ITEM_PENDING;
            o->item.error[0] = '\0';
            rc = append_item(log, txn, &view, o->received, &o->item, &next,
                             check, arg, &from_check);
        }
        if (rc == 0 && o->item.status == ST_ITEM_DUPLICATE) {
            snprintf(err, errlen,
                     "province %s: record %" PRIu64
                     " is already at seq %" PRIu64,
                     province, o->origin_seq, o->item.seq);
            rc = POVTRACK_EDIVERGED;
        } else if (rc == 0 && o->item.status == ST_ITEM_OK) {
            rc = st_origin_put(txn, log, o->item.seq, province, o->origin_seq);
        } else if (rc == 0) {
            rc = st_origin_reject_put(
                txn, log, province, o->origin_seq, &o->item,
                o->reject_code != NULL ? o->reject_code : "national.rejected");
        }
    }
    if (rc == 0 && n > 0)
        rc = st_origin_cursor_put(txn, log, province, cursor + n);
    if (rc == 0)
        return st_mdb_rc(mdb_txn_commit(txn));
    mdb_txn_abort(txn);
    return rc == MDB_MAP_FULL && from_check ? POVTRACK_EIO : rc;
}

int st_log_append_origin(struct st_log *log, const char *province,
                         uint64_t cursor, struct st_origin_item *items,
                         size_t n, st_check_fn check, void *arg, char *err,
                         size_t errlen)
{
    unsigned char pre[1024];
    err[0] = '\0';
    if (log == NULL || log->readonly || log->cursors == 0 ||
        (items == NULL && n != 0) || n > sizeof pre)
        return POVTRACK_EINVAL;
    if (log->broken)
        return log->broken;
    size_t maxkey = (size_t)mdb_env_get_maxkeysize(log->env);
    for (size_t i = 0; i < n; i++) {
        const struct st_item *it = &items[i].item;
        pre[i] = it->status == ST_ITEM_REJECTED;
        if (!pre[i] && (it->ev == NULL || it->bytes == NULL || it->len == 0 ||
                        it->ev->id.len == 0 || it->ev->id.len > maxkey))
            return POVTRACK_EINVAL;
    }
    for (;;) {
        int rc = append_origin_once(log, province, cursor, items, n, pre, check,
                                    arg, err, errlen);
        if (rc != MDB_MAP_FULL)
            return rc;
        err[0] = '\0';
        for (size_t i = 0; i < n; i++)
            if (!pre[i])
                items[i].reject_code = NULL;
        if ((rc = grow_map(log)) != 0)
            return rc;
    }
}
