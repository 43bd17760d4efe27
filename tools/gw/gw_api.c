/*
 * gw_api.c - see gw_api.h.
 */
#include "gw_api.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <povtrack/protocol.h>

#include "tl_alertfilter.h"
#include "tl_cli.h"
#include "tl_import.h"
#include "tl_json.h"
#include "tl_query.h"
#include "tl_report.h"
#include "tl_report_gather.h"

#define SESSION_COOKIE "povtrack_session"
#define ALERTS_LIMIT_DEFAULT 1000

json_t *gw_api_json(const msgpack_object *o)
{
    struct tl_error err = {{0}};
    json_t *v = NULL;
    return tl_json_from_msgpack(o, &v, &err) == 0 ? v : NULL;
}

/* The daemon's own words when it refused, else the client's. */
static const char *failure_message(povtrack_client *c, int rc,
                                   const struct povtrack_client_msg *reply,
                                   char *buf, size_t cap)
{
    const msgpack_object *e =
        rc == POVTRACK_EREFUSED && reply->buf_ != NULL
            ? povtrack_client_map_get(&reply->obj, POVTRACK_KEY_ERROR)
            : NULL;
    if (e != NULL && e->type == MSGPACK_OBJECT_STR)
        snprintf(buf, cap, "%.*s", (int)e->via.str.size, e->via.str.ptr);
    else
        snprintf(buf, cap, "%s", povtrack_client_error(c));
    return buf;
}

int gw_api_ask(struct gw_req *r, const struct gw_identity *who, const void *req,
               size_t len, struct povtrack_client_msg *reply,
               enum MHD_Result *result)
{
    povtrack_client *c = gw_daemon_take(r->gw->daemon, who);
    memset(reply, 0, sizeof *reply);
    if (c == NULL) {
        *result = gw_reply_error(r, 500, NULL, 0, "out of memory");
        return POVTRACK_ENOMEM;
    }
    int rc = povtrack_client_request(c, req, len, reply);
    if (rc != 0) {
        struct gw_failure f;
        char msg[1024];
        gw_daemon_failure(rc, failure_message(c, rc, reply, msg, sizeof msg),
                          reply->buf_ != NULL ? &reply->obj : NULL, &f);
        povtrack_client_msg_free(reply);
        *result = gw_reply_failure(r, &f);
    }
    gw_daemon_give(r->gw->daemon, who, c);
    return rc;
}

/* Pack a JSON request and ask it. */
static int ask_json(struct gw_req *r, const struct gw_identity *who,
                    json_t *req, struct povtrack_client_msg *reply,
                    enum MHD_Result *result)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    struct tl_error err = {{0}};
    int rc;

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    if (req == NULL || tl_json_pack(req, &pk, &err) != 0) {
        json_decref(req);
        msgpack_sbuffer_destroy(&sb);
        *result = gw_reply_error(r, 500, NULL, 0, "out of memory");
        return POVTRACK_ENOMEM;
    }
    json_decref(req);
    rc = gw_api_ask(r, who, sb.data, sb.size, reply, result);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

/* A field of a reply as JSON, answered: the reply is freed. */
static enum MHD_Result reply_fields(struct gw_req *r,
                                    struct povtrack_client_msg *reply,
                                    json_t *out, const char *const *keys)
{
    for (size_t i = 0; out != NULL && keys[i] != NULL; i++) {
        const msgpack_object *o = povtrack_client_map_get(&reply->obj, keys[i]);
        json_t *v = o != NULL ? gw_api_json(o) : json_null();
        if (v == NULL) {
            json_decref(out);
            out = NULL;
            break;
        }
        json_object_set_new(out, keys[i], v);
    }
    povtrack_client_msg_free(reply);
    if (out == NULL)
        return gw_reply_error(r, 502, NULL, 0,
                              "povtrackd answered what JSON cannot hold");
    return gw_reply_json(r, 200, out);
}

/* ---- form and JSON bodies ---- */

/* Decode an application/x-www-form-urlencoded value in place. */
static void form_decode(char *s)
{
    char *o = s;
    for (; *s; s++) {
        if (*s == '+') {
            *o++ = ' ';
        } else if (*s == '%' && isxdigit((unsigned char)s[1]) &&
                   isxdigit((unsigned char)s[2])) {
            char hex[3] = {s[1], s[2], 0};
            *o++ = (char)strtol(hex, NULL, 16);
            s += 2;
        } else {
            *o++ = *s;
        }
    }
    *o = '\0';
}

