/*
 * tl_backup.c - online backup and restore of a data directory; see
 * tl_backup.h.
 */
#include "tl_backup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pt_state.h"
#include "st_log.h"
#include "tl_fmt.h"

#ifndef POVTRACK_VERSION
#define POVTRACK_VERSION "0.0.0"
#endif

#define MSG_MAX 512
/* A backup in the making is the operator's alone (it holds personal data);
 * the finished backup keeps this mode. */
#define PRIVATE_DIR_MODE 0700
/* What povtrackd creates a data directory and its lock file with; the
 * restored log and state directories get the directory's mode too. */
#define DATA_DIR_MODE 0750
#define LOCK_FILE_MODE 0640

/* Files a copy directory may hold, and its subdirectories: the clean-up
 * removes these and nothing else. */
static const char *const copy_files[] = {
    "manifest", PT_DATA_LOG_SUBDIR "/data.mdb", PT_DATA_LOG_SUBDIR "/lock.mdb",
    PT_DATA_STATE_SUBDIR "/data.mdb", PT_DATA_STATE_SUBDIR "/lock.mdb"};
static const char *const copy_dirs[] = {PT_DATA_LOG_SUBDIR,
                                        PT_DATA_STATE_SUBDIR};

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One progress line, "povtrack CMD: ...", when progress is wanted. */
static void note(FILE *f, const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void note(FILE *f, const char *cmd, const char *fmt, ...)
{
    va_list ap;

    if (f == NULL)
        return;
    fprintf(f, "povtrack %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fputc('\n', f);
    fflush(f);
}

/* "12.5 MiB" into buf (>= 32 bytes). */
static const char *fmt_bytes(uint64_t n, char *buf)
{
    if (n < 1024)
        snprintf(buf, 32, "%" PRIu64 " B", n);
    else if (n < (uint64_t)1 << 20)
        snprintf(buf, 32, "%.1f KiB", (double)n / 1024);
    else if (n < (uint64_t)1 << 30)
        snprintf(buf, 32, "%.1f MiB", (double)n / (1 << 20));
    else
        snprintf(buf, 32, "%.2f GiB", (double)n / (1 << 30));
    return buf;
}

static int path_join(char *buf, size_t len, const char *a, const char *b,
                     struct tl_error *err)
{
    if (snprintf(buf, len, "%s/%s", a, b) >= (int)len)
        return tl_fail(err, POVTRACK_EINVALID, "%s/%s: path too long", a, b);
    return 0;
}

static uint64_t file_size(const char *dir)
{
    char path[PATH_MAX];
    struct stat sb;

    if (snprintf(path, sizeof(path), "%s/data.mdb", dir) >= (int)sizeof(path) ||
        stat(path, &sb) != 0)
        return 0;
    return (uint64_t)sb.st_size;
}

/* fsync a file or directory by name. */
static int sync_path(const char *path, struct tl_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return tl_fail(err, POVTRACK_EIO, "%s: cannot open to sync: %s", path,
                       strerror(errno));
    if (fsync(fd) != 0) {
        int e = errno;

        close(fd);
        return tl_fail(err, POVTRACK_EIO, "%s: fsync: %s", path, strerror(e));
    }
    close(fd);
    return 0;
}

/* Sync the copies in dir (data files first, then the directories that name
 * them), so that what is renamed into place afterwards is on disk. */
static int sync_copy(const char *dir, bool has_state, struct tl_error *err)
{
    const char *const subs[] = {PT_DATA_LOG_SUBDIR, PT_DATA_STATE_SUBDIR};
    char path[PATH_MAX];
    int rc = 0;

    for (size_t i = 0; rc == 0 && i < (has_state ? 2u : 1u); i++) {
        if (snprintf(path, sizeof(path), "%s/%s/data.mdb", dir, subs[i]) >=
            (int)sizeof(path))
            return tl_fail(err, POVTRACK_EINVALID, "%s: path too long", dir);
        rc = sync_path(path, err);
        if (rc == 0)
            rc = path_join(path, sizeof(path), dir, subs[i], err);
        if (rc == 0)
            rc = sync_path(path, err);
    }
    return rc == 0 ? sync_path(dir, err) : rc;
}

/* The directory that holds path's last component. */
static void parent_of(const char *path, char *buf, size_t len)
{
    const char *slash = strrchr(path, '/');

    if (slash == NULL)
        snprintf(buf, len, ".");
    else if (slash == path)
        snprintf(buf, len, "/");
    else
        snprintf(buf, len, "%.*s", (int)(slash - path), path);
}

/* Whether dir holds nothing but the nexcept names of except; *other gets
 * the name of one other entry.  Returns 0 or a negated errno value. */
static int dir_empty(const char *dir, const char *const *except, size_t nexcept,
                     bool *empty, char *other, size_t otherlen)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int rc = 0;

    *empty = true;
    if (d == NULL)
        return -errno;
    for (;;) {
        errno = 0;
        de = readdir(d);
        if (de == NULL) {
            rc = -errno;
            break;
        }
        bool skip =
            strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0;

        for (size_t i = 0; !skip && i < nexcept; i++)
            skip = strcmp(de->d_name, except[i]) == 0;
        if (skip)
            continue;
        *empty = false;
        snprintf(other, otherlen, "%s", de->d_name);
        break;
    }
    closedir(d);
    return rc;
}

/* Remove a copy directory this module made, and only what it writes there:
 * anything unexpected stays, and the directory with it. */
static void remove_copy(const char *dir, FILE *progress, const char *cmd)
{
    char path[PATH_MAX];

    for (size_t i = 0; i < sizeof(copy_files) / sizeof(copy_files[0]); i++)
        if (snprintf(path, sizeof(path), "%s/%s", dir, copy_files[i]) <
            (int)sizeof(path))
            unlink(path);
    for (size_t i = 0; i < sizeof(copy_dirs) / sizeof(copy_dirs[0]); i++)
        if (snprintf(path, sizeof(path), "%s/%s", dir, copy_dirs[i]) <
            (int)sizeof(path))
            rmdir(path);
    if (rmdir(dir) != 0 && errno != ENOENT)
        note(progress, cmd, "could not remove %s: %s", dir, strerror(errno));
}

/* Make the subdirectories of a fresh copy directory. */
/* dest (a backup's, as the user named it) could not be made, errno e.
 * Named as given, not as the temporary directory beside it; a missing
 * parent, the usual cause, is said in words: backup makes dest, not the
 * directories above it. */
static int cannot_create(const char *dest, int e, int rc, struct tl_error *err)
{
    char parent[PATH_MAX];
    size_t n;

    if (e != ENOENT)
        return tl_fail(err, rc, "%s: cannot create: %s", dest, strerror(e));
    snprintf(parent, sizeof(parent), "%s", dest);
    n = strlen(parent);
    while (n > 1 && parent[n - 1] == '/')
        parent[--n] = '\0';
    char *slash = strrchr(parent, '/');
    if (slash == parent)
        slash[1] = '\0';
    else if (slash != NULL)
        *slash = '\0';
    else
        snprintf(parent, sizeof(parent), ".");
    return tl_fail(err, rc,
                   "%s: cannot create: the directory %s does not exist "
                   "(create it first)",
                   dest, parent);
}

static int make_subdirs(const char *dir, bool has_state, unsigned mode,
                        struct tl_error *err)
{
    char path[PATH_MAX];
    int rc = path_join(path, sizeof(path), dir, PT_DATA_LOG_SUBDIR, err);

    if (rc == 0 && mkdir(path, mode) != 0)
        rc = tl_fail(err, POVTRACK_EIO, "%s: cannot create: %s", path,
                     strerror(errno));
    if (rc == 0 && has_state)
        rc = path_join(path, sizeof(path), dir, PT_DATA_STATE_SUBDIR, err);
    if (rc == 0 && has_state && mkdir(path, mode) != 0)
        rc = tl_fail(err, POVTRACK_EIO, "%s: cannot create: %s", path,
                     strerror(errno));
    return rc;
}

/* ---- checking copies ---- */

static int last_seq_of(struct st_log *log, const char *dir, uint64_t *seq,
                       int rc_bad, struct tl_error *err)
{
    struct st_reader *r;
    int rc = st_reader_begin(log, &r);

    if (rc == 0) {
        rc = st_reader_last_seq(r, seq);
        st_reader_end(r);
    }
    if (rc != 0)
        return tl_fail(err, rc_bad, "%s: cannot read the log: %s", dir,
                       st_strerror(rc));
    return 0;
}

/* Every cursor of state must be a sequence no later than last_seq: a state
 * ahead of its log would count events the log does not have. */
static int check_cursors(MDB_env *state, const char *dir, uint64_t last_seq,
                         struct tl_backup_summary *sum, int rc_bad,
                         struct tl_error *err)
{
    struct pt_state_cursors c;
    char msg[MSG_MAX];
    size_t bad;
    int rc = pt_state_read_cursors(state, &c, msg, sizeof(msg));

    if (rc != 0)
        return tl_fail(err, rc == POVTRACK_ENOMEM ? rc : rc_bad, "%s", msg);
    bad = pt_state_cursors_check(&c, last_seq, &sum->min_cursor, msg,
                                 sizeof(msg));
    sum->plugins = c.n;
    pt_state_cursors_free(&c);
    if (bad != 0)
        return tl_fail(err, rc_bad,
                       "%s: %zu plugin cursor(s) ahead of the log, which ends "
                       "at seq %" PRIu64 " (%s)",
                       dir, bad, last_seq, msg);
    return 0;
}

/* Open the copies in dir (as a backup: no lock files) and check them: the
 * log opens and gives the last sequence, the state opens and no cursor is
 * ahead of it. */
static int check_copy(const char *dir, bool has_state,
                      struct tl_backup_summary *sum, int rc_bad,
                      struct tl_error *err)
{
    char path[PATH_MAX], msg[MSG_MAX];
    struct st_log *log = NULL;
    MDB_env *state = NULL;
    int rc = path_join(path, sizeof(path), dir, PT_DATA_LOG_SUBDIR, err);

    if (rc == 0 && st_log_open(path, ST_OPEN_READONLY | ST_OPEN_SNAPSHOT, &log,
                               msg, sizeof(msg)) != 0)
        rc = tl_fail(err, rc_bad, "the log copy does not open: %s", msg);
    if (rc == 0)
        rc = last_seq_of(log, path, &sum->last_seq, rc_bad, err);
    st_log_close(log);
    if (rc != 0 || !has_state)
        return rc;
    rc = path_join(path, sizeof(path), dir, PT_DATA_STATE_SUBDIR, err);
    if (rc == 0 && pt_state_open_readonly(path, PT_STATE_SNAPSHOT, &state, msg,
                                          sizeof(msg)) != 0)
        rc = tl_fail(err, rc_bad, "the state copy does not open: %s", msg);
    if (rc == 0)
        rc = check_cursors(state, path, sum->last_seq, sum, rc_bad, err);
    if (state != NULL)
        mdb_env_close(state);
    return rc;
}

/* ---- the manifest ---- */

/* Print s with control characters replaced, so that one value stays on
 * one line. */
static void put_value(FILE *f, const char *s)
{
    for (; *s != '\0'; s++)
        fputc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, f);
}

