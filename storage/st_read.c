/*
 * st_read.c - read snapshots: records, ids, units, iteration.
 */
#include <stdlib.h>
#include <string.h>

#include "st_internal.h"

/* Units looked up in the current snapshot.  The plugin host walks the
 * same few units' parents for nearly every record it applies; a snapshot
 * never changes, so what it said about a code (the stored history, or
 * that there is none) holds until the snapshot is dropped, when this is
 * emptied.  The value points into the map; it is parsed on each use (a
 * few spans), which keeps the slots small. */
#define UNIT_CACHE_SLOTS 4096 /* a power of two */
#define UNIT_CACHE_CODE 8     /* longer codes are not cached */

struct unit_slot {
    uint32_t gen; /* in use when equal to the reader's gen */
    uint8_t len;
    uint8_t found;
    char code[UNIT_CACHE_CODE];
    MDB_val val;
};

struct st_reader {
    struct st_log *log;
    MDB_txn *txn;    /* live, or reset between st_reader_renew's halves */
    MDB_cursor *cur; /* over "events", opened on first use */
    int live;        /* txn holds a snapshot (counted in the log) */
    int positioned;  /* cur sits on the record before from */
    uint64_t from;   /* the sequence st_reader_next looks for next */
    struct unit_slot *units; /* UNIT_CACHE_SLOTS, allocated on first use */
    size_t nunits;           /* slots in use (at most half are filled) */
    uint32_t gen;            /* a new snapshot empties the table */
};

int st_record_parse(uint64_t seq, const void *val, size_t len,
                    struct st_record *out)
{
    const unsigned char *p = val;
    uint64_t r;
    size_t plen;

    if (out == NULL)
        return POVTRACK_EINVAL;
    /* Header, publisher, and an event of at least one byte. */
    if (p == NULL || len < ST_REC_HDR + 1)
        return POVTRACK_EFORMAT;
    plen = p[8];
    if (len < ST_REC_HDR + plen + 1)
        return POVTRACK_EFORMAT;
    r = st_get_u64be(p);
    out->seq = seq;
    memcpy(&out->received, &r, sizeof(r));
    out->publisher.ptr = (const char *)p + ST_REC_HDR;
    out->publisher.len = (uint32_t)plen;
    out->event = p + ST_REC_HDR + plen;
    out->event_len = len - ST_REC_HDR - plen;
    out->raw = val;
    out->raw_len = len;
    return 0;
}

/* ---- readers ---- */

int st_reader_begin(struct st_log *log, struct st_reader **out)
{
    struct st_reader *r;
    int rc;

    if (out != NULL)
        *out = NULL;
    if (log == NULL || out == NULL)
        return POVTRACK_EINVAL;
    if (log->broken)
        return log->broken;
    r = calloc(1, sizeof(*r));
    if (r == NULL)
        return POVTRACK_ENOMEM;
    rc = st_txn_begin_read(log, &r->txn);
    if (rc != 0) {
        free(r);
        return rc;
    }
    r->log = log;
    r->live = 1;
    r->from = 1;
    log->live_snapshots++;
    *out = r;
    return 0;
}

static void unit_cache_clear(struct st_reader *r)
{
    if (r->nunits == 0)
        return;
    r->nunits = 0;
    /* Emptied by moving on to the next generation: no memset per query. */
    if (++r->gen == 0) {
        memset(r->units, 0, UNIT_CACHE_SLOTS * sizeof *r->units);
        r->gen = 1;
    }
}

void st_reader_reset(struct st_reader *r)
{
    if (r == NULL)
        return;
    unit_cache_clear(r);
    /* The cursor's position belongs to the old snapshot; st_reader_next
     * seeks again from r->from. */
    r->positioned = 0;
    if (!r->live)
        return;
    mdb_txn_reset(r->txn);
    r->live = 0;
    r->log->live_snapshots--;
}

