/* povtrack-peerbench: the load of povtrack-bench against the systems
 * povtrackd is compared with (see run-peers.sh), and the ceilings below it
 * (raw LMDB appends, the disk's fdatasync rate). */
#include <stdlib.h>
#include <string.h>

#include "peer.h"

#define PROG "povtrack-peerbench"

struct args {
    struct bench_opts *o;
    const char *target, *name;
};

static const struct {
    const char *name;
    const struct peer *peer;
} peers[] = {{"redis", &peer_redis},
             {"postgres", &peer_pg},
             {"nats", &peer_nats},
             {"lmdb", &peer_lmdb},
             {"fsync", &peer_fsync}};

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: " PROG " --target T [OPTIONS]\n"
            "\n"
            "Send the events of povtrack-bench (the same ~200-byte msgpack\n"
            "events, publishers, windows and latency accounting) to another\n"
            "system, acknowledged only once it says they are stored:\n"
            "\n"
            "  redis     one XADD per event; a request of --batch events is\n"
            "            that many XADDs pipelined, so a publisher has\n"
            "            window x batch commands in flight\n"
            "  postgres  one transaction per request: a multi-row INSERT of\n"
            "            --batch rows (id text primary key, ev bytea) and a\n"
            "            Sync, pipelined up to --window per connection\n"
            "  nats      one JetStream publish per event (PUB with a reply\n"
            "            inbox), acked by the stream's PubAck\n"
            "  lmdb      raw LMDB: one write transaction of --batch\n"
            "            MDB_APPEND puts per request, committed with\n"
            "            LMDB's default sync; publishers share the env\n"
            "  fsync     one 4 KiB pwrite + fdatasync per event (use\n"
            "            --batch 1): the disk's sync rate\n"
            "\n"
            "  --target T        redis, postgres, nats, lmdb or fsync\n"
            "  --endpoint E      where (per target, below)\n"
            "  --name N          stream key, table, JetStream stream, or\n"
            "                    file name in the directory [bench]; emptied\n"
            "                    first when it exists\n");
    fputs(bench_common_usage, f);
    fprintf(f, "\nEndpoints:\n");
    for (size_t i = 0; i < sizeof peers / sizeof peers[0]; i++)
        fprintf(f, "  %-9s %s [%s]\n", peers[i].name,
                peers[i].peer->endpoint_help, peers[i].peer->endpoint_default);
    fprintf(f, "\nExit status: 0 all stored; 1 rejections or failure; 2 "
               "usage error;\n3 no answer within --timeout.\n");
}

static int extra_opt(void *arg, int val, const char *optarg_)
{
    struct args *a = arg;

    switch (val) {
    case 't':
        a->target = optarg_;
        return 0;
    case 'e':
        a->o->endpoint = optarg_;
        return 0;
    case 'n':
        if (strlen(optarg_) < 1 || strlen(optarg_) > 48 ||
            strspn(optarg_, "abcdefghijklmnopqrstuvwxyz0123456789_") !=
                strlen(optarg_)) {
            fprintf(stderr, PROG ": --name: 1..48 of [a-z0-9_]\n");
            return -1;
        }
        a->name = optarg_;
        return 0;
    }
    return -1;
}

int main(int argc, char **argv)
{
    static const struct option extra[] = {
        {"target", required_argument, 0, 't'},
        {"endpoint", required_argument, 0, 'e'},
        {"name", required_argument, 0, 'n'},
        {0, 0, 0, 0}};
    struct bench b = {0};
    struct args a = {&b.o, NULL, "bench"};
    const struct peer *peer = NULL;
    char err[512];
    int rc;

    bench_opts_init(&b.o, NULL);
    bench_parse_args(&b.o, argc, argv, PROG, extra, extra_opt, &a, usage);
    for (size_t i = 0; a.target && i < sizeof peers / sizeof peers[0]; i++)
        if (strcmp(a.target, peers[i].name) == 0)
            peer = peers[i].peer;
    if (peer == NULL) {
        fprintf(stderr, PROG ": --target: one of redis, postgres, nats, "
                             "lmdb, fsync\n");
        return EXIT_USAGE;
    }
    if (b.o.endpoint == NULL)
        b.o.endpoint = peer->endpoint_default;
    b.t = peer->t;
    if (peer->setup(&b, a.name, err, sizeof err) != 0) {
        fprintf(stderr, PROG ": %s: %s\n", a.target, err);
        peer->teardown(&b);
        return EXIT_REJECTED;
    }
    rc = bench_run(&b, PROG);
    peer->teardown(&b);
    return rc;
}

int peer_host_port(const char *ep, char *host, size_t hostlen, int *port)
{
    const char *colon = strrchr(ep, ':');
    char *end;

    if (colon == NULL || (size_t)(colon - ep) >= hostlen || colon == ep)
        return -1;
    long v = strtol(colon + 1, &end, 10);
    if (*end != '\0' || end == colon + 1 || v < 1 || v > 65535)
        return -1;
    memcpy(host, ep, (size_t)(colon - ep));
    host[colon - ep] = '\0';
    *port = (int)v;
    return 0;
}
