/* core/modules.c -- dlopen, ABI checks, per-host instances, cleanup. */
#include <dirent.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "runtime/commands.h"
#include "base/hooks.h"
#include "http/http.h"
#include "base/log.h"
#include "runtime/modules.h"
#include "base/tasks.h"
#include "xmpp/disco.h"
#include "xmpp/iq.h"
#include "xmpp/services.h"
#include "xmpp/session.h"
#include "store/storage.h"

extern const ember_api_t ember__api;

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

static ember_module_t *modules;
static unsigned load_seq;

static const char *const core_capabilities[] = {
    "hooks", "stanzas", "storage", "storage-backend", "timers", "commands",
    "forms", "rsm", "sessions", "accounts", "disco", "iq", "threads",
    "ifaces", "preauth", "http", "services", NULL
};


void *
ember__module_conf(ember_module_t *m)
{
    return m->conf;
}


void
ember__module_set_data(ember_module_t *m, void *data)
{
    m->data = data;
}


void *
ember__module_data(ember_module_t *m)
{
    return m->data;
}


static int
same_host(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    return strcmp(a, b) == 0;
}


static ember_module_t *
module_find(const char *name, const char *host)
{
    ember_module_t *m;

    for (m = modules; m != NULL; m = m->next)
        if (strcmp(m->id.name, name) == 0 && same_host(m->id.host, host))
            return m;
    return NULL;
}


/* Loaded on this host, or globally. */
static int
module_available(const char *name, const char *host)
{
    ember_module_t *m = module_find(name, host);

    if (m == NULL && host != NULL)
        m = module_find(name, NULL);
    return m != NULL && m->state == MOD_LOADED;
}


static char *
conf_signature(xmlNodePtr node)
{
    ember_buf_t b = { 0 };
    xmlAttrPtr a;

    if (node != NULL)
        for (a = node->properties; a != NULL; a = a->next) {
            xmlChar *v = xmlNodeGetContent((xmlNodePtr) a);

            ember__buf_printf(&b, "%s=%s;", (const char *) a->name,
                              v != NULL ? (const char *) v : "");
            xmlFree(v);
        }
    if (b.data == NULL)
        return strdup("");
    return b.data;
}


static void
module_release(ember_module_t *m)
{
    ember__hooks_module_gone(m);
    ember__api_module_gone(m);
    ember__iqs_module_gone(m);
    ember__iq_sent_module_gone(m);
    ember__tasks_module_gone(m);
    ember__disco_module_gone(m);
    ember__services_module_gone(m);
    ember__commands_module_gone(m);
    ember__sessions_module_gone(m);
    ember__storage_module_gone(m);
    ember__http_module_gone(m);
    if (m->conf != NULL) {
        ember__options_free(m->desc.options, m->conf);
        free(m->conf);
        m->conf = NULL;
    }
    m->data = NULL;
    if (m->dl != NULL) {
        dlclose(m->dl);
        m->dl = NULL;
    }
    /* Every pointer of the descriptor pointed into the closed object: a
     * failed module stays listed, and must not be read through them. */
    m->desc.name = m->desc.version = m->desc.description = NULL;
    m->desc.depends = m->desc.requires = NULL;
    m->desc.options = NULL;
    m->desc.load = NULL;
    m->desc.unload = NULL;
}


