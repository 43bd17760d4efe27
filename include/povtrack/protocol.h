/*
 * povtrack/protocol.h - wire protocol v1: what goes over povtrackd's three
 * ZeroMQ endpoints, and the one implementation of its rules.
 *
 * This header is the whole contract of the protocol module
 * (tools/client/protocol*.c), the bottom layer of povtrack: it depends only
 * on msgpack-c.  The daemon packs its acks and replies with it, checks
 * every request with its pre-validator, and validates the text of events
 * with its UTF-8 check; the client library (<povtrack/client.h>, whose
 * libpovtrack-client contains this module) and the povtrack CLI read the
 * daemon's replies with it.  The README's "Wire protocol v1" describes the
 * same protocol for people.
 *
 *   ingest  (ROUTER, POVTRACK_PROTO_INGEST_DEFAULT): one frame, a msgpack
 *           array of 1..POVTRACK_PROTO_EVENTS_MAX event maps, at most
 *           POVTRACK_PROTO_FRAME_MAX bytes; the reply is an array of acks
 *           in the same order, or one ack for a request refused whole.
 *   query   (ROUTER, POVTRACK_PROTO_QUERY_DEFAULT): one msgpack map with
 *           an "op"; the reply is a map {"ok": true, ...} or
 *           {"ok": false, "error": str, ...}.
 *   alerts  (PUB, POVTRACK_PROTO_ALERTS_DEFAULT): two frames, the topic
 *           "alert.<code>" and a msgpack map.
 *
 * Every string the daemon sends is valid UTF-8 (povtrack_proto_pack_text
 * makes untrusted text so), so a strict decoder reads every reply whole.
 *
 * Return codes (<povtrack/errors.h>, which this header includes): 0,
 * POVTRACK_EINVALID for input that breaks the protocol's rules (a
 * request), POVTRACK_EPROTO for a reply that does, POVTRACK_ENOMEM (also
 * when a packer's writer cannot take the bytes: msgpack's sbuffer fails
 * only for want of memory).  Functions that can say more write a message
 * into err (errlen bytes, NUL included; err may be NULL when errlen is 0).  No
 * function keeps state: all are safe to call from any thread on distinct
 * arguments.
 */
#ifndef POVTRACK_PROTOCOL_H
#define POVTRACK_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include <povtrack/errors.h>

