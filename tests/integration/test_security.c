/*
 * test_security.c - integration tests of povtrackd's security against the
 * real daemon: CURVE identities and per-publisher rights, silence towards
 * unauthenticated and unknown clients, SIGHUP reload of the publisher
 * registry on open connections, hostile input under configured [limits],
 * the per-publisher rate limit, and the refusal to serve a network
 * endpoint in clear text.
 *
 * Every wait is a handshake (a reply, an ack, a log line announced through
 * inotify, a pipe's end of file) bounded by a timeout; the only timed waits
 * are the polls that prove that NO reply comes.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <zmq.h>

#include <povtrack/client.h>

#include "daemon.h"
#include "json_events.h"
#include "tl_json.h"

#define TIMEOUT_MS 10000 /* any reply that must come */
#define SILENCE_MS 1500  /* how long we watch for a reply that must not */
#define ID_MAX 128
#define NAME_MAX_ 64

/* ---- fixture: every daemon, socket and client a test opens ----------- */

struct fixture {
    struct td d[2];
    int nd;          /* d[0..nd) were td_init'ed */
    void *socks[32]; /* closed before their context is terminated */
    size_t nsocks;
    povtrack_client *clients[4];
    size_t nclients;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    if (f == NULL)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    for (size_t i = 0; i < f->nsocks; i++)
        if (f->socks[i] != NULL)
            zmq_close(f->socks[i]);
    for (size_t i = 0; i < f->nclients; i++)
        povtrack_client_close(f->clients[i]);
    for (int i = 0; i < f->nd; i++) {
        if (f->d[i].pid > 0)
            td_stop(&f->d[i]);
        td_destroy(&f->d[i]);
    }
    free(f);
    return 0;
}

static struct td *fx_daemon(struct fixture *f)
{
    assert_true(f->nd < 2);
    struct td *d = &f->d[f->nd];
    assert_int_equal(td_init(d), 0);
    f->nd++;
    return d;
}

static void *fx_track(struct fixture *f, void *s)
{
    assert_non_null(s);
    assert_true(f->nsocks < sizeof f->socks / sizeof f->socks[0]);
    f->socks[f->nsocks++] = s;
    return s;
}

/* A DEALER speaking CURVE with the given key pair (NULL: tester's). */
static void *fx_dealer(struct fixture *f, struct td *d, const char *ep,
                       const char *pub, const char *sec)
{
    return fx_track(f, td_dealer(d, ep, pub, sec));
}

/* A DEALER with no security at all: the NULL mechanism. */
static void *fx_plain(struct fixture *f, struct td *d, const char *ep)
{
    void *s = zmq_socket(d->zctx, ZMQ_DEALER);
    assert_non_null(s);
    int zero = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    assert_int_equal(zmq_connect(s, ep), 0);
    return fx_track(f, s);
}

static povtrack_client *fx_client(struct fixture *f, struct td *d,
                                  const char *pub, const char *sec)
{
    povtrack_client *c;
    assert_int_equal(povtrack_client_open(&c), 0);
    assert_true(f->nclients < sizeof f->clients / sizeof f->clients[0]);
    f->clients[f->nclients++] = c;
    assert_int_equal(povtrack_client_set_curve(c, d->server_public, pub, sec),
                     0);
    assert_int_equal(
        povtrack_client_set_endpoint(c, POVTRACK_CLIENT_INGEST, d->ingest), 0);
    assert_int_equal(
        povtrack_client_set_endpoint(c, POVTRACK_CLIENT_QUERY, d->query), 0);
    assert_int_equal(povtrack_client_set_timeout(c, SILENCE_MS), 0);
    return c;
}

/* ---- time, files, logs ----------------------------------------------- */

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *read_file(const char *path)
{
    char *text = td_read_file(path);
    if (text == NULL)
        fail_msg("cannot read %s", path);
    return text;
}

/* Wait until the daemon has logged at least want lines holding a and b. */
static void wait_log(const char *path, const char *a, const char *b,
                     size_t want)
{
    size_t n = td_wait_log(path, a, b, want, TIMEOUT_MS);
    if (n < want)
        fail_msg("%s: %zu lines with \"%s\" and \"%s\" after %d ms, wanted "
                 "%zu",
                 path, n, a, b, TIMEOUT_MS, want);
}

/* Replace a file whole, so the daemon never reads half of it. */
static void write_file_atomic(const char *path, const char *text)
{
    char tmp[512];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *out = fopen(tmp, "w");
    assert_non_null(out);
    assert_true(fputs(text, out) >= 0);
    assert_int_equal(fclose(out), 0);
    assert_int_equal(rename(tmp, path), 0);
}

/* ---- msgpack and JSON ------------------------------------------------ */

/* Overwrite the one occurrence of placeholder in sb with as many bytes of
 * raw: how a test gets bytes JSON cannot carry (invalid UTF-8) into an
 * otherwise well-formed event. */
static void patch(msgpack_sbuffer *sb, const char *placeholder, const char *raw)
{
    size_t n = strlen(placeholder);
    size_t hit = SIZE_MAX;
    for (size_t i = 0; i + n <= sb->size; i++)
        if (memcmp(sb->data + i, placeholder, n) == 0) {
            assert_true(hit == SIZE_MAX);
            hit = i;
        }
    assert_true(hit != SIZE_MAX);
    memcpy(sb->data + hit, raw, n);
}

static void copy_str(const msgpack_object *o, char *buf, size_t cap)
{
    assert_int_equal(td_str_copy(o, buf, cap), 0);
}

static void assert_contains(const char *hay, const char *needle)
{
    if (strstr(hay, needle) == NULL)
        fail_msg("\"%s\" does not contain \"%s\"", hay, needle);
}

static void assert_starts(const char *s, const char *prefix)
{
    if (strncmp(s, prefix, strlen(prefix)) != 0)
        fail_msg("\"%s\" does not start with \"%s\"", s, prefix);
}

static uint64_t get_u64(const msgpack_object *map, const char *key)
{
    const msgpack_object *o = td_get(map, key);
    assert_non_null(o);
    assert_int_equal(o->type, MSGPACK_OBJECT_POSITIVE_INTEGER);
    return o->via.u64;
}

/* ---- the wire: DEALER requests and replies --------------------------- */

struct frame {
    const void *data;
    size_t len;
};

/* Send a request: the empty delimiter, then the body frames (none is
 * allowed: a delimiter alone). */
static void send_frames(void *sock, const struct frame *parts, size_t n)
{
    assert_int_equal(zmq_send(sock, "", 0, n > 0 ? ZMQ_SNDMORE : 0), 0);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(zmq_send(sock, parts[i].data, parts[i].len,
                                  i + 1 < n ? ZMQ_SNDMORE : 0),
                         (int)parts[i].len);
}

/* The same from a socket the daemon refuses: libzmq drops the connection
 * (and with it the queue) once the handshake fails, and a blocking send
 * would then wait for a peer forever.  Nothing can reach the daemon's
 * request handling from such a socket either way, queued or not. */
static void send_untrusted(void *sock, const struct frame *parts, size_t n)
{
    if (zmq_send(sock, "", 0, ZMQ_DONTWAIT | (n > 0 ? ZMQ_SNDMORE : 0)) != 0) {
        assert_int_equal(zmq_errno(), EAGAIN);
        return;
    }
    for (size_t i = 0; i < n; i++)
        assert_int_equal(zmq_send(sock, parts[i].data, parts[i].len,
                                  ZMQ_DONTWAIT | (i + 1 < n ? ZMQ_SNDMORE : 0)),
                         (int)parts[i].len);
}

/* Wait for one reply: an empty delimiter and exactly one body frame, whose
 * bytes are returned in *raw (malloc'ed).  0, or -1 if none came. */
static int recv_raw(void *sock, char **raw, size_t *len, int timeout_ms)
{
    int rc = td_recv_body(sock, timeout_ms, raw, len);
    if (rc == -2)
        fail_msg("a reply that is not a delimiter and one body frame");
    return rc;
}

/* The reply, unpacked; up owns the bytes (msgpack strings point into
 * them).  0, or -1 if none came. */
static int recv_reply(void *sock, msgpack_unpacked *up, int timeout_ms)
{
    char *raw;
    size_t len, off = 0;
    msgpack_unpacked_init(up);
    if (recv_raw(sock, &raw, &len, timeout_ms) != 0)
        return -1;
    assert_int_equal(msgpack_unpack_next(up, raw, len, &off),
                     MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(off, len);
    assert_true(msgpack_zone_push_finalizer(up->zone, free, raw));
    return 0;
}

/* One request of one frame and its reply, which must come. */
static void call(void *sock, const void *buf, size_t len, msgpack_unpacked *up)
{
    struct frame fr = {buf, len};
    send_frames(sock, &fr, 1);
    if (recv_reply(sock, up, TIMEOUT_MS) != 0)
        fail_msg("no reply within %d ms", TIMEOUT_MS);
}

static void call_json(void *sock, const char *json, msgpack_unpacked *up)
{
    msgpack_sbuffer sb;
    tj_pack(&sb, json);
    call(sock, sb.data, sb.size, up);
    msgpack_sbuffer_destroy(&sb);
}

/* Nothing may arrive on any of socks for ms: the daemon must not answer. */
static void assert_silence(void *const *socks, size_t n, int ms)
{
    zmq_pollitem_t it[8];
    assert_true(n <= 8);
    for (size_t i = 0; i < n; i++) {
        it[i].socket = socks[i];
        it[i].fd = 0;
        it[i].events = ZMQ_POLLIN;
        it[i].revents = 0;
    }
    int rc = zmq_poll(it, (int)n, ms);
    for (size_t i = 0; i < n && rc > 0; i++)
        if (it[i].revents & ZMQ_POLLIN)
            fail_msg("socket %zu of %zu got a reply it must not get", i, n);
    assert_int_equal(rc, 0);
}

/* ---- acks ------------------------------------------------------------- */

static const msgpack_object *ack_at(const msgpack_unpacked *up, uint32_t i)
{
    assert_int_equal(up->data.type, MSGPACK_OBJECT_ARRAY);
    assert_true(i < up->data.via.array.size);
    return &up->data.via.array.ptr[i];
}

/* Ack i must be "ok" for id; returns its sequence. */
static uint64_t ack_ok(const msgpack_unpacked *up, uint32_t i, const char *id)
{
    const msgpack_object *a = ack_at(up, i);
    if (!td_str_eq(td_get(a, "status"), "ok")) {
        const msgpack_object *e = td_get(a, "error");
        fail_msg("ack %u for %s: not ok (%.*s)", i, id,
                 e ? (int)e->via.str.size : 0, e ? e->via.str.ptr : "");
    }
    assert_true(td_str_eq(td_get(a, "id"), id));
    return get_u64(a, "seq");
}

/* Ack i must be "rejected"; its error is copied to buf.  id NULL: the ack
 * must carry a nil id (the request as a whole was refused). */
static const char *ack_rejected(const msgpack_unpacked *up, uint32_t i,
                                const char *id, char *buf, size_t cap)
{
    const msgpack_object *a = ack_at(up, i);
    assert_true(td_str_eq(td_get(a, "status"), "rejected"));
    if (id == NULL) {
        assert_non_null(td_get(a, "id"));
        assert_int_equal(td_get(a, "id")->type, MSGPACK_OBJECT_NIL);
    } else {
        assert_true(td_str_eq(td_get(a, "id"), id));
    }
    assert_null(td_get(a, "seq"));
    copy_str(td_get(a, "error"), buf, cap);
    return buf;
}

/* A query reply must be {"ok": false, "error": ...}; returns the error. */
static const char *refused(const msgpack_unpacked *up, char *buf, size_t cap)
{
    const msgpack_object *ok = td_get(&up->data, "ok");
    assert_non_null(ok);
    assert_int_equal(ok->type, MSGPACK_OBJECT_BOOLEAN);
    if (ok->via.boolean)
        fail_msg("the request was answered ok; it must be refused");
    copy_str(td_get(&up->data, "error"), buf, cap);
    return buf;
}

static void assert_ok(const msgpack_unpacked *up)
{
    const msgpack_object *ok = td_get(&up->data, "ok");
    assert_non_null(ok);
    assert_int_equal(ok->type, MSGPACK_OBJECT_BOOLEAN);
    if (!ok->via.boolean) {
        const msgpack_object *e = td_get(&up->data, "error");
        fail_msg("refused: %.*s", e ? (int)e->via.str.size : 0,
                 e ? e->via.str.ptr : "");
    }
}

/* ---- the log, as the read op shows it -------------------------------- */

struct rec {
    uint64_t seq;
    char id[ID_MAX + 1];
    char publisher[NAME_MAX_ + 1];
};

/* Every record of the log (at most max), read through qsock, which must
 * have the right to read the log. */
static size_t read_log(void *qsock, struct rec *out, size_t max)
{
    msgpack_unpacked up;
    call_json(qsock, "{\"op\":\"read\",\"from\":1,\"limit\":10000}", &up);
    assert_ok(&up);
    const msgpack_object *recs = td_get(&up.data, "records");
    assert_non_null(recs);
    assert_int_equal(recs->type, MSGPACK_OBJECT_ARRAY);
    size_t n = recs->via.array.size;
    assert_true(n <= max);
    for (size_t i = 0; i < n; i++) {
        const msgpack_object *r = &recs->via.array.ptr[i];
        out[i].seq = get_u64(r, "seq");
        copy_str(td_get(td_get(r, "event"), "id"), out[i].id, sizeof out[i].id);
        copy_str(td_get(r, "publisher"), out[i].publisher,
                 sizeof out[i].publisher);
        /* The log is gapless from 1. */
        assert_int_equal(out[i].seq, i + 1);
    }
    msgpack_unpacked_destroy(&up);
    return n;
}

/* How many records have this id (and, unless NULL, this publisher). */
static size_t count_id(const struct rec *recs, size_t n, const char *id,
                       const char *publisher)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(recs[i].id, id) == 0 &&
            (publisher == NULL || strcmp(recs[i].publisher, publisher) == 0))
            k++;
    return k;
}

