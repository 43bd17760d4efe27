/*
 * pt_ingest.c - validation, group commit and acknowledgement of events.
 */
#include "pt_ingest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <lmdb.h>
#include <msgpack.h>
#include <stdatomic.h>
#include <zmq.h>

#include <povtrack/protocol.h>

#include "ev_event.h"
#include "pt_auth.h"
#include "pt_clock.h"
#include "pt_mirror.h"
#include "pt_state.h"
#include "pt_stats.h"
#include "pt_strict.h"
#include "pt_wire.h"
#include "pt_worker.h"
#include "st_log.h"

#define GROUP_REQUESTS_MAX 1024
#define STEP_GROUPS_MAX 16 /* groups one pt_ingest_step commits at most */
/* Where the ingest ROUTER's socket monitor reports connections. */
#define MONITOR_EP "inproc://povtrack-ingest-monitor"

/* One request of the group being committed. */
struct ingest_req {
    struct pt_request req;
    msgpack_unpacked up;           /* events point into req.body through this */
    size_t first, count;           /* its slots */
    char error[EV_ERROR_MAX + 32]; /* whole request rejected when set */
    enum pt_reject_class cls;      /* ... and why, for the counters */
};

/* Requests per second of one publisher: a token bucket holding up to one
 * second's worth. */
struct rate {
    char name[PT_PUBLISHER_NAME_MAX + 1];
    double tokens;
    int64_t last_us;
};

/* One event of the group.  item >= 0 indexes the storage batch; -1 means it
 * was rejected before storage, for the reason in error. */
struct slot {
    struct ev_str id;
    long item;
    char error[EV_ERROR_MAX];
    enum pt_reject_class cls; /* why, when rejected before storage */
};

/*
 * A group: the requests drained at once, whose events share one commit.
 * Two take turns (pipelining): while the worker thread commits and syncs
 * one, the main thread drains and validates the next; its acks go out
 * only once its own commit has returned.
 */
struct group {
    struct pt_ingest *ig;
    struct ingest_req *reqs;
    struct slot *slots;
    struct st_item *items;
    struct ev_event *evs;
    /* Sender of items[i], looked up by key in take_request and used by
     * check_refs in the same pt_ingest_step: the registry is replaced only
     * by pt_ingest_reload, between steps (no commit is in flight then), so
     * these never dangle and every event is checked against the registry
     * in force at its commit. */
    const struct pt_publisher **pubs;
    size_t *enc_off; /* offset of items[i]'s canonical bytes in enc */
    /* Why check_refs last rejected items[i]; PT_REJECT_CONFLICT for an
     * item storage rejected without asking (an id reused). */
    enum pt_reject_class *item_cls;
    msgpack_sbuffer enc;
    size_t nreqs, nitems;
    int64_t received;
    int64_t commit_us; /* how long its commit took, when it succeeded */
};

struct pt_ingest {
    const struct pt_config *cfg;
    const struct pt_log *log;
    struct st_log *events;
    void *zctx;
    void *router;
    struct pt_auth *auth;
    struct povtrack_proto_limits limits;
    struct rate *rates;
    size_t nrates, caprates;
    int notify_fd;
    int mirror_fd; /* povtrack-mirror's socket pair, -1: none */
    const struct pt_mirror_page *mirror_page; /* [mirror]'s page, or NULL */
    /* A standby not yet promoted: its mirror appends the stream's records
     * to the log, publishers are refused (pt_mirror.h). */
    int standby;
    /* [national]: its mirror appends the provinces' records; publishers
     * are refused for good. */
    int national;
    struct pt_strict *strict; /* strict mode's held replies, or NULL */
    size_t slots_cap;
    struct group groups[2];
    struct pt_worker *worker;      /* commits a group (pt_worker.h) */
    struct pt_ingest_stats *stats; /* the shared counters (pt_stats.h) */
    void *monitor;                 /* PAIR: the ROUTER's connections */
    msgpack_sbuffer reply;
};

static void derive_limits(struct pt_ingest *ig);

static int group_alloc(struct pt_ingest *ig, struct group *gr)
{
    gr->ig = ig;
    msgpack_sbuffer_init(&gr->enc);
    gr->reqs = calloc(GROUP_REQUESTS_MAX, sizeof *gr->reqs);
    gr->slots = calloc(ig->slots_cap, sizeof *gr->slots);
    gr->items = calloc(ig->slots_cap, sizeof *gr->items);
    gr->evs = calloc(ig->slots_cap, sizeof *gr->evs);
    gr->enc_off = calloc(ig->slots_cap, sizeof *gr->enc_off);
    gr->pubs = calloc(ig->slots_cap, sizeof *gr->pubs);
    gr->item_cls = calloc(ig->slots_cap, sizeof *gr->item_cls);
    if (!gr->reqs || !gr->slots || !gr->items || !gr->evs || !gr->enc_off ||
        !gr->pubs || !gr->item_cls)
        return POVTRACK_ENOMEM;
    for (size_t i = 0; i < GROUP_REQUESTS_MAX; i++)
        msgpack_unpacked_init(&gr->reqs[i].up);
    return 0;
}

