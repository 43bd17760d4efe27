/*
 * test_gw.c - the web gateway against the real povtrackd: povtrackd with
 * CURVE and a registry of several publishers, povtrack-gw on 127.0.0.1 at
 * a free port, and every endpoint driven with libcurl.
 *
 * One daemon and one gateway serve the tests of the main group (they run in
 * order and build on each other's events); the limits get a gateway of
 * their own with small limits; the last test stops the daemon (503).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>
#include <zmq.h>

#include "daemon.h"

#define GW_BIN POVTRACK_BIN_DIR "/povtrack-gw"
#define WAIT_MS 30000

struct gwt {
    struct td d;
    char keys[4][2][41]; /* clerk, agency, monitor, outsider: pub, sec */
    char password_hash[160];
    char token[80], token_hash[80];
    char gw_ini[400], gw_log[400];
    int port;
    pid_t gw;
    /* test_limits' gateway, kept here so teardown stops it when an
     * assertion ends that test first. */
    pid_t small_gw;
    char small_log[400];
    char base[64];
    char cookies[400];
};

enum { CLERK, AGENCY, MONITOR, OUTSIDER };
static const char *const key_names[] = {"clerk", "agency", "monitor",
                                        "outsider"};

/* ---- files and processes ---- */

static void write_file(const char *path, mode_t mode, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

/* Run povtrack-gw with args and stdin text; its stdout into out. */
static int run_gw_tool(const char *const *args, const char *in, char *out,
                       size_t cap)
{
    int pin[2], pout[2];
    assert_int_equal(pipe(pin), 0);
    assert_int_equal(pipe(pout), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(pin[0], 0);
        dup2(pout[1], 1);
        close(pin[1]);
        close(pout[0]);
        const char *argv[8] = {GW_BIN};
        for (int i = 0; args[i] != NULL && i < 6; i++)
            argv[i + 1] = args[i];
        execv(GW_BIN, (char *const *)argv);
        _exit(127);
    }
    close(pin[0]);
    close(pout[1]);
    if (in != NULL)
        assert_int_equal(write(pin[1], in, strlen(in)), (ssize_t)strlen(in));
    close(pin[1]);
    size_t n = 0;
    ssize_t r;
    while (n + 1 < cap && (r = read(pout[0], out + n, cap - 1 - n)) > 0)
        n += (size_t)r;
    out[n] = '\0';
    close(pout[0]);
    int status;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Write a gateway configuration with extra [gateway] lines. */
static void write_gw_ini(struct gwt *t, const char *path, int port,
                         const char *extra)
{
    char text[8192];
    snprintf(
        text, sizeof text,
        "[gateway]\nlisten = 127.0.0.1:%d\ndaemon_ingest = %s\n"
        "daemon_query = %s\ndaemon_alerts = %s\nserver_key = %s/server.key\n"
        "metrics_key = monitor.key\ndaemon_timeout = 3000\n%s\n"
        "[user.clerk]\npassword = %s\nkey = clerk.key\nlang = en\n\n"
        "[user.outsider]\npassword = %s\nkey = outsider.key\n\n"
        "[token.agency]\ntoken_hash = %s\nkey = agency.key\n",
        port, t->d.ingest, t->d.query, t->d.alerts, t->d.dir,
        extra != NULL ? extra : "", t->password_hash, t->password_hash,
        t->token_hash);
    write_file(path, 0644, text);
}

/* Start the gateway on ini and wait for its "ready" line. */
static pid_t start_gw(const char *ini, const char *log)
{
    /* The log exists before the wait watches it. */
    close(open(log, O_WRONLY | O_CREAT | O_APPEND, 0644));
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        dup2(fd, 2);
        execl(GW_BIN, GW_BIN, "--config", ini, (char *)NULL);
        _exit(127);
    }
    assert_true(td_wait_log(log, "povtrack-gw", "ready", 1, WAIT_MS) >= 1);
    return pid;
}

/* SIGTERM and wait: 0 when it exited 0 and its log holds no UBSan
 * report (an ASan one, leaks included, makes it exit otherwise), -1 after
 * printing its log. */
static int stop_gw(pid_t pid, const char *log)
{
    int status = -1;
    if (pid <= 0)
        return 0;
    kill(pid, SIGTERM);
    int exited = waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
                 WEXITSTATUS(status) == 0;
    char *text = td_read_file(log);
    if (exited && text != NULL && strstr(text, "runtime error") == NULL) {
        free(text);
        return 0;
    }
    fprintf(stderr, "povtrack-gw did not exit 0 (status %#x); its log:\n%s\n",
            status, text != NULL ? text : "(unreadable)");
    free(text);
    return -1;
}

/* ---- HTTP ---- */

struct resp {
    long status;
    char *body;
    size_t len;
    char headers[4096];
};

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    struct resp *r = arg;
    char *b = realloc(r->body, r->len + size * n + 1);
    assert_non_null(b);
    memcpy(b + r->len, p, size * n);
    r->len += size * n;
    b[r->len] = '\0';
    r->body = b;
    return size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
    struct resp *r = arg;
    strncat(r->headers, p, sizeof r->headers - strlen(r->headers) - 1);
    (void)size;
    return n * size;
}

