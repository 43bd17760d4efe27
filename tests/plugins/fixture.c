/*
 * fixture.c - see fixture.h.
 */
#define _XOPEN_SOURCE 700 /* nftw */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "fixture.h"

#include "ev_unit.h"
#include "st_log.h"

/* Every fixture event not about a specific time happens here. */
#define FX_AT_DEFAULT INT64_C(1704067200) /* 2024-01-01T00:00:00Z */

struct fx_item {
    char *bytes; /* canonical encoding; the decoded ev points into it */
    size_t len;
    msgpack_unpacked up;
    struct ev_event ev;
};

struct fx *fx_new(const char *plugins)
{
    struct fx *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    snprintf(fx->dir, sizeof fx->dir, "/tmp/povtrack-plugins-XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    fx->plugins = plugins;
    fx->received = INT64_C(1735689600000000); /* 2025-01-01, microseconds */
    return fx;
}

static int rm_entry(const char *path, const struct stat *sb, int flag,
                    struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void rm_tree(const char *path)
{
    if (access(path, F_OK) == 0)
        assert_int_equal(
            nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT), 0);
}

static void items_free(struct fx *fx)
{
    for (size_t i = 0; i < fx->n; i++) {
        msgpack_unpacked_destroy(&fx->items[i]->up);
        free(fx->items[i]->bytes);
        free(fx->items[i]);
    }
    fx->n = 0;
}

void fx_free(struct fx *fx)
{
    fx_host_close(fx);
    items_free(fx);
    free(fx->items);
    rm_tree(fx->dir);
    free(fx);
}

void fx_conf(struct fx *fx, const char *plugin, const char *key,
             const char *value)
{
    assert_true(fx->nconf < sizeof fx->conf / sizeof fx->conf[0]);
    snprintf(fx->conf[fx->nconf].plugin, sizeof fx->conf[0].plugin, "%s",
             plugin);
    snprintf(fx->conf[fx->nconf].key, sizeof fx->conf[0].key, "%s", key);
    snprintf(fx->conf[fx->nconf].value, sizeof fx->conf[0].value, "%s", value);
    fx->nconf++;
}

struct ev_str fx_ev_str(const char *s)
{
    struct ev_str r = {s, s != NULL ? (uint32_t)strlen(s) : 0};
    return r;
}

void fx_add(struct fx *fx, const struct ev_event *in)
{
    struct ev_event ev = *in;
    char id[32];
    if (ev.id.ptr == NULL) {
        snprintf(id, sizeof id, "fx-%u", ++fx->next_id);
        ev.id = fx_ev_str(id);
    }
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    assert_int_equal(ev_encode(&ev, &pk), 0);

    struct fx_item *it = calloc(1, sizeof *it);
    assert_non_null(it);
    it->len = sb.size;
    it->bytes = msgpack_sbuffer_release(&sb);
    msgpack_sbuffer_destroy(&sb);
    /* Decode what was encoded: the log and the host see only this. */
    msgpack_unpacked_init(&it->up);
    assert_int_equal(msgpack_unpack_next(&it->up, it->bytes, it->len, NULL),
                     MSGPACK_UNPACK_SUCCESS);
    struct ev_error err = {0};
    int rc = ev_decode(&it->up.data, INT64_MAX, &it->ev, &err);
    if (rc != POVTRACK_OK)
        fail_msg("fixture event %.*s invalid: %s", (int)ev.id.len, ev.id.ptr,
                 err.msg);

    if (fx->n == fx->cap) {
        fx->cap = fx->cap ? fx->cap * 2 : 64;
        fx->items = realloc(fx->items, fx->cap * sizeof *fx->items);
        assert_non_null(fx->items);
    }
    fx->items[fx->n++] = it;
}

void fx_commit(struct fx *fx)
{
    fx_host_close(fx);
    if (fx->n == 0)
        return;
    char path[PATH_MAX + 8], err[512] = "";
    snprintf(path, sizeof path, "%s/log", fx->dir);
    struct st_log *log = NULL;
    int rc = st_log_open(path, 0, &log, err, sizeof err);
    if (rc != 0)
        fail_msg("st_log_open %s: %s", path, err);

    struct st_item *items = calloc(fx->n, sizeof *items);
    assert_non_null(items);
    for (size_t i = 0; i < fx->n; i++) {
        items[i].ev = &fx->items[i]->ev;
        items[i].bytes = fx->items[i]->bytes;
        items[i].len = fx->items[i]->len;
        items[i].publisher = fx_ev_str("fixture");
    }
    rc = st_log_append_batch(log, fx->received, items, fx->n, st_check_refs,
                             NULL);
    fx->received += 1000000;
    if (rc != 0)
        fail_msg("st_log_append_batch: %s", st_strerror(rc));
    for (size_t i = 0; i < fx->n; i++)
        if (items[i].status != ST_ITEM_OK)
            fail_msg("fixture event %.*s not appended (status %d): %s",
                     (int)items[i].ev->id.len, items[i].ev->id.ptr,
                     (int)items[i].status, items[i].error);
    free(items);
    st_log_close(log);
    items_free(fx);
}

int fx_host_open(struct fx *fx, char *err, size_t errlen)
{
    assert_null(fx->host);
    free(fx->cfg);
    fx->cfg = calloc(1, sizeof *fx->cfg); /* large: keep it off the stack */
    assert_non_null(fx->cfg);
    struct pt_config *cfg = fx->cfg;
    assert_int_equal(pt_config_defaults(cfg), 0);
    snprintf(cfg->data_dir, sizeof cfg->data_dir, "%s", fx->dir);
    snprintf(cfg->plugin_dir, sizeof cfg->plugin_dir, "%s",
             POVTRACK_PLUGIN_DIR);
    cfg->log_level = 3; /* errors only: keep test output readable */
    if (pt_config_set_plugins(cfg, fx->plugins, err, errlen) != 0)
        fail_msg("pt_config_set_plugins: %s", err);
    for (size_t i = 0; i < fx->nconf; i++) {
        struct pt_plugin_conf *pc = NULL;
        for (size_t j = 0; j < cfg->nplugins; j++)
            if (strcmp(cfg->plugins[j].name, fx->conf[i].plugin) == 0)
                pc = &cfg->plugins[j];
        assert_non_null(pc);
        assert_int_equal(
            pt_plugin_conf_set(pc, fx->conf[i].key, fx->conf[i].value), 0);
    }
    if (pt_config_resolve(cfg, err, errlen) != 0)
        fail_msg("pt_config_resolve: %s", err);
    int rc = pt_host_open(cfg, &fx->host, err, errlen);
    if (rc != 0)
        fx->host = NULL;
    return rc;
}

void fx_host_close(struct fx *fx)
{
    if (fx->host != NULL)
        pt_host_close(fx->host);
    fx->host = NULL;
    free(fx->cfg);
    fx->cfg = NULL;
}

void fx_sync(struct fx *fx)
{
    fx_commit(fx);
    char err[512] = "";
    if (fx_host_open(fx, err, sizeof err) != 0)
        fail_msg("pt_host_open: %s", err);
    assert_int_equal(pt_host_catch_up_all(fx->host), 0);
}

void fx_drop_state(struct fx *fx)
{
    char path[PATH_MAX + 8];
    assert_null(fx->host);
    snprintf(path, sizeof path, "%s/state", fx->dir);
    rm_tree(path);
}

size_t fx_rebuild_one_by_one(struct fx *fx)
{
    fx_host_close(fx);
    fx_drop_state(fx);
    char err[512] = "";
    if (fx_host_open(fx, err, sizeof err) != 0)
        fail_msg("pt_host_open: %s", err);
    size_t applied, rounds = 0;
    do {
        assert_int_equal(pt_host_catch_up(fx->host, 1, &applied), 0);
        rounds++;
    } while (applied != 0);
    return rounds;
}

/* ---- event builders ---- */

static struct ev_event ev_base(enum ev_type type, int64_t at, const char *unit)
{
    struct ev_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = type;
    ev.at = at;
    ev.unit = fx_ev_str(unit);
    return ev;
}

void fx_unit(struct fx *fx, const char *code, const char *parent,
             enum ev_level level)
{
    char name[32];
    snprintf(name, sizeof name, "Unit %s", code);
    struct ev_event ev = ev_base(EV_UNIT_DEFINED, FX_AT_DEFAULT, code);
    ev.data.name = fx_ev_str(name);
    ev.data.parent = fx_ev_str(parent);
    ev.data.level = level;
    fx_add(fx, &ev);
}

void fx_unit_from(struct fx *fx, const char *code, const char *parent,
                  enum ev_level level, const char *name, int64_t effective)
{
    struct ev_event ev = ev_base(EV_UNIT_DEFINED, FX_AT_DEFAULT, code);
    ev.data.name = fx_ev_str(name);
    ev.data.parent = fx_ev_str(parent);
    ev.data.level = level;
    ev.data.has_effective = true;
    ev.data.effective = effective;
    fx_add(fx, &ev);
}

/* "a,b,c" into msgpack str objects pointing into list (kept by the caller
 * until fx_add has encoded them). */
static struct ev_codes codes_(char *list, msgpack_object *items)
{
    struct ev_codes c = {items, 0};
    if (list == NULL)
        return (struct ev_codes){NULL, 0};
    for (char *save = NULL, *tok = strtok_r(list, ",", &save); tok != NULL;
         tok = strtok_r(NULL, ",", &save)) {
        assert_true(c.n < EV_CODES_MAX);
        items[c.n].type = MSGPACK_OBJECT_STR;
        items[c.n].via.str.ptr = tok;
        items[c.n].via.str.size = (uint32_t)strlen(tok);
        c.n++;
    }
    return c;
}

void fx_changed(struct fx *fx, int64_t at, enum ev_change kind,
                int64_t effective, const char *predecessors,
                const char *successors, const char *name, const char *parent)
{
    char pbuf[EV_CODES_MAX * 6 + 1], sbuf[EV_CODES_MAX * 6 + 1];
    msgpack_object pitems[EV_CODES_MAX], sitems[EV_CODES_MAX];
    snprintf(pbuf, sizeof pbuf, "%s", predecessors);
    snprintf(sbuf, sizeof sbuf, "%s", successors != NULL ? successors : "");
    struct ev_codes preds = codes_(pbuf, pitems);
    struct ev_codes succs = codes_(successors != NULL ? sbuf : NULL, sitems);
    struct ev_str unit = ev_codes_at(preds, 0);
    char ubuf[8];
    if (kind == EV_CHANGE_MERGE)
        unit = ev_codes_at(succs, 0);
    snprintf(ubuf, sizeof ubuf, "%.*s", (int)unit.len, unit.ptr);
    struct ev_event ev = ev_base(EV_UNIT_CHANGED, at, ubuf);
    ev.data.change = kind;
    ev.data.has_effective = true;
    ev.data.effective = effective;
    ev.data.predecessors = preds;
    if (kind == EV_CHANGE_SPLIT)
        ev.data.successors = succs;
    else if (succs.n > 0)
        ev.data.successor = ev_codes_at(succs, 0);
    ev.data.name = fx_ev_str(name);
    ev.data.parent = fx_ev_str(parent);
    fx_add(fx, &ev);
}

void fx_exited(struct fx *fx, int64_t at, const char *unit, const char *hh,
               int64_t year, enum ev_exit reason)
{
    struct ev_event ev = ev_base(EV_HOUSEHOLD_EXITED, at, unit);
    ev.household = fx_ev_str(hh);
    ev.data.year = year;
    ev.data.exit_reason = reason;
    fx_add(fx, &ev);
}

void fx_moved(struct fx *fx, int64_t at, const char *from, const char *to,
              const char *hh)
{
    struct ev_event ev = ev_base(EV_HOUSEHOLD_MOVED, at, to);
    ev.household = fx_ev_str(hh);
    ev.data.from = fx_ev_str(from);
    fx_add(fx, &ev);
}

void fx_households(struct fx *fx, int64_t at, const char *unit, int64_t year,
                   int64_t households)
{
    struct ev_event ev = ev_base(EV_UNIT_HOUSEHOLDS, at, unit);
    ev.data.year = year;
    ev.data.households = households;
    fx_add(fx, &ev);
}

void fx_status(struct fx *fx, int64_t at, const char *unit, const char *hh,
               int64_t year, enum ev_status status)
{
    struct ev_event ev = ev_base(EV_HOUSEHOLD_STATUS, at, unit);
    ev.household = fx_ev_str(hh);
    ev.data.year = year;
    ev.data.status = status;
    fx_add(fx, &ev);
}

void fx_review(struct fx *fx, int64_t at, const char *unit, int64_t year)
{
    struct ev_event ev = ev_base(EV_REVIEW_CLOSED, at, unit);
    ev.data.year = year;
    fx_add(fx, &ev);
}

void fx_pledge(struct fx *fx, int64_t at, const char *unit, const char *pledge,
               int64_t amount, const char *donor)
{
    struct ev_event ev = ev_base(EV_DONATION_PLEDGED, at, unit);
    ev.data.pledge = fx_ev_str(pledge);
    ev.data.amount = amount;
    ev.data.donor = fx_ev_str(donor);
    ev.data.due = at + 30 * 86400;
    fx_add(fx, &ev);
}

void fx_received(struct fx *fx, int64_t at, const char *unit, int64_t amount,
                 const char *donor, const char *pledge)
{
    struct ev_event ev = ev_base(EV_DONATION_RECEIVED, at, unit);
    ev.data.amount = amount;
    ev.data.donor = fx_ev_str(donor);
    ev.data.donor_kind = EV_DONOR_ORGANISATION;
    ev.data.level = strlen(unit) == 2   ? EV_LEVEL_PROVINCE
                    : strlen(unit) == 3 ? EV_LEVEL_DISTRICT
                                        : EV_LEVEL_COMMUNE;
    ev.data.pledge = fx_ev_str(pledge);
    fx_add(fx, &ev);
}

void fx_disbursed(struct fx *fx, int64_t at, const char *unit, const char *hh,
                  int64_t amount, enum ev_purpose purpose)
{
    struct ev_event ev = ev_base(EV_FUND_DISBURSED, at, unit);
    ev.household = fx_ev_str(hh);
    ev.data.amount = amount;
    ev.data.purpose = purpose;
    ev.data.level = strlen(unit) == 2   ? EV_LEVEL_PROVINCE
                    : strlen(unit) == 3 ? EV_LEVEL_DISTRICT
                                        : EV_LEVEL_COMMUNE;
    fx_add(fx, &ev);
}

void fx_void(struct fx *fx, int64_t at, const char *unit, const char *target,
             enum ev_type type)
{
    struct ev_event ev = ev_base(EV_RECORD_VOIDED, at, unit);
    ev.data.target = fx_ev_str(target);
    ev.data.target_type = type;
    ev.data.remark = fx_ev_str("entered twice");
    fx_add(fx, &ev);
}

void fx_as_correction(struct fx *fx, const char *target)
{
    assert_true(fx->n > 0);
    struct fx_item *last = fx->items[--fx->n];
    struct ev_event ev = last->ev;
    ev.data.target_type = ev.type;
    ev.type = EV_RECORD_CORRECTED;
    ev.id.ptr = NULL;
    ev.data.target = fx_ev_str(target);
    ev.data.remark = fx_ev_str("wrong amount");
    fx_add(fx, &ev); /* encoded while last still holds the strings */
    msgpack_unpacked_destroy(&last->up);
    free(last->bytes);
    free(last);
}

/* ---- requests ---- */

static void pack_json(msgpack_packer *pk, json_t *j)
{
    const char *key;
    json_t *val;
    size_t i;
    switch (json_typeof(j)) {
    case JSON_OBJECT:
        msgpack_pack_map(pk, json_object_size(j));
        json_object_foreach(j, key, val)
        {
            msgpack_pack_str(pk, strlen(key));
            msgpack_pack_str_body(pk, key, strlen(key));
            pack_json(pk, val);
        }
        break;
    case JSON_ARRAY:
        msgpack_pack_array(pk, json_array_size(j));
        json_array_foreach(j, i, val) pack_json(pk, val);
        break;
    case JSON_STRING:
        msgpack_pack_str(pk, json_string_length(j));
        msgpack_pack_str_body(pk, json_string_value(j), json_string_length(j));
        break;
    case JSON_INTEGER:
        msgpack_pack_int64(pk, json_integer_value(j));
        break;
    case JSON_REAL:
        msgpack_pack_double(pk, json_real_value(j));
        break;
    case JSON_TRUE:
        msgpack_pack_true(pk);
        break;
    case JSON_FALSE:
        msgpack_pack_false(pk);
        break;
    case JSON_NULL:
        msgpack_pack_nil(pk);
        break;
    }
}

void fx_request(struct fx *fx, struct fx_reply *r, const char *json)
{
    assert_non_null(fx->host);
    json_error_t jerr;
    /* \u0000 allowed: tests send strings with NUL bytes as clients can. */
    json_t *j = json_loads(json, JSON_ALLOW_NUL, &jerr);
    if (j == NULL)
        fail_msg("bad test JSON %s: %s", json, jerr.text);
    msgpack_sbuffer req;
    msgpack_sbuffer_init(&req);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &req, msgpack_sbuffer_write);
    pack_json(&pk, j);
    json_decref(j);
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    assert_int_equal(msgpack_unpack_next(&up, req.data, req.size, NULL),
                     MSGPACK_UNPACK_SUCCESS);

