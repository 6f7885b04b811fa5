/* core/cmd_core.c -- the core's own admin commands (emberctl, console). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "store/accounts.h"
#include "net/certgen.h"
#include "admin/cmd_admin.h"
#include "runtime/commands.h"
#include "base/config.h"
#include "base/jid.h"
#include "base/log.h"
#include "runtime/modules.h"
#include "base/process.h"
#include "cluster/cluster.h"
#include "xmpp/component.h"
#include "xmpp/s2s.h"
#include "xmpp/session.h"

static const ember__server_ops_t *server_ops;

/*
 * Stream error sent to the sessions that `kick` closes: RFC 6120 4.9.3.14
 * policy-violation ("the entity has violated some local service policy"),
 * the condition meant for an administrator's decision.  Deleted or locked
 * accounts get not-authorized from core/accounts.c instead.
 */

/* An account command in flight: the JID is kept for the messages. */
typedef struct acct_call_s {
    ember_cmd_ctx_t *ctx;
    const char *verb;
    char jid[];
} acct_call_t;


/* Why an account operation on jid failed, in the operator's words. */
static void
done_account_error(ember_cmd_ctx_t *ctx, int status, const char *jid)
{
    switch (status) {
    case EMBER_EEXIST:
        ember__command_donef(ctx, status, "user %s already exists", jid);
        break;
    case EMBER_ENOENT:
        ember__command_donef(ctx, status, "no such user %s", jid);
        break;
    case EMBER_EBUSY:
        ember__command_donef(ctx, status, "another change of %s is in progress",
                             jid);
        break;
    case EMBER_ENOTSUP:
        ember__command_donef(ctx, status,
                             "no storage backend is loaded (add <module "
                             "name=\"storage_sqlite\"/> to the config)");
        break;
    case EMBER_EPERM:
        ember__command_donef(ctx, status, "%s: the passwords of its host are "
                             "kept by an authentication provider (change "
                             "them there)", jid);
        break;
    case EMBER_EINVAL:
        ember__command_donef(ctx, status,
                             "invalid user name or password for %s", jid);
        break;
    default:
        ember__command_donef(ctx, status, "%s: %s", jid,
                             ember_strerror(status));
        break;
    }
}


/*
 * Split the checked JID argument into account name and host.  On failure
 * the command is finished and NULL returned.
 */
static ember_jid_t *
account_jid(ember_cmd_ctx_t *ctx, json_t *args)
{
    const char *s = json_string_value(json_object_get(args, "jid"));
    ember_jid_t *j;

    if (s == NULL || (j = ember__jid_parse(s)) == NULL) {
        ember__command_donef(ctx, EMBER_EINVAL, "malformed JID");
        return NULL;
    }
    if (ember__jid_node(j) == NULL || ember__jid_resource(j) != NULL) {
        ember__command_donef(ctx, EMBER_EINVAL, "%s: expected user@host", s);
        goto fail;
    }
    if (!ember__host_exists(ember__jid_domain(j))) {
        ember__command_donef(ctx, EMBER_EINVAL, "%s: unknown host %s", s,
                             ember__jid_domain(j));
        goto fail;
    }
    return j;

fail:
    ember__jid_free(j);
    return NULL;
}


static void
account_done(int status, json_t *result, void *ud)
{
    acct_call_t *call = ud;

    if (status < 0)
        done_account_error(call->ctx, status, call->jid);
    else
        ember__command_done(call->ctx, 0,
                            json_pack("{s:s, s:s}", "jid", call->jid,
                                      "done", call->verb),
                            NULL);
    free(call);
}


