#include "pt_config.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ini.h>

#include "ev_event.h"

#include "pt_log.h"

/* Copy src into dst of size cap; refuse rather than truncate. */
static int copy_str(char *dst, size_t cap, const char *src)
{
    size_t len = strlen(src);
    if (len >= cap)
        return POVTRACK_ENAMETOOLONG;
    memcpy(dst, src, len + 1);
    return 0;
}

int pt_config_defaults(struct pt_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    strcpy(cfg->data_dir, PT_DEFAULT_DATA_DIR);
    strcpy(cfg->ingest, PT_DEFAULT_INGEST);
    strcpy(cfg->query, PT_DEFAULT_QUERY);
    strcpy(cfg->alerts, PT_DEFAULT_ALERTS);
    cfg->batch_max = 10000;
    cfg->plugin_timeout_ms = 10000;
    cfg->log_level = PT_LOG_INFO;
    cfg->syslog_facility = pt_log_facility_parse("daemon");
    cfg->limits.frame_max = PT_LIMIT_FRAME_MAX;
    cfg->limits.events_max = PT_LIMIT_EVENTS_MAX;
    cfg->limits.string_max = POVTRACK_PROTO_STRING_MAX_DEFAULT;
    cfg->limits.depth_max = POVTRACK_PROTO_DEPTH_MAX;
    cfg->limits.container_max = POVTRACK_PROTO_CONTAINER_MAX_DEFAULT;
    cfg->limits.requests_per_second = 10000;
    strcpy(cfg->mirror.subject_prefix, PT_MIRROR_SUBJECT_PREFIX);
    cfg->mirror.replicas = 3;
    cfg->mirror.lag_alert_records = 100000;
    cfg->mirror.lag_alert_seconds = 300;

    /* Plugins sit at PT_PLUGIN_DIR_FROM_BIN (../lib/povtrack with the
     * default install directories) from the executable, in the build tree
     * and in an install alike. */
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash != NULL)
            *slash = '\0';
        if (snprintf(cfg->plugin_dir, sizeof cfg->plugin_dir,
                     "%s/" PT_PLUGIN_DIR_FROM_BIN,
                     exe) >= (int)sizeof cfg->plugin_dir)
            cfg->plugin_dir[0] = '\0';
    }
    if (cfg->plugin_dir[0] == '\0')
        strcpy(cfg->plugin_dir, ".");
    char err[128];
    return pt_config_set_plugins(cfg, PT_DEFAULT_PLUGINS, err, sizeof err);
}

static struct pt_plugin_conf *find_plugin(struct pt_config *cfg,
                                          const char *name)
{
    for (size_t i = 0; i < cfg->nplugins; i++)
        if (strcmp(cfg->plugins[i].name, name) == 0)
            return &cfg->plugins[i];
    return NULL;
}

static int valid_plugin_name(const char *name)
{
    if (*name == '\0' || strlen(name) >= PT_PLUGIN_NAME_MAX)
        return 0;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              *p == '_'))
            return 0;
    return 1;
}

/* Find or add a plugin section.  Sections named in the file but not in the
 * "plugins" list are kept (configured, not loaded) so that the list can be
 * given after the sections. */
static struct pt_plugin_conf *plugin_section(struct pt_config *cfg,
                                             const char *name)
{
    struct pt_plugin_conf *pc = find_plugin(cfg, name);
    if (pc != NULL || !valid_plugin_name(name) ||
        cfg->nplugins == PT_PLUGINS_MAX)
        return pc;
    pc = &cfg->plugins[cfg->nplugins++];
    memset(pc, 0, sizeof *pc);
    strcpy(pc->name, name);
    return pc;
}

const char *pt_plugin_conf_get(const struct pt_plugin_conf *pc, const char *key)
{
    for (size_t i = 0; i < pc->nkeys; i++)
        if (strcmp(pc->keys[i].key, key) == 0)
            return pc->keys[i].value;
    return NULL;
}

