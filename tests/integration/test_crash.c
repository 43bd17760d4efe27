/*
 * test_crash.c - no acknowledged event is lost and none is stored twice,
 * however often povtrackd is killed.
 *
 * Publisher threads send batches of donations as fast as acks come back,
 * each remembering what was acknowledged.  A request that gets no reply in
 * time is sent again, with the same ids, on a new socket (Lazy Pirate).
 * Meanwhile the test kills the ingest process (or the plugin host) with
 * SIGKILL, KILLS times, each time after the publishers made more progress,
 * and restarts it on the same data directory.  Every batch after the first
 * also voids the first donation of the batch before it (record.voided, in
 * the same request): the commit's target check and the "amends" index run
 * under the kills too.  At the end every acked id must be in the log
 * exactly once, sequences must be gapless, every id must resolve to its
 * record, the fund plugin must have counted each donation not voided
 * exactly once, and povtrack verify must pass (ids, amends).
 *
 * Soak (tools/scripts/soak.sh, never under ctest): with POVTRACK_SOAK_KILLS
 * set, the publishers send until the test has killed that many times
 * (ingest or, one time in three, the plugin host, chosen at random, after
 * a random 0 to 4 more acked batches) or POVTRACK_SOAK_SECONDS (default
 * 3600) have passed; POVTRACK_SOAK_SEED fixes the random choices (default:
 * the time, printed).  Then the same checks run on all that was acked.
 */
#include <inttypes.h>
#include <limits.h>
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

#include "daemon.h"

#define PUBLISHERS 3
#define BATCHES 60 /* per publisher */
#define BATCH 50   /* events per request */
#define KILLS 20
#define REPLY_TIMEOUT_MS 1500
#define AMOUNT 1000     /* VND per donation: the fund total is a count check */
#define CATCH_UP_S 1800 /* plugins applying a soak's log after the kills */

struct shared {
    pthread_mutex_t lock;
    pthread_cond_t progress; /* signalled on every acked batch */
    int acked_batches;
    int stop; /* send no new batch (the one in flight is sent until acked) */
    int max_batches; /* per publisher */
    const char *ingest;
    void *zctx;
};

struct publisher {
    struct shared *sh;
    int index;
    int acked; /* batches 0..acked-1 were acked (ok or duplicate) */
    int resends;
    char error[256];
};

/* How the test kills: ctest's fixed plan, or a soak's. */
struct plan {
    int soak;
    int kills;      /* in all, ingest and host */
    double seconds; /* soak: the bound on the kill loop */
    unsigned seed;
};

static void *new_socket(struct shared *sh)
{
    void *s = zmq_socket(sh->zctx, ZMQ_DEALER);
    int zero = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_connect(s, sh->ingest);
    return s;
}

/* The events of a batch: its donations and, after the first batch, the
 * void of the first donation of the batch before. */
static uint32_t batch_events(int b)
{
    return BATCH + (b > 0);
}

/* Batch b of publisher prefix into sb: td_pack_donations' donations, and
 * the void of "<prefix>-<b-1>-0". */
