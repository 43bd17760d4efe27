/*
 * st_units.c - the unit registry in the log: each code's history (ev_unit.h)
 * as stored in "units", the versions in "unitseq", and the registry views
 * the rules (ingest) and the plugin host read.
 *
 * Stored form of a history: a msgpack array of spans, each
 *   [from|nil, to|nil, name, parent|nil, level, ended_by|nil,
 *    successor|nil, since_seq, closed_seq]
 * (nil from/to: open at that end).  Read with a small zero-copy reader, as
 * it is read for nearly every record the plugin host applies; written with
 * msgpack-c's packer.  A log written before histories holds
 * [name, parent|nil, level]: one span open at both ends.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "st_internal.h"

/* ---- reading msgpack by hand ---- */

struct rd {
    const unsigned char *p, *end;
};

static int rd_be(struct rd *c, unsigned nbytes, uint64_t *v)
{
    if ((size_t)(c->end - c->p) < nbytes)
        return POVTRACK_EFORMAT;
    *v = 0;
    for (unsigned i = 0; i < nbytes; i++)
        *v = (*v << 8) | *c->p++;
    return 0;
}

static int rd_array(struct rd *c, uint32_t *n)
{
    uint64_t v;
    unsigned b;
    int rc;

    if (c->p >= c->end)
        return POVTRACK_EFORMAT;
    b = *c->p++;
    if ((b & 0xf0u) == 0x90u) {
        *n = b & 0x0fu;
        return 0;
    }
    if (b != 0xdc && b != 0xdd)
        return POVTRACK_EFORMAT;
    if ((rc = rd_be(c, b == 0xdc ? 2 : 4, &v)) != 0)
        return rc;
    *n = (uint32_t)v;
    return 0;
}

static int rd_nil(struct rd *c)
{
    if (c->p < c->end && *c->p == 0xc0) {
        c->p++;
        return 1;
    }
    return 0;
}

/* A str (any of its four forms), or nil when nil_ok. */
static int rd_str(struct rd *c, struct ev_str *s, int nil_ok)
{
    uint64_t len = 0;
    unsigned b;
    int rc = 0;

    if (nil_ok && rd_nil(c)) {
        s->ptr = NULL;
        s->len = 0;
        return 0;
    }
    if (c->p >= c->end)
        return POVTRACK_EFORMAT;
    b = *c->p++;
    if ((b & 0xe0u) == 0xa0u)
        len = b & 0x1fu;
    else if (b == 0xd9)
        rc = rd_be(c, 1, &len);
    else if (b == 0xda)
        rc = rd_be(c, 2, &len);
    else if (b == 0xdb)
        rc = rd_be(c, 4, &len);
    else
        return POVTRACK_EFORMAT;
    if (rc != 0 || (uint64_t)(c->end - c->p) < len)
        return POVTRACK_EFORMAT;
    s->ptr = (const char *)c->p;
    s->len = (uint32_t)len;
    c->p += len;
    return 0;
}

/* Any msgpack integer as int64 (uint64 above INT64_MAX is corrupt). */
static int rd_int(struct rd *c, int64_t *v)
{
    uint64_t u;
    unsigned b;
    int rc;

    if (c->p >= c->end)
        return POVTRACK_EFORMAT;
    b = *c->p++;
    if (b <= 0x7f) {
        *v = b;
        return 0;
    }
    if (b >= 0xe0) {
        *v = (int64_t)b - 256;
        return 0;
    }
    if (b >= 0xcc && b <= 0xcf) { /* uint 8..64 */
        if ((rc = rd_be(c, 1u << (b - 0xcc), &u)) != 0)
            return rc;
        if (u > (uint64_t)INT64_MAX)
            return POVTRACK_EFORMAT;
        *v = (int64_t)u;
        return 0;
    }
    if (b >= 0xd0 && b <= 0xd3) { /* int 8..64 */
        unsigned n = 1u << (b - 0xd0);
        if ((rc = rd_be(c, n, &u)) != 0)
            return rc;
        if (n < 8 && (u >> (8 * n - 1)) != 0)
            u |= ~UINT64_C(0) << (8 * n); /* sign-extend */
        memcpy(v, &u, sizeof *v);
        return 0;
    }
    return POVTRACK_EFORMAT;
}

static int rd_time(struct rd *c, int64_t *t, int64_t open)
{
    if (rd_nil(c)) {
        *t = open;
        return 0;
    }
    return rd_int(c, t);
}

static const char *const change_names[] = {NULL,     "merge",    "split",
                                           "rename", "reparent", "abolish"};

