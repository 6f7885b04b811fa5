/* core/xmpp/iq_defer.h -- iqs a module answers late (api->iq_defer). */
#ifndef EMBER_CORE_IQ_DEFER_H
#define EMBER_CORE_IQ_DEFER_H

#include <ember/plugin.h>

ember_iq_t *ember__iq_defer(ember_module_t *m, const ember_event_t *ev);
const ember_event_t *ember__iq_event(const ember_iq_t *iq);
ember_session_ref_t ember__iq_origin(const ember_iq_t *iq);
ember_module_t *ember__iq_module(const ember_iq_t *iq);
int ember__iq_answer(ember_iq_t *iq, ember_stanza_t *payload);
int ember__iq_fail(ember_iq_t *iq, ember_cond_t cond, const char *text);
int ember__iq_fail_app(ember_iq_t *iq, ember_cond_t cond, const char *text,
                       const ember_stanza_t *app);
/* Answer service-unavailable to every iq module m still holds. */
void ember__iqs_module_gone(ember_module_t *m);

#endif
