/* core/base/tasks.h -- module timers, and calls onto the core thread from
 * other threads. */
#ifndef EMBER_CORE_TASKS_H
#define EMBER_CORE_TASKS_H

#include <ember/plugin.h>

int ember__tasks_init(void);
/* Run what is queued, then stop taking calls. */
void ember__tasks_close(void);

ember_timer_t *ember__timer_start(ember_module_t *m, uint64_t ms,
                                  uint64_t repeat_ms, ember_timer_cb cb,
                                  void *ud);
void ember__timer_stop(ember_module_t *m, ember_timer_t *t);
int ember__call_on_core(ember_module_t *m, void (*fn)(void *ud), void *ud);
void ember__tasks_module_gone(ember_module_t *m);

#endif