/* ---- events ----------------------------------------------------------- */

static const char units_json[] =
    "[{\"v\":1,\"id\":\"u-60\",\"type\":\"unit.defined\",\"at\":1609459200,"
    "\"unit\":\"60\",\"data\":{\"name\":\"Tỉnh Bình Thuận\",\"parent\":null,"
    "\"level\":\"province\"}},"
    "{\"v\":1,\"id\":\"u-593\",\"type\":\"unit.defined\",\"at\":1609459200,"
    "\"unit\":\"593\",\"data\":{\"name\":\"Thành phố Phan Thiết\","
    "\"parent\":\"60\",\"level\":\"district\"}},"
    "{\"v\":1,\"id\":\"u-594\",\"type\":\"unit.defined\",\"at\":1609459200,"
    "\"unit\":\"594\",\"data\":{\"name\":\"Thị xã La Gi\",\"parent\":\"60\","
    "\"level\":\"district\"}},"
    "{\"v\":1,\"id\":\"u-22924\",\"type\":\"unit.defined\",\"at\":1609459200,"
    "\"unit\":\"22924\",\"data\":{\"name\":\"Phường Phú Thủy\","
    "\"parent\":\"593\",\"level\":\"commune\"}}]";
static const char *const unit_ids[] = {"u-60", "u-593", "u-594", "u-22924"};

/* One donation.received as a JSON object. */
static void donation(char *buf, size_t cap, const char *id, const char *unit,
                     long amount)
{
    snprintf(buf, cap,
             "{\"v\":1,\"id\":\"%s\",\"type\":\"donation.received\",\"at\":"
             "1730000000,\"unit\":\"%s\",\"data\":{\"amount\":%ld,\"donor\":"
             "\"Công ty Thanh Long\",\"donor_kind\":\"business\",\"level\":"
             "\"district\"}}",
             id, unit, amount);
}

static void define_units(void *ingest)
{
    msgpack_unpacked up;
    call_json(ingest, units_json, &up);
    for (uint32_t i = 0; i < 4; i++)
        assert_int_equal(ack_ok(&up, i, unit_ids[i]), i + 1);
    msgpack_unpacked_destroy(&up);
}

/* ====================================================================== */
/* 1. Identity and rights                                                 */
/* ====================================================================== */

/* A CURVE daemon whose registry has the tester and [mttq-593] with rights
 * (after its key), its key pair in mpub and msec; the tester (every
 * right) has laid out the province. */
static struct td *start_mttq(struct fixture *f, const char *rights, char *mpub,
                             char *msec)
{
    struct td *d = fx_daemon(f);
    char reg[512];
    assert_int_equal(zmq_curve_keypair(mpub, msec), 0);
    snprintf(reg, sizeof reg, "[mttq-593]\nkey = %s\n%s", mpub, rights);
    assert_int_equal(td_curve_setup(d, reg, NULL), 0);
    assert_int_equal(td_start(d, (const char *[]){"-c", d->config, NULL}), 0);
    define_units(d->ingest_sock);
    return d;
}

static void test_identity_and_rights(void **state)
{
    struct fixture *f = *state;
    char mpub[41], msec[41], err[512];
    struct td *d = start_mttq(f,
                              "publish = donation.* fund.*\nunits = 593\n"
                              "query = fund\n",
                              mpub, msec);

    void *m_in = fx_dealer(f, d, d->ingest, mpub, msec);
    void *m_q = fx_dealer(f, d, d->query, mpub, msec);
    char e1[512], e2[512], e3[512], e4[512], req[4096];
    donation(e1, sizeof e1, "m-593", "593", 2000000);
    donation(e2, sizeof e2, "m-22924", "22924", 3000000);
    donation(e3, sizeof e3, "m-594", "594", 4000000);
    snprintf(e4, sizeof e4,
             "{\"v\":1,\"id\":\"m-status\",\"type\":\"household.status\","
             "\"at\":1730000000,\"unit\":\"593\",\"household\":\"593-h1\","
             "\"data\":{\"year\":2024,\"status\":\"poor\"}}");
    /* An event naming its own publisher: the identity is the CURVE key's,
     * and the catalogue has no such field, so the event is refused. */
    snprintf(req, sizeof req,
             "[%s,%s,%s,%s,{\"v\":1,\"id\":\"m-claim\",\"type\":"
             "\"donation.received\",\"at\":1730000000,\"unit\":\"593\","
             "\"publisher\":\"tester\",\"data\":{\"amount\":1000,\"donor\":"
             "\"X\",\"donor_kind\":\"person\",\"level\":\"district\"}}]",
             e1, e2, e3, e4);
    msgpack_unpacked up;
    call_json(m_in, req, &up);
    assert_int_equal(up.data.via.array.size, 5);
    uint64_t s593 = ack_ok(&up, 0, "m-593");
    /* A commune under 593 is in the publisher's subtree. */
    uint64_t s22924 = ack_ok(&up, 1, "m-22924");
    ack_rejected(&up, 2, "m-594", err, sizeof err);
    assert_starts(err, "unit:");
    assert_contains(err, "\"mttq-593\"");
    assert_contains(err, "594");
    assert_contains(err, "units = 593");
    ack_rejected(&up, 3, "m-status", err, sizeof err);
    assert_starts(err, "type:");
    assert_contains(err, "\"mttq-593\"");
    assert_contains(err, "household.status");
    assert_contains(err, "publish = donation.* fund.*");
    ack_rejected(&up, 4, "m-claim", err, sizeof err);
    assert_starts(err, "publisher: unknown field");
    msgpack_unpacked_destroy(&up);

    /* The tester's own donation, for the publisher column. */
    donation(e1, sizeof e1, "t-593", "593", 5000000);
    snprintf(req, sizeof req, "[%s]", e1);
    call_json(d->ingest_sock, req, &up);
    uint64_t st = ack_ok(&up, 0, "t-593");
    msgpack_unpacked_destroy(&up);

    /* The log holds who sent each event, as the daemon authenticated it. */
    struct rec recs[16];
    size_t n = read_log(d->query_sock, recs, 16);
    assert_int_equal(n, 7);
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(count_id(recs, n, unit_ids[i], "tester"), 1);
    assert_int_equal(count_id(recs, n, "m-593", "mttq-593"), 1);
    assert_int_equal(count_id(recs, n, "m-22924", "mttq-593"), 1);
    assert_int_equal(count_id(recs, n, "t-593", "tester"), 1);
    assert_string_equal(recs[s593 - 1].id, "m-593");
    assert_string_equal(recs[s22924 - 1].id, "m-22924");
    assert_string_equal(recs[st - 1].publisher, "tester");
    for (size_t i = 0; i < n; i++) {
        assert_string_not_equal(recs[i].id, "m-594");
        assert_string_not_equal(recs[i].id, "m-status");
        assert_string_not_equal(recs[i].id, "m-claim");
    }

    /* mttq may query fund, and sees both of its donations rolled up. */
    char q[256];
    snprintf(q, sizeof q,
             "{\"op\":\"query\",\"plugin\":\"fund\",\"q\":{\"unit\":\"593\"},"
             "\"min_seq\":%llu}",
             (unsigned long long)st);
    call_json(m_q, q, &up);
    assert_ok(&up);
    assert_int_equal(get_u64(td_get(&up.data, "result"), "received"),
                     2000000 + 3000000 + 5000000);
    msgpack_unpacked_destroy(&up);
    call_json(m_q, "{\"op\":\"ping\"}", &up);
    assert_ok(&up);
    msgpack_unpacked_destroy(&up);

    /* ... but not poverty, and not the raw log. */
    call_json(m_q,
              "{\"op\":\"query\",\"plugin\":\"poverty\",\"q\":{\"unit\":"
              "\"593\",\"year\":2024}}",
              &up);
    refused(&up, err, sizeof err);
    assert_contains(err, "\"mttq-593\"");
    assert_contains(err, "poverty");
    msgpack_unpacked_destroy(&up);
    call_json(m_q, "{\"op\":\"read\",\"from\":1}", &up);
    refused(&up, err, sizeof err);
    assert_starts(err, "op:");
    assert_contains(err, "\"mttq-593\"");
    assert_null(td_get(&up.data, "records"));
    msgpack_unpacked_destroy(&up);

    assert_int_equal(td_stop(d), 0);
}

/* Is code among the units the "units" op lists under parent at t? */
static int unit_listed(void *qsock, const char *parent, int64_t t,
                       const char *code)
{
    char req[128];
    snprintf(req, sizeof req,
             "{\"op\":\"units\",\"parent\":\"%s\",\"at\":%lld}", parent,
             (long long)t);
    msgpack_unpacked up;
    call_json(qsock, req, &up);
    assert_ok(&up);
    const msgpack_object *units = td_get(&up.data, "units");
    assert_non_null(units);
    assert_int_equal(units->type, MSGPACK_OBJECT_ARRAY);
    int found = 0;
    for (uint32_t i = 0; i < units->via.array.size; i++)
        found |= td_str_eq(td_get(&units->via.array.ptr[i], "code"), code);
    msgpack_unpacked_destroy(&up);
    return found;
}

/* Issue 12: a publisher with units = 593 took commune 23232 from district
 * 594 with unit.defined (and then published for it), and moved its own
 * district under province 68; unit.changed was refused naming the wrong
 * unit.  Every move needs the right over what it changes, and the refusal
 * names the unit the right is missing for. */
