/*
 * tl_cmd_query.c - `povtrack query`, `ping`, `stats` and `log`.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tl_cli.h"
#include "tl_fmt.h"
#include "tl_json.h"
#include "tl_mp.h"
#include "tl_query.h"

static const char query_usage[] =
    "Usage: povtrack query PLUGIN [KEY=VALUE | KEY:=JSON]... [--min-seq N]\n"
    "\n"
    "Ask PLUGIN for an indicator; the KEY=VALUE pairs form its query map q.\n"
    "A VALUE that looks like an integer is sent as an integer, except for\n"
    "the keys unit, parent and household, whose codes are strings; KEY:=JSON\n"
    "sends any JSON value as it is (year:=2024, unit:='\"60\"').  With\n"
    "--min-seq the daemon answers only once the plugin has applied record N.\n"
    "\n"
    "  povtrack query poverty unit=60 year=2024\n"
    "  povtrack query fund unit=593 from=1704042000\n"
    "\n"
    "poverty and fund results are shown as tables (money as \"1,500,000 "
    "VND\",\n"
    "rates as \"3.12%\", changes as \"0.45 pp\"); other plugins' results are\n"
    "printed as indented key: value lines.  --json prints the reply.\n";

static const char ping_usage[] =
    "Usage: povtrack ping [--wait]\n"
    "\n"
    "Check that povtrackd answers on the query endpoint and print its\n"
    "version and the round-trip time.  Exit status 3 when it does not, 1\n"
    "when it answers that its plugin host is starting or restarting.  With\n"
    "--wait, while it answers that, ask again after the time it says to\n"
    "retry, until --timeout ms have passed since the first ask: the\n"
    "handshake of a script that has just started povtrackd.\n";

static const char stats_usage[] =
    "Usage: povtrack stats\n"
    "\n"
    "Print the number of events in the log, the last sequence number, and\n"
    "for each plugin its version, the last record it applied and its lag.\n";

static const char log_usage[] =
    "Usage: povtrack log [--from SEQ] [--limit N]\n"
    "\n"
    "Print records of the event log from sequence SEQ (default 1), at most N\n"
    "(default 100), one a line: sequence, time received (ISO-8601, UTC),\n"
    "publisher, and the event as JSON, separated by tabs.  With --json each\n"
    "record is printed as a JSON object.\n";

/* Parse the options of a command that has the common ones and, when flag
 * is not NULL, the option --flag, which sets *set.  Returns 0,
 * TL_EXIT_HELP_SHOWN after printing the usage, or an exit code. */
static int flag_options(struct tl_cli *cli, int argc, char **argv,
                        const char *usage, const char *flag, bool *set)
{
    /* Without a flag its entry, named NULL, ends the table. */
    const struct option longopts[] = {
        TL_COMMON_OPTIONS, {flag, no_argument, NULL, 'f'}, {0}};
    int c, rc;

    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (c == TL_OPT_HELP) {
            fputs(usage, stdout);
            return TL_EXIT_HELP_SHOWN;
        }
        if (c == '?')
            return tl_cli_badopt(argv[0]);
        if (c == 'f') {
            *set = true;
            continue;
        }
        rc = tl_cli_common(cli, c, optarg);
        if (rc != 0)
            return rc;
    }
    if (optind < argc)
        return tl_cli_usage(argv[0], "unexpected argument \"%s\"",
                            argv[optind]);
    return 0;
}

/* Parse the options of a command that has only the common ones. */
static int plain_options(struct tl_cli *cli, int argc, char **argv,
                         const char *usage)
{
    return flag_options(cli, argc, argv, usage, NULL, NULL);
}

