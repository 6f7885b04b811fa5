/* caps_client.c -- XEP-0115 on the clients' side: read each session's
 * caps, resolve new verification strings once (store, then disco#info
 * checked by section 5.4), and cache them. */
#include <stdlib.h>
#include <string.h>
#include "caps.h"

/* ---- sessions ---- */

ember_session_t *
caps_session_by_jid(ember_module_t *m, const char *full)
{
    ember_session_t *s = full != NULL ? api->session_by_jid(full) : NULL;

    if (s == NULL || strcmp(api->jid_domain(api->session_jid(s)),
                            api->module_host(m)) != 0)
        return NULL;
    return s;
}


void
caps_sess_free(void *p)
{
    caps_sess_t *cs = p;

    if (cs == NULL)
        return;
    free(cs->key);
    free(cs->node);
    free(cs->hash);
    free(cs->ver);
    json_decref(cs->entry);
    free(cs);
}


caps_sess_t *
caps_sess_get(ember_module_t *m, ember_session_t *s, int create)
{
    void **slot = api->session_slot(m, s);

    if (slot == NULL)
        return NULL;
    if (*slot == NULL && create)
        *slot = calloc(1, sizeof(caps_sess_t));
    return *slot;
}


/* The session's features are now `entry`: keep it and tell everyone. */
static void
sess_assign(ember_module_t *m, ember_session_t *s, caps_sess_t *cs,
            json_t *entry)
{
    ember_caps_event_t ce;

    json_incref(entry);
    json_decref(cs->entry);
    cs->entry = entry;
    memset(&ce, 0, sizeof(ce));
    ce.size = sizeof(ce);
    ce.session = s;
    ce.jid = api->jid_full(api->session_jid(s));
    ce.node = cs->node;
    ce.hash = cs->hash;
    ce.ver = cs->ver;
    api->fire(m, EMBER_CAPS_EV_UPDATED, NULL, &ce);
}


/* ---- the cache ---- */

/* The in-memory form adds a set of the features for quick lookups. */
static json_t *
entry_prepare(json_t *stored)
{
    json_t *e = json_deep_copy(stored), *set = json_object(), *f;
    size_t i;

    if (e == NULL || set == NULL ||
        !json_is_array(json_object_get(e, "features"))) {
        json_decref(e);
        json_decref(set);
        return NULL;
    }
    json_array_foreach(json_object_get(e, "features"), i, f)
        if (json_is_string(f))
            json_object_set(set, json_string_value(f), json_true());
    json_object_set_new(e, "set", set);
    return e;
}


/* Drop entries no session uses when the cache is over its size. */
static void
cache_trim(caps_state_t *cst)
{
    caps_conf_t *conf = api->module_conf(cst->m);
    const char *k;
    json_t *v;
    void *tmp;

    if (json_object_size(cst->cache) <= (size_t) conf->max_cache)
        return;
    json_object_foreach_safe(cst->cache, tmp, k, v)
        if (v->refcount == 1)
            json_object_del(cst->cache, k);
}


/* ---- resolving a verification string ---- */

static void pend_next(caps_pend_t *p);


void
caps_pend_free(caps_pend_t *p)
{
    caps_state_t *cst = api->module_data(p->m);

    if (p->prev != NULL)
        p->prev->next = p->next;
    else
        cst->pending = p->next;
    if (p->next != NULL)
        p->next->prev = p->prev;
    free(p->key);
    free(p->node);
    free(p->hash);
    free(p->ver);
    free(p->asking);
    json_decref(p->waiters);
    json_decref(p->tried);
    free(p);
}


/*
 * Give `entry` to every session still announcing this string, those whose
 * own answer did not match included: the string means what it was
 * verified to mean, for every session that announces it.
 */
static void
pend_resolved(caps_pend_t *p, json_t *entry)
{
    json_t *j;
    size_t i;

    if (p->asking != NULL)
        json_array_append_new(p->waiters, json_string(p->asking));
    json_array_extend(p->waiters, p->tried);
    json_array_foreach(p->waiters, i, j) {
        ember_session_t *s = caps_session_by_jid(p->m, json_string_value(j));
        caps_sess_t *cs = s != NULL ? caps_sess_get(p->m, s, 0) : NULL;

        if (cs != NULL && cs->key != NULL && strcmp(cs->key, p->key) == 0)
            sess_assign(p->m, s, cs, entry);
    }
    caps_pend_free(p);
}


