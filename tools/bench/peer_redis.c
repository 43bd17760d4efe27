/* peer_redis.c - Redis Streams: one XADD per event, pipelined.  A request
 * of --batch events is that many XADDs written at once, so with --window W
 * a publisher has W x batch commands in flight, the same number of events
 * as a povtrackd publisher.  With appendonly yes and appendfsync always,
 * Redis writes and fsyncs its AOF before it answers the commands of one
 * event-loop pass: an answer means the entry is on disk. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "peer.h"

struct redis_target {
    char host[64];
    int port;
    char key[64];
};

struct redis_conn {
    redisContext *ctx;
    unsigned got; /* answers received for the oldest request */
};

static redisContext *connect_to(const struct redis_target *t, char *err,
                                size_t errlen)
{
    struct timeval tv = {5, 0};
    redisContext *ctx = redisConnectWithTimeout(t->host, t->port, tv);

    if (ctx == NULL || ctx->err) {
        snprintf(err, errlen, "cannot connect to %s:%d: %s", t->host, t->port,
                 ctx ? ctx->errstr : "out of memory");
        if (ctx != NULL)
            redisFree(ctx);
        return NULL;
    }
    return ctx;
}

/* Run one command and check the kind of its answer. */
static int command(redisContext *ctx, int argc, const char **argv, int type,
                   redisReply **out, char *err, size_t errlen)
{
    redisReply *r = redisCommandArgv(ctx, argc, argv, NULL);

    if (r == NULL) {
        snprintf(err, errlen, "%s: %s", argv[0], ctx->errstr);
        return -1;
    }
    if (r->type != type) {
        snprintf(err, errlen, "%s: unexpected answer%s%s", argv[0],
                 r->type == REDIS_REPLY_ERROR ? ": " : "",
                 r->type == REDIS_REPLY_ERROR ? r->str : "");
        freeReplyObject(r);
        return -1;
    }
    if (out != NULL)
        *out = r;
    else
        freeReplyObject(r);
    return 0;
}

static int redis_setup(struct bench *b, const char *name, char *err,
                       size_t errlen)
{
    struct redis_target *t = calloc(1, sizeof *t);
    const char *get[] = {"CONFIG", "GET", "append*"};
    redisReply *r = NULL;

    b->targ = t;
    if (t == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (peer_host_port(b->o.endpoint, t->host, sizeof t->host, &t->port) != 0) {
        snprintf(err, errlen, "--endpoint: host:port, not %s", b->o.endpoint);
        return -1;
    }
    snprintf(t->key, sizeof t->key, "%s", name);
    redisContext *ctx = connect_to(t, err, errlen);
    if (ctx == NULL)
        return -1;
    const char *del[] = {"DEL", t->key};
    int rc = command(ctx, 2, del, REDIS_REPLY_INTEGER, NULL, err, errlen);
    if (rc == 0)
        rc = command(ctx, 3, get, REDIS_REPLY_ARRAY, &r, err, errlen);
    /* Say so when the server would answer before its fsync: the numbers
     * would not be comparable. */
    for (size_t i = 0; rc == 0 && i + 1 < r->elements; i += 2) {
        const char *k = r->element[i]->str, *v = r->element[i + 1]->str;
        if (k == NULL || v == NULL)
            continue;
        if ((strcmp(k, "appendonly") == 0 && strcmp(v, "yes") != 0) ||
            (strcmp(k, "appendfsync") == 0 && strcmp(v, "always") != 0))
            fprintf(stderr,
                    "povtrack-peerbench: warning: redis has %s %s: its "
                    "answers do not wait for fsync\n",
                    k, v);
    }
    if (r != NULL)
        freeReplyObject(r);
    redisFree(ctx);
    return rc;
}

static void redis_teardown(struct bench *b)
{
    free(b->targ);
    b->targ = NULL;
}

static int redis_open(struct bench_pub *p)
{
    struct redis_conn *c = calloc(1, sizeof *c);

    if (c == NULL) {
        bench_fail(p, EXIT_REJECTED, "out of memory");
        return -1;
    }
    p->conn = c;
    c->ctx = connect_to(p->b->targ, p->c.err, sizeof p->c.err);
    if (c->ctx == NULL) {
        p->fail = EXIT_REJECTED;
        return -1;
    }
    return 0;
}

static void redis_close(struct bench_pub *p)
{
    struct redis_conn *c = p->conn;

    if (c->ctx != NULL)
        redisFree(c->ctx);
    free(c);
    p->conn = NULL;
}

static int redis_send(struct bench_pub *p, size_t req)
{
    const struct redis_target *t = p->b->targ;
    struct redis_conn *c = p->conn;
    size_t first = bench_req_first(p->b, req);
    unsigned nev = bench_req_nev(p, req);
    int done = 0;

    for (size_t i = first; i < first + nev; i++) {
        const char *argv[] = {"XADD",
                              t->key,
                              "*",
                              "id",
                              p->ev.ids + p->ev.idoff[i],
                              "ev",
                              (const char *)p->ev.buf + p->ev.off[i]};
        size_t len[] = {4,
                        strlen(t->key),
                        1,
                        2,
                        p->ev.idoff[i + 1] - p->ev.idoff[i],
                        2,
                        p->ev.off[i + 1] - p->ev.off[i]};
        if (redisAppendCommandArgv(c->ctx, 7, argv, len) != REDIS_OK) {
            bench_fail(p, EXIT_REJECTED, "XADD: %s", c->ctx->errstr);
            return -1;
        }
    }
    /* Write the whole pipeline now: hiredis would otherwise hold it until
     * the first read. */
    while (!done)
        if (redisBufferWrite(c->ctx, &done) != REDIS_OK) {
            bench_fail(p, EXIT_REJECTED, "write: %s", c->ctx->errstr);
            return -1;
        }
    return 0;
}

static int redis_wait(struct bench_pub *p, int ms)
{
    struct redis_conn *c = p->conn;
    unsigned nev = bench_req_nev(p, p->done);

    for (;;) {
        while (c->got < nev) {
            void *v = NULL;
            if (redisGetReplyFromReader(c->ctx, &v) != REDIS_OK) {
                bench_fail(p, EXIT_REJECTED, "read: %s", c->ctx->errstr);
                return BENCH_FAILED;
            }
            if (v == NULL)
                break;
            redisReply *r = v;
            p->c.acked++;
            if (r->type == REDIS_REPLY_STRING) {
                p->c.ok++;
            } else if (p->c.rej++ == 0) {
                snprintf(p->c.err, sizeof p->c.err, "XADD: %s",
                         r->type == REDIS_REPLY_ERROR ? r->str
                                                      : "unexpected answer");
            }
            freeReplyObject(r);
            c->got++;
        }
        if (c->got == nev) {
            c->got = 0;
            return 0;
        }
        struct pollfd pfd = {c->ctx->fd, POLLIN, 0};
        int r = poll(&pfd, 1, ms);
        if (r == 0 || (r < 0 && errno == EINTR))
            return BENCH_AGAIN;
        if (r < 0) {
            bench_fail(p, EXIT_REJECTED, "poll: %s", strerror(errno));
            return BENCH_FAILED;
        }
        if (redisBufferRead(c->ctx) != REDIS_OK) {
            bench_fail(p, EXIT_REJECTED, "read: %s", c->ctx->errstr);
            return BENCH_FAILED;
        }
    }
}

static const struct bench_target redis_target = {
    "redis", redis_open, redis_send, redis_wait, redis_close};

const struct peer peer_redis = {&redis_target, "host:port of redis-server",
                                "127.0.0.1:6379", redis_setup, redis_teardown};
