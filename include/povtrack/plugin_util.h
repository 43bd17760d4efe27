/*
 * povtrack/plugin_util.h - the SDK's helpers for plugins, the built-in ones
 * included: fixed-width key/value encoding, unit ancestry as of a date
 * (with a cache), Vietnam-local calendar arithmetic, alerts, query
 * argument parsing, the refusal of a unit that has ended and regrouping
 * into the units of any date (as_of), config parsing and packing.
 *
 * Everything here is static inline so that each plugin (a separate shared
 * object with hidden visibility) gets its own copy and no symbol crosses
 * the plugin boundary: a plugin built outside the tree needs only this
 * header, <povtrack/plugin.h> and msgpack-c.
 *
 * Encoding conventions used by every built-in plugin's state:
 *   - every integer is BIG-ENDIAN, in keys and in values, so one set of
 *     helpers serves both and keys sort numerically;
 *   - signed integers in KEYS have their sign bit flipped (pu_put_key_i64)
 *     so that byte order equals numeric order, negative values included;
 *     signed integers in VALUES are plain two's complement;
 *   - a unit code in a key takes exactly PU_UNIT_W bytes, NUL-padded: codes
 *     are 2, 3 or 5 digits, so the padding keeps them unique and keeps the
 *     fields after the code at a fixed offset.
 */
#ifndef POVTRACK_PLUGIN_UTIL_H
#define POVTRACK_PLUGIN_UTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include <povtrack/plugin.h>

#define PU_UNIT_W EV_UNIT_MAX /* bytes of a unit code in a key */
/* Deepest unit chain accepted (the registry has 3 levels); guards against a
 * corrupt registry with a cycle. */
#define PU_CHAIN_MAX 8

/* ---- fixed-width integers ---- */

static inline void pu_put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)(v & 0xffu);
        v >>= 8;
    }
}

static inline uint64_t pu_get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

static inline void pu_put_i64(uint8_t *p, int64_t v)
{
    pu_put_u64(p, (uint64_t)v);
}

static inline int64_t pu_get_i64(const uint8_t *p)
{
    uint64_t u = pu_get_u64(p);
    int64_t v;
    memcpy(&v, &u, sizeof v); /* two's complement, no UB on conversion */
    return v;
}

/* Signed integer in a key: sign bit flipped so byte order = numeric order. */
static inline void pu_put_key_i64(uint8_t *p, int64_t v)
{
    pu_put_u64(p, (uint64_t)v ^ (UINT64_C(1) << 63));
}

static inline int64_t pu_get_key_i64(const uint8_t *p)
{
    uint64_t u = pu_get_u64(p) ^ (UINT64_C(1) << 63);
    int64_t v;
    memcpy(&v, &u, sizeof v);
    return v;
}

/* ---- unit codes ---- */

/* Write code into a PU_UNIT_W-byte key field; POVTRACK_EINVALID when it
 * does not fit.  A
 * NUL byte does not fit either: the field is NUL-padded, so "593\0" would
 * read back as "593".  Codes from events are digits, but a query's "unit"
 * arrives from the client as it is. */
static inline int pu_put_unit(uint8_t *p, struct ev_str code)
{
    if (code.ptr == NULL || code.len == 0 || code.len > PU_UNIT_W ||
        memchr(code.ptr, '\0', code.len) != NULL)
        return POVTRACK_EINVALID;
    memset(p, 0, PU_UNIT_W);
    memcpy(p, code.ptr, code.len);
    return 0;
}

/* The code stored in a key field (points into p). */
static inline struct ev_str pu_get_unit(const uint8_t *p)
{
    struct ev_str s = {(const char *)p, 0};
    while (s.len < PU_UNIT_W && p[s.len] != 0)
        s.len++;
    return s;
}

/* A unit and its ancestors, the unit first, as the hierarchy stood at one
 * instant; [from, to) is when this very chain holds (the overlap of the
 * spans it was read from).  Codes are copied because the registry's
 * strings are only valid until the next host call. */
struct pu_chain {
    uint8_t code[PU_CHAIN_MAX][PU_UNIT_W];
    enum ev_level level; /* level of code[0] */
    int n;
    int64_t from, to;
    bool mapped; /* code[0] is where the unit asked for went (see below) */
    /* The registry version it was read from (host units_seq): keep it with
     * what was counted under this chain, and read the chain again with
     * pu_ancestors_as_of(..., version) to take it back. */
    uint64_t version;
};

/* The version a call asks for, made concrete: the call's own registry,
 * or an earlier one it was given. */
static inline uint64_t pu_version(const struct povtrack_host *host,
                                  povtrack_ctx *ctx, uint64_t version)
{
    uint64_t own = host->units_seq(ctx);
    return version < own ? version : own;
}

/* What rc means (host->strerror), for log messages. */
static inline const char *pu_strerror(const struct povtrack_host *host, int rc)
{
    return host->size >= POVTRACK_HOST_SIZE_STRERROR ? host->strerror(rc)
                                                     : "error";
}

/*
 * The chain of unit at unix time at, on the registry as it stood at
 * version (UINT64_MAX: as the call sees it; see povtrack/plugin.h).  A
 * unit not in force at "at" (a record's unit read on another date: a 2025
 * status of a commune merged in July 2025, read at the end of 2025) is
 * first followed to where its households went (host unit_map), and
 * out->mapped is set.  Returns 0, POVTRACK_NOTFOUND when unit was never
 * defined or leads nowhere at "at", the host's code on a storage error
 * (logged), or POVTRACK_EIO (logged) for an inconsistent registry.
 */
