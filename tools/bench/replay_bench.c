/*
 * povtrack-replay-bench: how fast the plugin host replays the log.
 *
 * It writes a log of N events over a synthetic province (one province, D
 * districts of C communes each: the shape of Binh Thuan's tree) straight
 * into LMDB with the storage module, as the ingest process would (reference
 * checks, batches of 10,000), or takes an existing log (--log DIR, e.g. one
 * povtrackd filled from povtrack-sample).  Then it opens the real plugin
 * host in-process on that log with the chosen plugins (poverty and fund by
 * default), on an empty state, and times pt_host_catch_up_all: every record
 * applied and committed with the plugin cursors in chunks of 10,000, as
 * the daemon does.  --check prints a digest of every poverty and fund
 * answer for every unit, so two builds (or a run and a rebuild) can be
 * compared for identical results.
 *
 * The event mix, per year: one household.status per household, a
 * household.assessed for a share of them, donation.received and
 * fund.disbursed (to named households, so the fund's recognised buckets
 * move) in proportion; unit.households for every commune and
 * review.closed for every district and the province.  Statuses follow a
 * Markov chain from year to year (poor, near-poor, average, none), so with
 * --years above 1 households escape and relapse and the poverty plugin's
 * history path does real work.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <msgpack.h>

#include "ev_event.h"
#include "pt_config.h"
#include "pt_host.h"
#include "st_log.h"

#define BATCH 10000                   /* events per append, as ingest */
#define RECEIVED0 INT64_C(1735689600) /* 2025-01-01, unix seconds */
#define TEXT_MAX 64

struct opts {
    const char *dir; /* data dir; NULL: a fresh /tmp/perf-replay-XXXXXX */
    const char *log; /* existing log to replay instead of generating */
    const char *plugins;
    uint64_t events;
    int years, districts, communes, runs;
    unsigned mix[4]; /* status, assessed, donation, disbursed */
    uint64_t seed;
    bool keep, check, reuse;
    bool random_times; /* money events at random times of the year */
};

/* splitmix64: the state is the caller's. */
static uint64_t rnd(uint64_t *s)
{
    uint64_t z = (*s += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

static uint64_t below(uint64_t *s, uint64_t n)
{
    return rnd(s) % n; /* the bias of 2^64 mod n is irrelevant here */
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU seconds of this process so far, user and system. */
static void cpu_s(double *user, double *sys)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    *user = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
    *sys = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* VmHWM and VmRSS of this process, in KiB. */
static void mem_kib(long *hwm, long *rss)
{
    char line[256];
    FILE *f = fopen("/proc/self/status", "r");
    *hwm = *rss = -1;
    if (f == NULL)
        return;
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, "VmHWM:", 6) == 0)
            *hwm = strtol(line + 6, NULL, 10);
        else if (strncmp(line, "VmRSS:", 6) == 0)
            *rss = strtol(line + 6, NULL, 10);
    }
    fclose(f);
}

/* Bytes this process caused to be written to storage so far (-1: not
 * known): LMDB's copy-on-write commits rewrite whole pages. */
static long long written_bytes(void)
{
    char line[128];
    long long n = -1;
    FILE *f = fopen("/proc/self/io", "r");
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, "write_bytes:", 12) == 0)
            n = strtoll(line + 12, NULL, 10);
    fclose(f);
    return n;
}

/* Remove a directory of plain files and directories (ours: log, state). */
static int rm_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR(st.st_mode))
        return unlink(path);
    DIR *d = opendir(path);
    if (d == NULL)
        return -1;
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char sub[PATH_MAX];
        if (snprintf(sub, sizeof sub, "%s/%s", path, e->d_name) >=
            (int)sizeof sub)
            rc = -1;
        else
            rc = rm_tree(sub);
    }
    closedir(d);
    return rc == 0 ? rmdir(path) : rc;
}

/* Bytes under a directory (files only). */
static uint64_t du_bytes(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return 0;
    if (!S_ISDIR(st.st_mode))
        return (uint64_t)st.st_blocks * 512;
    DIR *d = opendir(path);
    if (d == NULL)
        return 0;
    uint64_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char sub[PATH_MAX];
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 &&
            snprintf(sub, sizeof sub, "%s/%s", path, e->d_name) <
                (int)sizeof sub)
            n += du_bytes(sub);
    }
    closedir(d);
    return n;
}

/* ---- generating the log ---- */

/* One pending event: the decoded form and the strings it points at. */
struct slot {
    struct ev_event ev;
    char id[32];
    char unit[16];
    char parent[16];
    char hh[32];
    char text[TEXT_MAX];
    size_t off, len; /* its canonical bytes in the batch buffer */
};

