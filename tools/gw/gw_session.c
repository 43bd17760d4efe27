/*
 * gw_session.c - see gw_session.h.
 */
#include "gw_session.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

struct session {
    char id[GW_SESSION_ID_LEN + 1];
    char csrf[GW_SESSION_ID_LEN + 1];
    const struct gw_identity *who;
    int64_t expires;
};

struct gw_sessions {
    pthread_mutex_t lock;
    unsigned hours;
    struct session *s;
    size_t n, cap;
};

int gw_sessions_open(unsigned hours, struct gw_sessions **out)
{
    struct gw_sessions *s = calloc(1, sizeof *s);
    if (s == NULL)
        return POVTRACK_ENOMEM;
    pthread_mutex_init(&s->lock, NULL);
    s->hours = hours;
    *out = s;
    return 0;
}

void gw_sessions_close(struct gw_sessions *s)
{
    if (s == NULL)
        return;
    sodium_memzero(s->s, s->cap * sizeof *s->s);
    free(s->s);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

static void random_hex(char *out)
{
    unsigned char raw[GW_SESSION_ID_LEN / 2];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(out, GW_SESSION_ID_LEN + 1, raw, sizeof raw);
}

/* Drop expired sessions; under the lock. */
static void expire(struct gw_sessions *s, int64_t now)
{
    for (size_t i = 0; i < s->n;) {
        if (s->s[i].expires <= now) {
            s->s[i] = s->s[--s->n];
            continue;
        }
        i++;
    }
}

int gw_session_create(struct gw_sessions *s, const struct gw_identity *who,
                      char *id, char *csrf, int64_t *expires)
{
    int64_t now = (int64_t)time(NULL);
    int rc = 0;

    pthread_mutex_lock(&s->lock);
    expire(s, now);
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        struct session *ns =
            cap > GW_SESSIONS_MAX ? NULL : realloc(s->s, cap * sizeof *ns);
        if (ns == NULL)
            rc = POVTRACK_EAGAIN;
        else {
            s->s = ns;
            s->cap = cap;
        }
    }
    if (rc == 0) {
        struct session *e = &s->s[s->n++];
        random_hex(e->id);
        random_hex(e->csrf);
        e->who = who;
        e->expires = now + (int64_t)s->hours * 3600;
        memcpy(id, e->id, sizeof e->id);
        memcpy(csrf, e->csrf, sizeof e->csrf);
        *expires = e->expires;
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static struct session *lookup(struct gw_sessions *s, const char *id)
{
    if (id == NULL || strlen(id) != GW_SESSION_ID_LEN)
        return NULL;
    for (size_t i = 0; i < s->n; i++)
        if (sodium_memcmp(s->s[i].id, id, GW_SESSION_ID_LEN) == 0)
            return &s->s[i];
    return NULL;
}

const struct gw_identity *gw_session_find(struct gw_sessions *s, const char *id,
                                          char *csrf, int64_t *expires)
{
    const struct gw_identity *who = NULL;

    pthread_mutex_lock(&s->lock);
    expire(s, (int64_t)time(NULL));
    struct session *e = lookup(s, id);
    if (e != NULL) {
        who = e->who;
        memcpy(csrf, e->csrf, sizeof e->csrf);
        *expires = e->expires;
    }
    pthread_mutex_unlock(&s->lock);
    return who;
}

void gw_session_end(struct gw_sessions *s, const char *id)
{
    pthread_mutex_lock(&s->lock);
    struct session *e = lookup(s, id);
    if (e != NULL)
        *e = s->s[--s->n];
    pthread_mutex_unlock(&s->lock);
}

bool gw_csrf_ok(const char *expected, const char *given)
{
    return given != NULL && strlen(given) == GW_SESSION_ID_LEN &&
           sodium_memcmp(expected, given, GW_SESSION_ID_LEN) == 0;
}
