/*
 * test_revocation.c - a key revoked by a registry reload (SIGHUP) loses its
 * rights at once, on connections opened before the reload too: requests on
 * ingest and query, queries parked for min_seq, alert subscriptions; rights
 * narrowed apply at once; refused keys are logged once a minute each even
 * when several take turns; a broken registry is not reported as reloaded.
 *
 * Against the real daemon with CURVE.  Every wait is a handshake bounded
 * by a timeout: a reload is known done when a key that only the new
 * registry has passes the handshake of a new connection (the client
 * socket's monitor says so, as it says when a key is refused), a log line
 * when inotify shows it written.  The only timed waits are the polls that
 * prove that NO alert comes.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <zmq.h>

#include "daemon.h"

#define TIMEOUT_MS 10000 /* any reply that must come */
#define SILENCE_MS 1500  /* how long we watch for an alert that must not */
#define LARGE 200000000  /* VND: raises fund.large_donation */

/* ---- fixture ---------------------------------------------------------- */

struct fixture {
    struct td d;
    void *socks[32]; /* closed before the harness's context ends */
    size_t nsocks;
    unsigned monitors; /* socket monitors made, for their names */
    unsigned reloads;  /* registries written, for the probes' names */
};

struct key {
    char pub[41], sec[41];
};

static void keygen(struct key *k)
{
    assert_int_equal(zmq_curve_keypair(k->pub, k->sec), 0);
}

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
    for (size_t i = 0; i < f->nsocks; i++)
        if (f->socks[i] != NULL)
            zmq_close(f->socks[i]);
    td_destroy(&f->d);
    free(f);
    return 0;
}

static void *track(struct fixture *f, void *s)
{
    assert_non_null(s);
    for (size_t i = 0; i < f->nsocks; i++)
        if (f->socks[i] == NULL) {
            f->socks[i] = s;
            return s;
        }
    assert_true(f->nsocks < sizeof f->socks / sizeof f->socks[0]);
    f->socks[f->nsocks++] = s;
    return s;
}

/* Close a tracked socket now. */
static void untrack(struct fixture *f, void *s)
{
    for (size_t i = 0; i < f->nsocks; i++)
        if (f->socks[i] == s) {
            zmq_close(s);
            f->socks[i] = NULL;
        }
}

static void *dealer(struct fixture *f, const char *ep, const char *pub,
                    const char *sec)
{
    return track(f, td_dealer(&f->d, ep, pub, sec));
}

/* Start the daemon with CURVE, the registry being tester plus reg, its log
 * captured; level "warn" or "info". */
static void start(struct fixture *f, const char *reg, const char *level)
{
    struct td *d = &f->d;
    assert_int_equal(td_curve_setup(d, reg, NULL), 0);
    assert_int_equal(
        td_start_logged(
            d, (const char *[]){"-c", d->config, "--log-level", level, NULL}),
        0);
    assert_int_equal(td_define_province(d, "u-60"), 0);
}

/* ---- requests and replies --------------------------------------------- */

static void assert_contains(const char *hay, const char *needle)
{
    if (strstr(hay, needle) == NULL)
        fail_msg("\"%s\" does not contain \"%s\"", hay, needle);
}

static void copy_str(const msgpack_object *o, char *buf, size_t cap)
{
    assert_int_equal(td_str_copy(o, buf, cap), 0);
}

static void call(void *sock, const msgpack_sbuffer *sb, msgpack_unpacked *up)
{
    msgpack_unpacked_init(up);
    if (td_call(sock, sb->data, sb->size, up, TIMEOUT_MS) != 0)
        fail_msg("no reply within %d ms", TIMEOUT_MS);
}

/* Publish one donation of amount VND, id "<prefix>-<n>-0", on sock; the
 * reply is one ack, left in up. */
