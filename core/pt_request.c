/*
 * pt_request.c - answers to the query endpoint's requests: ping, stats,
 * read, query, alerts, units, audit (validate: pt_validate.c).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <povtrack/protocol.h>

#include "ev_event.h"
#include "ev_unit.h"
#include "pt_auth.h"
#include "pt_clock.h"
#include "pt_host_internal.h"
#include "pt_stats.h"
#include "st_env.h"

/* ---- requests ---- */

static void pack_str(msgpack_packer *pk, const char *s, size_t n)
{
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

/* Text that did not come from this program (a plugin's name, version or
 * message, what a client asked): escaped where it is not UTF-8. */
static void pack_text(msgpack_packer *pk, const char *s)
{
    povtrack_proto_pack_text(pk, s, strlen(s));
}

void pt_pack_error(msgpack_packer *pk, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    povtrack_proto_pack_error(pk, msg, 0);
}

/* Append bytes that already are one msgpack object. */
static int pack_raw(msgpack_packer *pk, const void *buf, size_t len)
{
    return pk->callback(pk->data, buf, len);
}

const msgpack_object *pt_map_get(const msgpack_object *map, const char *key)
{
    return povtrack_proto_map_get(map, key);
}

/* Read an optional unsigned field; returns POVTRACK_EINVALID after packing
 * an error. */
static int get_uint(msgpack_packer *pk, const msgpack_object *req,
                    const char *key, uint64_t def, uint64_t max, uint64_t *out)
{
    const msgpack_object *o = pt_map_get(req, key);
    if (o == NULL || o->type == MSGPACK_OBJECT_NIL) {
        *out = def;
        return 0;
    }
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER || o->via.u64 > max) {
        pt_pack_error(pk, "%s: must be an integer from 0 to %llu", key,
                      (unsigned long long)max);
        return POVTRACK_EINVALID;
    }
    *out = o->via.u64;
    return 0;
}

/* How long the oldest record p has not applied has waited, in seconds: 0
 * when it is caught up. */
static double lag_seconds(struct pt_host *h, const struct pt_plugin *p,
                          uint64_t last)
{
    struct st_record rec;
    if (p->applied >= last ||
        st_reader_get(h->reader, p->applied + 1, &rec) != 0)
        return 0;
    int64_t waited = pt_real_us() - rec.received;
    return waited > 0 ? (double)waited / 1e6 : 0;
}

/* The stats reply's "host" map: the plugin host's own counters. */
static void pack_host_stats(struct pt_host *h, msgpack_packer *pk)
{
    msgpack_pack_map(pk, 4);
    pt_pack_cstr(pk, "started");
    msgpack_pack_int64(pk, h->started);
    pt_pack_cstr(pk, "queries_parked");
    msgpack_pack_uint64(pk, h->parked);
    pt_pack_cstr(pk, "refused_handshakes");
    msgpack_pack_map(pk, 2);
    pt_pack_cstr(pk, "query");
    msgpack_pack_uint64(pk, pt_auth_handshakes_refused(h->auth, "query"));
    pt_pack_cstr(pk, "alerts");
    msgpack_pack_uint64(pk, pt_auth_handshakes_refused(h->auth, "alerts"));
    pt_pack_cstr(pk, "alerts_published");
    pt_code_counts_pack(pk, &h->alerts_published);
}