static inline int pu_ancestors_as_of(const struct povtrack_host *host,
                                     povtrack_ctx *ctx, struct ev_str unit,
                                     int64_t at, uint64_t version,
                                     struct pu_chain *out)
{
    uint8_t cur[PU_UNIT_W];
    struct povtrack_unit u = {.size = sizeof u};
    out->n = 0;
    out->level = EV_LEVEL_NONE;
    out->from = INT64_MIN;
    out->to = INT64_MAX;
    out->mapped = false;
    if (pu_put_unit(cur, unit) != 0)
        return POVTRACK_NOTFOUND;
    if (host->size < POVTRACK_HOST_SIZE_UNITS) {
        host->log(ctx, POVTRACK_LOG_ERROR,
                  "the plugin host is too old: it has no unit_at_as_of");
        return POVTRACK_EIO;
    }
    out->version = pu_version(host, ctx, version);
    int rc = host->unit_at_as_of(ctx, unit, at, out->version, &u);
    if (rc == POVTRACK_NOTINFORCE) {
        struct ev_str to;
        rc = host->unit_map_as_of(ctx, unit, at, at, out->version, &to);
        if (rc == POVTRACK_NOTFOUND)
            return rc;
        if (rc == 0 && pu_put_unit(cur, to) != 0)
            rc = POVTRACK_EIO; /* not a unit code: an inconsistent registry */
        if (rc != 0) {
            host->log(ctx, POVTRACK_LOG_ERROR,
                      "unit registry: mapping %.*s failed: %s", (int)unit.len,
                      unit.ptr, pu_strerror(host, rc));
            return rc;
        }
        out->mapped = true;
    } else if (rc != 0) {
        return rc;
    }
    for (;;) {
        struct ev_str c = pu_get_unit(cur);
        rc = host->unit_at_as_of(ctx, c, at, out->version, &u);
        if (rc != 0) {
            host->log(ctx, POVTRACK_LOG_ERROR,
                      "unit registry lookup of %.*s at %lld failed: %s",
                      (int)c.len, c.ptr, (long long)at, pu_strerror(host, rc));
            return rc == POVTRACK_NOTFOUND || rc == POVTRACK_NOTINFORCE
                       ? POVTRACK_EIO /* a parent the registry lacks */
                       : rc;
        }
        if (out->n == PU_CHAIN_MAX) {
            host->log(ctx, POVTRACK_LOG_ERROR,
                      "unit registry: chain above %.*s deeper than %d",
                      (int)unit.len, unit.ptr, PU_CHAIN_MAX);
            return POVTRACK_EIO;
        }
        if (out->n == 0)
            out->level = u.level;
        if (u.from > out->from)
            out->from = u.from;
        if (u.to < out->to)
            out->to = u.to;
        memcpy(out->code[out->n++], cur, PU_UNIT_W);
        if (u.parent.ptr == NULL)
            return 0;
        if (pu_put_unit(cur, u.parent) != 0) {
            host->log(ctx, POVTRACK_LOG_ERROR,
                      "unit registry: bad parent code under %.*s",
                      (int)unit.len, unit.ptr);
            return POVTRACK_EIO;
        }
    }
}

/* pu_ancestors_as_of on the registry as the call sees it. */
static inline int pu_ancestors_at(const struct povtrack_host *host,
                                  povtrack_ctx *ctx, struct ev_str unit,
                                  int64_t at, struct pu_chain *out)
{
    return pu_ancestors_as_of(host, ctx, unit, at, UINT64_MAX, out);
}

/*
 * The chain a query's unit names: the unit as it last stood (now, or on
 * its last day when it has ended), so that a query may name any code that
 * was ever defined.  Returns as pu_ancestors_at.
 */
static inline int pu_ancestors_latest(const struct povtrack_host *host,
                                      povtrack_ctx *ctx, struct ev_str unit,
                                      struct pu_chain *out)
{
    struct povtrack_unit u = {.size = sizeof u};
    int64_t at = INT64_MAX - 1;
    if (host->size < POVTRACK_HOST_SIZE_UNITS)
        return pu_ancestors_at(host, ctx, unit, at, out); /* logs */
    int rc = host->unit_at(ctx, unit, at, &u);
    if (rc == POVTRACK_NOTINFORCE)
        at = u.to - 1;
    else if (rc != 0)
        return rc;
    return pu_ancestors_at(host, ctx, unit, at, out);
}

/* ---- a cache of unit chains ---- */

/*
 * Every apply walks its unit's ancestors, three registry lookups through
 * the log, for the same few hundred (at most some ten thousand) units.  A
 * chain read at one instant holds for all of [from, to) for as long as the
 * registry version (host units_seq) stays the same.  A chain of a mapped
 * unit is not kept (it depends on more than its window); nor is an
 * undefined code, which may be defined later.  The cache belongs to one
 * plugin instance (no global state) and holds one chain per unit: the last
 * one used.
 */
struct pu_units_slot {
    uint8_t code[PU_UNIT_W];
    bool used;
    uint64_t units_seq; /* the registry version the chain was read from */
    struct pu_chain chain;
};

struct pu_units {
    struct pu_units_slot *slot;
    size_t cap; /* a power of two, or 0 before the first insert */
    size_t n;
};

static inline void pu_units_free(struct pu_units *u)
{
    free(u->slot);
    u->slot = NULL;
    u->cap = u->n = 0;
}

static inline size_t pu_units_hash(const uint8_t *code)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325);
    for (int i = 0; i < PU_UNIT_W; i++)
        h = (h ^ code[i]) * UINT64_C(0x100000001b3);
    return (size_t)(h ^ (h >> 32));
}

static inline struct pu_units_slot *pu_units_find(const struct pu_units *u,
                                                  const uint8_t *code)
{
    if (u->cap == 0)
        return NULL;
    for (size_t i = pu_units_hash(code) & (u->cap - 1);;
         i = (i + 1) & (u->cap - 1)) {
        struct pu_units_slot *s = &u->slot[i];
        if (!s->used)
            return NULL;
        if (memcmp(s->code, code, PU_UNIT_W) == 0)
            return s;
    }
}