/* One request; headers is NULL-terminated (may be NULL); body NULL: GET. */
static struct resp http(struct gwt *t, const char *method, const char *path,
                        const char *body, const char *const *headers)
{
    struct resp r = {0};
    char url[512];
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    assert_non_null(c);
    snprintf(url, sizeof url, "%s%s", t->base, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 60000L);
    curl_easy_setopt(c, CURLOPT_COOKIEFILE, t->cookies);
    curl_easy_setopt(c, CURLOPT_COOKIEJAR, t->cookies);
    if (body != NULL) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        h = curl_slist_append(h, "Content-Type: application/json");
    }
    for (size_t i = 0; headers != NULL && headers[i] != NULL; i++)
        h = curl_slist_append(h, headers[i]);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK)
        fail_msg("%s %s: %s", method, path, curl_easy_strerror(rc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    if (r.body == NULL)
        r.body = calloc(1, 1);
    return r;
}

/* http() on a gateway with connections_max = 1: the gateway counts a
 * connection until it has seen it close, which comes a moment after curl
 * has closed it, so the next request may find the previous one still
 * counted and be told "too many connections ...; try again" (503 with
 * Retry-After).  Do as it says, within a bound; any other answer is the
 * request's. */
static struct resp http_one_conn(struct gwt *t, const char *method,
                                 const char *path, const char *body,
                                 const char *const *headers)
{
    for (int i = 0;; i++) {
        struct resp r = http(t, method, path, body, headers);
        if (r.status != 503 || strstr(r.body, "connections_max") == NULL ||
            i == 250)
            return r;
        free(r.body);
        nanosleep(&(struct timespec){0, 20 * 1000 * 1000}, NULL);
    }
}

static json_t *json_of(const struct resp *r)
{
    json_error_t e;
    json_t *j = json_loads(r->body, 0, &e);
    if (j == NULL)
        fail_msg("not JSON (%s): %s", e.text, r->body);
    return j;
}

static void expect_status(const struct resp *r, long want)
{
    if (r->status != want)
        fail_msg("HTTP %ld, wanted %ld: %s", r->status, want, r->body);
}

static const char *bearer(struct gwt *t, char *buf, size_t cap)
{
    snprintf(buf, cap, "Authorization: Bearer %s", t->token);
    return buf;
}

static void csrf_header(struct gwt *t, char *buf, size_t cap)
{
    struct resp r = http(t, "GET", "/api/v1/session", NULL, NULL);
    expect_status(&r, 200);
    json_t *j = json_of(&r);
    snprintf(buf, cap, "X-CSRF-Token: %s",
             json_string_value(json_object_get(j, "csrf_token")));
    json_decref(j);
    free(r.body);
}

static void login(struct gwt *t, const char *user)
{
    char body[256];
    unlink(t->cookies);
    snprintf(body, sizeof body, "{\"user\":\"%s\",\"password\":\"s3cret pw\"}",
             user);
    struct resp r = http_one_conn(t, "POST", "/api/v1/login", body, NULL);
    expect_status(&r, 200);
    /* The cookie: HttpOnly, SameSite=Strict, and no Secure on plain
     * loopback (a browser would not send it back over http). */
    assert_non_null(strstr(r.headers, "HttpOnly"));
    assert_non_null(strstr(r.headers, "SameSite=Strict"));
    assert_null(strstr(r.headers, "Secure"));
    free(r.body);
}

/* The publisher the log stored with the event of id (the read op). */
static void stored_publisher(struct gwt *t, const char *id, char *out,
                             size_t cap)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_unpacked up;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    td_pack_cstr(&pk, "op");
    td_pack_cstr(&pk, "read");
    td_pack_cstr(&pk, "from");
    msgpack_pack_uint64(&pk, 1);
    td_pack_cstr(&pk, "limit");
    msgpack_pack_uint64(&pk, 10000);
    msgpack_unpacked_init(&up);
    assert_int_equal(td_request_raw(&t->d, sb.data, sb.size, &up, WAIT_MS), 0);
    const msgpack_object *recs = td_get(&up.data, "records");
    out[0] = '\0';
    for (uint32_t i = 0; recs != NULL && i < recs->via.array.size; i++) {
        const msgpack_object *rec = &recs->via.array.ptr[i];
        if (td_str_eq(td_get(td_get(rec, "event"), "id"), id))
            td_str_copy(td_get(rec, "publisher"), out, cap);
    }
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_destroy(&sb);
}

static uint64_t last_seq(struct gwt *t)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_unpacked up;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 1);
    td_pack_cstr(&pk, "op");
    td_pack_cstr(&pk, "stats");
    msgpack_unpacked_init(&up);
    assert_int_equal(td_request_raw(&t->d, sb.data, sb.size, &up, WAIT_MS), 0);
    uint64_t seq = td_get(&up.data, "last_seq")->via.u64;
    msgpack_unpacked_destroy(&up);
    msgpack_sbuffer_destroy(&sb);
    return seq;
}

/* ---- fixture ---- */

