/*
 * pt_state.c - reading and copying the plugin host's state environment from
 * outside the host; see pt_state.h.
 */
#include "pt_state.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "st_env.h"
#include "st_log.h" /* st_strerror */

/* Named databases a reader opens: only the cursors. */
#define READER_MAX_DBS 4
/* Attempts at adopting a map the host keeps growing. */
#define RESIZE_TRIES 16

int pt_state_open_readonly(const char *dir, unsigned flags, MDB_env **out,
                           char *err, size_t errlen)
{
    char found[PATH_MAX + 128];
    uint64_t size = 0;
    MDB_env *env;
    int rc;

    *out = NULL;
    rc = st_mdb_rc(mdb_env_create(&env));
    if (rc != 0) {
        snprintf(err, errlen, "%s: mdb_env_create: %s", dir, st_strerror(rc));
        return rc;
    }
    rc = st_mdb_rc(mdb_env_set_maxdbs(env, READER_MAX_DBS));
    /* MDB_NOTLS: reader slots follow transactions, not threads, as in the
     * host.  st_env_open_existing checks that data.mdb is there (LMDB
     * would first create a lock file in a directory that holds no state)
     * and not empty (LMDB would try to write into it). */
    if (rc == 0)
        rc = st_env_open_existing(
            env, dir,
            MDB_RDONLY | MDB_NOTLS |
                ((flags & PT_STATE_SNAPSHOT) ? MDB_NOLOCK : 0),
            PT_STATE_FILE_MODE, &size);
    if (rc != 0) {
        st_env_describe(found, sizeof found, dir, rc, size);
        if (rc == -ENODATA)
            snprintf(err, errlen,
                     "%s: the plugin state was never written; povtrackd "
                     "creates it when it starts",
                     found);
        else if (rc == MDB_INVALID)
            snprintf(err, errlen,
                     "%s: the plugin state cannot be read (the log is not "
                     "affected); when povtrackd starts it moves the state "
                     "aside to " PT_DATA_STATE_INVALID_PREFIX "TIME and the "
                     "plugins apply the whole log again",
                     found);
        else if (rc == POVTRACK_ENOENT || rc == -ENOLCK)
            snprintf(err, errlen, "%s", found);
        else
            snprintf(err, errlen, "%s: cannot open the plugin state: %s", dir,
                     st_strerror(rc));
        mdb_env_close(env);
        return rc;
    }
    *out = env;
    return 0;
}

/* Begin a read transaction, adopting a map the host has grown since the
 * environment was opened (this process holds no other snapshot of it, so
 * the remap is safe). */
static int begin_read(MDB_env *env, MDB_txn **txn)
{
    int rc;

    for (int tries = 0;; tries++) {
        rc = st_mdb_rc(mdb_txn_begin(env, NULL, MDB_RDONLY, txn));
        if (rc != MDB_MAP_RESIZED || tries >= RESIZE_TRIES)
            return rc;
        rc = st_mdb_rc(mdb_env_set_mapsize(env, 0));
        if (rc != 0)
            return rc;
    }
}

static int push_cursor(struct pt_state_cursors *c, size_t *cap,
                       const MDB_val *k, const MDB_val *v)
{
    struct pt_state_cursor *e;

    if (c->n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 8;
        void *p = realloc(c->v, ncap * sizeof(*c->v));

        if (p == NULL)
            return POVTRACK_ENOMEM;
        c->v = p;
        *cap = ncap;
    }
    e = &c->v[c->n++];
    snprintf(e->plugin, sizeof(e->plugin), "%.*s",
             (int)(k->mv_size < PT_PLUGIN_NAME_MAX ? k->mv_size
                                                   : PT_PLUGIN_NAME_MAX),
             (const char *)k->mv_data);
    e->seq = 0;
    e->valid = v->mv_size == 8;
    if (e->valid) {
        const unsigned char *p = v->mv_data;

        for (int i = 0; i < 8; i++)
            e->seq = e->seq << 8 | p[i];
    }
    return 0;
}

