/*
 * povtrack/plugin.h - the plugin ABI of povtrackd's plugin host.
 *
 * A plugin is a shared object exporting one function,
 *
 *     const struct povtrack_plugin *povtrack_plugin_entry(void);
 *
 * which returns a static descriptor.  POVTRACK_PLUGIN(...) below declares
 * both.  The host refuses a plugin whose abi_version differs from
 * POVTRACK_PLUGIN_ABI_VERSION, with a message naming both versions.
 * Structs that cross the boundary carry their size (a size member, or for
 * the config map's entries the descriptor's config_key_size) so that later
 * versions can append fields without breaking older plugins; the host
 * function table only ever grows.  Their layout is frozen by the static
 * assertions at the end of this header.  ABI 2 has the layout of ABI 1;
 * what changed is the return codes, which are now those of
 * <povtrack/errors.h> (POVTRACK_NOTFOUND was -1, POVTRACK_EIO -4 ...), so
 * a plugin built for ABI 1 is refused rather than misread.
 *
 * This header and <povtrack/plugin_util.h> are the whole SDK: they compile
 * on their own with the system headers and msgpack-c, and everything a
 * plugin may call is either in the host's function table or a static
 * inline function of these headers.  Build a plugin with
 *
 *     cc -shared -fPIC $(pkg-config --cflags povtrack-plugin) -o x.so x.c
 *
 * Determinism.  A plugin's state must be a function of the log alone:
 * rebuilding it from the log gives the same indicators.  Inside apply(), use
 * the record's times, never the wall clock, and no randomness.  The unit
 * registry apply() sees (unit_at, unit_map) is the registry as it stood
 * when the record was appended, not as the log now ends: a change of units
 * recorded later does not move what was rolled up before it, in a live
 * apply and in a rebuild alike.
 *
 * The rules of each callback.  All of them run on one thread, the plugin
 * host's, one call at a time, each within [daemon] plugin_timeout (a call
 * that takes longer has the host killed and the plugin held back, then
 * quarantined after three strikes).
 *
 *   callback  when                     transaction     state      alerts
 *   init      load (start, resume,     none            no (1)     no (1)
 *             rebuild)
 *   apply     each record of a type    the host's      read and   yes
 *             in event_mask, in log    write txn, with write
 *             order                    the cursor
 *   query     each query request       a read txn      read (2)   no (2)
 *   tick      about once a second,     a write txn of  read and   yes
 *             when caught up           its own         write
 *   fini      unload                   none            no ctx     no ctx
 *
 *   (1) get, put, del, scan, the unit functions and alert return
 *       POVTRACK_ENOSTATE (units_seq UINT64_MAX): after init the host may
 *       still drop the state (a new state layout) and rebuild it, so
 *       nothing init could read is sure to last.  config() and log() work.
 *   (2) put, del and alert return POVTRACK_EROFS.
 *
 *   What a non-zero return does:
 *   init    the plugin is not loaded: povtrackd quarantines it (the others
 *           go on; 'povtrack plugin resume NAME' once fixed), in-process
 *           opens (tools, tests) fail.
 *   apply   everything the plugin wrote for the batch is rolled back, its
 *           cursor stays before the record, and it is quarantined (state
 *           kept); the other plugins go on.  Except POVTRACK_EAGAIN: "not
 *           done yet, this is one step", for a record whose work is too
 *           long for one call (a review of a whole province), so that
 *           queries need not wait for all of it.  What the step wrote and
 *           raised is kept; the host calls apply with the same record
 *           again, in the same transaction or, once its apply budget is
 *           spent, after committing the steps done with the plugin's
 *           cursor still before the record (also across a restart).  The
 *           plugin keeps where it is in its own state, clears that in its
 *           last step (which returns 0), and must make progress in each
 *           step; the state after the last step must not depend on where
 *           the steps were cut.  Queries in between see the steps done.
 *   query   the client gets {"ok": false, "error": "<name>: <err>"}; the
 *           plugin stays loaded.
 *   tick    what the plugin wrote and raised in that tick is rolled back
 *           and it is quarantined, as for apply.
 *
 * A storage error seen by any host function (it returns the storage's
 * code: POVTRACK_EIO, POVTRACK_ENOSPC, an LMDB code ...; never
 * POVTRACK_NOTFOUND) fails the whole transaction for every plugin,
 * whatever the plugin returns; the host retries it later.
 *
 * Keys are private to each plugin (each plugin has its own LMDB database);
 * keys are at most POVTRACK_KEY_MAX bytes.  A value returned by get() or
 * scan() points into the map: it is valid until the next put/del/scan or
 * the end of the callback, and must not be written to.
 *
 * Configuration.  A plugin declares the keys its [plugin.NAME] section
 * accepts (config_map: name, type, default, description).  povtrackd
 * refuses to start when the section holds a key the map does not list or
 * a value not of its type, naming the file, section and key; host->config()
 * returns the declared default for a key the file does not set.  "path"
 * (where the .so is) belongs to the host and is always accepted.  A plugin
 * without a map is handed every key of its section as it is.
 */