struct gen {
    struct st_log *log;
    struct slot *slots;
    struct st_item *items;
    size_t n;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    uint64_t next_id, appended, batches;
    uint64_t counts[EV_TYPE_COUNT];
    uint64_t rng;
    int ndistricts, ncommunes; /* communes per district */
    uint8_t *status;           /* per household, last year's */
    uint64_t households;
};

static struct ev_str s_(const char *s)
{
    struct ev_str r = {s, s != NULL ? (uint32_t)strlen(s) : 0};
    return r;
}

static int flush(struct gen *g)
{
    if (g->n == 0)
        return 0;
    for (size_t i = 0; i < g->n; i++) {
        struct st_item *it = &g->items[i];
        memset(it, 0, sizeof *it);
        it->ev = &g->slots[i].ev;
        it->bytes = g->sb.data + g->slots[i].off;
        it->len = g->slots[i].len;
        it->publisher = s_("replay-bench");
    }
    int rc =
        st_log_append_batch(g->log, (RECEIVED0 + (int64_t)g->batches) * 1000000,
                            g->items, g->n, st_check_refs, NULL);
    if (rc != 0) {
        fprintf(stderr, "replay-bench: append: %s\n", st_strerror(rc));
        return -1;
    }
    for (size_t i = 0; i < g->n; i++)
        if (g->items[i].status != ST_ITEM_OK) {
            fprintf(stderr, "replay-bench: event %s not stored: %s\n",
                    g->slots[i].id, g->items[i].error);
            return -1;
        }
    g->appended += g->n;
    g->batches++;
    g->n = 0;
    msgpack_sbuffer_clear(&g->sb);
    return 0;
}

/* A fresh slot with its id set; the caller fills the event. */
static struct slot *slot_new(struct gen *g, enum ev_type type, int64_t at)
{
    struct slot *s = &g->slots[g->n];
    memset(&s->ev, 0, sizeof s->ev);
    snprintf(s->id, sizeof s->id, "rb-%" PRIu64, ++g->next_id);
    s->ev.type = type;
    s->ev.id = s_(s->id);
    s->ev.at = at;
    s->ev.unit = s_(s->unit);
    return s;
}

/* Encode the slot's event and append the batch once it is full. */
static int slot_done(struct gen *g, struct slot *s)
{
    s->off = g->sb.size;
    if (ev_encode(&s->ev, &g->pk) != 0) {
        fprintf(stderr, "replay-bench: cannot encode %s\n", s->id);
        return -1;
    }
    s->len = g->sb.size - s->off;
    g->counts[s->ev.type]++;
    return ++g->n == BATCH ? flush(g) : 0;
}

static void district_code(const struct gen *g, int d, char *out)
{
    (void)g;
    snprintf(out, 16, "%03d", 500 + d);
}

static void commune_code(const struct gen *g, int d, int c, char *out)
{
    (void)g;
    snprintf(out, 16, "%05d", 20000 + d * 100 + c);
}

static int64_t day(int year, int yday)
{
    /* Good enough for a benchmark: 365-day years from 2000 in UTC+7. */
    int64_t d = (int64_t)(year - 1970) * 365 + (year - 1969) / 4 + yday;
    return d * 86400 - 7 * 3600;
}

static int gen_units(struct gen *g, int year)
{
    struct slot *s = slot_new(g, EV_UNIT_DEFINED, day(year, 0));
    strcpy(s->unit, "60");
    s->ev.unit = s_(s->unit);
    s->ev.data.name = s_("Tinh Mau");
    s->ev.data.level = EV_LEVEL_PROVINCE;
    if (slot_done(g, s) != 0)
        return -1;
    for (int d = 0; d < g->ndistricts; d++) {
        s = slot_new(g, EV_UNIT_DEFINED, day(year, 0));
        district_code(g, d, s->unit);
        s->ev.unit = s_(s->unit);
        strcpy(s->parent, "60");
        s->ev.data.parent = s_(s->parent);
        snprintf(s->text, sizeof s->text, "Huyen %d", d + 1);
        s->ev.data.name = s_(s->text);
        s->ev.data.level = EV_LEVEL_DISTRICT;
        if (slot_done(g, s) != 0)
            return -1;
        for (int c = 0; c < g->ncommunes; c++) {
            s = slot_new(g, EV_UNIT_DEFINED, day(year, 0));
            commune_code(g, d, c, s->unit);
            s->ev.unit = s_(s->unit);
            district_code(g, d, s->parent);
            s->ev.data.parent = s_(s->parent);
            snprintf(s->text, sizeof s->text, "Xa %d-%d", d + 1, c + 1);
            s->ev.data.name = s_(s->text);
            s->ev.data.level = EV_LEVEL_COMMUNE;
            if (slot_done(g, s) != 0)
                return -1;
        }
    }
    return 0;
}

