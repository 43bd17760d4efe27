/*
 * cluster.h - a real three-node NATS JetStream cluster for a test
 * (tools/scripts/nats-cluster.sh on 127.0.0.1, free ports, stores in the
 * test's directory), and a reader of a province's stream that compares it
 * with the log, record by record, with nats.c.
 *
 * Every wait is bounded and driven by what the cluster says (its /healthz,
 * stream info, a message arriving on the subject), never by a sleep.
 */
#ifndef POVTRACK_TEST_CLUSTER_H
#define POVTRACK_TEST_CLUSTER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define TC_NODES 3

struct tc {
    char dir[400];  /* the cluster's directory */
    char urls[512]; /* client URLs, comma-separated */
    void *nc;       /* natsConnection of the test's own reads */
    void *js;       /* jsCtx */
};

/* Start the cluster in dir (created) and connect to it. */
int tc_start(struct tc *c, const char *dir);
/* Disconnect, stop every node.  Safe on a cluster never started. */
void tc_stop(struct tc *c);

/* One node (1..TC_NODES): SIGKILL, SIGTERM, start again (no wait), wait
 * until it says JetStream is ready.  0, or -1. */
int tc_kill(struct tc *c, int node);
int tc_stop_node(struct tc *c, int node);
int tc_start_node(struct tc *c, int node);
int tc_wait_node(struct tc *c, int node);
/* Node node's JetStream store directory into buf. */
void tc_store_dir(const struct tc *c, int node, char *buf, size_t cap);

/* Write a povtrackd configuration file: [mirror] with this cluster's
 * servers and province 60, then extra (more lines of [mirror], may be
 * NULL), then after (other sections, may be NULL). */
int tc_write_config(const struct tc *c, const char *path, const char *extra,
                    const char *after);

struct tc_info {
    uint64_t first, last, msgs;
    int leader;   /* node number, 0 when none */
    int current;  /* every replica current, none lagging */
    int replicas; /* peers besides the leader */
};
/* The stream as its leader says: 0, or -1 (no such stream, no leader). */
int tc_info(struct tc *c, const char *stream, struct tc_info *out);

/* Wait until the stream's last sequence is at least want (and, with
 * all_current, every replica is current); waking on each message on its
 * subject.  0, or -1 after timeout_ms. */
int tc_wait_last(struct tc *c, const char *stream, const char *subject,
                 uint64_t want, int all_current, int timeout_ms);

/* Compare the stream with the log in log_dir (the daemon may run): the
 * stream holds exactly the log's records, sequences 1..last without gap
 * or duplicate, in order, each with Povtrack-Seq, Povtrack-Province 60
 * and the record's stored bytes as body.  0 with *count records; -1 with
 * why. */
int tc_compare(struct tc *c, const char *stream, const char *subject,
               const char *log_dir, uint64_t *count, char *why, size_t whylen);

/* The "mirror" map of a daemon's stats, and its log's last sequence: 0,
 * or -1 when there is no answer or no such map. */
struct td;
struct tc_mirror_stats {
    char state[32];
    uint64_t acked, lag_records, last_seq;
};
int tc_mirror_stats(struct td *d, struct tc_mirror_stats *out);

/* povtrack-mirror, the child of povtrackd d that runs it; 0 when none.
 * tc_wait_mirror_pid waits (up to 10 s of looks) for one other than
 * previous: its pid, or 0. */
pid_t tc_mirror_pid(const struct td *d);
pid_t tc_wait_mirror_pid(const struct td *d, pid_t previous);

/* Until d's plugin host has stored an alert code of severity (each look a
 * request answered by the daemon): 0, or -1 after 20 s. */
int tc_wait_alert(struct td *d, const char *code, const char *severity);

#endif
