/* peer_nats.c - NATS JetStream through a minimal client of the NATS text
 * protocol over TCP (Debian ships no NATS C library).  What it implements:
 * read INFO, send CONNECT (verbose off, no echo, no headers), SUB one
 * wildcard inbox per publisher, PUB each event to the stream's subject
 * with a reply subject in that inbox, answer the server's PING with PONG,
 * and take each MSG (or HMSG) on the inbox as the stream's PubAck:
 * {"stream":...,"seq":N} stored, {"error":...} not.  -ERR ends the run.
 * No TLS, no authentication, no reconnection, no headers sent.
 *
 * The stream is created with file storage by a request to
 * $JS.API.STREAM.CREATE.<name>.  Note that JetStream answers a publish once
 * the message is written to its file, not fsynced: nats-server 2.9 syncs
 * on a timer (every two minutes by default), so its durability is not
 * povtrackd's. */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "peer.h"

struct nats_target {
    char host[64], port[8];
    char stream[64];
};

/* One connection: a socket with its input buffer and a send buffer. */
struct nats_conn {
    int fd;
    char *in;
    size_t inlen, incap, inoff;
    char *out;
    size_t outlen, outcap;
    unsigned *left; /* acks still awaited, per request */
    char inbox[96]; /* "_I.<stream>.<publisher>" */
};

/* One protocol item from the server. */
struct nats_item {
    enum { ITEM_MSG, ITEM_PING, ITEM_OTHER, ITEM_ERR } kind;
    const char *subject, *payload, *line;
    size_t subject_len, payload_len, line_len;
};

static int put(struct nats_conn *c, const void *data, size_t len)
{
    if (c->outlen + len > c->outcap) {
        size_t cap = c->outcap ? c->outcap : 4096;
        while (cap < c->outlen + len)
            cap *= 2;
        char *n = realloc(c->out, cap);
        if (n == NULL)
            return -1;
        c->out = n;
        c->outcap = cap;
    }
    memcpy(c->out + c->outlen, data, len);
    c->outlen += len;
    return 0;
}

static int put_str(struct nats_conn *c, const char *s)
{
    return put(c, s, strlen(s));
}

