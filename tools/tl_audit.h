/*
 * tl_audit.h - a record and its voids and corrections, as the daemon's
 * audit op gives them ({"op": "audit", "id": ID}), for `povtrack audit`,
 * `povtrack void` and `povtrack correct`: the record as it was entered,
 * each amendment, and the record as it now stands.
 */
#ifndef POVTRACK_TL_AUDIT_H
#define POVTRACK_TL_AUDIT_H

#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

#include "tl_cli.h"

struct tl_audit {
    json_t *answer; /* {"record", "state", "amendments"} */
    /* What was asked names the record itself, not one of its amendments
     * (whose audit is the record's). */
    bool itself;
    const char *id;     /* the record's id (its original's) */
    const char *type;   /* the record's type */
    const char *state;  /* "entered", "corrected" or "voided" */
    size_t corrections; /* how many corrections it has */
    /* The record as it now stands: the event as entered, or its latest
     * correction written as the record ({"v", "id": the record's, "type":
     * the record's, "at", "unit", "household"?, "data"}).  Owned by the
     * struct. */
    json_t *current;
    /* The void, when state is "voided" (borrowed from answer). */
    const json_t *void_record;
};

/* Ask the daemon for id's audit; "#N" asks for record N's (the import
 * names stored rows so).  0 with *out filled (tl_audit_free it), or an
 * exit code after printing why ("povtrack CMD: ..."). */
int tl_audit_fetch(struct tl_cli *cli, const char *cmd, const char *id,
                   struct tl_audit *out);
void tl_audit_free(struct tl_audit *a);

/* The record asked for (asked: as the user wrote it) can be voided or
 * corrected at all: 0, else an exit code after saying why in words ("...
 * was voided on ... by ... (reason: ...); a voided record cannot be
 * corrected").  cmd is "void" or "correct". */
int tl_audit_check(const char *cmd, const char *asked,
                   const struct tl_audit *a);

/* The id of an amendment of the record id: prefix id ("void-ID"), with
 * "-n" for its nth correction ("fix-ID-2"), into out (TL_AUDIT_ID_MAX + 1
 * bytes).  Derived, so that sending the same amendment again after a lost
 * answer is a duplicate.  false when it would be longer than an id may. */
#define TL_AUDIT_ID_MAX 128
bool tl_audit_id(char *out, const char *prefix, const char *id, size_t n);

/* The events that amend a record: a record.corrected with id id of target
 * (of type) into record (an event: its at, unit, household? and data),
 * and a record.voided of target in unit at at.  NULL when out of memory. */
json_t *tl_audit_corrected(const char *id, const char *target, const char *type,
                           const json_t *record, const char *reason);
json_t *tl_audit_voided(const char *id, const char *target, const char *type,
                        const json_t *unit, int64_t at, const char *reason);

/* Set field of the record ev to value (NULL: remove it): unit, at and
 * household at its top, the others in its data. */
void tl_audit_put(json_t *ev, const char *field, json_t *value);

/* The value of an event's field as people read it: amounts with thousands
 * separators, times as dates in Vietnam, text as it is, true/false as
 * yes/no.  key is the field's name ("amount", "at"); buf holds 512 bytes. */
#define TL_AUDIT_VALUE_MAX 512
const char *tl_audit_value(const char *key, const json_t *v, char *buf);

/* Print "  KEY: OLD -> NEW" after indent for every field (unit, at,
 * household, and data's) that differs between events a and b (either may
 * lack a field: "(none)"); returns how many differ. */
size_t tl_audit_diff(FILE *f, const char *indent, const json_t *a,
                     const json_t *b);

/* Print "KEY VALUE" pairs of an event on one line after indent: unit,
 * date, household, then its data. */
void tl_audit_fields(FILE *f, const char *indent, const json_t *ev);

#endif /* POVTRACK_TL_AUDIT_H */