int pt_plugin_conf_set(struct pt_plugin_conf *pc, const char *key,
                       const char *value)
{
    struct pt_kv *kv = NULL;
    for (size_t i = 0; i < pc->nkeys && kv == NULL; i++)
        if (strcmp(pc->keys[i].key, key) == 0)
            kv = &pc->keys[i];
    if (kv == NULL) {
        if (pc->nkeys == PT_PLUGIN_KEYS_MAX)
            return POVTRACK_ECONFIG;
        kv = &pc->keys[pc->nkeys];
        int rc = copy_str(kv->key, sizeof kv->key, key);
        if (rc != 0)
            return rc;
        pc->nkeys++;
    }
    return copy_str(kv->value, sizeof kv->value, value);
}

int pt_config_set_plugins(struct pt_config *cfg, const char *names, char *err,
                          size_t errlen)
{
    /* Reorder: listed plugins first, in list order; the rest are dropped
     * from loading by moving them past the new count. */
    struct pt_plugin_conf *list = calloc(PT_PLUGINS_MAX, sizeof *list);
    if (list == NULL) {
        snprintf(err, errlen, "out of memory");
        return POVTRACK_ENOMEM;
    }
    size_t n = 0;
    const char *p = names;
    int rc = 0;
    while (*p != '\0' && rc == 0) {
        p += strspn(p, " \t,");
        size_t len = strcspn(p, " \t,");
        if (len == 0)
            break;
        char name[PT_PLUGIN_NAME_MAX];
        if (len >= sizeof name) {
            snprintf(err, errlen, "plugins: name too long: %.*s", (int)len, p);
            rc = POVTRACK_ECONFIG;
            break;
        }
        memcpy(name, p, len);
        name[len] = '\0';
        p += len;
        struct pt_plugin_conf *pc = plugin_section(cfg, name);
        if (pc == NULL || n == PT_PLUGINS_MAX) {
            snprintf(err, errlen,
                     "plugins: \"%s\" is not a valid plugin name "
                     "([a-z0-9_]+) or too many plugins",
                     name);
            rc = POVTRACK_ECONFIG;
            break;
        }
        for (size_t i = 0; i < n; i++)
            if (strcmp(list[i].name, name) == 0) {
                snprintf(err, errlen, "plugins: \"%s\" listed twice", name);
                rc = POVTRACK_ECONFIG;
            }
        list[n++] = *pc;
    }
    if (rc == 0) {
        memcpy(cfg->plugins, list, n * sizeof *list);
        cfg->nplugins = n;
    }
    free(list);
    return rc;
}

int pt_config_resolve(struct pt_config *cfg, char *err, size_t errlen)
{
    /* In plain mode every client is the publisher "unauthenticated": one
     * bucket for all would throttle eight agencies as one (issue 19 saw
     * 76,601 of 100,000 requests refused).  The limit is there for a
     * publisher that floods; plain mode has none to tell apart. */
    if (!cfg->limits.requests_per_second_set && cfg->curve_key_file[0] == '\0')
        cfg->limits.requests_per_second = 0;
    for (size_t i = 0; i < cfg->nplugins; i++) {
        struct pt_plugin_conf *pc = &cfg->plugins[i];
        const char *path = pt_plugin_conf_get(pc, "path");
        char buf[PATH_MAX];
        int n;
        if (path == NULL)
            n = snprintf(buf, sizeof buf, "%s/%s.so", cfg->plugin_dir,
                         pc->name);
        else if (path[0] == '/')
            n = snprintf(buf, sizeof buf, "%s", path);
        else
            n = snprintf(buf, sizeof buf, "%s/%s", cfg->plugin_dir, path);
        if (n < 0 || (size_t)n >= sizeof buf) {
            snprintf(err, errlen, "plugin %s: path too long", pc->name);
            return POVTRACK_ECONFIG;
        }
        strcpy(pc->path, buf);
    }
    return 0;
}

struct load_state {
    struct pt_config *cfg;
    const char *path;
    char *err;
    size_t errlen;
    int failed;
    char plugins[PT_PLUGINS_MAX * PT_PLUGIN_NAME_MAX]; /* applied at end */
};

