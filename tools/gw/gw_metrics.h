/*
 * gw_metrics.h - /metrics: the daemon's stats and the gateway's own
 * counters in the Prometheus text format (version 0.0.4).
 *
 * The daemon's figures come from its stats op, asked with the metrics key
 * at each scrape (see the README's Web gateway, Metrics, for every name).
 * The gateway counts its HTTP requests by route and status and their
 * latency.  Nothing about units or households is ever a metric: those stay
 * in the JSON API.  Thread-safe.
 */
#ifndef POVTRACK_GW_METRICS_H
#define POVTRACK_GW_METRICS_H

#include <stdio.h>

#include <msgpack.h>

/* The routes the gateway counts requests under. */
enum gw_route {
    GW_ROUTE_STATIC = 0,
    GW_ROUTE_LOGIN,
    GW_ROUTE_LOGOUT,
    GW_ROUTE_SESSION,
    GW_ROUTE_EVENTS,
    GW_ROUTE_QUERY,
    GW_ROUTE_UNITS,
    GW_ROUTE_ALERTS,
    GW_ROUTE_STREAM,
    GW_ROUTE_REPORT,
    GW_ROUTE_HEALTH,
    GW_ROUTE_OPENAPI,
    GW_ROUTE_METRICS,
    GW_ROUTE_IMPORT,
    GW_ROUTE_OTHER,
    GW_ROUTES
};

/* The route's label value ("/api/v1/events"). */
const char *gw_route_name(enum gw_route r);

struct gw_metrics;

int gw_metrics_open(struct gw_metrics **out);
void gw_metrics_close(struct gw_metrics *m);

/* One request answered with status after seconds. */
void gw_metrics_observe(struct gw_metrics *m, enum gw_route route, int status,
                        double seconds);
/* Connections refused for connections_max. */
void gw_metrics_refused_connection(struct gw_metrics *m);

/* Write the exposition: the daemon's part from stats (the stats op's
 * reply map, NULL when povtrackd did not answer: then povtrack_up 0) and
 * the gateway's.  0, or POVTRACK_EIO when f fails. */
int gw_metrics_render(struct gw_metrics *m, const msgpack_object *stats,
                      FILE *f);

#endif /* POVTRACK_GW_METRICS_H */