#ifndef POVTRACK_PLUGIN_H
#define POVTRACK_PLUGIN_H

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include <povtrack/errors.h>
#include <povtrack/event.h>

#define POVTRACK_PLUGIN_ABI_VERSION 2
#define POVTRACK_KEY_MAX 480

/*
 * Return codes of host functions: 0, or a code of <povtrack/errors.h>
 * (which this header includes):
 *   POVTRACK_NOTFOUND    no such key or unit (POVTRACK_ENOTFOUND; the name
 *                        plugins have always used)
 *   POVTRACK_NOTINFORCE  unit_at: the code is defined, but not in force at
 *                        the time asked; out holds its last span that
 *                        started before then (or its first span)
 *                        (POVTRACK_ENOTINFORCE)
 *   POVTRACK_EROFS       a write (or alert) where only reads may be
 *   POVTRACK_EINVAL      a bad argument (a key too long, to < from ...)
 *   POVTRACK_ENOSTATE    the state, the unit registry and alerts are not
 *                        available in this callback (init): see the rules
 *   a storage error      the code the storage gave (POVTRACK_EIO,
 *                        POVTRACK_ENOSPC, POVTRACK_ENOMEM, an LMDB code
 *                        such as MDB_MAP_FULL ...): see the rules above;
 *                        povtrack_strerror() says what it is
 * A plugin's own callbacks return 0 or any non-zero value; returning what
 * a host function returned, or POVTRACK_EIO, is the custom.
 */
#define POVTRACK_NOTFOUND POVTRACK_ENOTFOUND
#define POVTRACK_NOTINFORCE POVTRACK_ENOTINFORCE

enum povtrack_severity {
    POVTRACK_INFO = 0,
    POVTRACK_WARNING = 1,
    POVTRACK_CRITICAL = 2
};

enum povtrack_log_level {
    POVTRACK_LOG_DEBUG = 0,
    POVTRACK_LOG_INFO,
    POVTRACK_LOG_WARN,
    POVTRACK_LOG_ERROR
};

/* One record of the log, as the host hands it to apply(). */
struct povtrack_record {
    uint32_t size; /* sizeof(struct povtrack_record) */
    uint64_t seq;
    int64_t received; /* unix microseconds, when ingest accepted it */
    struct ev_str publisher;
    const struct ev_event *event;
    /* ---- appended: size >= POVTRACK_RECORD_SIZE_REPLACED ---- */
    /* A record.voided or record.corrected: the record it takes back, as it
     * stood just before (the original, or its latest earlier correction,
     * seen as the record it holds: its type the original's, unit, at,
     * household and data the correction's).  NULL for other records.  A
     * plugin uncounts replaced where it counted it (on the registry version
     * replaced_units_seq, at replaced_seq), then a correction counts the
     * corrected record, event seen as event->data.target_type.  The host
     * hands a void or correction only to a plugin whose event_mask has
     * both its type and the target's type. */
    const struct ev_event *replaced;
    uint64_t replaced_seq;
    uint64_t replaced_units_seq; /* the registry version at replaced_seq */
};

