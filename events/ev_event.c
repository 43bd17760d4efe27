/*
 * ev_event.c - decoding, validation and canonical encoding of events.
 *
 * The catalogue is data, not code.  fields[] describes every data field once
 * (wire name, kind, where it lands in struct ev_data, which values it takes)
 * and types[] says which fields each event type requires or allows.  The
 * decoder and the encoder both walk those tables, so a new field or type is a
 * table edit, not a new function.
 *
 * fields[] is kept in ascending byte order of the wire names: the encoder
 * emits data keys in table order, and that order is the canonical one.
 */
#include "ev_event.h"
#include "ev_internal.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* A field (or top-level key) in a set of them; an indicator in a
 * household's "deprived" set. */
#define BIT(f) (UINT64_C(1) << (f))
#define IND_BIT(i) (UINT32_C(1) << (i))

/* The names of every enumerated value are public, in <povtrack/event.h>
 * (ev_level_names ...): the decoder and the encoder walk those tables. */

/* Enumerated fields are stored through their offset in struct ev_data; that
 * is only sound while every enum has the size of an int. */
_Static_assert(sizeof(enum ev_level) == sizeof(int) &&
                   sizeof(enum ev_area) == sizeof(int) &&
                   sizeof(enum ev_status) == sizeof(int) &&
                   sizeof(enum ev_donor_kind) == sizeof(int) &&
                   sizeof(enum ev_purpose) == sizeof(int) &&
                   sizeof(enum ev_reason) == sizeof(int) &&
                   sizeof(enum ev_item) == sizeof(int) &&
                   sizeof(enum ev_change) == sizeof(int) &&
                   sizeof(enum ev_exit) == sizeof(int) &&
                   sizeof(enum ev_partner_kind) == sizeof(int) &&
                   sizeof(enum ev_assistance) == sizeof(int) &&
                   sizeof(enum ev_ntp) == sizeof(int) &&
                   sizeof(enum ev_recipient_kind) == sizeof(int) &&
                   sizeof(enum ev_type) == sizeof(int),
               "enum fields must be int-sized");
_Static_assert(EV_IND_COUNT <= 32, "deprived is a 32-bit set");

/* ------------------------------------------------------------------------ */
/* The catalogue                                                            */

enum kind {
    K_INT,      /* integer in [lo, hi] */
    K_TEXT,     /* non-empty UTF-8, at most EV_TEXT_MAX bytes */
    K_UNIT,     /* unit code */
    K_PARENT,   /* unit code or nil */
    K_ENUM,     /* one of names[lo..hi] */
    K_BOOL,     /* true or false, with a has_ flag (bool_has) */
    K_DEPRIVED, /* array of indicators of the standard for data.year */
    K_UNITS,    /* array of 1..EV_CODES_MAX distinct unit codes */
    K_ID,       /* an event id: printable ASCII, at most EV_ID_MAX bytes */
    K_RECORD    /* record.corrected: the data of data.type, nested */
};

/* In ascending byte order of the wire names (see the top of the file).
 * A name appears twice where two types give it two meanings (a type
 * allows only one of them): "level" (a unit cannot be "central", a
 * donation can), "reason" (a relocation's hazard, a household's exit),
 * "kind" (a unit change, an assistance), "program" (a loan's free text,
 * a National Target Programme); "reason" three times (a correction's is
 * text). */
enum field {
    F_AMOUNT,
    F_AREA,
    F_AWARDED_BY,
    F_COMPONENT,
    F_DECISION,
    F_DEPRIVED,
    F_DONOR,
    F_DONOR_KIND,
    F_DUE,
    F_EFFECTIVE,
    F_FROM,
    F_HOUSEHOLDS,
    F_IN_KIND,
    F_INCOME,
    F_ITEM,
    F_KIND,
    F_ASSISTANCE,
    F_LEVEL,
    F_UNIT_LEVEL,
    F_LINK,
    F_LOAN,
    F_MEMBERS,
    F_NAME,
    F_NO_LABOUR,
    F_ORG,
    F_PARENT,
    F_PARTNER,
    F_PARTNER_KIND,
    F_PLEDGE,
    F_PREDECESSORS,
    F_PRODUCT,
    F_PROGRAM,
    F_NTP,
    F_PURPOSE,
    F_REASON,
    F_EXIT_REASON,
    F_REMARK,
    F_RECIPIENT,
    F_RECIPIENT_KIND,
    F_RECORD,
    F_REPORT,
    F_STARS,
    F_STATUS,
    F_SUCCESSOR,
    F_SUCCESSORS,
    F_TARGET,
    F_TARGET_TYPE,
    F_YEAR,
    F_COUNT
};
_Static_assert(F_COUNT <= 64, "field sets are 64-bit masks");

struct field_desc {
    const char *name;
    unsigned char kind;
    unsigned short off;       /* offset in struct ev_data */
    int64_t lo, hi;           /* K_INT range; K_ENUM values allowed */
    const char *const *names; /* K_ENUM */
};

#define INT_FIELD(n, m, l, h)                                                  \
    {                                                                          \
        .name = n, .kind = K_INT, .off = offsetof(struct ev_data, m), .lo = l, \
        .hi = h                                                                \
    }
#define FIELD(n, k, m)                                                         \
    {                                                                          \
        .name = n, .kind = k, .off = offsetof(struct ev_data, m)               \
    }
#define ENUM_FIELD(n, m, tab, l, h)                                            \
    {                                                                          \
        .name = n, .kind = K_ENUM, .off = offsetof(struct ev_data, m),         \
        .lo = l, .hi = h, .names = tab                                         \
    }

/* The last "due" date accepted: 2100-01-01T00:00:00Z. */
#define DUE_MAX INT64_C(4102444800)