/* Next year's status of a household: a Markov step (first year: a draw). */
static enum ev_status next_status(struct gen *g, enum ev_status prev)
{
    unsigned r = (unsigned)below(&g->rng, 1000);
    switch (prev) {
    case EV_STATUS_POOR:
        return r < 800   ? EV_STATUS_POOR
               : r < 920 ? EV_STATUS_NEAR_POOR
                         : EV_STATUS_NONE;
    case EV_STATUS_NEAR_POOR:
        return r < 50    ? EV_STATUS_POOR
               : r < 750 ? EV_STATUS_NEAR_POOR
                         : EV_STATUS_AVERAGE;
    case EV_STATUS_AVERAGE:
    case EV_STATUS_NONE:
        return r < 8     ? EV_STATUS_POOR
               : r < 25  ? EV_STATUS_NEAR_POOR
               : r < 300 ? EV_STATUS_AVERAGE
                         : EV_STATUS_NONE;
    default:
        return r < 45    ? EV_STATUS_POOR
               : r < 85  ? EV_STATUS_NEAR_POOR
               : r < 300 ? EV_STATUS_AVERAGE
                         : EV_STATUS_NONE;
    }
}

/* Household i lives in commune i * ncommunes_total / households. */
static void household_place(const struct gen *g, uint64_t i, int *d, int *c)
{
    uint64_t total = (uint64_t)g->ndistricts * (uint64_t)g->ncommunes;
    uint64_t k = i * total / g->households;
    *d = (int)(k / (uint64_t)g->ncommunes);
    *c = (int)(k % (uint64_t)g->ncommunes);
}

/* When a money event happens: in log order through the year, as a live
 * feed publishes them (i of n), or at a random time of the year, as a
 * bulk import of a year's spreadsheets might. */
static int64_t money_time(struct gen *g, bool random, int year, uint64_t i,
                          uint64_t n)
{
    if (random)
        return day(year, (int)below(&g->rng, 365)) + 8 * 3600 +
               (int64_t)below(&g->rng, 9 * 3600);
    return day(year, 0) + (int64_t)(i * UINT64_C(365) * 86400 / n) +
           (int64_t)below(&g->rng, 600);
}

static int gen_donation(struct gen *g, int64_t at)
{
    static const enum ev_donor_kind kv[] = {
        EV_DONOR_PERSON, EV_DONOR_ORGANISATION, EV_DONOR_BUSINESS,
        EV_DONOR_ANONYMOUS};
    struct slot *s = slot_new(g, EV_DONATION_RECEIVED, at);
    unsigned r = (unsigned)below(&g->rng, 100);
    int d = (int)below(&g->rng, (uint64_t)g->ndistricts);
    if (r < 5) {
        strcpy(s->unit, "60");
        s->ev.data.level = EV_LEVEL_PROVINCE;
    } else if (r < 20) {
        district_code(g, d, s->unit);
        s->ev.data.level = EV_LEVEL_DISTRICT;
    } else {
        commune_code(g, d, (int)below(&g->rng, (uint64_t)g->ncommunes),
                     s->unit);
        s->ev.data.level = EV_LEVEL_COMMUNE;
    }
    s->ev.unit = s_(s->unit);
    s->ev.data.donor_kind = kv[below(&g->rng, 4)];
    snprintf(s->text, sizeof s->text, "Nha hao tam %04u",
             (unsigned)below(&g->rng, 10000));
    s->ev.data.donor = s_(s->text);
    s->ev.data.amount = (int64_t)(1 + below(&g->rng, 500)) * 100000;
    return slot_done(g, s);
}

static int gen_disbursed(struct gen *g, uint64_t hh, int64_t at)
{
    static const enum ev_purpose purposes[] = {
        EV_PURPOSE_HOUSING, EV_PURPOSE_LIVELIHOOD, EV_PURPOSE_EDUCATION,
        EV_PURPOSE_HEALTH, EV_PURPOSE_TET};
    int d, c;
    household_place(g, hh, &d, &c);
    struct slot *s = slot_new(g, EV_FUND_DISBURSED, at);
    commune_code(g, d, c, s->unit);
    s->ev.unit = s_(s->unit);
    snprintf(s->hh, sizeof s->hh, "h-%" PRIu64, hh + 1);
    s->ev.household = s_(s->hh);
    s->ev.data.amount = (int64_t)(5 + below(&g->rng, 50)) * 100000;
    s->ev.data.purpose = purposes[below(&g->rng, 5)];
    s->ev.data.level = EV_LEVEL_DISTRICT;
    return slot_done(g, s);
}

