/*
 * tl_report_gather.c - see tl_report_gather.h: ask the daemon and fill the
 * report's document model; tl_report.c lays it out.
 */
#include "tl_report_gather.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tl_fmt.h"
#include "tl_import.h"
#include "tl_mp.h"
#include "tl_query.h"
#include "tl_regroup.h"

#define ALERT_PAGE 10000

struct code_idx {
    const char *code; /* in doc.units, which no longer moves once sorted */
    size_t idx;
};

struct rep {
    struct tl_cli *cli;
    struct tl_rep_doc doc;
    bool band_given, md_band_given; /* from the caller, not the daemon */
    struct code_idx *by_code;       /* doc.units sorted by code */
    size_t cap_units;
};

/* A failed allocation: POVTRACK_ENOMEM goes up to tl_report_gather(),
 * which says so once and returns the exit code. */
static int oom(void)
{
    return POVTRACK_ENOMEM;
}

/* ---- reading replies -------------------------------------------------- */

/* A copy of a string field into *out, NULL when absent, not a string or
 * holding a NUL (shown as "-").  Returns POVTRACK_ENOMEM only when out of
 * memory. */
static int mp_strdup(const msgpack_object *map, const char *key, char **out)
{
    const msgpack_object *o = tl_mp_get(map, key);

    *out = NULL;
    if (o == NULL || o->type != MSGPACK_OBJECT_STR ||
        memchr(o->via.str.ptr, '\0', o->via.str.size) != NULL)
        return 0;
    *out = malloc(o->via.str.size + 1);
    if (*out == NULL)
        return POVTRACK_ENOMEM;
    memcpy(*out, o->via.str.ptr, o->via.str.size);
    (*out)[o->via.str.size] = '\0';
    return 0;
}

static void put(struct tl_rep_unit *u, enum tl_rep_col c,
                const msgpack_object *res, const char *key)
{
    u->has[c] = tl_mp_num(res, key, &u->v[c]);
}

struct fact {
    const char *key;   /* in the reply */
    const char *label; /* the term shown; NULL: the key */
    enum tl_rep_kind kind;
};

static int facts(struct tl_rep_kvs *l, const msgpack_object *res,
                 const struct fact *f, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        double v = 0;
        bool known = tl_mp_num(res, f[i].key, &v);
        if (tl_report_kv_add(l, f[i].label ? f[i].label : f[i].key, f[i].kind,
                             known, v) != POVTRACK_OK)
            return oom();
    }
    return 0;
}

/* Every numeric entry of a map field ({"housing": 1000, ...}), in the
 * daemon's order. */
