/* bench_common.h - what povtrack-bench and povtrack-peerbench share: the
 * options, the events (the same bytes for every target), the publisher
 * threads with their window of requests in flight, and the latency
 * accounting and report.  A target (povtrackd, Redis, PostgreSQL, ...) only
 * says how to send one request and how to wait for the next answer. */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <getopt.h>
#include <msgpack.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum { EXIT_REJECTED = 1, EXIT_USAGE = 2, EXIT_TIMEOUT = 3 };

/* What a target's wait() returns besides 0 (a request completed). */
enum { BENCH_AGAIN = 1, BENCH_FAILED = -1 };

#define BENCH_PREFIX_MAX 96
#define BENCH_ID_MAX 160

struct bench_opts {
    const char *endpoint; /* the target's address, in its own syntax */
    const char *unit;     /* unit code the events carry */
    char prefix[BENCH_PREFIX_MAX];
    long publishers, batch, window, events, duration, timeout;
    long mix; /* percent of events that are donation.received */
    bool json;
};

/* One publisher's events, packed before timing starts: event i is the
 * msgpack map buf[off[i] .. off[i+1]) and has the id ids[idoff[i] ..
 * idoff[i+1]) (not NUL-terminated). */
struct bench_events {
    unsigned char *buf;
    size_t *off;
    char *ids;
    size_t *idoff;
    size_t n;
};

struct bench_counts {
    uint64_t acked, ok, dup, rej;
    char err[320]; /* first rejection or failure */
};

struct bench;

struct bench_pub {
    struct bench *b;
    int idx;
    struct bench_events ev;
    size_t nreq;       /* requests it will send */
    size_t sent, done; /* requests sent, answered (answered in order) */
    double *t0;        /* send time of each request */
    double *lat;       /* ack latency of each answered request, ms */
    struct bench_counts c;
    int fail;   /* 0, EXIT_REJECTED or EXIT_TIMEOUT */
    void *conn; /* the target's state for this publisher */
};

struct bench_target {
    const char *name;
    /* Connect one publisher (before timing starts).  0, or -1 after
     * bench_fail() said why. */
    int (*open)(struct bench_pub *p);
    /* Send request req (events bench_req_first .. + bench_req_nev) without
     * waiting for its answer.  0, or -1 after bench_fail(). */
    int (*send)(struct bench_pub *p, size_t req);
    /* Wait up to ms for the answer to the oldest request in flight
     * (p->done): 0 when it came (counted into p->c), BENCH_AGAIN when
     * nothing came yet, BENCH_FAILED after bench_fail(). */
    int (*wait)(struct bench_pub *p, int ms);
    void (*close)(struct bench_pub *p);
};

struct bench {
    struct bench_opts o;
    const struct bench_target *t;
    void *targ; /* the target's shared state */
    atomic_int stop;
    double deadline;
    struct bench_pub *pubs;
};

double bench_now(void);

/* Defaults: 1 publisher, batch 1000, window 1, 100000 events, 60 s,
 * timeout 10000 ms, unit 60, half donations, prefix bench-<pid>-<time>. */
void bench_opts_init(struct bench_opts *o, const char *endpoint);

/* Parse the common options and the program's own ones (extra, terminated
 * by a zero entry; extra_fn gets their val and optarg and returns 0, or -1
 * for a bad value after printing why).  Exits on --help (usage(stdout)) and
 * on usage errors (status EXIT_USAGE). */
void bench_parse_args(struct bench_opts *o, int argc, char **argv,
                      const char *prog, const struct option *extra,
                      int (*extra_fn)(void *arg, int val, const char *optarg),
                      void *arg, void (*usage)(FILE *f));

/* The text of the common options for usage(). */
extern const char bench_common_usage[];

/* A number option: exits with EXIT_USAGE when s is not in lo..hi. */
long bench_num(const char *prog, const char *name, const char *s, long lo,
               long hi);

/* Append the msgpack map of unit.defined for o->unit (a province) to buf;
 * id is its event id.  0, or -1 out of memory. */
int bench_pack_unit(const struct bench_opts *o, const char *id,
                    msgpack_sbuffer *buf);

size_t bench_req_first(const struct bench *b, size_t req);
unsigned bench_req_nev(const struct bench_pub *p, size_t req);

/* Record one failure of p (the first one wins the message). */
void bench_fail(struct bench_pub *p, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Build every publisher's events, open them, run them, print the report,
 * close and free everything.  Returns the exit status. */
int bench_run(struct bench *b, const char *describe);

#endif