static int setup(void **state)
{
    struct gwt *t = calloc(1, sizeof *t);
    char registry[4096], path[400], out[4096];
    if (t == NULL || td_init(&t->d) != 0)
        return -1;
    for (int i = 0; i < 4; i++) {
        char text[200];
        zmq_curve_keypair(t->keys[i][0], t->keys[i][1]);
        snprintf(path, sizeof path, "%s/%s.key", t->d.dir, key_names[i]);
        snprintf(text, sizeof text, "public-key = %s\nsecret-key = %s\n",
                 t->keys[i][0], t->keys[i][1]);
        write_file(path, 0600, text);
    }
    /* The clerk of district 593's Front; an agency with every right; the
     * monitoring key; an outsider who may query only deadlines. */
    snprintf(registry, sizeof registry,
             "[mttq-593]\nkey = %s\npublish = donation.* fund.*\nunits = 593\n"
             "query = fund\nalerts = yes\n\n"
             "[so-ldtbxh]\nkey = %s\npublish = *\nunits = *\nquery = *\n"
             "alerts = yes\n\n"
             "[monitor]\nkey = %s\nquery = deadlines\n\n"
             "[outsider]\nkey = %s\nquery = deadlines\n",
             t->keys[CLERK][0], t->keys[AGENCY][0], t->keys[MONITOR][0],
             t->keys[OUTSIDER][0]);
    if (td_curve_setup(&t->d, registry, NULL) != 0 ||
        td_start(&t->d, (const char *[]){"-c", t->d.config, NULL}) != 0)
        return -1;
    /* The real --hash-password and --new-token. */
    if (run_gw_tool((const char *[]){"--hash-password", NULL}, "s3cret pw\n",
                    out, sizeof out) != 0 ||
        strncmp(out, "$argon2id$", 10) != 0)
        return -1;
    out[strcspn(out, "\n")] = '\0';
    snprintf(t->password_hash, sizeof t->password_hash, "%.159s", out);
    if (run_gw_tool((const char *[]){"--new-token", "agency", NULL}, NULL, out,
                    sizeof out) != 0 ||
        sscanf(out, "token: %79s", t->token) != 1 ||
        strstr(out, "token_hash = ") == NULL ||
        sscanf(strstr(out, "token_hash = "), "token_hash = %79s",
               t->token_hash) != 1)
        return -1;
    t->port = td_unused_port();
    snprintf(t->base, sizeof t->base, "http://127.0.0.1:%d", t->port);
    snprintf(t->gw_ini, sizeof t->gw_ini, "%s/gw.ini", t->d.dir);
    snprintf(t->gw_log, sizeof t->gw_log, "%s/gw.log", t->d.dir);
    snprintf(t->cookies, sizeof t->cookies, "%s/cookies.txt", t->d.dir);
    write_gw_ini(t, t->gw_ini, t->port, NULL);
    t->gw = start_gw(t->gw_ini, t->gw_log);
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    struct gwt *t = *state;
    if (t == NULL)
        return 0;
    int rc = stop_gw(t->gw, t->gw_log);
    if (stop_gw(t->small_gw, t->small_log) != 0)
        rc = -1;
    td_destroy(&t->d);
    free(t);
    return rc;
}

/* ---- the tests ---- */

static void test_public(void **state)
{
    struct gwt *t = *state;
    struct resp r = http(t, "GET", "/api/v1/health", NULL, NULL);
    expect_status(&r, 200);
    json_t *j = json_of(&r);
    assert_string_equal(json_string_value(json_object_get(j, "status")), "ok");
    json_decref(j);
    free(r.body);

    /* The OpenAPI document (valid JSON, OpenAPI 3) names every route the
     * gateway serves with the method it takes, and nothing else. */
    r = http(t, "GET", "/api/v1/openapi.json", NULL, NULL);
    expect_status(&r, 200);
    assert_non_null(strstr(r.headers, "application/json"));
    j = json_of(&r);
    assert_int_equal(
        strncmp(json_string_value(json_object_get(j, "openapi")), "3.", 2), 0);
    json_t *paths = json_object_get(j, "paths");
    static const struct {
        const char *path, *method;
    } routes[] = {
        {"/api/v1/login", "post"},         {"/api/v1/logout", "post"},
        {"/api/v1/session", "get"},        {"/api/v1/events", "post"},
        {"/api/v1/query/{plugin}", "get"}, {"/api/v1/units", "get"},
        {"/api/v1/alerts", "get"},         {"/api/v1/alerts/stream", "get"},
        {"/api/v1/report", "get"},         {"/api/v1/health", "get"},
        {"/api/v1/openapi.json", "get"},   {"/metrics", "get"},
        {"/api/v1/import", "post"}};
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        json_t *item = json_object_get(paths, routes[i].path);
        json_t *op = json_object_get(item, routes[i].method);
        if (op == NULL || json_object_get(op, "responses") == NULL)
            fail_msg("openapi.json has no %s %s with its responses",
                     routes[i].method, routes[i].path);
        /* The method the gateway takes and no other. */
        assert_int_equal(json_object_size(item), 1);
        /* The route exists: another method is 405, not 404. */
        char path[64];
        snprintf(path, sizeof path, "%s", routes[i].path);
        if (strstr(path, "{plugin}") != NULL)
            snprintf(path, sizeof path, "/api/v1/query/fund");
        struct resp wrong = http(t, "PUT", path, NULL, NULL);
        expect_status(&wrong, 405);
        free(wrong.body);
    }
    assert_int_equal(json_object_size(paths), sizeof routes / sizeof routes[0]);
    json_decref(j);
    free(r.body);

    /* The dashboard's files, with the security headers. */
    r = http(t, "GET", "/", NULL, NULL);
    expect_status(&r, 200);
    assert_non_null(strstr(r.headers, "Content-Security-Policy"));
    assert_non_null(strstr(r.headers, "X-Content-Type-Options: nosniff"));
    free(r.body);
    r = http(t, "GET", "/../gw.ini", NULL, NULL);
    assert_int_equal(r.status, 404);
    free(r.body);
    r = http(t, "GET", "/api/v1/nothing", NULL, NULL);
    expect_status(&r, 404);
    free(r.body);
    r = http(t, "DELETE", "/api/v1/events", NULL, NULL);
    expect_status(&r, 405);
    free(r.body);
}