static int gen_year(struct gen *g, const struct opts *o, int year,
                    uint64_t budget)
{
    /* Denominators first, as a province publishes them in September. */
    for (int d = 0; d < g->ndistricts; d++)
        for (int c = 0; c < g->ncommunes; c++) {
            uint64_t lo = (uint64_t)(d * g->ncommunes + c) * g->households /
                          (uint64_t)(g->ndistricts * g->ncommunes);
            uint64_t hi = (uint64_t)(d * g->ncommunes + c + 1) * g->households /
                          (uint64_t)(g->ndistricts * g->ncommunes);
            struct slot *s = slot_new(g, EV_UNIT_HOUSEHOLDS, day(year, 243));
            commune_code(g, d, c, s->unit);
            s->ev.unit = s_(s->unit);
            s->ev.data.year = year;
            s->ev.data.households = (int64_t)(hi - lo);
            if (slot_done(g, s) != 0)
                return -1;
        }
    /* Households in commune order, each with its status, its assessment
     * for a share of them, and donations and disbursements spread in
     * between in proportion (Bresenham on the mix). */
    uint64_t acc_a = 0, acc_d = 0, acc_b = 0;
    uint64_t per_hh = o->mix[0] ? o->mix[0] : 1;
    for (uint64_t i = 0; i < g->households && budget > 0; i++) {
        int d, c;
        household_place(g, i, &d, &c);
        enum ev_status st = next_status(g, (enum ev_status)g->status[i]);
        g->status[i] = (uint8_t)st;
        struct slot *s;
        if (o->mix[0] > 0) {
            s = slot_new(g, EV_HOUSEHOLD_STATUS,
                         day(year, 334 + (int)below(&g->rng, 14)) + 9 * 3600);
            commune_code(g, d, c, s->unit);
            s->ev.unit = s_(s->unit);
            snprintf(s->hh, sizeof s->hh, "h-%" PRIu64, i + 1);
            s->ev.household = s_(s->hh);
            s->ev.data.year = year;
            s->ev.data.status = st;
            if (slot_done(g, s) != 0)
                return -1;
            budget--;
        }
        acc_a += o->mix[1];
        for (; acc_a >= per_hh && budget > 0; acc_a -= per_hh, budget--) {
            s = slot_new(g, EV_HOUSEHOLD_ASSESSED,
                         day(year, 244 + (int)below(&g->rng, 80)) + 9 * 3600);
            commune_code(g, d, c, s->unit);
            s->ev.unit = s_(s->unit);
            snprintf(s->hh, sizeof s->hh, "h-%" PRIu64, i + 1);
            s->ev.household = s_(s->hh);
            s->ev.data.year = year;
            s->ev.data.area = c % 5 == 0 ? EV_AREA_URBAN : EV_AREA_RURAL;
            s->ev.data.members = 1 + (int64_t)below(&g->rng, 7);
            bool poor = st == EV_STATUS_POOR || st == EV_STATUS_NEAR_POOR;
            s->ev.data.income = (int64_t)(poor ? 60 + below(&g->rng, 90)
                                               : 150 + below(&g->rng, 300)) *
                                10000;
            uint32_t dep = 0;
            int ndep = st == EV_STATUS_POOR ? 3 + (int)below(&g->rng, 3)
                                            : (int)below(&g->rng, 3);
            for (int k = 0; k < ndep; k++)
                dep |= UINT32_C(1) << below(&g->rng, 12);
            s->ev.data.deprived = dep;
            if (slot_done(g, s) != 0)
                return -1;
        }
        acc_d += o->mix[2];
        for (; acc_d >= per_hh && budget > 0; acc_d -= per_hh, budget--)
            if (gen_donation(g, money_time(g, o->random_times, year, i,
                                           g->households)) != 0)
                return -1;
        acc_b += o->mix[3];
        for (; acc_b >= per_hh && budget > 0; acc_b -= per_hh, budget--)
            if (gen_disbursed(g, below(&g->rng, g->households),
                              money_time(g, o->random_times, year, i,
                                         g->households)) != 0)
                return -1;
    }
    /* The districts' and then the province's reviews close the year. */
    for (int d = 0; d <= g->ndistricts; d++) {
        struct slot *s = slot_new(g, EV_REVIEW_CLOSED, day(year, 348));
        if (d < g->ndistricts)
            district_code(g, d, s->unit);
        else
            strcpy(s->unit, "60");
        s->ev.unit = s_(s->unit);
        s->ev.data.year = year;
        if (slot_done(g, s) != 0)
            return -1;
    }
    return 0;
}

