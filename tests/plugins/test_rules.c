/*
 * test_rules.c - the rules of each plugin callback and the config map, as
 * povtrack/plugin.h states them, checked on the real host in-process with
 * rules.so (rules_plugin.c) and legacy.so:
 *
 *   - in init, the state, the unit registry and alerts answer
 *     POVTRACK_ENOSTATE (units_seq UINT64_MAX);
 *   - in query, put, del and alert answer POVTRACK_EROFS;
 *   - an apply that fails leaves nothing it wrote, its cursor before the
 *     record, and the plugin quarantined;
 *   - a tick that fails leaves nothing it wrote or raised, and the plugin
 *     quarantined;
 *   - config() returns the section's value, else the declared default;
 *     keys of a '*' family are accepted; an unknown key, a value not of
 *     its type, fail the open with POVTRACK_ECONFIG naming the section and
 *     the key; a plugin without a map takes any key; a malformed map is
 *     the plugin's fault, refused at load.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <povtrack/plugin.h>

#include "fixture.h"

#define T1 INT64_C(1767229200) /* 2026-01-01 08:00 +07 */
#define T2 (T1 + 60)

/* A fixture loading rules.so (or so_rel, relative to the plugin dir), with
 * province 60 defined. */
static struct fx *rules_fx(const char *so_rel)
{
    struct fx *fx = fx_new("rules");
    fx_conf(fx, "rules", "path", so_rel);
    fx_unit(fx, "60", NULL, EV_LEVEL_PROVINCE);
    return fx;
}

static void test_init_has_no_state(void **state)
{
    (void)state;
    struct fx *fx = rules_fx(RULES_SO_REL);
    fx_sync(fx);
    struct fx_reply r;
    const msgpack_object *res =
        fx_query(fx, &r, "rules", "{\"probe\":\"init\"}");
    static const char *const calls[] = {"get",  "put",     "del",  "scan",
                                        "unit", "unit_at", "alert"};
    for (size_t i = 0; i < FX_NELEMS(calls); i++)
        if (fx_i64(res, calls[i]) != POVTRACK_ENOSTATE)
            fail_msg("%s in init returned %lld, not POVTRACK_ENOSTATE",
                     calls[i], (long long)fx_i64(res, calls[i]));
    const msgpack_object *seq = fx_get(res, "units_seq");
    assert_int_equal(seq->type, MSGPACK_OBJECT_POSITIVE_INTEGER);
    assert_true(seq->via.u64 == UINT64_MAX);
    fx_reply_free(&r);
    fx_free(fx);
}

static void test_query_is_read_only(void **state)
{
    (void)state;
    struct fx *fx = rules_fx(RULES_SO_REL);
    fx_sync(fx);
    struct fx_reply r;
    const msgpack_object *res =
        fx_query(fx, &r, "rules", "{\"probe\":\"query\"}");
    assert_int_equal(fx_i64(res, "put"), POVTRACK_EROFS);
    assert_int_equal(fx_i64(res, "del"), POVTRACK_EROFS);
    assert_int_equal(fx_i64(res, "alert"), POVTRACK_EROFS);
    /* Plugins read codes with the host's strerror (ABI 2). */
    const msgpack_object *means = fx_get(res, "put_means");
    assert_int_equal(means->type, MSGPACK_OBJECT_STR);
    assert_int_equal(means->via.str.size, strlen(strerror(EROFS)));
    assert_memory_equal(means->via.str.ptr, strerror(EROFS),
                        means->via.str.size);
    fx_reply_free(&r);
    fx_free(fx);
}

/* {"op": op, "plugin": "rules"} answered ok. */
static void operator_op(struct fx *fx, const char *op)
{
    char json[96];
    struct fx_reply r;
    snprintf(json, sizeof json, "{\"op\":\"%s\",\"plugin\":\"rules\"}", op);
    fx_request(fx, &r, json);
    if (!fx_get(r.root, "ok")->via.boolean)
        fail_msg("%s: %s", op, fx_str(r.root, "error", json, sizeof json));
    fx_reply_free(&r);
}

static void test_failed_apply_rolls_back(void **state)
{
    (void)state;
    /* With legacy beside it, whose batch commits the quarantine. */
    struct fx *fx = fx_new("rules legacy");
    fx_conf(fx, "rules", "path", RULES_SO_REL);
    fx_conf(fx, "legacy", "path", LEGACY_SO_REL);
    fx_unit(fx, "60", NULL, EV_LEVEL_PROVINCE);
    fx_conf(fx, "rules", "fail_donor", "bad");
    fx_received(fx, T1, "60", 1000, "good", NULL);
    fx_received(fx, T1 + 1, "60", 1000, "bad", NULL);
    fx_received(fx, T1 + 2, "60", 1000, "good", NULL);
    fx_sync(fx);
    fx_assert_quarantined(fx, "rules", "{}");
    /* Mend the configuration, resume: the records from the failed one on
     * are applied again, and nothing the failed apply wrote is left. */
    fx_host_close(fx);
    fx_conf(fx, "rules", "fail_donor", "nobody");
    char err[512];
    assert_int_equal(fx_host_open(fx, err, sizeof err), 0);
    operator_op(fx, "resume");
    assert_int_equal(pt_host_catch_up_all(fx->host), 0);
    struct fx_reply r;
    const msgpack_object *res = fx_query(fx, &r, "rules", "{}");
    assert_int_equal(fx_i64(res, "n"), 3);
    assert_false(fx_get(res, "poison")->via.boolean);
    fx_reply_free(&r);
    fx_free(fx);
}

