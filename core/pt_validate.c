/*
 * pt_validate.c - the query endpoint's "validate" op: what ingest would
 * answer to a batch of events, with nothing stored (the web gateway's
 * ?dry_run=true).
 *
 * Each event goes through ingest's checks in ingest's order, against the
 * log as the plugin host's read-only reader sees it: decoding and
 * validation (ev_decode), the sender's right to the type, the id (stored
 * with the same bytes: "duplicate" with its sequence; with others: the
 * rejection storage gives), the reference checks against the unit registry
 * and the sender's rights over the units.  What an earlier event of the
 * same request would change is seen by the later ones, as in one commit:
 * ids, and the unit histories of unit.defined and unit.changed, kept in an
 * overlay over the log's registry.  An "ok" ack carries seq 0: nothing was
 * stored.  Limits are ingest's, on the events array as if it had been an
 * ingest request.  The rate limit (requests_per_second) is not taken: a
 * dry run stores nothing.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <povtrack/protocol.h>

#include "ev_event.h"
#include "ev_unit.h"
#include "pt_host_internal.h"
#include "pt_registry.h"

/* The registry the rules read during one validate: the log's (a read
 * snapshot), with the histories that earlier events of the request would
 * leave on top of it. */
struct overlay {
    struct ev_registry reg;
    struct st_registry base;
    struct st_reader *reader;
    struct ev_history *hist; /* later entries replace earlier ones */
    size_t n, cap;
};

static bool code_eq(struct ev_str a, struct ev_str b)
{
    return a.len == b.len && memcmp(a.ptr, b.ptr, a.len) == 0;
}

/* The overlay's history of code, or NULL. */
static const struct ev_history *overlay_find(const struct overlay *o,
                                             struct ev_str code)
{
    for (size_t i = o->n; i-- > 0;)
        if (code_eq(o->hist[i].code, code))
            return &o->hist[i];
    return NULL;
}

static int overlay_history(void *arg, struct ev_str code,
                           struct ev_history *out)
{
    struct overlay *o = arg;
    const struct ev_history *h = overlay_find(o, code);

    if (h != NULL) {
        *out = *h;
        return POVTRACK_OK;
    }
    return o->base.reg.history(o->base.reg.arg, code, out);
}

/* A span under parent that ends after t. */
static bool has_child_span(const struct ev_history *h, struct ev_str parent,
                           int64_t t)
{
    for (uint32_t i = 0; i < h->n; i++)
        if (h->span[i].to > t && h->span[i].parent.ptr != NULL &&
            code_eq(h->span[i].parent, parent))
            return true;
    return false;
}

struct child_walk {
    const struct overlay *o;
    struct ev_str parent;
    int64_t t;
    struct ev_str *child;
};

/* Over the log's histories, those the overlay does not replace. */
static int child_visit(void *arg, const struct ev_history *h)
{
    struct child_walk *w = arg;

    if (overlay_find(w->o, h->code) != NULL ||
        !has_child_span(h, w->parent, w->t))
        return 0;
    *w->child = h->code;
    return 1;
}

static int overlay_child_after(void *arg, struct ev_str parent, int64_t t,
                               struct ev_str *child)
{
    struct overlay *o = arg;
    struct child_walk w = {o, parent, t, child};

    for (size_t i = 0; i < o->n; i++)
        if (overlay_find(o, o->hist[i].code) == &o->hist[i] &&
            has_child_span(&o->hist[i], parent, t)) {
            *child = o->hist[i].code;
            return POVTRACK_OK;
        }
    int rc = st_reader_histories(o->reader, child_visit, &w);
    return rc == 1 ? POVTRACK_OK : rc == 0 ? POVTRACK_ENOTFOUND : rc;
}

/* Record what a valid unit event leaves behind. */
static int overlay_apply(struct overlay *o, const struct ev_event *ev,
                         struct ev_unit_update *u)
{
    struct ev_error err = {.msg = {0}};
    int rc = ev_unit_update(ev, &o->reg, u, &err);

    if (rc != POVTRACK_OK)
        return rc == POVTRACK_EINVALID ? POVTRACK_OK : rc; /* checked before */
    if (o->n + u->n > o->cap) {
        size_t cap = (o->n + u->n) * 2;
        struct ev_history *h = realloc(o->hist, cap * sizeof *h);
        if (h == NULL)
            return POVTRACK_ENOMEM;
        o->hist = h;
        o->cap = cap;
    }
    memcpy(o->hist + o->n, u->hist, u->n * sizeof *u->hist);
    o->n += u->n;
    return POVTRACK_OK;
}

