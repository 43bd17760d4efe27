/*
 * test_daemon.c - integration tests against the real povtrackd: publish,
 * acknowledgement, idempotent ids, bad input among good, restart, and the
 * plugin host killed and restarted by its supervisor.
 */
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <zmq.h>

#include <povtrack/client.h>

#include "daemon.h"
#include "json_events.h"
#include "tl_json.h"

#define TIMEOUT_MS 10000

/* Publish a JSON array of events; the ack array is left in up. */
static void publish(struct td *d, const char *json, msgpack_unpacked *up)
{
    msgpack_sbuffer sb;
    tj_pack(&sb, json);
    msgpack_unpacked_init(up);
    assert_int_equal(td_ingest_raw(d, sb.data, sb.size, up, TIMEOUT_MS), 0);
    msgpack_sbuffer_destroy(&sb);
    assert_int_equal(up->data.type, MSGPACK_OBJECT_ARRAY);
}

static void request(struct td *d, const char *json, msgpack_unpacked *up)
{
    msgpack_sbuffer sb;
    tj_pack(&sb, json);
    msgpack_unpacked_init(up);
    assert_int_equal(td_request_raw(d, sb.data, sb.size, up, TIMEOUT_MS), 0);
    msgpack_sbuffer_destroy(&sb);
    const msgpack_object *ok = td_get(&up->data, "ok");
    assert_non_null(ok);
}

static const msgpack_object *ack(const msgpack_unpacked *up, uint32_t i)
{
    assert_true(i < up->data.via.array.size);
    return &up->data.via.array.ptr[i];
}

static void assert_ack(const msgpack_unpacked *up, uint32_t i,
                       const char *status, uint64_t seq)
{
    const msgpack_object *a = ack(up, i);
    const msgpack_object *st = td_get(a, "status");
    if (!td_str_eq(st, status)) {
        const msgpack_object *e = td_get(a, "error");
        fail_msg("ack %u: expected %s, got %.*s (%.*s)", i, status,
                 st ? (int)st->via.str.size : 0, st ? st->via.str.ptr : "",
                 e ? (int)e->via.str.size : 0, e ? e->via.str.ptr : "");
    }
    if (seq != 0) {
        const msgpack_object *s = td_get(a, "seq");
        assert_non_null(s);
        assert_int_equal(s->via.u64, seq);
    }
}

/* The error of ack i must start with prefix. */
static void assert_rejected(const msgpack_unpacked *up, uint32_t i,
                            const char *prefix)
{
    assert_ack(up, i, "rejected", 0);
    const msgpack_object *e = td_get(ack(up, i), "error");
    assert_non_null(e);
    assert_int_equal(e->type, MSGPACK_OBJECT_STR);
    if (e->via.str.size < strlen(prefix) ||
        memcmp(e->via.str.ptr, prefix, strlen(prefix)) != 0)
        fail_msg("ack %u: error \"%.*s\" does not start with \"%s\"", i,
                 (int)e->via.str.size, e->via.str.ptr, prefix);
}

static uint64_t get_u64(const msgpack_object *map, const char *key)
{
    const msgpack_object *o = td_get(map, key);
    assert_non_null(o);
    assert_int_equal(o->type, MSGPACK_OBJECT_POSITIVE_INTEGER);
    return o->via.u64;
}

static const char units_json[] =
    "[{\"v\":1,\"id\":\"u-60\",\"type\":\"unit.defined\",\"at\":1609459200,"
    "\"unit\":\"60\",\"data\":{\"name\":\"Tinh Binh Thuan\",\"parent\":null,"
    "\"level\":\"province\"}},"
    "{\"v\":1,\"id\":\"u-593\",\"type\":\"unit.defined\",\"at\":1609459200,"
    "\"unit\":\"593\",\"data\":{\"name\":\"Phan Thiet\",\"parent\":\"60\","
    "\"level\":\"district\"}},"
    "{\"v\":1,\"id\":\"u-22870\",\"type\":\"unit.defined\",\"at\":"
    "1609459200,\"unit\":\"22870\",\"data\":{\"name\":\"Phu Thuy\","
    "\"parent\":\"593\",\"level\":\"commune\"}}]";

