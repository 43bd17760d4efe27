/*
 * tl_cmd_alerts.c - `povtrack alerts`: list past alerts, follow new ones.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "tl_alertfilter.h"
#include "tl_cli.h"
#include "tl_fmt.h"
#include "tl_mp.h"
#include "tl_unitdir.h"

#define PAGE 10000 /* the most the alerts op returns at once */
#define FOLLOW_POLL_MS 250

static const char alerts_usage[] =
    "Usage: povtrack alerts [--since SEQ] [--limit N] [--resolved] "
    "[--follow]\n"
    "                       [--severity LEVEL] [--code PREFIX] [--unit "
    "CODE]\n"
    "\n"
    "List the alerts raised by events after sequence SEQ (default 0: all),\n"
    "at most N (default 1000), one a line: sequence of the event, time in\n"
    "Vietnam (UTC+7), severity, code, unit with its name (and household),\n"
    "message.  An alert whose record was later voided or corrected is\n"
    "resolved: it is kept, but listed only with --resolved, marked\n"
    "\"resolved at #N: voided (reason)\" or \"corrected (reason)\".\n"
    "With --follow, keep printing new alerts as povtrackd publishes them,\n"
    "until interrupted (Ctrl-C).  The subscription starts\n"
    "before the listing, so no alert is missed in between, and every stored\n"
    "alert is printed once.  --json prints each alert as the JSON object\n"
    "povtrackd stores (unix seconds, the unit's code).\n"
    "Only some: --severity info|warning|critical, --code PREFIX (\"fund.\"\n"
    "for the fund's, a whole code for one kind), --unit CODE (alerts\n"
    "filed under that unit itself); N then counts the alerts printed.\n";

/*
 * The alerts listed so far.  What tells two alerts apart is their whole
 * content (the msgpack bytes the daemon stores and publishes): alerts of
 * one event can share code and unit and differ only in the household.
 * Each entry stands for one stored alert, so two stored alerts with the
 * same content are two entries, and each matches one copy.
 */
struct seen_alert {
    int64_t seq;
    size_t off, len;  /* in seen.bytes */
    const char *data; /* seen.bytes + off, once the listing is done */
    bool relisted;    /* matched again by the page being read */
    bool followed;    /* matched by a published copy */
};

struct seen {
    struct seen_alert *a;
    size_t n, cap;
    char *bytes;
    size_t nbytes, capbytes;
    size_t cut; /* a[cut..n): the alerts of the last sequence listed */
    int64_t max_seq;
    bool resolved;                 /* list resolved alerts too (--resolved) */
    struct tl_alert_filter filter; /* --severity, --code, --unit */
    msgpack_sbuffer pack;          /* the content of the alert in hand */
    struct tl_unitdir *units;      /* the names of units, for people */
};

static int64_t alert_seq(const msgpack_object *a)
{
    int64_t seq;
    return tl_mp_i64(a, "seq", &seq) ? seq : -1;
}

/* Pack a's content into s->pack; false when out of memory. */
static bool content(struct seen *s, const msgpack_object *a)
{
    msgpack_packer pk;
    msgpack_sbuffer_clear(&s->pack);
    msgpack_packer_init(&pk, &s->pack, msgpack_sbuffer_write);
    return msgpack_pack_object(&pk, *a) == 0;
}

static bool same(const struct seen *s, const struct seen_alert *e,
                 const msgpack_sbuffer *c)
{
    return e->len == c->size && memcmp(s->bytes + e->off, c->data, e->len) == 0;
}

static int seen_add(struct seen *s, int64_t seq)
{
    const msgpack_sbuffer *c = &s->pack;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 256;
        struct seen_alert *p = realloc(s->a, cap * sizeof(*p));
        if (p == NULL)
            return POVTRACK_ENOMEM;
        s->a = p;
        s->cap = cap;
    }
    if (s->capbytes - s->nbytes < c->size) {
        size_t cap = s->capbytes ? s->capbytes : 65536;
        while (cap - s->nbytes < c->size)
            cap *= 2;
        char *p = realloc(s->bytes, cap);
        if (p == NULL)
            return POVTRACK_ENOMEM;
        s->bytes = p;
        s->capbytes = cap;
    }
    memcpy(s->bytes + s->nbytes, c->data, c->size);
    if (s->n == 0 || s->a[s->n - 1].seq != seq)
        s->cut = s->n;
    s->a[s->n++] =
        (struct seen_alert){.seq = seq, .off = s->nbytes, .len = c->size};
    s->nbytes += c->size;
    if (seq > s->max_seq)
        s->max_seq = seq;
    return 0;
}

