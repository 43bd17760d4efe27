/* bench_common.c - events, publisher threads, latency accounting and the
 * report shared by povtrack-bench and povtrack-peerbench. */
#include "bench_common.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define EVENT_AT 1730000000 /* 2024-10-27, fixed so reruns are comparable */

double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void bench_opts_init(struct bench_opts *o, const char *endpoint)
{
    memset(o, 0, sizeof *o);
    o->endpoint = endpoint;
    o->unit = "60";
    o->publishers = 1;
    o->batch = 1000;
    o->window = 1;
    o->events = 100000;
    o->duration = 60;
    o->timeout = 10000;
    o->mix = 50;
    snprintf(o->prefix, sizeof o->prefix, "bench-%ld-%lld", (long)getpid(),
             (long long)time(NULL));
}

const char bench_common_usage[] =
    "  --publishers N    concurrent publishers, one connection each [1]\n"
    "  --batch N         events per request, 1..10000 [1000]\n"
    "  --window N        requests in flight per publisher [1]\n"
    "  --events N        total events [100000]\n"
    "  --duration S      stop sending after S seconds [60]\n"
    "  --timeout MS      give up when an answer takes longer [10000]\n"
    "  --mix PCT         percent of donation.received, the rest\n"
    "                    household.status [50]\n"
    "  --id-prefix P     event id prefix [bench-<pid>-<unixtime>]\n"
    "  --unit CODE       unit of the events [60]\n"
    "  --json            print the report as one JSON line\n"
    "  --help            this help\n";

long bench_num(const char *prog, const char *name, const char *s, long lo,
               long hi)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi) {
        fprintf(stderr, "%s: --%s: expected %ld..%ld, got '%s'\n", prog, name,
                lo, hi, s);
        exit(EXIT_USAGE);
    }
    return v;
}

enum {
    OPT_PUBLISHERS = 0x100,
    OPT_BATCH,
    OPT_WINDOW,
    OPT_EVENTS,
    OPT_DURATION,
    OPT_TIMEOUT,
    OPT_MIX,
    OPT_PREFIX,
    OPT_UNIT,
    OPT_JSON,
    OPT_HELP
};

static const struct option common_opts[] = {
    {"publishers", required_argument, 0, OPT_PUBLISHERS},
    {"batch", required_argument, 0, OPT_BATCH},
    {"window", required_argument, 0, OPT_WINDOW},
    {"events", required_argument, 0, OPT_EVENTS},
    {"duration", required_argument, 0, OPT_DURATION},
    {"timeout", required_argument, 0, OPT_TIMEOUT},
    {"mix", required_argument, 0, OPT_MIX},
    {"id-prefix", required_argument, 0, OPT_PREFIX},
    {"unit", required_argument, 0, OPT_UNIT},
    {"json", no_argument, 0, OPT_JSON},
    {"help", no_argument, 0, OPT_HELP},
};

static int parse_common(struct bench_opts *o, const char *prog, int c,
                        const char *arg)
{
    switch (c) {
    case OPT_PUBLISHERS:
        o->publishers = bench_num(prog, "publishers", arg, 1, 256);
        return 0;
    case OPT_BATCH:
        o->batch = bench_num(prog, "batch", arg, 1, 10000);
        return 0;
    case OPT_WINDOW:
        o->window = bench_num(prog, "window", arg, 1, 10000);
        return 0;
    case OPT_EVENTS:
        o->events = bench_num(prog, "events", arg, 1, 100000000);
        return 0;
    case OPT_DURATION:
        o->duration = bench_num(prog, "duration", arg, 1, 86400);
        return 0;
    case OPT_TIMEOUT:
        o->timeout = bench_num(prog, "timeout", arg, 1, 3600000);
        return 0;
    case OPT_MIX:
        o->mix = bench_num(prog, "mix", arg, 0, 100);
        return 0;
    case OPT_JSON:
        o->json = true;
        return 0;
    case OPT_PREFIX:
        if (strlen(arg) < 1 || strlen(arg) > 80 ||
            strpbrk(arg, " \t") != NULL) {
            fprintf(stderr,
                    "%s: --id-prefix: 1..80 printable characters "
                    "without spaces\n",
                    prog);
            return -1;
        }
        snprintf(o->prefix, sizeof o->prefix, "%s", arg);
        return 0;
    case OPT_UNIT: {
        size_t n = strlen(arg);
        if (strspn(arg, "0123456789") != n || (n != 2 && n != 3 && n != 5)) {
            fprintf(stderr, "%s: --unit: a GSO code of 2, 3 or 5 digits\n",
                    prog);
            return -1;
        }
        o->unit = arg;
        return 0;
    }
    }
    return 1; /* not a common option */
}

