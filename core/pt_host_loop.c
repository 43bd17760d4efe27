/*
 * pt_host_loop.c - the plugin host process: binds the query and alerts
 * endpoints, applies the log as it grows, answers requests (parking those
 * that wait for min_seq) and ticks the plugins.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "ev_event.h"
#include "pt_auth.h"
#include "pt_host_internal.h"
#include "pt_wire.h"

#define TICK_LATE_MS 60000        /* tick even while catching up, this late */
#define ALERTS_CLOSE_WAIT_MS 5000 /* for libzmq to close a listener */
#define DISK_FULL_RETRY_MS                                                     \
    1000 /* apply again this often while disk is full                          \
          */
/* An apply transaction starts at least this long after the one before: a
 * live feed of small ingest commits (one event per request) then costs one
 * state commit, with its fdatasync, per APPLY_GAP_MS instead of one per
 * ingest commit, and the disk is left to ingest's syncs, which acks wait
 * for.  A backlog is not slowed: its transactions take longer than this.
 * Queries see a new record up to this much later. */
#define APPLY_GAP_MS 10

struct parked {
    struct pt_request req;
    uint64_t min_seq;
    int64_t deadline_ms;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the process loop ---- */

/* Decode a request body; on failure pack the error reply and
 * return POVTRACK_EINVALID. */
static int decode_request(const struct pt_host *h, struct pt_request *r,
                          msgpack_unpacked *up, msgpack_packer *pk)
{
    const struct pt_limits *lim = &h->cfg.limits;
    struct povtrack_proto_limits pl = {lim->depth_max, lim->string_max,
                                       lim->container_max, lim->container_max,
                                       "limits.container_max"};
    const char *body = zmq_msg_data(&r->body);
    size_t len = zmq_msg_size(&r->body);
    char why[POVTRACK_PROTO_ERROR_MAX];
    size_t off = 0;
    if (r->nbody != 1) {
        pt_pack_error(pk, "request: must be exactly one frame after the "
                          "envelope");
        return POVTRACK_EINVALID;
    }
    if (len > REQUEST_MAX) {
        pt_pack_error(pk, "request: larger than %u bytes", REQUEST_MAX);
        return POVTRACK_EINVALID;
    }
    if (povtrack_proto_precheck(body, len, &pl, why, sizeof why) != 0) {
        /* A validate request carries an ingest request's events, one level
         * down: its "events" array may hold limits.events_max of them.
         * Scan again with room for that (what msgpack-c allocates is still
         * bounded by len); the op checks the events against ingest's own
         * limits (pt_validate.c).  Any other request keeps the first
         * refusal. */
        struct povtrack_proto_limits wide = pl;
        wide.depth_max = lim->depth_max + 1;
        if (lim->events_max > wide.container_max)
            wide.container_max = (uint32_t)lim->events_max;
        const msgpack_object *op = NULL;
        if (povtrack_proto_precheck(body, len, &wide, NULL, 0) == 0 &&
            msgpack_unpack_next(up, body, len, &off) == MSGPACK_UNPACK_SUCCESS)
            op = pt_map_get(&up->data, POVTRACK_KEY_OP);
        if (op == NULL || op->type != MSGPACK_OBJECT_STR ||
            op->via.str.size != sizeof POVTRACK_OP_VALIDATE - 1 ||
            memcmp(op->via.str.ptr, POVTRACK_OP_VALIDATE, op->via.str.size) !=
                0) {
            pt_pack_error(pk, "request: %s", why);
            return POVTRACK_EINVALID;
        }
        return 0;
    }
    if (msgpack_unpack_next(up, body, len, &off) != MSGPACK_UNPACK_SUCCESS ||
        up->data.type != MSGPACK_OBJECT_MAP) {
        pt_pack_error(pk, "request: must be a msgpack map");
        return POVTRACK_EINVALID;
    }
    return 0;
}

/* May the sender of r make request req?  0 with *sender set, or
 * POVTRACK_EACCES after packing the refusal.  The sender is looked up by its
 * connection's key in the registry in force now, on every request (parked
 * ones when answered), so a reload applies to open connections too. */
static int authorise(struct pt_auth *auth, struct pt_request *r,
                     const msgpack_object *req, msgpack_packer *pk,
                     const struct pt_publisher **sender)
{
    char revoked[512];
    const struct pt_publisher *p =
        pt_auth_sender(auth, &r->body, "query", revoked, sizeof revoked);
    *sender = p;
    if (p == NULL) {
        pt_pack_error(pk, "publisher: %s", revoked);
        return POVTRACK_EACCES;
    }
    const msgpack_object *op = pt_map_get(req, POVTRACK_KEY_OP);
    if (op == NULL || op->type != MSGPACK_OBJECT_STR)
        return 0; /* the request path reports that */
    const char *s = op->via.str.ptr;
    size_t n = op->via.str.size;
    if (n == 5 && memcmp(s, "query", 5) == 0) {
        const msgpack_object *pl = pt_map_get(req, POVTRACK_KEY_PLUGIN);
        if (pl != NULL && pl->type == MSGPACK_OBJECT_STR &&
            !pt_publisher_may_query(p, pl->via.str.ptr, pl->via.str.size)) {
            pt_pack_error(pk,
                          "plugin: publisher \"%s\" may not query plugin "
                          "%.*s (add it to query = in the registry)",
                          p->name, (int)pl->via.str.size, pl->via.str.ptr);
            return POVTRACK_EACCES;
        }
    } else if ((n == 4 && memcmp(s, "read", 4) == 0) ||
               (n == 5 && memcmp(s, "audit", 5) == 0)) {
        if (!p->query_log) {
            pt_pack_error(pk,
                          "op: publisher \"%s\" may not read the log's "
                          "records (needs query = log or *)",
                          p->name);
            return POVTRACK_EACCES;
        }
    } else if ((n == 6 && memcmp(s, "resume", 6) == 0) ||
               (n == 7 && memcmp(s, "rebuild", 7) == 0)) {
        if (!p->admin) {
            pt_pack_error(pk,
                          "op: publisher \"%s\" may not %.*s plugins "
                          "(needs admin = yes)",
                          p->name, (int)n, s);
            return POVTRACK_EACCES;
        }
    } else if (n == 6 && memcmp(s, "alerts", 6) == 0) {
        if (!p->alerts) {
            pt_pack_error(pk,
                          "op: publisher \"%s\" may not list alerts "
                          "(needs alerts = yes)",
                          p->name);
            return POVTRACK_EACCES;
        }
    }
    return 0;
}

/* Answer r, once decoded and authorised: with late NULL, the request's
 * answer; else the error late (a min_seq not applied in time). */
static int answer(struct pt_host *h, struct pt_auth *auth, void *sock,
                  struct pt_request *r, const char *late)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    int rc = 0;
    const struct pt_publisher *sender;
    if (decode_request(h, r, &up, &pk) == 0 &&
        authorise(auth, r, &up.data, &pk, &sender) == 0) {
        if (late != NULL) {
            pt_pack_error(&pk, "%s", late);
        } else {
            h->sender = sender; /* the validate op checks its rights */
            rc = pt_host_request(h, &up.data, &pk);
            h->sender = NULL;
        }
        if (rc != 0) {
            msgpack_sbuffer_clear(&sb);
            pt_pack_error(&pk, "internal error: %s", st_strerror(rc));
        }
    }
    pt_wire_reply(sock, r, sb.data, sb.size);
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

/* The min_seq of a query request, 0 when it has none or is malformed (the
 * normal path then reports the problem). */
static uint64_t request_min_seq(const struct pt_host *h, struct pt_request *r)
{
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    uint64_t seq = 0;
    if (decode_request(h, r, &up, &pk) == 0) {
        const msgpack_object *o = pt_map_get(&up.data, POVTRACK_KEY_MIN_SEQ);
        if (o != NULL && o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
            seq = o->via.u64;
    }
    msgpack_sbuffer_destroy(&sb);
    msgpack_unpacked_destroy(&up);
    return seq;
}

static void answer_parked(struct pt_host *h, struct pt_auth *auth, void *sock,
                          struct parked *pk, size_t *n, int all)
{
    int64_t now = now_ms();
    uint64_t applied = pt_host_applied_seq(h);
    for (size_t i = 0; i < *n;) {
        struct parked *p = &pk[i];
        if (all || applied >= p->min_seq || now >= p->deadline_ms) {
            if (applied >= p->min_seq && !all) {
                answer(h, auth, sock, &p->req, NULL);
            } else {
                char late[160];
                snprintf(late, sizeof late,
                         "min_seq: not applied within %d ms "
                         "(applied %llu, wanted %llu)",
                         MIN_SEQ_WAIT_MS, (unsigned long long)applied,
                         (unsigned long long)p->min_seq);
                answer(h, auth, sock, &p->req, late);
            }
            pt_wire_close(&p->req);
            pk[i] = pk[--*n];
            continue;
        }
        i++;
    }
}

/* A socket of type bound to ep into *out: 0, or ZeroMQ's error (logged),
 * *out NULL. */
static int bind_socket(struct pt_host *h, struct pt_auth *auth, void *zctx,
                       int type, const char *ep, void **out)
{
    void *s = zmq_socket(zctx, type);
    int zero = 0;
    int64_t maxmsg = REQUEST_MAX + 4096;
    *out = NULL;
    if (s != NULL) {
        zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
        /* Also on PUB: subscribers send only subscriptions. */
        zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    }
    if (s == NULL ||
        pt_auth_server_socket(auth, s,
                              type == ZMQ_ROUTER ? "query" : "alerts") != 0 ||
        zmq_bind(s, ep) != 0) {
        int rc = povtrack_zmq_error(zmq_errno());
        pt_logf(&h->log, PT_LOG_ERROR, "cannot bind %s: %s", ep,
                povtrack_strerror(rc));
        if (s != NULL)
            zmq_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

/* The next event on a socket monitor (two frames: event and value, then
 * the endpoint), or 0 when none could be read. */
static uint16_t monitor_event(void *mon)
{
    zmq_msg_t ev, addr;
    zmq_msg_init(&ev);
    zmq_msg_init(&addr);
    uint16_t event = 0;
    if (zmq_msg_recv(&ev, mon, ZMQ_DONTWAIT) == 6) {
        memcpy(&event, zmq_msg_data(&ev), sizeof event);
        if (zmq_msg_more(&ev))
            zmq_msg_recv(&addr, mon, ZMQ_DONTWAIT);
    }
    zmq_msg_close(&ev);
    zmq_msg_close(&addr);
    return event;
}

/* Unbind sock from ep and wait until libzmq has closed the listener, which
 * it does later, in its I/O thread: binding ep again before that fails on
 * tcp (EADDRINUSE), and on ipc a libzmq that unlinks the socket file on
 * close would remove the new listener's.  The socket's monitor says when
 * (ZMQ_EVENT_CLOSED); unbinding also drops the connections accepted there.
 * mon names the monitor's inproc endpoint, unused so far in the process.
 * Returns 0, POVTRACK_ETIMEDOUT when the listener was not seen closed in
 * time, or ZeroMQ's error. */
static int unbind_and_wait(void *zctx, void *sock, const char *ep,
                           const char *mon)
{
    if (zmq_socket_monitor(sock, mon,
                           ZMQ_EVENT_CLOSED | ZMQ_EVENT_CLOSE_FAILED) != 0)
        return povtrack_zmq_error(zmq_errno());
    void *m = zmq_socket(zctx, ZMQ_PAIR);
    int zero = 0, rc = POVTRACK_EZMQ;
    if (m != NULL && zmq_setsockopt(m, ZMQ_LINGER, &zero, sizeof zero) == 0 &&
        zmq_connect(m, mon) == 0 && zmq_unbind(sock, ep) == 0) {
        int64_t deadline = now_ms() + ALERTS_CLOSE_WAIT_MS;
        uint16_t event = 0;
        while (event != ZMQ_EVENT_CLOSED && event != ZMQ_EVENT_CLOSE_FAILED &&
               now_ms() < deadline) {
            zmq_pollitem_t it = {m, 0, ZMQ_POLLIN, 0};
            int n = zmq_poll(&it, 1, (long)(deadline - now_ms()));
            if (n < 0 && zmq_errno() != EINTR)
                break;
            if (n > 0)
                event = monitor_event(m);
        }
        rc = event == ZMQ_EVENT_CLOSED ? 0 : POVTRACK_ETIMEDOUT;
    }
    zmq_socket_monitor(sock, NULL, 0);
    if (m != NULL)
        zmq_close(m);
    return rc;
}

/* Some keys lost alerts = yes: their subscriptions make no requests that
 * could be refused, so close the alerts socket, and with it every
 * subscriber's connection, and bind a new one on the same endpoint.
 * Subscribers reconnect on their own (subscriptions included) through the
 * ZAP handler, under the registry now in force, which refuses the revoked
 * keys; the others can list what they missed meanwhile with the alerts
 * request.  generation numbers the rebuilds, for the monitor's endpoint.
 * Returns 0, or ZeroMQ's error (logged) when the endpoint could not be
 * bound again. */
static int rebuild_alerts(struct pt_host *h, struct pt_auth *auth, void *zctx,
                          size_t lost, unsigned *generation)
{
    char ep[PT_ENDPOINT_MAX], mon[64];
    size_t len = sizeof ep;
    snprintf(mon, sizeof mon, "inproc://povtrack-alerts-monitor-%u",
             (*generation)++);
    if (zmq_getsockopt(h->pub, ZMQ_LAST_ENDPOINT, ep, &len) != 0 ||
        unbind_and_wait(zctx, h->pub, ep, mon) != 0)
        /* Binding again may still work; if not, the restart does. */
        pt_logf(&h->log, PT_LOG_WARN,
                "alerts endpoint %s: the old listener was not seen closed "
                "within %d ms",
                h->cfg.alerts, ALERTS_CLOSE_WAIT_MS);
    zmq_close(h->pub);
    int rc = bind_socket(h, auth, zctx, ZMQ_PUB, h->cfg.alerts, &h->pub);
    if (rc != 0) {
        pt_logf(&h->log, PT_LOG_ERROR,
                "SIGHUP: cannot bind the alerts endpoint again after "
                "revoking alert subscribers; the plugin host restarts");
        return rc;
    }
    pt_logf(&h->log, PT_LOG_WARN,
            "SIGHUP: %zu key(s) lost alerts = yes: disconnected every alert "
            "subscriber of %s, so that each passes the key check again "
            "(they reconnect on their own, and can list what they missed "
            "with the alerts request)",
            lost, h->cfg.alerts);
    return 0;
}

/* SIGHUP: take the live settings and the registry.  Returns 0, or an error
 * when the plugin host must stop (the supervisor starts it again). */
static int reload(struct pt_host *h, struct pt_auth *auth, void *zctx,
                  const struct pt_host_signals *sig, unsigned *generation)
{
    char err[512];
    struct pt_config *fresh = malloc(sizeof *fresh);
    if (fresh == NULL || sig->reconfigure(sig->arg, fresh) != 0) {
        /* The ingest process reports the configuration's errors. */
        free(fresh);
        return 0;
    }
    char restart[256];
    pt_config_apply_reload(&h->cfg, fresh, restart, sizeof restart);
    free(fresh);
    h->log.level = h->cfg.log_level;
    h->log.syslog = h->cfg.syslog;
    size_t lost = 0;
    if (pt_auth_reload(auth, &lost, err, sizeof err) != 0)
        pt_logf(&h->log, PT_LOG_ERROR,
                "SIGHUP: %s; the previous publisher registry stays in force",
                err);
    else if (lost > 0)
        return rebuild_alerts(h, auth, zctx, lost, generation);
    return 0;
}

int pt_host_run(struct pt_host *h, int notify_fd,
                const struct pt_host_signals *sig)
{
    volatile sig_atomic_t *stop = sig->stop;
    void *zctx = zmq_ctx_new();
    if (zctx == NULL)
        return povtrack_zmq_error(zmq_errno());
    struct pt_auth *auth;
    char err[512];
    int rc = pt_auth_open(&h->cfg, &h->log, zctx, &auth, err, sizeof err);
    if (rc != 0) {
        pt_logf(&h->log, PT_LOG_ERROR, "%s", err);
        zmq_ctx_term(zctx);
        return rc;
    }
    h->auth = auth;
    void *router;
    rc = bind_socket(h, auth, zctx, ZMQ_ROUTER, h->cfg.query, &router);
    if (rc == 0)
        rc = bind_socket(h, auth, zctx, ZMQ_PUB, h->cfg.alerts, &h->pub);
    if (rc != 0) {
        if (router != NULL)
            zmq_close(router);
        pt_auth_close(auth);
        zmq_ctx_term(zctx);
        return rc;
    }
    h->queries = router; /* apply_range ends a chunk early for a query */
    struct parked *parked = calloc(PARKED_MAX, sizeof *parked);
    size_t nparked = 0;
    rc = parked == NULL ? POVTRACK_ENOMEM : 0;
    pt_logf(&h->log, PT_LOG_INFO,
            "plugin host ready: query %s, alerts %s, %zu plugins", h->cfg.query,
            h->cfg.alerts, h->nplugins);
    int64_t next_tick = now_ms();
    int more = 1; /* the log may have grown while we were down */
    int disk_full = 0;
    int64_t retry_at = 0;
    int64_t apply_at = 0; /* APPLY_GAP_MS after the last apply began */
    unsigned alerts_generation = 0; /* alerts sockets rebuilt */
    while (rc == 0 && !*stop) {
        if (*sig->reload) {
            *sig->reload = 0;
            rc = reload(h, auth, zctx, sig, &alerts_generation);
            if (rc != 0)
                break;
        }
        zmq_pollitem_t items[3] = {
            {router, 0, ZMQ_POLLIN, 0},
            {NULL, notify_fd, ZMQ_POLLIN, 0},
            {pt_auth_zap_socket(auth), 0, ZMQ_POLLIN, 0}};
        long timeout =
            more ? (long)(apply_at - now_ms()) : (long)(next_tick - now_ms());
        if (disk_full)
            timeout = (long)(retry_at - now_ms());
        if (timeout < 0)
            timeout = 0;
        if (nparked > 0 && timeout > 50)
            timeout = 50;
        /* The notify pipe may be absent; keep the ZAP socket in reach. */
        int nitems = notify_fd >= 0 ? 2 : 1;
        if (items[2].socket != NULL)
            items[nitems++] = items[2];
        if (zmq_poll(items, nitems, timeout) < 0) {
            if (zmq_errno() == EINTR)
                continue;
            rc = povtrack_zmq_error(zmq_errno());
            break;
        }
        pt_auth_zap_handle(auth);
        if (notify_fd >= 0 && (items[1].revents & ZMQ_POLLIN)) {
            char buf[256];
            ssize_t r = read(notify_fd, buf, sizeof buf);
            if (r == 0) {
                pt_logf(&h->log, PT_LOG_WARN,
                        "ingest process is gone; stopping");
                break;
            }
            more = 1;
        }
        /* Answer what is waiting, a bounded number at a time, so a flood
         * of queries cannot starve applying (or the reverse). */
        for (int i = 0; i < 256; i++) {
            struct pt_request req;
            if (pt_wire_recv(router, &req, ZMQ_DONTWAIT) != 0)
                break;
            uint64_t min_seq = request_min_seq(h, &req);
            if (min_seq > pt_host_applied_seq(h) && nparked < PARKED_MAX) {
                struct parked *p = &parked[nparked++];
                pt_wire_move(&p->req, &req);
                p->min_seq = min_seq;
                p->deadline_ms = now_ms() + MIN_SEQ_WAIT_MS;
                pt_wire_close(&req);
                continue;
            }
            answer(h, auth, router, &req, NULL);
            pt_wire_close(&req);
        }
        int64_t began = now_ms();
        if (more && began >= retry_at && began >= apply_at) {
            size_t n = 0;
            int arc = pt_host_catch_up(h, APPLY_CHUNK, &n);
            if (n > 0)
                apply_at = began + APPLY_GAP_MS;
            if (arc == POVTRACK_ENOSPC || arc == -EDQUOT ||
                arc == MDB_MAP_FULL || arc == POVTRACK_EIO) {
                /* A full disk is not a reason to die: queries go on from
                 * the applied state, and applying resumes when space
                 * returns.  (LMDB reports a short write as EIO; a failing
                 * disk gets the same patient retries, which a restart
                 * would not improve on.)  Say so once per episode. */
                if (!disk_full)
                    pt_logf(&h->log, PT_LOG_ERROR,
                            "state: %s; applying paused, retrying every "
                            "%d ms",
                            st_strerror(arc), DISK_FULL_RETRY_MS);
                disk_full = 1;
                retry_at = now_ms() + DISK_FULL_RETRY_MS;
                n = 0;
            } else if (arc != 0) {
                rc = arc;
                break;
            } else if (disk_full && n > 0) {
                pt_logf(&h->log, PT_LOG_INFO,
                        "state: space is back; applying resumed");
                disk_full = 0;
            }
            more = n > 0 || disk_full;
        }
        if (nparked > 0)
            answer_parked(h, auth, router, parked, &nparked, 0);
        h->parked = nparked;
        /* Wall-clock checks (deadlines, idle money) must see the log as it
         * is, not half applied: tick once caught up, unless a steady flood
         * of events has kept it waiting for a minute. */
        int64_t t = now_ms();
        if (t >= next_tick && (!more || t >= next_tick + TICK_LATE_MS)) {
            pt_host_tick(h, (int64_t)time(NULL));
            next_tick = now_ms() + TICK_MS;
            more = 1; /* also catches a missed notification */
        }
    }
    if (parked != NULL) {
        answer_parked(h, auth, router, parked, &nparked, 1);
        free(parked);
    }
    h->queries = NULL;
    zmq_close(router);
    if (h->pub != NULL)
        zmq_close(h->pub);
    h->pub = NULL;
    h->auth = NULL;
    pt_auth_close(auth);
    zmq_ctx_term(zctx);
    pt_logf(&h->log, PT_LOG_INFO, "plugin host stopped at applied seq %llu",
            (unsigned long long)pt_host_applied_seq(h));
    return rc;
}
