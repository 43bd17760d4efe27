/*
 * fuzz_client.c - libFuzzer target: one reply as the client library reads
 * it (an ingest reply, a query reply or an alert body).
 *
 * Runs what povtrack_client does with a frame from the daemon (or from
 * whatever else answers on its endpoint), through the protocol module
 * alone: povtrack_proto_unpack (the pre-check, then msgpack-c), and on the
 * object both readers, povtrack_proto_parse_acks (as for an ingest reply)
 * and povtrack_proto_parse_reply (as for a query reply).
 *
 * Beyond crashes and leaks it checks three invariants.  What the pre-check
 * passes, msgpack-c unpacks (else the pre-check let through what it should
 * have refused).  Every ack read is whole: a known status, NUL-terminated
 * strings without a NUL inside, an error exactly on a rejected ack.  And
 * writing and reading agree: an ack or a refusal read from the input,
 * packed again with the daemon's functions (povtrack_proto_pack_ack,
 * povtrack_proto_pack_error) and read back, gives the same values when its
 * text was valid UTF-8 (other text is escaped on the way, by design).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include <povtrack/protocol.h>

static void die(const char *what, const char *why)
{
    fprintf(stderr, "fuzz_client: invariant broken: %s%s%s\n", what,
            why != NULL ? ": " : "", why != NULL ? why : "");
    abort();
}

static bool same(const char *a, const char *b)
{
    return (a == NULL && b == NULL) ||
           (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static bool utf8(const char *s)
{
    return s == NULL || povtrack_proto_utf8_valid(s, strlen(s));
}

/* Decode sb's one object (what the protocol module packed) into a new
 * zone; the caller frees the zone. */
static msgpack_zone *unpack_packed(const msgpack_sbuffer *sb,
                                   msgpack_object *obj)
{
    char why[POVTRACK_PROTO_ERROR_MAX];
    msgpack_zone *zone = msgpack_zone_new(MSGPACK_ZONE_CHUNK_SIZE);

    if (zone == NULL)
        die("out of memory", NULL);
    if (povtrack_proto_check_strict(sb->data, sb->size, why, sizeof why) != 0)
        die("what the protocol packs is not strict msgpack", why);
    if (povtrack_proto_unpack(sb->data, sb->size, zone, obj, why, sizeof why) !=
        0)
        die("what the protocol packs does not unpack", why);
    return zone;
}

/* Every ack of acks, packed as the daemon packs it and read back. */
static void check_acks_round_trip(const struct povtrack_acks *acks)
{
    char why[POVTRACK_PROTO_ERROR_MAX];
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_object obj;
    struct povtrack_acks again;

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, acks->count);
    for (size_t i = 0; i < acks->count; i++) {
        const struct povtrack_ack *a = &acks->acks[i];
        if (povtrack_proto_pack_ack(
                &pk, a->id, a->id ? (uint32_t)strlen(a->id) : 0, (uint32_t)i,
                a->status, a->seq, a->error) != 0)
            die("an ack read cannot be packed", NULL);
    }
    msgpack_zone *zone = unpack_packed(&sb, &obj);
    if (povtrack_proto_parse_acks(&obj, &again, why, sizeof why) != 0)
        die("acks packed by the protocol do not read back", why);
    if (again.count != acks->count)
        die("acks read back are not as many", NULL);
    for (size_t i = 0; i < acks->count; i++) {
        const struct povtrack_ack *a = &acks->acks[i], *b = &again.acks[i];
        if (a->status != b->status || a->seq != b->seq)
            die("an ack reads back with another status or seq", NULL);
        if ((utf8(a->id) && !same(a->id, b->id)) ||
            (utf8(a->error) && !same(a->error, b->error)))
            die("an ack's valid UTF-8 text reads back changed", NULL);
    }
    povtrack_proto_acks_free(&again);
    msgpack_zone_free(zone);
    msgpack_sbuffer_destroy(&sb);
}

