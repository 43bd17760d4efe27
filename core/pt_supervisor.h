/*
 * pt_supervisor.h - the ingest process keeps the plugin host running.
 *
 * The host is this same executable re-executed with --plugin-host, so it
 * starts with a clean process (no ZeroMQ context inherited across fork).  It
 * gets the read end of a pipe on which ingest signals each commit; when
 * ingest dies the pipe closes and the host stops too (and PR_SET_PDEATHSIG
 * covers a SIGKILL of ingest).  A host that dies is restarted at once the
 * first time and with a growing back-off (up to 30 s) while it keeps dying
 * within a minute of its start.
 */
#ifndef POVTRACK_PT_SUPERVISOR_H
#define POVTRACK_PT_SUPERVISOR_H

#include <stdint.h>
#include <sys/types.h>

#include "pt_log.h"

#define PT_SUPERVISOR_ARGS_MAX 64

struct pt_supervisor {
    const struct pt_log *log;
    char *argv[PT_SUPERVISOR_ARGS_MAX + 4]; /* argv of the host */
    char fd_arg[16];
    pid_t pid;          /* 0 when not running */
    int notify_fd;      /* write end, -1 when not running */
    int64_t started_ms; /* monotonic */
    int64_t restart_at_ms;
    unsigned failures; /* quick deaths in a row */
};

/* Prepare to run the host with the daemon's own argv (plus --plugin-host).
 * Returns -1 when argv is too long. */
int pt_supervisor_init(struct pt_supervisor *s, const struct pt_log *log,
                       int argc, char **argv);

/* Start the host now.  Returns 0 or -1 (logged). */
int pt_supervisor_start(struct pt_supervisor *s);

/* Reap a host that exited (call after SIGCHLD) and start it again when its
 * back-off has passed (call at least once a second).  Returns the write end
 * of the notify pipe, -1 while no host runs; *dead is set when a host was
 * reaped so the caller can clear its stale LMDB reader slot. */
int pt_supervisor_poll(struct pt_supervisor *s, int *dead);

/* Pass sig (SIGHUP) on to the host, if one runs. */
void pt_supervisor_signal(struct pt_supervisor *s, int sig);

/* SIGTERM the host and wait up to timeout_ms, then SIGKILL.  Returns 0
 * when the host exited with status 0, -1 otherwise (logged). */
int pt_supervisor_stop(struct pt_supervisor *s, int timeout_ms);

#endif /* POVTRACK_PT_SUPERVISOR_H */
