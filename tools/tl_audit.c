/*
 * tl_audit.c - a record and its voids and corrections (tl_audit.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <povtrack/event.h>

#include "tl_audit.h"
#include "tl_fmt.h"
#include "tl_json.h"

/* The event of a record map {seq, received, publisher, event}. */
static const json_t *event_of(const json_t *rec)
{
    return json_object_get(rec, "event");
}

static const char *str_of(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s != NULL ? s : "";
}

/* The latest correction, written as the record it holds. */
static json_t *as_record(const json_t *original, const json_t *correction)
{
    const json_t *data = json_object_get(correction, "data");
    json_t *ev = json_object();
    if (ev == NULL)
        return NULL;
    json_object_set_new(ev, "v", json_integer(1));
    json_object_set(ev, "id", json_object_get(original, "id"));
    json_object_set(ev, "type", json_object_get(data, "type"));
    json_object_set(ev, "at", json_object_get(correction, "at"));
    json_object_set(ev, "unit", json_object_get(correction, "unit"));
    if (json_object_get(correction, "household") != NULL)
        json_object_set(ev, "household",
                        json_object_get(correction, "household"));
    json_object_set(ev, "data", json_object_get(data, "record"));
    return ev;
}

int tl_audit_fetch(struct tl_cli *cli, const char *cmd, const char *id,
                   struct tl_audit *out)
{
    struct povtrack_client_msg reply;
    struct tl_error err = {{0}};
    memset(out, 0, sizeof *out);
    char *end = NULL;
    unsigned long long seq = id[0] == '#' && id[1] >= '0' && id[1] <= '9'
                                 ? strtoull(id + 1, &end, 10)
                                 : 0;
    bool by_seq = end != NULL && *end == '\0';
    json_t *req =
        by_seq ? json_pack("{s:s, s:I}", "op", "audit", "seq", (json_int_t)seq)
               : json_pack("{s:s, s:s}", "op", "audit", "id", id);
    if (req == NULL) {
        fprintf(stderr, "povtrack %s: out of memory\n", cmd);
        return TL_EXIT_FAIL;
    }
    int rc = tl_cli_request(cli, req, &reply);
    json_decref(req);
    if (rc != 0)
        return rc;
    rc = tl_json_from_msgpack(&reply.obj, &out->answer, &err);
    povtrack_client_msg_free(&reply);
    if (rc != 0) {
        fprintf(stderr, "povtrack %s: the audit answer is not JSON: %s\n", cmd,
                err.msg);
        return TL_EXIT_FAIL;
    }
    const json_t *rec = json_object_get(out->answer, "record");
    const json_t *ev = event_of(rec);
    const json_t *am = json_object_get(out->answer, "amendments");
    if (!json_is_object(ev) || !json_is_array(am)) {
        fprintf(stderr, "povtrack %s: the audit answer has no record\n", cmd);
        tl_audit_free(out);
        return TL_EXIT_FAIL;
    }
    out->id = str_of(ev, "id");
    out->itself = by_seq ? (unsigned long long)json_integer_value(
                               json_object_get(rec, "seq")) == seq
                         : strcmp(out->id, id) == 0;
    out->type = str_of(ev, "type");
    out->state = str_of(out->answer, "state");
    const json_t *latest = NULL;
    size_t i;
    const json_t *a;
    json_array_foreach(am, i, a)
    {
        const json_t *aev = event_of(a);
        if (strcmp(str_of(aev, "type"), "record.corrected") == 0) {
            latest = aev;
            out->corrections++;
        } else {
            out->void_record = a;
        }
    }
    out->current = latest != NULL ? as_record(ev, latest) : json_deep_copy(ev);
    if (out->current == NULL) {
        fprintf(stderr, "povtrack %s: out of memory\n", cmd);
        tl_audit_free(out);
        return TL_EXIT_FAIL;
    }
    return 0;
}

void tl_audit_free(struct tl_audit *a)
{
    json_decref(a->current);
    json_decref(a->answer);
    memset(a, 0, sizeof *a);
}

const char *tl_audit_value(const char *key, const json_t *v, char *buf)
{
    char num[TL_FMT_TIME_MAX];
    if (v == NULL) {
        snprintf(buf, TL_AUDIT_VALUE_MAX, "(none)");
    } else if (json_is_string(v)) {
        snprintf(buf, TL_AUDIT_VALUE_MAX, "%s", json_string_value(v));
    } else if (json_is_integer(v) &&
               (strcmp(key, "at") == 0 || strcmp(key, "due") == 0)) {
        snprintf(buf, TL_AUDIT_VALUE_MAX, "%s",
                 tl_fmt_vn_date(json_integer_value(v), num));
    } else if (json_is_integer(v)) {
        snprintf(buf, TL_AUDIT_VALUE_MAX, "%s",
                 tl_fmt_int(json_integer_value(v), num));
    } else if (json_is_boolean(v)) {
        snprintf(buf, TL_AUDIT_VALUE_MAX, "%s", json_is_true(v) ? "yes" : "no");
    } else {
        char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        snprintf(buf, TL_AUDIT_VALUE_MAX, "%s", s != NULL ? s : "?");
        free(s);
    }
    return buf;
}

/* The catalogue's rule (<povtrack/event.h>), by the type's name. */
static bool is_amendable(const char *type)
{
    return ev_type_amendable(ev_type_from_name(type, strlen(type)));
}

