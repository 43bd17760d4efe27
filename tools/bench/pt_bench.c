/* povtrack-bench: publish synthetic events to povtrackd and measure durable
 * ingest (events acknowledged after fsync per second, ack latency). */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "bench_common.h"

#define PROG "povtrack-bench"

/* The whole-run state of the povtrackd target. */
struct pt_target {
    void *ctx;
};

/* One publisher: a DEALER socket and its requests, packed before timing
 * starts. */
struct pt_conn {
    void *sock;
    msgpack_sbuffer *reqs;
    size_t nreqs;
    zmq_msg_t msg;
};

static bool str_is(const msgpack_object *o, const char *s, size_t n)
{
    return o->type == MSGPACK_OBJECT_STR && o->via.str.size == n &&
           memcmp(o->via.str.ptr, s, n) == 0;
}

#define STR_IS(o, lit) str_is((o), (lit), sizeof(lit) - 1)

/* Count the acks of one reply into c.  -1 when the reply is malformed or
 * answers another request than the one expected (whose first event has
 * first_id); the reason is then in c->err. */
static int parse_acks(struct bench_counts *c, const char *data, size_t len,
                      unsigned nev, const char *first_id, size_t first_len)
{
    msgpack_unpacked u;
    size_t off = 0;
    int rc = -1;

    msgpack_unpacked_init(&u);
    if (msgpack_unpack_next(&u, data, len, &off) != MSGPACK_UNPACK_SUCCESS ||
        u.data.type != MSGPACK_OBJECT_ARRAY) {
        snprintf(c->err, sizeof c->err, "reply is not a msgpack array");
        goto out;
    }
    for (uint32_t i = 0; i < u.data.via.array.size; i++) {
        const msgpack_object *a = &u.data.via.array.ptr[i];
        const msgpack_object *id = NULL, *st = NULL, *er = NULL;
        for (uint32_t k = 0;
             a->type == MSGPACK_OBJECT_MAP && k < a->via.map.size; k++) {
            const msgpack_object_kv *kv = &a->via.map.ptr[k];
            if (STR_IS(&kv->key, "id"))
                id = &kv->val;
            else if (STR_IS(&kv->key, "status"))
                st = &kv->val;
            else if (STR_IS(&kv->key, "error"))
                er = &kv->val;
        }
        if (i == 0 && id != NULL && id->type == MSGPACK_OBJECT_STR &&
            !str_is(id, first_id, first_len)) {
            snprintf(c->err, sizeof c->err,
                     "reply out of order: %.*s, not %.*s",
                     (int)id->via.str.size, id->via.str.ptr, (int)first_len,
                     first_id);
            goto out;
        }
        c->acked++;
        if (st != NULL && STR_IS(st, "ok")) {
            c->ok++;
        } else if (st != NULL && STR_IS(st, "duplicate")) {
            c->dup++;
        } else if (c->rej++ == 0 && er != NULL &&
                   er->type == MSGPACK_OBJECT_STR) {
            bool has_id = id != NULL && id->type == MSGPACK_OBJECT_STR;
            snprintf(c->err, sizeof c->err, "%.*s: %.*s",
                     has_id ? (int)id->via.str.size : 3,
                     has_id ? id->via.str.ptr : "nil", (int)er->via.str.size,
                     er->via.str.ptr);
        }
    }
    if (u.data.via.array.size != nev && c->rej++ == 0)
        snprintf(c->err, sizeof c->err, "%u acks for %u events",
                 u.data.via.array.size, nev);
    rc = 0;
out:
    msgpack_unpacked_destroy(&u);
    return rc;
}

static int send_frame(void *sock, const void *data, size_t len)
{
    if (zmq_send(sock, "", 0, ZMQ_SNDMORE) < 0 ||
        zmq_send(sock, data, len, 0) < 0)
        return -1;
    return 0;
}

/* Wait up to ms for one reply (empty delimiter + one frame) into msg.  0,
 * BENCH_AGAIN, or -1 for a broken envelope or a socket error. */
static int recv_reply(void *sock, zmq_msg_t *msg, int ms)
{
    zmq_pollitem_t it = {sock, 0, ZMQ_POLLIN, 0};
    int r = zmq_poll(&it, 1, ms);
    if (r == 0 || (r < 0 && errno == EINTR))
        return BENCH_AGAIN;
    if (r < 0)
        return -1;
    if (zmq_msg_recv(msg, sock, 0) < 0 || zmq_msg_size(msg) != 0 ||
        !zmq_msg_more(msg))
        return -1;
    if (zmq_msg_recv(msg, sock, 0) < 0 || zmq_msg_more(msg))
        return -1;
    return 0;
}

