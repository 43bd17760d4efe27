/*
 * st_log.c - opening and closing the log environment, error strings and the
 * small helpers the other storage files share.
 *
 * Appending is in st_append.c, reading in st_read.c.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "st_env.h"
#include "st_internal.h"

/* events, ids, units, unitseq, amends, meta; origins, cursors, rejects
 * (the national daemon's). */
#define ST_MAX_DBS 9

/* Files and the directory are created group-accessible and left to the
 * umask: a reader process opens lock.mdb read-write (its reader slot lives
 * there), so a reader running under another user of the group needs write
 * access to it.  Narrowing this is the administrator's umask. */
#define ST_FILE_MODE 0660
#define ST_DIR_MODE 0770

/* errors.h keeps LMDB's range for it: the codes pass through as they are. */
_Static_assert(MDB_KEYEXIST == POVTRACK_LMDB_MIN &&
                   MDB_LAST_ERRCODE <= POVTRACK_LMDB_MAX,
               "LMDB's codes are outside the range errors.h keeps for them");

const char *st_strerror(int rc)
{
    if (rc >= POVTRACK_LMDB_MIN && rc <= POVTRACK_LMDB_MAX)
        return mdb_strerror(rc);
    return povtrack_strerror(rc);
}

void st_put_u64be(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (unsigned char)(v & 0xffu);
        v >>= 8;
    }
}