static int add_arg(json_t *q, const char *arg)
{
    const char *eq = strchr(arg, '=');
    char key[128];
    size_t klen;
    json_t *v;
    bool raw;

    if (eq == NULL || eq == arg)
        return tl_cli_usage("query", "\"%s\" is not KEY=VALUE", arg);
    raw = eq[-1] == ':';
    klen = (size_t)(eq - arg) - (raw ? 1 : 0);
    if (klen == 0 || klen >= sizeof(key))
        return tl_cli_usage("query", "bad key in \"%s\"", arg);
    memcpy(key, arg, klen);
    key[klen] = '\0';
    if (raw) {
        json_error_t jerr;
        v = json_loads(eq + 1, JSON_DECODE_ANY, &jerr);
        if (v == NULL)
            return tl_cli_usage("query", "%s: invalid JSON: %s", key,
                                jerr.text);
    } else {
        int rc = tl_query_param(q, key, eq + 1);
        if (rc == POVTRACK_EINVALID)
            return tl_cli_usage("query", "%s: value is not valid UTF-8", key);
        if (rc != 0) {
            fprintf(stderr, "povtrack: out of memory\n");
            return TL_EXIT_FAIL;
        }
        return 0;
    }
    if (json_object_set_new(q, key, v) != 0) {
        fprintf(stderr, "povtrack: out of memory\n");
        return TL_EXIT_FAIL;
    }
    return 0;
}

/* One "name  value" line of a two-column layout. */
static void row(FILE *f, const char *name, const char *value)
{
    tl_print_cell(f, name, 20, false);
    fprintf(f, "%s\n", value);
}

static const char *num_or_dash(const msgpack_object *m, const char *key,
                               char *buf)
{
    int64_t v;

    return tl_mp_i64(m, key, &v) ? tl_fmt_int(v, buf) : "-";
}

static void show_poverty(FILE *f, const msgpack_object *r)
{
    char a[TL_FMT_INT_MAX], line[128], unit[16] = "?";
    double rate;

    tl_mp_str(r, "unit", unit, sizeof(unit));
    row(f, "unit", unit);
    int64_t year;
    if (tl_mp_i64(r, "year", &year))
        snprintf(a, sizeof(a), "%lld", (long long)year);
    row(f, "year", tl_mp_i64(r, "year", &year) ? a : "-");
    row(f, "households", num_or_dash(r, "households", a));
    snprintf(line, sizeof(line), "%s", num_or_dash(r, "poor", a));
    if (tl_mp_num(r, "poor_rate", &rate))
        snprintf(line + strlen(line), sizeof(line) - strlen(line), " (%.2f%%)",
                 rate);
    row(f, "poor", line);
    snprintf(line, sizeof(line), "%s", num_or_dash(r, "near_poor", a));
    if (tl_mp_num(r, "near_poor_rate", &rate))
        snprintf(line + strlen(line), sizeof(line) - strlen(line), " (%.2f%%)",
                 rate);
    row(f, "near poor", line);
    row(f, "escaped", num_or_dash(r, "escaped", a));
    row(f, "newly poor", num_or_dash(r, "newly_poor", a));
    row(f, "relapsed", num_or_dash(r, "relapsed", a));
    if (tl_mp_num(r, "reduction_pp", &rate))
        snprintf(line, sizeof(line), "%.2f pp", rate);
    else
        snprintf(line, sizeof(line), "- (no rate for the year before)");
    row(f, "reduction", line);
}

static const char *vnd_or_dash(const msgpack_object *m, const char *key,
                               char *buf)
{
    int64_t v;

    return tl_mp_i64(m, key, &v) ? tl_fmt_vnd(v, buf) : "-";
}

void tl_show_fund(FILE *f, const msgpack_object *r)
{
    char a[TL_FMT_VND_MAX], b[TL_FMT_INT_MAX], line[128];
    const msgpack_object *bp = tl_mp_get(r, "by_purpose");

    snprintf(line, sizeof(line), "%s (%s donations)",
             vnd_or_dash(r, "received", a), num_or_dash(r, "donations", b));
    row(f, "received", line);
    row(f, "pledged", vnd_or_dash(r, "pledged", a));
    row(f, "pledge outstanding", vnd_or_dash(r, "pledge_outstanding", a));
    row(f, "disbursed", vnd_or_dash(r, "disbursed", a));
    int64_t balance;
    if (tl_mp_i64(r, "balance", &balance) && balance < 0) {
        /* Money received higher up (the district's or the province's
         * fund) and paid to households here: not a deficit. */
        snprintf(line, sizeof(line),
                 "%s (more paid out here than received here, as when a "
                 "higher level's fund pays households of this unit)",
                 tl_fmt_vnd(balance, a));
        row(f, "balance", line);
    } else {
        row(f, "balance", vnd_or_dash(r, "balance", a));
    }
    if (bp == NULL || bp->type != MSGPACK_OBJECT_MAP)
        return;
    fprintf(f, "disbursed by purpose\n");
    for (uint32_t i = 0; i < bp->via.map.size; i++) {
        const msgpack_object *k = &bp->via.map.ptr[i].key;
        const msgpack_object *v = &bp->via.map.ptr[i].val;
        char name[64];
        if (k->type != MSGPACK_OBJECT_STR || k->via.str.size > 60)
            continue;
        snprintf(name, sizeof(name), "  %.*s", (int)k->via.str.size,
                 k->via.str.ptr);
        row(f, name,
            v->type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
                    v->via.u64 <= (uint64_t)INT64_MAX
                ? tl_fmt_vnd((int64_t)v->via.u64, a)
                : "-");
    }
}

