/*
 * client.c - the client library's sockets: connections, round trips with
 * Lazy Pirate retries, alerts (see <povtrack/client.h>).  What the bytes
 * mean is the protocol module's (<povtrack/protocol.h>); key files are read
 * by keyfile.c.
 */
#include <povtrack/client.h>

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#define ERR_MAX 512

struct povtrack_client {
    void *ctx;
    void *sock[3];
    char *endpoint[3];
    void *monitor[3]; /* CURVE only: handshake events of sock[i] */
    /* Monitors made so far: each gets an inproc name of its own, because a
     * closed socket keeps its monitor's name bound until libzmq's reaper
     * has destroyed it, after zmq_close returns (a retry reopens at once). */
    unsigned monitors;
    int timeout_ms;
    int retries;
    bool curve;
    char server_key[POVTRACK_CLIENT_KEY_Z85];
    char public_key[POVTRACK_CLIENT_KEY_Z85];
    char secret_key[POVTRACK_CLIENT_KEY_Z85];
    char err[ERR_MAX];
};

static const char *const endpoint_names[3] = {"ingest", "query", "alerts"};

static int fail(povtrack_client *c, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(povtrack_client *c, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, sizeof(c->err), fmt, ap);
    va_end(ap);
    return rc;
}

/* errors.h cannot include zmq.h: its copy of ZeroMQ's base is checked. */
_Static_assert(POVTRACK_ZMQ_HAUSNUMERO == ZMQ_HAUSNUMERO, "ZMQ_HAUSNUMERO");

const char *povtrack_client_strerror(int rc)
{
    return povtrack_strerror(rc);
}

int povtrack_client_open(povtrack_client **out)
{
    static const char *const defaults[3] = {POVTRACK_PROTO_INGEST_DEFAULT,
                                            POVTRACK_PROTO_QUERY_DEFAULT,
                                            POVTRACK_PROTO_ALERTS_DEFAULT};
    povtrack_client *c;

    *out = NULL;
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return POVTRACK_CLIENT_ENOMEM;
    for (int i = 0; i < 3; i++) {
        c->endpoint[i] = strdup(defaults[i]);
        if (c->endpoint[i] == NULL) {
            povtrack_client_close(c);
            return POVTRACK_CLIENT_ENOMEM;
        }
    }
    c->ctx = zmq_ctx_new();
    if (c->ctx == NULL) {
        int rc = povtrack_zmq_error(zmq_errno());
        povtrack_client_close(c);
        return rc;
    }
    c->timeout_ms = POVTRACK_CLIENT_TIMEOUT_DEFAULT;
    c->retries = POVTRACK_CLIENT_RETRIES_DEFAULT;
    *out = c;
    return POVTRACK_CLIENT_OK;
}

static void close_socket(povtrack_client *c, int which)
{
    if (c->sock[which] != NULL) {
        zmq_close(c->sock[which]);
        c->sock[which] = NULL;
    }
    if (c->monitor[which] != NULL) {
        zmq_close(c->monitor[which]);
        c->monitor[which] = NULL;
    }
}

void povtrack_client_close(povtrack_client *c)
{
    if (c == NULL)
        return;
    for (int i = 0; i < 3; i++) {
        close_socket(c, i);
        free(c->endpoint[i]);
    }
    if (c->ctx != NULL)
        zmq_ctx_term(c->ctx);
    /* The secret key must not outlive the client in freed memory. */
    memset(c->secret_key, 0, sizeof(c->secret_key));
    free(c);
}