static void group_free(struct group *gr)
{
    if (gr->ig == NULL)
        return; /* never allocated */
    if (gr->reqs != NULL)
        for (size_t i = 0; i < GROUP_REQUESTS_MAX; i++)
            msgpack_unpacked_destroy(&gr->reqs[i].up);
    msgpack_sbuffer_destroy(&gr->enc);
    free(gr->reqs);
    free(gr->slots);
    free(gr->items);
    free(gr->evs);
    free(gr->enc_off);
    free(gr->pubs);
    free(gr->item_cls);
}

int pt_ingest_open(const struct pt_config *cfg, const struct pt_log *log,
                   struct pt_ingest **out, char *err, size_t errlen)
{
    struct pt_ingest *ig = calloc(1, sizeof *ig);
    if (ig == NULL) {
        snprintf(err, errlen, "out of memory");
        return POVTRACK_ENOMEM;
    }
    ig->cfg = cfg;
    ig->log = log;
    ig->notify_fd = -1;
    ig->mirror_fd = -1;
    ig->standby = pt_mirror_standby(&cfg->mirror, cfg->data_dir);
    ig->national = cfg->national.enabled;
    msgpack_sbuffer_init(&ig->reply);
    /* A group holds up to batch_max events, but never splits a request,
     * so leave room for one whole request past the limit. */
    ig->slots_cap = cfg->batch_max + cfg->limits.events_max;
    derive_limits(ig);
    if (group_alloc(ig, &ig->groups[0]) != 0 ||
        group_alloc(ig, &ig->groups[1]) != 0) {
        snprintf(err, errlen, "out of memory for 2 x %zu event slots",
                 ig->slots_cap);
        pt_ingest_close(ig);
        return POVTRACK_ENOMEM;
    }

    char dir[PATH_MAX];
    if (snprintf(dir, sizeof dir, "%s/" PT_DATA_LOG_SUBDIR, cfg->data_dir) >=
        (int)sizeof dir) {
        snprintf(err, errlen, "%s: path too long", cfg->data_dir);
        pt_ingest_close(ig);
        return POVTRACK_ENAMETOOLONG;
    }
    int rc = st_log_open(dir, 0, &ig->events, err, errlen);
    if (rc != 0) {
        pt_ingest_close(ig);
        return rc;
    }
    if ((rc = pt_worker_start(&ig->worker)) != 0) {
        snprintf(err, errlen, "cannot start the commit thread: %s",
                 povtrack_strerror(rc));
        pt_ingest_close(ig);
        return rc;
    }
    if (st_log_notice(ig->events)[0] != '\0')
        pt_logf(log, PT_LOG_WARN, "%s", st_log_notice(ig->events));
    rc = pt_ingest_stats_create(cfg->data_dir, &ig->stats, err, errlen);
    if (rc != 0) {
        pt_ingest_close(ig);
        return rc;
    }

    ig->zctx = zmq_ctx_new();
    if (ig->zctx == NULL) {
        rc = povtrack_zmq_error(zmq_errno());
        snprintf(err, errlen, "cannot create a ZeroMQ context: %s",
                 povtrack_strerror(rc));
        pt_ingest_close(ig);
        return rc;
    }
    rc = pt_auth_open(cfg, log, ig->zctx, &ig->auth, err, errlen);
    if (rc != 0) {
        pt_ingest_close(ig);
        return rc;
    }
    ig->router = zmq_socket(ig->zctx, ZMQ_ROUTER);
    /* Frames past the limit are refused by libzmq itself (the peer is
     * disconnected); frames between frame_max and this get a proper error
     * reply. */
    int64_t maxmsg = (int64_t)cfg->limits.frame_max + (64 << 10);
    int zero = 0;
    if (ig->router == NULL ||
        zmq_setsockopt(ig->router, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) ||
        zmq_setsockopt(ig->router, ZMQ_LINGER, &zero, sizeof zero) ||
        pt_auth_server_socket(ig->auth, ig->router, "ingest") != 0 ||
        zmq_bind(ig->router, cfg->ingest) != 0) {
        rc = povtrack_zmq_error(zmq_errno());
        snprintf(err, errlen, "cannot bind ingest endpoint %s: %s", cfg->ingest,
                 povtrack_strerror(rc));
        pt_ingest_close(ig);
        return rc;
    }
    /* Connections come and go rarely: the monitor is polled with the
     * ROUTER and costs nothing per request. */
    ig->monitor = zmq_socket(ig->zctx, ZMQ_PAIR);
    if (ig->monitor == NULL ||
        zmq_setsockopt(ig->monitor, ZMQ_LINGER, &zero, sizeof zero) != 0 ||
        zmq_socket_monitor(ig->router, MONITOR_EP,
                           ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED) != 0 ||
        zmq_connect(ig->monitor, MONITOR_EP) != 0) {
        rc = povtrack_zmq_error(zmq_errno());
        snprintf(err, errlen, "cannot monitor the ingest endpoint: %s",
                 povtrack_strerror(rc));
        pt_ingest_close(ig);
        return rc;
    }
    *out = ig;
    return 0;
}