static void
module_fail(ember_module_t *m, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
module_fail(ember_module_t *m, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(m->error, sizeof(m->error), fmt, ap);
    va_end(ap);
    m->state = MOD_FAILED;
    ember__log(EMBER_LOG_ERROR, m->id.prefix, "not loaded: %s", m->error);
    module_release(m);
}


static ember_module_t *
module_new(const char *name, const char *host, xmlNodePtr node)
{
    ember_module_t *m = calloc(1, sizeof(*m));
    size_t n;

    if (m == NULL)
        return NULL;
    m->id.name = strdup(name);
    m->id.host = host != NULL ? strdup(host) : NULL;
    n = strlen(name) + (host != NULL ? strlen(host) + 2 : 1);
    m->id.prefix = malloc(n);
    m->conf_sig = conf_signature(node);
    if (m->id.name == NULL || m->id.prefix == NULL || m->conf_sig == NULL ||
        (host != NULL && m->id.host == NULL)) {
        free(m->id.name);
        free(m->id.host);
        free(m->id.prefix);
        free(m->conf_sig);
        free(m);
        return NULL;
    }
    if (host != NULL)
        snprintf(m->id.prefix, n, "%s@%s", name, host);
    else
        snprintf(m->id.prefix, n, "%s", name);
    m->state = MOD_LOADING;
    m->next = modules;
    modules = m;
    return m;
}


static void
module_free(ember_module_t *m)
{
    ember_module_t **pp;

    for (pp = &modules; *pp != NULL; pp = &(*pp)->next)
        if (*pp == m) {
            *pp = m->next;
            break;
        }
    free(m->id.name);
    free(m->id.host);
    free(m->id.prefix);
    free(m->conf_sig);
    free(m->version);
    free(m->description);
    free(m);
}


static int
has_capability(const char *cap)
{
    size_t i;

    for (i = 0; core_capabilities[i] != NULL; i++)
        if (strcmp(core_capabilities[i], cap) == 0)
            return 1;
    return 0;
}


/* The first mod_NAME.so of the plugin directories into path; 1 or 0. */
static int
plugin_path(const ember_config_t *cfg, const char *name, char *path,
            size_t pathlen)
{
    size_t i;

    for (i = 0; cfg->plugin_dirs != NULL && cfg->plugin_dirs[i] != NULL;
         i++) {
        snprintf(path, pathlen, "%s/mod_%s.so", cfg->plugin_dirs[i], name);
        if (access(path, R_OK) == 0)
            return 1;
    }
    return 0;
}


int
ember__plugin_exists(const ember_config_t *cfg, const char *name)
{
    char path[4096];

    return strchr(name, '/') == NULL &&
           plugin_path(cfg, name, path, sizeof(path));
}


/* dlopen and check everything the descriptor promises; no load() yet. */
static int
module_open(const ember_config_t *cfg, ember_module_t *m)
{
    char path[4096];
    const ember_plugin_t *d;
    size_t i, n;

    if (!plugin_path(cfg, m->id.name, path, sizeof(path))) {
        module_fail(m, "mod_%s.so not found in the plugin directories",
                    m->id.name);
        return EMBER_ENOENT;
    }
    if ((m->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL)) == NULL) {
        module_fail(m, "cannot open %s: %s", path, dlerror());
        return EMBER_EIO;
    }
    if ((d = dlsym(m->dl, "ember_module")) == NULL) {
        module_fail(m, "%s exports no ember_module descriptor", path);
        return EMBER_EABI;
    }
    /* The first four fields are the same in every ABI major. */
    m->desc.abi_major = d->abi_major;
    m->desc.api_minor = d->api_minor;
    m->desc.min_api_minor = d->min_api_minor;
    if (d->abi_major != EMBER_ABI_MAJOR) {
        module_fail(m, "built for plugin ABI %u.%u, this core provides "
                    "ABI %u.%u: rebuild it against this core's headers",
                    d->abi_major, d->api_minor, EMBER_ABI_MAJOR,
                    EMBER_API_MINOR);
        return EMBER_EABI;
    }
    if (d->min_api_minor > EMBER_API_MINOR) {
        module_fail(m, "needs plugin API %u.%u or newer, this core "
                    "provides %u.%u", d->abi_major, d->min_api_minor,
                    EMBER_ABI_MAJOR, EMBER_API_MINOR);
        return EMBER_EABI;
    }
    if (d->desc_size < sizeof(ember_plugin_t) && d->api_minor == 0) {
        module_fail(m, "descriptor size %u is smaller than ABI 1.0's %zu",
                    d->desc_size, sizeof(ember_plugin_t));
        return EMBER_EABI;
    }
    n = d->desc_size < sizeof(m->desc) ? d->desc_size : sizeof(m->desc);
    memcpy(&m->desc, d, n);
    if ((m->desc.version != NULL &&
         (m->version = strdup(m->desc.version)) == NULL) ||
        (m->desc.description != NULL &&
         (m->description = strdup(m->desc.description)) == NULL)) {
        module_fail(m, "out of memory");
        return EMBER_ENOMEM;
    }
    for (i = 0; i < sizeof(m->desc.reserved) / sizeof(m->desc.reserved[0]);
         i++)
        if (m->desc.reserved[i] != 0) {
            module_fail(m, "reserved descriptor fields are not zero");
            return EMBER_EABI;
        }
    if (m->desc.name == NULL || strcmp(m->desc.name, m->id.name) != 0) {
        module_fail(m, "descriptor name '%s' does not match mod_%s.so",
                    m->desc.name != NULL ? m->desc.name : "", m->id.name);
        return EMBER_EABI;
    }
    if (m->desc.load == NULL) {
        module_fail(m, "descriptor has no load function");
        return EMBER_EABI;
    }
    if ((m->desc.flags & EMBER_MODULE_GLOBAL) && m->id.host != NULL) {
        module_fail(m, "is a global module: enable it directly under "
                    "<ember>, not in a <host>");
        return EMBER_EINVAL;
    }
    for (i = 0; m->desc.requires != NULL && m->desc.requires[i] != NULL;
         i++)
        if (!has_capability(m->desc.requires[i])) {
            module_fail(m, "requires core capability '%s', which this "
                        "core does not provide", m->desc.requires[i]);
            return EMBER_ENOTSUP;
        }
    return 0;
}


