/*
 * tl_cmd_audit.c - `povtrack audit`: a record, its corrections and voids,
 * who made them, when and why.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tl_audit.h"
#include "tl_cli.h"
#include "tl_fmt.h"

static const char audit_usage[] =
    "Usage: povtrack audit [--json] ID\n"
    "\n"
    "Show the record with id ID as it was entered, then each correction\n"
    "and void of it in the order they were made: when (Vietnam time), by\n"
    "which publisher, why, and what each correction changed.  The last\n"
    "line says how the record now stands: as entered, corrected, or voided\n"
    "(no longer counted anywhere).  ID may also be #N, the record at\n"
    "sequence N, as import-csv names stored rows (quote it: '#23'), or the\n"
    "id of a correction or a void: the record it amends is shown.\n"
    "\n"
    "With --json: the daemon's answer, one JSON line: {\"record\", \"state\",\n"
    "\"amendments\"}, each record {\"seq\", \"received\" (unix microseconds),\n"
    "\"publisher\", \"event\"}.  Needs the right to read the log (query = log\n"
    "or * in the publisher registry).\n";

/* "seq 12  2024-10-17 08:30 +07  by mttq-593" of a record map. */
static void stamp(FILE *f, const json_t *rec)
{
    char when[TL_FMT_TIME_MAX];
    json_int_t received = json_integer_value(json_object_get(rec, "received"));
    fprintf(f, "seq %lld  %s  by %s",
            (long long)json_integer_value(json_object_get(rec, "seq")),
            tl_fmt_vn_time(received / 1000000, when),
            json_string_value(json_object_get(rec, "publisher")));
}

static int print_audit(struct tl_cli *cli, const struct tl_audit *a)
{
    FILE *f = cli->out;
    const json_t *rec = json_object_get(a->answer, "record");
    const json_t *before = json_object_get(rec, "event");
    json_t *shown = json_incref((json_t *)before);
    size_t i;
    const json_t *am;

    fprintf(f, "%s  %s\n", a->id, a->type);
    fputs("  entered    ", f);
    stamp(f, rec);
    fputc('\n', f);
    tl_audit_fields(f, "             ", before);
    json_array_foreach(json_object_get(a->answer, "amendments"), i, am)
    {
        const json_t *ev = json_object_get(am, "event");
        const json_t *data = json_object_get(ev, "data");
        bool voided = strcmp(json_string_value(json_object_get(ev, "type")),
                             "record.voided") == 0;
        fprintf(f, "  %-10s ", voided ? "voided" : "corrected");
        stamp(f, am);
        fprintf(f, "  (id %s)\n", json_string_value(json_object_get(ev, "id")));
        fprintf(f, "             reason: %s\n",
                json_string_value(json_object_get(data, "reason")));
        if (voided)
            continue;
        /* What this correction changed from the record as it stood. */
        json_t *now = json_object();
        json_object_set(now, "at", json_object_get(ev, "at"));
        json_object_set(now, "unit", json_object_get(ev, "unit"));
        if (json_object_get(ev, "household") != NULL)
            json_object_set(now, "household", json_object_get(ev, "household"));
        json_object_set(now, "data", json_object_get(data, "record"));
        if (tl_audit_diff(f, "             ", shown, now) == 0)
            fputs("             (no field changed)\n", f);
        json_decref(shown);
        shown = now;
    }
    json_decref(shown);
    if (strcmp(a->state, "voided") == 0)
        fputs("now: voided, counted nowhere\n", f);
    else if (strcmp(a->state, "corrected") == 0)
        fprintf(f, "now: as corrected (%zu correction%s)\n", a->corrections,
                a->corrections == 1 ? "" : "s");
    else
        fputs("now: as entered\n", f);
    return ferror(f) ? TL_EXIT_FAIL : TL_EXIT_OK;
}

int tl_cmd_audit(struct tl_cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {TL_COMMON_OPTIONS, {0}};
    struct tl_audit a;
    int c, rc;

    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (c == TL_OPT_HELP) {
            fputs(audit_usage, stdout);
            return TL_EXIT_OK;
        }
        rc = c == '?' ? tl_cli_badopt("audit") : tl_cli_common(cli, c, optarg);
        if (rc != 0)
            return rc;
    }
    if (argc - optind != 1)
        return tl_cli_usage("audit", "give the id of one record");
    rc = tl_audit_fetch(cli, "audit", argv[optind], &a);
    if (rc != 0)
        return rc;
    if (cli->json) {
        char *s = json_dumps(a.answer, JSON_COMPACT);
        if (s != NULL)
            fprintf(cli->out, "%s\n", s);
        rc = s != NULL && !ferror(cli->out) ? TL_EXIT_OK : TL_EXIT_FAIL;
        free(s);
    } else {
        rc = print_audit(cli, &a);
    }
    tl_audit_free(&a);
    return rc;
}
