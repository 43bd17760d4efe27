/*
 * test_slow.c - slow and absent consumers cannot make the daemon wait or
 * grow.
 *
 * Beside a normal publisher, the test keeps two bad peers connected to the
 * real daemon: an alerts subscriber that never reads, and an ingest client
 * that sends requests and never reads the acks.  Every donation raises an
 * alert (fund large_donation = 1 VND), so the host publishes one alert per
 * event to the subscriber that never reads.  Checked: the good publisher's
 * requests are all acknowledged, both daemon processes' anonymous memory
 * (RssAnon: heap, not the LMDB maps) grows by far less than the alerts and
 * acks that were offered to the bad peers, and every alert is still in the
 * store for `povtrack alerts --since`.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zmq.h>

#include "daemon.h"

#define BATCH 1000
#define BATCHES 150
#define LAZY_REQUESTS 3000
#define GROWTH_MAX_KB (24 * 1024) /* offered: ~60 MiB of alerts and acks */

struct fixture {
    struct td d;
    void *sub, *lazy; /* closed in teardown: zmq_ctx_term waits for them */
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

static int teardown(void **state)
{
    struct fixture *f = *state;
    if (f->sub != NULL)
        zmq_close(f->sub);
    if (f->lazy != NULL)
        zmq_close(f->lazy);
    td_destroy(&f->d);
    free(f);
    return 0;
}

/* RssAnon of pid in KiB, or -1. */
static long rss_anon_kb(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
    FILE *f = fopen(path, "r");
    long kb = -1;
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "RssAnon: %ld kB", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

static void test_slow_consumers_cost_nothing(void **state)
{
    struct fixture *f = *state;
    struct td *d = &f->d;
    char config[400];
    snprintf(config, sizeof config, "%s/povtrackd.ini", d->dir);
    FILE *out = fopen(config, "w");
    assert_non_null(out);
    fputs("[daemon]\nplugins = fund\n[plugin.fund]\nlarge_donation = 1\n", out);
    assert_int_equal(fclose(out), 0);
    const char *args[] = {"-c", config, NULL};
    assert_int_equal(td_start(d, args), 0);
    assert_int_equal(td_define_province(d, "unit-60"), 0);

    /* The subscriber that never reads. */
    void *sub = f->sub = zmq_socket(d->zctx, ZMQ_SUB);
    int zero = 0;
    zmq_setsockopt(sub, ZMQ_LINGER, &zero, sizeof zero);
    assert_int_equal(zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0), 0);
    assert_int_equal(zmq_connect(sub, d->alerts), 0);
    /* The publisher that never reads its acks: its requests are ingested,
     * the replies pile up at the daemon's high-water mark and are dropped. */
    void *lazy = f->lazy = td_dealer(d, d->ingest, NULL, NULL);
    assert_non_null(lazy);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    td_pack_donations(&sb, "warm", 0, BATCH, 1000);
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    assert_int_equal(td_ingest_raw(d, sb.data, sb.size, &up, 10000), 0);
    msgpack_unpacked_destroy(&up);

    pid_t host = td_host_pid(d);
    assert_true(host > 0);
    long ingest0 = rss_anon_kb(d->pid), host0 = rss_anon_kb(host);
    assert_true(ingest0 > 0 && host0 > 0);

    /* Small requests from the lazy client, each answered with an ack
     * nobody reads. */
    static const char one[] = "\x91\x80"; /* [{}]: rejected, still acked */
    int sent_lazy = 0;
    for (int i = 0; i < LAZY_REQUESTS; i++) {
        if (zmq_send(lazy, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
            zmq_send(lazy, one, 2, ZMQ_DONTWAIT) < 0)
            break;
        sent_lazy++;
    }
    /* The good publisher is answered every time, alerts or not. */
    for (int b = 1; b <= BATCHES; b++) {
        td_pack_donations(&sb, "good", b, BATCH, 1000);
        msgpack_unpacked_init(&up);
        assert_int_equal(td_ingest_raw(d, sb.data, sb.size, &up, 10000), 0);
        assert_int_equal(up.data.via.array.size, BATCH);
        assert_true(
            td_str_eq(td_get(&up.data.via.array.ptr[0], "status"), "ok"));
        msgpack_unpacked_destroy(&up);
    }
    /* The province, the warm-up batch and the good batches. */
    uint64_t last = 1 + (uint64_t)(BATCHES + 1) * BATCH;

    /* Wait until the host has applied (and so published) everything. */
    assert_int_equal(td_query(d, "fund", 0, last, &up, 30000), 0);
    assert_int_equal(td_result_u64(&up, "donations"), last - 1);
    msgpack_unpacked_destroy(&up);

    long ingest1 = rss_anon_kb(d->pid), host1 = rss_anon_kb(host);
    print_message("RssAnon growth: ingest %ld kB (%d unread acks), host %ld "
                  "kB (%llu unread alerts)\n",
                  ingest1 - ingest0, sent_lazy, host1 - host0,
                  (unsigned long long)(last - 1));
    assert_true(ingest1 - ingest0 < GROWTH_MAX_KB);
    assert_true(host1 - host0 < GROWTH_MAX_KB);
    assert_int_equal(td_host_pid(d), host);

    /* What the subscriber missed is still in the store. */
    msgpack_packer pk;
    msgpack_sbuffer_clear(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    td_pack_cstr(&pk, "op");
    td_pack_cstr(&pk, "alerts");
    td_pack_cstr(&pk, "since");
    msgpack_pack_uint64(&pk, last - 10);
    td_pack_cstr(&pk, "limit");
    msgpack_pack_uint64(&pk, 100);
    msgpack_unpacked_init(&up);
    assert_int_equal(td_request_raw(d, sb.data, sb.size, &up, 10000), 0);
    const msgpack_object *alerts = td_get(&up.data, "alerts");
    assert_non_null(alerts);
    assert_int_equal(alerts->via.array.size, 10);
    assert_true(td_str_eq(td_get(&alerts->via.array.ptr[9], "code"),
                          "fund.large_donation"));
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_destroy(&sb);

    assert_int_equal(td_stop(d), 0);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
#if defined(__SANITIZE_ADDRESS__)
    /* Under ASan freed memory sits in a quarantine (256 MiB by default)
     * and would count as growth; the daemon inherits this environment, so
     * measure it without the quarantine.  Everything else ASan checks
     * stays on. */
    char opts[512];
    const char *was = getenv("ASAN_OPTIONS");
    snprintf(opts, sizeof opts,
             "%s%squarantine_size_mb=0:thread_local_quarantine_size_kb=0",
             was ? was : "", was && was[0] ? ":" : "");
    setenv("ASAN_OPTIONS", opts, 1);
#endif
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_slow_consumers_cost_nothing, setup,
                                        teardown),
    };
    return cmocka_run_group_tests_name("slow", tests, NULL, NULL);
}
