/*
 * povtrack/event.h - the event catalogue as plugins (and any other reader
 * of decoded events) see it: the types of a decoded event, the names of
 * every enumerated value as on the wire, and the deprivation indicators of
 * each year's standard.
 *
 * This header is installed and compiles on its own with the system
 * headers and msgpack-c.  Everything in it is a type, a constant or a
 * static inline function over a static const table, so that a plugin built
 * outside the tree needs nothing from povtrack's libraries: the events
 * module (events/ev_event.h, not installed) decodes, validates and encodes
 * with these very tables.
 *
 * Decoding is zero-copy: every struct ev_str in a decoded event points into
 * the msgpack buffer it was decoded from, so the event is valid only while
 * that buffer (and the msgpack zone that references it) is alive.  Strings
 * are NOT NUL-terminated.
 *
 * ABI.  struct ev_event reaches plugins through struct povtrack_record
 * (povtrack/plugin.h), struct ev_unit through the host's unit().  The host
 * fills them and plugins read them, so struct ev_data may grow at its end
 * (a plugin built earlier reads only the members it knows); nothing else
 * here changes layout within a plugin ABI version.  povtrack/plugin.h freezes
 * the layout with static assertions.
 */
#ifndef POVTRACK_EVENT_H
#define POVTRACK_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <msgpack.h>

#define EV_VERSION 1

/* Limits of the v1 catalogue.  Exceeding one is a rejection, never a
 * truncation. */
#define EV_ID_MAX 128       /* bytes of printable ASCII */
#define EV_UNIT_MAX 5       /* decimal digits: 2, 3 or 5 */
#define EV_HOUSEHOLD_MAX 64 /* bytes */
#define EV_TEXT_MAX 256     /* names, donors, pledges, loans, orgs... */
/* Most unit codes in one list of a unit.changed. */
#define EV_CODES_MAX 32

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
    EV_HOUSEHOLD_MOVED,
    /* The rest of the plan (II.3 production links, OCOP and social
     * protection; II.4 the National Target Programmes' budget; III.4
     * commendations). */
    EV_PRODUCTION_LINKED,
    EV_OCOP_CERTIFIED,
    EV_ASSISTANCE_PAID,
    EV_BUDGET_ALLOCATED,
    EV_BUDGET_SPENT,
    EV_COMMENDATION_AWARDED,
    /* Corrections kept in the log: an earlier record voided or replaced,
     * by its id.  The original stays in the log. */
    EV_RECORD_VOIDED,
    EV_RECORD_CORRECTED,
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
/* Who a household's production link is with (production.linked). */
enum ev_partner_kind {
    EV_PARTNER_NONE = 0,
    EV_PARTNER_ENTERPRISE,
    EV_PARTNER_COOPERATIVE
};
/* Social assistance (Decree 20/2021): monthly ("regular") or emergency
 * (assistance.paid's "kind"). */
enum ev_assistance {
    EV_ASSISTANCE_NONE = 0,
    EV_ASSISTANCE_REGULAR,
    EV_ASSISTANCE_EMERGENCY
};
/* National Target Programmes (budget.*'s "program"): sustainable poverty
 * reduction 2021-2025 (Resolution 24/2021/QH15) and socio-economic
 * development of ethnic-minority and mountainous areas 2021-2030
 * (Resolution 120/2020/QH14). */
enum ev_ntp {
    EV_NTP_NONE = 0,
    EV_NTP_POVERTY_REDUCTION,
    EV_NTP_ETHNIC_MINORITY,
    EV_NTP_COUNT
};
/* Who is commended (commendation.awarded). */
enum ev_recipient_kind {
    EV_RECIPIENT_NONE = 0,
    EV_RECIPIENT_COLLECTIVE,
    EV_RECIPIENT_INDIVIDUAL
};
/* Why a household left the register (household.exited). */
enum ev_exit {
    EV_EXIT_NONE = 0,
    EV_EXIT_DIED,
    EV_EXIT_MOVED_OUT,
    EV_EXIT_SPLIT,
    EV_EXIT_MERGED
};

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

