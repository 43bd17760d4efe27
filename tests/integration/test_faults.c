/*
 * test_faults.c - faulty plugins must not stop ingest or the other plugins.
 *
 * The real daemon runs the fund plugin beside tests/integration/faulty.c,
 * configured to segfault, hang, fail its init, or built for another ABI.
 * Checked each time: ingest acks everything, fund counts every donation,
 * the faulty plugin ends quarantined with its reason (in stats, in the
 * critical alert host.plugin_quarantined, across a restart), and after the
 * operator puts a fixed .so in place `povtrack plugin resume` brings it
 * back to apply from where it stopped.  Then `povtrack rebuild` with
 * ingest going on.
 *
 * Waiting for the supervisor to restart a crashed host is a poll of the
 * stats op with a deadline: the handshake is the daemon's own answer.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <zmq.h>

#include "daemon.h"

#define AMOUNT 1000
#define WAIT_MS 60000

struct fixture {
    struct td d;
    char config[400];
    char so[400]; /* the faulty plugin's .so, replaceable */
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    if (f == NULL || td_init(&f->d) != 0) {
        free(f);
        return -1;
    }
    snprintf(f->so, sizeof f->so, "%s/faulty.so", f->d.dir);
    snprintf(f->config, sizeof f->config, "%s/povtrackd.ini", f->d.dir);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    td_destroy(&f->d);
    free(f);
    return 0;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Copy the built variant (faulty, faulty_fixed, faulty_abi) to f->so, by
 * rename so that a loaded copy is never written over. */
static void install_so(struct fixture *f, const char *variant)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "cp '%s/%s.so' '%s.new' && mv '%s.new' '%s'",
             POVTRACK_TEST_PLUGIN_DIR, variant, f->so, f->so, f->so);
    assert_int_equal(system(cmd), 0);
}

static void write_config(struct fixture *f, const char *mode, const char *at,
                         unsigned timeout_ms)
{
    FILE *out = fopen(f->config, "w");
    assert_non_null(out);
    fprintf(out,
            "[daemon]\nplugins = fund faulty\nplugin_timeout = %u\n"
            "[plugin.faulty]\npath = %s\nmode = %s\nat = %s\n",
            timeout_ms, f->so, mode, at);
    assert_int_equal(fclose(out), 0);
}

static void start(struct fixture *f)
{
    const char *args[] = {"-c", f->config, NULL};
    assert_int_equal(td_start(&f->d, args), 0);
}

/* Publish donations ids[0..n) for province 60; every ack must be ok. */
static void donate(struct td *d, const char *const *ids, size_t n)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, n);
    for (size_t i = 0; i < n; i++) {
        msgpack_pack_map(&pk, 6);
        td_pack_cstr(&pk, "v");
        msgpack_pack_int(&pk, 1);
        td_pack_cstr(&pk, "id");
        td_pack_cstr(&pk, ids[i]);
        td_pack_cstr(&pk, "type");
        td_pack_cstr(&pk, "donation.received");
        td_pack_cstr(&pk, "at");
        msgpack_pack_int64(&pk, 1730000000);
        td_pack_cstr(&pk, "unit");
        td_pack_cstr(&pk, "60");
        td_pack_cstr(&pk, "data");
        msgpack_pack_map(&pk, 4);
        td_pack_cstr(&pk, "amount");
        msgpack_pack_int(&pk, AMOUNT);
        td_pack_cstr(&pk, "donor");
        td_pack_cstr(&pk, "Mặt trận Tổ quốc");
        td_pack_cstr(&pk, "donor_kind");
        td_pack_cstr(&pk, "organisation");
        td_pack_cstr(&pk, "level");
        td_pack_cstr(&pk, "province");
    }
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    assert_int_equal(td_ingest_raw(d, sb.data, sb.size, &up, 10000), 0);
    assert_int_equal(up.data.type, MSGPACK_OBJECT_ARRAY);
    assert_int_equal(up.data.via.array.size, n);
    for (size_t i = 0; i < n; i++)
        assert_true(
            td_str_eq(td_get(&up.data.via.array.ptr[i], "status"), "ok"));
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_destroy(&sb);
}

/* Send a request map {"op": op, [plugin, q, min_seq]}; the reply is in
 * up.  Returns td_request_raw's result: -1 after timeout_ms. */
static int try_request(struct td *d, msgpack_unpacked *up, const char *op,
                       const char *plugin, uint64_t min_seq, int timeout_ms)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1 + (plugin != NULL) * 2 + (min_seq > 0));
    td_pack_cstr(&pk, "op");
    td_pack_cstr(&pk, op);
    if (plugin != NULL) {
        td_pack_cstr(&pk, "plugin");
        td_pack_cstr(&pk, plugin);
        td_pack_cstr(&pk, "q");
        msgpack_pack_map(&pk, 1);
        td_pack_cstr(&pk, "unit");
        td_pack_cstr(&pk, "60");
    }
    if (min_seq > 0) {
        td_pack_cstr(&pk, "min_seq");
        msgpack_pack_uint64(&pk, min_seq);
    }
    msgpack_unpacked_init(up);
    int rc = td_request_raw(d, sb.data, sb.size, up, timeout_ms);
    msgpack_sbuffer_destroy(&sb);
    if (rc != 0)
        msgpack_unpacked_destroy(up);
    return rc;
}

