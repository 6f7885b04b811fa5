/* core/accounts.h -- accounts, stored as SCRAM secrets only. */
#ifndef EMBER_CORE_ACCOUNTS_H
#define EMBER_CORE_ACCOUNTS_H

#include <ember/plugin.h>

/*
 * The keyval store "accounts" of each host maps a user (nodeprep'ed) to
 *   {"iterations": 4096, "salt": base64,
 *    "sha1":   {"stored_key": base64, "server_key": base64},
 *    "sha256": {"stored_key": base64, "server_key": base64},
 *    "created": unix-seconds, "locked": false,
 *    "lock_reason": text, "locked_at": unix-seconds (while locked),
 *    "name": text, "email": text (for the admins)}
 * Hashing (PBKDF2) runs on the libuv thread pool, never on the loop.  All
 * callbacks run on the core thread.  user is prepared (nodeprep) first: a
 * name that does not prepare is EMBER_EINVAL.  A negative return means cb
 * will not be called.
 */
#define EMBER_SCRAM_ITERATIONS 4096

/* EMBER_EEXIST when taken; fires user-created.  This and set_password
 * end with EMBER_EPERM on a host whose passwords a provider keeps. */
int ember__account_create(const char *host, const char *user,
                          const char *password, ember_store_cb cb, void *ud);
/*
 * Create an account from SCRAM secrets computed elsewhere (an export of
 * this or another server): secrets holds "iterations", "salt" and "sha1"
 * and/or "sha256" as in the document above, optionally "created" and
 * "locked".  A hash left out cannot be used to log in (SCRAM with it
 * fails; PLAIN checks the other).  EMBER_EINVAL when a key is not base64
 * of its hash's size, EMBER_EEXIST when taken; fires user-created.
 */
int ember__account_import(const char *host, const char *user,
                          json_t *secrets, ember_store_cb cb, void *ud);
/* EMBER_ENOENT when missing. */
int ember__account_set_password(const char *host, const char *user,
                                const char *password, ember_store_cb cb,
                                void *ud);
/* Closes the user's sessions, purges every store, fires user-deleted. */
int ember__account_delete(const char *host, const char *user,
                          ember_store_cb cb, void *ud);
/* result: the stored document above. */
int ember__account_get(const char *host, const char *user, ember_store_cb cb,
                       void *ud);
/* result: sorted array of user names. */
int ember__account_list(const char *host, ember_store_cb cb, void *ud);
/* Set (or, when null or "", remove) the given members of the account's
 * document: "name" and "email". */
int ember__account_set_info(const char *host, const char *user,
                            json_t *fields, ember_store_cb cb, void *ud);
/* Lock (1) or unlock (0): a locked account cannot log in.  reason (may
 * be NULL) is kept with the lock for the admins. */
int ember__account_lock(const char *host, const char *user, int locked,
                        const char *reason, ember_store_cb cb, void *ud);
/*
 * Blocking (PBKDF2): 0 when password matches the document's SHA-256 (or,
 * missing that, SHA-1) secrets, else EMBER_EAUTH.  Call off the loop.
 */
int ember__account_check_password(json_t *doc, const char *password);
/*
 * The document of an account that does not exist: shaped like a real one,
 * its salt and keys derived from a secret of this server (kept in
 * <data>/decoy.key), so SCRAM runs to the end and fails just as a wrong
 * password does, and an unknown name keeps its salt.  "decoy": true.
 */
json_t *ember__account_decoy(const char *host, const char *user);
/*
 * Check a password off the loop, for doors other than SASL, through the
 * login throttle: peer (the client's address, NULL when unknown) and door
 * (its name in the log line) are what store/throttle.h counts and logs.
 * cb gets 0, EMBER_EAUTH when it is wrong, too long or the account does
 * not exist (in the same time), EMBER_EPERM when it is right but the
 * account is locked, EMBER_ELIMIT with {"retry_after": seconds} when the
 * throttle holds the address or account back (nothing is checked).
 */
int ember__account_verify(const char *host, const char *user,
                          const char *password, const char *peer,
                          const char *door, ember_store_cb cb, void *ud);

/* ---- authentication providers (ember/auth.h) ---- */

/* m's provider for host (NULL: every host).  EMBER_EEXIST when taken. */
int ember__auth_provide(ember_module_t *m, const char *host,
                        const ember_auth_provider_t *p);
/* Withdraw m's provider; its pending questions end with ECANCELED. */
void ember__auth_module_gone(ember_module_t *m);
/* The provider's name when host has one (its passwords are not ours:
 * SASL offers PLAIN only), else NULL. */
const char *ember__auth_external(const char *host);
/*
 * Ask host's provider about user's password: cb gets 0, EMBER_EAUTH,
 * EMBER_EPERM, or another error when the provider could not tell.  No
 * throttle here: callers check ember__throttle_wait first and count the
 * answer.  Negative return: cb will not run.
 */
typedef void (*ember_auth_result_cb)(int status, void *ud);
int ember__auth_check(const char *host, const char *user,
                      const char *password, ember_auth_result_cb cb,
                      void *ud);
void ember__auth_done(ember_auth_call_t call, int status);
/* 1 when the provider of bare's host says bare is an admin. */
int ember__auth_is_admin(const char *bare);

/* Access to host's account user ends (locked, deleted): who ends its open
 * streams, set by the layer that owns them. */
typedef void (*ember_account_revoke_cb)(const char *host, const char *user);
void ember__accounts_on_revoke(ember_account_revoke_cb cb);

#endif
