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
#include <povtrack/errors.h>
#include <povtrack/event.h>
#include <povtrack/protocol.h>

/* Limits of validation beyond the catalogue's own (povtrack/event.h). */
#define EV_ERROR_MAX 256 /* bytes of an error message, NUL included */
/* msgpack nesting of a request: the protocol's (<povtrack/protocol.h>). */
#define EV_DEPTH_MAX POVTRACK_PROTO_DEPTH_MAX
#define EV_AT_MIN INT64_C(946684800) /* 2000-01-01T00:00:00Z */
#define EV_AT_SLACK INT64_C(86400)   /* "at" may be up to one day ahead */
/* Messages give times in Vietnam, UTC+7 all year, where the clerks are. */
#define EV_VN_OFFSET INT64_C(25200)

/* Return codes: <povtrack/errors.h>.  POVTRACK_EINVALID: the input is not
 * a valid event, and the struct ev_error says why; POVTRACK_ENOTFOUND: no
 * such unit; POVTRACK_ENOMEM. */

/* What kind of rule a rejection broke, for a program that words it in its
 * own terms (the CSV importer says which cell of a spreadsheet is wrong,
 * in Vietnamese or English).  EV_WHY_OTHER: the message is all there is. */
enum ev_why {
    EV_WHY_OTHER = 0,
    EV_WHY_MISSING,   /* required fields absent; the message lists them */
    EV_WHY_TOO_EARLY, /* a time before the earliest accepted */
    EV_WHY_TOO_LATE,  /* "at" later than tomorrow */
    EV_WHY_RANGE,     /* an integer outside its range */
    EV_WHY_EMPTY,     /* an empty text */
    EV_WHY_TOO_LONG,  /* a text longer than its limit */
    EV_WHY_FORMAT,    /* not of its form: a unit code, a UTF-8 text */
    EV_WHY_VALUE      /* not one of the values an enumerated field takes */
};

/* A rejection message names the field and the reason, e.g.
 * "data.amount: must be a positive integer"; why says which rule. */
struct ev_error {
    char msg[EV_ERROR_MAX];
    enum ev_why why;
};

/* The pre-validator of untrusted msgpack and the strict reply check are the
 * protocol module's (<povtrack/protocol.h>: povtrack_proto_precheck,
 * povtrack_proto_check_strict), and so are the text helpers. */

/* An ack echoes every id the catalogue accepts. */
_Static_assert(EV_ID_MAX == POVTRACK_PROTO_ID_MAX, "EV_ID_MAX");

/*
 * Decode and validate one event map.  Checks everything that can be checked
 * from the event alone: keys, types, required and optional fields, enums,
 * lengths, ranges, "at" in [EV_AT_MIN, max_at].  Pass max_at = now +
 * EV_AT_SLACK at ingest, INT64_MAX when decoding stored events.  Unknown
 * keys are rejected.  On POVTRACK_EINVALID, err names the field and reason.
 */
int ev_decode(const msgpack_object *obj, int64_t max_at, struct ev_event *out,
              struct ev_error *err);

/* How an event of type takes a field: name is a data field ("amount") or
 * "household".  EV_RULE_NONE also for a name or type the catalogue does
 * not know.  For programs that build events from other data (the CSV
 * importer), to ask for what the catalogue requires before decoding. */
enum ev_rule { EV_RULE_NONE = 0, EV_RULE_OPTIONAL, EV_RULE_REQUIRED };
enum ev_rule ev_field_rule(enum ev_type type, const char *name);

/* A unit code's form: 2, 3 or 5 decimal digits (province, district,
 * commune).  POVTRACK_OK, or POVTRACK_EINVALID with err naming path.  Also
 * for requests that name units (the units op's "regroup"). */
int ev_check_unit_code(struct ev_str s, const char *path, struct ev_error *err);

/* Reference checks against the unit registry (ev_check_refs) are declared
 * in ev_unit.h, with the registry's history of each code. */

/* Canonical msgpack encoding of a valid event, appended to pk. */
int ev_encode(const struct ev_event *ev, msgpack_packer *pk);

/* The names of types and values (ev_type_name, ev_type_from_name ...) and
 * ev_str_eq are inline in <povtrack/event.h>. */

#endif /* POVTRACK_EV_EVENT_H */