static void pack_batch(msgpack_sbuffer *sb, const char *prefix, int b)
{
    msgpack_sbuffer don;
    msgpack_sbuffer_init(&don);
    td_pack_donations(&don, prefix, b, BATCH, AMOUNT);
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    assert_int_equal(msgpack_unpack_next(&up, don.data, don.size, NULL),
                     MSGPACK_UNPACK_SUCCESS);
    msgpack_packer pk;
    msgpack_sbuffer_clear(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, batch_events(b));
    for (uint32_t i = 0; i < up.data.via.array.size; i++)
        msgpack_pack_object(&pk, up.data.via.array.ptr[i]);
    if (b > 0) {
        char id[32], target[32];
        snprintf(id, sizeof id, "v%s-%d", prefix, b);
        snprintf(target, sizeof target, "%s-%d-0", prefix, b - 1);
        msgpack_pack_map(&pk, 6);
        td_pack_cstr(&pk, "v");
        msgpack_pack_int(&pk, 1);
        td_pack_cstr(&pk, "id");
        td_pack_cstr(&pk, id);
        td_pack_cstr(&pk, "type");
        td_pack_cstr(&pk, "record.voided");
        td_pack_cstr(&pk, "at");
        msgpack_pack_int64(&pk, 1730000000 + b);
        td_pack_cstr(&pk, "unit");
        td_pack_cstr(&pk, "60");
        td_pack_cstr(&pk, "data");
        msgpack_pack_map(&pk, 3);
        td_pack_cstr(&pk, "reason");
        td_pack_cstr(&pk, "crash test");
        td_pack_cstr(&pk, "target");
        td_pack_cstr(&pk, target);
        td_pack_cstr(&pk, "type");
        td_pack_cstr(&pk, "donation.received");
    }
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_destroy(&don);
}

/* Every ack of the reply to batch b must be ok or duplicate. */
static int check_reply(struct publisher *p, int b, const void *buf, size_t len)
{
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t off = 0;
    uint32_t n = batch_events(b);
    int ok =
        msgpack_unpack_next(&up, buf, len, &off) == MSGPACK_UNPACK_SUCCESS &&
        up.data.type == MSGPACK_OBJECT_ARRAY && up.data.via.array.size == n;
    for (uint32_t i = 0; ok && i < n; i++) {
        const msgpack_object *st = td_get(&up.data.via.array.ptr[i], "status");
        if (!td_str_eq(st, "ok") && !td_str_eq(st, "duplicate")) {
            const msgpack_object *e =
                td_get(&up.data.via.array.ptr[i], "error");
            snprintf(p->error, sizeof p->error, "ack %u: %.*s", i,
                     e ? (int)e->via.str.size : 0, e ? e->via.str.ptr : "?");
            ok = 0;
        }
    }
    if (!ok && p->error[0] == '\0')
        snprintf(p->error, sizeof p->error, "malformed reply");
    msgpack_unpacked_destroy(&up);
    return ok;
}

static void *publish(void *arg)
{
    struct publisher *p = arg;
    struct shared *sh = p->sh;
    void *s = new_socket(sh);
    int in_flight = 0; /* batch b was sent and not acked */
    for (int b = 0; p->error[0] == '\0';) {
        if (!in_flight) {
            pthread_mutex_lock(&sh->lock);
            int stop = sh->stop || b >= sh->max_batches;
            pthread_mutex_unlock(&sh->lock);
            if (stop)
                break;
        }
        in_flight = 1;
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        char prefix[16];
        snprintf(prefix, sizeof prefix, "p%d", p->index);
        pack_batch(&sb, prefix, b);
        zmq_send(s, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT);
        zmq_send(s, sb.data, sb.size, ZMQ_DONTWAIT);
        msgpack_sbuffer_destroy(&sb);
        zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, REPLY_TIMEOUT_MS) != 1) {
            /* Unknown fate: resend the same ids on a fresh socket. */
            zmq_close(s);
            s = new_socket(sh);
            p->resends++;
            continue;
        }
        zmq_msg_t delim, body;
        zmq_msg_init(&delim);
        zmq_msg_init(&body);
        if (zmq_msg_recv(&delim, s, 0) >= 0 && zmq_msg_recv(&body, s, 0) >= 0 &&
            check_reply(p, b, zmq_msg_data(&body), zmq_msg_size(&body))) {
            p->acked = ++b;
            in_flight = 0;
            pthread_mutex_lock(&sh->lock);
            sh->acked_batches++;
            pthread_cond_broadcast(&sh->progress);
            pthread_mutex_unlock(&sh->lock);
        }
        zmq_msg_close(&delim);
        zmq_msg_close(&body);
    }
    zmq_close(s);
    pthread_mutex_lock(&sh->lock);
    pthread_cond_broadcast(&sh->progress);
    pthread_mutex_unlock(&sh->lock);
    return NULL;
}

