/* core/hmap.h -- a string-keyed open-addressing hash map. */
#ifndef EMBER_CORE_HMAP_H
#define EMBER_CORE_HMAP_H

#include <stddef.h>
#include <stdint.h>

/* Keys are borrowed: the value must own or outlive its key. */
typedef struct ember_hmap_s {
    struct ember_hmap_slot_s *slots;
    size_t cap, len, tombs;
} ember_hmap_t;

uint64_t ember__hash(const char *s);
void *ember__hmap_get(const ember_hmap_t *h, const char *key);
/* 0, or EMBER_ENOMEM.  Replaces the value of an existing key. */
int ember__hmap_put(ember_hmap_t *h, const char *key, void *value);
/* The removed value, or NULL. */
void *ember__hmap_del(ember_hmap_t *h, const char *key);
/* Iterate: *pos starts at 0; returns NULL at the end. */
void *ember__hmap_next(const ember_hmap_t *h, size_t *pos, const char **key);
void ember__hmap_free(ember_hmap_t *h);

#endif
