/*
 * pt_standin.h - the ingest process answers the query endpoint while no
 * plugin host does.
 *
 * From the moment the plugin host dies (or before the first one is up)
 * until a new host serves the query endpoint, a client would otherwise get
 * no answer at all and time out, although the daemon is up.  The stand-in
 * is a ROUTER bound on the query endpoint by the ingest process that
 * answers every request at once with
 *
 *   {"ok": false, "error": "plugin host is restarting (...); retry in N ms",
 *    "retry_after_ms": N}
 *
 * It has its own ZeroMQ context and its own pt_auth (CURVE server and ZAP
 * handler, domain "query"), so a key the registry does not admit to the
 * query endpoint gets nothing from it either.  It reads nothing of a
 * request but its envelope.
 *
 * Hand-off: closing a listener is asynchronous in libzmq, and closing an
 * ipc:// listener unlinks its socket file.  pt_standin_close() returns only
 * once the context is terminated, that is once the socket is closed and
 * the endpoint free, so the new host may bind right after it
 * (pt_supervisor.h describes who waits for whom).
 */
#ifndef POVTRACK_PT_STANDIN_H
#define POVTRACK_PT_STANDIN_H

#include <stddef.h>
#include <stdint.h>

#include "pt_config.h"
#include "pt_log.h"

struct pt_standin;

/* Bind cfg->query (with CURVE as configured).  Returns 0, or an error
 * code with err set (-EADDRINUSE: the endpoint is busy, try again
 * later). */
int pt_standin_open(const struct pt_config *cfg, const struct pt_log *log,
                    struct pt_standin **out, char *err, size_t errlen);

/* Answer every request waiting, and the ZAP handshakes, without blocking:
 * error is the reply's "error" text, retry_after_ms its "retry_after_ms". */
void pt_standin_serve(struct pt_standin *s, const char *error,
                      int64_t retry_after_ms);

/* SIGHUP: read the publisher registry again (an error is logged and the
 * previous registry stays). */
void pt_standin_reload(struct pt_standin *s);

/* Close the socket and terminate the context: on return the endpoint is
 * free.  NULL is allowed. */
void pt_standin_close(struct pt_standin *s);

#endif /* POVTRACK_PT_STANDIN_H */
