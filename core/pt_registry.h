/*
 * pt_registry.h - the publisher registry: who may connect to povtrackd, what
 * each may publish and for which units, and what each may ask.
 *
 * The registry is an INI file the operator edits (read with inih).  Each
 * section is one publisher; its name is the identity the daemon stores with
 * every event that publisher sends.  Rights are granted, never implied: a
 * key that is absent grants nothing.
 *
 *   [mttq-593]
 *   key = <40-character Z85 CURVE public key, from `povtrack keygen`>
 *   publish = donation.* fund.*   ; event types: a full name, "prefix.*"
 *                                 ; (every type under prefix) or "*"
 *   units = 593                   ; unit codes, each granting itself and
 *                                 ; every unit under it; "*" for all
 *   query = fund poverty          ; plugins it may query; "*" for all;
 *                                 ; "log" also lets it read raw events
 *   alerts = yes                  ; may subscribe to alerts (default no)
 *   admin = yes                   ; may resume and rebuild plugins
 *
 * A publisher may publish an event when the event's type matches "publish"
 * and it has the right over the event's unit: the unit or one of its
 * ancestors is one of "units".  An event that creates, redefines, moves,
 * merges or ends units needs that right over every unit it changes (see
 * pt_publisher_check_unit).  Everything in this module is pure: it reads
 * the file and answers questions; the ZAP handler (pt_auth.h) and ingest
 * put it to use.
 */
#ifndef POVTRACK_PT_REGISTRY_H
#define POVTRACK_PT_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ev_event.h"
#include "ev_unit.h"

#define PT_PUBLISHER_NAME_MAX 64 /* bytes of a publisher's name */
#define PT_PUBLISHERS_MAX 4096   /* sections in one registry */
#define PT_RIGHTS_UNITS_MAX 64   /* codes in one "units" */
#define PT_RIGHTS_PLUGINS_MAX 32 /* names in one "query" */
#define PT_RIGHTS_TEXT_MAX 256   /* the rights as written, for messages */
#define PT_CURVE_KEY_BYTES 32    /* a CURVE key, binary */
#define PT_CURVE_KEY_Z85 41      /* the same in Z85, NUL included */

struct pt_publisher {
    char name[PT_PUBLISHER_NAME_MAX + 1];
    uint8_t key[PT_CURVE_KEY_BYTES];
    bool has_key;
    uint64_t types; /* EV_TYPE_BIT of each type it may publish */
    bool all_units;
    char units[PT_RIGHTS_UNITS_MAX][EV_UNIT_MAX + 1];
    size_t nunits;
    bool query_all;
    bool query_log; /* the "read" op: raw events, personal data */
    char plugins[PT_RIGHTS_PLUGINS_MAX][PT_PUBLISHER_NAME_MAX + 1];
    size_t nplugins;
    bool alerts;
    bool admin; /* resume, rebuild */
    /* The rights as the operator wrote them, quoted in rejections. */
    char publish_text[PT_RIGHTS_TEXT_MAX];
    char units_text[PT_RIGHTS_TEXT_MAX];
};

struct pt_registry {
    struct pt_publisher *pubs;
    size_t count;
};

/* Read path.  Errors name the file, the line and the problem:
 * "publishers.ini:7: [mttq-593] publish: unknown event type "donation.x"".
 * Every section must have a key; names and keys must be unique.  Returns 0,
 * or with err set (and *out untouched) POVTRACK_ECONFIG for what the file
 * says, a negated errno value when it cannot be read, POVTRACK_ENOMEM. */
int pt_registry_load(const char *path, struct pt_registry **out, char *err,
                     size_t errlen);
void pt_registry_free(struct pt_registry *r);

/* The publisher with this binary public key, or NULL. */
const struct pt_publisher *pt_registry_find_key(const struct pt_registry *r,
                                                const uint8_t *key);
/* The publisher called name (len bytes), or NULL. */
const struct pt_publisher *pt_registry_find_name(const struct pt_registry *r,
                                                 const char *name, size_t len);

/* A publisher with every right: the identity of plain (loopback) mode. */
void pt_publisher_everyone(struct pt_publisher *p, const char *name);

/* May p publish events of type t?  0, or POVTRACK_EINVALID with err naming
 * the right (the event is refused, as for pt_publisher_check_unit):
 * "type: publisher "mttq-593" may not publish household.status (its
 * rights: publish = donation.* fund.*)". */
int pt_publisher_check_type(const struct pt_publisher *p, enum ev_type t,
                            char *err, size_t errlen);

/*
 * May p publish ev, as far as units go?  "The right over U at t": U, or a
 * unit above U on the hierarchy of t in reg (the registry as of this
 * commit), is one of p's units.  What each event needs:
 *
 *   household.moved       its unit and its data.from, at its "at";
 *   any other event       its unit, at its "at";
 *   unit.defined, new     the code listed itself, or the right over its
 *                         declared parent, as of effective;
 *   unit.defined, known   a redefinition as of effective (no effective:
 *                         of its first span): the right over the unit's
 *                         current parent (a province: over itself) as it
 *                         stood the day before (or on the day, when a span
 *                         starts then), and over the parent it declares
 *                         when that is another, as of effective;
 *   unit.changed          the new parent, as of effective; every successor
 *                         that is not a predecessor: one that exists as it
 *                         stands then (and its parent, when it is moved),
 *                         one created through that parent (a new province
 *                         only when listed itself); every predecessor's
 *                         parent (a province: itself) the day before.
 *
 * The right over a parent covers its children, so needing the parent also
 * needs the unit.  Returns POVTRACK_OK, the registry's error code, or
 * POVTRACK_EINVALID with err naming the unit the right is missing for and what
 * that unit is to the event: "unit: publisher "mttq-593" may not change unit
 * 594 (the current parent of 23232; its rights: units = 593)"; for other events
 * "unit: publisher "mttq-593" may not publish for unit 594 (its rights:
 * units = 593)".
 */
int pt_publisher_check_unit(const struct pt_publisher *p,
                            const struct ev_event *ev,
                            const struct ev_registry *reg, char *err,
                            size_t errlen);

/* May p query plugin (len bytes)?  "log" asks for the read op. */
bool pt_publisher_may_query(const struct pt_publisher *p, const char *plugin,
                            size_t len);
/* May p query anything at all (ping, stats, units)? */
bool pt_publisher_may_query_any(const struct pt_publisher *p);
/* May p publish anything at all? */
bool pt_publisher_may_publish_any(const struct pt_publisher *p);

#endif /* POVTRACK_PT_REGISTRY_H */
