/* core/admin/cmd_migrate.c -- account-export and account-import: an
 * account's SCRAM secrets out of and into the store, for `emberctl export`
 * and `import` (doc/migration.md).  Both are local ("local-read" for the
 * export, which changes nothing and stays out of the audit log): the
 * secrets let whoever holds them pass for the server to a client, so they
 * leave emberd only through the control socket, never the console or
 * REST. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "admin/cmd_admin.h"
#include "base/jid.h"
#include "base/log.h"
#include "base/process.h"
#include "runtime/commands.h"
#include "store/accounts.h"

typedef struct mig_call_s {
    ember_cmd_ctx_t *ctx;
    char jid[];
} mig_call_t;


/* The account named by args' "jid" (user@host of a configured host), or
 * end the command and return NULL. */
static mig_call_t *
mig_call(ember_cmd_ctx_t *ctx, json_t *args, ember_jid_t **out)
{
    const char *s = ember__command_str(args, "jid");
    ember_jid_t *j = s != NULL ? ember__jid_parse(s) : NULL;
    mig_call_t *call;
    size_t len;

    if (j == NULL || ember__jid_node(j) == NULL ||
        ember__jid_resource(j) != NULL) {
        ember__command_donef(ctx, EMBER_EINVAL, "%s: expected user@host",
                             s != NULL ? s : "jid");
        ember__jid_free(j);
        return NULL;
    }
    if (!ember__host_exists(ember__jid_domain(j))) {
        ember__command_donef(ctx, EMBER_EINVAL, "%s: unknown host %s", s,
                             ember__jid_domain(j));
        ember__jid_free(j);
        return NULL;
    }
    len = strlen(ember__jid_bare(j)) + 1;
    if ((call = malloc(sizeof(*call) + len)) == NULL) {
        ember__command_done(ctx, EMBER_ENOMEM, NULL, NULL);
        ember__jid_free(j);
        return NULL;
    }
    call->ctx = ctx;
    memcpy(call->jid, ember__jid_bare(j), len);
    *out = j;
    return call;
}


/* End the command of call with why status, in the operator's words. */
static void
mig_fail(mig_call_t *call, int status)
{
    if (status == EMBER_ENOENT)
        ember__command_donef(call->ctx, status, "no such user %s",
                             call->jid);
    else if (status == EMBER_EEXIST)
        ember__command_donef(call->ctx, status, "user %s already exists",
                             call->jid);
    else
        ember__command_donef(call->ctx, status, "%s: %s", call->jid,
                             ember_strerror(status));
}


static void
exported(int status, json_t *doc, void *ud)
{
    mig_call_t *call = ud;
    static const char *const keep[] = {
        "iterations", "salt", "sha1", "sha256", "created", "locked", NULL
    };
    json_t *out;
    size_t i;

    if (status < 0)
        mig_fail(call, status);
    else if ((out = json_object()) == NULL)
        ember__command_done(call->ctx, EMBER_ENOMEM, NULL, NULL);
    else {
        /* Only what an import takes back: nothing a later field adds
         * leaves the server unreviewed. */
        for (i = 0; keep[i] != NULL; i++)
            if (json_object_get(doc, keep[i]) != NULL)
                json_object_set(out, keep[i], json_object_get(doc, keep[i]));
        ember__command_done(call->ctx, 0, out, NULL);
    }
    free(call);
}


static void
imported(int status, json_t *result, void *ud)
{
    mig_call_t *call = ud;

    (void) result;
    if (status < 0)
        mig_fail(call, status);
    else
        ember__command_done(call->ctx, 0,
                            json_pack("{s:s, s:s}", "jid", call->jid,
                                      "done", "imported"),
                            NULL);
    free(call);
}


/* Read (export) or create (import) the account the command names. */
static void
account_run(ember_cmd_ctx_t *ctx, json_t *args, int import)
{
    ember_jid_t *j;
    mig_call_t *call;
    int err;

    if ((call = mig_call(ctx, args, &j)) == NULL)
        return;
    err = import ? ember__account_import(ember__jid_domain(j),
                                         ember__jid_node(j),
                                         json_object_get(args, "secrets"),
                                         imported, call)
                 : ember__account_get(ember__jid_domain(j),
                                      ember__jid_node(j), exported, call);
    ember__jid_free(j);
    if (err == EMBER_EINVAL && import)
        ember__command_donef(ctx, err, "%s: secrets need iterations, salt "
                             "and sha1 and/or sha256 {stored_key, "
                             "server_key}, base64 of the hash's size",
                             call->jid);
    else if (err < 0)
        mig_fail(call, err);
    if (err < 0)
        free(call);
}


static void
cmd_account_export(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    (void) ud;
    account_run(ctx, args, 0);
}


static void
cmd_account_import(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    (void) ud;
    account_run(ctx, args, 1);
}


static const ember_cmd_arg_t args_export[] = {
    { "jid", EMBER_ARG_JID, 1, "the account, user@host" },
    { NULL, 0, 0, NULL }
};
static const ember_cmd_arg_t args_import[] = {
    { "jid", EMBER_ARG_JID, 1, "the account, user@host" },
    { "secrets", EMBER_ARG_JSON, 1, "{iterations, salt, sha1: {stored_key, "
      "server_key}, sha256: {...}, created, locked}" },
    { NULL, 0, 0, NULL }
};

static const ember_command_t migrate_commands[] = {
    { "account-export", "An account's SCRAM secrets (for emberctl export)",
      args_export, "local-read", cmd_account_export },
    { "account-import", "Create an account from SCRAM secrets (for emberctl "
      "import)", args_import, "local", cmd_account_import },
};


void
ember__commands_migrate_init(void)
{
    size_t i;
    int rc;

    for (i = 0; i < sizeof(migrate_commands) / sizeof(migrate_commands[0]);
         i++)
        if ((rc = ember__command_register(NULL, &migrate_commands[i],
                                          NULL)) < 0 && rc != EMBER_EEXIST)
            LOG_E("command %s: %s", migrate_commands[i].name,
                  ember_strerror(rc));
}