static void *open_dealer(void *ctx, const char *ep, char *err, size_t errlen)
{
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    int linger = 0;

    if (s == NULL) {
        snprintf(err, errlen, "cannot create a socket: %s",
                 zmq_strerror(errno));
        return NULL;
    }
    if (zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger) != 0 ||
        zmq_connect(s, ep) != 0) {
        snprintf(err, errlen, "cannot connect to %s: %s", ep,
                 zmq_strerror(errno));
        zmq_close(s);
        return NULL;
    }
    return s;
}

static void pt_close(struct bench_pub *p)
{
    struct pt_conn *c = p->conn;

    for (size_t i = 0; i < c->nreqs; i++)
        msgpack_sbuffer_destroy(&c->reqs[i]);
    free(c->reqs);
    zmq_msg_close(&c->msg);
    if (c->sock != NULL)
        zmq_close(c->sock);
    free(c);
    p->conn = NULL;
}

/* A request is a msgpack array holding the publisher's prepared events
 * back to back. */
static int pack_request(const struct bench_pub *p, size_t req,
                        msgpack_sbuffer *sb)
{
    size_t first = bench_req_first(p->b, req);
    unsigned nev = bench_req_nev(p, req);
    const unsigned char *from = p->ev.buf + p->ev.off[first];
    size_t len = p->ev.off[first + nev] - p->ev.off[first];
    msgpack_packer pk;

    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    if (msgpack_pack_array(&pk, nev) != 0 ||
        msgpack_sbuffer_write(sb, (const char *)from, len) != 0)
        return -1;
    return 0;
}

static int pt_open(struct bench_pub *p)
{
    struct pt_target *t = p->b->targ;
    struct pt_conn *c = calloc(1, sizeof *c);

    if (c == NULL) {
        bench_fail(p, EXIT_REJECTED, "out of memory");
        return -1;
    }
    zmq_msg_init(&c->msg);
    p->conn = c;
    c->reqs = calloc(p->nreq ? p->nreq : 1, sizeof *c->reqs);
    if (c->reqs == NULL) {
        bench_fail(p, EXIT_REJECTED, "out of memory");
        return -1;
    }
    for (; c->nreqs < p->nreq; c->nreqs++) {
        msgpack_sbuffer_init(&c->reqs[c->nreqs]);
        if (pack_request(p, c->nreqs, &c->reqs[c->nreqs]) != 0) {
            c->nreqs++; /* so that pt_close frees it */
            bench_fail(p, EXIT_REJECTED, "out of memory");
            return -1;
        }
    }
    c->sock = open_dealer(t->ctx, p->b->o.endpoint, p->c.err, sizeof p->c.err);
    if (c->sock == NULL) {
        p->fail = EXIT_REJECTED;
        return -1;
    }
    return 0;
}

static int pt_send(struct bench_pub *p, size_t req)
{
    struct pt_conn *c = p->conn;

    if (send_frame(c->sock, c->reqs[req].data, c->reqs[req].size) != 0) {
        bench_fail(p, EXIT_REJECTED, "send: %s", zmq_strerror(errno));
        return -1;
    }
    return 0;
}

static int pt_wait(struct bench_pub *p, int ms)
{
    struct pt_conn *c = p->conn;
    int r = recv_reply(c->sock, &c->msg, ms);

    if (r == BENCH_AGAIN)
        return r;
    if (r != 0) {
        bench_fail(p, EXIT_REJECTED, "bad reply envelope");
        return BENCH_FAILED;
    }
    size_t first = bench_req_first(p->b, p->done);
    if (parse_acks(&p->c, zmq_msg_data(&c->msg), zmq_msg_size(&c->msg),
                   bench_req_nev(p, p->done), p->ev.ids + p->ev.idoff[first],
                   p->ev.idoff[first + 1] - p->ev.idoff[first]) != 0) {
        p->fail = EXIT_REJECTED;
        return BENCH_FAILED;
    }
    return 0;
}

static const struct bench_target pt_target = {"povtrackd", pt_open, pt_send,
                                              pt_wait, pt_close};

