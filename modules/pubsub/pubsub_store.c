/* pubsub_store.c -- services, nodes and items in memory, written through to
 * two MAP stores: "pubsub_nodes" (user = service JID, key = node name,
 * value = config, affiliations, subscriptions) and "pubsub_items" (user =
 * service JID, key = "<len>:<node><id>", value = the item). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "pubsub.h"

struct ps_wait_s {
    ps_ready_cb cb;
    void *ud;
    ps_wait_t *next;
};

static unsigned
bucket_of(const char *s)
{
    unsigned h = 5381;

    while (*s != '\0')
        h = h * 33 + (unsigned char) *s++;
    return h & 255;
}


int
ps_ctx_init(ps_ctx_t *c, ember_module_t *m, int pep)
{
    c->m = m;
    c->pep = pep;
    c->st_nodes = api->store_open(m, "pubsub_nodes", EMBER_STORE_MAP);
    c->st_items = api->store_open(m, "pubsub_items", EMBER_STORE_MAP);
    return c->st_nodes == NULL || c->st_items == NULL ? EMBER_EIO : 0;
}


void
ps_writes_put(ps_writes_t *w)
{
    if (w == NULL || --w->refs > 0)
        return;
    api->stanza_release(w->hold);
    free(w);
}


struct ps_write_s {
    ps_ctx_t *c;
    ps_writes_t *of;
    char *pep;          /* the PEP service written, for the other nodes */
    struct ps_write_s *prev, *next;
};


static void
write_done(ps_write_t *w)
{
    if (w->prev != NULL)
        w->prev->next = w->next;
    else
        w->c->inflight = w->next;
    if (w->next != NULL)
        w->next->prev = w->prev;
    ps_writes_put(w->of);
    free(w->pep);
    free(w);
}


static void
node_free(ps_node_t *n)
{
    free(n->name);
    json_decref(n->config);
    json_decref(n->aff);
    json_decref(n->subs);
    json_decref(n->items);
    free(n);
}


/* Read again at its next use. */
static void
service_forget_nodes(ps_service_t *svc)
{
    ps_node_t *n;

    while ((n = svc->nodes) != NULL) {
        svc->nodes = n->next;
        node_free(n);
    }
    svc->stale = 0;
    svc->state = PS_UNLOADED;
}


static void
service_free(ps_service_t *svc)
{
    service_forget_nodes(svc);
    json_decref(svc->stored);
    free(svc->jid);
    free(svc->owner);
    free(svc);
}


/* Run and forget the waiters of svc (svc NULL: loading failed). */
static void
wake(ps_service_t *svc, int ok)
{
    ps_wait_t *w;

    while ((w = svc->waiting) != NULL) {
        svc->waiting = w->next;
        w->cb(svc->c, ok ? svc : NULL, w->ud);
        free(w);
    }
}


/*
 * Storage callbacks of an unloaded module never run: a service still
 * loading is simply freed.  Waiters are told the service is gone and
 * free what they hold; requests waiting on a roster are dropped here.
 */
void
ps_ctx_free(ps_ctx_t *c)
{
    const ember_roster_iface_t *ri = api->iface_get(c->m, EMBER_ROSTER_IFACE);
    ps_service_t *s;
    size_t i;

    c->closing = 1;
    for (i = 0; i < 256; i++)
        for (s = c->buckets[i]; s != NULL; s = s->next)
            wake(s, 0);
    if (ri != NULL && EMBER_ROSTER_HAS(ri, cancel))
        ri->cancel(ri, ps_on_roster, NULL);
    while (c->reqs != NULL) {
        ps_fail(c->reqs, EMBER_COND_SERVICE_UNAVAILABLE, NULL, NULL);
        ps_req_free(c->reqs);
    }
    /* Their callbacks will not run. */
    while (c->inflight != NULL)
        write_done(c->inflight);
    for (i = 0; i < 256; i++)
        while ((s = c->buckets[i]) != NULL) {
            c->buckets[i] = s->next;
            service_free(s);
        }
}


static ps_node_t *
node_new(const char *name)
{
    ps_node_t *n = calloc(1, sizeof(*n));

    if (n == NULL)
        return NULL;
    n->name = strdup(name);
    n->config = json_object();
    n->aff = json_object();
    n->subs = json_object();
    n->items = json_array();
    if (n->name == NULL || n->config == NULL || n->aff == NULL ||
        n->subs == NULL || n->items == NULL) {
        node_free(n);
        return NULL;
    }
    return n;
}