/* Remember a chain; out of memory only means it is looked up again. */
static inline void pu_units_add(struct pu_units *u, const uint8_t *code,
                                uint64_t units_seq,
                                const struct pu_chain *chain)
{
    struct pu_units_slot *s = pu_units_find(u, code);
    if (s != NULL) {
        s->chain = *chain;
        s->units_seq = units_seq;
        return;
    }
    if ((u->n + 1) * 2 > u->cap) {
        size_t cap = u->cap ? u->cap * 2 : 256;
        struct pu_units_slot *slot = calloc(cap, sizeof *slot);
        if (slot == NULL)
            return;
        struct pu_units old = *u;
        u->slot = slot;
        u->cap = cap;
        u->n = 0;
        for (size_t i = 0; i < old.cap; i++)
            if (old.slot[i].used)
                pu_units_add(u, old.slot[i].code, old.slot[i].units_seq,
                             &old.slot[i].chain);
        free(old.slot);
    }
    size_t i = pu_units_hash(code) & (u->cap - 1);
    while (u->slot[i].used)
        i = (i + 1) & (u->cap - 1);
    memcpy(u->slot[i].code, code, PU_UNIT_W);
    u->slot[i].units_seq = units_seq;
    u->slot[i].chain = *chain;
    u->slot[i].used = true;
    u->n++;
}

/* pu_ancestors_as_of through the plugin's cache. */
static inline int
pu_ancestors_cached_as_of(const struct povtrack_host *host, povtrack_ctx *ctx,
                          struct pu_units *cache, struct ev_str unit,
                          int64_t at, uint64_t version, struct pu_chain *out)
{
    uint8_t code[PU_UNIT_W];
    if (pu_put_unit(code, unit) != 0 || host->size < POVTRACK_HOST_SIZE_UNITS)
        return pu_ancestors_as_of(host, ctx, unit, at, version, out);
    uint64_t v = pu_version(host, ctx, version);
    const struct pu_units_slot *s = pu_units_find(cache, code);
    if (s != NULL && s->units_seq == v && s->chain.from <= at &&
        at < s->chain.to) {
        *out = s->chain;
        return 0;
    }
    int rc = pu_ancestors_as_of(host, ctx, unit, at, v, out);
    if (rc == 0 && !out->mapped)
        pu_units_add(cache, code, v, out);
    return rc;
}

/* pu_ancestors_cached_as_of on the registry as the call sees it. */
static inline int pu_ancestors_cached_at(const struct povtrack_host *host,
                                         povtrack_ctx *ctx,
                                         struct pu_units *cache,
                                         struct ev_str unit, int64_t at,
                                         struct pu_chain *out)
{
    return pu_ancestors_cached_as_of(host, ctx, cache, unit, at, UINT64_MAX,
                                     out);
}

/* Host get() that tells "absent" from "failed": 1 found, 0 absent, else
 * the host's code (logged). */
static inline int pu_get(const struct povtrack_host *host, povtrack_ctx *ctx,
                         const void *key, size_t klen, const void **val,
                         size_t *vlen)
{
    int rc = host->get(ctx, key, klen, val, vlen);
    if (rc == 0)
        return 1;
    if (rc == POVTRACK_NOTFOUND)
        return 0;
    host->log(ctx, POVTRACK_LOG_ERROR, "state get failed: %s",
              pu_strerror(host, rc));
    return rc;
}

/* Host put() with its failure logged. */
static inline int pu_put(const struct povtrack_host *host, povtrack_ctx *ctx,
                         const void *key, size_t klen, const void *val,
                         size_t vlen)
{
    int rc = host->put(ctx, key, klen, val, vlen);
    if (rc == 0)
        return 0;
    host->log(ctx, POVTRACK_LOG_ERROR, "state put failed: %s",
              pu_strerror(host, rc));
    return rc;
}

/* Host del() where an absent key is not an error (the caller wants it
 * gone); failure logged. */
static inline int pu_del(const struct povtrack_host *host, povtrack_ctx *ctx,
                         const void *key, size_t klen)
{
    int rc = host->del(ctx, key, klen);
    if (rc == 0 || rc == POVTRACK_NOTFOUND)
        return 0;
    host->log(ctx, POVTRACK_LOG_ERROR, "state del failed: %s",
              pu_strerror(host, rc));
    return rc;
}

/* Raise an alert; a refused alert is a failed apply/tick (the host's code,
 * logged), never silently dropped. household may be NULL. */
static inline int pu_alert(const struct povtrack_host *host, povtrack_ctx *ctx,
                           const char *code, enum povtrack_severity sev,
                           const char *unit, const char *household,
                           const char *msg, int64_t at)
{
    struct povtrack_alert a = {
        .size = sizeof a,
        .code = code,
        .severity = sev,
        .unit = unit,
        .household = household,
        .message = msg,
        .at = at,
    };
    int rc = host->alert(ctx, &a);
    if (rc == 0)
        return 0;
    host->log(ctx, POVTRACK_LOG_ERROR, "alert %s failed: %s", code,
              pu_strerror(host, rc));
    return rc;
}

/* Copy an ev_str into a NUL-terminated buffer, truncating to fit. */
static inline const char *pu_cstr(struct ev_str s, char *buf, size_t n)
{
    size_t len = s.ptr == NULL ? 0 : s.len;
    if (len >= n)
        len = n - 1;
    if (len > 0)
        memcpy(buf, s.ptr, len);
    buf[len] = '\0';
    return buf;
}

/* ---- Vietnam-local calendar ---- */

/* Vietnam is UTC+7 all year (no DST): days and years of the fund and of
 * deadlines are local ones, as the Fatherland Front books them. */
#define PU_TZ_OFFSET INT64_C(25200)
#define PU_DAY INT64_C(86400)

/* Local day number (days since 1970-01-01 local) of unix time at. */
static inline int64_t pu_local_day(int64_t at)
{
    int64_t t = at + PU_TZ_OFFSET;
    return t >= 0 ? t / PU_DAY : -((-t + PU_DAY - 1) / PU_DAY);
}

/* Unix time of the local midnight starting day. */
static inline int64_t pu_day_start(int64_t day)
{
    return day * PU_DAY - PU_TZ_OFFSET;
}

/* Proleptic Gregorian conversions (H. Hinnant's algorithms), exact for any
 * day number this code meets. */
static inline int64_t pu_days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static inline void pu_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