/* Define the province the events reference and wait for its ack. */
static int define_unit(const struct bench_opts *o, void *ctx)
{
    struct bench_counts c = {0};
    msgpack_sbuffer b;
    msgpack_packer pk;
    char id[128], err[256];
    zmq_msg_t msg;
    int rc = EXIT_REJECTED, r = -1;
    void *s = open_dealer(ctx, o->endpoint, err, sizeof err);

    if (s == NULL) {
        fprintf(stderr, PROG ": %s\n", err);
        return rc;
    }
    snprintf(id, sizeof id, "%s-unit-%s", o->prefix, o->unit);
    msgpack_sbuffer_init(&b);
    msgpack_packer_init(&pk, &b, msgpack_sbuffer_write);
    zmq_msg_init(&msg);
    if (msgpack_pack_array(&pk, 1) != 0 || bench_pack_unit(o, id, &b) != 0) {
        fprintf(stderr, PROG ": out of memory\n");
        goto out;
    }
    if (send_frame(s, b.data, b.size) == 0) {
        /* One slice of the whole timeout: the daemon may still be starting
         * its listener. */
        r = recv_reply(s, &msg, (int)o->timeout);
    }
    if (r == BENCH_AGAIN) {
        fprintf(stderr,
                PROG ": no reply from %s within %ld ms (is povtrackd "
                     "running?)\n",
                o->endpoint, o->timeout);
        rc = EXIT_TIMEOUT;
    } else if (r != 0 ||
               parse_acks(&c, zmq_msg_data(&msg), zmq_msg_size(&msg), 1, id,
                          strlen(id)) != 0 ||
               c.ok + c.dup != 1) {
        fprintf(stderr, PROG ": unit.defined %s refused: %s\n", o->unit,
                c.err[0] ? c.err : "bad reply");
    } else {
        rc = 0;
    }
out:
    zmq_msg_close(&msg);
    msgpack_sbuffer_destroy(&b);
    zmq_close(s);
    return rc;
}

static void usage(FILE *f)
{
    fprintf(f, "Usage: " PROG " [OPTIONS]\n"
               "\n"
               "Publish synthetic ~200-byte events (donation.received and\n"
               "household.status, mixed) to a running povtrackd from\n"
               "concurrent publishers, each keeping a window of requests in\n"
               "flight, and measure durable ingest: events acknowledged per\n"
               "second and the ack latency of each request (from sending it\n"
               "to its reply).  Requests are built before timing starts\n"
               "(about 450 bytes of memory per event).  Use a scratch\n"
               "daemon: the events stay in its log.\n"
               "\n"
               "  --ingest EP       ingest endpoint [tcp://127.0.0.1:7170]\n");
    fputs(bench_common_usage, f);
    fprintf(f, "\n"
               "The unit (--unit) must be a province, which is defined\n"
               "first, or a district or commune already defined in the log.\n"
               "\n"
               "Exit status: 0 all acked ok/duplicate; 1 rejections or\n"
               "failure; 2 usage error; 3 no reply within --timeout.\n");
}

static int extra_opt(void *arg, int val, const char *optarg_)
{
    struct bench_opts *o = arg;

    if (val != 'i')
        return -1;
    o->endpoint = optarg_;
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option extra[] = {{"ingest", required_argument, 0, 'i'},
                                          {0, 0, 0, 0}};
    struct bench b = {0};
    struct pt_target t = {0};
    int rc;

    bench_opts_init(&b.o, "tcp://127.0.0.1:7170");
    bench_parse_args(&b.o, argc, argv, PROG, extra, extra_opt, &b.o, usage);
    t.ctx = zmq_ctx_new();
    if (t.ctx == NULL) {
        fprintf(stderr, PROG ": cannot create a ZeroMQ context: %s\n",
                zmq_strerror(errno));
        return EXIT_REJECTED;
    }
    if (strlen(b.o.unit) != 2) {
        fprintf(stderr,
                PROG ": unit %s is a %s: it must already be defined in the "
                     "log (publish its unit.defined, and its parents', with "
                     "povtrack send first)\n",
                b.o.unit, strlen(b.o.unit) == 3 ? "district" : "commune");
        rc = 0;
    } else {
        rc = define_unit(&b.o, t.ctx);
    }
    if (rc == 0) {
        b.t = &pt_target;
        b.targ = &t;
        rc = bench_run(&b, PROG);
    }
    zmq_ctx_term(t.ctx);
    return rc;
}