    msgpack_sbuffer_init(&r->buf);
    msgpack_packer out;
    msgpack_packer_init(&out, &r->buf, msgpack_sbuffer_write);
    assert_int_equal(pt_host_request(fx->host, &up.data, &out), 0);
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_destroy(&req);

    msgpack_unpacked_init(&r->up);
    assert_int_equal(
        msgpack_unpack_next(&r->up, r->buf.data, r->buf.size, NULL),
        MSGPACK_UNPACK_SUCCESS);
    r->root = &r->up.data;
    assert_int_equal(r->root->type, MSGPACK_OBJECT_MAP);
}

void fx_assert_refused(struct fx *fx, const char *plugin, const char *q_json,
                       const char *want)
{
    struct fx_reply r;
    assert_string_equal(fx_query_error(fx, &r, plugin, q_json), want);
    fx_reply_free(&r);
}

void fx_reply_free(struct fx_reply *r)
{
    msgpack_unpacked_destroy(&r->up);
    msgpack_sbuffer_destroy(&r->buf);
}

static void query_json(char *buf, size_t n, const char *plugin,
                       const char *q_json)
{
    int len = snprintf(buf, n, "{\"op\":\"query\",\"plugin\":\"%s\",\"q\":%s}",
                       plugin, q_json);
    assert_true(len > 0 && (size_t)len < n);
}

