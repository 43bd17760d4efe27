/*
 * tl_cmd_correct.c - `povtrack correct` and `povtrack void`: put right a
 * record already stored, by publishing a record.corrected or a
 * record.voided of it.  The original stays in the log (`povtrack audit`
 * shows both).
 *
 * Both fetch the record as it now stands (the audit op), refuse early in
 * the clerk's words what the daemon would refuse (a record voided, a type
 * that cannot be amended), show what will change and ask before sending,
 * on a terminal; --yes sends without asking.  Their ids are derived from
 * the record's, so that sending the same command again after a lost
 * answer is a duplicate, not a second amendment.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tl_audit.h"
#include "tl_cli.h"
#include "tl_fmt.h"
#include "tl_import.h" /* tl_parse_date */
#include "tl_json.h"

static const char void_usage[] =
    "Usage: povtrack void ID --reason TEXT [--yes] [--id VOID_ID]\n"
    "\n"
    "Void the record with id ID (a donation, pledge, fund disbursement,\n"
    "loan, repayment or relocation record): it stops counting in every\n"
    "figure, and its alerts are resolved.  The record stays in the log;\n"
    "`povtrack audit ID` shows it with the void, who made it, when and why.\n"
    "A voided record cannot be corrected or voided again.  ID may be\n"
    "#N, the record at sequence N, as import-csv names stored rows (quote\n"
    "it: '#23').\n"
    "\n"
    "  --reason TEXT  why (required), kept with the void\n"
    "  --yes          do not ask for confirmation (needed when standard\n"
    "                 input is not a terminal)\n"
    "  --id VOID_ID   the void's own id (default void-ID)\n";

static const char correct_usage[] =
    "Usage: povtrack correct ID --set FIELD=VALUE... --reason TEXT [--yes]\n"
    "                        [--id FIX_ID]\n"
    "\n"
    "Correct the record with id ID (a donation, pledge, fund disbursement,\n"
    "loan, repayment or relocation record): the corrected record replaces\n"
    "it in every figure.  Fields not set keep their value as the record now\n"
    "stands (after earlier corrections).  FIELD is unit, at (the date:\n"
    "YYYY-MM-DD or DD/MM/YYYY, Vietnam time), household, or a field of the\n"
    "record's data (amount, donor, donor_kind, level, pledge, in_kind,\n"
    "purpose, loan, program, item, from, reason, due ...); an empty VALUE\n"
    "removes an optional field.  The changes are shown, then confirmed.\n"
    "The record stays in the log: `povtrack audit ID` shows each version.\n"
    "ID may be #N, the record at sequence N, as import-csv names stored\n"
    "rows (quote it: '#23').\n"
    "\n"
    "  --set F=V      a field's new value (repeat for several)\n"
    "  --reason TEXT  why (required), kept with the correction\n"
    "  --yes          do not ask for confirmation (needed when standard\n"
    "                 input is not a terminal)\n"
    "  --id FIX_ID    the correction's own id (default fix-ID-N, N the\n"
    "                 number of this correction of the record)\n";

#define SETS_MAX 32

struct amend_opts {
    const char *reason;
    const char *id;
    bool yes;
    const char *set[SETS_MAX];
    size_t nset;
};

/* Ask on a terminal; without one, --yes is needed. */
static int confirm(const char *cmd, const char *question, bool yes)
{
    if (yes)
        return 0;
    if (!isatty(STDIN_FILENO)) {
        fprintf(stderr,
                "povtrack %s: not confirmed: standard input is not a "
                "terminal; give --yes to %s without asking\n",
                cmd, cmd);
        return TL_EXIT_FAIL;
    }
    fprintf(stderr, "%s [y/N] ", question);
    char line[16];
    if (fgets(line, sizeof line, stdin) == NULL ||
        (line[0] != 'y' && line[0] != 'Y')) {
        fprintf(stderr, "povtrack %s: nothing sent\n", cmd);
        return TL_EXIT_FAIL;
    }
    return 0;
}

/* Publish ev alone; print what became of it. */
static int publish(struct tl_cli *cli, const char *cmd, const char *done,
                   const char *target, const json_t *ev)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    struct tl_error err = {{0}};
    struct povtrack_acks acks = {0};
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    int rc = tl_json_pack(ev, &pk, &err);
    if (rc != 0) {
        msgpack_sbuffer_destroy(&sb);
        fprintf(stderr, "povtrack %s: %s\n", cmd, err.msg);
        return TL_EXIT_FAIL;
    }
    rc = povtrack_client_publish_events(cli->client, &sb, 1, &acks);
    msgpack_sbuffer_destroy(&sb);
    if (rc != 0 && !(rc == POVTRACK_CLIENT_EREFUSED && acks.count == 1)) {
        povtrack_client_acks_free(&acks);
        return tl_cli_client_fail(cli, rc);
    }
    const struct povtrack_client_ack *a = &acks.acks[0];
    if (a->status == POVTRACK_ACK_OK || a->status == POVTRACK_ACK_DUPLICATE) {
        fprintf(cli->out, "%s %s (seq %llu%s)\n", done, target,
                (unsigned long long)a->seq,
                a->status == POVTRACK_ACK_DUPLICATE ? ", sent before" : "");
        rc = TL_EXIT_OK;
    } else {
        fprintf(stderr, "povtrack %s: %s not %s: %s\n", cmd, target, done,
                a->error != NULL ? a->error : "rejected");
        rc = TL_EXIT_FAIL;
    }
    povtrack_client_acks_free(&acks);
    return rc;
}