static const struct field_desc fields[F_COUNT] = {
    [F_AMOUNT] = INT_FIELD("amount", amount, 1, INT64_MAX),
    [F_AREA] =
        ENUM_FIELD("area", area, ev_area_names, EV_AREA_RURAL, EV_AREA_URBAN),
    [F_AWARDED_BY] = FIELD("awarded_by", K_TEXT, awarded_by),
    [F_COMPONENT] = FIELD("component", K_TEXT, component),
    [F_DECISION] = FIELD("decision", K_TEXT, decision),
    [F_DEPRIVED] = FIELD("deprived", K_DEPRIVED, deprived),
    [F_DONOR] = FIELD("donor", K_TEXT, donor),
    [F_DONOR_KIND] = ENUM_FIELD("donor_kind", donor_kind, ev_donor_kind_names,
                                EV_DONOR_PERSON, EV_DONOR_ANONYMOUS),
    [F_DUE] = INT_FIELD("due", due, EV_AT_MIN, DUE_MAX),
    /* Units are older than the log: any date from 1970. */
    [F_EFFECTIVE] = INT_FIELD("effective", effective, 0, DUE_MAX),
    [F_FROM] = FIELD("from", K_UNIT, from),
    [F_HOUSEHOLDS] = INT_FIELD("households", households, 0, INT64_MAX),
    [F_IN_KIND] = FIELD("in_kind", K_BOOL, in_kind),
    [F_INCOME] = INT_FIELD("income", income, 0, INT64_MAX),
    [F_ITEM] = ENUM_FIELD("item", item, ev_item_names, EV_ITEM_LAND,
                          EV_ITEM_LIVELIHOOD),
    [F_KIND] = ENUM_FIELD("kind", change, ev_change_names, EV_CHANGE_MERGE,
                          EV_CHANGE_ABOLISH),
    [F_ASSISTANCE] = ENUM_FIELD("kind", assistance, ev_assistance_names,
                                EV_ASSISTANCE_REGULAR, EV_ASSISTANCE_EMERGENCY),
    [F_LEVEL] = ENUM_FIELD("level", level, ev_level_names, EV_LEVEL_CENTRAL,
                           EV_LEVEL_COMMUNE),
    /* central: the country, code EV_COUNTRY (ev_unit.h) */
    [F_UNIT_LEVEL] = ENUM_FIELD("level", level, ev_level_names,
                                EV_LEVEL_CENTRAL, EV_LEVEL_COMMUNE),
    [F_LINK] = FIELD("link", K_TEXT, link),
    [F_LOAN] = FIELD("loan", K_TEXT, loan),
    [F_MEMBERS] = INT_FIELD("members", members, 1, INT64_MAX),
    [F_NAME] = FIELD("name", K_TEXT, name),
    [F_NO_LABOUR] = FIELD("no_labour_capacity", K_BOOL, no_labour_capacity),
    [F_ORG] = FIELD("org", K_TEXT, org),
    [F_PARENT] = FIELD("parent", K_PARENT, parent),
    [F_PARTNER] = FIELD("partner", K_TEXT, partner),
    [F_PARTNER_KIND] =
        ENUM_FIELD("partner_kind", partner_kind, ev_partner_kind_names,
                   EV_PARTNER_ENTERPRISE, EV_PARTNER_COOPERATIVE),
    [F_PLEDGE] = FIELD("pledge", K_TEXT, pledge),
    [F_PREDECESSORS] = FIELD("predecessors", K_UNITS, predecessors),
    [F_PRODUCT] = FIELD("product", K_TEXT, product),
    [F_PROGRAM] = FIELD("program", K_TEXT, program),
    [F_NTP] = ENUM_FIELD("program", ntp, ev_ntp_names, EV_NTP_POVERTY_REDUCTION,
                         EV_NTP_ETHNIC_MINORITY),
    [F_PURPOSE] = ENUM_FIELD("purpose", purpose, ev_purpose_names,
                             EV_PURPOSE_HOUSING, EV_PURPOSE_OTHER),
    [F_REASON] = ENUM_FIELD("reason", reason, ev_reason_names,
                            EV_REASON_LANDSLIDE, EV_REASON_OTHER),
    [F_EXIT_REASON] = ENUM_FIELD("reason", exit_reason, ev_exit_names,
                                 EV_EXIT_DIED, EV_EXIT_MERGED),
    [F_REMARK] = FIELD("reason", K_TEXT, remark),
    [F_RECIPIENT] = FIELD("recipient", K_TEXT, recipient),
    [F_RECIPIENT_KIND] =
        ENUM_FIELD("recipient_kind", recipient_kind, ev_recipient_kind_names,
                   EV_RECIPIENT_COLLECTIVE, EV_RECIPIENT_INDIVIDUAL),
    /* Lands in the members of the corrected type; off is unused. */
    [F_RECORD] = FIELD("record", K_RECORD, target_type),
    [F_REPORT] = FIELD("report", K_TEXT, report),
    /* OCOP: products rated 3 stars or more are certified (Decision
     * 148/QĐ-TTg); 1 and 2 stars are not an OCOP product. */
    [F_STARS] = INT_FIELD("stars", stars, 3, 5),
    [F_STATUS] = ENUM_FIELD("status", status, ev_status_names, EV_STATUS_POOR,
                            EV_STATUS_NONE),
    [F_SUCCESSOR] = FIELD("successor", K_UNIT, successor),
    [F_SUCCESSORS] = FIELD("successors", K_UNITS, successors),
    [F_TARGET] = FIELD("target", K_ID, target),
    /* The types that may be voided or corrected (ev_type_amendable). */
    [F_TARGET_TYPE] = ENUM_FIELD("type", target_type, ev_type_names,
                                 EV_DONATION_PLEDGED, EV_CREDIT_REPAID),
    [F_YEAR] = INT_FIELD("year", year, 2000, 2100),
};

enum household_rule { HH_NO, HH_REQUIRED, HH_OPTIONAL };

/* Indexed by enum ev_type; the name is ev_type_names[type]. */
struct type_desc {
    uint64_t required; /* BIT(enum field) */
    uint64_t optional;
    unsigned char household;
};

static const struct type_desc types[EV_TYPE_COUNT] = {
    [EV_UNIT_DEFINED] = {BIT(F_NAME) | BIT(F_PARENT) | BIT(F_UNIT_LEVEL),
                         BIT(F_EFFECTIVE), HH_NO},
    [EV_UNIT_HOUSEHOLDS] = {BIT(F_YEAR) | BIT(F_HOUSEHOLDS), 0, HH_NO},
    [EV_HOUSEHOLD_ASSESSED] = {BIT(F_YEAR) | BIT(F_AREA) | BIT(F_MEMBERS) |
                                   BIT(F_INCOME) | BIT(F_DEPRIVED),
                               BIT(F_NO_LABOUR), HH_REQUIRED},
    [EV_HOUSEHOLD_STATUS] = {BIT(F_YEAR) | BIT(F_STATUS), BIT(F_DECISION),
                             HH_REQUIRED},
    [EV_REVIEW_CLOSED] = {BIT(F_YEAR), 0, HH_NO},
    [EV_DONATION_PLEDGED] = {BIT(F_PLEDGE) | BIT(F_AMOUNT) | BIT(F_DONOR) |
                                 BIT(F_DUE),
                             0, HH_NO},
    [EV_DONATION_RECEIVED] = {BIT(F_AMOUNT) | BIT(F_DONOR) | BIT(F_DONOR_KIND) |
                                  BIT(F_LEVEL),
                              BIT(F_PLEDGE) | BIT(F_IN_KIND), HH_NO},
    [EV_FUND_DISBURSED] = {BIT(F_AMOUNT) | BIT(F_PURPOSE) | BIT(F_LEVEL), 0,
                           HH_OPTIONAL},
    [EV_RELOCATION_COMPLETED] = {BIT(F_FROM) | BIT(F_REASON), 0, HH_REQUIRED},
    [EV_RELOCATION_SUPPORT] = {BIT(F_ITEM), BIT(F_AMOUNT), HH_REQUIRED},
    [EV_CREDIT_DISBURSED] = {BIT(F_LOAN) | BIT(F_PROGRAM) | BIT(F_AMOUNT), 0,
                             HH_REQUIRED},
    [EV_CREDIT_REPAID] = {BIT(F_LOAN) | BIT(F_AMOUNT), 0, HH_REQUIRED},
    [EV_REPORT_DUE] = {BIT(F_ORG) | BIT(F_REPORT) | BIT(F_DUE), 0, HH_NO},
    [EV_REPORT_SUBMITTED] = {BIT(F_ORG) | BIT(F_REPORT), 0, HH_NO},
    /* Which of the optional fields a kind takes: check_change(). */
    [EV_UNIT_CHANGED] = {BIT(F_KIND) | BIT(F_EFFECTIVE) | BIT(F_PREDECESSORS),
                         BIT(F_SUCCESSOR) | BIT(F_SUCCESSORS) | BIT(F_NAME) |
                             BIT(F_PARENT),
                         HH_NO},
    [EV_HOUSEHOLD_EXITED] = {BIT(F_EXIT_REASON) | BIT(F_YEAR), 0, HH_REQUIRED},
    [EV_HOUSEHOLD_MOVED] = {BIT(F_FROM), 0, HH_REQUIRED},
    [EV_PRODUCTION_LINKED] = {BIT(F_LINK) | BIT(F_PARTNER) |
                                  BIT(F_PARTNER_KIND) | BIT(F_PRODUCT) |
                                  BIT(F_YEAR),
                              0, HH_REQUIRED},
    [EV_OCOP_CERTIFIED] = {BIT(F_PRODUCT) | BIT(F_STARS), BIT(F_PARTNER),
                           HH_NO},
    [EV_ASSISTANCE_PAID] = {BIT(F_ASSISTANCE) | BIT(F_AMOUNT), 0, HH_REQUIRED},
    [EV_BUDGET_ALLOCATED] = {BIT(F_NTP) | BIT(F_COMPONENT) | BIT(F_YEAR) |
                                 BIT(F_AMOUNT),
                             0, HH_NO},
    [EV_BUDGET_SPENT] = {BIT(F_NTP) | BIT(F_COMPONENT) | BIT(F_YEAR) |
                             BIT(F_AMOUNT),
                         0, HH_NO},
    [EV_COMMENDATION_AWARDED] = {BIT(F_RECIPIENT) | BIT(F_RECIPIENT_KIND) |
                                     BIT(F_AWARDED_BY) | BIT(F_LEVEL),
                                 BIT(F_DECISION), HH_NO},
    [EV_RECORD_VOIDED] = {BIT(F_TARGET) | BIT(F_TARGET_TYPE) | BIT(F_REMARK), 0,
                          HH_NO},
    /* The household as data.type wants it: check_corrected(). */
    [EV_RECORD_CORRECTED] = {BIT(F_TARGET) | BIT(F_TARGET_TYPE) |
                                 BIT(F_REMARK) | BIT(F_RECORD),
                             0, HH_OPTIONAL},
};

