/*
 * pt_worker.c - see pt_worker.h.
 */
#include "pt_worker.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>

#include <povtrack/errors.h>

struct pt_worker {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* state changed */
    enum { IDLE, QUEUED, DONE, STOPPING } state;
    pt_worker_fn fn;
    void *arg;
    int rc;
};

static void *worker_main(void *arg)
{
    struct pt_worker *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (w->state != QUEUED && w->state != STOPPING)
            pthread_cond_wait(&w->cv, &w->mu);
        if (w->state == STOPPING)
            break;
        pthread_mutex_unlock(&w->mu);
        int rc = w->fn(w->arg);
        pthread_mutex_lock(&w->mu);
        w->rc = rc;
        w->state = DONE;
        pthread_cond_broadcast(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

int pt_worker_start(struct pt_worker **out)
{
    struct pt_worker *w = calloc(1, sizeof *w);
    if (w == NULL)
        return POVTRACK_ENOMEM;
    int rc = pthread_mutex_init(&w->mu, NULL);
    if (rc != 0) {
        free(w);
        return -rc;
    }
    if ((rc = pthread_cond_init(&w->cv, NULL)) != 0) {
        pthread_mutex_destroy(&w->mu);
        free(w);
        return -rc;
    }
    w->state = IDLE;
    /* Signals go to the caller's thread, whose poll they must interrupt:
     * the worker starts with all of them blocked. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&w->thread, NULL, worker_main, w);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        free(w);
        return -rc;
    }
    *out = w;
    return 0;
}

void pt_worker_run(struct pt_worker *w, pt_worker_fn fn, void *arg)
{
    pthread_mutex_lock(&w->mu);
    w->fn = fn;
    w->arg = arg;
    w->state = QUEUED;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

int pt_worker_wait(struct pt_worker *w)
{
    pthread_mutex_lock(&w->mu);
    while (w->state != DONE)
        pthread_cond_wait(&w->cv, &w->mu);
    w->state = IDLE;
    int rc = w->rc;
    pthread_mutex_unlock(&w->mu);
    return rc;
}

void pt_worker_stop(struct pt_worker *w)
{
    if (w == NULL)
        return;
    pthread_mutex_lock(&w->mu);
    while (w->state == QUEUED)
        pthread_cond_wait(&w->cv, &w->mu);
    w->state = STOPPING;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w);
}
