/*
 * rules_plugin.c - a plugin that probes the rules of each callback
 * (povtrack/plugin.h) for test_rules: what the host's functions return in
 * init and in query, what a failing apply and a failing tick leave, and
 * what config() hands over.
 *
 *   [plugin.rules]
 *   fail_donor = NAME     ; apply of a donation.received from NAME writes
 *                         ; "poison", then fails
 *   fail_tick = T         ; the tick at T writes and alerts, then fails
 *   threshold = N         ; an integer, default 50 (only read back)
 *   limit.*.max = N       ; a family of integer keys (only read back)
 *
 * State: "n" (donations applied, u64), "tick" (the last tick's time, i64),
 * "poison".  Queries:
 *   {}                  -> {"n", "tick", "poison": bool}
 *   {"probe": "init"}   -> what get, put, del, scan, unit, unit_at and
 *                          alert returned in init, and units_seq
 *   {"probe": "query"}  -> what put, del and alert return in query, and
 *                          what host->strerror says put's code means
 *   {"config": KEY}     -> {"value": config(KEY) or nil}
 *
 * Built twice: rules.so, and rules_bad.so (RULES_BAD_MAP) whose map gives
 * threshold a default that is not an integer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <povtrack/plugin_util.h>

enum { P_GET, P_PUT, P_DEL, P_SCAN, P_UNIT, P_UNIT_AT, P_ALERT, NPROBES };
static const char *const probe_names[NPROBES] = {
    "get", "put", "del", "scan", "unit", "unit_at", "alert"};

struct rules {
    const struct povtrack_host *host;
    int init_rc[NPROBES];
    uint64_t init_units_seq;
    char fail_donor[EV_TEXT_MAX + 1];
    int64_t fail_tick;
};

static int no_scan(void *arg, const void *key, size_t klen, const void *val,
                   size_t vlen)
{
    (void)arg, (void)key, (void)klen, (void)val, (void)vlen;
    return 0;
}

static int probe_alert(const struct povtrack_host *host, povtrack_ctx *ctx)
{
    struct povtrack_alert a = {.size = sizeof a,
                               .code = "rules.probe",
                               .severity = POVTRACK_INFO,
                               .unit = "60",
                               .message = "probe"};
    return host->alert(ctx, &a);
}

static int rules_init(povtrack_ctx *ctx, const struct povtrack_host *host,
                      void **state)
{
    struct rules *r = calloc(1, sizeof *r);
    if (r == NULL)
        return -1;
    r->host = host;
    const void *v;
    size_t vlen;
    struct ev_str code = {"60", 2};
    struct ev_unit eu;
    struct povtrack_unit u = {.size = sizeof u};
    r->init_rc[P_GET] = host->get(ctx, "n", 1, &v, &vlen);
    r->init_rc[P_PUT] = host->put(ctx, "n", 1, "x", 1);
    r->init_rc[P_DEL] = host->del(ctx, "n", 1);
    r->init_rc[P_SCAN] = host->scan(ctx, "", 0, NULL, 0, no_scan, NULL);
    r->init_rc[P_UNIT] = host->unit(ctx, code, &eu);
    r->init_rc[P_UNIT_AT] = host->unit_at(ctx, code, 0, &u);
    r->init_rc[P_ALERT] = probe_alert(host, ctx);
    r->init_units_seq = host->units_seq(ctx);
    const char *donor = host->config(ctx, "fail_donor");
    snprintf(r->fail_donor, sizeof r->fail_donor, "%s", donor ? donor : "");
    const char *t = host->config(ctx, "fail_tick");
    r->fail_tick = -1;
    if (t != NULL && povtrack_config_parse_int(t, &r->fail_tick) != 0) {
        free(r);
        return -1;
    }
    *state = r;
    return 0;
}

static int rules_apply(void *state, povtrack_ctx *ctx,
                       const struct povtrack_record *rec)
{
    struct rules *r = state;
    const void *v;
    size_t vlen;
    uint8_t b[8];
    int rc = pu_get(r->host, ctx, "n", 1, &v, &vlen);
    if (rc < 0)
        return rc;
    pu_put_u64(b, (rc == 1 && vlen == 8 ? pu_get_u64(v) : 0) + 1);
    if ((rc = pu_put(r->host, ctx, "n", 1, b, 8)) != 0)
        return rc;
    if (r->fail_donor[0] != '\0' &&
        ev_str_eq(rec->event->data.donor, r->fail_donor)) {
        pu_put(r->host, ctx, "poison", 6, "!", 1);
        return -7;
    }
    return 0;
}

static int rules_tick(void *state, povtrack_ctx *ctx, int64_t now)
{
    struct rules *r = state;
    uint8_t b[8];
    char msg[64];
    pu_put_i64(b, now);
    snprintf(msg, sizeof msg, "tick at %lld", (long long)now);
    int rc = pu_put(r->host, ctx, "tick", 4, b, 8);
    if (rc == 0)
        rc = pu_alert(r->host, ctx, "rules.ticked", POVTRACK_INFO, "60", NULL,
                      msg, now);
    if (rc == 0 && now == r->fail_tick)
        rc = -9;
    return rc;
}

static int pack_codes(msgpack_packer *out, const char *const *names,
                      const int *codes, size_t n)
{
    int e = 0;
    for (size_t i = 0; i < n; i++)
        e |= pu_pack_key(out, names[i]) | msgpack_pack_int(out, codes[i]);
    return e;
}

static int rules_query(void *state, povtrack_ctx *ctx, const msgpack_object *q,
                       msgpack_packer *out, char *err, size_t errlen)
{
    struct rules *r = state;
    const msgpack_object *probe = pu_map_get(q, "probe");
    const msgpack_object *key = pu_map_get(q, "config");
    int e;
    if (probe != NULL && probe->type == MSGPACK_OBJECT_STR &&
        probe->via.str.size == 4) { /* "init" */
        e = msgpack_pack_map(out, NPROBES + 1) |
            pack_codes(out, probe_names, r->init_rc, NPROBES) |
            pu_pack_key(out, "units_seq") |
            msgpack_pack_uint64(out, r->init_units_seq);
    } else if (probe != NULL) { /* "query" */
        int rc[3] = {r->host->put(ctx, "n", 1, "x", 1),
                     r->host->del(ctx, "n", 1), probe_alert(r->host, ctx)};
        static const char *const names[3] = {"put", "del", "alert"};
        /* And what the host says the first code means (host->strerror). */
        e = msgpack_pack_map(out, 4) | pack_codes(out, names, rc, 3) |
            pu_pack_key(out, "put_means") |
            pu_pack_key(out, pu_strerror(r->host, rc[0]));
    } else if (key != NULL && key->type == MSGPACK_OBJECT_STR) {
        char k[128];
        pu_cstr((struct ev_str){key->via.str.ptr, key->via.str.size}, k,
                sizeof k);
        const char *v = r->host->config(ctx, k);
        e = msgpack_pack_map(out, 1) | pu_pack_key(out, "value") |
            (v != NULL ? pu_pack_key(out, v) : msgpack_pack_nil(out));
    } else {
        const void *v;
        size_t vlen;
        int n = pu_get(r->host, ctx, "n", 1, &v, &vlen);
        uint64_t count = n == 1 && vlen == 8 ? pu_get_u64(v) : 0;
        int t = pu_get(r->host, ctx, "tick", 4, &v, &vlen);
        int64_t tick = t == 1 && vlen == 8 ? pu_get_i64(v) : 0;
        int p = pu_get(r->host, ctx, "poison", 6, &v, &vlen);
        if (n < 0 || t < 0 || p < 0) {
            snprintf(err, errlen, "state read failed");
            return -1;
        }
        e = msgpack_pack_map(out, 3) | pu_pack_key(out, "n") |
            msgpack_pack_uint64(out, count) | pu_pack_key(out, "tick") |
            msgpack_pack_int64(out, tick) | pu_pack_key(out, "poison") |
            (p == 1 ? msgpack_pack_true(out) : msgpack_pack_false(out));
    }
    return e != 0 ? -1 : 0;
}

static void rules_fini(void *state)
{
    free(state);
}

static const struct povtrack_config_key rules_config[] = {
    {.name = "fail_donor", .description = "the donor whose apply fails"},
    {.name = "fail_tick",
     .type = POVTRACK_CONFIG_INT,
     .description = "the time whose tick fails"},
    {.name = "threshold",
     .type = POVTRACK_CONFIG_INT,
#ifdef RULES_BAD_MAP
     .default_value = "fifty", /* rules_bad.so: a bug the host refuses */
#else
     .default_value = "50",
#endif
     .description = "read back by queries"},
    {.name = "limit.*.max",
     .type = POVTRACK_CONFIG_INT,
     .description = "a family of keys, read back by queries"},
    {.name = NULL},
};

POVTRACK_PLUGIN(.name = "rules", .version = "1.0.0",
                .event_mask = EV_TYPE_BIT(EV_DONATION_RECEIVED),
                .init = rules_init, .apply = rules_apply, .query = rules_query,
                .tick = rules_tick, .fini = rules_fini,
                .config_map = rules_config);