static int req_stats(struct pt_host *h, msgpack_packer *pk)
{
    uint64_t last = 0;
    int rc = st_reader_renew(h->reader);
    if (rc == 0)
        rc = st_reader_last_seq(h->reader, &last);
    if (rc != 0) {
        pt_pack_error(pk, "log: %s", st_strerror(rc));
        return 0;
    }
    /* Ingest made its file before it started this host; a host run
     * in-process has none. */
    if (h->ingest_stats == NULL)
        pt_ingest_stats_open_ro(h->cfg.data_dir, &h->ingest_stats);
    povtrack_proto_pack_ok(pk, (h->ingest_stats != NULL ? 5 : 4) +
                                   (h->cfg.mirror.enabled ? 1 : 0) +
                                   (h->cfg.national.enabled ? 1 : 0));
    pt_pack_cstr(pk, "events");
    msgpack_pack_uint64(pk, last);
    pt_pack_cstr(pk, "last_seq");
    msgpack_pack_uint64(pk, last);
    pt_pack_cstr(pk, "plugins");
    msgpack_pack_array(pk, h->nplugins);
    for (size_t i = 0; i < h->nplugins; i++) {
        const struct pt_plugin *p = &h->plugins[i];
        msgpack_pack_map(pk, p->quarantined ? 8 : 7);
        pt_pack_cstr(pk, "name");
        pack_text(pk, pt_plugin_name(p));
        pt_pack_cstr(pk, "version");
        pack_text(pk, p->desc != NULL ? p->desc->version : "-");
        pt_pack_cstr(pk, POVTRACK_KEY_APPLIED_SEQ);
        msgpack_pack_uint64(pk, p->applied);
        pt_pack_cstr(pk, "lag");
        msgpack_pack_uint64(pk, last > p->applied ? last - p->applied : 0);
        pt_pack_cstr(pk, "status");
        pt_pack_cstr(pk, p->quarantined ? "quarantined" : "running");
        if (p->quarantined) {
            pt_pack_cstr(pk, "error");
            pack_text(pk, p->error);
        }
        pt_pack_cstr(pk, "lag_seconds");
        msgpack_pack_double(pk, lag_seconds(h, p, last));
        pt_pack_cstr(pk, "query_seconds");
        pt_hist_pack(pk, &p->query_us, PT_HIST_MICROS);
    }
    pt_pack_cstr(pk, "host");
    pack_host_stats(h, pk);
    if (h->ingest_stats != NULL) {
        pt_pack_cstr(pk, "ingest");
        pt_ingest_stats_pack(pk, h->ingest_stats);
    }
    pt_host_mirror_pack_stats(h, pk, last);
    pt_host_national_pack_stats(h, pk);
    return 0;
}

/* One record as the read op gives it: seq, received, publisher, event. */
static void pack_record(msgpack_packer *pk, const struct st_record *rec)
{
    msgpack_pack_map(pk, 4);
    pt_pack_cstr(pk, "seq");
    msgpack_pack_uint64(pk, rec->seq);
    pt_pack_cstr(pk, "received");
    msgpack_pack_int64(pk, rec->received);
    pt_pack_cstr(pk, "publisher");
    pack_str(pk, rec->publisher.ptr, rec->publisher.len);
    pt_pack_cstr(pk, "event");
    pack_raw(pk, rec->event, rec->event_len);
}

static int req_read(struct pt_host *h, const msgpack_object *req,
                    msgpack_packer *pk)
{
    uint64_t from, limit;
    if (get_uint(pk, req, "from", 1, UINT64_MAX, &from) != 0 ||
        get_uint(pk, req, "limit", 100, READ_LIMIT_MAX, &limit) != 0)
        return 0;
    uint64_t last = 0;
    int rc = st_reader_renew(h->reader);
    if (rc == 0)
        rc = st_reader_last_seq(h->reader, &last);
    if (rc != 0) {
        pt_pack_error(pk, "log: %s", st_strerror(rc));
        return 0;
    }
    if (from == 0)
        from = 1;
    uint64_t n = from > last ? 0 : last - from + 1;
    if (n > limit)
        n = limit;
    povtrack_proto_pack_ok(pk, 1);
    pt_pack_cstr(pk, "records");
    msgpack_pack_array(pk, (size_t)n);
    rc = n ? st_reader_seek(h->reader, from) : 0;
    /* The count is already packed, so a failure mid-way cannot become an
     * error reply: report it to the caller as internal. */
    for (uint64_t i = 0; i < n && rc == 0; i++) {
        struct st_record rec;
        rc = st_reader_next(h->reader, &rec);
        if (rc != 0)
            break;
        pack_record(pk, &rec);
    }
    if (rc != 0)
        pt_logf(&h->log, PT_LOG_ERROR, "read from %llu: %s",
                (unsigned long long)from, st_strerror(rc));
    return rc;
}

/* The amendments of a record, gathered before anything is packed. */
#define AUDIT_MAX 1000
struct amends {
    uint64_t seq[AUDIT_MAX];
    int voided;
    size_t n;
};

static int gather_amend(void *arg, uint64_t seq, int voided)
{
    struct amends *a = arg;
    if (a->n == AUDIT_MAX)
        return 1;
    a->seq[a->n++] = seq;
    a->voided = a->voided || voided;
    return 0;
}

/* The target id of record rec when it is a void or correction (else
 * target.ptr stays NULL); points into the record. */
