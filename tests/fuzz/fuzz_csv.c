/*
 * fuzz_csv.c - libFuzzer target: a spreadsheet for `povtrack import-csv`
 * (tl_import_read), then compared with a log holding its own rows.
 *
 * The first byte chooses the options, the rest is the file:
 *   bit 0 clear: donation.received with --unit 593, English messages;
 *   bit 0 set:   fund.disbursed, ';' as the separator, --column for other
 *                headers, --set purpose=other, no --unit, Vietnamese
 *                messages, repeated rows allowed;
 *   bit 1 set:   --encoding cp1258.
 * The seeds in corpus/fuzz_csv/ start with '0', '1', '2' or '3'.
 *
 * Checked beyond crashes: the read ends in success or a bad-input error
 * (malloc does not fail under the fuzzer, so "out of memory" or an I/O
 * error means the importer mistook bad input for something else); every
 * problem has a text, and a row problem starts with its row; every good
 * row's event is valid for the catalogue (the daemon's decoder, as the
 * importer promises), has an id of at most 128 printable ASCII bytes
 * under the sheet's prefix, and ids are unique among the rows to send;
 * comparing the sheet with a log of its own events finds every row
 * unchanged and nothing gone.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "tl_import.h"
#include "tl_json.h"

/* 2026-12-06: dates after it are "in the future". */
#define NOW INT64_C(1796533200)

static void die(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_csv: invariant broken: %s: %s\n", what,
            detail != NULL ? detail : "");
    abort();
}

static void check_row(const struct tl_import_sheet *s,
                      const struct tl_import_row *r)
{
    struct tl_error err = {{0}};
    const char *id = json_string_value(json_object_get(r->event, "id"));

    if (id == NULL || strcmp(id, r->id) != 0)
        die("event id is not the row's", r->id);
    if (strlen(id) == 0 || strlen(id) > TL_IMPORT_ID_MAX ||
        strncmp(id, s->prefix, strlen(s->prefix)) != 0)
        die("id out of form", id);
    for (const char *p = id; *p != '\0'; p++)
        if (*p < 0x21 || *p > 0x7e)
            die("id not printable ASCII", id);
    if (tl_import_check(r->event, NOW + 86400, &err) != 0)
        die("a good row's event is refused by the catalogue", err.msg);
}

/* The log holds exactly the rows to send: each is found unchanged. */
static void compare_with_itself(struct tl_import_sheet *s)
{
    struct tl_error err = {{0}};

    for (size_t i = 0; i < s->nrows; i++) {
        msgpack_sbuffer sb;
        msgpack_packer pk;
        msgpack_unpacked up;
        size_t off = 0;

        if (s->rows[i].repeats != 0)
            continue;
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        if (tl_json_pack(s->rows[i].event, &pk, &err) != 0)
            die("pack", err.msg);
        msgpack_unpacked_init(&up);
        if (msgpack_unpack_next(&up, sb.data, sb.size, &off) !=
            MSGPACK_UNPACK_SUCCESS)
            die("unpack", NULL);
        if (tl_import_compare(s, i + 1, &up.data, &err) != 0)
            die("compare", err.msg);
        msgpack_unpacked_destroy(&up);
        msgpack_sbuffer_destroy(&sb);
    }
    if (tl_import_compared(s, &err) != 0)
        die("compared", err.msg);
    if (s->ngone != 0)
        die("a row of the sheet is gone from a log of the sheet", NULL);
    for (size_t i = 0; i < s->nrows; i++)
        if (s->rows[i].repeats == 0 && s->rows[i].state != TL_ROW_UNCHANGED)
            die("a row is not found unchanged in a log of itself",
                s->rows[i].id);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const columns[] = {"amount=tien", "date=ngay_chi",
                                          "unit=ma_dv", "household=ho"};
    static const char *const sets[] = {"purpose=other"};
    struct tl_import_opts o;
    struct tl_import_sheet s;
    struct tl_error err = {{0}};

    /* fmemopen refuses an empty buffer; an empty file is the same as one
     * that holds the selector only. */
    if (size < 2)
        return 0;
    memset(&o, 0, sizeof(o));
    o.publisher = "fuzz";
    o.now = NOW;
    if (data[0] & 1) {
        o.type = "fund.disbursed";
        o.delim = ';';
        o.columns = columns;
        o.ncolumns = 4;
        o.sets = sets;
        o.nsets = 1;
        o.lang = TL_LANG_VI;
        o.allow_duplicate_rows = true;
    } else {
        o.unit = "593";
    }
    if (data[0] & 2)
        o.encoding = "cp1258";
    size_t len = size - 1;
    /* fmemopen wants a writable buffer even to read. */
    char *buf = malloc(len);
    if (buf == NULL)
        die("malloc", "out of memory");
    memcpy(buf, data + 1, len);
    FILE *in = fmemopen(buf, len, "r");
    if (in == NULL)
        die("fmemopen", "failed");

    int rc = tl_import_read(in, &o, &s, &err);
    if (rc != POVTRACK_OK && rc != POVTRACK_EINVALID)
        die("import failed other than on bad input", err.msg);
    if (rc != POVTRACK_OK && err.msg[0] == '\0')
        die("import failed without a message", NULL);
    for (size_t i = 0; i < s.nproblems; i++) {
        const struct tl_import_problem *p = &s.problems[i];
        const char *head = o.lang == TL_LANG_VI ? "dòng " : "row ";
        if (p->text == NULL || p->text[0] == '\0')
            die("empty problem", NULL);
        if (p->row > 0 && strncmp(p->text, head, strlen(head)) != 0)
            die("a row's problem does not name the row", p->text);
    }
    for (size_t i = 0; rc == 0 && i < s.nrows; i++) {
        check_row(&s, &s.rows[i]);
        for (size_t k = 0; k < i; k++)
            if (s.rows[i].repeats == 0 && s.rows[k].repeats == 0 &&
                strcmp(s.rows[i].id, s.rows[k].id) == 0)
                die("two rows to send share an id", s.rows[i].id);
    }
    if (rc == 0)
        compare_with_itself(&s);
    tl_import_free(&s);
    fclose(in);
    free(buf);
    return 0;
}
