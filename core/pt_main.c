/*
 * pt_main.c - povtrackd: option handling, signals, and the two processes.
 *
 * The process started by the operator is the ingest process; it re-executes
 * itself with --plugin-host for the plugin host and supervises it.  The only
 * mutable globals of povtrackd are the signal flags below.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include <povtrack/plugin.h>

#include "pt_config.h"
#include "pt_host.h"
#include "pt_ingest.h"
#include "pt_log.h"
#include "pt_mirror_sup.h"
#include "pt_supervisor.h"
#include "pt_state.h"
#include "st_env.h"

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t child_exited;
static volatile sig_atomic_t hup_received;

static void on_signal(int sig)
{
    if (sig == SIGCHLD)
        child_exited = 1;
    else if (sig == SIGHUP)
        hup_received = 1;
    else
        stop_requested = 1;
}

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: povtrackd [OPTION]...\n"
            "Receive poverty-reduction events over ZeroMQ, keep them in a "
            "durable log,\n"
            "and compute indicators with plugins.\n"
            "\n"
            "  -d, --data-dir DIR    data directory (default %s)\n"
            "  -c, --config FILE     INI configuration file (options given "
            "here win)\n"
            "      --ingest EP       ingest endpoint (default %s)\n"
            "      --query EP        query endpoint (default %s)\n"
            "      --alerts EP       alerts endpoint (default %s)\n"
            "      --plugins LIST    plugins to load, e.g. \"poverty fund\" "
            "(default \"%s\")\n"
            "      --plugin-dir DIR  where plugin NAME.so files are "
            "(default: " PT_PLUGIN_DIR_FROM_BIN "\n"
            "                        next to this executable)\n"
            "      --batch-max N     most events in one group commit "
            "(default 10000)\n"
            "      --log-level L     debug, info, warn or error (default "
            "info)\n"
            "  -h, --help            show this help and exit\n"
            "  -V, --version         show the version and exit\n"
            "\n"
            "Signals: SIGTERM or SIGINT stop cleanly (the batch in progress "
            "is committed\n"
            "and acknowledged first); SIGHUP reloads the configuration:\n"
            "log_level, syslog, most [limits] and the publisher registry "
            "(README, Signals).\n"
            "Security: endpoints off this machine need [security] curve_key "
            "and registry\n"
            "in the config file (see README, Security).\n"
            "Exit status: 0 after a clean stop, 1 on a start-up or fatal "
            "error, 2 on a usage error.\n",
            PT_DEFAULT_DATA_DIR, PT_DEFAULT_INGEST, PT_DEFAULT_QUERY,
            PT_DEFAULT_ALERTS, PT_DEFAULT_PLUGINS);
}

enum {
    OPT_INGEST = 256,
    OPT_QUERY,
    OPT_ALERTS,
    OPT_PLUGINS,
    OPT_PLUGIN_DIR,
    OPT_BATCH_MAX,
    OPT_LOG_LEVEL,
    OPT_PLUGIN_HOST,
    OPT_NOTIFY_FD,
    OPT_HANDOFF_FD
};

static const struct option options[] = {
    {"data-dir", required_argument, NULL, 'd'},
    {"config", required_argument, NULL, 'c'},
    {"ingest", required_argument, NULL, OPT_INGEST},
    {"query", required_argument, NULL, OPT_QUERY},
    {"alerts", required_argument, NULL, OPT_ALERTS},
    {"plugins", required_argument, NULL, OPT_PLUGINS},
    {"plugin-dir", required_argument, NULL, OPT_PLUGIN_DIR},
    {"batch-max", required_argument, NULL, OPT_BATCH_MAX},
    {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {"plugin-host", no_argument, NULL, OPT_PLUGIN_HOST},
    {"notify-fd", required_argument, NULL, OPT_NOTIFY_FD},
    {"handoff-fd", required_argument, NULL, OPT_HANDOFF_FD},
    {NULL, 0, NULL, 0},
};

struct run_mode {
    int plugin_host;
    int notify_fd;
    int handoff_fd; /* the query endpoint's hand-off (pt_supervisor.h) */
};

static int set_string(char *dst, size_t cap, const char *value, const char *opt)
{
    if (strlen(value) >= cap) {
        fprintf(stderr, "povtrackd: --%s: value too long\n", opt);
        return POVTRACK_EINVALID;
    }
    strcpy(dst, value);
    return 0;
}

/* Options are read twice: first for --config, --help and --version, then,
 * over the file's settings, for everything else. */
