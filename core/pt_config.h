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
 *   plugin_dir = <dir of povtrackd>/../lib/povtrack
 *   plugins = poverty fund standard relocation credit deadlines
 *                                   ; which plugins to load, in order
 *   batch_max = 10000               ; most events in one group commit
 *   log_level = info
 *   [plugin.NAME]
 *   path = NAME.so                  ; relative paths are under plugin_dir
 *   any_key = value                 ; handed to the plugin via host->config
 */
#ifndef POVTRACK_PT_CONFIG_H
#define POVTRACK_PT_CONFIG_H

#include <limits.h>
#include <stddef.h>

#define PT_ENDPOINT_MAX 256
#define PT_PLUGINS_MAX 32
#define PT_PLUGIN_NAME_MAX 64
#define PT_PLUGIN_KEYS_MAX 32
#define PT_CONFIG_VALUE_MAX 256

#define PT_DEFAULT_DATA_DIR "./povtrack-data"
#define PT_DEFAULT_INGEST "tcp://127.0.0.1:7170"
#define PT_DEFAULT_QUERY "tcp://127.0.0.1:7171"
#define PT_DEFAULT_ALERTS "tcp://127.0.0.1:7172"
#define PT_DEFAULT_PLUGINS "poverty fund standard relocation credit deadlines"

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

struct pt_config {
    char data_dir[PATH_MAX];
    char ingest[PT_ENDPOINT_MAX];
    char query[PT_ENDPOINT_MAX];
    char alerts[PT_ENDPOINT_MAX];
    char plugin_dir[PATH_MAX];
    char config_file[PATH_MAX]; /* "" when none */
    size_t batch_max;
    int log_level; /* enum pt_log_level */
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

/* Value of key in a plugin's section, or NULL. */
const char *pt_plugin_conf_get(const struct pt_plugin_conf *pc,
                               const char *key);
/* Add or replace key in a plugin's section. */
int pt_plugin_conf_set(struct pt_plugin_conf *pc, const char *key,
                       const char *value);

#endif /* POVTRACK_PT_CONFIG_H */
