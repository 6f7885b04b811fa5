/* core/runtime/plugins.c -- plugin files as operators see them: where a
 * mod_NAME.so is, its manifest and options, and the check of a config's
 * ember__modules without loading them. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>
#include <libxml/tree.h>

#include "base/log.h"
#include "base/options.h"
#include "runtime/modules.h"
#include "runtime/modules_int.h"

int
ember__plugin_exists(const ember_config_t *cfg, const char *name)
{
    char path[4096];

    return strchr(name, '/') == NULL &&
           ember__plugin_path(cfg, name, path, sizeof(path));
}


static int
module_check_one(const ember_config_t *cfg, const ember_module_conf_t *mc,
                 const char *host, char *err, size_t errlen)
{
    ember_module_t *m;
    int rc;

    if ((m = ember__module_new(mc->name, host, mc->node)) == NULL)
        return EMBER_ENOMEM;
    rc = ember__module_open(cfg, m);
    if (rc == 0 && m->desc.conf_size > 0 &&
        (m->conf = calloc(1, m->desc.conf_size)) == NULL)
        rc = EMBER_ENOMEM;
    if (rc == 0 && m->desc.options != NULL)
        rc = ember__options_apply(m->desc.options, m->conf, mc->node,
                                  cfg->path, err, errlen);
    else if (rc == 0 && mc->node != NULL && mc->node->properties != NULL &&
             mc->node->properties->next != NULL) {
        snprintf(err, errlen, "%s:%d: module %s takes no options", cfg->path,
                 mc->line, mc->name);
        rc = EMBER_EINVAL;
    } else if (rc < 0) {
        snprintf(err, errlen, "%s:%d: module %s: %s", cfg->path, mc->line,
                 mc->name, m->error);
    }
    if (m->conf != NULL)
        ember__options_free(m->desc.options, m->conf);
    free(m->conf);
    m->conf = NULL;
    if (m->dl != NULL)
        dlclose(m->dl);
    m->dl = NULL;
    ember__module_free(m);
    return rc;
}


int
ember__modules_check(const ember_config_t *cfg, char *err, size_t errlen)
{
    const ember_module_conf_t *mc;
    const ember_host_conf_t *h;
    int rc;

    for (mc = cfg->global_modules; mc != NULL; mc = mc->next)
        if ((rc = module_check_one(cfg, mc, NULL, err, errlen)) < 0)
            return rc;
    for (h = cfg->hosts; h != NULL; h = h->next)
        for (mc = h->modules; mc != NULL; mc = mc->next)
            if ((rc = module_check_one(cfg, mc, h->name, err, errlen)) < 0)
                return rc;
    return 0;
}


int
ember__modules_check_file(const char *path, char *err, size_t errlen)
{
    ember_config_t *cfg;
    int rc;

    if ((rc = ember__config_load(path, &cfg, err, errlen)) < 0)
        return rc;
    rc = ember__modules_check(cfg, err, errlen);
    ember__config_free(cfg);
    return rc;
}


int
ember__plugin_file_filter(const struct dirent *e)
{
    size_t n = strlen(e->d_name);

    return n > 7 && strncmp(e->d_name, "mod_", 4) == 0 &&
           strcmp(e->d_name + n - 3, ".so") == 0;
}


/* Where the config enables `name`: "global", host names, or NULL. */
static json_t *
plugin_where(const ember_config_t *cfg, const char *name, int loaded)
{
    const ember_host_conf_t *h;
    ember_module_t *m;
    json_t *a = json_array();

    if (a == NULL)
        return NULL;
    if (loaded) {
        for (m = ember__modules; m != NULL; m = m->next)
            if (m->state == MOD_LOADED && strcmp(m->id.name, name) == 0)
                json_array_append_new(a, json_string(m->id.host != NULL
                                                         ? m->id.host
                                                         : "global"));
        return a;
    }
    if (ember__conf_find(cfg->global_modules, name) != NULL)
        json_array_append_new(a, json_string("global"));
    for (h = cfg->hosts; h != NULL; h = h->next)
        if (ember__conf_find(h->modules, name) != NULL)
            json_array_append_new(a, json_string(h->name));
    return a;
}


