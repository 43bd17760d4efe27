#include "pt_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <syslog.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include <povtrack/errors.h>

static const char *const level_names[] = {"debug", "info", "warn", "error"};

/* Whether stderr is the journal's stream: systemd sets JOURNAL_STREAM to
 * "DEVICE:INODE" of the stream it connected a service's stderr to; a
 * stderr redirected since (povtrackd 2>file under such a service, a test)
 * is another file and keeps the plain format.  Asked on every line, so
 * that nothing is kept in a global: one fstat beside the write. */
static int stderr_is_journal(void)
{
    const char *stream = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    char extra;
    struct stat st;

    if (stream == NULL ||
        sscanf(stream, "%llu:%llu%c", &dev, &ino, &extra) != 2 ||
        fstat(STDERR_FILENO, &st) != 0)
        return 0;
    return (unsigned long long)st.st_dev == dev &&
           (unsigned long long)st.st_ino == ino;
}

void pt_logf(const struct pt_log *log, enum pt_log_level level, const char *fmt,
             ...)
{
    if (log != NULL && (int)level < log->level)
        return;
    char head[64];
    if (stderr_is_journal()) {
        /* The journal stamps the time itself and reads the priority from
         * a "<N>" prefix (journalctl -p warning): neither goes in the text. */
        static const char *const prio[] = {SD_DEBUG, SD_INFO, SD_WARNING,
                                           SD_ERR};
        snprintf(head, sizeof head, "%s", prio[level]);
    } else {
        struct timeval tv;
        gettimeofday(&tv, NULL);
        struct tm tm;
        gmtime_r(&tv.tv_sec, &tm);
        char stamp[32];
        strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(head, sizeof head, "%s.%03ldZ ", stamp,
                 (long)(tv.tv_usec / 1000));
    }

    /* Format the whole line first and write it with one call, so lines
     * from the two processes sharing stderr never interleave. */
    char line[2048];
    int n = snprintf(line, sizeof line, "%s%s[%ld] %s %s: ", head,
                     log != NULL && log->prog != NULL ? log->prog : "povtrackd",
                     (long)getpid(),
                     log != NULL && log->proc != NULL ? log->proc : "-",
                     level_names[level]);
    if (n < 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len >= sizeof line - 1) {
        /* Say so rather than cut silently. */
        static const char cut[] = "...[truncated]";
        len = sizeof line - 1 - sizeof cut;
        memcpy(line + len, cut, sizeof cut - 1);
        len += sizeof cut - 1;
    }
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
    if (log != NULL && log->syslog) {
        static const int prio[] = {LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR};
        /* From the process name on: syslog stamps time and pid itself. */
        size_t skip = strcspn(line, "]");
        syslog(prio[level], "%.*s", (int)(len - 1 - skip - 2), line + skip + 2);
    }
}

void pt_log_open_syslog(int facility)
{
    openlog("povtrackd", LOG_PID | LOG_NDELAY, facility);
}

int pt_log_facility_parse(const char *name)
{
    static const struct {
        const char *name;
        int facility;
    } names[] = {{"daemon", LOG_DAEMON}, {"user", LOG_USER},
                 {"local0", LOG_LOCAL0}, {"local1", LOG_LOCAL1},
                 {"local2", LOG_LOCAL2}, {"local3", LOG_LOCAL3},
                 {"local4", LOG_LOCAL4}, {"local5", LOG_LOCAL5},
                 {"local6", LOG_LOCAL6}, {"local7", LOG_LOCAL7}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(name, names[i].name) == 0)
            return names[i].facility;
    return POVTRACK_EINVALID;
}

int pt_log_level_parse(const char *name)
{
    for (size_t i = 0; i < sizeof level_names / sizeof level_names[0]; i++)
        if (strcmp(name, level_names[i]) == 0)
            return (int)i;
    return POVTRACK_EINVALID;
}
