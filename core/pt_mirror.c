/*
 * pt_mirror.c - the mirror's progress page (pt_mirror.h).
 */
#include "pt_mirror.h"

#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <povtrack/errors.h>

#include "pt_clock.h"
#include "pt_config.h"
#include "pt_state.h"
#include "st_env.h"
#include "st_log.h"

#define PAGE_MAGIC 0x50544d31u /* "PTM1" */
#define PAGE_SIZE_BYTES 4096

/* The mapped file.  Written by one mirror at a time; read by ingest and
 * the plugin host.  Lock-free atomics in shared memory work across
 * processes. */
struct page {
    uint32_t magic;
    _Atomic uint32_t state;
    _Atomic int32_t pid;
    _Atomic uint64_t acked_seq;
    _Atomic int64_t updated_us;
    _Atomic uint64_t gen; /* seqlock over error: odd while it changes */
    char error[PT_MIRROR_ERROR_MAX];
};

_Static_assert(sizeof(struct page) <= PAGE_SIZE_BYTES, "page too large");

struct pt_mirror_page {
    struct page *pg;
};

int pt_mirror_page_open(const char *data_dir, enum pt_mirror_page_mode mode,
                        struct pt_mirror_page **out, char *err, size_t errlen)
{
    return pt_mirror_page_open_file(data_dir, PT_DATA_MIRROR_FILE, mode, out,
                                    err, errlen);
}

int pt_mirror_page_open_file(const char *data_dir, const char *file,
                             enum pt_mirror_page_mode mode,
                             struct pt_mirror_page **out, char *err,
                             size_t errlen)
{
    char path[PATH_MAX];
    *out = NULL;
    if (snprintf(path, sizeof path, "%s/%s", data_dir, file) >=
        (int)sizeof path) {
        snprintf(err, errlen, "%s: path too long", data_dir);
        return POVTRACK_ENAMETOOLONG;
    }
    int flags = mode == PT_MIRROR_PAGE_READ ? O_RDONLY : O_RDWR;
    if (mode == PT_MIRROR_PAGE_RESET)
        flags |= O_CREAT;
    int fd = open(path, flags | O_CLOEXEC, 0640);
    if (fd < 0) {
        int rc = -errno;
        snprintf(err, errlen, "%s: %s", path, povtrack_strerror(rc));
        return rc;
    }
    struct stat st;
    int rc = 0;
    if (mode == PT_MIRROR_PAGE_RESET && ftruncate(fd, PAGE_SIZE_BYTES) != 0)
        rc = -errno;
    else if (fstat(fd, &st) != 0)
        rc = -errno;
    else if (st.st_size < PAGE_SIZE_BYTES)
        rc = POVTRACK_EFORMAT;
    void *map = MAP_FAILED;
    if (rc == 0) {
        int prot = PROT_READ | (mode == PT_MIRROR_PAGE_READ ? 0 : PROT_WRITE);
        map = mmap(NULL, PAGE_SIZE_BYTES, prot, MAP_SHARED, fd, 0);
        if (map == MAP_FAILED)
            rc = -errno;
    }
    close(fd); /* the mapping keeps the file */
    struct pt_mirror_page *p = rc == 0 ? calloc(1, sizeof *p) : NULL;
    if (rc == 0 && p == NULL)
        rc = POVTRACK_ENOMEM;
    if (rc == 0 && mode == PT_MIRROR_PAGE_RESET) {
        struct page *pg = map;
        memset(pg, 0, sizeof *pg);
        atomic_store(&pg->updated_us, pt_real_us());
        pg->magic = PAGE_MAGIC;
    } else if (rc == 0 && ((struct page *)map)->magic != PAGE_MAGIC) {
        rc = POVTRACK_EFORMAT;
    }
    if (rc != 0) {
        snprintf(err, errlen, "%s: %s", path,
                 rc == POVTRACK_EFORMAT ? "not a mirror progress page"
                                        : povtrack_strerror(rc));
        if (map != MAP_FAILED)
            munmap(map, PAGE_SIZE_BYTES);
        free(p);
        return rc;
    }
    p->pg = map;
    *out = p;
    return 0;
}

void pt_mirror_page_close(struct pt_mirror_page *p)
{
    if (p == NULL)
        return;
    munmap(p->pg, PAGE_SIZE_BYTES);
    free(p);
}

uint64_t pt_mirror_page_acked(const struct pt_mirror_page *p)
{
    return atomic_load(&p->pg->acked_seq);
}

enum pt_mirror_state pt_mirror_page_state(const struct pt_mirror_page *p)
{
    return (enum pt_mirror_state)atomic_load(&p->pg->state);
}

void pt_mirror_page_read(const struct pt_mirror_page *p,
                         struct pt_mirror_progress *out)
{
    struct page *pg = p->pg;
    uint64_t before, after;
    do {
        before = atomic_load(&pg->gen);
        memcpy(out->error, pg->error, sizeof out->error);
        atomic_thread_fence(memory_order_acquire);
        after = atomic_load(&pg->gen);
    } while ((before & 1) != 0 || before != after);
    out->error[sizeof out->error - 1] = '\0';
    out->state = (enum pt_mirror_state)atomic_load(&pg->state);
    out->acked_seq = atomic_load(&pg->acked_seq);
    out->updated_us = atomic_load(&pg->updated_us);
    out->pid = atomic_load(&pg->pid);
}