void pt_ingest_close(struct pt_ingest *ig)
{
    if (ig == NULL)
        return;
    if (ig->monitor != NULL)
        zmq_close(ig->monitor);
    pt_strict_close(ig->strict);
    if (ig->router != NULL)
        zmq_close(ig->router);
    pt_auth_close(ig->auth);
    if (ig->zctx != NULL)
        zmq_ctx_term(ig->zctx);
    pt_worker_stop(ig->worker);
    group_free(&ig->groups[0]);
    group_free(&ig->groups[1]);
    st_log_close(ig->events);
    msgpack_sbuffer_destroy(&ig->reply);
    pt_ingest_stats_close(ig->stats);
    free(ig->rates);
    free(ig);
}

void pt_ingest_set_notify(struct pt_ingest *ig, int fd)
{
    ig->notify_fd = fd;
}

int pt_ingest_set_mirror(struct pt_ingest *ig, int fd,
                         const struct pt_mirror_page *page)
{
    ig->mirror_fd = fd;
    ig->mirror_page = page;
    if (ig->cfg->mirror.strict && ig->strict == NULL && page != NULL)
        return pt_strict_open(ig->log, page, &ig->strict);
    return 0;
}

/* The standby's mirror has made this povtrackd the primary: its marker is
 * on disk and it no longer appends, so publishers may. */
static void promoted(struct pt_ingest *ig, const char *at)
{
    ig->standby = 0;
    pt_logf(ig->log, PT_LOG_INFO,
            "promoted at seq %s: this povtrackd is the primary of province "
            "%s and takes publishers",
            at, ig->cfg->mirror.province);
}

/* Read what the mirror said (its messages only wake us: the page has the
 * numbers).  A closed socket means the mirror is gone: stop watching it
 * until the supervisor hands over the next one's. */
static void mirror_drain(struct pt_ingest *ig)
{
    char buf[64];
    ssize_t r;
    int applied = 0;
    while ((r = recv(ig->mirror_fd, buf, sizeof buf - 1, MSG_DONTWAIT)) > 0) {
        buf[r] = '\0';
        /* A standby's mirror appended records: the plugin host applies
         * them as it applies a commit of ours. */
        applied |= strncmp(buf, "applied ", 8) == 0;
        if (ig->standby && strncmp(buf, "promoted ", 9) == 0)
            promoted(ig, buf + 9);
    }
    if (applied && ig->notify_fd >= 0) {
        ssize_t w = write(ig->notify_fd, "", 1);
        (void)w;
    }
    if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
        ig->mirror_fd = -1;
        /* A mirror that died between its marker and its word. */
        if (ig->standby &&
            !pt_mirror_standby(&ig->cfg->mirror, ig->cfg->data_dir))
            promoted(ig, "(the marker)");
    }
}

size_t pt_ingest_strict_drain(struct pt_ingest *ig, int timeout_ms)
{
    if (ig->strict == NULL)
        return 0;
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    pt_strict_release(ig->strict, ig->router);
    while (pt_strict_held(ig->strict) > 0 && ig->mirror_fd >= 0) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        long left = timeout_ms - ((now.tv_sec - start.tv_sec) * 1000 +
                                  (now.tv_nsec - start.tv_nsec) / 1000000);
        if (left <= 0)
            break;
        zmq_pollitem_t it = {NULL, ig->mirror_fd, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, left) > 0)
            mirror_drain(ig);
        pt_strict_release(ig->strict, ig->router);
    }
    return pt_strict_held(ig->strict);
}