static int rd_level(struct rd *c, enum ev_level *out)
{
    struct ev_str s;
    int rc = rd_str(c, &s, 0);

    if (rc != 0)
        return rc;
    for (int l = EV_LEVEL_CENTRAL; l <= EV_LEVEL_COMMUNE; l++) {
        const char *name = st_level_name((enum ev_level)l);
        if (strlen(name) == s.len && memcmp(name, s.ptr, s.len) == 0) {
            *out = (enum ev_level)l;
            return 0;
        }
    }
    return POVTRACK_EFORMAT;
}

static int rd_change(struct rd *c, enum ev_change *out)
{
    struct ev_str s;
    int rc = rd_str(c, &s, 1);

    *out = EV_CHANGE_NONE;
    if (rc != 0 || s.ptr == NULL)
        return rc;
    for (unsigned i = EV_CHANGE_MERGE; i <= EV_CHANGE_ABOLISH; i++) {
        if (strlen(change_names[i]) == s.len &&
            memcmp(change_names[i], s.ptr, s.len) == 0) {
            *out = (enum ev_change)i;
            return 0;
        }
    }
    return POVTRACK_EFORMAT;
}

static int parse_span(struct rd *c, struct ev_span *s)
{
    int64_t since, closed;
    uint32_t n;
    int rc;

    memset(s, 0, sizeof *s);
    if ((rc = rd_array(c, &n)) != 0)
        return rc;
    if (n != 9)
        return POVTRACK_EFORMAT;
    if ((rc = rd_time(c, &s->from, EV_TIME_MIN)) != 0 ||
        (rc = rd_time(c, &s->to, EV_TIME_MAX)) != 0 ||
        (rc = rd_str(c, &s->name, 0)) != 0 ||
        (rc = rd_str(c, &s->parent, 1)) != 0 ||
        (rc = rd_level(c, &s->level)) != 0 ||
        (rc = rd_change(c, &s->ended_by)) != 0 ||
        (rc = rd_str(c, &s->successor, 1)) != 0 ||
        (rc = rd_int(c, &since)) != 0 || (rc = rd_int(c, &closed)) != 0)
        return rc;
    if (since < 0 || closed < 0 || s->from >= s->to)
        return POVTRACK_EFORMAT;
    s->since_seq = (uint64_t)since;
    s->closed_seq = (uint64_t)closed;
    return 0;
}

int st_history_parse(struct ev_str code, const void *val, size_t len,
                     struct ev_history *out)
{
    struct rd c = {val, (const unsigned char *)val + len};
    struct ev_history h;
    uint32_t n;
    int rc;

    memset(&h, 0, sizeof h);
    h.code = code;
    if ((rc = rd_array(&c, &n)) != 0)
        return rc;
    if (n == 3 && c.p < c.end &&
        ((*c.p & 0xe0u) == 0xa0u || *c.p == 0xd9 || *c.p == 0xda ||
         *c.p == 0xdb)) {
        /* [name, parent|nil, level]: a log from before histories. */
        struct ev_span *s = &h.span[0];
        s->from = EV_TIME_MIN;
        s->to = EV_TIME_MAX;
        if ((rc = rd_str(&c, &s->name, 0)) != 0 ||
            (rc = rd_str(&c, &s->parent, 1)) != 0 ||
            (rc = rd_level(&c, &s->level)) != 0)
            return rc;
        h.n = 1;
    } else {
        if (n == 0 || n > EV_SPANS_MAX)
            return POVTRACK_EFORMAT;
        for (uint32_t i = 0; i < n; i++) {
            if ((rc = parse_span(&c, &h.span[i])) != 0)
                return rc;
            if (i > 0 && h.span[i].from < h.span[i - 1].to)
                return POVTRACK_EFORMAT; /* overlapping or unsorted */
        }
        h.n = n;
    }
    if (c.p != c.end)
        return POVTRACK_EFORMAT;
    *out = h;
    return 0;
}

int st_history_get(MDB_txn *txn, MDB_dbi units, struct ev_str code,
                   struct ev_history *out)
{
    MDB_val k = {code.len, (void *)code.ptr}, v;
    int rc;

    if (out == NULL || code.ptr == NULL || code.len == 0)
        return POVTRACK_EINVAL;
    /* A key LMDB could not store is simply not there. */
    if (code.len > (uint32_t)mdb_env_get_maxkeysize(mdb_txn_env(txn)))
        return POVTRACK_ENOTFOUND;
    rc = st_mdb_rc(mdb_get(txn, units, &k, &v));
    if (rc == MDB_NOTFOUND)
        return POVTRACK_ENOTFOUND;
    if (rc != 0)
        return rc;
    return st_history_parse(code, v.mv_data, v.mv_size, out);
}

