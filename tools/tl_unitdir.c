/*
 * tl_unitdir.c - see tl_unitdir.h.
 */
#include "tl_unitdir.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "tl_mp.h"

/* The children of one unit, as the daemon listed them, sorted by code. */
struct listing {
    char parent[TL_UNIT_CODE_MAX]; /* "" for the provinces */
    struct tl_unit **units;
    size_t n;
};

struct tl_unitdir {
    struct tl_cli *cli;
    struct listing *lists;
    size_t nlists;
};

const char *tl_unit_level(const char *code)
{
    size_t n = strlen(code);

    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)code[i]))
            return NULL;
    /* 00 is the country (ev_unit.h, EV_COUNTRY), no province's code. */
    return n == 2   ? (strcmp(code, "00") == 0 ? "central" : "province")
           : n == 3 ? "district"
           : n == 5 ? "commune"
                    : NULL;
}

struct tl_unitdir *tl_unitdir_new(struct tl_cli *cli)
{
    struct tl_unitdir *d = calloc(1, sizeof(*d));

    if (d != NULL)
        d->cli = cli;
    return d;
}

void tl_unitdir_free(struct tl_unitdir *d)
{
    if (d == NULL)
        return;
    for (size_t i = 0; i < d->nlists; i++) {
        for (size_t k = 0; k < d->lists[i].n; k++)
            free(d->lists[i].units[k]);
        free(d->lists[i].units);
    }
    free(d->lists);
    free(d);
}

/* Codes in the order of the tree: shorter (higher) first, then by
 * number. */
static int code_cmp(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);

    if (la != lb)
        return la < lb ? -1 : 1;
    return strcmp(a, b);
}

static int unit_cmp(const void *a, const void *b)
{
    const struct tl_unit *const *x = a, *const *y = b;
    return code_cmp((*x)->code, (*y)->code);
}

static const struct listing *listed(const struct tl_unitdir *d,
                                    const char *parent)
{
    for (size_t i = 0; i < d->nlists; i++)
        if (strcmp(d->lists[i].parent, parent) == 0)
            return &d->lists[i];
    return NULL;
}

static int oom(void)
{
    fprintf(stderr, "povtrack: out of memory\n");
    return TL_EXIT_FAIL;
}

/* Keep the daemon's answer as the listing of parent. */
static int keep(struct tl_unitdir *d, const char *parent,
                const msgpack_object *arr)
{
    struct listing l = {{0}, NULL, 0};
    struct listing *a;

    snprintf(l.parent, sizeof(l.parent), "%s", parent);
    l.units = calloc(arr->via.array.size > 0 ? arr->via.array.size : 1,
                     sizeof(*l.units));
    if (l.units == NULL)
        return oom();
    for (uint32_t i = 0; i < arr->via.array.size; i++) {
        const msgpack_object *o = &arr->via.array.ptr[i];
        struct tl_unit *u = calloc(1, sizeof(*u));

        if (u == NULL) {
            for (size_t k = 0; k < l.n; k++)
                free(l.units[k]);
            free(l.units);
            return oom();
        }
        if (!tl_mp_str(o, "code", u->code, sizeof(u->code))) {
            free(u);
            continue;
        }
        if (!tl_mp_str(o, "name", u->name, sizeof(u->name)))
            snprintf(u->name, sizeof(u->name), "%s", u->code);
        tl_mp_str(o, "parent", u->parent, sizeof(u->parent));
        tl_mp_str(o, "level", u->level, sizeof(u->level));
        l.units[l.n++] = u;
    }
    qsort(l.units, l.n, sizeof(*l.units), unit_cmp);
    a = realloc(d->lists, (d->nlists + 1) * sizeof(*a));
    if (a == NULL) {
        for (size_t k = 0; k < l.n; k++)
            free(l.units[k]);
        free(l.units);
        return oom();
    }
    d->lists = a;
    d->lists[d->nlists++] = l;
    return 0;
}

/* The listing of parent ("" for the provinces), asked for once. */
static int list(struct tl_unitdir *d, const char *parent,
                const struct listing **out)
{
    struct povtrack_client_msg reply;
    const msgpack_object *arr;
    json_t *req;
    int rc;

    if ((*out = listed(d, parent)) != NULL)
        return 0;
    req = parent[0] != '\0'
              ? json_pack("{s:s,s:s}", "op", "units", "parent", parent)
              : json_pack("{s:s,s:n}", "op", "units", "parent");
    if (req == NULL)
        return oom();
    rc = tl_cli_request(d->cli, req, &reply);
    json_decref(req);
    if (rc != 0)
        return rc;
    arr = tl_mp_get(&reply.obj, "units");
    if (arr == NULL || arr->type != MSGPACK_OBJECT_ARRAY) {
        povtrack_client_msg_free(&reply);
        fprintf(stderr, "povtrack: the units reply has no units\n");
        return TL_EXIT_FAIL;
    }
    rc = keep(d, parent, arr);
    povtrack_client_msg_free(&reply);
    if (rc == 0)
        *out = &d->lists[d->nlists - 1];
    return rc;
}

int tl_unitdir_children(struct tl_unitdir *d, const char *parent,
                        const struct tl_unit *const **units, size_t *n)
{
    const struct listing *l;
    int rc = list(d, parent != NULL ? parent : "", &l);

    if (rc != 0)
        return rc;
    *units = (const struct tl_unit *const *)l->units;
    *n = l->n;
    return 0;
}

