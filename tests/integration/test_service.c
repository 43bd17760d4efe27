/*
 * test_service.c - povtrackd as a systemd service sees it: the sd_notify
 * protocol and the journal's priority prefixes, with the real daemon and
 * no systemd (the test plays the service manager's part).
 *
 * test_notify: with NOTIFY_SOCKET naming a datagram socket of the test,
 * povtrackd sends READY=1 only once the plugin host answers queries (a
 * thread asks stats the moment READY=1 arrives and must get "ok": true,
 * not the stand-in's "plugin host is starting"); SIGHUP gives RELOADING=1
 * with MONOTONIC_USEC, then READY=1; SIGTERM gives STOPPING=1 and exit 0.
 * Every message comes from the ingest process, the one systemd starts
 * (NotifyAccess=main): the kernel's credentials on each datagram say so.
 *
 * test_journal_priorities: with JOURNAL_STREAM naming the device and inode
 * of the daemon's stderr, every line starts with its syslog priority
 * ("<6>povtrackd[PID] ingest info: ...", "<4>... warn: ...") and carries
 * no time stamp, from both processes.
 *
 * test_journal_stream_elsewhere: with JOURNAL_STREAM naming another file
 * (stderr was redirected since systemd set it), the lines keep the
 * README's format, time stamp first.
 */
#define _GNU_SOURCE /* struct ucred, SCM_CREDENTIALS */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <msgpack.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <zmq.h>

#include "daemon.h"

#define TIMEOUT_MS 20000

/* The service manager's end: a datagram socket that gets the sender's
 * credentials with each message. */
static int notify_socket(struct td *d, char *path, size_t cap)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(path, cap, "%s/notify", d->dir);
    assert_true(strlen(path) < sizeof sa.sun_path);
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    int on = 1;
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof on),
                     0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    return fd;
}

/* The next message on fd within timeout_ms, NUL-terminated, and its
 * sender's pid; -1 when none came. */
static int notify_recv(int fd, char *buf, size_t cap, pid_t *sender,
                       int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, timeout_ms) != 1)
        return -1;
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(struct ucred))];
    } control;
    struct iovec iov = {.iov_base = buf, .iov_len = cap - 1};
    struct msghdr msg = {.msg_iov = &iov,
                         .msg_iovlen = 1,
                         .msg_control = control.buf,
                         .msg_controllen = sizeof control.buf};
    ssize_t n = recvmsg(fd, &msg, 0);
    if (n < 0)
        return -1;
    buf[n] = '\0';
    *sender = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL;
         c = CMSG_NXTHDR(&msg, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
            struct ucred cred;
            memcpy(&cred, CMSG_DATA(c), sizeof cred);
            *sender = cred.pid;
        }
    return 0;
}

/* What the manager saw at READY=1: the message, who sent it, and the
 * answer to a stats request sent at once. */
struct ready_watch {
    struct td *d;
    int fd;
    char msg[256];
    pid_t sender;
    int got;         /* a message came */
    int answered;    /* the stats request got a reply */
    int ok;          /* its "ok" was true */
    char error[512]; /* its "error", if any */
};

static void *watch_ready(void *arg)
{
    struct ready_watch *w = arg;
    if (notify_recv(w->fd, w->msg, sizeof w->msg, &w->sender, TIMEOUT_MS) != 0)
        return NULL;
    w->got = 1;
    /* The moment READY=1 arrives: does the plugin host answer? */
    void *sock = td_dealer(w->d, w->d->query, NULL, NULL);
    if (sock == NULL)
        return NULL;
    static const unsigned char stats[] = {0x81, 0xa2, 'o', 'p', 0xa5,
                                          's',  't',  'a', 't', 's'};
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    if (td_call(sock, stats, sizeof stats, &up, TIMEOUT_MS) == 0) {
        w->answered = 1;
        const msgpack_object *ok = td_get(&up.data, "ok");
        w->ok =
            ok != NULL && ok->type == MSGPACK_OBJECT_BOOLEAN && ok->via.boolean;
        const msgpack_object *e = td_get(&up.data, "error");
        if (e != NULL)
            td_str_copy(e, w->error, sizeof w->error);
    }
    msgpack_unpacked_destroy(&up);
    zmq_close(sock);
    return NULL;
}

static void assert_starts_with(const char *s, const char *prefix)
{
    if (strncmp(s, prefix, strlen(prefix)) != 0)
        fail_msg("\"%s\" does not start with \"%s\"", s, prefix);
}

static void test_notify(void **state)
{
    struct td *d = *state;
    char path[300], msg[256];
    pid_t sender;
    int fd = notify_socket(d, path, sizeof path);
    assert_int_equal(setenv("NOTIFY_SOCKET", path, 1), 0);

    struct ready_watch w = {.d = d, .fd = fd};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, watch_ready, &w), 0);
    int started = td_start(d, NULL);
    pthread_join(t, NULL);
    assert_int_equal(started, 0);
    if (!w.got)
        fail_msg("no message from povtrackd within %d ms", TIMEOUT_MS);
    assert_starts_with(w.msg, "READY=1\n");
    assert_int_equal(w.sender, d->pid);
    if (!w.answered || !w.ok)
        fail_msg("READY=1 came before the plugin host answered: stats got "
                 "%s (%s)",
                 w.answered ? "ok false" : "no reply", w.error);

    /* SIGHUP: reloading, then ready again; both from ingest. */
    assert_int_equal(kill(d->pid, SIGHUP), 0);
    assert_int_equal(notify_recv(fd, msg, sizeof msg, &sender, TIMEOUT_MS), 0);
    assert_starts_with(msg, "RELOADING=1\nMONOTONIC_USEC=");
    assert_int_equal(sender, d->pid);
    assert_int_equal(notify_recv(fd, msg, sizeof msg, &sender, TIMEOUT_MS), 0);
    assert_starts_with(msg, "READY=1\n");
    assert_int_equal(sender, d->pid);

    /* SIGTERM: stopping, then a clean exit. */
    pid_t ingest = d->pid;
    assert_int_equal(td_stop(d), 0);
    assert_int_equal(notify_recv(fd, msg, sizeof msg, &sender, TIMEOUT_MS), 0);
    assert_string_equal(msg, "STOPPING=1");
    assert_int_equal(sender, ingest);
    /* And nothing else: the plugin host never notifies. */
    assert_int_equal(notify_recv(fd, msg, sizeof msg, &sender, 0), -1);
    close(fd);
}