static bool reply_ok(const msgpack_object *root)
{
    const msgpack_object *ok = fx_get(root, "ok");
    assert_int_equal(ok->type, MSGPACK_OBJECT_BOOLEAN);
    return ok->via.boolean;
}

const msgpack_object *fx_query(struct fx *fx, struct fx_reply *r,
                               const char *plugin, const char *q_json)
{
    char json[1024];
    query_json(json, sizeof json, plugin, q_json);
    fx_request(fx, r, json);
    if (!reply_ok(r->root)) {
        char msg[512];
        fail_msg("query %s failed: %s", json,
                 fx_str(r->root, "error", msg, sizeof msg));
    }
    const msgpack_object *res = fx_get(r->root, "result");
    assert_int_equal(res->type, MSGPACK_OBJECT_MAP);
    return res;
}

const char *fx_query_error(struct fx *fx, struct fx_reply *r,
                           const char *plugin, const char *q_json)
{
    char json[1024];
    query_json(json, sizeof json, plugin, q_json);
    fx_request(fx, r, json);
    assert_false(reply_ok(r->root));
    const msgpack_object *e = fx_get(r->root, "error");
    assert_int_equal(e->type, MSGPACK_OBJECT_STR);
    /* The reply buffer is not NUL-terminated: copy into the zone. */
    char *s = msgpack_zone_malloc(r->up.zone, e->via.str.size + 1);
    assert_non_null(s);
    memcpy(s, e->via.str.ptr, e->via.str.size);
    s[e->via.str.size] = '\0';
    return s;
}

