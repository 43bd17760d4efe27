/*
 * mr_national.h - povtrack-mirror's third role, with [national] (README,
 * Many provinces, National): every province's stream into the national
 * log, each record once, with its origin.
 *
 * For each province of [national] provinces, its stream (mr_stream.h, the
 * format a province's mirror writes) is read with an ephemeral pull
 * consumer, without acks, from the record after the province's cursor in
 * the national log (st_log.h, "the national daemon's log"): the log is
 * the cursor.  Each fetch of up to MR_NATIONAL_BATCH messages is checked
 * (stream sequence = Povtrack-Seq = cursor + 1, + 2 ..., the province and
 * subject its own), each record rewritten for the nation:
 *
 *   id, and a void's or correction's target   "<province>/<id>"
 *   household                                 "<province>/<household>"
 *   a province's unit.defined (or unit.changed into a province) without
 *   a parent                                  parent EV_COUNTRY
 *
 * (received time and publisher unchanged), and appended with
 * st_log_append_origin: the records, their origins and the cursor in one
 * transaction, so a SIGKILL at any point loses or doubles nothing and the
 * next run resumes at cursor + 1.  A record whose unit is not under one
 * of the units [national] carry.<province> allows (by default the
 * province itself) is refused with the code national.foreign_unit, and
 * one the registry refuses (a unit not in force, an id too long with its
 * prefix) with national.rejected: neither is stored, both are noted in
 * the log's rejects (the plugin host raises each as a critical alert),
 * and the cursor moves past them, so one bad record never stops a
 * province.  After each commit, ingest hears "applied <seq>" (it wakes the
 * plugin host), and the province's progress page
 * (PT_DATA_NATIONAL_FILE_PREFIX<code>, pt_mirror.h) says the state and the
 * stream's last sequence, for stats.
 *
 * At its first start the national log gets the country's unit,
 * unit.defined EV_COUNTRY (level central, id "national/00"), so that the
 * provinces can sit under it.
 *
 * A province whose stream cannot be read (missing, NATS down) is retried
 * with a back-off (1 s doubling to 30 s) and does not hold up the others.
 * A stream that ends before the province's cursor (its nodes lost their
 * tail, and the province's mirror has not yet sent it again) is waited
 * for.  A message that is not the record expected stops that province
 * (state diverged, logged, looked at again every 30 s).
 */
#ifndef POVTRACK_MR_NATIONAL_H
#define POVTRACK_MR_NATIONAL_H

#include "pt_config.h"
#include "pt_log.h"

#define MR_NATIONAL_BATCH 256                     /* records per transaction */
#define MR_NATIONAL_PUBLISHER "povtrack-national" /* of the country's unit */
#define MR_NATIONAL_COUNTRY_NAME "Việt Nam"

/* Run until told to stop (as mr_copy_run).  Returns the exit status. */
int mr_national_run(const struct pt_config *cfg, const struct pt_log *log,
                    int ingest_fd, int signal_fd);

#endif /* POVTRACK_MR_NATIONAL_H */
