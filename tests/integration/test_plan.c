/*
 * test_plan.c - the rest of the plan end to end, against the real
 * povtrackd with its default plugins: production links and OCOP (II.3),
 * poor households with no labour capacity (II.3), the National Target
 * Programmes' budget (II.4), the donors (III.3) and the commendations
 * (III.4).  Events go in over the ingest socket, answers come from each
 * plugin over the query socket, alerts from apply (a review closed) and
 * from tick (the budget's check date, long past for 2024) over the alerts
 * socket, and `povtrack donors` and `povtrack report` are run for real.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "daemon.h"
#include "json_events.h"

#define TIMEOUT_MS 15000

#define EV(id, type, at, unit, rest)                                           \
    "{\"v\":1,\"id\":\"" id "\",\"type\":\"" type "\",\"at\":" at              \
    ",\"unit\":\"" unit "\"," rest "}"
#define HH(h) "\"household\":\"" h "\","
/* 2024-03-01, 2024-05-01 and 2024-12-15, 10:00 +07. */
#define MAR "1709262000"
#define MAY "1714532400"
#define DEC "1734231600"

static const char UNITS[] = "[" EV(
    "u-60", "unit.defined", "1609459200", "60",
    "\"data\":{\"name\":\"Tỉnh Bình Thuận\",\"parent\":null,"
    "\"level\":\"province\"}") "," EV("u-593", "unit.defined", "1609459200",
                                      "593",
                                      "\"data\":{\"name\":\"Thành phố "
                                      "Phan Thiết\",\"parent\":\"60\","
                                      "\"level\":\"district\"}") "," EV("u-"
                                                                        "22924",
                                                                        "unit."
                                                                        "define"
                                                                        "d",
                                                                        "160945"
                                                                        "9200",
                                                                        "22924",
                                                                        "\"data"
                                                                        "\":{"
                                                                        "\"name"
                                                                        "\":"
                                                                        "\"Phườ"
                                                                        "ng "
                                                                        "Phú "
                                                                        "Thủy\""
                                                                        ",\"par"
                                                                        "ent\":"
                                                                        "\"593"
                                                                        "\","
                                                                        "\"leve"
                                                                        "l\":"
                                                                        "\"comm"
                                                                        "une\""
                                                                        "}") "]";

/* h1 and h2 poor with no member able to work, h1 paid its allowance, h3
 * near-poor; h1 and h3 linked with a cooperative whose product is rated 4
 * stars; 593 allocated 1,000,000,000 VND of the poverty-reduction
 * programme and spent 100,000,000 by the check date; two donations, one
 * anonymous with a name given; one commendation; then 593's review. */
