/*
 * deadlines.c - the built-in "deadlines" plugin: reports that organisations
 * owe by a due date (plan III.1: every Party committee's implementation plan
 * is due 30 October 2021), whether they came in on time, late, or not yet.
 *
 * Per (org, report): due is the last report.due's "due" (log order: a later
 * report.due is a correction), submitted is the EARLIEST "at" of the
 * report.submitted events for it (a re-sent submission does not make a
 * report later), unit is the last report.due's unit, or the submission's
 * while no due date is known.
 *
 * State against a time T: "submitted" (submitted at or before due, or no
 * due known), "late" (submitted after due), "overdue" (not submitted and
 * T > due), "pending" (not submitted, T <= due or no due).  T is the
 * query's "now" when given, else the latest "at" of any report event
 * applied: a query answers from the log alone, so a caller who wants the
 * wall clock must pass it.
 *
 * Query q {} or {"org"} -> {"reports": [{"org", "report", "unit", "due",
 * "submitted", "state"}]} sorted by org then report (byte order; see the
 * key form below for very long names), q {"org", "report"} -> that one
 * entry.  "now" (unix seconds) is accepted in every form.
 *
 * Units over time.  Reports are not rolled up, but a list may be asked for
 * one unit's subtree: "unit" keeps the reports whose unit's households
 * are, at "as_of" (or now), in that unit or below (pu_regroup: a report of
 * district 593, abolished in 2025, is Lam Dong's, 68, today).  With
 * "as_of" every entry also has "unit_as_of": where its unit's households
 * are then (nil when nowhere).  A "unit" that had ended by as_of (or now)
 * is refused in the ingest's words, with where to ask instead
 * (pu_check_query_unit); "unit" with "report" is refused.
 *
 * Alerts: deadlines.report_late (info) at apply, once per (org, report),
 * when a submission arrives after the due date or a due date is set
 * earlier than the existing submission; deadlines.report_overdue (warning)
 * from tick(now), once per (org, report), when now > due and nothing was
 * submitted.  Messages name the org, the report and the due date
 * (YYYY-MM-DD, UTC+7).
 *
 * State (integers big-endian, times in keys sign-flipped):
 *   'R' part(org) 0 part(report) -> u8 has_due, u8 has_sub, u8 flags
 *        (1 late alerted, 2 overdue alerted), 5 zero, i64 due, i64 sub_at,
 *        unit[5], 3 zero, u16 org len, u16 report len, 4 zero, org, report
 *   'Q' due[8] part(org) 0 part(report) -> 1 byte: the reports due, not
 *        submitted and not yet alerted as overdue, by due time.  tick()
 *        scans only the head (due < now) and deletes what it handled, so
 *        each tick sees only deadlines passed since the last one (plus a
 *        report.due applied after its date had already passed).
 *   'T' -> i64 latest "at" seen
 * part(s) is s itself when it is at most 200 bytes without a NUL byte,
 * else its first (<= 184, NUL-free) bytes, 0xFF and a 16-hex-digit FNV-1a
 * hash of all of s: keys stay under POVTRACK_KEY_MAX, the 0xFF (never in
 * UTF-8) keeps the two forms apart, and the full strings in the value are
 * compared on every lookup.  Such names sort by their prefix only.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <povtrack/plugin_util.h>
#include <povtrack/plugin.h>

#define DL_PART_RAW 200
#define DL_PART_PREFIX 184
#define DL_PART_MAX (DL_PART_PREFIX + 1 + 16)
#define DL_RKEY_MAX (1 + DL_PART_MAX + 1 + DL_PART_MAX)
#define DL_HDR 40
#define DL_TICK_BATCH 1024 /* deadlines handled per tick; the rest next */

#define F_LATE 1u
#define F_OVERDUE 2u

struct deadlines {
    const struct povtrack_host *host;
};

