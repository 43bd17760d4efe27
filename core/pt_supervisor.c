#include "pt_supervisor.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pt_clock.h"
#include "pt_guard.h"
#include "pt_standin.h"
#include "pt_state.h"

/* The hand-off's two messages, one byte each. */
#define HANDOFF_BIND 'B'     /* host: ready to bind the query endpoint */
#define HANDOFF_RELEASED 'R' /* ingest: the stand-in is closed */

#define START_COST_GUESS_MS 1000 /* a host's start before one was measured */
#define RETRY_MIN_MS 100         /* the least "retry in" the stand-in says */
#define STANDIN_RETRY_MS 1000    /* after a failure to bind it or to fork */
#define LOCK_PROBE_MS 100        /* looking for the host lock to be free */

int pt_supervisor_init(struct pt_supervisor *s, const struct pt_config *cfg,
                       const struct pt_log *log, int argc, char **argv)
{
    memset(s, 0, sizeof *s);
    s->cfg = cfg;
    s->log = log;
    s->notify_fd = -1;
    s->handoff_fd = -1;
    snprintf(s->why, sizeof s->why, "povtrackd is starting");
    if (argc > PT_SUPERVISOR_ARGS_MAX ||
        snprintf(s->guard_path, sizeof s->guard_path, "%s/" PT_DATA_GUARD_FILE,
                 cfg->data_dir) >= (int)sizeof s->guard_path ||
        snprintf(s->lock_path, sizeof s->lock_path,
                 "%s/" PT_DATA_HOST_LOCK_FILE,
                 cfg->data_dir) >= (int)sizeof s->lock_path)
        return POVTRACK_ENAMETOOLONG;
    for (int i = 0; i < argc; i++)
        s->argv[i] = argv[i];
    s->argv[argc] = "--plugin-host";
    s->argv[argc + 1] = "--notify-fd";
    s->argv[argc + 2] = s->fd_arg;
    s->argv[argc + 3] = "--handoff-fd";
    s->argv[argc + 4] = s->handoff_arg;
    s->argv[argc + 5] = NULL;
    return 0;
}

/* Is the host lock free, that is no plugin host at all alive on this data
 * directory?  (Probed while no host of ours runs.) */
static int host_lock_free(const struct pt_supervisor *s)
{
    int fd = open(s->lock_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT;
    int free_now = flock(fd, LOCK_EX | LOCK_NB) == 0;
    close(fd); /* releases the probe's lock */
    return free_now;
}

/* Bind the stand-in when no host serves and nothing can unlink its
 * endpoint behind it (see the header); retried while that fails. */
static void stand_in(struct pt_supervisor *s)
{
    if (s->serving || s->standin != NULL)
        return;
    int64_t now = pt_mono_ms();
    if (now < s->standin_retry_ms)
        return;
    if (!s->stray_gone) {
        /* Our own host, once started, holds the lock as well: only while
         * none runs does a held lock mean a host of an earlier ingest. */
        if (s->pid != 0)
            return;
        if (!host_lock_free(s)) {
            s->standin_retry_ms = now + LOCK_PROBE_MS;
            return;
        }
        s->stray_gone = 1;
    }
    char err[512];
    if (pt_standin_open(s->cfg, s->log, &s->standin, err, sizeof err) != 0) {
        s->standin = NULL;
        s->standin_retry_ms = now + STANDIN_RETRY_MS;
        if (!s->standin_failed)
            pt_logf(s->log, PT_LOG_WARN,
                    "query endpoint: cannot answer for the plugin host "
                    "while it is down: %s (retrying every %d ms)",
                    err, STANDIN_RETRY_MS);
        s->standin_failed = 1;
        return;
    }
    s->standin_failed = 0;
}

int pt_supervisor_start(struct pt_supervisor *s)
{
    stand_in(s);
    int fds[2], pair[2];
    if (pipe(fds) != 0) {
        int rc = -errno;
        pt_logf(s->log, PT_LOG_ERROR, "pipe: %s", povtrack_strerror(rc));
        return rc;
    }
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) != 0) {
        int rc = -errno;
        pt_logf(s->log, PT_LOG_ERROR, "socketpair: %s", povtrack_strerror(rc));
        close(fds[0]);
        close(fds[1]);
        return rc;
    }
    /* Ingest must never block on the host: a full pipe already means
     * "there is news". */
    fcntl(fds[1], F_SETFL, O_NONBLOCK);
    fcntl(fds[1], F_SETFD, FD_CLOEXEC);
    fcntl(pair[0], F_SETFL, O_NONBLOCK);
    fcntl(pair[0], F_SETFD, FD_CLOEXEC);
    snprintf(s->fd_arg, sizeof s->fd_arg, "%d", fds[0]);
    snprintf(s->handoff_arg, sizeof s->handoff_arg, "%d", pair[1]);
    pid_t pid = pt_supervisor_spawn("/proc/self/exe", s->argv);
    if (pid < 0) {
        int rc = (int)pid;
        pt_logf(s->log, PT_LOG_ERROR, "fork: %s", povtrack_strerror(rc));
        close(fds[0]);
        close(fds[1]);
        close(pair[0]);
        close(pair[1]);
        return rc;
    }
    close(fds[0]);
    close(pair[1]);
    s->pid = pid;
    s->notify_fd = fds[1];
    s->handoff_fd = pair[0];
    s->serving = 0;
    s->started_ms = pt_mono_ms();
    pt_logf(s->log, PT_LOG_INFO, "plugin host started (pid %ld)", (long)pid);
    return 0;
}

