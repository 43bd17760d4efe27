/*
 * ev_unit.c - unit histories: the rules of unit.defined and unit.changed,
 * reference checks at an event's date, and where a unit's households go.
 */
#include "ev_unit.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ev_internal.h"
#include <povtrack/plugin_util.h>

/* Vietnam is UTC+7 all year: dates in messages are local dates. */
#define TZ_OFFSET INT64_C(25200)
/* Steps ev_unit_map follows before calling the trail a loop. */
#define MAP_STEPS_MAX 64

/* The level a code of this length has: GSO codes are 2, 3 and 5 digits;
 * EV_COUNTRY, which no province has, is the country's. */
static enum ev_level level_of_code(struct ev_str code)
{
    switch (code.len) {
    case 2:
        return memcmp(code.ptr, EV_COUNTRY, 2) == 0 ? EV_LEVEL_CENTRAL
                                                    : EV_LEVEL_PROVINCE;
    case 3:
        return EV_LEVEL_DISTRICT;
    case 5:
        return EV_LEVEL_COMMUNE;
    default:
        return EV_LEVEL_NONE;
    }
}

static const char *level_or_unknown(enum ev_level v)
{
    const char *s = ev_level_name(v);

    return s != NULL ? s : "unknown";
}

const char *ev_fmt_date(int64_t t, char *buf)
{
    struct tm tm;
    time_t tt;

    if (t == EV_TIME_MIN)
        return strcpy(buf, "the beginning");
    if (t == EV_TIME_MAX)
        return strcpy(buf, "never");
    tt = (time_t)(t + TZ_OFFSET);
    if (gmtime_r(&tt, &tm) == NULL ||
        strftime(buf, EV_DATE_LEN, "%Y-%m-%d", &tm) == 0)
        snprintf(buf, EV_DATE_LEN, "@%" PRId64, t);
    return buf;
}

int ev_history_find(const struct ev_history *h, int64_t t)
{
    for (uint32_t i = 0; i < h->n; i++)
        if (h->span[i].from <= t && t < h->span[i].to)
            return (int)i;
    return -1;
}

int ev_history_latest(const struct ev_history *h, int64_t t)
{
    int found = -1;

    for (uint32_t i = 0; i < h->n; i++)
        if (h->span[i].from <= t)
            found = (int)i;
    return found;
}

void ev_history_as_of(struct ev_history *h, uint64_t seq)
{
    uint32_t kept = 0;

    for (uint32_t i = 0; i < h->n; i++) {
        struct ev_span s = h->span[i];
        if (s.since_seq > seq)
            continue;
        if (s.closed_seq > seq) {
            s.to = EV_TIME_MAX;
            s.ended_by = EV_CHANGE_NONE;
            s.successor = (struct ev_str){NULL, 0};
            s.closed_seq = 0;
        }
        h->span[kept++] = s;
    }
    h->n = kept;
}

/* ---- one event's working set ---- */

struct work {
    const struct ev_event *ev;
    const struct ev_registry *reg;
    struct ev_unit_update *out;
    struct ev_error *err;
};

/* The history of code, loaded once per event into out and changed there;
 * a code the registry does not know gets an empty history (n == 0). */
static int load(struct work *w, struct ev_str code, const char *path,
                struct ev_history **h)
{
    struct ev_unit_update *u = w->out;
    int rc;

    for (uint32_t i = 0; i < u->n; i++) {
        if (ev_str_same(u->hist[i].code, code)) {
            *h = &u->hist[i];
            return POVTRACK_OK;
        }
    }
    if (u->n == EV_UPDATE_MAX)
        return FAIL(w->err, "%s: the change touches more than %d units", path,
                    EV_UPDATE_MAX);
    *h = &u->hist[u->n];
    memset(*h, 0, sizeof **h);
    rc = w->reg->history(w->reg->arg, code, *h);
    if (rc == POVTRACK_ENOTFOUND) {
        memset(*h, 0, sizeof **h);
        rc = POVTRACK_OK;
    } else if (rc != POVTRACK_OK) {
        ev_set_error(w->err, "%s: unit registry lookup failed: %s", path,
                     povtrack_strerror(rc));
        return rc;
    }
    (*h)->code = code;
    u->n++;
    return POVTRACK_OK;
}