/* Start one accounts.h operation on the command's JID. */
static void
account_op(ember_cmd_ctx_t *ctx, json_t *args, const char *verb)
{
    const char *password = json_string_value(json_object_get(args,
                                                             "password"));
    const char *host, *user;
    acct_call_t *call;
    ember_jid_t *j;
    size_t len;
    int err;

    if ((j = account_jid(ctx, args)) == NULL)
        return;
    host = ember__jid_domain(j);
    user = ember__jid_node(j);
    len = strlen(ember__jid_bare(j)) + 1;
    if ((call = malloc(sizeof(*call) + len)) == NULL) {
        ember__jid_free(j);
        ember__command_done(ctx, EMBER_ENOMEM, NULL, NULL);
        return;
    }
    call->ctx = ctx;
    call->verb = verb;
    memcpy(call->jid, ember__jid_bare(j), len);
    if (strcmp(verb, "created") == 0)
        err = ember__account_create(host, user, password, account_done,
                                    call);
    else if (strcmp(verb, "password changed") == 0)
        err = ember__account_set_password(host, user, password,
                                          account_done, call);
    else if (strcmp(verb, "deleted") == 0)
        err = ember__account_delete(host, user, account_done, call);
    else
        err = ember__account_lock(host, user, strcmp(verb, "locked") == 0,
                                  ember__command_str(args, "reason"),
                                  account_done, call);
    ember__jid_free(j);
    if (err < 0) {
        done_account_error(ctx, err, call->jid);
        free(call);
    }
}


static void
cmd_adduser(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    account_op(ctx, args, "created");
}


static void
cmd_passwd(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    account_op(ctx, args, "password changed");
}


static void
cmd_deluser(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    account_op(ctx, args, "deleted");
}


static void
cmd_lock(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    account_op(ctx, args, "locked");
}


static void
cmd_unlock(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    account_op(ctx, args, "unlocked");
}


static void
users_done(int status, json_t *result, void *ud)
{
    ember_cmd_ctx_t *ctx = ud;

    if (status == EMBER_ENOENT)
        ember__command_done(ctx, 0, json_array(), NULL);
    else if (status < 0)
        done_account_error(ctx, status, "users");
    else
        ember__command_done(ctx, 0, json_incref(result), NULL);
}


static void
cmd_users(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    char host[1024];
    int err;

    if (ember__command_host_arg(ctx, args, 1, host, sizeof(host)) < 0)
        return;
    if ((err = ember__account_list(host, users_done, ctx)) < 0)
        done_account_error(ctx, err, host);
}


static void
cmd_check(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    const char *path = json_string_value(json_object_get(args, "path"));
    const ember_config_t *running = ember__config();
    char err[1024];
    int rc;

    /* Another file would name plugin directories to open code from. */
    if (path != NULL && ember__command_caller(ctx) != EMBER_CALLER_LOCAL &&
        (running == NULL || strcmp(path, running->path) != 0)) {
        ember__command_donef(ctx, EMBER_EPERM, "check: another file than "
                             "the running config only through the control "
                             "socket (emberctl)");
        return;
    }
    if (path == NULL && running != NULL)
        path = running->path;
    if (path == NULL) {
        ember__command_donef(ctx, EMBER_EINVAL, "no config file to check");
        return;
    }
    err[0] = '\0';
    if ((rc = ember__modules_check_file(path, err, sizeof(err))) < 0) {
        ember__command_done(ctx, rc, NULL, err[0] != '\0' ? err : NULL);
        return;
    }
    ember__command_done(ctx, 0,
                        json_pack("{s:b, s:s}", "ok", 1, "path", path), NULL);
}


static void
cmd_modules(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    ember__command_done(ctx, 0, ember__modules_describe(), NULL);
}


static void
cmd_plugins(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    const ember_config_t *cfg = ember__config();
    json_t *list;

    if (cfg == NULL) {
        ember__command_donef(ctx, EMBER_ESTATE, "no configuration loaded");
        return;
    }
    if ((list = ember__plugins_available(cfg)) == NULL) {
        ember__command_donef(ctx, EMBER_ENOMEM, "out of memory");
        return;
    }
    ember__command_done(ctx, 0, list, NULL);
}


static void
cmd_reload(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    char err[1024];
    int rc;

    err[0] = '\0';
    if ((rc = server_ops->reload(err, sizeof(err))) < 0)
        ember__command_done(ctx, rc, NULL, err[0] != '\0' ? err : NULL);
    else
        ember__command_done(ctx, 0, json_pack("{s:b}", "ok", 1), NULL);
}