/* Deprivation indicators of the multidimensional poverty standard.  A
 * household's "deprived" array decodes to a bit set of these.  The 12
 * indicators of Decree 07/2021 apply to years up to 2026; from 2027
 * (Decree 351/2025) "information_access" is gone and "waste_treatment" is
 * added (ev_indicators_for_year). */
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
 *   household.assessed   [household] year, area, members, income, deprived,
 *                        no_labour_capacity?
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
 *                        successors?, name?, parent?
 *   household.exited     [household] reason (exit_reason), year
 *   household.moved      [household] from: the household moved from that
 *                        unit to the event's unit at "at"
 *   production.linked    [household] link, partner, partner_kind, product,
 *                        year
 *   ocop.certified       product, stars, partner?
 *   assistance.paid      [household] kind (assistance), amount
 *   budget.allocated     program (ntp), component, year, amount
 *   budget.spent         program (ntp), component, year, amount
 *   commendation.awarded recipient, recipient_kind, awarded_by, level,
 *                        decision?
 *   record.voided        target, type (target_type), reason (remark): the
 *                        record with id target, of that type, no longer
 *                        counts; "unit" is the record's unit
 *   record.corrected     [household as the type wants] target, type
 *                        (target_type), reason (remark), record: the
 *                        corrected record's data, the fields of its type
 *                        (decoded into the members of that type here);
 *                        "unit", "at" and "household" are the corrected
 *                        record's.  It replaces the target (or the target's
 *                        latest correction) in every indicator.
 * Only the types of ev_type_amendable() may be voided or corrected.
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
    struct ev_str from; /* relocation.completed, household.moved: unit code
                           moved from */
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
    /* Appended for the rest of the plan (II.3, II.4, III.4). */
    struct ev_str link;       /* production.linked: the link's id */
    struct ev_str partner;    /* the enterprise or cooperative */
    struct ev_str product;    /* production.linked, ocop.certified */
    struct ev_str component;  /* budget.*: the programme's project */
    struct ev_str recipient;  /* commendation.awarded: who */
    struct ev_str awarded_by; /* commendation.awarded: by whom */
    int64_t stars;            /* ocop.certified: 3 to 5 */
    enum ev_partner_kind partner_kind;
    enum ev_assistance assistance; /* assistance.paid: wire "kind" */
    enum ev_ntp ntp;               /* budget.*: wire "program" */
    enum ev_recipient_kind recipient_kind;
    /* household.assessed: no member of the household is able to work
     * (optional; absent reads as false). */
    bool has_no_labour_capacity;
    bool no_labour_capacity;
    /* Appended for corrections (record.voided, record.corrected). */
    struct ev_str target;     /* the id of the record voided or corrected */
    struct ev_str remark;     /* why: wire "reason" (text) */
    enum ev_type target_type; /* wire "type": the target's type */
};

struct ev_event {
    enum ev_type type;
    struct ev_str id;
    int64_t at; /* unix seconds UTC */
    struct ev_str unit;
    struct ev_str household; /* ptr NULL when absent */
    struct ev_data data;
};

/* What the unit registry knows of a unit (the host's unit()). */
struct ev_unit {
    struct ev_str code;
    struct ev_str name;
    struct ev_str parent; /* ptr NULL for a province */
    enum ev_level level;
};

/* ---- names as on the wire ---- */

/* One table per enumeration, indexed by its value; NULL at 0 ("absent").
 * The events module parses the wire with these tables too. */
static const char *const ev_type_names[EV_TYPE_COUNT] = {
    [EV_UNIT_DEFINED] = "unit.defined",
    [EV_UNIT_HOUSEHOLDS] = "unit.households",
    [EV_HOUSEHOLD_ASSESSED] = "household.assessed",
    [EV_HOUSEHOLD_STATUS] = "household.status",
    [EV_REVIEW_CLOSED] = "review.closed",
    [EV_DONATION_PLEDGED] = "donation.pledged",
    [EV_DONATION_RECEIVED] = "donation.received",
    [EV_FUND_DISBURSED] = "fund.disbursed",
    [EV_RELOCATION_COMPLETED] = "relocation.completed",
    [EV_RELOCATION_SUPPORT] = "relocation.support",
    [EV_CREDIT_DISBURSED] = "credit.disbursed",
    [EV_CREDIT_REPAID] = "credit.repaid",
    [EV_REPORT_DUE] = "report.due",
    [EV_REPORT_SUBMITTED] = "report.submitted",
    [EV_UNIT_CHANGED] = "unit.changed",
    [EV_HOUSEHOLD_EXITED] = "household.exited",
    [EV_HOUSEHOLD_MOVED] = "household.moved",
    [EV_PRODUCTION_LINKED] = "production.linked",
    [EV_OCOP_CERTIFIED] = "ocop.certified",
    [EV_ASSISTANCE_PAID] = "assistance.paid",
    [EV_BUDGET_ALLOCATED] = "budget.allocated",
    [EV_BUDGET_SPENT] = "budget.spent",
    [EV_COMMENDATION_AWARDED] = "commendation.awarded",
    [EV_RECORD_VOIDED] = "record.voided",
    [EV_RECORD_CORRECTED] = "record.corrected",
};
static const char *const ev_level_names[] = {NULL, "central", "province",
                                             "district", "commune"};