static int append_span(struct work *w, struct ev_history *h, const char *path,
                       const struct ev_span *s)
{
    char esc[ESCAPED_MAX];

    if (h->n == EV_SPANS_MAX)
        return FAIL(w->err,
                    "%s: %s has changed %d times already, the most "
                    "one code can",
                    path, ev_quote(esc, sizeof esc, h->code.ptr, h->code.len),
                    EV_SPANS_MAX - 1);
    h->span[h->n++] = *s;
    return POVTRACK_OK;
}

/*
 * A span of code (at level) with this parent from "from" to "to": the
 * parent must be a unit of a higher level in force all that time, through
 * one span or several that follow each other.
 */
static int check_parent(struct work *w, const char *path, enum ev_level level,
                        struct ev_str parent, int64_t from, int64_t to)
{
    char esc[ESCAPED_MAX], d1[EV_DATE_LEN], d2[EV_DATE_LEN];
    struct ev_history *ph;
    int i, rc;

    if (level == EV_LEVEL_CENTRAL)
        return parent.ptr == NULL
                   ? POVTRACK_OK
                   : FAIL(w->err, "%s: the country has no parent", path);
    if (level == EV_LEVEL_PROVINCE && parent.ptr == NULL)
        return POVTRACK_OK;
    if (level == EV_LEVEL_PROVINCE &&
        (parent.len != 2 || memcmp(parent.ptr, EV_COUNTRY, 2) != 0))
        return FAIL(w->err,
                    "%s: a province's parent is none or the country (%s)", path,
                    EV_COUNTRY);
    if (parent.ptr == NULL)
        return FAIL(w->err, "%s: required for a %s", path,
                    level_or_unknown(level));
    ev_quote(esc, sizeof esc, parent.ptr, parent.len);
    if ((rc = load(w, parent, path, &ph)) != POVTRACK_OK)
        return rc;
    if (ph->n == 0)
        return FAIL(w->err, "%s: %s is not defined", path, esc);
    /* Higher, not necessarily adjacent: since July 2025 communes sit
     * directly under provinces; but only provinces under the country. */
    if (ph->span[0].level < EV_LEVEL_CENTRAL || ph->span[0].level >= level ||
        (ph->span[0].level == EV_LEVEL_CENTRAL && level != EV_LEVEL_PROVINCE))
        return FAIL(w->err, "%s: %s is a %s, not above a %s", path, esc,
                    level_or_unknown(ph->span[0].level),
                    level_or_unknown(level));
    i = ev_history_find(ph, from);
    if (i < 0)
        return FAIL(w->err, "%s: %s is not in force %s%s", path, esc,
                    from == EV_TIME_MIN ? "from the beginning" : "on ",
                    from == EV_TIME_MIN ? "" : ev_fmt_date(from, d1));
    for (;;) {
        int64_t end = ph->span[i].to;
        if (end >= to)
            return POVTRACK_OK;
        if ((uint32_t)i + 1 >= ph->n || ph->span[i + 1].from != end)
            return FAIL(w->err, "%s: %s ends on %s, before this unit does (%s)",
                        path, esc, ev_fmt_date(end, d1), ev_fmt_date(to, d2));
        i++;
    }
}

/* ---- unit.defined ---- */

