/*
 * test_events.c - the events module against its contract (ev_event.h).
 *
 * Events are written in a compact msgpack notation so that each case reads
 * like the event it is:
 *
 *   {k:v,...}  map        [a,b]  array       nil true false
 *   'text'     str        b'..'  bin         word  str (letters, digits, _ .)
 *   'a'*300    str of 300 a's    \xNN \' \\  escapes inside quotes
 *   12  -3     shortest int      #12         the same int as uint 64
 *   1.5        float 64          1.5f        float 32
 *
 * Every case goes through the real ingest path: pack, the pre-check,
 * msgpack_unpack_next, ev_decode.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ev_event.h"
#include "ev_unit.h"

#define NOW INT64_C(1750000000) /* 2025-06-15 */
#define MAX_AT (NOW + EV_AT_SLACK)
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------------------ */
/* The notation                                                             */

struct notation {
    const char *s;
    msgpack_packer *pk;
};

static void skip_ws(struct notation *n)
{
    while (*n->s == ' ' || *n->s == '\n')
        n->s++;
}

static const char *skip_quoted(const char *s)
{
    for (s++; *s != '\0' && *s != '\''; s++)
        if (*s == '\\' && s[1] != '\0')
            s++;
    return *s == '\'' ? s + 1 : s;
}

/* Elements of the container whose opening bracket is at s. */
static uint32_t count_elements(const char *s)
{
    uint32_t count = 0;
    int depth = 0;
    bool any = false;

    for (s++; *s != '\0'; s++) {
        if (*s == '\'') {
            s = skip_quoted(s) - 1;
            any = true;
        } else if (*s == '{' || *s == '[') {
            depth++;
            any = true;
        } else if (*s == '}' || *s == ']') {
            if (depth-- == 0)
                break;
        } else if (*s == ',' && depth == 0) {
            count++;
        } else if (*s != ' ') {
            any = true;
        }
    }
    return any ? count + 1 : 0;
}

static size_t unquote(const char **sp, char *out, size_t cap)
{
    const char *s = *sp + 1;
    size_t len = 0;

    while (*s != '\'') {
        char c = *s++;
        assert_true(c != '\0');
        if (c == '\\') {
            if (*s == 'x') {
                char hex[3] = {s[1], s[2], '\0'};
                c = (char)strtoul(hex, NULL, 16);
                s += 3;
            } else {
                c = *s++;
            }
        }
        assert_true(len < cap);
        out[len++] = c;
    }
    s++;
    if (*s == '*') { /* 'abc'*N repeats the body */
        char *end;
        unsigned long times = strtoul(s + 1, &end, 10);
        size_t body = len;
        assert_true(body * times <= cap);
        for (len = body; len < body * times; len++)
            out[len] = out[len - body];
        s = end;
    }
    *sp = s;
    return len;
}

static void pack_value(struct notation *n);

static void pack_container(struct notation *n, bool map)
{
    uint32_t count = count_elements(n->s), i;

    if (map)
        msgpack_pack_map(n->pk, count);
    else
        msgpack_pack_array(n->pk, count);
    n->s++;
    for (i = 0; i < count; i++) {
        if (i > 0) {
            skip_ws(n);
            assert_int_equal(*n->s, ',');
            n->s++;
        }
        pack_value(n);
        if (map) {
            skip_ws(n);
            assert_int_equal(*n->s, ':');
            n->s++;
            pack_value(n);
        }
    }
    skip_ws(n);
    assert_int_equal(*n->s, map ? '}' : ']');
    n->s++;
}

static void pack_number(struct notation *n)
{
    const char *s = n->s;
    char *end;

    if (*s == '#') {
        msgpack_pack_fix_uint64(n->pk, strtoull(s + 1, &end, 10));
    } else if (strspn(s, "-0123456789") < strspn(s, "-0123456789.")) {
        double d = strtod(s, &end);
        if (*end == 'f') {
            msgpack_pack_float(n->pk, (float)d);
            end++;
        } else {
            msgpack_pack_double(n->pk, d);
        }
    } else if (*s == '-') {
        msgpack_pack_int64(n->pk, strtoll(s, &end, 10));
    } else {
        msgpack_pack_uint64(n->pk, strtoull(s, &end, 10));
    }
    n->s = end;
}

static void pack_value(struct notation *n)
{
    static char text[100000];
    const char *start;
    size_t len;

    skip_ws(n);
    start = n->s;
    if (*start == '{' || *start == '[') {
        pack_container(n, *start == '{');
    } else if (*start == '\'' || (*start == 'b' && start[1] == '\'')) {
        if (*start == 'b')
            n->s++;
        len = unquote(&n->s, text, sizeof text);
        if (*start == 'b') {
            msgpack_pack_bin(n->pk, len);
            msgpack_pack_bin_body(n->pk, text, len);
        } else {
            msgpack_pack_str_with_body(n->pk, text, len);
        }
    } else if (*start == '-' || *start == '#' ||
               (*start >= '0' && *start <= '9')) {
        pack_number(n);
    } else {
        len = strspn(start, "abcdefghijklmnopqrstuvwxyz"
                            "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.");
        assert_true(len > 0);
        n->s += len;
        if (len == 3 && memcmp(start, "nil", 3) == 0)
            msgpack_pack_nil(n->pk);
        else if (len == 4 && memcmp(start, "true", 4) == 0)
            msgpack_pack_true(n->pk);
        else if (len == 5 && memcmp(start, "false", 5) == 0)
            msgpack_pack_false(n->pk);
        else
            msgpack_pack_str_with_body(n->pk, start, len);
    }
}