int povtrack_client_set_curve(povtrack_client *c, const char *server_key,
                              const char *public_key, const char *secret_key)
{
    if (server_key == NULL) {
        c->curve = false;
    } else {
        if (!povtrack_client_key_valid(server_key))
            return fail(c, POVTRACK_CLIENT_EINVAL,
                        "server key: not a 40-character Z85 CURVE key");
        if (!povtrack_client_key_valid(public_key) ||
            !povtrack_client_key_valid(secret_key))
            return fail(c, POVTRACK_CLIENT_EINVAL,
                        "client key pair: not 40-character Z85 CURVE keys");
        memcpy(c->server_key, server_key, POVTRACK_CLIENT_KEY_Z85);
        memcpy(c->public_key, public_key, POVTRACK_CLIENT_KEY_Z85);
        memcpy(c->secret_key, secret_key, POVTRACK_CLIENT_KEY_Z85);
        c->curve = true;
    }
    for (int i = 0; i < 3; i++)
        close_socket(c, i);
    return POVTRACK_CLIENT_OK;
}

int povtrack_client_set_endpoint(povtrack_client *c,
                                 enum povtrack_client_endpoint which,
                                 const char *endpoint)
{
    char *copy;

    if ((unsigned)which > 2 || endpoint == NULL || endpoint[0] == '\0')
        return fail(c, POVTRACK_CLIENT_EINVAL, "empty or unknown endpoint");
    copy = strdup(endpoint);
    if (copy == NULL)
        return fail(c, POVTRACK_CLIENT_ENOMEM, "out of memory");
    close_socket(c, which);
    free(c->endpoint[which]);
    c->endpoint[which] = copy;
    return POVTRACK_CLIENT_OK;
}

const char *povtrack_client_endpoint(const povtrack_client *c,
                                     enum povtrack_client_endpoint which)
{
    return (unsigned)which > 2 ? NULL : c->endpoint[which];
}

int povtrack_client_set_retries(povtrack_client *c, int retries)
{
    if (retries < 0 || retries > POVTRACK_CLIENT_RETRIES_MAX)
        return fail(c, POVTRACK_CLIENT_EINVAL, "retries must be 0 to %d",
                    POVTRACK_CLIENT_RETRIES_MAX);
    c->retries = retries;
    return POVTRACK_CLIENT_OK;
}

int povtrack_client_retries(const povtrack_client *c)
{
    return c->retries;
}

int povtrack_client_set_timeout(povtrack_client *c, int timeout_ms)
{
    if (timeout_ms <= 0)
        return fail(c, POVTRACK_CLIENT_EINVAL,
                    "timeout must be a positive number of ms, got %d",
                    timeout_ms);
    c->timeout_ms = timeout_ms;
    /* SNDTIMEO was set from the old value: reconnect with the new one. */
    close_socket(c, POVTRACK_CLIENT_INGEST);
    close_socket(c, POVTRACK_CLIENT_QUERY);
    return POVTRACK_CLIENT_OK;
}

int povtrack_client_timeout(const povtrack_client *c)
{
    return c->timeout_ms;
}

const char *povtrack_client_error(const povtrack_client *c)
{
    return c->err;
}

/* ---- replies ---------------------------------------------------------- */

void povtrack_client_msg_free(struct povtrack_client_msg *msg)
{
    if (msg == NULL)
        return;
    if (msg->zone_ != NULL)
        msgpack_zone_free(msg->zone_);
    free(msg->buf_);
    memset(msg, 0, sizeof(*msg));
}

/* Decode exactly one object from data into msg (which takes a copy of the
 * bytes, since msgpack-c's objects point into them). */
static int decode(povtrack_client *c, const void *data, size_t len,
                  const char *what, int which, struct povtrack_client_msg *msg)
{
    char why[POVTRACK_PROTO_ERROR_MAX];
    int rc;

    msg->buf_ = malloc(len > 0 ? len : 1);
    msg->zone_ = msgpack_zone_new(MSGPACK_ZONE_CHUNK_SIZE);
    if (msg->buf_ == NULL || msg->zone_ == NULL)
        return fail(c, POVTRACK_CLIENT_ENOMEM, "out of memory decoding %s",
                    what);
    if (len > 0)
        memcpy(msg->buf_, data, len);
    rc = povtrack_proto_unpack(msg->buf_, len, msg->zone_, &msg->obj, why,
                               sizeof why);
    if (rc == POVTRACK_ENOMEM)
        return fail(c, POVTRACK_CLIENT_ENOMEM, "out of memory decoding %s",
                    what);
    if (rc != 0)
        return fail(c, POVTRACK_CLIENT_EPROTO,
                    "%s from %s: not one well-formed msgpack object (%zu "
                    "bytes: %s)",
                    what, c->endpoint[which], len, why);
    return POVTRACK_CLIENT_OK;
}

