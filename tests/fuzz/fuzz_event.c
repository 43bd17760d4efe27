/*
 * fuzz_event.c - libFuzzer target: one ingest request frame.
 *
 * Runs what the ingest process runs on a request (core/pt_ingest.c): the
 * non-allocating pre-check with the daemon's default limits, the unpack,
 * then for every element ev_decode at a fixed "now", and for the valid ones
 * the reference checks against a small in-memory unit registry and the
 * canonical encoding.
 *
 * Beyond crashes it checks two invariants.  The canonical form is a fixed
 * point: the canonical bytes of a valid event must pass the pre-check,
 * decode as a valid event with the same reference-check outcome, and
 * encode to the very same bytes.  Idempotency in the log compares those
 * bytes, so a drift here would turn a resent event into a rejection.  And
 * the reply is readable: the acks are packed with the protocol module's
 * povtrack_proto_pack_ack, as the daemon packs them, one per event (or one
 * for a request refused whole), and the reply must pass
 * povtrack_proto_check_strict, what a strict msgpack decoder accepts,
 * with a nil id exactly where the ack carries the event's index.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include <povtrack/protocol.h>

#include "ev_event.h"
#include "ev_unit.h"
#include "pt_config.h"

/* 2026-01-01T00:00:00Z: a fixed "now", so that a crashing input replays
 * the same whatever the day. */
#define FUZZ_NOW INT64_C(1767225600)

/* Units a request may define on top of the fixed ones. */
#define EXTRA_UNITS 32

/* The daemon's default request limits, read once from pt_config_defaults
 * so that the target follows the daemon when they change.  The one static
 * fixture of this harness: set in LLVMFuzzerInitialize, read-only after. */
static struct {
    struct povtrack_proto_limits limits;
    size_t frame_max;
    size_t events_max;
} fixture;

/* A unit registry of a province, two districts and a commune, plus the
 * units the request itself defines or changes (their strings point into
 * the unpacked request, alive for the whole input). */
struct registry {
    struct ev_history units[4 + EXTRA_UNITS];
    size_t n;
    bool full; /* a unit was dropped: the invariants are no longer checked */
};

static struct ev_str cstr(const char *s)
{
    struct ev_str r = {s, s != NULL ? (uint32_t)strlen(s) : 0};
    return r;
}

static void registry_init(struct registry *r)
{
    static const struct {
        const char *code, *name, *parent;
        enum ev_level level;
    } base[] = {
        {"60", "Bình Thuận", NULL, EV_LEVEL_PROVINCE},
        {"593", "Phan Thiết", "60", EV_LEVEL_DISTRICT},
        {"594", "La Gi", "60", EV_LEVEL_DISTRICT},
        {"22870", "Mũi Né", "593", EV_LEVEL_COMMUNE},
    };
    memset(r, 0, sizeof *r);
    for (size_t i = 0; i < sizeof base / sizeof base[0]; i++) {
        struct ev_history *h = &r->units[r->n++];
        h->code = cstr(base[i].code);
        h->n = 1;
        h->span[0].from = EV_TIME_MIN;
        h->span[0].to = EV_TIME_MAX;
        h->span[0].name = cstr(base[i].name);
        h->span[0].parent = cstr(base[i].parent);
        h->span[0].level = base[i].level;
    }
}

static struct ev_history *registry_find(struct registry *r, struct ev_str code)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->units[i].code.len == code.len &&
            memcmp(r->units[i].code.ptr, code.ptr, code.len) == 0)
            return &r->units[i];
    return NULL;
}

static int registry_history(void *arg, struct ev_str code,
                            struct ev_history *out)
{
    const struct ev_history *h = registry_find(arg, code);
    if (h == NULL)
        return POVTRACK_ENOTFOUND;
    *out = *h;
    return POVTRACK_OK;
}

static int registry_child_after(void *arg, struct ev_str parent, int64_t t,
                                struct ev_str *child)
{
    const struct registry *r = arg;
    for (size_t i = 0; i < r->n; i++)
        for (uint32_t j = 0; j < r->units[i].n; j++) {
            const struct ev_span *s = &r->units[i].span[j];
            if (s->to > t && s->parent.ptr != NULL &&
                s->parent.len == parent.len &&
                memcmp(s->parent.ptr, parent.ptr, parent.len) == 0) {
                *child = r->units[i].code;
                return POVTRACK_OK;
            }
        }
    return POVTRACK_ENOTFOUND;
}

static void die(const char *what, const struct ev_error *err)
{
    fprintf(stderr, "fuzz_event: invariant broken: %s%s%s\n", what,
            err != NULL ? ": " : "", err != NULL ? err->msg : "");
    abort();
}

/* The promise of the rules (ev_unit.h): every code's spans are sorted and
 * apart, and while a span is in force its parent is, at a higher level. */
