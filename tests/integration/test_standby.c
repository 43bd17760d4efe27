/*
 * test_standby.c - a province's standby: a second real povtrackd with
 * [mirror] standby = yes follows the stream the primary's mirror writes
 * (a real three-node nats-server cluster on 127.0.0.1, cluster.h), and
 * `povtrack promote` makes it the primary.
 *
 *   follows   the primary takes events; the standby's log is the
 *             primary's record for record, byte for byte (sequence,
 *             received time, publisher, event), its plugins answer every
 *             query byte for byte as the primary's, and it refuses
 *             publishers
 *   killed    the standby's mirror and the standby itself SIGKILLed in
 *             turn, while the primary takes events: the standby's log is
 *             still the primary's, byte for byte, no record lost or twice
 *   promote   the primary SIGKILLed, the standby promoted (after reading
 *             the stream to its end, which it may not have yet): it takes
 *             publishers, continuing the sequence, and its mirror appends
 *             to the same stream, which equals its log; the old primary,
 *             started again, finds the stream moved on: mirror.diverged
 *             (critical), publishers refused, the stream left as it is
 *
 * Waits are on the daemons' replies (queries with min_seq, stats) and the
 * stream's info, never sleeps.
 */
#include <inttypes.h>
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

#include "cluster.h"
#include "daemon.h"
#include "st_log.h"

#define STREAM "POVTRACK_LOG_60"
#define SUBJECT "povtrack.log.60"
#define WAIT_MS 60000

struct fx {
    struct td primary, standby;
    struct tc c;
    char primary_config[420], standby_config[420];
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
    if (f == NULL || td_init(&f->primary) != 0 || td_init(&f->standby) != 0)
        return -1;
    snprintf(dir, sizeof dir, "%s/nats", f->primary.dir);
    snprintf(f->primary_config, sizeof f->primary_config, "%s/povtrackd.ini",
             f->primary.dir);
    snprintf(f->standby_config, sizeof f->standby_config, "%s/povtrackd.ini",
             f->standby.dir);
    *state = f;
    if (tc_start(&f->c, dir) != 0 ||
        tc_write_config(&f->c, f->primary_config, NULL, NULL) != 0 ||
        tc_write_config(&f->c, f->standby_config, "standby = yes", NULL) != 0)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    if (f->primary.pid > 0)
        td_stop(&f->primary);
    if (f->standby.pid > 0)
        td_stop(&f->standby);
    tc_stop(&f->c);
    td_destroy(&f->primary);
    td_destroy(&f->standby);
    free(f);
    return 0;
}

static void start(struct td *d, const char *config)
{
    assert_int_equal(td_start_logged(d, (const char *[]){"-c", config, NULL}),
                     0);
}

/* n donations in one request to d, ids <prefix>-<batch>-<i>: acked ok. */
static void publish(struct td *d, const char *prefix, int batch, int n)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    td_pack_donations(&sb, prefix, batch, n, 1000000 + batch);
    assert_int_equal(td_ingest_ok(d, &sb, (uint32_t)n, 20000), 0);
    msgpack_sbuffer_destroy(&sb);
}

/* One donation to d, refused whole with an error beginning with why. */
static void expect_refused(struct td *d, const char *why)
{
    msgpack_sbuffer sb;
    msgpack_unpacked up;
    char error[512] = "";
    msgpack_sbuffer_init(&sb);
    msgpack_unpacked_init(&up);
    td_pack_donations(&sb, "refused", 0, 1, 5000);
    assert_int_equal(td_ingest_raw(d, sb.data, sb.size, &up, 20000), 0);
    assert_int_equal(up.data.type, MSGPACK_OBJECT_ARRAY);
    assert_int_equal(up.data.via.array.size, 1);
    const msgpack_object *ack = &up.data.via.array.ptr[0];
    assert_true(td_str_eq(td_get(ack, "status"), "rejected"));
    assert_int_equal(td_str_copy(td_get(ack, "error"), error, sizeof error), 0);
    if (strncmp(error, why, strlen(why)) != 0)
        fail_msg("refused with \"%s\", want \"%s...\"", error, why);
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_destroy(&sb);
}

/* Until d's stats say its log ends at want (the standby appends what it
 * reads from the stream), and its mirror is in state. */
static void wait_log(struct td *d, uint64_t want, const char *state)
{
    struct tc_mirror_stats s = {0};
    int64_t deadline = mono_ms() + WAIT_MS;
    while (mono_ms() < deadline &&
           (tc_mirror_stats(d, &s) != 0 || s.last_seq != want ||
            strcmp(s.state, state) != 0))
        ;
    if (s.last_seq != want || strcmp(s.state, state) != 0)
        fail_msg("log at %" PRIu64 " (mirror %s), want %" PRIu64 " (%s)",
                 s.last_seq, s.state, want, state);
}

