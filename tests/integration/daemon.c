#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int td_init(struct td *d)
{
    memset(d, 0, sizeof *d);
    snprintf(d->dir, sizeof d->dir, "/tmp/povtrack-test-XXXXXX");
    if (mkdtemp(d->dir) == NULL)
        return -1;
    snprintf(d->data_dir, sizeof d->data_dir, "%s/data", d->dir);
    snprintf(d->ingest, sizeof d->ingest, "ipc://%s/ingest", d->dir);
    snprintf(d->query, sizeof d->query, "ipc://%s/query", d->dir);
    snprintf(d->alerts, sizeof d->alerts, "ipc://%s/alerts", d->dir);
    d->zctx = zmq_ctx_new();
    return d->zctx ? 0 : -1;
}

int td_setup(void **state)
{
    struct td *d = calloc(1, sizeof *d);
    if (d == NULL || td_init(d) != 0) {
        if (d != NULL)
            td_destroy(d);
        free(d);
        return -1;
    }
    *state = d;
    return 0;
}

int td_setup_started(void **state)
{
    if (td_setup(state) != 0)
        return -1;
    if (td_start(*state, NULL) != 0) {
        td_teardown(state);
        return -1;
    }
    return 0;
}

int td_teardown(void **state)
{
    td_destroy(*state);
    free(*state);
    return 0;
}

void *td_dealer(struct td *d, const char *ep, const char *public_key,
                const char *secret_key)
{
    void *s = zmq_socket(d->zctx, ZMQ_DEALER);
    int zero = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    if (d->server_public[0] != '\0') {
        if (public_key == NULL) {
            public_key = d->client_public;
            secret_key = d->client_secret;
        }
        zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, d->server_public, 40);
        zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, public_key, 40);
        zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, secret_key, 40);
    }
    if (zmq_connect(s, ep) != 0) {
        zmq_close(s);
        return NULL;
    }
    return s;
}

static void *dealer(struct td *d, const char *ep)
{
    return td_dealer(d, ep, NULL, NULL);
}

static int write_text(const char *path, int mode, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    int rc = fputs(text, f) < 0 ? -1 : 0;
    if (fclose(f) != 0)
        rc = -1;
    return rc == 0 ? chmod(path, (mode_t)mode) : -1;
}

int td_write_registry(struct td *d, const char *registry_extra)
{
    char text[8192];
    int n = snprintf(text, sizeof text,
                     "[tester]\nkey = %s\npublish = *\nunits = *\n"
                     "query = *\nalerts = yes\n\n%s\n",
                     d->client_public, registry_extra ? registry_extra : "");
    if (n < 0 || (size_t)n >= sizeof text)
        return -1;
    /* Written whole and renamed, so a SIGHUP never reads half a file. */
    char tmp[400];
    snprintf(tmp, sizeof tmp, "%s.tmp", d->registry);
    if (write_text(tmp, 0644, text) != 0)
        return -1;
    return rename(tmp, d->registry);
}

int td_curve_setup(struct td *d, const char *registry_extra,
                   const char *config_extra)
{
    if (zmq_curve_keypair(d->server_public, d->server_secret) != 0 ||
        zmq_curve_keypair(d->client_public, d->client_secret) != 0)
        return -1;
    char path[400], text[8192];
    snprintf(path, sizeof path, "%s/server.key", d->dir);
    snprintf(text, sizeof text, "public-key = %s\nsecret-key = %s\n",
             d->server_public, d->server_secret);
    if (write_text(path, 0600, text) != 0)
        return -1;
    snprintf(d->registry, sizeof d->registry, "%s/publishers.ini", d->dir);
    if (td_write_registry(d, registry_extra) != 0)
        return -1;
    snprintf(d->config, sizeof d->config, "%s/povtrackd.ini", d->dir);
    snprintf(text, sizeof text,
             "[security]\ncurve_key = %s\nregistry = %s\n\n%s\n", path,
             d->registry, config_extra ? config_extra : "");
    return write_text(d->config, 0644, text);
}