/* A record at least this large has replaced, replaced_seq and
 * replaced_units_seq. */
#define POVTRACK_RECORD_SIZE_REPLACED                                          \
    POVTRACK_SIZE_TO(struct povtrack_record, replaced_units_seq)

/* An alert.  code is "<plugin>.<name>", e.g. "poverty.target_missed".
 * Strings are NUL-terminated; household may be NULL. */
struct povtrack_alert {
    uint32_t size; /* sizeof(struct povtrack_alert) */
    const char *code;
    enum povtrack_severity severity;
    const char *unit;
    const char *household;
    const char *message;
    int64_t at; /* the time the alert is about (an event's "at") */
};

/* One span of a unit's history: the unit as it was from "from"
 * (inclusive) to "to" (exclusive), unix seconds; INT64_MIN and INT64_MAX
 * for open ends.  The caller sets size to sizeof(struct povtrack_unit);
 * the host fills what fits, so the struct may grow. */
struct povtrack_unit {
    uint32_t size;
    struct ev_str code;
    struct ev_str name;
    struct ev_str parent; /* ptr NULL for a province */
    enum ev_level level;
    int64_t from;
    int64_t to;
    /* How the span ended when the code did not go on (merge, split,
     * abolish), else EV_CHANGE_NONE; and for a merge or split, where its
     * households went. */
    enum ev_change ended_by;
    struct ev_str successor;
};

/* Opaque: the host's context of the current call. */
typedef struct povtrack_ctx povtrack_ctx;

typedef int (*povtrack_scan_fn)(void *arg, const void *key, size_t klen,
                                const void *val, size_t vlen);

/* Functions the host provides.  Every call takes the ctx the host passed. */
struct povtrack_host {
    uint32_t abi_version;
    uint32_t size; /* sizeof(struct povtrack_host) of the host */

    int (*get)(povtrack_ctx *ctx, const void *key, size_t klen,
               const void **val, size_t *vlen);
    int (*put)(povtrack_ctx *ctx, const void *key, size_t klen, const void *val,
               size_t vlen);
    int (*del)(povtrack_ctx *ctx, const void *key, size_t klen);
    /* Calls fn for each key in [from, to) in byte order (to NULL: to the
     * end); stops early and returns fn's value when fn returns non-zero. */
    int (*scan)(povtrack_ctx *ctx, const void *from, size_t flen,
                const void *to, size_t tlen, povtrack_scan_fn fn, void *arg);

    /* The unit registry of the log: the code's latest definition, or
     * POVTRACK_NOTFOUND when the code was never defined.  Units change
     * over time: roll-ups use unit_at() below. */
    int (*unit)(povtrack_ctx *ctx, struct ev_str code, struct ev_unit *out);

    /* Raise an alert (apply or tick only).  It is stored with the plugin's
     * state and published once the transaction commits. */
    int (*alert)(povtrack_ctx *ctx, const struct povtrack_alert *alert);

    /* The value of key in the plugin's config section; when the section
     * does not set it, the default the plugin's config map declares; NULL
     * when neither.  The string lives as long as the plugin is loaded. */
    const char *(*config)(povtrack_ctx *ctx, const char *key);

    void (*log)(povtrack_ctx *ctx, enum povtrack_log_level level,
                const char *fmt, ...) __attribute__((format(printf, 3, 4)));

    /* ---- appended in ABI 1, host size >= POVTRACK_HOST_SIZE_UNITS ---- */