static void
cmd_status(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    json_t *st;

    if (ember__command_need_online(ctx, "status") < 0)
        return;
    if ((st = server_ops != NULL ? server_ops->status() : NULL) == NULL)
        ember__command_done(ctx, EMBER_ENOMEM, NULL, NULL);
    else
        ember__command_done(ctx, 0, st, NULL);
}


static void
cmd_sessions(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    char host[1024];
    json_t *list, *cl, *node, *o, *remote;
    size_t i;

    if (json_object_get(args, "host") != NULL &&
        ember__command_host_arg(ctx, args, 1, host, sizeof(host)) < 0)
        return;
    list = ember__sessions_describe(json_object_get(args, "host") != NULL
                                        ? host : NULL);
    /* Clustered: this node's sessions say so, the others' follow (from
     * the mirror of the registry). */
    if (list != NULL && (cl = ember__cluster_describe()) != NULL) {
        node = json_object_get(cl, "node");
        json_array_foreach(list, i, o)
            json_object_set(o, "node", node);
        json_array_extend(list, remote = ember__cluster_sessions(
                                    json_object_get(args, "host") != NULL
                                        ? host : NULL));
        json_decref(remote);
        json_decref(cl);
    }
    ember__command_done(ctx, 0, list != NULL ? list : json_array(), NULL);
}


static void
cmd_components(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    json_t *list;

    if (ember__command_need_online(ctx, "components") < 0)
        return;
    list = ember__components_describe();
    ember__command_done(ctx, list != NULL ? 0 : EMBER_ENOMEM, list, NULL);
}


static void
cmd_kick(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    ember_jid_t *j;
    int rc;

    if ((j = account_jid(ctx, args)) == NULL)
        return;
    rc = ember__sessions_close_user(ember__jid_domain(j), ember__jid_node(j),
                                    EMBER_KICK_CONDITION);
    if (rc < 0)
        ember__command_donef(ctx, rc, "%s: %s", ember__jid_bare(j),
                             ember_strerror(rc));
    else
        ember__command_done(ctx, 0,
                            json_pack("{s:s, s:i}", "jid", ember__jid_bare(j),
                                      "closed", rc),
                            NULL);
    ember__jid_free(j);
}


static json_t *
cert_entry(const char *host, const char *cert)
{
    json_t *info = NULL;
    int rc;

    if (cert == NULL)
        return NULL;
    if ((rc = ember__cert_info(cert, &info)) < 0)
        info = json_pack("{s:s}", "error", ember_strerror(rc));
    if (info == NULL)
        return NULL;
    json_object_set_new(info, "host", host != NULL ? json_string(host)
                                                   : json_null());
    json_object_set_new(info, "file", json_string(cert));
    return info;
}


static void
cmd_certs(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    const ember_config_t *cfg = ember__config();
    const ember_host_conf_t *h;
    json_t *list, *e;

    if (cfg == NULL) {
        ember__command_donef(ctx, EMBER_ESTATE, "no configuration loaded");
        return;
    }
    if ((list = json_array()) == NULL) {
        ember__command_done(ctx, EMBER_ENOMEM, NULL, NULL);
        return;
    }
    if ((e = cert_entry(NULL, cfg->cert_file)) != NULL)
        json_array_append_new(list, e);
    for (h = cfg->hosts; h != NULL; h = h->next)
        if ((e = cert_entry(h->name, h->cert_file)) != NULL)
            json_array_append_new(list, e);
    ember__command_done(ctx, 0, list, NULL);
}


static void
cmd_s2s(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    const ember_config_t *cfg = ember__config();
    json_t *blocked = json_array();
    char **b;

    for (b = cfg->s2s.blocked; b != NULL && *b != NULL; b++)
        json_array_append_new(blocked, json_string(*b));
    ember__command_done(ctx, 0,
                        json_pack("{s:o, s:o, s:o}", "links",
                                  ember__s2s_links(), "failures",
                                  ember__s2s_failures(), "blocked", blocked),
                        NULL);
}


