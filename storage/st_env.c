/*
 * st_env.c - creating LMDB environments so that a power cut leaves none or a
 * valid one, and syncing directories; see st_env.h.
 */
#include "st_env.h"
#include "st_log.h" /* st_strerror */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TEMP_PREFIX ST_ENV_DATA_FILE ST_ENV_TEMP_INFIX

int st_dir_sync(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = 0;

    if (fd < 0)
        return -errno;
    if (fsync(fd) != 0) {
        rc = -errno;
        /* Some file systems (network ones among them) cannot sync a
         * directory and say so with EINVAL: there is nothing more to do
         * there, as SQLite concludes too. */
        if (rc == -EINVAL || rc == -ENOTSUP)
            rc = 0;
    }
    close(fd);
    return rc;
}

/* The directory holding path: "." for a bare name, "/" for "/x". */
static int parent_of(const char *path, char *out, size_t outlen)
{
    size_t n = strlen(path);

    while (n > 1 && path[n - 1] == '/')
        n--;
    while (n > 0 && path[n - 1] != '/')
        n--;
    while (n > 1 && path[n - 1] == '/')
        n--;
    if (n == 0)
        return snprintf(out, outlen, ".") >= (int)outlen ? -ENAMETOOLONG : 0;
    if (n >= outlen)
        return -ENAMETOOLONG;
    memcpy(out, path, n);
    out[n] = '\0';
    return 0;
}

int st_set_aside(const char *path, char *moved, size_t movedlen, char *err,
                 size_t errlen)
{
    char parent[PATH_MAX], stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    int rc = -ENAMETOOLONG;

    if (gmtime_r(&now, &tm) == NULL ||
        strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm) == 0) {
        snprintf(err, errlen, "%s: cannot tell the time to name its copy",
                 path);
        return -EINVAL;
    }
    /* Never onto an earlier one: rename() would replace an empty
     * directory, or any file, of that name. */
    for (int n = 1; n < 100; n++) {
        int len =
            n == 1 ? snprintf(moved, movedlen, "%s" ST_SET_ASIDE_INFIX "%s",
                              path, stamp)
                   : snprintf(moved, movedlen, "%s" ST_SET_ASIDE_INFIX "%s-%d",
                              path, stamp, n);
        struct stat sb;

        if (len < 0 || (size_t)len >= movedlen) {
            rc = -ENAMETOOLONG;
            break;
        }
        if (lstat(moved, &sb) == 0) {
            rc = -EEXIST;
            continue;
        }
        rc = rename(path, moved) == 0 ? 0 : -errno;
        break;
    }
    if (rc == 0)
        rc = parent_of(path, parent, sizeof parent);
    if (rc == 0)
        rc = st_dir_sync(parent);
    if (rc != 0)
        snprintf(err, errlen, "%s: cannot move it aside: %s", path,
                 povtrack_strerror(rc));
    return rc;
}

int st_dir_make(const char *dir, mode_t mode, int *created, char *err,
                size_t errlen)
{
    char parent[PATH_MAX];
    struct stat sb;
    int rc;

    if (created != NULL)
        *created = 0;
    if (stat(dir, &sb) == 0) {
        if (S_ISDIR(sb.st_mode))
            return 0;
        snprintf(err, errlen, "%s: not a directory", dir);
        return -ENOTDIR;
    }
    rc = -errno;
    if (rc != POVTRACK_ENOENT) {
        snprintf(err, errlen, "%s: %s", dir, povtrack_strerror(rc));
        return rc;
    }
    if (mkdir(dir, mode) != 0) {
        rc = -errno;
        /* Made meanwhile by someone else: theirs to sync. */
        if (rc == -EEXIST && stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode))
            return 0;
        snprintf(err, errlen, "%s: cannot create the directory: %s", dir,
                 povtrack_strerror(rc));
        return rc;
    }
    if (created != NULL)
        *created = 1;
    rc = parent_of(dir, parent, sizeof parent);
    if (rc == 0)
        rc = st_dir_sync(parent);
    if (rc != 0)
        snprintf(err, errlen, "%s: cannot sync the directory holding it: %s",
                 dir, povtrack_strerror(rc));
    return rc;
}

