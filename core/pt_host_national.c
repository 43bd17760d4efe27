/*
 * pt_host_national.c - the plugin host's view of the national daemon
 * ([national]): each province's cursor, stream and lag in stats, and the
 * records the national log refused raised as alerts (the host owns
 * alerts; the national povtrack-mirror only notes them in the log,
 * st_log.h "rejects").
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <povtrack/protocol.h>

#include "pt_host_internal.h"
#include "pt_state.h"

/* Province i's page, opened on first use (its povtrack-mirror creates
 * it). */
static struct pt_mirror_page *page(struct pt_host *h, size_t i)
{
    struct pt_host_national *n = &h->national;
    if (n->page[i] == NULL) {
        char file[64], err[512];
        snprintf(file, sizeof file, PT_DATA_NATIONAL_FILE_PREFIX "%s",
                 h->cfg.national.provinces[i].code);
        if (pt_mirror_page_open_file(h->cfg.data_dir, file, PT_MIRROR_PAGE_READ,
                                     &n->page[i], err, sizeof err) != 0)
            n->page[i] = NULL;
    }
    return n->page[i];
}

/* How many rejects were raised, as the state says (at the first tick). */
static uint64_t raised_stored(struct pt_host *h)
{
    MDB_txn *txn;
    MDB_val k = {strlen(PT_HOST_NATIONAL_KEY), PT_HOST_NATIONAL_KEY}, v;
    uint64_t raised = 0;
    if (st_mdb_rc(mdb_txn_begin(h->state, NULL, MDB_RDONLY, &txn)) != 0)
        return UINT64_MAX;
    int rc = st_mdb_rc(mdb_get(txn, h->cursors_dbi, &k, &v));
    if (rc == 0 && v.mv_size == 8)
        raised = pt_get_be64(v.mv_data);
    else if (rc != MDB_NOTFOUND)
        raised = UINT64_MAX;
    mdb_txn_abort(txn);
    return raised;
}

static int collect(void *arg, const struct st_reject *rj)
{
    struct pt_host_national *n = arg;
    n->due[n->ndue++] = *rj;
    return n->ndue == PT_HOST_NATIONAL_RAISE_MAX ? 1 : 0;
}

int pt_host_national_due(struct pt_host *h)
{
    struct pt_host_national *n = &h->national;
    n->ndue = 0;
    if (!h->cfg.national.enabled)
        return 0;
    if (n->raised == 0) {
        uint64_t stored = raised_stored(h);
        if (stored == UINT64_MAX)
            return 0; /* the next tick looks again */
        n->raised = stored;
    }
    int rc = st_reader_renew(h->reader);
    if (rc == 0)
        rc = st_reader_rejects(h->reader, n->raised, collect, n);
    st_reader_reset(h->reader);
    if (rc < 0)
        n->ndue = 0;
    return n->ndue > 0;
}

int pt_host_national_raise(struct pt_host *h, MDB_txn *txn, int64_t now)
{
    struct pt_host_national *n = &h->national;
    char msg[1024];
    int rc = 0;
    n->raising = n->raised;
    for (size_t i = 0; i < n->ndue && rc == 0; i++) {
        const struct st_reject *rj = &n->due[i];
        snprintf(msg, sizeof msg,
                 "province %s's record %" PRIu64 " (id %s, unit %s) is not in "
                 "the national log: %s; the national daemon went on past it",
                 rj->province, rj->origin_seq, rj->id[0] ? rj->id : "-",
                 rj->unit[0] ? rj->unit : "-", rj->error);
        struct povtrack_alert a = {.size = sizeof a,
                                   .code = rj->code,
                                   .severity = POVTRACK_CRITICAL,
                                   .unit =
                                       rj->unit[0] ? rj->unit : rj->province,
                                   .message = msg,
                                   .at = now};
        rc = pt_host_raise(h, txn, "national", &a);
        n->raising = rj->ordinal;
    }
    if (rc == 0 && n->raising != n->raised) {
        unsigned char be[8];
        pt_put_be64(be, n->raising);
        MDB_val k = {strlen(PT_HOST_NATIONAL_KEY), PT_HOST_NATIONAL_KEY};
        MDB_val v = {8, be};
        rc = st_mdb_rc(mdb_put(txn, h->cursors_dbi, &k, &v, 0));
    }
    return rc;
}

void pt_host_national_raised(struct pt_host *h, int committed)
{
    struct pt_host_national *n = &h->national;
    if (committed && n->ndue > 0) {
        pt_logf(&h->log, PT_LOG_ERROR,
                "national: %zu record(s) of the provinces' streams not stored "
                "(alerts %s...)",
                n->ndue, n->due[0].code);
        n->raised = n->raising;
    }
    n->ndue = 0;
}

void pt_host_national_pack_stats(struct pt_host *h, msgpack_packer *pk)
{
    const struct pt_national_conf *c = &h->cfg.national;
    if (!c->enabled)
        return;
    pt_pack_cstr(pk, "national");
    msgpack_pack_map(pk, c->nprovinces);
    for (size_t i = 0; i < c->nprovinces; i++) {
        struct pt_mirror_page *pg = page(h, i);
        struct pt_mirror_progress p;
        uint64_t cursor = 0;
        memset(&p, 0, sizeof p);
        if (pg != NULL)
            pt_mirror_page_read(pg, &p);
        else
            snprintf(p.error, sizeof p.error, "no progress page yet");
        /* h->reader is live: req_stats renewed it. */
        if (st_reader_cursor(h->reader, c->provinces[i].code, &cursor) != 0)
            snprintf(p.error, sizeof p.error, "the log cannot be read");
        pt_pack_cstr(pk, c->provinces[i].code);
        msgpack_pack_map(pk, p.error[0] != '\0' ? 6 : 5);
        pt_pack_cstr(pk, "state");
        pt_pack_cstr(pk, pt_mirror_state_name(p.state));
        pt_pack_cstr(pk, "cursor");
        msgpack_pack_uint64(pk, cursor);
        pt_pack_cstr(pk, "stream_last_seq");
        msgpack_pack_uint64(pk, p.acked_seq);
        pt_pack_cstr(pk, "lag_records");
        msgpack_pack_uint64(pk,
                            p.acked_seq > cursor ? p.acked_seq - cursor : 0);
        pt_pack_cstr(pk, "updated");
        msgpack_pack_int64(pk, p.updated_us);
        if (p.error[0] != '\0') {
            pt_pack_cstr(pk, "error");
            povtrack_proto_pack_text(pk, p.error, strlen(p.error));
        }
    }
}

void pt_host_national_close(struct pt_host *h)
{
    for (size_t i = 0; i < PT_NATIONAL_PROVINCES; i++) {
        pt_mirror_page_close(h->national.page[i]);
        h->national.page[i] = NULL;
    }
}
