/*
 * test_registry.c - the publisher registry (core/pt_registry.h) and the
 * configuration's security rules (pt_config_check_security, [limits]).
 *
 * Registry files are written to a temporary directory and read back with
 * the real parser; rights are checked against a small in-memory unit tree
 * (province 60 > district 593 > commune 22924; district 594).
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
#include <zmq.h>

#include "pt_config.h"
#include "pt_registry.h"

struct fixture {
    char dir[64];
    char path[128];
    char key_a[41], key_b[41];
    char err[512];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    char secret[41];
    if (f == NULL)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/povtrack-registry-XXXXXX");
    if (mkdtemp(f->dir) == NULL || zmq_curve_keypair(f->key_a, secret) != 0 ||
        zmq_curve_keypair(f->key_b, secret) != 0) {
        free(f);
        return -1;
    }
    snprintf(f->path, sizeof f->path, "%s/publishers.ini", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    unlink(f->path);
    rmdir(f->dir);
    free(f);
    return 0;
}

/* Write text with every "A" and "B" line value standing for key_a/key_b. */
static void write_registry(struct fixture *f, const char *fmt, ...)
{
    char text[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    FILE *out = fopen(f->path, "w");
    assert_non_null(out);
    assert_true(fputs(text, out) >= 0);
    assert_int_equal(fclose(out), 0);
}

static struct pt_registry *load_ok(struct fixture *f)
{
    struct pt_registry *r = NULL;
    if (pt_registry_load(f->path, &r, f->err, sizeof f->err) != 0)
        fail_msg("registry refused: %s", f->err);
    return r;
}

static void expect_error(struct fixture *f, const char *want)
{
    struct pt_registry *r = NULL;
    assert_int_equal(pt_registry_load(f->path, &r, f->err, sizeof f->err),
                     POVTRACK_ECONFIG);
    assert_null(r);
    if (strstr(f->err, want) == NULL)
        fail_msg("error \"%s\" does not contain \"%s\"", f->err, want);
}

/* ---- the unit tree ---- */

/* 2025-07-01 00:00 UTC+7: when 23231 moved from La Gi to Phan Thiet. */
#define MOVED INT64_C(1751302800)
#define DAY INT64_C(86400)

/* The tree as a registry of histories: provinces 60 and 68, districts 593
 * and 594 of 60, communes 22924 and 22925 of 593 and 23232 of 594, each one
 * span open at both ends; and 23231, a commune of 594 until MOVED and of
 * 593 from then on. */
static int history(void *arg, struct ev_str code, struct ev_history *out)
{
    static const struct {
        const char *code, *parent;
        int64_t from, to;
    } tree[] = {{"60", NULL, EV_TIME_MIN, EV_TIME_MAX},
                {"68", NULL, EV_TIME_MIN, EV_TIME_MAX},
                {"593", "60", EV_TIME_MIN, EV_TIME_MAX},
                {"594", "60", EV_TIME_MIN, EV_TIME_MAX},
                {"22924", "593", EV_TIME_MIN, EV_TIME_MAX},
                {"22925", "593", EV_TIME_MIN, EV_TIME_MAX},
                {"23232", "594", EV_TIME_MIN, EV_TIME_MAX},
                {"23231", "594", EV_TIME_MIN, MOVED},
                {"23231", "593", MOVED, EV_TIME_MAX}};
    (void)arg;
    memset(out, 0, sizeof *out);
    out->code = code;
    for (size_t i = 0; i < sizeof tree / sizeof tree[0]; i++) {
        if (!ev_str_eq(code, tree[i].code))
            continue;
        struct ev_span *s = &out->span[out->n++];
        s->from = tree[i].from;
        s->to = tree[i].to;
        if (tree[i].parent != NULL) {
            s->parent.ptr = tree[i].parent;
            s->parent.len = (uint32_t)strlen(tree[i].parent);
        }
    }
    return out->n > 0 ? POVTRACK_OK : POVTRACK_ENOTFOUND;
}

static struct ev_str str(const char *s)
{
    struct ev_str v = {s, (uint32_t)strlen(s)};
    return v;
}

static int check_unit(const struct pt_publisher *p, enum ev_type t,
                      const char *unit, const char *parent, char *err,
                      size_t errlen)
{
    struct ev_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = t;
    ev.unit = str(unit);
    if (parent != NULL)
        ev.data.parent = str(parent);
    struct ev_registry reg = {NULL, history, NULL};
    return pt_publisher_check_unit(p, &ev, &reg, err, errlen);
}

/* A household.moved from one unit to another. */
static int check_move(const struct pt_publisher *p, const char *to,
                      const char *from, char *err, size_t errlen)
{
    struct ev_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = EV_HOUSEHOLD_MOVED;
    ev.unit = str(to);
    ev.data.from = str(from);
    struct ev_registry reg = {NULL, history, NULL};
    return pt_publisher_check_unit(p, &ev, &reg, err, errlen);
}

/* A unit.defined or unit.changed to check: unit, the parent it gives
 * (NULL: none), effective (0: none) and, for unit.changed, its kind,
 * predecessors and successor(s) (NULL-terminated). */
struct unit_event {
    enum ev_type type;
    const char *unit, *parent;
    int64_t effective;
    enum ev_change kind;
    const char *pred[4], *succ[4];
};

static struct ev_codes codes(msgpack_object *items, const char *const *list)
{
    struct ev_codes c = {items, 0};
    for (; c.n < 4 && list[c.n] != NULL; c.n++) {
        items[c.n].type = MSGPACK_OBJECT_STR;
        items[c.n].via.str.ptr = list[c.n];
        items[c.n].via.str.size = (uint32_t)strlen(list[c.n]);
    }
    return c;
}

static int check_unit_event(const struct pt_publisher *p,
                            const struct unit_event *u, char *err,
                            size_t errlen)
{
    struct ev_event ev;
    msgpack_object preds[4], succs[4];
    memset(&ev, 0, sizeof ev);
    ev.type = u->type;
    ev.at = MOVED + 300 * DAY;
    ev.unit = str(u->unit);
    if (u->parent != NULL)
        ev.data.parent = str(u->parent);
    ev.data.has_effective = u->effective != 0;
    ev.data.effective = u->effective;
    ev.data.change = u->kind;
    ev.data.predecessors = codes(preds, u->pred);
    if (u->kind == EV_CHANGE_MERGE)
        ev.data.successor = str(u->succ[0]);
    else if (u->kind == EV_CHANGE_SPLIT)
        ev.data.successors = codes(succs, u->succ);
    struct ev_registry reg = {NULL, history, NULL};
    err[0] = '\0';
    return pt_publisher_check_unit(p, &ev, &reg, err, errlen);
}

/* ---- tests ---- */

static void test_rights(void **state)
{
    struct fixture *f = *state;
    write_registry(f,
                   "# the Fatherland Front of district 593\n"
                   "[mttq-593]\n"
                   "key = %s\n"
                   "publish = donation.* fund.disbursed\n"
                   "units = 593\n"
                   "query = fund\n"
                   "alerts = yes\n"
                   "\n"
                   "[auditor]\n"
                   "key = %s\n"
                   "query = log\n",
                   f->key_a, f->key_b);
    struct pt_registry *r = load_ok(f);
    assert_int_equal(r->count, 2);

    uint8_t bin[32];
    assert_non_null(zmq_z85_decode(bin, f->key_a));
    const struct pt_publisher *p = pt_registry_find_key(r, bin);
    assert_non_null(p);
    assert_string_equal(p->name, "mttq-593");
    assert_ptr_equal(pt_registry_find_name(r, "mttq-593", 8), p);
    assert_null(pt_registry_find_name(r, "mttq-59", 7));

    char err[256];
    assert_int_equal(
        pt_publisher_check_type(p, EV_DONATION_RECEIVED, err, sizeof err), 0);
    assert_int_equal(
        pt_publisher_check_type(p, EV_DONATION_PLEDGED, err, sizeof err), 0);
    assert_int_equal(
        pt_publisher_check_type(p, EV_FUND_DISBURSED, err, sizeof err), 0);
    assert_int_equal(
        pt_publisher_check_type(p, EV_HOUSEHOLD_STATUS, err, sizeof err),
        POVTRACK_EINVALID);
    assert_string_equal(err,
                        "type: publisher \"mttq-593\" may not publish "
                        "household.status (its rights: publish = donation.* "
                        "fund.disbursed)");

    /* The district itself and the commune under it; not the neighbour, not
     * the province above. */
    assert_int_equal(
        check_unit(p, EV_DONATION_RECEIVED, "593", NULL, err, sizeof err),
        POVTRACK_OK);
    assert_int_equal(
        check_unit(p, EV_DONATION_RECEIVED, "22924", NULL, err, sizeof err),
        POVTRACK_OK);
    assert_int_equal(
        check_unit(p, EV_DONATION_RECEIVED, "594", NULL, err, sizeof err),
        POVTRACK_EINVALID);
    assert_string_equal(err, "unit: publisher \"mttq-593\" may not publish "
                             "for unit 594 (its rights: units = 593)");
    assert_int_equal(
        check_unit(p, EV_DONATION_RECEIVED, "60", NULL, err, sizeof err),
        POVTRACK_EINVALID);
    /* A household that moves needs the right over both units. */
    assert_int_equal(check_move(p, "22925", "22924", err, sizeof err),
                     POVTRACK_OK);
    assert_int_equal(check_move(p, "22924", "594", err, sizeof err),
                     POVTRACK_EINVALID);
    assert_string_equal(err, "data.from: publisher \"mttq-593\" may not "
                             "publish for unit 594 (its rights: units = "
                             "593)");
    assert_int_equal(check_move(p, "594", "22924", err, sizeof err),
                     POVTRACK_EINVALID);
    assert_string_equal(err, "unit: publisher \"mttq-593\" may not publish "
                             "for unit 594 (its rights: units = 593)");
    /* A commune being defined is placed by the parent it declares. */
    assert_int_equal(
        check_unit(p, EV_UNIT_DEFINED, "22925", "593", err, sizeof err),
        POVTRACK_OK);
    assert_int_equal(
        check_unit(p, EV_UNIT_DEFINED, "22990", "594", err, sizeof err),
        POVTRACK_EINVALID);

    assert_true(pt_publisher_may_query(p, "fund", 4));
    assert_false(pt_publisher_may_query(p, "poverty", 7));
    assert_false(pt_publisher_may_query(p, "log", 3));
    assert_true(pt_publisher_may_query_any(p));
    assert_true(pt_publisher_may_publish_any(p));

    const struct pt_publisher *a = pt_registry_find_name(r, "auditor", 7);
    assert_non_null(a);
    assert_false(pt_publisher_may_publish_any(a));
    assert_true(pt_publisher_may_query(a, "log", 3));
    assert_false(pt_publisher_may_query(a, "fund", 4));
    assert_false(a->alerts);
    assert_int_equal(
        pt_publisher_check_type(a, EV_DONATION_RECEIVED, err, sizeof err),
        POVTRACK_EINVALID);
    assert_non_null(strstr(err, "publish = nothing"));
    pt_registry_free(r);
}

/* Events that define, move, merge or end units need the right over every
 * unit they change, on the hierarchy of their date (issue 12). */
static void test_unit_rights(void **state)
{
#define D EV_UNIT_DEFINED
#define C EV_UNIT_CHANGED
    const int64_t later = MOVED + 30 * DAY, earlier = MOVED - 30 * DAY;
    /* who sends what; want: the refusal after "may not change unit ", NULL
     * when allowed. */
    const struct {
        const char *who;
        struct unit_event ev;
        const char *want;
    } cases[] = {
        /* The issue: unit.defined carrying 23232 of district 594 on under
         * 593, and 593 itself on under province 68. */
        {"mttq-593",
         {D, "23232", "593", later, 0, {0}, {0}},
         "594 (the current parent of 23232; its rights: units = 593)"},
        {"mttq-593",
         {D, "593", "68", later, 0, {0}, {0}},
         "68 (the new parent of 593; its rights: units = 593)"},
        /* Carrying 593 on renamed, under the same parent, changes 60. */
        {"mttq-593",
         {D, "593", "60", later, 0, {0}, {0}},
         "60 (the current parent of 593; its rights: units = 593)"},
        /* The province moves its communes, not into another province. */
        {"so-60", {D, "23232", "593", later, 0, {0}, {0}}, NULL},
        {"so-60",
         {D, "593", "68", later, 0, {0}, {0}},
         "68 (the new parent of 593; its rights: units = 60)"},
        /* Its own communes, carried on, renamed, new; not 594's. */
        {"mttq-593", {D, "22924", "593", later, 0, {0}, {0}}, NULL},
        {"mttq-593", {D, "22924", "593", 0, 0, {0}, {0}}, NULL},
        {"mttq-593", {D, "22926", "593", later, 0, {0}, {0}}, NULL},
        {"mttq-593",
         {D, "22990", "594", later, 0, {0}, {0}},
         "594 (the parent of the new unit 22990; its rights: units = 593)"},
        {"so-60",
         {D, "61", NULL, later, 0, {0}, {0}},
         "61 (a new province; its rights: units = 60)"},
        /* Moving a commune out of 593 changes where it goes too. */
        {"mttq-593",
         {D, "22924", "594", later, 0, {0}, {0}},
         "594 (the new parent of 22924; its rights: units = 593)"},
        /* Dates: 23231 was 594's until MOVED and is 593's since.  The span
         * that starts on MOVED is 593's, not the one before. */
        {"mttq-593", {D, "23231", "593", later, 0, {0}, {0}}, NULL},
        {"mttq-593",
         {D, "23231", "593", earlier, 0, {0}, {0}},
         "594 (the current parent of 23231; its rights: units = 593)"},
        {"mttq-593", {D, "23231", "593", MOVED, 0, {0}, {0}}, NULL},
        /* The same through unit.changed, refused for the same unit. */
        {"mttq-593",
         {C, "23232", "593", later, EV_CHANGE_REPARENT, {"23232"}, {0}},
         "594 (the current parent of 23232; its rights: units = 593)"},
        {"mttq-593",
         {C, "593", "68", later, EV_CHANGE_REPARENT, {"593"}, {0}},
         "68 (the new parent of 593; its rights: units = 593)"},
        {"mttq-593",
         {C, "593", NULL, later, EV_CHANGE_RENAME, {"593"}, {0}},
         "60 (the current parent of 593; its rights: units = 593)"},
        {"mttq-593",
         {C, "23231", NULL, later, EV_CHANGE_RENAME, {"23231"}, {0}},
         NULL},
        {"mttq-593",
         {C, "23231", NULL, earlier, EV_CHANGE_RENAME, {"23231"}, {0}},
         "594 (the current parent of 23231; its rights: units = 593)"},
        /* Merges of its own communes; not of one of 594's, either side. */
        {"mttq-593",
         {C,
          "22924",
          NULL,
          later,
          EV_CHANGE_MERGE,
          {"22924", "22925"},
          {"22924"}},
         NULL},
        {"mttq-593",
         {C,
          "22924",
          NULL,
          later,
          EV_CHANGE_MERGE,
          {"22925", "23232"},
          {"22924"}},
         "594 (the current parent of 23232; its rights: units = 593)"},
        {"mttq-593",
         {C, "23232", NULL, later, EV_CHANGE_MERGE, {"22925"}, {"23232"}},
         "23232 (a successor; its rights: units = 593)"},
        /* A successor it creates is placed by the event's parent. */
        {"mttq-593",
         {C,
          "22999",
          "593",
          later,
          EV_CHANGE_MERGE,
          {"22924", "22925"},
          {"22999"}},
         NULL},
        {"mttq-593",
         {C,
          "22999",
          "594",
          later,
          EV_CHANGE_MERGE,
          {"22924", "22925"},
          {"22999"}},
         "594 (the new parent of 22999; its rights: units = 593)"},
        {"so-60",
         {C, "61", NULL, later, EV_CHANGE_MERGE, {"60", "68"}, {"61"}},
         "61 (a new province; its rights: units = 60)"},
        /* Ending a unit changes its parent: 593 cannot abolish itself. */
        {"mttq-593",
         {C, "593", NULL, later, EV_CHANGE_ABOLISH, {"593"}, {0}},
         "60 (the current parent of 593; its rights: units = 593)"},
        {"so-60",
         {C, "593", NULL, later, EV_CHANGE_ABOLISH, {"593"}, {0}},
         NULL},
        {"mttq-593",
         {C,
          "22924",
          NULL,
          later,
          EV_CHANGE_SPLIT,
          {"22924"},
          {"22924", "22925"}},
         NULL},
        {"mttq-593",
         {C,
          "22924",
          NULL,
          later,
          EV_CHANGE_SPLIT,
          {"22924"},
          {"22924", "23232"}},
         "23232 (a successor; its rights: units = 593)"},
    };
#undef D
#undef C
    struct fixture *f = *state;
    write_registry(f,
                   "[mttq-593]\nkey = %s\npublish = unit.* household.*\n"
                   "units = 593\n\n"
                   "[so-60]\nkey = %s\npublish = unit.*\nunits = 60\n",
                   f->key_a, f->key_b);
    struct pt_registry *r = load_ok(f);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct pt_publisher *p =
            pt_registry_find_name(r, cases[i].who, strlen(cases[i].who));
        assert_non_null(p);
        char err[256], want[256] = "";
        if (cases[i].want != NULL)
            snprintf(want, sizeof want,
                     "unit: publisher \"%s\" may not change unit %s",
                     cases[i].who, cases[i].want);
        int rc = check_unit_event(p, &cases[i].ev, err, sizeof err);
        if (rc != (cases[i].want ? POVTRACK_EINVALID : POVTRACK_OK) ||
            strcmp(err, want) != 0)
            fail_msg("case %zu, %s for %s by %s: rc %d, \"%s\"; wanted "
                     "\"%s\"",
                     i, ev_type_name(cases[i].ev.type), cases[i].ev.unit,
                     cases[i].who, rc, err, want);
    }
    pt_registry_free(r);
}

