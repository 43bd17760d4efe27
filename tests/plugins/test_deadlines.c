/*
 * test_deadlines.c - the deadlines plugin through the real log and host,
 * with fx_tick() driving pt_host_tick at chosen times.
 *
 * Plan III.1: implementation plans due before 30 October 2021; DUE =
 * 2021-10-30 00:00 +07.  Reports ("plan" unless named; D = one day):
 *
 *   org                due            submitted              state
 *   doan-thanh-nien    DUE (593)      DUE+2D (22901), logged late: the due
 *                                     BEFORE the due event   date makes it
 *                                                            late at apply
 *   hoi-nong-dan       DUE (593)      DUE, again DUE+5D      submitted
 *                                     (earliest counts)      (boundary)
 *   huyen-uy           DUE (593)      DUE-10D                submitted
 *   mttq               DUE (60)       DUE+1                  late
 *   mttq-tinh          DUE (60)       -                      (prefix test)
 *   so-ldtbxh          DUE (60)       -                      overdue
 *   so-ldtbxh q4       DUE+30D, corrected to DUE+60D (60)    pending
 *
 *   Latest "at" seen: DUE+5D, the default "now" of queries.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"

#define DUE INT64_C(1635526800) /* 2021-10-30 00:00 +07 */
#define D INT64_C(86400)

static void due(struct fx *fx, int64_t at, const char *unit, const char *org,
                const char *report, int64_t when)
{
    struct ev_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = EV_REPORT_DUE;
    ev.at = at;
    ev.unit = fx_ev_str(unit);
    ev.data.org = fx_ev_str(org);
    ev.data.report = fx_ev_str(report);
    ev.data.due = when;
    fx_add(fx, &ev);
}

static void submitted(struct fx *fx, int64_t at, const char *unit,
                      const char *org, const char *report)
{
    struct ev_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = EV_REPORT_SUBMITTED;
    ev.at = at;
    ev.unit = fx_ev_str(unit);
    ev.data.org = fx_ev_str(org);
    ev.data.report = fx_ev_str(report);
    fx_add(fx, &ev);
}

static void units(struct fx *fx)
{
    fx_unit(fx, "60", NULL, EV_LEVEL_PROVINCE);
    fx_unit(fx, "593", "60", EV_LEVEL_DISTRICT);
    fx_unit(fx, "22901", "593", EV_LEVEL_COMMUNE);
}

static void scenario(struct fx *fx)
{
    units(fx);
    int64_t at = DUE - 30 * D; /* when the plan set the deadlines */
    submitted(fx, DUE + 2 * D, "22901", "doan-thanh-nien", "plan");
    fx_commit(fx); /* the submission is applied before its due date */
    due(fx, at, "593", "doan-thanh-nien", "plan", DUE);
    due(fx, at, "593", "hoi-nong-dan", "plan", DUE);
    due(fx, at, "593", "huyen-uy", "plan", DUE);
    due(fx, at, "60", "mttq", "plan", DUE);
    due(fx, at, "60", "mttq-tinh", "plan", DUE);
    due(fx, at, "60", "so-ldtbxh", "plan", DUE);
    due(fx, at, "60", "so-ldtbxh", "q4", DUE + 30 * D);
    due(fx, at + 1, "60", "so-ldtbxh", "q4", DUE + 60 * D);
    submitted(fx, DUE, "593", "hoi-nong-dan", "plan");
    submitted(fx, DUE + 5 * D, "593", "hoi-nong-dan", "plan");
    submitted(fx, DUE - 10 * D, "593", "huyen-uy", "plan");
    submitted(fx, DUE + 1, "60", "mttq", "plan");
    /* mttq-tinh submits too, so the overdue set is only so-ldtbxh. */
    submitted(fx, DUE - D, "60", "mttq-tinh", "plan");
}

