/*
 * commendations.c - the built-in "commendations" plugin: collectives and
 * individuals commended for poverty reduction (plan III.4: the Provincial
 * People's Committee "commends and rewards outstanding collectives and
 * individuals"), who, by whom, when and at which level, listed per unit
 * and period for the report.
 *
 * Every commendation.awarded is one commendation (its id is the log's):
 * listed in the unit of its event and every ancestor, as the hierarchy
 * stood at its "at" (the registry as the log stood when it was applied);
 * nothing takes one back.
 *
 * Query q {"unit", "year"? | "from"? "to"?, "as_of"?, "limit"?} ->
 * {"unit", "as_of"?, "year"?, "commendations", "collectives", "individuals",
 * "by_level":
 * {"central", "province", "district", "commune"}, "list": [{"recipient",
 * "recipient_kind", "awarded_by", "level", "decision", "at", "unit"}],
 * "more"}: the commendations of the period in the unit or below (all
 * time without one), counted in full and listed by time, then log order,
 * at most limit (default 100, 1-1000) of them; "more" is how many were
 * left out.  "unit" in the list is the unit of the event.
 *
 * Units over time, as every plugin (plugin_util.h): the query's date is
 * its as_of, else the end of its period (now without one), and a unit
 * that had ended by then is refused in the ingest's words with where to
 * ask instead (pu_check_query_date).  as_of T (the period must end by it;
 * without "to" it ends at T) lists the period's commendations on the
 * units in force at T: those of every unit whose households are at T in
 * the unit asked or below (pu_regroup), so Lam Dong's 2025 (68, as of the
 * end of 2025) lists those awarded in Binh Thuan before the merger.  It
 * reads each unit's own ('o').
 *
 * State (integers big-endian, times in keys sign-flipped, unit codes
 * NUL-padded to 5 bytes):
 *   'C' unit[5] at[8] seq[8] -> u8 recipient_kind, u8 level, u16
 *        recipient len, u16 awarded_by len, u16 decision len (0: none),
 *        unit[5] of the event, 3 zero, recipient, awarded_by, decision
 *   'o' at[8] seq[8] unit[5] -> the same, under the event's unit alone
 *        (not its ancestors): what as_of regroups
 *
 * Layout 1 (version 1.0) had no own records: the host rebuilds it at
 * start (state_layout 2).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <povtrack/plugin_util.h>

#include "../plan/plan_util.h"

#define CM_WHO "commendations"
#define CM_HDR 16
#define CM_KEY (1 + PU_UNIT_W + 8 + 8)
#define CM_OWN_UNIT 17 /* the unit's offset in an own key 'o' */
#define CM_LIMIT_DEFAULT 100
#define CM_LIMIT_MAX 1000

static int cm_apply(void *state, povtrack_ctx *ctx,
                    const struct povtrack_record *rec)
{
    struct pl_plugin *c = state;
    const struct ev_event *ev = rec->event;
    const struct ev_data *d = &ev->data;
    struct pu_chain ch;
    if (ev->type != EV_COMMENDATION_AWARDED)
        return 0; /* not in the mask */
    int rc =
        pu_ancestors_cached_at(c->host, ctx, &c->units, ev->unit, ev->at, &ch);
    if (rc != 0)
        return rc == POVTRACK_NOTFOUND ? POVTRACK_EIO : rc;
    uint32_t dl = d->decision.ptr != NULL ? d->decision.len : 0;
    size_t vl = CM_HDR + d->recipient.len + d->awarded_by.len + dl;
    uint8_t *v = calloc(1, vl);
    if (v == NULL)
        return POVTRACK_ENOMEM;
    v[0] = (uint8_t)d->recipient_kind;
    v[1] = (uint8_t)d->level;
    v[2] = (uint8_t)(d->recipient.len >> 8);
    v[3] = (uint8_t)d->recipient.len;
    v[4] = (uint8_t)(d->awarded_by.len >> 8);
    v[5] = (uint8_t)d->awarded_by.len;
    v[6] = (uint8_t)(dl >> 8);
    v[7] = (uint8_t)dl;
    rc = pu_put_unit(v + 8, ev->unit);
    memcpy(v + CM_HDR, d->recipient.ptr, d->recipient.len);
    memcpy(v + CM_HDR + d->recipient.len, d->awarded_by.ptr, d->awarded_by.len);
    if (dl > 0)
        memcpy(v + CM_HDR + d->recipient.len + d->awarded_by.len,
               d->decision.ptr, dl);
    uint8_t tail[16], k[CM_KEY];
    pu_put_key_i64(tail, ev->at);
    pu_put_u64(tail + 8, rec->seq);
    for (int i = 0; rc == 0 && i < ch.n; i++) {
        pl_unit_key(k, 'C', ch.code[i], tail, sizeof tail);
        rc = pu_put(c->host, ctx, k, sizeof k, v, vl);
    }
    /* The unit's own, for as_of: 'o' at seq unit, in the order of 'C'. */
    if (rc == 0) {
        k[0] = 'o';
        memcpy(k + 1, tail, sizeof tail);
        memcpy(k + CM_OWN_UNIT, v + 8, PU_UNIT_W);
        rc = pu_put(c->host, ctx, k, sizeof k, v, vl);
    }
    free(v);
    return rc;
}

/* ---- query ---- */

struct listing {
    size_t at_off; /* of "at" in the keys listed */
    int64_t total, kinds[3], levels[5];
    int64_t limit, listed;
    msgpack_sbuffer sb; /* the list's elements */
    msgpack_packer pk;
    bool bad;
};