/* code among the units listed so far. */
static const struct tl_unit *known(const struct tl_unitdir *d, const char *code)
{
    for (size_t i = 0; i < d->nlists; i++) {
        const struct listing *l = &d->lists[i];
        size_t lo = 0, hi = l->n;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            int c = code_cmp(l->units[mid]->code, code);
            if (c == 0)
                return l->units[mid];
            if (c < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
    }
    return NULL;
}

/* The codes of length len under the i-th unit of l: in a and b ("" when
 * it has none). */
static int child_range(struct tl_unitdir *d, struct tl_unit *const *units,
                       size_t i, size_t len, char *a, char *b);

/* The lowest and the highest code of length len under u (lo "" when it
 * has none).  Codes rise with their parents' (the GSO's numbering), so
 * only the first and the last child that have some are asked. */
static int range(struct tl_unitdir *d, const struct tl_unit *u, size_t len,
                 char *lo, char *hi)
{
    const struct listing *l;
    char a[TL_UNIT_CODE_MAX], b[TL_UNIT_CODE_MAX];
    struct tl_unit *const *units;
    size_t n, i, j;
    int rc = list(d, u->code, &l);

    lo[0] = hi[0] = '\0';
    if (rc != 0)
        return rc;
    units = l->units; /* stays put when d->lists grows */
    n = l->n;
    for (i = 0; i < n; i++) {
        if ((rc = child_range(d, units, i, len, a, b)) != 0)
            return rc;
        if (a[0] != '\0') {
            snprintf(lo, TL_UNIT_CODE_MAX, "%s", a);
            snprintf(hi, TL_UNIT_CODE_MAX, "%s", b);
            break;
        }
    }
    for (j = n; j > i + 1; j--) {
        if ((rc = child_range(d, units, j - 1, len, a, b)) != 0)
            return rc;
        if (a[0] != '\0') {
            snprintf(hi, TL_UNIT_CODE_MAX, "%s", b);
            break;
        }
    }
    return 0;
}

static int child_range(struct tl_unitdir *d, struct tl_unit *const *units,
                       size_t i, size_t len, char *a, char *b)
{
    size_t cl = strlen(units[i]->code);

    a[0] = b[0] = '\0';
    if (cl == len) {
        snprintf(a, TL_UNIT_CODE_MAX, "%s", units[i]->code);
        snprintf(b, TL_UNIT_CODE_MAX, "%s", units[i]->code);
        return 0;
    }
    return cl < len ? range(d, units[i], len, a, b) : 0;
}

/* Halve the candidates (units above code's level, by code) by the range
 * of codes under each.  0 with *u set or NULL (not found this way). */
static int search(struct tl_unitdir *d, struct tl_unit *const *cands, size_t n,
                  const char *code, const struct tl_unit **u)
{
    size_t lo = 0, hi = n, len = strlen(code);
    int rc;

    *u = NULL;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        char a[TL_UNIT_CODE_MAX], b[TL_UNIT_CODE_MAX];
        const struct listing *l;

        if (strlen(cands[mid]->code) >= len)
            return 0;
        if ((rc = range(d, cands[mid], len, a, b)) != 0)
            return rc;
        if (a[0] == '\0')
            return 0; /* a unit with nothing under it: no order to use */
        if (code_cmp(code, a) < 0) {
            hi = mid;
            continue;
        }
        if (code_cmp(code, b) > 0) {
            lo = mid + 1;
            continue;
        }
        if ((rc = list(d, cands[mid]->code, &l)) != 0)
            return rc;
        if ((*u = known(d, code)) != NULL || l->n == 0)
            return 0;
        return search(d, l->units, l->n, code, u);
    }
    return 0;
}

/* Every unit above code's level under parent, listed until code turns
 * up. */
static int walk(struct tl_unitdir *d, const char *parent, const char *code,
                const struct tl_unit **u)
{
    const struct listing *l;
    struct tl_unit *const *units;
    int rc = list(d, parent, &l);

    if (rc != 0 || (*u = known(d, code)) != NULL)
        return rc;
    units = l->units;
    for (size_t i = 0, n = l->n; rc == 0 && *u == NULL && i < n; i++)
        if (strlen(units[i]->code) < strlen(code))
            rc = walk(d, units[i]->code, code, u);
    return rc;
}

int tl_unitdir_find(struct tl_unitdir *d, const char *code,
                    const struct tl_unit **u)
{
    const struct listing *top;
    int rc;

    *u = NULL;
    if (tl_unit_level(code) == NULL)
        return POVTRACK_ENOTFOUND;
    if ((*u = known(d, code)) != NULL)
        return 0;
    if ((rc = list(d, "", &top)) != 0)
        return rc;
    if ((*u = known(d, code)) != NULL)
        return 0;
    if (strlen(code) == 2)
        return POVTRACK_ENOTFOUND;
    rc = search(d, top->units, top->n, code, u);
    if (rc == 0 && *u == NULL)
        rc = walk(d, "", code, u);
    if (rc != 0)
        return rc;
    return *u != NULL ? 0 : POVTRACK_ENOTFOUND;
}

const char *tl_unitdir_label(struct tl_unitdir *d, const char *code, char *buf,
                             size_t cap)
{
    const struct tl_unit *u = NULL;

    if (d != NULL && tl_unitdir_find(d, code, &u) == 0 && u != NULL &&
        strcmp(u->name, u->code) != 0)
        snprintf(buf, cap, "%s (%s)", u->name, code);
    else
        snprintf(buf, cap, "%s", code);
    return buf;
}
