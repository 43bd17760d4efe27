/*
 * gw_sse.h - GET /api/v1/alerts/stream: alerts as Server-Sent Events.
 *
 * Each stream has its own client with the user's key: it subscribes to the
 * alerts endpoint first, then lists the stored alerts after the position
 * the browser gives (Last-Event-ID, or ?since=SEQ), so nothing raised in
 * between is lost, and sends each alert once, in sequence order, as
 *
 *   id: SEQ.K
 *   event: alert
 *   data: {"seq", "code", "severity", "plugin", "unit", "message", "at", ...}
 *
 * where K counts the alerts of event SEQ sent so far: a browser that
 * reconnects sends it back and gets exactly what followed.  A published
 * alert is the cue to list again; so is a second without one (the PUB
 * drops alerts for a slow subscriber), the way the Python client follows.
 * A comment line goes out every 15 s to keep proxies from closing an idle
 * stream.  Filters: ?code= (a prefix), ?severity=, ?unit=.
 */
#ifndef POVTRACK_GW_SSE_H
#define POVTRACK_GW_SSE_H

#include "gw_http.h"

enum MHD_Result gw_sse_stream(struct gw_req *r);

#endif /* POVTRACK_GW_SSE_H */
