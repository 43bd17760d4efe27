/*
 * gw_daemon.c - see gw_daemon.h.
 */
#include "gw_daemon.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POOL_MAX 8 /* idle clients kept per identity */

struct pool {
    povtrack_client *idle[POOL_MAX];
    size_t n;
};

struct gw_daemon {
    const struct gw_config *cfg;
    pthread_mutex_t lock;
    struct pool *pools; /* one per identity, then the metrics key's */
};

int gw_daemon_open(const struct gw_config *cfg, struct gw_daemon **out)
{
    struct gw_daemon *d = calloc(1, sizeof *d);
    *out = NULL;
    if (d == NULL)
        return POVTRACK_ENOMEM;
    d->pools = calloc(cfg->nids + 1, sizeof *d->pools);
    if (d->pools == NULL) {
        free(d);
        return POVTRACK_ENOMEM;
    }
    d->cfg = cfg;
    pthread_mutex_init(&d->lock, NULL);
    *out = d;
    return 0;
}

void gw_daemon_close(struct gw_daemon *d)
{
    if (d == NULL)
        return;
    for (size_t i = 0; i <= d->cfg->nids; i++)
        for (size_t k = 0; k < d->pools[i].n; k++)
            povtrack_client_close(d->pools[i].idle[k]);
    free(d->pools);
    pthread_mutex_destroy(&d->lock);
    free(d);
}

static struct pool *pool_of(struct gw_daemon *d, const struct gw_identity *who)
{
    return &d->pools[who != NULL ? who->slot : d->cfg->nids];
}

povtrack_client *gw_daemon_client(struct gw_daemon *d,
                                  const struct gw_identity *who)
{
    const struct gw_config *cfg = d->cfg;
    const struct gw_identity *id = who != NULL ? who : &cfg->metrics;
    povtrack_client *c;

    if (povtrack_client_open(&c) != 0)
        return NULL;
    if (povtrack_client_set_endpoint(c, POVTRACK_CLIENT_INGEST, cfg->ingest) ||
        povtrack_client_set_endpoint(c, POVTRACK_CLIENT_QUERY, cfg->query) ||
        povtrack_client_set_endpoint(c, POVTRACK_CLIENT_ALERTS, cfg->alerts) ||
        povtrack_client_set_timeout(c, cfg->daemon_timeout_ms) ||
        povtrack_client_set_retries(c, 1) ||
        povtrack_client_set_curve(c, cfg->server_key, id->public_key,
                                  id->secret_key)) {
        povtrack_client_close(c);
        return NULL;
    }
    return c;
}

povtrack_client *gw_daemon_take(struct gw_daemon *d,
                                const struct gw_identity *who)
{
    struct pool *p = pool_of(d, who);
    povtrack_client *c = NULL;

    pthread_mutex_lock(&d->lock);
    if (p->n > 0)
        c = p->idle[--p->n];
    pthread_mutex_unlock(&d->lock);
    return c != NULL ? c : gw_daemon_client(d, who);
}

void gw_daemon_give(struct gw_daemon *d, const struct gw_identity *who,
                    povtrack_client *c)
{
    struct pool *p = pool_of(d, who);

    if (c == NULL)
        return;
    pthread_mutex_lock(&d->lock);
    if (p->n < POOL_MAX) {
        p->idle[p->n++] = c;
        c = NULL;
    }
    pthread_mutex_unlock(&d->lock);
    povtrack_client_close(c);
}

/* The length of the field that text starts with ("data.amount" of
 * "data.amount: must be ..."), 0 when it starts with none: a field is a
 * path like data.amount or data.deprived[2], without spaces. */
static size_t leading_field(const char *text)
{
    const char *colon = strstr(text, ": ");
    size_t n = colon != NULL ? (size_t)(colon - text) : 0;

    return n > 0 && strcspn(text, " ") >= n ? n : 0;
}

void gw_daemon_split(const char *message, char *field, size_t cap,
                     const char **reason)
{
    size_t n = leading_field(message);

    /* A plugin's refusal of a query is "PLUGIN: FIELD: reason" (fund:
     * as_of: must be ...): the field at fault is the query's, not the
     * plugin's name.  "plugin: publisher ... may not query ..." keeps
     * plugin, the request's own field. */
    if (n > 0 && leading_field(message + n + 2) > 0) {
        message += n + 2;
        n = leading_field(message);
    }
    if (n == 0 || n >= cap) {
        field[0] = '\0';
        *reason = message;
        return;
    }
    memcpy(field, message, n);
    field[n] = '\0';
    *reason = message + n + 2;
}

void gw_daemon_failure(int rc, const char *message, const msgpack_object *reply,
                       struct gw_failure *out)
{
    const msgpack_object *retry =
        reply != NULL ? povtrack_client_map_get(reply, "retry_after_ms") : NULL;
    const char *reason;

    memset(out, 0, sizeof *out);
    snprintf(out->message, sizeof out->message, "%s",
             message != NULL ? message : povtrack_strerror(rc));
    gw_daemon_split(out->message, out->field, sizeof out->field, &reason);
    if (rc == POVTRACK_ETIMEDOUT || rc == POVTRACK_EINTR ||
        rc == POVTRACK_EZMQ ||
        (rc < 0 && rc > POVTRACK_ERRNO_MIN && rc != POVTRACK_EREFUSED &&
         rc != POVTRACK_EMSGSIZE && rc != POVTRACK_EINVAL)) {
        out->status = 503; /* unreachable: the client timed out */
        out->retry_after = 5;
    } else if (rc == POVTRACK_EMSGSIZE) {
        out->status = 413;
    } else if (rc != POVTRACK_EREFUSED) {
        out->status = 500;
    } else if (retry != NULL &&
               retry->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        /* "plugin host is restarting ...; retry in N ms" */
        out->status = 503;
        out->retry_after = (int)((retry->via.u64 + 999) / 1000);
        if (out->retry_after < 1)
            out->retry_after = 1;
    } else if (strstr(message, "min_seq: not applied") != NULL) {
        out->status = 503;
        out->retry_after = 1;
    } else if (strstr(message, "requests_per_second") != NULL) {
        out->status = 429;
        out->retry_after = 1;
    } else if (strstr(message, "exceeds limits.") != NULL ||
               strstr(message, "larger than") != NULL) {
        out->status = 413;
    } else if (strstr(message, " may not ") != NULL ||
               strstr(message, "has been revoked") != NULL ||
               strstr(message, "refused this client's key") != NULL) {
        out->status = 403;
    } else if (strstr(message, "no plugin named") != NULL ||
               strstr(message, "is not defined") != NULL ||
               strstr(message, "is not a defined unit") != NULL ||
               strstr(message, "knows no unit") != NULL) {
        out->status = 404;
    } else {
        out->status = 400;
    }
}
