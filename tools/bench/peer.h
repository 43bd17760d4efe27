/* peer.h - the targets of povtrack-peerbench.  Each drives one system with
 * the events, publishers and windows of bench_common.c, so that its numbers
 * compare with povtrack-bench's. */
#ifndef PEER_H
#define PEER_H

#include "bench_common.h"

struct peer {
    const struct bench_target *t;
    /* What --endpoint means for this target, and its default. */
    const char *endpoint_help, *endpoint_default;
    /* Before timing: connect once, create the stream, table or file named
     * name (emptied when it exists), keep what the publishers share in
     * b->targ.  0, or -1 with the reason in err. */
    int (*setup)(struct bench *b, const char *name, char *err, size_t errlen);
    /* Free b->targ (also after a failed setup). */
    void (*teardown)(struct bench *b);
};

extern const struct peer peer_redis, peer_pg, peer_nats, peer_lmdb, peer_fsync;

/* Split "host:port" into host (a static-size buffer) and port.  0 or -1. */
int peer_host_port(const char *ep, char *host, size_t hostlen, int *port);

#endif
