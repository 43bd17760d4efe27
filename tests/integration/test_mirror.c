/*
 * test_mirror.c - a province's log mirrored into a replicated JetStream
 * stream: the real povtrackd, the real povtrack-mirror it starts, and a
 * real three-node nats-server cluster on 127.0.0.1 (cluster.h), started by
 * each test in its own directory.
 *
 * Each test ends by reading the whole stream back in order and comparing
 * it with the log (tc_compare): sequences 1..last without gap or
 * duplicate, and every message's body the record's stored bytes.
 *
 *   equals_log        publishers run; the stream equals the log, stats
 *                     says copying with no lag
 *   follower_killed   a follower killed while records are copied, started
 *                     again: it catches up, nothing lost or doubled
 *   leader_killed     the stream's leader killed in mid-stream: the mirror
 *                     resumes after the election, no gap, no duplicate
 *   kills             the mirror and povtrackd killed (SIGKILL) in turn
 *                     while publishers send: every acked record is in the
 *                     stream exactly once, in order
 *   lost_tail         the newest blocks of the stream (and of its Raft
 *                     log) deleted on two of the three nodes, which then
 *                     elect a leader alone: JetStream has lost acknowledged
 *                     records, and the mirror sends them again from LMDB
 *   strict_trace      strict mode under strace: no publisher's ack is sent
 *                     before the mirror has said JetStream acknowledged its
 *                     record, and that after JetStream's ack reached it
 *   strict_nats_down  strict mode with every node down: the ack waits
 *                     (and mirror.lagging is raised), and comes once
 *                     JetStream is back
 *   diverged          another log copied into the same stream:
 *                     mirror.diverged (critical), and the stream is left
 *                     as it is
 */
#include <dirent.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <zmq.h>

#include "cluster.h"
#include "daemon.h"

#define STREAM "POVTRACK_LOG_60"
#define SUBJECT "povtrack.log.60"
#define WAIT_MS 60000

struct fx {
    struct td d;
    struct tc c;
    char config[420];
    char log_dir[420];
    /* Sockets of a test, closed by teardown also when an assertion ends
     * the test (zmq_ctx_term waits for every socket). */
    void *sub, *sock;
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    char dir[420];
    if (f == NULL || td_init(&f->d) != 0)
        return -1;
    snprintf(dir, sizeof dir, "%s/nats", f->d.dir);
    snprintf(f->config, sizeof f->config, "%s/povtrackd.ini", f->d.dir);
    snprintf(f->log_dir, sizeof f->log_dir, "%s/log", f->d.data_dir);
    *state = f;
    return tc_start(&f->c, dir);
}

static int teardown(void **state)
{
    struct fx *f = *state;
    if (f->sub != NULL)
        zmq_close(f->sub);
    if (f->sock != NULL)
        zmq_close(f->sock);
    if (f->d.pid > 0)
        td_stop(&f->d);
    tc_stop(&f->c);
    td_destroy(&f->d);
    free(f);
    return 0;
}

/* povtrackd with [mirror] (and extra lines of it), its log in d.log. */
static void start(struct fx *f, const char *extra)
{
    assert_int_equal(tc_write_config(&f->c, f->config, extra, NULL), 0);
    assert_int_equal(
        td_start_logged(&f->d, (const char *[]){"-c", f->config, NULL}), 0);
}

/* Until the stream holds want records and stats says the mirror knows it
 * (each look a request to the daemon or the cluster). */
static void wait_mirrored(struct fx *f, uint64_t want, int all_current)
{
    assert_int_equal(
        tc_wait_last(&f->c, STREAM, SUBJECT, want, all_current, WAIT_MS), 0);
    struct tc_mirror_stats s = {0};
    int64_t deadline = mono_ms() + 10000;
    while (mono_ms() < deadline &&
           (tc_mirror_stats(&f->d, &s) != 0 || s.acked < want))
        ;
    if (s.acked < want)
        fail_msg("stats: mirror %s at %" PRIu64 ", want %" PRIu64, s.state,
                 s.acked, want);
}