int tl_cmd_query(struct tl_cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {
        TL_COMMON_OPTIONS, {"min-seq", required_argument, NULL, 'm'}, {0}};
    struct povtrack_client_msg reply;
    msgpack_sbuffer req;
    json_t *q = NULL;
    long long min_seq = -1;
    const char *plugin;
    int c, rc = 0;

    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (c == TL_OPT_HELP) {
            fputs(query_usage, stdout);
            return TL_EXIT_OK;
        }
        rc = c == 'm'   ? tl_cli_uint("query", "--min-seq", optarg, INT64_MAX,
                                      &min_seq)
             : c == '?' ? tl_cli_badopt("query")
                        : tl_cli_common(cli, c, optarg);
        if (rc != 0)
            return rc;
    }
    if (optind >= argc)
        return tl_cli_usage("query", "which plugin? (poverty, fund, ...)");
    plugin = argv[optind++];
    q = json_object();
    if (q == NULL) {
        fprintf(stderr, "povtrack: out of memory\n");
        return TL_EXIT_FAIL;
    }
    for (int i = optind; rc == 0 && i < argc; i++)
        rc = add_arg(q, argv[i]);
    msgpack_sbuffer_init(&req);
    if (rc == 0)
        rc = tl_query_pack(plugin, q, min_seq, &req);
    json_decref(q);
    if (rc == 0)
        rc = tl_cli_send(cli, req.data, req.size, &reply);
    msgpack_sbuffer_destroy(&req);
    if (rc != 0)
        return rc;
    if (cli->json) {
        rc = tl_cli_print_json(cli, &reply.obj);
    } else {
        const msgpack_object *r = tl_mp_get(&reply.obj, "result");
        if (r == NULL) {
            fprintf(stderr, "povtrack: the reply has no result\n");
            rc = TL_EXIT_FAIL;
        } else if (strcmp(plugin, "poverty") == 0 &&
                   r->type == MSGPACK_OBJECT_MAP) {
            show_poverty(cli->out, r);
        } else if (strcmp(plugin, "fund") == 0 &&
                   r->type == MSGPACK_OBJECT_MAP) {
            char unit[16] = "?";
            tl_mp_str(r, "unit", unit, sizeof(unit));
            row(cli->out, "unit", unit);
            tl_show_fund(cli->out, r);
        } else if (tl_mp_show(cli->out, r, 0) != 0) {
            rc = TL_EXIT_FAIL;
        }
    }
    povtrack_client_msg_free(&reply);
    return rc;
}

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* The wait povtrackd asks for in a refusal, "retry_after_ms" (sent while
 * its plugin host restarts); -1 when the refusal has none. */
static int64_t retry_after(const struct povtrack_client_msg *reply)
{
    int64_t ms;
    return tl_mp_i64(&reply->obj, "retry_after_ms", &ms) && ms >= 0 ? ms : -1;
}

