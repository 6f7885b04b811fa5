/* core/xmpp/disco.c -- what modules register for service discovery
 * (XEP-0030), per host, released with the module. */
#include <stdlib.h>
#include <string.h>

#include "base/owner.h"
#include "xmpp/component.h"
#include "xmpp/disco.h"
#include "xmpp/stanza.h"

typedef struct disco_entry_s {
    ember_module_t *m;
    int what;               /* 'f', 'i', 't' */
    char *a, *b, *c;
    struct disco_entry_s *next;
} disco_entry_t;

static disco_entry_t *disco_entries;


static int
disco_add(ember_module_t *m, int what, const char *a, const char *b,
          const char *c)
{
    disco_entry_t *e, **pp;

    if (a == NULL)
        return EMBER_EINVAL;
    for (e = disco_entries; e != NULL && what != 'x'; e = e->next)
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


static void
disco_remove(ember_module_t *m, int what, const char *b)
{
    disco_entry_t **pp, *e;

    for (pp = &disco_entries; (e = *pp) != NULL;) {
        if (e->m == m && e->what == what && e->b != NULL &&
            strcmp(e->b, b) == 0) {
            *pp = e->next;
            free(e->a);
            free(e->b);
            free(e->c);
            free(e);
        } else {
            pp = &e->next;
        }
    }
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
ember__disco_add_form(ember_module_t *m, const ember_stanza_t *form)
{
    const ember_stanza_t *f;
    const char *var, *type = NULL;
    char *xml;
    size_t len;
    int rc;

    if (form == NULL || strcmp(ember__stanza_name(form), "x") != 0 ||
        ember__stanza_xmlns(form) == NULL ||
        strcmp(ember__stanza_xmlns(form), "jabber:x:data") != 0)
        return EMBER_EINVAL;
    for (f = ember__stanza_first(form); f != NULL && type == NULL;
         f = ember__stanza_next(f))
        if (strcmp(ember__stanza_name(f), "field") == 0 &&
            (var = ember__stanza_attr(f, "var")) != NULL &&
            strcmp(var, "FORM_TYPE") == 0 &&
            ember__stanza_child(f, "value", NULL) != NULL)
            type = ember__stanza_text(ember__stanza_child(f, "value", NULL));
    if (type == NULL || *type == '\0')
        return EMBER_EINVAL;
    if ((xml = ember__stanza_serialize(form, &len)) == NULL)
        return EMBER_ENOMEM;
    /* One form per FORM_TYPE and module: a new one replaces it. */
    disco_remove(m, 'x', type);
    rc = disco_add(m, 'x', xml, type, NULL);
    free(xml);
    return rc;
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
    if (what == 't')
        ember__components_items(host, cb, ud);
    return 0;
}


void
ember__disco_module_gone(ember_module_t *m)
{
    disco_entry_t **pp, *e;

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
}