const msgpack_object *povtrack_client_map_get(const msgpack_object *map,
                                              const char *key)
{
    return povtrack_proto_map_get(map, key);
}

/* ---- request/reply ---------------------------------------------------- */

static int set_int(void *sock, int opt, int v)
{
    return zmq_setsockopt(sock, opt, &v, sizeof(v));
}

/* CURVE keys on s, and a monitor that tells us when the daemon refused
 * the handshake: ZeroMQ otherwise shows a refused key only as silence. */
static int secure(povtrack_client *c, void *s, int which)
{
    char ep[64];
    if (zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, c->server_key, 40) != 0 ||
        zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, c->public_key, 40) != 0 ||
        zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, c->secret_key, 40) != 0)
        return povtrack_zmq_error(zmq_errno());
    snprintf(ep, sizeof(ep), "inproc://povtrack-monitor-%p-%d-%u", (void *)c,
             which, c->monitors++);
    if (zmq_socket_monitor(s, ep,
                           ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
                               ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) != 0)
        return povtrack_zmq_error(zmq_errno());
    void *m = zmq_socket(c->ctx, ZMQ_PAIR);
    if (m == NULL)
        return povtrack_zmq_error(zmq_errno());
    if (set_int(m, ZMQ_LINGER, 0) != 0 || zmq_connect(m, ep) != 0) {
        int rc = povtrack_zmq_error(zmq_errno());
        zmq_close(m);
        return rc;
    }
    c->monitor[which] = m;
    return 0;
}

/* The ZAP status of a refused handshake seen on the monitor of which (e.g.
 * 400), 1 for another handshake failure, 0 for none. */
static int handshake_refused(povtrack_client *c, int which)
{
    int refused = 0;
    void *m = c->monitor[which];
    while (m != NULL) {
        zmq_msg_t ev, addr;
        zmq_msg_init(&ev);
        if (zmq_msg_recv(&ev, m, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&ev);
            break;
        }
        /* Frame 1: uint16 event, uint32 value; frame 2: the address. */
        if (zmq_msg_size(&ev) == 6) {
            const uint8_t *d = zmq_msg_data(&ev);
            uint16_t event;
            uint32_t value;
            memcpy(&event, d, 2);
            memcpy(&value, d + 2, 4);
            if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
                refused = (int)value;
            else if (refused == 0)
                refused = 1;
        }
        int more = zmq_msg_more(&ev);
        zmq_msg_close(&ev);
        zmq_msg_init(&addr);
        if (more)
            zmq_msg_recv(&addr, m, ZMQ_DONTWAIT);
        zmq_msg_close(&addr);
    }
    return refused;
}

static int open_socket(povtrack_client *c, int which)
{
    void *s;
    int64_t maxmsg = which == POVTRACK_CLIENT_ALERTS
                         ? (int64_t)POVTRACK_PROTO_ALERT_MAX
                         : (int64_t)POVTRACK_PROTO_REPLY_MAX;

    if (c->sock[which] != NULL)
        return POVTRACK_CLIENT_OK;
    s = zmq_socket(c->ctx,
                   which == POVTRACK_CLIENT_ALERTS ? ZMQ_SUB : ZMQ_DEALER);
    if (s == NULL)
        return fail(c, povtrack_zmq_error(zmq_errno()),
                    "cannot create %s socket: %s", endpoint_names[which],
                    zmq_strerror(zmq_errno()));
    /* Linger 0: a request nobody answered must not keep close() waiting.
     * MAXMSGSIZE: a peer that is not povtrackd cannot make us buffer
     * unbounded input (the connection is dropped instead). */
    if (set_int(s, ZMQ_LINGER, 0) != 0 ||
        zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg)) != 0 ||
        (c->curve && secure(c, s, which) != 0) ||
        (which != POVTRACK_CLIENT_ALERTS &&
         set_int(s, ZMQ_SNDTIMEO, c->timeout_ms) != 0) ||
        zmq_connect(s, c->endpoint[which]) != 0) {
        int e = zmq_errno();
        zmq_close(s);
        return fail(c, povtrack_zmq_error(e), "cannot connect to %s: %s",
                    c->endpoint[which], zmq_strerror(e));
    }
    c->sock[which] = s;
    return POVTRACK_CLIENT_OK;
}

