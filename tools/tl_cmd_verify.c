/*
 * tl_cmd_verify.c - `povtrack verify`: check a data directory's log (the
 * checks are in storage/st_verify.c) and the plugins' cursors against it.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "pt_config.h"
#include "pt_state.h"
#include "st_verify.h"
#include "tl_cli.h"

static const char verify_usage[] =
    "Usage: povtrack verify [-d DATA_DIR]\n"
    "\n"
    "Check the event log and the plugin cursors of DATA_DIR "
    "(default\n" PT_DEFAULT_DATA_DIR
    ").  It only reads, through read transactions, so it may run\n"
    "beside a povtrackd that keeps ingesting: it checks the log as it was\n"
    "when the check began.  Run it as the user povtrackd runs as.\n"
    "\n"
    "One line per check on standard output, OK or FAIL with counts, and the\n"
    "first problem found:\n"
    "  sequence  the records are numbered 1..last without a gap\n"
    "  records   every record decodes and validates (as the plugin host\n"
    "            decodes it) and is stored in canonical form\n"
    "  ids       the id index maps each record's id to that record and has\n"
    "            exactly one entry per record\n"
    "  units     the unit registry (\"units\") and its versions (\"unitseq\")\n"
    "            are what replaying the log's unit events gives\n"
    "  cursors   no plugin has applied past the last sequence of the log\n"
    "then a final line.  With --json, one JSON object instead: \"ok\", the\n"
    "counts, and \"checks\": [{\"check\", \"ok\", \"checked\", \"failed\",\n"
    "\"first\"}] (and \"note\" for cursors).  On a terminal, progress goes\n"
    "to standard error.\n"
    "\n"
    "A log whose data.mdb is empty or has no valid LMDB meta page cannot be\n"
    "checked: one line \"FAIL log:\" says what was found and what to do,\n"
    "exit 1.  A plugin state whose data.mdb is empty was never written:\n"
    "the cursors line says so and passes (povtrackd makes the state at\n"
    "start).  One with no valid meta page cannot be read: the cursors check\n"
    "fails (the log is not affected; povtrackd sets it aside at start and\n"
    "the plugins apply the log again).\n"
    "\n"
    "  -d, --data-dir DIR  the daemon's data directory\n"
    "\n"
    "Exit status: 0 every check passed; 1 a check failed, or the log's\n"
    "data.mdb holds no committed transaction; 2 usage error; 3 the data\n"
    "cannot be opened or read (no log there, permissions, I/O errors).\n";

struct progress {
    bool on;     /* standard error is a terminal */
    double next; /* monotonic time of the next update */
    bool shown;
};

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_progress(void *arg, uint64_t done, uint64_t total)
{
    struct progress *p = arg;
    double t;

    if (!p->on || (t = now_s()) < p->next)
        return;
    p->next = t + 0.2;
    p->shown = true;
    fprintf(stderr, "\rpovtrack verify: %" PRIu64 " of %" PRIu64 " records",
            done, total);
    if (total != 0)
        fprintf(stderr, " (%d%%)", (int)(done * 100 / total));
    fflush(stderr);
}

static void progress_clear(struct progress *p)
{
    if (p->shown)
        fprintf(stderr, "\r%60s\r", "");
}