void tl_alert_line(FILE *f, const char *indent, struct tl_unitdir *units,
                   int64_t seq, const int64_t *at, const char *severity,
                   const char *code, const char *unit, const char *household,
                   const char *message)
{
    char when[TL_FMT_TIME_MAX] = "-", label[TL_UNIT_NAME_MAX + 16];

    if (at != NULL)
        tl_fmt_vn_time(*at, when);
    tl_unitdir_label(units, unit, label, sizeof(label));
    fprintf(f, "%s#%lld  %s  %-8s  %s  unit %s%s%s  %s\n", indent,
            (long long)seq, when, severity, code, label,
            household[0] ? " household " : "", household, message);
}

int tl_print_alert(struct tl_cli *cli, struct tl_unitdir *units,
                   const msgpack_object *a)
{
    /* unit: a unit's code, or the plugin's name in the host's own alerts
     * (host.plugin_quarantined). */
    char code[96] = "?", sev[16] = "?", unit[80] = "?", hh[80] = "",
         msg[1024] = "";
    int64_t seq = 0, at;
    bool has_at;

    if (cli->json)
        return tl_cli_print_json(cli, a);
    tl_mp_i64(a, "seq", &seq);
    has_at = tl_mp_i64(a, "at", &at);
    tl_mp_str(a, "code", code, sizeof(code));
    tl_mp_str(a, "severity", sev, sizeof(sev));
    tl_mp_str(a, "unit", unit, sizeof(unit));
    tl_mp_str(a, "household", hh, sizeof(hh));
    if (!tl_mp_str(a, "message", msg, sizeof(msg)))
        snprintf(msg, sizeof(msg), "(message missing or too long)");
    int64_t by;
    if (tl_mp_i64(a, "resolved_seq", &by)) {
        /* Resolved: its record was voided or corrected since. */
        char how[32] = "?", why[300] = "";
        size_t n = strlen(msg);
        tl_mp_str(a, "resolved_by", how, sizeof(how));
        tl_mp_str(a, "resolved_reason", why, sizeof(why));
        /* In the clerk's words, not the event type's name. */
        const char *did = strcmp(how, "record.corrected") == 0 ? "corrected"
                          : strcmp(how, "record.voided") == 0  ? "voided"
                                                               : how;
        snprintf(msg + n, sizeof(msg) - n, "  [resolved at #%lld: %s (%s)]",
                 (long long)by, did, why);
    }
    tl_alert_line(cli->out, "", units, seq, has_at ? &at : NULL, sev, code,
                  unit, hh, msg);
    return TL_EXIT_OK;
}

/*
 * Print alerts after since, up to limit, recording them in s.  The alerts
 * op lists by sequence and resumes after one ("since" is exclusive), so a
 * page cut inside the alerts of one event is read again from that event:
 * its alerts already printed come first and are recognised by content
 * (matched once each), the rest are new.  An event with more alerts than
 * one page holds cannot be listed whole that way: say so, set *incomplete
 * and go on.
 */
static int list(struct tl_cli *cli, long long since, long long limit,
                struct seen *s, bool *incomplete)
{
    int rc = TL_EXIT_OK;
    bool cut = false; /* since + 1 is a sequence already partly printed */
    while (limit > 0 && rc == 0) {
        size_t again = cut ? s->n - s->cut : 0;
        /* Filtered, a page holds alerts not printed: read whole pages. */
        bool filtered = !tl_alert_filter_none(&s->filter);
        long long page = !filtered && limit + (long long)again < PAGE
                             ? limit + (long long)again
                             : PAGE;
        struct povtrack_client_msg reply;
        const msgpack_object *arr;
        json_t *req = json_pack("{s:s,s:I,s:I,s:b}", "op", "alerts", "since",
                                (json_int_t)since, "limit", (json_int_t)page,
                                "resolved", s->resolved);
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
        for (size_t j = s->cut; cut && j < s->n; j++)
            s->a[j].relisted = false;
        uint32_t size = arr->via.array.size;
        int64_t first = size > 0 ? alert_seq(&arr->via.array.ptr[0]) : -1;
        int64_t last = size > 0 ? alert_seq(&arr->via.array.ptr[size - 1]) : -1;
        size_t listed = s->n; /* entries from before this page */
        for (uint32_t i = 0; rc == 0 && i < size && limit > 0; i++) {
            const msgpack_object *a = &arr->via.array.ptr[i];
            int64_t seq = alert_seq(a);
            if (!content(s, a)) {
                rc = TL_EXIT_FAIL;
                break;
            }
            bool printed = false;
            for (size_t j = s->cut; cut && j < listed && !printed; j++) {
                if (s->a[j].seq == seq && !s->a[j].relisted &&
                    same(s, &s->a[j], &s->pack)) {
                    s->a[j].relisted = true;
                    printed = true;
                }
            }
            if (printed)
                continue;
            if (seen_add(s, seq) != 0) {
                fprintf(stderr, "povtrack: out of memory\n");
                rc = TL_EXIT_FAIL;
                break;
            }
            if (!tl_alert_filter_match(&s->filter, a))
                continue; /* seen, so never printed when it comes again */
            limit--;
            rc = tl_print_alert(cli, s->units, a);
        }
        povtrack_client_msg_free(&reply);
        if (rc != 0 || limit == 0 || size < (uint32_t)page)
            break;
        if (first == last) {
            /* A whole page of one event: what follows it in that event is
             * out of reach of the alerts op. */
            fprintf(stderr,
                    "povtrack: event #%lld raised more than %d alerts; the "
                    "alerts op lists at most %d from one event, so the rest "
                    "of its alerts are not shown\n",
                    (long long)last, PAGE, PAGE);
            *incomplete = true;
            since = last;
            cut = false;
            continue;
        }
        since = last - 1;
        cut = true;
    }
    return rc;
}

