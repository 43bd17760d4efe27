/*
 * test_replies.c - every reply of the real povtrackd decodes with a strict
 * msgpack decoder (issue 12), and every request gets exactly one reply.
 *
 * A strict decoder (msgpack-python with raw=False, most languages'
 * default) refuses a whole reply when one str in it is not UTF-8, and the
 * client then loses every ack of its request.  Each reply here is checked
 * with povtrack_proto_check_strict (one msgpack object, every str valid UTF-8)
 * before anything else is read from it.  Requests with extra body frames,
 * 2 or 100 or 1000 of them, must each get one rejection; that they get no
 * second reply is shown by the next request's reply coming next.  The
 * daemon runs fund and echo (echo.c), a plugin that says back whatever it
 * is asked, valid UTF-8 or not.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zmq.h>

#include "daemon.h"
#include "ev_event.h"

#define TIMEOUT_MS 10000

struct fixture {
    struct td d;
    void *in, *q; /* DEALERs of our own, to see the reply bytes */
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    char config[400];
    if (f == NULL || td_init(&f->d) != 0)
        return -1;
    snprintf(config, sizeof config, "%s/povtrackd.ini", f->d.dir);
    FILE *out = fopen(config, "w");
    if (out == NULL ||
        fprintf(out,
                "[daemon]\nplugins = fund echo\n"
                "[plugin.echo]\npath = %s/echo.so\n",
                POVTRACK_TEST_PLUGIN_DIR) < 0 ||
        fclose(out) != 0 ||
        td_start(&f->d, (const char *[]){"-c", config, NULL}) != 0 ||
        td_define_province(&f->d, "u-60") != 0)
        return -1;
    f->in = td_dealer(&f->d, f->d.ingest, NULL, NULL);
    f->q = td_dealer(&f->d, f->d.query, NULL, NULL);
    *state = f;
    return f->in != NULL && f->q != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    if (f->in != NULL)
        zmq_close(f->in);
    if (f->q != NULL)
        zmq_close(f->q);
    td_stop(&f->d);
    td_destroy(&f->d);
    free(f);
    return 0;
}

/* Send the delimiter, body, then extra copies of frame (n bytes). */
static void send_request(void *sock, const void *body, size_t len,
                         const void *extra, size_t n, int copies)
{
    assert_int_equal(zmq_send(sock, "", 0, ZMQ_SNDMORE), 0);
    assert_int_equal(zmq_send(sock, body, len, copies > 0 ? ZMQ_SNDMORE : 0),
                     (int)len);
    for (int i = 0; i < copies; i++)
        assert_int_equal(
            zmq_send(sock, extra, n, i + 1 < copies ? ZMQ_SNDMORE : 0), (int)n);
}

/* The next reply: an empty delimiter and one body frame, which must pass
 * the strict check; unpacked into up, which owns the bytes. */
static void strict_reply(void *sock, msgpack_unpacked *up)
{
    char *raw;
    size_t len, off = 0;
    int rc = td_recv_body(sock, TIMEOUT_MS, &raw, &len);
    if (rc == -1)
        fail_msg("no reply within %d ms", TIMEOUT_MS);
    if (rc != 0)
        fail_msg("a reply that is not a delimiter and one body frame");
    struct ev_error err = {0};
    if (povtrack_proto_check_strict(raw, len, err.msg, sizeof err.msg) != 0)
        fail_msg("a strict decoder refuses the reply: %s", err.msg);
    msgpack_unpacked_init(up);
    assert_int_equal(msgpack_unpack_next(up, raw, len, &off),
                     MSGPACK_UNPACK_SUCCESS);
    assert_true(msgpack_zone_push_finalizer(up->zone, free, raw));
}

/* Copy a str to a C string for messages and comparisons. */
static const char *text(const msgpack_object *o, char *buf, size_t cap)
{
    assert_non_null(o);
    assert_int_equal(o->type, MSGPACK_OBJECT_STR);
    assert_true(o->via.str.size < cap);
    memcpy(buf, o->via.str.ptr, o->via.str.size);
    buf[o->via.str.size] = '\0';
    return buf;
}