static int timed_out(povtrack_client *c, int which)
{
    int refused = handshake_refused(c, which);
    close_socket(c, which);
    if (refused > 1)
        return fail(c, POVTRACK_CLIENT_EREFUSED,
                    "povtrackd at %s refused this client's key (status %d): "
                    "is its public key in the daemon's publisher registry, "
                    "with the right to use this endpoint?",
                    c->endpoint[which], refused);
    if (refused == 1)
        return fail(c, POVTRACK_CLIENT_EREFUSED,
                    "CURVE handshake with %s failed: is --server-key the "
                    "daemon's public key, and does the daemon use CURVE?",
                    c->endpoint[which]);
    return fail(c, POVTRACK_CLIENT_ETIMEDOUT,
                "cannot reach povtrackd at %s: timed out after %d ms",
                c->endpoint[which], c->timeout_ms);
}

/* Receive the rest of a multipart message and throw it away. */
static void drain(void *sock)
{
    int more = 1;
    size_t sz = sizeof(more);

    while (zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &sz) == 0 && more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            return;
        }
        zmq_msg_close(&m);
    }
}

/* One round trip on a DEALER: [empty, payload] out, [empty, payload] in.
 * Any failure after the send closes the socket so that whatever the daemon
 * sends later for this request is dropped with it. */
static int attempt(povtrack_client *c, int which, const void *data, size_t len,
                   const char *what, struct povtrack_client_msg *reply)
{
    void *s;
    zmq_pollitem_t item;
    zmq_msg_t delim, payload;
    int rc, n;

    rc = open_socket(c, which);
    if (rc != 0)
        return rc;
    s = c->sock[which];
    if (zmq_send(s, "", 0, ZMQ_SNDMORE) < 0 || zmq_send(s, data, len, 0) < 0) {
        int e = zmq_errno();
        if (e == EAGAIN)
            return timed_out(c, which);
        close_socket(c, which);
        if (e == EINTR)
            return fail(c, POVTRACK_CLIENT_EINTR, "interrupted");
        return fail(c, povtrack_zmq_error(e), "cannot send to %s: %s",
                    c->endpoint[which], zmq_strerror(e));
    }
    item.socket = s;
    item.fd = -1;
    item.events = ZMQ_POLLIN;
    item.revents = 0;
    n = zmq_poll(&item, 1, c->timeout_ms);
    if (n < 0) {
        int e = zmq_errno();
        close_socket(c, which);
        if (e == EINTR)
            return fail(c, POVTRACK_CLIENT_EINTR, "interrupted");
        return fail(c, povtrack_zmq_error(e), "poll on %s: %s",
                    c->endpoint[which], zmq_strerror(e));
    }
    if (n == 0)
        return timed_out(c, which);

    /* Frames of one message arrive together, so DONTWAIT cannot split it. */
    zmq_msg_init(&delim);
    zmq_msg_init(&payload);
    if (zmq_msg_recv(&delim, s, ZMQ_DONTWAIT) < 0 ||
        zmq_msg_size(&delim) != 0 || !zmq_msg_more(&delim) ||
        zmq_msg_recv(&payload, s, ZMQ_DONTWAIT) < 0 || zmq_msg_more(&payload)) {
        drain(s);
        close_socket(c, which);
        rc = fail(c, POVTRACK_CLIENT_EPROTO,
                  "%s from %s: expected an empty delimiter and one payload "
                  "frame",
                  what, c->endpoint[which]);
    } else {
        rc = decode(c, zmq_msg_data(&payload), zmq_msg_size(&payload), what,
                    which, reply);
    }
    zmq_msg_close(&delim);
    zmq_msg_close(&payload);
    return rc;
}

