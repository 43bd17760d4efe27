/*
 * pt_ack.h - the acknowledgements the ingest endpoint sends (README, Wire
 * protocol v1): one ack per event of a request, in order, or one ack for a
 * request refused whole.
 *
 *   {"id": "mttq-60-2024-000123", "status": "ok", "seq": 4711}
 *   {"id": nil, "index": 2, "status": "rejected", "error": "id: ..."}
 *   [{"id": nil, "status": "rejected", "error": "request: ..."}]
 *
 * An ack echoes the event's id when it can be echoed as given (a str of 1
 * to EV_ID_MAX bytes of valid UTF-8); otherwise (absent, not a str, too
 * long, not UTF-8) it carries nil and the event's position in the request,
 * so that a client can still match it.  Error text goes through
 * ev_pack_text(), so every string of an ack is valid UTF-8.  The daemon and
 * the fuzz target of ingest pack acks with these functions alone.
 */
#ifndef POVTRACK_PT_ACK_H
#define POVTRACK_PT_ACK_H

#include <stdint.h>

#include <msgpack.h>

#include "ev_event.h"

/* The id an ack echoes for the event map o (any msgpack object): ptr NULL
 * when it has none that can be echoed.  Points into o. */
struct ev_str pt_ack_id(const msgpack_object *o);

/* Pack the ack of the event at index (0-based) in its request: status
 * "ok" or "duplicate" with seq, or "rejected" with error (then seq is not
 * used).  index is packed only when id.ptr is NULL. */
void pt_ack_event(msgpack_packer *pk, struct ev_str id, uint32_t index,
                  const char *status, uint64_t seq, const char *error);

/* Pack the whole reply to a request refused as a whole: an array of one
 * ack with a nil id, no index, and error. */
void pt_ack_request_refused(msgpack_packer *pk, const char *error);

#endif /* POVTRACK_PT_ACK_H */