static void registry_check(struct registry *r)
{
    for (size_t i = 0; i < r->n; i++) {
        const struct ev_history *h = &r->units[i];
        if (h->n == 0 || h->n > EV_SPANS_MAX)
            die("a history with no span or too many", NULL);
        for (uint32_t j = 0; j < h->n; j++) {
            const struct ev_span *s = &h->span[j];
            if (s->from >= s->to || (j > 0 && s->from < h->span[j - 1].to))
                die("spans overlap or are empty", NULL);
            if (s->parent.ptr == NULL)
                continue;
            const struct ev_history *p = registry_find(r, s->parent);
            if (p == NULL || p->span[0].level >= s->level)
                die("a parent missing or not above its child", NULL);
            int k = ev_history_find(p, s->from);
            if (k < 0)
                die("a parent not in force when its child starts", NULL);
            while (p->span[k].to < s->to) {
                if ((uint32_t)k + 1 >= p->n ||
                    p->span[k + 1].from != p->span[k].to)
                    die("a parent ends before its child", NULL);
                k++;
            }
        }
    }
}

/* What the log does after an accepted unit.defined or unit.changed. */
static void registry_apply(struct registry *r, const struct ev_event *ev)
{
    struct ev_registry reg = {r, registry_history, registry_child_after};
    struct ev_unit_update *u = malloc(sizeof *u);
    struct ev_error err = {0};
    if (u == NULL)
        abort();
    if (ev_unit_update(ev, &reg, u, &err) != POVTRACK_OK)
        die("an accepted unit event does not apply", &err);
    for (uint32_t i = 0; i < u->n; i++) {
        struct ev_history *h = registry_find(r, u->hist[i].code);
        if (h == NULL && r->n < sizeof r->units / sizeof r->units[0])
            h = &r->units[r->n++];
        if (h != NULL)
            *h = u->hist[i];
        else
            r->full = true;
    }
    free(u);
    if (!r->full)
        registry_check(r);
}

/* The canonical bytes enc of ev (whose reference check gave refs_rc) must
 * decode to an event with the same outcome and the same bytes. */
static void check_fixed_point(const msgpack_sbuffer *enc, int64_t max_at,
                              struct registry *reg, int refs_rc)
{
    struct ev_error err = {0};
    if (povtrack_proto_precheck(enc->data, enc->size, &fixture.limits, err.msg,
                                sizeof err.msg) != 0)
        die("canonical encoding fails the pre-check", &err);

    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t off = 0;
    if (msgpack_unpack_next(&up, enc->data, enc->size, &off) !=
            MSGPACK_UNPACK_SUCCESS ||
        off != enc->size)
        die("canonical encoding is not one msgpack object", NULL);

    struct ev_event again;
    if (ev_decode(&up.data, max_at, &again, &err) != POVTRACK_OK)
        die("canonical encoding does not decode", &err);
    struct ev_error err2 = {0};
    struct ev_registry er = {reg, registry_history, registry_child_after};
    if (ev_check_refs(&again, &er, &err2) != refs_rc)
        die("reference check differs on the canonical encoding", &err2);

    msgpack_sbuffer enc2;
    msgpack_sbuffer_init(&enc2);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &enc2, msgpack_sbuffer_write);
    if (ev_encode(&again, &pk) != POVTRACK_OK)
        die("canonical encoding does not encode again", NULL);
    if (enc2.size != enc->size || memcmp(enc2.data, enc->data, enc->size) != 0)
        die("canonical encoding is not a fixed point", NULL);
    msgpack_sbuffer_destroy(&enc2);
    msgpack_unpacked_destroy(&up);
}

/* Decode and check one event as ingest does; POVTRACK_OK, or POVTRACK_EINVALID
 * with err saying why, for its ack. */
static int one_event(const msgpack_object *o, int64_t max_at,
                     struct registry *reg, struct ev_error *err)
{
    struct ev_event ev;
    if (ev_decode(o, max_at, &ev, err) != POVTRACK_OK) {
        /* A rejection always says why. */
        if (err->msg[0] == '\0')
            die("rejection without a message", NULL);
        return POVTRACK_EINVALID;
    }
    struct ev_registry er = {reg, registry_history, registry_child_after};
    int refs_rc = ev_check_refs(&ev, &er, err);
    if (refs_rc != POVTRACK_OK && refs_rc != POVTRACK_EINVALID)
        die("reference check failed with a lookup that cannot fail", err);

    msgpack_sbuffer enc;
    msgpack_sbuffer_init(&enc);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &enc, msgpack_sbuffer_write);
    if (ev_encode(&ev, &pk) != POVTRACK_OK)
        die("a decoded event does not encode", NULL);
    check_fixed_point(&enc, max_at, reg, refs_rc);
    msgpack_sbuffer_destroy(&enc);

    if (refs_rc == POVTRACK_OK &&
        (ev.type == EV_UNIT_DEFINED || ev.type == EV_UNIT_CHANGED))
        registry_apply(reg, &ev);
    return refs_rc;
}

/* The reply must be what a strict decoder reads: one msgpack object, every
 * str valid UTF-8; and an array of n acks (1 for a request refused whole),
 * each with a nil id exactly when it carries an index, its own. */
