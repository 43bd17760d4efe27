/*
 * daemon.h - start the real povtrackd for a test and talk to it over its
 * real sockets (ipc:// endpoints inside a fresh temporary directory).
 *
 * Every wait is a handshake with a bounded timeout (a ping answered, an ack
 * received, a process reaped), never a sleep.
 */
#ifndef POVTRACK_TEST_DAEMON_H
#define POVTRACK_TEST_DAEMON_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <msgpack.h>

struct td {
    char dir[256]; /* temporary directory, removed by td_destroy */
    char data_dir[300];
    char ingest[320], query[320], alerts[320];
    pid_t pid;
    void *zctx;
    void *ingest_sock; /* DEALER */
    void *query_sock;  /* DEALER */
    /* CURVE (td_curve_setup): the daemon's public key and the key pair of
     * the harness's own sockets, Z85; "" for plain sockets. */
    char server_public[41], server_secret[41];
    char client_public[41], client_secret[41];
    char config[320]; /* the config file td_curve_setup wrote */
    char registry[320];
    char log[320]; /* the daemon's stderr (td_start_logged), "" when not */
};

/* Create the directory and endpoints; does not start the daemon. */
int td_init(struct td *d);
/* cmocka setup: a struct td, td_init'ed (not started), in *state; -1 (the
 * test is not run) when that fails. */
int td_setup(void **state);
/* td_setup, then td_start with no extra arguments. */
int td_setup_started(void **state);
/* cmocka teardown of either: td_destroy and free.  It runs even when an
 * assertion failed, so no daemon outlives its test. */
int td_teardown(void **state);
/* Start povtrackd with extra arguments (NULL-terminated, may be NULL) and
 * wait until its plugin host answers a ping. */
int td_start(struct td *d, const char *const *extra);
/* td_start with the stderr of both processes appended to d->log
 * (DIR/daemon.log), for the test to read and wait for log lines;
 * td_destroy shows any sanitizer report found there. */
int td_start_logged(struct td *d, const char *const *extra);
/* SIGTERM and wait for exit; returns the exit status (or -1). */
int td_stop(struct td *d);
void td_destroy(struct td *d);

/* Turn CURVE on for the next td_start: make the daemon's key pair and the
 * harness's ("tester", every right), write the registry (tester's entry,
 * then registry_extra verbatim) and a config file with [security] and
 * config_extra (more sections, may be NULL); the harness's sockets then
 * speak CURVE.  Start with td_start(d, (const char *[]){"-c", d->config,
 * NULL}). */
int td_curve_setup(struct td *d, const char *registry_extra,
                   const char *config_extra);
/* Rewrite the registry: tester's entry and then registry_extra. */
int td_write_registry(struct td *d, const char *registry_extra);
/* A DEALER connected to ep, speaking CURVE with the given client key pair
 * when the daemon does (public/secret NULL: the harness's own). */
void *td_dealer(struct td *d, const char *ep, const char *public_key,
                const char *secret_key);

/* pid of the plugin host (the daemon's child), 0 if none. */
pid_t td_host_pid(const struct td *d);

/* The next reply on a DEALER of the caller's (an empty delimiter, then one
 * frame), or the next alert on a SUB (the topic, then one frame): the
 * last frame unpacked into up (which owns the bytes).  Returns 0, or -1
 * when none came within timeout_ms. */
int td_recv_reply(void *sock, msgpack_unpacked *up, int timeout_ms);
/* One request on a DEALER of the caller's (an empty delimiter, then buf)
 * and its reply, as td_recv_reply; after a timeout the socket may still
 * get the late reply. */
int td_call(void *sock, const void *buf, size_t len, msgpack_unpacked *up,
            int timeout_ms);
/* Wait up to timeout_ms for a reply on the DEALER sock: an empty delimiter
 * and one body frame, whose bytes are copied to *body (malloc'ed, the
 * caller frees it; *len bytes).  0; -1 when none came in time; -2 when
 * the reply had another shape (all its frames are read). */
int td_recv_body(void *sock, int timeout_ms, char **body, size_t *len);

/* Send raw bytes as one ingest request; the reply is unpacked into up. */
int td_ingest_raw(struct td *d, const void *buf, size_t len,
                  msgpack_unpacked *up, int timeout_ms);
/* Send one query-endpoint request map given as raw msgpack. */
int td_request_raw(struct td *d, const void *buf, size_t len,
                   msgpack_unpacked *up, int timeout_ms);
/* Wait for a ping answer (re-creating the socket after each timeout). */
int td_wait_ping(struct td *d, int timeout_ms);

/* Append a msgpack string. */
void td_pack_cstr(msgpack_packer *pk, const char *s);
/* Publish one unit.defined event for province 60 (Binh Thuan) under id
 * and wait for its ack: 0 when "ok", 1 when "duplicate", -1 otherwise. */
int td_define_province(struct td *d, const char *id);

/* Send the n events packed in sb as one ingest request: 0 when all n acks
 * came back "ok" within timeout_ms, -1 otherwise. */
int td_ingest_ok(struct td *d, const msgpack_sbuffer *sb, uint32_t n,
                 int timeout_ms);