static void derive_limits(struct pt_ingest *ig)
{
    const struct pt_limits *l = &ig->cfg->limits;
    ig->limits.depth_max = l->depth_max;
    ig->limits.string_max = l->string_max;
    ig->limits.container_max = l->container_max;
    ig->limits.top_max = (uint32_t)l->events_max;
    ig->limits.top_name = "limits.events_max";
}

int pt_ingest_reload(struct pt_ingest *ig)
{
    char err[512];
    derive_limits(ig);
    int rc = pt_auth_reload(ig->auth, NULL, err, sizeof err);
    if (rc != 0) {
        pt_logf(ig->log, PT_LOG_ERROR,
                "SIGHUP: %s; the previous publisher registry stays in force",
                err);
        return rc;
    }
    /* Buckets are per name; a removed publisher's bucket is harmless. */
    return 0;
}

void pt_ingest_reader_check(struct pt_ingest *ig)
{
    int dead = 0;
    if (st_log_reader_check(ig->events, &dead) == 0 && dead > 0)
        pt_logf(ig->log, PT_LOG_INFO, "cleared %d stale log reader slot(s)",
                dead);
}

/* Decode one request's events into slots; a request that is not an array
 * of events is rejected whole. */
/* Take one request's token from p's bucket; 0, POVTRACK_EAGAIN when it has
 * none, POVTRACK_ENOMEM. */
static int rate_take(struct pt_ingest *ig, const struct pt_publisher *p,
                     int64_t now)
{
    unsigned per_s = ig->cfg->limits.requests_per_second;
    if (per_s == 0)
        return 0;
    struct rate *r = NULL;
    for (size_t i = 0; i < ig->nrates; i++)
        if (strcmp(ig->rates[i].name, p->name) == 0)
            r = &ig->rates[i];
    if (r == NULL) {
        if (ig->nrates == ig->caprates) {
            size_t cap = ig->caprates ? ig->caprates * 2 : 8;
            struct rate *nr = realloc(ig->rates, cap * sizeof *nr);
            if (nr == NULL)
                return POVTRACK_ENOMEM;
            ig->rates = nr;
            ig->caprates = cap;
        }
        r = &ig->rates[ig->nrates++];
        strcpy(r->name, p->name);
        r->tokens = per_s;
        r->last_us = now;
    }
    r->tokens += (double)(now - r->last_us) * per_s / 1e6;
    if (r->tokens > per_s)
        r->tokens = per_s;
    r->last_us = now;
    if (r->tokens < 1.0)
        return POVTRACK_EAGAIN;
    r->tokens -= 1.0;
    return 0;
}

/* A standby, or a province whose mirror found the stream moved on
 * without this log (another povtrackd was promoted): no publisher's event
 * is stored, so the history does not fork.  1 with why, else 0. */
static int refuse_publishers(struct pt_ingest *ig, char *why, size_t whylen)
{
    const struct pt_mirror_conf *m = &ig->cfg->mirror;
    if (ig->national) {
        snprintf(why, whylen,
                 "national: this povtrackd takes the provinces' records from "
                 "their streams ([national]) and no publisher's; publish to "
                 "the province's povtrackd; nothing stored");
        return 1;
    }
    if (ig->standby) {
        snprintf(why, whylen,
                 "standby: this povtrackd follows province %s's stream %s "
                 "and takes no publishers (povtrack promote makes it the "
                 "primary); nothing stored",
                 m->province, m->stream);
        return 1;
    }
    if (ig->mirror_page != NULL &&
        pt_mirror_page_state(ig->mirror_page) == PT_MIRROR_DIVERGED) {
        snprintf(why, whylen,
                 "diverged: province %s's stream %s holds records this log "
                 "does not (a standby was promoted?); publishers are refused "
                 "(mirror.diverged); nothing stored",
                 m->province, m->stream);
        return 1;
    }
    return 0;
}