static void pack_text(msgpack_sbuffer *sb, const char *text)
{
    msgpack_packer pk;
    struct notation n = {text, &pk};

    msgpack_sbuffer_init(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    pack_value(&n);
    skip_ws(&n);
    if (*n.s != '\0')
        fail_msg("notation: junk at \"%s\" in %s", n.s, text);
}

/* ------------------------------------------------------------------------ */
/* Decoding through the ingest path                                         */

struct doc {
    msgpack_sbuffer sb;
    msgpack_unpacked up;
    struct ev_event ev;
    struct ev_error err;
};

/* povtrack_proto_precheck with no limit but depth, into an ev_error. */
static int precheck(const void *buf, size_t len, unsigned depth,
                    struct ev_error *err)
{
    struct povtrack_proto_limits lim = {depth, UINT32_MAX, UINT32_MAX,
                                        UINT32_MAX, NULL};
    return povtrack_proto_precheck(buf, len, &lim, err ? err->msg : NULL,
                                   err ? sizeof err->msg : 0);
}

static int doc_unpack(struct doc *d)
{
    size_t off = 0;
    int rc;

    msgpack_unpacked_init(&d->up);
    rc = precheck(d->sb.data, d->sb.size, EV_DEPTH_MAX, &d->err);
    if (rc != POVTRACK_OK)
        return rc;
    assert_int_equal(msgpack_unpack_next(&d->up, d->sb.data, d->sb.size, &off),
                     MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(off, d->sb.size);
    return POVTRACK_OK;
}

static int doc_decode(struct doc *d, const char *text)
{
    int rc;

    memset(d, 0, sizeof *d);
    pack_text(&d->sb, text);
    rc = doc_unpack(d);
    if (rc == POVTRACK_OK)
        rc = ev_decode(&d->up.data, MAX_AT, &d->ev, &d->err);
    return rc;
}

static void doc_free(struct doc *d)
{
    msgpack_unpacked_destroy(&d->up);
    msgpack_sbuffer_destroy(&d->sb);
}

/* Canonical bytes of a decoded event. */
static void encode(const struct ev_event *ev, msgpack_sbuffer *sb)
{
    msgpack_packer pk;

    msgpack_sbuffer_init(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    assert_int_equal(ev_encode(ev, &pk), POVTRACK_OK);
}

static bool str_same(struct ev_str a, struct ev_str b)
{
    if (a.ptr == NULL || b.ptr == NULL)
        return a.ptr == b.ptr;
    return a.len == b.len && memcmp(a.ptr, b.ptr, a.len) == 0;
}

static bool codes_same(struct ev_codes a, struct ev_codes b)
{
    if (a.n != b.n)
        return false;
    for (uint32_t i = 0; i < a.n; i++)
        if (!str_same(ev_codes_at(a, i), ev_codes_at(b, i)))
            return false;
    return true;
}

static bool event_same(const struct ev_event *a, const struct ev_event *b)
{
    const struct ev_data *x = &a->data, *y = &b->data;

    return a->type == b->type && str_same(a->id, b->id) && a->at == b->at &&
           str_same(a->unit, b->unit) && str_same(a->household, b->household) &&
           x->year == y->year && x->households == y->households &&
           x->members == y->members && x->income == y->income &&
           x->amount == y->amount && x->due == y->due &&
           str_same(x->name, y->name) && str_same(x->parent, y->parent) &&
           str_same(x->decision, y->decision) &&
           str_same(x->pledge, y->pledge) && str_same(x->donor, y->donor) &&
           str_same(x->from, y->from) && str_same(x->loan, y->loan) &&
           str_same(x->program, y->program) && str_same(x->org, y->org) &&
           str_same(x->report, y->report) && x->deprived == y->deprived &&
           x->level == y->level && x->area == y->area &&
           x->status == y->status && x->donor_kind == y->donor_kind &&
           x->purpose == y->purpose && x->reason == y->reason &&
           x->item == y->item && x->has_amount == y->has_amount &&
           x->has_in_kind == y->has_in_kind && x->in_kind == y->in_kind &&
           x->has_effective == y->has_effective &&
           x->effective == y->effective && x->change == y->change &&
           x->exit_reason == y->exit_reason &&
           str_same(x->successor, y->successor) &&
           codes_same(x->predecessors, y->predecessors) &&
           codes_same(x->successors, y->successors) &&
           str_same(x->link, y->link) && str_same(x->partner, y->partner) &&
           str_same(x->product, y->product) &&
           str_same(x->component, y->component) &&
           str_same(x->recipient, y->recipient) &&
           str_same(x->awarded_by, y->awarded_by) && x->stars == y->stars &&
           x->partner_kind == y->partner_kind &&
           x->assistance == y->assistance && x->ntp == y->ntp &&
           x->recipient_kind == y->recipient_kind &&
           x->has_no_labour_capacity == y->has_no_labour_capacity &&
           x->no_labour_capacity == y->no_labour_capacity;
}

struct reject {
    const char *text;
    const char *msg; /* expected prefix of the message */
};

static void check_rejects(const struct reject *cases, size_t n)
{
    size_t i, bad = 0;

    for (i = 0; i < n; i++) {
        struct doc d;
        int rc = doc_decode(&d, cases[i].text);

        if (rc != POVTRACK_EINVALID ||
            strncmp(d.err.msg, cases[i].msg, strlen(cases[i].msg)) != 0) {
            print_error("case %zu: %.300s\n  rc %d, got  \"%s\"\n  want "
                        "\"%s...\"\n",
                        i, cases[i].text, rc, rc ? d.err.msg : "",
                        cases[i].msg);
            bad++;
        }
        assert_true(strlen(d.err.msg) < EV_ERROR_MAX);
        doc_free(&d);
    }
    assert_int_equal(bad, 0);
}

/* Headers of the test events: a commune and a province. */
#define HDR(type) "v:1,id:e1,type:" type ",at:1700000000,unit:'22924'"
#define HDRP(type) "v:1,id:e1,type:" type ",at:1700000000,unit:'60'"
#define HH "household:'HH-0001'"

/* One valid event of every type, all optional fields present. */
static const char *const valid_events[EV_TYPE_COUNT] = {
    [EV_UNIT_DEFINED] =
        "{" HDRP("unit.defined") ",data:{name:'Bình "
                                 "Thuận',parent:nil,level:province,"
                                 "effective:1751302800}}",
    [EV_UNIT_HOUSEHOLDS] = "{" HDRP("unit.households") ",data:{year:2024,"
                                                       "households:300000}}",
    [EV_HOUSEHOLD_ASSESSED] =
        "{" HDR("household.assessed") "," HH
                                      ",data:{year:2024,area:urban,members:4,"
                                      "income:1200000,deprived:[water,latrine,"
                                      "telecom],no_labour_capacity:true}}",
    [EV_HOUSEHOLD_STATUS] =
        "{" HDR("household.status") "," HH
                                    ",data:{year:2024,status:poor,decision:'QĐ "
                                    "123/2024'}}",
    [EV_REVIEW_CLOSED] = "{" HDR("review.closed") ",data:{year:2024}}",
    [EV_DONATION_PLEDGED] =
        "{" HDRP("donation.pledged") ",data:{pledge:'P-1',"
                                     "amount:50000000,donor:'Công ty A',"
                                     "due:1735689600}}",
    [EV_DONATION_RECEIVED] = "{" HDRP(
        "donation.received") ",data:{amount:"
                             "20000000,donor:'Công ty A',donor_kind:business,"
                             "level:province,pledge:'P-1',in_kind:false}}",
    [EV_FUND_DISBURSED] = "{" HDR(
        "fund.disbursed") "," HH
                          ",data:{amount:5000000,purpose:tet,level:commune}}",
    [EV_RELOCATION_COMPLETED] = "{" HDR(
        "relocation.completed") "," HH ",data:{from:'22930',reason:landslide}}",
    [EV_RELOCATION_SUPPORT] = "{" HDR(
        "relocation.support") "," HH ",data:{item:housing,amount:40000000}}",
    [EV_CREDIT_DISBURSED] =
        "{" HDR("credit.disbursed") "," HH
                                    ",data:{loan:'L-77',program:'VBSP poor "
                                    "households',amount:100000000}}",
    [EV_CREDIT_REPAID] =
        "{" HDR("credit.repaid") "," HH ",data:{loan:'L-77',amount:10000000}}",
    [EV_REPORT_DUE] =
        "{" HDRP("report.due") ",data:{org:'Sở LĐTBXH',"
                               "report:'annual review 2024',due:1734134400}}",
    [EV_REPORT_SUBMITTED] =
        "{" HDRP("report.submitted") ",data:{org:'Sở "
                                     "LĐTBXH',report:'annual review 2024'}}",
    /* A merge: the only kind that takes successor, name and parent. */
    [EV_UNIT_CHANGED] =
        "{" HDR("unit.changed") ",data:{kind:merge,effective:1751302800,"
                                "predecessors:['22921','22924','22936'],"
                                "successor:'22924',name:'Phú Thủy',"
                                "parent:'68'}}",
    [EV_HOUSEHOLD_EXITED] = "{" HDR(
        "household.exited") "," HH ",data:{reason:moved_out,year:2025}}",
    [EV_HOUSEHOLD_MOVED] =
        "{" HDR("household.moved") "," HH ",data:{from:'22930'}}",
    [EV_PRODUCTION_LINKED] =
        "{" HDR("production.linked") "," HH
                                     ",data:{link:'LK-2024-07',partner:'HTX "
                                     "Thanh Long Hàm Thuận Nam',partner_kind:"
                                     "cooperative,product:'Thanh long ruột "
                                     "đỏ',year:2024}}",
    [EV_OCOP_CERTIFIED] =
        "{" HDR("ocop.certified") ",data:{product:'Thanh long ruột đỏ',stars:4,"
                                  "partner:'HTX Thanh Long Hàm Thuận Nam'}}",
    [EV_ASSISTANCE_PAID] =
        "{" HDR("assistance.paid") "," HH ",data:{kind:regular,amount:500000}}",
    [EV_BUDGET_ALLOCATED] = "{" HDR(
        "budget.allocated") ",data:{program:poverty_reduction,component:"
                            "'Dự án 2',year:2024,amount:1500000000}}",
    [EV_BUDGET_SPENT] = "{" HDR(
        "budget.spent") ",data:{program:ethnic_minority,component:'Dự án "
                        "1',year:2024,amount:250000000}}",
    [EV_COMMENDATION_AWARDED] =
        "{" HDRP("commendation.awarded") ",data:{recipient:'Hội Nông dân "
                                         "xã Hàm Chính',recipient_kind:"
                                         "collective,awarded_by:'UBND tỉnh "
                                         "Bình Thuận',level:province,"
                                         "decision:'QĐ 45/QĐ-UBND'}}",
    [EV_RECORD_VOIDED] =
        "{" HDRP("record.voided") ",data:{target:'BL-0012',type:"
                                  "donation.received,reason:'hàng trùng'}}",
    [EV_RECORD_CORRECTED] =
        "{" HDR("record.corrected") "," HH ",data:{target:'reloc-7',type:"
                                    "relocation.completed,reason:'sai xã đi',"
                                    "record:{from:'22930',reason:flood}}}",
};

/* ------------------------------------------------------------------------ */
/* Names                                                                    */

static void test_names(void **state)
{
    int t;

    (void)state;
    for (t = EV_TYPE_NONE + 1; t < EV_TYPE_COUNT; t++) {
        const char *name = ev_type_name((enum ev_type)t);
        assert_non_null(name);
        assert_int_equal(ev_type_from_name(name, strlen(name)), t);
    }
    assert_null(ev_type_name(EV_TYPE_NONE));
    assert_null(ev_type_name(EV_TYPE_COUNT));
    assert_int_equal(ev_type_from_name("unit.define", 11), EV_TYPE_NONE);
    assert_int_equal(ev_type_from_name("unit.definedx", 13), EV_TYPE_NONE);
    assert_int_equal(ev_type_from_name("unit.definedx", 12), EV_UNIT_DEFINED);

    assert_string_equal(ev_level_name(EV_LEVEL_CENTRAL), "central");
    assert_string_equal(ev_level_name(EV_LEVEL_COMMUNE), "commune");
    assert_null(ev_level_name(EV_LEVEL_NONE));
    assert_null(ev_level_name((enum ev_level)99));
    assert_string_equal(ev_area_name(EV_AREA_URBAN), "urban");
    assert_string_equal(ev_status_name(EV_STATUS_NEAR_POOR), "near_poor");
    assert_string_equal(ev_status_name(EV_STATUS_NONE), "none");
    assert_string_equal(ev_donor_kind_name(EV_DONOR_ORGANISATION),
                        "organisation");
    assert_string_equal(ev_purpose_name(EV_PURPOSE_TET), "tet");
    assert_null(ev_purpose_name(EV_PURPOSE_COUNT));
    assert_string_equal(ev_reason_name(EV_REASON_EROSION), "erosion");
    assert_string_equal(ev_item_name(EV_ITEM_WATER), "water");
    assert_null(ev_item_name((enum ev_item)5));
    assert_string_equal(ev_indicator_name(EV_IND_HEALTH_INSURANCE),
                        "health_insurance");
    assert_string_equal(ev_indicator_name(EV_IND_WASTE_TREATMENT),
                        "waste_treatment");
    assert_null(ev_indicator_name(EV_IND_COUNT));
    assert_string_equal(ev_indicator_dimension(EV_IND_DEPENDANTS),
                        "employment");
    assert_string_equal(ev_indicator_dimension(EV_IND_LATRINE),
                        "water_sanitation");
    assert_string_equal(ev_indicator_dimension(EV_IND_INFORMATION_ACCESS),
                        "information");
    assert_null(ev_indicator_dimension(EV_IND_COUNT));

    assert_int_equal(ev_indicators_for_year(2022), 0xfff);
    assert_int_equal(ev_indicators_for_year(2026), 0xfff);
    assert_int_equal(ev_indicators_for_year(2027),
                     (0xfff & ~(1u << EV_IND_INFORMATION_ACCESS)) |
                         (1u << EV_IND_WASTE_TREATMENT));

    assert_true(ev_str_eq((struct ev_str){"abc", 3}, "abc"));
    assert_false(ev_str_eq((struct ev_str){"abc", 2}, "abc"));
    assert_false(ev_str_eq((struct ev_str){NULL, 0}, ""));
}

/* ------------------------------------------------------------------------ */
/* Valid events                                                             */

/* Data keys of canonical bytes must be strictly ascending. */
static void assert_canonical_layout(const msgpack_object *o)
{
    static const char *const top[] = {"v",    "id",        "type", "at",
                                      "unit", "household", "data"};
    const msgpack_object_map *m = &o->via.map, *d;
    uint32_t i, k = 0;

    assert_int_equal(o->type, MSGPACK_OBJECT_MAP);
    for (i = 0; i < m->size; i++, k++) {
        if (m->size == 6 && k == 5)
            k++; /* no household */
        assert_int_equal(m->ptr[i].key.via.str.size, strlen(top[k]));
        assert_memory_equal(m->ptr[i].key.via.str.ptr, top[k], strlen(top[k]));
    }
    d = &m->ptr[m->size - 1].val.via.map;
    for (i = 1; i < d->size; i++) {
        const msgpack_object_str *a = &d->ptr[i - 1].key.via.str;
        const msgpack_object_str *b = &d->ptr[i].key.via.str;
        uint32_t n = a->size < b->size ? a->size : b->size;
        int c = memcmp(a->ptr, b->ptr, n);
        assert_true(c < 0 || (c == 0 && a->size < b->size));
    }
}

static void test_valid_all_types(void **state)
{
    int t;

    (void)state;
    for (t = EV_TYPE_NONE + 1; t < EV_TYPE_COUNT; t++) {
        struct doc a, b;
        msgpack_sbuffer once, twice;

        if (doc_decode(&a, valid_events[t]) != POVTRACK_OK)
            fail_msg("%s: %s", ev_type_name((enum ev_type)t), a.err.msg);
        assert_int_equal(a.ev.type, t);

        /* decode(encode(decode(x))) == decode(x), and encoding is a fixed
         * point. */
        encode(&a.ev, &once);
        memset(&b, 0, sizeof b);
        b.sb = once;
        assert_int_equal(doc_unpack(&b), POVTRACK_OK);
        assert_canonical_layout(&b.up.data);
        assert_int_equal(ev_decode(&b.up.data, MAX_AT, &b.ev, &b.err),
                         POVTRACK_OK);
        assert_true(event_same(&a.ev, &b.ev));
        encode(&b.ev, &twice);
        assert_int_equal(once.size, twice.size);
        assert_memory_equal(once.data, twice.data, once.size);

        msgpack_sbuffer_destroy(&twice);
        doc_free(&b);
        doc_free(&a);
    }
}

static void test_decoded_values(void **state)
{
    struct doc d;

    (void)state;
    assert_int_equal(doc_decode(&d, valid_events[EV_UNIT_DEFINED]),
                     POVTRACK_OK);
    assert_true(ev_str_eq(d.ev.id, "e1"));
    assert_true(ev_str_eq(d.ev.unit, "60"));
    assert_int_equal(d.ev.at, 1700000000);
    assert_null(d.ev.household.ptr);
    assert_true(ev_str_eq(d.ev.data.name, "Bình Thuận"));
    assert_null(d.ev.data.parent.ptr);
    assert_int_equal(d.ev.data.level, EV_LEVEL_PROVINCE);
    assert_true(d.ev.data.has_effective);
    assert_int_equal(d.ev.data.effective, 1751302800);
    doc_free(&d);

    assert_int_equal(doc_decode(&d, valid_events[EV_UNIT_CHANGED]),
                     POVTRACK_OK);
    assert_true(ev_str_eq(d.ev.unit, "22924"));
    assert_int_equal(d.ev.data.change, EV_CHANGE_MERGE);
    assert_true(d.ev.data.has_effective);
    assert_int_equal(d.ev.data.effective, 1751302800);
    assert_int_equal(d.ev.data.predecessors.n, 3);
    assert_true(ev_str_eq(ev_codes_at(d.ev.data.predecessors, 0), "22921"));
    assert_true(ev_str_eq(ev_codes_at(d.ev.data.predecessors, 1), "22924"));
    assert_true(ev_str_eq(ev_codes_at(d.ev.data.predecessors, 2), "22936"));
    assert_true(ev_str_eq(d.ev.data.successor, "22924"));
    assert_int_equal(d.ev.data.successors.n, 0);
    assert_true(ev_str_eq(d.ev.data.name, "Phú Thủy"));
    assert_true(ev_str_eq(d.ev.data.parent, "68"));
    assert_int_equal(d.ev.data.level, EV_LEVEL_NONE);
    doc_free(&d);

    assert_int_equal(doc_decode(&d, valid_events[EV_HOUSEHOLD_EXITED]),
                     POVTRACK_OK);
    assert_true(ev_str_eq(d.ev.household, "HH-0001"));
    assert_int_equal(d.ev.data.exit_reason, EV_EXIT_MOVED_OUT);
    assert_int_equal(d.ev.data.reason, EV_REASON_NONE); /* not a hazard */
    assert_int_equal(d.ev.data.year, 2025);
    doc_free(&d);

    assert_int_equal(doc_decode(&d, valid_events[EV_HOUSEHOLD_ASSESSED]),
                     POVTRACK_OK);
    assert_true(ev_str_eq(d.ev.household, "HH-0001"));
    assert_int_equal(d.ev.data.year, 2024);
    assert_int_equal(d.ev.data.area, EV_AREA_URBAN);
    assert_int_equal(d.ev.data.members, 4);
    assert_int_equal(d.ev.data.income, 1200000);
    assert_int_equal(d.ev.data.deprived, (1u << EV_IND_WATER) |
                                             (1u << EV_IND_LATRINE) |
                                             (1u << EV_IND_TELECOM));
    doc_free(&d);

    assert_int_equal(doc_decode(&d, valid_events[EV_DONATION_RECEIVED]),
                     POVTRACK_OK);
    assert_int_equal(d.ev.data.amount, 20000000);
    assert_true(d.ev.data.has_amount);
    assert_int_equal(d.ev.data.donor_kind, EV_DONOR_BUSINESS);
    assert_int_equal(d.ev.data.level, EV_LEVEL_PROVINCE);
    assert_true(ev_str_eq(d.ev.data.pledge, "P-1"));
    assert_true(d.ev.data.has_in_kind);
    assert_false(d.ev.data.in_kind);
    doc_free(&d);

    /* Optional fields left out decode as absent. */
    assert_int_equal(
        doc_decode(&d,
                   "{" HDR("relocation.support") "," HH ",data:{item:land}}"),
        POVTRACK_OK);
    assert_false(d.ev.data.has_amount);
    assert_int_equal(d.ev.data.item, EV_ITEM_LAND);
    doc_free(&d);

    /* Edges of every limit are inside it. */
    static const char *const edges[] = {
        "{v:1,id:'"
        "x"
        "'*128,type:review.closed,at:946684800,unit:'12345',data:{year:2000}}",
        "{v:1,id:'!~',type:review.closed,at:1750086400,unit:'123',"
        "data:{year:2100}}",
        "{" HDR(
            "household.assessed") ",household:'h'*64,data:{year:2027,"
                                  "area:rural,members:1,income:0,deprived:[]}}",
        "{" HDR("household.assessed") ",household:'\xf0\x9f\x98\x80',data:{"
                                      "year:2027,area:rural,members:1,income:0,"
                                      "deprived:[waste_treatment,"
                                      "employment]}}",
        "{" HDRP("donation.pledged") ",data:{pledge:'p'*256,amount:1,donor:"
                                     "'d',due:4102444800}}",
        "{" HDRP("unit.households") ",data:{year:2024,households:0}}",
        "{" HDR("fund.disbursed") ",data:{amount:1,purpose:other,"
                                  "level:central}}",
        "{" HDR("donation.received") ",data:{amount:#9223372036854775807,"
                                     "donor:x,donor_kind:anonymous,level:"
                                     "central,in_kind:true}}",
    };
    for (size_t i = 0; i < ARRAY_LEN(edges); i++) {
        if (doc_decode(&d, edges[i]) != POVTRACK_OK)
            fail_msg("edge %zu: %s", i, d.err.msg);
        doc_free(&d);
    }
}

/* ------------------------------------------------------------------------ */
/* Rejections                                                               */

static void test_reject_envelope(void **state)
{
    static const struct reject cases[] = {
        {"[1,2]", "event: must be a map"},
        {"'x'", "event: must be a map"},
        {"{" HDR("review.closed") ",data:{year:2024},extra:1}",
         "extra: unknown field"},
        {"{" HDR("review.closed") ",v:1,data:{year:2024}}", "v: duplicate key"},
        {"{1:2," HDR("review.closed") ",data:{year:2024}}",
         "event: keys must be strings"},
        /* v */
        {"{id:e1,type:review.closed,at:1700000000,unit:'60',data:{year:2024}}",
         "event: missing v"},
        {"{v:2,id:e1,type:review.closed,at:1700000000,unit:'60',data:{}}",
         "v: unsupported version 2"},
        {"{v:0,id:e1,type:review.closed,at:1700000000,unit:'60',data:{}}",
         "v: unsupported version 0"},
        {"{v:'1',id:e1,type:review.closed,at:1700000000,unit:'60',data:{}}",
         "v: must be an integer"},
        {"{v:1.0,id:e1,type:review.closed,at:1700000000,unit:'60',data:{}}",
         "v: must be an integer, not a float"},
        /* id */
        {"{v:1,type:review.closed,at:1700000000,unit:'60',data:{year:2024}}",
         "event: missing id"},
        {"{v:1,id:'',type:review.closed,at:1700000000,unit:'60',data:{}}",
         "id: must not be empty"},
        {"{v:1,id:'x'*129,type:review.closed,at:1700000000,unit:'60',"
         "data:{}}",
         "id: must be at most 128 bytes; this one has 129"},
        {"{v:1,id:'a b',type:review.closed,at:1700000000,unit:'60',data:{}}",
         "id: byte 1 is not printable ASCII"},
        {"{v:1,id:'a\\x7f',type:review.closed,at:1700000000,unit:'60',"
         "data:{}}",
         "id: byte 1 is not printable ASCII"},
        {"{v:1,id:'é',type:review.closed,at:1700000000,unit:'60',data:{}}",
         "id: byte 0 is not printable ASCII"},
        {"{v:1,id:'\\x00',type:review.closed,at:1700000000,unit:'60',"
         "data:{}}",
         "id: byte 0 is not printable ASCII"},
        {"{v:1,id:7,type:review.closed,at:1700000000,unit:'60',data:{}}",
         "id: must be a string"},
        {"{v:1,id:b'x',type:review.closed,at:1700000000,unit:'60',data:{}}",
         "id: must be a string"},
        /* type */
        {"{v:1,id:e1,at:1700000000,unit:'60',data:{year:2024}}",
         "event: missing type"},
        {"{v:1,id:e1,type:3,at:1700000000,unit:'60',data:{year:2024}}",
         "type: must be a string"},
        {"{v:1,id:e1,type:foo.bar,at:1700000000,unit:'60',data:{}}",
         "type: unknown event type \"foo.bar\""},
        {"{v:1,id:e1,type:'unit.defined\\x00',at:1700000000,unit:'60',"
         "data:{}}",
         "type: unknown event type \"unit.defined\\x00\""},
        /* at */
        {"{v:1,id:e1,type:review.closed,unit:'60',data:{year:2024}}",
         "event: missing at"},
        {"{v:1,id:e1,type:review.closed,at:1700000000.5,unit:'60',data:{}}",
         "at: must be an integer, not a float"},
        {"{v:1,id:e1,type:review.closed,at:1.7e9f,unit:'60',data:{}}",
         "at: must be an integer, not a float"},
        {"{v:1,id:e1,type:review.closed,at:'1700000000',unit:'60',data:{}}",
         "at: must be an integer"},
        {"{v:1,id:e1,type:review.closed,at:946684799,unit:'60',data:{}}",
         "at: 2000-01-01 06:59 is before 2000-01-01 07:00 (the earliest "
         "accepted, Vietnam time)"},
        {"{v:1,id:e1,type:review.closed,at:-1,unit:'60',data:{}}",
         "at: 1970-01-01 is before 2000-01-01"},
        {"{v:1,id:e1,type:review.closed,at:1750086401,unit:'60',data:{}}",
         "at: 2025-06-16 22:06:41 is later than tomorrow (2025-06-16 "
         "22:06:40, Vietnam time)"},
        {"{v:1,id:e1,type:review.closed,at:18446744073709551615,unit:'60',"
         "data:{}}",
         "at: integer out of range"},
        /* unit */
        {"{v:1,id:e1,type:review.closed,at:1700000000,data:{year:2024}}",
         "event: missing unit"},
        {"{v:1,id:e1,type:review.closed,at:1700000000,unit:60,data:{}}",
         "unit: must be a string"},
        {"{v:1,id:e1,type:review.closed,at:1700000000,unit:'6',data:{}}",
         "unit: must be 2, 3 or 5 decimal digits"},
        {"{v:1,id:e1,type:review.closed,at:1700000000,unit:'1234',data:{}}",
         "unit: must be 2, 3 or 5 decimal digits"},
        {"{v:1,id:e1,type:review.closed,at:1700000000,unit:'123456',"
         "data:{}}",
         "unit: must be 2, 3 or 5 decimal digits"},
        {"{v:1,id:e1,type:review.closed,at:1700000000,unit:'6a',data:{}}",
         "unit: must be 2, 3 or 5 decimal digits"},
        {"{v:1,id:e1,type:review.closed,at:1700000000,unit:'',data:{}}",
         "unit: must be 2, 3 or 5 decimal digits"},
        /* data */
        {"{" HDR("review.closed") "}", "event: missing data"},
        {"{" HDR("review.closed") ",data:[2024]}", "data: must be a map"},
        {"{" HDR("review.closed") ",data:nil}", "data: must be a map"},
    };

    (void)state;
    check_rejects(cases, ARRAY_LEN(cases));
}

static void test_reject_household(void **state)
{
    static const struct reject cases[] = {
        {"{" HDRP("donation.received") "," HH ",data:{amount:1,donor:x,"
                                       "donor_kind:person,level:province}}",
         "household: not allowed for donation.received"},
        {"{" HDR("review.closed") "," HH ",data:{year:2024}}",
         "household: not allowed for review.closed"},
        {"{" HDRP("unit.defined") ",household:nil,data:{name:x,parent:nil,"
                                  "level:province}}",
         "household: not allowed for unit.defined"},
        {"{" HDR("credit.repaid") ",data:{loan:l,amount:1}}",
         "household: required for credit.repaid"},
        {"{" HDR("household.assessed") ",data:{year:2024,area:rural,members:1,"
                                       "income:0,deprived:[]}}",
         "household: required for household.assessed"},
        {"{" HDR("household.status") ",data:{year:2024,status:poor}}",
         "household: required for household.status"},
        {"{" HDR("relocation.completed") ",data:{from:'22930',reason:flood}}",
         "household: required for relocation.completed"},
        {"{" HDR("relocation.support") ",data:{item:land}}",
         "household: required for relocation.support"},
        {"{" HDR("credit.disbursed") ",data:{loan:l,program:p,amount:1}}",
         "household: required for credit.disbursed"},
        {"{" HDR("credit.repaid") ",household:'',data:{loan:l,amount:1}}",
         "household: must not be empty"},
        {"{" HDR("credit.repaid") ",household:'h'*65,data:{loan:l,amount:1}}",
         "household: must be at most 64 bytes (about 21 Vietnamese "
         "characters); this one has 65 bytes"},
        {"{" HDR("credit.repaid") ",household:'ab\\xff',data:{loan:l,"
                                  "amount:1}}",
         "household: invalid UTF-8 at byte 2"},
        {"{" HDR("credit.repaid") ",household:42,data:{loan:l,amount:1}}",
         "household: must be a string"},
        {"{" HDR("fund.disbursed") ",household:nil,data:{amount:1,"
                                   "purpose:tet,level:commune}}",
         "household: must be a string"},
    };

    (void)state;
    check_rejects(cases, ARRAY_LEN(cases));
}

static void test_reject_data_keys(void **state)
{
    static const struct reject cases[] = {
        {"{" HDRP(
             "donation.received") ",data:{amount:1,donor:x,"
                                  "donor_kind:person,level:province,foo:1}}",
         "data.foo: unknown field for donation.received"},
        {"{" HDR("review.closed") ",data:{year:2024,amount:5}}",
         "data.amount: unknown field for review.closed"},
        {"{" HDR("review.closed") ",data:{year:2024,year:2024}}",
         "data.year: duplicate key"},
        {"{" HDR("review.closed") ",data:{year:2024,7:1}}",
         "data: keys must be strings"},
        {"{" HDR("review.closed") ",data:{year:2024,nil:1}}",
         "data: keys must be strings"},
        {"{" HDR("review.closed") ",data:{year:2024,'YEAR':1}}",
         "data.YEAR: unknown field for review.closed"},
        /* every required field of every type */
        {"{" HDR("review.closed") ",data:{}}",
         "data: missing year (required for review.closed)"},
        {"{" HDRP("unit.defined") ",data:{parent:nil,level:province}}",
         "data: missing name (required for unit.defined)"},
        {"{" HDRP("unit.defined") ",data:{name:x,level:province}}",
         "data: missing parent (required for unit.defined)"},
        {"{" HDRP("unit.defined") ",data:{name:x,parent:nil}}",
         "data: missing level (required for unit.defined)"},
        {"{" HDRP("unit.households") ",data:{year:2024}}",
         "data: missing households (required for unit.households)"},
        {"{" HDR("household.assessed") "," HH ",data:{year:2024,members:1,"
                                       "income:0,deprived:[]}}",
         "data: missing area (required for household.assessed)"},
        {"{" HDR("household.assessed") "," HH ",data:{year:2024,area:rural,"
                                       "income:0,deprived:[]}}",
         "data: missing members (required for household.assessed)"},
        {"{" HDR("household.assessed") "," HH ",data:{year:2024,area:rural,"
                                       "members:1,deprived:[]}}",
         "data: missing income (required for household.assessed)"},
        {"{" HDR("household.assessed") "," HH ",data:{year:2024,area:rural,"
                                       "members:1,income:0}}",
         "data: missing deprived (required for household.assessed)"},
        {"{" HDR("household.status") "," HH ",data:{year:2024}}",
         "data: missing status (required for household.status)"},
        {"{" HDRP("donation.pledged") ",data:{amount:1,donor:d,due:"
                                      "1735689600}}",
         "data: missing pledge (required for donation.pledged)"},
        {"{" HDRP("donation.pledged") ",data:{pledge:p,amount:1,donor:d}}",
         "data: missing due (required for donation.pledged)"},
        {"{" HDRP("donation.received") ",data:{amount:1,donor:x,"
                                       "level:province}}",
         "data: missing donor_kind (required for donation.received)"},
        {"{" HDRP("donation.received") ",data:{donor:x,donor_kind:person,"
                                       "level:province}}",
         "data: missing amount (required for donation.received)"},
        {"{" HDRP("donation.received") ",data:{amount:1,donor_kind:person,"
                                       "level:province}}",
         "data: missing donor (required for donation.received)"},
        {"{" HDR("fund.disbursed") ",data:{amount:1,level:commune}}",
         "data: missing purpose (required for fund.disbursed)"},
        {"{" HDR("fund.disbursed") ",data:{amount:1,purpose:tet}}",
         "data: missing level (required for fund.disbursed)"},
        {"{" HDR("relocation.completed") "," HH ",data:{reason:flood}}",
         "data: missing from (required for relocation.completed)"},
        {"{" HDR("relocation.completed") "," HH ",data:{from:'22930'}}",
         "data: missing reason (required for relocation.completed)"},
        {"{" HDR("relocation.support") "," HH ",data:{amount:1}}",
         "data: missing item (required for relocation.support)"},
        {"{" HDR("credit.disbursed") "," HH ",data:{loan:l,amount:1}}",
         "data: missing program (required for credit.disbursed)"},
        {"{" HDR("credit.repaid") "," HH ",data:{amount:1}}",
         "data: missing loan (required for credit.repaid)"},
        {"{" HDRP("report.due") ",data:{org:o,report:r}}",
         "data: missing due (required for report.due)"},
        {"{" HDRP("report.submitted") ",data:{report:r}}",
         "data: missing org (required for report.submitted)"},
        {"{" HDRP("report.submitted") ",data:{org:o}}",
         "data: missing report (required for report.submitted)"},
    };

    (void)state;
    check_rejects(cases, ARRAY_LEN(cases));
}

#define RECV(fields)                                                           \
    "{" HDRP("donation.received") ",data:{donor:x,donor_kind:person,"          \
                                  "level:province," fields "}}"

static void test_reject_integers(void **state)
{
    static const struct reject cases[] = {
        {RECV("amount:1.5"), "data.amount: must be an integer, not a float"},
        {RECV("amount:100.0"), "data.amount: must be an integer, not a float"},
        {RECV("amount:100.0f"), "data.amount: must be an integer, not a float"},
        {RECV("amount:'100'"), "data.amount: must be an integer"},
        {RECV("amount:true"), "data.amount: must be an integer"},
        {RECV("amount:nil"), "data.amount: must be an integer"},
        {RECV("amount:0"), "data.amount: must be a positive integer"},
        {RECV("amount:-5"), "data.amount: must be a positive integer"},
        {RECV("amount:18446744073709551615"),
         "data.amount: integer out of range"},
        {"{" HDR("relocation.support") "," HH ",data:{item:land,amount:0}}",
         "data.amount: must be a positive integer"},
        {"{" HDRP("unit.households") ",data:{year:2024,households:-1}}",
         "data.households: must not be negative"},
        {"{" HDRP("unit.households") ",data:{year:2024,households:1.0}}",
         "data.households: must be an integer, not a float"},
        {"{" HDR("household.assessed") "," HH ",data:{year:2024,area:rural,"
                                       "members:0,income:0,deprived:[]}}",
         "data.members: must be a positive integer"},
        {"{" HDR("household.assessed") "," HH ",data:{year:2024,area:rural,"
                                       "members:1,income:-1,deprived:[]}}",
         "data.income: must not be negative"},
        {"{" HDR("review.closed") ",data:{year:1999}}",
         "data.year: must be between 2000 and 2100"},
        {"{" HDR("review.closed") ",data:{year:2101}}",
         "data.year: must be between 2000 and 2100"},
        {"{" HDR("review.closed") ",data:{year:2024.0}}",
         "data.year: must be an integer, not a float"},
        {"{" HDRP("report.due") ",data:{org:o,report:r,due:946684799}}",
         "data.due: 2000-01-01 06:59 is before 2000-01-01 07:00"},
        {"{" HDRP("report.due") ",data:{org:o,report:r,due:4102444801}}",
         "data.due: 2100-01-01 07:00:01 is after 2100-01-01 07:00:00"},
        {RECV("amount:1,in_kind:1"), "data.in_kind: must be true or false"},
        {RECV("amount:1,in_kind:'yes'"), "data.in_kind: must be true or false"},
    };

    (void)state;
    check_rejects(cases, ARRAY_LEN(cases));
}

static void test_reject_text(void **state)
{
    static const struct reject cases[] = {
        {"{" HDRP("unit.defined") ",data:{name:'',parent:nil,"
                                  "level:province}}",
         "data.name: must not be empty"},
        {"{" HDRP("unit.defined") ",data:{name:5,parent:nil,level:province}}",
         "data.name: must be a string"},
        {"{" HDRP("donation.received") ",data:{amount:1,donor:'d'*257,"
                                       "donor_kind:person,level:province}}",
         "data.donor: must be at most 256 bytes (about 85 Vietnamese "
         "characters); this one has 257 bytes"},
        {RECV("amount:1,pledge:''"), "data.pledge: must not be empty"},
        {RECV("amount:1,pledge:'\\xc0\\xaf'"),
         "data.pledge: invalid UTF-8 at byte 0"}, /* overlong '/' */
        {RECV("amount:1,pledge:'ok\\xed\\xa0\\x80'"),
         "data.pledge: invalid UTF-8 at byte 2"}, /* surrogate */
        {RECV("amount:1,pledge:'\\xf4\\x90\\x80\\x80'"),
         "data.pledge: invalid UTF-8 at byte 0"}, /* past U+10FFFF */
        {RECV("amount:1,pledge:'\\xe1\\x80'"),
         "data.pledge: invalid UTF-8 at byte 0"}, /* cut short */
        {RECV("amount:1,pledge:'\\x80'"),
         "data.pledge: invalid UTF-8 at byte 0"}, /* lone continuation */
        {RECV("amount:1,pledge:'\\xe0\\x80\\xaf'"),
         "data.pledge: invalid UTF-8 at byte 0"}, /* overlong, 3 bytes */
        {RECV("amount:1,pledge:'\\xe1\\x80\\x41'"),
         "data.pledge: invalid UTF-8 at byte 0"}, /* bad 3rd byte */
        {RECV("amount:1,pledge:'\\xf5\\x80\\x80\\x80'"),
         "data.pledge: invalid UTF-8 at byte 0"},
        {RECV("amount:1,pledge:b'bin'"), "data.pledge: must be a string"},
        {"{" HDR("household.status") "," HH ",data:{year:2024,status:poor,"
                                     "decision:''}}",
         "data.decision: must not be empty"},
        {"{" HDR("household.status") "," HH ",data:{year:2024,status:poor,"
                                     "decision:'q'*257}}",
         "data.decision: must be at most 256 bytes"},
        {"{" HDR("credit.disbursed") "," HH ",data:{loan:'',program:p,"
                                     "amount:1}}",
         "data.loan: must not be empty"},
        {"{" HDR("credit.disbursed") "," HH ",data:{loan:l,program:'\\xff',"
                                     "amount:1}}",
         "data.program: invalid UTF-8"},
        {"{" HDRP("report.submitted") ",data:{org:'',report:r}}",
         "data.org: must not be empty"},
        {"{" HDRP("report.submitted") ",data:{org:o,report:'r'*300}}",
         "data.report: must be at most 256 bytes (about 85 Vietnamese "
         "characters); this one has 300 bytes"},
        /* unit codes inside data */
        {"{" HDR("relocation.completed") "," HH ",data:{from:'2293',"
                                         "reason:flood}}",
         "data.from: must be 2, 3 or 5 decimal digits"},
        {"{" HDR("relocation.completed") "," HH ",data:{from:22930,"
                                         "reason:flood}}",
         "data.from: must be a string"},
        {"{" HDR("relocation.completed") "," HH ",data:{from:nil,"
                                         "reason:flood}}",
         "data.from: must be a string"},
        {"{" HDR("unit.defined") ",data:{name:x,parent:'6',level:commune}}",
         "data.parent: must be 2, 3 or 5 decimal digits"},
        {"{" HDR("unit.defined") ",data:{name:x,parent:593,level:commune}}",
         "data.parent: must be a string"},
    };

    (void)state;
    check_rejects(cases, ARRAY_LEN(cases));
}

static void test_reject_enums(void **state)
{
    static const struct reject cases[] = {
        {"{" HDRP("unit.defined") ",data:{name:x,parent:nil,level:nation}}",
         "data.level: unknown value \"nation\" (expected "
         "central|province|district|commune)"},
        {"{" HDRP("donation.received") ",data:{amount:1,donor:x,"
                                       "donor_kind:person,level:nation}}",
         "data.level: unknown value \"nation\" (expected "
         "central|province|district|commune)"},
        {"{" HDR("fund.disbursed") ",data:{amount:1,purpose:tet,"
                                   "level:Commune}}",
         "data.level: unknown value \"Commune\""},
        {"{" HDR("fund.disbursed") ",data:{amount:1,purpose:food,"
                                   "level:commune}}",
         "data.purpose: unknown value \"food\" (expected housing|livelihood|"
         "education|health|tet|disaster|other)"},
        {"{" HDRP("donation.received") ",data:{amount:1,donor:x,"
                                       "donor_kind:robot,level:province}}",
         "data.donor_kind: unknown value \"robot\" (expected person|"
         "organisation|business|anonymous)"},
        {"{" HDR("household.assessed") "," HH ",data:{year:2024,area:suburb,"
                                       "members:1,income:0,deprived:[]}}",
         "data.area: unknown value \"suburb\" (expected rural|urban)"},
        {"{" HDR("household.status") "," HH ",data:{year:2024,status:rich}}",
         "data.status: unknown value \"rich\" (expected poor|near_poor|"
         "average|none)"},
        {"{" HDR("household.status") "," HH ",data:{year:2024,status:1}}",
         "data.status: must be a string"},
        {"{" HDR("household.status") "," HH ",data:{year:2024,status:''}}",
         "data.status: unknown value \"\""},
        {"{" HDR("relocation.completed") "," HH ",data:{from:'22930',"
                                         "reason:storm}}",
         "data.reason: unknown value \"storm\" (expected landslide|flood|"
         "erosion|forest|other)"},
        {"{" HDR("relocation.support") "," HH ",data:{item:car}}",
         "data.item: unknown value \"car\" (expected land|housing|water|"
         "livelihood)"},
    };

    (void)state;
    check_rejects(cases, ARRAY_LEN(cases));
}

#define ASSESSED(year, deprived)                                               \
    "{" HDR("household.assessed") "," HH ",data:{year:" year ",area:rural,"    \
                                  "members:3,income:0,deprived:" deprived "}}"
#define ASSESSED_LABOUR(v)                                                     \
    "{" HDR("household.assessed") "," HH ",data:{year:2024,area:rural,"        \
                                  "members:1,income:0,deprived:[],"            \
                                  "no_labour_capacity:" v "}}"

static void test_reject_deprived(void **state)
{
    static const struct reject cases[] = {
        {ASSESSED("2024", "water"), "data.deprived: must be an array"},
        {ASSESSED("2024", "{water:true}"), "data.deprived: must be an array"},
        {ASSESSED("2024", "[water,latrine,foo]"),
         "data.deprived[2]: unknown indicator \"foo\" for 2024"},
        {ASSESSED("2024", "[waste_treatment]"),
         "data.deprived[0]: unknown indicator \"waste_treatment\" for 2024"},
        {ASSESSED("2026", "[telecom,waste_treatment]"),
         "data.deprived[1]: unknown indicator \"waste_treatment\" for 2026"},
        {ASSESSED("2027", "[information_access]"),
         "data.deprived[0]: unknown indicator \"information_access\" for 2027"},
        {ASSESSED("2024", "[water,water]"),
         "data.deprived[1]: duplicate indicator \"water\""},
        {ASSESSED("2024", "[water,latrine,telecom,latrine]"),
         "data.deprived[3]: duplicate indicator \"latrine\""},
        {ASSESSED("2024", "[1]"), "data.deprived[0]: must be a string"},
        {ASSESSED("2024", "[water,nil]"), "data.deprived[1]: must be a string"},
        {ASSESSED("2024", "[water,[latrine]]"),
         "data.deprived[1]: must be a string"},
        {ASSESSED("2024", "['WATER']"),
         "data.deprived[0]: unknown indicator \"WATER\" for 2024"},
    };
    struct doc d;
    const char *all12 = ASSESSED(
        "2026", "[information_access,telecom,latrine,water,housing_area,"
                "housing_quality,school_attendance,adult_education,"
                "health_insurance,nutrition,dependants,employment]");

    (void)state;
    check_rejects(cases, ARRAY_LEN(cases));
    assert_int_equal(doc_decode(&d, all12), POVTRACK_OK);
    assert_int_equal(d.ev.data.deprived, 0xfff);
    doc_free(&d);
}

static void test_reject_unit_defined(void **state)
{
    static const struct reject cases[] = {
        {"{v:1,id:e1,type:unit.defined,at:1700000000,unit:'00',"
         "data:{name:x,parent:'60',level:central}}",
         "data.parent: must be nil for the country"},
        {"{v:1,id:e1,type:unit.defined,at:1700000000,unit:'594',"
         "data:{name:x,parent:nil,level:district}}",
         "data.parent: required for a district"},
        {"{v:1,id:e1,type:unit.defined,at:1700000000,unit:'22925',"
         "data:{name:x,parent:nil,level:commune}}",
         "data.parent: required for a commune"},
    };

    (void)state;
    check_rejects(cases, ARRAY_LEN(cases));
}

/* unit.changed with unit u and data fields f. */
#define CHG(u, f)                                                              \
    "{v:1,id:c1,type:unit.changed,at:1700000000,unit:'" u "',data:{" f "}}"
#define EFF "effective:1751302800,"

/* A list of n codes 10000, 10001, ... as notation, for the 32-code limit. */
static const char *codes_text(char *buf, size_t cap, int n, const char *head,
                              const char *tail)
{
    size_t used = (size_t)snprintf(buf, cap, "%s[", head);

    for (int i = 0; i < n; i++)
        used += (size_t)snprintf(buf + used, cap - used, "%s'%d'", i ? "," : "",
                                 10000 + i);
    snprintf(buf + used, cap - used, "]%s", tail);
    return buf;
}

/* One valid unit.changed of every kind, and the edges of the lists. */
static void test_unit_changed_kinds(void **state)
{
    static const char *const valid[] = {
        CHG("22924", "kind:merge," EFF "predecessors:['22921','22924'],"
                     "successor:'22924'"),
        /* merge into a code that is not a predecessor, moved and renamed */
        CHG("22950", "kind:merge," EFF "predecessors:['22921','22924'],"
                     "successor:'22950',name:'Phú Thủy',parent:'68'"),
        CHG("60", "kind:merge," EFF "predecessors:['60','68'],successor:'60'"),
        CHG("593", "kind:split," EFF "predecessors:['593'],"
                   "successors:['593','594','595']"),
        CHG("593", "kind:split," EFF "predecessors:['593'],"
                   "successors:['594','595']"),
        CHG("22924", "kind:rename," EFF "predecessors:['22924'],name:'Mũi Né'"),
        CHG("22924", "kind:rename," EFF "predecessors:['22924'],"
                     "successor:'22924',name:'Mũi Né'"),
        CHG("22924", "kind:reparent," EFF "predecessors:['22924'],"
                     "parent:'68'"),
        CHG("22924", "kind:reparent," EFF "predecessors:['22924'],"
                     "successor:'22924',parent:'68',name:'Mũi Né'"),
        CHG("593", "kind:abolish," EFF "predecessors:['593']"),
        /* an abolish may end units of several levels */
        CHG("593", "kind:abolish," EFF "predecessors:['593','22921','60']"),
        CHG("593", "kind:abolish,effective:0,predecessors:['593']"),
        CHG("593", "kind:abolish,effective:4102444800,predecessors:['593']"),
    };
    char many[512];

    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(valid); i++) {
        struct doc a, b;
        msgpack_sbuffer sb;

        if (doc_decode(&a, valid[i]) != POVTRACK_OK)
            fail_msg("case %zu: %s", i, a.err.msg);
        assert_int_equal(a.ev.type, EV_UNIT_CHANGED);
        encode(&a.ev, &sb);
        memset(&b, 0, sizeof b);
        b.sb = sb;
        assert_int_equal(doc_unpack(&b), POVTRACK_OK);
        assert_canonical_layout(&b.up.data);
        assert_int_equal(ev_decode(&b.up.data, MAX_AT, &b.ev, &b.err),
                         POVTRACK_OK);
        if (!event_same(&a.ev, &b.ev))
            fail_msg("case %zu does not survive encoding", i);
        doc_free(&b);
        doc_free(&a);
    }

    /* Exactly EV_CODES_MAX predecessors are accepted. */
    codes_text(many, sizeof many, EV_CODES_MAX,
               "{v:1,id:c1,type:unit.changed,at:1700000000,unit:'10000',"
               "data:{kind:abolish," EFF "predecessors:",
               "}}");
    struct doc d;
    if (doc_decode(&d, many) != POVTRACK_OK)
        fail_msg("%d predecessors: %s", EV_CODES_MAX, d.err.msg);
    assert_int_equal(d.ev.data.predecessors.n, EV_CODES_MAX);
    assert_true(ev_str_eq(ev_codes_at(d.ev.data.predecessors, 31), "10031"));
    doc_free(&d);

    /* The split's successors as decoded. */
    assert_int_equal(doc_decode(&d, valid[3]), POVTRACK_OK);
    assert_int_equal(d.ev.data.change, EV_CHANGE_SPLIT);
    assert_int_equal(d.ev.data.successors.n, 3);
    assert_true(ev_str_eq(ev_codes_at(d.ev.data.successors, 2), "595"));
    assert_null(d.ev.data.successor.ptr);
    assert_null(d.ev.data.name.ptr);
    assert_null(d.ev.data.parent.ptr);
    doc_free(&d);
}

static void test_reject_unit_changed(void **state)
{
    static const struct reject cases[] = {
        /* required fields, each value's type */
        {CHG("593", EFF "predecessors:['593']"),
         "data: missing kind (required for unit.changed)"},
        {CHG("593", "kind:abolish,predecessors:['593']"),
         "data: missing effective (required for unit.changed)"},
        {CHG("593", "kind:abolish," EFF "successor:'593'"),
         "data: missing predecessors (required for unit.changed)"},
        {CHG("593", "kind:move," EFF "predecessors:['593']"),
         "data.kind: unknown value \"move\" (expected "
         "merge|split|rename|reparent|abolish)"},
        {CHG("593", "kind:abolish,effective:-1,predecessors:['593']"),
         "data.effective: 1970-01-01 06:59 is before 1970-01-01 07:00"},
        {CHG("593", "kind:abolish,effective:4102444801,predecessors:['593']"),
         "data.effective: 2100-01-01 07:00:01 is after 2100-01-01 "
         "07:00:00"},
        {CHG("593", "kind:abolish,effective:1751302800.0,predecessors:['593']"),
         "data.effective: must be an integer, not a float"},
        {CHG("593", "kind:abolish," EFF "predecessors:'593'"),
         "data.predecessors: must be an array of unit codes"},
        {CHG("593", "kind:abolish," EFF "predecessors:[]"),
         "data.predecessors: must not be empty"},
        {CHG("593", "kind:abolish," EFF "predecessors:['593',594]"),
         "data.predecessors[1]: must be a string"},
        {CHG("593", "kind:abolish," EFF "predecessors:['593','5940']"),
         "data.predecessors[1]: must be 2, 3 or 5 decimal digits"},
        {CHG("593", "kind:abolish," EFF "predecessors:['593','59a']"),
         "data.predecessors[1]: must be 2, 3 or 5 decimal digits"},
        {CHG("22924", "kind:merge," EFF "predecessors:['22921','22924',"
                      "'22921'],successor:'22924'"),
         "data.predecessors[2]: 22921 is listed twice"},
        {CHG("593", "kind:split," EFF "predecessors:['593'],"
                    "successors:['594','595','594']"),
         "data.successors[2]: 594 is listed twice"},
        {CHG("593", "kind:split," EFF "predecessors:['593'],successors:[]"),
         "data.successors: must not be empty"},
        {CHG("22924", "kind:merge," EFF "predecessors:['22924'],"
                      "successor:22924"),
         "data.successor: must be a string"},
        {CHG("22924", "kind:merge," EFF "predecessors:['22924'],"
                      "successor:'2292'"),
         "data.successor: must be 2, 3 or 5 decimal digits"},
        {CHG("22924", "kind:rename," EFF "predecessors:['22924'],name:''"),
         "data.name: must not be empty"},
        {CHG("22924", "kind:reparent," EFF "predecessors:['22924'],"
                      "parent:'6'"),
         "data.parent: must be 2, 3 or 5 decimal digits"},
        {CHG("593", "kind:abolish," EFF "predecessors:['593'],level:district"),
         "data.level: unknown field for unit.changed"},
        {CHG("593", "kind:abolish," EFF "predecessors:['593'],year:2025"),
         "data.year: unknown field for unit.changed"},
        {"{v:1,id:c1,type:unit.changed,at:1700000000,unit:'593',"
         "household:h,data:{kind:abolish," EFF "predecessors:['593']}}",
         "household: not allowed for unit.changed"},
        /* merge */
        {CHG("22924", "kind:merge," EFF "predecessors:['22921','22924']"),
         "data.successor: required for a merge"},
        {CHG("22921", "kind:merge," EFF "predecessors:['22921','22924'],"
                      "successor:'22924'"),
         "unit: must be the successor of a merge (22924)"},
        {CHG("22924", "kind:merge," EFF "predecessors:['22921','593'],"
                      "successor:'22924'"),
         "data.predecessors[1]: not of the successor's level (5 digits)"},
        {CHG("68", "kind:merge," EFF "predecessors:['60','68'],"
                   "successor:'68',successors:['60','68']"),
         "data.successors: only for a split (a merge has data.successor)"},
        /* split */
        {CHG("593", "kind:split," EFF "predecessors:['593']"),
         "data.successors: a split has at least two"},
        {CHG("593", "kind:split," EFF "predecessors:['593'],"
                    "successors:['594']"),
         "data.successors: a split has at least two"},
        {CHG("593", "kind:split," EFF "predecessors:['593','594'],"
                    "successors:['595','596']"),
         "data.predecessors: a split has one"},
        {CHG("593", "kind:split," EFF "predecessors:['593'],"
                    "successors:['594','22925']"),
         "data.successors[1]: not of the predecessor's level (3 digits)"},
        {CHG("593", "kind:split," EFF "predecessors:['593'],"
                    "successor:'594'"),
         "data.successor: not allowed for a split"},
        {CHG("593", "kind:split," EFF "predecessors:['593'],"
                    "successors:['593','594'],name:x"),
         "data.name: not allowed for a split (define new units with "
         "unit.defined)"},
        {CHG("593", "kind:split," EFF "predecessors:['593'],"
                    "successors:['593','594'],parent:'60'"),
         "data.parent: not allowed for a split (define new units with "
         "unit.defined)"},
        {CHG("594", "kind:split," EFF "predecessors:['593'],"
                    "successors:['593','594']"),
         "unit: must be the first predecessor of a split (593)"},
        /* rename */
        {CHG("22924", "kind:rename," EFF "predecessors:['22924']"),
         "data.name: required for a rename"},
        {CHG("22924", "kind:rename," EFF "predecessors:['22924'],name:x,"
                      "parent:'68'"),
         "data.parent: not allowed for a rename (send a reparent)"},
        {CHG("22924", "kind:rename," EFF "predecessors:['22924'],name:x,"
                      "successor:'22925'"),
         "data.successor: a rename keeps the code (22924), or leave it out"},
        {CHG("22924", "kind:rename," EFF "predecessors:['22924','22925'],"
                      "name:x"),
         "data.predecessors: a rename has one"},
        {CHG("22924", "kind:rename," EFF "predecessors:['22924'],name:x,"
                      "successors:['22924','22925']"),
         "data.successors: only for a split (a rename has data.successor)"},
        {CHG("22925", "kind:rename," EFF "predecessors:['22924'],name:x"),
         "unit: must be the first predecessor of a rename (22924)"},
        /* reparent */
        {CHG("22924", "kind:reparent," EFF "predecessors:['22924']"),
         "data.parent: required for a reparent"},
        {CHG("22924", "kind:reparent," EFF "predecessors:['22924'],"
                      "parent:nil"),
         "data.parent: required for a reparent"},
        {CHG("22924", "kind:reparent," EFF "predecessors:['22924'],"
                      "parent:'68',successor:'22921'"),
         "data.successor: a reparent keeps the code (22924), or leave it out"},
        {CHG("22924", "kind:reparent," EFF "predecessors:['22924','22921'],"
                      "parent:'68'"),
         "data.predecessors: a reparent has one"},
        /* abolish */
        {CHG("593", "kind:abolish," EFF "predecessors:['593'],"
                    "successor:'594'"),
         "data.successor: not allowed for an abolish"},
        {CHG("593", "kind:abolish," EFF "predecessors:['593'],name:x"),
         "data.name: not allowed for an abolish (define new units with "
         "unit.defined)"},
        {CHG("593", "kind:abolish," EFF "predecessors:['593'],parent:'60'"),
         "data.parent: not allowed for an abolish (define new units with "
         "unit.defined)"},
        {CHG("593", "kind:abolish," EFF "predecessors:['593'],"
                    "successors:['594','595']"),
         "data.successors: not allowed for an abolish"},
        {CHG("594", "kind:abolish," EFF "predecessors:['593','594']"),
         "unit: must be the first predecessor of an abolish (593)"},
    };
    char a[512], b[512];

    (void)state;
    check_rejects(cases, ARRAY_LEN(cases));

    /* More than EV_CODES_MAX codes in either list. */
    const struct reject big[] = {
        {codes_text(a, sizeof a, EV_CODES_MAX + 1,
                    "{v:1,id:c1,type:unit.changed,at:1700000000,unit:'10000',"
                    "data:{kind:abolish," EFF "predecessors:",
                    "}}"),
         "data.predecessors: at most 32 codes, not 33"},
        {codes_text(b, sizeof b, EV_CODES_MAX + 1,
                    "{v:1,id:c1,type:unit.changed,at:1700000000,unit:'10000',"
                    "data:{kind:split," EFF "predecessors:['10000'],"
                    "successors:",
                    "}}"),
         "data.successors: at most 32 codes, not 33"},
    };
    check_rejects(big, ARRAY_LEN(big));
}

#define EXITED(f)                                                              \
    "{v:1,id:x1,type:household.exited,at:1700000000,unit:'22924'," HH          \
    ",data:{" f "}}"

static void test_household_exited(void **state)
{
    static const char *const reasons[] = {"died", "moved_out", "split",
                                          "merged"};
    static const struct reject cases[] = {
        {EXITED("reason:fled,year:2025"),
         "data.reason: unknown value \"fled\" (expected "
         "died|moved_out|split|merged)"},
        /* the relocation hazards are another field of the same name */
        {EXITED("reason:landslide,year:2025"),
         "data.reason: unknown value \"landslide\" (expected "
         "died|moved_out|split|merged)"},
        {"{" HDR("relocation.completed") "," HH ",data:{from:'22930',"
                                         "reason:died}}",
         "data.reason: unknown value \"died\" (expected "
         "landslide|flood|erosion|forest|other)"},
        {EXITED("reason:3,year:2025"), "data.reason: must be a string"},
        {EXITED("year:2025"),
         "data: missing reason (required for household.exited)"},
        {EXITED("reason:died"),
         "data: missing year (required for household.exited)"},
        {EXITED("reason:died,year:1999"),
         "data.year: must be between 2000 and 2100"},
        {EXITED("reason:died,year:2025,from:'22930'"),
         "data.from: unknown field for household.exited"},
        {"{v:1,id:x1,type:household.exited,at:1700000000,unit:'22924',"
         "data:{reason:died,year:2025}}",
         "household: required for household.exited"},
        {"{" HDR("household.moved") "," HH ",data:{}}",
         "data: missing from (required for household.moved)"},
        {"{" HDR("household.moved") "," HH ",data:{from:'22924'}}",
         "data.from: must not be the unit moved to"},
        {"{" HDR("household.moved") "," HH ",data:{from:'22930',year:2025}}",
         "data.year: unknown field for household.moved"},
        {"{" HDR("household.moved") ",data:{from:'22930'}}",
         "household: required for household.moved"},
    };

    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(reasons); i++) {
        char text[256];
        struct doc d;

        snprintf(text, sizeof text, EXITED("reason:%s,year:2025"), reasons[i]);
        if (doc_decode(&d, text) != POVTRACK_OK)
            fail_msg("%s: %s", reasons[i], d.err.msg);
        assert_int_equal(d.ev.data.exit_reason, (enum ev_exit)(i + 1));
        assert_string_equal(ev_exit_name(d.ev.data.exit_reason), reasons[i]);
        doc_free(&d);
    }
    check_rejects(cases, ARRAY_LEN(cases));
}

/* The rest of the plan (II.3, II.4, III.4): production links, OCOP,
 * social assistance, the National Target Programmes' budget,
 * commendations; and the assessment's labour capacity. */
#define LINKED(f) "{" HDR("production.linked") "," HH ",data:{" f "}}"
#define LINK_OK "link:L1,partner:'Công ty A',product:'Nước mắm',year:2024"
#define BUDGET(type, f) "{" HDR(type) ",data:{" f "}}"

static void test_plan_events(void **state)
{
    static const struct reject cases[] = {
        {LINKED(LINK_OK ",partner_kind:household"),
         "data.partner_kind: unknown value \"household\" (expected "
         "enterprise|cooperative)"},
        {LINKED(LINK_OK),
         "data: missing partner_kind (required for production.linked)"},
        {LINKED("partner_kind:enterprise,partner:x,product:y,year:2024"),
         "data: missing link (required for production.linked)"},
        {LINKED(LINK_OK ",partner_kind:enterprise,stars:4"),
         "data.stars: unknown field for production.linked"},
        {"{" HDR("production.linked") ",data:{" LINK_OK
                                      ",partner_kind:enterprise}}",
         "household: required for production.linked"},
        {"{" HDR("ocop.certified") ",data:{product:x,stars:2}}",
         "data.stars: must be between 3 and 5"},
        {"{" HDR("ocop.certified") ",data:{product:x,stars:6}}",
         "data.stars: must be between 3 and 5"},
        {"{" HDR("ocop.certified") "," HH ",data:{product:x,stars:3}}",
         "household: not allowed for ocop.certified"},
        {"{" HDR("ocop.certified") ",data:{product:'',stars:3}}",
         "data.product: must not be empty"},
        /* "kind" is a unit change's for unit.changed, an assistance's
         * here, and neither takes the other's values */
        {"{" HDR("assistance.paid") "," HH ",data:{kind:merge,amount:1}}",
         "data.kind: unknown value \"merge\" (expected regular|emergency)"},
        {"{" HDR("unit.changed") ",data:{kind:regular,effective:1,"
                                 "predecessors:['22924']}}",
         "data.kind: unknown value \"regular\" (expected "
         "merge|split|rename|reparent|abolish)"},
        {"{" HDR("assistance.paid") "," HH ",data:{kind:regular,amount:0}}",
         "data.amount: must be a positive integer"},
        {"{" HDR("assistance.paid") ",data:{kind:regular,amount:1}}",
         "household: required for assistance.paid"},
        /* "program": a programme's code for the budget, free text for a
         * loan */
        {BUDGET("budget.allocated", "program:'VBSP poor households',"
                                    "component:x,year:2024,amount:1"),
         "data.program: unknown value \"VBSP poor households\" (expected "
         "poverty_reduction|ethnic_minority)"},
        {BUDGET("budget.spent", "program:poverty_reduction,year:2024,"
                                "amount:1"),
         "data: missing component (required for budget.spent)"},
        {BUDGET("budget.spent", "program:poverty_reduction,component:x,"
                                "amount:1"),
         "data: missing year (required for budget.spent)"},
        {BUDGET("budget.allocated", "program:poverty_reduction,component:x,"
                                    "year:2024,amount:1,level:commune"),
         "data.level: unknown field for budget.allocated"},
        {BUDGET("commendation.awarded",
                "recipient:x,recipient_kind:family,awarded_by:y,"
                "level:province"),
         "data.recipient_kind: unknown value \"family\" (expected "
         "collective|individual)"},
        {BUDGET("commendation.awarded",
                "recipient:x,recipient_kind:individual,awarded_by:y,"
                "level:village"),
         "data.level: unknown value \"village\" (expected "
         "central|province|district|commune)"},
        {BUDGET("commendation.awarded",
                "recipient:x,recipient_kind:individual,level:province"),
         "data: missing awarded_by (required for commendation.awarded)"},
        {ASSESSED_LABOUR("1"),
         "data.no_labour_capacity: must be true or false"},
        {"{" HDR("household.status") "," HH ",data:{year:2024,status:poor,"
                                     "no_labour_capacity:true}}",
         "data.no_labour_capacity: unknown field for household.status"},
    };
    struct doc d;

    (void)state;
    check_rejects(cases, ARRAY_LEN(cases));

    assert_int_equal(doc_decode(&d, valid_events[EV_PRODUCTION_LINKED]),
                     POVTRACK_OK);
    assert_true(ev_str_eq(d.ev.data.link, "LK-2024-07"));
    assert_true(ev_str_eq(d.ev.data.partner, "HTX Thanh Long Hàm Thuận Nam"));
    assert_int_equal(d.ev.data.partner_kind, EV_PARTNER_COOPERATIVE);
    assert_true(ev_str_eq(d.ev.data.product, "Thanh long ruột đỏ"));
    assert_int_equal(d.ev.data.year, 2024);
    doc_free(&d);
    assert_int_equal(doc_decode(&d, valid_events[EV_OCOP_CERTIFIED]),
                     POVTRACK_OK);
    assert_int_equal(d.ev.data.stars, 4);
    assert_true(ev_str_eq(d.ev.data.partner, "HTX Thanh Long Hàm Thuận Nam"));
    doc_free(&d);
    assert_int_equal(doc_decode(&d, valid_events[EV_ASSISTANCE_PAID]),
                     POVTRACK_OK);
    assert_int_equal(d.ev.data.assistance, EV_ASSISTANCE_REGULAR);
    assert_int_equal(d.ev.data.change, EV_CHANGE_NONE);
    assert_int_equal(d.ev.data.amount, 500000);
    doc_free(&d);
    assert_int_equal(doc_decode(&d, valid_events[EV_BUDGET_SPENT]),
                     POVTRACK_OK);
    assert_int_equal(d.ev.data.ntp, EV_NTP_ETHNIC_MINORITY);
    assert_null(d.ev.data.program.ptr);
    assert_true(ev_str_eq(d.ev.data.component, "Dự án 1"));
    assert_int_equal(d.ev.data.amount, 250000000);
    doc_free(&d);
    /* A loan's programme is still free text, even a budget's code. */
    assert_int_equal(
        doc_decode(
            &d,
            "{" HDR(
                "credit.disbursed") "," HH
                                    ",data:{loan:x,program:poverty_reduction,"
                                    "amount:1}}"),
        POVTRACK_OK);
    assert_true(ev_str_eq(d.ev.data.program, "poverty_reduction"));
    assert_int_equal(d.ev.data.ntp, EV_NTP_NONE);
    doc_free(&d);
    assert_int_equal(doc_decode(&d, valid_events[EV_COMMENDATION_AWARDED]),
                     POVTRACK_OK);
    assert_true(ev_str_eq(d.ev.data.recipient, "Hội Nông dân xã Hàm Chính"));
    assert_int_equal(d.ev.data.recipient_kind, EV_RECIPIENT_COLLECTIVE);
    assert_true(ev_str_eq(d.ev.data.awarded_by, "UBND tỉnh Bình Thuận"));
    assert_int_equal(d.ev.data.level, EV_LEVEL_PROVINCE);
    assert_true(ev_str_eq(d.ev.data.decision, "QĐ 45/QĐ-UBND"));
    doc_free(&d);
    assert_int_equal(doc_decode(&d, valid_events[EV_HOUSEHOLD_ASSESSED]),
                     POVTRACK_OK);
    assert_true(d.ev.data.has_no_labour_capacity);
    assert_true(d.ev.data.no_labour_capacity);
    assert_false(d.ev.data.has_in_kind);
    doc_free(&d);
    assert_int_equal(doc_decode(&d, ASSESSED_LABOUR("false")), POVTRACK_OK);
    assert_true(d.ev.data.has_no_labour_capacity);
    assert_false(d.ev.data.no_labour_capacity);
    doc_free(&d);

    assert_string_equal(ev_partner_kind_name(EV_PARTNER_ENTERPRISE),
                        "enterprise");
    assert_string_equal(ev_assistance_name(EV_ASSISTANCE_EMERGENCY),
                        "emergency");
    assert_string_equal(ev_ntp_name(EV_NTP_POVERTY_REDUCTION),
                        "poverty_reduction");
    assert_string_equal(ev_recipient_kind_name(EV_RECIPIENT_INDIVIDUAL),
                        "individual");
    assert_null(ev_ntp_name(EV_NTP_COUNT));
}

/* Corrections kept in the log: record.voided and record.corrected, the
 * latter validated as the record it holds. */
#define VOID(f) "{" HDRP("record.voided") ",data:{" f "}}"
#define CORR(hh, f) "{" HDR("record.corrected") hh ",data:{" f "}}"
#define CORR_OK "target:'BL-1',type:donation.received,reason:'sai số tiền'"

static void test_record_amendments(void **state)
{
    static const struct reject cases[] = {
        {VOID("target:'BL-1',type:donation.received"),
         "data: missing reason (required for record.voided)"},
        {VOID("type:donation.received,reason:dup"),
         "data: missing target (required for record.voided)"},
        {VOID("target:'BL 1',type:donation.received,reason:dup"),
         "data.target: byte 2 is not printable ASCII (0x21..0x7e)"},
        {VOID("target:'',type:donation.received,reason:dup"),
         "data.target: must not be empty"},
        {VOID("target:'BL-1',type:donation.received,reason:''"),
         "data.reason: must not be empty"},
        {VOID("target:'BL-1',type:household.status,reason:dup"),
         "data.type: a household.status cannot be voided or corrected (only "
         "donations, pledges, fund disbursements, loans, repayments and "
         "relocations can)"},
        {VOID("target:'BL-1',type:record.voided,reason:dup"),
         "data.type: a record.voided cannot be voided or corrected (only "
         "donations, pledges, fund disbursements, loans, repayments and "
         "relocations can)"},
        {VOID("target:'BL-1',type:donation,reason:dup"),
         "data.type: unknown value \"donation\" (expected "
         "donation.pledged|donation.received|fund.disbursed|relocation."
         "completed|relocation.support|credit.disbursed|credit.repaid)"},
        {VOID("target:'BL-1',type:donation.received,reason:dup,amount:1"),
         "data.amount: unknown field for record.voided"},
        {"{" HDRP("record.voided") "," HH ",data:{target:'BL-1',type:"
                                   "donation.received,reason:dup}}",
         "household: not allowed for record.voided"},
        /* the corrected record: its type's fields, validated as its own */
        {CORR("", CORR_OK),
         "data: missing record (required for record.corrected)"},
        {CORR("", CORR_OK ",record:{amount:5}"),
         "data.record: missing donor, donor_kind, level (required for "
         "donation.received)"},
        {CORR("", CORR_OK ",record:{amount:0,donor:A,donor_kind:person,"
                          "level:commune}"),
         "data.record.amount: must be a positive integer"},
        {CORR("", CORR_OK ",record:{amount:5,donor:A,donor_kind:ghost,"
                          "level:commune}"),
         "data.record.donor_kind: unknown value \"ghost\" (expected "
         "person|organisation|business|anonymous)"},
        {CORR("", CORR_OK ",record:{amount:5,donor:A,donor_kind:person,"
                          "level:commune,loan:x}"),
         "data.record.loan: unknown field for donation.received"},
        {CORR("", CORR_OK ",record:7"), "data.record: must be a map"},
        {CORR("," HH, CORR_OK ",record:{amount:5,donor:A,donor_kind:person,"
                              "level:commune}"),
         "household: not allowed for a correction of donation.received"},
        {CORR("", "target:r,type:relocation.completed,reason:x,"
                  "record:{from:'22930',reason:flood}"),
         "household: required for a correction of relocation.completed"},
        /* a relocation's hazard and the correction's reason, apart */
        {CORR("," HH, "target:r,type:relocation.completed,reason:x,"
                      "record:{from:'22930',reason:'sai xã'}"),
         "data.record.reason: unknown value \"sai x\\xc3\\xa3\" (expected "
         "landslide|flood|erosion|forest|other)"},
        {CORR("," HH, "target:r,type:relocation.completed,reason:flood,"
                      "record:{from:'22930'}"),
         "data.record: missing reason (required for relocation.completed)"},
    };
    struct doc d;

    (void)state;
    check_rejects(cases, ARRAY_LEN(cases));

    assert_int_equal(doc_decode(&d, valid_events[EV_RECORD_VOIDED]),
                     POVTRACK_OK);
    assert_true(ev_str_eq(d.ev.data.target, "BL-0012"));
    assert_true(ev_str_eq(d.ev.data.remark, "hàng trùng"));
    assert_int_equal(d.ev.data.target_type, EV_DONATION_RECEIVED);
    doc_free(&d);

    assert_int_equal(doc_decode(&d, valid_events[EV_RECORD_CORRECTED]),
                     POVTRACK_OK);
    assert_int_equal(d.ev.type, EV_RECORD_CORRECTED);
    assert_int_equal(d.ev.data.target_type, EV_RELOCATION_COMPLETED);
    assert_true(ev_str_eq(d.ev.data.target, "reloc-7"));
    assert_true(ev_str_eq(d.ev.data.remark, "sai xã đi"));
    assert_true(ev_str_eq(d.ev.data.from, "22930"));
    assert_int_equal(d.ev.data.reason, EV_REASON_FLOOD);
    assert_true(ev_str_eq(d.ev.household, "HH-0001"));
    doc_free(&d);

    for (enum ev_type t = EV_TYPE_NONE + 1; t < EV_TYPE_COUNT; t++)
        assert_int_equal(
            ev_type_amendable(t),
            t == EV_DONATION_PLEDGED || t == EV_DONATION_RECEIVED ||
                t == EV_FUND_DISBURSED || t == EV_CREDIT_DISBURSED ||
                t == EV_CREDIT_REPAID || t == EV_RELOCATION_COMPLETED ||
                t == EV_RELOCATION_SUPPORT);
}

static void test_first_error_wins(void **state)
{
    static const struct reject cases[] = {
        /* envelope fields in canonical order, whatever the key order */
        {"{data:{},unit:'6',at:1,type:x,id:'',v:2}", "v: unsupported"},
        {"{data:{},unit:'6',at:1,type:x,id:'',v:1}", "id: must not be empty"},
        {"{data:{},unit:'6',at:1,type:x,id:a,v:1}", "type: unknown"},
        {"{data:{},unit:'6',at:1,type:review.closed,id:a,v:1}",
         "at: 1970-01-01 is before"},
        {"{data:{},unit:'6',at:1700000000,type:review.closed,id:a,v:1}",
         "unit: must be"},
        /* key problems come first, in wire order */
        {"{v:9,id:'',zz:1,v:1}", "zz: unknown field"},
        /* data values in table order, deprived after year */
        {ASSESSED("1999", "[foo]"), "data.year: must be between"},
        {"{" HDR("household.assessed") "," HH ",data:{year:2024,area:x,"
                                       "members:0,income:0,deprived:[]}}",
         "data.area:"},
        {"{" HDR("household.assessed") "," HH ",data:{deprived:[foo],"
                                       "income:-1,members:0,area:x,year:2024}}",
         "data.area:"},
    };

    (void)state;
    check_rejects(cases, ARRAY_LEN(cases));
}

/* Every missing field at once, and the kind of rule each rejection broke
 * (ev_error.why), which the CSV importer words for the clerk. */
static void test_missing_and_why(void **state)
{
    static const struct {
        const char *text;
        const char *msg;
        enum ev_why why;
    } cases[] = {
        {"{v:1,id:e1,type:donation.received,unit:'60'}",
         "event: missing at, data", EV_WHY_MISSING},
        {"{" HDRP("donation.received") ",data:{donor:x,level:province}}",
         "data: missing amount, donor_kind (required for donation.received)",
         EV_WHY_MISSING},
        {"{v:1,id:e1,type:review.closed,at:946684799,unit:'60',data:{}}",
         "at: 2000-01-01 06:59 is before", EV_WHY_TOO_EARLY},
        {"{v:1,id:e1,type:review.closed,at:1750086401,unit:'60',data:{}}",
         "at: 2025-06-16 22:06:41 is later than tomorrow", EV_WHY_TOO_LATE},
        /* Another day: the dates alone. */
        {"{v:1,id:e1,type:review.closed,at:1823533200,unit:'60',data:{}}",
         "at: 2027-10-15 is later than tomorrow (2025-06-16, Vietnam time)",
         EV_WHY_TOO_LATE},
        {"{" HDRP("donation.received") ",data:{amount:0,donor:x,donor_kind:"
                                       "person,level:province}}",
         "data.amount: must be a positive integer", EV_WHY_RANGE},
        {"{" HDRP("donation.received") ",data:{amount:1,donor:'',donor_kind:"
                                       "person,level:province}}",
         "data.donor: must not be empty", EV_WHY_EMPTY},
        {"{" HDRP("donation.received") ",data:{amount:1,donor:'d'*290,"
                                       "donor_kind:person,level:province}}",
         "data.donor: must be at most 256 bytes (about 85 Vietnamese "
         "characters); this one has 290 bytes",
         EV_WHY_TOO_LONG},
        {"{v:1,id:e1,type:review.closed,at:1700000000,unit:'9999',data:{}}",
         "unit: must be 2, 3 or 5 decimal digits", EV_WHY_FORMAT},
        {"{" HDRP("donation.received") ",data:{amount:1,donor:x,donor_kind:"
                                       "friend,level:province}}",
         "data.donor_kind: unknown value", EV_WHY_VALUE},
        {"{" HDRP("donation.received") ",data:{amount:1.5,donor:x,donor_kind:"
                                       "person,level:province}}",
         "data.amount: must be an integer, not a float", EV_WHY_OTHER},
    };

    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct doc d;
        assert_int_equal(doc_decode(&d, cases[i].text), POVTRACK_EINVALID);
        if (strncmp(d.err.msg, cases[i].msg, strlen(cases[i].msg)) != 0)
            fail_msg("case %zu: got \"%s\", want \"%s...\"", i, d.err.msg,
                     cases[i].msg);
        assert_int_equal(d.err.why, cases[i].why);
        doc_free(&d);
    }
}

