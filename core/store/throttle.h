/* core/store/throttle.h -- one brake on password guessing, shared by every
 * door that checks a password (SASL on every transport, the console).
 *
 * Failures are counted per address, per network (/24 for IPv4, /64 for
 * IPv6) and per account, known or not.  Past a few free failures each key
 * waits a delay that doubles with every further failure, up to a cap; the
 * count halves every 15 minutes without failures.  The table has a fixed
 * size and, when full, forgets the least-failed key of a bucket chosen by
 * a keyed hash: flooding it with addresses cannot clear an account's
 * record without out-failing it, which the delays forbid. */
#ifndef EMBER_CORE_THROTTLE_H
#define EMBER_CORE_THROTTLE_H

typedef struct ember_throttle_limits_s {
    int per_address;  /* free failures of an address; the network gets 4x */
    int per_account;  /* free failures of an account */
    int max_delay;    /* seconds, the cap of the doubling delay */
} ember_throttle_limits_t;

/* Override <limits login-...> (NULL: follow the configuration again). */
void ember__throttle_set_limits(const ember_throttle_limits_t *limits);

/*
 * Seconds before addr may try a password (for account, a prepared bare
 * JID, or NULL when the door does not know it yet); 0 means now.
 */
int ember__throttle_wait(const char *addr, const char *account);

/*
 * A wrong password or an unknown account: count it for every key and log
 * it at warning level in the line etc/fail2ban/ember.conf matches:
 * "authentication failed from ADDR for ACCOUNT (DOOR)".
 */
void ember__throttle_failed(const char *addr, const char *account,
                            const char *door);

/*
 * The right password: forget the account's failures.  The address keeps
 * its own, or an attacker would clear them by logging in to an account of
 * his between guesses at others.
 */
void ember__throttle_succeeded(const char *account);

/* Drop every record (tests, emberctl). */
void ember__throttle_reset(void);

#endif
