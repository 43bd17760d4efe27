/*
 * pt_log.h - povtrackd's log lines: one line per message on stderr,
 *
 *   2026-11-27T03:50:00.123Z povtrackd[1234] ingest info: message
 *
 * A struct pt_log is passed to whoever logs rather than kept in a global,
 * so each process (ingest, plugin host) names itself.  With syslog on, each
 * message also goes to syslog (journald reads it there) at the matching
 * priority, without the time stamp, which syslog adds itself.
 *
 * When stderr is the journal (a systemd service: JOURNAL_STREAM names the
 * device and inode stderr is), a line starts with its syslog priority
 * instead of the time stamp, which the journal adds itself:
 *
 *   <6>povtrackd[1234] ingest info: message
 *
 * debug, info, warn and error are priorities 7, 6, 4 and 3, so that
 * `journalctl -p warning -u povtrackd` shows warnings and errors alone.
 */
#ifndef POVTRACK_PT_LOG_H
#define POVTRACK_PT_LOG_H

enum pt_log_level { PT_LOG_DEBUG = 0, PT_LOG_INFO, PT_LOG_WARN, PT_LOG_ERROR };

struct pt_log {
    int level;        /* messages below this level are dropped */
    const char *proc; /* "ingest", "host", ... */
    int syslog;       /* also to syslog (journald), after pt_log_open_syslog */
    const char *prog; /* the program's name in lines; NULL: "povtrackd" */
};

/* Open the syslog connection for this process (ident "povtrackd", with the
 * pid); facility is a LOG_* value from <syslog.h>. */
void pt_log_open_syslog(int facility);

/* "daemon", "user", "local0".."local7" -> LOG_* facility; POVTRACK_EINVALID
 * when unknown. */
int pt_log_facility_parse(const char *name);

void pt_logf(const struct pt_log *log, enum pt_log_level level, const char *fmt,
             ...) __attribute__((format(printf, 3, 4)));

/* "debug", "info", "warn", "error" -> level; POVTRACK_EINVALID when
 * unknown. */
int pt_log_level_parse(const char *name);

#endif /* POVTRACK_PT_LOG_H */
