/* core/base/process.h -- what every layer reads of the running process:
 * the loop, the clock, the configuration in force. */
#ifndef EMBER_CORE_PROCESS_H
#define EMBER_CORE_PROCESS_H

#include <stdint.h>
#include <uv.h>

#include "base/config.h"

uv_loop_t *ember__loop(void);
/* The configuration in force (server start and reload set it). */
const ember_config_t *ember__config(void);
void ember__config_set_current(ember_config_t *cfg);
/* 1 in emberctl's in-process server (no listeners, no hosts' modules). */
int ember__server_offline(void);
void ember__process_start(int offline);
int ember__host_exists(const char *name);
/* bare: a prepared bare JID. */
int ember__is_admin(const char *bare);
/* Microseconds since the epoch. */
int64_t ember__now_us(void);
uint64_t ember__uptime_ms(void);

#endif