struct report {
    bool has_due, has_sub;
    uint8_t flags;
    int64_t due, sub_at;
    uint8_t unit[PU_UNIT_W];
    struct ev_str org, report; /* point into buf */
    char buf[2 * EV_TEXT_MAX];
};

/* ---- keys and values ---- */

static size_t key_part(uint8_t *k, struct ev_str s)
{
    if (s.len <= DL_PART_RAW && memchr(s.ptr, 0, s.len) == NULL) {
        memcpy(k, s.ptr, s.len);
        return s.len;
    }
    uint64_t h = UINT64_C(14695981039346656037);
    for (uint32_t i = 0; i < s.len; i++)
        h = (h ^ (uint8_t)s.ptr[i]) * UINT64_C(1099511628211);
    size_t n = 0;
    while (n < DL_PART_PREFIX && n < s.len && s.ptr[n] != 0)
        n++;
    memcpy(k, s.ptr, n);
    k[n++] = 0xff;
    for (int i = 15; i >= 0; i--)
        k[n++] = (uint8_t) "0123456789abcdef"[(h >> (4 * i)) & 0xf];
    return n;
}

/* 'R' part(org) 0 part(report); with report NULL only the org prefix. */
static size_t rkey(uint8_t *k, struct ev_str org, const struct ev_str *report)
{
    size_t n = 0;
    k[n++] = 'R';
    n += key_part(k + n, org);
    k[n++] = 0;
    if (report != NULL)
        n += key_part(k + n, *report);
    return n;
}

static size_t qkey(uint8_t *k, int64_t due, const uint8_t *rk, size_t rklen)
{
    k[0] = 'Q';
    pu_put_key_i64(k + 1, due);
    memcpy(k + 9, rk + 1, rklen - 1); /* without the 'R' */
    return 8 + rklen;
}

