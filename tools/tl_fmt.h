/*
 * tl_fmt.h - how the CLI writes numbers, money, times and table cells.
 *
 * One convention everywhere: thousands are separated by commas
 * ("1,500,000 VND"), rates are percentages with two decimals ("3.12%"),
 * changes of a rate are percentage points ("0.45 pp"), times are ISO-8601
 * in UTC ("2025-03-01T10:04:05Z") where a program reads them and in
 * Vietnam time where people do (the alert listing, the summary, the
 * importer's messages).
 */
#ifndef POVTRACK_TL_FMT_H
#define POVTRACK_TL_FMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Buffer sizes that always suffice. */
#define TL_FMT_INT_MAX 32 /* "-9,223,372,036,854,775,808" */
#define TL_FMT_VND_MAX 40
#define TL_FMT_TIME_MAX 40

/* Write v with comma thousands separators into buf (>= TL_FMT_INT_MAX
 * bytes); returns buf. */
const char *tl_fmt_int(int64_t v, char *buf);

/* "1,500,000 VND" into buf (>= TL_FMT_VND_MAX bytes); returns buf. */
const char *tl_fmt_vnd(int64_t v, char *buf);

/* Unix seconds, or microseconds with micro = true, as ISO-8601 UTC into buf
 * (>= TL_FMT_TIME_MAX bytes); microseconds are shown only when non-zero.
 * Returns buf. */
const char *tl_fmt_time(int64_t t, bool micro, char *buf);

/* Vietnam is UTC+7 all year, with no daylight saving. */
#define TL_VN_OFFSET (7 * 3600)

/* Unix seconds as a date in Vietnam, "2024-10-17", into buf (>=
 * TL_FMT_TIME_MAX bytes); returns buf. */
const char *tl_fmt_vn_date(int64_t t, char *buf);

/* The same with the time of day, "2024-10-17 08:30 +07". */
const char *tl_fmt_vn_time(int64_t t, char *buf);

/* Columns a UTF-8 string takes on a terminal: one per code point, none for
 * continuation bytes and for combining marks (U+0300..U+036F), so that
 * Vietnamese text lines up whether it is precomposed (NFC) or not.  East
 * Asian wide characters are not handled: unit names do not use them. */
size_t tl_utf8_width(const char *s);

/* Print s padded with spaces to width columns (left-aligned, or
 * right-aligned when right is true).  Longer strings are printed whole:
 * tables grow rather than cut names.  0, or POVTRACK_EIO when f fails. */
int tl_print_cell(FILE *f, const char *s, size_t width, bool right);

#endif /* POVTRACK_TL_FMT_H */