static int parse_range(struct load_state *ls, const char *section,
                       const char *key, const char *value, unsigned long min,
                       unsigned long max, unsigned long *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(value, &end, 10);
    if (errno != 0 || end == value || *end != '\0' || value[0] == '-' ||
        v < min || v > max) {
        snprintf(ls->err, ls->errlen,
                 "%s: [%s] %s: must be an integer from %lu to %lu", ls->path,
                 section, key, min, max);
        return 0;
    }
    *out = v;
    return 1;
}

static int parse_yes_no(struct load_state *ls, const char *section,
                        const char *key, const char *value, int *out)
{
    if (strcmp(value, "yes") == 0 || strcmp(value, "no") == 0) {
        *out = strcmp(value, "yes") == 0;
        return 1;
    }
    snprintf(ls->err, ls->errlen, "%s: [%s] %s: must be yes or no", ls->path,
             section, key);
    return 0;
}

static int daemon_key(struct load_state *ls, const char *key, const char *value)
{
    struct pt_config *cfg = ls->cfg;
    struct {
        const char *key;
        char *dst;
        size_t cap;
    } strings[] = {
        {"data_dir", cfg->data_dir, sizeof cfg->data_dir},
        {"ingest", cfg->ingest, sizeof cfg->ingest},
        {"query", cfg->query, sizeof cfg->query},
        {"alerts", cfg->alerts, sizeof cfg->alerts},
        {"plugin_dir", cfg->plugin_dir, sizeof cfg->plugin_dir},
        {"plugins", ls->plugins, sizeof ls->plugins},
    };
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++) {
        if (strcmp(key, strings[i].key) != 0)
            continue;
        if (copy_str(strings[i].dst, strings[i].cap, value) == 0)
            return 1;
        snprintf(ls->err, ls->errlen, "%s: [daemon] %s: value too long",
                 ls->path, key);
        return 0;
    }
    if (strcmp(key, "batch_max") == 0) {
        char *end;
        errno = 0;
        unsigned long v = strtoul(value, &end, 10);
        if (errno != 0 || *end != '\0' || v < 1 || v > 100000) {
            snprintf(ls->err, ls->errlen,
                     "%s: [daemon] batch_max: must be an integer from 1 to "
                     "100000",
                     ls->path);
            return 0;
        }
        cfg->batch_max = v;
        return 1;
    }
    if (strcmp(key, "plugin_timeout") == 0) {
        unsigned long v;
        if (!parse_range(ls, "daemon", key, value, 0, 3600000, &v))
            return 0;
        cfg->plugin_timeout_ms = (unsigned)v;
        return 1;
    }
    if (strcmp(key, "syslog") == 0)
        return parse_yes_no(ls, "daemon", key, value, &cfg->syslog);
    if (strcmp(key, "syslog_facility") == 0) {
        int f = pt_log_facility_parse(value);
        if (f < 0) {
            snprintf(ls->err, ls->errlen,
                     "%s: [daemon] syslog_facility: must be daemon, user or "
                     "local0 to local7",
                     ls->path);
            return 0;
        }
        cfg->syslog_facility = f;
        return 1;
    }
    if (strcmp(key, "log_level") == 0) {
        int level = pt_log_level_parse(value);
        if (level < 0) {
            snprintf(ls->err, ls->errlen,
                     "%s: [daemon] log_level: must be debug, info, warn or "
                     "error",
                     ls->path);
            return 0;
        }
        cfg->log_level = level;
        return 1;
    }
    snprintf(ls->err, ls->errlen, "%s: [daemon] has no key \"%s\"", ls->path,
             key);
    return 0;
}

/* The lower bounds keep every valid event of the catalogue acceptable:
 * strings of EV_TEXT_MAX bytes, events four levels deep (request array,
 * event, data, deprived), the 13 deprivation indicators. */
