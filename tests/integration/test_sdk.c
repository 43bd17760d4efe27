/*
 * test_sdk.c - the plugin SDK against the real povtrackd.
 *
 * test_config_key_typo_stops_daemon: a key of [plugin.poverty] that the
 * poverty plugin's config map does not list ("taget_min_pp") stops
 * povtrackd at start, exit status 1, with a message naming the file, the
 * section and the key; so does a value not of the key's type.  (Before
 * config maps, every key was handed to the plugin and a misspelt one was
 * silently ignored.)
 *
 * test_example_plugin: examples/plugin-relocation-count, built from the
 * example's own source with nothing but the public headers, loaded with
 * [plugin.relocation_count] path = ... and threshold = 3: relocations
 * into communes of district 593 count under 593 (and one into the
 * province under the province), the third raises the warning
 * relocation_count.above_threshold for 593, and after a rebuild of the
 * plugin the answer is the same and the alert is still there once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <msgpack.h>

#include "daemon.h"

#define TIMEOUT_MS 20000
#define AT_2024 INT64_C(1717200000) /* 2024-06-01 */

/* Write a config file into d's directory: [daemon] with the endpoints and
 * plugins, then extra. */
static void write_config(struct td *d, const char *plugins, const char *extra)
{
    snprintf(d->config, sizeof d->config, "%s/povtrackd.ini", d->dir);
    FILE *f = fopen(d->config, "w");
    assert_non_null(f);
    fprintf(f, "[daemon]\nplugins = %s\n%s", plugins, extra);
    assert_int_equal(fclose(f), 0);
}

/* povtrackd with d's config file must refuse to start; what it said. */
static void assert_refused(struct td *d, char *out, size_t cap)
{
    int status = td_start_refused(d, (const char *[]){"-c", d->config, NULL},
                                  out, cap, TIMEOUT_MS);
    if (status != 1)
        fail_msg("povtrackd exited with %d, not 1: %s", status, out);
}

static void assert_contains(const char *s, const char *part)
{
    if (strstr(s, part) == NULL)
        fail_msg("\"%s\" not found in: %s", part, s);
}

static void test_config_key_typo_stops_daemon(void **state)
{
    struct td *d = *state;
    char out[8192], want[512];
    write_config(d, "poverty fund", "[plugin.poverty]\ntaget_min_pp = 1.0\n");
    assert_refused(d, out, sizeof out);
    snprintf(want, sizeof want,
             "%s: [plugin.poverty] has no key \"taget_min_pp\" (known: "
             "target_min_pp, target_max_pp",
             d->config);
    assert_contains(out, want);
    assert_contains(out, "refuses the configuration");

    write_config(d, "poverty fund", "[plugin.fund]\nidle_days = soon\n");
    assert_refused(d, out, sizeof out);
    snprintf(want, sizeof want,
             "%s: [plugin.fund] idle_days: must be an integer, got 'soon'",
             d->config);
    assert_contains(out, want);
}

/* ---- events ---- */

/* Pack one event whose data fields are all strings: data holds ndata
 * key, value pairs; a NULL value is nil; hh NULL: no household. */
static void pack_event(msgpack_packer *pk, const char *id, const char *type,
                       int64_t at, const char *unit, const char *hh,
                       const char *const *data, size_t ndata)
{
    td_pack_event_head(pk, id, type, at, unit, hh);
    msgpack_pack_map(pk, ndata);
    for (size_t i = 0; i < ndata; i++) {
        td_pack_cstr(pk, data[2 * i]);
        if (data[2 * i + 1] != NULL)
            td_pack_cstr(pk, data[2 * i + 1]);
        else
            msgpack_pack_nil(pk);
    }
}

static void pack_unit(msgpack_packer *pk, const char *code, const char *parent,
                      const char *level)
{
    char id[32];
    snprintf(id, sizeof id, "u-%s", code);
    const char *data[] = {"name", code, "parent", parent, "level", level};
    pack_event(pk, id, "unit.defined", AT_2024 - 86400, code, NULL, data, 3);
}

/* relocation.completed of household hh into unit, in 2024. */
static void pack_relocation(msgpack_packer *pk, const char *hh,
                            const char *unit)
{
    char id[32];
    snprintf(id, sizeof id, "rl-%s", hh);
    const char *data[] = {"from", "22936", "reason", "landslide"};
    pack_event(pk, id, "relocation.completed", AT_2024, unit, hh, data, 2);
}

