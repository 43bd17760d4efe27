/*
 * povtrack_sample.c - generate a sample province's events as JSON lines.
 *
 * The output is a plausible five years of one province for demos and load
 * tests: the unit hierarchy, household counts, the yearly poor and near-poor
 * lists with households that escape, relapse and newly fall into poverty,
 * the closing of each review, and the For the Poor fund's pledges, donations
 * and disbursements; and, from streams of their own, assessments, loans,
 * relocations, reports, and the rest of the plan (production links, OCOP,
 * social assistance, the National Target Programmes' budget,
 * commendations).  It is a function of the units file and the options
 * only: the same --seed gives the same bytes.  Floating point is limited to
 * +, -, *, / (no libm), which IEEE 754 makes reproducible.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <csv.h>
#include <jansson.h>

#include "tl_rng.h"

#define YEARS_MAX 20
#define VN_OFFSET (7 * 3600) /* Vietnam is UTC+7 all year */

enum level { L_PROVINCE = 0, L_DISTRICT = 1, L_COMMUNE = 2 };
static const char *const level_names[3] = {"province", "district", "commune"};

enum hstate { H_NONE = 0, H_POOR = 1, H_NEAR = 2 };
#define H_STATUS 3u
#define H_ESCAPED 4u /* was poor once, is not now */
#define H_MOVED 8u   /* changed status this year: keep it */
#define H_LOAN 16u   /* has a policy loan (extra stream only) */

struct unit {
    char *code, *name, *parent;
    enum level level;
    size_t parent_idx;
    size_t order; /* row in the file, for a stable sort */
};

struct commune {
    size_t unit, district; /* indices in units[] and districts[] */
    double base_hh, rate, near;
    int64_t hh;
    uint8_t *state; /* per household h-<code>-<n>, index n - 1 */
    size_t n, cap;
};

struct district {
    size_t unit;
    double base_decline;
};

enum evtype {
    T_UNIT_DEFINED,
    T_UNIT_HOUSEHOLDS,
    T_HOUSEHOLD_STATUS,
    T_REVIEW_CLOSED,
    T_DONATION_PLEDGED,
    T_DONATION_RECEIVED,
    T_FUND_DISBURSED,
    T_HOUSEHOLD_ASSESSED,
    T_RELOCATION_COMPLETED,
    T_RELOCATION_SUPPORT,
    T_CREDIT_DISBURSED,
    T_CREDIT_REPAID,
    T_REPORT_DUE,
    T_REPORT_SUBMITTED,
    T_PRODUCTION_LINKED,
    T_OCOP_CERTIFIED,
    T_ASSISTANCE_PAID,
    T_BUDGET_ALLOCATED,
    T_BUDGET_SPENT,
    T_COMMENDATION_AWARDED,
    T_COUNT
};
static const char *const type_names[T_COUNT] = {
    "unit.defined",       "unit.households",     "household.status",
    "review.closed",      "donation.pledged",    "donation.received",
    "fund.disbursed",     "household.assessed",  "relocation.completed",
    "relocation.support", "credit.disbursed",    "credit.repaid",
    "report.due",         "report.submitted",    "production.linked",
    "ocop.certified",     "assistance.paid",     "budget.allocated",
    "budget.spent",       "commendation.awarded"};

struct gen {
    struct tl_rng rng;
    /* The assessments, relocations, loans, household grants and reports
     * draw from their own stream and number their ids apart
     * (gen-<seed>-x<n>), so the events of the original types stay the
     * same bytes whether or not these are generated between them. */
    struct tl_rng xrng;
    uint64_t next_xid;
    /* The rest of the plan (links, OCOP, social assistance, the National
     * Target Programmes' budget, commendations): a third stream and ids of
     * their own (gen-<seed>-p<n>), so the events above stay the same
     * bytes. */
    struct tl_rng prng;
    uint64_t next_pid;
    uint64_t loan_no;
    uint64_t seed;
    double scale;
    int from, to;
    int64_t now;
    FILE *out;
    struct unit *units;
    size_t nunits;
    struct district *districts;
    size_t ndistricts;
    struct commune *communes;
    size_t ncommunes;
    size_t root;
    uint64_t next_id;
    uint64_t counts[T_COUNT];
    size_t rise_district;
    int rise_year;
};

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n);

    if (q == NULL) {
        fprintf(stderr, "povtrack-sample: out of memory\n");
        exit(1);
    }
    return q;
}

/* ---- units file ------------------------------------------------------- */

struct csv_state {
    struct gen *g;
    char *cells[8];
    size_t ncells;
    size_t row;
    int col[5]; /* code, name, type, parent, level */
    int err;
};

static void on_cell(void *s, size_t len, void *arg)
{
    struct csv_state *cs = arg;

    if (cs->ncells < 8) {
        char *c = xrealloc(NULL, len + 1);
        memcpy(c, s != NULL ? s : "", len);
        c[len] = '\0';
        cs->cells[cs->ncells] = c;
    }
    cs->ncells++;
}

static int level_of(const char *s)
{
    for (int i = 0; i < 3; i++)
        if (strcmp(s, level_names[i]) == 0)
            return i;
    return -1;
}

static void on_row(int term, void *arg)
{
    static const char *const want[5] = {"code", "name", "type", "parent",
                                        "level"};
    struct csv_state *cs = arg;
    size_t n = cs->ncells < 8 ? cs->ncells : 8;

    (void)term;
    cs->row++;
    if (cs->err == 0 && cs->row == 1) {
        for (int k = 0; k < 5; k++) {
            cs->col[k] = -1;
            for (size_t i = 0; i < n; i++)
                if (strcmp(cs->cells[i], want[k]) == 0)
                    cs->col[k] = (int)i;
            if (cs->col[k] < 0 && k != 2) {
                fprintf(stderr,
                        "povtrack-sample: units file: no \"%s\" column\n",
                        want[k]);
                cs->err = 1;
            }
        }
    } else if (cs->err == 0) {
        struct gen *g = cs->g;
        struct unit u;
        int lv;

        if ((size_t)cs->col[0] >= n || (size_t)cs->col[1] >= n ||
            (size_t)cs->col[3] >= n || (size_t)cs->col[4] >= n) {
            fprintf(stderr, "povtrack-sample: units file row %zu: short\n",
                    cs->row);
            cs->err = 1;
        } else if ((lv = level_of(cs->cells[cs->col[4]])) < 0) {
            fprintf(stderr,
                    "povtrack-sample: units file row %zu: unknown level "
                    "\"%s\"\n",
                    cs->row, cs->cells[cs->col[4]]);
            cs->err = 1;
        } else {
            u.code = strdup(cs->cells[cs->col[0]]);
            u.name = strdup(cs->cells[cs->col[1]]);
            u.parent = cs->cells[cs->col[3]][0] != '\0'
                           ? strdup(cs->cells[cs->col[3]])
                           : NULL;
            u.level = (enum level)lv;
            u.parent_idx = SIZE_MAX;
            u.order = g->nunits;
            g->units = xrealloc(g->units, (g->nunits + 1) * sizeof(u));
            g->units[g->nunits++] = u;
        }
    }
    for (size_t i = 0; i < n; i++)
        free(cs->cells[i]);
    cs->ncells = 0;
}

static int unit_cmp(const void *a, const void *b)
{
    const struct unit *x = a, *y = b;

    if (x->level != y->level)
        return x->level < y->level ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

static int load_units(struct gen *g, const char *path)
{
    struct csv_parser p;
    struct csv_state cs;
    char buf[65536];
    size_t n;
    FILE *f = fopen(path, "r");

    if (f == NULL) {
        fprintf(stderr, "povtrack-sample: cannot open %s: %m\n", path);
        return -1;
    }
    memset(&cs, 0, sizeof(cs));
    cs.g = g;
    if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI) != 0) {
        fclose(f);
        return -1;
    }
    while (cs.err == 0 && (n = fread(buf, 1, sizeof(buf), f)) > 0) {
        size_t skip =
            cs.row == 0 && n >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0 ? 3
                                                                         : 0;
        if (csv_parse(&p, buf + skip, n - skip, on_cell, on_row, &cs) !=
            n - skip) {
            fprintf(stderr, "povtrack-sample: %s: %s\n", path,
                    csv_strerror(csv_error(&p)));
            cs.err = 1;
        }
    }
    if (cs.err == 0 && csv_fini(&p, on_cell, on_row, &cs) != 0) {
        fprintf(stderr, "povtrack-sample: %s: %s\n", path,
                csv_strerror(csv_error(&p)));
        cs.err = 1;
    }
    csv_free(&p);
    fclose(f);
    return cs.err ? -1 : 0;
}

static size_t find_unit(const struct gen *g, const char *code)
{
    for (size_t i = 0; i < g->nunits; i++)
        if (strcmp(g->units[i].code, code) == 0)
            return i;
    return SIZE_MAX;
}

/* Keep the subtree of the chosen province, parents before children. */
static int select_province(struct gen *g, const char *province)
{
    size_t kept = 0;

    qsort(g->units, g->nunits, sizeof(*g->units), unit_cmp);
    g->root = SIZE_MAX;
    for (size_t i = 0; i < g->nunits; i++)
        if (g->units[i].level == L_PROVINCE &&
            (province == NULL || strcmp(g->units[i].code, province) == 0)) {
            g->root = i;
            break;
        }
    if (g->root == SIZE_MAX) {
        fprintf(stderr, "povtrack-sample: no province %s in the units file\n",
                province ? province : "at all");
        return -1;
    }
    /* Sorted by level, so a unit's parent is decided before the unit. */
    bool *in = calloc(g->nunits, sizeof(bool));
    if (in == NULL)
        return -1;
    in[g->root] = true;
    for (size_t i = 0; i < g->nunits; i++) {
        struct unit *u = &g->units[i];
        if (u->parent == NULL)
            continue;
        size_t p = find_unit(g, u->parent);
        if (p != SIZE_MAX && in[p] && u->level == g->units[p].level + 1)
            in[i] = true;
    }
    for (size_t i = 0; i < g->nunits; i++) {
        if (in[i]) {
            g->units[kept++] = g->units[i];
        } else {
            free(g->units[i].code);
            free(g->units[i].name);
            free(g->units[i].parent);
        }
    }
    free(in);
    g->nunits = kept;
    g->root = 0;
    for (size_t i = 1; i < g->nunits; i++)
        g->units[i].parent_idx = find_unit(g, g->units[i].parent);
    return 0;
}

