/* core/admin/cmd_admin.h -- the core's own admin commands. */
#ifndef EMBER_CORE_CMD_ADMIN_H
#define EMBER_CORE_CMD_ADMIN_H

#include <stddef.h>
#include <jansson.h>

/* What the commands ask of the server above them. */
typedef struct ember__server_ops_s {
    int (*reload)(char *err, size_t errlen);
    json_t *(*status)(void);
} ember__server_ops_t;

/* Register the core's own commands (adduser, passwd, deluser, users,
 * modules, reload, status, ...): cmd_core.c. */
void ember__commands_core_init(const ember__server_ops_t *ops);
/* Register user-search, user-info, kick-session, message and logs. */
void ember__commands_admin_init(void);
/* 1 when email looks like an address (user-set's check), else 0. */
int ember__email_valid(const char *email);
/* account-export, account-import (SCRAM secrets; "local"): cmd_migrate.c. */
void ember__commands_migrate_init(void);
/* config-*, module-*, admins, admin-add/-remove, cert-*: cmd_config.c. */
void ember__commands_config_init(const ember__server_ops_t *ops);

#endif
