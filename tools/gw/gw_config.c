/*
 * gw_config.c - see gw_config.h.
 */
#include "gw_config.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ini.h>

#include "pt_log.h"

/* What the parse collects before the key files are read. */
struct parse {
    struct gw_config *cfg;
    char dir[PATH_MAX]; /* the file's directory, for relative paths */
    char server_key_arg[PATH_MAX];
    char metrics_key_file[PATH_MAX];
    char (*key_files)[PATH_MAX]; /* per identity */
    size_t cap;
    char *err;
    size_t errlen;
    int failed;
};

static int fail(struct parse *p, const char *section, const char *key,
                const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int fail(struct parse *p, const char *section, const char *key,
                const char *fmt, ...)
{
    if (!p->failed) {
        char why[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, sizeof why, fmt, ap);
        va_end(ap);
        snprintf(p->err, p->errlen, "%s: [%s]%s%s%s", p->cfg->path, section,
                 key ? " " : "", key ? key : "", why);
        p->failed = 1;
    }
    return 0; /* inih: stop */
}

/* A path as the file gives it: relative ones next to the file. */
static int set_path(struct parse *p, char *out, const char *value,
                    const char *section, const char *key)
{
    int n = value[0] == '/' || p->dir[0] == '\0'
                ? snprintf(out, PATH_MAX, "%s", value)
                : snprintf(out, PATH_MAX, "%s/%s", p->dir, value);
    if (n <= 0 || n >= PATH_MAX)
        return fail(p, section, key, ": path too long");
    return 1;
}

static int set_uint(struct parse *p, const char *section, const char *key,
                    const char *value, unsigned long long min,
                    unsigned long long max, unsigned long long *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(value, &end, 10);
    if (errno != 0 || end == value || *end != '\0' || value[0] == '-' ||
        v < min || v > max)
        return fail(p, section, key, ": must be an integer from %llu to %llu",
                    min, max);
    *out = v;
    return 1;
}

static int set_bool(struct parse *p, const char *section, const char *key,
                    const char *value, bool *out)
{
    if (strcasecmp(value, "yes") == 0 || strcasecmp(value, "true") == 0 ||
        strcmp(value, "1") == 0)
        *out = true;
    else if (strcasecmp(value, "no") == 0 || strcasecmp(value, "false") == 0 ||
             strcmp(value, "0") == 0)
        *out = false;
    else
        return fail(p, section, key, ": must be yes or no");
    return 1;
}

static int set_str(struct parse *p, const char *section, const char *key,
                   const char *value, char *out, size_t cap)
{
    if (strlen(value) >= cap)
        return fail(p, section, key, ": longer than %zu bytes", cap - 1);
    memcpy(out, value, strlen(value) + 1);
    return 1;
}

static int gateway_key(struct parse *p, const char *key, const char *value)
{
    struct gw_config *c = p->cfg;
    const char *s = "gateway";
    /* Set by set_uint; initialised for gcc -O2, which cannot see that. */
    unsigned long long v = 0;
    int rc;

    if (strcmp(key, "listen") == 0)
        return set_str(p, s, key, value, c->listen, sizeof c->listen);
    if (strcmp(key, "tls_cert") == 0)
        return set_path(p, c->tls_cert, value, s, key);
    if (strcmp(key, "tls_key") == 0)
        return set_path(p, c->tls_key, value, s, key);
    if (strcmp(key, "behind_tls_proxy") == 0)
        return set_bool(p, s, key, value, &c->behind_tls_proxy);
    if (strcmp(key, "daemon_ingest") == 0)
        return set_str(p, s, key, value, c->ingest, sizeof c->ingest);
    if (strcmp(key, "daemon_query") == 0)
        return set_str(p, s, key, value, c->query, sizeof c->query);
    if (strcmp(key, "daemon_alerts") == 0)
        return set_str(p, s, key, value, c->alerts, sizeof c->alerts);
    if (strcmp(key, "server_key") == 0)
        return set_path(p, p->server_key_arg, value, s, key);
    if (strcmp(key, "www_dir") == 0)
        return set_path(p, c->www_dir, value, s, key);
    if (strcmp(key, "metrics_key") == 0)
        return set_path(p, p->metrics_key_file, value, s, key);
    if (strcmp(key, "metrics_public") == 0)
        return set_bool(p, s, key, value, &c->metrics_public);
    if (strcmp(key, "log_level") == 0) {
        rc = pt_log_level_parse(value);
        if (rc < 0)
            return fail(p, s, key, ": debug, info, warn or error");
        c->log_level = rc;
        return 1;
    }
    static const struct {
        const char *name;
        unsigned long long min, max;
    } nums[] = {
        {"daemon_timeout", 100, 600000},     {"body_max", 1024, 64ull << 20},
        {"requests_per_minute", 1, 1000000}, {"login_per_minute", 1, 10000},
        {"connections_max", 1, 10000},       {"session_hours", 1, 24 * 365}};
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
        if (strcmp(key, nums[i].name) != 0)
            continue;
        if (!set_uint(p, s, key, value, nums[i].min, nums[i].max, &v))
            return 0;
        switch (i) {
        case 0:
            c->daemon_timeout_ms = (int)v;
            break;
        case 1:
            c->body_max = (size_t)v;
            break;
        case 2:
            c->requests_per_minute = (unsigned)v;
            break;
        case 3:
            c->login_per_minute = (unsigned)v;
            break;
        case 4:
            c->connections_max = (unsigned)v;
            break;
        default:
            c->session_hours = (unsigned)v;
            break;
        }
        return 1;
    }
    return fail(p, s, key,
                ": unknown key (known: listen, tls_cert, tls_key, "
                "behind_tls_proxy, daemon_ingest, daemon_query, "
                "daemon_alerts, server_key, daemon_timeout, www_dir, "
                "body_max, requests_per_minute, login_per_minute, "
                "connections_max, session_hours, metrics_key, "
                "metrics_public, log_level)");
}

