/*
 * ev_event.h - the event catalogue: what a valid povtrack event is.
 *
 * This header is the whole contract of the events module.  The daemon uses
 * it to validate what publishers send, the plugin host to decode what the log
 * holds.  Nothing else in povtrack decides whether an event is valid.  The
 * types of a decoded event and the names of its values are public, in
 * <povtrack/event.h> (installed, for plugins); this header adds what only
 * the events module implements.
 *
 * Stored form: an accepted event is re-encoded canonically by ev_encode()
 * (fixed key order, data keys in a fixed order per type, absent optional
 * fields omitted, integers in their shortest msgpack form), so two events
 * with the same meaning have the same bytes.  Idempotency compares those
 * bytes.
 */
#ifndef POVTRACK_EV_EVENT_H
#define POVTRACK_EV_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>
#include <povtrack/event.h>

/* Limits of validation beyond the catalogue's own (povtrack/event.h). */
#define EV_DEPTH_MAX 8   /* msgpack nesting accepted by ev_precheck */
#define EV_ERROR_MAX 256 /* bytes of an error message, NUL included */
#define EV_AT_MIN INT64_C(946684800) /* 2000-01-01T00:00:00Z */
#define EV_AT_SLACK INT64_C(86400)   /* "at" may be up to one day ahead */

/* Return codes.  0 is success. */
enum ev_rc {
    EV_OK = 0,
    EV_EINVAL = 1,    /* the input is not a valid event; see err */
    EV_ENOTFOUND = 2, /* unit lookup: no such unit */
    EV_ENOMEM = 3
};

/* A rejection message names the field and the reason, e.g.
 * "data.amount: must be a positive integer". */
struct ev_error {
    char msg[EV_ERROR_MAX];
};

/*
 * Cheap, non-allocating scan of buf: succeeds only if buf holds exactly one
 * well-formed msgpack object whose nesting is at most max_depth and whose
 * every declared string/array/map size fits in the bytes that remain.  Run
 * it before msgpack_unpack_next(), which would otherwise try to allocate
 * what a hostile header declares (msgpack-c issue #1013).
 */
int ev_precheck(const void *buf, size_t len, unsigned max_depth,
                struct ev_error *err);

/* What a frame may hold, checked by ev_precheck_limits() while it scans.
 * The names are those of the daemon's [limits] configuration, and each
 * rejection message names its limit ("limits.string_max"). */
struct ev_limits {
    unsigned depth_max;     /* nesting; the top-level object is depth 1 */
    uint32_t string_max;    /* bytes of any str, bin or ext */
    uint32_t container_max; /* elements of an array or map below the top */
    uint32_t top_max;       /* elements of the top-level array or map */
    /* The name of top_max in messages ("limits.events_max"); NULL: "the
     * top-level limit". */
    const char *top_name;
};

/* ev_precheck() with every limit of lim as well. */
int ev_precheck_limits(const void *buf, size_t len, const struct ev_limits *lim,
                       struct ev_error *err);

/*
 * What a strict msgpack decoder (msgpack-python with raw=False) accepts:
 * buf is exactly one well-formed msgpack object, nested at most 64 deep,
 * and every str in it holds valid UTF-8 (ev_text.h).  The daemon checks a
 * plugin's query result with it before sending it on.  Returns EV_OK, or
 * EV_EINVAL with err saying what and where ("string at byte 12 is not
 * valid UTF-8").
 */
int ev_msgpack_strict(const void *buf, size_t len, struct ev_error *err);

/*
 * Decode and validate one event map.  Checks everything that can be checked
 * from the event alone: keys, types, required and optional fields, enums,
 * lengths, ranges, "at" in [EV_AT_MIN, max_at].  Pass max_at = now +
 * EV_AT_SLACK at ingest, INT64_MAX when decoding stored events.  Unknown
 * keys are rejected.  On EV_EINVAL, err names the field and reason.
 */
int ev_decode(const msgpack_object *obj, int64_t max_at, struct ev_event *out,
              struct ev_error *err);

/* Reference checks against the unit registry (ev_check_refs) are declared
 * in ev_unit.h, with the registry's history of each code. */

/* Canonical msgpack encoding of a valid event, appended to pk. */
int ev_encode(const struct ev_event *ev, msgpack_packer *pk);

/* The names of types and values (ev_type_name, ev_type_from_name ...) and
 * ev_str_eq are inline in <povtrack/event.h>. */

#endif /* POVTRACK_EV_EVENT_H */