/* ---- map access ---- */

const msgpack_object *fx_get(const msgpack_object *map, const char *key)
{
    assert_int_equal(map->type, MSGPACK_OBJECT_MAP);
    size_t n = strlen(key);
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
            memcmp(k->via.str.ptr, key, n) == 0)
            return &map->via.map.ptr[i].val;
    }
    fail_msg("reply has no key \"%s\"", key);
    return NULL;
}

int64_t fx_i64(const msgpack_object *map, const char *key)
{
    const msgpack_object *o = fx_get(map, key);
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        return (int64_t)o->via.u64;
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        return o->via.i64;
    fail_msg("\"%s\" is not an integer (type %d)", key, (int)o->type);
    return 0;
}

double fx_f64(const msgpack_object *map, const char *key)
{
    const msgpack_object *o = fx_get(map, key);
    if (o->type == MSGPACK_OBJECT_FLOAT64 || o->type == MSGPACK_OBJECT_FLOAT32)
        return o->via.f64;
    fail_msg("\"%s\" is not a float (type %d)", key, (int)o->type);
    return 0;
}

bool fx_is_nil(const msgpack_object *map, const char *key)
{
    return fx_get(map, key)->type == MSGPACK_OBJECT_NIL;
}

const char *fx_str(const msgpack_object *map, const char *key, char *buf,
                   size_t n)
{
    const msgpack_object *o = fx_get(map, key);
    if (o->type != MSGPACK_OBJECT_STR)
        fail_msg("\"%s\" is not a string (type %d)", key, (int)o->type);
    size_t len = o->via.str.size < n - 1 ? o->via.str.size : n - 1;
    memcpy(buf, o->via.str.ptr, len);
    buf[len] = '\0';
    return buf;
}