static int amend_target(const struct st_record *rec, struct ev_str *target)
{
    msgpack_unpacked up;
    struct ev_event ev;
    struct ev_error err;
    int rc = 0;
    msgpack_unpacked_init(&up);
    if (msgpack_unpack_next(&up, rec->event, rec->event_len, NULL) !=
            MSGPACK_UNPACK_SUCCESS ||
        ev_decode(&up.data, INT64_MAX, &ev, &err) != 0)
        rc = POVTRACK_EFORMAT;
    else if (ev_type_amends(ev.type))
        *target = ev.data.target; /* points into rec, not into up */
    msgpack_unpacked_destroy(&up);
    return rc;
}

/*
 * {"op": "audit", "id": ID} or {"op": "audit", "seq": N} -> {"ok": true,
 * "record": {seq, received, publisher, event}, "amendments": [the voids
 * and corrections of it, in log order, as records], "state": "entered" |
 * "corrected" | "voided"}.  ID (or N) may be a void's or a correction's:
 * the answer is then its target's.
 */
static int req_audit(struct pt_host *h, const msgpack_object *req,
                     msgpack_packer *pk)
{
    const msgpack_object *id = pt_map_get(req, POVTRACK_KEY_ID);
    uint64_t seq = 0;
    if (id == NULL &&
        get_uint(pk, req, POVTRACK_KEY_SEQ, 0, UINT64_MAX, &seq) != 0)
        return 0;
    if (id == NULL ? seq == 0
                   : id->type != MSGPACK_OBJECT_STR || id->via.str.size == 0 ||
                         id->via.str.size > EV_ID_MAX) {
        pt_pack_error(pk,
                      "id: required, the id of a record (at most %d bytes), "
                      "or seq: its sequence",
                      EV_ID_MAX);
        return 0;
    }
    struct ev_str want = {id != NULL ? id->via.str.ptr : "",
                          id != NULL ? id->via.str.size : 0};
    struct st_record rec;
    struct ev_str target = {NULL, 0};
    struct amends *a = calloc(1, sizeof *a);
    if (a == NULL) {
        pt_pack_error(pk, "out of memory");
        return 0;
    }
    int rc = st_reader_renew(h->reader);
    if (rc == 0 && id != NULL)
        rc = st_reader_find_id(h->reader, want, &seq);
    if (rc == 0)
        rc = st_reader_get(h->reader, seq, &rec);
    if (rc == 0)
        rc = amend_target(&rec, &target);
    if (rc == 0 && target.ptr != NULL &&
        (rc = st_reader_find_id(h->reader, target, &seq)) == 0)
        rc = st_reader_get(h->reader, seq, &rec);
    if (rc == 0)
        rc = st_reader_amends(h->reader, seq, gather_amend, a);
    if (rc == POVTRACK_ENOTFOUND) {
        /* pt_pack_error escapes what is not UTF-8. */
        if (id != NULL)
            pt_pack_error(pk, "id: no record with id \"%.*s\" in the log",
                          (int)want.len, want.ptr);
        else
            pt_pack_error(pk, "seq: no record #%llu in the log",
                          (unsigned long long)seq);
        free(a);
        return 0;
    }
    if (rc < 0) {
        pt_pack_error(pk, "log: %s", st_strerror(rc));
        free(a);
        return 0;
    }
    povtrack_proto_pack_ok(pk, 3);
    pt_pack_cstr(pk, "record");
    pack_record(pk, &rec);
    pt_pack_cstr(pk, "state");
    pt_pack_cstr(pk, a->voided ? "voided" : a->n > 0 ? "corrected" : "entered");
    pt_pack_cstr(pk, "amendments");
    msgpack_pack_array(pk, a->n);
    /* The count is packed: a failure from here on is the caller's. */
    for (size_t i = 0; i < a->n && rc == 0; i++) {
        rc = st_reader_get(h->reader, a->seq[i], &rec);
        if (rc == 0)
            pack_record(pk, &rec);
    }
    free(a);
    if (rc != 0)
        pt_logf(&h->log, PT_LOG_ERROR, "audit of seq %llu: %s",
                (unsigned long long)seq, st_strerror(rc));
    return rc;
}

