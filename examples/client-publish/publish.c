/*
 * publish.c - a small povtrack client: publish one donation, read it back.
 *
 *   client-publish [options] UNIT AMOUNT DONOR
 *
 * Publishes one donation.received of AMOUNT VND from DONOR to the fund of
 * UNIT (a defined unit code: 2 digits for a province, 3 for a district, 5
 * for a commune; the donation's level follows from it), prints the ack,
 * then asks the fund plugin for the unit's totals with min_seq set to the
 * ack's sequence, so that the answer includes this donation, and prints
 * them.  Publishing the same --id again is safe: the ack says
 * "duplicate" and nothing is counted twice.
 *
 * Options (the povtrack CLI's, with the same environment variables):
 *   --ingest ENDPOINT      POVTRACK_INGEST, default tcp://127.0.0.1:7170
 *   --query ENDPOINT       POVTRACK_QUERY, default tcp://127.0.0.1:7171
 *   --server-key KEY|FILE  POVTRACK_SERVER_KEY: the daemon's public key, or
 *                          the .pub file povtrack keygen wrote; turns CURVE
 *                          on and needs --key
 *   --key FILE             POVTRACK_KEY: this client's .key file
 *   --timeout MS           per attempt, default 5000
 *   --id ID                the event's id (default client-publish-UNIT-
 *                          SECONDS-PID)
 *   --donor-kind KIND      person (default), organisation, business,
 *                          anonymous
 *
 * Exit status: 0 the donation is stored (ok or duplicate) and the fund
 * answered; 1 the daemon rejected the donation or refused the query; 2 bad
 * command line or key file; 3 the daemon did not answer in time; 4 any
 * other failure (ZeroMQ, a reply that breaks the protocol, memory).
 *
 * Built against an installed povtrack with only
 *   cc publish.c $(pkg-config --cflags --libs povtrack-client)
 * (see the Makefile beside it).
 */
#define _POSIX_C_SOURCE 200809L

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <povtrack/client.h>

enum exit_code {
    EXIT_STORED = 0,
    EXIT_REFUSED = 1,
    EXIT_USAGE = 2,
    EXIT_UNREACHABLE = 3,
    EXIT_FAILED = 4
};

struct options {
    const char *ingest, *query, *server_key, *key, *id, *donor_kind;
    const char *unit, *donor;
    int timeout_ms;
    long long amount;
};

static int usage(const char *why)
{
    fprintf(stderr,
            "client-publish: %s\n"
            "usage: client-publish [--ingest EP] [--query EP] "
            "[--server-key KEY|FILE] [--key FILE]\n"
            "                      [--timeout MS] [--id ID] "
            "[--donor-kind KIND] UNIT AMOUNT DONOR\n",
            why);
    return EXIT_USAGE;
}

/* The exit status for a failed client call, after saying why. */
static int client_failed(povtrack_client *c, int rc)
{
    fprintf(stderr, "client-publish: %s\n", povtrack_client_error(c));
    if (rc == POVTRACK_CLIENT_ETIMEDOUT)
        return EXIT_UNREACHABLE;
    if (rc == POVTRACK_CLIENT_EREFUSED)
        return EXIT_REFUSED;
    return EXIT_FAILED;
}

