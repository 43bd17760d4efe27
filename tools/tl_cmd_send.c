/*
 * tl_cmd_send.c - `povtrack send`: events as JSON lines.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tl_batch.h"
#include "tl_import.h"
#include "tl_cli.h"

static const char send_usage[] =
    "Usage: povtrack send [--batch N] [FILE...]\n"
    "\n"
    "Publish events, one JSON object a line, from each FILE or from\n"
    "standard input (no FILE, or \"-\").  Lines are converted to msgpack as\n"
    "they are (integers stay integers, reals become floats, null becomes\n"
    "nil) and sent in frames of N events (default 1000, at most 10000);\n"
    "povtrackd validates them.  Blank lines are skipped.  A line that is\n"
    "not JSON is reported and counted as rejected without being sent.\n"
    "\n"
    "Output: each rejection, \"line 12: id mttq-1: data.amount: must be a\n"
    "positive integer\", then \"sent N events: A ok, D duplicate, R\n"
    "rejected\".  Sending the same events again is safe: povtrackd acks them\n"
    "as duplicates.  Exit status 1 if any event was rejected, 3 if povtrackd\n"
    "did not answer (events of the frame in flight are then in an unknown\n"
    "state: send the input again).\n";

/* End of a run: report a transport failure or the summary. */
static int finish(struct tl_cli *cli, struct tl_batch *b, int rc,
                  struct tl_error *err)
{
    if (rc == 0)
        rc = tl_batch_flush(b, err);
    if (rc != 0 && b->client_rc != 0) {
        if (b->progress)
            fputc('\n', stderr);
        rc = tl_cli_client_fail(cli, b->client_rc);
    } else if (rc != 0) {
        fprintf(stderr, "povtrack: %s\n", err->msg);
        rc = TL_EXIT_FAIL;
    } else if (tl_batch_summary(b) != 0) {
        rc = TL_EXIT_FAIL;
    } else {
        rc = b->rejected > 0 ? TL_EXIT_FAIL : TL_EXIT_OK;
    }
    tl_batch_free(b);
    return rc;
}

static int send_stream(struct tl_batch *b, FILE *in, struct tl_error *err)
{
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    ssize_t n;
    int rc = 0;

    while (rc == 0 && (n = getline(&line, &cap, in)) >= 0) {
        json_error_t jerr;
        json_t *ev;
        size_t len = (size_t)n;

        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r' ||
                           line[len - 1] == ' ' || line[len - 1] == '\t'))
            len--;
        if (len == 0)
            continue;
        /* NUL escapes are kept: the daemon judges the strings. */
        ev = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL,
                        &jerr);
        if (ev == NULL) {
            char msg[TL_ERROR_MAX];
            snprintf(msg, sizeof(msg), "%s %zu: invalid JSON: %s", b->what,
                     lineno, jerr.text);
            rc = tl_batch_reject(b, lineno, msg);
            continue;
        }
        /* Times may be written as the gateway takes them: "2025-08-01". */
        struct tl_error why = {{0}};
        int trc = tl_event_times(ev, &why);
        if (trc == POVTRACK_EINVALID) {
            char msg[TL_ERROR_MAX + 32];
            snprintf(msg, sizeof(msg), "%s %zu: %s", b->what, lineno, why.msg);
            rc = tl_batch_reject(b, lineno, msg);
        } else if (trc != 0) {
            rc = tl_fail(err, trc, "%s", why.msg);
        } else {
            rc = tl_batch_add(b, lineno, ev, err);
        }
        json_decref(ev);
    }
    if (rc == 0 && ferror(in))
        rc = tl_fail(err, POVTRACK_EIO, "read error");
    free(line);
    return rc;
}

int tl_cmd_send(struct tl_cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {
        TL_COMMON_OPTIONS, {"batch", required_argument, NULL, 'b'}, {0}};
    struct tl_batch b;
    struct tl_error err = {{0}};
    size_t batch = TL_BATCH_DEFAULT;
    char what[300];
    int c, rc = 0;

    while ((c = getopt_long(argc, argv, "+b:", longopts, NULL)) != -1) {
        if (c == TL_OPT_HELP) {
            fputs(send_usage, stdout);
            return TL_EXIT_OK;
        }
        rc = c == 'b'   ? tl_cli_batch("send", optarg, &batch)
             : c == '?' ? tl_cli_badopt("send")
                        : tl_cli_common(cli, c, optarg);
        if (rc != 0)
            return rc;
    }
    if (tl_batch_init(&b, cli->client, "line", batch, cli->out, cli->json,
                      isatty(STDERR_FILENO)) != 0) {
        fprintf(stderr, "povtrack: out of memory\n");
        return TL_EXIT_FAIL;
    }
    if (optind >= argc)
        return finish(cli, &b, send_stream(&b, stdin, &err), &err);
    for (int i = optind; rc == 0 && i < argc; i++) {
        FILE *in;

        rc = tl_cli_open("send", argv[i], &in);
        if (rc != 0) {
            tl_batch_free(&b);
            return rc;
        }
        /* With several files, messages name the file; a frame never mixes
         * two files so that each ack maps to one name. */
        if (argc - optind > 1) {
            snprintf(what, sizeof(what), "%s: line", argv[i]);
            b.what = what;
        }
        rc = send_stream(&b, in, &err);
        if (rc == 0 && argc - optind > 1)
            rc = tl_batch_flush(&b, &err);
        tl_cli_close(in);
    }
    return finish(cli, &b, rc, &err);
}