static void
cmd_s2s_close(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    const char *domain = json_string_value(json_object_get(args, "domain"));
    char prepped[1024];

    if (domain == NULL ||
        ember__jid_prep_domain(domain, prepped, sizeof(prepped)) < 0) {
        ember__command_donef(ctx, EMBER_EINVAL, "'%s' is not a domain",
                             domain != NULL ? domain : "");
        return;
    }
    ember__command_done(ctx, 0,
                        json_pack("{s:s, s:i}", "domain", prepped, "closed",
                                  ember__s2s_close_domain(prepped)),
                        NULL);
}


static const ember_cmd_arg_t args_domain[] = {
    { "domain", EMBER_ARG_STRING, 1, "a remote domain" },
    { NULL, 0, 0, NULL }
};
static const ember_cmd_arg_t args_jid_password[] = {
    { "jid", EMBER_ARG_JID, 1, "the account, user@host" },
    { "password", EMBER_ARG_SECRET, 1, "the new password" },
    { NULL, 0, 0, NULL }
};
static const ember_cmd_arg_t args_jid[] = {
    { "jid", EMBER_ARG_JID, 1, "the account, user@host" },
    { NULL, 0, 0, NULL }
};
static const ember_cmd_arg_t args_lock[] = {
    { "jid", EMBER_ARG_JID, 1, "the account, user@host" },
    { "reason", EMBER_ARG_STRING, 0, "why, kept for the admins" },
    { NULL, 0, 0, NULL }
};
static const ember_cmd_arg_t args_host[] = {
    { "host", EMBER_ARG_STRING, 1, "a virtual host of the config" },
    { NULL, 0, 0, NULL }
};
static const ember_cmd_arg_t args_host_opt[] = {
    { "host", EMBER_ARG_STRING, 0, "only this virtual host" },
    { NULL, 0, 0, NULL }
};
static const ember_cmd_arg_t args_check[] = {
    { "path", EMBER_ARG_STRING, 0, "config file (default: the running one)" },
    { NULL, 0, 0, NULL }
};

static const ember_command_t core_commands[] = {
    { "adduser", "Create an account", args_jid_password, "admin",
      cmd_adduser },
    { "passwd", "Set an account's password", args_jid_password, "admin",
      cmd_passwd },
    { "deluser", "Delete an account and all its data", args_jid, "admin",
      cmd_deluser },
    { "users", "List the accounts of a host", args_host, "read",
      cmd_users },
    { "lock", "Lock an account: it cannot log in, its sessions close",
      args_lock, "admin", cmd_lock },
    { "unlock", "Unlock an account", args_jid, "admin", cmd_unlock },
    { "check", "Validate a config file", args_check, "read", cmd_check },
    { "modules", "Loaded modules: version, ABI, host, state, error", NULL,
      "read", cmd_modules },
    { "plugins", "Plugins in the plugin directories, loaded or not",
      NULL, "read", cmd_plugins },
    { "reload", "Re-read the config file", NULL, "admin", cmd_reload },
    { "status", "Server status", NULL, "read", cmd_status },
    { "sessions", "Connected client sessions", args_host_opt, "read",
      cmd_sessions },
    { "components", "External components (XEP-0114): connected, address, "
      "stanzas", NULL, "read", cmd_components },
    { "kick", "Close every session of an account (policy-violation)",
      args_jid, "admin", cmd_kick },
    { "certs", "TLS certificates in use: names and validity", NULL, "read",
      cmd_certs },
    { "s2s", "Server-to-server links, failed attempts, blocked domains",
      NULL, "read", cmd_s2s },
    { "s2s-close", "Close every link with a remote domain", args_domain,
      "admin", cmd_s2s_close },
};


void
ember__commands_core_init(const ember__server_ops_t *ops)
{
    size_t i;
    int rc;

    server_ops = ops;
    for (i = 0; i < sizeof(core_commands) / sizeof(core_commands[0]); i++)
        if ((rc = ember__command_register(NULL, &core_commands[i], NULL)) < 0
            && rc != EMBER_EEXIST)
            LOG_E("command %s: %s", core_commands[i].name,
                  ember_strerror(rc));
}