static void test_unit_rights(void **state)
{
    struct fixture *f = *state;
    char mpub[41], msec[41], err[512];
    struct td *d = start_mttq(f, "publish = unit.* household.*\nunits = 593\n",
                              mpub, msec);
    msgpack_unpacked up;
    call_json(d->ingest_sock,
              "[{\"v\":1,\"id\":\"u-68\",\"type\":\"unit.defined\",\"at\":"
              "1609459200,\"unit\":\"68\",\"data\":{\"name\":\"Tỉnh Lâm "
              "Đồng\",\"parent\":null,\"level\":\"province\"}},"
              "{\"v\":1,\"id\":\"u-23232\",\"type\":\"unit.defined\",\"at\":"
              "1609459200,\"unit\":\"23232\",\"data\":{\"name\":\"Phường "
              "Tân An\",\"parent\":\"594\",\"level\":\"commune\"}}]",
              &up);
    ack_ok(&up, 0, "u-68");
    ack_ok(&up, 1, "u-23232");
    msgpack_unpacked_destroy(&up);

    /* 2025-07-01, and a day later. */
    void *m_in = fx_dealer(f, d, d->ingest, mpub, msec);
    call_json(
        m_in,
        "[{\"v\":1,\"id\":\"mv-23232\",\"type\":\"unit.defined\",\"at\":"
        "1751302800,\"unit\":\"23232\",\"data\":{\"name\":\"Phường Tân An\","
        "\"parent\":\"593\",\"level\":\"commune\",\"effective\":1751302800}},"
        "{\"v\":1,\"id\":\"st-23232\",\"type\":\"household.status\",\"at\":"
        "1751389200,\"unit\":\"23232\",\"household\":\"594-h9\",\"data\":{"
        "\"year\":2025,\"status\":\"poor\"}},"
        "{\"v\":1,\"id\":\"mv-593\",\"type\":\"unit.defined\",\"at\":"
        "1751302800,\"unit\":\"593\",\"data\":{\"name\":\"Thành phố Phan "
        "Thiết\",\"parent\":\"68\",\"level\":\"district\",\"effective\":"
        "1751302800}},"
        "{\"v\":1,\"id\":\"ch-23232\",\"type\":\"unit.changed\",\"at\":"
        "1751302800,\"unit\":\"23232\",\"data\":{\"kind\":\"reparent\","
        "\"effective\":1751302800,\"predecessors\":[\"23232\"],\"parent\":"
        "\"593\"}},"
        "{\"v\":1,\"id\":\"ch-593\",\"type\":\"unit.changed\",\"at\":"
        "1751302800,\"unit\":\"593\",\"data\":{\"kind\":\"reparent\","
        "\"effective\":1751302800,\"predecessors\":[\"593\"],\"parent\":"
        "\"68\"}},"
        "{\"v\":1,\"id\":\"new-22925\",\"type\":\"unit.defined\",\"at\":"
        "1751302800,\"unit\":\"22925\",\"data\":{\"name\":\"Phường Mới\","
        "\"parent\":\"593\",\"level\":\"commune\",\"effective\":"
        "1751302800}}]",
        &up);
    assert_int_equal(up.data.via.array.size, 6);
    static const char not_594[] =
        "unit: publisher \"mttq-593\" may not change unit 594 (the current "
        "parent of 23232; its rights: units = 593)";
    static const char not_68[] =
        "unit: publisher \"mttq-593\" may not change unit 68 (the new parent "
        "of 593; its rights: units = 593)";
    assert_string_equal(ack_rejected(&up, 0, "mv-23232", err, sizeof err),
                        not_594);
    assert_string_equal(ack_rejected(&up, 1, "st-23232", err, sizeof err),
                        "unit: publisher \"mttq-593\" may not publish for "
                        "unit 23232 (its rights: units = 593)");
    assert_string_equal(ack_rejected(&up, 2, "mv-593", err, sizeof err),
                        not_68);
    assert_string_equal(ack_rejected(&up, 3, "ch-23232", err, sizeof err),
                        not_594);
    assert_string_equal(ack_rejected(&up, 4, "ch-593", err, sizeof err),
                        not_68);
    /* Its own district still takes a new commune. */
    uint64_t s22925 = ack_ok(&up, 5, "new-22925");
    msgpack_unpacked_destroy(&up);

    /* District 594 keeps its commune, and 593 stays in province 60. */
    assert_true(unit_listed(d->query_sock, "594", 1751389200, "23232"));
    assert_false(unit_listed(d->query_sock, "593", 1751389200, "23232"));
    assert_true(unit_listed(d->query_sock, "60", 1751389200, "593"));
    assert_false(unit_listed(d->query_sock, "68", 1751389200, "593"));
    struct rec recs[16];
    size_t n = read_log(d->query_sock, recs, 16);
    assert_int_equal(n, s22925);
    assert_int_equal(count_id(recs, n, "new-22925", "mttq-593"), 1);
    /* Nothing else of mttq-593's is stored. */
    for (size_t i = 0; i < n; i++)
        if (strcmp(recs[i].publisher, "mttq-593") == 0)
            assert_string_equal(recs[i].id, "new-22925");
    assert_int_equal(td_stop(d), 0);
}

/* ====================================================================== */
/* 2. Unauthenticated and unknown clients                                 */
/* ====================================================================== */