static void
stored_done(int status, json_t *result, void *ud)
{
}


static void
answered(ember_module_t *m, ember_stanza_t *reply, void *ud)
{
    caps_pend_t *p = ud;
    caps_state_t *cst = api->module_data(m);
    const char *type = reply != NULL ? api->stanza_attr(reply, "type") : NULL;
    ember_stanza_t *q = reply != NULL
        ? api->stanza_child(reply, "query", NS_DISCO_INFO) : NULL;
    char *ver = NULL;
    json_t *entry = NULL, *mem;
    ember_session_t *s;
    caps_sess_t *cs;

    if (type == NULL || strcmp(type, "result") != 0 || q == NULL ||
        caps_read_info(q, p->hash, &ver, &entry) < 0) {
        api->log(m, EMBER_LOG_DEBUG, "%s: no usable disco#info for caps",
                 p->asking);
        pend_next(p);
        return;
    }
    if (p->key == NULL) {
        /* A hash we cannot check: the answer holds for that session only
         * (section 5.4), never for the string. */
        s = caps_session_by_jid(m, p->asking);
        cs = s != NULL ? caps_sess_get(m, s, 0) : NULL;
        if (cs != NULL && cs->ver != NULL && strcmp(cs->ver, p->ver) == 0 &&
            (mem = entry_prepare(entry)) != NULL) {
            sess_assign(m, s, cs, mem);
            json_decref(mem);
        }
        json_decref(entry);
        free(ver);
        caps_pend_free(p);
        return;
    }
    if (ver == NULL || strcmp(ver, p->ver) != 0) {
        api->log(m, EMBER_LOG_INFO, "%s: disco#info does not match its caps "
                 "hash %s (%s): not cached", p->asking, p->ver,
                 ver != NULL ? ver : "?");
        json_decref(entry);
        free(ver);
        pend_next(p);
        return;
    }
    free(ver);
    if (api->map_set(cst->store, NULL, p->key, entry, stored_done, NULL) < 0)
        api->log(m, EMBER_LOG_WARN, "could not store caps %s", p->key);
    mem = entry_prepare(entry);
    json_decref(entry);
    if (mem == NULL) {
        caps_pend_free(p);
        return;
    }
    json_object_set(cst->cache, p->key, mem);
    cache_trim(cst);
    pend_resolved(p, mem);
    json_decref(mem);
}


/* Ask the next session that announced the string; give up when none. */
static void
pend_next(caps_pend_t *p)
{
    caps_conf_t *conf = api->module_conf(p->m);
    ember_stanza_t *iq, *q;
    ember_session_t *s;
    caps_sess_t *cs;
    size_t len;
    char *node;

    while (json_array_size(p->waiters) > 0) {
        if (p->asking != NULL)
            json_array_append_new(p->tried, json_string(p->asking));
        free(p->asking);
        p->asking = strdup(json_string_value(json_array_get(p->waiters, 0)));
        json_array_remove(p->waiters, 0);
        if (p->asking == NULL)
            break;
        s = caps_session_by_jid(p->m, p->asking);
        cs = s != NULL ? caps_sess_get(p->m, s, 0) : NULL;
        if (cs == NULL || cs->ver == NULL || strcmp(cs->ver, p->ver) != 0 ||
            cs->queries >= conf->max_queries)
            continue;
        cs->queries++;
        len = strlen(p->node) + strlen(p->ver) + 2;
        if ((iq = api->stanza_new("iq", NULL)) == NULL ||
            (node = malloc(len)) == NULL) {
            api->stanza_free(iq);
            break;
        }
        snprintf(node, len, "%s#%s", p->node, p->ver);
        api->stanza_set_attr(iq, "type", "get");
        api->stanza_set_attr(iq, "from", api->module_host(p->m));
        api->stanza_set_attr(iq, "to", p->asking);
        q = api->stanza_add_child(iq, "query", NS_DISCO_INFO);
        api->stanza_set_attr(q, "node", node);
        free(node);
        if (api->iq_send(p->m, iq, (unsigned) conf->query_timeout * 1000,
                         answered, p) == 0)
            return;
    }
    caps_pend_free(p);
}


