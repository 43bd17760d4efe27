/*
 * tl_cmd_plugin.c - `povtrack plugin list|resume NAME` and
 * `povtrack rebuild PLUGIN`: the operator's hands on the plugin host.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tl_cli.h"
#include "tl_mp.h"

#define REBUILD_POLL_MS 200
/* resume and rebuild answer once the work is done */
#define ACTION_TIMEOUT_MS 600000

static const char plugin_usage[] =
    "Usage: povtrack plugin list\n"
    "       povtrack plugin resume NAME\n"
    "\n"
    "list    every configured plugin with its progress and status\n"
    "        (running, or quarantined with the reason)\n"
    "resume  load a quarantined plugin again (after replacing its .so or\n"
    "        fixing its configuration) and apply the log from where it\n"
    "        stopped.  Needs admin = yes in the publisher registry.\n"
    "\n"
    "A plugin is quarantined when it cannot load (ABI mismatch, missing\n"
    "symbol, failing init), when apply or tick returns an error, or when it\n"
    "crashed or hung the plugin host three times on the same record.  Its\n"
    "state is kept; the other plugins and ingest go on.\n"
    "\n"
    "Exit status: 0 done, 1 refused (the daemon's message says why),\n"
    "2 usage error, 3 povtrackd unreachable.\n";

static const char rebuild_usage[] =
    "Usage: povtrack rebuild [--no-wait] PLUGIN\n"
    "\n"
    "Drop PLUGIN's state and apply the whole log to it again: after its\n"
    "logic changed, or to check that its indicators are what the log says.\n"
    "Ingest and the other plugins go on meanwhile; queries to PLUGIN answer\n"
    "from the partly rebuilt state until it has caught up (a query with\n"
    "min_seq waits for it).  Shows progress on a terminal and waits until\n"
    "the plugin has caught up with the log as it was when the rebuild\n"
    "started.  Needs admin = yes in the publisher registry.\n"
    "\n"
    "  --no-wait   return once the rebuild has started\n"
    "\n"
    "Exit status: 0 rebuilt, 1 refused or failed, 2 usage error,\n"
    "3 povtrackd unreachable.\n";