/* The stream equals the log, which holds want records. */
static void expect_equal(struct fx *f, uint64_t want)
{
    char why[512];
    uint64_t n;
    if (tc_compare(&f->c, STREAM, SUBJECT, f->log_dir, &n, why, sizeof why) !=
        0)
        fail_msg("the stream is not the log: %s (after %" PRIu64
                 " equal records)",
                 why, n);
    assert_int_equal(n, want);
}

/* n donations in one request, ids <prefix>-<batch>-<i>: acked ok. */
static void publish(struct fx *f, const char *prefix, int batch, int n)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    td_pack_donations(&sb, prefix, batch, n, 1000000);
    assert_int_equal(td_ingest_ok(&f->d, &sb, (uint32_t)n, 20000), 0);
    msgpack_sbuffer_destroy(&sb);
}

/* ---- a publisher thread: batches in order, each until acked ---- */

struct publisher {
    struct fx *f;
    const char *prefix;
    int batch_events;
    int batches; /* to send in all, each until acked */
    int allowed; /* of which it may send so far (publisher_allow) */
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t moved;
    int acked; /* batches acked */
    int failed;
};

static void *publisher_run(void *arg)
{
    struct publisher *p = arg;
    struct td *d = &p->f->d;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    void *sock = td_dealer(d, d->ingest, NULL, NULL);
    for (int b = 0; b < p->batches && sock != NULL;) {
        pthread_mutex_lock(&p->lock);
        while (b >= p->allowed)
            pthread_cond_wait(&p->moved, &p->lock);
        pthread_mutex_unlock(&p->lock);
        td_pack_donations(&sb, p->prefix, b, p->batch_events, 1000);
        msgpack_unpacked up;
        msgpack_unpacked_init(&up);
        int rc = td_call(sock, sb.data, sb.size, &up, 2000);
        int ok = rc == 0 && up.data.type == MSGPACK_OBJECT_ARRAY &&
                 up.data.via.array.size == (uint32_t)p->batch_events;
        for (uint32_t i = 0; ok && i < up.data.via.array.size; i++) {
            const msgpack_object *st =
                td_get(&up.data.via.array.ptr[i], "status");
            ok = td_str_eq(st, "ok") || td_str_eq(st, "duplicate");
        }
        msgpack_unpacked_destroy(&up);
        if (rc != 0) {
            /* Lazy Pirate: the daemon may be down; a new socket, and the
             * same batch again (the same ids). */
            zmq_close(sock);
            sock = td_dealer(d, d->ingest, NULL, NULL);
            continue;
        }
        pthread_mutex_lock(&p->lock);
        if (!ok)
            p->failed = 1;
        p->acked++;
        pthread_cond_broadcast(&p->moved);
        pthread_mutex_unlock(&p->lock);
        if (!ok)
            break;
        b++;
    }
    if (sock != NULL)
        zmq_close(sock);
    msgpack_sbuffer_destroy(&sb);
    return NULL;
}

/* A publisher of batches of events each, allowed the first allowed. */
static void publisher_start(struct publisher *p, struct fx *f,
                            const char *prefix, int batches, int events,
                            int allowed)
{
    memset(p, 0, sizeof *p);
    p->f = f;
    p->prefix = prefix;
    p->batches = batches;
    p->allowed = allowed;
    p->batch_events = events;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->moved, NULL);
    assert_int_equal(pthread_create(&p->thread, NULL, publisher_run, p), 0);
}

/* Let the publisher send its first allowed batches. */
static void publisher_allow(struct publisher *p, int allowed)
{
    pthread_mutex_lock(&p->lock);
    p->allowed = allowed;
    pthread_cond_broadcast(&p->moved);
    pthread_mutex_unlock(&p->lock);
}

/* Batches acked now. */
static int publisher_acked(struct publisher *p)
{
    pthread_mutex_lock(&p->lock);
    int acked = p->acked;
    pthread_mutex_unlock(&p->lock);
    return acked;
}