void bench_parse_args(struct bench_opts *o, int argc, char **argv,
                      const char *prog, const struct option *extra,
                      int (*extra_fn)(void *arg, int val, const char *optarg),
                      void *arg, void (*usage)(FILE *f))
{
    size_t ncommon = sizeof common_opts / sizeof common_opts[0], nextra = 0;
    while (extra != NULL && extra[nextra].name != NULL)
        nextra++;
    struct option *all = calloc(ncommon + nextra + 1, sizeof *all);
    if (all == NULL) {
        fprintf(stderr, "%s: out of memory\n", prog);
        exit(EXIT_USAGE);
    }
    memcpy(all, common_opts, sizeof common_opts);
    if (nextra > 0)
        memcpy(all + ncommon, extra, nextra * sizeof *all);

    int c, bad = 0;
    while (!bad && (c = getopt_long(argc, argv, "", all, NULL)) != -1) {
        if (c == OPT_HELP) {
            free(all);
            usage(stdout);
            exit(0);
        }
        if (c == '?') {
            bad = 1;
            break;
        }
        int r = parse_common(o, prog, c, optarg);
        if (r == 1)
            r = extra_fn != NULL ? extra_fn(arg, c, optarg) : -1;
        if (r != 0)
            bad = 1;
    }
    free(all);
    if (bad) {
        usage(stderr);
        exit(EXIT_USAGE);
    }
    if (optind < argc) {
        fprintf(stderr, "%s: unexpected argument '%s'\n", prog, argv[optind]);
        exit(EXIT_USAGE);
    }
}

/* A packer that remembers a failed allocation, so that packing a whole
 * event needs one check instead of one per field. */
struct sink {
    msgpack_sbuffer *sb;
    bool oom;
};

static int sink_write(void *data, const char *buf, size_t len)
{
    struct sink *s = data;
    if (!s->oom && msgpack_sbuffer_write(s->sb, buf, len) != 0)
        s->oom = true;
    return s->oom ? -1 : 0;
}

static void pack_str(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

static void pack_head(msgpack_packer *pk, const struct bench_opts *o, int nkeys,
                      const char *id, const char *type)
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
    pack_str(pk, o->unit);
}

/* Which events are donations: spread evenly rather than in runs, so every
 * request of a mix carries both types. */
static bool is_donation(const struct bench_opts *o, uint64_t n)
{
    return (((n * 2654435761u) >> 16) % 100) < (uint64_t)o->mix;
}