static int generate(const struct opts *o, const char *logdir)
{
    char err[512] = "";
    struct gen g;
    memset(&g, 0, sizeof g);
    g.rng = o->seed;
    g.ndistricts = o->districts;
    g.ncommunes = o->communes;
    unsigned sum = o->mix[0] + o->mix[1] + o->mix[2] + o->mix[3];
    uint64_t per_year = o->events / (uint64_t)o->years;
    /* One status per household and year; the mix sets the rest. */
    g.households = o->mix[0] > 0 ? per_year * o->mix[0] / sum : per_year / 2;
    if (g.households < (uint64_t)(o->districts * o->communes))
        g.households = (uint64_t)(o->districts * o->communes);
    g.status = calloc(g.households, 1);
    g.slots = calloc(BATCH, sizeof *g.slots);
    g.items = calloc(BATCH, sizeof *g.items);
    if (g.status == NULL || g.slots == NULL || g.items == NULL) {
        fprintf(stderr, "replay-bench: out of memory\n");
        free(g.status);
        free(g.slots);
        free(g.items);
        return -1;
    }
    msgpack_sbuffer_init(&g.sb);
    msgpack_packer_init(&g.pk, &g.sb, msgpack_sbuffer_write);
    int rc =
        st_log_open_sized(logdir, 0, (size_t)1 << 30, &g.log, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "replay-bench: %s\n", err);
    int first = 2025 - o->years + 1;
    double t0 = now_s();
    if (rc == 0)
        rc = gen_units(&g, first);
    for (int y = first; rc == 0 && y <= 2025; y++) {
        uint64_t done = g.appended + g.n;
        uint64_t budget = o->events > done ? o->events - done : 0;
        rc = gen_year(&g, o, y, y == 2025 ? budget : per_year);
    }
    if (rc == 0)
        rc = flush(&g);
    double t = now_s() - t0;
    if (rc == 0) {
        printf("generated %" PRIu64 " events (%" PRIu64
               " households, %d districts x %d communes, %d year%s) in "
               "%.1f s:",
               g.appended, g.households, g.ndistricts, g.ncommunes, o->years,
               o->years == 1 ? "" : "s", t);
        for (int k = 1; k < EV_TYPE_COUNT; k++)
            if (g.counts[k] > 0)
                printf(" %s %" PRIu64, ev_type_name((enum ev_type)k),
                       g.counts[k]);
        printf("\n");
    }
    if (g.log != NULL)
        st_log_close(g.log);
    msgpack_sbuffer_destroy(&g.sb);
    free(g.status);
    free(g.slots);
    free(g.items);
    return rc == 0 ? 0 : -1;
}

/* ---- replaying ---- */

struct req {
    msgpack_sbuffer in, out;
    msgpack_packer pin, pout;
    msgpack_unpacked up;
};

static void pack_cstr(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str(pk, strlen(s));
    msgpack_pack_str_body(pk, s, strlen(s));
}

/* Run the request packed in r->in; the reply is unpacked in r->up. */
static int run_request(struct pt_host *h, struct req *r)
{
    msgpack_unpacked q;
    msgpack_unpacked_init(&q);
    int rc = msgpack_unpack_next(&q, r->in.data, r->in.size, NULL) ==
                     MSGPACK_UNPACK_SUCCESS
                 ? 0
                 : -1;
    msgpack_sbuffer_clear(&r->out);
    if (rc == 0)
        rc = pt_host_request(h, &q.data, &r->pout);
    msgpack_unpacked_destroy(&q);
    msgpack_sbuffer_clear(&r->in);
    if (rc == 0 && msgpack_unpack_next(&r->up, r->out.data, r->out.size,
                                       NULL) != MSGPACK_UNPACK_SUCCESS)
        rc = -1;
    return rc;
}

static const msgpack_object *get(const msgpack_object *m, const char *key)
{
    if (m->type != MSGPACK_OBJECT_MAP)
        return NULL;
    for (uint32_t i = 0; i < m->via.map.size; i++) {
        const msgpack_object *k = &m->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == strlen(key) &&
            memcmp(k->via.str.ptr, key, k->via.str.size) == 0)
            return &m->via.map.ptr[i].val;
    }
    return NULL;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * UINT64_C(0x100000001b3);
    return h;
}

