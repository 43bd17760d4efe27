/*
 * tl_cmd_summary.c - `povtrack summary`: the province report of the demo.
 */
#include <stdlib.h>
#include <string.h>

#include "tl_cli.h"
#include "tl_fmt.h"
#include "tl_json.h"
#include "tl_mp.h"
#include "tl_query.h"
#include "tl_regroup.h"
#include "tl_unitdir.h"

#define YEARS_MAX 30
#define NAME_MAX_BYTES 256
#define ALERT_PAGE 10000

static const char summary_usage[] =
    "Usage: povtrack summary --unit CODE [--from-year Y] [--to-year Y]\n"
    "                        [--target-min PP] [--target-max PP]\n"
    "                        [--messages N]\n"
    "\n"
    "Report on unit CODE (a province, usually) and each of its child units:\n"
    " - the poor-household rate per year (poverty plugin), units as rows,\n"
    "   years as columns (default 2021 to 2025).  The rows are the units as\n"
    "   they stand at the end of the last year, and each year's figures are\n"
    "   regrouped into them (so years before a reorganisation, such as the\n"
    "   one of 1 July 2025, line up with the units after it);\n"
    " - its reduction in percentage points per year and the average of the\n"
    "   known yearly reductions, against the target band (default 0.7 to\n"
    "   1.0 points a year): \"-\" below the band, \"ok\" within, \"+\" above;\n"
    "   \"n/a\" where the daemon has no rate (no review, or no rate the year\n"
    "   before);\n"
    " - the For the Poor fund of the unit over those years (fund plugin),\n"
    "   its policy loans (credit) and its relocated households\n"
    "   (relocation), all regrouped into the units of the end of the last\n"
    "   year: what was recorded under a unit that later merged into this\n"
    "   one counts here;\n"
    " - the alerts raised for the unit and its descendants, as they stand\n"
    "   at the end of the last year (an alert raised under a unit that\n"
    "   later merged into one of them, or was abolished, counts where its\n"
    "   households went): a count per code, then the N most serious\n"
    "   (default 5; critical first, then warnings, each the earliest\n"
    "   first), with the time in Vietnam (UTC+7) and the name and code of\n"
    "   the unit it was raised on.\n"
    "Units are named with their code beside: \"Thành phố Phan Thiết (593)\".\n"
    "--json prints the same as one JSON object.\n";

struct unit_row {
    char code[16];
    char name[NAME_MAX_BYTES];
    bool known[YEARS_MAX], red_known[YEARS_MAX];
    double rate[YEARS_MAX], red[YEARS_MAX];
    bool avg_known;
    double avg;
};

struct summary {
    struct tl_cli *cli;
    long long from, to;
    double tmin, tmax;
    struct unit_row *rows;
    size_t nrows;
    char **subtree; /* every unit code under the root, root included */
    size_t nsub, capsub;
    struct tl_unitdir *units; /* names for the alert lines */
};

static int add_code(struct summary *s, const char *code)
{
    if (s->nsub == s->capsub) {
        size_t cap = s->capsub ? s->capsub * 2 : 64;
        char **p = realloc(s->subtree, cap * sizeof(*p));
        if (p == NULL)
            return POVTRACK_ENOMEM;
        s->subtree = p;
        s->capsub = cap;
    }
    s->subtree[s->nsub] = strdup(code);
    return s->subtree[s->nsub++] == NULL ? POVTRACK_ENOMEM : 0;
}

/* 00:00 on 1 January of year in Vietnam (UTC+7), in unix seconds. */
static int64_t year_start(long long y)
{
    int64_t days = 0;

    for (long long k = 1970; k < y; k++)
        days += (k % 4 == 0 && (k % 100 != 0 || k % 400 == 0)) ? 366 : 365;
    return days * 86400 - 7 * 3600;
}

/* The last instant of the summary's last year: rows are the units as they
 * stand then, and every year's figures are regrouped into them. */
static int64_t summary_as_of(const struct summary *s)
{
    return year_start(s->to + 1) - 1;
}

/* The children of parent (NULL: provinces) as the daemon knows them at the
 * end of the last year.  rows is grown when want_rows, else only the
 * subtree set is. */