/* Lazy Pirate: after a timeout the socket is already closed (a late reply
 * dies with it), so send the very same bytes again on a fresh one.  Safe
 * because ingest deduplicates by id and queries only read. */
static int roundtrip(povtrack_client *c, int which, const void *data,
                     size_t len, const char *what,
                     struct povtrack_client_msg *reply)
{
    int rc = attempt(c, which, data, len, what, reply);
    for (int i = 0; i < c->retries && rc == POVTRACK_CLIENT_ETIMEDOUT; i++)
        rc = attempt(c, which, data, len, what, reply);
    if (rc == POVTRACK_CLIENT_ETIMEDOUT && c->retries > 0)
        fail(c, POVTRACK_CLIENT_ETIMEDOUT,
             "cannot reach povtrackd at %s: timed out after %d attempts of "
             "%d ms",
             c->endpoint[which], c->retries + 1, c->timeout_ms);
    return rc;
}

/* ---- ingest ----------------------------------------------------------- */

void povtrack_client_acks_free(struct povtrack_acks *acks)
{
    povtrack_proto_acks_free(acks);
}

/* Read the element count of the array header at the start of frame. */
static bool array_count(const unsigned char *p, size_t len, uint64_t *count)
{
    if (len >= 1 && p[0] >= 0x90 && p[0] <= 0x9f) {
        *count = p[0] & 0x0f;
        return true;
    }
    if (len >= 3 && p[0] == 0xdc) {
        *count = (uint64_t)p[1] << 8 | p[2];
        return true;
    }
    if (len >= 5 && p[0] == 0xdd) {
        *count = (uint64_t)p[1] << 24 | (uint64_t)p[2] << 16 |
                 (uint64_t)p[3] << 8 | p[4];
        return true;
    }
    return false;
}

int povtrack_client_publish(povtrack_client *c, const void *frame, size_t len,
                            struct povtrack_acks *out)
{
    struct povtrack_client_msg reply;
    char why[POVTRACK_PROTO_ERROR_MAX];
    uint64_t count;
    int rc;

    memset(out, 0, sizeof(*out));
    if (frame == NULL || !array_count(frame, len, &count) || count == 0)
        return fail(c, POVTRACK_CLIENT_EINVAL,
                    "the ingest frame must be a msgpack array of events");
    if (count > POVTRACK_PROTO_EVENTS_MAX || len > POVTRACK_PROTO_FRAME_MAX)
        return fail(c, POVTRACK_CLIENT_ETOOBIG,
                    "ingest frame of %llu events, %zu bytes: the limits "
                    "are %u events and %u bytes",
                    (unsigned long long)count, len, POVTRACK_PROTO_EVENTS_MAX,
                    POVTRACK_PROTO_FRAME_MAX);
    memset(&reply, 0, sizeof(reply));
    rc = roundtrip(c, POVTRACK_CLIENT_INGEST, frame, len, "ingest reply",
                   &reply);
    if (rc == 0) {
        rc = povtrack_proto_parse_acks(&reply.obj, out, why, sizeof why);
        if (rc == -ENOMEM)
            rc = fail(c, POVTRACK_CLIENT_ENOMEM, "out of memory");
        else if (rc != 0)
            rc = fail(c, POVTRACK_CLIENT_EPROTO, "ingest reply from %s: %s",
                      c->endpoint[POVTRACK_CLIENT_INGEST], why);
    }
    povtrack_client_msg_free(&reply);
    if (rc != 0) {
        povtrack_client_acks_free(out);
        return rc;
    }
    if (out->count == count)
        return POVTRACK_CLIENT_OK;
    if (out->count == 1 && out->acks[0].id == NULL &&
        out->acks[0].status == POVTRACK_ACK_REJECTED)
        return fail(c, POVTRACK_CLIENT_EREFUSED,
                    "povtrackd refused the whole frame: %s",
                    out->acks[0].error);
    rc = fail(c, POVTRACK_CLIENT_EPROTO,
              "povtrackd sent %zu acks for %llu events", out->count,
              (unsigned long long)count);
    povtrack_client_acks_free(out);
    return rc;
}