static void test_wildcards(void **state)
{
    struct fixture *f = *state;
    write_registry(f,
                   "[province-60]\nkey = %s\npublish = *\nunits = *\n"
                   "query = *\n",
                   f->key_a);
    struct pt_registry *r = load_ok(f);
    const struct pt_publisher *p = &r->pubs[0];
    char err[256];
    for (int t = EV_TYPE_NONE + 1; t < EV_TYPE_COUNT; t++)
        assert_int_equal(
            pt_publisher_check_type(p, (enum ev_type)t, err, sizeof err), 0);
    assert_int_equal(
        check_unit(p, EV_HOUSEHOLD_STATUS, "594", NULL, err, sizeof err),
        POVTRACK_OK);
    /* A unit nobody defined is still "all units"; ingest's reference
     * check rejects it for its own reason. */
    assert_int_equal(
        check_unit(p, EV_HOUSEHOLD_STATUS, "99999", NULL, err, sizeof err),
        POVTRACK_OK);
    assert_true(pt_publisher_may_query(p, "anything", 8));
    assert_true(pt_publisher_may_query(p, "log", 3));
    pt_registry_free(r);
}

static void test_bad_files(void **state)
{
    struct fixture *f = *state;

    write_registry(f, "[a]\nkey = %s\npublish = donation.x\nunits = 593\n",
                   f->key_a);
    expect_error(f, "publishers.ini:3: [a] publish: \"donation.x\" matches no "
                    "event type");
    write_registry(f, "[a]\nkey = not-a-key\n");
    expect_error(f, ":2: [a] key: must be a CURVE public key");
    write_registry(f, "[a]\nkey = %s\n[b]\nkey = %s\n", f->key_a, f->key_a);
    expect_error(f, ":4: [b] key: already the key of [a]");
    write_registry(f, "[a]\nkey = %s\n[b]\nkey = %s\n[a]\nalerts = yes\n",
                   f->key_a, f->key_b);
    expect_error(f, ":6: [a] appears twice");
    write_registry(f, "[a]\npublish = *\nunits = *\n");
    expect_error(f, "[a] has no key");
    write_registry(f, "[a]\nkey = %s\npublish = *\n", f->key_a);
    expect_error(f, "[a] may publish but has no units");
    write_registry(f, "[a]\nkey = %s\nunits = 5930\n", f->key_a);
    expect_error(f, ":3: [a] units: \"5930\" is not a unit code");
    write_registry(f, "[a]\nkey = %s\nquery = fund Pov/erty\n", f->key_a);
    expect_error(f, ":3: [a] query: \"Pov/erty\" is not a plugin name");
    write_registry(f, "[a]\nkey = %s\nalerts = maybe\n", f->key_a);
    expect_error(f, ":3: [a] alerts: must be yes or no");
    write_registry(f, "[a]\nkey = %s\nrights = all\n", f->key_a);
    expect_error(f, ":3: [a] unknown key \"rights\"");
    write_registry(f, "key = %s\n", f->key_a);
    expect_error(f, ":1: \"key\" outside a [publisher] section");
    write_registry(f, "[a b]\nkey = %s\n", f->key_a);
    expect_error(f, "[a b]: a publisher's name is");
    write_registry(f, "[a]\nkey = %s\n[broken\n", f->key_a);
    expect_error(f, ":3: not a \"key = value\" or [section] line");
    write_registry(f, "[a]\nkey = %s\npublish =\n", f->key_a);
    expect_error(f, ":3: [a] empty list");

    struct pt_registry *r = NULL;
    unlink(f->path);
    assert_int_equal(pt_registry_load(f->path, &r, f->err, sizeof f->err),
                     -ENOENT);
    assert_non_null(strstr(f->err, "cannot open"));

    /* An empty registry is valid: it admits no one. */
    write_registry(f, "# nobody yet\n");
    r = load_ok(f);
    assert_int_equal(r->count, 0);
    pt_registry_free(r);
}

