/*
 * pt_auth.h - who is at the other end of the daemon's sockets.
 *
 * With [security] configured, every server socket speaks CURVE with the
 * daemon's key pair, and a ZAP handler (RFC 27, on inproc://zeromq.zap.01 of
 * the process's ZeroMQ context) admits a client only if its public key is in
 * the publisher registry with a right for that endpoint:
 *
 *   domain "ingest"  publishes something        ("publish" set)
 *   domain "query"   queries something          ("query" or "alerts" set)
 *   domain "alerts"  subscribes to alerts       ("alerts = yes")
 *
 * An admitted connection's messages carry, as ZAP metadata, the publisher's
 * name (User-Id) and the key it authenticated with (PT_AUTH_KEY_PROPERTY,
 * Z85); the ZAP handler's values win over any the client sends.  Who a
 * request is from is decided by that key, never by a field the client
 * sends, and by the registry in force when the request is handled: a key
 * revoked by a reload is refused on connections opened before it (see
 * pt_auth_sender).  Without [security] (plain mode, loopback only) nothing
 * is authenticated and every client is the publisher "unauthenticated"
 * with every right; the daemon says so loudly at start.
 *
 * Refusals are logged at most once a minute per key (pt_refusals.h).
 *
 * The ZAP handler is not a thread: the owner polls pt_auth_zap_socket() in
 * its loop and calls pt_auth_zap_handle() when it is readable.  A handshake
 * waits at most one loop turn.
 */
#ifndef POVTRACK_PT_AUTH_H
#define POVTRACK_PT_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <zmq.h>

#include "pt_config.h"
#include "pt_log.h"
#include "pt_registry.h"

#define PT_PUBLISHER_UNAUTH "unauthenticated"
/* The ZAP metadata property holding the client's public key, Z85. */
#define PT_AUTH_KEY_PROPERTY "X-Curve-Key"
#define PT_AUTH_HANDSHAKE_MS 5000 /* a handshake must finish within this */

struct pt_auth;

/* Read the key pair and the registry named by cfg (nothing in plain mode)
 * and bind the ZAP handler in zctx.  Call before binding any server socket.
 * Returns 0, or a code of <povtrack/errors.h> with err set (the key file's
 * or the registry's error, POVTRACK_ENOMEM, ZeroMQ's). */
int pt_auth_open(const struct pt_config *cfg, const struct pt_log *log,
                 void *zctx, struct pt_auth **out, char *err, size_t errlen);
void pt_auth_close(struct pt_auth *a);

/* Is CURVE on? */
bool pt_auth_secure(const struct pt_auth *a);

/* Make sock a CURVE server for domain ("ingest", "query", "alerts"), before
 * it binds; in plain mode only bound the handshake time.  Returns 0 or
 * ZeroMQ's error (povtrack_zmq_error). */
int pt_auth_server_socket(struct pt_auth *a, void *sock, const char *domain);

/* The ZAP socket to poll for ZMQ_POLLIN; NULL in plain mode. */
void *pt_auth_zap_socket(const struct pt_auth *a);

/* Answer every ZAP request waiting.  Never blocks. */
void pt_auth_zap_handle(struct pt_auth *a);

/* How many handshakes on domain's endpoint ("ingest", "query", "alerts")
 * the ZAP handler refused since a was opened (0 in plain mode, or for a
 * NULL a). */
uint64_t pt_auth_handshakes_refused(const struct pt_auth *a,
                                    const char *domain);

/* Read the registry again (SIGHUP).  On an error the old registry stays in
 * force and err says why.  Connections stay up; each request is checked by
 * its connection's key against the registry in force (pt_auth_sender), so
 * a narrowed, moved or removed key loses its rights from its next request
 * on.  Subscriptions have no requests: *alerts_lost (may be NULL) is set to
 * the number of keys that had alerts = yes and no longer have it (removed,
 * replaced or alerts = no), for the owner of the alerts socket to drop
 * their connections.  Returns 0 or pt_registry_load's error (plain mode: 0,
 * nothing read). */
int pt_auth_reload(struct pt_auth *a, size_t *alerts_lost, char *err,
                   size_t errlen);

/* The publisher who sent msg (any frame received from a server socket set
 * up here for domain, "ingest" or "query"), looked up by the key its
 * connection authenticated with, in the registry in force now.  NULL when
 * that key was revoked since the handshake: no longer in the registry,
 * registered under another name than the connection was admitted as, or
 * without any right on domain; why then says so for the client, e.g. "the
 * key this connection authenticated with (as "mttq-593") has been revoked:
 * it is no longer in the publisher registry", and the refusal is logged
 * (once a minute per key).  Narrowed rights (some right left) are the
 * caller's to check, per event or per op.  The publisher is valid until
 * the next pt_auth_reload(): never keep it across one. */
const struct pt_publisher *pt_auth_sender(struct pt_auth *a, zmq_msg_t *msg,
                                          const char *domain, char *why,
                                          size_t whylen);

#endif /* POVTRACK_PT_AUTH_H */
