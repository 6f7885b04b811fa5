/*
 * ember-plugin-manifest.c -- print the manifest (mod_NAME.json) of a built
 * plugin, read from its descriptor, so the manifest can never disagree
 * with the code:
 *
 *     ember-plugin-manifest ./mod_wordfilter.so > mod_wordfilter.json
 *
 * The plugin is opened with RTLD_LAZY and its load() is never called:
 * nothing of it runs but its ELF constructors (a plugin should have none).
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <ember/plugin.h>

/* Version of the manifest's own format. */
#define MANIFEST_FORMAT 1


static const char *
opt_type_name(ember_opt_type_t t)
{
    switch (t) {
    case EMBER_OPT_INT: return "int";
    case EMBER_OPT_BOOL: return "bool";
    case EMBER_OPT_STRING: return "string";
    case EMBER_OPT_DURATION: return "duration";
    case EMBER_OPT_PATH: return "path";
    }
    return "unknown";
}


static json_t *
string_list(const char *const *list)
{
    json_t *a = json_array();
    size_t i;

    for (i = 0; a != NULL && list != NULL && list[i] != NULL; i++)
        json_array_append_new(a, json_string(list[i]));
    return a;
}


/* The options as a config schema fragment: one entry per attribute. */
static json_t *
option_list(const ember_option_t *o)
{
    json_t *a = json_array(), *e;

    for (; a != NULL && o != NULL && o->name != NULL; o++) {
        e = json_pack("{s:s, s:s, s:b, s:s?, s:s?}",
                      "name", o->name,
                      "type", opt_type_name(o->type),
                      "required", o->default_value == NULL,
                      "default", o->default_value,
                      "help", o->help);
        if (e == NULL)
            continue;
        if (o->type == EMBER_OPT_INT || o->type == EMBER_OPT_DURATION) {
            json_object_set_new(e, "min", json_integer(o->min));
            json_object_set_new(e, "max", json_integer(o->max));
        } else if (o->type == EMBER_OPT_STRING && o->max > 0) {
            json_object_set_new(e, "max_length", json_integer(o->max));
        }
        json_array_append_new(a, e);
    }
    return a;
}


int
main(int argc, char **argv)
{
    const ember_plugin_t *d;
    ember_plugin_t desc;
    const char *path, *base;
    char abi[32], min_api[32], *rel = NULL;
    json_t *m;
    void *h;
    size_t n;

    if (argc != 2) {
        fprintf(stderr, "usage: %s mod_NAME.so > mod_NAME.json\n", argv[0]);
        return 2;
    }
    path = argv[1];
    /* dlopen searches the library path for names without a slash. */
    if (strchr(path, '/') == NULL) {
        if ((rel = malloc(strlen(path) + 3)) == NULL)
            return 1;
        sprintf(rel, "./%s", path);
        path = rel;
    }
    if ((h = dlopen(path, RTLD_LAZY | RTLD_LOCAL)) == NULL) {
        fprintf(stderr, "ember-plugin-manifest: %s\n", dlerror());
        free(rel);
        return 1;
    }
    if ((d = dlsym(h, "ember_module")) == NULL) {
        fprintf(stderr, "ember-plugin-manifest: %s exports no ember_module "
                "descriptor\n", path);
        return 1;
    }
    if (d->abi_major != EMBER_ABI_MAJOR) {
        fprintf(stderr, "ember-plugin-manifest: %s is built for ABI %u, "
                "these headers are ABI %d\n", path, d->abi_major,
                EMBER_ABI_MAJOR);
        return 1;
    }
    /* Read no more of the descriptor than the plugin has. */
    memset(&desc, 0, sizeof(desc));
    n = d->desc_size < sizeof(desc) ? d->desc_size : sizeof(desc);
    memcpy(&desc, d, n);
    if (desc.name == NULL) {
        fprintf(stderr, "ember-plugin-manifest: %s has no name\n", path);
        return 1;
    }
    base = strrchr(path, '/') != NULL ? strrchr(path, '/') + 1 : path;
    snprintf(abi, sizeof(abi), "%u.%u", desc.abi_major, desc.api_minor);
    snprintf(min_api, sizeof(min_api), "%u.%u", desc.abi_major,
             desc.min_api_minor);
    m = json_pack("{s:i, s:s, s:s?, s:s?, s:s, s:s, s:s, s:b, s:o, s:o, "
                  "s:o}",
                  "manifest", MANIFEST_FORMAT,
                  "name", desc.name,
                  "version", desc.version,
                  "description", desc.description,
                  "abi", abi,
                  "min_api", min_api,
                  "file", base,
                  "global", (desc.flags & EMBER_MODULE_GLOBAL) != 0,
                  "depends", string_list(desc.depends),
                  "requires", string_list(desc.requires),
                  "options", option_list(desc.options));
    if (m == NULL || json_dumpf(m, stdout, JSON_INDENT(2) |
                                JSON_PRESERVE_ORDER) < 0) {
        fprintf(stderr, "ember-plugin-manifest: out of memory\n");
        return 1;
    }
    putchar('\n');
    json_decref(m);
    dlclose(h);
    free(rel);
    return fflush(stdout) == 0 ? 0 : 1;
}
