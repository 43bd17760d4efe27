/*
 * fuzz_config.c - libFuzzer target: povtrackd's INI configuration file.
 *
 * The input is written to a memfd and read through /proc/self/fd/N, so
 * pt_config_load() parses it with its real API (a path) without a file on
 * disk.  Each input starts from pt_config_defaults(); a file that loads is
 * then taken through what povtrackd does next with it (pt_main.c): resolve
 * the plugin paths and check the security settings.
 *
 * Checked beyond crashes: every failure leaves a message, and what loads is
 * well-formed (NUL-terminated strings, counts within their arrays).
 */
#define _GNU_SOURCE /* memfd_create */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pt_config.h"

/* struct pt_config is large (every plugin section with its keys): one
 * allocation reused by every input instead of a megabyte of memset and
 * malloc each time.  The one static fixture of this harness: allocated in
 * LLVMFuzzerInitialize, reset by pt_config_defaults() for every input. */
static struct pt_config *fixture;

static void die(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_config: invariant broken: %s: %s\n", what, detail);
    abort();
}

static void check_str(const char *s, size_t cap, const char *what)
{
    if (memchr(s, '\0', cap) == NULL)
        die("string not terminated", what);
}

/* What a loaded configuration promises its users. */
static void check_loaded(const struct pt_config *cfg)
{
    check_str(cfg->data_dir, sizeof cfg->data_dir, "data_dir");
    check_str(cfg->ingest, sizeof cfg->ingest, "ingest");
    check_str(cfg->query, sizeof cfg->query, "query");
    check_str(cfg->alerts, sizeof cfg->alerts, "alerts");
    check_str(cfg->plugin_dir, sizeof cfg->plugin_dir, "plugin_dir");
    check_str(cfg->curve_key_file, sizeof cfg->curve_key_file, "curve_key");
    check_str(cfg->registry_file, sizeof cfg->registry_file, "registry");
    if (cfg->nplugins > PT_PLUGINS_MAX)
        die("too many plugins", "nplugins");
    if (cfg->batch_max < 1 || cfg->batch_max > 100000)
        die("batch_max out of range", "batch_max");
    for (size_t i = 0; i < cfg->nplugins; i++) {
        const struct pt_plugin_conf *pc = &cfg->plugins[i];
        check_str(pc->name, sizeof pc->name, "plugin name");
        if (pc->name[0] == '\0')
            die("empty plugin name", "plugins");
        if (pc->nkeys > PT_PLUGIN_KEYS_MAX)
            die("too many plugin keys", pc->name);
        for (size_t k = 0; k < pc->nkeys; k++) {
            check_str(pc->keys[k].key, sizeof pc->keys[k].key, "key");
            check_str(pc->keys[k].value, sizeof pc->keys[k].value, "value");
        }
        /* A listed plugin appears once. */
        for (size_t j = 0; j < i; j++)
            if (strcmp(cfg->plugins[j].name, pc->name) == 0)
                die("plugin listed twice", pc->name);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fixture = malloc(sizeof *fixture);
    if (fixture == NULL) {
        fprintf(stderr, "fuzz_config: out of memory\n");
        exit(1);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64], err[1024];
    int fd = memfd_create("fuzz_config.ini", MFD_CLOEXEC);
    if (fd < 0) {
        perror("fuzz_config: memfd_create");
        abort(); /* an environment problem, not an input's: stop loudly */
    }
    for (size_t off = 0; off < size;) {
        ssize_t n = write(fd, data + off, size - off);
        if (n <= 0) {
            perror("fuzz_config: write");
            abort();
        }
        off += (size_t)n;
    }
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);

    struct pt_config *cfg = fixture;
    if (pt_config_defaults(cfg) != 0)
        die("pt_config_defaults", "failed");
    err[0] = '\0';
    if (pt_config_load(cfg, path, err, sizeof err) != 0) {
        if (err[0] == '\0')
            die("pt_config_load failed without a message", path);
    } else {
        check_loaded(cfg);
        /* What povtrackd does with a loaded file before it starts. */
        err[0] = '\0';
        if (pt_config_resolve(cfg, err, sizeof err) != 0 && err[0] == '\0')
            die("pt_config_resolve failed without a message", path);
        err[0] = '\0';
        if (pt_config_check_security(cfg, err, sizeof err) != 0 &&
            err[0] == '\0')
            die("pt_config_check_security failed without a message", path);
    }
    close(fd);
    return 0;
}
