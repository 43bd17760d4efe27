/*
 * gw_metrics.c - see gw_metrics.h.
 */
#include "gw_metrics.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <povtrack/client.h>

#define STATUS_MAX 600
/* Latency buckets of the gateway's requests, seconds. */
static const double http_le[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                 0.5,   1,    2.5,   5,    10};
#define HTTP_LE (sizeof http_le / sizeof http_le[0])

struct gw_metrics {
    pthread_mutex_t lock;
    uint64_t requests[GW_ROUTES][STATUS_MAX];
    uint64_t bucket[GW_ROUTES][HTTP_LE + 1];
    double sum[GW_ROUTES];
    uint64_t refused_connections;
};

static const char *const route_names[GW_ROUTES] = {
    "static",          "/api/v1/login",  "/api/v1/logout",
    "/api/v1/session", "/api/v1/events", "/api/v1/query",
    "/api/v1/units",   "/api/v1/alerts", "/api/v1/alerts/stream",
    "/api/v1/report",  "/api/v1/health", "/api/v1/openapi.json",
    "/metrics",        "/api/v1/import", "other"};

const char *gw_route_name(enum gw_route r)
{
    return (unsigned)r < GW_ROUTES ? route_names[r] : "other";
}

int gw_metrics_open(struct gw_metrics **out)
{
    struct gw_metrics *m = calloc(1, sizeof *m);
    *out = m;
    if (m == NULL)
        return POVTRACK_ENOMEM;
    pthread_mutex_init(&m->lock, NULL);
    return 0;
}

void gw_metrics_close(struct gw_metrics *m)
{
    if (m == NULL)
        return;
    pthread_mutex_destroy(&m->lock);
    free(m);
}

void gw_metrics_observe(struct gw_metrics *m, enum gw_route route, int status,
                        double seconds)
{
    size_t b = 0;
    while (b < HTTP_LE && seconds > http_le[b])
        b++;
    pthread_mutex_lock(&m->lock);
    if (status > 0 && status < STATUS_MAX)
        m->requests[route][status]++;
    m->bucket[route][b]++;
    m->sum[route] += seconds;
    pthread_mutex_unlock(&m->lock);
}

void gw_metrics_refused_connection(struct gw_metrics *m)
{
    pthread_mutex_lock(&m->lock);
    m->refused_connections++;
    pthread_mutex_unlock(&m->lock);
}

/* ---- the daemon's part ---- */

static const msgpack_object *get(const msgpack_object *m, const char *k)
{
    return povtrack_client_map_get(m, k);
}

static bool num(const msgpack_object *o, double *v)
{
    if (o == NULL)
        return false;
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        *v = (double)o->via.u64;
    else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        *v = (double)o->via.i64;
    else if (o->type == MSGPACK_OBJECT_FLOAT64 ||
             o->type == MSGPACK_OBJECT_FLOAT32)
        *v = o->via.f64;
    else
        return false;
    return true;
}

/* A label value, escaped as the text format wants (\\, \", \n). */
static void label(FILE *f, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\' || s[i] == '"')
            fprintf(f, "\\%c", s[i]);
        else if (s[i] == '\n')
            fputs("\\n", f);
        else
            fputc(s[i], f);
    }
}