static const ember_module_conf_t *
conf_find(const ember_module_conf_t *list, const char *name)
{
    for (; list != NULL; list = list->next)
        if (strcmp(list->name, name) == 0)
            return list;
    return NULL;
}


static int
module_load_one(const ember_config_t *cfg, const ember_module_conf_t *mods,
                const ember_module_conf_t *mc, const char *host)
{
    ember_module_t *m = module_find(mc->name, host);
    char err[512];
    size_t i;
    int rc;

    if (m != NULL) {
        if (m->state == MOD_LOADING) {
            ember__log(EMBER_LOG_ERROR, m->id.prefix,
                       "dependency cycle through %s", mc->name);
            return EMBER_EDEPEND;
        }
        if (m->state == MOD_LOADED)
            return 0;
        module_free(m);
    }
    if ((m = module_new(mc->name, host, mc->node)) == NULL)
        return EMBER_ENOMEM;
    m->seq = ++load_seq;
    if ((rc = module_open(cfg, m)) < 0)
        return rc;
    for (i = 0; m->desc.depends != NULL && m->desc.depends[i] != NULL; i++) {
        const char *dep = m->desc.depends[i];
        const ember_module_conf_t *dc = conf_find(mods, dep);

        if (dc != NULL && module_load_one(cfg, mods, dc, host) < 0) {
            module_fail(m, "dependency %s failed to load", dep);
            return EMBER_EDEPEND;
        }
        if (!module_available(dep, host)) {
            module_fail(m, "missing dependency: module %s is not enabled",
                        dep);
            return EMBER_EDEPEND;
        }
    }
    if (m->desc.conf_size > 0 &&
        (m->conf = calloc(1, m->desc.conf_size)) == NULL) {
        module_fail(m, "out of memory");
        return EMBER_ENOMEM;
    }
    if (m->desc.options != NULL &&
        ember__options_apply(m->desc.options, m->conf, mc->node, cfg->path,
                             err, sizeof(err)) < 0) {
        module_fail(m, "%s", err);
        return EMBER_EINVAL;
    }
    if (m->desc.options == NULL && mc->node != NULL &&
        mc->node->properties != NULL && mc->node->properties->next != NULL) {
        module_fail(m, "%s:%d: module %s takes no options", cfg->path,
                    mc->line, m->id.name);
        return EMBER_EINVAL;
    }
    m->state = MOD_LOADED;
    if ((rc = m->desc.load(m, &ember__api)) < 0) {
        if (m->desc.unload != NULL)
            m->desc.unload(m);
        module_fail(m, "load failed: %s", ember_strerror(rc));
        return rc;
    }
    m->error[0] = '\0';
    ember__log(EMBER_LOG_INFO, m->id.prefix, "loaded (version %s, ABI %u.%u)",
               m->desc.version != NULL ? m->desc.version : "?",
               m->desc.abi_major, m->desc.api_minor);
    return 0;
}


