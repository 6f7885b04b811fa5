/* core/xmpp/iq.h -- iqs a module answers late, and iqs it sends. */
#ifndef EMBER_CORE_IQ_H
#define EMBER_CORE_IQ_H

#include <ember/plugin.h>

ember_iq_t *ember__iq_defer(ember_module_t *m, const ember_event_t *ev);
const ember_event_t *ember__iq_event(const ember_iq_t *iq);
ember_session_ref_t ember__iq_origin(const ember_iq_t *iq);
int ember__iq_answer(ember_iq_t *iq, ember_stanza_t *payload);
int ember__iq_fail(ember_iq_t *iq, ember_cond_t cond, const char *text);
/* Answer service-unavailable to every iq module m still holds. */
void ember__iqs_module_gone(ember_module_t *m);

/* iq get/set sent by a module, and the response that ends it. */
int ember__iq_send(ember_module_t *m, ember_stanza_t *root,
                   unsigned timeout_ms, ember_iq_cb cb, void *ud);
/* An iq result/error arrived: 1 when it answered a pending iq (consumed
 * nothing: the caller still owns st), else 0. */
int ember__iq_response(const ember_stanza_t *st, const ember_jid_t *from);
/* Drop the iqs module m sent, without calling back. */
void ember__iq_sent_module_gone(ember_module_t *m);

#endif
