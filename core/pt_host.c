/*
 * pt_host.c - the plugin host: loads plugins and applies the log to them
 * exactly once.  See pt_host.h for the state layout; pt_request.c answers
 * the query endpoint and pt_host_loop.c is the process loop.
 */
#include "pt_host.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>

#include <zmq.h>

#include "ev_event.h"
#include "ev_unit.h"
#include "pt_host_internal.h"
#include "pt_state.h"
#include "st_env.h"

static const struct povtrack_host host_api;
static int config_map_check(const struct povtrack_plugin *d, char *err,
                            size_t errlen);
static int64_t mono_ms(void);
static void publish_pending(struct pt_host *h);
static void pending_clear(struct pt_host *h);
static int state_forget(struct pt_host *h, const char *name, MDB_dbi keyed,
                        const MDB_dbi *drop, char *err, size_t errlen);

/* A descriptor of this size has every field up to fini: plugins built
 * before state_layout was appended. */
#define PLUGIN_SIZE_MIN POVTRACK_SIZE_TO(struct povtrack_plugin, fini)
/* ... and of this size, state_layout too. */
#define PLUGIN_SIZE_LAYOUT                                                     \
    POVTRACK_SIZE_TO(struct povtrack_plugin, state_layout)
/* A config map entry holds at least the members this host reads. */
#define CONFIG_KEY_SIZE_MIN                                                    \
    POVTRACK_SIZE_TO(struct povtrack_config_key, description)
/* Most entries of a config map: past it the map has lost its end. */
#define CONFIG_MAP_MAX 256

/* ---- state environment ---- */

/* Open DATA/state, creating it whole when missing (st_env.h), and setting
 * aside one that cannot be read, which an older povtrackd could leave when
 * cut off while creating it: the state derives from the log, so a new one
 * is only work for the plugins, while one that cannot be opened would
 * keep the host restarting and queries unanswered. */
static int state_env_open(struct pt_host *h, const char *dir, char *err,
                          size_t errlen)
{
    char found[PATH_MAX + 128], moved[PATH_MAX];
    /* One database per plugin, and cursors, layouts, applying, alerts,
     * quarantine. */
    unsigned maxdbs = PT_PLUGINS_MAX + 5;

    int rc = st_dir_make(dir, PT_STATE_DIR_MODE, NULL, err, errlen);
    if (rc == 0)
        rc = st_env_remove_leftovers(dir, found, sizeof found, err, errlen);
    if (rc != 0)
        return rc;
    if (found[0] != '\0')
        pt_logf(&h->log, PT_LOG_WARN, "%s", found);
    /* Twice at most: a state missing or set aside is created, then
     * opened. */
    for (int created = 0;; created = 1) {
        uint64_t size = 0;
        rc = st_mdb_rc(mdb_env_create(&h->state));
        if (rc == 0)
            rc = st_mdb_rc(mdb_env_set_maxdbs(h->state, maxdbs));
        if (rc == 0)
            rc = st_mdb_rc(mdb_env_set_mapsize(h->state, h->map_size));
        /* NOMETASYNC: one fsync per commit; a system crash may undo the
         * last commit but never tears state from cursor, and undone
         * applies are redone from the log. */
        if (rc == 0)
            rc = st_env_open_existing(h->state, dir, MDB_NOTLS | MDB_NOMETASYNC,
                                      PT_STATE_FILE_MODE, &size);
        if (rc == 0)
            return 0;
        mdb_env_close(h->state);
        h->state = NULL;
        st_env_describe(found, sizeof found, dir, rc, size);
        if (created ||
            (rc != POVTRACK_ENOENT && rc != -ENODATA && rc != MDB_INVALID)) {
            snprintf(err, errlen, "%s", found);
            return rc;
        }
        if (rc != POVTRACK_ENOENT) {
            int arc = st_set_aside(dir, moved, sizeof moved, err, errlen);
            if (arc == 0)
                arc = st_dir_make(dir, PT_STATE_DIR_MODE, NULL, err, errlen);
            if (arc != 0)
                return arc;
            pt_logf(&h->log, PT_LOG_ERROR,
                    "%s: the plugin state %s; moved it to %s and made a new "
                    "one, to which the plugins apply the whole log again",
                    found,
                    rc == -ENODATA ? "was never written" : "cannot be read",
                    moved);
        }
        rc = st_env_create(dir, PT_STATE_FILE_MODE, maxdbs, h->map_size, NULL,
                           NULL, err, errlen);
        if (rc != 0)
            return rc;
    }
}

static int state_open(struct pt_host *h, char *err, size_t errlen)
{
    char dir[PATH_MAX];
    if (snprintf(dir, sizeof dir, "%s/" PT_DATA_STATE_SUBDIR,
                 h->cfg.data_dir) >= (int)sizeof dir) {
        snprintf(err, errlen, "%s: path too long", h->cfg.data_dir);
        return POVTRACK_ENAMETOOLONG;
    }
    int rc = state_env_open(h, dir, err, errlen);
    if (rc != 0)
        return rc;
    MDB_envinfo info;
    if (st_mdb_rc(mdb_env_info(h->state, &info)) == 0 &&
        info.me_mapsize > h->map_size)
        h->map_size = info.me_mapsize;
    int dead = 0;
    mdb_reader_check(h->state, &dead);

    MDB_txn *txn;
    rc = st_mdb_rc(mdb_txn_begin(h->state, NULL, 0, &txn));
    if (rc == 0)
        rc = st_mdb_rc(mdb_dbi_open(txn, PT_STATE_CURSORS_DB, MDB_CREATE,
                                    &h->cursors_dbi));
    if (rc == 0)
        rc = st_mdb_rc(mdb_dbi_open(txn, PT_STATE_LAYOUTS_DB, MDB_CREATE,
                                    &h->layouts_dbi));
    if (rc == 0)
        rc = st_mdb_rc(mdb_dbi_open(txn, PT_STATE_APPLYING_DB, MDB_CREATE,
                                    &h->applying_dbi));
    if (rc == 0)
        rc = st_mdb_rc(mdb_dbi_open(txn, "alerts", MDB_CREATE, &h->alerts_dbi));
    if (rc == 0)
        rc = st_mdb_rc(
            mdb_dbi_open(txn, "quarantine", MDB_CREATE, &h->quarantine_dbi));
    if (rc == 0)
        rc = st_mdb_rc(mdb_txn_commit(txn));
    else
        mdb_txn_abort(txn);
    if (rc != 0)
        snprintf(err, errlen, "%s: %s", dir, st_strerror(rc));
    return rc;
}

static int state_grow(struct pt_host *h)
{
    if (h->map_size > SIZE_MAX / 2)
        return MDB_MAP_FULL;
    size_t size = h->map_size * 2;
    int rc = st_mdb_rc(mdb_env_set_mapsize(h->state, size));
    if (rc == 0) {
        h->map_size = size;
        pt_logf(&h->log, PT_LOG_INFO, "state map grown to %zu MiB", size >> 20);
    }
    return rc;
}

/* ---- plugins ---- */

/* dlopen the plugin and check its descriptor against this host. */
static int plugin_bind(struct pt_plugin *p, const struct pt_plugin_conf *conf,
                       char *err, size_t errlen)
{
    p->conf = conf;
    p->dl = dlopen(conf->path, RTLD_NOW | RTLD_LOCAL);
    if (p->dl == NULL) {
        snprintf(err, errlen, "plugin %s: cannot load %s: %s", conf->name,
                 conf->path, dlerror());
        return POVTRACK_EPLUGIN;
    }
    povtrack_plugin_entry_fn entry;
    *(void **)&entry = dlsym(p->dl, POVTRACK_PLUGIN_ENTRY);
    if (entry == NULL) {
        snprintf(err, errlen, "plugin %s: %s does not export %s()", conf->name,
                 conf->path, POVTRACK_PLUGIN_ENTRY);
        return POVTRACK_EPLUGIN;
    }
    const struct povtrack_plugin *d = entry();
    if (d == NULL || d->abi_version != POVTRACK_PLUGIN_ABI_VERSION) {
        snprintf(err, errlen,
                 "plugin %s: %s was built for plugin ABI %u, this povtrackd "
                 "speaks ABI %d: rebuild it against this povtrack/plugin.h",
                 conf->name, conf->path, d == NULL ? 0 : d->abi_version,
                 POVTRACK_PLUGIN_ABI_VERSION);
        return POVTRACK_EPLUGIN;
    }
    if (d->size < PLUGIN_SIZE_MIN || d->name == NULL || d->version == NULL ||
        d->apply == NULL || d->query == NULL) {
        snprintf(err, errlen,
                 "plugin %s: %s has an incomplete descriptor (size %u; "
                 "name, version, apply and query are required)",
                 conf->name, conf->path, d->size);
        return POVTRACK_EPLUGIN;
    }
    if (strcmp(d->name, conf->name) != 0) {
        snprintf(err, errlen,
                 "plugin %s: %s calls itself \"%s\"; configure it as "
                 "[plugin.%s]",
                 conf->name, conf->path, d->name, d->name);
        return POVTRACK_EPLUGIN;
    }
    int rc = config_map_check(d, err, errlen);
    if (rc != 0)
        return rc;
    p->desc = d;
    return 0;
}

/* ---- config maps ---- */

/* The plugin's config map, NULL when it declares none (or was built before
 * the field). */
static const struct povtrack_config_key *
config_map(const struct povtrack_plugin *d)
{
    return d->size >= POVTRACK_PLUGIN_SIZE_CONFIG ? d->config_map : NULL;
}

/* Entry i of a map, whose entries are config_key_size bytes apart (a
 * plugin built with a larger entry keeps its members in front). */
static const struct povtrack_config_key *
config_entry(const struct povtrack_plugin *d, size_t i)
{
    return (const struct povtrack_config_key *)((const char *)d->config_map +
                                                i * d->config_key_size);
}

/* A name with a '*' in it matches a family of keys and has no default. */
static int config_is_pattern(const char *name)
{
    return strchr(name, '*') != NULL;
}

/* Refuse a malformed map: the plugin's bug, told as such at load.  0, or
 * POVTRACK_EPLUGIN with err set. */