/* Wait until the publishers acked `more` further batches, or all are done
 * (bounded: a stuck daemon fails the test rather than hanging it). */
static int wait_progress(struct shared *sh, int more, int total)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 60;
    pthread_mutex_lock(&sh->lock);
    int target = sh->acked_batches + more;
    if (target > total)
        target = total;
    int rc = 0;
    while (sh->acked_batches < target && rc == 0)
        rc = pthread_cond_timedwait(&sh->progress, &sh->lock, &deadline);
    pthread_mutex_unlock(&sh->lock);
    return rc;
}

/* {"op": "read", "from": from, "limit": 10000} */
static void read_request(msgpack_sbuffer *sb, uint64_t from)
{
    msgpack_sbuffer_init(sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    td_pack_cstr(&pk, "op");
    td_pack_cstr(&pk, "read");
    td_pack_cstr(&pk, "from");
    msgpack_pack_uint64(&pk, from);
    td_pack_cstr(&pk, "limit");
    msgpack_pack_uint64(&pk, 10000);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Send the query in sb (with a min_seq) until it has a result, into up.
 * The host waits up to 5 s for min_seq to be applied; after a soak's kills,
 * or a rebuild, of a log of millions of records a plugin needs longer, so
 * that answer is asked again, up to CATCH_UP_S in all. */
static void request_applied(struct td *d, const msgpack_sbuffer *sb,
                            msgpack_unpacked *up, const char *plugin)
{
    static const char waiting[] = "min_seq: not applied";
    double deadline = now_s() + CATCH_UP_S;
    for (;;) {
        msgpack_unpacked_init(up);
        assert_int_equal(td_request_raw(d, sb->data, sb->size, up, 30000), 0);
        if (td_get(&up->data, "result") != NULL)
            return;
        const msgpack_object *e = td_get(&up->data, "error");
        int str = e != NULL && e->type == MSGPACK_OBJECT_STR;
        if (!str || e->via.str.size < sizeof waiting - 1 ||
            memcmp(e->via.str.ptr, waiting, sizeof waiting - 1) != 0 ||
            now_s() > deadline)
            fail_msg("query %s gave no result: %.*s", plugin,
                     str ? (int)e->via.str.size : 0, str ? e->via.str.ptr : "");
        msgpack_unpacked_destroy(up);
    }
}

/* The raw msgpack bytes of plugin's result for {"unit": "60"} once it has
 * applied min_seq; free() them. */
static char *query_bytes(struct td *d, const char *plugin, uint64_t min_seq,
                         size_t *len)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 4);
    td_pack_cstr(&pk, "op");
    td_pack_cstr(&pk, "query");
    td_pack_cstr(&pk, "plugin");
    td_pack_cstr(&pk, plugin);
    /* Each plugin's own query shape (README, Plugins). */
    static const char *const yearly[] = {"poverty", "standard",   "fund",
                                         "budget",  "production", "protection"};
    int year = 0;
    for (size_t i = 0; i < sizeof yearly / sizeof yearly[0]; i++)
        year |= strcmp(plugin, yearly[i]) == 0;
    int unit = strcmp(plugin, "deadlines") != 0;
    td_pack_cstr(&pk, "q");
    msgpack_pack_map(&pk, (uint32_t)(year + unit));
    if (unit) {
        td_pack_cstr(&pk, "unit");
        td_pack_cstr(&pk, "60");
    }
    if (year) {
        td_pack_cstr(&pk, "year");
        msgpack_pack_int(&pk, 2024);
    }
    td_pack_cstr(&pk, "min_seq");
    msgpack_pack_uint64(&pk, min_seq);
    msgpack_unpacked up;
    request_applied(d, &sb, &up, plugin);
    const msgpack_object *res = td_get(&up.data, "result");
    msgpack_sbuffer_clear(&sb);
    msgpack_pack_object(&pk, *res);
    msgpack_unpacked_destroy(&up);
    *len = sb.size;
    return sb.data; /* released with free(), as msgpack_sbuffer_destroy */
}