static int write_manifest(const char *dir, const char *data_dir,
                          const char *created,
                          const struct tl_backup_summary *sum,
                          struct tl_error *err)
{
    char path[PATH_MAX];
    FILE *f;
    int fd, rc = path_join(path, sizeof(path), dir, "manifest", err);

    if (rc != 0)
        return rc;
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    f = fd < 0 ? NULL : fdopen(fd, "w");
    if (f == NULL) {
        rc = tl_fail(err, POVTRACK_EIO, "%s: cannot create: %s", path,
                     strerror(errno));
        if (fd >= 0)
            close(fd);
        return rc;
    }
    fprintf(f, "%s\nversion %s\ncreated %s\ndata_dir ", TL_BACKUP_FORMAT,
            POVTRACK_VERSION, created);
    put_value(f, data_dir);
    fprintf(f,
            "\nlast_seq %" PRIu64 "\nstate %s\nlog_bytes %" PRIu64
            "\nstate_bytes %" PRIu64 "\n",
            sum->last_seq, sum->has_state ? "yes" : "no", sum->log_bytes,
            sum->state_bytes);
    if (fflush(f) != 0 || ferror(f) || fsync(fileno(f)) != 0)
        rc = tl_fail(err, POVTRACK_EIO, "%s: cannot write: %s", path,
                     strerror(errno));
    if (fclose(f) != 0 && rc == 0)
        rc = tl_fail(err, POVTRACK_EIO, "%s: cannot write: %s", path,
                     strerror(errno));
    return rc;
}