static int defined_update(struct work *w)
{
    const struct ev_event *ev = w->ev;
    const struct ev_data *d = &ev->data;
    char esc[ESCAPED_MAX], pesc[ESCAPED_MAX], dt[EV_DATE_LEN];
    int64_t from = d->has_effective ? d->effective : EV_TIME_MIN;
    enum ev_level want = level_of_code(ev->unit);
    struct ev_history *h;
    int rc;

    if (d->level < EV_LEVEL_CENTRAL || d->level > EV_LEVEL_COMMUNE)
        return FAIL(w->err, "data.level: %s is not a unit level",
                    level_or_unknown(d->level));
    if (want == EV_LEVEL_CENTRAL && d->level != want)
        return FAIL(w->err, "unit: %s is the country's code, of level central",
                    EV_COUNTRY);
    if (want != d->level && d->level == EV_LEVEL_CENTRAL)
        return FAIL(w->err, "unit: the country's code is %s", EV_COUNTRY);
    if (want != d->level) {
        static const unsigned digits[] = {[EV_LEVEL_CENTRAL] = 2,
                                          [EV_LEVEL_PROVINCE] = 2,
                                          [EV_LEVEL_DISTRICT] = 3,
                                          [EV_LEVEL_COMMUNE] = 5};
        return FAIL(w->err, "unit: a %s code has %u digits, not %" PRIu32,
                    ev_level_name(d->level), digits[d->level], ev->unit.len);
    }
    if ((rc = load(w, ev->unit, "unit", &h)) != POVTRACK_OK)
        return rc;
    ev_quote(esc, sizeof esc, ev->unit.ptr, ev->unit.len);
    if (h->n == 0) {
        struct ev_span s = {.from = from,
                            .to = EV_TIME_MAX,
                            .name = d->name,
                            .parent = d->parent,
                            .level = d->level};
        if ((rc = append_span(w, h, "unit", &s)) != POVTRACK_OK)
            return rc;
        return check_parent(w, "data.parent", d->level, d->parent, from,
                            EV_TIME_MAX);
    }
    for (uint32_t i = 0; i < h->n; i++) {
        struct ev_span *s = &h->span[i];
        if (s->from != from)
            continue;
        /* Sent again for the same date: a new name, never a move. */
        if (ev_str_same(s->parent, d->parent)) {
            s->name = d->name;
            return POVTRACK_OK;
        }
        if (s->parent.ptr != NULL)
            ev_quote(pesc, sizeof pesc, s->parent.ptr, s->parent.len);
        return FAIL(w->err,
                    "unit: %s is already defined from %s with parent %s; to "
                    "move it, give a later data.effective or send a "
                    "unit.changed reparent",
                    esc, ev_fmt_date(from, dt),
                    s->parent.ptr != NULL ? pesc : "nil");
    }
    if (!d->has_effective)
        return FAIL(w->err,
                    "data.effective: required, as %s is defined only from %s",
                    esc, ev_fmt_date(h->span[0].from, dt));
    struct ev_span *last = &h->span[h->n - 1];
    if (last->to != EV_TIME_MAX)
        return FAIL(w->err,
                    "data.effective: %s ended on %s; a code that ended is "
                    "not used again",
                    esc, ev_fmt_date(last->to, dt));
    if (from < last->from)
        return FAIL(w->err,
                    "data.effective: %s already has a definition from %s; "
                    "record changes in date order",
                    esc, ev_fmt_date(last->from, dt));
    /* The code goes on from "from" with the new name and parent. */
    struct ev_span s = {.from = from,
                        .to = EV_TIME_MAX,
                        .name = d->name,
                        .parent = d->parent,
                        .level = d->level};
    last->to = from;
    if ((rc = append_span(w, h, "unit", &s)) != POVTRACK_OK)
        return rc;
    return check_parent(w, "data.parent", d->level, d->parent, from,
                        EV_TIME_MAX);
}

/* ---- unit.changed ---- */

/* The successors of the change as one list (none for abolish). */
static uint32_t successors_of(const struct ev_data *d, struct ev_str *out)
{
    switch (d->change) {
    case EV_CHANGE_MERGE:
        out[0] = d->successor;
        return 1;
    case EV_CHANGE_SPLIT:
        for (uint32_t i = 0; i < d->successors.n; i++)
            out[i] = ev_codes_at(d->successors, i);
        return d->successors.n;
    case EV_CHANGE_RENAME:
    case EV_CHANGE_REPARENT:
        out[0] = ev_codes_at(d->predecessors, 0);
        return 1;
    default:
        return 0;
    }
}