/* Local calendar year of unix time at. */
static inline int64_t pu_local_year(int64_t at)
{
    int64_t y;
    int m, d;
    pu_civil_from_days(pu_local_day(at), &y, &m, &d);
    return y;
}

/* Unix time of local 1 January 00:00 of year. */
static inline int64_t pu_year_start(int64_t year)
{
    return pu_day_start(pu_days_from_civil(year, 1, 1));
}

/* The last instant of a (Vietnam-local) year: a year's figures are read on
 * the hierarchy of its last day, as the review fixes them then. */
static inline int64_t pu_year_end(int64_t year)
{
    return pu_year_start(year + 1) - 1;
}

/* "YYYY-MM-DD", the local date of at, for messages.  PU_DATE_LEN bytes
 * hold any int64 year (the compiler checks the worst case). */
#define PU_DATE_LEN 48
static inline const char *pu_fmt_date(int64_t at, char *buf, size_t n)
{
    int64_t y;
    int m, d;
    pu_civil_from_days(pu_local_day(at), &y, &m, &d);
    snprintf(buf, n, "%04lld-%02d-%02d", (long long)y, m, d);
    return buf;
}

/* ---- config ---- */

/* A macro's value as a string: a default declared once, as a C constant
 * the plugin starts from and as the config map's default_value
 * (PU_STR(FUND_DEFAULT_IDLE_DAYS) is "90"). */
#define PU_STR(x) PU_STR_(x)
#define PU_STR_(x) #x

/* Parse a finite double config value; keeps *out when the key is absent
 * (not in the section, and no default declared).  Returns 0 or
 * POVTRACK_ECONFIG (logged, naming the key). */
static inline int pu_config_double(const struct povtrack_host *host,
                                   povtrack_ctx *ctx, const char *key,
                                   double *out)
{
    const char *s = host->config(ctx, key);
    if (s == NULL)
        return 0;
    if (povtrack_config_parse_double(s, out) != 0) {
        host->log(ctx, POVTRACK_LOG_ERROR, "%s: must be a number, got '%s'",
                  key, s);
        return POVTRACK_ECONFIG;
    }
    return 0;
}

/* Parse a positive integer config value; keeps *out when absent.  0 or
 * POVTRACK_ECONFIG, as pu_config_double. */
static inline int pu_config_pos_i64(const struct povtrack_host *host,
                                    povtrack_ctx *ctx, const char *key,
                                    int64_t *out)
{
    const char *s = host->config(ctx, key);
    if (s == NULL)
        return 0;
    int64_t v;
    if (povtrack_config_parse_int(s, &v) != 0 || v <= 0) {
        host->log(ctx, POVTRACK_LOG_ERROR,
                  "%s: must be a positive integer, got '%s'", key, s);
        return POVTRACK_ECONFIG;
    }
    *out = v;
    return 0;
}

/* ---- query arguments ---- */

static inline const msgpack_object *pu_map_get(const msgpack_object *map,
                                               const char *key)
{
    if (map == NULL || map->type != MSGPACK_OBJECT_MAP)
        return NULL;
    size_t klen = strlen(key);
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == klen &&
            memcmp(k->via.str.ptr, key, klen) == 0)
            return &map->via.map.ptr[i].val;
    }
    return NULL;
}

/*
 * Refuse an argument the query does not take.  Without this a mistyped
 * name ("yaer") is ignored and the answer is to another question (every
 * year rather than one) with nothing to say so.  known: the names the
 * query takes, NULL-terminated.  Returns 0 (also when q is not a map: the
 * readers say so), or POVTRACK_EINVALID with err naming the argument and
 * the names there are: "yaer: not an argument of this query (it takes
 * unit, year, as_of)".  A name is quoted only as far as it is letters,
 * digits, '_', '-' and '.', so err stays valid UTF-8.
 */
static inline int pu_check_arg_names(const msgpack_object *q,
                                     const char *const *known, char *err,
                                     size_t errlen)
{
    if (q == NULL || q->type != MSGPACK_OBJECT_MAP)
        return 0;
    for (uint32_t i = 0; i < q->via.map.size; i++) {
        const msgpack_object *k = &q->via.map.ptr[i].key;
        if (k->type != MSGPACK_OBJECT_STR) {
            snprintf(err, errlen, "q: argument names must be strings");
            return POVTRACK_EINVALID;
        }
        size_t j = 0;
        for (; known[j] != NULL; j++)
            if (strlen(known[j]) == k->via.str.size &&
                memcmp(known[j], k->via.str.ptr, k->via.str.size) == 0)
                break;
        if (known[j] != NULL)
            continue;
        char name[33];
        size_t n = 0;
        for (; n < k->via.str.size && n < sizeof name - 1; n++) {
            char c = k->via.str.ptr[n];
            bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                         (c >= '0' && c <= '9') || c == '_' || c == '-' ||
                         c == '.';
            if (!plain)
                break;
        }
        memcpy(name, k->via.str.ptr, n);
        name[n] = '\0';
        size_t used = (size_t)snprintf(
            err, errlen, "%s%s: not an argument of this query (it takes ",
            n > 0 ? name : "an argument",
            n < k->via.str.size && n > 0 ? "..." : "");
        for (j = 0; known[j] != NULL && used < errlen; j++)
            used += (size_t)snprintf(err + used, errlen - used, "%s%s",
                                     j > 0 ? ", " : "", known[j]);
        if (used < errlen)
            snprintf(err + used, errlen - used, ")");
        return POVTRACK_EINVALID;
    }
    return 0;
}

/* Read an integer argument.  Absent (or nil) optional: *present = false.
 * Errors (POVTRACK_EINVALID) name the field: "year: required", "year: must
 * be an integer". */
