/*
 * tl_cmd_send.c - `povtrack send` (JSON lines) and `povtrack import-csv`.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tl_batch.h"
#include "tl_cli.h"
#include "tl_import.h"

#define BATCH_DEFAULT 1000

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

static const char import_usage[] =
    "Usage: povtrack import-csv FILE --unit CODE [--type TYPE]\n"
    "                           [--map COLUMN=FIELD,...] [--id-prefix P]\n"
    "                           [--delimiter C] [--batch N]\n"
    "\n"
    "Publish the rows of a spreadsheet (CSV, UTF-8, header row; \"-\" reads\n"
    "standard input) as events of TYPE (default donation.received) for unit\n"
    "CODE.  Columns are recognised by their header (case and spaces do not\n"
    "matter):\n"
    "  ngay, date             -> at (the date of the donation)\n"
    "  nha_tai_tro, donor     -> data.donor\n"
    "  so_tien, amount        -> data.amount\n"
    "  loai, donor_kind       -> data.donor_kind (ca_nhan, to_chuc,\n"
    "                            doanh_nghiep, an_danh, or the English name)\n"
    "  cap, level             -> data.level (trung_uong, tinh, huyen, xa...)\n"
    "  ma_cam_ket, pledge     -> data.pledge\n"
    "  hien_vat, in_kind      -> data.in_kind (co/khong, 1/0, x)\n"
    "  han, due               -> data.due (a date)\n"
    "  muc_dich, purpose      -> data.purpose\n"
    "  ma_ho, household       -> household\n"
    "  don_vi, unit           -> unit (instead of --unit)\n"
    "  ma, id                 -> id\n"
    "  stt, ghi_chu, note     ignored\n"
    "The Vietnamese spellings with diacritics work too.  --map overrides:\n"
    "\"--map 'Số tiền (VND)=amount,ngày nhận=at,stt=-'\" (\"-\" ignores a\n"
    "column).  Other columns are ignored with a note.\n"
    "\n"
    "Dates are YYYY-MM-DD or DD/MM/YYYY and mean 00:00 that day in Vietnam\n"
    "(UTC+7).  Amounts are whole VND, with or without thousands separators\n"
    "(\"1.500.000\", \"1,500,000\", \"1500000 đ\"); decimals are refused.\n"
    "Without a level (no column or an empty cell), donation.received and\n"
    "fund.disbursed get the level of the unit.  Without an id column the id "
    "is\n"
    "\"csv-<file name>-r<row>\" (or \"<P>-r<row>\"), so importing the same\n"
    "file twice is harmless.  Rows are numbered as in the spreadsheet (the\n"
    "header is row 1).  A row that cannot be read is reported as \"row 7,\n"
    "column so_tien: ...\" and not sent.  Output and exit status as for\n"
    "'povtrack send'.\n";

static int batch_option(const char *cmd, const char *arg, size_t *batch)
{
    long long v;
    int rc = tl_cli_uint(cmd, "--batch", arg, POVTRACK_CLIENT_BATCH_MAX, &v);

    if (rc != 0)
        return rc;
    if (v == 0)
        return tl_cli_usage(cmd, "--batch must be at least 1");
    *batch = (size_t)v;
    return 0;
}

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
        rc = tl_batch_add(b, lineno, ev, err);
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
    size_t batch = BATCH_DEFAULT;
    char what[300];
    int c, rc = 0;

    while ((c = getopt_long(argc, argv, "+b:", longopts, NULL)) != -1) {
        if (c == TL_OPT_HELP) {
            fputs(send_usage, stdout);
            return TL_EXIT_OK;
        }
        rc = c == 'b'   ? batch_option("send", optarg, &batch)
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

/* ---- import-csv ------------------------------------------------------- */

struct import_ctx {
    struct tl_batch *b;
    struct tl_error *err;
};

static int on_event(void *arg, size_t row, json_t *ev)
{
    struct import_ctx *ic = arg;
    int rc = tl_batch_add(ic->b, row, ev, ic->err);

    json_decref(ev);
    return rc;
}