static bool in_list(const struct ev_str *list, uint32_t n, struct ev_str code)
{
    for (uint32_t i = 0; i < n; i++)
        if (ev_str_same(list[i], code))
            return true;
    return false;
}

/* A predecessor: in force the day before the change, and either open or
 * already going on at E under the same code (a successor defined first). */
static int check_predecessor(struct work *w, struct ev_str code,
                             const char *path, bool goes_on)
{
    int64_t e = w->ev->data.effective;
    char esc[ESCAPED_MAX], dt[EV_DATE_LEN];
    struct ev_history *h;
    int i, rc;

    if ((rc = load(w, code, path, &h)) != POVTRACK_OK)
        return rc;
    ev_quote(esc, sizeof esc, code.ptr, code.len);
    if (h->n == 0)
        return FAIL(w->err, "%s: %s is not defined", path, esc);
    i = ev_history_find(h, e - 1);
    if (i < 0)
        return FAIL(w->err,
                    "%s: %s is not in force on %s, the day before "
                    "the change",
                    path, esc, ev_fmt_date(e - 1, dt));
    const struct ev_span *s = &h->span[i];
    if (s->to == EV_TIME_MAX)
        return POVTRACK_OK;
    if (goes_on && s->to == e && (uint32_t)i + 1 < h->n &&
        h->span[i + 1].from == e)
        return POVTRACK_OK;
    return FAIL(w->err,
                "%s: %s already changed on %s; record changes in date order",
                path, esc, ev_fmt_date(s->to, dt));
}

/*
 * A successor: in force from E, with the event's name and parent when they
 * change.  A merge creates a successor that is not defined yet.
 */
static int apply_successor(struct work *w, struct ev_str code, const char *path)
{
    const struct ev_data *d = &w->ev->data;
    int64_t e = d->effective;
    char esc[ESCAPED_MAX], dt[EV_DATE_LEN];
    struct ev_history *h;
    int i, rc;

    if ((rc = load(w, code, path, &h)) != POVTRACK_OK)
        return rc;
    ev_quote(esc, sizeof esc, code.ptr, code.len);
    i = ev_history_find(h, e);
    if (i < 0) {
        if (h->n > 0 && h->span[h->n - 1].to <= e)
            return FAIL(w->err,
                        "%s: %s ended on %s; a code that ended is not used "
                        "again",
                        path, esc, ev_fmt_date(h->span[h->n - 1].to, dt));
        if (h->n > 0)
            return FAIL(w->err, "%s: %s is defined only from %s", path, esc,
                        ev_fmt_date(h->span[0].from, dt));
        if (d->change != EV_CHANGE_MERGE)
            return FAIL(w->err,
                        "%s: %s is not defined on %s; define it first with "
                        "unit.defined and data.effective",
                        path, esc, ev_fmt_date(e, dt));
        if (d->name.ptr == NULL)
            return FAIL(w->err,
                        "data.name: required to create the successor %s "
                        "(not defined on %s)",
                        esc, ev_fmt_date(e, dt));
        struct ev_span s = {.from = e,
                            .to = EV_TIME_MAX,
                            .name = d->name,
                            .parent = d->parent,
                            .level = level_of_code(code)};
        if ((rc = append_span(w, h, path, &s)) != POVTRACK_OK)
            return rc;
        return check_parent(w, "data.parent", s.level, s.parent, e,
                            EV_TIME_MAX);
    }
    struct ev_span *s = &h->span[i];
    struct ev_str name = d->name.ptr != NULL ? d->name : s->name;
    struct ev_str parent = d->parent.ptr != NULL ? d->parent : s->parent;
    if (ev_str_same(name, s->name) && ev_str_same(parent, s->parent))
        return POVTRACK_OK; /* goes on as it is */
    if (s->from == e) {
        /* A span begun at E by an earlier record may be renamed, not moved:
         * readers of the registry as of that record must keep seeing where
         * it was (a span's parent is not versioned, only its ends). */
        if (!ev_str_same(parent, s->parent))
            return FAIL(w->err,
                        "data.parent: %s is defined from %s under another "
                        "parent; a unit begun on a date keeps its parent "
                        "that day (define it with the parent you want)",
                        esc, ev_fmt_date(e, dt));
        s->name = name;
        return POVTRACK_OK;
    }
    if (s->to != EV_TIME_MAX)
        return FAIL(w->err,
                    "%s: %s already changed on %s; record changes in date "
                    "order",
                    path, esc, ev_fmt_date(s->to, dt));
    struct ev_span next = *s;
    next.from = e;
    next.name = name;
    next.parent = parent;
    s->to = e;
    if ((rc = append_span(w, h, path, &next)) != POVTRACK_OK)
        return rc;
    return check_parent(w, "data.parent", next.level, parent, e, EV_TIME_MAX);
}

