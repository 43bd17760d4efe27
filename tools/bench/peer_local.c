/* peer_local.c - the ceilings under any durable log on this disk, measured
 * with the same events, publishers and accounting:
 *
 *   lmdb   raw LMDB: per request one write transaction of --batch puts
 *          with MDB_APPEND (big-endian u64 keys, values as large as a
 *          povtrackd record: 9-byte header, publisher, event), committed
 *          with LMDB's default sync (fdatasync of the data, then the meta
 *          page written O_DSYNC).  No id index, no validation, no network.
 *   fsync  per request one 4 KiB pwrite into a preallocated file and one
 *          fdatasync: what the disk does for one durable write.
 *
 * Both work inside send(); wait() hands over the result. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lmdb.h>

#include "peer.h"

#define PUBLISHER "unauthenticated" /* what povtrackd stores in plain mode */
#define REC_HDR 9
#define BLOCK 4096
#define BLOCKS 1024 /* the fsync file: 4 MiB, rewritten in turn */

struct local_target {
    char path[PATH_MAX];
    MDB_env *env;
    MDB_dbi dbi;
    int fd;
    atomic_uint_fast64_t next_block;
};

/* The result of the request send() did, for wait(). */
struct local_conn {
    unsigned pending; /* requests done and not yet waited for */
    unsigned char block[BLOCK];
};

static int prepare_dir(struct bench *b, const char *name, char *err,
                       size_t errlen)
{
    struct local_target *t = calloc(1, sizeof *t);

    b->targ = t;
    if (t == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    t->fd = -1;
    if (snprintf(t->path, sizeof t->path, "%s/%s", b->o.endpoint, name) >=
        (int)sizeof t->path) {
        snprintf(err, errlen, "%s: path too long", b->o.endpoint);
        return -1;
    }
    return 0;
}

static void local_teardown(struct bench *b)
{
    struct local_target *t = b->targ;

    if (t == NULL)
        return;
    if (t->env != NULL)
        mdb_env_close(t->env);
    if (t->fd >= 0)
        close(t->fd);
    free(t);
    b->targ = NULL;
}

static int local_open(struct bench_pub *p)
{
    p->conn = calloc(1, sizeof(struct local_conn));
    if (p->conn == NULL) {
        bench_fail(p, EXIT_REJECTED, "out of memory");
        return -1;
    }
    return 0;
}

static void local_close(struct bench_pub *p)
{
    free(p->conn);
    p->conn = NULL;
}

static int local_wait(struct bench_pub *p, int ms)
{
    struct local_conn *c = p->conn;
    unsigned nev = bench_req_nev(p, p->done);

    (void)ms;
    if (!c->pending) {
        bench_fail(p, EXIT_REJECTED, "nothing in flight");
        return BENCH_FAILED;
    }
    c->pending--;
    p->c.acked += nev;
    p->c.ok += nev;
    return 0;
}

/* Remove what an earlier run left in the environment directory. */
static int empty_env_dir(const char *dir, char *err, size_t errlen)
{
    static const char *const files[] = {"data.mdb", "lock.mdb"};
    char path[PATH_MAX + 16];

    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "%s: %s", dir, strerror(errno));
        return -1;
    }
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        if (unlink(path) != 0 && errno != ENOENT) {
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
            return -1;
        }
    }
    return 0;
}

static int lmdb_setup(struct bench *b, const char *name, char *err,
                      size_t errlen)
{
    if (prepare_dir(b, name, err, errlen) != 0)
        return -1;
    struct local_target *t = b->targ;
    MDB_txn *txn;
    int rc;

    if (empty_env_dir(t->path, err, errlen) != 0)
        return -1;
    /* A sparse 16 GiB map: never full within a bounded run. */
    if ((rc = mdb_env_create(&t->env)) != 0 ||
        (rc = mdb_env_set_mapsize(t->env, (size_t)16 << 30)) != 0 ||
        (rc = mdb_env_open(t->env, t->path, 0, 0644)) != 0 ||
        (rc = mdb_txn_begin(t->env, NULL, 0, &txn)) != 0) {
        snprintf(err, errlen, "%s: %s", t->path, mdb_strerror(rc));
        return -1;
    }
    if ((rc = mdb_dbi_open(txn, NULL, 0, &t->dbi)) != 0) {
        mdb_txn_abort(txn);
        snprintf(err, errlen, "%s: %s", t->path, mdb_strerror(rc));
        return -1;
    }
    if ((rc = mdb_txn_commit(txn)) != 0) {
        snprintf(err, errlen, "%s: %s", t->path, mdb_strerror(rc));
        return -1;
    }
    return 0;
}

static void put_u64be(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char)(v & 0xffu);
}

/* One transaction per request; the next key is the last one plus one, as
 * povtrackd numbers its log (publishers take turns at the write lock). */
