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
 * Several faulty plugins at once (copies of faulty.so under other names):
 * every quarantine is stored and listed; a hanging plugin does not keep
 * fund from answering, and while the host is down the query endpoint
 * answers at once that it is restarting; the restart back-off belongs to
 * the plugin that failed.  And `povtrack alerts` lists every stored alert
 * once, also the alerts of one event that differ only in the household.
 *
 * Waiting for the supervisor to restart a crashed host is a poll of the
 * stats op with a deadline: the handshake is the daemon's own answer.  A
 * host is held in its start by the gate of faulty.c (a FIFO its loading
 * opens), so the test knows when the host is down.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <zmq.h>

#include "daemon.h"

#define AMOUNT 1000
#define WAIT_MS 60000
#define HANG_LIMIT_MS 1000 /* plugin_timeout of the hang tests */

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

/* Copy the built variant (faulty, faulty_fixed, faulty_abi) to path, by
 * rename so that a loaded copy is never written over. */
static void install_at(const char *variant, const char *path)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "cp '%s/%s.so' '%s.new' && mv '%s.new' '%s'",
             POVTRACK_TEST_PLUGIN_DIR, variant, path, path, path);
    assert_int_equal(system(cmd), 0);
}

static void install_so(struct fixture *f, const char *variant)
{
    install_at(variant, f->so);
}

/* faulty.so as the plugin called name (it takes its file's name), at
 * <dir>/<name>.so. */
static void install_named(struct fixture *f, const char *name)
{
    char path[400];
    snprintf(path, sizeof path, "%s/%s.so", f->d.dir, name);
    install_at("faulty", path);
}

