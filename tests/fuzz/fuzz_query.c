/*
 * fuzz_query.c - libFuzzer target: one query request frame, answered by the
 * real plugin host with the six built-in plugins loaded.
 *
 * LLVMFuzzerInitialize builds a data directory, $TMPDIR/fuzz-query-*
 * (/tmp without TMPDIR), with a small log that touches every event type (so
 * every plugin has state to answer from and the tick alerts exist), opens the
 * host on it and catches it up.  Each input then goes the way pt_host_loop.c
 * takes a request: size limit, non-allocating pre-check with the default
 * limits, unpack, a map or nothing, pt_host_request.
 *
 * Checked beyond crashes: pt_host_request reports no internal error and no
 * reply blames storage (the fixture's storage is healthy, so such a reply
 * means a request reached LMDB with something it cannot take); the reply is
 * exactly one msgpack map, so a count packed ahead of its elements cannot
 * disagree with them, and passes povtrack_proto_check_strict, so a strict
 * decoder (every str valid UTF-8) reads it whatever the request quoted; and a
 * plugin's result names the unit exactly as asked (README: "unit | as
 * asked"), so no code aliases another.  A request the pre-check refuses
 * gets the host loop's refusal, which must be as readable.
 */
#define _XOPEN_SOURCE 700 /* nftw */
#include <ftw.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include <povtrack/protocol.h>

#include "ev_event.h"
#include "pt_config.h"
#include "pt_host.h"
/* For REQUEST_MAX: the target applies the host loop's own size limit. */
#include "pt_host_internal.h"
#include "pt_log.h"
#include "st_log.h"

/* The wall clock of the fixture's one tick: 2026-01-01T00:00:00Z, after
 * every due date and deadline of the seed log, so tick alerts are raised. */
#define FUZZ_NOW INT64_C(1767225600)

#define AT_2024 INT64_C(1704042000) /* 2024-01-01 00:00 UTC+7 */
#define DAY INT64_C(86400)
#define JUL_2025 INT64_C(1751302800) /* 2025-07-01 00:00 UTC+7 */

/* The predecessors of the merger in the seed log. */
static const msgpack_object merged[2] = {
    {.type = MSGPACK_OBJECT_STR, .via.str = {.size = 5, .ptr = "22870"}},
    {.type = MSGPACK_OBJECT_STR, .via.str = {.size = 5, .ptr = "22900"}},
};

/* The plugin host, its configuration and its data directory.  The one
 * static fixture of this harness: built in LLVMFuzzerInitialize, torn down
 * by atexit, since libFuzzer gives a target no other place for state that
 * outlives an input. */
static struct {
    char dir[PATH_MAX];
    struct pt_config *cfg;
    struct pt_host *host;
    struct povtrack_proto_limits limits;
} fixture;

#define S(lit)                                                                 \
    {                                                                          \
        lit, sizeof(lit) - 1                                                   \
    }

/* The seed log: four units in two districts, then at least one event of
 * every type, with a late report, an overdue one, an overdue pledge, an
 * idle balance and a relocation without full support, so that queries,
 * lists and alerts all have something to return. */