static int lmdb_send(struct bench_pub *p, size_t req)
{
    struct local_target *t = p->b->targ;
    struct local_conn *c = p->conn;
    size_t first = bench_req_first(p->b, req);
    unsigned nev = bench_req_nev(p, req);
    unsigned char kb[8];
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k = {sizeof kb, kb}, v;
    uint64_t next = 1;
    int rc;

    if ((rc = mdb_txn_begin(t->env, NULL, 0, &txn)) != 0) {
        bench_fail(p, EXIT_REJECTED, "txn: %s", mdb_strerror(rc));
        return -1;
    }
    if ((rc = mdb_cursor_open(txn, t->dbi, &cur)) != 0)
        goto fail;
    rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    mdb_cursor_close(cur);
    if (rc == 0 && k.mv_size != 8) {
        rc = MDB_INCOMPATIBLE; /* not a key this program wrote */
        goto fail;
    }
    if (rc == 0) {
        const unsigned char *kp = k.mv_data;
        next = 0;
        for (int i = 0; i < 8; i++)
            next = (next << 8) | kp[i];
        next++;
    } else if (rc != MDB_NOTFOUND) {
        goto fail;
    }
    k.mv_data = kb;
    k.mv_size = sizeof kb;
    for (size_t i = first; i < first + nev; i++) {
        size_t len = p->ev.off[i + 1] - p->ev.off[i];
        put_u64be(kb, next++);
        v.mv_size = REC_HDR + sizeof PUBLISHER - 1 + len;
        v.mv_data = NULL;
        if ((rc = mdb_put(txn, t->dbi, &k, &v, MDB_APPEND | MDB_RESERVE)) != 0)
            goto fail;
        unsigned char *vp = v.mv_data;
        put_u64be(vp, (uint64_t)i); /* stands for the time received */
        vp[8] = sizeof PUBLISHER - 1;
        memcpy(vp + REC_HDR, PUBLISHER, sizeof PUBLISHER - 1);
        memcpy(vp + REC_HDR + sizeof PUBLISHER - 1, p->ev.buf + p->ev.off[i],
               len);
    }
    if ((rc = mdb_txn_commit(txn)) != 0) {
        bench_fail(p, EXIT_REJECTED, "commit: %s", mdb_strerror(rc));
        return -1;
    }
    c->pending++;
    return 0;
fail:
    mdb_txn_abort(txn);
    bench_fail(p, EXIT_REJECTED, "put: %s", mdb_strerror(rc));
    return -1;
}

static int fsync_setup(struct bench *b, const char *name, char *err,
                       size_t errlen)
{
    if (prepare_dir(b, name, err, errlen) != 0)
        return -1;
    struct local_target *t = b->targ;
    unsigned char zero[BLOCK] = {0};

    t->fd = open(t->path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (t->fd < 0) {
        snprintf(err, errlen, "%s: %s", t->path, strerror(errno));
        return -1;
    }
    /* Written and synced once, so that the timed fdatasyncs flush data
     * only, never the file's size or block map. */
    for (off_t i = 0; i < BLOCKS; i++)
        if (pwrite(t->fd, zero, BLOCK, i * BLOCK) != BLOCK) {
            snprintf(err, errlen, "%s: %s", t->path, strerror(errno));
            return -1;
        }
    if (fsync(t->fd) != 0) {
        snprintf(err, errlen, "%s: fsync: %s", t->path, strerror(errno));
        return -1;
    }
    return 0;
}

static int fsync_send(struct bench_pub *p, size_t req)
{
    struct local_target *t = p->b->targ;
    struct local_conn *c = p->conn;
    uint64_t n = atomic_fetch_add(&t->next_block, 1);

    /* Different bytes each time, so that nothing can skip the write. */
    memset(c->block, (int)(req & 0xff), sizeof c->block);
    if (pwrite(t->fd, c->block, BLOCK, (off_t)(n % BLOCKS) * BLOCK) != BLOCK) {
        bench_fail(p, EXIT_REJECTED, "pwrite: %s", strerror(errno));
        return -1;
    }
    if (fdatasync(t->fd) != 0) {
        bench_fail(p, EXIT_REJECTED, "fdatasync: %s", strerror(errno));
        return -1;
    }
    c->pending++;
    return 0;
}

static const struct bench_target lmdb_target = {"lmdb", local_open, lmdb_send,
                                                local_wait, local_close};
static const struct bench_target fsync_target = {
    "fsync", local_open, fsync_send, local_wait, local_close};

const struct peer peer_lmdb = {&lmdb_target,
                               "directory; the environment is DIR/NAME", "/tmp",
                               lmdb_setup, local_teardown};
const struct peer peer_fsync = {&fsync_target,
                                "directory; the file is DIR/NAME", "/tmp",
                                fsync_setup, local_teardown};