static void close_socks(struct td *d)
{
    if (d->ingest_sock)
        zmq_close(d->ingest_sock);
    if (d->query_sock)
        zmq_close(d->query_sock);
    d->ingest_sock = d->query_sock = NULL;
}

/* povtrackd's argv for d: its directories and endpoints, then extra
 * (NULL-terminated, may be NULL), cut to fit argv[TD_ARGV_MAX]. */
#define TD_ARGV_MAX 32
static void povtrackd_argv(const struct td *d, const char *const *extra,
                           const char *argv[TD_ARGV_MAX])
{
    const char *const base[] = {POVTRACK_BIN_DIR "/povtrackd",
                                "--data-dir",
                                d->data_dir,
                                "--ingest",
                                d->ingest,
                                "--query",
                                d->query,
                                "--alerts",
                                d->alerts,
                                "--plugin-dir",
                                POVTRACK_PLUGIN_DIR,
                                "--log-level",
                                "warn"};
    size_t n = 0;
    for (; n < sizeof base / sizeof base[0]; n++)
        argv[n] = base[n];
    for (size_t i = 0; extra != NULL && extra[i] != NULL && n < TD_ARGV_MAX - 1;
         i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
}

int td_start_refused(struct td *d, const char *const *extra, char *out,
                     size_t cap, int timeout_ms)
{
    const char *argv[TD_ARGV_MAX];
    povtrackd_argv(d, extra, argv);
    return td_run_to_exit(argv, out, cap, timeout_ms);
}

int td_start(struct td *d, const char *const *extra)
{
    const char *argv[TD_ARGV_MAX];
    povtrackd_argv(d, extra, argv);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    d->pid = pid;
    close_socks(d);
    d->ingest_sock = dealer(d, d->ingest);
    d->query_sock = dealer(d, d->query);
    if (d->ingest_sock == NULL || d->query_sock == NULL)
        return -1;
    return td_wait_ping(d, 20000);
}

int td_start_logged(struct td *d, const char *const *extra)
{
    snprintf(d->log, sizeof d->log, "%s/daemon.log", d->dir);
    int fd = open(d->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    /* The daemon inherits the test's stderr: point it at the file for the
     * fork, then back. */
    int saved = dup(STDERR_FILENO);
    if (saved < 0 || dup2(fd, STDERR_FILENO) < 0) {
        close(fd);
        if (saved >= 0)
            close(saved);
        return -1;
    }
    close(fd);
    int rc = td_start(d, extra);
    dup2(saved, STDERR_FILENO);
    close(saved);
    return rc;
}

int td_stop(struct td *d)
{
    if (d->pid <= 0)
        return -1;
    kill(d->pid, SIGTERM);
    int status;
    int64_t deadline = mono_ms() + 20000;
    pid_t r;
    while ((r = waitpid(d->pid, &status, WNOHANG)) == 0 &&
           mono_ms() < deadline) {
        /* Bounded wait for the process to be reaped. */
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (r == 0) {
        kill(d->pid, SIGKILL);
        waitpid(d->pid, &status, 0);
        d->pid = 0;
        return -1;
    }
    d->pid = 0;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Sanitizer reports of a daemon whose stderr went to a file would be lost
 * with the file: show them. */
static void echo_sanitizer_reports(const char *path)
{
    FILE *in = fopen(path, "r");
    if (in == NULL)
        return;
    char line[2048];
    int show = 0;
    while (fgets(line, sizeof line, in) != NULL) {
        if (strstr(line, "Sanitizer") != NULL ||
            strstr(line, "runtime error") != NULL)
            show = 1;
        if (show)
            fputs(line, stderr);
    }
    fclose(in);
}

void td_destroy(struct td *d)
{
    if (d->pid > 0)
        td_stop(d);
    if (d->log[0] != '\0')
        echo_sanitizer_reports(d->log);
    close_socks(d);
    if (d->zctx)
        zmq_ctx_term(d->zctx);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d->dir);
    if (d->dir[0] != '\0' && system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", d->dir);
}

pid_t td_host_pid(const struct td *d)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/task/%ld/children", (long)d->pid,
             (long)d->pid);
    FILE *f = fopen(path, "r");
    long pid = 0;
    if (f != NULL) {
        if (fscanf(f, "%ld", &pid) != 1)
            pid = 0;
        fclose(f);
    }
    return (pid_t)pid;
}

/* Read every frame of the next message on sock, whatever its shape, so
 * that a bad one does not leave frames behind for the next.  Two frames,
 * the first empty when want_delim, are what a reply (or an alert, topic
 * first) is: the second is copied to *body (malloc'ed; *len bytes).  0;
 * -1 when nothing came within timeout_ms; -2 for another shape. */
static int recv_two(void *sock, int timeout_ms, int want_delim, char **body,
                    size_t *len)
{
    zmq_pollitem_t it = {sock, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, timeout_ms) <= 0)
        return -1;
    size_t frames = 0, first_len = 0;
    int more = 1;
    *body = NULL;
    *len = 0;
    while (more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, sock, 0) < 0) {
            zmq_msg_close(&m);
            break;
        }
        more = zmq_msg_more(&m);
        if (frames == 0)
            first_len = zmq_msg_size(&m);
        if (frames == 1 && (*body = malloc(zmq_msg_size(&m) + 1)) != NULL) {
            *len = zmq_msg_size(&m);
            memcpy(*body, zmq_msg_data(&m), *len);
        }
        frames++;
        zmq_msg_close(&m);
    }
    if (frames == 2 && (!want_delim || first_len == 0) && *body != NULL &&
        !more)
        return 0;
    free(*body);
    *body = NULL;
    return -2;
}

