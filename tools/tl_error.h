/*
 * tl_error.h - return codes and error messages of the CLI modules.
 *
 * Every tl_ function that can fail returns 0 or a negative enum tl_rc and
 * describes the failure in a struct tl_error.  The first message set wins:
 * a caller adding context never hides the original cause.
 */
#ifndef POVTRACK_TL_ERROR_H
#define POVTRACK_TL_ERROR_H

#include <stddef.h>

#define TL_ERROR_MAX 512

enum tl_rc {
    TL_OK = 0,
    TL_EINVAL = -1, /* bad input: the message says which and why */
    TL_ENOMEM = -2,
    TL_EIO = -3
};

struct tl_error {
    char msg[TL_ERROR_MAX];
};

/* Set the message if none is set yet; returns rc so that callers can write
 * "return tl_fail(err, TL_EINVAL, ...)". */
int tl_fail(struct tl_error *err, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif /* POVTRACK_TL_ERROR_H */