static void expect_entry(const msgpack_object *e, const char *org,
                         const char *report, const char *unit, int64_t d,
                         int64_t sub, const char *st)
{
    char s[300];
    assert_int_equal(e->via.map.size, 6);
    assert_string_equal(fx_str(e, "org", s, sizeof s), org);
    assert_string_equal(fx_str(e, "report", s, sizeof s), report);
    assert_string_equal(fx_str(e, "unit", s, sizeof s), unit);
    assert_int_equal(fx_i64(e, "due"), d);
    if (sub < 0)
        assert_true(fx_is_nil(e, "submitted"));
    else
        assert_int_equal(fx_i64(e, "submitted"), sub);
    assert_string_equal(fx_str(e, "state", s, sizeof s), st);
}

static void test_states(void **state)
{
    (void)state;
    struct fx *fx = fx_new("deadlines");
    scenario(fx);
    fx_sync(fx);
    struct fx_reply r;
    const msgpack_object *res = fx_query(fx, &r, "deadlines", "{}");
    assert_int_equal(res->via.map.size, 1);
    const msgpack_object *l = fx_get(res, "reports");
    assert_int_equal(l->via.array.size, 7);
    const msgpack_object *e = l->via.array.ptr;
    expect_entry(&e[0], "doan-thanh-nien", "plan", "593", DUE, DUE + 2 * D,
                 "late");
    expect_entry(&e[1], "hoi-nong-dan", "plan", "593", DUE, DUE, "submitted");
    expect_entry(&e[2], "huyen-uy", "plan", "593", DUE, DUE - 10 * D,
                 "submitted");
    expect_entry(&e[3], "mttq", "plan", "60", DUE, DUE + 1, "late");
    expect_entry(&e[4], "mttq-tinh", "plan", "60", DUE, DUE - D, "submitted");
    /* Default now: the latest "at" seen, DUE+5D. */
    expect_entry(&e[5], "so-ldtbxh", "plan", "60", DUE, -1, "overdue");
    expect_entry(&e[6], "so-ldtbxh", "q4", "60", DUE + 60 * D, -1, "pending");
    fx_reply_free(&r);

    /* "now" at exactly the due date: not yet overdue; one second later
     * it is. */
    res = fx_query(fx, &r, "deadlines",
                   "{\"org\":\"so-ldtbxh\",\"report\":\"plan\",\"now\":"
                   "1635526800}");
    expect_entry(res, "so-ldtbxh", "plan", "60", DUE, -1, "pending");
    fx_reply_free(&r);
    res = fx_query(fx, &r, "deadlines",
                   "{\"org\":\"so-ldtbxh\",\"report\":\"plan\",\"now\":"
                   "1635526801}");
    expect_entry(res, "so-ldtbxh", "plan", "60", DUE, -1, "overdue");
    fx_reply_free(&r);

    /* One org: "mttq" is not "mttq-tinh". */
    res = fx_query(fx, &r, "deadlines", "{\"org\":\"mttq\"}");
    l = fx_get(res, "reports");
    assert_int_equal(l->via.array.size, 1);
    expect_entry(&l->via.array.ptr[0], "mttq", "plan", "60", DUE, DUE + 1,
                 "late");
    fx_reply_free(&r);
    res = fx_query(fx, &r, "deadlines",
                   "{\"org\":\"so-ldtbxh\",\"now\":1700000000}");
    l = fx_get(res, "reports");
    assert_int_equal(l->via.array.size, 2);
    expect_entry(&l->via.array.ptr[1], "so-ldtbxh", "q4", "60", DUE + 60 * D,
                 -1, "overdue");
    fx_reply_free(&r);
    res = fx_query(fx, &r, "deadlines", "{\"org\":\"nobody\"}");
    assert_int_equal(fx_get(res, "reports")->via.array.size, 0);
    fx_reply_free(&r);

    assert_string_equal(fx_query_error(fx, &r, "deadlines",
                                       "{\"org\":\"mttq\",\"report\":\"q4\"}"),
                        "deadlines: report: no such report for org");
    fx_reply_free(&r);
    assert_string_equal(
        fx_query_error(fx, &r, "deadlines", "{\"report\":\"plan\"}"),
        "deadlines: org: required with report");
    fx_reply_free(&r);
    assert_string_equal(fx_query_error(fx, &r, "deadlines", "{\"org\":5}"),
                        "deadlines: org: must be a non-empty string");
    fx_reply_free(&r);
    assert_string_equal(fx_query_error(fx, &r, "deadlines", "{\"now\":\"x\"}"),
                        "deadlines: now: must be an integer");
    fx_reply_free(&r);
    fx_free(fx);
}