static void test_everyone(void **state)
{
    (void)state;
    struct pt_publisher p;
    char err[256];
    pt_publisher_everyone(&p, "unauthenticated");
    assert_string_equal(p.name, "unauthenticated");
    assert_int_equal(
        pt_publisher_check_type(&p, EV_REPORT_DUE, err, sizeof err), 0);
    assert_int_equal(
        check_unit(&p, EV_DONATION_RECEIVED, "594", NULL, err, sizeof err),
        POVTRACK_OK);
    assert_true(pt_publisher_may_query(&p, "log", 3));
    assert_true(p.alerts);
}

/* ---- configuration ---- */

static void test_secure_by_default(void **state)
{
    (void)state;
    struct pt_config *cfg = malloc(sizeof *cfg);
    char err[512];
    assert_non_null(cfg);
    assert_int_equal(pt_config_defaults(cfg), 0);
    assert_int_equal(pt_config_check_security(cfg, err, sizeof err), 0);

    assert_true(pt_endpoint_is_local("ipc:///tmp/x"));
    assert_true(pt_endpoint_is_local("inproc://x"));
    assert_true(pt_endpoint_is_local("tcp://127.0.0.1:7170"));
    assert_true(pt_endpoint_is_local("tcp://localhost:7170"));
    assert_true(pt_endpoint_is_local("tcp://[::1]:7170"));
    assert_false(pt_endpoint_is_local("tcp://0.0.0.0:7170"));
    assert_false(pt_endpoint_is_local("tcp://*:7170"));
    assert_false(pt_endpoint_is_local("tcp://eth0:7170"));
    assert_false(pt_endpoint_is_local("tcp://localhost.example.org:7170"));
    assert_false(pt_endpoint_is_local("tcp://10.0.0.1:7170"));

    strcpy(cfg->query, "tcp://0.0.0.0:7171");
    assert_int_equal(pt_config_check_security(cfg, err, sizeof err),
                     POVTRACK_ECONFIG);
    assert_non_null(strstr(err, "tcp://0.0.0.0:7171"));
    assert_non_null(strstr(err, "CURVE is off"));

    strcpy(cfg->curve_key_file, "/etc/povtrack/server.key");
    assert_int_equal(pt_config_check_security(cfg, err, sizeof err),
                     POVTRACK_ECONFIG);
    assert_non_null(strstr(err, "curve_key and registry go together"));
    strcpy(cfg->registry_file, "/etc/povtrack/publishers.ini");
    assert_int_equal(pt_config_check_security(cfg, err, sizeof err), 0);
    free(cfg);
}

