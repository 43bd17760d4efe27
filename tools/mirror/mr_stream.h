/*
 * mr_stream.h - one province's JetStream stream, as the mirror writes it:
 * the NATS connection, the stream, and publishing records with
 * compare-and-append.  The only module of povtrack that speaks NATS (the
 * C client nats.c, libnats).
 *
 * The stream is the province's alone, with one subject, so that a
 * message's stream sequence is the record's sequence in the log.  Every
 * record seq is published with the header
 *
 *   Nats-Expected-Last-Sequence: seq - 1
 *
 * which JetStream checks when it applies the message, in order, on every
 * replica: a message lands only directly after its predecessor, never
 * twice and never after a gap, whatever was resent, lost in a leader
 * election or lost with the stream's tail.  Because the expected sequence
 * is known before the previous message is acknowledged, records are
 * published as contiguous ranges, pipelined, up to a window: if one fails,
 * every later one fails the same check, and the caller resumes from the
 * stream's last message.  The per-subject check
 * (Nats-Expected-Last-Subject-Sequence) would allow one stream for every
 * province, but nats-server 2.9 checks it in a cluster before proposing
 * the message, against the leader's store (server/jetstream_cluster.go,
 * processClusteredInboundMsg): a pipelined message finds its predecessor
 * not yet stored and is refused, so it allows one message per round trip
 * only; and JetStream's 2-minute duplicate window (Nats-Msg-Id) is not
 * relied on at all.
 *
 * Each message (README, Many provinces, "The stream's format"):
 *   subject  <subject_prefix>.<province>          povtrack.log.60
 *   headers  Povtrack-Seq: <seq, decimal>          = its stream sequence
 *            Povtrack-Province: <province>
 *            Povtrack-Format: povtrack-log-1       (ST_FORMAT)
 *            Nats-Expected-Last-Sequence: <seq-1>  (JetStream's, kept)
 *   body     the record exactly as the log stores it (st_log.h): int64
 *            received (unix µs, big-endian), u8 publisher length, the
 *            publisher, the event in canonical msgpack
 * The body for a given (province, seq) never changes, so a record sent
 * again is byte for byte the one sent first.
 *
 * Threads: nats.c calls back from its own threads; this module turns
 * that into state read under a lock (mr_stream_results) and a wake-up on
 * an eventfd the caller polls.  Everything else is for one thread.
 *
 * Errors: 0 or a code of <povtrack/errors.h>: POVTRACK_ENATS (err says
 * what NATS said), POVTRACK_ENOTFOUND, POVTRACK_ENOMEM.
 */
#ifndef POVTRACK_MR_STREAM_H
#define POVTRACK_MR_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "pt_config.h"
#include "pt_log.h"

#define MR_HDR_SEQ "Povtrack-Seq"
#define MR_HDR_PROVINCE "Povtrack-Province"
#define MR_HDR_FORMAT "Povtrack-Format"
#define MR_PUBLISH_WAIT_MS 5000 /* for JetStream's ack of one message */

struct mr_stream;

/* Connect to c's servers (nats.c then reconnects by itself, forever).
 * wake_fd is written to (8 bytes, eventfd) when acks arrive or the
 * connection drops or comes back. */
int mr_stream_open(const struct pt_mirror_conf *c, const struct pt_log *log,
                   int wake_fd, struct mr_stream **out, char *err,
                   size_t errlen);
/* Acks still due are forgotten: mr_stream_drain first to wait for them.
 * Closing a connected stream ends nats.c in this process (it waits up to
 * MR_CLOSE_WAIT_MS for the library's threads, which call back into s); a
 * later mr_stream_open starts it again. */
#define MR_CLOSE_WAIT_MS 5000
void mr_stream_close(struct mr_stream *s);
/* Close n streams (NULL ones skipped) and set them NULL: every connection
 * first, then one wait for nats.c's threads (the national daemon holds one
 * stream per province). */
