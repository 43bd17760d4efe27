/*
 * tl_cmd_units.c - `povtrack units import`: an official list of units
 * loaded as unit.defined events.
 */
#include <string.h>
#include <unistd.h>

#include "ev_event.h"
#include "tl_batch.h"
#include "tl_cli.h"
#include "tl_fmt.h"
#include "tl_units.h"

static const char units_usage[] =
    "Usage: povtrack units import FILE.csv [--at DATE] [--effective DATE]\n"
    "                             [--id-prefix P] [--delimiter C]\n"
    "                             [--encoding E] [--dry-run] [--batch N]\n"
    "\n"
    "Load an official list of administrative units (the General Statistics\n"
    "Office's, as ../shared/data/units-*.csv: columns code, name, type,\n"
    "parent, level; Vietnamese headers such as Mã, Tên, Mã cha, Cấp work\n"
    "too; \"-\" reads standard input) as unit.defined events, provinces\n"
    "first, then districts, then communes, so that every parent is defined\n"
    "before its children.  Codes are text, leading zeros kept (2 digits a\n"
    "province, 3 a district, 5 a commune).  Every row is checked first\n"
    "(code, name, parent one level up, level agreeing with the code, the\n"
    "catalogue's rules); a bad row is reported and nothing is sent.\n"
    "\n"
    "Ids are P-CODE (with --effective, P-YYYYMMDD-CODE) and \"at\" is fixed,\n"
    "so loading the same list again stores nothing twice (every event comes\n"
    "back duplicate).  Changes of units (merges, splits, renames) are\n"
    "'povtrack unitmap', not a new list.\n"
    "\n"
    "Options:\n"
    "  --at DATE         \"at\" of every event [2000-01-01, the earliest the\n"
    "                    daemon accepts: a time that does not change]\n"
    "  --effective DATE  the units are in force from DATE [always]\n"
    "  --id-prefix P     prefix of the ids [units]\n"
    "  --delimiter C     the cell separator [found from the header line]\n"
    "  --encoding E      the file's encoding when not UTF-8 (cp1258...)\n"
    "  --dry-run         check the list and count it, send nothing\n"
    "  --batch N         events per frame [1000]\n"
    "\n"
    "On a terminal, the count sent so far is shown (the national list has\n"
    "over 10,000 units).  The last lines count the units by level and the\n"
    "acks: \"sent 10806 events: 10806 ok, 0 duplicate, 0 rejected\".  Exit\n"
    "status 0 all stored (or stored before), 1 a bad row or a refusal,\n"
    "2 usage, 3 povtrackd did not answer.\n";

struct units_ctx {
    struct tl_batch *b; /* NULL: a dry run */
    struct tl_error *err;
    size_t n; /* events so far: a refusal is "unit N: id ...: why" */
};

static int on_event(void *arg, json_t *ev)
{
    struct units_ctx *uc = arg;
    int rc = uc->b != NULL ? tl_batch_add(uc->b, ++uc->n, ev, uc->err) : 0;

    json_decref(ev);
    return rc;
}

static int on_bad_row(void *arg, size_t row, const char *msg)
{
    (void)arg;
    (void)row;
    return printf("%s\n", msg) < 0 ? POVTRACK_EIO : 0;
}

static void on_note(void *arg, const char *msg)
{
    (void)arg;
    fprintf(stderr, "povtrack units import: note: %s\n", msg);
}