/* The field name of a form body, decoded, into out; false when absent. */
static bool form_field(const char *body, const char *name, char *out,
                       size_t cap)
{
    size_t n = strlen(name);
    for (const char *p = body; p != NULL && *p;) {
        size_t len = strcspn(p, "&");
        if (len > n && strncmp(p, name, n) == 0 && p[n] == '=') {
            if (len - n - 1 >= cap)
                return false;
            memcpy(out, p + n + 1, len - n - 1);
            out[len - n - 1] = '\0';
            form_decode(out);
            return true;
        }
        p = p[len] == '&' ? p + len + 1 : NULL;
    }
    return false;
}

/* ---- sessions ---- */

static enum MHD_Result with_cookie(struct gw_req *r, int status, json_t *body,
                                   const char *cookie)
{
    char *s = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (s == NULL)
        return gw_reply_error(r, 500, NULL, 0, "out of memory");
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(s), s, MHD_RESPMEM_MUST_FREE);
    if (resp == NULL) {
        free(s);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type",
                            "application/json; charset=utf-8");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    MHD_add_response_header(resp, "Set-Cookie", cookie);
    gw_http_headers(r->gw, resp, false);
    r->status = status;
    enum MHD_Result rc = MHD_queue_response(r->conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return rc;
}

static const char *lang_name(enum gw_lang l)
{
    return l == GW_LANG_EN ? "en" : "vi";
}

enum MHD_Result gw_api_login(struct gw_req *r)
{
    char user[GW_NAME_MAX + 1] = "", password[1024] = "";
    const char *type =
        MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Content-Type");
    if (type != NULL && strncmp(type, "application/json", 16) == 0) {
        json_t *b =
            r->body != NULL ? json_loadb(r->body, r->len, 0, NULL) : NULL;
        const char *u = json_string_value(json_object_get(b, "user"));
        const char *p = json_string_value(json_object_get(b, "password"));
        if (u != NULL && strlen(u) < sizeof user)
            strcpy(user, u);
        if (p != NULL && strlen(p) < sizeof password)
            strcpy(password, p);
        json_decref(b);
    } else if (r->body != NULL) {
        form_field(r->body, "user", user, sizeof user);
        form_field(r->body, "password", password, sizeof password);
    }
    if (user[0] == '\0' || password[0] == '\0')
        return gw_reply_error(r, 400, user[0] == '\0' ? "user" : "password", 0,
                              "give user and password (JSON, or a form)");
    const struct gw_identity *who =
        gw_auth_password(r->gw->auth, user, password);
    memset(password, 0, sizeof password);
    if (who == NULL) {
        pt_logf(&r->gw->log, PT_LOG_INFO, "login refused for \"%s\"", user);
        return gw_reply_error(r, 401, NULL, 0, "wrong user name or password");
    }
    char id[GW_SESSION_ID_LEN + 1], csrf[GW_SESSION_ID_LEN + 1];
    int64_t expires;
    if (gw_session_create(r->gw->sessions, who, id, csrf, &expires) != 0)
        return gw_reply_error(r, 503, NULL, 60,
                              "too many sessions open; try again later");
    char cookie[256];
    snprintf(cookie, sizeof cookie,
             SESSION_COOKIE "=%s; Path=/; Max-Age=%u; HttpOnly; "
                            "SameSite=Strict%s",
             id, r->gw->cfg->session_hours * 3600,
             gw_http_secure(r->gw) ? "; Secure" : "");
    return with_cookie(r, 200,
                       json_pack("{s:s,s:s,s:s,s:I}", "user", who->name, "lang",
                                 lang_name(who->lang), "csrf_token", csrf,
                                 "expires", (json_int_t)expires),
                       cookie);
}

enum MHD_Result gw_api_logout(struct gw_req *r)
{
    char cookie[160];
    if (r->session)
        gw_session_end(r->gw->sessions, r->session_id);
    snprintf(cookie, sizeof cookie,
             SESSION_COOKIE "=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict%s",
             gw_http_secure(r->gw) ? "; Secure" : "");
    return with_cookie(r, 200, json_pack("{s:b}", "logged_out", 1), cookie);
}

enum MHD_Result gw_api_session(struct gw_req *r)
{
    json_t *o = json_pack("{s:s,s:s,s:s}", "user", r->who->name, "kind",
                          r->who->is_token ? "token" : "user", "lang",
                          lang_name(r->who->lang));
    if (o != NULL && r->session) {
        json_object_set_new(o, "csrf_token", json_string(r->csrf));
        json_object_set_new(o, "expires", json_integer(r->expires));
    }
    return gw_reply_json(r, 200, o);
}

/* ---- POST /api/v1/events ---- */