static void rebuild(struct td *d, const char *plugin)
{
    assert_int_equal(td_plugin_op(d, "rebuild", plugin, 30000), 0);
}

/* ctest's plan, or the soak's from the environment. */
static void read_plan(struct plan *pl)
{
    const char *kills = getenv("POVTRACK_SOAK_KILLS");
    const char *seconds = getenv("POVTRACK_SOAK_SECONDS");
    const char *seed = getenv("POVTRACK_SOAK_SEED");
    *pl = (struct plan){0, KILLS, 0, 20210623}; /* Directive 05's date */
    if (kills == NULL || *kills == '\0')
        return;
    pl->soak = 1;
    pl->kills = atoi(kills);
    pl->seconds = seconds != NULL && *seconds ? atof(seconds) : 3600;
    pl->seed = seed != NULL && *seed ? (unsigned)strtoul(seed, NULL, 10)
                                     : (unsigned)time(NULL);
    assert_true(pl->kills > 0 && pl->seconds > 0);
    print_message("soak: %d kills within %.0f s, seed %u\n", pl->kills,
                  pl->seconds, pl->seed);
}

/* Kill ingest (then start it again) or the plugin host (its supervisor
 * restarts it), as the plan says, while the publishers go on.  ctest's
 * plan kills at points spread over the run, the host every third time; a
 * soak's picks both at random, until it has killed pl->kills times or its
 * time is up. */
static void run_kills(struct td *d, struct shared *sh, const struct plan *pl,
                      int *kills, int *host_kills)
{
    unsigned seed = pl->seed;
    double deadline = now_s() + pl->seconds;
    int total = pl->soak ? INT_MAX : PUBLISHERS * BATCHES;
    *kills = *host_kills = 0;
    for (int k = 0; k < pl->kills && (!pl->soak || now_s() < deadline); k++) {
        seed = seed * 1103515245u + 12345u;
        int more =
            pl->soak ? (int)((seed >> 16) % 5) : 1 + (int)((seed >> 16) % 4);
        int host = pl->soak ? (seed >> 8) % 3 == 0 : k % 3 == 2;
        if (more > 0)
            assert_int_equal(wait_progress(sh, more, total), 0);
        if (host) {
            /* A soak kills a host that is up: one that answered a ping
             * (the supervisor may be holding back after the last kill). */
            if (pl->soak)
                assert_int_equal(td_wait_ping(d, 60000), 0);
            pid_t pid = td_host_pid(d);
            if (pid > 0 && kill(pid, SIGKILL) == 0)
                (*host_kills)++;
            continue;
        }
        assert_int_equal(kill(d->pid, SIGKILL), 0);
        assert_int_equal(waitpid(d->pid, NULL, 0), d->pid);
        d->pid = 0;
        (*kills)++;
        assert_int_equal(td_start(d, NULL), 0);
    }
}

/* Every acked event is in the log exactly once, sequences run 1..last
 * without a gap, and nothing else is there.  Returns the last sequence. */
/* The voids acked: one per batch after each publisher's first. */
static uint64_t voids_acked(const struct publisher *pubs)
{
    uint64_t n = 0;
    for (int p = 0; p < PUBLISHERS; p++)
        n += pubs[p].acked > 0 ? (uint64_t)pubs[p].acked - 1 : 0;
    return n;
}