/* The two logs hold the same records, byte for byte, 1..want. */
static void expect_same_logs(struct fx *f, uint64_t want)
{
    char a[420], b[420], err[512];
    struct st_log *la = NULL, *lb = NULL;
    struct st_reader *ra = NULL, *rb = NULL;
    uint64_t last_a = 0, last_b = 0;
    snprintf(a, sizeof a, "%s/log", f->primary.data_dir);
    snprintf(b, sizeof b, "%s/log", f->standby.data_dir);
    assert_int_equal(st_log_open(a, ST_OPEN_READONLY, &la, err, sizeof err), 0);
    assert_int_equal(st_log_open(b, ST_OPEN_READONLY, &lb, err, sizeof err), 0);
    assert_int_equal(st_reader_begin(la, &ra), 0);
    assert_int_equal(st_reader_begin(lb, &rb), 0);
    assert_int_equal(st_reader_last_seq(ra, &last_a), 0);
    assert_int_equal(st_reader_last_seq(rb, &last_b), 0);
    assert_int_equal(last_a, want);
    assert_int_equal(last_b, want);
    for (uint64_t seq = 1; seq <= want; seq++) {
        struct st_record x, y;
        assert_int_equal(st_reader_get(ra, seq, &x), 0);
        assert_int_equal(st_reader_get(rb, seq, &y), 0);
        if (x.raw_len != y.raw_len || memcmp(x.raw, y.raw, x.raw_len) != 0)
            fail_msg("record %" PRIu64 " differs", seq);
    }
    st_reader_end(ra);
    st_reader_end(rb);
    st_log_close(la);
    st_log_close(lb);
}

/* Ask both daemons plugins' indicators for province 60 in 2024 at want:
 * the answers are byte for byte the same. */
static void expect_same_answers(struct fx *f, uint64_t want)
{
    static const char *const plugins[] = {"fund", "donors", "poverty",
                                          "budget"};
    msgpack_sbuffer q;
    msgpack_packer pk;
    msgpack_sbuffer_init(&q);
    msgpack_packer_init(&pk, &q, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2);
    td_pack_cstr(&pk, "unit");
    td_pack_cstr(&pk, "60");
    td_pack_cstr(&pk, "year");
    msgpack_pack_int(&pk, 2024);
    for (size_t i = 0; i < sizeof plugins / sizeof plugins[0]; i++) {
        char why_a[256] = "", why_b[256] = "";
        size_t la = 0, lb = 0;
        char *a = td_query_packed(&f->primary, plugins[i], q.data, q.size, want,
                                  WAIT_MS, &la, why_a, sizeof why_a);
        char *b = td_query_packed(&f->standby, plugins[i], q.data, q.size, want,
                                  WAIT_MS, &lb, why_b, sizeof why_b);
        if (a == NULL || b == NULL)
            fail_msg("%s: primary %s, standby %s", plugins[i],
                     a ? "answered" : why_a, b ? "answered" : why_b);
        if (la != lb || memcmp(a, b, la) != 0)
            fail_msg("%s: the standby's answer (%zu bytes) is not the "
                     "primary's (%zu bytes)",
                     plugins[i], lb, la);
        free(a);
        free(b);
    }
    msgpack_sbuffer_destroy(&q);
}

/* The primary takes events, the standby follows; 1 + 3 * 40 records. */
static uint64_t primary_and_standby(struct fx *f)
{
    start(&f->primary, f->primary_config);
    start(&f->standby, f->standby_config);
    assert_int_equal(td_define_province(&f->primary, "p60"), 0);
    for (int b = 0; b < 3; b++)
        publish(&f->primary, "a", b, 40);
    assert_int_equal(tc_wait_last(&f->c, STREAM, SUBJECT, 121, 0, WAIT_MS), 0);
    wait_log(&f->standby, 121, "following");
    return 121;
}

static void test_follows(void **state)
{
    struct fx *f = *state;
    uint64_t n = primary_and_standby(f);
    expect_same_answers(f, n);
    expect_refused(&f->standby, "standby: ");
    /* More while the standby runs: it keeps following. */
    publish(&f->primary, "b", 0, 25);
    wait_log(&f->standby, n + 25, "following");
    expect_same_answers(f, n + 25);
    assert_int_equal(td_stop(&f->primary), 0);
    assert_int_equal(td_stop(&f->standby), 0);
    expect_same_logs(f, n + 25);
}