/* Pack into sb (cleared first) one ingest request: an array of n
 * donation.received events of amount VND each for province 60, ids
 * "<prefix>-<batch>-<i>", at 1730000000 + batch. */
void td_pack_donations(msgpack_sbuffer *sb, const char *prefix, int batch,
                       int n, int64_t amount);

/* Ask plugin for province 60 once it has applied min_seq (0: no wait),
 * with "year" when year > 0.  Returns 0 with the whole reply in up (the
 * caller destroys it), or -1 (up left empty) when no reply came within
 * timeout_ms. */
int td_query(struct td *d, const char *plugin, int year, uint64_t min_seq,
             msgpack_unpacked *up, int timeout_ms);

/* Ask plugin with the query map q (qlen bytes of packed msgpack) once it
 * has applied min_seq.  Returns the reply's "result" packed on its own
 * (the caller frees it, *len its size), or NULL with why set: no reply
 * within timeout_ms, or the daemon's error. */
char *td_query_packed(struct td *d, const char *plugin, const void *q,
                      size_t qlen, uint64_t min_seq, int timeout_ms,
                      size_t *len, char *why, size_t whylen);

/* An unsigned field of a query reply's result; UINT64_MAX (after printing
 * the daemon's error) when there is no result or no such field, which no
 * assertion of a count expects. */
uint64_t td_result_u64(const msgpack_unpacked *up, const char *key);

/* Helpers on unpacked replies. */
const msgpack_object *td_get(const msgpack_object *map, const char *key);
int td_str_eq(const msgpack_object *o, const char *s);
/* Copy the string o into buf (cap bytes, NUL-terminated): 0, or -1 when o
 * is not a string or does not fit. */
int td_str_copy(const msgpack_object *o, char *buf, size_t cap);

/* The whole of a text file (a daemon's log), NUL-terminated; the caller
 * frees it.  NULL when it cannot be read or memory runs out. */
char *td_read_file(const char *path);

/* A TCP port nobody listens on right now (the kernel's choice), or -1. */
int td_unused_port(void);

/* Lines of the text file path holding both a and b (0 when unreadable). */
size_t td_count_lines(const char *path, const char *a, const char *b);
/* Wait until path (a daemon's log) has at least want lines holding both a
 * and b, at most timeout_ms: inotify says when the file grows, so this
 * never polls the clock.  Returns the number of such lines seen last. */
size_t td_wait_log(const char *path, const char *a, const char *b, size_t want,
                   int timeout_ms);

/* Run argv (a program that must exit on its own: povtrackd refusing to
 * start, a script), its output (stdout and stderr) collected into out (cap
 * bytes, NUL-terminated) until it closes.  Returns the exit status; -1 when it
 * did not exit normally within timeout_ms (then killed) or could not be run. */
int td_run_to_exit(const char *const *argv, char *out, size_t cap,
                   int timeout_ms);

/* td_run_to_exit on povtrackd with the arguments td_start gives it, then
 * extra: for a start that must be refused. */
int td_start_refused(struct td *d, const char *const *extra, char *out,
                     size_t cap, int timeout_ms);

/* Pack the envelope of one event (v, id, type, at, unit, household when
 * not NULL) and the key "data": the caller packs the data map next. */
void td_pack_event_head(msgpack_packer *pk, const char *id, const char *type,
                        int64_t at, const char *unit, const char *household);

/* An operator's action on plugin ({"op": "rebuild" or "resume",
 * "plugin": plugin}): 0 when answered ok within timeout_ms, -1 otherwise
 * (said on stderr). */
int td_plugin_op(struct td *d, const char *op, const char *plugin,
                 int timeout_ms);

/* ---- strace ---- */

/* strace attached to processes, writing its trace to a file. */
struct td_tracer {
    pid_t pid;
    int errfd; /* strace's stderr, open until it has exited */
};
/* Attach strace -f with options opts (NULL-terminated, at most 8) to each
 * process of targets (0-terminated, at most 4: strace -p each), tracing
 * into path; returns 0 once strace says it has attached to each (a
 * handshake), -1 otherwise (said on stderr). */
int td_trace_start(struct td_tracer *t, const pid_t *targets, const char *path,
                   const char *const *opts);
/* Detach strace and wait until its trace is complete. */
void td_trace_stop(struct td_tracer *t);

/* ---- the povtrack command line tool, run for real ---- */
struct td_cli {
    pid_t pid;
    char opath[400], epath[400];
};
/* Start POVTRACK_BIN_DIR/povtrack with args (NULL-terminated, at most 14);
 * env holds "NAME=value" strings (NULL-terminated, may be NULL) that
 * replace or add to the environment.  Standard output and error go to
 * files in tmpdir.  Safe with threads running (the child only execs). */
int td_cli_start(struct td_cli *r, const char *tmpdir, const char *const *args,
                 const char *const *env);
/* Wait for it; stdout into out and stderr into err (cut to fit).  Returns
 * the exit status, or -1 when it did not exit normally. */
int td_cli_wait(struct td_cli *r, char *out, size_t outlen, char *err,
                size_t errlen);
/* Both, without extra environment. */
int td_cli_run(const char *tmpdir, const char *const *args, char *out,
               size_t outlen, char *err, size_t errlen);

#endif