/* {"unit": unit, "year": 2024} once seq is applied: "relocations". */
static uint64_t relocations(struct td *d, const char *unit, uint64_t seq)
{
    msgpack_sbuffer q;
    msgpack_sbuffer_init(&q);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &q, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2);
    td_pack_cstr(&pk, "unit");
    td_pack_cstr(&pk, unit);
    td_pack_cstr(&pk, "year");
    msgpack_pack_int(&pk, 2024);
    char why[256];
    size_t len;
    char *res = td_query_packed(d, "relocation_count", q.data, q.size, seq,
                                TIMEOUT_MS, &len, why, sizeof why);
    msgpack_sbuffer_destroy(&q);
    if (res == NULL)
        fail_msg("relocation_count %s: %s", unit, why);
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t off = 0;
    assert_int_equal(msgpack_unpack_next(&up, res, len, &off),
                     MSGPACK_UNPACK_SUCCESS);
    const msgpack_object *n = td_get(&up.data, "relocations");
    assert_non_null(n);
    assert_true(td_str_eq(td_get(&up.data, "unit"), unit));
    uint64_t v = n->via.u64;
    msgpack_unpacked_destroy(&up);
    free(res);
    return v;
}

/* The stored alerts with code for unit: how many, and (the last one's)
 * severity must be sev. */
static size_t alerts_for(struct td *d, const char *code, const char *unit,
                         const char *sev)
{
    /* {"op": "alerts", "since": 0} */
    static const unsigned char req[] = {0x82, 0xa2, 'o', 'p', 0xa6, 'a',
                                        'l',  'e',  'r', 't', 's',  0xa5,
                                        's',  'i',  'n', 'c', 'e',  0x00};
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    assert_int_equal(td_request_raw(d, req, sizeof req, &up, TIMEOUT_MS), 0);
    const msgpack_object *list = td_get(&up.data, "alerts");
    assert_true(list != NULL && list->type == MSGPACK_OBJECT_ARRAY);
    size_t n = 0;
    for (uint32_t i = 0; i < list->via.array.size; i++) {
        const msgpack_object *a = &list->via.array.ptr[i];
        if (!td_str_eq(td_get(a, "code"), code))
            continue;
        assert_true(td_str_eq(td_get(a, "unit"), unit));
        assert_true(td_str_eq(td_get(a, "severity"), sev));
        n++;
    }
    msgpack_unpacked_destroy(&up);
    return n;
}

static void test_example_plugin(void **state)
{
    struct td *d = *state;
    char extra[1024];
    snprintf(extra, sizeof extra,
             "[plugin.relocation_count]\npath = %s/relocation_count.so\n"
             "threshold = 3\n",
             POVTRACK_TEST_PLUGIN_DIR);
    write_config(d, "relocation_count", extra);
    assert_int_equal(td_start(d, (const char *[]){"-c", d->config, NULL}), 0);

    /* 60 > 593 > 22921, 22924, 22936; four relocations into 593's
     * communes, one into the province itself. */
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 10);
    pack_unit(&pk, "60", NULL, "province");
    pack_unit(&pk, "593", "60", "district");
    pack_unit(&pk, "22921", "593", "commune");
    pack_unit(&pk, "22924", "593", "commune");
    pack_unit(&pk, "22936", "593", "commune");
    pack_relocation(&pk, "h1", "22921");
    pack_relocation(&pk, "h2", "22924");
    pack_relocation(&pk, "h3", "22921");
    pack_relocation(&pk, "h4", "22924");
    pack_relocation(&pk, "h5", "60");
    assert_int_equal(td_ingest_ok(d, &sb, 10, TIMEOUT_MS), 0);
    msgpack_sbuffer_destroy(&sb);

    assert_int_equal(relocations(d, "593", 10), 4);
    assert_int_equal(relocations(d, "60", 10), 1);
    assert_int_equal(relocations(d, "22921", 10), 0); /* not a district */
    assert_int_equal(
        alerts_for(d, "relocation_count.above_threshold", "593", "warning"), 1);

    /* Rebuilt from the log: the same answer, the alert rewritten under
     * its key (still one). */
    assert_int_equal(td_plugin_op(d, "rebuild", "relocation_count", TIMEOUT_MS),
                     0);
    assert_int_equal(relocations(d, "593", 10), 4);
    assert_int_equal(relocations(d, "60", 10), 1);
    assert_int_equal(
        alerts_for(d, "relocation_count.above_threshold", "593", "warning"), 1);
    assert_int_equal(td_stop(d), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_config_key_typo_stops_daemon,
                                        td_setup, td_teardown),
        cmocka_unit_test_setup_teardown(test_example_plugin, td_setup,
                                        td_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