static void head(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{labels} v, labels "" for none ("plugin=\"fund\""). */
static void sample(FILE *f, const char *name, const char *labels, double v)
{
    fprintf(f, "%s%s%s%s %.17g\n", name, labels[0] ? "{" : "", labels,
            labels[0] ? "}" : "", v);
}

static void gauge(FILE *f, const msgpack_object *m, const char *key,
                  const char *name, const char *type, const char *help)
{
    double v;
    if (!num(get(m, key), &v))
        return;
    head(f, name, type, help);
    sample(f, name, "", v);
}

/* One histogram of the stats reply ({"le", "counts", "sum", "count"})
 * under name, with extra labels (may be ""). */
static void histogram(FILE *f, const char *name, const char *labels,
                      const msgpack_object *h)
{
    const msgpack_object *le = get(h, "le"), *counts = get(h, "counts");
    double sum = 0, c, cum = 0;
    if (le == NULL || counts == NULL || le->type != MSGPACK_OBJECT_ARRAY ||
        counts->type != MSGPACK_OBJECT_ARRAY ||
        counts->via.array.size != le->via.array.size + 1)
        return;
    for (uint32_t i = 0; i <= le->via.array.size; i++) {
        double bound;
        if (!num(&counts->via.array.ptr[i], &c))
            return;
        cum += c;
        if (i < le->via.array.size) {
            if (!num(&le->via.array.ptr[i], &bound))
                return;
            fprintf(f, "%s_bucket{%s%sle=\"%.17g\"} %.17g\n", name, labels,
                    labels[0] ? "," : "", bound, cum);
        } else {
            fprintf(f, "%s_bucket{%s%sle=\"+Inf\"} %.17g\n", name, labels,
                    labels[0] ? "," : "", cum);
        }
    }
    num(get(h, "sum"), &sum);
    fprintf(f, "%s_sum%s%s%s %.17g\n", name, labels[0] ? "{" : "", labels,
            labels[0] ? "}" : "", sum);
    fprintf(f, "%s_count%s%s%s %.17g\n", name, labels[0] ? "{" : "", labels,
            labels[0] ? "}" : "", cum);
}

/* A map of counts {key: n} as name{lname="key"} n. */
static void counts_by(FILE *f, const msgpack_object *map, const char *name,
                      const char *lname, const char *type, const char *help)
{
    if (map == NULL || map->type != MSGPACK_OBJECT_MAP)
        return;
    head(f, name, type, help);
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key;
        double v;
        if (k->type != MSGPACK_OBJECT_STR || !num(&map->via.map.ptr[i].val, &v))
            continue;
        fprintf(f, "%s{%s=\"", name, lname);
        label(f, k->via.str.ptr, k->via.str.size);
        fprintf(f, "\"} %.17g\n", v);
    }
}

static void plugins(FILE *f, const msgpack_object *arr)
{
    static const struct {
        const char *key, *name, *help;
    } g[] = {
        {"applied_seq", "povtrack_plugin_applied_seq",
         "Last log sequence the plugin has applied."},
        {"lag", "povtrack_plugin_lag_records",
         "Records in the log the plugin has not applied yet."},
        {"lag_seconds", "povtrack_plugin_lag_seconds",
         "How long the oldest record the plugin has not applied has waited."},
    };
    if (arr == NULL || arr->type != MSGPACK_OBJECT_ARRAY)
        return;
    for (size_t k = 0; k < sizeof g / sizeof g[0] + 2; k++) {
        const char *name = k < 3    ? g[k].name
                           : k == 3 ? "povtrack_plugin_quarantined"
                                    : "povtrack_plugin_query_seconds";
        head(f, name, k == 4 ? "histogram" : "gauge",
             k < 3    ? g[k].help
             : k == 3 ? "1 while the plugin is quarantined, else 0."
                      : "Time of the plugin's query calls.");
        for (uint32_t i = 0; i < arr->via.array.size; i++) {
            const msgpack_object *p = &arr->via.array.ptr[i];
            const msgpack_object *pn = get(p, "name");
            char labels[160];
            double v;
            if (pn == NULL || pn->type != MSGPACK_OBJECT_STR ||
                pn->via.str.size > 64 ||
                strcspn(pn->via.str.ptr, "\"\\\n") < pn->via.str.size)
                continue;
            snprintf(labels, sizeof labels, "plugin=\"%.*s\"",
                     (int)pn->via.str.size, pn->via.str.ptr);
            if (k < 3 && num(get(p, g[k].key), &v))
                sample(f, name, labels, v);
            if (k == 3) {
                const msgpack_object *st = get(p, "status");
                sample(f, name, labels,
                       st != NULL && st->type == MSGPACK_OBJECT_STR &&
                               st->via.str.size == 11 &&
                               memcmp(st->via.str.ptr, "quarantined", 11) == 0
                           ? 1
                           : 0);
            }
            if (k == 4)
                histogram(f, name, labels, get(p, "query_seconds"));
        }
    }
}

