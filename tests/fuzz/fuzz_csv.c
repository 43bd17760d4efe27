/*
 * fuzz_csv.c - libFuzzer target: a donations spreadsheet for
 * `povtrack import-csv` (tl_import_csv).
 *
 * The first byte chooses the options, the rest is the file:
 *   even: the defaults with --unit 593 (Vietnamese or English headers);
 *   odd:  --type fund.disbursed, ';' as the separator and a --map that
 *         names other columns, without --unit.
 * The seeds in corpus/fuzz_csv/ start with '0' or '1' accordingly.
 *
 * Checked beyond crashes: the import ends in success or a bad-input error
 * (malloc does not fail under the fuzzer, so "out of memory" or an I/O
 * error means the importer mistook bad input for something else), every
 * error and bad row has a message, and every event handed to the sink has
 * the keys the daemon requires, with an id and a unit.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "tl_import.h"

static void die(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_csv: invariant broken: %s: %s\n", what,
            detail != NULL ? detail : "");
    abort();
}

static const char *string_member(const json_t *ev, const char *key)
{
    const char *s = json_string_value(json_object_get(ev, key));
    if (s == NULL || s[0] == '\0')
        die("event without a string", key);
    return s;
}

static int on_event(void *arg, size_t row, json_t *ev)
{
    (void)arg;
    (void)row;
    if (!json_is_object(ev))
        die("event is not an object", NULL);
    if (json_integer_value(json_object_get(ev, "v")) != 1)
        die("event without v = 1", NULL);
    string_member(ev, "id");
    string_member(ev, "type");
    string_member(ev, "unit");
    if (!json_is_integer(json_object_get(ev, "at")))
        die("event without an integer at", NULL);
    if (!json_is_object(json_object_get(ev, "data")))
        die("event without a data object", NULL);
    /* The sink owns the event. */
    json_decref(ev);
    return 0;
}

static int on_bad_row(void *arg, size_t row, const char *msg)
{
    (void)arg;
    (void)row;
    if (msg == NULL || strncmp(msg, "row ", 4) != 0)
        die("bad row message does not name the row", msg);
    return 0;
}

static void on_note(void *arg, const char *msg)
{
    (void)arg;
    if (msg == NULL || msg[0] == '\0')
        die("empty note", NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct tl_import_opts opts[2] = {
        {NULL, "593", NULL, "csv-fuzz", 0},
        {"fund.disbursed", NULL,
         "tien=amount,ngay_chi=at,ma_dv=unit,ho=household,muc_dich=purpose",
         "csv-fuzz-b", ';'},
    };
    const struct tl_import_sink sink = {NULL, on_event, on_bad_row, on_note};
    struct tl_error err = {{0}};

    /* fmemopen refuses an empty buffer; an empty file is the same as one
     * that holds the selector only. */
    if (size < 2)
        return 0;
    const struct tl_import_opts *o = &opts[data[0] & 1];
    size_t len = size - 1;
    /* fmemopen wants a writable buffer even to read. */
    char *buf = malloc(len);
    if (buf == NULL)
        die("malloc", "out of memory");
    memcpy(buf, data + 1, len);
    FILE *in = fmemopen(buf, len, "r");
    if (in == NULL)
        die("fmemopen", "failed");

    int rc = tl_import_csv(in, o, &sink, &err);
    if (rc != POVTRACK_OK && rc != POVTRACK_EINVALID)
        die("import failed other than on bad input", err.msg);
    if (rc != POVTRACK_OK && err.msg[0] == '\0')
        die("import failed without a message", NULL);
    fclose(in);
    free(buf);
    return 0;
}