static int children(struct summary *s, const char *parent, bool want_rows,
                    const char *only)
{
    struct povtrack_client_msg reply;
    const msgpack_object *units;
    json_t *req = json_pack("{s:s,s:s?,s:I}", "op", "units", "parent", parent,
                            "at", (json_int_t)summary_as_of(s));
    int rc;

    if (req == NULL)
        return TL_EXIT_FAIL;
    rc = tl_cli_request(s->cli, req, &reply);
    json_decref(req);
    if (rc != 0)
        return rc;
    units = tl_mp_get(&reply.obj, "units");
    if (units == NULL || units->type != MSGPACK_OBJECT_ARRAY) {
        povtrack_client_msg_free(&reply);
        fprintf(stderr, "povtrack: the units reply has no units\n");
        return TL_EXIT_FAIL;
    }
    for (uint32_t i = 0; rc == 0 && i < units->via.array.size; i++) {
        const msgpack_object *u = &units->via.array.ptr[i];
        struct unit_row r;

        memset(&r, 0, sizeof(r));
        if (!tl_mp_str(u, "code", r.code, sizeof(r.code)))
            continue;
        if (!tl_mp_str(u, "name", r.name, sizeof(r.name)))
            snprintf(r.name, sizeof(r.name), "%s", r.code);
        if (only != NULL && strcmp(only, r.code) != 0)
            continue;
        if (want_rows) {
            struct unit_row *p = realloc(s->rows, (s->nrows + 1) * sizeof(*p));
            if (p == NULL) {
                rc = TL_EXIT_FAIL;
                break;
            }
            s->rows = p;
            s->rows[s->nrows++] = r;
        }
        if (only == NULL && add_code(s, r.code) != 0)
            rc = TL_EXIT_FAIL;
    }
    povtrack_client_msg_free(&reply);
    if (rc != 0)
        fprintf(stderr, "povtrack: out of memory\n");
    return rc;
}

static int rates(struct summary *s, struct unit_row *r)
{
    double sum = 0;
    int n = 0;

    for (long long y = s->from; y <= s->to; y++) {
        size_t i = (size_t)(y - s->from);
        struct povtrack_client_msg reply;
        const msgpack_object *res;
        json_t *req =
            json_pack("{s:s,s:s,s:{s:s,s:I,s:I}}", "op", "query", "plugin",
                      "poverty", "q", "unit", r->code, "year", (json_int_t)y,
                      "as_of", (json_int_t)summary_as_of(s));
        int rc;

        if (req == NULL)
            return TL_EXIT_FAIL;
        rc = tl_cli_request(s->cli, req, &reply);
        json_decref(req);
        if (rc != 0)
            return rc;
        res = tl_mp_get(&reply.obj, "result");
        r->known[i] = tl_mp_num(res, "poor_rate", &r->rate[i]);
        r->red_known[i] = tl_mp_num(res, "reduction_pp", &r->red[i]);
        if (r->red_known[i]) {
            sum += r->red[i];
            n++;
        }
        povtrack_client_msg_free(&reply);
    }
    r->avg_known = n > 0;
    r->avg = n > 0 ? sum / n : 0;
    return TL_EXIT_OK;
}

static const char *mark(const struct summary *s, double pp)
{
    /* A small epsilon: 0.7 computed from two rates must count as 0.7. */
    if (pp < s->tmin - 1e-9)
        return "-";
    if (pp > s->tmax + 1e-9)
        return "+";
    return "ok";
}

/* "0.75 ok": a reduction and its mark.  With two decimals 0.699 would
 * read "0.70 -" beside a 0.70 target: where the rounding would contradict
 * the mark, as many more decimals as it takes to show why (up to six). */
static void reduction_cell(const struct summary *s, double pp, char *cell,
                           size_t cap)
{
    const char *m = mark(s, pp);
    int prec = 2;
    if (strcmp(m, "ok") != 0) {
        double bound = strcmp(m, "-") == 0 ? s->tmin : s->tmax;
        for (; prec < 6; prec++) {
            char shown[32], edge[32];
            snprintf(shown, sizeof(shown), "%.*f", prec, pp);
            snprintf(edge, sizeof(edge), "%.*f", prec, bound);
            if (strcmp(shown, edge) != 0)
                break;
        }
    }
    snprintf(cell, cap, "%.*f %s", prec, pp, m);
}

