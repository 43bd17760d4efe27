/*
 * tl_cmd_report.c - `povtrack report`: the yearly document for the
 * provincial standing committee, and `povtrack donors`, its donors' list
 * alone.  tl_report_gather.c asks the daemon and fills the document
 * model; tl_report.c lays it out.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tl_cli.h"
#include "tl_fmt.h"
#include "tl_import.h"
#include "tl_report.h"
#include "tl_report_gather.h"

static const char report_usage[] =
    "Usage: povtrack report --unit CODE --year Y [--format md|csv|html]\n"
    "                       [--lang vi|en] [--output FILE] [--from-year Y]\n"
    "                       [--target-min PP] [--target-max PP]\n"
    "                       [--md-target-min PP] [--md-target-max PP]\n"
    "                       [--alerts N] [--donors N]\n"
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
    " 7. the National Target Programmes' budget: allocated, spent, execution\n"
    "    rate by programme and component, beside the fund (budget);\n"
    " 8. production links with poor and near-poor households, OCOP products\n"
    "    (production);\n"
    " 9. poor households with no labour capacity and their regular social\n"
    "    assistance (protection);\n"
    "10. the donors of the year, anonymous ones as such (donors);\n"
    "11. the collectives and individuals commended in the year\n"
    "    (commendations);\n"
    "12. the alerts raised by events of the year (UTC+7) in the unit.\n"
    "The units are those in force at the end of Y (after 1 July 2025 the\n"
    "communes sit directly under the province), and every figure is\n"
    "regrouped into them (as_of): a merged commune's reduction compares it\n"
    "with its predecessors together the year before, the chart's earlier\n"
    "years line up with it, and the money, loans, relocations, budget,\n"
    "links, assistance, donors, commendations and alerts recorded under a\n"
    "predecessor (before the merger too) count in the successor (an\n"
    "alert's unit then reads \"593 (now in 68)\").\n"
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
    "                   are counted\n"
    "  --donors N       list at most N donors (default 50; all: povtrack\n"
    "                   donors); all are counted\n";

/* After the options of cmd: no other argument, and --unit CODE given. */
static int check_args(const char *cmd, int argc, char **argv, const char *unit)
{
    if (optind < argc)
        return tl_cli_usage(cmd, "unexpected argument \"%s\"", argv[optind]);
    if (unit == NULL || unit[0] == '\0' || strlen(unit) > 5 ||
        strspn(unit, "0123456789") != strlen(unit))
        return tl_cli_usage(cmd, "give --unit CODE (2 to 5 digits)");
    return 0;
}

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
        {"donors", required_argument, NULL, 'D'},
        {0}};
    struct tl_rep_doc doc;
    bool band_given = false, md_band_given = false;
    const char *unit = NULL, *output = NULL, *why;
    char whybuf[128];
    enum tl_rep_format fmt = TL_REP_MD;
    long long year = -1, from = -1, amax = 30, dmax = 50;
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
        case 'D':
            rc = tl_cli_uint("report", "--donors", optarg, 10000, &dmax);
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
    doc.donors_max = (size_t)dmax;
    rc = tl_report_gather(cli, &doc, unit, band_given, md_band_given);
    if (rc == 0)
        rc = write_report(cli, &doc, fmt, output);
    tl_report_doc_free(&doc);
    return rc;
}

/* ---- povtrack donors -------------------------------------------------- */

static const char donors_usage[] =
    "Usage: povtrack donors --unit CODE [--year Y | --from DATE --to DATE]\n"
    "                       [--format csv|md|html] [--lang vi|en]\n"
    "                       [--output FILE] [--limit N]\n"
    "\n"
    "The public acknowledgement of the donors to the For the Poor fund (plan\n"
    "III.3): who gave what in unit CODE and below over a period, largest\n"
    "first, from povtrackd's donors plugin.  Anonymous donors are one row,\n"
    "\"Ẩn danh / anonymous\", never their name.  It first waits until the\n"
    "plugin has applied the whole log.\n"
    "\n"
    "  --year Y         the calendar year Y (Vietnam time)\n"
    "  --from DATE      from this day (YYYY-MM-DD or DD/MM/YYYY), and\n"
    "  --to DATE        to this day, both included; without a period: all\n"
    "                   time\n"
    "  --format csv|md|html  CSV (default): one row per donor (name, kind,\n"
    "                   amount, donations, in kind; no thousands\n"
    "                   separators); Markdown or one HTML file: a titled\n"
    "                   table with the totals\n"
    "  --lang vi|en     Vietnamese (default) or English labels\n"
    "  --output FILE    write to FILE instead of standard output\n"
    "  --limit N        at most N donors (default and most 10000); the\n"
    "                   totals count them all\n";

/* The day a --from or --to names, 00:00 Vietnam time. */
static int donors_day(const char *opt, const char *arg, int64_t *at)
{
    struct tl_error err = {{0}};

    if (tl_parse_date(arg, at, &err) != POVTRACK_OK)
        return tl_cli_usage("donors", "%s: %s", opt, err.msg);
    return 0;
}

