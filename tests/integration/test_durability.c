/*
 * test_durability.c - an ack leaves only after its commit is on disk.
 *
 * A kill test cannot show this (the page cache survives a killed process),
 * so this test traces the real ingest process's system calls with strace
 * and checks, for every ack it sends, that since the previous ack an
 * fdatasync of the log's data file completed and then the meta page was
 * written through a descriptor opened with O_DSYNC (LMDB's durable commit),
 * before the sendto that carries the ack began.
 */
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "daemon.h"

#define REQUESTS 5

/* One unit.defined event, id u<i>, in a one-event request. */
static void publish_one(struct td *d, int i)
{
    char id[16];
    snprintf(id, sizeof id, "u%d", i);
    assert_int_equal(td_define_province(d, id), 0);
}

/* Is fd of process pid open with O_DSYNC? */
static int fd_is_dsync(pid_t pid, int fd)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/fdinfo/%d", (long)pid, fd);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    char line[128];
    unsigned long flags = 0;
    while (fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "flags: %lo", &flags) == 1)
            break;
    fclose(f);
    return (flags & O_DSYNC) == O_DSYNC;
}

/* The syscall a strace line is about, and whether it completed on this line
 * with result 0 or more (strace pads before " = "). */
static const char *syscall_of(const char *line, int *completed, int *ok)
{
    /* "<tid> <time> name(args) = rc", "... <unfinished ...>", or
     * "<tid> <time> <... name resumed>...) = rc".  strace pads the tid
     * column when tids differ in width: skip runs of blanks. */
    const char *p = line;
    for (int field = 0; field < 2; field++) {
        p += strcspn(p, " ");
        p += strspn(p, " ");
    }
    if (*p == '\0')
        return NULL;
    const char *eq = strstr(line, ") ");
    const char *res = NULL;
    for (const char *q = line; (q = strstr(q, " = ")) != NULL; q += 3)
        res = q + 3;
    *completed =
        strstr(line, "<unfinished") == NULL && eq != NULL && res != NULL;
    *ok = *completed && res[0] >= '0' && res[0] <= '9';
    if (strncmp(p, "<... ", 5) == 0)
        return p + 5;
    return p;
}

static int setup(void **state)
{
    struct td *d = calloc(1, sizeof *d);
    if (d == NULL || td_init(d) != 0 || td_start(d, NULL) != 0) {
        if (d != NULL)
            td_destroy(d);
        free(d);
        return -1;
    }
    *state = d;
    return 0;
}

/* Runs even when an assertion failed: no daemon outlives the test. */
static int teardown(void **state)
{
    td_destroy(*state);
    free(*state);
    return 0;
}

static void test_ack_follows_durable_commit(void **state)
{
    struct td *d = *state;
    /* Warm up: the client's ZMTP handshake and the log's first pages. */
    publish_one(d, 0);

    char trace[400], pidarg[16];
    snprintf(trace, sizeof trace, "%s/strace.out", d->dir);
    snprintf(pidarg, sizeof pidarg, "%ld", (long)d->pid);
    int errpipe[2];
    assert_int_equal(pipe(errpipe), 0);
    pid_t st = fork();
    assert_true(st >= 0);
    if (st == 0) {
        dup2(errpipe[1], 2);
        close(errpipe[0]);
        execlp("strace", "strace", "-f", "-tt", "-e",
               "trace=fdatasync,fsync,pwrite64,sendto", "-o", trace, "-p",
               pidarg, (char *)NULL);
        fprintf(stderr, "cannot run strace\n");
        _exit(127);
    }
    close(errpipe[1]);
    /* Handshake: strace says when it has attached to every thread. */
    char msg[512] = "";
    size_t got = 0;
    struct pollfd pfd = {errpipe[0], POLLIN, 0};
    while (strstr(msg, "attached") == NULL && got < sizeof msg - 1 &&
           poll(&pfd, 1, 10000) == 1) {
        ssize_t n = read(errpipe[0], msg + got, sizeof msg - 1 - got);
        if (n <= 0)
            break;
        got += (size_t)n;
        msg[got] = '\0';
    }
    if (strstr(msg, "attached") == NULL)
        fail_msg("strace did not attach to povtrackd: %s", msg);

    for (int i = 1; i <= REQUESTS; i++)
        publish_one(d, i);

    kill(st, SIGINT);
    int status;
    waitpid(st, &status, 0);
    close(errpipe[0]);

    FILE *f = fopen(trace, "r");
    assert_non_null(f);
    char line[4096];
    int synced = 0, meta_written = 0, acks = 0, data_fd = -1;
    int pending_fd[1024]; /* fd of a pwrite64 still unfinished, by tid */
    memset(pending_fd, -1, sizeof pending_fd);
    while (fgets(line, sizeof line, f) != NULL) {
        int completed, ok;
        const char *sc = syscall_of(line, &completed, &ok);
        if (sc == NULL)
            continue;
        long tid = strtol(line, NULL, 10);
        int *pfd_slot = &pending_fd[tid % 1024];
        if (strncmp(sc, "fdatasync(", 10) == 0 ||
            strncmp(sc, "fsync(", 6) == 0) {
            if (ok) {
                data_fd = atoi(strchr(sc, '(') + 1);
                synced = 1;
                meta_written = 0;
            }
        } else if (strncmp(sc, "fdatasync resumed", 17) == 0 ||
                   strncmp(sc, "fsync resumed", 13) == 0) {
            if (ok) {
                synced = 1;
                meta_written = 0;
            }
        } else if (strncmp(sc, "pwrite64(", 9) == 0) {
            int fd = atoi(sc + 9);
            *pfd_slot = fd;
            if (ok && synced && fd != data_fd && fd_is_dsync(d->pid, fd))
                meta_written = 1;
        } else if (strncmp(sc, "pwrite64 resumed", 16) == 0) {
            if (ok && synced && *pfd_slot != data_fd &&
                fd_is_dsync(d->pid, *pfd_slot))
                meta_written = 1;
        } else if (strncmp(sc, "sendto(", 7) == 0 &&
                   strstr(sc, "status") != NULL) {
            if (!(synced && meta_written))
                fail_msg("ack %d was sent before its commit was durable "
                         "(fdatasync %s, O_DSYNC meta write %s): %s",
                         acks + 1, synced ? "done" : "missing",
                         meta_written ? "done" : "missing", line);
            acks++;
            synced = meta_written = 0;
        }
    }
    fclose(f);
    assert_int_equal(acks, REQUESTS);
    assert_int_equal(td_stop(d), 0);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ack_follows_durable_commit, setup,
                                        teardown),
    };
    return cmocka_run_group_tests_name("durability", tests, NULL, NULL);
}