static uint64_t audit_log(struct td *d, const struct publisher *pubs)
{
    size_t base[PUBLISHERS + 1] = {0};
    for (int p = 0; p < PUBLISHERS; p++)
        base[p + 1] = base[p] + (size_t)pubs[p].acked * BATCH;
    /* The unit, the donations, the voids. */
    uint64_t expected = 1 + base[PUBLISHERS] + voids_acked(pubs);
    char *seen = calloc(base[PUBLISHERS] + 1, 1);
    char *voided = calloc(base[PUBLISHERS] + 1, 1);
    assert_non_null(seen);
    assert_non_null(voided);
    uint64_t next = 1;
    msgpack_sbuffer sb;
    msgpack_unpacked up;
    for (;;) {
        read_request(&sb, next);
        msgpack_unpacked_init(&up);
        assert_int_equal(td_request_raw(d, sb.data, sb.size, &up, 30000), 0);
        msgpack_sbuffer_destroy(&sb);
        const msgpack_object *recs = td_get(&up.data, "records");
        assert_non_null(recs);
        if (recs->via.array.size == 0) {
            msgpack_unpacked_destroy(&up);
            break;
        }
        for (uint32_t i = 0; i < recs->via.array.size; i++) {
            const msgpack_object *r = &recs->via.array.ptr[i];
            assert_int_equal(td_get(r, "seq")->via.u64, next);
            next++;
            const msgpack_object *id = td_get(td_get(r, "event"), "id");
            int p, b, e;
            char buf[48];
            assert_true(id->via.str.size < sizeof buf);
            memcpy(buf, id->via.str.ptr, id->via.str.size);
            buf[id->via.str.size] = '\0';
            if (strcmp(buf, "unit-60") == 0)
                continue;
            if (buf[0] == 'v') {
                /* The void of batch b's: of p-(b-1)-0, once. */
                assert_int_equal(sscanf(buf, "vp%d-%d", &p, &b), 2);
                if (p < 0 || p >= PUBLISHERS || b < 1 || b >= pubs[p].acked)
                    fail_msg("%s is stored but was never acked", buf);
                size_t slot = base[p] + (size_t)(b - 1) * BATCH;
                if (voided[slot] || !seen[slot])
                    fail_msg("%s is stored twice, or before its target", buf);
                voided[slot] = 1;
                continue;
            }
            assert_int_equal(sscanf(buf, "p%d-%d-%d", &p, &b, &e), 3);
            if (p < 0 || p >= PUBLISHERS || b < 0 || b >= pubs[p].acked ||
                e < 0 || e >= BATCH)
                fail_msg("%s is stored but was never acked", buf);
            size_t slot = base[p] + (size_t)b * BATCH + (size_t)e;
            if (seen[slot])
                fail_msg("%s is stored twice", buf);
            seen[slot] = 1;
        }
        msgpack_unpacked_destroy(&up);
    }
    assert_int_equal(next - 1, expected);
    for (size_t i = 0; i < base[PUBLISHERS]; i++)
        assert_true(seen[i]);
    free(seen);
    free(voided);
    return expected;
}