static void publish(void *sock, const char *prefix, int n, int64_t amount,
                    msgpack_unpacked *up)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    td_pack_donations(&sb, prefix, n, 1, amount);
    call(sock, &sb, up);
    msgpack_sbuffer_destroy(&sb);
    assert_int_equal(up->data.type, MSGPACK_OBJECT_ARRAY);
    assert_int_equal(up->data.via.array.size, 1);
}

/* The same, which must be stored: its sequence. */
static uint64_t publish_ok(void *sock, const char *prefix, int n,
                           int64_t amount)
{
    msgpack_unpacked up;
    publish(sock, prefix, n, amount, &up);
    const msgpack_object *ack = &up.data.via.array.ptr[0];
    if (!td_str_eq(td_get(ack, "status"), "ok")) {
        char err[512] = "";
        if (td_get(ack, "error") != NULL)
            copy_str(td_get(ack, "error"), err, sizeof err);
        fail_msg("%s-%d: not stored: %s", prefix, n, err);
    }
    uint64_t seq = td_get(ack, "seq")->via.u64;
    msgpack_unpacked_destroy(&up);
    return seq;
}

/* The same, which must be rejected: the error, in err. */
static void publish_rejected(void *sock, const char *prefix, int n, char *err,
                             size_t cap)
{
    msgpack_unpacked up;
    publish(sock, prefix, n, 1000000, &up);
    const msgpack_object *ack = &up.data.via.array.ptr[0];
    assert_true(td_str_eq(td_get(ack, "status"), "rejected"));
    assert_null(td_get(ack, "seq"));
    copy_str(td_get(ack, "error"), err, cap);
    msgpack_unpacked_destroy(&up);
}

/* A query request: op, and for "query" the fund plugin for province 60,
 * with min_seq when not 0. */