static int limits_key(struct load_state *ls, const char *key, const char *value)
{
    struct pt_limits *l = &ls->cfg->limits;
    unsigned long v;
    if (strcmp(key, "frame_max") == 0) {
        if (!parse_range(ls, "limits", key, value, 1024, PT_LIMIT_FRAME_MAX,
                         &v))
            return 0;
        l->frame_max = v;
    } else if (strcmp(key, "events_max") == 0) {
        if (!parse_range(ls, "limits", key, value, 1, PT_LIMIT_EVENTS_MAX, &v))
            return 0;
        l->events_max = v;
    } else if (strcmp(key, "string_max") == 0) {
        if (!parse_range(ls, "limits", key, value, EV_TEXT_MAX, 1u << 20, &v))
            return 0;
        l->string_max = (uint32_t)v;
    } else if (strcmp(key, "depth_max") == 0) {
        if (!parse_range(ls, "limits", key, value, 4, EV_DEPTH_MAX, &v))
            return 0;
        l->depth_max = (unsigned)v;
    } else if (strcmp(key, "container_max") == 0) {
        if (!parse_range(ls, "limits", key, value, 16, 65535, &v))
            return 0;
        l->container_max = (uint32_t)v;
    } else if (strcmp(key, "requests_per_second") == 0) {
        if (!parse_range(ls, "limits", key, value, 0, 1000000, &v))
            return 0;
        l->requests_per_second = (unsigned)v;
        l->requests_per_second_set = true;
    } else {
        snprintf(ls->err, ls->errlen,
                 "%s: [limits] has no key \"%s\" (known: frame_max, "
                 "events_max, string_max, depth_max, container_max, "
                 "requests_per_second)",
                 ls->path, key);
        return 0;
    }
    return 1;
}

/* A file named in section.key, relative to the config file unless
 * absolute, so a config directory can be moved as a whole. */
static int config_relative_path(struct load_state *ls, const char *section,
                                const char *key, const char *value, char *dst)
{
    const char *slash = strrchr(ls->path, '/');
    int n;
    if (value[0] == '/' || slash == NULL)
        n = snprintf(dst, PATH_MAX, "%s", value);
    else
        n = snprintf(dst, PATH_MAX, "%.*s/%s", (int)(slash - ls->path),
                     ls->path, value);
    if (n < 0 || n >= PATH_MAX) {
        snprintf(ls->err, ls->errlen, "%s: [%s] %s: path too long", ls->path,
                 section, key);
        return 0;
    }
    return 1;
}

static int security_key(struct load_state *ls, const char *key,
                        const char *value)
{
    char *dst;
    if (strcmp(key, "curve_key") == 0)
        dst = ls->cfg->curve_key_file;
    else if (strcmp(key, "registry") == 0)
        dst = ls->cfg->registry_file;
    else {
        snprintf(ls->err, ls->errlen,
                 "%s: [security] has no key \"%s\" (known: curve_key, "
                 "registry)",
                 ls->path, key);
        return 0;
    }
    return config_relative_path(ls, "security", key, value, dst);
}

/* [A-Za-z0-9_-]: a stream's name, or one token of a subject. */
static int name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_' || c == '-';
}

/* Tokens of name_char joined by single dots when dots is set. */
static int valid_name(const char *s, size_t max, int dots)
{
    size_t len = strlen(s);
    if (len == 0 || len > max || s[0] == '.' || s[len - 1] == '.')
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!name_char(s[i]) && !(dots && s[i] == '.' && s[i + 1] != '.'))
            return 0;
    return 1;
}