static void daemon_part(FILE *f, const msgpack_object *s)
{
    const msgpack_object *in = get(s, "ingest"), *host = get(s, "host");
    double v;

    gauge(f, s, "last_seq", "povtrack_log_last_seq", "gauge",
          "Sequence of the last record in the log (the number of events).");
    if (in != NULL) {
        gauge(f, in, "started", "povtrack_ingest_start_time_seconds", "gauge",
              "When the ingest process started (its counters start then).");
        gauge(f, in, "requests", "povtrack_ingest_requests_total", "counter",
              "Ingest requests taken.");
        gauge(f, in, "acked", "povtrack_events_acked_total", "counter",
              "Events acknowledged ok: stored.");
        gauge(f, in, "duplicates", "povtrack_events_duplicate_total", "counter",
              "Events acknowledged duplicate: stored before.");
        counts_by(f, get(in, "rejected"), "povtrack_events_rejected_total",
                  "reason", "counter",
                  "Events rejected, and requests refused whole, by reason.");
        gauge(f, in, "requests_in_flight", "povtrack_ingest_requests_in_flight",
              "gauge", "Requests of the group being validated and committed.");
        gauge(f, in, "connections", "povtrack_ingest_connections", "gauge",
              "Connections open on the ingest endpoint (publishers).");
        head(f, "povtrack_commit_events", "histogram",
             "Events per group commit.");
        histogram(f, "povtrack_commit_events", "", get(in, "commit_events"));
        head(f, "povtrack_commit_seconds", "histogram",
             "Time of a group commit, its syncs included.");
        histogram(f, "povtrack_commit_seconds", "", get(in, "commit_seconds"));
    }
    head(f, "povtrack_handshakes_refused_total", "counter",
         "CURVE handshakes refused by the key check, by endpoint.");
    if (in != NULL && num(get(in, "refused_handshakes"), &v))
        sample(f, "povtrack_handshakes_refused_total", "endpoint=\"ingest\"",
               v);
    if (host != NULL) {
        const msgpack_object *r = get(host, "refused_handshakes");
        if (num(get(r, "query"), &v))
            sample(f, "povtrack_handshakes_refused_total", "endpoint=\"query\"",
                   v);
        if (num(get(r, "alerts"), &v))
            sample(f, "povtrack_handshakes_refused_total",
                   "endpoint=\"alerts\"", v);
        gauge(f, host, "started", "povtrack_host_start_time_seconds", "gauge",
              "When the plugin host started (its counters start then).");
        gauge(f, host, "queries_parked", "povtrack_queries_parked", "gauge",
              "Queries waiting for their min_seq to be applied.");
        counts_by(f, get(host, "alerts_published"),
                  "povtrack_alerts_published_total", "code", "counter",
                  "Alerts published since the plugin host started, by code.");
    }
    plugins(f, get(s, "plugins"));
}

int gw_metrics_render(struct gw_metrics *m, const msgpack_object *stats,
                      FILE *f)
{
    head(f, "povtrack_up", "gauge",
         "1 when povtrackd answered the stats request of this scrape.");
    sample(f, "povtrack_up", "", stats != NULL ? 1 : 0);
    if (stats != NULL)
        daemon_part(f, stats);

    pthread_mutex_lock(&m->lock);
    head(f, "povtrack_gw_http_requests_total", "counter",
         "HTTP requests the gateway answered, by route and status.");
    for (int r = 0; r < GW_ROUTES; r++)
        for (int s = 0; s < STATUS_MAX; s++)
            if (m->requests[r][s] > 0)
                fprintf(f,
                        "povtrack_gw_http_requests_total{route=\"%s\",code="
                        "\"%d\"} %llu\n",
                        route_names[r], s,
                        (unsigned long long)m->requests[r][s]);
    head(f, "povtrack_gw_http_request_seconds", "histogram",
         "Time from a request's arrival to its answer, by route.");
    for (int r = 0; r < GW_ROUTES; r++) {
        uint64_t cum = 0;
        for (size_t b = 0; b <= HTTP_LE; b++) {
            cum += m->bucket[r][b];
            if (b < HTTP_LE)
                fprintf(f,
                        "povtrack_gw_http_request_seconds_bucket{route=\"%s\","
                        "le=\"%g\"} %llu\n",
                        route_names[r], http_le[b], (unsigned long long)cum);
            else
                fprintf(f,
                        "povtrack_gw_http_request_seconds_bucket{route=\"%s\","
                        "le=\"+Inf\"} %llu\n",
                        route_names[r], (unsigned long long)cum);
        }
        fprintf(f, "povtrack_gw_http_request_seconds_sum{route=\"%s\"} %.17g\n",
                route_names[r], m->sum[r]);
        fprintf(f,
                "povtrack_gw_http_request_seconds_count{route=\"%s\"} %llu\n",
                route_names[r], (unsigned long long)cum);
    }
    head(f, "povtrack_gw_connections_refused_total", "counter",
         "Connections answered 503 for [gateway] connections_max.");
    fprintf(f, "povtrack_gw_connections_refused_total %llu\n",
            (unsigned long long)m->refused_connections);
    pthread_mutex_unlock(&m->lock);
    return ferror(f) ? POVTRACK_EIO : 0;
}
