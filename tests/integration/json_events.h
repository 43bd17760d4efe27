/*
 * json_events.h - events and queries written as JSON in the integration
 * tests, packed to msgpack with the CLI's converter (tl_json_pack), as
 * `povtrack send` does.  Every helper fails the running cmocka test when
 * the daemon refuses or does not answer.
 */
#ifndef POVTRACK_TEST_JSON_EVENTS_H
#define POVTRACK_TEST_JSON_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "daemon.h"

/* json (an array of events, or a request map) into sb, which this
 * initialises; the caller destroys it. */
void tj_pack(msgpack_sbuffer *sb, const char *json);

/* Publish json, an array of events, as one request: every ack must be
 * "ok".  Returns the last sequence acked. */
uint64_t tj_publish_ok(struct td *d, const char *json, int timeout_ms);

/* The raw "result" of plugin's answer to the query map q_json once it has
 * applied min_seq (the caller frees it, *len bytes). */
char *tj_query(struct td *d, const char *plugin, const char *q_json,
               uint64_t min_seq, int timeout_ms, size_t *len);

#endif /* POVTRACK_TEST_JSON_EVENTS_H */
