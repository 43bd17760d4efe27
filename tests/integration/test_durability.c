/*
 * test_durability.c - an ack leaves only after its commit is on disk.
 *
 * A kill test cannot show this (the page cache survives a killed process),
 * so this test traces the real ingest process's system calls with strace
 * and checks, for every ack it sends, that since the previous ack an
 * fdatasync of the log's data file completed and then the meta page was
 * written through a descriptor opened with O_DSYNC (LMDB's durable commit),
 * before the sendto that carries the ack began.
 *
 * A second test traces a daemon started on a fresh data directory and
 * checks that what a power cut could otherwise undo is made durable before
 * the first ack: each directory created is synced into its parent, and the
 * log's and the state's data.mdb are created under a temporary name,
 * synced, renamed into place, and their directory synced after the rename
 * (storage/st_env.h).
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
#include <zmq.h>

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

static void test_ack_follows_durable_commit(void **state)
{
    struct td *d = *state;
    /* Warm up: the client's ZMTP handshake and the log's first pages. */
    publish_one(d, 0);

    char trace[400];
    snprintf(trace, sizeof trace, "%s/strace.out", d->dir);
    struct td_tracer t;
    assert_int_equal(
        td_trace_start(&t, (const pid_t[]){d->pid, 0}, trace,
                       (const char *[]){"-tt", "-e",
                                        "trace=fdatasync,fsync,pwrite64,sendto",
                                        NULL}),
        0);
    for (int i = 1; i <= REQUESTS; i++)
        publish_one(d, i);
    td_trace_stop(&t);

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

/* ---- pipelined group commits ---- */

#define PIPE_PUBLISHERS 4
#define PIPE_WINDOW 16 /* requests in flight per publisher */
#define PIPE_ROUNDS 3
#define PIPE_ACKS (PIPE_PUBLISHERS * PIPE_WINDOW * PIPE_ROUNDS)
#define PIPE_SEQ_MAX 1024

/* A one-event request defining unit id (as td_define_province). */
static void pack_unit(msgpack_sbuffer *sb, const char *id)
{
    msgpack_packer pk;
    msgpack_sbuffer_clear(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 1);
    td_pack_event_head(&pk, id, "unit.defined", 1609459200, "60", NULL);
    msgpack_pack_map(&pk, 3);
    td_pack_cstr(&pk, "name");
    td_pack_cstr(&pk, "Binh Thuan");
    td_pack_cstr(&pk, "parent");
    msgpack_pack_nil(&pk);
    td_pack_cstr(&pk, "level");
    td_pack_cstr(&pk, "province");
}

/* The "seq" of every ack in a sendto line of strace -xx ("\xa3\x73\x65\x71"
 * then a msgpack unsigned integer), into seqs; returns how many. */
static size_t acked_seqs(const char *line, uint64_t *seqs, size_t cap)
{
    static const char key[] = "\\xa3\\x73\\x65\\x71\\x";
    size_t n = 0;
    for (const char *p = line; (p = strstr(p, key)) != NULL && n < cap;) {
        p += strlen(key);
        unsigned b = (unsigned)strtoul((char[]){p[0], p[1], 0}, NULL, 16);
        int more = b == 0xcc ? 1 : b == 0xcd ? 2 : b == 0xce ? 4 : 0;
        uint64_t v = more ? 0 : b;
        for (int i = 0; i < more; i++) {
            p += 2;
            if (strncmp(p, "\\x", 2) != 0)
                fail_msg("cannot read an ack's seq: %s", line);
            p += 2;
            v = v << 8 | strtoul((char[]){p[0], p[1], 0}, NULL, 16);
        }
        p += 2;
        seqs[n++] = v;
    }
    return n;
}

/*
 * Many publishers with many one-event requests in flight, so that ingest
 * validates a group while the one before commits on its worker thread:
 * every ack must still leave only after the commit holding its event is on
 * disk.  The log says which records went in one commit (a group's records
 * share their "received" time), so each record's commit is numbered; in
 * the trace, the k-th durable commit is the k-th fdatasync of the data
 * file followed by an O_DSYNC meta page write, and the ack of a record of
 * commit k must begin after the k-th has completed.
 */
