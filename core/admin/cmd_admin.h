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
 * modules, reload, status, ...) and the admin ones below. */
void ember__commands_core_init(const ember__server_ops_t *ops);
/* The reload and status the commands run (cmd_core.c). */
int ember__server_ops_reload(char *err, size_t errlen);

/* Register user-search, user-info, kick-session, message, logs, config-*,
 * module-*, admins, admin-add/-remove, cert-upload and cert-generate. */
void ember__commands_admin_init(void);

#endif
