/*
 * st_env.h - an LMDB environment's files on disk: making them survive a
 * power cut from the moment they are created.
 *
 * This header is the whole contract of storage/st_env.c, used by the log
 * (st_log.c), the plugin host's state (core/pt_host.c, core/pt_state.c)
 * and povtrackd's data directory (core/pt_main.c).
 *
 * Why.  Under POSIX a file's directory entry is durable only once its
 * directory has been synced, and the pages of a new file reach the disk in
 * any order until it is synced.  LMDB syncs the data file on every commit
 * but never a directory, and it creates a new environment in place: its two
 * meta pages are written, unsynced, into data.mdb under its final name.  A
 * power cut there leaves a data.mdb that is empty or has no valid meta page,
 * which LMDB then rejects (MDB_INVALID) or, for an empty file opened
 * read-only, fails on with EBADF.
 *
 * So an environment is created under a temporary name in its directory
 * (ST_ENV_DATA_FILE ST_ENV_TEMP_INFIX "<pid>"), initialised, synced, and
 * renamed to ST_ENV_DATA_FILE; then the directory is synced.  A power cut
 * at any point leaves either no data.mdb or a valid one, plus perhaps a
 * temporary file, which st_env_remove_leftovers() removes at the next
 * start.  LMDB's lock file is not made durable: LMDB creates it when it is
 * missing and resets it when no process has it open, so nothing in it
 * outlives the processes that use it.
 *
 * Errors: functions return 0 or a code of <povtrack/errors.h> (an errno
 * value negated, or an LMDB code), and those that take err (never NULL)
 * describe a failure there, naming the path.
 */
#ifndef POVTRACK_ST_ENV_H
#define POVTRACK_ST_ENV_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <lmdb.h>
#include <povtrack/errors.h>

/* An LMDB return in povtrack's error space: LMDB returns its own codes
 * (negative, in the range errors.h keeps for them) and errno values as they
 * are (positive: ENOSPC, EIO ...), which this negates.  Every caller of an
 * mdb_* function (storage, the plugin host's state) passes its return
 * through here, so that no caller above ever sees a positive code. */
static inline int st_mdb_rc(int rc)
{
    return rc > 0 ? -rc : rc;
}

#define ST_ENV_DATA_FILE "data.mdb"
/* data.mdb.new-<pid>: an environment being created by process <pid>. */
#define ST_ENV_TEMP_INFIX ".new-"

/* path.invalid-<UTC time>: what st_set_aside moved out of the way. */
#define ST_SET_ASIDE_INFIX ".invalid-"

/* fsync the directory dir, so that the entries created, renamed or removed
 * in it so far survive a power cut. */
int st_dir_sync(const char *dir);

/* Rename path (a file or a directory) to path.invalid-<UTC time>, such as
 * data.mdb.invalid-20261127T035000Z (-2, -3... when the name is taken),
 * which moved gets, and sync the directory holding it: what cannot be read
 * goes out of the way without being destroyed. */
int st_set_aside(const char *path, char *moved, size_t movedlen, char *err,
                 size_t errlen);

/* Create the directory dir (its last component only) with mode when it is
 * missing, and then sync its parent so that the new entry is durable.
 * *created (may be NULL) tells whether this call created it; an existing
 * directory is left as it is, and costs one stat. */
int st_dir_make(const char *dir, mode_t mode, int *created, char *err,
                size_t errlen);

/* Call fn(arg, dirfd, name) for each entry of dir but "." and "..", dirfd
 * being the open directory, until fn returns non-zero, which st_dir_each
 * then returns; 0 after the last entry; a negated errno value, with err
 * set, when dir cannot be read. */
typedef int (*st_dir_fn)(void *arg, int dirfd, const char *name);
int st_dir_each(const char *dir, st_dir_fn fn, void *arg, char *err,
                size_t errlen);

/* Is name (an entry of an environment's directory) the temporary file of
 * a creation? */
int st_env_is_leftover(const char *name);

/* Remove from dir every temporary file left by a creation that a crash
 * cut short.  Only for the process that alone may create an environment
 * in dir (the one holding the data directory's lock): another creator's
 * file would go too.  note gets "" when there was none, else which were
 * removed, for the caller to log.  Fails when dir cannot be read or a
 * file cannot be removed. */
int st_env_remove_leftovers(const char *dir, char *note, size_t notelen,
                            char *err, size_t errlen);

/* Called by st_env_create on the new environment, opened without a lock
 * file, to write its first transactions (each commit syncs); returns 0 or
 * a code of the error space, with err set. */
typedef int (*st_env_init_fn)(void *arg, MDB_env *env, char *err,
                              size_t errlen);

/*
 * Create dir/data.mdb, dir being an existing directory: an environment
 * with at most maxdbs named databases and a map of map_size bytes (0:
 * LMDB's default), file mode mode, written by init (may be NULL: an empty
 * environment, which is valid).  It is created as data.mdb.new-<pid>,
 * synced, renamed to data.mdb, which it replaces if there is one, and dir
 * is synced: a crash at any point leaves the old data.mdb (or none) or
 * the new one, whole.  The caller then opens dir as usual.  On failure
 * nothing is left behind and err says why.
 */
int st_env_create(const char *dir, mode_t mode, unsigned maxdbs,
                  size_t map_size, st_env_init_fn init, void *arg, char *err,
                  size_t errlen);

/*
 * mdb_env_open(env, dir, flags, mode) for an environment that exists:
 * -ENOENT when dir holds no data.mdb; -ENODATA when data.mdb is empty and
 * MDB_INVALID when it has no valid meta page (both: no transaction was
 * ever committed to it, or it was damaged), with *size its length in
 * bytes; -ENOLCK when LMDB rejects lock.mdb (it says MDB_INVALID of that
 * too) while data.mdb is valid; otherwise what mdb_env_open returns (in
 * the error space: st_mdb_rc).  An
 * empty data.mdb is never handed to LMDB, which would write meta pages
 * into it in place (or fail with EBADF when read-only).  On failure env
 * must still be closed.
 */
int st_env_open_existing(MDB_env *env, const char *dir, unsigned flags,
                         mode_t mode, uint64_t *size);

/* What st_env_open_existing found, for a message: "DIR/data.mdb is empty
 * (0 bytes)" for -ENODATA, "DIR/data.mdb has no valid LMDB meta page (N
 * bytes)" for MDB_INVALID, the lock file for -ENOLCK, else the error. */
void st_env_describe(char *buf, size_t buflen, const char *dir, int rc,
                     uint64_t size);

#endif /* POVTRACK_ST_ENV_H */
