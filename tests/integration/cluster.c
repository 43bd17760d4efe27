#include "cluster.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <nats/nats.h>

#include "daemon.h" /* td_run_to_exit, td_request_raw */
#include "st_log.h"

#define SCRIPT POVTRACK_SOURCE_DIR "/tools/scripts/nats-cluster.sh"
#define SCRIPT_WAIT_MS 60000

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Run the script with cmd, dir and node (0: none); its output into out
 * (may be NULL).  Returns its exit status, -1 when it could not run or
 * did not end within SCRIPT_WAIT_MS. */
static int script(const char *cmd, const char *dir, int node, char *out,
                  size_t cap)
{
    char n[8], ignored[512];
    snprintf(n, sizeof n, "%d", node);
    const char *argv[] = {"/bin/bash",         SCRIPT, cmd, dir,
                          node > 0 ? n : NULL, NULL};
    if (out == NULL) {
        out = ignored;
        cap = sizeof ignored;
    }
    return td_run_to_exit(argv, out, cap, SCRIPT_WAIT_MS);
}

static int connect_js(struct tc *c)
{
    const char *urls[TC_NODES];
    char copy[sizeof c->urls];
    snprintf(copy, sizeof copy, "%s", c->urls);
    int n = 0;
    for (char *save = NULL, *u = strtok_r(copy, ",", &save);
         u != NULL && n < TC_NODES; u = strtok_r(NULL, ",", &save))
        urls[n++] = u;
    natsOptions *o = NULL;
    natsConnection *nc = NULL;
    jsCtx *js = NULL;
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = 5000;
    natsStatus st = natsOptions_Create(&o);
    if (st == NATS_OK)
        st = natsOptions_SetServers(o, urls, n);
    if (st == NATS_OK)
        st = natsOptions_SetMaxReconnect(o, -1);
    if (st == NATS_OK)
        st = natsOptions_SetReconnectWait(o, 100);
    if (st == NATS_OK)
        st = natsConnection_Connect(&nc, o);
    if (st == NATS_OK)
        st = natsConnection_JetStream(&js, nc, &jo);
    natsOptions_Destroy(o);
    if (st != NATS_OK) {
        fprintf(stderr, "cluster: connect: %s\n", natsStatus_GetText(st));
        natsConnection_Destroy(nc);
        return -1;
    }
    c->nc = nc;
    c->js = js;
    return 0;
}

int tc_start(struct tc *c, const char *dir)
{
    memset(c, 0, sizeof *c);
    snprintf(c->dir, sizeof c->dir, "%s", dir);
    if (script("start", c->dir, 0, c->urls, sizeof c->urls) != 0) {
        fprintf(stderr, "cluster: %s start %s failed: %s\n", SCRIPT, dir,
                c->urls);
        return -1;
    }
    c->urls[strcspn(c->urls, "\n")] = '\0';
    return connect_js(c);
}

void tc_stop(struct tc *c)
{
    if (c->js != NULL)
        jsCtx_Destroy(c->js);
    if (c->nc != NULL) {
        natsConnection_Close(c->nc);
        natsConnection_Destroy(c->nc);
    }
    c->js = c->nc = NULL;
    if (c->dir[0] != '\0')
        script("stop", c->dir, 0, NULL, 0);
    c->dir[0] = '\0';
    /* nats.c's threads and buffers, so that a leak check sees the test's. */
    nats_CloseAndWait(5000);
}

int tc_kill(struct tc *c, int node)
{
    return script("kill", c->dir, node, NULL, 0) == 0 ? 0 : -1;
}

int tc_stop_node(struct tc *c, int node)
{
    return script("stop-node", c->dir, node, NULL, 0) == 0 ? 0 : -1;
}

int tc_start_node(struct tc *c, int node)
{
    return script("start-node", c->dir, node, NULL, 0) == 0 ? 0 : -1;
}

int tc_wait_node(struct tc *c, int node)
{
    return script("wait", c->dir, node, NULL, 0) == 0 ? 0 : -1;
}

void tc_store_dir(const struct tc *c, int node, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/n%d/jetstream", c->dir, node);
}

int tc_write_config(const struct tc *c, const char *path, const char *extra,
                    const char *after)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    fprintf(f, "[mirror]\nservers = %s\nprovince = 60\n%s\n%s\n", c->urls,
            extra != NULL ? extra : "", after != NULL ? after : "");
    return fclose(f) == 0 ? 0 : -1;
}