static void pack_request(msgpack_sbuffer *sb, const char *op, uint64_t min_seq)
{
    msgpack_sbuffer_init(sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    int query = strcmp(op, "query") == 0;
    msgpack_pack_map(&pk, 1 + (query ? 2 : 0) + (min_seq ? 1 : 0));
    td_pack_cstr(&pk, "op");
    td_pack_cstr(&pk, op);
    if (query) {
        td_pack_cstr(&pk, "plugin");
        td_pack_cstr(&pk, "fund");
        td_pack_cstr(&pk, "q");
        msgpack_pack_map(&pk, 1);
        td_pack_cstr(&pk, "unit");
        td_pack_cstr(&pk, "60");
    }
    if (min_seq) {
        td_pack_cstr(&pk, "min_seq");
        msgpack_pack_uint64(&pk, min_seq);
    }
}

/* Ask op on sock: 1 when answered ok, else 0 with the error in err. */
static int ask(void *sock, const char *op, char *err, size_t cap)
{
    msgpack_sbuffer sb;
    pack_request(&sb, op, 0);
    msgpack_unpacked up;
    call(sock, &sb, &up);
    msgpack_sbuffer_destroy(&sb);
    const msgpack_object *ok = td_get(&up.data, "ok");
    assert_non_null(ok);
    assert_int_equal(ok->type, MSGPACK_OBJECT_BOOLEAN);
    int answered = ok->via.boolean;
    if (!answered)
        copy_str(td_get(&up.data, "error"), err, cap);
    msgpack_unpacked_destroy(&up);
    return answered;
}

static void ask_ok(void *sock, const char *op)
{
    char err[512];
    if (!ask(sock, op, err, sizeof err))
        fail_msg("%s refused: %s", op, err);
}

/* Records in the log whose id starts with prefix, from publisher (NULL:
 * from anyone). */
static size_t count_stored(struct td *d, const char *prefix,
                           const char *publisher)
{
    static const char read_all[] = "\x83\xa2op\xa4read\xa4"
                                   "from\x01\xa5limit\xcd\x27\x10";
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    assert_int_equal(
        td_call(d->query_sock, read_all, sizeof read_all - 1, &up, TIMEOUT_MS),
        0);
    const msgpack_object *recs = td_get(&up.data, "records");
    assert_non_null(recs);
    assert_int_equal(recs->type, MSGPACK_OBJECT_ARRAY);
    size_t n = 0;
    for (uint32_t i = 0; i < recs->via.array.size; i++) {
        const msgpack_object *r = &recs->via.array.ptr[i];
        const msgpack_object *id = td_get(td_get(r, "event"), "id");
        assert_non_null(id);
        if (id->via.str.size >= strlen(prefix) &&
            memcmp(id->via.str.ptr, prefix, strlen(prefix)) == 0 &&
            (publisher == NULL || td_str_eq(td_get(r, "publisher"), publisher)))
            n++;
    }
    msgpack_unpacked_destroy(&up);
    return n;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Connect a socket of type with key k to ep and wait for the end of its
 * handshake, as its monitor reports it: passed (the socket is returned)
 * or refused by the ZAP handler, with status 400 (NULL; the handler logs
 * a refusal before it answers).  libzmq does not retry a refused
 * handshake. */
static void *handshake(struct fixture *f, int type, const char *ep,
                       const struct key *k)
{
    void *s = track(f, zmq_socket(f->d.zctx, type));
    char mon[64];
    snprintf(mon, sizeof mon, "inproc://test-revocation-monitor-%u",
             f->monitors++);
    assert_int_equal(zmq_socket_monitor(s, mon,
                                        ZMQ_EVENT_HANDSHAKE_SUCCEEDED |
                                            ZMQ_EVENT_HANDSHAKE_FAILED_AUTH),
                     0);
    void *m = track(f, zmq_socket(f->d.zctx, ZMQ_PAIR));
    assert_int_equal(zmq_connect(m, mon), 0);
    int zero = 0;
    assert_int_equal(zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero), 0);
    assert_int_equal(
        zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, f->d.server_public, 40), 0);
    assert_int_equal(zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, k->pub, 40), 0);
    assert_int_equal(zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, k->sec, 40), 0);
    assert_int_equal(zmq_connect(s, ep), 0);
    zmq_pollitem_t it = {m, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, TIMEOUT_MS) != 1)
        fail_msg("%s: no handshake within %d ms", ep, TIMEOUT_MS);
    zmq_msg_t ev;
    zmq_msg_init(&ev);
    assert_int_equal(zmq_msg_recv(&ev, m, 0), 6);
    uint16_t event;
    uint32_t status;
    memcpy(&event, zmq_msg_data(&ev), 2);
    memcpy(&status, (char *)zmq_msg_data(&ev) + 2, 4);
    zmq_msg_close(&ev);
    zmq_socket_monitor(s, NULL, 0);
    untrack(f, m);
    if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
        return s;
    assert_int_equal(event, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
    assert_int_equal(status, 400);
    untrack(f, s);
    return NULL;
}

/* Wait until k, new in the registry, passes the handshake of a new
 * connection to ep: the process behind ep has reloaded (it reads the
 * registry in the thread that answers its handshakes). */
static void wait_admitted(struct fixture *f, const char *ep,
                          const struct key *k)
{
    int64_t deadline = mono_ms() + TIMEOUT_MS;
    void *s;
    while ((s = handshake(f, ZMQ_DEALER, ep, k)) == NULL)
        if (mono_ms() > deadline)
            fail_msg("%s: the new key is still refused after %d ms", ep,
                     TIMEOUT_MS);
    untrack(f, s);
}

/* Rewrite the registry as tester, reg and a probe key new in it, send
 * SIGHUP, and wait until both processes have reloaded: the probe passes
 * the handshake of a new connection to ingest and to query. */
