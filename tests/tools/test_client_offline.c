/*
 * test_client_offline.c - what the client library does without a daemon:
 * argument checks, limits, a timeout that never hangs and says where, and
 * reading key files.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <povtrack/client.h>

/* Nothing listens on port 1; connect() is refused and retried quietly. */
#define NOWHERE "tcp://127.0.0.1:1"

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void test_defaults(void **state)
{
    povtrack_client *c;

    (void)state;
    assert_int_equal(povtrack_client_open(&c), POVTRACK_CLIENT_OK);
    assert_string_equal(povtrack_client_endpoint(c, POVTRACK_CLIENT_INGEST),
                        "tcp://127.0.0.1:7170");
    assert_string_equal(povtrack_client_endpoint(c, POVTRACK_CLIENT_QUERY),
                        "tcp://127.0.0.1:7171");
    assert_string_equal(povtrack_client_endpoint(c, POVTRACK_CLIENT_ALERTS),
                        "tcp://127.0.0.1:7172");
    assert_int_equal(povtrack_client_timeout(c), 5000);
    assert_int_equal(povtrack_client_set_timeout(c, 0), POVTRACK_CLIENT_EINVAL);
    assert_int_equal(povtrack_client_set_endpoint(c, POVTRACK_CLIENT_QUERY, ""),
                     POVTRACK_CLIENT_EINVAL);
    povtrack_client_close(c);
    povtrack_client_close(NULL);
}

/* The codes are those of <povtrack/errors.h>: ZeroMQ's errors that are
 * errno values come negated, as the system's, and read as such. */
static void test_error_space(void **state)
{
    povtrack_client *c;
    struct povtrack_client_msg reply;

    (void)state;
    assert_int_equal(POVTRACK_CLIENT_ETIMEDOUT, -ETIMEDOUT);
    assert_int_equal(POVTRACK_CLIENT_EREFUSED, POVTRACK_EREFUSED);
    assert_int_equal(povtrack_client_open(&c), POVTRACK_CLIENT_OK);
    assert_int_equal(
        povtrack_client_set_endpoint(c, POVTRACK_CLIENT_QUERY, "nonsense://x"),
        0);
    /* zmq_connect: EPROTONOSUPPORT, an errno value. */
    assert_int_equal(povtrack_client_simple(c, "ping", &reply),
                     -EPROTONOSUPPORT);
    assert_string_equal(povtrack_strerror(-EPROTONOSUPPORT),
                        strerror(EPROTONOSUPPORT));
    assert_non_null(strstr(povtrack_client_error(c), "nonsense://x"));
    povtrack_client_msg_free(&reply);
    assert_string_equal(povtrack_client_strerror(POVTRACK_CLIENT_ETIMEDOUT),
                        povtrack_strerror(-ETIMEDOUT));
    povtrack_client_close(c);
}

static void test_timeout(void **state)
{
    povtrack_client *c;
    struct povtrack_client_msg reply;
    double t0;

    (void)state;
    assert_int_equal(povtrack_client_open(&c), POVTRACK_CLIENT_OK);
    assert_int_equal(
        povtrack_client_set_endpoint(c, POVTRACK_CLIENT_QUERY, NOWHERE), 0);
    assert_int_equal(povtrack_client_set_timeout(c, 200), 0);
    assert_int_equal(povtrack_client_retries(c),
                     POVTRACK_CLIENT_RETRIES_DEFAULT);
    assert_int_equal(povtrack_client_set_retries(c, -1),
                     POVTRACK_CLIENT_EINVAL);
    assert_int_equal(povtrack_client_set_retries(c, 0), 0);
    /* Twice: the second request goes out on a fresh socket. */
    for (int i = 0; i < 2; i++) {
        t0 = now_ms();
        assert_int_equal(povtrack_client_simple(c, "ping", &reply),
                         POVTRACK_CLIENT_ETIMEDOUT);
        assert_true(now_ms() - t0 < 2000);
        assert_string_equal(povtrack_client_error(c),
                            "cannot reach povtrackd at " NOWHERE
                            ": timed out after 200 ms");
        povtrack_client_msg_free(&reply);
    }
    /* With retries, each attempt waits the whole timeout. */
    assert_int_equal(povtrack_client_set_retries(c, 2), 0);
    t0 = now_ms();
    assert_int_equal(povtrack_client_simple(c, "ping", &reply),
                     POVTRACK_CLIENT_ETIMEDOUT);
    assert_true(now_ms() - t0 >= 3 * 200 - 5);
    assert_string_equal(povtrack_client_error(c),
                        "cannot reach povtrackd at " NOWHERE
                        ": timed out after 3 attempts of 200 ms");
    povtrack_client_msg_free(&reply);
    povtrack_client_close(c);
}