/* Is some span in the event's working set still under parent after e? */
static bool child_in_work(const struct work *w, struct ev_str parent, int64_t e,
                          struct ev_str *child)
{
    for (uint32_t i = 0; i < w->out->n; i++) {
        const struct ev_history *h = &w->out->hist[i];
        for (uint32_t j = 0; j < h->n; j++) {
            if (h->span[j].to > e && ev_str_same(h->span[j].parent, parent)) {
                *child = h->code;
                return true;
            }
        }
    }
    return false;
}

/* A predecessor that is not a successor ends at E, with nothing left
 * under it. */
static int end_predecessor(struct work *w, struct ev_str code, const char *path,
                           struct ev_str successor)
{
    const struct ev_data *d = &w->ev->data;
    int64_t e = d->effective;
    char esc[ESCAPED_MAX], cesc[ESCAPED_MAX], dt[EV_DATE_LEN];
    struct ev_history *h;
    struct ev_str child;
    int rc;

    if ((rc = load(w, code, path, &h)) != POVTRACK_OK)
        return rc;
    ev_quote(esc, sizeof esc, code.ptr, code.len);
    struct ev_span *s = &h->span[ev_history_find(h, e - 1)];
    s->to = e;
    s->ended_by = d->change;
    s->successor = successor;

    /* Communes are the lowest level: nothing can sit under one, and the
     * scan below reads every unit. */
    bool found = child_in_work(w, code, e, &child);
    if (!found && level_of_code(code) != EV_LEVEL_COMMUNE) {
        rc = w->reg->child_after(w->reg->arg, code, e, &child);
        if (rc != POVTRACK_OK && rc != POVTRACK_ENOTFOUND) {
            ev_set_error(w->err, "%s: unit registry scan failed: %s", path,
                         povtrack_strerror(rc));
            return rc;
        }
        /* The registry names one child as it was before this event; even
         * one this event moves is refused, as another may hide behind it:
         * move units under a unit in an earlier event than its end. */
        found = rc == POVTRACK_OK;
    }
    if (found)
        return FAIL(w->err,
                    "%s: %s still has %s under it on %s; move or end that "
                    "unit first",
                    path, esc,
                    ev_quote(cesc, sizeof cesc, child.ptr, child.len),
                    ev_fmt_date(e, dt));
    return POVTRACK_OK;
}