int td_recv_body(void *sock, int timeout_ms, char **body, size_t *len)
{
    return recv_two(sock, timeout_ms, 1, body, len);
}

int td_recv_reply(void *sock, msgpack_unpacked *up, int timeout_ms)
{
    char *copy;
    size_t n, off = 0;
    if (recv_two(sock, timeout_ms, 0, &copy, &n) != 0)
        return -1;
    /* Unpacked strings point into the bytes they came from: the copy goes
     * to the unpacked zone. */
    if (msgpack_unpack_next(up, copy, n, &off) == MSGPACK_UNPACK_SUCCESS &&
        msgpack_zone_push_finalizer(up->zone, free, copy))
        return 0;
    free(copy);
    return -1;
}

int td_call(void *sock, const void *buf, size_t len, msgpack_unpacked *up,
            int timeout_ms)
{
    if (zmq_send(sock, "", 0, ZMQ_SNDMORE) < 0 ||
        zmq_send(sock, buf, len, 0) < 0)
        return -1;
    return td_recv_reply(sock, up, timeout_ms);
}

/* td_call on one of the harness's own sockets.  Lazy Pirate: a socket that
 * timed out may still get the late reply; replace it so the next request
 * cannot read that. */
static int roundtrip(void **sock, struct td *d, const char *ep, const void *buf,
                     size_t len, msgpack_unpacked *up, int timeout_ms)
{
    int rc = td_call(*sock, buf, len, up, timeout_ms);
    if (rc != 0) {
        zmq_close(*sock);
        *sock = dealer(d, ep);
    }
    return rc;
}

int td_ingest_raw(struct td *d, const void *buf, size_t len,
                  msgpack_unpacked *up, int timeout_ms)
{
    return roundtrip(&d->ingest_sock, d, d->ingest, buf, len, up, timeout_ms);
}

int td_request_raw(struct td *d, const void *buf, size_t len,
                   msgpack_unpacked *up, int timeout_ms)
{
    return roundtrip(&d->query_sock, d, d->query, buf, len, up, timeout_ms);
}