static const struct ev_event seed[] = {
    {.type = EV_UNIT_DEFINED,
     .id = S("u-60"),
     .at = AT_2024,
     .unit = S("60"),
     .data = {.name = S("Bình Thuận"), .level = EV_LEVEL_PROVINCE}},
    {.type = EV_UNIT_DEFINED,
     .id = S("u-593"),
     .at = AT_2024,
     .unit = S("593"),
     .data = {.name = S("Phan Thiết"),
              .parent = S("60"),
              .level = EV_LEVEL_DISTRICT}},
    {.type = EV_UNIT_DEFINED,
     .id = S("u-594"),
     .at = AT_2024,
     .unit = S("594"),
     .data = {.name = S("La Gi"),
              .parent = S("60"),
              .level = EV_LEVEL_DISTRICT}},
    {.type = EV_UNIT_DEFINED,
     .id = S("u-22870"),
     .at = AT_2024,
     .unit = S("22870"),
     .data = {.name = S("Mũi Né"),
              .parent = S("593"),
              .level = EV_LEVEL_COMMUNE}},
    {.type = EV_UNIT_DEFINED,
     .id = S("u-22900"),
     .at = AT_2024,
     .unit = S("22900"),
     .data = {.name = S("Tân An"),
              .parent = S("594"),
              .level = EV_LEVEL_COMMUNE}},
    {.type = EV_UNIT_HOUSEHOLDS,
     .id = S("hh-593-2024"),
     .at = AT_2024,
     .unit = S("593"),
     .data = {.year = 2024, .households = 1000}},
    {.type = EV_UNIT_HOUSEHOLDS,
     .id = S("hh-593-2025"),
     .at = AT_2024,
     .unit = S("593"),
     .data = {.year = 2025, .households = 1010}},
    {.type = EV_UNIT_HOUSEHOLDS,
     .id = S("hh-594-2025"),
     .at = AT_2024,
     .unit = S("594"),
     .data = {.year = 2025, .households = 800}},
    {.type = EV_HOUSEHOLD_STATUS,
     .id = S("st-1-2024"),
     .at = AT_2024,
     .unit = S("22870"),
     .household = S("hh-1"),
     .data = {.year = 2024,
              .status = EV_STATUS_POOR,
              .decision = S("QĐ-12/2024")}},
    {.type = EV_HOUSEHOLD_STATUS,
     .id = S("st-1-2025"),
     .at = AT_2024,
     .unit = S("22870"),
     .household = S("hh-1"),
     .data = {.year = 2025, .status = EV_STATUS_NEAR_POOR}},
    {.type = EV_HOUSEHOLD_STATUS,
     .id = S("st-2-2024"),
     .at = AT_2024,
     .unit = S("22870"),
     .household = S("hh-2"),
     .data = {.year = 2024, .status = EV_STATUS_NEAR_POOR}},
    {.type = EV_HOUSEHOLD_STATUS,
     .id = S("st-2-2025"),
     .at = AT_2024,
     .unit = S("22870"),
     .household = S("hh-2"),
     .data = {.year = 2025, .status = EV_STATUS_POOR}},
    {.type = EV_HOUSEHOLD_STATUS,
     .id = S("st-3-2025"),
     .at = AT_2024,
     .unit = S("22900"),
     .household = S("hh-3"),
     .data = {.year = 2025, .status = EV_STATUS_AVERAGE}},
    {.type = EV_HOUSEHOLD_ASSESSED,
     .id = S("as-1-2024"),
     .at = AT_2024,
     .unit = S("22870"),
     .household = S("hh-1"),
     .data = {.year = 2024,
              .area = EV_AREA_RURAL,
              .members = 4,
              .income = 1200000,
              .deprived = 1u << EV_IND_EMPLOYMENT | 1u << EV_IND_WATER |
                          1u << EV_IND_LATRINE | 1u << EV_IND_TELECOM}},
    {.type = EV_HOUSEHOLD_ASSESSED,
     .id = S("as-3-2025"),
     .at = AT_2024,
     .unit = S("22900"),
     .household = S("hh-3"),
     .data = {.year = 2025,
              .area = EV_AREA_URBAN,
              .members = 2,
              .income = 1500000,
              .deprived = 1u << EV_IND_HOUSING_AREA}},
    {.type = EV_REVIEW_CLOSED,
     .id = S("rc-593-2024"),
     .at = AT_2024 + DAY,
     .unit = S("593"),
     .data = {.year = 2024}},
    {.type = EV_REVIEW_CLOSED,
     .id = S("rc-60-2025"),
     .at = AT_2024 + DAY,
     .unit = S("60"),
     .data = {.year = 2025}},
    {.type = EV_DONATION_PLEDGED,
     .id = S("pl-1"),
     .at = AT_2024,
     .unit = S("593"),
     .data = {.pledge = S("P-1"),
              .amount = 200000000,
              .donor = S("Công ty A"),
              .due = AT_2024 + 150 * DAY}},
    {.type = EV_DONATION_RECEIVED,
     .id = S("dr-1"),
     .at = AT_2024 + 2 * DAY,
     .unit = S("593"),
     .data = {.amount = 150000000,
              .donor = S("Công ty A"),
              .donor_kind = EV_DONOR_BUSINESS,
              .level = EV_LEVEL_DISTRICT,
              .pledge = S("P-1")}},
    {.type = EV_DONATION_RECEIVED,
     .id = S("dr-2"),
     .at = AT_2024 + 3 * DAY,
     .unit = S("60"),
     .data = {.amount = 600000000,
              .donor = S("Ẩn danh"),
              .donor_kind = EV_DONOR_ANONYMOUS,
              .level = EV_LEVEL_PROVINCE,
              .has_in_kind = true,
              .in_kind = false}},
    {.type = EV_FUND_DISBURSED,
     .id = S("fd-1"),
     .at = AT_2024 + 4 * DAY,
     .unit = S("22870"),
     .household = S("hh-1"),
     .data = {.amount = 5000000,
              .has_amount = true,
              .purpose = EV_PURPOSE_HOUSING,
              .level = EV_LEVEL_COMMUNE}},
    {.type = EV_FUND_DISBURSED,
     .id = S("fd-2"),
     .at = AT_2024 + 5 * DAY,
     .unit = S("593"),
     .data = {.amount = 1000000,
              .has_amount = true,
              .purpose = EV_PURPOSE_TET,
              .level = EV_LEVEL_DISTRICT}},
    {.type = EV_RELOCATION_COMPLETED,
     .id = S("rl-4"),
     .at = AT_2024 + 60 * DAY,
     .unit = S("22870"),
     .household = S("hh-4"),
     .data = {.from = S("22900"), .reason = EV_REASON_LANDSLIDE}},
    {.type = EV_RELOCATION_SUPPORT,
     .id = S("rs-4-land"),
     .at = AT_2024 + 61 * DAY,
     .unit = S("22870"),
     .household = S("hh-4"),
     .data = {.item = EV_ITEM_LAND, .amount = 10000000, .has_amount = true}},
    {.type = EV_RELOCATION_SUPPORT,
     .id = S("rs-4-housing"),
     .at = AT_2024 + 62 * DAY,
     .unit = S("22870"),
     .household = S("hh-4"),
     .data = {.item = EV_ITEM_HOUSING}},
    {.type = EV_CREDIT_DISBURSED,
     .id = S("cd-1"),
     .at = AT_2024 + 10 * DAY,
     .unit = S("22870"),
     .household = S("hh-1"),
     .data = {.loan = S("L-1"),
              .program = S("hộ nghèo"),
              .amount = 50000000,
              .has_amount = true}},
    {.type = EV_CREDIT_REPAID,
     .id = S("cr-1"),
     .at = AT_2024 + 200 * DAY,
     .unit = S("22870"),
     .household = S("hh-1"),
     .data = {.loan = S("L-1"), .amount = 10000000, .has_amount = true}},
    {.type = EV_REPORT_DUE,
     .id = S("rd-1"),
     .at = AT_2024,
     .unit = S("60"),
     .data = {.org = S("UBND-60"),
              .report = S("bc-2024"),
              .due = AT_2024 + 340 * DAY}},
    {.type = EV_REPORT_SUBMITTED,
     .id = S("rsub-1"),
     .at = AT_2024 + 345 * DAY,
     .unit = S("60"),
     .data = {.org = S("UBND-60"), .report = S("bc-2024")}},
    {.type = EV_REPORT_DUE,
     .id = S("rd-2"),
     .at = AT_2024,
     .unit = S("593"),
     .data = {.org = S("UBND-593"),
              .report = S("bc-2025"),
              .due = AT_2024 + 500 * DAY}},
    /* A move, and 22900 merged into 22870 on 2025-07-01: as_of queries
     * regroup, and queries of 22900 after it are refused. */
    {.type = EV_HOUSEHOLD_MOVED,
     .id = S("mv-2"),
     .at = AT_2024 + 20 * DAY,
     .unit = S("22900"),
     .household = S("hh-2"),
     .data = {.from = S("22870")}},
    {.type = EV_UNIT_CHANGED,
     .id = S("uc-merge"),
     .at = AT_2024 + 540 * DAY,
     .unit = S("22870"),
     .data = {.change = EV_CHANGE_MERGE,
              .has_effective = true,
              .effective = JUL_2025,
              .predecessors = {merged, 2},
              .successor = S("22870")}},
};

