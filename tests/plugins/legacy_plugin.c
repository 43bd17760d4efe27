/*
 * legacy_plugin.c - a plugin built against the plugin ABI as it was before
 * struct povtrack_plugin grew state_layout: its descriptor's size stops at
 * fini.  It counts donation.received events (state key "n"; query {}
 * answers {"n": count}).
 *
 * The state_layout it sets lies past its size, as the bytes after an old
 * plugin's descriptor would: the host must not read it (such a plugin
 * declares no layout, and is never rebuilt on its account).  Nor does the
 * host read a config map from it.  Its descriptor and entry point are
 * written out by hand, as before POVTRACK_PLUGIN() existed: the macro
 * would size the descriptor whole.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <povtrack/plugin.h>

struct legacy {
    const struct povtrack_host *host;
};

static int legacy_init(povtrack_ctx *ctx, const struct povtrack_host *host,
                       void **state)
{
    (void)ctx;
    struct legacy *l = calloc(1, sizeof *l);
    if (l == NULL)
        return -1;
    l->host = host;
    *state = l;
    return 0;
}

static uint64_t count_get(struct legacy *l, povtrack_ctx *ctx, int *rc)
{
    uint64_t n = 0;
    const void *v;
    size_t vlen;
    *rc = l->host->get(ctx, "n", 1, &v, &vlen);
    if (*rc == 0 && vlen == sizeof n)
        memcpy(&n, v, sizeof n);
    else if (*rc == POVTRACK_NOTFOUND)
        *rc = 0;
    else if (*rc == 0)
        *rc = POVTRACK_EINVAL;
    return n;
}

static int legacy_apply(void *state, povtrack_ctx *ctx,
                        const struct povtrack_record *rec)
{
    struct legacy *l = state;
    (void)rec;
    int rc;
    uint64_t n = count_get(l, ctx, &rc);
    if (rc != 0)
        return rc;
    n++;
    return l->host->put(ctx, "n", 1, &n, sizeof n);
}

static int legacy_query(void *state, povtrack_ctx *ctx, const msgpack_object *q,
                        msgpack_packer *out, char *err, size_t errlen)
{
    struct legacy *l = state;
    (void)q;
    int rc;
    uint64_t n = count_get(l, ctx, &rc);
    if (rc != 0) {
        snprintf(err, errlen, "state read failed");
        return -1;
    }
    msgpack_pack_map(out, 1);
    msgpack_pack_str_with_body(out, "n", 1);
    msgpack_pack_uint64(out, n);
    return 0;
}

static void legacy_fini(void *state)
{
    free(state);
}

static const struct povtrack_plugin legacy_plugin = {
    .abi_version = POVTRACK_PLUGIN_ABI_VERSION,
    .size = offsetof(struct povtrack_plugin, state_layout),
    .name = "legacy",
    .version = "0.9.0",
    .event_mask = EV_TYPE_BIT(EV_DONATION_RECEIVED),
    .init = legacy_init,
    .apply = legacy_apply,
    .query = legacy_query,
    .fini = legacy_fini,
    .state_layout = 9, /* past size: never read */
};

__attribute__((visibility("default"))) const struct povtrack_plugin *
povtrack_plugin_entry(void);

const struct povtrack_plugin *povtrack_plugin_entry(void)
{
    return &legacy_plugin;
}
