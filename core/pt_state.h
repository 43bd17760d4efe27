/*
 * pt_state.h - the layout of a data directory and the plugin host's state
 * environment, for programs that read them from outside the daemon
 * (`povtrack backup`, `restore`, `verify`).
 *
 * A data directory holds:
 *   PT_DATA_LOG_SUBDIR    the event log, an LMDB environment (st_log.h)
 *   PT_DATA_STATE_SUBDIR  the plugin host's state, an LMDB environment,
 *                         created whole or not at all (st_env.h)
 *   PT_DATA_LOCK_FILE     flock()ed by the running povtrackd, holding its pid
 *   PT_DATA_HOST_LOCK_FILE  flock()ed by its plugin host, which may outlive
 *                         a killed povtrackd for a moment
 *   PT_DATA_GUARD_FILE    the plugin call in progress (pt_guard.h)
 *   PT_DATA_MIRROR_FILE   how far the mirror has copied the log into
 *                         JetStream (pt_mirror.h), with [mirror] only
 *   PT_DATA_PROMOTE_FILE  `povtrack promote` asks a standby to become the
 *                         primary (pt_mirror.h)
 *   PT_DATA_PROMOTED_FILE the standby became the primary: it no longer
 *                         follows, whatever [mirror] standby says
 *   PT_DATA_NATIONAL_FILE_PREFIX<province>  the national daemon's view of
 *                         that province's stream (pt_mirror.h)
 *
 * In the state environment, the database PT_STATE_CURSORS_DB maps a plugin's
 * name to the sequence of the last log record applied to it (8 bytes,
 * big-endian); the plugins' own databases and the alerts sit beside it (see
 * pt_host.h).  The host applies only records committed to the log, and
 * commits a plugin's state with its cursor, so in any snapshot of the state
 * every cursor is at most the log's last sequence at that moment.
 *
 * The database PT_STATE_LAYOUTS_DB maps a plugin's name to the state layout
 * (struct povtrack_plugin's state_layout) its state was built with and the
 * cursor it was recorded with: u32 layout then u64 sequence, big-endian
 * (PT_STATE_LAYOUT_LEN bytes).  The host writes it with every cursor, in
 * the same transaction, and deletes it with the cursor; a record whose
 * sequence is not the cursor's was left behind by a host that did not keep
 * layouts, and counts as none.  At start the host rebuilds from the log a
 * plugin whose state (cursor > 0) has another layout, or none, than the one
 * the loaded plugin declares.  Readers outside the host need not look at
 * it: the cursors keep their form.
 *
 * The database PT_STATE_APPLYING_DB maps a plugin's name to the record it
 * is in the middle of: a plugin may apply one slow record in steps, each
 * committed (POVTRACK_EAGAIN from apply, <povtrack/plugin.h>), and between
 * them its cursor stays just before the record while its state holds the
 * steps done.  The value is u64 sequence then u32 alerts raised under it
 * so far, big-endian (PT_STATE_APPLYING_LEN bytes), so that the next step,
 * in this host or the next one, keys its alerts after them.  Written and
 * deleted with the cursor, in the same transaction; absent while no record
 * is in progress.
 *
 * Errors: functions return 0 or a code of <povtrack/errors.h> (an errno
 * value negated, an LMDB code), with a message in err naming the
 * directory.
 */
#ifndef POVTRACK_PT_STATE_H
#define POVTRACK_PT_STATE_H

#include <stddef.h>
#include <stdint.h>

#include <lmdb.h>

#include "pt_config.h"
#include "st_env.h"