int st_env_is_leftover(const char *name)
{
    return strncmp(name, TEMP_PREFIX, sizeof(TEMP_PREFIX) - 1) == 0;
}

int st_dir_each(const char *dir, st_dir_fn fn, void *arg, char *err,
                size_t errlen)
{
    DIR *d = opendir(dir);
    int rc = 0;

    if (d == NULL) {
        rc = -errno;
        snprintf(err, errlen, "%s: %s", dir, povtrack_strerror(rc));
        return rc;
    }
    for (;;) {
        struct dirent *de;

        errno = 0;
        de = readdir(d);
        if (de == NULL) {
            rc = -errno;
            if (rc != 0)
                snprintf(err, errlen, "%s: %s", dir, povtrack_strerror(rc));
            break;
        }
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        rc = fn(arg, dirfd(d), de->d_name);
        if (rc != 0)
            break;
    }
    closedir(d);
    return rc;
}

/* What st_env_remove_leftovers has done so far. */
struct leftovers {
    int removed;
    char first[NAME_MAX + 1];
    int failed; /* -errno of the unlink that failed */
};

static int remove_leftover(void *arg, int dirfd, const char *name)
{
    struct leftovers *l = arg;

    if (!st_env_is_leftover(name))
        return 0;
    if (unlinkat(dirfd, name, 0) != 0 && errno != ENOENT) {
        l->failed = -errno;
        snprintf(l->first, sizeof l->first, "%s", name);
        return l->failed;
    }
    if (l->removed++ == 0)
        snprintf(l->first, sizeof l->first, "%s", name);
    return 0;
}

int st_env_remove_leftovers(const char *dir, char *note, size_t notelen,
                            char *err, size_t errlen)
{
    struct leftovers l = {0, "", 0};
    int rc = st_dir_each(dir, remove_leftover, &l, err, errlen);

    if (notelen > 0)
        note[0] = '\0';
    if (rc != 0 && l.failed == rc)
        snprintf(err, errlen, "%s/%s: cannot remove it: %s", dir, l.first,
                 povtrack_strerror(rc));
    else if (rc == 0 && l.removed > 0)
        snprintf(note, notelen,
                 "removed %s/%s%s, left by the creation of an environment "
                 "that a crash cut short",
                 dir, l.first, l.removed > 1 ? " and other such files" : "");
    return rc;
}