static int req_query(struct pt_host *h, const msgpack_object *req,
                     msgpack_packer *pk)
{
    const msgpack_object *name = pt_map_get(req, POVTRACK_KEY_PLUGIN);
    const msgpack_object *q = pt_map_get(req, POVTRACK_KEY_Q);
    if (name == NULL || name->type != MSGPACK_OBJECT_STR) {
        pt_pack_error(pk, "plugin: required, a plugin name");
        return 0;
    }
    struct pt_plugin *p =
        pt_host_plugin(h, name->via.str.ptr, name->via.str.size);
    if (p == NULL) {
        pt_pack_error(pk, "plugin: no plugin named \"%.*s\" is loaded",
                      (int)name->via.str.size, name->via.str.ptr);
        return 0;
    }
    if (p->quarantined) {
        pt_pack_error(pk, "plugin: %s is quarantined (%s)", pt_plugin_name(p),
                      p->error);
        return 0;
    }
    msgpack_object empty = {.type = MSGPACK_OBJECT_MAP};
    if (q == NULL)
        q = &empty;
    if (q->type != MSGPACK_OBJECT_MAP) {
        pt_pack_error(pk, "q: must be a map");
        return 0;
    }
    MDB_txn *txn;
    int rc = st_mdb_rc(mdb_txn_begin(h->state, NULL, MDB_RDONLY, &txn));
    if (rc != 0) {
        pt_pack_error(pk, "state: %s", st_strerror(rc));
        return 0;
    }
    /* The reader snapshot also serves host->unit(); refresh it so units
     * defined since the last apply are visible. */
    st_reader_renew(h->reader);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer out;
    msgpack_packer_init(&out, &sb, msgpack_sbuffer_write);
    char err[256] = "";
    struct povtrack_ctx ctx = {.host = h, .plugin = p, .txn = txn};
    pt_guard_enter(h->guard, p->desc->name, PT_CALL_QUERY, p->applied);
    int64_t t0 = pt_mono_us();
    int prc = p->desc->query(p->state, &ctx, q, &out, err, sizeof err);
    pt_hist_observe(&p->query_us, PT_HIST_MICROS,
                    (uint64_t)(pt_mono_us() - t0));
    pt_guard_leave(h->guard);
    mdb_txn_abort(txn);
    char bad[POVTRACK_PROTO_ERROR_MAX];
    if (prc != 0 || ctx.storage_rc != 0 || sb.size == 0) {
        if (ctx.storage_rc != 0)
            pt_pack_error(pk, "%s: state: %s", p->desc->name,
                          st_strerror(ctx.storage_rc));
        else
            pt_pack_error(pk, "%s: %s", p->desc->name,
                          err[0] ? err : "query failed");
    } else if (povtrack_proto_check_strict(sb.data, sb.size, bad, sizeof bad) !=
               0) {
        /* A plugin may echo what it was asked into its result; bytes a
         * strict decoder refuses would cost the client the whole reply. */
        pt_logf(&h->log, PT_LOG_WARN, "%s: query result not sent: %s",
                p->desc->name, bad);
        pt_pack_error(pk,
                      "%s: its result is not msgpack with valid UTF-8 "
                      "strings (%s); not sent",
                      p->desc->name, bad);
    } else {
        povtrack_proto_pack_ok(pk, 2);
        pt_pack_cstr(pk, POVTRACK_KEY_APPLIED_SEQ);
        msgpack_pack_uint64(pk, p->applied);
        pt_pack_cstr(pk, POVTRACK_KEY_RESULT);
        pack_raw(pk, sb.data, sb.size);
    }
    msgpack_sbuffer_destroy(&sb);
    return 0;
}

/* Is the stored alert v resolved (a record it was raised by was voided or
 * corrected: it has "resolved_seq")? */
static bool alert_resolved(const MDB_val *v)
{
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    bool r = msgpack_unpack_next(&up, v->mv_data, v->mv_size, NULL) ==
                 MSGPACK_UNPACK_SUCCESS &&
             pt_map_get(&up.data, "resolved_seq") != NULL;
    msgpack_unpacked_destroy(&up);
    return r;
}

/* {"op": "alerts", "since", "limit", "resolved"?: bool}: the stored alerts
 * raised by records after since; resolved ones only with "resolved": true
 * (a client that does not know the field sees the active alerts). */