/* Replace the one occurrence of from in sb by to, of the same length. */
static void patch(msgpack_sbuffer *sb, const char *from, const char *to,
                  size_t n)
{
    char *hit = NULL;
    for (size_t i = 0; i + n <= sb->size; i++)
        if (memcmp(sb->data + i, from, n) == 0) {
            assert_null(hit);
            hit = sb->data + i;
        }
    assert_non_null(hit);
    memcpy(hit, to, n);
}

/* Ack i: status, and the id as given (NULL: nil, with index i). */
static const msgpack_object *ack(const msgpack_unpacked *up, uint32_t i,
                                 const char *id, const char *status)
{
    assert_int_equal(up->data.type, MSGPACK_OBJECT_ARRAY);
    assert_true(i < up->data.via.array.size);
    const msgpack_object *a = &up->data.via.array.ptr[i];
    assert_true(td_str_eq(td_get(a, "status"), status));
    const msgpack_object *index = td_get(a, "index");
    if (id != NULL) {
        assert_true(td_str_eq(td_get(a, "id"), id));
        assert_null(index); /* a good id: the ack of protocol v1 as it was */
    } else {
        assert_non_null(td_get(a, "id"));
        assert_int_equal(td_get(a, "id")->type, MSGPACK_OBJECT_NIL);
        assert_non_null(index);
        assert_int_equal(index->type, MSGPACK_OBJECT_POSITIVE_INTEGER);
        assert_int_equal(index->via.u64, i);
    }
    return a;
}

static void assert_error(const msgpack_object *map, const char *want)
{
    char buf[1024];
    const char *e = text(td_get(map, "error"), buf, sizeof buf);
    if (strcmp(e, want) != 0)
        fail_msg("error \"%s\", wanted \"%s\"", e, want);
}

/* A query request; the error of its refusal must be want. */
static void query_refused(struct fixture *f, const void *req, size_t len,
                          const char *want)
{
    msgpack_unpacked up;
    send_request(f->q, req, len, NULL, 0, 0);
    strict_reply(f->q, &up);
    const msgpack_object *ok = td_get(&up.data, "ok");
    assert_non_null(ok);
    assert_int_equal(ok->type, MSGPACK_OBJECT_BOOLEAN);
    assert_false(ok->via.boolean);
    assert_error(&up.data, want);
    msgpack_unpacked_destroy(&up);
}

#define LIT(s) (s), sizeof(s) - 1

/* ---- ingest ---- */

static void test_ack_ids(void **state)
{
    struct fixture *f = *state;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    td_pack_donations(&sb, "r", 0, 4, 1000000);
    /* 0: an id of bytes that are not UTF-8 (the ff fe fd fc);
     * 1: left valid; 2: an id that is not a str (an ext of the same
     * length); 3: no id at all (its key renamed). */
    patch(&sb, "r-0-0",
          "\xff\xfe\xfd\xfc"
          "0",
          5);
    patch(&sb, "\xa5r-0-2",
          "\xd6\x01"
          "abcd",
          6);
    patch(&sb, "\xa2id\xa5r-0-3", "\xa2ix\xa5r-0-3", 9);
    send_request(f->in, sb.data, sb.size, NULL, 0, 0);
    msgpack_sbuffer_destroy(&sb);

    msgpack_unpacked up;
    strict_reply(f->in, &up);
    assert_int_equal(up.data.via.array.size, 4);
    assert_error(ack(&up, 0, NULL, "rejected"),
                 "id: byte 0 is not printable ASCII (0x21..0x7e)");
    const msgpack_object *ok = ack(&up, 1, "r-0-1", "ok");
    assert_int_equal(td_get(ok, "seq")->via.u64, 2);
    assert_error(ack(&up, 2, NULL, "rejected"), "id: must be a string");
    assert_error(ack(&up, 3, NULL, "rejected"), "ix: unknown field");
    msgpack_unpacked_destroy(&up);

    /* Nothing invalid is stored: the log is the province and r-0-1. */
    send_request(f->q,
                 LIT("\x82\xa2op\xa4read\xa4"
                     "from\x01"),
                 NULL, 0, 0);
    strict_reply(f->q, &up);
    const msgpack_object *recs = td_get(&up.data, "records");
    assert_non_null(recs);
    assert_int_equal(recs->via.array.size, 2);
    assert_true(td_str_eq(
        td_get(td_get(&recs->via.array.ptr[1], "event"), "id"), "r-0-1"));
    msgpack_unpacked_destroy(&up);
}

