/*
 * pt_strict.h - [mirror] strict = yes: a publisher's ack waits until the
 * records it acknowledges are also acknowledged by JetStream, so that
 * losing the province's machine loses nothing acknowledged.
 *
 * Ingest commits a group as always (the log stays the source of truth);
 * then each request's reply whose highest stored sequence (an ok or a
 * duplicate) is above what the mirror's progress page says JetStream holds
 * is held here, in the order the requests came, instead of being sent.
 * Ingest's loop polls the mirror's end of the socket pair
 * (pt_mirror_sup.h) and calls pt_strict_release, which sends, in order,
 * every held reply JetStream has caught up with.  A reply that
 * acknowledges nothing stored (every event rejected) is sent at once.
 *
 * While the mirror or NATS is down the replies wait, and publishers time
 * out and send again (the same ids come back duplicate, and wait in their
 * turn): a warning says so every PT_STRICT_WARN_MS while a reply waits.
 * At most PT_STRICT_HELD_MAX replies (and PT_STRICT_BYTES_MAX bytes) are
 * held; past that the oldest is dropped, never sent early: its publisher
 * times out and sends again.
 *
 * Errors: 0 or a code of <povtrack/errors.h>.
 */
#ifndef POVTRACK_PT_STRICT_H
#define POVTRACK_PT_STRICT_H

#include <stddef.h>
#include <stdint.h>

#include "pt_log.h"
#include "pt_mirror.h"
#include "pt_wire.h"

#define PT_STRICT_HELD_MAX 4096
#define PT_STRICT_BYTES_MAX ((size_t)64 << 20)
#define PT_STRICT_WARN_MS 5000

struct pt_strict;

/* page: the mirror's progress page, which must outlive s. */
int pt_strict_open(const struct pt_log *log, const struct pt_mirror_page *page,
                   struct pt_strict **out);
/* Drops what is held (not sent: JetStream has not acknowledged it). */
void pt_strict_close(struct pt_strict *s);

/* The reply body for req, which acknowledges records up to seq (0: none
 * stored): sent on sock now when JetStream holds seq and nothing is held
 * before it, else held (req is moved into s, body copied).  Returns 0, or
 * the error of sending it. */
int pt_strict_reply(struct pt_strict *s, void *sock, struct pt_request *req,
                    const void *body, size_t len, uint64_t seq);

/* Send, in order, the held replies JetStream now holds; warn about the
 * oldest when it has waited long.  Cheap when nothing is held. */
void pt_strict_release(struct pt_strict *s, void *sock);

/* Replies held now. */
size_t pt_strict_held(const struct pt_strict *s);

#endif /* POVTRACK_PT_STRICT_H */
