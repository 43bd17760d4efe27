/*
 * poverty_state.c - reading and writing the poverty plugin's keys; the
 * layouts are described in poverty_state.h.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <povtrack/plugin_util.h>
#include "poverty_state.h"
#include <povtrack/plugin.h>

/* The 9-byte prefix of year's keys. */
static void yprefix(uint8_t *k, char prefix, int64_t year)
{
    k[0] = (uint8_t)prefix;
    pu_put_key_i64(k + 1, year);
}

/* ---- the layout marker and the dirty years ---- */

static int first_key_fn(void *arg, const void *key, size_t klen,
                        const void *val, size_t vlen)
{
    (void)key;
    (void)klen;
    (void)val;
    (void)vlen;
    *(bool *)arg = true;
    return 1;
}

int pov_meta_load(struct poverty *p, povtrack_ctx *ctx, bool writable,
                  int64_t *dirty_from)
{
    const void *v;
    size_t vlen;
    uint8_t key = 'M';
    *dirty_from = POV_CLEAN;
    int rc = pu_get(p->host, ctx, &key, 1, &v, &vlen);
    if (rc < 0)
        return rc;
    if (rc == 1) {
        const uint8_t *b = v;
        if (vlen != POV_M_VLEN || b[0] != POV_LAYOUT) {
            p->host->log(ctx, POVTRACK_LOG_ERROR,
                         "poverty: state layout %u is not %d: rebuild it "
                         "with 'povtrack rebuild poverty'",
                         vlen > 0 ? (unsigned)b[0] : 0u, POV_LAYOUT);
            return POVTRACK_EFORMAT;
        }
        *dirty_from = pu_get_i64(b + 8);
        return 0;
    }
    bool any = false;
    rc = p->host->scan(ctx, "", 0, NULL, 0, first_key_fn, &any);
    if (rc != 0 && !any) {
        p->host->log(ctx, POVTRACK_LOG_ERROR, "poverty: state scan failed: %s",
                     pu_strerror(p->host, rc));
        return POVTRACK_EIO;
    }
    if (any) {
        p->host->log(ctx, POVTRACK_LOG_ERROR,
                     "poverty: the state was written by an older version "
                     "(no layout marker): rebuild it with 'povtrack "
                     "rebuild poverty'");
        return POVTRACK_EFORMAT;
    }
    if (!writable)
        return 0;
    uint8_t m[POV_M_VLEN] = {POV_LAYOUT};
    pu_put_i64(m + 8, POV_CLEAN);
    return pu_put(p->host, ctx, &key, 1, m, sizeof m);
}

int pov_meta_put(struct poverty *p, povtrack_ctx *ctx, int64_t dirty_from)
{
    uint8_t key = 'M', m[POV_M_VLEN] = {POV_LAYOUT};
    pu_put_i64(m + 8, dirty_from);
    return pu_put(p->host, ctx, &key, 1, m, sizeof m);
}

/* ---- counters and denominators ---- */

int pov_counters_get(struct poverty *p, povtrack_ctx *ctx, char prefix,
                     int64_t year, const uint8_t *unit, int64_t c[C_COUNT])
{
    uint8_t k[POV_YKEY_LEN];
    const void *v;
    size_t vlen;
    pov_ykey(k, prefix, year, unit);
    memset(c, 0, sizeof(int64_t) * C_COUNT);
    int rc = pu_get(p->host, ctx, k, sizeof k, &v, &vlen);
    if (rc <= 0)
        return rc;
    if (vlen != POV_C_VLEN) {
        p->host->log(ctx, POVTRACK_LOG_ERROR,
                     "poverty: bad counter value (%zu bytes; a state of an "
                     "older version must be rebuilt: povtrack rebuild poverty)",
                     vlen);
        return POVTRACK_EIO;
    }
    for (int i = 0; i < C_COUNT; i++)
        c[i] = pu_get_i64((const uint8_t *)v + 8 * i);
    return 0;
}

int pov_counters_add(struct poverty *p, povtrack_ctx *ctx, char prefix,
                     int64_t year, const uint8_t *unit,
                     const int64_t d[C_COUNT])
{
    int64_t c[C_COUNT];
    int rc = pov_counters_get(p, ctx, prefix, year, unit, c);
    if (rc != 0)
        return rc;
    uint8_t k[POV_YKEY_LEN], v[POV_C_VLEN];
    for (int i = 0; i < C_COUNT; i++)
        pu_put_i64(v + 8 * i, c[i] + d[i]);
    pov_ykey(k, prefix, year, unit);
    return pu_put(p->host, ctx, k, sizeof k, v, sizeof v);
}

int pov_start_get(struct poverty *p, povtrack_ctx *ctx, int64_t year,
                  const uint8_t *unit, int64_t b[B_COUNT])
{
    uint8_t k[POV_YKEY_LEN];
    const void *v;
    size_t vlen;
    pov_ykey(k, 'B', year, unit);
    memset(b, 0, sizeof(int64_t) * B_COUNT);
    int rc = pu_get(p->host, ctx, k, sizeof k, &v, &vlen);
    if (rc <= 0)
        return rc;
    if (vlen != POV_B_VLEN) {
        p->host->log(ctx, POVTRACK_LOG_ERROR, "poverty: bad 'B' value");
        return POVTRACK_EIO;
    }
    for (int i = 0; i < B_COUNT; i++)
        b[i] = pu_get_i64((const uint8_t *)v + 8 * i);
    return 0;
}