static int changed_update(struct work *w)
{
    const struct ev_data *d = &w->ev->data;
    struct ev_str succ[EV_CODES_MAX];
    uint32_t nsucc = successors_of(d, succ);
    char path[48];
    int rc;

    for (uint32_t i = 0; i < d->predecessors.n; i++) {
        struct ev_str p = ev_codes_at(d->predecessors, i);
        snprintf(path, sizeof path, "data.predecessors[%" PRIu32 "]", i);
        if ((rc = check_predecessor(w, p, path, in_list(succ, nsucc, p))) !=
            POVTRACK_OK)
            return rc;
    }
    for (uint32_t i = 0; i < nsucc; i++) {
        if (d->change == EV_CHANGE_SPLIT)
            snprintf(path, sizeof path, "data.successors[%" PRIu32 "]", i);
        else if (d->change == EV_CHANGE_MERGE)
            snprintf(path, sizeof path, "data.successor");
        else
            snprintf(path, sizeof path, "unit");
        if ((rc = apply_successor(w, succ[i], path)) != POVTRACK_OK)
            return rc;
    }
    for (uint32_t i = 0; i < d->predecessors.n; i++) {
        struct ev_str p = ev_codes_at(d->predecessors, i);
        if (in_list(succ, nsucc, p))
            continue;
        snprintf(path, sizeof path, "data.predecessors[%" PRIu32 "]", i);
        rc = end_predecessor(w, p, path,
                             nsucc > 0 ? succ[0] : (struct ev_str){NULL, 0});
        if (rc != POVTRACK_OK)
            return rc;
    }
    return POVTRACK_OK;
}

static bool history_same(const struct ev_history *a, const struct ev_history *b)
{
    if (a->n != b->n)
        return false;
    for (uint32_t i = 0; i < a->n; i++) {
        const struct ev_span *x = &a->span[i], *y = &b->span[i];
        if (x->from != y->from || x->to != y->to || x->level != y->level ||
            x->ended_by != y->ended_by || x->since_seq != y->since_seq ||
            x->closed_seq != y->closed_seq || !ev_str_same(x->name, y->name) ||
            !ev_str_same(x->parent, y->parent) ||
            !ev_str_same(x->successor, y->successor))
            return false;
    }
    return true;
}

int ev_unit_update(const struct ev_event *ev, const struct ev_registry *reg,
                   struct ev_unit_update *out, struct ev_error *err)
{
    struct work w = {ev, reg, out, err};
    int rc;

    if (ev == NULL || reg == NULL || out == NULL)
        return FAIL(err, "event: no event, registry or output");
    out->n = 0;
    if (ev->type == EV_UNIT_DEFINED)
        rc = defined_update(&w);
    else if (ev->type == EV_UNIT_CHANGED)
        rc = changed_update(&w);
    else
        return FAIL(err, "type: %s does not change units",
                    ev_type_name(ev->type) ? ev_type_name(ev->type) : "?");
    if (rc != POVTRACK_OK)
        return rc;
    /* Codes only looked at (a parent, a successor that goes on as it is)
     * have nothing new to store. */
    uint32_t kept = 0;
    for (uint32_t i = 0; i < out->n; i++) {
        struct ev_history was;
        memset(&was, 0, sizeof was);
        rc = reg->history(reg->arg, out->hist[i].code, &was);
        if (rc != POVTRACK_OK && rc != POVTRACK_ENOTFOUND) {
            ev_set_error(err, "unit: unit registry lookup failed: %s",
                         povtrack_strerror(rc));
            return rc;
        }
        if (out->hist[i].n > 0 && !history_same(&out->hist[i], &was))
            out->hist[kept++] = out->hist[i];
    }
    out->n = kept;
    return POVTRACK_OK;
}

/* ---- reference checks ---- */