int tl_cmd_ping(struct tl_cli *cli, int argc, char **argv)
{
    struct povtrack_client_msg reply;
    char version[64] = "?";
    double t0, deadline;
    bool wait = false;
    int rc = flag_options(cli, argc, argv, ping_usage, "wait", &wait);

    if (rc != 0)
        return rc == TL_EXIT_HELP_SHOWN ? TL_EXIT_OK : rc;
    deadline = now_ms() + povtrack_client_timeout(cli->client);
    for (;;) {
        int64_t retry, left;
        t0 = now_ms();
        rc = povtrack_client_simple(cli->client, "ping", &reply);
        if (rc != POVTRACK_CLIENT_EREFUSED || !wait ||
            (retry = retry_after(&reply)) < 0 ||
            (left = (int64_t)(deadline - now_ms())) <= 0)
            break;
        povtrack_client_msg_free(&reply);
        /* The daemon's own estimate, not a guess: as it says. */
        if (retry > left)
            retry = left;
        struct timespec ts = {retry / 1000, (long)(retry % 1000) * 1000000};
        nanosleep(&ts, NULL);
    }
    if (rc != 0) {
        povtrack_client_msg_free(&reply);
        return tl_cli_client_fail(cli, rc);
    }
    if (cli->json) {
        rc = tl_cli_print_json(cli, &reply.obj);
    } else {
        tl_mp_str(&reply.obj, "version", version, sizeof(version));
        fprintf(cli->out, "povtrackd %s at %s: ok (%.1f ms)\n", version,
                povtrack_client_endpoint(cli->client, POVTRACK_CLIENT_QUERY),
                now_ms() - t0);
    }
    povtrack_client_msg_free(&reply);
    return rc;
}

int tl_cmd_stats(struct tl_cli *cli, int argc, char **argv)
{
    struct povtrack_client_msg reply;
    const msgpack_object *plugins, *mirror;
    char a[TL_FMT_INT_MAX];
    int rc = plain_options(cli, argc, argv, stats_usage);

    if (rc != 0)
        return rc == TL_EXIT_HELP_SHOWN ? TL_EXIT_OK : rc;
    rc = povtrack_client_simple(cli->client, "stats", &reply);
    if (rc != 0) {
        povtrack_client_msg_free(&reply);
        return tl_cli_client_fail(cli, rc);
    }
    if (cli->json) {
        rc = tl_cli_print_json(cli, &reply.obj);
        povtrack_client_msg_free(&reply);
        return rc;
    }
    fprintf(cli->out, "events    %s\n", num_or_dash(&reply.obj, "events", a));
    fprintf(cli->out, "last_seq  %s\n", num_or_dash(&reply.obj, "last_seq", a));
    mirror = tl_mp_get(&reply.obj, "mirror");
    if (mirror != NULL && mirror->type == MSGPACK_OBJECT_MAP) {
        /* [mirror]: how far JetStream holds the log (README, Many
         * provinces). */
        char state[32] = "?", stream[80] = "?", error[300] = "";
        char acked[TL_FMT_INT_MAX], lag[TL_FMT_INT_MAX], secs[TL_FMT_INT_MAX];
        tl_mp_str(mirror, "state", state, sizeof(state));
        tl_mp_str(mirror, "stream", stream, sizeof(stream));
        tl_mp_str(mirror, "error", error, sizeof(error));
        fprintf(
            cli->out,
            "mirror    %s, stream %s holds 1..%s, lag %s records, %s s%s%s\n",
            state, stream, num_or_dash(mirror, "acked_seq", acked),
            num_or_dash(mirror, "lag_records", lag),
            num_or_dash(mirror, "lag_seconds", secs), error[0] ? ": " : "",
            error);
    }
    plugins = tl_mp_get(&reply.obj, "plugins");
    if (plugins != NULL && plugins->type == MSGPACK_OBJECT_ARRAY &&
        plugins->via.array.size > 0) {
        fprintf(cli->out, "\n%-16s %-10s %14s %10s  %s\n", "plugin", "version",
                "applied_seq", "lag", "status");
        for (uint32_t i = 0; i < plugins->via.array.size; i++) {
            const msgpack_object *p = &plugins->via.array.ptr[i];
            char name[64] = "?", ver[32] = "?", status[32] = "?";
            char error[1200] = "";
            tl_mp_str(p, "name", name, sizeof(name));
            tl_mp_str(p, "version", ver, sizeof(ver));
            tl_mp_str(p, "status", status, sizeof(status));
            tl_mp_str(p, "error", error, sizeof(error));
            tl_print_cell(cli->out, name, 16, false);
            fputc(' ', cli->out);
            tl_print_cell(cli->out, ver, 10, false);
            fprintf(cli->out, " %14s", num_or_dash(p, "applied_seq", a));
            fprintf(cli->out, " %10s  %s%s%s\n", num_or_dash(p, "lag", a),
                    status, error[0] ? ": " : "", error);
        }
    }
    povtrack_client_msg_free(&reply);
    return TL_EXIT_OK;
}