/* Publish one donation through the client library. */
static int client_publish(povtrack_client *c, const char *id,
                          struct povtrack_client_acks *acks)
{
    char ev[512], req[600];
    donation(ev, sizeof ev, id, "60", 1000000);
    snprintf(req, sizeof req, "[%s]", ev);
    msgpack_sbuffer sb;
    tj_pack(&sb, req);
    int rc = povtrack_client_publish(c, sb.data, sb.size, acks);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

static void test_unauthenticated_and_unknown(void **state)
{
    struct fixture *f = *state;
    struct td *d = fx_daemon(f);
    char ppub[41], psec[41], qpub[41], qsec[41], upub[41], usec[41];
    char reg[1024];
    assert_int_equal(zmq_curve_keypair(ppub, psec), 0);
    assert_int_equal(zmq_curve_keypair(qpub, qsec), 0);
    assert_int_equal(zmq_curve_keypair(upub, usec), 0); /* in no registry */
    snprintf(reg, sizeof reg,
             "[pubonly]\nkey = %s\npublish = donation.*\nunits = 60\n\n"
             "[queryonly]\nkey = %s\nquery = fund\n",
             ppub, qpub);
    assert_int_equal(td_curve_setup(d, reg, NULL), 0);
    assert_int_equal(td_start(d, (const char *[]){"-c", d->config, NULL}), 0);
    define_units(d->ingest_sock);

    /* Raw sockets: no CURVE at all, and CURVE with an unknown key.  Each
     * sends a donation that would be valid, and a ping. */
    void *socks[4] = {fx_plain(f, d, d->ingest), fx_plain(f, d, d->query),
                      fx_dealer(f, d, d->ingest, upub, usec),
                      fx_dealer(f, d, d->query, upub, usec)};
    static const char *const ids[2] = {"x-plain", "x-unknown"};
    static const unsigned char ping[] = {0x81, 0xa2, 'o', 'p', 0xa4,
                                         'p',  'i',  'n', 'g'};
    for (int i = 0; i < 2; i++) {
        char ev[512], req[600];
        donation(ev, sizeof ev, ids[i], "60", 1000000);
        snprintf(req, sizeof req, "[%s]", ev);
        msgpack_sbuffer sb;
        tj_pack(&sb, req);
        struct frame fr = {sb.data, sb.size};
        send_untrusted(socks[2 * i], &fr, 1);
        msgpack_sbuffer_destroy(&sb);
        struct frame pf = {ping, sizeof ping};
        send_untrusted(socks[2 * i + 1], &pf, 1);
    }
    assert_silence(socks, 4, SILENCE_MS);

    /* The client library turns the refused handshake into a message. */
    povtrack_client *unknown = fx_client(f, d, upub, usec);
    struct povtrack_client_msg reply;
    memset(&reply, 0, sizeof reply);
    assert_int_equal(povtrack_client_simple(unknown, "ping", &reply),
                     POVTRACK_CLIENT_EREFUSED);
    povtrack_client_msg_free(&reply);
    assert_contains(povtrack_client_error(unknown), "registry");
    assert_contains(povtrack_client_error(unknown), d->query);

    povtrack_client *tester =
        fx_client(f, d, d->client_public, d->client_secret);
    assert_int_equal(povtrack_client_simple(tester, "ping", &reply), 0);
    assert_true(td_str_eq(td_get(&reply.obj, "version"), POVTRACK_VERSION));
    povtrack_client_msg_free(&reply);

    /* A key with only one endpoint's right is refused at the other. */
    povtrack_client *pubonly = fx_client(f, d, ppub, psec);
    assert_int_equal(povtrack_client_simple(pubonly, "ping", &reply),
                     POVTRACK_CLIENT_EREFUSED);
    povtrack_client_msg_free(&reply);
    assert_contains(povtrack_client_error(pubonly), "registry");
    struct povtrack_client_acks acks;
    memset(&acks, 0, sizeof acks);
    assert_int_equal(client_publish(pubonly, "p-1", &acks), 0);
    assert_int_equal(acks.count, 1);
    assert_int_equal(acks.acks[0].status, POVTRACK_ACK_OK);
    assert_string_equal(acks.acks[0].id, "p-1");
    povtrack_client_acks_free(&acks);

    povtrack_client *queryonly = fx_client(f, d, qpub, qsec);
    assert_int_equal(client_publish(queryonly, "q-1", &acks),
                     POVTRACK_CLIENT_EREFUSED);
    povtrack_client_acks_free(&acks);
    assert_contains(povtrack_client_error(queryonly), "registry");
    assert_contains(povtrack_client_error(queryonly), d->ingest);
    assert_int_equal(povtrack_client_simple(queryonly, "ping", &reply), 0);
    povtrack_client_msg_free(&reply);

    /* The CLI without CURVE gets the silence as "unreachable" (exit 3),
     * and a hint that CURVE may be why, since silence is all it sees. */
    static char out[2048], err[2048];
    assert_int_equal(
        td_cli_run(d->dir,
                   (const char *[]){"--query", d->query, "--timeout", "300",
                                    "--retries", "0", "ping", NULL},
                   out, sizeof out, err, sizeof err),
        3);
    assert_contains(err, "cannot reach povtrackd at ");
    assert_contains(err, "hint: is povtrackd running there?");
    assert_contains(err, "--server-key");

    /* Nothing of the refused clients reached the log. */
    struct rec recs[16];
    size_t n = read_log(d->query_sock, recs, 16);
    assert_int_equal(n, 5);
    assert_int_equal(count_id(recs, n, "p-1", "pubonly"), 1);
    for (size_t i = 0; i < n; i++) {
        assert_string_not_equal(recs[i].id, "x-plain");
        assert_string_not_equal(recs[i].id, "x-unknown");
        assert_string_not_equal(recs[i].id, "q-1");
    }
    assert_int_equal(td_stop(d), 0);
}

/* ====================================================================== */
/* 3. SIGHUP reload on open connections                                   */
/* ====================================================================== */

#define BATCHES 8
#define BATCH 25

static void send_batch(void *sock, int b)
{
    size_t cap = BATCH * 400 + 16, n = 0;
    char *json = malloc(cap);
    assert_non_null(json);
    json[n++] = '[';
    for (int i = 0; i < BATCH; i++) {
        char id[32], ev[400];
        snprintf(id, sizeof id, "t-%d-%02d", b, i);
        donation(ev, sizeof ev, id, "593", 100000 + i);
        n += (size_t)snprintf(json + n, cap - n, "%s%s", i ? "," : "", ev);
    }
    snprintf(json + n, cap - n, "]");
    msgpack_sbuffer sb;
    tj_pack(&sb, json);
    struct frame fr = {sb.data, sb.size};
    send_frames(sock, &fr, 1);
    msgpack_sbuffer_destroy(&sb);
    free(json);
}

/* Every event of batch b acknowledged "ok", in order; seqs recorded. */
static void finish_batch(void *sock, int b, uint64_t *seqs)
{
    msgpack_unpacked up;
    if (recv_reply(sock, &up, TIMEOUT_MS) != 0)
        fail_msg("batch %d: no acks within %d ms", b, TIMEOUT_MS);
    assert_int_equal(up.data.via.array.size, BATCH);
    for (uint32_t i = 0; i < BATCH; i++) {
        char id[32];
        snprintf(id, sizeof id, "t-%d-%02u", b, i);
        seqs[b * BATCH + (int)i] = ack_ok(&up, i, id);
        if (i > 0)
            assert_true(seqs[b * BATCH + (int)i] >
                        seqs[b * BATCH + (int)i - 1]);
    }
    msgpack_unpacked_destroy(&up);
}

/* Publish one donation from late's connection: the ack. */
static void late_publish(void *sock, const char *id, msgpack_unpacked *up)
{
    char ev[512], req[600];
    donation(ev, sizeof ev, id, "593", 7000000);
    snprintf(req, sizeof req, "[%s]", ev);
    call_json(sock, req, up);
    assert_int_equal(up->data.via.array.size, 1);
}

static void test_sighup_reload(void **state)
{
    struct fixture *f = *state;
    struct td *d = fx_daemon(f);
    char lpub[41], lsec[41], late[512], broken[1024];
    assert_int_equal(zmq_curve_keypair(lpub, lsec), 0);
    snprintf(late, sizeof late,
             "[late]\nkey = %s\npublish = donation.*\nunits = 593\n"
             "query = fund\n",
             lpub);
    /* Not INI: the whole file must be refused, the old registry kept. */
    snprintf(broken, sizeof broken, "%sthis line has no equals sign\n", late);
    assert_int_equal(td_curve_setup(d, NULL, NULL), 0);
    /* Info level: the reload lines are the handshake of each SIGHUP. */
    assert_int_equal(
        td_start_logged(
            d, (const char *[]){"-c", d->config, "--log-level", "info", NULL}),
        0);
    const char *logpath = d->log;
    const char *ing = "] ingest ", *host = "] host ";
    const char *one = "reloaded: 1 publishers";
    const char *two = "reloaded: 2 publishers";
    const char *kept = "the previous publisher registry stays in force";

    /* One tester connection for the whole test. */
    void *t = fx_dealer(f, d, d->ingest, NULL, NULL);
    define_units(t);
    pid_t host0 = td_host_pid(d);
    assert_true(host0 > 0);
    uint64_t seqs[BATCHES * BATCH];
    msgpack_unpacked up;
    char err[512];

    /* 0: a reload while a batch is in flight; its acks still come. */
    send_batch(t, 0);
    assert_int_equal(kill(d->pid, SIGHUP), 0);
    finish_batch(t, 0, seqs);
    wait_log(logpath, ing, one, 1);
    wait_log(logpath, host, one, 1);

    /* 1: late is added, and can publish and query once both processes
     * have read the new registry. */
    assert_int_equal(td_write_registry(d, late), 0);
    send_batch(t, 1);
    assert_int_equal(kill(d->pid, SIGHUP), 0);
    finish_batch(t, 1, seqs);
    wait_log(logpath, ing, two, 1);
    wait_log(logpath, host, two, 1);
    void *l_in = fx_dealer(f, d, d->ingest, lpub, lsec);
    void *l_q = fx_dealer(f, d, d->query, lpub, lsec);
    late_publish(l_in, "late-1", &up);
    uint64_t late1 = ack_ok(&up, 0, "late-1");
    msgpack_unpacked_destroy(&up);
    char q[256];
    snprintf(q, sizeof q,
             "{\"op\":\"query\",\"plugin\":\"fund\",\"q\":{\"unit\":\"593\"},"
             "\"min_seq\":%llu}",
             (unsigned long long)late1);
    call_json(l_q, q, &up);
    assert_ok(&up);
    msgpack_unpacked_destroy(&up);

    /* 2: a burst of signals (they may coalesce) during a batch. */
    send_batch(t, 2);
    for (int i = 0; i < 3; i++)
        assert_int_equal(kill(d->pid, SIGHUP), 0);
    finish_batch(t, 2, seqs);
    wait_log(logpath, ing, two, 2);
    wait_log(logpath, host, two, 2);

    /* 3: a broken registry is refused whole by both processes; the
     * previous one stays in force for everyone, late included. */
    write_file_atomic(d->registry, broken);
    send_batch(t, 3);
    assert_int_equal(kill(d->pid, SIGHUP), 0);
    finish_batch(t, 3, seqs);
    wait_log(logpath, ing, kept, 1);
    wait_log(logpath, host, kept, 1);
    assert_int_equal(kill(d->pid, 0), 0);
    assert_int_equal(td_host_pid(d), host0);
    late_publish(l_in, "late-2", &up);
    uint64_t late2 = ack_ok(&up, 0, "late-2");
    msgpack_unpacked_destroy(&up);
    snprintf(q, sizeof q,
             "{\"op\":\"query\",\"plugin\":\"fund\",\"q\":{\"unit\":\"593\"},"
             "\"min_seq\":%llu}",
             (unsigned long long)late2);
    call_json(l_q, q, &up);
    assert_ok(&up);
    msgpack_unpacked_destroy(&up);

    /* 4: late is removed; its open connections stay up, and their next
     * requests are refused, naming the registry. */
    assert_int_equal(td_write_registry(d, NULL), 0);
    send_batch(t, 4);
    assert_int_equal(kill(d->pid, SIGHUP), 0);
    finish_batch(t, 4, seqs);
    wait_log(logpath, ing, one, 2);
    wait_log(logpath, host, one, 2);
    late_publish(l_in, "late-3", &up);
    ack_rejected(&up, 0, NULL, err, sizeof err);
    assert_contains(err, "\"late\"");
    assert_contains(err, "registry");
    msgpack_unpacked_destroy(&up);
    call_json(l_q, q, &up);
    refused(&up, err, sizeof err);
    assert_contains(err, "registry");
    msgpack_unpacked_destroy(&up);

    /* 5..: more reloads mid-batch, each acknowledged by both processes. */
    for (int b = 5; b < BATCHES; b++) {
        send_batch(t, b);
        assert_int_equal(kill(d->pid, SIGHUP), 0);
        finish_batch(t, b, seqs);
        wait_log(logpath, ing, one, (size_t)b - 2);
        wait_log(logpath, host, one, (size_t)b - 2);
    }

    /* Each ack came exactly once: nothing more is waiting on t. */
    assert_silence(&t, 1, 0);
    assert_int_equal(kill(d->pid, 0), 0);
    assert_int_equal(td_host_pid(d), host0); /* never crashed */

    /* The log: units, every tester event once, late's two accepted. */
    static struct rec recs[4 + BATCHES * BATCH + 8];
    size_t n = read_log(d->query_sock, recs, sizeof recs / sizeof recs[0]);
    assert_int_equal(n, 4 + BATCHES * BATCH + 2);
    for (int b = 0; b < BATCHES; b++)
        for (int i = 0; i < BATCH; i++) {
            char id[32];
            snprintf(id, sizeof id, "t-%d-%02d", b, i);
            assert_int_equal(count_id(recs, n, id, "tester"), 1);
            assert_string_equal(recs[seqs[b * BATCH + i] - 1].id, id);
        }
    assert_int_equal(count_id(recs, n, "late-1", "late"), 1);
    assert_int_equal(count_id(recs, n, "late-2", "late"), 1);
    assert_int_equal(count_id(recs, n, "late-3", NULL), 0);
    assert_int_equal(td_stop(d), 0);
}

/* ====================================================================== */
/* 4. Hostile input                                                       */
/* ====================================================================== */

static const char limits_conf[] = "[limits]\n"
                                  "frame_max = 65536\n"
                                  "events_max = 100\n"
                                  "string_max = 1024\n"
                                  "container_max = 32\n";

/* V: the valid events, in log order.  They touch every plugin. */
static const char *const V[] = {
    /* 0-4: units */
    "{\"v\":1,\"id\":\"u-60\",\"type\":\"unit.defined\",\"at\":1609459200,"
    "\"unit\":\"60\",\"data\":{\"name\":\"Tỉnh Bình Thuận\",\"parent\":null,"
    "\"level\":\"province\"}}",
    "{\"v\":1,\"id\":\"u-593\",\"type\":\"unit.defined\",\"at\":1609459200,"
    "\"unit\":\"593\",\"data\":{\"name\":\"Thành phố Phan Thiết\","
    "\"parent\":\"60\",\"level\":\"district\"}}",
    "{\"v\":1,\"id\":\"u-594\",\"type\":\"unit.defined\",\"at\":1609459200,"
    "\"unit\":\"594\",\"data\":{\"name\":\"Thị xã La Gi\",\"parent\":\"60\","
    "\"level\":\"district\"}}",
    "{\"v\":1,\"id\":\"u-22924\",\"type\":\"unit.defined\",\"at\":1609459200,"
    "\"unit\":\"22924\",\"data\":{\"name\":\"Phường Phú Thủy\","
    "\"parent\":\"593\",\"level\":\"commune\"}}",
    "{\"v\":1,\"id\":\"u-23231\",\"type\":\"unit.defined\",\"at\":1609459200,"
    "\"unit\":\"23231\",\"data\":{\"name\":\"Phường Phước Hội\","
    "\"parent\":\"594\",\"level\":\"commune\"}}",
    /* 5-12: households and statuses */
    "{\"v\":1,\"id\":\"hh-22924-2023\",\"type\":\"unit.households\",\"at\":"
    "1702598400,\"unit\":\"22924\",\"data\":{\"year\":2023,\"households\":"
    "120}}",
    "{\"v\":1,\"id\":\"hh-22924-2024\",\"type\":\"unit.households\",\"at\":"
    "1734220800,\"unit\":\"22924\",\"data\":{\"year\":2024,\"households\":"
    "120}}",
    "{\"v\":1,\"id\":\"hh-23231-2024\",\"type\":\"unit.households\",\"at\":"
    "1734220800,\"unit\":\"23231\",\"data\":{\"year\":2024,\"households\":"
    "90}}",
    "{\"v\":1,\"id\":\"st-h1-2023\",\"type\":\"household.status\",\"at\":"
    "1702598400,\"unit\":\"22924\",\"household\":\"593-h1\",\"data\":{"
    "\"year\":2023,\"status\":\"poor\"}}",
    "{\"v\":1,\"id\":\"st-h3-2023\",\"type\":\"household.status\",\"at\":"
    "1702598400,\"unit\":\"22924\",\"household\":\"593-h3\",\"data\":{"
    "\"year\":2023,\"status\":\"poor\"}}",
    "{\"v\":1,\"id\":\"st-h1-2024\",\"type\":\"household.status\",\"at\":"
    "1734220800,\"unit\":\"22924\",\"household\":\"593-h1\",\"data\":{"
    "\"year\":2024,\"status\":\"near_poor\",\"decision\":\"QĐ-15/2024\"}}",
    "{\"v\":1,\"id\":\"st-h3-2024\",\"type\":\"household.status\",\"at\":"
    "1734220800,\"unit\":\"22924\",\"household\":\"593-h3\",\"data\":{"
    "\"year\":2024,\"status\":\"poor\"}}",
    "{\"v\":1,\"id\":\"st-h2-2024\",\"type\":\"household.status\",\"at\":"
    "1734220800,\"unit\":\"23231\",\"household\":\"594-h2\",\"data\":{"
    "\"year\":2024,\"status\":\"poor\"}}",
    /* 13-16: assessments and reviews */
    "{\"v\":1,\"id\":\"as-h1-2024\",\"type\":\"household.assessed\",\"at\":"
    "1730000000,\"unit\":\"22924\",\"household\":\"593-h1\",\"data\":{"
    "\"year\":2024,\"area\":\"urban\",\"members\":4,\"income\":1800000,"
    "\"deprived\":[\"water\",\"latrine\",\"telecom\"]}}",
    "{\"v\":1,\"id\":\"as-h2-2024\",\"type\":\"household.assessed\",\"at\":"
    "1730000000,\"unit\":\"23231\",\"household\":\"594-h2\",\"data\":{"
    "\"year\":2024,\"area\":\"rural\",\"members\":5,\"income\":900000,"
    "\"deprived\":[\"employment\",\"nutrition\",\"health_insurance\","
    "\"housing_area\"]}}",
    "{\"v\":1,\"id\":\"rv-22924-2024\",\"type\":\"review.closed\",\"at\":"
    "1734220800,\"unit\":\"22924\",\"data\":{\"year\":2024}}",
    "{\"v\":1,\"id\":\"rv-60-2024\",\"type\":\"review.closed\",\"at\":"
    "1734307200,\"unit\":\"60\",\"data\":{\"year\":2024}}",
    /* 17-22: the fund */
    "{\"v\":1,\"id\":\"pl-1\",\"type\":\"donation.pledged\",\"at\":"
    "1717200000,\"unit\":\"593\",\"data\":{\"pledge\":\"CK-2024-01\","
    "\"amount\":50000000,\"donor\":\"Ngân hàng Nông nghiệp\",\"due\":"
    "1735664400}}",
    "{\"v\":1,\"id\":\"dn-1\",\"type\":\"donation.received\",\"at\":"
    "1719792000,\"unit\":\"593\",\"data\":{\"amount\":30000000,\"donor\":"
    "\"Ngân hàng Nông nghiệp\",\"donor_kind\":\"organisation\",\"level\":"
    "\"district\",\"pledge\":\"CK-2024-01\"}}",
    "{\"v\":1,\"id\":\"dn-2\",\"type\":\"donation.received\",\"at\":"
    "1722470400,\"unit\":\"22924\",\"data\":{\"amount\":150000000,\"donor\":"
    "\"Công ty Cổ phần Y\",\"donor_kind\":\"business\",\"level\":"
    "\"commune\"}}",
    "{\"v\":1,\"id\":\"dn-3\",\"type\":\"donation.received\",\"at\":"
    "1725148800,\"unit\":\"60\",\"data\":{\"amount\":500000,\"donor\":"
    "\"Ẩn danh\",\"donor_kind\":\"anonymous\",\"level\":\"province\","
    "\"in_kind\":true}}",
    "{\"v\":1,\"id\":\"fd-1\",\"type\":\"fund.disbursed\",\"at\":1727740800,"
    "\"unit\":\"23231\",\"household\":\"594-h2\",\"data\":{\"amount\":"
    "20000000,\"purpose\":\"housing\",\"level\":\"commune\"}}",
    "{\"v\":1,\"id\":\"fd-2\",\"type\":\"fund.disbursed\",\"at\":1733000000,"
    "\"unit\":\"22924\",\"data\":{\"amount\":5000000,\"purpose\":\"tet\","
    "\"level\":\"district\"}}",
    /* 23-30: relocation, credit, reports */
    "{\"v\":1,\"id\":\"rl-1\",\"type\":\"relocation.completed\",\"at\":"
    "1717200000,\"unit\":\"22924\",\"household\":\"593-h3\",\"data\":{"
    "\"from\":\"23231\",\"reason\":\"flood\"}}",
    "{\"v\":1,\"id\":\"rs-1\",\"type\":\"relocation.support\",\"at\":"
    "1719792000,\"unit\":\"22924\",\"household\":\"593-h3\",\"data\":{"
    "\"item\":\"land\",\"amount\":40000000}}",
    "{\"v\":1,\"id\":\"rs-2\",\"type\":\"relocation.support\",\"at\":"
    "1722470400,\"unit\":\"22924\",\"household\":\"593-h3\",\"data\":{"
    "\"item\":\"housing\"}}",
    "{\"v\":1,\"id\":\"cr-1\",\"type\":\"credit.disbursed\",\"at\":"
    "1717200000,\"unit\":\"23231\",\"household\":\"594-h2\",\"data\":{"
    "\"loan\":\"VBSP-594-001\",\"program\":\"ho_ngheo\",\"amount\":"
    "50000000}}",
    "{\"v\":1,\"id\":\"cr-2\",\"type\":\"credit.repaid\",\"at\":1730000000,"
    "\"unit\":\"23231\",\"household\":\"594-h2\",\"data\":{\"loan\":"
    "\"VBSP-594-001\",\"amount\":5000000}}",
    "{\"v\":1,\"id\":\"rp-1\",\"type\":\"report.due\",\"at\":1704067200,"
    "\"unit\":\"593\",\"data\":{\"org\":\"UBND-593\",\"report\":"
    "\"bao-cao-2024\",\"due\":1733011200}}",
    "{\"v\":1,\"id\":\"rp-2\",\"type\":\"report.submitted\",\"at\":"
    "1733500000,\"unit\":\"593\",\"data\":{\"org\":\"UBND-593\",\"report\":"
    "\"bao-cao-2024\"}}",
    "{\"v\":1,\"id\":\"rp-3\",\"type\":\"report.due\",\"at\":1704067200,"
    "\"unit\":\"594\",\"data\":{\"org\":\"UBND-594\",\"report\":"
    "\"bao-cao-2024\",\"due\":1733011200}}",
};
#define NV (sizeof V / sizeof V[0])

/* Events valid but for one string that is not UTF-8: each is rejected on
 * its own, among valid events of the same request.  The placeholder is
 * overwritten in the packed bytes with raw of the same length. */
struct bad_event {
    const char *id, *json, *placeholder, *raw, *error;
};
static const struct bad_event BAD[] = {
    {"bad-name",
     "{\"v\":1,\"id\":\"bad-name\",\"type\":\"unit.defined\",\"at\":"
     "1609459200,\"unit\":\"22927\",\"data\":{\"name\":\"@@BAD0@@\","
     "\"parent\":\"593\",\"level\":\"commune\"}}",
     "@@BAD0@@", "abcdef\xe1\x80", /* cut short */
     "data.name: invalid UTF-8 at byte 6"},
    {"bad-household",
     "{\"v\":1,\"id\":\"bad-household\",\"type\":\"household.status\",\"at\":"
     "1734220800,\"unit\":\"22924\",\"household\":\"@@BAD1@@\",\"data\":{"
     "\"year\":2024,\"status\":\"poor\"}}",
     "@@BAD1@@",
     "h\xed\xa0\x80"
     "defg", /* a UTF-16 surrogate */
     "household: invalid UTF-8 at byte 1"},
    {"bad-donor",
     "{\"v\":1,\"id\":\"bad-donor\",\"type\":\"donation.received\",\"at\":"
     "1730000000,\"unit\":\"593\",\"data\":{\"amount\":1000000,\"donor\":"
     "\"@@BAD2@@\",\"donor_kind\":\"person\",\"level\":\"district\"}}",
     "@@BAD2@@", "ab\xc3(cdef", /* a lead byte without its continuation */
     "data.donor: invalid UTF-8 at byte 2"},
    {"bad-overlong",
     "{\"v\":1,\"id\":\"bad-overlong\",\"type\":\"donation.received\",\"at\":"
     "1730000000,\"unit\":\"593\",\"data\":{\"amount\":1000000,\"donor\":"
     "\"@@BAD3@@\",\"donor_kind\":\"person\",\"level\":\"district\"}}",
     "@@BAD3@@",
     "\xc0\xaf"
     "cdefgh", /* "/" in two bytes */
     "data.donor: invalid UTF-8 at byte 0"},
};

/* A request of V and BAD events: entry k >= 0 is V[k], k < 0 is BAD[-k-1].
 * with_bad false leaves the BAD ones out (the second daemon). */
static void pack_request(msgpack_sbuffer *sb, const int *spec, size_t n,
                         int with_bad)
{
    size_t cap = 2, len = 0;
    for (size_t i = 0; i < n; i++)
        cap += strlen(spec[i] >= 0 ? V[spec[i]] : BAD[-spec[i] - 1].json) + 1;
    char *json = malloc(cap + 1);
    assert_non_null(json);
    json[len++] = '[';
    for (size_t i = 0; i < n; i++) {
        if (spec[i] < 0 && !with_bad)
            continue;
        const char *ev = spec[i] >= 0 ? V[spec[i]] : BAD[-spec[i] - 1].json;
        if (len > 1)
            json[len++] = ',';
        memcpy(json + len, ev, strlen(ev));
        len += strlen(ev);
    }
    json[len++] = ']';
    json[len] = '\0';
    tj_pack(sb, json);
    free(json);
    for (size_t i = 0; i < n; i++)
        if (spec[i] < 0 && with_bad)
            patch(sb, BAD[-spec[i] - 1].placeholder, BAD[-spec[i] - 1].raw);
}

static void json_id(const char *json, char *buf, size_t cap)
{
    json_t *v = json_loads(json, 0, NULL);
    assert_non_null(v);
    const char *id = json_string_value(json_object_get(v, "id"));
    assert_non_null(id);
    snprintf(buf, cap, "%s", id);
    json_decref(v);
}

/* Publish a request of spec on sock: each V event is stored at the
 * sequence of its place in V, each BAD event rejected with its reason. */
static void publish_spec(void *sock, const int *spec, size_t n, int with_bad)
{
    msgpack_sbuffer sb;
    pack_request(&sb, spec, n, with_bad);
    msgpack_unpacked up;
    call(sock, sb.data, sb.size, &up);
    msgpack_sbuffer_destroy(&sb);
    uint32_t a = 0;
    for (size_t i = 0; i < n; i++) {
        char id[ID_MAX + 1], err[512];
        if (spec[i] >= 0) {
            json_id(V[spec[i]], id, sizeof id);
            assert_int_equal(ack_ok(&up, a++, id), (uint64_t)spec[i] + 1);
        } else if (with_bad) {
            const struct bad_event *b = &BAD[-spec[i] - 1];
            ack_rejected(&up, a++, b->id, err, sizeof err);
            assert_string_equal(err, b->error);
        }
    }
    assert_int_equal(up.data.via.array.size, a);
    msgpack_unpacked_destroy(&up);
}

/* The groups V is published in; BAD events sit among the valid ones. */
static const int G1[] = {0, 1, 2, -1, 3, 4};
static const int G2[] = {5, 6, 7, 8, 9, -2, 10, 11, 12};
static const int G3[] = {13, 14, 15, 16};
static const int G4[] = {17, -3, 18, 19, -4, 20, 21, 22};
static const int G5[] = {23, 24, 25, 26, 27, 28, 29, 30};
#define SPEC(g) g, sizeof g / sizeof g[0]

/* Garbage goes to the tester (whose reply is checked) and the same bytes
 * to an unauthenticated socket (which must never be answered). */
struct hostile {
    void *t_in, *t_q, *p_in, *p_q;
};

/* A literal and its length: NULs inside count, the terminator does not. */
#define LIT(s) (s), sizeof(s) - 1

/* A request the ingest endpoint refuses whole: one ack, nil id, an error
 * starting "request: " and containing needle. */
static void ingest_garbage(struct hostile *h, const struct frame *parts,
                           size_t n, const char *needle)
{
    send_untrusted(h->p_in, parts, n);
    send_frames(h->t_in, parts, n);
    msgpack_unpacked up;
    if (recv_reply(h->t_in, &up, TIMEOUT_MS) != 0)
        fail_msg("no reply to garbage expecting \"%s\"", needle);
    assert_int_equal(up.data.via.array.size, 1);
    char err[512];
    ack_rejected(&up, 0, NULL, err, sizeof err);
    assert_starts(err, "request: ");
    assert_contains(err, needle);
    msgpack_unpacked_destroy(&up);
}

static void ingest_garbage1(struct hostile *h, const void *buf, size_t len,
                            const char *needle)
{
    struct frame fr = {buf, len};
    ingest_garbage(h, &fr, 1, needle);
}

static void ingest_garbage_json(struct hostile *h, const char *json,
                                const char *needle)
{
    msgpack_sbuffer sb;
    tj_pack(&sb, json);
    ingest_garbage1(h, sb.data, sb.size, needle);
    msgpack_sbuffer_destroy(&sb);
}

/* A query-endpoint request refused with an error containing needle. */
static void query_garbage(struct hostile *h, const struct frame *parts,
                          size_t n, const char *needle)
{
    send_untrusted(h->p_q, parts, n);
    send_frames(h->t_q, parts, n);
    msgpack_unpacked up;
    if (recv_reply(h->t_q, &up, TIMEOUT_MS) != 0)
        fail_msg("no reply to query garbage expecting \"%s\"", needle);
    char err[512];
    refused(&up, err, sizeof err);
    assert_contains(err, needle);
    msgpack_unpacked_destroy(&up);
}

static void query_garbage1(struct hostile *h, const void *buf, size_t len,
                           const char *needle)
{
    struct frame fr = {buf, len};
    query_garbage(h, &fr, 1, needle);
}

static void query_garbage_json(struct hostile *h, const char *json,
                               const char *needle)
{
    msgpack_sbuffer sb;
    tj_pack(&sb, json);
    query_garbage1(h, sb.data, sb.size, needle);
    msgpack_sbuffer_destroy(&sb);
}

/* A JSON event array of n events, each from fmt with its index. */
static char *json_events(int n, const char *fmt)
{
    size_t cap = (size_t)n * (strlen(fmt) + 16) + 3, len = 0;
    char *json = malloc(cap);
    assert_non_null(json);
    json[len++] = '[';
    for (int i = 0; i < n; i++) {
        if (i > 0)
            json[len++] = ',';
        len += (size_t)snprintf(json + len, cap - len, fmt, i);
    }
    snprintf(json + len, cap - len, "]");
    return json;
}

/* Garbage at the ingest endpoint, structure first. */
static void ingest_structure_garbage(struct hostile *h)
{
    ingest_garbage1(h, LIT("\xc1"), "invalid msgpack byte 0xc1");
    /* Truncated: the event map ends after a key; a string after 3 of its
     * 8 bytes. */
    ingest_garbage1(h, LIT("\x91\x83\xa1v\x01\xa2id"),
                    "truncated msgpack object");
    ingest_garbage1(h,
                    LIT("\x91\x81\xa2id\xa8"
                        "abc"),
                    "payload of 8 bytes exceeds the 3 bytes left");
    ingest_garbage1(h, LIT("\x91\xc0\xc0"), "trailing bytes");
    /* Wrong top-level types: map, string, int, nil, empty array. */
    static const struct frame tops[] = {{LIT("\x81\xa1k\x01")},
                                        {LIT("\xa3"
                                             "abc")},
                                        {LIT("\x05")},
                                        {LIT("\xc0")},
                                        {LIT("\x90")}};
    for (size_t i = 0; i < sizeof tops / sizeof tops[0]; i++)
        ingest_garbage(h, &tops[i], 1,
                       "must be an array of 1 to 100 events "
                       "(limits.events_max)");
    /* Headers declaring 4 GiB: refused on the header, nothing allocated.
     * At the top level the bound is the request's event count. */
    ingest_garbage1(h, LIT("\xdd\xff\xff\xff\xff"),
                    "array of 4294967295 elements exceeds limits.events_max "
                    "(100)");
    ingest_garbage1(h, LIT("\xdf\xff\xff\xff\xff"),
                    "map of 4294967295 elements exceeds limits.events_max "
                    "(100)");
    ingest_garbage1(h, LIT("\xdb\xff\xff\xff\xff"),
                    "string of 4294967295 bytes exceeds limits.string_max "
                    "(1024)");
    ingest_garbage1(h, LIT("\xc6\xff\xff\xff\xff"),
                    "string of 4294967295 bytes exceeds limits.string_max");
    ingest_garbage1(h, LIT("\xc9\xff\xff\xff\xff\x01"), "limits.string_max");
    ingest_garbage1(h, LIT("\x91\xdd\xff\xff\xff\xff"),
                    "array of 4294967295 elements exceeds "
                    "limits.container_max (32)");
    ingest_garbage1(h,
                    LIT("\x91\x81\xa4"
                        "data\xdf\xff\xff\xff\xff"),
                    "map of 4294967295 elements exceeds "
                    "limits.container_max (32)");
    /* Within the limits, but more than the frame holds. */
    ingest_garbage1(h, LIT("\x91\xdc\x00\x1f"),
                    "array of 31 elements exceeds the 0 bytes left");
    ingest_garbage1(h,
                    LIT("\x91\xda\x03\xe8"
                        "ab"),
                    "payload of 1000 bytes exceeds the 2 bytes left");
    /* Nesting: nine arrays; an event whose data nests ten deep. */
    ingest_garbage1(h, LIT("\x91\x91\x91\x91\x91\x91\x91\x91\x91\xc0"),
                    "nesting deeper than 8 levels (limits.depth_max)");
    ingest_garbage_json(
        h,
        "[{\"v\":1,\"id\":\"g-deep\",\"type\":\"review.closed\",\"at\":"
        "1734220800,\"unit\":\"593\",\"data\":{\"year\":[[[[[[[2024]]]]]]]}}]",
        "nesting deeper than 8 levels (limits.depth_max)");
    /* Zero-length frames, and frames in the wrong number. */
    struct frame empty = {"", 0};
    ingest_garbage(h, &empty, 1, "event: empty buffer");
    ingest_garbage(h, NULL, 0,
                   "must be exactly one frame after the envelope, got 0");
    struct frame two_empty[2] = {{"", 0}, {"", 0}};
    ingest_garbage(h, two_empty, 2,
                   "must be exactly one frame after the envelope, got 2");
    /* A valid event followed by more body frames: refused whole, so the
     * event must not be stored. */
    msgpack_sbuffer sb;
    tj_pack(&sb, "[{\"v\":1,\"id\":\"g-multi\",\"type\":\"review.closed\","
                 "\"at\":1734220800,\"unit\":\"593\",\"data\":{\"year\":"
                 "2024}}]");
    struct frame multi[3] = {{sb.data, sb.size}, {"\x90", 1}, {"\x90", 1}};
    ingest_garbage(h, multi, 2,
                   "must be exactly one frame after the envelope, got 2");
    ingest_garbage(h, multi, 3,
                   "must be exactly one frame after the envelope, got 3");
    msgpack_sbuffer_destroy(&sb);
}

/* Garbage at the ingest endpoint that crosses a configured limit. */
static void ingest_limit_garbage(struct hostile *h)
{
    /* A frame over frame_max but under ZeroMQ's cut-off: a proper reply. */
    size_t big = 66004;
    char *buf = malloc(big);
    assert_non_null(buf);
    buf[0] = (char)0x91;
    buf[1] = (char)0xda;
    buf[2] = (char)((big - 4) >> 8);
    buf[3] = (char)((big - 4) & 0xff);
    memset(buf + 4, 'x', big - 4);
    ingest_garbage1(h, buf, big,
                    "frame of 66004 bytes exceeds limits.frame_max (65536)");
    free(buf);

    /* events_max: 101 valid events are too many; 100 invalid ones are a
     * request of the allowed size, each event rejected on its own. */
    char *json = json_events(
        101, "{\"v\":1,\"id\":\"g-many-%d\",\"type\":\"review.closed\","
             "\"at\":1734220800,\"unit\":\"593\",\"data\":{\"year\":2024}}");
    ingest_garbage_json(h, json,
                        "array of 101 elements exceeds limits.events_max "
                        "(100)");
    free(json);
    static unsigned char hundred[3 + 100];
    hundred[0] = 0xdc;
    hundred[1] = 0;
    hundred[2] = 100;
    memset(hundred + 3, 0x07, 100);
    send_untrusted(h->p_in, &(struct frame){hundred, sizeof hundred}, 1);
    send_frames(h->t_in, &(struct frame){hundred, sizeof hundred}, 1);
    msgpack_unpacked up;
    assert_int_equal(recv_reply(h->t_in, &up, TIMEOUT_MS), 0);
    assert_int_equal(up.data.via.array.size, 100);
    char err[512];
    for (uint32_t i = 0; i < 100; i++) {
        ack_rejected(&up, i, NULL, err, sizeof err);
        assert_string_equal(err, "event: must be a map");
    }
    msgpack_unpacked_destroy(&up);

    /* string_max: a donor of 2000 bytes refuses the request; one of 1024
     * (at the limit) passes the scan and is refused by the catalogue. */
    char *donor = malloc(2001);
    assert_non_null(donor);
    memset(donor, 'x', 2000);
    donor[2000] = '\0';
    static const char fmt[] =
        "[{\"v\":1,\"id\":\"%s\",\"type\":\"donation.received\",\"at\":"
        "1730000000,\"unit\":\"593\",\"data\":{\"amount\":1000,\"donor\":"
        "\"%s\",\"donor_kind\":\"person\",\"level\":\"district\"}}]";
    json = malloc(sizeof fmt + 2100);
    assert_non_null(json);
    snprintf(json, sizeof fmt + 2100, fmt, "g-long", donor);
    ingest_garbage_json(h, json,
                        "string of 2000 bytes exceeds limits.string_max "
                        "(1024)");
    donor[1024] = '\0';
    snprintf(json, sizeof fmt + 2100, fmt, "g-1024", donor);
    msgpack_sbuffer sb;
    tj_pack(&sb, json);
    send_untrusted(h->p_in, &(struct frame){sb.data, sb.size}, 1);
    call(h->t_in, sb.data, sb.size, &up);
    ack_rejected(&up, 0, "g-1024", err, sizeof err);
    assert_string_equal(err, "data.donor: must be at most 256 bytes (about 85 "
                             "Vietnamese characters); this one has 1024 bytes");
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_destroy(&sb);
    free(json);
    free(donor);

    /* container_max: 33 deprivations; a data map of 33 keys. */
    json = json_events(1, "{\"v\":1,\"id\":\"g-wide-%d\",\"type\":"
                          "\"household.assessed\",\"at\":1730000000,\"unit\":"
                          "\"22924\",\"household\":\"h\",\"data\":{\"year\":"
                          "2024,\"area\":\"rural\",\"members\":1,\"income\":0,"
                          "\"deprived\":[\"water\",\"water\",\"water\","
                          "\"water\",\"water\",\"water\",\"water\",\"water\","
                          "\"water\",\"water\",\"water\",\"water\",\"water\","
                          "\"water\",\"water\",\"water\",\"water\",\"water\","
                          "\"water\",\"water\",\"water\",\"water\",\"water\","
                          "\"water\",\"water\",\"water\",\"water\",\"water\","
                          "\"water\",\"water\",\"water\",\"water\","
                          "\"water\"]}}");
    ingest_garbage_json(h, json,
                        "array of 33 elements exceeds limits.container_max "
                        "(32)");
    free(json);
    char keys[1024];
    size_t k = 0;
    for (int i = 0; i < 33; i++)
        k += (size_t)snprintf(keys + k, sizeof keys - k, "%s\"k%d\":%d",
                              i ? "," : "", i, i);
    json = malloc(2048);
    assert_non_null(json);
    snprintf(json, 2048,
             "[{\"v\":1,\"id\":\"g-keys\",\"type\":\"review.closed\",\"at\":"
             "1734220800,\"unit\":\"593\",\"data\":{%s}}]",
             keys);
    ingest_garbage_json(h, json,
                        "map of 33 elements exceeds limits.container_max "
                        "(32)");
    free(json);
}

static void query_structure_garbage(struct hostile *h)
{
    query_garbage1(h, LIT("\x91\x01"), "request: must be a msgpack map");
    query_garbage1(h, LIT("\xa4ping"), "request: must be a msgpack map");
    query_garbage1(h, LIT("\x05"), "request: must be a msgpack map");
    query_garbage1(h, LIT("\x80"), "op: required");
    query_garbage_json(h, "{\"op\":1}", "op: required");
    query_garbage_json(h, "{\"op\":\"frobnicate\"}",
                       "op: unknown operation \"frobnicate\"");
    /* The top-level bound of a query map is container_max; the message
     * speaks of events (see povtrack_proto_precheck). */
    query_garbage1(h, LIT("\xdf\xff\xff\xff\xff"),
                   "request: event: map of 4294967295 elements exceeds");
    query_garbage1(h, LIT("\x81\xa2op\xdb\xff\xff\xff\xff"),
                   "string of 4294967295 bytes exceeds limits.string_max "
                   "(1024)");
    query_garbage1(h, LIT("\x81\xa1q\xdd\xff\xff\xff\xff"),
                   "array of 4294967295 elements exceeds "
                   "limits.container_max (32)");
    query_garbage_json(h,
                       "{\"op\":\"query\",\"plugin\":\"fund\",\"q\":{\"a\":"
                       "[[[[[[[[1]]]]]]]]}}",
                       "nesting deeper than 8 levels (limits.depth_max)");
    query_garbage1(h, LIT("\x82\xa2op\xa4pi"),
                   "payload of 4 bytes exceeds the 2 bytes left");
    struct frame empty = {"", 0};
    query_garbage(h, &empty, 1, "request: event: empty buffer");
    query_garbage(h, NULL, 0, "must be exactly one frame after the envelope");
    static const unsigned char ping[] = {0x81, 0xa2, 'o', 'p', 0xa4,
                                         'p',  'i',  'n', 'g'};
    struct frame pings[2] = {{ping, sizeof ping}, {ping, sizeof ping}};
    query_garbage(h, pings, 2, "must be exactly one frame after the envelope");
    size_t big = (1u << 20) + 16;
    char *buf = malloc(big);
    assert_non_null(buf);
    memset(buf, 0xc0, big);
    query_garbage1(h, buf, big, "request: larger than 1048576 bytes");
    free(buf);
    query_garbage_json(h, "{\"op\":\"query\",\"plugin\":\"fund\",\"q\":[1]}",
                       "q: must be a map");
    query_garbage_json(h, "{\"op\":\"query\",\"plugin\":\"nosuch\"}",
                       "plugin: no plugin named \"nosuch\" is loaded");
    query_garbage_json(h, "{\"op\":\"read\",\"limit\":20000}",
                       "limit: must be an integer from 0 to 10000");
    query_garbage_json(h,
                       "{\"op\":\"query\",\"plugin\":\"fund\",\"q\":{\"unit\":"
                       "\"99\"}}",
                       "'99' is not a defined unit");
}

/* The raw bytes of "result" in a query reply {"ok", "applied_seq",
 * "result"}; applied_seq is returned too. */
static void raw_result(const char *buf, size_t len, size_t *start, size_t *rlen,
                       uint64_t *applied)
{
    assert_true(len > 0);
    assert_int_equal((unsigned char)buf[0], 0x83);
    size_t off = 1;
    *rlen = 0;
    for (int i = 0; i < 3; i++) {
        msgpack_unpacked k, v;
        msgpack_unpacked_init(&k);
        msgpack_unpacked_init(&v);
        assert_int_equal(msgpack_unpack_next(&k, buf, len, &off),
                         MSGPACK_UNPACK_SUCCESS);
        size_t vstart = off;
        assert_int_equal(msgpack_unpack_next(&v, buf, len, &off),
                         MSGPACK_UNPACK_SUCCESS);
        if (td_str_eq(&k.data, "ok"))
            assert_true(v.data.type == MSGPACK_OBJECT_BOOLEAN &&
                        v.data.via.boolean);
        if (td_str_eq(&k.data, "applied_seq"))
            *applied = v.data.via.u64;
        if (td_str_eq(&k.data, "result")) {
            *start = vstart;
            *rlen = off - vstart;
        }
        msgpack_unpacked_destroy(&k);
        msgpack_unpacked_destroy(&v);
    }
    assert_int_equal(off, len);
    assert_true(*rlen > 0);
}

/* Ask plugin q on sock once NV records are applied; the raw result. */
static char *query_raw(void *sock, const char *plugin, const char *q,
                       size_t *len)
{
    char json[512];
    snprintf(json, sizeof json,
             "{\"op\":\"query\",\"plugin\":\"%s\",\"q\":%s,\"min_seq\":%zu}",
             plugin, q, NV);
    msgpack_sbuffer sb;
    tj_pack(&sb, json);
    struct frame fr = {sb.data, sb.size};
    send_frames(sock, &fr, 1);
    msgpack_sbuffer_destroy(&sb);
    char *raw;
    size_t rawlen, start = 0, rlen = 0;
    uint64_t applied = 0;
    assert_int_equal(recv_raw(sock, &raw, &rawlen, TIMEOUT_MS), 0);
    raw_result(raw, rawlen, &start, &rlen, &applied);
    assert_int_equal(applied, NV);
    char *out = malloc(rlen);
    assert_non_null(out);
    memcpy(out, raw + start, rlen);
    free(raw);
    *len = rlen;
    return out;
}

static uint64_t result_u64(const char *raw, size_t len, const char *key)
{
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t off = 0;
    assert_int_equal(msgpack_unpack_next(&up, raw, len, &off),
                     MSGPACK_UNPACK_SUCCESS);
    uint64_t v = get_u64(&up.data, key);
    msgpack_unpacked_destroy(&up);
    return v;
}

/* A ZMTP 3.0 greeting (64 bytes) proposing mechanism. */
static size_t zmtp_greeting(unsigned char *g, const char *mech)
{
    memset(g, 0, 64);
    g[0] = 0xff; /* signature: ff, 8 bytes, 7f */
    g[9] = 0x7f;
    g[10] = 3; /* version 3.0 */
    memcpy(g + 12, mech, strlen(mech));
    return 64;
}

/* Hostile bytes below ZeroMQ: a raw connection to an ipc:// endpoint that
 * writes garbage into the handshake.  ZeroMQ never sends a socket's
 * messages before its handshake succeeds, so this is the only way an
 * unauthenticated peer can put bytes of its choosing before the daemon.
 * The daemon must hang up on each (end of file or reset). */
static void handshake_garbage(const char *ipc_endpoint)
{
    static const unsigned char ready[] = {
        0x04, 28,  5,   'R', 'E', 'A', 'D', 'Y', 11,  'S',
        'o',  'c', 'k', 'e', 't', '-', 'T', 'y', 'p', 'e',
        0,    0,   0,   6,   'D', 'E', 'A', 'L', 'E', 'R'};
    for (int kind = 0; kind < 4; kind++) {
        unsigned char buf[4096];
        size_t n = 0;
        if (kind == 0) { /* noise */
            uint32_t x = 1;
            for (n = 0; n < sizeof buf; n++) {
                x = x * 1103515245u + 12345u;
                buf[n] = (unsigned char)(x >> 16);
            }
        } else if (kind == 1) { /* NULL mechanism, READY, one message */
            n = zmtp_greeting(buf, "NULL");
            memcpy(buf + n, ready, sizeof ready);
            n += sizeof ready;
            memcpy(buf + n,
                   "\x00\x03"
                   "abc",
                   5);
            n += 5;
        } else if (kind == 2) { /* CURVE, a HELLO of zeros: a bad box */
            n = zmtp_greeting(buf, "CURVE");
            memcpy(buf + n, "\x06\0\0\0\0\0\0\0\xc8\x05HELLO", 15);
            n += 15;
            memset(buf + n, 0, 194);
            n += 194;
        } else { /* CURVE, a command declaring 2^62 bytes */
            n = zmtp_greeting(buf, "CURVE");
            memcpy(buf + n, "\x06\x40\0\0\0\0\0\0\0", 9);
            n += 9;
        }
        int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(s >= 0);
        struct sockaddr_un a;
        memset(&a, 0, sizeof a);
        a.sun_family = AF_UNIX;
        assert_true(strlen(ipc_endpoint + 6) < sizeof a.sun_path);
        strcpy(a.sun_path, ipc_endpoint + 6);
        assert_int_equal(connect(s, (struct sockaddr *)&a, sizeof a), 0);
        /* The daemon may hang up before it has read everything. */
        ssize_t w = write(s, buf, n);
        assert_true(w > 0 || errno == EPIPE || errno == ECONNRESET);
        int64_t deadline = mono_ms() + TIMEOUT_MS;
        int closed = 0;
        while (!closed && mono_ms() < deadline) {
            struct pollfd p = {s, POLLIN, 0};
            if (poll(&p, 1, (int)(deadline - mono_ms())) <= 0)
                continue;
            char scratch[512]; /* the daemon's greeting, an ERROR... */
            closed = read(s, scratch, sizeof scratch) <= 0;
        }
        close(s);
        if (!closed)
            fail_msg("%s: the daemon kept handshake garbage %d open for %d "
                     "ms",
                     ipc_endpoint, kind, TIMEOUT_MS);
    }
}

/* Report the end of sock's connection: a monitor, read with
 * wait_disconnect(). */
static void *watch_disconnect(struct fixture *f, struct td *d, void *sock,
                              const char *name)
{
    char ep[64];
    snprintf(ep, sizeof ep, "inproc://watch-%s", name);
    assert_int_equal(zmq_socket_monitor(sock, ep, ZMQ_EVENT_DISCONNECTED), 0);
    void *m = fx_track(f, zmq_socket(d->zctx, ZMQ_PAIR));
    int zero = 0;
    zmq_setsockopt(m, ZMQ_LINGER, &zero, sizeof zero);
    assert_int_equal(zmq_connect(m, ep), 0);
    return m;
}

static void wait_disconnect(void *monitor)
{
    zmq_pollitem_t it = {monitor, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, TIMEOUT_MS) != 1)
        fail_msg("the daemon kept the connection for %d ms", TIMEOUT_MS);
    /* Frame 1: uint16 event and uint32 value; frame 2: the endpoint. */
    unsigned char ev[6];
    char addr[256];
    assert_int_equal(zmq_recv(monitor, ev, sizeof ev, 0), 6);
    uint16_t event;
    memcpy(&event, ev, sizeof event);
    assert_int_equal(event, ZMQ_EVENT_DISCONNECTED);
    assert_true(zmq_recv(monitor, addr, sizeof addr, 0) > 0);
}