/* The identity of section [user.NAME] / [token.NAME], made on its first
 * key. */
static struct gw_identity *identity(struct parse *p, const char *section,
                                    const char *name, bool is_token)
{
    struct gw_config *c = p->cfg;
    for (size_t i = 0; i < c->nids; i++)
        if (c->ids[i].is_token == is_token && strcmp(c->ids[i].name, name) == 0)
            return &c->ids[i];
    if (name[0] == '\0' || strlen(name) > GW_NAME_MAX ||
        strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                     "0123456789._-@") != strlen(name)) {
        fail(p, section, NULL,
             ": the name must be 1 to %d of A-Z a-z 0-9 . _ - @", GW_NAME_MAX);
        return NULL;
    }
    if (c->nids == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 8;
        struct gw_identity *ids = realloc(c->ids, cap * sizeof *ids);
        char(*files)[PATH_MAX] = realloc(p->key_files, cap * sizeof *files);
        if (ids != NULL)
            c->ids = ids;
        if (files != NULL)
            p->key_files = files;
        if (ids == NULL || files == NULL) {
            fail(p, section, NULL, ": out of memory");
            return NULL;
        }
        p->cap = cap;
    }
    struct gw_identity *id = &c->ids[c->nids];
    memset(id, 0, sizeof *id);
    snprintf(id->name, sizeof id->name, "%s", name);
    id->is_token = is_token;
    id->slot = c->nids;
    p->key_files[c->nids][0] = '\0';
    c->nids++;
    return id;
}

static int hex_decode(const char *hex, unsigned char *out, size_t n)
{
    if (strlen(hex) != 2 * n)
        return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1 ||
            strchr("0123456789abcdefABCDEF", hex[2 * i]) == NULL ||
            strchr("0123456789abcdefABCDEF", hex[2 * i + 1]) == NULL)
            return -1;
        out[i] = (unsigned char)v;
    }
    return 0;
}

static int identity_key(struct parse *p, const char *section, const char *key,
                        const char *value)
{
    bool is_token = strncmp(section, "token.", 6) == 0;
    struct gw_identity *id =
        identity(p, section, section + (is_token ? 6 : 5), is_token);
    if (id == NULL)
        return 0;
    if (strcmp(key, "key") == 0)
        return set_path(p, p->key_files[id->slot], value, section, key);
    if (!is_token && strcmp(key, "password") == 0) {
        if (strncmp(value, "$argon2id$", 10) != 0)
            return fail(p, section, key,
                        ": must be an Argon2id hash (povtrack-gw "
                        "--hash-password), never the password itself");
        return set_str(p, section, key, value, id->password_hash,
                       sizeof id->password_hash);
    }
    if (!is_token && strcmp(key, "lang") == 0) {
        if (strcmp(value, "vi") == 0)
            id->lang = GW_LANG_VI;
        else if (strcmp(value, "en") == 0)
            id->lang = GW_LANG_EN;
        else
            return fail(p, section, key, ": vi or en");
        return 1;
    }
    if (is_token && strcmp(key, "token_hash") == 0) {
        if (hex_decode(value, id->token_hash, sizeof id->token_hash) != 0)
            return fail(p, section, key,
                        ": must be 64 hex digits (povtrack-gw --new-token)");
        return 1;
    }
    return fail(p, section, key, ": unknown key (known: %s)",
                is_token ? "token_hash, key" : "password, key, lang");
}

