#include "pt_supervisor.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int pt_supervisor_init(struct pt_supervisor *s, const struct pt_log *log,
                       int argc, char **argv)
{
    memset(s, 0, sizeof *s);
    s->log = log;
    s->notify_fd = -1;
    if (argc > PT_SUPERVISOR_ARGS_MAX)
        return -1;
    for (int i = 0; i < argc; i++)
        s->argv[i] = argv[i];
    s->argv[argc] = "--plugin-host";
    s->argv[argc + 1] = "--notify-fd";
    s->argv[argc + 2] = s->fd_arg;
    s->argv[argc + 3] = NULL;
    return 0;
}

int pt_supervisor_start(struct pt_supervisor *s)
{
    int fds[2];
    if (pipe(fds) != 0) {
        pt_logf(s->log, PT_LOG_ERROR, "pipe: %s", strerror(errno));
        return -1;
    }
    /* Ingest must never block on the host: a full pipe already means
     * "there is news". */
    fcntl(fds[1], F_SETFL, O_NONBLOCK);
    fcntl(fds[1], F_SETFD, FD_CLOEXEC);
    snprintf(s->fd_arg, sizeof s->fd_arg, "%d", fds[0]);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        pt_logf(s->log, PT_LOG_ERROR, "fork: %s", strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        /* Child: only async-signal-safe calls until exec. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(0);
        execv("/proc/self/exe", s->argv);
        _exit(127);
    }
    close(fds[0]);
    s->pid = pid;
    s->notify_fd = fds[1];
    s->started_ms = mono_ms();
    pt_logf(s->log, PT_LOG_INFO, "plugin host started (pid %ld)", (long)pid);
    return 0;
}

int pt_supervisor_poll(struct pt_supervisor *s, int *dead)
{
    *dead = 0;
    int status;
    pid_t pid;
    while (s->pid != 0 && (pid = waitpid(s->pid, &status, WNOHANG)) > 0) {
        *dead = 1;
        if (WIFEXITED(status))
            pt_logf(s->log, PT_LOG_ERROR,
                    "plugin host (pid %ld) exited with status %d", (long)pid,
                    WEXITSTATUS(status));
        else
            pt_logf(s->log, PT_LOG_ERROR,
                    "plugin host (pid %ld) killed by signal %d", (long)pid,
                    WTERMSIG(status));
        close(s->notify_fd);
        s->notify_fd = -1;
        s->pid = 0;
        int64_t now = mono_ms();
        s->failures = now - s->started_ms < 60000 ? s->failures + 1 : 0;
        int64_t delay = 0;
        if (s->failures > 1) {
            delay = 1000LL << (s->failures - 2 < 5 ? s->failures - 2 : 5);
            if (delay > 30000)
                delay = 30000;
        }
        s->restart_at_ms = now + delay;
        pt_logf(s->log, PT_LOG_INFO, "restarting the plugin host in %lld ms",
                (long long)delay);
    }
    if (s->pid == 0 && mono_ms() >= s->restart_at_ms)
        pt_supervisor_start(s);
    return s->notify_fd;
}

int pt_supervisor_stop(struct pt_supervisor *s, int timeout_ms)
{
    if (s->pid == 0)
        return 0;
    kill(s->pid, SIGTERM);
    int64_t deadline = mono_ms() + timeout_ms;
    int status = 0;
    while (waitpid(s->pid, &status, WNOHANG) == 0) {
        if (mono_ms() >= deadline) {
            pt_logf(s->log, PT_LOG_WARN,
                    "plugin host did not stop within %d ms; killing it",
                    timeout_ms);
            kill(s->pid, SIGKILL);
            waitpid(s->pid, &status, 0);
            break;
        }
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    close(s->notify_fd);
    s->notify_fd = -1;
    s->pid = 0;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    pt_logf(s->log, PT_LOG_ERROR, "plugin host did not stop cleanly (%s %d)",
            WIFEXITED(status) ? "exit status" : "signal",
            WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    return -1;
}

void pt_supervisor_signal(struct pt_supervisor *s, int sig)
{
    if (s->pid > 0)
        kill(s->pid, sig);
}
