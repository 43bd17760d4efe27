/*
 * test_ops.c - `povtrack backup`, `restore` and `verify`, the real built
 * binary against the real povtrackd.
 *
 * test_backup_while_ingesting: a thread publishes donations to province 62
 * without pause while `povtrack backup` runs; the backup is restored into a
 * fresh directory and a second daemon started on it.  Exact checks:
 *   - `povtrack verify` passes on the running original and on the restored
 *     daemon's data;
 *   - the restored log is the original's log up to the backup's last
 *     sequence L (every acknowledged event with seq <= L is at its seq), L
 *     is the restored daemon's last sequence, and every event acknowledged
 *     before the backup started has seq <= L;
 *   - queries on the subtree of province 60, whose events were all
 *     published before the backup, answer byte for byte the same on both
 *     daemons;
 *   - the fund of province 62 on the restored daemon is exactly the sum of
 *     the concurrent donations with seq <= L: the copied plugin state and
 *     the copied log fit together, neither ahead nor behind.
 *
 * test_refusals: what the commands refuse, and that a failed backup leaves
 * nothing that looks like one.
 *
 * test_backup_keep: `povtrack backup --keep 2 DIR`, run four times in one
 * second: each run prints the new backup's path (povtrack-<UTC stamp>,
 * then -2, -3...), points DIR/latest at it, and leaves the two newest
 * backups; what else DIR holds (a file, a directory named otherwise, one
 * named like a backup but without a manifest) is never touched; `verify`
 * passes on DIR/latest; a backup that fails removes nothing; an old
 * backup holding a file of its own is not removed, and the run says so
 * (exit 1) although its new backup is complete.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <zmq.h>

#include "daemon.h"

#define TIMEOUT_MS 10000
#define HOUSEHOLDS 400      /* per year, in commune 22870 */
#define CONCURRENT_BATCH 50 /* donations per request of the publisher */

/* ---- acknowledged events ---- */

struct ack {
    char id[48];
    uint64_t seq;
    int64_t amount; /* donations of the concurrent publisher */
};

struct acks {
    struct ack *v;
    size_t n, cap;
};

static int acks_push(struct acks *a, const char *id, size_t idlen, uint64_t seq,
                     int64_t amount)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 256;
        void *p = realloc(a->v, cap * sizeof(*a->v));
        if (p == NULL)
            return -1;
        a->v = p;
        a->cap = cap;
    }
    struct ack *e = &a->v[a->n++];
    snprintf(e->id, sizeof(e->id), "%.*s", (int)idlen, id);
    e->seq = seq;
    e->amount = amount;
    return 0;
}

/* ---- packing events ---- */

static void pack_unit(msgpack_packer *pk, const char *code, const char *name,
                      const char *parent, const char *level)
{
    char id[32];
    snprintf(id, sizeof id, "u-%s", code);
    td_pack_event_head(pk, id, "unit.defined", 1609459200, code, NULL);
    msgpack_pack_map(pk, 3);
    td_pack_cstr(pk, "name");
    td_pack_cstr(pk, name);
    td_pack_cstr(pk, "parent");
    if (parent != NULL)
        td_pack_cstr(pk, parent);
    else
        msgpack_pack_nil(pk);
    td_pack_cstr(pk, "level");
    td_pack_cstr(pk, level);
}

static void pack_donation(msgpack_packer *pk, const char *id, const char *unit,
                          const char *level, int64_t amount)
{
    td_pack_event_head(pk, id, "donation.received", 1730000000, unit, NULL);
    msgpack_pack_map(pk, 4);
    td_pack_cstr(pk, "amount");
    msgpack_pack_int64(pk, amount);
    td_pack_cstr(pk, "donor");
    td_pack_cstr(pk, "Cong ty A");
    td_pack_cstr(pk, "donor_kind");
    td_pack_cstr(pk, "business");
    td_pack_cstr(pk, "level");
    td_pack_cstr(pk, level);
}

/* Send one request (n events in sb) over sock and record every ack, which
 * must be "ok".  Returns 0, or -1 with why set (usable from a thread). */
static int send_batch(void *sock, const msgpack_sbuffer *sb, uint32_t n,
                      struct acks *out, const int64_t *amounts, char *why,
                      size_t whylen)
{
    if (zmq_send(sock, "", 0, ZMQ_SNDMORE) < 0 ||
        zmq_send(sock, sb->data, sb->size, 0) < 0) {
        snprintf(why, whylen, "send: %s", zmq_strerror(zmq_errno()));
        return -1;
    }
    zmq_pollitem_t it = {sock, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, TIMEOUT_MS) <= 0) {
        snprintf(why, whylen, "no ack within %d ms", TIMEOUT_MS);
        return -1;
    }
    zmq_msg_t delim, body;
    zmq_msg_init(&delim);
    zmq_msg_init(&body);
    int rc = -1;
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t off = 0;
    if (zmq_msg_recv(&delim, sock, 0) < 0 || zmq_msg_recv(&body, sock, 0) < 0 ||
        msgpack_unpack_next(&up, zmq_msg_data(&body), zmq_msg_size(&body),
                            &off) != MSGPACK_UNPACK_SUCCESS ||
        up.data.type != MSGPACK_OBJECT_ARRAY || up.data.via.array.size != n) {
        snprintf(why, whylen, "bad ack frame");
        goto done;
    }
    for (uint32_t i = 0; i < n; i++) {
        const msgpack_object *a = &up.data.via.array.ptr[i];
        const msgpack_object *st = td_get(a, "status");
        const msgpack_object *seq = td_get(a, "seq");
        const msgpack_object *id = td_get(a, "id");
        if (!td_str_eq(st, "ok") || seq == NULL ||
            seq->type != MSGPACK_OBJECT_POSITIVE_INTEGER || id == NULL ||
            id->type != MSGPACK_OBJECT_STR) {
            const msgpack_object *e = td_get(a, "error");
            snprintf(why, whylen, "ack %u not ok: %.*s", i,
                     e && e->type == MSGPACK_OBJECT_STR ? (int)e->via.str.size
                                                        : 0,
                     e && e->type == MSGPACK_OBJECT_STR ? e->via.str.ptr : "");
            goto done;
        }
        if (acks_push(out, id->via.str.ptr, id->via.str.size, seq->via.u64,
                      amounts ? amounts[i] : 0) != 0) {
            snprintf(why, whylen, "out of memory");
            goto done;
        }
    }
    rc = 0;
