/*
 * povtrack/client.h - talk to povtrackd: publish events, query, alerts.
 *
 * This header is the whole contract of the client library
 * (libpovtrack-client, built from tools/client/).  An agency's own C program
 * compiles and links with `pkg-config --cflags --libs povtrack-client` and
 * uses only what is declared here and in <povtrack/protocol.h>, the wire
 * protocol v1 it speaks (endpoints, limits, field names, acks), which this
 * header includes.
 *
 * Sockets are created on first use.  Every call that waits for the daemon
 * waits at most the client's timeout: ZeroMQ never reports "daemon down",
 * only silence, so a timeout is how unreachability shows.  After a timeout
 * the request socket is closed and recreated and the same request is sent
 * again, up to the client's retries ("Lazy Pirate"), so a reply that
 * arrives late can never be taken for the reply to another request.  That
 * is safe: ingest deduplicates events by id (what was stored comes back
 * "duplicate"), and queries only read.  A publisher whose call finally
 * times out may send the same events again later, as often as it likes.
 *
 * Errors: every function that can fail returns 0 or a negative code of
 * <povtrack/errors.h>, the one error space of povtrack (the names of enum
 * povtrack_client_rc are those codes); povtrack_client_error() then
 * describes the first failure of that call with its context (endpoint,
 * timeout, daemon message), povtrack_strerror() what the code means.
 *
 * Threads: a client is not thread-safe; use one client per thread.  The
 * library keeps no global state.
 */
#ifndef POVTRACK_CLIENT_H
#define POVTRACK_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include <povtrack/protocol.h>

