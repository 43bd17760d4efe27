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
 *
 * The same pass replays the unit events into a registry in memory (struct
 * replay): one history per code (about 700 bytes; a national log defines
 * some 11,000 codes), found through an open-addressing hash table on the
 * code, and an index from each parent to the codes that ever had it as
 * parent, so that the rules' "anything still under this unit?" looks at
 * those codes only.  Strings point into the records of the snapshot, which
 * stay mapped until it ends.  After the pass, "units" and "unitseq" are
 * read once each and compared with the replay.
 */
#include "st_verify.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "st_internal.h"

/* Records between two progress calls. */
#define PROGRESS_EVERY 16384

/* No index (rcode, rlink), and an empty slot of the hash table. */
#define NONE UINT32_MAX

/* A code of the replayed registry. */
struct rcode {
    /* The replayed history; n == 0 while the code was only named as a
     * parent.  h.code is the key of the hash table. */
    struct ev_history h;
    uint64_t changed_at; /* the last record that changed it */
    uint32_t children;   /* first rlink with this code as parent, or NONE */
    uint32_t parents;    /* first rlink with this code as child, or NONE */
    bool stored;         /* found in "units" by the comparison */
};

/* child has or had parent as the parent of a span: the lists that
 * rp_child_after() walks.  A link is never removed; it only narrows where
 * rp_child_after() looks, which then reads the child's spans. */
struct rlink {
    uint32_t parent, child; /* rcode indexes */
    uint32_t next_child;    /* next link of the same parent, or NONE */
    uint32_t next_parent;   /* next link of the same child, or NONE */
};

/* A unit event: its sequence and unit, for the "unitseq" comparison. */
struct useq {
    uint64_t seq;
    struct ev_str unit;
};

struct replay {
    struct rcode *code;
    size_t ncode, capcode;
    uint32_t *slot; /* rcode index or NONE; nslot is a power of two */
    size_t nslot;
    struct rlink *link;
    size_t nlink, caplink;
    struct useq *ev; /* the unit events, in sequence order */
    size_t nev, capev;
    struct ev_unit_update *upd; /* ev_unit_update's output (40 KiB) */
    /* Unit events below this sequence were written before histories:
     * stamped 0, no "unitseq" entry (0: there are none). */
    uint64_t legacy_below;
};

/* An entry "amends" must hold: (target, seq) -> kind. */
struct amend_entry {
    uint64_t target, seq;
    unsigned char kind;
};

struct walk {
    struct st_log *log;
    MDB_txn *txn;
    struct st_verify_report *rep;
    msgpack_zone zone;   /* the record being decoded; cleared for each */
    msgpack_sbuffer enc; /* its canonical re-encoding */
    msgpack_packer pk;
    uint64_t ids_ok; /* records whose index entry names them */
    struct replay units;
    struct amend_entry *amends; /* what "amends" must hold */
    size_t namends, capamends;
};

static const char *const check_names[ST_VERIFY_NCHECKS] = {
    "sequence", "records", "ids", "units", "amends"};

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
 * event in canonical form, POVTRACK_EFORMAT with why filled when the record
 * is not one, and POVTRACK_ENOMEM when memory ran out (a failure of this
 * run, not of the record).
 */
static int decode_record(struct walk *w, uint64_t seq, const MDB_val *v,
                         struct ev_event *ev, char *why, size_t whylen)
{
    struct ev_error everr = {0};
    struct st_record rec;
    msgpack_object obj;
    msgpack_unpack_return ur;
    size_t off = 0;
    int rc;

