/*
 * tl_error.h - error messages of the CLI modules.
 *
 * Every tl_ function that can fail returns 0 or a negative code of
 * <povtrack/errors.h> (POVTRACK_EINVALID: bad input, the message says which
 * and why; POVTRACK_ENOMEM; POVTRACK_EIO ...) and describes the failure in
 * a struct tl_error.  The first message set wins: a caller adding context
 * never hides the original cause.
 */
#ifndef POVTRACK_TL_ERROR_H
#define POVTRACK_TL_ERROR_H

#include <stddef.h>

#include <povtrack/errors.h>

#define TL_ERROR_MAX 512

struct tl_error {
    char msg[TL_ERROR_MAX];
};

/* Set the message if none is set yet; returns rc so that callers can write
 * "return tl_fail(err, POVTRACK_EINVALID, ...)". */
int tl_fail(struct tl_error *err, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif /* POVTRACK_TL_ERROR_H */