done:
    msgpack_unpacked_destroy(&up);
    zmq_msg_close(&delim);
    zmq_msg_close(&body);
    return rc;
}

/* Publish from the test's own thread through the harness's socket. */
static void publish(struct td *d, const msgpack_sbuffer *sb, uint32_t n,
                    struct acks *out)
{
    char why[256] = "";
    if (send_batch(d->ingest_sock, sb, n, out, NULL, why, sizeof why) != 0)
        fail_msg("publish: %s", why);
}

/* Provinces 60 (with district 593 and commune 22870) and 62; households
 * and statuses for 2023 and 2024 in 22870; donations in 593 and 22870.
 * Every event of province 60's subtree is published here, before any
 * backup. */
static void load_fixture(struct td *d, struct acks *out)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    char id[48], hh[32];

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 4);
    pack_unit(&pk, "60", "Tinh Binh Thuan", NULL, "province");
    pack_unit(&pk, "593", "Phan Thiet", "60", "district");
    pack_unit(&pk, "22870", "Phu Thuy", "593", "commune");
    pack_unit(&pk, "62", "Tinh Kon Tum", NULL, "province");
    publish(d, &sb, 4, out);

    for (int year = 2023; year <= 2024; year++) {
        msgpack_sbuffer_clear(&sb);
        msgpack_pack_array(&pk, HOUSEHOLDS + 1);
        snprintf(id, sizeof id, "hh-%d", year);
        td_pack_event_head(&pk, id, "unit.households",
                           year == 2023 ? 1702598400 : 1734220800, "22870",
                           NULL);
        msgpack_pack_map(&pk, 2);
        td_pack_cstr(&pk, "year");
        msgpack_pack_int(&pk, year);
        td_pack_cstr(&pk, "households");
        msgpack_pack_int(&pk, 4 * HOUSEHOLDS);
        for (int h = 0; h < HOUSEHOLDS; h++) {
            /* Some escape in 2024, some fall into poverty. */
            static const char *const st23[] = {"poor", "near_poor", "poor",
                                               "average"};
            static const char *const st24[] = {"near_poor", "near_poor", "poor",
                                               "poor"};
            snprintf(id, sizeof id, "s-%d-%d", h, year);
            snprintf(hh, sizeof hh, "h-%d", h);
            td_pack_event_head(&pk, id, "household.status",
                               year == 2023 ? 1702598400 : 1734220800, "22870",
                               hh);
            msgpack_pack_map(&pk, 2);
            td_pack_cstr(&pk, "year");
            msgpack_pack_int(&pk, year);
            td_pack_cstr(&pk, "status");
            td_pack_cstr(&pk, year == 2023 ? st23[h % 4] : st24[h % 4]);
        }
        publish(d, &sb, HOUSEHOLDS + 1, out);
    }

    msgpack_sbuffer_clear(&sb);
    msgpack_pack_array(&pk, 100);
    for (int i = 0; i < 100; i++) {
        snprintf(id, sizeof id, "d60-%d", i);
        pack_donation(&pk, id, i % 2 ? "593" : "22870",
                      i % 2 ? "district" : "commune", 100000 + i);
    }
    publish(d, &sb, 100, out);
    msgpack_sbuffer_destroy(&sb);
}

/* ---- the concurrent publisher ---- */

struct publisher {
    struct td *d;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;         /* set by the test */
    int done;         /* set by the thread when it ends */
    struct acks acks; /* appended under mu */
    char why[256];    /* why the thread ended early, "" if it did not */
};

