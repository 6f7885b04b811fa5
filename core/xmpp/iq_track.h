/* core/xmpp/iq_track.h -- iqs modules send (api->iq_send). */
#ifndef EMBER_CORE_IQ_TRACK_H
#define EMBER_CORE_IQ_TRACK_H

#include <ember/plugin.h>

/* Give an iq get/set its id and wait for its response; the caller routes
 * it.  On error root is freed. */
int ember__iq_track(ember_module_t *m, ember_stanza_t *root,
                    unsigned timeout_ms, ember_iq_cb cb, void *ud);
/* An iq result/error arrived: 1 when it answered a pending iq (consumed
 * nothing: the caller still owns st), else 0. */
int ember__iq_response(const ember_stanza_t *st, const ember_jid_t *from);
/* The module is about to unload: its callbacks get NULL, as for a
 * timeout, while its state still stands (they release their ud). */
void ember__iq_sent_cancel(ember_module_t *m);
/* Drop the iqs module m sent, without calling back. */
void ember__iq_sent_module_gone(ember_module_t *m);

#endif
