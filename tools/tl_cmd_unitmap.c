/*
 * tl_cmd_unitmap.c - `povtrack unitmap`: the official mapping table of
 * administrative units as unit events, JSON lines for `povtrack send`.
 */
#include <errno.h>
#include <string.h>

#include "tl_cli.h"
#include "tl_import.h"
#include "tl_unitmap.h"

static const char unitmap_usage[] =
    "Usage: povtrack unitmap [--effective DATE] [--at DATE] [--id-prefix P]\n"
    "                        [--delimiter C] [--encoding E] FILE.csv\n"
    "\n"
    "Turn the official mapping table of administrative units (CSV, UTF-8\n"
    "or --encoding, header row; \"-\" reads standard input) into\n"
    "unit.defined and unit.changed events, one JSON object a line on\n"
    "standard output, to review and then publish with 'povtrack send'.\n"
    "Nothing is sent here.\n"
    "\n"
    "Columns, recognised by their header (case, spaces and diacritics do\n"
    "not matter: \"Mã cũ\" is ma_cu):\n"
    "  ma_cu, old_code           the old unit's code (required)\n"
    "  ma_moi, new_code          the code it goes into; empty: abolished\n"
    "  ngay_hieu_luc, effective  the date of effect (or --effective)\n"
    "  ten_moi, new_name         the new unit's name\n"
    "  ma_cha_moi, new_parent    the new unit's parent code\n"
    "  ten_cu, old_name          only quoted in notes\n"
    "  stt, ghi_chu, note        ignored (other columns: ignored with a note)\n"
    "Codes are text, leading zeros kept: 2 digits a province, 3 a district,\n"
    "5 a commune; the old and new code of a row have the same level and a\n"
    "new parent is above the new code.  Dates are YYYY-MM-DD or DD/MM/YYYY,\n"
    "00:00 that day in Vietnam (UTC+7).\n"
    "\n"
    "Rules, for each date:\n"
    "  - old codes whose one new code is N: \"merge\" of them into N, with\n"
    "    N's new name and parent when given; N alone into N: \"reparent\"\n"
    "    (new parent given, and the name if given), \"rename\" (new name\n"
    "    only) or nothing (a note);\n"
    "  - an old code with two or more new codes: \"split\", the one keeping\n"
    "    the code first (and a rename/reparent of it when it gets a new\n"
    "    name or parent);\n"
    "  - an empty new code: \"abolish\";\n"
    "  - a new code that is no old code of that date is a new unit:\n"
    "    unit.defined, which needs its new name and, below a province, its\n"
    "    new parent.\n"
    "Per date, new units come first (provinces, districts, communes), then\n"
    "the changes of communes, then of districts, then of provinces, so that\n"
    "communes move before their district is abolished; within a level\n"
    "splits, merges, renames and reparents, abolitions, each by code.  Ids\n"
    "are P-YYYYMMDD-KIND-CODE (KIND \"defined\" for a new unit) and \"at\"\n"
    "is fixed, so running this again and sending again stores nothing twice.\n"
    "\n"
    "Options:\n"
    "  --effective DATE  the date of rows whose effective cell is empty\n"
    "  --at DATE         \"at\" of every event, e.g. the date of the\n"
    "                    resolution [the effective date].  povtrackd refuses\n"
    "                    an \"at\" more than a day ahead: for a change to\n"
    "                    come, give --at\n"
    "  --id-prefix P     prefix of the event ids [unitmap]\n"
    "  --delimiter C     cell separator [the one of , ; and tab the header\n"
    "                    line holds most of]\n"
    "  --encoding E      the file's encoding when not UTF-8: cp1258 (Excel's\n"
    "                    Vietnamese), cp1252 [UTF-8, with or without BOM]\n"
    "\n"
    "Rows are numbered as in the spreadsheet (the header is row 1).  A row\n"
    "is refused for a bad cell, old and new codes of different levels, the\n"
    "same old and new code twice on one date, an old code both abolished and\n"
    "mapped, two names or parents for one new code, a row going into a code\n"
    "that itself ends on that date, a new unit without name or parent, or\n"
    "more than 32 codes in one merge or split.  Each bad row is reported on\n"
    "standard error (row 7, column ma_moi: \"2292\" is not a 2, 3 or 5 digit\n"
    "code) and then nothing is written.  Otherwise standard error ends with\n"
    "\"unitmap: 3 rows -> 0 defined, 1 merge, ... (1 event)\".  Exit status\n"
    "0 ok, 1 bad input, 2 usage.\n"
    "\n"
    "Example (wards Phú Hài, Phú Thủy and Thanh Hải of Phan Thiết become the\n"
    "ward Phú Thủy, 22924, of the province Lâm Đồng, 68, from 2025-07-01):\n"
    "  $ cat tests/tools/unit-mapping-phan-thiet.csv\n"
    "  stt,ma_cu,ten_cu,ma_moi,ten_moi,ma_cha_moi,ngay_hieu_luc\n"
    "  1,22921,Phường Phú Hài,22924,Phường Phú Thủy,68,2025-07-01\n"
    "  2,22924,Phường Phú Thủy,22924,Phường Phú Thủy,68,2025-07-01\n"
    "  3,22936,Phường Thanh Hải,22924,Phường Phú Thủy,68,2025-07-01\n"
    "  $ povtrack unitmap unit-mapping-phan-thiet.csv > changes.jsonl\n"
    "  $ povtrack send changes.jsonl\n"
    "changes.jsonl then holds one merge of 22921, 22924 and 22936 into\n"
    "22924, named \"Phường Phú Thủy\", parent 68, id\n"
    "unitmap-20250701-merge-22924.  Or in one go:\n"
    "  $ povtrack unitmap unit-mapping-phan-thiet.csv | povtrack send\n";

