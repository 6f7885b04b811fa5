/* core/hooks.c -- named events with handlers ordered by priority. */
#include <stdlib.h>
#include <string.h>

#include "base/hmap.h"
#include "base/hooks.h"
#include "base/log.h"
#include "base/owner.h"

typedef struct hook_handler_s {
    ember_module_t *m;
    char *host;             /* NULL: every host */
    ember_hook_cb cb;
    int priority;
    void *ud;
    int dead;
} hook_handler_t;

typedef struct hook_event_s {
    char *name;
    hook_handler_t *handlers; /* sorted by priority, highest first */
    size_t len, cap;
    int firing;
    int has_dead;
    int unsorted;           /* hooked during a fire: appended, not placed */
} hook_event_t;

static ember_hmap_t events;


static hook_event_t *
event_get(const char *name, int create)
{
    hook_event_t *e = ember__hmap_get(&events, name);

    if (e != NULL || !create)
        return e;
    if ((e = calloc(1, sizeof(*e))) == NULL)
        return NULL;
    if ((e->name = strdup(name)) == NULL ||
        ember__hmap_put(&events, e->name, e) < 0) {
        free(e->name);
        free(e);
        return NULL;
    }
    return e;
}


/* Between fires: drop unhooked handlers, and put the ones hooked during
 * a fire into priority order (stable: equal priorities keep their
 * registration order). */
static void
event_tidy(hook_event_t *e)
{
    hook_handler_t h;
    size_t i, j;

    if (e->firing > 0)
        return;
    if (e->has_dead) {
        for (i = j = 0; i < e->len; i++) {
            if (e->handlers[i].dead) {
                free(e->handlers[i].host);
                continue;
            }
            e->handlers[j++] = e->handlers[i];
        }
        e->len = j;
        e->has_dead = 0;
    }
    if (e->unsorted) {
        for (i = 1; i < e->len; i++) {
            h = e->handlers[i];
            for (j = i; j > 0 && e->handlers[j - 1].priority < h.priority;
                 j--)
                e->handlers[j] = e->handlers[j - 1];
            e->handlers[j] = h;
        }
        e->unsorted = 0;
    }
}


int
ember__hook(ember_module_t *m, const char *host, const char *event,
            ember_hook_cb cb, int priority, void *ud)
{
    hook_event_t *e;
    hook_handler_t *h;
    size_t i;

    if (event == NULL || cb == NULL)
        return EMBER_EINVAL;
    if ((e = event_get(event, 1)) == NULL)
        return EMBER_ENOMEM;
    event_tidy(e);
    if (e->len == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 4;
        hook_handler_t *n = realloc(e->handlers, cap * sizeof(*n));

        if (n == NULL)
            return EMBER_ENOMEM;
        e->handlers = n;
        e->cap = cap;
    }
    /* Insertion after equal priorities keeps registration order stable. */
    for (i = 0; i < e->len && e->handlers[i].priority >= priority; i++)
        ;
    if (e->firing > 0) {
        i = e->len;     /* never shift handlers under a running fire */
        e->unsorted = 1;
    }
    memmove(&e->handlers[i + 1], &e->handlers[i],
            (e->len - i) * sizeof(*h));
    h = &e->handlers[i];
    memset(h, 0, sizeof(*h));
    h->m = m;
    h->host = host != NULL ? strdup(host) : NULL;
    h->cb = cb;
    h->priority = priority;
    h->ud = ud;
    e->len++;
    return 0;
}


static int
same_host(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    return strcmp(a, b) == 0;
}


int
ember__unhook(ember_module_t *m, const char *host, const char *event,
              ember_hook_cb cb, void *ud)
{
    hook_event_t *e = event_get(event, 0);
    size_t i;

    if (e == NULL)
        return EMBER_ENOENT;
    for (i = 0; i < e->len; i++) {
        hook_handler_t *h = &e->handlers[i];

        if (!h->dead && h->m == m && h->cb == cb && h->ud == ud &&
            same_host(h->host, host)) {
            h->dead = 1;
            e->has_dead = 1;
            event_tidy(e);
            return 0;
        }
    }
    return EMBER_ENOENT;
}


int
ember__fire(const char *host, const char *event, ember_event_t *ev)
{
    hook_event_t *e = ember__hmap_get(&events, event);
    size_t i, len;
    int rc = EMBER_HOOK_PASS, r;

    if (e == NULL || e->len == 0)
        return EMBER_HOOK_PASS;
    ev->size = sizeof(*ev);
    ev->name = e->name;
    ev->host = host;
    e->firing++;
    len = e->len;
    for (i = 0; i < len; i++) {
        hook_handler_t *h = &e->handlers[i];

        if (h->dead ||
            (h->host != NULL && (host == NULL || strcmp(h->host, host) != 0)))
            continue;
        r = h->cb(h->m, ev, h->ud);
        if (r == EMBER_HOOK_HANDLED) {
            rc = EMBER_HOOK_HANDLED;
            break;
        }
        if (r < 0)
            ember__log(EMBER_LOG_WARN, ember__module_name(e->handlers[i].m),
                       "handler of %s failed: %s", event, ember_strerror(r));
    }
    e->firing--;
    event_tidy(e);
    return rc;
}


int
ember__fire_simple(const char *host, const char *event,
                   ember_session_t *origin, void *data)
{
    ember_event_t ev;

    memset(&ev, 0, sizeof(ev));
    ev.origin = origin;
    ev.data = data;
    return ember__fire(host, event, &ev);
}


void
ember__hooks_module_gone(ember_module_t *m)
{
    size_t pos = 0, i;
    hook_event_t *e;

    while ((e = ember__hmap_next(&events, &pos, NULL)) != NULL) {
        for (i = 0; i < e->len; i++)
            if (e->handlers[i].m == m) {
                e->handlers[i].dead = 1;
                e->has_dead = 1;
            }
        event_tidy(e);
    }
}