/* Wait until at least want batches are acked (the publisher's word). */
static void publisher_wait(struct publisher *p, int want)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += WAIT_MS / 1000;
    pthread_mutex_lock(&p->lock);
    while (p->acked < want && !p->failed &&
           pthread_cond_timedwait(&p->moved, &p->lock, &until) == 0)
        ;
    int acked = p->acked, failed = p->failed;
    pthread_mutex_unlock(&p->lock);
    if (failed || acked < want)
        fail_msg("publisher %s: %d batches acked, want %d%s", p->prefix, acked,
                 want, failed ? " (an event was rejected)" : "");
}

static void publisher_join(struct publisher *p)
{
    publisher_wait(p, p->batches);
    pthread_join(p->thread, NULL);
    pthread_cond_destroy(&p->moved);
    pthread_mutex_destroy(&p->lock);
}

/* ---- tests ---- */

static void test_equals_log(void **state)
{
    struct fx *f = *state;
    start(f, NULL);
    assert_int_equal(td_define_province(&f->d, "p60"), 0);
    struct publisher a, b;
    publisher_start(&a, f, "a", 30, 50, 30);
    publisher_start(&b, f, "b", 30, 50, 30);
    publisher_join(&a);
    publisher_join(&b);
    wait_mirrored(f, 3001, 1);
    expect_equal(f, 3001);
    struct tc_mirror_stats s;
    assert_int_equal(tc_mirror_stats(&f->d, &s), 0);
    assert_string_equal(s.state, "copying");
    assert_int_equal(s.acked, 3001);
    assert_int_equal(s.lag_records, 0);
    assert_int_equal(td_stop(&f->d), 0);
}

/* A node other than the stream's leader. */
static int follower_of(int leader)
{
    return leader % TC_NODES + 1;
}

static int leader_now(struct fx *f)
{
    struct tc_info info;
    assert_int_equal(tc_info(&f->c, STREAM, &info), 0);
    assert_true(info.leader >= 1 && info.leader <= TC_NODES);
    return info.leader;
}

/* A node killed while a publisher sends and the mirror copies (the
 * stream's leader, or a follower), then started again: the stream ends
 * equal to the log, every replica current (the killed one caught up). */
static void node_killed(struct fx *f, int kill_leader)
{
    enum { BATCHES = 60, EVENTS = 50 };
    start(f, NULL);
    assert_int_equal(td_define_province(&f->d, "p60"), 0);
    struct publisher p;
    publisher_start(&p, f, kill_leader ? "l" : "f", BATCHES, EVENTS, 20);
    publisher_wait(&p, 10);
    assert_int_equal(
        tc_wait_last(&f->c, STREAM, SUBJECT, 1 + 6 * EVENTS, 0, WAIT_MS), 0);
    int leader = leader_now(f);
    int killed = kill_leader ? leader : follower_of(leader);
    /* In mid-stream: the publisher let go again, and far from done. */
    publisher_allow(&p, BATCHES);
    publisher_wait(&p, 21);
    assert_true(publisher_acked(&p) < BATCHES);
    assert_int_equal(tc_kill(&f->c, killed), 0);
    publisher_wait(&p, 35);
    if (kill_leader) {
        /* The mirror goes on with the leader elected among the others. */
        struct tc_info info;
        assert_int_equal(
            tc_wait_last(&f->c, STREAM, SUBJECT, 1 + 35 * EVENTS, 0, WAIT_MS),
            0);
        assert_int_equal(tc_info(&f->c, STREAM, &info), 0);
        assert_int_not_equal(info.leader, leader);
    }
    assert_int_equal(tc_start_node(&f->c, killed), 0);
    assert_int_equal(tc_wait_node(&f->c, killed), 0);
    publisher_join(&p);
    wait_mirrored(f, 1 + BATCHES * EVENTS, 1);
    expect_equal(f, 1 + BATCHES * EVENTS);
    assert_int_equal(td_stop(&f->d), 0);
}

static void test_follower_killed(void **state)
{
    node_killed(*state, 0);
}

static void test_leader_killed(void **state)
{
    node_killed(*state, 1);
}

/* The mirror's pid, waiting (a bounded number of looks) for one to run. */
static pid_t wait_mirror_pid(const struct td *d, pid_t previous)
{
    pid_t pid = tc_wait_mirror_pid(d, previous);
    if (pid == 0)
        fail_msg("no new povtrack-mirror under povtrackd %ld", (long)d->pid);
    return pid;
}