/* Endpoints ZeroMQ would take for others, and a plugin not there. */
static void test_config_mistakes(void **state)
{
    struct fixture *f = *state;
    struct pt_config *cfg = malloc(sizeof *cfg);
    assert_non_null(cfg);
    assert_int_equal(pt_config_defaults(cfg), 0);
    assert_int_equal(pt_config_check_endpoints(cfg, f->err, sizeof f->err), 0);
    static const struct {
        const char *ep, *why;
    } bad[] = {
        {"tcp://127.0.0.1:99999", "the port must be 1 to 65535"},
        {"tcp://127.0.0.1:7170x", "the port must be 1 to 65535"},
        {"tcp://127.0.0.1:0", "the port must be 1 to 65535"},
        {"tcp://127.0.0.1:-1", "the port must be 1 to 65535"},
        {"tcp://127.0.0.1", "no port"},
        {"tcp://127.0.0.1:", "no port"},
        {"udp://127.0.0.1:7170", "must be tcp://HOST:PORT or ipc://PATH"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        strcpy(cfg->query, bad[i].ep);
        assert_int_equal(pt_config_check_endpoints(cfg, f->err, sizeof f->err),
                         POVTRACK_ECONFIG);
        assert_non_null(strstr(f->err, "query endpoint "));
        assert_non_null(strstr(f->err, bad[i].ep));
        if (strstr(f->err, bad[i].why) == NULL)
            fail_msg("%s: %s", bad[i].ep, f->err);
    }
    strcpy(cfg->query, "tcp://127.0.0.1:65535");
    assert_int_equal(pt_config_check_endpoints(cfg, f->err, sizeof f->err), 0);
    strcpy(cfg->query, "tcp://127.0.0.1:*");
    assert_int_equal(pt_config_check_endpoints(cfg, f->err, sizeof f->err), 0);

    /* A plugin directory with fund.so: "fnd" is refused, naming fund. */
    char so[192];
    snprintf(cfg->plugin_dir, sizeof cfg->plugin_dir, "%s", f->dir);
    snprintf(so, sizeof so, "%s/fund.so", f->dir);
    FILE *out = fopen(so, "w");
    assert_non_null(out);
    assert_int_equal(fclose(out), 0);
    assert_int_equal(pt_config_set_plugins(cfg, "fund", f->err, sizeof f->err),
                     0);
    assert_int_equal(pt_config_resolve(cfg, f->err, sizeof f->err), 0);
    assert_int_equal(pt_config_check_plugins(cfg, f->err, sizeof f->err), 0);
    assert_int_equal(
        pt_config_set_plugins(cfg, "fund fnd", f->err, sizeof f->err), 0);
    assert_int_equal(pt_config_resolve(cfg, f->err, sizeof f->err), 0);
    assert_int_equal(pt_config_check_plugins(cfg, f->err, sizeof f->err),
                     POVTRACK_ECONFIG);
    assert_non_null(strstr(f->err, "plugin fnd: "));
    assert_non_null(strstr(f->err, "fnd.so: No such file or directory"));
    assert_non_null(strstr(f->err, ": fund)"));
    assert_int_equal(unlink(so), 0);
    free(cfg);
}

static void write_config(struct fixture *f, const char *text)
{
    FILE *out = fopen(f->path, "w");
    assert_non_null(out);
    assert_true(fputs(text, out) >= 0);
    assert_int_equal(fclose(out), 0);
}

/* A configuration file refused, and the message that says why. */
struct bad_config {
    const char *text, *want;
};

/* Each of bad, loaded over the defaults, is refused with its message. */
static void expect_refused(struct fixture *f, struct pt_config *cfg,
                           const struct bad_config *bad, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(pt_config_defaults(cfg), 0);
        write_config(f, bad[i].text);
        assert_int_equal(pt_config_load(cfg, f->path, f->err, sizeof f->err),
                         POVTRACK_ECONFIG);
        if (strstr(f->err, bad[i].want) == NULL)
            fail_msg("error \"%s\" does not contain \"%s\"", f->err,
                     bad[i].want);
    }
}