static void test_pipelined_acks_follow_their_commit(void **state)
{
    struct td *d = *state;
    publish_one(d, 0); /* warm up; its record is seq 1 */

    void *pubs[PIPE_PUBLISHERS];
    for (int p = 0; p < PIPE_PUBLISHERS; p++)
        assert_non_null(pubs[p] = td_dealer(d, d->ingest, NULL, NULL));
    char trace[400];
    snprintf(trace, sizeof trace, "%s/strace.out", d->dir);
    struct td_tracer t;
    assert_int_equal(
        td_trace_start(&t, (const pid_t[]){d->pid, 0}, trace,
                       (const char *[]){"-tt", "-xx", "-s", "65536", "-e",
                                        "trace=fdatasync,fsync,pwrite64,sendto",
                                        NULL}),
        0);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    int sent = 0;
    for (int r = 0; r < PIPE_ROUNDS; r++) {
        for (int w = 0; w < PIPE_WINDOW; w++)
            for (int p = 0; p < PIPE_PUBLISHERS; p++) {
                char id[32];
                snprintf(id, sizeof id, "p%d-%d-%d", p, r, w);
                pack_unit(&sb, id);
                assert_int_equal(zmq_send(pubs[p], "", 0, ZMQ_SNDMORE), 0);
                assert_int_equal(zmq_send(pubs[p], sb.data, sb.size, 0),
                                 (int)sb.size);
                sent++;
            }
        for (int p = 0; p < PIPE_PUBLISHERS; p++)
            for (int w = 0; w < PIPE_WINDOW; w++) {
                msgpack_unpacked up;
                msgpack_unpacked_init(&up);
                assert_int_equal(td_recv_reply(pubs[p], &up, 10000), 0);
                msgpack_unpacked_destroy(&up);
            }
    }
    msgpack_sbuffer_destroy(&sb);
    td_trace_stop(&t);
    for (int p = 0; p < PIPE_PUBLISHERS; p++)
        zmq_close(pubs[p]);
    assert_int_equal(sent, PIPE_ACKS);

    /* commit_of[seq]: which traced commit (1, 2, ...) holds the record. */
    static unsigned commit_of[PIPE_SEQ_MAX];
    memset(commit_of, 0, sizeof commit_of);
    msgpack_sbuffer q;
    msgpack_sbuffer_init(&q);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &q, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    td_pack_cstr(&pk, "op");
    td_pack_cstr(&pk, "read");
    td_pack_cstr(&pk, "from");
    msgpack_pack_uint64(&pk, 2);
    td_pack_cstr(&pk, "limit");
    msgpack_pack_uint64(&pk, PIPE_SEQ_MAX);
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    assert_int_equal(td_request_raw(d, q.data, q.size, &up, 10000), 0);
    const msgpack_object *recs = td_get(&up.data, "records");
    assert_non_null(recs);
    assert_int_equal(recs->via.array.size, PIPE_ACKS);
    unsigned commits = 0;
    int64_t prev = INT64_MIN;
    for (uint32_t i = 0; i < recs->via.array.size; i++) {
        const msgpack_object *rec = &recs->via.array.ptr[i];
        uint64_t seq = td_get(rec, "seq")->via.u64;
        int64_t received = td_get(rec, "received")->via.i64;
        assert_true(seq < PIPE_SEQ_MAX);
        if (received != prev)
            commits++;
        prev = received;
        commit_of[seq] = commits;
    }
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_destroy(&q);
    /* Groups of more than one request, or the test shows nothing. */
    assert_true(commits < PIPE_ACKS);

    FILE *f = fopen(trace, "r");
    assert_non_null(f);
    static char line[1 << 20];
    unsigned durable = 0; /* commits completed: fdatasync, then meta */
    int synced = 0, data_fd = -1, acks = 0;
    int pending_fd[1024];
    memset(pending_fd, -1, sizeof pending_fd);
    uint64_t seqs[PIPE_ACKS];
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
            }
        } else if (strncmp(sc, "fdatasync resumed", 17) == 0 ||
                   strncmp(sc, "fsync resumed", 13) == 0) {
            synced = synced || ok;
        } else if (strncmp(sc, "pwrite64(", 9) == 0 ||
                   strncmp(sc, "pwrite64 resumed", 16) == 0) {
            if (sc[8] == '(')
                *pfd_slot = atoi(sc + 9);
            if (ok && synced && *pfd_slot != data_fd &&
                fd_is_dsync(d->pid, *pfd_slot)) {
                durable++;
                synced = 0;
            }
        } else if (strncmp(sc, "sendto(", 7) == 0) {
            size_t n = acked_seqs(sc, seqs, PIPE_ACKS);
            for (size_t i = 0; i < n; i++) {
                if (seqs[i] < 2)
                    continue; /* the warm-up's, before the trace */
                assert_true(seqs[i] < PIPE_SEQ_MAX);
                if (commit_of[seqs[i]] == 0 || durable < commit_of[seqs[i]])
                    fail_msg("the ack of seq %llu (commit %u) was sent when "
                             "%u commits were durable",
                             (unsigned long long)seqs[i], commit_of[seqs[i]],
                             durable);
                acks++;
            }
        }
    }
    fclose(f);
    assert_int_equal(acks, PIPE_ACKS);
    assert_int_equal(durable, commits);
    assert_int_equal(td_stop(d), 0);
}

