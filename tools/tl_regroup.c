/*
 * tl_regroup.c - see tl_regroup.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <povtrack/errors.h>
#include <povtrack/protocol.h>

#include "tl_fmt.h"
#include "tl_mp.h"
#include "tl_regroup.h"

/* Codes per request: the nested-array limit of a daemon left at its
 * default container_max. */
#define REGROUP_BATCH POVTRACK_PROTO_CONTAINER_MAX_DEFAULT

void tl_regroup_init(struct tl_regroup *rg, int64_t at)
{
    memset(rg, 0, sizeof(*rg));
    rg->at = at;
    rg->sorted = true;
}

void tl_regroup_free(struct tl_regroup *rg)
{
    free(rg->v);
    memset(rg, 0, sizeof(*rg));
}

int tl_regroup_add(struct tl_regroup *rg, const char *code)
{
    if (rg->n == rg->cap) {
        size_t cap = rg->cap ? rg->cap * 2 : 64;
        struct tl_regroup_entry *p = realloc(rg->v, cap * sizeof(*p));
        if (p == NULL)
            return POVTRACK_ENOMEM;
        rg->v = p;
        rg->cap = cap;
    }
    struct tl_regroup_entry *e = &rg->v[rg->n++];
    memset(e, 0, sizeof(*e));
    snprintf(e->code, sizeof(e->code), "%s", code);
    rg->sorted = false;
    return 0;
}

static int entry_cmp(const void *a, const void *b)
{
    return strcmp(((const struct tl_regroup_entry *)a)->code,
                  ((const struct tl_regroup_entry *)b)->code);
}

/* Sort by code and drop the duplicates. */
static void settle(struct tl_regroup *rg)
{
    size_t k = 0;

    if (rg->sorted)
        return;
    qsort(rg->v, rg->n, sizeof(*rg->v), entry_cmp);
    for (size_t i = 0; i < rg->n; i++)
        if (k == 0 || strcmp(rg->v[k - 1].code, rg->v[i].code) != 0)
            rg->v[k++] = rg->v[i];
    rg->n = k;
    rg->sorted = true;
}

/* Ask for v[from, to). */
static int ask_batch(struct tl_regroup *rg, struct tl_cli *cli, size_t from,
                     size_t to)
{
    struct povtrack_client_msg reply;
    json_t *codes = json_array();
    json_t *req;
    int rc;

    for (size_t i = from; codes != NULL && i < to; i++)
        if (json_array_append_new(codes, json_string(rg->v[i].code)) != 0) {
            json_decref(codes);
            codes = NULL;
        }
    req = codes == NULL ? NULL
                        : json_pack("{s:s,s:o,s:I}", "op", "units", "regroup",
                                    codes, "at", (json_int_t)rg->at);
    if (req == NULL) {
        fprintf(tl_cli_err(cli), "povtrack: out of memory\n");
        return TL_EXIT_FAIL;
    }
    rc = tl_cli_request(cli, req, &reply);
    json_decref(req);
    if (rc != 0)
        return rc;
    const msgpack_object *map = tl_mp_get(&reply.obj, "regroup");
    if (map == NULL || map->type != MSGPACK_OBJECT_MAP) {
        povtrack_client_msg_free(&reply);
        fprintf(tl_cli_err(cli),
                "povtrack: povtrackd does not regroup unit codes (an older "
                "daemon?): its units reply has no \"regroup\"\n");
        return TL_EXIT_FAIL;
    }
    for (size_t i = from; i < to; i++)
        if (!tl_mp_str(map, rg->v[i].code, rg->v[i].now, sizeof(rg->v[i].now)))
            rg->v[i].now[0] = '\0';
    povtrack_client_msg_free(&reply);
    return 0;
}

int tl_regroup_ask(struct tl_regroup *rg, struct tl_cli *cli)
{
    int rc = 0;

    settle(rg);
    for (size_t i = 0; rc == 0 && i < rg->n; i += REGROUP_BATCH)
        rc = ask_batch(rg, cli, i,
                       rg->n - i < REGROUP_BATCH ? rg->n : i + REGROUP_BATCH);
    return rc;
}

const char *tl_regroup_get(const struct tl_regroup *rg, const char *code)
{
    struct tl_regroup_entry key;
    const struct tl_regroup_entry *e;

    if (!rg->sorted)
        return NULL;
    snprintf(key.code, sizeof(key.code), "%s", code);
    e = bsearch(&key, rg->v, rg->n, sizeof(*rg->v), entry_cmp);
    return e != NULL && e->now[0] != '\0' ? e->now : NULL;
}

int tl_regroup_refuse_root(struct tl_cli *cli, FILE *f, const char *unit,
                           int64_t at)
{
    struct tl_regroup rg;
    char day[TL_FMT_TIME_MAX];
    const char *now = NULL;

    tl_fmt_vn_date(at, day);
    tl_regroup_init(&rg, at);
    /* The daemon's answer only sharpens the message: without it, say what
     * is known ("on 2025-12-31", Vietnam time). */
    if (tl_regroup_add(&rg, unit) == 0 && tl_regroup_ask(&rg, cli) == 0)
        now = tl_regroup_get(&rg, unit);
    if (now != NULL && strcmp(now, unit) != 0)
        fprintf(f,
                "povtrack: unit %s is not in force on %s: what was recorded "
                "under it is in %s; ask for %s\n",
                unit, day, now, now);
    else
        fprintf(f, "povtrack: povtrackd knows no unit %s in force on %s\n",
                unit, day);
    tl_regroup_free(&rg);
    return TL_EXIT_FAIL;
}