/* "  Thành phố Phan Thiết (593)": the name and, beside it, the code. */
static void name_of(const struct summary *s, size_t i, char *buf, size_t cap)
{
    const struct unit_row *r = &s->rows[i];

    if (strcmp(r->name, r->code) == 0)
        snprintf(buf, cap, "%s%s", i > 0 ? "  " : "", r->code);
    else
        snprintf(buf, cap, "%s%s (%s)", i > 0 ? "  " : "", r->name, r->code);
}

static size_t name_width(const struct summary *s)
{
    size_t w = 4;

    for (size_t i = 0; i < s->nrows; i++) {
        char buf[NAME_MAX_BYTES + 32];
        size_t n;

        name_of(s, i, buf, sizeof(buf));
        if ((n = tl_utf8_width(buf)) > w)
            w = n;
    }
    return w;
}

static void name_cell(FILE *f, const struct summary *s, size_t i, size_t w)
{
    char buf[NAME_MAX_BYTES + 32];

    name_of(s, i, buf, sizeof(buf));
    tl_print_cell(f, buf, w, false);
}

static void print_tables(const struct summary *s)
{
    FILE *f = s->cli->out;
    size_t w = name_width(s);
    char cell[32];

    fprintf(f, "%s (%s): poor-household rate, %lld-%lld\n", s->rows[0].name,
            s->rows[0].code, s->from, s->to);
    fprintf(f, "target: down %.2f to %.2f percentage points a year\n\n",
            s->tmin, s->tmax);
    fprintf(f, "Poor-household rate (%%)\n");
    tl_print_cell(f, "unit", w, false);
    for (long long y = s->from; y <= s->to; y++)
        fprintf(f, " %8lld", y);
    fputc('\n', f);
    for (size_t i = 0; i < s->nrows; i++) {
        name_cell(f, s, i, w);
        for (long long y = s->from; y <= s->to; y++) {
            size_t k = (size_t)(y - s->from);
            if (s->rows[i].known[k])
                snprintf(cell, sizeof(cell), "%.2f", s->rows[i].rate[k]);
            else
                snprintf(cell, sizeof(cell), "n/a");
            fprintf(f, " %8s", cell);
        }
        fputc('\n', f);
    }
    fprintf(f,
            "\nReduction (pp; \"-\" below %.2f, \"ok\" within, \"+\" above "
            "%.2f)\n",
            s->tmin, s->tmax);
    tl_print_cell(f, "unit", w, false);
    for (long long y = s->from; y <= s->to; y++)
        fprintf(f, " %10lld", y);
    fprintf(f, " %10s\n", "average");
    for (size_t i = 0; i < s->nrows; i++) {
        const struct unit_row *r = &s->rows[i];
        name_cell(f, s, i, w);
        for (long long y = s->from; y <= s->to + 1; y++) {
            size_t k = (size_t)(y - s->from);
            bool known = y <= s->to ? r->red_known[k] : r->avg_known;
            double v = y <= s->to ? r->red[k] : r->avg;
            if (known)
                reduction_cell(s, v, cell, sizeof(cell));
            else
                snprintf(cell, sizeof(cell), "n/a");
            fprintf(f, " %10s", cell);
        }
        fputc('\n', f);
    }
}

