/*
 * tl_report.h - the yearly report of `povtrack report` as a document model,
 * and its rendering to Markdown, CSV and HTML.
 *
 * The model is filled by tl_cmd_report.c from the daemon's answers; this
 * module is pure (no I/O but the FILE it writes to, no daemon), so that the
 * layout, the labels, the escaping and the chart geometry can be tested on
 * a hand-built document.
 *
 * Conventions.  A value the daemon did not give is "not known" and shows as
 * "-" (Markdown, HTML) or an empty cell (CSV).  Markdown and HTML write
 * numbers as people of the chosen language read them (Vietnamese
 * "1.500.000" and "3,12%", English "1,500,000" and "3.12%"); CSV writes them
 * for programs: no thousands separators, a decimal point, rates and points
 * with two decimals.  Every string that came from the daemon is escaped for
 * the output format (HTML entities, Markdown punctuation, CSV quoting).
 */
#ifndef POVTRACK_TL_REPORT_H
#define POVTRACK_TL_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tl_error.h"

#define TL_REP_YEARS 30    /* chart years, from_year..year */
#define TL_REP_CODE_MAX 16 /* unit codes are at most 5 digits */
#define TL_REP_NAME_MAX 260

enum tl_rep_lang { TL_REP_VI = 0, TL_REP_EN = 1 };
enum tl_rep_format { TL_REP_MD, TL_REP_CSV, TL_REP_HTML };

/* The document's sections; all but the alerts are one plugin's. */
enum tl_rep_sec {
    TL_SEC_POVERTY,
    TL_SEC_STANDARD,
    TL_SEC_FUND,
    TL_SEC_RELOCATION,
    TL_SEC_CREDIT,
    TL_SEC_DEADLINES,
    /* The rest of the plan: II.4, II.3 (twice), III.3, III.4. */
    TL_SEC_BUDGET,
    TL_SEC_PRODUCTION,
    TL_SEC_PROTECTION,
    TL_SEC_DONORS,
    TL_SEC_COMMENDATIONS,
    TL_SEC_ALERTS,
    TL_SEC_COUNT
};

/* The plugin a section comes from ("poverty"...), NULL for the alerts. */
const char *tl_report_sec_plugin(enum tl_rep_sec s);

/* Per-unit columns: the rows of the unit tables and of the CSV. */
enum tl_rep_col {
    TL_COL_HOUSEHOLDS,
    TL_COL_POOR,
    TL_COL_POOR_RATE,
    TL_COL_NEAR,
    TL_COL_NEAR_RATE,
    TL_COL_REDUCTION,
    TL_COL_TARGET, /* 1 met (reduction >= target_min), 0 missed */
    /* The ministry's multidimensional rate: poor + near-poor over all
     * households, its reduction, and the reduction against md_tmin. */
    TL_COL_MD_RATE,
    TL_COL_MD_REDUCTION,
    TL_COL_MD_TARGET,
    TL_COL_ESCAPED,
    TL_COL_RELAPSED,
    TL_COL_NEWLY,
    TL_COL_ASSESSED,
    TL_COL_UNRECOGNISED,
    TL_COL_UNSUPPORTED,
    TL_COL_NO_ASSESSMENT,
    TL_COL_FUND_RECEIVED,
    TL_COL_FUND_DISBURSED,
    TL_COL_FUND_BALANCE,
    TL_COL_RELOCATED,
    TL_COL_FULLY_SUPPORTED,
    TL_COL_LOANS,
    TL_COL_CREDIT_OUTSTANDING,
    TL_COL_COVERAGE_RATE,
    TL_COL_REPORTS_LATE,
    TL_COL_REPORTS_OVERDUE,
    /* The rest of the plan. */
    TL_COL_BUDGET_ALLOCATED,
    TL_COL_BUDGET_SPENT,
    TL_COL_BUDGET_RATE,
    TL_COL_LINKED,
    TL_COL_POOR_LINKED_SHARE,
    TL_COL_OCOP,
    TL_COL_NO_LABOUR,
    TL_COL_ASSISTED_SHARE,
    TL_COL_DONORS,
    TL_COL_COMMENDATIONS,
    TL_COL_COUNT
};

/* How a value is written. */
enum tl_rep_kind {
    TL_KIND_INT,  /* a count */
    TL_KIND_RATE, /* percent */
    TL_KIND_PP,   /* percentage points */
    TL_KIND_VND,  /* money */
    TL_KIND_NUM,  /* a plain number with two decimals */
    TL_KIND_TARGET
};

struct tl_rep_unit {
    char code[TL_REP_CODE_MAX];
    char name[TL_REP_NAME_MAX];
    size_t parent; /* index in doc->units, SIZE_MAX for the root */
    int depth;     /* 0 the root, 1 its children, 2 grandchildren */
    bool has[TL_COL_COUNT];
    double v[TL_COL_COUNT];
    /* Poor rate over from_year..year (the chart). */
    bool hist_known[TL_REP_YEARS];
    double hist[TL_REP_YEARS];
};

/* A named figure: key is an indicator, purpose, item... translated through
 * the term table when it knows it, else shown as it came. */
struct tl_rep_kv {
    char *key;
    enum tl_rep_kind kind;
    bool known;
    double v;
};

struct tl_rep_kvs {
    struct tl_rep_kv *v;
    size_t n;
};

/* Escapes and relapses of the households that escaped in one year. */
struct tl_rep_cohort {
    int year;
    bool known[7];
    double v[7]; /* escaped, relapsed_1y..3y, rate_1y..3y */
};