/* ---- output ----------------------------------------------------------- */

/* 00:00 in Vietnam on y-m-d, as unix seconds. */
static int64_t vn_day(int y, int m, int d)
{
    static const int before[12] = {0,   31,  59,  90,  120, 151,
                                   181, 212, 243, 273, 304, 334};
    int64_t days = 0;

    for (int k = 1970; k < y; k++)
        days += (k % 4 == 0 && (k % 100 != 0 || k % 400 == 0)) ? 366 : 365;
    days += before[m - 1] + d - 1;
    if (m > 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))
        days++;
    return days * 86400 - VN_OFFSET;
}

/* Write one event with id; data is stolen.  Times after --now are pulled
 * back to it: the daemon refuses events more than a day ahead. */
static void emit_id(struct gen *g, const char *id, enum evtype t, int64_t at,
                    const char *unit, const char *household, json_t *data)
{
    json_t *ev;

    if (at > g->now)
        at = g->now;
    ev = json_pack("{s:i,s:s,s:s,s:I,s:s,s:s*,s:o}", "v", 1, "id", id, "type",
                   type_names[t], "at", (json_int_t)at, "unit", unit,
                   "household", household, "data", data);
    if (ev == NULL ||
        json_dumpf(ev, g->out, JSON_COMPACT | JSON_PRESERVE_ORDER) != 0 ||
        fputc('\n', g->out) == EOF) {
        fprintf(stderr, "povtrack-sample: cannot write output\n");
        exit(1);
    }
    json_decref(ev);
    g->counts[t]++;
}

/* An event of the original stream: id gen-<seed>-<n>. */
static void emit(struct gen *g, enum evtype t, int64_t at, const char *unit,
                 const char *household, json_t *data)
{
    char id[64];

    snprintf(id, sizeof(id), "gen-%llu-%llu", (unsigned long long)g->seed,
             (unsigned long long)++g->next_id);
    emit_id(g, id, t, at, unit, household, data);
}

/* An event of another stream: id gen-<seed><stream><n>, n from *next. */
static void emit_in(struct gen *g, char stream, uint64_t *next, enum evtype t,
                    int64_t at, const char *unit, const char *household,
                    json_t *data)
{
    char id[64];

    snprintf(id, sizeof(id), "gen-%llu-%c%llu", (unsigned long long)g->seed,
             stream, (unsigned long long)++*next);
    emit_id(g, id, t, at, unit, household, data);
}

/* An event of the extra stream: id gen-<seed>-x<n>. */
static void emit_x(struct gen *g, enum evtype t, int64_t at, const char *unit,
                   const char *household, json_t *data)
{
    emit_in(g, 'x', &g->next_xid, t, at, unit, household, data);
}

/* A time on a random day in [from, to] (inclusive, as unix seconds of
 * 00:00), at a random office hour, drawn from r. */
static int64_t time_in(struct tl_rng *r, int64_t from, int64_t to)
{
    int64_t days = (to - from) / 86400;

    return from + tl_rng_range(r, 0, days) * 86400 +
           tl_rng_range(r, 7 * 3600, 17 * 3600);
}

/* time_in() on the first stream. */
static int64_t some_time(struct gen *g, int64_t from, int64_t to)
{
    return time_in(&g->rng, from, to);
}

/* ---- households ------------------------------------------------------- */

static size_t add_household(struct commune *c, uint8_t st)
{
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 256;
        c->state = xrealloc(c->state, c->cap);
    }
    c->state[c->n] = st;
    return c->n++;
}

/* Pick up to want of the households matching pred, uniformly; returns the
 * number picked and their indices in pick[]. */
static size_t choose(struct gen *g, struct commune *c, size_t want,
                     bool (*pred)(uint8_t), size_t **pick)
{
    size_t n = 0;

    *pick = xrealloc(*pick, (c->n + 1) * sizeof(**pick));
    for (size_t i = 0; i < c->n; i++)
        if (pred(c->state[i]))
            (*pick)[n++] = i;
    if (want > n)
        want = n;
    for (size_t i = 0; i < want; i++) {
        size_t j = i + (size_t)tl_rng_below(&g->rng, n - i);
        size_t t = (*pick)[i];
        (*pick)[i] = (*pick)[j];
        (*pick)[j] = t;
    }
    return want;
}

static bool is_poor(uint8_t s)
{
    return (s & H_STATUS) == H_POOR;
}
static bool is_escaped(uint8_t s)
{
    return (s & H_STATUS) != H_POOR && (s & H_ESCAPED);
}
static bool is_near_never_poor(uint8_t s)
{
    return (s & H_STATUS) == H_NEAR && !(s & H_ESCAPED);
}
static bool is_near_unmoved(uint8_t s)
{
    return (s & H_STATUS) == H_NEAR && !(s & H_MOVED);
}

static void set_status(struct commune *c, size_t i, uint8_t st)
{
    c->state[i] = (uint8_t)((c->state[i] & ~H_STATUS) | st | H_MOVED);
}

static size_t round_sz(double x)
{
    return x <= 0 ? 0 : (size_t)(x + 0.5);
}

/* One year of one commune: move households between lists to meet the
 * commune's poor and near-poor targets, then write the lists. */
static void commune_year(struct gen *g, struct commune *c, int year, bool first,
                         size_t **pick)
{
    const char *code = g->units[c->unit].code;
    size_t P = round_sz((double)c->hh * c->rate / 100.0);
    size_t N = round_sz((double)c->hh * c->near / 100.0);
    size_t prev = 0, k;

    for (size_t i = 0; i < c->n; i++) {
        c->state[i] &= (uint8_t)~H_MOVED;
        prev += is_poor(c->state[i]);
    }
    if (first) {
        for (size_t i = 0; i < P; i++)
            add_household(c, H_POOR);
        for (size_t i = 0; i < N; i++)
            add_household(c, H_NEAR);
    } else {
        /* A few relapse, some near-poor and some new households fall
         * into poverty, the rest of the target stays poor. */
        size_t relapse =
            round_sz((double)P * (0.01 + 0.04 * tl_rng_unit(&g->rng)));
        size_t newly =
            round_sz((double)P * (0.05 + 0.08 * tl_rng_unit(&g->rng)));
        size_t stay;

        if (relapse + newly > P)
            relapse = newly = P / 2;
        stay = P - relapse - newly;
        if (stay > prev) {
            newly += stay - prev;
            stay = prev;
        }
        k = choose(g, c, prev - stay, is_poor, pick);
        for (size_t i = 0; i < k; i++) {
            size_t h = (*pick)[i];
            /* Most who escape stay near the line for a while. */
            set_status(c, h, tl_rng_below(&g->rng, 10) < 6 ? H_NEAR : H_NONE);
            c->state[h] |= H_ESCAPED;
        }
        k = choose(g, c, relapse, is_escaped, pick);
        for (size_t i = 0; i < k; i++)
            set_status(c, (*pick)[i], H_POOR);
        newly += relapse - k;
        k = choose(g, c, newly / 2, is_near_never_poor, pick);
        for (size_t i = 0; i < k; i++)
            set_status(c, (*pick)[i], H_POOR);
        for (size_t i = k; i < newly; i++)
            add_household(c, H_POOR | H_MOVED);
        /* Near-poor list to its target: surplus leave it (implicitly
         * "none"), shortfall comes from households not listed before. */
        size_t near = 0;
        for (size_t i = 0; i < c->n; i++)
            near += (c->state[i] & H_STATUS) == H_NEAR;
        if (near > N) {
            k = choose(g, c, near - N, is_near_unmoved, pick);
            for (size_t i = 0; i < k; i++)
                c->state[(*pick)[i]] &= (uint8_t)~H_STATUS;
        }
        for (size_t i = near; i < N; i++)
            add_household(c, H_NEAR | H_MOVED);
    }
    for (size_t i = 0; i < c->n; i++) {
        uint8_t st = c->state[i] & H_STATUS;
        char hh[64];
        /* Escapers get an explicit status, "none" included, so that the
         * year they leave the list is on record. */
        if (st == H_NONE &&
            !((c->state[i] & H_MOVED) && (c->state[i] & H_ESCAPED)))
            continue;
        snprintf(hh, sizeof(hh), "h-%s-%zu", code, i + 1);
        emit(g, T_HOUSEHOLD_STATUS,
             some_time(g, vn_day(year, 12, 1), vn_day(year, 12, 14)), code, hh,
             json_pack("{s:i,s:s}", "year", year, "status",
                       st == H_POOR   ? "poor"
                       : st == H_NEAR ? "near_poor"
                                      : "none"));
    }
}

/* ---- the fund --------------------------------------------------------- */

static const char *const family[] = {"Nguyễn", "Trần",  "Lê", "Phạm",
                                     "Hoàng",  "Huỳnh", "Võ", "Phan",
                                     "Đặng",   "Bùi",   "Đỗ", "Ngô"};
static const char *const middle[] = {"Văn",  "Thị",  "Hữu",
                                     "Minh", "Ngọc", "Thanh"};
static const char *const given[] = {"An",  "Bình", "Cường", "Dũng",  "Hà",
                                    "Hải", "Hạnh", "Hùng",  "Lan",   "Long",
                                    "Mai", "Nam",  "Phúc",  "Quang", "Sơn",
                                    "Tâm", "Thảo", "Trung", "Tuấn",  "Yến"};
static const char *const firms[] = {
    "Công ty TNHH Thanh Long Hàm Thuận", "Công ty CP Nước mắm Phan Thiết",
    "Công ty CP Điện gió Tuy Phong",     "Công ty TNHH Du lịch Mũi Né",
    "Công ty CP Hải sản La Gi",          "Ngân hàng TMCP chi nhánh Bình Thuận",
    "Công ty TNHH Cát trắng Bắc Bình",   "Hợp tác xã Nông nghiệp Đức Linh"};
static const char *const orgs[] = {"Hội Nông dân",       "Hội Liên hiệp Phụ nữ",
                                   "Đoàn Thanh niên",    "Công đoàn ngành Y tế",
                                   "Hội Cựu chiến binh", "Trường THPT"};

#define PICK(arr) (arr)[tl_rng_below(&g->rng, sizeof(arr) / sizeof((arr)[0]))]

/* Amount in [lo, hi] rounded to step, spread evenly over the decades in
 * between (a cheap log-uniform without libm). */