/* Top-level keys, in canonical order. */
enum top { T_V, T_ID, T_TYPE, T_AT, T_UNIT, T_HOUSEHOLD, T_DATA, T_COUNT };

static const struct field_desc top_keys[T_COUNT] = {
    [T_V] = {.name = "v"},       [T_ID] = {.name = "id"},
    [T_TYPE] = {.name = "type"}, [T_AT] = {.name = "at"},
    [T_UNIT] = {.name = "unit"}, [T_HOUSEHOLD] = {.name = "household"},
    [T_DATA] = {.name = "data"},
};

/* ------------------------------------------------------------------------ */
/* Small helpers                                                            */

void ev_set_error(struct ev_error *err, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    err->why = EV_WHY_OTHER;
}

int ev_set_why(struct ev_error *err, enum ev_why why)
{
    if (err != NULL)
        err->why = why;
    return POVTRACK_EINVALID;
}

const char *ev_quote(char *buf, size_t cap, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0, i;

    for (i = 0; i < len && i < QUOTE_MAX && o + 5 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
            buf[o++] = (char)c;
        } else {
            buf[o++] = '\\';
            buf[o++] = 'x';
            buf[o++] = hex[c >> 4];
            buf[o++] = hex[c & 15];
        }
    }
    if (i < len && o + 4 <= cap) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o] = '\0';
    return buf;
}

bool ev_str_same(struct ev_str a, struct ev_str b)
{
    if (a.ptr == NULL || b.ptr == NULL)
        return a.ptr == b.ptr;
    return a.len == b.len && memcmp(a.ptr, b.ptr, a.len) == 0;
}

/* Index of s in names[lo..hi], or 0 (every table's "absent"). */
static unsigned name_index(const char *const *names, unsigned lo, unsigned hi,
                           const char *s, size_t len)
{
    size_t i = ev_name_find(names + lo, hi - lo + 1, s, len);
    return i <= hi - lo ? lo + (unsigned)i : 0;
}

/* The wire name of the type a descriptor describes. */
static const char *type_name(const struct type_desc *td)
{
    return ev_type_names[td - types];
}

/* ------------------------------------------------------------------------ */
/* Scalar validators.  Each takes the field path for its messages.          */

static int need(const msgpack_object *o, const char *path, struct ev_error *err)
{
    return o != NULL ? POVTRACK_OK : FAIL(err, "%s: required", path);
}

static int get_int(const msgpack_object *o, const char *path, int64_t *v,
                   struct ev_error *err)
{
    switch (o->type) {
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        if (o->via.u64 > (uint64_t)INT64_MAX)
            return FAIL(err, "%s: integer out of range", path);
        *v = (int64_t)o->via.u64;
        return POVTRACK_OK;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        *v = o->via.i64;
        return POVTRACK_OK;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        return FAIL(err, "%s: must be an integer, not a float", path);
    default:
        return FAIL(err, "%s: must be an integer", path);
    }
}

static int check_range(int64_t v, int64_t lo, int64_t hi, const char *path,
                       struct ev_error *err)
{
    if (v >= lo && v <= hi)
        return POVTRACK_OK;
    if (hi == INT64_MAX && lo == 1)
        return FAIL_WHY(err, EV_WHY_RANGE, "%s: must be a positive integer",
                        path);
    if (hi == INT64_MAX && lo == 0)
        return FAIL_WHY(err, EV_WHY_RANGE, "%s: must not be negative", path);
    return FAIL_WHY(err, EV_WHY_RANGE,
                    "%s: must be between %" PRId64 " and %" PRId64, path, lo,
                    hi);
}

/* Unix seconds t in Vietnam (UTC+7, where the clerks are): its date, and
 * with detail 1 the hour and minute, with 2 the seconds too. */
static const char *vn_time(int64_t t, int detail, char *buf, size_t cap)
{
    static const char *const formats[] = {"%Y-%m-%d", "%Y-%m-%d %H:%M",
                                          "%Y-%m-%d %H:%M:%S"};
    time_t tt = (time_t)(t + EV_VN_OFFSET);
    struct tm tm;

    if (t > INT64_MAX - EV_VN_OFFSET || gmtime_r(&tt, &tm) == NULL)
        snprintf(buf, cap, "%" PRId64, t);
    else
        strftime(buf, cap, formats[detail], &tm);
    return buf;
}

/* A time field (at, data.due, data.effective) out of [lo, hi]: said with
 * dates in Vietnam time, as the clerk wrote them, never unix seconds.
 * late_words names hi ("tomorrow", or NULL for the date alone). */