/* Make d's log file (before the daemon opens it) and return its
 * "DEVICE:INODE", as systemd sets JOURNAL_STREAM. */
static void make_log(struct td *d, char *stream, size_t cap)
{
    snprintf(d->log, sizeof d->log, "%s/daemon.log", d->dir);
    FILE *f = fopen(d->log, "w");
    assert_non_null(f);
    assert_int_equal(fclose(f), 0);
    struct stat st;
    assert_int_equal(stat(d->log, &st), 0);
    snprintf(stream, cap, "%llu:%llu", (unsigned long long)st.st_dev,
             (unsigned long long)st.st_ino);
}

/* Start with info lines, make the plugin host log one (a rebuild), stop;
 * the whole log. */
static char *run_logged(struct td *d)
{
    assert_int_equal(
        td_start_logged(d, (const char *[]){"--log-level", "info", NULL}), 0);
    assert_int_equal(td_plugin_op(d, "rebuild", "fund", TIMEOUT_MS), 0);
    assert_int_equal(td_wait_log(d->log, " host info: ",
                                 "plugin fund: state dropped", 1, TIMEOUT_MS),
                     1);
    assert_int_equal(td_stop(d), 0);
    char *text = td_read_file(d->log);
    assert_non_null(text);
    return text;
}

static void assert_contains(const char *s, const char *part)
{
    if (strstr(s, part) == NULL)
        fail_msg("\"%s\" not found in: %s", part, s);
}

/* The priority a level's lines must carry. */
static const char *priority_of(const char *level)
{
    static const char *const map[][2] = {{" debug: ", "<7>"},
                                         {" info: ", "<6>"},
                                         {" warn: ", "<4>"},
                                         {" error: ", "<3>"}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strncmp(level, map[i][0], strlen(map[i][0])) == 0)
            return map[i][1];
    return NULL;
}

static void test_journal_priorities(void **state)
{
    struct td *d = *state;
    char stream[64], want[128];
    make_log(d, stream, sizeof stream);
    assert_int_equal(setenv("JOURNAL_STREAM", stream, 1), 0);
    char *text = run_logged(d);

    /* <6>povtrackd[PID] ingest info: povtrackd 0.1.0 ingest ready: ... */
    int ingest;
    assert_int_equal(sscanf(text, "<6>povtrackd[%d] ingest info: ", &ingest),
                     1);
    snprintf(want, sizeof want, "<4>povtrackd[%d] ingest warn: INSECURE",
             ingest);
    assert_contains(text, want);
    assert_contains(text, " host info: plugin fund: state dropped");
    /* Every line, from both processes: "<N>povtrackd[PID] PROC LEVEL: "
     * with N the level's priority, and no time stamp. */
    for (const char *l = text; *l != '\0';) {
        int len = (int)strcspn(l, "\n");
        int pid, end = 0;
        char proc[16];
        if (sscanf(l, "<%*d>povtrackd[%d] %15s%n", &pid, proc, &end) != 2)
            fail_msg("not a journal line: %.*s", len, l);
        const char *prio = priority_of(l + end);
        if (prio == NULL || strncmp(l, prio, 3) != 0)
            fail_msg("wrong or no priority: %.*s", len, l);
        l += len + (l[len] == '\n');
    }
    free(text);
}

static void test_journal_stream_elsewhere(void **state)
{
    struct td *d = *state;
    char stream[64];
    make_log(d, stream, sizeof stream);
    /* The inode of another file: stderr is no longer the journal. */
    struct stat st;
    assert_int_equal(stat(d->dir, &st), 0);
    snprintf(stream, sizeof stream, "%llu:%llu", (unsigned long long)st.st_dev,
             (unsigned long long)st.st_ino);
    assert_int_equal(setenv("JOURNAL_STREAM", stream, 1), 0);
    char *text = run_logged(d);
    for (const char *l = text; *l != '\0';) {
        /* 2026-11-27T03:50:00.123Z povtrackd[1234] ingest info: */
        int len = (int)strcspn(l, "\n");
        int y, mo, da, h, mi, s, ms;
        char z;
        if (sscanf(l, "%4d-%2d-%2dT%2d:%2d:%2d.%3d%c povtrackd[", &y, &mo, &da,
                   &h, &mi, &s, &ms, &z) != 8 ||
            z != 'Z')
            fail_msg("a line without the time stamp: %.*s", len, l);
        l += len + (l[len] == '\n');
    }
    assert_contains(text, " ingest info: povtrackd ");
    free(text);
}

/* No test leaves the service manager's variables to the next. */
static int teardown(void **state)
{
    unsetenv("NOTIFY_SOCKET");
    unsetenv("JOURNAL_STREAM");
    return td_teardown(state);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_notify, td_setup, teardown),
        cmocka_unit_test_setup_teardown(test_journal_priorities, td_setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_journal_stream_elsewhere, td_setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