void st_history_latest(const struct ev_history *h, struct ev_unit *out)
{
    const struct ev_span *s = &h->span[h->n - 1];

    out->code = h->code;
    out->name = s->name;
    out->parent = s->parent;
    out->level = s->level;
}

/* ---- writing ---- */

static int pack_time(msgpack_packer *pk, int64_t t, int64_t open)
{
    return t == open ? msgpack_pack_nil(pk) : msgpack_pack_int64(pk, t);
}

static int pack_str(msgpack_packer *pk, struct ev_str s)
{
    if (s.ptr == NULL)
        return msgpack_pack_nil(pk);
    return msgpack_pack_str_with_body(pk, s.ptr, s.len);
}

static int pack_history(msgpack_packer *pk, const struct ev_history *h)
{
    int r = msgpack_pack_array(pk, h->n);

    for (uint32_t i = 0; i < h->n; i++) {
        const struct ev_span *s = &h->span[i];
        const char *level = st_level_name(s->level);
        const char *change = (unsigned)s->ended_by <= EV_CHANGE_ABOLISH
                                 ? change_names[s->ended_by]
                                 : NULL;
        if (level == NULL)
            return POVTRACK_EINVAL; /* the rules let no such span through */
        r |= msgpack_pack_array(pk, 9);
        r |= pack_time(pk, s->from, EV_TIME_MIN);
        r |= pack_time(pk, s->to, EV_TIME_MAX);
        r |= pack_str(pk, s->name);
        r |= pack_str(pk, s->parent);
        r |= msgpack_pack_str_with_body(pk, level, strlen(level));
        r |= change != NULL
                 ? msgpack_pack_str_with_body(pk, change, strlen(change))
                 : msgpack_pack_nil(pk);
        r |= pack_str(pk, s->successor);
        r |= msgpack_pack_uint64(pk, s->since_seq);
        r |= msgpack_pack_uint64(pk, s->closed_seq);
    }
    return r == 0 ? 0 : POVTRACK_ENOMEM; /* the sbuffer's realloc failed */
}

/* Stamp what record seq changed: spans it began, and ends it gave (see
 * st_internal.h). */
void st_history_stamp(struct ev_history *h, const struct ev_history *old,
                      uint64_t seq)
{
    for (uint32_t i = 0; i < h->n; i++) {
        struct ev_span *s = &h->span[i];
        const struct ev_span *was = NULL;
        for (uint32_t j = 0; old != NULL && j < old->n; j++)
            if (old->span[j].from == s->from)
                was = &old->span[j];
        if (was == NULL) {
            s->since_seq = seq;
            continue;
        }
        if (s->to != EV_TIME_MAX && was->to == EV_TIME_MAX)
            s->closed_seq = seq;
    }
}

/* The registry of a write transaction (st_view), for the rules. */
static int view_history(void *arg, struct ev_str code, struct ev_history *out)
{
    struct st_view *view = arg;

    return st_history_get(view->txn, view->log->units, code, out);
}

int st_child_after(MDB_txn *txn, MDB_dbi units, struct ev_str parent, int64_t t,
                   struct ev_str *child)
{
    MDB_cursor *cur;
    MDB_val k, v;
    int rc = st_mdb_rc(mdb_cursor_open(txn, units, &cur));

    if (rc != 0)
        return rc;
    for (rc = st_mdb_rc(mdb_cursor_get(cur, &k, &v, MDB_FIRST)); rc == 0;
         rc = st_mdb_rc(mdb_cursor_get(cur, &k, &v, MDB_NEXT))) {
        struct ev_history h;
        struct ev_str code = {k.mv_data, (uint32_t)k.mv_size};
        if ((rc = st_history_parse(code, v.mv_data, v.mv_size, &h)) != 0)
            break;
        for (uint32_t i = 0; i < h.n; i++) {
            if (h.span[i].to > t && h.span[i].parent.ptr != NULL &&
                h.span[i].parent.len == parent.len &&
                memcmp(h.span[i].parent.ptr, parent.ptr, parent.len) == 0) {
                *child = code;
                mdb_cursor_close(cur);
                return 0;
            }
        }
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? POVTRACK_ENOTFOUND : rc;
}

static int view_child_after(void *arg, struct ev_str parent, int64_t t,
                            struct ev_str *child)
{
    struct st_view *view = arg;

