/*
 * gw_daemon.h - the gateway's connections to povtrackd, and what its
 * answers mean in HTTP.
 *
 * The gateway has no rights of its own: it talks to povtrackd through the
 * client library with the publisher key of whoever it acts for (each user
 * and token has one in the configuration; /metrics and /api/v1/health use
 * the metrics key), so the daemon stores the person or agency as the
 * publisher and refuses what that publisher may not do.  Clients are kept
 * per identity in a small pool (a client serves one thread at a time);
 * each speaks CURVE with the daemon's public key.
 */
#ifndef POVTRACK_GW_DAEMON_H
#define POVTRACK_GW_DAEMON_H

#include <povtrack/client.h>

#include "gw_config.h"

struct gw_daemon;

int gw_daemon_open(const struct gw_config *cfg, struct gw_daemon **out);
void gw_daemon_close(struct gw_daemon *d);

/* A client for who (NULL: the metrics key), connected lazily; NULL when
 * out of memory.  Give it back with gw_daemon_give(). */
povtrack_client *gw_daemon_take(struct gw_daemon *d,
                                const struct gw_identity *who);
/* fresh: not for the pool (an alert stream's, whose subscription stays);
 * take it with gw_daemon_client() and close it yourself. */
povtrack_client *gw_daemon_client(struct gw_daemon *d,
                                  const struct gw_identity *who);
void gw_daemon_give(struct gw_daemon *d, const struct gw_identity *who,
                    povtrack_client *c);

/* An HTTP answer for a failure talking to povtrackd. */
struct gw_failure {
    int status;      /* 400, 403, 404, 413, 429, 503, 500 */
    int retry_after; /* seconds for Retry-After; 0: none */
    char message[1024];
    char field[64]; /* "" when the message names none */
};

/* Classify what povtrackd said (message, rc a client code or
 * POVTRACK_EREFUSED), with the reply when there was one (its
 * retry_after_ms).  The protocol's refusals are text naming the field
 * first ("plugin: publisher ... may not ..."), so the class is read from
 * the words; this is the one place that does. */
void gw_daemon_failure(int rc, const char *message, const msgpack_object *reply,
                       struct gw_failure *out);

/* The field a daemon message names ("data.amount" of "data.amount: must
 * be ...", "as_of" of a plugin's "fund: as_of: must be ..."): copied into
 * field (cap bytes) with *reason pointing past its ": "; "" and the whole
 * message when it names none. */
void gw_daemon_split(const char *message, char *field, size_t cap,
                     const char **reason);

#endif /* POVTRACK_GW_DAEMON_H */
