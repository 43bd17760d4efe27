/* povtrack-bench: publish synthetic events to povtrackd and measure durable
 * ingest (events acknowledged after fsync per second, ack latency). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <msgpack.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

enum { EXIT_REJECTED = 1, EXIT_USAGE = 2, EXIT_TIMEOUT = 3 };
#define EVENT_AT 1730000000 /* 2024-10-27, fixed so reruns are comparable */

struct cfg {
    const char *ingest, *unit;
    char prefix[96];
    long publishers, batch, window, events, duration, timeout;
    bool json;
};

struct counts {
    uint64_t acked, ok, dup, rej;
    char err[320]; /* first rejection */
};

struct req {
    msgpack_sbuffer buf;
    unsigned nev;
    uint64_t first; /* event number of its first event */
};

struct pub {
    int idx;
    void *sock;
    struct req *reqs;
    size_t nreq, done;
    double *lat; /* send time, then ack latency in ms, per request */
    struct counts c;
    int fail; /* 0, EXIT_REJECTED (protocol error) or EXIT_TIMEOUT */
};

static struct cfg G = {
    "tcp://127.0.0.1:7170", "60", "", 1, 1000, 1, 100000, 60, 10000, false};
static atomic_int g_stop;
static double g_deadline;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void pack_str(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

static void pack_head(msgpack_packer *pk, int nkeys, const char *id,
                      const char *type)
{
    msgpack_pack_map(pk, (size_t)nkeys);
    pack_str(pk, "v");
    msgpack_pack_int(pk, 1);
    pack_str(pk, "id");
    pack_str(pk, id);
    pack_str(pk, "type");
    pack_str(pk, type);
    pack_str(pk, "at");
    msgpack_pack_int64(pk, EVENT_AT);
    pack_str(pk, "unit");
    pack_str(pk, G.unit);
}

/* ~200 bytes: donation.received for even n, household.status for odd n. */
static void pack_event(msgpack_packer *pk, int pub, uint64_t n)
{
    char id[160], text[160];

    snprintf(id, sizeof id, "%s-%d-%" PRIu64, G.prefix, pub, n);
    if (n % 2 == 0) {
        pack_head(pk, 6, id, "donation.received");
        pack_str(pk, "data");
        msgpack_pack_map(pk, 4);
        pack_str(pk, "amount");
        msgpack_pack_int64(pk, 500000 + (int64_t)(n % 1000) * 1000);
        snprintf(text, sizeof text, "Cong ty TNHH Thuong mai Binh Thuan %06u",
                 (unsigned)(n % 1000000));
        pack_str(pk, "donor");
        pack_str(pk, text);
        pack_str(pk, "donor_kind");
        pack_str(pk, "business");
        pack_str(pk, "level");
        pack_str(pk, "province");
        return;
    }
    pack_head(pk, 7, id, "household.status");
    snprintf(text, sizeof text, "%s-hh-%d-%" PRIu64, G.prefix, pub, n);
    pack_str(pk, "household");
    pack_str(pk, text);
    pack_str(pk, "data");
    msgpack_pack_map(pk, 3);
    pack_str(pk, "year");
    msgpack_pack_int(pk, 2024);
    pack_str(pk, "status");
    pack_str(pk, "poor");
    pack_str(pk, "decision");
    pack_str(pk, "Quyet dinh 1234/QD-UBND ngay 27/10/2024 cua UBND tinh");
}

static bool str_is(const msgpack_object *o, const char *s)
{
    return o->type == MSGPACK_OBJECT_STR && o->via.str.size == strlen(s) &&
           memcmp(o->via.str.ptr, s, o->via.str.size) == 0;
}

/* Count the acks of one reply.  -1 when the reply is malformed or answers
 * another request than the one expected (first_id). */
static int parse_acks(struct counts *c, const char *data, size_t len,
                      unsigned nev, const char *first_id)
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
            if (str_is(&kv->key, "id"))
                id = &kv->val;
            else if (str_is(&kv->key, "status"))
                st = &kv->val;
            else if (str_is(&kv->key, "error"))
                er = &kv->val;
        }
        if (i == 0 && id != NULL && id->type == MSGPACK_OBJECT_STR &&
            !str_is(id, first_id)) {
            snprintf(c->err, sizeof c->err, "reply out of order: %.*s, not %s",
                     (int)id->via.str.size, id->via.str.ptr, first_id);
            goto out;
        }
        c->acked++;
        if (st != NULL && str_is(st, "ok")) {
            c->ok++;
        } else if (st != NULL && str_is(st, "duplicate")) {
            c->dup++;
        } else {
            if (c->rej++ == 0 && er != NULL && er->type == MSGPACK_OBJECT_STR)
                snprintf(c->err, sizeof c->err, "%.*s: %.*s",
                         id && id->type == MSGPACK_OBJECT_STR
                             ? (int)id->via.str.size
                             : 3,
                         id && id->type == MSGPACK_OBJECT_STR ? id->via.str.ptr
                                                              : "nil",
                         (int)er->via.str.size, er->via.str.ptr);
        }
    }
    if (u.data.via.array.size != nev && c->rej == 0) {
        c->rej++;
        snprintf(c->err, sizeof c->err, "%u acks for %u events",
                 u.data.via.array.size, nev);
    }
    rc = 0;
