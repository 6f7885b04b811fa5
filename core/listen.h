/* core/listen.h -- the TCP listeners of the config. */
#ifndef EMBER_CORE_LISTEN_H
#define EMBER_CORE_LISTEN_H

#include <jansson.h>

#include "config.h"

int ember__listeners_start(const ember_config_t *cfg, char *err,
                           size_t errlen);
void ember__listeners_stop(void);
/* [{"type","address","port","tls"}] */
json_t *ember__listeners_describe(void);

#endif