static int
load_list(const ember_config_t *cfg, const ember_module_conf_t *mods,
          const char *host)
{
    const ember_module_conf_t *mc;
    int failed = 0;

    for (mc = mods; mc != NULL; mc = mc->next)
        if (module_load_one(cfg, mods, mc, host) < 0)
            failed++;
    return failed;
}


int
ember__modules_load_global(const ember_config_t *cfg)
{
    const ember_module_conf_t *mc;
    int failed = 0;

    /* Storage backends first: every other module may open stores. */
    for (mc = cfg->global_modules; mc != NULL; mc = mc->next)
        if (strncmp(mc->name, "storage_", 8) == 0 &&
            module_load_one(cfg, cfg->global_modules, mc, NULL) < 0)
            failed++;
    failed += load_list(cfg, cfg->global_modules, NULL);
    return failed;
}


int
ember__modules_load_host(const ember_config_t *cfg,
                         const ember_host_conf_t *host)
{
    int failed = load_list(cfg, host->modules, host->name);

    ember__fire_simple(host->name, EMBER_EV_HOST_ACTIVATED, NULL, NULL);
    return failed;
}


static int
depends_on(const ember_module_t *m, const char *name)
{
    size_t i;

    for (i = 0; m->desc.depends != NULL && m->desc.depends[i] != NULL; i++)
        if (strcmp(m->desc.depends[i], name) == 0)
            return 1;
    return 0;
}


static void
module_unload(ember_module_t *m)
{
    ember_module_t *o;

    if (m->state == MOD_LOADED) {
        m->state = MOD_LOADING;     /* guards against dependency loops */
again:
        for (o = modules; o != NULL; o = o->next)
            if (o != m && o->state == MOD_LOADED && depends_on(o, m->id.name) &&
                (m->id.host == NULL || same_host(o->id.host, m->id.host))) {
                module_unload(o);
                goto again;         /* the list changed under us */
            }
        if (m->desc.unload != NULL)
            m->desc.unload(m);
        module_release(m);
        ember__log(EMBER_LOG_INFO, m->id.prefix, "unloaded");
    }
    module_free(m);
}


int
ember__module_unload(const char *name, const char *host)
{
    ember_module_t *m = module_find(name, host);

    if (m == NULL)
        return EMBER_ENOENT;
    module_unload(m);
    return 0;
}


void
ember__modules_unload_all(void)
{
    ember_module_t *m, *last;

    /* Reverse load order: dependents go before what they depend on. */
    while (modules != NULL) {
        last = modules;
        for (m = modules; m != NULL; m = m->next)
            if (m->seq > last->seq)
                last = m;
        module_unload(last);
    }
}


static const ember_module_conf_t *
config_module(const ember_config_t *cfg, const char *name, const char *host,
              const ember_module_conf_t **list)
{
    const ember_host_conf_t *h;

    if (host == NULL) {
        *list = cfg->global_modules;
        return conf_find(cfg->global_modules, name);
    }
    for (h = cfg->hosts; h != NULL; h = h->next)
        if (strcmp(h->name, host) == 0) {
            *list = h->modules;
            return conf_find(h->modules, name);
        }
    *list = NULL;
    return NULL;
}


int
ember__module_load(const ember_config_t *cfg, const char *name,
                   const char *host, char *err, size_t errlen)
{
    const ember_module_conf_t *list, *mc;
    ember_module_t *m;

    mc = config_module(cfg, name, host, &list);
    if (mc == NULL) {
        snprintf(err, errlen, "module %s is not configured%s%s", name,
                 host != NULL ? " on " : "", host != NULL ? host : "");
        return EMBER_ENOENT;
    }
    if ((m = module_find(name, host)) != NULL)
        module_unload(m);
    if (module_load_one(cfg, list, mc, host) < 0) {
        m = module_find(name, host);
        snprintf(err, errlen, "%s", m != NULL ? m->error : "load failed");
        return EMBER_EIO;
    }
    return 0;
}


