/*
 * tl_cmd_alerts.c - `povtrack alerts`: list past alerts, follow new ones.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "tl_cli.h"
#include "tl_fmt.h"
#include "tl_mp.h"

#define PAGE 10000
#define FOLLOW_POLL_MS 250

static const char alerts_usage[] =
    "Usage: povtrack alerts [--since SEQ] [--limit N] [--follow]\n"
    "\n"
    "List the alerts raised by events after sequence SEQ (default 0: all),\n"
    "at most N (default 1000), one a line: sequence of the event, time,\n"
    "severity, code, unit (and household), message.  With --follow, keep\n"
    "printing new alerts as povtrackd publishes them, until interrupted\n"
    "(Ctrl-C).  The subscription starts before the listing, so no alert is\n"
    "missed in between; an alert seen twice is printed once.  --json prints\n"
    "each alert as a JSON object.\n";

/* An alert's identity: the event that raised it, its code and unit. */
struct key {
    int64_t seq;
    char code[96];
    char unit[16];
};

struct seen {
    struct key *keys;
    size_t n, cap;
    int64_t max_seq;
};

static int key_cmp(const void *a, const void *b)
{
    const struct key *x = a, *y = b;
    int c;

    if (x->seq != y->seq)
        return x->seq < y->seq ? -1 : 1;
    c = strcmp(x->code, y->code);
    return c != 0 ? c : strcmp(x->unit, y->unit);
}

static void alert_key(const msgpack_object *a, struct key *k)
{
    memset(k, 0, sizeof(*k));
    if (!tl_mp_i64(a, "seq", &k->seq))
        k->seq = -1;
    tl_mp_str(a, "code", k->code, sizeof(k->code));
    tl_mp_str(a, "unit", k->unit, sizeof(k->unit));
}

/* Linear search while listing (keys arrive in sequence order, so the last
 * few are the only candidates); sorted before following. */
static bool seen_has(const struct seen *s, const struct key *k, bool sorted)
{
    if (sorted)
        return s->n > 0 &&
               bsearch(k, s->keys, s->n, sizeof(*k), key_cmp) != NULL;
    for (size_t i = s->n; i-- > 0;) {
        if (s->keys[i].seq < k->seq)
            return false;
        if (key_cmp(&s->keys[i], k) == 0)
            return true;
    }
    return false;
}

static int seen_add(struct seen *s, const struct key *k)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 256;
        struct key *p = realloc(s->keys, cap * sizeof(*p));
        if (p == NULL)
            return -1;
        s->keys = p;
        s->cap = cap;
    }
    s->keys[s->n++] = *k;
    if (k->seq > s->max_seq)
        s->max_seq = k->seq;
    return 0;
}

int tl_print_alert(struct tl_cli *cli, const msgpack_object *a)
{
    char code[96] = "?", sev[16] = "?", unit[16] = "?", hh[80] = "",
         msg[1024] = "", when[TL_FMT_TIME_MAX] = "-";
    int64_t seq = 0, at;

    if (cli->json)
        return tl_cli_print_json(cli, a);
    tl_mp_i64(a, "seq", &seq);
    if (tl_mp_i64(a, "at", &at))
        tl_fmt_time(at, false, when);
    tl_mp_str(a, "code", code, sizeof(code));
    tl_mp_str(a, "severity", sev, sizeof(sev));
    tl_mp_str(a, "unit", unit, sizeof(unit));
    tl_mp_str(a, "household", hh, sizeof(hh));
    if (!tl_mp_str(a, "message", msg, sizeof(msg)))
        snprintf(msg, sizeof(msg), "(message missing or too long)");
    fprintf(cli->out, "#%lld  %s  %-8s  %s  unit %s%s%s  %s\n", (long long)seq,
            when, sev, code, unit, hh[0] ? " household " : "", hh, msg);
    return TL_EXIT_OK;
}