int tc_info(struct tc *c, const char *stream, struct tc_info *out)
{
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    memset(out, 0, sizeof *out);
    if (js_GetStreamInfo(&si, c->js, stream, NULL, &jerr) != NATS_OK)
        return -1;
    out->first = si->State.FirstSeq;
    out->last = si->State.LastSeq;
    out->msgs = si->State.Msgs;
    out->current = 1;
    if (si->Cluster != NULL) {
        if (si->Cluster->Leader != NULL && si->Cluster->Leader[0] == 'n')
            out->leader = atoi(si->Cluster->Leader + 1);
        out->replicas = si->Cluster->ReplicasLen;
        for (int i = 0; i < si->Cluster->ReplicasLen; i++) {
            const jsPeerInfo *p = si->Cluster->Replicas[i];
            if (!p->Current || p->Offline || p->Lag != 0)
                out->current = 0;
        }
    }
    jsStreamInfo_Destroy(si);
    return 0;
}

int tc_wait_last(struct tc *c, const char *stream, const char *subject,
                 uint64_t want, int all_current, int timeout_ms)
{
    natsSubscription *sub = NULL;
    if (natsConnection_SubscribeSync(&sub, c->nc, subject) != NATS_OK)
        return -1;
    int64_t deadline = mono_ms() + timeout_ms;
    struct tc_info info;
    int rc = -1;
    for (;;) {
        if (tc_info(c, stream, &info) == 0 && info.last >= want &&
            (!all_current || (info.current && info.replicas == TC_NODES - 1))) {
            rc = 0;
            break;
        }
        int64_t left = deadline - mono_ms();
        if (left <= 0)
            break;
        /* The next message on the subject, or a second: then ask again
         * (replicas catch up without a message). */
        natsMsg *m = NULL;
        natsSubscription_NextMsg(&m, sub, left < 1000 ? left : 1000);
        natsMsg_Destroy(m);
    }
    if (rc != 0)
        fprintf(stderr,
                "cluster: stream %s at %" PRIu64 " (want %" PRIu64
                "), leader n%d, replicas current %d\n",
                stream, info.last, want, info.leader, info.current);
    natsSubscription_Destroy(sub);
    return rc;
}

/* One message of the ordered read against the log's record seq. */
static int compare_one(natsMsg *m, struct st_reader *r, uint64_t seq, char *why,
                       size_t whylen)
{
    jsMsgMetaData *meta = NULL;
    const char *hseq = NULL, *hprov = NULL;
    struct st_record rec;
    int rc = -1;
    if (natsMsg_GetMetaData(&meta, m) != NATS_OK)
        snprintf(why, whylen, "message %" PRIu64 ": no metadata", seq);
    else if (meta->Sequence.Stream != seq)
        snprintf(why, whylen,
                 "stream sequence %" PRIu64 " where %" PRIu64
                 " was expected (a gap or a duplicate)",
                 meta->Sequence.Stream, seq);
    else if (natsMsgHeader_Get(m, "Povtrack-Seq", &hseq) != NATS_OK ||
             strtoull(hseq, NULL, 10) != seq)
        snprintf(why, whylen, "message %" PRIu64 ": Povtrack-Seq %s", seq,
                 hseq != NULL ? hseq : "missing");
    else if (natsMsgHeader_Get(m, "Povtrack-Province", &hprov) != NATS_OK ||
             strcmp(hprov, "60") != 0)
        snprintf(why, whylen, "message %" PRIu64 ": Povtrack-Province %s", seq,
                 hprov != NULL ? hprov : "missing");
    else if (st_reader_get(r, seq, &rec) != 0)
        snprintf(why, whylen, "the log has no record %" PRIu64, seq);
    else if ((size_t)natsMsg_GetDataLength(m) != rec.raw_len ||
             memcmp(natsMsg_GetData(m), rec.raw, rec.raw_len) != 0)
        snprintf(why, whylen,
                 "message %" PRIu64 ": %d bytes, not the log's %zu bytes", seq,
                 natsMsg_GetDataLength(m), rec.raw_len);
    else
        rc = 0;
    jsMsgMetaData_Destroy(meta);
    return rc;
}