static int config_map_check(const struct povtrack_plugin *d, char *err,
                            size_t errlen)
{
    if (config_map(d) == NULL)
        return 0;
    if (d->config_key_size < CONFIG_KEY_SIZE_MIN) {
        snprintf(err, errlen,
                 "plugin %s: its config map's entries are %u bytes, this "
                 "povtrackd reads %zu: rebuild it against this "
                 "povtrack/plugin.h",
                 d->name, d->config_key_size, (size_t)CONFIG_KEY_SIZE_MIN);
        return POVTRACK_EPLUGIN;
    }
    for (size_t i = 0;; i++) {
        if (i == CONFIG_MAP_MAX) {
            snprintf(err, errlen,
                     "plugin %s: its config map has no end (an entry with "
                     "name NULL) within %d entries",
                     d->name, CONFIG_MAP_MAX);
            return POVTRACK_EPLUGIN;
        }
        const struct povtrack_config_key *k = config_entry(d, i);
        if (k->name == NULL)
            return 0;
        const char *why = NULL;
        if (k->name[0] == '\0' || strcmp(k->name, "path") == 0)
            why = "is empty or \"path\", which is the host's";
        else if (povtrack_config_type_name(k->type) == NULL)
            why = "has no valid type";
        else if (k->default_value != NULL && config_is_pattern(k->name))
            why = "matches several keys, and has a default";
        else if (k->default_value != NULL &&
                 !povtrack_config_value_ok(k->type, k->default_value))
            why = "has a default not of its type";
        if (why != NULL) {
            snprintf(err, errlen,
                     "plugin %s: its config map entry \"%s\" %s (a bug of "
                     "the plugin)",
                     d->name, k->name, why);
            return POVTRACK_EPLUGIN;
        }
    }
}

/* The entry key matches, or NULL. */
static const struct povtrack_config_key *
config_find(const struct povtrack_plugin *d, const char *key)
{
    for (size_t i = 0; config_entry(d, i)->name != NULL; i++)
        if (povtrack_config_key_matches(config_entry(d, i)->name, key))
            return config_entry(d, i);
    return NULL;
}

/*
 * Check the plugin's [plugin.NAME] section against its config map: every
 * key known (or "path"), every value of its type.  An operator's error,
 * told as an unknown [daemon] key is: the file, the section and the key.
 * 0, or POVTRACK_ECONFIG with err set.
 */
static int plugin_check_config(const struct pt_host *h,
                               const struct pt_plugin *p, char *err,
                               size_t errlen)
{
    const struct povtrack_plugin *d = p->desc;
    const struct pt_plugin_conf *pc = p->conf;
    const char *file =
        h->cfg.config_file[0] != '\0' ? h->cfg.config_file : "configuration";
    if (config_map(d) == NULL)
        return 0;
    for (size_t i = 0; i < pc->nkeys; i++) {
        const char *key = pc->keys[i].key, *value = pc->keys[i].value;
        if (strcmp(key, "path") == 0)
            continue;
        const struct povtrack_config_key *k = config_find(d, key);
        if (k == NULL) {
            char known[512] = "";
            size_t used = 0;
            for (size_t j = 0; config_entry(d, j)->name != NULL; j++) {
                int n =
                    snprintf(known + used, sizeof known - used, "%s%s",
                             used > 0 ? ", " : "", config_entry(d, j)->name);
                if (n < 0 || (size_t)n >= sizeof known - used)
                    break;
                used += (size_t)n;
            }
            snprintf(err, errlen, "%s: [plugin.%s] has no key \"%s\" (%s%s)",
                     file, pc->name, key,
                     used > 0 ? "known: " : "it takes none", known);
            return POVTRACK_ECONFIG;
        }
        if (!povtrack_config_value_ok(k->type, value)) {
            snprintf(err, errlen, "%s: [plugin.%s] %s: must be %s, got '%s'",
                     file, pc->name, key, povtrack_config_type_name(k->type),
                     value);
            return POVTRACK_ECONFIG;
        }
    }
    return 0;
}

static int plugin_init(struct pt_host *h, struct pt_plugin *p, char *err,
                       size_t errlen)
{
    if (p->desc->init == NULL)
        return 0;
    struct povtrack_ctx ctx = {.host = h, .plugin = p};
    pt_guard_enter(h->guard, p->desc->name, PT_CALL_INIT, p->applied);
    int rc = p->desc->init(&ctx, &host_api, &p->state);
    pt_guard_leave(h->guard);
    if (rc != 0) {
        snprintf(err, errlen,
                 "plugin %s: init failed (see the plugin's message above)",
                 p->desc->name);
        /* Not the plugin's own code, which may be any int at all. */
        return POVTRACK_EPLUGIN;
    }
    return 0;
}

/* The state layout a plugin declares: 0 (none) for a descriptor from
 * before the field. */
static uint32_t plugin_layout(const struct povtrack_plugin *d)
{
    return d->size >= PLUGIN_SIZE_LAYOUT ? d->state_layout : 0;
}

/* What the layouts database says of a plugin's state. */
struct layout_record {
    int found; /* 0: none, or not PT_STATE_LAYOUT_LEN bytes */
    uint32_t layout;
    uint64_t seq; /* the cursor it was recorded with */
};

/* Open the plugin's database and read its cursor and recorded layout. */
static int plugin_attach(struct pt_host *h, struct pt_plugin *p,
                         struct layout_record *lr, char *err, size_t errlen)
{
    const char *name = p->desc->name;
    char dbname[PT_PLUGIN_NAME_MAX + 2];
    snprintf(dbname, sizeof dbname, "p.%s", name);
    memset(lr, 0, sizeof *lr);
    MDB_txn *txn;
    int rc = st_mdb_rc(mdb_txn_begin(h->state, NULL, 0, &txn));
    if (rc == 0)
        rc = st_mdb_rc(mdb_dbi_open(txn, dbname, MDB_CREATE, &p->dbi));
    MDB_val key = {strlen(name), (void *)name}, val;
    if (rc == 0) {
        rc = st_mdb_rc(mdb_get(txn, h->cursors_dbi, &key, &val));
        if (rc == 0 && val.mv_size == 8)
            p->applied = pt_get_be64(val.mv_data);
        else if (rc == MDB_NOTFOUND)
            rc = 0;
    }
    if (rc == 0) {
        rc = st_mdb_rc(mdb_get(txn, h->layouts_dbi, &key, &val));
        if (rc == 0 && val.mv_size == PT_STATE_LAYOUT_LEN) {
            lr->found = 1;
            lr->layout = pt_get_be32(val.mv_data);
            lr->seq = pt_get_be64((const unsigned char *)val.mv_data + 4);
        } else if (rc == MDB_NOTFOUND) {
            rc = 0;
        }
    }
    p->stepping_seq = 0;
    p->stepping_alerts = 0;
    if (rc == 0) {
        rc = st_mdb_rc(mdb_get(txn, h->applying_dbi, &key, &val));
        if (rc == 0 && val.mv_size == PT_STATE_APPLYING_LEN &&
            pt_get_be64(val.mv_data) == p->applied + 1) {
            p->stepping_seq = p->applied + 1;
            p->stepping_alerts =
                pt_get_be32((const unsigned char *)val.mv_data + 8);
        } else if (rc == 0 || rc == MDB_NOTFOUND) {
            rc = 0; /* none, or left behind by another cursor: no steps */
        }
    }
    if (rc == 0)
        rc = st_mdb_rc(mdb_txn_commit(txn));
    else
        mdb_txn_abort(txn);
    if (rc != 0)
        snprintf(err, errlen, "plugin %s: state: %s", name, st_strerror(rc));
    return rc;
}

/* Unload the code; the slot keeps its configuration, cursor and
 * quarantine. */
static void plugin_unload(struct pt_plugin *p)
{
    if (p->desc != NULL && p->desc->fini != NULL && p->state != NULL)
        p->desc->fini(p->state);
    if (p->dl != NULL)
        dlclose(p->dl);
    p->dl = NULL;
    p->desc = NULL;
    p->state = NULL;
}

/* The configured name, never the descriptor's: they are equal once the
 * plugin is bound (plugin_bind checks it), but the descriptor's lives in
 * the .so, and resume and rebuild unload it while they still name it. */
const char *pt_plugin_name(const struct pt_plugin *p)
{
    return p->conf->name;
}

struct pt_plugin *pt_host_plugin(struct pt_host *h, const char *name,
                                 size_t len)
{
    for (size_t i = 0; i < h->nplugins; i++) {
        const char *n = pt_plugin_name(&h->plugins[i]);
        if (strlen(n) == len && memcmp(n, name, len) == 0)
            return &h->plugins[i];
    }
    return NULL;
}

static struct pt_host *host_new(const struct pt_config *cfg)
{
    struct pt_host *h = calloc(1, sizeof *h);
    if (h == NULL)
        return NULL;
    h->cfg = *cfg;
    h->log.level = cfg->log_level;
    h->log.proc = "host";
    h->map_size = STATE_MAP_INITIAL;
    h->apply_budget_ms = APPLY_BUDGET_MS;
    h->started = (int64_t)time(NULL);
    if (!msgpack_zone_init(&h->zone, MSGPACK_ZONE_CHUNK_SIZE)) {
        free(h);
        return NULL;
    }
    if ((h->wcache = pt_wcache_new()) == NULL) {
        msgpack_zone_destroy(&h->zone);
        free(h);
        return NULL;
    }
    return h;
}

static int quarantine_save(struct pt_host *h, MDB_txn *txn,
                           struct pt_plugin *p);

/* Quarantine p now, in a transaction of its own (no other may be open). */
static void quarantine_now(struct pt_host *h, struct pt_plugin *p,
                           const char *why)
{
    p->quarantined = 1;
    p->quarantine_unsaved = 1;
    snprintf(p->error, sizeof p->error, "%s", why);
    pt_logf(&h->log, PT_LOG_ERROR,
            "plugin %s quarantined: %s; its state is kept at seq %llu and the "
            "other plugins go on ('povtrack plugin resume %s' once it is "
            "fixed)",
            pt_plugin_name(p), p->error, (unsigned long long)p->applied,
            pt_plugin_name(p));
    MDB_txn *txn;
    int rc = st_mdb_rc(mdb_txn_begin(h->state, NULL, 0, &txn));
    if (rc == 0)
        rc = quarantine_save(h, txn, p);
    if (rc == 0)
        rc = st_mdb_rc(mdb_txn_commit(txn));
    else
        mdb_txn_abort(txn);
    if (rc == 0) {
        p->quarantine_unsaved = 0;
        publish_pending(h);
    } else {
        pending_clear(h);
        pt_logf(&h->log, PT_LOG_ERROR,
                "plugin %s: cannot record the quarantine yet: %s (retried "
                "with the next commit)",
                pt_plugin_name(p), st_strerror(rc));
    }
}