void mr_stream_close_all(struct mr_stream **s, size_t n);

/* Wait up to timeout_ms until every publish is answered (acked, refused
 * or timed out). */
void mr_stream_drain(struct mr_stream *s, int timeout_ms);

/* The stream as it is: created (with c->replicas) when missing, refused
 * (POVTRACK_ENATS, err says why) when it has other subjects than c's one.
 * *last gets its last sequence, 0 when empty. */
int mr_stream_ensure(struct mr_stream *s, uint64_t *last, char *err,
                     size_t errlen);

/* The stream's last sequence, asked of its leader. */
int mr_stream_last(struct mr_stream *s, uint64_t *last, char *err,
                   size_t errlen);

/* Message seq of the stream: its Povtrack-Seq and Povtrack-Province
 * headers ("" when absent) and its body, valid until mr_stored_free.
 * POVTRACK_ENOTFOUND when the stream has no such message. */
struct mr_stored {
    uint64_t seq;        /* Povtrack-Seq, 0 when absent or not a number */
    uint64_t stream_seq; /* its stream sequence (mr_stream_read only) */
    char province[16];   /* Povtrack-Province */
    char subject[128];
    const void *body;
    size_t len;
    void *msg; /* natsMsg */
};
int mr_stream_get(struct mr_stream *s, uint64_t seq, struct mr_stored *out,
                  char *err, size_t errlen);
void mr_stored_free(struct mr_stored *m);

/* A standby's reader of the stream: an ephemeral pull consumer from
 * stream sequence from on, without acks (the log is the cursor: a reader
 * opened again starts after the log's last record), which the server
 * drops MR_READER_IDLE_MS after its reader went.  mr_stream_read fetches
 * up to max messages, in order, into out (each freed with
 * mr_stored_free), waiting up to timeout_ms for the first: *n = 0 when
 * none came.  timeout_ms 0: what the stream holds now, without waiting
 * (a request the server answers at once). */
#define MR_READER_IDLE_MS 30000
int mr_stream_read_open(struct mr_stream *s, uint64_t from, char *err,
                        size_t errlen);
int mr_stream_read(struct mr_stream *s, struct mr_stored *out, size_t max,
                   size_t *n, int timeout_ms, char *err, size_t errlen);
void mr_stream_read_close(struct mr_stream *s);

/* Is message seq of the stream the record seq of the log r reads (r
 * renewed by the caller): its Povtrack-Seq, Povtrack-Province, subject and
 * body, byte for byte?  0; POVTRACK_EDIVERGED with why; or another error
 * (NATS, storage) with why. */
struct st_reader;
int mr_stream_same(struct mr_stream *s, struct st_reader *r, uint64_t seq,
                   char *why, size_t whylen);

/* Publish record seq, body its stored bytes, expecting the stream to end
 * at seq - 1.  Asynchronous: the outcome shows in mr_stream_results. */
int mr_stream_publish(struct mr_stream *s, uint64_t seq, const void *body,
                      size_t len, char *err, size_t errlen);

/* What the acks said so far. */
struct mr_results {
    uint64_t acked;  /* highest seq JetStream acknowledged: it holds
                        exactly 1..acked (the chain of expectations) */
    size_t inflight; /* published, neither acked nor failed yet */
    int failed;      /* some publish failed since mr_stream_rearm */
    int code;        /* its error (POVTRACK_ENATS, POVTRACK_EDIVERGED) */
    char why[256];
    int connected;       /* the connection is up now */
    unsigned reconnects; /* times it came back since open */
};
void mr_stream_results(struct mr_stream *s, struct mr_results *out);

/* After a failure, once nothing is in flight: forget it, and set what
 * JetStream is known to hold (acked, from the stream itself). */
void mr_stream_rearm(struct mr_stream *s, uint64_t acked);

#endif /* POVTRACK_MR_STREAM_H */