/* requests_per_second: 10000 with CURVE unless given; in plain mode, where
 * every client is the one publisher "unauthenticated", none unless given. */
static void test_config_rate_default(void **state)
{
    static const struct {
        const char *text;
        unsigned want;
    } cases[] = {
        {"[limits]\nevents_max = 100\n", 0},
        {"[limits]\nrequests_per_second = 50\n", 50},
        {"[security]\ncurve_key = server.key\nregistry = pub.ini\n", 10000},
        {"[security]\ncurve_key = server.key\nregistry = pub.ini\n"
         "[limits]\nrequests_per_second = 0\n",
         0},
    };
    struct fixture *f = *state;
    struct pt_config *cfg = malloc(sizeof *cfg);
    assert_non_null(cfg);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(pt_config_defaults(cfg), 0);
        write_config(f, cases[i].text);
        assert_int_equal(pt_config_load(cfg, f->path, f->err, sizeof f->err),
                         0);
        assert_int_equal(pt_config_resolve(cfg, f->err, sizeof f->err), 0);
        if (cfg->limits.requests_per_second != cases[i].want)
            fail_msg("%s: requests_per_second %u, want %u", cases[i].text,
                     cfg->limits.requests_per_second, cases[i].want);
    }
    free(cfg);
}

static void test_config_sections(void **state)
{
    struct fixture *f = *state;
    struct pt_config *cfg = malloc(sizeof *cfg);
    assert_non_null(cfg);
    assert_int_equal(pt_config_defaults(cfg), 0);
    assert_int_equal(cfg->limits.frame_max, PT_LIMIT_FRAME_MAX);
    assert_int_equal(cfg->limits.events_max, PT_LIMIT_EVENTS_MAX);
    assert_true(cfg->limits.requests_per_second > 0);

    write_config(f, "[security]\ncurve_key = keys/server.key\n"
                    "registry = /etc/povtrack/publishers.ini\n"
                    "[limits]\nframe_max = 65536\nevents_max = 100\n"
                    "string_max = 1024\ndepth_max = 6\ncontainer_max = 32\n"
                    "requests_per_second = 0\n");
    assert_int_equal(pt_config_load(cfg, f->path, f->err, sizeof f->err), 0);
    char want[256];
    snprintf(want, sizeof want, "%s/keys/server.key", f->dir);
    /* Relative to the config file, so the directory moves as a whole. */
    assert_string_equal(cfg->curve_key_file, want);
    assert_string_equal(cfg->registry_file, "/etc/povtrack/publishers.ini");
    assert_int_equal(cfg->limits.frame_max, 65536);
    assert_int_equal(cfg->limits.events_max, 100);
    assert_int_equal(cfg->limits.string_max, 1024);
    assert_int_equal(cfg->limits.depth_max, 6);
    assert_int_equal(cfg->limits.container_max, 32);
    assert_int_equal(cfg->limits.requests_per_second, 0);

    static const struct bad_config bad[] = {
        {"[limits]\nframe_max = 8388608\n",
         "[limits] frame_max: must be an integer from 1024 to 4194304"},
        {"[limits]\nstring_max = 100\n",
         "[limits] string_max: must be an integer from 256"},
        {"[limits]\ndepth_max = 3\n", "[limits] depth_max: must be"},
        {"[limits]\nevents_max = -1\n", "[limits] events_max: must be"},
        {"[limits]\nspeed = 1\n", "[limits] has no key \"speed\""},
        {"[security]\nkey = x\n", "[security] has no key \"key\""},
        {"data_dir = /tmp\n[daemon]\n",
         "data_dir: outside any section; put it under the section it "
         "belongs to ([daemon] for data_dir"},
    };
    expect_refused(f, cfg, bad, sizeof bad / sizeof bad[0]);
    free(cfg);
}