#define NSEED (sizeof seed / sizeof seed[0])

static void fail(const char *what, const char *why)
{
    fprintf(stderr, "fuzz_query: %s: %s\n", what, why);
    exit(1);
}

/* Append the seed log in one batch, the way ingest does. */
static void write_seed_log(void)
{
    char path[PATH_MAX + 8], err[512] = "";
    snprintf(path, sizeof path, "%s/log", fixture.dir);
    struct st_log *log = NULL;
    if (st_log_open(path, 0, &log, err, sizeof err) != 0)
        fail("st_log_open", err);
    struct st_item items[NSEED];
    msgpack_sbuffer enc[NSEED];
    memset(items, 0, sizeof items);
    for (size_t i = 0; i < NSEED; i++) {
        msgpack_sbuffer_init(&enc[i]);
        msgpack_packer pk;
        msgpack_packer_init(&pk, &enc[i], msgpack_sbuffer_write);
        if (ev_encode(&seed[i], &pk) != POVTRACK_OK)
            fail("seed event does not encode", seed[i].id.ptr);
        items[i].ev = &seed[i];
        items[i].bytes = enc[i].data;
        items[i].len = enc[i].size;
        items[i].publisher.ptr = "fuzz";
        items[i].publisher.len = 4;
    }
    int rc = st_log_append_batch(log, FUZZ_NOW * 1000000, items, NSEED,
                                 st_check_refs, NULL);
    if (rc != 0)
        fail("st_log_append_batch", st_strerror(rc));
    for (size_t i = 0; i < NSEED; i++) {
        if (items[i].status != ST_ITEM_OK)
            fail(seed[i].id.ptr, items[i].error);
        msgpack_sbuffer_destroy(&enc[i]);
    }
    st_log_close(log);
}