static json_t *rows_json(const struct summary *s)
{
    json_t *rows = json_array();

    for (size_t i = 0; rows != NULL && i < s->nrows; i++) {
        const struct unit_row *r = &s->rows[i];
        json_t *rate = json_object(), *red = json_object();
        json_t *o = json_pack("{s:s,s:s,s:o,s:o}", "unit", r->code, "name",
                              r->name, "poor_rate", rate, "reduction_pp", red);
        if (o == NULL || json_array_append_new(rows, o) != 0) {
            json_decref(rows);
            return NULL;
        }
        for (long long y = s->from; y <= s->to; y++) {
            size_t k = (size_t)(y - s->from);
            char year[16];
            snprintf(year, sizeof(year), "%lld", y);
            json_object_set_new(
                rate, year, r->known[k] ? json_real(r->rate[k]) : json_null());
            json_object_set_new(red, year,
                                r->red_known[k] ? json_real(r->red[k])
                                                : json_null());
        }
        json_object_set_new(o, "average_pp",
                            r->avg_known ? json_real(r->avg) : json_null());
        json_object_set_new(
            o, "target",
            r->avg_known
                ? json_string(strcmp(mark(s, r->avg), "-") == 0   ? "below"
                              : strcmp(mark(s, r->avg), "+") == 0 ? "above"
                                                                  : "within")
                : json_null());
    }
    return rows;
}

static int fund(struct summary *s, json_t *out)
{
    struct povtrack_client_msg reply;
    json_t *req = json_pack("{s:s,s:s,s:{s:s,s:I,s:I,s:I}}", "op", "query",
                            "plugin", "fund", "q", "unit", s->rows[0].code,
                            "from", (json_int_t)year_start(s->from), "to",
                            (json_int_t)year_start(s->to + 1), "as_of",
                            (json_int_t)summary_as_of(s));
    const msgpack_object *res;
    int rc;

    if (req == NULL)
        return TL_EXIT_FAIL;
    rc = tl_cli_request(s->cli, req, &reply);
    json_decref(req);
    if (rc != 0)
        return rc;
    res = tl_mp_get(&reply.obj, "result");
    if (out != NULL) {
        struct tl_error err = {{0}};
        json_t *v = NULL;
        if (res == NULL || tl_json_from_msgpack(res, &v, &err) != 0 ||
            json_object_set_new(out, "fund", v) != 0)
            rc = TL_EXIT_FAIL;
    } else if (res != NULL) {
        fprintf(s->cli->out, "\nFor the Poor fund, %s (%s), %lld-%lld\n",
                s->rows[0].name, s->rows[0].code, s->from, s->to);
        tl_show_fund(s->cli->out, res);
    }
    povtrack_client_msg_free(&reply);
    return rc;
}

/* A line of a stock section: its name, the reply's key, how to show it. */
struct stock_line {
    const char *name, *key;
    enum { NUM, VND, PERCENT } kind;
};

/* The sections of stock(), by plugin. */
static const struct {
    const char *plugin, *title;
    struct stock_line line[4];
} stocks[] = {
    {"credit",
     "Policy credit",
     {{"loans", "loans", NUM},
      {"disbursed", "disbursed", VND},
      {"repaid", "repaid", VND},
      {"outstanding", "outstanding", VND}}},
    {"relocation",
     "Relocation",
     {{"relocated", "relocated", NUM},
      {"fully supported", "fully_supported", NUM},
      {"share fully supported", "share_fully_supported", PERCENT}}},
};

static void print_stock(const struct summary *s, size_t i,
                        const msgpack_object *res)
{
    FILE *f = s->cli->out;
    fprintf(f, "\n%s, %s (%s): every record, on the units of the end of %lld\n",
            stocks[i].title, s->rows[0].name, s->rows[0].code, s->to);
    for (size_t l = 0; l < 4 && stocks[i].line[l].name != NULL; l++) {
        const struct stock_line *sl = &stocks[i].line[l];
        char buf[TL_FMT_VND_MAX > 64 ? TL_FMT_VND_MAX : 64];
        int64_t v;
        double d;
        const char *text = "-";
        if (sl->kind == PERCENT && tl_mp_num(res, sl->key, &d)) {
            snprintf(buf, sizeof buf, "%.2f%%", d);
            text = buf;
        } else if (sl->kind != PERCENT && tl_mp_i64(res, sl->key, &v)) {
            text = sl->kind == VND ? tl_fmt_vnd(v, buf) : tl_fmt_int(v, buf);
        }
        fputs("  ", f);
        tl_print_cell(f, sl->name, 22, false);
        fprintf(f, "%s\n", text);
    }
}

/*
 * The root's policy loans (credit) or relocated households (relocation),
 * stocks[i]: every record, regrouped into the units of the end of the last
 * year, so that a province after a merger shows what its predecessors
 * recorded.  A plugin that is not loaded is left out.
 */