static void test_field_rule(void **state)
{
    (void)state;
    assert_int_equal(ev_field_rule(EV_DONATION_RECEIVED, "amount"),
                     EV_RULE_REQUIRED);
    assert_int_equal(ev_field_rule(EV_DONATION_RECEIVED, "level"),
                     EV_RULE_REQUIRED);
    assert_int_equal(ev_field_rule(EV_DONATION_RECEIVED, "pledge"),
                     EV_RULE_OPTIONAL);
    assert_int_equal(ev_field_rule(EV_DONATION_RECEIVED, "purpose"),
                     EV_RULE_NONE);
    assert_int_equal(ev_field_rule(EV_DONATION_RECEIVED, "household"),
                     EV_RULE_NONE);
    assert_int_equal(ev_field_rule(EV_FUND_DISBURSED, "household"),
                     EV_RULE_OPTIONAL);
    assert_int_equal(ev_field_rule(EV_CREDIT_REPAID, "household"),
                     EV_RULE_REQUIRED);
    assert_int_equal(ev_field_rule(EV_RELOCATION_SUPPORT, "amount"),
                     EV_RULE_OPTIONAL);
    assert_int_equal(ev_field_rule(EV_UNIT_DEFINED, "level"), EV_RULE_REQUIRED);
    assert_int_equal(ev_field_rule(EV_TYPE_NONE, "amount"), EV_RULE_NONE);
    assert_int_equal(ev_field_rule(EV_TYPE_COUNT, "amount"), EV_RULE_NONE);
    assert_int_equal(ev_field_rule(EV_DONATION_RECEIVED, "nonsense"),
                     EV_RULE_NONE);
}

