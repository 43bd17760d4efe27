/*
 * tl_alertfilter.h - which alerts a reader asked for: the one rule of
 * `povtrack alerts --code/--severity/--unit` and of the gateway's
 * /api/v1/alerts and alert stream (?code=&severity=&unit=).
 *
 * code is a prefix ("fund." for one plugin's alerts, a whole code for
 * one), severity and unit match whole.  An empty or NULL filter lets
 * every alert through.
 */
#ifndef POVTRACK_TL_ALERTFILTER_H
#define POVTRACK_TL_ALERTFILTER_H

#include <stdbool.h>

#include <msgpack.h>

struct tl_alert_filter {
    const char *code;     /* prefix of the alert's code */
    const char *severity; /* info, warning or critical */
    const char *unit;     /* the alert's unit code */
};

/* Does alert a (the map povtrackd stores and publishes) pass f? */
bool tl_alert_filter_match(const struct tl_alert_filter *f,
                           const msgpack_object *a);

/* Does f let every alert through (no filter set)? */
bool tl_alert_filter_none(const struct tl_alert_filter *f);

/* Is v a severity povtrackd gives: info, warning or critical?  The words
 * for a refusal: "must be info, warning or critical". */
bool tl_alert_severity_known(const char *v);

#endif /* POVTRACK_TL_ALERTFILTER_H */