/* Read p's cursor and quarantine record; 0, or a storage error. */
static int plugin_status(struct pt_host *h, struct pt_plugin *p)
{
    const char *name = pt_plugin_name(p);
    MDB_txn *txn;
    int rc = st_mdb_rc(mdb_txn_begin(h->state, NULL, MDB_RDONLY, &txn));
    if (rc != 0)
        return rc;
    MDB_val key = {strlen(name), (void *)name}, val;
    rc = st_mdb_rc(mdb_get(txn, h->cursors_dbi, &key, &val));
    if (rc == 0 && val.mv_size == 8)
        p->applied = pt_get_be64(val.mv_data);
    if (rc == 0 || rc == MDB_NOTFOUND)
        rc = st_mdb_rc(mdb_get(txn, h->quarantine_dbi, &key, &val));
    if (rc == 0) {
        p->quarantined = 1;
        size_t n = val.mv_size < sizeof p->error - 1 ? val.mv_size
                                                     : sizeof p->error - 1;
        memcpy(p->error, val.mv_data, n);
        p->error[n] = '\0';
    }
    mdb_txn_abort(txn);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/*
 * p is loaded: when it declares a state layout and its state (cursor > 0)
 * was built with another one, or none is recorded for its cursor (a state
 * from before layouts were recorded, or advanced since by a host that did
 * not record them), drop its state and cursor as `povtrack rebuild` does;
 * the catch-up then applies the whole log to it again.  Done after init, so
 * that a plugin that cannot load keeps the state an older version may still
 * use; init cannot read the state, so nothing it keeps is stale.  0, or a
 * storage error with err set and nothing changed.
 */
static int plugin_check_layout(struct pt_host *h, struct pt_plugin *p,
                               const struct layout_record *lr, char *err,
                               size_t errlen)
{
    const char *name = p->desc->name;
    uint32_t want = plugin_layout(p->desc);
    if (want == 0 || p->applied == 0 ||
        (lr->found && lr->seq == p->applied && lr->layout == want))
        return 0;
    char why[256];
    if (!lr->found)
        snprintf(why, sizeof why,
                 "its state records no layout, it was written before layouts "
                 "were recorded");
    else if (lr->seq != p->applied)
        snprintf(why, sizeof why,
                 "its state was recorded with layout %u at seq %llu and "
                 "applied up to seq %llu since by a povtrackd that does not "
                 "record layouts",
                 lr->layout, (unsigned long long)lr->seq,
                 (unsigned long long)p->applied);
    else if (lr->layout == 0)
        snprintf(why, sizeof why,
                 "its state was written by a version that declared no layout");
    else
        snprintf(why, sizeof why, "state layout %u was written by %s version",
                 lr->layout, lr->layout < want ? "an older" : "another");
    char ferr[512];
    int rc = state_forget(h, name, h->cursors_dbi, &p->dbi, ferr, sizeof ferr);
    if (rc != 0) {
        snprintf(err, errlen,
                 "plugin %s: %s (this one writes %u); dropping it "
                 "for a rebuild failed: %s",
                 name, why, want, ferr);
        return rc;
    }
    pt_logf(&h->log, PT_LOG_WARN,
            "plugin %s: %s (this one writes %u): rebuilding it from the log",
            name, why, want);
    p->applied = 0;
    p->stepping_seq = 0;
    return 0;
}

/* Load p's code: dlopen, descriptor, its config section against its
 * config map, database, init, and drop a state of another layout.  0, or
 * POVTRACK_EPLUGIN (the plugin's fault), POVTRACK_ECONFIG (the config
 * section's) or a storage error, with err set and nothing of p loaded. */
static int plugin_load(struct pt_host *h, struct pt_plugin *p, char *err,
                       size_t errlen)
{
    struct layout_record lr;
    int rc = plugin_bind(p, p->conf, err, errlen);
    if (rc == 0)
        rc = plugin_check_config(h, p, err, errlen);
    if (rc == 0)
        rc = plugin_attach(h, p, &lr, err, errlen);
    if (rc == 0)
        rc = plugin_init(h, p, err, errlen);
    if (rc == 0)
        rc = plugin_check_layout(h, p, &lr, err, errlen);
    if (rc != 0)
        plugin_unload(p);
    return rc;
}

/* The daemon's way: a plugin that cannot load is quarantined with the
 * reason, never the host stopped. */
static void plugin_load_or_quarantine(struct pt_host *h, struct pt_plugin *p)
{
    char err[PATH_MAX + 512];
    if (plugin_load(h, p, err, sizeof err) != 0)
        quarantine_now(h, p, err);
}

static int host_start(struct pt_host *h, int use_guard, char *err,
                      size_t errlen)
{
    int src = st_reader_begin(h->events, &h->reader);
    if (src != 0) {
        snprintf(err, errlen, "%s/log: %s", h->cfg.data_dir, st_strerror(src));
        return src;
    }
    /* Hold no snapshot between operations: it would pin old pages and
     * stop the writer from growing the map. */
    st_reader_reset(h->reader);
    int rc = state_open(h, err, errlen);
    if (rc != 0)
        return rc;
    struct pt_guard_failure last;
    memset(&last, 0, sizeof last);
    if (use_guard) {
        char path[PATH_MAX];
        if (snprintf(path, sizeof path, "%s/" PT_DATA_GUARD_FILE,
                     h->cfg.data_dir) >= (int)sizeof path) {
            snprintf(err, errlen, "%s: path too long", h->cfg.data_dir);
            return POVTRACK_ENAMETOOLONG;
        }
        rc = pt_guard_open(path, h->cfg.plugin_timeout_ms, &h->log, &h->guard,
                           &last, err, errlen);
        if (rc != 0)
            return rc;
        if (last.died_in_call)
            pt_logf(&h->log, PT_LOG_WARN,
                    "the previous plugin host %s in %s of plugin %s at seq "
                    "%llu (%u of %d strikes)",
                    last.hung ? "hung" : "crashed",
                    pt_guard_call_name(last.call), last.plugin,
                    (unsigned long long)last.seq, last.strikes,
                    PT_GUARD_STRIKES);
    }
    for (size_t i = 0; i < h->cfg.nplugins; i++) {
        struct pt_plugin *p = &h->plugins[i];
        h->nplugins = i + 1;
        p->conf = &h->cfg.plugins[i];
        rc = plugin_status(h, p);
        if (rc != 0) {
            snprintf(err, errlen, "plugin %s: state: %s", p->conf->name,
                     st_strerror(rc));
            return rc;
        }
        if (p->quarantined) {
            pt_logf(&h->log, PT_LOG_WARN,
                    "plugin %s is quarantined (%s): not loaded; 'povtrack "
                    "plugin resume %s' after fixing it",
                    p->conf->name, p->error, p->conf->name);
            continue;
        }
        if (last.died_in_call && last.strikes >= PT_GUARD_STRIKES &&
            strcmp(last.plugin, p->conf->name) == 0) {
            char why[256];
            snprintf(why, sizeof why, "%s %d times in %s of seq %llu",
                     last.hung ? "hung" : "crashed the plugin host",
                     PT_GUARD_STRIKES, pt_guard_call_name(last.call),
                     (unsigned long long)last.seq);
            quarantine_now(h, p, why);
            pt_guard_forgive(h->guard, p->conf->name);
            continue;
        }
        /* In-process (tests, tools) a plugin that cannot load fails the
         * open: there is no operator to resume it.  Nor is there one for a
         * section its config map refuses: the operator's to mend, and
         * the daemon's to refuse at start (POVTRACK_ECONFIG). */
        rc = plugin_load(h, p, err, errlen);
        if (rc != 0 && (!use_guard || rc == POVTRACK_ECONFIG))
            return rc;
        if (rc != 0)
            quarantine_now(h, p, err);
        unsigned held = pt_guard_held_ms(h->guard, p->conf->name);
        if (held > 0 && !p->quarantined) {
            p->held_until_ms = mono_ms() + held;
            pt_logf(&h->log, PT_LOG_WARN,
                    "plugin %s is held back from apply and tick for %u ms "
                    "after failing a plugin host; the other plugins go on",
                    p->conf->name, held);
        }
    }
    return 0;
}

static int host_open(const struct pt_config *cfg, int guarded,
                     struct pt_host **out, char *err, size_t errlen)
{
    struct pt_host *h = host_new(cfg);
    if (h == NULL) {
        snprintf(err, errlen, "out of memory");
        return POVTRACK_ENOMEM;
    }
    char dir[PATH_MAX];
    int rc = POVTRACK_ENAMETOOLONG;
    if (snprintf(dir, sizeof dir, "%s/" PT_DATA_LOG_SUBDIR, cfg->data_dir) >=
        (int)sizeof dir)
        snprintf(err, errlen, "%s: path too long", cfg->data_dir);
    else if ((rc = st_log_open(dir, ST_OPEN_READONLY, &h->events, err,
                               errlen)) == 0) {
        h->owns_events = 1;
        rc = host_start(h, guarded, err, errlen);
    }
    if (rc != 0) {
        pt_host_close(h);
        return rc;
    }
    *out = h;
    return 0;
}

int pt_host_open(const struct pt_config *cfg, struct pt_host **out, char *err,
                 size_t errlen)
{
    return host_open(cfg, 0, out, err, errlen);
}

int pt_host_open_guarded(const struct pt_config *cfg, struct pt_host **out,
                         char *err, size_t errlen)
{
    return host_open(cfg, 1, out, err, errlen);
}

int pt_host_open_log(const struct pt_config *cfg, struct st_log *events,
                     struct pt_host **out, char *err, size_t errlen)
{
    struct pt_host *h = host_new(cfg);
    if (h == NULL) {
        snprintf(err, errlen, "out of memory");
        return POVTRACK_ENOMEM;
    }
    h->events = events;
    int rc = host_start(h, 0, err, errlen);
    if (rc != 0) {
        pt_host_close(h);
        return rc;
    }
    *out = h;
    return 0;
}

/* Forget the alerts queued after the first keep (their transaction was
 * rolled back). */
static void pending_drop(struct pt_host *h, size_t keep)
{
    for (size_t i = keep; i < h->npending; i++)
        free(h->pending[i].body);
    h->npending = keep;
}

static void pending_clear(struct pt_host *h)
{
    pending_drop(h, 0);
}

void pt_host_close(struct pt_host *h)
{
    if (h == NULL)
        return;
    for (size_t i = 0; i < h->nplugins; i++)
        plugin_unload(&h->plugins[i]);
    pending_clear(h);
    free(h->pending);
    msgpack_zone_destroy(&h->zone);
    pt_wcache_free(h->wcache);
    if (h->reader != NULL)
        st_reader_end(h->reader);
    if (h->owns_events)
        st_log_close(h->events);
    if (h->state != NULL)
        mdb_env_close(h->state);
    pt_guard_close(h->guard);
    pt_ingest_stats_close_ro(h->ingest_stats);
    pt_host_mirror_close(h);
    free(h);
}

/* ---- host functions handed to plugins ---- */

/* Remember the first storage error: the host aborts the batch on it even
 * if the plugin ignored the return code.  The plugin gets the code itself
 * (<povtrack/plugin.h>: POVTRACK_EIO, POVTRACK_ENOSPC, MDB_MAP_FULL ...):
 * one error space, so there is nothing to translate. */
static int storage_error(povtrack_ctx *ctx, int rc)
{
    if (ctx->storage_rc == 0)
        ctx->storage_rc = rc;
    return rc;
}

static int host_get(povtrack_ctx *ctx, const void *key, size_t klen,
                    const void **val, size_t *vlen)
{
    if (ctx->txn == NULL)
        return POVTRACK_ENOSTATE;
    if (klen == 0 || klen > POVTRACK_KEY_MAX)
        return POVTRACK_EINVAL;
    if (ctx->cached) {
        int rc = pt_wcache_get(ctx->host->wcache, ctx->txn, ctx->plugin->dbi,
                               key, klen, val, vlen);
        if (rc == MDB_NOTFOUND)
            return POVTRACK_NOTFOUND;
        return rc == 0 ? 0 : storage_error(ctx, rc);
    }
    MDB_val k = {klen, (void *)key}, v;
    int rc = st_mdb_rc(mdb_get(ctx->txn, ctx->plugin->dbi, &k, &v));
    if (rc == MDB_NOTFOUND)
        return POVTRACK_NOTFOUND;
    if (rc != 0)
        return storage_error(ctx, rc);
    *val = v.mv_data;
    *vlen = v.mv_size;
    return 0;
}

static int host_put(povtrack_ctx *ctx, const void *key, size_t klen,
                    const void *val, size_t vlen)
{
    if (ctx->txn == NULL)
        return POVTRACK_ENOSTATE;
    if (!ctx->writable)
        return POVTRACK_EROFS;
    if (klen == 0 || klen > POVTRACK_KEY_MAX)
        return POVTRACK_EINVAL;
    int rc;
    if (ctx->cached) {
        rc = pt_wcache_put(ctx->host->wcache, ctx->txn, ctx->plugin->dbi, key,
                           klen, val, vlen);
    } else {
        MDB_val k = {klen, (void *)key}, v = {vlen, (void *)val};
        rc = st_mdb_rc(mdb_put(ctx->txn, ctx->plugin->dbi, &k, &v, 0));
    }
    return rc == 0 ? 0 : storage_error(ctx, rc);
}

static int host_del(povtrack_ctx *ctx, const void *key, size_t klen)
{
    if (ctx->txn == NULL)
        return POVTRACK_ENOSTATE;
    if (!ctx->writable)
        return POVTRACK_EROFS;
    if (klen == 0 || klen > POVTRACK_KEY_MAX)
        return POVTRACK_EINVAL;
    MDB_val k = {klen, (void *)key};
    int rc = ctx->cached
                 ? pt_wcache_del(ctx->host->wcache, ctx->txn, ctx->plugin->dbi,
                                 key, klen)
                 : st_mdb_rc(mdb_del(ctx->txn, ctx->plugin->dbi, &k, NULL));
    if (rc == MDB_NOTFOUND)
        return POVTRACK_NOTFOUND;
    return rc == 0 ? 0 : storage_error(ctx, rc);
}

/* Is key below the exclusive upper bound? */
static int key_before(const MDB_val *k, const void *to, size_t tlen)
{
    if (to == NULL)
        return 1;
    size_t n = k->mv_size < tlen ? k->mv_size : tlen;
    int c = memcmp(k->mv_data, to, n);
    return c < 0 || (c == 0 && k->mv_size < tlen);
}

static int host_scan(povtrack_ctx *ctx, const void *from, size_t flen,
                     const void *to, size_t tlen, povtrack_scan_fn fn,
                     void *arg)
{
    if (ctx->txn == NULL)
        return POVTRACK_ENOSTATE;
    /* The scan reads LMDB: first the writes it has not seen. */
    int rc = ctx->cached ? pt_wcache_flush(ctx->host->wcache, ctx->txn,
                                           ctx->plugin->dbi, 0)
                         : 0;
    if (rc != 0)
        return storage_error(ctx, rc);
    MDB_cursor *cur;
    rc = st_mdb_rc(mdb_cursor_open(ctx->txn, ctx->plugin->dbi, &cur));
    if (rc != 0)
        return storage_error(ctx, rc);
    MDB_val k = {flen, (void *)from}, v;
    rc = flen == 0 ? st_mdb_rc(mdb_cursor_get(cur, &k, &v, MDB_FIRST))
                   : st_mdb_rc(mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE));
    int ret = 0;
    while (rc == 0 && key_before(&k, to, tlen)) {
        ret = fn(arg, k.mv_data, k.mv_size, v.mv_data, v.mv_size);
        if (ret != 0)
            break;
        rc = st_mdb_rc(mdb_cursor_get(cur, &k, &v, MDB_NEXT));
    }
    mdb_cursor_close(cur);
    if (ret != 0)
        return ret;
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : storage_error(ctx, rc);
}