static void test_error_fits(void **state)
{
    static const struct reject cases[] = {
        {"{" HDR("review.closed") ",data:{year:2024,'k'*5000:1}}", "data.kkk"},
        {"{v:1,id:e1,type:'t'*5000,at:1700000000,unit:'60',data:{}}",
         "type: unknown event type \"ttt"},
        {"{" HDR("fund.disbursed") ",data:{amount:1,purpose:'p'*5000,"
                                   "level:commune}}",
         "data.purpose: unknown value \"ppp"},
        {ASSESSED("2024", "['\\x01'*5000]"),
         "data.deprived[0]: unknown indicator \"\\x01\\x01"},
    };
    struct doc d;

    (void)state;
    check_rejects(cases, ARRAY_LEN(cases));
    assert_int_equal(doc_decode(&d, cases[0].text), POVTRACK_EINVALID);
    assert_non_null(strstr(d.err.msg, "...: unknown field for review.closed"));
    doc_free(&d);
}

/* ------------------------------------------------------------------------ */
/* Canonical encoding                                                       */

static void encode_text(const char *text, msgpack_sbuffer *out)
{
    struct doc d;

    if (doc_decode(&d, text) != POVTRACK_OK)
        fail_msg("%s: %s", text, d.err.msg);
    encode(&d.ev, out);
    doc_free(&d);
}

