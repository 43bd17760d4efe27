/*
 * tl_cli.h - what the commands of `povtrack` share: exit codes, the client,
 * option parsing, and turning failures into one message and an exit code.
 */
#ifndef POVTRACK_TL_CLI_H
#define POVTRACK_TL_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include <povtrack/client.h>

enum tl_exit {
    TL_EXIT_OK = 0,
    TL_EXIT_FAIL = 1,        /* events rejected, query refused, I/O */
    TL_EXIT_USAGE = 2,       /* bad command line */
    TL_EXIT_UNREACHABLE = 3, /* no answer from povtrackd */
    /* Not an exit status: what an option parser returns after printing the
     * usage (--help), for the command to exit with TL_EXIT_OK. */
    TL_EXIT_HELP_SHOWN = -1
};

struct tl_cli {
    povtrack_client *client;
    bool json;
    FILE *out;
    /* Where failures are said (tl_cli_client_fail, the report's gathering);
     * NULL: stderr.  The web gateway collects them to answer with. */
    FILE *err;
    /* CURVE: the daemon's public key and this client's key pair (Z85);
     * "" when not given. */
    char server_key[POVTRACK_CLIENT_KEY_Z85];
    char public_key[POVTRACK_CLIENT_KEY_Z85];
    char secret_key[POVTRACK_CLIENT_KEY_Z85];
};

/* Long options every command accepts, so that "povtrack query ... --json"
 * works as well as "povtrack --json query ...".  Their codes start at 1000
 * to stay clear of the commands' own. */
enum {
    TL_OPT_INGEST = 1000,
    TL_OPT_QUERY,
    TL_OPT_ALERTS,
    TL_OPT_TIMEOUT,
    TL_OPT_JSON,
    TL_OPT_HELP,
    TL_OPT_SERVER_KEY,
    TL_OPT_KEY,
    TL_OPT_RETRIES
};
#define TL_COMMON_OPTIONS                                                      \
    {"ingest", required_argument, NULL, TL_OPT_INGEST},                        \
        {"query", required_argument, NULL, TL_OPT_QUERY},                      \
        {"alerts", required_argument, NULL, TL_OPT_ALERTS},                    \
        {"timeout", required_argument, NULL, TL_OPT_TIMEOUT},                  \
        {"json", no_argument, NULL, TL_OPT_JSON},                              \
        {"server-key", required_argument, NULL, TL_OPT_SERVER_KEY},            \
        {"key", required_argument, NULL, TL_OPT_KEY},                          \
        {"retries", required_argument, NULL, TL_OPT_RETRIES},                  \
    {                                                                          \
        "help", no_argument, NULL, TL_OPT_HELP                                 \
    }

/* Handle a common option c (a TL_OPT_* code).  Returns 0, or an exit code
 * (TL_EXIT_USAGE after printing why). */
int tl_cli_common(struct tl_cli *cli, int c, const char *arg);

