/*
 * tl_cmd_verify.c - `povtrack verify`: check a data directory's log (the
 * checks are in storage/st_verify.c) and the plugins' cursors against it.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <time.h>
#include <unistd.h>

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
    "  cursors   no plugin has applied past the last sequence of the log\n"
    "then a final line.  On a terminal, progress goes to standard error.\n"
    "\n"
    "  -d, --data-dir DIR  the daemon's data directory\n"
    "\n"
    "Exit status: 0 every check passed; 1 a check failed; 2 usage error;\n"
    "3 the data cannot be opened or read.\n";

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
    int failed = 0;

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
    failed += sq->failed != 0;
    failed += rc->failed != 0;
    failed += ids->failed != 0;
    return failed;
}

/* Print the cursor check; returns 1 when it failed. */
static int print_cursor_check(FILE *f, const struct pt_state_cursors *cs,
                              bool have_state, uint64_t last_seq)
{
    char why[256];
    uint64_t min;
    size_t bad;

    if (!have_state) {
        line(f, true, "cursors", "no plugin state yet");
        return 0;
    }
    bad = pt_state_cursors_check(cs, last_seq, &min, why, sizeof(why));
    if (bad == 0) {
        line(f, true, "cursors",
             "%zu plugins, none ahead of seq %" PRIu64 " (lowest %" PRIu64 ")",
             cs->n, last_seq, min);
        return 0;
    }
    line(f, false, "cursors", "%zu plugins, %zu failed: %s", cs->n, bad, why);
    return 1;
}

/* Read the cursors of data_dir's state (none when there is no state yet).
 * Returns an exit code. */
static int read_cursors(const char *data_dir, struct pt_state_cursors *cs,
                        bool *have_state)
{
    char path[PATH_MAX], msg[512];
    MDB_env *env;
    int rc;

    if (snprintf(path, sizeof(path), "%s/" PT_DATA_STATE_SUBDIR, data_dir) >=
        (int)sizeof(path)) {
        fprintf(stderr, "povtrack verify: %s: path too long\n", data_dir);
        return TL_EXIT_UNREACHABLE;
    }
    rc = pt_state_open_readonly(path, 0, &env, msg, sizeof(msg));
    *have_state = rc == 0;
    if (rc == ENOENT)
        return TL_EXIT_OK;
    if (rc == 0) {
        rc = pt_state_read_cursors(env, cs, msg, sizeof(msg));
        mdb_env_close(env);
    }
    if (rc != 0) {
        fprintf(stderr, "povtrack verify: %s\n", msg);
        return rc == ENOMEM ? TL_EXIT_FAIL : TL_EXIT_UNREACHABLE;
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
    struct st_verify_report rep;
    struct st_log *log = NULL;
    char path[PATH_MAX], msg[512];
    bool have_state = false;
    double t0 = now_s();
    int c, rc, failed;

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
    rc = read_cursors(data_dir, &cs, &have_state);
    if (rc == TL_EXIT_OK &&
        snprintf(path, sizeof(path), "%s/" PT_DATA_LOG_SUBDIR, data_dir) >=
            (int)sizeof(path)) {
        fprintf(stderr, "povtrack verify: %s: path too long\n", data_dir);
        rc = TL_EXIT_UNREACHABLE;
    }
    if (rc == TL_EXIT_OK &&
        st_log_open(path, ST_OPEN_READONLY, &log, msg, sizeof(msg)) != 0) {
        fprintf(stderr, "povtrack verify: %s\n", msg);
        rc = TL_EXIT_UNREACHABLE;
    }
    if (rc == TL_EXIT_OK) {
        int src = st_verify(log, &rep, on_progress, &prog);

        progress_clear(&prog);
        if (src != 0) {
            fprintf(stderr, "povtrack verify: %s: cannot read the log: %s\n",
                    path, st_strerror(src));
            rc = src == ST_ENOMEM ? TL_EXIT_FAIL : TL_EXIT_UNREACHABLE;
        }
    }
    st_log_close(log);
    if (rc != TL_EXIT_OK) {
        pt_state_cursors_free(&cs);
        return rc;
    }

    failed = print_log_checks(cli->out, &rep);
    failed += print_cursor_check(cli->out, &cs, have_state, rep.last_seq);
    pt_state_cursors_free(&cs);
    if (failed == 0)
        fprintf(cli->out,
                "verify OK: 4 checks passed on %s (last seq %" PRIu64
                ", %.2f s)\n",
                data_dir, rep.last_seq, now_s() - t0);
    else
        fprintf(cli->out,
                "verify FAIL: %d of 4 checks failed on %s (last seq %" PRIu64
                ", %.2f s)\n",
                failed, data_dir, rep.last_seq, now_s() - t0);
    return failed == 0 ? TL_EXIT_OK : TL_EXIT_FAIL;
}
