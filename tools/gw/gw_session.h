/*
 * gw_session.h - login sessions of the web gateway and their CSRF tokens.
 *
 * A session is a random id (32 bytes from libsodium, in hex) that the
 * browser holds in an HttpOnly, SameSite=Strict cookie (Secure unless the
 * gateway serves plain HTTP on loopback), and that the gateway maps to the
 * user, an expiry (server side: session_hours after login) and a CSRF
 * token (32 more random bytes).  Every state-changing request made with a
 * session cookie must carry that token (header X-CSRF-Token, or the form
 * field csrf_token); bearer-token requests need none, having no ambient
 * credential a foreign page could use.  Sessions live in memory: a
 * restarted gateway logs everyone out.  Thread-safe.
 */
#ifndef POVTRACK_GW_SESSION_H
#define POVTRACK_GW_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "gw_config.h"

#define GW_SESSION_ID_LEN 64 /* hex characters; ids and CSRF tokens */
#define GW_SESSIONS_MAX 10000

struct gw_sessions;

int gw_sessions_open(unsigned hours, struct gw_sessions **out);
void gw_sessions_close(struct gw_sessions *s);

/* A new session for who: its id and CSRF token (GW_SESSION_ID_LEN + 1
 * bytes each) and expiry (unix seconds).  0, or POVTRACK_EAGAIN when
 * GW_SESSIONS_MAX live sessions exist already. */
int gw_session_create(struct gw_sessions *s, const struct gw_identity *who,
                      char *id, char *csrf, int64_t *expires);

/* The user of a live session id, with its CSRF token and expiry; NULL when
 * there is none or it expired (then it is forgotten). */
const struct gw_identity *gw_session_find(struct gw_sessions *s, const char *id,
                                          char *csrf, int64_t *expires);

/* Log out: forget id. */
void gw_session_end(struct gw_sessions *s, const char *id);

/* Does given match the session's token?  Constant time. */
bool gw_csrf_ok(const char *expected, const char *given);

#endif /* POVTRACK_GW_SESSION_H */
