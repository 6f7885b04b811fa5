/* core/xmpp/services.h -- subdomain services (conference.HOST ...). */
#ifndef EMBER_CORE_SERVICES_H
#define EMBER_CORE_SERVICES_H

#include <ember/plugin.h>

/* Every stanza to `domain` goes to one module. */
int ember__service_add(ember_module_t *m, const char *domain,
                       ember_hook_cb cb, void *ud);
int ember__service_exists(const char *domain);
int ember__service_on_claim(ember_module_t *m, const char *domain,
                            ember_service_claim_cb claimed, void *ud);
/* This node owns jid now (core/cluster/): its service's module is told. */
void ember__service_claimed(const char *jid);
/* The service's answer (EMBER_HOOK_HANDLED or PASS), or EMBER_ENOENT when
 * no service has that domain. */
int ember__service_dispatch(const char *domain, ember_event_t *ev);
void ember__services_module_gone(ember_module_t *m);

#endif
