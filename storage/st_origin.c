/*
 * st_origin.c - a national log's origins, cursors and rejects (st_log.h,
 * "the national daemon's log").
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "st_internal.h"

#define PROVINCE_MAX 7 /* bytes of a province's code kept (two in use) */

int st_origin_dbs_open(struct st_log *log, MDB_txn *txn)
{
    static const char *const names[] = {"origins", "cursors", "rejects"};
    MDB_dbi *dbis[] = {&log->origins, &log->cursors, &log->rejects};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        int rc = st_mdb_rc(mdb_dbi_open(
            txn, names[i], log->readonly ? 0 : MDB_CREATE, dbis[i]));
        if (rc == MDB_NOTFOUND && log->readonly) {
            *dbis[i] = 0;
            rc = 0;
        }
        if (rc != 0)
            return rc;
    }
    return 0;
}

static size_t province_len(const char *province)
{
    size_t len = strlen(province);
    return len > PROVINCE_MAX ? PROVINCE_MAX : len;
}

int st_origin_cursor_get(MDB_txn *txn, const struct st_log *log,
                         const char *province, uint64_t *seq)
{
    MDB_val k = {province_len(province), (void *)province}, v;
    *seq = 0;
    if (log->cursors == 0 || k.mv_size == 0)
        return 0;
    int rc = st_mdb_rc(mdb_get(txn, log->cursors, &k, &v));
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc == 0 && v.mv_size != 8)
        rc = POVTRACK_EFORMAT;
    if (rc == 0)
        *seq = st_get_u64be(v.mv_data);
    return rc;
}

int st_origin_cursor_put(MDB_txn *txn, const struct st_log *log,
                         const char *province, uint64_t seq)
{
    unsigned char b[8];
    MDB_val k = {province_len(province), (void *)province}, v = {8, b};
    st_put_u64be(b, seq);
    return st_mdb_rc(mdb_put(txn, log->cursors, &k, &v, 0));
}

int st_origin_put(MDB_txn *txn, const struct st_log *log, uint64_t seq,
                  const char *province, uint64_t origin_seq)
{
    unsigned char kb[8], vb[1 + PROVINCE_MAX + 8];
    size_t plen = province_len(province);
    st_put_u64be(kb, seq);
    vb[0] = (unsigned char)plen;
    memcpy(vb + 1, province, plen);
    st_put_u64be(vb + 1 + plen, origin_seq);
    MDB_val k = {8, kb}, v = {1 + plen + 8, vb};
    return st_mdb_rc(mdb_put(txn, log->origins, &k, &v, MDB_APPEND));
}

/* A reject's value: u64 origin_seq, then four strings each with a u8
 * length (province, unit, code, id), then the error to the end. */
static size_t put_str(unsigned char *p, const char *s, size_t len)
{
    if (len > 255)
        len = 255;
    p[0] = (unsigned char)len;
    if (len > 0)
        memcpy(p + 1, s, len);
    return 1 + len;
}

int st_origin_reject_put(MDB_txn *txn, const struct st_log *log,
                         const char *province, uint64_t origin_seq,
                         const struct st_item *it, const char *code)
{
    unsigned char kb[8], vb[8 + 4 * 256 + EV_ERROR_MAX];
    MDB_cursor *cur;
    MDB_val k, v;
    uint64_t ordinal = 1;
    int rc = st_mdb_rc(mdb_cursor_open(txn, log->rejects, &cur));
    if (rc != 0)
        return rc;
    rc = st_mdb_rc(mdb_cursor_get(cur, &k, &v, MDB_LAST));
    mdb_cursor_close(cur);
    if (rc == 0 && k.mv_size != 8)
        return POVTRACK_EFORMAT;
    if (rc == 0)
        ordinal = st_get_u64be(k.mv_data) + 1;
    else if (rc != MDB_NOTFOUND)
        return rc;
    const struct ev_event *ev = it->ev;
    size_t off = 8;
    st_put_u64be(vb, origin_seq);
    off += put_str(vb + off, province, province_len(province));
    off += put_str(vb + off, ev != NULL ? ev->unit.ptr : "",
                   ev != NULL && ev->unit.ptr != NULL ? ev->unit.len : 0);
    off += put_str(vb + off, code, strlen(code));
    off += put_str(vb + off, ev != NULL ? ev->id.ptr : "",
                   ev != NULL && ev->id.ptr != NULL ? ev->id.len : 0);
    size_t elen = strnlen(it->error, sizeof it->error);
    memcpy(vb + off, it->error, elen);
    off += elen;
    st_put_u64be(kb, ordinal);
    k.mv_size = 8;
    k.mv_data = kb;
    v.mv_size = off;
    v.mv_data = vb;
    return st_mdb_rc(mdb_put(txn, log->rejects, &k, &v, MDB_APPEND));
}