static int time_range(int64_t v, int64_t lo, int64_t hi, const char *path,
                      const char *late_words, struct ev_error *err)
{
    char a[32], b[32];
    int64_t limit = v < lo ? lo : hi;

    if (v >= lo && v <= hi)
        return POVTRACK_OK;
    /* Dates alone, unless the value and its limit fall on one day: then as
     * much of the time as tells them apart. */
    for (int detail = 0; detail < 3; detail++) {
        vn_time(v, detail, a, sizeof a);
        vn_time(limit, detail, b, sizeof b);
        if (strcmp(a, b) != 0)
            break;
    }
    if (v < lo)
        return FAIL_WHY(err, EV_WHY_TOO_EARLY,
                        "%s: %s is before %s (the earliest accepted, Vietnam "
                        "time)",
                        path, a, b);
    if (late_words != NULL)
        return FAIL_WHY(err, EV_WHY_TOO_LATE,
                        "%s: %s is later than %s (%s, Vietnam time)", path, a,
                        late_words, b);
    return FAIL_WHY(err, EV_WHY_TOO_LATE,
                    "%s: %s is after %s (the latest accepted, Vietnam time)",
                    path, a, b);
}

static int get_str(const msgpack_object *o, const char *path, struct ev_str *s,
                   struct ev_error *err)
{
    if (o->type != MSGPACK_OBJECT_STR)
        return FAIL(err, "%s: must be a string", path);
    s->ptr = o->via.str.ptr;
    s->len = o->via.str.size;
    return POVTRACK_OK;
}

static int check_text(struct ev_str s, size_t max, const char *path,
                      struct ev_error *err)
{
    size_t bad;

    if (s.len == 0)
        return FAIL_WHY(err, EV_WHY_EMPTY, "%s: must not be empty", path);
    /* Limits are in bytes; a Vietnamese letter with its marks takes up to
     * three, which is what the clerk needs to know. */
    if (s.len > max)
        return FAIL_WHY(err, EV_WHY_TOO_LONG,
                        "%s: must be at most %zu bytes (about %zu Vietnamese "
                        "characters); this one has %" PRIu32 " bytes",
                        path, max, max / 3, s.len);
    bad = povtrack_proto_utf8_prefix(s.ptr, s.len);
    if (bad != s.len)
        return FAIL_WHY(err, EV_WHY_FORMAT, "%s: invalid UTF-8 at byte %zu",
                        path, bad);
    return POVTRACK_OK;
}

int ev_check_unit_code(struct ev_str s, const char *path, struct ev_error *err)
{
    uint32_t i;

    if (s.len != 2 && s.len != 3 && s.len != 5)
        return FAIL_WHY(err, EV_WHY_FORMAT,
                        "%s: must be 2, 3 or 5 decimal digits", path);
    for (i = 0; i < s.len; i++)
        if (s.ptr[i] < '0' || s.ptr[i] > '9')
            return FAIL_WHY(err, EV_WHY_FORMAT,
                            "%s: must be 2, 3 or 5 decimal digits", path);
    return POVTRACK_OK;
}

/* An event id (an event's own, or the target of a correction). */
static int check_id(struct ev_str id, const char *path, struct ev_error *err)
{
    uint32_t i;

    if (id.len == 0)
        return FAIL(err, "%s: must not be empty", path);
    if (id.len > EV_ID_MAX)
        return FAIL_WHY(err, EV_WHY_TOO_LONG,
                        "%s: must be at most %d bytes; this one has %" PRIu32,
                        path, EV_ID_MAX, id.len);
    for (i = 0; i < id.len; i++)
        if (id.ptr[i] < 0x21 || id.ptr[i] > 0x7e)
            return FAIL(err,
                        "%s: byte %" PRIu32 " is not printable ASCII "
                        "(0x21..0x7e)",
                        path, i);
    return POVTRACK_OK;
}

/* ------------------------------------------------------------------------ */
/* Decoding                                                                 */

/*
 * Sort the entries of a map into slot[] by key, rejecting keys that are not
 * strings, not in allowed, or repeated.  parent is the map's own path (NULL
 * at the top level) and owner the event type the keys belong to, if any.
 */
static int collect(const msgpack_object *map, const struct field_desc *tab,
                   unsigned n, uint64_t allowed, const char *parent,
                   const char *owner, const msgpack_object **slot,
                   struct ev_error *err)
{
    const char *dot = parent != NULL ? "." : "";
    char esc[ESCAPED_MAX];
    uint32_t i;
    unsigned f;

    if (parent == NULL)
        parent = "";
    for (i = 0; i < map->via.map.size; i++) {
        const msgpack_object_kv *kv = &map->via.map.ptr[i];
        const char *key;
        uint32_t len;

        if (kv->key.type != MSGPACK_OBJECT_STR)
            return FAIL(err, "%s: keys must be strings",
                        *parent != '\0' ? parent : "event");
        key = kv->key.via.str.ptr;
        len = kv->key.via.str.size;
        for (f = 0; f < n; f++)
            if ((allowed & BIT(f)) && strlen(tab[f].name) == len &&
                memcmp(tab[f].name, key, len) == 0)
                break;
        if (f == n)
            return FAIL(err, "%s%s%s: unknown field%s%s", parent, dot,
                        ev_quote(esc, sizeof esc, key, len),
                        owner != NULL ? " for " : "",
                        owner != NULL ? owner : "");
        if (slot[f] != NULL)
            return FAIL(err, "%s%s%s: duplicate key", parent, dot,
                        ev_quote(esc, sizeof esc, key, len));
        slot[f] = &kv->val;
    }
    return POVTRACK_OK;
}

/* Where field f lands in d; the member's type follows from the field's
 * kind (int64_t, struct ev_str, uint32_t, ...). */
static void *member(struct ev_data *d, unsigned f)
{
    return (char *)d + fields[f].off;
}

static const void *const_member(const struct ev_data *d, unsigned f)
{
    return (const char *)d + fields[f].off;
}

/* The flag that says a K_BOOL field was given (its value alone cannot:
 * false is a value). */
static bool *bool_has(struct ev_data *d, unsigned f)
{
    return f == F_NO_LABOUR ? &d->has_no_labour_capacity : &d->has_in_kind;
}

/* Enum members are written as int; see the _Static_assert above. */
static void store_enum(struct ev_data *d, unsigned f, unsigned v)
{
    int i = (int)v;

    memcpy(member(d, f), &i, sizeof i);
}

static unsigned load_enum(const struct ev_data *d, unsigned f)
{
    int i;

    memcpy(&i, const_member(d, f), sizeof i);
    return (unsigned)i;
}

static int decode_enum(unsigned f, const msgpack_object *o, const char *path,
                       struct ev_data *d, struct ev_error *err)
{
    const struct field_desc *fd = &fields[f];
    char esc[ESCAPED_MAX], expected[128];
    struct ev_str s;
    size_t used = 0;
    unsigned v, i;
    int rc;

    if ((rc = get_str(o, path, &s, err)) != POVTRACK_OK)
        return rc;
    v = name_index(fd->names, (unsigned)fd->lo, (unsigned)fd->hi, s.ptr, s.len);
    if (v != 0) {
        store_enum(d, f, v);
        return POVTRACK_OK;
    }
    for (i = (unsigned)fd->lo; i <= (unsigned)fd->hi; i++) {
        used += (size_t)snprintf(expected + used, sizeof expected - used,
                                 "%s%s", i > fd->lo ? "|" : "", fd->names[i]);
        if (used >= sizeof expected)
            break; /* cannot happen with the tables above; never overrun */
    }
    return FAIL_WHY(err, EV_WHY_VALUE, "%s: unknown value \"%s\" (expected %s)",
                    path, ev_quote(esc, sizeof esc, s.ptr, s.len), expected);
}

