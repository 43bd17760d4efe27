/*
 * tl_query.h - asking plugins from the commands that read several of them
 * (summary, report): a plugin query that tells "plugin not loaded" apart
 * from other refusals, and the wait until the plugins have applied the log.
 */
#ifndef POVTRACK_TL_QUERY_H
#define POVTRACK_TL_QUERY_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <msgpack.h>

#include "tl_cli.h"

/* Add key = value to a plugin's query map q as `povtrack query KEY=VALUE`
 * and the gateway's /api/v1/query do: a value that is a decimal integer
 * (in int64) is sent as an integer, except for the keys whose values are
 * codes (unit, parent, household), which stay strings; anything else is a
 * string.  Returns 0, POVTRACK_EINVALID (value not UTF-8) or
 * POVTRACK_ENOMEM. */
int tl_query_param(json_t *q, const char *key, const char *value);

/* Pack {"op": "query", "plugin", "q", "min_seq"?} into out (initialised by
 * the caller) with the protocol's packer; min_seq < 0: none.  Returns 0, or
 * TL_EXIT_FAIL after printing why. */
int tl_query_pack(const char *plugin, const json_t *q, int64_t min_seq,
                  msgpack_sbuffer *out);

/* Send {"op": "query", "plugin", "q", "min_seq"?} (min_seq only when > 0;
 * q is borrowed).  Returns 0 with reply filled, or an exit code after
 * printing the failure once (reply is then empty).  When absent is not
 * NULL and the daemon answers that no such plugin is loaded, *absent is
 * set, nothing is printed and 0 is returned with reply empty. */
int tl_query_plugin(struct tl_cli *cli, const char *plugin, const json_t *q,
                    int64_t min_seq, struct povtrack_client_msg *reply,
                    bool *absent);

/* The sequence of the last record in the log (stats op); 0 when empty. */
int tl_query_last_seq(struct tl_cli *cli, int64_t *seq);

/* One plugin to wait for, with a query it answers. */
struct tl_wait_target {
    const char *plugin;
    const json_t *q;
    bool absent; /* out: the plugin is not loaded */
};

/* Wait until every target plugin has applied the log as it is now, so a
 * report right after publishing includes what was published.  With
 * tolerate_absent a plugin that is not loaded only sets its target's
 * absent; otherwise that is an error like any other.  Returns 0 or an exit
 * code (the failure printed once). */
int tl_wait_caught_up(struct tl_cli *cli, struct tl_wait_target *t, size_t n,
                      bool tolerate_absent);

#endif /* POVTRACK_TL_QUERY_H */
