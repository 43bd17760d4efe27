/*
 * tl_cmd_report.c - `povtrack report`: the yearly document for the
 * provincial standing committee.  tl_report_gather.c asks the daemon and
 * fills the document model; tl_report.c lays it out.
 */
#include <stdlib.h>
#include <string.h>

#include "tl_cli.h"
#include "tl_report.h"
#include "tl_report_gather.h"

static const char report_usage[] =
    "Usage: povtrack report --unit CODE --year Y [--format md|csv|html]\n"
    "                       [--lang vi|en] [--output FILE] [--from-year Y]\n"
    "                       [--target-min PP] [--target-max PP]\n"
    "                       [--md-target-min PP] [--md-target-max PP]\n"
    "                       [--alerts N]\n"
    "\n"
    "The year's report on unit CODE (a province, usually), its districts and\n"
    "their communes, for the provincial standing committee:\n"
    " 1. poor and near-poor households and rates, the reduction of the poor\n"
    "    rate against its target band and of the multidimensional rate (poor\n"
    "    plus near-poor) against its own (both as povtrackd's poverty plugin\n"
    "    is configured, by default 0.7 to 1.0 and 1.0 to 1.5 points a year;\n"
    "    the options override them; met at or above the minimum), escapes,\n"
    "    relapses, newly poor, and how many escaped households fell back\n"
    "    within 1-3 years (poverty);\n"
    " 2. the multidimensional standard: households assessed, assessed poor\n"
    "    but not recognised, recognised without support (standard);\n"
    " 3. the For the Poor fund of the year, raised and spent by purpose "
    "(fund);\n"
    " 4. relocation and its follow-up, support still missing (relocation);\n"
    " 5. policy credit and its coverage of poor households (credit);\n"
    " 6. plans and reports due, late and overdue (deadlines);\n"
    " 7. the alerts raised by events of the year (UTC+7) in the unit.\n"
    "The units are those in force at the end of Y (after 1 July 2025 the\n"
    "communes sit directly under the province); the chart's earlier years are\n"
    "regrouped into them.\n"
    "A section whose plugin povtrackd has not loaded is left out with a note.\n"
    "It first waits until the plugins have applied the whole log.\n"
    "\n"
    "  --format md|csv|html  Markdown (default); CSV, one row per unit with\n"
    "                   the numeric columns (no thousands separators, rates\n"
    "                   with 2 decimals, empty when unknown); HTML, one\n"
    "                   self-contained file with a chart of the poor rate by\n"
    "                   district from --from-year (default 2021) to Y\n"
    "  --lang vi|en     Vietnamese (default) or English labels\n"
    "  --output FILE    write to FILE instead of standard output\n"
    "  --alerts N       list at most N alerts one by one (default 30); all\n"
    "                   are counted\n";

static int parse_pp(const char *opt, const char *arg, double *out)
{
    char *end;
    double v = strtod(arg, &end);

    if (end == arg || *end != '\0' || !(v >= 0) || v > 100)
        return tl_cli_usage("report", "%s: \"%s\" is not a number 0..100", opt,
                            arg);
    *out = v;
    return 0;
}

static int write_report(struct tl_cli *cli, const struct tl_rep_doc *doc,
                        enum tl_rep_format fmt, const char *output)
{
    struct tl_error err = {{0}};
    FILE *f = cli->out;
    int rc;

    if (output != NULL) {
        f = fopen(output, "w");
        if (f == NULL) {
            fprintf(stderr, "povtrack: cannot write %s: %m\n", output);
            return TL_EXIT_FAIL;
        }
    }
    rc = tl_report_render(f, doc, fmt, &err);
    if (output != NULL && fclose(f) != 0 && rc == 0)
        rc = tl_fail(&err, POVTRACK_EIO, "cannot write %s", output);
    if (rc != 0) {
        fprintf(stderr, "povtrack: %s%s%s\n", err.msg,
                output != NULL && strstr(err.msg, output) == NULL ? ": " : "",
                output != NULL && strstr(err.msg, output) == NULL ? output
                                                                  : "");
        return TL_EXIT_FAIL;
    }
    return TL_EXIT_OK;
}