int td_wait_ping(struct td *d, int timeout_ms)
{
    static const unsigned char ping[] = {0x81, 0xa2, 'o', 'p', 0xa4,
                                         'p',  'i',  'n', 'g'};
    int64_t deadline = mono_ms() + timeout_ms;
    while (mono_ms() < deadline) {
        if (d->pid > 0 && waitpid(d->pid, NULL, WNOHANG) == d->pid) {
            d->pid = 0;
            return -1; /* died during start-up */
        }
        msgpack_unpacked up;
        msgpack_unpacked_init(&up);
        int rc = td_request_raw(d, ping, sizeof ping, &up, 500);
        int ok = rc == 0 && td_get(&up.data, "ok") != NULL &&
                 td_get(&up.data, "ok")->type == MSGPACK_OBJECT_BOOLEAN &&
                 td_get(&up.data, "ok")->via.boolean;
        msgpack_unpacked_destroy(&up);
        if (ok)
            return 0;
    }
    return -1;
}

void td_pack_cstr(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str(pk, strlen(s));
    msgpack_pack_str_body(pk, s, strlen(s));
}

int td_define_province(struct td *d, const char *id)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, 1);
    msgpack_pack_map(&pk, 6);
    td_pack_cstr(&pk, "v");
    msgpack_pack_int(&pk, 1);
    td_pack_cstr(&pk, "id");
    td_pack_cstr(&pk, id);
    td_pack_cstr(&pk, "type");
    td_pack_cstr(&pk, "unit.defined");
    td_pack_cstr(&pk, "at");
    msgpack_pack_int64(&pk, 1609459200);
    td_pack_cstr(&pk, "unit");
    td_pack_cstr(&pk, "60");
    td_pack_cstr(&pk, "data");
    msgpack_pack_map(&pk, 3);
    td_pack_cstr(&pk, "name");
    td_pack_cstr(&pk, "Binh Thuan");
    td_pack_cstr(&pk, "parent");
    msgpack_pack_nil(&pk);
    td_pack_cstr(&pk, "level");
    td_pack_cstr(&pk, "province");
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    int rc = -1;
    if (td_ingest_raw(d, sb.data, sb.size, &up, 10000) == 0 &&
        up.data.type == MSGPACK_OBJECT_ARRAY && up.data.via.array.size == 1) {
        const msgpack_object *st = td_get(&up.data.via.array.ptr[0], "status");
        rc = td_str_eq(st, "ok") ? 0 : td_str_eq(st, "duplicate") ? 1 : -1;
    }
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

int td_ingest_ok(struct td *d, const msgpack_sbuffer *sb, uint32_t n,
                 int timeout_ms)
{
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    int ok = td_ingest_raw(d, sb->data, sb->size, &up, timeout_ms) == 0 &&
             up.data.type == MSGPACK_OBJECT_ARRAY &&
             up.data.via.array.size == n;
    for (uint32_t i = 0; ok && i < n; i++)
        ok = td_str_eq(td_get(&up.data.via.array.ptr[i], "status"), "ok");
    msgpack_unpacked_destroy(&up);
    return ok ? 0 : -1;
}

const msgpack_object *td_get(const msgpack_object *map, const char *key)
{
    if (map->type != MSGPACK_OBJECT_MAP)
        return NULL;
    size_t n = strlen(key);
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr[i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
            memcmp(k->via.str.ptr, key, n) == 0)
            return &map->via.map.ptr[i].val;
    }
    return NULL;
}

int td_str_eq(const msgpack_object *o, const char *s)
{
    return o != NULL && o->type == MSGPACK_OBJECT_STR &&
           o->via.str.size == strlen(s) &&
           memcmp(o->via.str.ptr, s, o->via.str.size) == 0;
}

