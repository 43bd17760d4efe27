/*
 * gw_api.h - the handlers of the JSON API under /api/v1/ and of /metrics
 * (the routes and their contract: openapi.json beside this file, served at
 * /api/v1/openapi.json; the README's Web gateway).  Each is called by
 * gw_http.c once the request is complete and its caller known, and
 * answers it.
 */
#ifndef POVTRACK_GW_API_H
#define POVTRACK_GW_API_H

#include "gw_http.h"

enum MHD_Result gw_api_login(struct gw_req *r);
enum MHD_Result gw_api_logout(struct gw_req *r);
enum MHD_Result gw_api_session(struct gw_req *r);
enum MHD_Result gw_api_events(struct gw_req *r);
enum MHD_Result gw_api_query(struct gw_req *r, const char *plugin);
enum MHD_Result gw_api_units(struct gw_req *r);
enum MHD_Result gw_api_alerts(struct gw_req *r);
enum MHD_Result gw_api_report(struct gw_req *r);
enum MHD_Result gw_api_health(struct gw_req *r);
enum MHD_Result gw_api_metrics(struct gw_req *r);

/* Ask povtrackd's query endpoint req (packed msgpack) as who; on success 0
 * with reply filled (free it), else the failure answered and a non-zero
 * return with *result set to what the handler returns. */
int gw_api_ask(struct gw_req *r, const struct gw_identity *who, const void *req,
               size_t len, struct povtrack_client_msg *reply,
               enum MHD_Result *result);

/* Validate (dry) or publish the events of arr (a JSON array of event
 * maps, times as text allowed) as r's caller, as POST /api/v1/events does:
 * 0 with *answer the import summary (acks by index, conflicts) and *status
 * its HTTP status, else the failure answered and *result set. */
int gw_api_submit(struct gw_req *r, json_t *arr, bool dry, json_t **answer,
                  int *status, enum MHD_Result *result);

/* The query-string flag name of r into *on: absent or empty is false;
 * "true", "1", "yes" and "false", "0", "no" (any case) say it.  Anything
 * else is answered 400 naming the flag, with *result set, and returns
 * POVTRACK_EINVALID: a dry_run=maybe must never store as if it were no. */
int gw_api_arg_flag(struct gw_req *r, const char *name, bool *on,
                    enum MHD_Result *result);

/* The alert filter severity= of r: absent, empty, or one of povtrackd's
 * severities (info, warning, critical); 0, else answered 400 naming it with
 * *result set and POVTRACK_EINVALID (a "warn" would match nothing and look
 * like no alert at all). */
int gw_api_severity_arg(struct gw_req *r, enum MHD_Result *result);

/* A msgpack value as JSON (NULL on values JSON cannot hold). */
json_t *gw_api_json(const msgpack_object *o);

#endif /* POVTRACK_GW_API_H */