/* Write the send buffer whole. */
static int flush_out(struct nats_conn *c)
{
    size_t off = 0;

    while (off < c->outlen) {
        ssize_t w = send(c->fd, c->out + off, c->outlen - off, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        off += (size_t)w;
    }
    c->outlen = 0;
    return 0;
}

/* Parse the next whole item out of the input buffer: 1 when one is there,
 * 0 when more bytes are needed, -1 for a malformed MSG line. */
static int next_item(struct nats_conn *c, struct nats_item *it)
{
    if (c->inlen == c->inoff)
        return 0; /* also before the first read, when in is NULL */
    char *start = c->in + c->inoff;
    size_t avail = c->inlen - c->inoff;
    char *eol = memchr(start, '\n', avail);

    if (eol == NULL)
        return 0;
    size_t linelen = (size_t)(eol - start) + 1;
    memset(it, 0, sizeof *it);
    it->line = start;
    it->line_len =
        linelen > 1 && start[linelen - 2] == '\r' ? linelen - 2 : linelen - 1;
    if (strncmp(start, "MSG ", 4) != 0 && strncmp(start, "HMSG ", 5) != 0) {
        if (strncmp(start, "PING", 4) == 0)
            it->kind = ITEM_PING;
        else if (strncmp(start, "-ERR", 4) == 0)
            it->kind = ITEM_ERR;
        else
            it->kind = ITEM_OTHER; /* PONG, +OK, INFO */
        c->inoff += linelen;
        return 1;
    }
    /* MSG <subject> <sid> [reply] <bytes>; HMSG ... <hdr bytes> <bytes>:
     * the subject is the second word, the size the last. */
    const char *sp = memchr(start, ' ', linelen);
    const char *subj = sp + 1;
    const char *subj_end = memchr(subj, ' ', (size_t)(eol - subj));
    const char *last = eol;
    while (last > start && (last[-1] == '\r' || last[-1] == '\n'))
        last--;
    const char *num = last;
    while (num > start && num[-1] != ' ')
        num--;
    if (subj_end == NULL || num == last)
        return -1;
    size_t bytes = 0;
    for (const char *d = num; d < last; d++) {
        if (*d < '0' || *d > '9')
            return -1;
        bytes = bytes * 10 + (size_t)(*d - '0');
    }
    if (avail < linelen + bytes + 2)
        return 0;
    it->kind = ITEM_MSG;
    it->subject = subj;
    it->subject_len = (size_t)(subj_end - subj);
    it->payload = start + linelen;
    it->payload_len = bytes;
    c->inoff += linelen + bytes + 2;
    return 1;
}

/* Read what the socket has, waiting up to ms.  1 read something, 0
 * nothing within ms, -1 error or closed. */
static int fill(struct nats_conn *c, int ms)
{
    struct pollfd pfd = {c->fd, POLLIN, 0};
    int r = poll(&pfd, 1, ms);

    if (r == 0 || (r < 0 && errno == EINTR))
        return 0;
    if (r < 0)
        return -1;
    if (c->inoff > 0) {
        memmove(c->in, c->in + c->inoff, c->inlen - c->inoff);
        c->inlen -= c->inoff;
        c->inoff = 0;
    }
    if (c->incap - c->inlen < 65536) {
        size_t cap = c->incap ? c->incap * 2 : 262144;
        char *n = realloc(c->in, cap);
        if (n == NULL)
            return -1;
        c->in = n;
        c->incap = cap;
    }
    ssize_t n = recv(c->fd, c->in + c->inlen, c->incap - c->inlen, 0);
    if (n < 0 && errno == EINTR)
        return 0;
    if (n <= 0)
        return -1;
    c->inlen += (size_t)n;
    return 1;
}

static void conn_free(struct nats_conn *c)
{
    if (c == NULL)
        return;
    if (c->fd >= 0)
        close(c->fd);
    free(c->in);
    free(c->out);
    free(c->left);
    free(c);
}

/* Connect, read INFO, send CONNECT and SUB inbox.*, and wait for the PONG
 * that says the subscription is in place. */
static struct nats_conn *conn_open(const struct nats_target *t,
                                   const char *inbox, char *err, size_t errlen)
{
    struct addrinfo hints = {0}, *ai = NULL;
    struct nats_conn *c = calloc(1, sizeof *c);
    struct nats_item it;
    int r;

    if (c == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->fd = -1;
    snprintf(c->inbox, sizeof c->inbox, "%s", inbox);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if ((r = getaddrinfo(t->host, t->port, &hints, &ai)) != 0) {
        snprintf(err, errlen, "%s: %s", t->host, gai_strerror(r));
        conn_free(c);
        return NULL;
    }
    c->fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (c->fd < 0 || connect(c->fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        snprintf(err, errlen, "cannot connect to %s:%s: %s", t->host, t->port,
                 strerror(errno));
        freeaddrinfo(ai);
        conn_free(c);
        return NULL;
    }
    freeaddrinfo(ai);
    if (put_str(c, "CONNECT {\"verbose\":false,\"pedantic\":false,"
                   "\"lang\":\"c\",\"version\":\"0.1\",\"protocol\":1,"
                   "\"echo\":false,\"headers\":false,"
                   "\"name\":\"povtrack-peerbench\"}\r\nSUB ") != 0 ||
        put_str(c, inbox) != 0 || put_str(c, ".* 1\r\nPING\r\n") != 0 ||
        flush_out(c) != 0) {
        snprintf(err, errlen, "cannot send CONNECT: %s", strerror(errno));
        conn_free(c);
        return NULL;
    }
    for (;;) {
        while ((r = next_item(c, &it)) == 1) {
            if (it.kind == ITEM_ERR) {
                snprintf(err, errlen, "server: %.*s", (int)it.line_len,
                         it.line);
                conn_free(c);
                return NULL;
            }
            if (it.kind == ITEM_OTHER && strncmp(it.line, "PONG", 4) == 0)
                return c;
        }
        if (r < 0 || fill(c, 5000) <= 0) {
            snprintf(err, errlen, "no answer to CONNECT from %s:%s", t->host,
                     t->port);
            conn_free(c);
            return NULL;
        }
    }
}

/* A request-reply on a setup connection: the reply's payload, copied into
 * out (NUL-terminated).  0 or -1 with err. */
static int request(struct nats_conn *c, const char *subject, const char *body,
                   char *out, size_t outlen, char *err, size_t errlen)
{
    char head[256];
    struct nats_item it;
    int r;

    snprintf(head, sizeof head, "PUB %s %s.1 %zu\r\n", subject, c->inbox,
             strlen(body));
    if (put_str(c, head) != 0 || put_str(c, body) != 0 ||
        put_str(c, "\r\n") != 0 || flush_out(c) != 0) {
        snprintf(err, errlen, "%s: cannot send", subject);
        return -1;
    }
    for (;;) {
        while ((r = next_item(c, &it)) == 1) {
            if (it.kind == ITEM_ERR) {
                snprintf(err, errlen, "%s: %.*s", subject, (int)it.line_len,
                         it.line);
                return -1;
            }
            if (it.kind == ITEM_PING &&
                (put_str(c, "PONG\r\n") != 0 || flush_out(c) != 0))
                r = -1;
            if (it.kind == ITEM_MSG) {
                snprintf(out, outlen, "%.*s", (int)it.payload_len, it.payload);
                return 0;
            }
        }
        if (r < 0 || fill(c, 10000) <= 0) {
            snprintf(err, errlen, "%s: no answer (is JetStream on?)", subject);
            return -1;
        }
    }
}

static int nats_setup(struct bench *b, const char *name, char *err,
                      size_t errlen)
{
    struct nats_target *t = calloc(1, sizeof *t);
    char host[64], subject[128], body[512], reply[1024], inbox[96];
    int port;

    b->targ = t;
    if (t == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (peer_host_port(b->o.endpoint, host, sizeof host, &port) != 0) {
        snprintf(err, errlen, "--endpoint: host:port, not %s", b->o.endpoint);
        return -1;
    }
    snprintf(t->host, sizeof t->host, "%s", host);
    snprintf(t->port, sizeof t->port, "%d", port);
    snprintf(t->stream, sizeof t->stream, "%s", name);
    snprintf(inbox, sizeof inbox, "_I.%s.setup", name);
    struct nats_conn *c = conn_open(t, inbox, err, errlen);
    if (c == NULL)
        return -1;
    /* Start from an empty stream; "not found" is the usual answer. */
    snprintf(subject, sizeof subject, "$JS.API.STREAM.DELETE.%s", name);
    int rc = request(c, subject, "", reply, sizeof reply, err, errlen);
    snprintf(subject, sizeof subject, "$JS.API.STREAM.CREATE.%s", name);
    snprintf(body, sizeof body,
             "{\"name\":\"%s\",\"subjects\":[\"%s.>\"],\"storage\":\"file\","
             "\"retention\":\"limits\",\"discard\":\"old\","
             "\"num_replicas\":1}",
             name, name);
    if (rc == 0)
        rc = request(c, subject, body, reply, sizeof reply, err, errlen);
    if (rc == 0 && strstr(reply, "\"error\"") != NULL) {
        snprintf(err, errlen, "cannot create stream %s: %s", name, reply);
        rc = -1;
    }
    conn_free(c);
    return rc;
}

static void nats_teardown(struct bench *b)
{
    free(b->targ);
    b->targ = NULL;
}

static int nats_open(struct bench_pub *p)
{
    const struct nats_target *t = p->b->targ;
    char inbox[96];

    snprintf(inbox, sizeof inbox, "_I.%s.%d", t->stream, p->idx);
    struct nats_conn *c = conn_open(t, inbox, p->c.err, sizeof p->c.err);
    if (c == NULL) {
        p->fail = EXIT_REJECTED;
        return -1;
    }
    p->conn = c;
    c->left = calloc(p->nreq ? p->nreq : 1, sizeof *c->left);
    if (c->left == NULL) {
        bench_fail(p, EXIT_REJECTED, "out of memory");
        return -1;
    }
    for (size_t r = 0; r < p->nreq; r++)
        c->left[r] = bench_req_nev(p, r);
    return 0;
}

static void nats_close(struct bench_pub *p)
{
    conn_free(p->conn);
    p->conn = NULL;
}

static int nats_send(struct bench_pub *p, size_t req)
{
    const struct nats_target *t = p->b->targ;
    struct nats_conn *c = p->conn;
    size_t first = bench_req_first(p->b, req);
    unsigned nev = bench_req_nev(p, req);
    char head[256];

    for (size_t i = first; i < first + nev; i++) {
        size_t len = p->ev.off[i + 1] - p->ev.off[i];
        int n = snprintf(head, sizeof head, "PUB %s.p%d %s.%zu %zu\r\n",
                         t->stream, p->idx, c->inbox, req, len);
        if (put(c, head, (size_t)n) != 0 ||
            put(c, p->ev.buf + p->ev.off[i], len) != 0 ||
            put(c, "\r\n", 2) != 0) {
            bench_fail(p, EXIT_REJECTED, "out of memory");
            return -1;
        }
    }
    if (flush_out(c) != 0) {
        bench_fail(p, EXIT_REJECTED, "send: %s", strerror(errno));
        return -1;
    }
    return 0;
}

/* Whether needle occurs in the len bytes at hay (memmem is a GNU
 * extension). */
static bool contains(const char *hay, size_t len, const char *needle)
{
    size_t n = strlen(needle);

    for (size_t i = 0; n <= len && i <= len - n; i++)
        if (hay[i] == needle[0] && memcmp(hay + i, needle, n) == 0)
            return true;
    return false;
}

/* One PubAck: its request is the last token of the reply subject. */
static int take_ack(struct bench_pub *p, const struct nats_item *it)
{
    struct nats_conn *c = p->conn;
    size_t inlen = strlen(c->inbox), req = 0;

    if (it->subject_len <= inlen + 1 ||
        memcmp(it->subject, c->inbox, inlen) != 0 || it->subject[inlen] != '.')
        return -1;
    for (size_t i = inlen + 1; i < it->subject_len; i++) {
        if (it->subject[i] < '0' || it->subject[i] > '9')
            return -1;
        req = req * 10 + (size_t)(it->subject[i] - '0');
    }
    if (req >= p->nreq || c->left[req] == 0)
        return -1;
    c->left[req]--;
    p->c.acked++;
    /* A PubAck is {"stream":"S","seq":N}; a refusal carries "error". */
    if (!contains(it->payload, it->payload_len, "\"error\"") &&
        contains(it->payload, it->payload_len, "\"seq\"")) {
        p->c.ok++;
    } else if (p->c.rej++ == 0) {
        snprintf(p->c.err, sizeof p->c.err, "publish refused: %.*s",
                 (int)(it->payload_len < 200 ? it->payload_len : 200),
                 it->payload);
    }
    return 0;
}

static int nats_wait(struct bench_pub *p, int ms)
{
    struct nats_conn *c = p->conn;
    struct nats_item it;

    for (;;) {
        int r = 0;
        while (c->left[p->done] > 0 && (r = next_item(c, &it)) == 1) {
            if (it.kind == ITEM_ERR) {
                bench_fail(p, EXIT_REJECTED, "server: %.*s", (int)it.line_len,
                           it.line);
                return BENCH_FAILED;
            }
            if (it.kind == ITEM_PING &&
                (put_str(c, "PONG\r\n") != 0 || flush_out(c) != 0)) {
                bench_fail(p, EXIT_REJECTED, "cannot answer PING");
                return BENCH_FAILED;
            }
            if (it.kind == ITEM_MSG && take_ack(p, &it) != 0) {
                bench_fail(p, EXIT_REJECTED, "unexpected message on %.*s",
                           (int)it.subject_len, it.subject);
                return BENCH_FAILED;
            }
        }
        if (c->left[p->done] == 0)
            return 0;
        if (r < 0) {
            bench_fail(p, EXIT_REJECTED, "malformed MSG line");
            return BENCH_FAILED;
        }
        r = fill(c, ms);
        if (r == 0)
            return BENCH_AGAIN;
        if (r < 0) {
            bench_fail(p, EXIT_REJECTED, "connection lost: %s",
                       strerror(errno));
            return BENCH_FAILED;
        }
    }
}

static const struct bench_target nats_target = {"nats", nats_open, nats_send,
                                                nats_wait, nats_close};

const struct peer peer_nats = {&nats_target, "host:port of nats-server -js",
                               "127.0.0.1:4222", nats_setup, nats_teardown};