static void take_request(struct pt_ingest *ig, struct group *gr,
                         struct ingest_req *g, size_t *nslots, size_t *nitems,
                         int64_t now_us_)
{
    int64_t max_at = now_us_ / 1000000 + EV_AT_SLACK;
    const struct pt_limits *lim = &ig->cfg->limits;
    g->first = *nslots;
    g->count = 0;
    g->error[0] = '\0';
    const char *body = zmq_msg_data(&g->req.body);
    size_t len = zmq_msg_size(&g->req.body);
    struct ev_error err;
    size_t off = 0;
    if (g->req.nbody != 1) {
        snprintf(g->error, sizeof g->error,
                 "request: must be exactly one frame after the envelope, "
                 "got %zu",
                 g->req.nbody);
        g->cls = PT_REJECT_INVALID;
        return;
    }
    if (refuse_publishers(ig, g->error, sizeof g->error)) {
        g->cls = PT_REJECT_RIGHTS;
        return;
    }
    char revoked[EV_ERROR_MAX];
    const struct pt_publisher *pub = pt_auth_sender(
        ig->auth, &g->req.body, "ingest", revoked, sizeof revoked);
    if (pub == NULL) {
        snprintf(g->error, sizeof g->error, "publisher: %s; nothing stored",
                 revoked);
        g->cls = PT_REJECT_RIGHTS;
        return;
    }
    if (rate_take(ig, pub, now_us_) != 0) {
        snprintf(g->error, sizeof g->error,
                 "request: publisher \"%s\" is over limits.requests_per_second "
                 "(%u); nothing stored, send again later",
                 pub->name, lim->requests_per_second);
        g->cls = PT_REJECT_LIMITS;
        return;
    }
    if (len > lim->frame_max) {
        snprintf(g->error, sizeof g->error,
                 "request: frame of %zu bytes exceeds limits.frame_max (%zu)",
                 len, lim->frame_max);
        g->cls = PT_REJECT_LIMITS;
        return;
    }
    if (povtrack_proto_precheck(body, len, &ig->limits, err.msg,
                                sizeof err.msg) != 0) {
        snprintf(g->error, sizeof g->error, "request: %s", err.msg);
        g->cls = PT_REJECT_LIMITS;
        return;
    }
    if (msgpack_unpack_next(&g->up, body, len, &off) !=
        MSGPACK_UNPACK_SUCCESS) {
        snprintf(g->error, sizeof g->error, "request: not msgpack");
        g->cls = PT_REJECT_INVALID;
        return;
    }
    const msgpack_object *arr = &g->up.data;
    if (arr->type != MSGPACK_OBJECT_ARRAY || arr->via.array.size == 0 ||
        arr->via.array.size > lim->events_max) {
        snprintf(g->error, sizeof g->error,
                 "request: must be an array of 1 to %zu events "
                 "(limits.events_max)",
                 lim->events_max);
        g->cls = arr->via.array.size > lim->events_max ? PT_REJECT_LIMITS
                                                       : PT_REJECT_INVALID;
        return;
    }
    for (uint32_t i = 0; i < arr->via.array.size; i++) {
        const msgpack_object *o = &arr->via.array.ptr[i];
        struct slot *s = &gr->slots[*nslots + i];
        s->id.ptr = povtrack_proto_ack_id(o, &s->id.len);
        s->item = -1;
        s->cls = PT_REJECT_INVALID;
        struct ev_event *ev = &gr->evs[*nitems];
        if (ev_decode(o, max_at, ev, &err) != 0) {
            memcpy(s->error, err.msg, sizeof s->error);
            continue;
        }
        /* A void or correction needs the right to publish what it voids or
         * corrects. */
        if (pt_publisher_check_type(
                pub, ev_type_amends(ev->type) ? ev->data.target_type : ev->type,
                s->error, sizeof s->error) != 0) {
            s->cls = PT_REJECT_RIGHTS;
            continue;
        }
        size_t before = gr->enc.size;
        msgpack_packer pk;
        msgpack_packer_init(&pk, &gr->enc, msgpack_sbuffer_write);
        if (ev_encode(ev, &pk) != 0) {
            gr->enc.size = before;
            snprintf(s->error, sizeof s->error, "event: cannot encode");
            continue;
        }
        struct st_item *it = &gr->items[*nitems];
        memset(it, 0, sizeof *it);
        it->ev = ev;
        it->len = gr->enc.size - before;
        it->publisher.ptr = pub->name;
        it->publisher.len = (uint32_t)strlen(pub->name);
        gr->pubs[*nitems] = pub;
        gr->enc_off[*nitems] = before;
        s->item = (long)(*nitems)++;
    }
    g->count = arr->via.array.size;
    *nslots += g->count;
}

/* Did the commit fail for want of space?  LMDB reports a short write as
 * EIO, which a full file system causes as well as a failing disk: ask the
 * file system which it is. */
static int storage_full(const struct pt_ingest *ig, int rc, size_t bytes)
{
    if (rc == POVTRACK_ENOSPC || rc == -EDQUOT || rc == MDB_MAP_FULL)
        return 1;
    if (rc != POVTRACK_EIO)
        return 0;
    struct statvfs vfs;
    char dir[PATH_MAX];
    if (snprintf(dir, sizeof dir, "%s/" PT_DATA_LOG_SUBDIR,
                 ig->cfg->data_dir) >= (int)sizeof dir ||
        statvfs(dir, &vfs) != 0)
        return 0;
    /* A commit writes its pages, the free-list and two meta pages. */
    uint64_t avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
    return avail < 2 * (uint64_t)bytes + (1u << 20);
}