static int parse_args(int argc, char **argv, struct pt_config *cfg,
                      struct run_mode *mode)
{
    char err[512];
    int c;
    opterr = 1;
    optind = 1;
    while ((c = getopt_long(argc, argv, "d:c:hV", options, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout);
            exit(0);
        }
        if (c == 'V') {
            printf("povtrackd %s (wire protocol %d, plugin ABI %d)\n",
                   POVTRACK_VERSION, POVTRACK_PROTO_VERSION,
                   POVTRACK_PLUGIN_ABI_VERSION);
            exit(0);
        }
        if (c == '?')
            return 2;
        if (c == 'c' && pt_config_load(cfg, optarg, err, sizeof err) != 0) {
            fprintf(stderr, "povtrackd: %s\n", err);
            return 1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "povtrackd: unexpected argument \"%s\"\n",
                argv[optind]);
        return 2;
    }
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "d:c:hV", options, NULL)) != -1) {
        int rc = 0;
        char *end;
        switch (c) {
        case 'd':
            rc = set_string(cfg->data_dir, sizeof cfg->data_dir, optarg,
                            "data-dir");
            break;
        case OPT_INGEST:
            rc = set_string(cfg->ingest, sizeof cfg->ingest, optarg, "ingest");
            break;
        case OPT_QUERY:
            rc = set_string(cfg->query, sizeof cfg->query, optarg, "query");
            break;
        case OPT_ALERTS:
            rc = set_string(cfg->alerts, sizeof cfg->alerts, optarg, "alerts");
            break;
        case OPT_PLUGIN_DIR:
            rc = set_string(cfg->plugin_dir, sizeof cfg->plugin_dir, optarg,
                            "plugin-dir");
            break;
        case OPT_PLUGINS:
            if (pt_config_set_plugins(cfg, optarg, err, sizeof err) != 0) {
                fprintf(stderr, "povtrackd: --%s\n", err);
                rc = POVTRACK_EINVALID;
            }
            break;
        case OPT_BATCH_MAX: {
            unsigned long v = strtoul(optarg, &end, 10);
            if (*end != '\0' || v < 1 || v > 100000) {
                fprintf(stderr, "povtrackd: --batch-max: must be an integer "
                                "from 1 to 100000\n");
                rc = POVTRACK_EINVALID;
            }
            cfg->batch_max = v;
            break;
        }
        case OPT_LOG_LEVEL:
            cfg->log_level = pt_log_level_parse(optarg);
            if (cfg->log_level < 0) {
                fprintf(stderr, "povtrackd: --log-level: must be debug, "
                                "info, warn or error\n");
                rc = POVTRACK_EINVALID;
            }
            break;
        case OPT_PLUGIN_HOST:
            mode->plugin_host = 1;
            break;
        case OPT_NOTIFY_FD:
            mode->notify_fd = (int)strtol(optarg, &end, 10);
            if (*end != '\0' || mode->notify_fd < 0)
                rc = POVTRACK_EINVALID;
            break;
        case OPT_HANDOFF_FD:
            mode->handoff_fd = (int)strtol(optarg, &end, 10);
            if (*end != '\0' || mode->handoff_fd < 0)
                rc = POVTRACK_EINVALID;
            break;
        default:
            break;
        }
        if (rc != 0)
            return 2;
    }
    if (pt_config_resolve(cfg, err, sizeof err) != 0 ||
        pt_config_check_endpoints(cfg, err, sizeof err) != 0 ||
        pt_config_check_plugins(cfg, err, sizeof err) != 0 ||
        pt_config_check_security(cfg, err, sizeof err) != 0) {
        fprintf(stderr, "povtrackd: %s\n", err);
        return 1;
    }
    return 0;
}

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGCHLD, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/* One plugin host per data directory at a time.  After ingest is killed,
 * the old host exits on its own (PR_SET_PDEATHSIG); closing its sockets
 * unlinks ipc socket files, so a new host must not bind before the old one
 * is gone, or it would lose its endpoints.  The lock is released when the
 * old process ends.  Returns the locked file, or a negative error code. */
static int lock_host(const struct pt_config *cfg, const struct pt_log *log)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/" PT_DATA_HOST_LOCK_FILE,
                 cfg->data_dir) >= (int)sizeof path) {
        pt_logf(log, PT_LOG_ERROR, "%s: path too long", cfg->data_dir);
        return POVTRACK_ENAMETOOLONG;
    }
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
        int rc = -errno;
        pt_logf(log, PT_LOG_ERROR, "%s: %s", path, povtrack_strerror(rc));
        return rc;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        pt_logf(log, PT_LOG_INFO,
                "waiting for the previous plugin host "
                "to exit");
        while (flock(fd, LOCK_EX) != 0) {
            if (errno != EINTR || stop_requested) {
                int rc = -errno;
                close(fd);
                return rc;
            }
        }
    }
    return fd;
}