/* Byte equality of two strings. */
static bool str_eq(struct ev_str a, struct ev_str b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

/* Decode an 'R' value; -1 when malformed. */
static int rec_decode(const uint8_t *b, size_t len, struct report *r)
{
    memset(r, 0, sizeof *r);
    if (len < DL_HDR)
        return POVTRACK_EFORMAT;
    size_t ol = (size_t)b[32] << 8 | b[33], rl = (size_t)b[34] << 8 | b[35];
    if (len != DL_HDR + ol + rl || ol + rl > sizeof r->buf)
        return POVTRACK_EFORMAT;
    r->has_due = b[0] != 0;
    r->has_sub = b[1] != 0;
    r->flags = b[2];
    r->due = pu_get_i64(b + 8);
    r->sub_at = pu_get_i64(b + 16);
    memcpy(r->unit, b + 24, PU_UNIT_W);
    memcpy(r->buf, b + DL_HDR, ol + rl);
    r->org = (struct ev_str){r->buf, (uint32_t)ol};
    r->report = (struct ev_str){r->buf + ol, (uint32_t)rl};
    return 0;
}

static int rec_put(struct deadlines *d, povtrack_ctx *ctx, const uint8_t *k,
                   size_t kl, const struct report *r)
{
    uint8_t b[DL_HDR + 2 * EV_TEXT_MAX] = {0};
    b[0] = r->has_due;
    b[1] = r->has_sub;
    b[2] = r->flags;
    pu_put_i64(b + 8, r->due);
    pu_put_i64(b + 16, r->sub_at);
    memcpy(b + 24, r->unit, PU_UNIT_W);
    b[32] = (uint8_t)(r->org.len >> 8);
    b[33] = (uint8_t)r->org.len;
    b[34] = (uint8_t)(r->report.len >> 8);
    b[35] = (uint8_t)r->report.len;
    memcpy(b + DL_HDR, r->org.ptr, r->org.len);
    memcpy(b + DL_HDR + r->org.len, r->report.ptr, r->report.len);
    return pu_put(d->host, ctx, k, kl, b, DL_HDR + r->org.len + r->report.len);
}

/* 1 found (and naming exactly org/report), 0 absent, <0 error.  A key
 * whose value names other strings is a hash collision of two very long
 * names: reported as absent for queries, logged and refused for apply. */
static int rec_get(struct deadlines *d, povtrack_ctx *ctx, const uint8_t *k,
                   size_t kl, struct ev_str org, struct ev_str report,
                   struct report *r)
{
    const void *val;
    size_t vlen;
    int rc = pu_get(d->host, ctx, k, kl, &val, &vlen);
    if (rc <= 0)
        return rc;
    if (rec_decode(val, vlen, r) != 0) {
        d->host->log(ctx, POVTRACK_LOG_ERROR, "deadlines: corrupt record");
        return POVTRACK_EIO;
    }
    return str_eq(r->org, org) && str_eq(r->report, report) ? 1 : 2;
}

static int del_key(struct deadlines *d, povtrack_ctx *ctx, const uint8_t *k,
                   size_t kl)
{
    int rc = d->host->del(ctx, k, kl);
    if (rc == 0 || rc == POVTRACK_NOTFOUND)
        return 0;
    d->host->log(ctx, POVTRACK_LOG_ERROR, "deadlines: del failed: %s",
                 pu_strerror(d->host, rc));
    return POVTRACK_EIO;
}

/* Raise code for report r, with its due (and submission) date. */
static int dl_alert(struct deadlines *d, povtrack_ctx *ctx, const char *code,
                    enum povtrack_severity sev, const struct report *r,
                    int64_t at)
{
    char unit[PU_UNIT_W + 1], org[EV_TEXT_MAX + 1], rep[EV_TEXT_MAX + 1];
    char due[PU_DATE_LEN], sub[PU_DATE_LEN], msg[1024];
    pu_cstr(pu_get_unit(r->unit), unit, sizeof unit);
    pu_cstr(r->org, org, sizeof org);
    pu_cstr(r->report, rep, sizeof rep);
    pu_fmt_date(r->due, due, sizeof due);
    if (sev == POVTRACK_INFO)
        snprintf(msg, sizeof msg,
                 "%s submitted report \"%s\" on %s, after its due date %s", org,
                 rep, pu_fmt_date(r->sub_at, sub, sizeof sub), due);
    else
        snprintf(msg, sizeof msg, "%s has not submitted report \"%s\", due %s",
                 org, rep, due);
    struct povtrack_alert a = {.size = sizeof a,
                               .code = code,
                               .severity = sev,
                               .unit = unit,
                               .household = NULL,
                               .message = msg,
                               .at = at};
    int rc = d->host->alert(ctx, &a);
    if (rc != 0) {
        d->host->log(ctx, POVTRACK_LOG_ERROR, "deadlines: alert failed: %s",
                     pu_strerror(d->host, rc));
        return POVTRACK_EIO;
    }
    return 0;
}

/* ---- apply ---- */

static int note_time(struct deadlines *d, povtrack_ctx *ctx, int64_t at)
{
    const void *val;
    size_t vlen;
    uint8_t b[8];
    int rc = pu_get(d->host, ctx, "T", 1, &val, &vlen);
    if (rc < 0)
        return rc;
    if (rc == 1 && vlen == 8 && pu_get_i64(val) >= at)
        return 0;
    pu_put_i64(b, at);
    return pu_put(d->host, ctx, "T", 1, b, sizeof b);
}

static int deadlines_apply(void *state, povtrack_ctx *ctx,
                           const struct povtrack_record *rec)
{
    struct deadlines *d = state;
    const struct ev_event *ev = rec->event;
    if (ev->type != EV_REPORT_DUE && ev->type != EV_REPORT_SUBMITTED)
        return 0;
    uint8_t k[DL_RKEY_MAX], q[8 + DL_RKEY_MAX];
    size_t kl = rkey(k, ev->data.org, &ev->data.report);
    struct report r;
    int rc = rec_get(d, ctx, k, kl, ev->data.org, ev->data.report, &r);
    if (rc < 0)
        return rc;
    if (rc == 2) {
        d->host->log(ctx, POVTRACK_LOG_ERROR,
                     "deadlines: seq %llu: key collision of long names, "
                     "event ignored",
                     (unsigned long long)rec->seq);
        return note_time(d, ctx, ev->at);
    }
    if (rc == 0) {
        memset(&r, 0, sizeof r);
        r.org = ev->data.org;
        r.report = ev->data.report;
    }
    /* Queued for the overdue check: due, not submitted, not alerted. */
    bool queued = r.has_due && !r.has_sub && !(r.flags & F_OVERDUE);
    if (ev->type == EV_REPORT_DUE) {
        if (queued && (rc = del_key(d, ctx, q, qkey(q, r.due, k, kl))) != 0)
            return rc;
        r.has_due = true;
        r.due = ev->data.due;
        if (pu_put_unit(r.unit, ev->unit) != 0)
            return POVTRACK_EIO;
    } else {
        if (r.has_sub && r.sub_at <= ev->at)
            return note_time(d, ctx, ev->at); /* an earlier one stands */
        if (queued && (rc = del_key(d, ctx, q, qkey(q, r.due, k, kl))) != 0)
            return rc;
        if (!r.has_due && pu_put_unit(r.unit, ev->unit) != 0)
            return POVTRACK_EIO;
        r.has_sub = true;
        r.sub_at = ev->at;
    }
    if (r.has_due && !r.has_sub && !(r.flags & F_OVERDUE)) {
        uint8_t one = 1;
        rc = pu_put(d->host, ctx, q, qkey(q, r.due, k, kl), &one, 1);
        if (rc != 0)
            return rc;
    }
    if (r.has_due && r.has_sub && r.sub_at > r.due && !(r.flags & F_LATE)) {
        r.flags |= F_LATE;
        rc = dl_alert(d, ctx, "deadlines.report_late", POVTRACK_INFO, &r,
                      r.sub_at);
        if (rc != 0)
            return rc;
    }
    rc = rec_put(d, ctx, k, kl, &r);
    return rc != 0 ? rc : note_time(d, ctx, ev->at);
}

/* ---- tick ---- */

struct due_list {
    uint8_t (*keys)[8 + DL_RKEY_MAX];
    size_t *lens;
    size_t n;
};

static int collect_cb(void *arg, const void *key, size_t klen, const void *val,
                      size_t vlen)
{
    struct due_list *l = arg;
    (void)val;
    (void)vlen;
    if (l->n == DL_TICK_BATCH || klen > sizeof l->keys[0])
        return 1;
    memcpy(l->keys[l->n], key, klen);
    l->lens[l->n++] = klen;
    return 0;
}

/* The wall clock is accepted here, and only here: whether a deadline has
 * passed depends on it.  The alert's "at" is the due date, a log value. */
static int deadlines_tick(void *state, povtrack_ctx *ctx, int64_t now)
{
    struct deadlines *d = state;
    struct due_list l = {malloc(DL_TICK_BATCH * sizeof *l.keys),
                         malloc(DL_TICK_BATCH * sizeof *l.lens), 0};
    int rc = 0;
    if (l.keys == NULL || l.lens == NULL) {
        d->host->log(ctx, POVTRACK_LOG_ERROR, "deadlines: out of memory");
        rc = -1;
        goto out;
    }
    uint8_t from[1] = {'Q'}, to[9] = {'Q'};
    pu_put_key_i64(to + 1, now); /* due < now: strictly passed */
    rc = d->host->scan(ctx, from, 1, to, sizeof to, collect_cb, &l);
    if (rc < 0) {
        d->host->log(ctx, POVTRACK_LOG_ERROR, "deadlines: scan failed: %s",
                     pu_strerror(d->host, rc));
        rc = POVTRACK_EIO;
        goto out;
    }
    rc = 0;
    for (size_t i = 0; i < l.n && rc == 0; i++) {
        uint8_t k[DL_RKEY_MAX];
        size_t kl = l.lens[i] - 8;
        k[0] = 'R';
        memcpy(k + 1, l.keys[i] + 9, kl - 1);
        rc = del_key(d, ctx, l.keys[i], l.lens[i]);
        const void *val;
        size_t vlen;
        struct report r;
        int g = rc == 0 ? pu_get(d->host, ctx, k, kl, &val, &vlen) : rc;
        if (g < 0) {
            rc = g;
        } else if (g == 1 && rec_decode(val, vlen, &r) != 0) {
            d->host->log(ctx, POVTRACK_LOG_ERROR, "deadlines: corrupt record");
            rc = POVTRACK_EIO;
        } else if (g == 1 && r.has_due && !r.has_sub &&
                   !(r.flags & F_OVERDUE) &&
                   r.due == pu_get_key_i64(l.keys[i] + 1)) {
            r.flags |= F_OVERDUE;
            rc = dl_alert(d, ctx, "deadlines.report_overdue", POVTRACK_WARNING,
                          &r, r.due);
            if (rc == 0)
                rc = rec_put(d, ctx, k, kl, &r);
        }
    }
out:
    free(l.keys);
    free(l.lens);
    return rc;
}

/* ---- query ---- */

/* Where a report's unit's households are at as_of: packed as "unit_as_of"
 * (nil when its unit leads nowhere then). */
struct as_of {
    bool has;
    int64_t at;
};

static int pack_entry(struct deadlines *d, povtrack_ctx *ctx,
                      msgpack_packer *pk, const struct report *r, int64_t t,
                      const struct as_of *ao)
{
    const char *st =
        r->has_sub ? (r->has_due && r->sub_at > r->due ? "late" : "submitted")
        : r->has_due && t > r->due ? "overdue"
                                   : "pending";
    struct ev_str unit = pu_get_unit(r->unit);
    int e = msgpack_pack_map(pk, 6 + (ao->has ? 1 : 0));
    e |= pu_pack_key(pk, "org") | pu_pack_str(pk, r->org.ptr, r->org.len);
    e |= pu_pack_key(pk, "report") |
         pu_pack_str(pk, r->report.ptr, r->report.len);
    e |= pu_pack_key(pk, "unit") | pu_pack_str(pk, unit.ptr, unit.len);
    if (ao->has) {
        struct pu_chain ch;
        int64_t at = ao->at < INT64_MAX ? ao->at : INT64_MAX - 1;
        int rc = pu_ancestors_at(d->host, ctx, unit, at, &ch);
        if (rc != 0 && rc != POVTRACK_NOTFOUND)
            return rc;
        struct ev_str to = pu_get_unit(ch.code[0]);
        e |= pu_pack_key(pk, "unit_as_of") |
             (rc == 0 ? pu_pack_str(pk, to.ptr, to.len) : msgpack_pack_nil(pk));
    }
    e |= pu_pack_key(pk, "due") |
         (r->has_due ? msgpack_pack_int64(pk, r->due) : msgpack_pack_nil(pk));
    e |=
        pu_pack_key(pk, "submitted") |
        (r->has_sub ? msgpack_pack_int64(pk, r->sub_at) : msgpack_pack_nil(pk));
    e |= pu_pack_key(pk, "state") | pu_pack_key(pk, st);
    return e;
}

static int arg_str(const msgpack_object *q, const char *name,
                   struct ev_str *out, char *err, size_t errlen)
{
    const msgpack_object *o = pu_map_get(q, name);
    out->ptr = NULL;
    out->len = 0;
    if (o == NULL || o->type == MSGPACK_OBJECT_NIL)
        return 0;
    if (o->type != MSGPACK_OBJECT_STR || o->via.str.size == 0 ||
        o->via.str.size > EV_TEXT_MAX) {
        snprintf(err, errlen, "%s: must be a non-empty string", name);
        return POVTRACK_EINVALID;
    }
    out->ptr = o->via.str.ptr;
    out->len = o->via.str.size;
    return 0;
}

/*
 * The reports of the scan, in key order: those of org (when given; names
 * that share a key prefix are told apart by their value), and of unit's
 * subtree when g is not NULL (where each report's unit's households are at
 * its as_of).  The entries are copied first: the registry is asked for
 * each.
 */
static int pack_list(struct deadlines *d, povtrack_ctx *ctx, const uint8_t *k,
                     size_t kl, const struct ev_str *org, struct pu_regroup *g,
                     int64_t t, const struct as_of *ao, msgpack_packer *pk)
{
    uint8_t to[DL_RKEY_MAX];
    struct pu_copied c = {0};
    msgpack_sbuffer sb;
    msgpack_packer side;
    size_t off = 0, klen, vlen;
    const uint8_t *key, *val;
    uint32_t n = 0;
    memcpy(to, k, kl);
    to[kl - 1]++; /* just past the prefix: 'R' -> 'S', org's 0 -> 1 */
    int rc = pu_scan_copied(d->host, ctx, k, kl, to, kl, &c);
    /* Entries are packed into a side buffer: their number is known only
     * after the scan, and the array header comes first. */
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&side, &sb, msgpack_sbuffer_write);
    while (rc == 0 && pu_copied_next(&c, &off, &key, &klen, &val, &vlen)) {
        struct report r;
        bool in = true;
        if (rec_decode(val, vlen, &r) != 0 || n == UINT32_MAX) {
            rc = POVTRACK_EIO;
            break;
        }
        if (org != NULL && !str_eq(r.org, *org))
            continue;
        if (g != NULL && (rc = pu_regroup_in(g, r.unit, &in)) != 0)
            break;
        if (!in)
            continue;
        n++;
        rc = pack_entry(d, ctx, &side, &r, t, ao) != 0 ? POVTRACK_EIO : 0;
    }
    pu_copied_free(&c);
    if (rc == 0) {
        rc = msgpack_pack_map(pk, 1) | pu_pack_key(pk, "reports") |
             msgpack_pack_array(pk, n);
        if (rc == 0 && sb.size > 0)
            rc = pk->callback(pk->data, sb.data, sb.size);
    }
    msgpack_sbuffer_destroy(&sb);
    return rc == 0 ? 0 : POVTRACK_EIO;
}