static void test_canonical_bytes(void **state)
{
    static const unsigned char want[] = {
        0x86, 0xa1, 'v',  0x01, 0xa2, 'i',  'd',  0xa2, 'e',  '1',  0xa4, 't',
        'y',  'p',  'e',  0xad, 'r',  'e',  'v',  'i',  'e',  'w',  '.',  'c',
        'l',  'o',  's',  'e',  'd',  0xa2, 'a',  't',  0xce, 0x65, 0x53, 0xf1,
        0x00, 0xa4, 'u',  'n',  'i',  't',  0xa2, '6',  '0',  0xa4, 'd',  'a',
        't',  'a',  0x81, 0xa4, 'y',  'e',  'a',  'r',  0xcd, 0x07, 0xe8};
    msgpack_sbuffer sb;

    (void)state;
    encode_text("{data:{year:#2024},unit:'60',at:#1700000000,type:"
                "review.closed,id:e1,v:#1}",
                &sb);
    assert_int_equal(sb.size, sizeof want);
    assert_memory_equal(sb.data, want, sizeof want);
    msgpack_sbuffer_destroy(&sb);
}

static void test_canonical_key_order(void **state)
{
    static const char *const same[] = {
        "{v:1,id:e1,type:household.assessed,at:1700000000,unit:'22924',"
        "household:h,data:{year:2024,area:urban,members:4,income:1200000,"
        "deprived:[water,latrine,telecom]}}",
        "{data:{deprived:[telecom,water,latrine],income:1200000,members:4,"
        "area:urban,year:2024},household:h,unit:'22924',at:1700000000,"
        "type:household.assessed,id:e1,v:1}",
        "{household:h,at:#1700000000,v:#1,data:{members:#4,year:#2024,"
        "deprived:[latrine,telecom,water],area:urban,income:#1200000},"
        "id:e1,unit:'22924',type:household.assessed}",
    };
    msgpack_sbuffer first, other;
    size_t i;

    (void)state;
    encode_text(same[0], &first);
    for (i = 1; i < ARRAY_LEN(same); i++) {
        encode_text(same[i], &other);
        assert_int_equal(other.size, first.size);
        assert_memory_equal(other.data, first.data, first.size);
        msgpack_sbuffer_destroy(&other);
    }
    msgpack_sbuffer_destroy(&first);
}