static void reload(struct fixture *f, const char *reg)
{
    struct key probe;
    keygen(&probe);
    char text[4096];
    snprintf(text, sizeof text,
             "%s\n[probe-%u]\nkey = %s\npublish = fund.*\nunits = 60\n"
             "query = fund\n",
             reg, f->reloads++, probe.pub);
    assert_int_equal(td_write_registry(&f->d, text), 0);
    assert_int_equal(kill(f->d.pid, SIGHUP), 0);
    wait_admitted(f, f->d.ingest, &probe);
    wait_admitted(f, f->d.query, &probe);
}

static void wait_log(struct td *d, const char *a, const char *b, size_t want)
{
    size_t n = td_wait_log(d->log, a, b, want, TIMEOUT_MS);
    if (n < want)
        fail_msg("%zu log lines with \"%s\" and \"%s\" after %d ms, wanted "
                 "%zu",
                 n, a, b, TIMEOUT_MS, want);
}

/* ====================================================================== */
/* 1. A replaced key, on connections opened before the reload             */
/* ====================================================================== */

static void test_replaced_key(void **state)
{
    struct fixture *f = *state;
    struct td *d = &f->d;
    struct key k, k2;
    keygen(&k);
    keygen(&k2);
    char reg[512], err[512];
    const char *fmt = "[mttq-593]\nkey = %s\npublish = donation.*\n"
                      "units = 60\nquery = fund\n";
    snprintf(reg, sizeof reg, fmt, k.pub);
    start(f, reg, "warn");

    void *old_in = dealer(f, d->ingest, k.pub, k.sec);
    void *old_q = dealer(f, d->query, k.pub, k.sec);
    uint64_t seq = publish_ok(old_in, "old", 0, 1000000);
    ask_ok(old_q, "query");

    /* A query parked for a sequence not yet stored; the ping behind it on
     * the same connection is answered first, so the host holds it. */
    msgpack_sbuffer parked;
    pack_request(&parked, "query", seq + 1);
    assert_int_equal(zmq_send(old_q, "", 0, ZMQ_SNDMORE), 0);
    assert_int_equal(zmq_send(old_q, parked.data, parked.size, 0),
                     (int)parked.size);
    msgpack_sbuffer_destroy(&parked);
    ask_ok(old_q, "ping");

    /* The operator replaces the leaked key. */
    snprintf(reg, sizeof reg, fmt, k2.pub);
    reload(f, reg);

    /* The old key's open connections are refused, saying why. */
    publish_rejected(old_in, "old", 1, err, sizeof err);
    assert_contains(err, "publisher: ");
    assert_contains(err, "\"mttq-593\"");
    assert_contains(err, "revoked");
    assert_contains(err, "no longer in the publisher registry");
    assert_contains(err, "nothing stored");
    assert_false(ask(old_q, "query", err, sizeof err));
    assert_contains(err, "\"mttq-593\"");
    assert_contains(err, "revoked");
    assert_false(ask(old_q, "ping", err, sizeof err));
    assert_contains(err, "revoked");

    /* The parked query, answered now that its sequence is stored, is
     * refused too. */
    assert_int_equal(publish_ok(d->ingest_sock, "tester", 0, 1000), seq + 1);
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    assert_int_equal(td_recv_reply(old_q, &up, TIMEOUT_MS), 0);
    assert_false(td_get(&up.data, "ok")->via.boolean);
    copy_str(td_get(&up.data, "error"), err, sizeof err);
    assert_contains(err, "revoked");
    msgpack_unpacked_destroy(&up);

    /* The new key publishes as mttq-593. */
    void *new_in = dealer(f, d->ingest, k2.pub, k2.sec);
    publish_ok(new_in, "new", 0, 1000000);

    /* The key moves to another section: the connection admitted as
     * mttq-593 must not go on storing under that name; a new connection
     * is admitted under the new one. */
    snprintf(reg, sizeof reg,
             "[mttq-594]\nkey = %s\npublish = donation.*\nunits = 60\n",
             k2.pub);
    reload(f, reg);
    publish_rejected(new_in, "new", 1, err, sizeof err);
    assert_contains(err, "(as \"mttq-593\") has been revoked: the publisher "
                         "registry has it under another name now");
    void *moved_in = dealer(f, d->ingest, k2.pub, k2.sec);
    publish_ok(moved_in, "moved", 0, 1000000);

    /* Stored: what came before each reload, under the name the key had
     * then, and nothing of the revoked connections after it. */
    assert_int_equal(count_stored(d, "old-0-", "mttq-593"), 1);
    assert_int_equal(count_stored(d, "new-0-", "mttq-593"), 1);
    assert_int_equal(count_stored(d, "moved-0-", "mttq-594"), 1);
    assert_int_equal(count_stored(d, "old-1-", NULL), 0);
    assert_int_equal(count_stored(d, "new-1-", NULL), 0);

    /* Both processes logged the revoked key; no alert key was revoked, so
     * the alert subscribers were left alone. */
    assert_true(td_count_lines(d->log, "] ingest ", "revoked") >= 1);
    assert_true(td_count_lines(d->log, "] host ", "revoked") >= 1);
    assert_int_equal(td_count_lines(d->log, "alert subscriber", ""), 0);
    assert_int_equal(td_stop(d), 0);
}

