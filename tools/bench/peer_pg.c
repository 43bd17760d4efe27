/* peer_pg.c - PostgreSQL: one transaction per request, a multi-row INSERT
 * of --batch rows into a table keyed by the event id, followed by a Sync
 * (the end of the implicit transaction).  With libpq's pipeline mode a
 * connection keeps --window transactions in flight, as a povtrackd
 * publisher keeps requests.  With synchronous_commit on, the answer to a
 * commit comes after its WAL record was flushed. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "peer.h"

struct pg_target {
    char table[64];
};

enum stage { EXPECT_RESULT, EXPECT_END, EXPECT_SYNC };

struct pg_conn {
    PGconn *pg;
    const char **vals; /* two parameters per row: id, event */
    int *lens, *fmts;
    enum stage stage;
};

/* Notices ("table does not exist, skipping") are not errors: drop them. */
static void no_notice(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

static PGconn *connect_to(const char *conninfo, char *err, size_t errlen)
{
    PGconn *pg = PQconnectdb(conninfo);

    if (pg == NULL || PQstatus(pg) != CONNECTION_OK) {
        snprintf(err, errlen, "cannot connect (%s): %s", conninfo,
                 pg ? PQerrorMessage(pg) : "out of memory");
        if (pg != NULL)
            PQfinish(pg);
        return NULL;
    }
    PQsetNoticeProcessor(pg, no_notice, NULL);
    return pg;
}

/* Run sql; 0 when its status is want, else -1 with the reason in err. */
static int exec(PGconn *pg, const char *sql, ExecStatusType want,
                PGresult **out, char *err, size_t errlen)
{
    PGresult *r = PQexec(pg, sql);

    if (r == NULL || PQresultStatus(r) != want) {
        snprintf(err, errlen, "%s: %s", sql, PQerrorMessage(pg));
        PQclear(r);
        return -1;
    }
    if (out != NULL)
        *out = r;
    else
        PQclear(r);
    return 0;
}

static int pg_setup(struct bench *b, const char *name, char *err, size_t errlen)
{
    struct pg_target *t = calloc(1, sizeof *t);
    char sql[256];
    static const char *const must[][2] = {{"fsync", "on"},
                                          {"synchronous_commit", "on"}};

    b->targ = t;
    if (t == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    snprintf(t->table, sizeof t->table, "%s", name);
    PGconn *pg = connect_to(b->o.endpoint, err, errlen);
    if (pg == NULL)
        return -1;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < sizeof must / sizeof must[0]; i++) {
        PGresult *r = NULL;
        snprintf(sql, sizeof sql, "SHOW %s", must[i][0]);
        rc = exec(pg, sql, PGRES_TUPLES_OK, &r, err, errlen);
        /* Say so when commits would not wait for the disk: the numbers
         * would not be comparable. */
        if (rc == 0 && PQntuples(r) == 1 &&
            strcmp(PQgetvalue(r, 0, 0), must[i][1]) != 0)
            fprintf(stderr,
                    "povtrack-peerbench: warning: postgres has %s = %s: "
                    "commits do not wait for the disk\n",
                    must[i][0], PQgetvalue(r, 0, 0));
        PQclear(r);
    }
    snprintf(sql, sizeof sql, "DROP TABLE IF EXISTS %s", t->table);
    if (rc == 0)
        rc = exec(pg, sql, PGRES_COMMAND_OK, NULL, err, errlen);
    snprintf(sql, sizeof sql,
             "CREATE TABLE %s (id text PRIMARY KEY, ev bytea NOT NULL)",
             t->table);
    if (rc == 0)
        rc = exec(pg, sql, PGRES_COMMAND_OK, NULL, err, errlen);
    PQfinish(pg);
    return rc;
}

static void pg_teardown(struct bench *b)
{
    free(b->targ);
    b->targ = NULL;
}

static void pg_close(struct bench_pub *p)
{
    struct pg_conn *c = p->conn;

    if (c->pg != NULL)
        PQfinish(c->pg);
    free(c->vals);
    free(c->lens);
    free(c->fmts);
    free(c);
    p->conn = NULL;
}

/* Prepare "ins<rows>": INSERT INTO t (id, ev) VALUES ($1,$2),($3,$4)... */
static int prepare(struct bench_pub *p, unsigned rows)
{
    const struct pg_target *t = p->b->targ;
    struct pg_conn *c = p->conn;
    size_t cap = 64 + strlen(t->table) + (size_t)rows * 20, len;
    char *sql = malloc(cap), name[32];

    if (sql == NULL) {
        bench_fail(p, EXIT_REJECTED, "out of memory");
        return -1;
    }
    len =
        (size_t)snprintf(sql, cap, "INSERT INTO %s (id, ev) VALUES ", t->table);
    for (unsigned i = 0; i < rows; i++)
        len += (size_t)snprintf(sql + len, cap - len, "%s($%u,$%u)",
                                i ? "," : "", 2 * i + 1, 2 * i + 2);
    snprintf(name, sizeof name, "ins%u", rows);
    PGresult *r = PQprepare(c->pg, name, sql, 0, NULL);
    int rc = 0;
    if (r == NULL || PQresultStatus(r) != PGRES_COMMAND_OK) {
        bench_fail(p, EXIT_REJECTED, "prepare: %s", PQerrorMessage(c->pg));
        rc = -1;
    }
    PQclear(r);
    free(sql);
    return rc;
}

static int pg_open(struct bench_pub *p)
{
    struct pg_conn *c = calloc(1, sizeof *c);
    size_t batch = (size_t)p->b->o.batch;

    if (c == NULL) {
        bench_fail(p, EXIT_REJECTED, "out of memory");
        return -1;
    }
    p->conn = c;
    c->vals = calloc(2 * batch, sizeof *c->vals);
    c->lens = calloc(2 * batch, sizeof *c->lens);
    c->fmts = calloc(2 * batch, sizeof *c->fmts);
    if (c->vals == NULL || c->lens == NULL || c->fmts == NULL) {
        bench_fail(p, EXIT_REJECTED, "out of memory");
        return -1;
    }
    /* Binary parameters: the bytes as they are, for text and bytea alike
     * (no escaping, no NUL terminator needed). */
    for (size_t i = 0; i < 2 * batch; i++)
        c->fmts[i] = 1;
    c->pg = connect_to(p->b->o.endpoint, p->c.err, sizeof p->c.err);
    if (c->pg == NULL) {
        p->fail = EXIT_REJECTED;
        return -1;
    }
    if (p->nreq == 0)
        return 0;
    /* The full batch, and the shorter last request if there is one. */
    unsigned last = bench_req_nev(p, p->nreq - 1);
    if (prepare(p, bench_req_nev(p, 0)) != 0 ||
        (last != bench_req_nev(p, 0) && prepare(p, last) != 0))
        return -1;
    if (PQenterPipelineMode(c->pg) != 1) {
        bench_fail(p, EXIT_REJECTED, "pipeline mode: %s",
                   PQerrorMessage(c->pg));
        return -1;
    }
    return 0;
}

static int pg_send(struct bench_pub *p, size_t req)
{
    struct pg_conn *c = p->conn;
    size_t first = bench_req_first(p->b, req);
    unsigned nev = bench_req_nev(p, req);
    char name[32];

    for (unsigned i = 0; i < nev; i++) {
        size_t e = first + i;
        c->vals[2 * i] = p->ev.ids + p->ev.idoff[e];
        c->lens[2 * i] = (int)(p->ev.idoff[e + 1] - p->ev.idoff[e]);
        c->vals[2 * i + 1] = (const char *)p->ev.buf + p->ev.off[e];
        c->lens[2 * i + 1] = (int)(p->ev.off[e + 1] - p->ev.off[e]);
    }
    snprintf(name, sizeof name, "ins%u", nev);
    if (PQsendQueryPrepared(c->pg, name, (int)(2 * nev), c->vals, c->lens,
                            c->fmts, 0) != 1 ||
        PQpipelineSync(c->pg) != 1 || PQflush(c->pg) != 0) {
        bench_fail(p, EXIT_REJECTED, "send: %s", PQerrorMessage(c->pg));
        return -1;
    }
    return 0;
}

/* Take the results of the oldest transaction: the INSERT's, the NULL that
 * ends it, and the Sync's. */
static int pg_wait(struct bench_pub *p, int ms)
{
    struct pg_conn *c = p->conn;
    unsigned nev = bench_req_nev(p, p->done);

    for (;;) {
        while (!PQisBusy(c->pg)) {
            PGresult *r = PQgetResult(c->pg);
            ExecStatusType st = r ? PQresultStatus(r) : PGRES_EMPTY_QUERY;
            int bad = 0;
            if (c->stage == EXPECT_RESULT && r != NULL) {
                p->c.acked += nev;
                if (st == PGRES_COMMAND_OK &&
                    strtoul(PQcmdTuples(r), NULL, 10) == nev) {
                    p->c.ok += nev;
                } else {
                    if (p->c.rej == 0)
                        snprintf(p->c.err, sizeof p->c.err, "INSERT: %s",
                                 st == PGRES_COMMAND_OK
                                     ? "fewer rows than sent"
                                     : PQresultErrorMessage(r));
                    p->c.rej += nev;
                }
                c->stage = EXPECT_END;
            } else if (c->stage == EXPECT_END && r == NULL) {
                c->stage = EXPECT_SYNC;
            } else if (c->stage == EXPECT_SYNC && st == PGRES_PIPELINE_SYNC) {
                c->stage = EXPECT_RESULT;
                PQclear(r);
                return 0;
            } else {
                bad = 1;
            }
            PQclear(r);
            if (bad) {
                bench_fail(p, EXIT_REJECTED, "unexpected result %s: %s",
                           PQresStatus(st), PQerrorMessage(c->pg));
                return BENCH_FAILED;
            }
        }
        struct pollfd pfd = {PQsocket(c->pg), POLLIN, 0};
        int r = poll(&pfd, 1, ms);
        if (r == 0 || (r < 0 && errno == EINTR))
            return BENCH_AGAIN;
        if (r < 0 || PQconsumeInput(c->pg) != 1) {
            bench_fail(p, EXIT_REJECTED, "read: %s",
                       r < 0 ? strerror(errno) : PQerrorMessage(c->pg));
            return BENCH_FAILED;
        }
    }
}

static const struct bench_target pg_target = {"postgres", pg_open, pg_send,
                                              pg_wait, pg_close};

const struct peer peer_pg = {
    &pg_target, "libpq connection string",
    "host=127.0.0.1 port=5432 user=postgres dbname=postgres", pg_setup,
    pg_teardown};