    /* The span of code in force at unix time at: 0; POVTRACK_NOTINFORCE
     * (out filled, see above) when the code is defined but not in force
     * then; POVTRACK_NOTFOUND when it was never defined.  Strings point
     * into the map (valid as for get()). */
    int (*unit_at)(povtrack_ctx *ctx, struct ev_str code, int64_t at,
                   struct povtrack_unit *out);
    /* Where the households of code (as it stood at from, or as it last
     * stood before from when it was not in force then) are at to >= from:
     * a code in force at to, following merges, splits (to the first
     * successor) and abolitions (to the parent).  POVTRACK_NOTFOUND when
     * the trail ends; POVTRACK_EINVAL when to < from. */
    int (*unit_map)(povtrack_ctx *ctx, struct ev_str code, int64_t from,
                    int64_t to, struct ev_str *out);
    /* The version of the registry these answers come from: the sequence
     * of the last unit.defined or unit.changed at or before the record
     * being applied (in apply), or in the log (in query and tick).  A
     * plugin that caches what unit_at said keeps it only while this stays
     * the same. */
    uint64_t (*units_seq)(povtrack_ctx *ctx);
    /* unit_at and unit_map as the registry stood at version (a value
     * units_seq returned, kept in the plugin's state; a version later than
     * the call's own is read as the call's own).  A plugin that counts an
     * entry under the units of one version and must later take it back
     * uses the same version, so that counting and uncounting hit the same
     * units whatever changed in between. */
    int (*unit_at_as_of)(povtrack_ctx *ctx, struct ev_str code, int64_t at,
                         uint64_t version, struct povtrack_unit *out);
    int (*unit_map_as_of)(povtrack_ctx *ctx, struct ev_str code, int64_t from,
                          int64_t to, uint64_t version, struct ev_str *out);

    /* ---- appended in ABI 2: every host of ABI 2 has it ---- */

    /* What a code of <povtrack/errors.h> means, as povtrack_strerror() says
     * (which a plugin cannot call: it links nothing of povtrack's), and
     * LMDB's own message for a code of LMDB's range, for the plugin's log
     * messages.  A static string, never NULL. */
    const char *(*strerror)(int rc);
};

/* The size of a struct up to and including member. */
#define POVTRACK_SIZE_TO(type, member)                                         \
    (offsetof(type, member) + sizeof(((type *)0)->member))

/* A host at least this large provides unit_at, unit_map, units_seq and
 * their _as_of forms. */
#define POVTRACK_HOST_SIZE_UNITS                                               \
    POVTRACK_SIZE_TO(struct povtrack_host, unit_map_as_of)
/* ... and strerror (every host of ABI 2). */
#define POVTRACK_HOST_SIZE_STRERROR                                            \
    POVTRACK_SIZE_TO(struct povtrack_host, strerror)

/* ---- the config map ---- */

/* The type of a config value, as written in the INI file. */
enum povtrack_config_type {
    POVTRACK_CONFIG_STRING = 0, /* anything */
    POVTRACK_CONFIG_INT,        /* a decimal integer that fits int64_t */
    POVTRACK_CONFIG_DOUBLE,     /* a finite number (strtod) */
    POVTRACK_CONFIG_BOOL        /* yes or no */
};

/*
 * One key a plugin accepts.  name may hold '*', which matches one or more
 * characters other than '.', for keys made of parts ("standard.*.
 * rural_line" accepts "standard.2022.rural_line" and "standard.2031-2035.
 * rural_line"); such an entry has no default.  default_value is written as
 * in the file and must be of the type (NULL: none, config() returns NULL
 * when the file does not set the key).  The host checks the map when it
 * loads the plugin and refuses a malformed one.
 */
struct povtrack_config_key {
    const char *name;
    enum povtrack_config_type type;
    const char *default_value;
    const char *description; /* one line, for people */
};

/* The type's name in messages: "an integer", ... */
static inline const char *povtrack_config_type_name(enum povtrack_config_type t)
{
    switch (t) {
    case POVTRACK_CONFIG_STRING:
        return "a string";
    case POVTRACK_CONFIG_INT:
        return "an integer";
    case POVTRACK_CONFIG_DOUBLE:
        return "a number";
    case POVTRACK_CONFIG_BOOL:
        return "yes or no";
    }
    return NULL;
}

/* Parse a config value of type INT, DOUBLE or BOOL (true: "yes"): 0, or
 * POVTRACK_EINVALID when s is not of the type.  One parser for the host's check
 * and the plugins' reading (plugin_util.h), so that they never disagree. */