static int64_t amount(struct gen *g, int64_t lo, int64_t hi, int64_t step)
{
    int64_t a = lo, b = lo * 10;
    int decades = 0;

    for (int64_t x = lo; x < hi; x *= 10)
        decades++;
    int d = decades > 0 ? (int)tl_rng_below(&g->rng, (uint64_t)decades) : 0;
    for (int i = 0; i < d; i++) {
        a *= 10;
        b *= 10;
    }
    if (b > hi)
        b = hi;
    int64_t v = tl_rng_range(&g->rng, a, b);
    v = v / step * step;
    return v < lo ? lo : v;
}

static void donor(struct gen *g, const char **kind, char *name, size_t cap,
                  const char *unit_name)
{
    uint64_t r = tl_rng_below(&g->rng, 100);

    if (r < 55) {
        *kind = "person";
        snprintf(name, cap, "%s %s %s", PICK(family), PICK(middle),
                 PICK(given));
    } else if (r < 75) {
        *kind = "organisation";
        snprintf(name, cap, "%s %s", PICK(orgs), unit_name);
    } else if (r < 95) {
        *kind = "business";
        snprintf(name, cap, "%s", PICK(firms));
    } else {
        *kind = "anonymous";
        snprintf(name, cap, "Nhà hảo tâm");
    }
}

/* A day, more often in the "month for the poor" (17 Oct - 18 Nov). */
static int64_t donation_time(struct gen *g, int year)
{
    if (tl_rng_below(&g->rng, 2) == 0)
        return some_time(g, vn_day(year, 10, 17), vn_day(year, 11, 18));
    return some_time(g, vn_day(year, 1, 1), vn_day(year, 12, 31));
}

/* A poor household of a commune under unit u (for housing support), or
 * NULL when there is none. */
static const char *poor_household(struct gen *g, size_t u, char *buf,
                                  size_t cap)
{
    for (int tries = 0; tries < 8; tries++) {
        struct commune *c = &g->communes[tl_rng_below(&g->rng, g->ncommunes)];
        const struct unit *cu = &g->units[c->unit];
        if (g->units[u].level == L_DISTRICT &&
            strcmp(cu->parent, g->units[u].code) != 0)
            continue;
        for (size_t t = 0; t < 16 && c->n > 0; t++) {
            size_t i = (size_t)tl_rng_below(&g->rng, c->n);
            if (is_poor(c->state[i])) {
                snprintf(buf, cap, "h-%s-%zu", cu->code, i + 1);
                return buf;
            }
        }
    }
    return NULL;
}

static void fund_year(struct gen *g, size_t u, int year, uint64_t *pledge_no)
{
    static const struct {
        const char *name;
        int share; /* percent of the year's disbursements */
        int64_t lo, hi;
    } purposes[] = {{"housing", 40, 40000000, 60000000},
                    {"livelihood", 15, 3000000, 20000000},
                    {"education", 10, 1000000, 5000000},
                    {"health", 10, 1000000, 10000000},
                    {"tet", 15, 5000000, 30000000},
                    {"disaster", 5, 5000000, 50000000},
                    {"other", 5, 1000000, 10000000}};
    const struct unit *un = &g->units[u];
    const char *level = level_names[un->level];
    int64_t received = 0;
    size_t ndon = round_sz((un->level == L_PROVINCE ? 40 : 20) * g->scale);
    size_t npledge = 1 + (size_t)tl_rng_below(&g->rng, 4);
    char name[160], hh[64];
    const char *kind;

    if (ndon < 3)
        ndon = 3;
    /* Pledges from businesses at the opening of the campaign; most are
     * paid in full, some in part, a few not at all. */
    for (size_t i = 0; i < npledge; i++) {
        char pledge[48];
        int64_t amt = amount(g, 20000000, 500000000, 1000000);
        uint64_t fate = tl_rng_below(&g->rng, 10);
        int64_t at = some_time(g, vn_day(year, 10, 17), vn_day(year, 10, 31));

        snprintf(pledge, sizeof(pledge), "CK-%d-%s-%llu", year, un->code,
                 (unsigned long long)++*pledge_no);
        snprintf(name, sizeof(name), "%s", PICK(firms));
        emit(g, T_DONATION_PLEDGED, at, un->code, NULL,
             json_pack("{s:s,s:I,s:s,s:I}", "pledge", pledge, "amount",
                       (json_int_t)amt, "donor", name, "due",
                       (json_int_t)vn_day(year, 12, 31)));
        if (fate == 9)
            continue;
        if (fate >= 7)
            amt = amt / 2 / 1000000 * 1000000;
        emit(g, T_DONATION_RECEIVED,
             some_time(g, vn_day(year, 11, 1), vn_day(year, 12, 20)), un->code,
             NULL,
             json_pack("{s:I,s:s,s:s,s:s,s:s}", "amount", (json_int_t)amt,
                       "donor", name, "donor_kind", "business", "level", level,
                       "pledge", pledge));
        received += amt;
    }
    for (size_t i = 0; i < ndon; i++) {
        int64_t amt;
        json_t *data;

        donor(g, &kind, name, sizeof(name), un->name);
        if (strcmp(kind, "business") == 0)
            amt = tl_rng_below(&g->rng, 100) < 15
                      ? amount(g, 100000000, 300000000, 1000000)
                      : amount(g, 5000000, 50000000, 100000);
        else if (strcmp(kind, "organisation") == 0)
            amt = amount(g, 1000000, 50000000, 100000);
        else
            amt = amount(g, 200000, 10000000, 10000);
        data = json_pack("{s:I,s:s,s:s,s:s}", "amount", (json_int_t)amt,
                         "donor", name, "donor_kind", kind, "level", level);
        if (tl_rng_below(&g->rng, 20) == 0)
            json_object_set_new(data, "in_kind", json_true());
        emit(g, T_DONATION_RECEIVED, donation_time(g, year), un->code, NULL,
             data);
        received += amt;
    }
    /* Spend 70-95% of the year's receipts, by purpose. */
    int64_t budget = received / 100 * (70 + (int64_t)tl_rng_below(&g->rng, 26));
    for (size_t p = 0; p < sizeof(purposes) / sizeof(purposes[0]); p++) {
        int64_t left = budget / 100 * purposes[p].share;
        while (left >= 200000) {
            int64_t amt = amount(g, purposes[p].lo, purposes[p].hi, 100000);
            const char *h = NULL;
            int64_t at;
            if (amt > left)
                amt = left / 100000 * 100000;
            if (amt < 200000)
                break;
            left -= amt;
            if (strcmp(purposes[p].name, "housing") == 0)
                h = poor_household(g, u, hh, sizeof(hh));
            if (strcmp(purposes[p].name, "tet") == 0)
                at = some_time(g, vn_day(year, 1, 5), vn_day(year, 2, 5));
            else if (strcmp(purposes[p].name, "education") == 0)
                at = some_time(g, vn_day(year, 8, 15), vn_day(year, 9, 15));
            else
                at = some_time(g, vn_day(year, 3, 1), vn_day(year, 12, 31));
            emit(g, T_FUND_DISBURSED, at, un->code, h,
                 json_pack("{s:I,s:s,s:s}", "amount", (json_int_t)amt,
                           "purpose", purposes[p].name, "level", level));
        }
    }
}

/* ---- the extra stream: assessments, loans, grants, relocation, reports */

/* time_in() on the extra stream. */
static int64_t xtime(struct gen *g, int64_t from, int64_t to)
{
    return time_in(&g->xrng, from, to);
}

#define XPICK(arr) (arr)[tl_rng_below(&g->xrng, sizeof(arr) / sizeof((arr)[0]))]

/* The indicators of the multidimensional standard for year (Decree
 * 07/2021; from 2027 waste treatment replaces information access). */
static const char *const indicators[12] = {
    "employment",       "dependants",      "nutrition",
    "health_insurance", "adult_education", "school_attendance",
    "housing_quality",  "housing_area",    "water",
    "latrine",          "telecom",         "information_access"};

static bool is_urban(const struct unit *u)
{
    return strncmp(u->name, "Phường", strlen("Phường")) == 0 ||
           strncmp(u->name, "Thị trấn", strlen("Thị trấn")) == 0;
}

/* The poverty line, VND per person per month, of the standard in force. */
static int64_t poverty_line(int year, bool urban)
{
    if (year >= 2027)
        return urban ? 2800000 : 2200000;
    return urban ? 2000000 : 1500000;
}

/* n distinct indicators, in the catalogue's order. */
static json_t *deprived(struct gen *g, int year, int n)
{
    bool on[12] = {false};
    json_t *a = json_array();

    for (int k = 0; k < n && k < 12;) {
        size_t i = (size_t)tl_rng_below(&g->xrng, 12);
        if (!on[i]) {
            on[i] = true;
            k++;
        }
    }
    for (size_t i = 0; i < 12; i++)
        if (on[i])
            json_array_append_new(a, json_string(i == 11 && year >= 2027
                                                     ? "waste_treatment"
                                                     : indicators[i]));
    return a;
}

static uint64_t code_hash(const char *code);

/* Whether household i of a commune has no member able to work (elderly,
 * disabled...): about one in sixteen, the same every year, a function of
 * the seed and the household alone. */
static bool no_labour(const struct gen *g, const char *code, size_t i)
{
    uint64_t h = (code_hash(code) ^ g->seed * UINT64_C(0x9E3779B97F4A7C15)) +
                 (uint64_t)i * UINT64_C(0xBF58476D1CE4E5B9);
    h ^= h >> 31;
    h *= UINT64_C(0x94D049BB133111EB);
    return (h >> 40) % 16 == 0;
}

enum assess { A_POOR, A_NEAR, A_ABOVE, A_SKIP };

static void assess(struct gen *g, const struct commune *c, size_t i, int year,
                   enum assess a)
{
    const struct unit *u = &g->units[c->unit];
    bool urban = is_urban(u);
    int64_t line = poverty_line(year, urban), income;
    char hh[64];
    int ndep;