static void test_unauthenticated(void **state)
{
    struct gwt *t = *state;
    unlink(t->cookies);
    struct resp r = http(t, "GET", "/api/v1/units", NULL, NULL);
    expect_status(&r, 401);
    json_t *j = json_of(&r);
    assert_int_equal(json_integer_value(
                         json_object_get(json_object_get(j, "error"), "code")),
                     401);
    json_decref(j);
    free(r.body);
    r = http(t, "GET", "/api/v1/units", NULL,
             (const char *[]){"Authorization: Bearer pvtk_0000", NULL});
    expect_status(&r, 401);
    free(r.body);
    r = http(t, "POST", "/api/v1/login",
             "{\"user\":\"clerk\",\"password\":\"wrong\"}", NULL);
    expect_status(&r, 401);
    free(r.body);
    r = http(t, "POST", "/api/v1/login",
             "{\"user\":\"nobody\",\"password\":\"s3cret pw\"}", NULL);
    expect_status(&r, 401);
    free(r.body);
}

/* The agency defines the units with its token: no CSRF for bearer tokens;
 * the log stores the agency's registry name. */
static void test_token_publishes(void **state)
{
    struct gwt *t = *state;
    char auth[200], who[80];
    struct resp r = http(
        t, "POST", "/api/v1/events",
        "[{\"v\":1,\"id\":\"u60\",\"type\":\"unit.defined\",\"at\":"
        "\"2021-01-01\",\"unit\":\"60\",\"data\":{\"name\":\"Bình Thuận\","
        "\"parent\":null,\"level\":\"province\"}},"
        "{\"v\":1,\"id\":\"u593\",\"type\":\"unit.defined\",\"at\":1609459200,"
        "\"unit\":\"593\",\"data\":{\"name\":\"Phan Thiết\",\"parent\":\"60\","
        "\"level\":\"district\"}}]",
        (const char *[]){bearer(t, auth, sizeof auth), NULL});
    expect_status(&r, 200);
    json_t *j = json_of(&r);
    assert_int_equal(json_integer_value(json_object_get(j, "imported")), 2);
    assert_int_equal(json_integer_value(json_object_get(j, "rejected")), 0);
    assert_false(json_is_true(json_object_get(j, "dry_run")));
    json_decref(j);
    free(r.body);
    stored_publisher(t, "u593", who, sizeof who);
    assert_string_equal(who, "so-ldtbxh");
    /* "2021-01-01" is 00:00 in Vietnam: 2020-12-31T17:00Z. */
    r = http(t, "GET", "/api/v1/units?at=2022-01-01", NULL,
             (const char *[]){bearer(t, auth, sizeof auth), NULL});
    expect_status(&r, 200);
    assert_non_null(strstr(r.body, "\"code\":\"60\""));
    free(r.body);
    r = http(t, "GET", "/api/v1/units?parent=60", NULL,
             (const char *[]){bearer(t, auth, sizeof auth), NULL});
    expect_status(&r, 200);
    assert_non_null(strstr(r.body, "Phan Thiết"));
    free(r.body);
}

/* A clerk's session: CSRF refused without the token, stored with it, the
 * stored publisher is the clerk's; rights, conflicts and bad input. */
static void test_session_publishes(void **state)
{
    struct gwt *t = *state;
    char csrf[120], who[80];
    const char *donation =
        "[{\"v\":1,\"id\":\"mttq-1\",\"type\":\"donation.received\",\"at\":"
        "\"2025-10-20T09:30\",\"unit\":\"593\",\"data\":{\"amount\":5000000,"
        "\"donor\":\"Công ty A\",\"donor_kind\":\"business\",\"level\":"
        "\"district\"}}]";

    login(t, "clerk");
    struct resp r = http(t, "POST", "/api/v1/events", donation, NULL);
    expect_status(&r, 403);
    assert_non_null(strstr(r.body, "csrf_token"));
    free(r.body);
    assert_int_equal(last_seq(t), 2);

    csrf_header(t, csrf, sizeof csrf);
    r = http(t, "POST", "/api/v1/events", donation,
             (const char *[]){csrf, NULL});
    expect_status(&r, 200);
    json_t *j = json_of(&r);
    json_t *ack = json_array_get(json_object_get(j, "acks"), 0);
    assert_string_equal(json_string_value(json_object_get(ack, "status")),
                        "ok");
    assert_int_equal(json_integer_value(json_object_get(ack, "seq")), 3);
    json_decref(j);
    free(r.body);
    stored_publisher(t, "mttq-1", who, sizeof who);
    assert_string_equal(who, "mttq-593");

    /* Again: a duplicate, 200. */
    r = http(t, "POST", "/api/v1/events", donation,
             (const char *[]){csrf, NULL});
    expect_status(&r, 200);
    assert_non_null(strstr(r.body, "\"duplicates\":1"));
    free(r.body);

    /* The same id with other content: 409 and a conflict naming id. */
    r = http(t, "POST", "/api/v1/events",
             "[{\"v\":1,\"id\":\"mttq-1\",\"type\":\"donation.received\","
             "\"at\":\"2025-10-20\",\"unit\":\"593\",\"data\":{\"amount\":7,"
             "\"donor\":\"B\",\"donor_kind\":\"person\",\"level\":"
             "\"district\"}}]",
             (const char *[]){csrf, NULL});
    expect_status(&r, 409);
    j = json_of(&r);
    json_t *c = json_array_get(json_object_get(j, "conflicts"), 0);
    assert_string_equal(json_string_value(json_object_get(c, "field")), "id");
    assert_int_equal(json_integer_value(json_object_get(c, "index")), 0);
    json_decref(j);
    free(r.body);

    /* Outside its rights: a type and a unit it may not publish, 403. */
    r = http(t, "POST", "/api/v1/events",
             "[{\"v\":1,\"id\":\"mttq-2\",\"type\":\"household.status\","
             "\"at\":\"2025-10-20\",\"unit\":\"593\",\"household\":\"h1\","
             "\"data\":{\"year\":2025,\"status\":\"poor\"}}]",
             (const char *[]){csrf, NULL});
    expect_status(&r, 403);
    assert_non_null(strstr(r.body, "may not publish household.status"));
    free(r.body);

    /* Invalid: 400, the field named; the valid one beside it is stored. */
    r = http(t, "POST", "/api/v1/events",
             "[{\"v\":1,\"id\":\"mttq-3\",\"type\":\"donation.received\","
             "\"at\":\"2025-10-21\",\"unit\":\"593\",\"data\":{\"amount\":-5,"
             "\"donor\":\"C\",\"donor_kind\":\"person\",\"level\":"
             "\"district\"}},"
             "{\"v\":1,\"id\":\"mttq-4\",\"type\":\"donation.received\","
             "\"at\":\"2025-10-21\",\"unit\":\"593\",\"data\":{\"amount\":9,"
             "\"donor\":\"D\",\"donor_kind\":\"person\",\"level\":"
             "\"district\"}}]",
             (const char *[]){csrf, NULL});
    expect_status(&r, 400);
    j = json_of(&r);
    c = json_array_get(json_object_get(j, "conflicts"), 0);
    assert_string_equal(json_string_value(json_object_get(c, "field")),
                        "data.amount");
    assert_int_equal(json_integer_value(json_object_get(j, "imported")), 1);
    json_decref(j);
    free(r.body);

    r = http(t, "POST", "/api/v1/events", "{not json",
             (const char *[]){csrf, NULL});
    expect_status(&r, 400);
    assert_non_null(strstr(r.body, "\"field\":\"body\""));
    free(r.body);
    /* A NUL in a string is said in words, not as jansson's flag. */
    r = http(t, "POST", "/api/v1/events", "[{\"id\":\"a\\u0000b\"}]",
             (const char *[]){csrf, NULL});
    expect_status(&r, 400);
    if (strstr(r.body, "the NUL character") == NULL ||
        strstr(r.body, "JSON_ALLOW_NUL") != NULL)
        fail_msg("NUL not said in words: %s", r.body);
    free(r.body);
}