int st_reader_renew(struct st_reader *r)
{
    int rc;

    if (r == NULL)
        return POVTRACK_EINVAL;
    st_reader_reset(r);
    if (r->log->broken)
        return r->log->broken;
    for (int tries = 0;; tries++) {
        rc = st_mdb_rc(mdb_txn_renew(r->txn));
        if (rc != MDB_MAP_RESIZED)
            break;
        /* A failed renew leaves the transaction reset, so it is not live
         * and the remap is safe if no other snapshot is. */
        rc = st_adopt_map_size(r->log, tries);
        if (rc != 0)
            return rc;
    }
    if (rc != 0)
        return rc; /* still reset: renew may be retried, or end */
    if (r->cur != NULL && st_mdb_rc(mdb_cursor_renew(r->txn, r->cur)) != 0) {
        /* Reopened on next use. */
        mdb_cursor_close(r->cur);
        r->cur = NULL;
    }
    r->live = 1;
    r->log->live_snapshots++;
    return 0;
}

void st_reader_end(struct st_reader *r)
{
    if (r == NULL)
        return;
    /* A read-only cursor must be closed explicitly. */
    if (r->cur != NULL)
        mdb_cursor_close(r->cur);
    if (r->live)
        r->log->live_snapshots--;
    /* Abort also releases the reader slot (MDB_NOTLS), reset or not. */
    mdb_txn_abort(r->txn);
    free(r->units);
    free(r);
}

static int need_live(const struct st_reader *r)
{
    if (r == NULL || !r->live)
        return POVTRACK_EINVAL;
    return 0;
}

static int need_cursor(struct st_reader *r)
{
    if (r->cur != NULL)
        return 0;
    r->positioned = 0;
    return st_mdb_rc(mdb_cursor_open(r->txn, r->log->events, &r->cur));
}

int st_reader_last_seq(struct st_reader *r, uint64_t *seq)
{
    MDB_val k, v;
    int rc = need_live(r);

    if (rc == 0 && seq == NULL)
        rc = POVTRACK_EINVAL;
    if (rc == 0)
        rc = need_cursor(r);
    if (rc != 0)
        return rc;
    /* This moves the iteration cursor: the next st_reader_next seeks. */
    r->positioned = 0;
    rc = st_mdb_rc(mdb_cursor_get(r->cur, &k, &v, MDB_LAST));
    if (rc == MDB_NOTFOUND) {
        *seq = 0;
        return 0;
    }
    if (rc != 0)
        return rc;
    if (k.mv_size != 8)
        return POVTRACK_EFORMAT;
    *seq = st_get_u64be(k.mv_data);
    return 0;
}

int st_reader_get(struct st_reader *r, uint64_t seq, struct st_record *out)
{
    unsigned char kb[8];
    MDB_val k = {sizeof(kb), kb}, v;
    int rc = need_live(r);

    if (rc == 0 && out == NULL)
        rc = POVTRACK_EINVAL;
    if (rc != 0)
        return rc;
    st_put_u64be(kb, seq);
    rc = st_mdb_rc(mdb_get(r->txn, r->log->events, &k, &v));
    if (rc == MDB_NOTFOUND)
        return POVTRACK_ENOTFOUND;
    if (rc != 0)
        return rc;
    return st_record_parse(seq, v.mv_data, v.mv_size, out);
}

int st_reader_find_id(struct st_reader *r, struct ev_str id, uint64_t *seq)
{
    MDB_val k = {id.len, (void *)id.ptr}, v;
    int rc = need_live(r);

    if (rc == 0 && (seq == NULL || id.ptr == NULL || id.len == 0))
        rc = POVTRACK_EINVAL;
    if (rc != 0)
        return rc;
    if (id.len > (uint32_t)mdb_env_get_maxkeysize(r->log->env))
        return POVTRACK_ENOTFOUND;
    rc = st_mdb_rc(mdb_get(r->txn, r->log->ids, &k, &v));
    if (rc == MDB_NOTFOUND)
        return POVTRACK_ENOTFOUND;
    if (rc != 0)
        return rc;
    if (v.mv_size != 8)
        return POVTRACK_EFORMAT;
    *seq = st_get_u64be(v.mv_data);
    return 0;
}

int st_reader_amends(struct st_reader *r, uint64_t original, st_amend_fn fn,
                     void *arg)
{
    int rc = need_live(r);

    if (rc == 0 && fn == NULL)
        rc = POVTRACK_EINVAL;
    return rc != 0 ? rc : st_amends_each(r->txn, r->log, original, fn, arg);
}