/* Alerts rules.ticked stored so far. */
static size_t ticked_alerts(struct fx *fx)
{
    struct fx_reply r;
    fx_request(fx, &r, "{\"op\":\"alerts\",\"since\":0}");
    size_t n = fx_count_alerts(fx_get(r.root, "alerts"), "rules.ticked");
    fx_reply_free(&r);
    return n;
}

static void test_failed_tick_rolls_back(void **state)
{
    (void)state;
    char t2[32];
    snprintf(t2, sizeof t2, "%lld", (long long)T2);
    struct fx *fx = rules_fx(RULES_SO_REL);
    fx_conf(fx, "rules", "fail_tick", t2);
    fx_sync(fx);
    fx_tick(fx, T1);
    assert_int_equal(ticked_alerts(fx), 1);
    fx_tick(fx, T2); /* writes "tick" = T2 and alerts, then fails */
    fx_assert_quarantined(fx, "rules", "{}");
    assert_int_equal(ticked_alerts(fx), 1);
    operator_op(fx, "resume");
    struct fx_reply r;
    const msgpack_object *res = fx_query(fx, &r, "rules", "{}");
    assert_int_equal(fx_i64(res, "tick"), T1);
    fx_reply_free(&r);
    fx_free(fx);
}

/* The value config(key) returns, "(nil)" for NULL. */
static const char *config_of(struct fx *fx, const char *key, char *buf,
                             size_t n)
{
    char q[128];
    struct fx_reply r;
    snprintf(q, sizeof q, "{\"config\":\"%s\"}", key);
    const msgpack_object *res = fx_query(fx, &r, "rules", q);
    if (fx_is_nil(res, "value"))
        snprintf(buf, n, "(nil)");
    else
        fx_str(res, "value", buf, n);
    fx_reply_free(&r);
    return buf;
}

static void test_config_defaults_and_families(void **state)
{
    (void)state;
    char v[64];
    struct fx *fx = rules_fx(RULES_SO_REL);
    fx_conf(fx, "rules", "limit.district.max", "3");
    fx_sync(fx);
    assert_string_equal(config_of(fx, "threshold", v, sizeof v), "50");
    assert_string_equal(config_of(fx, "fail_donor", v, sizeof v), "(nil)");
    assert_string_equal(config_of(fx, "limit.district.max", v, sizeof v), "3");
    assert_string_equal(config_of(fx, "limit.commune.max", v, sizeof v),
                        "(nil)");
    fx_free(fx);

    fx = rules_fx(RULES_SO_REL);
    fx_conf(fx, "rules", "threshold", "7");
    fx_sync(fx);
    assert_string_equal(config_of(fx, "threshold", v, sizeof v), "7");
    fx_free(fx);
}

static void test_config_refused(void **state)
{
    (void)state;
    static const char *const bad[][3] = {
        {"treshold", "7",
         "[plugin.rules] has no key \"treshold\" (known: "
         "fail_donor, fail_tick, threshold, limit.*.max)"},
        {"threshold", "7.5",
         "[plugin.rules] threshold: must be an integer, got '7.5'"},
        {"limit.a.b.max", "1", "[plugin.rules] has no key \"limit.a.b.max\""},
        {"limit..max", "1", "[plugin.rules] has no key \"limit..max\""},
    };
    for (size_t i = 0; i < FX_NELEMS(bad); i++) {
        struct fx *fx = rules_fx(RULES_SO_REL);
        char err[512] = "";
        fx_conf(fx, "rules", bad[i][0], bad[i][1]);
        fx_commit(fx);
        assert_int_equal(fx_host_open(fx, err, sizeof err), POVTRACK_ECONFIG);
        if (strstr(err, bad[i][2]) == NULL)
            fail_msg("%s = %s: \"%s\" does not say \"%s\"", bad[i][0],
                     bad[i][1], err, bad[i][2]);
        fx_free(fx);
    }
}

/* A plugin without a map (legacy.so, built before maps) takes any key; a
 * map with a default not of its type is the plugin's bug, refused at load
 * as such (not as the operator's error). */
static void test_config_without_map_and_bad_map(void **state)
{
    (void)state;
    struct fx *fx = fx_new("legacy");
    char err[512] = "";
    fx_conf(fx, "legacy", "path", LEGACY_SO_REL);
    fx_conf(fx, "legacy", "anything", "goes");
    fx_unit(fx, "60", NULL, EV_LEVEL_PROVINCE);
    fx_commit(fx);
    assert_int_equal(fx_host_open(fx, err, sizeof err), 0);
    fx_free(fx);

    fx = rules_fx(RULES_BAD_SO_REL);
    fx_commit(fx);
    assert_int_equal(fx_host_open(fx, err, sizeof err), POVTRACK_EPLUGIN);
    assert_non_null(strstr(err, "plugin rules: its config map entry "
                                "\"threshold\" has a default not of its "
                                "type (a bug of the plugin)"));
    fx_free(fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_has_no_state),
        cmocka_unit_test(test_query_is_read_only),
        cmocka_unit_test(test_failed_apply_rolls_back),
        cmocka_unit_test(test_failed_tick_rolls_back),
        cmocka_unit_test(test_config_defaults_and_families),
        cmocka_unit_test(test_config_refused),
        cmocka_unit_test(test_config_without_map_and_bad_map),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