/* An event the request has let through so far, for ids seen twice. */
struct passed {
    const char *id;
    uint32_t id_len;
    size_t off, len; /* its canonical bytes in the encode buffer */
    uint32_t index;
};

/* The answer for one event: an ack packed into pk, or a failure of the
 * host (storage) returned. */
static int validate_one(const struct pt_publisher *sender, struct overlay *o,
                        const msgpack_object *obj, uint32_t index,
                        int64_t max_at, msgpack_sbuffer *enc,
                        struct passed *passed, size_t *npassed,
                        struct ev_unit_update *upd, msgpack_packer *pk)
{
    uint32_t id_len;
    const char *id = povtrack_proto_ack_id(obj, &id_len);
    struct ev_event ev;
    struct ev_error err = {.msg = {0}};
    char msg[EV_ERROR_MAX + 64] = "";
    int rc;

#define REJECT()                                                               \
    povtrack_proto_pack_ack(pk, id, id_len, index, POVTRACK_ACK_REJECTED, 0,   \
                            msg)
    if (ev_decode(obj, max_at, &ev, &err) != 0) {
        snprintf(msg, sizeof msg, "%s", err.msg);
        return REJECT();
    }
    if (pt_publisher_check_type(sender, ev.type, msg, sizeof msg) != 0)
        return REJECT();
    size_t off = enc->size;
    msgpack_packer ep;
    msgpack_packer_init(&ep, enc, msgpack_sbuffer_write);
    if (ev_encode(&ev, &ep) != 0) {
        enc->size = off;
        snprintf(msg, sizeof msg, "event: cannot encode");
        return REJECT();
    }
    size_t len = enc->size - off;
    /* An id of the request already let through, then one in the log. */
    for (size_t i = 0; i < *npassed; i++) {
        const struct passed *p = &passed[i];
        if (p->id_len != ev.id.len || memcmp(p->id, ev.id.ptr, p->id_len) != 0)
            continue;
        enc->size = off;
        if (p->len == len &&
            memcmp(enc->data + p->off, enc->data + off, len) == 0)
            return povtrack_proto_pack_ack(pk, id, id_len, index,
                                           POVTRACK_ACK_DUPLICATE, 0, NULL);
        snprintf(msg, sizeof msg,
                 "id: reused with different content (first at index %u of "
                 "this request)",
                 p->index);
        return REJECT();
    }
    uint64_t seq;
    rc = st_reader_find_id(o->reader, ev.id, &seq);
    if (rc == 0) {
        struct st_record rec;
        enc->size = off;
        rc = st_reader_get(o->reader, seq, &rec);
        if (rc != 0)
            return rc;
        if (rec.event_len == len &&
            memcmp(rec.event, enc->data + off, len) == 0) {
            /* enc was cut back, but its bytes are still there */
            return povtrack_proto_pack_ack(pk, id, id_len, index,
                                           POVTRACK_ACK_DUPLICATE, seq, NULL);
        }
        snprintf(msg, sizeof msg,
                 "id: reused with different content (first stored at seq "
                 "%llu)",
                 (unsigned long long)seq);
        return REJECT();
    }
    if (rc != POVTRACK_ENOTFOUND)
        return rc;
    rc = ev_check_refs(&ev, &o->reg, &err);
    if (rc == POVTRACK_EINVALID) {
        enc->size = off;
        snprintf(msg, sizeof msg, "%s", err.msg);
        return REJECT();
    }
    if (rc == POVTRACK_OK)
        rc = pt_publisher_check_unit(sender, &ev, &o->reg, msg, sizeof msg);
    if (rc == POVTRACK_EINVALID) {
        enc->size = off;
        return REJECT();
    }
    if (rc == POVTRACK_OK &&
        (ev.type == EV_UNIT_DEFINED || ev.type == EV_UNIT_CHANGED))
        rc = overlay_apply(o, &ev, upd);
    if (rc != POVTRACK_OK)
        return rc;
#undef REJECT
    passed[(*npassed)++] =
        (struct passed){ev.id.ptr, ev.id.len, off, len, index};
    return povtrack_proto_pack_ack(pk, id, id_len, index, POVTRACK_ACK_OK, 0,
                                   NULL);
}