struct tl_rep_program {
    char *name;
    bool known[4];
    double v[4]; /* loans, disbursed, repaid, outstanding */
};

struct tl_rep_report {
    char *org, *report, *unit, *state;
    bool has_due, has_submitted;
    int64_t due, submitted;
};

struct tl_rep_alert {
    char *code, *severity, *unit, *message;
    /* The report's unit the alert counts under when it is not unit (unit
     * has since merged, split or been abolished), else NULL. */
    char *now;
    int64_t at, seq;
};

/* A National Target Programme's component: allocated, spent, rate. */
struct tl_rep_component {
    char *program, *component;
    bool known[3];
    double v[3];
};

/* A production link and how many of the unit's households take part. */
struct tl_rep_link {
    char *link, *partner, *partner_kind, *product;
    bool has_stars; /* its product is OCOP-certified */
    int stars;
    double households;
};

/* A donor's row of the public acknowledgement (the anonymous ones are
 * one row, named as the daemon names it). */
struct tl_rep_donor {
    char *donor, *kind;
    double amount, donations, in_kind;
};

struct tl_rep_commendation {
    char *recipient, *kind, *awarded_by, *level, *decision, *unit;
    int64_t at;
};

/* The sections of the rest of the plan, for the root. */
struct tl_rep_plan {
    struct tl_rep_kvs budget, production, ocop, protection, donors,
        commendations;
    struct tl_rep_component *components;
    size_t ncomponents;
    struct tl_rep_link *links;
    size_t nlinks, links_more;
    struct tl_rep_donor *donor_list;
    size_t ndonors, donors_more; /* donors_more: rows not listed */
    struct tl_rep_commendation *commended;
    size_t ncommended, commended_more;
};

struct tl_rep_doc {
    enum tl_rep_lang lang;
    int year, from_year;
    double tmin, tmax;         /* band of the poor-rate reduction, points */
    double md_tmin, md_tmax;   /* band of the multidimensional reduction */
    int64_t generated;         /* unix seconds, shown in UTC+7 */
    struct tl_rep_unit *units; /* units[0] is the root, then depth first */
    size_t nunits;
    /* present[s]: the plugin answered; otherwise the section is left out
     * with a note. */
    bool present[TL_SEC_COUNT];
    struct tl_rep_cohort *cohorts;
    size_t ncohorts;
    struct tl_rep_kvs standard, deprivation, dimensions;
    struct tl_rep_kvs fund, by_purpose, by_level;
    struct tl_rep_kvs relocation, missing, by_reason;
    struct tl_rep_kvs credit;
    struct tl_rep_program *programs;
    size_t nprograms;
    struct tl_rep_report *reports; /* of the root's subtree */
    size_t nreports;
    /* Alerts of the year and the subtree, listed in this order. */
    struct tl_rep_alert *alerts;
    size_t nalerts;
    size_t alerts_max; /* alerts listed one by one; all are counted */
    size_t donors_max; /* donors listed in section 10; all are counted */
    struct tl_rep_plan plan;
};

/* Free what the document owns (units, lists, strings) and zero it. */
void tl_report_doc_free(struct tl_rep_doc *d);

/* Append to a list; key is copied.  Return 0 or POVTRACK_ENOMEM. */
int tl_report_kv_add(struct tl_rep_kvs *l, const char *key,
                     enum tl_rep_kind kind, bool known, double v);

/* The label of a term (an indicator code, a fund purpose, a support item,
 * a report state...) in lang; NULL when the table does not know it. */
const char *tl_report_term(enum tl_rep_lang lang, const char *key);

/* Write d as fmt.  Returns 0, or POVTRACK_EIO (message in err) when the stream
 * refused a write. */
int tl_report_render(FILE *f, const struct tl_rep_doc *d,
                     enum tl_rep_format fmt, struct tl_error *err);

/* The public acknowledgement of donors alone (`povtrack donors`): d's
 * plan.donors and plan.donor_list, for the root unit and the period of
 * the title (e.g. "2024" or "2024-01-01 – 2024-06-30").  CSV is one row
 * per donor: name, kind, amount, donations, in kind. */
int tl_report_render_donors(FILE *f, const struct tl_rep_doc *d,
                            const char *period, enum tl_rep_format fmt,
                            struct tl_error *err);

/* Pieces, exposed for the tests. */

/* s escaped for HTML text and attribute values (& < > " '). */
int tl_report_html_escape(FILE *f, const char *s);

/* One CSV field: quoted when it holds a comma, quote, CR or LF; a text
 * starting with = + - @ or a tab gets a leading apostrophe so that a
 * spreadsheet never runs it as a formula. */
int tl_report_csv_field(FILE *f, const char *s);

/* v formatted for CSV (kind decides the decimals) into buf (>= 40). */
const char *tl_report_csv_num(enum tl_rep_kind kind, double v, char *buf);

/* Unix seconds t as a day in Vietnam (with hm, its time too), as d's
 * language writes dates: 17/10/2024 (08:30), or 2024-10-17 (08:30) in
 * English; into buf of cap bytes, "-" when t is out of range. */
const char *tl_report_date(const struct tl_rep_doc *d, int64_t t, bool hm,
                           char *buf, size_t cap);

/* v formatted for people in lang into buf (>= 48). */
const char *tl_report_num(enum tl_rep_lang lang, enum tl_rep_kind kind,
                          double v, char *buf);

/* The inline SVG line chart of the poor rate of each child unit of the
 * root (one polyline each) over from_year..year. */
int tl_report_chart_svg(FILE *f, const struct tl_rep_doc *d);

#endif /* POVTRACK_TL_REPORT_H */
