/* core/services.c -- timers, disco registry, iq tracking, cross-thread
 * calls: everything here is owned by a module and released with it. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/hmap.h"
#include "base/jid.h"
#include "base/log.h"
#include "runtime/modules.h"
#include "xmpp/router.h"
#include "base/process.h"
#include "xmpp/services.h"
#include "xmpp/stanza.h"

struct ember_timer_s {
    uv_timer_t handle;
    ember_module_t *m;
    ember_timer_cb cb;
    void *ud;
    int running;            /* inside cb: stop defers the close */
    int stopped;
    struct ember_timer_s *prev, *next;
};

typedef struct disco_entry_s {
    ember_module_t *m;
    int what;               /* 'f', 'i', 't' */
    char *a, *b, *c;
    struct disco_entry_s *next;
} disco_entry_t;

typedef struct pending_iq_s {
    char id[32];
    char *to;               /* full JID string the iq went to */
    ember_module_t *m;
    ember_iq_cb cb;
    void *ud;
    uv_timer_t timer;
} pending_iq_t;

typedef struct service_s {
    char *domain;
    ember_module_t *m;
    ember_hook_cb cb;
    void *ud;
    struct service_s *next;
} service_t;

typedef struct core_call_s {
    ember_module_t *m;
    void (*fn)(void *ud);
    void *ud;
    struct core_call_s *next;
} core_call_t;

static ember_timer_t *timers;
static service_t *services;
static disco_entry_t *disco_entries;
static ember_hmap_t pending_iqs;
static unsigned long iq_counter;

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


/* ---- disco registry ---- */

static int
disco_add(ember_module_t *m, int what, const char *a, const char *b,
          const char *c)
{
    disco_entry_t *e, **pp;

    if (a == NULL)
        return EMBER_EINVAL;
    for (e = disco_entries; e != NULL; e = e->next)
        if (e->m == m && e->what == what && strcmp(e->a, a) == 0 &&
            (b == NULL ? e->b == NULL : e->b != NULL && !strcmp(e->b, b)))
            return EMBER_EEXIST;
    if ((e = calloc(1, sizeof(*e))) == NULL)
        return EMBER_ENOMEM;
    e->m = m;
    e->what = what;
    e->a = strdup(a);
    e->b = b != NULL ? strdup(b) : NULL;
    e->c = c != NULL ? strdup(c) : NULL;
    for (pp = &disco_entries; *pp != NULL; pp = &(*pp)->next)
        ;
    *pp = e;
    return 0;
}


int
ember__disco_add_feature(ember_module_t *m, const char *var)
{
    return disco_add(m, 'f', var, NULL, NULL);
}


int
ember__disco_add_identity(ember_module_t *m, const char *category,
                          const char *type, const char *name)
{
    if (type == NULL)
        return EMBER_EINVAL;
    return disco_add(m, 'i', category, type, name);
}


int
ember__disco_add_item(ember_module_t *m, const char *jid, const char *name)
{
    return disco_add(m, 't', jid, name, NULL);
}


int
ember__disco_foreach(ember_module_t *m, int what,
                     void (*cb)(const char *a, const char *b, const char *c,
                                void *ud),
                     void *ud)
{
    const char *host = ember__module_host(m);
    disco_entry_t *e;
    const char *eh;

    for (e = disco_entries; e != NULL; e = e->next) {
        if (e->what != what)
            continue;
        eh = ember__module_host(e->m);
        if (eh != NULL && (host == NULL || strcmp(eh, host) != 0))
            continue;
        cb(e->a, e->b, e->c, ud);
    }
    return 0;
}


/* ---- iq tracking ---- */

static void
pending_closed(uv_handle_t *h)
{
    pending_iq_t *p = h->data;

    free(p->to);
    free(p);
}


static void
pending_finish(pending_iq_t *p, ember_stanza_t *reply)
{
    ember__hmap_del(&pending_iqs, p->id);
    uv_timer_stop(&p->timer);
    if (p->cb != NULL)
        p->cb(p->m, reply, p->ud);
    uv_close((uv_handle_t *) &p->timer, pending_closed);
}


static void
pending_timeout(uv_timer_t *t)
{
    pending_finish(t->data, NULL);
}