static void check_reply(const msgpack_sbuffer *reply, uint32_t n, bool refused)
{
    struct ev_error err = {0};
    if (povtrack_proto_check_strict(reply->data, reply->size, err.msg,
                                    sizeof err.msg) != 0)
        die("a strict msgpack decoder refuses the reply", &err);
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t off = 0;
    if (msgpack_unpack_next(&up, reply->data, reply->size, &off) !=
            MSGPACK_UNPACK_SUCCESS ||
        up.data.type != MSGPACK_OBJECT_ARRAY || up.data.via.array.size != n)
        die("the reply is not an array of one ack per event", NULL);
    for (uint32_t i = 0; i < n; i++) {
        const msgpack_object *a = &up.data.via.array.ptr[i];
        const msgpack_object *id = NULL, *index = NULL;
        for (uint32_t k = 0;
             a->type == MSGPACK_OBJECT_MAP && k < a->via.map.size; k++) {
            const msgpack_object *key = &a->via.map.ptr[k].key;
            if (key->type != MSGPACK_OBJECT_STR)
                die("an ack has a key that is not a string", NULL);
            if (key->via.str.size == 2 &&
                memcmp(key->via.str.ptr, "id", 2) == 0)
                id = &a->via.map.ptr[k].val;
            else if (key->via.str.size == 5 &&
                     memcmp(key->via.str.ptr, "index", 5) == 0)
                index = &a->via.map.ptr[k].val;
        }
        bool nil = id != NULL && id->type == MSGPACK_OBJECT_NIL;
        /* A request refused whole: nil, no index; an event's ack: an
         * index exactly when the id is nil. */
        if (id == NULL ||
            (refused ? !nil || index != NULL : nil != (index != NULL)))
            die("an ack's id and index disagree", NULL);
        if (index != NULL && (index->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
                              index->via.u64 != i))
            die("an ack's index is not its event's position", NULL);
    }
    msgpack_unpacked_destroy(&up);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    /* struct pt_config is large: keep it off the stack. */
    struct pt_config *cfg = calloc(1, sizeof *cfg);
    if (cfg == NULL || pt_config_defaults(cfg) != 0) {
        fprintf(stderr, "fuzz_event: cannot read the default limits\n");
        exit(1);
    }
    /* The ingest process's limits, as built in pt_ingest.c. */
    fixture.limits.depth_max = cfg->limits.depth_max;
    fixture.limits.string_max = cfg->limits.string_max;
    fixture.limits.container_max = cfg->limits.container_max;
    fixture.limits.top_max = (uint32_t)cfg->limits.events_max;
    fixture.frame_max = cfg->limits.frame_max;
    fixture.events_max = cfg->limits.events_max;
    free(cfg);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const int64_t max_at = FUZZ_NOW + EV_AT_SLACK;
    struct ev_error err = {0};
    char why[EV_ERROR_MAX + 16];
    msgpack_sbuffer reply;
    msgpack_packer pk;
    if (size > fixture.frame_max)
        return 0; /* refused before anything is parsed */
    msgpack_sbuffer_init(&reply);
    msgpack_packer_init(&pk, &reply, msgpack_sbuffer_write);
    if (povtrack_proto_precheck(data, size, &fixture.limits, err.msg,
                                sizeof err.msg) != 0) {
        /* The refusal quotes the pre-check's message. */
        snprintf(why, sizeof why, "request: %s", err.msg);
        povtrack_proto_pack_refused(&pk, why);
        check_reply(&reply, 1, true);
        msgpack_sbuffer_destroy(&reply);
        return 0;
    }

    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t off = 0;
    if (msgpack_unpack_next(&up, (const char *)data, size, &off) !=
        MSGPACK_UNPACK_SUCCESS) {
        /* The pre-check promised exactly one well-formed object. */
        die("pre-checked input does not unpack", NULL);
    }
    if (off != size)
        die("pre-checked input has trailing bytes", NULL);
    const msgpack_object *arr = &up.data;
    if (arr->type == MSGPACK_OBJECT_ARRAY && arr->via.array.size > 0 &&
        arr->via.array.size <= fixture.events_max) {
        struct registry reg;
        registry_init(&reg);
        msgpack_pack_array(&pk, arr->via.array.size);
        for (uint32_t i = 0; i < arr->via.array.size; i++) {
            const msgpack_object *o = &arr->via.array.ptr[i];
            uint32_t idlen;
            const char *id = povtrack_proto_ack_id(o, &idlen);
            memset(&err, 0, sizeof err);
            if (one_event(o, max_at, &reg, &err) == POVTRACK_OK)
                povtrack_proto_pack_ack(&pk, id, idlen, i, POVTRACK_ACK_OK,
                                        i + 1, NULL);
            else
                povtrack_proto_pack_ack(&pk, id, idlen, i,
                                        POVTRACK_ACK_REJECTED, 0, err.msg);
        }
        check_reply(&reply, arr->via.array.size, false);
    } else {
        povtrack_proto_pack_refused(&pk, "request: must be an array of events");
        check_reply(&reply, 1, true);
    }
    msgpack_sbuffer_destroy(&reply);
    msgpack_unpacked_destroy(&up);
    return 0;
}
