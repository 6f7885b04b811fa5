/* core/admin/cmd_admin.c -- admin commands on accounts, sessions and the
 * logs: user-search, user-info, kick-session, message, logs, audit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "admin/cmd_admin.h"
#include "base/config.h"
#include "base/jid.h"
#include "base/log.h"
#include "base/process.h"
#include "runtime/commands.h"
#include "store/accounts.h"
#include "store/audit.h"
#include "xmpp/router.h"
#include "xmpp/session.h"
#include "xmpp/stanza.h"

#define SEARCH_DEFAULT_LIMIT 50
#define SEARCH_MAX_LIMIT 500
#define LOGS_DEFAULT_LIMIT 200
#define LOGS_MAX_LIMIT 2000

/* A user-search in flight: one account read per user of the page. */
typedef struct search_s {
    ember_cmd_ctx_t *ctx;
    json_t *result;            /* {"total", "users"} */
    size_t pending;
    int failed;
} search_t;

typedef struct search_item_s {
    search_t *search;
    json_t *user;              /* borrowed from search->result */
} search_item_t;

typedef struct info_call_s {
    ember_cmd_ctx_t *ctx;
    char host[1024];
    char bare[2048];
} info_call_t;


/* An integer argument within lo..hi (def when absent), or finish. */
static int
int_arg(ember_cmd_ctx_t *ctx, json_t *args, const char *name, long long def,
        long long lo, long long hi, long long *out)
{
    json_t *v = json_object_get(args, name);

    *out = v != NULL ? json_integer_value(v) : def;
    if (*out < lo || *out > hi) {
        ember__command_donef(ctx, EMBER_EINVAL,
                             "argument '%s': %lld out of range %lld..%lld",
                             name, *out, lo, hi);
        return EMBER_EINVAL;
    }
    return 0;
}


/* Bound sessions of a bare JID: how many. */
static int
online_count(const char *bare)
{
    ember_session_t *s;
    int n = 0;

    for (s = ember__session_first_of(bare); s != NULL;
         s = ember__session_next_of(s))
        n++;
    return n;
}


/* ---- user-search, user-info ---- */

static void
search_finish(search_t *se)
{
    if (se->failed < 0)
        ember__command_donef(se->ctx, se->failed, "reading the accounts: %s",
                             ember_strerror(se->failed));
    else
        ember__command_done(se->ctx, 0, json_incref(se->result), NULL);
    json_decref(se->result);
    free(se);
}


static void
search_got(int status, json_t *doc, void *ud)
{
    search_item_t *it = ud;
    search_t *se = it->search;

    if (status == 0)
        json_object_set_new(it->user, "locked",
                            json_boolean(json_is_true(
                                json_object_get(doc, "locked"))));
    else if (status != EMBER_ENOENT && se->failed == 0)
        se->failed = status;
    free(it);
    if (--se->pending == 0)
        search_finish(se);
}


typedef struct search_call_s {
    ember_cmd_ctx_t *ctx;
    char *q;
    long long offset, limit;
    char host[1024];
} search_call_t;


static void
search_listed(int status, json_t *names, void *ud)
{
    search_call_t *call = ud;
    search_t *se = NULL;
    search_item_t *it;
    json_t *v, *users, *u;
    const char *name;
    char bare[2048];
    size_t i, total = 0;
    int rc;

    if (status < 0 && status != EMBER_ENOENT) {
        ember__command_donef(call->ctx, status, "users of %s: %s", call->host,
                             ember_strerror(status));
        goto out;
    }
    if ((se = calloc(1, sizeof(*se))) == NULL ||
        (users = json_array()) == NULL ||
        (se->result = json_pack("{s:i, s:o}", "total", 0, "users",
                                users)) == NULL) {
        free(se);
        ember__command_done(call->ctx, EMBER_ENOMEM, NULL, NULL);
        goto out;
    }
    se->ctx = call->ctx;
    se->pending = 1;           /* held until every read is started */
    json_array_foreach(status == 0 ? names : NULL, i, v) {
        name = json_string_value(v);
        if (name == NULL ||
            (call->q != NULL && strcasestr(name, call->q) == NULL))
            continue;
        total++;
        if ((long long) total <= call->offset ||
            (long long) json_array_size(users) >= call->limit)
            continue;
        snprintf(bare, sizeof(bare), "%s@%s", name, call->host);
        u = json_pack("{s:s, s:b, s:i}", "jid", bare, "locked", 0,
                      "online", online_count(bare));
        if (u == NULL || json_array_append_new(users, u) < 0 ||
            (it = calloc(1, sizeof(*it))) == NULL) {
            se->failed = EMBER_ENOMEM;
            continue;
        }
        it->search = se;
        it->user = u;
        se->pending++;
        if ((rc = ember__account_get(call->host, name, search_got, it)) < 0) {
            se->pending--;
            free(it);
            if (se->failed == 0)
                se->failed = rc;
        }
    }
    json_object_set_new(se->result, "total", json_integer((json_int_t) total));
    if (--se->pending == 0)
        search_finish(se);
out:
    free(call->q);
    free(call);
}