/* A config file of [daemon] plugins and timeout, then text. */
static void write_config_text(struct fixture *f, const char *plugins,
                              unsigned timeout_ms, const char *text)
{
    FILE *out = fopen(f->config, "w");
    assert_non_null(out);
    fprintf(out, "[daemon]\nplugins = %s\nplugin_timeout = %u\n%s", plugins,
            timeout_ms, text);
    assert_int_equal(fclose(out), 0);
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

/* Is up the answer ingest gives while no plugin host serves queries? */
static int host_down(const msgpack_unpacked *up)
{
    const msgpack_object *ok = td_get(&up->data, "ok");
    return ok != NULL && ok->type == MSGPACK_OBJECT_BOOLEAN &&
           !ok->via.boolean &&
           str_has(td_get(&up->data, "error"), "plugin host is ") &&
           td_get(&up->data, "retry_after_ms") != NULL;
}

/* A pause between polls of the daemon's own answer (see the header). */
static void poll_pause(void)
{
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
}

/* Wait until plugin's status is want; returns its error text check. */
static void wait_status(struct td *d, const char *plugin, const char *want,
                        const char *error_has)
{
    int64_t deadline = mono_ms() + WAIT_MS;
    for (;;) {
        msgpack_unpacked up;
        /* A host being killed and restarted does not answer for a while
         * (ingest says so, or a hang times out); ask again. */
        if (try_request(d, &up, "stats", NULL, 0, 1000) != 0) {
            if (mono_ms() > deadline)
                fail_msg("%s never became %s", plugin, want);
            continue;
        }
        if (host_down(&up)) {
            msgpack_unpacked_destroy(&up);
            if (mono_ms() > deadline)
                fail_msg("%s never became %s", plugin, want);
            poll_pause();
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

/* Query plugin for province 60 once it has applied min_seq, asking again
 * while the plugin host restarts, and after a second without an answer (a
 * host that dies with the request in hand never answers it); the reply is
 * in up. */
static void query_served(struct td *d, const char *plugin, uint64_t min_seq,
                         msgpack_unpacked *up)
{
    int64_t deadline = mono_ms() + WAIT_MS;
    for (;;) {
        int rc = td_query(d, plugin, 0, min_seq, up, 1000);
        if (rc == 0 && !host_down(up))
            return;
        if (rc == 0) {
            msgpack_unpacked_destroy(up);
            poll_pause();
        }
        if (mono_ms() > deadline)
            fail_msg("no plugin host answered for %d ms", WAIT_MS);
    }
}

static uint64_t result_u64(struct td *d, const char *plugin, const char *key,
                           uint64_t min_seq)
{
    msgpack_unpacked up;
    query_served(d, plugin, min_seq, &up);
    uint64_t n = td_result_u64(&up, key);
    msgpack_unpacked_destroy(&up);
    return n;
}

/* How many stored alerts have code and, where given, severity, unit and a
 * message that mentions about; *total (when not NULL) gets how many are
 * stored in all. */
static size_t stored_alerts(struct td *d, const char *code,
                            const char *severity, const char *unit,
                            const char *about, size_t *total)
{
    static const unsigned char req[] = {0x82, 0xa2, 'o', 'p',  0xa6, 'a', 'l',
                                        'e',  'r',  't', 's',  0xa5, 'l', 'i',
                                        'm',  'i',  't', 0xcd, 0x27, 0x10};
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    assert_int_equal(td_request_raw(d, req, sizeof req, &up, 10000), 0);
    const msgpack_object *list = td_get(&up.data, "alerts");
    assert_non_null(list);
    size_t n = 0;
    for (uint32_t i = 0; i < list->via.array.size; i++) {
        const msgpack_object *a = &list->via.array.ptr[i];
        if (td_str_eq(td_get(a, "code"), code) &&
            (severity == NULL || td_str_eq(td_get(a, "severity"), severity)) &&
            (unit == NULL || td_str_eq(td_get(a, "unit"), unit)) &&
            (about == NULL || str_has(td_get(a, "message"), about)))
            n++;
    }
    if (total != NULL)
        *total = list->via.array.size;
    msgpack_unpacked_destroy(&up);
    return n;
}

static int has_quarantine_alert(struct td *d, const char *plugin)
{
    return stored_alerts(d, "host.plugin_quarantined", "critical", NULL, plugin,
                         NULL) > 0;
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
    /* The watchdog's limit applies to every plugin call (init, apply,
     * query too): 1 s, so that only the hang reaches it, also on a loaded
     * machine with the sanitizers. */
    fault_then_resume(*state, "hang", HANG_LIMIT_MS,
                      "hung 3 times in apply of seq 3");
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
    /* The message names both versions: 2 since the error space (a plugin of
     * ABI 1 reads other return codes). */
    wait_status(d, "faulty", "quarantined",
                "built for plugin ABI 99, this povtrackd speaks ABI 2");
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

/* ---- several faulty plugins ---- */

/* Lines of text (the last may lack its newline). */
static size_t line_count(const char *text)
{
    size_t n = 0;
    for (const char *p = text; *p != '\0'; p++)
        n += *p == '\n' || p[1] == '\0';
    return n;
}

/* Lines of text holding needle. */
static size_t count_lines(const char *text, const char *needle)
{
    size_t n = 0;
    for (const char *line = text; *line != '\0';) {
        const char *end = strchr(line, '\n');
        size_t len = end != NULL ? (size_t)(end - line) : strlen(line);
        const char *hit = strstr(line, needle);
        if (hit != NULL && hit < line + len)
            n++;
        line += len + (end != NULL);
    }
    return n;
}

/* Start the CLI with args after --query/--alerts, its output files in
 * d's directory, or in a directory of its own called own (not NULL: a
 * command that runs beside others). */
static void cli_start(struct td *d, const char *own, const char *const *args,
                      struct td_cli *r)
{
    const char *argv[15] = {"--query", d->query, "--alerts", d->alerts};
    size_t n = 4;
    for (size_t i = 0; args[i] != NULL && n < 14; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    char dir[400];
    snprintf(dir, sizeof dir, "%s/%s", d->dir, own != NULL ? own : "");
    if (own != NULL)
        assert_int_equal(mkdir(dir, 0700), 0);
    assert_int_equal(td_cli_start(r, dir, argv, NULL), 0);
}

/* Run the CLI with args after --query/--alerts; exit status, output in
 * out (cut to fit). */
static int cli_out(struct td *d, const char *const *args, char *out,
                   size_t outlen, char *err, size_t errlen)
{
    struct td_cli r;
    cli_start(d, NULL, args, &r);
    return td_cli_wait(&r, out, outlen, err, errlen);
}

/* `povtrack alerts --since 0` with --limit limit (NULL: its default) and,
 * when json, --json; it must exit 0.  Its output is in out. */
static void list_alerts(struct td *d, const char *limit, int json, char *out,
                        size_t outlen)
{
    const char *args[8] = {"alerts", "--since", "0"};
    size_t n = 3;
    if (limit != NULL) {
        args[n++] = "--limit";
        args[n++] = limit;
    }
    if (json)
        args[n++] = "--json";
    args[n] = NULL;
    char err[4096];
    int rc = cli_out(d, args, out, outlen, err, sizeof err);
    if (rc != 0)
        fail_msg("povtrack alerts exited %d: %s", rc, err);
}

/* Five plugins quarantined, three at one start and two by crashes in
 * hosts that follow each other closely, and one again by a failed resume:
 * six alerts, each stored, each listed, each naming its plugin as unit. */
static void test_every_quarantine_listed(void **state)
{
    struct fixture *f = *state;
    struct td *d = &f->d;
    static const char *const names[] = {"q1", "q2", "q3", "c1", "c2"};
    char text[4096] = "";
    size_t len = 0;
    for (size_t i = 0; i < 5; i++) {
        install_named(f, names[i]);
        len += (size_t)snprintf(
            text + len, sizeof text - len,
            "[plugin.%s]\npath = %s/%s.so\nmode = %s\nat = bad-1\n", names[i],
            d->dir, names[i], names[i][0] == 'q' ? "fail_init" : "crash");
    }
    write_config_text(f, "fund q1 q2 q3 c1 c2", 10000, text);
    start(f);
    for (size_t i = 0; i < 3; i++)
        wait_status(d, names[i], "quarantined", "init failed");
    assert_int_equal(td_define_province(d, "unit-60"), 0);
    const char *ids[] = {"ok-1", "bad-1", "ok-2"};
    donate(d, ids, 3);
    for (size_t i = 3; i < 5; i++)
        wait_status(d, names[i], "quarantined",
                    "crashed the plugin host 3 times in apply of seq 3");
    assert_int_equal(result_u64(d, "fund", "donations", 4), 3);
    /* Resuming what still fails quarantines it again: one more alert. */
    assert_int_equal(cli(d, "plugin", "resume", "q1"), 1);

    const char *code = "host.plugin_quarantined";
    size_t total;
    assert_int_equal(stored_alerts(d, code, NULL, NULL, NULL, &total), 6);
    assert_int_equal(stored_alerts(d, code, NULL, "q1", NULL, NULL), 2);
    for (size_t i = 1; i < 5; i++)
        assert_int_equal(stored_alerts(d, code, NULL, names[i], NULL, NULL), 1);

    /* The CLI lists each of them, and every other alert, once. */
    static char out[1 << 16];
    list_alerts(d, NULL, 1, out, sizeof out);
    assert_int_equal(line_count(out), total);
    assert_int_equal(count_lines(out, code), 6);
    assert_int_equal(count_lines(out, "\"unit\":\"q1\""), 2);
    /* The table shows the plugin where the unit goes. */
    list_alerts(d, NULL, 0, out, sizeof out);
    for (size_t i = 0; i < 5; i++) {
        char needle[64];
        snprintf(needle, sizeof needle, "%s  unit %s ", code, names[i]);
        assert_int_equal(count_lines(out, needle), i == 0 ? 2 : 1);
    }
    assert_int_equal(td_stop(d), 0);
}

static void on_alarm(int sig)
{
    (void)sig; /* only to interrupt a blocked open() */
}

/* Open the gate FIFO for writing: returns once a plugin host is loading
 * faulty.so, so it is starting and has not bound the query endpoint
 * (faulty.c).  Bounded by an alarm. */
static int gate_enter(const char *gate)
{
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm; /* no SA_RESTART: open fails with EINTR */
    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(SIGALRM, &sa, &old), 0);
    alarm(WAIT_MS / 1000);
    int fd = open(gate, O_WRONLY | O_CLOEXEC);
    int e = errno;
    alarm(0);
    sigaction(SIGALRM, &old, NULL);
    if (fd < 0)
        fail_msg("no plugin host came to the gate: %s", strerror(e));
    return fd;
}

/* The reply up is ingest's stand-in answer, with why in its error. */
static void assert_restarting(const msgpack_unpacked *up, const char *why)
{
    if (!host_down(up) ||
        !str_has(td_get(&up->data, "error"), "plugin host is restarting") ||
        !str_has(td_get(&up->data, "error"), why)) {
        const msgpack_object *e = td_get(&up->data, "error");
        fail_msg(
            "not the restarting answer with \"%s\": \"%.*s\"", why,
            e != NULL && e->type == MSGPACK_OBJECT_STR ? (int)e->via.str.size
                                                       : 0,
            e != NULL && e->type == MSGPACK_OBJECT_STR ? e->via.str.ptr : "");
    }
    const msgpack_object *r = td_get(&up->data, "retry_after_ms");
    assert_true(r->type == MSGPACK_OBJECT_POSITIVE_INTEGER);
    assert_true(r->via.u64 > 0 && r->via.u64 <= 60000);
}

/* A plugin that hangs does not silence fund: while the host is down the
 * query endpoint answers at once that it is restarting (and the CLI says
 * so and exits 1 without waiting out its retries), and the first host
 * after the watchdog's kill answers fund's query with everything
 * applied. */
static void test_hang_does_not_silence_fund(void **state)
{
    struct fixture *f = *state;
    struct td *d = &f->d;
    char gate[400];
    snprintf(gate, sizeof gate, "%s/gate", d->dir);
    assert_int_equal(setenv("FAULTY_GATE", gate, 1), 0);
    install_so(f, "faulty");
    write_config(f, "hang", "bad-1", HANG_LIMIT_MS);
    start(f);
    assert_int_equal(td_define_province(d, "unit-60"), 0);
    const char *ok1[] = {"ok-1"};
    donate(d, ok1, 1);
    assert_int_equal(mkfifo(gate, 0600), 0);
    const char *bad[] = {"bad-1"};
    donate(d, bad, 1); /* seq 3: faulty hangs, the watchdog kills */

    /* The next host is held in its start at the gate: it is down. */
    int fd = gate_enter(gate);
    const char *why = "it hung in apply of plugin faulty at seq 3, strike 1 "
                      "of 3";
    msgpack_unpacked up;
    int64_t t0 = mono_ms();
    assert_int_equal(try_request(d, &up, "query", "fund", 0, 5000), 0);
    int64_t took = mono_ms() - t0;
    assert_restarting(&up, why);
    const msgpack_object *e = td_get(&up.data, "error");
    print_message("answered in %lld ms: %.*s\n", (long long)took,
                  (int)e->via.str.size, e->via.str.ptr);
    msgpack_unpacked_destroy(&up);
    /* Prompt: well within the 5000 ms a client waits (no host is there
     * to wait for; the bound leaves room for a loaded machine). */
    assert_true(took < 2500);
    static char out[4096], err[4096];
    t0 = mono_ms();
    assert_int_equal(cli_out(d,
                             (const char *[]){"--timeout", "5000", "query",
                                              "fund", "unit=60", NULL},
                             out, sizeof out, err, sizeof err),
                     1);
    assert_non_null(strstr(err, "plugin host is restarting"));
    assert_non_null(strstr(err, why));
    assert_true(mono_ms() - t0 < 5000);
    assert_int_equal(cli_out(d, (const char *[]){"stats", NULL}, out,
                             sizeof out, err, sizeof err),
                     1);
    assert_non_null(strstr(err, "plugin host is restarting"));

    /* ping --wait, a script's handshake, waits for the host instead. */
    struct td_cli ping;
    cli_start(d, "ping",
              (const char *[]){"ping", "--wait", "--timeout", "30000", NULL},
              &ping);

    /* Let it start.  The FIFO stays, so any later host would wait at the
     * gate: what answers fund now is this host, the first restart. */
    close(fd);
    assert_int_equal(td_cli_wait(&ping, out, sizeof out, err, sizeof err), 0);
    assert_non_null(strstr(out, ": ok ("));
    assert_int_equal(result_u64(d, "fund", "donations", 3), 2);

    /* faulty is applied again once its hold is over, hangs, and the next
     * host comes to the gate: let it and the rest go. */
    fd = gate_enter(gate);
    assert_int_equal(unlink(gate), 0);
    close(fd);
    wait_status(d, "faulty", "quarantined", "hung 3 times in apply of seq 3");
    assert_int_equal(result_u64(d, "fund", "donations", 3), 2);
    assert_int_equal(td_stop(d), 0);
    unsetenv("FAULTY_GATE");
}

/* With CURVE, the stand-in admits the keys the registry admits to the
 * query endpoint: the harness's key gets the restarting answer, a key the
 * registry does not know gets nothing at all. */
static void test_standin_speaks_curve(void **state)
{
    struct fixture *f = *state;
    struct td *d = &f->d;
    char gate[400], text[2048];
    snprintf(gate, sizeof gate, "%s/gate", d->dir);
    assert_int_equal(setenv("FAULTY_GATE", gate, 1), 0);
    install_so(f, "faulty");
    snprintf(text, sizeof text,
             "[daemon]\nplugins = fund faulty\n"
             "[plugin.faulty]\npath = %s\nmode = crash\nat = bad-1\n",
             f->so);
    assert_int_equal(td_curve_setup(d, NULL, text), 0);
    assert_int_equal(td_start(d, (const char *[]){"-c", d->config, NULL}), 0);
    assert_int_equal(td_define_province(d, "unit-60"), 0);
    assert_int_equal(mkfifo(gate, 0600), 0);
    const char *bad[] = {"bad-1"};
    donate(d, bad, 1);
    int fd = gate_enter(gate);

    msgpack_unpacked up;
    assert_int_equal(try_request(d, &up, "stats", NULL, 0, 5000), 0);
    assert_restarting(&up, "it crashed in apply of plugin faulty at seq 2");
    msgpack_unpacked_destroy(&up);

    char upub[41], usec[41];
    assert_int_equal(zmq_curve_keypair(upub, usec), 0);
    void *stranger = td_dealer(d, d->query, upub, usec);
    assert_non_null(stranger);
    static const unsigned char ping[] = {0x81, 0xa2, 'o', 'p', 0xa4,
                                         'p',  'i',  'n', 'g'};
    assert_true(zmq_send(stranger, "", 0, ZMQ_SNDMORE) == 0);
    assert_true(zmq_send(stranger, ping, sizeof ping, 0) == sizeof ping);
    zmq_pollitem_t it = {stranger, 0, ZMQ_POLLIN, 0};
    /* Silence, as from the host itself (test_security). */
    assert_int_equal(zmq_poll(&it, 1, 1500), 0);
    zmq_close(stranger);

    assert_int_equal(unlink(gate), 0);
    close(fd);
    wait_status(d, "faulty", "running", NULL);
    assert_int_equal(td_stop(d), 0);
    unsetenv("FAULTY_GATE");
}

/* After one plugin has failed three times, another's first failure gets
 * the host restarted at once: fund answers with its event applied within
 * a fraction of the global back-off (which would be 4 s by then). */
static void test_backoff_belongs_to_plugin(void **state)
{
    struct fixture *f = *state;
    struct td *d = &f->d;
    install_so(f, "faulty");
    install_named(f, "second");
    char text[2048];
    snprintf(text, sizeof text,
             "[plugin.faulty]\npath = %s\nmode = crash\nat = bad-1\n"
             "[plugin.second]\npath = %s/second.so\nmode = crash\n"
             "at = bad-2\n",
             f->so, d->dir);
    write_config_text(f, "fund faulty second", 10000, text);
    start(f);
    assert_int_equal(td_define_province(d, "unit-60"), 0);
    const char *ids[] = {"ok-1", "bad-1"};
    donate(d, ids, 2);
    wait_status(d, "faulty", "quarantined",
                "crashed the plugin host 3 times in apply of seq 3");
    assert_int_equal(result_u64(d, "fund", "donations", 3), 2);

    const char *bad2[] = {"bad-2"};
    donate(d, bad2, 1); /* seq 4: second's first failure */
    /* Ask until a host answers with seq 4 applied.  Each answer of the
     * stand-in meanwhile says when a host should serve again: the back-off
     * left plus what a start takes.  Had the global back-off applied, that
     * would be at least 4000 ms after the failure (so after t0); the
     * plugin's own first failure restarts the host at once.  Judged by the
     * daemon's own answers rather than by when fund answers, which a
     * loaded machine delays. */
    int64_t t0 = mono_ms(), deadline = t0 + WAIT_MS;
    int64_t ready_by = 0; /* the latest "serving again" promised, from t0 */
    for (;;) {
        msgpack_unpacked up;
        int rc = td_query(d, "fund", 0, 4, &up, 1000);
        if (rc == 0 && !host_down(&up)) {
            assert_int_equal(td_result_u64(&up, "donations"), 3);
            msgpack_unpacked_destroy(&up);
            break;
        }
        if (rc == 0) {
            const msgpack_object *r = td_get(&up.data, "retry_after_ms");
            int64_t at = mono_ms() - t0 + (int64_t)r->via.u64;
            if (at > ready_by)
                ready_by = at;
            msgpack_unpacked_destroy(&up);
            poll_pause();
        }
        if (mono_ms() > deadline)
            fail_msg("no plugin host answered for %d ms", WAIT_MS);
    }
    print_message("fund answered %lld ms after second's first failure; "
                  "serving again promised by %lld ms\n",
                  (long long)(mono_ms() - t0), (long long)ready_by);
    if (ready_by >= 4000)
        fail_msg("that is the global back-off, not the plugin's");
    wait_status(d, "second", "quarantined",
                "crashed the plugin host 3 times in apply of seq 4");
    assert_int_equal(result_u64(d, "fund", "donations", 4), 3);
    assert_int_equal(td_stop(d), 0);
}

/* A host that cannot start is no plugin's fault, even right after one
 * died inside a plugin call (whose record the guard file still holds): it
 * keeps the global back-off, and the restarting answer says why. */
static void test_failed_start_keeps_backoff(void **state)
{
    struct fixture *f = *state;
    struct td *d = &f->d;
    char gate[400], text[2048];
    snprintf(gate, sizeof gate, "%s/hang-gate", d->dir);
    install_so(f, "faulty");
    /* No watchdog: the host stays in the call until the test kills it. */
    snprintf(text, sizeof text,
             "[plugin.faulty]\npath = %s\nmode = hang\nat = bad-1\n"
             "hang_gate = %s\n",
             f->so, gate);
    write_config_text(f, "fund faulty", 0, text);
    start(f);
    assert_int_equal(td_define_province(d, "unit-60"), 0);
    assert_int_equal(mkfifo(gate, 0600), 0);
    const char *bad[] = {"bad-1"};
    donate(d, bad, 1);
    int fd = gate_enter(gate); /* the host is in apply of seq 2 */
    pid_t host = td_host_pid(d);
    assert_true(host > 0);
    assert_int_equal(unlink(gate), 0);
    close(fd);

    /* The plugin state cannot be opened at all (a data.mdb that is a
     * directory: an unreadable file would be set aside and replaced): the
     * next hosts fail at start, before they open the guard. */
    char path[400], cmd[1400];
    snprintf(path, sizeof path, "%s/state/data.mdb", d->data_dir);
    snprintf(cmd, sizeof cmd, "rm -f '%s' && mkdir '%s'", path, path);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(kill(host, SIGKILL), 0);

    /* Restarted at once after the death in the call, then with the
     * back-off, which reaches 1 s at the third death. */
    int64_t deadline = mono_ms() + WAIT_MS;
    char last[512] = "";
    for (;;) {
        msgpack_unpacked up;
        if (try_request(d, &up, "stats", NULL, 0, 1000) == 0) {
            const msgpack_object *e = td_get(&up.data, "error");
            const msgpack_object *r = td_get(&up.data, "retry_after_ms");
            if (e != NULL && e->type == MSGPACK_OBJECT_STR)
                snprintf(last, sizeof last, "%.*s", (int)e->via.str.size,
                         e->via.str.ptr);
            int done = host_down(&up) &&
                       strstr(last, "(it exited with status 1)") != NULL &&
                       r->type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
                       r->via.u64 >= 900;
            msgpack_unpacked_destroy(&up);
            if (done)
                break;
        }
        if (mono_ms() > deadline)
            fail_msg("no back-off after failed starts; last answer: %s", last);
        poll_pause();
    }
    print_message("%s\n", last);
    td_stop(d); /* its host never came up: no clean stop to expect */
}

/* ---- the alerts listing ---- */

static const char UNITS[] =
    "{\"v\":1,\"id\":\"u-60\",\"type\":\"unit.defined\",\"at\":1609459200,"
    "\"unit\":\"60\",\"data\":{\"name\":\"Tinh Binh Thuan\",\"parent\":null,"
    "\"level\":\"province\"}}\n"
    "{\"v\":1,\"id\":\"u-593\",\"type\":\"unit.defined\",\"at\":1609459200,"
    "\"unit\":\"593\",\"data\":{\"name\":\"Phan Thiet\",\"parent\":\"60\","
    "\"level\":\"district\"}}\n"
    "{\"v\":1,\"id\":\"u-22924\",\"type\":\"unit.defined\",\"at\":"
    "1609459200,\"unit\":\"22924\",\"data\":{\"name\":\"Phu Thuy\","
    "\"parent\":\"593\",\"level\":\"commune\"}}\n"
    "{\"v\":1,\"id\":\"u-23231\",\"type\":\"unit.defined\",\"at\":"
    "1609459200,\"unit\":\"23231\",\"data\":{\"name\":\"Phuoc Hoi\","
    "\"parent\":\"593\",\"level\":\"commune\"}}\n";

/* Publish with `povtrack send`: n households of commune assessed poor for
 * 2024 with no official status, then the commune's review closed, which
 * puts each on the "unrecognised" list: n alerts of one event, one code,
 * one unit, differing in the household.  units: the unit events first. */
static void send_review(struct td *d, const char *commune, int n, int units)
{
    char path[400];
    snprintf(path, sizeof path, "%s/review-%s.jsonl", d->dir, commune);
    FILE *out = fopen(path, "w");
    assert_non_null(out);
    if (units)
        fputs(UNITS, out);
    for (int i = 0; i < n; i++)
        fprintf(out,
                "{\"v\":1,\"id\":\"as-%s-%d\",\"type\":\"household.assessed\","
                "\"at\":1730000000,\"unit\":\"%s\",\"household\":\"%s-h%d\","
                "\"data\":{\"year\":2024,\"area\":\"rural\",\"members\":5,"
                "\"income\":900000,\"deprived\":[\"employment\","
                "\"nutrition\",\"health_insurance\",\"housing_area\"]}}\n",
                commune, i, commune, commune, i);
    fprintf(out,
            "{\"v\":1,\"id\":\"rv-%s-2024\",\"type\":\"review.closed\",\"at\":"
            "1734220800,\"unit\":\"%s\",\"data\":{\"year\":2024}}\n",
            commune, commune);
    assert_int_equal(fclose(out), 0);
    char o[4096], e[4096];
    int rc = td_cli_run(
        d->dir, (const char *[]){"--ingest", d->ingest, "send", path, NULL}, o,
        sizeof o, e, sizeof e);
    if (rc != 0)
        fail_msg("povtrack send: %s%s", o, e);
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Households of the JSON alerts in text, each once?  Returns how many
 * lines there are, after checking no household repeats. */
static size_t distinct_households(const char *text)
{
    size_t n = 0, cap = 1024;
    char **hh = malloc(cap * sizeof *hh);
    assert_non_null(hh);
    for (const char *line = text; *line != '\0';) {
        const char *end = strchr(line, '\n');
        size_t len = end != NULL ? (size_t)(end - line) : strlen(line);
        const char *h = strstr(line, "\"household\":\"");
        assert_true(h != NULL && h < line + len);
        h += strlen("\"household\":\"");
        if (n == cap) {
            cap *= 2;
            hh = realloc(hh, cap * sizeof *hh);
            assert_non_null(hh);
        }
        hh[n++] = strndup(h, strcspn(h, "\""));
        line += len + (end != NULL);
    }
    qsort(hh, n, sizeof *hh, str_cmp);
    for (size_t i = 1; i < n; i++)
        if (strcmp(hh[i - 1], hh[i]) == 0)
            fail_msg("household %s listed twice", hh[i]);
    for (size_t i = 0; i < n; i++)
        free(hh[i]);
    free(hh);
    return n;
}

/* Lines of a file (a running command's output so far). */
static size_t file_lines(const char *path)
{
    char *text = td_read_file(path);
    size_t n = text != NULL ? line_count(text) : 0;
    free(text);
    return n;
}

static void wait_lines(const char *path, size_t want)
{
    int64_t deadline = mono_ms() + WAIT_MS;
    while (file_lines(path) < want) {
        if (mono_ms() > deadline)
            fail_msg("%s never had %zu lines", path, want);
        poll_pause();
    }
}

/* One commune's review raises five alerts that differ only in the
 * household: the CLI lists all five, --limit cuts where it says, and
 * --follow prints each alert once: not the copies a rebuild publishes
 * again, and every new one. */
static void test_alerts_listed_once(void **state)
{
    struct fixture *f = *state;
    struct td *d = &f->d;
    write_config_text(f, "standard", 10000, "");
    start(f);
    send_review(d, "22924", 5, 1); /* seq 1-4 units, 5-9, review 10 */
    msgpack_unpacked up;
    query_served(d, "standard", 10, &up);
    msgpack_unpacked_destroy(&up);
    size_t total;
    assert_int_equal(
        stored_alerts(d, "standard.unrecognised", NULL, "22924", NULL, &total),
        5);
    assert_int_equal(total, 5);

    static char out[1 << 16];
    list_alerts(d, NULL, 1, out, sizeof out);
    assert_int_equal(distinct_households(out), 5);
    list_alerts(d, "3", 1, out, sizeof out);
    assert_int_equal(distinct_households(out), 3);
    list_alerts(d, NULL, 0, out, sizeof out);
    assert_int_equal(count_lines(out, "standard.unrecognised  unit Phu Thuy "
                                      "(22924) household 22924-h"),
                     5);

    /* Following, beside the other commands. */
    struct td_cli fl;
    cli_start(
        d, "follow",
        (const char *[]){"alerts", "--since", "0", "--follow", "--json", NULL},
        &fl);
    wait_lines(fl.opath, 5);
    /* A rebuild raises and publishes the same five again. */
    assert_int_equal(cli(d, "rebuild", "standard", NULL), 0);
    /* Four new ones, published after those: once they are printed, the
     * copies have been seen. */
    send_review(d, "23231", 4, 0);
    wait_lines(fl.opath, 9);
    kill(fl.pid, SIGINT);
    char err[4096];
    assert_int_equal(td_cli_wait(&fl, out, sizeof out, err, sizeof err), 0);
    assert_int_equal(distinct_households(out), 9);
    assert_int_equal(td_stop(d), 0);
}

/* Two reviews of 5,500 households each: the alerts op pages by 10,000, so
 * the listing's second page starts inside the second event's alerts. */
static void test_alerts_paged_inside_one_event(void **state)
{
    struct fixture *f = *state;
    struct td *d = &f->d;
    write_config_text(f, "standard", 10000, "");
    start(f);
    send_review(d, "22924", 5500, 1); /* seq 1-4 units, 5-5504, 5505 */
    send_review(d, "23231", 5500, 0); /* 5506-11005, review 11006 */
    msgpack_unpacked up;
    query_served(d, "standard", 11006, &up);
    msgpack_unpacked_destroy(&up);

    size_t outlen = 16 << 20;
    char *out = malloc(outlen);
    assert_non_null(out);
    list_alerts(d, "20000", 1, out, outlen);
    assert_int_equal(distinct_households(out), 11000);
    free(out);
    assert_int_equal(td_stop(d), 0);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    /* TEST_FAULTS=test_backoff* runs the tests whose name matches. */
    if (getenv("TEST_FAULTS") != NULL)
        cmocka_set_test_filter(getenv("TEST_FAULTS"));
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
        cmocka_unit_test_setup_teardown(test_every_quarantine_listed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_hang_does_not_silence_fund, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_standin_speaks_curve, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_backoff_belongs_to_plugin, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_failed_start_keeps_backoff, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_alerts_listed_once, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_alerts_paged_inside_one_event,
                                        setup, teardown),
    };
    return cmocka_run_group_tests_name("faults", tests, NULL, NULL);
}