/* A formatted message, malloc'ed (NULL when out of memory). */
static char *fmt_dup(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static char *fmt_dup(const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return strdup(buf);
}

/* One event of the body. */
struct item {
    const char *id; /* its "id" when a string (in the JSON document) */
    bool sent;      /* handed to povtrackd */
    int status;     /* enum povtrack_ack_status */
    uint64_t seq;
    char *error;     /* rejected: why (owned) */
    size_t off, len; /* its msgpack in the packed buffer */
};

/* Read the acks of the events items[first..] that were sent, in order. */
static void take_acks(struct item *items, size_t n, size_t *next,
                      const struct povtrack_acks *acks)
{
    for (size_t a = 0; a < acks->count && *next < n; (*next)++) {
        struct item *it = &items[*next];
        if (!it->sent)
            continue;
        it->status = acks->acks[a].status;
        it->seq = acks->acks[a].seq;
        if (acks->acks[a].error != NULL)
            it->error = strdup(acks->acks[a].error);
        a++;
    }
}

/* dry_run: one validate request holding every event sent. */
static int validate(struct gw_req *r, struct item *items, size_t n,
                    const msgpack_sbuffer *all, size_t nsent,
                    enum MHD_Result *result)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    struct povtrack_client_msg reply;
    struct povtrack_acks acks;
    char why[POVTRACK_PROTO_ERROR_MAX];
    size_t next = 0;
    int rc;

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    povtrack_proto_pack_request(&pk, POVTRACK_OP_VALIDATE, 1);
    povtrack_proto_pack_cstr(&pk, "events");
    msgpack_pack_array(&pk, nsent);
    for (size_t i = 0; i < n; i++)
        if (items[i].sent)
            msgpack_sbuffer_write(&sb, all->data + items[i].off, items[i].len);
    if (sb.size > POVTRACK_PROTO_REQUEST_MAX) {
        msgpack_sbuffer_destroy(&sb);
        *result = gw_reply_error(
            r, 413, NULL, 0,
            "a dry run holds at most %u bytes of events (as msgpack; the "
            "query endpoint's request limit): this one is %zu; split it",
            POVTRACK_PROTO_REQUEST_MAX, sb.size);
        return POVTRACK_EMSGSIZE;
    }
    rc = gw_api_ask(r, r->who, sb.data, sb.size, &reply, result);
    msgpack_sbuffer_destroy(&sb);
    if (rc != 0)
        return rc;
    const msgpack_object *arr = povtrack_client_map_get(&reply.obj, "acks");
    rc = arr != NULL ? povtrack_proto_parse_acks(arr, &acks, why, sizeof why)
                     : POVTRACK_EPROTO;
    if (rc == 0 && acks.count != nsent)
        rc = POVTRACK_EPROTO;
    if (rc == 0)
        take_acks(items, n, &next, &acks);
    else
        *result = gw_reply_error(r, 502, NULL, 0,
                                 "povtrackd's validate reply is not what the "
                                 "protocol says");
    povtrack_proto_acks_free(&acks);
    povtrack_client_msg_free(&reply);
    return rc;
}

/* The events in frames within the protocol's limits, one after another. */
static int publish(struct gw_req *r, struct item *items, size_t n,
                   const msgpack_sbuffer *all, enum MHD_Result *result)
{
    povtrack_client *c = gw_daemon_take(r->gw->daemon, r->who);
    msgpack_sbuffer frame;
    size_t next = 0, i = 0, stored = 0;
    int rc = c == NULL ? POVTRACK_ENOMEM : 0;

    msgpack_sbuffer_init(&frame);
    while (rc == 0 && i < n) {
        size_t count = 0, first = i;
        msgpack_sbuffer_clear(&frame);
        for (; i < n && count < POVTRACK_PROTO_EVENTS_MAX; i++) {
            if (!items[i].sent)
                continue;
            /* 16 bytes for the array header. */
            if (count > 0 &&
                frame.size + items[i].len + 16 > POVTRACK_PROTO_FRAME_MAX)
                break;
            msgpack_sbuffer_write(&frame, all->data + items[i].off,
                                  items[i].len);
            count++;
        }
        if (count == 0)
            continue;
        struct povtrack_acks acks;
        rc = povtrack_client_publish_events(c, &frame, count, &acks);
        if (rc == 0) {
            next = first;
            take_acks(items, n, &next, &acks);
            for (size_t k = 0; k < acks.count; k++)
                stored += acks.acks[k].status == POVTRACK_ACK_OK;
        } else {
            struct gw_failure f;
            char msg[1200];
            snprintf(msg, sizeof msg, "%s",
                     rc == POVTRACK_EREFUSED && acks.count == 1 &&
                             acks.acks[0].error != NULL
                         ? acks.acks[0].error
                         : povtrack_client_error(c));
            gw_daemon_failure(rc, msg, NULL, &f);
            if (first > 0)
                snprintf(f.message + strlen(f.message),
                         sizeof f.message - strlen(f.message),
                         " (events 0 to %zu were sent before: %zu stored; "
                         "sending the whole body again is safe)",
                         first - 1, stored);
            *result = gw_reply_failure(r, &f);
        }
        povtrack_client_acks_free(&acks);
    }
    msgpack_sbuffer_destroy(&frame);
    if (c == NULL)
        *result = gw_reply_error(r, 500, NULL, 0, "out of memory");
    gw_daemon_give(r->gw->daemon, r->who, c);
    return rc;
}

