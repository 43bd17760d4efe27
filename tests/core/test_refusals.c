/*
 * test_refusals.c - the table of recently refused keys (core/pt_refusals.h):
 * each key is logged at most once a minute, however many keys take turns.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "pt_refusals.h"

/* A key told apart by its number. */
static void key_n(uint8_t *key, unsigned n)
{
    memset(key, 0xA5, PT_CURVE_KEY_BYTES);
    memcpy(key, &n, sizeof n);
}

static void test_once_a_minute(void **state)
{
    (void)state;
    struct pt_refusals t;
    memset(&t, 0, sizeof t);
    uint8_t k[PT_CURVE_KEY_BYTES];
    key_n(k, 1);
    time_t t0 = 1700000000;
    assert_true(pt_refusals_due(&t, k, t0));
    assert_false(pt_refusals_due(&t, k, t0));
    assert_false(pt_refusals_due(&t, k, t0 + PT_REFUSALS_LOG_SECONDS - 1));
    assert_true(pt_refusals_due(&t, k, t0 + PT_REFUSALS_LOG_SECONDS));
    assert_false(pt_refusals_due(&t, k, t0 + PT_REFUSALS_LOG_SECONDS + 1));
}

/* The bug this table fixes: with one remembered key, two keys taking
 * turns were logged at every refusal. */
static void test_keys_taking_turns(void **state)
{
    (void)state;
    struct pt_refusals t;
    memset(&t, 0, sizeof t);
    uint8_t a[PT_CURVE_KEY_BYTES], b[PT_CURVE_KEY_BYTES];
    key_n(a, 1);
    key_n(b, 2);
    time_t t0 = 1700000000;
    int logged_a = 0, logged_b = 0;
    for (int s = 0; s < PT_REFUSALS_LOG_SECONDS; s++) {
        logged_a += pt_refusals_due(&t, a, t0 + s);
        logged_b += pt_refusals_due(&t, b, t0 + s);
    }
    assert_int_equal(logged_a, 1);
    assert_int_equal(logged_b, 1);
}

/* A full table forgets the key logged longest ago, and only that one. */
static void test_full_table(void **state)
{
    (void)state;
    struct pt_refusals t;
    memset(&t, 0, sizeof t);
    uint8_t k[PT_CURVE_KEY_BYTES];
    time_t t0 = 1700000000;
    /* Key 0 first, the others a second later. */
    for (unsigned i = 0; i < PT_REFUSALS_MAX; i++) {
        key_n(k, i);
        assert_true(pt_refusals_due(&t, k, i == 0 ? t0 : t0 + 1));
    }
    time_t t1 = t0 + 2;
    for (unsigned i = 0; i < PT_REFUSALS_MAX; i++) {
        key_n(k, i);
        assert_false(pt_refusals_due(&t, k, t1));
    }
    key_n(k, PT_REFUSALS_MAX); /* one more: key 0 makes room */
    assert_true(pt_refusals_due(&t, k, t1));
    assert_false(pt_refusals_due(&t, k, t1));
    for (unsigned i = 1; i < PT_REFUSALS_MAX; i++) {
        key_n(k, i);
        assert_false(pt_refusals_due(&t, k, t1));
    }
    key_n(k, 0);
    assert_true(pt_refusals_due(&t, k, t1));
}

/* A clock set back does not silence a key for the difference. */
static void test_clock_set_back(void **state)
{
    (void)state;
    struct pt_refusals t;
    memset(&t, 0, sizeof t);
    uint8_t k[PT_CURVE_KEY_BYTES];
    key_n(k, 7);
    assert_true(pt_refusals_due(&t, k, 1700003600));
    assert_true(pt_refusals_due(&t, k, 1700000000));
    assert_false(pt_refusals_due(&t, k, 1700000001));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_once_a_minute),
        cmocka_unit_test(test_keys_taking_turns),
        cmocka_unit_test(test_full_table),
        cmocka_unit_test(test_clock_set_back),
    };
    return cmocka_run_group_tests_name("core_refusals", tests, NULL, NULL);
}