    msgpack_zone_clear(&w->zone);
    if (st_record_parse(seq, v->mv_data, v->mv_size, &rec) != 0) {
        snprintf(why, whylen, "the record header is corrupt (%zu bytes)",
                 v->mv_size);
        return POVTRACK_EFORMAT;
    }
    /* Before msgpack_unpack, which would allocate whatever size a corrupt
     * header declares. */
    static const struct povtrack_proto_limits depth_only = {
        EV_DEPTH_MAX, UINT32_MAX, UINT32_MAX, UINT32_MAX, NULL};
    if (povtrack_proto_precheck(rec.event, rec.event_len, &depth_only,
                                everr.msg, sizeof everr.msg) != 0) {
        snprintf(why, whylen, "the event is not msgpack: %.180s", everr.msg);
        return POVTRACK_EFORMAT;
    }
    ur = msgpack_unpack(rec.event, rec.event_len, &off, &w->zone, &obj);
    if (ur == MSGPACK_UNPACK_NOMEM_ERROR)
        return POVTRACK_ENOMEM;
    if (ur != MSGPACK_UNPACK_SUCCESS || off != rec.event_len) {
        snprintf(why, whylen, "the event is not one msgpack object");
        return POVTRACK_EFORMAT;
    }
    rc = ev_decode(&obj, INT64_MAX, ev, &everr);
    if (rc == POVTRACK_ENOMEM)
        return POVTRACK_ENOMEM;
    if (rc != 0) {
        snprintf(why, whylen, "the event does not validate: %.180s", everr.msg);
        return POVTRACK_EFORMAT;
    }
    /* The log stores ev_encode's bytes; any other form would make a resent
     * event look like a conflicting one instead of a duplicate. */
    msgpack_sbuffer_clear(&w->enc);
    if (ev_encode(ev, &w->pk) != 0)
        return POVTRACK_ENOMEM;
    if (w->enc.size != rec.event_len ||
        memcmp(w->enc.data, rec.event, rec.event_len) != 0) {
        snprintf(why, whylen, "the event is not in canonical form");
        return POVTRACK_EFORMAT;
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
    rc = st_mdb_rc(mdb_get(w->txn, w->log->ids, &k, &v));
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

/* ---- the replayed unit registry ---- */

static bool str_same(struct ev_str a, struct ev_str b)
{
    if (a.ptr == NULL || b.ptr == NULL)
        return a.ptr == b.ptr;
    return a.len == b.len && memcmp(a.ptr, b.ptr, a.len) == 0;
}

static uint32_t str_hash(struct ev_str s)
{
    uint32_t h = 2166136261u; /* FNV-1a */

    for (uint32_t i = 0; i < s.len; i++) {
        h ^= (unsigned char)s.ptr[i];
        h *= 16777619u;
    }
    return h;
}

/* Make room for need elements of size bytes in *p (capacity *cap). */
static int grow(void **p, size_t *cap, size_t need, size_t size)
{
    size_t ncap = *cap != 0 ? *cap : 64;
    void *q;

    if (need <= *cap)
        return 0;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2)
            return POVTRACK_ENOMEM;
        ncap *= 2;
    }
    if (ncap > SIZE_MAX / size)
        return POVTRACK_ENOMEM;
    q = realloc(*p, ncap * size);
    if (q == NULL)
        return POVTRACK_ENOMEM;
    *p = q;
    *cap = ncap;
    return 0;
}

static uint32_t rp_find(const struct replay *rp, struct ev_str code)
{
    size_t mask = rp->nslot - 1;

    if (rp->nslot == 0)
        return NONE;
    for (size_t i = str_hash(code) & mask;; i = (i + 1) & mask) {
        uint32_t at = rp->slot[i];
        if (at == NONE || str_same(rp->code[at].h.code, code))
            return at;
    }
}

/* Double the hash table (kept at most half full) and place every code. */
static int rp_rehash(struct replay *rp)
{
    size_t n = rp->nslot != 0 ? rp->nslot * 2 : 1024;
    uint32_t *slot;

    if (n > SIZE_MAX / sizeof(*slot))
        return POVTRACK_ENOMEM;
    slot = malloc(n * sizeof(*slot));
    if (slot == NULL)
        return POVTRACK_ENOMEM;
    for (size_t i = 0; i < n; i++)
        slot[i] = NONE;
    for (size_t c = 0; c < rp->ncode; c++) {
        size_t i = str_hash(rp->code[c].h.code) & (n - 1);
        while (slot[i] != NONE)
            i = (i + 1) & (n - 1);
        slot[i] = (uint32_t)c;
    }
    free(rp->slot);
    rp->slot = slot;
    rp->nslot = n;
    return 0;
}

/* The index of code, added with an empty history when new.  May move
 * rp->code: hold indexes, not pointers, across it. */
