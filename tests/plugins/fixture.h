/*
 * fixture.h - test fixtures for the built-in plugins: a throw-away data
 * directory with a real log (events built from compact C calls, encoded
 * with ev_encode, checked with ev_check_refs and appended with
 * st_log_append_batch), and the real plugin host opened on it in-process.
 *
 * Every helper fails the running cmocka test on error, so tests read as a
 * list of events and expectations.
 *
 * LMDB forbids opening one environment twice in a process, so the log is
 * open only while a batch is appended, and the host is closed meanwhile
 * (fx_sync does that dance and then catches the host up).
 */
#ifndef POVTRACK_TEST_PLUGIN_FIXTURE_H
#define POVTRACK_TEST_PLUGIN_FIXTURE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "ev_event.h"
#include "pt_config.h"
#include "pt_host.h"

/* The number of elements of an array. */
#define FX_NELEMS(a) (sizeof(a) / sizeof((a)[0]))

struct fx_item; /* one pending event */

struct fx {
    char dir[PATH_MAX];
    struct fx_item **items; /* pending, not yet appended */
    size_t n, cap;
    unsigned next_id;
    int64_t received;    /* fixed "received" times: runs are reproducible */
    const char *plugins; /* "poverty fund" */
    struct {
        char plugin[PT_PLUGIN_NAME_MAX];
        char key[64];
        char value[64];
    } conf[16];
    size_t nconf;
    struct pt_config *cfg;
    struct pt_host *host;
};

/* mkdtemp a data dir; plugins is the list given to pt_config_set_plugins. */
struct fx *fx_new(const char *plugins);
/* Close everything and remove the data dir. */
void fx_free(struct fx *fx);

/* Set a plugin config key (applies at the next host open). */
void fx_conf(struct fx *fx, const char *plugin, const char *key,
             const char *value);

/* Queue an event (its id is assigned when id.ptr is NULL). */
void fx_add(struct fx *fx, const struct ev_event *ev);

/* Append the queued events (host closed meanwhile), open the host if
 * needed and catch it up fully. */
void fx_sync(struct fx *fx);
/* Append the queued events only (host closed, left closed). */
void fx_commit(struct fx *fx);
/* Open the host without catching up; returns pt_host_open's code and, on
 * failure, leaves the message in err. */
int fx_host_open(struct fx *fx, char *err, size_t errlen);
void fx_host_close(struct fx *fx);
/* Remove <dir>/state (the host must be closed): the next open rebuilds. */
void fx_drop_state(struct fx *fx);
/* Rebuild from the log the slow way: close the host, drop its state, reopen
 * and apply one record per transaction.  Returns the transactions it took,
 * so a test can check it really went one record at a time. */
size_t fx_rebuild_one_by_one(struct fx *fx);

/* ---- event builders ---- */

/* s as an ev_str (NULL: absent), for events a test builds itself; the
 * string must live until fx_add has encoded the event. */
struct ev_str fx_ev_str(const char *s);

void fx_unit(struct fx *fx, const char *code, const char *parent,
             enum ev_level level);
/* unit.defined with data.effective (and a name of the caller's). */
void fx_unit_from(struct fx *fx, const char *code, const char *parent,
                  enum ev_level level, const char *name, int64_t effective);
/* unit.changed: predecessors and successors as "22921,22924,22936"
 * (successors NULL for abolish; one code for merge, rename, reparent); name
 * and parent may be NULL.  "unit" is derived as the catalogue wants it. */
void fx_changed(struct fx *fx, int64_t at, enum ev_change kind,
                int64_t effective, const char *predecessors,
                const char *successors, const char *name, const char *parent);
void fx_exited(struct fx *fx, int64_t at, const char *unit, const char *hh,
               int64_t year, enum ev_exit reason);
/* household.moved: hh moved from one unit to another at "at". */
void fx_moved(struct fx *fx, int64_t at, const char *from, const char *to,
              const char *hh);
void fx_households(struct fx *fx, int64_t at, const char *unit, int64_t year,
                   int64_t households);
void fx_status(struct fx *fx, int64_t at, const char *unit, const char *hh,
               int64_t year, enum ev_status status);
void fx_review(struct fx *fx, int64_t at, const char *unit, int64_t year);
void fx_pledge(struct fx *fx, int64_t at, const char *unit, const char *pledge,
               int64_t amount, const char *donor);
void fx_received(struct fx *fx, int64_t at, const char *unit, int64_t amount,
                 const char *donor, const char *pledge);
void fx_disbursed(struct fx *fx, int64_t at, const char *unit, const char *hh,
                  int64_t amount, enum ev_purpose purpose);

