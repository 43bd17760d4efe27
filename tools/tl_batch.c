/*
 * tl_batch.c - see tl_batch.h.
 */
#include "tl_batch.h"

#include <stdlib.h>
#include <string.h>

#include "tl_json.h"

int tl_batch_init(struct tl_batch *b, povtrack_client *c, const char *what,
                  size_t max, FILE *out, bool json, bool progress)
{
    memset(b, 0, sizeof(*b));
    b->client = c;
    b->what = what;
    b->max = max;
    b->out = out;
    b->json = json;
    b->progress = progress;
    msgpack_sbuffer_init(&b->body);
    msgpack_sbuffer_init(&b->one);
    b->where = calloc(max, sizeof(*b->where));
    return b->where != NULL ? POVTRACK_OK : POVTRACK_ENOMEM;
}

void tl_batch_free(struct tl_batch *b)
{
    msgpack_sbuffer_destroy(&b->body);
    msgpack_sbuffer_destroy(&b->one);
    free(b->where);
    memset(b, 0, sizeof(*b));
}

static int report(struct tl_batch *b, size_t where, const char *id,
                  const char *msg)
{
    int n;

    if (b->json) {
        json_t *o =
            json_pack("{s:s,s:I,s:s?,s:s}", "status", "rejected", b->what,
                      (json_int_t)where, "id", id, "error", msg);
        if (o == NULL)
            return POVTRACK_ENOMEM;
        n = json_dumpf(o, b->out, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(o);
        return n == 0 && fputc('\n', b->out) != EOF ? 0 : POVTRACK_EIO;
    }
    if (id != NULL)
        n = fprintf(b->out, "%s %zu: id %s: %s\n", b->what, where, id, msg);
    else
        n = fprintf(b->out, "%s %zu: %s\n", b->what, where, msg);
    return n < 0 ? POVTRACK_EIO : 0;
}

int tl_batch_reject(struct tl_batch *b, size_t where, const char *msg)
{
    b->rejected++;
    if (b->json)
        return report(b, where, NULL, msg);
    return fprintf(b->out, "%s\n", msg) < 0 ? POVTRACK_EIO : POVTRACK_OK;
}

int tl_batch_flush(struct tl_batch *b, struct tl_error *err)
{
    struct povtrack_client_acks acks;
    int rc;

    if (b->count == 0)
        return POVTRACK_OK;
    rc = povtrack_client_publish_events(b->client, &b->body, b->count, &acks);
    /* Refused without acks: the connection itself (CURVE key not
     * admitted), which no later frame can get past either. */
    if (rc == POVTRACK_CLIENT_EREFUSED && acks.count > 0) {
        /* The daemon refused the frame as a whole: every event in it. */
        char msg[TL_ERROR_MAX];
        snprintf(msg, sizeof(msg), "frame of %s %zu to %zu refused: %s",
                 b->what, b->where[0], b->where[b->count - 1],
                 acks.acks[0].error);
        b->rejected += b->count;
        b->sent += b->count;
        rc = report(b, b->where[0], NULL, msg);
    } else if (rc != 0) {
        b->client_rc = rc;
        povtrack_client_acks_free(&acks);
        return tl_fail(err, POVTRACK_EIO, "%s",
                       povtrack_client_error(b->client));
    } else {
        b->sent += b->count;
        for (size_t i = 0; i < acks.count && rc == 0; i++) {
            const struct povtrack_client_ack *a = &acks.acks[i];
            if (a->status == POVTRACK_ACK_OK) {
                b->ok++;
            } else if (a->status == POVTRACK_ACK_DUPLICATE) {
                b->duplicate++;
            } else {
                b->rejected++;
                rc = b->on_rejected != NULL
                         ? b->on_rejected(b->arg, b->where[i], a->id, a->error)
                         : report(b, b->where[i], a->id, a->error);
            }
        }
    }
    povtrack_client_acks_free(&acks);
    b->count = 0;
    b->body.size = 0;
    if (b->progress)
        fprintf(stderr, "\rsent %zu event%s...", b->sent,
                b->sent == 1 ? "" : "s");
    return rc != 0 ? tl_fail(err, POVTRACK_EIO, "cannot write output")
                   : POVTRACK_OK;
}

int tl_batch_add(struct tl_batch *b, size_t where, const json_t *ev,
                 struct tl_error *err)
{
    msgpack_packer pk;
    int rc;

    b->one.size = 0;
    msgpack_packer_init(&pk, &b->one, msgpack_sbuffer_write);
    rc = tl_json_pack(ev, &pk, err);
    if (rc != 0)
        return rc;
    /* 3 bytes for the array16 header the frame gets. */
    if (b->one.size > POVTRACK_CLIENT_FRAME_MAX - 3) {
        char msg[200];
        snprintf(msg, sizeof(msg),
                 "%s %zu: event of %zu bytes exceeds the %u-byte frame limit",
                 b->what, where, b->one.size, POVTRACK_CLIENT_FRAME_MAX);
        return tl_batch_reject(b, where, msg);
    }
    if (b->count == b->max ||
        b->body.size + b->one.size > POVTRACK_CLIENT_FRAME_MAX - 3) {
        rc = tl_batch_flush(b, err);
        if (rc != 0)
            return rc;
    }
    if (msgpack_sbuffer_write(&b->body, b->one.data, b->one.size) != 0)
        return tl_fail(err, POVTRACK_ENOMEM, "out of memory");
    b->where[b->count++] = where;
    return POVTRACK_OK;
}

int tl_batch_summary(struct tl_batch *b)
{
    /* Lines rejected before sending count too, so the parts add up. */
    size_t total = b->ok + b->duplicate + b->rejected;
    int n;

    if (b->progress && b->sent > 0)
        fprintf(stderr, "\r%*s\r", 40, "");
    if (b->json) {
        json_t *o =
            json_pack("{s:I,s:I,s:I,s:I}", "events", (json_int_t)total, "ok",
                      (json_int_t)b->ok, "duplicate", (json_int_t)b->duplicate,
                      "rejected", (json_int_t)b->rejected);
        if (o == NULL)
            return POVTRACK_ENOMEM;
        n = json_dumpf(o, b->out, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(o);
        return n == 0 && fputc('\n', b->out) != EOF ? POVTRACK_OK
                                                    : POVTRACK_EIO;
    }
    n = fprintf(b->out,
                "sent %zu event%s: %zu ok, %zu duplicate, %zu rejected\n",
                total, total == 1 ? "" : "s", b->ok, b->duplicate, b->rejected);
    return n < 0 ? POVTRACK_EIO : POVTRACK_OK;
}
