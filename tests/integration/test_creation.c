/*
 * test_creation.c - what a crash while the log or the plugin state was being
 * created can leave behind, and what povtrackd and povtrack verify make of
 * it.
 *
 * An older povtrackd created each LMDB environment in place: cut off
 * before its first sync, data.mdb could be empty or have no valid meta
 * page, and the daemon then refused to start (log) or its plugin host
 * restarted forever without answering a query (state).  Today's creates
 * them under a temporary name and renames them into place
 * (storage/st_env.h), which leaves a temporary file when cut short.  Each
 * test lays such a state out by hand in the data directory, then starts
 * the real daemon on it and checks that it starts, answers and counts what
 * the log holds - or, for a log that may hold events, refuses at once
 * saying what to do.
 */
#include <dirent.h>
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
#include <unistd.h>

#include <cmocka.h>

#include "daemon.h"

#define BATCH 10
#define BATCHES 2
#define EVENTS (1 + BATCH * BATCHES) /* the province, then donations */
#define AMOUNT 1000
#define TIMEOUT_MS 15000

/* data_dir/rel */
static void data_path(const struct td *d, const char *rel, char *buf,
                      size_t len)
{
    assert_true(snprintf(buf, len, "%s/%s", d->data_dir, rel) < (int)len);
}

/* n bytes c at the start of the file rel (created, not truncated). */
static void write_at_start(const struct td *d, const char *rel, int c, size_t n)
{
    char path[400], buf[4096];
    data_path(d, rel, path, sizeof path);
    int fd = open(path, O_WRONLY | O_CREAT, 0640);
    assert_true(fd >= 0);
    memset(buf, c, sizeof buf);
    for (size_t off = 0; off < n; off += sizeof buf) {
        size_t k = n - off < sizeof buf ? n - off : sizeof buf;
        assert_int_equal(pwrite(fd, buf, k, (off_t)off), (ssize_t)k);
    }
    assert_int_equal(close(fd), 0);
}

static void make_dir(const struct td *d, const char *rel)
{
    char path[400];
    data_path(d, rel, path, sizeof path);
    assert_int_equal(mkdir(path, 0750), 0);
}

static off_t file_size(const struct td *d, const char *rel)
{
    char path[400];
    struct stat sb;
    data_path(d, rel, path, sizeof path);
    return stat(path, &sb) == 0 ? sb.st_size : -1;
}

/* The daemon's log must hold needle. */
static void expect_logged(const struct td *d, const char *needle)
{
    char *text = td_read_file(d->log);
    assert_non_null(text);
    if (strstr(text, needle) == NULL)
        fail_msg("the daemon's log lacks \"%s\":\n%s", needle, text);
    free(text);
}

static void start(struct td *d)
{
    if (td_start_logged(d, NULL) != 0) {
        char *text = td_read_file(d->log);
        fail_msg("povtrackd did not start:\n%s", text ? text : "");
    }
}

/* The province and BATCHES batches of donations, each acknowledged. */
static void publish(struct td *d)
{
    assert_int_equal(td_define_province(d, "unit-60"), 0);
    for (int b = 0; b < BATCHES; b++) {
        msgpack_sbuffer sb;
        msgpack_sbuffer_init(&sb);
        td_pack_donations(&sb, "p", b, BATCH, AMOUNT);
        assert_int_equal(td_ingest_ok(d, &sb, BATCH, TIMEOUT_MS), 0);
        msgpack_sbuffer_destroy(&sb);
    }
}

/* The fund plugin has counted every donation of the log once. */
static void expect_counted(struct td *d)
{
    msgpack_unpacked up;
    assert_int_equal(td_query(d, "fund", 0, EVENTS, &up, TIMEOUT_MS), 0);
    assert_int_equal(td_result_u64(&up, "donations"), BATCH * BATCHES);
    assert_int_equal(td_result_u64(&up, "received"),
                     (uint64_t)BATCH * BATCHES * AMOUNT);
    msgpack_unpacked_destroy(&up);
}