struct manifest {
    uint64_t last_seq;
    bool has_state;
    char version[32];
    char created[TL_FMT_TIME_MAX];
};

static void chomp(char *s)
{
    s[strcspn(s, "\r\n")] = '\0';
}

static int read_manifest(const char *backup, struct manifest *m,
                         struct tl_error *err)
{
    char path[PATH_MAX], line[PATH_MAX + 64];
    bool have_seq = false, have_state = false;
    FILE *f;
    int rc = path_join(path, sizeof(path), backup, "manifest", err);

    memset(m, 0, sizeof(*m));
    snprintf(m->version, sizeof(m->version), "?");
    snprintf(m->created, sizeof(m->created), "?");
    if (rc != 0)
        return rc;
    f = fopen(path, "r");
    if (f == NULL)
        return tl_fail(err, POVTRACK_ESOURCE,
                       "%s: %s (is %s a povtrack backup?)", path,
                       strerror(errno), backup);
    if (fgets(line, sizeof(line), f) == NULL ||
        (chomp(line), strcmp(line, TL_BACKUP_FORMAT) != 0)) {
        fclose(f);
        return tl_fail(err, POVTRACK_ESOURCE,
                       "%s: not a povtrack backup manifest (the first line "
                       "should be \"%s\")",
                       path, TL_BACKUP_FORMAT);
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        char *value = strchr(line, ' '), *end;

        chomp(line);
        if (value == NULL)
            continue;
        *value++ = '\0';
        if (strcmp(line, "last_seq") == 0) {
            errno = 0;
            m->last_seq = strtoull(value, &end, 10);
            have_seq =
                errno == 0 && end != value && *end == '\0' && value[0] != '-';
        } else if (strcmp(line, "state") == 0) {
            have_state = strcmp(value, "yes") == 0 || strcmp(value, "no") == 0;
            m->has_state = strcmp(value, "yes") == 0;
        } else if (strcmp(line, "version") == 0) {
            snprintf(m->version, sizeof(m->version), "%s", value);
        } else if (strcmp(line, "created") == 0) {
            snprintf(m->created, sizeof(m->created), "%s", value);
        }
    }
    rc = ferror(f) ? errno : 0;
    fclose(f);
    if (rc != 0)
        return tl_fail(err, POVTRACK_ESOURCE, "%s: %s", path, strerror(rc));
    if (!have_seq || !have_state)
        return tl_fail(err, POVTRACK_ESOURCE,
                       "%s: incomplete manifest (no valid \"%s\" line)", path,
                       have_seq ? "state" : "last_seq");
    return 0;
}

/* ---- backup ---- */

/* dest without trailing slashes, which must not exist or be an empty
 * directory (a real one: renaming onto a symbolic link would replace the
 * link, not fill its target). */
static int check_dest(const char *arg, char *dest, size_t len,
                      struct tl_error *err)
{
    struct stat sb;
    char other[256];
    bool empty;
    size_t n;
    int rc;

