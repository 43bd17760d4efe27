/*
 * mr_copy.h - the mirror's work: the committed log of one province, record
 * by record, into the province's JetStream stream (mr_stream.h), each
 * record exactly once and in order, and how far it got on the progress
 * page (pt_mirror.h).
 *
 * The loop:
 *
 *   connect   to [mirror] servers, again and again with a back-off (1 s
 *             doubling to 30 s) while none answers;
 *   resync    find the stream (create it when missing) and its last
 *             sequence S; S beyond the log's end, or a message S whose
 *             Povtrack-Seq, Povtrack-Province or body is not the log's
 *             record S, is a divergence: state diverged, nothing sent,
 *             looked at again every MR_DIVERGED_RECHECK_MS (an operator
 *             who removes the stream lets the mirror fill it again).  S
 *             below what JetStream had acknowledged means it lost its tail
 *             (its nodes fsync on a timer): logged, and the records after
 *             S are sent again from the log, the same bytes;
 *   copy      publish records S+1 ... as they are committed (woken by
 *             ingest's "L", or every second), at most MR_WINDOW in flight;
 *             each ack moves acked_seq on the page, and in strict mode
 *             tells ingest ("acked N" on the socket pair);
 *   failure   any publish that fails (the expected last sequence did not
 *             match, a timeout, the connection lost, a leader election):
 *             wait for what is in flight to be answered or time out, then
 *             resync;
 *   idle      while nothing is in flight, ask the stream's last sequence
 *             every MR_IDLE_CHECK_MS, and resync when it went down (a
 *             lost tail shows even when no new record comes).
 *
 * A standby ([mirror] standby = yes, not yet promoted: pt_mirror.h) runs
 * the other way, with the log opened for writing:
 *
 *   sync      the stream's last sequence S and the log's L: L beyond S,
 *             or message L not the log's record L, is a divergence (state
 *             diverged, looked at again every MR_DIVERGED_RECHECK_MS);
 *   follow    read messages L+1 ... with a pull consumer (mr_stream_read:
 *             up to MR_FOLLOW_BATCH a fetch, waiting up to
 *             MR_FOLLOW_POLL_MS), check their stream sequence,
 *             Povtrack-Seq, Povtrack-Province and subject, and append
 *             each fetch to the log exactly as it is (st_log_append_raw:
 *             same sequence, received time, publisher and bytes, checked
 *             gapless), then tell ingest ("applied N", which wakes the
 *             plugin host); acked_seq on the page is what the log holds of
 *             the stream, state following; any failure: sync again;
 *   promote   once `povtrack promote` asked and the log holds the stream
 *             to its end (a fetch found nothing, and S asked again), write the
 * promoted marker, tell ingest ("promoted N": it takes publishers from then
 * on), and copy as above.
 *
 * It stops on SIGTERM or SIGINT, or when ingest's end of the socket pair
 * closes (ingest died), after waiting up to MR_PUBLISH_WAIT_MS for the
 * acks in flight.
 */
#ifndef POVTRACK_MR_COPY_H
#define POVTRACK_MR_COPY_H

#include "pt_config.h"
#include "pt_log.h"

#define MR_WINDOW 4096        /* records in flight */
#define MR_IDLE_CHECK_MS 5000 /* the stream's last sequence, idle */
#define MR_DIVERGED_RECHECK_MS 30000
#define MR_BACKOFF_MIN_MS 1000
#define MR_BACKOFF_MAX_MS 30000
#define MR_FOLLOW_BATCH 256   /* records per transaction of a standby */
#define MR_FOLLOW_POLL_MS 100 /* a standby caught up asks the stream */

/* Run until told to stop.  ingest_fd: the mirror's end of the socket pair
 * with ingest; signal_fd: a signalfd for SIGTERM, SIGINT and SIGHUP (the
 * last ignored: [mirror] takes a restart of povtrackd).  Returns the exit
 * status: 0 after a stop, 1 when it cannot run at all (the log or the
 * progress page cannot be opened). */
int mr_copy_run(const struct pt_config *cfg, const struct pt_log *log,
                int ingest_fd, int signal_fd);

#endif /* POVTRACK_MR_COPY_H */