/* Names longer than a key can hold whole: found by their full strings. */
static void test_long_names(void **state)
{
    (void)state;
    char org[257], org2[257], rep[257], q[1024];
    memset(org, 'a', 256);
    org[256] = '\0';
    memcpy(org2, org, sizeof org2);
    org2[255] = 'b'; /* same first 255 bytes */
    memset(rep, 'r', 256);
    rep[256] = '\0';
    struct fx *fx = fx_new("deadlines");
    units(fx);
    due(fx, DUE - D, "60", org, rep, DUE);
    due(fx, DUE - D, "60", org2, rep, DUE + D);
    submitted(fx, DUE - 1, "60", org2, rep);
    fx_sync(fx);
    struct fx_reply r;
    snprintf(q, sizeof q, "{\"org\":\"%s\",\"report\":\"%s\"}", org, rep);
    const msgpack_object *res = fx_query(fx, &r, "deadlines", q);
    expect_entry(res, org, rep, "60", DUE, -1, "pending");
    fx_reply_free(&r);
    snprintf(q, sizeof q, "{\"org\":\"%s\"}", org2);
    res = fx_query(fx, &r, "deadlines", q);
    const msgpack_object *l = fx_get(res, "reports");
    assert_int_equal(l->via.array.size, 1);
    expect_entry(&l->via.array.ptr[0], org2, rep, "60", DUE + D, DUE - 1,
                 "submitted");
    fx_reply_free(&r);
    fx_free(fx);
}

/* The deadlines alerts so far as "code org|message" lines. */
static void alerts(struct fx *fx, char *out, size_t n)
{
    struct fx_reply r;
    char code[64], msg[512], sev[16];
    out[0] = '\0';
    fx_request(fx, &r, "{\"op\":\"alerts\",\"since\":0}");
    const msgpack_object *a = fx_get(r.root, "alerts");
    for (uint32_t i = 0; i < a->via.array.size; i++) {
        const msgpack_object *e = &a->via.array.ptr[i];
        snprintf(out + strlen(out), n - strlen(out), "%s%s %s %s @%lld",
                 i ? "\n" : "", fx_str(e, "code", code, sizeof code),
                 fx_str(e, "severity", sev, sizeof sev),
                 fx_str(e, "message", msg, sizeof msg),
                 (long long)fx_i64(e, "at"));
    }
    fx_reply_free(&r);
}

#define LATE_DTN                                                               \
    "deadlines.report_late info doan-thanh-nien submitted report \"plan\" "    \
    "on 2021-11-01, after its due date 2021-10-30 @1635699600"
#define LATE_MTTQ                                                              \
    "deadlines.report_late info mttq submitted report \"plan\" on "            \
    "2021-10-30, after its due date 2021-10-30 @1635526801"
#define OVERDUE_SO                                                             \
    "deadlines.report_overdue warning so-ldtbxh has not submitted report "     \
    "\"plan\", due 2021-10-30 @1635526800"
#define OVERDUE_Q4                                                             \
    "deadlines.report_overdue warning so-ldtbxh has not submitted report "     \
    "\"q4\", due 2021-12-29 @1640710800"