/* The mirror and povtrackd SIGKILLed in turn, each while the publisher is
 * in the middle of a step of STEP batches (let go just before). */
static void test_kills(void **state)
{
    struct fx *f = *state;
    enum { ROUNDS = 6, STEP = 30, BATCHES = (ROUNDS + 1) * STEP, EVENTS = 20 };
    start(f, NULL);
    assert_int_equal(td_define_province(&f->d, "p60"), 0);
    struct publisher p;
    publisher_start(&p, f, "k", BATCHES, EVENTS, 0);
    pid_t mirror = wait_mirror_pid(&f->d, 0);
    int busy[2] = {0, 0}; /* kills (mirror, daemon) while it sent */
    for (int round = 0; round < ROUNDS; round++) {
        /* What was acked before is in the stream: the mirror started
         * after the last kill copies (the log holds the province, then
         * the batches in order). */
        assert_int_equal(tc_wait_last(&f->c, STREAM, SUBJECT,
                                      1 + (uint64_t)round * STEP * EVENTS, 0,
                                      WAIT_MS),
                         0);
        publisher_allow(&p, (round + 1) * STEP);
        publisher_wait(&p, round * STEP + 1);
        busy[round % 2] += publisher_acked(&p) < (round + 1) * STEP;
        if (round % 2 == 0) {
            assert_int_equal(kill(mirror, SIGKILL), 0);
            mirror = wait_mirror_pid(&f->d, mirror);
        } else {
            assert_int_equal(kill(f->d.pid, SIGKILL), 0);
            waitpid(f->d.pid, NULL, 0);
            f->d.pid = 0;
            assert_int_equal(
                td_start_logged(&f->d, (const char *[]){"-c", f->config, NULL}),
                0);
            mirror = wait_mirror_pid(&f->d, 0);
        }
    }
    publisher_allow(&p, BATCHES);
    publisher_join(&p);
    if (busy[0] == 0 || busy[1] == 0)
        fail_msg("of %d kills of the mirror and %d of povtrackd, %d and %d "
                 "came while the publisher sent",
                 (ROUNDS + 1) / 2, ROUNDS / 2, busy[0], busy[1]);
    /* Every batch was acked, each event once: the log holds them all,
     * and the stream the log. */
    uint64_t want = 1 + (uint64_t)BATCHES * EVENTS;
    wait_mirrored(f, want, 1);
    expect_equal(f, want);
    assert_int_equal(td_stop(&f->d), 0);
}

/* Remove the newest block (<n>.blk and its .idx, .fss) of dir. */
static void remove_newest_block(const char *dir)
{
    DIR *dp = opendir(dir);
    assert_non_null(dp);
    long newest = -1;
    struct dirent *e;
    while ((e = readdir(dp)) != NULL) {
        char *end;
        long n = strtol(e->d_name, &end, 10);
        if (end != e->d_name && strcmp(end, ".blk") == 0 && n > newest)
            newest = n;
    }
    closedir(dp);
    assert_true(newest > 0);
    const char *ext[] = {"blk", "idx", "fss"};
    for (size_t i = 0; i < 3; i++) {
        char path[900];
        snprintf(path, sizeof path, "%s/%ld.%s", dir, newest, ext[i]);
        unlink(path);
    }
}

/* On node: the newest block of the stream's messages, and of the Raft
 * log of every stream group (the cluster has this one stream alone). */
static void lose_tail(struct fx *f, int node)
{
    char store[500], dir[900];
    tc_store_dir(&f->c, node, store, sizeof store);
    snprintf(dir, sizeof dir, "%s/$G/streams/" STREAM "/msgs", store);
    remove_newest_block(dir);
    snprintf(dir, sizeof dir, "%s/$SYS/_js_", store);
    DIR *dp = opendir(dir);
    assert_non_null(dp);
    struct dirent *e;
    int groups = 0;
    while ((e = readdir(dp)) != NULL) {
        if (strncmp(e->d_name, "S-", 2) != 0)
            continue;
        char msgs[1200];
        snprintf(msgs, sizeof msgs, "%s/%s/msgs", dir, e->d_name);
        remove_newest_block(msgs);
        groups++;
    }
    closedir(dp);
    assert_int_equal(groups, 1);
}