static int on_bad_row(void *arg, size_t row, const char *msg)
{
    struct import_ctx *ic = arg;

    return tl_batch_reject(ic->b, row, msg);
}

static void on_note(void *arg, const char *msg)
{
    (void)arg;
    fprintf(stderr, "povtrack import-csv: note: %s\n", msg);
}

int tl_cmd_import_csv(struct tl_cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {
        TL_COMMON_OPTIONS,
        {"unit", required_argument, NULL, 'u'},
        {"type", required_argument, NULL, 't'},
        {"map", required_argument, NULL, 'm'},
        {"id-prefix", required_argument, NULL, 'p'},
        {"delimiter", required_argument, NULL, 'd'},
        {"batch", required_argument, NULL, 'b'},
        {0}};
    struct tl_import_opts o = {NULL, NULL, NULL, NULL, ','};
    struct tl_error err = {{0}};
    char prefix[TL_ID_PREFIX_MAX + 1];
    size_t batch = BATCH_DEFAULT;
    struct tl_batch b;
    struct import_ctx ic = {&b, &err};
    struct tl_import_sink sink = {&ic, on_event, on_bad_row, on_note};
    FILE *in;
    int c, rc = 0;

    while ((c = getopt_long(argc, argv, "u:t:m:p:d:b:", longopts, NULL)) !=
           -1) {
        switch (c) {
        case TL_OPT_HELP:
            fputs(import_usage, stdout);
            return TL_EXIT_OK;
        case 'u':
            o.unit = optarg;
            break;
        case 't':
            o.type = optarg;
            break;
        case 'm':
            o.map = optarg;
            break;
        case 'p':
            if (strlen(optarg) == 0 || strlen(optarg) > TL_ID_PREFIX_MAX)
                return tl_cli_usage("import-csv",
                                    "--id-prefix must have 1..%d bytes",
                                    TL_ID_PREFIX_MAX);
            o.id_prefix = optarg;
            break;
        case 'd':
            rc = tl_cli_delimiter("import-csv", optarg, &o.delim);
            break;
        case 'b':
            rc = batch_option("import-csv", optarg, &batch);
            break;
        case '?':
            return tl_cli_badopt("import-csv");
        default:
            rc = tl_cli_common(cli, c, optarg);
            break;
        }
        if (rc != 0)
            return rc;
    }
    if (argc - optind != 1)
        return tl_cli_usage("import-csv", "give exactly one FILE");
    if (o.id_prefix == NULL) {
        if (strcmp(argv[optind], "-") == 0)
            return tl_cli_usage("import-csv",
                                "reading standard input: give --id-prefix "
                                "so that event ids are stable");
        if (tl_import_id_prefix(argv[optind], prefix, &err) != 0)
            return tl_cli_usage("import-csv", "%s", err.msg);
        o.id_prefix = prefix;
    }
    rc = tl_cli_open("import-csv", argv[optind], &in);
    if (rc != 0)
        return rc;
    if (tl_batch_init(&b, cli->client, "row", batch, cli->out, cli->json,
                      isatty(STDERR_FILENO)) != 0) {
        tl_cli_close(in);
        fprintf(stderr, "povtrack: out of memory\n");
        return TL_EXIT_FAIL;
    }
    rc = tl_import_csv(in, &o, &sink, &err);
    tl_cli_close(in);
    if (rc == POVTRACK_EINVALID && b.client_rc == 0) {
        /* A bad header or --map (nothing read: a usage error), or a CSV
         * syntax error part way (what came before is still sent). */
        int started = b.count + b.sent + b.rejected > 0;
        fprintf(stderr, "povtrack import-csv: %s: %s\n", argv[optind], err.msg);
        if (!started) {
            tl_batch_free(&b);
            return TL_EXIT_USAGE;
        }
        err.msg[0] = '\0';
        rc = finish(cli, &b, 0, &err);
        return rc == TL_EXIT_OK ? TL_EXIT_FAIL : rc;
    }
    return finish(cli, &b, rc, &err);
}
