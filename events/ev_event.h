/*
 * ev_event.h - the event catalogue: what a valid povtrack event is.
 *
 * This header is the whole contract of the events module.  The daemon uses
 * it to validate what publishers send, the plugin host to decode what the log
 * holds, and plugins to read events.  Nothing else in povtrack decides
 * whether an event is valid.
 *
 * Decoding is zero-copy: every struct ev_str in a decoded event points into
 * the msgpack buffer it was decoded from, so the event is valid only while
 * that buffer (and the msgpack zone that references it) is alive.  Strings
 * are NOT NUL-terminated.
 *
 * Stored form: an accepted event is re-encoded canonically by ev_encode()
 * (fixed key order, data keys in a fixed order per type, absent optional
 * fields omitted, integers in their shortest msgpack form), so two events
 * with the same meaning have the same bytes.  Idempotency compares those
 * bytes.
 */
#ifndef POVTRACK_EV_EVENT_H
#define POVTRACK_EV_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include <povtrack/protocol.h>

#define EV_VERSION 1

/* Limits of the v1 catalogue.  Exceeding one is a rejection, never a
 * truncation. */
#define EV_ID_MAX 128       /* bytes of printable ASCII */
#define EV_UNIT_MAX 5       /* decimal digits: 2, 3 or 5 */
#define EV_HOUSEHOLD_MAX 64 /* bytes */
#define EV_TEXT_MAX 256     /* names, donors, pledges, loans, orgs... */
#define EV_ERROR_MAX 256    /* bytes of an error message, NUL included */
/* msgpack nesting of a request: the protocol's (<povtrack/protocol.h>). */
#define EV_DEPTH_MAX POVTRACK_PROTO_DEPTH_MAX
#define EV_AT_MIN INT64_C(946684800) /* 2000-01-01T00:00:00Z */
#define EV_AT_SLACK INT64_C(86400)   /* "at" may be up to one day ahead */

/* A byte string inside a decoded buffer.  Absent optional: ptr == NULL. */
struct ev_str {
    const char *ptr;
    uint32_t len;
};

enum ev_type {
    EV_TYPE_NONE = 0,
    EV_UNIT_DEFINED,
    EV_UNIT_HOUSEHOLDS,
    EV_HOUSEHOLD_ASSESSED,
    EV_HOUSEHOLD_STATUS,
    EV_REVIEW_CLOSED,
    EV_DONATION_PLEDGED,
    EV_DONATION_RECEIVED,
    EV_FUND_DISBURSED,
    EV_RELOCATION_COMPLETED,
    EV_RELOCATION_SUPPORT,
    EV_CREDIT_DISBURSED,
    EV_CREDIT_REPAID,
    EV_REPORT_DUE,
    EV_REPORT_SUBMITTED,
    /* Appended, so that the bits of the types above stay where plugins
     * built earlier expect them. */
    EV_UNIT_CHANGED,
    EV_HOUSEHOLD_EXITED,
    EV_TYPE_COUNT
};

/* Bit for an event type in a plugin's event mask. */
#define EV_TYPE_BIT(t) (UINT64_C(1) << (unsigned)(t))

/* Values of enumerated fields.  0 always means "absent". */
enum ev_level {
    EV_LEVEL_NONE = 0,
    EV_LEVEL_CENTRAL, /* donation/fund level only */
    EV_LEVEL_PROVINCE,
    EV_LEVEL_DISTRICT,
    EV_LEVEL_COMMUNE
};
enum ev_area { EV_AREA_NONE = 0, EV_AREA_RURAL, EV_AREA_URBAN };
enum ev_status {
    EV_STATUS_NONE_SET = 0,
    EV_STATUS_POOR,
    EV_STATUS_NEAR_POOR,
    EV_STATUS_AVERAGE,
    EV_STATUS_NONE /* "none": above the average-living-standard line */
};
enum ev_donor_kind {
    EV_DONOR_NONE = 0,
    EV_DONOR_PERSON,
    EV_DONOR_ORGANISATION,
    EV_DONOR_BUSINESS,
    EV_DONOR_ANONYMOUS
};
enum ev_purpose {
    EV_PURPOSE_NONE = 0,
    EV_PURPOSE_HOUSING,
    EV_PURPOSE_LIVELIHOOD,
    EV_PURPOSE_EDUCATION,
    EV_PURPOSE_HEALTH,
    EV_PURPOSE_TET,
    EV_PURPOSE_DISASTER,
    EV_PURPOSE_OTHER,
    EV_PURPOSE_COUNT
};
enum ev_reason {
    EV_REASON_NONE = 0,
    EV_REASON_LANDSLIDE,
    EV_REASON_FLOOD,
    EV_REASON_EROSION,
    EV_REASON_FOREST,
    EV_REASON_OTHER
};
enum ev_item {
    EV_ITEM_NONE = 0,
    EV_ITEM_LAND,
    EV_ITEM_HOUSING,
    EV_ITEM_WATER,
    EV_ITEM_LIVELIHOOD
};

