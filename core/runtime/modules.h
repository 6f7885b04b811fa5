/* core/modules.h -- dlopen, ABI checks, per-host instances, cleanup. */
#ifndef EMBER_CORE_MODULES_H
#define EMBER_CORE_MODULES_H

#include <jansson.h>
#include <ember/plugin.h>

#include "base/config.h"
#include "base/owner.h"

/* Load the global <module>s (storage backends first). */
int ember__modules_load_global(const ember_config_t *cfg);
/* Load the modules of one host block, in dependency order. */
int ember__modules_load_host(const ember_config_t *cfg,
                             const ember_host_conf_t *host);
/* Bring loaded modules in line with a new config (reload). */
int ember__modules_sync(const ember_config_t *cfg);
/* Load (or reload when loaded) one module on host from the config. */
int ember__module_load(const ember_config_t *cfg, const char *name,
                       const char *host, char *err, size_t errlen);
void ember__modules_unload_all(void);
/*
 * Open every module the config enables and check its descriptor, ABI and
 * options as a load would, without loading it ("FILE:LINE: ..." in err).
 */
int ember__modules_check(const ember_config_t *cfg, char *err,
                         size_t errlen);
/* Load the config file at path, then ember__modules_check it. */
int ember__modules_check_file(const char *path, char *err, size_t errlen);

/* [{"name","version","description","abi","min_api","host","state","error"}]
 * including failed loads, so operators see why a module is missing. */
json_t *ember__modules_describe(void);

/*
 * Every mod_NAME.so of the plugin directories, loaded or not, described by
 * its manifest (mod_NAME.json) when it has one: [{"name", "dir", "version",
 * "description", "abi", "min_api", "options", "manifest", "state"
 * (loaded|failed|enabled|available|incompatible), "enabled", "loaded",
 * "enabled_on", "loaded_on"}].  Reads files only: no plugin code runs.
 */
json_t *ember__plugins_available(const ember_config_t *cfg);

/* What a plugin file is, learned by opening it as a load would (same
 * checks, RTLD_NOW) without calling its load(). */
typedef struct ember_plugin_info_s {
    char name[128];
    int global;                 /* EMBER_MODULE_GLOBAL */
    char no_default[128];       /* an option without a default, or "" */
    /* The mod_NAME.json next to the file, checked against the descriptor
     * (name, version), else one made from the descriptor. */
    json_t *manifest;
} ember_plugin_info_t;

/* 0, or a negative EMBER_E* with why in err ("undefined symbol ...").
 * The caller releases info->manifest. */
int ember__plugin_inspect(const char *path, ember_plugin_info_t *info,
                          char *err, size_t errlen);
/* "int", "bool", "string", "duration", "path". */
const char *ember__opt_type_word(ember_opt_type_t t);

/* 1 when a mod_NAME.so is in the plugin directories. */
int ember__plugin_exists(const ember_config_t *cfg, const char *name);
/* How many module instances are loaded, and how many failed. */
void ember__modules_counts(int *loaded, int *failed);
/*
 * The option table of module `name` (host NULL: global) as [{"name",
 * "type", "default", "value", "min", "max", "help"}]: "value" is what a
 * loaded instance runs with, else what the config (or the default) would
 * give it.  EMBER_ENOENT when no such plugin exists.
 */
/* 1 when new sets an option of type path of a module otherwise than old
 * (what names it), else 0. */
int ember__module_paths_changed(const ember_config_t *old,
                                const ember_config_t *new, char *what,
                                size_t len);
int ember__module_options(const ember_config_t *cfg, const char *name,
                          const char *host, json_t **out, char *err,
                          size_t errlen);


/* Cancel account callbacks module m still waits for (core/api.c). */
void ember__api_module_gone(ember_module_t *m);

/* The instance accessors behind the api table. */
void *ember__module_conf(ember_module_t *m);
void ember__module_set_data(ember_module_t *m, void *data);
void *ember__module_data(ember_module_t *m);
/* scandir filter: the file names of plugins, mod_NAME.so. */
struct dirent;
int ember__plugin_file_filter(const struct dirent *e);

#endif