/* Households, statuses for two years and donations: enough that applying
 * anything twice would change the indicators. */
static const char fixture_json[] =
    "[{\"v\":1,\"id\":\"hh-2023\",\"type\":\"unit.households\",\"at\":"
    "1702598400,\"unit\":\"22870\",\"data\":{\"year\":2023,\"households\":"
    "100}},"
    "{\"v\":1,\"id\":\"hh-2024\",\"type\":\"unit.households\",\"at\":"
    "1734220800,\"unit\":\"22870\",\"data\":{\"year\":2024,\"households\":"
    "100}},"
    "{\"v\":1,\"id\":\"s-a-2023\",\"type\":\"household.status\",\"at\":"
    "1702598400,\"unit\":\"22870\",\"household\":\"h-a\",\"data\":{\"year\":"
    "2023,\"status\":\"poor\"}},"
    "{\"v\":1,\"id\":\"s-b-2023\",\"type\":\"household.status\",\"at\":"
    "1702598400,\"unit\":\"22870\",\"household\":\"h-b\",\"data\":{\"year\":"
    "2023,\"status\":\"poor\"}},"
    "{\"v\":1,\"id\":\"s-a-2024\",\"type\":\"household.status\",\"at\":"
    "1734220800,\"unit\":\"22870\",\"household\":\"h-a\",\"data\":{\"year\":"
    "2024,\"status\":\"near_poor\"}},"
    "{\"v\":1,\"id\":\"s-b-2024\",\"type\":\"household.status\",\"at\":"
    "1734220800,\"unit\":\"22870\",\"household\":\"h-b\",\"data\":{\"year\":"
    "2024,\"status\":\"poor\"}},"
    "{\"v\":1,\"id\":\"d-1\",\"type\":\"donation.received\",\"at\":"
    "1730000000,\"unit\":\"593\",\"data\":{\"amount\":150000000,\"donor\":"
    "\"Cong ty A\",\"donor_kind\":\"business\",\"level\":\"district\"}},"
    "{\"v\":1,\"id\":\"d-2\",\"type\":\"donation.received\",\"at\":"
    "1730000100,\"unit\":\"22870\",\"data\":{\"amount\":500000,\"donor\":"
    "\"Nguyen Van B\",\"donor_kind\":\"person\",\"level\":\"commune\"}}]";