/* dry_run: the daemon's validate op; nothing stored, later events see the
 * units earlier ones define. */
static void test_dry_run(void **state)
{
    struct gwt *t = *state;
    char auth[200];
    uint64_t before = last_seq(t);
    struct resp r = http(
        t, "POST", "/api/v1/events?dry_run=true",
        "[{\"v\":1,\"id\":\"u594\",\"type\":\"unit.defined\",\"at\":"
        "1609459200,\"unit\":\"594\",\"data\":{\"name\":\"La Gi\",\"parent\":"
        "\"60\",\"level\":\"district\"}},"
        "{\"v\":1,\"id\":\"dry-1\",\"type\":\"donation.received\",\"at\":"
        "\"2025-10-22\",\"unit\":\"594\",\"data\":{\"amount\":5,\"donor\":"
        "\"E\","
        "\"donor_kind\":\"person\",\"level\":\"district\"}},"
        "{\"v\":1,\"id\":\"dry-2\",\"type\":\"donation.received\",\"at\":"
        "\"2025-10-22\",\"unit\":\"595\",\"data\":{\"amount\":5,\"donor\":"
        "\"E\","
        "\"donor_kind\":\"person\",\"level\":\"district\"}},"
        "{\"v\":1,\"id\":\"mttq-1\",\"type\":\"donation.received\",\"at\":"
        "\"2025-10-20T09:30\",\"unit\":\"593\",\"data\":{\"amount\":5000000,"
        "\"donor\":\"Công ty A\",\"donor_kind\":\"business\",\"level\":"
        "\"district\"}}]",
        (const char *[]){bearer(t, auth, sizeof auth), NULL});
    expect_status(&r, 400);
    json_t *j = json_of(&r);
    assert_true(json_is_true(json_object_get(j, "dry_run")));
    assert_int_equal(json_integer_value(json_object_get(j, "imported")), 2);
    assert_int_equal(json_integer_value(json_object_get(j, "duplicates")), 1);
    assert_int_equal(json_integer_value(json_object_get(j, "rejected")), 1);
    json_t *acks = json_object_get(j, "acks");
    assert_int_equal(
        json_integer_value(json_object_get(json_array_get(acks, 1), "seq")), 0);
    assert_int_equal(
        json_integer_value(json_object_get(json_array_get(acks, 3), "seq")), 3);
    assert_non_null(strstr(r.body, "595 is not defined"));
    json_decref(j);
    free(r.body);
    assert_int_equal(last_seq(t), before);
    char who[80];
    stored_publisher(t, "dry-1", who, sizeof who);
    assert_string_equal(who, "");

    /* A flag the gateway cannot read is refused naming it, never taken for
     * "no": dry_run=maybe stores nothing.  TRUE is as true as true.  A type
     * no sheet can give is refused naming "type" (the importer's own
     * message speaks of --type and the body). */
    static const char one[] =
        "[{\"v\":1,\"id\":\"dry-3\",\"type\":\"donation.received\",\"at\":"
        "\"2025-10-22\",\"unit\":\"593\",\"data\":{\"amount\":5,\"donor\":"
        "\"E\",\"donor_kind\":\"person\",\"level\":\"district\"}}]";
    static const char csv[] = "Ngày,Họ và tên,Số tiền,Loại\n"
                              "22/10/2025,E,5,Cá nhân\n";
    static const struct {
        const char *path, *body, *field;
    } bad[] = {
        {"/api/v1/events?dry_run=maybe", one, "dry_run"},
        {"/api/v1/import?unit=593&dry_run=maybe", csv, "dry_run"},
        {"/api/v1/import?unit=593&dry_run=true&allow_duplicate_rows=2", csv,
         "allow_duplicate_rows"},
        {"/api/v1/import?unit=593&dry_run=true&type=donation", csv, "type"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r = http(t, "POST", bad[i].path, bad[i].body,
                 (const char *[]){bearer(t, auth, sizeof auth), NULL});
        expect_status(&r, 400);
        j = json_of(&r);
        json_t *e = json_object_get(j, "error");
        assert_string_equal(json_string_value(json_object_get(e, "field")),
                            bad[i].field);
        assert_non_null(strstr(json_string_value(json_object_get(e, "message")),
                               strcmp(bad[i].field, "type") == 0
                                   ? "not a type a spreadsheet can give"
                                   : "must be true or false"));
        json_decref(j);
        free(r.body);
    }
    /* A sheet refused whole names the column it lacks, not only how many. */
    r = http(t, "POST", "/api/v1/import?unit=593&dry_run=true",
             "Thời điểm,Họ và tên,Số tiền,Loại\n22/10/2025,E,5,Cá nhân\n",
             (const char *[]){bearer(t, auth, sizeof auth), NULL});
    expect_status(&r, 400);
    j = json_of(&r);
    const char *why = json_string_value(
        json_object_get(json_object_get(j, "error"), "message"));
    if (why == NULL || strstr(why, "date=\"Thời điểm\"") == NULL)
        fail_msg("no column named: %s", r.body);
    json_decref(j);
    free(r.body);
    r = http(t, "POST", "/api/v1/events?dry_run=TRUE", one,
             (const char *[]){bearer(t, auth, sizeof auth), NULL});
    expect_status(&r, 200);
    j = json_of(&r);
    assert_true(json_is_true(json_object_get(j, "dry_run")));
    json_decref(j);
    free(r.body);
    assert_int_equal(last_seq(t), before);
    stored_publisher(t, "dry-3", who, sizeof who);
    assert_string_equal(who, "");
}

/* Queries with typed parameters, read-your-writes, rights refused with the
 * daemon's message, alerts, the report in three formats. */
static void test_reads(void **state)
{
    struct gwt *t = *state;
    char auth[200];
    login(t, "clerk");
    struct resp r =
        http(t, "GET", "/api/v1/query/fund?unit=593&year=2025&min_seq=4", NULL,
             NULL);
    expect_status(&r, 200);
    json_t *j = json_of(&r);
    json_t *res = json_object_get(j, "result");
    assert_int_equal(json_integer_value(json_object_get(res, "received")),
                     5000009);
    assert_true(json_integer_value(json_object_get(j, "applied_seq")) >= 4);
    json_decref(j);
    free(r.body);

    /* A plugin's refusal ("fund: as_of: must be ...") names the query's
     * parameter, not the plugin. */
    r = http(t, "GET", "/api/v1/query/fund?unit=593&year=2025&as_of=2025-12-31",
             NULL, NULL);
    expect_status(&r, 400);
    assert_non_null(strstr(r.body, "\"field\":\"as_of\""));
    free(r.body);

    r = http(t, "GET", "/api/v1/query/poverty?unit=593&year=2025", NULL, NULL);
    expect_status(&r, 403);
    assert_non_null(strstr(r.body, "may not query plugin poverty"));
    assert_non_null(strstr(r.body, "\"field\":\"plugin\""));
    free(r.body);
    r = http(t, "GET", "/api/v1/query/nosuch?unit=593", NULL,
             (const char *[]){bearer(t, auth, sizeof auth), NULL});
    expect_status(&r, 404);
    free(r.body);

    r = http(t, "GET", "/api/v1/alerts?since=0&limit=100", NULL, NULL);
    expect_status(&r, 200);
    j = json_of(&r);
    assert_true(json_is_array(json_object_get(j, "alerts")));
    assert_true(json_integer_value(json_object_get(j, "next_since")) >= 0);
    json_decref(j);
    free(r.body);
    /* A severity povtrackd never gives would match nothing and look like
     * no alert at all: refused, naming the field. */
    static const char *const sev[] = {"/api/v1/alerts?severity=warn",
                                      "/api/v1/alerts/stream?severity=warn"};
    for (size_t i = 0; i < 2; i++) {
        r = http(t, "GET", sev[i], NULL, NULL);
        expect_status(&r, 400);
        assert_non_null(strstr(r.body, "\"field\":\"severity\""));
        assert_non_null(strstr(r.body, "must be info, warning or critical"));
        free(r.body);
    }
    r = http(t, "GET", "/api/v1/alerts?severity=warning", NULL, NULL);
    expect_status(&r, 200);
    free(r.body);

    static const struct {
        const char *format, *type, *text;
    } fmts[] = {{"html", "text/html", "<svg"},
                {"csv", "text/csv", "593"},
                {"md", "text/markdown", "| 593 |"}};
    for (size_t i = 0; i < 3; i++) {
        char path[128];
        snprintf(path, sizeof path,
                 "/api/v1/report?unit=60&year=2025&format=%s&lang=en",
                 fmts[i].format);
        r = http(t, "GET", path, NULL,
                 (const char *[]){bearer(t, auth, sizeof auth), NULL});
        expect_status(&r, 200);
        assert_non_null(strstr(r.headers, fmts[i].type));
        if (strstr(r.body, fmts[i].text) == NULL)
            fail_msg("%s report without %s: %s", fmts[i].format, fmts[i].text,
                     r.body);
        free(r.body);
    }
    r = http(t, "GET", "/api/v1/report?unit=61&year=2025", NULL,
             (const char *[]){bearer(t, auth, sizeof auth), NULL});
    expect_status(&r, 404);
    free(r.body);
    r = http(t, "GET", "/api/v1/report?unit=60", NULL,
             (const char *[]){bearer(t, auth, sizeof auth), NULL});
    expect_status(&r, 400);
    free(r.body);
    /* The outsider may query nothing of the report's plugins: 403. */
    login(t, "outsider");
    r = http(t, "GET", "/api/v1/report?unit=60&year=2025", NULL, NULL);
    expect_status(&r, 403);
    free(r.body);
    r = http(t, "GET", "/api/v1/alerts/stream", NULL, NULL);
    expect_status(&r, 403);
    assert_non_null(strstr(r.body, "alerts = yes"));
    free(r.body);
}

/* ---- the alert stream ---- */

struct sse {
    struct gwt *t;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    char got[65536];
    size_t len;
    int connected, done;
    long status;
};

static size_t on_sse(char *p, size_t size, size_t n, void *arg)
{
    struct sse *s = arg;
    pthread_mutex_lock(&s->lock);
    size_t k = size * n < sizeof s->got - 1 - s->len
                   ? size * n
                   : sizeof s->got - 1 - s->len;
    memcpy(s->got + s->len, p, k);
    s->len += k;
    s->got[s->len] = '\0';
    s->connected = 1;
    int stop = strstr(s->got, "fund.large_donation") != NULL;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
    return stop ? 0 : size * n; /* 0 ends the transfer */
}

static void *sse_thread(void *arg)
{
    struct sse *s = arg;
    char auth[200], url[128];
    CURL *c = curl_easy_init();
    struct curl_slist *h =
        curl_slist_append(NULL, bearer(s->t, auth, sizeof auth));
    snprintf(url, sizeof url, "%s/api/v1/alerts/stream?code=fund.", s->t->base);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_sse);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)WAIT_MS);
    curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &s->status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    pthread_mutex_lock(&s->lock);
    s->done = 1;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