static int rm_entry(const char *path, const struct stat *sb, int flag,
                    struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    if (remove(path) != 0)
        perror(path);
    return 0; /* remove what can be removed */
}

static void fixture_free(void)
{
    if (fixture.host != NULL)
        pt_host_close(fixture.host);
    fixture.host = NULL;
    free(fixture.cfg);
    fixture.cfg = NULL;
    if (fixture.dir[0] != '\0')
        nftw(fixture.dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
    fixture.dir[0] = '\0';
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    char err[512] = "";
    /* $TMPDIR lets fuzz.sh keep the data directory in its build tree and
     * remove it even when a crash skips the atexit cleanup. */
    const char *tmp = getenv("TMPDIR");
    if (tmp == NULL || tmp[0] == '\0')
        tmp = "/tmp";
    if (snprintf(fixture.dir, sizeof fixture.dir, "%s/fuzz-query-XXXXXX",
                 tmp) >= (int)sizeof fixture.dir)
        fail("TMPDIR", "path too long");
    if (mkdtemp(fixture.dir) == NULL) {
        perror("fuzz_query: mkdtemp");
        exit(1);
    }
    if (atexit(fixture_free) != 0)
        fail("atexit", "cannot register the cleanup");
    write_seed_log();

    fixture.cfg = calloc(1, sizeof *fixture.cfg); /* large: off the stack */
    if (fixture.cfg == NULL)
        fail("calloc", "out of memory");
    struct pt_config *cfg = fixture.cfg;
    if (pt_config_defaults(cfg) != 0)
        fail("pt_config_defaults", "failed");
    snprintf(cfg->data_dir, sizeof cfg->data_dir, "%s", fixture.dir);
    snprintf(cfg->plugin_dir, sizeof cfg->plugin_dir, "%s",
             POVTRACK_PLUGIN_DIR);
    cfg->log_level = PT_LOG_ERROR; /* keep the fuzzer's output readable */
    if (pt_config_resolve(cfg, err, sizeof err) != 0)
        fail("pt_config_resolve", err);
    if (pt_host_open(cfg, &fixture.host, err, sizeof err) != 0)
        fail("pt_host_open", err);
    if (pt_host_catch_up_all(fixture.host) != 0)
        fail("pt_host_catch_up_all", "failed");
    if (pt_host_tick(fixture.host, FUZZ_NOW) != 0)
        fail("pt_host_tick", "failed");
    if (pt_host_applied_seq(fixture.host) != NSEED)
        fail("the seed log", "not applied by every plugin");

    /* The host loop's limits, as built in pt_host_loop.c. */
    fixture.limits.depth_max = cfg->limits.depth_max;
    fixture.limits.string_max = cfg->limits.string_max;
    fixture.limits.container_max = cfg->limits.container_max;
    fixture.limits.top_max = cfg->limits.container_max;
    return 0;
}

static void die(const char *what)
{
    fprintf(stderr, "fuzz_query: invariant broken: %s\n", what);
    abort();
}

static const msgpack_object *get(const msgpack_object *map, const char *key)
{
    size_t n = strlen(key);
    if (map->type != MSGPACK_OBJECT_MAP)
        return NULL;
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
            memcmp(k->via.str.ptr, key, n) == 0)
            return &map->via.map.ptr[i].val;
    }
    return NULL;
}

/* Does string s start with a, followed by b? */
static bool starts_with(const msgpack_object *s, const char *a, size_t alen,
                        const char *b)
{
    size_t blen = strlen(b);
    return s->via.str.size >= alen + blen &&
           (alen == 0 || memcmp(s->via.str.ptr, a, alen) == 0) &&
           memcmp(s->via.str.ptr + alen, b, blen) == 0;
}

static bool same_str(const msgpack_object *a, const msgpack_object *b)
{
    return a->type == MSGPACK_OBJECT_STR && b->type == MSGPACK_OBJECT_STR &&
           a->via.str.size == b->via.str.size &&
           (a->via.str.size == 0 ||
            memcmp(a->via.str.ptr, b->via.str.ptr, a->via.str.size) == 0);
}

