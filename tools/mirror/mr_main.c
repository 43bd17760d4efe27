/*
 * mr_main.c - povtrack-mirror: copies a province's committed log into its
 * JetStream stream (README, Many provinces).  povtrackd starts it, with
 * [mirror] configured, and restarts it when it dies (core/pt_mirror_sup.h);
 * it is not meant to be run by hand.
 *
 * Its threads (nats.c's) never see a signal: they are blocked before the
 * first thread starts, and the main loop reads them from a signalfd.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <nats/nats.h> /* nats_GetVersion */

#include <povtrack/errors.h>

#include "mr_copy.h"
#include "mr_national.h"
#include "pt_config.h"
#include "pt_log.h"

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: povtrack-mirror --data-dir DIR --config FILE "
            "--ingest-fd FD [--log-level L]\n"
            "Copy the committed log of DIR into the JetStream stream of the "
            "[mirror]\n"
            "section of FILE.  povtrackd starts it; it is not run by hand.\n"
            "\n"
            "  -d, --data-dir DIR    povtrackd's data directory\n"
            "  -c, --config FILE     povtrackd's configuration file\n"
            "      --ingest-fd FD    its end of the socket pair with "
            "povtrackd\n"
            "      --log-level L     debug, info, warn or error (default "
            "info)\n"
            "  -h, --help            show this help and exit\n"
            "  -V, --version         show the version and exit\n");
}

enum { OPT_INGEST_FD = 256, OPT_LOG_LEVEL };

static const struct option options[] = {
    {"data-dir", required_argument, NULL, 'd'},
    {"config", required_argument, NULL, 'c'},
    {"ingest-fd", required_argument, NULL, OPT_INGEST_FD},
    {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

/* The configuration file, then the command line over it, as povtrackd
 * resolved them.  Returns 0, or the exit status. */
static int configure(int argc, char **argv, struct pt_config *cfg,
                     int *ingest_fd)
{
    const char *config = NULL, *data_dir = NULL;
    int level = -1, c;
    char *end;
    while ((c = getopt_long(argc, argv, "d:c:hV", options, NULL)) != -1) {
        switch (c) {
        case 'd':
            data_dir = optarg;
            break;
        case 'c':
            config = optarg;
            break;
        case OPT_INGEST_FD:
            *ingest_fd = (int)strtol(optarg, &end, 10);
            if (*end != '\0' || *ingest_fd < 0)
                *ingest_fd = -1;
            break;
        case OPT_LOG_LEVEL:
            level = pt_log_level_parse(optarg);
            break;
        case 'h':
            usage(stdout);
            exit(0);
        case 'V':
            printf("povtrack-mirror %s (nats.c %s)\n", POVTRACK_VERSION,
                   nats_GetVersion());
            exit(0);
        default:
            usage(stderr);
            return 2;
        }
    }
    if (data_dir == NULL || config == NULL || *ingest_fd < 0 || level < 0 ||
        optind < argc) {
        usage(stderr);
        return 2;
    }
    char err[512];
    if (pt_config_defaults(cfg) != 0 ||
        pt_config_load(cfg, config, err, sizeof err) != 0) {
        fprintf(stderr, "povtrack-mirror: %s\n", err);
        return 1;
    }
    if (strlen(data_dir) >= sizeof cfg->data_dir) {
        fprintf(stderr, "povtrack-mirror: --data-dir: too long\n");
        return 2;
    }
    strcpy(cfg->data_dir, data_dir);
    cfg->log_level = level;
    if (!cfg->mirror.enabled && !cfg->national.enabled) {
        fprintf(stderr,
                "povtrack-mirror: %s has no [mirror] or [national] section\n",
                config);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct pt_config *cfg = malloc(sizeof *cfg);
    int ingest_fd = -1;
    if (cfg == NULL) {
        fprintf(stderr, "povtrack-mirror: out of memory\n");
        return 1;
    }
    int rc = configure(argc, argv, cfg, &ingest_fd);
    if (rc != 0) {
        free(cfg);
        return rc;
    }
    struct pt_log log = {
        .level = cfg->log_level, .proc = "mirror", .syslog = cfg->syslog};
    if (cfg->syslog)
        pt_log_open_syslog(cfg->syslog_facility);
    /* Before nats.c starts a thread: every thread inherits the mask. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    signal(SIGPIPE, SIG_IGN);
    int sfd = -1;
    if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0 ||
        (sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0) {
        pt_logf(&log, PT_LOG_ERROR, "signals: %s", strerror(errno));
        free(cfg);
        return 1;
    }
    rc = cfg->national.enabled ? mr_national_run(cfg, &log, ingest_fd, sfd)
                               : mr_copy_run(cfg, &log, ingest_fd, sfd);
    close(sfd);
    free(cfg);
    return rc;
}