size_t fx_pack(const msgpack_object *o, char **out)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    assert_int_equal(msgpack_pack_object(&pk, *o), 0);
    size_t n = sb.size;
    *out = msgpack_sbuffer_release(&sb);
    msgpack_sbuffer_destroy(&sb);
    return n;
}

void fx_snap_add(struct fx_snap *s, const msgpack_object *o)
{
    assert_true(s->n < FX_SNAP_MAX);
    s->len[s->n] = fx_pack(o, &s->bytes[s->n]);
    s->n++;
}

void fx_snap_query(struct fx *fx, struct fx_snap *s, const char *plugin,
                   const char *q_json)
{
    struct fx_reply r;
    fx_snap_add(s, fx_query(fx, &r, plugin, q_json));
    fx_reply_free(&r);
}

void fx_snap_assert_equal(struct fx_snap *a, struct fx_snap *b)
{
    assert_int_equal(a->n, b->n);
    for (size_t i = 0; i < a->n; i++) {
        assert_int_equal(a->len[i], b->len[i]);
        assert_memory_equal(a->bytes[i], b->bytes[i], a->len[i]);
    }
    for (size_t i = 0; i < a->n; i++) {
        free(a->bytes[i]);
        free(b->bytes[i]);
    }
    a->n = b->n = 0;
}