/* The events as an ingest request would carry them, within ingest's
 * limits: 0, or POVTRACK_EINVALID after packing the refusal ingest gives. */
static int check_limits(struct pt_host *h, const msgpack_object *evs,
                        msgpack_packer *pk)
{
    const struct pt_limits *lim = &h->cfg.limits;
    struct povtrack_proto_limits pl = {
        lim->depth_max, lim->string_max, lim->container_max,
        (uint32_t)lim->events_max, "limits.events_max"};
    char why[POVTRACK_PROTO_ERROR_MAX];
    msgpack_sbuffer sb;
    msgpack_packer sp;
    int rc = 0;

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&sp, &sb, msgpack_sbuffer_write);
    if (msgpack_pack_object(&sp, *evs) != 0) {
        pt_pack_error(pk, "request: out of memory");
        rc = POVTRACK_EINVALID;
    } else if (sb.size > lim->frame_max) {
        pt_pack_error(pk,
                      "request: frame of %zu bytes exceeds limits.frame_max "
                      "(%zu)",
                      sb.size, lim->frame_max);
        rc = POVTRACK_EINVALID;
    } else if (povtrack_proto_precheck(sb.data, sb.size, &pl, why,
                                       sizeof why) != 0) {
        pt_pack_error(pk, "request: %s", why);
        rc = POVTRACK_EINVALID;
    } else if (evs->via.array.size == 0) {
        pt_pack_error(pk,
                      "request: must be an array of 1 to %zu events "
                      "(limits.events_max)",
                      lim->events_max);
        rc = POVTRACK_EINVALID;
    }
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

int pt_request_validate(struct pt_host *h, const msgpack_object *req,
                        msgpack_packer *pk)
{
    const msgpack_object *evs = pt_map_get(req, "events");
    if (evs == NULL || evs->type != MSGPACK_OBJECT_ARRAY) {
        pt_pack_error(pk, "events: required, an array of event maps (what "
                          "an ingest request holds)");
        return 0;
    }
    if (check_limits(h, evs, pk) != 0)
        return 0;
    struct pt_publisher everyone;
    const struct pt_publisher *sender = h->sender;
    if (sender == NULL) {
        /* In-process (tests, tools): the caller is the operator. */
        pt_publisher_everyone(&everyone, "in-process");
        sender = &everyone;
    }
    uint32_t n = evs->via.array.size;
    struct overlay o = {.reader = h->reader};
    struct passed *passed = calloc(n, sizeof *passed);
    struct ev_unit_update *upd = malloc(sizeof *upd);
    msgpack_sbuffer enc;
    msgpack_sbuffer_init(&enc);
    int rc = passed == NULL || upd == NULL ? POVTRACK_ENOMEM
                                           : st_reader_renew(h->reader);
    if (rc != 0) {
        pt_pack_error(pk, "validate: %s", st_strerror(rc));
        free(passed);
        free(upd);
        return 0;
    }
    st_reader_registry(h->reader, UINT64_MAX, &o.base);
    o.reg.arg = &o;
    o.reg.history = overlay_history;
    o.reg.child_after = overlay_child_after;
    /* The answer is packed aside: a failure of the log half-way through
     * must become an error reply, not half an answer. */
    msgpack_sbuffer acks;
    msgpack_sbuffer_init(&acks);
    msgpack_packer ap;
    msgpack_packer_init(&ap, &acks, msgpack_sbuffer_write);
    int64_t max_at = (int64_t)time(NULL) + EV_AT_SLACK;
    size_t npassed = 0;
    for (uint32_t i = 0; i < n && rc == 0; i++)
        rc = validate_one(sender, &o, &evs->via.array.ptr[i], i, max_at, &enc,
                          passed, &npassed, upd, &ap);
    if (rc != 0) {
        pt_pack_error(pk, "validate: log: %s", st_strerror(rc));
    } else {
        povtrack_proto_pack_ok(pk, 1);
        pt_pack_cstr(pk, "acks");
        msgpack_pack_array(pk, n);
        pk->callback(pk->data, acks.data, acks.size);
    }
    msgpack_sbuffer_destroy(&acks);
    msgpack_sbuffer_destroy(&enc);
    free(o.hist);
    free(passed);
    free(upd);
    return 0;
}