int pov_start_add(struct poverty *p, povtrack_ctx *ctx, int64_t year,
                  const uint8_t *unit, const int64_t d[B_COUNT])
{
    int64_t b[B_COUNT];
    int rc = pov_start_get(p, ctx, year, unit, b);
    if (rc != 0)
        return rc;
    uint8_t k[POV_YKEY_LEN], v[POV_B_VLEN];
    for (int i = 0; i < B_COUNT; i++)
        pu_put_i64(v + 8 * i, b[i] + d[i]);
    pov_ykey(k, 'B', year, unit);
    return pu_put(p->host, ctx, k, sizeof k, v, sizeof v);
}

/* ---- years of reorganisation ---- */

static void ekey(uint8_t *k, int64_t year)
{
    k[0] = 'E';
    pu_put_key_i64(k + 1, year);
}

int pov_reform_year(struct poverty *p, povtrack_ctx *ctx, int64_t year)
{
    uint8_t k[9];
    const void *v;
    size_t vlen;
    ekey(k, year);
    return pu_get(p->host, ctx, k, sizeof k, &v, &vlen);
}

int pov_reform_mark(struct poverty *p, povtrack_ctx *ctx, int64_t year)
{
    uint8_t k[9];
    ekey(k, year);
    return pu_put(p->host, ctx, k, sizeof k, "", 0);
}

int pov_denom_get(struct poverty *p, povtrack_ctx *ctx, int64_t year,
                  const uint8_t *unit, struct pov_denom *n)
{
    uint8_t k[POV_YKEY_LEN];
    const void *v;
    size_t vlen;
    pov_ykey(k, 'N', year, unit);
    memset(n, 0, sizeof *n);
    int rc = pu_get(p->host, ctx, k, sizeof k, &v, &vlen);
    if (rc <= 0)
        return rc;
    if (vlen != POV_N_VLEN) {
        p->host->log(ctx, POVTRACK_LOG_ERROR, "poverty: bad households value");
        return POVTRACK_EIO;
    }
    const uint8_t *b = v;
    n->has_published = b[0] != 0;
    n->published = pu_get_i64(b + 8);
    n->childsum = pu_get_i64(b + 16);
    n->childknown = pu_get_i64(b + 24);
    return 0;
}

int pov_denom_put(struct poverty *p, povtrack_ctx *ctx, int64_t year,
                  const uint8_t *unit, const struct pov_denom *n)
{
    uint8_t k[POV_YKEY_LEN], v[POV_N_VLEN] = {0};
    pov_ykey(k, 'N', year, unit);
    v[0] = n->has_published ? 1 : 0;
    pu_put_i64(v + 8, n->published);
    pu_put_i64(v + 16, n->childsum);
    pu_put_i64(v + 24, n->childknown);
    return pu_put(p->host, ctx, k, sizeof k, v, sizeof v);
}

/* ---- scanning a year ---- */

static int coll_fn(void *arg, const void *key, size_t klen, const void *val,
                   size_t vlen)
{
    struct pov_coll *c = arg;
    size_t esz = PU_UNIT_W + c->vlen;
    if (klen != POV_YKEY_LEN || (c->vlen != 0 && vlen != c->vlen)) {
        c->err = POVTRACK_EFORMAT;
        return 1;
    }
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        uint8_t *b = realloc(c->buf, cap * esz);
        if (b == NULL) {
            c->err = POVTRACK_EIO;
            return 1;
        }
        c->buf = b;
        c->cap = cap;
    }
    uint8_t *e = c->buf + c->n * esz;
    memcpy(e, (const uint8_t *)key + 9, PU_UNIT_W);
    if (c->vlen != 0)
        memcpy(e + PU_UNIT_W, val, c->vlen);
    c->n++;
    return 0;
}

int pov_coll_year(const struct povtrack_host *host, povtrack_ctx *ctx,
                  char prefix, int64_t year, struct pov_coll *c)
{
    uint8_t from[9], to[9];
    yprefix(from, prefix, year);
    yprefix(to, prefix, year + 1);
    c->buf = NULL;
    c->n = c->cap = 0;
    c->err = 0;
    int rc = host->scan(ctx, from, sizeof from, to, sizeof to, coll_fn, c);
    if (c->err == POVTRACK_EFORMAT) {
        host->log(ctx, POVTRACK_LOG_ERROR, "poverty: bad '%c' entry of %lld",
                  prefix, (long long)year);
        return POVTRACK_EIO;
    }
    if (c->err != 0 || rc != 0) {
        host->log(ctx, POVTRACK_LOG_ERROR,
                  "poverty: scan of '%c' %lld failed: %s", prefix,
                  (long long)year,
                  pu_strerror(host, c->err != 0 ? c->err : rc));
        return POVTRACK_EIO;
    }
    return 0;
}

int pov_del_year(struct poverty *p, povtrack_ctx *ctx, char prefix,
                 int64_t year)
{
    struct pov_coll c = {.vlen = 0};
    int rc = pov_coll_year(p->host, ctx, prefix, year, &c);
    for (size_t i = 0; rc == 0 && i < c.n; i++) {
        uint8_t k[POV_YKEY_LEN];
        pov_ykey(k, prefix, year, pov_coll_at(&c, i));
        rc = pu_del(p->host, ctx, k, sizeof k);
    }
    free(c.buf);
    return rc;
}