static void test_hostile_input(void **state)
{
    struct fixture *f = *state;
    struct td *d = fx_daemon(f);
    assert_int_equal(td_curve_setup(d, NULL, limits_conf), 0);
    assert_int_equal(td_start(d, (const char *[]){"-c", d->config, NULL}), 0);
    pid_t host0 = td_host_pid(d);
    assert_true(host0 > 0);
    struct hostile h = {d->ingest_sock, d->query_sock,
                        fx_plain(f, d, d->ingest), fx_plain(f, d, d->query)};

    publish_spec(h.t_in, SPEC(G1), 1);
    ingest_structure_garbage(&h);
    publish_spec(h.t_in, SPEC(G2), 1);
    ingest_limit_garbage(&h);
    query_structure_garbage(&h);

    /* Past ZeroMQ's cut-off (frame_max + 64 KiB at ingest, 1 MiB + 4 KiB
     * at query) the daemon drops the connection without a reply: the
     * client's monitor sees it go, and the silence below shows that no
     * reply follows.  A fresh connection is served. */
    void *x_in = fx_dealer(f, d, d->ingest, NULL, NULL);
    void *x_q = fx_dealer(f, d, d->query, NULL, NULL);
    void *x_in_mon = watch_disconnect(f, d, x_in, "x-in");
    void *x_q_mon = watch_disconnect(f, d, x_q, "x-q");
    size_t huge = 1100000;
    char *buf = malloc(huge);
    assert_non_null(buf);
    memset(buf, 0xc0, huge);
    send_frames(x_in, &(struct frame){buf, 140000}, 1);
    send_frames(x_q, &(struct frame){buf, huge}, 1);
    send_untrusted(h.p_in, &(struct frame){buf, 140000}, 1);
    free(buf);
    wait_disconnect(x_in_mon);
    wait_disconnect(x_q_mon);
    void *fresh = fx_dealer(f, d, d->ingest, NULL, NULL);
    publish_spec(fresh, SPEC(G3), 1);
    publish_spec(h.t_in, SPEC(G4), 1);
    publish_spec(h.t_in, SPEC(G5), 1);
    void *fresh_q = fx_dealer(f, d, d->query, NULL, NULL);
    msgpack_unpacked up;
    call_json(fresh_q, "{\"op\":\"ping\"}", &up);
    assert_ok(&up);
    msgpack_unpacked_destroy(&up);

    handshake_garbage(d->ingest);
    handshake_garbage(d->query);
    handshake_garbage(d->alerts);

    /* No reply ever reaches the unauthenticated client, nor the senders
     * of oversized frames. */
    void *silent[4] = {h.p_in, h.p_q, x_in, x_q};
    assert_silence(silent, 4, SILENCE_MS);

    /* Both processes are the ones started, and serving. */
    assert_int_equal(td_wait_ping(d, TIMEOUT_MS), 0);
    assert_int_equal(kill(d->pid, 0), 0);
    assert_int_equal(td_host_pid(d), host0);

    /* The log is exactly V, in order, all from tester. */
    static struct rec recs[NV + 16];
    size_t n = read_log(h.t_q, recs, sizeof recs / sizeof recs[0]);
    assert_int_equal(n, NV);
    for (size_t i = 0; i < NV; i++) {
        char id[ID_MAX + 1];
        json_id(V[i], id, sizeof id);
        assert_string_equal(recs[i].id, id);
        assert_string_equal(recs[i].publisher, "tester");
    }

    /* A second daemon fed only V must answer every query byte for byte
     * alike: the garbage changed no plugin's state. */
    struct td *d2 = fx_daemon(f);
    assert_int_equal(td_curve_setup(d2, NULL, limits_conf), 0);
    assert_int_equal(td_start(d2, (const char *[]){"-c", d2->config, NULL}), 0);
    publish_spec(d2->ingest_sock, SPEC(G1), 0);
    publish_spec(d2->ingest_sock, SPEC(G2), 0);
    publish_spec(d2->ingest_sock, SPEC(G3), 0);
    publish_spec(d2->ingest_sock, SPEC(G4), 0);
    publish_spec(d2->ingest_sock, SPEC(G5), 0);
    static const char *const queries[][2] = {
        {"poverty", "{\"unit\":\"60\",\"year\":2024}"},
        {"poverty", "{\"unit\":\"22924\",\"year\":2024}"},
        {"poverty", "{\"unit\":\"60\",\"cohort\":2024}"},
        {"fund", "{\"unit\":\"60\"}"},
        {"fund", "{\"unit\":\"593\",\"year\":2024}"},
        {"fund", "{\"unit\":\"594\"}"},
        {"standard", "{\"unit\":\"60\",\"year\":2024}"},
        {"standard", "{\"unit\":\"60\",\"year\":2024,\"list\":"
                     "\"unrecognised\"}"},
        {"relocation", "{\"unit\":\"60\"}"},
        {"relocation", "{\"unit\":\"60\",\"list\":\"households\"}"},
        {"credit", "{\"unit\":\"60\",\"year\":2024}"},
        {"deadlines", "{}"},
        {"deadlines", "{\"org\":\"UBND-593\"}"},
    };
    for (size_t i = 0; i < sizeof queries / sizeof queries[0]; i++) {
        size_t l1, l2;
        char *r1 = query_raw(h.t_q, queries[i][0], queries[i][1], &l1);
        char *r2 = query_raw(d2->query_sock, queries[i][0], queries[i][1], &l2);
        if (l1 != l2 || memcmp(r1, r2, l1) != 0)
            fail_msg("%s %s: the daemon that saw garbage answers "
                     "differently",
                     queries[i][0], queries[i][1]);
        /* The comparison is of applied state, not of two empty answers. */
        if (i == 0) {
            assert_int_equal(result_u64(r1, l1, "poor"), 2);
            assert_int_equal(result_u64(r1, l1, "near_poor"), 1);
        } else if (i == 3) {
            assert_int_equal(result_u64(r1, l1, "received"),
                             30000000 + 150000000 + 500000);
            assert_int_equal(result_u64(r1, l1, "donations"), 3);
            assert_int_equal(result_u64(r1, l1, "disbursed"), 25000000);
        } else if (i == 8) {
            assert_int_equal(result_u64(r1, l1, "relocated"), 1);
        } else if (i == 10) {
            assert_int_equal(result_u64(r1, l1, "loans"), 1);
            assert_int_equal(result_u64(r1, l1, "repaid"), 5000000);
        }
        free(r1);
        free(r2);
    }
    assert_int_equal(td_stop(d2), 0);
    assert_int_equal(td_stop(d), 0);
}

