/*
 * plan_events.h - builders of the events of the rest of the plan (II.3,
 * II.4, III.3, III.4) for the plugin tests: each queues one event with
 * fx_add, as fixture.h's builders do.  Strings must live until the call
 * returns (fx_add encodes at once).
 */
#ifndef POVTRACK_TEST_PLAN_EVENTS_H
#define POVTRACK_TEST_PLAN_EVENTS_H

#include <stdint.h>

#include "fixture.h"

#define PE_M INT64_C(1000000) /* a million VND */

/* production.linked */
void pe_linked(struct fx *fx, int64_t at, const char *unit, const char *hh,
               const char *link, const char *partner, enum ev_partner_kind kind,
               const char *product, int64_t year);
/* ocop.certified (no partner) */
void pe_ocop(struct fx *fx, int64_t at, const char *unit, const char *product,
             int64_t stars);
/* household.assessed of a poor household (income 0, three deprivations),
 * no_labour_capacity: 1 true, 0 false, -1 left out. */
void pe_assessed(struct fx *fx, int64_t at, const char *unit, const char *hh,
                 int64_t year, int no_labour);
/* assistance.paid */
void pe_assistance(struct fx *fx, int64_t at, const char *unit, const char *hh,
                   enum ev_assistance kind, int64_t amount);
/* budget.allocated (spent false) or budget.spent */
void pe_budget(struct fx *fx, bool spent, int64_t at, const char *unit,
               enum ev_ntp program, const char *component, int64_t year,
               int64_t amount);
/* donation.received of a donor of a kind; in_kind is left out when false */
void pe_donation(struct fx *fx, int64_t at, const char *unit, int64_t amount,
                 const char *donor, enum ev_donor_kind kind, bool in_kind);
/* commendation.awarded; decision may be NULL */
void pe_commendation(struct fx *fx, int64_t at, const char *unit,
                     const char *recipient, enum ev_recipient_kind kind,
                     const char *by, enum ev_level level, const char *decision);

/* Vietnam time (UTC+7) y-m-d h:00 as unix seconds. */
int64_t pe_time(int y, int m, int d, int h);

/* Whether the packed bytes of o hold s anywhere (a name that must never
 * be shown). */
bool pe_holds(const msgpack_object *o, const char *s);

/* Units over time for a plugin that lists an event on the units of its
 * day (donors, commendations): add queues one event of it in unit at
 * "at".  One in 22924 in 2024 counts in 593 and 60, one in 2026 (after the
 * 2025 reorganisation, fixture.h) in 68, both in 22924 (a code answers for
 * all its spans): key, in the answer, is one for each event.  A query for
 * a unit that had ended by its date is refused as by every plugin; as_of
 * regroups the 2024 one into 68 and the new 22924.  Then a rebuild, in
 * one go and one record at a time, answers the same.  And again with the
 * merger recorded late (fixture.h): one in 22921 on 2 July 2025 logged
 * before it stays in 22921, 593 and 60, and as_of regroups it into 68. */
void pe_check_units_of_the_day(const char *plugin,
                               void (*add)(struct fx *, int64_t at,
                                           const char *unit),
                               const char *key, int64_t one);

#endif /* POVTRACK_TEST_PLAN_EVENTS_H */