/* ====================================================================== */
/* 2. Narrowed and removed rights on open connections                     */
/* ====================================================================== */

static void test_narrowed_rights(void **state)
{
    struct fixture *f = *state;
    struct td *d = &f->d;
    struct key k;
    keygen(&k);
    char reg[1024], err[512];
    snprintf(reg, sizeof reg,
             "[mttq-593]\nkey = %s\npublish = donation.*\nunits = 60\n"
             "query = fund\nalerts = yes\n",
             k.pub);
    start(f, reg, "warn");
    void *in = dealer(f, d->ingest, k.pub, k.sec);
    void *q = dealer(f, d->query, k.pub, k.sec);
    publish_ok(in, "m", 0, 1000000);
    ask_ok(q, "query");
    ask_ok(q, "alerts");

    /* Narrowed: another type, another plugin, no alerts. */
    snprintf(reg, sizeof reg,
             "[mttq-593]\nkey = %s\npublish = fund.*\nunits = 60\n"
             "query = poverty\n",
             k.pub);
    reload(f, reg);
    publish_rejected(in, "m", 1, err, sizeof err);
    assert_contains(err, "type: publisher \"mttq-593\" may not publish "
                         "donation.received");
    assert_false(ask(q, "query", err, sizeof err));
    assert_contains(err, "may not query plugin fund");
    assert_false(ask(q, "alerts", err, sizeof err));
    assert_contains(err, "alerts = yes");
    ask_ok(q, "ping");

    /* No publish right left at all: the connection's key is revoked for
     * ingest, the whole request refused. */
    snprintf(reg, sizeof reg, "[mttq-593]\nkey = %s\nquery = poverty\n", k.pub);
    reload(f, reg);
    publish_rejected(in, "m", 2, err, sizeof err);
    assert_contains(err, "\"mttq-593\"");
    assert_contains(err, "revoked: it no longer has any right to publish");
    ask_ok(q, "ping");

    /* No right left at all: the query connection too. */
    snprintf(reg, sizeof reg, "[mttq-593]\nkey = %s\n", k.pub);
    reload(f, reg);
    assert_false(ask(q, "ping", err, sizeof err));
    assert_contains(err, "revoked: it no longer has any right to query");

    assert_int_equal(count_stored(d, "m-", "mttq-593"), 1);
    assert_int_equal(td_stop(d), 0);
}

/* ====================================================================== */
/* 3. Alert subscribers                                                   */
/* ====================================================================== */

/* A subscriber to every alert, with key k, once its handshake passed. */
static void *subscriber(struct fixture *f, const struct key *k)
{
    void *s = handshake(f, ZMQ_SUB, f->d.alerts, k);
    assert_non_null(s);
    assert_int_equal(zmq_setsockopt(s, ZMQ_SUBSCRIBE, "alert.", 6), 0);
    return s;
}