    return st_child_after(view->txn, view->log->units, parent, t, child);
}

void st_view_registry(struct st_view *view, struct ev_registry *out)
{
    out->arg = view;
    out->history = view_history;
    out->child_after = view_child_after;
}

int st_check_refs(void *arg, struct st_view *view, struct st_item *item)
{
    struct ev_error err = {0};
    struct ev_registry reg;
    int rc;

    (void)arg;
    st_view_registry(view, &reg);
    rc = ev_check_refs(item->ev, &reg, &err);
    if (rc == POVTRACK_EINVALID)
        snprintf(item->error, sizeof item->error, "%s", err.msg);
    if (rc == POVTRACK_OK && ev_type_amends(item->ev->type)) {
        struct st_target t;
        rc =
            st_view_target(view, item->ev, &t, item->error, sizeof item->error);
        if (rc == POVTRACK_OK)
            st_target_free(&t);
    }
    return rc;
}

int st_view_unit(struct st_view *view, struct ev_str code, struct ev_unit *out)
{
    struct ev_history h;
    int rc = st_history_get(view->txn, view->log->units, code, &h);

    if (rc == 0)
        st_history_latest(&h, out);
    return rc;
}

int st_units_apply(struct st_view *view, const struct ev_event *ev,
                   uint64_t seq, struct st_item *it)
{
    const struct st_log *log = view->log;
    struct ev_registry reg;
    struct ev_error err = {0};
    msgpack_sbuffer sb;
    msgpack_packer pk;
    size_t off[EV_UPDATE_MAX + 1];
    int rc;

    struct ev_unit_update *u = malloc(sizeof *u);
    if (u == NULL)
        return POVTRACK_ENOMEM;
    st_view_registry(view, &reg);
    rc = ev_unit_update(ev, &reg, u, &err);
    if (rc == POVTRACK_EINVALID) {
        /* Only a caller without reference checks gets here. */
        free(u);
        snprintf(it->error, sizeof it->error, "%s", err.msg);
        return POVTRACK_EINVALID;
    }
    if (rc != POVTRACK_OK) {
        free(u);
        return rc;
    }
    /* Every history is packed before any is written: the strings of the
     * histories point into pages a put may move. */
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    for (uint32_t i = 0; i < u->n && rc == 0; i++) {
        struct ev_history old;
        int got = st_history_get(view->txn, log->units, u->hist[i].code, &old);
        if (got != 0 && got != POVTRACK_ENOTFOUND) {
            rc = got;
            break;
        }
        st_history_stamp(&u->hist[i], got == 0 ? &old : NULL, seq);
        off[i] = sb.size;
        rc = pack_history(&pk, &u->hist[i]);
    }
    off[u->n] = sb.size;
    /* Keys point into the event or the map: copy them too. */
    char keys[EV_UPDATE_MAX][EV_UNIT_MAX];
    uint32_t klen[EV_UPDATE_MAX];
    for (uint32_t i = 0; i < u->n && rc == 0; i++) {
        if (u->hist[i].code.len > EV_UNIT_MAX) {
            rc = POVTRACK_EINVAL;
            break;
        }
        klen[i] = u->hist[i].code.len;
        memcpy(keys[i], u->hist[i].code.ptr, klen[i]);
    }
    for (uint32_t i = 0; i < u->n && rc == 0; i++) {
        MDB_val k = {klen[i], keys[i]};
        MDB_val v = {off[i + 1] - off[i], sb.data + off[i]};
        rc = st_mdb_rc(mdb_put(view->txn, log->units, &k, &v, 0));
    }
    if (rc == 0) {
        unsigned char kb[8];
        MDB_val k = {sizeof kb, kb}, v = {0, ""};
        st_put_u64be(kb, seq);
        rc = st_mdb_rc(mdb_put(view->txn, log->unitseq, &k, &v, 0));
    }
    msgpack_sbuffer_destroy(&sb);
    free(u);
    return rc;
}

/* ---- reading, for the plugin host and tools ---- */

static int reader_registry_history(void *arg, struct ev_str code,
                                   struct ev_history *out)
{
    struct st_registry *sr = arg;
    int rc = st_reader_history(sr->reader, code, out);

    if (rc != 0)
        return rc;
    if (sr->as_of != UINT64_MAX) {
        ev_history_as_of(out, sr->as_of);
        if (out->n == 0)
            return POVTRACK_ENOTFOUND;
    }
    return POVTRACK_OK;
}

/* Answered from the latest registry whatever as_of says: it serves the
 * rules, which only ever run on the log's end. */
static int reader_registry_child_after(void *arg, struct ev_str parent,
                                       int64_t t, struct ev_str *child)
{
    struct st_registry *sr = arg;

    return st_reader_child_after(sr->reader, parent, t, child);
}

void st_reader_registry(struct st_reader *r, uint64_t as_of,
                        struct st_registry *out)
{
    out->reg.arg = out;
    out->reg.history = reader_registry_history;
    out->reg.child_after = reader_registry_child_after;
    out->reader = r;
    out->as_of = as_of;
}