static void
service_loaded(ps_service_t *svc, int ok)
{
    svc->state = ok ? PS_READY : PS_UNLOADED;
    json_decref(svc->stored);
    svc->stored = NULL;
    /* A waiter may drop the last hold: keep svc until all have run. */
    svc->busy++;
    wake(svc, ok);
    ps_service_drop(svc);
}


static ps_service_t *
service_lookup(ps_ctx_t *c, const char *jid)
{
    ps_service_t *s;

    for (s = c->buckets[bucket_of(jid)]; s != NULL; s = s->next)
        if (strcmp(s->jid, jid) == 0)
            return s;
    return NULL;
}


static int
item_cmp(const void *a, const void *b)
{
    json_int_t x = json_integer_value(json_object_get(*(json_t **) a, "seq"));
    json_int_t y = json_integer_value(json_object_get(*(json_t **) b, "seq"));

    return x < y ? -1 : x > y;
}


static int
load_failed(ps_service_t *svc, int status, const char *what)
{
    if (status >= 0 || status == EMBER_ENOENT)
        return 0;
    api->log(svc->c->m, EMBER_LOG_WARN, "%s of %s not loaded: %s", what,
             svc->jid, api->strerror(status));
    service_loaded(svc, 0);
    return 1;
}


/* ud is the service: it stays in memory while loading (never dropped),
 * and the callback never runs once the module has unloaded. */
static void
items_loaded(int status, json_t *all, void *ud)
{
    ps_service_t *svc = ud;
    const char *key, *name;
    json_t *v, **tmp;
    ps_node_t *n;
    size_t cnt, i;

    if (load_failed(svc, status, "items"))
        return;
    json_object_foreach(svc->stored, name, v) {
        if ((n = node_new(name)) == NULL)
            continue;
        if (json_is_object(json_object_get(v, "config")))
            json_object_update(n->config, json_object_get(v, "config"));
        ps_config_defaults(svc->c, n->config);
        if (json_is_object(json_object_get(v, "aff")))
            json_object_update(n->aff, json_object_get(v, "aff"));
        if (json_is_object(json_object_get(v, "subs")))
            json_object_update(n->subs, json_object_get(v, "subs"));
        n->next = svc->nodes;
        svc->nodes = n;
    }
    if (status == 0)
        json_object_foreach(all, key, v) {
            json_int_t seq = json_integer_value(json_object_get(v, "seq"));

            name = json_string_value(json_object_get(v, "node"));
            if (name == NULL || (n = ps_node_find(svc, name)) == NULL)
                continue;
            json_array_append(n->items, v);
            if (seq >= svc->seq)
                svc->seq = seq + 1;
        }
    for (n = svc->nodes; n != NULL; n = n->next) {
        cnt = json_array_size(n->items);
        if (cnt == 0 || (tmp = malloc(cnt * sizeof(*tmp))) == NULL)
            continue;
        for (i = 0; i < cnt; i++)
            tmp[i] = json_incref(json_array_get(n->items, i));
        qsort(tmp, cnt, sizeof(*tmp), item_cmp);
        json_array_clear(n->items);
        for (i = 0; i < cnt; i++)
            json_array_append_new(n->items, tmp[i]);
        free(tmp);
    }
    service_loaded(svc, 1);
}


static void
nodes_loaded(int status, json_t *all, void *ud)
{
    ps_service_t *svc = ud;

    if (load_failed(svc, status, "nodes"))
        return;
    svc->stored = status == 0 ? json_incref(all) : json_object();
    if (api->map_all(svc->c->st_items, svc->jid, items_loaded, svc) < 0)
        service_loaded(svc, 0);
}