static const char *const ev_area_names[] = {NULL, "rural", "urban"};
static const char *const ev_status_names[] = {NULL, "poor", "near_poor",
                                              "average", "none"};
static const char *const ev_donor_kind_names[] = {
    NULL, "person", "organisation", "business", "anonymous"};
static const char *const ev_purpose_names[EV_PURPOSE_COUNT] = {
    NULL,     "housing", "livelihood", "education",
    "health", "tet",     "disaster",   "other"};
static const char *const ev_reason_names[] = {NULL,      "landslide", "flood",
                                              "erosion", "forest",    "other"};
static const char *const ev_item_names[] = {NULL, "land", "housing", "water",
                                            "livelihood"};
static const char *const ev_change_names[] = {NULL,     "merge",    "split",
                                              "rename", "reparent", "abolish"};
static const char *const ev_exit_names[] = {NULL, "died", "moved_out", "split",
                                            "merged"};
static const char *const ev_partner_kind_names[] = {NULL, "enterprise",
                                                    "cooperative"};
static const char *const ev_assistance_names[] = {NULL, "regular", "emergency"};
static const char *const ev_ntp_names[EV_NTP_COUNT] = {
    NULL, "poverty_reduction", "ethnic_minority"};
static const char *const ev_recipient_kind_names[] = {NULL, "collective",
                                                      "individual"};
/* Indicators start at 0: no "absent" entry. */
static const char *const ev_indicator_names[EV_IND_COUNT] = {
    [EV_IND_EMPLOYMENT] = "employment",
    [EV_IND_DEPENDANTS] = "dependants",
    [EV_IND_NUTRITION] = "nutrition",
    [EV_IND_HEALTH_INSURANCE] = "health_insurance",
    [EV_IND_ADULT_EDUCATION] = "adult_education",
    [EV_IND_SCHOOL_ATTENDANCE] = "school_attendance",
    [EV_IND_HOUSING_QUALITY] = "housing_quality",
    [EV_IND_HOUSING_AREA] = "housing_area",
    [EV_IND_WATER] = "water",
    [EV_IND_LATRINE] = "latrine",
    [EV_IND_TELECOM] = "telecom",
    [EV_IND_INFORMATION_ACCESS] = "information_access",
    [EV_IND_WASTE_TREATMENT] = "waste_treatment",
};
/* The dimension each indicator belongs to. */
static const char *const ev_indicator_dimensions[EV_IND_COUNT] = {
    [EV_IND_EMPLOYMENT] = "employment",
    [EV_IND_DEPENDANTS] = "employment",
    [EV_IND_NUTRITION] = "health",
    [EV_IND_HEALTH_INSURANCE] = "health",
    [EV_IND_ADULT_EDUCATION] = "education",
    [EV_IND_SCHOOL_ATTENDANCE] = "education",
    [EV_IND_HOUSING_QUALITY] = "housing",
    [EV_IND_HOUSING_AREA] = "housing",
    [EV_IND_WATER] = "water_sanitation",
    [EV_IND_LATRINE] = "water_sanitation",
    [EV_IND_TELECOM] = "information",
    [EV_IND_INFORMATION_ACCESS] = "information",
    /* Decree 351/2025 groups waste treatment with water and latrines. */
    [EV_IND_WASTE_TREATMENT] = "water_sanitation",
};

/* An entry of a names table, or NULL when v is out of its range. */
#define EV_NAME_AT(table, v)                                                   \
    ((unsigned)(v) < sizeof(table) / sizeof((table)[0]) ? (table)[(v)] : NULL)

