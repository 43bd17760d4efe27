/*
 * test_diskfull.c - a full disk: the real daemon on a small tmpfs.
 *
 * The data directory sits on a tmpfs of a few MiB, mounted in a private
 * mount namespace of this test (so nothing leaks to the machine and the
 * mount dies with the process).  A filler file takes most of the space;
 * batches of donations then go in until ingest answers "storage full".
 * Checked: what was acked is stored, what was refused is not, both daemon
 * processes keep running, and once the filler is gone the refused batch
 * goes in on resend, nothing twice, and the fund plugin counts every
 * donation exactly once.
 *
 * Needs CAP_SYS_ADMIN (root, as in CI) or unprivileged user namespaces;
 * without either the test is skipped and says why.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cmocka.h>
#include <zmq.h>

#include "daemon.h"

#define FS_SIZE "48m"
#define HEADROOM (3u << 20) /* bytes left free beside the filler */
#define BATCH 400
#define BATCHES_MAX 400
#define AMOUNT 1000

/* Why the namespace could not be had, or "" when it could. */
static char no_mount[160];

static void enter_namespace(void)
{
    if (unshare(CLONE_NEWNS) != 0) {
        /* Not root: a user namespace makes us root of our own mounts. */
        uid_t uid = getuid();
        gid_t gid = getgid();
        if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) {
            snprintf(no_mount, sizeof no_mount,
                     "no mount namespace: %s (needs root or user "
                     "namespaces)",
                     strerror(errno));
            return;
        }
        char map[64];
        int fd = open("/proc/self/setgroups", O_WRONLY);
        if (fd >= 0) {
            if (write(fd, "deny", 4) != 4)
                (void)0;
            close(fd);
        }
        snprintf(map, sizeof map, "0 %u 1", (unsigned)uid);
        fd = open("/proc/self/uid_map", O_WRONLY);
        if (fd < 0 || write(fd, map, strlen(map)) < 0) {
            snprintf(no_mount, sizeof no_mount, "uid_map: %s", strerror(errno));
            if (fd >= 0)
                close(fd);
            return;
        }
        close(fd);
        snprintf(map, sizeof map, "0 %u 1", (unsigned)gid);
        fd = open("/proc/self/gid_map", O_WRONLY);
        if (fd >= 0) {
            if (write(fd, map, strlen(map)) < 0)
                (void)0;
            close(fd);
        }
    }
    /* Keep our mounts to ourselves. */
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
        snprintf(no_mount, sizeof no_mount, "private mounts: %s",
                 strerror(errno));
}

enum outcome { ALL_OK, ALL_FULL };

/* Publish batch; every ack must be ok (or duplicate on a resend), or every
 * ack a "storage full" rejection.  Anything else fails the test. */
static enum outcome publish(struct td *d, msgpack_sbuffer *sb, int batch)
{
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    td_pack_donations(sb, "full", batch, BATCH, AMOUNT);
    assert_int_equal(td_ingest_raw(d, sb->data, sb->size, &up, 15000), 0);
    assert_int_equal(up.data.type, MSGPACK_OBJECT_ARRAY);
    assert_int_equal(up.data.via.array.size, BATCH);
    int ok = 0, full = 0;
    for (uint32_t i = 0; i < BATCH; i++) {
        const msgpack_object *a = &up.data.via.array.ptr[i];
        if (td_str_eq(td_get(a, "status"), "ok") ||
            td_str_eq(td_get(a, "status"), "duplicate")) {
            ok++;
            continue;
        }
        const msgpack_object *e = td_get(a, "error");
        assert_non_null(e);
        if (e->via.str.size < 12 ||
            memcmp(e->via.str.ptr, "storage full", 12) != 0)
            fail_msg("batch %d event %u: unexpected error %.*s", batch, i,
                     (int)e->via.str.size, e->via.str.ptr);
        full++;
    }
    msgpack_unpacked_destroy(&up);
    /* One group commit: all or nothing. */
    assert_true(ok == BATCH || full == BATCH);
    return ok == BATCH ? ALL_OK : ALL_FULL;
}

