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
 * An admitted connection's messages carry the publisher's name as their
 * ZAP User-Id; that, never a field the client sends, is who a request is
 * from.  Without [security] (plain mode, loopback only) nothing is
 * authenticated and every client is the publisher "unauthenticated" with
 * every right; the daemon says so loudly at start.
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

#include <zmq.h>

#include "pt_config.h"
#include "pt_log.h"
#include "pt_registry.h"

#define PT_PUBLISHER_UNAUTH "unauthenticated"
#define PT_AUTH_HANDSHAKE_MS 5000 /* a handshake must finish within this */

struct pt_auth;

/* Read the key pair and the registry named by cfg (nothing in plain mode)
 * and bind the ZAP handler in zctx.  Call before binding any server socket.
 * Returns 0, or -1 with err set. */
int pt_auth_open(const struct pt_config *cfg, const struct pt_log *log,
                 void *zctx, struct pt_auth **out, char *err, size_t errlen);
void pt_auth_close(struct pt_auth *a);

/* Is CURVE on? */
bool pt_auth_secure(const struct pt_auth *a);

/* Make sock a CURVE server for domain ("ingest", "query", "alerts"), before
 * it binds; in plain mode only bound the handshake time.  Returns 0 or -1
 * (zmq_errno set). */
int pt_auth_server_socket(struct pt_auth *a, void *sock, const char *domain);

/* The ZAP socket to poll for ZMQ_POLLIN; NULL in plain mode. */
void *pt_auth_zap_socket(const struct pt_auth *a);

/* Answer every ZAP request waiting.  Never blocks. */
void pt_auth_zap_handle(struct pt_auth *a);

/* Read the registry again (SIGHUP).  On an error the old registry stays in
 * force and err says why.  Connections stay up; their rights are looked up
 * by name on every request, so a narrowed or removed publisher loses its
 * rights on its next request.  Returns 0 or -1. */
int pt_auth_reload(struct pt_auth *a, char *err, size_t errlen);

/* The publisher who sent msg (any frame received from a server socket set
 * up here), or NULL when its name is no longer in the registry.  Valid
 * until the next pt_auth_reload(). */
const struct pt_publisher *pt_auth_sender(const struct pt_auth *a,
                                          zmq_msg_t *msg);

#endif /* POVTRACK_PT_AUTH_H */
