/*
 * tl_json.h - JSON <-> msgpack, as the CLI sends and shows events.
 *
 * JSON to msgpack keeps types as JSON has them: integers become msgpack
 * integers, reals become float64 (the daemon then rejects them where it wants
 * an integer, with its own message: the CLI does not validate events), null
 * becomes nil.  msgpack to JSON is for display and --json output.
 */
#ifndef POVTRACK_TL_JSON_H
#define POVTRACK_TL_JSON_H

#include <jansson.h>
#include <msgpack.h>

#include "tl_error.h"

/* Append v to pk.  POVTRACK_ENOMEM when the packer's buffer cannot grow. */
int tl_json_pack(const json_t *v, msgpack_packer *pk, struct tl_error *err);

/* Convert o to a new JSON value in *out (caller json_decref()s it).
 * POVTRACK_EINVALID for what JSON cannot hold faithfully: integers above
 * INT64_MAX, non-finite floats, binary or extension values, non-string map
 * keys, strings that are not UTF-8. */
int tl_json_from_msgpack(const msgpack_object *o, json_t **out,
                         struct tl_error *err);

/* Print o as one line of compact JSON followed by a newline. */
int tl_json_print(FILE *f, const msgpack_object *o, struct tl_error *err);

#endif /* POVTRACK_TL_JSON_H */