static uint64_t stats_events(struct td *d)
{
    static const unsigned char stats[] = {0x81, 0xa2, 'o', 'p', 0xa5,
                                          's',  't',  'a', 't', 's'};
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    assert_int_equal(td_request_raw(d, stats, sizeof stats, &up, 10000), 0);
    const msgpack_object *n = td_get(&up.data, "events");
    assert_non_null(n);
    uint64_t v = n->via.u64;
    msgpack_unpacked_destroy(&up);
    return v;
}

struct fixture {
    struct td d;
    int mounted;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    if (f == NULL || td_init(&f->d) != 0) {
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

/* Runs after a failed assertion too, so no daemon outlives the test. */
static int teardown(void **state)
{
    struct fixture *f = *state;
    if (f->d.pid > 0)
        td_stop(&f->d);
    if (f->mounted)
        umount2(f->d.dir, MNT_DETACH);
    td_destroy(&f->d);
    free(f);
    return 0;
}

static void test_disk_full_refuses_then_recovers(void **state)
{
    struct fixture *f = *state;
    struct td *d = &f->d;
    if (no_mount[0] != '\0') {
        print_message("skipped: %s\n", no_mount);
        skip();
    }
    if (mount("tmpfs", d->dir, "tmpfs", 0, "size=" FS_SIZE ",mode=0700") != 0)
        fail_msg("cannot mount a tmpfs on %s: %s", d->dir, strerror(errno));
    f->mounted = 1;
    assert_int_equal(td_start(d, NULL), 0);
    assert_int_equal(td_define_province(d, "unit-60"), 0);

    /* Fill the file system but for a little headroom. */
    char filler[400];
    snprintf(filler, sizeof filler, "%s/filler", d->dir);
    struct statvfs vfs;
    assert_int_equal(statvfs(d->dir, &vfs), 0);
    uint64_t avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
    assert_true(avail > 2 * HEADROOM);
    int fd = open(filler, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(posix_fallocate(fd, 0, (off_t)(avail - HEADROOM)), 0);
    close(fd);

    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    int acked = 0, refused = -1;
    for (int b = 0; b < BATCHES_MAX && refused < 0; b++) {
        if (publish(d, &sb, b) == ALL_OK)
            acked++;
        else
            refused = b;
    }
    if (refused < 0)
        fail_msg("%d batches went in and the disk never filled", acked);
    print_message("disk full after %d batches of %d events\n", acked, BATCH);

    /* Nothing of the refused batch is stored, everything acked is; both
     * processes still answer. */
    assert_int_equal(stats_events(d), 1 + (uint64_t)acked * BATCH);
    assert_true(td_host_pid(d) > 0);
    assert_int_equal(td_wait_ping(d, 10000), 0);

    /* Space comes back: no restart, no operator.  (A retry while still
     * full may also succeed, in file space the failed commit had already
     * claimed; that is why the refused batch is only resent now.) */
    assert_int_equal(unlink(filler), 0);
    assert_int_equal(publish(d, &sb, refused), ALL_OK);
    assert_int_equal(publish(d, &sb, refused + 1), ALL_OK);
    uint64_t expected = 1 + (uint64_t)(acked + 2) * BATCH;
    assert_int_equal(stats_events(d), expected);
    /* Resending an acked batch stores nothing twice. */
    assert_int_equal(publish(d, &sb, 0), ALL_OK);
    assert_int_equal(stats_events(d), expected);

    /* The plugin host paused while its state could not grow and caught up
     * afterwards (it retries a full disk once a second): every donation
     * counted once. */
    msgpack_unpacked up;
    assert_int_equal(td_query(d, "fund", 0, expected, &up, 15000), 0);
    assert_int_equal(td_result_u64(&up, "donations"), expected - 1);
    assert_int_equal(td_result_u64(&up, "received"), (expected - 1) * AMOUNT);
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_destroy(&sb);

    assert_int_equal(td_stop(d), 0);
}

int main(void)
{
    /* Before any thread exists: unshare(CLONE_NEWNS) refuses a threaded
     * process, and ZeroMQ starts threads. */
    enter_namespace();
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_disk_full_refuses_then_recovers,
                                        setup, teardown),
    };
    return cmocka_run_group_tests_name("diskfull", tests, NULL, NULL);
}