struct before {
    uint64_t limit, current;
};

static int last_correction_before(void *arg, uint64_t seq, int voided)
{
    struct before *b = arg;

    if (seq >= b->limit)
        return 1; /* log order: nothing later counts */
    if (!voided)
        b->current = seq;
    return 0;
}

int st_reader_amended_before(struct st_reader *r, uint64_t original,
                             uint64_t before, uint64_t *current)
{
    struct before b = {before, original};
    int rc = st_reader_amends(r, original, last_correction_before, &b);

    if (rc < 0)
        return rc;
    *current = b.current;
    return 0;
}

/* The stored history of code, through the snapshot's cache. */
static int history_val(struct st_reader *r, struct ev_str code, MDB_val *val)
{
    MDB_val k = {code.len, (void *)code.ptr};
    int rc;

    if (code.ptr == NULL || code.len == 0)
        return POVTRACK_EINVAL;
    /* A key LMDB could not store is simply not there. */
    if (code.len > (uint32_t)mdb_env_get_maxkeysize(r->log->env))
        return POVTRACK_ENOTFOUND;
    if (code.len > UNIT_CACHE_CODE ||
        (r->units == NULL &&
         (r->units = calloc(UNIT_CACHE_SLOTS, sizeof *r->units)) == NULL)) {
        rc = st_mdb_rc(mdb_get(r->txn, r->log->units, &k, val));
        return rc == MDB_NOTFOUND ? POVTRACK_ENOTFOUND : rc;
    }
    if (r->gen == 0)
        r->gen = 1;
    uint32_t h = 2166136261u;
    for (uint32_t i = 0; i < code.len; i++)
        h = (h ^ (unsigned char)code.ptr[i]) * 16777619u;
    size_t i = h & (UNIT_CACHE_SLOTS - 1);
    for (; r->units[i].gen == r->gen; i = (i + 1) & (UNIT_CACHE_SLOTS - 1)) {
        const struct unit_slot *u = &r->units[i];
        if (u->len == code.len && memcmp(u->code, code.ptr, code.len) == 0) {
            if (!u->found)
                return POVTRACK_ENOTFOUND;
            *val = u->val;
            return 0;
        }
    }
    rc = st_mdb_rc(mdb_get(r->txn, r->log->units, &k, val));
    if (rc == MDB_NOTFOUND)
        rc = POVTRACK_ENOTFOUND;
    /* Only answers, not errors, are remembered; a full table stops
     * remembering until the next snapshot. */
    if ((rc == 0 || rc == POVTRACK_ENOTFOUND) &&
        r->nunits < UNIT_CACHE_SLOTS / 2) {
        struct unit_slot *u = &r->units[i];
        u->gen = r->gen;
        memcpy(u->code, code.ptr, code.len);
        u->len = (uint8_t)code.len;
        u->found = rc == 0;
        if (rc == 0)
            u->val = *val;
        r->nunits++;
    }
    return rc;
}

int st_reader_history(struct st_reader *r, struct ev_str code,
                      struct ev_history *out)
{
    MDB_val v;
    int rc = need_live(r);

    if (rc == 0 && out == NULL)
        rc = POVTRACK_EINVAL;
    if (rc == 0)
        rc = history_val(r, code, &v);
    if (rc != 0)
        return rc;
    return st_history_parse(code, v.mv_data, v.mv_size, out);
}

int st_reader_unit(struct st_reader *r, struct ev_str code, struct ev_unit *out)
{
    struct ev_history h;
    int rc = out != NULL ? st_reader_history(r, code, &h) : POVTRACK_EINVAL;

    if (rc == 0)
        st_history_latest(&h, out);
    return rc;
}