/* Until the stream has a leader: its info answered (each ask waits for
 * JetStream's answer). */
static void wait_leader(struct fx *f, struct tc_info *info)
{
    int64_t deadline = mono_ms() + WAIT_MS;
    while (mono_ms() < deadline)
        if (tc_info(&f->c, STREAM, info) == 0 && info->leader != 0)
            return;
    fail_msg("the stream has no leader");
}

static void test_lost_tail(void **state)
{
    struct fx *f = *state;
    /* Enough for more than one 8 MB block of the stream and more than one
     * 4 MB block of its Raft log. */
    enum { BATCHES = 45, EVENTS = 1000 };
    start(f, NULL);
    assert_int_equal(td_define_province(&f->d, "p60"), 0);
    for (int b = 0; b < BATCHES; b++)
        publish(f, "t", b, EVENTS);
    uint64_t want = 1 + (uint64_t)BATCHES * EVENTS;
    wait_mirrored(f, want, 1);
    /* The mirror is stopped where it is, so that the test sees the stream
     * before the mirror mends it. */
    pid_t mirror = wait_mirror_pid(&f->d, 0);
    assert_int_equal(kill(mirror, SIGSTOP), 0);
    /* Every node dies at once; two lose what they had not synced. */
    for (int n = 1; n <= TC_NODES; n++)
        assert_int_equal(tc_kill(&f->c, n), 0);
    lose_tail(f, 1);
    lose_tail(f, 2);
    assert_int_equal(tc_start_node(&f->c, 1), 0);
    assert_int_equal(tc_start_node(&f->c, 2), 0);
    struct tc_info info;
    wait_leader(f, &info);
    if (info.last >= want)
        fail_msg("JetStream lost nothing (last %" PRIu64 ")", info.last);
    fprintf(stderr,
            "JetStream lost its tail: %" PRIu64 " of %" PRIu64
            " records left\n",
            info.last, want);
    assert_int_equal(tc_start_node(&f->c, 3), 0);
    assert_int_equal(tc_wait_node(&f->c, 3), 0);
    assert_int_equal(kill(mirror, SIGCONT), 0);
    wait_mirrored(f, want, 1);
    expect_equal(f, want);
    assert_true(td_count_lines(f->d.log, "JetStream lost its tail", "") >= 1);
    assert_int_equal(td_stop(&f->d), 0);
}

/* ---- strict mode under strace ---- */

/* The bytes of the first quoted string of an strace -xx line, from p. */
static size_t unhex(const char *p, unsigned char *out, size_t cap)
{
    const char *q = strchr(p, '"');
    size_t n = 0;
    if (q == NULL)
        return 0;
    for (q++; q[0] == '\\' && q[1] == 'x' && n < cap; q += 4) {
        unsigned v;
        if (sscanf(q + 2, "%2x", &v) != 1)
            break;
        out[n++] = (unsigned char)v;
    }
    return n;
}

/* Where the bytes of s are in b[0..n), or NULL. */
static const unsigned char *find_bytes(const unsigned char *b, size_t n,
                                       const void *s, size_t len)
{
    for (size_t i = 0; len <= n && i <= n - len; i++)
        if (memcmp(b + i, s, len) == 0)
            return b + i;
    return NULL;
}

static const unsigned char *find(const unsigned char *b, size_t n,
                                 const char *s)
{
    return find_bytes(b, n, s, strlen(s));
}

/* The sequence of an ack in msgpack: "seq" and a positive integer. */
static uint64_t ack_seq(const unsigned char *b, size_t n)
{
    const unsigned char *p = find(b, n, "\xa3seq");
    if (p == NULL || p + 4 >= b + n)
        return 0;
    p += 4;
    size_t left = (size_t)(b + n - p), len = 0;
    if (*p < 0x80)
        return *p;
    len = *p == 0xcc ? 1 : *p == 0xcd ? 2 : *p == 0xce ? 4 : *p == 0xcf ? 8 : 0;
    uint64_t v = 0;
    for (size_t i = 1; i <= len && i < left; i++)
        v = v << 8 | p[i];
    return v;
}