struct fixture {
    struct td d;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    if (f == NULL || td_init(&f->d) != 0 || td_start(&f->d, NULL) != 0) {
        if (f != NULL)
            td_destroy(&f->d);
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    td_destroy(&f->d);
    free(f);
    return 0;
}

static void load_fixture(struct td *d)
{
    msgpack_unpacked up;
    publish(d, units_json, &up);
    for (uint32_t i = 0; i < 3; i++)
        assert_ack(&up, i, "ok", i + 1);
    msgpack_unpacked_destroy(&up);
    publish(d, fixture_json, &up);
    for (uint32_t i = 0; i < 8; i++)
        assert_ack(&up, i, "ok", i + 4);
    msgpack_unpacked_destroy(&up);
}

/* The raw msgpack of a query's "result" once the plugin has applied
 * min_seq; caller frees. */
static char *query_result(struct td *d, const char *plugin, const char *q,
                          uint64_t min_seq, size_t *len)
{
    char json[512];
    snprintf(json, sizeof json,
             "{\"op\":\"query\",\"plugin\":\"%s\",\"q\":%s,\"min_seq\":%llu}",
             plugin, q, (unsigned long long)min_seq);
    msgpack_unpacked up;
    request(d, json, &up);
    const msgpack_object *ok = td_get(&up.data, "ok");
    if (!ok->via.boolean) {
        const msgpack_object *e = td_get(&up.data, "error");
        fail_msg("query %s %s failed: %.*s", plugin, q,
                 e ? (int)e->via.str.size : 0, e ? e->via.str.ptr : "");
    }
    const msgpack_object *res = td_get(&up.data, "result");
    assert_non_null(res);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_object(&pk, *res);
    msgpack_unpacked_destroy(&up);
    *len = sb.size;
    return sb.data; /* released with free(), as msgpack_sbuffer_destroy */
}

static void test_publish_ack_and_read(void **state)
{
    struct fixture *f = *state;
    load_fixture(&f->d);

    msgpack_unpacked up;
    request(&f->d, "{\"op\":\"read\",\"from\":2,\"limit\":2}", &up);
    const msgpack_object *recs = td_get(&up.data, "records");
    assert_non_null(recs);
    assert_int_equal(recs->via.array.size, 2);
    const msgpack_object *r0 = &recs->via.array.ptr[0];
    assert_int_equal(get_u64(r0, "seq"), 2);
    assert_true(td_str_eq(td_get(r0, "publisher"), "unauthenticated"));
    assert_true(td_str_eq(td_get(td_get(r0, "event"), "id"), "u-593"));
    assert_true(td_str_eq(td_get(td_get(r0, "event"), "type"), "unit.defined"));
    msgpack_unpacked_destroy(&up);

    request(&f->d, "{\"op\":\"stats\"}", &up);
    assert_int_equal(get_u64(&up.data, "events"), 11);
    assert_int_equal(get_u64(&up.data, "last_seq"), 11);
    msgpack_unpacked_destroy(&up);

    /* 2023: 2 poor of 100; 2024: 1 poor, 1 escaped. */
    size_t len;
    char *res = query_result(&f->d, "poverty",
                             "{\"unit\":\"60\",\"year\":2024}", 11, &len);
    msgpack_unpacked r;
    msgpack_unpacked_init(&r);
    size_t off = 0;
    assert_int_equal(msgpack_unpack_next(&r, res, len, &off),
                     MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(get_u64(&r.data, "households"), 100);
    assert_int_equal(get_u64(&r.data, "poor"), 1);
    assert_int_equal(get_u64(&r.data, "near_poor"), 1);
    assert_int_equal(get_u64(&r.data, "escaped"), 1);
    const msgpack_object *red = td_get(&r.data, "reduction_pp");
    assert_non_null(red);
    assert_int_equal(red->type, MSGPACK_OBJECT_FLOAT64);
    assert_true(red->via.f64 > 0.999 && red->via.f64 < 1.001);
    msgpack_unpacked_destroy(&r);
    free(res);
}

static void test_duplicates_and_conflicts(void **state)
{
    struct fixture *f = *state;
    load_fixture(&f->d);
    msgpack_unpacked up;

    /* The same events again: duplicates with their original seqs. */
    publish(&f->d, units_json, &up);
    for (uint32_t i = 0; i < 3; i++)
        assert_ack(&up, i, "duplicate", i + 1);
    msgpack_unpacked_destroy(&up);

    /* Same id, other content; and one id twice in one request. */
    publish(&f->d,
            "[{\"v\":1,\"id\":\"u-593\",\"type\":\"unit.defined\",\"at\":"
            "1609459200,\"unit\":\"593\",\"data\":{\"name\":\"Other\","
            "\"parent\":\"60\",\"level\":\"district\"}},"
            "{\"v\":1,\"id\":\"twice\",\"type\":\"review.closed\",\"at\":"
            "1734220800,\"unit\":\"593\",\"data\":{\"year\":2024}},"
            "{\"v\":1,\"id\":\"twice\",\"type\":\"review.closed\",\"at\":"
            "1734220800,\"unit\":\"593\",\"data\":{\"year\":2024}},"
            "{\"v\":1,\"id\":\"twice\",\"type\":\"review.closed\",\"at\":"
            "1734220800,\"unit\":\"593\",\"data\":{\"year\":2023}}]",
            &up);
    assert_rejected(&up, 0, "id: reused with different content");
    assert_ack(&up, 1, "ok", 12);
    assert_ack(&up, 2, "duplicate", 12);
    assert_rejected(&up, 3, "id: reused with different content");
    msgpack_unpacked_destroy(&up);

    request(&f->d, "{\"op\":\"stats\"}", &up);
    assert_int_equal(get_u64(&up.data, "last_seq"), 12);
    msgpack_unpacked_destroy(&up);

    /* Counted once: fund totals reflect each donation exactly once. */
    size_t len;
    char *res = query_result(&f->d, "fund", "{\"unit\":\"60\"}", 12, &len);
    msgpack_unpacked r;
    msgpack_unpacked_init(&r);
    size_t off = 0;
    assert_int_equal(msgpack_unpack_next(&r, res, len, &off),
                     MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(get_u64(&r.data, "received"), 150500000);
    assert_int_equal(get_u64(&r.data, "donations"), 2);
    msgpack_unpacked_destroy(&r);
    free(res);
}

static void expect_request_rejected(struct td *d, const void *buf, size_t len,
                                    const char *prefix)
{
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    assert_int_equal(td_ingest_raw(d, buf, len, &up, TIMEOUT_MS), 0);
    assert_int_equal(up.data.type, MSGPACK_OBJECT_ARRAY);
    assert_int_equal(up.data.via.array.size, 1);
    assert_int_equal(td_get(ack(&up, 0), "id")->type, MSGPACK_OBJECT_NIL);
    assert_rejected(&up, 0, prefix);
    msgpack_unpacked_destroy(&up);
}

static void test_bad_input_among_good(void **state)
{
    struct fixture *f = *state;
    load_fixture(&f->d);

    expect_request_rejected(&f->d, "\xc1garbage", 8, "request: ");
    expect_request_rejected(&f->d, "\x92\x01", 2, "request: ");
    expect_request_rejected(&f->d, "", 0, "request: ");
    expect_request_rejected(&f->d, "\x90", 1, "request: must be an array");
    expect_request_rejected(&f->d, "\x81\xa1k\x01", 4,
                            "request: must be an array");
    /* The msgpack-c allocation bomb: array32 declaring 4 billion items. */
    expect_request_rejected(&f->d, "\xdd\xff\xff\xff\xff", 5, "request: ");

    /* Two body frames after the delimiter. */
    void *s = f->d.ingest_sock;
    assert_true(zmq_send(s, "", 0, ZMQ_SNDMORE) == 0);
    assert_true(zmq_send(s, "\x90", 1, ZMQ_SNDMORE) == 1);
    assert_true(zmq_send(s, "\x90", 1, 0) == 1);
    zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
    assert_int_equal(zmq_poll(&it, 1, TIMEOUT_MS), 1);
    char buf[512];
    assert_int_equal(zmq_recv(s, buf, sizeof buf, 0), 0);
    int n = zmq_recv(s, buf, sizeof buf, 0);
    assert_true(n > 0 && n < (int)sizeof buf);
    buf[n] = '\0';
    msgpack_unpacked one;
    msgpack_unpacked_init(&one);
    size_t off = 0;
    assert_int_equal(msgpack_unpack_next(&one, buf, (size_t)n, &off),
                     MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(one.data.via.array.size, 1);
    const msgpack_object *e = td_get(&one.data.via.array.ptr[0], "error");
    assert_non_null(e);
    assert_true(
        e->via.str.size > 40 &&
        memcmp(e->via.str.ptr, "request: must be exactly one frame", 34) == 0);
    msgpack_unpacked_destroy(&one);

    /* Invalid events are rejected one by one; the valid ones around them
     * are stored. */
    msgpack_unpacked up;
    publish(&f->d,
            "[{\"v\":1,\"id\":\"g-1\",\"type\":\"review.closed\",\"at\":"
            "1734220800,\"unit\":\"593\",\"data\":{\"year\":2024}},"
            "{\"v\":1,\"id\":\"b-1\",\"type\":\"donation.received\",\"at\":"
            "1730000000,\"unit\":\"593\",\"data\":{\"amount\":1.5,\"donor\":"
            "\"X\",\"donor_kind\":\"person\",\"level\":\"district\"}},"
            "{\"v\":1,\"id\":\"b-2\",\"type\":\"review.closed\",\"at\":"
            "1734220800,\"unit\":\"99999\",\"data\":{\"year\":2024}},"
            "{\"v\":1,\"id\":\"b-3\",\"type\":\"no.such\",\"at\":1734220800,"
            "\"unit\":\"593\",\"data\":{}},"
            "17,"
            "{\"v\":1,\"id\":\"g-2\",\"type\":\"review.closed\",\"at\":"
            "1734220800,\"unit\":\"60\",\"data\":{\"year\":2024}}]",
            &up);
    assert_int_equal(up.data.via.array.size, 6);
    assert_ack(&up, 0, "ok", 12);
    assert_rejected(&up, 1, "data.amount: ");
    assert_true(td_str_eq(td_get(ack(&up, 1), "id"), "b-1"));
    assert_rejected(&up, 2, "unit: ");
    assert_rejected(&up, 3, "type: ");
    assert_rejected(&up, 4, "event: ");
    assert_ack(&up, 5, "ok", 13);
    msgpack_unpacked_destroy(&up);

    /* Nothing invalid reached the log, and the daemon is still serving. */
    request(&f->d, "{\"op\":\"read\",\"from\":12}", &up);
    const msgpack_object *recs = td_get(&up.data, "records");
    assert_int_equal(recs->via.array.size, 2);
    assert_true(td_str_eq(
        td_get(td_get(&recs->via.array.ptr[1], "event"), "id"), "g-2"));
    msgpack_unpacked_destroy(&up);
    assert_int_equal(td_wait_ping(&f->d, TIMEOUT_MS), 0);
}

static void test_restart_keeps_everything_once(void **state)
{
    struct fixture *f = *state;
    load_fixture(&f->d);
    size_t len1, len2, flen1, flen2;
    char *pov1 = query_result(&f->d, "poverty",
                              "{\"unit\":\"593\",\"year\":2024}", 11, &len1);
    char *fund1 = query_result(&f->d, "fund", "{\"unit\":\"60\"}", 11, &flen1);

    assert_int_equal(td_stop(&f->d), 0);
    assert_int_equal(td_start(&f->d, NULL), 0);

    msgpack_unpacked up;
    request(&f->d, "{\"op\":\"stats\"}", &up);
    assert_int_equal(get_u64(&up.data, "last_seq"), 11);
    const msgpack_object *plugins = td_get(&up.data, "plugins");
    assert_non_null(plugins);
    for (uint32_t i = 0; i < plugins->via.array.size; i++)
        assert_int_equal(get_u64(&plugins->via.array.ptr[i], "applied_seq"),
                         11);
    msgpack_unpacked_destroy(&up);

    char *pov2 = query_result(&f->d, "poverty",
                              "{\"unit\":\"593\",\"year\":2024}", 11, &len2);
    char *fund2 = query_result(&f->d, "fund", "{\"unit\":\"60\"}", 11, &flen2);
    assert_int_equal(len1, len2);
    assert_memory_equal(pov1, pov2, len1);
    assert_int_equal(flen1, flen2);
    assert_memory_equal(fund1, fund2, flen1);
    free(pov1);
    free(pov2);
    free(fund1);
    free(fund2);

    /* Ids survive the restart; new events continue the sequence. */
    publish(&f->d, units_json, &up);
    assert_ack(&up, 0, "duplicate", 1);
    msgpack_unpacked_destroy(&up);
    publish(&f->d,
            "[{\"v\":1,\"id\":\"after\",\"type\":\"review.closed\",\"at\":"
            "1734220800,\"unit\":\"593\",\"data\":{\"year\":2024}}]",
            &up);
    assert_ack(&up, 0, "ok", 12);
    msgpack_unpacked_destroy(&up);
}

static void test_plugin_host_killed(void **state)
{
    struct fixture *f = *state;
    load_fixture(&f->d);
    size_t len1, len2;
    char *fund1 = query_result(&f->d, "fund", "{\"unit\":\"60\"}", 11, &len1);

    pid_t host = td_host_pid(&f->d);
    assert_true(host > 0);
    assert_int_equal(kill(host, SIGKILL), 0);

    /* Ingest does not wait for plugins: this is acknowledged while the
     * host is down or restarting. */
    msgpack_unpacked up;
    publish(&f->d,
            "[{\"v\":1,\"id\":\"d-3\",\"type\":\"donation.received\",\"at\":"
            "1730000200,\"unit\":\"22870\",\"data\":{\"amount\":1000000,"
            "\"donor\":\"C\",\"donor_kind\":\"person\",\"level\":"
            "\"commune\"}}]",
            &up);
    assert_ack(&up, 0, "ok", 12);
    msgpack_unpacked_destroy(&up);

    /* The supervisor restarts the host; it applies seq 12 exactly once
     * and nothing before it again. */
    assert_int_equal(td_wait_ping(&f->d, 20000), 0);
    assert_true(td_host_pid(&f->d) != host);
    char *fund2 = query_result(&f->d, "fund", "{\"unit\":\"60\"}", 12, &len2);
    msgpack_unpacked a, b;
    msgpack_unpacked_init(&a);
    msgpack_unpacked_init(&b);
    size_t off = 0;
    assert_int_equal(msgpack_unpack_next(&a, fund1, len1, &off),
                     MSGPACK_UNPACK_SUCCESS);
    off = 0;
    assert_int_equal(msgpack_unpack_next(&b, fund2, len2, &off),
                     MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(get_u64(&a.data, "received"), 150500000);
    assert_int_equal(get_u64(&b.data, "received"), 151500000);
    assert_int_equal(get_u64(&b.data, "donations"), 3);
    msgpack_unpacked_destroy(&a);
    msgpack_unpacked_destroy(&b);
    free(fund1);
    free(fund2);
}

static void test_alerts_published_and_kept(void **state)
{
    struct fixture *f = *state;
    void *sub = zmq_socket(f->d.zctx, ZMQ_SUB);
    int zero = 0;
    zmq_setsockopt(sub, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "alert.", 6);
    assert_int_equal(zmq_connect(sub, f->d.alerts), 0);

    /* A subscription takes effect asynchronously.  Handshake: publish an
     * alert-raising event until the subscriber has seen one, then check
     * the stored list holds every raised alert. */
    char topic[128] = "";
    int got = 0;
    msgpack_unpacked up;
    publish(&f->d, units_json, &up);
    msgpack_unpacked_destroy(&up);
    for (int i = 0; i < 50 && !got; i++) {
        char json[512];
        snprintf(json, sizeof json,
                 "[{\"v\":1,\"id\":\"big-%d\",\"type\":\"donation.received\","
                 "\"at\":1730000000,\"unit\":\"593\",\"data\":{\"amount\":"
                 "200000000,\"donor\":\"Cong ty %d\",\"donor_kind\":"
                 "\"business\",\"level\":\"district\"}}]",
                 i, i);
        publish(&f->d, json, &up);
        assert_ack(&up, 0, "ok", 0);
        msgpack_unpacked_destroy(&up);
        zmq_pollitem_t it = {sub, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, 200) == 1) {
            int n = zmq_recv(sub, topic, sizeof topic - 1, 0);
            assert_true(n > 0);
            topic[n] = '\0';
            char body[1024];
            int m = zmq_recv(sub, body, sizeof body, 0);
            assert_true(m > 0);
            msgpack_unpacked al;
            msgpack_unpacked_init(&al);
            size_t off = 0;
            assert_int_equal(msgpack_unpack_next(&al, body, (size_t)m, &off),
                             MSGPACK_UNPACK_SUCCESS);
            assert_true(
                td_str_eq(td_get(&al.data, "code"), "fund.large_donation"));
            assert_true(td_str_eq(td_get(&al.data, "severity"), "info"));
            assert_true(td_str_eq(td_get(&al.data, "unit"), "593"));
            msgpack_unpacked_destroy(&al);
            got = i + 1;
        }
    }
    assert_true(got > 0);
    assert_string_equal(topic, "alert.fund.large_donation");

    request(&f->d, "{\"op\":\"alerts\",\"since\":0}", &up);
    const msgpack_object *list = td_get(&up.data, "alerts");
    assert_non_null(list);
    assert_int_equal(list->via.array.size, (uint32_t)got);
    uint64_t raised_by = td_get(&list->via.array.ptr[got - 1], "seq")->via.u64;
    msgpack_unpacked_destroy(&up);

    /* The donation voided: its alert is published again, the same alert
     * resolved, and kept, listed only when resolved alerts are asked for. */
    char json[512];
    snprintf(json, sizeof json,
             "[{\"v\":1,\"id\":\"void-big\",\"type\":\"record.voided\","
             "\"at\":1730000100,\"unit\":\"593\",\"data\":{\"target\":"
             "\"big-%d\",\"type\":\"donation.received\",\"reason\":\"nhập "
             "hai lần\"}}]",
             got - 1);
    publish(&f->d, json, &up);
    uint64_t void_seq = td_get(&up.data.via.array.ptr[0], "seq")->via.u64;
    assert_ack(&up, 0, "ok", 0);
    msgpack_unpacked_destroy(&up);
    zmq_pollitem_t it = {sub, 0, ZMQ_POLLIN, 0};
    assert_int_equal(zmq_poll(&it, 1, TIMEOUT_MS), 1);
    int n = zmq_recv(sub, topic, sizeof topic - 1, 0);
    assert_true(n > 0);
    topic[n] = '\0';
    assert_string_equal(topic, "alert.fund.large_donation");
    char body[1024];
    int m = zmq_recv(sub, body, sizeof body, 0);
    assert_true(m > 0);
    msgpack_unpacked al;
    msgpack_unpacked_init(&al);
    assert_int_equal(msgpack_unpack_next(&al, body, (size_t)m, NULL),
                     MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(td_get(&al.data, "seq")->via.u64, raised_by);
    assert_int_equal(td_get(&al.data, "resolved_seq")->via.u64, void_seq);
    assert_true(td_str_eq(td_get(&al.data, "resolved_by"), "record.voided"));
    assert_true(td_str_eq(td_get(&al.data, "resolved_reason"), "nhập hai lần"));
    msgpack_unpacked_destroy(&al);
    zmq_close(sub);

    request(&f->d, "{\"op\":\"alerts\",\"since\":0}", &up);
    assert_int_equal(td_get(&up.data, "alerts")->via.array.size,
                     (uint32_t)got - 1);
    msgpack_unpacked_destroy(&up);
    request(&f->d, "{\"op\":\"alerts\",\"since\":0,\"resolved\":true}", &up);
    list = td_get(&up.data, "alerts");
    assert_int_equal(list->via.array.size, (uint32_t)got);
    assert_int_equal(
        td_get(&list->via.array.ptr[got - 1], "resolved_seq")->via.u64,
        void_seq);
    msgpack_unpacked_destroy(&up);
}

/* Requests queued together form one group; a group of events that are all
 * invalid must be bounded like any other (each event takes a slot). */
static void test_pipelined_invalid_requests(void **state)
{
    struct fixture *f = *state;
    enum { REQS = 4, EVENTS = 10000 };
    /* An array of 10000 integers: every element is rejected. */
    static unsigned char frame[5 + EVENTS];
    frame[0] = 0xdc;
    frame[1] = EVENTS >> 8;
    frame[2] = EVENTS & 0xff;
    memset(frame + 3, 0x11, EVENTS);
    void *s = f->d.ingest_sock;
    for (int i = 0; i < REQS; i++) {
        assert_int_equal(zmq_send(s, "", 0, ZMQ_SNDMORE), 0);
        assert_int_equal(zmq_send(s, frame, 3 + EVENTS, 0), 3 + EVENTS);
    }
    for (int i = 0; i < REQS; i++) {
        zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
        assert_int_equal(zmq_poll(&it, 1, TIMEOUT_MS), 1);
        zmq_msg_t delim, body;
        zmq_msg_init(&delim);
        zmq_msg_init(&body);
        assert_true(zmq_msg_recv(&delim, s, 0) == 0);
        assert_true(zmq_msg_recv(&body, s, 0) > 0);
        msgpack_unpacked up;
        msgpack_unpacked_init(&up);
        size_t off = 0;
        assert_int_equal(msgpack_unpack_next(&up, zmq_msg_data(&body),
                                             zmq_msg_size(&body), &off),
                         MSGPACK_UNPACK_SUCCESS);
        assert_int_equal(up.data.via.array.size, EVENTS);
        assert_rejected(&up, 0, "event: ");
        assert_rejected(&up, EVENTS - 1, "event: ");
        msgpack_unpacked_destroy(&up);
        zmq_msg_close(&delim);
        zmq_msg_close(&body);
    }
    assert_int_equal(td_wait_ping(&f->d, TIMEOUT_MS), 0);
    assert_true(kill(f->d.pid, 0) == 0); /* ingest still running */
}

static void test_second_daemon_on_same_data_refused(void **state)
{
    struct fixture *f = *state;
    char ingest[400], query[400], alerts[400];
    snprintf(ingest, sizeof ingest, "%s2", f->d.ingest);
    snprintf(query, sizeof query, "%s2", f->d.query);
    snprintf(alerts, sizeof alerts, "%s2", f->d.alerts);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 2);
        execl(POVTRACK_BIN_DIR "/povtrackd", "povtrackd", "--data-dir",
              f->d.data_dir, "--ingest", ingest, "--query", query, "--alerts",
              alerts, "--plugin-dir", POVTRACK_PLUGIN_DIR, (char *)NULL);
        _exit(127);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 1);
    /* The first daemon is untouched. */
    assert_int_equal(td_wait_ping(&f->d, TIMEOUT_MS), 0);
}

/* Lazy Pirate in the client library: with the ingest process stopped, the
 * first attempts time out; the library resends the same frame on fresh
 * sockets until the daemon runs again, and the event is stored once. */
struct pirate {
    povtrack_client *c;
    msgpack_sbuffer frame;
    struct povtrack_client_acks acks;
    int rc;
};

static void *pirate_publish(void *arg)
{
    struct pirate *p = arg;
    p->rc =
        povtrack_client_publish(p->c, p->frame.data, p->frame.size, &p->acks);
    return NULL;
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void test_client_retries_until_stored(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(td_define_province(&f->d, "u-60"), 0);

    struct pirate p;
    memset(&p, 0, sizeof p);
    assert_int_equal(povtrack_client_open(&p.c), 0);
    assert_int_equal(
        povtrack_client_set_endpoint(p.c, POVTRACK_CLIENT_INGEST, f->d.ingest),
        0);
    assert_int_equal(povtrack_client_set_timeout(p.c, 100), 0);
    assert_int_equal(povtrack_client_set_retries(p.c, 100), 0);
    tj_pack(&p.frame, "[{\"v\":1,\"id\":\"pirate-1\",\"type\":"
                      "\"donation.received\",\"at\":1700000000,\"unit\":\"60\","
                      "\"data\":{\"amount\":500000,\"donor\":\"A\","
                      "\"donor_kind\":\"person\",\"level\":\"province\"}}]");

    assert_int_equal(kill(f->d.pid, SIGSTOP), 0);
    double t0 = mono_s();
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, pirate_publish, &p), 0);
    /* The stimulus, not a synchronisation: keep ingest stopped across
     * several 100 ms attempts.  The assertions below hold however the
     * attempts and the resume interleave. */
    struct timespec hold = {0, 450 * 1000 * 1000};
    nanosleep(&hold, NULL);
    assert_int_equal(kill(f->d.pid, SIGCONT), 0);
    assert_int_equal(pthread_join(t, NULL), 0);

    assert_int_equal(p.rc, POVTRACK_CLIENT_OK);
    assert_true(mono_s() - t0 >= 0.4);
    assert_int_equal(p.acks.count, 1);
    /* "duplicate" when an earlier attempt's frame was committed after the
     * resume and only its reply was lost: either way it is stored. */
    assert_true(p.acks.acks[0].status == POVTRACK_ACK_OK ||
                p.acks.acks[0].status == POVTRACK_ACK_DUPLICATE);
    assert_int_equal(p.acks.acks[0].seq, 2);
    povtrack_client_acks_free(&p.acks);
    msgpack_sbuffer_destroy(&p.frame);
    povtrack_client_close(p.c);

    msgpack_unpacked up;
    request(&f->d, "{\"op\":\"stats\"}", &up);
    assert_int_equal(get_u64(&up.data, "events"), 2);
    msgpack_unpacked_destroy(&up);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_publish_ack_and_read, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_duplicates_and_conflicts, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_bad_input_among_good, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_restart_keeps_everything_once,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_plugin_host_killed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_alerts_published_and_kept, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_pipelined_invalid_requests, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_second_daemon_on_same_data_refused,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_retries_until_stored, setup,
                                        teardown),
    };
    return cmocka_run_group_tests_name("integration", tests, NULL, NULL);
}
