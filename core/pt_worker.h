/*
 * pt_worker.h - one background thread that runs one job at a time, so the
 * caller can do other work while the job runs: ingest validates the next
 * group of events while the worker commits and syncs the last one.
 *
 *     pt_worker_run(w, commit_group, g);   the job starts
 *     ... validate the next group ...
 *     int rc = pt_worker_wait(w);          commit_group's return
 *
 * At most one job is in flight: pt_worker_run while one is, or
 * pt_worker_wait while none is, is the caller's bug.  The handover is a
 * mutex and a condition variable, so everything the caller wrote before
 * pt_worker_run is visible to the job, and everything the job wrote is
 * visible after pt_worker_wait.
 *
 * Errors: 0 or a code of <povtrack/errors.h> (pthread's errno, negated).
 */
#ifndef POVTRACK_PT_WORKER_H
#define POVTRACK_PT_WORKER_H

struct pt_worker;

typedef int (*pt_worker_fn)(void *arg);

/* Start the thread. */
int pt_worker_start(struct pt_worker **out);
/* Hand fn(arg) to the thread; returns at once. */
void pt_worker_run(struct pt_worker *w, pt_worker_fn fn, void *arg);
/* Wait for the job handed over and return what it returned. */
int pt_worker_wait(struct pt_worker *w);
/* Wait for a job in flight, then end the thread and free w (NULL: none). */
void pt_worker_stop(struct pt_worker *w);

#endif /* POVTRACK_PT_WORKER_H */