static void test_kills_lose_nothing_and_duplicate_nothing(void **state)
{
    struct td *d = *state;
    struct plan pl;
    read_plan(&pl);
    double t0 = now_s();

    /* The province the donations name. */
    assert_int_equal(td_define_province(d, "unit-60"), 0);
    msgpack_unpacked up;

    struct shared sh = {.ingest = d->ingest,
                        .zctx = d->zctx,
                        .max_batches = pl.soak ? INT_MAX : BATCHES};
    pthread_mutex_init(&sh.lock, NULL);
    pthread_cond_init(&sh.progress, NULL);
    struct publisher pubs[PUBLISHERS];
    pthread_t threads[PUBLISHERS];
    memset(pubs, 0, sizeof pubs);
    for (int i = 0; i < PUBLISHERS; i++) {
        pubs[i].sh = &sh;
        pubs[i].index = i;
        assert_int_equal(pthread_create(&threads[i], NULL, publish, &pubs[i]),
                         0);
    }

    int kills, host_kills;
    run_kills(d, &sh, &pl, &kills, &host_kills);
    if (pl.soak) {
        pthread_mutex_lock(&sh.lock);
        sh.stop = 1;
        pthread_mutex_unlock(&sh.lock);
    } else {
        assert_int_equal(
            wait_progress(&sh, PUBLISHERS * BATCHES, PUBLISHERS * BATCHES), 0);
    }
    for (int i = 0; i < PUBLISHERS; i++)
        pthread_join(threads[i], NULL);
    double killing = now_s() - t0;

    int resends = 0;
    for (int i = 0; i < PUBLISHERS; i++) {
        if (pubs[i].error[0] != '\0')
            fail_msg("publisher %d: %s", i, pubs[i].error);
        if (!pl.soak)
            assert_int_equal(pubs[i].acked, BATCHES);
        resends += pubs[i].resends;
    }

    /* Audit the log: 1 unit + every acked event exactly once, gapless. */
    uint64_t expected = audit_log(d, pubs);

    /* What every plugin built across host kills and restarts, once it has
     * applied the whole log. */
    static const char *const plugins[] = {
        "poverty",    "fund",      "standard",     "relocation",
        "credit",     "deadlines", "budget",       "production",
        "protection", "donors",    "commendations"};
    size_t nplug = sizeof plugins / sizeof plugins[0];
    char *before[sizeof plugins / sizeof plugins[0]];
    size_t before_len[sizeof plugins / sizeof plugins[0]];
    for (size_t i = 0; i < nplug; i++)
        before[i] = query_bytes(d, plugins[i], expected, &before_len[i]);

    /* The fund plugin counted each donation not voided once, and so did
     * the list of donors. */
    static const char *const counting[] = {"fund", "donors"};
    uint64_t counted = expected - 1 - 2 * voids_acked(pubs);
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(td_query(d, counting[i], 0, expected, &up, 15000), 0);
        assert_int_equal(td_result_u64(&up, "donations"), counted);
        assert_int_equal(td_result_u64(&up, "received"), counted * AMOUNT);
        msgpack_unpacked_destroy(&up);
    }

    /* Each equals a fresh rebuild from the log. */
    for (size_t i = 0; i < nplug; i++)
        rebuild(d, plugins[i]);
    for (size_t i = 0; i < nplug; i++) {
        size_t len;
        char *after = query_bytes(d, plugins[i], expected, &len);
        if (len != before_len[i] || memcmp(after, before[i], len) != 0)
            fail_msg("%s: indicators after the kills differ from a rebuild",
                     plugins[i]);
        free(after);
        free(before[i]);
    }

    print_message("crash test: %d ingest kills, %d plugin host kills, %d "
                  "resent requests, %" PRIu64 " events checked, %zu plugins "
                  "equal to a rebuild\n",
                  kills, host_kills, resends, expected, nplug);
    assert_int_equal(td_stop(d), 0);
    /* The id index matches the log, record for record: povtrack verify
     * walks both (and the plugin cursors). */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        execl(POVTRACK_BIN_DIR "/povtrack", "povtrack", "verify", "-d",
              d->data_dir, (char *)NULL);
        _exit(127);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    pthread_cond_destroy(&sh.progress);
    pthread_mutex_destroy(&sh.lock);
    if (pl.soak) {
        print_message("soak: %.0f s of kills and %.0f s in all, seed %u; "
                      "checks passed: every acked id stored once, sequences "
                      "gapless, fund counts, 6 plugins equal to a rebuild, "
                      "povtrack verify\n",
                      killing, now_s() - t0, pl.seed);
        if (kills + host_kills < pl.kills)
            fail_msg("soak: the time bound came after %d of %d kills",
                     kills + host_kills, pl.kills);
    } else {
        assert_true(kills + host_kills >= KILLS - 1);
    }
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_kills_lose_nothing_and_duplicate_nothing, td_setup_started,
            td_teardown),
    };
    return cmocka_run_group_tests_name("crash", tests, NULL, NULL);
}