/* code must be in force at t; the message says what became of it. */
static int need_in_force(const struct ev_registry *reg, struct ev_str code,
                         int64_t t, const char *path, struct ev_error *err)
{
    char esc[ESCAPED_MAX], sesc[ESCAPED_MAX], d1[EV_DATE_LEN], d2[EV_DATE_LEN];
    struct ev_history h;
    int i, rc;

    memset(&h, 0, sizeof h);
    rc = reg->history(reg->arg, code, &h);
    ev_quote(esc, sizeof esc, code.ptr, code.len);
    if (rc == POVTRACK_ENOTFOUND)
        return FAIL(err, "%s: %s is not defined", path, esc);
    if (rc != POVTRACK_OK) {
        ev_set_error(err, "%s: unit registry lookup failed: %s", path,
                     povtrack_strerror(rc));
        return rc;
    }
    if (ev_history_find(&h, t) >= 0)
        return POVTRACK_OK;
    i = ev_history_latest(&h, t);
    ev_fmt_date(t, d1);
    if (i < 0)
        return FAIL(err, "%s: %s is not in force on %s (only from %s)", path,
                    esc, d1, ev_fmt_date(h.span[0].from, d2));
    const struct ev_span *s = &h.span[i];
    char when[EV_DATE_LEN + 3], msg[EV_ERROR_MAX];
    snprintf(when, sizeof when, "on %s", d1);
    /* The plugins' queries say it in the same words (plugin_util.h). */
    pu_fmt_ended(
        msg, sizeof msg, path, esc, when, s->ended_by,
        s->successor.ptr != NULL
            ? ev_quote(sesc, sizeof sesc, s->successor.ptr, s->successor.len)
            : NULL,
        ev_fmt_date(s->to, d2));
    return FAIL(err, "%s", msg);
}

int ev_check_refs(const struct ev_event *ev, const struct ev_registry *reg,
                  struct ev_error *err)
{
    int rc;

    if (ev == NULL || reg == NULL)
        return FAIL(err, "event: no event or no unit registry");
    if (ev->type == EV_UNIT_DEFINED || ev->type == EV_UNIT_CHANGED) {
        struct ev_unit_update *u = malloc(sizeof *u);
        if (u == NULL) {
            ev_set_error(err, "event: out of memory checking units");
            return POVTRACK_ENOMEM;
        }
        rc = ev_unit_update(ev, reg, u, err);
        free(u);
        return rc;
    }
    /* A void names the record's own unit (the log checks that), which may
     * have ended since: nothing of the registry to check. */
    if (ev->type == EV_RECORD_VOIDED)
        return POVTRACK_OK;
    /* A correction is checked as the record it corrects. */
    enum ev_type t =
        ev->type == EV_RECORD_CORRECTED ? ev->data.target_type : ev->type;
    rc = need_in_force(reg, ev->unit, ev->at, "unit", err);
    if (rc == POVTRACK_OK &&
        (t == EV_RELOCATION_COMPLETED || t == EV_HOUSEHOLD_MOVED))
        rc = need_in_force(reg, ev->data.from, ev->at,
                           t == ev->type ? "data.from" : "data.record.from",
                           err);
    return rc;
}

/* ---- where households go ---- */

int ev_unit_map(const struct ev_registry *reg, struct ev_str code, int64_t t0,
                int64_t t1, struct ev_str *out)
{
    struct ev_history h;
    int64_t t = t0;
    int rc;

    if (t1 < t0)
        return POVTRACK_EINVAL; /* the caller's mistake, not the data's */
    for (int step = 0; step < MAP_STEPS_MAX; step++) {
        memset(&h, 0, sizeof h);
        if ((rc = reg->history(reg->arg, code, &h)) != POVTRACK_OK)
            return rc;
        int i = ev_history_find(&h, t);
        if (i < 0 && step == 0)
            i = ev_history_latest(&h, t);
        if (i < 0)
            return POVTRACK_ENOTFOUND;
        const struct ev_span *s = &h.span[i];
        if (t1 < s->to) {
            *out = code;
            return POVTRACK_OK;
        }
        if ((uint32_t)i + 1 < h.n && h.span[i + 1].from == s->to) {
            t = s->to; /* the code goes on */
        } else if (s->successor.ptr != NULL) {
            code = s->successor;
            t = s->to;
        } else if (s->parent.ptr != NULL) {
            /* Abolished: its ground is its parent's, as of its last day. */
            code = s->parent;
            t = s->to - 1;
        } else {
            return POVTRACK_ENOTFOUND;
        }
    }
    return POVTRACK_ENOTFOUND;
}