static void *publisher_main(void *arg)
{
    struct publisher *p = arg;
    void *sock = td_dealer(p->d, p->d->ingest, NULL, NULL);
    msgpack_sbuffer sb;
    msgpack_packer pk;
    int64_t amounts[CONCURRENT_BATCH];
    char why[256] = "";

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    if (sock == NULL)
        snprintf(why, sizeof why, "cannot connect to the ingest endpoint");
    for (int batch = 0; sock != NULL; batch++) {
        pthread_mutex_lock(&p->mu);
        int stop = p->stop;
        pthread_mutex_unlock(&p->mu);
        if (stop)
            break;
        msgpack_sbuffer_clear(&sb);
        msgpack_pack_array(&pk, CONCURRENT_BATCH);
        for (int i = 0; i < CONCURRENT_BATCH; i++) {
            char id[48];
            snprintf(id, sizeof id, "c62-%d-%d", batch, i);
            amounts[i] = 1000 + batch * CONCURRENT_BATCH + i;
            pack_donation(&pk, id, "62", "province", amounts[i]);
        }
        struct acks got = {NULL, 0, 0};
        int rc = send_batch(sock, &sb, CONCURRENT_BATCH, &got, amounts, why,
                            sizeof why);
        pthread_mutex_lock(&p->mu);
        for (size_t i = 0; rc == 0 && i < got.n; i++)
            if (acks_push(&p->acks, got.v[i].id, strlen(got.v[i].id),
                          got.v[i].seq, got.v[i].amount) != 0) {
                snprintf(why, sizeof why, "out of memory");
                rc = -1;
            }
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
        free(got.v);
        if (rc != 0)
            break;
    }
    if (sock != NULL)
        zmq_close(sock);
    msgpack_sbuffer_destroy(&sb);
    pthread_mutex_lock(&p->mu);
    snprintf(p->why, sizeof p->why, "%s", why);
    p->done = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* Wait until the publisher has at least n acks (or ended); returns how
 * many it has. */
static size_t publisher_wait(struct publisher *p, size_t n)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += TIMEOUT_MS / 1000;
    pthread_mutex_lock(&p->mu);
    while (p->acks.n < n && !p->done &&
           pthread_cond_timedwait(&p->cv, &p->mu, &deadline) == 0)
        ;
    size_t got = p->acks.n;
    pthread_mutex_unlock(&p->mu);
    return got;
}

static size_t publisher_count(struct publisher *p)
{
    pthread_mutex_lock(&p->mu);
    size_t n = p->acks.n;
    pthread_mutex_unlock(&p->mu);
    return n;
}

/* ---- running the CLI ---- */

/* Run the CLI and require exit status want; returns its stdout in out. */
static void expect_cli(const char *tmpdir, int want, const char *const *args,
                       char *out, size_t outlen)
{
    char err[4096];
    int rc = td_cli_run(tmpdir, args, out, outlen, err, sizeof err);
    if (rc != want)
        fail_msg("povtrack %s %s: exit %d, wanted %d\nstdout: %s\nstderr: %s",
                 args[0], args[1] ? args[1] : "", rc, want, out, err);
}

static void expect_cli_err(const char *tmpdir, int want,
                           const char *const *args, const char *err_part)
{
    char out[4096], err[4096];
    int rc = td_cli_run(tmpdir, args, out, sizeof out, err, sizeof err);
    if (rc != want || strstr(err, err_part) == NULL)
        fail_msg("povtrack %s: exit %d, wanted %d with \"%s\" on stderr\n"
                 "stdout: %s\nstderr: %s",
                 args[0], rc, want, err_part, out, err);
}

static uint64_t manifest_last_seq(const char *backup)
{
    char path[400], line[512];
    snprintf(path, sizeof path, "%s/manifest", backup);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    uint64_t seq = 0;
    bool found = false;
    while (fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "last_seq %" SCNu64, &seq) == 1)
            found = true;
    fclose(f);
    assert_true(found);
    return seq;
}

/* ---- queries ---- */

/* The raw msgpack "result" of a plugin query once min_seq is applied. */
static char *query_result(struct td *d, const char *plugin, const char *unit,
                          int year, uint64_t min_seq, size_t *len)
{
    msgpack_sbuffer q;
    msgpack_packer pk;
    char why[256];
    msgpack_sbuffer_init(&q);
    msgpack_packer_init(&pk, &q, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, year ? 2 : 1);
    td_pack_cstr(&pk, "unit");
    td_pack_cstr(&pk, unit);
    if (year) {
        td_pack_cstr(&pk, "year");
        msgpack_pack_int(&pk, year);
    }
    char *res = td_query_packed(d, plugin, q.data, q.size, min_seq, TIMEOUT_MS,
                                len, why, sizeof why);
    msgpack_sbuffer_destroy(&q);
    if (res == NULL)
        fail_msg("query %s %s failed: %s", plugin, unit, why);
    return res;
}

static int64_t result_i64(const char *res, size_t len, const char *key)
{
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t off = 0;
    assert_int_equal(msgpack_unpack_next(&up, res, len, &off),
                     MSGPACK_UNPACK_SUCCESS);
    const msgpack_object *v = td_get(&up.data, key);
    assert_non_null(v);
    int64_t r = v->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? (int64_t)v->via.u64
                                                           : v->via.i64;
    msgpack_unpacked_destroy(&up);
    return r;
}

static uint64_t stats_last_seq(struct td *d)
{
    static const unsigned char req[] = {0x81, 0xa2, 'o', 'p', 0xa5,
                                        's',  't',  'a', 't', 's'};
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    assert_int_equal(td_request_raw(d, req, sizeof req, &up, TIMEOUT_MS), 0);
    const msgpack_object *s = td_get(&up.data, "last_seq");
    assert_non_null(s);
    uint64_t seq = s->via.u64;
    msgpack_unpacked_destroy(&up);
    return seq;
}