static void
cmd_user_search(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    search_call_t *call;
    const char *q = ember__command_str(args, "q");
    long long offset, limit;
    int rc;

    if (int_arg(ctx, args, "offset", 0, 0, INT_MAX, &offset) < 0 ||
        int_arg(ctx, args, "limit", SEARCH_DEFAULT_LIMIT, 1,
                SEARCH_MAX_LIMIT, &limit) < 0)
        return;
    if ((call = calloc(1, sizeof(*call))) == NULL) {
        ember__command_done(ctx, EMBER_ENOMEM, NULL, NULL);
        return;
    }
    if (ember__command_host_arg(ctx, args, 1, call->host,
                                sizeof(call->host)) < 0) {
        free(call);
        return;
    }
    call->ctx = ctx;
    call->offset = offset;
    call->limit = limit;
    if (q != NULL && *q != '\0' && (call->q = strdup(q)) == NULL) {
        free(call);
        ember__command_done(ctx, EMBER_ENOMEM, NULL, NULL);
        return;
    }
    if ((rc = ember__account_list(call->host, search_listed, call)) < 0) {
        ember__command_donef(ctx, rc, "users of %s: %s", call->host,
                             ember_strerror(rc));
        free(call->q);
        free(call);
    }
}


/* The entries of `sessions` that belong to bare. */
static json_t *
sessions_of(const char *host, const char *bare)
{
    json_t *all = ember__sessions_describe(host), *mine = json_array(), *v;
    const char *jid;
    size_t i, n = strlen(bare);

    json_array_foreach(all, i, v) {
        jid = json_string_value(json_object_get(v, "jid"));
        if (jid != NULL && strncmp(jid, bare, n) == 0 && jid[n] == '/')
            json_array_append(mine, v);
    }
    json_decref(all);
    return mine;
}


static void
info_got(int status, json_t *doc, void *ud)
{
    info_call_t *call = ud;
    json_t *created;

    if (status == EMBER_ENOENT) {
        ember__command_donef(call->ctx, status, "no such user %s", call->bare);
    } else if (status < 0) {
        ember__command_donef(call->ctx, status, "%s: %s", call->bare,
                             ember_strerror(status));
    } else {
        created = json_object_get(doc, "created");
        ember__command_done(call->ctx, 0, json_pack(
            "{s:s, s:O?, s:O?, s:b, s:O?, s:O?, s:O, s:o}", "jid", call->bare,
            "name", json_object_get(doc, "name"),
            "email", json_object_get(doc, "email"),
            "locked", json_is_true(json_object_get(doc, "locked")),
            "lock_reason", json_object_get(doc, "lock_reason"),
            "locked_at", json_object_get(doc, "locked_at"),
            "created", created != NULL ? created : json_null(),
            "sessions", sessions_of(call->host, call->bare)), NULL);
    }
    free(call);
}