struct unitlist {
    char (*code)[8];
    size_t n, cap;
};

/* Every unit, by walking the units op from the provinces down. */
static int list_units(struct pt_host *h, struct req *r, struct unitlist *ul)
{
    size_t next = 0;
    const char *parent = NULL;
    for (;;) {
        msgpack_pack_map(&r->pin, 2);
        pack_cstr(&r->pin, "op");
        pack_cstr(&r->pin, "units");
        pack_cstr(&r->pin, "parent");
        if (parent == NULL)
            msgpack_pack_nil(&r->pin);
        else
            pack_cstr(&r->pin, parent);
        if (run_request(h, r) != 0)
            return -1;
        const msgpack_object *us = get(&r->up.data, "units");
        for (uint32_t i = 0; us != NULL && us->type == MSGPACK_OBJECT_ARRAY &&
                             i < us->via.array.size;
             i++) {
            const msgpack_object *c = get(&us->via.array.ptr[i], "code");
            if (c == NULL || c->type != MSGPACK_OBJECT_STR ||
                c->via.str.size >= 8)
                continue;
            if (ul->n == ul->cap) {
                size_t cap = ul->cap ? ul->cap * 2 : 256;
                void *p = realloc(ul->code, cap * sizeof *ul->code);
                if (p == NULL)
                    return -1;
                ul->code = p;
                ul->cap = cap;
            }
            memcpy(ul->code[ul->n], c->via.str.ptr, c->via.str.size);
            ul->code[ul->n][c->via.str.size] = '\0';
            ul->n++;
        }
        if (next == ul->n)
            return 0;
        parent = ul->code[next++];
    }
}

/* Digest of every poverty (per year) and fund (all time, per year) answer
 * of every unit; prints the province-level poverty answers in full. */
static int check(struct pt_host *h, const struct opts *o)
{
    struct req r;
    struct unitlist ul = {NULL, 0, 0};
    msgpack_sbuffer_init(&r.in);
    msgpack_sbuffer_init(&r.out);
    msgpack_packer_init(&r.pin, &r.in, msgpack_sbuffer_write);
    msgpack_packer_init(&r.pout, &r.out, msgpack_sbuffer_write);
    msgpack_unpacked_init(&r.up);
    int rc = list_units(h, &r, &ul);
    uint64_t digest = UINT64_C(0xcbf29ce484222325);
    size_t answers = 0, shown = 0;
    const bool pov = strstr(o->plugins, "poverty") != NULL;
    const bool fund = strstr(o->plugins, "fund") != NULL;
    for (size_t u = 0; rc == 0 && u < ul.n; u++) {
        for (int y = 2020; rc == 0 && y <= 2026; y++) {
            for (int k = 0; rc == 0 && k < 2; k++) {
                const char *plugin = k == 0 ? "poverty" : "fund";
                if ((k == 0 && !pov) || (k == 1 && !fund))
                    continue;
                msgpack_pack_map(&r.pin, 3);
                pack_cstr(&r.pin, "op");
                pack_cstr(&r.pin, "query");
                pack_cstr(&r.pin, "plugin");
                pack_cstr(&r.pin, plugin);
                pack_cstr(&r.pin, "q");
                msgpack_pack_map(&r.pin, 2);
                pack_cstr(&r.pin, "unit");
                pack_cstr(&r.pin, ul.code[u]);
                pack_cstr(&r.pin, "year");
                msgpack_pack_int(&r.pin, y);
                rc = run_request(h, &r);
                const msgpack_object *res = get(&r.up.data, "result");
                if (rc == 0 && res == NULL) {
                    fprintf(stderr, "replay-bench: query failed: ");
                    msgpack_object_print(stderr, r.up.data);
                    fprintf(stderr, "\n");
                    rc = -1;
                }
                if (rc != 0)
                    break;
                digest = fnv(digest, r.out.data, r.out.size);
                answers++;
                /* The first provinces' answers in full, for the eye. */
                const msgpack_object *hh = get(res, "households");
                if (k == 0 && ul.code[u][2] == '\0' && shown < 3 &&
                    hh != NULL && hh->type != MSGPACK_OBJECT_NIL) {
                    printf("poverty %s %d: ", ul.code[u], y);
                    msgpack_object_print(stdout, *res);
                    printf("\n");
                    shown++;
                }
            }
        }
    }
    if (rc == 0)
        printf("check: %zu units, %zu answers, digest %016" PRIx64 "\n", ul.n,
               answers, digest);
    free(ul.code);
    msgpack_unpacked_destroy(&r.up);
    msgpack_sbuffer_destroy(&r.in);
    msgpack_sbuffer_destroy(&r.out);
    return rc;
}

