/*
 * copy_pause.c - an LD_PRELOAD shim for test_ops: after the first
 * mdb_env_copy2() of the process returns, it tells the test and waits for
 * the test's go-ahead, so that the test can make the daemon move on
 * between `povtrack backup`'s two copies and check that the copies still
 * fit together.  Without OPS_COPY_PAUSE_FDS in the environment it only
 * passes the call on.
 *
 * OPS_COPY_PAUSE_FDS="W,R": file descriptors inherited from the test; one
 * byte is written to W after the first copy, then one byte is read from R
 * (end of file, the test gone, also lets the copy go on).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <lmdb.h>

int mdb_env_copy2(MDB_env *env, const char *path, unsigned int flags)
{
    static int calls;
    int (*real)(MDB_env *, const char *, unsigned int);
    const char *fds = getenv("OPS_COPY_PAUSE_FDS");
    int w, r, rc;
    char c = 'c';

    *(void **)&real = dlsym(RTLD_NEXT, "mdb_env_copy2");
    if (real == NULL)
        return MDB_PANIC;
    rc = real(env, path, flags);
    if (calls++ == 0 && rc == 0 && fds != NULL &&
        sscanf(fds, "%d,%d", &w, &r) == 2) {
        if (write(w, &c, 1) == 1 && read(r, &c, 1) < 0)
            c = 0; /* the test is gone: go on */
        close(w);
        close(r);
    }
    return rc;
}
