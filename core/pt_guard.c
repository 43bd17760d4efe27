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

#include <povtrack/errors.h>

/* "PTG2": a strike count per plugin ("PTGD" files, with one count for the
 * last failure only, are read as having no history). */
#define GUARD_MAGIC 0x50544732u

/* One plugin's failures, carried from host to host. */
struct strike {
    char plugin[PT_GUARD_NAME_MAX + 1]; /* "" for a free slot */
    uint32_t call;
    uint64_t seq;
    uint32_t strikes;
    int64_t held_until_ms; /* monotonic: apply and tick held back till */
};

/* The mapped page.  Written by the applying thread, read by the watchdog
 * thread, by the next host process and by the supervisor. */
struct record {
    uint32_t magic;
    int32_t pid;           /* of the host that opened it last */
    _Atomic uint32_t call; /* enum pt_guard_call; NONE between calls */
    _Atomic uint64_t seq;
    _Atomic int64_t started_ms;
    _Atomic uint32_t hung;
    char plugin[PT_GUARD_NAME_MAX + 1];
    struct strike strikes[PT_GUARD_PLUGINS];
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

/* How long a strike holds the plugin back from apply and tick: none for
 * init (nothing runs before the plugins are loaded) and query (called only
 * when a client asks), else doubling with the strikes. */
static unsigned hold_ms(uint32_t call, uint32_t strikes)
{
    if ((call != PT_CALL_APPLY && call != PT_CALL_TICK) || strikes == 0)
        return 0;
    unsigned ms = PT_GUARD_HOLD_MS;
    for (uint32_t i = 1; i < strikes && ms < PT_GUARD_HOLD_MAX; i++)
        ms *= 2;
    return ms < PT_GUARD_HOLD_MAX ? ms : PT_GUARD_HOLD_MAX;
}

/* plugin's slot in r, taking a free one (or the first) when it has none. */
static struct strike *strike_slot(struct record *r, const char *plugin)
{
    struct strike *free_slot = NULL;
    for (size_t i = 0; i < PT_GUARD_PLUGINS; i++) {
        struct strike *st = &r->strikes[i];
        if (strcmp(st->plugin, plugin) == 0)
            return st;
        if (free_slot == NULL && st->plugin[0] == '\0')
            free_slot = st;
    }
    if (free_slot == NULL)
        free_slot = &r->strikes[0]; /* more plugins than slots: reuse */
    memset(free_slot, 0, sizeof *free_slot);
    memcpy(free_slot->plugin, plugin, sizeof free_slot->plugin);
    return free_slot;
}

/* The one rule for counting: when the host that wrote r died inside a
 * plugin call, count a strike against that plugin (another call or
 * sequence than its last failure starts again from one), hold it back
 * from now, and say so in *last. */
static void count_strike(struct record *r, int64_t now,
                         struct pt_guard_failure *last)
{
    memset(last, 0, sizeof *last);
    r->plugin[PT_GUARD_NAME_MAX] = '\0';
    for (size_t i = 0; i < PT_GUARD_PLUGINS; i++)
        r->strikes[i].plugin[PT_GUARD_NAME_MAX] = '\0';
    uint32_t call = atomic_load(&r->call);
    if (call == PT_CALL_NONE)
        return;
    last->died_in_call = 1;
    memcpy(last->plugin, r->plugin, sizeof last->plugin);
    last->call = (enum pt_guard_call)call;
    last->seq = atomic_load(&r->seq);
    last->hung = (int)atomic_load(&r->hung);
    struct strike *st = strike_slot(r, r->plugin);
    if (st->strikes > 0 && st->call == call && st->seq == last->seq) {
        st->strikes++;
    } else {
        st->call = call;
        st->seq = last->seq;
        st->strikes = 1;
    }
    last->strikes = st->strikes;
    last->hold_ms = hold_ms(call, st->strikes);
    st->held_until_ms = now + last->hold_ms;
}

int pt_guard_inspect(const char *path, pid_t host,
                     struct pt_guard_failure *last)
{
    memset(last, 0, sizeof *last);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : -errno; /* no host has run yet */
    /* A copy: counting on it changes nothing in the file. */
    struct record r;
    ssize_t n = pread(fd, &r, sizeof r, 0);
    int rc = n < 0 ? -errno : 0;
    close(fd);
    if (rc != 0)
        return rc;
    /* A record another host left: this one died before opening the
     * guard, so not in any plugin call. */
    if (n == (ssize_t)sizeof r && r.magic == GUARD_MAGIC && r.pid == host)
        count_strike(&r, mono_ms(), last);
    return 0;
}

unsigned pt_guard_held_ms(const struct pt_guard *g, const char *plugin)
{
    if (g == NULL)
        return 0;
    int64_t now = mono_ms();
    for (size_t i = 0; i < PT_GUARD_PLUGINS; i++) {
        const struct strike *st = &g->rec->strikes[i];
        if (strcmp(st->plugin, plugin) != 0 || st->held_until_ms <= now)
            continue;
        /* A time further off than any hold was set by another boot's
         * clock: no hold. */
        int64_t left = st->held_until_ms - now;
        return left <= PT_GUARD_HOLD_MAX ? (unsigned)left : 0;
    }
    return 0;
}

int pt_guard_open(const char *path, unsigned hang_ms, const struct pt_log *log,
                  struct pt_guard **out, struct pt_guard_failure *last,
                  char *err, size_t errlen)
{
    memset(last, 0, sizeof *last);
    struct pt_guard *g = calloc(1, sizeof *g);
    if (g == NULL) {
        snprintf(err, errlen, "out of memory");
        return POVTRACK_ENOMEM;
    }
    g->hang_ms = hang_ms;
    g->log = log;
    g->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    long page = sysconf(_SC_PAGESIZE);
    size_t size = page > 0 && (size_t)page > sizeof(struct record)
                      ? (size_t)page
                      : sizeof(struct record);
    if (g->fd < 0 || ftruncate(g->fd, (off_t)size) != 0) {
        int rc = -errno;
        snprintf(err, errlen, "%s: %s", path, povtrack_strerror(rc));
        if (g->fd >= 0)
            close(g->fd);
        free(g);
        return rc;
    }
    g->size = size;
    g->rec = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, g->fd, 0);
    if (g->rec == MAP_FAILED) {
        int rc = -errno;
        snprintf(err, errlen, "%s: mmap: %s", path, povtrack_strerror(rc));
        close(g->fd);
        free(g);
        return rc;
    }
    struct record *r = g->rec;
    if (r->magic != GUARD_MAGIC)
        memset(r, 0, sizeof *r); /* new, or not ours: no history */
    r->magic = GUARD_MAGIC;
    count_strike(r, mono_ms(), last);
    r->pid = (int32_t)getpid();
    atomic_store(&r->call, PT_CALL_NONE);
    atomic_store(&r->hung, 0);

    pthread_mutex_init(&g->lock, NULL);
    pthread_cond_init(&g->wake, NULL);
    if (hang_ms > 0) {
        int rc = pthread_create(&g->watchdog, NULL, watch, g);
        if (rc != 0) {
            snprintf(err, errlen, "cannot start the watchdog thread: %s",
                     povtrack_strerror(-rc));
            pt_guard_close(g);
            return -rc; /* pthread_create returns an errno value */
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
    if (g == NULL)
        return;
    for (size_t i = 0; i < PT_GUARD_PLUGINS; i++)
        if (strcmp(g->rec->strikes[i].plugin, plugin) == 0)
            memset(&g->rec->strikes[i], 0, sizeof g->rec->strikes[i]);
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