out:
    msgpack_unpacked_destroy(&u);
    return rc;
}

static int send_req(void *sock, const msgpack_sbuffer *b)
{
    if (zmq_send(sock, "", 0, ZMQ_SNDMORE) < 0 ||
        zmq_send(sock, b->data, b->size, 0) < 0)
        return -1;
    return 0;
}

/* Wait for one reply (empty delimiter + one frame) into msg.  0 ok, -1
 * error, EXIT_TIMEOUT after timeout_ms, -2 when another thread gave up. */
static int recv_reply(void *sock, zmq_msg_t *msg)
{
    double start = now();
    int more;
    size_t sz = sizeof more;

    for (;;) {
        zmq_pollitem_t it = {sock, 0, ZMQ_POLLIN, 0};
        int r = zmq_poll(&it, 1, 100);
        if (r > 0)
            break;
        if (r < 0 && errno != EINTR)
            return -1;
        if (atomic_load(&g_stop))
            return -2;
        if ((now() - start) * 1000.0 >= (double)G.timeout)
            return EXIT_TIMEOUT;
    }
    if (zmq_msg_recv(msg, sock, 0) < 0 || zmq_msg_size(msg) != 0)
        return -1;
    if (zmq_msg_recv(msg, sock, 0) < 0)
        return -1;
    zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &sz);
    return more ? -1 : 0;
}

static void *publisher(void *arg)
{
    struct pub *p = arg;
    size_t sent = 0;
    zmq_msg_t msg;

    zmq_msg_init(&msg);
    while (!atomic_load(&g_stop)) {
        while (sent < p->nreq && sent - p->done < (size_t)G.window &&
               now() < g_deadline) {
            p->lat[sent] = now();
            if (send_req(p->sock, &p->reqs[sent].buf) != 0) {
                p->fail = EXIT_REJECTED;
                snprintf(p->c.err, sizeof p->c.err, "send: %s",
                         zmq_strerror(errno));
                goto out;
            }
            sent++;
        }
        if (p->done == sent)
            break;
        int r = recv_reply(p->sock, &msg);
        if (r != 0) {
            p->fail = r == -2 ? 0 : r == EXIT_TIMEOUT ? r : EXIT_REJECTED;
            if (r == EXIT_TIMEOUT)
                snprintf(p->c.err, sizeof p->c.err,
                         "no reply within %ld ms (publisher %d, request %zu)",
                         G.timeout, p->idx, p->done + 1);
            else if (r == -1)
                snprintf(p->c.err, sizeof p->c.err, "bad reply envelope");
            goto out;
        }
        const struct req *rq = &p->reqs[p->done];
        char first[160];
        p->lat[p->done] = (now() - p->lat[p->done]) * 1000.0;
        snprintf(first, sizeof first, "%s-%d-%" PRIu64, G.prefix, p->idx,
                 rq->first);
        if (parse_acks(&p->c, zmq_msg_data(&msg), zmq_msg_size(&msg), rq->nev,
                       first) != 0) {
            p->fail = EXIT_REJECTED;
            goto out;
        }
        p->done++;
    }
out:
    if (p->fail != 0)
        atomic_store(&g_stop, 1);
    zmq_msg_close(&msg);
    return NULL;
}