static void stand_in_answer(struct pt_supervisor *s);

/* The host is ready to bind: answer what already waits, close the stand-in
 * (on return its endpoint is free) and tell the host so. */
static void hand_over(struct pt_supervisor *s)
{
    if (s->standin != NULL)
        stand_in_answer(s);
    pt_standin_close(s->standin);
    s->standin = NULL;
    /* Nothing else is ever written on this socket: one byte always fits. */
    char released = HANDOFF_RELEASED;
    if (write(s->handoff_fd, &released, 1) != 1) {
        pt_logf(s->log, PT_LOG_WARN,
                "cannot hand the query endpoint to the plugin host: %s",
                strerror(errno));
        return; /* it waits, gives up and exits; then it is restarted */
    }
    s->serving = 1;
    s->served = 1;
    s->stray_gone = 1; /* it took the host lock before asking */
    s->start_cost_ms = pt_mono_ms() - s->started_ms;
}

/* Why the host that just died is gone, for the log and the stand-in, and
 * how soon to start the next one. */
static int64_t restart_delay(struct pt_supervisor *s, int status)
{
    char how[64];
    if (WIFEXITED(status) && WEXITSTATUS(status) == PT_SUPERVISOR_EXIT_CONFIG) {
        snprintf(how, sizeof how, "refused the configuration");
        if (!s->served) {
            s->config_refused = 1;
            snprintf(s->why, sizeof s->why, "it %s", how);
            return 0;
        }
    } else if (WIFEXITED(status)) {
        snprintf(how, sizeof how, "exited with status %d", WEXITSTATUS(status));
    } else {
        snprintf(how, sizeof how, "was killed by signal %d", WTERMSIG(status));
    }
    struct pt_guard_failure f;
    if (pt_guard_inspect(s->guard_path, s->pid, &f) == 0 && f.died_in_call) {
        /* The plugin's fault, and the plugin's back-off: the new host
         * holds it back and serves the others meanwhile. */
        snprintf(s->why, sizeof s->why,
                 "it %s in %s of plugin %s at seq %llu, strike %u of %d",
                 f.hung ? "hung" : "crashed", pt_guard_call_name(f.call),
                 f.plugin, (unsigned long long)f.seq, f.strikes,
                 PT_GUARD_STRIKES);
        pt_logf(s->log, PT_LOG_ERROR,
                "plugin host (pid %ld) %s: %s; restarting it at once",
                (long)s->pid, how, s->why);
        return 0;
    }
    snprintf(s->why, sizeof s->why, "it %s", how);
    int64_t delay =
        pt_supervisor_backoff(&s->failures, pt_mono_ms() - s->started_ms);
    pt_logf(s->log, PT_LOG_ERROR,
            "plugin host (pid %ld) %s outside any plugin call; restarting it "
            "in %lld ms",
            (long)s->pid, how, (long long)delay);
    return delay;
}

int64_t pt_supervisor_backoff(unsigned *failures, int64_t lived_ms)
{
    *failures = lived_ms < PT_SUPERVISOR_QUICK_MS ? *failures + 1 : 0;
    if (*failures <= 1)
        return 0;
    int64_t delay = 1000LL << (*failures - 2 < 5 ? *failures - 2 : 5);
    return delay < PT_SUPERVISOR_BACKOFF_MAX_MS ? delay
                                                : PT_SUPERVISOR_BACKOFF_MAX_MS;
}

/* What the stand-in says: why, and when a host should serve again (the
 * back-off left, plus what the last start took). */
static void stand_in_answer(struct pt_supervisor *s)
{
    int64_t now = pt_mono_ms();
    int64_t retry = 0;
    if (s->pid == 0 && s->restart_at_ms > now)
        retry = s->restart_at_ms - now;
    int64_t cost =
        s->start_cost_ms > 0 ? s->start_cost_ms : START_COST_GUESS_MS;
    int64_t left = s->pid != 0 ? cost - (now - s->started_ms) : cost;
    retry += left > RETRY_MIN_MS ? left : RETRY_MIN_MS;
    char error[sizeof s->why + 128];
    if (s->served)
        snprintf(error, sizeof error,
                 "plugin host is restarting (%s); retry in %lld ms", s->why,
                 (long long)retry);
    else
        snprintf(error, sizeof error,
                 "plugin host is starting; retry in %lld ms", (long long)retry);
    pt_standin_serve(s->standin, error, retry);
}