#define PT_DATA_LOG_SUBDIR "log"
#define PT_DATA_STATE_SUBDIR "state"
#define PT_DATA_LOCK_FILE "povtrackd.pid"
#define PT_DATA_HOST_LOCK_FILE "host.lock"
#define PT_DATA_GUARD_FILE "host.guard"        /* pt_guard.h */
#define PT_DATA_MIRROR_FILE "mirror.progress"  /* pt_mirror.h */
#define PT_DATA_PROMOTE_FILE "promote.request" /* pt_mirror.h */
#define PT_DATA_PROMOTED_FILE "promoted"       /* pt_mirror.h */
/* + a province's code: the national daemon's view of its stream */
#define PT_DATA_NATIONAL_FILE_PREFIX "national.progress." /* pt_mirror.h */
/* state.invalid-<UTC time>: a state the host could not read, set aside
 * (st_set_aside). */
#define PT_DATA_STATE_INVALID_PREFIX PT_DATA_STATE_SUBDIR ST_SET_ASIDE_INFIX

#define PT_STATE_CURSORS_DB "cursors"
#define PT_STATE_LAYOUTS_DB "layouts"
#define PT_STATE_LAYOUT_LEN 12 /* u32 layout, u64 seq */
#define PT_STATE_APPLYING_DB "applying"
#define PT_STATE_APPLYING_LEN 12 /* u64 seq, u32 alerts */
/* Modes the host creates the state directory and files with. */
#define PT_STATE_DIR_MODE 0750
#define PT_STATE_FILE_MODE 0640

enum pt_state_open_flags {
    /* dir is a copy that no process writes (a backup): LMDB's lock file is
     * neither used nor created.  Never on the live state. */
    PT_STATE_SNAPSHOT = 1 << 0
};

/* Open the state environment in dir (<data_dir>/state, or a copy of it)
 * read-only.  The plugin host may be running: this is one more reader, and
 * it never takes the host's write lock.  -ENOENT when dir holds no data.mdb
 * (the host never ran there); -ENODATA when data.mdb is empty (the state
 * was never written) and MDB_INVALID when it has no valid meta page (it
 * cannot be read): the host sets either aside at start, as
 * PT_DATA_STATE_INVALID_PREFIX<UTC time>, and makes a new state.  err
 * says which.  Close with mdb_env_close(). */
int pt_state_open_readonly(const char *dir, unsigned flags, MDB_env **out,
                           char *err, size_t errlen);

/* One plugin's cursor. */
struct pt_state_cursor {
    char plugin[PT_PLUGIN_NAME_MAX + 1]; /* cut to fit, NUL-terminated */
    uint64_t seq;
    int valid; /* 0: the stored value is not a sequence (seq is then 0) */
};

/* Every plugin cursor of a state, in name order. */
struct pt_state_cursors {
    struct pt_state_cursor *v;
    size_t n;
};

/* Read every plugin cursor in one read transaction into *out (free it with
 * pt_state_cursors_free).  A state without cursors (no plugin has applied
 * anything yet) has none.  POVTRACK_ENOMEM when memory runs out. */
int pt_state_read_cursors(MDB_env *env, struct pt_state_cursors *out, char *err,
                          size_t errlen);
void pt_state_cursors_free(struct pt_state_cursors *c);

/* Check cursors against the last sequence of the log they belong to: a
 * cursor past it, or one that is not a sequence, would mean plugin state
 * counting events the log does not hold.  Returns how many are wrong and
 * describes the first in why; *min gets the lowest valid cursor (0 when
 * there is none). */
size_t pt_state_cursors_check(const struct pt_state_cursors *c,
                              uint64_t last_seq, uint64_t *min, char *why,
                              size_t whylen);

/* Write a compacted copy of the state into dir, an existing directory
 * without a data.mdb, as dir/data.mdb: mdb_env_copy2 with MDB_CP_COMPACT,
 * which walks one read snapshot and never blocks the host.  Not synced: the
 * caller fsyncs.  On failure dir/data.mdb is removed (unless it was there
 * before: POVTRACK_EEXIST). */
int pt_state_copy(MDB_env *env, const char *dir, char *err, size_t errlen);

#endif /* POVTRACK_PT_STATE_H */