/* Count of entries in the canonical top-level map and in its data map. */
static void check_shape(const char *text, uint32_t top, uint32_t data,
                        const char *data_key, msgpack_object_type data_type)
{
    msgpack_sbuffer sb;
    struct doc d;
    const msgpack_object_map *m, *dm;
    uint32_t i;
    bool found = data_key == NULL;

    encode_text(text, &sb);
    memset(&d, 0, sizeof d);
    d.sb = sb;
    assert_int_equal(doc_unpack(&d), POVTRACK_OK);
    m = &d.up.data.via.map;
    assert_int_equal(m->size, top);
    dm = &m->ptr[top - 1].val.via.map;
    assert_int_equal(dm->size, data);
    for (i = 0; i < dm->size && data_key != NULL; i++)
        if (dm->ptr[i].key.via.str.size == strlen(data_key) &&
            memcmp(dm->ptr[i].key.via.str.ptr, data_key, strlen(data_key)) ==
                0) {
            assert_int_equal(dm->ptr[i].val.type, data_type);
            found = true;
        }
    assert_true(found);
    doc_free(&d);
}

static void test_canonical_optional(void **state)
{
    (void)state;
    check_shape(
        "{" HDRP("donation.received") ",data:{amount:1,donor:x,"
                                      "donor_kind:person,level:province}}",
        6, 4, NULL, MSGPACK_OBJECT_NIL);
    check_shape("{" HDRP("donation.received") ",data:{amount:1,donor:x,"
                                              "donor_kind:person,level:"
                                              "province,in_kind:false}}",
                6, 5, "in_kind", MSGPACK_OBJECT_BOOLEAN);
    check_shape(valid_events[EV_DONATION_RECEIVED], 6, 6, "pledge",
                MSGPACK_OBJECT_STR);
    check_shape("{" HDR("relocation.support") "," HH ",data:{item:land}}", 7, 1,
                NULL, MSGPACK_OBJECT_NIL);
    check_shape(valid_events[EV_RELOCATION_SUPPORT], 7, 2, "amount",
                MSGPACK_OBJECT_POSITIVE_INTEGER);
    check_shape("{" HDR("fund.disbursed") ",data:{amount:1,purpose:tet,"
                                          "level:commune}}",
                6, 3, NULL, MSGPACK_OBJECT_NIL);
    check_shape(valid_events[EV_FUND_DISBURSED], 7, 3, NULL,
                MSGPACK_OBJECT_NIL);
    check_shape(valid_events[EV_UNIT_DEFINED], 6, 4, "parent",
                MSGPACK_OBJECT_NIL);
    check_shape(valid_events[EV_UNIT_DEFINED], 6, 4, "effective",
                MSGPACK_OBJECT_POSITIVE_INTEGER);
    check_shape("{" HDRP("unit.defined") ",data:{name:x,parent:nil,"
                                         "level:province}}",
                6, 3, NULL, MSGPACK_OBJECT_NIL);
    check_shape(valid_events[EV_UNIT_CHANGED], 6, 6, "predecessors",
                MSGPACK_OBJECT_ARRAY);
    /* parent: nil is "absent" for a unit.changed, and left out. */
    check_shape("{" HDR("unit.changed") ",data:{kind:merge,effective:1,"
                                        "predecessors:['22921','22924'],"
                                        "successor:'22924',parent:nil}}",
                6, 4, "successor", MSGPACK_OBJECT_STR);
    check_shape("{" HDR("unit.changed") ",data:{kind:split,effective:0,"
                                        "predecessors:['22924'],successors:"
                                        "['22924','22940']}}",
                6, 4, "successors", MSGPACK_OBJECT_ARRAY);
    check_shape(valid_events[EV_HOUSEHOLD_EXITED], 7, 2, "reason",
                MSGPACK_OBJECT_STR);
    check_shape("{" HDR("household.status") "," HH ",data:{year:2024,"
                                            "status:none}}",
                7, 2, NULL, MSGPACK_OBJECT_NIL);
    check_shape(ASSESSED("2024", "[]"), 7, 5, "deprived", MSGPACK_OBJECT_ARRAY);
    /* The labour capacity is kept when given, false included, and an
     * assessment without it encodes as it always did. */
    check_shape(ASSESSED_LABOUR("false"), 7, 6, "no_labour_capacity",
                MSGPACK_OBJECT_BOOLEAN);
    check_shape(valid_events[EV_OCOP_CERTIFIED], 6, 3, "partner",
                MSGPACK_OBJECT_STR);
    check_shape("{" HDR("ocop.certified") ",data:{product:x,stars:5}}", 6, 2,
                NULL, MSGPACK_OBJECT_NIL);
    check_shape("{" HDRP("commendation.awarded") ",data:{recipient:x,"
                                                 "recipient_kind:individual,"
                                                 "awarded_by:y,level:central}}",
                6, 4, NULL, MSGPACK_OBJECT_NIL);
}

