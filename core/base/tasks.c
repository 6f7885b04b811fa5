/* core/base/tasks.c -- timers and calls from other threads, each owned by
 * a module and released with it. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/owner.h"
#include "base/process.h"
#include "base/tasks.h"

struct ember_timer_s {
    uv_timer_t handle;
    ember_module_t *m;
    ember_timer_cb cb;
    void *ud;
    int running;            /* inside cb: stop defers the close */
    int stopped;
    struct ember_timer_s *prev, *next;
};

typedef struct core_call_s {
    ember_module_t *m;
    void (*fn)(void *ud);
    void *ud;
    struct core_call_s *next;
} core_call_t;

static ember_timer_t *timers;
static uv_async_t calls_async;
static pthread_mutex_t calls_lock = PTHREAD_MUTEX_INITIALIZER;
static core_call_t *calls_head, **calls_tail = &calls_head;
static int calls_ready;


/* ---- timers ---- */

static void
timer_closed(uv_handle_t *h)
{
    free(h->data);
}


static void
timer_unlink_close(ember_timer_t *t)
{
    if (t->prev != NULL)
        t->prev->next = t->next;
    else
        timers = t->next;
    if (t->next != NULL)
        t->next->prev = t->prev;
    uv_close((uv_handle_t *) &t->handle, timer_closed);
}


static void
timer_fired(uv_timer_t *h)
{
    ember_timer_t *t = h->data;

    t->running = 1;
    t->cb(t->m, t, t->ud);
    t->running = 0;
    if (t->stopped || uv_timer_get_repeat(h) == 0)
        timer_unlink_close(t);
}


ember_timer_t *
ember__timer_start(ember_module_t *m, uint64_t ms, uint64_t repeat_ms,
                   ember_timer_cb cb, void *ud)
{
    ember_timer_t *t;

    if (cb == NULL || (t = calloc(1, sizeof(*t))) == NULL)
        return NULL;
    uv_timer_init(ember__loop(), &t->handle);
    t->handle.data = t;
    t->m = m;
    t->cb = cb;
    t->ud = ud;
    t->next = timers;
    if (timers != NULL)
        timers->prev = t;
    timers = t;
    uv_timer_start(&t->handle, timer_fired, ms, repeat_ms);
    return t;
}


void
ember__timer_stop(ember_module_t *m, ember_timer_t *t)
{
    if (t == NULL || t->m != m || t->stopped)
        return;
    t->stopped = 1;
    uv_timer_stop(&t->handle);
    if (!t->running)
        timer_unlink_close(t);
}


/* ---- calls from other threads ---- */

static void
calls_run(uv_async_t *a)
{
    core_call_t *list, *c;

    pthread_mutex_lock(&calls_lock);
    list = calls_head;
    calls_head = NULL;
    calls_tail = &calls_head;
    pthread_mutex_unlock(&calls_lock);
    while ((c = list) != NULL) {
        list = c->next;
        c->fn(c->ud);
        free(c);
    }
}


int
ember__call_on_core(ember_module_t *m, void (*fn)(void *ud), void *ud)
{
    core_call_t *c;

    if (fn == NULL)
        return EMBER_EINVAL;
    if (!calls_ready)
        return EMBER_ESTATE;
    if ((c = malloc(sizeof(*c))) == NULL)
        return EMBER_ENOMEM;
    c->m = m;
    c->fn = fn;
    c->ud = ud;
    c->next = NULL;
    pthread_mutex_lock(&calls_lock);
    *calls_tail = c;
    calls_tail = &c->next;
    pthread_mutex_unlock(&calls_lock);
    uv_async_send(&calls_async);
    return 0;
}


/* Run now, on the core thread, the calls module m still has queued. */
static void
calls_drain_module(ember_module_t *m)
{
    core_call_t *mine = NULL, **mt = &mine, **pp, *c;

    pthread_mutex_lock(&calls_lock);
    for (pp = &calls_head; (c = *pp) != NULL;) {
        if (c->m == m) {
            *pp = c->next;
            c->next = NULL;
            *mt = c;
            mt = &c->next;
        } else {
            pp = &c->next;
        }
    }
    calls_tail = pp;
    pthread_mutex_unlock(&calls_lock);
    while ((c = mine) != NULL) {
        mine = c->next;
        c->fn(c->ud);
        free(c);
    }
}


int
ember__tasks_init(void)
{
    if (uv_async_init(ember__loop(), &calls_async, calls_run) < 0)
        return EMBER_EIO;
    calls_ready = 1;
    return 0;
}


void
ember__tasks_close(void)
{
    if (calls_ready) {
        calls_run(&calls_async);
        calls_ready = 0;
        uv_close((uv_handle_t *) &calls_async, NULL);
    }
}


void
ember__tasks_module_gone(ember_module_t *m)
{
    ember_timer_t *t, *tn;

    calls_drain_module(m);
    for (t = timers; t != NULL; t = tn) {
        tn = t->next;
        if (t->m == m)
            ember__timer_stop(m, t);
    }
}