/* One server URL of [mirror] servers: nats://host:port. */
static int mirror_server(struct load_state *ls, const char *url, size_t len)
{
    struct pt_mirror_conf *m = &ls->cfg->mirror;
    const char *colon = NULL;
    for (size_t i = 7; i < len; i++)
        if (url[i] == ':')
            colon = url + i;
    if (len < 8 || strncmp(url, "nats://", 7) != 0 || colon == NULL ||
        colon == url + 7 || colon + 1 == url + len) {
        snprintf(ls->err, ls->errlen,
                 "%s: [mirror] servers: \"%.*s\" is not nats://host:port "
                 "(for TLS, nats:// with tls = yes)",
                 ls->path, (int)len, url);
        return 0;
    }
    if (m->nservers == PT_MIRROR_SERVERS || len >= PT_ENDPOINT_MAX) {
        snprintf(ls->err, ls->errlen,
                 "%s: [mirror] servers: at most %d URLs of at most %d bytes",
                 ls->path, PT_MIRROR_SERVERS, PT_ENDPOINT_MAX - 1);
        return 0;
    }
    memcpy(m->servers[m->nservers], url, len);
    m->servers[m->nservers++][len] = '\0';
    return 1;
}

static int mirror_key(struct load_state *ls, const char *key, const char *value)
{
    struct pt_mirror_conf *m = &ls->cfg->mirror;
    unsigned long v;
    if (strcmp(key, "servers") == 0) {
        m->nservers = 0;
        for (const char *p = value; *p != '\0';) {
            p += strspn(p, " \t,");
            size_t len = strcspn(p, " \t,");
            if (len > 0 && !mirror_server(ls, p, len))
                return 0;
            p += len;
        }
        return 1;
    }
    if (strcmp(key, "province") == 0) {
        if (strlen(value) != 2 || value[0] < '0' || value[0] > '9' ||
            value[1] < '0' || value[1] > '9') {
            snprintf(ls->err, ls->errlen,
                     "%s: [mirror] province: must be the province's code, "
                     "two digits",
                     ls->path);
            return 0;
        }
        strcpy(m->province, value);
        return 1;
    }
    if (strcmp(key, "stream") == 0 || strcmp(key, "subject_prefix") == 0) {
        int subject = key[0] == 's' && key[1] == 'u';
        if (!valid_name(value, PT_MIRROR_NAME_MAX, subject)) {
            snprintf(ls->err, ls->errlen,
                     "%s: [mirror] %s: must be 1 to %d characters of "
                     "[A-Za-z0-9_-]%s",
                     ls->path, key, PT_MIRROR_NAME_MAX,
                     subject ? ", in tokens joined by dots" : "");
            return 0;
        }
        strcpy(subject ? m->subject_prefix : m->stream, value);
        return 1;
    }
    if (strcmp(key, "replicas") == 0) {
        if (!parse_range(ls, "mirror", key, value, 1, 5, &v))
            return 0;
        m->replicas = (unsigned)v;
        return 1;
    }
    if (strcmp(key, "lag_alert_records") == 0) {
        if (!parse_range(ls, "mirror", key, value, 0, 1000000000000UL, &v))
            return 0;
        m->lag_alert_records = v;
        return 1;
    }
    if (strcmp(key, "lag_alert_seconds") == 0) {
        if (!parse_range(ls, "mirror", key, value, 0, 86400 * 365, &v))
            return 0;
        m->lag_alert_seconds = (unsigned)v;
        return 1;
    }
    if (strcmp(key, "strict") == 0)
        return parse_yes_no(ls, "mirror", key, value, &m->strict);
    if (strcmp(key, "standby") == 0)
        return parse_yes_no(ls, "mirror", key, value, &m->standby);
    if (strcmp(key, "tls") == 0)
        return parse_yes_no(ls, "mirror", key, value, &m->tls);
    if (strcmp(key, "credentials") == 0)
        return config_relative_path(ls, "mirror", key, value, m->credentials);
    if (strcmp(key, "tls_ca") == 0)
        return config_relative_path(ls, "mirror", key, value, m->tls_ca);
    snprintf(ls->err, ls->errlen,
             "%s: [mirror] has no key \"%s\" (known: servers, province, "
             "stream, subject_prefix, replicas, lag_alert_records, "
             "lag_alert_seconds, strict, standby, credentials, tls, tls_ca)",
             ls->path, key);
    return 0;
}

/* After the whole file: what [mirror] requires, and the names derived
 * from the province. */
