/*
 * gw_config.h - povtrack-gw's configuration file (INI, read with inih).
 *
 *   [gateway]
 *   listen = 127.0.0.1:8080       ; host:port, [v6]:port
 *   tls_cert = gw.crt             ; PEM; with tls_key: HTTPS (GnuTLS)
 *   tls_key = gw.key
 *   behind_tls_proxy = no         ; yes: a TLS reverse proxy fronts it
 *   daemon_ingest = tcp://127.0.0.1:7170
 *   daemon_query = tcp://127.0.0.1:7171
 *   daemon_alerts = tcp://127.0.0.1:7172
 *   server_key = server.pub       ; povtrackd's public key (file or Z85)
 *   daemon_timeout = 5000         ; ms per request to povtrackd
 *   www_dir = ...                 ; static files (the dashboard)
 *   body_max = 4194304            ; bytes of a request body
 *   requests_per_minute = 600     ; per user or token
 *   login_per_minute = 10         ; login attempts per client address
 *   connections_max = 64
 *   session_hours = 8
 *   metrics_key = metrics.key     ; a key with query rights: stats, ping
 *   metrics_public = yes          ; no: /metrics needs a login too
 *   log_level = info
 *
 *   [user.NAME]                   ; a person who logs in
 *   password = $argon2id$...      ; povtrack-gw --hash-password
 *   key = NAME.key                ; the publisher key (povtrack keygen)
 *   lang = vi                     ; vi | en
 *
 *   [token.NAME]                  ; an API client (Authorization: Bearer)
 *   token_hash = <64 hex>         ; povtrack-gw --new-token NAME
 *   key = agency.key
 *
 * Relative paths are taken next to the file.  An unknown section or key,
 * or a bad value, stops the gateway at start with the file, section and
 * key named.  Plain HTTP only on a loopback address: any other needs
 * tls_cert and tls_key, or behind_tls_proxy = yes.  Key files are read at
 * start (a secret key readable by group or others is refused), so the
 * gateway never holds a path it cannot use.
 */
#ifndef POVTRACK_GW_CONFIG_H
#define POVTRACK_GW_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <povtrack/client.h>

#define GW_NAME_MAX 64
#define GW_ENDPOINT_MAX 256
#define GW_PWHASH_MAX 128 /* crypto_pwhash_STRBYTES */
#define GW_TOKEN_HASH_BYTES 32

enum gw_lang { GW_LANG_VI = 0, GW_LANG_EN = 1 };

/* Someone the gateway acts for: a [user.NAME] or a [token.NAME], with the
 * publisher key it talks to povtrackd with. */
struct gw_identity {
    char name[GW_NAME_MAX + 1];
    bool is_token;
    char password_hash[GW_PWHASH_MAX];             /* users */
    unsigned char token_hash[GW_TOKEN_HASH_BYTES]; /* tokens */
    char public_key[POVTRACK_CLIENT_KEY_Z85];      /* its key pair */
    char secret_key[POVTRACK_CLIENT_KEY_Z85];
    enum gw_lang lang;
    size_t slot; /* its index in the configuration's identities */
};

struct gw_config {
    char path[PATH_MAX];
    char listen[GW_ENDPOINT_MAX];
    struct sockaddr_storage addr;
    socklen_t addrlen;
    bool loopback;
    char tls_cert[PATH_MAX], tls_key[PATH_MAX];
    bool behind_tls_proxy;
    char ingest[GW_ENDPOINT_MAX], query[GW_ENDPOINT_MAX],
        alerts[GW_ENDPOINT_MAX];
    char server_key[POVTRACK_CLIENT_KEY_Z85];
    int daemon_timeout_ms;
    char www_dir[PATH_MAX];
    size_t body_max;
    unsigned requests_per_minute, login_per_minute, connections_max;
    unsigned session_hours;
    /* The metrics key: stats and ping for /metrics and /api/v1/health. */
    struct gw_identity metrics;
    bool metrics_public;
    int log_level;
    struct gw_identity *ids;
    size_t nids;
};

/* Read path into cfg (www_default is the static files' directory when the
 * file names none).  Returns 0, or POVTRACK_ECONFIG with err naming the
 * file, the section, the key and what is wrong; a negated errno value when
 * the file cannot be read. */
int gw_config_load(const char *path, const char *www_default,
                   struct gw_config *cfg, char *err, size_t errlen);
void gw_config_free(struct gw_config *cfg);

/* Parse "host:port" / "[v6]:port" into cfg->addr, and whether it is a
 * loopback address.  0 or POVTRACK_EINVALID with err set. */
int gw_config_listen(struct gw_config *cfg, const char *listen, char *err,
                     size_t errlen);

#endif /* POVTRACK_GW_CONFIG_H */