static int rp_intern(struct replay *rp, struct ev_str code, uint32_t *at)
{
    struct rcode *c;
    size_t i;
    int rc;

    if ((*at = rp_find(rp, code)) != NONE)
        return 0;
    if (rp->ncode >= NONE - 1)
        return POVTRACK_ENOMEM;
    if ((rp->ncode + 1) * 2 > rp->nslot && (rc = rp_rehash(rp)) != 0)
        return rc;
    rc = grow((void **)&rp->code, &rp->capcode, rp->ncode + 1,
              sizeof(*rp->code));
    if (rc != 0)
        return rc;
    c = &rp->code[rp->ncode];
    memset(c, 0, sizeof(*c));
    c->h.code = code;
    c->children = NONE;
    c->parents = NONE;
    for (i = str_hash(code) & (rp->nslot - 1); rp->slot[i] != NONE;
         i = (i + 1) & (rp->nslot - 1))
        continue;
    rp->slot[i] = (uint32_t)rp->ncode;
    *at = (uint32_t)rp->ncode++;
    return 0;
}

/* Note that code child has a span under parent. */
static int rp_link(struct replay *rp, struct ev_str parent, uint32_t child)
{
    uint32_t p;
    int rc;

    for (uint32_t l = rp->code[child].parents; l != NONE;
         l = rp->link[l].next_parent)
        if (str_same(rp->code[rp->link[l].parent].h.code, parent))
            return 0;
    if ((rc = rp_intern(rp, parent, &p)) != 0)
        return rc;
    if (rp->nlink >= NONE - 1)
        return POVTRACK_ENOMEM;
    rc = grow((void **)&rp->link, &rp->caplink, rp->nlink + 1,
              sizeof(*rp->link));
    if (rc != 0)
        return rc;
    rp->link[rp->nlink] =
        (struct rlink){p, child, rp->code[p].children, rp->code[child].parents};
    rp->code[p].children = (uint32_t)rp->nlink;
    rp->code[child].parents = (uint32_t)rp->nlink;
    rp->nlink++;
    return 0;
}

/* The replay as an ev_registry: what view_history and view_child_after
 * (st_units.c) answer on append from "units". */
static int rp_history(void *arg, struct ev_str code, struct ev_history *out)
{
    const struct replay *rp = arg;
    uint32_t at = rp_find(rp, code);

    if (at == NONE || rp->code[at].h.n == 0)
        return POVTRACK_ENOTFOUND;
    *out = rp->code[at].h;
    return POVTRACK_OK;
}

static int rp_child_after(void *arg, struct ev_str parent, int64_t t,
                          struct ev_str *child)
{
    const struct replay *rp = arg;
    uint32_t at = rp_find(rp, parent);

    if (at == NONE)
        return POVTRACK_ENOTFOUND;
    for (uint32_t l = rp->code[at].children; l != NONE;
         l = rp->link[l].next_child) {
        const struct ev_history *h = &rp->code[rp->link[l].child].h;
        for (uint32_t i = 0; i < h->n; i++) {
            if (h->span[i].to > t && str_same(h->span[i].parent, parent)) {
                *child = h->code;
                return POVTRACK_OK;
            }
        }
    }
    return POVTRACK_ENOTFOUND;
}

static void rp_free(struct replay *rp)
{
    free(rp->code);
    free(rp->slot);
    free(rp->link);
    free(rp->ev);
    free(rp->upd);
}

/* Apply the unit event ev of record seq to the replay, as st_units_apply
 * applies it to "units" on append. */
static int replay_unit(struct walk *w, uint64_t seq, const struct ev_event *ev)
{
    struct replay *rp = &w->units;
    struct ev_registry reg = {rp, rp_history, rp_child_after};
    struct ev_error err = {0};
    /* An old writer left no stamps: 0, as its values read back. */
    uint64_t stamp_seq = seq < rp->legacy_below ? 0 : seq;
    const char *type = ev_type_name(ev->type);
    int rc;

    w->rep->unit_events++;
    w->rep->check[ST_VERIFY_UNITS].checked++;
    if (stamp_seq == 0)
        w->rep->legacy_unit_events++;
    rc = grow((void **)&rp->ev, &rp->capev, rp->nev + 1, sizeof(*rp->ev));
    if (rc != 0)
        return rc;
    rp->ev[rp->nev++] = (struct useq){seq, ev->unit};
    rc = ev_unit_update(ev, &reg, rp->upd, &err);
    if (rc == POVTRACK_ENOMEM)
        return POVTRACK_ENOMEM;
    if (rc != POVTRACK_OK) {
        /* POVTRACK_EINVALID: the replay's registry has no error of its own. */
        fail(w, ST_VERIFY_UNITS, 1,
             "seq %" PRIu64 ": %s of %.*s is refused on replay: %s", seq,
             type != NULL ? type : "?", (int)ev->unit.len, ev->unit.ptr,
             rc == POVTRACK_EINVALID ? err.msg : "registry error");
        return 0;
    }
    for (uint32_t i = 0; i < rp->upd->n; i++) {
        struct ev_history *h = &rp->upd->hist[i];
        uint32_t at;

        if ((rc = rp_intern(rp, h->code, &at)) != 0)
            return rc;
        st_history_stamp(h, rp->code[at].h.n > 0 ? &rp->code[at].h : NULL,
                         stamp_seq);
        h->code = rp->code[at].h.code; /* the key: the same bytes */
        rp->code[at].h = *h;
        rp->code[at].changed_at = seq;
        for (uint32_t k = 0; k < h->n; k++)
            if (h->span[k].parent.ptr != NULL &&
                (rc = rp_link(rp, h->span[k].parent, at)) != 0)
                return rc;
    }
    return 0;
}