    if (a == A_SKIP)
        return;
    /* Incomes in tens of thousands of VND, around the line: the poor and
     * near-poor at or below it, the others up to 2.5 times above. */
    if (a == A_POOR) {
        income = tl_rng_range(&g->xrng, line * 45 / 100, line * 95 / 100);
        ndep = 3 + (int)tl_rng_below(&g->xrng, 4);
    } else if (a == A_NEAR) {
        income = tl_rng_range(&g->xrng, line * 60 / 100, line);
        ndep = (int)tl_rng_below(&g->xrng, 3);
    } else {
        income = tl_rng_range(&g->xrng, line * 105 / 100, line * 25 / 10);
        ndep = (int)tl_rng_below(&g->xrng, 4);
    }
    income = income / 10000 * 10000;
    snprintf(hh, sizeof(hh), "h-%s-%zu", u->code, i + 1);
    json_t *data =
        json_pack("{s:i,s:s,s:I,s:I,s:o}", "year", year, "area",
                  urban ? "urban" : "rural", "members",
                  (json_int_t)(1 + tl_rng_below(&g->xrng, 7)), "income",
                  (json_int_t)income, "deprived", deprived(g, year, ndep));
    /* Drawing nothing, so that every other byte stays as it was. */
    if (no_labour(g, u->code, i))
        json_object_set_new(data, "no_labour_capacity", json_true());
    emit_x(g, T_HOUSEHOLD_ASSESSED,
           xtime(g, vn_day(year, 9, 1), vn_day(year, 11, 20)), u->code, hh,
           data);
}

/* The year's assessments of a commune: every poor and near-poor household
 * and one in five of the others, consistent with the status except a few
 * deliberate cases a quarter of the communes each get one of: assessed
 * poor but not on the list (unrecognised), on the poor list but assessed
 * above the line (recognition unsupported), on the poor list and never
 * assessed (no assessment). */
static void commune_assessments(struct gen *g, const struct commune *c,
                                int year)
{
    size_t unrec = SIZE_MAX, unsup = SIZE_MAX, skip = SIZE_MAX;
    size_t npoor = 0, nnone = 0;

    for (size_t i = 0; i < c->n; i++) {
        npoor += is_poor(c->state[i]);
        nnone += (c->state[i] & H_STATUS) == H_NONE;
    }
    /* The k-th poor (or other) household of the commune is the odd one. */
    if (nnone > 0 && tl_rng_below(&g->xrng, 4) == 0)
        unrec = (size_t)tl_rng_below(&g->xrng, nnone);
    if (npoor > 2 && tl_rng_below(&g->xrng, 4) == 0)
        unsup = (size_t)tl_rng_below(&g->xrng, npoor);
    if (npoor > 2 && tl_rng_below(&g->xrng, 4) == 0)
        skip = (size_t)tl_rng_below(&g->xrng, npoor);
    for (size_t i = 0, kp = 0, kn = 0; i < c->n; i++) {
        uint8_t st = c->state[i] & H_STATUS;
        if (st == H_POOR) {
            assess(g, c, i, year,
                   kp == skip    ? A_SKIP
                   : kp == unsup ? A_ABOVE
                                 : A_POOR);
            kp++;
        } else if (st == H_NEAR) {
            assess(g, c, i, year, A_NEAR);
        } else {
            if (kn == unrec)
                assess(g, c, i, year, A_POOR);
            else if (tl_rng_below(&g->xrng, 5) == 0)
                assess(g, c, i, year, A_ABOVE);
            kn++;
        }
    }
}

/* Policy loans (Bank for Social Policies) to some poor and near-poor
 * households without one, a third of them partly repaid within the year. */
static void commune_credit(struct gen *g, struct commune *c, int year)
{
    const char *code = g->units[c->unit].code;

    for (size_t i = 0; i < c->n; i++) {
        uint8_t st = c->state[i] & H_STATUS;
        const char *program;
        int64_t amt, at;
        char hh[64], loan[64];

        if ((st != H_POOR && st != H_NEAR) || (c->state[i] & H_LOAN) ||
            tl_rng_below(&g->xrng, 100) >= (st == H_POOR ? 18u : 10u))
            continue;
        if (tl_rng_below(&g->xrng, 5) == 0) {
            program = "nước sạch và vệ sinh môi trường";
            amt = tl_rng_range(&g->xrng, 10, 25) * 1000000;
        } else {
            program =
                st == H_POOR ? "cho vay hộ nghèo" : "cho vay hộ cận nghèo";
            amt = tl_rng_range(&g->xrng, 30, 100) * 1000000;
        }
        c->state[i] |= H_LOAN;
        snprintf(hh, sizeof(hh), "h-%s-%zu", code, i + 1);
        snprintf(loan, sizeof(loan), "NHCS-%s-%d-%llu", code, year,
                 (unsigned long long)++g->loan_no);
        at = xtime(g, vn_day(year, 2, 1), vn_day(year, 10, 31));
        emit_x(g, T_CREDIT_DISBURSED, at, code, hh,
               json_pack("{s:s,s:s,s:I}", "loan", loan, "program", program,
                         "amount", (json_int_t)amt));
        if (tl_rng_below(&g->xrng, 3) == 0)
            emit_x(g, T_CREDIT_REPAID,
                   xtime(g, vn_day(year, 11, 1), vn_day(year, 12, 31)), code,
                   hh,
                   json_pack("{s:s,s:I}", "loan", loan, "amount",
                             (json_int_t)(amt / 4 / 100000 * 100000)));
    }
}

/* Grants of the district's For the Poor fund to named households of a
 * commune (school things, health insurance, seedlings: small sums): one or
 * two to poor or near-poor households, and now and then one to a household
 * whose status this year is "none" (which the fund plugin questions). */
static void commune_grants(struct gen *g, const struct commune *c, int year)
{
    static const char *const purposes[] = {"livelihood", "education", "health"};
    const char *code = g->units[c->unit].code;
    int n = g->scale >= 0.5 ? 2 : 1;
    bool stray = tl_rng_below(&g->xrng, 8) == 0;

    for (int k = 0; k < n + stray && c->n > 0; k++) {
        for (int tries = 0; tries < 64; tries++) {
            size_t i = (size_t)tl_rng_below(&g->xrng, c->n);
            uint8_t s = c->state[i];
            /* An explicit "none" this year: an escaper of this year. */
            bool none =
                (s & H_STATUS) == H_NONE && (s & H_MOVED) && (s & H_ESCAPED);
            char hh[64];
            if (k == n ? !none : (s & H_STATUS) == H_NONE)
                continue;
            snprintf(hh, sizeof(hh), "h-%s-%zu", code, i + 1);
            emit_x(
                g, T_FUND_DISBURSED,
                xtime(g, vn_day(year, 3, 1), vn_day(year, 11, 30)), code, hh,
                json_pack("{s:I,s:s,s:s}", "amount",
                          (json_int_t)(tl_rng_range(&g->xrng, 5, 30) * 100000),
                          "purpose", XPICK(purposes), "level", "district"));
            break;
        }
    }
}

/* A few households a year leave a commune hit by landslides, floods or
 * erosion for another commune of the same district, with the support
 * items of the relocation policy; some still lack water or livelihood. */
static void relocations(struct gen *g, int year)
{
    static const char *const reasons[] = {"landslide", "flood", "erosion"};
    static const struct {
        const char *item;
        unsigned pct;
        int64_t lo, hi; /* millions of VND */
    } items[] = {{"land", 95, 30, 80},
                 {"housing", 95, 40, 60},
                 {"water", 80, 3, 10},
                 {"livelihood", 70, 5, 20}};

    for (int k = 0; k < 8 && g->ncommunes > 1; k++) {
        const struct commune *from =
            &g->communes[tl_rng_below(&g->xrng, g->ncommunes)];
        const struct commune *to = NULL;
        size_t others = 0;
        int64_t at = xtime(g, vn_day(year, 3, 1), vn_day(year, 9, 30));
        char hh[64];

        /* The destination: another commune of the same district. */
        for (size_t i = 0; i < g->ncommunes; i++)
            others += &g->communes[i] != from &&
                      g->communes[i].district == from->district;
        if (others == 0 || from->n == 0)
            continue;
        others = (size_t)tl_rng_below(&g->xrng, others);
        for (size_t i = 0; to == NULL && i < g->ncommunes; i++)
            if (&g->communes[i] != from &&
                g->communes[i].district == from->district && others-- == 0)
                to = &g->communes[i];
        snprintf(hh, sizeof(hh), "h-%s-%zu", g->units[from->unit].code,
                 (size_t)tl_rng_below(&g->xrng, from->n) + 1);
        emit_x(g, T_RELOCATION_COMPLETED, at, g->units[to->unit].code, hh,
               json_pack("{s:s,s:s}", "from", g->units[from->unit].code,
                         "reason", XPICK(reasons)));
        for (size_t i = 0; i < sizeof(items) / sizeof(items[0]); i++) {
            if (tl_rng_below(&g->xrng, 100) >= items[i].pct)
                continue;
            emit_x(g, T_RELOCATION_SUPPORT,
                   at + (int64_t)(1 + tl_rng_below(&g->xrng, 60)) * 86400,
                   g->units[to->unit].code, hh,
                   json_pack("{s:s,s:I}", "item", items[i].item, "amount",
                             (json_int_t)(tl_rng_range(&g->xrng, items[i].lo,
                                                       items[i].hi) *
                                          1000000)));
        }
    }
}

/* The organisations that owe the plan and the yearly reports: the
 * province's Fatherland Front committee and departments (at the province)
 * and each district's Party committee. */
struct org {
    char name[320];
    size_t unit;
};

static size_t orgs_of(const struct gen *g, struct org *o, size_t cap)
{
    static const char *const depts[] = {
        "Sở Lao động - Thương binh và Xã hội",
        "Sở Nông nghiệp và Phát triển nông thôn",
        "Sở Kế hoạch và Đầu tư",
        "Sở Tài chính",
        "Ngân hàng Chính sách xã hội chi nhánh tỉnh",
        "Hội Nông dân tỉnh",
        "Hội Liên hiệp Phụ nữ tỉnh"};
    const char *pname = g->units[g->root].name;
    size_t n = 0;

    if (strncmp(pname, "Tỉnh ", strlen("Tỉnh ")) == 0)
        pname += strlen("Tỉnh ");
    snprintf(o[n].name, sizeof(o[n].name),
             "Ủy ban Mặt trận Tổ quốc Việt Nam tỉnh %s", pname);
    o[n++].unit = g->root;
    for (size_t i = 0; i < sizeof(depts) / sizeof(depts[0]) && n < cap; i++) {
        snprintf(o[n].name, sizeof(o[n].name), "%s", depts[i]);
        o[n++].unit = g->root;
    }
    for (size_t d = 0; d < g->ndistricts && n < cap; d++) {
        static const struct {
            const char *prefix, *committee;
        } kinds[] = {{"Huyện ", "Huyện ủy"},
                     {"Thành phố ", "Thành ủy"},
                     {"Thị xã ", "Thị ủy"}};
        const char *dn = g->units[g->districts[d].unit].name;
        const char *committee = "Cấp ủy";
        for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
            if (strncmp(dn, kinds[k].prefix, strlen(kinds[k].prefix)) == 0) {
                dn += strlen(kinds[k].prefix);
                committee = kinds[k].committee;
            }
        snprintf(o[n].name, sizeof(o[n].name), "Ban Thường vụ %s %s", committee,
                 dn);
        o[n++].unit = g->districts[d].unit;
    }
    return n;
}

