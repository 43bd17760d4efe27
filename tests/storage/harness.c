/*
 * harness.c - see harness.h.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "harness.h"

static void rm_rf(const char *path)
{
    struct stat sb;
    DIR *d;
    struct dirent *de;

    if (lstat(path, &sb) != 0)
        return;
    if (!S_ISDIR(sb.st_mode)) {
        unlink(path);
        return;
    }
    d = opendir(path);
    if (d != NULL) {
        while ((de = readdir(d)) != NULL) {
            char sub[512];

            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                continue;
            snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
            rm_rf(sub);
        }
        closedir(d);
    }
    rmdir(path);
}

int sth_setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    if (f == NULL)
        return -1;
    snprintf(f->root, sizeof(f->root), "/tmp/povtrack-st-XXXXXX");
    if (mkdtemp(f->root) == NULL) {
        free(f);
        return -1;
    }
    snprintf(f->dir, sizeof(f->dir), "%s/log", f->root);
    *state = f;
    return 0;
}

int sth_teardown(void **state)
{
    struct fx *f = *state;

    rm_rf(f->root);
    free(f);
    return 0;
}

struct st_log *sth_open(const char *dir, unsigned flags, size_t map)
{
    struct st_log *log = NULL;
    char err[256] = "";
    int rc = st_log_open_sized(dir, flags, map, &log, err, sizeof(err));

    if (rc != 0)
        fail_msg("st_log_open(%s): %s: %s", dir, st_strerror(rc), err);
    return log;
}

struct ev_str sth_str(const char *s)
{
    struct ev_str r = {s, s != NULL ? (uint32_t)strlen(s) : 0};
    return r;
}

void sth_item(struct st_item *it, const struct ev_event *ev, const void *bytes,
              size_t len, const char *publisher)
{
    memset(it, 0, sizeof(*it));
    it->ev = ev;
    it->bytes = bytes;
    it->len = len;
    it->publisher = sth_str(publisher);
}

void sth_assert_stored(const struct st_item *items, size_t n, uint64_t first)
{
    for (size_t i = 0; i < n; i++) {
        if (items[i].status != ST_ITEM_OK)
            fail_msg("item %zu: status %d: %s", i, (int)items[i].status,
                     items[i].error);
        if (first != 0)
            assert_int_equal(items[i].seq, first + i);
    }
}

void sth_append_stored(struct st_log *log, int64_t received,
                       struct st_item *items, size_t n, st_check_fn check,
                       uint64_t first)
{
    assert_int_equal(st_log_append_batch(log, received, items, n, check, NULL),
                     0);
    sth_assert_stored(items, n, first);
}
