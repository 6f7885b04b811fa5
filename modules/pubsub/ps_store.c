/* ps_store.c -- services, nodes and items in memory, written through to
 * two MAP stores: "pubsub_nodes" (user = service JID, key = node name,
 * value = config, affiliations, subscriptions) and "pubsub_items" (user =
 * service JID, key = "<len>:<node><id>", value = the item). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "ps.h"

struct ps_wait_s {
    ps_ready_cb cb;
    void *ud;
    ps_wait_t *next;
};

typedef struct {
    ps_ctx_t *c;
    char *jid;
    json_t *nodes;
} ps_load_t;


char *
ps_strdup(const char *s)
{
    return s != NULL ? strdup(s) : NULL;
}


int
ps_true(const char *v)
{
    return v != NULL && (strcmp(v, "1") == 0 || strcmp(v, "true") == 0);
}


char *
ps_bare(ps_ctx_t *c, const char *jid)
{
    ember_jid_t *j = jid != NULL ? c->api->jid_parse(jid) : NULL;
    char *b;

    if (j == NULL)
        return NULL;
    b = strdup(c->api->jid_bare(j));
    c->api->jid_free(j);
    return b;
}


static unsigned
bucket_of(const char *s)
{
    unsigned h = 5381;

    while (*s != '\0')
        h = h * 33 + (unsigned char) *s++;
    return h & 255;
}


int
ps_ctx_init(ps_ctx_t *c, ember_module_t *m, const ember_api_t *api, int pep)
{
    c->api = api;
    c->m = m;
    c->pep = pep;
    c->st_nodes = api->store_open(m, "pubsub_nodes", EMBER_STORE_MAP);
    c->st_items = api->store_open(m, "pubsub_items", EMBER_STORE_MAP);
    if (c->st_nodes == NULL || c->st_items == NULL)
        return EMBER_EIO;
    return 0;
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


static void
service_free(ps_service_t *svc)
{
    ps_node_t *n, *nn;
    ps_wait_t *w, *wn;

    for (n = svc->nodes; n != NULL; n = nn) {
        nn = n->next;
        node_free(n);
    }
    for (w = svc->waiting; w != NULL; w = wn) {
        wn = w->next;
        free(w);
    }
    free(svc->jid);
    free(svc->owner);
    free(svc);
}


void
ps_ctx_free(ps_ctx_t *c)
{
    ps_service_t *s, *sn;
    size_t i;

    for (i = 0; i < 256; i++)
        for (s = c->buckets[i]; s != NULL; s = sn) {
            sn = s->next;
            service_free(s);
        }
    memset(c->buckets, 0, sizeof(c->buckets));
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
service_loaded(ps_ctx_t *c, ps_service_t *svc, int ok)
{
    ps_wait_t *w = svc->waiting, *wn;

    svc->waiting = NULL;
    svc->state = ok ? PS_READY : PS_UNLOADED;
    /* A waiter may drop the last hold: keep svc until all have run. */
    svc->busy++;
    for (; w != NULL; w = wn) {
        wn = w->next;
        w->cb(c, ok ? svc : NULL, w->ud);
        free(w);
    }
    ps_service_drop(c, svc);
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


static void
items_loaded(int status, json_t *all, void *ud)
{
    ps_load_t *ld = ud;
    ps_ctx_t *c = ld->c;
    ps_service_t *svc = service_lookup(c, ld->jid);
    const char *key, *name;
    json_t *v;
    ps_node_t *n;

    if (svc == NULL)
        goto done;
    if (status < 0 && status != EMBER_ENOENT) {
        c->api->log(c->m, EMBER_LOG_WARN, "items of %s not loaded: %s",
                    ld->jid, c->api->strerror(status));
        service_loaded(c, svc, 0);
        goto done;
    }
    json_object_foreach(ld->nodes, name, v) {
        if ((n = node_new(name)) == NULL)
            continue;
        if (json_is_object(json_object_get(v, "config")))
            json_object_update(n->config, json_object_get(v, "config"));
        ps_config_defaults(c, n->config);
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
        size_t cnt = json_array_size(n->items), i;
        json_t **tmp = cnt ? malloc(cnt * sizeof(*tmp)) : NULL;

        if (tmp == NULL)
            continue;
        for (i = 0; i < cnt; i++)
            tmp[i] = json_incref(json_array_get(n->items, i));
        qsort(tmp, cnt, sizeof(*tmp), item_cmp);
        json_array_clear(n->items);
        for (i = 0; i < cnt; i++)
            json_array_append_new(n->items, tmp[i]);
        free(tmp);
    }
    service_loaded(c, svc, 1);
done:
    json_decref(ld->nodes);
    free(ld->jid);
    free(ld);
}