static int decode_deprived(const msgpack_object *o, int64_t year, uint32_t *out,
                           struct ev_error *err)
{
    uint32_t valid = ev_indicators_for_year(year), seen = 0, i;
    char path[32], esc[ESCAPED_MAX];

    if (o->type != MSGPACK_OBJECT_ARRAY)
        return FAIL(err, "data.deprived: must be an array");
    for (i = 0; i < o->via.array.size; i++) {
        const msgpack_object *e = &o->via.array.ptr[i];
        struct ev_str s;
        unsigned ind;
        int rc;

        snprintf(path, sizeof path, "data.deprived[%" PRIu32 "]", i);
        if ((rc = get_str(e, path, &s, err)) != POVTRACK_OK)
            return rc;
        ind = ev_indicator_from_name(s.ptr, s.len);
        ev_quote(esc, sizeof esc, s.ptr, s.len);
        if (ind == EV_IND_COUNT || !(valid & IND_BIT(ind)))
            return FAIL(err, "%s: unknown indicator \"%s\" for %" PRId64, path,
                        esc, year);
        if (seen & IND_BIT(ind))
            return FAIL(err, "%s: duplicate indicator \"%s\"", path, esc);
        seen |= IND_BIT(ind);
    }
    *out = seen;
    return POVTRACK_OK;
}

/* An array of distinct unit codes, 1 to EV_CODES_MAX of them. */
static int decode_codes(const msgpack_object *o, const char *path,
                        struct ev_codes *out, struct ev_error *err)
{
    char epath[64], esc[ESCAPED_MAX]; /* path (at most 47) and "[i]" */
    uint32_t i, j;
    int rc;

    if (o->type != MSGPACK_OBJECT_ARRAY)
        return FAIL(err, "%s: must be an array of unit codes", path);
    if (o->via.array.size == 0)
        return FAIL(err, "%s: must not be empty", path);
    if (o->via.array.size > EV_CODES_MAX)
        return FAIL(err, "%s: at most %d codes, not %" PRIu32, path,
                    EV_CODES_MAX, o->via.array.size);
    for (i = 0; i < o->via.array.size; i++) {
        const msgpack_object *e = &o->via.array.ptr[i];
        struct ev_str s;

        snprintf(epath, sizeof epath, "%s[%" PRIu32 "]", path, i);
        if ((rc = get_str(e, epath, &s, err)) != POVTRACK_OK ||
            (rc = ev_check_unit_code(s, epath, err)) != POVTRACK_OK)
            return rc;
        for (j = 0; j < i; j++)
            if (o->via.array.ptr[j].via.str.size == s.len &&
                memcmp(o->via.array.ptr[j].via.str.ptr, s.ptr, s.len) == 0)
                return FAIL(err, "%s: %s is listed twice", epath,
                            ev_quote(esc, sizeof esc, s.ptr, s.len));
    }
    out->items = o->via.array.ptr;
    out->n = o->via.array.size;
    return POVTRACK_OK;
}

/* data.type of a void or a correction: a type the catalogue knows but
 * that cannot be voided or corrected is named, with the ones that can. */
static int check_target_type(const msgpack_object *o, const char *path,
                             struct ev_error *err)
{
    char esc[ESCAPED_MAX];
    enum ev_type t;

    if (o->type != MSGPACK_OBJECT_STR)
        return POVTRACK_OK; /* decode_enum says it */
    t = ev_type_from_name(o->via.str.ptr, o->via.str.size);
    if (t == EV_TYPE_NONE || ev_type_amendable(t))
        return POVTRACK_OK;
    return FAIL_WHY(err, EV_WHY_VALUE,
                    "%s: a %s cannot be voided or corrected (only donations, "
                    "pledges, fund disbursements, loans, repayments and "
                    "relocations can)",
                    path,
                    ev_quote(esc, sizeof esc, o->via.str.ptr, o->via.str.size));
}

static int decode_data_map(const msgpack_object *o, enum ev_type type,
                           struct ev_str unit, const char *prefix,
                           struct ev_data *d, struct ev_error *err);
static int check_type_rules(enum ev_type type, struct ev_str unit,
                            const struct ev_data *d, struct ev_error *err);

static int decode_field(unsigned f, const msgpack_object *o,
                        const struct type_desc *td, const char *prefix,
                        struct ev_data *d, struct ev_error *err)
{
    const struct field_desc *fd = &fields[f];
    struct ev_str *s;
    char path[48];
    int64_t v;
    int rc;

    /* "<prefix>.<name>" for messages ("data.amount", "data.record.amount"),
     * built on every field of every event: memcpy, not snprintf, which was
     * a tenth of ingest's CPU.  Field names and prefixes are the
     * catalogue's own constants, all far shorter than path. */
    size_t p = strlen(prefix), n = strlen(fd->name);
    if (p > 16)
        p = 16;
    if (n > sizeof path - p - 2)
        n = sizeof path - p - 2;
    memcpy(path, prefix, p);
    path[p] = '.';
    memcpy(path + p + 1, fd->name, n);
    path[p + 1 + n] = '\0';
    if (o == NULL)
        return (td->required & BIT(f))
                   ? FAIL(err, "%s: required for %s", path, type_name(td))
                   : POVTRACK_OK;
    switch (fd->kind) {
    case K_INT:
        if ((rc = get_int(o, path, &v, err)) != POVTRACK_OK)
            return rc;
        rc = f == F_DUE || f == F_EFFECTIVE
                 ? time_range(v, fd->lo, fd->hi, path, NULL, err)
                 : check_range(v, fd->lo, fd->hi, path, err);
        if (rc != POVTRACK_OK)
            return rc;
        *(int64_t *)member(d, f) = v;
        if (f == F_AMOUNT)
            d->has_amount = true;
        if (f == F_EFFECTIVE)
            d->has_effective = true;
        return POVTRACK_OK;
    case K_PARENT:
        if (o->type == MSGPACK_OBJECT_NIL)
            return POVTRACK_OK;
        /* fall through */
    case K_UNIT:
    case K_TEXT:
        s = member(d, f);
        if ((rc = get_str(o, path, s, err)) != POVTRACK_OK)
            return rc;
        return fd->kind == K_TEXT ? check_text(*s, EV_TEXT_MAX, path, err)
                                  : ev_check_unit_code(*s, path, err);
    case K_ENUM:
        if (f == F_TARGET_TYPE &&
            (rc = check_target_type(o, path, err)) != POVTRACK_OK)
            return rc;
        return decode_enum(f, o, path, d, err);
    case K_ID:
        s = member(d, f);
        if ((rc = get_str(o, path, s, err)) != POVTRACK_OK)
            return rc;
        return check_id(*s, path, err);
    case K_RECORD:
        /* The unit of a correction is the corrected record's. */
        return decode_data_map(o, d->target_type, (struct ev_str){0}, path, d,
                               err);
    case K_BOOL:
        if (o->type != MSGPACK_OBJECT_BOOLEAN)
            return FAIL(err, "%s: must be true or false", path);
        *(bool *)member(d, f) = o->via.boolean;
        *bool_has(d, f) = true;
        return POVTRACK_OK;
    case K_DEPRIVED:
        return decode_deprived(o, d->year, &d->deprived, err);
    case K_UNITS:
        return decode_codes(o, path, member(d, f), err);
    }
    return FAIL(err, "%s: internal error: bad field kind", path);
}