int st_env_create(const char *dir, mode_t mode, unsigned maxdbs,
                  size_t map_size, st_env_init_fn init, void *arg, char *err,
                  size_t errlen)
{
    char temp[PATH_MAX], final[PATH_MAX];
    MDB_env *env = NULL;
    int fd, rc;

    if (snprintf(temp, sizeof temp, "%s/" TEMP_PREFIX "%ld", dir,
                 (long)getpid()) >= (int)sizeof temp ||
        snprintf(final, sizeof final, "%s/" ST_ENV_DATA_FILE, dir) >=
            (int)sizeof final) {
        snprintf(err, errlen, "%s: path too long", dir);
        return -ENAMETOOLONG;
    }
    /* A file of an earlier process that had our pid: LMDB would take it
     * for an environment. */
    if (unlink(temp) != 0 && errno != ENOENT) {
        rc = -errno;
        snprintf(err, errlen, "%s: cannot remove it: %s", temp,
                 povtrack_strerror(rc));
        return rc;
    }
    rc = st_mdb_rc(mdb_env_create(&env));
    if (rc != 0) {
        snprintf(err, errlen, "%s: mdb_env_create: %s", dir, st_strerror(rc));
        return rc;
    }
    if (maxdbs > 0)
        rc = mdb_env_set_maxdbs(env, maxdbs);
    if (rc == 0 && map_size > 0)
        rc = mdb_env_set_mapsize(env, map_size);
    /* The file alone (MDB_NOSUBDIR), and no lock file: no other process
     * knows the name. */
    if (rc == 0)
        rc = mdb_env_open(env, temp, MDB_NOSUBDIR | MDB_NOLOCK, mode);
    rc = st_mdb_rc(rc);
    if (rc != 0)
        snprintf(err, errlen, "%s: cannot create the environment: %s", temp,
                 st_strerror(rc));
    if (rc == 0 && init != NULL)
        rc = init(arg, env, err, errlen);
    /* LMDB wrote the meta pages of a new environment without syncing them;
     * init's commits synced, but an environment without one is synced
     * only here. */
    if (rc == 0) {
        rc = st_mdb_rc(mdb_env_get_fd(env, &fd));
        if (rc == 0 && fsync(fd) != 0)
            rc = -errno;
        if (rc != 0)
            snprintf(err, errlen, "%s: cannot sync it: %s", temp,
                     st_strerror(rc));
    }
    mdb_env_close(env);
    if (rc == 0 && rename(temp, final) != 0) {
        rc = -errno;
        snprintf(err, errlen, "%s: cannot rename it to %s: %s", temp,
                 ST_ENV_DATA_FILE, povtrack_strerror(rc));
    }
    if (rc != 0) {
        unlink(temp);
        return rc;
    }
    rc = st_dir_sync(dir);
    if (rc != 0)
        snprintf(err, errlen, "%s: cannot sync the directory: %s", dir,
                 povtrack_strerror(rc));
    return rc;
}

/* Open the data file at path alone, read-only and without a lock file,
 * only to see whether LMDB accepts its meta pages. */
static int data_file_check(const char *path)
{
    MDB_env *env;
    int rc = mdb_env_create(&env);

    if (rc != 0)
        return st_mdb_rc(rc);
    rc = mdb_env_open(env, path, MDB_NOSUBDIR | MDB_RDONLY | MDB_NOLOCK, 0);
    mdb_env_close(env);
    return st_mdb_rc(rc);
}

int st_env_open_existing(MDB_env *env, const char *dir, unsigned flags,
                         mode_t mode, uint64_t *size)
{
    char path[PATH_MAX];
    struct stat sb;
    int rc;

    *size = 0;
    if (snprintf(path, sizeof path, "%s/" ST_ENV_DATA_FILE, dir) >=
        (int)sizeof path)
        return -ENAMETOOLONG;
    if (stat(path, &sb) != 0)
        return -errno;
    *size = (uint64_t)sb.st_size;
    if (sb.st_size == 0)
        return -ENODATA;
    rc = st_mdb_rc(mdb_env_open(env, dir, flags, mode));
    /* LMDB says MDB_INVALID of a lock file it does not recognise too:
     * only the data file's own verdict may condemn the data file. */
    if (rc == MDB_INVALID && data_file_check(path) == 0)
        rc = -ENOLCK;
    return rc;
}

void st_env_describe(char *buf, size_t buflen, const char *dir, int rc,
                     uint64_t size)
{
    if (rc == -ENODATA)
        snprintf(buf, buflen, "%s/" ST_ENV_DATA_FILE " is empty (0 bytes)",
                 dir);
    else if (rc == MDB_INVALID)
        snprintf(buf, buflen,
                 "%s/" ST_ENV_DATA_FILE " has no valid LMDB meta page (%" PRIu64
                 " bytes)",
                 dir, size);
    else if (rc == -ENOLCK)
        snprintf(buf, buflen,
                 "%s/lock.mdb is not an LMDB lock file (LMDB rejects it, "
                 "while data.mdb is valid)",
                 dir);
    else
        snprintf(buf, buflen, "%s/" ST_ENV_DATA_FILE ": %s", dir,
                 st_strerror(rc));
}