size_t fx_snap_alerts(struct fx *fx, struct fx_snap *s)
{
    struct fx_reply r;
    fx_request(fx, &r, "{\"op\":\"alerts\",\"since\":0}");
    const msgpack_object *alerts = fx_get(r.root, "alerts");
    assert_int_equal(alerts->type, MSGPACK_OBJECT_ARRAY);
    size_t n = alerts->via.array.size;
    fx_snap_add(s, alerts);
    fx_reply_free(&r);
    return n;
}

void fx_snap_query_nonneg(struct fx *fx, struct fx_snap *s, const char *plugin,
                          const char *q_json)
{
    struct fx_reply r;
    const msgpack_object *res = fx_query(fx, &r, plugin, q_json);
    fx_assert_no_negative(res, q_json);
    fx_snap_add(s, res);
    fx_reply_free(&r);
}

/* ---- rebuilds ---- */

void fx_assert_rebuild_in_one_go_same(struct fx *fx,
                                      void (*snap)(struct fx *,
                                                   struct fx_snap *))
{
    struct fx_snap a = {0}, b = {0};
    assert_int_equal(fx->n, 0);
    snap(fx, &a);
    fx_host_close(fx);
    fx_drop_state(fx);
    fx_sync(fx);
    snap(fx, &b);
    fx_snap_assert_equal(&a, &b);
}

