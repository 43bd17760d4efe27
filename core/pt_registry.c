/*
 * pt_registry.c - reading the publisher registry and answering rights
 * questions.
 */
#include "pt_registry.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>
#include <zmq.h>

/* Parser state across inih callbacks.  The first error wins: the callback
 * then returns 0 and inih reports that line. */
struct load_state {
    struct pt_registry *reg;
    size_t cap;
    struct pt_publisher *cur; /* publisher of the section being read */
    char msg[256];
};

static int failf(struct load_state *ls, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int failf(struct load_state *ls, const char *fmt, ...)
{
    va_list ap;
    if (ls->msg[0] == '\0') {
        va_start(ap, fmt);
        vsnprintf(ls->msg, sizeof ls->msg, fmt, ap);
        va_end(ap);
    }
    return 0;
}

static bool valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > PT_PUBLISHER_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

static bool valid_unit_code(const char *s, size_t n)
{
    if (n != 2 && n != 3 && n != 5)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* Split value into space-separated words; call fn for each.  Returns what
 * the first failing fn returns, or 1. */
static int each_word(struct load_state *ls, const char *value,
                     int (*fn)(struct load_state *, const char *, size_t))
{
    const char *p = value;
    int seen = 0;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (*p == '\0')
            break;
        const char *w = p;
        while (*p != '\0' && *p != ' ' && *p != '\t' && *p != ',')
            p++;
        seen = 1;
        if (fn(ls, w, (size_t)(p - w)) == 0)
            return 0;
    }
    if (!seen)
        return failf(ls, "empty list (leave the key out to grant nothing)");
    return 1;
}

static int add_type(struct load_state *ls, const char *w, size_t n)
{
    struct pt_publisher *p = ls->cur;
    if (n == 1 && w[0] == '*') {
        for (int t = EV_TYPE_NONE + 1; t < EV_TYPE_COUNT; t++)
            p->types |= EV_TYPE_BIT(t);
        return 1;
    }
    /* "donation.*" matches every type that starts with "donation." */
    size_t prefix = n >= 2 && w[n - 1] == '*' && w[n - 2] == '.' ? n - 1 : 0;
    uint64_t matched = 0;
    for (int t = EV_TYPE_NONE + 1; t < EV_TYPE_COUNT; t++) {
        const char *name = ev_type_name((enum ev_type)t);
        size_t len = strlen(name);
        if (prefix > 0 ? len > prefix && memcmp(name, w, prefix) == 0
                       : len == n && memcmp(name, w, n) == 0)
            matched |= EV_TYPE_BIT(t);
    }
    if (matched == 0)
        return failf(ls, "publish: \"%.*s\" matches no event type", (int)n, w);
    p->types |= matched;
    return 1;
}

static int add_unit(struct load_state *ls, const char *w, size_t n)
{
    struct pt_publisher *p = ls->cur;
    if (n == 1 && w[0] == '*') {
        p->all_units = true;
        return 1;
    }
    if (!valid_unit_code(w, n))
        return failf(ls,
                     "units: \"%.*s\" is not a unit code (2, 3 or 5 "
                     "digits) or \"*\"",
                     (int)n, w);
    if (p->nunits == PT_RIGHTS_UNITS_MAX)
        return failf(ls, "units: more than %d codes", PT_RIGHTS_UNITS_MAX);
    memcpy(p->units[p->nunits], w, n);
    p->units[p->nunits][n] = '\0';
    p->nunits++;
    return 1;
}

static int add_plugin(struct load_state *ls, const char *w, size_t n)
{
    struct pt_publisher *p = ls->cur;
    if (n == 1 && w[0] == '*') {
        p->query_all = true;
        p->query_log = true;
        return 1;
    }
    if (n == 3 && memcmp(w, "log", 3) == 0) {
        p->query_log = true;
        return 1;
    }
    char name[PT_PUBLISHER_NAME_MAX + 1];
    if (n > PT_PUBLISHER_NAME_MAX)
        return failf(ls, "query: plugin name longer than %d bytes",
                     PT_PUBLISHER_NAME_MAX);
    memcpy(name, w, n);
    name[n] = '\0';
    if (!valid_name(name))
        return failf(ls, "query: \"%s\" is not a plugin name", name);
    if (p->nplugins == PT_RIGHTS_PLUGINS_MAX)
        return failf(ls, "query: more than %d plugins", PT_RIGHTS_PLUGINS_MAX);
    memcpy(p->plugins[p->nplugins++], name, n + 1);
    return 1;
}

static int copy_text(struct load_state *ls, char *dst, const char *key,
                     const char *value)
{
    if (strlen(value) >= PT_RIGHTS_TEXT_MAX)
        return failf(ls, "%s: longer than %d bytes", key,
                     PT_RIGHTS_TEXT_MAX - 1);
    strcpy(dst, value);
    return 1;
}

static int set_key(struct load_state *ls, const char *value)
{
    struct pt_publisher *p = ls->cur;
    if (strlen(value) != PT_CURVE_KEY_Z85 - 1 ||
        zmq_z85_decode(p->key, value) == NULL)
        return failf(ls, "key: must be a CURVE public key, 40 characters of "
                         "Z85 (see povtrack keygen)");
    for (size_t i = 0; i < ls->reg->count; i++) {
        const struct pt_publisher *o = &ls->reg->pubs[i];
        if (o != p && o->has_key && memcmp(o->key, p->key, sizeof p->key) == 0)
            return failf(ls, "key: already the key of [%s]", o->name);
    }
    p->has_key = true;
    return 1;
}

static struct pt_publisher *find_or_add(struct load_state *ls,
                                        const char *section)
{
    struct pt_registry *r = ls->reg;
    if (ls->cur != NULL && strcmp(ls->cur->name, section) == 0)
        return ls->cur;
    if (pt_registry_find_name(r, section, strlen(section)) != NULL) {
        failf(ls, "[%s] appears twice", section);
        return NULL;
    }
    if (!valid_name(section)) {
        failf(ls,
              "[%s]: a publisher's name is 1 to %d letters, digits, '.', "
              "'_' or '-'",
              section, PT_PUBLISHER_NAME_MAX);
        return NULL;
    }
    if (r->count == PT_PUBLISHERS_MAX) {
        failf(ls, "more than %d publishers", PT_PUBLISHERS_MAX);
        return NULL;
    }
    if (r->count == ls->cap) {
        size_t cap = ls->cap ? ls->cap * 2 : 16;
        struct pt_publisher *np = realloc(r->pubs, cap * sizeof *np);
        if (np == NULL) {
            failf(ls, "out of memory");
            return NULL;
        }
        r->pubs = np;
        ls->cap = cap;
    }
    struct pt_publisher *p = &r->pubs[r->count++];
    memset(p, 0, sizeof *p);
    strcpy(p->name, section);
    return p;
}

static int on_entry(void *user, const char *section, const char *key,
                    const char *value)
{
    struct load_state *ls = user;
    if (ls->msg[0] != '\0')
        return 0;
    if (section[0] == '\0')
        return failf(ls, "\"%s\" outside a [publisher] section", key);
    if ((ls->cur = find_or_add(ls, section)) == NULL)
        return 0;
    if (strcmp(key, "key") == 0)
        return set_key(ls, value);
    if (strcmp(key, "publish") == 0)
        return copy_text(ls, ls->cur->publish_text, key, value) &&
               each_word(ls, value, add_type);
    if (strcmp(key, "units") == 0)
        return copy_text(ls, ls->cur->units_text, key, value) &&
               each_word(ls, value, add_unit);
    if (strcmp(key, "query") == 0)
        return each_word(ls, value, add_plugin);
    if (strcmp(key, "alerts") == 0 || strcmp(key, "admin") == 0) {
        bool *dst = key[1] == 'l' ? &ls->cur->alerts : &ls->cur->admin;
        if (strcmp(value, "yes") == 0 || strcmp(value, "true") == 0)
            *dst = true;
        else if (strcmp(value, "no") == 0 || strcmp(value, "false") == 0)
            *dst = false;
        else
            return failf(ls, "%s: must be yes or no", key);
        return 1;
    }
    return failf(ls,
                 "unknown key \"%s\" (known: key, publish, units, query, "
                 "alerts, admin)",
                 key);
}

int pt_registry_load(const char *path, struct pt_registry **out, char *err,
                     size_t errlen)
{
    struct load_state ls;
    memset(&ls, 0, sizeof ls);
    ls.reg = calloc(1, sizeof *ls.reg);
    if (ls.reg == NULL) {
        snprintf(err, errlen, "%s: out of memory", path);
        return POVTRACK_ENOMEM;
    }
    int line = ini_parse(path, on_entry, &ls);
    /* inih: -1 cannot open (errno from fopen), -2 out of memory, else the
     * first line in error. */
    int rc = line == -1   ? -errno
             : line == -2 ? POVTRACK_ENOMEM
             : line != 0  ? POVTRACK_ECONFIG
                          : 0;
    if (line == -1)
        snprintf(err, errlen, "%s: cannot open: %s", path,
                 povtrack_strerror(rc));
    else if (line == -2)
        snprintf(err, errlen, "%s: out of memory", path);
    else if (line > 0 && ls.msg[0] == '\0')
        snprintf(err, errlen, "%s:%d: not a \"key = value\" or [section] line",
                 path, line);
    else if (line > 0)
        snprintf(err, errlen, "%s:%d: %s%s%s%s", path, line, ls.cur ? "[" : "",
                 ls.cur ? ls.cur->name : "", ls.cur ? "] " : "", ls.msg);
    if (rc != 0) {
        pt_registry_free(ls.reg);
        return rc;
    }
    for (size_t i = 0; i < ls.reg->count; i++) {
        const struct pt_publisher *p = &ls.reg->pubs[i];
        if (!p->has_key) {
            snprintf(err, errlen, "%s: [%s] has no key", path, p->name);
            pt_registry_free(ls.reg);
            return POVTRACK_ECONFIG;
        }
        if (p->types != 0 && !p->all_units && p->nunits == 0) {
            snprintf(err, errlen,
                     "%s: [%s] may publish but has no units (add units = "
                     "CODE... or units = *)",
                     path, p->name);
            pt_registry_free(ls.reg);
            return POVTRACK_ECONFIG;
        }
    }
    *out = ls.reg;
    return 0;
}

void pt_registry_free(struct pt_registry *r)
{
    if (r == NULL)
        return;
    free(r->pubs);
    free(r);
}

const struct pt_publisher *pt_registry_find_key(const struct pt_registry *r,
                                                const uint8_t *key)
{
    for (size_t i = 0; i < r->count; i++)
        if (r->pubs[i].has_key &&
            memcmp(r->pubs[i].key, key, PT_CURVE_KEY_BYTES) == 0)
            return &r->pubs[i];
    return NULL;
}

const struct pt_publisher *pt_registry_find_name(const struct pt_registry *r,
                                                 const char *name, size_t len)
{
    for (size_t i = 0; i < r->count; i++)
        if (strlen(r->pubs[i].name) == len &&
            memcmp(r->pubs[i].name, name, len) == 0)
            return &r->pubs[i];
    return NULL;
}

void pt_publisher_everyone(struct pt_publisher *p, const char *name)
{
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    for (int t = EV_TYPE_NONE + 1; t < EV_TYPE_COUNT; t++)
        p->types |= EV_TYPE_BIT(t);
    p->all_units = true;
    p->query_all = true;
    p->query_log = true;
    p->alerts = true;
    p->admin = true;
    strcpy(p->publish_text, "*");
    strcpy(p->units_text, "*");
}

int pt_publisher_check_type(const struct pt_publisher *p, enum ev_type t,
                            char *err, size_t errlen)
{
    if (p->types & EV_TYPE_BIT(t))
        return 0;
    const char *name = ev_type_name(t);
    snprintf(err, errlen,
             "type: publisher \"%s\" may not publish %s (its rights: "
             "publish = %s)",
             p->name, name ? name : "this type",
             p->publish_text[0] ? p->publish_text : "nothing");
    return POVTRACK_EINVALID;
}

static bool unit_granted(const struct pt_publisher *p, struct ev_str code)
{
    for (size_t i = 0; i < p->nunits; i++)
        if (ev_str_eq(code, p->units[i]))
            return true;
    return false;
}

static bool same_code(struct ev_str a, struct ev_str b)
{
    if (a.ptr == NULL || b.ptr == NULL)
        return a.ptr == b.ptr;
    return a.len == b.len && memcmp(a.ptr, b.ptr, a.len) == 0;
}

/* Where a code stood at t: the span in force then, else the last one that
 * started before t, else its first (h->n > 0). */
static int span_index(const struct ev_history *h, int64_t t)
{
    int i = ev_history_find(h, t);
    if (i < 0)
        i = ev_history_latest(h, t);
    return i < 0 ? 0 : i;
}

/* The span of code at t (span_index); *found is false when the registry
 * has no such code. */
static int span_at(const struct ev_registry *reg, struct ev_str code, int64_t t,
                   struct ev_span *out, bool *found)
{
    struct ev_history h;
    *found = false;
    int rc = reg->history(reg->arg, code, &h);
    if (rc == POVTRACK_ENOTFOUND)
        return POVTRACK_OK;
    if (rc != POVTRACK_OK || h.n == 0)
        return rc;
    *out = h.span[span_index(&h, t)];
    *found = true;
    return POVTRACK_OK;
}

/* Is code, or a unit above it as the hierarchy stood at t, granted?  A
 * code the registry does not know is granted only when listed itself. */
static int granted_at(const struct pt_publisher *p,
                      const struct ev_registry *reg, struct ev_str code,
                      int64_t t, bool *ok)
{
    *ok = false;
    /* Province, district, commune: no chain is longer than three. */
    for (int depth = 0; depth < 4 && code.ptr != NULL; depth++) {
        if (unit_granted(p, code)) {
            *ok = true;
            return POVTRACK_OK;
        }
        struct ev_span s;
        bool found;
        int rc = span_at(reg, code, t, &s, &found);
        if (rc != POVTRACK_OK || !found)
            return rc;
        code = s.parent;
    }
    return POVTRACK_OK;
}

/* The rights check of one unit event: who asks, on which registry, and
 * where the refusal goes. */
struct unit_check {
    const struct pt_publisher *p;
    const struct ev_registry *reg;
    char *err;
    size_t errlen;
};

static int need(const struct unit_check *c, struct ev_str code, int64_t t,
                const char *role_fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The right over code on the hierarchy at t.  POVTRACK_OK, the registry's
 * error, or POVTRACK_EINVALID with a refusal that names code and, when role_fmt
 * is not NULL, what code is to the event ("the current parent of 23232"). */
static int need(const struct unit_check *c, struct ev_str code, int64_t t,
                const char *role_fmt, ...)
{
    bool ok;
    int rc = granted_at(c->p, c->reg, code, t, &ok);
    if (rc != POVTRACK_OK || ok)
        return rc;
    char role[96] = "";
    if (role_fmt != NULL) {
        va_list ap;
        va_start(ap, role_fmt);
        vsnprintf(role, sizeof role - 2, role_fmt, ap);
        va_end(ap);
        strcat(role, "; ");
    }
    snprintf(c->err, c->errlen,
             "unit: publisher \"%s\" may not change unit %.*s (%sits "
             "rights: units = %s)",
             c->p->name, (int)code.len, code.ptr, role,
             c->p->units_text[0] ? c->p->units_text : "none");
    return POVTRACK_EINVALID;
}

/* An existing unit the event changes, as it stood at t (span s): the right
 * over its parent, which also covers the unit; a province needs the right
 * over itself. */
static int need_place(const struct unit_check *c, struct ev_str code,
                      const struct ev_span *s, int64_t t, const char *role)
{
    if (s->parent.ptr != NULL)
        return need(c, s->parent, t, "the current parent of %.*s",
                    (int)code.len, code.ptr);
    return role != NULL ? need(c, code, t, "%s", role) : need(c, code, t, NULL);
}

/*
 * unit.defined.  A new code is placed by the parent it declares, or is
 * listed itself.  An existing code is redefined as of "from": the span
 * the event changes (the one starting at "from", else the one in force the
 * day before) needs its current parent, and a parent it moves to, as of
 * "from", that one as well.
 */
static int check_defined(const struct unit_check *c, const struct ev_event *ev)
{
    const struct ev_data *d = &ev->data;
    int64_t from = d->has_effective ? d->effective : EV_TIME_MIN;
    struct ev_history h;
    int rc = c->reg->history(c->reg->arg, ev->unit, &h);
    if (rc == POVTRACK_ENOTFOUND || (rc == POVTRACK_OK && h.n == 0)) {
        if (unit_granted(c->p, ev->unit))
            return POVTRACK_OK;
        if (d->parent.ptr == NULL)
            return need(c, ev->unit, from, "a new province");
        return need(c, d->parent, from, "the parent of the new unit %.*s",
                    (int)ev->unit.len, ev->unit.ptr);
    }
    if (rc != POVTRACK_OK)
        return rc;
    /* A span starting on "from" is the one a redefinition renames. */
    bool starts = false;
    for (uint32_t k = 0; k < h.n; k++)
        starts |= h.span[k].from == from;
    int64_t before = starts || from == EV_TIME_MIN ? from : from - 1;
    const struct ev_span cur = h.span[span_index(&h, before)];
    if (d->parent.ptr != NULL && !same_code(d->parent, cur.parent) &&
        (rc = need(c, d->parent, from, "the new parent of %.*s",
                   (int)ev->unit.len, ev->unit.ptr)) != POVTRACK_OK)
        return rc;
    return need_place(c, ev->unit, &cur, before, NULL);
}

static bool is_predecessor(const struct ev_data *d, struct ev_str code)
{
    for (uint32_t i = 0; i < d->predecessors.n; i++)
        if (same_code(ev_codes_at(d->predecessors, i), code))
            return true;
    return false;
}

/* A successor of a unit.changed that is not also a predecessor: one that
 * exists is changed as it stands at E (and moved, when the event gives it
 * another parent); one the event creates is placed by the event's parent,
 * checked already, or, a new province, must be listed itself. */
static int check_successor(const struct unit_check *c, const struct ev_data *d,
                           struct ev_str code)
{
    struct ev_span s;
    bool found;
    if (is_predecessor(d, code))
        return POVTRACK_OK; /* its predecessor's check is the stricter */
    int rc = span_at(c->reg, code, d->effective, &s, &found);
    if (rc != POVTRACK_OK)
        return rc;
    if (!found)
        return d->parent.ptr != NULL
                   ? POVTRACK_OK
                   : need(c, code, d->effective, "a new province");
    if (d->parent.ptr != NULL && !same_code(d->parent, s.parent))
        return need_place(c, code, &s, d->effective, "a successor");
    return need(c, code, d->effective, "a successor");
}

/*
 * unit.changed, effective E: the new parent (as of E), every successor,
 * and every predecessor where it stood the day before: a predecessor ends
 * or changes, so its parent loses or changes a unit.
 */
static int check_changed(const struct unit_check *c, const struct ev_event *ev)
{
    const struct ev_data *d = &ev->data;
    int64_t e = d->effective;
    int rc = POVTRACK_OK;
    if (d->parent.ptr != NULL &&
        (rc = need(c, d->parent, e, "the new parent of %.*s", (int)ev->unit.len,
                   ev->unit.ptr)) != POVTRACK_OK)
        return rc;
    if (d->change == EV_CHANGE_MERGE)
        rc = check_successor(c, d, d->successor);
    for (uint32_t i = 0; rc == POVTRACK_OK && d->change == EV_CHANGE_SPLIT &&
                         i < d->successors.n;
         i++)
        rc = check_successor(c, d, ev_codes_at(d->successors, i));
    for (uint32_t i = 0; rc == POVTRACK_OK && i < d->predecessors.n; i++) {
        struct ev_str code = ev_codes_at(d->predecessors, i);
        struct ev_span s;
        bool found;
        rc = span_at(c->reg, code, e - 1, &s, &found);
        if (rc == POVTRACK_OK)
            rc = found ? need_place(c, code, &s, e - 1, "a predecessor")
                       : need(c, code, e - 1, "a predecessor");
    }
    return rc;
}

int pt_publisher_check_unit(const struct pt_publisher *p,
                            const struct ev_event *ev,
                            const struct ev_registry *reg, char *err,
                            size_t errlen)
{
    struct unit_check c = {p, reg, err, errlen};
    bool ok;

    if (p->all_units)
        return POVTRACK_OK;
    if (ev->type == EV_UNIT_DEFINED)
        return check_defined(&c, ev);
    if (ev->type == EV_UNIT_CHANGED)
        return check_changed(&c, ev);
    /* A household that moves leaves one unit for another: the publisher
     * speaks for both. */
    bool moved = ev->type == EV_HOUSEHOLD_MOVED;
    int rc = granted_at(p, reg, ev->unit, ev->at, &ok);
    if (rc == POVTRACK_OK && ok && moved &&
        (rc = granted_at(p, reg, ev->data.from, ev->at, &ok)) == POVTRACK_OK &&
        !ok) {
        snprintf(err, errlen,
                 "data.from: publisher \"%s\" may not publish for unit %.*s "
                 "(its rights: units = %s)",
                 p->name, (int)ev->data.from.len, ev->data.from.ptr,
                 p->units_text[0] ? p->units_text : "none");
        return POVTRACK_EINVALID;
    }
    if (rc != POVTRACK_OK || ok)
        return rc;
    snprintf(err, errlen,
             "unit: publisher \"%s\" may not publish for unit %.*s (its "
             "rights: units = %s)",
             p->name, (int)ev->unit.len, ev->unit.ptr,
             p->units_text[0] ? p->units_text : "none");
    return POVTRACK_EINVALID;
}

bool pt_publisher_may_query(const struct pt_publisher *p, const char *plugin,
                            size_t len)
{
    if (len == 3 && memcmp(plugin, "log", 3) == 0)
        return p->query_log;
    if (p->query_all)
        return true;
    for (size_t i = 0; i < p->nplugins; i++)
        if (strlen(p->plugins[i]) == len &&
            memcmp(p->plugins[i], plugin, len) == 0)
            return true;
    return false;
}

bool pt_publisher_may_query_any(const struct pt_publisher *p)
{
    return p->query_all || p->query_log || p->nplugins > 0 || p->alerts ||
           p->admin;
}

bool pt_publisher_may_publish_any(const struct pt_publisher *p)
{
    return p->types != 0;
}
