/*
 * faulty.c - a deliberately faulty plugin for the fault tests.
 *
 * It counts donation.received events (state key "n"; query {} answers
 * {"n": count}) and misbehaves as configured:
 *
 *   [plugin.faulty]
 *   mode = crash | abort | hang | fail_init | ok
 *   at = <event id>        ; apply of this event crashes, aborts or hangs
 *   hang_gate = <FIFO>     ; mode hang: the apply that hangs passes this
 *                          ; gate first (below)
 *
 * It calls itself by its file's name, so that copies of one build (q1.so,
 * q2.so ...) are several plugins, each configured as [plugin.q1] path =
 * q1.so.
 *
 * Gate: when the environment variable FAULTY_GATE names a FIFO that
 * exists, loading the plugin blocks until a writer has opened the FIFO and
 * closed it.  A test holds a plugin host in its start that way (the host
 * has not bound the query endpoint yet) and knows, once its open for
 * writing returns, that the host is there.  Loading is no plugin call, so
 * the watchdog does not time it.  With hang_gate, the apply that hangs
 * passes that gate first: the test then knows the host is inside the
 * call.
 *
 * Built three times: faulty.so; faulty_fixed.so (FAULTY_FIXED: the same
 * plugin with the bug fixed, ignoring mode), which a test puts in place of
 * faulty.so before resuming it; and faulty_abi.so with FAULTY_ABI set to an
 * ABI version no host speaks.
 */
#define _GNU_SOURCE /* dladdr */
#include <dlfcn.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <povtrack/plugin.h>

/* faulty_abi.so: built as against a header of another ABI version. */
#ifdef FAULTY_ABI
#undef POVTRACK_PLUGIN_ABI_VERSION
#define POVTRACK_PLUGIN_ABI_VERSION FAULTY_ABI
#endif

struct faulty {
    const struct povtrack_host *host;
    char mode[16];
    char at[EV_ID_MAX + 1];
    char hang_gate[256];
};

/* See the header: wait at the gate, if there is one. */
static void pass_gate(const char *gate)
{
    struct stat st;
    if (gate == NULL || stat(gate, &st) != 0 || !S_ISFIFO(st.st_mode))
        return;
    /* Blocks until the test opens the FIFO for writing; then wait for it
     * to close its end. */
    int fd = open(gate, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    char buf[16];
    while (read(fd, buf, sizeof buf) > 0)
        ;
    close(fd);
}

__attribute__((constructor)) static void faulty_gate(void)
{
    pass_gate(getenv("FAULTY_GATE"));
}

static int faulty_init(povtrack_ctx *ctx, const struct povtrack_host *host,
                       void **state)
{
    struct faulty *f = calloc(1, sizeof *f);
    if (f == NULL)
        return -1;
    f->host = host;
    const char *mode = host->config(ctx, "mode");
    const char *at = host->config(ctx, "at");
    const char *gate = host->config(ctx, "hang_gate");
    snprintf(f->mode, sizeof f->mode, "%s", mode ? mode : "ok");
    snprintf(f->at, sizeof f->at, "%s", at ? at : "");
    snprintf(f->hang_gate, sizeof f->hang_gate, "%s", gate ? gate : "");
#ifndef FAULTY_FIXED
    if (strcmp(f->mode, "fail_init") == 0) {
        host->log(ctx, POVTRACK_LOG_ERROR, "mode = fail_init: refusing");
        free(f);
        return -1;
    }
#endif
    *state = f;
    return 0;
}

static int faulty_apply(void *state, povtrack_ctx *ctx,
                        const struct povtrack_record *rec)
{
    struct faulty *f = state;
#ifdef FAULTY_FIXED
    int fixed = 1;
#else
    int fixed = 0;
#endif
    if (!fixed && f->at[0] != '\0' && ev_str_eq(rec->event->id, f->at)) {
        if (strcmp(f->mode, "crash") == 0) {
            volatile int *nowhere = NULL;
            *nowhere = 1; /* a real segfault, as a buggy plugin has */
        } else if (strcmp(f->mode, "abort") == 0) {
            raise(SIGABRT);
        } else if (strcmp(f->mode, "hang") == 0) {
            pass_gate(f->hang_gate[0] ? f->hang_gate : NULL);
            for (;;)
                pause();
        }
    }
    uint64_t n = 0;
    const void *v;
    size_t vlen;
    int rc = f->host->get(ctx, "n", 1, &v, &vlen);
    if (rc == 0 && vlen == sizeof n)
        memcpy(&n, v, sizeof n);
    else if (rc != POVTRACK_NOTFOUND)
        return rc;
    n++;
    return f->host->put(ctx, "n", 1, &n, sizeof n);
}

static int faulty_query(void *state, povtrack_ctx *ctx, const msgpack_object *q,
                        msgpack_packer *out, char *err, size_t errlen)
{
    struct faulty *f = state;
    (void)q;
    (void)err;
    (void)errlen;
    uint64_t n = 0;
    const void *v;
    size_t vlen;
    if (f->host->get(ctx, "n", 1, &v, &vlen) == 0 && vlen == sizeof n)
        memcpy(&n, v, sizeof n);
    msgpack_pack_map(out, 1);
    msgpack_pack_str_with_body(out, "n", 1);
    msgpack_pack_uint64(out, n);
    return 0;
}

static void faulty_fini(void *state)
{
    free(state);
}

/* Each loaded copy of the .so has its own: set when the copy is loaded,
 * before the host reads the descriptor.  The name is the file's,
 * "/dir/q1.so" -> "q1". */
static char faulty_name[64] = "faulty";

__attribute__((constructor)) static void faulty_set_name(void)
{
    Dl_info info;
    if (dladdr((void *)faulty_name, &info) != 0 && info.dli_fname != NULL) {
        const char *base = strrchr(info.dli_fname, '/');
        base = base != NULL ? base + 1 : info.dli_fname;
        size_t n = strcspn(base, ".");
        if (n > 0 && n < sizeof faulty_name) {
            memcpy(faulty_name, base, n);
            faulty_name[n] = '\0';
        }
    }
}

static const struct povtrack_config_key faulty_config[] = {
    {.name = "mode",
     .default_value = "ok",
     .description = "crash, abort, hang, fail_init or ok"},
    {.name = "at", .description = "the id of the event whose apply misbehaves"},
    {.name = "hang_gate", .description = "mode hang: a FIFO passed first"},
    {.name = NULL},
};

POVTRACK_PLUGIN(.name = faulty_name, .version = "1.0.0",
                .event_mask = EV_TYPE_BIT(EV_DONATION_RECEIVED),
                .init = faulty_init, .apply = faulty_apply,
                .query = faulty_query, .fini = faulty_fini,
                .config_map = faulty_config);
