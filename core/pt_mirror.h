/*
 * pt_mirror.h - how far the mirror has copied the log into JetStream,
 * shared by three processes through a small file mapped shared,
 * <data_dir>/PT_DATA_MIRROR_FILE (pt_state.h):
 *
 *   povtrack-mirror  writes it: the last sequence JetStream has
 *                    acknowledged, its state, the last problem;
 *   ingest           creates it afresh at every start of povtrackd and,
 *                    in strict mode, reads the acknowledged sequence to
 *                    release the acks it holds back (pt_strict.h);
 *   plugin host      reads it for `stats` and the mirror.* alerts.
 *
 * Like host.guard (pt_guard.h): a few stores per update and no system call,
 * and the page outlives a mirror that crashes, so the next one and the
 * readers see where it was.  acked_seq only ever says what JetStream did
 * acknowledge for this log: ingest zeroes it at start, because the log may
 * have been restored from a backup while povtrackd was stopped, and the
 * mirror sets it only from JetStream's acks and from the stream's last
 * record once that is found equal to the log's.  It goes down when the
 * mirror finds that JetStream lost its tail, until the mirror has sent the
 * lost records again.
 *
 * The page is read without locks: the numbers are atomics, and the error
 * text is guarded by a sequence count (a seqlock: odd while the writer is
 * in the middle), so a reader never returns half of two messages.
 *
 * Errors: 0 or a code of <povtrack/errors.h>, with err naming the file.
 */
#ifndef POVTRACK_PT_MIRROR_H
#define POVTRACK_PT_MIRROR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PT_MIRROR_ERROR_MAX 256

enum pt_mirror_state {
    /* No mirror has reported since povtrackd started. */
    PT_MIRROR_STARTING = 0,
    /* Not connected to NATS, or the stream cannot be reached. */
    PT_MIRROR_CONNECTING,
    /* Connected: comparing the stream's last record with the log's. */
    PT_MIRROR_SYNCING,
    /* Copying; acked_seq is what JetStream holds of the log. */
    PT_MIRROR_COPYING,
    /* Stopped: the stream holds another record than the log at some
     * sequence, or more records (the error says which).  Nothing is sent
     * until an operator has mended it and povtrackd is restarted. */
    PT_MIRROR_DIVERGED,
    /* A standby: the stream into the log; acked_seq is what the log holds
     * of the stream. */
    PT_MIRROR_FOLLOWING
};

/* What the page says, read at one moment. */
struct pt_mirror_progress {
    enum pt_mirror_state state;
    uint64_t acked_seq; /* records 1..acked_seq are in the stream */
    int64_t updated_us; /* unix microseconds of the last update */
    pid_t pid;          /* the mirror that wrote it; 0: none yet */
    char error[PT_MIRROR_ERROR_MAX]; /* the last problem, "" when none */
};

enum pt_mirror_page_mode {
    PT_MIRROR_PAGE_RESET, /* ingest: create or clear it, then read it */
    PT_MIRROR_PAGE_WRITE, /* the mirror: it must exist */
    PT_MIRROR_PAGE_READ   /* the plugin host: read-only */
};

struct pt_mirror_page;

/* Map the page of data_dir.  POVTRACK_ENOENT (write, read) when ingest
 * has not created it; POVTRACK_EFORMAT when the file is not such a page. */
int pt_mirror_page_open(const char *data_dir, enum pt_mirror_page_mode mode,
                        struct pt_mirror_page **out, char *err, size_t errlen);
/* The same page in another file of data_dir: the national daemon keeps
 * one per province (PT_DATA_NATIONAL_FILE_PREFIX + code, pt_state.h),
 * written by its povtrack-mirror, which creates them (RESET): state as
 * here (following, connecting, diverged), acked_seq the last sequence of
 * the province's stream (how far the national log could get). */
int pt_mirror_page_open_file(const char *data_dir, const char *file,
                             enum pt_mirror_page_mode mode,
                             struct pt_mirror_page **out, char *err,
                             size_t errlen);
void pt_mirror_page_close(struct pt_mirror_page *p);

/* The acknowledged sequence alone: one atomic load, for ingest's loop. */
uint64_t pt_mirror_page_acked(const struct pt_mirror_page *p);

/* The state alone: one atomic load, for ingest's refusal of publishers
 * while diverged. */
enum pt_mirror_state pt_mirror_page_state(const struct pt_mirror_page *p);

/* Everything, consistent. */
void pt_mirror_page_read(const struct pt_mirror_page *p,
                         struct pt_mirror_progress *out);

/* The mirror's updates (pid is the caller's).  error NULL leaves the text
 * as it is, "" clears it. */
void pt_mirror_page_set(struct pt_mirror_page *p, enum pt_mirror_state state,
                        uint64_t acked_seq, const char *error);
void pt_mirror_page_set_acked(struct pt_mirror_page *p, uint64_t acked_seq);

/* "starting", "connecting", "syncing", "copying", "diverged",
 * "following". */
const char *pt_mirror_state_name(enum pt_mirror_state state);

/* How far the mirror is behind a log whose last sequence is last_seq:
 * records not yet acknowledged, and how long the oldest of them has
 * waited, from its received time (0 when there is none).  r is a live
 * reader of that log; POVTRACK_ENOTFOUND or a storage error when the
 * record cannot be read. */
struct st_reader;
struct pt_mirror_lag {
    uint64_t records;
    int64_t seconds;
};
int pt_mirror_lag(struct st_reader *r, uint64_t acked_seq, uint64_t last_seq,
                  int64_t now_us, struct pt_mirror_lag *out);

/*
 * The standby ([mirror] standby = yes) and its promotion (README, Many
 * provinces, Standby).  A standby follows the stream into its log until
 * `povtrack promote` writes <data_dir>/PT_DATA_PROMOTE_FILE; its
 * povtrack-mirror then reads the stream to its end, writes
 * <data_dir>/PT_DATA_PROMOTED_FILE (synced: it survives a power cut),
 * tells ingest, and copies the log into the stream from then on, as a
 * primary's does.  The marker outlives restarts: a promoted povtrackd
 * stays the primary even with standby = yes still in its configuration.
 */

/* 1 when m makes this data directory a standby not yet promoted (also
 * when the marker cannot be looked at: a standby that takes no publishers
 * forks nothing), else 0. */
struct pt_mirror_conf;
int pt_mirror_standby(const struct pt_mirror_conf *m, const char *data_dir);

/* `povtrack promote`: ask for the promotion (the request file, created).
 * 0, or an error with err naming the file. */
int pt_mirror_promote_request(const char *data_dir, char *err, size_t errlen);
/* The request is there. */
int pt_mirror_promote_requested(const char *data_dir);
/* The promotion is done, at the log's sequence seq: write the marker
 * (the file, then its directory synced) and remove the request.  0, or an
 * error with err naming the file. */
int pt_mirror_mark_promoted(const char *data_dir, uint64_t seq, char *err,
                            size_t errlen);

#endif /* POVTRACK_PT_MIRROR_H */