/* [mirror]: the keys, the names derived from the province, what is
 * required, and tls for a server off this machine. */
static void test_config_mirror(void **state)
{
    struct fixture *f = *state;
    struct pt_config *cfg = malloc(sizeof *cfg);
    assert_non_null(cfg);
    assert_int_equal(pt_config_defaults(cfg), 0);
    write_config(f, "[mirror]\nservers = nats://127.0.0.1:4222, "
                    "nats://localhost:4223\nprovince = 60\n");
    assert_int_equal(pt_config_load(cfg, f->path, f->err, sizeof f->err), 0);
    assert_true(cfg->mirror.enabled);
    assert_int_equal(cfg->mirror.nservers, 2);
    assert_string_equal(cfg->mirror.servers[1], "nats://localhost:4223");
    assert_string_equal(cfg->mirror.stream, "POVTRACK_LOG_60");
    assert_string_equal(cfg->mirror.subject, "povtrack.log.60");
    assert_int_equal(cfg->mirror.replicas, 3);
    assert_false(cfg->mirror.strict);
    assert_int_equal(pt_config_check_security(cfg, f->err, sizeof f->err), 0);

    assert_int_equal(pt_config_defaults(cfg), 0);
    write_config(f, "[mirror]\nservers = nats://10.0.0.1:4222\nprovince = 01\n"
                    "stream = LOGS\nsubject_prefix = vn.log\nreplicas = 5\n"
                    "strict = yes\ncredentials = nats/povtrack.creds\n"
                    "lag_alert_records = 0\nlag_alert_seconds = 60\n");
    assert_int_equal(pt_config_load(cfg, f->path, f->err, sizeof f->err), 0);
    assert_string_equal(cfg->mirror.stream, "LOGS");
    assert_string_equal(cfg->mirror.subject, "vn.log.01");
    assert_int_equal(cfg->mirror.replicas, 5);
    assert_true(cfg->mirror.strict);
    assert_int_equal(cfg->mirror.lag_alert_records, 0);
    assert_int_equal(cfg->mirror.lag_alert_seconds, 60);
    char want[256];
    snprintf(want, sizeof want, "%s/nats/povtrack.creds", f->dir);
    assert_string_equal(cfg->mirror.credentials, want);
    /* Household records never cross a network in clear text. */
    assert_int_equal(pt_config_check_security(cfg, f->err, sizeof f->err),
                     POVTRACK_ECONFIG);
    assert_non_null(strstr(f->err, "nats://10.0.0.1:4222"));
    cfg->mirror.tls = 1;
    assert_int_equal(pt_config_check_security(cfg, f->err, sizeof f->err), 0);

    static const struct bad_config bad[] = {
        {"[mirror]\nprovince = 60\n", "[mirror] needs servers and province"},
        {"[mirror]\nservers = nats://127.0.0.1:4222\n",
         "[mirror] needs servers and province"},
        {"[mirror]\nservers = 127.0.0.1:4222\nprovince = 60\n",
         "is not nats://host:port"},
        {"[mirror]\nservers = nats://127.0.0.1\nprovince = 60\n",
         "is not nats://host:port"},
        {"[mirror]\nprovince = 6\n", "[mirror] province: must be"},
        {"[mirror]\nstream = a.b\n", "[mirror] stream: must be"},
        {"[mirror]\nsubject_prefix = a..b\n", "[mirror] subject_prefix: must"},
        {"[mirror]\nreplicas = 0\n", "[mirror] replicas: must be"},
        {"[mirror]\nstrict = maybe\n", "[mirror] strict: must be yes or no"},
        {"[mirror]\nurl = x\n", "[mirror] has no key \"url\""},
    };
    expect_refused(f, cfg, bad, sizeof bad / sizeof bad[0]);
    free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_rights, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unit_rights, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wildcards, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_files, setup, teardown),
        cmocka_unit_test(test_everyone),
        cmocka_unit_test(test_secure_by_default),
        cmocka_unit_test_setup_teardown(test_config_sections, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_rate_default, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_config_mirror, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_mistakes, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
