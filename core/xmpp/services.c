/* core/xmpp/services.c -- subdomain services such as conference.HOST:
 * every stanza to the domain goes to one module. */
#include <stdlib.h>
#include <string.h>

#include "base/jid.h"
#include "base/log.h"
#include "base/owner.h"
#include "base/process.h"
#include "xmpp/services.h"

typedef struct service_s {
    char *domain;
    ember_module_t *m;
    ember_hook_cb cb;
    void *ud;
    ember_service_claim_cb claimed;
    void *claimed_ud;
    struct service_s *next;
} service_t;

static service_t *services;


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
ember__service_on_claim(ember_module_t *m, const char *domain,
                        ember_service_claim_cb claimed, void *ud)
{
    service_t *sv = service_find(domain);

    if (sv == NULL || sv->m != m)
        return EMBER_ENOENT;
    sv->claimed = claimed;
    sv->claimed_ud = ud;
    return 0;
}


void
ember__service_claimed(const char *jid)
{
    const char *at = strchr(jid, '@');
    service_t *sv = service_find(at != NULL ? at + 1 : jid);

    if (sv != NULL && sv->claimed != NULL)
        sv->claimed(sv->m, jid, sv->claimed_ud);
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


void
ember__services_module_gone(ember_module_t *m)
{
    service_t **ps, *sv;

    for (ps = &services; (sv = *ps) != NULL;) {
        if (sv->m == m) {
            *ps = sv->next;
            free(sv->domain);
            free(sv);
        } else {
            ps = &sv->next;
        }
    }
}