static int stock(struct summary *s, size_t i, json_t *out)
{
    struct povtrack_client_msg reply;
    bool absent = false;
    json_t *q = json_pack("{s:s,s:I}", "unit", s->rows[0].code, "as_of",
                          (json_int_t)summary_as_of(s));
    int rc = q != NULL ? tl_query_plugin(s->cli, stocks[i].plugin, q, 0, &reply,
                                         &absent)
                       : TL_EXIT_FAIL;
    json_decref(q);
    if (rc != 0 || absent)
        return rc;
    const msgpack_object *res = tl_mp_get(&reply.obj, "result");
    if (out != NULL) {
        struct tl_error err = {{0}};
        json_t *v = NULL;
        if (res == NULL || tl_json_from_msgpack(res, &v, &err) != 0 ||
            json_object_set_new(out, stocks[i].plugin, v) != 0)
            rc = TL_EXIT_FAIL;
    } else if (res != NULL) {
        print_stock(s, i, res);
    }
    povtrack_client_msg_free(&reply);
    return rc;
}

static int code_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void print_alert_json(FILE *f, struct tl_unitdir *units, json_t *a)
{
    const char *code = "?", *sev = "?", *unit = "?", *msg = "", *hh = "";
    json_int_t seq = 0, at = 0;
    int64_t at64;

    json_unpack(a, "{s?I,s?I,s?s,s?s,s?s,s?s,s?s}", "seq", &seq, "at", &at,
                "code", &code, "severity", &sev, "unit", &unit, "message", &msg,
                "household", &hh);
    at64 = (int64_t)at;
    tl_alert_line(f, "  ", units, (int64_t)seq, &at64, sev, code, unit, hh,
                  msg);
}

/* The most serious first, then the earliest: the first lines are the
 * ones to read. */
static int alert_cmp(const void *a, const void *b)
{
    json_t *const *x = a, *const *y = b;
    int rx = tl_alert_rank(json_string_value(json_object_get(*x, "severity")));
    int ry = tl_alert_rank(json_string_value(json_object_get(*y, "severity")));
    json_int_t ax = json_integer_value(json_object_get(*x, "at"));
    json_int_t ay = json_integer_value(json_object_get(*y, "at"));
    json_int_t sx = json_integer_value(json_object_get(*x, "seq"));
    json_int_t sy = json_integer_value(json_object_get(*y, "seq"));

    if (rx != ry)
        return rx < ry ? -1 : 1;
    if (ax != ay)
        return ax < ay ? -1 : 1;
    return sx < sy ? -1 : sx > sy;
}

/* The first n of all, in alert_cmp's order, as a new array. */
static json_t *most_serious(json_t *all, long long n)
{
    size_t k = json_array_size(all);
    json_t **v = malloc((k > 0 ? k : 1) * sizeof(*v));
    json_t *first = json_array();

    if (v == NULL || first == NULL) {
        free(v);
        json_decref(first);
        return NULL;
    }
    for (size_t i = 0; i < k; i++)
        v[i] = json_array_get(all, i);
    qsort(v, k, sizeof(*v), alert_cmp);
    for (size_t i = 0; i < k && (long long)i < n; i++)
        json_array_append(first, v[i]);
    free(v);
    return first;
}

struct code_count {
    char code[96];
    long long n;
};