static inline int pu_arg_i64(const msgpack_object *q, const char *name,
                             bool required, int64_t *out, bool *present,
                             char *err, size_t errlen)
{
    const msgpack_object *o = pu_map_get(q, name);
    *present = false;
    if (o == NULL || o->type == MSGPACK_OBJECT_NIL) {
        if (required) {
            snprintf(err, errlen, "%s: required", name);
            return POVTRACK_EINVALID;
        }
        return 0;
    }
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
        o->via.u64 <= (uint64_t)INT64_MAX) {
        *out = (int64_t)o->via.u64;
    } else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *out = o->via.i64;
    } else {
        snprintf(err, errlen, "%s: must be an integer", name);
        return POVTRACK_EINVALID;
    }
    *present = true;
    return 0;
}

/*
 * Read the "unit" argument of q (which must be a map) and resolve its
 * ancestry.  Returns 0, POVTRACK_EINVALID with err set for a bad argument,
 * or pu_ancestors_at's error.
 */
static inline int pu_arg_unit(const struct povtrack_host *host,
                              povtrack_ctx *ctx, const msgpack_object *q,
                              struct pu_chain *chain, char *err, size_t errlen)
{
    if (q == NULL || q->type != MSGPACK_OBJECT_MAP) {
        snprintf(err, errlen, "q: must be a map");
        return POVTRACK_EINVALID;
    }
    const msgpack_object *o = pu_map_get(q, "unit");
    if (o == NULL || o->type == MSGPACK_OBJECT_NIL) {
        snprintf(err, errlen, "unit: required");
        return POVTRACK_EINVALID;
    }
    if (o->type != MSGPACK_OBJECT_STR) {
        snprintf(err, errlen, "unit: must be a string");
        return POVTRACK_EINVALID;
    }
    struct ev_str code = {o->via.str.ptr, o->via.str.size};
    int rc = code.len == 0 || code.len > PU_UNIT_W
                 ? POVTRACK_NOTFOUND
                 : pu_ancestors_latest(host, ctx, code, chain);
    if (rc == POVTRACK_NOTFOUND && code.len > 0 &&
        memchr(code.ptr, '\0', code.len) != NULL) {
        /* Quoted, it would read as the defined code before the NUL. */
        snprintf(err, errlen, "unit: not a unit code (holds a NUL byte)");
        return POVTRACK_EINVALID;
    }
    if (rc == POVTRACK_NOTFOUND) {
        snprintf(err, errlen, "unit: '%.*s' is not a defined unit",
                 (int)(code.len > PU_UNIT_W ? PU_UNIT_W : code.len), code.ptr);
        return POVTRACK_EINVALID;
    }
    if (rc != 0) {
        snprintf(err, errlen, "internal error: unit registry");
        return rc;
    }
    return 0;
}

/* ---- units that have ended ---- */

/*
 * The one wording of "this unit has ended", used by the ingest's reference
 * checks (events/ev_unit.c) and by every plugin's queries:
 *   "PATH: CODE is not in force WHEN: merged into SUCC on DATE"
 * with "split into SUCC" for a split, "abolished on DATE" for an
 * abolition and "ended on DATE" otherwise.  when is "on YYYY-MM-DD" (or
 * "now"), successor NULL when the span ended without one, ended the day it
 * ended.  Returns buf.
 */
static inline const char *pu_fmt_ended(char *buf, size_t n, const char *path,
                                       const char *code, const char *when,
                                       enum ev_change ended_by,
                                       const char *successor, const char *ended)
{
    if (successor != NULL)
        snprintf(buf, n, "%s: %s is not in force %s: %s into %s on %s", path,
                 code, when, ended_by == EV_CHANGE_SPLIT ? "split" : "merged",
                 successor, ended);
    else
        snprintf(buf, n, "%s: %s is not in force %s: %s on %s", path, code,
                 when, ended_by == EV_CHANGE_ABOLISH ? "abolished" : "ended",
                 ended);
    return buf;
}

/*
 * The unit a query asks for, on the query's date "at": the end of the
 * period asked, or its as_of (INT64_MAX: a query without an end, read as
 * "now").  A unit that had ended by then is refused, in the ingest's words
 * and with where to ask instead:
 *   "unit: 60 is not in force on 2025-12-31: merged into 68 on 2025-07-01;
 *    ask for 68, or give as_of before 2025-07-01"
 * "ask for" names where the unit's households are at "at"; the as_of
 * alternative is offered when period_end, the last instant of the period
 * asked (INT64_MAX: a period without an end; INT64_MIN: a query without a
 * period), is before the unit ended, so that an as_of before that day is
 * a question the plugin answers.  A unit in force at
 * "at", or defined only later (its figures are zeros), passes.  Returns 0,
 * POVTRACK_EINVALID (err set) or POVTRACK_EIO (err set) when the registry
 * fails.
 */
static inline int pu_check_query_unit(const struct povtrack_host *host,
                                      povtrack_ctx *ctx, struct ev_str code,
                                      int64_t at, int64_t period_end, char *err,
                                      size_t errlen)
{
    struct povtrack_unit u = {.size = sizeof u};
    int64_t t = at < INT64_MAX ? at : INT64_MAX - 1; /* spans end open */
    if (host->size < POVTRACK_HOST_SIZE_UNITS) {
        snprintf(err, errlen, "internal error: unit registry");
        return POVTRACK_EIO;
    }
    int rc = host->unit_at(ctx, code, t, &u);
    if (rc == 0 || (rc == POVTRACK_NOTINFORCE && u.from > t))
        return 0;
    if (rc != POVTRACK_NOTINFORCE) {
        snprintf(err, errlen, "internal error: unit registry");
        return POVTRACK_EIO;
    }
    char cs[PU_UNIT_W + 1], when[PU_DATE_LEN + 3], ended[PU_DATE_LEN];
    char succ[PU_UNIT_W + 1], dest[PU_UNIT_W + 1], hint[128];
    char msg[256];
    int64_t end = u.to;
    pu_cstr(code, cs, sizeof cs);
    if (at == INT64_MAX)
        snprintf(when, sizeof when, "now");
    else
        snprintf(when, sizeof when, "on %s",
                 pu_fmt_date(t, ended, sizeof ended));
    pu_fmt_date(end, ended, sizeof ended);
    bool has_succ = u.successor.ptr != NULL && u.successor.len > 0;
    if (has_succ)
        pu_cstr(u.successor, succ, sizeof succ);
    pu_fmt_ended(msg, sizeof msg, "unit", cs, when, u.ended_by,
                 has_succ ? succ : NULL, ended);
    /* Where its households are then: the unit to ask instead. */
    struct ev_str to;
    rc = host->unit_map(ctx, code, t, t, &to);
    if (rc != 0 && rc != POVTRACK_NOTFOUND) {
        snprintf(err, errlen, "internal error: unit registry");
        return POVTRACK_EIO;
    }
    bool has_dest = rc == 0 && to.len > 0 && to.len <= PU_UNIT_W;
    if (has_dest)
        pu_cstr(to, dest, sizeof dest);
    bool before = period_end < end;
    if (has_dest && before)
        snprintf(hint, sizeof hint, "; ask for %s, or give as_of before %s",
                 dest, ended);
    else if (has_dest)
        snprintf(hint, sizeof hint, "; ask for %s", dest);
    else if (before)
        snprintf(hint, sizeof hint, "; give as_of before %s", ended);
    else
        hint[0] = '\0';
    snprintf(err, errlen, "%s%s", msg, hint);
    return POVTRACK_EINVALID;
}