/* How many entries of data_dir/rel start with prefix; the first goes to
 * first (may be NULL). */
static int count_entries(const struct td *d, const char *rel,
                         const char *prefix, char *first, size_t firstlen)
{
    char path[400];
    data_path(d, rel, path, sizeof path);
    DIR *dir = opendir(path);
    assert_non_null(dir);
    int n = 0;
    for (struct dirent *de; (de = readdir(dir)) != NULL;)
        if (strncmp(de->d_name, prefix, strlen(prefix)) == 0 && n++ == 0 &&
            first != NULL)
            snprintf(first, firstlen, "%s", de->d_name);
    closedir(dir);
    return n;
}

/* A data directory whose log holds EVENTS events and whose plugins have
 * applied them, the daemon stopped. */
static void make_data_dir(struct td *d)
{
    start(d);
    publish(d);
    expect_counted(d);
    assert_int_equal(td_stop(d), 0);
}

/* The state's data.mdb as corrupt() left it: the daemon starts, sets the
 * state aside (logged, with what), the plugins count the log again. */
static void expect_state_set_aside(struct td *d, const char *found,
                                   off_t aside_size)
{
    start(d);
    expect_counted(d);
    char name[256], rel[300];
    assert_int_equal(count_entries(d, ".", "state.invalid-", name, sizeof name),
                     1);
    snprintf(rel, sizeof rel, "%s/data.mdb", name);
    assert_int_equal(file_size(d, rel), aside_size);
    expect_logged(d, found);
    expect_logged(d, "moved it to ");
    assert_int_equal(td_stop(d), 0);
}

/* An empty state/data.mdb: LMDB would have written meta pages into it in
 * place; it is set aside as never written. */
static void test_state_empty(void **state)
{
    struct td *d = *state;
    make_data_dir(d);
    char path[400];
    data_path(d, "state/data.mdb", path, sizeof path);
    assert_int_equal(truncate(path, 0), 0);
    expect_state_set_aside(d,
                           "state/data.mdb is empty (0 bytes): the plugin "
                           "state was never written",
                           0);
}

/* A state/data.mdb whose meta pages never reached the disk: the host used
 * to restart every few seconds, queries unanswered. */
static void test_state_without_meta_page(void **state)
{
    struct td *d = *state;
    make_data_dir(d);
    off_t size = file_size(d, "state/data.mdb");
    write_at_start(d, "state/data.mdb", 0xa5, 8192);
    expect_state_set_aside(d,
                           "state/data.mdb has no valid LMDB meta page "
                           "(",
                           size);
    expect_logged(d, "the plugin state cannot be read");
}

/* A creation of the log cut short, in three forms: log/ with a stale
 * lock.mdb and the temporary file of today's creation; an empty data.mdb;
 * a data.mdb of three pages without a valid meta page (an older
 * povtrackd's).  The daemon starts on each and stores and counts events. */
