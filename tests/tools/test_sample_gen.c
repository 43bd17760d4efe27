/*
 * test_sample_gen.c - povtrack-sample is deterministic: the same seed gives
 * the same bytes, another seed other bytes.  Runs the built binary on the
 * real units file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#define UNITS POVTRACK_SHARED_DIR "/data/units-binh-thuan-2025-03-01.csv"
#define GEN POVTRACK_BIN_DIR "/povtrack-sample"

/* Run the generator; return its whole output (caller frees). */
static char *run(const char *args, size_t *len)
{
    char cmd[1024], *out = NULL;
    size_t cap = 0, n;
    FILE *p;

    snprintf(cmd, sizeof(cmd),
             "'%s' --units '%s' --scale 0.05 --now 1790000000 %s "
             "2>/dev/null",
             GEN, UNITS, args);
    p = popen(cmd, "r");
    assert_non_null(p);
    *len = 0;
    do {
        if (*len == cap) {
            cap = cap ? cap * 2 : 1 << 20;
            out = realloc(out, cap + 1);
            assert_non_null(out);
        }
        n = fread(out + *len, 1, cap - *len, p);
        *len += n;
    } while (n > 0);
    assert_int_equal(pclose(p), 0);
    out[*len] = '\0';
    return out;
}

static void test_same_seed_same_bytes(void **state)
{
    size_t la, lb, lc;
    char *a, *b, *c;

    (void)state;
    if (access(UNITS, R_OK) != 0)
        skip();
    a = run("--seed 42", &la);
    b = run("--seed 42", &lb);
    c = run("--seed 43", &lc);
    assert_true(la > 10000);
    assert_int_equal(la, lb);
    assert_memory_equal(a, b, la);
    assert_false(la == lc && memcmp(a, c, la) == 0);
    /* Parents first, ids from the seed. */
    assert_int_equal(strncmp(a,
                             "{\"v\":1,\"id\":\"gen-42-1\",\"type\":"
                             "\"unit.defined\"",
                             strlen("{\"v\":1,\"id\":\"gen-42-1\",\"type\":"
                                    "\"unit.defined\"")),
                     0);
    assert_non_null(strstr(a, "\"unit\":\"60\""));
    assert_non_null(strstr(a, "\"type\":\"review.closed\""));
    assert_non_null(strstr(a, "\"status\":\"none\""));
    /* The later catalogue's types, from their own stream of ids. */
    assert_non_null(strstr(a, "\"type\":\"household.assessed\""));
    assert_non_null(strstr(a, "\"type\":\"relocation.completed\""));
    assert_non_null(strstr(a, "\"type\":\"credit.disbursed\""));
    assert_non_null(strstr(a, "\"type\":\"report.due\""));
    assert_non_null(strstr(a, "\"id\":\"gen-42-x1\""));
    /* The rest of the plan, from a third stream. */
    assert_non_null(strstr(a, "\"type\":\"production.linked\""));
    assert_non_null(strstr(a, "\"type\":\"ocop.certified\""));
    assert_non_null(strstr(a, "\"type\":\"assistance.paid\""));
    assert_non_null(strstr(a, "\"type\":\"budget.allocated\""));
    assert_non_null(strstr(a, "\"type\":\"budget.spent\""));
    assert_non_null(strstr(a, "\"type\":\"commendation.awarded\""));
    assert_non_null(strstr(a, "\"no_labour_capacity\":true"));
    assert_non_null(strstr(a, "\"id\":\"gen-42-p1\""));
    free(a);
    free(b);
    free(c);
}

static void test_at_clamped_to_now(void **state)
{
    size_t len;
    char *out, *p;

    (void)state;
    if (access(UNITS, R_OK) != 0)
        skip();
    /* Years past --now: nothing may be dated after it. */
    out = run("--from-year 2026 --to-year 2027", &len);
    for (p = out; (p = strstr(p, "\"at\":")) != NULL; p += 5)
        assert_true(strtoll(p + 5, NULL, 10) <= 1790000000LL);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_seed_same_bytes),
        cmocka_unit_test(test_at_clamped_to_now),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