int td_str_copy(const msgpack_object *o, char *buf, size_t cap)
{
    if (o == NULL || o->type != MSGPACK_OBJECT_STR || o->via.str.size >= cap)
        return -1;
    memcpy(buf, o->via.str.ptr, o->via.str.size);
    buf[o->via.str.size] = '\0';
    return 0;
}

void td_pack_donations(msgpack_sbuffer *sb, const char *prefix, int batch,
                       int n, int64_t amount)
{
    msgpack_packer pk;
    msgpack_sbuffer_clear(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_array(&pk, (uint32_t)n);
    for (int i = 0; i < n; i++) {
        char id[64];
        snprintf(id, sizeof id, "%s-%d-%d", prefix, batch, i);
        msgpack_pack_map(&pk, 6);
        td_pack_cstr(&pk, "v");
        msgpack_pack_int(&pk, 1);
        td_pack_cstr(&pk, "id");
        td_pack_cstr(&pk, id);
        td_pack_cstr(&pk, "type");
        td_pack_cstr(&pk, "donation.received");
        td_pack_cstr(&pk, "at");
        msgpack_pack_int64(&pk, 1730000000 + batch);
        td_pack_cstr(&pk, "unit");
        td_pack_cstr(&pk, "60");
        td_pack_cstr(&pk, "data");
        msgpack_pack_map(&pk, 4);
        td_pack_cstr(&pk, "amount");
        msgpack_pack_int64(&pk, amount);
        /* Long enough that a batch takes real space, as real donors do. */
        td_pack_cstr(&pk, "donor");
        td_pack_cstr(&pk, "Hội Liên hiệp Phụ nữ tỉnh Bình Thuận, chi hội "
                          "khu phố 3, phường Phú Thủy");
        td_pack_cstr(&pk, "donor_kind");
        td_pack_cstr(&pk, "organisation");
        td_pack_cstr(&pk, "level");
        td_pack_cstr(&pk, "province");
    }
}

int td_query(struct td *d, const char *plugin, int year, uint64_t min_seq,
             msgpack_unpacked *up, int timeout_ms)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, min_seq > 0 ? 4 : 3);
    td_pack_cstr(&pk, "op");
    td_pack_cstr(&pk, "query");
    td_pack_cstr(&pk, "plugin");
    td_pack_cstr(&pk, plugin);
    td_pack_cstr(&pk, "q");
    msgpack_pack_map(&pk, year > 0 ? 2 : 1);
    td_pack_cstr(&pk, "unit");
    td_pack_cstr(&pk, "60");
    if (year > 0) {
        td_pack_cstr(&pk, "year");
        msgpack_pack_int(&pk, year);
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

char *td_read_file(const char *path)
{
    FILE *in = fopen(path, "r");
    if (in == NULL)
        return NULL;
    size_t cap = 4096, n = 0, got;
    char *buf = malloc(cap);
    while (buf != NULL && (got = fread(buf + n, 1, cap - n - 1, in)) > 0) {
        n += got;
        if (cap - n - 1 == 0) {
            char *bigger = realloc(buf, cap * 2);
            if (bigger == NULL) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = bigger;
            cap *= 2;
        }
    }
    if (buf != NULL && ferror(in)) {
        free(buf);
        buf = NULL;
    }
    fclose(in);
    if (buf != NULL)
        buf[n] = '\0';
    return buf;
}

int td_unused_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return -1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_ANY);
    socklen_t len = sizeof a;
    int port = -1;
    if (bind(s, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(s, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(s);
    return port;
}

size_t td_count_lines(const char *path, const char *a, const char *b)
{
    char *text = td_read_file(path);
    size_t n = 0;
    for (char *line = text; line != NULL && *line != '\0';) {
        char *nl = strchr(line, '\n');
        if (nl == NULL)
            break; /* a line still being written */
        *nl = '\0';
        if (strstr(line, a) != NULL && strstr(line, b) != NULL)
            n++;
        line = nl + 1;
    }
    free(text);
    return n;
}

size_t td_wait_log(const char *path, const char *a, const char *b, size_t want,
                   int timeout_ms)
{
    int in = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
    if (in < 0 || inotify_add_watch(in, path, IN_MODIFY) < 0) {
        if (in >= 0)
            close(in);
        return td_count_lines(path, a, b);
    }
    int64_t deadline = mono_ms() + timeout_ms;
    size_t n;
    while ((n = td_count_lines(path, a, b)) < want) {
        int64_t left = deadline - mono_ms();
        if (left <= 0)
            break;
        struct pollfd p = {in, POLLIN, 0};
        if (poll(&p, 1, (int)left) > 0) {
            char ev[4096];
            while (read(in, ev, sizeof ev) > 0)
                ;
        }
    }
    close(in);
    return n;
}

char *td_query_packed(struct td *d, const char *plugin, const void *q,
                      size_t qlen, uint64_t min_seq, int timeout_ms,
                      size_t *len, char *why, size_t whylen)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 4);
    td_pack_cstr(&pk, "op");
    td_pack_cstr(&pk, "query");
    td_pack_cstr(&pk, "plugin");
    td_pack_cstr(&pk, plugin);
    td_pack_cstr(&pk, "q");
    msgpack_sbuffer_write(&sb, q, qlen);
    td_pack_cstr(&pk, "min_seq");
    msgpack_pack_uint64(&pk, min_seq);
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    int rc = td_request_raw(d, sb.data, sb.size, &up, timeout_ms);
    msgpack_sbuffer_destroy(&sb);
    if (rc != 0) {
        snprintf(why, whylen, "no reply within %d ms", timeout_ms);
        msgpack_unpacked_destroy(&up);
        return NULL;
    }
    const msgpack_object *ok = td_get(&up.data, "ok");
    const msgpack_object *res = td_get(&up.data, "result");
    if (ok == NULL || ok->type != MSGPACK_OBJECT_BOOLEAN || !ok->via.boolean ||
        res == NULL) {
        const msgpack_object *e = td_get(&up.data, "error");
        snprintf(
            why, whylen, "%.*s",
            e != NULL && e->type == MSGPACK_OBJECT_STR ? (int)e->via.str.size
                                                       : 0,
            e != NULL && e->type == MSGPACK_OBJECT_STR ? e->via.str.ptr : "");
        msgpack_unpacked_destroy(&up);
        return NULL;
    }
    msgpack_sbuffer_init(&sb);
    msgpack_pack_object(&pk, *res);
    msgpack_unpacked_destroy(&up);
    *len = sb.size;
    return sb.data;
}