/* One report owed by every organisation, due at the end of the day due_day
 * (UTC+7): most submit in the weeks before, some late, never_max at most
 * never (overdue once the date has passed). */
static void reports(struct gen *g, const char *report, int64_t due_day,
                    unsigned late_pct, unsigned never_max)
{
    struct org o[64];
    size_t n = orgs_of(g, o, 64);
    int64_t due = due_day + 86399;
    size_t never1 = (size_t)tl_rng_below(&g->xrng, n);
    size_t never2 = never_max > 1 ? (size_t)tl_rng_below(&g->xrng, n) : n;

    for (size_t i = 0; i < n; i++) {
        const char *unit = g->units[o[i].unit].code;
        emit_x(g, T_REPORT_DUE, due_day - 60 * 86400, unit, NULL,
               json_pack("{s:s,s:s,s:I}", "org", o[i].name, "report", report,
                         "due", (json_int_t)due));
    }
    for (size_t i = 0; i < n; i++) {
        const char *unit = g->units[o[i].unit].code;
        int64_t at;
        if (never_max > 0 && (i == never1 || i == never2))
            continue;
        if (tl_rng_below(&g->xrng, 100) < late_pct)
            at = xtime(g, due_day + 2 * 86400, due_day + 45 * 86400);
        else
            at = xtime(g, due_day - 25 * 86400, due_day - 86400);
        emit_x(g, T_REPORT_SUBMITTED, at, unit, NULL,
               json_pack("{s:s,s:s}", "org", o[i].name, "report", report));
    }
}

/* ---- the third stream: the rest of the plan --------------------------- */

#define PPICK(arr) (arr)[tl_rng_below(&g->prng, sizeof(arr) / sizeof((arr)[0]))]

static int64_t ptime(struct gen *g, int64_t from, int64_t to)
{
    return time_in(&g->prng, from, to);
}

static void emit_p(struct gen *g, enum evtype t, int64_t at, const char *unit,
                   const char *household, json_t *data)
{
    emit_in(g, 'p', &g->next_pid, t, at, unit, household, data);
}

static const char *const products[] = {
    "Thanh long ruột đỏ", "Nước mắm",   "Hạt điều", "Mực một nắng",
    "Bưởi da xanh",       "Cá cơm khô", "Nho",      "Sầu riêng",
    "Gạo thơm",           "Bánh tráng"};

/* II.3: a production link in one commune in three, with a cooperative or
 * an enterprise, that about 30% of its poor and 20% of its near-poor
 * households join; an OCOP rating in one commune in ten (a product rated
 * again in a later year is re-rated). */
static void commune_links(struct gen *g, const struct commune *c, int year)
{
    const struct unit *u = &g->units[c->unit];
    char link[64], partner[320], product[320], hh[64];
    bool coop = tl_rng_below(&g->prng, 5) < 3;

    if (tl_rng_below(&g->prng, 3) == 0 && c->n > 0) {
        snprintf(link, sizeof(link), "LK-%d-%s", year, u->code);
        snprintf(product, sizeof(product), "%s", PPICK(products));
        if (coop)
            snprintf(partner, sizeof(partner), "Hợp tác xã Nông nghiệp %s",
                     u->name);
        else
            snprintf(partner, sizeof(partner), "%s", PPICK(firms));
        for (size_t i = 0; i < c->n; i++) {
            uint8_t st = c->state[i] & H_STATUS;
            if ((st != H_POOR && st != H_NEAR) ||
                tl_rng_below(&g->prng, 10) >= (st == H_POOR ? 3u : 2u))
                continue;
            snprintf(hh, sizeof(hh), "h-%s-%zu", u->code, i + 1);
            emit_p(g, T_PRODUCTION_LINKED,
                   ptime(g, vn_day(year, 3, 1), vn_day(year, 6, 30)), u->code,
                   hh,
                   json_pack("{s:s,s:s,s:s,s:s,s:i}", "link", link, "partner",
                             partner, "partner_kind",
                             coop ? "cooperative" : "enterprise", "product",
                             product, "year", year));
        }
    }
    if (tl_rng_below(&g->prng, 10) == 0) {
        uint64_t r = tl_rng_below(&g->prng, 100);
        snprintf(product, sizeof(product), "%s %s", PPICK(products), u->name);
        emit_p(g, T_OCOP_CERTIFIED,
               ptime(g, vn_day(year, 6, 1), vn_day(year, 11, 30)), u->code,
               NULL,
               json_pack("{s:s,s:i}", "product", product, "stars",
                         r < 60   ? 3
                         : r < 93 ? 4
                                  : 5));
    }
}

/* II.3: the monthly allowance of poor households with no labour capacity,
 * paid by the quarter (360,000 VND a month); one in thirty is left unpaid
 * in a year (protection.no_assistance at the review), one in twenty gets
 * emergency help too. */
static void commune_assistance(struct gen *g, const struct commune *c, int year)
{
    static const int months[4] = {3, 6, 9, 12};
    const char *code = g->units[c->unit].code;
    char hh[64];

    for (size_t i = 0; i < c->n; i++) {
        if ((c->state[i] & H_STATUS) != H_POOR || !no_labour(g, code, i))
            continue;
        snprintf(hh, sizeof(hh), "h-%s-%zu", code, i + 1);
        if (tl_rng_below(&g->prng, 30) != 0)
            for (int q = 0; q < 4; q++)
                emit_p(g, T_ASSISTANCE_PAID,
                       ptime(g, vn_day(year, months[q], 1),
                             vn_day(year, months[q], 10)),
                       code, hh,
                       json_pack("{s:s,s:I}", "kind", "regular", "amount",
                                 (json_int_t)1080000));
        if (tl_rng_below(&g->prng, 20) == 0)
            emit_p(g, T_ASSISTANCE_PAID,
                   ptime(g, vn_day(year, 9, 15), vn_day(year, 11, 30)), code,
                   hh,
                   json_pack("{s:s,s:I}", "kind", "emergency", "amount",
                             (json_int_t)2000000));
    }
}

/* II.4: the National Target Programmes' budget of a unit for a year: some
 * projects of the poverty-reduction programme (Decision 90/QĐ-TTg), and
 * for mountainous districts some of the ethnic-minority programme
 * (Decision 1719/QĐ-TTg); 75-100% spent by the end of the year, three
 * quarters of it by August, a slow unit all of it from October
 * (budget.low_execution). */
static void unit_budget(struct gen *g, size_t u, int year, bool ethnic,
                        bool slow)
{
    static const char *const poverty[] = {
        "Dự án 2: Đa dạng hóa sinh kế",
        "Dự án 3: Hỗ trợ phát triển sản xuất",
        "Dự án 4: Giáo dục nghề nghiệp, việc làm",
        "Dự án 5: Hỗ trợ nhà ở hộ nghèo, cận nghèo",
        "Dự án 6: Truyền thông, giảm nghèo về thông tin",
        "Dự án 7: Nâng cao năng lực, giám sát"};
    static const char *const minority[] = {
        "Dự án 1: Đất ở, nhà ở, đất sản xuất, nước sinh hoạt",
        "Dự án 3: Phát triển sản xuất nông, lâm nghiệp",
        "Dự án 4: Hạ tầng thiết yếu"};
    const char *code = g->units[u].code;

    for (int p = 0; p < (ethnic ? 2 : 1); p++) {
        const char *program = p == 0 ? "poverty_reduction" : "ethnic_minority";
        for (int k = 0; k < 3; k++) {
            const char *component = p == 0 ? PPICK(poverty) : PPICK(minority);
            int64_t amount =
                tl_rng_range(&g->prng, 2, 20) * 100000000 * (p + 1);
            int64_t spend = amount / 100 * (75 + tl_rng_range(&g->prng, 0, 25));
            int64_t left = spend;
            emit_p(g, T_BUDGET_ALLOCATED,
                   ptime(g, vn_day(year, 1, 15), vn_day(year, 3, 31)), code,
                   NULL,
                   json_pack("{s:s,s:s,s:i,s:I}", "program", program,
                             "component", component, "year", year, "amount",
                             (json_int_t)amount));
            /* Three tranches by August, the last in the autumn; a slow
             * unit spends it all from October. */
            for (int t = 0; t < 4 && left > 0; t++) {
                int64_t part = t == 3 ? left : spend / 4;
                bool late = t == 3 || slow;
                int64_t from =
                    late ? vn_day(year, 10, 1) : vn_day(year, 2 * t + 2, 1);
                int64_t to =
                    late ? vn_day(year, 12, 20) : vn_day(year, 2 * t + 4, 28);
                emit_p(g, T_BUDGET_SPENT, ptime(g, from, to), code, NULL,
                       json_pack("{s:s,s:s,s:i,s:I}", "program", program,
                                 "component", component, "year", year, "amount",
                                 (json_int_t)part));
                left -= part;
            }
        }
    }
}

/* III.4: the province commends a few collectives and individuals at the
 * end of the year, each district one or two, the Prime Minister one in
 * odd years. */
static void commendations(struct gen *g, int year)
{
    static const char *const groups[] = {"Hội Nông dân", "Hội Liên hiệp Phụ nữ",
                                         "Hợp tác xã Nông nghiệp",
                                         "Ủy ban Mặt trận Tổ quốc"};
    char who[320], by[320], decision[64];
    int n = 0;

    for (size_t k = 0; k < 6 + g->ndistricts; k++) {
        bool province = k < 6, person = tl_rng_below(&g->prng, 5) < 2;
        size_t u = province ? g->root : g->districts[k - 6].unit;
        const struct commune *c =
            &g->communes[tl_rng_below(&g->prng, g->ncommunes)];
        const char *level = province ? "province" : "district";
        if (k == 5 && year % 2 == 0)
            continue;
        if (person)
            snprintf(who, sizeof(who), "%s %s %s", PPICK(family), PPICK(middle),
                     PPICK(given));
        else
            snprintf(who, sizeof(who), "%s %s", PPICK(groups),
                     g->units[c->unit].name);
        if (k == 5) {
            level = "central";
            snprintf(by, sizeof(by), "Thủ tướng Chính phủ");
        } else {
            snprintf(by, sizeof(by), "Chủ tịch UBND %s", g->units[u].name);
        }
        snprintf(decision, sizeof(decision), "%d/QĐ-%s", 100 + ++n,
                 k == 5 ? "TTg" : "UBND");
        emit_p(g, T_COMMENDATION_AWARDED,
               ptime(g, vn_day(year, 12, 18), vn_day(year, 12, 30)),
               g->units[u].code, NULL,
               json_pack("{s:s,s:s,s:s,s:s,s:s}", "recipient", who,
                         "recipient_kind", person ? "individual" : "collective",
                         "awarded_by", by, "level", level, "decision",
                         decision));
    }
}

