/* core/commands.h -- the one registry of admin commands. */
#ifndef EMBER_CORE_COMMANDS_H
#define EMBER_CORE_COMMANDS_H

#include <ember/plugin.h>

/* Who runs a command: the control socket is "local" (any permission). */
typedef enum {
    EMBER_CALLER_LOCAL = 1,
    EMBER_CALLER_ADMIN = 2
} ember_caller_t;

/*
 * Reply of a finished command: status 0 and result (owned by the callee
 * until the callback returns), or an error and a message.
 */
typedef void (*ember_cmd_reply_cb)(int status, json_t *result,
                                   const char *message, void *ud);

int ember__command_register(ember_module_t *m, const ember_command_t *cmd,
                            void *ud);
void ember__command_done(ember_cmd_ctx_t *ctx, int status, json_t *result,
                         const char *message);

/*
 * Run `name` with args (a JSON object, borrowed).  Arguments are checked
 * against the command's table first: a missing required argument, an
 * unknown one or a wrong type ends with EMBER_EINVAL and a message naming
 * it, without running the command.  reply is always called, possibly
 * before this returns.  With an actor (who runs it: an admin's JID, an
 * operator at the control socket) and origin (from where), a command
 * whose permission is not "read" goes into the audit log once it ends.
 */
void ember__command_run(const char *name, json_t *args, ember_caller_t who,
                        const char *actor, const char *origin,
                        ember_cmd_reply_cb reply, void *ud);

/* Who runs the command of ctx. */
ember_caller_t ember__command_caller(const ember_cmd_ctx_t *ctx);

/* JSON array describing every command (name, summary, args, permission). */
json_t *ember__command_list(void);
/* The list's entry of one command, or NULL: host's own when several hosts
 * serve it (host NULL: the first). */
json_t *ember__command_info(const char *name, const char *host);

/* What `kick` and `kick-session` close streams with. */
#define EMBER_KICK_CONDITION EMBER_STREAM_POLICY_VIOLATION

/* The string argument `name` of args, or NULL. */
const char *ember__command_str(json_t *args, const char *name);
/* 0 when emberd runs; else end the command (emberctl's in-process
 * server cannot act on sessions or reload) and return EMBER_ESTATE. */
int ember__command_need_online(ember_cmd_ctx_t *ctx, const char *name);

/* End a command with an error message made like printf's. */
void ember__command_donef(ember_cmd_ctx_t *ctx, int status, const char *fmt,
                          ...) EMBER_PRINTF(3, 4);
/*
 * The prepared, configured host named by args' "host" into out ("" when
 * absent and not required), or end the command with why and return
 * EMBER_EINVAL.
 */
int ember__command_host_arg(ember_cmd_ctx_t *ctx, json_t *args, int required,
                            char *out, size_t outlen);

/*
 * What the audit log keeps of ctx's arguments instead of them as given:
 * for a command that finds secrets inside a JSON argument, which the
 * argument table cannot mark.  args stolen.
 */
void ember__command_audit_args(ember_cmd_ctx_t *ctx, json_t *args);

/*
 * api->command_at_owner: run(ctx, args, ud) here when this node serves
 * entity (a service's JID: a room) or a one-node server; on a cluster
 * whose other node serves it, the command runs there and its answer ends
 * ctx.
 */
void ember__command_at_owner(ember_cmd_ctx_t *ctx, const char *entity,
                             void (*run)(ember_cmd_ctx_t *ctx, json_t *args,
                                         void *ud),
                             void *ud);
/* Run the commands other nodes of a cluster hand over. */
void ember__commands_serve_nodes(void);

/* Drop every command module m registered. */
void ember__commands_module_gone(ember_module_t *m);

#endif