int povtrack_client_publish_events(povtrack_client *c,
                                   const msgpack_sbuffer *events, size_t count,
                                   struct povtrack_acks *out)
{
    unsigned char *frame;
    size_t hdr;
    int rc;

    memset(out, 0, sizeof(*out));
    if (events == NULL || count == 0)
        return fail(c, POVTRACK_CLIENT_EINVAL, "no events to publish");
    if (count > POVTRACK_PROTO_EVENTS_MAX ||
        events->size > POVTRACK_PROTO_FRAME_MAX - 3)
        return fail(c, POVTRACK_CLIENT_ETOOBIG,
                    "batch of %zu events, %zu bytes: the limits are %u "
                    "events and %u bytes per frame",
                    count, events->size, POVTRACK_PROTO_EVENTS_MAX,
                    POVTRACK_PROTO_FRAME_MAX);
    frame = malloc(events->size + 3);
    if (frame == NULL)
        return fail(c, POVTRACK_CLIENT_ENOMEM, "out of memory");
    if (count <= 15) {
        frame[0] = (unsigned char)(0x90 | count);
        hdr = 1;
    } else {
        frame[0] = 0xdc;
        frame[1] = (unsigned char)(count >> 8);
        frame[2] = (unsigned char)count;
        hdr = 3;
    }
    if (events->size > 0)
        memcpy(frame + hdr, events->data, events->size);
    rc = povtrack_client_publish(c, frame, hdr + events->size, out);
    free(frame);
    return rc;
}

/* ---- query ------------------------------------------------------------ */

int povtrack_client_request(povtrack_client *c, const void *req, size_t len,
                            struct povtrack_client_msg *reply)
{
    const char *error;
    size_t error_len;
    bool ok;
    int rc;

    memset(reply, 0, sizeof(*reply));
    if (req == NULL || len == 0)
        return fail(c, POVTRACK_CLIENT_EINVAL, "empty query request");
    if (len > POVTRACK_PROTO_FRAME_MAX)
        return fail(c, POVTRACK_CLIENT_ETOOBIG,
                    "query request of %zu bytes: the limit is %u", len,
                    POVTRACK_PROTO_FRAME_MAX);
    rc = roundtrip(c, POVTRACK_CLIENT_QUERY, req, len, "query reply", reply);
    if (rc != 0)
        return rc;
    if (povtrack_proto_parse_reply(&reply->obj, &ok, &error, &error_len) != 0)
        return fail(c, POVTRACK_CLIENT_EPROTO,
                    "query reply from %s has no \"ok\"",
                    c->endpoint[POVTRACK_CLIENT_QUERY]);
    if (ok)
        return POVTRACK_CLIENT_OK;
    if (error != NULL)
        return fail(c, POVTRACK_CLIENT_EREFUSED, "povtrackd: %.*s",
                    (int)error_len, error);
    return fail(c, POVTRACK_CLIENT_EREFUSED,
                "povtrackd: request failed (no message)");
}

int povtrack_client_simple(povtrack_client *c, const char *op,
                           struct povtrack_client_msg *reply)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    int rc;

    memset(reply, 0, sizeof(*reply));
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    if (povtrack_proto_pack_request(&pk, op, 0) != 0) {
        msgpack_sbuffer_destroy(&sb);
        return fail(c, POVTRACK_CLIENT_ENOMEM, "out of memory");
    }
    rc = povtrack_client_request(c, sb.data, sb.size, reply);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

/* ---- alerts ----------------------------------------------------------- */