static void test_log_creation_cut_short(void **state)
{
    struct td *d = *state;
    make_dir(d, "");
    make_dir(d, "log");
    write_at_start(d, "log/lock.mdb", 0, 8192);
    write_at_start(d, "log/data.mdb.new-123", 0, 8192);
    start(d);
    publish(d);
    expect_counted(d);
    assert_int_equal(count_entries(d, "log", "data.mdb.new-", NULL, 0), 0);
    expect_logged(d, "log/data.mdb.new-123, left by the creation");
    assert_int_equal(td_stop(d), 0);

    /* From here on the data directory is fresh each time. */
    const struct {
        off_t size;
        int byte;
        const char *found;
    } cases[] = {
        {0, 0, "log/data.mdb is empty (0 bytes): the log was never written"},
        {3 * 4096, 0x5a,
         "log/data.mdb has no valid LMDB meta page (12288 bytes): the log "
         "was never written"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char cmd[1000];
        snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s'", d->data_dir, d->log);
        assert_int_equal(system(cmd), 0);
        make_dir(d, "");
        make_dir(d, "log");
        write_at_start(d, "log/data.mdb", cases[i].byte, (size_t)cases[i].size);
        start(d);
        publish(d);
        expect_counted(d);
        expect_logged(d, cases[i].found);
        /* The bytes are kept, unless there were none. */
        assert_int_equal(count_entries(d, "log", "data.mdb.invalid-", NULL, 0),
                         cases[i].size > 0);
        assert_int_equal(td_stop(d), 0);
    }
}

/* A log without a valid meta page that is too long to be one that was
 * never written may hold acknowledged events: the daemon exits at once
 * (no restart loop), says what to do, and leaves the file untouched. */
static void test_damaged_log_refused(void **state)
{
    struct td *d = *state;
    make_data_dir(d);
    off_t size = file_size(d, "log/data.mdb");
    assert_true(size > 4 * 4096);
    write_at_start(d, "log/data.mdb", 0, 8192);
    assert_int_equal(td_start_logged(d, NULL), -1);
    /* td_start reaped it: it exited during start-up rather than hang. */
    assert_int_equal(d->pid, 0);
    expect_logged(d, "log/data.mdb has no valid LMDB meta page");
    expect_logged(d, "may hold acknowledged events");
    expect_logged(d, "restore it from a backup");
    assert_int_equal(file_size(d, "log/data.mdb"), size);
    assert_int_equal(count_entries(d, "log", "data.mdb.invalid-", NULL, 0), 0);
}

/* povtrack verify -d DATA: exit status, and stdout must hold want. */
static void expect_verify(struct td *d, int status, const char *want)
{
    char out[8192], err[2048];
    const char *args[] = {"verify", "-d", d->data_dir, NULL};
    int rc = td_cli_run(d->dir, args, out, sizeof out, err, sizeof err);
    if (rc != status || strstr(out, want) == NULL)
        fail_msg("povtrack verify: exit %d, wanted %d with \"%s\"\n"
                 "stdout: %s\nstderr: %s",
                 rc, status, want, out, err);
}

/* What verify says of each: a state never written is no damage (the
 * daemon makes it at start); one that cannot be read fails the cursors
 * check; a log that was never written fails, saying so. */
static void test_verify_says_what_it_found(void **state)
{
    struct td *d = *state;
    make_data_dir(d);
    char path[400];
    data_path(d, "state/data.mdb", path, sizeof path);
    off_t size = file_size(d, "state/data.mdb");

    assert_int_equal(truncate(path, 0), 0);
    expect_verify(d, 0, "OK   cursors: no plugin state yet: ");
    expect_verify(d, 0,
                  "state/data.mdb is empty (0 bytes): the plugin state was "
                  "never written; povtrackd creates it when it starts");
    expect_verify(d, 0, "OK   sequence: 21 records");

    assert_int_equal(truncate(path, size), 0);
    write_at_start(d, "state/data.mdb", 0xa5, 8192);
    expect_verify(d, 1, "FAIL cursors: ");
    expect_verify(d, 1,
                  "the plugin state cannot be read (the log is not "
                  "affected)");
    expect_verify(d, 1, "OK   sequence: 21 records");

    data_path(d, "log/data.mdb", path, sizeof path);
    assert_int_equal(truncate(path, 0), 0);
    expect_verify(d, 1, "FAIL log: ");
    expect_verify(d, 1,
                  "log/data.mdb is empty (0 bytes): the log was never "
                  "written");
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_state_empty, td_setup,
                                        td_teardown),
        cmocka_unit_test_setup_teardown(test_state_without_meta_page, td_setup,
                                        td_teardown),
        cmocka_unit_test_setup_teardown(test_log_creation_cut_short, td_setup,
                                        td_teardown),
        cmocka_unit_test_setup_teardown(test_damaged_log_refused, td_setup,
                                        td_teardown),
        cmocka_unit_test_setup_teardown(test_verify_says_what_it_found,
                                        td_setup, td_teardown),
    };
    return cmocka_run_group_tests_name("creation", tests, NULL, NULL);
}