/* ids[seq - 1] of records 1..last of d's log (read op, paged); caller
 * frees each and the array. */
static char **read_ids(struct td *d, uint64_t last)
{
    char **ids = calloc(last + 1, sizeof(*ids));
    assert_non_null(ids);
    uint64_t from = 1;
    while (from <= last) {
        msgpack_sbuffer sb;
        msgpack_packer pk;
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        msgpack_pack_map(&pk, 3);
        td_pack_cstr(&pk, "op");
        td_pack_cstr(&pk, "read");
        td_pack_cstr(&pk, "from");
        msgpack_pack_uint64(&pk, from);
        td_pack_cstr(&pk, "limit");
        msgpack_pack_int(&pk, 10000);
        msgpack_unpacked up;
        msgpack_unpacked_init(&up);
        assert_int_equal(td_request_raw(d, sb.data, sb.size, &up, TIMEOUT_MS),
                         0);
        msgpack_sbuffer_destroy(&sb);
        const msgpack_object *recs = td_get(&up.data, "records");
        assert_non_null(recs);
        assert_int_equal(recs->type, MSGPACK_OBJECT_ARRAY);
        assert_true(recs->via.array.size > 0);
        for (uint32_t i = 0; i < recs->via.array.size; i++) {
            const msgpack_object *r = &recs->via.array.ptr[i];
            uint64_t seq = td_get(r, "seq")->via.u64;
            const msgpack_object *id = td_get(td_get(r, "event"), "id");
            assert_int_equal(seq, from);
            assert_non_null(id);
            if (seq <= last)
                ids[seq - 1] = strndup(id->via.str.ptr, id->via.str.size);
            from++;
        }
        msgpack_unpacked_destroy(&up);
    }
    return ids;
}

/* Whether d's plugins have applied seq (a query that waits for it);
 * asserts nothing, for use while the publisher thread runs. */
static bool applied(struct td *d, uint64_t seq)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 4);
    td_pack_cstr(&pk, "op");
    td_pack_cstr(&pk, "query");
    td_pack_cstr(&pk, "plugin");
    td_pack_cstr(&pk, "fund");
    td_pack_cstr(&pk, "q");
    msgpack_pack_map(&pk, 1);
    td_pack_cstr(&pk, "unit");
    td_pack_cstr(&pk, "62");
    td_pack_cstr(&pk, "min_seq");
    msgpack_pack_uint64(&pk, seq);
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    bool ok = td_request_raw(d, sb.data, sb.size, &up, TIMEOUT_MS) == 0;
    const msgpack_object *o = ok ? td_get(&up.data, "ok") : NULL;
    ok = o != NULL && o->type == MSGPACK_OBJECT_BOOLEAN && o->via.boolean;
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_destroy(&sb);
    return ok;
}

/* ---- fixture ---- */

struct ops {
    char tmp[64]; /* /tmp/ops-XXXXXX: backups, CLI output */
    struct td orig;
    struct td restored;
};

static int setup(void **state)
{
    struct ops *o = calloc(1, sizeof *o);
    if (o == NULL)
        return -1;
    snprintf(o->tmp, sizeof o->tmp, "/tmp/ops-XXXXXX");
    if (mkdtemp(o->tmp) == NULL || td_init(&o->orig) != 0 ||
        td_init(&o->restored) != 0 || td_start(&o->orig, NULL) != 0) {
        td_destroy(&o->orig);
        td_destroy(&o->restored);
        free(o);
        return -1;
    }
    *state = o;
    return 0;
}

static int teardown(void **state)
{
    struct ops *o = *state;
    td_destroy(&o->restored);
    td_destroy(&o->orig);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", o->tmp);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", o->tmp);
    free(o);
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* What happened while `povtrack backup` was held between its copies. */
struct pause {
    uint64_t applied_seq; /* the original's plugins had applied this */
    char why[256];        /* "" unless the pause went wrong */
};

/*
 * Run `povtrack backup` of the original into backup with copy_pause.so
 * preloaded: after its first copy it waits while the publisher gets two
 * more requests acknowledged and the original's plugins apply them, then
 * goes on.  Asserts nothing (the publisher thread is running); returns the
 * exit status, with pz->why set if the pause itself failed.
 */
