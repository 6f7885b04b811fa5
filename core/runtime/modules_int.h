/* core/runtime/modules_int.h -- module instances, shared by the loader
 * (modules.c) and the plugin files' view (plugins.c) only. */
#ifndef EMBER_CORE_MODULES_INT_H
#define EMBER_CORE_MODULES_INT_H

#include <stddef.h>
#include <libxml/tree.h>
#include <ember/plugin.h>

#include "base/config.h"
#include "base/owner.h"

typedef enum { MOD_LOADING, MOD_LOADED, MOD_FAILED } mod_state_t;

struct ember_module_s {
    ember__owner_t id;          /* first: see base/owner.h */
    char *conf_sig;             /* the options as configured */
    void *dl;
    ember_plugin_t desc;        /* copied: only desc_size bytes are read */
    char *version;              /* copies: desc's strings die with dlclose */
    char *description;
    void *conf;
    void *data;
    mod_state_t state;
    char error[256];
    unsigned seq;               /* load order */
    struct ember_module_s *next;
};

/* Every instance, loaded or failed, newest first. */
extern ember_module_t *ember__modules;

ember_module_t *ember__module_find(const char *name, const char *host);
const ember_module_conf_t *ember__conf_find(const ember_module_conf_t *list,
                                            const char *name);
/* The <module> entry of name on host (NULL: global) and its list. */
const ember_module_conf_t *ember__config_module(
    const ember_config_t *cfg, const char *name, const char *host,
    const ember_module_conf_t **list);
ember_module_t *ember__module_new(const char *name, const char *host,
                                  xmlNodePtr node);
/* dlopen and check everything the descriptor promises; no load() yet. */
int ember__module_open(const ember_config_t *cfg, ember_module_t *m);
/* The same for the plugin file at path; m->error says why it fails. */
int ember__module_open_file(ember_module_t *m, const char *path);
void ember__module_free(ember_module_t *m);
/* The first mod_NAME.so of the plugin directories into path; 1 or 0. */
int ember__plugin_path(const ember_config_t *cfg, const char *name,
                       char *path, size_t pathlen);

#endif