int
ember__modules_sync(const ember_config_t *cfg)
{
    const ember_module_conf_t *list, *mc;
    const ember_host_conf_t *h;
    ember_module_t *m;
    int changed = 1, failed = 0;

    /* Drop what the new config no longer has, or has with other options. */
    while (changed) {
        changed = 0;
        for (m = modules; m != NULL; m = m->next) {
            char *sig;
            int same;

            mc = config_module(cfg, m->id.name, m->id.host, &list);
            if (mc != NULL && m->state == MOD_LOADED) {
                sig = conf_signature(mc->node);
                same = sig != NULL && strcmp(sig, m->conf_sig) == 0;
                free(sig);
                if (same)
                    continue;
            }
            module_unload(m);
            changed = 1;
            break;
        }
    }
    failed += ember__modules_load_global(cfg);
    for (h = cfg->hosts; h != NULL; h = h->next)
        failed += load_list(cfg, h->modules, h->name);
    return failed;
}


/* Open one configured module without loading it: descriptor, ABI and
 * options checked as a load would, nothing registered. */
static int
module_check_one(const ember_config_t *cfg, const ember_module_conf_t *mc,
                 const char *host, char *err, size_t errlen)
{
    ember_module_t *m;
    int rc;

    if ((m = module_new(mc->name, host, mc->node)) == NULL)
        return EMBER_ENOMEM;
    rc = module_open(cfg, m);
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
    module_free(m);
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


json_t *
ember__modules_describe(void)
{
    json_t *arr = json_array(), *o;
    ember_module_t *m;
    char abi[32], min_api[32];

    for (m = modules; m != NULL; m = m->next) {
        snprintf(abi, sizeof(abi), "%u.%u", m->desc.abi_major,
                 m->desc.api_minor);
        snprintf(min_api, sizeof(min_api), "%u.%u", m->desc.abi_major,
                 m->desc.min_api_minor);
        o = json_pack("{s:s, s:s?, s:s?, s:s, s:s, s:s?, s:s, s:s?}",
                      "name", m->id.name,
                      "version", m->version,
                      "description", m->description,
                      "abi", m->desc.abi_major != 0 ? abi : "?",
                      "min_api", m->desc.abi_major != 0 ? min_api : "?",
                      "host", m->id.host,
                      "state", m->state == MOD_LOADED ? "loaded"
                               : m->state == MOD_FAILED ? "failed"
                               : "loading",
                      "error", m->error[0] != '\0' ? m->error : NULL);
        if (o != NULL)
            json_array_append_new(arr, o);
    }
    return arr;
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
        for (m = modules; m != NULL; m = m->next)
            if (m->state == MOD_LOADED && strcmp(m->id.name, name) == 0)
                json_array_append_new(a, json_string(m->id.host != NULL
                                                         ? m->id.host
                                                         : "global"));
        return a;
    }
    if (conf_find(cfg->global_modules, name) != NULL)
        json_array_append_new(a, json_string("global"));
    for (h = cfg->hosts; h != NULL; h = h->next)
        if (conf_find(h->modules, name) != NULL)
            json_array_append_new(a, json_string(h->name));
    return a;
}


static int
plugin_failed(const char *name)
{
    ember_module_t *m;

    for (m = modules; m != NULL; m = m->next)
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


void
ember__modules_counts(int *loaded, int *failed)
{
    ember_module_t *m;

    *loaded = *failed = 0;
    for (m = modules; m != NULL; m = m->next)
        if (m->state == MOD_LOADED)
            (*loaded)++;
        else if (m->state == MOD_FAILED)
            (*failed)++;
}


static const char *
opt_type_word(ember_opt_type_t t)
{
    switch (t) {
    case EMBER_OPT_INT: return "int";
    case EMBER_OPT_BOOL: return "bool";
    case EMBER_OPT_STRING: return "string";
    case EMBER_OPT_DURATION: return "duration";
    case EMBER_OPT_PATH: return "path";
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
                      "name", o->name, "type", opt_type_word(o->type),
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
    ember_module_t *m = module_find(name, host);
    int rc = 0;

    *out = NULL;
    mc = config_module(cfg, name, host, &list);
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
    if ((m = module_new(name, host, NULL)) == NULL)
        return EMBER_ENOMEM;
    if ((rc = module_open(cfg, m)) < 0)
        snprintf(err, errlen, "%s", m->error);
    else if ((*out = options_describe(m->desc.options, NULL,
                                      mc != NULL ? mc->node : NULL)) == NULL)
        rc = EMBER_ENOMEM;
    if (m->dl != NULL)
        dlclose(m->dl);
    m->dl = NULL;
    module_free(m);
    return rc;
}