/* Every alert raised (as JSON) into *all, with its unit noted in rg. */
static int read_alerts(struct summary *s, struct tl_regroup *rg, json_t *all)
{
    long long since = 0;
    int rc = 0;

    while (rc == 0) {
        struct povtrack_client_msg reply;
        const msgpack_object *arr;
        json_t *req = json_pack("{s:s,s:I,s:i}", "op", "alerts", "since",
                                (json_int_t)since, "limit", ALERT_PAGE);
        int64_t last = since;

        if (req == NULL) {
            rc = TL_EXIT_FAIL;
            break;
        }
        rc = tl_cli_request(s->cli, req, &reply);
        json_decref(req);
        if (rc != 0)
            break;
        arr = tl_mp_get(&reply.obj, "alerts");
        for (uint32_t i = 0; arr != NULL && arr->type == MSGPACK_OBJECT_ARRAY &&
                             i < arr->via.array.size;
             i++) {
            const msgpack_object *a = &arr->via.array.ptr[i];
            char unit[16] = "";
            int64_t seq;

            if (tl_mp_i64(a, "seq", &seq) && seq > last)
                last = seq;
            if (!tl_mp_str(a, "unit", unit, sizeof(unit)))
                continue;
            struct tl_error err = {{0}};
            json_t *v;
            if (tl_regroup_add(rg, unit) != 0 ||
                tl_json_from_msgpack(a, &v, &err) != 0 ||
                json_array_append_new(all, v) != 0) {
                fprintf(stderr, "povtrack: alert: %s\n",
                        err.msg[0] != '\0' ? err.msg : "out of memory");
                rc = TL_EXIT_FAIL;
                break;
            }
        }
        /* Alerts of one event share its seq; a page ending inside one
         * would be resumed past it.  Pages of 10000 make that a corner
         * case the report tolerates rather than re-reading. */
        bool more = arr != NULL && arr->type == MSGPACK_OBJECT_ARRAY &&
                    arr->via.array.size == ALERT_PAGE && last > since;
        povtrack_client_msg_free(&reply);
        if (rc != 0 || !more)
            break;
        since = last;
    }
    return rc;
}

/* Count the alerts of the subtree by code and show the most serious.  An
 * alert counts under the unit its unit regroups into at the end of the
 * last year (one raised under a district since abolished, or a commune
 * merged away, counts where its households are now); its line still names
 * the unit it was raised on. */
static int alerts(struct summary *s, long long nmsg, json_t *out)
{
    struct code_count *counts = NULL;
    size_t ncounts = 0;
    long long total = 0;
    json_t *all = json_array(), *mine = json_array(), *first = NULL;
    struct tl_regroup rg;
    int rc = all != NULL && mine != NULL ? 0 : TL_EXIT_FAIL;

    tl_regroup_init(&rg, summary_as_of(s));
    qsort(s->subtree, s->nsub, sizeof(*s->subtree), code_cmp);
    if (out == NULL)
        fprintf(s->cli->out, "\nAlerts\n");
    if (rc == 0)
        rc = read_alerts(s, &rg, all);
    if (rc == 0)
        rc = tl_regroup_ask(&rg, s->cli);
    for (size_t i = 0; rc == 0 && i < json_array_size(all); i++) {
        json_t *a = json_array_get(all, i);
        const char *unit = json_string_value(json_object_get(a, "unit"));
        const char *now = unit != NULL ? tl_regroup_get(&rg, unit) : NULL;
        const char *code = json_string_value(json_object_get(a, "code"));
        size_t c;

        if (now == NULL || bsearch(&now, s->subtree, s->nsub,
                                   sizeof(*s->subtree), code_cmp) == NULL)
            continue;
        if (code == NULL)
            code = "?";
        for (c = 0; c < ncounts; c++)
            if (strcmp(counts[c].code, code) == 0)
                break;
        if (c == ncounts) {
            struct code_count *p = realloc(counts, (ncounts + 1) * sizeof(*p));
            if (p == NULL) {
                rc = TL_EXIT_FAIL;
                break;
            }
            counts = p;
            snprintf(counts[ncounts].code, sizeof(counts[0].code), "%s", code);
            counts[ncounts++].n = 0;
        }
        counts[c].n++;
        total++;
        if (json_array_append(mine, a) != 0)
            rc = TL_EXIT_FAIL;
    }
    if (rc == 0 && (first = most_serious(mine, nmsg)) == NULL)
        rc = TL_EXIT_FAIL;
    if (rc == 0 && out != NULL) {
        json_t *by = json_object();
        for (size_t c = 0; by != NULL && c < ncounts; c++)
            json_object_set_new(by, counts[c].code, json_integer(counts[c].n));
        json_object_set_new(out, "alerts",
                            json_pack("{s:I,s:o,s:o}", "count",
                                      (json_int_t)total, "by_code", by, "first",
                                      first));
        first = NULL;
    } else if (rc == 0) {
        char n[TL_FMT_INT_MAX];
        fprintf(s->cli->out, "%s alerts\n", tl_fmt_int(total, n));
        size_t width = 0; /* the longest code: the counts line up */
        for (size_t c = 0; c < ncounts; c++)
            if (strlen(counts[c].code) > width)
                width = strlen(counts[c].code);
        for (size_t c = 0; c < ncounts; c++) {
            fprintf(s->cli->out, "  ");
            tl_print_cell(s->cli->out, counts[c].code, width, false);
            char cnt[TL_FMT_INT_MAX];
            fprintf(s->cli->out, " %*s\n", (int)strlen(n),
                    tl_fmt_int(counts[c].n, cnt));
        }
        if (json_array_size(first) > 0)
            fprintf(s->cli->out,
                    "the %zu most serious (time in Vietnam, UTC+7):\n",
                    json_array_size(first));
        for (size_t i = 0; i < json_array_size(first); i++)
            print_alert_json(s->cli->out, s->units, json_array_get(first, i));
    }
    json_decref(first);
    json_decref(mine);
    json_decref(all);
    tl_regroup_free(&rg);
    free(counts);
    return rc;
}

