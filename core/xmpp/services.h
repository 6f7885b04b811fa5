/* core/services.h -- timers, the disco registry, iq tracking and calls
 * from other threads: what modules register and the core must release. */
#ifndef EMBER_CORE_SERVICES_H
#define EMBER_CORE_SERVICES_H

#include <ember/plugin.h>

int ember__services_init(void);
void ember__services_close(void);

ember_timer_t *ember__timer_start(ember_module_t *m, uint64_t ms,
                                  uint64_t repeat_ms, ember_timer_cb cb,
                                  void *ud);
void ember__timer_stop(ember_module_t *m, ember_timer_t *t);

int ember__disco_add_feature(ember_module_t *m, const char *var);
int ember__disco_add_identity(ember_module_t *m, const char *category,
                              const char *type, const char *name);
int ember__disco_add_item(ember_module_t *m, const char *jid,
                          const char *name);
int ember__disco_foreach(ember_module_t *m, int what,
                         void (*cb)(const char *a, const char *b,
                                    const char *c, void *ud),
                         void *ud);

int ember__iq_send(ember_module_t *m, ember_stanza_t *root,
                   unsigned timeout_ms, ember_iq_cb cb, void *ud);
/* An iq result/error arrived: 1 when it answered a pending iq (consumed
 * nothing: the caller still owns st), else 0. */
int ember__iq_answer(const ember_stanza_t *st, const ember_jid_t *from);

/* Subdomain services: every stanza to `domain` goes to one module. */
int ember__service_add(ember_module_t *m, const char *domain,
                       ember_hook_cb cb, void *ud);
int ember__service_exists(const char *domain);
/* The service's answer (EMBER_HOOK_HANDLED or PASS), or EMBER_ENOENT when
 * no service has that domain. */
int ember__service_dispatch(const char *domain, ember_event_t *ev);

int ember__call_on_core(ember_module_t *m, void (*fn)(void *ud), void *ud);

/* Release everything module m registered here. */
void ember__services_module_gone(ember_module_t *m);

#endif