static void *open_dealer(void *ctx)
{
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    int linger = 0;

    if (s == NULL)
        return NULL;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_connect(s, G.ingest) != 0) {
        fprintf(stderr, "povtrack-bench: cannot connect to %s: %s\n", G.ingest,
                zmq_strerror(errno));
        zmq_close(s);
        return NULL;
    }
    return s;
}

/* Define the province the events reference and wait for its ack. */
static int define_unit(void *ctx)
{
    msgpack_sbuffer b;
    msgpack_packer pk;
    struct counts c = {0};
    char id[128], name[64];
    zmq_msg_t msg;
    void *s = open_dealer(ctx);
    int rc = EXIT_REJECTED;

    if (s == NULL)
        return rc;
    snprintf(id, sizeof id, "%s-unit-%s", G.prefix, G.unit);
    snprintf(name, sizeof name, "Bench province %s", G.unit);
    msgpack_sbuffer_init(&b);
    msgpack_packer_init(&pk, &b, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 1);
    pack_head(&pk, 6, id, "unit.defined");
    pack_str(&pk, "data");
    msgpack_pack_map(&pk, 3);
    pack_str(&pk, "name");
    pack_str(&pk, name);
    pack_str(&pk, "parent");
    msgpack_pack_nil(&pk);
    pack_str(&pk, "level");
    pack_str(&pk, "province");
    zmq_msg_init(&msg);
    int r = send_req(s, &b) != 0 ? -1 : recv_reply(s, &msg);
    if (r == EXIT_TIMEOUT)
        fprintf(stderr,
                "povtrack-bench: no reply from %s within %ld ms "
                "(is povtrackd running?)\n",
                G.ingest, G.timeout);
    else if (r != 0 ||
             parse_acks(&c, zmq_msg_data(&msg), zmq_msg_size(&msg), 1, id) !=
                 0 ||
             c.ok + c.dup != 1)
        fprintf(stderr, "povtrack-bench: unit.defined %s refused: %s\n", G.unit,
                c.err[0] ? c.err : "bad reply");
    else
        rc = 0;
    if (r == EXIT_TIMEOUT)
        rc = EXIT_TIMEOUT;
    zmq_msg_close(&msg);
    msgpack_sbuffer_destroy(&b);
    zmq_close(s);
    return rc;
}

static void build_requests(struct pub *p, uint64_t nev)
{
    p->nreq = (size_t)((nev + (uint64_t)G.batch - 1) / (uint64_t)G.batch);
    p->reqs = calloc(p->nreq ? p->nreq : 1, sizeof *p->reqs);
    p->lat = calloc(p->nreq ? p->nreq : 1, sizeof *p->lat);
    if (p->reqs == NULL || p->lat == NULL) {
        fprintf(stderr, "povtrack-bench: out of memory\n");
        exit(EXIT_REJECTED);
    }
    for (size_t r = 0; r < p->nreq; r++) {
        struct req *rq = &p->reqs[r];
        msgpack_packer pk;
        rq->first = (uint64_t)r * (uint64_t)G.batch;
        rq->nev =
            (unsigned)(nev - rq->first < (uint64_t)G.batch ? nev - rq->first
                                                           : (uint64_t)G.batch);
        msgpack_sbuffer_init(&rq->buf);
        msgpack_packer_init(&pk, &rq->buf, msgpack_sbuffer_write);
        msgpack_pack_array(&pk, rq->nev);
        for (unsigned i = 0; i < rq->nev; i++)
            pack_event(&pk, p->idx, rq->first + i);
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double pct(const double *v, size_t n, double q)
{
    size_t k = (size_t)(q * (double)n + 0.999999);
    return n == 0 ? 0.0 : v[k == 0 ? 0 : k - 1];
}

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: povtrack-bench [OPTIONS]\n"
            "\n"
            "Publish synthetic ~200-byte events (donation.received and\n"
            "household.status, alternating) to a running povtrackd and\n"
            "measure durable ingest: events acknowledged per second and the\n"
            "ack latency of each request.  Requests are built before timing\n"
            "starts (about 220 bytes of memory per event).  Use a scratch\n"
            "daemon: the events stay in its log.\n"
            "\n"
            "  --ingest EP       ingest endpoint [tcp://127.0.0.1:7170]\n"
            "  --publishers N    threads, one DEALER socket each [1]\n"
            "  --batch N         events per request, 1..10000 [1000]\n"
            "  --window N        requests in flight per publisher [1]\n"
            "  --events N        total events [100000]\n"
            "  --duration S      stop sending after S seconds [60]\n"
            "  --timeout MS      give up when a reply takes longer [10000]\n"
            "  --id-prefix P     event id prefix [bench-<pid>-<unixtime>]\n"
            "  --unit CODE       unit of the events [60]; a province is\n"
            "                    defined first, a district or commune must\n"
            "                    already be defined\n"
            "  --json            print the report as one JSON line\n"
            "  --help            this help\n"
            "\n"
            "Exit status: 0 all acked ok/duplicate; 1 rejections or failure;\n"
            "2 usage error; 3 no reply within --timeout.\n");
}

