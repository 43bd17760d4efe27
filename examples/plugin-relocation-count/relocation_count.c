/*
 * relocation_count.c - an example povtrackd plugin, built outside the
 * tree against an installed povtrack (see README.md beside it).
 *
 * It counts relocation.completed events per district and per year: the
 * district the event's unit (where the household moved to) belonged to on
 * the event's date, and the Vietnam-local year of that date.  A unit with
 * no district above it on that date (a province, or a commune after the
 * districts were abolished on 2025-07-01) counts under its province.  When
 * a district's count for a year reaches the configured threshold it raises
 * the warning relocation_count.above_threshold, once.
 *
 *   [plugin.relocation_count]
 *   threshold = 50        ; relocations in a year that raise the alert
 *
 * Query {"unit": code, "year": y} -> {"unit": code, "year": y,
 * "relocations": n}.
 *
 * State: 'C' unit[5] year[8] -> u64 count (plugin_util.h's encoding:
 * big-endian, the year's sign bit flipped).  Everything comes from the
 * log, so a rebuild gives the same counts and raises the same alerts.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <povtrack/plugin_util.h>

#define RC_DEFAULT_THRESHOLD 50

struct relocation_count {
    const struct povtrack_host *host;
    int64_t threshold;
};

static int rc_init(povtrack_ctx *ctx, const struct povtrack_host *host,
                   void **state)
{
    int64_t threshold = RC_DEFAULT_THRESHOLD;
    if (pu_config_pos_i64(host, ctx, "threshold", &threshold) != 0)
        return POVTRACK_ECONFIG;
    if (host->size < POVTRACK_HOST_SIZE_UNITS) {
        host->log(ctx, POVTRACK_LOG_ERROR,
                  "this povtrackd is too old: it has no unit_at");
        return POVTRACK_EPLUGIN;
    }
    struct relocation_count *r = calloc(1, sizeof *r);
    if (r == NULL)
        return POVTRACK_ENOMEM;
    r->host = host;
    r->threshold = threshold;
    *state = r;
    return 0;
}

/* The district (else the province) over unit at time at, in out. */
static int district_of(struct relocation_count *r, povtrack_ctx *ctx,
                       struct ev_str unit, int64_t at, uint8_t out[PU_UNIT_W])
{
    struct pu_chain ch;
    int rc = pu_ancestors_at(r->host, ctx, unit, at, &ch);
    if (rc != 0)
        return POVTRACK_EIO; /* the unit passed the reference checks */
    /* ch.code[0] is the unit, then its parent ...: the first that is a
     * district, or the last (the province). */
    for (int i = 0; i < ch.n; i++) {
        struct povtrack_unit u = {.size = sizeof u};
        rc = r->host->unit_at_as_of(ctx, pu_get_unit(ch.code[i]), at,
                                    ch.version, &u);
        if (rc != 0)
            return POVTRACK_EIO;
        if (u.level == EV_LEVEL_DISTRICT || i == ch.n - 1) {
            memcpy(out, ch.code[i], PU_UNIT_W);
            return 0;
        }
    }
    return POVTRACK_EIO;
}

static size_t count_key(uint8_t *k, const uint8_t unit[PU_UNIT_W], int64_t year)
{
    k[0] = 'C';
    memcpy(k + 1, unit, PU_UNIT_W);
    pu_put_key_i64(k + 1 + PU_UNIT_W, year);
    return 1 + PU_UNIT_W + 8;
}

/* The count at key k (0 when absent): 0, or POVTRACK_EIO. */
static int count_get(struct relocation_count *r, povtrack_ctx *ctx,
                     const uint8_t *k, size_t klen, uint64_t *n)
{
    const void *v;
    size_t vlen;
    int rc = pu_get(r->host, ctx, k, klen, &v, &vlen);
    if (rc < 0 || (rc == 1 && vlen != 8))
        return POVTRACK_EIO;
    *n = rc == 1 ? pu_get_u64(v) : 0;
    return 0;
}

static int rc_apply(void *state, povtrack_ctx *ctx,
                    const struct povtrack_record *rec)
{
    struct relocation_count *r = state;
    const struct ev_event *ev = rec->event;
    uint8_t district[PU_UNIT_W], k[1 + PU_UNIT_W + 8], b[8];
    int64_t year = pu_local_year(ev->at);
    uint64_t n;
    int rc = district_of(r, ctx, ev->unit, ev->at, district);
    size_t klen = count_key(k, district, year);
    if (rc == 0)
        rc = count_get(r, ctx, k, klen, &n);
    if (rc != 0)
        return rc;
    pu_put_u64(b, ++n);
    if ((rc = pu_put(r->host, ctx, k, klen, b, sizeof b)) != 0)
        return rc;
    if (n != (uint64_t)r->threshold)
        return 0;
    char code[PU_UNIT_W + 1], msg[160];
    pu_cstr(pu_get_unit(district), code, sizeof code);
    snprintf(msg, sizeof msg,
             "%llu households relocated into %s in %lld (threshold %lld)",
             (unsigned long long)n, code, (long long)year,
             (long long)r->threshold);
    return pu_alert(r->host, ctx, "relocation_count.above_threshold",
                    POVTRACK_WARNING, code, NULL, msg, ev->at);
}

static int rc_query(void *state, povtrack_ctx *ctx, const msgpack_object *q,
                    msgpack_packer *out, char *err, size_t errlen)
{
    struct relocation_count *r = state;
    struct pu_chain ch;
    int64_t year;
    bool has_year;
    int rc = pu_arg_unit(r->host, ctx, q, &ch, err, errlen);
    if (rc != 0)
        return rc;
    if (pu_arg_i64(q, "year", true, &year, &has_year, err, errlen) != 0)
        return POVTRACK_EINVALID;
    uint8_t k[1 + PU_UNIT_W + 8];
    uint64_t n;
    if (count_get(r, ctx, k, count_key(k, ch.code[0], year), &n) != 0) {
        snprintf(err, errlen, "internal error: state read failed");
        return POVTRACK_EIO;
    }
    struct ev_str unit = pu_get_unit(ch.code[0]);
    int e = msgpack_pack_map(out, 3) | pu_pack_key(out, "unit") |
            pu_pack_str(out, unit.ptr, unit.len) | pu_pack_key(out, "year") |
            msgpack_pack_int64(out, year) | pu_pack_key(out, "relocations") |
            msgpack_pack_uint64(out, n);
    return e != 0 ? POVTRACK_EIO : 0;
}

static void rc_fini(void *state)
{
    free(state);
}

static const struct povtrack_config_key rc_config[] = {
    {.name = "threshold",
     .type = POVTRACK_CONFIG_INT,
     .default_value = PU_STR(RC_DEFAULT_THRESHOLD),
     .description = "relocations into a district in a year that raise "
                    "relocation_count.above_threshold"},
    {.name = NULL},
};

POVTRACK_PLUGIN(.name = "relocation_count", .version = "1.0.0",
                .event_mask = EV_TYPE_BIT(EV_RELOCATION_COMPLETED),
                .init = rc_init, .apply = rc_apply, .query = rc_query,
                .fini = rc_fini, .state_layout = 1, .config_map = rc_config);