static int host_unit(povtrack_ctx *ctx, struct ev_str code, struct ev_unit *out)
{
    if (ctx->txn == NULL)
        return POVTRACK_ENOSTATE;
    int rc = st_reader_unit(ctx->host->reader, code, out);
    return rc == 0 || rc == POVTRACK_NOTFOUND ? rc : storage_error(ctx, rc);
}

/* The registry a call sees: apply and tick see it as of the record the
 * plugin is at, so that a change recorded later never alters what was
 * rolled up before it (rebuilds give the live state); a query sees the
 * whole log. */
static uint64_t units_as_of(const povtrack_ctx *ctx)
{
    return ctx->writable ? ctx->seq : UINT64_MAX;
}

static int host_unit_at_as_of(povtrack_ctx *ctx, struct ev_str code, int64_t at,
                              uint64_t version, struct povtrack_unit *out)
{
    if (ctx->txn == NULL)
        return POVTRACK_ENOSTATE;
    if (out == NULL || out->size < offsetof(struct povtrack_unit, level))
        return POVTRACK_EINVAL;
    struct ev_history h;
    int rc = st_reader_history(ctx->host->reader, code, &h);
    if (rc == POVTRACK_ENOTFOUND)
        return POVTRACK_NOTFOUND;
    if (rc != 0)
        return storage_error(ctx, rc);
    uint64_t as_of = units_as_of(ctx);
    ev_history_as_of(&h, version < as_of ? version : as_of);
    if (h.n == 0)
        return POVTRACK_NOTFOUND;
    int i = ev_history_find(&h, at), ret = 0;
    if (i < 0) {
        i = ev_history_latest(&h, at);
        if (i < 0)
            i = 0;
        ret = POVTRACK_NOTINFORCE;
    }
    const struct ev_span *s = &h.span[i];
    struct povtrack_unit u = {
        .size = out->size,
        .code = code,
        .name = s->name,
        .parent = s->parent,
        .level = s->level,
        .from = s->from,
        .to = s->to,
        .ended_by = s->ended_by,
        .successor = s->successor,
    };
    /* A plugin built with a smaller struct gets what fits. */
    memcpy(out, &u, out->size < sizeof u ? out->size : sizeof u);
    return ret;
}

static int host_unit_at(povtrack_ctx *ctx, struct ev_str code, int64_t at,
                        struct povtrack_unit *out)
{
    return host_unit_at_as_of(ctx, code, at, UINT64_MAX, out);
}

static int host_unit_map_as_of(povtrack_ctx *ctx, struct ev_str code,
                               int64_t from, int64_t to, uint64_t version,
                               struct ev_str *out)
{
    if (ctx->txn == NULL)
        return POVTRACK_ENOSTATE;
    if (out == NULL)
        return POVTRACK_EINVAL;
    struct st_registry sr;
    uint64_t as_of = units_as_of(ctx);
    st_reader_registry(ctx->host->reader, version < as_of ? version : as_of,
                       &sr);
    int rc = ev_unit_map(&sr.reg, code, from, to, out);
    if (rc == 0 || rc == POVTRACK_NOTFOUND || rc == POVTRACK_EINVAL)
        return rc;
    return storage_error(ctx, rc);
}

static int host_unit_map(povtrack_ctx *ctx, struct ev_str code, int64_t from,
                         int64_t to, struct ev_str *out)
{
    return host_unit_map_as_of(ctx, code, from, to, UINT64_MAX, out);
}

static uint64_t host_units_seq(povtrack_ctx *ctx)
{
    if (ctx->writable && !ctx->tick)
        return ctx->host->units_version;
    uint64_t version = 0, next;
    if (ctx->txn == NULL ||
        st_reader_units_seq(ctx->host->reader, units_as_of(ctx), &version,
                            &next) != 0)
        return UINT64_MAX; /* no version: nothing may be kept */
    return version;
}

static const char *const severity_names[] = {"info", "warning", "critical"};

static int pending_push(struct pt_host *h, const char *code,
                        const msgpack_sbuffer *body)
{
    if (h->pub == NULL)
        return 0; /* in-process: nobody to publish to */
    if (h->npending == h->cappending) {
        size_t cap = h->cappending ? h->cappending * 2 : 16;
        void *p = realloc(h->pending, cap * sizeof *h->pending);
        if (p == NULL)
            return POVTRACK_ENOMEM;
        h->pending = p;
        h->cappending = cap;
    }
    struct pending_alert *a = &h->pending[h->npending];
    a->body = malloc(body->size);
    if (a->body == NULL)
        return POVTRACK_ENOMEM;
    memcpy(a->body, body->data, body->size);
    a->len = body->size;
    snprintf(a->topic, sizeof a->topic, "alert.%s", code);
    h->npending++;
    return 0;
}