/* With CURVE each socket has a handshake monitor on an inproc endpoint of
 * its own; a retry opens a fresh socket (and monitor) while the old one is
 * still being closed, so the name must not be taken again. */
static void test_timeout_curve(void **state)
{
    povtrack_client *c;
    struct povtrack_client_msg reply;
    static const char pub[] = "hl<w]^LZ.YOrlinU29t]ibYtodUsQz&itWVQO9&g";
    static const char sec[] = "x1o[fJk>8hq3a3M5Cr5TkyQjQE[[vxM8#W+(+*k8";

    (void)state;
    assert_int_equal(povtrack_client_open(&c), POVTRACK_CLIENT_OK);
    assert_int_equal(
        povtrack_client_set_endpoint(c, POVTRACK_CLIENT_QUERY, NOWHERE), 0);
    assert_int_equal(povtrack_client_set_curve(c, pub, pub, sec), 0);
    assert_int_equal(povtrack_client_set_timeout(c, 100), 0);
    assert_int_equal(povtrack_client_set_retries(c, 2), 0);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(povtrack_client_simple(c, "ping", &reply),
                         POVTRACK_CLIENT_ETIMEDOUT);
        assert_string_equal(povtrack_client_error(c),
                            "cannot reach povtrackd at " NOWHERE
                            ": timed out after 3 attempts of 100 ms");
        povtrack_client_msg_free(&reply);
    }
    povtrack_client_close(c);
}

static void test_publish_limits(void **state)
{
    povtrack_client *c;
    struct povtrack_client_acks acks;
    msgpack_sbuffer sb;
    const unsigned char not_array[] = {0x80};
    const unsigned char empty[] = {0x90};

    (void)state;
    assert_int_equal(povtrack_client_open(&c), POVTRACK_CLIENT_OK);
    assert_int_equal(povtrack_client_publish(c, not_array, 1, &acks),
                     POVTRACK_CLIENT_EINVAL);
    assert_int_equal(acks.count, 0);
    assert_int_equal(povtrack_client_publish(c, empty, 1, &acks),
                     POVTRACK_CLIENT_EINVAL);
    msgpack_sbuffer_init(&sb);
    msgpack_sbuffer_write(&sb, "\xc0", 1);
    assert_int_equal(povtrack_client_publish_events(c, &sb, 0, &acks),
                     POVTRACK_CLIENT_EINVAL);
    assert_int_equal(povtrack_client_publish_events(
                         c, &sb, POVTRACK_CLIENT_BATCH_MAX + 1, &acks),
                     POVTRACK_CLIENT_ETOOBIG);
    assert_non_null(strstr(povtrack_client_error(c), "10000 events"));
    povtrack_client_acks_free(&acks);
    msgpack_sbuffer_destroy(&sb);
    povtrack_client_close(c);
}

static void test_alert_timeout(void **state)
{
    povtrack_client *c;
    struct povtrack_client_msg m;

    (void)state;
    assert_int_equal(povtrack_client_open(&c), POVTRACK_CLIENT_OK);
    assert_int_equal(povtrack_client_recv_alert(c, 10, &m),
                     POVTRACK_CLIENT_EINVAL); /* not subscribed */
    assert_int_equal(
        povtrack_client_set_endpoint(c, POVTRACK_CLIENT_ALERTS, NOWHERE), 0);
    assert_int_equal(povtrack_client_subscribe(c, "alert."), 0);
    assert_int_equal(povtrack_client_recv_alert(c, 50, &m),
                     POVTRACK_CLIENT_ETIMEDOUT);
    povtrack_client_close(c);
}

static void test_map_get(void **state)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_unpacked up;
    size_t off = 0;
    const msgpack_object *v;

    (void)state;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    msgpack_pack_str(&pk, 2);
    msgpack_pack_str_body(&pk, "ok", 2);
    msgpack_pack_true(&pk);
    msgpack_unpacked_init(&up);
    assert_int_equal(msgpack_unpack_next(&up, sb.data, sb.size, &off),
                     MSGPACK_UNPACK_SUCCESS);
    v = povtrack_client_map_get(&up.data, "ok");
    assert_non_null(v);
    assert_int_equal(v->type, MSGPACK_OBJECT_BOOLEAN);
    assert_null(povtrack_client_map_get(&up.data, "o"));
    assert_null(povtrack_client_map_get(v, "ok"));
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_destroy(&sb);
}

