/*
 * errors.c - povtrack_strerror and povtrack_err_name (<povtrack/errors.h>).
 *
 * Part of the protocol library, the bottom layer, so that every module can
 * name its errors: it depends on nothing but the C library.  glibc's
 * strerror() may write a shared buffer; its strerrordesc_np() and
 * strerrorname_np() (glibc 2.32) return static strings and are thread-safe,
 * so they are used where they exist.  Elsewhere (musl) strerror() returns
 * static strings too.
 */
#if defined(__linux__) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* strerrordesc_np, strerrorname_np */
#endif

#include <povtrack/errors.h>

#include <string.h>

#if defined(__GLIBC__) &&                                                      \
    (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
#define HAVE_STRERRORDESC_NP 1
#endif

static int in_errno_range(int rc)
{
    return rc < 0 && rc >= POVTRACK_ERRNO_MIN;
}

static int in_lmdb_range(int rc)
{
    return rc >= POVTRACK_LMDB_MIN && rc <= POVTRACK_LMDB_MAX;
}

const char *povtrack_strerror(int rc)
{
    switch (rc) {
    case POVTRACK_OK:
        return "success";
#define MESSAGE(name, value, message)                                          \
    case POVTRACK_##name:                                                      \
        return message;
        POVTRACK_ERROR_MAP(MESSAGE)
#undef MESSAGE
    }
    if (in_lmdb_range(rc))
        return "storage error (LMDB)";
    if (in_errno_range(rc)) {
#ifdef HAVE_STRERRORDESC_NP
        const char *s = strerrordesc_np(-rc);
        return s != NULL ? s : "unknown error";
#else
        return strerror(-rc);
#endif
    }
    return "unknown error";
}

const char *povtrack_err_name(int rc)
{
    /* A code listed twice in POVTRACK_ERROR_MAP is a duplicate case label
     * here, which does not compile. */
    switch (rc) {
    case POVTRACK_OK:
        return "OK";
#define NAME(name, value, message)                                             \
    case POVTRACK_##name:                                                      \
        return "POVTRACK_" #name;
        POVTRACK_ERROR_MAP(NAME)
#undef NAME
    }
    if (in_lmdb_range(rc))
        return "LMDB";
    if (in_errno_range(rc)) {
#ifdef HAVE_STRERRORDESC_NP
        const char *s = strerrorname_np(-rc);
        if (s != NULL)
            return s;
#endif
        return "ERRNO";
    }
    return "UNKNOWN";
}