static void
cmd_user_info(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    ember_jid_t *j = ember__jid_parse(ember__command_str(args, "jid"));
    info_call_t *call = NULL;
    int rc;

    if (j == NULL || ember__jid_node(j) == NULL ||
        ember__jid_resource(j) != NULL) {
        ember__command_donef(ctx, EMBER_EINVAL, "%s: expected user@host",
                             ember__command_str(args, "jid"));
        goto out;
    }
    if (!ember__host_exists(ember__jid_domain(j))) {
        ember__command_donef(ctx, EMBER_EINVAL, "%s: unknown host %s",
                             ember__jid_bare(j), ember__jid_domain(j));
        goto out;
    }
    if ((call = calloc(1, sizeof(*call))) == NULL) {
        ember__command_done(ctx, EMBER_ENOMEM, NULL, NULL);
        goto out;
    }
    call->ctx = ctx;
    snprintf(call->host, sizeof(call->host), "%s", ember__jid_domain(j));
    snprintf(call->bare, sizeof(call->bare), "%s", ember__jid_bare(j));
    if ((rc = ember__account_get(call->host, ember__jid_node(j), info_got,
                                 call)) < 0) {
        if (rc == EMBER_ENOENT)
            ember__command_donef(ctx, rc, "no such user %s", call->bare);
        else
            ember__command_donef(ctx, rc, "%s: %s", call->bare,
                                 ember_strerror(rc));
        free(call);
    }
out:
    ember__jid_free(j);
}


/* ---- kick-session, message ---- */

static void
cmd_kick_session(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    const char *full = ember__command_str(args, "jid");
    ember_jid_t *j = ember__jid_parse(full);
    ember_session_t *s;

    if (ember__command_need_online(ctx, "kick-session") < 0)
        goto out;
    if (j == NULL || ember__jid_resource(j) == NULL) {
        ember__command_donef(ctx, EMBER_EINVAL,
                             "%s: expected a full JID (user@host/resource)",
                             full);
        goto out;
    }
    if ((s = ember__session_by_full(ember__jid_full(j))) == NULL) {
        if (ember__route_close_remote(ember__jid_full(j),
                                      EMBER_KICK_CONDITION) > 0)
            ember__command_done(ctx, 0, json_pack("{s:b}", "ok", 1), NULL);
        else
            ember__command_donef(ctx, EMBER_ENOENT, "no session %s",
                                 ember__jid_full(j));
        goto out;
    }
    ember__session_end(s, EMBER_KICK_CONDITION, NULL);
    ember__command_done(ctx, 0, json_pack("{s:b}", "ok", 1), NULL);
out:
    ember__jid_free(j);
}


static void
cmd_message(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    static unsigned long seq;
    const char *subject = ember__command_str(args, "subject");
    const char *from_s = ember__command_str(args, "from");
    ember_jid_t *to = ember__jid_parse(ember__command_str(args, "to"));
    ember_jid_t *from = NULL;
    ember_stanza_t *msg = NULL, *c;
    char id[64];
    int rc;

    if (ember__command_need_online(ctx, "message") < 0)
        goto out;
    if (to == NULL) {
        ember__command_donef(ctx, EMBER_EINVAL, "argument 'to': malformed JID");
        goto out;
    }
    if (from_s == NULL && !ember__host_exists(ember__jid_domain(to))) {
        ember__command_donef(ctx, EMBER_EINVAL,
                             "argument 'to': %s is not a local "
                             "host: give 'from'", ember__jid_domain(to));
        goto out;
    }
    from = ember__jid_parse(from_s != NULL ? from_s : ember__jid_domain(to));
    if (from == NULL || !ember__host_exists(ember__jid_domain(from))) {
        ember__command_donef(ctx, EMBER_EINVAL,
                             "argument 'from': %s is not a JID of "
                             "a local host", from_s);
        goto out;
    }
    snprintf(id, sizeof(id), "admin-%lx-%lu",
             (unsigned long) ember__uptime_ms(), ++seq);
    if ((msg = ember__stanza_new("message", NULL)) == NULL ||
        ember__stanza_set_attr(msg, "from", ember__jid_full(from)) < 0 ||
        ember__stanza_set_attr(msg, "to", ember__jid_full(to)) < 0 ||
        ember__stanza_set_attr(msg, "type", "normal") < 0 ||
        ember__stanza_set_attr(msg, "id", id) < 0 ||
        (subject != NULL &&
         ((c = ember__stanza_add_child(msg, "subject", NULL)) == NULL ||
          ember__stanza_add_text(c, subject) < 0)) ||
        (c = ember__stanza_add_child(msg, "body", NULL)) == NULL ||
        ember__stanza_add_text(c, ember__command_str(args, "body")) < 0) {
        ember__stanza_free(msg);
        ember__command_done(ctx, EMBER_ENOMEM, NULL, NULL);
        goto out;
    }
    if ((rc = ember__route_stanza(msg, NULL)) < 0)
        ember__command_donef(ctx, rc, "routing to %s: %s", ember__jid_full(to),
                             ember_strerror(rc));
    else
        ember__command_done(ctx, 0, json_pack("{s:b}", "ok", 1), NULL);
out:
    ember__jid_free(to);
    ember__jid_free(from);
}