void pt_mirror_page_set(struct pt_mirror_page *p, enum pt_mirror_state state,
                        uint64_t acked_seq, const char *error)
{
    struct page *pg = p->pg;
    if (error != NULL) {
        atomic_fetch_add(&pg->gen, 1);
        atomic_thread_fence(memory_order_release);
        snprintf(pg->error, sizeof pg->error, "%s", error);
        atomic_fetch_add(&pg->gen, 1);
    }
    atomic_store(&pg->pid, (int32_t)getpid());
    atomic_store(&pg->state, (uint32_t)state);
    atomic_store(&pg->acked_seq, acked_seq);
    atomic_store(&pg->updated_us, pt_real_us());
}

void pt_mirror_page_set_acked(struct pt_mirror_page *p, uint64_t acked_seq)
{
    atomic_store(&p->pg->acked_seq, acked_seq);
    atomic_store(&p->pg->updated_us, pt_real_us());
}

const char *pt_mirror_state_name(enum pt_mirror_state state)
{
    static const char *const names[] = {"starting", "connecting", "syncing",
                                        "copying",  "diverged",   "following"};
    return (unsigned)state < sizeof names / sizeof names[0] ? names[state]
                                                            : "unknown";
}

int pt_mirror_lag(struct st_reader *r, uint64_t acked_seq, uint64_t last_seq,
                  int64_t now, struct pt_mirror_lag *out)
{
    out->records = last_seq > acked_seq ? last_seq - acked_seq : 0;
    out->seconds = 0;
    if (out->records == 0)
        return 0;
    struct st_record rec;
    int rc = st_reader_get(r, acked_seq + 1, &rec);
    if (rc != 0)
        return rc;
    if (now > rec.received)
        out->seconds = (now - rec.received) / 1000000;
    return 0;
}

/* dir/name into buf, or POVTRACK_ENAMETOOLONG. */
static int data_path(char *buf, size_t cap, const char *dir, const char *name)
{
    return snprintf(buf, cap, "%s/%s", dir, name) < (int)cap
               ? 0
               : POVTRACK_ENAMETOOLONG;
}

int pt_mirror_standby(const struct pt_mirror_conf *m, const char *data_dir)
{
    char path[PATH_MAX];
    if (!m->enabled || !m->standby)
        return 0;
    if (data_path(path, sizeof path, data_dir, PT_DATA_PROMOTED_FILE) != 0)
        return 1;
    return access(path, F_OK) == 0 ? 0 : 1;
}

int pt_mirror_promote_requested(const char *data_dir)
{
    char path[PATH_MAX];
    return data_path(path, sizeof path, data_dir, PT_DATA_PROMOTE_FILE) == 0 &&
           access(path, F_OK) == 0;
}

/* Write text into the new file path (replacing it) and sync it. */
static int write_synced(const char *path, const char *text, char *err,
                        size_t errlen)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int rc = 0;
    size_t len = strlen(text);
    if (fd < 0)
        rc = -errno;
    else if (write(fd, text, len) != (ssize_t)len || fsync(fd) != 0)
        rc = errno != 0 ? -errno : POVTRACK_EIO;
    if (fd >= 0 && close(fd) != 0 && rc == 0)
        rc = -errno;
    if (rc != 0)
        snprintf(err, errlen, "%s: %s", path, povtrack_strerror(rc));
    return rc;
}

int pt_mirror_promote_request(const char *data_dir, char *err, size_t errlen)
{
    char path[PATH_MAX];
    if (data_path(path, sizeof path, data_dir, PT_DATA_PROMOTE_FILE) != 0) {
        snprintf(err, errlen, "%s: path too long", data_dir);
        return POVTRACK_ENAMETOOLONG;
    }
    return write_synced(path, "promote\n", err, errlen);
}

int pt_mirror_mark_promoted(const char *data_dir, uint64_t seq, char *err,
                            size_t errlen)
{
    char path[PATH_MAX], tmp[PATH_MAX], req[PATH_MAX], text[96];
    if (data_path(path, sizeof path, data_dir, PT_DATA_PROMOTED_FILE) != 0 ||
        data_path(tmp, sizeof tmp, data_dir, PT_DATA_PROMOTED_FILE ".new") !=
            0 ||
        data_path(req, sizeof req, data_dir, PT_DATA_PROMOTE_FILE) != 0) {
        snprintf(err, errlen, "%s: path too long", data_dir);
        return POVTRACK_ENAMETOOLONG;
    }
    snprintf(text, sizeof text, "promoted at seq %" PRIu64 ", unix %lld\n", seq,
             (long long)time(NULL));
    int rc = write_synced(tmp, text, err, errlen);
    if (rc == 0 && rename(tmp, path) != 0) {
        rc = -errno;
        snprintf(err, errlen, "%s: %s", path, povtrack_strerror(rc));
    }
    if (rc == 0 && unlink(req) != 0 && errno != ENOENT) {
        rc = -errno;
        snprintf(err, errlen, "%s: %s", req, povtrack_strerror(rc));
    }
    if (rc == 0 && (rc = st_dir_sync(data_dir)) != 0)
        snprintf(err, errlen, "%s: %s", data_dir, povtrack_strerror(rc));
    return rc;
}