/* One conflict of the index-th event for field (may be "") and reason.
 * "missing a, b (required for T)", the daemon naming every absent field
 * of a map at once, is one conflict per field, so that a form shows each
 * beside its own input. */
static void conflicts_of(json_t *out, size_t index, const char *id,
                         const char *field, const char *reason)
{
    static const char missing[] = "missing ";
    const char *names = reason + sizeof missing - 1,
               *why = strstr(reason, " (");
    size_t end = why != NULL ? (size_t)(why - names) : strlen(names);

    if (strncmp(reason, missing, sizeof missing - 1) != 0 || why == NULL ||
        strchr(names, ':') != NULL) {
        json_t *c = json_pack("{s:I,s:s}", "index", (json_int_t)index, "reason",
                              reason);
        json_object_set_new(c, "id",
                            id != NULL ? json_string(id) : json_null());
        json_object_set_new(c, "field",
                            field[0] ? json_string(field) : json_null());
        json_array_append_new(out, c);
        return;
    }
    /* "required for T" from "(required for T)". */
    char what[96];
    snprintf(what, sizeof what, "%.*s", (int)strcspn(why + 2, ")"), why + 2);
    for (size_t at = 0; at < end;) {
        size_t n = strcspn(names + at, ",");
        if (at + n > end)
            n = end - at;
        char path[128];
        /* The top level's fields are named alone ("event: missing at"). */
        if (field[0] == '\0' || strcmp(field, "event") == 0)
            snprintf(path, sizeof path, "%.*s", (int)n, names + at);
        else
            snprintf(path, sizeof path, "%s.%.*s", field, (int)n, names + at);
        json_t *c = json_pack("{s:I,s:s,s:s}", "index", (json_int_t)index,
                              "field", path, "reason", what);
        json_object_set_new(c, "id",
                            id != NULL ? json_string(id) : json_null());
        json_array_append_new(out, c);
        at += n;
        while (at < end && (names[at] == ',' || names[at] == ' '))
            at++;
    }
}

/* The answer: per-event acks and the import summary, with its status. */
static json_t *summary(struct item *items, size_t n, bool dry, int *status)
{
    json_t *acks = json_array(), *conflicts = json_array();
    size_t ok = 0, dup = 0, rej = 0, reused = 0, rights = 0;
    uint64_t last = 0;

    for (size_t i = 0; i < n; i++) {
        struct item *it = &items[i];
        json_t *a = json_pack("{s:I,s:s}", "index", (json_int_t)i, "status",
                              povtrack_proto_ack_status_name(it->status));
        json_object_set_new(a, "id",
                            it->id != NULL ? json_string(it->id) : json_null());
        if (it->status == POVTRACK_ACK_REJECTED) {
            char field[64];
            const char *reason;
            const char *msg = it->error != NULL ? it->error : "rejected";
            gw_daemon_split(msg, field, sizeof field, &reason);
            json_object_set_new(a, "error", json_string(msg));
            conflicts_of(conflicts, i, it->id, field, reason);
            rej++;
            reused += strstr(msg, "id: reused") == msg;
            rights += strstr(msg, " may not ") != NULL;
        } else {
            json_object_set_new(a, "seq", json_integer((json_int_t)it->seq));
            if (it->seq > last)
                last = it->seq;
            if (it->status == POVTRACK_ACK_OK)
                ok++;
            else
                dup++;
        }
        json_array_append_new(acks, a);
    }
    /* The status says what went wrong first: a reused id (409, DHIS2's
     * conflict), only rights missing (403), else invalid events (400);
     * the events not rejected are stored all the same: see "imported". */
    *status = rej == 0 ? 200 : reused > 0 ? 409 : rights == rej ? 403 : 400;
    return json_pack("{s:b,s:I,s:I,s:I,s:I,s:o,s:o}", "dry_run", dry,
                     "imported", (json_int_t)ok, "duplicates", (json_int_t)dup,
                     "rejected", (json_int_t)rej, "last_seq", (json_int_t)last,
                     "conflicts", conflicts, "acks", acks);
}

