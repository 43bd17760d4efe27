/*
 * povtrack.c - the povtrack command: publish events to povtrackd and read
 * what it computes.  Each command lives in its own tl_cmd_*.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tl_cli.h"

#ifndef POVTRACK_VERSION
#define POVTRACK_VERSION "0.0.0"
#endif

static const struct {
    const char *name;
    int (*run)(struct tl_cli *, int, char **);
    const char *summary;
} commands[] = {
    {"send", tl_cmd_send, "publish events given as JSON lines"},
    {"import-csv", tl_cmd_import_csv,
     "publish donations kept in a spreadsheet (CSV), checked first"},
    {"units", tl_cmd_units,
     "load an official list of administrative units (units import)"},
    {"correct", tl_cmd_correct,
     "correct a record already stored (amount, unit, date ...)"},
    {"void", tl_cmd_void, "void a record already stored (it stops counting)"},
    {"audit", tl_cmd_audit, "a record with its corrections and voids"},
    {"unitmap", tl_cmd_unitmap,
     "turn the official unit mapping table (CSV) into unit events"},
    {"query", tl_cmd_query, "ask a plugin for an indicator"},
    {"summary", tl_cmd_summary,
     "province summary: poor-household rates, target, fund, alerts"},
    {"report", tl_cmd_report,
     "yearly report for the standing committee (md, csv, html)"},
    {"donors", tl_cmd_donors,
     "the donors to acknowledge publicly, per unit and period (csv)"},
    {"stats", tl_cmd_stats, "log size and plugin progress"},
    {"log", tl_cmd_log, "print records of the event log"},
    {"alerts", tl_cmd_alerts, "list alerts, and follow new ones"},
    {"ping", tl_cmd_ping, "check that povtrackd answers"},
    {"keygen", tl_cmd_keygen, "write a CURVE key pair for a publisher"},
    {"backup", tl_cmd_backup, "online copy of the log and plugin state"},
    {"restore", tl_cmd_restore, "put a backup in place as a data directory"},
    {"verify", tl_cmd_verify, "check the log and plugin cursors (for cron)"},
    {"promote", tl_cmd_promote, "make a province's standby its primary"},
    {"plugin", tl_cmd_plugin, "list plugins; resume a quarantined one"},
    {"rebuild", tl_cmd_rebuild,
     "drop a plugin's state and apply the log again"},
};

static void usage(FILE *f)
{
    fprintf(f, "Usage: povtrack [OPTIONS] COMMAND [ARGS...]\n"
               "\n"
               "Publish poverty-reduction events to povtrackd and read the\n"
               "indicators it computes.\n"
               "\n"
               "Commands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].summary);
    fprintf(f,
            "\n"
            "Options (also accepted after the command):\n"
            "  --ingest EP    ingest endpoint [$POVTRACK_INGEST or %s]\n"
            "  --query EP     query endpoint [$POVTRACK_QUERY or %s]\n"
            "  --alerts EP    alerts endpoint [$POVTRACK_ALERTS or %s]\n"
            "  --timeout MS   wait at most MS ms for each reply [%d]\n"
            "  --retries N    send a request N more times after a timeout, "
            "with the\n"
            "                 same event ids (duplicates are harmless) [%d]\n"
            "  --server-key K the daemon's CURVE public key, or its .pub "
            "file\n"
            "                 [$POVTRACK_SERVER_KEY]; turns CURVE on\n"
            "  --key FILE     this publisher's key pair, from 'povtrack "
            "keygen'\n"
            "                 [$POVTRACK_KEY]\n"
            "  --json         machine-readable output (JSON lines)\n"
            "  --help         this help; 'povtrack COMMAND --help' for a "
            "command\n"
            "  --version      print the version\n"
            "\n"
            "Exit status: 0 ok; 1 events rejected, query refused or other "
            "failure;\n"
            "2 usage error; 3 povtrackd unreachable (no reply in time).\n",
            POVTRACK_CLIENT_INGEST_DEFAULT, POVTRACK_CLIENT_QUERY_DEFAULT,
            POVTRACK_CLIENT_ALERTS_DEFAULT, POVTRACK_CLIENT_TIMEOUT_DEFAULT,
            POVTRACK_CLIENT_RETRIES_DEFAULT);
}

static int from_env(struct tl_cli *cli)
{
    static const struct {
        const char *var;
        int opt;
    } env[] = {{"POVTRACK_INGEST", TL_OPT_INGEST},
               {"POVTRACK_QUERY", TL_OPT_QUERY},
               {"POVTRACK_ALERTS", TL_OPT_ALERTS},
               {"POVTRACK_SERVER_KEY", TL_OPT_SERVER_KEY},
               {"POVTRACK_KEY", TL_OPT_KEY}};

    for (size_t i = 0; i < sizeof(env) / sizeof(env[0]); i++) {
        const char *v = getenv(env[i].var);
        if (v != NULL && v[0] != '\0') {
            int rc = tl_cli_common(cli, env[i].opt, v);
            if (rc != 0)
                return rc;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        TL_COMMON_OPTIONS, {"version", no_argument, NULL, 'V'}, {0}};
    struct tl_cli cli = {.client = NULL, .json = false, .out = stdout};
    int c, rc;

    rc = povtrack_client_open(&cli.client);
    if (rc != 0) {
        fprintf(stderr, "povtrack: cannot create a client: %s\n",
                povtrack_strerror(rc));
        return TL_EXIT_FAIL;
    }
    rc = from_env(&cli);
    /* '+': stop at the command, whose options are its own. */
    while (rc == 0 &&
           (c = getopt_long(argc, argv, "+", longopts, NULL)) != -1) {
        if (c == 'V') {
            printf("povtrack %s (wire protocol v%d)\n", POVTRACK_VERSION,
                   POVTRACK_CLIENT_PROTOCOL);
            povtrack_client_close(cli.client);
            return TL_EXIT_OK;
        }
        if (c == TL_OPT_HELP) {
            usage(stdout);
            povtrack_client_close(cli.client);
            return TL_EXIT_OK;
        }
        rc = c == '?' ? tl_cli_badopt(NULL) : tl_cli_common(&cli, c, optarg);
    }
    if (rc == 0 && optind >= argc) {
        usage(stderr);
        rc = TL_EXIT_USAGE;
    }
    if (rc == 0) {
        size_t i, n = sizeof(commands) / sizeof(commands[0]);
        for (i = 0; i < n; i++)
            if (strcmp(argv[optind], commands[i].name) == 0)
                break;
        if (i == n) {
            rc = tl_cli_usage(NULL, "unknown command \"%s\"", argv[optind]);
        } else {
            char **cargv = argv + optind;
            int cargc = argc - optind;
            optind = 0; /* glibc: restart getopt for the command's argv */
            rc = commands[i].run(&cli, cargc, cargv);
        }
    }
    povtrack_client_close(cli.client);
    if (fflush(stdout) != 0 && rc == 0) {
        fprintf(stderr, "povtrack: cannot write output\n");
        rc = TL_EXIT_FAIL;
    }
    return rc;
}