static int backup_paused(struct ops *o, const char *backup, struct publisher *p,
                         struct pause *pz, char *out, size_t outlen, char *err,
                         size_t errlen)
{
    int to_test[2], to_cli[2];
    char fds[64], asan[512];
    const char *prev = getenv("ASAN_OPTIONS");

    if (pipe(to_test) != 0 || pipe(to_cli) != 0) {
        snprintf(pz->why, sizeof pz->why, "pipe: %s", strerror(errno));
        return -1;
    }
    snprintf(fds, sizeof fds, "OPS_COPY_PAUSE_FDS=%d,%d", to_test[1],
             to_cli[0]);
    /* An ASan build checks that its runtime is loaded first; the shim is
     * preloaded before it. */
    snprintf(asan, sizeof asan, "ASAN_OPTIONS=%s%sverify_asan_link_order=0",
             prev ? prev : "", prev && prev[0] ? ":" : "");
    const char *env[] = {fds, "LD_PRELOAD=" COPY_PAUSE_SO, asan, NULL};
    struct td_cli r;
    int rc = td_cli_start(
        &r, o->tmp,
        (const char *[]){"backup", "-d", o->orig.data_dir, backup, NULL}, env);
    close(to_test[1]);
    close(to_cli[0]);
    char c = 'g';
    struct pollfd pf = {to_test[0], POLLIN, 0};
    if (rc != 0) {
        snprintf(pz->why, sizeof pz->why, "cannot start povtrack");
    } else if (poll(&pf, 1, TIMEOUT_MS) != 1 || read(to_test[0], &c, 1) != 1) {
        snprintf(pz->why, sizeof pz->why,
                 "the backup did not pause after its first copy (is %s "
                 "preloaded?)\n",
                 COPY_PAUSE_SO);
    } else {
        size_t n = publisher_count(p);
        if (publisher_wait(p, n + 2 * CONCURRENT_BATCH) <
            n + 2 * CONCURRENT_BATCH) {
            snprintf(pz->why, sizeof pz->why, "no acks during the pause");
        } else {
            pthread_mutex_lock(&p->mu);
            pz->applied_seq = p->acks.v[p->acks.n - 1].seq;
            pthread_mutex_unlock(&p->mu);
            if (!applied(&o->orig, pz->applied_seq))
                snprintf(pz->why, sizeof pz->why,
                         "the plugins did not apply seq %" PRIu64,
                         pz->applied_seq);
        }
    }
    /* Go on (or, closed, let the copy go on anyway). */
    if (write(to_cli[1], &c, 1) != 1 && pz->why[0] == '\0')
        snprintf(pz->why, sizeof pz->why, "cannot resume the backup");
    close(to_cli[1]);
    close(to_test[0]);
    return rc == 0 ? td_cli_wait(&r, out, outlen, err, errlen) : -1;
}

/* ---- tests ---- */