/* unit.defined: the country has no parent, a province none or the
 * country (its registry, ev_unit.c, checks which), the others one. */
static int check_parent_presence(const struct ev_data *d, struct ev_error *err)
{
    if (d->level == EV_LEVEL_CENTRAL && d->parent.ptr != NULL)
        return FAIL(err, "data.parent: must be nil for the country");
    if (d->level > EV_LEVEL_PROVINCE && d->parent.ptr == NULL)
        return FAIL(err, "data.parent: required for a %s",
                    ev_level_name(d->level));
    return POVTRACK_OK;
}

/*
 * unit.changed: which of the optional fields each kind takes, and which
 * unit the event is about ("unit": the successor of a merge, else the first
 * predecessor), so that rights and listings name one unit.
 */
static int check_change(const struct ev_str unit, const struct ev_data *d,
                        struct ev_error *err)
{
    /* "a merge", "an abolish": the kind with its article. */
    static const char *const a_kind[] = {
        NULL, "a merge", "a split", "a rename", "a reparent", "an abolish"};
    const char *kind = a_kind[d->change];
    bool succ = d->successor.ptr != NULL, succs = d->successors.n > 0;
    bool name = d->name.ptr != NULL, parent = d->parent.ptr != NULL;
    struct ev_str first = ev_codes_at(d->predecessors, 0);
    char esc[ESCAPED_MAX];

    if (d->change != EV_CHANGE_SPLIT && succs)
        return d->change == EV_CHANGE_ABOLISH
                   ? FAIL(err, "data.successors: not allowed for %s", kind)
                   : FAIL(err,
                          "data.successors: only for a split (%s has "
                          "data.successor)",
                          kind);
    if ((d->change == EV_CHANGE_SPLIT || d->change == EV_CHANGE_ABOLISH) &&
        succ)
        return FAIL(err, "data.successor: not allowed for %s", kind);
    if ((d->change == EV_CHANGE_SPLIT || d->change == EV_CHANGE_ABOLISH) &&
        (name || parent))
        return FAIL(err,
                    "data.%s: not allowed for %s (define new units "
                    "with unit.defined)",
                    name ? "name" : "parent", kind);
    switch (d->change) {
    case EV_CHANGE_MERGE:
        if (!succ)
            return FAIL(err, "data.successor: required for a merge");
        if (!ev_str_same(unit, d->successor))
            return FAIL(
                err, "unit: must be the successor of a merge (%s)",
                ev_quote(esc, sizeof esc, d->successor.ptr, d->successor.len));
        for (uint32_t i = 0; i < d->predecessors.n; i++)
            if (ev_codes_at(d->predecessors, i).len != d->successor.len)
                return FAIL(err,
                            "data.predecessors[%" PRIu32 "]: not of the "
                            "successor's level (%" PRIu32 " digits)",
                            i, d->successor.len);
        return POVTRACK_OK;
    case EV_CHANGE_SPLIT:
        if (d->predecessors.n != 1)
            return FAIL(err, "data.predecessors: a split has one");
        if (d->successors.n < 2)
            return FAIL(err, "data.successors: a split has at least two");
        for (uint32_t i = 0; i < d->successors.n; i++)
            if (ev_codes_at(d->successors, i).len != first.len)
                return FAIL(err,
                            "data.successors[%" PRIu32 "]: not of the "
                            "predecessor's level (%" PRIu32 " digits)",
                            i, first.len);
        break;
    case EV_CHANGE_RENAME:
    case EV_CHANGE_REPARENT:
        if (d->predecessors.n != 1)
            return FAIL(err, "data.predecessors: %s has one", kind);
        if (succ && !ev_str_same(d->successor, first))
            return FAIL(err,
                        "data.successor: %s keeps the code (%s), or "
                        "leave it out",
                        kind, ev_quote(esc, sizeof esc, first.ptr, first.len));
        if (d->change == EV_CHANGE_RENAME && !name)
            return FAIL(err, "data.name: required for a rename");
        if (d->change == EV_CHANGE_RENAME && parent)
            return FAIL(err, "data.parent: not allowed for a rename (send a "
                             "reparent)");
        if (d->change == EV_CHANGE_REPARENT && !parent)
            return FAIL(err, "data.parent: required for a reparent");
        break;
    default:
        break;
    }
    if (!ev_str_same(unit, first))
        return FAIL(err, "unit: must be the first predecessor of %s (%s)", kind,
                    ev_quote(esc, sizeof esc, first.ptr, first.len));
    return POVTRACK_OK;
}

/* "<path>: missing a, b (required for T)" for the names of the set bits of
 * missing in tab, so that a publisher hears of every absent field at once
 * rather than one a round trip. */
static int fail_missing(const struct field_desc *tab, unsigned n,
                        uint64_t missing, const char *path, const char *owner,
                        struct ev_error *err)
{
    char names[EV_ERROR_MAX / 2];
    size_t used = 0;

    names[0] = '\0';
    for (unsigned f = 0; f < n && used < sizeof names; f++)
        if (missing & BIT(f))
            used += (size_t)snprintf(names + used, sizeof names - used, "%s%s",
                                     used > 0 ? ", " : "", tab[f].name);
    if (owner != NULL)
        return FAIL_WHY(err, EV_WHY_MISSING, "%s: missing %s (required for %s)",
                        path, names, owner);
    return FAIL_WHY(err, EV_WHY_MISSING, "%s: missing %s", path, names);
}

/* The data map of an event of type (prefix "data"), or the corrected
 * record's (prefix "data.record"), into d. */
static int decode_data_map(const msgpack_object *o, enum ev_type type,
                           struct ev_str unit, const char *prefix,
                           struct ev_data *d, struct ev_error *err)
{
    const struct type_desc *td = &types[type];
    const msgpack_object *slot[F_COUNT] = {NULL};
    uint64_t want = td->required | td->optional;
    /* Decoded after the rest: which indicators exist depends on data.year,
     * which fields a corrected record has on data.type. */
    const uint64_t last = BIT(F_DEPRIVED) | BIT(F_RECORD);
    unsigned f;
    int rc;

    if ((rc = need(o, prefix, err)) != POVTRACK_OK)
        return rc;
    if (o->type != MSGPACK_OBJECT_MAP)
        return FAIL(err, "%s: must be a map", prefix);
    rc = collect(o, fields, F_COUNT, want, prefix, type_name(td), slot, err);
    if (rc != POVTRACK_OK)
        return rc;
    uint64_t missing = td->required;
    for (f = 0; f < F_COUNT; f++)
        if (slot[f] != NULL)
            missing &= ~BIT(f);
    if (missing != 0)
        return fail_missing(fields, F_COUNT, missing, prefix, type_name(td),
                            err);
    for (f = 0; f < F_COUNT; f++)
        if ((want & BIT(f) & ~last) &&
            (rc = decode_field(f, slot[f], td, prefix, d, err)) != POVTRACK_OK)
            return rc;
    for (f = 0; f < F_COUNT; f++)
        if ((want & BIT(f) & last) &&
            (rc = decode_field(f, slot[f], td, prefix, d, err)) != POVTRACK_OK)
            return rc;
    return check_type_rules(type, unit, d, err);
}