static const char *show_str(char *buf, size_t len, struct ev_str s);

/* A void or correction at seq: the "amends" entry it must have, by its
 * target's sequence in "ids". */
static int expect_amend(struct walk *w, uint64_t seq, const struct ev_event *ev)
{
    MDB_val k = {ev->data.target.len, (void *)ev->data.target.ptr}, v;
    char id[EV_ID_MAX + 1];
    w->rep->amend_events++;
    w->rep->check[ST_VERIFY_AMENDS].checked++;
    int rc = st_mdb_rc(mdb_get(w->txn, w->log->ids, &k, &v));
    if (rc == MDB_NOTFOUND || (rc == 0 && v.mv_size != 8)) {
        fail(w, ST_VERIFY_AMENDS, 1,
             "seq %" PRIu64 ": the target %s of this %s is not in the log", seq,
             show_str(id, sizeof id, ev->data.target), ev_type_name(ev->type));
        return 0;
    }
    if (rc != 0)
        return rc;
    if (grow((void **)&w->amends, &w->capamends, w->namends + 1,
             sizeof *w->amends) != 0)
        return POVTRACK_ENOMEM;
    struct amend_entry *e = &w->amends[w->namends++];
    e->target = st_get_u64be(v.mv_data);
    e->seq = seq;
    e->kind = ev->type == EV_RECORD_VOIDED ? 'v' : 'c';
    return 0;
}

