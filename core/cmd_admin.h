/* core/cmd_admin.h -- the commands behind the admin console's REST API. */
#ifndef EMBER_CORE_CMD_ADMIN_H
#define EMBER_CORE_CMD_ADMIN_H

/* Register user-search, user-info, kick-session, message, logs, config-*,
 * module-*, admins, admin-add/-remove, cert-upload and cert-generate. */
void ember__commands_admin_init(void);

#endif