int st_reader_origin(struct st_reader *r, uint64_t seq, struct st_origin *out)
{
    MDB_txn *txn;
    struct st_log *log;
    unsigned char kb[8];
    int rc = st_reader_txn(r, &txn, &log);
    if (rc != 0)
        return rc;
    if (log->origins == 0)
        return POVTRACK_ENOTFOUND;
    st_put_u64be(kb, seq);
    MDB_val k = {8, kb}, v;
    rc = st_mdb_rc(mdb_get(txn, log->origins, &k, &v));
    if (rc == MDB_NOTFOUND)
        return POVTRACK_ENOTFOUND;
    if (rc != 0)
        return rc;
    const unsigned char *p = v.mv_data;
    if (v.mv_size < 1 || p[0] > PROVINCE_MAX || v.mv_size != 1u + p[0] + 8)
        return POVTRACK_EFORMAT;
    memcpy(out->province, p + 1, p[0]);
    out->province[p[0]] = '\0';
    out->seq = st_get_u64be(p + 1 + p[0]);
    return 0;
}

int st_reader_cursor(struct st_reader *r, const char *province, uint64_t *seq)
{
    MDB_txn *txn;
    struct st_log *log;
    int rc = st_reader_txn(r, &txn, &log);
    return rc != 0 ? rc : st_origin_cursor_get(txn, log, province, seq);
}

/* One string of a reject's value into buf (NUL-terminated, cut to fit). */
static int get_str(const unsigned char **p, const unsigned char *end, char *buf,
                   size_t buflen)
{
    if (*p >= end || (size_t)(end - *p) < 1u + (*p)[0])
        return POVTRACK_EFORMAT;
    size_t len = (*p)[0];
    st_printable(buf, buflen, *p + 1, len);
    *p += 1 + len;
    return 0;
}

int st_reader_rejects(struct st_reader *r, uint64_t after, st_reject_fn fn,
                      void *arg)
{
    MDB_txn *txn;
    struct st_log *log;
    MDB_cursor *cur;
    unsigned char kb[8];
    int rc = st_reader_txn(r, &txn, &log);
    if (rc != 0 || log->rejects == 0)
        return rc;
    if ((rc = st_mdb_rc(mdb_cursor_open(txn, log->rejects, &cur))) != 0)
        return rc;
    st_put_u64be(kb, after + 1);
    MDB_val k = {8, kb}, v;
    struct st_reject rj;
    for (rc = st_mdb_rc(mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE)); rc == 0;
         rc = st_mdb_rc(mdb_cursor_get(cur, &k, &v, MDB_NEXT))) {
        const unsigned char *p = v.mv_data, *end = p + v.mv_size;
        if (k.mv_size != 8 || v.mv_size < 8) {
            rc = POVTRACK_EFORMAT;
            break;
        }
        rj.ordinal = st_get_u64be(k.mv_data);
        rj.origin_seq = st_get_u64be(p);
        p += 8;
        if ((rc = get_str(&p, end, rj.province, sizeof rj.province)) != 0 ||
            (rc = get_str(&p, end, rj.unit, sizeof rj.unit)) != 0 ||
            (rc = get_str(&p, end, rj.code, sizeof rj.code)) != 0 ||
            (rc = get_str(&p, end, rj.id, sizeof rj.id)) != 0)
            break;
        st_printable(rj.error, sizeof rj.error, p, (size_t)(end - p));
        if ((rc = fn(arg, &rj)) != 0)
            break;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}