static void
nodes_loaded(int status, json_t *all, void *ud)
{
    ps_load_t *ld = ud;
    ps_ctx_t *c = ld->c;
    ps_service_t *svc = service_lookup(c, ld->jid);

    if (svc == NULL)
        goto fail;
    if (status < 0 && status != EMBER_ENOENT) {
        c->api->log(c->m, EMBER_LOG_WARN, "nodes of %s not loaded: %s",
                    ld->jid, c->api->strerror(status));
        service_loaded(c, svc, 0);
        goto fail;
    }
    ld->nodes = status == 0 ? json_incref(all) : json_object();
    if (c->api->map_all(c->st_items, ld->jid, items_loaded, ld) == 0)
        return;
    service_loaded(c, svc, 0);
    json_decref(ld->nodes);
fail:
    free(ld->jid);
    free(ld);
}


int
ps_service_ready(ps_ctx_t *c, const char *jid, ps_ready_cb cb, void *ud)
{
    ps_service_t *svc = service_lookup(c, jid);
    ps_wait_t *w, **wp;
    ps_load_t *ld;
    const char *at;

    if (svc == NULL) {
        if ((svc = calloc(1, sizeof(*svc))) == NULL ||
            (svc->jid = strdup(jid)) == NULL) {
            free(svc);
            return EMBER_ENOMEM;
        }
        svc->seq = 1;
        if (c->pep && (at = strchr(jid, '@')) != NULL)
            svc->owner = strndup(jid, (size_t) (at - jid));
        svc->next = c->buckets[bucket_of(jid)];
        c->buckets[bucket_of(jid)] = svc;
    }
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
    if ((ld = calloc(1, sizeof(*ld))) == NULL || (ld->jid = strdup(jid)) ==
        NULL || c->api->map_all(c->st_nodes, jid, nodes_loaded, ld) < 0) {
        if (ld != NULL)
            free(ld->jid);
        free(ld);
        svc->waiting = w->next;
        free(w);
        svc->state = PS_UNLOADED;
        return EMBER_EIO;
    }
    ld->c = c;
    return 0;
}


void
ps_service_hold(ps_service_t *svc)
{
    svc->busy++;
}


void
ps_service_drop(ps_ctx_t *c, ps_service_t *svc)
{
    ps_service_t **pp;

    if (--svc->busy > 0 || !c->pep || svc->nodes != NULL ||
        svc->waiting != NULL || svc->state != PS_READY)
        return;
    for (pp = &c->buckets[bucket_of(svc->jid)]; *pp != NULL;
         pp = &(*pp)->next)
        if (*pp == svc) {
            *pp = svc->next;
            service_free(svc);
            return;
        }
}


ps_node_t *
ps_node_find(ps_service_t *svc, const char *name)
{
    ps_node_t *n;

    if (name == NULL)
        return NULL;
    for (n = svc->nodes; n != NULL; n = n->next)
        if (strcmp(n->name, name) == 0)
            return n;
    return NULL;
}


size_t
ps_node_count(ps_service_t *svc)
{
    ps_node_t *n;
    size_t k = 0;

    for (n = svc->nodes; n != NULL; n = n->next)
        k++;
    return k;
}


static void
saved(int status, json_t *result, void *ud)
{
    ps_ctx_t *c = ud;

    if (status < 0 && status != EMBER_ENOENT)
        c->api->log(c->m, EMBER_LOG_WARN, "pubsub write failed: %s",
                    c->api->strerror(status));
}