/* A donation POSTed while the stream is open raises fund.large_donation,
 * which the stream delivers without a reload. */
static void test_sse(void **state)
{
    struct gwt *t = *state;
    struct sse s = {.t = t};
    pthread_t th;
    char csrf[120];
    pthread_mutex_init(&s.lock, NULL);
    pthread_cond_init(&s.cond, NULL);
    assert_int_equal(pthread_create(&th, NULL, sse_thread, &s), 0);
    /* Connected: the first bytes ("retry:") come after the subscription. */
    pthread_mutex_lock(&s.lock);
    while (!s.connected && !s.done)
        pthread_cond_wait(&s.cond, &s.lock);
    pthread_mutex_unlock(&s.lock);
    assert_non_null(strstr(s.got, "retry:"));

    login(t, "clerk");
    csrf_header(t, csrf, sizeof csrf);
    struct resp r = http(
        t, "POST", "/api/v1/events",
        "[{\"v\":1,\"id\":\"mttq-big\",\"type\":\"donation.received\",\"at\":"
        "\"2025-10-25\",\"unit\":\"593\",\"data\":{\"amount\":200000000,"
        "\"donor\":\"Công ty B\",\"donor_kind\":\"business\",\"level\":"
        "\"district\"}}]",
        (const char *[]){csrf, NULL});
    expect_status(&r, 200);
    free(r.body);
    pthread_join(th, NULL);
    if (strstr(s.got, "fund.large_donation") == NULL)
        fail_msg("no alert on the stream (HTTP %ld): %s", s.status, s.got);
    assert_non_null(strstr(s.got, "event: alert"));
    assert_non_null(strstr(s.got, "id: "));
    assert_non_null(strstr(s.got, "Công ty B"));
    pthread_cond_destroy(&s.cond);
    pthread_mutex_destroy(&s.lock);
}