int tl_cmd_donors(struct tl_cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {
        TL_COMMON_OPTIONS,
        {"unit", required_argument, NULL, 'u'},
        {"year", required_argument, NULL, 'y'},
        {"from", required_argument, NULL, 'f'},
        {"to", required_argument, NULL, 't'},
        {"format", required_argument, NULL, 'F'},
        {"lang", required_argument, NULL, 'l'},
        {"output", required_argument, NULL, 'o'},
        {"limit", required_argument, NULL, 'n'},
        {0}};
    struct tl_rep_doc doc;
    const char *unit = NULL, *output = NULL, *from_s = NULL, *to_s = NULL;
    enum tl_rep_format fmt = TL_REP_CSV;
    long long year = -1, limit = 10000;
    int64_t from = 0, to = 0;
    int c, rc = 0;

    tl_report_doc_init(&doc, 0, 0);
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case TL_OPT_HELP:
            fputs(donors_usage, stdout);
            return TL_EXIT_OK;
        case 'u':
            unit = optarg;
            break;
        case 'y':
            rc = tl_cli_uint("donors", "--year", optarg, 2100, &year);
            break;
        case 'f':
            from_s = optarg;
            rc = donors_day("--from", optarg, &from);
            break;
        case 't':
            to_s = optarg;
            rc = donors_day("--to", optarg, &to);
            break;
        case 'F':
            fmt = strcmp(optarg, "md") == 0     ? TL_REP_MD
                  : strcmp(optarg, "html") == 0 ? TL_REP_HTML
                                                : TL_REP_CSV;
            if (fmt == TL_REP_CSV && strcmp(optarg, "csv") != 0)
                rc = tl_cli_usage("donors", "--format: csv, md or html");
            break;
        case 'l':
            if (strcmp(optarg, "vi") == 0 || strcmp(optarg, "en") == 0)
                doc.lang = optarg[0] == 'e' ? TL_REP_EN : TL_REP_VI;
            else
                rc = tl_cli_usage("donors", "--lang: vi or en");
            break;
        case 'o':
            output = optarg;
            break;
        case 'n':
            rc = tl_cli_uint("donors", "--limit", optarg, 10000, &limit);
            break;
        case '?':
            return tl_cli_badopt("donors");
        default:
            rc = tl_cli_common(cli, c, optarg);
            break;
        }
        if (rc != 0)
            return rc;
    }
    if ((rc = check_args("donors", argc, argv, unit)) != 0)
        return rc;
    if (year >= 0 && (from_s != NULL || to_s != NULL))
        return tl_cli_usage("donors", "--year or --from and --to, not both");
    if (year >= 0 && year < 2000)
        return tl_cli_usage("donors", "--year: 2000-2100");
    if ((from_s == NULL) != (to_s == NULL))
        return tl_cli_usage("donors", "give both --from and --to");
    if (from_s != NULL && to < from)
        return tl_cli_usage("donors", "--to is before --from");
    if (limit < 1)
        return tl_cli_usage("donors", "--limit: 1 to 10000");
    if (cli->json)
        return tl_cli_usage("donors", "--json is not supported; use "
                                      "--format csv");

    /* The list is on the units of the period's last instant (as_of, as a
     * report's sections): a unit's donors include those recorded under
     * the units merged into it before. */
    char period[64];
    json_t *q;
    if (year >= 0) {
        doc.year = (int)year;
        snprintf(period, sizeof(period), "%lld", year);
        q = json_pack("{s:s,s:I,s:I}", "unit", unit, "year", (json_int_t)year,
                      "as_of", (json_int_t)tl_report_as_of(doc.year));
    } else if (from_s != NULL) {
        /* The units of the last day asked for. */
        time_t last = (time_t)(to + TL_VN_OFFSET);
        struct tm tm;
        doc.year = gmtime_r(&last, &tm) != NULL ? tm.tm_year + 1900 : 2000;
        /* The days as the document's language writes dates, whatever
         * form they were given in. */
        char d1[32], d2[32];
        snprintf(period, sizeof(period), "%s – %s",
                 tl_report_date(&doc, from, false, d1, sizeof(d1)),
                 tl_report_date(&doc, to, false, d2, sizeof(d2)));
        q = json_pack("{s:s,s:I,s:I,s:I}", "unit", unit, "from",
                      (json_int_t)from, "to", (json_int_t)(to + 86400), "as_of",
                      (json_int_t)(to + 86400 - 1));
    } else {
        time_t now = time(NULL) + TL_VN_OFFSET;
        struct tm tm;
        doc.year = gmtime_r(&now, &tm) != NULL ? tm.tm_year + 1900 : 2000;
        snprintf(period, sizeof(period), "%s",
                 doc.lang == TL_REP_EN ? "all time" : "từ trước đến nay");
        q = json_pack("{s:s,s:I}", "unit", unit, "as_of",
                      (json_int_t)time(NULL));
    }
    if (q == NULL) {
        fprintf(stderr, "povtrack: out of memory\n");
        return TL_EXIT_FAIL;
    }
    doc.generated = (int64_t)time(NULL);
    rc = tl_report_gather_donors(cli, &doc, unit, q, limit);
    json_decref(q);
    if (rc == 0) {
        struct tl_error err = {{0}};
        FILE *f = output != NULL ? fopen(output, "w") : cli->out;
        if (f == NULL) {
            fprintf(stderr, "povtrack: cannot write %s: %m\n", output);
            rc = TL_EXIT_FAIL;
        } else {
            rc = tl_report_render_donors(f, &doc, period, fmt, &err);
            if (output != NULL && fclose(f) != 0 && rc == 0)
                rc = tl_fail(&err, POVTRACK_EIO, "cannot write %s", output);
            if (rc != 0) {
                fprintf(stderr, "povtrack: %s\n", err.msg);
                rc = TL_EXIT_FAIL;
            }
        }
    }
    tl_report_doc_free(&doc);
    return rc;
}
