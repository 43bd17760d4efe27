/*
 * pt_stats.c - see pt_stats.h.
 */
#include "pt_stats.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <povtrack/errors.h>
#include <povtrack/protocol.h>

/* "PTS1"; a file of another magic or size is not read. */
#define STATS_MAGIC 0x50545331u

static const char *const class_names[PT_REJECT_CLASSES] = {
    "invalid", "rights", "duplicate_conflict", "limits", "storage"};

const char *pt_reject_class_name(enum pt_reject_class c)
{
    return (unsigned)c < PT_REJECT_CLASSES ? class_names[c] : "invalid";
}

/* Bounds of each kind, ascending, in the recording unit.  Group commits
 * hold 1 to batch_max (10000) events; a commit's sync takes from tens of
 * microseconds (tmpfs) to seconds (a failing disk); a query from
 * microseconds to the plugin timeout. */
static const uint64_t events_bounds[] = {1,   2,   5,    10,   20,   50,   100,
                                         200, 500, 1000, 2000, 5000, 10000};
static const uint64_t micros_bounds[] = {
    100,   250,    500,    1000,   2500,    5000,    10000,   25000,
    50000, 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000};

static const uint64_t *bounds(enum pt_hist_kind kind, unsigned *n)
{
    if (kind == PT_HIST_EVENTS) {
        *n = sizeof events_bounds / sizeof events_bounds[0];
        return events_bounds;
    }
    *n = sizeof micros_bounds / sizeof micros_bounds[0];
    return micros_bounds;
}

void pt_hist_observe(struct pt_hist *h, enum pt_hist_kind kind, uint64_t v)
{
    unsigned n, i = 0;
    const uint64_t *b = bounds(kind, &n);

    while (i < n && v > b[i])
        i++;
    /* One writer: a load and a store are enough, and cost no lock. */
    atomic_store_explicit(
        &h->bucket[i],
        atomic_load_explicit(&h->bucket[i], memory_order_relaxed) + 1,
        memory_order_relaxed);
    atomic_store_explicit(
        &h->sum, atomic_load_explicit(&h->sum, memory_order_relaxed) + v,
        memory_order_relaxed);
}

static int pack_key(msgpack_packer *pk, const char *k)
{
    return povtrack_proto_pack_cstr(pk, k);
}

int pt_hist_pack(msgpack_packer *pk, const struct pt_hist *h,
                 enum pt_hist_kind kind)
{
    unsigned n;
    const uint64_t *b = bounds(kind, &n);
    uint64_t count = 0;
    int rc = msgpack_pack_map(pk, 4) || pack_key(pk, "le") ||
             msgpack_pack_array(pk, n);

    for (unsigned i = 0; rc == 0 && i < n; i++)
        rc = kind == PT_HIST_MICROS
                 ? msgpack_pack_double(pk, (double)b[i] / 1e6)
                 : msgpack_pack_uint64(pk, b[i]);
    rc = rc || pack_key(pk, "counts") || msgpack_pack_array(pk, n + 1);
    for (unsigned i = 0; rc == 0 && i <= n; i++) {
        uint64_t c = atomic_load_explicit(&h->bucket[i], memory_order_relaxed);
        count += c;
        rc = msgpack_pack_uint64(pk, c);
    }
    uint64_t sum = atomic_load_explicit(&h->sum, memory_order_relaxed);
    rc = rc || pack_key(pk, "sum") ||
         (kind == PT_HIST_MICROS ? msgpack_pack_double(pk, (double)sum / 1e6)
                                 : msgpack_pack_uint64(pk, sum)) ||
         pack_key(pk, "count") || msgpack_pack_uint64(pk, count);
    return rc == 0 ? 0 : POVTRACK_ENOMEM;
}

/* The page a struct pt_ingest_stats takes. */
static size_t map_size(void)
{
    long page = sysconf(_SC_PAGESIZE);
    return page > 0 && (size_t)page >= sizeof(struct pt_ingest_stats)
               ? (size_t)page
               : sizeof(struct pt_ingest_stats);
}

static int stats_path(const char *data_dir, char *path, size_t cap)
{
    if (snprintf(path, cap, "%s/" PT_DATA_STATS_FILE, data_dir) >= (int)cap)
        return POVTRACK_ENAMETOOLONG;
    return 0;
}