static long num(const char *name, const char *s, long lo, long hi)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi) {
        fprintf(stderr, "povtrack-bench: --%s: expected %ld..%ld, got '%s'\n",
                name, lo, hi, s);
        exit(EXIT_USAGE);
    }
    return v;
}

static void parse_args(int argc, char **argv)
{
    static const struct option lo[] = {
        {"ingest", required_argument, 0, 'i'},
        {"publishers", required_argument, 0, 'p'},
        {"batch", required_argument, 0, 'b'},
        {"window", required_argument, 0, 'w'},
        {"events", required_argument, 0, 'n'},
        {"duration", required_argument, 0, 'd'},
        {"timeout", required_argument, 0, 't'},
        {"id-prefix", required_argument, 0, 'x'},
        {"unit", required_argument, 0, 'u'},
        {"json", no_argument, 0, 'j'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    int c;

    snprintf(G.prefix, sizeof G.prefix, "bench-%ld-%lld", (long)getpid(),
             (long long)time(NULL));
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'i':
            G.ingest = optarg;
            break;
        case 'p':
            G.publishers = num("publishers", optarg, 1, 256);
            break;
        case 'b':
            G.batch = num("batch", optarg, 1, 10000);
            break;
        case 'w':
            G.window = num("window", optarg, 1, 10000);
            break;
        case 'n':
            G.events = num("events", optarg, 1, 100000000);
            break;
        case 'd':
            G.duration = num("duration", optarg, 1, 86400);
            break;
        case 't':
            G.timeout = num("timeout", optarg, 1, 3600000);
            break;
        case 'j':
            G.json = true;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        case 'x':
            if (strlen(optarg) < 1 || strlen(optarg) > 80 ||
                strpbrk(optarg, " \t") != NULL) {
                fprintf(stderr, "povtrack-bench: --id-prefix: 1..80 "
                                "printable characters without spaces\n");
                exit(EXIT_USAGE);
            }
            snprintf(G.prefix, sizeof G.prefix, "%s", optarg);
            break;
        case 'u': {
            size_t n = strlen(optarg);
            if (strspn(optarg, "0123456789") != n ||
                (n != 2 && n != 3 && n != 5)) {
                fprintf(stderr, "povtrack-bench: --unit: a GSO code of 2, 3 "
                                "or 5 digits\n");
                exit(EXIT_USAGE);
            }
            G.unit = optarg;
            break;
        }
        default:
            usage(stderr);
            exit(EXIT_USAGE);
        }
    }
    if (optind < argc) {
        fprintf(stderr, "povtrack-bench: unexpected argument '%s'\n",
                argv[optind]);
        exit(EXIT_USAGE);
    }
}