/* Voids and corrections.  fx_void: a record.voided of target (an id,
 * "fx-3" for the third event the fixture numbered) of type in unit at at.
 * fx_as_correction: turn the event queued last (built by any builder
 * above, with the corrected values) into a record.corrected of target
 * under a fresh id. */
void fx_void(struct fx *fx, int64_t at, const char *unit, const char *target,
             enum ev_type type);
void fx_as_correction(struct fx *fx, const char *target);

/* ---- requests ---- */

/* A reply: the unpacked map and the raw bytes it came from. */
struct fx_reply {
    msgpack_sbuffer buf;
    msgpack_unpacked up;
    const msgpack_object *root;
};

/* Send a request written as JSON (converted to msgpack) and unpack the
 * reply.  Free with fx_reply_free. */
void fx_request(struct fx *fx, struct fx_reply *r, const char *json);
/* {"op":"query","plugin":plugin,"q":<q_json>}: asserts ok and returns the
 * "result" object. */
const msgpack_object *fx_query(struct fx *fx, struct fx_reply *r,
                               const char *plugin, const char *q_json);
/* Same, expecting {"ok": false}: returns the error message. */
const char *fx_query_error(struct fx *fx, struct fx_reply *r,
                           const char *plugin, const char *q_json);
/* Assert that plugin refuses q_json with exactly want. */
void fx_assert_refused(struct fx *fx, const char *plugin, const char *q_json,
                       const char *want);
void fx_reply_free(struct fx_reply *r);

/* Map access; fail the test when the key is missing or mistyped. */
const msgpack_object *fx_get(const msgpack_object *map, const char *key);
int64_t fx_i64(const msgpack_object *map, const char *key);
double fx_f64(const msgpack_object *map, const char *key);
bool fx_is_nil(const msgpack_object *map, const char *key);
/* A string value, copied NUL-terminated into a static-free buffer. */
const char *fx_str(const msgpack_object *map, const char *key, char *buf,
                   size_t n);
/* How many of alerts (an "alerts" array) have this code. */
size_t fx_count_alerts(const msgpack_object *alerts, const char *code);

/* The canonical bytes of an object (for replies compared across runs);
 * caller frees *out. */
size_t fx_pack(const msgpack_object *o, char **out);

/* Answers packed to bytes, to compare a run with a rebuild byte for
 * byte.  Start from {0}. */
#define FX_SNAP_MAX 256
struct fx_snap {
    char *bytes[FX_SNAP_MAX];
    size_t len[FX_SNAP_MAX];
    size_t n;
};
void fx_snap_add(struct fx_snap *s, const msgpack_object *o);
/* Add the result of a query (asserting it succeeded). */
void fx_snap_query(struct fx *fx, struct fx_snap *s, const char *plugin,
                   const char *q_json);
/* Assert a and b hold the same answers, byte for byte; frees both. */
void fx_snap_assert_equal(struct fx_snap *a, struct fx_snap *b);
/* Add every alert stored so far ({"op":"alerts","since":0}) to s, as one
 * answer; returns how many there are. */
size_t fx_snap_alerts(struct fx *fx, struct fx_snap *s);
/* fx_snap_query, also asserting (fx_assert_no_negative, named by q_json)
 * that the answer holds no negative number. */
void fx_snap_query_nonneg(struct fx *fx, struct fx_snap *s, const char *plugin,
                          const char *q_json);

/* ---- rebuilds: the state is a function of the log alone ---- */

/* snap adds the answers a test compares across a rebuild to its second
 * argument; it is called once before and once after the rebuild, on the
 * open host, and may tick the host or assert on what it reads first. */

/* Assert that rebuilding in one go answers the same: snap; close the host,
 * drop its state (fx_drop_state) and fx_sync, which reopens it and catches
 * up in as few transactions as the host likes; snap again; assert the two
 * snaps equal byte for byte (fx_snap_assert_equal).  Nothing may be queued
 * (fx_add without fx_sync): it would be appended in between.  The host is
 * left open on the rebuilt state. */
void fx_assert_rebuild_in_one_go_same(struct fx *fx,
                                      void (*snap)(struct fx *,
                                                   struct fx_snap *));
/* Assert that rebuilding one record per transaction answers the same:
 * snap; fx_rebuild_one_by_one, asserting that it took more than min_rounds
 * transactions (that it really went one record at a time); snap again;
 * assert the two snaps equal byte for byte.  Nothing may be queued.  The
 * host is left open on the rebuilt state. */
