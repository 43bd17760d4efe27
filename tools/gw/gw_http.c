/*
 * gw_http.c - see gw_http.h.
 */
#include "gw_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <povtrack/protocol.h>

#include "gw_api.h"
#include "gw_import.h"
#include "gw_sse.h"

#define RATE_KEYS_MAX 4096
#define CONNECTIONS_SPARE 16 /* above connections_max, to say 503 */
#define SESSION_COOKIE "povtrack_session"

/* ---- rate limits: a token bucket per user, or per address for logins */

struct bucket {
    char key[GW_NAME_MAX + 64];
    double tokens;
    double last;
};

struct gw_rate {
    pthread_mutex_t lock;
    struct bucket *b;
    size_t n, cap;
};

static struct gw_rate *rate_new(void)
{
    struct gw_rate *r = calloc(1, sizeof *r);
    if (r != NULL)
        pthread_mutex_init(&r->lock, NULL);
    return r;
}

static void rate_free(struct gw_rate *r)
{
    if (r == NULL)
        return;
    pthread_mutex_destroy(&r->lock);
    free(r->b);
    free(r);
}

/* Take one request from key's bucket of per_minute.  0, or the seconds to
 * wait before the next one is allowed. */
static int rate_take(struct gw_rate *r, const char *key, unsigned per_minute)
{
    double now = gw_now(), per_s = per_minute / 60.0;
    struct bucket *b = NULL;
    int wait = 0;

    pthread_mutex_lock(&r->lock);
    for (size_t i = 0; i < r->n && b == NULL; i++)
        if (strcmp(r->b[i].key, key) == 0)
            b = &r->b[i];
    if (b == NULL) {
        if (r->n == RATE_KEYS_MAX) {
            /* Forget the buckets that have filled up again: nothing to
             * remember about them. */
            size_t k = 0;
            for (size_t i = 0; i < r->n; i++) {
                struct bucket *o = &r->b[i];
                if (o->tokens + (now - o->last) * per_s < per_minute)
                    r->b[k++] = *o;
            }
            r->n = k;
        }
        if (r->n == r->cap && r->n < RATE_KEYS_MAX) {
            size_t cap = r->cap ? r->cap * 2 : 32;
            struct bucket *nb = realloc(r->b, cap * sizeof *nb);
            if (nb != NULL) {
                r->b = nb;
                r->cap = cap;
            }
        }
        if (r->n < r->cap) {
            b = &r->b[r->n++];
            snprintf(b->key, sizeof b->key, "%s", key);
            b->tokens = per_minute;
            b->last = now;
        }
    }
    if (b != NULL) {
        b->tokens += (now - b->last) * per_s;
        if (b->tokens > per_minute)
            b->tokens = per_minute;
        b->last = now;
        if (b->tokens < 1.0)
            wait = (int)((1.0 - b->tokens) / per_s) + 1;
        else
            b->tokens -= 1.0;
    }
    pthread_mutex_unlock(&r->lock);
    return wait;
}

/* ---- replies ---- */

double gw_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

bool gw_http_secure(const struct gw *gw)
{
    return gw->cfg->tls_cert[0] != '\0' || gw->cfg->behind_tls_proxy ||
           !gw->cfg->loopback;
}

void gw_http_headers(const struct gw *gw, struct MHD_Response *resp,
                     bool html_inline_style)
{
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    /* The dashboard loads scripts and styles from the gateway alone (no
     * CDN); the report's HTML is one self-contained file with an inline
     * style and SVG. */
    MHD_add_response_header(
        resp, "Content-Security-Policy",
        html_inline_style
            ? "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
              "frame-ancestors 'none'"
            : "default-src 'self'; img-src 'self' data:; "
              "frame-ancestors 'none'; form-action 'self'; base-uri 'none'");
    if (gw->cfg->tls_cert[0] != '\0' || gw->cfg->behind_tls_proxy)
        MHD_add_response_header(resp, "Strict-Transport-Security",
                                "max-age=31536000");
}