/* A void or correction: the rights over the record as it stands (its
 * unit at its date, as for publishing it), and for a correction over the
 * corrected record too (its new unit and date). */
static int check_amend_rights(const struct pt_publisher *pub,
                              struct st_view *view,
                              const struct ev_registry *reg,
                              struct st_item *item)
{
    struct st_target t;
    int rc =
        st_view_target(view, item->ev, &t, item->error, sizeof item->error);
    if (rc != POVTRACK_OK)
        return rc;
    rc = pt_publisher_check_unit(pub, &t.event, reg, item->error,
                                 sizeof item->error);
    st_target_free(&t);
    if (rc != POVTRACK_OK || item->ev->type != EV_RECORD_CORRECTED)
        return rc;
    struct ev_event corrected = *item->ev;
    corrected.type = corrected.data.target_type;
    return pt_publisher_check_unit(pub, &corrected, reg, item->error,
                                   sizeof item->error);
}

/* Inside the commit's write transaction: the unit registry as of this
 * commit, including units defined earlier in the same group; then the
 * publisher's rights on the same registry. */
static int check_refs(void *arg, struct st_view *view, struct st_item *item)
{
    struct group *gr = arg; /* on the worker's thread: reads only gr */
    enum pt_reject_class *cls = &gr->item_cls[item - gr->items];
    int rc = st_check_refs(NULL, view, item);
    *cls = PT_REJECT_INVALID;
    if (rc != POVTRACK_OK)
        return rc;
    struct ev_registry reg;
    st_view_registry(view, &reg);
    const struct pt_publisher *pub = gr->pubs[item - gr->items];
    *cls = PT_REJECT_RIGHTS;
    if (ev_type_amends(item->ev->type))
        return check_amend_rights(pub, view, &reg, item);
    return pt_publisher_check_unit(pub, item->ev, &reg, item->error,
                                   sizeof item->error);
}

/* What one step acknowledged, added to the shared counters once. */
struct step_counts {
    uint64_t acked, duplicates, rejected[PT_REJECT_CLASSES];
};

static void reply(struct pt_ingest *ig, const struct group *gr,
                  struct ingest_req *g, const char *storage_error,
                  struct step_counts *n)
{
    uint64_t stored = 0; /* the highest sequence this reply acknowledges */
    msgpack_sbuffer_clear(&ig->reply);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &ig->reply, msgpack_sbuffer_write);
    if (g->error[0] != '\0') {
        povtrack_proto_pack_refused(&pk, g->error);
        n->rejected[g->cls]++;
    } else {
        msgpack_pack_array(&pk, g->count);
        for (size_t i = g->first; i < g->first + g->count; i++) {
            const struct slot *s = &gr->slots[i];
            const char *id = s->id.ptr;
            uint32_t len = s->id.len, index = (uint32_t)(i - g->first);
            if (s->item < 0) {
                povtrack_proto_pack_ack(&pk, id, len, index,
                                        POVTRACK_ACK_REJECTED, 0, s->error);
                n->rejected[s->cls]++;
                continue;
            }
            const struct st_item *it = &gr->items[s->item];
            if (storage_error != NULL) {
                povtrack_proto_pack_ack(&pk, id, len, index,
                                        POVTRACK_ACK_REJECTED, 0,
                                        storage_error);
                n->rejected[PT_REJECT_STORAGE]++;
            } else if (it->status == ST_ITEM_OK) {
                povtrack_proto_pack_ack(&pk, id, len, index, POVTRACK_ACK_OK,
                                        it->seq, NULL);
                n->acked++;
            } else if (it->status == ST_ITEM_DUPLICATE) {
                povtrack_proto_pack_ack(&pk, id, len, index,
                                        POVTRACK_ACK_DUPLICATE, it->seq, NULL);
                n->duplicates++;
            } else {
                povtrack_proto_pack_ack(&pk, id, len, index,
                                        POVTRACK_ACK_REJECTED, 0, it->error);
                n->rejected[gr->item_cls[s->item]]++;
            }
        }
    }
    if (storage_error == NULL && g->error[0] == '\0')
        for (size_t i = g->first; i < g->first + g->count; i++) {
            const struct slot *s = &gr->slots[i];
            const struct st_item *it =
                s->item >= 0 ? &gr->items[s->item] : NULL;
            if (it != NULL &&
                (it->status == ST_ITEM_OK || it->status == ST_ITEM_DUPLICATE) &&
                it->seq > stored)
                stored = it->seq;
        }
    int rc = ig->strict != NULL
                 ? pt_strict_reply(ig->strict, ig->router, &g->req,
                                   ig->reply.data, ig->reply.size, stored)
                 : pt_wire_reply(ig->router, &g->req, ig->reply.data,
                                 ig->reply.size);
    if (rc != 0)
        pt_logf(ig->log, PT_LOG_WARN, "ack not delivered (client gone?): %s",
                povtrack_strerror(rc));
}