void fx_assert_rebuild_one_by_one_same(struct fx *fx,
                                       void (*snap)(struct fx *,
                                                    struct fx_snap *),
                                       size_t min_rounds);
/* Both, in that order: fx_assert_rebuild_in_one_go_same, then
 * fx_assert_rebuild_one_by_one_same (snap is called four times). */
void fx_assert_rebuild_same(struct fx *fx,
                            void (*snap)(struct fx *, struct fx_snap *),
                            size_t min_rounds);

/* pt_host_tick at now (the host's wall clock), asserting it succeeds. */
void fx_tick(struct fx *fx, int64_t now);

/* ---- the 2025 reorganisation of units ---- */

/* 2025-07-01T00:00:00+07:00: districts abolished, provinces and communes
 * merged (an enlarged commune may keep a predecessor's code). */
#define FX_R25_EFFECTIVE INT64_C(1751302800)
/* Dates around it, Vietnam time. */
#define FX_R25_T2024 INT64_C(1709262000)    /* 2024-03-01 10:00 */
#define FX_R25_T2025 INT64_C(1740798000)    /* 2025-03-01 10:00, before */
#define FX_R25_RECORDED INT64_C(1749956400) /* 2025-06-15 10:00 */
#define FX_R25_T2026 INT64_C(1769914800)    /* 2026-02-01 10:00 */

/* The units before it: province 60 > district 593 > communes 22921, 22924,
 * 22936; province 68, with nothing under it. */
void fx_r25_units(struct fx *fx);
/* The changes effective FX_R25_EFFECTIVE, as events recorded at "at"
 * (communes first, then districts, then provinces): 22921, 22924 and 22936
 * merge into 22924 ("Phường Phú Thủy", directly under 68); district 593 is
 * abolished; provinces 60 and 68 merge into 68. */
void fx_r25_changes(struct fx *fx, int64_t at);

/* Every code fx_r25_units defines, in the order the tests' snapshots walk
 * them: 68, 60, 593, 22921, 22924, 22936. */
#define FX_R25_NCODES 6
extern const char *const fx_r25_codes[FX_R25_NCODES];
/* For each of fx_r25_codes in turn, and for each of tails (the rest of a
 * query after its unit: "" for all time, ",\"year\":2025", ...), add
 * plugin's answer to {"unit":"<code>"<tail>} to s: its result (asserted to
 * hold no negative number when nonneg) or, for a unit that had ended by
 * the query's date, its refusal. */
void fx_snap_r25(struct fx *fx, struct fx_snap *s, const char *plugin,
                 const char *const *tails, size_t ntails, bool nonneg);

/* A change recorded late: events dated after FX_R25_EFFECTIVE in units it
 * ends (a loan in 22921 on 2025-07-02) are logged before fx_r25_changes
 * is, at FX_R25_LATE_RECORDED; what follows is logged after it. */
#define FX_R25_T0702 INT64_C(1751425200)         /* 2025-07-02 10:00 */
#define FX_R25_LATE_RECORDED INT64_C(1752548400) /* 2025-07-15 10:00 */
#define FX_R25_T0801 INT64_C(1754017200)         /* 2025-08-01 10:00 */
/* Where what is logged before the late change in 22921 counts: 22921 and
 * the district and province above it then (22921, 593, 60); and where its
 * households are after it: 22924 and its province (22924, 68). */
#define FX_R25_NOLD 3
#define FX_R25_NNOW 2
extern const char *const fx_r25_old[FX_R25_NOLD];
extern const char *const fx_r25_now[FX_R25_NNOW];

/* Fail the test when o (a reply, walked through maps and arrays) holds a
 * negative number anywhere; what names it in the message. */
void fx_assert_no_negative(const msgpack_object *o, const char *what);

/* 2025-06-20 10:00 +07: before FX_R25_EFFECTIVE, for a record logged
 * after the changes but dated while the ended units were in force. */
#define FX_R25_T0620 INT64_C(1750388400)

/* Write v big-endian at p[0..8): the plugins' state encodes integers so,
 * for tests that write a state by hand. */
void fx_be64(uint8_t *p, uint64_t v);

/* Write key -> val into plugin's state database behind the host's back
 * (closes the host), as an older version of the plugin would have left
 * it. */
void fx_state_put(struct fx *fx, const char *plugin, const void *key,
                  size_t klen, const void *val, size_t vlen);
/* Assert that plugin is quarantined: a query of it fails saying so. */
void fx_assert_quarantined(struct fx *fx, const char *plugin,
                           const char *q_json);

#endif /* POVTRACK_TEST_PLUGIN_FIXTURE_H */
