/* core/base/privileges.h -- emberd started as root binds its ports, then
 * runs as the unprivileged user of <run-as> for good. */
#ifndef EMBER_CORE_PRIVILEGES_H
#define EMBER_CORE_PRIVILEGES_H

#include <stddef.h>

#include "base/config.h"

/*
 * Not root: nothing to do.  Root: give the data directory (what is in it
 * included), the log file and the control socket to cfg->run_user, then
 * become that user and group with no way back.  <run-as user="root">
 * keeps root, with a warning.  0, or an error with the reason in err.
 */
int ember__privileges_drop(const ember_config_t *cfg, char *err,
                           size_t errlen);

/* Root only (else nothing): become user (and group, NULL: the user's)
 * for good, without touching any file.  For a child that runs code it
 * does not trust. */
int ember__privileges_become(const char *user, const char *group, char *err,
                             size_t errlen);

#endif