void pt_pack_cstr(msgpack_packer *pk, const char *s)
{
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

#define ALERT_KEY_MAX (8 + PT_PLUGIN_NAME_MAX + 1 + 8 + 4)

/* An alert's key: (seq, source, kind[, now], ordinal), big-endian numbers,
 * so that the alerts database lists by sequence.  kind 0 is apply (the key
 * depends only on the log, so a rebuild rewrites the same keys), 1 is tick
 * (the tick's time makes it unique across ticks), 2 is the host's own.
 * Returns the length; the ordinal is the last 4 bytes. */
static size_t alert_key(unsigned char key[ALERT_KEY_MAX], const char *source,
                        int kind, uint64_t seq, int64_t now, uint32_t ordinal)
{
    size_t nlen = strlen(source), klen;
    pt_put_be64(key, seq);
    memcpy(key + 8, source, nlen);
    klen = 8 + nlen;
    key[klen++] = (unsigned char)kind;
    if (kind != 0) {
        pt_put_be64(key + klen, (uint64_t)now);
        klen += 8;
    }
    pt_put_be32(key + klen, ordinal);
    return klen + 4;
}

/* Store an alert under its key (alert_key) in txn and queue it for
 * publishing after the commit. */
static int alert_store(struct pt_host *h, MDB_txn *txn, const char *source,
                       int kind, uint64_t seq, int64_t now, uint32_t ordinal,
                       const struct povtrack_alert *a)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, a->household != NULL ? 8 : 7);
    pt_pack_cstr(&pk, "plugin");
    pt_pack_cstr(&pk, source);
    /* A plugin's text goes out to subscribers and the alerts op as it is
     * stored: a message cut mid-character by a plugin's snprintf must not
     * make the whole alert unreadable to a strict decoder. */
    pt_pack_cstr(&pk, "code");
    pt_pack_cstr(&pk, a->code);
    pt_pack_cstr(&pk, "severity");
    pt_pack_cstr(&pk, severity_names[a->severity]);
    pt_pack_cstr(&pk, "unit");
    povtrack_proto_pack_text(&pk, a->unit, strlen(a->unit));
    if (a->household != NULL) {
        pt_pack_cstr(&pk, "household");
        povtrack_proto_pack_text(&pk, a->household, strlen(a->household));
    }
    pt_pack_cstr(&pk, "message");
    povtrack_proto_pack_text(&pk, a->message, strlen(a->message));
    pt_pack_cstr(&pk, "at");
    msgpack_pack_int64(&pk, a->at);
    pt_pack_cstr(&pk, "seq");
    msgpack_pack_uint64(&pk, seq);

    unsigned char key[ALERT_KEY_MAX];
    size_t klen = alert_key(key, source, kind, seq, now, ordinal);
    MDB_val k = {klen, key}, v = {sb.size, sb.data};
    int rc = st_mdb_rc(mdb_put(txn, h->alerts_dbi, &k, &v, 0));
    if (rc == 0)
        rc = pending_push(h, a->code, &sb);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

/* One alert being resolved: its key, its new content and its code. */
struct resolving {
    unsigned char key[ALERT_KEY_MAX];
    size_t klen;
    msgpack_sbuffer sb;
    char code[96];
};

/* alert (a stored map) again, with "resolved_seq": by, "resolved_by":
 * the amendment's type and "resolved_reason": its reason, into r->sb and
 * its code into r->code; 1 when it is resolved already (or is not an
 * alert map), 0, or POVTRACK_ENOMEM. */
static int resolved_copy(const MDB_val *v, uint64_t by,
                         const struct ev_event *amend, struct resolving *r)
{
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    if (msgpack_unpack_next(&up, v->mv_data, v->mv_size, NULL) !=
            MSGPACK_UNPACK_SUCCESS ||
        up.data.type != MSGPACK_OBJECT_MAP ||
        povtrack_proto_map_get(&up.data, "resolved_seq") != NULL) {
        msgpack_unpacked_destroy(&up);
        return 1;
    }
    const msgpack_object *code = povtrack_proto_map_get(&up.data, "code");
    if (code != NULL && code->type == MSGPACK_OBJECT_STR &&
        code->via.str.size < sizeof r->code) {
        memcpy(r->code, code->via.str.ptr, code->via.str.size);
        r->code[code->via.str.size] = '\0';
    }
    msgpack_packer pk;
    msgpack_sbuffer_init(&r->sb);
    msgpack_packer_init(&pk, &r->sb, msgpack_sbuffer_write);
    int e = msgpack_pack_map(&pk, up.data.via.map.size + 3);
    for (uint32_t i = 0; i < up.data.via.map.size; i++) {
        e |= msgpack_pack_object(&pk, up.data.via.map.ptr[i].key);
        e |= msgpack_pack_object(&pk, up.data.via.map.ptr[i].val);
    }
    pt_pack_cstr(&pk, "resolved_seq");
    e |= msgpack_pack_uint64(&pk, by);
    pt_pack_cstr(&pk, "resolved_by");
    pt_pack_cstr(&pk, ev_type_name(amend->type));
    pt_pack_cstr(&pk, "resolved_reason");
    e |= povtrack_proto_pack_text(&pk, amend->data.remark.ptr,
                                  amend->data.remark.len);
    msgpack_unpacked_destroy(&up);
    return e == 0 ? 0 : POVTRACK_ENOMEM;
}

/*
 * The alerts plugin source raised when it applied record seq, resolved by
 * record by (amend, a void or correction of that record), in txn: each
 * keeps its key and content, gains "resolved_seq", "resolved_by" and
 * "resolved_reason", and is published again, the same alert resolved.
 * Alerts are kept, never deleted: the audit of what was raised stays.  A
 * function of the log, as the apply that calls it.
 */
static int alerts_resolve(struct pt_host *h, MDB_txn *txn, const char *source,
                          uint64_t seq, uint64_t by,
                          const struct ev_event *amend)
{
    unsigned char prefix[ALERT_KEY_MAX];
    size_t plen = alert_key(prefix, source, 0, seq, 0, 0) - 4;
    struct resolving *r = NULL;
    size_t n = 0, cap = 0;
    MDB_cursor *cur;
    int rc = st_mdb_rc(mdb_cursor_open(txn, h->alerts_dbi, &cur));
    if (rc != 0)
        return rc;
    MDB_val k = {plen + 4, prefix}, v;
    pt_put_be32(prefix + plen, 0);
    for (rc = st_mdb_rc(mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE));
         rc == 0 && k.mv_size == plen + 4 &&
         memcmp(k.mv_data, prefix, plen) == 0;
         rc = st_mdb_rc(mdb_cursor_get(cur, &k, &v, MDB_NEXT))) {
        if (n == cap) {
            size_t c = cap ? cap * 2 : 4;
            void *p = realloc(r, c * sizeof *r);
            if (p == NULL) {
                rc = POVTRACK_ENOMEM;
                break;
            }
            r = p;
            cap = c;
        }
        memset(&r[n], 0, sizeof r[n]);
        memcpy(r[n].key, k.mv_data, k.mv_size);
        r[n].klen = k.mv_size;
        int c = resolved_copy(&v, by, amend, &r[n]);
        if (c < 0) {
            msgpack_sbuffer_destroy(&r[n].sb);
            rc = c;
            break;
        }
        n += c == 0;
    }
    mdb_cursor_close(cur);
    if (rc == MDB_NOTFOUND || rc == 0)
        rc = 0;
    /* Written once the cursor is closed: a put may move its pages. */
    for (size_t i = 0; i < n; i++) {
        MDB_val rk = {r[i].klen, r[i].key}, rv = {r[i].sb.size, r[i].sb.data};
        if (rc == 0)
            rc = st_mdb_rc(mdb_put(txn, h->alerts_dbi, &rk, &rv, 0));
        if (rc == 0)
            rc = pending_push(h, r[i].code, &r[i].sb);
        msgpack_sbuffer_destroy(&r[i].sb);
    }
    free(r);
    return rc;
}

/* The part of an alert code after "<plugin>.": [a-z0-9_.]+, as the topic
 * subscribers filter on is "alert.<code>". */
static int alert_code_ok(const char *s)
{
    if (*s == '\0')
        return 0;
    for (; *s != '\0'; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '.'))
            return 0;
    return 1;
}

static int host_alert(povtrack_ctx *ctx, const struct povtrack_alert *a)
{
    struct pt_plugin *p = ctx->plugin;
    const char *name = p->desc->name;
    size_t nlen = strlen(name);
    if (ctx->txn == NULL)
        return POVTRACK_ENOSTATE; /* init */
    if (!ctx->writable)
        return POVTRACK_EROFS; /* query */
    if (a == NULL || a->size < sizeof *a || a->code == NULL ||
        strncmp(a->code, name, nlen) != 0 || a->code[nlen] != '.' ||
        strlen(a->code) >= 96 || !alert_code_ok(a->code + nlen + 1) ||
        (unsigned)a->severity > POVTRACK_CRITICAL || a->unit == NULL ||
        a->message == NULL) {
        pt_logf(&ctx->host->log, PT_LOG_ERROR,
                "plugin %s raised a malformed alert (code must be "
                "\"%s.\" and then [a-z0-9_.]; unit and message are "
                "required)",
                name, name);
        return POVTRACK_EINVAL;
    }
    int rc = alert_store(ctx->host, ctx->txn, name, ctx->tick ? 1 : 0, ctx->seq,
                         ctx->now, ctx->ordinal++, a);
    return rc == 0 ? 0 : storage_error(ctx, rc);
}

/* The first ordinal free for a host alert of source at (seq, now), in
 * txn: host alerts of the same second at the same end of the log, raised
 * by this host or by one before it (several faulty plugins quarantined at
 * start, or one after another in hosts that each lived less than a
 * second), each get their own key.  0, or a storage error. */
static int host_alert_ordinal(struct pt_host *h, MDB_txn *txn,
                              const char *source, uint64_t seq, int64_t now,
                              uint32_t *ordinal)
{
    unsigned char key[ALERT_KEY_MAX];
    size_t plen = alert_key(key, source, 2, seq, now, 0) - 4;
    MDB_cursor *cur;
    int rc = st_mdb_rc(mdb_cursor_open(txn, h->alerts_dbi, &cur));
    if (rc != 0)
        return rc;
    *ordinal = 0;
    MDB_val k = {plen + 4, key}, v;
    for (rc = st_mdb_rc(mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE));
         rc == 0 && k.mv_size == plen + 4 && memcmp(k.mv_data, key, plen) == 0;
         rc = st_mdb_rc(mdb_cursor_get(cur, &k, &v, MDB_NEXT)))
        *ordinal = pt_get_be32((const unsigned char *)k.mv_data + plen) + 1;
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND || rc == 0 ? 0 : rc;
}