static int list_cb(void *arg, const void *key, size_t klen, const void *val,
                   size_t vlen)
{
    struct listing *l = arg;
    const uint8_t *v = val;
    size_t rl = vlen >= CM_HDR ? (size_t)v[2] << 8 | v[3] : 0;
    size_t al = vlen >= CM_HDR ? (size_t)v[4] << 8 | v[5] : 0;
    size_t dl = vlen >= CM_HDR ? (size_t)v[6] << 8 | v[7] : 0;
    if (klen != CM_KEY || vlen != CM_HDR + rl + al + dl || v[0] < 1 ||
        v[0] > 2 || v[1] < 1 || v[1] > 4) {
        l->bad = true;
        return 1;
    }
    l->total++;
    l->kinds[v[0]]++;
    l->levels[v[1]]++;
    if (l->listed == l->limit)
        return 0;
    l->listed++;
    const char *s = (const char *)v + CM_HDR;
    struct ev_str decision = {dl > 0 ? s + rl + al : NULL, (uint32_t)dl};
    msgpack_packer *pk = &l->pk;
    int e = msgpack_pack_map(pk, 7);
    e |= pl_pack_text(pk, "recipient", (struct ev_str){s, (uint32_t)rl});
    e |= pu_pack_key(pk, "recipient_kind") |
         pu_pack_key(pk, ev_recipient_kind_name(v[0]));
    e |= pl_pack_text(pk, "awarded_by", (struct ev_str){s + rl, (uint32_t)al});
    e |= pu_pack_key(pk, "level") | pu_pack_key(pk, ev_level_name(v[1]));
    e |= pl_pack_text(pk, "decision", decision);
    e |=
        pl_pack_i64(pk, "at", pu_get_key_i64((const uint8_t *)key + l->at_off));
    e |= pl_pack_unit(pk, "unit", v + 8);
    if (e != 0) {
        l->bad = true;
        return 1;
    }
    return 0;
}

/* list_cb for an own entry 'o' at seq unit. */
static int own_list_cb(void *arg, const uint8_t *key, size_t klen,
                       const uint8_t *val, size_t vlen)
{
    return list_cb(arg, key, klen, val, vlen) != 0 ? POVTRACK_EIO : 0;
}

/* The period's commendations regrouped into unit as the units stand at
 * as_of: those of every unit whose households are then in it or below,
 * by time, then log order. */
static int list_regrouped(struct pl_plugin *c, povtrack_ctx *ctx,
                          const struct pl_listing *a, struct listing *l)
{
    struct pu_regroup g;
    uint8_t from[9] = {'o'}, to[9] = {'o'};
    pu_put_key_i64(from + 1, a->p.from);
    pu_put_key_i64(to + 1, a->p.to);
    l->at_off = 1;
    pu_regroup_init(&g, c->host, ctx, a->ch.code[0], a->as_of, a->as_of);
    int rc = pu_regroup_scan(&g, from, sizeof from, to, sizeof to, CM_OWN_UNIT,
                             CM_KEY, own_list_cb, l);
    pu_regroup_free(&g);
    return rc;
}

static int cm_query(void *state, povtrack_ctx *ctx, const msgpack_object *q,
                    msgpack_packer *pk, char *err, size_t errlen)
{
    struct pl_plugin *c = state;
    struct pl_listing a;
    int rc = pl_arg_listing(c->host, ctx, q, 'C', CM_LIMIT_DEFAULT,
                            CM_LIMIT_MAX, &a, err, errlen);
    if (rc != 0)
        return rc;
    struct listing l = {.at_off = 1 + PU_UNIT_W, .limit = a.limit};
    msgpack_sbuffer_init(&l.sb);
    msgpack_packer_init(&l.pk, &l.sb, msgpack_sbuffer_write);
    if (a.has_as_of)
        rc = list_regrouped(c, ctx, &a, &l);
    else
        rc = pl_scan(c->host, ctx, CM_WHO, a.from, sizeof a.from, a.to,
                     sizeof a.to, list_cb, &l);
    int e = rc != 0 || l.bad;
    if (!e) {
        e = msgpack_pack_map(pk, (a.p.has_year ? 8 : 7) + a.has_as_of);
        e |= pl_pack_unit(pk, "unit", a.ch.code[0]);
        e |= pl_pack_as_of(pk, a.has_as_of, a.as_of);
        if (a.p.has_year)
            e |= pl_pack_i64(pk, "year", a.p.year);
        e |= pl_pack_i64(pk, "commendations", l.total);
        e |= pl_pack_i64(pk, "collectives", l.kinds[EV_RECIPIENT_COLLECTIVE]);
        e |= pl_pack_i64(pk, "individuals", l.kinds[EV_RECIPIENT_INDIVIDUAL]);
        e |= pu_pack_key(pk, "by_level") | msgpack_pack_map(pk, 4);
        for (int v = EV_LEVEL_CENTRAL; v <= EV_LEVEL_COMMUNE; v++)
            e |= pl_pack_i64(pk, ev_level_name((enum ev_level)v), l.levels[v]);
        e |= pu_pack_key(pk, "list") |
             msgpack_pack_array(pk, (uint32_t)l.listed);
        if (e == 0 && l.sb.size > 0)
            e = pk->callback(pk->data, l.sb.data, l.sb.size);
        e |= pl_pack_i64(pk, "more", l.total - l.listed);
    }
    msgpack_sbuffer_destroy(&l.sb);
    return e != 0 ? pl_query_failed(err, errlen) : 0;
}

/* ---- the plugin ---- */

PL_PLUGIN_WITHOUT_SETTINGS(cm, CM_WHO);

/* state_layout: bump it when the stored values change. */
POVTRACK_PLUGIN(.name = "commendations", .version = "1.1.0",
                .event_mask = EV_TYPE_BIT(EV_COMMENDATION_AWARDED),
                .init = cm_init, .apply = cm_apply, .query = cm_query,
                .fini = pl_fini, .state_layout = 2, .config_map = cm_config);