/* ====================================================================== */
/* 5. Rate limit                                                          */
/* ====================================================================== */

#define RATE 20
#define PIPELINED 100

static void test_rate_limit(void **state)
{
    struct fixture *f = *state;
    struct td *d = fx_daemon(f);
    char conf[64];
    snprintf(conf, sizeof conf, "[limits]\nrequests_per_second = %d\n", RATE);
    assert_int_equal(td_curve_setup(d, NULL, conf), 0);
    assert_int_equal(td_start(d, (const char *[]){"-c", d->config, NULL}), 0);
    void *t = fx_dealer(f, d, d->ingest, NULL, NULL);
    define_units(t);

    /* Every request sent before any reply is read. */
    int64_t t0 = mono_ms();
    for (int i = 0; i < PIPELINED; i++) {
        char id[32], ev[512], req[600];
        snprintf(id, sizeof id, "r-%03d", i);
        donation(ev, sizeof ev, id, "593", 1000 + i);
        snprintf(req, sizeof req, "[%s]", ev);
        msgpack_sbuffer sb;
        tj_pack(&sb, req);
        send_frames(t, &(struct frame){sb.data, sb.size}, 1);
        msgpack_sbuffer_destroy(&sb);
    }
    int ok[PIPELINED];
    int nok = 0, nrej = 0;
    for (int i = 0; i < PIPELINED; i++) {
        char id[32], err[512];
        snprintf(id, sizeof id, "r-%03d", i);
        msgpack_unpacked up;
        assert_int_equal(recv_reply(t, &up, TIMEOUT_MS), 0);
        assert_int_equal(up.data.via.array.size, 1);
        ok[i] = td_str_eq(td_get(ack_at(&up, 0), "status"), "ok");
        if (ok[i]) {
            ack_ok(&up, 0, id);
            nok++;
        } else {
            ack_rejected(&up, 0, NULL, err, sizeof err);
            assert_contains(err, "\"tester\"");
            assert_contains(err, "limits.requests_per_second (20)");
            nrej++;
        }
        msgpack_unpacked_destroy(&up);
    }
    int64_t elapsed = mono_ms() - t0;
    assert_true(nok >= 1);
    assert_true(nrej >= 1);
    /* A full bucket, plus what refilled while the test watched. */
    assert_true(nok <= RATE + 1 + (int)(elapsed * RATE / 1000));

    /* The bucket refills: retry, bounded, until a request is taken. */
    char ev[512], req[600];
    donation(ev, sizeof ev, "r-after", "593", 999);
    snprintf(req, sizeof req, "[%s]", ev);
    msgpack_sbuffer sb;
    tj_pack(&sb, req);
    int64_t deadline = mono_ms() + TIMEOUT_MS;
    int taken = 0;
    while (!taken && mono_ms() < deadline) {
        msgpack_unpacked up;
        call(t, sb.data, sb.size, &up);
        taken = td_str_eq(td_get(ack_at(&up, 0), "status"), "ok");
        msgpack_unpacked_destroy(&up);
    }
    msgpack_sbuffer_destroy(&sb);
    assert_true(taken);

    /* What was acknowledged is stored; what was refused is not. */
    static struct rec recs[4 + PIPELINED + 8];
    size_t n = read_log(d->query_sock, recs, sizeof recs / sizeof recs[0]);
    assert_int_equal(n, 4 + (size_t)nok + 1);
    for (int i = 0; i < PIPELINED; i++) {
        char id[32];
        snprintf(id, sizeof id, "r-%03d", i);
        assert_int_equal(count_id(recs, n, id, "tester"), ok[i] ? 1 : 0);
    }
    assert_int_equal(count_id(recs, n, "r-after", "tester"), 1);
    assert_int_equal(td_stop(d), 0);
}