static void check_acks(const msgpack_object *obj)
{
    char why[POVTRACK_PROTO_ERROR_MAX];
    struct povtrack_acks acks;
    int rc = povtrack_proto_parse_acks(obj, &acks, why, sizeof why);

    if (rc != 0) {
        if (acks.count != 0 || acks.acks != NULL || acks.storage_ != NULL)
            die("a refused ack array is not left empty", why);
        povtrack_proto_acks_free(&acks);
        return;
    }
    if (obj->type != MSGPACK_OBJECT_ARRAY || acks.count != obj->via.array.size)
        die("not one ack per element", NULL);
    for (size_t i = 0; i < acks.count; i++) {
        const struct povtrack_ack *a = &acks.acks[i];
        if (povtrack_proto_ack_status_name(a->status) == NULL)
            die("an ack has an unknown status", NULL);
        if ((a->status == POVTRACK_ACK_REJECTED) != (a->error != NULL))
            die("an error without a rejection, or the reverse", NULL);
    }
    /* The round trip reads every string to its NUL: ASan sees an ack whose
     * string runs past the one allocation that holds them. */
    check_acks_round_trip(&acks);
    povtrack_proto_acks_free(&acks);
}

/* A refusal read from the input, packed as the daemon packs one and read
 * back. */
static void check_reply(const msgpack_object *obj)
{
    const char *error, *again_error;
    size_t error_len, again_len;
    bool ok, again_ok;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_object again;

    if (povtrack_proto_parse_reply(obj, &ok, &error, &error_len) != 0) {
        if (obj->type == MSGPACK_OBJECT_MAP &&
            povtrack_proto_map_get(obj, POVTRACK_KEY_OK) != NULL &&
            povtrack_proto_map_get(obj, POVTRACK_KEY_OK)->type ==
                MSGPACK_OBJECT_BOOLEAN)
            die("a reply with a boolean \"ok\" is refused", NULL);
        return;
    }
    if (ok || error == NULL || memchr(error, '\0', error_len) != NULL ||
        !povtrack_proto_utf8_valid(error, error_len))
        return;
    char *msg = malloc(error_len + 1);
    if (msg == NULL)
        die("out of memory", NULL);
    memcpy(msg, error, error_len);
    msg[error_len] = '\0';
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    if (povtrack_proto_pack_error(&pk, msg, 0) != 0)
        die("a refusal cannot be packed", NULL);
    msgpack_zone *zone = unpack_packed(&sb, &again);
    if (povtrack_proto_parse_reply(&again, &again_ok, &again_error,
                                   &again_len) != 0 ||
        again_ok || again_error == NULL || again_len != error_len ||
        memcmp(again_error, msg, error_len) != 0)
        die("a refusal reads back changed", msg);
    msgpack_zone_free(zone);
    msgpack_sbuffer_destroy(&sb);
    free(msg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct povtrack_proto_limits reply_limits = {
        POVTRACK_PROTO_REPLY_DEPTH_MAX, UINT32_MAX, UINT32_MAX, UINT32_MAX,
        NULL};
    char why[POVTRACK_PROTO_ERROR_MAX];
    msgpack_zone *zone;
    msgpack_object obj;
    int rc;

    if (size > POVTRACK_PROTO_REPLY_MAX)
        return 0; /* the socket drops it (ZMQ_MAXMSGSIZE) */
    /* The client unpacks its own copy of the frame; so does this, so that
     * ASan sees a read past the end of the input. */
    char *copy = malloc(size > 0 ? size : 1);
    zone = msgpack_zone_new(MSGPACK_ZONE_CHUNK_SIZE);
    if (copy == NULL || zone == NULL)
        die("out of memory", NULL);
    if (size > 0)
        memcpy(copy, data, size);
    rc = povtrack_proto_unpack(copy, size, zone, &obj, why, sizeof why);
    if (rc != 0 && rc != -ENOMEM &&
        povtrack_proto_precheck(copy, size, &reply_limits, NULL, 0) == 0)
        die("pre-checked reply does not unpack", why);
    if (rc == 0) {
        check_acks(&obj);
        check_reply(&obj);
        /* Text checks read every byte of whatever they are given. */
        povtrack_proto_check_strict(copy, size, why, sizeof why);
    }
    msgpack_zone_free(zone);
    free(copy);
    return 0;
}