/* The command line, kept to build the configuration again on SIGHUP. */
struct cmdline {
    int argc;
    char **argv;
};

static int load_config(int argc, char **argv, struct pt_config *cfg,
                       struct run_mode *mode);

static int reconfigure(void *arg, struct pt_config *fresh)
{
    const struct cmdline *cl = arg;
    struct run_mode mode = {0, -1, -1};
    return load_config(cl->argc, cl->argv, fresh, &mode);
}

static int run_plugin_host(const struct pt_config *cfg,
                           const struct run_mode *mode, struct cmdline *cl)
{
    struct pt_log log = {cfg->log_level, "host", cfg->syslog, NULL};
    char err[512];
    int lock_fd = lock_host(cfg, &log);
    if (lock_fd < 0)
        return 1;
    struct pt_host *h;
    int orc = pt_host_open_guarded(cfg, &h, err, sizeof err);
    if (orc != 0) {
        pt_logf(&log, PT_LOG_ERROR, "%s", err);
        /* The supervisor stops a povtrackd whose first host says so. */
        return orc == POVTRACK_ECONFIG ? PT_SUPERVISOR_EXIT_CONFIG : 1;
    }
    /* Until now ingest's stand-in has answered on the query endpoint:
     * take it over only once it is let go (pt_supervisor.h). */
    int handoff = 0;
    if (mode->handoff_fd >= 0) {
        handoff = pt_supervisor_await_endpoint(
            mode->handoff_fd, &stop_requested, err, sizeof err);
        if (handoff != 0 && handoff != POVTRACK_EINTR)
            pt_logf(&log, PT_LOG_ERROR, "%s", err);
        close(mode->handoff_fd);
    }
    if (handoff != 0) {
        pt_host_close(h);
        close(lock_fd);
        /* Told to stop while waiting: a clean exit. */
        return handoff == POVTRACK_EINTR ? 0 : 1;
    }
    struct pt_host_signals sig = {&stop_requested, &hup_received, reconfigure,
                                  cl};
    int rc = pt_host_run(h, mode->notify_fd, &sig);
    pt_host_close(h);
    close(lock_fd);
    return rc == 0 ? 0 : 1;
}

/* One daemon per data directory: a second one would bind over the first's
 * ipc sockets and interleave writers on the log.  The lock dies with the
 * process, so a crash never leaves the directory locked.  Returns the
 * locked file, or a negative error code (POVTRACK_EBUSY: another povtrackd
 * holds it). */
static int lock_data_dir(const struct pt_config *cfg, const struct pt_log *log)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/" PT_DATA_LOCK_FILE, cfg->data_dir) >=
        (int)sizeof path) {
        pt_logf(log, PT_LOG_ERROR, "%s: path too long", cfg->data_dir);
        return POVTRACK_ENAMETOOLONG;
    }
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
        int rc = -errno;
        pt_logf(log, PT_LOG_ERROR, "%s: %s", path, povtrack_strerror(rc));
        return rc;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        char pid[32] = "";
        ssize_t n = pread(fd, pid, sizeof pid - 1, 0);
        pid[n > 0 ? n : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        pt_logf(log, PT_LOG_ERROR,
                "another povtrackd (pid %s) is running on data directory %s",
                pid[0] ? pid : "?", cfg->data_dir);
        close(fd);
        return POVTRACK_EBUSY;
    }
    char pid[32];
    int len = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)len, 0) != len)
        pt_logf(log, PT_LOG_WARN, "%s: cannot record the pid: %s", path,
                strerror(errno));
    return fd; /* held open, and locked, until the process ends */
}

/* Tell the service manager what povtrackd is doing (systemd's Type=notify:
 * READY=1, STOPPING=1, RELOADING=1); nothing when NOTIFY_SOCKET is unset,
 * as when started by hand.  Only the ingest process, which systemd
 * started, notifies (NotifyAccess=main). */
static void notify_manager(const struct pt_log *log, const char *state)
{
    int rc = sd_notify(0, state);
    if (rc < 0)
        pt_logf(log, PT_LOG_WARN,
                "cannot tell the service manager \"%.*s\": %s",
                (int)strcspn(state, "\n"), state, strerror(-rc));
}