/* The amendment's id: given, or prefix + the record's id (+ "-n"). */
static int amend_id(const char *cmd, const char *given, const char *prefix,
                    const char *id, size_t n, char *out)
{
    if (given != NULL)
        snprintf(out, TL_AUDIT_ID_MAX + 1, "%s", given); /* checked */
    else if (!tl_audit_id(out, prefix, id, n)) {
        fprintf(stderr,
                "povtrack %s: the id %s%s would be longer than %d bytes; "
                "give --id\n",
                cmd, prefix, id, TL_AUDIT_ID_MAX);
        return TL_EXIT_USAGE;
    }
    return 0;
}

static int parse(const char *cmd, const char *usage, int argc, char **argv,
                 struct tl_cli *cli, struct amend_opts *o, bool sets)
{
    static const struct option longopts[] = {
        TL_COMMON_OPTIONS,
        {"reason", required_argument, NULL, 'r'},
        {"set", required_argument, NULL, 's'},
        {"yes", no_argument, NULL, 'y'},
        {"id", required_argument, NULL, 'i'},
        {0}};
    int c, rc;
    memset(o, 0, sizeof *o);
    while ((c = getopt_long(argc, argv, "r:s:yi:", longopts, NULL)) != -1) {
        rc = 0;
        if (c == TL_OPT_HELP) {
            fputs(usage, stdout);
            return TL_EXIT_HELP_SHOWN;
        } else if (c == 'r') {
            o->reason = optarg;
        } else if (c == 'y') {
            o->yes = true;
        } else if (c == 'i') {
            o->id = optarg;
            rc = tl_cli_id_prefix(cmd, optarg, 128);
        } else if (c == 's' && sets && o->nset < SETS_MAX &&
                   strchr(optarg, '=') != NULL) {
            o->set[o->nset++] = optarg;
        } else if (c == 's') {
            rc = tl_cli_usage(cmd,
                              sets ? "--set wants FIELD=VALUE (at most %d)"
                                   : "no --set for a void (%d)",
                              SETS_MAX);
        } else {
            rc = c == '?' ? tl_cli_badopt(cmd) : tl_cli_common(cli, c, optarg);
        }
        if (rc != 0)
            return rc;
    }
    if (argc - optind != 1)
        return tl_cli_usage(cmd, "give the id of one record");
    if (o->reason == NULL || o->reason[0] == '\0')
        return tl_cli_usage(cmd, "--reason is required: say why");
    if (sets && o->nset == 0)
        return tl_cli_usage(cmd, "nothing to correct: give --set FIELD=VALUE");
    return 0;
}

/* Both commands' start: the options, the record as it stands (which may
 * be amended), the amendment's id into aid; 0 with *a to free, or an exit
 * code (TL_EXIT_OK after --help). */
static int start(struct tl_cli *cli, const char *cmd, const char *usage,
                 int argc, char **argv, struct amend_opts *o,
                 struct tl_audit *a, char *aid)
{
    bool fix = strcmp(cmd, "correct") == 0;
    int rc = parse(cmd, usage, argc, argv, cli, o, fix);
    if (rc != 0)
        return rc == TL_EXIT_HELP_SHOWN ? TL_EXIT_OK : rc;
    const char *asked = argv[optind];
    if ((rc = tl_audit_fetch(cli, cmd, asked, a)) != 0)
        return rc;
    if ((rc = tl_audit_check(cmd, asked, a)) != 0 ||
        (rc = amend_id(cmd, o->id, fix ? "fix-" : "void-", a->id,
                       fix ? a->corrections + 1 : 0, aid)) != 0) {
        tl_audit_free(a);
        return rc;
    }
    return 0;
}

int tl_cmd_void(struct tl_cli *cli, int argc, char **argv)
{
    struct amend_opts o;
    struct tl_audit a = {0};
    char vid[TL_AUDIT_ID_MAX + 1], question[400];
    int rc = start(cli, "void", void_usage, argc, argv, &o, &a, vid);
    if (rc != 0 || a.answer == NULL)
        return rc;
    const char *id = a.id;
    fprintf(stderr, "%s  %s  (%s)\n", id, a.type,
            a.corrections > 0 ? "as corrected" : "as entered");
    tl_audit_fields(stderr, "  ", a.current);
    snprintf(question, sizeof question, "Void %s (reason: %s)?", id, o.reason);
    json_t *ev =
        tl_audit_voided(vid, id, a.type, json_object_get(a.current, "unit"),
                        (int64_t)time(NULL), o.reason);
    if (ev == NULL)
        rc = TL_EXIT_FAIL;
    else if ((rc = confirm("void", question, o.yes)) == 0)
        rc = publish(cli, "void", "voided", id, ev);
    json_decref(ev);
    tl_audit_free(&a);
    return rc;
}