    if (snprintf(dest, len, "%s", arg) >= (int)len)
        return tl_fail(err, POVTRACK_EINVALID, "%s: path too long", arg);
    n = strlen(dest);
    while (n > 1 && dest[n - 1] == '/')
        dest[--n] = '\0';
    if (strcmp(dest, "/") == 0 || strcmp(dest, ".") == 0 ||
        strcmp(dest, "..") == 0)
        return tl_fail(err, POVTRACK_EINVALID,
                       "%s: give a new directory to write to", arg);
    if (lstat(dest, &sb) != 0) {
        if (errno == ENOENT)
            return 0;
        return tl_fail(err, POVTRACK_EINVALID, "%s: %s", dest, strerror(errno));
    }
    if (!S_ISDIR(sb.st_mode))
        return tl_fail(err, POVTRACK_EINVALID,
                       "%s exists and is not a directory", dest);
    rc = dir_empty(dest, NULL, 0, &empty, other, sizeof(other));
    if (rc != 0)
        return tl_fail(err, rc, "%s: %s", dest, povtrack_strerror(rc));
    if (!empty)
        return tl_fail(err, POVTRACK_EINVALID,
                       "%s is not empty (it holds \"%s\"); give a new or empty "
                       "directory",
                       dest, other);
    return 0;
}

/* Open the data directory's two environments read-only.  A missing state
 * (the plugin host never ran) is not an error: *state stays NULL. */
static int open_sources(const char *data_dir, struct st_log **log,
                        MDB_env **state, FILE *progress, struct tl_error *err)
{
    char path[PATH_MAX], msg[MSG_MAX];
    int rc = path_join(path, sizeof(path), data_dir, PT_DATA_LOG_SUBDIR, err);

    if (rc != 0)
        return rc;
    if (st_log_open(path, ST_OPEN_READONLY, log, msg, sizeof(msg)) != 0)
        return tl_fail(err, POVTRACK_ESOURCE, "%s", msg);
    rc = path_join(path, sizeof(path), data_dir, PT_DATA_STATE_SUBDIR, err);
    if (rc != 0)
        return rc;
    rc = pt_state_open_readonly(path, 0, state, msg, sizeof(msg));
    if (rc == POVTRACK_ENOENT) {
        note(progress, "backup",
             "%s holds no plugin state: the backup holds the log alone, and "
             "a daemon restored from it rebuilds the state",
             path);
        return 0;
    }
    if (rc != 0)
        return tl_fail(err, POVTRACK_ESOURCE, "%s", msg);
    return 0;
}

static int copy_sources(struct st_log *log, MDB_env *state, const char *tmp,
                        struct tl_backup_summary *sum, FILE *progress,
                        struct tl_error *err)
{
    char path[PATH_MAX], msg[MSG_MAX], size[32];
    double t;
    int rc = 0;

    /*
     * The state first, then the log.  The plugin host applies only records
     * the log has committed and commits each cursor with the state it
     * describes, so every cursor in the state's snapshot is at most the
     * log's last sequence at the moment that snapshot was taken.  The log's
     * snapshot is taken afterwards and the log only grows, so the log copy
     * holds every record any copied cursor has counted.  The other order
     * could copy a cursor past the end of the copied log: a restored plugin
     * would hold events its log does not.
     */
    if (state != NULL) {
        t = now_s();
        rc = path_join(path, sizeof(path), tmp, PT_DATA_STATE_SUBDIR, err);
        if (rc == 0 && pt_state_copy(state, path, msg, sizeof(msg)) != 0)
            rc = tl_fail(err, POVTRACK_EIO, "%s", msg);
        if (rc != 0)
            return rc;
        sum->state_bytes = file_size(path);
        note(progress, "backup", "plugin state copied: %s in %.2f s",
             fmt_bytes(sum->state_bytes, size), now_s() - t);
    }
    t = now_s();
    rc = path_join(path, sizeof(path), tmp, PT_DATA_LOG_SUBDIR, err);
    if (rc == 0 && st_log_copy(log, path, msg, sizeof(msg)) != 0)
        rc = tl_fail(err, POVTRACK_EIO, "%s", msg);
    if (rc != 0)
        return rc;
    sum->log_bytes = file_size(path);
    note(progress, "backup", "log copied: %s in %.2f s",
         fmt_bytes(sum->log_bytes, size), now_s() - t);
    return 0;
}

int tl_backup(const char *data_dir, const char *dest_arg, FILE *progress,
              struct tl_backup_summary *out, struct tl_error *err)
{
    char dest[PATH_MAX], tmp[PATH_MAX], parent[PATH_MAX];
    char created[TL_FMT_TIME_MAX];
    struct st_log *log = NULL;
    MDB_env *state = NULL;
    bool have_tmp = false;
    double t0 = now_s();
    int rc;

