/* roster_item.c -- roster items: the hash tables that hold them, copies
 * to and from the interface's view, and their stored JSON form. */
#include <stdlib.h>
#include <string.h>

#include "roster.h"

/* ---- hash ---- */

static size_t
rhash_of(const char *s)
{
    size_t h = 2166136261u;

    while (*s != '\0')
        h = (h ^ (unsigned char) *s++) * 16777619u;
    return h;
}


rnode_t *
rhash_get(const rhash_t *h, const char *key)
{
    rnode_t *n;

    if (h->nb == 0)
        return NULL;
    for (n = h->b[rhash_of(key) & (h->nb - 1)]; n != NULL; n = n->next)
        if (strcmp(n->key, key) == 0)
            return n;
    return NULL;
}


static int
rhash_grow(rhash_t *h)
{
    size_t nb = h->nb == 0 ? 16 : h->nb * 2, i;
    rnode_t **b = calloc(nb, sizeof(*b)), *n, *next;

    if (b == NULL)
        return EMBER_ENOMEM;
    for (i = 0; i < h->nb; i++)
        for (n = h->b[i]; n != NULL; n = next) {
            next = n->next;
            n->next = b[rhash_of(n->key) & (nb - 1)];
            b[rhash_of(n->key) & (nb - 1)] = n;
        }
    free(h->b);
    h->b = b;
    h->nb = nb;
    return 0;
}


/* The key must not be there yet. */
int
rhash_put(rhash_t *h, rnode_t *node)
{
    size_t i;

    if (h->n >= h->nb && rhash_grow(h) < 0)
        return EMBER_ENOMEM;
    i = rhash_of(node->key) & (h->nb - 1);
    node->next = h->b[i];
    h->b[i] = node;
    h->n++;
    return 0;
}


rnode_t *
rhash_del(rhash_t *h, const char *key)
{
    rnode_t **pp, *n;

    if (h->nb == 0)
        return NULL;
    for (pp = &h->b[rhash_of(key) & (h->nb - 1)]; (n = *pp) != NULL;
         pp = &n->next)
        if (strcmp(n->key, key) == 0) {
            *pp = n->next;
            h->n--;
            return n;
        }
    return NULL;
}


/* ---- items ---- */

void
ritem_free(ritem_t *it)
{
    size_t i;

    if (it == NULL)
        return;
    for (i = 0; i < it->ngroups; i++)
        free(it->groups[i]);
    free(it->groups);
    free(it->jid);
    free(it->name);
    free(it->pending_stanza);
    free(it);
}


/* A copy of a caller's item; duplicate groups are dropped. */
ritem_t *
ritem_from(const ember_roster_item_t *in)
{
    ember_roster_item_t v;
    ritem_t *it;
    size_t i, j;

    memset(&v, 0, sizeof(v));
    memcpy(&v, in, in->size < sizeof(v) ? in->size : sizeof(v));
    if (v.jid == NULL || (it = calloc(1, sizeof(*it))) == NULL)
        return NULL;
    it->sub = v.subscription & EMBER_SUB_BOTH;
    it->ask = v.ask != 0;
    it->pending_in = v.pending_in != 0;
    it->approved = v.approved != 0;
    it->hidden = v.hidden != 0;
    if ((it->jid = strdup(v.jid)) == NULL ||
        (v.name != NULL && (it->name = strdup(v.name)) == NULL) ||
        (v.pending_stanza != NULL &&
         (it->pending_stanza = strdup(v.pending_stanza)) == NULL) ||
        (v.ngroups > 0 &&
         (it->groups = calloc(v.ngroups, sizeof(char *))) == NULL))
        goto fail;
    for (i = 0; i < v.ngroups; i++) {
        if (v.groups[i] == NULL)
            continue;
        for (j = 0; j < it->ngroups; j++)
            if (strcmp(it->groups[j], v.groups[i]) == 0)
                break;
        if (j < it->ngroups)
            continue;
        if ((it->groups[it->ngroups] = strdup(v.groups[i])) == NULL)
            goto fail;
        it->ngroups++;
    }
    return it;
fail:
    ritem_free(it);
    return NULL;
}