/* ---- creation ---- */

/* One system call of a trace, whole: "name(args) = result". */
#define CALL_MAX 4096

struct call {
    char text[CALL_MAX];
    int ok; /* completed with a result of 0 or more */
};

/* A call begun on one line and resumed on a later one, by thread. */
struct pending {
    long tid;
    char text[CALL_MAX];
};

/*
 * The calls of strace -f output (lines "<tid> <call>"), in the order they
 * ended, with each call strace split over "<unfinished ...>" and "<...
 * name resumed>" lines put back together.  Frees with free().
 */
static struct call *read_calls(const char *path, size_t *n)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t cap = 256;
    struct call *calls = malloc(cap * sizeof *calls);
    struct pending pend[64];
    size_t npend = 0;
    char line[CALL_MAX];
    assert_non_null(calls);
    *n = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        char *p;
        long tid = strtol(line, &p, 10);
        p += strspn(p, " ");
        char text[CALL_MAX] = "";
        char *unfinished = strstr(p, " <unfinished ...>");
        if (unfinished != NULL) {
            assert_true(npend < sizeof pend / sizeof pend[0]);
            pend[npend].tid = tid;
            snprintf(pend[npend].text, sizeof pend[npend].text, "%.*s",
                     (int)(unfinished - p), p);
            npend++;
            continue;
        }
        if (strncmp(p, "<... ", 5) == 0) {
            /* "<... name resumed>rest": the begun text, then rest. */
            char *rest = strstr(p, "resumed>");
            size_t i = 0;
            while (i < npend && pend[i].tid != tid)
                i++;
            if (rest == NULL || i == npend)
                continue;
            snprintf(text, sizeof text, "%.2047s%.2047s", pend[i].text,
                     rest + 8);
            pend[i] = pend[--npend];
        } else {
            snprintf(text, sizeof text, "%s", p);
        }
        /* The result follows the last ")" and " = "; strace pads between
         * them, widely on a "resumed" line. */
        const char *res = NULL;
        for (const char *q = text; (q = strstr(q, " = ")) != NULL; q += 3) {
            const char *b = q;
            while (b > text && b[-1] == ' ')
                b--;
            if (b > text && b[-1] == ')')
                res = q + 3;
        }
        if (res == NULL)
            continue; /* a signal, an exit */
        if (*n == cap) {
            cap *= 2;
            calls = realloc(calls, cap * sizeof *calls);
            assert_non_null(calls);
        }
        snprintf(calls[*n].text, sizeof calls[*n].text, "%s", text);
        calls[*n].ok = res[0] >= '0' && res[0] <= '9';
        (*n)++;
    }
    fclose(f);
    return calls;
}

/* The first call at or after from that succeeded, is one of names ("a(",
 * "b(", NULL-terminated) and holds needle; n when none. */
static size_t find_call(const struct call *c, size_t n, size_t from,
                        const char *const *names, const char *needle)
{
    for (size_t i = from; i < n; i++) {
        int named = 0;
        for (size_t k = 0; names[k] != NULL && !named; k++)
            named = strncmp(c[i].text, names[k], strlen(names[k])) == 0;
        if (named && c[i].ok && strstr(c[i].text, needle) != NULL)
            return i;
    }
    return n;
}

static const char *const MKDIR[] = {"mkdir(", "mkdirat(", NULL};
static const char *const SYNC[] = {"fsync(", "fdatasync(", NULL};
static const char *const DIRSYNC[] = {"fsync(", NULL};
static const char *const OPEN[] = {"openat(", "open(", NULL};
static const char *const RENAME[] = {"rename(", "renameat(", "renameat2(",
                                     NULL};
static const char *const SEND[] = {"sendto(", NULL};

/* Index of the first call after from that is one of names with needle;
 * fails the test, saying what was missing, when there is none. */