uint64_t st_get_u64be(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

const char *st_level_name(enum ev_level level)
{
    switch (level) {
    case EV_LEVEL_CENTRAL:
        return "central";
    case EV_LEVEL_PROVINCE:
        return "province";
    case EV_LEVEL_DISTRICT:
        return "district";
    case EV_LEVEL_COMMUNE:
        return "commune";
    case EV_LEVEL_NONE:
        break;
    }
    return NULL;
}

/* printf into the caller's error buffer, which may be absent. */
static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

void st_printable(char *buf, size_t buflen, const void *p, size_t len)
{
    const unsigned char *s = p;
    size_t o = 0;

    for (size_t i = 0; i < len && o + 1 < buflen; i++)
        buf[o++] = (s[i] >= 0x20 && s[i] < 0x7f) ? (char)s[i] : '?';
    buf[o] = '\0';
}

/* st_dir_each's fn for a directory meant to receive a new log:
 * POVTRACK_EFORMAT, the name copied to arg, for an entry that is not a stale
 * lock.mdb, what a creation cut short leaves, or a never-written data.mdb that
 * replace_unwritten set aside. */
static int foreign_entry(void *arg, int dirfd, const char *name)
{
    (void)dirfd;
    if (strcmp(name, "lock.mdb") == 0 || st_env_is_leftover(name) ||
        strncmp(name, "data.mdb" ST_SET_ASIDE_INFIX,
                sizeof("data.mdb" ST_SET_ASIDE_INFIX) - 1) == 0)
        return 0;
    snprintf(arg, NAME_MAX + 1, "%s", name);
    return POVTRACK_EFORMAT;
}

/*
 * Make sure dir can hold a log before LMDB creates anything in it.  *fresh
 * is set when there is no data.mdb yet (a writer will create one).  A writer
 * refuses to create a log in a directory holding anything but a stale
 * lock.mdb and the leftovers of an interrupted creation: pointing the daemon
 * at the wrong directory must not litter it.
 */
static int prepare_dir(const char *dir, int readonly, int *fresh, char *err,
                       size_t errlen)
{
    struct stat sb;
    char *path;
    size_t plen = strlen(dir) + sizeof("/data.mdb");
    int rc = 0;

    *fresh = 0;
    if (!readonly) {
        char why[PATH_MAX + 128];

        /* Only the last component is created: a missing parent means a
         * wrong path more often than a missing directory.  Its parent is
         * synced, or the whole log could vanish in a power cut. */
        rc = st_dir_make(dir, ST_DIR_MODE, NULL, why, sizeof why);
        if (rc != 0) {
            set_err(err, errlen, "%s", why);
            return rc;
        }
    } else if (stat(dir, &sb) != 0) {
        rc = -errno;
        set_err(err, errlen, "%s: %s", dir, povtrack_strerror(rc));
        return rc;
    } else if (!S_ISDIR(sb.st_mode)) {
        set_err(err, errlen, "%s: not a directory", dir);
        return -ENOTDIR;
    }

    path = malloc(plen);
    if (path == NULL) {
        set_err(err, errlen, "%s: out of memory", dir);
        return POVTRACK_ENOMEM;
    }
    snprintf(path, plen, "%s/data.mdb", dir);
    if (stat(path, &sb) == 0) {
        if (!S_ISREG(sb.st_mode)) {
            set_err(err, errlen, "%s: data.mdb is not a regular file", dir);
            rc = POVTRACK_EFORMAT;
        }
        free(path);
        return rc;
    }
    rc = -errno;
    free(path);
    if (rc != POVTRACK_ENOENT) {
        set_err(err, errlen, "%s/data.mdb: %s", dir, povtrack_strerror(rc));
        return rc;
    }
    if (readonly) {
        /* Checked here rather than left to LMDB, which would first create
         * lock.mdb in a directory that is not a log. */
        set_err(err, errlen, "%s: no povtrack log here (no data.mdb)", dir);
        return POVTRACK_ENOENT;
    }

    char found[NAME_MAX + 1], why[PATH_MAX + 128];

    rc = st_dir_each(dir, foreign_entry, found, why, sizeof why);
    if (rc == POVTRACK_EFORMAT)
        set_err(err, errlen,
                "%s: not a povtrack log directory (it holds \"%s\" and no "
                "data.mdb); refusing to create a log there",
                dir, found);
    else if (rc != 0)
        set_err(err, errlen, "%s", why);
    if (rc == 0)
        *fresh = 1;
    return rc;
}

/* Begin a read transaction, adopting a map grown by the writer process. */
int st_txn_begin_read(struct st_log *log, MDB_txn **txn)
{
    int rc;

    for (int tries = 0;; tries++) {
        rc = st_mdb_rc(mdb_txn_begin(log->env, NULL, MDB_RDONLY, txn));
        if (rc != MDB_MAP_RESIZED)
            return rc;
        rc = st_adopt_map_size(log, tries);
        if (rc != 0)
            return rc;
    }
}

/*
 * Another process grew the map past ours (MDB_MAP_RESIZED): remap at the
 * size recorded in the environment.  Only safe with no live snapshot in
 * this process (mdb_env_set_mapsize unmaps the file); with one, the caller
 * gets MDB_MAP_RESIZED and must end its other readers first.  Bounded so
 * that a writer growing without pause cannot keep us looping.
 */
int st_adopt_map_size(struct st_log *log, int tries)
{
    int rc;

    if (log->live_snapshots != 0 || tries >= 16)
        return MDB_MAP_RESIZED;
    rc = st_mdb_rc(mdb_env_set_mapsize(log->env, 0));
    if (rc != 0)
        log->broken = rc;
    return rc;
}

/*
 * Open the four databases and check (or, for a new environment, write) the
 * format marker.  A writer creates the databases only in an environment
 * whose main database is empty: one holding anything else belongs to
 * someone else and is left untouched.
 */
static int open_dbs(struct st_log *log, const char *dir, char *err,
                    size_t errlen)
{
    static const char format_key[] = "format";
    MDB_txn *txn = NULL;
    MDB_val k = {sizeof(format_key) - 1, (void *)format_key};
    MDB_val v;
    int rc;

    if (log->readonly)
        rc = st_txn_begin_read(log, &txn);
    else
        rc = st_mdb_rc(mdb_txn_begin(log->env, NULL, 0, &txn));
    if (rc != 0) {
        set_err(err, errlen, "%s: cannot begin a transaction: %s", dir,
                st_strerror(rc));
        return rc;
    }

    rc = st_mdb_rc(mdb_dbi_open(txn, "meta", 0, &log->meta));
    if (rc == MDB_NOTFOUND) {
        MDB_dbi main_dbi;
        MDB_stat st;

        if (log->readonly) {
            set_err(err, errlen,
                    "%s: not a povtrack log (no \"meta\" database)", dir);
            rc = POVTRACK_EFORMAT;
            goto fail;
        }
        rc = st_mdb_rc(mdb_dbi_open(txn, NULL, 0, &main_dbi));
        if (rc == 0)
            rc = st_mdb_rc(mdb_stat(txn, main_dbi, &st));
        if (rc != 0) {
            set_err(err, errlen, "%s: cannot read the environment: %s", dir,
                    st_strerror(rc));
            goto fail;
        }
        if (st.ms_entries != 0) {
            set_err(err, errlen,
                    "%s: not a povtrack log (an LMDB environment holding other "
                    "data)",
                    dir);
            rc = POVTRACK_EFORMAT;
            goto fail;
        }
        /* A new environment: create everything in this one transaction so
         * that a reader sees either no log or a complete one. */
        rc = st_mdb_rc(mdb_dbi_open(txn, "meta", MDB_CREATE, &log->meta));
        if (rc == 0)
            rc = st_mdb_rc(
                mdb_dbi_open(txn, "events", MDB_CREATE, &log->events));
        if (rc == 0)
            rc = st_mdb_rc(mdb_dbi_open(txn, "ids", MDB_CREATE, &log->ids));
        if (rc == 0)
            rc = st_mdb_rc(mdb_dbi_open(txn, "units", MDB_CREATE, &log->units));
        if (rc == 0)
            rc = st_mdb_rc(
                mdb_dbi_open(txn, "unitseq", MDB_CREATE, &log->unitseq));
        if (rc == 0)
            rc = st_mdb_rc(
                mdb_dbi_open(txn, "amends", MDB_CREATE, &log->amends));
        if (rc == 0)
            rc = st_origin_dbs_open(log, txn);
        if (rc == 0) {
            v.mv_size = sizeof(ST_FORMAT) - 1;
            v.mv_data = (void *)ST_FORMAT;
            rc = st_mdb_rc(mdb_put(txn, log->meta, &k, &v, MDB_NOOVERWRITE));
        }
        if (rc != 0) {
            set_err(err, errlen, "%s: cannot create the log: %s", dir,
                    st_strerror(rc));
            goto fail;
        }
    } else if (rc == MDB_INCOMPATIBLE) {
        /* "meta" exists as a plain key of the main database. */
        set_err(err, errlen,
                "%s: not a povtrack log (\"meta\" is not a database)", dir);
        rc = POVTRACK_EFORMAT;
        goto fail;
    } else if (rc != 0) {
        set_err(err, errlen, "%s: cannot open the \"meta\" database: %s", dir,
                st_strerror(rc));
        goto fail;
    } else {
        rc = st_mdb_rc(mdb_get(txn, log->meta, &k, &v));
        if (rc == MDB_NOTFOUND) {
            set_err(err, errlen, "%s: not a povtrack log (no format marker)",
                    dir);
            rc = POVTRACK_EFORMAT;
            goto fail;
        }
        if (rc != 0) {
            set_err(err, errlen, "%s: cannot read the format marker: %s", dir,
                    st_strerror(rc));
            goto fail;
        }
        if (v.mv_size != sizeof(ST_FORMAT) - 1 ||
            memcmp(v.mv_data, ST_FORMAT, v.mv_size) != 0) {
            char found[64];

            st_printable(found, sizeof(found), v.mv_data, v.mv_size);
            set_err(err, errlen,
                    "%s: format mismatch: the log is \"%s\", this program "
                    "reads \"%s\"",
                    dir, found, ST_FORMAT);
            rc = POVTRACK_EFORMAT;
            goto fail;
        }
        static const char *const names[] = {"events", "ids", "units"};
        MDB_dbi *dbis[] = {&log->events, &log->ids, &log->units};
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
            rc = st_mdb_rc(mdb_dbi_open(txn, names[i], 0, dbis[i]));
            if (rc != 0) {
                set_err(err, errlen, "%s: cannot open the \"%s\" database: %s",
                        dir, names[i],
                        rc == MDB_NOTFOUND ? "missing" : st_strerror(rc));
                if (rc == MDB_NOTFOUND || rc == MDB_INCOMPATIBLE)
                    rc = POVTRACK_EFORMAT;
                goto fail;
            }
        }
        /* "unitseq" and "amends" came later: a writer adds them to an
         * older log, a reader of one reads them as "no unit ever changed",
         * "nothing ever voided or corrected". */
        static const char *const later[] = {"unitseq", "amends"};
        MDB_dbi *ldbis[] = {&log->unitseq, &log->amends};
        for (size_t i = 0; i < sizeof(later) / sizeof(later[0]); i++) {
            rc = st_mdb_rc(mdb_dbi_open(
                txn, later[i], log->readonly ? 0 : MDB_CREATE, ldbis[i]));
            if (rc == MDB_NOTFOUND && log->readonly) {
                *ldbis[i] = 0;
                rc = 0;
            }
            if (rc != 0) {
                set_err(err, errlen, "%s: cannot open the \"%s\" database: %s",
                        dir, later[i], st_strerror(rc));
                goto fail;
            }
        }
        rc = st_origin_dbs_open(log, txn);
        if (rc != 0) {
            set_err(err, errlen,
                    "%s: cannot open the national databases (origins, "
                    "cursors, rejects): %s",
                    dir, st_strerror(rc));
            goto fail;
        }
    }

    /* Committing (even the read-only transaction) is what keeps the
     * database handles open in the environment after the transaction. */
    rc = st_mdb_rc(mdb_txn_commit(txn));
    if (rc != 0)
        set_err(err, errlen, "%s: cannot commit: %s", dir, st_strerror(rc));
    return rc;

fail:
    mdb_txn_abort(txn);
    return rc;
}