/* The JSON value of "VALUE" for field key, whose value in the record is
 * old (NULL when absent): an integer where the record has one (thousands
 * separators allowed), a date for at and due, yes/no/true/false for a
 * boolean, else text.  NULL (after saying why) when it cannot be. */
static json_t *field_value(const char *key, const char *s, const json_t *old)
{
    if (strcmp(key, "at") == 0 || strcmp(key, "due") == 0) {
        struct tl_error err = {{0}};
        int64_t t;
        if (tl_parse_date(s, &t, &err) != 0) {
            fprintf(stderr, "povtrack correct: %s: %s\n", key, err.msg);
            return NULL;
        }
        return json_integer(t);
    }
    if (json_is_integer(old) || strcmp(key, "amount") == 0) {
        char digits[32];
        size_t n = 0;
        for (const char *p = s; *p != '\0'; p++) {
            if (*p >= '0' && *p <= '9' && n + 1 < sizeof digits)
                digits[n++] = *p;
            else if (*p != ',' && *p != '.' && *p != ' ')
                n = sizeof digits; /* not a number */
        }
        if (n == 0 || n >= sizeof digits - 1) {
            fprintf(stderr,
                    "povtrack correct: %s: \"%s\" is not a whole number\n", key,
                    s);
            return NULL;
        }
        digits[n] = '\0';
        errno = 0;
        long long v = strtoll(digits, NULL, 10);
        if (errno != 0) {
            fprintf(stderr, "povtrack correct: %s: %s is too large\n", key, s);
            return NULL;
        }
        return json_integer(v);
    }
    if (json_is_boolean(old) || strcmp(key, "in_kind") == 0) {
        if (strcmp(s, "yes") == 0 || strcmp(s, "true") == 0)
            return json_true();
        if (strcmp(s, "no") == 0 || strcmp(s, "false") == 0)
            return json_false();
        fprintf(stderr, "povtrack correct: %s: give yes or no, not \"%s\"\n",
                key, s);
        return NULL;
    }
    return json_string(s);
}

/* Apply "FIELD=VALUE" to the record ev (unit, at, household at the top,
 * the rest in data); 0 or an exit code. */
static int apply_set(json_t *ev, const char *set)
{
    char key[64];
    const char *eq = strchr(set, '=');
    size_t kl = (size_t)(eq - set);
    if (kl == 0 || kl >= sizeof key)
        return tl_cli_usage("correct", "--set %s: no field name", set);
    memcpy(key, set, kl);
    key[kl] = '\0';
    const char *val = eq + 1;
    bool top = strcmp(key, "unit") == 0 || strcmp(key, "at") == 0 ||
               strcmp(key, "household") == 0;
    if (strcmp(key, "id") == 0 || strcmp(key, "type") == 0 ||
        strcmp(key, "v") == 0)
        return tl_cli_usage("correct",
                            "--set %s: a record's %s cannot change (void it "
                            "and enter a new one)",
                            key, key);
    const json_t *old =
        json_object_get(top ? ev : json_object_get(ev, "data"), key);
    if (*val == '\0' && old == NULL)
        return tl_cli_usage("correct", "--set %s=: the record has no %s", key,
                            key);
    json_t *v = *val == '\0' ? NULL : field_value(key, val, old);
    if (v == NULL && *val != '\0')
        return TL_EXIT_USAGE;
    tl_audit_put(ev, key, v);
    json_decref(v);
    return 0;
}

int tl_cmd_correct(struct tl_cli *cli, int argc, char **argv)
{
    struct amend_opts o;
    struct tl_audit a = {0};
    char fid[TL_AUDIT_ID_MAX + 1], question[400];
    int rc = start(cli, "correct", correct_usage, argc, argv, &o, &a, fid);
    if (rc != 0 || a.answer == NULL)
        return rc;
    const char *id = a.id;
    json_t *now = json_deep_copy(a.current);
    for (size_t i = 0; rc == 0 && now != NULL && i < o.nset; i++)
        rc = apply_set(now, o.set[i]);
    if (now == NULL)
        rc = TL_EXIT_FAIL;
    if (rc == 0) {
        fprintf(stderr, "%s  %s  (%s)\n", id, a.type,
                a.corrections > 0 ? "as corrected" : "as entered");
        if (tl_audit_diff(stderr, "  ", a.current, now) == 0) {
            fprintf(stderr,
                    "povtrack correct: nothing to correct: %s already has "
                    "these values\n",
                    id);
            rc = TL_EXIT_FAIL;
        }
    }
    json_t *ev = NULL;
    if (rc == 0) {
        ev = tl_audit_corrected(fid, id, a.type, now, o.reason);
        rc = ev != NULL ? 0 : TL_EXIT_FAIL;
    }
    snprintf(question, sizeof question, "Correct %s (reason: %s)?", id,
             o.reason);
    if (rc == 0 && (rc = confirm("correct", question, o.yes)) == 0)
        rc = publish(cli, "correct", "corrected", id, ev);
    json_decref(ev);
    json_decref(now);
    tl_audit_free(&a);
    return rc;
}
