/* core/hmap.c -- string-keyed open addressing with linear probing. */
#include <stdlib.h>
#include <string.h>

#include <ember/errno.h>
#include "base/hmap.h"

struct ember_hmap_slot_s {
    const char *key;    /* NULL: empty; TOMB: deleted */
    void *value;
    uint64_t hash;
};

static const char tomb_key[1];
#define TOMB tomb_key


uint64_t
ember__hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;

    while (*s != '\0') {
        h ^= (unsigned char) *s++;
        h *= 1099511628211ULL;
    }
    return h;
}


static struct ember_hmap_slot_s *
hmap_find(const ember_hmap_t *h, const char *key, uint64_t hash)
{
    size_t mask, i;
    struct ember_hmap_slot_s *s;

    if (h->cap == 0)
        return NULL;
    mask = h->cap - 1;
    for (i = hash & mask;; i = (i + 1) & mask) {
        s = &h->slots[i];
        if (s->key == NULL)
            return NULL;
        if (s->key != TOMB && s->hash == hash && strcmp(s->key, key) == 0)
            return s;
    }
}


void *
ember__hmap_get(const ember_hmap_t *h, const char *key)
{
    struct ember_hmap_slot_s *s = hmap_find(h, key, ember__hash(key));

    return s != NULL ? s->value : NULL;
}


static int
hmap_grow(ember_hmap_t *h)
{
    struct ember_hmap_slot_s *old = h->slots, *s;
    size_t oldcap = h->cap, cap, i, j;

    cap = h->len * 4 > 16 ? h->len * 4 : 16;
    while (cap & (cap - 1))
        cap &= cap - 1;
    cap <<= 1;
    h->slots = calloc(cap, sizeof(*h->slots));
    if (h->slots == NULL) {
        h->slots = old;
        return EMBER_ENOMEM;
    }
    h->cap = cap;
    h->tombs = 0;
    for (i = 0; i < oldcap; i++) {
        if (old[i].key == NULL || old[i].key == TOMB)
            continue;
        for (j = old[i].hash & (cap - 1); h->slots[j].key != NULL;
             j = (j + 1) & (cap - 1))
            ;
        s = &h->slots[j];
        *s = old[i];
    }
    free(old);
    return 0;
}


int
ember__hmap_put(ember_hmap_t *h, const char *key, void *value)
{
    uint64_t hash = ember__hash(key);
    struct ember_hmap_slot_s *s = hmap_find(h, key, hash);
    size_t i, mask;

    if (s != NULL) {
        s->key = key;
        s->value = value;
        return 0;
    }
    if ((h->len + h->tombs + 1) * 4 >= h->cap * 3 && hmap_grow(h) < 0)
        return EMBER_ENOMEM;
    mask = h->cap - 1;
    for (i = hash & mask; h->slots[i].key != NULL && h->slots[i].key != TOMB;
         i = (i + 1) & mask)
        ;
    if (h->slots[i].key == TOMB)
        h->tombs--;
    h->slots[i].key = key;
    h->slots[i].value = value;
    h->slots[i].hash = hash;
    h->len++;
    return 0;
}


void *
ember__hmap_del(ember_hmap_t *h, const char *key)
{
    struct ember_hmap_slot_s *s = hmap_find(h, key, ember__hash(key));
    void *v;

    if (s == NULL)
        return NULL;
    v = s->value;
    s->key = TOMB;
    s->value = NULL;
    h->len--;
    h->tombs++;
    return v;
}


void *
ember__hmap_next(const ember_hmap_t *h, size_t *pos, const char **key)
{
    while (*pos < h->cap) {
        struct ember_hmap_slot_s *s = &h->slots[(*pos)++];

        if (s->key != NULL && s->key != TOMB) {
            if (key != NULL)
                *key = s->key;
            return s->value;
        }
    }
    return NULL;
}


void
ember__hmap_free(ember_hmap_t *h)
{
    free(h->slots);
    memset(h, 0, sizeof(*h));
}
