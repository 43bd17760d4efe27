/*
 * pt_mirror_sup.h - the ingest process keeps povtrack-mirror running when
 * [mirror] is configured (README, Many provinces).
 *
 * The mirror is a program of its own (tools/mirror/), found beside
 * povtrackd's executable, so that the NATS client's threads never live in
 * the ingest process or the plugin host, and a mirror that crashes never
 * stops ingest.  It is started with the data directory, the configuration
 * file and the log level povtrackd runs with, and one end of a socket pair
 * (AF_UNIX, SOCK_SEQPACKET, one message per write):
 *
 *   ingest -> mirror   "L" after each commit: the log has grown (a full
 *                      socket already holds a wake-up, so it never blocks);
 *   mirror -> ingest   "acked <seq>" in strict mode, after the progress
 *                      page says JetStream has acknowledged seq: ingest
 *                      then reads the page (pt_mirror.h) and sends the acks
 *                      it held (pt_strict.h).
 *
 * When ingest dies the socket closes and the mirror stops (PR_SET_PDEATHSIG
 * covers a SIGKILL of ingest).  A mirror that exits is started again: at
 * once the first time, then with the back-off of pt_supervisor_backoff
 * while it keeps dying within a minute of its start.
 *
 * Errors: 0 or a code of <povtrack/errors.h>, logged.
 */
#ifndef POVTRACK_PT_MIRROR_SUP_H
#define POVTRACK_PT_MIRROR_SUP_H

#include <limits.h>
#include <stdint.h>
#include <sys/types.h>

#include "pt_config.h"
#include "pt_log.h"
#include "pt_mirror.h"

#define PT_MIRROR_EXE "povtrack-mirror"

struct pt_mirror_sup {
    const struct pt_config *cfg;
    const struct pt_log *log;
    char exe[PATH_MAX];
    char *argv[12];
    char fd_arg[16];
    pid_t pid; /* 0 when not running */
    int fd;    /* ingest's end of the socket pair, -1 when not running */
    struct pt_mirror_page *page; /* created afresh by init */
    int64_t started_ms, restart_at_ms;
    unsigned failures;
};

/* Find the mirror's executable beside this one and create the progress
 * page afresh (acked_seq 0: the log may have been restored while
 * povtrackd was stopped).  cfg must outlive m and have [mirror]. */
int pt_mirror_sup_init(struct pt_mirror_sup *m, const struct pt_config *cfg,
                       const struct pt_log *log);

/* Reap a mirror that exited and start one when none runs and its
 * back-off has passed: call on every turn of the ingest loop.  Returns
 * ingest's end of the socket pair, -1 while no mirror runs; *dead is set
 * when a mirror was reaped (its stale LMDB reader slot can be cleared). */
int pt_mirror_sup_poll(struct pt_mirror_sup *m, int *dead);

/* SIGTERM the mirror and wait up to timeout_ms, then SIGKILL; unmap the
 * page.  0 when it exited with status 0 (or none ran), -ECHILD otherwise
 * (logged). */
int pt_mirror_sup_stop(struct pt_mirror_sup *m, int timeout_ms);

#endif /* POVTRACK_PT_MIRROR_SUP_H */