/* How a unit.changed reorganises units (and how a unit's span ended). */
enum ev_change {
    EV_CHANGE_NONE = 0,
    EV_CHANGE_MERGE,    /* predecessors -> one successor */
    EV_CHANGE_SPLIT,    /* one predecessor -> successors */
    EV_CHANGE_RENAME,   /* one unit, new name */
    EV_CHANGE_REPARENT, /* one unit, new parent (and maybe name) */
    EV_CHANGE_ABOLISH   /* predecessors end, no successor */
};
/* Why a household left the register (household.exited). */
enum ev_exit {
    EV_EXIT_NONE = 0,
    EV_EXIT_DIED,
    EV_EXIT_MOVED_OUT,
    EV_EXIT_SPLIT,
    EV_EXIT_MERGED
};

/* Most unit codes in one list of a unit.changed. */
#define EV_CODES_MAX 32

/* A list of unit codes (unit.changed's predecessors and successors): the
 * elements of a decoded msgpack array, every one a valid unit code string.
 * Like struct ev_str it points into the decoded buffer.  n == 0: absent. */
struct ev_codes {
    const msgpack_object *items;
    uint32_t n;
};

/* The i-th code (i < n). */
static inline struct ev_str ev_codes_at(struct ev_codes c, uint32_t i)
{
    struct ev_str s = {c.items[i].via.str.ptr, c.items[i].via.str.size};
    return s;
}

/* Deprivation indicators of the multidimensional poverty standard
 * (../shared/brief/domain.md).  A household's "deprived" array decodes to a
 * bit set of these.  The 12 indicators of Decree 07/2021 apply to years up to
 * 2026; from 2027 (Decree 351/2025) "information_access" is gone and
 * "waste_treatment" is added. */
enum ev_indicator {
    EV_IND_EMPLOYMENT = 0,
    EV_IND_DEPENDANTS,
    EV_IND_NUTRITION,
    EV_IND_HEALTH_INSURANCE,
    EV_IND_ADULT_EDUCATION,
    EV_IND_SCHOOL_ATTENDANCE,
    EV_IND_HOUSING_QUALITY,
    EV_IND_HOUSING_AREA,
    EV_IND_WATER,
    EV_IND_LATRINE,
    EV_IND_TELECOM,
    EV_IND_INFORMATION_ACCESS,
    EV_IND_WASTE_TREATMENT,
    EV_IND_COUNT
};

/*
 * A decoded event.  Which data fields are meaningful depends on type; the
 * rest are zero.  The catalogue (field names as on the wire):
 *
 *   unit.defined         name, parent (str or nil), level, effective?
 *   unit.households      year, households
 *   household.assessed   [household] year, area, members, income, deprived
 *   household.status     [household] year, status, decision?
 *   review.closed        year
 *   donation.pledged     pledge, amount, donor, due
 *   donation.received    amount, donor, donor_kind, level, pledge?, in_kind?
 *   fund.disbursed       [household?] amount, purpose, level
 *   relocation.completed [household] from, reason
 *   relocation.support   [household] item, amount?
 *   credit.disbursed     [household] loan, program, amount
 *   credit.repaid        [household] loan, amount
 *   report.due           org, report, due
 *   report.submitted     org, report
 *   unit.changed         kind, effective, predecessors, successor?,
 *                        successors?, name?, parent?  (see ev_unit.h)
 *   household.exited     [household] reason (exit_reason), year
 */
struct ev_data {
    int64_t year;
    int64_t households;
    int64_t members;
    int64_t income; /* VND per person per month */
    int64_t amount; /* VND */
    int64_t due;    /* unix seconds */
    struct ev_str name;
    struct ev_str parent; /* unit.defined: ptr NULL for a province */
    struct ev_str decision;
    struct ev_str pledge;
    struct ev_str donor;
    struct ev_str from; /* relocation.completed: unit code moved from */
    struct ev_str loan;
    struct ev_str program;
    struct ev_str org;
    struct ev_str report;
    uint32_t deprived; /* bit (1u << enum ev_indicator) per indicator */
    enum ev_level level;
    enum ev_area area;
    enum ev_status status;
    enum ev_donor_kind donor_kind;
    enum ev_purpose purpose;
    enum ev_reason reason;
    enum ev_item item;
    bool has_amount; /* relocation.support: amount is optional */
    bool has_in_kind;
    bool in_kind;
    /* Appended (plugin ABI: members above keep their offsets). */
    bool has_effective;
    int64_t effective;     /* unix seconds: first instant a unit change holds */
    enum ev_change change; /* unit.changed: wire "kind" */
    enum ev_exit exit_reason; /* household.exited: wire "reason" */
    struct ev_str successor;
    struct ev_codes predecessors;
    struct ev_codes successors;
};