    memset(out, 0, sizeof(*out));
    rc = check_dest(dest_arg, dest, sizeof(dest), err);
    if (rc == 0)
        rc = open_sources(data_dir, &log, &state, progress, err);
    out->has_state = state != NULL;
    /* Beside dest, so that the final rename stays on one file system. */
    if (rc == 0 &&
        snprintf(tmp, sizeof(tmp), "%s.tmp-XXXXXX", dest) >= (int)sizeof(tmp))
        rc = tl_fail(err, POVTRACK_EINVALID, "%s: path too long", dest);
    if (rc == 0 && mkdtemp(tmp) == NULL)
        rc = cannot_create(dest, errno, POVTRACK_EIO, err);
    have_tmp = rc == 0;
    if (rc == 0)
        rc = make_subdirs(tmp, out->has_state, PRIVATE_DIR_MODE, err);
    if (rc == 0) {
        note(progress, "backup", "copying %s into %s", data_dir, tmp);
        tl_fmt_time((int64_t)time(NULL), false, created);
        rc = copy_sources(log, state, tmp, out, progress, err);
    }
    /* The sources are not needed any more; the copies are opened next. */
    st_log_close(log);
    if (state != NULL)
        mdb_env_close(state);
    if (rc == 0)
        rc = check_copy(tmp, out->has_state, out, POVTRACK_EIO, err);
    if (rc == 0)
        rc = write_manifest(tmp, data_dir, created, out, err);
    if (rc == 0)
        rc = sync_copy(tmp, out->has_state, err);
    /* Replaces dest when it is an empty directory; fails if it was filled
     * meanwhile. */
    if (rc == 0 && rename(tmp, dest) != 0)
        rc = tl_fail(err, POVTRACK_EIO, "cannot rename %s to %s: %s", tmp, dest,
                     strerror(errno));
    if (rc == 0) {
        have_tmp = false;
        parent_of(dest, parent, sizeof(parent));
        rc = sync_path(parent, err);
    }
    if (rc != 0 && have_tmp)
        remove_copy(tmp, progress, "backup");
    out->seconds = now_s() - t0;
    return rc;
}

/* ---- restore ---- */

/* The lock files of a data directory: povtrackd's (holding its pid) and
 * its plugin host's, which can outlive a killed povtrackd for a moment. */
static const char *const lock_files[] = {PT_DATA_LOCK_FILE,
                                         PT_DATA_HOST_LOCK_FILE};
#define NLOCKS (sizeof(lock_files) / sizeof(lock_files[0]))

struct dir_lock {
    int fd[NLOCKS];    /* -1: not held */
    bool made[NLOCKS]; /* the file was created here */
    bool created;      /* the data directory was created here */
};

/* Take lock file i of ddir with a non-blocking flock, as the daemon does.
 * A daemon holding it is refused with its pid. */
static int take_lock(const char *ddir, size_t i, struct dir_lock *l,
                     struct tl_error *err)
{
    char path[PATH_MAX], pid[32] = "";
    struct stat sb;
    int rc = path_join(path, sizeof(path), ddir, lock_files[i], err);

    if (rc != 0)
        return rc;
    l->made[i] = lstat(path, &sb) != 0;
    l->fd[i] = open(path, O_RDWR | O_CREAT | O_CLOEXEC, LOCK_FILE_MODE);
    if (l->fd[i] < 0)
        return tl_fail(err, POVTRACK_EIO, "%s: %s", path, strerror(errno));
    if (flock(l->fd[i], LOCK_EX | LOCK_NB) == 0)
        return 0;
    rc = errno;
    if (rc == EWOULDBLOCK && i == 0) {
        ssize_t n = pread(l->fd[i], pid, sizeof(pid) - 1, 0);

        pid[n > 0 ? n : 0] = '\0';
        pid[strcspn(pid, "\r\n")] = '\0';
    }
    close(l->fd[i]);
    l->fd[i] = -1;
    if (rc == EWOULDBLOCK && i == 0)
        return tl_fail(err, POVTRACK_EINVALID,
                       "povtrackd (pid %s) is running on %s: stop it before "
                       "restoring",
                       pid[0] ? pid : "?", ddir);
    if (rc == EWOULDBLOCK)
        return tl_fail(err, POVTRACK_EINVALID,
                       "a povtrackd plugin host still runs on %s (%s is "
                       "locked): stop it before restoring",
                       ddir, path);
    return tl_fail(err, POVTRACK_EIO, "%s: cannot lock: %s", path,
                   strerror(rc));
}

/*
 * Take the data directory's locks (creating it when missing) and keep them
 * in *l: a daemon running there is refused, and one starting during the
 * restore refuses to run.
 */
static int lock_data_dir(const char *ddir, struct dir_lock *l,
                         struct tl_error *err)
{
    struct stat sb;
    int rc = 0;