static void test_backup_while_ingesting(void **state)
{
    struct ops *o = *state;
    struct acks fixture = {NULL, 0, 0};
    char out[8192], backup[128];
    double t0 = now_s();

    load_fixture(&o->orig, &fixture);
    uint64_t fixture_last = fixture.v[fixture.n - 1].seq;

    struct publisher p = {.d = &o->orig};
    pthread_mutex_init(&p.mu, NULL);
    pthread_cond_init(&p.cv, NULL);
    assert_int_equal(pthread_create(&p.thread, NULL, publisher_main, &p), 0);
    /* Handshake: the publisher is acknowledged before the backup starts.
     * Nothing is asserted until the thread is joined: a failed assertion
     * would leave it running on this stack frame. */
    bool started =
        publisher_wait(&p, 4 * CONCURRENT_BATCH) >= 4 * CONCURRENT_BATCH;
    snprintf(backup, sizeof backup, "%s/backup", o->tmp);
    size_t acked_before = publisher_count(&p);
    double tb = now_s();
    char berr[4096], vout[4096], verr[4096];
    struct pause pz = {0};
    int brc = started ? backup_paused(o, backup, &p, &pz, out, sizeof out, berr,
                                      sizeof berr)
                      : -1;
    double backup_s = now_s() - tb;
    size_t acked_after = publisher_count(&p);
    /* verify on the running original, still ingesting. */
    int vrc = started ? td_cli_run(o->tmp,
                                   (const char *[]){"verify", "-d",
                                                    o->orig.data_dir, NULL},
                                   vout, sizeof vout, verr, sizeof verr)
                      : -1;
    /* More events after the backup, so the original holds some past the
     * backup's last sequence. */
    if (started)
        publisher_wait(&p, acked_after + 2 * CONCURRENT_BATCH);
    pthread_mutex_lock(&p.mu);
    p.stop = 1;
    pthread_mutex_unlock(&p.mu);
    assert_int_equal(pthread_join(p.thread, NULL), 0);
    if (p.why[0] != '\0' || !started)
        fail_msg("publisher: %s", p.why[0] ? p.why : "no acks");
    if (brc != 0 || pz.why[0] != '\0')
        fail_msg("backup: exit %d: %s%s", brc, pz.why, berr);
    if (vrc != 0 || strstr(vout, "verify OK") == NULL)
        fail_msg("verify on the running daemon: exit %d:\n%s%s", vrc, vout,
                 verr);
    fprintf(stderr,
            "backup took %.3f s; concurrent donations acked: %zu before it, "
            "%zu while it ran, %zu in all\n",
            backup_s, acked_before, acked_after - acked_before, p.acks.n);

    uint64_t last = manifest_last_seq(backup);
    /* Every event acknowledged before the backup started is in it. */
    assert_true(last >= fixture_last);
    for (size_t i = 0; i < acked_before; i++)
        assert_true(p.acks.v[i].seq <= last);
    /* The first copy (the state) predates the pause, the second (the log)
     * follows it: the log copy holds what the plugins applied during the
     * pause, the state copy does not, and the restored plugin host has to
     * catch up from the lowest cursor to last.  Copied the other way
     * round, the state would be ahead of the log and the backup would have
     * failed its own check. */
    const char *lowest = strstr(berr, "lowest ");
    assert_non_null(lowest);
    uint64_t min_cursor = strtoull(lowest + 7, NULL, 10);
    assert_true(last >= pz.applied_seq);
    assert_true(min_cursor < pz.applied_seq);

    /* Restore into a fresh directory and start a daemon on it. */
    expect_cli(o->tmp, 0,
               (const char *[]){"restore", backup, o->restored.data_dir, NULL},
               out, sizeof out);
    assert_int_equal(td_start(&o->restored, NULL), 0);
    assert_int_equal(stats_last_seq(&o->restored), last);
    expect_cli(o->tmp, 0,
               (const char *[]){"verify", "-d", o->restored.data_dir, NULL},
               out, sizeof out);
    assert_non_null(strstr(out, "OK   cursors: 11 plugins"));

    /* The restored log is the original's up to last. */
    char **ids = read_ids(&o->restored, last);
    struct acks *sets[2] = {&fixture, &p.acks};
    size_t matched = 0;
    for (int s = 0; s < 2; s++)
        for (size_t i = 0; i < sets[s]->n; i++) {
            const struct ack *a = &sets[s]->v[i];
            if (a->seq > last)
                continue;
            assert_non_null(ids[a->seq - 1]);
            assert_string_equal(ids[a->seq - 1], a->id);
            matched++;
        }
    /* Every record of the backup was acknowledged to this test. */
    assert_int_equal(matched, last);
    for (uint64_t i = 0; i < last; i++)
        free(ids[i]);
    free(ids);

    /* Province 60's answers: every event of its subtree precedes the
     * backup, so both daemons must give the same bytes. */
    uint64_t orig_last = stats_last_seq(&o->orig);
    assert_true(orig_last > last);
    static const struct {
        const char *plugin, *unit;
        int year;
    } qs[] = {{"poverty", "60", 2024}, {"poverty", "22870", 2023},
              {"fund", "60", 0},       {"fund", "593", 0},
              {"credit", "60", 0},     {"relocation", "60", 0}};
    for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
        size_t l1, l2;
        char *a = query_result(&o->orig, qs[i].plugin, qs[i].unit, qs[i].year,
                               orig_last, &l1);
        char *b = query_result(&o->restored, qs[i].plugin, qs[i].unit,
                               qs[i].year, last, &l2);
        if (l1 != l2 || memcmp(a, b, l1) != 0)
            fail_msg("query %s %s differs between the original and the "
                     "restored daemon",
                     qs[i].plugin, qs[i].unit);
        free(a);
        free(b);
    }
    size_t len;
    char *res = query_result(&o->restored, "poverty", "60", 2024, last, &len);
    assert_int_equal(result_i64(res, len, "households"), 4 * HOUSEHOLDS);
    assert_int_equal(result_i64(res, len, "poor"), HOUSEHOLDS / 2);
    free(res);

    /* Province 62 on the restored daemon: exactly the donations up to
     * last, counted once. */
    int64_t sum = 0, count = 0, sum_all = 0;
    for (size_t i = 0; i < p.acks.n; i++) {
        sum_all += p.acks.v[i].amount;
        if (p.acks.v[i].seq <= last) {
            sum += p.acks.v[i].amount;
            count++;
        }
    }
    res = query_result(&o->restored, "fund", "62", 0, last, &len);
    assert_int_equal(result_i64(res, len, "received"), sum);
    assert_int_equal(result_i64(res, len, "donations"), count);
    free(res);
    res = query_result(&o->orig, "fund", "62", 0, orig_last, &len);
    assert_int_equal(result_i64(res, len, "received"), sum_all);
    free(res);

    free(p.acks.v);
    free(fixture.v);
    pthread_mutex_destroy(&p.mu);
    pthread_cond_destroy(&p.cv);
    fprintf(stderr, "test_backup_while_ingesting: %.1f s\n", now_s() - t0);
}

static void make_dir_with(const char *dir, const char *file)
{
    char path[400];
    assert_int_equal(mkdir(dir, 0700), 0);
    snprintf(path, sizeof path, "%s/%s", dir, file);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fclose(f);
}

static bool exists(const char *path)
{
    struct stat sb;
    return lstat(path, &sb) == 0;
}

/* Names in dir starting with prefix. */
static int count_prefixed(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        n += strncmp(de->d_name, prefix, strlen(prefix)) == 0;
    closedir(d);
    return n;
}