int
ps_service_ready(ps_ctx_t *c, const char *jid, ps_ready_cb cb, void *ud)
{
    ps_service_t *svc = service_lookup(c, jid);
    ps_wait_t *w, **wp;
    const char *at;

    if (svc == NULL) {
        if ((svc = calloc(1, sizeof(*svc))) == NULL ||
            (svc->jid = strdup(jid)) == NULL) {
            free(svc);
            return EMBER_ENOMEM;
        }
        svc->c = c;
        svc->seq = 1;
        if (c->pep && (at = strchr(jid, '@')) != NULL)
            svc->owner = strndup(jid, (size_t) (at - jid));
        svc->next = c->buckets[bucket_of(jid)];
        c->buckets[bucket_of(jid)] = svc;
    }
    if (svc->state == PS_READY && svc->stale && svc->busy == 0)
        service_forget_nodes(svc);
    if (svc->state == PS_READY) {
        cb(c, svc, ud);
        return 0;
    }
    if ((w = calloc(1, sizeof(*w))) == NULL)
        return EMBER_ENOMEM;
    w->cb = cb;
    w->ud = ud;
    for (wp = &svc->waiting; *wp != NULL; wp = &(*wp)->next)
        ;
    *wp = w;
    if (svc->state == PS_LOADING)
        return 0;
    svc->state = PS_LOADING;
    if (api->map_all(c->st_nodes, jid, nodes_loaded, svc) < 0) {
        svc->waiting = w->next;
        free(w);
        svc->state = PS_UNLOADED;
        return EMBER_EIO;
    }
    return 0;
}


void
ps_service_reload(ps_ctx_t *c, const char *jid, ps_ready_cb cb)
{
    ps_service_t *svc = service_lookup(c, jid);

    if (svc != NULL) {
        /* In use or being read: what it holds is about to be fresh, or
         * is this node's own work. */
        if (svc->state != PS_READY || svc->busy > 0)
            return;
        service_forget_nodes(svc);
    }
    ps_service_ready(c, jid, cb, NULL);
}


void
ps_service_invalidate(ps_ctx_t *c, const char *jid)
{
    ps_service_t *svc = jid != NULL ? service_lookup(c, jid) : NULL;

    if (svc == NULL)
        return;
    /* Loading may have read it before the change; in use, the pointers
     * must stay: ps_service_ready reads it again once it is idle. */
    if (svc->state == PS_READY && svc->busy == 0)
        service_forget_nodes(svc);
    else
        svc->stale = 1;
}


void
ps_service_hold(ps_service_t *svc)
{
    svc->busy++;
}


void
ps_service_drop(ps_service_t *svc)
{
    ps_ctx_t *c = svc->c;
    ps_service_t **pp;

    if (--svc->busy > 0 || !c->pep || svc->nodes != NULL ||
        svc->waiting != NULL || svc->state != PS_READY)
        return;
    for (pp = &c->buckets[bucket_of(svc->jid)]; *pp != svc; pp = &(*pp)->next)
        ;
    *pp = svc->next;
    service_free(svc);
}


ps_node_t *
ps_node_find(ps_service_t *svc, const char *name)
{
    ps_node_t *n;

    for (n = svc->nodes; name != NULL && n != NULL; n = n->next)
        if (strcmp(n->name, name) == 0)
            return n;
    return NULL;
}


static void
saved(int status, json_t *result, void *ud)
{
    ps_write_t *w = ud;

    if (status < 0 && status != EMBER_ENOENT)
        api->log(w->c->m, EMBER_LOG_WARN, "pubsub write failed: %s",
                 api->strerror(status));
    else if (w->pep != NULL)
        api->cluster_notify(w->c->m, w->pep);
    write_done(w);
}


/* Write through (doc NULL deletes); a failure to queue is only logged. */
static void
store_set(ps_service_t *svc, ember_store_t *st, const char *key, json_t *doc)
{
    ps_write_t *w = malloc(sizeof(*w));

    if (w == NULL) {
        api->log(svc->c->m, EMBER_LOG_WARN, "pubsub write failed: %s",
                 api->strerror(EMBER_ENOMEM));
        return;
    }
    w->c = svc->c;
    /* A PEP service is kept on every node that routes its account's
     * stanzas; pubsub.HOST lives on one. */
    w->pep = svc->c->pep ? strdup(svc->jid) : NULL;
    if ((w->of = svc->c->writes) != NULL)
        w->of->refs++;
    if (api->map_set(st, svc->jid, key, doc, saved, w) < 0) {
        ps_writes_put(w->of);
        free(w->pep);
        free(w);
        api->log(svc->c->m, EMBER_LOG_WARN, "%s of %s not written", key,
                 svc->jid);
        return;
    }
    w->prev = NULL;
    if ((w->next = svc->c->inflight) != NULL)
        w->next->prev = w;
    svc->c->inflight = w;
}