static int import(struct tl_cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {
        TL_COMMON_OPTIONS,
        {"at", required_argument, NULL, 'a'},
        {"effective", required_argument, NULL, 'e'},
        {"id-prefix", required_argument, NULL, 'p'},
        {"delimiter", required_argument, NULL, 'd'},
        {"encoding", required_argument, NULL, 'E'},
        {"dry-run", no_argument, NULL, 'n'},
        {"batch", required_argument, NULL, 'b'},
        {0}};
    struct tl_units_opts o = {NULL, EV_AT_MIN, false, 0, 0, NULL};
    struct tl_error err = {{0}};
    struct tl_units_counts n;
    struct tl_batch b;
    struct units_ctx uc = {&b, &err, 0};
    struct tl_units_sink sink = {&uc, on_event, on_bad_row, on_note};
    size_t batch = TL_BATCH_DEFAULT;
    bool dry = false;
    char cnt[4][TL_FMT_INT_MAX];
    FILE *in;
    int c, rc = 0;

    while ((c = getopt_long(argc, argv, "a:e:p:d:E:nb:", longopts, NULL)) !=
           -1) {
        switch (c) {
        case TL_OPT_HELP:
            fputs(units_usage, stdout);
            return TL_EXIT_HELP_SHOWN;
        case 'a':
            rc = tl_cli_date("units import", "--at", optarg, &o.at);
            break;
        case 'e':
            rc = tl_cli_date("units import", "--effective", optarg,
                             &o.effective);
            o.has_effective = true;
            break;
        case 'p':
            o.id_prefix = optarg;
            rc = tl_cli_id_prefix("units import", optarg, TL_UNITS_PREFIX_MAX);
            break;
        case 'd':
            rc = tl_cli_delimiter("units import", optarg, &o.delim);
            break;
        case 'E':
            o.encoding = optarg;
            break;
        case 'n':
            dry = true;
            break;
        case 'b':
            rc = tl_cli_batch("units import", optarg, &batch);
            break;
        case '?':
            return tl_cli_badopt("units import");
        default:
            rc = tl_cli_common(cli, c, optarg);
            break;
        }
        if (rc != 0)
            return rc;
    }
    if (argc - optind != 1)
        return tl_cli_usage("units import", "give exactly one FILE.csv");
    rc = tl_cli_open("units import", argv[optind], &in);
    if (rc != 0)
        return rc;
    if (tl_batch_init(&b, cli->client, "unit", batch, cli->out, cli->json,
                      isatty(STDERR_FILENO)) != 0) {
        tl_cli_close(in);
        fprintf(stderr, "povtrack: out of memory\n");
        return TL_EXIT_FAIL;
    }
    if (dry)
        uc.b = NULL;
    rc = tl_units_csv(in, &o, &sink, &n, &err);
    tl_cli_close(in);
    if (rc == 0 && !dry)
        rc = tl_batch_flush(&b, &err);
    if (rc != 0 && b.client_rc != 0) {
        if (b.progress)
            fputc('\n', stderr);
        rc = tl_cli_client_fail(cli, b.client_rc);
        tl_batch_free(&b);
        return rc;
    }
    if (rc != 0) {
        fprintf(stderr, "povtrack units import: %s: %s\n", argv[optind],
                err.msg);
        tl_batch_free(&b);
        return rc == POVTRACK_EINVALID && n.rows == 0 ? TL_EXIT_USAGE
                                                      : TL_EXIT_FAIL;
    }
    /* The acks first: that clears the count shown while sending. */
    if (!dry && tl_batch_summary(&b) != 0)
        rc = TL_EXIT_FAIL;
    else if (!dry && b.rejected > 0)
        rc = TL_EXIT_FAIL;
    fprintf(
        stderr,
        "units import: %s unit%s: %s province%s, %s district%s, %s "
        "commune%s%s\n",
        tl_fmt_int((int64_t)n.rows, cnt[0]), n.rows == 1 ? "" : "s",
        tl_fmt_int((int64_t)n.provinces, cnt[1]), n.provinces == 1 ? "" : "s",
        tl_fmt_int((int64_t)n.districts, cnt[2]), n.districts == 1 ? "" : "s",
        tl_fmt_int((int64_t)n.communes, cnt[3]), n.communes == 1 ? "" : "s",
        dry ? " (dry run: nothing sent)" : "");
    tl_batch_free(&b);
    return rc;
}

int tl_cmd_units(struct tl_cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {TL_COMMON_OPTIONS, {0}};
    int c, rc = 0;

    /* Common options may come before the subcommand ('+': stop there). */
    while (rc == 0 &&
           (c = getopt_long(argc, argv, "+", longopts, NULL)) != -1) {
        if (c == TL_OPT_HELP) {
            fputs(units_usage, stdout);
            return TL_EXIT_OK;
        }
        rc = c == '?' ? tl_cli_badopt("units") : tl_cli_common(cli, c, optarg);
    }
    if (rc != 0)
        return rc;
    if (optind >= argc || strcmp(argv[optind], "import") != 0)
        return tl_cli_usage("units", "the command is 'povtrack units import "
                                     "FILE.csv'");
    argc -= optind;
    argv += optind;
    optind = 0; /* glibc: restart getopt for the subcommand's argv */
    rc = import(cli, argc, argv);
    return rc == TL_EXIT_HELP_SHOWN ? TL_EXIT_OK : rc;
}
