/*
 * ev_internal.h - helpers shared by the events module's files (ev_event.c,
 * ev_unit.c): error messages and quoting of untrusted input.  Not part of
 * the module's contract; nothing outside events/ includes it.
 */
#ifndef POVTRACK_EV_INTERNAL_H
#define POVTRACK_EV_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "ev_event.h"

/* Longest piece of untrusted input quoted in an error message, so that the
 * field path and the reason always fit in EV_ERROR_MAX. */
#define QUOTE_MAX 32
#define ESCAPED_MAX (QUOTE_MAX * 4 + 4)

/* Format into err->msg, why set to EV_WHY_OTHER (err may be NULL). */
void ev_set_error(struct ev_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Set err->why (err may be NULL); returns POVTRACK_EINVALID. */
int ev_set_why(struct ev_error *err, enum ev_why why);

/* The usual way out of a validator: message, then POVTRACK_EINVALID.  A macro
 * so that the format string is still checked by the compiler.  FAIL_WHY
 * also says which kind of rule was broken. */
#define FAIL(err, ...) (ev_set_error((err), __VA_ARGS__), POVTRACK_EINVALID)
#define FAIL_WHY(err, why, ...)                                                \
    (ev_set_error((err), __VA_ARGS__), ev_set_why((err), (why)))

/* Untrusted bytes made safe to print into buf (ESCAPED_MAX bytes hold any
 * result): at most QUOTE_MAX bytes of input, anything but printable ASCII,
 * quotes and backslashes as \xNN. */
const char *ev_quote(char *buf, size_t cap, const char *s, size_t len);

/* Equal strings; two absent strings are equal, absent and present not. */
bool ev_str_same(struct ev_str a, struct ev_str b);

#endif /* POVTRACK_EV_INTERNAL_H */