int tl_audit_check(const char *cmd, const char *asked, const struct tl_audit *a)
{
    const char *id = a->id;
    if (!a->itself) {
        fprintf(stderr,
                "povtrack %s: %s is itself a correction or void of %s; %s "
                "%s instead\n",
                cmd, asked, id, cmd, id);
        return TL_EXIT_FAIL;
    }
    if (!is_amendable(a->type)) {
        fprintf(stderr,
                "povtrack %s: %s is a %s; only donations, pledges, fund "
                "disbursements, loans, repayments and relocation records "
                "can be corrected or voided\n",
                cmd, id, a->type);
        return TL_EXIT_FAIL;
    }
    if (a->void_record != NULL) {
        const json_t *ev = json_object_get(a->void_record, "event");
        char when[TL_FMT_TIME_MAX];
        json_int_t us =
            json_integer_value(json_object_get(a->void_record, "received"));
        fprintf(stderr,
                "povtrack %s: %s was voided on %s by %s (reason: %s); a "
                "voided record cannot be %s\n",
                cmd, id, tl_fmt_vn_time(us / 1000000, when),
                json_string_value(json_object_get(a->void_record, "publisher")),
                json_string_value(
                    json_object_get(json_object_get(ev, "data"), "reason")),
                strcmp(cmd, "void") == 0 ? "voided again" : "corrected");
        return TL_EXIT_FAIL;
    }
    return 0;
}

bool tl_audit_id(char *out, const char *prefix, const char *id, size_t n)
{
    int len =
        n > 0 ? snprintf(out, TL_AUDIT_ID_MAX + 1, "%s%s-%zu", prefix, id, n)
              : snprintf(out, TL_AUDIT_ID_MAX + 1, "%s%s", prefix, id);
    return len > 0 && len <= TL_AUDIT_ID_MAX;
}

json_t *tl_audit_corrected(const char *id, const char *target, const char *type,
                           const json_t *record, const char *reason)
{
    json_t *c = json_pack(
        "{s:i, s:s, s:s, s:O, s:O, s:{s:s, s:s, s:s, s:O}}", "v", 1, "id", id,
        "type", "record.corrected", "at", json_object_get(record, "at"), "unit",
        json_object_get(record, "unit"), "data", "target", target, "type", type,
        "reason", reason, "record", json_object_get(record, "data"));
    if (c != NULL && json_object_get(record, "household") != NULL)
        json_object_set(c, "household", json_object_get(record, "household"));
    return c;
}

json_t *tl_audit_voided(const char *id, const char *target, const char *type,
                        const json_t *unit, int64_t at, const char *reason)
{
    return json_pack("{s:i, s:s, s:s, s:I, s:O, s:{s:s, s:s, s:s}}", "v", 1,
                     "id", id, "type", "record.voided", "at", (json_int_t)at,
                     "unit", unit, "data", "target", target, "type", type,
                     "reason", reason);
}

void tl_audit_put(json_t *ev, const char *field, json_t *value)
{
    bool top = strcmp(field, "unit") == 0 || strcmp(field, "at") == 0 ||
               strcmp(field, "household") == 0;
    json_t *where = top ? ev : json_object_get(ev, "data");
    if (value == NULL)
        json_object_del(where, field);
    else
        json_object_set(where, field, value);
}

/* The envelope fields a correction may change, then data's. */
static const char *const envelope[] = {"unit", "at", "household"};

static size_t diff_one(FILE *f, const char *indent, const char *key,
                       const json_t *x, const json_t *y)
{
    char a[TL_AUDIT_VALUE_MAX], b[TL_AUDIT_VALUE_MAX];
    if (x == y || (x != NULL && y != NULL && json_equal(x, y)))
        return 0;
    fprintf(f, "%s%s: %s -> %s\n", indent, key, tl_audit_value(key, x, a),
            tl_audit_value(key, y, b));
    return 1;
}

size_t tl_audit_diff(FILE *f, const char *indent, const json_t *a,
                     const json_t *b)
{
    size_t n = 0;
    for (size_t i = 0; i < sizeof envelope / sizeof envelope[0]; i++)
        n += diff_one(f, indent, envelope[i], json_object_get(a, envelope[i]),
                      json_object_get(b, envelope[i]));
    const json_t *da = json_object_get(a, "data");
    const json_t *db = json_object_get(b, "data");
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)da, key, v) n +=
        diff_one(f, indent, key, v, json_object_get(db, key));
    json_object_foreach((json_t *)db, key, v)
    {
        if (json_object_get(da, key) == NULL)
            n += diff_one(f, indent, key, NULL, v);
    }
    return n;
}

void tl_audit_fields(FILE *f, const char *indent, const json_t *ev)
{
    char buf[TL_AUDIT_VALUE_MAX];
    const char *key;
    const json_t *v;
    fputs(indent, f);
    for (size_t i = 0; i < sizeof envelope / sizeof envelope[0]; i++)
        if ((v = json_object_get(ev, envelope[i])) != NULL)
            fprintf(f, "%s%s %s", i > 0 ? "  " : "", envelope[i],
                    tl_audit_value(envelope[i], v, buf));
    json_object_foreach((json_t *)json_object_get(ev, "data"), key, v)
        fprintf(f, "  %s %s", key, tl_audit_value(key, v, buf));
    fputc('\n', f);
}
