/*
 * tl_cli.c - see tl_cli.h.
 */
#include "tl_cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <zmq.h>

#include "tl_import.h"
#include "tl_json.h"

/* Hand the keys given so far to the client.  A server key without --key
 * gets a throw-away key pair: the daemon then refuses it with a message
 * that says the key is not registered, which is the truth. */
static int apply_curve(struct tl_cli *cli)
{
    char pub[POVTRACK_CLIENT_KEY_Z85], sec[POVTRACK_CLIENT_KEY_Z85];
    if (cli->server_key[0] == '\0')
        return 0;
    if (cli->public_key[0] == '\0') {
        if (zmq_curve_keypair(pub, sec) != 0)
            return tl_cli_usage(NULL, "cannot make a CURVE key pair: %s",
                                zmq_strerror(zmq_errno()));
    } else {
        memcpy(pub, cli->public_key, sizeof pub);
        memcpy(sec, cli->secret_key, sizeof sec);
    }
    int rc = povtrack_client_set_curve(cli->client, cli->server_key, pub, sec);
    memset(sec, 0, sizeof sec);
    if (rc != 0)
        return tl_cli_usage(NULL, "%s", povtrack_client_error(cli->client));
    return 0;
}

static int set_server_key(struct tl_cli *cli, const char *arg)
{
    char err[512];
    /* The .pub file that povtrack keygen wrote, or a key itself. */
    if (povtrack_client_read_server_key(arg, cli->server_key, err,
                                        sizeof err) != 0)
        return tl_cli_usage(NULL,
                            "--server-key: neither a key file nor a "
                            "40-character Z85 key: %s",
                            err);
    return apply_curve(cli);
}

static int set_key(struct tl_cli *cli, const char *arg)
{
    char err[512];
    if (povtrack_client_read_keyfile(arg, cli->public_key, cli->secret_key, err,
                                     sizeof err) != 0)
        return tl_cli_usage(NULL, "--key: %s", err);
    return apply_curve(cli);
}

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

int tl_cli_delimiter(const char *cmd, const char *arg, char *delim)
{
    if (strlen(arg) != 1)
        return tl_cli_usage(cmd, "--delimiter must be one character");
    *delim = arg[0];
    return 0;
}

int tl_cli_open(const char *cmd, const char *path, FILE **in)
{
    if (strcmp(path, "-") == 0) {
        *in = stdin;
        return 0;
    }
    *in = fopen(path, "r");
    if (*in == NULL) {
        fprintf(stderr, "povtrack %s: cannot open %s: %s\n", cmd, path,
                strerror(errno));
        return TL_EXIT_USAGE;
    }
    return 0;
}

void tl_cli_close(FILE *in)
{
    if (in != NULL && in != stdin)
        fclose(in);
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

int tl_cli_batch(const char *cmd, const char *arg, size_t *batch)
{
    long long v;
    int rc = tl_cli_uint(cmd, "--batch", arg, POVTRACK_CLIENT_BATCH_MAX, &v);

    if (rc != 0)
        return rc;
    if (v == 0)
        return tl_cli_usage(cmd, "--batch must be at least 1");
    *batch = (size_t)v;
    return 0;
}

int tl_cli_date(const char *cmd, const char *opt, const char *arg, int64_t *at)
{
    struct tl_error err = {{0}};

    if (tl_parse_date(arg, at, &err) != 0)
        return tl_cli_usage(cmd, "%s: %s", opt, err.msg);
    return 0;
}

int tl_cli_id_prefix(const char *cmd, const char *arg, size_t max)
{
    size_t n = strlen(arg);

    for (const char *s = arg; *s != '\0'; s++)
        if (*s < 0x21 || *s > 0x7e)
            n = 0;
    if (n == 0 || n > max)
        return tl_cli_usage(cmd,
                            "--id-prefix must have 1..%zu bytes of printable "
                            "ASCII without spaces",
                            max);
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
    case TL_OPT_RETRIES:
        rc = tl_cli_uint(NULL, "--retries", arg, POVTRACK_CLIENT_RETRIES_MAX,
                         &ms);
        if (rc != 0)
            return rc;
        povtrack_client_set_retries(cli->client, (int)ms);
        return 0;
    case TL_OPT_SERVER_KEY:
        return set_server_key(cli, arg);
    case TL_OPT_KEY:
        return set_key(cli, arg);
    default:
        return TL_EXIT_USAGE;
    }
}

FILE *tl_cli_err(const struct tl_cli *cli)
{
    return cli->err != NULL ? cli->err : stderr;
}

int tl_cli_client_fail(struct tl_cli *cli, int rc)
{
    FILE *err = tl_cli_err(cli);

    fprintf(err, "povtrack: %s\n", povtrack_client_error(cli->client));
    if (rc == POVTRACK_CLIENT_EREFUSED && cli->server_key[0] != '\0' &&
        cli->public_key[0] == '\0')
        fprintf(err, "povtrack: hint: --server-key was given without "
                     "--key (or $POVTRACK_KEY), so a throw-away key was "
                     "used\n");
    if (rc == POVTRACK_CLIENT_ETIMEDOUT && cli->server_key[0] == '\0' &&
        cli->public_key[0] != '\0')
        fprintf(err, "povtrack: hint: --key was given without "
                     "--server-key (or $POVTRACK_SERVER_KEY), so CURVE "
                     "is off\n");
    else if (rc == POVTRACK_CLIENT_ETIMEDOUT && cli->server_key[0] == '\0')
        /* A daemon with CURVE on drops a plain client without a word:
         * from here that looks exactly like no daemon at all. */
        fprintf(err, "povtrack: hint: is povtrackd running there?  If it "
                     "has [security] curve_key set, it ignores clients "
                     "without CURVE: give --server-key (its .pub file) and "
                     "--key (your key pair from 'povtrack keygen')\n");
    return rc == POVTRACK_CLIENT_ETIMEDOUT ? TL_EXIT_UNREACHABLE : TL_EXIT_FAIL;
}

int tl_cli_pack(const json_t *v, msgpack_sbuffer *sb)
{
    msgpack_packer pk;
    struct tl_error err = {{0}};

    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    if (tl_json_pack(v, &pk, &err) != 0) {
        fprintf(stderr, "povtrack: %s\n", err.msg);
        return TL_EXIT_FAIL;
    }
    return TL_EXIT_OK;
}

int tl_cli_request(struct tl_cli *cli, const json_t *req,
                   struct povtrack_client_msg *reply)
{
    msgpack_sbuffer sb;
    int rc;

    memset(reply, 0, sizeof(*reply));
    msgpack_sbuffer_init(&sb);
    rc = tl_cli_pack(req, &sb);
    if (rc == 0)
        rc = tl_cli_send(cli, sb.data, sb.size, reply);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

int tl_cli_send(struct tl_cli *cli, const void *req, size_t len,
                struct povtrack_client_msg *reply)
{
    int rc = povtrack_client_request(cli->client, req, len, reply);

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

int tl_alert_rank(const char *severity)
{
    return severity == NULL                    ? 3
           : strcmp(severity, "critical") == 0 ? 0
           : strcmp(severity, "warning") == 0  ? 1
                                               : 2;
}