static int mirror_finish(struct load_state *ls)
{
    struct pt_mirror_conf *m = &ls->cfg->mirror;
    if (!m->enabled)
        return 1;
    if (m->nservers == 0 || m->province[0] == '\0') {
        snprintf(ls->err, ls->errlen,
                 "%s: [mirror] needs servers and province (the NATS servers "
                 "to copy the log to, and this province's code)",
                 ls->path);
        return 0;
    }
    if (m->stream[0] == '\0')
        snprintf(m->stream, sizeof m->stream, "%s%s", PT_MIRROR_STREAM_PREFIX,
                 m->province);
    snprintf(m->subject, sizeof m->subject, "%s.%s", m->subject_prefix,
             m->province);
    return 1;
}

static int on_ini_entry(void *user, const char *section, const char *key,
                        const char *value)
{
    struct load_state *ls = user;
    if (ls->failed)
        return 0;
    int ok;
    if (strcmp(section, "daemon") == 0) {
        ok = daemon_key(ls, key, value);
    } else if (strcmp(section, "limits") == 0) {
        ok = limits_key(ls, key, value);
    } else if (strcmp(section, "security") == 0) {
        ok = security_key(ls, key, value);
    } else if (strcmp(section, "mirror") == 0) {
        ls->cfg->mirror.enabled = 1;
        ok = mirror_key(ls, key, value);
    } else if (strncmp(section, "plugin.", 7) == 0) {
        struct pt_plugin_conf *pc = plugin_section(ls->cfg, section + 7);
        if (pc == NULL) {
            snprintf(ls->err, ls->errlen,
                     "%s: [%s]: plugin names are [a-z0-9_]+ (at most %d "
                     "plugins)",
                     ls->path, section, PT_PLUGINS_MAX);
            ok = 0;
        } else {
            ok = pt_plugin_conf_set(pc, key, value) == 0;
            if (!ok)
                snprintf(ls->err, ls->errlen,
                         "%s: [%s] %s: too many keys or value too long",
                         ls->path, section, key);
        }
    } else if (section[0] == '\0') {
        /* "data_dir = ..." above the first section header. */
        snprintf(ls->err, ls->errlen,
                 "%s: %s: outside any section; put it under the section it "
                 "belongs to ([daemon] for data_dir, endpoints and plugins)",
                 ls->path, key);
        ok = 0;
    } else {
        snprintf(ls->err, ls->errlen,
                 "%s: unknown section [%s] (expected [daemon], [security], "
                 "[limits], [mirror] or [plugin.NAME])",
                 ls->path, section);
        ok = 0;
    }
    if (!ok)
        ls->failed = 1;
    return ok;
}

int pt_config_load(struct pt_config *cfg, const char *path, char *err,
                   size_t errlen)
{
    struct load_state ls = {
        .cfg = cfg, .path = path, .err = err, .errlen = errlen};
    /* Sections only configure; what loads is the "plugins" list, which
     * keeps its current value when the file does not set it. */
    for (size_t i = 0, off = 0; i < cfg->nplugins; i++)
        off += (size_t)snprintf(ls.plugins + off, sizeof ls.plugins - off,
                                "%s ", cfg->plugins[i].name);
    int rc = ini_parse(path, on_ini_entry, &ls);
    if (rc == -1) { /* inih's "cannot open", errno set by fopen */
        rc = -errno;
        snprintf(err, errlen, "%s: cannot open: %s", path,
                 povtrack_strerror(rc));
        return rc;
    }
    if (ls.failed)
        return POVTRACK_ECONFIG;
    if (rc != 0) {
        snprintf(err, errlen, "%s:%d: syntax error", path, rc);
        return POVTRACK_ECONFIG;
    }
    if (!mirror_finish(&ls))
        return POVTRACK_ECONFIG;
    if (copy_str(cfg->config_file, sizeof cfg->config_file, path) != 0) {
        snprintf(err, errlen, "%s: path too long", path);
        return POVTRACK_ECONFIG;
    }
    return pt_config_set_plugins(cfg, ls.plugins, err, errlen);
}

