/* core/xmpp/c2s.h -- client streams over TCP. */
#ifndef EMBER_CORE_C2S_H
#define EMBER_CORE_C2S_H

#include <uv.h>

#include "base/config.h"

/* Accept one connection on a c2s or c2s-tls listener. */
int ember__c2s_accept(uv_stream_t *server, const ember_listener_conf_t *lc);

#endif
