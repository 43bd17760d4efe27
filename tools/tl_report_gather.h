/*
 * tl_report_gather.h - the yearly report's figures, asked of povtrackd:
 * what `povtrack report` and the web gateway's /api/v1/report show.
 *
 * The document model and its rendering are tl_report.h's; this module
 * fills the model.  It asks the units of the report's year (the root, its
 * children, theirs), waits until the plugins have applied the whole log,
 * then asks each section's plugin about each unit; a plugin that is not
 * loaded leaves its section out with a note (doc->present).  Failures are
 * written, once, to tl_cli_err(cli).
 */
#ifndef POVTRACK_TL_REPORT_GATHER_H
#define POVTRACK_TL_REPORT_GATHER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tl_cli.h"
#include "tl_report.h"

/* Zero d and set what a report starts from: Vietnamese, the year and the
 * chart's first year, the target bands povtrackd's poverty plugin has by
 * default (the daemon's own come with its answers), 30 alerts and 50
 * donors listed. */
void tl_report_doc_init(struct tl_rep_doc *d, int year, int from_year);

/* NULL when unit (2 to 5 digits), year (2000-2100) and *from_year (the
 * chart's first year; < 0: 2021, or year when earlier) make a report;
 * else why not (a static string, or written into buf).  *from_year gets
 * its default. */
const char *tl_report_args_error(const char *unit, long long year,
                                 long long *from_year, char *buf, size_t cap);

/* Fill doc (tl_report_doc_init'ed, with the caller's lang, bands and
 * alerts_max) for unit.  band_given / md_band_given: the caller set the
 * bands, so povtrackd's are not taken.  Returns 0, or an exit code of
 * tl_cli.h after writing the failure to tl_cli_err(cli); doc is then
 * partly filled: free it with tl_report_doc_free() either way. */
int tl_report_gather(struct tl_cli *cli, struct tl_rep_doc *doc,
                     const char *unit, bool band_given, bool md_band_given);

/* The last instant of year in Vietnam: a report on that year is on the
 * units in force then (every section asks with it as as_of). */
int64_t tl_report_as_of(int year);

/* Fill doc's donors list (doc->plan.donors and its rows, at most limit)
 * for unit from the donors plugin, asked q (unit, and year or from/to,
 * and as_of), after waiting until it has applied the whole log.  Returns
 * 0 or an exit code of tl_cli.h, the failure written to tl_cli_err(cli);
 * free doc with tl_report_doc_free() either way. */
int tl_report_gather_donors(struct tl_cli *cli, struct tl_rep_doc *doc,
                            const char *unit, json_t *q, int64_t limit);

#endif /* POVTRACK_TL_REPORT_GATHER_H */