/* /metrics parsed by a real parser (python3-prometheus-client). */
static void test_metrics(void **state)
{
    struct gwt *t = *state;
    char path[400], cmd[1200];
    struct resp r = http(t, "GET", "/metrics", NULL, NULL);
    expect_status(&r, 200);
    assert_non_null(strstr(r.headers, "text/plain; version=0.0.4"));
    snprintf(path, sizeof path, "%s/metrics.txt", t->d.dir);
    write_file(path, 0644, r.body);
    free(r.body);
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 %s/tests/integration/"
             "gw_metrics_check.py %s",
             POVTRACK_SOURCE_DIR, path);
    int rc = system(cmd);
    assert_true(WIFEXITED(rc));
    assert_int_equal(WEXITSTATUS(rc), 0);
}

/* Small limits on a gateway of their own: 413, 429 with Retry-After, the
 * connection limit; and logout. */
static void test_limits(void **state)
{
    struct gwt *t = *state;
    struct gwt small = *t;
    char ini[400], log[400], auth[200], big[4096];
    small.port = td_unused_port();
    snprintf(small.base, sizeof small.base, "http://127.0.0.1:%d", small.port);
    snprintf(ini, sizeof ini, "%s/gw-small.ini", t->d.dir);
    snprintf(log, sizeof log, "%s/gw-small.log", t->d.dir);
    snprintf(t->small_log, sizeof t->small_log, "%s", log);
    write_gw_ini(t, ini, small.port,
                 "body_max = 1024\nrequests_per_minute = 3\n"
                 "connections_max = 1\n");
    small.gw = t->small_gw = start_gw(ini, log);

    memset(big, ' ', sizeof big - 1);
    big[0] = '[';
    big[sizeof big - 2] = ']';
    big[sizeof big - 1] = '\0';
    struct resp r =
        http_one_conn(&small, "POST", "/api/v1/events", big,
                      (const char *[]){bearer(t, auth, sizeof auth), NULL});
    expect_status(&r, 413);
    assert_non_null(strstr(r.body, "body_max"));
    free(r.body);
    /* 3 a minute for the clerk (the 413 was answered before anyone was
     * asked for: it took none). */
    login(&small, "clerk");
    for (int i = 0; i < 3; i++) {
        r = http_one_conn(&small, "GET", "/api/v1/session", NULL, NULL);
        expect_status(&r, 200);
        free(r.body);
    }
    r = http_one_conn(&small, "GET", "/api/v1/session", NULL, NULL);
    expect_status(&r, 429);
    assert_non_null(strstr(r.headers, "Retry-After: "));
    assert_non_null(strstr(r.body, "requests_per_minute"));
    free(r.body);

    /* One connection held open by an alert stream (the agency's own
     * bucket): another is refused. */
    struct sse s;
    pthread_t th;
    for (int i = 0;; i++) {
        /* As http_one_conn: the stream too may find the last request's
         * connection still counted, and is then told to try again. */
        memset(&s, 0, sizeof s);
        s.t = &small;
        pthread_mutex_init(&s.lock, NULL);
        pthread_cond_init(&s.cond, NULL);
        pthread_create(&th, NULL, sse_thread, &s);
        pthread_mutex_lock(&s.lock);
        while (!s.connected && !s.done)
            pthread_cond_wait(&s.cond, &s.lock);
        pthread_mutex_unlock(&s.lock);
        if (s.connected)
            break;
        pthread_join(th, NULL);
        pthread_cond_destroy(&s.cond);
        pthread_mutex_destroy(&s.lock);
        if (s.status != 503 || i == 250)
            fail_msg("the alert stream was answered %ld", s.status);
        nanosleep(&(struct timespec){0, 20 * 1000 * 1000}, NULL);
    }
    assert_non_null(strstr(s.got, "retry:"));
    r = http(&small, "GET", "/api/v1/health", NULL, NULL);
    expect_status(&r, 503);
    assert_non_null(strstr(r.body, "connections_max"));
    free(r.body);
    t->small_gw = 0;
    assert_int_equal(stop_gw(small.gw, log), 0); /* ends the stream */
    pthread_join(th, NULL);
    pthread_cond_destroy(&s.cond);
    pthread_mutex_destroy(&s.lock);

    /* Logout ends the session on the main gateway. */
    char csrf[120];
    login(t, "clerk");
    csrf_header(t, csrf, sizeof csrf);
    r = http(t, "POST", "/api/v1/logout", "{}", (const char *[]){csrf, NULL});
    expect_status(&r, 200);
    free(r.body);
    r = http(t, "GET", "/api/v1/session", NULL, NULL);
    expect_status(&r, 401);
    free(r.body);
}