void fx_assert_rebuild_one_by_one_same(struct fx *fx,
                                       void (*snap)(struct fx *,
                                                    struct fx_snap *),
                                       size_t min_rounds)
{
    struct fx_snap a = {0}, b = {0};
    assert_int_equal(fx->n, 0);
    snap(fx, &a);
    size_t rounds = fx_rebuild_one_by_one(fx);
    if (rounds <= min_rounds)
        fail_msg("the rebuild took %zu transactions, want more than %zu: "
                 "not one record at a time",
                 rounds, min_rounds);
    snap(fx, &b);
    fx_snap_assert_equal(&a, &b);
}

void fx_assert_rebuild_same(struct fx *fx,
                            void (*snap)(struct fx *, struct fx_snap *),
                            size_t min_rounds)
{
    fx_assert_rebuild_in_one_go_same(fx, snap);
    fx_assert_rebuild_one_by_one_same(fx, snap, min_rounds);
}

void fx_tick(struct fx *fx, int64_t now)
{
    assert_non_null(fx->host);
    assert_int_equal(pt_host_tick(fx->host, now), 0);
}

/* ---- the 2025 reorganisation of units ---- */

const char *const fx_r25_codes[FX_R25_NCODES] = {"68",    "60",    "593",
                                                 "22921", "22924", "22936"};
const char *const fx_r25_old[FX_R25_NOLD] = {"22921", "593", "60"};
const char *const fx_r25_now[FX_R25_NNOW] = {"22924", "68"};

void fx_snap_r25(struct fx *fx, struct fx_snap *s, const char *plugin,
                 const char *const *tails, size_t ntails, bool nonneg)
{
    char q[384];
    for (size_t u = 0; u < FX_R25_NCODES; u++)
        for (size_t t = 0; t < ntails; t++) {
            struct fx_reply r;
            int len = snprintf(q, sizeof q,
                               "{\"op\":\"query\",\"plugin\":\"%s\",\"q\":"
                               "{\"unit\":\"%s\"%s}}",
                               plugin, fx_r25_codes[u], tails[t]);
            assert_true(len > 0 && (size_t)len < sizeof q);
            fx_request(fx, &r, q);
            /* A unit that had ended by the query's date is refused: the
             * refusal is an answer too. */
            const msgpack_object *ok = fx_get(r.root, "ok");
            assert_int_equal(ok->type, MSGPACK_OBJECT_BOOLEAN);
            const msgpack_object *res =
                fx_get(r.root, ok->via.boolean ? "result" : "error");
            if (nonneg && ok->via.boolean)
                fx_assert_no_negative(res, q);
            fx_snap_add(s, res);
            fx_reply_free(&r);
        }
}