static enum MHD_Result queue(struct gw_req *r, int status,
                             struct MHD_Response *resp)
{
    if (resp == NULL)
        return MHD_NO;
    r->status = status;
    enum MHD_Result rc = MHD_queue_response(r->conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return rc;
}

static struct MHD_Response *response(struct gw_req *r, const char *type,
                                     const void *body, size_t len)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (resp == NULL)
        return NULL;
    MHD_add_response_header(resp, "Content-Type", type);
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    gw_http_headers(r->gw, resp, strncmp(type, "text/html", 9) == 0);
    return resp;
}

enum MHD_Result gw_reply(struct gw_req *r, int status, const char *type,
                         const void *body, size_t len)
{
    return queue(r, status, response(r, type, body, len));
}

enum MHD_Result gw_reply_json(struct gw_req *r, int status, json_t *body)
{
    char *s = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (s == NULL)
        return gw_reply_error(r, 500, NULL, 0, "out of memory");
    enum MHD_Result rc =
        gw_reply(r, status, "application/json; charset=utf-8", s, strlen(s));
    free(s);
    return rc;
}

static enum MHD_Result error_reply(struct gw_req *r, int status,
                                   const char *field, int retry_after,
                                   const char *msg)
{
    json_t *e = json_pack("{s:i,s:s}", "code", status, "message", msg);
    if (e != NULL && field != NULL && field[0] != '\0')
        json_object_set_new(e, "field", json_string(field));
    /* {s:o} takes e's reference: one decref frees both. */
    json_t *body = e != NULL ? json_pack("{s:o}", "error", e) : NULL;
    char *s = body != NULL ? json_dumps(body, JSON_COMPACT | JSON_ENSURE_ASCII)
                           : NULL;
    json_decref(body);
    struct MHD_Response *resp =
        s != NULL ? response(r, "application/json; charset=utf-8", s, strlen(s))
                  : response(r, "text/plain", "out of memory", 13);
    free(s);
    if (resp != NULL && retry_after > 0) {
        char ra[16];
        snprintf(ra, sizeof ra, "%d", retry_after);
        MHD_add_response_header(resp, "Retry-After", ra);
    }
    if (resp != NULL && status == 401)
        MHD_add_response_header(resp, "WWW-Authenticate",
                                "Bearer realm=\"povtrack\"");
    return queue(r, status, resp);
}

enum MHD_Result gw_reply_error(struct gw_req *r, int status, const char *field,
                               int retry_after, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* What the daemon says is valid UTF-8; what we format from a request
     * may not be: escape it rather than answer JSON that breaks. */
    char clean[4 * sizeof msg];
    povtrack_proto_text_escape(clean, sizeof clean, msg, strlen(msg));
    return error_reply(r, status, field, retry_after, clean);
}

enum MHD_Result gw_reply_failure(struct gw_req *r, const struct gw_failure *f)
{
    return gw_reply_error(r, f->status, f->field, f->retry_after, "%s",
                          f->message);
}