static inline int povtrack_config_parse_int(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end != '\0' || errno != 0)
        return POVTRACK_EINVALID;
    *out = (int64_t)v;
    return 0;
}

static inline int povtrack_config_parse_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || errno != 0 || !isfinite(v))
        return POVTRACK_EINVALID;
    *out = v;
    return 0;
}

static inline int povtrack_config_parse_bool(const char *s, bool *out)
{
    if (strcmp(s, "yes") != 0 && strcmp(s, "no") != 0)
        return POVTRACK_EINVALID;
    *out = strcmp(s, "yes") == 0;
    return 0;
}

/* Is s a value of type t? */
static inline bool povtrack_config_value_ok(enum povtrack_config_type t,
                                            const char *s)
{
    int64_t i;
    double d;
    bool b;
    switch (t) {
    case POVTRACK_CONFIG_STRING:
        return true;
    case POVTRACK_CONFIG_INT:
        return povtrack_config_parse_int(s, &i) == 0;
    case POVTRACK_CONFIG_DOUBLE:
        return povtrack_config_parse_double(s, &d) == 0;
    case POVTRACK_CONFIG_BOOL:
        return povtrack_config_parse_bool(s, &b) == 0;
    }
    return false;
}

/* Does key match the map entry's name (see '*' above)? */
static inline bool povtrack_config_key_matches(const char *name,
                                               const char *key)
{
    for (;;) {
        if (*name == '*') {
            name++;
            if (*key == '\0' || *key == '.')
                return false;
            do {
                key++;
                if (povtrack_config_key_matches(name, key))
                    return true;
            } while (*key != '\0' && *key != '.');
            return false;
        }
        if (*name != *key)
            return false;
        if (*name == '\0')
            return true;
        name++;
        key++;
    }
}

/* ---- the descriptor ---- */

struct povtrack_plugin {
    uint32_t abi_version; /* POVTRACK_PLUGIN_ABI_VERSION */
    uint32_t size;        /* sizeof(struct povtrack_plugin) */
    const char *name;     /* [a-z0-9_]+, unique among loaded plugins */
    const char *version;
    uint64_t event_mask; /* EV_TYPE_BIT() of each type apply() wants */

    /* Set up; *state is passed to every other callback.  Read config here
     * and reject bad values with a logged message and a non-zero return. */
    int (*init)(povtrack_ctx *ctx, const struct povtrack_host *host,
                void **state);
    /* Apply one record whose type is in event_mask. */
    int (*apply)(void *state, povtrack_ctx *ctx,
                 const struct povtrack_record *rec);
    /* Answer q (a msgpack map) by packing one result object into out, or
     * return non-zero with a message in err ("unit: required"). */
    int (*query)(void *state, povtrack_ctx *ctx, const msgpack_object *q,
                 msgpack_packer *out, char *err, size_t errlen);
    /* Called about once a second with the wall clock (NULL: not needed).
     * Alerts that depend on "now" (deadlines) belong here. */
    int (*tick)(void *state, povtrack_ctx *ctx, int64_t now);
    void (*fini)(void *state);

    /* ---- appended in ABI 1: read by the host only when size covers it ---- */

    /* The layout of the state this plugin writes; change it whenever stored
     * values change meaning or size.  0: not declared (the host never
     * rebuilds on its account).  The host records the layout beside the
     * plugin's cursor, and at start rebuilds from the log a state that was
     * built with another layout (or before layouts were recorded). */
    uint32_t state_layout;

    /* ---- appended in ABI 1, size >= POVTRACK_PLUGIN_SIZE_CONFIG ---- */

    /* The keys [plugin.NAME] accepts, ended by an entry whose name is
     * NULL; NULL: no map (every key of the section is handed over). */
    const struct povtrack_config_key *config_map;
    /* sizeof(struct povtrack_config_key): the stride of config_map, so
     * that the entry may grow. */
    uint32_t config_key_size;
};