struct ev_event {
    enum ev_type type;
    struct ev_str id;
    int64_t at; /* unix seconds UTC */
    struct ev_str unit;
    struct ev_str household; /* ptr NULL when absent */
    struct ev_data data;
};

/* What the unit registry knows of a unit, for reference checks. */
struct ev_unit {
    struct ev_str code;
    struct ev_str name;
    struct ev_str parent; /* ptr NULL for a province */
    enum ev_level level;
};

/* Return codes.  0 is success. */
enum ev_rc {
    EV_OK = 0,
    EV_EINVAL = 1,    /* the input is not a valid event; see err */
    EV_ENOTFOUND = 2, /* unit lookup: no such unit */
    EV_ENOMEM = 3
};

/* A rejection message names the field and the reason, e.g.
 * "data.amount: must be a positive integer". */
struct ev_error {
    char msg[EV_ERROR_MAX];
};

/*
 * The pre-validator of untrusted msgpack and the strict reply check are the
 * protocol module's (<povtrack/protocol.h>: povtrack_proto_precheck,
 * povtrack_proto_check_strict).  Deprecated: these are their names from
 * before it, reporting in this module's terms (EV_EINVAL and an ev_error);
 * use the povtrack_proto_* names.
 */
#define ev_limits povtrack_proto_limits

/* An ack echoes every id the catalogue accepts. */
_Static_assert(EV_ID_MAX == POVTRACK_PROTO_ID_MAX, "EV_ID_MAX");

static inline int ev_precheck_limits(const void *buf, size_t len,
                                     const struct ev_limits *lim,
                                     struct ev_error *err)
{
    return povtrack_proto_precheck(buf, len, lim, err ? err->msg : NULL,
                                   err ? sizeof err->msg : 0) == 0
               ? EV_OK
               : EV_EINVAL;
}

/* ev_precheck_limits() with no limit but max_depth. */
static inline int ev_precheck(const void *buf, size_t len, unsigned max_depth,
                              struct ev_error *err)
{
    struct ev_limits lim = {max_depth, UINT32_MAX, UINT32_MAX, UINT32_MAX,
                            NULL};
    return ev_precheck_limits(buf, len, &lim, err);
}

static inline int ev_msgpack_strict(const void *buf, size_t len,
                                    struct ev_error *err)
{
    return povtrack_proto_check_strict(buf, len, err ? err->msg : NULL,
                                       err ? sizeof err->msg : 0) == 0
               ? EV_OK
               : EV_EINVAL;
}

/*
 * Decode and validate one event map.  Checks everything that can be checked
 * from the event alone: keys, types, required and optional fields, enums,
 * lengths, ranges, "at" in [EV_AT_MIN, max_at].  Pass max_at = now +
 * EV_AT_SLACK at ingest, INT64_MAX when decoding stored events.  Unknown
 * keys are rejected.  On EV_EINVAL, err names the field and reason.
 */
int ev_decode(const msgpack_object *obj, int64_t max_at, struct ev_event *out,
              struct ev_error *err);

/* Reference checks against the unit registry (ev_check_refs) are declared
 * in ev_unit.h, with the registry's history of each code. */

/* Canonical msgpack encoding of a valid event, appended to pk. */
int ev_encode(const struct ev_event *ev, msgpack_packer *pk);

/* Names as on the wire.  *_name() returns NULL for an out-of-range value;
 * *_from_name() returns the NONE/0 value for an unknown name. */
const char *ev_type_name(enum ev_type t);
enum ev_type ev_type_from_name(const char *s, size_t len);
const char *ev_level_name(enum ev_level v);
const char *ev_area_name(enum ev_area v);
const char *ev_status_name(enum ev_status v);
const char *ev_donor_kind_name(enum ev_donor_kind v);
const char *ev_purpose_name(enum ev_purpose v);
const char *ev_reason_name(enum ev_reason v);
const char *ev_item_name(enum ev_item v);
const char *ev_change_name(enum ev_change v);
const char *ev_exit_name(enum ev_exit v);
const char *ev_indicator_name(enum ev_indicator v);
/* Dimension ("employment", "health", "education", "housing",
 * "water_sanitation", "information") of an indicator. */
const char *ev_indicator_dimension(enum ev_indicator v);
/* Indicators of the standard in force for a year, as a bit set. */
uint32_t ev_indicators_for_year(int64_t year);

/* Compare an ev_str with a C string. */
bool ev_str_eq(struct ev_str s, const char *cstr);

#endif /* POVTRACK_EV_EVENT_H */