/* Plugins whose result names the unit as asked (README); deadlines'
 * "unit" is the report's own. */
static bool echoes_unit(const msgpack_object *plugin)
{
    static const char *const names[] = {"poverty", "fund", "standard",
                                        "relocation", "credit"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (plugin->type == MSGPACK_OBJECT_STR &&
            plugin->via.str.size == strlen(names[i]) &&
            memcmp(plugin->via.str.ptr, names[i], plugin->via.str.size) == 0)
            return true;
    return false;
}

/* What a reply to req must be, whatever req holds. */
static void check_reply(const msgpack_object *req, const msgpack_object *rep)
{
    const msgpack_object *ok = get(rep, "ok");
    if (ok == NULL || ok->type != MSGPACK_OBJECT_BOOLEAN)
        die("the reply has no \"ok\"");
    if (!ok->via.boolean) {
        const msgpack_object *e = get(rep, "error");
        if (e == NULL || e->type != MSGPACK_OBJECT_STR || e->via.str.size == 0)
            die("a refusal without an error message");
        /* pt_request.c's prefixes for LMDB and log failures, and a
         * plugin's own ("NAME: state: ...", "NAME: internal error..."); only
         * prefixes, as the rest of a message may quote the request. */
        if (starts_with(e, "", 0, "state: ") || starts_with(e, "", 0, "log: "))
            die("a storage error on a healthy fixture");
        const msgpack_object *pl = get(req, "plugin");
        if (pl != NULL && pl->type == MSGPACK_OBJECT_STR &&
            (starts_with(e, pl->via.str.ptr, pl->via.str.size, ": state: ") ||
             starts_with(e, pl->via.str.ptr, pl->via.str.size,
                         ": internal error")))
            die("a plugin's storage or internal error on a healthy fixture");
        return;
    }
    const msgpack_object *pl = get(req, "plugin");
    const msgpack_object *q = get(req, "q");
    if (pl == NULL || !echoes_unit(pl) || q == NULL)
        return;
    const msgpack_object *asked = get(q, "unit");
    const msgpack_object *res = get(rep, "result");
    const msgpack_object *unit = res != NULL ? get(res, "unit") : NULL;
    if (asked != NULL && unit != NULL && asked->type == MSGPACK_OBJECT_STR &&
        !same_str(asked, unit))
        die("the result names another unit than the one asked");
}

/* What a strict msgpack decoder reads: one object, every str UTF-8. */
static void check_strict(const msgpack_sbuffer *sb)
{
    char err[POVTRACK_PROTO_ERROR_MAX];
    if (povtrack_proto_check_strict(sb->data, sb->size, err, sizeof err) != 0) {
        fprintf(stderr, "fuzz_query: %s\n", err);
        die("a strict msgpack decoder refuses the reply");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char why[POVTRACK_PROTO_ERROR_MAX];
    if (size > REQUEST_MAX)
        return 0;
    if (povtrack_proto_precheck(data, size, &fixture.limits, why, sizeof why) !=
        0) {
        /* pt_host_loop.c's refusal, which quotes the pre-check. */
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        msgpack_packer pk;
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        pt_pack_error(&pk, "request: %s", why);
        check_strict(&sb);
        msgpack_sbuffer_destroy(&sb);
        return 0;
    }
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t off = 0;
    if (msgpack_unpack_next(&up, (const char *)data, size, &off) !=
        MSGPACK_UNPACK_SUCCESS)
        die("pre-checked request does not unpack");
    if (up.data.type != MSGPACK_OBJECT_MAP) {
        msgpack_unpacked_destroy(&up);
        return 0;
    }

    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    if (pt_host_request(fixture.host, &up.data, &pk) != 0)
        die("pt_host_request: internal error on a healthy fixture");
    check_strict(&sb);

    /* The reply goes to a client as it is: one well-formed map. */
    msgpack_unpacked reply;
    msgpack_unpacked_init(&reply);
    off = 0;
    if (msgpack_unpack_next(&reply, sb.data, sb.size, &off) !=
            MSGPACK_UNPACK_SUCCESS ||
        off != sb.size || reply.data.type != MSGPACK_OBJECT_MAP)
        die("the reply is not exactly one msgpack map");
    check_reply(&up.data, &reply.data);
    msgpack_unpacked_destroy(&reply);
    msgpack_sbuffer_destroy(&sb);
    msgpack_unpacked_destroy(&up);
    return 0;
}