static int parse_double(const char *opt, const char *arg, double *out)
{
    char *end;
    double v = strtod(arg, &end);

    if (end == arg || *end != '\0' || v < 0 || v > 100)
        return tl_cli_usage("summary", "%s: \"%s\" is not a number 0..100", opt,
                            arg);
    *out = v;
    return 0;
}

/* A summary right after publishing must include what was published: wait,
 * through min_seq, until both plugins have applied the log as it is now. */
static int wait_caught_up(struct summary *s, const char *unit)
{
    json_t *qp =
        json_pack("{s:s,s:I,s:I}", "unit", unit, "year", (json_int_t)s->from,
                  "as_of", (json_int_t)summary_as_of(s));
    json_t *qf = json_pack("{s:s,s:I}", "unit", unit, "as_of",
                           (json_int_t)summary_as_of(s));
    /* credit and relocation may be left out of the daemon: their sections
     * are then too. */
    struct tl_wait_target t[4] = {{"poverty", qp, false},
                                  {"fund", qf, false},
                                  {"credit", qf, false},
                                  {"relocation", qf, false}};
    int rc = qp != NULL && qf != NULL ? tl_wait_caught_up(s->cli, t, 4, true)
                                      : TL_EXIT_FAIL;
    for (int i = 0; rc == 0 && i < 2; i++)
        if (t[i].absent) {
            fprintf(stderr, "povtrack: povtrackd has no plugin %s\n",
                    t[i].plugin);
            rc = TL_EXIT_FAIL;
        }

    json_decref(qp);
    json_decref(qf);
    return rc;
}