void fx_r25_units(struct fx *fx)
{
    fx_unit(fx, "68", NULL, EV_LEVEL_PROVINCE);
    fx_unit(fx, "60", NULL, EV_LEVEL_PROVINCE);
    fx_unit(fx, "593", "60", EV_LEVEL_DISTRICT);
    fx_unit(fx, "22921", "593", EV_LEVEL_COMMUNE);
    fx_unit(fx, "22924", "593", EV_LEVEL_COMMUNE);
    fx_unit(fx, "22936", "593", EV_LEVEL_COMMUNE);
}

void fx_r25_changes(struct fx *fx, int64_t at)
{
    fx_changed(fx, at, EV_CHANGE_MERGE, FX_R25_EFFECTIVE, "22921,22924,22936",
               "22924", "Phường Phú Thủy", "68");
    fx_changed(fx, at, EV_CHANGE_ABOLISH, FX_R25_EFFECTIVE, "593", NULL, NULL,
               NULL);
    fx_changed(fx, at, EV_CHANGE_MERGE, FX_R25_EFFECTIVE, "60,68", "68", NULL,
               NULL);
}

/* Walk o; path is the key that led here (for the message). */
static void no_negative(const msgpack_object *o, const char *what,
                        const char *path)
{
    char key[64];
    switch (o->type) {
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        fail_msg("%s: %s is %lld", what, path, (long long)o->via.i64);
        break;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        if (o->via.f64 < 0)
            fail_msg("%s: %s is %g", what, path, o->via.f64);
        break;
    case MSGPACK_OBJECT_ARRAY:
        for (uint32_t i = 0; i < o->via.array.size; i++)
            no_negative(&o->via.array.ptr[i], what, path);
        break;
    case MSGPACK_OBJECT_MAP:
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            const msgpack_object *k = &o->via.map.ptr[i].key;
            if (k->type == MSGPACK_OBJECT_STR)
                snprintf(key, sizeof key, "%.*s",
                         (int)(k->via.str.size < 60 ? k->via.str.size : 60),
                         k->via.str.ptr);
            else
                snprintf(key, sizeof key, "?");
            no_negative(&o->via.map.ptr[i].val, what, key);
        }
        break;
    default:
        break;
    }
}

void fx_assert_no_negative(const msgpack_object *o, const char *what)
{
    no_negative(o, what, "(reply)");
}

size_t fx_count_alerts(const msgpack_object *alerts, const char *code)
{
    char c[64];
    size_t n = 0;
    assert_int_equal(alerts->type, MSGPACK_OBJECT_ARRAY);
    for (uint32_t i = 0; i < alerts->via.array.size; i++)
        n += strcmp(fx_str(&alerts->via.array.ptr[i], "code", c, sizeof c),
                    code) == 0;
    return n;
}

/* ---- states of older versions ---- */

void fx_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)(v & 0xffu);
}

#include <lmdb.h>

void fx_state_put(struct fx *fx, const char *plugin, const void *key,
                  size_t klen, const void *val, size_t vlen)
{
    char path[PATH_MAX + 8], db[64];
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    fx_host_close(fx);
    snprintf(path, sizeof path, "%s/state", fx->dir);
    snprintf(db, sizeof db, "p.%s", plugin);
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 64), 0);
    assert_int_equal(mdb_env_open(env, path, 0, 0640), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, db, 0, &dbi), 0);
    MDB_val k = {klen, (void *)key}, v = {vlen, (void *)val};
    assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

void fx_assert_quarantined(struct fx *fx, const char *plugin,
                           const char *q_json)
{
    struct fx_reply r;
    const char *e = fx_query_error(fx, &r, plugin, q_json);
    if (strstr(e, "quarantined") == NULL)
        fail_msg("%s not quarantined: %s", plugin, e);
    fx_reply_free(&r);
}