/* The rules of a type beyond its fields (the types a correction holds have
 * none). */
static int check_type_rules(enum ev_type type, struct ev_str unit,
                            const struct ev_data *d, struct ev_error *err)
{
    if (type == EV_UNIT_DEFINED)
        return check_parent_presence(d, err);
    if (type == EV_UNIT_CHANGED)
        return check_change(unit, d, err);
    if (type == EV_HOUSEHOLD_MOVED && ev_str_same(unit, d->from))
        return FAIL(err, "data.from: must not be the unit moved to");
    return POVTRACK_OK;
}

static int decode_data(const msgpack_object *o, enum ev_type type,
                       struct ev_str unit, struct ev_data *d,
                       struct ev_error *err)
{
    return decode_data_map(o, type, unit, "data", d, err);
}

/* record.corrected: the household as the corrected type wants it. */
static int check_corrected(const struct ev_event *ev, struct ev_error *err)
{
    const struct type_desc *td = &types[ev->data.target_type];
    bool hh = ev->household.ptr != NULL;

    if (!hh && td->household == HH_REQUIRED)
        return FAIL(err, "household: required for a correction of %s",
                    type_name(td));
    if (hh && td->household == HH_NO)
        return FAIL(err, "household: not allowed for a correction of %s",
                    type_name(td));
    return POVTRACK_OK;
}

static int decode_version(const msgpack_object *o, struct ev_error *err)
{
    int64_t v;
    int rc;

    if ((rc = need(o, "v", err)) != POVTRACK_OK ||
        (rc = get_int(o, "v", &v, err)) != POVTRACK_OK)
        return rc;
    if (v != EV_VERSION)
        return FAIL(err, "v: unsupported version %" PRId64 " (expected %d)", v,
                    EV_VERSION);
    return POVTRACK_OK;
}

static int decode_id(const msgpack_object *o, struct ev_str *id,
                     struct ev_error *err)
{
    int rc;

    if ((rc = need(o, "id", err)) != POVTRACK_OK ||
        (rc = get_str(o, "id", id, err)) != POVTRACK_OK)
        return rc;
    return check_id(*id, "id", err);
}

static int decode_type(const msgpack_object *o, enum ev_type *type,
                       struct ev_error *err)
{
    char esc[ESCAPED_MAX];
    struct ev_str s;
    int rc;

    if ((rc = need(o, "type", err)) != POVTRACK_OK ||
        (rc = get_str(o, "type", &s, err)) != POVTRACK_OK)
        return rc;
    *type = ev_type_from_name(s.ptr, s.len);
    if (*type == EV_TYPE_NONE)
        return FAIL(err, "type: unknown event type \"%s\"",
                    ev_quote(esc, sizeof esc, s.ptr, s.len));
    return POVTRACK_OK;
}

static int decode_at(const msgpack_object *o, int64_t max_at, int64_t *at,
                     struct ev_error *err)
{
    int rc;

    if ((rc = need(o, "at", err)) != POVTRACK_OK ||
        (rc = get_int(o, "at", at, err)) != POVTRACK_OK)
        return rc;
    /* max_at is now + EV_AT_SLACK at ingest: "tomorrow". */
    return time_range(*at, EV_AT_MIN, max_at, "at", "tomorrow", err);
}

static int decode_unit(const msgpack_object *o, struct ev_str *unit,
                       struct ev_error *err)
{
    int rc;

    if ((rc = need(o, "unit", err)) != POVTRACK_OK ||
        (rc = get_str(o, "unit", unit, err)) != POVTRACK_OK)
        return rc;
    return ev_check_unit_code(*unit, "unit", err);
}

static int decode_household(const msgpack_object *o, const struct type_desc *td,
                            struct ev_str *hh, struct ev_error *err)
{
    int rc;

    if (o == NULL)
        return td->household == HH_REQUIRED
                   ? FAIL(err, "household: required for %s", type_name(td))
                   : POVTRACK_OK;
    if (td->household == HH_NO)
        return FAIL(err, "household: not allowed for %s", type_name(td));
    if ((rc = get_str(o, "household", hh, err)) != POVTRACK_OK)
        return rc;
    return check_text(*hh, EV_HOUSEHOLD_MAX, "household", err);
}

int ev_decode(const msgpack_object *obj, int64_t max_at, struct ev_event *out,
              struct ev_error *err)
{
    const msgpack_object *slot[T_COUNT] = {NULL};
    int rc;

    if (out == NULL)
        return FAIL(err, "event: no output");
    memset(out, 0, sizeof *out);
    if (obj == NULL || obj->type != MSGPACK_OBJECT_MAP)
        return FAIL(err, "event: must be a map");
    /* Keys are checked in wire order, values in canonical order, so the
     * error reported for a bad value does not depend on key order. */
    rc = collect(obj, top_keys, T_COUNT, BIT(T_COUNT) - 1, NULL, NULL, slot,
                 err);
    if (rc == POVTRACK_OK) {
        uint64_t missing = 0;
        for (unsigned t = 0; t < T_COUNT; t++)
            if (t != T_HOUSEHOLD && slot[t] == NULL)
                missing |= BIT(t);
        if (missing != 0)
            rc = fail_missing(top_keys, T_COUNT, missing, "event", NULL, err);
    }
    if (rc == POVTRACK_OK)
        rc = decode_version(slot[T_V], err);
    if (rc == POVTRACK_OK)
        rc = decode_id(slot[T_ID], &out->id, err);
    if (rc == POVTRACK_OK)
        rc = decode_type(slot[T_TYPE], &out->type, err);
    if (rc == POVTRACK_OK)
        rc = decode_at(slot[T_AT], max_at, &out->at, err);
    if (rc == POVTRACK_OK)
        rc = decode_unit(slot[T_UNIT], &out->unit, err);
    if (rc == POVTRACK_OK)
        rc = decode_household(slot[T_HOUSEHOLD], &types[out->type],
                              &out->household, err);
    if (rc == POVTRACK_OK)
        rc = decode_data(slot[T_DATA], out->type, out->unit, &out->data, err);
    if (rc == POVTRACK_OK && out->type == EV_RECORD_CORRECTED)
        rc = check_corrected(out, err);
    return rc;
}

enum ev_rule ev_field_rule(enum ev_type type, const char *name)
{
    const struct type_desc *td;

    if (type <= EV_TYPE_NONE || type >= EV_TYPE_COUNT || name == NULL)
        return EV_RULE_NONE;
    td = &types[type];
    if (strcmp(name, "household") == 0)
        return td->household == HH_REQUIRED   ? EV_RULE_REQUIRED
               : td->household == HH_OPTIONAL ? EV_RULE_OPTIONAL
                                              : EV_RULE_NONE;
    for (unsigned f = 0; f < F_COUNT; f++) {
        if (strcmp(fields[f].name, name) != 0)
            continue;
        if (td->required & BIT(f))
            return EV_RULE_REQUIRED;
        if (td->optional & BIT(f))
            return EV_RULE_OPTIONAL;
    }
    return EV_RULE_NONE;
}

