/*
 * pt_ingest.h - the ingest side of povtrackd: a ROUTER socket that takes
 * event batches, validates them, appends them to the log in group commits
 * and acknowledges each event only once its commit is durable.
 *
 * Group commit: every request that arrived while the previous commit was
 * syncing is drained into the next transaction (up to batch_max events), so
 * one fsync covers many clients.
 *
 * With [mirror] strict = yes, a reply also waits until JetStream has
 * acknowledged the records it acknowledges (pt_strict.h).  A standby not
 * yet promoted, and a province whose mirror found the stream diverged
 * from the log, refuse every publisher's request whole (pt_mirror.h):
 * the standby's records come from the stream, through its mirror.
 *
 * Who sent a request is what the connection authenticated as (pt_auth.h);
 * that name is stored with each event, and the rights of the key in the
 * registry in force at the commit decide which of its events may be stored
 * at all.  Requests over
 * cfg->limits, or over the publisher's requests_per_second, are refused
 * whole with a message naming the limit.
 */
#ifndef POVTRACK_PT_INGEST_H
#define POVTRACK_PT_INGEST_H

#include "pt_config.h"
#include "pt_log.h"

struct pt_ingest;

/* Errors: 0 or a code of <povtrack/errors.h>, logged or in err. */

/* Open (creating) the log in <data_dir>/log and bind cfg->ingest. */
int pt_ingest_open(const struct pt_config *cfg, const struct pt_log *log,
                   struct pt_ingest **out, char *err, size_t errlen);
void pt_ingest_close(struct pt_ingest *ig);

/* Where to signal each commit (a pipe to the plugin host); -1 for none. */
void pt_ingest_set_notify(struct pt_ingest *ig, int fd);

/* [mirror]: ingest's end of the socket pair with povtrack-mirror (-1 while
 * none runs), told of each commit too, and the mirror's progress page.
 * With strict = yes, the replies of each commit wait until the page says
 * JetStream holds their records (pt_strict.h), and the step also wakes on
 * the mirror's messages on fd; so does a standby's, whose mirror says
 * "applied N" (the plugin host is woken) and "promoted N" (publishers are
 * taken from then on).  Returns 0, or POVTRACK_ENOMEM. */
struct pt_mirror_page;
int pt_ingest_set_mirror(struct pt_ingest *ig, int fd,
                         const struct pt_mirror_page *page);

/* At a stop in strict mode: wait up to timeout_ms for the mirror to let
 * the held replies go.  Returns how many are still held. */
size_t pt_ingest_strict_drain(struct pt_ingest *ig, int timeout_ms);

/* Wait up to timeout_ms for requests, then process one group: validate,
 * commit, acknowledge.  Returns 0 (also on timeout or EINTR), or ZeroMQ's
 * error when it cannot wait (fatal). */
int pt_ingest_step(struct pt_ingest *ig, int timeout_ms);

/* SIGHUP, after the caller updated the live settings of its config (see
 * pt_config_apply_reload): take the new limits, and read the publisher
 * registry again.  Returns 0, or an error when the new registry has one,
 * which is logged, and the old registry stays in force.  Requests taken
 * from then on are checked against the registry in force, also on
 * connections opened before (pt_auth_sender). */
int pt_ingest_reload(struct pt_ingest *ig);

/* Clear reader slots of dead readers (after the plugin host died). */
void pt_ingest_reader_check(struct pt_ingest *ig);

#endif /* POVTRACK_PT_INGEST_H */