const char *gw_arg(struct gw_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

/* ---- static files ---- */

static const char *content_type(const char *path)
{
    static const struct {
        const char *ext, *type;
    } types[] = {{".html", "text/html; charset=utf-8"},
                 {".js", "text/javascript; charset=utf-8"},
                 {".mjs", "text/javascript; charset=utf-8"},
                 {".css", "text/css; charset=utf-8"},
                 {".json", "application/json; charset=utf-8"},
                 {".svg", "image/svg+xml"},
                 {".png", "image/png"},
                 {".ico", "image/x-icon"},
                 {".woff2", "font/woff2"},
                 {".txt", "text/plain; charset=utf-8"},
                 {".map", "application/json"}};
    const char *dot = strrchr(path, '.');
    for (size_t i = 0; dot != NULL && i < sizeof types / sizeof types[0]; i++)
        if (strcmp(dot, types[i].ext) == 0)
            return types[i].type;
    return "application/octet-stream";
}

/* GET of a file under www_dir: "/" is index.html; no "..", no hidden
 * names, nothing a symbolic link leads out of the directory. */
static enum MHD_Result static_file(struct gw_req *r)
{
    const char *url = r->url;
    char path[PATH_MAX], real[PATH_MAX], root[PATH_MAX];
    struct stat st;

    if (strcmp(url, "/") == 0)
        url = "/index.html";
    if (strstr(url, "/.") != NULL || strchr(url, '\\') != NULL ||
        snprintf(path, sizeof path, "%s%s", r->gw->cfg->www_dir, url) >=
            (int)sizeof path)
        return gw_reply(r, 404, "text/plain; charset=utf-8", "not found\n", 10);
    if (realpath(r->gw->cfg->www_dir, root) == NULL ||
        realpath(path, real) == NULL ||
        strncmp(real, root, strlen(root)) != 0 || real[strlen(root)] != '/')
        return gw_reply(r, 404, "text/plain; charset=utf-8", "not found\n", 10);
    int fd = open(real, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        return gw_reply(r, 404, "text/plain; charset=utf-8", "not found\n", 10);
    }
    struct MHD_Response *resp =
        MHD_create_response_from_fd((uint64_t)st.st_size, fd);
    if (resp == NULL) {
        close(fd);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", content_type(real));
    MHD_add_response_header(resp, "Cache-Control", "no-cache");
    gw_http_headers(r->gw, resp, false);
    return queue(r, 200, resp);
}

/* ---- routing ---- */

#define API "/api/v1/"

static enum gw_route route_of(const char *url)
{
    static const struct {
        const char *path;
        enum gw_route route;
    } exact[] = {{API "login", GW_ROUTE_LOGIN},
                 {API "logout", GW_ROUTE_LOGOUT},
                 {API "session", GW_ROUTE_SESSION},
                 {API "events", GW_ROUTE_EVENTS},
                 {API "units", GW_ROUTE_UNITS},
                 {API "alerts", GW_ROUTE_ALERTS},
                 {API "alerts/stream", GW_ROUTE_STREAM},
                 {API "report", GW_ROUTE_REPORT},
                 {API "health", GW_ROUTE_HEALTH},
                 {API "openapi.json", GW_ROUTE_OPENAPI},
                 {API "import", GW_ROUTE_IMPORT},
                 {"/metrics", GW_ROUTE_METRICS}};
    for (size_t i = 0; i < sizeof exact / sizeof exact[0]; i++)
        if (strcmp(url, exact[i].path) == 0)
            return exact[i].route;
    if (strncmp(url, API "query/", sizeof API "query/" - 1) == 0 &&
        url[sizeof API "query/" - 1] != '\0' &&
        strchr(url + sizeof API "query/" - 1, '/') == NULL)
        return GW_ROUTE_QUERY;
    if (strncmp(url, "/api/", 5) == 0)
        return GW_ROUTE_OTHER;
    return GW_ROUTE_STATIC;
}

/* The method each route takes. */
static const char *route_method(enum gw_route route)
{
    switch (route) {
    case GW_ROUTE_LOGIN:
    case GW_ROUTE_LOGOUT:
    case GW_ROUTE_EVENTS:
    case GW_ROUTE_IMPORT:
        return "POST";
    default:
        return "GET";
    }
}

/* Find the caller: a bearer token, else the session cookie. */
static void identify(struct gw_req *r)
{
    const char *auth =
        MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Authorization");
    if (auth != NULL && strncasecmp(auth, "Bearer ", 7) == 0) {
        r->who = gw_auth_token(r->gw->auth, auth + 7);
        return;
    }
    const char *id =
        MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, SESSION_COOKIE);
    if (id != NULL) {
        r->who = gw_session_find(r->gw->sessions, id, r->csrf, &r->expires);
        if (r->who != NULL) {
            r->session = true;
            snprintf(r->session_id, sizeof r->session_id, "%s", id);
        }
    }
}

/* The CSRF token of a form post, from its body (csrf_token=...). */
static bool form_csrf_ok(struct gw_req *r)
{
    const char *type =
        MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Content-Type");
    const char *key = "csrf_token=";
    if (type == NULL ||
        strncmp(type, "application/x-www-form-urlencoded", 33) != 0 ||
        r->body == NULL)
        return false;
    for (const char *p = r->body; p != NULL && *p != '\0';) {
        if (strncmp(p, key, strlen(key)) == 0) {
            char given[GW_SESSION_ID_LEN + 1];
            size_t n = strcspn(p + strlen(key), "&");
            if (n != GW_SESSION_ID_LEN)
                return false;
            memcpy(given, p + strlen(key), n);
            given[n] = '\0';
            return gw_csrf_ok(r->csrf, given);
        }
        p = strchr(p, '&');
        if (p != NULL)
            p++;
    }
    return false;
}

static enum MHD_Result dispatch(struct gw_req *r)
{
    struct gw *gw = r->gw;
    const struct gw_config *cfg = gw->cfg;
    enum gw_route route = r->route;

    if (route == GW_ROUTE_OTHER)
        return gw_reply_error(r, 404, NULL, 0,
                              "no such resource: %s (see "
                              "/api/v1/openapi.json)",
                              r->url);
    if (route == GW_ROUTE_STATIC) {
        if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0)
            return gw_reply_error(r, 405, NULL, 0, "method %s not allowed",
                                  r->method);
        return static_file(r);
    }
    if (strcmp(r->method, route_method(route)) != 0 &&
        !(strcmp(r->method, "HEAD") == 0 &&
          strcmp(route_method(route), "GET") == 0))
        return gw_reply_error(r, 405, NULL, 0, "%s takes %s, not %s",
                              gw_route_name(route), route_method(route),
                              r->method);
    /* Public: the contract, liveness, the login itself, and /metrics
     * unless the operator closed it. */
    if (route == GW_ROUTE_OPENAPI)
        return gw_reply(r, 200, "application/json; charset=utf-8", gw->openapi,
                        gw->openapi_len);
    if (route == GW_ROUTE_HEALTH)
        return gw_api_health(r);
    if (route == GW_ROUTE_LOGIN) {
        char key[GW_NAME_MAX + 64] = "login:";
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
            r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        if (ci != NULL && ci->client_addr != NULL) {
            char host[64] = "";
            const struct sockaddr *sa = ci->client_addr;
            if (sa->sa_family == AF_INET)
                inet_ntop(
                    AF_INET,
                    &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
                    host, sizeof host);
            else if (sa->sa_family == AF_INET6)
                inet_ntop(
                    AF_INET6,
                    &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
                    host, sizeof host);
            strncat(key, host, sizeof key - strlen(key) - 1);
        }
        int wait = rate_take(gw->rate, key, cfg->login_per_minute);
        if (wait > 0)
            return gw_reply_error(r, 429, NULL, wait,
                                  "too many login attempts from this address "
                                  "(login_per_minute = %u); try again in %d s",
                                  cfg->login_per_minute, wait);
        return gw_api_login(r);
    }
    if (route == GW_ROUTE_METRICS && cfg->metrics_public)
        return gw_api_metrics(r);
    if (r->who == NULL)
        return gw_reply_error(
            r, 401, NULL, 0,
            "log in first (POST /api/v1/login) or send "
            "Authorization: Bearer TOKEN%s",
            MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
                                        "Authorization") != NULL
                ? " (the token given is not one of this gateway's)"
                : "");
    char key[GW_NAME_MAX + 64];
    snprintf(key, sizeof key, "%s:%s", r->who->is_token ? "token" : "user",
             r->who->name);
    int wait = rate_take(gw->rate, key, cfg->requests_per_minute);
    if (wait > 0)
        return gw_reply_error(r, 429, NULL, wait,
                              "%s is over requests_per_minute (%u); try "
                              "again in %d s",
                              r->who->name, cfg->requests_per_minute, wait);
    if (r->session && strcmp(r->method, "POST") == 0 &&
        !gw_csrf_ok(r->csrf, MHD_lookup_connection_value(
                                 r->conn, MHD_HEADER_KIND, "X-CSRF-Token")) &&
        !form_csrf_ok(r))
        return gw_reply_error(r, 403, "csrf_token", 0,
                              "this request needs the session's CSRF token "
                              "(header X-CSRF-Token or form field csrf_token; "
                              "GET /api/v1/session gives it)");
    switch (route) {
    case GW_ROUTE_LOGOUT:
        return gw_api_logout(r);
    case GW_ROUTE_SESSION:
        return gw_api_session(r);
    case GW_ROUTE_EVENTS:
        return gw_api_events(r);
    case GW_ROUTE_QUERY:
        return gw_api_query(r, r->url + sizeof API "query/" - 1);
    case GW_ROUTE_UNITS:
        return gw_api_units(r);
    case GW_ROUTE_ALERTS:
        return gw_api_alerts(r);
    case GW_ROUTE_STREAM:
        return gw_sse_stream(r);
    case GW_ROUTE_REPORT:
        return gw_api_report(r);
    case GW_ROUTE_IMPORT:
        return gw_import(r);
    default:
        return gw_api_metrics(r);
    }
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
                                  const char *url, const char *method,
                                  const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    struct gw *gw = cls;
    struct gw_req *r = *con_cls;
    (void)version;

    if (r == NULL) {
        r = calloc(1, sizeof *r);
        if (r == NULL)
            return MHD_NO;
        r->gw = gw;
        r->conn = conn;
        r->url = url;
        r->method = method;
        r->t0 = gw_now();
        r->route = route_of(url);
        *con_cls = r;
        if (atomic_load(&gw->connections) > (int)gw->cfg->connections_max) {
            gw_metrics_refused_connection(gw->metrics);
            return gw_reply_error(
                r, 503, NULL, 1,
                "too many connections (connections_max = %u); try again",
                gw->cfg->connections_max);
        }
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                     "Content-Length");
        if (cl != NULL && strtoull(cl, NULL, 10) > gw->cfg->body_max)
            return gw_reply_error(r, 413, NULL, 0,
                                  "the body (%s bytes) is larger than "
                                  "body_max (%zu bytes); split it",
                                  cl, gw->cfg->body_max);
        return MHD_YES;
    }
    if (r->status != 0) { /* answered already: discard the rest */
        *upload_size = 0;
        return MHD_YES;
    }
    if (*upload_size > 0) {
        size_t n = *upload_size;
        if (!r->too_big && r->len + n > gw->cfg->body_max)
            r->too_big = true;
        if (!r->too_big) {
            if (r->len + n + 1 > r->cap) {
                size_t cap = (r->len + n + 1) * 2;
                if (cap > gw->cfg->body_max + 1)
                    cap = gw->cfg->body_max + 1;
                char *b = realloc(r->body, cap);
                if (b == NULL)
                    return MHD_NO;
                r->body = b;
                r->cap = cap;
            }
            memcpy(r->body + r->len, upload, n);
            r->len += n;
            r->body[r->len] = '\0';
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (r->too_big)
        return gw_reply_error(r, 413, NULL, 0,
                              "the body is larger than body_max (%zu bytes); "
                              "split it",
                              gw->cfg->body_max);
    identify(r);
    return dispatch(r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct gw *gw = cls;
    struct gw_req *r = *con_cls;
    (void)conn;
    (void)toe;
    if (r == NULL)
        return;
    gw_metrics_observe(gw->metrics, r->route, r->status, gw_now() - r->t0);
    if (r->status >= 500 || gw->log.level <= PT_LOG_DEBUG)
        pt_logf(&gw->log, r->status >= 500 ? PT_LOG_WARN : PT_LOG_DEBUG,
                "%s %s -> %d (%s)", r->method, r->url, r->status,
                r->who != NULL ? r->who->name : "-");
    free(r->body);
    free(r);
    *con_cls = NULL;
}

static void on_connection(void *cls, struct MHD_Connection *conn,
                          void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    struct gw *gw = cls;
    (void)conn;
    (void)socket_context;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED)
        atomic_fetch_add(&gw->connections, 1);
    else
        atomic_fetch_sub(&gw->connections, 1);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    struct gw *gw = cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    msg[strcspn(msg, "\n")] = '\0';
    pt_logf(&gw->log, PT_LOG_WARN, "http: %s", msg);
}

/* The whole of a PEM file, NUL-terminated (MHD wants it in memory). */
static char *read_pem(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    char *buf = NULL;
    size_t n = 0;
    if (f != NULL) {
        buf = malloc(1 << 20);
        if (buf != NULL) {
            n = fread(buf, 1, (1 << 20) - 1, f);
            buf[n] = '\0';
        }
        fclose(f);
    }
    if (buf == NULL || n == 0) {
        snprintf(err, errlen, "%s: %s", path,
                 f == NULL ? strerror(errno) : "empty or unreadable");
        free(buf);
        return NULL;
    }
    return buf;
}

int gw_http_start(struct gw *gw, char *err, size_t errlen)
{
    const struct gw_config *cfg = gw->cfg;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG;
    char *cert = NULL, *key = NULL;

    gw->rate = rate_new();
    if (gw->rate == NULL) {
        snprintf(err, errlen, "out of memory");
        return POVTRACK_ENOMEM;
    }
    if (cfg->addr.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    if (cfg->tls_cert[0] != '\0') {
        if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
            snprintf(err, errlen, "this libmicrohttpd has no TLS (GnuTLS)");
            return POVTRACK_ECONFIG;
        }
        cert = read_pem(cfg->tls_cert, err, errlen);
        key = cert != NULL ? read_pem(cfg->tls_key, err, errlen) : NULL;
        if (key == NULL) {
            free(cert);
            return POVTRACK_ECONFIG;
        }
        flags |= MHD_USE_TLS;
    }
    struct MHD_OptionItem tls[] = {
        {cert != NULL ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, cert},
        {MHD_OPTION_HTTPS_MEM_KEY, 0, key},
        {MHD_OPTION_END, 0, NULL}};
    gw->mhd = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, gw, MHD_OPTION_EXTERNAL_LOGGER,
        on_mhd_log, gw, MHD_OPTION_SOCK_ADDR,
        (const struct sockaddr *)&cfg->addr, MHD_OPTION_CONNECTION_LIMIT,
        cfg->connections_max + CONNECTIONS_SPARE, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)120, MHD_OPTION_NOTIFY_COMPLETED, on_completed, gw,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, gw, MHD_OPTION_ARRAY, tls,
        MHD_OPTION_END);
    /* Kept until the daemon stops: MHD reads them from there. */
    gw->tls_pem[0] = cert;
    gw->tls_pem[1] = key;
    if (gw->mhd == NULL) {
        snprintf(err, errlen,
                 "cannot listen on %s (in use, or not an address of this "
                 "machine; see the log above)",
                 cfg->listen);
        return POVTRACK_EIO;
    }
    return 0;
}

void gw_http_stop(struct gw *gw)
{
    atomic_store(&gw->stopping, true);
    if (gw->mhd != NULL) {
        MHD_quiesce_daemon(gw->mhd);
        MHD_stop_daemon(gw->mhd);
        gw->mhd = NULL;
    }
    rate_free(gw->rate);
    gw->rate = NULL;
    free(gw->tls_pem[0]);
    free(gw->tls_pem[1]);
    gw->tls_pem[0] = gw->tls_pem[1] = NULL;
}