/* The next alert on sub within ms: its seq, or 0 when none came. */
static uint64_t next_alert(void *sub, int ms)
{
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    uint64_t v = 0;
    if (td_recv_reply(sub, &up, ms) == 0) {
        const msgpack_object *seq = td_get(&up.data, "seq");
        assert_non_null(seq);
        assert_int_equal(seq->type, MSGPACK_OBJECT_POSITIVE_INTEGER);
        v = seq->via.u64;
    }
    msgpack_unpacked_destroy(&up);
    return v;
}

/* Publish large donations ("<prefix>-<i>-0") until every subscriber of
 * subs has received an alert raised by one of them: a subscription takes
 * effect some time after the handshake.  Returns the first sequence
 * published. */
static uint64_t alert_until_received(struct td *d, void *const *subs, size_t n,
                                     const char *prefix)
{
    uint64_t first = 0;
    int got[4] = {0};
    size_t ngot = 0;
    assert_true(n <= 4);
    int64_t deadline = mono_ms() + TIMEOUT_MS;
    for (int i = 0; ngot < n && mono_ms() < deadline; i++) {
        uint64_t seq = publish_ok(d->ingest_sock, prefix, i, LARGE);
        if (first == 0)
            first = seq;
        for (size_t s = 0; s < n; s++) {
            uint64_t a;
            while (!got[s] && (a = next_alert(subs[s], 100)) != 0)
                if (a >= first) {
                    got[s] = 1;
                    ngot++;
                }
        }
    }
    if (ngot < n)
        fail_msg("%zu of %zu subscribers got no alert within %d ms", n - ngot,
                 n, TIMEOUT_MS);
    return first;
}

static void revoke_alert_subscribers(struct fixture *f)
{
    struct td *d = &f->d;
    struct key watcher, gone, stays;
    keygen(&watcher);
    keygen(&gone);
    keygen(&stays);
    char reg[1024];
    static const char fmt[] = "[watcher]\nkey = %s\nquery = fund\nalerts = %s\n"
                              "\n[stays]\nkey = %s\nalerts = yes\n\n%s";
    char gone_sec[128];
    snprintf(gone_sec, sizeof gone_sec, "[gone]\nkey = %s\nalerts = yes\n",
             gone.pub);
    snprintf(reg, sizeof reg, fmt, watcher.pub, "yes", stays.pub, gone_sec);
    start(f, reg, "warn");
    void *subs[3] = {subscriber(f, &stays), subscriber(f, &watcher),
                     subscriber(f, &gone)};
    alert_until_received(d, subs, 3, "warm");

    /* watcher loses alerts = yes, gone is removed; stays keeps it. */
    snprintf(reg, sizeof reg, fmt, watcher.pub, "no", stays.pub, "");
    reload(f, reg);

    /* What is published now reaches the key that kept the right ... */
    uint64_t after = alert_until_received(d, subs, 1, "after");
    /* ... and never the revoked ones (alerts published before the reload
     * may still be on their way). */
    for (size_t s = 1; s < 3; s++) {
        uint64_t a;
        while ((a = next_alert(subs[s], SILENCE_MS)) != 0)
            if (a >= after)
                fail_msg("revoked subscriber %zu received the alert of seq "
                         "%llu, published after the reload",
                         s, (unsigned long long)a);
    }
    wait_log(d, "2 key(s) lost alerts = yes", "disconnected", 1);

    /* A reload that revokes no alert key leaves the subscribers alone. */
    reload(f, reg);
    assert_int_equal(td_count_lines(d->log, "lost alerts = yes", ""), 1);
    alert_until_received(d, subs, 1, "later");
    assert_int_equal(td_stop(d), 0);
}

/* On the harness's ipc endpoints: libzmq closes the old listener later, in
 * its I/O thread, while the new one binds the same path. */