/* ---- regrouping into the units of one instant ---- */

/*
 * Which units' own records count in one unit as the units stand at one
 * instant (a query's as_of): a record filed under unit c counts in U at T
 * when c's households are, at T, in U or below.  c is read as it stood at
 * "from" (its last span before then when it had ended), followed through
 * merges, splits (to the part that keeps the code, else the first
 * successor) and abolitions (to the parent) to a unit in force at T
 * (host unit_map), whose ancestors at T are then read.  A unit with no
 * span before "from" leads nowhere: its records count in no unit.
 *
 * A code ends once and is never used again, so for records dated while
 * their unit was in force the answer does not depend on the record's date:
 * plugins pass from = T for all their records, and poverty the end of the
 * year regrouped (a status may be recorded for an earlier year than its
 * unit).  The answer is kept per code for the life of the struct (one
 * query), so that a query visits the registry once per unit with records,
 * however many records or days it sums.
 */
struct pu_regroup {
    const struct povtrack_host *host;
    povtrack_ctx *ctx;
    uint8_t unit[PU_UNIT_W]; /* U */
    int64_t from, at;        /* records' units read at from, mapped to at */
    struct pu_units chains;  /* chains at "at" */
    uint8_t (*key)[PU_UNIT_W];
    int8_t *val; /* -1 empty slot, 0 not in U, 1 in U */
    size_t cap, n;
};

static inline void pu_regroup_init(struct pu_regroup *g,
                                   const struct povtrack_host *host,
                                   povtrack_ctx *ctx, const uint8_t *unit,
                                   int64_t from, int64_t at)
{
    memset(g, 0, sizeof *g);
    g->host = host;
    g->ctx = ctx;
    memcpy(g->unit, unit, PU_UNIT_W);
    /* Spans end open: the last instant a unit can be in force is before
     * INT64_MAX. */
    g->from = from < INT64_MAX ? from : INT64_MAX - 1;
    g->at = at < INT64_MAX ? at : INT64_MAX - 1;
}

static inline void pu_regroup_free(struct pu_regroup *g)
{
    pu_units_free(&g->chains);
    free(g->key);
    free(g->val);
    g->key = NULL;
    g->val = NULL;
    g->cap = g->n = 0;
}

/* The slot of code: its own when present, else the empty one to fill. */
static inline size_t pu_regroup_slot(const struct pu_regroup *g,
                                     const uint8_t *code)
{
    size_t i = pu_units_hash(code) & (g->cap - 1);
    while (g->val[i] >= 0 && memcmp(g->key[i], code, PU_UNIT_W) != 0)
        i = (i + 1) & (g->cap - 1);
    return i;
}

/* Remember code's answer; out of memory only means it is asked again. */
static inline void pu_regroup_keep(struct pu_regroup *g, const uint8_t *code,
                                   bool in)
{
    if ((g->n + 1) * 2 > g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 64;
        uint8_t(*key)[PU_UNIT_W] = calloc(cap, sizeof *key);
        int8_t *val = malloc(cap * sizeof *val);
        if (key == NULL || val == NULL) {
            free(key);
            free(val);
            return;
        }
        memset(val, -1, cap * sizeof *val);
        struct pu_regroup old = *g;
        g->key = key;
        g->val = val;
        g->cap = cap;
        g->n = 0;
        for (size_t i = 0; i < old.cap; i++)
            if (old.val[i] >= 0)
                pu_regroup_keep(g, old.key[i], old.val[i] != 0);
        free(old.key);
        free(old.val);
    }
    size_t i = pu_regroup_slot(g, code);
    if (g->val[i] < 0) {
        memcpy(g->key[i], code, PU_UNIT_W);
        g->n++;
    }
    g->val[i] = in ? 1 : 0;
}

/* Whether the records of code (a PU_UNIT_W key field) count in g->unit at
 * g->at: 0 with *in set, or the registry's error (logged). */
static inline int pu_regroup_in(struct pu_regroup *g, const uint8_t *code,
                                bool *in)
{
    if (g->cap > 0) {
        size_t i = pu_regroup_slot(g, code);
        if (g->val[i] >= 0) {
            *in = g->val[i] != 0;
            return 0;
        }
    }
    struct ev_str c = pu_get_unit(code), to;
    struct pu_chain ch;
    *in = false;
    int rc = 0;
    if (g->host->size < POVTRACK_HOST_SIZE_UNITS) {
        rc = POVTRACK_EIO;
    } else if (g->from == g->at) {
        /* pu_ancestors maps a unit not in force at "at" itself. */
        rc = pu_ancestors_cached_at(g->host, g->ctx, &g->chains, c, g->at, &ch);
    } else {
        rc = g->host->unit_map(g->ctx, c, g->from, g->at, &to);
        if (rc == 0)
            rc = pu_ancestors_cached_at(g->host, g->ctx, &g->chains, to, g->at,
                                        &ch);
    }
    if (rc == 0) {
        for (int i = 0; i < ch.n && !*in; i++)
            *in = memcmp(ch.code[i], g->unit, PU_UNIT_W) == 0;
    } else if (rc != POVTRACK_NOTFOUND) {
        g->host->log(g->ctx, POVTRACK_LOG_ERROR,
                     "unit registry: regrouping %.*s failed: %s", (int)c.len,
                     c.ptr, pu_strerror(g->host, rc));
        return rc;
    }
    pu_regroup_keep(g, code, *in);
    return 0;
}