static int print_record(struct tl_cli *cli, const msgpack_object *r)
{
    struct tl_error err = {{0}};
    char when[TL_FMT_TIME_MAX], pub[256] = "";
    int64_t seq = 0, received = 0;
    const msgpack_object *ev = tl_mp_get(r, "event");

    if (cli->json)
        return tl_cli_print_json(cli, r);
    if (!tl_mp_i64(r, "seq", &seq) || !tl_mp_i64(r, "received", &received) ||
        ev == NULL) {
        fprintf(stderr, "povtrack: a record lacks seq, received or event\n");
        return TL_EXIT_FAIL;
    }
    if (!tl_mp_str(r, "publisher", pub, sizeof(pub)))
        snprintf(pub, sizeof(pub), "-");
    fprintf(cli->out, "%lld\t%s\t%s\t", (long long)seq,
            tl_fmt_time(received, true, when), pub);
    if (tl_json_print(cli->out, ev, &err) != 0) {
        fprintf(stderr, "povtrack: record %lld: %s\n", (long long)seq, err.msg);
        return TL_EXIT_FAIL;
    }
    return TL_EXIT_OK;
}

int tl_cmd_log(struct tl_cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {
        TL_COMMON_OPTIONS,
        {"from", required_argument, NULL, 'f'},
        {"limit", required_argument, NULL, 'l'},
        {0}};
    long long from = 1, limit = 100;
    int c, rc = 0;

    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (c == TL_OPT_HELP) {
            fputs(log_usage, stdout);
            return TL_EXIT_OK;
        }
        rc = c == 'f' ? tl_cli_uint("log", "--from", optarg, INT64_MAX, &from)
             : c == 'l'
                 ? tl_cli_uint("log", "--limit", optarg, INT64_MAX, &limit)
             : c == '?' ? tl_cli_badopt("log")
                        : tl_cli_common(cli, c, optarg);
        if (rc != 0)
            return rc;
    }
    if (optind < argc)
        return tl_cli_usage("log", "unexpected argument \"%s\"", argv[optind]);
    /* The daemon answers at most 10000 records a request: page. */
    while (limit > 0) {
        long long page = limit < 10000 ? limit : 10000;
        struct povtrack_client_msg reply;
        const msgpack_object *recs;
        json_t *req = json_pack("{s:s,s:I,s:I}", "op", "read", "from",
                                (json_int_t)from, "limit", (json_int_t)page);
        int64_t seq = 0;

        if (req == NULL)
            return TL_EXIT_FAIL;
        rc = tl_cli_request(cli, req, &reply);
        json_decref(req);
        if (rc != 0)
            return rc;
        recs = tl_mp_get(&reply.obj, "records");
        if (recs == NULL || recs->type != MSGPACK_OBJECT_ARRAY) {
            povtrack_client_msg_free(&reply);
            fprintf(stderr, "povtrack: the reply has no records\n");
            return TL_EXIT_FAIL;
        }
        for (uint32_t i = 0; rc == 0 && i < recs->via.array.size; i++) {
            rc = print_record(cli, &recs->via.array.ptr[i]);
            if (rc == 0 && !tl_mp_i64(&recs->via.array.ptr[i], "seq", &seq))
                rc = TL_EXIT_FAIL;
        }
        if (rc != 0 || recs->via.array.size < (uint32_t)page) {
            povtrack_client_msg_free(&reply);
            return rc;
        }
        povtrack_client_msg_free(&reply);
        limit -= page;
        from = seq + 1;
    }
    return TL_EXIT_OK;
}