/* Read what the ROUTER's monitor reported: two frames per event, the
 * event number and value, then the endpoint. */
static void read_monitor(struct pt_ingest *ig)
{
    for (;;) {
        zmq_msg_t ev, addr;
        zmq_msg_init(&ev);
        if (zmq_msg_recv(&ev, ig->monitor, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&ev);
            return;
        }
        uint16_t event = 0;
        if (zmq_msg_size(&ev) >= sizeof event)
            memcpy(&event, zmq_msg_data(&ev), sizeof event);
        int more = zmq_msg_more(&ev);
        zmq_msg_close(&ev);
        zmq_msg_init(&addr);
        if (more)
            zmq_msg_recv(&addr, ig->monitor, ZMQ_DONTWAIT);
        zmq_msg_close(&addr);
        int64_t c =
            atomic_load_explicit(&ig->stats->connections, memory_order_relaxed);
        if (event == ZMQ_EVENT_ACCEPTED)
            c++;
        else if (event == ZMQ_EVENT_DISCONNECTED && c > 0)
            c--;
        atomic_store_explicit(&ig->stats->connections, c, memory_order_relaxed);
    }
}

/* a += v, for the one writer of the shared counters. */
static void count_add(_Atomic uint64_t *a, uint64_t v)
{
    if (v != 0)
        atomic_store_explicit(a,
                              atomic_load_explicit(a, memory_order_relaxed) + v,
                              memory_order_relaxed);
}

/* Drain what is queued into gr: the group that shares one commit.  Every
 * event takes a slot, valid or not, so the bound is on slots: a request
 * may then add at most limits.events_max past batch_max, which the arrays
 * leave room for. */
static void group_take(struct pt_ingest *ig, struct group *gr)
{
    size_t nreqs = 0, nslots = 0, nitems = 0;
    gr->received = pt_real_us();
    msgpack_sbuffer_clear(&gr->enc);
    while (nreqs < GROUP_REQUESTS_MAX && nslots < ig->cfg->batch_max) {
        struct ingest_req *g = &gr->reqs[nreqs];
        int rrc = pt_wire_recv(ig->router, &g->req, ZMQ_DONTWAIT);
        if (rrc != 0) {
            if (rrc == POVTRACK_EPROTO) {
                pt_logf(ig->log, PT_LOG_WARN,
                        "dropped a request with a malformed envelope");
                continue;
            }
            break;
        }
        take_request(ig, gr, g, &nslots, &nitems, gr->received);
        nreqs++;
    }
    /* The encode buffer may have moved while it grew: point items at their
     * bytes only now. */
    for (size_t i = 0; i < nitems; i++) {
        gr->items[i].bytes = gr->enc.data + gr->enc_off[i];
        gr->item_cls[i] = PT_REJECT_CONFLICT;
    }
    gr->nreqs = nreqs;
    gr->nitems = nitems;
    if (nreqs > 0)
        atomic_store_explicit(&ig->stats->in_flight, (uint32_t)nreqs,
                              memory_order_relaxed);
}

/* The worker's job: commit gr's events, synced, in one transaction.  It
 * touches only gr and the log (check_refs reads gr's publishers). */
static int group_commit(void *arg)
{
    struct group *gr = arg;
    int64_t t0 = pt_mono_us();
    int rc = st_log_append_batch(gr->ig->events, gr->received, gr->items,
                                 gr->nitems, check_refs, gr);
    gr->commit_us = pt_mono_us() - t0;
    return rc;
}

/* gr's commit returned rc (0 when it had nothing to store): wake the
 * plugin host and the mirror, then ack every request of gr. */