static void line(FILE *f, bool ok, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void line(FILE *f, bool ok, const char *name, const char *fmt, ...)
{
    va_list ap;

    fprintf(f, "%-4s %s: ", ok ? "OK" : "FAIL", name);
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fputc('\n', f);
}

/* Print the log checks; returns how many failed. */
static int print_log_checks(FILE *f, const struct st_verify_report *r)
{
    const struct st_verify_outcome *sq = &r->check[ST_VERIFY_SEQUENCE];
    const struct st_verify_outcome *rc = &r->check[ST_VERIFY_RECORDS];
    const struct st_verify_outcome *ids = &r->check[ST_VERIFY_IDS];
    const struct st_verify_outcome *un = &r->check[ST_VERIFY_UNITS];
    char useq[200];
    int failed = 0, n;

    if (sq->failed == 0)
        line(f, true, "sequence",
             "%" PRIu64 " records, seq 1..%" PRIu64 " without gaps", r->records,
             r->last_seq);
    else
        line(f, false, "sequence",
             "%" PRIu64 " records, last seq %" PRIu64 ", %" PRIu64
             " failed: %s",
             r->records, r->last_seq, sq->failed, sq->first);
    if (rc->failed == 0)
        line(f, true, "records", "%" PRIu64 " decoded and valid", rc->checked);
    else
        line(f, false, "records", "%" PRIu64 " checked, %" PRIu64 " failed: %s",
             rc->checked, rc->failed, rc->first);
    if (ids->failed == 0)
        line(f, true, "ids",
             "%" PRIu64 " index entries, one per record (%" PRIu64 " checked)",
             r->index_entries, ids->checked);
    else
        line(f, false, "ids",
             "%" PRIu64 " records checked, %" PRIu64 " index entries, %" PRIu64
             " failed: %s",
             ids->checked, r->index_entries, ids->failed, ids->first);
    if (r->unitseq_absent)
        n = snprintf(useq, sizeof(useq),
                     "no \"unitseq\" in this log (written before it): not "
                     "checked");
    else
        n = snprintf(useq, sizeof(useq), "%" PRIu64 " \"unitseq\" entries",
                     r->unitseq_entries);
    if (r->legacy_unit_events != 0 && n > 0 && (size_t)n < sizeof(useq))
        snprintf(useq + n, sizeof(useq) - (size_t)n,
                 "; %" PRIu64 " unit events of a writer before histories "
                 "(stamped 0, no entry needed)",
                 r->legacy_unit_events);
    if (un->failed == 0)
        line(f, true, "units",
             "%" PRIu64 " unit events replayed, %" PRIu64
             " histories equal to the replay, %s",
             r->unit_events, r->unit_entries, useq);
    else
        line(f, false, "units",
             "%" PRIu64 " unit events replayed, %" PRIu64
             " histories, %s, %" PRIu64 " failed: %s",
             r->unit_events, r->unit_entries, useq, un->failed, un->first);
    const struct st_verify_outcome *am = &r->check[ST_VERIFY_AMENDS];
    if (r->amends_absent)
        line(f, true, "amends",
             "no \"amends\" in this log (written before voids): not checked");
    else if (am->failed == 0)
        line(f, true, "amends",
             "%" PRIu64 " voids and corrections, one entry each",
             r->amend_events);
    else
        line(f, false, "amends",
             "%" PRIu64 " voids and corrections, %" PRIu64 " entries, %" PRIu64
             " failed: %s",
             r->amend_events, r->amend_entries, am->failed, am->first);
    failed += sq->failed != 0;
    failed += rc->failed != 0;
    failed += ids->failed != 0;
    failed += un->failed != 0;
    failed += am->failed != 0;
    return failed;
}

/* The cursor check: no plugin's cursor past the log's last sequence. */
struct cursor_outcome {
    bool have_state; /* the state could be read */
    size_t plugins;
    size_t bad; /* cursors past the log, or 1: the state cannot be read */
    uint64_t lowest;
    char why[1024];  /* the first failure */
    char note[1024]; /* why a state that is there has nothing to check */
};

static void cursor_check(const struct pt_state_cursors *cs, uint64_t last_seq,
                         struct cursor_outcome *o)
{
    if (!o->have_state)
        return;
    o->plugins = cs->n;
    o->bad = pt_state_cursors_check(cs, last_seq, &o->lowest, o->why,
                                    sizeof(o->why));
}

/* Print the cursor check; returns 1 when it failed. */
static int print_cursor_check(FILE *f, const struct cursor_outcome *o,
                              uint64_t last_seq)
{
    if (o->bad != 0 && !o->have_state) {
        line(f, false, "cursors", "%s", o->why);
        return 1;
    }
    if (!o->have_state) {
        line(f, true, "cursors", "no plugin state yet%s%s",
             o->note[0] ? ": " : "", o->note);
        return 0;
    }
    if (o->bad == 0) {
        line(f, true, "cursors",
             "%zu plugins, none ahead of seq %" PRIu64 " (lowest %" PRIu64 ")",
             o->plugins, last_seq, o->lowest);
        return 0;
    }
    line(f, false, "cursors", "%zu plugins, %zu failed: %s", o->plugins, o->bad,
         o->why);
    return 1;
}

/* Write o (NULL: memory ran out), a line, and release it.  Returns the
 * exit code: 0 when ok. */
static int emit_json(struct tl_cli *cli, json_t *o, bool ok)
{
    if (o == NULL || json_dumpf(o, cli->out, JSON_COMPACT) != 0) {
        json_decref(o);
        fprintf(stderr, "povtrack verify: out of memory\n");
        return TL_EXIT_FAIL;
    }
    fputc('\n', cli->out);
    json_decref(o);
    return ok ? TL_EXIT_OK : TL_EXIT_FAIL;
}

/* --json: one object with every check.  Returns an exit code. */
static int print_json(struct tl_cli *cli, const char *data_dir,
                      const struct st_verify_report *r,
                      const struct cursor_outcome *co, double seconds)
{
    json_t *checks = json_array(), *o = NULL;
    int failed = co->bad != 0, bad = checks == NULL;

    for (int i = 0; !bad && i < ST_VERIFY_NCHECKS; i++) {
        const struct st_verify_outcome *c = &r->check[i];
        failed += c->failed != 0;
        bad |= json_array_append_new(
                   checks,
                   json_pack("{s:s,s:b,s:I,s:I,s:s}", "check",
                             st_verify_check_name((enum st_verify_check)i),
                             "ok", c->failed == 0, "checked",
                             (json_int_t)c->checked, "failed",
                             (json_int_t)c->failed, "first", c->first)) != 0;
    }
    bad |= bad || json_array_append_new(
                      checks, json_pack("{s:s,s:b,s:I,s:I,s:s,s:s}", "check",
                                        "cursors", "ok", co->bad == 0,
                                        "checked", (json_int_t)co->plugins,
                                        "failed", (json_int_t)co->bad, "first",
                                        co->why, "note", co->note)) != 0;
    if (!bad)
        o = json_pack("{s:b,s:s,s:I,s:I,s:I,s:f,s:{s:I,s:I,s:I,s:I,s:b},s:o}",
                      "ok", failed == 0, "data_dir", data_dir, "last_seq",
                      (json_int_t)r->last_seq, "records",
                      (json_int_t)r->records, "index_entries",
                      (json_int_t)r->index_entries, "seconds", seconds, "units",
                      "unit_events", (json_int_t)r->unit_events, "unit_entries",
                      (json_int_t)r->unit_entries, "unitseq_entries",
                      (json_int_t)r->unitseq_entries, "legacy_unit_events",
                      (json_int_t)r->legacy_unit_events, "unitseq_absent",
                      (int)r->unitseq_absent, "checks", checks);
    else
        json_decref(checks);
    return emit_json(cli, o, failed == 0);
}

/* A log that holds no committed transaction: one failed check, "log",
 * saying what was found.  Returns the exit code. */
static int print_log_unwritten(struct tl_cli *cli, const char *data_dir,
                               const char *msg)
{
    if (cli->json)
        return emit_json(cli,
                         json_pack("{s:b,s:s,s:[{s:s,s:b,s:I,s:I,s:s}]}", "ok",
                                   0, "data_dir", data_dir, "checks", "check",
                                   "log", "ok", 0, "checked", (json_int_t)0,
                                   "failed", (json_int_t)1, "first", msg),
                         false);
    line(cli->out, false, "log", "%s", msg);
    fprintf(cli->out, "verify FAIL: the log of %s cannot be checked\n",
            data_dir);
    return TL_EXIT_FAIL;
}

/* Read the cursors of data_dir's state into cs; co says whether there is a
 * state to check, and why not.  Returns an exit code. */
static int read_cursors(const char *data_dir, struct pt_state_cursors *cs,
                        struct cursor_outcome *co)
{
    char path[PATH_MAX], msg[1024];
    MDB_env *env;
    int rc;

    if (snprintf(path, sizeof(path), "%s/" PT_DATA_STATE_SUBDIR, data_dir) >=
        (int)sizeof(path)) {
        fprintf(stderr, "povtrack verify: %s: path too long\n", data_dir);
        return TL_EXIT_UNREACHABLE;
    }
    rc = pt_state_open_readonly(path, 0, &env, msg, sizeof(msg));
    co->have_state = rc == 0;
    /* None yet, or never written: nothing to check, and nothing wrong.
     * One that cannot be read fails the check; the log is still checked. */
    if (rc == POVTRACK_ENOENT)
        return TL_EXIT_OK;
    if (rc == -ENODATA) {
        snprintf(co->note, sizeof(co->note), "%s", msg);
        return TL_EXIT_OK;
    }
    if (rc == MDB_INVALID) {
        snprintf(co->why, sizeof(co->why), "%s", msg);
        co->bad = 1;
        return TL_EXIT_OK;
    }
    if (rc == 0) {
        rc = pt_state_read_cursors(env, cs, msg, sizeof(msg));
        mdb_env_close(env);
    }
    if (rc != 0) {
        fprintf(stderr, "povtrack verify: %s\n", msg);
        return rc == POVTRACK_ENOMEM ? TL_EXIT_FAIL : TL_EXIT_UNREACHABLE;
    }
    return TL_EXIT_OK;
}

int tl_cmd_verify(struct tl_cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"data-dir", required_argument, NULL, 'd'}, TL_COMMON_OPTIONS, {0}};
    const char *data_dir = PT_DEFAULT_DATA_DIR;
    struct progress prog = {isatty(STDERR_FILENO) == 1, 0, false};
    struct pt_state_cursors cs = {NULL, 0};
    struct cursor_outcome co;
    struct st_verify_report rep;
    struct st_log *log = NULL;
    char path[PATH_MAX], msg[1024];
    double t0 = now_s();
    int c, rc, lrc = 0, failed;

    while ((c = getopt_long(argc, argv, "d:", longopts, NULL)) != -1) {
        if (c == TL_OPT_HELP) {
            fputs(verify_usage, stdout);
            return TL_EXIT_OK;
        }
        if (c == 'd')
            data_dir = optarg;
        else if (c == '?')
            return tl_cli_badopt("verify");
        else if ((rc = tl_cli_common(cli, c, optarg)) != 0)
            return rc;
    }
    if (optind < argc)
        return tl_cli_usage("verify", "unexpected argument \"%s\"",
                            argv[optind]);

    /*
     * The cursors first, then the log.  On a running daemon the plugin host
     * applies only what the log has committed, so the cursors read now are
     * at most the log's last sequence now; the log's snapshot, taken after,
     * can only be longer.  Read the other way round, a host applying records
     * appended after the log's snapshot would look like a cursor ahead of
     * the log.
     */
    memset(&co, 0, sizeof co);
    rc = read_cursors(data_dir, &cs, &co);
    if (rc == TL_EXIT_OK &&
        snprintf(path, sizeof(path), "%s/" PT_DATA_LOG_SUBDIR, data_dir) >=
            (int)sizeof(path)) {
        fprintf(stderr, "povtrack verify: %s: path too long\n", data_dir);
        rc = TL_EXIT_UNREACHABLE;
    }
    if (rc == TL_EXIT_OK)
        lrc = st_log_open(path, ST_OPEN_READONLY, &log, msg, sizeof(msg));
    if (lrc == POVTRACK_ENOCOMMIT) {
        /* Not an access problem: the log itself is empty or damaged. */
        pt_state_cursors_free(&cs);
        return print_log_unwritten(cli, data_dir, msg);
    }
    if (lrc != 0) {
        fprintf(stderr, "povtrack verify: %s\n", msg);
        rc = TL_EXIT_UNREACHABLE;
    }
    if (rc == TL_EXIT_OK) {
        int src = st_verify(log, &rep, on_progress, &prog);

        progress_clear(&prog);
        if (src != 0) {
            fprintf(stderr, "povtrack verify: %s: cannot read the log: %s\n",
                    path, st_strerror(src));
            rc = src == POVTRACK_ENOMEM ? TL_EXIT_FAIL : TL_EXIT_UNREACHABLE;
        }
    }
    st_log_close(log);
    if (rc != TL_EXIT_OK) {
        pt_state_cursors_free(&cs);
        return rc;
    }

    cursor_check(&cs, rep.last_seq, &co);
    pt_state_cursors_free(&cs);
    if (cli->json)
        return print_json(cli, data_dir, &rep, &co, now_s() - t0);
    failed = print_log_checks(cli->out, &rep);
    failed += print_cursor_check(cli->out, &co, rep.last_seq);
    /* The log's checks and the cursors. */
    if (failed == 0)
        fprintf(cli->out,
                "verify OK: %d checks passed on %s (last seq %" PRIu64
                ", %.2f s)\n",
                ST_VERIFY_NCHECKS + 1, data_dir, rep.last_seq, now_s() - t0);
    else
        fprintf(cli->out,
                "verify FAIL: %d of %d checks failed on %s (last seq %" PRIu64
                ", %.2f s)\n",
                failed, ST_VERIFY_NCHECKS + 1, data_dir, rep.last_seq,
                now_s() - t0);
    return failed == 0 ? TL_EXIT_OK : TL_EXIT_FAIL;
}