static void request(struct td *d, msgpack_unpacked *up, const char *op,
                    const char *plugin, uint64_t min_seq)
{
    assert_int_equal(try_request(d, up, op, plugin, min_seq, 15000), 0);
}

/* The stats entry of plugin name in up, or NULL. */
static const msgpack_object *plugin_stats(const msgpack_unpacked *up,
                                          const char *name)
{
    const msgpack_object *ps = td_get(&up->data, "plugins");
    assert_non_null(ps);
    for (uint32_t i = 0; i < ps->via.array.size; i++)
        if (td_str_eq(td_get(&ps->via.array.ptr[i], "name"), name))
            return &ps->via.array.ptr[i];
    return NULL;
}

static int str_has(const msgpack_object *o, const char *needle)
{
    char buf[1200];
    if (o == NULL || o->type != MSGPACK_OBJECT_STR ||
        o->via.str.size >= sizeof buf)
        return 0;
    memcpy(buf, o->via.str.ptr, o->via.str.size);
    buf[o->via.str.size] = '\0';
    return strstr(buf, needle) != NULL;
}

/* Wait until plugin's status is want; returns its error text check. */
static void wait_status(struct td *d, const char *plugin, const char *want,
                        const char *error_has)
{
    int64_t deadline = mono_ms() + WAIT_MS;
    for (;;) {
        msgpack_unpacked up;
        /* A host being killed and restarted answers nothing for a while;
         * ask again. */
        if (try_request(d, &up, "stats", NULL, 0, 1000) != 0) {
            if (mono_ms() > deadline)
                fail_msg("%s never became %s", plugin, want);
            continue;
        }
        const msgpack_object *p = plugin_stats(&up, plugin);
        assert_non_null(p);
        if (td_str_eq(td_get(p, "status"), want)) {
            if (error_has != NULL && !str_has(td_get(p, "error"), error_has)) {
                const msgpack_object *e = td_get(p, "error");
                fail_msg("%s: error \"%.*s\" lacks \"%s\"", plugin,
                         e ? (int)e->via.str.size : 0, e ? e->via.str.ptr : "",
                         error_has);
            }
            msgpack_unpacked_destroy(&up);
            return;
        }
        msgpack_unpacked_destroy(&up);
        if (mono_ms() > deadline)
            fail_msg("%s never became %s", plugin, want);
        /* Bounded poll of the daemon's own answer; see the header. */
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

static uint64_t result_u64(struct td *d, const char *plugin, const char *key,
                           uint64_t min_seq)
{
    msgpack_unpacked up;
    assert_int_equal(td_query(d, plugin, 0, min_seq, &up, 15000), 0);
    uint64_t n = td_result_u64(&up, key);
    msgpack_unpacked_destroy(&up);
    return n;
}

static int has_quarantine_alert(struct td *d, const char *plugin)
{
    static const unsigned char req[] = {0x81, 0xa2, 'o', 'p', 0xa6, 'a',
                                        'l',  'e',  'r', 't', 's'};
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    assert_int_equal(td_request_raw(d, req, sizeof req, &up, 10000), 0);
    const msgpack_object *list = td_get(&up.data, "alerts");
    assert_non_null(list);
    int found = 0;
    for (uint32_t i = 0; i < list->via.array.size; i++) {
        const msgpack_object *a = &list->via.array.ptr[i];
        if (td_str_eq(td_get(a, "code"), "host.plugin_quarantined") &&
            td_str_eq(td_get(a, "severity"), "critical") &&
            str_has(td_get(a, "message"), plugin))
            found = 1;
    }
    msgpack_unpacked_destroy(&up);
    return found;
}

/* Run the real CLI against d's query endpoint; its exit status. */
static int cli(struct td *d, const char *a1, const char *a2, const char *a3)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 1);
        dup2(devnull, 2);
        execl(POVTRACK_BIN_DIR "/povtrack", "povtrack", "--query", d->query,
              "--timeout", "20000", a1, a2, a3, (char *)NULL);
        _exit(127);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void fault_then_resume(struct fixture *f, const char *mode,
                              unsigned timeout_ms, const char *why)
{
    struct td *d = &f->d;
    install_so(f, "faulty");
    write_config(f, mode, "bad-1", timeout_ms);
    start(f);
    assert_int_equal(td_define_province(d, "unit-60"), 0);

    /* Ingest acks the poisonous record and everything after it. */
    const char *first[] = {"ok-1", "bad-1", "ok-2"};
    donate(d, first, 3);
    const char *more[] = {"ok-3"};
    donate(d, more, 1);
    uint64_t last = 5;

    wait_status(d, "faulty", "quarantined", why);
    /* The others went on: fund counted every donation. */
    assert_int_equal(result_u64(d, "fund", "donations", last), 4);
    assert_true(has_quarantine_alert(d, "faulty"));
    msgpack_unpacked up;
    request(d, &up, "query", "faulty", 0);
    assert_true(str_has(td_get(&up.data, "error"), "quarantined"));
    msgpack_unpacked_destroy(&up);

    /* The quarantine survives a restart: no new crash loop. */
    assert_int_equal(td_stop(d), 0);
    start(f);
    wait_status(d, "faulty", "quarantined", why);

    /* The operator installs the fixed plugin and resumes it. */
    install_so(f, "faulty_fixed");
    assert_int_equal(cli(d, "plugin", "resume", "faulty"), 0);
    assert_int_equal(result_u64(d, "faulty", "n", last), 4);
    const char *after[] = {"ok-4"};
    donate(d, after, 1);
    assert_int_equal(result_u64(d, "faulty", "n", last + 1), 5);
    assert_int_equal(result_u64(d, "fund", "donations", last + 1), 5);
    assert_int_equal(td_stop(d), 0);
}

static void test_segfault_quarantined(void **state)
{
    fault_then_resume(*state, "crash", 10000,
                      "crashed the plugin host 3 times in apply of seq 3");
}

static void test_abort_quarantined(void **state)
{
    fault_then_resume(*state, "abort", 10000,
                      "crashed the plugin host 3 times in apply of seq 3");
}

static void test_hang_quarantined(void **state)
{
    fault_then_resume(*state, "hang", 300, "hung 3 times in apply of seq 3");
}

static void test_bad_load_quarantined(void **state)
{
    struct fixture *f = *state;
    struct td *d = &f->d;
    install_so(f, "faulty");
    write_config(f, "fail_init", "", 10000);
    start(f);
    wait_status(d, "faulty", "quarantined", "init failed");
    pid_t host = td_host_pid(d);
    assert_int_equal(td_define_province(d, "unit-60"), 0);
    const char *ids[] = {"ok-1"};
    donate(d, ids, 1);
    assert_int_equal(result_u64(d, "fund", "donations", 2), 1);
    /* Still the first host: a plugin that cannot load is no crash loop. */
    assert_int_equal(td_host_pid(d), host);
    assert_int_equal(td_stop(d), 0);

    /* Quarantine outlives the restart; resuming with a build for another
     * ABI is refused, and the new reason is kept. */
    install_so(f, "faulty_abi");
    write_config(f, "ok", "", 10000);
    start(f);
    wait_status(d, "faulty", "quarantined", "init failed");
    assert_int_equal(cli(d, "plugin", "resume", "faulty"), 1);
    wait_status(d, "faulty", "quarantined", "built for plugin ABI 99");
    assert_true(has_quarantine_alert(d, "faulty"));
    install_so(f, "faulty_fixed");
    assert_int_equal(cli(d, "plugin", "resume", "faulty"), 0);
    assert_int_equal(result_u64(d, "faulty", "n", 2), 1);
    assert_int_equal(td_stop(d), 0);
}

/* Rebuild fund from the log while ingest takes more. */
static void test_rebuild_while_ingesting(void **state)
{
    struct fixture *f = *state;
    struct td *d = &f->d;
    install_so(f, "faulty_fixed");
    write_config(f, "ok", "", 10000);
    start(f);
    assert_int_equal(td_define_province(d, "unit-60"), 0);
    char names[40][16];
    const char *ids[40];
    uint64_t total = 0;
    for (int b = 0; b < 50; b++) {
        for (int i = 0; i < 40; i++) {
            snprintf(names[i], sizeof names[i], "r%d-%d", b, i);
            ids[i] = names[i];
        }
        donate(d, ids, 40);
        total += 40;
    }
    assert_int_equal(result_u64(d, "fund", "donations", total + 1), total);

    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 1);
        dup2(devnull, 2);
        execl(POVTRACK_BIN_DIR "/povtrack", "povtrack", "--query", d->query,
              "--timeout", "20000", "rebuild", "fund", (char *)NULL);
        _exit(127);
    }
    /* Ingest goes on while fund is rebuilt. */
    for (int b = 50; b < 60; b++) {
        for (int i = 0; i < 40; i++) {
            snprintf(names[i], sizeof names[i], "r%d-%d", b, i);
            ids[i] = names[i];
        }
        donate(d, ids, 40);
        total += 40;
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(result_u64(d, "fund", "donations", total + 1), total);
    assert_int_equal(result_u64(d, "fund", "received", total + 1),
                     total * AMOUNT);
    assert_int_equal(td_stop(d), 0);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_segfault_quarantined, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_abort_quarantined, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_hang_quarantined, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_load_quarantined, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_rebuild_while_ingesting, setup,
                                        teardown),
    };
    return cmocka_run_group_tests_name("faults", tests, NULL, NULL);
}