int pt_supervisor_poll(struct pt_supervisor *s, int *dead)
{
    *dead = 0;
    int status;
    pid_t pid;
    while (s->pid != 0 && (pid = waitpid(s->pid, &status, WNOHANG)) > 0) {
        *dead = 1;
        int64_t delay = restart_delay(s, status);
        close(s->notify_fd);
        close(s->handoff_fd);
        s->notify_fd = -1;
        s->handoff_fd = -1;
        s->pid = 0;
        s->serving = 0;
        s->restart_at_ms = pt_mono_ms() + delay;
    }
    /* Before the restart, so that the stand-in is up first. */
    stand_in(s);
    /* A start that fails (no pipe, no fork: logged) is tried again later,
     * not on every turn. */
    if (s->pid == 0 && !s->config_refused && pt_mono_ms() >= s->restart_at_ms &&
        pt_supervisor_start(s) != 0)
        s->restart_at_ms = pt_mono_ms() + STANDIN_RETRY_MS;
    if (s->pid != 0 && !s->serving) {
        char c;
        if (read(s->handoff_fd, &c, 1) == 1 && c == HANDOFF_BIND)
            hand_over(s);
    }
    if (s->standin != NULL)
        stand_in_answer(s);
    return s->notify_fd;
}

int pt_supervisor_wait_ms(const struct pt_supervisor *s, int idle_ms)
{
    return s->serving || idle_ms < PT_SUPERVISOR_STANDIN_POLL_MS
               ? idle_ms
               : PT_SUPERVISOR_STANDIN_POLL_MS;
}

int pt_supervisor_stop(struct pt_supervisor *s, int timeout_ms)
{
    pt_standin_close(s->standin);
    s->standin = NULL;
    if (s->pid == 0)
        return 0;
    int status = pt_supervisor_reap(s->pid, timeout_ms, s->log, "plugin host");
    close(s->notify_fd);
    close(s->handoff_fd);
    s->notify_fd = -1;
    s->handoff_fd = -1;
    s->pid = 0;
    s->serving = 0;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : POVTRACK_EHOST;
}

pid_t pt_supervisor_spawn(const char *exe, char *const *argv)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0)
        return -errno;
    if (pid == 0) {
        /* Child: only async-signal-safe calls until exec. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(0);
        execv(exe, argv);
        _exit(127);
    }
    return pid;
}

int pt_supervisor_reap(pid_t pid, int timeout_ms, const struct pt_log *log,
                       const char *what)
{
    kill(pid, SIGTERM);
    int64_t deadline = pt_mono_ms() + timeout_ms;
    int status = 0;
    while (waitpid(pid, &status, WNOHANG) == 0) {
        if (pt_mono_ms() >= deadline) {
            pt_logf(log, PT_LOG_WARN,
                    "%s did not stop within %d ms; killing it", what,
                    timeout_ms);
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            break;
        }
        /* waitpid has no timeout: look again every 10 ms. */
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        pt_logf(log, PT_LOG_ERROR, "%s did not stop cleanly (%s %d)", what,
                WIFEXITED(status) ? "exit status" : "signal",
                WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    return status;
}

void pt_supervisor_signal(struct pt_supervisor *s, int sig)
{
    if (s->pid > 0)
        kill(s->pid, sig);
    if (sig == SIGHUP)
        pt_standin_reload(s->standin);
}

int pt_supervisor_await_endpoint(int fd, volatile sig_atomic_t *stop, char *err,
                                 size_t errlen)
{
    char bind = HANDOFF_BIND;
    ssize_t w;
    while ((w = write(fd, &bind, 1)) < 0 && errno == EINTR)
        ;
    if (w != 1) {
        int rc = -errno;
        snprintf(err, errlen, "hand-off: %s", povtrack_strerror(rc));
        return rc;
    }
    int64_t deadline = pt_mono_ms() + PT_SUPERVISOR_HANDOFF_MS;
    for (;;) {
        if (*stop)
            return POVTRACK_EINTR;
        int64_t left = deadline - pt_mono_ms();
        if (left <= 0) {
            snprintf(err, errlen,
                     "the ingest process did not release the query "
                     "endpoint within %d ms",
                     PT_SUPERVISOR_HANDOFF_MS);
            return POVTRACK_ETIMEDOUT;
        }
        struct pollfd p = {fd, POLLIN, 0};
        int n = poll(&p, 1, (int)left);
        if (n < 0 && errno != EINTR) {
            int rc = -errno;
            snprintf(err, errlen, "hand-off: poll: %s", povtrack_strerror(rc));
            return rc;
        }
        if (n <= 0)
            continue;
        char c;
        ssize_t r = read(fd, &c, 1);
        if (r == 1 && c == HANDOFF_RELEASED)
            return 0;
        if (r == 0) {
            snprintf(err, errlen, "hand-off: the ingest process is gone");
            return -EPIPE;
        }
        if (r < 0 && errno != EINTR && errno != EAGAIN) {
            int rc = -errno;
            snprintf(err, errlen, "hand-off: %s", povtrack_strerror(rc));
            return rc;
        }
    }
}