static void test_refusals(void **state)
{
    struct ops *o = *state;
    struct acks fixture = {NULL, 0, 0};
    char out[8192], a[128], b[128], x[128], y[128], dest[128], path[400],
        path2[400];
    double t0 = now_s();

    load_fixture(&o->orig, &fixture);
    uint64_t last_a = fixture.v[fixture.n - 1].seq;
    snprintf(a, sizeof a, "%s/a", o->tmp);
    expect_cli(o->tmp, 0,
               (const char *[]){"backup", "-d", o->orig.data_dir, a, NULL}, out,
               sizeof out);
    assert_int_equal(manifest_last_seq(a), last_a);

    /* Usage and unreadable data. */
    expect_cli_err(o->tmp, 2, (const char *[]){"verify", "extra", NULL},
                   "unexpected argument");
    expect_cli_err(o->tmp, 2, (const char *[]){"backup", NULL}, "DEST_DIR");
    expect_cli_err(o->tmp, 2, (const char *[]){"restore", a, NULL},
                   "BACKUP_DIR and DATA_DIR");
    snprintf(path, sizeof path, "%s/nothing", o->tmp);
    expect_cli_err(o->tmp, 3, (const char *[]){"verify", "-d", path, NULL},
                   "nothing/log");
    snprintf(dest, sizeof dest, "%s/never", o->tmp);
    expect_cli_err(o->tmp, 3,
                   (const char *[]){"backup", "-d", path, dest, NULL},
                   "nothing/log");
    assert_false(exists(dest));
    expect_cli_err(o->tmp, 3, (const char *[]){"restore", path, dest, NULL},
                   "manifest");
    assert_false(exists(dest));

    /* A missing parent is said as such, naming DEST as given (not the
     * temporary directory beside it); nothing is made. */
    snprintf(dest, sizeof dest, "%s/missing/b", o->tmp);
    expect_cli_err(
        o->tmp, 1,
        (const char *[]){"backup", "-d", o->orig.data_dir, dest, NULL},
        "missing/b: cannot create: the directory");
    expect_cli_err(o->tmp, 1,
                   (const char *[]){"backup", "-d", o->orig.data_dir, "--keep",
                                    "2", dest, NULL},
                   "missing does not exist (create it first)");
    snprintf(path, sizeof path, "%s/missing", o->tmp);
    assert_false(exists(path));

    /* A backup is never written over anything. */
    expect_cli_err(o->tmp, 1,
                   (const char *[]){"backup", "-d", o->orig.data_dir, a, NULL},
                   "not empty");

    /* Restore refuses the running daemon's directory, and a non-empty one
     * without --force. */
    expect_cli_err(o->tmp, 1,
                   (const char *[]){"restore", a, o->orig.data_dir, NULL},
                   "is running on");
    snprintf(x, sizeof x, "%s/x", o->tmp);
    make_dir_with(x, "keep-me");
    expect_cli_err(o->tmp, 1, (const char *[]){"restore", a, x, NULL},
                   "not empty");
    /* That was refused: nothing was written. */
    snprintf(path, sizeof path, "%s/log", x);
    assert_false(exists(path));
    expect_cli(o->tmp, 0, (const char *[]){"restore", "--force", a, x, NULL},
               out, sizeof out);
    assert_true(exists(path));
    snprintf(path, sizeof path, "%s/keep-me", x);
    assert_true(exists(path));
    /* A second forced restore keeps the first one's data aside. */
    expect_cli(o->tmp, 0, (const char *[]){"restore", "--force", a, x, NULL},
               out, sizeof out);
    assert_int_equal(count_prefixed(x, "log.replaced-"), 1);
    assert_int_equal(count_prefixed(x, "state.replaced-"), 1);
    assert_int_equal(count_prefixed(x, ".restore-"), 0);
    /* A plugin host that outlived its povtrackd holds host.lock: refused
     * too, and nothing is moved. */
    snprintf(path, sizeof path, "%s/host.lock", x);
    int hl = open(path, O_RDWR | O_CREAT, 0600);
    assert_true(hl >= 0);
    assert_int_equal(flock(hl, LOCK_EX | LOCK_NB), 0);
    expect_cli_err(o->tmp, 1,
                   (const char *[]){"restore", "--force", a, x, NULL},
                   "plugin host still runs");
    close(hl);
    assert_int_equal(count_prefixed(x, "log.replaced-"), 1);

    /* A manifest that does not match its log. */
    snprintf(b, sizeof b, "%s/b", o->tmp);
    expect_cli(o->tmp, 0,
               (const char *[]){"backup", "-d", o->orig.data_dir, b, NULL}, out,
               sizeof out);
    snprintf(path, sizeof path, "%s/manifest", b);
    FILE *f = fopen(path, "a");
    assert_non_null(f);
    fprintf(f, "last_seq %" PRIu64 "\n", last_a + 1);
    fclose(f);
    snprintf(y, sizeof y, "%s/y", o->tmp);
    expect_cli_err(o->tmp, 3, (const char *[]){"restore", b, y, NULL},
                   "manifest says");
    assert_false(exists(y));

    /* A data directory whose plugin state is ahead of its log: A's log with
     * the state of a later backup C, taken once the plugins applied more. */
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 10);
    for (int i = 0; i < 10; i++) {
        char id[32];
        snprintf(id, sizeof id, "late-%d", i);
        pack_donation(&pk, id, "62", "province", 5000 + i);
    }
    publish(&o->orig, &sb, 10, &fixture);
    msgpack_sbuffer_destroy(&sb);
    uint64_t last_c = fixture.v[fixture.n - 1].seq;
    size_t len;
    free(query_result(&o->orig, "fund", "62", 0, last_c, &len));
    char c[128];
    snprintf(c, sizeof c, "%s/c", o->tmp);
    expect_cli(o->tmp, 0,
               (const char *[]){"backup", "-d", o->orig.data_dir, c, NULL}, out,
               sizeof out);
    snprintf(y, sizeof y, "%s/y", o->tmp);
    expect_cli(o->tmp, 0, (const char *[]){"restore", c, y, NULL}, out,
               sizeof out);
    snprintf(path, sizeof path, "%s/x/state", o->tmp);
    snprintf(path2, sizeof path2, "%s/y/state", o->tmp);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(rename(path2, path), 0);
    expect_cli(o->tmp, 1, (const char *[]){"verify", "-d", x, NULL}, out,
               sizeof out);
    if (strstr(out, "FAIL cursors") == NULL ||
        strstr(out, "OK   sequence") == NULL ||
        strstr(out, "verify FAIL: 1 of 6") == NULL)
        fail_msg("verify on a state ahead of its log printed:\n%s", out);
    /* The same as one JSON object: the failed check named, the others ok. */
    expect_cli(o->tmp, 1, (const char *[]){"verify", "-d", x, "--json", NULL},
               out, sizeof out);
    if (strstr(out, "\"ok\":false") == NULL ||
        strstr(out, "{\"check\":\"cursors\",\"ok\":false") == NULL ||
        strstr(out, "{\"check\":\"units\",\"ok\":true") == NULL)
        fail_msg("verify --json on a state ahead of its log printed:\n%s", out);
    /* Backing it up fails after copying, and leaves nothing behind that
     * could pass for a backup. */
    snprintf(dest, sizeof dest, "%s/d", o->tmp);
    expect_cli_err(o->tmp, 1, (const char *[]){"backup", "-d", x, dest, NULL},
                   "ahead of the log");
    assert_false(exists(dest));
    assert_int_equal(count_prefixed(o->tmp, "d.tmp-"), 0);

    free(fixture.v);
    fprintf(stderr, "test_refusals: %.1f s\n", now_s() - t0);
}

