/* core/store/audit.h -- the audit log: which admin did what to the
 * server, when and from where, kept in the store like everything else. */
#ifndef EMBER_CORE_AUDIT_H
#define EMBER_CORE_AUDIT_H

#include <jansson.h>
#include <ember/plugin.h>

/*
 * One entry: actor ("admin@example.org", "key 3 (deploy)", "emberctl (uid
 * 0, root)"), origin (an IP address, "control socket", "xmpp"), action (a
 * command's name, "console-login"), detail (borrowed, may be NULL),
 * status 0 or the error, message the error's words.  Also logged.
 */
void ember__audit_record(const char *actor, const char *origin,
                         const char *action, json_t *detail, int status,
                         const char *message);

/*
 * Newest first, at most max entries older than the entry `before` (NULL:
 * from the newest), only `action` when set.  cb gets {"entries": [...],
 * "more": bool}, or an error.
 */
int ember__audit_query(int max, const char *before, const char *action,
                       ember_store_cb cb, void *ud);

#endif