/* ---- user-set: name and email, for the admins ---- */

int
ember__email_valid(const char *email)
{
    /* A light check: an address has one @ with something on each side. */
    return strchr(email, '@') != NULL && email[0] != '@' &&
           strchr(email, '@') == strrchr(email, '@') &&
           strrchr(email, '@')[1] != '\0' &&
           strpbrk(email, " <>\"") == NULL;
}


static void
user_set_done(int status, json_t *result, void *ud)
{
    info_call_t *call = ud;

    if (status == EMBER_ENOENT)
        ember__command_donef(call->ctx, status, "no such user %s",
                             call->bare);
    else if (status < 0)
        ember__command_donef(call->ctx, status, "%s: %s", call->bare,
                             ember_strerror(status));
    else
        ember__command_done(call->ctx, 0, json_pack("{s:s, s:b}", "jid",
                            call->bare, "ok", 1), NULL);
    free(call);
}


static void
cmd_user_set(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    ember_jid_t *j = ember__jid_parse(ember__command_str(args, "jid"));
    const char *email = ember__command_str(args, "email");
    json_t *fields = json_object();
    info_call_t *call = NULL;
    int rc;

    if (j == NULL || ember__jid_node(j) == NULL ||
        ember__jid_resource(j) != NULL) {
        ember__command_donef(ctx, EMBER_EINVAL, "%s: expected user@host",
                             ember__command_str(args, "jid"));
        goto out;
    }
    if (email != NULL && *email != '\0' && !ember__email_valid(email)) {
        ember__command_donef(ctx, EMBER_EINVAL, "email: '%s' is not an "
                             "address", email);
        goto out;
    }
    if (json_object_get(args, "name") != NULL)
        json_object_set(fields, "name", json_object_get(args, "name"));
    if (json_object_get(args, "email") != NULL)
        json_object_set(fields, "email", json_object_get(args, "email"));
    if ((call = calloc(1, sizeof(*call))) == NULL) {
        ember__command_done(ctx, EMBER_ENOMEM, NULL, NULL);
        goto out;
    }
    call->ctx = ctx;
    snprintf(call->bare, sizeof(call->bare), "%s", ember__jid_bare(j));
    if ((rc = ember__account_set_info(ember__jid_domain(j),
                                      ember__jid_node(j), fields,
                                      user_set_done, call)) < 0) {
        ember__command_donef(ctx, rc, "%s: %s", call->bare,
                             rc == EMBER_ENOENT ? "no such user"
                                                : ember_strerror(rc));
        free(call);
    }
out:
    json_decref(fields);
    ember__jid_free(j);
}


/* ---- logs ---- */

static void
cmd_logs(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    const char *level_s = ember__command_str(args, "level");
    long long since, limit;
    uint64_t next;
    json_t *lines;
    int level = EMBER_LOG_DEBUG;

    if (int_arg(ctx, args, "since", 0, 0, LLONG_MAX, &since) < 0 ||
        int_arg(ctx, args, "limit", LOGS_DEFAULT_LIMIT, 1, LOGS_MAX_LIMIT,
                &limit) < 0)
        return;
    if (level_s != NULL && (level = ember__log_level_parse(level_s)) < 0) {
        ember__command_donef(ctx, EMBER_EINVAL,
                             "argument 'level': unknown level "
                             "'%s' (error, warn, info, debug)", level_s);
        return;
    }
    if ((lines = ember__log_recent((uint64_t) since, level, (size_t) limit,
                                   &next)) == NULL) {
        ember__command_done(ctx, EMBER_ENOMEM, NULL, NULL);
        return;
    }
    ember__command_done(ctx, 0, json_pack("{s:o, s:I}", "lines", lines,
                                          "next", (json_int_t) next), NULL);
}