/* Print alerts after since, up to limit, recording them in s. */
static int list(struct tl_cli *cli, long long since, long long limit,
                struct seen *s)
{
    while (limit > 0) {
        long long page = limit < PAGE ? limit : PAGE;
        struct povtrack_client_msg reply;
        const msgpack_object *arr;
        json_t *req = json_pack("{s:s,s:I,s:I}", "op", "alerts", "since",
                                (json_int_t)since, "limit", (json_int_t)page);
        size_t fresh = 0;
        int64_t first = -1, last = -1;
        int rc;

        if (req == NULL)
            return TL_EXIT_FAIL;
        rc = tl_cli_request(cli, req, &reply);
        json_decref(req);
        if (rc != 0)
            return rc;
        arr = tl_mp_get(&reply.obj, "alerts");
        if (arr == NULL || arr->type != MSGPACK_OBJECT_ARRAY) {
            povtrack_client_msg_free(&reply);
            fprintf(stderr, "povtrack: the reply has no alerts\n");
            return TL_EXIT_FAIL;
        }
        for (uint32_t i = 0; rc == 0 && i < arr->via.array.size; i++) {
            struct key k;
            alert_key(&arr->via.array.ptr[i], &k);
            if (i == 0)
                first = k.seq;
            last = k.seq;
            if (seen_has(s, &k, false))
                continue;
            if (seen_add(s, &k) != 0) {
                fprintf(stderr, "povtrack: out of memory\n");
                rc = TL_EXIT_FAIL;
                break;
            }
            fresh++;
            limit--;
            rc = tl_print_alert(cli, &arr->via.array.ptr[i]);
        }
        bool full = arr->via.array.size >= (uint32_t)page;
        povtrack_client_msg_free(&reply);
        if (rc != 0 || !full || fresh == 0)
            return rc;
        /* "since" is exclusive and one event can raise several alerts: go
         * back one so a page cut inside a sequence loses nothing (the
         * overlap is deduplicated). */
        since = first == last ? last : last - 1;
    }
    return TL_EXIT_OK;
}

static int follow(struct tl_cli *cli, struct seen *s, const sigset_t *stop)
{
    if (s->n > 0)
        qsort(s->keys, s->n, sizeof(*s->keys), key_cmp);
    for (;;) {
        struct povtrack_client_msg m;
        sigset_t pending;
        int rc;

        if (fflush(cli->out) != 0)
            return TL_EXIT_FAIL;
        rc = povtrack_client_recv_alert(cli->client, FOLLOW_POLL_MS, &m);
        if (rc == 0) {
            struct key k;
            alert_key(&m.obj, &k);
            /* Only alerts listed already can repeat. */
            if (k.seq > s->max_seq || !seen_has(s, &k, true))
                rc = tl_print_alert(cli, &m.obj);
            povtrack_client_msg_free(&m);
            if (rc != 0)
                return rc;
        } else if (rc == POVTRACK_CLIENT_EPROTO) {
            fprintf(stderr, "povtrack: skipped an alert: %s\n",
                    povtrack_client_error(cli->client));
        } else if (rc != POVTRACK_CLIENT_ETIMEDOUT &&
                   rc != POVTRACK_CLIENT_EINTR) {
            return tl_cli_client_fail(cli, rc);
        }
        if (sigpending(&pending) == 0 &&
            (sigismember(&pending, SIGINT) == 1 ||
             sigismember(&pending, SIGTERM) == 1)) {
            int sig;
            sigwait(stop, &sig);
            return TL_EXIT_OK;
        }
    }
}

int tl_cmd_alerts(struct tl_cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {
        TL_COMMON_OPTIONS,
        {"since", required_argument, NULL, 's'},
        {"limit", required_argument, NULL, 'l'},
        {"follow", no_argument, NULL, 'f'},
        {0}};
    long long since = 0, limit = 1000;
    bool follow_opt = false;
    struct seen s = {NULL, 0, 0, -1};
    sigset_t stop, old;
    int c, rc = 0;

    while ((c = getopt_long(argc, argv, "f", longopts, NULL)) != -1) {
        if (c == TL_OPT_HELP) {
            fputs(alerts_usage, stdout);
            return TL_EXIT_OK;
        }
        if (c == 'f') {
            follow_opt = true;
            continue;
        }
        rc = c == 's' ? tl_cli_uint("alerts", "--since", optarg, INT64_MAX - 1,
                                    &since)
             : c == 'l'
                 ? tl_cli_uint("alerts", "--limit", optarg, INT64_MAX, &limit)
             : c == '?' ? tl_cli_badopt("alerts")
                        : tl_cli_common(cli, c, optarg);
        if (rc != 0)
            return rc;
    }
    if (optind < argc)
        return tl_cli_usage("alerts", "unexpected argument \"%s\"",
                            argv[optind]);
    if (follow_opt) {
        /* Blocked rather than handled: the loop polls sigpending() between
         * short waits, which needs no global flag, and an interrupt while
         * listing ends the command only once the listing is complete. */
        sigemptyset(&stop);
        sigaddset(&stop, SIGINT);
        sigaddset(&stop, SIGTERM);
        sigprocmask(SIG_BLOCK, &stop, &old);
        rc = povtrack_client_subscribe(cli->client, "alert.");
        if (rc != 0)
            rc = tl_cli_client_fail(cli, rc);
    }
    if (rc == 0)
        rc = list(cli, since, limit, &s);
    if (rc == 0 && follow_opt)
        rc = follow(cli, &s, &stop);
    if (follow_opt)
        sigprocmask(SIG_SETMASK, &old, NULL);
    free(s.keys);
    return rc;
}