void
ps_node_save(ps_service_t *svc, ps_node_t *n)
{
    json_t *doc = json_pack("{sOsOsO}", "config", n->config, "aff", n->aff,
                            "subs", n->subs);

    if (doc != NULL)
        store_set(svc, svc->c->st_nodes, n->name, doc);
    json_decref(doc);
}


ps_node_t *
ps_node_add(ps_service_t *svc, const char *name, const char *owner,
            json_t *config)
{
    ps_node_t *n = node_new(name);

    if (n == NULL)
        return NULL;
    if (config != NULL)
        json_object_update(n->config, config);
    ps_config_defaults(svc->c, n->config);
    if (owner != NULL)
        json_object_set_new(n->aff, owner, json_string("owner"));
    n->next = svc->nodes;
    svc->nodes = n;
    ps_node_save(svc, n);
    return n;
}


static void
item_store(ps_service_t *svc, ps_node_t *n, const char *id, json_t *item)
{
    char key[3200];

    snprintf(key, sizeof(key), "%zu:%s%s", strlen(n->name), n->name, id);
    store_set(svc, svc->c->st_items, key, item);
}


static void
item_unstore(ps_service_t *svc, ps_node_t *n, json_t *item)
{
    const char *id = json_string_value(json_object_get(item, "id"));

    if (id != NULL)
        item_store(svc, n, id, NULL);
}


void
ps_items_purge(ps_service_t *svc, ps_node_t *n)
{
    size_t i;

    for (i = 0; i < json_array_size(n->items); i++)
        item_unstore(svc, n, json_array_get(n->items, i));
    json_array_clear(n->items);
}


void
ps_node_remove(ps_service_t *svc, ps_node_t *n)
{
    ps_node_t **pp;

    ps_items_purge(svc, n);
    store_set(svc, svc->c->st_nodes, n->name, NULL);
    for (pp = &svc->nodes; *pp != n; pp = &(*pp)->next)
        ;
    *pp = n->next;
    node_free(n);
}


json_t *
ps_item_find(ps_node_t *n, const char *id, size_t *index)
{
    size_t i;
    json_t *it;

    json_array_foreach(n->items, i, it) {
        const char *iid = json_string_value(json_object_get(it, "id"));

        if (iid != NULL && strcmp(iid, id) == 0) {
            if (index != NULL)
                *index = i;
            return it;
        }
    }
    return NULL;
}


json_t *
ps_item_last(ps_node_t *n)
{
    size_t k = json_array_size(n->items);

    return k > 0 ? json_array_get(n->items, k - 1) : NULL;
}


void
ps_items_trim(ps_service_t *svc, ps_node_t *n)
{
    long max = ps_config_max_items(svc->c, n);
    const char *exp = ps_config_str(n, "pubsub#item_expire");
    long secs = exp != NULL ? strtol(exp, NULL, 10) : 0;
    int64_t now = (int64_t) time(NULL);

    if (!ps_config_bool(n, "pubsub#persist_items") && (max == 0 || max > 1))
        max = 1;
    while (json_array_size(n->items) > 0) {
        json_t *it = json_array_get(n->items, 0);
        json_int_t t = json_integer_value(json_object_get(it, "time"));

        if (!((max > 0 && (long) json_array_size(n->items) > max) ||
              (secs > 0 && t + secs <= now)))
            break;
        item_unstore(svc, n, it);
        json_array_remove(n->items, 0);
    }
}


json_t *
ps_item_put(ps_service_t *svc, ps_node_t *n, const char *id,
            const char *xml, const char *publisher)
{
    json_t *it;
    size_t idx;

    if (ps_item_find(n, id, &idx) != NULL)
        json_array_remove(n->items, idx);
    it = json_pack("{sssssssIsIss}", "node", n->name, "id", id, "xml", xml,
                   "seq", (json_int_t) svc->seq++,
                   "time", (json_int_t) time(NULL),
                   "publisher", publisher != NULL ? publisher : "");
    if (it == NULL)
        return NULL;
    json_array_append_new(n->items, it);
    item_store(svc, n, id, it);
    ps_items_trim(svc, n);
    return it;
}


int
ps_item_delete(ps_service_t *svc, ps_node_t *n, const char *id)
{
    size_t idx;
    json_t *it = ps_item_find(n, id, &idx);

    if (it == NULL)
        return EMBER_ENOENT;
    item_unstore(svc, n, it);
    json_array_remove(n->items, idx);
    return 0;
}