static int
plugin_failed(const char *name)
{
    ember_module_t *m;

    for (m = ember__modules; m != NULL; m = m->next)
        if (m->state == MOD_FAILED && strcmp(m->id.name, name) == 0)
            return 1;
    return 0;
}


/* "a, b" for the operator's table; NULL when empty. */
static json_t *
plugin_where_text(json_t *list)
{
    json_t *v, *out;
    size_t i, n = 0;
    char *s;

    json_array_foreach(list, i, v)
        n += strlen(json_string_value(v)) + 2;
    if (n == 0 || (s = malloc(n + 1)) == NULL)
        return json_null();
    s[0] = '\0';
    json_array_foreach(list, i, v) {
        if (i > 0)
            strcat(s, ", ");
        strcat(s, json_string_value(v));
    }
    out = json_string(s);
    free(s);
    return out;
}


/*
 * One plugin file as the console and `emberctl plugins` show it, from its
 * manifest (mod_NAME.json): a listing never runs a plugin's code.
 */
static json_t *
plugin_describe(const ember_config_t *cfg, const char *dir,
                const char *name)
{
    char path[4096];
    json_t *o, *man, *enabled, *loaded;
    json_error_t jerr;
    const char *abi, *min_api, *state;
    unsigned major = 0, minor = 0;

    snprintf(path, sizeof(path), "%s/mod_%s.json", dir, name);
    man = json_load_file(path, 0, &jerr);
    if (man != NULL && (!json_is_object(man) ||
                        !json_is_string(json_object_get(man, "name")) ||
                        strcmp(json_string_value(json_object_get(man,
                                                                 "name")),
                               name) != 0)) {
        ember__log(EMBER_LOG_WARN, "modules", "%s: not the manifest of "
                   "mod_%s.so: ignored", path, name);
        json_decref(man);
        man = NULL;
    }
    enabled = plugin_where(cfg, name, 0);
    loaded = plugin_where(cfg, name, 1);
    abi = json_string_value(json_object_get(man, "abi"));
    min_api = json_string_value(json_object_get(man, "min_api"));
    if (json_array_size(loaded) > 0)
        state = "loaded";
    else if (plugin_failed(name))
        state = "failed";
    else if (json_array_size(enabled) > 0)
        state = "enabled";      /* not loaded here, e.g. emberctl offline */
    else if (man == NULL)
        state = "available";    /* nothing known until it is loaded */
    else if (abi == NULL ||
             sscanf(abi, "%u.%u", &major, &minor) != 2 ||
             major != EMBER_ABI_MAJOR ||
             (min_api != NULL &&
              (sscanf(min_api, "%u.%u", &major, &minor) != 2 ||
               minor > EMBER_API_MINOR)))
        state = "incompatible";
    else
        state = "available";
    o = json_pack("{s:s, s:s, s:O?, s:O?, s:O?, s:O?, s:O?, s:b, s:s, "
                  "s:o, s:o, s:o?, s:o?}",
                  "name", name,
                  "dir", dir,
                  "version", json_object_get(man, "version"),
                  "description", json_object_get(man, "description"),
                  "abi", json_object_get(man, "abi"),
                  "min_api", json_object_get(man, "min_api"),
                  "options", json_object_get(man, "options"),
                  "manifest", man != NULL,
                  "state", state,
                  "enabled", plugin_where_text(enabled),
                  "loaded", plugin_where_text(loaded),
                  "enabled_on", enabled,
                  "loaded_on", loaded);
    json_decref(man);
    return o;
}


