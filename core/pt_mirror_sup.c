/*
 * pt_mirror_sup.c - starting and restarting povtrack-mirror
 * (pt_mirror_sup.h).
 */
#include "pt_mirror_sup.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pt_clock.h"
#include "pt_supervisor.h" /* pt_supervisor_spawn, _backoff, _reap */

#define RETRY_MS 1000 /* after a failure to fork */

int pt_mirror_sup_init(struct pt_mirror_sup *m, const struct pt_config *cfg,
                       const struct pt_log *log)
{
    memset(m, 0, sizeof *m);
    m->cfg = cfg;
    m->log = log;
    m->fd = -1;
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) {
        int rc = n < 0 ? -errno : POVTRACK_ENOENT;
        pt_logf(log, PT_LOG_ERROR, "[mirror]: cannot find this executable: %s",
                povtrack_strerror(rc));
        return rc;
    }
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (slash != NULL)
        *slash = '\0';
    if (snprintf(m->exe, sizeof m->exe, "%s/" PT_MIRROR_EXE, self) >=
        (int)sizeof m->exe)
        return POVTRACK_ENAMETOOLONG;
    if (access(m->exe, X_OK) != 0) {
        int rc = -errno;
        pt_logf(log, PT_LOG_ERROR,
                "[mirror] is configured, but %s cannot be run: %s (it is "
                "installed beside povtrackd)",
                m->exe, povtrack_strerror(rc));
        return rc;
    }
    char err[512];
    int rc = pt_mirror_page_open(cfg->data_dir, PT_MIRROR_PAGE_RESET, &m->page,
                                 err, sizeof err);
    if (rc != 0) {
        pt_logf(log, PT_LOG_ERROR, "[mirror]: %s", err);
        return rc;
    }
    static const char *const levels[] = {"debug", "info", "warn", "error"};
    size_t i = 0;
    m->argv[i++] = m->exe;
    m->argv[i++] = "--data-dir";
    m->argv[i++] = (char *)cfg->data_dir;
    m->argv[i++] = "--config";
    m->argv[i++] = (char *)cfg->config_file;
    m->argv[i++] = "--log-level";
    m->argv[i++] = (char *)levels[cfg->log_level];
    m->argv[i++] = "--ingest-fd";
    m->argv[i++] = m->fd_arg;
    m->argv[i] = NULL;
    return 0;
}

/* Start the mirror; 0 or a negated errno value (logged). */
static int start(struct pt_mirror_sup *m)
{
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) != 0) {
        int rc = -errno;
        pt_logf(m->log, PT_LOG_ERROR, "mirror: socketpair: %s",
                povtrack_strerror(rc));
        return rc;
    }
    /* Ingest never waits on the mirror; the mirror's end is inherited. */
    fcntl(pair[0], F_SETFL, O_NONBLOCK);
    fcntl(pair[1], F_SETFD, 0);
    snprintf(m->fd_arg, sizeof m->fd_arg, "%d", pair[1]);
    pid_t pid = pt_supervisor_spawn(m->exe, m->argv);
    if (pid < 0) {
        int rc = (int)pid;
        pt_logf(m->log, PT_LOG_ERROR, "mirror: fork: %s",
                povtrack_strerror(rc));
        close(pair[0]);
        close(pair[1]);
        return rc;
    }
    close(pair[1]);
    m->pid = pid;
    m->fd = pair[0];
    m->started_ms = pt_mono_ms();
    pt_logf(m->log, PT_LOG_INFO, "mirror started (pid %ld)", (long)pid);
    return 0;
}

int pt_mirror_sup_poll(struct pt_mirror_sup *m, int *dead)
{
    int status;
    *dead = 0;
    if (m->pid != 0 && waitpid(m->pid, &status, WNOHANG) == m->pid) {
        *dead = 1;
        int64_t delay =
            pt_supervisor_backoff(&m->failures, pt_mono_ms() - m->started_ms);
        char how[64];
        if (WIFEXITED(status))
            snprintf(how, sizeof how, "exited with status %d",
                     WEXITSTATUS(status));
        else
            snprintf(how, sizeof how, "was killed by signal %d",
                     WTERMSIG(status));
        pt_logf(m->log, PT_LOG_ERROR,
                "mirror (pid %ld) %s; restarting it in %lld ms (ingest goes "
                "on%s)",
                (long)m->pid, how, (long long)delay,
                m->cfg->mirror.strict ? "; in strict mode acks wait for it"
                                      : "");
        close(m->fd);
        m->fd = -1;
        m->pid = 0;
        m->restart_at_ms = pt_mono_ms() + delay;
    }
    if (m->pid == 0 && pt_mono_ms() >= m->restart_at_ms && start(m) != 0)
        m->restart_at_ms = pt_mono_ms() + RETRY_MS;
    return m->fd;
}

int pt_mirror_sup_stop(struct pt_mirror_sup *m, int timeout_ms)
{
    int rc = 0;
    if (m->pid != 0) {
        int status = pt_supervisor_reap(m->pid, timeout_ms, m->log, "mirror");
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            rc = -ECHILD;
        close(m->fd);
        m->fd = -1;
        m->pid = 0;
    }
    pt_mirror_page_close(m->page);
    m->page = NULL;
    return rc;
}
