/*
 * tl_error.c - see tl_error.h.
 */
#include "tl_error.h"

#include <stdarg.h>
#include <stdio.h>

int tl_fail(struct tl_error *err, int rc, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || err->msg[0] != '\0')
        return rc;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return rc;
}
