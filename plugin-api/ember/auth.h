/*
 * ember/auth.h -- authentication providers (API minor 8).
 *
 * By default a host's accounts are the core's: SCRAM secrets in the store,
 * created with emberctl, in-band registration or the console.  A module
 * may take over the passwords of the hosts it is enabled on (of every host
 * when it is GLOBAL) by registering a provider in its load():
 *
 *     static const ember_auth_provider_t prov = {
 *         .size = sizeof(prov), .name = "ldap",
 *         .check = my_check, .exists = my_exists, .is_admin = my_admin,
 *     };
 *     api->auth_provide(m, &prov);
 *
 * From then on, on those hosts:
 *   - SASL offers PLAIN only, and only where PLAIN is allowed (TLS): the
 *     server holds no SCRAM secrets to run SCRAM with.  Each PLAIN login,
 *     and each password another door checks (api->account_login: the
 *     console), goes through check(), behind the same login throttle as
 *     the core's own checks: the provider never sees a guess the throttle
 *     holds back, and every EMBER_EAUTH it answers counts as a failure.
 *   - "Does this user exist" (api->user_exists, offline delivery, emberctl
 *     user-info) asks exists().
 *   - Creating accounts and changing passwords end with EMBER_EPERM.
 *   - api->is_admin also asks is_admin(), after the <admin/> list.
 *
 * check() and exists() must not block: they start the work (on a thread
 * of the module's own, say) and return 0, and the answer comes later,
 * exactly once, through api->auth_done(call, status) on the core thread
 * (api->call_on_core gets it there).  A negative return means the answer
 * will not come; the core treats it as the status.  A call the core has
 * given up on (its module unloaded) is forgotten: auth_done with its id
 * does nothing.
 *
 * Statuses of check(): 0 the password is right; EMBER_EAUTH it is wrong or
 * there is no such user (one answer for both); EMBER_EPERM the password is
 * right and the account disabled; anything else (EMBER_EIO, EMBER_ETIMEDOUT,
 * EMBER_EBUSY ...) the directory could not say: the client gets a SASL
 * temporary-auth-failure and no failure is counted.
 * Statuses of exists(): 0 yes, EMBER_ENOENT no, anything else unknown.
 *
 * Users are prepared node names ("alice"); passwords are UTF-8, at most
 * 1024 bytes, never empty.  The strings live only during the call: copy
 * them, and wipe the copy of the password once used.
 *
 * The struct is append-only: its `size` tells the core which fields the
 * module knows.
 */
#ifndef EMBER_AUTH_H
#define EMBER_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include <ember/types.h>

/* One pending question, named for api->auth_done. */
typedef uint64_t ember_auth_call_t;

typedef struct ember_auth_provider_s {
    uint32_t size;          /* sizeof(ember_auth_provider_t) of the module */
    const char *name;       /* "ldap": in log lines and account info */

    /* ---- V1 ---- */

    int (*check)(ember_module_t *m, const char *user, const char *password,
                 ember_auth_call_t call);
    int (*exists)(ember_module_t *m, const char *user,
                  ember_auth_call_t call);
    /*
     * Optional (NULL: nobody).  Synchronous, on the core thread: answer
     * from what the module already knows (a cache filled at login), 1 when
     * user is an administrator of the server, else 0.
     */
    int (*is_admin)(ember_module_t *m, const char *user);

    void *reserved[4];      /* zero */
} ember_auth_provider_t;

#define EMBER_AUTH_PROVIDER_V1                                               \
    (offsetof(ember_auth_provider_t, is_admin) +                             \
     sizeof(((ember_auth_provider_t *) 0)->is_admin))

#endif