static void test_alerts(void **state)
{
    (void)state;
    struct fx *fx = fx_new("deadlines");
    scenario(fx);
    fx_sync(fx);
    char got[2048];
    /* At apply: doan-thanh-nien (its due came after its submission) and
     * mttq (one second late); hoi-nong-dan at exactly DUE is on time. */
    alerts(fx, got, sizeof got);
    assert_string_equal(got, LATE_DTN "\n" LATE_MTTQ);

    fx_tick(fx, DUE); /* due, not yet passed */
    alerts(fx, got, sizeof got);
    assert_string_equal(got, LATE_DTN "\n" LATE_MTTQ);
    fx_tick(fx, DUE + 1);
    alerts(fx, got, sizeof got);
    assert_string_equal(got, LATE_DTN "\n" LATE_MTTQ "\n" OVERDUE_SO);
    fx_tick(fx, DUE + 100);
    /* q4's first due date was corrected: nothing at DUE+30D+1. */
    fx_tick(fx, DUE + 30 * D + 1);
    fx_tick(fx, DUE + 60 * D);
    alerts(fx, got, sizeof got);
    assert_string_equal(got, LATE_DTN "\n" LATE_MTTQ "\n" OVERDUE_SO);
    fx_tick(fx, DUE + 60 * D + 1);
    alerts(fx, got, sizeof got);
    assert_string_equal(got, LATE_DTN "\n" LATE_MTTQ "\n" OVERDUE_SO
                                      "\n" OVERDUE_Q4);

    /* Once per (org, report): a new due date, passed again, and the late
     * submission raise only report_late for so-ldtbxh plan. */
    due(fx, DUE + 61 * D, "60", "so-ldtbxh", "plan", DUE + 62 * D);
    submitted(fx, DUE + 70 * D, "60", "so-ldtbxh", "plan");
    fx_sync(fx);
    fx_tick(fx, DUE + 63 * D);
    fx_tick(fx, DUE + 80 * D);
    alerts(fx, got, sizeof got);
    assert_non_null(strstr(got, OVERDUE_Q4 "\ndeadlines.report_late info "
                                           "so-ldtbxh submitted report "
                                           "\"plan\" on 2022-01-08, after "
                                           "its due date 2021-12-31"));
    int n = 0;
    for (const char *p = got; (p = strstr(p, "report_overdue")) != NULL; p++)
        n++;
    assert_int_equal(n, 2);
    /* A due date applied after it has passed is still caught. */
    due(fx, DUE + 90 * D, "593", "huyen-uy", "plan-2", DUE);
    fx_sync(fx);
    fx_tick(fx, DUE + 91 * D);
    alerts(fx, got, sizeof got);
    assert_non_null(strstr(got, "huyen-uy has not submitted report "
                                "\"plan-2\", due 2021-10-30"));
    fx_free(fx);
}

/* Tick at DUE + 61 days (the same tick before and after a rebuild), then
 * take the answers and the alerts. */
static void snap(struct fx *fx, struct fx_snap *s)
{
    static const char *const q[] = {
        "{}",
        "{\"now\":1640000000}",
        "{\"org\":\"so-ldtbxh\"}",
        "{\"org\":\"mttq\",\"report\":\"plan\"}",
    };
    fx_tick(fx, DUE + 61 * D);
    for (size_t i = 0; i < sizeof q / sizeof q[0]; i++)
        fx_snap_query(fx, s, "deadlines", q[i]);
    assert_int_equal(fx_snap_alerts(fx, s), 4);
}

static void test_rebuild(void **state)
{
    (void)state;
    struct fx *fx = fx_new("deadlines");
    scenario(fx);
    fx_sync(fx);
    fx_assert_rebuild_one_by_one_same(fx, snap, 15);
    fx_free(fx);
}

/* ---- units over time: the 2025 reorganisation (fixture.h) ---- */

/* The orgs of a reports answer, space-separated, each with its
 * unit_as_of when the answer has one ("org@unit"). */
static const char *orgs(struct fx *fx, const char *q, char *out, size_t n)
{
    struct fx_reply r;
    char o[64], u[16];
    const msgpack_object *rs =
        fx_get(fx_query(fx, &r, "deadlines", q), "reports");
    out[0] = '\0';
    for (uint32_t i = 0; i < rs->via.array.size; i++) {
        const msgpack_object *e = &rs->via.array.ptr[i];
        bool has = false;
        for (uint32_t j = 0; j < e->via.map.size; j++) {
            const msgpack_object *k = &e->via.map.ptr[j].key;
            has = has || (k->via.str.size == 10 &&
                          memcmp(k->via.str.ptr, "unit_as_of", 10) == 0);
        }
        snprintf(out + strlen(out), n - strlen(out), "%s%s", i ? " " : "",
                 fx_str(e, "org", o, sizeof o));
        if (has && !fx_is_nil(e, "unit_as_of"))
            snprintf(out + strlen(out), n - strlen(out), "@%s",
                     fx_str(e, "unit_as_of", u, sizeof u));
    }
    fx_reply_free(&r);
    return out;
}