struct unitmap_ctx {
    FILE *out;
    struct tl_error *err;
};

static int on_event(void *arg, json_t *ev)
{
    struct unitmap_ctx *uc = arg;
    int rc = POVTRACK_OK;

    if (json_dumpf(ev, uc->out, TL_UNITMAP_DUMP_FLAGS) != 0 ||
        fputc('\n', uc->out) == EOF)
        rc = tl_fail(uc->err, POVTRACK_EIO, "cannot write the events: %s",
                     strerror(errno));
    json_decref(ev);
    return rc;
}

static int on_bad_row(void *arg, size_t row, const char *msg)
{
    (void)arg;
    (void)row;
    fprintf(stderr, "%s\n", msg);
    return 0;
}

static void on_note(void *arg, const char *msg)
{
    (void)arg;
    fprintf(stderr, "povtrack unitmap: note: %s\n", msg);
}

int tl_cmd_unitmap(struct tl_cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {
        TL_COMMON_OPTIONS,
        {"effective", required_argument, NULL, 'e'},
        {"at", required_argument, NULL, 'a'},
        {"id-prefix", required_argument, NULL, 'p'},
        {"delimiter", required_argument, NULL, 'd'},
        {"encoding", required_argument, NULL, 'E'},
        {0}};
    struct tl_unitmap_opts o = {NULL, false, 0, false, 0, 0, NULL};
    struct tl_unitmap_counts n;
    struct tl_error err = {{0}};
    struct unitmap_ctx uc = {cli->out, &err};
    struct tl_unitmap_sink sink = {&uc, on_event, on_bad_row, on_note};
    const char *path;
    FILE *in;
    int c, rc = 0;

    while ((c = getopt_long(argc, argv, "e:a:p:d:E:", longopts, NULL)) != -1) {
        switch (c) {
        case TL_OPT_HELP:
            fputs(unitmap_usage, stdout);
            return TL_EXIT_OK;
        case 'e':
            rc = tl_cli_date("unitmap", "--effective", optarg, &o.effective);
            o.has_effective = true;
            break;
        case 'a':
            rc = tl_cli_date("unitmap", "--at", optarg, &o.at);
            o.has_at = true;
            break;
        case 'p':
            o.id_prefix = optarg;
            rc = tl_cli_id_prefix("unitmap", optarg, TL_UNITMAP_PREFIX_MAX);
            break;
        case 'd':
            rc = tl_cli_delimiter("unitmap", optarg, &o.delim);
            break;
        case 'E':
            o.encoding = optarg;
            break;
        case '?':
            return tl_cli_badopt("unitmap");
        default:
            rc = tl_cli_common(cli, c, optarg);
            break;
        }
        if (rc != 0)
            return rc;
    }
    if (argc - optind != 1)
        return tl_cli_usage("unitmap", "give exactly one FILE.csv");
    path = argv[optind];
    rc = tl_cli_open("unitmap", path, &in);
    if (rc != 0)
        return rc;
    rc = tl_unitmap_csv(in, &o, &sink, &n, &err);
    tl_cli_close(in);
    if (rc == 0 && fflush(cli->out) != 0)
        rc = tl_fail(&err, POVTRACK_EIO, "cannot write the events: %s",
                     strerror(errno));
    if (rc != 0) {
        fprintf(stderr, "povtrack unitmap: %s: %s\n",
                strcmp(path, "-") == 0 ? "standard input" : path, err.msg);
        return TL_EXIT_FAIL;
    }
    fprintf(stderr,
            "unitmap: %zu row%s -> %zu defined, %zu merge, %zu split, "
            "%zu rename, %zu reparent, %zu abolish (%zu event%s)\n",
            n.rows, n.rows == 1 ? "" : "s", n.defined, n.merge, n.split,
            n.rename, n.reparent, n.abolish, n.events,
            n.events == 1 ? "" : "s");
    return TL_EXIT_OK;
}
