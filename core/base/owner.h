/* core/base/owner.h -- what every layer may read of a module instance.
 * Registries below the module loader key what they hold by the module
 * and name it in logs; they never call up into runtime/modules.c. */
#ifndef EMBER_CORE_OWNER_H
#define EMBER_CORE_OWNER_H

#include <ember/plugin.h>

/* The first member of struct ember_module_s (runtime/modules.c). */
typedef struct ember__owner_s {
    char *name;
    char *host;     /* NULL: global */
    char *prefix;   /* "name" or "name@host", for the log */
} ember__owner_t;

/* "core" for NULL. */
static inline const char *
ember__module_name(const ember_module_t *m)
{
    return m != NULL ? ((const ember__owner_t *) (const void *) m)->prefix
                     : "core";
}

/* The module's own name, without the host. */
static inline const char *
ember__module_plugin(const ember_module_t *m)
{
    return m != NULL ? ((const ember__owner_t *) (const void *) m)->name
                     : "core";
}

static inline const char *
ember__module_host(const ember_module_t *m)
{
    return m != NULL ? ((const ember__owner_t *) (const void *) m)->host
                     : NULL;
}

#endif
