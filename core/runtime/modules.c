/* core/runtime/modules.c -- module instances: dlopen, ABI checks, load
 * per host in dependency order, unload with everything they own. */
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
#include "base/options.h"
#include "runtime/modules.h"
#include "runtime/modules_int.h"
#include "base/tasks.h"
#include "xmpp/disco.h"
#include "xmpp/iq_defer.h"
#include "xmpp/iq_track.h"
#include "xmpp/services.h"
#include "xmpp/session.h"
#include "store/storage.h"

extern const ember_api_t ember__api;

ember_module_t *ember__modules;
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


ember_module_t *
ember__module_find(const char *name, const char *host)
{
    ember_module_t *m;

    for (m = ember__modules; m != NULL; m = m->next)
        if (strcmp(m->id.name, name) == 0 && same_host(m->id.host, host))
            return m;
    return NULL;
}


/* Loaded on this host, or globally. */
static int
module_available(const char *name, const char *host)
{
    ember_module_t *m = ember__module_find(name, host);

    if (m == NULL && host != NULL)
        m = ember__module_find(name, NULL);
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


ember_module_t *
ember__module_new(const char *name, const char *host, xmlNodePtr node)
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
    m->next = ember__modules;
    ember__modules = m;
    return m;
}


void
ember__module_free(ember_module_t *m)
{
    ember_module_t **pp;

    for (pp = &ember__modules; *pp != NULL; pp = &(*pp)->next)
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


/* dlopen and check everything the descriptor promises; no load() yet. */
int
ember__plugin_path(const ember_config_t *cfg, const char *name, char *path,
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
ember__module_open(const ember_config_t *cfg, ember_module_t *m)
{
    char path[4096];

    if (!ember__plugin_path(cfg, m->id.name, path, sizeof(path))) {
        module_fail(m, "mod_%s.so not found in the plugin directories",
                    m->id.name);
        return EMBER_ENOENT;
    }
    return ember__module_open_file(m, path);
}


int
ember__module_open_file(ember_module_t *m, const char *path)
{
    const ember_plugin_t *d;
    size_t i, n;

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


const ember_module_conf_t *
ember__conf_find(const ember_module_conf_t *list, const char *name)
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
    ember_module_t *m = ember__module_find(mc->name, host);
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
        ember__module_free(m);
    }
    if ((m = ember__module_new(mc->name, host, mc->node)) == NULL)
        return EMBER_ENOMEM;
    m->seq = ++load_seq;
    if ((rc = ember__module_open(cfg, m)) < 0)
        return rc;
    for (i = 0; m->desc.depends != NULL && m->desc.depends[i] != NULL; i++) {
        const char *dep = m->desc.depends[i];
        const ember_module_conf_t *dc = ember__conf_find(mods, dep);

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
        for (o = ember__modules; o != NULL; o = o->next)
            if (o != m && o->state == MOD_LOADED && depends_on(o, m->id.name) &&
                (m->id.host == NULL || same_host(o->id.host, m->id.host))) {
                module_unload(o);
                goto again;         /* the list changed under us */
            }
        ember__iq_sent_cancel(m);
        if (m->desc.unload != NULL)
            m->desc.unload(m);
        module_release(m);
        ember__log(EMBER_LOG_INFO, m->id.prefix, "unloaded");
    }
    ember__module_free(m);
}



void
ember__modules_unload_all(void)
{
    ember_module_t *m, *last;

    /* Reverse load order: dependents go before what they depend on. */
    while (ember__modules != NULL) {
        last = ember__modules;
        for (m = ember__modules; m != NULL; m = m->next)
            if (m->seq > last->seq)
                last = m;
        module_unload(last);
    }
}


const ember_module_conf_t *
ember__config_module(const ember_config_t *cfg, const char *name, const char *host,
              const ember_module_conf_t **list)
{
    const ember_host_conf_t *h;

    if (host == NULL) {
        *list = cfg->global_modules;
        return ember__conf_find(cfg->global_modules, name);
    }
    for (h = cfg->hosts; h != NULL; h = h->next)
        if (strcmp(h->name, host) == 0) {
            *list = h->modules;
            return ember__conf_find(h->modules, name);
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

    mc = ember__config_module(cfg, name, host, &list);
    if (mc == NULL) {
        snprintf(err, errlen, "module %s is not configured%s%s", name,
                 host != NULL ? " on " : "", host != NULL ? host : "");
        return EMBER_ENOENT;
    }
    if ((m = ember__module_find(name, host)) != NULL)
        module_unload(m);
    if (module_load_one(cfg, list, mc, host) < 0) {
        m = ember__module_find(name, host);
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
        for (m = ember__modules; m != NULL; m = m->next) {
            char *sig;
            int same;

            mc = ember__config_module(cfg, m->id.name, m->id.host, &list);
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
json_t *
ember__modules_describe(void)
{
    json_t *arr = json_array(), *o;
    ember_module_t *m;
    char abi[32], min_api[32];

    for (m = ember__modules; m != NULL; m = m->next) {
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


void
ember__modules_counts(int *loaded, int *failed)
{
    ember_module_t *m;

    *loaded = *failed = 0;
    for (m = ember__modules; m != NULL; m = m->next)
        if (m->state == MOD_LOADED)
            (*loaded)++;
        else if (m->state == MOD_FAILED)
            (*failed)++;
}