/* The standby's mirror, then the standby, SIGKILLed in turn while the
 * primary takes events; each time, more events while it is down. */
static void test_killed(void **state)
{
    struct fx *f = *state;
    enum { ROUNDS = 4 };
    uint64_t n = primary_and_standby(f);
    for (int round = 0; round < ROUNDS; round++) {
        pid_t mirror = tc_wait_mirror_pid(&f->standby, 0);
        assert_true(mirror > 0);
        publish(&f->primary, "k", 2 * round, 200);
        if (round % 2 == 0) {
            /* In the middle of reading what was just published. */
            assert_int_equal(kill(mirror, SIGKILL), 0);
            assert_true(tc_wait_mirror_pid(&f->standby, mirror) > 0);
        } else {
            assert_int_equal(kill(f->standby.pid, SIGKILL), 0);
            assert_int_equal(waitpid(f->standby.pid, NULL, 0), f->standby.pid);
            f->standby.pid = 0;
        }
        publish(&f->primary, "k", 2 * round + 1, 200);
        if (f->standby.pid == 0)
            start(&f->standby, f->standby_config);
        n += 400;
    }
    assert_int_equal(tc_wait_last(&f->c, STREAM, SUBJECT, n, 0, WAIT_MS), 0);
    wait_log(&f->standby, n, "following");
    expect_same_answers(f, n);
    assert_int_equal(td_stop(&f->primary), 0);
    assert_int_equal(td_stop(&f->standby), 0);
    expect_same_logs(f, n);
}

static void test_promote(void **state)
{
    struct fx *f = *state;
    char out[1024], err[1024];
    uint64_t n = primary_and_standby(f);
    expect_same_answers(f, n);
    /* The last records reach the stream, and the primary's machine is
     * lost before the standby may have read them: the promotion reads
     * the stream to its end first. */
    publish(&f->primary, "a", 3, 40);
    n += 40;
    assert_int_equal(tc_wait_last(&f->c, STREAM, SUBJECT, n, 0, WAIT_MS), 0);
    assert_int_equal(kill(f->primary.pid, SIGKILL), 0);
    assert_int_equal(waitpid(f->primary.pid, NULL, 0), f->primary.pid);
    f->primary.pid = 0;
    int rc =
        td_cli_run(f->standby.dir,
                   (const char *[]){"promote", "-d", f->standby.data_dir, NULL},
                   out, sizeof out, err, sizeof err);
    if (rc != 0)
        fail_msg("povtrack promote: exit %d: %s%s", rc, out, err);
    assert_non_null(strstr(out, "promoted at seq 161"));
    /* The new primary continues the sequence, into the same stream. */
    publish(&f->standby, "c", 0, 30);
    assert_int_equal(tc_wait_last(&f->c, STREAM, SUBJECT, n + 30, 0, WAIT_MS),
                     0);
    wait_log(&f->standby, n + 30, "copying");
    char log_dir[420], why[512];
    uint64_t count = 0;
    snprintf(log_dir, sizeof log_dir, "%s/log", f->standby.data_dir);
    if (tc_compare(&f->c, STREAM, SUBJECT, log_dir, &count, why, sizeof why) !=
        0)
        fail_msg("the stream is not the promoted log: %s", why);
    assert_int_equal(count, n + 30);
    /* The old primary comes back: it cannot append, refuses publishers,
     * and says why. */
    start(&f->primary, f->primary_config);
    assert_int_equal(tc_wait_alert(&f->primary, "mirror.diverged", "critical"),
                     0);
    expect_refused(&f->primary, "diverged: ");
    struct tc_info info;
    assert_int_equal(tc_info(&f->c, STREAM, &info), 0);
    assert_int_equal(info.last, n + 30);
    assert_int_equal(
        tc_compare(&f->c, STREAM, SUBJECT, log_dir, &count, why, sizeof why),
        0);
    /* Promoted for good: started again, still the primary. */
    assert_int_equal(td_stop(&f->standby), 0);
    start(&f->standby, f->standby_config);
    publish(&f->standby, "c", 1, 5);
    assert_int_equal(tc_wait_last(&f->c, STREAM, SUBJECT, n + 35, 0, WAIT_MS),
                     0);
    assert_int_equal(td_stop(&f->primary), 0);
    assert_int_equal(td_stop(&f->standby), 0);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    if (getenv("TEST_STANDBY") != NULL)
        cmocka_set_test_filter(getenv("TEST_STANDBY"));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_follows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_killed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_promote, setup, teardown),
    };
    return cmocka_run_group_tests_name("standby", tests, NULL, NULL);
}