int pt_host_raise(struct pt_host *h, MDB_txn *txn, const char *source,
                  const struct povtrack_alert *a)
{
    /* The host's own alerts depend on what happened to the processes, not
     * on the log: key them just past the log's end now (so "alerts since
     * the last seq I saw" lists them), by time and by an ordinal. */
    uint64_t last = 0;
    if (st_reader_renew(h->reader) == 0)
        st_reader_last_seq(h->reader, &last);
    st_reader_reset(h->reader);
    uint32_t ordinal;
    int rc = host_alert_ordinal(h, txn, source, last + 1, a->at, &ordinal);
    if (rc != 0)
        return rc;
    return alert_store(h, txn, source, 2, last + 1, a->at, ordinal, a);
}

/* Record p's quarantine (its reason under its name) and raise the critical
 * alert host.plugin_quarantined, in txn, with the plugin's name as its
 * unit (the column `povtrack alerts` shows). */
static int quarantine_save(struct pt_host *h, MDB_txn *txn, struct pt_plugin *p)
{
    const char *name = pt_plugin_name(p);
    MDB_val k = {strlen(name), (void *)name};
    MDB_val v = {strlen(p->error), p->error};
    int rc = st_mdb_rc(mdb_put(txn, h->quarantine_dbi, &k, &v, 0));
    if (rc != 0)
        return rc;
    char msg[sizeof p->error + 256];
    snprintf(msg, sizeof msg,
             "plugin %s quarantined: %s; its indicators stay at seq %llu "
             "until an operator runs 'povtrack plugin resume %s'",
             name, p->error, (unsigned long long)p->applied, name);
    struct povtrack_alert a = {.size = sizeof a,
                               .code = "host.plugin_quarantined",
                               .severity = POVTRACK_CRITICAL,
                               .unit = name,
                               .message = msg,
                               .at = (int64_t)time(NULL)};
    return pt_host_raise(h, txn, "host", &a);
}

/* Save the quarantines decided during this transaction's work. */
static int quarantines_save(struct pt_host *h, MDB_txn *txn)
{
    for (size_t i = 0; i < h->nplugins; i++) {
        struct pt_plugin *p = &h->plugins[i];
        if (p->quarantine_unsaved) {
            int rc = quarantine_save(h, txn, p);
            if (rc != 0)
                return rc;
        }
    }
    return 0;
}

static void quarantines_saved(struct pt_host *h)
{
    for (size_t i = 0; i < h->nplugins; i++)
        h->plugins[i].quarantine_unsaved = 0;
}

/* The section's value, else the default the plugin's map declares for
 * exactly this key. */
static const char *host_config(povtrack_ctx *ctx, const char *key)
{
    if (key == NULL)
        return NULL;
    const char *v = pt_plugin_conf_get(ctx->plugin->conf, key);
    const struct povtrack_plugin *d = ctx->plugin->desc;
    if (v != NULL || d == NULL || config_map(d) == NULL)
        return v;
    const struct povtrack_config_key *k = config_find(d, key);
    return k != NULL && !config_is_pattern(k->name) ? k->default_value : NULL;
}

static void host_log(povtrack_ctx *ctx, enum povtrack_log_level level,
                     const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if ((unsigned)level > POVTRACK_LOG_ERROR)
        level = POVTRACK_LOG_ERROR;
    pt_logf(&ctx->host->log, (enum pt_log_level)level, "plugin %s: %s",
            ctx->plugin->desc != NULL ? ctx->plugin->desc->name
                                      : ctx->plugin->conf->name,
            msg);
}

static const struct povtrack_host host_api = {
    .abi_version = POVTRACK_PLUGIN_ABI_VERSION,
    .size = sizeof(struct povtrack_host),
    .get = host_get,
    .put = host_put,
    .del = host_del,
    .scan = host_scan,
    .unit = host_unit,
    .unit_at = host_unit_at,
    .unit_map = host_unit_map,
    .units_seq = host_units_seq,
    .unit_at_as_of = host_unit_at_as_of,
    .unit_map_as_of = host_unit_map_as_of,
    .alert = host_alert,
    .config = host_config,
    .log = host_log,
    /* LMDB's message for LMDB's codes: a plugin sees the storage's. */
    .strerror = st_strerror,
};

/* ---- applying the log ---- */

static int active(const struct pt_plugin *p)
{
    return !p->quarantined && p->held_until_ms == 0;
}

/* Let plugins whose hold is over be applied again (from their cursor, so
 * they catch up before the next tick reaches them). */
static void release_holds(struct pt_host *h)
{
    int64_t now = -1;
    for (size_t i = 0; i < h->nplugins; i++) {
        struct pt_plugin *p = &h->plugins[i];
        if (p->held_until_ms == 0)
            continue;
        if (now < 0)
            now = mono_ms();
        if (now < p->held_until_ms)
            continue;
        p->held_until_ms = 0;
        pt_logf(&h->log, PT_LOG_INFO,
                "plugin %s: hold over; applying it again from seq %llu",
                pt_plugin_name(p), (unsigned long long)p->applied + 1);
    }
}

uint64_t pt_host_applied_seq(const struct pt_host *h)
{
    uint64_t min = UINT64_MAX;
    for (size_t i = 0; i < h->nplugins; i++)
        if (active(&h->plugins[i]) && h->plugins[i].applied < min)
            min = h->plugins[i].applied;
    return min;
}

/* A plugin call failed inside a transaction: quarantine p in memory now;
 * the record is saved with the next commit. */
static void plugin_stop(struct pt_host *h, struct pt_plugin *p, uint64_t seq,
                        const char *why)
{
    p->quarantined = 1;
    p->quarantine_unsaved = 1;
    snprintf(p->error, sizeof p->error, "%s at seq %llu", why,
             (unsigned long long)seq);
    pt_logf(&h->log, PT_LOG_ERROR,
            "plugin %s quarantined: %s; its state is kept at seq %llu and "
            "the other plugins go on ('povtrack plugin resume %s' once it "
            "is fixed)",
            p->desc->name, p->error, (unsigned long long)p->applied,
            p->desc->name);
}

enum apply_result { APPLY_OK, APPLY_RETRY, APPLY_FAILED };

/*
 * The type of a stored event, read from its first bytes without unpacking
 * it: ev_encode writes a map whose first keys are "v" (1), "id" and
 * "type", in that order.  EV_TYPE_NONE when the bytes have another shape;
 * the full decode then decides, as it always did.
 */
static enum ev_type peek_type(const void *buf, size_t len)
{
    const unsigned char *p = buf, *end = p + len;
    size_t n;
    if (len < 1 || (p[0] & 0xf0u) != 0x80u)
        return EV_TYPE_NONE;
    p++;
    if (end - p < 6 || memcmp(p, "\xa1v\x01\xa2id", 6) != 0)
        return EV_TYPE_NONE;
    p += 6;
    if (p < end && (p[0] & 0xe0u) == 0xa0u) {
        n = p[0] & 0x1fu;
        p++;
    } else if (end - p >= 2 && p[0] == 0xd9) {
        n = p[1];
        p += 2;
    } else {
        return EV_TYPE_NONE;
    }
    if ((size_t)(end - p) < n)
        return EV_TYPE_NONE;
    p += n;
    if (end - p < 6 || memcmp(p, "\xa4type", 5) != 0 || (p[5] & 0xe0u) != 0xa0u)
        return EV_TYPE_NONE;
    n = p[5] & 0x1fu;
    p += 6;
    if ((size_t)(end - p) < n)
        return EV_TYPE_NONE;
    return ev_type_from_name((const char *)p, n);
}

/* Does some active plugin still have to see record seq of this type? */
static int wanted(const struct pt_host *h, uint64_t seq, enum ev_type type)
{
    for (size_t i = 0; i < h->nplugins; i++) {
        const struct pt_plugin *p = &h->plugins[i];
        if (active(p) && p->applied < seq &&
            (p->desc->event_mask & EV_TYPE_BIT(type)))
            return 1;
    }
    return 0;
}

/* Milliseconds of a monotonic clock, read for every record applied: the
 * coarse clock costs a few nanoseconds (the vDSO reads a variable) and its
 * few milliseconds of resolution are plenty for a 40 ms budget. */
