/*
 * harness.h - what the storage tests share: a fresh temporary directory
 * per test, with the log in its "log" child; opening a log; filling
 * st_items; and appending a batch that must be stored whole.
 *
 * Every helper fails the running cmocka test on error.
 */
#ifndef POVTRACK_TEST_STORAGE_HARNESS_H
#define POVTRACK_TEST_STORAGE_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#include "st_log.h"

/* A test's directory: root from mkdtemp, dir = root + "/log" (not created:
 * the first writer creates it). */
struct fx {
    char root[64];
    char dir[96];
};

/* cmocka setup: mkdtemp /tmp/povtrack-st-XXXXXX and put a struct fx for it
 * in *state; -1 (the test is not run) when that fails. */
int sth_setup(void **state);
/* cmocka teardown: remove root and all below it, free the struct fx. */
int sth_teardown(void **state);
/* A cmocka test run between sth_setup and sth_teardown. */
#define STH_TEST(f) cmocka_unit_test_setup_teardown(f, sth_setup, sth_teardown)

/* st_log_open_sized(dir, flags, map) (map 0: the default size); fails the
 * test, naming dir, the code and the message, when it does not open. */
struct st_log *sth_open(const char *dir, unsigned flags, size_t map);

/* s as an ev_str (NULL: {NULL, 0}, absent). */
struct ev_str sth_str(const char *s);

/* *it zeroed, then the event ev encoded as bytes[0..len) from publisher
 * (NULL: none; like bytes, it must live until the append). */
void sth_item(struct st_item *it, const struct ev_event *ev, const void *bytes,
              size_t len, const char *publisher);

/* Assert that every one of items[0..n) was stored (ST_ITEM_OK, else fail
 * naming the item, its status and error) and, when first is not 0, at
 * seqs first, first + 1, ... */
void sth_assert_stored(const struct st_item *items, size_t n, uint64_t first);

/* Append items[0..n) in one batch received at received, with check (NULL:
 * none): the batch must commit (st_log_append_batch returns 0) and every
 * item be stored, as sth_assert_stored(items, n, first) says. */
void sth_append_stored(struct st_log *log, int64_t received,
                       struct st_item *items, size_t n, st_check_fn check,
                       uint64_t first);

#endif /* POVTRACK_TEST_STORAGE_HARNESS_H */