static const char
    EVENTS
        [] =
            "[" EV("st-1", "household.status", DEC, "22924", HH("h1") "\"data\":{\"year\":2024,\"status\":\"poor\"}") "," EV("st-2", "household.status", DEC, "22924", HH("h2") "\"data\":{\"year\":2024,\"status\":\"poor\"}") "," EV("st-3", "household.status", DEC, "22924", HH("h3") "\"data\":{\"year\":2024,\"status\":\"near_poor\"}") "," EV("as-1",
                                                                                                                                                                                                                                                                                                                                                      "household.assessed",
                                                                                                                                                                                                                                                                                                                                                      MAR,
                                                                                                                                                                                                                                                                                                                                                      "22924",
                                                                                                                                                                                                                                                                                                                                                      HH("h1") "\"data\":{\"year\":2024,\"area\":\"urban\",\"members\":1,"
                                                                                                                                                                                                                                                                                                                                                               "\"income\":900000,\"deprived\":[\"employment\",\"water\","
                                                                                                                                                                                                                                                                                                                                                               "\"latrine\"],\"no_labour_capacity\":true}") "," EV("as-2",
                                                                                                                                                                                                                                                                                                                                                                                                                   "household.assessed", MAR,
                                                                                                                                                                                                                                                                                                                                                                                                                   "22924",
                                                                                                                                                                                                                                                                                                                                                                                                                   HH(
                                                                                                                                                                                                                                                                                                                                                                                                                       "h2") "\"data\":{\"year\":2024,\"area\":\"urban\",\"members\":2,"
                                                                                                                                                                                                                                                                                                                                                                                                                             "\"income\":800000,\"deprived\":[\"employment\",\"water\","
                                                                                                                                                                                                                                                                                                                                                                                                                             "\"telecom\"],\"no_labour_capacity\":true}") "," EV("ap-1",
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                 "assistance.paid",
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                 MAY,
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                 "22924",
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                 HH(
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                     "h1") "\"data\":{\"kind\":\"regular\",\"amount\":1080000}") "," EV("pl-1",
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                        "production.linked",
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                        MAR,
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                        "22924",
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                        HH(
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                            "h1") "\"data\":{\"link\":\"LK-1\",\"partner\":\"HTX Thanh Long\","
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                  "\"partner_kind\":\"cooperative\",\"product\":\"Thanh "
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                  "long\",\"year\":2024}") "," EV("pl-3",
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                  "production.linked",
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                  MAR,
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                  "22924",
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                  HH("h3") "\"data\":{\"link\":\"LK-1\",\"partner\":\"HTX Thanh Long\","
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                           "\"partner_kind\":\"cooperative\",\"product\":\"Thanh "
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                           "long\",\"year\":2024}") "," EV("oc-1",
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                           "ocop.certified", MAY, "22924", "\"data\":{\"product\":\"Thanh long\",\"stars\":4}") "," EV("ba-1",
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                       "budget.allocated",
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                       MAR,
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                       "593",
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                       "\"data\":{\"program\":\"poverty_reduction\",\"component\":\"Dự án "
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                       "2\",\"year\":2024,\"amount\":1000000000}") "," EV("bs-1",
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                          "budget.spent",
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                          MAY,
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                          "593",
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                          "\"data\":{\"program\":\"poverty_reduction\",\"component\":\"Dự án "
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                          "2\",\"year\":2024,\"amount\":100000000}") "," EV("dn-1",
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                            "donation.received",
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                            MAY,
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                            "593",
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                            "\"data\":{\"amount\":2000000,\"donor\":\"Nguyễn Văn An\","
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                            "\"donor_kind\":\"person\",\"level\":\"district\"}") "," EV("dn-2",
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                        "donation.received",
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                        MAY,
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                        "22924",
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                        "\"data\":{\"amount\":3000000,\"donor\":\"Tên Giấu\","
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                        "\"donor_kind\":\"anonymous\",\"level\":\"commune\"}") "," EV("cm-1",
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                      "commendation.awarded",
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                      DEC,
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                      "60",
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                      "\"data\":{\"recipient\":\"HTX Thanh Long\",\"recipient_kind\":"
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                      "\"collective\",\"awarded_by\":\"UBND tỉnh\",\"level\":"
                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                                      "\"province\",\"decision\":\"45/QĐ-UBND\"}") "," EV("rc-593", "review.closed", DEC, "593", "\"data\":{\"year\":2024}") "]";

struct plan {
    struct td d;
    void *sub; /* alerts, subscribed to "alert." */
    uint64_t last;
};

/* An unsigned field of a packed result. */
static uint64_t field(const char *res, size_t len, const char *key)
{
    msgpack_unpacked up;
    size_t off = 0;
    msgpack_unpacked_init(&up);
    assert_int_equal(msgpack_unpack_next(&up, res, len, &off),
                     MSGPACK_UNPACK_SUCCESS);
    const msgpack_object *o = td_get(&up.data, key);
    if (o == NULL || o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        fail_msg("no count %s in the answer", key);
    uint64_t v = o->via.u64;
    msgpack_unpacked_destroy(&up);
    return v;
}

/* The bytes of s in the packed result. */
static bool holds(const char *res, size_t len, const char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i + n <= len; i++)
        if (memcmp(res + i, s, n) == 0)
            return true;
    return false;
}

/* Wait until the subscriber has received an alert of each topic of want
 * (others are skipped), within timeout_ms for each alert: 0, or -1. */
static int wait_alerts(void *sub, const char *const *want, size_t n,
                       int timeout_ms)
{
    bool seen[8] = {false};
    size_t left = n;
    while (left > 0) {
        char topic[128], body[4096];
        zmq_pollitem_t it = {sub, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, timeout_ms) != 1)
            return -1;
        int len = zmq_recv(sub, topic, sizeof topic - 1, 0);
        assert_true(len > 0);
        topic[len] = '\0';
        assert_true(zmq_recv(sub, body, sizeof body, 0) > 0);
        for (size_t i = 0; i < n && i < 8; i++)
            if (!seen[i] && strcmp(topic, want[i]) == 0) {
                seen[i] = true;
                left--;
            }
    }
    return 0;
}