/* The year of the rest of the plan, before the reviews close. */
static void plan_year(struct gen *g, int year)
{
    size_t slow = g->ndistricts > 0
                      ? (size_t)tl_rng_below(&g->prng, g->ndistricts)
                      : SIZE_MAX;

    for (size_t c = 0; c < g->ncommunes; c++) {
        commune_links(g, &g->communes[c], year);
        commune_assistance(g, &g->communes[c], year);
    }
    unit_budget(g, g->root, year, false, false);
    for (size_t d = 0; d < g->ndistricts; d++)
        unit_budget(g, g->districts[d].unit, year, d % 3 == 0, d == slow);
    commendations(g, year);
}

/* ---- the whole run ---------------------------------------------------- */

static void setup(struct gen *g)
{
    for (size_t i = 0; i < g->nunits; i++) {
        if (g->units[i].level == L_DISTRICT) {
            struct district d = {i, 0.45 + 0.70 * tl_rng_unit(&g->rng)};
            g->districts =
                xrealloc(g->districts, (g->ndistricts + 1) * sizeof(d));
            g->districts[g->ndistricts++] = d;
        }
    }
    for (size_t i = 0; i < g->nunits; i++) {
        struct commune c;
        if (g->units[i].level != L_COMMUNE)
            continue;
        memset(&c, 0, sizeof(c));
        c.unit = i;
        for (size_t d = 0; d < g->ndistricts; d++)
            if (g->districts[d].unit == g->units[i].parent_idx)
                c.district = d;
        c.base_hh = (double)tl_rng_range(&g->rng, 1000, 6000) * g->scale;
        c.rate = 4.0 + 2.0 * tl_rng_unit(&g->rng);
        c.near = 3.0 + 2.0 * tl_rng_unit(&g->rng);
        g->communes = xrealloc(g->communes, (g->ncommunes + 1) * sizeof(c));
        g->communes[g->ncommunes++] = c;
    }
    /* One district's rate rises in one year (a storm, a closed factory). */
    g->rise_district =
        g->ndistricts > 0 ? (size_t)tl_rng_below(&g->rng, g->ndistricts) : 0;
    g->rise_year =
        g->to > g->from
            ? g->from + 1 +
                  (int)tl_rng_below(&g->rng, (uint64_t)(g->to - g->from))
            : g->from;
}

static void run(struct gen *g)
{
    size_t *pick = NULL;
    uint64_t pledge_no = 0;
    double growth = 1.0;
    char title[128];

    for (size_t i = 0; i < g->nunits; i++) {
        const struct unit *u = &g->units[i];
        emit(g, T_UNIT_DEFINED, vn_day(g->from, 1, 1), u->code, NULL,
             json_pack("{s:s,s:s?,s:s}", "name", u->name, "parent", u->parent,
                       "level", level_names[u->level]));
    }
    for (int year = g->from; year <= g->to; year++) {
        bool first = year == g->from;

        for (size_t c = 0; c < g->ncommunes; c++) {
            struct commune *cm = &g->communes[c];
            cm->hh = (int64_t)(cm->base_hh * growth + 0.5);
            if (cm->hh < 50)
                cm->hh = 50;
            emit(g, T_UNIT_HOUSEHOLDS, vn_day(year, 9, 1),
                 g->units[cm->unit].code, NULL,
                 json_pack("{s:i,s:I}", "year", year, "households",
                           (json_int_t)cm->hh));
        }
        for (size_t c = 0; c < g->ncommunes; c++) {
            struct commune *cm = &g->communes[c];
            if (!first) {
                const struct district *d = &g->districts[cm->district];
                double drop =
                    d->base_decline - 0.25 + 0.5 * tl_rng_unit(&g->rng);
                if (cm->district == g->rise_district && year == g->rise_year)
                    drop = -(0.3 + 0.4 * tl_rng_unit(&g->rng));
                cm->rate -= drop;
                if (cm->rate < 0.2)
                    cm->rate = 0.2;
                cm->near -= 0.2 + 0.4 * tl_rng_unit(&g->rng);
                if (cm->near < 0.5)
                    cm->near = 0.5;
            }
            commune_year(g, cm, year, first, &pick);
            commune_assessments(g, cm, year);
            commune_credit(g, cm, year);
            commune_grants(g, cm, year);
        }
        relocations(g, year);
        plan_year(g, year);
        fund_year(g, g->root, year, &pledge_no);
        for (size_t d = 0; d < g->ndistricts; d++)
            fund_year(g, g->districts[d].unit, year, &pledge_no);
        for (size_t d = 0; d < g->ndistricts; d++)
            emit(g, T_REVIEW_CLOSED, vn_day(year, 12, 15),
                 g->units[g->districts[d].unit].code, NULL,
                 json_pack("{s:i}", "year", year));
        emit(g, T_REVIEW_CLOSED, vn_day(year, 12, 15), g->units[g->root].code,
             NULL, json_pack("{s:i}", "year", year));
        /* Plan III.1: implementation plans due before 30 October 2021;
         * then a progress report every 15 December. */
        if (year == 2021)
            reports(g, "Kế hoạch thực hiện Chỉ thị 05-CT/TW",
                    vn_day(2021, 10, 30), 12, 2);
        snprintf(title, sizeof(title),
                 "Báo cáo kết quả thực hiện Chỉ thị 05-CT/TW năm %d", year);
        reports(g, title, vn_day(year, 12, 15), 8,
                (unsigned)tl_rng_below(&g->xrng, 2));
        growth *= 1.01;
    }
    free(pick);
}

/* ---- national mode ---------------------------------------------------- */

/*
 * --national: every province of the units file (or those --province
 * lists), one year, every household.  Nothing is kept per household: each
 * commune's households are drawn from a random stream of its own, seeded
 * by the seed and the commune's code, so a run over some provinces writes
 * the same households, statuses and assessments as those provinces have in
 * the run over the whole country (only the event ids, numbered in order,
 * differ).  The hot events are written with fprintf rather than jansson:
 * 27 million households make 54 million lines.
 */
#define NAT_HOUSEHOLDS 26900000 /* Viet Nam, 2019 census (domain.md) */
#define NT_STATUS 1u
#define NT_ASSESSED 2u
#define NT_DONATIONS 4u

struct nat {
    int year;
    unsigned types;
    int64_t households; /* total of the selection; 0: the country's share */
    int64_t total;      /* households written */
};

static uint64_t code_hash(const char *code)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    for (; *code != '\0'; code++)
        h = (h ^ (unsigned char)*code) * UINT64_C(0x100000001b3);
    return h;
}

/* A stream of its own for (unit, purpose). */
static void unit_rng(const struct gen *g, struct tl_rng *r, const char *code,
                     uint64_t purpose)
{
    tl_rng_seed(r, g->seed * UINT64_C(0x9E3779B97F4A7C15) ^ code_hash(code) ^
                       purpose * UINT64_C(0xD6E8FEB86659FD93));
}

/* Keep the provinces listed in list ("01,79"; NULL: all) with their
 * districts and communes, parents before children. */
static int select_provinces(struct gen *g, const char *list)
{
    qsort(g->units, g->nunits, sizeof(*g->units), unit_cmp);
    bool *in = calloc(g->nunits ? g->nunits : 1, sizeof(bool));
    size_t kept = 0, provinces = 0;
    if (in == NULL)
        return -1;
    for (size_t i = 0; i < g->nunits; i++) {
        struct unit *u = &g->units[i];
        if (u->level == L_PROVINCE) {
            size_t n = strlen(u->code);
            const char *p = list;
            in[i] = list == NULL;
            while (p != NULL && !in[i]) {
                in[i] = strncmp(p, u->code, n) == 0 &&
                        (p[n] == ',' || p[n] == '\0');
                p = strchr(p, ',');
                p = p != NULL ? p + 1 : NULL;
            }
            provinces += in[i];
        } else if (u->parent != NULL) {
            size_t p = find_unit(g, u->parent);
            in[i] = p != SIZE_MAX && in[p] && u->level == g->units[p].level + 1;
        }
    }
    if (provinces == 0) {
        fprintf(stderr, "povtrack-sample: no province %s in the units file\n",
                list != NULL ? list : "at all");
        free(in);
        return -1;
    }
    for (size_t i = 0; i < g->nunits; i++) {
        if (in[i]) {
            g->units[kept++] = g->units[i];
        } else {
            free(g->units[i].code);
            free(g->units[i].name);
            free(g->units[i].parent);
        }
    }
    free(in);
    g->nunits = kept;
    g->root = 0;
    for (size_t i = 0; i < g->nunits; i++)
        g->units[i].parent_idx = g->units[i].parent != NULL
                                     ? find_unit(g, g->units[i].parent)
                                     : SIZE_MAX;
    return 0;
}

/* A commune's share of the households (0.4..1.6 of the mean) and its
 * poor, near-poor and average shares in per mille. */
struct nat_commune {
    double weight;
    unsigned poor, near, average;
};

static struct nat_commune nat_commune(const struct gen *g, const char *code)
{
    struct tl_rng r;
    struct nat_commune c;
    unit_rng(g, &r, code, 1);
    c.weight = 0.4 + 1.2 * tl_rng_unit(&r);
    c.poor = 5 + (unsigned)tl_rng_below(&r, 66);      /* 0.5-7.0% */
    c.near = 15 + (unsigned)tl_rng_below(&r, 41);     /* 1.5-5.5% */
    c.average = 120 + (unsigned)tl_rng_below(&r, 81); /* 12-20% */
    return c;
}

/* One line of JSON written by hand (the caller's strings need no
 * escaping: codes, ids and catalogue names); data is the data map. */