static size_t expect_call(const struct call *c, size_t n, size_t from,
                          const char *const *names, const char *needle,
                          const char *what)
{
    size_t i = find_call(c, n, from, names, needle);
    if (i == n)
        fail_msg("the trace has no %s (%s%s) after call %zu of %zu", what,
                 names[0], needle, from, n);
    return i;
}

/* dir (data_dir/sub) was made durably and its data.mdb created whole, all
 * before the call at index before. */
static void expect_created_whole(const struct call *c, size_t n,
                                 const char *data_dir, const char *sub,
                                 size_t before)
{
    char dir[400], q[420], tmp[420], final[420], fd[420];
    snprintf(dir, sizeof dir, "%s/%s", data_dir, sub);
    snprintf(q, sizeof q, "\"%s\"", dir);
    size_t i = expect_call(c, n, 0, MKDIR, q, "mkdir of the directory");
    snprintf(fd, sizeof fd, "<%s>)", data_dir);
    size_t synced_parent =
        expect_call(c, n, i, DIRSYNC, fd, "fsync of the data directory");
    snprintf(tmp, sizeof tmp, "\"%s/data.mdb.new-", dir);
    size_t created = expect_call(c, n, i, OPEN, tmp, "temporary data.mdb");
    assert_non_null(strstr(c[created].text, "O_CREAT"));
    snprintf(fd, sizeof fd, "<%s/data.mdb.new-", dir);
    size_t synced =
        expect_call(c, n, created, SYNC, fd, "sync of the temporary data.mdb");
    snprintf(final, sizeof final, "\"%s/data.mdb\"", dir);
    size_t renamed =
        expect_call(c, n, synced, RENAME, final, "rename into place");
    assert_non_null(strstr(c[renamed].text, tmp));
    snprintf(fd, sizeof fd, "<%s>)", dir);
    size_t synced_dir =
        expect_call(c, n, renamed, DIRSYNC, fd, "fsync of the directory");
    /* Nothing opened data.mdb under its own name before it was whole. */
    size_t in_place = find_call(c, n, 0, OPEN, final);
    if (in_place < renamed)
        fail_msg("%s was opened before it was renamed into place: %s", final,
                 c[in_place].text);
    if (synced_parent >= before || synced_dir >= before)
        fail_msg("%s was not durable before the first ack: %s", dir,
                 c[before < n ? before : n - 1].text);
}

static void test_creation_durable_before_first_ack(void **state)
{
    struct td *d = *state;
    char trace[400];
    snprintf(trace, sizeof trace, "%s/strace.out", d->dir);
    /* This process is traced, so the daemon is from its first call. */
    struct td_tracer t;
    assert_int_equal(
        td_trace_start(&t, (const pid_t[]){getpid(), 0}, trace,
                       (const char *[]){"-y", "-s", "512", "-e",
                                        "trace=mkdir,mkdirat,open,openat,"
                                        "rename,renameat,renameat2,fsync,"
                                        "fdatasync,sendto",
                                        NULL}),
        0);
    assert_int_equal(td_start(d, NULL), 0);
    publish_one(d, 1);
    td_trace_stop(&t);
    assert_int_equal(td_stop(d), 0);

    size_t n;
    struct call *c = read_calls(trace, &n);
    size_t ack = expect_call(c, n, 0, SEND, "status", "ack");
    /* The data directory itself, synced into the test's directory. */
    char q[420], fd[420];
    snprintf(q, sizeof q, "\"%s\"", d->data_dir);
    size_t made = expect_call(c, n, 0, MKDIR, q, "mkdir of the data directory");
    snprintf(fd, sizeof fd, "<%s>)", d->dir);
    if (expect_call(c, n, made, DIRSYNC, fd, "fsync of its parent") >= ack)
        fail_msg("the data directory was not durable before the first ack");
    expect_created_whole(c, n, d->data_dir, "log", ack);
    expect_created_whole(c, n, d->data_dir, "state", ack);
    free(c);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ack_follows_durable_commit,
                                        td_setup_started, td_teardown),
        cmocka_unit_test_setup_teardown(test_pipelined_acks_follow_their_commit,
                                        td_setup_started, td_teardown),
        cmocka_unit_test_setup_teardown(test_creation_durable_before_first_ack,
                                        td_setup, td_teardown),
    };
    return cmocka_run_group_tests_name("durability", tests, NULL, NULL);
}
