/*
 * povtrack/plugin.h - the plugin ABI of povtrackd's plugin host.
 *
 * A plugin is a shared object exporting one function,
 *
 *     const struct povtrack_plugin *povtrack_plugin_entry(void);
 *
 * which returns a static descriptor.  The host refuses a plugin whose
 * abi_version differs from POVTRACK_PLUGIN_ABI_VERSION, with a message naming
 * both versions.  Structs that cross the boundary start with their size so
 * that later versions can append fields without breaking older plugins; the
 * host function table only ever grows.
 *
 * Determinism.  A plugin's state must be a function of the log alone:
 * rebuilding it from the log gives the same indicators.  Inside apply(), use
 * the record's times, never the wall clock, and no randomness.  The unit
 * registry apply() sees (unit_at, unit_map) is the registry as it stood
 * when the record was appended, not as the log now ends: a change of units
 * recorded later does not move what was rolled up before it, in a live
 * apply and in a rebuild alike.
 *
 * Transactions.  apply() runs inside the host's write transaction on the
 * plugin state environment; get/put/del/scan land in that transaction, and
 * the plugin's cursor (last applied sequence) commits with them.  If apply()
 * returns non-zero, everything the plugin wrote for the batch is rolled back
 * and the plugin is stopped with an error logged.  query() runs in a read
 * transaction: put/del fail there with POVTRACK_EROFS.
 *
 * Keys are private to each plugin (each plugin has its own LMDB database);
 * keys are at most POVTRACK_KEY_MAX bytes.  A value returned by get() or
 * scan() points into the map: it is valid until the next put/del/scan or
 * the end of the callback, and must not be written to.
 */
#ifndef POVTRACK_PLUGIN_H
#define POVTRACK_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include <povtrack/event.h>

#define POVTRACK_PLUGIN_ABI_VERSION 1
#define POVTRACK_KEY_MAX 480

/* Return codes of host functions (0 is success). */
#define POVTRACK_NOTFOUND (-1)
#define POVTRACK_EROFS (-2)
#define POVTRACK_EINVAL (-3)
#define POVTRACK_EIO (-4) /* storage error: return it from apply */
/* unit_at: the code is defined, but not in force at the time asked; out
 * holds its last span that started before then (or its first span). */
#define POVTRACK_NOTINFORCE (-5)

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
};

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

/* One span of a unit's history (see events/ev_unit.h): the unit as it was
 * from "from" (inclusive) to "to" (exclusive), unix seconds; INT64_MIN and
 * INT64_MAX for open ends.  The caller sets size to sizeof(struct
 * povtrack_unit); the host fills what fits, so the struct may grow. */
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

    /* The plugin's config section: NULL when the key is absent. */
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
};

/* A host at least this large provides unit_at, unit_map, units_seq and
 * their _as_of forms. */
#define POVTRACK_HOST_SIZE_UNITS                                               \
    (offsetof(struct povtrack_host, unit_map_as_of) +                          \
     sizeof(((struct povtrack_host *)0)->unit_map_as_of))

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
};

/* The one symbol a plugin exports. */
#define POVTRACK_PLUGIN_ENTRY "povtrack_plugin_entry"
typedef const struct povtrack_plugin *(*povtrack_plugin_entry_fn)(void);

#endif /* POVTRACK_PLUGIN_H */
