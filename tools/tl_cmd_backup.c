/*
 * tl_cmd_backup.c - `povtrack backup`: options and messages; the work is in
 * tl_backup.c.
 */
#include <limits.h>

#include "pt_config.h"
#include "tl_backup.h"
#include "tl_cli.h"

static const char backup_usage[] =
    "Usage: povtrack backup [-d DATA_DIR] DEST_DIR\n"
    "       povtrack backup [-d DATA_DIR] --keep N BACKUP_DIR\n"
    "\n"
    "Copy the event log and the plugin state of DATA_DIR "
    "(default " PT_DEFAULT_DATA_DIR ")\n"
    "into DEST_DIR while povtrackd keeps running and ingesting.  Each LMDB\n"
    "environment is copied compacted from one read snapshot, without taking\n"
    "the daemon's locks; the state is copied before the log, so the plugins'\n"
    "progress in the copy never runs ahead of the copied log.\n"
    "\n"
    "DEST_DIR must not exist or be an empty directory.  The copy is written\n"
    "into DEST_DIR.tmp-XXXXXX beside it, checked (both copies open, no plugin\n"
    "cursor is ahead of the log), synced to disk and only then renamed to\n"
    "DEST_DIR: a DEST_DIR that exists is a complete backup.  It holds\n"
    "log/data.mdb, state/data.mdb and a text manifest (format, povtrack\n"
    "version, time, data directory, last sequence, sizes).  Put it back\n"
    "with 'povtrack restore'.\n"
    "\n"
    "With --keep N, BACKUP_DIR holds rotated backups (it is created, mode\n"
    "0700, when missing): the copy is BACKUP_DIR/povtrack-YYYYMMDDTHHMMSSZ\n"
    "(UTC; -2, -3... after it for a second one within the same second),\n"
    "BACKUP_DIR/latest becomes a symbolic link to it, and then the oldest\n"
    "backups of BACKUP_DIR so named are removed until N remain, the new one\n"
    "included.  Nothing else in BACKUP_DIR is touched, and nothing is\n"
    "removed unless the new backup is complete.  The new backup's path is\n"
    "printed on standard output.\n"
    "\n"
    "Run it as the user povtrackd runs as (a reader needs write access to the\n"
    "environments' lock files).  Progress and a summary (sizes, last\n"
    "sequence, time taken) go to standard error.\n"
    "\n"
    "  -d, --data-dir DIR  the daemon's data directory\n"
    "  -k, --keep N        rotate: keep the N newest backups of BACKUP_DIR\n"
    "\n"
    "Exit status: 0 done; 1 failed (DEST_DIR not acceptable, copy failed, an\n"
    "old backup could not be removed); 2 usage error; 3 DATA_DIR's log or\n"
    "state cannot be opened.\n";

int tl_cmd_backup(struct tl_cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"data-dir", required_argument, NULL, 'd'},
        {"keep", required_argument, NULL, 'k'},
        TL_COMMON_OPTIONS,
        {0}};
    const char *data_dir = PT_DEFAULT_DATA_DIR;
    struct tl_backup_summary sum;
    struct tl_error err = {{0}};
    char made[PATH_MAX];
    long long keep = 0;
    int c, rc;

    while ((c = getopt_long(argc, argv, "d:k:", longopts, NULL)) != -1) {
        if (c == TL_OPT_HELP) {
            fputs(backup_usage, stdout);
            return TL_EXIT_OK;
        }
        if (c == 'd') {
            data_dir = optarg;
        } else if (c == 'k') {
            if ((rc = tl_cli_uint("backup", "--keep", optarg, 10000, &keep)) !=
                0)
                return rc;
            if (keep < 1)
                return tl_cli_usage("backup", "--keep: must be at least 1");
        } else if (c == '?') {
            return tl_cli_badopt("backup");
        } else if ((rc = tl_cli_common(cli, c, optarg)) != 0) {
            return rc;
        }
    }
    if (optind >= argc)
        return tl_cli_usage("backup", "where to? (DEST_DIR)");
    if (optind + 1 < argc)
        return tl_cli_usage("backup", "unexpected argument \"%s\"",
                            argv[optind + 1]);
    if (keep > 0)
        rc = tl_backup_keep(data_dir, argv[optind], (unsigned)keep, stderr,
                            &sum, made, sizeof made, &err);
    else
        rc = tl_backup(data_dir, argv[optind], stderr, &sum, &err);
    if (rc != 0) {
        fprintf(stderr, "povtrack backup: %s\n", err.msg);
        /* 3, as for a daemon that cannot be reached: the data cannot. */
        return rc == POVTRACK_ESOURCE ? TL_EXIT_UNREACHABLE : TL_EXIT_FAIL;
    }
    tl_backup_print_summary(stderr, "backup", keep > 0 ? made : argv[optind],
                            &sum);
    if (keep > 0)
        printf("%s\n", made);
    return TL_EXIT_OK;
}
