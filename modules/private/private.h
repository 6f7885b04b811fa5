/* private.h -- mod_private (XEP-0049 Private XML Storage) and its bookmark
 * conversion (XEP-0411; XEP-0402 section 6.3) shared between its files. */
#ifndef PRIVATE_H
#define PRIVATE_H

#include <ember/plugin.h>
#include <ember/pubsub.h>

#define NS_PRIVATE "jabber:iq:private"
#define NS_BOOKMARKS "storage:bookmarks"
/* The fragment key (name, space, namespace) of XEP-0048 bookmarks. */
#define BM_PRIVATE_KEY "storage " NS_BOOKMARKS

extern const ember_api_t *api;

typedef struct bm_op_s bm_op_t;

typedef struct {
    int max_size;
    int max_items;
} private_conf_t;

typedef struct private_state_s {
    ember_module_t *m;
    ember_store_t *store;
    bm_op_t *ops;              /* conversions in flight */
    ember_pubsub_opts_t opts;
    struct private_state_s *next;
} private_state_t;

/* ---- private_bookmarks.c ---- */
/* Hook what the conversion follows (PEP items, the account's disco). */
int bm_init(ember_module_t *m);
/* Forget the conversions in flight (unload). */
void bm_fini(ember_module_t *m);
/* A client stored `storage` (storage:bookmarks) in private storage. */
void bm_private_stored(ember_module_t *m, const char *account,
                       const ember_stanza_t *storage);

/* ---- private_migrate.c ---- */
/* pie-export-private, pie-import-private (emberctl export, import). */
int private_migrate_init(private_state_t *ps);

#endif
