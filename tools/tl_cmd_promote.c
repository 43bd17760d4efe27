/*
 * tl_cmd_promote.c - `povtrack promote`: make a province's standby its
 * primary (README, Many provinces, Standby).  The request and the marker
 * are files of the data directory (pt_mirror.h); the standby's
 * povtrack-mirror does the promotion once it has read the stream to its
 * end, and this waits for its marker.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pt_config.h"
#include "pt_mirror.h"
#include "pt_state.h"
#include "tl_cli.h"

static const char promote_usage[] =
    "Usage: povtrack promote [-d DATA_DIR] [--wait SECONDS]\n"
    "\n"
    "Make the standby povtrackd running on DATA_DIR "
    "(default\n" PT_DEFAULT_DATA_DIR
    ", [mirror] standby = yes) the primary of its province.\n"
    "It asks by writing DATA_DIR/" PT_DATA_PROMOTE_FILE
    "; the standby then reads its\n"
    "province's stream to its end, writes DATA_DIR/" PT_DATA_PROMOTED_FILE
    " (synced), and\n"
    "from then on takes publishers, continuing the sequence, and copies its\n"
    "log into the stream.  Promote a standby only once the old primary is\n"
    "stopped for good: if it comes back, it finds the stream moved on,\n"
    "refuses publishers and raises mirror.diverged.\n"
    "\n"
    "  -d, --data-dir DIR  the standby's data directory\n"
    "      --wait SECONDS  how long to wait for the promotion (default 60)\n"
    "\n"
    "Run it as the user povtrackd runs as, on the standby's machine.\n"
    "\n"
    "Exit status: 0 promoted (or already); 1 not promoted within SECONDS\n"
    "(the request stays: the standby promotes once it reaches the stream)\n"
    "or the request cannot be written; 2 usage error.\n";

/* The marker's text, "" when there is none yet. */
static void read_marker(const char *data_dir, char *buf, size_t cap)
{
    char path[PATH_MAX];
    buf[0] = '\0';
    if (snprintf(path, sizeof path, "%s/" PT_DATA_PROMOTED_FILE, data_dir) >=
        (int)sizeof path)
        return;
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return;
    if (fgets(buf, (int)cap, f) == NULL)
        snprintf(buf, cap, "promoted\n");
    fclose(f);
}

int tl_cmd_promote(struct tl_cli *cli, int argc, char **argv)
{
    enum { OPT_WAIT = 1000 };
    static const struct option longopts[] = {
        {"data-dir", required_argument, NULL, 'd'},
        {"wait", required_argument, NULL, OPT_WAIT},
        TL_COMMON_OPTIONS,
        {0}};
    const char *data_dir = PT_DEFAULT_DATA_DIR;
    long wait_s = 60;
    char marker[256], err[PATH_MAX + 256], *end;
    int c, rc;

    while ((c = getopt_long(argc, argv, "d:", longopts, NULL)) != -1) {
        if (c == TL_OPT_HELP) {
            fputs(promote_usage, stdout);
            return TL_EXIT_OK;
        }
        if (c == 'd') {
            data_dir = optarg;
        } else if (c == OPT_WAIT) {
            errno = 0;
            wait_s = strtol(optarg, &end, 10);
            if (errno != 0 || *end != '\0' || wait_s < 0 || wait_s > 86400)
                return tl_cli_usage("promote",
                                    "--wait: must be 0 to 86400 seconds, "
                                    "got \"%s\"",
                                    optarg);
        } else if (c == '?') {
            return tl_cli_badopt("promote");
        } else if ((rc = tl_cli_common(cli, c, optarg)) != 0) {
            return rc;
        }
    }
    if (optind < argc)
        return tl_cli_usage("promote", "unexpected argument \"%s\"",
                            argv[optind]);
    read_marker(data_dir, marker, sizeof marker);
    if (marker[0] != '\0') {
        printf("%s: already %s", data_dir, marker);
        return TL_EXIT_OK;
    }
    if (pt_mirror_promote_request(data_dir, err, sizeof err) != 0) {
        fprintf(stderr, "povtrack promote: %s\n", err);
        return TL_EXIT_FAIL;
    }
    /* The standby looks for the request on each turn of its loop. */
    struct timespec tick = {0, 100 * 1000000L};
    for (long i = 0; i <= wait_s * 10; i++) {
        read_marker(data_dir, marker, sizeof marker);
        if (marker[0] != '\0') {
            printf("%s: %s", data_dir, marker);
            return TL_EXIT_OK;
        }
        nanosleep(&tick, NULL);
    }
    fprintf(stderr,
            "povtrack promote: %s is not promoted after %ld s; the request "
            "stays (%s/" PT_DATA_PROMOTE_FILE
            "): is povtrackd running there with [mirror] standby = yes, and "
            "does it reach the stream? (its log says)\n",
            data_dir, wait_s, data_dir);
    return TL_EXIT_FAIL;
}