int gw_api_arg_flag(struct gw_req *r, const char *name, bool *on,
                    enum MHD_Result *result)
{
    static const char *const yes[] = {"true", "1", "yes"}, *const no[] = {
                                                               "false", "0",
                                                               "no"};
    const char *v = gw_arg(r, name);

    *on = false;
    if (v == NULL || v[0] == '\0')
        return 0;
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        if (strcasecmp(v, yes[i]) == 0) {
            *on = true;
            return 0;
        }
        if (strcasecmp(v, no[i]) == 0)
            return 0;
    }
    *result = gw_reply_error(r, 400, name, 0,
                             "must be true or false (or 1, 0, yes, no), "
                             "not \"%.40s\"",
                             v);
    return POVTRACK_EINVALID;
}

enum MHD_Result gw_api_events(struct gw_req *r)
{
    json_error_t je;
    json_t *arr = r->body != NULL ? json_loadb(r->body, r->len, 0, &je) : NULL;
    enum MHD_Result result = MHD_NO;
    json_t *answer;
    int status;
    bool dry;

    if (gw_api_arg_flag(r, "dry_run", &dry, &result) != 0) {
        json_decref(arr);
        return result;
    }
    if (arr == NULL || !json_is_array(arr) || json_array_size(arr) == 0) {
        /* jansson's own text for \u0000 names its flag JSON_ALLOW_NUL,
         * which means nothing to the sender. */
        if (arr == NULL && r->body != NULL &&
            json_error_code(&je) == json_error_null_character)
            result = gw_reply_error(r, 400, "body", 0,
                                    "a string holds \\u0000 (the NUL "
                                    "character), which no field may hold "
                                    "(line %d, column %d)",
                                    je.line, je.column);
        else if (arr == NULL && r->body != NULL)
            result = gw_reply_error(r, 400, "body", 0,
                                    "not JSON: %s (line %d, column %d)",
                                    je.text, je.line, je.column);
        else
            result = gw_reply_error(r, 400, "body", 0,
                                    "must be a JSON array of 1 or more "
                                    "events (the wire's event maps)");
        json_decref(arr);
        return result;
    }
    if (gw_api_submit(r, arr, dry, &answer, &status, &result) == 0)
        result = gw_reply_json(r, status, answer);
    json_decref(arr);
    return result;
}

int gw_api_submit(struct gw_req *r, json_t *arr, bool dry, json_t **answer,
                  int *status, enum MHD_Result *result)
{
    size_t n = json_array_size(arr), nsent = 0;
    struct item *items = calloc(n, sizeof *items);
    msgpack_sbuffer all;
    msgpack_packer pk;
    msgpack_sbuffer_init(&all);
    msgpack_packer_init(&pk, &all, msgpack_sbuffer_write);
    int rc = items == NULL ? POVTRACK_ENOMEM : 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        json_t *ev = json_array_get(arr, i);
        struct item *it = &items[i];
        struct tl_error err = {{0}};
        it->status = POVTRACK_ACK_REJECTED;
        if (!json_is_object(ev)) {
            it->error = strdup("event: must be a JSON object (an event map)");
            continue;
        }
        it->id = json_string_value(json_object_get(ev, "id"));
        int trc = tl_event_times(ev, &err);
        if (trc == POVTRACK_ENOMEM)
            rc = trc;
        if (trc != 0) {
            it->error = strdup(err.msg);
            continue;
        }
        it->off = all.size;
        if (tl_json_pack(ev, &pk, &err) != 0) {
            /* An integer msgpack cannot carry, or no memory. */
            all.size = it->off;
            it->error = strdup(err.msg[0] ? err.msg : "event: cannot pack");
            continue;
        }
        it->len = all.size - it->off;
        if (it->len + 16 > POVTRACK_PROTO_FRAME_MAX) {
            all.size = it->off;
            it->error = fmt_dup("event: %zu bytes as msgpack, more than a "
                                "request may hold (%u)",
                                it->len, POVTRACK_PROTO_FRAME_MAX);
            continue;
        }
        it->sent = true;
        nsent++;
    }
    if (rc != 0)
        *result = gw_reply_error(r, 500, NULL, 0, "out of memory");
    else if (nsent > 0)
        rc = dry ? validate(r, items, n, &all, nsent, result)
                 : publish(r, items, n, &all, result);
    if (rc == 0) {
        *answer = summary(items, n, dry, status);
        if (*answer == NULL) {
            rc = POVTRACK_ENOMEM;
            *result = gw_reply_error(r, 500, NULL, 0, "out of memory");
        }
    }
    for (size_t i = 0; items != NULL && i < n; i++)
        free(items[i].error);
    free(items);
    msgpack_sbuffer_destroy(&all);
    return rc;
}

