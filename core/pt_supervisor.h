/*
 * pt_supervisor.h - the ingest process keeps the plugin host running, and
 * answers for it on the query endpoint while it is down.
 *
 * The host is this same executable re-executed with --plugin-host, so it
 * starts with a clean process (no ZeroMQ context inherited across fork).  It
 * gets the read end of a pipe on which ingest signals each commit; when
 * ingest dies the pipe closes and the host stops too (and PR_SET_PDEATHSIG
 * covers a SIGKILL of ingest).
 *
 * A configuration the host refuses.  A host that finds a plugin's
 * [plugin.NAME] section at odds with the plugin's config map logs why and
 * exits with PT_SUPERVISOR_EXIT_CONFIG before it is ready.  When that is
 * the first host of this povtrackd, the supervisor sets config_refused and
 * povtrackd stops with status 1: the configuration is refused at start, as
 * an unknown [daemon] key is.  A later host (the file was edited while
 * povtrackd ran, and the host restarted) is restarted with the usual
 * back-off instead, so that ingest goes on while the operator mends the
 * file.
 *
 * Restarts.  When a host dies, the supervisor reads the guard file
 * (pt_guard_inspect): a host that died inside a plugin call (a crash, or
 * the watchdog's kill) is restarted at once, and the new host holds that
 * plugin back by itself (pt_guard.h) while it applies the others and
 * answers queries.  Any other death (outside every plugin call, or a host
 * that could not start) is restarted at once the first time and with a
 * growing back-off (1, 2, 4 ... up to 30 s) while it keeps dying within a
 * minute of its start.
 *
 * The query endpoint in between.  From before the first host is up, and
 * from the moment a host dies, until the next one serves the query
 * endpoint, ingest binds a stand-in there (pt_standin.h) that answers
 * every request at once: the plugin host is restarting, why, and when to
 * retry.  Hand-off, so that no close ever unlinks the endpoint of the one
 * that binds after it:
 *
 *   host                                 ingest
 *   plugins loaded, ready to bind
 *   writes 'B' on the hand-off socket -> closes the stand-in and waits
 *                                        until its context is terminated
 *   binds once it reads 'R'           <- writes 'R'
 *
 * The host waits at most PT_SUPERVISOR_HANDOFF_MS.  A host left over from
 * an earlier ingest process (ingest was killed; its host is still closing)
 * could also unlink the endpoint: the stand-in binds only once the host
 * lock (DATA/host.lock) has been seen free, or a host of this ingest has
 * taken the endpoint (which it does only holding that lock).
 */
#ifndef POVTRACK_PT_SUPERVISOR_H
#define POVTRACK_PT_SUPERVISOR_H

#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "pt_config.h"
#include "pt_log.h"

#define PT_SUPERVISOR_ARGS_MAX 64
/* The host's exit status for a configuration it refuses (EX_CONFIG). */
#define PT_SUPERVISOR_EXIT_CONFIG 78
#define PT_SUPERVISOR_HANDOFF_MS 30000   /* the host's wait for the endpoint */
#define PT_SUPERVISOR_STANDIN_POLL_MS 10 /* ingest's wait while standing in */

struct pt_standin;

struct pt_supervisor {
    const struct pt_config *cfg;
    const struct pt_log *log;
    char *argv[PT_SUPERVISOR_ARGS_MAX + 6]; /* argv of the host */
    char fd_arg[16], handoff_arg[16];
    char guard_path[PATH_MAX], lock_path[PATH_MAX];
    pid_t pid;          /* 0 when not running */
    int notify_fd;      /* write end, -1 when not running */
    int handoff_fd;     /* ingest's end of the hand-off socket pair */
    int serving;        /* the running host has the query endpoint */
    int served;         /* some host has had it: "restarting", not "starting" */
    int stray_gone;     /* no host of an earlier ingest can hold it */
    int64_t started_ms; /* monotonic */
    int64_t restart_at_ms;
    int64_t start_cost_ms; /* the last host's start to hand-off, 0: unknown */
    unsigned failures;     /* quick deaths in a row outside plugin calls */
    int config_refused;    /* the first host refused the configuration */
    struct pt_standin *standin; /* NULL when not bound */
    int64_t standin_retry_ms;   /* when to try binding it again */
    int standin_failed;         /* the failure to bind is logged */
    char why[512];              /* why no host serves, for the stand-in */
};