static int parse(int argc, char **argv, struct options *o)
{
    static const struct option longopts[] = {
        {"ingest", required_argument, NULL, 'i'},
        {"query", required_argument, NULL, 'q'},
        {"server-key", required_argument, NULL, 's'},
        {"key", required_argument, NULL, 'k'},
        {"timeout", required_argument, NULL, 't'},
        {"id", required_argument, NULL, 'd'},
        {"donor-kind", required_argument, NULL, 'n'},
        {NULL, 0, NULL, 0}};
    char *end;
    int c;

    o->ingest = getenv("POVTRACK_INGEST");
    o->query = getenv("POVTRACK_QUERY");
    o->server_key = getenv("POVTRACK_SERVER_KEY");
    o->key = getenv("POVTRACK_KEY");
    o->donor_kind = "person";
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'i':
            o->ingest = optarg;
            break;
        case 'q':
            o->query = optarg;
            break;
        case 's':
            o->server_key = optarg;
            break;
        case 'k':
            o->key = optarg;
            break;
        case 't':
            o->timeout_ms = (int)strtol(optarg, &end, 10);
            if (*end != '\0' || o->timeout_ms <= 0)
                return usage("--timeout: a positive number of milliseconds");
            break;
        case 'd':
            o->id = optarg;
            break;
        case 'n':
            o->donor_kind = optarg;
            break;
        default:
            return usage("unknown option");
        }
    }
    if (argc - optind != 3)
        return usage("expected UNIT AMOUNT DONOR");
    o->unit = argv[optind];
    o->amount = strtoll(argv[optind + 1], &end, 10);
    if (*end != '\0' || o->amount <= 0)
        return usage("AMOUNT: a positive whole number of VND");
    o->donor = argv[optind + 2];
    return 0;
}

/* Endpoints, timeout and CURVE keys from the options. */
static int configure(povtrack_client *c, const struct options *o)
{
    char server[POVTRACK_CLIENT_KEY_Z85], pub[POVTRACK_CLIENT_KEY_Z85];
    char sec[POVTRACK_CLIENT_KEY_Z85], err[512];
    int rc = 0;

    if ((o->ingest != NULL && o->ingest[0] != '\0' &&
         povtrack_client_set_endpoint(c, POVTRACK_CLIENT_INGEST, o->ingest) !=
             0) ||
        (o->query != NULL && o->query[0] != '\0' &&
         povtrack_client_set_endpoint(c, POVTRACK_CLIENT_QUERY, o->query) !=
             0) ||
        (o->timeout_ms > 0 && povtrack_client_set_timeout(c, o->timeout_ms)))
        return usage(povtrack_client_error(c));
    if (o->server_key == NULL || o->server_key[0] == '\0')
        return 0;
    if (o->key == NULL || o->key[0] == '\0')
        return usage("--server-key needs --key (this client's key file)");
    /* The .pub file povtrack keygen wrote, or a key itself. */
    if (povtrack_client_read_server_key(o->server_key, server, err,
                                        sizeof err) != 0)
        return usage(err);
    if (povtrack_client_read_keyfile(o->key, pub, sec, err, sizeof err) != 0)
        return usage(err);
    if (povtrack_client_set_curve(c, server, pub, sec) != 0)
        rc = usage(povtrack_client_error(c));
    memset(sec, 0, sizeof sec);
    return rc;
}

static void pack_str(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str_with_body(pk, s, strlen(s));
}

/* The donation.received event map (README, Wire protocol v1). */
static void pack_donation(msgpack_packer *pk, const struct options *o,
                          const char *id)
{
    size_t n = strlen(o->unit);
    const char *level = n == 2 ? "province" : n == 3 ? "district" : "commune";

    msgpack_pack_map(pk, 6);
    pack_str(pk, "v");
    msgpack_pack_int(pk, 1);
    pack_str(pk, "id");
    pack_str(pk, id);
    pack_str(pk, "type");
    pack_str(pk, "donation.received");
    pack_str(pk, "at");
    msgpack_pack_int64(pk, (int64_t)time(NULL));
    pack_str(pk, "unit");
    pack_str(pk, o->unit);
    pack_str(pk, "data");
    msgpack_pack_map(pk, 4);
    pack_str(pk, "amount");
    msgpack_pack_int64(pk, o->amount);
    pack_str(pk, "donor");
    pack_str(pk, o->donor);
    pack_str(pk, "donor_kind");
    pack_str(pk, o->donor_kind);
    pack_str(pk, "level");
    pack_str(pk, level);
}

