/*
 * gw_http.h - the web gateway's HTTP side: the server (libmicrohttpd, one
 * thread per connection), routing, who a request is from, the limits, and
 * the replies every handler uses.
 *
 * A request goes: connection limit (503 when connections_max are open),
 * body size (413 past body_max, from Content-Length at once or while it
 * arrives), route (404 / 405), identity (a bearer token, else the session
 * cookie; 401 when a route needs one and there is none), rate limit (429
 * with Retry-After past requests_per_minute per user, login_per_minute per
 * client address for logins), CSRF (403 for a state-changing request of a
 * cookie session without its token), then the route's handler (gw_api.h,
 * gw_sse.h).  Every reply of /api/ is JSON, errors as
 * {"error": {"code": status, "message", "field"?}}; every reply carries the
 * security headers (nosniff, no framing, a strict Content-Security-Policy,
 * HSTS when served over TLS or behind a TLS proxy).
 */
#ifndef POVTRACK_GW_HTTP_H
#define POVTRACK_GW_HTTP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <microhttpd.h>

#include "gw_auth.h"
#include "gw_config.h"
#include "gw_daemon.h"
#include "gw_metrics.h"
#include "gw_session.h"
#include "pt_log.h"

struct gw_rate;

/* The gateway: what every request reaches. */
struct gw {
    const struct gw_config *cfg;
    struct pt_log log;
    struct gw_auth *auth;
    struct gw_sessions *sessions;
    struct gw_daemon *daemon;
    struct gw_metrics *metrics;
    struct gw_rate *rate;
    struct MHD_Daemon *mhd;
    atomic_int connections; /* open now */
    atomic_bool stopping;   /* alert streams end */
    const char *openapi;    /* the OpenAPI document (openapi.json) */
    size_t openapi_len;
    char *tls_pem[2]; /* certificate and key, while serving */
};

/* One HTTP request. */
struct gw_req {
    struct gw *gw;
    struct MHD_Connection *conn;
    const char *url, *method;
    char *body;
    size_t len, cap;
    bool too_big;
    enum gw_route route;
    /* Who: a token's or a session's identity, NULL when anonymous. */
    const struct gw_identity *who;
    bool session; /* by cookie (so CSRF applies) */
    char session_id[GW_SESSION_ID_LEN + 1];
    char csrf[GW_SESSION_ID_LEN + 1];
    int64_t expires;
    int status; /* answered with */
    double t0;  /* monotonic seconds at arrival */
};

/* Start serving cfg->listen (TLS when configured).  0, or an error with
 * err set. */
int gw_http_start(struct gw *gw, char *err, size_t errlen);
/* Stop: the alert streams end within a second, then every connection. */
void gw_http_stop(struct gw *gw);

/* ---- replies: each returns what the access handler returns ---- */

/* body (len bytes, copied) with status and Content-Type type. */
enum MHD_Result gw_reply(struct gw_req *r, int status, const char *type,
                         const void *body, size_t len);
/* A JSON document (body is stolen). */
enum MHD_Result gw_reply_json(struct gw_req *r, int status, json_t *body);
/* {"error": {"code", "message", "field"?}}, with Retry-After when
 * retry_after > 0. */
enum MHD_Result gw_reply_error(struct gw_req *r, int status, const char *field,
                               int retry_after, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
enum MHD_Result gw_reply_failure(struct gw_req *r, const struct gw_failure *f);
/* Add the security headers (and Cache-Control: no-store) to resp. */
void gw_http_headers(const struct gw *gw, struct MHD_Response *resp,
                     bool html_inline_style);

/* A query-string argument, NULL when absent. */
const char *gw_arg(struct gw_req *r, const char *name);

/* Whether the session cookie gets the Secure attribute: not only on plain
 * HTTP on loopback, where a browser would refuse to send it back. */
bool gw_http_secure(const struct gw *gw);

/* Monotonic seconds. */
double gw_now(void);

#endif /* POVTRACK_GW_HTTP_H */