static int req_alerts(struct pt_host *h, const msgpack_object *req,
                      msgpack_packer *pk)
{
    uint64_t since, limit;
    if (get_uint(pk, req, "since", 0, UINT64_MAX - 1, &since) != 0 ||
        get_uint(pk, req, "limit", 1000, READ_LIMIT_MAX, &limit) != 0)
        return 0;
    const msgpack_object *ro = pt_map_get(req, "resolved");
    if (ro != NULL && ro->type != MSGPACK_OBJECT_BOOLEAN &&
        ro->type != MSGPACK_OBJECT_NIL) {
        pt_pack_error(pk, "resolved: must be true or false");
        return 0;
    }
    bool resolved =
        ro != NULL && ro->type == MSGPACK_OBJECT_BOOLEAN && ro->via.boolean;
    MDB_txn *txn;
    MDB_cursor *cur;
    int rc = st_mdb_rc(mdb_txn_begin(h->state, NULL, MDB_RDONLY, &txn));
    if (rc == 0 &&
        (rc = st_mdb_rc(mdb_cursor_open(txn, h->alerts_dbi, &cur))) != 0)
        mdb_txn_abort(txn);
    if (rc != 0) {
        pt_pack_error(pk, "state: %s", st_strerror(rc));
        return 0;
    }
    /* Two passes: count, then pack, so the array header is exact. */
    unsigned char from[8];
    pt_put_be64(from, since + 1);
    uint64_t n = 0;
    MDB_val k = {8, from}, v;
    for (rc = st_mdb_rc(mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE));
         rc == 0 && n < limit;
         rc = st_mdb_rc(mdb_cursor_get(cur, &k, &v, MDB_NEXT)))
        n += resolved || !alert_resolved(&v);
    povtrack_proto_pack_ok(pk, 1);
    pt_pack_cstr(pk, "alerts");
    msgpack_pack_array(pk, (size_t)n);
    k.mv_size = 8;
    k.mv_data = from;
    uint64_t i = 0;
    for (rc = st_mdb_rc(mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE));
         rc == 0 && i < n;
         rc = st_mdb_rc(mdb_cursor_get(cur, &k, &v, MDB_NEXT))) {
        if (!resolved && alert_resolved(&v))
            continue;
        pack_raw(pk, v.mv_data, v.mv_size);
        i++;
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    return i == n ? 0 : MDB_CORRUPTED;
}

struct units_arg {
    msgpack_packer *pk;
    struct ev_str parent;
    bool has_at; /* list the units in force at "at", else each one's latest */
    int64_t at;
    size_t count;
    int pack;
};

static void pack_time(msgpack_packer *pk, int64_t t, int64_t open)
{
    if (t == open)
        msgpack_pack_nil(pk);
    else
        msgpack_pack_int64(pk, t);
}

static int unit_visit(void *arg, const struct ev_history *h)
{
    struct units_arg *ua = arg;
    int i = ua->has_at ? ev_history_find(h, ua->at) : (int)h->n - 1;
    if (i < 0)
        return 0;
    const struct ev_span *u = &h->span[i];
    int match =
        ua->parent.ptr == NULL
            ? u->parent.ptr == NULL
            : u->parent.ptr != NULL && u->parent.len == ua->parent.len &&
                  memcmp(u->parent.ptr, ua->parent.ptr, u->parent.len) == 0;
    if (!match)
        return 0;
    ua->count++;
    if (!ua->pack)
        return 0;
    msgpack_pack_map(ua->pk, 6);
    pt_pack_cstr(ua->pk, "code");
    pack_str(ua->pk, h->code.ptr, h->code.len);
    pt_pack_cstr(ua->pk, "name");
    pack_str(ua->pk, u->name.ptr, u->name.len);
    pt_pack_cstr(ua->pk, "level");
    pt_pack_cstr(ua->pk, ev_level_name(u->level));
    pt_pack_cstr(ua->pk, "parent");
    if (u->parent.ptr == NULL)
        msgpack_pack_nil(ua->pk);
    else
        pack_str(ua->pk, u->parent.ptr, u->parent.len);
    pt_pack_cstr(ua->pk, "from");
    pack_time(ua->pk, u->from, EV_TIME_MIN);
    pt_pack_cstr(ua->pk, "to");
    pack_time(ua->pk, u->to, EV_TIME_MAX);
    return 0;
}

/* units with "regroup": [code, ...] and "at": where the households of each
 * code are at "at" (ev_unit_map from the code's span of that instant, or
 * its last one before), as {"regroup": {code: code in force | nil}}; nil
 * when the daemon knows no such code, or its trail ends (a province
 * abolished without successor).  Clients regroup what was raised under old
 * units (alerts) onto the units of a date this way. */