/* ---- key files ---------------------------------------------------------- */

/* Two valid Z85 keys; the first holds '=' and ':', which a key file's line
 * must not be split at. */
#define KEY_A "0000=0000:000000000000000000000000000000"
#define KEY_B "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"

struct keydir {
    char dir[64];
    char path[128];
    char err[512];
    char pub[POVTRACK_CLIENT_KEY_Z85];
    char sec[POVTRACK_CLIENT_KEY_Z85];
};

static int keydir_setup(void **state)
{
    struct keydir *k = calloc(1, sizeof *k);
    if (k == NULL)
        return -1;
    strcpy(k->dir, "/tmp/povtrack-keyfile-XXXXXX");
    if (mkdtemp(k->dir) == NULL) {
        free(k);
        return -1;
    }
    snprintf(k->path, sizeof k->path, "%s/k.key", k->dir);
    *state = k;
    return 0;
}

static int keydir_teardown(void **state)
{
    struct keydir *k = *state;
    unlink(k->path);
    rmdir(k->dir);
    free(k);
    return 0;
}

/* Write text as the key file, with mode, and read it: the return code. */
static int read_key(struct keydir *k, const char *text, mode_t mode,
                    bool want_secret)
{
    int fd = open(k->path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    assert_int_equal(fchmod(fd, mode), 0);
    assert_int_equal(close(fd), 0);
    memset(k->pub, 0, sizeof k->pub);
    memset(k->sec, 0, sizeof k->sec);
    k->err[0] = '\0';
    return povtrack_client_read_keyfile(
        k->path, k->pub, want_secret ? k->sec : NULL, k->err, sizeof k->err);
}

/* The error of the last read_key, less the path before it. */
static const char *key_err(const struct keydir *k)
{
    size_t n = strlen(k->path);
    assert_memory_equal(k->err, k->path, n);
    return k->err + n;
}

static void test_keyfile_as_keygen_writes(void **state)
{
    struct keydir *k = *state;

    assert_int_equal(
        read_key(k,
                 "# povtrack CURVE key pair, written by povtrack keygen on "
                 "2026-01-01T00:00:00Z.\n"
                 "# SECRET: whoever holds this file can publish as its "
                 "owner.\n"
                 "public-key = " KEY_A "\n"
                 "secret-key = " KEY_B "\n",
                 0600, true),
        POVTRACK_CLIENT_OK);
    assert_string_equal(k->pub, KEY_A);
    assert_string_equal(k->sec, KEY_B);
    /* The public file keygen writes beside it. */
    assert_int_equal(read_key(k,
                              "# povtrack CURVE public key, written by "
                              "povtrack keygen on 2026-01-01T00:00:00Z.\n"
                              "public-key = " KEY_B "\n",
                              0644, false),
                     POVTRACK_CLIENT_OK);
    assert_string_equal(k->pub, KEY_B);
    assert_int_equal(read_key(k, "public-key = " KEY_B "\n", 0644, true),
                     POVTRACK_EINVALID);
    assert_string_equal(key_err(k),
                        ": no secret-key (this is a public key file; use "
                        "the .key file that povtrack keygen wrote beside "
                        "it)");
}

static void test_keyfile_ini_forms(void **state)
{
    struct keydir *k = *state;

    /* A byte order mark, CR LF, blank and ; comment lines, a section,
     * "name: value", no spaces, a comment after the value. */
    assert_int_equal(read_key(k,
                              "\xef\xbb\xbf; keys\r\n"
                              "\r\n"
                              "[povtrack]\r\n"
                              "  public-key: " KEY_A "  \r\n"
                              "secret-key=" KEY_B " ; mine\r\n",
                              0600, true),
                     POVTRACK_CLIENT_OK);
    assert_string_equal(k->pub, KEY_A);
    assert_string_equal(k->sec, KEY_B);
    /* No newline at the end; the last of two values wins. */
    assert_int_equal(read_key(k,
                              "public-key = " KEY_B "\n"
                              "public-key = " KEY_A,
                              0644, false),
                     POVTRACK_CLIENT_OK);
    assert_string_equal(k->pub, KEY_A);
}

static void test_keyfile_refusals(void **state)
{
    struct keydir *k = *state;

    assert_int_equal(read_key(k,
                              "public-key = " KEY_A "\n"
                              "secret-key = " KEY_B "\n",
                              0640, true),
                     POVTRACK_EINVALID);
    assert_non_null(strstr(key_err(k), ": a secret key file must be readable "
                                       "by its owner only (chmod 600 "));
    assert_int_equal(read_key(k, "# x\npublic-key = " KEY_A "\ncolour = blue\n",
                              0644, false),
                     POVTRACK_EINVALID);
    assert_string_equal(key_err(k), ":3: colour is not a key this file may "
                                    "hold (public-key, secret-key: 40 "
                                    "characters of Z85)");
    assert_int_equal(read_key(k, "public-key = abc\n", 0644, false),
                     POVTRACK_EINVALID);
    assert_string_equal(key_err(k), ":1: public-key is not a key this file "
                                    "may hold (public-key, secret-key: 40 "
                                    "characters of Z85)");
    assert_int_equal(read_key(k, "\npublic key\n", 0644, false),
                     POVTRACK_EINVALID);
    assert_string_equal(key_err(k), ":2: the line is not a key this file may "
                                    "hold (public-key, secret-key: 40 "
                                    "characters of Z85)");
    assert_int_equal(
        read_key(k, "[povtrack\npublic-key = " KEY_A "\n", 0644, false),
        POVTRACK_EINVALID);
    assert_string_equal(key_err(k), ":1: the line is not a key this file may "
                                    "hold (public-key, secret-key: 40 "
                                    "characters of Z85)");
    assert_int_equal(read_key(k, "# nothing\n", 0644, false),
                     POVTRACK_EINVALID);
    assert_string_equal(key_err(k), ": no public-key");
    unlink(k->path);
    assert_int_equal(povtrack_client_read_keyfile(k->path, k->pub, NULL, k->err,
                                                  sizeof k->err),
                     -ENOENT);
    assert_string_equal(key_err(k), ": No such file or directory");
}

/* --server-key takes a .pub file or a key itself.  A path is tried as a
 * file first: this one is exactly 40 characters of Z85 too. */
static void test_server_key_path_or_key(void **state)
{
    struct keydir *k = *state;
    char path[64], server[POVTRACK_CLIENT_KEY_Z85];
    int n = snprintf(path, sizeof path, "%s/", k->dir);
    snprintf(path + n, sizeof path - (size_t)n, "%.*s", 40 - n,
             "k-0123456789abcdefghijklmnopqrstuvwxyz.pub");
    assert_int_equal(strlen(path), 40);
    assert_true(povtrack_client_key_valid(path));
    FILE *out = fopen(path, "w");
    assert_non_null(out);
    assert_true(fputs("public-key = " KEY_B "\n", out) >= 0);
    assert_int_equal(fclose(out), 0);
    assert_int_equal(
        povtrack_client_read_server_key(path, server, k->err, sizeof k->err),
        POVTRACK_CLIENT_OK);
    assert_string_equal(server, KEY_B);
    unlink(path);
    /* A key itself, where no file has that name. */
    assert_int_equal(
        povtrack_client_read_server_key(KEY_A, server, k->err, sizeof k->err),
        POVTRACK_CLIENT_OK);
    assert_string_equal(server, KEY_A);
    /* Neither. */
    assert_int_equal(povtrack_client_read_server_key(
                         "/nonexistent/x.pub", server, k->err, sizeof k->err),
                     POVTRACK_ENOENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_error_space),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_timeout_curve),
        cmocka_unit_test(test_publish_limits),
        cmocka_unit_test(test_alert_timeout),
        cmocka_unit_test(test_map_get),
        cmocka_unit_test_setup_teardown(test_keyfile_as_keygen_writes,
                                        keydir_setup, keydir_teardown),
        cmocka_unit_test_setup_teardown(test_keyfile_ini_forms, keydir_setup,
                                        keydir_teardown),
        cmocka_unit_test_setup_teardown(test_server_key_path_or_key,
                                        keydir_setup, keydir_teardown),
        cmocka_unit_test_setup_teardown(test_keyfile_refusals, keydir_setup,
                                        keydir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