/* Parse the common options; the rest stays in argv[optind..]. */
static int options(struct tl_cli *cli, int argc, char **argv, const char *usage,
                   bool *no_wait)
{
    static const struct option longopts[] = {
        {"no-wait", no_argument, NULL, 'n'}, TL_COMMON_OPTIONS, {0}};
    int c, rc;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (c == TL_OPT_HELP) {
            fputs(usage, stdout);
            return TL_EXIT_HELP_SHOWN;
        }
        if (c == 'n' && no_wait != NULL) {
            *no_wait = true;
            continue;
        }
        if (c == '?' || c == 'n')
            return tl_cli_badopt(argv[0]);
        rc = tl_cli_common(cli, c, optarg);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int action(struct tl_cli *cli, const char *op, const char *plugin,
                  struct povtrack_client_msg *reply)
{
    json_t *req = json_pack("{s:s, s:s}", "op", op, "plugin", plugin);
    if (req == NULL) {
        fprintf(stderr, "povtrack: out of memory\n");
        return TL_EXIT_FAIL;
    }
    /* Not idempotent: a rebuild sent again would drop the state a second
     * time, and dropping a large plugin's state takes seconds.  Send it
     * once and wait long for the answer. */
    int retries = povtrack_client_retries(cli->client);
    int timeout = povtrack_client_timeout(cli->client);
    povtrack_client_set_retries(cli->client, 0);
    if (timeout < ACTION_TIMEOUT_MS)
        povtrack_client_set_timeout(cli->client, ACTION_TIMEOUT_MS);
    int rc = tl_cli_request(cli, req, reply);
    povtrack_client_set_retries(cli->client, retries);
    povtrack_client_set_timeout(cli->client, timeout);
    json_decref(req);
    return rc;
}

int tl_cmd_plugin(struct tl_cli *cli, int argc, char **argv)
{
    int rc = options(cli, argc, argv, plugin_usage, NULL);
    if (rc != 0)
        return rc == TL_EXIT_HELP_SHOWN ? TL_EXIT_OK : rc;
    if (optind >= argc)
        return tl_cli_usage("plugin", "expected list or resume NAME");
    const char *sub = argv[optind];
    if (strcmp(sub, "list") == 0) {
        if (optind + 1 != argc)
            return tl_cli_usage("plugin", "list takes no argument");
        char *sargv[] = {"stats", NULL};
        optind = 0;
        return tl_cmd_stats(cli, 1, sargv);
    }
    if (strcmp(sub, "resume") != 0)
        return tl_cli_usage("plugin", "unknown subcommand \"%s\"", sub);
    if (optind + 2 != argc)
        return tl_cli_usage("plugin", "resume takes one plugin NAME");
    struct povtrack_client_msg reply;
    rc = action(cli, "resume", argv[optind + 1], &reply);
    if (rc != 0)
        return rc;
    if (cli->json) {
        rc = tl_cli_print_json(cli, &reply.obj);
    } else {
        int64_t applied = 0, last = 0;
        tl_mp_i64(&reply.obj, "applied_seq", &applied);
        tl_mp_i64(&reply.obj, "last_seq", &last);
        fprintf(cli->out,
                "plugin %s resumed at seq %lld; %lld records to apply\n",
                argv[optind + 1], (long long)applied,
                (long long)(last > applied ? last - applied : 0));
    }
    povtrack_client_msg_free(&reply);
    return rc;
}

/* The applied_seq of plugin in a stats reply; false when absent. */
static bool plugin_applied(const msgpack_object *stats, const char *plugin,
                           int64_t *applied, char *status, size_t cap)
{
    const msgpack_object *ps = tl_mp_get(stats, "plugins");
    if (ps == NULL || ps->type != MSGPACK_OBJECT_ARRAY)
        return false;
    for (uint32_t i = 0; i < ps->via.array.size; i++) {
        char name[64];
        const msgpack_object *p = &ps->via.array.ptr[i];
        if (tl_mp_str(p, "name", name, sizeof name) &&
            strcmp(name, plugin) == 0) {
            status[0] = '\0';
            tl_mp_str(p, "status", status, cap);
            return tl_mp_i64(p, "applied_seq", applied);
        }
    }
    return false;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int tl_cmd_rebuild(struct tl_cli *cli, int argc, char **argv)
{
    bool no_wait = false;
    int rc = options(cli, argc, argv, rebuild_usage, &no_wait);
    if (rc != 0)
        return rc == TL_EXIT_HELP_SHOWN ? TL_EXIT_OK : rc;
    if (optind + 1 != argc)
        return tl_cli_usage("rebuild", "expected one PLUGIN");
    const char *plugin = argv[optind];
    struct povtrack_client_msg reply;
    rc = action(cli, "rebuild", plugin, &reply);
    if (rc != 0)
        return rc;
    int64_t target = 0;
    tl_mp_i64(&reply.obj, "last_seq", &target);
    povtrack_client_msg_free(&reply);
    fprintf(stderr, "povtrack: %s: state dropped; applying %lld records\n",
            plugin, (long long)target);
    if (no_wait)
        return TL_EXIT_OK;

    bool tty = isatty(STDERR_FILENO);
    double t0 = now_s(), last_line = 0;
    for (;;) {
        rc = povtrack_client_simple(cli->client, "stats", &reply);
        if (rc != 0) {
            povtrack_client_msg_free(&reply);
            if (tty)
                fputc('\n', stderr);
            return tl_cli_client_fail(cli, rc);
        }
        int64_t applied = 0;
        char status[32];
        bool found =
            plugin_applied(&reply.obj, plugin, &applied, status, sizeof status);
        povtrack_client_msg_free(&reply);
        if (!found || strcmp(status, "running") != 0) {
            if (tty)
                fputc('\n', stderr);
            fprintf(stderr,
                    "povtrack: %s is %s; see 'povtrack plugin list' and the "
                    "daemon's log\n",
                    plugin, found ? status : "gone");
            return TL_EXIT_FAIL;
        }
        double t = now_s() - t0;
        double pct =
            target > 0 ? 100.0 * (double)applied / (double)target : 100.0;
        if (pct > 100.0)
            pct = 100.0;
        double rate = t > 0 ? (double)applied / t : 0;
        if (tty) {
            int bar = (int)(pct / 2.5);
            fprintf(stderr, "\r[%.*s%*s] %5.1f%%  %lld/%lld  %.0f rec/s ", bar,
                    "========================================", 40 - bar, "",
                    pct, (long long)applied, (long long)target, rate);
        } else if (t - last_line >= 5 || applied >= target) {
            /* Not a terminal (cron, logs): a line every few seconds. */
            fprintf(stderr, "povtrack: %s: %lld/%lld records\n", plugin,
                    (long long)applied, (long long)target);
            last_line = t;
        }
        if (applied >= target) {
            if (tty)
                fputc('\n', stderr);
            fprintf(cli->out, "plugin %s rebuilt: %lld records in %.1f s\n",
                    plugin, (long long)target, now_s() - t0);
            return TL_EXIT_OK;
        }
        struct timespec pause = {0, REBUILD_POLL_MS * 1000000L};
        nanosleep(&pause, NULL);
    }
}