/* Publish the donation; its sequence in *seq.  An exit status. */
static int publish(povtrack_client *c, const struct options *o, uint64_t *seq)
{
    char id[128];
    msgpack_sbuffer sb;
    msgpack_packer pk;
    struct povtrack_acks acks;
    int rc;

    if (o->id != NULL)
        snprintf(id, sizeof id, "%s", o->id);
    else
        snprintf(id, sizeof id, "client-publish-%s-%lld-%ld", o->unit,
                 (long long)time(NULL), (long)getpid());
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    pack_donation(&pk, o, id);
    rc = povtrack_client_publish_events(c, &sb, 1, &acks);
    msgpack_sbuffer_destroy(&sb);
    if (rc != 0) {
        povtrack_client_acks_free(&acks);
        return client_failed(c, rc);
    }
    for (size_t i = 0; i < acks.count; i++) {
        const struct povtrack_ack *a = &acks.acks[i];
        if (a->status == POVTRACK_ACK_REJECTED)
            printf("ack %zu: %s rejected: %s\n", i, a->id ? a->id : "(no id)",
                   a->error);
        else
            printf("ack %zu: %s %s, seq %" PRIu64 "\n", i, a->id,
                   povtrack_proto_ack_status_name(a->status), a->seq);
    }
    rc = acks.acks[0].status == POVTRACK_ACK_REJECTED ? EXIT_REFUSED
                                                      : EXIT_STORED;
    *seq = acks.acks[0].seq;
    povtrack_client_acks_free(&acks);
    return rc;
}

static void print_vnd(const char *what, const msgpack_object *result,
                      const char *key)
{
    const msgpack_object *v = povtrack_client_map_get(result, key);
    if (v != NULL && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        printf("  %-10s %" PRIu64 " VND\n", what, v->via.u64);
    else if (v != NULL && v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        printf("  %-10s %" PRId64 " VND\n", what, v->via.i64);
}

/* Ask the fund plugin for the unit's totals once it has applied seq.  An
 * exit status. */
static int query_fund(povtrack_client *c, const struct options *o, uint64_t seq)
{
    msgpack_sbuffer q, req;
    msgpack_packer pk;
    struct povtrack_client_msg reply;
    const msgpack_object *result;
    int rc;

    msgpack_sbuffer_init(&q);
    msgpack_packer_init(&pk, &q, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    pack_str(&pk, "unit");
    pack_str(&pk, o->unit);
    msgpack_sbuffer_init(&req);
    msgpack_packer_init(&pk, &req, msgpack_sbuffer_write);
    rc = povtrack_proto_pack_query(&pk, "fund", q.data, q.size, (int64_t)seq);
    msgpack_sbuffer_destroy(&q);
    if (rc != 0) {
        msgpack_sbuffer_destroy(&req);
        fprintf(stderr, "client-publish: out of memory\n");
        return EXIT_FAILED;
    }
    rc = povtrack_client_request(c, req.data, req.size, &reply);
    msgpack_sbuffer_destroy(&req);
    if (rc != 0) {
        povtrack_client_msg_free(&reply);
        return client_failed(c, rc);
    }
    result = povtrack_client_map_get(&reply.obj, POVTRACK_KEY_RESULT);
    printf("fund of unit %s, as of seq %" PRIu64 ":\n", o->unit, seq);
    print_vnd("received", result, "received");
    print_vnd("disbursed", result, "disbursed");
    print_vnd("balance", result, "balance");
    povtrack_client_msg_free(&reply);
    return EXIT_STORED;
}

int main(int argc, char **argv)
{
    struct options o = {0};
    povtrack_client *c;
    uint64_t seq = 0;
    int rc = parse(argc, argv, &o);

    if (rc != 0)
        return rc;
    rc = povtrack_client_open(&c);
    if (rc != 0) {
        fprintf(stderr, "client-publish: %s\n", povtrack_strerror(rc));
        return EXIT_FAILED;
    }
    rc = configure(c, &o);
    if (rc == 0)
        rc = publish(c, &o, &seq);
    if (rc == 0)
        rc = query_fund(c, &o, seq);
    povtrack_client_close(c);
    return rc;
}
