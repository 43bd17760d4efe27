/*
 * tl_backup.h - online backup of a povtrack data directory and restoring
 * one (`povtrack backup`, `povtrack restore`).
 *
 * A backup is a directory holding
 *   manifest        text, one "key value" a line, below
 *   log/data.mdb    a compacted copy of DATA/log
 *   state/data.mdb  a compacted copy of DATA/state; absent when DATA had no
 *                   plugin state (the plugin host then rebuilds it)
 *
 * The manifest's first line is "povtrack-backup 1"; then come
 *   version V       the povtrack that wrote it
 *   created T       when the copy was taken (ISO-8601, UTC)
 *   data_dir D      the data directory copied
 *   last_seq N      the last sequence of log/
 *   state yes|no    whether state/ is there
 *   log_bytes N     sizes of the two copies
 *   state_bytes N
 * Restore relies on the first line, last_seq and state; the other keys are
 * for people.
 *
 * Both operations open the environments read-only, each once, and never take
 * povtrackd's write locks, so a backup runs beside a daemon that keeps
 * ingesting.  Every plugin cursor in a backup's state is at most its
 * last_seq: the state is copied first (see tl_backup.c).
 */
#ifndef POVTRACK_TL_BACKUP_H
#define POVTRACK_TL_BACKUP_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "tl_error.h"

#define TL_BACKUP_FORMAT "povtrack-backup 1"

struct tl_backup_summary {
    uint64_t last_seq; /* last sequence of the log copied */
    bool has_state;    /* the plugin state was copied too */
    uint64_t log_bytes, state_bytes;
    size_t plugins;      /* plugin cursors in the state copied */
    uint64_t min_cursor; /* the lowest of them; 0 when there are none */
    double seconds;      /* wall time of the whole operation */
};

/*
 * Copy data_dir's log and plugin state into dest, which must not exist or
 * be an empty directory.  The copy is written into "<dest>.tmp-XXXXXX"
 * beside it, checked (the copies open, no cursor is ahead of the log),
 * synced, and renamed to dest only then, so that a dest that exists is a
 * complete backup.  Progress lines go to progress (NULL: none).
 * Returns 0; POVTRACK_EINVALID when dest is not acceptable (a negated
 * errno value when it cannot be read); POVTRACK_ESOURCE
 * when data_dir's log or state cannot be opened; POVTRACK_EIO or
 * POVTRACK_ENOMEM when the copy failed (the temporary directory is then
 * removed).  err says why.
 */
int tl_backup(const char *data_dir, const char *dest, FILE *progress,
              struct tl_backup_summary *out, struct tl_error *err);

/*
 * Restore the backup in dir backup into data_dir (created when missing).
 * Refused (POVTRACK_EINVALID) while a povtrackd or its plugin host holds one of
 * data_dir's lock files, and when data_dir holds anything but those files
 * unless force is set: then its log and state are not deleted but renamed
 * to "log.replaced-<time>" and "state.replaced-<time>" beside the restored
 * ones.  The locks are held for the whole restore, so a daemon cannot start
 * on data_dir meanwhile.  The
 * backup is checked first (POVTRACK_ESOURCE: no or bad manifest, an
 * environment that does not open, a log whose last sequence is not the
 * manifest's, a cursor ahead of the log); the copies are made in a
 * temporary directory inside data_dir, synced, and renamed into place.
 * POVTRACK_EIO or POVTRACK_ENOMEM when copying failed.
 */
int tl_restore(const char *backup, const char *data_dir, bool force,
               FILE *progress, struct tl_backup_summary *out,
               struct tl_error *err);

/*
 * Rotated backups (`povtrack backup --keep N DIR`, the nightly timer):
 * back data_dir up into "<dir>/povtrack-<UTC YYYYMMDDTHHMMSSZ>" (with
 * "-2", "-3"... should that name be taken), dir created (mode 0700) when
 * missing; point the symbolic link "<dir>/latest" at it; then remove the
 * oldest of dir's other backups so named (with a backup manifest) until
 * keep remain, the new one included.  Entries of dir named otherwise, or
 * without a manifest, are never touched, and nothing is removed unless
 * the new backup is complete.  path gets the new backup's path.  Returns
 * what tl_backup() returns, POVTRACK_EINVALID when keep is 0, and POVTRACK_EIO
 * when an old backup could not be removed (it held files a backup does not: the
 * new backup is complete; err names the old one).
 */
int tl_backup_keep(const char *data_dir, const char *dir, unsigned keep,
                   FILE *progress, struct tl_backup_summary *out, char *path,
                   size_t pathlen, struct tl_error *err);

/* One line: "povtrack CMD: done: WHERE, last seq N, sizes, cursors, time". */
void tl_backup_print_summary(FILE *f, const char *cmd, const char *where,
                             const struct tl_backup_summary *s);

#endif /* POVTRACK_TL_BACKUP_H */