static int check_record(struct walk *w, uint64_t seq, const MDB_val *v)
{
    char why[ST_VERIFY_MSG_MAX - 32];
    struct ev_event ev;
    int rc = decode_record(w, seq, v, &ev, why, sizeof(why));

    if (rc != 0 && rc != POVTRACK_EFORMAT)
        return rc;
    w->rep->check[ST_VERIFY_RECORDS].checked++;
    if (rc != 0) {
        fail(w, ST_VERIFY_RECORDS, 1, "seq %" PRIu64 ": %s", seq, why);
        return 0;
    }
    rc = check_id(w, seq, &ev);
    if (rc == 0 && (ev.type == EV_UNIT_DEFINED || ev.type == EV_UNIT_CHANGED))
        rc = replay_unit(w, seq, &ev);
    if (rc == 0 && ev_type_amends(ev.type))
        rc = expect_amend(w, seq, &ev);
    return rc;
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
    int rc = st_mdb_rc(mdb_cursor_open(w->txn, w->log->events, &cur));

    if (rc != 0)
        return rc;
    for (rc = st_mdb_rc(mdb_cursor_get(cur, &k, &v, MDB_FIRST)); rc == 0;
         rc = st_mdb_rc(mdb_cursor_get(cur, &k, &v, MDB_NEXT))) {
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
    int rc = st_mdb_rc(mdb_cursor_open(w->txn, w->log->ids, &cur));

    if (rc != 0)
        return rc;
    for (rc = st_mdb_rc(mdb_cursor_get(cur, &k, &v, MDB_FIRST)); rc == 0;
         rc = st_mdb_rc(mdb_cursor_get(cur, &k, &v, MDB_NEXT))) {
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
        rc = st_mdb_rc(mdb_get(w->txn, w->log->events, &rk, &rv));
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
        if (rc != 0 && rc != POVTRACK_EFORMAT)
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

/* ---- the units check: "units" and "unitseq" against the replay ---- */

/* s for a message: quoted, control bytes as '?', at most 40 bytes;
 * "none" when absent. */
static const char *show_str(char *buf, size_t len, struct ev_str s)
{
    size_t o = 0;

    if (s.ptr == NULL) {
        snprintf(buf, len, "none");
        return buf;
    }
    buf[o++] = '"';
    for (uint32_t i = 0; i < s.len && i < 40 && o + 2 < len; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        buf[o++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    buf[o++] = '"';
    buf[o] = '\0';
    return buf;
}

static const char *show_time(char *buf, size_t len, int64_t t)
{
    char d[EV_DATE_LEN];

    if (t == EV_TIME_MIN || t == EV_TIME_MAX)
        snprintf(buf, len, "%s", ev_fmt_date(t, d));
    else
        snprintf(buf, len, "%s (%" PRId64 ")", ev_fmt_date(t, d), t);
    return buf;
}

static const char *show_level(enum ev_level l)
{
    const char *name = st_level_name(l);
    return name != NULL ? name : "?";
}

static const char *show_change(enum ev_change c)
{
    const char *name = c == EV_CHANGE_NONE ? "none" : ev_change_name(c);
    return name != NULL ? name : "?";
}

/* Where stored (parsed from "units") first differs from the replayed
 * history of its code, in words: 0 and "" when they are equal. */
static int history_diff(const struct ev_history *stored,
                        const struct ev_history *replayed, char *why,
                        size_t len)
{
    char a[64], b[64];

    why[0] = '\0';
    if (stored->n != replayed->n) {
        snprintf(why, len, "%u spans stored, %u replayed", stored->n,
                 replayed->n);
        return 1;
    }
    for (uint32_t i = 0; i < stored->n; i++) {
        const struct ev_span *s = &stored->span[i], *r = &replayed->span[i];
        const char *field = NULL;

        if (s->from != r->from) {
            field = "from";
            show_time(a, sizeof(a), s->from);
            show_time(b, sizeof(b), r->from);
        } else if (s->to != r->to) {
            field = "to";
            show_time(a, sizeof(a), s->to);
            show_time(b, sizeof(b), r->to);
        } else if (!str_same(s->name, r->name)) {
            field = "name";
            show_str(a, sizeof(a), s->name);
            show_str(b, sizeof(b), r->name);
        } else if (!str_same(s->parent, r->parent)) {
            field = "parent";
            show_str(a, sizeof(a), s->parent);
            show_str(b, sizeof(b), r->parent);
        } else if (s->level != r->level) {
            field = "level";
            snprintf(a, sizeof(a), "%s", show_level(s->level));
            snprintf(b, sizeof(b), "%s", show_level(r->level));
        } else if (s->ended_by != r->ended_by) {
            field = "ended_by";
            snprintf(a, sizeof(a), "%s", show_change(s->ended_by));
            snprintf(b, sizeof(b), "%s", show_change(r->ended_by));
        } else if (!str_same(s->successor, r->successor)) {
            field = "successor";
            show_str(a, sizeof(a), s->successor);
            show_str(b, sizeof(b), r->successor);
        } else if (s->since_seq != r->since_seq) {
            field = "since_seq";
            snprintf(a, sizeof(a), "%" PRIu64, s->since_seq);
            snprintf(b, sizeof(b), "%" PRIu64, r->since_seq);
        } else if (s->closed_seq != r->closed_seq) {
            field = "closed_seq";
            snprintf(a, sizeof(a), "%" PRIu64, s->closed_seq);
            snprintf(b, sizeof(b), "%" PRIu64, r->closed_seq);
        }
        if (field != NULL) {
            snprintf(why, len, "span %u %s: stored %s, replayed %s", i, field,
                     a, b);
            return 1;
        }
    }
    return 0;
}

/* Some stored span has since_seq 0, which no record of today stamps: the
 * log was begun by a writer before histories (st_verify.h). */
static int find_old_writer(struct walk *w, bool *found)
{
    MDB_cursor *cur;
    MDB_val k, v;
    int rc = st_mdb_rc(mdb_cursor_open(w->txn, w->log->units, &cur));

    *found = false;
    if (rc != 0)
        return rc;
    for (rc = st_mdb_rc(mdb_cursor_get(cur, &k, &v, MDB_FIRST));
         rc == 0 && !*found;
         rc = st_mdb_rc(mdb_cursor_get(cur, &k, &v, MDB_NEXT))) {
        struct ev_str code = {k.mv_data, (uint32_t)k.mv_size};
        struct ev_history h;

        /* One that does not parse fails the comparison later. */
        if (st_history_parse(code, v.mv_data, v.mv_size, &h) != 0)
            continue;
        for (uint32_t i = 0; i < h.n; i++)
            if (h.span[i].since_seq == 0)
                *found = true;
    }
    mdb_cursor_close(cur);
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : rc;
}

/* Set w->units.legacy_below before the walk: the first "unitseq" entry,
 * or all of the log when there is none, if an old writer began the log;
 * 0 (no legacy records) otherwise. */
static int find_legacy(struct walk *w)
{
    MDB_cursor *cur;
    MDB_val k, v;
    bool old;
    int rc = find_old_writer(w, &old);

    w->units.legacy_below = 0;
    if (rc != 0 || !old)
        return rc;
    w->units.legacy_below = UINT64_MAX;
    if (w->log->unitseq == 0)
        return 0;
    if ((rc = st_mdb_rc(mdb_cursor_open(w->txn, w->log->unitseq, &cur))) != 0)
        return rc;
    for (rc = st_mdb_rc(mdb_cursor_get(cur, &k, &v, MDB_FIRST)); rc == 0;
         rc = st_mdb_rc(mdb_cursor_get(cur, &k, &v, MDB_NEXT))) {
        if (k.mv_size == 8) {
            w->units.legacy_below = st_get_u64be(k.mv_data);
            break;
        }
    }
    mdb_cursor_close(cur);
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : rc;
}

/* Every "units" entry against the replay, then the codes replayed but not
 * stored. */
static int compare_units(struct walk *w)
{
    struct replay *rp = &w->units;
    const struct rcode *missing = NULL;
    uint64_t nmissing = 0;
    MDB_cursor *cur;
    MDB_val k, v;
    int rc = st_mdb_rc(mdb_cursor_open(w->txn, w->log->units, &cur));

    if (rc != 0)
        return rc;
    for (rc = st_mdb_rc(mdb_cursor_get(cur, &k, &v, MDB_FIRST)); rc == 0;
         rc = st_mdb_rc(mdb_cursor_get(cur, &k, &v, MDB_NEXT))) {
        struct ev_str code = {k.mv_data, (uint32_t)k.mv_size};
        char shown[48], why[ST_VERIFY_MSG_MAX - 64];
        struct ev_history h;
        uint32_t at = rp_find(rp, code);

        w->rep->unit_entries++;
        w->rep->check[ST_VERIFY_UNITS].checked++;
        st_printable(shown, sizeof(shown), k.mv_data, k.mv_size);
        if (at == NONE || rp->code[at].h.n == 0) {
            fail(w, ST_VERIFY_UNITS, 1,
                 "unit %s is in \"units\", but no unit event of the log "
                 "defines it",
                 shown);
            continue;
        }
        rp->code[at].stored = true;
        if (st_history_parse(code, v.mv_data, v.mv_size, &h) != 0) {
            fail(w, ST_VERIFY_UNITS, 1,
                 "unit %s: the stored history does not parse (%zu bytes; "
                 "last changed by seq %" PRIu64 ")",
                 shown, v.mv_size, rp->code[at].changed_at);
            continue;
        }
        if (history_diff(&h, &rp->code[at].h, why, sizeof(why)) != 0)
            fail(w, ST_VERIFY_UNITS, 1,
                 "unit %s %s (last changed by seq %" PRIu64 ")", shown, why,
                 rp->code[at].changed_at);
    }
    mdb_cursor_close(cur);
    if (rc != MDB_NOTFOUND)
        return rc;
    /* Named by the smallest code, as LMDB orders keys. */
    for (size_t i = 0; i < rp->ncode; i++) {
        const struct rcode *c = &rp->code[i];
        if (c->h.n == 0 || c->stored)
            continue;
        nmissing++;
        if (missing == NULL) {
            missing = c;
            continue;
        }
        uint32_t n = c->h.code.len < missing->h.code.len ? c->h.code.len
                                                         : missing->h.code.len;
        int cmp = memcmp(c->h.code.ptr, missing->h.code.ptr, n);
        if (cmp < 0 || (cmp == 0 && c->h.code.len < missing->h.code.len))
            missing = c;
    }
    if (missing != NULL)
        fail(w, ST_VERIFY_UNITS, nmissing,
             "unit %.*s is missing from \"units\" (last changed by seq "
             "%" PRIu64 ")",
             (int)missing->h.code.len, missing->h.code.ptr,
             missing->changed_at);
    return 0;
}

/* A "unitseq" entry seq that names no unit event: what its record is. */
static int stray_unitseq(struct walk *w, uint64_t seq)
{
    char why[ST_VERIFY_MSG_MAX];
    unsigned char kb[8];
    MDB_val k = {sizeof(kb), kb}, v;
    struct ev_event ev;
    const char *type;
    int rc;

    st_put_u64be(kb, seq);
    rc = st_mdb_rc(mdb_get(w->txn, w->log->events, &k, &v));
    if (rc == MDB_NOTFOUND) {
        fail(w, ST_VERIFY_UNITS, 1,
             "\"unitseq\" names seq %" PRIu64 ", which is not in the log", seq);
        return 0;
    }
    if (rc != 0)
        return rc;
    rc = decode_record(w, seq, &v, &ev, why, sizeof(why));
    if (rc != 0)
        return rc == POVTRACK_EFORMAT ? 0 : rc; /* that record fails already */
    type = ev_type_name(ev.type);
    fail(w, ST_VERIFY_UNITS, 1,
         "\"unitseq\" names seq %" PRIu64 ", a %s of %.*s, which changes no "
         "unit",
         seq, type != NULL ? type : "?", (int)ev.unit.len, ev.unit.ptr);
    return 0;
}

/* A unit event without its "unitseq" entry (one of an old writer needs
 * none). */
static void missing_unitseq(struct walk *w, const struct useq *u)
{
    if (u->seq < w->units.legacy_below)
        return;
    fail(w, ST_VERIFY_UNITS, 1,
         "seq %" PRIu64 " (a unit event of %.*s) has no \"unitseq\" entry",
         u->seq, (int)u->unit.len, u->unit.ptr);
}

/* "unitseq" against the sequences of the unit events, both in order. */
static int compare_unitseq(struct walk *w)
{
    const struct replay *rp = &w->units;
    size_t j = 0;
    MDB_cursor *cur;
    MDB_val k, v;
    int rc;

    if (w->log->unitseq == 0) {
        w->rep->unitseq_absent = 1;
        return 0;
    }
    if ((rc = st_mdb_rc(mdb_cursor_open(w->txn, w->log->unitseq, &cur))) != 0)
        return rc;
    for (rc = st_mdb_rc(mdb_cursor_get(cur, &k, &v, MDB_FIRST)); rc == 0;
         rc = st_mdb_rc(mdb_cursor_get(cur, &k, &v, MDB_NEXT))) {
        uint64_t seq;

        w->rep->unitseq_entries++;
        if (k.mv_size != 8) {
            char shown[40];

            st_printable(shown, sizeof(shown), k.mv_data, k.mv_size);
            fail(w, ST_VERIFY_UNITS, 1,
                 "a \"unitseq\" key of %zu bytes (\"%s\") is not a sequence",
                 k.mv_size, shown);
            continue;
        }
        seq = st_get_u64be(k.mv_data);
        for (; j < rp->nev && rp->ev[j].seq < seq; j++)
            missing_unitseq(w, &rp->ev[j]);
        if (j < rp->nev && rp->ev[j].seq == seq) {
            if (v.mv_size != 0)
                fail(w, ST_VERIFY_UNITS, 1,
                     "the \"unitseq\" entry of seq %" PRIu64 " (%.*s) holds "
                     "%zu bytes, not none",
                     seq, (int)rp->ev[j].unit.len, rp->ev[j].unit.ptr,
                     v.mv_size);
            j++;
            continue;
        }
        /* A key that is not a sequence sorts anywhere: the others still
         * come in order. */
        if ((rc = stray_unitseq(w, seq)) != 0)
            break;
    }
    mdb_cursor_close(cur);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return rc;
    for (; j < rp->nev; j++)
        missing_unitseq(w, &rp->ev[j]);
    return 0;
}

static int amend_cmp(const void *a, const void *b)
{
    const struct amend_entry *x = a, *y = b;
    if (x->target != y->target)
        return x->target < y->target ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* "amends" against the voids and corrections walked, both in key order. */
static int compare_amends(struct walk *w)
{
    struct st_verify_report *rep = w->rep;
    MDB_cursor *cur;
    MDB_val k, v;
    size_t j = 0;
    int rc;
    if (w->log->amends == 0) {
        rep->amends_absent = 1;
        return 0;
    }
    if (w->namends > 1)
        qsort(w->amends, w->namends, sizeof *w->amends, amend_cmp);
    if ((rc = st_mdb_rc(mdb_cursor_open(w->txn, w->log->amends, &cur))) != 0)
        return rc;
    for (rc = st_mdb_rc(mdb_cursor_get(cur, &k, &v, MDB_FIRST)); rc == 0;
         rc = st_mdb_rc(mdb_cursor_get(cur, &k, &v, MDB_NEXT))) {
        rep->amend_entries++;
        rep->check[ST_VERIFY_AMENDS].checked++;
        if (k.mv_size != 16 || v.mv_size != 1) {
            fail(w, ST_VERIFY_AMENDS, 1,
                 "an \"amends\" entry of %zu bytes (value %zu) is not a "
                 "(target, seq) pair",
                 k.mv_size, v.mv_size);
            continue;
        }
        struct amend_entry got = {st_get_u64be(k.mv_data),
                                  st_get_u64be((unsigned char *)k.mv_data + 8),
                                  *(const unsigned char *)v.mv_data};
        for (; j < w->namends && amend_cmp(&w->amends[j], &got) < 0; j++)
            fail(w, ST_VERIFY_AMENDS, 1,
                 "seq %" PRIu64 " (an amendment of seq %" PRIu64
                 ") has no \"amends\" entry",
                 w->amends[j].seq, w->amends[j].target);
        if (j < w->namends && amend_cmp(&w->amends[j], &got) == 0) {
            if (w->amends[j].kind != got.kind)
                fail(w, ST_VERIFY_AMENDS, 1,
                     "the \"amends\" entry of seq %" PRIu64
                     " says '%c', its record '%c'",
                     got.seq, got.kind, w->amends[j].kind);
            j++;
            continue;
        }
        fail(w, ST_VERIFY_AMENDS, 1,
             "\"amends\" names seq %" PRIu64 " as an amendment of seq %" PRIu64
             ", which the log does not say",
             got.seq, got.target);
    }
    mdb_cursor_close(cur);
    for (; j < w->namends; j++)
        fail(w, ST_VERIFY_AMENDS, 1,
             "seq %" PRIu64 " (an amendment of seq %" PRIu64
             ") has no \"amends\" entry",
             w->amends[j].seq, w->amends[j].target);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int st_verify(struct st_log *log, struct st_verify_report *out,
              st_verify_progress_fn progress, void *arg)
{
    struct walk w;
    MDB_stat est, ist;
    int rc;

    if (log == NULL || out == NULL)
        return POVTRACK_EINVAL;
    memset(out, 0, sizeof(*out));
    if (log->broken)
        return log->broken;
    memset(&w, 0, sizeof(w));
    w.log = log;
    w.rep = out;
    w.units.upd = malloc(sizeof(*w.units.upd));
    if (w.units.upd == NULL)
        return POVTRACK_ENOMEM;
    if (!msgpack_zone_init(&w.zone, MSGPACK_ZONE_CHUNK_SIZE)) {
        free(w.units.upd);
        return POVTRACK_ENOMEM;
    }
    msgpack_sbuffer_init(&w.enc);
    msgpack_packer_init(&w.pk, &w.enc, msgpack_sbuffer_write);

    rc = st_txn_begin_read(log, &w.txn);
    if (rc == 0) {
        /* Counted like a reader's snapshot: a writer on this handle must
         * not remap under the pointers this walk holds. */
        log->live_snapshots++;
        rc = st_mdb_rc(mdb_stat(w.txn, log->events, &est));
        if (rc == 0)
            rc = st_mdb_rc(mdb_stat(w.txn, log->ids, &ist));
        if (rc == 0)
            rc = find_legacy(&w);
        if (rc == 0)
            rc = walk_events(&w, est.ms_entries, progress, arg);
        if (rc == 0) {
            out->index_entries = ist.ms_entries;
            if (ist.ms_entries != w.ids_ok)
                rc = scan_index(&w);
        }
        if (rc == 0)
            rc = compare_units(&w);
        if (rc == 0)
            rc = compare_unitseq(&w);
        if (rc == 0)
            rc = compare_amends(&w);
        mdb_txn_abort(w.txn);
        log->live_snapshots--;
    }
    msgpack_sbuffer_destroy(&w.enc);
    msgpack_zone_destroy(&w.zone);
    rp_free(&w.units);
    free(w.amends);
    return rc;
}