json_t *
ember__plugins_available(const ember_config_t *cfg)
{
    struct dirent **list;
    json_t *arr = json_array(), *o, *seen = json_object();
    char name[256];
    size_t d;
    int n, i;

    if (arr == NULL || seen == NULL)
        goto fail;
    for (d = 0; cfg->plugin_dirs != NULL && cfg->plugin_dirs[d] != NULL;
         d++) {
        if ((n = scandir(cfg->plugin_dirs[d], &list,
                         ember__plugin_file_filter,
                         alphasort)) < 0)
            continue;
        for (i = 0; i < n; i++) {
            snprintf(name, sizeof(name), "%.*s",
                     (int) (strlen(list[i]->d_name) - 7),
                     list[i]->d_name + 4);
            free(list[i]);
            /* Search order: the first directory holding a name wins. */
            if (json_object_get(seen, name) != NULL)
                continue;
            json_object_set_new(seen, name, json_true());
            if ((o = plugin_describe(cfg, cfg->plugin_dirs[d], name)) != NULL)
                json_array_append_new(arr, o);
        }
        free(list);
    }
    json_decref(seen);
    return arr;

fail:
    json_decref(seen);
    json_decref(arr);
    return NULL;
}


const char *
ember__opt_type_word(ember_opt_type_t t)
{
    switch (t) {
    case EMBER_OPT_INT: return "int";
    case EMBER_OPT_BOOL: return "bool";
    case EMBER_OPT_STRING: return "string";
    case EMBER_OPT_DURATION: return "duration";
    case EMBER_OPT_PATH: return "path";
    case EMBER_OPT_GUARDED: return "guarded";
    }
    return "?";
}


/* The value a loaded instance runs with, as text. */
static json_t *
opt_current(const ember_option_t *o, const void *conf)
{
    const char *field = (const char *) conf + o->offset;
    const char *s;
    char num[32];

    switch (o->type) {
    case EMBER_OPT_INT:
    case EMBER_OPT_DURATION:
        snprintf(num, sizeof(num), "%d", *(const int *) (const void *) field);
        return json_string(num);
    case EMBER_OPT_BOOL:
        return json_string(*(const int *) (const void *) field ? "true"
                                                                : "false");
    case EMBER_OPT_STRING:
    case EMBER_OPT_PATH:
    case EMBER_OPT_GUARDED:
        s = *(char *const *) (const void *) field;
        return s != NULL ? json_string(s) : json_null();
    }
    return json_null();
}