int st_log_open(const char *dir, unsigned flags, struct st_log **out, char *err,
                size_t errlen)
{
    return st_log_open_sized(dir, flags, 0, out, err, errlen);
}

/* Append a sentence to what opening the log repaired (st_log_notice). */
static void add_notice(struct st_log *log, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void add_notice(struct st_log *log, const char *fmt, ...)
{
    size_t n = strlen(log->notice);
    va_list ap;

    if (n > 0 && n + 2 < sizeof(log->notice)) {
        strcpy(log->notice + n, "; ");
        n += 2;
    }
    va_start(ap, fmt);
    vsnprintf(log->notice + n, sizeof(log->notice) - n, fmt, ap);
    va_end(ap);
}

/* st_env_create's init: the log's first transaction, as open_dbs writes
 * it into an empty environment. */
static int init_log(void *arg, MDB_env *env, char *err, size_t errlen)
{
    struct st_log fresh = {.env = env};

    return open_dbs(&fresh, arg, err, errlen);
}

/* Create the log in dir, replacing a data.mdb that was never written. */
static int create_log(const char *dir, size_t map_size, char *err,
                      size_t errlen)
{
    char why[PATH_MAX + 256];
    int rc = st_env_create(dir, ST_FILE_MODE, ST_MAX_DBS, map_size, init_log,
                           (void *)dir, why, sizeof why);

    if (rc != 0)
        set_err(err, errlen, "%s", why);
    return rc;
}

/* Create the handle's environment and open dir, which holds a data.mdb:
 * st_env_open_existing's codes.  On failure log->env is closed. */
static int env_open(struct st_log *log, const char *dir, unsigned flags,
                    uint64_t *size)
{
    /* MDB_NOTLS: reader slots belong to our read transactions, not to
     * threads, so one thread may hold several st_readers (and the writer
     * its write transaction beside them).  Durability flags stay at LMDB's
     * defaults: every commit syncs data, then the meta page.  A snapshot
     * (a backup) has no writer to coordinate with, hence no lock file. */
    unsigned env_flags = MDB_NOTLS | (log->readonly ? MDB_RDONLY : 0) |
                         ((flags & ST_OPEN_SNAPSHOT) ? MDB_NOLOCK : 0);
    int rc = st_mdb_rc(mdb_env_create(&log->env));

    if (rc != 0) {
        log->env = NULL;
        return rc;
    }
    rc = st_mdb_rc(mdb_env_set_maxdbs(log->env, ST_MAX_DBS));
    if (rc == 0)
        rc = st_env_open_existing(log->env, dir, env_flags, ST_FILE_MODE, size);
    if (rc != 0) {
        /* Required after a failed mdb_env_open too. */
        mdb_env_close(log->env);
        log->env = NULL;
    }
    return rc;
}

/*
 * A data.mdb that LMDB rejects (empty, or no valid meta page) and is at most
 * ST_UNWRITTEN_MAX bytes long never held an acknowledged event, so a writer
 * may set it aside and create the log anew.  Why:
 *  - an event is acknowledged only once the commit that appended it has
 *    returned, and LMDB's commit fdatasyncs the file, which makes its
 *    length durable, before it writes the meta page;
 *  - the log's first transaction (open_dbs on a new environment) writes
 *    the main database's root and the leaf of "meta", pages 2 and 3 after
 *    LMDB's two meta pages: the file is then four pages long, and a
 *    transaction appending an event adds at least the leaves of "events"
 *    and "ids" (pages freed by a transaction are not reused within it), so
 *    a file that ever held an event is longer than four pages;
 *  - LMDB pages are at least 4096 bytes (the system's page size), and
 *    LMDB never shortens the file (only MDB_WRITEMAP truncates, and the log
 *    does not use it), nor does anything else here.
 * So on disk, after any crash, a file holding an acknowledged event is
 * longer than ST_UNWRITTEN_MAX, whatever its meta pages say.  A longer file
 * without a valid meta page is damage that may hide events: it is refused
 * and left untouched.
 */
static int unwritten(int rc)
{
    return rc == -ENODATA || rc == MDB_INVALID;
}

/* Create the log anew in place of a data.mdb that env_open found
 * unwritten (rc) and no longer than ST_UNWRITTEN_MAX: it holds no event,
 * but unless empty it is kept, set aside, in case it is something else
 * than what an interrupted creation leaves. */
static int replace_unwritten(struct st_log *log, const char *dir, int rc,
                             uint64_t size, size_t map_size, char *err,
                             size_t errlen)
{
    char found[PATH_MAX + 128], path[PATH_MAX], moved[PATH_MAX + 64];
    char why[2 * PATH_MAX];

    st_env_describe(found, sizeof found, dir, rc, size);
    moved[0] = '\0';
    if (size > 0) {
        if (snprintf(path, sizeof path, "%s/data.mdb", dir) >=
            (int)sizeof path) {
            set_err(err, errlen, "%s: path too long", dir);
            return -ENAMETOOLONG;
        }
        rc = st_set_aside(path, moved, sizeof moved, why, sizeof why);
        if (rc != 0) {
            set_err(err, errlen, "%s", why);
            return rc;
        }
    }
    rc = create_log(dir, map_size, err, errlen);
    if (rc == 0)
        add_notice(log,
                   "%s: the log was never written (its creation was cut "
                   "short, so it held no event)%s%s; created it anew",
                   found, moved[0] ? "; moved it to " : "", moved);
    return rc;
}

/* The message for a failed env_open of dir. */
static int open_failed(const char *dir, int rc, uint64_t size, char *err,
                       size_t errlen)
{
    char found[PATH_MAX + 128];

    st_env_describe(found, sizeof found, dir, rc, size);
    if (unwritten(rc) && size <= ST_UNWRITTEN_MAX) {
        set_err(err, errlen,
                "%s: the log was never written (its creation was cut "
                "short), so it holds no event; povtrackd creates it anew "
                "when it starts",
                found);
        return POVTRACK_ENOCOMMIT;
    }
    if (unwritten(rc)) {
        set_err(err, errlen,
                "%s: not an LMDB file, or a damaged log that may hold "
                "acknowledged events (it is too long to be one that was "
                "never written); left as it is.  If this is the data "
                "directory's log, restore it from a backup (povtrack "
                "restore); only if it never acknowledged an event, move %s "
                "aside and start again",
                found, dir);
        return POVTRACK_ENOCOMMIT;
    }
    if (rc == MDB_VERSION_MISMATCH) {
        set_err(err, errlen, "%s: not a povtrack log: %s", dir,
                st_strerror(rc));
        return POVTRACK_EFORMAT;
    }
    if (rc == -ENOLCK)
        set_err(err, errlen, "%s", found);
    else
        set_err(err, errlen, "%s: cannot open the log: %s", dir,
                st_strerror(rc));
    return rc;
}

int st_log_open_sized(const char *dir, unsigned flags, size_t initial_map_size,
                      struct st_log **out, char *err, size_t errlen)
{
    struct st_log *log;
    long page = sysconf(_SC_PAGESIZE);
    size_t map_size = initial_map_size ? initial_map_size : ST_DEFAULT_MAP_SIZE;
    uint64_t size = 0;
    int fresh = 0, dead = 0, rc;

    set_err(err, errlen, "%s", "");
    if (out != NULL)
        *out = NULL;
    if (dir == NULL || out == NULL ||
        (flags & ~(unsigned)(ST_OPEN_READONLY | ST_OPEN_SNAPSHOT)) ||
        ((flags & ST_OPEN_SNAPSHOT) && !(flags & ST_OPEN_READONLY))) {
        set_err(err, errlen, "st_log_open: invalid argument");
        return POVTRACK_EINVAL;
    }
    if (page <= 0)
        page = 4096;
    /* A whole number of pages, as LMDB asks. */
    if (map_size > SIZE_MAX - (size_t)page) {
        set_err(err, errlen, "%s: map size %zu too large", dir, map_size);
        return POVTRACK_EINVAL;
    }
    map_size = (map_size + (size_t)page - 1) / (size_t)page * (size_t)page;
    /* Room for creating the log itself (meta pages, five database roots and
     * the free list), which is not retried on MDB_MAP_FULL. */
    if (map_size < 16 * (size_t)page)
        map_size = 16 * (size_t)page;

    log = calloc(1, sizeof(*log));
    if (log == NULL) {
        set_err(err, errlen, "%s: out of memory", dir);
        return POVTRACK_ENOMEM;
    }
    log->readonly = (flags & ST_OPEN_READONLY) != 0;

    rc = prepare_dir(dir, log->readonly, &fresh, err, errlen);
    if (rc == 0 && !log->readonly) {
        char why[PATH_MAX + 256];

        rc = st_env_remove_leftovers(dir, log->notice, sizeof(log->notice), why,
                                     sizeof why);
        if (rc != 0)
            set_err(err, errlen, "%s", why);
    }
    /* A new log is created whole (st_env.h), at the size asked for; an
     * existing one is grown to it below. */
    if (rc == 0 && fresh)
        rc = create_log(dir, map_size, err, errlen);
    if (rc != 0) {
        free(log);
        return rc;
    }
    rc = env_open(log, dir, flags, &size);
    if (unwritten(rc) && !log->readonly && size <= ST_UNWRITTEN_MAX) {
        rc = replace_unwritten(log, dir, rc, size, map_size, err, errlen);
        if (rc != 0) {
            free(log);
            return rc;
        }
        rc = env_open(log, dir, flags, &size);
    }
    if (rc != 0) {
        rc = open_failed(dir, rc, size, err, errlen);
        free(log);
        return rc;
    }
    /* Slots left by dead readers pin old pages and make the file grow. */
    rc = st_mdb_rc(mdb_reader_check(log->env, &dead));
    if (rc != 0) {
        set_err(err, errlen, "%s: mdb_reader_check: %s", dir, st_strerror(rc));
        goto fail;
    }
    if (!log->readonly) {
        MDB_envinfo info;

        rc = st_mdb_rc(mdb_env_info(log->env, &info));
        if (rc == 0 && info.me_mapsize < map_size)
            rc = st_mdb_rc(mdb_env_set_mapsize(log->env, map_size));
        if (rc != 0) {
            set_err(err, errlen, "%s: cannot set the map size: %s", dir,
                    st_strerror(rc));
            goto fail;
        }
    }
    rc = open_dbs(log, dir, err, errlen);
    if (rc != 0)
        goto fail;

    *out = log;
    return 0;

fail:
    mdb_env_close(log->env);
    free(log);
    return rc;
}

void st_log_close(struct st_log *log)
{
    if (log == NULL)
        return;
    mdb_env_close(log->env);
    free(log);
}

const char *st_log_notice(const struct st_log *log)
{
    return log != NULL ? log->notice : "";
}

int st_log_reader_check(struct st_log *log, int *dead)
{
    int n = 0, rc;

    if (log == NULL)
        return POVTRACK_EINVAL;
    if (log->broken)
        return log->broken;
    rc = st_mdb_rc(mdb_reader_check(log->env, &n));
    if (dead != NULL)
        *dead = rc == 0 ? n : 0;
    return rc;
}

size_t st_log_map_size(const struct st_log *log)
{
    MDB_envinfo info;

    if (log == NULL || log->broken ||
        st_mdb_rc(mdb_env_info(log->env, &info)) != 0)
        return 0;
    return info.me_mapsize;
}

int st_log_copy(struct st_log *log, const char *dir, char *err, size_t errlen)
{
    struct stat sb;
    char *path;
    size_t plen;
    int rc;

    set_err(err, errlen, "%s", "");
    if (log == NULL || dir == NULL) {
        set_err(err, errlen, "st_log_copy: invalid argument");
        return POVTRACK_EINVAL;
    }
    if (log->broken) {
        set_err(err, errlen, "%s: the log handle is unusable: %s", dir,
                st_strerror(log->broken));
        return log->broken;
    }
    plen = strlen(dir) + sizeof("/data.mdb");
    path = malloc(plen);
    if (path == NULL) {
        set_err(err, errlen, "%s: out of memory", dir);
        return POVTRACK_ENOMEM;
    }
    snprintf(path, plen, "%s/data.mdb", dir);
    /* Checked first so that the clean-up below only ever removes a file
     * this call created. */
    if (lstat(path, &sb) == 0) {
        set_err(err, errlen, "%s: already exists", path);
        free(path);
        return -EEXIST;
    }
    for (int tries = 0;; tries++) {
        rc = st_mdb_rc(mdb_env_copy2(log->env, dir, MDB_CP_COMPACT));
        if (rc != MDB_MAP_RESIZED)
            break;
        /* The writer grew the map past ours, so the copy's read transaction
         * could not begin; mdb_env_copy2 has created the (empty) file
         * already.  Adopt the new size and start again. */
        unlink(path);
        rc = st_adopt_map_size(log, tries);
        if (rc != 0)
            break;
    }
    if (rc != 0) {
        set_err(err, errlen, "%s: cannot copy the log: %s", dir,
                st_strerror(rc));
        unlink(path);
    }
    free(path);
    return rc;
}