int st_reader_units_seq(struct st_reader *r, uint64_t seq, uint64_t *version,
                        uint64_t *next)
{
    unsigned char kb[8];
    MDB_cursor *cur;
    MDB_val k = {sizeof kb, kb}, v;
    int rc = need_live(r);

    if (rc == 0 && (version == NULL || next == NULL))
        rc = POVTRACK_EINVAL;
    if (rc != 0)
        return rc;
    *version = 0;
    *next = UINT64_MAX;
    if (r->log->unitseq == 0) {
        /* Opened read-only before a writer added "unitseq" to an older
         * log: which records changed units is unknown, so every record is
         * taken for a new version (caches keyed by it never go stale). */
        if (seq != UINT64_MAX) {
            *version = seq;
            *next = seq + 1;
            return 0;
        }
        return st_reader_last_seq(r, version);
    }
    if ((rc = st_mdb_rc(mdb_cursor_open(r->txn, r->log->unitseq, &cur))) != 0)
        return rc;
    st_put_u64be(kb, seq == UINT64_MAX ? seq : seq + 1);
    rc = st_mdb_rc(mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE));
    if (rc == 0 && k.mv_size == 8 && st_get_u64be(k.mv_data) > seq)
        *next = st_get_u64be(k.mv_data);
    rc = rc == 0 || rc == MDB_NOTFOUND
             ? st_mdb_rc(
                   mdb_cursor_get(cur, &k, &v, rc == 0 ? MDB_PREV : MDB_LAST))
             : rc;
    if (rc == 0 && k.mv_size == 8 && st_get_u64be(k.mv_data) <= seq)
        *version = st_get_u64be(k.mv_data);
    mdb_cursor_close(cur);
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : rc;
}

int st_reader_child_after(struct st_reader *r, struct ev_str parent, int64_t t,
                          struct ev_str *child)
{
    int rc = need_live(r);

    return rc != 0 ? rc
                   : st_child_after(r->txn, r->log->units, parent, t, child);
}

int st_reader_seek(struct st_reader *r, uint64_t from)
{
    if (r == NULL)
        return POVTRACK_EINVAL;
    /* Sequences start at 1. */
    r->from = from ? from : 1;
    r->positioned = 0;
    return 0;
}

int st_reader_next(struct st_reader *r, struct st_record *out)
{
    unsigned char kb[8];
    MDB_val k, v;
    uint64_t seq;
    int rc = need_live(r);

    if (rc == 0 && out == NULL)
        rc = POVTRACK_EINVAL;
    if (rc == 0)
        rc = need_cursor(r);
    if (rc != 0)
        return rc;
    /* Until this call succeeds, where the cursor sits is not trusted. */
    if (r->positioned) {
        rc = st_mdb_rc(mdb_cursor_get(r->cur, &k, &v, MDB_NEXT));
    } else {
        st_put_u64be(kb, r->from);
        k.mv_size = sizeof(kb);
        k.mv_data = kb;
        rc = st_mdb_rc(mdb_cursor_get(r->cur, &k, &v, MDB_SET_RANGE));
    }
    r->positioned = 0;
    if (rc == MDB_NOTFOUND)
        return POVTRACK_EEND; /* seek again next time: after a renew, more */
    if (rc != 0)
        return rc;
    if (k.mv_size != 8)
        return POVTRACK_EFORMAT;
    seq = st_get_u64be(k.mv_data);
    rc = st_record_parse(seq, v.mv_data, v.mv_size, out);
    if (rc != 0)
        return rc;
    r->positioned = 1;
    r->from = seq + 1;
    return 0;
}

int st_reader_histories(struct st_reader *r, st_history_fn fn, void *arg)
{
    int rc = need_live(r);
    if (rc != 0)
        return rc;
    MDB_cursor *cur;
    rc = st_mdb_rc(mdb_cursor_open(r->txn, r->log->units, &cur));
    if (rc != 0)
        return rc;
    MDB_val k, v;
    for (rc = st_mdb_rc(mdb_cursor_get(cur, &k, &v, MDB_FIRST)); rc == 0;
         rc = st_mdb_rc(mdb_cursor_get(cur, &k, &v, MDB_NEXT))) {
        struct ev_history h;
        struct ev_str code = {k.mv_data, (uint32_t)k.mv_size};
        if ((rc = st_history_parse(code, v.mv_data, v.mv_size, &h)) != 0 ||
            (rc = fn(arg, &h)) != 0)
            break;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int st_reader_txn(struct st_reader *r, MDB_txn **txn, struct st_log **log)
{
    int rc = need_live(r);
    if (rc == 0) {
        *txn = r->txn;
        *log = r->log;
    }
    return rc;
}