/* ---- GET /api/v1/query/{plugin} ---- */

struct params {
    json_t *q;
    int64_t min_seq;
    const char *bad; /* a key whose value could not be taken */
};

static enum MHD_Result param(void *cls, enum MHD_ValueKind kind,
                             const char *key, const char *value)
{
    struct params *p = cls;
    (void)kind;
    if (strcmp(key, "min_seq") == 0) {
        char *end;
        long long v = value != NULL ? strtoll(value, &end, 10) : -1;
        if (value == NULL || *end != '\0' || v < 0)
            p->bad = key;
        else
            p->min_seq = v;
        return MHD_YES;
    }
    if (tl_query_param(p->q, key, value != NULL ? value : "") != 0)
        p->bad = key;
    return p->bad == NULL ? MHD_YES : MHD_NO;
}

enum MHD_Result gw_api_query(struct gw_req *r, const char *plugin)
{
    struct params p = {json_object(), -1, NULL};
    msgpack_sbuffer sb;
    struct povtrack_client_msg reply;
    enum MHD_Result result;

    if (strlen(plugin) > 64 ||
        strspn(plugin, "abcdefghijklmnopqrstuvwxyz0123456789_") !=
            strlen(plugin)) {
        json_decref(p.q);
        return gw_reply_error(r, 404, "plugin", 0,
                              "no plugin can be called \"%s\"", plugin);
    }
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, param, &p);
    if (p.q == NULL || p.bad != NULL) {
        json_decref(p.q);
        return gw_reply_error(r, 400, p.bad, 0,
                              "%s: not a value the query can take (min_seq: "
                              "a sequence number; text: UTF-8)",
                              p.bad != NULL ? p.bad : "query");
    }
    msgpack_sbuffer_init(&sb);
    int rc = tl_query_pack(plugin, p.q, p.min_seq, &sb);
    json_decref(p.q);
    if (rc != 0) {
        msgpack_sbuffer_destroy(&sb);
        return gw_reply_error(r, 500, NULL, 0, "out of memory");
    }
    rc = gw_api_ask(r, r->who, sb.data, sb.size, &reply, &result);
    msgpack_sbuffer_destroy(&sb);
    if (rc != 0)
        return result;
    static const char *const keys[] = {POVTRACK_KEY_APPLIED_SEQ,
                                       POVTRACK_KEY_RESULT, NULL};
    return reply_fields(r, &reply, json_pack("{s:s}", "plugin", plugin), keys);
}

/* ---- GET /api/v1/units ---- */

/* A time argument: unix seconds or ISO 8601. */
static int time_arg(const char *v, int64_t *t, struct tl_error *err)
{
    char *end;
    long long n = strtoll(v, &end, 10);
    if (*v != '\0' && *end == '\0') {
        *t = n;
        return 0;
    }
    return tl_parse_time(v, t, err);
}

enum MHD_Result gw_api_units(struct gw_req *r)
{
    const char *parent = gw_arg(r, "parent"), *at = gw_arg(r, "at");
    struct povtrack_client_msg reply;
    enum MHD_Result result;
    struct tl_error err = {{0}};
    int64_t t = 0;

    if (at != NULL && time_arg(at, &t, &err) != 0)
        return gw_reply_error(r, 400, "at", 0, "%s", err.msg);
    json_t *req =
        json_pack("{s:s,s:o}", "op", POVTRACK_OP_UNITS, "parent",
                  parent != NULL && parent[0] != '\0' ? json_string(parent)
                                                      : json_null());
    if (req != NULL && at != NULL)
        json_object_set_new(req, "at", json_integer(t));
    if (ask_json(r, r->who, req, &reply, &result) != 0)
        return result;
    static const char *const keys[] = {"units", NULL};
    return reply_fields(r, &reply, json_object(), keys);
}

/* ---- GET /api/v1/alerts ---- */

int gw_api_severity_arg(struct gw_req *r, enum MHD_Result *result)
{
    const char *v = gw_arg(r, "severity");

    if (v == NULL || v[0] == '\0' || tl_alert_severity_known(v))
        return 0;
    *result = gw_reply_error(r, 400, "severity", 0,
                             "must be info, warning or critical, not "
                             "\"%.40s\"",
                             v);
    return POVTRACK_EINVALID;
}

