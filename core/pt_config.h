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
 *   requests_per_second = 10000     ; the default with CURVE; in plain mode,
 *                                   ; where every client is the one publisher
 *                                   ; "unauthenticated", none unless given
 *   [mirror]                        ; the log into a JetStream stream, by
 *                                   ; the povtrack-mirror process (see
 *                                   ; struct pt_mirror_conf)
 *   servers = nats://10.0.0.1:4222,nats://10.0.0.2:4222
 *   province = 60
 *   [plugin.NAME]
 *   path = NAME.so                  ; relative paths are under plugin_dir
 *   key = value                     ; handed to the plugin via host->config;
 *                                   ; the plugin host checks the keys
 *                                   ; against the plugin's config map
 *
 * Without [security] every endpoint must be on this machine (ipc://,
 * inproc://, tcp://127.x.x.x, tcp://localhost, tcp://[::1]): the daemon
 * refuses to start otherwise, so household data never crosses a network in
 * clear text.  For the same reason a [mirror] server off this machine
 * needs tls = yes.
 *
 * Errors: functions return 0 or a code of <povtrack/errors.h>:
 * POVTRACK_ECONFIG for what the configuration says (err names the file,
 * the line or section, and the key), an errno value negated for a file
 * that cannot be read, POVTRACK_ENOMEM.
 */
#ifndef POVTRACK_PT_CONFIG_H
#define POVTRACK_PT_CONFIG_H

#include <limits.h>
#include <stdbool.h>
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
    bool requests_per_second_set; /* the file gave it (else the default:
                                     10000 with CURVE, none in plain mode,
                                     where every client is one publisher) */
};

/* [mirror]: copy the committed log, record by record, into a JetStream
 * stream replicated on a NATS cluster (README, Many provinces).  The
 * stream belongs to the province alone, so that its sequence is the log's
 * (tools/mirror/mr_stream.h says why).  Keys and defaults:
 *   servers = URL,URL...     required: nats://host:port, at most
 *                            PT_MIRROR_SERVERS of them
 *   province = 60            required: the province's code (2 digits)
 *   stream = POVTRACK_LOG_60 the stream's name ([A-Za-z0-9_-], default
 *                            PT_MIRROR_STREAM_PREFIX + province)
 *   subject_prefix = povtrack.log   the subject is <prefix>.<province>
 *   replicas = 3             when the mirror creates the stream (1..5)
 *   lag_alert_records = 100000  mirror.lagging past this many records
 *   lag_alert_seconds = 300  ... or when the oldest record not yet in
 *                            JetStream is older than this (0: off)
 *   strict = no              yes: a publisher's ack waits for JetStream's
 *   standby = no             yes: this povtrackd is the province's standby:
 *                            povtrack-mirror follows the stream into the
 *                            log and ingest refuses publishers, until
 *                            `povtrack promote` (README, Standby)
 *   credentials = FILE       a NATS .creds file (JWT and NKey seed)
 *   tls = no                 yes: TLS to the servers (required for a
 *                            server off this machine)
 *   tls_ca = FILE            CA certificates for tls (default: system's)
 * Relative file names are relative to the configuration file. */
#define PT_MIRROR_SERVERS 16
#define PT_MIRROR_NAME_MAX 64 /* stream name, subject prefix: bytes */
#define PT_MIRROR_STREAM_PREFIX "POVTRACK_LOG_"
#define PT_MIRROR_SUBJECT_PREFIX "povtrack.log"

struct pt_mirror_conf {
    int enabled; /* the file has a [mirror] section */
    char servers[PT_MIRROR_SERVERS][PT_ENDPOINT_MAX];
    size_t nservers;
    char province[3];
    char stream[PT_MIRROR_NAME_MAX + 1];
    char subject_prefix[PT_MIRROR_NAME_MAX + 1];
    char subject[PT_MIRROR_NAME_MAX + 4]; /* <subject_prefix>.<province> */
    unsigned replicas;
    uint64_t lag_alert_records; /* 0: no alert on records */
    unsigned lag_alert_seconds; /* 0: no alert on seconds */
    int strict;
    int standby;
    int tls;
    char credentials[PATH_MAX]; /* "" when none */
    char tls_ca[PATH_MAX];      /* "" for the system's */
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
    struct pt_mirror_conf mirror;
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

/* Refuse an endpoint that leaves this machine while CURVE is off, a
 * [mirror] server that leaves it without tls, and curve_key without
 * registry (or the reverse). */
int pt_config_check_security(const struct pt_config *cfg, char *err,
                             size_t errlen);

/* Refuse an endpoint ZeroMQ would take for another: a tcp:// port
 * outside 1..65535 (99999 binds 34463), or with other characters; or a
 * scheme other than tcp://, ipc:// and inproc://. */
int pt_config_check_endpoints(const struct pt_config *cfg, char *err,
                              size_t errlen);

/* Refuse a plugin whose file is not there (after pt_config_resolve), most
 * often a name mistyped in [daemon] plugins: err lists the plugins in
 * plugin_dir.  A file that is there but does not load is the plugin
 * host's to quarantine. */
int pt_config_check_plugins(const struct pt_config *cfg, char *err,
                            size_t errlen);

/* Is endpoint reachable only from this machine?  A ZeroMQ endpoint, or a
 * URL of another scheme (nats://127.0.0.1:4222). */
int pt_endpoint_is_local(const char *endpoint);

/* SIGHUP: copy into cur what a running daemon can change (log_level,
 * syslog, and the limits other than frame_max and events_max, which size
 * buffers and sockets; [mirror] takes a restart), and list in restart,
 * space-separated, the settings of fresh that differ but take a restart (""
 * when none). */
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