static int on_key(void *arg, const char *section, const char *key,
                  const char *value)
{
    struct parse *p = arg;
    if (p->failed)
        return 0;
    if (strcmp(section, "gateway") == 0)
        return gateway_key(p, key, value);
    if (strncmp(section, "user.", 5) == 0 || strncmp(section, "token.", 6) == 0)
        return identity_key(p, section, key, value);
    return fail(p, section, NULL,
                ": unknown section (known: [gateway], [user.NAME], "
                "[token.NAME])");
}

int gw_config_listen(struct gw_config *cfg, const char *listen, char *err,
                     size_t errlen)
{
    char host[GW_ENDPOINT_MAX];
    const char *colon = strrchr(listen, ':');
    if (colon == NULL || colon == listen || colon[1] == '\0' ||
        (size_t)(colon - listen) >= sizeof host) {
        snprintf(err, errlen, "listen: \"%s\" is not host:port", listen);
        return POVTRACK_EINVALID;
    }
    /* getaddrinfo takes "99999" and keeps its low 16 bits (34463): a
     * typo would listen somewhere else without a word. */
    const char *port = colon + 1;
    size_t digits = strspn(port, "0123456789");
    if (port[digits] != '\0' || digits > 5 || strtol(port, NULL, 10) > 65535) {
        snprintf(err, errlen,
                 "listen: \"%s\": the port must be a number from 0 to 65535",
                 listen);
        return POVTRACK_EINVALID;
    }
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';
    if (host[0] == '[' && host[strlen(host) - 1] == ']') {
        memmove(host, host + 1, strlen(host));
        host[strlen(host) - 1] = '\0';
    }
    struct addrinfo hints = {.ai_flags = AI_NUMERICSERV,
                             .ai_socktype = SOCK_STREAM},
                    *res;
    int rc = getaddrinfo(host, colon + 1, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "listen: %s: %s", listen, gai_strerror(rc));
        return POVTRACK_EINVALID;
    }
    memcpy(&cfg->addr, res->ai_addr, res->ai_addrlen);
    cfg->addrlen = res->ai_addrlen;
    freeaddrinfo(res);
    if (cfg->addr.ss_family == AF_INET) {
        const struct sockaddr_in *a = (const void *)&cfg->addr;
        cfg->loopback = (ntohl(a->sin_addr.s_addr) >> 24) == 127;
    } else {
        const struct sockaddr_in6 *a = (const void *)&cfg->addr;
        cfg->loopback = IN6_IS_ADDR_LOOPBACK(&a->sin6_addr);
    }
    return 0;
}

static void defaults(struct gw_config *c, const char *path,
                     const char *www_default)
{
    memset(c, 0, sizeof *c);
    snprintf(c->path, sizeof c->path, "%s", path);
    snprintf(c->listen, sizeof c->listen, "127.0.0.1:8080");
    snprintf(c->ingest, sizeof c->ingest, "%s", POVTRACK_PROTO_INGEST_DEFAULT);
    snprintf(c->query, sizeof c->query, "%s", POVTRACK_PROTO_QUERY_DEFAULT);
    snprintf(c->alerts, sizeof c->alerts, "%s", POVTRACK_PROTO_ALERTS_DEFAULT);
    snprintf(c->www_dir, sizeof c->www_dir, "%s", www_default);
    c->daemon_timeout_ms = POVTRACK_CLIENT_TIMEOUT_DEFAULT;
    c->body_max = 4u << 20;
    c->requests_per_minute = 600;
    c->login_per_minute = 10;
    c->connections_max = 64;
    c->session_hours = 8;
    c->metrics_public = true;
    c->log_level = PT_LOG_INFO;
    snprintf(c->metrics.name, sizeof c->metrics.name, "metrics");
}