int main(int argc, char **argv)
{
    parse_args(argc, argv);
    void *ctx = zmq_ctx_new();
    int rc;

    if (strlen(G.unit) != 2)
        fprintf(stderr,
                "povtrack-bench: unit %s is a %s: it must already be defined "
                "in the log (publish its unit.defined, and its parents', "
                "with povtrack send first)\n",
                G.unit, strlen(G.unit) == 3 ? "district" : "commune");
    else if ((rc = define_unit(ctx)) != 0)
        return rc;

    struct pub *pubs = calloc((size_t)G.publishers, sizeof *pubs);
    pthread_t *th = calloc((size_t)G.publishers, sizeof *th);
    for (long i = 0; pubs && th && i < G.publishers; i++) {
        struct pub *p = &pubs[i];
        p->idx = (int)i;
        build_requests(p, (uint64_t)(G.events / G.publishers +
                                     (i < G.events % G.publishers)));
        if ((p->sock = open_dealer(ctx)) == NULL)
            return EXIT_REJECTED;
    }
    double t0 = now();
    g_deadline = t0 + (double)G.duration;
    for (long i = 0; i < G.publishers; i++)
        pthread_create(&th[i], NULL, publisher, &pubs[i]);
    for (long i = 0; i < G.publishers; i++)
        pthread_join(th[i], NULL);
    double elapsed = now() - t0;

    struct counts t = {0};
    size_t nreq = 0, planned = 0;
    double bytes = 0;
    for (long i = 0; i < G.publishers; i++) {
        planned += pubs[i].nreq;
        for (size_t r = 0; r < pubs[i].nreq; r++)
            bytes += (double)pubs[i].reqs[r].buf.size;
    }
    double *lat = malloc((planned ? planned : 1) * sizeof *lat);
    rc = lat == NULL ? EXIT_REJECTED : 0;
    for (long i = 0; i < G.publishers; i++) {
        struct pub *p = &pubs[i];
        if (p->fail > rc || (p->c.err[0] && t.err[0] == 0))
            snprintf(t.err, sizeof t.err, "%s", p->c.err);
        if (p->fail > rc)
            rc = p->fail;
        t.acked += p->c.acked, t.ok += p->c.ok, t.dup += p->c.dup;
        t.rej += p->c.rej;
        if (lat != NULL)
            memcpy(lat + nreq, p->lat, p->done * sizeof *lat);
        nreq += p->done;
    }
    if (rc != 0) {
        fprintf(stderr, "povtrack-bench: aborted: %s\n", t.err);
        return rc;
    }
    if (t.rej > 0)
        fprintf(stderr, "povtrack-bench: %" PRIu64 " rejected; first: %s\n",
                t.rej, t.err);
    if (nreq < planned)
        fprintf(stderr,
                "povtrack-bench: stopped by --duration %ld after %zu "
                "of %zu requests\n",
                G.duration, nreq, planned);
    qsort(lat, nreq, sizeof *lat, cmp_double);
    double rate = elapsed > 0 ? (double)t.acked / elapsed : 0;
    if (G.json)
        printf("{\"events_acked\":%" PRIu64 ",\"ok\":%" PRIu64
               ",\"duplicate\":%" PRIu64 ",\"rejected\":%" PRIu64
               ",\"elapsed_s\":%.3f,\"events_per_s\":%.0f,\"requests\":%zu,"
               "\"latency_p50_ms\":%.3f,\"latency_p99_ms\":%.3f,"
               "\"latency_p999_ms\":%.3f,\"publishers\":%ld,\"batch\":%ld,"
               "\"window\":%ld,\"bytes_per_event\":%.0f}\n",
               t.acked, t.ok, t.dup, t.rej, elapsed, rate, nreq,
               pct(lat, nreq, 0.5), pct(lat, nreq, 0.99), pct(lat, nreq, 0.999),
               G.publishers, G.batch, G.window, bytes / (double)G.events);
    else
        printf("events acked   %" PRIu64 " (ok %" PRIu64 ", duplicate %" PRIu64
               ", rejected %" PRIu64 ")\n"
               "elapsed        %.3f s\n"
               "throughput     %.0f events/s\n"
               "requests       %zu\n"
               "ack latency    p50 %.3f ms, p99 %.3f ms, p99.9 %.3f ms "
               "(per request)\n"
               "publishers %ld, batch %ld, window %ld, %.0f bytes/event, "
               "ingest %s\n",
               t.acked, t.ok, t.dup, t.rej, elapsed, rate, nreq,
               pct(lat, nreq, 0.5), pct(lat, nreq, 0.99), pct(lat, nreq, 0.999),
               G.publishers, G.batch, G.window, bytes / (double)G.events,
               G.ingest);
    return t.rej > 0 ? EXIT_REJECTED : 0;
}