/* A descriptor at least this large has config_map and config_key_size. */
#define POVTRACK_PLUGIN_SIZE_CONFIG                                            \
    POVTRACK_SIZE_TO(struct povtrack_plugin, config_key_size)

/* The one symbol a plugin exports. */
#define POVTRACK_PLUGIN_ENTRY "povtrack_plugin_entry"
typedef const struct povtrack_plugin *(*povtrack_plugin_entry_fn)(void);

/* Exported from the plugin's .so even when it is built with
 * -fvisibility=hidden (as the built-in plugins are). */
#define POVTRACK_PLUGIN_EXPORT __attribute__((visibility("default")))

/*
 * Declare the plugin: its descriptor, with the ABI version and the sizes
 * filled in, and the exported entry point that returns it (as PostgreSQL's
 * PG_MODULE_MAGIC).  The arguments are the descriptor's other members as
 * designated initializers; end the line with a semicolon:
 *
 *     POVTRACK_PLUGIN(.name = "mine", .version = "1.0",
 *                     .event_mask = EV_TYPE_BIT(EV_DONATION_RECEIVED),
 *                     .init = mine_init, .apply = mine_apply,
 *                     .query = mine_query, .config_map = mine_config);
 */
#define POVTRACK_PLUGIN(...)                                                   \
    POVTRACK_PLUGIN_EXPORT const struct povtrack_plugin *                      \
    povtrack_plugin_entry(void);                                               \
    static const struct povtrack_plugin povtrack_plugin_descriptor = {         \
        .abi_version = POVTRACK_PLUGIN_ABI_VERSION,                            \
        .size = sizeof(struct povtrack_plugin),                                \
        .config_key_size = sizeof(struct povtrack_config_key),                 \
        __VA_ARGS__};                                                          \
    const struct povtrack_plugin *povtrack_plugin_entry(void)                  \
    {                                                                          \
        return &povtrack_plugin_descriptor;                                    \
    }                                                                          \
    _Static_assert(sizeof povtrack_plugin_descriptor ==                        \
                       sizeof(struct povtrack_plugin),                         \
                   "POVTRACK_PLUGIN")

/* ---- the layout, frozen (ABI 2 kept ABI 1's) ---- */

/* Members may only be appended (and the sizes below raised with them);
 * anything else is a new ABI version.  The offsets are those of every
 * LP64 target (x86_64, aarch64, ...). */