static int req_regroup(struct pt_host *h, const msgpack_object *codes,
                       int64_t at, msgpack_packer *pk)
{
    if (codes->type != MSGPACK_OBJECT_ARRAY) {
        pt_pack_error(pk, "regroup: must be an array of unit codes");
        return 0;
    }
    /* Codes are echoed as the reply's keys: only well-formed ones. */
    for (uint32_t i = 0; i < codes->via.array.size; i++) {
        const msgpack_object *c = &codes->via.array.ptr[i];
        struct ev_error err;
        char path[32];
        memset(&err, 0, sizeof err);
        snprintf(path, sizeof path, "regroup[%" PRIu32 "]", i);
        if (c->type != MSGPACK_OBJECT_STR) {
            pt_pack_error(pk, "%s: must be a unit code (a string)", path);
            return 0;
        }
        struct ev_str code = {.ptr = c->via.str.ptr, .len = c->via.str.size};
        if (ev_check_unit_code(code, path, &err) != POVTRACK_OK) {
            pt_pack_error(pk, "%s", err.msg);
            return 0;
        }
    }
    int rc = st_reader_renew(h->reader);
    if (rc != 0) {
        pt_pack_error(pk, "log: %s", st_strerror(rc));
        return 0;
    }
    struct st_registry sr;
    st_reader_registry(h->reader, UINT64_MAX, &sr);
    /* Every code is mapped before anything is packed, so that a storage
     * error is still one clean error reply. */
    struct ev_str *to = calloc(codes->via.array.size + 1, sizeof(*to));
    if (to == NULL)
        return POVTRACK_ENOMEM;
    for (uint32_t i = 0; i < codes->via.array.size; i++) {
        const msgpack_object_str *c = &codes->via.array.ptr[i].via.str;
        struct ev_str code = {.ptr = c->ptr, .len = c->size};
        rc = ev_unit_map(&sr.reg, code, at, at, &to[i]);
        if (rc == POVTRACK_ENOTFOUND) {
            to[i].ptr = NULL;
            rc = 0;
        }
        if (rc != 0) {
            free(to);
            pt_pack_error(pk, "log: %s", st_strerror(rc));
            return 0;
        }
    }
    povtrack_proto_pack_ok(pk, 1);
    pt_pack_cstr(pk, "regroup");
    msgpack_pack_map(pk, codes->via.array.size);
    for (uint32_t i = 0; i < codes->via.array.size; i++) {
        const msgpack_object_str *c = &codes->via.array.ptr[i].via.str;
        pack_str(pk, c->ptr, c->size);
        if (to[i].ptr == NULL)
            msgpack_pack_nil(pk);
        else
            pack_str(pk, to[i].ptr, to[i].len);
    }
    free(to);
    return 0;
}

/* units: {"parent": code|nil, "at"?: unix seconds}: the units under parent
 * (nil: the provinces) as they stood at "at", or as each last stood.  With
 * "regroup" (and "at"), req_regroup's answer instead. */
static int req_units(struct pt_host *h, const msgpack_object *req,
                     msgpack_packer *pk)
{
    const msgpack_object *parent = pt_map_get(req, "parent");
    const msgpack_object *at = pt_map_get(req, "at");
    const msgpack_object *regroup = pt_map_get(req, "regroup");
    struct units_arg ua = {.pk = pk};
    if (parent != NULL && parent->type == MSGPACK_OBJECT_STR) {
        ua.parent.ptr = parent->via.str.ptr;
        ua.parent.len = parent->via.str.size;
    } else if (parent != NULL && parent->type != MSGPACK_OBJECT_NIL) {
        pt_pack_error(pk, "parent: must be a unit code or nil");
        return 0;
    }
    if (at != NULL && at->type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
        at->via.u64 <= (uint64_t)INT64_MAX) {
        ua.has_at = true;
        ua.at = (int64_t)at->via.u64;
    } else if (at != NULL && at->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        ua.has_at = true;
        ua.at = at->via.i64;
    } else if (at != NULL && at->type != MSGPACK_OBJECT_NIL) {
        pt_pack_error(pk, "at: must be unix seconds (an integer) or nil");
        return 0;
    }
    if (regroup != NULL && regroup->type != MSGPACK_OBJECT_NIL) {
        if (!ua.has_at) {
            pt_pack_error(pk, "at: required with regroup, unix seconds");
            return 0;
        }
        return req_regroup(h, regroup, ua.at, pk);
    }
    int rc = st_reader_renew(h->reader);
    if (rc == 0)
        rc = st_reader_histories(h->reader, unit_visit, &ua);
    if (rc != 0) {
        pt_pack_error(pk, "log: %s", st_strerror(rc));
        return 0;
    }
    povtrack_proto_pack_ok(pk, 1);
    pt_pack_cstr(pk, "units");
    msgpack_pack_array(pk, ua.count);
    ua.pack = 1;
    ua.count = 0;
    return st_reader_histories(h->reader, unit_visit, &ua);
}