/* The highest "seq" of JetStream's publish acks in b: {"stream":...,
 * "seq":N}. */
static uint64_t js_ack_seq(const unsigned char *b, size_t n)
{
    uint64_t max = 0;
    const unsigned char *p = b, *end = b + n;
    while ((p = find_bytes(p, (size_t)(end - p), "\"seq\":", 6)) != NULL) {
        p += 6;
        while (p < end && *p == ' ')
            p++;
        uint64_t v = 0;
        while (p < end && *p >= '0' && *p <= '9')
            v = v * 10 + (uint64_t)(*p++ - '0');
        if (v > max)
            max = v;
    }
    return max;
}

static void test_strict_trace(void **state)
{
    struct fx *f = *state;
    enum { REQUESTS = 6 };
    start(f, "strict = yes");
    /* Warm up: the connections, the stream. */
    assert_int_equal(td_define_province(&f->d, "p60"), 0);
    char trace[400];
    snprintf(trace, sizeof trace, "%s/strace.out", f->d.dir);
    struct td_tracer t;
    pid_t mirror = wait_mirror_pid(&f->d, 0);
    assert_int_equal(
        td_trace_start(&t, (const pid_t[]){f->d.pid, mirror, 0}, trace,
                       (const char *[]){"-xx", "-s", "4096", "-e",
                                        "trace=sendto,recvfrom,read,write",
                                        NULL}),
        0);
    for (int i = 0; i < REQUESTS; i++)
        publish(f, "s", i, 1);
    td_trace_stop(&t);

    FILE *in = fopen(trace, "r");
    assert_non_null(in);
    static char line[65536];
    static unsigned char bytes[16384];
    uint64_t js_acked = 0, told = 0;
    int acks = 0;
    while (fgets(line, sizeof line, in) != NULL) {
        /* "<pid> name(args) = rc", "... <unfinished ...>", or
         * "<pid> <... name resumed>...": data sent is on the line that
         * begins the call, data received on the one that ends it. */
        const char *call = line + strspn(line, "0123456789 ");
        int resumed = strncmp(call, "<... ", 5) == 0;
        int unfinished = strstr(line, "<unfinished ...>") != NULL;
        if (resumed)
            call += 5;
        int sends =
            strncmp(call, "sendto(", 7) == 0 || strncmp(call, "write(", 6) == 0;
        int recvs =
            strncmp(call, "recvfrom", 8) == 0 || strncmp(call, "read", 4) == 0;
        if ((sends && resumed) || (recvs && unfinished))
            continue;
        size_t n = unhex(call, bytes, sizeof bytes);
        if (n == 0)
            continue;
        if (recvs && find(bytes, n, "\"stream\":\"" STREAM "\"") != NULL) {
            uint64_t s = js_ack_seq(bytes, n);
            js_acked = s > js_acked ? s : js_acked;
        } else if (sends && n > 6 && memcmp(bytes, "acked ", 6) == 0) {
            uint64_t s = strtoull((const char *)bytes + 6, NULL, 10);
            if (s > js_acked)
                fail_msg("the mirror said JetStream acknowledged seq %" PRIu64
                         " before JetStream's ack for it reached it (it had "
                         "seen %" PRIu64 ")",
                         s, js_acked);
            told = s > told ? s : told;
        } else if (sends && find(bytes, n, "status") != NULL) {
            uint64_t s = ack_seq(bytes, n);
            assert_true(s > 0);
            if (s > told)
                fail_msg("the ack of seq %" PRIu64
                         " was sent before the mirror said JetStream had "
                         "it (it had said %" PRIu64 ")",
                         s, told);
            acks++;
        }
    }
    fclose(in);
    assert_int_equal(acks, REQUESTS);
    assert_int_equal(td_stop(&f->d), 0);
}

