/* core/hooks.h -- named events, per host, handlers by priority. */
#ifndef EMBER_CORE_HOOKS_H
#define EMBER_CORE_HOOKS_H

#include <ember/plugin.h>

/*
 * host NULL hooks on every host (global modules).  Handlers of the
 * event's host and the global ones run together, highest priority first.
 */
int ember__hook(ember_module_t *m, const char *host, const char *event,
                ember_hook_cb cb, int priority, void *ud);
int ember__unhook(ember_module_t *m, const char *host, const char *event,
                  ember_hook_cb cb, void *ud);
/* EMBER_HOOK_HANDLED when a handler took it. */
int ember__fire(const char *host, const char *event, ember_event_t *ev);
void ember__hooks_module_gone(ember_module_t *m);

/* Convenience for lifecycle events without a stanza. */
int ember__fire_simple(const char *host, const char *event,
                       ember_session_t *origin, void *data);

#endif