static int replay(const struct opts *o, const char *dir, int run)
{
    char path[PATH_MAX + 16], err[1024] = "";
    struct pt_config *cfg = calloc(1, sizeof *cfg); /* large */
    struct pt_host *h = NULL;
    if (cfg == NULL)
        return -1;
    snprintf(path, sizeof path, "%s/state", dir);
    int rc = rm_tree(path);
    if (rc != 0)
        fprintf(stderr, "replay-bench: cannot remove %s\n", path);
    if (rc == 0)
        rc = pt_config_defaults(cfg);
    if (rc == 0) {
        snprintf(cfg->data_dir, sizeof cfg->data_dir, "%s", dir);
        cfg->log_level = 2; /* warnings and errors */
        rc = pt_config_set_plugins(cfg, o->plugins, err, sizeof err);
    }
    if (rc == 0)
        rc = pt_config_resolve(cfg, err, sizeof err);
    if (rc == 0)
        rc = pt_host_open(cfg, &h, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "replay-bench: %s\n", err);
        free(cfg);
        return -1;
    }
    long long w0 = written_bytes();
    double u0, s0, u1, s1;
    cpu_s(&u0, &s0);
    double t0 = now_s();
    rc = pt_host_catch_up_all(h);
    double t = now_s() - t0;
    cpu_s(&u1, &s1);
    long long w = written_bytes() - w0;
    uint64_t n = pt_host_applied_seq(h);
    long hwm, rss;
    mem_kib(&hwm, &rss);
    if (rc != 0) {
        fprintf(stderr, "replay-bench: catch-up failed: %d\n", rc);
    } else {
        printf("run %d: %s: %" PRIu64 " records in %.2f s = %.0f events/s "
               "(cpu: user %.2f s, sys %.2f s); VmHWM %ld MiB, VmRSS %ld "
               "MiB; state %.1f MiB, %.0f MiB written\n",
               run, o->plugins, n, t, (double)n / t, u1 - u0, s1 - s0,
               hwm >> 10, rss >> 10, (double)du_bytes(path) / 1048576.0,
               (double)w / 1048576.0);
        fflush(stdout);
        if (o->check)
            rc = check(h, o);
    }
    pt_host_close(h);
    free(cfg);
    return rc;
}

static const char usage[] =
    "Usage: povtrack-replay-bench [options]\n"
    "Time the plugin host replaying the log (pt_host_catch_up_all on an\n"
    "empty state), in-process, as the daemon's plugin host applies it.\n"
    "\n"
    "  --dir DIR        data directory (default: a fresh /tmp/perf-replay-*\n"
    "                   removed at the end); its state/ is removed first\n"
    "  --log DIR        replay this existing log (linked as DIR/log, never\n"
    "                   written) instead of generating one\n"
    "  --reuse          with --dir: replay DIR/log if it exists\n"
    "  --events N       events to generate (default 1000000)\n"
    "  --years Y        spread them over Y years ending 2025 (default 1)\n"
    "  --districts D    districts of the synthetic province (default 10)\n"
    "  --communes C     communes per district (default 12)\n"
    "  --mix S:A:D:F    shares of household.status, household.assessed,\n"
    "                   donation.received, fund.disbursed (default\n"
    "                   45:45:9:1); one status per household and year\n"
    "  --random-times   donations and disbursements at random times of\n"
    "                   the year (default: in log order through the year,\n"
    "                   as a live feed); the fund's per-day and per-event\n"
    "                   entries then land all over its B-tree\n"
    "  --plugins LIST   plugins to replay through (default \"poverty fund\")\n"
    "  --runs R         replays, each from an empty state (default 1; 0:\n"
    "                   only generate the log)\n"
    "  --seed N         generator seed (default 1)\n"
    "  --check          print a digest of every poverty and fund answer\n"
    "  --keep           keep the data directory\n";