    if (mkdir(ddir, DATA_DIR_MODE) == 0)
        l->created = true;
    else if (errno != EEXIST)
        return tl_fail(err, POVTRACK_EIO, "%s: cannot create: %s", ddir,
                       strerror(errno));
    if (stat(ddir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return tl_fail(err, POVTRACK_EINVALID, "%s is not a directory", ddir);
    for (size_t i = 0; rc == 0 && i < NLOCKS; i++)
        rc = take_lock(ddir, i, l, err);
    return rc;
}

/* Release the locks; after a failed restore, also remove the lock files
 * and the directory this restore created. */
static void unlock_data_dir(const char *ddir, struct dir_lock *l, bool failed)
{
    char path[PATH_MAX];

    for (size_t i = 0; i < NLOCKS; i++) {
        if (failed && l->made[i] &&
            path_join(path, sizeof(path), ddir, lock_files[i], NULL) == 0)
            unlink(path);
        if (l->fd[i] >= 0)
            close(l->fd[i]); /* the daemon takes it from here */
    }
    if (failed && l->created)
        rmdir(ddir);
}

/* Rename ddir/name to ddir/name.replaced-<stamp>, if it exists. */
static int move_aside(const char *ddir, const char *name, const char *stamp,
                      FILE *progress, struct tl_error *err)
{
    char from[PATH_MAX], to[PATH_MAX];
    struct stat sb;

    if (snprintf(from, sizeof(from), "%s/%s", ddir, name) >=
            (int)sizeof(from) ||
        snprintf(to, sizeof(to), "%s/%s.replaced-%s", ddir, name, stamp) >=
            (int)sizeof(to))
        return tl_fail(err, POVTRACK_EINVALID, "%s: path too long", ddir);
    if (lstat(from, &sb) != 0)
        return 0;
    if (lstat(to, &sb) == 0)
        return tl_fail(err, POVTRACK_EIO, "%s already exists", to);
    if (rename(from, to) != 0)
        return tl_fail(err, POVTRACK_EIO, "cannot rename %s to %s: %s", from,
                       to, strerror(errno));
    note(progress, "restore", "the former %s is kept as %s", from, to);
    return 0;
}

/* Open the backup's environments (as snapshots: a backup has no writer)
 * and check them against its manifest. */
static int open_backup(const char *backup, const struct manifest *m,
                       struct st_log **log, MDB_env **state,
                       struct tl_backup_summary *sum, struct tl_error *err)
{
    char path[PATH_MAX], msg[MSG_MAX];
    uint64_t last = 0;
    int rc = path_join(path, sizeof(path), backup, PT_DATA_LOG_SUBDIR, err);

    if (rc == 0 && st_log_open(path, ST_OPEN_READONLY | ST_OPEN_SNAPSHOT, log,
                               msg, sizeof(msg)) != 0)
        rc = tl_fail(err, POVTRACK_ESOURCE, "%s", msg);
    if (rc == 0)
        rc = last_seq_of(*log, path, &last, POVTRACK_ESOURCE, err);
    if (rc == 0 && last != m->last_seq)
        rc =
            tl_fail(err, POVTRACK_ESOURCE,
                    "%s ends at seq %" PRIu64 " but the manifest says %" PRIu64,
                    path, last, m->last_seq);
    if (rc != 0 || !m->has_state)
        return rc;
    rc = path_join(path, sizeof(path), backup, PT_DATA_STATE_SUBDIR, err);
    if (rc == 0 && pt_state_open_readonly(path, PT_STATE_SNAPSHOT, state, msg,
                                          sizeof(msg)) != 0)
        rc = tl_fail(err, POVTRACK_ESOURCE, "%s", msg);
    if (rc == 0)
        rc = check_cursors(*state, path, last, sum, POVTRACK_ESOURCE, err);
    return rc;
}

/* Copy the opened backup into tmp, synced. */
static int copy_backup(struct st_log *log, MDB_env *state, const char *tmp,
                       struct tl_backup_summary *sum, struct tl_error *err)
{
    char path[PATH_MAX], msg[MSG_MAX];
    int rc = path_join(path, sizeof(path), tmp, PT_DATA_LOG_SUBDIR, err);

    if (rc == 0 && st_log_copy(log, path, msg, sizeof(msg)) != 0)
        rc = tl_fail(err, POVTRACK_EIO, "%s", msg);
    if (rc == 0)
        sum->log_bytes = file_size(path);
    if (rc == 0 && state != NULL) {
        rc = path_join(path, sizeof(path), tmp, PT_DATA_STATE_SUBDIR, err);
        if (rc == 0 && pt_state_copy(state, path, msg, sizeof(msg)) != 0)
            rc = tl_fail(err, POVTRACK_EIO, "%s", msg);
        if (rc == 0)
            sum->state_bytes = file_size(path);
    }
    if (rc == 0)
        rc = sync_copy(tmp, state != NULL, err);
    return rc;
}

/* Put the copies in tmp in place in ddir, moving what is there aside
 * first.  The log goes in before the state: if the state's rename failed,
 * ddir would hold the restored log and no state, which the plugin host
 * rebuilds from that log, never a state that belongs to another log. */
static int install(const char *tmp, const char *ddir, bool has_state,
                   FILE *progress, struct tl_error *err)
{
    const char *const subs[] = {PT_DATA_LOG_SUBDIR, PT_DATA_STATE_SUBDIR};
    char stamp[32], from[PATH_MAX], to[PATH_MAX];
    struct tm tm;
    time_t now = time(NULL);
    int rc = 0;

    gmtime_r(&now, &tm);
    strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
    for (size_t i = 0; rc == 0 && i < 2; i++)
        rc = move_aside(ddir, subs[i], stamp, progress, err);
    for (size_t i = 0; rc == 0 && i < (has_state ? 2u : 1u); i++) {
        rc = path_join(from, sizeof(from), tmp, subs[i], err);
        if (rc == 0)
            rc = path_join(to, sizeof(to), ddir, subs[i], err);
        if (rc == 0 && rename(from, to) != 0)
            rc = tl_fail(err, POVTRACK_EIO, "cannot rename %s to %s: %s", from,
                         to, strerror(errno));
    }
    if (rc == 0)
        rc = sync_path(ddir, err);
    return rc;
}

int tl_restore(const char *backup, const char *data_dir, bool force,
               FILE *progress, struct tl_backup_summary *out,
               struct tl_error *err)
{
    char tmp[PATH_MAX], other[256];
    struct dir_lock lock;
    struct manifest m;
    struct st_log *log = NULL;
    MDB_env *state = NULL;
    bool have_tmp = false, empty;
    double t0 = now_s();
    int rc;

    memset(out, 0, sizeof(*out));
    memset(&lock, 0, sizeof(lock));
    for (size_t i = 0; i < NLOCKS; i++)
        lock.fd[i] = -1;
    rc = read_manifest(backup, &m, err);
    if (rc == 0) {
        note(progress, "restore",
             "backup %s: taken %s by povtrack %s, last seq %" PRIu64 "%s",
             backup, m.created, m.version, m.last_seq,
             m.has_state ? "" : ", no plugin state");
        out->last_seq = m.last_seq;
        out->has_state = m.has_state;
        rc = open_backup(backup, &m, &log, &state, out, err);
    }
    if (rc == 0)
        rc = lock_data_dir(data_dir, &lock, err);
    if (rc == 0) {
        rc = dir_empty(data_dir, lock_files, NLOCKS, &empty, other,
                       sizeof(other));
        if (rc != 0)
            rc = tl_fail(err, rc, "%s: %s", data_dir, povtrack_strerror(rc));
        else if (!empty && !force)
            rc = tl_fail(err, POVTRACK_EINVALID,
                         "%s is not empty (it holds \"%s\"); restore into a "
                         "new directory, or give --force to replace its log "
                         "and state",
                         data_dir, other);
    }
    if (rc == 0 && snprintf(tmp, sizeof(tmp), "%s/.restore-XXXXXX", data_dir) >=
                       (int)sizeof(tmp))
        rc = tl_fail(err, POVTRACK_EINVALID, "%s: path too long", data_dir);
    if (rc == 0 && mkdtemp(tmp) == NULL)
        rc = tl_fail(err, POVTRACK_EIO, "%s: cannot create: %s", tmp,
                     strerror(errno));
    have_tmp = rc == 0;
    /* These become data_dir's log and state directories. */
    if (rc == 0)
        rc = make_subdirs(tmp, m.has_state, DATA_DIR_MODE, err);
    if (rc == 0) {
        note(progress, "restore", "copying into %s", tmp);
        rc = copy_backup(log, state, tmp, out, err);
    }
    st_log_close(log);
    if (state != NULL)
        mdb_env_close(state);
    if (rc == 0)
        rc = install(tmp, data_dir, m.has_state, progress, err);
    if (have_tmp)
        remove_copy(tmp, rc == 0 ? NULL : progress, "restore");
    unlock_data_dir(data_dir, &lock, rc != 0);
    out->seconds = now_s() - t0;
    return rc;
}

void tl_backup_print_summary(FILE *f, const char *cmd, const char *where,
                             const struct tl_backup_summary *s)
{
    char log[32], state[32];

    fprintf(f,
            "povtrack %s: done: %s, last seq %" PRIu64 ", log %s, state %s "
            "(%zu plugin cursors, lowest %" PRIu64 "), %.2f s\n",
            cmd, where, s->last_seq, fmt_bytes(s->log_bytes, log),
            s->has_state ? fmt_bytes(s->state_bytes, state) : "absent",
            s->plugins, s->min_cursor, s->seconds);
}

/* ---- rotated backups (backup --keep) ---- */

#define KEEP_PREFIX "povtrack-"
#define KEEP_STAMP_LEN 16 /* YYYYMMDDTHHMMSSZ */
#define KEEP_SERIAL_MAX 99
#define KEEP_LATEST "latest"

/* Whether name is "povtrack-YYYYMMDDTHHMMSSZ" or that with "-N" (N from 2
 * to KEEP_SERIAL_MAX), the names tl_backup_keep() gives; its serial (1
 * without "-N") into *serial. */
static bool keep_name(const char *name, unsigned *serial)
{
    const char *s = name + strlen(KEEP_PREFIX);

    if (strncmp(name, KEEP_PREFIX, strlen(KEEP_PREFIX)) != 0)
        return false;
    for (int i = 0; i < KEEP_STAMP_LEN; i++) {
        bool want_digit = i != 8 && i != 15;

        if (s[i] == '\0' || (want_digit && (s[i] < '0' || s[i] > '9')) ||
            (i == 8 && s[i] != 'T') || (i == 15 && s[i] != 'Z'))
            return false;
    }
    s += KEEP_STAMP_LEN;
    *serial = 1;
    if (*s == '\0')
        return true;
    if (*s++ != '-' || *s < '1' || *s > '9')
        return false;
    char *end;
    unsigned long n = strtoul(s, &end, 10);
    if (*end != '\0' || n < 2 || n > KEEP_SERIAL_MAX)
        return false;
    *serial = (unsigned)n;
    return true;
}

struct kept {
    char name[64];
    unsigned serial;
};

/* Oldest first: the stamp, then the serial of backups of one second. */
static int kept_order(const void *a, const void *b)
{
    const struct kept *x = a, *y = b;
    int c = strncmp(x->name + strlen(KEEP_PREFIX),
                    y->name + strlen(KEEP_PREFIX), KEEP_STAMP_LEN);

    if (c != 0)
        return c;
    return x->serial < y->serial ? -1 : x->serial > y->serial;
}

/* The backups of dir that rotation may remove: so named, with a manifest
 * (anything else there is the operator's), except the one named fresh.
 * Returns 0 with *list malloc'ed (oldest first), or an error. */
static int list_kept(const char *dir, const char *fresh, struct kept **list,
                     size_t *n, struct tl_error *err)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    size_t cap = 0;
    int rc = 0;

    *list = NULL;
    *n = 0;
    if (d == NULL)
        return tl_fail(err, POVTRACK_EIO, "%s: %s", dir, strerror(errno));
    while (rc == 0) {
        char path[PATH_MAX];
        struct manifest m;
        struct tl_error ignored = {{0}};
        unsigned serial;

        errno = 0;
        if ((de = readdir(d)) == NULL) {
            if (errno != 0)
                rc = tl_fail(err, POVTRACK_EIO, "%s: %s", dir, strerror(errno));
            break;
        }
        if (!keep_name(de->d_name, &serial) ||
            strlen(de->d_name) >= sizeof((*list)->name) ||
            strcmp(de->d_name, fresh) == 0 ||
            path_join(path, sizeof(path), dir, de->d_name, &ignored) != 0 ||
            read_manifest(path, &m, &ignored) != 0)
            continue;
        if (*n == cap) {
            size_t ncap = cap ? 2 * cap : 16;
            struct kept *grown = realloc(*list, ncap * sizeof(**list));

            if (grown == NULL) {
                rc = tl_fail(err, POVTRACK_ENOMEM, "out of memory");
                break;
            }
            *list = grown;
            cap = ncap;
        }
        /* Its length was checked above. */
        memcpy((*list)[*n].name, de->d_name, strlen(de->d_name) + 1);
        (*list)[(*n)++].serial = serial;
    }
    closedir(d);
    if (rc != 0) {
        free(*list);
        *list = NULL;
        *n = 0;
        return rc;
    }
    if (*n > 1)
        qsort(*list, *n, sizeof(**list), kept_order);
    return 0;
}

/* Point dir/latest at name, replacing the old link in one rename. */
static int link_latest(const char *dir, const char *name, struct tl_error *err)
{
    char link[PATH_MAX], tmp[PATH_MAX];
    int rc = path_join(link, sizeof(link), dir, KEEP_LATEST, err);

    if (rc == 0 && snprintf(tmp, sizeof(tmp), "%s.tmp-%ld", link,
                            (long)getpid()) >= (int)sizeof(tmp))
        rc = tl_fail(err, POVTRACK_EINVALID, "%s: path too long", link);
    if (rc != 0)
        return rc;
    unlink(tmp); /* left by a run killed here, with this pid */
    if (symlink(name, tmp) != 0)
        return tl_fail(err, POVTRACK_EIO, "%s: cannot create: %s", tmp,
                       strerror(errno));
    if (rename(tmp, link) != 0) {
        rc = tl_fail(err, POVTRACK_EIO, "cannot rename %s to %s: %s", tmp, link,
                     strerror(errno));
        unlink(tmp);
        return rc;
    }
    return sync_path(dir, err);
}

int tl_backup_keep(const char *data_dir, const char *dir, unsigned keep,
                   FILE *progress, struct tl_backup_summary *out, char *path,
                   size_t pathlen, struct tl_error *err)
{
    char stamp[KEEP_STAMP_LEN + 1], name[64];
    struct kept *old;
    struct tm tm;
    time_t now = time(NULL);
    size_t n;
    int rc;

    memset(out, 0, sizeof(*out));
    if (keep < 1)
        return tl_fail(err, POVTRACK_EINVALID, "--keep: must be at least 1");
    if (mkdir(dir, PRIVATE_DIR_MODE) != 0 && errno != EEXIST)
        return cannot_create(dir, errno, POVTRACK_EINVALID, err);
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
    /* A name of its own, even for a second backup within one second. */
    for (unsigned serial = 1;; serial++) {
        struct stat sb;

        if (serial > KEEP_SERIAL_MAX)
            return tl_fail(err, POVTRACK_EINVALID,
                           "%s: %u backups named %s%s already", dir,
                           KEEP_SERIAL_MAX, KEEP_PREFIX, stamp);
        if (serial == 1)
            snprintf(name, sizeof(name), KEEP_PREFIX "%s", stamp);
        else
            snprintf(name, sizeof(name), KEEP_PREFIX "%s-%u", stamp, serial);
        rc = path_join(path, pathlen, dir, name, err);
        if (rc != 0)
            return rc;
        if (lstat(path, &sb) != 0 && errno == ENOENT)
            break;
    }
    rc = tl_backup(data_dir, path, progress, out, err);
    if (rc == 0)
        rc = link_latest(dir, name, err);
    /* Only once the new backup is complete does an old one go. */
    if (rc != 0)
        return rc;
    rc = list_kept(dir, name, &old, &n, err);
    for (size_t i = 0; rc == 0 && i + (keep - 1) < n; i++) {
        char victim[PATH_MAX];
        struct stat sb;

        rc = path_join(victim, sizeof(victim), dir, old[i].name, err);
        if (rc != 0)
            break;
        remove_copy(victim, progress, "backup");
        if (lstat(victim, &sb) == 0)
            rc = tl_fail(err, POVTRACK_EIO,
                         "the new backup %s is complete, but the old backup "
                         "%s could not be removed (it holds files of its "
                         "own?)",
                         path, victim);
        else
            note(progress, "backup", "removed the old backup %s (--keep %u)",
                 victim, keep);
    }
    free(old);
    return rc;
}