/* Plain HTTP on an address other than loopback: refused at start. */
static void test_tls_required(void **state)
{
    struct gwt *t = *state;
    char ini[400], text[4096], out[4096];
    snprintf(ini, sizeof ini, "%s/gw-open.ini", t->d.dir);
    write_gw_ini(t, ini, td_unused_port(), NULL);
    char *cfg = td_read_file(ini);
    assert_non_null(cfg);
    char *at = strstr(cfg, "127.0.0.1:");
    assert_non_null(at);
    snprintf(text, sizeof text, "%.*s0.0.0.0:%s", (int)(at - cfg), cfg,
             at + 10);
    free(cfg);
    write_file(ini, 0644, text);
    int rc = td_run_to_exit((const char *[]){GW_BIN, "--config", ini, NULL},
                            out, sizeof out, WAIT_MS);
    assert_int_equal(rc, 78);
    assert_non_null(strstr(out, "is not a loopback address"));
    assert_non_null(strstr(out, "tls_cert"));

    /* A port out of range is a configuration error, not another port
     * (getaddrinfo alone keeps 99999's low 16 bits). */
    write_gw_ini(t, ini, 99999, NULL);
    rc = td_run_to_exit(
        (const char *[]){GW_BIN, "--check", "--config", ini, NULL}, out,
        sizeof out, WAIT_MS);
    if (rc != 78 ||
        strstr(out, "port must be a number from 0 to 65535") == NULL)
        fail_msg("listen = 127.0.0.1:99999: exit %d: %s", rc, out);
}

/* povtrackd gone: health and queries answer 503 with Retry-After. */
static void test_daemon_unreachable(void **state)
{
    struct gwt *t = *state;
    char auth[200];
    assert_int_equal(td_stop(&t->d), 0);
    struct resp r = http(t, "GET", "/api/v1/health", NULL, NULL);
    expect_status(&r, 503);
    assert_non_null(strstr(r.headers, "Retry-After: "));
    free(r.body);
    r = http(t, "GET", "/api/v1/query/fund?unit=593", NULL,
             (const char *[]){bearer(t, auth, sizeof auth), NULL});
    expect_status(&r, 503);
    free(r.body);
    r = http(t, "GET", "/metrics", NULL, NULL);
    expect_status(&r, 200);
    assert_non_null(strstr(r.body, "povtrack_up 0"));
    free(r.body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_public),
        cmocka_unit_test(test_unauthenticated),
        cmocka_unit_test(test_token_publishes),
        cmocka_unit_test(test_session_publishes),
        cmocka_unit_test(test_dry_run),
        cmocka_unit_test(test_reads),
        cmocka_unit_test(test_sse),
        cmocka_unit_test(test_metrics),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_tls_required),
        cmocka_unit_test(test_daemon_unreachable),
    };
    curl_global_init(CURL_GLOBAL_ALL);
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    curl_global_cleanup();
    return rc;
}