/* ---- a scan, copied ---- */

/*
 * The entries of a scan copied out of the map, so that the caller may call
 * the host (the registry, get) for each of them: a scan callback's key and
 * value die at the next host call.  An as_of query scans a plugin's own
 * keys this way, then asks pu_regroup_in of each entry's unit.  Each
 * entry is stored as u16 klen, u32 vlen, key, value.
 */
struct pu_copied {
    uint8_t *buf;
    size_t len, cap;
    size_t n;
    int err;
};

static inline int pu_copied_cb(void *arg, const void *key, size_t klen,
                               const void *val, size_t vlen)
{
    struct pu_copied *c = arg;
    size_t need = 6 + klen + vlen;
    if (klen > UINT16_MAX || vlen > UINT32_MAX) {
        c->err = POVTRACK_EFORMAT;
        return 1;
    }
    if (c->len + need > c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 4096;
        while (cap < c->len + need)
            cap *= 2;
        uint8_t *b = realloc(c->buf, cap);
        if (b == NULL) {
            c->err = POVTRACK_ENOMEM;
            return 1;
        }
        c->buf = b;
        c->cap = cap;
    }
    uint8_t *e = c->buf + c->len;
    e[0] = (uint8_t)(klen >> 8);
    e[1] = (uint8_t)klen;
    for (int i = 0; i < 4; i++)
        e[2 + i] = (uint8_t)(vlen >> (24 - 8 * i));
    memcpy(e + 6, key, klen);
    if (vlen > 0)
        memcpy(e + 6 + klen, val, vlen);
    c->len += need;
    c->n++;
    return 0;
}

/* Copy every entry of [from, to) (to NULL: to the end) into c (start from
 * {0}; free with pu_copied_free).  0, or the host's or a memory error
 * (logged). */
static inline int pu_scan_copied(const struct povtrack_host *host,
                                 povtrack_ctx *ctx, const void *from,
                                 size_t flen, const void *to, size_t tlen,
                                 struct pu_copied *c)
{
    int rc = host->scan(ctx, from, flen, to, tlen, pu_copied_cb, c);
    if (c->err != 0)
        rc = c->err;
    if (rc == POVTRACK_NOTFOUND || rc == 0)
        return 0;
    host->log(ctx, POVTRACK_LOG_ERROR, "state scan failed: %s",
              pu_strerror(host, rc));
    return rc;
}

/* The entry at *off (start from 0): its key and value; false at the end. */
static inline bool pu_copied_next(const struct pu_copied *c, size_t *off,
                                  const uint8_t **key, size_t *klen,
                                  const uint8_t **val, size_t *vlen)
{
    if (*off >= c->len)
        return false;
    const uint8_t *e = c->buf + *off;
    *klen = (size_t)e[0] << 8 | e[1];
    *vlen = (size_t)e[2] << 24 | (size_t)e[3] << 16 | (size_t)e[4] << 8 | e[5];
    *key = e + 6;
    *val = e + 6 + *klen;
    *off += 6 + *klen + *vlen;
    return true;
}

static inline void pu_copied_free(struct pu_copied *c)
{
    free(c->buf);
    memset(c, 0, sizeof *c);
}

/* ---- as_of queries ---- */

/*
 * The date of a query and its unit on it, the rule of every plugin:
 * period_end is the last instant of the period asked (the end of its
 * year, its "to" - 1; INT64_MAX: none, read as "now").  With as_of, the
 * period must end by it, as regrouping runs forward only ("as_of: must not
 * be before " period, e.g. "the end of 2024" or "to").  The unit must then
 * be in force on the query's date, as_of or else period_end
 * (pu_check_query_unit).  Returns 0, POVTRACK_EINVALID or POVTRACK_EIO,
 * err set.
 */
static inline int pu_check_query_date(const struct povtrack_host *host,
                                      povtrack_ctx *ctx, struct ev_str unit,
                                      bool has_as_of, int64_t as_of,
                                      int64_t period_end, const char *period,
                                      char *err, size_t errlen)
{
    if (has_as_of && period_end != INT64_MAX && as_of < period_end) {
        snprintf(err, errlen, "as_of: must not be before %s", period);
        return POVTRACK_EINVALID;
    }
    return pu_check_query_unit(host, ctx, unit, has_as_of ? as_of : period_end,
                               period_end, err, errlen);
}

/* pu_check_query_date for a query by year (has_year false: a query
 * without a period, read as "now"). */
static inline int pu_check_query_year(const struct povtrack_host *host,
                                      povtrack_ctx *ctx, struct ev_str unit,
                                      bool has_as_of, int64_t as_of,
                                      bool has_year, int64_t year, char *err,
                                      size_t errlen)
{
    char period[48];
    snprintf(period, sizeof period, "the end of %lld", (long long)year);
    return pu_check_query_date(host, ctx, unit, has_as_of, as_of,
                               has_year ? pu_year_end(year) : INT64_MAX, period,
                               err, errlen);
}

/* What pu_regroup_scan hands over: one entry, copied. */
typedef int (*pu_regroup_fn)(void *arg, const uint8_t *key, size_t klen,
                             const uint8_t *val, size_t vlen);