static void group_finish(struct pt_ingest *ig, struct group *gr, int rc)
{
    const char *storage_error = NULL;
    char storage_msg[EV_ERROR_MAX];
    if (gr->nitems > 0 && rc == 0) {
        pt_hist_observe(&ig->stats->commit_us, PT_HIST_MICROS,
                        (uint64_t)gr->commit_us);
        pt_hist_observe(&ig->stats->commit_events, PT_HIST_EVENTS, gr->nitems);
        /* A full pipe or socket already holds a wake-up: nothing is
         * lost. */
        if (ig->notify_fd >= 0) {
            ssize_t w = write(ig->notify_fd, "", 1);
            (void)w;
        }
        if (ig->mirror_fd >= 0) {
            ssize_t w =
                send(ig->mirror_fd, "L", 1, MSG_DONTWAIT | MSG_NOSIGNAL);
            (void)w;
        }
    } else if (gr->nitems > 0) {
        /* Nothing of the group is stored: say so, never ack. */
        if (storage_full(ig, rc, gr->enc.size))
            snprintf(storage_msg, sizeof storage_msg,
                     "storage full (%s): nothing of this request is "
                     "stored; send it again later",
                     st_strerror(rc));
        else
            snprintf(storage_msg, sizeof storage_msg,
                     "storage: %s; not stored, send again later",
                     st_strerror(rc));
        storage_error = storage_msg;
        pt_logf(ig->log, PT_LOG_ERROR, "commit of %zu events failed: %s",
                gr->nitems, st_strerror(rc));
    }
    struct step_counts counted = {0};
    for (size_t i = 0; i < gr->nreqs; i++) {
        reply(ig, gr, &gr->reqs[i], storage_error, &counted);
        pt_wire_close(&gr->reqs[i].req);
    }
    struct pt_ingest_stats *st = ig->stats;
    count_add(&st->requests, gr->nreqs);
    count_add(&st->acked, counted.acked);
    count_add(&st->duplicates, counted.duplicates);
    for (unsigned c = 0; c < PT_REJECT_CLASSES; c++)
        count_add(&st->rejected[c], counted.rejected[c]);
}

int pt_ingest_step(struct pt_ingest *ig, int timeout_ms)
{
    zmq_pollitem_t items[4] = {{ig->router, 0, ZMQ_POLLIN, 0},
                               {NULL, -1, ZMQ_POLLIN, 0},
                               {NULL, -1, ZMQ_POLLIN, 0},
                               {NULL, -1, ZMQ_POLLIN, 0}};
    int npoll = 1, monitor = -1, zap = -1, mirror = -1;
    if (ig->monitor != NULL) {
        monitor = npoll++;
        items[monitor].socket = ig->monitor;
    }
    if (pt_auth_zap_socket(ig->auth) != NULL) {
        zap = npoll++;
        items[zap].socket = pt_auth_zap_socket(ig->auth);
    }
    /* Strict mode: the mirror's word that JetStream has caught up; a
     * standby: that it appended records, or was promoted. */
    if ((ig->strict != NULL || ig->standby || ig->national) &&
        ig->mirror_fd >= 0) {
        mirror = npoll++;
        items[mirror].fd = ig->mirror_fd;
    }
    int n = zmq_poll(items, npoll, timeout_ms);
    if (n < 0)
        return zmq_errno() == EINTR ? 0 : povtrack_zmq_error(zmq_errno());
    pt_auth_zap_handle(ig->auth);
    /* Refusals change only when a handshake was handled. */
    if (zap >= 0 && (items[zap].revents & ZMQ_POLLIN))
        atomic_store_explicit(&ig->stats->refused_handshakes,
                              pt_auth_handshakes_refused(ig->auth, "ingest"),
                              memory_order_relaxed);
    if (monitor >= 0 && (items[monitor].revents & ZMQ_POLLIN))
        read_monitor(ig);
    if (mirror >= 0 && (items[mirror].revents & ZMQ_POLLIN))
        mirror_drain(ig);
    if (ig->strict != NULL)
        pt_strict_release(ig->strict, ig->router);
    if (!(items[0].revents & ZMQ_POLLIN))
        return 0;

    /* Pipelined: while the worker commits one group, the next is drained
     * and validated; a group is acked once its own commit has returned.
     * Nothing is in flight when the step returns (a reload may replace the
     * registry the groups point into), and a step takes at most
     * STEP_GROUPS_MAX groups, so the caller's loop (signals, reloads)
     * runs between them under a steady load too. */
    struct group *inflight = NULL;
    for (int turn = 0;; turn++) {
        struct group *gr = &ig->groups[turn % 2];
        gr->nreqs = 0;
        if (turn < STEP_GROUPS_MAX)
            group_take(ig, gr);
        if (inflight != NULL)
            group_finish(ig, inflight, pt_worker_wait(ig->worker));
        inflight = NULL;
        if (gr->nreqs == 0)
            break;
        if (gr->nitems == 0) { /* nothing to store: answer at once */
            group_finish(ig, gr, 0);
            continue;
        }
        pt_worker_run(ig->worker, group_commit, gr);
        inflight = gr;
    }
    atomic_store_explicit(&ig->stats->in_flight, 0, memory_order_relaxed);
    return 0;
}