/* Read an identity's key pair; 0 or the error in err. */
static int read_key(const char *file, struct gw_identity *id,
                    const char *section, const char *cfgpath, char *err,
                    size_t errlen)
{
    char why[512];
    if (file[0] == '\0') {
        snprintf(err, errlen,
                 "%s: [%s] key: required (the publisher's .key "
                 "file, from povtrack keygen)",
                 cfgpath, section);
        return POVTRACK_ECONFIG;
    }
    if (povtrack_client_read_keyfile(file, id->public_key, id->secret_key, why,
                                     sizeof why) != 0) {
        snprintf(err, errlen, "%s: [%s] key: %s", cfgpath, section, why);
        return POVTRACK_ECONFIG;
    }
    return 0;
}

int gw_config_load(const char *path, const char *www_default,
                   struct gw_config *cfg, char *err, size_t errlen)
{
    struct parse p = {.cfg = cfg, .err = err, .errlen = errlen};
    defaults(cfg, path, www_default);
    const char *slash = strrchr(path, '/');
    if (slash != NULL)
        snprintf(p.dir, sizeof p.dir, "%.*s", (int)(slash - path), path);
    else
        snprintf(p.dir, sizeof p.dir, ".");
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        int rc = -errno;
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return rc;
    }
    int line = ini_parse_file(f, on_key, &p);
    fclose(f);
    int rc = POVTRACK_ECONFIG;
    char why[512];
    if (p.failed) {
        /* err is set */
    } else if (line != 0) {
        snprintf(err, errlen, "%s:%d: not an INI line", path, line);
    } else if (gw_config_listen(cfg, cfg->listen, why, sizeof why) != 0) {
        snprintf(err, errlen, "%s: [gateway] %s", path, why);
    } else if ((cfg->tls_cert[0] != '\0') != (cfg->tls_key[0] != '\0')) {
        snprintf(err, errlen,
                 "%s: [gateway] tls_cert and tls_key: give both "
                 "or neither",
                 path);
    } else if (!cfg->loopback && cfg->tls_cert[0] == '\0' &&
               !cfg->behind_tls_proxy) {
        snprintf(err, errlen,
                 "%s: [gateway] listen = %s is not a loopback address: "
                 "passwords and session cookies would cross the network in "
                 "clear.  Give tls_cert and tls_key (HTTPS), or say "
                 "behind_tls_proxy = yes when a TLS reverse proxy fronts the "
                 "gateway, or listen on 127.0.0.1",
                 path, cfg->listen);
    } else if (p.server_key_arg[0] == '\0') {
        snprintf(err, errlen,
                 "%s: [gateway] server_key: required (povtrackd's "
                 "public key: its .pub file)",
                 path);
    } else if (povtrack_client_read_server_key(
                   p.server_key_arg, cfg->server_key, why, sizeof why) != 0) {
        snprintf(err, errlen, "%s: [gateway] server_key: %s", path, why);
    } else if (p.metrics_key_file[0] == '\0') {
        snprintf(err, errlen,
                 "%s: [gateway] metrics_key: required (a key "
                 "file whose publisher may query: /metrics and "
                 "/api/v1/health read the daemon's stats with it)",
                 path);
    } else if (read_key(p.metrics_key_file, &cfg->metrics, "gateway", path, err,
                        errlen) == 0) {
        rc = 0;
        for (size_t i = 0; rc == 0 && i < cfg->nids; i++) {
            struct gw_identity *id = &cfg->ids[i];
            char section[GW_NAME_MAX + 8];
            snprintf(section, sizeof section, "%s.%s",
                     id->is_token ? "token" : "user", id->name);
            rc = read_key(p.key_files[i], id, section, path, err, errlen);
            if (rc == 0 && !id->is_token && id->password_hash[0] == '\0') {
                snprintf(err, errlen, "%s: [%s] password: required", path,
                         section);
                rc = POVTRACK_ECONFIG;
            }
            static const unsigned char zero[GW_TOKEN_HASH_BYTES];
            if (rc == 0 && id->is_token &&
                memcmp(id->token_hash, zero, sizeof zero) == 0) {
                snprintf(err, errlen, "%s: [%s] token_hash: required", path,
                         section);
                rc = POVTRACK_ECONFIG;
            }
        }
    }
    free(p.key_files);
    if (rc != 0)
        gw_config_free(cfg);
    return rc;
}

void gw_config_free(struct gw_config *cfg)
{
    for (size_t i = 0; i < cfg->nids; i++)
        memset(cfg->ids[i].secret_key, 0, sizeof cfg->ids[i].secret_key);
    memset(cfg->metrics.secret_key, 0, sizeof cfg->metrics.secret_key);
    free(cfg->ids);
    cfg->ids = NULL;
    cfg->nids = 0;
}