void
ritem_view(const ritem_t *it, ember_roster_item_t *out)
{
    uint32_t size = out->size;
    ember_roster_item_t v;

    memset(&v, 0, sizeof(v));
    v.size = sizeof(v);
    v.jid = it->jid;
    v.name = it->name;
    v.groups = (const char *const *) it->groups;
    v.ngroups = it->ngroups;
    v.subscription = it->sub;
    v.ask = it->ask;
    v.pending_in = it->pending_in;
    v.approved = it->approved;
    v.hidden = it->hidden;
    v.pending_stanza = it->pending_stanza;
    if (size == 0 || size > sizeof(v))
        size = sizeof(v);
    memcpy(out, &v, size);
    out->size = size;
}


ritem_t *
ritem_dup(const ritem_t *it)
{
    ember_roster_item_t v;

    v.size = sizeof(v);
    ritem_view(it, &v);
    return ritem_from(&v);
}


static int
str_differs(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a != b;
    return strcmp(a, b) != 0;
}


int
ritem_differs(const ritem_t *a, const ritem_t *b)
{
    size_t i;

    if (a->hidden != b->hidden || a->sub != b->sub || a->ask != b->ask ||
        a->approved != b->approved || str_differs(a->name, b->name) ||
        a->ngroups != b->ngroups)
        return 1;
    for (i = 0; i < a->ngroups; i++)
        if (strcmp(a->groups[i], b->groups[i]) != 0)
            return 1;
    return 0;
}


int
roster_sub_parse(const char *s)
{
    int i;

    for (i = EMBER_SUB_NONE; s != NULL && i <= EMBER_SUB_BOTH; i++)
        if (strcmp(s, ember_sub_name((ember_sub_t) i)) == 0)
            return i;
    return -1;
}


json_t *
ritem_json(const ritem_t *it)
{
    json_t *o = json_object(), *g;
    size_t i;

    if (o == NULL)
        return NULL;
    json_object_set_new(o, "sub", json_string(ember_sub_name(it->sub)));
    if (it->name != NULL)
        json_object_set_new(o, "name", json_string(it->name));
    if (it->ngroups > 0 && (g = json_array()) != NULL) {
        for (i = 0; i < it->ngroups; i++)
            json_array_append_new(g, json_string(it->groups[i]));
        json_object_set_new(o, "groups", g);
    }
    if (it->ask)
        json_object_set_new(o, "ask", json_true());
    if (it->pending_in)
        json_object_set_new(o, "in", json_true());
    if (it->approved)
        json_object_set_new(o, "approved", json_true());
    if (it->hidden)
        json_object_set_new(o, "hidden", json_true());
    if (it->pending_stanza != NULL)
        json_object_set_new(o, "req", json_string(it->pending_stanza));
    return o;
}


ritem_t *
ritem_parse(const char *jid, json_t *o)
{
    json_t *g = json_object_get(o, "groups"), *e;
    size_t n = json_array_size(g), i;
    const char **groups = NULL;
    ember_roster_item_t v;
    ritem_t *it;
    int sub;

    if (!json_is_object(o) ||
        (n > 0 && (groups = calloc(n, sizeof(*groups))) == NULL))
        return NULL;
    memset(&v, 0, sizeof(v));
    v.size = sizeof(v);
    v.jid = jid;
    v.name = json_string_value(json_object_get(o, "name"));
    v.pending_stanza = json_string_value(json_object_get(o, "req"));
    sub = roster_sub_parse(json_string_value(json_object_get(o, "sub")));
    v.subscription = sub < 0 ? EMBER_SUB_NONE : (ember_sub_t) sub;
    v.ask = json_is_true(json_object_get(o, "ask"));
    v.pending_in = json_is_true(json_object_get(o, "in"));
    v.approved = json_is_true(json_object_get(o, "approved"));
    v.hidden = json_is_true(json_object_get(o, "hidden"));
    json_array_foreach(g, i, e)
        groups[i] = json_string_value(e);
    v.groups = groups;
    v.ngroups = n;
    it = ritem_from(&v);
    free(groups);
    return it;
}