#ifdef __cplusplus
extern "C" {
#endif

#define POVTRACK_PROTO_VERSION 1

/* ---- Endpoints and limits ------------------------------------------- */

#define POVTRACK_PROTO_INGEST_DEFAULT "tcp://127.0.0.1:7170"
#define POVTRACK_PROTO_QUERY_DEFAULT "tcp://127.0.0.1:7171"
#define POVTRACK_PROTO_ALERTS_DEFAULT "tcp://127.0.0.1:7172"

/* What one ingest request may hold.  The daemon's [limits] frame_max and
 * events_max may lower these, never raise them; a client refuses a request
 * above them itself rather than send it to be refused. */
#define POVTRACK_PROTO_FRAME_MAX (4u * 1024u * 1024u) /* bytes */
#define POVTRACK_PROTO_EVENTS_MAX 10000u              /* events */

/* Defaults of the daemon's other hostile-input limits ([limits]
 * string_max, depth_max, container_max): bytes of any string, nesting (the
 * top-level object is depth 1; POVTRACK_PROTO_DEPTH_MAX is also the
 * highest depth_max allowed) and elements of a nested array or map. */
#define POVTRACK_PROTO_STRING_MAX_DEFAULT 4096u
#define POVTRACK_PROTO_DEPTH_MAX 8
#define POVTRACK_PROTO_CONTAINER_MAX_DEFAULT 64u

/* Query requests: bytes of one, and the most records or alerts one "read"
 * or "alerts" request may ask for ("limit"). */
#define POVTRACK_PROTO_REQUEST_MAX (1u * 1024u * 1024u)
#define POVTRACK_PROTO_READ_LIMIT_MAX 10000u

/* What a reader of the daemon accepts.  An ack array for 10000 events with
 * 128-byte ids and long rejection messages stays well under 8 MiB; a
 * "read" of 10000 records is bounded by the ingest frame limit.  Replies
 * nest records > event > data > arrays: 32 is far more than v1 needs and
 * matches msgpack-c's own parse stack. */
#define POVTRACK_PROTO_REPLY_MAX (64u * 1024u * 1024u) /* bytes of a reply */
#define POVTRACK_PROTO_ALERT_MAX (1u * 1024u * 1024u)  /* bytes of an alert */
#define POVTRACK_PROTO_TOPIC_MAX 256u /* bytes of an alert topic, NUL incl. */
#define POVTRACK_PROTO_REPLY_DEPTH_MAX 32u

/* An ack echoes an event's id of 1 to this many bytes (the catalogue's
 * longest id). */
#define POVTRACK_PROTO_ID_MAX 128u

/* Room for any message this module writes into err. */
#define POVTRACK_PROTO_ERROR_MAX 256u

/* ---- Field names ----------------------------------------------------- */

/* Keys of requests, acks and replies, as on the wire. */
#define POVTRACK_KEY_OP "op"
#define POVTRACK_KEY_OK "ok"
#define POVTRACK_KEY_ERROR "error"
#define POVTRACK_KEY_ID "id"
#define POVTRACK_KEY_INDEX "index"
#define POVTRACK_KEY_STATUS "status"
#define POVTRACK_KEY_SEQ "seq"
#define POVTRACK_KEY_PLUGIN "plugin"
#define POVTRACK_KEY_Q "q"
#define POVTRACK_KEY_MIN_SEQ "min_seq"
#define POVTRACK_KEY_RESULT "result"
#define POVTRACK_KEY_APPLIED_SEQ "applied_seq"
#define POVTRACK_KEY_RETRY_AFTER_MS "retry_after_ms"

/* The operations of the query endpoint (the value of "op"). */
#define POVTRACK_OP_PING "ping"
#define POVTRACK_OP_STATS "stats"
#define POVTRACK_OP_READ "read"
#define POVTRACK_OP_QUERY "query"
#define POVTRACK_OP_ALERTS "alerts"
#define POVTRACK_OP_UNITS "units"
#define POVTRACK_OP_RESUME "resume"
#define POVTRACK_OP_REBUILD "rebuild"
/* What ingest would answer to {"events": [...]}, nothing stored: an "acks"
 * array of ingest acks, an "ok" one with seq 0. */
#define POVTRACK_OP_VALIDATE "validate"
/* {"op": "audit", "id": ID}: a record, its voids and corrections. */
#define POVTRACK_OP_AUDIT "audit"

/* ---- Pre-validation -------------------------------------------------- */

/* What one msgpack object may hold, checked by povtrack_proto_precheck()
 * while it scans.  The names are those of the daemon's [limits]
 * configuration, and each refusal names its limit ("limits.string_max"). */
struct povtrack_proto_limits {
    unsigned depth_max;     /* nesting; the top-level object is depth 1 */
    uint32_t string_max;    /* bytes of any str, bin or ext */
    uint32_t container_max; /* elements of an array or map below the top */
    uint32_t top_max;       /* elements of the top-level array or map */
    /* The name of top_max in messages ("limits.events_max"); NULL: "the
     * top-level limit". */
    const char *top_name;
};

/*
 * Cheap, non-allocating scan of untrusted bytes, to run before
 * msgpack_unpack_next(), which believes the counts in headers and would
 * allocate what a hostile one declares (msgpack-c issue #1013).  Succeeds
 * only if buf holds exactly one well-formed msgpack object within lim
 * (depth_max above 64 counts as 64), whose every declared string, array
 * and map size fits in the bytes that remain, so that what the unpacker
 * then allocates is bounded by len.  Returns 0 or POVTRACK_EINVALID with err
 * saying what and where ("event: string of 5000 bytes exceeds limits.string_max
 * (4096)"; the messages start "event: " for the ingest acks' sake).
 */
int povtrack_proto_precheck(const void *buf, size_t len,
                            const struct povtrack_proto_limits *lim, char *err,
                            size_t errlen);

/*
 * What a strict msgpack decoder (msgpack-python with raw=False) accepts:
 * buf is exactly one well-formed msgpack object, nested at most 64 deep,
 * and every str in it holds valid UTF-8.  The daemon checks a plugin's
 * query result with it before sending it on.  Returns 0 or POVTRACK_EINVALID
 * with err saying what and where ("string at byte 12 is not valid UTF-8").
 */
int povtrack_proto_check_strict(const void *buf, size_t len, char *err,
                                size_t errlen);

/*
 * Decode the one msgpack object of a reply (or alert) in buf into *out,
 * allocating from zone: pre-checked first (POVTRACK_PROTO_REPLY_DEPTH_MAX,
 * no size limits beyond the bytes there are), so a hostile or corrupt
 * reply cannot make msgpack-c allocate more than len bounds.  out points
 * into buf and zone: both must outlive it.  Returns 0, POVTRACK_EPROTO
 * (not exactly one well-formed object; err says why) or POVTRACK_ENOMEM.
 */
int povtrack_proto_unpack(const void *buf, size_t len, msgpack_zone *zone,
                          msgpack_object *out, char *err, size_t errlen);

/* The value of key in a msgpack map; NULL if absent or map is not a map. */
const msgpack_object *povtrack_proto_map_get(const msgpack_object *map,
                                             const char *key);

/* ---- Text ------------------------------------------------------------ */

/* Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing past
 * U+10FFFF, no sequence cut short.  Returns the offset of the first byte
 * that does not start a valid character, or len. */
size_t povtrack_proto_utf8_prefix(const char *s, size_t len);

/* Is all of s valid UTF-8? */
bool povtrack_proto_utf8_valid(const char *s, size_t len);

/*
 * Replies quote what clients sent (an op name, a unit asked for, a
 * plugin's message about it).  Such text is escaped: valid UTF-8 is copied
 * and each byte that is not shows as the four characters \xHH (lower-case
 * hex), so "\xff\xfe" stays readable and nothing is dropped silently.
 *
 * s escaped into out (cap bytes, NUL included; out may be NULL when cap is
 * 0).  Output is cut only between a character and the next (never inside
 * one or inside an escape), so what is written is always valid UTF-8.
 * Returns the length of the whole escaped text, without the NUL, like
 * snprintf: it did not all fit when that is >= cap.  At most 4 * len.
 */
size_t povtrack_proto_text_escape(char *out, size_t cap, const char *s,
                                  size_t len);

/* Append s, escaped as above, to pk as one msgpack str; valid text is
 * packed as it is.  Returns 0 or POVTRACK_ENOMEM. */
int povtrack_proto_pack_text(msgpack_packer *pk, const char *s, size_t len);

/* Append the NUL-terminated s as one msgpack str, as it is (for the
 * protocol's own keys and values).  Returns 0 or POVTRACK_ENOMEM. */
int povtrack_proto_pack_cstr(msgpack_packer *pk, const char *s);

/* ---- Ingest acks ----------------------------------------------------- */

/*
 * One ack per event of a request, in order, or one for a request refused
 * whole:
 *
 *   {"id": "mttq-60-2024-000123", "status": "ok", "seq": 4711}
 *   {"id": nil, "index": 2, "status": "rejected", "error": "id: ..."}
 *   [{"id": nil, "status": "rejected", "error": "request: ..."}]
 *
 * An ack echoes the event's id when it can be echoed as given (a str of 1
 * to POVTRACK_PROTO_ID_MAX bytes of valid UTF-8); otherwise (absent, not a
 * str, too long, not UTF-8) it carries nil and the event's position in the
 * request, so that a client can still match it.  Error text is escaped
 * (povtrack_proto_pack_text), so every string of an ack is valid UTF-8.
 */
enum povtrack_ack_status {
    POVTRACK_ACK_OK = 0,
    POVTRACK_ACK_DUPLICATE = 1, /* stored before: seq is where */
    POVTRACK_ACK_REJECTED = 2   /* not stored: error says why */
};

/* "ok", "duplicate", "rejected"; NULL for another value. */
const char *povtrack_proto_ack_status_name(enum povtrack_ack_status s);

/* The id an ack echoes for the event map o (any msgpack object): a pointer
 * into o with *len set, or NULL when it has none that can be echoed. */
const char *povtrack_proto_ack_id(const msgpack_object *o, uint32_t *len);

/* Pack the ack of the event at index (0-based) in its request: id (NULL:
 * none, then index is packed), status, seq (ok and duplicate) or error
 * (rejected; then seq is not used).  Returns 0, POVTRACK_ENOMEM, or
 * POVTRACK_EINVAL for a status that is none of the three. */
int povtrack_proto_pack_ack(msgpack_packer *pk, const char *id, uint32_t id_len,
                            uint32_t index, enum povtrack_ack_status status,
                            uint64_t seq, const char *error);

/* Pack the whole reply to a request refused as a whole: an array of one
 * ack with a nil id, no index, and error. */
int povtrack_proto_pack_refused(msgpack_packer *pk, const char *error);

/* One ack as read from a reply.  Strings are NUL-terminated copies owned
 * by the ack array.  A string that contains a NUL byte is refused as a
 * protocol error. */
struct povtrack_ack {
    const char *id; /* NULL when the daemon could not read the id */
    enum povtrack_ack_status status;
    uint64_t seq;      /* ok, duplicate: sequence number in the log */
    const char *error; /* rejected: field and reason; else NULL */
};

struct povtrack_acks {
    size_t count;
    struct povtrack_ack *acks;
    void *storage_; /* private */
};

/* Read the acks of an ingest reply (the decoded array) into out, one
 * allocation holding them all.  Returns 0, POVTRACK_EPROTO (err names the ack
 * and what is wrong with it) or POVTRACK_ENOMEM; out is always safe to free
 * after. */
int povtrack_proto_parse_acks(const msgpack_object *reply,
                              struct povtrack_acks *out, char *err,
                              size_t errlen);

/* Free what povtrack_proto_parse_acks() filled and zero acks; NULL is
 * allowed. */
void povtrack_proto_acks_free(struct povtrack_acks *acks);

/* ---- Query requests and replies -------------------------------------- */

/* Pack the head of a query request: a map of 1 + fields entries whose
 * first is "op": op; the caller packs the fields after it.  Returns 0 or
 * POVTRACK_ENOMEM. */
int povtrack_proto_pack_request(msgpack_packer *pk, const char *op,
                                uint32_t fields);

/* Pack a whole "query" request: {"op": "query", "plugin": plugin, "q": q,
 * "min_seq": min_seq}.  q is one packed msgpack map, appended as it is
 * (NULL or q_len 0: an empty map); min_seq < 0 leaves "min_seq" out.
 * Returns 0 or POVTRACK_ENOMEM. */
int povtrack_proto_pack_query(msgpack_packer *pk, const char *plugin,
                              const void *q, size_t q_len, int64_t min_seq);

/* Pack the head of a successful reply: a map of 1 + fields entries whose
 * first is "ok": true; the caller packs the fields.  Returns 0 or
 * POVTRACK_ENOMEM. */
int povtrack_proto_pack_ok(msgpack_packer *pk, uint32_t fields);

/* Pack the head of a refusal: a map of 2 + fields entries, "ok": false and
 * "error": msg (escaped where it is not UTF-8); the caller packs the other
 * fields ("retry_after_ms").  Returns 0 or POVTRACK_ENOMEM. */
int povtrack_proto_pack_error(msgpack_packer *pk, const char *msg,
                              uint32_t fields);

/* Read the status of a query reply (decoded): *ok from its "ok", and for a
 * refusal its "error" in *error and *error_len (NULL when there is no
 * str).  Returns 0, or POVTRACK_EPROTO when reply is not a map with a boolean
 * "ok". */
int povtrack_proto_parse_reply(const msgpack_object *reply, bool *ok,
                               const char **error, size_t *error_len);

#ifdef __cplusplus
}
#endif

#endif /* POVTRACK_PROTOCOL_H */
