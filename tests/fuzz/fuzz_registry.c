/*
 * fuzz_registry.c - libFuzzer target: the publisher registry (INI) that
 * decides who may connect to povtrackd and what each may do.
 *
 * The input is written to a memfd and loaded through /proc/self/fd/N with
 * pt_registry_load(), the daemon's own entry point.  A registry that loads
 * is then asked the questions the ZAP handler and ingest ask.
 *
 * Checked beyond crashes: a failed load says why; a loaded registry keeps
 * its promises (pt_registry.h): every publisher has a key, names and keys
 * are unique and each finds its own publisher, counts stay within their
 * arrays, strings are terminated, and a publisher that may publish has
 * units to publish for.
 */
#define _GNU_SOURCE /* memfd_create */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ev_event.h"
#include "pt_registry.h"

static void die(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_registry: invariant broken: %s: %s\n", what,
            detail != NULL ? detail : "");
    abort();
}

static void check_str(const char *s, size_t cap, const char *what)
{
    if (memchr(s, '\0', cap) == NULL)
        die("string not terminated", what);
}

static void check_publisher(const struct pt_registry *r,
                            const struct pt_publisher *p)
{
    char err[512];

    check_str(p->name, sizeof p->name, "name");
    check_str(p->publish_text, sizeof p->publish_text, "publish");
    check_str(p->units_text, sizeof p->units_text, "units");
    if (p->name[0] == '\0')
        die("publisher without a name", NULL);
    if (!p->has_key)
        die("publisher without a key", p->name);
    if (p->nunits > PT_RIGHTS_UNITS_MAX || p->nplugins > PT_RIGHTS_PLUGINS_MAX)
        die("rights beyond their arrays", p->name);
    for (size_t i = 0; i < p->nunits; i++)
        check_str(p->units[i], sizeof p->units[i], "unit");
    for (size_t i = 0; i < p->nplugins; i++)
        check_str(p->plugins[i], sizeof p->plugins[i], "plugin");
    if (pt_registry_find_name(r, p->name, strlen(p->name)) != p)
        die("name does not find its publisher", p->name);
    if (pt_registry_find_key(r, p->key) != p)
        die("key does not find its publisher", p->name);
    if (p->types != 0 && !p->all_units && p->nunits == 0)
        die("may publish but has no units", p->name);

    /* The questions ingest and the query endpoint ask. */
    for (int t = EV_TYPE_NONE; t <= EV_TYPE_COUNT; t++) {
        err[0] = '\0';
        int rc = pt_publisher_check_type(p, (enum ev_type)t, err, sizeof err);
        if (rc != 0 && err[0] == '\0')
            die("type refused without a message", p->name);
        if (rc == 0 && !(p->types & EV_TYPE_BIT(t)))
            die("type granted without the right", p->name);
    }
    for (size_t i = 0; i < p->nplugins; i++)
        if (!pt_publisher_may_query(p, p->plugins[i], strlen(p->plugins[i])))
            die("listed plugin may not be queried", p->plugins[i]);
    (void)pt_publisher_may_query(p, "log", 3);
    (void)pt_publisher_may_query_any(p);
    if (pt_publisher_may_publish_any(p) != (p->types != 0))
        die("may_publish_any disagrees with the rights", p->name);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64], err[1024] = "";
    int fd = memfd_create("fuzz_registry.ini", MFD_CLOEXEC);
    if (fd < 0) {
        perror("fuzz_registry: memfd_create");
        abort(); /* an environment problem, not an input's: stop loudly */
    }
    for (size_t off = 0; off < size;) {
        ssize_t n = write(fd, data + off, size - off);
        if (n <= 0) {
            perror("fuzz_registry: write");
            abort();
        }
        off += (size_t)n;
    }
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);

    struct pt_registry *r = NULL;
    if (pt_registry_load(path, &r, err, sizeof err) != 0) {
        if (err[0] == '\0')
            die("load failed without a message", path);
        if (r != NULL)
            die("failed load touched *out", path);
    } else {
        if (r == NULL || r->count > PT_PUBLISHERS_MAX)
            die("loaded registry out of bounds", path);
        for (size_t i = 0; i < r->count; i++)
            check_publisher(r, &r->pubs[i]);
        pt_registry_free(r);
    }
    close(fd);
    return 0;
}