/* Prepare to run the host with the daemon's own argv (plus --plugin-host);
 * cfg must outlive s.  Returns 0, or POVTRACK_ENAMETOOLONG when argv or
 * the data directory's path is too long. */
int pt_supervisor_init(struct pt_supervisor *s, const struct pt_config *cfg,
                       const struct pt_log *log, int argc, char **argv);

/* Stand in on the query endpoint if it is safe, and start the host now.
 * Returns 0 or a negated errno value (logged). */
int pt_supervisor_start(struct pt_supervisor *s);

/* Call on every turn of the ingest loop: reap a host that exited and start
 * it again when its back-off has passed (unless it set config_refused:
 * then the caller stops), hand the query endpoint over to a host that is
 * ready to bind it, and answer what waits on the stand-in.
 * Never blocks (closing the stand-in takes what its context needs to
 * close).  Returns the write end of the notify pipe, -1 while no host
 * runs; *dead is set when a host was reaped so the caller can clear its
 * stale LMDB reader slot. */
int pt_supervisor_poll(struct pt_supervisor *s, int *dead);

/* How long the ingest loop may wait before the next pt_supervisor_poll():
 * idle_ms while a host serves, a few ms while the stand-in answers. */
int pt_supervisor_wait_ms(const struct pt_supervisor *s, int idle_ms);

/* The restart rule of povtrackd's children (the plugin host, the mirror):
 * *failures counts deaths in a row, each within PT_SUPERVISOR_QUICK_MS of
 * the child's start (lived_ms); a child that lived longer starts the count
 * again.  Returns how long to wait before the next start: at once the
 * first time, then 1, 2, 4 ... up to PT_SUPERVISOR_BACKOFF_MAX_MS. */
#define PT_SUPERVISOR_QUICK_MS 60000
#define PT_SUPERVISOR_BACKOFF_MAX_MS 30000
int64_t pt_supervisor_backoff(unsigned *failures, int64_t lived_ms);

/* Start a child of povtrackd: exe with argv, which gets SIGTERM when the
 * calling thread dies (PR_SET_PDEATHSIG, so call it from ingest's main
 * thread: it covers a SIGKILL of ingest; a child whose parent is already
 * gone exits at once).  Returns its pid, or a negated errno value when
 * fork failed. */
pid_t pt_supervisor_spawn(const char *exe, char *const *argv);

/* Stop a child of povtrackd (the plugin host, the mirror), called what in
 * the log: SIGTERM, wait up to timeout_ms, then SIGKILL.  Returns its wait
 * status; one that did not exit with status 0 is logged. */
int pt_supervisor_reap(pid_t pid, int timeout_ms, const struct pt_log *log,
                       const char *what);

/* Pass sig (SIGHUP) on to the host, if one runs; on SIGHUP the stand-in
 * reads the publisher registry again too. */
void pt_supervisor_signal(struct pt_supervisor *s, int sig);

/* Close the stand-in, SIGTERM the host and wait up to timeout_ms, then
 * SIGKILL.  Returns 0 when the host exited with status 0, POVTRACK_EHOST
 * otherwise (logged). */
int pt_supervisor_stop(struct pt_supervisor *s, int timeout_ms);

/* The host's side of the hand-off, before it binds: say so on fd (the
 * --handoff-fd it was given) and wait until ingest has released the query
 * endpoint.  Returns 0 when it is free, POVTRACK_EINTR when *stop became
 * non-zero, or with err set -EPIPE (ingest gone), POVTRACK_ETIMEDOUT (no
 * answer within PT_SUPERVISOR_HANDOFF_MS) or a negated errno value. */
int pt_supervisor_await_endpoint(int fd, volatile sig_atomic_t *stop, char *err,
                                 size_t errlen);

#endif /* POVTRACK_PT_SUPERVISOR_H */
