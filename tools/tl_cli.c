/*
 * tl_cli.c - see tl_cli.h.
 */
#include "tl_cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "tl_json.h"

int tl_cli_usage(const char *cmd, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "povtrack%s%s: ", cmd ? " " : "", cmd ? cmd : "");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'povtrack%s%s --help'.\n", cmd ? " " : "",
            cmd ? cmd : "");
    return TL_EXIT_USAGE;
}

int tl_cli_badopt(const char *cmd)
{
    fprintf(stderr, "Try 'povtrack%s%s --help'.\n", cmd ? " " : "",
            cmd ? cmd : "");
    return TL_EXIT_USAGE;
}

int tl_cli_uint(const char *cmd, const char *opt, const char *arg,
                long long max, long long *out)
{
    char *end;
    long long v;

    errno = 0;
    v = strtoll(arg, &end, 10);
    if (errno != 0 || end == arg || *end != '\0' || v < 0 || v > max)
        return tl_cli_usage(cmd, "%s: \"%s\" is not an integer in 0..%lld", opt,
                            arg, max);
    *out = v;
    return 0;
}

int tl_cli_common(struct tl_cli *cli, int c, const char *arg)
{
    long long ms;
    int rc;

    switch (c) {
    case TL_OPT_INGEST:
    case TL_OPT_QUERY:
    case TL_OPT_ALERTS:
        rc = povtrack_client_set_endpoint(
            cli->client, (enum povtrack_client_endpoint)(c - TL_OPT_INGEST),
            arg);
        if (rc != 0)
            return tl_cli_usage(NULL, "%s", povtrack_client_error(cli->client));
        return 0;
    case TL_OPT_TIMEOUT:
        rc = tl_cli_uint(NULL, "--timeout", arg, 24LL * 3600 * 1000, &ms);
        if (rc != 0)
            return rc;
        if (ms == 0 || povtrack_client_set_timeout(cli->client, (int)ms) != 0)
            return tl_cli_usage(NULL, "--timeout must be at least 1 ms");
        return 0;
    case TL_OPT_JSON:
        cli->json = true;
        return 0;
    default:
        return TL_EXIT_USAGE;
    }
}

int tl_cli_client_fail(struct tl_cli *cli, int rc)
{
    fprintf(stderr, "povtrack: %s\n", povtrack_client_error(cli->client));
    return rc == POVTRACK_CLIENT_ETIMEDOUT ? TL_EXIT_UNREACHABLE : TL_EXIT_FAIL;
}

int tl_cli_request(struct tl_cli *cli, const json_t *req,
                   struct povtrack_client_msg *reply)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    struct tl_error err = {{0}};
    int rc;

    memset(reply, 0, sizeof(*reply));
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    rc = tl_json_pack(req, &pk, &err);
    if (rc != 0) {
        msgpack_sbuffer_destroy(&sb);
        fprintf(stderr, "povtrack: %s\n", err.msg);
        return TL_EXIT_FAIL;
    }
    rc = povtrack_client_request(cli->client, sb.data, sb.size, reply);
    msgpack_sbuffer_destroy(&sb);
    if (rc != 0) {
        povtrack_client_msg_free(reply);
        return tl_cli_client_fail(cli, rc);
    }
    return TL_EXIT_OK;
}

int tl_cli_print_json(struct tl_cli *cli, const msgpack_object *o)
{
    struct tl_error err = {{0}};

    if (tl_json_print(cli->out, o, &err) != 0) {
        fprintf(stderr, "povtrack: %s\n", err.msg);
        return TL_EXIT_FAIL;
    }
    return TL_EXIT_OK;
}
