/*
 * pt_log.h - povtrackd's log lines: one line per message on stderr,
 *
 *   2026-11-27T03:50:00.123Z povtrackd[1234] ingest info: message
 *
 * A struct pt_log is passed to whoever logs rather than kept in a global,
 * so each process (ingest, plugin host) names itself.
 */
#ifndef POVTRACK_PT_LOG_H
#define POVTRACK_PT_LOG_H

enum pt_log_level { PT_LOG_DEBUG = 0, PT_LOG_INFO, PT_LOG_WARN, PT_LOG_ERROR };

struct pt_log {
    int level;        /* messages below this level are dropped */
    const char *proc; /* "ingest", "host", ... */
};

void pt_logf(const struct pt_log *log, enum pt_log_level level, const char *fmt,
             ...) __attribute__((format(printf, 3, 4)));

/* "debug", "info", "warn", "error" -> level; -1 when unknown. */
int pt_log_level_parse(const char *name);

#endif /* POVTRACK_PT_LOG_H */