/* SIGHUP in the ingest process: build the configuration again and apply
 * what can change live; the plugin host does the same on the signal passed
 * on to it. */
static void reload(struct pt_config *cfg, struct pt_log *log,
                   struct pt_ingest *ig, struct cmdline *cl)
{
    struct pt_config *fresh = malloc(sizeof *fresh);
    if (fresh == NULL || reconfigure(cl, fresh) != 0) {
        pt_logf(log, PT_LOG_ERROR,
                "SIGHUP: the configuration has errors (see above); the "
                "running one stays in force");
        free(fresh);
        return;
    }
    char restart[256];
    pt_config_apply_reload(cfg, fresh, restart, sizeof restart);
    free(fresh);
    log->level = cfg->log_level;
    if (cfg->syslog && !log->syslog)
        pt_log_open_syslog(cfg->syslog_facility);
    log->syslog = cfg->syslog;
    /* Say exactly what was reloaded: plain mode has no registry, and a
     * registry with an error leaves the previous one in force. */
    if (pt_ingest_reload(ig) != 0)
        pt_logf(log, PT_LOG_WARN,
                "SIGHUP: configuration reloaded (log level, syslog, "
                "limits); the publisher registry was not: it has errors "
                "(see above) and the previous one stays in force");
    else
        pt_logf(log, PT_LOG_INFO,
                "SIGHUP: configuration reloaded (log level, syslog, "
                "limits%s)",
                cfg->curve_key_file[0] != '\0' ? ", publisher registry" : "");
    if (restart[0] != '\0')
        pt_logf(log, PT_LOG_WARN,
                "SIGHUP: changed settings that need a restart of povtrackd "
                "to apply: %s",
                restart);
}