static void test_alerts_revoked_ipc(void **state)
{
    revoke_alert_subscribers(*state);
}

/* On tcp, binding the same port before the old listener is closed fails
 * with EADDRINUSE. */
static void test_alerts_revoked_tcp(void **state)
{
    struct fixture *f = *state;
    int port = td_unused_port();
    assert_true(port > 0);
    snprintf(f->d.alerts, sizeof f->d.alerts, "tcp://127.0.0.1:%d", port);
    revoke_alert_subscribers(f);
}

/* ====================================================================== */
/* 4. Refused keys taking turns are each logged once                      */
/* ====================================================================== */

static void test_refused_keys_taking_turns(void **state)
{
    struct fixture *f = *state;
    struct td *d = &f->d;
    struct key u[2];
    keygen(&u[0]);
    keygen(&u[1]);
    start(f, NULL, "warn");
    for (int round = 0; round < 6; round++) {
        assert_null(handshake(f, ZMQ_DEALER, d->ingest, &u[round % 2]));
        assert_null(handshake(f, ZMQ_DEALER, d->query, &u[round % 2]));
    }
    for (int i = 0; i < 2; i++) {
        assert_int_equal(td_count_lines(d->log, "] ingest ", u[i].pub), 1);
        assert_int_equal(td_count_lines(d->log, "] host ", u[i].pub), 1);
    }
    assert_int_equal(td_stop(d), 0);
}

/* ====================================================================== */
/* 5. What SIGHUP says it reloaded                                        */
/* ====================================================================== */

static void test_reload_messages(void **state)
{
    struct fixture *f = *state;
    struct td *d = &f->d;
    start(f, NULL, "info");
    const char *done = "SIGHUP: configuration reloaded";

    /* Not INI: refused whole, and not reported as reloaded. */
    char broken[256];
    snprintf(broken, sizeof broken, "[late]\nkey = %s\nthis is not INI\n",
             d->client_public);
    assert_int_equal(td_write_registry(d, broken), 0);
    assert_int_equal(kill(d->pid, SIGHUP), 0);
    wait_log(d, "] ingest ", done, 1);
    assert_int_equal(td_count_lines(d->log, done, "publisher registry)"), 0);
    assert_int_equal(td_count_lines(d->log, done,
                                    "the publisher registry was not: it has "
                                    "errors"),
                     1);
    assert_int_equal(
        td_count_lines(d->log, "] ingest ", "reloaded: 1 publishers"), 0);

    /* A good one is. */
    assert_int_equal(td_write_registry(d, NULL), 0);
    assert_int_equal(kill(d->pid, SIGHUP), 0);
    wait_log(d, "] ingest ", done, 2);
    assert_int_equal(td_count_lines(d->log, done,
                                    "(log level, syslog, limits, publisher "
                                    "registry)"),
                     1);
    assert_int_equal(td_stop(d), 0);
}

/* Plain mode has no registry to reload, and says so. */
static void test_reload_message_plain(void **state)
{
    struct fixture *f = *state;
    struct td *d = &f->d;
    assert_int_equal(
        td_start_logged(d, (const char *[]){"--log-level", "info", NULL}), 0);
    assert_int_equal(kill(d->pid, SIGHUP), 0);
    wait_log(d, "] ingest ", "SIGHUP: configuration reloaded", 1);
    assert_int_equal(td_count_lines(d->log,
                                    "SIGHUP: configuration reloaded (log "
                                    "level, syslog, limits)",
                                    ""),
                     1);
    assert_int_equal(td_stop(d), 0);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_replaced_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_narrowed_rights, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alerts_revoked_ipc, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_alerts_revoked_tcp, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_refused_keys_taking_turns, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reload_messages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reload_message_plain, setup,
                                        teardown),
    };
    return cmocka_run_group_tests_name("integration_revocation", tests, NULL,
                                       NULL);
}