/*
 * Every entry of [from, to) whose unit (the PU_UNIT_W bytes at unit_off in
 * its key) counts in g's unit (pu_regroup_in), handed to fn; the entries
 * are copied out of the map first, so that fn may call the host.  A key
 * shorter than its unit field, or not klen bytes when klen is not 0, is a
 * corrupt state: POVTRACK_EIO.  fn returns 0 to go on; anything else stops
 * the walk and is returned.  Returns 0, fn's value or the host's error.
 * This is how an as_of query reads a plugin's own figures.
 */
static inline int pu_regroup_scan(struct pu_regroup *g, const void *from,
                                  size_t flen, const void *to, size_t tlen,
                                  size_t unit_off, size_t klen,
                                  pu_regroup_fn fn, void *arg)
{
    struct pu_copied c = {0};
    size_t off = 0, kl, vl;
    const uint8_t *k, *v;
    int rc = pu_scan_copied(g->host, g->ctx, from, flen, to, tlen, &c);
    while (rc == 0 && pu_copied_next(&c, &off, &k, &kl, &v, &vl)) {
        bool in;
        if (kl < unit_off + PU_UNIT_W || (klen != 0 && kl != klen))
            rc = POVTRACK_EIO;
        else if ((rc = pu_regroup_in(g, k + unit_off, &in)) == 0 && in)
            rc = fn(arg, k, kl, v, vl);
    }
    pu_copied_free(&c);
    return rc;
}

/*
 * pu_regroup_scan over one kind of a plugin's own keys: prefix unit[5] ...
 * (has_year false) or prefix year[8] unit[5] ... (the keys of that year).
 * klen as for pu_regroup_scan.
 */
static inline int pu_regroup_keys(struct pu_regroup *g, char prefix,
                                  bool has_year, int64_t year, size_t klen,
                                  pu_regroup_fn fn, void *arg)
{
    uint8_t from[9] = {(uint8_t)prefix}, to[9] = {(uint8_t)prefix};
    size_t len = has_year ? 9 : 1;
    if (has_year) {
        pu_put_key_i64(from + 1, year);
        pu_put_key_i64(to + 1, year + 1);
    } else {
        to[0]++; /* just past every key of the prefix */
    }
    return pu_regroup_scan(g, from, len, to, len, len, klen, fn, arg);
}

/* Sums of values that are n big-endian i64 each: the arg of pu_sums_add. */
struct pu_sums {
    int64_t *v;
    int n;
};

/* A pu_regroup_fn adding an entry's value to the sums (POVTRACK_EIO when
 * it is not n i64). */
static inline int pu_sums_add(void *arg, const uint8_t *key, size_t klen,
                              const uint8_t *val, size_t vlen)
{
    struct pu_sums *s = arg;
    (void)key;
    (void)klen;
    if (vlen != 8 * (size_t)s->n)
        return POVTRACK_EIO;
    for (int i = 0; i < s->n; i++)
        s->v[i] += pu_get_i64(val + 8 * i);
    return 0;
}

/* Byte order of two byte strings, a prefix first: the order of LMDB keys,
 * for lists merged from several scans. */
static inline int pu_cmp_bytes(const void *a, size_t alen, const void *b,
                               size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    return c != 0 ? c : (alen > blen) - (alen < blen);
}

/* ---- packing ---- */

static inline int pu_pack_str(msgpack_packer *pk, const char *s, size_t len)
{
    /* Non-zero from the packer's writer: it could not take the bytes. */
    if (msgpack_pack_str(pk, len) != 0 ||
        msgpack_pack_str_body(pk, s, len) != 0)
        return POVTRACK_ENOMEM;
    return 0;
}

static inline int pu_pack_key(msgpack_packer *pk, const char *s)
{
    return pu_pack_str(pk, s, strlen(s));
}

static inline int pu_pack_opt_i64(msgpack_packer *pk, bool known, int64_t v)
{
    return known ? msgpack_pack_int64(pk, v) : msgpack_pack_nil(pk);
}

static inline int pu_pack_opt_double(msgpack_packer *pk, bool known, double v)
{
    return known ? msgpack_pack_double(pk, v) : msgpack_pack_nil(pk);
}

/* Percent num/den, packed as a double; nil when den is 0 (no base). */
static inline int pu_pack_percent(msgpack_packer *pk, int64_t num, int64_t den)
{
    return pu_pack_opt_double(
        pk, den != 0, den != 0 ? 100.0 * (double)num / (double)den : 0.0);
}

/* Format v with thousands separators ("150,000,000") for messages. */
static inline const char *pu_fmt_thousands(int64_t v, char *buf, size_t n)
{
    char digits[32];
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    int nd = snprintf(digits, sizeof digits, "%llu", (unsigned long long)u);
    size_t o = 0;
    if (v < 0 && o + 1 < n)
        buf[o++] = '-';
    for (int i = 0; i < nd && o + 1 < n; i++) {
        if (i > 0 && (nd - i) % 3 == 0 && o + 2 < n)
            buf[o++] = ',';
        buf[o++] = digits[i];
    }
    buf[o] = '\0';
    return buf;
}

/* ---- voids and corrections ---- */

/* A record.voided or record.corrected the host handed over (the plugin's
 * event_mask has their bits and the target's type's): *was, the record it
 * takes back as it stood; *corrected, whether it is a correction, and
 * then *now, the corrected record as a record of the target's type.  What
 * to do: uncount *was where it was counted (registry version
 * rec->replaced_units_seq, record rec->replaced_seq), then, when
 * *corrected, count *now as a record of its own at rec->seq.  0, or
 * POVTRACK_EIO when the host gave no record taken back (every host that
 * hands amendments over gives one). */
static inline int pu_amendment(const struct povtrack_record *rec,
                               const struct ev_event **was,
                               struct ev_event *now, bool *corrected)
{
    if (rec->size < POVTRACK_RECORD_SIZE_REPLACED || rec->replaced == NULL)
        return POVTRACK_EIO;
    *was = rec->replaced;
    *corrected = rec->event->type == EV_RECORD_CORRECTED;
    *now = *rec->event;
    now->type = now->data.target_type;
    return 0;
}

#endif /* POVTRACK_PLUGIN_UTIL_H */