/* *_name() returns the wire name, or NULL for an out-of-range value. */
static inline const char *ev_type_name(enum ev_type t)
{
    return EV_NAME_AT(ev_type_names, t);
}
static inline const char *ev_level_name(enum ev_level v)
{
    return EV_NAME_AT(ev_level_names, v);
}
static inline const char *ev_area_name(enum ev_area v)
{
    return EV_NAME_AT(ev_area_names, v);
}
static inline const char *ev_status_name(enum ev_status v)
{
    return EV_NAME_AT(ev_status_names, v);
}
static inline const char *ev_donor_kind_name(enum ev_donor_kind v)
{
    return EV_NAME_AT(ev_donor_kind_names, v);
}
static inline const char *ev_purpose_name(enum ev_purpose v)
{
    return EV_NAME_AT(ev_purpose_names, v);
}
static inline const char *ev_reason_name(enum ev_reason v)
{
    return EV_NAME_AT(ev_reason_names, v);
}
static inline const char *ev_item_name(enum ev_item v)
{
    return EV_NAME_AT(ev_item_names, v);
}
static inline const char *ev_change_name(enum ev_change v)
{
    return EV_NAME_AT(ev_change_names, v);
}
static inline const char *ev_exit_name(enum ev_exit v)
{
    return EV_NAME_AT(ev_exit_names, v);
}
static inline const char *ev_partner_kind_name(enum ev_partner_kind v)
{
    return EV_NAME_AT(ev_partner_kind_names, v);
}
static inline const char *ev_assistance_name(enum ev_assistance v)
{
    return EV_NAME_AT(ev_assistance_names, v);
}
static inline const char *ev_ntp_name(enum ev_ntp v)
{
    return EV_NAME_AT(ev_ntp_names, v);
}
static inline const char *ev_recipient_kind_name(enum ev_recipient_kind v)
{
    return EV_NAME_AT(ev_recipient_kind_names, v);
}
static inline const char *ev_indicator_name(enum ev_indicator v)
{
    return EV_NAME_AT(ev_indicator_names, v);
}
/* Dimension ("employment", "health", "education", "housing",
 * "water_sanitation", "information") of an indicator. */
static inline const char *ev_indicator_dimension(enum ev_indicator v)
{
    return EV_NAME_AT(ev_indicator_dimensions, v);
}

/* Where the name s (len bytes, not NUL-terminated) is in names[0..n-1]:
 * its index, or n when it is none of them.  NULL entries never match. */
static inline size_t ev_name_find(const char *const *names, size_t n,
                                  const char *s, size_t len)
{
    for (size_t i = 0; s != NULL && i < n; i++)
        if (names[i] != NULL && strlen(names[i]) == len &&
            memcmp(names[i], s, len) == 0)
            return i;
    return n;
}

/* The type named s, or EV_TYPE_NONE for an unknown name. */
static inline enum ev_type ev_type_from_name(const char *s, size_t len)
{
    size_t i = ev_name_find(ev_type_names, EV_TYPE_COUNT, s, len);
    return i < EV_TYPE_COUNT ? (enum ev_type)i : EV_TYPE_NONE;
}

/* May records of type t be voided or corrected?  The donations, pledges,
 * disbursements, loans and relocations: what the fund, credit and
 * relocation figures count (one contiguous run of enum ev_type). */
static inline bool ev_type_amendable(enum ev_type t)
{
    return t >= EV_DONATION_PLEDGED && t <= EV_CREDIT_REPAID;
}

/* Is t a type that voids or corrects an earlier record? */
static inline bool ev_type_amends(enum ev_type t)
{
    return t == EV_RECORD_VOIDED || t == EV_RECORD_CORRECTED;
}

/* The indicator named s, or EV_IND_COUNT for an unknown name. */
static inline enum ev_indicator ev_indicator_from_name(const char *s,
                                                       size_t len)
{
    size_t i = ev_name_find(ev_indicator_names, EV_IND_COUNT, s, len);
    return (enum ev_indicator)i;
}

/* Indicators of the standard in force for a year, as a bit set. */
static inline uint32_t ev_indicators_for_year(int64_t year)
{
    /* Decree 07/2021 (extended through 2026): the first twelve. */
    uint32_t set = (UINT32_C(1) << EV_IND_WASTE_TREATMENT) - 1;

    /* Decree 351/2025 from 2027: information access out, waste in. */
    if (year >= 2027)
        set = (set & ~(UINT32_C(1) << EV_IND_INFORMATION_ACCESS)) |
              UINT32_C(1) << EV_IND_WASTE_TREATMENT;
    return set;
}

/* Compare an ev_str with a C string (false when either is absent). */
static inline bool ev_str_eq(struct ev_str s, const char *cstr)
{
    return s.ptr != NULL && cstr != NULL && strlen(cstr) == s.len &&
           memcmp(s.ptr, cstr, s.len) == 0;
}

#endif /* POVTRACK_EVENT_H */