uint64_t td_result_u64(const msgpack_unpacked *up, const char *key)
{
    const msgpack_object *res = td_get(&up->data, "result");
    const msgpack_object *v = res != NULL ? td_get(res, key) : NULL;
    if (v == NULL || v->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
        const msgpack_object *e = td_get(&up->data, "error");
        fprintf(stderr, "no result field %s: %.*s\n", key,
                e ? (int)e->via.str.size : 0, e ? e->via.str.ptr : "");
        return UINT64_MAX;
    }
    return v->via.u64;
}

/* ---- running the CLI ---- */

extern char **environ;

/*
 * Start the real povtrack with args (NULL-terminated); env holds "NAME=value"
 * strings (NULL-terminated, may be NULL) that replace or add to the test's
 * environment.  Standard output and error go to files in tmpdir.  The
 * argument and environment arrays are built before fork: the test has a
 * thread running, so the child only calls async-signal-safe functions.
 */
int td_cli_start(struct td_cli *r, const char *tmpdir, const char *const *args,
                 const char *const *env)
{
    const char *argv[16] = {POVTRACK_BIN_DIR "/povtrack"};
    size_t n = 1;
    for (; args[n - 1] != NULL && n < 15; n++)
        argv[n] = args[n - 1];
    argv[n] = NULL;

    size_t nenv = 0, nextra = 0;
    while (environ[nenv] != NULL)
        nenv++;
    while (env != NULL && env[nextra] != NULL)
        nextra++;
    const char **envp = calloc(nenv + nextra + 1, sizeof(*envp));
    if (envp == NULL)
        return -1;
    size_t k = 0;
    for (size_t i = 0; i < nenv; i++) {
        bool replaced = false;
        for (size_t j = 0; j < nextra && !replaced; j++) {
            size_t len = strcspn(env[j], "=") + 1;
            replaced = strncmp(environ[i], env[j], len) == 0;
        }
        if (!replaced)
            envp[k++] = environ[i];
    }
    for (size_t j = 0; j < nextra; j++)
        envp[k++] = env[j];
    envp[k] = NULL;

    snprintf(r->opath, sizeof r->opath, "%s/cli.out", tmpdir);
    snprintf(r->epath, sizeof r->epath, "%s/cli.err", tmpdir);
    r->pid = fork();
    if (r->pid == 0) {
        int o = open(r->opath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int e = open(r->epath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0)
            _exit(126);
        execve(argv[0], (char *const *)argv, (char *const *)envp);
        _exit(127);
    }
    free(envp);
    return r->pid > 0 ? 0 : -1;
}

/* Wait for the CLI to exit; its standard output is left in out and its
 * standard error in err (NUL-terminated, cut to fit).  Returns the exit
 * status, or -1 when it did not exit normally. */
int td_cli_wait(struct td_cli *r, char *out, size_t outlen, char *err,
                size_t errlen)
{
    int status;
    if (waitpid(r->pid, &status, 0) != r->pid)
        return -1;
    const char *paths[2] = {r->opath, r->epath};
    char *bufs[2] = {out, err};
    size_t lens[2] = {outlen, errlen};
    for (int i = 0; i < 2; i++) {
        FILE *f = fopen(paths[i], "r");
        size_t got = f ? fread(bufs[i], 1, lens[i] - 1, f) : 0;
        bufs[i][got] = '\0';
        if (f)
            fclose(f);
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int td_cli_run(const char *tmpdir, const char *const *args, char *out,
               size_t outlen, char *err, size_t errlen)
{
    struct td_cli r;
    if (td_cli_start(&r, tmpdir, args, NULL) != 0)
        return -1;
    return td_cli_wait(&r, out, outlen, err, errlen);
}

int td_run_to_exit(const char *const *argv, char *out, size_t cap,
                   int timeout_ms)
{
    int p[2];
    out[0] = '\0';
    if (pipe(p) != 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0) {
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (pid == 0) {
        dup2(p[1], STDOUT_FILENO);
        dup2(p[1], STDERR_FILENO);
        close(p[0]);
        close(p[1]);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(p[1]);
    size_t n = 0;
    int eof = 0;
    int64_t deadline = mono_ms() + timeout_ms;
    while (!eof && mono_ms() < deadline) {
        struct pollfd pf = {p[0], POLLIN, 0};
        if (poll(&pf, 1, (int)(deadline - mono_ms())) <= 0)
            continue;
        char chunk[1024];
        ssize_t r = read(p[0], chunk, sizeof chunk);
        if (r <= 0) {
            eof = 1;
            break;
        }
        size_t k = (size_t)r < cap - 1 - n ? (size_t)r : cap - 1 - n;
        memcpy(out + n, chunk, k);
        n += k;
    }
    close(p[0]);
    out[n] = '\0';
    int status;
    if (!eof) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        fprintf(stderr, "%s did not exit within %d ms: %s\n", argv[0],
                timeout_ms, out);
        return -1;
    }
    /* Its output is closed: it is exiting. */
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
        return -1;
    return WEXITSTATUS(status);
}

void td_pack_event_head(msgpack_packer *pk, const char *id, const char *type,
                        int64_t at, const char *unit, const char *household)
{
    msgpack_pack_map(pk, household != NULL ? 7 : 6);
    td_pack_cstr(pk, "v");
    msgpack_pack_int(pk, 1);
    td_pack_cstr(pk, "id");
    td_pack_cstr(pk, id);
    td_pack_cstr(pk, "type");
    td_pack_cstr(pk, type);
    td_pack_cstr(pk, "at");
    msgpack_pack_int64(pk, at);
    td_pack_cstr(pk, "unit");
    td_pack_cstr(pk, unit);
    if (household != NULL) {
        td_pack_cstr(pk, "household");
        td_pack_cstr(pk, household);
    }
    td_pack_cstr(pk, "data");
}

int td_plugin_op(struct td *d, const char *op, const char *plugin,
                 int timeout_ms)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 2);
    td_pack_cstr(&pk, "op");
    td_pack_cstr(&pk, op);
    td_pack_cstr(&pk, "plugin");
    td_pack_cstr(&pk, plugin);
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    int rc = td_request_raw(d, sb.data, sb.size, &up, timeout_ms);
    msgpack_sbuffer_destroy(&sb);
    if (rc == 0) {
        const msgpack_object *ok = td_get(&up.data, "ok");
        rc = ok != NULL && ok->type == MSGPACK_OBJECT_BOOLEAN && ok->via.boolean
                 ? 0
                 : -1;
        if (rc != 0) {
            char why[512] = "";
            const msgpack_object *e = td_get(&up.data, "error");
            if (e != NULL)
                td_str_copy(e, why, sizeof why);
            fprintf(stderr, "%s %s refused: %s\n", op, plugin, why);
        }
    }
    msgpack_unpacked_destroy(&up);
    return rc;
}

/* ---- strace ---- */

/* How many times needle is in s. */
static size_t count_of(const char *s, const char *needle)
{
    size_t n = 0;
    for (const char *p = s; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

int td_trace_start(struct td_tracer *t, const pid_t *targets, const char *path,
                   const char *const *opts)
{
    char pidargs[4][16];
    const char *argv[24] = {"strace", "-f"};
    size_t n = 2, ntargets = 0;
    for (size_t i = 0; opts[i] != NULL && n < 10; i++)
        argv[n++] = opts[i];
    argv[n++] = "-o";
    argv[n++] = path;
    for (; targets[ntargets] != 0 && ntargets < 4; ntargets++) {
        snprintf(pidargs[ntargets], sizeof pidargs[ntargets], "%ld",
                 (long)targets[ntargets]);
        argv[n++] = "-p";
        argv[n++] = pidargs[ntargets];
    }
    argv[n] = NULL;
    int errpipe[2];
    if (pipe(errpipe) != 0)
        return -1;
    t->pid = fork();
    if (t->pid < 0) {
        close(errpipe[0]);
        close(errpipe[1]);
        return -1;
    }
    if (t->pid == 0) {
        dup2(errpipe[1], 2);
        close(errpipe[0]);
        execvp("strace", (char *const *)argv);
        fprintf(stderr, "cannot run strace\n");
        _exit(127);
    }
    close(errpipe[1]);
    t->errfd = errpipe[0];
    char msg[1024] = "";
    size_t got = 0;
    struct pollfd pfd = {t->errfd, POLLIN, 0};
    while (count_of(msg, "attached") < ntargets && got < sizeof msg - 1 &&
           poll(&pfd, 1, 10000) == 1) {
        ssize_t r = read(t->errfd, msg + got, sizeof msg - 1 - got);
        if (r <= 0)
            break;
        got += (size_t)r;
        msg[got] = '\0';
    }
    if (count_of(msg, "attached") < ntargets) {
        fprintf(stderr, "strace did not attach to pid %s...: %s\n", pidargs[0],
                msg);
        return -1;
    }
    return 0;
}

void td_trace_stop(struct td_tracer *t)
{
    int status;
    kill(t->pid, SIGINT);
    waitpid(t->pid, &status, 0);
    close(t->errfd);
}