void
ps_node_save(ps_ctx_t *c, ps_service_t *svc, ps_node_t *n)
{
    json_t *doc = json_pack("{sOsOsO}", "config", n->config, "aff", n->aff,
                            "subs", n->subs);

    if (doc == NULL ||
        c->api->map_set(c->st_nodes, svc->jid, n->name, doc, saved, c) < 0)
        c->api->log(c->m, EMBER_LOG_WARN, "node %s of %s not saved",
                    n->name, svc->jid);
    json_decref(doc);
}


ps_node_t *
ps_node_add(ps_ctx_t *c, ps_service_t *svc, const char *name,
            const char *owner)
{
    ps_node_t *n = node_new(name);

    if (n == NULL)
        return NULL;
    ps_config_defaults(c, n->config);
    if (owner != NULL)
        json_object_set_new(n->aff, owner, json_string("owner"));
    n->next = svc->nodes;
    svc->nodes = n;
    ps_node_save(c, svc, n);
    return n;
}


static void
item_key(char *buf, size_t len, const char *node, const char *id)
{
    snprintf(buf, len, "%zu:%s%s", strlen(node), node, id);
}


static void
item_unstore(ps_ctx_t *c, ps_service_t *svc, ps_node_t *n, json_t *item)
{
    const char *id = json_string_value(json_object_get(item, "id"));
    char key[3200];

    if (id == NULL)
        return;
    item_key(key, sizeof(key), n->name, id);
    if (c->api->map_set(c->st_items, svc->jid, key, NULL, saved, c) < 0)
        c->api->log(c->m, EMBER_LOG_WARN, "item %s not deleted", id);
}


void
ps_items_purge(ps_ctx_t *c, ps_service_t *svc, ps_node_t *n)
{
    size_t i;

    for (i = 0; i < json_array_size(n->items); i++)
        item_unstore(c, svc, n, json_array_get(n->items, i));
    json_array_clear(n->items);
}


void
ps_node_remove(ps_ctx_t *c, ps_service_t *svc, ps_node_t *n)
{
    ps_node_t **pp;

    ps_items_purge(c, svc, n);
    if (c->api->map_set(c->st_nodes, svc->jid, n->name, NULL, saved, c) < 0)
        c->api->log(c->m, EMBER_LOG_WARN, "node %s not deleted", n->name);
    for (pp = &svc->nodes; *pp != NULL; pp = &(*pp)->next)
        if (*pp == n) {
            *pp = n->next;
            break;
        }
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


void
ps_items_trim(ps_ctx_t *c, ps_service_t *svc, ps_node_t *n)
{
    long max = ps_config_max_items(c, n);
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
        item_unstore(c, svc, n, it);
        json_array_remove(n->items, 0);
    }
}


json_t *
ps_item_put(ps_ctx_t *c, ps_service_t *svc, ps_node_t *n, const char *id,
            const char *xml, const char *publisher)
{
    json_t *it;
    size_t idx;
    char key[3200];

    if ((it = ps_item_find(n, id, &idx)) != NULL)
        json_array_remove(n->items, idx);
    it = json_pack("{sssssssIsIss}", "node", n->name, "id", id, "xml", xml,
                   "seq", (json_int_t) svc->seq++,
                   "time", (json_int_t) time(NULL),
                   "publisher", publisher != NULL ? publisher : "");
    if (it == NULL)
        return NULL;
    json_array_append_new(n->items, it);
    item_key(key, sizeof(key), n->name, id);
    if (c->api->map_set(c->st_items, svc->jid, key, it, saved, c) < 0)
        c->api->log(c->m, EMBER_LOG_WARN, "item %s not stored", id);
    ps_items_trim(c, svc, n);
    return it;
}


int
ps_item_delete(ps_ctx_t *c, ps_service_t *svc, ps_node_t *n, const char *id)
{
    size_t idx;
    json_t *it = ps_item_find(n, id, &idx);

    if (it == NULL)
        return EMBER_ENOENT;
    item_unstore(c, svc, n, it);
    json_array_remove(n->items, idx);
    return 0;
}