int tc_compare(struct tc *c, const char *stream, const char *subject,
               const char *log_dir, uint64_t *count, char *why, size_t whylen)
{
    struct st_log *log = NULL;
    struct st_reader *r = NULL;
    char err[512];
    uint64_t log_last = 0;
    struct tc_info info;
    *count = 0;
    if (st_log_open(log_dir, ST_OPEN_READONLY, &log, err, sizeof err) != 0 ||
        st_reader_begin(log, &r) != 0 || st_reader_last_seq(r, &log_last)) {
        snprintf(why, whylen, "the log: %s", err);
        if (log != NULL)
            st_log_close(log);
        return -1;
    }
    int rc = -1;
    if (tc_info(c, stream, &info) != 0)
        snprintf(why, whylen, "no stream %s", stream);
    else if (info.last != log_last || info.msgs != log_last ||
             (log_last > 0 && info.first != 1))
        snprintf(why, whylen,
                 "the stream holds %" PRIu64 " messages, %" PRIu64 "..%" PRIu64
                 "; the log %" PRIu64 " records",
                 info.msgs, info.first, info.last, log_last);
    else
        rc = 0;
    natsSubscription *sub = NULL;
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = stream;
    so.Ordered = true;
    jsErrCode jerr = 0;
    if (rc == 0 && log_last > 0 &&
        js_SubscribeSync(&sub, c->js, subject, NULL, &so, &jerr) != NATS_OK) {
        snprintf(why, whylen, "cannot read the stream (JetStream error %d)",
                 (int)jerr);
        rc = -1;
    }
    for (uint64_t seq = 1; rc == 0 && seq <= log_last; seq++) {
        natsMsg *m = NULL;
        if (natsSubscription_NextMsg(&m, sub, 10000) != NATS_OK) {
            snprintf(why, whylen, "message %" PRIu64 " did not come", seq);
            rc = -1;
            break;
        }
        rc = compare_one(m, r, seq, why, whylen);
        natsMsg_Destroy(m);
        if (rc == 0)
            *count = seq;
    }
    natsSubscription_Destroy(sub);
    st_reader_end(r);
    st_log_close(log);
    return rc;
}

int tc_mirror_stats(struct td *d, struct tc_mirror_stats *out)
{
    static const unsigned char req[] = {0x81, 0xa2, 'o', 'p', 0xa5,
                                        's',  't',  'a', 't', 's'};
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    int rc = -1;
    memset(out, 0, sizeof *out);
    if (td_request_raw(d, req, sizeof req, &up, 5000) == 0) {
        const msgpack_object *m = td_get(&up.data, "mirror");
        const msgpack_object *last = td_get(&up.data, "last_seq");
        const msgpack_object *acked = m ? td_get(m, "acked_seq") : NULL;
        const msgpack_object *lag = m ? td_get(m, "lag_records") : NULL;
        if (m != NULL && last != NULL && acked != NULL && lag != NULL &&
            td_str_copy(td_get(m, "state"), out->state, sizeof out->state) ==
                0) {
            out->last_seq = last->via.u64;
            out->acked = acked->via.u64;
            out->lag_records = lag->via.u64;
            rc = 0;
        }
    }
    msgpack_unpacked_destroy(&up);
    return rc;
}

int tc_wait_alert(struct td *d, const char *code, const char *severity)
{
    static const unsigned char req[] = {0x81, 0xa2, 'o', 'p', 0xa6, 'a',
                                        'l',  'e',  'r', 't', 's'};
    int64_t deadline = mono_ms() + 20000;
    int found = 0;
    while (!found && mono_ms() < deadline) {
        msgpack_unpacked up;
        msgpack_unpacked_init(&up);
        const msgpack_object *list = NULL;
        if (td_request_raw(d, req, sizeof req, &up, 5000) == 0)
            list = td_get(&up.data, "alerts");
        for (uint32_t i = 0;
             list != NULL && list->type == MSGPACK_OBJECT_ARRAY &&
             i < list->via.array.size;
             i++) {
            const msgpack_object *a = &list->via.array.ptr[i];
            found |= td_str_eq(td_get(a, "code"), code) &&
                     td_str_eq(td_get(a, "severity"), severity);
        }
        msgpack_unpacked_destroy(&up);
    }
    return found ? 0 : -1;
}

pid_t tc_mirror_pid(const struct td *d)
{
    char path[96], comm[64];
    snprintf(path, sizeof path, "/proc/%ld/task/%ld/children", (long)d->pid,
             (long)d->pid);
    FILE *fc = fopen(path, "r");
    long child, found = 0;
    while (fc != NULL && found == 0 && fscanf(fc, "%ld", &child) == 1) {
        snprintf(path, sizeof path, "/proc/%ld/comm", child);
        FILE *f = fopen(path, "r");
        if (f != NULL && fgets(comm, sizeof comm, f) != NULL &&
            strncmp(comm, "povtrack-mirro", 14) == 0)
            found = child;
        if (f != NULL)
            fclose(f);
    }
    if (fc != NULL)
        fclose(fc);
    return (pid_t)found;
}

pid_t tc_wait_mirror_pid(const struct td *d, pid_t previous)
{
    int64_t deadline = mono_ms() + 10000;
    pid_t pid = 0;
    while (mono_ms() < deadline &&
           ((pid = tc_mirror_pid(d)) == 0 || pid == previous))
        ;
    return pid == previous ? 0 : pid;
}