/* Print "povtrack CMD: msg" and a pointer to --help; returns TL_EXIT_USAGE. */
int tl_cli_usage(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* After getopt_long() printed its complaint: point to --help, return
 * TL_EXIT_USAGE. */
int tl_cli_badopt(const char *cmd);

/* --delimiter C of the CSV readers: one byte into *delim; otherwise an exit
 * code after printing why. */
int tl_cli_delimiter(const char *cmd, const char *arg, char *delim);

/* Open a command's input: "-" is standard input, anything else a file to
 * read.  Returns 0 with *in set, or prints "povtrack CMD: cannot open PATH:
 * why" and returns TL_EXIT_USAGE.  Close it with tl_cli_close(). */
int tl_cli_open(const char *cmd, const char *path, FILE **in);

/* Close what tl_cli_open() gave, unless it is standard input. */
void tl_cli_close(FILE *in);

/* cli->err, or stderr when it is NULL. */
FILE *tl_cli_err(const struct tl_cli *cli);

/* Print the client's error once and map rc to an exit code. */
int tl_cli_client_fail(struct tl_cli *cli, int rc);

/* Send req (a JSON object, packed to msgpack) to the query endpoint.  On
 * success returns 0 with reply filled; otherwise prints the failure and
 * returns the exit code (reply is then empty). */
int tl_cli_request(struct tl_cli *cli, const json_t *req,
                   struct povtrack_client_msg *reply);

/* Pack v (JSON) as msgpack into sb (initialised by the caller).  Returns 0,
 * or TL_EXIT_FAIL after printing why. */
int tl_cli_pack(const json_t *v, msgpack_sbuffer *sb);

/* The same for a request packed already (len bytes of msgpack). */
int tl_cli_send(struct tl_cli *cli, const void *req, size_t len,
                struct povtrack_client_msg *reply);

/* --batch N of the commands that publish: events per frame, 1 to
 * POVTRACK_CLIENT_BATCH_MAX, into *batch; otherwise an exit code after
 * printing why. */
#define TL_BATCH_DEFAULT 1000
int tl_cli_batch(const char *cmd, const char *arg, size_t *batch);

/* A date option (YYYY-MM-DD or DD/MM/YYYY, 00:00 in Vietnam) into *at;
 * otherwise an exit code after printing why. */
int tl_cli_date(const char *cmd, const char *opt, const char *arg, int64_t *at);

/* --id-prefix P: 1 to max bytes of printable ASCII without spaces, as ids
 * are; otherwise an exit code after printing why. */
int tl_cli_id_prefix(const char *cmd, const char *arg, size_t max);

/* Parse a non-negative decimal integer option; exit code on error. */
int tl_cli_uint(const char *cmd, const char *opt, const char *arg,
                long long max, long long *out);

/* Print a reply as one JSON line; returns an exit code. */
int tl_cli_print_json(struct tl_cli *cli, const msgpack_object *o);

/* Print a fund plugin result as "name  value" lines (query, summary). */
void tl_show_fund(FILE *f, const msgpack_object *result);

struct tl_unitdir;

/* One alert as a line for people, after indent: "#SEQ  2024-10-17 08:30
 * +07  warning   CODE  unit Thành phố Phan Thiết (593)  MESSAGE", the
 * time in Vietnam and the unit's name from units (NULL, or a unit it does
 * not know: the code alone; the host's own alerts name a plugin there). */
void tl_alert_line(FILE *f, const char *indent, struct tl_unitdir *units,
                   int64_t seq, const int64_t *at, const char *severity,
                   const char *code, const char *unit, const char *household,
                   const char *message);

/* Print one alert map as such a line (or JSON with --json). */
int tl_print_alert(struct tl_cli *cli, struct tl_unitdir *units,
                   const msgpack_object *alert);

/* Commands.  argv[0] is the command's name; each returns an exit code. */
int tl_cmd_send(struct tl_cli *cli, int argc, char **argv);
int tl_cmd_import_csv(struct tl_cli *cli, int argc, char **argv);
int tl_cmd_query(struct tl_cli *cli, int argc, char **argv);
int tl_cmd_ping(struct tl_cli *cli, int argc, char **argv);
int tl_cmd_stats(struct tl_cli *cli, int argc, char **argv);
int tl_cmd_log(struct tl_cli *cli, int argc, char **argv);
int tl_cmd_alerts(struct tl_cli *cli, int argc, char **argv);
int tl_cmd_summary(struct tl_cli *cli, int argc, char **argv);
int tl_cmd_report(struct tl_cli *cli, int argc, char **argv);
int tl_cmd_donors(struct tl_cli *cli, int argc, char **argv);
int tl_cmd_keygen(struct tl_cli *cli, int argc, char **argv);
int tl_cmd_plugin(struct tl_cli *cli, int argc, char **argv);
int tl_cmd_rebuild(struct tl_cli *cli, int argc, char **argv);
int tl_cmd_backup(struct tl_cli *cli, int argc, char **argv);
int tl_cmd_restore(struct tl_cli *cli, int argc, char **argv);
int tl_cmd_verify(struct tl_cli *cli, int argc, char **argv);
int tl_cmd_promote(struct tl_cli *cli, int argc, char **argv);
int tl_cmd_unitmap(struct tl_cli *cli, int argc, char **argv);
int tl_cmd_units(struct tl_cli *cli, int argc, char **argv);
int tl_cmd_correct(struct tl_cli *cli, int argc, char **argv);
int tl_cmd_void(struct tl_cli *cli, int argc, char **argv);
int tl_cmd_audit(struct tl_cli *cli, int argc, char **argv);

/* The rank of an alert's severity, the most serious first: critical 0,
 * warning 1, anything else 2, none 3 (the summary's and the report's
 * order). */
int tl_alert_rank(const char *severity);

#endif /* POVTRACK_TL_CLI_H */