/* resume and rebuild: {"op": ..., "plugin": NAME}. */
static int req_plugin_action(struct pt_host *h, const msgpack_object *req,
                             msgpack_packer *pk, int rebuild)
{
    const msgpack_object *name = pt_map_get(req, POVTRACK_KEY_PLUGIN);
    if (name == NULL || name->type != MSGPACK_OBJECT_STR) {
        pt_pack_error(pk, "plugin: required, a plugin name");
        return 0;
    }
    struct pt_plugin *p =
        pt_host_plugin(h, name->via.str.ptr, name->via.str.size);
    if (p == NULL) {
        pt_pack_error(pk, "plugin: no plugin named \"%.*s\" is configured",
                      (int)name->via.str.size, name->via.str.ptr);
        return 0;
    }
    char err[1200];
    int rc = rebuild ? pt_host_rebuild(h, p, err, sizeof err)
                     : pt_host_resume(h, p, err, sizeof err);
    if (rc != 0) {
        pt_pack_error(pk, "%s", err);
        return 0;
    }
    uint64_t last = 0;
    if (st_reader_renew(h->reader) == 0)
        st_reader_last_seq(h->reader, &last);
    st_reader_reset(h->reader);
    povtrack_proto_pack_ok(pk, 2);
    pt_pack_cstr(pk, POVTRACK_KEY_APPLIED_SEQ);
    msgpack_pack_uint64(pk, p->applied);
    pt_pack_cstr(pk, "last_seq");
    msgpack_pack_uint64(pk, last);
    return 0;
}

static int request(struct pt_host *h, const msgpack_object *req,
                   msgpack_packer *pk)
{
    const msgpack_object *op = pt_map_get(req, POVTRACK_KEY_OP);
    if (op == NULL || op->type != MSGPACK_OBJECT_STR) {
        pt_pack_error(pk, "op: required (ping, stats, read, query, alerts, "
                          "units, validate, resume, rebuild, audit)");
        return 0;
    }
    const char *s = op->via.str.ptr;
    size_t n = op->via.str.size;
#define OP_IS(name) (n == sizeof(name) - 1 && memcmp(s, name, n) == 0)
    if (OP_IS(POVTRACK_OP_PING)) {
        povtrack_proto_pack_ok(pk, 1);
        pt_pack_cstr(pk, "version");
        pt_pack_cstr(pk, POVTRACK_VERSION);
        return 0;
    }
    if (OP_IS(POVTRACK_OP_STATS))
        return req_stats(h, pk);
    if (OP_IS(POVTRACK_OP_READ))
        return req_read(h, req, pk);
    if (OP_IS(POVTRACK_OP_QUERY))
        return req_query(h, req, pk);
    if (OP_IS(POVTRACK_OP_ALERTS))
        return req_alerts(h, req, pk);
    if (OP_IS(POVTRACK_OP_UNITS))
        return req_units(h, req, pk);
    if (OP_IS(POVTRACK_OP_VALIDATE))
        return pt_request_validate(h, req, pk);
    if (OP_IS(POVTRACK_OP_RESUME))
        return req_plugin_action(h, req, pk, 0);
    if (OP_IS(POVTRACK_OP_REBUILD))
        return req_plugin_action(h, req, pk, 1);
    if (OP_IS(POVTRACK_OP_AUDIT))
        return req_audit(h, req, pk);
#undef OP_IS
    pt_pack_error(pk, "op: unknown operation \"%.*s\"", (int)n, s);
    return 0;
}

int pt_host_request(struct pt_host *h, const msgpack_object *req,
                    msgpack_packer *pk)
{
    int rc = request(h, req, pk);
    st_reader_reset(h->reader);
    return rc;
}