/* ---- audit ---- */

static void
audit_read(int status, json_t *result, void *ud)
{
    ember__command_done(ud, status, status < 0 ? NULL : json_incref(result),
                        status < 0 ? "the audit log cannot be read" : NULL);
}


static void
cmd_audit(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    long long max;
    int rc;

    if (int_arg(ctx, args, "max", 50, 1, 1000, &max) < 0)
        return;
    if ((rc = ember__audit_query((int) max, ember__command_str(args, "before"),
                                 ember__command_str(args, "action"),
                                 audit_read, ctx)) < 0)
        ember__command_done(ctx, rc, NULL, "the audit log cannot be read");
}


/* ---- the table ---- */

static const ember_cmd_arg_t args_search[] = {
    { "host", EMBER_ARG_STRING, 1, "a virtual host of the config" },
    { "q", EMBER_ARG_STRING, 0, "only names containing this" },
    { "offset", EMBER_ARG_INT, 0, "skip this many matches (default 0)" },
    { "limit", EMBER_ARG_INT, 0, "at most this many (default 50, max 500)" },
    { NULL, 0, 0, NULL }
};
static const ember_cmd_arg_t args_bare[] = {
    { "jid", EMBER_ARG_JID, 1, "the account, user@host" },
    { NULL, 0, 0, NULL }
};
static const ember_cmd_arg_t args_user_set[] = {
    { "jid", EMBER_ARG_JID, 1, "the account, user@host" },
    { "name", EMBER_ARG_STRING, 0, "the person's name (\"\" removes it)" },
    { "email", EMBER_ARG_STRING, 0, "an email address (\"\" removes it)" },
    { NULL, 0, 0, NULL }
};
static const ember_cmd_arg_t args_full[] = {
    { "jid", EMBER_ARG_JID, 1, "the session, user@host/resource" },
    { NULL, 0, 0, NULL }
};
static const ember_cmd_arg_t args_message[] = {
    { "to", EMBER_ARG_JID, 1, "the recipient" },
    { "body", EMBER_ARG_STRING, 1, "the text" },
    { "subject", EMBER_ARG_STRING, 0, "a subject line" },
    { "from", EMBER_ARG_JID, 0, "sender (default: the recipient's host)" },
    { NULL, 0, 0, NULL }
};
static const ember_cmd_arg_t args_logs[] = {
    { "since", EMBER_ARG_INT, 0, "only lines after this id (default 0)" },
    { "level", EMBER_ARG_STRING, 0, "minimum level: error, warn, info, "
      "debug" },
    { "limit", EMBER_ARG_INT, 0, "at most this many (default 200)" },
    { NULL, 0, 0, NULL }
};
static const ember_cmd_arg_t args_audit[] = {
    { "max", EMBER_ARG_INT, 0, "at most this many (default 50, max 1000)" },
    { "before", EMBER_ARG_STRING, 0, "only entries older than this id" },
    { "action", EMBER_ARG_STRING, 0, "only this action (a command's name, "
      "console-login, ...)" },
    { NULL, 0, 0, NULL }
};

static const ember_command_t admin_commands[] = {
    { "user-search", "Accounts of a host matching a substring, by page",
      args_search, "read", cmd_user_search },
    { "user-info", "One account: locked, created, sessions", args_bare,
      "read", cmd_user_info },
    { "user-set", "An account's name and email, kept for the admins",
      args_user_set, "admin", cmd_user_set },
    { "kick-session", "Close one session (policy-violation)", args_full,
      "admin", cmd_kick_session },
    { "message", "Send a message from the server", args_message, "admin",
      cmd_message },
    { "logs", "Recent log lines", args_logs, "read", cmd_logs },
    { "audit", "What admins did: who, what, when, from where, newest "
      "first", args_audit, "read", cmd_audit },
};


void
ember__commands_admin_init(void)
{
    size_t i;
    int rc;

    for (i = 0; i < sizeof(admin_commands) / sizeof(admin_commands[0]); i++)
        if ((rc = ember__command_register(NULL, &admin_commands[i], NULL)) < 0
            && rc != EMBER_EEXIST)
            LOG_E("command %s: %s", admin_commands[i].name,
                  ember_strerror(rc));
}
