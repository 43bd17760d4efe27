/*
 * tl_batch.h - send events in frames and report their acks.
 *
 * Shared by `send` (events numbered by input line) and `import-csv` (by
 * spreadsheet row).  Rejections are printed as they come back,
 * "line 12: id mttq-1: data.amount: must be a positive integer", and
 * tl_batch_summary() prints "sent 1000 events: 998 ok, 1 duplicate,
 * 1 rejected".
 */
#ifndef POVTRACK_TL_BATCH_H
#define POVTRACK_TL_BATCH_H

#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>
#include <msgpack.h>

#include <povtrack/client.h>

#include "tl_error.h"

struct tl_batch {
    povtrack_client *client;
    const char *what; /* "line" or "row" */
    size_t max;       /* events per frame */
    FILE *out;
    bool json;     /* rejections and summary as JSON lines */
    bool progress; /* a running count on stderr */
    int client_rc; /* the povtrack_client_rc of a transport failure */
    msgpack_sbuffer body;
    msgpack_sbuffer one;
    size_t count;  /* events in body */
    size_t *where; /* line or row of each */
    size_t sent, ok, duplicate, rejected;
    /* When set, each event the daemon rejects is given to it (counted
     * already) instead of being printed: the importer says what a
     * rejection means for a spreadsheet row.  0, or an error code. */
    int (*on_rejected)(void *arg, size_t where, const char *id,
                       const char *error);
    void *arg;
};

int tl_batch_init(struct tl_batch *b, povtrack_client *c, const char *what,
                  size_t max, FILE *out, bool json, bool progress);
void tl_batch_free(struct tl_batch *b);

/* Queue ev (from line/row where); sends a frame when full.  POVTRACK_EIO when
 * the daemon could not be reached or broke the protocol: client_rc says which,
 * and the events of that frame are in an unknown state (sending them again
 * is safe: the daemon deduplicates by id). */
int tl_batch_add(struct tl_batch *b, size_t where, const json_t *ev,
                 struct tl_error *err);
int tl_batch_flush(struct tl_batch *b, struct tl_error *err);

/* Count a rejection found before sending (invalid JSON, bad row) and print
 * msg, which already names its line or row. */
int tl_batch_reject(struct tl_batch *b, size_t where, const char *msg);

int tl_batch_summary(struct tl_batch *b);

#endif /* POVTRACK_TL_BATCH_H */