static int deadlines_query(void *state, povtrack_ctx *ctx,
                           const msgpack_object *q, msgpack_packer *pk,
                           char *err, size_t errlen)
{
    struct deadlines *d = state;
    struct ev_str org, rep;
    struct as_of ao = {false, 0};
    int64_t now = 0;
    bool has_now;
    if (q == NULL || q->type != MSGPACK_OBJECT_MAP) {
        snprintf(err, errlen, "q: must be a map");
        return POVTRACK_EINVALID;
    }
    static const char *const arg_names[] = {"unit", "org",   "report",
                                            "now",  "as_of", NULL};
    if (pu_check_arg_names(q, arg_names, err, errlen) != 0 ||
        arg_str(q, "org", &org, err, errlen) != 0 ||
        arg_str(q, "report", &rep, err, errlen) != 0 ||
        pu_arg_i64(q, "now", false, &now, &has_now, err, errlen) != 0 ||
        pu_arg_i64(q, "as_of", false, &ao.at, &ao.has, err, errlen) != 0)
        return POVTRACK_EINVALID;
    if (rep.ptr != NULL && org.ptr == NULL) {
        snprintf(err, errlen, "org: required with report");
        return POVTRACK_EINVALID;
    }
    /* "unit": the reports of a unit's subtree, on the units of as_of (or
     * as they stand now).  Its date is as_of, else now; there is no
     * period, so an earlier as_of is always a question answered. */
    const msgpack_object *uo = pu_map_get(q, "unit");
    bool has_unit = uo != NULL && uo->type != MSGPACK_OBJECT_NIL;
    struct pu_chain ch;
    int rc;
    if (has_unit && rep.ptr != NULL) {
        snprintf(err, errlen, "unit: not with report");
        return POVTRACK_EINVALID;
    }
    if (has_unit &&
        ((rc = pu_arg_unit(d->host, ctx, q, &ch, err, errlen)) != 0 ||
         (rc = pu_check_query_unit(d->host, ctx, pu_get_unit(ch.code[0]),
                                   ao.has ? ao.at : INT64_MAX, INT64_MIN, err,
                                   errlen)) != 0))
        return rc;
    if (!has_now) {
        const void *val;
        size_t vlen;
        rc = pu_get(d->host, ctx, "T", 1, &val, &vlen);
        if (rc < 0) {
            snprintf(err, errlen, "internal error: state read failed");
            return POVTRACK_EIO;
        }
        now = rc == 1 && vlen == 8 ? pu_get_i64(val) : 0;
    }
    uint8_t k[DL_RKEY_MAX];
    if (rep.ptr != NULL) {
        struct report r;
        rc = rec_get(d, ctx, k, rkey(k, org, &rep), org, rep, &r);
        if (rc < 0) {
            snprintf(err, errlen, "internal error: state read failed");
            return POVTRACK_EIO;
        }
        if (rc != 1) {
            snprintf(err, errlen, "report: no such report for org");
            return POVTRACK_EINVALID;
        }
        if (pack_entry(d, ctx, pk, &r, now, &ao) != 0) {
            snprintf(err, errlen, "internal error: packing failed");
            return POVTRACK_EIO;
        }
        return 0;
    }
    struct pu_regroup g;
    int64_t t = ao.has ? ao.at : INT64_MAX;
    if (has_unit)
        pu_regroup_init(&g, d->host, ctx, ch.code[0], t, t);
    k[0] = 'R';
    size_t kl = org.ptr != NULL ? rkey(k, org, NULL) : 1;
    rc = pack_list(d, ctx, k, kl, org.ptr != NULL ? &org : NULL,
                   has_unit ? &g : NULL, now, &ao, pk);
    if (has_unit)
        pu_regroup_free(&g);
    if (rc != 0) {
        snprintf(err, errlen, "internal error: state read failed");
        return POVTRACK_EIO;
    }
    return 0;
}

/* ---- plugin callbacks ---- */

static int deadlines_init(povtrack_ctx *ctx, const struct povtrack_host *host,
                          void **state)
{
    /* No settings: due dates come from report.due events, not config. */
    struct deadlines *d = calloc(1, sizeof *d);
    if (d == NULL) {
        host->log(ctx, POVTRACK_LOG_ERROR, "deadlines: out of memory");
        return POVTRACK_ENOMEM;
    }
    d->host = host;
    *state = d;
    return 0;
}

static void deadlines_fini(void *state)
{
    free(state);
}

/* [plugin.deadlines] takes no keys: an empty map, so that a misspelt one
 * stops povtrackd at start instead of being ignored. */
static const struct povtrack_config_key deadlines_config[] = {{.name = NULL}};

/* state_layout: bump it when the stored values change. */
POVTRACK_PLUGIN(.name = "deadlines", .version = "1.0.0",
                .event_mask = EV_TYPE_BIT(EV_REPORT_DUE) |
                              EV_TYPE_BIT(EV_REPORT_SUBMITTED),
                .init = deadlines_init, .apply = deadlines_apply,
                .query = deadlines_query, .tick = deadlines_tick,
                .fini = deadlines_fini, .state_layout = 1,
                .config_map = deadlines_config);