/* Event n of publisher pub, about 200 bytes either way. */
static void pack_event(msgpack_packer *pk, const struct bench_opts *o, int pub,
                       uint64_t n, const char *id)
{
    char text[BENCH_ID_MAX];

    if (is_donation(o, n)) {
        pack_head(pk, o, 6, id, "donation.received");
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
    pack_head(pk, o, 7, id, "household.status");
    snprintf(text, sizeof text, "%s-hh-%d-%" PRIu64, o->prefix, pub, n);
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

int bench_pack_unit(const struct bench_opts *o, const char *id,
                    msgpack_sbuffer *buf)
{
    struct sink s = {buf, false};
    msgpack_packer pk;
    char name[64];

    snprintf(name, sizeof name, "Bench province %s", o->unit);
    msgpack_packer_init(&pk, &s, sink_write);
    pack_head(&pk, o, 6, id, "unit.defined");
    pack_str(&pk, "data");
    msgpack_pack_map(&pk, 3);
    pack_str(&pk, "name");
    pack_str(&pk, name);
    pack_str(&pk, "parent");
    msgpack_pack_nil(&pk);
    pack_str(&pk, "level");
    pack_str(&pk, "province");
    return s.oom ? -1 : 0;
}

static void events_free(struct bench_events *ev)
{
    free(ev->buf);
    free(ev->off);
    free(ev->ids);
    free(ev->idoff);
    memset(ev, 0, sizeof *ev);
}

static int events_build(const struct bench_opts *o, int pub, size_t n,
                        struct bench_events *ev)
{
    msgpack_sbuffer sb, ids;
    struct sink s = {&sb, false};
    msgpack_packer pk;
    char id[BENCH_ID_MAX];

    memset(ev, 0, sizeof *ev);
    msgpack_sbuffer_init(&sb);
    msgpack_sbuffer_init(&ids);
    msgpack_packer_init(&pk, &s, sink_write);
    ev->off = malloc((n + 1) * sizeof *ev->off);
    ev->idoff = malloc((n + 1) * sizeof *ev->idoff);
    if (ev->off == NULL || ev->idoff == NULL)
        goto oom;
    for (size_t i = 0; i < n; i++) {
        int len = snprintf(id, sizeof id, "%s-%d-%zu", o->prefix, pub, i);
        ev->off[i] = sb.size;
        ev->idoff[i] = ids.size;
        pack_event(&pk, o, pub, i, id);
        if (s.oom || msgpack_sbuffer_write(&ids, id, (size_t)len) != 0)
            goto oom;
    }
    ev->off[n] = sb.size;
    ev->idoff[n] = ids.size;
    /* The sbuffers' storage becomes ours; an empty one holds NULL. */
    ev->buf = (unsigned char *)msgpack_sbuffer_release(&sb);
    ev->ids = msgpack_sbuffer_release(&ids);
    ev->n = n;
    return 0;
oom:
    msgpack_sbuffer_destroy(&sb);
    msgpack_sbuffer_destroy(&ids);
    events_free(ev);
    return -1;
}

size_t bench_req_first(const struct bench *b, size_t req)
{
    return req * (size_t)b->o.batch;
}

unsigned bench_req_nev(const struct bench_pub *p, size_t req)
{
    size_t first = bench_req_first(p->b, req), left = p->ev.n - first;
    return (unsigned)(left < (size_t)p->b->o.batch ? left
                                                   : (size_t)p->b->o.batch);
}

void bench_fail(struct bench_pub *p, int code, const char *fmt, ...)
{
    va_list ap;

    if (p->fail == 0) {
        p->fail = code;
        va_start(ap, fmt);
        vsnprintf(p->c.err, sizeof p->c.err, fmt, ap);
        va_end(ap);
    }
}

/* One publisher: keep up to window requests in flight until every request
 * is answered, the deadline passed (nothing more is sent, what is in flight
 * is still awaited), or another publisher failed. */
static void *publisher(void *arg)
{
    struct bench_pub *p = arg;
    struct bench *b = p->b;

    while (!atomic_load(&b->stop)) {
        while (p->sent < p->nreq && p->sent - p->done < (size_t)b->o.window &&
               bench_now() < b->deadline) {
            p->t0[p->sent] = bench_now();
            if (b->t->send(p, p->sent) != 0) {
                bench_fail(p, EXIT_REJECTED, "send failed");
                goto out;
            }
            p->sent++;
        }
        if (p->done == p->sent)
            break;
        /* Short slices, so that a failing publisher stops the others. */
        int r = b->t->wait(p, 100);
        if (r == 0) {
            p->lat[p->done] = (bench_now() - p->t0[p->done]) * 1000.0;
            p->done++;
        } else if (r == BENCH_AGAIN) {
            if ((bench_now() - p->t0[p->done]) * 1000.0 >= (double)b->o.timeout)
                bench_fail(p, EXIT_TIMEOUT,
                           "no answer within %ld ms (publisher %d, request "
                           "%zu)",
                           b->o.timeout, p->idx, p->done + 1);
        } else {
            bench_fail(p, EXIT_REJECTED, "wait failed");
        }
        if (p->fail != 0)
            break;
    }
out:
    if (p->fail != 0)
        atomic_store(&b->stop, 1);
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The q-quantile of the sorted v (nearest rank). */
static double pct(const double *v, size_t n, double q)
{
    size_t k = (size_t)(q * (double)n + 0.999999);
    return n == 0 ? 0.0 : v[k == 0 ? 0 : k - 1];
}

static void report(const struct bench *b, const char *describe, double elapsed)
{
    const struct bench_opts *o = &b->o;
    struct bench_counts t = {0};
    size_t nreq = 0, planned = 0;
    double bytes = 0;

    for (long i = 0; i < o->publishers; i++) {
        const struct bench_pub *p = &b->pubs[i];
        planned += p->nreq;
        nreq += p->done;
        bytes += (double)p->ev.off[p->ev.n];
        if (p->c.err[0] != '\0' && t.err[0] == '\0')
            snprintf(t.err, sizeof t.err, "%s", p->c.err);
        t.acked += p->c.acked, t.ok += p->c.ok, t.dup += p->c.dup;
        t.rej += p->c.rej;
    }
    double *lat = malloc((nreq ? nreq : 1) * sizeof *lat);
    if (lat == NULL) {
        fprintf(stderr, "%s: out of memory for the report\n", describe);
        return;
    }
    size_t k = 0;
    for (long i = 0; i < o->publishers; i++) {
        memcpy(lat + k, b->pubs[i].lat, b->pubs[i].done * sizeof *lat);
        k += b->pubs[i].done;
    }
    qsort(lat, nreq, sizeof *lat, cmp_double);
    if (t.rej > 0)
        fprintf(stderr, "%s: %" PRIu64 " rejected; first: %s\n", describe,
                t.rej, t.err);
    if (nreq < planned)
        fprintf(stderr,
                "%s: stopped by --duration %ld after %zu of %zu requests\n",
                describe, o->duration, nreq, planned);
    double rate = elapsed > 0 ? (double)(t.ok + t.dup) / elapsed : 0;
    double p50 = pct(lat, nreq, 0.5), p99 = pct(lat, nreq, 0.99),
           p999 = pct(lat, nreq, 0.999);
    double per = o->events > 0 ? bytes / (double)o->events : 0;
    if (o->json)
        printf("{\"target\":\"%s\",\"events_acked\":%" PRIu64 ",\"ok\":%" PRIu64
               ",\"duplicate\":%" PRIu64 ",\"rejected\":%" PRIu64
               ",\"elapsed_s\":%.3f,\"events_per_s\":%.0f,\"requests\":%zu,"
               "\"planned_requests\":%zu,"
               "\"latency_p50_ms\":%.3f,\"latency_p99_ms\":%.3f,"
               "\"latency_p999_ms\":%.3f,\"publishers\":%ld,\"batch\":%ld,"
               "\"window\":%ld,\"bytes_per_event\":%.0f}\n",
               b->t->name, t.acked, t.ok, t.dup, t.rej, elapsed, rate, nreq,
               planned, p50, p99, p999, o->publishers, o->batch, o->window,
               per);
    else
        printf("target         %s (%s)\n"
               "events acked   %" PRIu64 " (ok %" PRIu64 ", duplicate %" PRIu64
               ", rejected %" PRIu64 ")\n"
               "elapsed        %.3f s\n"
               "throughput     %.0f events/s\n"
               "requests       %zu\n"
               "ack latency    p50 %.3f ms, p99 %.3f ms, p99.9 %.3f ms "
               "(per request)\n"
               "publishers %ld, batch %ld, window %ld, %.0f bytes/event\n",
               b->t->name, o->endpoint, t.acked, t.ok, t.dup, t.rej, elapsed,
               rate, nreq, p50, p99, p999, o->publishers, o->batch, o->window,
               per);
    fflush(stdout);
    free(lat);
}

static void pubs_free(struct bench *b)
{
    for (long i = 0; b->pubs != NULL && i < b->o.publishers; i++) {
        struct bench_pub *p = &b->pubs[i];
        if (p->conn != NULL)
            b->t->close(p);
        events_free(&p->ev);
        free(p->t0);
        free(p->lat);
    }
    free(b->pubs);
    b->pubs = NULL;
}

int bench_run(struct bench *b, const char *describe)
{
    const struct bench_opts *o = &b->o;
    int rc = 0;

    b->pubs = calloc((size_t)o->publishers, sizeof *b->pubs);
    pthread_t *th = calloc((size_t)o->publishers, sizeof *th);
    if (b->pubs == NULL || th == NULL) {
        fprintf(stderr, "%s: out of memory\n", describe);
        free(th);
        free(b->pubs);
        b->pubs = NULL;
        return EXIT_REJECTED;
    }
    for (long i = 0; i < o->publishers; i++) {
        struct bench_pub *p = &b->pubs[i];
        size_t n = (size_t)(o->events / o->publishers +
                            (i < o->events % o->publishers));
        p->b = b;
        p->idx = (int)i;
        p->nreq = (n + (size_t)o->batch - 1) / (size_t)o->batch;
        p->t0 = calloc(p->nreq ? p->nreq : 1, sizeof *p->t0);
        p->lat = calloc(p->nreq ? p->nreq : 1, sizeof *p->lat);
        if (p->t0 == NULL || p->lat == NULL ||
            events_build(o, p->idx, n, &p->ev) != 0) {
            fprintf(stderr, "%s: out of memory for %zu events\n", describe, n);
            rc = EXIT_REJECTED;
            goto out;
        }
        if (b->t->open(p) != 0) {
            fprintf(stderr, "%s: publisher %ld: %s\n", describe, i, p->c.err);
            rc = EXIT_REJECTED;
            goto out;
        }
    }

    long started = 0;
    double t0 = bench_now();
    b->deadline = t0 + (double)o->duration;
    for (; started < o->publishers; started++) {
        int e =
            pthread_create(&th[started], NULL, publisher, &b->pubs[started]);
        if (e != 0) {
            fprintf(stderr, "%s: cannot start a thread: %s\n", describe,
                    strerror(e));
            atomic_store(&b->stop, 1);
            rc = EXIT_REJECTED;
            break;
        }
    }
    for (long i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    double elapsed = bench_now() - t0;
    if (rc != 0)
        goto out;

    for (long i = 0; i < o->publishers; i++) {
        const struct bench_pub *p = &b->pubs[i];
        if (p->fail > rc) {
            rc = p->fail;
            fprintf(stderr, "%s: aborted: publisher %d: %s\n", describe, p->idx,
                    p->c.err);
        }
    }
    if (rc == 0) {
        report(b, describe, elapsed);
        for (long i = 0; i < o->publishers; i++)
            if (b->pubs[i].c.rej > 0)
                rc = EXIT_REJECTED;
    }
out:
    pubs_free(b);
    free(th);
    return rc;
}