static void test_encode_rejects_nonsense(void **state)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    struct ev_event ev;
    struct doc d;

    (void)state;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    memset(&ev, 0, sizeof ev);
    assert_int_equal(ev_encode(&ev, &pk), POVTRACK_EINVALID);
    assert_int_equal(ev_encode(NULL, &pk), POVTRACK_EINVALID);

    assert_int_equal(doc_decode(&d, valid_events[EV_DONATION_RECEIVED]),
                     POVTRACK_OK);
    ev = d.ev;
    ev.household = (struct ev_str){"h", 1};
    assert_int_equal(ev_encode(&ev, &pk), POVTRACK_EINVALID);
    ev = d.ev;
    ev.data.donor_kind = (enum ev_donor_kind)42;
    assert_int_equal(ev_encode(&ev, &pk), POVTRACK_EINVALID);
    ev = d.ev;
    ev.type = EV_TYPE_COUNT;
    assert_int_equal(ev_encode(&ev, &pk), POVTRACK_EINVALID);
    doc_free(&d);

    assert_int_equal(doc_decode(&d, valid_events[EV_CREDIT_REPAID]),
                     POVTRACK_OK);
    ev = d.ev;
    ev.household.ptr = NULL;
    assert_int_equal(ev_encode(&ev, &pk), POVTRACK_EINVALID);
    ev = d.ev;
    ev.data.loan.ptr = NULL;
    assert_int_equal(ev_encode(&ev, &pk), POVTRACK_EINVALID);
    doc_free(&d);

    assert_int_equal(doc_decode(&d, valid_events[EV_UNIT_DEFINED]),
                     POVTRACK_OK);
    ev = d.ev;
    ev.data.level = EV_LEVEL_NONE; /* no level at all */
    assert_int_equal(ev_encode(&ev, &pk), POVTRACK_EINVALID);
    doc_free(&d);

    assert_int_equal(doc_decode(&d, valid_events[EV_UNIT_CHANGED]),
                     POVTRACK_OK);
    ev = d.ev;
    ev.data.change = (enum ev_change)42;
    assert_int_equal(ev_encode(&ev, &pk), POVTRACK_EINVALID);
    ev = d.ev;
    ev.data.change = EV_CHANGE_NONE;
    assert_int_equal(ev_encode(&ev, &pk), POVTRACK_EINVALID);
    ev = d.ev;
    ev.data.predecessors.n = 0; /* required, so never empty */
    assert_int_equal(ev_encode(&ev, &pk), POVTRACK_EINVALID);
    ev = d.ev;
    ev.household = (struct ev_str){"h", 1};
    assert_int_equal(ev_encode(&ev, &pk), POVTRACK_EINVALID);
    doc_free(&d);

    assert_int_equal(doc_decode(&d, valid_events[EV_HOUSEHOLD_EXITED]),
                     POVTRACK_OK);
    ev = d.ev;
    ev.data.exit_reason = EV_EXIT_NONE;
    assert_int_equal(ev_encode(&ev, &pk), POVTRACK_EINVALID);
    ev = d.ev;
    ev.data.exit_reason = (enum ev_exit)5;
    assert_int_equal(ev_encode(&ev, &pk), POVTRACK_EINVALID);
    ev = d.ev;
    ev.household.ptr = NULL;
    assert_int_equal(ev_encode(&ev, &pk), POVTRACK_EINVALID);
    doc_free(&d);

    /* A rejected event leaves nothing behind in the packer. */
    assert_int_equal(sb.size, 0);
    msgpack_sbuffer_destroy(&sb);
}

/* ------------------------------------------------------------------------ */
/* precheck                                                                 */

static void expect_precheck(const void *buf, size_t len, unsigned depth,
                            const char *msg)
{
    struct ev_error err = {0};
    int rc = precheck(buf, len, depth, &err);

    if (msg == NULL) {
        if (rc != POVTRACK_OK)
            fail_msg("precheck rejected: %s", err.msg);
        return;
    }
    assert_int_equal(rc, POVTRACK_EINVALID);
    if (strncmp(err.msg, msg, strlen(msg)) != 0)
        fail_msg("got \"%s\", want \"%s...\"", err.msg, msg);
}

static void test_precheck_bombs(void **state)
{
    static const unsigned char array32[] = {0xdd, 0xff, 0x00, 0x00, 0x00};
    static const unsigned char map32[] = {0xdf, 0xff, 0xff, 0xff, 0xff};
    static const unsigned char map16[] = {0xde, 0x00, 0x02, 0xa3,
                                          'a',  'b',  'c',  0x01};
    static const unsigned char str32[] = {0xdb, 0xff, 0xff, 0xff, 0xff, 'a'};
    static const unsigned char bin32[] = {0xc6, 0x7f, 0xff, 0xff, 0xff};
    static const unsigned char ext32[] = {0xc9, 0x00, 0x00, 0x00,
                                          0x03, 0x01, 'a',  'b'};
    static const unsigned char str8[] = {0xd9, 0x03, 'a', 'b'};
    static const unsigned char fixstr[] = {0xa5, 'a', 'b'};
    static const unsigned char fixarray[] = {0x93, 0x01, 0x02};
    static const unsigned char nested[] = {0x91, 0x91, 0xdd, 0x00,
                                           0x00, 0x10, 0x00};

    (void)state;
    expect_precheck(array32, sizeof array32, EV_DEPTH_MAX,
                    "event: array of 4278190080 elements exceeds the 0 "
                    "bytes left");
    expect_precheck(map32, sizeof map32, EV_DEPTH_MAX, "event: map of");
    expect_precheck(map16, sizeof map16, EV_DEPTH_MAX,
                    "event: truncated"); /* fits the bound, yet incomplete */
    expect_precheck(str32, sizeof str32, EV_DEPTH_MAX,
                    "event: payload of 4294967295 bytes exceeds the 1 bytes "
                    "left");
    expect_precheck(bin32, sizeof bin32, EV_DEPTH_MAX,
                    "event: payload of 2147483647 bytes");
    expect_precheck(ext32, sizeof ext32, EV_DEPTH_MAX,
                    "event: payload of 4 bytes exceeds the 3 bytes left");
    expect_precheck(str8, sizeof str8, EV_DEPTH_MAX, "event: payload of");
    expect_precheck(fixstr, sizeof fixstr, EV_DEPTH_MAX, "event: payload of");
    expect_precheck(fixarray, sizeof fixarray, EV_DEPTH_MAX,
                    "event: array of 3");
    expect_precheck(nested, sizeof nested, EV_DEPTH_MAX, "event: array of");
}

static void test_precheck_malformed(void **state)
{
    static const unsigned char c1[] = {0xc1};
    static const unsigned char trailing[] = {0x81, 0xa1, 'v', 0x01, 0xc0};
    static const unsigned char two[] = {0x01, 0x02};
    static const unsigned char cut_int[] = {0xcf, 0, 0, 0};
    static const unsigned char cut_hdr[] = {0xda, 0x00};
    static const unsigned char cut_fixext[] = {0xd8, 0x01, 0, 0, 0};
    static const unsigned char in_map[] = {0x82, 0xa1, 'a', 0xc1, 0, 0};

    (void)state;
    expect_precheck(c1, sizeof c1, EV_DEPTH_MAX,
                    "event: invalid msgpack byte 0xc1");
    expect_precheck(in_map, sizeof in_map, EV_DEPTH_MAX,
                    "event: invalid msgpack byte 0xc1");
    expect_precheck(trailing, sizeof trailing, EV_DEPTH_MAX,
                    "event: trailing bytes after the msgpack object");
    expect_precheck(two, sizeof two, EV_DEPTH_MAX,
                    "event: trailing bytes after the msgpack object");
    expect_precheck(cut_int, sizeof cut_int, EV_DEPTH_MAX, "event: truncated");
    expect_precheck(cut_hdr, sizeof cut_hdr, EV_DEPTH_MAX, "event: truncated");
    expect_precheck(cut_fixext, sizeof cut_fixext, EV_DEPTH_MAX,
                    "event: truncated");
    expect_precheck("", 0, EV_DEPTH_MAX, "event: empty buffer");
    expect_precheck(NULL, 0, EV_DEPTH_MAX, "event: empty buffer");
    assert_int_equal(precheck(two, 1, EV_DEPTH_MAX, NULL), POVTRACK_OK);
    assert_int_equal(precheck(two, 2, EV_DEPTH_MAX, NULL), POVTRACK_EINVALID);
}

/* n arrays, each the only element of the one around it. */
static void nest(unsigned char *buf, size_t n, unsigned char innermost)
{
    memset(buf, 0x91, n);
    buf[n] = innermost;
}

static void test_precheck_depth(void **state)
{
    unsigned char buf[128];

    (void)state;
    nest(buf, EV_DEPTH_MAX, 0x01);
    expect_precheck(buf, EV_DEPTH_MAX + 1, EV_DEPTH_MAX, NULL);
    nest(buf, EV_DEPTH_MAX, 0x90); /* an empty array is a level too */
    expect_precheck(buf, EV_DEPTH_MAX + 1, EV_DEPTH_MAX,
                    "event: nesting deeper than 8 levels");
    nest(buf, EV_DEPTH_MAX, 0x80);
    expect_precheck(buf, EV_DEPTH_MAX + 1, EV_DEPTH_MAX,
                    "event: nesting deeper than 8 levels");
    nest(buf, EV_DEPTH_MAX + 1, 0x01);
    expect_precheck(buf, EV_DEPTH_MAX + 2, EV_DEPTH_MAX,
                    "event: nesting deeper than 8 levels");
    /* maps nest like arrays */
    {
        static const unsigned char maps[] = {0x81, 0x01, 0x81, 0x01, 0x80};
        expect_precheck(maps, sizeof maps, 3, NULL);
        expect_precheck(maps, sizeof maps, 2, "event: nesting deeper");
    }
    expect_precheck(buf + EV_DEPTH_MAX + 1, 1, 0, NULL); /* a scalar */
    expect_precheck(buf, 2, 0, "event: nesting deeper than 0 levels");
    /* the walker's own stack caps max_depth, never lifts it */
    nest(buf, 64, 0x01);
    expect_precheck(buf, 65, UINT32_MAX, NULL);
    nest(buf, 65, 0x01);
    expect_precheck(buf, 66, UINT32_MAX, "event: nesting deeper than 64");
    /* siblings do not add up */
    {
        static const unsigned char wide[] = {0x93, 0x91, 0x91, 0x01,
                                             0x91, 0x01, 0x91, 0x01};
        expect_precheck(wide, sizeof wide, 3, NULL);
    }
}

static void test_precheck_valid_event(void **state)
{
    msgpack_sbuffer sb;
    size_t n;

    (void)state;
    pack_text(&sb, valid_events[EV_HOUSEHOLD_ASSESSED]);
    expect_precheck(sb.data, sb.size, EV_DEPTH_MAX, NULL);
    expect_precheck(sb.data, sb.size, 3, NULL);
    expect_precheck(sb.data, sb.size, 2, "event: nesting deeper than 2");
    for (n = 0; n < sb.size; n++) {
        struct ev_error err;
        if (precheck(sb.data, n, EV_DEPTH_MAX, &err) != POVTRACK_EINVALID)
            fail_msg("prefix of %zu bytes accepted", n);
    }
    msgpack_sbuffer_destroy(&sb);
}

/* Every msgpack format, each truncation of it rejected. */
/* The configurable limits: each bound is inclusive, each rejection names
 * its limit. */
static void test_precheck_limits(void **state)
{
    (void)state;
    struct povtrack_proto_limits lim = {4, 8, 3, 2, "limits.events_max"};
    struct ev_error err;
    msgpack_sbuffer sb;
    msgpack_packer pk;

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    /* [ {"k": "12345678", "a": [1, 2, 3]} ]: everything at its limit. */
    msgpack_pack_array(&pk, 1);
    msgpack_pack_map(&pk, 2);
    msgpack_pack_str_with_body(&pk, "k", 1);
    msgpack_pack_str_with_body(&pk, "12345678", 8);
    msgpack_pack_str_with_body(&pk, "a", 1);
    msgpack_pack_array(&pk, 3);
    for (int i = 1; i <= 3; i++)
        msgpack_pack_int(&pk, i);
    assert_int_equal(povtrack_proto_precheck(sb.data, sb.size, &lim, err.msg,
                                             sizeof err.msg),
                     POVTRACK_OK);

    lim.string_max = 7;
    assert_int_equal(povtrack_proto_precheck(sb.data, sb.size, &lim, err.msg,
                                             sizeof err.msg),
                     POVTRACK_EINVALID);
    assert_string_equal(err.msg, "event: string of 8 bytes exceeds "
                                 "limits.string_max (7)");
    lim.string_max = 8;
    lim.container_max = 2; /* the nested array of 3; the map has 2 */
    assert_int_equal(povtrack_proto_precheck(sb.data, sb.size, &lim, err.msg,
                                             sizeof err.msg),
                     POVTRACK_EINVALID);
    assert_string_equal(err.msg, "event: array of 3 elements exceeds "
                                 "limits.container_max (2)");
    lim.container_max = 3;
    lim.depth_max = 2;
    assert_int_equal(povtrack_proto_precheck(sb.data, sb.size, &lim, err.msg,
                                             sizeof err.msg),
                     POVTRACK_EINVALID);
    assert_string_equal(err.msg, "event: nesting deeper than 2 levels "
                                 "(limits.depth_max)");

    /* The top level has its own bound: events in one request. */
    msgpack_sbuffer_clear(&sb);
    msgpack_pack_array(&pk, 3);
    for (int i = 0; i < 3; i++)
        msgpack_pack_nil(&pk);
    lim.depth_max = 4;
    assert_int_equal(povtrack_proto_precheck(sb.data, sb.size, &lim, err.msg,
                                             sizeof err.msg),
                     POVTRACK_EINVALID);
    assert_string_equal(err.msg, "event: array of 3 elements exceeds "
                                 "limits.events_max (2)");
    lim.top_max = 3;
    assert_int_equal(povtrack_proto_precheck(sb.data, sb.size, &lim, err.msg,
                                             sizeof err.msg),
                     POVTRACK_OK);
    /* bin and ext count as strings: a declared 9-byte bin is refused
     * before its length is compared with what is left. */
    static const unsigned char bin9[] = {0xc4, 9};
    lim.string_max = 8;
    assert_int_equal(povtrack_proto_precheck(bin9, sizeof bin9, &lim, err.msg,
                                             sizeof err.msg),
                     POVTRACK_EINVALID);
    assert_string_equal(err.msg, "event: string of 9 bytes exceeds "
                                 "limits.string_max (8)");
    msgpack_sbuffer_destroy(&sb);
}

static void test_precheck_all_formats(void **state)
{
    static char big[70000];
    msgpack_sbuffer sb;
    msgpack_packer pk;
    size_t i, n, off = 0;
    msgpack_unpacked up;

    (void)state;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 38);
    msgpack_pack_nil(&pk);
    msgpack_pack_true(&pk);
    msgpack_pack_false(&pk);
    msgpack_pack_int64(&pk, 5);
    msgpack_pack_int64(&pk, -5);
    msgpack_pack_int64(&pk, 200);
    msgpack_pack_int64(&pk, 60000);
    msgpack_pack_int64(&pk, 4000000000);
    msgpack_pack_uint64(&pk, UINT64_MAX);
    msgpack_pack_int64(&pk, -100);
    msgpack_pack_int64(&pk, -30000);
    msgpack_pack_int64(&pk, -2000000000);
    msgpack_pack_int64(&pk, INT64_MIN);
    msgpack_pack_float(&pk, 1.5f);
    msgpack_pack_double(&pk, 2.5);
    msgpack_pack_str_with_body(&pk, "fix", 3);
    msgpack_pack_str_with_body(&pk, big, 40);    /* str 8 */
    msgpack_pack_str_with_body(&pk, big, 300);   /* str 16 */
    msgpack_pack_str_with_body(&pk, big, 66000); /* str 32 */
    msgpack_pack_bin_with_body(&pk, big, 10);    /* bin 8 */
    msgpack_pack_bin_with_body(&pk, big, 300);   /* bin 16 */
    msgpack_pack_bin_with_body(&pk, big, 66000); /* bin 32 */
    for (n = 1; n <= 16; n *= 2) {               /* fixext 1, 2, 4, 8, 16 */
        msgpack_pack_ext(&pk, n, 7);
        msgpack_pack_ext_body(&pk, big, n);
    }
    msgpack_pack_ext(&pk, 3, 7); /* ext 8 */
    msgpack_pack_ext_body(&pk, big, 3);
    msgpack_pack_ext(&pk, 300, 7); /* ext 16 */
    msgpack_pack_ext_body(&pk, big, 300);
    msgpack_pack_ext(&pk, 66000, 7); /* ext 32 */
    msgpack_pack_ext_body(&pk, big, 66000);
    msgpack_pack_array(&pk, 16); /* array 16 */
    for (i = 0; i < 16; i++)
        msgpack_pack_nil(&pk);
    msgpack_pack_map(&pk, 16); /* map 16 */
    for (i = 0; i < 32; i++)
        msgpack_pack_int64(&pk, (int64_t)i);
    msgpack_pack_array(&pk, 0);
    msgpack_pack_map(&pk, 0);
    msgpack_pack_str_with_body(&pk, "", 0);
    msgpack_pack_bin_with_body(&pk, "", 0);
    msgpack_pack_ext(&pk, 0, 1);
    msgpack_pack_int64(&pk, -1);

    expect_precheck(sb.data, sb.size, EV_DEPTH_MAX, NULL);
    msgpack_unpacked_init(&up);
    assert_int_equal(msgpack_unpack_next(&up, sb.data, sb.size, &off),
                     MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(off, sb.size);
    assert_int_equal(up.data.via.array.size, 38);
    msgpack_unpacked_destroy(&up);
    /* Truncations: every cut in the small head, a sample in the bulk. */
    for (n = 0; n < sb.size; n += n < 512 ? 1 : 997)
        assert_int_equal(precheck(sb.data, n, EV_DEPTH_MAX, NULL),
                         POVTRACK_EINVALID);
    assert_int_equal(precheck(sb.data, sb.size - 1, EV_DEPTH_MAX, NULL),
                     POVTRACK_EINVALID);
    msgpack_sbuffer_destroy(&sb);
}