static void emit_raw(struct gen *g, enum evtype t, int64_t at, const char *unit,
                     const char *household, const char *data)
{
    if (at > g->now)
        at = g->now;
    if (fprintf(g->out,
                "{\"v\":1,\"id\":\"gen-%llu-%llu\",\"type\":\"%s\",\"at\":%lld,"
                "\"unit\":\"%s\",\"household\":\"%s\",\"data\":%s}\n",
                (unsigned long long)g->seed, (unsigned long long)++g->next_id,
                type_names[t], (long long)at, unit, household, data) < 0) {
        fprintf(stderr, "povtrack-sample: cannot write output\n");
        exit(1);
    }
    g->counts[t]++;
}

/* The households of one commune: an assessment and a status each. */
static void nat_households(struct gen *g, const struct nat *n,
                           const struct unit *u, int64_t hh)
{
    static const char *const names[4] = {"poor", "near_poor", "average",
                                         "none"};
    struct nat_commune c = nat_commune(g, u->code);
    bool urban = is_urban(u);
    int64_t line = poverty_line(n->year, urban);
    char id[64], data[512];

    unit_rng(g, &g->rng, u->code, 2);
    for (int64_t i = 1; i <= hh; i++) {
        unsigned r = (unsigned)tl_rng_below(&g->rng, 1000);
        int st = r < c.poor                        ? 0
                 : r < c.poor + c.near             ? 1
                 : r < c.poor + c.near + c.average ? 2
                                                   : 3;
        snprintf(id, sizeof(id), "h-%s-%lld", u->code, (long long)i);
        if (n->types & NT_ASSESSED) {
            int64_t income;
            int ndep;
            if (st == 0) {
                income =
                    tl_rng_range(&g->rng, line * 45 / 100, line * 95 / 100);
                ndep = 3 + (int)tl_rng_below(&g->rng, 4);
            } else if (st == 1) {
                income = tl_rng_range(&g->rng, line * 60 / 100, line);
                ndep = (int)tl_rng_below(&g->rng, 3);
            } else {
                income = tl_rng_range(&g->rng, line * 105 / 100,
                                      st == 2 ? line * 15 / 10 : line * 4);
                ndep = (int)tl_rng_below(&g->rng, 3);
            }
            bool on[12] = {false};
            for (int k = 0; k < ndep;) {
                size_t j = (size_t)tl_rng_below(&g->rng, 12);
                if (!on[j]) {
                    on[j] = true;
                    k++;
                }
            }
            int len = snprintf(
                data, sizeof(data),
                "{\"year\":%d,\"area\":\"%s\",\"members\":%d,\"income\":%lld,"
                "\"deprived\":[",
                n->year, urban ? "urban" : "rural",
                1 + (int)tl_rng_below(&g->rng, 7),
                (long long)(income / 10000 * 10000));
            bool first = true;
            for (size_t j = 0; j < 12; j++)
                if (on[j]) {
                    len +=
                        snprintf(data + len, sizeof(data) - (size_t)len,
                                 "%s\"%s\"", first ? "" : ",",
                                 j == 11 && n->year >= 2027 ? "waste_treatment"
                                                            : indicators[j]);
                    first = false;
                }
            snprintf(data + len, sizeof(data) - (size_t)len, "]}");
            emit_raw(
                g, T_HOUSEHOLD_ASSESSED,
                some_time(g, vn_day(n->year, 9, 1), vn_day(n->year, 11, 20)),
                u->code, id, data);
        }
        if (n->types & NT_STATUS) {
            snprintf(data, sizeof(data), "{\"year\":%d,\"status\":\"%s\"}",
                     n->year, names[st]);
            emit_raw(
                g, T_HOUSEHOLD_STATUS,
                some_time(g, vn_day(n->year, 12, 1), vn_day(n->year, 12, 14)),
                u->code, id, data);
        }
    }
}

/* A unit's donations of the year that fall in month m (1-12): the times
 * are drawn alike for every month, so each donation is written once, and
 * the year's donations come out in month order. */
static void nat_donations(struct gen *g, const struct nat *n,
                          const struct unit *u, size_t k, int m)
{
    struct tl_rng times;
    char name[160];
    const char *kind;
    int64_t from = vn_day(n->year, m, 1);
    int64_t to =
        m == 12 ? vn_day(n->year + 1, 1, 1) : vn_day(n->year, m + 1, 1);

    unit_rng(g, &times, u->code, 3);
    for (size_t j = 0; j < k; j++) {
        int64_t at;
        /* Half in the month for the poor (17 October - 18 November). */
        if (tl_rng_below(&times, 2) == 0)
            at = vn_day(n->year, 10, 17) + tl_rng_range(&times, 0, 32) * 86400;
        else
            at = vn_day(n->year, 1, 1) + tl_rng_range(&times, 0, 364) * 86400;
        at += tl_rng_range(&times, 7 * 3600, 17 * 3600);
        if (at < from || at >= to)
            continue;
        unit_rng(g, &g->rng, u->code, 1000 + j);
        donor(g, &kind, name, sizeof(name), u->name);
        int64_t amt = strcmp(kind, "business") == 0
                          ? amount(g, 5000000, 300000000, 100000)
                      : strcmp(kind, "organisation") == 0
                          ? amount(g, 1000000, 50000000, 100000)
                          : amount(g, 200000, 10000000, 10000);
        emit(g, T_DONATION_RECEIVED, at, u->code, NULL,
             json_pack("{s:I,s:s,s:s,s:s}", "amount", (json_int_t)amt, "donor",
                       name, "donor_kind", kind, "level",
                       level_names[u->level]));
    }
}

static void nat_run(struct gen *g, struct nat *n)
{
    double wsum = 0;
    size_t ncommunes = 0;

    for (size_t i = 0; i < g->nunits; i++) {
        const struct unit *u = &g->units[i];
        emit(g, T_UNIT_DEFINED, vn_day(n->year, 1, 1), u->code, NULL,
             json_pack("{s:s,s:s?,s:s}", "name", u->name, "parent", u->parent,
                       "level", level_names[u->level]));
        if (u->level == L_COMMUNE) {
            wsum += nat_commune(g, u->code).weight;
            ncommunes++;
        }
    }
    /* The country's households spread over its communes; a selection of
     * provinces gets its share unless --households says otherwise. */
    double total = n->households > 0
                       ? (double)n->households
                       : (double)NAT_HOUSEHOLDS * (double)ncommunes / 10047.0;
    for (size_t i = 0; i < g->nunits; i++) {
        const struct unit *u = &g->units[i];
        if (u->level != L_COMMUNE)
            continue;
        int64_t hh =
            (int64_t)(total * nat_commune(g, u->code).weight / wsum + 0.5);
        emit(g, T_UNIT_HOUSEHOLDS, vn_day(n->year, 9, 1), u->code, NULL,
             json_pack("{s:i,s:I}", "year", n->year, "households",
                       (json_int_t)hh));
    }
    for (size_t i = 0; i < g->nunits; i++) {
        const struct unit *u = &g->units[i];
        if (u->level != L_COMMUNE)
            continue;
        int64_t hh =
            (int64_t)(total * nat_commune(g, u->code).weight / wsum + 0.5);
        if (n->types & (NT_STATUS | NT_ASSESSED))
            nat_households(g, n, u, hh);
        n->total += hh;
    }
    /* A year of donations to the fund of every province (100), district
     * and commune (40 each), times --scale. */
    for (int m = 1; m <= 12 && (n->types & NT_DONATIONS); m++)
        for (size_t i = 0; i < g->nunits; i++) {
            const struct unit *u = &g->units[i];
            nat_donations(
                g, n, u,
                round_sz((u->level == L_PROVINCE ? 100 : 40) * g->scale), m);
        }
    for (int level = L_DISTRICT; level >= L_PROVINCE; level--)
        for (size_t i = 0; i < g->nunits; i++)
            if ((int)g->units[i].level == level)
                emit(g, T_REVIEW_CLOSED, vn_day(n->year, 12, 15),
                     g->units[i].code, NULL,
                     json_pack("{s:i}", "year", n->year));
}

static int parse_types(const char *arg, unsigned *out)
{
    static const struct {
        const char *name;
        unsigned bit;
    } t[] = {{"status", NT_STATUS},
             {"assessed", NT_ASSESSED},
             {"donations", NT_DONATIONS}};
    *out = 0;
    for (const char *p = arg; *p != '\0';) {
        size_t len = strcspn(p, ",");
        bool found = false;
        for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
            if (strlen(t[i].name) == len && strncmp(t[i].name, p, len) == 0) {
                *out |= t[i].bit;
                found = true;
            }
        if (!found) {
            fprintf(stderr,
                    "povtrack-sample: --types: \"%.*s\" is not status, "
                    "assessed or donations\n",
                    (int)len, p);
            return -1;
        }
        p += len;
        if (*p == ',')
            p++;
    }
    return 0;
}