static int64_t mono_ms(void)
{
    struct timespec ts;
#ifdef CLOCK_MONOTONIC_COARSE
    if (clock_gettime(CLOCK_MONOTONIC_COARSE, &ts) != 0)
#endif
        clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Is a query waiting on the query socket?  Asked when the coarse clock has
 * moved on (a few hundred times a second at most), and only after
 * APPLY_YIELD_MS of work, so that a flood of queries still leaves chunks
 * of that much work between commits. */
static int query_waiting(struct pt_host *h)
{
    int events = 0;
    size_t len = sizeof events;
    return h->queries != NULL &&
           zmq_getsockopt(h->queries, ZMQ_EVENTS, &events, &len) == 0 &&
           (events & ZMQ_POLLIN);
}

/* Should the chunk begun at start end before the next record or step?
 * Its budget is spent, or a query is waiting and it has done
 * APPLY_YIELD_MS of work.  *seen: the clock when last asked. */
static int chunk_over(struct pt_host *h, int64_t start, int64_t *seen)
{
    int64_t now = mono_ms();
    if (now - start >= h->apply_budget_ms)
        return 1;
    if (now == *seen || now - start < APPLY_YIELD_MS)
        return 0;
    *seen = now;
    return query_waiting(h);
}

/* What the void or correction ev at seq takes back: its target as it stood
 * just before seq (the original, or its latest earlier correction seen as
 * the record it holds), decoded into *out from up, with its sequence and
 * the registry version at it. */
static int replaced_of(struct pt_host *h, const struct ev_event *ev,
                       uint64_t seq, msgpack_unpacked *up, struct ev_event *out,
                       uint64_t *rseq, uint64_t *rver)
{
    struct st_record rec;
    struct ev_error everr;
    uint64_t original, next;
    int rc = st_reader_find_id(h->reader, ev->data.target, &original);
    if (rc == 0)
        rc = st_reader_amended_before(h->reader, original, seq, rseq);
    if (rc == 0)
        rc = st_reader_get(h->reader, *rseq, &rec);
    if (rc == 0)
        rc = st_reader_units_seq(h->reader, *rseq, rver, &next);
    if (rc != 0)
        return rc == POVTRACK_ENOTFOUND ? POVTRACK_EFORMAT : rc;
    if (msgpack_unpack_next(up, rec.event, rec.event_len, NULL) !=
            MSGPACK_UNPACK_SUCCESS ||
        ev_decode(&up->data, INT64_MAX, out, &everr) != 0)
        return POVTRACK_EFORMAT;
    if (out->type == EV_RECORD_CORRECTED)
        out->type = out->data.target_type;
    /* The commit checked it: anything else is a damaged log. */
    return out->type == ev->data.target_type ? 0 : POVTRACK_EFORMAT;
}

/* Does p take the record ev?  A void or correction goes to a plugin that
 * asks for it and for the type of its target. */
static int takes(const struct pt_plugin *p, const struct ev_event *ev)
{
    uint64_t mask = p->desc->event_mask;
    return (mask & EV_TYPE_BIT(ev->type)) &&
           (!ev_type_amends(ev->type) ||
            (mask & EV_TYPE_BIT(ev->data.target_type)));
}

/* Apply records lo..*hi in txn.  On a plugin failure, stop that plugin and
 * ask for a retry of the batch without it.  A chunk that has taken
 * h->apply_budget_ms, or APPLY_YIELD_MS while a query waits, stops after
 * the record in hand and *hi becomes the last record applied: queries are
 * answered between chunks.  A slow record
 * (a province's review.closed visits each of its households) is applied in
 * steps by a plugin that returns POVTRACK_EAGAIN: it is called again while
 * the budget lasts, and when it runs out the chunk ends with that plugin's
 * cursor just before the record (p->pending_seq), the steps done in its
 * state.  Where a chunk ends never changes the state (plugin state is a
 * function of the log, whatever the transactions). */
static enum apply_result apply_range(struct pt_host *h, MDB_txn *txn,
                                     uint64_t lo, uint64_t *hi_io, int *rc_out)
{
    uint64_t hi = *hi_io;
    int64_t start = mono_ms(), seen = start;
    int stepping = 0; /* a plugin is in the middle of the record in hand */
    for (size_t i = 0; i < h->nplugins; i++) {
        h->plugins[i].pending_seq = h->plugins[i].stepping_seq;
        h->plugins[i].pending_alerts = h->plugins[i].stepping_alerts;
    }
    uint64_t next_change;
    int rc = st_reader_units_seq(h->reader, lo > 0 ? lo - 1 : 0,
                                 &h->units_version, &next_change);
    if (rc == 0)
        rc = st_reader_seek(h->reader, lo);
    struct st_record rec;
    while (rc == 0 && (rc = st_reader_next(h->reader, &rec)) == 0 &&
           rec.seq <= hi) {
        if (rec.seq > lo && chunk_over(h, start, &seen)) {
            hi = rec.seq - 1;
            break;
        }
        /* A record no plugin wants (household.assessed when only poverty
         * and fund run, or what the other plugins have applied while one
         * rebuilds) is neither unpacked nor decoded. */
        enum ev_type type = peek_type(rec.event, rec.event_len);
        if (type == EV_UNIT_DEFINED || type == EV_UNIT_CHANGED)
            h->units_version = rec.seq;
        if (type != EV_TYPE_NONE && !wanted(h, rec.seq, type))
            continue;
        size_t off = 0;
        msgpack_object obj;
        struct ev_event ev;
        struct ev_error everr = {.msg = "not msgpack"};
        msgpack_zone_clear(&h->zone);
        msgpack_unpack_return ur = msgpack_unpack(
            (const char *)rec.event, rec.event_len, &off, &h->zone, &obj);
        if ((ur != MSGPACK_UNPACK_SUCCESS &&
             ur != MSGPACK_UNPACK_EXTRA_BYTES) ||
            ev_decode(&obj, INT64_MAX, &ev, &everr) != 0) {
            /* The log only holds validated events: this is corruption or
             * a catalogue that no longer accepts old events. */
            pt_logf(&h->log, PT_LOG_ERROR,
                    "log record %llu does not decode: %s",
                    (unsigned long long)rec.seq, everr.msg);
            *rc_out = POVTRACK_EFORMAT;
            return APPLY_FAILED;
        }
        if (ev.type == EV_UNIT_DEFINED || ev.type == EV_UNIT_CHANGED)
            h->units_version = rec.seq;
        struct povtrack_record pr = {
            .size = sizeof pr,
            .seq = rec.seq,
            .received = rec.received,
            .publisher = rec.publisher,
            .event = &ev,
        };
        /* Unpacked only for a void or correction: a handful in a log. */
        struct ev_event replaced;
        msgpack_unpacked rup;
        msgpack_unpacked_init(&rup);
        if (ev_type_amends(ev.type)) {
            rc = replaced_of(h, &ev, rec.seq, &rup, &replaced, &pr.replaced_seq,
                             &pr.replaced_units_seq);
            if (rc != 0) {
                msgpack_unpacked_destroy(&rup);
                pt_logf(&h->log, PT_LOG_ERROR,
                        "log record %llu: its target cannot be read: %s",
                        (unsigned long long)rec.seq, st_strerror(rc));
                *rc_out = rc;
                return APPLY_FAILED;
            }
            pr.replaced = &replaced;
        }
        enum apply_result res = APPLY_OK;
        for (size_t i = 0; i < h->nplugins && res == APPLY_OK; i++) {
            struct pt_plugin *p = &h->plugins[i];
            if (!active(p) || p->applied >= rec.seq || !takes(p, &ev))
                continue;
            struct povtrack_ctx ctx = {.host = h,
                                       .plugin = p,
                                       .txn = txn,
                                       .writable = 1,
                                       .seq = rec.seq,
                                       .cached = 1};
            /* The next step of a record begun in an earlier transaction
             * keys its alerts after those of the steps before. */
            if (p->pending_seq == rec.seq)
                ctx.ordinal = p->pending_alerts;
            int prc;
            do {
                pt_guard_enter(h->guard, p->desc->name, PT_CALL_APPLY, rec.seq);
                prc = p->desc->apply(p->state, &ctx, &pr);
                pt_guard_leave(h->guard);
            } while (prc == POVTRACK_EAGAIN && ctx.storage_rc == 0 &&
                     !chunk_over(h, start, &seen));
            if (prc == POVTRACK_EAGAIN && ctx.storage_rc == 0) {
                p->pending_seq = rec.seq; /* to go on after the commit */
                p->pending_alerts = ctx.ordinal;
                stepping = 1;
                continue;
            }
            if (prc == 0 && p->pending_seq == rec.seq)
                p->pending_seq = 0; /* its last step */
            /* What the record taken back raised is resolved with it. */
            if (prc == 0 && ctx.storage_rc == 0 && pr.replaced != NULL)
                ctx.storage_rc = alerts_resolve(h, txn, p->desc->name,
                                                pr.replaced_seq, rec.seq, &ev);
            if (ctx.storage_rc != 0) {
                *rc_out = ctx.storage_rc;
                res =
                    ctx.storage_rc == MDB_MAP_FULL ? APPLY_RETRY : APPLY_FAILED;
            } else if (prc != 0) {
                char why[128];
                snprintf(why, sizeof why, "apply returned %d (%s) on %s", prc,
                         povtrack_err_name(prc), ev_type_name(ev.type));
                plugin_stop(h, p, rec.seq, why);
                res = APPLY_RETRY;
            }
        }
        msgpack_unpacked_destroy(&rup);
        if (res != APPLY_OK)
            return res;
        if (stepping) { /* the budget is spent: commit the steps done */
            hi = rec.seq;
            break;
        }
    }
    if (rc != 0 && rc != POVTRACK_EEND) {
        *rc_out = rc;
        return APPLY_FAILED;
    }
    /* What the plugins wrote goes in before their cursors. */
    if ((rc = pt_wcache_flush(h->wcache, txn, 0, 1)) != 0 ||
        (rc = quarantines_save(h, txn)) != 0) {
        *rc_out = rc;
        return rc == MDB_MAP_FULL ? APPLY_RETRY : APPLY_FAILED;
    }
    *hi_io = hi;
    /* Every active plugin has now seen everything up to hi, but for one in
     * the middle of hi: it has seen up to hi - 1. */
    for (size_t i = 0; i < h->nplugins; i++) {
        struct pt_plugin *p = &h->plugins[i];
        uint64_t cursor = p->pending_seq == hi ? hi - 1 : hi;
        if (!active(p) ||
            (p->applied >= cursor && p->pending_seq == p->stepping_seq &&
             p->pending_alerts == p->stepping_alerts))
            continue;
        unsigned char be[8], lb[PT_STATE_LAYOUT_LEN], ab[PT_STATE_APPLYING_LEN];
        pt_put_be64(be, cursor);
        pt_put_be32(lb, plugin_layout(p->desc));
        pt_put_be64(lb + 4, cursor);
        pt_put_be64(ab, p->pending_seq);
        pt_put_be32(ab + 8, p->pending_alerts);
        MDB_val k = {strlen(p->desc->name), (void *)p->desc->name};
        MDB_val v = {8, be}, lv = {sizeof lb, lb}, av = {sizeof ab, ab};
        rc = st_mdb_rc(mdb_put(txn, h->cursors_dbi, &k, &v, 0));
        /* The layout the state is now built with, and the cursor it goes
         * with (pt_state.h). */
        if (rc == 0)
            rc = st_mdb_rc(mdb_put(txn, h->layouts_dbi, &k, &lv, 0));
        /* The record it is in the middle of, if any. */
        if (rc == 0 && p->pending_seq != 0)
            rc = st_mdb_rc(mdb_put(txn, h->applying_dbi, &k, &av, 0));
        else if (rc == 0 && p->stepping_seq != 0) {
            rc = st_mdb_rc(mdb_del(txn, h->applying_dbi, &k, NULL));
            rc = rc == MDB_NOTFOUND ? 0 : rc;
        }
        if (rc != 0) {
            *rc_out = rc;
            return rc == MDB_MAP_FULL ? APPLY_RETRY : APPLY_FAILED;
        }
    }
    return APPLY_OK;
}

static void publish_pending(struct pt_host *h)
{
    static const char prefix[] = "alert.";
    for (size_t i = 0; i < h->npending; i++) {
        const char *code = h->pending[i].topic + sizeof prefix - 1;
        pt_code_count(&h->alerts_published, code, strlen(code));
    }
    for (size_t i = 0; i < h->npending && h->pub != NULL; i++) {
        struct pending_alert *a = &h->pending[i];
        /* PUB drops to slow subscribers rather than block; they recover
         * the gap with the alerts op. */
        zmq_send(h->pub, a->topic, strlen(a->topic),
                 ZMQ_SNDMORE | ZMQ_DONTWAIT);
        zmq_send(h->pub, a->body, a->len, ZMQ_DONTWAIT);
    }
    pending_clear(h);
}

static int catch_up(struct pt_host *h, size_t max_records, size_t *applied)
{
    *applied = 0;
    if (max_records == 0)
        max_records = 1;
    for (;;) {
        int rc = st_reader_renew(h->reader);
        uint64_t last = 0;
        if (rc == 0)
            rc = st_reader_last_seq(h->reader, &last);
        if (rc != 0) {
            pt_logf(&h->log, PT_LOG_ERROR, "reading the log: %s",
                    st_strerror(rc));
            return rc;
        }
        uint64_t lo = pt_host_applied_seq(h);
        if (lo == UINT64_MAX || lo >= last)
            return 0; /* nothing active, or caught up */
        lo++;
        uint64_t hi = last - lo + 1 > max_records ? lo + max_records - 1 : last;
        MDB_txn *txn;
        rc = st_mdb_rc(mdb_txn_begin(h->state, NULL, 0, &txn));
        if (rc != 0) {
            pt_logf(&h->log, PT_LOG_ERROR, "state: %s", st_strerror(rc));
            return rc;
        }
        int err = 0;
        enum apply_result r = apply_range(h, txn, lo, &hi, &err);
        if (r == APPLY_OK) {
            err = st_mdb_rc(mdb_txn_commit(txn));
            pt_wcache_reset(h->wcache);
            if (err == 0) {
                for (size_t i = 0; i < h->nplugins; i++) {
                    struct pt_plugin *p = &h->plugins[i];
                    if (!active(p))
                        continue;
                    uint64_t cursor = p->pending_seq == hi ? hi - 1 : hi;
                    if (p->applied < cursor)
                        p->applied = cursor;
                    p->stepping_seq = p->pending_seq;
                    p->stepping_alerts = p->pending_alerts;
                }
                quarantines_saved(h);
                publish_pending(h);
                *applied = (size_t)(hi - lo + 1);
                return 0;
            }
            r = err == MDB_MAP_FULL ? APPLY_RETRY : APPLY_FAILED;
        } else {
            mdb_txn_abort(txn);
            pt_wcache_reset(h->wcache);
        }
        pending_clear(h);
        if (r == APPLY_FAILED) {
            pt_logf(&h->log, PT_LOG_ERROR, "applying seq %llu..%llu failed: %s",
                    (unsigned long long)lo, (unsigned long long)hi,
                    st_strerror(err));
            return err;
        }
        if (err == MDB_MAP_FULL && (err = state_grow(h)) != 0) {
            pt_logf(&h->log, PT_LOG_ERROR, "state map cannot grow: %s",
                    st_strerror(err));
            return err;
        }
    }
}

int pt_host_catch_up(struct pt_host *h, size_t max_records, size_t *applied)
{
    release_holds(h);
    int rc = catch_up(h, max_records, applied);
    st_reader_reset(h->reader);
    return rc;
}

void pt_host_set_apply_budget(struct pt_host *h, int64_t ms)
{
    h->apply_budget_ms = ms < 0 ? 0 : ms;
}

int pt_host_catch_up_all(struct pt_host *h)
{
    size_t n;
    int rc;
    do
        rc = pt_host_catch_up(h, APPLY_CHUNK, &n);
    while (rc == 0 && n > 0);
    return rc;
}

int pt_host_tick(struct pt_host *h, int64_t now)
{
    int any = pt_host_mirror_due(h, now);
    for (size_t i = 0; i < h->nplugins; i++)
        any |= active(&h->plugins[i]) && h->plugins[i].desc->tick != NULL;
    if (!any)
        return 0;
    MDB_txn *txn;
    int rc = st_mdb_rc(mdb_txn_begin(h->state, NULL, 0, &txn));
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < h->nplugins && rc == 0; i++) {
        struct pt_plugin *p = &h->plugins[i];
        if (!active(p) || p->desc->tick == NULL)
            continue;
        /* Each plugin's tick in a transaction of its own inside the
         * tick's: one that fails leaves nothing of what it wrote or
         * raised, as a failed apply does. */
        MDB_txn *own;
        if ((rc = st_mdb_rc(mdb_txn_begin(h->state, txn, 0, &own))) != 0)
            break;
        size_t npending = h->npending;
        struct povtrack_ctx ctx = {.host = h,
                                   .plugin = p,
                                   .txn = own,
                                   .writable = 1,
                                   .seq = p->applied,
                                   .tick = 1,
                                   .now = now};
        pt_guard_enter(h->guard, p->desc->name, PT_CALL_TICK, p->applied);
        int trc = p->desc->tick(p->state, &ctx, now);
        pt_guard_leave(h->guard);
        if (ctx.storage_rc != 0 || trc != 0) {
            mdb_txn_abort(own);
            pending_drop(h, npending);
            rc = ctx.storage_rc;
        } else {
            rc = st_mdb_rc(mdb_txn_commit(own));
        }
        if (rc == 0 && trc != 0) {
            char why[96];
            snprintf(why, sizeof why, "tick returned %d (%s)", trc,
                     povtrack_err_name(trc));
            plugin_stop(h, p, p->applied, why);
        }
    }
    if (rc == 0)
        rc = quarantines_save(h, txn);
    if (rc == 0)
        rc = pt_host_mirror_raise(h, txn, now);
    if (rc == 0)
        rc = st_mdb_rc(mdb_txn_commit(txn));
    else
        mdb_txn_abort(txn);
    pt_host_mirror_raised(h, rc == 0);
    if (rc == 0) {
        quarantines_saved(h);
        publish_pending(h);
    } else {
        pending_clear(h);
    }
    return rc;
}