static int run(struct summary *s, const char *unit, long long nmsg)
{
    json_t *out = NULL;
    int rc;

    /* The root's own name: from the list of its parent's children.  For
     * a province that is the list of provinces; below, the directory
     * finds it (the code stands for the name of a unit it cannot find). */
    if (strlen(unit) == 2) {
        rc = children(s, NULL, true, unit);
    } else {
        const struct tl_unit *u = NULL;
        struct unit_row r;
        memset(&r, 0, sizeof(r));
        snprintf(r.code, sizeof(r.code), "%s", unit);
        rc = tl_unitdir_find(s->units, unit, &u);
        if (rc != 0 && rc != POVTRACK_ENOTFOUND)
            return rc;
        snprintf(r.name, sizeof(r.name), "%s", u != NULL ? u->name : unit);
        s->rows = malloc(sizeof(r));
        rc = s->rows == NULL ? TL_EXIT_FAIL : 0;
        if (rc == 0)
            s->rows[s->nrows++] = r;
    }
    if (rc != 0)
        return rc;
    if (s->nrows == 0)
        return tl_regroup_refuse_root(s->cli, stderr, unit, summary_as_of(s));
    if (add_code(s, unit) != 0)
        return TL_EXIT_FAIL;
    rc = wait_caught_up(s, unit);
    if (rc == 0)
        rc = children(s, unit, true, NULL);
    /* Grandchildren (communes) only matter for attributing alerts. */
    for (size_t i = 1; rc == 0 && i < s->nrows; i++)
        rc = children(s, s->rows[i].code, false, NULL);
    for (size_t i = 0; rc == 0 && i < s->nrows; i++)
        rc = rates(s, &s->rows[i]);
    if (rc != 0)
        return rc;
    if (s->cli->json) {
        out = json_pack("{s:s,s:s,s:I,s:I,s:[f,f],s:o}", "unit",
                        s->rows[0].code, "name", s->rows[0].name, "from_year",
                        (json_int_t)s->from, "to_year", (json_int_t)s->to,
                        "target_pp", s->tmin, s->tmax, "rows", rows_json(s));
        if (out == NULL)
            return TL_EXIT_FAIL;
    } else {
        print_tables(s);
    }
    rc = fund(s, out);
    for (size_t i = 0; rc == 0 && i < sizeof stocks / sizeof stocks[0]; i++)
        rc = stock(s, i, out);
    if (rc == 0)
        rc = alerts(s, nmsg, out);
    if (rc == 0 && out != NULL) {
        if (json_dumpf(out, s->cli->out,
                       JSON_COMPACT | JSON_PRESERVE_ORDER |
                           JSON_REAL_PRECISION(6)) != 0 ||
            fputc('\n', s->cli->out) == EOF)
            rc = TL_EXIT_FAIL;
    }
    json_decref(out);
    return rc;
}

int tl_cmd_summary(struct tl_cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {
        TL_COMMON_OPTIONS,
        {"unit", required_argument, NULL, 'u'},
        {"from-year", required_argument, NULL, 'f'},
        {"to-year", required_argument, NULL, 't'},
        {"target-min", required_argument, NULL, 'm'},
        {"target-max", required_argument, NULL, 'M'},
        {"messages", required_argument, NULL, 'n'},
        {0}};
    struct summary s;
    const char *unit = NULL;
    long long nmsg = 5;
    int c, rc = 0;

    memset(&s, 0, sizeof(s));
    s.cli = cli;
    s.from = 2021;
    s.to = 2025;
    s.tmin = 0.7;
    s.tmax = 1.0;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case TL_OPT_HELP:
            fputs(summary_usage, stdout);
            return TL_EXIT_OK;
        case 'u':
            unit = optarg;
            break;
        case 'f':
            rc = tl_cli_uint("summary", "--from-year", optarg, 9999, &s.from);
            break;
        case 't':
            rc = tl_cli_uint("summary", "--to-year", optarg, 9999, &s.to);
            break;
        case 'm':
            rc = parse_double("--target-min", optarg, &s.tmin);
            break;
        case 'M':
            rc = parse_double("--target-max", optarg, &s.tmax);
            break;
        case 'n':
            rc = tl_cli_uint("summary", "--messages", optarg, 1000, &nmsg);
            break;
        case '?':
            return tl_cli_badopt("summary");
        default:
            rc = tl_cli_common(cli, c, optarg);
            break;
        }
        if (rc != 0)
            return rc;
    }
    if (optind < argc)
        return tl_cli_usage("summary", "unexpected argument \"%s\"",
                            argv[optind]);
    if (unit == NULL || strlen(unit) == 0 || strlen(unit) > 5)
        return tl_cli_usage("summary", "give --unit CODE");
    if (s.from < 2000 || s.to < s.from || s.to - s.from >= YEARS_MAX)
        return tl_cli_usage("summary",
                            "years must satisfy 2000 <= from <= to < from + "
                            "%d",
                            YEARS_MAX);
    if (s.tmin > s.tmax)
        return tl_cli_usage("summary", "--target-min is above --target-max");
    s.units = tl_unitdir_new(cli);
    rc = s.units != NULL ? run(&s, unit, nmsg) : TL_EXIT_FAIL;
    tl_unitdir_free(s.units);
    for (size_t i = 0; i < s.nsub; i++)
        free(s.subtree[i]);
    free(s.subtree);
    free(s.rows);
    return rc;
}
