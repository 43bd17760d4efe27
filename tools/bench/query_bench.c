/*
 * povtrack-query-bench: latency of plugin queries over povtrackd's real
 * query socket.
 *
 * One DEALER socket, one request in flight: each query is timed from just
 * before its send to the end of its reply's receive, so a latency is what
 * a client waits, ZeroMQ and the daemon's loop included.  The first
 * --warmup replies are not counted.  The same request is sent every time
 * unless --units lists several, which are asked in turn.  Every reply must
 * be {"ok": true, ...}: one that is not stops the run with its error.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <msgpack.h>
#include <zmq.h>

struct opts {
    const char *endpoint, *plugin, *units;
    long year, requests, warmup, timeout_ms;
    bool json, verbose;
};

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static void pack_str(msgpack_packer *pk, const char *s, size_t n)
{
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

/* {"op": "query", "plugin": P, "q": {"unit": U, "year": Y}} */
static void pack_query(msgpack_sbuffer *sb, const struct opts *o,
                       const char *unit, size_t ulen)
{
    msgpack_packer pk;
    msgpack_sbuffer_clear(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    pack_str(&pk, "op", 2);
    pack_str(&pk, "query", 5);
    pack_str(&pk, "plugin", 6);
    pack_str(&pk, o->plugin, strlen(o->plugin));
    pack_str(&pk, "q", 1);
    msgpack_pack_map(&pk, 2);
    pack_str(&pk, "unit", 4);
    pack_str(&pk, unit, ulen);
    pack_str(&pk, "year", 4);
    msgpack_pack_long(&pk, o->year);
}

/* 0 when the reply is {"ok": true, ...}; else -1 with the reply printed. */
static int check_reply(const void *data, size_t len, bool print)
{
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    int rc = -1;
    if (msgpack_unpack_next(&up, data, len, NULL) == MSGPACK_UNPACK_SUCCESS &&
        up.data.type == MSGPACK_OBJECT_MAP) {
        for (uint32_t i = 0; i < up.data.via.map.size; i++) {
            const msgpack_object_kv *kv = &up.data.via.map.ptr[i];
            if (kv->key.type == MSGPACK_OBJECT_STR &&
                kv->key.via.str.size == 2 &&
                memcmp(kv->key.via.str.ptr, "ok", 2) == 0 &&
                kv->val.type == MSGPACK_OBJECT_BOOLEAN && kv->val.via.boolean)
                rc = 0;
        }
    }
    if (rc != 0 || print) {
        fprintf(rc != 0 ? stderr : stdout, "%s",
                rc != 0 ? "query-bench: reply: " : "reply: ");
        msgpack_object_print(rc != 0 ? stderr : stdout, up.data);
        fprintf(rc != 0 ? stderr : stdout, "\n");
    }
    msgpack_unpacked_destroy(&up);
    return rc;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(const double *v, size_t n, double p)
{
    size_t i = (size_t)(p / 100.0 * (double)n);
    return v[i < n ? i : n - 1];
}

static const char usage[] =
    "Usage: povtrack-query-bench [options]\n"
    "Time queries against a running povtrackd, one in flight.\n"
    "\n"
    "  --query EP       query endpoint (default tcp://127.0.0.1:7171)\n"
    "  --plugin NAME    plugin to query (default poverty)\n"
    "  --units A,B,...  units to ask for, in turn (default 60)\n"
    "  --year Y         the q's year (default 2024)\n"
    "  --requests N     timed requests (default 100000)\n"
    "  --warmup N       untimed requests first (default 1000)\n"
    "  --timeout MS     give up on a reply after MS (default 5000)\n"
    "  --json           one JSON line of results\n"
    "  --verbose        print the first reply\n";

int main(int argc, char **argv)
{
    static const struct option lo[] = {{"query", required_argument, 0, 'q'},
                                       {"plugin", required_argument, 0, 'p'},
                                       {"units", required_argument, 0, 'u'},
                                       {"year", required_argument, 0, 'y'},
                                       {"requests", required_argument, 0, 'n'},
                                       {"warmup", required_argument, 0, 'w'},
                                       {"timeout", required_argument, 0, 't'},
                                       {"json", no_argument, 0, 'j'},
                                       {"verbose", no_argument, 0, 'v'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
    struct opts o = {.endpoint = "tcp://127.0.0.1:7171",
                     .plugin = "poverty",
                     .units = "60",
                     .year = 2024,
                     .requests = 100000,
                     .warmup = 1000,
                     .timeout_ms = 5000};
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        char *end = NULL;
        long v = 0;
        if (c == 'y' || c == 'n' || c == 'w' || c == 't') {
            errno = 0;
            v = strtol(optarg, &end, 10);
            if (end == optarg || *end != '\0' || errno != 0 || v < 0 ||
                (c == 'n' && v == 0)) {
                fprintf(stderr, "query-bench: bad number \"%s\"\n", optarg);
                return 2;
            }
        }
        switch (c) {
        case 'q':
            o.endpoint = optarg;
            break;
        case 'p':
            o.plugin = optarg;
            break;
        case 'u':
            o.units = optarg;
            break;
        case 'y':
            o.year = v;
            break;
        case 'n':
            o.requests = v;
            break;
        case 'w':
            o.warmup = v;
            break;
        case 't':
            o.timeout_ms = v;
            break;
        case 'j':
            o.json = true;
            break;
        case 'v':
            o.verbose = true;
            break;
        case 'h':
            fputs(usage, stdout);
            return 0;
        default:
            fputs(usage, stderr);
            return 2;
        }
    }
    if (optind < argc || *o.units == '\0') {
        fputs(usage, stderr);
        return 2;
    }

    /* The units to ask for, as (pointer, length) into o.units. */
    size_t nunits = 1;
    for (const char *p = o.units; *p != '\0'; p++)
        nunits += *p == ',';
    const char **uptr = calloc(nunits, sizeof *uptr);
    size_t *ulen = calloc(nunits, sizeof *ulen);
    double *lat = calloc((size_t)o.requests, sizeof *lat);
    void *ctx = zmq_ctx_new();
    void *s = ctx != NULL ? zmq_socket(ctx, ZMQ_DEALER) : NULL;
    int rc = 1;
    if (uptr == NULL || ulen == NULL || lat == NULL || s == NULL) {
        fprintf(stderr, "query-bench: out of memory or no ZeroMQ socket\n");
        goto out;
    }
    const char *p = o.units;
    for (size_t i = 0; i < nunits; i++) {
        uptr[i] = p;
        ulen[i] = strcspn(p, ",");
        p += ulen[i] + (p[ulen[i]] == ',');
    }
    int linger = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_connect(s, o.endpoint) != 0) {
        fprintf(stderr, "query-bench: connect %s: %s\n", o.endpoint,
                zmq_strerror(zmq_errno()));
        goto out;
    }

    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    long total = o.warmup + o.requests;
    double t_start = 0;
    for (long i = 0; i < total; i++) {
        size_t u = (size_t)i % nunits;
        pack_query(&sb, &o, uptr[u], ulen[u]);
        double t0 = now_us();
        if (i == o.warmup)
            t_start = t0;
        if (zmq_send(s, "", 0, ZMQ_SNDMORE) < 0 ||
            zmq_send(s, sb.data, sb.size, 0) < 0) {
            fprintf(stderr, "query-bench: send: %s\n",
                    zmq_strerror(zmq_errno()));
            break;
        }
        /* The reply: an empty delimiter, then the map. */
        zmq_pollitem_t pi = {s, 0, ZMQ_POLLIN, 0};
        int got = 0, more = 1, bad = 0;
        while (more) {
            if (zmq_poll(&pi, 1, o.timeout_ms) <= 0) {
                fprintf(stderr, "query-bench: no reply within %ld ms\n",
                        o.timeout_ms);
                bad = 1;
                break;
            }
            if (zmq_msg_recv(&msg, s, 0) < 0) {
                bad = 1;
                break;
            }
            more = zmq_msg_more(&msg);
            got++;
            if (!more &&
                (got != 2 || check_reply(zmq_msg_data(&msg), zmq_msg_size(&msg),
                                         i == 0 && o.verbose) != 0))
                bad = 1;
        }
        double t1 = now_us();
        if (bad)
            break;
        if (i >= o.warmup)
            lat[i - o.warmup] = t1 - t0;
        if (i == total - 1)
            rc = 0;
    }
    double elapsed = now_us() - t_start;
    zmq_msg_close(&msg);
    msgpack_sbuffer_destroy(&sb);
    if (rc == 0) {
        size_t n = (size_t)o.requests;
        double sum = 0;
        for (size_t i = 0; i < n; i++)
            sum += lat[i];
        qsort(lat, n, sizeof *lat, cmp_double);
        if (o.json)
            printf("{\"requests\":%zu,\"per_s\":%.0f,\"mean_us\":%.1f,"
                   "\"p50_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,"
                   "\"max_us\":%.1f}\n",
                   n, (double)n / (elapsed / 1e6), sum / (double)n,
                   pct(lat, n, 50), pct(lat, n, 99), pct(lat, n, 99.9),
                   lat[n - 1]);
        else
            printf("%s %s year %ld: %zu queries, %.0f/s; latency mean %.1f "
                   "us, p50 %.1f us, p99 %.1f us, p99.9 %.1f us, max %.1f "
                   "us\n",
                   o.plugin, o.units, o.year, n, (double)n / (elapsed / 1e6),
                   sum / (double)n, pct(lat, n, 50), pct(lat, n, 99),
                   pct(lat, n, 99.9), lat[n - 1]);
    }
out:
    if (s != NULL)
        zmq_close(s);
    if (ctx != NULL)
        zmq_ctx_term(ctx);
    free(uptr);
    free(ulen);
    free(lat);
    return rc;
}