/* Order for following: by sequence, then content; data points into the
 * arena, which no longer moves once the listing is done. */
static int entry_cmp(const void *a, const void *b)
{
    const struct seen_alert *x = a, *y = b;
    if (x->seq != y->seq)
        return x->seq < y->seq ? -1 : 1;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return memcmp(x->data, y->data, x->len);
}

static void seen_sort(struct seen *s)
{
    for (size_t i = 0; i < s->n; i++)
        s->a[i].data = s->bytes + s->a[i].off;
    if (s->n > 0)
        qsort(s->a, s->n, sizeof(*s->a), entry_cmp);
}

/* Is the published alert in s->pack (of sequence seq) one the listing
 * printed and no earlier copy matched?  Marks it matched.  s is sorted. */
static bool seen_take(struct seen *s, int64_t seq)
{
    struct seen_alert key = {
        .seq = seq, .len = s->pack.size, .data = s->pack.data};
    size_t lo = 0, hi = s->n;
    /* The first entry not below the alert in hand, then its equals. */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (entry_cmp(&s->a[mid], &key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (; lo < s->n && entry_cmp(&s->a[lo], &key) == 0; lo++) {
        if (!s->a[lo].followed) {
            s->a[lo].followed = true;
            return true;
        }
    }
    return false;
}

static int follow(struct tl_cli *cli, struct seen *s, const sigset_t *stop)
{
    seen_sort(s);
    for (;;) {
        struct povtrack_client_msg m;
        sigset_t pending;
        int rc;

        if (fflush(cli->out) != 0)
            return TL_EXIT_FAIL;
        rc = povtrack_client_recv_alert(cli->client, FOLLOW_POLL_MS, &m);
        if (rc == 0) {
            int64_t seq = alert_seq(&m.obj);
            /* Only alerts listed already can come again. */
            if (seq <= s->max_seq && !content(s, &m.obj))
                rc = TL_EXIT_FAIL;
            else if ((seq > s->max_seq || !seen_take(s, seq)) &&
                     tl_alert_filter_match(&s->filter, &m.obj))
                rc = tl_print_alert(cli, s->units, &m.obj);
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
        {"resolved", no_argument, NULL, 'r'},
        {"severity", required_argument, NULL, 'S'},
        {"code", required_argument, NULL, 'C'},
        {"unit", required_argument, NULL, 'U'},
        {0}};
    long long since = 0, limit = 1000;
    bool follow_opt = false;
    struct seen s = {.max_seq = -1};
    msgpack_sbuffer_init(&s.pack);
    sigset_t stop, old;
    int c, rc = 0;

    while ((c = getopt_long(argc, argv, "f", longopts, NULL)) != -1) {
        if (c == TL_OPT_HELP) {
            fputs(alerts_usage, stdout);
            return TL_EXIT_OK;
        }
        if (c == 'f' || c == 'r') {
            follow_opt = follow_opt || c == 'f';
            s.resolved = s.resolved || c == 'r';
            continue;
        }
        if (c == 'S' && !tl_alert_severity_known(optarg))
            return tl_cli_usage("alerts",
                                "--severity: must be info, warning or "
                                "critical, not \"%s\"",
                                optarg);
        if (c == 'S' || c == 'C' || c == 'U') {
            *(c == 'S'   ? &s.filter.severity
              : c == 'C' ? &s.filter.code
                         : &s.filter.unit) = optarg;
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
    /* Names are for people: --json prints the alerts as they are. */
    if (!cli->json && (s.units = tl_unitdir_new(cli)) == NULL) {
        fprintf(stderr, "povtrack: out of memory\n");
        return TL_EXIT_FAIL;
    }
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
    bool incomplete = false;
    if (rc == 0)
        rc = list(cli, since, limit, &s, &incomplete);
    if (rc == 0 && follow_opt)
        rc = follow(cli, &s, &stop);
    if (rc == 0 && incomplete)
        rc = TL_EXIT_FAIL;
    if (follow_opt)
        sigprocmask(SIG_SETMASK, &old, NULL);
    free(s.a);
    free(s.bytes);
    msgpack_sbuffer_destroy(&s.pack);
    tl_unitdir_free(s.units);
    return rc;
}
