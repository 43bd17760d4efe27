/*
 * tl_cmd_restore.c - `povtrack restore`: options and messages; the work is
 * in tl_backup.c.
 */
#include "pt_state.h"
#include "tl_backup.h"
#include "tl_cli.h"

static const char restore_usage[] =
    "Usage: povtrack restore [--force] BACKUP_DIR DATA_DIR\n"
    "\n"
    "Put a backup made by 'povtrack backup' in place as DATA_DIR, for a\n"
    "povtrackd started on it afterwards.\n"
    "\n"
    "povtrackd must not be running on DATA_DIR: restore takes the daemon's\n"
    "lock files, DATA_DIR/" PT_DATA_LOCK_FILE " and " PT_DATA_HOST_LOCK_FILE
    " (its plugin host's),\n"
    "and refuses while one is held, naming the daemon's pid.  Holding them\n"
    "also keeps a daemon from starting until the restore is done.  DATA_DIR\n"
    "is created when missing and must otherwise be empty (but for those lock\n"
    "files), unless --force is given.\n"
    "\n"
    "The backup is checked first: its manifest, both environments open, the\n"
    "log ends at the manifest's last sequence, no plugin cursor is ahead of\n"
    "it.  The copies are made in DATA_DIR/.restore-XXXXXX, synced, then\n"
    "renamed to DATA_DIR/log and DATA_DIR/state.  A backup without plugin\n"
    "state restores the log alone; the daemon rebuilds the state from it.\n"
    "\n"
    "  --force  restore into a DATA_DIR that is not empty.  Its log and state\n"
    "           are not deleted: they are renamed to log.replaced-TIME and\n"
    "           state.replaced-TIME (delete them once the restored daemon\n"
    "           runs as it should); anything else in DATA_DIR is left alone.\n"
    "\n"
    "Run it as the user povtrackd runs as, so that the daemon owns what is\n"
    "restored.  Progress and a summary go to standard error.\n"
    "\n"
    "Exit status: 0 restored; 1 refused (a daemon runs on DATA_DIR, DATA_DIR\n"
    "not empty) or failed; 2 usage error; 3 BACKUP_DIR is not a readable,\n"
    "consistent backup.\n";

int tl_cmd_restore(struct tl_cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"force", no_argument, NULL, 'f'}, TL_COMMON_OPTIONS, {0}};
    struct tl_backup_summary sum;
    struct tl_error err = {{0}};
    bool force = false;
    int c, rc;

    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (c == TL_OPT_HELP) {
            fputs(restore_usage, stdout);
            return TL_EXIT_OK;
        }
        if (c == 'f')
            force = true;
        else if (c == '?')
            return tl_cli_badopt("restore");
        else if ((rc = tl_cli_common(cli, c, optarg)) != 0)
            return rc;
    }
    if (argc - optind != 2)
        return tl_cli_usage("restore", "give BACKUP_DIR and DATA_DIR");
    rc = tl_restore(argv[optind], argv[optind + 1], force, stderr, &sum, &err);
    if (rc != 0) {
        fprintf(stderr, "povtrack restore: %s\n", err.msg);
        return rc == POVTRACK_ESOURCE ? TL_EXIT_UNREACHABLE : TL_EXIT_FAIL;
    }
    tl_backup_print_summary(stderr, "restore", argv[optind + 1], &sum);
    return TL_EXIT_OK;
}