static int map_kvs(struct tl_rep_kvs *l, const msgpack_object *res,
                   const char *key, enum tl_rep_kind kind)
{
    const msgpack_object *m = tl_mp_get(res, key);

    if (m == NULL || m->type != MSGPACK_OBJECT_MAP)
        return 0;
    for (uint32_t i = 0; i < m->via.map.size; i++) {
        const msgpack_object *k = &m->via.map.ptr[i].key;
        const msgpack_object *v = &m->via.map.ptr[i].val;
        char name[128];
        double x = 0;
        bool known = true;

        if (k->type != MSGPACK_OBJECT_STR || k->via.str.size >= sizeof(name) ||
            memchr(k->via.str.ptr, '\0', k->via.str.size) != NULL)
            continue;
        memcpy(name, k->via.str.ptr, k->via.str.size);
        name[k->via.str.size] = '\0';
        if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
            x = (double)v->via.u64;
        else if (v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
            x = (double)v->via.i64;
        else if (v->type == MSGPACK_OBJECT_FLOAT32 ||
                 v->type == MSGPACK_OBJECT_FLOAT64)
            x = v->via.f64;
        else
            known = false;
        if (tl_report_kv_add(l, name, kind, known, x) != POVTRACK_OK)
            return oom();
    }
    return 0;
}

/* ---- units ------------------------------------------------------------ */

static int add_unit(struct rep *r, const char *code, const char *name,
                    size_t parent, int depth)
{
    struct tl_rep_doc *d = &r->doc;
    struct tl_rep_unit *u;

    if (d->nunits == r->cap_units) {
        size_t cap = r->cap_units ? r->cap_units * 2 : 64;
        u = realloc(d->units, cap * sizeof(*u));
        if (u == NULL)
            return oom();
        d->units = u;
        r->cap_units = cap;
    }
    u = &d->units[d->nunits++];
    memset(u, 0, sizeof(*u));
    snprintf(u->code, sizeof(u->code), "%s", code);
    snprintf(u->name, sizeof(u->name), "%s", name);
    u->parent = parent;
    u->depth = depth;
    return 0;
}

/* 00:00 on 1 January of year in Vietnam, as unix seconds. */
static int64_t year_start(int y)
{
    int64_t days = 0;

    for (int k = 1970; k < y; k++)
        days += (k % 4 == 0 && (k % 100 != 0 || k % 400 == 0)) ? 366 : 365;
    return days * 86400 - TL_VN_OFFSET;
}

/* The last instant of the report's year: the report is on the units in
 * force then, and earlier years are regrouped into them. */
static int64_t report_as_of(const struct rep *r)
{
    return year_start(r->doc.year + 1) - 1;
}

/* Add the children of units[idx] and, depth first, theirs: communes come
 * right after their district. */
static int walk(struct rep *r, size_t idx)
{
    struct povtrack_client_msg reply;
    const msgpack_object *units;
    json_t *req;
    char code[TL_REP_CODE_MAX];
    int depth = r->doc.units[idx].depth, rc;

    /* Communes (5 digits) have no children. */
    if (strlen(r->doc.units[idx].code) >= 5)
        return 0;
    snprintf(code, sizeof(code), "%s", r->doc.units[idx].code);
    req = json_pack("{s:s,s:s,s:I}", "op", "units", "parent", code, "at",
                    (json_int_t)report_as_of(r));
    if (req == NULL)
        return oom();
    rc = tl_cli_request(r->cli, req, &reply);
    json_decref(req);
    if (rc != 0)
        return rc;
    units = tl_mp_get(&reply.obj, "units");
    for (uint32_t i = 0;
         rc == 0 && units != NULL && units->type == MSGPACK_OBJECT_ARRAY &&
         i < units->via.array.size;
         i++) {
        const msgpack_object *u = &units->via.array.ptr[i];
        char c[TL_REP_CODE_MAX], name[TL_REP_NAME_MAX];
        if (!tl_mp_str(u, "code", c, sizeof(c)))
            continue;
        if (!tl_mp_str(u, "name", name, sizeof(name)))
            snprintf(name, sizeof(name), "%s", c);
        rc = add_unit(r, c, name, idx, depth + 1);
        if (rc == 0)
            rc = walk(r, r->doc.nunits - 1);
    }
    povtrack_client_msg_free(&reply);
    return rc;
}

/* The root's name: from the list of provinces for a province; below that
 * its parent is unknown here, so the code stands for the name. */
static int root(struct rep *r, const char *unit)
{
    char name[TL_REP_NAME_MAX];
    int rc = 0;

    snprintf(name, sizeof(name), "%s", unit);
    if (strlen(unit) == 2) {
        struct povtrack_client_msg reply;
        json_t *req = json_pack("{s:s,s:n,s:I}", "op", "units", "parent", "at",
                                (json_int_t)report_as_of(r));
        const msgpack_object *units;
        bool found = false;

        if (req == NULL)
            return oom();
        rc = tl_cli_request(r->cli, req, &reply);
        json_decref(req);
        if (rc != 0)
            return rc;
        units = tl_mp_get(&reply.obj, "units");
        for (uint32_t i = 0;
             units != NULL && units->type == MSGPACK_OBJECT_ARRAY &&
             i < units->via.array.size;
             i++) {
            char c[TL_REP_CODE_MAX];
            const msgpack_object *u = &units->via.array.ptr[i];
            if (tl_mp_str(u, "code", c, sizeof(c)) && strcmp(c, unit) == 0) {
                found = true;
                if (!tl_mp_str(u, "name", name, sizeof(name)))
                    snprintf(name, sizeof(name), "%s", unit);
            }
        }
        povtrack_client_msg_free(&reply);
        if (!found) /* ended before the year's end, or never known */
            return tl_regroup_refuse_root(r->cli, tl_cli_err(r->cli), unit,
                                          report_as_of(r));
    }
    return add_unit(r, unit, name, SIZE_MAX, 0);
}

static int code_idx_cmp(const void *a, const void *b)
{
    return strcmp(((const struct code_idx *)a)->code,
                  ((const struct code_idx *)b)->code);
}

/* The index of unit code in the root's subtree, SIZE_MAX if outside. */
static size_t find_unit(const struct rep *r, const char *code)
{
    size_t lo = 0, hi = r->doc.nunits;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(code, r->by_code[mid].code);
        if (c == 0)
            return r->by_code[mid].idx;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return SIZE_MAX;
}

/* ---- asking the plugins ----------------------------------------------- */

/* Ask a section's plugin; a plugin found missing marks the section absent
 * and leaves reply empty (0 is returned). */
static int ask(struct rep *r, enum tl_rep_sec s, json_t *q,
               struct povtrack_client_msg *reply)
{
    bool absent = false;
    int rc;

    memset(reply, 0, sizeof(*reply));
    if (q == NULL)
        return oom();
    rc = tl_query_plugin(r->cli, tl_report_sec_plugin(s), q, 0, reply, &absent);
    json_decref(q);
    if (rc == 0 && absent)
        r->doc.present[s] = false;
    return rc;
}

/* The result of a reply; NULL for the empty reply of an absent plugin
 * (its obj is nil, not a map). */
static const msgpack_object *result(const struct povtrack_client_msg *m)
{
    return tl_mp_get(&m->obj, "result");
}

/* A band [min, max] of a poverty answer into lo, hi (kept when absent or
 * malformed). */
static void band(const msgpack_object *res, const char *key, double *lo,
                 double *hi)
{
    const msgpack_object *o = tl_mp_get(res, key);
    double v[2];

    if (o == NULL || o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 2)
        return;
    for (int i = 0; i < 2; i++) {
        const msgpack_object *e = &o->via.array.ptr[i];
        if (e->type == MSGPACK_OBJECT_FLOAT64 ||
            e->type == MSGPACK_OBJECT_FLOAT32)
            v[i] = e->via.f64;
        else if (e->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
            v[i] = (double)e->via.u64;
        else if (e->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
            v[i] = (double)e->via.i64;
        else
            return;
    }
    if (v[0] > v[1])
        return;
    *lo = v[0];
    *hi = v[1];
}

static int poverty(struct rep *r, size_t idx)
{
    struct tl_rep_doc *d = &r->doc;
    struct tl_rep_unit *u = &d->units[idx];
    int rc = 0;

    /* The chart needs the earlier years of the root and its children;
     * the table only the report's year (the last iteration). */
    for (int y = u->depth <= 1 ? d->from_year : d->year;
         rc == 0 && y <= d->year && d->present[TL_SEC_POVERTY]; y++) {
        struct povtrack_client_msg m;
        const msgpack_object *res;
        int k = y - d->from_year;

        /* Every year on the units of the report's year, the report's own
         * too: its reduction compares like with like in a year of
         * reorganisation (the merged commune with its predecessors). */
        rc = ask(r, TL_SEC_POVERTY,
                 json_pack("{s:s,s:i,s:I}", "unit", u->code, "year", y, "as_of",
                           (json_int_t)report_as_of(r)),
                 &m);
        res = result(&m);
        if (rc == 0 && res != NULL && k >= 0 && k < TL_REP_YEARS)
            u->hist_known[k] = tl_mp_num(res, "poor_rate", &u->hist[k]);
        if (rc == 0 && res != NULL && y == d->year) {
            /* The bands povtrackd checks, from the first answer (the
             * root's), unless the options gave them. */
            if (idx == 0 && !r->band_given)
                band(res, "target_pp", &d->tmin, &d->tmax);
            if (idx == 0 && !r->md_band_given)
                band(res, "multidimensional_target_pp", &d->md_tmin,
                     &d->md_tmax);
            put(u, TL_COL_HOUSEHOLDS, res, "households");
            put(u, TL_COL_POOR, res, "poor");
            put(u, TL_COL_POOR_RATE, res, "poor_rate");
            put(u, TL_COL_NEAR, res, "near_poor");
            put(u, TL_COL_NEAR_RATE, res, "near_poor_rate");
            put(u, TL_COL_REDUCTION, res, "reduction_pp");
            put(u, TL_COL_ESCAPED, res, "escaped");
            put(u, TL_COL_RELAPSED, res, "relapsed");
            put(u, TL_COL_NEWLY, res, "newly_poor");
            u->has[TL_COL_TARGET] = u->has[TL_COL_REDUCTION];
            u->v[TL_COL_TARGET] =
                u->v[TL_COL_REDUCTION] >= d->tmin - 1e-9 ? 1 : 0;
            put(u, TL_COL_MD_RATE, res, "multidimensional_rate");
            put(u, TL_COL_MD_REDUCTION, res, "multidimensional_reduction_pp");
            u->has[TL_COL_MD_TARGET] = u->has[TL_COL_MD_REDUCTION];
            u->v[TL_COL_MD_TARGET] =
                u->v[TL_COL_MD_REDUCTION] >= d->md_tmin - 1e-9 ? 1 : 0;
        }
        povtrack_client_msg_free(&m);
    }
    return rc;
}

/* Relapse of the escape cohorts from_year+1..year, for the root. */
static int cohorts(struct rep *r)
{
    struct tl_rep_doc *d = &r->doc;
    static const char *const keys[7] = {
        "escaped", "relapsed_1y", "relapsed_2y", "relapsed_3y",
        "rate_1y", "rate_2y",     "rate_3y"};
    int rc = 0;

    for (int y = d->from_year + 1;
         rc == 0 && y <= d->year && d->present[TL_SEC_POVERTY]; y++) {
        struct povtrack_client_msg m;
        const msgpack_object *res;
        struct tl_rep_cohort *c;

        /* The cohort's households where they are at the report's date. */
        rc = ask(r, TL_SEC_POVERTY,
                 json_pack("{s:s,s:i,s:I}", "unit", d->units[0].code, "cohort",
                           y, "as_of", (json_int_t)report_as_of(r)),
                 &m);
        res = result(&m);
        if (rc == 0 && res != NULL) {
            c = realloc(d->cohorts, (d->ncohorts + 1) * sizeof(*c));
            if (c == NULL) {
                rc = oom();
            } else {
                d->cohorts = c;
                c = &d->cohorts[d->ncohorts++];
                memset(c, 0, sizeof(*c));
                c->year = y;
                for (int k = 0; k < 7; k++)
                    c->known[k] = tl_mp_num(res, keys[k], &c->v[k]);
            }
        }
        povtrack_client_msg_free(&m);
    }
    return rc;
}

/* Ask section s's plugin about units[idx] in the report's year, on the
 * report's units (as_of, as every section), with "limit" when limit > 0.
 * *res is its result, NULL when the section is absent; free m (zeroed
 * then) in every case. */
static int ask_year(struct rep *r, enum tl_rep_sec s, size_t idx, int limit,
                    struct povtrack_client_msg *m, const msgpack_object **res)
{
    const char *code = r->doc.units[idx].code;
    int year = r->doc.year, rc = 0;
    json_int_t as_of = (json_int_t)report_as_of(r);

    memset(m, 0, sizeof(*m));
    *res = NULL;
    if (!r->doc.present[s])
        return 0;
    rc = ask(r, s,
             limit > 0 ? json_pack("{s:s,s:i,s:I,s:i}", "unit", code, "year",
                                   year, "as_of", as_of, "limit", limit)
                       : json_pack("{s:s,s:i,s:I}", "unit", code, "year", year,
                                   "as_of", as_of),
             m);
    if (rc == 0)
        *res = result(m);
    return rc;
}

static int standard(struct rep *r, size_t idx)
{
    static const struct fact f[] = {
        {"assessed", NULL, TL_KIND_INT},
        {"avg_deprivations_poor", NULL, TL_KIND_NUM},
        {"unrecognised", NULL, TL_KIND_INT},
        {"recognition_unsupported", NULL, TL_KIND_INT},
        {"no_assessment", NULL, TL_KIND_INT}};
    struct tl_rep_doc *d = &r->doc;
    struct tl_rep_unit *u = &d->units[idx];
    struct povtrack_client_msg m;
    const msgpack_object *res;
    int rc;

    rc = ask_year(r, TL_SEC_STANDARD, idx, 0, &m, &res);
    if (rc == 0 && res != NULL) {
        put(u, TL_COL_ASSESSED, res, "assessed");
        put(u, TL_COL_UNRECOGNISED, res, "unrecognised");
        put(u, TL_COL_UNSUPPORTED, res, "recognition_unsupported");
        put(u, TL_COL_NO_ASSESSMENT, res, "no_assessment");
        if (idx == 0) {
            rc = facts(&d->standard, res, f, sizeof(f) / sizeof(f[0]));
            if (rc == 0)
                rc = map_kvs(&d->standard, res, "classes", TL_KIND_INT);
            if (rc == 0)
                rc = map_kvs(&d->dimensions, res, "dimensions", TL_KIND_INT);
            if (rc == 0)
                rc = map_kvs(&d->deprivation, res, "deprivation", TL_KIND_INT);
        }
    }
    povtrack_client_msg_free(&m);
    return rc;
}

static int fund(struct rep *r, size_t idx)
{
    static const struct fact f[] = {
        {"received", NULL, TL_KIND_VND},
        {"donations", NULL, TL_KIND_INT},
        {"pledged", NULL, TL_KIND_VND},
        {"pledge_outstanding", NULL, TL_KIND_VND},
        {"disbursed", "fund:disbursed", TL_KIND_VND},
        {"balance", NULL, TL_KIND_VND},
        {"to_households", NULL, TL_KIND_VND},
        {"to_recognised", NULL, TL_KIND_VND},
        {"recognised_share", NULL, TL_KIND_RATE},
        {"beneficiaries", NULL, TL_KIND_INT},
        {"support_per_beneficiary", NULL, TL_KIND_VND}};
    /* Inside "month_for_the_poor": the Front's campaign month. */
    static const struct fact month[] = {
        {"received", "fund:month_received", TL_KIND_VND},
        {"donations", "fund:month_donations", TL_KIND_INT}};
    struct tl_rep_doc *d = &r->doc;
    struct tl_rep_unit *u = &d->units[idx];
    struct povtrack_client_msg m;
    const msgpack_object *res;
    int rc;

    /* {"unit", "year"}: the calendar year in UTC+7, with beneficiaries;
     * what was recorded under a predecessor counts here. */
    rc = ask_year(r, TL_SEC_FUND, idx, 0, &m, &res);
    if (rc == 0 && res != NULL) {
        put(u, TL_COL_FUND_RECEIVED, res, "received");
        put(u, TL_COL_FUND_DISBURSED, res, "disbursed");
        put(u, TL_COL_FUND_BALANCE, res, "balance");
        if (idx == 0) {
            rc = facts(&d->fund, res, f, sizeof(f) / sizeof(f[0]));
            const msgpack_object *mp = tl_mp_get(res, "month_for_the_poor");
            if (rc == 0 && mp != NULL)
                rc = facts(&d->fund, mp, month,
                           sizeof(month) / sizeof(month[0]));
            if (rc == 0)
                rc = map_kvs(&d->by_purpose, res, "by_purpose", TL_KIND_VND);
            if (rc == 0)
                rc = map_kvs(&d->by_level, res, "disbursed_by_level",
                             TL_KIND_VND);
        }
    }
    povtrack_client_msg_free(&m);
    return rc;
}

static int relocation(struct rep *r, size_t idx)
{
    static const struct fact f[] = {
        {"relocated", NULL, TL_KIND_INT},
        {"fully_supported", NULL, TL_KIND_INT},
        {"share_fully_supported", NULL, TL_KIND_RATE}};
    struct tl_rep_doc *d = &r->doc;
    struct tl_rep_unit *u = &d->units[idx];
    struct povtrack_client_msg m;
    const msgpack_object *res;
    int rc;

    if (!d->present[TL_SEC_RELOCATION])
        return 0;
    rc = ask(r, TL_SEC_RELOCATION,
             json_pack("{s:s,s:I}", "unit", u->code, "as_of",
                       (json_int_t)report_as_of(r)),
             &m);
    res = result(&m);
    if (rc == 0 && res != NULL) {
        put(u, TL_COL_RELOCATED, res, "relocated");
        put(u, TL_COL_FULLY_SUPPORTED, res, "fully_supported");
        if (idx == 0) {
            rc = facts(&d->relocation, res, f, sizeof(f) / sizeof(f[0]));
            if (rc == 0)
                rc = map_kvs(&d->missing, res, "missing", TL_KIND_INT);
            if (rc == 0)
                rc = map_kvs(&d->by_reason, res, "by_reason", TL_KIND_INT);
        }
    }
    povtrack_client_msg_free(&m);
    return rc;
}

static int programs(struct tl_rep_doc *d, const msgpack_object *res)
{
    static const char *const keys[4] = {"loans", "disbursed", "repaid",
                                        "outstanding"};
    const msgpack_object *m = tl_mp_get(res, "by_program");

    if (m == NULL || m->type != MSGPACK_OBJECT_MAP)
        return 0;
    for (uint32_t i = 0; i < m->via.map.size; i++) {
        const msgpack_object *k = &m->via.map.ptr[i].key;
        const msgpack_object *v = &m->via.map.ptr[i].val;
        struct tl_rep_program *p;

        if (k->type != MSGPACK_OBJECT_STR ||
            memchr(k->via.str.ptr, '\0', k->via.str.size) != NULL)
            continue;
        p = realloc(d->programs, (d->nprograms + 1) * sizeof(*p));
        if (p == NULL)
            return oom();
        d->programs = p;
        p = &d->programs[d->nprograms];
        memset(p, 0, sizeof(*p));
        p->name = malloc(k->via.str.size + 1);
        if (p->name == NULL)
            return oom();
        memcpy(p->name, k->via.str.ptr, k->via.str.size);
        p->name[k->via.str.size] = '\0';
        d->nprograms++;
        for (int j = 0; j < 4; j++)
            p->known[j] = tl_mp_num(v, keys[j], &p->v[j]);
    }
    return 0;
}

static int credit(struct rep *r, size_t idx)
{
    static const struct fact f[] = {
        {"loans", NULL, TL_KIND_INT},
        {"disbursed", "credit:disbursed", TL_KIND_VND},
        {"repaid", NULL, TL_KIND_VND},
        {"outstanding", NULL, TL_KIND_VND}};
    static const struct fact cov[] = {{"poor_near_poor", NULL, TL_KIND_INT},
                                      {"with_loan", NULL, TL_KIND_INT},
                                      {"rate", NULL, TL_KIND_RATE}};
    struct tl_rep_doc *d = &r->doc;
    struct tl_rep_unit *u = &d->units[idx];
    struct povtrack_client_msg m;
    const msgpack_object *res, *coverage;
    int rc;

    rc = ask_year(r, TL_SEC_CREDIT, idx, 0, &m, &res);
    if (rc == 0 && res != NULL) {
        coverage = tl_mp_get(res, "coverage");
        put(u, TL_COL_LOANS, res, "loans");
        put(u, TL_COL_CREDIT_OUTSTANDING, res, "outstanding");
        put(u, TL_COL_COVERAGE_RATE, coverage, "rate");
        if (idx == 0) {
            rc = facts(&d->credit, res, f, sizeof(f) / sizeof(f[0]));
            if (rc == 0)
                rc = facts(&d->credit, coverage, cov,
                           sizeof(cov) / sizeof(cov[0]));
            if (rc == 0)
                rc = programs(d, res);
        }
    }
    povtrack_client_msg_free(&m);
    return rc;
}

/* The reports of the subtree, each where its unit is at the end of the
 * report's year (a district abolished in 2025 is the province's); late
 * and overdue ones are counted for that unit and each ancestor up to the
 * root. */
/* ---- the rest of the plan (sections 7 to 11) --------------------------- */

/* Grow an array of n elements of size to n + 1; NULL when out of memory
 * (the array is kept). */
static void *grow(void *arr, size_t n, size_t size)
{
    return realloc(arr, (n + 1) * size);
}

/* The key of a map entry as a string (NUL-free, shorter than cap). */
static bool map_key(const msgpack_object *k, char *buf, size_t cap)
{
    if (k->type != MSGPACK_OBJECT_STR || k->via.str.size >= cap ||
        memchr(k->via.str.ptr, '\0', k->via.str.size) != NULL)
        return false;
    memcpy(buf, k->via.str.ptr, k->via.str.size);
    buf[k->via.str.size] = '\0';
    return true;
}

/* Each programme's components, from by_program: {programme: {...,
 * "by_component": {component: {"allocated", "spent", "execution_rate"}}}}. */
static int components(struct tl_rep_plan *p, const msgpack_object *res)
{
    static const char *const keys[3] = {"allocated", "spent", "execution_rate"};
    const msgpack_object *bp = tl_mp_get(res, "by_program");

    for (uint32_t i = 0;
         bp != NULL && bp->type == MSGPACK_OBJECT_MAP && i < bp->via.map.size;
         i++) {
        const msgpack_object *bc =
            tl_mp_get(&bp->via.map.ptr[i].val, "by_component");
        char prog[64], comp[TL_REP_NAME_MAX];
        if (!map_key(&bp->via.map.ptr[i].key, prog, sizeof(prog)))
            continue;
        for (uint32_t j = 0; bc != NULL && bc->type == MSGPACK_OBJECT_MAP &&
                             j < bc->via.map.size;
             j++) {
            const msgpack_object *v = &bc->via.map.ptr[j].val;
            struct tl_rep_component *c;
            if (!map_key(&bc->via.map.ptr[j].key, comp, sizeof(comp)))
                continue;
            c = grow(p->components, p->ncomponents, sizeof(*c));
            if (c == NULL)
                return oom();
            p->components = c;
            c = &c[p->ncomponents++];
            memset(c, 0, sizeof(*c));
            c->program = strdup(prog);
            c->component = strdup(comp);
            if (c->program == NULL || c->component == NULL)
                return oom();
            for (int k = 0; k < 3; k++)
                c->known[k] = tl_mp_num(v, keys[k], &c->v[k]);
        }
    }
    return 0;
}

static int budget(struct rep *r, size_t idx)
{
    static const struct fact f[] = {{"allocated", NULL, TL_KIND_VND},
                                    {"spent", NULL, TL_KIND_VND},
                                    {"execution_rate", NULL, TL_KIND_RATE}};
    struct tl_rep_doc *d = &r->doc;
    struct tl_rep_unit *u = &d->units[idx];
    struct povtrack_client_msg m;
    const msgpack_object *res;
    int rc = ask_year(r, TL_SEC_BUDGET, idx, 0, &m, &res);

    if (rc == 0 && res != NULL) {
        put(u, TL_COL_BUDGET_ALLOCATED, res, "allocated");
        put(u, TL_COL_BUDGET_SPENT, res, "spent");
        put(u, TL_COL_BUDGET_RATE, res, "execution_rate");
        if (idx == 0) {
            rc = facts(&d->plan.budget, res, f, sizeof(f) / sizeof(f[0]));
            /* Beside it, what the fund spent (section 3 asked already). */
            for (size_t i = 0; rc == 0 && i < d->fund.n; i++)
                if (strcmp(d->fund.v[i].key, "fund:disbursed") == 0 &&
                    tl_report_kv_add(&d->plan.budget, "budget:fund_disbursed",
                                     TL_KIND_VND, d->fund.v[i].known,
                                     d->fund.v[i].v) != POVTRACK_OK)
                    rc = oom();
            if (rc == 0)
                rc = components(&d->plan, res);
        }
    }
    povtrack_client_msg_free(&m);
    return rc;
}

/* The links of the root in the year, at most TL_REP_LINKS. */
#define TL_REP_LINKS 30
static int links(struct rep *r)
{
    struct tl_rep_plan *p = &r->doc.plan;
    struct povtrack_client_msg m;
    const msgpack_object *res, *arr;
    int rc =
        ask(r, TL_SEC_PRODUCTION,
            json_pack("{s:s,s:i,s:I,s:s,s:i}", "unit", r->doc.units[0].code,
                      "year", r->doc.year, "as_of", (json_int_t)report_as_of(r),
                      "list", "links", "limit", TL_REP_LINKS),
            &m);
    int64_t more = 0, stars = 0;

    res = result(&m);
    arr = tl_mp_get(res, "links");
    for (uint32_t i = 0;
         rc == 0 && arr != NULL && arr->type == MSGPACK_OBJECT_ARRAY &&
         i < arr->via.array.size;
         i++) {
        const msgpack_object *o = &arr->via.array.ptr[i];
        struct tl_rep_link *l = grow(p->links, p->nlinks, sizeof(*l));
        if (l == NULL) {
            rc = oom();
            break;
        }
        p->links = l;
        l = &l[p->nlinks++];
        memset(l, 0, sizeof(*l));
        if (mp_strdup(o, "link", &l->link) != 0 ||
            mp_strdup(o, "partner", &l->partner) != 0 ||
            mp_strdup(o, "partner_kind", &l->partner_kind) != 0 ||
            mp_strdup(o, "product", &l->product) != 0)
            rc = oom();
        l->has_stars = tl_mp_i64(o, "ocop_stars", &stars);
        l->stars = (int)stars;
        tl_mp_num(o, "households", &l->households);
    }
    if (rc == 0 && tl_mp_i64(res, "more", &more) && more > 0)
        p->links_more = (size_t)more;
    povtrack_client_msg_free(&m);
    return rc;
}

static int production(struct rep *r, size_t idx)
{
    /* The links, by kind of partner, then the households. */
    static const struct fact head[] = {{"households_linked", NULL, TL_KIND_INT},
                                       {"links", NULL, TL_KIND_INT}};
    static const struct fact f[] = {
        {"poor", NULL, TL_KIND_INT},
        {"poor_linked", NULL, TL_KIND_INT},
        {"poor_linked_share", NULL, TL_KIND_RATE},
        {"near_poor", NULL, TL_KIND_INT},
        {"near_poor_linked", NULL, TL_KIND_INT},
        {"near_poor_linked_share", NULL, TL_KIND_RATE},
        {"ocop_products", NULL, TL_KIND_INT},
        {"ocop_new", NULL, TL_KIND_INT}};
    static const struct fact kinds[] = {{"enterprise", NULL, TL_KIND_INT},
                                        {"cooperative", NULL, TL_KIND_INT}};
    static const struct fact stars[] = {{"3", "ocop:3", TL_KIND_INT},
                                        {"4", "ocop:4", TL_KIND_INT},
                                        {"5", "ocop:5", TL_KIND_INT}};
    struct tl_rep_doc *d = &r->doc;
    struct tl_rep_unit *u = &d->units[idx];
    struct povtrack_client_msg m;
    const msgpack_object *res;
    int rc = ask_year(r, TL_SEC_PRODUCTION, idx, 0, &m, &res);

    if (rc == 0 && res != NULL) {
        put(u, TL_COL_LINKED, res, "households_linked");
        put(u, TL_COL_POOR_LINKED_SHARE, res, "poor_linked_share");
        put(u, TL_COL_OCOP, res, "ocop_products");
        if (idx == 0) {
            rc = facts(&d->plan.production, res, head, 2);
            if (rc == 0)
                rc = facts(&d->plan.production,
                           tl_mp_get(res, "links_by_partner_kind"), kinds, 2);
            if (rc == 0)
                rc = facts(&d->plan.production, res, f,
                           sizeof(f) / sizeof(f[0]));
            if (rc == 0)
                rc = facts(&d->plan.ocop, tl_mp_get(res, "ocop_by_stars"),
                           stars, 3);
            if (rc == 0)
                rc = links(r);
        }
    }
    povtrack_client_msg_free(&m);
    return rc;
}

static int protection(struct rep *r, size_t idx)
{
    static const struct fact f[] = {{"poor", NULL, TL_KIND_INT},
                                    {"no_labour", NULL, TL_KIND_INT},
                                    {"no_labour_share", NULL, TL_KIND_RATE},
                                    {"assisted", NULL, TL_KIND_INT},
                                    {"assisted_share", NULL, TL_KIND_RATE},
                                    {"unassisted", NULL, TL_KIND_INT},
                                    {"regular_amount", NULL, TL_KIND_VND},
                                    {"emergency_amount", NULL, TL_KIND_VND}};
    struct tl_rep_doc *d = &r->doc;
    struct tl_rep_unit *u = &d->units[idx];
    struct povtrack_client_msg m;
    const msgpack_object *res;
    int rc = ask_year(r, TL_SEC_PROTECTION, idx, 0, &m, &res);

    if (rc == 0 && res != NULL) {
        put(u, TL_COL_NO_LABOUR, res, "no_labour");
        put(u, TL_COL_ASSISTED_SHARE, res, "assisted_share");
        if (idx == 0)
            rc = facts(&d->plan.protection, res, f, sizeof(f) / sizeof(f[0]));
    }
    povtrack_client_msg_free(&m);
    return rc;
}

/* The donors' rows of a donors answer into p (at most max of them). */
static int donor_rows(struct tl_rep_plan *p, const msgpack_object *res,
                      int64_t max)
{
    const msgpack_object *arr = tl_mp_get(res, "list");
    int64_t rows = 0;

    tl_mp_i64(res, "donors", &rows);
    for (uint32_t i = 0; arr != NULL && arr->type == MSGPACK_OBJECT_ARRAY &&
                         i < arr->via.array.size && (int64_t)p->ndonors < max;
         i++) {
        const msgpack_object *o = &arr->via.array.ptr[i];
        struct tl_rep_donor *w = grow(p->donor_list, p->ndonors, sizeof(*w));
        if (w == NULL)
            return oom();
        p->donor_list = w;
        w = &w[p->ndonors++];
        memset(w, 0, sizeof(*w));
        if (mp_strdup(o, "donor", &w->donor) != 0 ||
            mp_strdup(o, "donor_kind", &w->kind) != 0)
            return oom();
        tl_mp_num(o, "amount", &w->amount);
        tl_mp_num(o, "donations", &w->donations);
        tl_mp_num(o, "in_kind", &w->in_kind);
    }
    if (rows > (int64_t)p->ndonors)
        p->donors_more = (size_t)(rows - (int64_t)p->ndonors);
    return 0;
}

static int donors(struct rep *r, size_t idx)
{
    static const struct fact f[] = {{"received", NULL, TL_KIND_VND},
                                    {"donations", NULL, TL_KIND_INT},
                                    {"donors", NULL, TL_KIND_INT}};
    static const struct fact anon[] = {
        {"amount", "donors:anonymous", TL_KIND_VND}};
    struct tl_rep_doc *d = &r->doc;
    struct tl_rep_unit *u = &d->units[idx];
    struct povtrack_client_msg m;
    const msgpack_object *res;
    int rc =
        ask_year(r, TL_SEC_DONORS, idx,
                 idx == 0 && r->doc.donors_max > 0 ? (int)r->doc.donors_max : 1,
                 &m, &res);

    if (rc == 0 && res != NULL) {
        put(u, TL_COL_DONORS, res, "donors");
        if (idx == 0)
            rc = facts(&d->plan.donors, res, f, sizeof(f) / sizeof(f[0]));
        if (idx == 0 && rc == 0)
            rc = facts(&d->plan.donors, tl_mp_get(res, "anonymous"), anon, 1);
        if (idx == 0 && rc == 0)
            rc = donor_rows(&d->plan, res, (int64_t)r->doc.donors_max);
    }
    povtrack_client_msg_free(&m);
    return rc;
}

/* The commendations listed for the root, at most TL_REP_COMMENDED. */
#define TL_REP_COMMENDED 100
static int commended(struct tl_rep_plan *p, const msgpack_object *res)
{
    const msgpack_object *arr = tl_mp_get(res, "list");
    int64_t more = 0;

    for (uint32_t i = 0; arr != NULL && arr->type == MSGPACK_OBJECT_ARRAY &&
                         i < arr->via.array.size;
         i++) {
        const msgpack_object *o = &arr->via.array.ptr[i];
        struct tl_rep_commendation *c =
            grow(p->commended, p->ncommended, sizeof(*c));
        if (c == NULL)
            return oom();
        p->commended = c;
        c = &c[p->ncommended++];
        memset(c, 0, sizeof(*c));
        if (mp_strdup(o, "recipient", &c->recipient) != 0 ||
            mp_strdup(o, "recipient_kind", &c->kind) != 0 ||
            mp_strdup(o, "awarded_by", &c->awarded_by) != 0 ||
            mp_strdup(o, "level", &c->level) != 0 ||
            mp_strdup(o, "decision", &c->decision) != 0 ||
            mp_strdup(o, "unit", &c->unit) != 0)
            return oom();
        tl_mp_i64(o, "at", &c->at);
    }
    if (tl_mp_i64(res, "more", &more) && more > 0)
        p->commended_more = (size_t)more;
    return 0;
}

static int commendations(struct rep *r, size_t idx)
{
    static const struct fact f[] = {{"commendations", NULL, TL_KIND_INT},
                                    {"collectives", NULL, TL_KIND_INT},
                                    {"individuals", NULL, TL_KIND_INT}};
    struct tl_rep_doc *d = &r->doc;
    struct tl_rep_unit *u = &d->units[idx];
    struct povtrack_client_msg m;
    const msgpack_object *res;
    int rc = ask_year(r, TL_SEC_COMMENDATIONS, idx,
                      idx == 0 ? TL_REP_COMMENDED : 1, &m, &res);

    if (rc == 0 && res != NULL) {
        put(u, TL_COL_COMMENDATIONS, res, "commendations");
        if (idx == 0)
            rc =
                facts(&d->plan.commendations, res, f, sizeof(f) / sizeof(f[0]));
        if (idx == 0 && rc == 0)
            rc = map_kvs(&d->plan.commendations, res, "by_level", TL_KIND_INT);
        if (idx == 0 && rc == 0)
            rc = commended(&d->plan, res);
    }
    povtrack_client_msg_free(&m);
    return rc;
}

/* Sections 7 to 11 for units[idx]. */
static int plan(struct rep *r, size_t idx)
{
    int rc = budget(r, idx);

    if (rc == 0)
        rc = production(r, idx);
    if (rc == 0)
        rc = protection(r, idx);
    if (rc == 0)
        rc = donors(r, idx);
    if (rc == 0)
        rc = commendations(r, idx);
    return rc;
}

/* The reports of the subtree; late and overdue ones are counted for their
 * unit and each ancestor up to the root. */
static int deadlines(struct rep *r, int64_t now)
{
    struct tl_rep_doc *d = &r->doc;
    struct povtrack_client_msg m;
    const msgpack_object *res, *arr;
    int rc;

    if (!d->present[TL_SEC_DEADLINES])
        return 0;
    rc = ask(r, TL_SEC_DEADLINES,
             json_pack("{s:I,s:s,s:I}", "now", (json_int_t)now, "unit",
                       d->units[0].code, "as_of", (json_int_t)report_as_of(r)),
             &m);
    res = result(&m);
    arr = tl_mp_get(res, "reports");
    for (size_t u = 0; rc == 0 && res != NULL && u < d->nunits; u++) {
        d->units[u].has[TL_COL_REPORTS_LATE] = true;
        d->units[u].has[TL_COL_REPORTS_OVERDUE] = true;
    }
    for (uint32_t i = 0;
         rc == 0 && arr != NULL && arr->type == MSGPACK_OBJECT_ARRAY &&
         i < arr->via.array.size;
         i++) {
        const msgpack_object *o = &arr->via.array.ptr[i];
        char unit[TL_REP_CODE_MAX];
        struct tl_rep_report *p;
        size_t at;

        if (!tl_mp_str(o, "unit_as_of", unit, sizeof(unit)) ||
            (at = find_unit(r, unit)) == SIZE_MAX)
            continue;
        p = realloc(d->reports, (d->nreports + 1) * sizeof(*p));
        if (p == NULL) {
            rc = oom();
            break;
        }
        d->reports = p;
        p = &d->reports[d->nreports++];
        memset(p, 0, sizeof(*p));
        if (mp_strdup(o, "org", &p->org) != 0 ||
            mp_strdup(o, "report", &p->report) != 0 ||
            mp_strdup(o, "unit", &p->unit) != 0 ||
            mp_strdup(o, "state", &p->state) != 0) {
            rc = oom();
            break;
        }
        p->has_due = tl_mp_i64(o, "due", &p->due);
        p->has_submitted = tl_mp_i64(o, "submitted", &p->submitted);
        if (p->state == NULL)
            continue;
        enum tl_rep_col c = strcmp(p->state, "late") == 0 ? TL_COL_REPORTS_LATE
                            : strcmp(p->state, "overdue") == 0
                                ? TL_COL_REPORTS_OVERDUE
                                : TL_COL_COUNT;
        for (; c != TL_COL_COUNT && at != SIZE_MAX; at = d->units[at].parent)
            d->units[at].v[c]++;
    }
    povtrack_client_msg_free(&m);
    return rc;
}

/* Keep the alerts whose unit regroups into the subtree at as_of (an alert
 * raised under a district since abolished, or a commune merged away,
 * counts where that unit's households are now, as every figure does). */
static int alerts_in_subtree(struct rep *r, struct tl_regroup *rg)
{
    struct tl_rep_doc *d = &r->doc;
    size_t k = 0;
    int rc = 0;

    for (size_t i = 0; rc == 0 && i < d->nalerts; i++)
        if (d->alerts[i].unit != NULL)
            rc = tl_regroup_add(rg, d->alerts[i].unit);
    if (rc != 0)
        return oom();
    rc = tl_regroup_ask(rg, r->cli);
    for (size_t i = 0; i < d->nalerts; i++) {
        struct tl_rep_alert *a = &d->alerts[i];
        const char *now =
            rc == 0 && a->unit != NULL ? tl_regroup_get(rg, a->unit) : NULL;
        if (now != NULL && find_unit(r, now) != SIZE_MAX) {
            if (strcmp(now, a->unit) != 0 && (a->now = strdup(now)) == NULL)
                rc = oom();
            d->alerts[k++] = *a;
            continue;
        }
        free(a->code);
        free(a->severity);
        free(a->unit);
        free(a->message);
        free(a->now);
    }
    d->nalerts = k;
    return rc;
}

/* The alerts raised by events of the year (their "at" in UTC+7) under a
 * unit that regroups into the subtree, paged as `summary` does. */
static int alerts(struct rep *r)
{
    struct tl_rep_doc *d = &r->doc;
    int64_t since = 0, from = year_start(d->year), to = year_start(d->year + 1);
    struct tl_regroup rg;
    int rc = 0;

    for (;;) {
        struct povtrack_client_msg m;
        const msgpack_object *arr;
        json_t *req = json_pack("{s:s,s:I,s:i}", "op", "alerts", "since",
                                (json_int_t)since, "limit", ALERT_PAGE);
        int64_t last = since;

        if (req == NULL)
            return oom();
        rc = tl_cli_request(r->cli, req, &m);
        json_decref(req);
        if (rc != 0)
            return rc;
        arr = tl_mp_get(&m.obj, "alerts");
        for (uint32_t i = 0;
             rc == 0 && arr != NULL && arr->type == MSGPACK_OBJECT_ARRAY &&
             i < arr->via.array.size;
             i++) {
            const msgpack_object *a = &arr->via.array.ptr[i];
            char unit[TL_REP_CODE_MAX];
            int64_t seq = 0, at;
            struct tl_rep_alert *p;

            if (tl_mp_i64(a, "seq", &seq) && seq > last)
                last = seq;
            if (!tl_mp_i64(a, "at", &at) || at < from || at >= to ||
                !tl_mp_str(a, "unit", unit, sizeof(unit)))
                continue;
            p = realloc(d->alerts, (d->nalerts + 1) * sizeof(*p));
            if (p == NULL) {
                rc = oom();
                break;
            }
            d->alerts = p;
            p = &d->alerts[d->nalerts++];
            memset(p, 0, sizeof(*p));
            p->at = at;
            p->seq = seq;
            if (mp_strdup(a, "code", &p->code) != 0 ||
                mp_strdup(a, "severity", &p->severity) != 0 ||
                mp_strdup(a, "unit", &p->unit) != 0 ||
                mp_strdup(a, "message", &p->message) != 0) {
                rc = oom();
                break;
            }
        }
        /* Alerts of one event share its seq: a page that ends inside one
         * would resume past it; pages of 10000 make that a corner case
         * accepted here as in `summary`. */
        bool more = arr != NULL && arr->type == MSGPACK_OBJECT_ARRAY &&
                    arr->via.array.size == ALERT_PAGE && last > since;
        povtrack_client_msg_free(&m);
        if (rc != 0 || !more)
            break;
        since = last;
    }
    if (rc != 0)
        return rc;
    tl_regroup_init(&rg, report_as_of(r));
    rc = alerts_in_subtree(r, &rg);
    tl_regroup_free(&rg);
    return rc;
}

/* The most serious first, then in time order: what the committee should
 * read if it reads only the first lines. */
static int alert_cmp(const void *a, const void *b)
{
    const struct tl_rep_alert *x = a, *y = b;
    int rx = tl_alert_rank(x->severity), ry = tl_alert_rank(y->severity);

    if (rx != ry)
        return rx < ry ? -1 : 1;
    if (x->at != y->at)
        return x->at < y->at ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* ---- the command ------------------------------------------------------ */

/* Wait for every plugin of the report; the ones not loaded are marked
 * absent. */
static int wait_plugins(struct rep *r)
{
    struct tl_rep_doc *d = &r->doc;
    const char *code = d->units[0].code;
    /* On the report's units, as its sections ask: a unit that has ended
     * since is asked about on the units of its year. */
    json_int_t as_of = (json_int_t)report_as_of(r);
    json_t *q[TL_SEC_ALERTS] = {
        json_pack("{s:s,s:i,s:I}", "unit", code, "year", d->year, "as_of",
                  as_of),
        json_pack("{s:s,s:i,s:I}", "unit", code, "year", d->year, "as_of",
                  as_of),
        json_pack("{s:s,s:I}", "unit", code, "as_of", as_of),
        json_pack("{s:s,s:I}", "unit", code, "as_of", as_of),
        json_pack("{s:s,s:I}", "unit", code, "as_of", as_of),
        json_object(),
        json_pack("{s:s,s:i,s:I}", "unit", code, "year", d->year, "as_of",
                  as_of),
        json_pack("{s:s,s:i,s:I}", "unit", code, "year", d->year, "as_of",
                  as_of),
        json_pack("{s:s,s:i,s:I}", "unit", code, "year", d->year, "as_of",
                  as_of),
        json_pack("{s:s,s:I}", "unit", code, "as_of", as_of),
        json_pack("{s:s,s:I}", "unit", code, "as_of", as_of)};
    struct tl_wait_target t[TL_SEC_ALERTS];
    int rc = 0;

    for (int s = 0; s < TL_SEC_ALERTS; s++) {
        t[s].plugin = tl_report_sec_plugin((enum tl_rep_sec)s);
        t[s].q = q[s];
        t[s].absent = false;
        if (q[s] == NULL && rc == 0)
            rc = oom();
    }
    if (rc == 0)
        rc = tl_wait_caught_up(r->cli, t, TL_SEC_ALERTS, true);
    for (int s = 0; s < TL_SEC_ALERTS; s++) {
        d->present[s] = !t[s].absent;
        json_decref(q[s]);
    }
    d->present[TL_SEC_ALERTS] = true;
    return rc;
}

static int gather(struct rep *r, const char *unit)
{
    struct tl_rep_doc *d = &r->doc;
    int64_t now = (int64_t)time(NULL);
    int rc;

    d->generated = now;
    rc = root(r, unit);
    if (rc == 0)
        rc = wait_plugins(r);
    if (rc == 0)
        rc = walk(r, 0);
    if (rc != 0)
        return rc;
    r->by_code = malloc(d->nunits * sizeof(*r->by_code));
    if (r->by_code == NULL)
        return oom();
    for (size_t i = 0; i < d->nunits; i++)
        r->by_code[i] = (struct code_idx){d->units[i].code, i};
    qsort(r->by_code, d->nunits, sizeof(*r->by_code), code_idx_cmp);
    for (size_t i = 0; rc == 0 && i < d->nunits; i++) {
        rc = poverty(r, i);
        if (rc == 0)
            rc = standard(r, i);
        if (rc == 0)
            rc = fund(r, i);
        if (rc == 0)
            rc = relocation(r, i);
        if (rc == 0)
            rc = credit(r, i);
        if (rc == 0)
            rc = plan(r, i);
    }
    if (rc == 0)
        rc = cohorts(r);
    if (rc == 0)
        rc = deadlines(r, now);
    if (rc == 0)
        rc = alerts(r);
    if (rc == 0 && d->nalerts > 1)
        qsort(d->alerts, d->nalerts, sizeof(*d->alerts), alert_cmp);
    return rc;
}

/* Ask the donors plugin for the period and fill the document. */
static int donors_list(struct rep *r, const char *unit, json_t *q,
                       int64_t limit)
{
    static const struct fact f[] = {{"received", NULL, TL_KIND_VND},
                                    {"donations", NULL, TL_KIND_INT},
                                    {"donors", NULL, TL_KIND_INT}};
    static const struct fact anon[] = {
        {"amount", "donors:anonymous", TL_KIND_VND}};
    struct tl_rep_doc *d = &r->doc;
    struct tl_wait_target t = {"donors", q, false};
    struct povtrack_client_msg m;
    const msgpack_object *res;
    int rc = root(r, unit);

    if (rc == 0)
        rc = tl_wait_caught_up(r->cli, &t, 1, false);
    if (rc == 0 && json_object_set_new(q, "limit", json_integer(limit)) != 0)
        rc = oom();
    if (rc == 0)
        rc = tl_query_plugin(r->cli, "donors", q, 0, &m, NULL);
    if (rc != 0)
        return rc;
    res = result(&m);
    rc = facts(&d->plan.donors, res, f, sizeof(f) / sizeof(f[0]));
    if (rc == 0)
        rc = facts(&d->plan.donors, tl_mp_get(res, "anonymous"), anon, 1);
    if (rc == 0)
        rc = donor_rows(&d->plan, res, limit);
    povtrack_client_msg_free(&m);
    return rc;
}

void tl_report_doc_init(struct tl_rep_doc *d, int year, int from_year)
{
    memset(d, 0, sizeof(*d));
    d->lang = TL_REP_VI;
    d->year = year;
    d->from_year = from_year;
    d->tmin = 0.7; /* until povtrackd says otherwise */
    d->tmax = 1.0;
    d->md_tmin = 1.0;
    d->md_tmax = 1.5;
    d->alerts_max = 30;
    d->donors_max = 50;
}

const char *tl_report_args_error(const char *unit, long long year,
                                 long long *from_year, char *buf, size_t cap)
{
    if (unit == NULL || unit[0] == '\0' || strlen(unit) > 5 ||
        strspn(unit, "0123456789") != strlen(unit))
        return "give the unit's code (2 to 5 digits)";
    if (year < 2000 || year > 2100)
        return "give the year (2000-2100)";
    if (*from_year < 0)
        *from_year = year < 2021 ? year : 2021;
    if (*from_year < 2000 || *from_year > year ||
        year - *from_year >= TL_REP_YEARS) {
        snprintf(buf, cap,
                 "the first year of the chart must satisfy 2000 <= from <= "
                 "year < from + %d",
                 TL_REP_YEARS);
        return buf;
    }
    return NULL;
}

int tl_report_gather(struct tl_cli *cli, struct tl_rep_doc *doc,
                     const char *unit, bool band_given, bool md_band_given)
{
    struct rep r = {.cli = cli,
                    .doc = *doc,
                    .band_given = band_given,
                    .md_band_given = md_band_given};
    int rc = gather(&r, unit);

    free(r.by_code);
    *doc = r.doc; /* what was filled, also on failure: the caller frees */
    if (rc == POVTRACK_ENOMEM) {
        fprintf(tl_cli_err(cli), "povtrack: out of memory\n");
        rc = TL_EXIT_FAIL;
    }
    return rc;
}

int64_t tl_report_as_of(int year)
{
    return year_start(year + 1) - 1;
}

int tl_report_gather_donors(struct tl_cli *cli, struct tl_rep_doc *doc,
                            const char *unit, json_t *q, int64_t limit)
{
    struct rep r = {.cli = cli, .doc = *doc};
    int rc = donors_list(&r, unit, q, limit);

    free(r.by_code);
    *doc = r.doc;
    if (rc == POVTRACK_ENOMEM) {
        fprintf(tl_cli_err(cli), "povtrack: out of memory\n");
        rc = TL_EXIT_FAIL;
    }
    return rc;
}