static json_t *
options_describe(const ember_option_t *opts, const void *conf,
                 xmlNodePtr node)
{
    const ember_option_t *o;
    json_t *arr = json_array(), *e, *value;
    xmlChar *attr;

    if (arr == NULL)
        return NULL;
    for (o = opts; o != NULL && o->name != NULL; o++) {
        if (conf != NULL) {
            value = opt_current(o, conf);
        } else if (node != NULL &&
                   (attr = xmlGetNoNsProp(node, BAD_CAST o->name)) != NULL) {
            value = json_string((const char *) attr);
            xmlFree(attr);
        } else {
            value = o->default_value != NULL ? json_string(o->default_value)
                                             : json_null();
        }
        e = json_pack("{s:s, s:s, s:s?, s:o, s:I, s:I, s:s?}",
                      "name", o->name, "type", ember__opt_type_word(o->type),
                      "default", o->default_value, "value",
                      value != NULL ? value : json_null(),
                      "min", (json_int_t) o->min, "max", (json_int_t) o->max,
                      "help", o->help);
        if (e == NULL || json_array_append_new(arr, e) < 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}


int
ember__module_options(const ember_config_t *cfg, const char *name,
                      const char *host, json_t **out, char *err,
                      size_t errlen)
{
    const ember_module_conf_t *list, *mc;
    ember_module_t *m = ember__module_find(name, host);
    int rc = 0;

    *out = NULL;
    mc = ember__config_module(cfg, name, host, &list);
    if (m != NULL && m->state == MOD_LOADED) {
        *out = options_describe(m->desc.options, m->conf, NULL);
        return *out != NULL ? 0 : EMBER_ENOMEM;
    }
    if (!ember__plugin_exists(cfg, name)) {
        snprintf(err, errlen, "no plugin mod_%s.so in the plugin "
                 "directories", name);
        return EMBER_ENOENT;
    }
    /* Not running here: open the plugin for its table only, as `check`
     * does, and show what the config would give it. */
    if ((m = ember__module_new(name, host, NULL)) == NULL)
        return EMBER_ENOMEM;
    if ((rc = ember__module_open(cfg, m)) < 0)
        snprintf(err, errlen, "%s", m->error);
    else if ((*out = options_describe(m->desc.options, NULL,
                                      mc != NULL ? mc->node : NULL)) == NULL)
        rc = EMBER_ENOMEM;
    if (m->dl != NULL)
        dlclose(m->dl);
    m->dl = NULL;
    ember__module_free(m);
    return rc;
}


/* Options of type path of module mc on host that new sets otherwise
 * than old; 1 with what named. */
static int
module_paths_changed(const ember_config_t *old, const ember_config_t *new,
                     const ember_module_conf_t *mc, const char *host,
                     char *what, size_t len)
{
    const ember_module_conf_t *was, *list;
    const ember_option_t *o;
    ember_module_t *m = ember__module_find(mc->name, host), *tmp = NULL;
    const char *a, *b;
    int changed = 0;

    was = ember__config_module(old, mc->name, host, &list);
    if (m == NULL || m->state != MOD_LOADED) {
        /* Only the plugin directories in force are searched: those are
         * guarded themselves. */
        if ((tmp = ember__module_new(mc->name, host, NULL)) == NULL)
            return 0;
        if (ember__module_open(new, tmp) < 0) {
            ember__module_free(tmp);
            return 0;
        }
        m = tmp;
    }
    for (o = m->desc.options; o != NULL && o->name != NULL; o++) {
        if (o->type != EMBER_OPT_PATH && o->type != EMBER_OPT_GUARDED)
            continue;
        a = was != NULL ? ember__xml_attr(was->node, o->name) : NULL;
        b = ember__xml_attr(mc->node, o->name);
        if ((a == NULL) != (b == NULL) || (a != NULL && strcmp(a, b) != 0)) {
            snprintf(what, len, "option %s of module %s%s%s", o->name,
                     mc->name, host != NULL ? " on " : "",
                     host != NULL ? host : "");
            changed = 1;
            break;
        }
    }
    if (tmp != NULL) {
        if (tmp->dl != NULL)
            dlclose(tmp->dl);
        tmp->dl = NULL;
        ember__module_free(tmp);
    }
    return changed;
}


int
ember__module_paths_changed(const ember_config_t *old,
                            const ember_config_t *new, char *what,
                            size_t len)
{
    const ember_module_conf_t *mc;
    const ember_host_conf_t *h;

    for (mc = new->global_modules; mc != NULL; mc = mc->next)
        if (module_paths_changed(old, new, mc, NULL, what, len))
            return 1;
    for (h = new->hosts; h != NULL; h = h->next)
        for (mc = h->modules; mc != NULL; mc = mc->next)
            if (module_paths_changed(old, new, mc, h->name, what, len))
                return 1;
    return 0;
}


static json_t *
name_list(const char *const *list)
{
    json_t *a = json_array();
    size_t i;

    for (i = 0; a != NULL && list != NULL && list[i] != NULL; i++)
        json_array_append_new(a, json_string(list[i]));
    return a;
}


/* The manifest a descriptor implies (examples/manifest writes the same for
 * plugin authors). */
static json_t *
manifest_of(const ember_plugin_t *d, const char *base)
{
    const ember_option_t *o;
    json_t *opts = json_array(), *e;
    char abi[32], min_api[32];

    for (o = d->options; opts != NULL && o != NULL && o->name != NULL; o++) {
        e = json_pack("{s:s, s:s, s:b, s:s?, s:s?}", "name", o->name,
                      "type", ember__opt_type_word(o->type),
                      "required", o->default_value == NULL,
                      "default", o->default_value, "help", o->help);
        if (e != NULL && (o->type == EMBER_OPT_INT ||
                          o->type == EMBER_OPT_DURATION)) {
            json_object_set_new(e, "min", json_integer(o->min));
            json_object_set_new(e, "max", json_integer(o->max));
        }
        json_array_append_new(opts, e);
    }
    snprintf(abi, sizeof(abi), "%u.%u", d->abi_major, d->api_minor);
    snprintf(min_api, sizeof(min_api), "%u.%u", d->abi_major,
             d->min_api_minor);
    return json_pack("{s:i, s:s, s:s?, s:s?, s:s, s:s, s:s, s:b, s:o, s:o, "
                     "s:o}", "manifest", 1, "name", d->name,
                     "version", d->version, "description", d->description,
                     "abi", abi, "min_api", min_api, "file", base,
                     "global", (d->flags & EMBER_MODULE_GLOBAL) != 0,
                     "depends", name_list(d->depends),
                     "requires", name_list(d->requires), "options", opts);
}


/* The manifest next to the plugin, when it describes this descriptor. */
static int
manifest_next_to(const char *path, const ember_plugin_t *d, json_t **out,
                 char *err, size_t errlen)
{
    char mpath[4096];
    json_error_t jerr;
    const char *mn, *mv;
    json_t *man;

    *out = NULL;
    snprintf(mpath, sizeof(mpath), "%.*s.json", (int) (strlen(path) - 3),
             path);
    if ((man = json_load_file(mpath, 0, &jerr)) == NULL) {
        if (access(mpath, F_OK) != 0)
            return 0;
        snprintf(err, errlen, "%s:%d: %s", mpath, jerr.line, jerr.text);
        return EMBER_EINVAL;
    }
    mn = json_string_value(json_object_get(man, "name"));
    mv = json_string_value(json_object_get(man, "version"));
    if (mn == NULL || strcmp(mn, d->name) != 0 ||
        (d->version != NULL && (mv == NULL || strcmp(mv, d->version) != 0))) {
        snprintf(err, errlen, "%s does not describe %s (name or version "
                 "differ): rebuild it", mpath, path);
        json_decref(man);
        return EMBER_EINVAL;
    }
    *out = man;
    return 0;
}


int
ember__plugin_inspect(const char *path, ember_plugin_info_t *info,
                      char *err, size_t errlen)
{
    const char *base = strrchr(path, '/') != NULL ? strrchr(path, '/') + 1
                                                  : path;
    const ember_option_t *o;
    ember_module_t *m;
    size_t n = strlen(base);
    char real[4096];
    int rc;

    memset(info, 0, sizeof(*info));
    if (n <= 7 || strncmp(base, "mod_", 4) != 0 ||
        strcmp(base + n - 3, ".so") != 0 || n - 7 >= sizeof(info->name)) {
        snprintf(err, errlen, "%s: a plugin file is named mod_NAME.so", path);
        return EMBER_EINVAL;
    }
    snprintf(info->name, sizeof(info->name), "%.*s", (int) (n - 7),
             base + 4);
    if (realpath(path, real) == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return EMBER_ENOENT;
    }
    if ((m = ember__module_new(info->name, NULL, NULL)) == NULL)
        return EMBER_ENOMEM;
    if ((rc = ember__module_open_file(m, real)) < 0) {
        snprintf(err, errlen, "%s: %s", path, m->error);
        goto out;
    }
    info->global = (m->desc.flags & EMBER_MODULE_GLOBAL) != 0;
    for (o = m->desc.options; o != NULL && o->name != NULL; o++)
        if (o->default_value == NULL) {
            snprintf(info->no_default, sizeof(info->no_default), "%s",
                     o->name);
            break;
        }
    if ((rc = manifest_next_to(path, &m->desc, &info->manifest, err,
                               errlen)) == 0 && info->manifest == NULL &&
        (info->manifest = manifest_of(&m->desc, base)) == NULL)
        rc = EMBER_ENOMEM;
out:
    if (m->dl != NULL)
        dlclose(m->dl);
    m->dl = NULL;
    ember__module_free(m);
    return rc;
}
