/*
 * tl_query.c - see tl_query.h.
 */
#include "tl_query.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <povtrack/protocol.h>

#include "tl_mp.h"

/* The daemon answers a min_seq it could not reach within its own limit
 * (5 s) with this error; a big publish can keep the plugin host busy for
 * longer, so the wait is asked again a bounded number of times. */
#define MIN_SEQ_PREFIX "min_seq: not applied within"
#define MIN_SEQ_TRIES 24
#define ABSENT_PREFIX "plugin: no plugin named"

static bool error_starts(const struct povtrack_client_msg *reply,
                         const char *prefix)
{
    const msgpack_object *e = tl_mp_get(&reply->obj, "error");
    size_t n = strlen(prefix);

    return e != NULL && e->type == MSGPACK_OBJECT_STR && e->via.str.size >= n &&
           memcmp(e->via.str.ptr, prefix, n) == 0;
}

static bool is_int(const char *s)
{
    const char *p = s + (*s == '-');
    char *end;

    if (!isdigit((unsigned char)*p))
        return false;
    errno = 0;
    (void)strtoll(s, &end, 10);
    return errno == 0 && *end == '\0';
}

/* Keys whose values are codes, i.e. strings made of digits. */
static bool is_code_key(const char *k)
{
    static const char *const keys[] = {"unit", "parent", "household"};

    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (strcmp(keys[i], k) == 0)
            return true;
    return false;
}

int tl_query_param(json_t *q, const char *key, const char *value)
{
    json_t *v;

    if (!povtrack_proto_utf8_valid(key, strlen(key)) ||
        !povtrack_proto_utf8_valid(value, strlen(value)))
        return POVTRACK_EINVALID;
    v = !is_code_key(key) && is_int(value)
            ? json_integer(strtoll(value, NULL, 10))
            : json_string(value);
    if (v == NULL)
        return POVTRACK_ENOMEM;
    return json_object_set_new(q, key, v) == 0 ? 0 : POVTRACK_ENOMEM;
}

int tl_query_pack(const char *plugin, const json_t *q, int64_t min_seq,
                  msgpack_sbuffer *out)
{
    msgpack_sbuffer qb;
    msgpack_packer pk;
    int rc;

    msgpack_sbuffer_init(&qb);
    if (tl_cli_pack(q, &qb) != 0) {
        msgpack_sbuffer_destroy(&qb);
        return TL_EXIT_FAIL;
    }
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    rc = povtrack_proto_pack_query(&pk, plugin, qb.data, qb.size, min_seq);
    msgpack_sbuffer_destroy(&qb);
    if (rc != 0) {
        fprintf(stderr, "povtrack: out of memory\n");
        return TL_EXIT_FAIL;
    }
    return TL_EXIT_OK;
}

int tl_query_plugin(struct tl_cli *cli, const char *plugin, const json_t *q,
                    int64_t min_seq, struct povtrack_client_msg *reply,
                    bool *absent)
{
    msgpack_sbuffer sb;
    int rc = 0;

    memset(reply, 0, sizeof(*reply));
    msgpack_sbuffer_init(&sb);
    if (tl_query_pack(plugin, q, min_seq > 0 ? min_seq : -1, &sb) != 0) {
        msgpack_sbuffer_destroy(&sb);
        return TL_EXIT_FAIL;
    }
    for (int tries = 0;; tries++) {
        rc = povtrack_client_request(cli->client, sb.data, sb.size, reply);
        if (rc == POVTRACK_CLIENT_EREFUSED && min_seq > 0 &&
            tries + 1 < MIN_SEQ_TRIES && error_starts(reply, MIN_SEQ_PREFIX)) {
            povtrack_client_msg_free(reply);
            continue;
        }
        break;
    }
    msgpack_sbuffer_destroy(&sb);
    if (rc == POVTRACK_CLIENT_EREFUSED && absent != NULL &&
        error_starts(reply, ABSENT_PREFIX)) {
        povtrack_client_msg_free(reply);
        memset(reply, 0, sizeof(*reply));
        *absent = true;
        return TL_EXIT_OK;
    }
    if (rc != 0) {
        povtrack_client_msg_free(reply);
        memset(reply, 0, sizeof(*reply));
        return tl_cli_client_fail(cli, rc);
    }
    return TL_EXIT_OK;
}

int tl_query_last_seq(struct tl_cli *cli, int64_t *seq)
{
    struct povtrack_client_msg reply;
    json_t *req = json_pack("{s:s}", "op", "stats");
    int rc;

    *seq = 0;
    if (req == NULL)
        return TL_EXIT_FAIL;
    rc = tl_cli_request(cli, req, &reply);
    json_decref(req);
    if (rc != 0)
        return rc;
    if (!tl_mp_i64(&reply.obj, "last_seq", seq) || *seq < 0)
        *seq = 0;
    povtrack_client_msg_free(&reply);
    return TL_EXIT_OK;
}

int tl_wait_caught_up(struct tl_cli *cli, struct tl_wait_target *t, size_t n,
                      bool tolerate_absent)
{
    int64_t seq;
    int rc = tl_query_last_seq(cli, &seq);

    for (size_t i = 0; rc == 0 && i < n; i++) {
        struct povtrack_client_msg reply;
        t[i].absent = false;
        rc = tl_query_plugin(cli, t[i].plugin, t[i].q, seq, &reply,
                             tolerate_absent ? &t[i].absent : NULL);
        if (rc == 0)
            povtrack_client_msg_free(&reply);
    }
    return rc;
}