static bool alert_seq(const msgpack_object *a, uint64_t *seq)
{
    const msgpack_object *o = povtrack_client_map_get(a, "seq");
    if (o == NULL || o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return false;
    *seq = o->via.u64;
    return true;
}

enum MHD_Result gw_api_alerts(struct gw_req *r)
{
    const char *s_since = gw_arg(r, "since"), *s_limit = gw_arg(r, "limit");
    char *end;
    long long since = s_since != NULL ? strtoll(s_since, &end, 10) : 0;
    if (s_since != NULL && (*end != '\0' || since < 0))
        return gw_reply_error(r, 400, "since", 0,
                              "must be a sequence number (0: all)");
    long long limit =
        s_limit != NULL ? strtoll(s_limit, &end, 10) : ALERTS_LIMIT_DEFAULT;
    if (s_limit != NULL &&
        (*end != '\0' || limit < 1 || limit > POVTRACK_PROTO_READ_LIMIT_MAX))
        return gw_reply_error(r, 400, "limit", 0, "must be from 1 to %u",
                              POVTRACK_PROTO_READ_LIMIT_MAX);
    struct povtrack_client_msg reply;
    enum MHD_Result result;
    if (gw_api_severity_arg(r, &result) != 0)
        return result;
    if (ask_json(r, r->who,
                 json_pack("{s:s,s:I,s:I}", "op", POVTRACK_OP_ALERTS, "since",
                           (json_int_t)since, "limit", (json_int_t)limit),
                 &reply, &result) != 0)
        return result;
    const msgpack_object *arr = povtrack_client_map_get(&reply.obj, "alerts");
    uint32_t n = arr != NULL && arr->type == MSGPACK_OBJECT_ARRAY
                     ? arr->via.array.size
                     : 0;
    /* A full page may end inside one event's alerts: leave that event for
     * the next page, unless it is all the page holds. */
    uint64_t last_seq = 0, first_seq = 0;
    if (n > 0 && n == (uint32_t)limit &&
        alert_seq(&arr->via.array.ptr[n - 1], &last_seq) &&
        alert_seq(&arr->via.array.ptr[0], &first_seq) &&
        first_seq != last_seq) {
        uint64_t s;
        while (n > 0 && alert_seq(&arr->via.array.ptr[n - 1], &s) &&
               s == last_seq)
            n--;
    }
    json_t *out = json_array();
    uint64_t next = (uint64_t)since;
    const struct tl_alert_filter filter = {
        gw_arg(r, "code"), gw_arg(r, "severity"), gw_arg(r, "unit")};
    for (uint32_t i = 0; out != NULL && i < n; i++) {
        const msgpack_object *a = &arr->via.array.ptr[i];
        uint64_t s;
        if (alert_seq(a, &s) && s > next)
            next = s;
        if (!tl_alert_filter_match(&filter, a))
            continue;
        json_t *j = gw_api_json(a);
        if (j != NULL)
            json_array_append_new(out, j);
    }
    povtrack_client_msg_free(&reply);
    return gw_reply_json(
        r, 200,
        json_pack("{s:o,s:I}", "alerts", out, "next_since", (json_int_t)next));
}

/* ---- GET /api/v1/report ---- */

/* What the gathering wrote to its error stream, without "povtrack: ". */
static void gather_message(char *text, char *out, size_t cap)
{
    const char *p = text != NULL ? text : "";
    if (strncmp(p, "povtrack: ", 10) == 0)
        p += 10;
    snprintf(out, cap, "%.*s", (int)strcspn(p, "\n"), p);
    if (strncmp(out, "povtrackd: ", 11) == 0)
        memmove(out, out + 11, strlen(out + 11) + 1);
}

enum MHD_Result gw_api_report(struct gw_req *r)
{
    const char *unit = gw_arg(r, "unit"), *fmt = gw_arg(r, "format"),
               *lang = gw_arg(r, "lang"), *year_s = gw_arg(r, "year"),
               *from_s = gw_arg(r, "from_year"), *why;
    char whybuf[128];
    long long year = year_s != NULL ? strtoll(year_s, NULL, 10) : -1;
    long long from = from_s != NULL ? strtoll(from_s, NULL, 10) : -1;
    enum tl_rep_format format = TL_REP_HTML;
    const char *type = "text/html; charset=utf-8";

    why = tl_report_args_error(unit, year, &from, whybuf, sizeof whybuf);
    if (why != NULL)
        return gw_reply_error(
            r, 400,
            unit == NULL || strspn(unit, "0123456789") != strlen(unit) ? "unit"
                                                                       : "year",
            0, "%s (unit, year, from_year)", why);
    if (fmt == NULL || strcmp(fmt, "html") == 0) {
        format = TL_REP_HTML;
    } else if (strcmp(fmt, "csv") == 0) {
        format = TL_REP_CSV;
        type = "text/csv; charset=utf-8";
    } else if (strcmp(fmt, "md") == 0) {
        format = TL_REP_MD;
        type = "text/markdown; charset=utf-8";
    } else {
        return gw_reply_error(r, 400, "format", 0, "html, csv or md");
    }
    if (lang != NULL && strcmp(lang, "vi") != 0 && strcmp(lang, "en") != 0)
        return gw_reply_error(r, 400, "lang", 0, "vi or en");

    struct tl_rep_doc doc;
    tl_report_doc_init(&doc, (int)year, (int)from);
    doc.lang = lang != NULL
                   ? (strcmp(lang, "en") == 0 ? TL_REP_EN : TL_REP_VI)
                   : (r->who->lang == GW_LANG_EN ? TL_REP_EN : TL_REP_VI);
    char *errtext = NULL, *out = NULL;
    size_t errlen = 0, outlen = 0;
    struct tl_cli cli = {.client = gw_daemon_take(r->gw->daemon, r->who)};
    cli.err = open_memstream(&errtext, &errlen);
    enum MHD_Result result;
    int rc = cli.client == NULL || cli.err == NULL
                 ? TL_EXIT_FAIL
                 : tl_report_gather(&cli, &doc, unit, false, false);
    if (cli.err != NULL)
        fclose(cli.err);
    gw_daemon_give(r->gw->daemon, r->who, cli.client);
    if (rc == 0) {
        struct tl_error err = {{0}};
        FILE *f = open_memstream(&out, &outlen);
        rc = f == NULL ? POVTRACK_ENOMEM
                       : tl_report_render(f, &doc, format, &err);
        if (f != NULL)
            fclose(f);
        result = rc == 0 ? gw_reply(r, 200, type, out, outlen)
                         : gw_reply_error(r, 500, NULL, 0, "%s", err.msg);
    } else {
        struct gw_failure f;
        char msg[1024];
        gather_message(errtext, msg, sizeof msg);
        gw_daemon_failure(rc == TL_EXIT_UNREACHABLE ? POVTRACK_ETIMEDOUT
                                                    : POVTRACK_EREFUSED,
                          msg, NULL, &f);
        result = gw_reply_failure(r, &f);
    }
    free(out);
    free(errtext);
    tl_report_doc_free(&doc);
    return result;
}

/* ---- health and metrics: the metrics key's ---- */

enum MHD_Result gw_api_health(struct gw_req *r)
{
    struct povtrack_client_msg reply;
    enum MHD_Result result;
    if (ask_json(r, NULL, json_pack("{s:s}", "op", POVTRACK_OP_PING), &reply,
                 &result) != 0)
        return result;
    const msgpack_object *v = povtrack_client_map_get(&reply.obj, "version");
    json_t *out = json_pack(
        "{s:s,s:s,s:s%}", "status", "ok", "gateway", POVTRACK_VERSION,
        "povtrackd",
        v != NULL && v->type == MSGPACK_OBJECT_STR ? v->via.str.ptr : "",
        (size_t)(v != NULL && v->type == MSGPACK_OBJECT_STR ? v->via.str.size
                                                            : 0));
    povtrack_client_msg_free(&reply);
    return gw_reply_json(r, 200, out);
}

enum MHD_Result gw_api_metrics(struct gw_req *r)
{
    povtrack_client *c = gw_daemon_take(r->gw->daemon, NULL);
    struct povtrack_client_msg reply = {0};
    char *text = NULL;
    size_t len = 0;
    int rc = c != NULL ? povtrack_client_simple(c, POVTRACK_OP_STATS, &reply)
                       : POVTRACK_ENOMEM;
    if (rc != 0 && c != NULL)
        pt_logf(&r->gw->log, PT_LOG_WARN, "/metrics: stats: %s",
                povtrack_client_error(c));
    gw_daemon_give(r->gw->daemon, NULL, c);
    FILE *f = open_memstream(&text, &len);
    if (f != NULL) {
        gw_metrics_render(r->gw->metrics, rc == 0 ? &reply.obj : NULL, f);
        fclose(f);
    }
    povtrack_client_msg_free(&reply);
    enum MHD_Result result =
        text != NULL
            ? gw_reply(r, 200, "text/plain; version=0.0.4; charset=utf-8", text,
                       len)
            : gw_reply_error(r, 500, NULL, 0, "out of memory");
    free(text);
    return result;
}