int povtrack_client_subscribe(povtrack_client *c, const char *prefix)
{
    int rc = open_socket(c, POVTRACK_CLIENT_ALERTS);

    if (rc != 0)
        return rc;
    if (zmq_setsockopt(c->sock[POVTRACK_CLIENT_ALERTS], ZMQ_SUBSCRIBE, prefix,
                       strlen(prefix)) != 0)
        return fail(c, povtrack_zmq_error(zmq_errno()),
                    "cannot subscribe to \"%s\": %s", prefix,
                    zmq_strerror(zmq_errno()));
    return POVTRACK_CLIENT_OK;
}

int povtrack_client_recv_alert(povtrack_client *c, int timeout_ms,
                               struct povtrack_client_msg *msg)
{
    void *s = c->sock[POVTRACK_CLIENT_ALERTS];
    zmq_pollitem_t item;
    zmq_msg_t topic, body;
    int n, rc;

    memset(msg, 0, sizeof(*msg));
    if (s == NULL || timeout_ms < 0)
        return fail(c, POVTRACK_CLIENT_EINVAL,
                    s == NULL ? "not subscribed to alerts"
                              : "negative alert timeout");
    item.socket = s;
    item.fd = -1;
    item.events = ZMQ_POLLIN;
    item.revents = 0;
    n = zmq_poll(&item, 1, timeout_ms);
    if (n < 0) {
        int e = zmq_errno();
        if (e == EINTR)
            return fail(c, POVTRACK_CLIENT_EINTR, "interrupted");
        return fail(c, povtrack_zmq_error(e), "poll on %s: %s",
                    c->endpoint[POVTRACK_CLIENT_ALERTS], zmq_strerror(e));
    }
    if (n == 0) {
        /* Silence on a SUB socket is normal, unless the daemon refused us. */
        if (handshake_refused(c, POVTRACK_CLIENT_ALERTS) > 1)
            return fail(c, POVTRACK_CLIENT_EREFUSED,
                        "povtrackd at %s refused this client's key: is it "
                        "in the publisher registry with alerts = yes?",
                        c->endpoint[POVTRACK_CLIENT_ALERTS]);
        return fail(c, POVTRACK_CLIENT_ETIMEDOUT,
                    "no alert from %s within %d ms",
                    c->endpoint[POVTRACK_CLIENT_ALERTS], timeout_ms);
    }
    zmq_msg_init(&topic);
    zmq_msg_init(&body);
    if (zmq_msg_recv(&topic, s, ZMQ_DONTWAIT) < 0 || !zmq_msg_more(&topic) ||
        zmq_msg_recv(&body, s, ZMQ_DONTWAIT) < 0 || zmq_msg_more(&body)) {
        drain(s);
        rc = fail(c, POVTRACK_CLIENT_EPROTO,
                  "alert from %s: expected a topic and one body frame",
                  c->endpoint[POVTRACK_CLIENT_ALERTS]);
    } else if (zmq_msg_size(&topic) >= sizeof(msg->topic) ||
               memchr(zmq_msg_data(&topic), '\0', zmq_msg_size(&topic))) {
        rc = fail(c, POVTRACK_CLIENT_EPROTO,
                  "alert topic of %zu bytes is too long or not text",
                  zmq_msg_size(&topic));
    } else {
        rc = decode(c, zmq_msg_data(&body), zmq_msg_size(&body), "alert",
                    POVTRACK_CLIENT_ALERTS, msg);
        if (rc == 0 && msg->obj.type != MSGPACK_OBJECT_MAP)
            rc = fail(c, POVTRACK_CLIENT_EPROTO, "alert body is not a map");
        if (rc == 0) {
            memcpy(msg->topic, zmq_msg_data(&topic), zmq_msg_size(&topic));
            msg->topic[zmq_msg_size(&topic)] = '\0';
        }
    }
    zmq_msg_close(&topic);
    zmq_msg_close(&body);
    if (rc != 0)
        povtrack_client_msg_free(msg);
    return rc;
}