static const char usage[] =
    "Usage: povtrack-sample --units FILE [--province CODE] [--seed N]\n"
    "                       [--scale F] [--from-year Y] [--to-year Y]\n"
    "                       [--now UNIX]\n"
    "\n"
    "Write a sample province's events as JSON lines on standard output, for\n"
    "'povtrack send'.  Counts per event type go to standard error.\n"
    "\n"
    "  --units FILE     units CSV (columns code,name,type,parent,level), e.g.\n"
    "                   shared/data/units-binh-thuan-2025-03-01.csv; the\n"
    "                   national list works too (see --province)\n"
    "  --province CODE  the province to generate (default: the first one)\n"
    "  --seed N         PRNG seed (default 1); the same seed, file and\n"
    "                   options give byte-identical output\n"
    "  --scale F        multiply household counts and the number of\n"
    "                   donations by F (default 1.0; 0.01..100)\n"
    "  --from-year Y, --to-year Y   years to cover (default 2021..2025)\n"
    "  --now UNIX       events later than this time (default: now) are\n"
    "                   dated at it, as povtrackd refuses events more than a\n"
    "                   day ahead; give it to make output independent of the\n"
    "                   day of the run when the years reach the present\n"
    "\n"
    "What is generated, in this order:\n"
    " - unit.defined for every unit of the province, parents first, dated\n"
    "   1 January of the first year;\n"
    " - per year: unit.households per commune (1,000-6,000 x F households,\n"
    "   growing 1% a year), dated 1 September;\n"
    " - household.status for every poor and near-poor household (ids\n"
    "   h-<commune>-<n>, stable across years), dated 1-14 December.  About\n"
    "   4-6% of households start poor; the rate falls by about 0.8 points a\n"
    "   year, by district (some districts miss the 0.7-point target, one\n"
    "   district's rate rises in one year).  Households that escape get an\n"
    "   explicit near_poor or none status that year; a few relapse later;\n"
    "   others fall into poverty for the first time;\n"
    " - the For the Poor fund of the province and of each district:\n"
    "   donation.pledged by businesses (17-31 October, due 31 December),\n"
    "   donation.received naming most pledges, other donations of 200,000\n"
    "   to 50,000,000 VND (some businesses 100,000,000 or more), half of\n"
    "   them in the month for the poor (17 October - 18 November);\n"
    "   fund.disbursed of 70-95% of the year's receipts by purpose\n"
    "   (housing to named poor households, Tet in January...);\n"
    " - review.closed for each district and then the province, dated 15\n"
    "   December.\n"
    "Between them, from a second random stream (ids gen-<seed>-x<n>, so the\n"
    "events above are the same bytes as without them):\n"
    " - household.assessed each year (1 September - 20 November) for every\n"
    "   poor and near-poor household and one in five of the others: income\n"
    "   per person around the poverty line (2022-2026: rural 1,500,000, urban\n"
    "   2,000,000 VND a month; \"Phường\" and \"Thị trấn\" communes urban),\n"
    "   the poor with 3-6 of the 12 indicators deprived.  A quarter of the\n"
    "   communes each get one household assessed poor but not listed\n"
    "   (unrecognised), one listed poor but assessed above the line\n"
    "   (recognition unsupported), one listed poor and never assessed;\n"
    " - credit.disbursed to some poor (18%) and near-poor (10%) households\n"
    "   without a loan (programmes \"cho vay hộ nghèo\", \"cho vay hộ cận\n"
    "   nghèo\", \"nước sạch và vệ sinh môi trường\"), a third partly repaid\n"
    "   (credit.repaid);\n"
    " - fund.disbursed of the district fund to one or two poor or near-poor\n"
    "   households per commune, and in one commune in eight to a household\n"
    "   whose status that year is none (fund.beneficiary_not_poor);\n"
    " - relocation.completed for up to 8 households a year (landslide, flood,\n"
    "   erosion) to another commune of the same district, with\n"
    "   relocation.support items (land, housing 95%, water 80%, livelihood\n"
    "   70%: some still missing);\n"
    " - report.due and report.submitted for the provincial Fatherland Front\n"
    "   committee, seven departments and organisations, and each district\n"
    "   Party committee: \"Kế hoạch thực hiện Chỉ thị 05-CT/TW\" due\n"
    "   30 October 2021 (most before, some late, one or two never), then the\n"
    "   year's progress report due 15 December (a few late, now and then\n"
    "   one never).\n"
    "From a third stream (ids gen-<seed>-p<n>), the rest of the plan:\n"
    " - production.linked: each year one commune in three has a link with a\n"
    "   cooperative or an enterprise and a product, that about 30% of its\n"
    "   poor and 20% of its near-poor households join; ocop.certified in one\n"
    "   commune in ten (3 stars 60%, 4 stars 33%, 5 stars 7%);\n"
    " - about one household in sixteen has no member able to work (the same\n"
    "   every year; its assessments say no_labour_capacity), and the poor\n"
    "   ones get assistance.paid, regular, 1,080,000 VND a quarter, except\n"
    "   one in thirty a year; one in twenty emergency help as well;\n"
    " - budget.allocated to the province and each district (three projects\n"
    "   of the poverty-reduction programme, and in every third district\n"
    "   three of the ethnic-minority programme), budget.spent in four\n"
    "   tranches, 75-100% by the end of the year; one district a year\n"
    "   spends only from October (budget.low_execution);\n"
    " - commendation.awarded at the end of the year: five by the province,\n"
    "   one per district, one by the Prime Minister in odd years.\n"
    "Event ids are gen-<seed>-<n>.  Times are 00:00 or office hours in\n"
    "Vietnam (UTC+7).\n"
    "\n"
    "National mode, for scale tests:\n"
    "  povtrack-sample --national --units FILE [--province CODE,CODE...]\n"
    "                  [--year Y] [--households N] [--types LIST]\n"
    "                  [--scale F] [--seed N] [--now UNIX]\n"
    "writes every province of FILE (or those listed), one year Y (default\n"
    "2024): unit.defined for every unit; unit.households for every commune,\n"
    "N households in all (default: 26,900,000 for the whole country, 2019\n"
    "census, and a selection of provinces its share by communes), spread\n"
    "0.4-1.6 times the mean over the communes; for every household\n"
    "(h-<commune>-<n>) a household.assessed and a household.status (poor\n"
    "0.5-7%, near_poor 1.5-5.5%, average 12-20% by commune, the rest\n"
    "none); a year of donation.received, 100 per province and 40 per\n"
    "district and commune (times F), half in the month for the poor, in\n"
    "month order; review.closed for every district, then every province.\n"
    "--types status,assessed,donations picks the household and donation\n"
    "events (default all three).  Each commune draws from a stream seeded by\n"
    "its code, so some provinces alone get the households they have in the\n"
    "whole country.  Nothing is kept per household: memory stays small.\n";

static void free_gen(struct gen *g)
{
    for (size_t i = 0; i < g->nunits; i++) {
        free(g->units[i].code);
        free(g->units[i].name);
        free(g->units[i].parent);
    }
    for (size_t i = 0; i < g->ncommunes; i++)
        free(g->communes[i].state);
    free(g->units);
    free(g->districts);
    free(g->communes);
}

static int parse_ll(const char *opt, const char *arg, long long lo,
                    long long hi, long long *out)
{
    char *end;
    long long v = strtoll(arg, &end, 10);

    if (end == arg || *end != '\0' || v < lo || v > hi) {
        fprintf(stderr,
                "povtrack-sample: %s: \"%s\" is not an integer in "
                "%lld..%lld\nTry 'povtrack-sample --help'.\n",
                opt, arg, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"units", required_argument, NULL, 'u'},
        {"province", required_argument, NULL, 'p'},
        {"seed", required_argument, NULL, 's'},
        {"scale", required_argument, NULL, 'k'},
        {"from-year", required_argument, NULL, 'f'},
        {"to-year", required_argument, NULL, 't'},
        {"now", required_argument, NULL, 'n'},
        {"national", no_argument, NULL, 'N'},
        {"year", required_argument, NULL, 'y'},
        {"households", required_argument, NULL, 'H'},
        {"types", required_argument, NULL, 'T'},
        {"help", no_argument, NULL, 'h'},
        {0}};
    struct gen g;
    const char *units = NULL, *province = NULL;
    struct nat nat = {2024, NT_STATUS | NT_ASSESSED | NT_DONATIONS, 0, 0};
    bool national = false, years_given = false;
    long long v;
    char *end;
    int c;

    memset(&g, 0, sizeof(g));
    g.seed = 1;
    g.scale = 1.0;
    g.from = 2021;
    g.to = 2025;
    g.now = (int64_t)time(NULL);
    g.out = stdout;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'u':
            units = optarg;
            break;
        case 'p':
            province = optarg;
            break;
        case 's':
            if (parse_ll("--seed", optarg, 0, INT64_MAX, &v) != 0)
                return 2;
            g.seed = (uint64_t)v;
            break;
        case 'k':
            g.scale = strtod(optarg, &end);
            if (end == optarg || *end != '\0' || !(g.scale >= 0.01) ||
                g.scale > 100) {
                fprintf(stderr, "povtrack-sample: --scale must be a number "
                                "in 0.01..100\n");
                return 2;
            }
            break;
        case 'f':
            if (parse_ll("--from-year", optarg, 2000, 2100, &v) != 0)
                return 2;
            g.from = (int)v;
            years_given = true;
            break;
        case 't':
            if (parse_ll("--to-year", optarg, 2000, 2100, &v) != 0)
                return 2;
            g.to = (int)v;
            years_given = true;
            break;
        case 'N':
            national = true;
            break;
        case 'y':
            if (parse_ll("--year", optarg, 2000, 2100, &v) != 0)
                return 2;
            nat.year = (int)v;
            break;
        case 'H':
            if (parse_ll("--households", optarg, 1, 1000000000, &v) != 0)
                return 2;
            nat.households = v;
            break;
        case 'T':
            if (parse_types(optarg, &nat.types) != 0)
                return 2;
            break;
        case 'n':
            if (parse_ll("--now", optarg, 946684800, INT64_MAX, &v) != 0)
                return 2;
            g.now = v;
            break;
        case 'h':
            fputs(usage, stdout);
            return 0;
        default:
            fprintf(stderr, "Try 'povtrack-sample --help'.\n");
            return 2;
        }
    }
    if (units == NULL || optind < argc) {
        fprintf(stderr, "povtrack-sample: %s\nTry 'povtrack-sample --help'.\n",
                units == NULL ? "--units FILE is required"
                              : "unexpected argument");
        return 2;
    }
    if (g.to < g.from || g.to - g.from >= YEARS_MAX) {
        fprintf(stderr,
                "povtrack-sample: need from-year <= to-year < "
                "from-year + %d\n",
                YEARS_MAX);
        return 2;
    }
    if (national && years_given) {
        fprintf(stderr, "povtrack-sample: --national writes one --year, not "
                        "--from-year/--to-year\n");
        return 2;
    }
    tl_rng_seed(&g.rng, g.seed);
    tl_rng_seed(&g.xrng, g.seed ^ 0x9E3779B97F4A7C15ull);
    tl_rng_seed(&g.prng, g.seed ^ 0xD6E8FEB86659FD93ull);
    if (load_units(&g, units) != 0 ||
        (national ? select_provinces(&g, province)
                  : select_province(&g, province)) != 0) {
        free_gen(&g);
        return 1;
    }
    if (national) {
        nat_run(&g, &nat);
        fprintf(stderr, "%-20s %lld\n", "households", (long long)nat.total);
    } else {
        setup(&g);
        run(&g);
    }
    free_gen(&g);
    if (fflush(stdout) != 0) {
        fprintf(stderr, "povtrack-sample: cannot write output\n");
        return 1;
    }
    uint64_t total = 0;
    for (int t = 0; t < T_COUNT; t++) {
        fprintf(stderr, "%-20s %llu\n", type_names[t],
                (unsigned long long)g.counts[t]);
        total += g.counts[t];
    }
    fprintf(stderr, "%-20s %llu\n", "total", (unsigned long long)total);
    return 0;
}