/* ------------------------------------------------------------------------ */
/* ev_check_refs                                                            */

/* The registry of the unit tables below: every unit one span, in force
 * from the beginning of time, never ending. */
struct registry {
    const struct ev_unit *units;
    size_t n;
    int fail_rc;  /* nonzero: every history() fails with it */
    int child_rc; /* nonzero: every child_after() fails with it */
};

#define S(lit)                                                                 \
    {                                                                          \
        lit, sizeof lit - 1                                                    \
    }

static const struct ev_unit units[] = {
    {S("60"), S("Bình Thuận"), {NULL, 0}, EV_LEVEL_PROVINCE},
    {S("68"), S("Lâm Đồng"), {NULL, 0}, EV_LEVEL_PROVINCE},
    {S("593"), S("Phan Thiết"), S("60"), EV_LEVEL_DISTRICT},
    {S("22924"), S("Phú Thủy"), S("593"), EV_LEVEL_COMMUNE},
    {S("22930"), S("Phú Trinh"), S("593"), EV_LEVEL_COMMUNE},
};

static int reg_history(void *arg, struct ev_str code, struct ev_history *out)
{
    const struct registry *r = arg;

    if (r->fail_rc != 0)
        return r->fail_rc;
    for (size_t i = 0; i < r->n; i++) {
        const struct ev_unit *u = &r->units[i];
        if (str_same(u->code, code)) {
            memset(out, 0, sizeof *out);
            out->code = u->code;
            out->n = 1;
            out->span[0].from = EV_TIME_MIN;
            out->span[0].to = EV_TIME_MAX;
            out->span[0].name = u->name;
            out->span[0].parent = u->parent;
            out->span[0].level = u->level;
            return POVTRACK_OK;
        }
    }
    return POVTRACK_ENOTFOUND;
}

static int reg_child_after(void *arg, struct ev_str parent, int64_t t,
                           struct ev_str *child)
{
    const struct registry *r = arg;

    (void)t; /* every span ends at EV_TIME_MAX, after any t */
    if (r->child_rc != 0)
        return r->child_rc;
    for (size_t i = 0; i < r->n; i++) {
        if (r->units[i].parent.ptr != NULL &&
            str_same(r->units[i].parent, parent)) {
            *child = r->units[i].code;
            return POVTRACK_OK;
        }
    }
    return POVTRACK_ENOTFOUND;
}

static void registry_of(struct registry *r, struct ev_registry *reg)
{
    reg->arg = r;
    reg->history = reg_history;
    reg->child_after = reg_child_after;
}

struct refcase {
    const char *text;
    int rc;
    const char *msg; /* the whole message, when rc is POVTRACK_EINVALID */
};

#define DEF(unit, parent, level)                                               \
    "{v:1,id:d,type:unit.defined,at:1700000000,unit:'" unit                    \
    "',data:{name:'Tên mới',parent:" parent ",level:" level "}}"
#define DEFE(unit, parent, level)                                              \
    "{v:1,id:d,type:unit.defined,at:1700000000,unit:'" unit                    \
    "',data:{name:'Tên mới',parent:" parent ",level:" level                    \
    ",effective:1751302800}}"

static void test_check_refs(void **state)
{
    static const struct refcase cases[] = {
        {DEF("61", "nil", "province"), POVTRACK_OK, NULL},
        {DEF("60", "nil", "province"), POVTRACK_OK, NULL}, /* rename */
        {DEF("593", "'60'", "district"), POVTRACK_OK, NULL},
        {DEF("594", "'60'", "district"), POVTRACK_OK, NULL},
        {DEF("22925", "'593'", "commune"), POVTRACK_OK, NULL},
        {DEF("22925", "'60'", "commune"), POVTRACK_OK, NULL}, /* no district */
        {DEF("593", "'68'", "district"), POVTRACK_EINVALID,
         "unit: 593 is already defined from the beginning with parent 60; "
         "to move it, give a later data.effective or send a unit.changed "
         "reparent"},
        {DEF("22924", "'60'", "commune"), POVTRACK_EINVALID,
         "unit: 22924 is already defined from the beginning with parent "
         "593; to move it, give a later data.effective or send a "
         "unit.changed reparent"},
        /* the redefinition is refused before the parent is looked up */
        {DEF("22924", "'594'", "commune"), POVTRACK_EINVALID,
         "unit: 22924 is already defined from the beginning with parent "
         "593; to move it, give a later data.effective or send a "
         "unit.changed reparent"},
        /* with data.effective: the unit goes on under the new parent */
        {DEFE("593", "'68'", "district"), POVTRACK_OK, NULL},
        {DEFE("22940", "'68'", "commune"), POVTRACK_OK, NULL},
        {DEFE("593", "'61'", "district"), POVTRACK_EINVALID,
         "data.parent: 61 is not defined"},
        {DEF("22925", "'599'", "commune"), POVTRACK_EINVALID,
         "data.parent: 599 is not defined"},
        {DEF("594", "'593'", "district"), POVTRACK_EINVALID,
         "data.parent: 593 is a district, not above a district"},
        {DEF("22925", "'22924'", "commune"), POVTRACK_EINVALID,
         "data.parent: 22924 is a commune, not above a commune"},
        {DEF("594", "'22924'", "district"), POVTRACK_EINVALID,
         "data.parent: 22924 is a commune, not above a district"},
        {DEF("594", "'593'", "commune"), POVTRACK_EINVALID,
         "unit: a commune code has 5 digits, not 3"},
        {DEF("22926", "'60'", "district"), POVTRACK_EINVALID,
         "unit: a district code has 3 digits, not 5"},
        {DEF("61", "'60'", "district"), POVTRACK_EINVALID,
         "unit: a district code has 3 digits, not 2"},
        {DEF("593", "nil", "province"), POVTRACK_EINVALID,
         "unit: a province code has 2 digits, not 3"},
        {"{" HDR("review.closed") ",data:{year:2024}}", POVTRACK_OK, NULL},
        {"{" HDRP("report.submitted") ",data:{org:o,report:r}}", POVTRACK_OK,
         NULL},
        {"{v:1,id:e,type:review.closed,at:1700000000,unit:'22870',"
         "data:{year:2024}}",
         POVTRACK_EINVALID, "unit: 22870 is not defined"},
        {"{v:1,id:e,type:unit.households,at:1700000000,unit:'61',"
         "data:{year:2024,households:1}}",
         POVTRACK_EINVALID, "unit: 61 is not defined"},
        {"{" HDR("relocation.completed") "," HH ",data:{from:'22930',"
                                         "reason:erosion}}",
         POVTRACK_OK, NULL},
        {"{" HDR("relocation.completed") "," HH ",data:{from:'22870',"
                                         "reason:erosion}}",
         POVTRACK_EINVALID, "data.from: 22870 is not defined"},
        {"{v:1,id:e,type:relocation.completed,at:1700000000,unit:'22870'," HH
         ",data:{from:'22870',reason:erosion}}",
         POVTRACK_EINVALID, "unit: 22870 is not defined"},
        {valid_events[EV_HOUSEHOLD_EXITED], POVTRACK_OK, NULL},
        {"{v:1,id:x,type:household.exited,at:1700000000,unit:'22870'," HH
         ",data:{reason:died,year:2025}}",
         POVTRACK_EINVALID, "unit: 22870 is not defined"},
        {valid_events[EV_HOUSEHOLD_MOVED], POVTRACK_OK, NULL},
        {"{" HDR("household.moved") "," HH ",data:{from:'22870'}}",
         POVTRACK_EINVALID, "data.from: 22870 is not defined"},
        /* unit.changed against the registry */
        {CHG("22924", "kind:rename," EFF "predecessors:['22924'],name:x"),
         POVTRACK_OK, NULL},
        {CHG("22924", "kind:reparent," EFF "predecessors:['22924'],"
                      "parent:'60'"),
         POVTRACK_OK, NULL},
        {CHG("22924", "kind:merge," EFF "predecessors:['22930','22924'],"
                      "successor:'22924'"),
         POVTRACK_OK, NULL},
        {CHG("22930", "kind:abolish," EFF "predecessors:['22930']"),
         POVTRACK_OK, NULL},
        {CHG("593", "kind:abolish," EFF "predecessors:['593']"),
         POVTRACK_EINVALID,
         "data.predecessors[0]: 593 still has 22924 under it on 2025-07-01; "
         "move or end that unit first"},
        {CHG("60", "kind:merge," EFF "predecessors:['60','68'],"
                   "successor:'60'"),
         POVTRACK_OK, NULL}, /* 68 has nothing under it */
        {CHG("68", "kind:merge," EFF "predecessors:['60','68'],"
                   "successor:'68'"),
         POVTRACK_EINVALID,
         "data.predecessors[0]: 60 still has 593 under it on 2025-07-01; "
         "move or end that unit first"},
        {CHG("22940", "kind:merge," EFF "predecessors:['22924','22930'],"
                      "successor:'22940',name:'Phú Thủy',parent:'68'"),
         POVTRACK_OK, NULL},
        {CHG("22940", "kind:merge," EFF "predecessors:['22924','22930'],"
                      "successor:'22940',parent:'68'"),
         POVTRACK_EINVALID,
         "data.name: required to create the successor 22940 (not defined "
         "on 2025-07-01)"},
        {CHG("22940", "kind:merge," EFF "predecessors:['22924','22930'],"
                      "successor:'22940',name:x"),
         POVTRACK_EINVALID, "data.parent: required for a commune"},
        {CHG("593", "kind:split," EFF "predecessors:['593'],"
                    "successors:['593','594']"),
         POVTRACK_EINVALID,
         "data.successors[1]: 594 is not defined on 2025-07-01; define it "
         "first with unit.defined and data.effective"},
        {CHG("22870", "kind:rename," EFF "predecessors:['22870'],name:x"),
         POVTRACK_EINVALID, "data.predecessors[0]: 22870 is not defined"},
        {CHG("22924", "kind:reparent," EFF "predecessors:['22924'],"
                      "parent:'22930'"),
         POVTRACK_EINVALID,
         "data.parent: 22930 is a commune, not above a commune"},
    };
    struct registry r = {units, ARRAY_LEN(units), 0, 0};
    struct ev_registry reg;
    size_t i, bad = 0;

    (void)state;
    registry_of(&r, &reg);
    for (i = 0; i < ARRAY_LEN(cases); i++) {
        struct doc d;
        struct ev_error err = {0};
        int rc;

        if (doc_decode(&d, cases[i].text) != POVTRACK_OK)
            fail_msg("case %zu does not decode: %s", i, d.err.msg);
        rc = ev_check_refs(&d.ev, &reg, &err);
        if (rc != cases[i].rc ||
            (cases[i].msg != NULL && strcmp(err.msg, cases[i].msg) != 0)) {
            print_error("case %zu: rc %d \"%s\", want rc %d \"%s\"\n", i, rc,
                        err.msg, cases[i].rc, cases[i].msg ? cases[i].msg : "");
            bad++;
        }
        doc_free(&d);
    }
    assert_int_equal(bad, 0);
}

static void test_check_refs_lookup_error(void **state)
{
    struct registry r = {units, ARRAY_LEN(units), POVTRACK_ENOMEM, 0};
    struct ev_registry reg;
    struct ev_error err = {0};
    struct doc d;

    (void)state;
    registry_of(&r, &reg);
    assert_int_equal(doc_decode(&d, valid_events[EV_REVIEW_CLOSED]),
                     POVTRACK_OK);
    assert_int_equal(ev_check_refs(&d.ev, &reg, &err), POVTRACK_ENOMEM);
    assert_string_equal(err.msg, "unit: unit registry lookup failed: Cannot "
                                 "allocate memory");
    doc_free(&d);

    assert_int_equal(doc_decode(&d, DEF("594", "'60'", "district")),
                     POVTRACK_OK);
    assert_int_equal(ev_check_refs(&d.ev, &reg, &err), POVTRACK_ENOMEM);
    assert_string_equal(err.msg, "unit: unit registry lookup failed: Cannot "
                                 "allocate memory");
    doc_free(&d);

    /* The scan for units left under an ending one fails the same way (a
     * district: nothing can be under a commune, which is not scanned). */
    r.fail_rc = 0;
    r.child_rc = POVTRACK_ENOMEM;
    assert_int_equal(
        doc_decode(&d, CHG("593", "kind:abolish," EFF "predecessors:"
                                  "['593']")),
        POVTRACK_OK);
    assert_int_equal(ev_check_refs(&d.ev, &reg, &err), POVTRACK_ENOMEM);
    assert_string_equal(err.msg,
                        "data.predecessors[0]: unit registry scan failed: "
                        "Cannot allocate memory");
    doc_free(&d);

    assert_int_equal(ev_check_refs(NULL, &reg, &err), POVTRACK_EINVALID);
    assert_int_equal(doc_decode(&d, valid_events[EV_REVIEW_CLOSED]),
                     POVTRACK_OK);
    assert_int_equal(ev_check_refs(&d.ev, NULL, &err), POVTRACK_EINVALID);
    doc_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_valid_all_types),
        cmocka_unit_test(test_decoded_values),
        cmocka_unit_test(test_reject_envelope),
        cmocka_unit_test(test_reject_household),
        cmocka_unit_test(test_reject_data_keys),
        cmocka_unit_test(test_reject_integers),
        cmocka_unit_test(test_reject_text),
        cmocka_unit_test(test_reject_enums),
        cmocka_unit_test(test_reject_deprived),
        cmocka_unit_test(test_reject_unit_defined),
        cmocka_unit_test(test_unit_changed_kinds),
        cmocka_unit_test(test_reject_unit_changed),
        cmocka_unit_test(test_household_exited),
        cmocka_unit_test(test_plan_events),
        cmocka_unit_test(test_record_amendments),
        cmocka_unit_test(test_first_error_wins),
        cmocka_unit_test(test_missing_and_why),
        cmocka_unit_test(test_field_rule),
        cmocka_unit_test(test_error_fits),
        cmocka_unit_test(test_canonical_bytes),
        cmocka_unit_test(test_canonical_key_order),
        cmocka_unit_test(test_canonical_optional),
        cmocka_unit_test(test_encode_rejects_nonsense),
        cmocka_unit_test(test_precheck_bombs),
        cmocka_unit_test(test_precheck_malformed),
        cmocka_unit_test(test_precheck_depth),
        cmocka_unit_test(test_precheck_valid_event),
        cmocka_unit_test(test_precheck_all_formats),
        cmocka_unit_test(test_precheck_limits),
        cmocka_unit_test(test_check_refs),
        cmocka_unit_test(test_check_refs_lookup_error),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