/* ====================================================================== */
/* 6. Secure by default                                                   */
/* ====================================================================== */

/* Alerts go out on CURVE too: a key with alerts = yes receives them, a key
 * without the right is refused at the handshake, and the client library
 * says so rather than staying silent. */
static void test_alerts_over_curve(void **state)
{
    struct fixture *f = *state;
    struct td *d = fx_daemon(f);
    char npub[41], nsec[41];
    char reg[512];
    assert_int_equal(zmq_curve_keypair(npub, nsec), 0);
    snprintf(reg, sizeof reg, "[noalerts]\nkey = %s\nquery = fund\n", npub);
    assert_int_equal(td_curve_setup(d, reg, NULL), 0);
    assert_int_equal(td_start(d, (const char *[]){"-c", d->config, NULL}), 0);
    define_units(d->ingest_sock);

    povtrack_client *ok = fx_client(f, d, d->client_public, d->client_secret);
    povtrack_client *no = fx_client(f, d, npub, nsec);
    assert_int_equal(
        povtrack_client_set_endpoint(ok, POVTRACK_CLIENT_ALERTS, d->alerts), 0);
    assert_int_equal(
        povtrack_client_set_endpoint(no, POVTRACK_CLIENT_ALERTS, d->alerts), 0);
    assert_int_equal(povtrack_client_subscribe(ok, "alert.fund."), 0);
    assert_int_equal(povtrack_client_subscribe(no, "alert."), 0);

    /* A subscription takes effect some time after the handshake: publish
     * large donations (fund.large_donation, 100,000,000 VND by default)
     * until one arrives, each under a new id. */
    int64_t deadline = mono_ms() + TIMEOUT_MS;
    int got = 0;
    for (int i = 0; !got && mono_ms() < deadline; i++) {
        char id[32], ev[512], req[600];
        snprintf(id, sizeof id, "big-%d", i);
        donation(ev, sizeof ev, id, "593", 200000000);
        snprintf(req, sizeof req, "[%s]", ev);
        msgpack_unpacked up;
        call_json(d->ingest_sock, req, &up);
        assert_true(ack_ok(&up, 0, id) > 0);
        msgpack_unpacked_destroy(&up);
        struct povtrack_client_msg m;
        int rc = povtrack_client_recv_alert(ok, 300, &m);
        if (rc == 0) {
            assert_string_equal(m.topic, "alert.fund.large_donation");
            assert_non_null(povtrack_client_map_get(&m.obj, "message"));
            povtrack_client_msg_free(&m);
            got = 1;
        } else {
            assert_int_equal(rc, POVTRACK_CLIENT_ETIMEDOUT);
        }
    }
    assert_true(got);

    /* The key without alerts = yes: refused, and told so. */
    struct povtrack_client_msg m;
    int rc = POVTRACK_CLIENT_ETIMEDOUT;
    for (int i = 0; i < 20 && rc == POVTRACK_CLIENT_ETIMEDOUT; i++)
        rc = povtrack_client_recv_alert(no, 200, &m);
    assert_int_equal(rc, POVTRACK_CLIENT_EREFUSED);
    assert_contains(povtrack_client_error(no), "alerts = yes");
}

