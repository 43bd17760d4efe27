/*
 * test_errors.c - the error space (<povtrack/errors.h>, tools/client/
 * errors.c): every own code has a name and a message of its own, errno
 * values and LMDB's codes are told apart, unknown codes say so.  That the
 * ranges do not overlap is checked by errors.h's static assertions, and
 * LMDB's range against lmdb.h by storage/st_log.c's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <lmdb.h>
#include <povtrack/errors.h>

#define OWN_CODE(name, value, message) POVTRACK_##name,
static const int own_codes[] = {POVTRACK_ERROR_MAP(OWN_CODE)};
#undef OWN_CODE

#define N_OWN (sizeof own_codes / sizeof own_codes[0])

static void test_own_codes_distinct(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_OWN; i++) {
        int rc = own_codes[i];
        const char *name = povtrack_err_name(rc);
        const char *msg = povtrack_strerror(rc);
        assert_true(rc >= POVTRACK_OWN_MIN && rc <= POVTRACK_OWN_MAX);
        assert_int_equal(strncmp(name, "POVTRACK_E", 10), 0);
        assert_string_not_equal(msg, "unknown error");
        assert_string_not_equal(msg, "success");
        for (size_t j = 0; j < i; j++) {
            assert_int_not_equal(rc, own_codes[j]);
            assert_string_not_equal(name, povtrack_err_name(own_codes[j]));
            assert_string_not_equal(msg, povtrack_strerror(own_codes[j]));
        }
    }
    assert_string_equal(povtrack_err_name(POVTRACK_EFORMAT),
                        "POVTRACK_EFORMAT");
    assert_string_equal(povtrack_strerror(POVTRACK_EFORMAT),
                        "not a povtrack log, or a corrupt record");
}

static void test_ok(void **state)
{
    (void)state;
    assert_int_equal(POVTRACK_OK, 0);
    assert_string_equal(povtrack_strerror(0), "success");
    assert_string_equal(povtrack_err_name(0), "OK");
}

static void test_errno_range(void **state)
{
    (void)state;
    assert_int_equal(POVTRACK_ENOSPC, -ENOSPC);
    assert_int_equal(POVTRACK_EINVAL, -EINVAL);
    /* The C library's own text, as strerror() gives it. */
    assert_string_equal(povtrack_strerror(-ENOSPC), strerror(ENOSPC));
    assert_string_equal(povtrack_strerror(POVTRACK_ETIMEDOUT),
                        strerror(ETIMEDOUT));
#ifdef __GLIBC__
    assert_string_equal(povtrack_err_name(-ENOSPC), "ENOSPC");
    assert_string_equal(povtrack_err_name(POVTRACK_EPROTO), "EPROTO");
#endif
    /* Not an errno value of this system, but in the range. */
    assert_string_equal(povtrack_strerror(-4000), "unknown error");
    assert_string_equal(povtrack_err_name(-4000), "ERRNO");
}

static void test_lmdb_range(void **state)
{
    (void)state;
    int lmdb[] = {MDB_KEYEXIST,  MDB_NOTFOUND,     MDB_MAP_FULL,
                  MDB_CORRUPTED, MDB_LAST_ERRCODE, POVTRACK_LMDB_MAX};
    for (size_t i = 0; i < sizeof lmdb / sizeof lmdb[0]; i++) {
        assert_string_equal(povtrack_strerror(lmdb[i]), "storage error (LMDB)");
        assert_string_equal(povtrack_err_name(lmdb[i]), "LMDB");
    }
}

static void test_unknown(void **state)
{
    (void)state;
    /* Positive codes, the gaps between the ranges, an own code not
     * assigned. */
    int unknown[] = {1,
                     ENOSPC,
                     POVTRACK_ERRNO_MIN - 1,
                     POVTRACK_LMDB_MIN - 1,
                     POVTRACK_LMDB_MAX + 1,
                     POVTRACK_OWN_MAX + 1,
                     POVTRACK_OWN_MIN,
                     POVTRACK_OWN_MIN - 1,
                     INT32_MIN,
                     INT32_MAX};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        assert_string_equal(povtrack_strerror(unknown[i]), "unknown error");
        assert_string_equal(povtrack_err_name(unknown[i]), "UNKNOWN");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_own_codes_distinct),
        cmocka_unit_test(test_ok),
        cmocka_unit_test(test_errno_range),
        cmocka_unit_test(test_lmdb_range),
        cmocka_unit_test(test_unknown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
