/*
 * test_client_offline.c - what the client library does without a daemon:
 * argument checks, limits, and a timeout that never hangs and says where.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include <povtrack/client.h>

/* Nothing listens on port 1; connect() is refused and retried quietly. */
#define NOWHERE "tcp://127.0.0.1:1"

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void test_defaults(void **state)
{
    povtrack_client *c;

    (void)state;
    assert_int_equal(povtrack_client_open(&c), POVTRACK_CLIENT_OK);
    assert_string_equal(povtrack_client_endpoint(c, POVTRACK_CLIENT_INGEST),
                        "tcp://127.0.0.1:7170");
    assert_string_equal(povtrack_client_endpoint(c, POVTRACK_CLIENT_QUERY),
                        "tcp://127.0.0.1:7171");
    assert_string_equal(povtrack_client_endpoint(c, POVTRACK_CLIENT_ALERTS),
                        "tcp://127.0.0.1:7172");
    assert_int_equal(povtrack_client_timeout(c), 5000);
    assert_int_equal(povtrack_client_set_timeout(c, 0), POVTRACK_CLIENT_EINVAL);
    assert_int_equal(povtrack_client_set_endpoint(c, POVTRACK_CLIENT_QUERY, ""),
                     POVTRACK_CLIENT_EINVAL);
    povtrack_client_close(c);
    povtrack_client_close(NULL);
}

static void test_timeout(void **state)
{
    povtrack_client *c;
    struct povtrack_client_msg reply;
    double t0;

    (void)state;
    assert_int_equal(povtrack_client_open(&c), POVTRACK_CLIENT_OK);
    assert_int_equal(
        povtrack_client_set_endpoint(c, POVTRACK_CLIENT_QUERY, NOWHERE), 0);
    assert_int_equal(povtrack_client_set_timeout(c, 200), 0);
    assert_int_equal(povtrack_client_retries(c),
                     POVTRACK_CLIENT_RETRIES_DEFAULT);
    assert_int_equal(povtrack_client_set_retries(c, -1),
                     POVTRACK_CLIENT_EINVAL);
    assert_int_equal(povtrack_client_set_retries(c, 0), 0);
    /* Twice: the second request goes out on a fresh socket. */
    for (int i = 0; i < 2; i++) {
        t0 = now_ms();
        assert_int_equal(povtrack_client_simple(c, "ping", &reply),
                         POVTRACK_CLIENT_ETIMEDOUT);
        assert_true(now_ms() - t0 < 2000);
        assert_string_equal(povtrack_client_error(c),
                            "cannot reach povtrackd at " NOWHERE
                            ": timed out after 200 ms");
        povtrack_client_msg_free(&reply);
    }
    /* With retries, each attempt waits the whole timeout. */
    assert_int_equal(povtrack_client_set_retries(c, 2), 0);
    t0 = now_ms();
    assert_int_equal(povtrack_client_simple(c, "ping", &reply),
                     POVTRACK_CLIENT_ETIMEDOUT);
    assert_true(now_ms() - t0 >= 3 * 200 - 5);
    assert_string_equal(povtrack_client_error(c),
                        "cannot reach povtrackd at " NOWHERE
                        ": timed out after 3 attempts of 200 ms");
    povtrack_client_msg_free(&reply);
    povtrack_client_close(c);
}

static void test_publish_limits(void **state)
{
    povtrack_client *c;
    struct povtrack_client_acks acks;
    msgpack_sbuffer sb;
    const unsigned char not_array[] = {0x80};
    const unsigned char empty[] = {0x90};

    (void)state;
    assert_int_equal(povtrack_client_open(&c), POVTRACK_CLIENT_OK);
    assert_int_equal(povtrack_client_publish(c, not_array, 1, &acks),
                     POVTRACK_CLIENT_EINVAL);
    assert_int_equal(acks.count, 0);
    assert_int_equal(povtrack_client_publish(c, empty, 1, &acks),
                     POVTRACK_CLIENT_EINVAL);
    msgpack_sbuffer_init(&sb);
    msgpack_sbuffer_write(&sb, "\xc0", 1);
    assert_int_equal(povtrack_client_publish_events(c, &sb, 0, &acks),
                     POVTRACK_CLIENT_EINVAL);
    assert_int_equal(povtrack_client_publish_events(
                         c, &sb, POVTRACK_CLIENT_BATCH_MAX + 1, &acks),
                     POVTRACK_CLIENT_ETOOBIG);
    assert_non_null(strstr(povtrack_client_error(c), "10000 events"));
    povtrack_client_acks_free(&acks);
    msgpack_sbuffer_destroy(&sb);
    povtrack_client_close(c);
}

static void test_alert_timeout(void **state)
{
    povtrack_client *c;
    struct povtrack_client_msg m;

    (void)state;
    assert_int_equal(povtrack_client_open(&c), POVTRACK_CLIENT_OK);
    assert_int_equal(povtrack_client_recv_alert(c, 10, &m),
                     POVTRACK_CLIENT_EINVAL); /* not subscribed */
    assert_int_equal(
        povtrack_client_set_endpoint(c, POVTRACK_CLIENT_ALERTS, NOWHERE), 0);
    assert_int_equal(povtrack_client_subscribe(c, "alert."), 0);
    assert_int_equal(povtrack_client_recv_alert(c, 50, &m),
                     POVTRACK_CLIENT_ETIMEDOUT);
    povtrack_client_close(c);
}

static void test_map_get(void **state)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_unpacked up;
    size_t off = 0;
    const msgpack_object *v;

    (void)state;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    msgpack_pack_str(&pk, 2);
    msgpack_pack_str_body(&pk, "ok", 2);
    msgpack_pack_true(&pk);
    msgpack_unpacked_init(&up);
    assert_int_equal(msgpack_unpack_next(&up, sb.data, sb.size, &off),
                     MSGPACK_UNPACK_SUCCESS);
    v = povtrack_client_map_get(&up.data, "ok");
    assert_non_null(v);
    assert_int_equal(v->type, MSGPACK_OBJECT_BOOLEAN);
    assert_null(povtrack_client_map_get(&up.data, "o"));
    assert_null(povtrack_client_map_get(v, "ok"));
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_destroy(&sb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_publish_limits),
        cmocka_unit_test(test_alert_timeout),
        cmocka_unit_test(test_map_get),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