int pt_state_read_cursors(MDB_env *env, struct pt_state_cursors *out, char *err,
                          size_t errlen)
{
    const char *dir = "?";
    MDB_cursor *cur = NULL;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_val k, v;
    size_t cap = 0;
    int rc;

    out->v = NULL;
    out->n = 0;
    mdb_env_get_path(env, &dir);
    rc = begin_read(env, &txn);
    if (rc != 0) {
        snprintf(err, errlen, "%s: cannot read the plugin state: %s", dir,
                 st_strerror(rc));
        return rc;
    }
    rc = st_mdb_rc(mdb_dbi_open(txn, PT_STATE_CURSORS_DB, 0, &dbi));
    if (rc == MDB_NOTFOUND) {
        mdb_txn_abort(txn);
        return 0;
    }
    if (rc == 0)
        rc = st_mdb_rc(mdb_cursor_open(txn, dbi, &cur));
    if (rc != 0) {
        snprintf(err, errlen, "%s: cannot open the \"%s\" database: %s", dir,
                 PT_STATE_CURSORS_DB, st_strerror(rc));
        mdb_txn_abort(txn);
        return rc;
    }
    for (rc = st_mdb_rc(mdb_cursor_get(cur, &k, &v, MDB_FIRST)); rc == 0;
         rc = st_mdb_rc(mdb_cursor_get(cur, &k, &v, MDB_NEXT))) {
        rc = push_cursor(out, &cap, &k, &v);
        if (rc != 0)
            break;
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    if (rc == MDB_NOTFOUND)
        return 0;
    snprintf(err, errlen, "%s: reading the cursors: %s", dir, st_strerror(rc));
    pt_state_cursors_free(out);
    return rc;
}

void pt_state_cursors_free(struct pt_state_cursors *c)
{
    free(c->v);
    c->v = NULL;
    c->n = 0;
}

size_t pt_state_cursors_check(const struct pt_state_cursors *c,
                              uint64_t last_seq, uint64_t *min, char *why,
                              size_t whylen)
{
    size_t bad = 0, valid = 0;

    *min = 0;
    if (whylen > 0)
        why[0] = '\0';
    for (size_t i = 0; i < c->n; i++) {
        const struct pt_state_cursor *e = &c->v[i];

        if (e->valid && e->seq <= last_seq) {
            if (valid++ == 0 || e->seq < *min)
                *min = e->seq;
            continue;
        }
        if (bad++ != 0)
            continue;
        if (e->valid)
            snprintf(why, whylen,
                     "plugin %s has applied seq %" PRIu64
                     ", past the log's last seq %" PRIu64,
                     e->plugin, e->seq, last_seq);
        else
            snprintf(why, whylen, "the cursor of plugin %s is not a sequence",
                     e->plugin);
    }
    return bad;
}

int pt_state_copy(MDB_env *env, const char *dir, char *err, size_t errlen)
{
    char path[PATH_MAX];
    struct stat sb;
    int rc;

    if (snprintf(path, sizeof(path), "%s/data.mdb", dir) >= (int)sizeof(path)) {
        snprintf(err, errlen, "%s: path too long", dir);
        return POVTRACK_ENAMETOOLONG;
    }
    /* So that the clean-up below only removes what this call created. */
    if (lstat(path, &sb) == 0) {
        snprintf(err, errlen, "%s: already exists", path);
        return POVTRACK_EEXIST;
    }
    for (int tries = 0;; tries++) {
        rc = st_mdb_rc(mdb_env_copy2(env, dir, MDB_CP_COMPACT));
        if (rc != MDB_MAP_RESIZED || tries >= RESIZE_TRIES)
            break;
        /* The host grew its map: the copy's read transaction could not
         * begin, after mdb_env_copy2 had created the file. */
        unlink(path);
        rc = st_mdb_rc(mdb_env_set_mapsize(env, 0));
        if (rc != 0)
            break;
    }
    if (rc != 0) {
        snprintf(err, errlen, "%s: cannot copy the plugin state: %s", dir,
                 st_strerror(rc));
        unlink(path);
    }
    return rc;
}