static int parse_u64(const char *opt, const char *s, uint64_t lo, uint64_t hi,
                     uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || *end != '\0' || errno != 0 || v < lo || v > hi) {
        fprintf(stderr,
                "replay-bench: %s: expected an integer %" PRIu64 "..%" PRIu64
                "\n",
                opt, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option lo[] = {{"dir", required_argument, 0, 'D'},
                                       {"log", required_argument, 0, 'l'},
                                       {"reuse", no_argument, 0, 'R'},
                                       {"events", required_argument, 0, 'n'},
                                       {"years", required_argument, 0, 'y'},
                                       {"districts", required_argument, 0, 'd'},
                                       {"communes", required_argument, 0, 'c'},
                                       {"mix", required_argument, 0, 'm'},
                                       {"plugins", required_argument, 0, 'p'},
                                       {"runs", required_argument, 0, 'r'},
                                       {"seed", required_argument, 0, 's'},
                                       {"check", no_argument, 0, 'k'},
                                       {"random-times", no_argument, 0, 'T'},
                                       {"keep", no_argument, 0, 'K'},
                                       {"help", no_argument, 0, 'h'},
                                       {0, 0, 0, 0}};
    struct opts o = {.plugins = "poverty fund",
                     .events = 1000000,
                     .years = 1,
                     .districts = 10,
                     .communes = 12,
                     .runs = 1,
                     .mix = {45, 45, 9, 1},
                     .seed = 1};
    uint64_t v;
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'D':
            o.dir = optarg;
            break;
        case 'l':
            o.log = optarg;
            break;
        case 'R':
            o.reuse = true;
            break;
        case 'n':
            if (parse_u64("--events", optarg, 1, UINT64_C(1) << 40,
                          &o.events) != 0)
                return 2;
            break;
        case 'y':
            if (parse_u64("--years", optarg, 1, 20, &v) != 0)
                return 2;
            o.years = (int)v;
            break;
        case 'd':
            if (parse_u64("--districts", optarg, 1, 99, &v) != 0)
                return 2;
            o.districts = (int)v;
            break;
        case 'c':
            if (parse_u64("--communes", optarg, 1, 99, &v) != 0)
                return 2;
            o.communes = (int)v;
            break;
        case 'm':
            if (sscanf(optarg, "%u:%u:%u:%u", &o.mix[0], &o.mix[1], &o.mix[2],
                       &o.mix[3]) != 4 ||
                o.mix[0] + o.mix[1] + o.mix[2] + o.mix[3] == 0 ||
                o.mix[0] == 0) {
                fprintf(stderr, "replay-bench: --mix S:A:D:F, S > 0\n");
                return 2;
            }
            break;
        case 'p':
            o.plugins = optarg;
            break;
        case 'r':
            if (parse_u64("--runs", optarg, 0, 100, &v) != 0)
                return 2;
            o.runs = (int)v;
            break;
        case 's':
            if (parse_u64("--seed", optarg, 0, UINT64_MAX, &o.seed) != 0)
                return 2;
            break;
        case 'k':
            o.check = true;
            break;
        case 'T':
            o.random_times = true;
            break;
        case 'K':
            o.keep = true;
            break;
        case 'h':
            fputs(usage, stdout);
            return 0;
        default:
            fputs(usage, stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fputs(usage, stderr);
        return 2;
    }

    char dir[PATH_MAX], logdir[PATH_MAX + 8];
    bool made = false;
    if (o.dir != NULL) {
        snprintf(dir, sizeof dir, "%s", o.dir);
        if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
            fprintf(stderr, "replay-bench: %s: %s\n", dir, strerror(errno));
            return 1;
        }
    } else {
        snprintf(dir, sizeof dir, "/tmp/perf-replay-XXXXXX");
        if (mkdtemp(dir) == NULL) {
            fprintf(stderr, "replay-bench: mkdtemp: %s\n", strerror(errno));
            return 1;
        }
        made = true;
    }
    snprintf(logdir, sizeof logdir, "%s/log", dir);
    int rc = 0;
    struct stat st;
    if (o.log != NULL) {
        char abs[PATH_MAX];
        if (realpath(o.log, abs) == NULL ||
            (lstat(logdir, &st) == 0 && unlink(logdir) != 0) ||
            symlink(abs, logdir) != 0) {
            fprintf(stderr, "replay-bench: cannot link %s as %s: %s\n", o.log,
                    logdir, strerror(errno));
            rc = -1;
        }
    } else if (!(o.reuse && stat(logdir, &st) == 0)) {
        rc = rm_tree(logdir);
        if (rc == 0)
            rc = generate(&o, logdir);
    }
    if (rc == 0)
        printf("log: %.1f MiB\n",
               (double)du_bytes(o.log != NULL ? o.log : logdir) / 1048576.0);
    for (int r = 1; rc == 0 && r <= o.runs; r++)
        rc = replay(&o, dir, r);
    if (made && !o.keep)
        rm_tree(dir);
    else if (o.log != NULL && !o.keep)
        unlink(logdir);
    return rc == 0 ? 0 : 1;
}