/* A tcp:// endpoint's port: ZeroMQ takes "99999" modulo 65536 and binds
 * 34463 without a word, and a port with letters after it as its digits. */
static int check_endpoint(const char *what, const char *ep, char *err,
                          size_t errlen)
{
    if (strncmp(ep, "ipc://", 6) == 0 || strncmp(ep, "inproc://", 9) == 0)
        return 0;
    if (strncmp(ep, "tcp://", 6) != 0) {
        snprintf(err, errlen,
                 "%s endpoint %s: must be tcp://HOST:PORT or ipc://PATH", what,
                 ep);
        return POVTRACK_ECONFIG;
    }
    const char *colon = strrchr(ep + 6, ':');
    if (colon == NULL || colon[1] == '\0') {
        snprintf(err, errlen, "%s endpoint %s: no port (tcp://HOST:PORT)", what,
                 ep);
        return POVTRACK_ECONFIG;
    }
    if (strcmp(colon + 1, "*") == 0) /* any free port: ZeroMQ picks one */
        return 0;
    char *end;
    errno = 0;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (colon[1] < '0' || colon[1] > '9' || *end != '\0' || errno != 0 ||
        port < 1 || port > 65535) {
        snprintf(err, errlen, "%s endpoint %s: the port must be 1 to 65535",
                 what, ep);
        return POVTRACK_ECONFIG;
    }
    return 0;
}

int pt_config_check_endpoints(const struct pt_config *cfg, char *err,
                              size_t errlen)
{
    int rc = check_endpoint("ingest", cfg->ingest, err, errlen);
    if (rc == 0)
        rc = check_endpoint("query", cfg->query, err, errlen);
    if (rc == 0)
        rc = check_endpoint("alerts", cfg->alerts, err, errlen);
    return rc;
}

int pt_config_check_plugins(const struct pt_config *cfg, char *err,
                            size_t errlen)
{
    for (size_t i = 0; i < cfg->nplugins; i++) {
        const struct pt_plugin_conf *pc = &cfg->plugins[i];
        if (access(pc->path, F_OK) == 0)
            continue;
        int rc = -errno;
        /* Most often a name mistyped: list what there is to load. */
        size_t used =
            (size_t)snprintf(err, errlen, "plugin %s: %s: %s", pc->name,
                             pc->path, povtrack_strerror(rc));
        DIR *dir = opendir(cfg->plugin_dir);
        const char *sep = " (the plugins in ";
        if (dir != NULL && used < errlen) {
            used += (size_t)snprintf(err + used, errlen - used, "%s%s:", sep,
                                     cfg->plugin_dir);
            sep = " ";
            struct dirent *de;
            while ((de = readdir(dir)) != NULL && used < errlen) {
                size_t n = strlen(de->d_name);
                if (n > 3 && strcmp(de->d_name + n - 3, ".so") == 0 &&
                    de->d_name[0] != '.')
                    used +=
                        (size_t)snprintf(err + used, errlen - used, "%s%.*s",
                                         sep, (int)(n - 3), de->d_name);
            }
            if (used < errlen)
                snprintf(err + used, errlen - used, ")");
        }
        if (dir != NULL)
            closedir(dir);
        return POVTRACK_ECONFIG;
    }
    return 0;
}

int pt_endpoint_is_local(const char *ep)
{
    if (strncmp(ep, "ipc://", 6) == 0 || strncmp(ep, "inproc://", 9) == 0)
        return 1;
    const char *host;
    if (strncmp(ep, "tcp://", 6) == 0)
        host = ep + 6;
    else if (strncmp(ep, "nats://", 7) == 0)
        host = ep + 7;
    else
        return 0;
    /* nats://user:password@host:port */
    const char *at = strchr(host, '@');
    if (at != NULL && at < host + strcspn(host, "/"))
        host = at + 1;
    return strncmp(host, "127.", 4) == 0 ||
           strncmp(host, "localhost:", 10) == 0 ||
           strncmp(host, "[::1]:", 6) == 0;
}