static void test_secure_by_default(void **state)
{
    struct fixture *f = *state;
    struct td *d = fx_daemon(f);
    char ep[64], out[4096];
    snprintf(ep, sizeof ep, "tcp://0.0.0.0:%d", td_unused_port());

    /* In clear text, a network endpoint is refused at start. */
    const char *argv[] = {POVTRACK_BIN_DIR "/povtrackd",
                          "--data-dir",
                          d->data_dir,
                          "--ingest",
                          ep,
                          "--query",
                          d->query,
                          "--alerts",
                          d->alerts,
                          "--plugin-dir",
                          POVTRACK_PLUGIN_DIR,
                          NULL};
    assert_int_equal(td_run_to_exit(argv, out, sizeof out, TIMEOUT_MS), 1);
    assert_contains(out, "CURVE");
    assert_contains(out, ep);

    /* With [security] the same kind of endpoint is served, over CURVE.  A
     * port taken meanwhile makes the daemon exit naming the bind: then try
     * another. */
    assert_int_equal(td_curve_setup(d, NULL, NULL), 0);
    int started = 0;
    for (int attempt = 0; attempt < 5 && !started; attempt++) {
        int port = td_unused_port();
        snprintf(ep, sizeof ep, "tcp://0.0.0.0:%d", port);
        if (td_start_logged(d, (const char *[]){"-c", d->config, "--ingest", ep,
                                                NULL}) == 0) {
            started = 1;
            snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", port);
        } else {
            assert_int_equal(d->pid, 0); /* it exited, and why: */
            assert_true(td_count_lines(d->log, "cannot bind", ep) >= 1);
        }
    }
    assert_true(started);
    char *text = read_file(d->log);
    assert_null(strstr(text, "INSECURE"));
    free(text);
    void *s = fx_dealer(f, d, ep, NULL, NULL);
    msgpack_unpacked up;
    call_json(s, units_json, &up);
    assert_int_equal(ack_ok(&up, 0, "u-60"), 1);
    msgpack_unpacked_destroy(&up);
    assert_int_equal(td_stop(d), 0);
}

/* A fund.disbursed of amount to unit, as a JSON object. */
static void disbursed(char *buf, size_t cap, const char *id, const char *unit,
                      long amount)
{
    snprintf(buf, cap,
             "{\"v\":1,\"id\":\"%s\",\"type\":\"fund.disbursed\",\"at\":"
             "1730000000,\"unit\":\"%s\",\"data\":{\"amount\":%ld,"
             "\"purpose\":\"tet\",\"level\":\"district\"}}",
             id, unit, amount);
}

/* A void of target (of type, in unit) as a JSON object. */
static void voided(char *buf, size_t cap, const char *id, const char *target,
                   const char *type, const char *unit)
{
    snprintf(buf, cap,
             "{\"v\":1,\"id\":\"%s\",\"type\":\"record.voided\",\"at\":"
             "1730000100,\"unit\":\"%s\",\"data\":{\"target\":\"%s\","
             "\"type\":\"%s\",\"reason\":\"nhầm\"}}",
             id, unit, target, type);
}

/* A correction of the fund.disbursed target into amount at unit. */
static void corrected(char *buf, size_t cap, const char *id, const char *target,
                      const char *unit, long amount)
{
    snprintf(buf, cap,
             "{\"v\":1,\"id\":\"%s\",\"type\":\"record.corrected\","
             "\"at\":1730000000,\"unit\":\"%s\",\"data\":{\"target\":"
             "\"%s\",\"type\":\"fund.disbursed\",\"reason\":\"nhầm\","
             "\"record\":{\"amount\":%ld,\"purpose\":\"tet\",\"level\":"
             "\"district\"}}}",
             id, unit, target, amount);
}

/*
 * Voids and corrections need the rights the record needs: its type, its
 * unit as it stands (whoever published it) and, for a correction, the
 * corrected record's unit.  The audit op needs the read right.
 */
static void test_amend_rights(void **state)
{
    struct fixture *f = *state;
    char mpub[41], msec[41], err[512];
    struct td *d = start_mttq(
        f, "publish = fund.*\nunits = 593\nquery = fund\n", mpub, msec);
    void *m_in = fx_dealer(f, d, d->ingest, mpub, msec);
    void *m_q = fx_dealer(f, d, d->query, mpub, msec);
    char e[6][512], req[4096];
    msgpack_unpacked up;

    /* The tester lays out records in 593's subtree and outside it. */
    disbursed(e[0], sizeof e[0], "f-22924", "22924", 2000000);
    disbursed(e[1], sizeof e[1], "f-594", "594", 3000000);
    disbursed(e[2], sizeof e[2], "f2-22924", "22924", 4000000);
    donation(e[3], sizeof e[3], "d-22924", "22924", 5000000);
    snprintf(req, sizeof req, "[%s,%s,%s,%s]", e[0], e[1], e[2], e[3]);
    call_json(d->ingest_sock, req, &up);
    for (uint32_t i = 0; i < 4; i++)
        ack_ok(&up, i,
               i == 0   ? "f-22924"
               : i == 1 ? "f-594"
               : i == 2 ? "f2-22924"
                        : "d-22924");
    msgpack_unpacked_destroy(&up);

    voided(e[0], sizeof e[0], "v-22924", "f-22924", "fund.disbursed", "22924");
    voided(e[1], sizeof e[1], "v-594", "f-594", "fund.disbursed", "594");
    corrected(e[2], sizeof e[2], "c-to-594", "f2-22924", "594", 1000000);
    corrected(e[3], sizeof e[3], "c-22924", "f2-22924", "22924", 1000000);
    voided(e[4], sizeof e[4], "v-d", "d-22924", "donation.received", "22924");
    corrected(e[5], sizeof e[5], "c-from-594", "f-594", "22924", 1000000);
    snprintf(req, sizeof req, "[%s,%s,%s,%s,%s,%s]", e[0], e[1], e[2], e[3],
             e[4], e[5]);
    call_json(m_in, req, &up);
    /* Its own subtree: a record the tester published may be voided. */
    ack_ok(&up, 0, "v-22924");
    ack_rejected(&up, 1, "v-594", err, sizeof err);
    assert_string_equal(err, "unit: publisher \"mttq-593\" may not publish "
                             "for unit 594 (its rights: units = 593)");
    /* The corrected record's new unit needs the right too. */
    ack_rejected(&up, 2, "c-to-594", err, sizeof err);
    assert_string_equal(err, "unit: publisher \"mttq-593\" may not publish "
                             "for unit 594 (its rights: units = 593)");
    ack_ok(&up, 3, "c-22924");
    /* The type of the record voided, not record.voided, is the right. */
    ack_rejected(&up, 4, "v-d", err, sizeof err);
    assert_string_equal(err, "type: publisher \"mttq-593\" may not publish "
                             "donation.received (its rights: publish = "
                             "fund.*)");
    /* Moving a record into the subtree needs the right where it was. */
    ack_rejected(&up, 5, "c-from-594", err, sizeof err);
    assert_string_equal(err, "unit: publisher \"mttq-593\" may not publish "
                             "for unit 594 (its rights: units = 593)");
    msgpack_unpacked_destroy(&up);

    /* The audit op is the read right's. */
    call_json(m_q, "{\"op\":\"audit\",\"id\":\"f2-22924\"}", &up);
    assert_string_equal(refused(&up, err, sizeof err),
                        "op: publisher \"mttq-593\" may not read the log's "
                        "records (needs query = log or *)");
    msgpack_unpacked_destroy(&up);
    call_json(d->query_sock, "{\"op\":\"audit\",\"id\":\"c-22924\"}", &up);
    assert_true(td_str_eq(td_get(&up.data, "state"), "corrected"));
    const msgpack_object *rec = td_get(&up.data, "record");
    assert_true(td_str_eq(td_get(td_get(rec, "event"), "id"), "f2-22924"));
    const msgpack_object *am = td_get(&up.data, "amendments");
    assert_int_equal(am->via.array.size, 1);
    assert_true(
        td_str_eq(td_get(&am->via.array.ptr[0], "publisher"), "mttq-593"));
    msgpack_unpacked_destroy(&up);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_identity_and_rights, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_unit_rights, setup, teardown),
        cmocka_unit_test_setup_teardown(test_amend_rights, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unauthenticated_and_unknown, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sighup_reload, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_input, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rate_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alerts_over_curve, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_secure_by_default, setup,
                                        teardown),
    };
    return cmocka_run_group_tests_name("integration_security", tests, NULL,
                                       NULL);
}