/* ---- operator actions ---- */

/* In one transaction: empty the database *drop (when not NULL) and delete
 * name's entry in keyed (the quarantine record, or the cursor with the
 * layout recorded beside it).  0, or a storage error with err set and
 * nothing changed. */
static int state_forget_once(struct pt_host *h, const char *name, MDB_dbi keyed,
                             const MDB_dbi *drop);

/* Dropping a plugin's pages writes the free list: in a full map that needs
 * the map grown, as an apply would (and the same errors stop it). */
static int state_forget(struct pt_host *h, const char *name, MDB_dbi keyed,
                        const MDB_dbi *drop, char *err, size_t errlen)
{
    int rc;
    while ((rc = state_forget_once(h, name, keyed, drop)) == MDB_MAP_FULL &&
           state_grow(h) == 0)
        ;
    if (rc != 0)
        snprintf(err, errlen, "plugin %s: state: %s", name, st_strerror(rc));
    return rc;
}

static int state_forget_once(struct pt_host *h, const char *name, MDB_dbi keyed,
                             const MDB_dbi *drop)
{
    MDB_txn *txn;
    MDB_val k = {strlen(name), (void *)name};
    int rc = st_mdb_rc(mdb_txn_begin(h->state, NULL, 0, &txn));
    if (rc == 0 && drop != NULL)
        rc = st_mdb_rc(mdb_drop(txn, *drop, 0));
    if (rc == 0) {
        rc = st_mdb_rc(mdb_del(txn, keyed, &k, NULL));
        if (rc == MDB_NOTFOUND)
            rc = 0;
    }
    if (rc == 0 && keyed == h->cursors_dbi) {
        rc = st_mdb_rc(mdb_del(txn, h->layouts_dbi, &k, NULL));
        if (rc == MDB_NOTFOUND)
            rc = 0;
    }
    if (rc == 0 && keyed == h->cursors_dbi) { /* a record in steps */
        rc = st_mdb_rc(mdb_del(txn, h->applying_dbi, &k, NULL));
        if (rc == MDB_NOTFOUND)
            rc = 0;
    }
    if (rc == 0)
        rc = st_mdb_rc(mdb_txn_commit(txn));
    else
        mdb_txn_abort(txn);
    return rc;
}

int pt_host_resume(struct pt_host *h, struct pt_plugin *p, char *err,
                   size_t errlen)
{
    const char *name = pt_plugin_name(p);
    if (!p->quarantined) {
        snprintf(err, errlen, "plugin %s is not quarantined", name);
        return POVTRACK_EINVALID;
    }
    /* The operator replaced the .so (or its config): load it afresh. */
    plugin_unload(p);
    int rc = state_forget(h, name, h->quarantine_dbi, NULL, err, errlen);
    if (rc != 0)
        return rc;
    pt_guard_forgive(h->guard, name);
    p->quarantined = 0;
    p->quarantine_unsaved = 0;
    p->error[0] = '\0';
    plugin_load_or_quarantine(h, p);
    if (p->quarantined) {
        snprintf(err, errlen, "plugin %s is quarantined again: %s", name,
                 p->error);
        return POVTRACK_EPLUGIN;
    }
    pt_logf(&h->log, PT_LOG_INFO,
            "plugin %s %s resumed at seq %llu by an operator", name,
            p->desc->version, (unsigned long long)p->applied);
    return 0;
}

int pt_host_rebuild(struct pt_host *h, struct pt_plugin *p, char *err,
                    size_t errlen)
{
    const char *name = pt_plugin_name(p);
    if (p->quarantined) {
        snprintf(err, errlen, "plugin %s is quarantined: resume it first (%s)",
                 name, p->error);
        return POVTRACK_EINVALID;
    }
    /* Its state, its cursor and the alerts it raised while applying go in
     * one transaction; the host then applies the whole log to it again in
     * chunks, between queries, while ingest goes on.  Its apply alerts
     * come back under the same keys. */
    int rc = state_forget(h, name, h->cursors_dbi, &p->dbi, err, errlen);
    if (rc != 0)
        return rc;
    uint64_t was = p->applied;
    p->applied = 0;
    p->stepping_seq = 0;
    /* Whatever the plugin cached from its old state goes too. */
    plugin_unload(p);
    plugin_load_or_quarantine(h, p);
    if (p->quarantined) {
        snprintf(err, errlen, "plugin %s could not be loaded again: %s", name,
                 p->error);
        return POVTRACK_EPLUGIN;
    }
    pt_logf(&h->log, PT_LOG_INFO,
            "plugin %s: state dropped at seq %llu by an operator; applying "
            "the whole log again",
            name, (unsigned long long)was);
    return 0;
}
