/*
 * pt_host.h - the plugin host: loads plugins, applies the log to them, and
 * answers queries.
 *
 * State lives in its own LMDB environment (<data_dir>/state): one database
 * per plugin ("p.<name>") for the plugin's keys, "cursors" (plugin name ->
 * last applied sequence, u64 big-endian), "layouts" (plugin name -> the
 * state layout its state was built with and the cursor it goes with, see
 * pt_state.h), "alerts" (key: sequence of the event that raised it, plugin
 * name, ordinal -> msgpack alert map) and "quarantine".  A plugin's writes
 * for a batch, its cursor and its layout commit in one transaction, so
 * after any crash every record is applied to every plugin exactly once.
 *
 * A plugin that declares a state layout (struct povtrack_plugin's
 * state_layout) and finds its state built with another one, or with none
 * recorded, when it is loaded (at open, or on resume) has that state and
 * cursor dropped, with a warning, and the log applied to it again from the
 * start: plugin state is a function of the log.
 *
 * The log environment (<data_dir>/log) is opened read-only.
 *
 * pt_host_run() is the plugin host process's loop; the rest is also used
 * in-process by tests and tools (rebuild, verify).
 */
#ifndef POVTRACK_PT_HOST_H
#define POVTRACK_PT_HOST_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "pt_config.h"

struct pt_host;

/* Errors: 0 or a code of <povtrack/errors.h>.  pt_host_open* return
 * POVTRACK_ECONFIG when a plugin's [plugin.NAME] section holds a key its
 * config map does not list, or a value not of the key's type: the
 * operator's error, which no restart mends (err names the file, the
 * section and the key); POVTRACK_EPLUGIN for a plugin that cannot load;
 * else what the storage said. */

/* Open both environments and load every configured plugin (dlopen, ABI
 * check, its section against its config map, init).  A plugin that fails
 * to load fails the open, with a message in err naming the plugin and the
 * cause. */
int pt_host_open(const struct pt_config *cfg, struct pt_host **out, char *err,
                 size_t errlen);

/* The plugin host process's open: a plugin that fails to load is
 * quarantined with the cause instead (logged, kept in the state, shown by
 * stats, raised as the critical alert host.plugin_quarantined, its unit
 * the plugin's name) and the others go on; so is one that crashed or hung
 * a host PT_GUARD_STRIKES times on the same record.  One that crashed or
 * hung a host in apply or tick fewer times is held back (not applied, not
 * ticked; its queries read its state as it is) for as long as the guard
 * says, and then catches up.  The record of calls in progress lives in
 * <data_dir>/host.guard, watched by the hang watchdog (pt_guard.h).  A
 * section its config map refuses is no plugin's fault: it still fails the
 * open, with POVTRACK_ECONFIG. */
int pt_host_open_guarded(const struct pt_config *cfg, struct pt_host **out,
                         char *err, size_t errlen);
void pt_host_close(struct pt_host *h);

/* The same on a log the caller has open (in-process use: tests, tools).
 * LMDB forbids opening one environment twice in a process, so a process
 * that writes the log hands its handle here.  The log must outlive h. */
struct st_log;
int pt_host_open_log(const struct pt_config *cfg, struct st_log *events,
                     struct pt_host **out, char *err, size_t errlen);

/* Apply records the plugins have not seen yet, at most max_records per
 * plugin in one transaction.  *applied gets the number of records read;
 * 0 means every plugin is caught up. */
int pt_host_catch_up(struct pt_host *h, size_t max_records, size_t *applied);

/* How long one apply transaction may go on before it commits (default
 * APPLY_BUDGET_MS, 25 ms; in the process loop, APPLY_YIELD_MS once a
 * query is waiting): a query waits at most about this long behind the
 * plugins' work, and a record a plugin applies in steps (POVTRACK_EAGAIN)
 * is committed step by step past it.  0: commit after every step and
 * after the first record (tests, to see the steps). */
void pt_host_set_apply_budget(struct pt_host *h, int64_t ms);

/* Call every plugin's tick(now) in one transaction; alerts it raises are
 * stored and published after the commit.  The process loop calls it once a
 * second with the wall clock; tests call it with a chosen time. */
int pt_host_tick(struct pt_host *h, int64_t now);

/* Apply until every plugin has caught up with the log as it is now. */
int pt_host_catch_up_all(struct pt_host *h);

/* Answer one query-endpoint request (a msgpack map: op ping, stats, read,
 * query, alerts) by packing the whole reply map into out.  Never fails for
 * bad requests: those get {"ok": false, "error": ...}.  Returns non-zero
 * only on an internal error. */
int pt_host_request(struct pt_host *h, const msgpack_object *req,
                    msgpack_packer *out);

/* Lowest applied sequence over the loaded (not stopped) plugins. */
uint64_t pt_host_applied_seq(const struct pt_host *h);

/* What the process loop watches besides its sockets: flags set by signal
 * handlers, and how to build the configuration afresh on a reload. */
struct pt_host_signals {
    volatile sig_atomic_t *stop;   /* non-zero: return */
    volatile sig_atomic_t *reload; /* non-zero: reload, then cleared */
    /* Defaults, file and command line again, as at start; 0 or -1. */
    int (*reconfigure)(void *arg, struct pt_config *fresh);
    void *arg;
};

/* The process loop: binds the query ROUTER and alerts PUB endpoints, applies
 * the log as it grows (woken by notify_fd, a pipe the ingest process writes
 * to after each commit, or by a timer), answers queries, publishes alerts,
 * calls tick.  Returns when *sig->stop becomes non-zero.  On *sig->reload
 * it applies what can change live (log level, syslog, limits) and reads
 * the publisher registry again. */
int pt_host_run(struct pt_host *h, int notify_fd,
                const struct pt_host_signals *sig);

#endif /* POVTRACK_PT_HOST_H */