int pt_ingest_stats_create(const char *data_dir, struct pt_ingest_stats **out,
                           char *err, size_t errlen)
{
    char path[PATH_MAX];
    size_t size = map_size();
    int rc = stats_path(data_dir, path, sizeof path);

    *out = NULL;
    if (rc != 0) {
        snprintf(err, errlen, "%s: path too long", data_dir);
        return rc;
    }
    /* Truncated to nothing first: a reader of the old file never sees a
     * mix of two runs' counters, only zeros. */
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0 || ftruncate(fd, (off_t)size) != 0) {
        rc = -errno;
        snprintf(err, errlen, "%s: %s", path, povtrack_strerror(rc));
        if (fd >= 0)
            close(fd);
        return rc;
    }
    void *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    rc = m == MAP_FAILED ? -errno : 0;
    close(fd);
    if (rc != 0) {
        snprintf(err, errlen, "%s: mmap: %s", path, povtrack_strerror(rc));
        return rc;
    }
    struct pt_ingest_stats *s = m;
    s->size = (uint32_t)sizeof *s;
    s->started = (int64_t)time(NULL);
    atomic_thread_fence(memory_order_release);
    s->magic = STATS_MAGIC;
    *out = s;
    return 0;
}

void pt_ingest_stats_close(struct pt_ingest_stats *s)
{
    if (s != NULL)
        munmap(s, map_size());
}

int pt_ingest_stats_open_ro(const char *data_dir,
                            const struct pt_ingest_stats **out)
{
    char path[PATH_MAX];
    struct stat st;
    size_t size = map_size();
    int rc = stats_path(data_dir, path, sizeof path);

    *out = NULL;
    if (rc != 0)
        return rc;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (fstat(fd, &st) != 0 || (size_t)st.st_size < size) {
        close(fd);
        return POVTRACK_ENOENT;
    }
    void *m = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
    rc = m == MAP_FAILED ? -errno : 0;
    close(fd);
    if (rc != 0)
        return rc;
    const struct pt_ingest_stats *s = m;
    if (s->magic != STATS_MAGIC || s->size != sizeof *s) {
        munmap(m, size);
        return POVTRACK_ENOENT;
    }
    *out = s;
    return 0;
}

void pt_ingest_stats_close_ro(const struct pt_ingest_stats *s)
{
    if (s != NULL)
        munmap((void *)s, map_size());
}

static int pack_u64(msgpack_packer *pk, const char *k, uint64_t v)
{
    return pack_key(pk, k) || msgpack_pack_uint64(pk, v);
}

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)

int pt_ingest_stats_pack(msgpack_packer *pk, const struct pt_ingest_stats *s)
{
    int64_t conns = LOAD(s->connections);
    int rc = msgpack_pack_map(pk, 10) || pack_key(pk, "started") ||
             msgpack_pack_int64(pk, s->started) ||
             pack_u64(pk, "requests", LOAD(s->requests)) ||
             pack_u64(pk, "acked", LOAD(s->acked)) ||
             pack_u64(pk, "duplicates", LOAD(s->duplicates)) ||
             pack_key(pk, "rejected") ||
             msgpack_pack_map(pk, PT_REJECT_CLASSES);

    for (unsigned c = 0; rc == 0 && c < PT_REJECT_CLASSES; c++)
        rc = pack_u64(pk, class_names[c], LOAD(s->rejected[c]));
    rc = rc || pack_key(pk, "commit_events") ||
         pt_hist_pack(pk, &s->commit_events, PT_HIST_EVENTS) ||
         pack_key(pk, "commit_seconds") ||
         pt_hist_pack(pk, &s->commit_us, PT_HIST_MICROS) ||
         pack_u64(pk, "requests_in_flight", LOAD(s->in_flight)) ||
         pack_u64(pk, "connections", conns > 0 ? (uint64_t)conns : 0) ||
         pack_u64(pk, "refused_handshakes", LOAD(s->refused_handshakes));
    return rc == 0 ? 0 : POVTRACK_ENOMEM;
}

void pt_code_count(struct pt_code_counts *cc, const char *code, size_t len)
{
    if (len >= PT_STATS_CODE_MAX) {
        cc->other++;
        return;
    }
    for (size_t i = 0; i < cc->n; i++) {
        if (strncmp(cc->c[i].code, code, len) == 0 &&
            cc->c[i].code[len] == '\0') {
            cc->c[i].n++;
            return;
        }
    }
    if (cc->n == PT_STATS_CODES_MAX) {
        cc->other++;
        return;
    }
    memcpy(cc->c[cc->n].code, code, len);
    cc->c[cc->n].code[len] = '\0';
    cc->c[cc->n++].n = 1;
}

int pt_code_counts_pack(msgpack_packer *pk, const struct pt_code_counts *cc)
{
    int rc = msgpack_pack_map(pk, cc->n + (cc->other > 0));

    for (size_t i = 0; rc == 0 && i < cc->n; i++)
        rc = pack_u64(pk, cc->c[i].code, cc->c[i].n);
    if (rc == 0 && cc->other > 0)
        rc = pack_u64(pk, "other", cc->other);
    return rc == 0 ? 0 : POVTRACK_ENOMEM;
}