int tl_cmd_report(struct tl_cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {
        TL_COMMON_OPTIONS,
        {"unit", required_argument, NULL, 'u'},
        {"year", required_argument, NULL, 'y'},
        {"from-year", required_argument, NULL, 'f'},
        {"format", required_argument, NULL, 'F'},
        {"lang", required_argument, NULL, 'l'},
        {"output", required_argument, NULL, 'o'},
        {"target-min", required_argument, NULL, 'm'},
        {"target-max", required_argument, NULL, 'M'},
        {"md-target-min", required_argument, NULL, 'n'},
        {"md-target-max", required_argument, NULL, 'N'},
        {"alerts", required_argument, NULL, 'a'},
        {0}};
    struct tl_rep_doc doc;
    bool band_given = false, md_band_given = false;
    const char *unit = NULL, *output = NULL, *why;
    char whybuf[128];
    enum tl_rep_format fmt = TL_REP_MD;
    long long year = -1, from = -1, amax = 30;
    int c, rc = 0;

    tl_report_doc_init(&doc, 0, 0);
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case TL_OPT_HELP:
            fputs(report_usage, stdout);
            return TL_EXIT_OK;
        case 'u':
            unit = optarg;
            break;
        case 'y':
            rc = tl_cli_uint("report", "--year", optarg, 2100, &year);
            break;
        case 'f':
            rc = tl_cli_uint("report", "--from-year", optarg, 2100, &from);
            break;
        case 'F':
            if (strcmp(optarg, "md") == 0)
                fmt = TL_REP_MD;
            else if (strcmp(optarg, "csv") == 0)
                fmt = TL_REP_CSV;
            else if (strcmp(optarg, "html") == 0)
                fmt = TL_REP_HTML;
            else
                rc = tl_cli_usage("report", "--format: md, csv or html");
            break;
        case 'l':
            if (strcmp(optarg, "vi") == 0)
                doc.lang = TL_REP_VI;
            else if (strcmp(optarg, "en") == 0)
                doc.lang = TL_REP_EN;
            else
                rc = tl_cli_usage("report", "--lang: vi or en");
            break;
        case 'o':
            output = optarg;
            break;
        case 'm':
            rc = parse_pp("--target-min", optarg, &doc.tmin);
            band_given = true;
            break;
        case 'M':
            rc = parse_pp("--target-max", optarg, &doc.tmax);
            band_given = true;
            break;
        case 'n':
            rc = parse_pp("--md-target-min", optarg, &doc.md_tmin);
            md_band_given = true;
            break;
        case 'N':
            rc = parse_pp("--md-target-max", optarg, &doc.md_tmax);
            md_band_given = true;
            break;
        case 'a':
            rc = tl_cli_uint("report", "--alerts", optarg, 100000, &amax);
            break;
        case '?':
            return tl_cli_badopt("report");
        default:
            rc = tl_cli_common(cli, c, optarg);
            break;
        }
        if (rc != 0)
            return rc;
    }
    if (optind < argc)
        return tl_cli_usage("report", "unexpected argument \"%s\"",
                            argv[optind]);
    /* The messages name the options the generic ones stand for. */
    why = tl_report_args_error(unit, year, &from, whybuf, sizeof whybuf);
    if (why != NULL)
        return tl_cli_usage("report",
                            "%s (--unit CODE, --year Y, "
                            "--from-year Y)",
                            why);
    if (doc.tmin > doc.tmax)
        return tl_cli_usage("report", "--target-min is above --target-max");
    if (doc.md_tmin > doc.md_tmax)
        return tl_cli_usage("report",
                            "--md-target-min is above --md-target-max");
    if (cli->json)
        return tl_cli_usage("report", "--json is not supported; use "
                                      "--format csv");
    doc.year = (int)year;
    doc.from_year = (int)from;
    doc.alerts_max = (size_t)amax;
    rc = tl_report_gather(cli, &doc, unit, band_given, md_band_given);
    if (rc == 0)
        rc = write_report(cli, &doc, fmt, output);
    tl_report_doc_free(&doc);
    return rc;
}