#ifdef __cplusplus
extern "C" {
#endif

#define POVTRACK_CLIENT_TIMEOUT_DEFAULT 5000 /* milliseconds */
#define POVTRACK_CLIENT_RETRIES_DEFAULT 2    /* sends after the first */
#define POVTRACK_CLIENT_RETRIES_MAX 100

/* Deprecated: the protocol's constants under the names this header gave
 * them before <povtrack/protocol.h> existed; use the POVTRACK_PROTO_*
 * names.  A request above the limits is refused locally with
 * POVTRACK_CLIENT_ETOOBIG rather than sent to be refused; replies and
 * alerts above theirs are dropped by the socket (ZMQ_MAXMSGSIZE). */
#define POVTRACK_CLIENT_PROTOCOL POVTRACK_PROTO_VERSION
#define POVTRACK_CLIENT_INGEST_DEFAULT POVTRACK_PROTO_INGEST_DEFAULT
#define POVTRACK_CLIENT_QUERY_DEFAULT POVTRACK_PROTO_QUERY_DEFAULT
#define POVTRACK_CLIENT_ALERTS_DEFAULT POVTRACK_PROTO_ALERTS_DEFAULT
#define POVTRACK_CLIENT_FRAME_MAX POVTRACK_PROTO_FRAME_MAX
#define POVTRACK_CLIENT_BATCH_MAX POVTRACK_PROTO_EVENTS_MAX
#define POVTRACK_CLIENT_REPLY_MAX POVTRACK_PROTO_REPLY_MAX
#define POVTRACK_CLIENT_ALERT_MAX POVTRACK_PROTO_ALERT_MAX
#define POVTRACK_CLIENT_TOPIC_MAX POVTRACK_PROTO_TOPIC_MAX

/*
 * The codes the client returns, under the names they had before the error
 * space (their values were -1 .. -8 then).  ZeroMQ's errors that are errno
 * values come negated (-EINVAL for a malformed endpoint, -EADDRINUSE ...);
 * its own are POVTRACK_EZMQ: test "rc == POVTRACK_CLIENT_EZMQ" no more, but
 * print povtrack_strerror(rc).
 */
enum povtrack_client_rc {
    POVTRACK_CLIENT_OK = POVTRACK_OK,
    POVTRACK_CLIENT_EINVAL = POVTRACK_EINVAL,       /* bad argument */
    POVTRACK_CLIENT_ENOMEM = POVTRACK_ENOMEM,       /* out of memory */
    POVTRACK_CLIENT_ETIMEDOUT = POVTRACK_ETIMEDOUT, /* no reply in time:
                                                       daemon unreachable */
    POVTRACK_CLIENT_EZMQ = POVTRACK_EZMQ,           /* ZeroMQ refused */
    POVTRACK_CLIENT_EPROTO =
        POVTRACK_EPROTO, /* the reply breaks the protocol */
    POVTRACK_CLIENT_ETOOBIG = POVTRACK_EMSGSIZE, /* request above the limits */
    POVTRACK_CLIENT_EINTR = POVTRACK_EINTR, /* a signal interrupted the wait */
    POVTRACK_CLIENT_EREFUSED = POVTRACK_EREFUSED /* daemon answered an error */
};

/* Which endpoint, for povtrack_client_set_endpoint(). */
enum povtrack_client_endpoint {
    POVTRACK_CLIENT_INGEST = 0,
    POVTRACK_CLIENT_QUERY = 1,
    POVTRACK_CLIENT_ALERTS = 2
};

typedef struct povtrack_client povtrack_client;

/* Create a client with the default endpoints and timeout.  Connects to
 * nothing yet.  Returns 0, POVTRACK_CLIENT_ENOMEM or ZeroMQ's error (no
 * error message is available then: *out is NULL). */
int povtrack_client_open(povtrack_client **out);

/* Close every socket without lingering (queued requests are dropped) and
 * free the client.  NULL is allowed. */
void povtrack_client_close(povtrack_client *c);

/* Change an endpoint ("tcp://host:port", "ipc://path"...).  Takes effect
 * for the next connection: an open socket for that endpoint is closed. */
int povtrack_client_set_endpoint(povtrack_client *c,
                                 enum povtrack_client_endpoint which,
                                 const char *endpoint);
const char *povtrack_client_endpoint(const povtrack_client *c,
                                     enum povtrack_client_endpoint which);

/* How many times a request that timed out is sent again (each on a fresh
 * socket, each waiting the timeout), 0..POVTRACK_CLIENT_RETRIES_MAX. */
int povtrack_client_set_retries(povtrack_client *c, int retries);
int povtrack_client_retries(const povtrack_client *c);

/* Receive timeout in milliseconds, > 0, per attempt. */
int povtrack_client_set_timeout(povtrack_client *c, int timeout_ms);
int povtrack_client_timeout(const povtrack_client *c);

/* ---- CURVE ------------------------------------------------------------ */

/* A CURVE key in Z85: 40 characters and the NUL. */
#define POVTRACK_CLIENT_KEY_Z85 41

/* Is z85 a CURVE key in Z85 (40 characters that decode to 32 bytes)? */
bool povtrack_client_key_valid(const char *z85);

/* Speak CURVE (encrypted, authenticated) on every connection: server_key is
 * the daemon's public key, public_key and secret_key this client's key
 * pair, all in Z85.  The daemon admits the client only if its public key is
 * in the publisher registry.  server_key NULL turns CURVE off.  Open sockets
 * are closed; the next call connects with the new keys.  When the daemon
 * refuses the key, calls fail with POVTRACK_CLIENT_EREFUSED and say so. */
int povtrack_client_set_curve(povtrack_client *c, const char *server_key,
                              const char *public_key, const char *secret_key);

/* Read a key file written by `povtrack keygen`: INI lines
 *   public-key = <Z85>
 *   secret-key = <Z85>     (only in the secret file, mode 0600)
 * with # or ; comment lines (at most 16 KiB in all).  Fills public_key, and
 * secret_key when it is not NULL (a file without a secret key is then an
 * error).  A secret key file readable by group or others is refused.
 * Returns 0, or with err set, naming the file, the line and the problem:
 * POVTRACK_EINVALID for what the file holds (or its mode), a negated errno
 * value when it cannot be read (-ENOENT ...).  Povtrackd reads its own key
 * pair with it. */
int povtrack_client_read_keyfile(const char *path,
                                 char public_key[POVTRACK_CLIENT_KEY_Z85],
                                 char secret_key[POVTRACK_CLIENT_KEY_Z85],
                                 char *err, size_t errlen);

/* The daemon's public key as a user gives it: the .pub file `povtrack
 * keygen` wrote, or the key itself in Z85.  A path that exists is read as a
 * file first, since a path can also be 40 characters of Z85.  Returns 0,
 * or what povtrack_client_read_keyfile() returns for the file, err set. */
int povtrack_client_read_server_key(const char *arg,
                                    char server_key[POVTRACK_CLIENT_KEY_Z85],
                                    char *err, size_t errlen);

/* What the last failing call failed on, e.g. "cannot reach povtrackd at
 * tcp://127.0.0.1:7170: timed out after 5000 ms".  Never NULL; valid until
 * the next call on c. */
const char *povtrack_client_error(const povtrack_client *c);

/* Deprecated: povtrack_strerror() of <povtrack/errors.h>, under the
 * client's name (it gave short texts of its own, "timed out" ...). */
const char *povtrack_client_strerror(int rc);

/* ---- Ingest ---------------------------------------------------------- */

/* An ingest reply, read: struct povtrack_acks of <povtrack/protocol.h>.
 * Deprecated: the names these types had before they moved there. */
#define povtrack_client_ack_status povtrack_ack_status
#define povtrack_client_ack povtrack_ack
#define povtrack_client_acks povtrack_acks

/* Send frame (an already packed msgpack array of event maps) and wait for
 * the acks.  On 0, out holds one ack per element of the frame, in order;
 * free it with povtrack_client_acks_free().  If the daemon rejects the frame
 * as a whole (a single ack with a nil id for a frame of several events),
 * returns POVTRACK_CLIENT_EREFUSED with the daemon's message and out holds
 * that one ack.  out is always safe to free afterwards. */
int povtrack_client_publish(povtrack_client *c, const void *frame, size_t len,
                            struct povtrack_acks *out);

/* Same, for count event maps packed one after another in events (no array
 * header: pack each map with the packer of events).  The array header is
 * added here.  count must be 1..POVTRACK_PROTO_EVENTS_MAX. */
int povtrack_client_publish_events(povtrack_client *c,
                                   const msgpack_sbuffer *events, size_t count,
                                   struct povtrack_acks *out);

/* povtrack_proto_acks_free(), under the client's name. */
void povtrack_client_acks_free(struct povtrack_acks *acks);

/* ---- Query ----------------------------------------------------------- */

/* A decoded message.  obj and every string in it stay valid until
 * povtrack_client_msg_free(); strings are NOT NUL-terminated. */
struct povtrack_client_msg {
    msgpack_object obj;
    char topic[POVTRACK_PROTO_TOPIC_MAX]; /* alerts only; else "" */
    void *buf_;                           /* private */
    msgpack_zone *zone_;                  /* private */
};

/* Send a packed query map and wait for the reply.  Returns 0 when the reply
 * is a map with "ok": true; POVTRACK_CLIENT_EREFUSED when "ok" is false
 * (povtrack_client_error() gives the daemon's "error"; reply is still
 * filled); other codes for transport and protocol failures.  reply is
 * always safe to free afterwards. */
int povtrack_client_request(povtrack_client *c, const void *req, size_t len,
                            struct povtrack_client_msg *reply);

/* Convenience: {"op": op} with no other field (ping, stats).  Other
 * requests are packed with <povtrack/protocol.h> (povtrack_proto_pack_query,
 * povtrack_proto_pack_request) and sent with povtrack_client_request(). */
int povtrack_client_simple(povtrack_client *c, const char *op,
                           struct povtrack_client_msg *reply);

void povtrack_client_msg_free(struct povtrack_client_msg *msg);

/* povtrack_proto_map_get(), under the client's name: the value of key in a
 * msgpack map, NULL if absent or obj is not a map. */
const msgpack_object *povtrack_client_map_get(const msgpack_object *map,
                                              const char *key);

/* ---- Alerts ---------------------------------------------------------- */

/* Connect to the alerts endpoint and subscribe to topics starting with
 * prefix ("alert." for all, "alert.poverty." for one plugin).  May be called
 * several times for several prefixes.  Messages published before the
 * subscription reaches the daemon are not seen: subscribe, then list past
 * alerts with the "alerts" query op, then receive. */
int povtrack_client_subscribe(povtrack_client *c, const char *prefix);

/* Wait up to timeout_ms (>= 0) for one alert; fills msg->topic and msg->obj
 * (the alert map).  POVTRACK_CLIENT_ETIMEDOUT when none came (not a failure
 * of the connection: PUB/SUB is silent when idle), POVTRACK_CLIENT_EINTR on
 * a signal. */
int povtrack_client_recv_alert(povtrack_client *c, int timeout_ms,
                               struct povtrack_client_msg *msg);

#ifdef __cplusplus
}
#endif

#endif /* POVTRACK_CLIENT_H */