/* Extra body frames, however many: one rejection, then the next request's
 * reply (no second reply in between, nothing stored). */
static void test_extra_frames_ingest(void **state)
{
    struct fixture *f = *state;
    static const int extra[] = {2, 100, 1000};
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    char want[128];
    for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++) {
        td_pack_donations(&sb, "x", (int)i, 1, 1000000);
        send_request(f->in, sb.data, sb.size, LIT("\x90"), extra[i]);
        msgpack_unpacked up;
        strict_reply(f->in, &up);
        assert_int_equal(up.data.via.array.size, 1);
        const msgpack_object *a = &up.data.via.array.ptr[0];
        assert_true(td_str_eq(td_get(a, "status"), "rejected"));
        assert_int_equal(td_get(a, "id")->type, MSGPACK_OBJECT_NIL);
        assert_null(td_get(a, "index")); /* the request, not an event */
        snprintf(want, sizeof want,
                 "request: must be exactly one frame after the envelope, "
                 "got %d",
                 extra[i] + 1);
        assert_error(a, want);
        msgpack_unpacked_destroy(&up);
    }
    /* The same event alone is stored now, so none of the above was. */
    td_pack_donations(&sb, "x", 0, 1, 1000000);
    send_request(f->in, sb.data, sb.size, NULL, 0, 0);
    msgpack_unpacked up;
    strict_reply(f->in, &up);
    assert_int_equal(td_get(ack(&up, 0, "x-0-0", "ok"), "seq")->via.u64, 2);
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_destroy(&sb);
}

/* ---- query ---- */

static void test_query_echo(void **state)
{
    struct fixture *f = *state;
    /* {"op": "query", "plugin": "fund", "q": {"unit": ff fe fd}}: fund
     * quotes the unit in its error. */
    query_refused(f,
                  LIT("\x83\xa2op\xa5query\xa6plugin\xa4"
                      "fund\xa1q\x81\xa4unit\xa3\xff\xfe\xfd"),
                  "fund: unit: '\\xff\\xfe\\xfd' is not a defined unit");
    /* The host's own echoes: an op name and a plugin name. */
    query_refused(f,
                  LIT("\x81\xa2op\xa3\xff\xfe"
                      "a"),
                  "op: unknown operation \"\\xff\\xfea\"");
    query_refused(f, LIT("\x82\xa2op\xa5query\xa6plugin\xa2\xc3\x28"),
                  "plugin: no plugin named \"\\xc3(\" is loaded");
    /* Valid UTF-8 is echoed as it is. */
    query_refused(f, LIT("\x81\xa2op\xa4ph\xc3\xa1"),
                  "op: unknown operation \"ph\xc3\xa1\"");
}

/* A plugin's result goes on only when a strict decoder can read it; its
 * error text is escaped like the host's own. */
static void test_plugin_echo(void **state)
{
    struct fixture *f = *state;
    msgpack_unpacked up;
    char buf[64];
    send_request(f->q,
                 LIT("\x83\xa2op\xa5query\xa6plugin\xa4"
                     "echo\xa1q\x81\xa3say\xa3h\xc3\xa9"),
                 NULL, 0, 0);
    strict_reply(f->q, &up);
    assert_true(td_get(&up.data, "ok")->via.boolean);
    assert_string_equal(
        text(td_get(td_get(&up.data, "result"), "said"), buf, sizeof buf),
        "h\xc3\xa9");
    msgpack_unpacked_destroy(&up);
    query_refused(f,
                  LIT("\x83\xa2op\xa5query\xa6plugin\xa4"
                      "echo\xa1q\x81\xa3say\xa2\xff\xfe"),
                  "echo: its result is not msgpack with valid UTF-8 strings "
                  "(string at byte 7 is not valid UTF-8); not sent");
    query_refused(f,
                  LIT("\x83\xa2op\xa5query\xa6plugin\xa4"
                      "echo\xa1q\x81\xa4"
                      "fail\xa3no\xff"),
                  "echo: no\\xff");
    /* The host goes on answering. */
    send_request(f->q, LIT("\x81\xa2op\xa5stats"), NULL, 0, 0);
    strict_reply(f->q, &up);
    assert_true(td_get(&up.data, "ok")->via.boolean);
    msgpack_unpacked_destroy(&up);
}