static int run_ingest(struct pt_config *cfg, struct cmdline *cl)
{
    struct pt_log log = {cfg->log_level, "ingest", cfg->syslog, NULL};
    char err[512];

    /* Synced into its parent when created: the log inside must not vanish
     * with its directory in a power cut. */
    if (st_dir_make(cfg->data_dir, 0750, NULL, err, sizeof err) != 0) {
        pt_logf(&log, PT_LOG_ERROR, "%s", err);
        return 1;
    }
    int lock_fd = lock_data_dir(cfg, &log);
    if (lock_fd < 0)
        return 1;
    struct pt_ingest *ig;
    if (pt_ingest_open(cfg, &log, &ig, err, sizeof err) != 0) {
        pt_logf(&log, PT_LOG_ERROR, "%s", err);
        return 1;
    }
    /* The mirror's progress page first: the plugin host reads it. */
    struct pt_mirror_sup msup;
    /* [national]: the same process, in its national role. */
    int mirror = cfg->mirror.enabled || cfg->national.enabled, mirror_fd = -1;
    if (mirror && (pt_mirror_sup_init(&msup, cfg, &log) != 0 ||
                   pt_ingest_set_mirror(ig, -1, msup.page) != 0)) {
        pt_logf(&log, PT_LOG_ERROR, "cannot set up the mirror");
        if (msup.page != NULL)
            pt_mirror_sup_stop(&msup, 0);
        pt_ingest_close(ig);
        return 1;
    }
    /* Plugins are loaded by the plugin host only: one that cannot load, or
     * crashes, is quarantined there and never touches this process. */
    struct pt_supervisor sup;
    if (pt_supervisor_init(&sup, cfg, &log, cl->argc, cl->argv) != 0 ||
        pt_supervisor_start(&sup) != 0) {
        pt_logf(&log, PT_LOG_ERROR, "cannot start the plugin host");
        if (mirror)
            pt_mirror_sup_stop(&msup, 0);
        pt_ingest_close(ig);
        return 1;
    }
    pt_ingest_set_notify(ig, sup.notify_fd);
    if (cfg->curve_key_file[0] == '\0')
        pt_logf(&log, PT_LOG_WARN,
                "INSECURE: CURVE is off; anyone on this machine may publish "
                "and query, unauthenticated and unencrypted. For "
                "development and demos only: configure [security] "
                "curve_key and registry for real data");
    if (cfg->curve_key_file[0] == '\0' && cfg->limits.requests_per_second == 0)
        pt_logf(&log, PT_LOG_INFO,
                "plain mode: no limit on requests per second ([limits] "
                "requests_per_second sets one)");
    /* Ingest's side only: the plugin host says "plugin host ready" once
     * it serves (and may yet refuse the configuration). */
    pt_logf(&log, PT_LOG_INFO,
            "povtrackd %s ingest ready: data %s, ingest %s%s", POVTRACK_VERSION,
            cfg->data_dir, cfg->ingest,
            cfg->curve_key_file[0] ? " (CURVE)" : " (plain)");

    int rc = 0;
    int ready = 0; /* READY=1 was sent */
    while (!stop_requested) {
        if (mirror) {
            /* Started, and started again with a back-off, from here. */
            int dead, fd = pt_mirror_sup_poll(&msup, &dead);
            if (dead)
                pt_ingest_reader_check(ig);
            if (dead || fd != mirror_fd)
                pt_ingest_set_mirror(ig, fd, msup.page);
            mirror_fd = fd;
        }
        /* While no host serves queries, the supervisor's stand-in answers
         * them: come back to it every few ms. */
        if (pt_ingest_step(ig, pt_supervisor_wait_ms(&sup, 250)) != 0) {
            rc = 1;
            break;
        }
        if (hup_received) {
            hup_received = 0;
            /* RELOADING=1 carries the time of the reload, which systemd
             * 253's Type=notify-reload asks for (252 ignores it); before
             * READY=1 there is nothing to say. */
            if (ready) {
                struct timespec now;
                clock_gettime(CLOCK_MONOTONIC, &now);
                char reloading[64];
                snprintf(reloading, sizeof reloading,
                         "RELOADING=1\nMONOTONIC_USEC=%llu",
                         (unsigned long long)now.tv_sec * 1000000ULL +
                             (unsigned long long)now.tv_nsec / 1000ULL);
                notify_manager(&log, reloading);
            }
            reload(cfg, &log, ig, cl);
            pt_supervisor_signal(&sup, SIGHUP);
            if (ready)
                notify_manager(&log, "READY=1\nSTATUS=configuration "
                                     "reloaded");
        }
        if (child_exited || !sup.serving) {
            child_exited = 0;
            int dead;
            int fd = pt_supervisor_poll(&sup, &dead);
            if (dead)
                pt_ingest_reader_check(ig);
            pt_ingest_set_notify(ig, fd);
            /* Ready for the service manager once both answer: ingest has
             * its endpoint since pt_ingest_open(), and the host has just
             * been handed the query endpoint (it binds it right away; a
             * request sent meanwhile waits in ZeroMQ's queue for it). */
            if (sup.serving && !ready) {
                ready = 1;
                notify_manager(&log, "READY=1\nSTATUS=ingesting and "
                                     "answering queries");
            }
            if (sup.config_refused) {
                pt_logf(&log, PT_LOG_ERROR,
                        "stopping: the plugin host refuses the "
                        "configuration (see above)");
                rc = 1;
                break;
            }
        }
    }
    notify_manager(&log, "STOPPING=1");
    pt_logf(&log, PT_LOG_INFO, "stopping");
    if (mirror) {
        /* Strict mode: what was committed may still get its ack. */
        pt_ingest_strict_drain(ig, 5000);
        if (pt_mirror_sup_stop(&msup, 10000) != 0)
            rc = 1;
    }
    if (pt_supervisor_stop(&sup, 10000) != 0)
        rc = 1;
    pt_ingest_close(ig);
    pt_logf(&log, PT_LOG_INFO, "stopped");
    close(lock_fd);
    return rc;
}

/* Defaults, then the file, then the command line: at start and on every
 * SIGHUP.  Returns 0, 1 (bad configuration) or 2 (usage). */
static int load_config(int argc, char **argv, struct pt_config *cfg,
                       struct run_mode *mode)
{
    if (pt_config_defaults(cfg) != 0) {
        fprintf(stderr, "povtrackd: cannot set the defaults\n");
        return 1;
    }
    int rc = parse_args(argc, argv, cfg, mode);
    if (rc == 2)
        fprintf(stderr, "Try 'povtrackd --help'.\n");
    return rc;
}

int main(int argc, char **argv)
{
    struct pt_config *cfg = malloc(sizeof *cfg);
    if (cfg == NULL) {
        fprintf(stderr, "povtrackd: out of memory\n");
        free(cfg);
        return 1;
    }
    struct run_mode mode = {0, -1, -1};
    int rc = load_config(argc, argv, cfg, &mode);
    if (rc != 0) {
        free(cfg);
        return rc;
    }
    install_signals();
    if (cfg->syslog)
        pt_log_open_syslog(cfg->syslog_facility);
    struct cmdline cl = {argc, argv};
    if (mode.plugin_host)
        rc = run_plugin_host(cfg, &mode, &cl);
    else
        rc = run_ingest(cfg, &cl);
    free(cfg);
    return rc;
}
