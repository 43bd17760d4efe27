/*
 * echo.c - a test plugin that says back what it is asked, for the reply
 * tests: the host, not the plugin, must keep replies strictly decodable.
 *
 *   q {"say": str}   result {"said": the same bytes, UTF-8 or not}
 *   q {"fail": str}  refused, the error being those bytes
 *
 * It keeps no state.  For each donation.received it raises the alert
 * echo.donor whose message is the donor's first 3 bytes, cut wherever
 * that falls, as a careless plugin's snprintf would cut it.
 */
#include <stdio.h>
#include <string.h>

#include <povtrack/plugin.h>

static const msgpack_object *get(const msgpack_object *q, const char *key)
{
    size_t n = strlen(key);
    for (uint32_t i = 0; q->type == MSGPACK_OBJECT_MAP && i < q->via.map.size;
         i++) {
        const msgpack_object *k = &q->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
            memcmp(k->via.str.ptr, key, n) == 0 &&
            q->via.map.ptr[i].val.type == MSGPACK_OBJECT_STR)
            return &q->via.map.ptr[i].val;
    }
    return NULL;
}

struct echo {
    const struct povtrack_host *host;
};

static int echo_init(povtrack_ctx *ctx, const struct povtrack_host *host,
                     void **state)
{
    (void)ctx;
    static struct echo e;
    e.host = host;
    *state = &e;
    return 0;
}

static int echo_apply(void *state, povtrack_ctx *ctx,
                      const struct povtrack_record *rec)
{
    const struct echo *e = state;
    const struct ev_event *ev = rec->event;
    char unit[EV_UNIT_MAX + 1], cut[4];
    snprintf(unit, sizeof unit, "%.*s", (int)ev->unit.len, ev->unit.ptr);
    snprintf(cut, sizeof cut, "%.*s", (int)ev->data.donor.len,
             ev->data.donor.ptr);
    struct povtrack_alert a = {.size = sizeof a,
                               .code = "echo.donor",
                               .severity = POVTRACK_INFO,
                               .unit = unit,
                               .message = cut,
                               .at = ev->at};
    return e->host->alert(ctx, &a);
}

static int echo_query(void *state, povtrack_ctx *ctx, const msgpack_object *q,
                      msgpack_packer *out, char *err, size_t errlen)
{
    (void)state;
    (void)ctx;
    const msgpack_object *say = get(q, "say");
    const msgpack_object *fail = get(q, "fail");
    if (fail != NULL) {
        snprintf(err, errlen, "%.*s", (int)fail->via.str.size,
                 fail->via.str.ptr);
        return -1;
    }
    if (say == NULL) {
        snprintf(err, errlen, "q: say or fail, a string");
        return -1;
    }
    msgpack_pack_map(out, 1);
    msgpack_pack_str_with_body(out, "said", 4);
    msgpack_pack_str_with_body(out, say->via.str.ptr, say->via.str.size);
    return 0;
}

/* No config map: a plugin without one is handed its section as it is. */
POVTRACK_PLUGIN(.name = "echo", .version = "1.0.0",
                .event_mask = EV_TYPE_BIT(EV_DONATION_RECEIVED),
                .init = echo_init, .apply = echo_apply, .query = echo_query);