/* A SUB on the alerts endpoint for topic, as f->sub. */
static void *subscribe(struct fx *f, const char *topic)
{
    void *sub = f->sub = zmq_socket(f->d.zctx, ZMQ_SUB);
    int zero = 0;
    assert_non_null(sub);
    zmq_setsockopt(sub, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, topic, strlen(topic));
    assert_int_equal(zmq_connect(sub, f->d.alerts), 0);
    return sub;
}

static void test_strict_nats_down(void **state)
{
    struct fx *f = *state;
    void *sub = subscribe(f, "alert.mirror.lagging");
    start(f, "strict = yes\nlag_alert_seconds = 1\nlag_alert_records = 0");
    assert_int_equal(td_define_province(&f->d, "p60"), 0);
    for (int n = 1; n <= TC_NODES; n++)
        assert_int_equal(tc_kill(&f->c, n), 0);
    /* Committed, but JetStream cannot have it: no ack. */
    void *sock = f->sock = td_dealer(&f->d, f->d.ingest, NULL, NULL);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    td_pack_donations(&sb, "w", 0, 1, 1000);
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    assert_int_equal(td_call(sock, sb.data, sb.size, &up, 2000), -1);
    /* The host says the mirror lags. */
    assert_int_equal(td_recv_reply(sub, &up, 20000), 0);
    assert_true(td_str_eq(td_get(&up.data, "code"), "mirror.lagging"));
    msgpack_unpacked_destroy(&up);
    for (int n = 1; n <= TC_NODES; n++)
        assert_int_equal(tc_start_node(&f->c, n), 0);
    /* The ack comes once JetStream has the record. */
    msgpack_unpacked_init(&up);
    assert_int_equal(td_recv_reply(sock, &up, WAIT_MS), 0);
    assert_true(up.data.type == MSGPACK_OBJECT_ARRAY &&
                up.data.via.array.size == 1);
    assert_true(td_str_eq(td_get(&up.data.via.array.ptr[0], "status"), "ok"));
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_destroy(&sb);
    assert_true(td_count_lines(f->d.log, "strict mode", "acks wait") >= 1);
    wait_mirrored(f, 2, 0);
    expect_equal(f, 2);
    assert_int_equal(td_stop(&f->d), 0);
}

static void test_diverged(void **state)
{
    struct fx *f = *state;
    start(f, NULL);
    assert_int_equal(td_define_province(&f->d, "p60"), 0);
    publish(f, "one", 0, 10);
    wait_mirrored(f, 11, 0);
    assert_int_equal(td_stop(&f->d), 0);
    /* Another log of the same province, longer than the stream, written
     * without [mirror], then mirrored into the same stream: its record 11
     * is another one. */
    snprintf(f->d.data_dir, sizeof f->d.data_dir, "%s/other", f->d.dir);
    assert_int_equal(td_start(&f->d, NULL), 0);
    assert_int_equal(td_define_province(&f->d, "p60-other"), 0);
    publish(f, "two", 0, 20);
    assert_int_equal(td_stop(&f->d), 0);
    start(f, NULL);
    /* Stored by the host (it may be raised before a SUB could join). */
    assert_int_equal(tc_wait_alert(&f->d, "mirror.diverged", "critical"), 0);
    assert_true(
        td_count_lines(f->d.log, "diverge", "is not the log's record 11") >= 1);
    struct tc_mirror_stats s;
    assert_int_equal(tc_mirror_stats(&f->d, &s), 0);
    assert_string_equal(s.state, "diverged");
    /* Left as it was: the first log's copy. */
    struct tc_info info;
    assert_int_equal(tc_info(&f->c, STREAM, &info), 0);
    assert_int_equal(info.last, 11);
    assert_int_equal(td_stop(&f->d), 0);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    /* TEST_MIRROR=test_lost_tail: one test (a cmocka pattern). */
    if (getenv("TEST_MIRROR") != NULL)
        cmocka_set_test_filter(getenv("TEST_MIRROR"));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_equals_log, setup, teardown),
        cmocka_unit_test_setup_teardown(test_follower_killed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_leader_killed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kills, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lost_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_strict_trace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_strict_nats_down, setup, teardown),
        cmocka_unit_test_setup_teardown(test_diverged, setup, teardown),
    };
    return cmocka_run_group_tests_name("mirror", tests, NULL, NULL);
}