int
ember__iq_send(ember_module_t *m, ember_stanza_t *root, unsigned timeout_ms,
               ember_iq_cb cb, void *ud)
{
    pending_iq_t *p;
    const char *to = ember__stanza_attr(root, "to");
    const char *type = ember__stanza_attr(root, "type");

    if (to == NULL || type == NULL ||
        (strcmp(type, "get") != 0 && strcmp(type, "set") != 0)) {
        ember__stanza_free(root);
        return EMBER_EINVAL;
    }
    if ((p = calloc(1, sizeof(*p))) == NULL ||
        (p->to = strdup(to)) == NULL) {
        free(p);
        ember__stanza_free(root);
        return EMBER_ENOMEM;
    }
    snprintf(p->id, sizeof(p->id), "ember-%lx", ++iq_counter);
    p->m = m;
    p->cb = cb;
    p->ud = ud;
    if (ember__stanza_set_attr(root, "id", p->id) < 0 ||
        ember__hmap_put(&pending_iqs, p->id, p) < 0) {
        free(p->to);
        free(p);
        ember__stanza_free(root);
        return EMBER_ENOMEM;
    }
    uv_timer_init(ember__loop(), &p->timer);
    p->timer.data = p;
    uv_timer_start(&p->timer, pending_timeout,
                   timeout_ms > 0 ? timeout_ms : 30000, 0);
    return ember__route_stanza(root, NULL);
}


int
ember__iq_answer(const ember_stanza_t *st, const ember_jid_t *from)
{
    const char *id = ember__stanza_attr(st, "id");
    pending_iq_t *p;
    ember_jid_t *to;
    int match;

    if (id == NULL || (p = ember__hmap_get(&pending_iqs, id)) == NULL)
        return 0;
    /* Only the addressee may answer: a guessed id from elsewhere is not a
     * reply. */
    if (from == NULL || (to = ember__jid_parse(p->to)) == NULL)
        return 0;
    match = strcmp(to->full, from->full) == 0 ||
            (to->resource == NULL && strcmp(to->bare, from->bare) == 0);
    ember__jid_free(to);
    if (!match)
        return 0;
    pending_finish(p, (ember_stanza_t *) st);
    return 1;
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


/* ---- subdomain services ---- */

static service_t *
service_find(const char *domain)
{
    service_t *sv;

    for (sv = services; domain != NULL && sv != NULL; sv = sv->next)
        if (strcmp(sv->domain, domain) == 0)
            return sv;
    return NULL;
}


int
ember__service_add(ember_module_t *m, const char *domain, ember_hook_cb cb,
                   void *ud)
{
    ember_jid_t *j;
    service_t *sv;
    int rc = 0;

    if (m == NULL || domain == NULL || cb == NULL)
        return EMBER_EINVAL;
    if ((j = ember__jid_parse(domain)) == NULL ||
        ember__jid_node(j) != NULL || ember__jid_resource(j) != NULL) {
        ember__jid_free(j);
        return EMBER_EINVAL;
    }
    domain = ember__jid_domain(j);
    if (ember__host_exists(domain) || service_find(domain) != NULL)
        rc = EMBER_EEXIST;
    else if ((sv = calloc(1, sizeof(*sv))) == NULL ||
             (sv->domain = strdup(domain)) == NULL) {
        free(sv);
        rc = EMBER_ENOMEM;
    } else {
        sv->m = m;
        sv->cb = cb;
        sv->ud = ud;
        sv->next = services;
        services = sv;
    }
    ember__jid_free(j);
    return rc;
}


int
ember__service_exists(const char *domain)
{
    return service_find(domain) != NULL;
}


int
ember__service_dispatch(const char *domain, ember_event_t *ev)
{
    service_t *sv = service_find(domain);

    if (sv == NULL)
        return EMBER_ENOENT;
    ev->size = sizeof(*ev);
    ev->name = "service";
    ev->host = ember__module_host(sv->m);
    return sv->cb(sv->m, ev, sv->ud);
}


int
ember__services_init(void)
{
    if (uv_async_init(ember__loop(), &calls_async, calls_run) < 0)
        return EMBER_EIO;
    calls_ready = 1;
    return 0;
}


void
ember__services_close(void)
{
    if (calls_ready) {
        calls_run(&calls_async);
        calls_ready = 0;
        uv_close((uv_handle_t *) &calls_async, NULL);
    }
}


void
ember__services_module_gone(ember_module_t *m)
{
    ember_timer_t *t, *tn;
    disco_entry_t **pp, *e;
    pending_iq_t *p;
    size_t pos;

    service_t **ps, *sv;

    calls_drain_module(m);
    for (ps = &services; (sv = *ps) != NULL;) {
        if (sv->m == m) {
            *ps = sv->next;
            free(sv->domain);
            free(sv);
        } else {
            ps = &sv->next;
        }
    }
    for (t = timers; t != NULL; t = tn) {
        tn = t->next;
        if (t->m == m)
            ember__timer_stop(m, t);
    }
    for (pp = &disco_entries; (e = *pp) != NULL;) {
        if (e->m == m) {
            *pp = e->next;
            free(e->a);
            free(e->b);
            free(e->c);
            free(e);
        } else {
            pp = &e->next;
        }
    }
    for (pos = 0; (p = ember__hmap_next(&pending_iqs, &pos, NULL)) != NULL;)
        if (p->m == m) {
            p->cb = NULL;
            pending_finish(p, NULL);
            pos = 0;
        }
}
