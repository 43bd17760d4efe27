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

#include <stdbool.h>
#include <string.h>

#if defined(__GLIBC__) &&                                                      \
    (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
#define HAVE_STRERRORDESC_NP 1
#endif

/* povtrack's own codes, from the one list (POVTRACK_ERROR_MAP).  That no
 * two share a value is tests/tools/test_errors.c's to check. */
static const struct {
    int code;
    const char *name;
    const char *message;
} own_errors[] = {
#define OWN_ERROR(name, value, message)                                        \
    {POVTRACK_##name, "POVTRACK_" #name, message},
    POVTRACK_ERROR_MAP(OWN_ERROR)
#undef OWN_ERROR
};

/* The index of rc in own_errors, or -1 when it is not one of them. */
static int own_error(int rc)
{
    for (size_t i = 0; i < sizeof own_errors / sizeof own_errors[0]; i++)
        if (own_errors[i].code == rc)
            return (int)i;
    return -1;
}

static int in_errno_range(int rc)
{
    return rc < 0 && rc >= POVTRACK_ERRNO_MIN;
}

static int in_lmdb_range(int rc)
{
    return rc >= POVTRACK_LMDB_MIN && rc <= POVTRACK_LMDB_MAX;
}

/* The C library's name (name true) or text of an errno value, NULL when it
 * has none. */
static const char *errno_text(int e, bool name)
{
#ifdef HAVE_STRERRORDESC_NP
    return name ? strerrorname_np(e) : strerrordesc_np(e);
#else
    return name ? NULL : strerror(e);
#endif
}

/* rc's name (name true) or its message: one walk over the ranges for
 * both. */
static const char *describe(int rc, bool name)
{
    int own = own_error(rc);

    if (rc == POVTRACK_OK)
        return name ? "OK" : "success";
    if (own >= 0)
        return name ? own_errors[own].name : own_errors[own].message;
    if (in_lmdb_range(rc))
        return name ? "LMDB" : "storage error (LMDB)";
    if (in_errno_range(rc)) {
        const char *s = errno_text(-rc, name);
        if (s != NULL)
            return s;
        return name ? "ERRNO" : "unknown error";
    }
    return name ? "UNKNOWN" : "unknown error";
}

const char *povtrack_strerror(int rc)
{
    return describe(rc, false);
}

const char *povtrack_err_name(int rc)
{
    return describe(rc, true);
}
