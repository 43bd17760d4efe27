/*
 * pt_guard.c - the shared-memory record of the plugin call in progress and
 * the hang watchdog.
 */
#include "pt_guard.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define GUARD_MAGIC 0x50544744u /* "PTGD" */

/* The mapped page.  Written by the applying thread, read by the watchdog
 * thread and by the next host process. */
struct record {
    uint32_t magic;
    _Atomic uint32_t call; /* enum pt_guard_call; NONE between calls */
    _Atomic uint64_t seq;
    _Atomic int64_t started_ms;
    _Atomic uint32_t hung;
    char plugin[PT_GUARD_NAME_MAX + 1];
    /* The failure count carried from host to host. */
    char strike_plugin[PT_GUARD_NAME_MAX + 1];
    uint32_t strike_call;
    uint64_t strike_seq;
    uint32_t strikes;
};

struct pt_guard {
    struct record *rec;
    size_t size; /* of the mapping */
    int fd;
    unsigned hang_ms;
    const struct pt_log *log;
    pthread_t watchdog;
    int running;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    int stop;
    const char *current; /* the plugin name last copied into rec */
};

/* The coarse clock: a few ms of resolution is plenty against limits of
 * seconds, and it is several times cheaper, read on every plugin call. */
static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *pt_guard_call_name(enum pt_guard_call call)
{
    static const char *const names[] = {"none", "init", "apply", "tick",
                                        "query"};
    return (unsigned)call < sizeof names / sizeof names[0] ? names[call] : "?";
}

static void *watch(void *arg)
{
    struct pt_guard *g = arg;
    unsigned period = g->hang_ms / 10 ? g->hang_ms / 10 : 1;
    pthread_mutex_lock(&g->lock);
    while (!g->stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += period / 1000;
        until.tv_nsec += (long)(period % 1000) * 1000000;
        if (until.tv_nsec >= 1000000000) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&g->wake, &g->lock, &until);
        if (g->stop)
            break;
        uint32_t call = atomic_load(&g->rec->call);
        int64_t started = atomic_load(&g->rec->started_ms);
        if (call == PT_CALL_NONE || mono_ms() - started <= (int64_t)g->hang_ms)
            continue;
        atomic_store(&g->rec->hung, 1);
        pt_logf(g->log, PT_LOG_ERROR,
                "plugin %s has been in %s of seq %llu for more than %u ms: "
                "killing the plugin host (nothing of the call is committed)",
                g->rec->plugin, pt_guard_call_name((enum pt_guard_call)call),
                (unsigned long long)atomic_load(&g->rec->seq), g->hang_ms);
        /* SIGKILL, not abort(): nothing may run after this, no atexit
         * handler and no LMDB commit. */
        kill(getpid(), SIGKILL);
    }
    pthread_mutex_unlock(&g->lock);
    return NULL;
}

int pt_guard_open(const char *path, unsigned hang_ms, const struct pt_log *log,
                  struct pt_guard **out, struct pt_guard_failure *last,
                  char *err, size_t errlen)
{
    memset(last, 0, sizeof *last);
    struct pt_guard *g = calloc(1, sizeof *g);
    if (g == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    g->hang_ms = hang_ms;
    g->log = log;
    g->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    long page = sysconf(_SC_PAGESIZE);
    size_t size = page > 0 && (size_t)page > sizeof(struct record)
                      ? (size_t)page
                      : sizeof(struct record);
    if (g->fd < 0 || ftruncate(g->fd, (off_t)size) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        if (g->fd >= 0)
            close(g->fd);
        free(g);
        return -1;
    }
    g->size = size;
    g->rec = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, g->fd, 0);
    if (g->rec == MAP_FAILED) {
        snprintf(err, errlen, "%s: mmap: %s", path, strerror(errno));
        close(g->fd);
        free(g);
        return -1;
    }
    struct record *r = g->rec;
    if (r->magic != GUARD_MAGIC)
        memset(r, 0, sizeof *r); /* new, or not ours: no history */
    r->magic = GUARD_MAGIC;
    r->plugin[PT_GUARD_NAME_MAX] = '\0';
    r->strike_plugin[PT_GUARD_NAME_MAX] = '\0';

    uint32_t call = atomic_load(&r->call);
    if (call != PT_CALL_NONE) {
        last->died_in_call = 1;
        memcpy(last->plugin, r->plugin, sizeof last->plugin);
        last->call = (enum pt_guard_call)call;
        last->seq = atomic_load(&r->seq);
        last->hung = (int)atomic_load(&r->hung);
        if (strcmp(r->strike_plugin, r->plugin) == 0 &&
            r->strike_call == call && r->strike_seq == last->seq) {
            r->strikes++;
        } else {
            memcpy(r->strike_plugin, r->plugin, sizeof r->strike_plugin);
            r->strike_call = call;
            r->strike_seq = last->seq;
            r->strikes = 1;
        }
        last->strikes = r->strikes;
    }
    atomic_store(&r->call, PT_CALL_NONE);
    atomic_store(&r->hung, 0);

    pthread_mutex_init(&g->lock, NULL);
    pthread_cond_init(&g->wake, NULL);
    if (hang_ms > 0) {
        if (pthread_create(&g->watchdog, NULL, watch, g) != 0) {
            snprintf(err, errlen, "cannot start the watchdog thread");
            pt_guard_close(g);
            return -1;
        }
        g->running = 1;
    }
    *out = g;
    return 0;
}

void pt_guard_close(struct pt_guard *g)
{
    if (g == NULL)
        return;
    if (g->running) {
        pthread_mutex_lock(&g->lock);
        g->stop = 1;
        pthread_cond_signal(&g->wake);
        pthread_mutex_unlock(&g->lock);
        pthread_join(g->watchdog, NULL);
    }
    pthread_cond_destroy(&g->wake);
    pthread_mutex_destroy(&g->lock);
    atomic_store(&g->rec->call, PT_CALL_NONE);
    munmap(g->rec, g->size);
    close(g->fd);
    free(g);
}

void pt_guard_forgive(struct pt_guard *g, const char *plugin)
{
    if (g != NULL && strcmp(g->rec->strike_plugin, plugin) == 0) {
        g->rec->strike_plugin[0] = '\0';
        g->rec->strikes = 0;
    }
}

void pt_guard_enter(struct pt_guard *g, const char *plugin,
                    enum pt_guard_call call, uint64_t seq)
{
    if (g == NULL)
        return;
    /* The name is copied only when it changes: per event this is a
     * pointer compare and three stores. */
    if (g->current != plugin) {
        snprintf(g->rec->plugin, sizeof g->rec->plugin, "%s", plugin);
        g->current = plugin;
    }
    atomic_store_explicit(&g->rec->seq, seq, memory_order_relaxed);
    atomic_store_explicit(&g->rec->started_ms, mono_ms(), memory_order_relaxed);
    atomic_store_explicit(&g->rec->call, (uint32_t)call, memory_order_release);
}

void pt_guard_leave(struct pt_guard *g)
{
    if (g != NULL)
        atomic_store_explicit(&g->rec->call, PT_CALL_NONE,
                              memory_order_release);
}