/* A plugin's alert text cut mid-character (echo.c keeps a donor's first
 * 3 bytes: "H" and two of the three bytes of "ộ") is stored and listed
 * escaped, so the alerts op's reply stays strictly decodable. */
static void test_plugin_alert_text(void **state)
{
    struct fixture *f = *state;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_unpacked up;
    td_pack_donations(&sb, "cut", 0, 1, 1000000);
    send_request(f->in, sb.data, sb.size, NULL, 0, 0);
    strict_reply(f->in, &up);
    uint64_t seq = td_get(ack(&up, 0, "cut-0-0", "ok"), "seq")->via.u64;
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_destroy(&sb);
    /* Wait until echo applied it: a query with min_seq is the handshake. */
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 4);
    td_pack_cstr(&pk, "op");
    td_pack_cstr(&pk, "query");
    td_pack_cstr(&pk, "plugin");
    td_pack_cstr(&pk, "echo");
    td_pack_cstr(&pk, "q");
    msgpack_pack_map(&pk, 1);
    td_pack_cstr(&pk, "say");
    td_pack_cstr(&pk, "x");
    td_pack_cstr(&pk, "min_seq");
    msgpack_pack_uint64(&pk, seq);
    send_request(f->q, sb.data, sb.size, NULL, 0, 0);
    strict_reply(f->q, &up);
    assert_true(td_get(&up.data, "ok")->via.boolean);
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_destroy(&sb);

    send_request(f->q, LIT("\x82\xa2op\xa6\x61lerts\xa5since\x00"), NULL, 0, 0);
    strict_reply(f->q, &up);
    const msgpack_object *alerts = td_get(&up.data, "alerts");
    assert_non_null(alerts);
    int found = 0;
    char buf[64];
    for (uint32_t i = 0; i < alerts->via.array.size; i++) {
        const msgpack_object *a = &alerts->via.array.ptr[i];
        if (!td_str_eq(td_get(a, "code"), "echo.donor"))
            continue;
        assert_string_equal(text(td_get(a, "message"), buf, sizeof buf),
                            "H\\xe1\\xbb");
        found++;
    }
    assert_int_equal(found, 1);
    msgpack_unpacked_destroy(&up);
}

static void test_extra_frames_query(void **state)
{
    struct fixture *f = *state;
    static const unsigned char ping[] = {0x81, 0xa2, 'o', 'p', 0xa4,
                                         'p',  'i',  'n', 'g'};
    static const int extra[] = {2, 100, 1000};
    msgpack_unpacked up;
    for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++) {
        send_request(f->q, ping, sizeof ping, ping, sizeof ping, extra[i]);
        strict_reply(f->q, &up);
        assert_false(td_get(&up.data, "ok")->via.boolean);
        assert_error(&up.data, "request: must be exactly one frame after the "
                               "envelope");
        msgpack_unpacked_destroy(&up);
    }
    send_request(f->q, ping, sizeof ping, NULL, 0, 0);
    strict_reply(f->q, &up);
    assert_true(td_get(&up.data, "ok")->via.boolean);
    assert_non_null(td_get(&up.data, "version"));
    msgpack_unpacked_destroy(&up);
    /* And the daemon is still up, both processes. */
    assert_int_equal(td_wait_ping(&f->d, TIMEOUT_MS), 0);
    assert_true(td_host_pid(&f->d) > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ack_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_extra_frames_ingest, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_query_echo, setup, teardown),
        cmocka_unit_test_setup_teardown(test_plugin_echo, setup, teardown),
        cmocka_unit_test_setup_teardown(test_plugin_alert_text, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_extra_frames_query, setup,
                                        teardown),
    };
    return cmocka_run_group_tests_name("integration_replies", tests, NULL,
                                       NULL);
}