/* The target of the symbolic link path, or "" when it is none. */
static void read_link(const char *path, char *buf, size_t cap)
{
    ssize_t n = readlink(path, buf, cap - 1);
    buf[n > 0 ? n : 0] = '\0';
}

/* One `backup --keep 2` of the original into dir: its stdout, the new
 * backup's path, into made. */
static void backup_keep(struct ops *o, const char *dir, char *made, size_t cap)
{
    expect_cli(o->tmp, 0,
               (const char *[]){"backup", "-d", o->orig.data_dir, "--keep", "2",
                                dir, NULL},
               made, cap);
    made[strcspn(made, "\n")] = '\0';
    char link[400], want[400];
    snprintf(link, sizeof link, "%s/latest", dir);
    read_link(link, want, sizeof want);
    const char *base = strrchr(made, '/');
    assert_non_null(base);
    assert_string_equal(want, base + 1);
    assert_true(manifest_last_seq(made) > 0);
}

static void test_backup_keep(void **state)
{
    struct ops *o = *state;
    struct acks fixture = {NULL, 0, 0};
    char dir[128], made[4][400], path[512], out[4096];

    load_fixture(&o->orig, &fixture);
    free(fixture.v);
    /* The operator's own things in the backup directory. */
    snprintf(dir, sizeof dir, "%s/rotated", o->tmp);
    make_dir_with(dir, "notes.txt");
    snprintf(path, sizeof path, "%s/povtrack-manual", dir);
    make_dir_with(path, "manifest");
    snprintf(path, sizeof path, "%s/povtrack-20000101T000000Z", dir);
    make_dir_with(path, "something");

    for (int i = 0; i < 3; i++)
        backup_keep(o, dir, made[i], sizeof made[i]);
    assert_false(exists(made[0]));
    assert_true(exists(made[1]));
    assert_true(exists(made[2]));
    /* Distinct names, even within one second. */
    assert_string_not_equal(made[1], made[2]);
    snprintf(path, sizeof path, "%s/notes.txt", dir);
    assert_true(exists(path));
    snprintf(path, sizeof path, "%s/povtrack-manual/manifest", dir);
    assert_true(exists(path));
    snprintf(path, sizeof path, "%s/povtrack-20000101T000000Z/something", dir);
    assert_true(exists(path));
    snprintf(path, sizeof path, "%s/latest", dir);
    expect_cli(o->tmp, 0, (const char *[]){"verify", "-d", path, NULL}, out,
               sizeof out);
    if (strstr(out, "verify OK") == NULL)
        fail_msg("verify on %s printed:\n%s", path, out);

    /* A backup that fails removes nothing, and latest stays. */
    snprintf(path, sizeof path, "%s/nothing", o->tmp);
    expect_cli_err(
        o->tmp, 3,
        (const char *[]){"backup", "-d", path, "--keep", "1", dir, NULL},
        "nothing/log");
    assert_true(exists(made[1]));
    assert_true(exists(made[2]));
    expect_cli_err(o->tmp, 2,
                   (const char *[]){"backup", "-d", o->orig.data_dir, "--keep",
                                    "0", dir, NULL},
                   "at least 1");

    /* An old backup with a file of its own stays; the run says so. */
    snprintf(path, sizeof path, "%s/extra", made[1]);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fclose(f);
    expect_cli_err(o->tmp, 1,
                   (const char *[]){"backup", "-d", o->orig.data_dir, "--keep",
                                    "2", dir, NULL},
                   "could not be removed");
    assert_true(exists(path));
    assert_true(exists(made[2]));
    snprintf(path, sizeof path, "%s/latest", dir);
    read_link(path, made[3], sizeof made[3]);
    assert_string_not_equal(made[3], strrchr(made[2], '/') + 1);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_backup_while_ingesting, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backup_keep, setup, teardown),
    };
    return cmocka_run_group_tests_name("integration_ops", tests, NULL, NULL);
}
