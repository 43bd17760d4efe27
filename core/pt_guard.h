/*
 * pt_guard.h - which plugin call the plugin host is in, kept where a crash
 * cannot erase it, the failures counted against each plugin, and a
 * watchdog for calls that hang.
 *
 * Before each call into a plugin (init, apply, tick, query) the host writes
 * the plugin and the sequence into a small file mapped shared
 * (<data_dir>/host.guard): a few stores, no system call, so it costs
 * nothing per event, and the page outlives the process.  When the host
 * dies inside a call (segfault, abort, or the watchdog's kill), the next
 * host reads what the dead one was doing and counts a strike against that
 * plugin, call and sequence; after PT_GUARD_STRIKES strikes on the same one
 * the plugin is quarantined (pt_host.c).  Each plugin has its own count, so
 * plugins that fail in turn never reset each other's.
 *
 * A strike in apply or tick also holds the plugin back: the next hosts do
 * not call its apply or tick for a while that grows with its strikes
 * (PT_GUARD_HOLD_MS, doubled for each further strike), while they apply the
 * other plugins and answer queries; a plugin that fails next starts from
 * its own count.  The supervisor reads the same file, read-only, to tell a
 * death in a plugin call (the host is restarted at once) from any other.
 *
 * The watchdog is a thread that looks at the record every tenth of the
 * limit; a call that has run longer than the limit gets the process killed
 * with SIGKILL (nothing half-done is committed: plugin writes and cursor
 * commit together or not at all), and the supervisor starts a new host.
 */
#ifndef POVTRACK_PT_GUARD_H
#define POVTRACK_PT_GUARD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "pt_log.h"

#define PT_GUARD_STRIKES 3 /* failures on one sequence before quarantine */
#define PT_GUARD_NAME_MAX 64
#define PT_GUARD_PLUGINS 32     /* plugins whose strikes are kept */
#define PT_GUARD_HOLD_MS 1000   /* hold after a first strike in apply/tick */
#define PT_GUARD_HOLD_MAX 30000 /* ... doubled per strike up to this */

enum pt_guard_call {
    PT_CALL_NONE = 0,
    PT_CALL_INIT,
    PT_CALL_APPLY,
    PT_CALL_TICK,
    PT_CALL_QUERY
};

/* What the previous host was doing when it died, and the running count of
 * failures on that same plugin call. */
struct pt_guard_failure {
    int died_in_call; /* 0: the previous host exited cleanly, or none ran */
    char plugin[PT_GUARD_NAME_MAX + 1];
    enum pt_guard_call call;
    uint64_t seq;
    int hung;         /* the watchdog killed it */
    unsigned strikes; /* failures in a row on this plugin and seq */
    unsigned hold_ms; /* how long apply and tick of it are held back */
};

struct pt_guard;

/* Map path (creating it), read what the previous host left into *last,
 * count its failure, and start the watchdog with hang_ms per call (0: no
 * watchdog).  Returns 0, or a negative error code (<povtrack/errors.h>)
 * with err set. */
int pt_guard_open(const char *path, unsigned hang_ms, const struct pt_log *log,
                  struct pt_guard **out, struct pt_guard_failure *last,
                  char *err, size_t errlen);

/* Read-only, for the supervisor once host (its pid) is reaped: what it was
 * doing and the strike that makes, as the next pt_guard_open() will count
 * it.  last->died_in_call is 0 when it died outside any plugin call, or
 * before it opened the guard (a host that could not start: the record is
 * an earlier host's), or the file has no record.  Returns 0, or a negated
 * errno value when path cannot be read. */
int pt_guard_inspect(const char *path, pid_t host,
                     struct pt_guard_failure *last);

/* Milliseconds plugin is still held back from apply and tick (0: not
 * held). */
unsigned pt_guard_held_ms(const struct pt_guard *g, const char *plugin);

/* Stop the watchdog and mark a clean exit. */
void pt_guard_close(struct pt_guard *g);

/* Forget the strikes against plugin (after a quarantine, or a resume). */
void pt_guard_forgive(struct pt_guard *g, const char *plugin);

/* Around every call into a plugin.  plugin must stay valid until leave.
 * NULL g is allowed (in-process hosts: tests, tools). */
void pt_guard_enter(struct pt_guard *g, const char *plugin,
                    enum pt_guard_call call, uint64_t seq);
void pt_guard_leave(struct pt_guard *g);

/* "init", "apply", "tick", "query". */
const char *pt_guard_call_name(enum pt_guard_call call);

#endif /* POVTRACK_PT_GUARD_H */