static int setup(void **state)
{
    struct plan *p = calloc(1, sizeof *p);
    int zero = 0;
    if (p == NULL || td_init(&p->d) != 0 || td_start(&p->d, NULL) != 0)
        return -1;
    /* The subscription takes effect asynchronously.  Handshake: a large
     * donation raises fund.large_donation in apply; publish one until the
     * subscriber has seen one. */
    p->sub = zmq_socket(p->d.zctx, ZMQ_SUB);
    zmq_setsockopt(p->sub, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(p->sub, ZMQ_SUBSCRIBE, "alert.", 6);
    if (zmq_connect(p->sub, p->d.alerts) != 0)
        return -1;
    *state = p;
    tj_publish_ok(&p->d, UNITS, TIMEOUT_MS);
    for (int i = 0; i < 50; i++) {
        char json[512];
        snprintf(json, sizeof json,
                 "[" EV("big-%d", "donation.received", "1714532400", "60",
                        "\"data\":{\"amount\":200000000,\"donor\":\"Công ty "
                        "B\",\"donor_kind\":\"business\",\"level\":"
                        "\"province\"}") "]",
                 i);
        tj_publish_ok(&p->d, json, TIMEOUT_MS);
        static const char *const large[] = {"alert.fund.large_donation"};
        if (wait_alerts(p->sub, large, 1, 200) == 0)
            return 0;
    }
    return -1;
}

static int teardown(void **state)
{
    struct plan *p = *state;
    zmq_close(p->sub);
    td_destroy(&p->d);
    free(p);
    return 0;
}

/* Bad events of the new types are refused naming the field; the rest of
 * their request is stored. */
static void test_refusals(void **state)
{
    struct plan *p = *state;
    static const struct {
        const char *json, *error;
    } bad[] = {
        {EV("x-1", "ocop.certified", MAY, "22924",
            "\"data\":{\"product\":\"Nước mắm\",\"stars\":6}"),
         "data.stars: must be between 3 and 5"},
        {EV("x-2", "budget.allocated", MAY, "593",
            "\"data\":{\"program\":\"VBSP\",\"component\":\"x\","
            "\"year\":2024,\"amount\":1}"),
         "data.program: unknown value \"VBSP\" (expected "
         "poverty_reduction|ethnic_minority)"},
        {EV("x-3", "assistance.paid", MAY, "22924",
            "\"data\":{\"kind\":\"regular\",\"amount\":1}"),
         "household: required for assistance.paid"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char json[1024];
        msgpack_sbuffer sb;
        msgpack_unpacked up;
        snprintf(json, sizeof json, "[%s]", bad[i].json);
        tj_pack(&sb, json);
        msgpack_unpacked_init(&up);
        assert_int_equal(
            td_ingest_raw(&p->d, sb.data, sb.size, &up, TIMEOUT_MS), 0);
        msgpack_sbuffer_destroy(&sb);
        const msgpack_object *a = &up.data.via.array.ptr[0];
        assert_true(td_str_eq(td_get(a, "status"), "rejected"));
        assert_true(td_str_eq(td_get(a, "error"), bad[i].error));
        msgpack_unpacked_destroy(&up);
    }
}

static void test_indicators_and_alerts(void **state)
{
    struct plan *p = *state;
    size_t len;
    char *r;
    p->last = tj_publish_ok(&p->d, EVENTS, TIMEOUT_MS);

    r = tj_query(&p->d, "production", "{\"unit\":\"60\",\"year\":2024}",
                 p->last, TIMEOUT_MS, &len);
    assert_int_equal(field(r, len, "households_linked"), 2);
    assert_int_equal(field(r, len, "poor"), 2);
    assert_int_equal(field(r, len, "poor_linked"), 1);
    assert_int_equal(field(r, len, "near_poor_linked"), 1);
    assert_int_equal(field(r, len, "ocop_products"), 1);
    free(r);
    r = tj_query(&p->d, "protection", "{\"unit\":\"593\",\"year\":2024}",
                 p->last, TIMEOUT_MS, &len);
    assert_int_equal(field(r, len, "no_labour"), 2);
    assert_int_equal(field(r, len, "assisted"), 1);
    assert_int_equal(field(r, len, "regular_amount"), 1080000);
    free(r);
    r = tj_query(&p->d, "budget", "{\"unit\":\"60\",\"year\":2024}", p->last,
                 TIMEOUT_MS, &len);
    assert_int_equal(field(r, len, "allocated"), 1000000000);
    assert_int_equal(field(r, len, "spent"), 100000000);
    free(r);
    r = tj_query(&p->d, "donors", "{\"unit\":\"593\",\"year\":2024}", p->last,
                 TIMEOUT_MS, &len);
    assert_int_equal(field(r, len, "received"), 5000000);
    assert_int_equal(field(r, len, "donors"), 2);
    assert_true(holds(r, len, "Ẩn danh / anonymous"));
    assert_false(holds(r, len, "Tên Giấu"));
    free(r);
    r = tj_query(&p->d, "commendations", "{\"unit\":\"60\",\"year\":2024}",
                 p->last, TIMEOUT_MS, &len);
    assert_int_equal(field(r, len, "commendations"), 1);
    free(r);

    /* From apply: the review of 593 finds h2 unpaid.  From tick: 593 and
     * 60 spent 10% of their allocation by 2024-09-30, long past. */
    r = tj_query(&p->d, "protection",
                 "{\"unit\":\"593\",\"year\":2024,\"list\":\"unassisted\"}",
                 p->last, TIMEOUT_MS, &len);
    assert_true(holds(r, len, "h2") && !holds(r, len, "h1"));
    free(r);
    static const char *const raised[] = {"alert.protection.no_assistance",
                                         "alert.budget.low_execution"};
    assert_int_equal(wait_alerts(p->sub, raised, 2, TIMEOUT_MS), 0);
}

/* povtrack donors and povtrack report, run for real against it. */
static void test_cli(void **state)
{
    struct plan *p = *state;
    static char out[65536], err[4096];
    /* test_indicators_and_alerts published the events. */
    assert_true(p->last > 0);
    const char *donors[] = {"donors", "--query", p->d.query, "--unit",
                            "593",    "--year",  "2024",     NULL};
    int rc = td_cli_run(p->d.dir, donors, out, sizeof out, err, sizeof err);
    if (rc != 0)
        fail_msg("povtrack donors: exit %d: %s", rc, err);
    assert_string_equal(out, "Nhà hảo tâm,Loại,Số tiền,Số lượt,Trong đó hiện "
                             "vật\r\n"
                             "Ẩn danh / anonymous,Ẩn danh,3000000,1,0\r\n"
                             "Nguyễn Văn An,Cá nhân,2000000,1,0\r\n");
    /* The period in the title as the language writes dates, whatever form
     * --from and --to were given in. */
    const char *period[] = {"donors",     "--query",  p->d.query,   "--unit",
                            "593",        "--from",   "2024-01-01", "--to",
                            "31/12/2024", "--format", "md",         NULL};
    rc = td_cli_run(p->d.dir, period, out, sizeof out, err, sizeof err);
    if (rc != 0)
        fail_msg("povtrack donors: exit %d: %s", rc, err);
    if (strstr(out, "(593), 01/01/2024 – 31/12/2024") == NULL)
        fail_msg("povtrack donors --from --to, period not as dd/mm/yyyy:\n%s",
                 out);
    const char *report[] = {"report", "--query", p->d.query, "--unit", "60",
                            "--year", "2024",    "--lang",   "en",     NULL};
    rc = td_cli_run(p->d.dir, report, out, sizeof out, err, sizeof err);
    if (rc != 0)
        fail_msg("povtrack report: exit %d: %s", rc, err);
    assert_non_null(strstr(out, "## 7. The National Target Programmes' "
                                "budget"));
    assert_non_null(strstr(out, "| Allocated | 1,000,000,000 VND |"));
    assert_non_null(strstr(out, "| Households in a production link | 2 |"));
    assert_non_null(strstr(out, "| LK-1 | HTX Thanh Long | Cooperative | "
                                "Thanh long | 4 | 2 |"));
    assert_non_null(
        strstr(out, "| Poor households with no labour capacity | 2 |"));
    assert_non_null(strstr(out, "| Ẩn danh / anonymous | Anonymous |"));
    assert_null(strstr(out, "Tên Giấu"));
    assert_non_null(strstr(out, "| HTX Thanh Long | Collective | UBND tỉnh | "
                                "Province | 45/QĐ-UBND | 60 |"));
    assert_non_null(strstr(out, "## 12. Alerts of the year"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_indicators_and_alerts),
        cmocka_unit_test(test_cli),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