#define END25 "1767200399"   /* 2025-12-31T23:59:59+07:00 */
#define JUL25_1 "1751302799" /* the last second before 2025-07-01 */

static void r25_snap(struct fx *fx, struct fx_snap *s)
{
    static const char *const q[] = {
        "{\"unit\":\"68\"}",
        "{\"unit\":\"60\"}",
        "{\"unit\":\"60\",\"as_of\":" JUL25_1 "}",
        "{\"as_of\":" END25 "}",
    };
    for (size_t i = 0; i < sizeof q / sizeof q[0]; i++) {
        struct fx_reply r;
        char req[256];
        snprintf(req, sizeof req,
                 "{\"op\":\"query\",\"plugin\":\"deadlines\",\"q\":%s}", q[i]);
        fx_request(fx, &r, req);
        const msgpack_object *ok = fx_get(r.root, "ok");
        fx_snap_add(s, fx_get(r.root, ok->via.boolean ? "result" : "error"));
        fx_reply_free(&r);
    }
}

/*
 * Reports are shown, not rolled up, but a list can be asked for a unit's
 * subtree on the units of any date:
 *   ubnd-593    district 593 (abolished on 2025-07-01: Lam Dong's now)
 *   ubnd-22921  commune 22921 (merged into 22924)
 *   ubnd-68     province 68 (old Lam Dong), and sld-68 in 2026
 */
static void test_units_over_time(void **state)
{
    (void)state;
    const int64_t R24 = FX_R25_T2024, R26 = FX_R25_T2026;
    struct fx *fx = fx_new("deadlines");
    struct fx_reply r;
    char buf[256];
    fx_r25_units(fx);
    due(fx, R24, "593", "ubnd-593", "plan", R24 + 30 * D);
    submitted(fx, R24 + D, "593", "ubnd-593", "plan");
    due(fx, R24, "22921", "ubnd-22921", "plan", R24 + 30 * D);
    due(fx, R24, "68", "ubnd-68", "plan", R24 + 30 * D);
    fx_r25_changes(fx, FX_R25_RECORDED);
    due(fx, R26, "68", "sld-68", "plan", R26 + 30 * D);
    fx_sync(fx);

    /* Today all of them are Lam Dong's. */
    assert_string_equal(orgs(fx, "{\"unit\":\"68\"}", buf, sizeof buf),
                        "sld-68 ubnd-22921 ubnd-593 ubnd-68");
    assert_string_equal(orgs(fx, "{\"unit\":\"22924\"}", buf, sizeof buf),
                        "ubnd-22921");
    /* Binh Thuan has ended; on its last day it had two of them. */
    assert_string_equal(
        fx_query_error(fx, &r, "deadlines", "{\"unit\":\"60\"}"),
        "deadlines: unit: 60 is not in force now: merged into "
        "68 on 2025-07-01; ask for 68, or give as_of before "
        "2025-07-01");
    fx_reply_free(&r);
    assert_string_equal(
        orgs(fx, "{\"unit\":\"60\",\"as_of\":" JUL25_1 "}", buf, sizeof buf),
        "ubnd-22921@22921 ubnd-593@593");
    /* Each report's unit as of the end of 2025. */
    assert_string_equal(orgs(fx, "{\"as_of\":" END25 "}", buf, sizeof buf),
                        "sld-68@68 ubnd-22921@22924 ubnd-593@68 ubnd-68@68");
    /* Without as_of, the answers are as before. */
    assert_string_equal(orgs(fx, "{}", buf, sizeof buf),
                        "sld-68 ubnd-22921 ubnd-593 ubnd-68");
    assert_string_equal(
        fx_query_error(
            fx, &r, "deadlines",
            "{\"org\":\"ubnd-68\",\"report\":\"plan\",\"unit\":\"68\"}"),
        "deadlines: unit: not with report");
    fx_reply_free(&r);
    fx_assert_rebuild_same(fx, r25_snap, 5);
    fx_free(fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_states),
        cmocka_unit_test(test_long_names),
        cmocka_unit_test(test_alerts),
        cmocka_unit_test(test_rebuild),
        cmocka_unit_test(test_units_over_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
