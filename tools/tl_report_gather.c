/*
 * tl_report_gather.c - see tl_report_gather.h: ask the daemon and fill the
 * report's document model; tl_report.c lays it out.
 */
#include "tl_report_gather.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tl_mp.h"
#include "tl_query.h"

#define ALERT_PAGE 10000
#define VN_OFFSET (7 * 3600)

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
    return days * 86400 - VN_OFFSET;
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
        if (!found) {
            fprintf(tl_cli_err(r->cli),
                    "povtrack: povtrackd knows no unit %s\n", unit);
            return TL_EXIT_FAIL;
        }
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

        /* Earlier years on the units of the report's year. */
        rc = ask(r, TL_SEC_POVERTY,
                 y < d->year
                     ? json_pack("{s:s,s:i,s:I}", "unit", u->code, "year", y,
                                 "as_of", (json_int_t)report_as_of(r))
                     : json_pack("{s:s,s:i}", "unit", u->code, "year", y),
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

        rc = ask(r, TL_SEC_POVERTY,
                 json_pack("{s:s,s:i}", "unit", d->units[0].code, "cohort", y),
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

    if (!d->present[TL_SEC_STANDARD])
        return 0;
    rc = ask(r, TL_SEC_STANDARD,
             json_pack("{s:s,s:i}", "unit", u->code, "year", d->year), &m);
    res = result(&m);
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

    if (!d->present[TL_SEC_FUND])
        return 0;
    /* {"unit", "year"}: the calendar year in UTC+7, with beneficiaries. */
    rc = ask(r, TL_SEC_FUND,
             json_pack("{s:s,s:i}", "unit", u->code, "year", d->year), &m);
    res = result(&m);
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
    rc = ask(r, TL_SEC_RELOCATION, json_pack("{s:s}", "unit", u->code), &m);
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

    if (!d->present[TL_SEC_CREDIT])
        return 0;
    rc = ask(r, TL_SEC_CREDIT,
             json_pack("{s:s,s:i}", "unit", u->code, "year", d->year), &m);
    res = result(&m);
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
    rc = ask(r, TL_SEC_DEADLINES, json_pack("{s:I}", "now", (json_int_t)now),
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

        if (!tl_mp_str(o, "unit", unit, sizeof(unit)) ||
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

/* The alerts raised by events of the year (their "at" in UTC+7) in the
 * subtree, paged as `summary` does. */
static int alerts(struct rep *r)
{
    struct tl_rep_doc *d = &r->doc;
    int64_t since = 0, from = year_start(d->year), to = year_start(d->year + 1);
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
                !tl_mp_str(a, "unit", unit, sizeof(unit)) ||
                find_unit(r, unit) == SIZE_MAX)
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
    return rc;
}

/* The most serious first, then in time order: what the committee should
 * read if it reads only the first lines. */
static int severity_rank(const char *s)
{
    return s == NULL                    ? 3
           : strcmp(s, "critical") == 0 ? 0
           : strcmp(s, "warning") == 0  ? 1
                                        : 2;
}

static int alert_cmp(const void *a, const void *b)
{
    const struct tl_rep_alert *x = a, *y = b;
    int rx = severity_rank(x->severity), ry = severity_rank(y->severity);

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
    json_t *q[TL_SEC_ALERTS] = {
        json_pack("{s:s,s:i}", "unit", code, "year", d->year),
        json_pack("{s:s,s:i}", "unit", code, "year", d->year),
        json_pack("{s:s}", "unit", code),
        json_pack("{s:s}", "unit", code),
        json_pack("{s:s}", "unit", code),
        json_object()};
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