static void
from_store(int status, json_t *value, void *ud)
{
    caps_pend_t *p = ud;
    caps_state_t *cst = api->module_data(p->m);
    json_t *mem;

    if (status == 0 && (mem = entry_prepare(value)) != NULL) {
        json_object_set(cst->cache, p->key, mem);
        cache_trim(cst);
        pend_resolved(p, mem);
        json_decref(mem);
        return;
    }
    pend_next(p);
}


static caps_pend_t *
pend_find(caps_state_t *cst, const char *key)
{
    caps_pend_t *p;

    for (p = cst->pending; p != NULL; p = p->next)
        if (p->key != NULL && strcmp(p->key, key) == 0)
            return p;
    return NULL;
}


static caps_pend_t *
pend_new(ember_module_t *m, caps_sess_t *cs, const char *full)
{
    caps_state_t *cst = api->module_data(m);
    caps_pend_t *p = calloc(1, sizeof(*p));

    if (p == NULL)
        return NULL;
    p->m = m;
    p->next = cst->pending;
    if (cst->pending != NULL)
        cst->pending->prev = p;
    cst->pending = p;
    p->key = cs->key != NULL ? strdup(cs->key) : NULL;
    p->node = strdup(cs->node);
    p->hash = strdup(cs->hash);
    p->ver = strdup(cs->ver);
    p->waiters = json_array();
    p->tried = json_array();
    if ((cs->key != NULL && p->key == NULL) || p->node == NULL ||
        p->hash == NULL || p->ver == NULL || p->waiters == NULL ||
        p->tried == NULL ||
        json_array_append_new(p->waiters, json_string(full)) < 0) {
        caps_pend_free(p);
        return NULL;
    }
    return p;
}


/* ---- client presence ---- */

static int
set_str(char **dst, const char *src)
{
    char *c = strdup(src);

    if (c == NULL)
        return EMBER_ENOMEM;
    free(*dst);
    *dst = c;
    return 0;
}


int
caps_on_presence(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    caps_state_t *cst = api->module_data(m);
    ember_stanza_t *c = api->stanza_child(ev->stanza, "c", NS_CAPS);
    const char *hash = api->stanza_attr(c, "hash");
    const char *node = api->stanza_attr(c, "node");
    const char *ver = api->stanza_attr(c, "ver");
    const ember_jid_t *j = api->session_jid(ev->origin);
    caps_sess_t *cs;
    caps_pend_t *p;
    json_t *entry;
    size_t len;
    char *key;

    /* Legacy caps (no 'hash') are not verifiable: ignored. */
    if (c == NULL || hash == NULL || node == NULL || ver == NULL ||
        ver[0] == '\0' || j == NULL ||
        api->stanza_attr(ev->stanza, "type") != NULL ||
        (cs = caps_sess_get(m, ev->origin, 1)) == NULL)
        return EMBER_HOOK_PASS;
    if (cs->hash != NULL && strcmp(cs->hash, hash) == 0 &&
        strcmp(cs->ver, ver) == 0)
        return EMBER_HOOK_PASS;
    len = strlen(hash) + strlen(ver) + 2;
    if ((key = malloc(len)) == NULL)
        return EMBER_ENOMEM;
    snprintf(key, len, "%s %s", hash, ver);
    if (set_str(&cs->node, node) < 0 || set_str(&cs->hash, hash) < 0 ||
        set_str(&cs->ver, ver) < 0) {
        free(key);
        return EMBER_ENOMEM;
    }
    free(cs->key);
    cs->key = caps_hash_supported(hash) ? key : NULL;
    if (cs->key == NULL)
        free(key);
    json_decref(cs->entry);
    cs->entry = NULL;
    if (cs->key == NULL) {
        if ((p = pend_new(m, cs, api->jid_full(j))) != NULL)
            pend_next(p);
        return EMBER_HOOK_PASS;
    }
    if ((entry = json_object_get(cst->cache, cs->key)) != NULL) {
        sess_assign(m, ev->origin, cs, entry);
        return EMBER_HOOK_PASS;
    }
    if ((p = pend_find(cst, cs->key)) != NULL) {
        json_array_append_new(p->waiters, json_string(api->jid_full(j)));
        return EMBER_HOOK_PASS;
    }
    if ((p = pend_new(m, cs, api->jid_full(j))) == NULL)
        return EMBER_ENOMEM;
    if (api->map_get(cst->store, NULL, p->key, from_store, p) < 0)
        pend_next(p);
    return EMBER_HOOK_PASS;
}