int pt_config_check_security(const struct pt_config *cfg, char *err,
                             size_t errlen)
{
    int curve = cfg->curve_key_file[0] != '\0';
    if (curve != (cfg->registry_file[0] != '\0')) {
        snprintf(err, errlen,
                 "[security]: curve_key and registry go together: CURVE "
                 "admits exactly the keys of the registry");
        return POVTRACK_ECONFIG;
    }
    for (size_t i = 0; i < cfg->mirror.nservers && !cfg->mirror.tls; i++) {
        if (!pt_endpoint_is_local(cfg->mirror.servers[i])) {
            snprintf(err, errlen,
                     "[mirror] server %s is reachable from other machines, "
                     "and tls is off: set tls = yes (household records "
                     "never cross a network in clear text)",
                     cfg->mirror.servers[i]);
            return POVTRACK_ECONFIG;
        }
    }
    if (curve)
        return 0;
    const char *eps[] = {cfg->ingest, cfg->query, cfg->alerts};
    for (size_t i = 0; i < 3; i++) {
        if (!pt_endpoint_is_local(eps[i])) {
            snprintf(err, errlen,
                     "endpoint %s is reachable from other machines, and "
                     "CURVE is off: set [security] curve_key and registry "
                     "(see povtrack keygen), or bind to 127.0.0.1 or ipc://",
                     eps[i]);
            return POVTRACK_ECONFIG;
        }
    }
    return 0;
}

static void note(char *buf, size_t len, const char *what)
{
    size_t used = strlen(buf);
    if (used < len)
        snprintf(buf + used, len - used, "%s%s", used ? " " : "", what);
}

static int plugins_differ(const struct pt_config *a, const struct pt_config *b)
{
    if (a->nplugins != b->nplugins || strcmp(a->plugin_dir, b->plugin_dir))
        return 1;
    for (size_t i = 0; i < a->nplugins; i++) {
        const struct pt_plugin_conf *x = &a->plugins[i], *y = &b->plugins[i];
        if (strcmp(x->name, y->name) || strcmp(x->path, y->path) ||
            x->nkeys != y->nkeys)
            return 1;
        for (size_t k = 0; k < x->nkeys; k++)
            if (strcmp(x->keys[k].key, y->keys[k].key) ||
                strcmp(x->keys[k].value, y->keys[k].value))
                return 1;
    }
    return 0;
}

void pt_config_apply_reload(struct pt_config *cur,
                            const struct pt_config *fresh, char *restart,
                            size_t restartlen)
{
    restart[0] = '\0';
    if (strcmp(cur->data_dir, fresh->data_dir) != 0)
        note(restart, restartlen, "data_dir");
    if (strcmp(cur->ingest, fresh->ingest) != 0 ||
        strcmp(cur->query, fresh->query) != 0 ||
        strcmp(cur->alerts, fresh->alerts) != 0)
        note(restart, restartlen, "endpoints");
    if (plugins_differ(cur, fresh))
        note(restart, restartlen, "plugins");
    if (cur->batch_max != fresh->batch_max)
        note(restart, restartlen, "batch_max");
    if (strcmp(cur->curve_key_file, fresh->curve_key_file) != 0 ||
        strcmp(cur->registry_file, fresh->registry_file) != 0)
        note(restart, restartlen, "[security]");
    if (cur->limits.frame_max != fresh->limits.frame_max ||
        cur->limits.events_max != fresh->limits.events_max)
        note(restart, restartlen, "frame_max/events_max");
    if (memcmp(&cur->mirror, &fresh->mirror, sizeof cur->mirror) != 0)
        note(restart, restartlen, "[mirror]");
    cur->log_level = fresh->log_level;
    cur->syslog = fresh->syslog;
    cur->syslog_facility = fresh->syslog_facility;
    cur->limits.string_max = fresh->limits.string_max;
    cur->limits.depth_max = fresh->limits.depth_max;
    cur->limits.container_max = fresh->limits.container_max;
    cur->limits.requests_per_second = fresh->limits.requests_per_second;
}