#if defined(__LP64__) || defined(_LP64)
#define POVTRACK_ABI_AT(type, member, off)                                     \
    _Static_assert(offsetof(type, member) == (off),                            \
                   "ABI: " #type "." #member " moved")
POVTRACK_ABI_AT(struct ev_str, len, 8);
_Static_assert(sizeof(struct ev_str) == 16, "ABI: struct ev_str");
_Static_assert(sizeof(struct ev_codes) == 16, "ABI: struct ev_codes");
POVTRACK_ABI_AT(struct ev_event, id, 8);
POVTRACK_ABI_AT(struct ev_event, at, 24);
POVTRACK_ABI_AT(struct ev_event, unit, 32);
POVTRACK_ABI_AT(struct ev_event, household, 48);
POVTRACK_ABI_AT(struct ev_event, data, 64);
POVTRACK_ABI_AT(struct ev_data, name, 48);
POVTRACK_ABI_AT(struct ev_data, deprived, 208);
POVTRACK_ABI_AT(struct ev_data, level, 212);
POVTRACK_ABI_AT(struct ev_data, item, 236);
POVTRACK_ABI_AT(struct ev_data, in_kind, 242);
POVTRACK_ABI_AT(struct ev_data, has_effective, 243);
POVTRACK_ABI_AT(struct ev_data, effective, 248);
POVTRACK_ABI_AT(struct ev_data, successor, 264);
POVTRACK_ABI_AT(struct ev_data, successors, 296);
POVTRACK_ABI_AT(struct ev_data, link, 312);
POVTRACK_ABI_AT(struct ev_data, stars, 408);
POVTRACK_ABI_AT(struct ev_data, no_labour_capacity, 433);
POVTRACK_ABI_AT(struct ev_data, target, 440);
POVTRACK_ABI_AT(struct ev_data, target_type, 472);
_Static_assert(sizeof(struct ev_data) == 480, "ABI: struct ev_data");
/* The host writes a whole struct ev_unit for unit(): it cannot grow. */
POVTRACK_ABI_AT(struct ev_unit, level, 48);
_Static_assert(sizeof(struct ev_unit) == 56, "ABI: struct ev_unit");
POVTRACK_ABI_AT(struct povtrack_record, seq, 8);
POVTRACK_ABI_AT(struct povtrack_record, received, 16);
POVTRACK_ABI_AT(struct povtrack_record, publisher, 24);
POVTRACK_ABI_AT(struct povtrack_record, event, 40);
POVTRACK_ABI_AT(struct povtrack_record, replaced, 48);
POVTRACK_ABI_AT(struct povtrack_record, replaced_units_seq, 64);
_Static_assert(sizeof(struct povtrack_record) == 72, "ABI: record");
POVTRACK_ABI_AT(struct povtrack_alert, code, 8);
POVTRACK_ABI_AT(struct povtrack_alert, severity, 16);
POVTRACK_ABI_AT(struct povtrack_alert, unit, 24);
POVTRACK_ABI_AT(struct povtrack_alert, household, 32);
POVTRACK_ABI_AT(struct povtrack_alert, message, 40);
POVTRACK_ABI_AT(struct povtrack_alert, at, 48);
_Static_assert(sizeof(struct povtrack_alert) == 56, "ABI: alert");
POVTRACK_ABI_AT(struct povtrack_unit, code, 8);
POVTRACK_ABI_AT(struct povtrack_unit, level, 56);
POVTRACK_ABI_AT(struct povtrack_unit, from, 64);
POVTRACK_ABI_AT(struct povtrack_unit, to, 72);
POVTRACK_ABI_AT(struct povtrack_unit, ended_by, 80);
POVTRACK_ABI_AT(struct povtrack_unit, successor, 88);
_Static_assert(sizeof(struct povtrack_unit) == 104, "ABI: unit");
POVTRACK_ABI_AT(struct povtrack_host, get, 8);
POVTRACK_ABI_AT(struct povtrack_host, unit, 40);
POVTRACK_ABI_AT(struct povtrack_host, alert, 48);
POVTRACK_ABI_AT(struct povtrack_host, config, 56);
POVTRACK_ABI_AT(struct povtrack_host, log, 64);
POVTRACK_ABI_AT(struct povtrack_host, unit_at, 72);
POVTRACK_ABI_AT(struct povtrack_host, units_seq, 88);
POVTRACK_ABI_AT(struct povtrack_host, unit_map_as_of, 104);
POVTRACK_ABI_AT(struct povtrack_host, strerror, 112);
_Static_assert(sizeof(struct povtrack_host) == 120, "ABI: host");
POVTRACK_ABI_AT(struct povtrack_config_key, type, 8);
POVTRACK_ABI_AT(struct povtrack_config_key, default_value, 16);
POVTRACK_ABI_AT(struct povtrack_config_key, description, 24);
_Static_assert(sizeof(struct povtrack_config_key) == 32, "ABI: config");
POVTRACK_ABI_AT(struct povtrack_plugin, name, 8);
POVTRACK_ABI_AT(struct povtrack_plugin, event_mask, 24);
POVTRACK_ABI_AT(struct povtrack_plugin, init, 32);
POVTRACK_ABI_AT(struct povtrack_plugin, fini, 64);
POVTRACK_ABI_AT(struct povtrack_plugin, state_layout, 72);
POVTRACK_ABI_AT(struct povtrack_plugin, config_map, 80);
POVTRACK_ABI_AT(struct povtrack_plugin, config_key_size, 88);
_Static_assert(sizeof(struct povtrack_plugin) == 96, "ABI: plugin");
#undef POVTRACK_ABI_AT
#endif

#endif /* POVTRACK_PLUGIN_H */