/* ------------------------------------------------------------------------ */
/* Canonical encoding                                                       */

static uint64_t fields_to_encode(const struct type_desc *td,
                                 const struct ev_data *d);
static int pack_data(msgpack_packer *pk, const struct ev_data *d, uint64_t set);

/* Optional fields whose zero value means something carry a flag; optional
 * text is present when it points somewhere. */
static bool optional_present(const struct ev_data *d, unsigned f)
{
    switch (f) {
    case F_AMOUNT:
        return d->has_amount;
    case F_IN_KIND:
        return d->has_in_kind;
    case F_NO_LABOUR:
        return d->has_no_labour_capacity;
    case F_EFFECTIVE:
        return d->has_effective;
    case F_SUCCESSORS:
        return d->successors.n > 0;
    default:
        return ((const struct ev_str *)const_member(d, f))->ptr != NULL;
    }
}

static int pack_cstr(msgpack_packer *pk, const char *s)
{
    return msgpack_pack_str_with_body(pk, s, strlen(s));
}

static int pack_str(msgpack_packer *pk, struct ev_str s)
{
    return msgpack_pack_str_with_body(pk, s.ptr, s.len);
}

static unsigned popcount(uint64_t x)
{
    unsigned n = 0;

    for (; x != 0; x &= x - 1)
        n++;
    return n;
}

static int pack_deprived(msgpack_packer *pk, uint32_t set)
{
    unsigned i;
    int r;

    set &= IND_BIT(EV_IND_COUNT) - 1;
    r = msgpack_pack_array(pk, popcount(set));
    for (i = 0; i < EV_IND_COUNT; i++)
        if (set & IND_BIT(i))
            r |= pack_cstr(pk, ev_indicator_names[i]);
    return r;
}

/* A value no decoded event holds: a required string missing, an enum out
 * of its field's range.  Checked before anything is packed, so that a
 * rejected event leaves nothing half-written in the packer. */
static bool field_encodable(const struct ev_data *d, unsigned f)
{
    const struct field_desc *fd = &fields[f];
    unsigned v;

    switch (fd->kind) {
    case K_TEXT:
    case K_UNIT:
        return ((const struct ev_str *)const_member(d, f))->ptr != NULL;
    case K_ENUM:
        v = load_enum(d, f);
        return v >= fd->lo && v <= fd->hi;
    case K_UNITS:
        return ((const struct ev_codes *)const_member(d, f))->n > 0;
    case K_ID:
        return ((const struct ev_str *)const_member(d, f))->ptr != NULL;
    case K_RECORD:
        return ev_type_amendable(d->target_type) &&
               fields_to_encode(&types[d->target_type], d) != 0;
    default:
        return true;
    }
}

static int pack_codes(msgpack_packer *pk, struct ev_codes c)
{
    int r = msgpack_pack_array(pk, c.n);

    for (uint32_t i = 0; i < c.n; i++)
        r |= pack_str(pk, ev_codes_at(c, i));
    return r;
}

static int pack_field(msgpack_packer *pk, const struct ev_data *d, unsigned f)
{
    const struct field_desc *fd = &fields[f];
    const struct ev_str *s;

    switch (fd->kind) {
    case K_RECORD:
        return pack_data(pk, d, fields_to_encode(&types[d->target_type], d));
    case K_INT:
        return msgpack_pack_int64(pk, *(const int64_t *)const_member(d, f));
    case K_PARENT:
    case K_TEXT:
    case K_UNIT:
    case K_ID:
        s = const_member(d, f);
        return s->ptr != NULL ? pack_str(pk, *s) : msgpack_pack_nil(pk);
    case K_ENUM:
        return pack_cstr(pk, fd->names[load_enum(d, f)]);
    case K_BOOL:
        return *(const bool *)const_member(d, f) ? msgpack_pack_true(pk)
                                                 : msgpack_pack_false(pk);
    case K_DEPRIVED:
        return pack_deprived(pk, d->deprived);
    case K_UNITS:
        return pack_codes(pk, *(const struct ev_codes *)const_member(d, f));
    }
    return -1;
}

/* The data fields to encode, or 0 when d cannot be encoded (every type has
 * a required field, so 0 is never a valid set). */
static uint64_t fields_to_encode(const struct type_desc *td,
                                 const struct ev_data *d)
{
    if (td->required & BIT(F_RECORD) && !ev_type_amendable(d->target_type))
        return 0; /* checked before the record's own fields are */
    uint64_t out = td->required;
    unsigned f;

    for (f = 0; f < F_COUNT; f++)
        if ((td->optional & BIT(f)) && optional_present(d, f))
            out |= BIT(f);
    for (f = 0; f < F_COUNT; f++)
        if ((out & BIT(f)) && !field_encodable(d, f))
            return 0;
    return out;
}

/* The map of the fields in set, in canonical order. */
static int pack_data(msgpack_packer *pk, const struct ev_data *d, uint64_t set)
{
    int r = msgpack_pack_map(pk, popcount(set));

    for (unsigned f = 0; f < F_COUNT; f++) {
        if (set & BIT(f)) {
            r |= pack_cstr(pk, fields[f].name);
            r |= pack_field(pk, d, f);
        }
    }
    return r;
}

int ev_encode(const struct ev_event *ev, msgpack_packer *pk)
{
    const struct type_desc *td;
    uint64_t data;
    bool hh;
    int r;

    if (ev == NULL || pk == NULL || ev->type <= EV_TYPE_NONE ||
        ev->type >= EV_TYPE_COUNT || ev->id.ptr == NULL || ev->unit.ptr == NULL)
        return POVTRACK_EINVALID;
    td = &types[ev->type];
    hh = ev->household.ptr != NULL;
    if ((hh && td->household == HH_NO) || (!hh && td->household == HH_REQUIRED))
        return POVTRACK_EINVALID;
    if (ev->type == EV_RECORD_CORRECTED &&
        (!ev_type_amendable(ev->data.target_type) ||
         check_corrected(ev, NULL) != POVTRACK_OK))
        return POVTRACK_EINVALID;
    if ((data = fields_to_encode(td, &ev->data)) == 0)
        return POVTRACK_EINVALID;

    /* Packer calls return 0 or -1; only whether one failed matters. */
    r = msgpack_pack_map(pk, hh ? T_COUNT : T_COUNT - 1);
    r |= pack_cstr(pk, "v");
    r |= msgpack_pack_int64(pk, EV_VERSION);
    r |= pack_cstr(pk, "id");
    r |= pack_str(pk, ev->id);
    r |= pack_cstr(pk, "type");
    r |= pack_cstr(pk, type_name(td));
    r |= pack_cstr(pk, "at");
    r |= msgpack_pack_int64(pk, ev->at);
    r |= pack_cstr(pk, "unit");
    r |= pack_str(pk, ev->unit);
    if (hh) {
        r |= pack_cstr(pk, "household");
        r |= pack_str(pk, ev->household);
    }
    r |= pack_cstr(pk, "data");
    r |= pack_data(pk, &ev->data, data);
    return r == 0 ? POVTRACK_OK : POVTRACK_ENOMEM;
}
