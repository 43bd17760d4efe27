/*
 * pt_config.h - povtrackd's configuration: defaults, the INI file, and the
 * command line, in that order of precedence (later wins).
 *
 * INI layout:
 *   [daemon]
 *   data_dir = ./povtrack-data
 *   ingest = tcp://127.0.0.1:7170
 *   query = tcp://127.0.0.1:7171
 *   alerts = tcp://127.0.0.1:7172
 *   plugin_dir = <dir of povtrackd>/../lib/povtrack   ; the install's
 *                                   ; ${CMAKE_INSTALL_LIBDIR}/povtrack
 *   plugins = poverty fund standard relocation credit deadlines
 *             production protection budget donors commendations
 *                                   ; which plugins to load, in order
 *   batch_max = 10000               ; most events in one group commit
 *   plugin_timeout = 10000          ; ms one plugin call may take before
 *                                   ; the watchdog kills the host; 0: none
 *   log_level = info
 *   syslog = no                     ; yes: also log to syslog/journald
 *   syslog_facility = daemon        ; daemon, user, local0..local7
 *   [security]
 *   curve_key = server.key          ; the daemon's CURVE key pair (written
 *                                   ; by povtrack keygen); turns CURVE on
 *                                   ; for the ingest, query and alerts
 *                                   ; endpoints
 *   registry = publishers.ini       ; who may connect (pt_registry.h);
 *                                   ; required with curve_key
 *   [limits]                        ; hostile-input limits, see pt_limits
 *   frame_max = 4194304
 *   events_max = 10000
 *   string_max = 4096
 *   depth_max = 8
 *   container_max = 64
 *   requests_per_second = 10000
 *   [plugin.NAME]
 *   path = NAME.so                  ; relative paths are under plugin_dir
 *   key = value                     ; handed to the plugin via host->config;
 *                                   ; the plugin host checks the keys
 *                                   ; against the plugin's config map
 *
 * Without [security] every endpoint must be on this machine (ipc://,
 * inproc://, tcp://127.x.x.x, tcp://localhost, tcp://[::1]): the daemon
 * refuses to start otherwise, so household data never crosses a network in
 * clear text.
 *
 * Errors: functions return 0 or a code of <povtrack/errors.h>:
 * POVTRACK_ECONFIG for what the configuration says (err names the file,
 * the line or section, and the key), an errno value negated for a file
 * that cannot be read, POVTRACK_ENOMEM.
 */
#ifndef POVTRACK_PT_CONFIG_H
#define POVTRACK_PT_CONFIG_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include <povtrack/protocol.h>

#define PT_ENDPOINT_MAX 256
#define PT_PLUGINS_MAX 32
#define PT_PLUGIN_NAME_MAX 64
#define PT_PLUGIN_KEYS_MAX 32
#define PT_CONFIG_VALUE_MAX 256

#define PT_DEFAULT_DATA_DIR "./povtrack-data"
/* The protocol's default endpoints (<povtrack/protocol.h>). */
#define PT_DEFAULT_INGEST POVTRACK_PROTO_INGEST_DEFAULT
#define PT_DEFAULT_QUERY POVTRACK_PROTO_QUERY_DEFAULT
#define PT_DEFAULT_ALERTS POVTRACK_PROTO_ALERTS_DEFAULT
#define PT_DEFAULT_PLUGINS                                                     \
    "poverty fund standard relocation credit deadlines production "            \
    "protection budget donors commendations"

struct pt_kv {
    char key[PT_CONFIG_VALUE_MAX];
    char value[PT_CONFIG_VALUE_MAX];
};

struct pt_plugin_conf {
    char name[PT_PLUGIN_NAME_MAX];
    char path[PATH_MAX]; /* resolved: absolute or relative to the cwd */
    struct pt_kv keys[PT_PLUGIN_KEYS_MAX];
    size_t nkeys;
};

/* Limits on what one request may hold.  Each has a safe default (the
 * protocol's, <povtrack/protocol.h>), each is configurable, and a request
 * over one is refused with a message naming the limit
 * ("limits.string_max").  The protocol's own ceilings (4 MiB frames, 10000
 * events, depth 8) can be lowered here, not raised. */
struct pt_limits {
    size_t frame_max;             /* bytes of one ingest request frame */
    size_t events_max;            /* events in one ingest request */
    uint32_t string_max;          /* bytes of any string in a request */
    unsigned depth_max;           /* nesting of a request, top level is 1 */
    uint32_t container_max;       /* elements of a nested array or map */
    unsigned requests_per_second; /* per publisher; 0: no limit */
};

#define PT_LIMIT_FRAME_MAX POVTRACK_PROTO_FRAME_MAX
#define PT_LIMIT_EVENTS_MAX POVTRACK_PROTO_EVENTS_MAX

struct pt_config {
    char data_dir[PATH_MAX];
    char ingest[PT_ENDPOINT_MAX];
    char query[PT_ENDPOINT_MAX];
    char alerts[PT_ENDPOINT_MAX];
    char plugin_dir[PATH_MAX];
    char config_file[PATH_MAX]; /* "" when none */
    size_t batch_max;
    unsigned plugin_timeout_ms;
    int log_level;                 /* enum pt_log_level */
    int syslog;                    /* 1: also log to syslog */
    int syslog_facility;           /* LOG_* of <syslog.h> */
    char curve_key_file[PATH_MAX]; /* "" when CURVE is off */
    char registry_file[PATH_MAX];  /* "" when CURVE is off */
    struct pt_limits limits;
    struct pt_plugin_conf plugins[PT_PLUGINS_MAX];
    size_t nplugins;
};

/* Fill defaults; plugin_dir is derived from the running executable. */
int pt_config_defaults(struct pt_config *cfg);

/* Read an INI file over cfg.  Unknown sections or keys under [daemon] are
 * errors naming the file, line and key. */
int pt_config_load(struct pt_config *cfg, const char *path, char *err,
                   size_t errlen);

/* Set the plugin list from a space-separated list of names (creating empty
 * sections for names not yet configured), then resolve every plugin path
 * against plugin_dir. */
int pt_config_set_plugins(struct pt_config *cfg, const char *names, char *err,
                          size_t errlen);
int pt_config_resolve(struct pt_config *cfg, char *err, size_t errlen);

/* Refuse an endpoint that leaves this machine while CURVE is off, and
 * curve_key without registry (or the reverse). */
int pt_config_check_security(const struct pt_config *cfg, char *err,
                             size_t errlen);

/* Is endpoint reachable only from this machine? */
int pt_endpoint_is_local(const char *endpoint);

/* SIGHUP: copy into cur what a running daemon can change (log_level,
 * syslog, and the limits other than frame_max and events_max, which size
 * buffers and sockets), and list in restart, space-separated, the settings
 * of fresh that differ but take a restart ("" when none). */
void pt_config_apply_reload(struct pt_config *cur,
                            const struct pt_config *fresh, char *restart,
                            size_t restartlen);

/* Value of key in a plugin's section, or NULL. */
const char *pt_plugin_conf_get(const struct pt_plugin_conf *pc,
                               const char *key);
/* Add or replace key in a plugin's section. */
int pt_plugin_conf_set(struct pt_plugin_conf *pc, const char *key,
                       const char *value);

#endif /* POVTRACK_PT_CONFIG_H */
