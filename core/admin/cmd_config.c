/* core/admin/cmd_config.c -- admin commands that change the config:
 * config-*, module-*, admins, admin-add/-remove, cert-upload/-generate. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <jansson.h>
#include <libxml/tree.h>

#include "admin/cmd_admin.h"
#include "admin/config_edit.h"
#include "base/config.h"
#include "base/jid.h"
#include "base/log.h"
#include "base/options.h"
#include "base/process.h"
#include "net/certgen.h"
#include "runtime/commands.h"
#include "runtime/modules.h"

#define CERT_DAYS 3650

static void
cmd_config_get(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    char err[1024], *text;
    size_t len;

    if ((text = ember__config_read(&len, err, sizeof(err))) == NULL) {
        ember__command_donef(ctx, EMBER_EIO, "%s", err);
        return;
    }
    ember__command_done(ctx, 0, json_pack("{s:s, s:s%}", "path",
                                          ember__config()->path, "text",
                                          text, len), NULL);
    free(text);
}


static void
cmd_config_check(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    char msg[1024];
    json_t *errors = json_array();
    long line;
    int rc;

    rc = ember__config_check_text(ember__command_str(args, "text"),
                                  ember__command_caller(ctx) !=
                                  EMBER_CALLER_LOCAL, &line,
                                  msg, sizeof(msg));
    if (rc < 0 && rc != EMBER_EINVAL && rc != EMBER_EPERM) {
        json_decref(errors);
        ember__command_donef(ctx, rc, "%s", msg);
        return;
    }
    if (rc < 0)
        json_array_append_new(errors, json_pack("{s:i, s:s}", "line",
                                                (int) line, "message", msg));
    ember__command_done(ctx, 0, json_pack("{s:b, s:o}", "ok", rc == 0,
                                          "errors", errors), NULL);
}


static void
cmd_config_set(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    ember__config_commit(ctx, ember__command_str(args, "text"), NULL);
}


/* ---- modules ---- */

static int
module_name_ok(ember_cmd_ctx_t *ctx, const char *name)
{
    const char *p;

    for (p = name; *p != '\0'; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '-' || (*p >= 'A' && *p <= 'Z')))
            break;
    if (*name != '\0' && *p == '\0')
        return 0;
    ember__command_donef(ctx, EMBER_EINVAL,
                         "argument 'name': '%s' is not a module name", name);
    return EMBER_EINVAL;
}


static void
cmd_module_options(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    const char *name = ember__command_str(args, "name");
    char host[1024], err[1024];
    json_t *list;
    int rc;

    if (module_name_ok(ctx, name) < 0 ||
        ember__command_host_arg(ctx, args, 0, host, sizeof(host)) < 0)
        return;
    err[0] = '\0';
    rc = ember__module_options(ember__config(), name,
                               *host != '\0' ? host : NULL, &list, err,
                               sizeof(err));
    if (rc < 0)
        ember__command_donef(ctx, rc, "%s",
                             err[0] != '\0' ? err : ember_strerror(rc));
    else
        ember__command_done(ctx, 0, list, NULL);
}


/* An option value from JSON as the text of an attribute; NULL if bad. */
static char *
option_text(json_t *v)
{
    char *s;

    if (json_is_string(v))
        return strdup(json_string_value(v));
    if (json_is_boolean(v))
        return strdup(json_is_true(v) ? "true" : "false");
    if (json_is_integer(v) &&
        asprintf(&s, "%" JSON_INTEGER_FORMAT, json_integer_value(v)) >= 0)
        return s;
    return NULL;
}


static void
cmd_module_configure(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    const char *name = ember__command_str(args, "name"), *key;
    json_t *opts = json_object_get(args, "options"), *v;
    xmlNodePtr scope, mod;
    xmlDocPtr doc;
    char host[1024], *text;

    if (module_name_ok(ctx, name) < 0)
        return;
    if (!json_is_object(opts)) {
        ember__command_donef(ctx, EMBER_EINVAL,
                             "argument 'options' must be a JSON "
                             "object of option names and values");
        return;
    }
    doc = ember__dom_for_host(ctx, args, host, sizeof(host), &scope);
    if (doc == NULL)
        return;
    if ((mod = ember__dom_child(scope, "module", "name", name, 0)) == NULL) {
        xmlFreeDoc(doc);
        ember__command_donef(ctx, EMBER_ENOENT,
                             "module %s is not enabled at %s", name,
                             ember__config_scope_name(host));
        return;
    }
    json_object_foreach(opts, key, v) {
        if (strcmp(key, "name") == 0 || *key == '\0' ||
            xmlValidateNCName(BAD_CAST key, 0) != 0) {
            xmlFreeDoc(doc);
            ember__command_donef(ctx, EMBER_EINVAL,
                                 "option '%s': not an option name", key);
            return;
        }
        if (json_is_null(v)) {
            xmlUnsetProp(mod, BAD_CAST key);   /* back to the default */
            continue;
        }
        if ((text = option_text(v)) == NULL) {
            xmlFreeDoc(doc);
            ember__command_donef(ctx, EMBER_EINVAL,
                                 "option '%s': the value must be "
                                 "a string, an integer, a boolean or null",
                                 key);
            return;
        }
        xmlSetProp(mod, BAD_CAST key, BAD_CAST text);
        free(text);
    }
    /* The check applies the module's option table: type, range and
     * unknown names are refused there, naming the option. */
    ember__dom_commit(ctx, doc, NULL);
}


static void
cmd_module_enable(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    const char *name = ember__command_str(args, "name");
    xmlNodePtr scope, mod;
    xmlDocPtr doc;
    char host[1024];

    if (module_name_ok(ctx, name) < 0)
        return;
    if (!ember__plugin_exists(ember__config(), name)) {
        ember__command_donef(ctx, EMBER_ENOENT,
                             "no plugin mod_%s.so in the plugin directories",
                             name);
        return;
    }
    doc = ember__dom_for_host(ctx, args, host, sizeof(host), &scope);
    if (doc == NULL)
        return;
    if (ember__dom_child(scope, "module", "name", name, 0) != NULL) {
        xmlFreeDoc(doc);
        ember__command_donef(ctx, EMBER_EEXIST,
                             "module %s is already enabled at %s", name,
                             ember__config_scope_name(host));
        return;
    }
    if ((mod = xmlNewNode(NULL, BAD_CAST "module")) == NULL) {
        xmlFreeDoc(doc);
        ember__command_done(ctx, EMBER_ENOMEM, NULL, NULL);
        return;
    }
    xmlSetProp(mod, BAD_CAST "name", BAD_CAST name);
    ember__dom_insert(scope, mod);
    ember__dom_commit(ctx, doc, NULL);
}


static void
cmd_module_disable(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    const char *name = ember__command_str(args, "name");
    xmlNodePtr scope, mod;
    xmlDocPtr doc;
    char host[1024];

    if (module_name_ok(ctx, name) < 0)
        return;
    doc = ember__dom_for_host(ctx, args, host, sizeof(host), &scope);
    if (doc == NULL)
        return;
    if ((mod = ember__dom_child(scope, "module", "name", name, 0)) == NULL) {
        xmlFreeDoc(doc);
        ember__command_donef(ctx, EMBER_ENOENT,
                             "module %s is not enabled at %s", name,
                             ember__config_scope_name(host));
        return;
    }
    ember__dom_remove(mod);
    ember__dom_commit(ctx, doc, NULL);
}


static void
cmd_module_reload(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    const char *name = ember__command_str(args, "name");
    const ember_config_t *cfg = ember__config();
    char host[1024], err[1024];
    int rc;

    if (module_name_ok(ctx, name) < 0 ||
        ember__command_need_online(ctx, "module-reload") < 0 ||
        ember__command_host_arg(ctx, args, 0, host, sizeof(host)) < 0)
        return;
    err[0] = '\0';
    rc = ember__module_load(cfg, name, *host != '\0' ? host : NULL, err,
                            sizeof(err));
    /* Unloading took the modules that depend on it along: back they come. */
    ember__modules_sync(cfg);
    if (rc < 0)
        ember__command_donef(ctx, rc == EMBER_ENOENT ? rc : EMBER_EIO, "%s",
                             err[0] != '\0' ? err : ember_strerror(rc));
    else
        ember__command_done(ctx, 0, json_pack("{s:b}", "ok", 1), NULL);
}


/* ---- admins ---- */

static void
cmd_admins(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    const ember_config_t *cfg = ember__config();
    json_t *list = json_array();
    size_t i;

    for (i = 0; cfg != NULL && cfg->admins != NULL && cfg->admins[i] != NULL;
         i++)
        json_array_append_new(list, json_string(cfg->admins[i]));
    ember__command_done(ctx, 0, list, NULL);
}


/* The prepared bare JID of args' "jid" into out, or finish. */
static int
admin_jid(ember_cmd_ctx_t *ctx, json_t *args, char *out, size_t outlen)
{
    ember_jid_t *j = ember__jid_parse(ember__command_str(args, "jid"));

    if (j == NULL || ember__jid_resource(j) != NULL ||
        ember__jid_node(j) == NULL) {
        ember__command_donef(ctx, EMBER_EINVAL,
                             "%s: expected a bare JID user@host",
                             ember__command_str(args, "jid"));
        ember__jid_free(j);
        return EMBER_EINVAL;
    }
    snprintf(out, outlen, "%s", ember__jid_bare(j));
    ember__jid_free(j);
    return 0;
}


static void
admin_edit(ember_cmd_ctx_t *ctx, json_t *args, int add)
{
    xmlNodePtr root, n;
    xmlDocPtr doc;
    char jid[2048], err[1024];

    if (admin_jid(ctx, args, jid, sizeof(jid)) < 0)
        return;
    if ((doc = ember__dom_load(err, sizeof(err))) == NULL) {
        ember__command_donef(ctx, EMBER_EIO, "%s", err);
        return;
    }
    root = xmlDocGetRootElement(doc);
    n = ember__dom_child(root, "admin", "jid", jid, 2);
    if (add && n != NULL) {
        xmlFreeDoc(doc);
        ember__command_donef(ctx, EMBER_EEXIST, "%s is already an admin", jid);
        return;
    }
    if (!add && n == NULL) {
        xmlFreeDoc(doc);
        ember__command_donef(ctx, EMBER_ENOENT, "%s is not an admin", jid);
        return;
    }
    if (add) {
        if ((n = xmlNewNode(NULL, BAD_CAST "admin")) == NULL) {
            xmlFreeDoc(doc);
            ember__command_done(ctx, EMBER_ENOMEM, NULL, NULL);
            return;
        }
        xmlSetProp(n, BAD_CAST "jid", BAD_CAST jid);
        ember__dom_insert(root, n);
    } else {
        /* Every spelling of that JID goes. */
        do
            ember__dom_remove(n);
        while ((n = ember__dom_child(root, "admin", "jid", jid, 2)) != NULL);
    }
    ember__dom_commit(ctx, doc, NULL);
}


static void
cmd_admin_add(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    admin_edit(ctx, args, 1);
}


static void
cmd_admin_remove(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    admin_edit(ctx, args, 0);
}


/* ---- certificates ---- */

/* <data>/tls/HOST.pem and .key, the directory created (0700); with
 * pending, also the key of a signing request waiting for its certificate
 * (<data>/tls/HOST.request.key). */
static int
cert_paths(ember_cmd_ctx_t *ctx, const char *host, char *cert, char *key,
           size_t len, char *pending)
{
    const ember_config_t *cfg = ember__config();
    char dir[PATH_MAX];

    snprintf(dir, sizeof(dir), "%s/tls", cfg->data_dir);
    if (mkdir(cfg->data_dir, 0700) < 0 && errno != EEXIST) {
        ember__command_donef(ctx, EMBER_EIO, "mkdir %s: %s", cfg->data_dir,
                             strerror(errno));
        return EMBER_EIO;
    }
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        ember__command_donef(ctx, EMBER_EIO, "mkdir %s: %s", dir,
                             strerror(errno));
        return EMBER_EIO;
    }
    if ((size_t) snprintf(cert, len, "%s/%s.pem", dir, host) >= len ||
        (size_t) snprintf(key, len, "%s/%s.key", dir, host) >= len ||
        (pending != NULL && (size_t) snprintf(pending, len,
                                              "%s/%s.request.key", dir,
                                              host) >= len)) {
        ember__command_donef(ctx, EMBER_EINVAL, "%s: path too long", dir);
        return EMBER_EINVAL;
    }
    return 0;
}


/* Point host's <tls> at cert and key, write, reload, finish. */
static void
cert_install(ember_cmd_ctx_t *ctx, const char *host, const char *cert,
             const char *key, json_t *extra)
{
    xmlNodePtr scope, tls;
    xmlDocPtr doc;
    char err[1024];

    if ((doc = ember__dom_load(err, sizeof(err))) == NULL) {
        json_decref(extra);
        ember__command_donef(ctx, EMBER_EIO, "%s", err);
        return;
    }
    if ((scope = ember__dom_scope(doc, host)) == NULL) {
        xmlFreeDoc(doc);
        json_decref(extra);
        ember__command_donef(ctx, EMBER_ENOENT, "host %s is not in %s", host,
                             ember__config()->path);
        return;
    }
    if ((tls = ember__dom_child(scope, "tls", NULL, NULL, 0)) == NULL) {
        if ((tls = xmlNewNode(NULL, BAD_CAST "tls")) == NULL) {
            xmlFreeDoc(doc);
            json_decref(extra);
            ember__command_done(ctx, EMBER_ENOMEM, NULL, NULL);
            return;
        }
        ember__dom_insert(scope, tls);
    }
    xmlSetProp(tls, BAD_CAST "cert", BAD_CAST cert);
    xmlSetProp(tls, BAD_CAST "key", BAD_CAST key);
    ember__dom_commit(ctx, doc, extra);
}


/* The key of a pending signing request, or NULL (EMBER_ENOENT). */
static char *
pending_key(const char *path, int *rc)
{
    struct stat st;
    char *data = NULL;
    FILE *f;

    *rc = EMBER_ENOENT;
    if ((f = fopen(path, "re")) == NULL)
        return NULL;
    *rc = EMBER_EIO;
    if (fstat(fileno(f), &st) == 0 && st.st_size > 0 && st.st_size < 65536 &&
        (data = calloc(1, (size_t) st.st_size + 1)) != NULL &&
        fread(data, 1, (size_t) st.st_size, f) == (size_t) st.st_size)
        *rc = 0;
    fclose(f);
    if (*rc < 0 && data != NULL) {
        explicit_bzero(data, (size_t) st.st_size);
        free(data);
        data = NULL;
    }
    return data;
}


static void
cmd_cert_upload(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    const char *cert_pem = ember__command_str(args, "cert");
    const char *key_pem = ember__command_str(args, "key");
    char host[1024], cert[PATH_MAX], key[PATH_MAX], pending[PATH_MAX];
    char err[1024], *own_key = NULL;
    json_t *warnings = json_array(), *not_after = NULL;
    int rc;

    if (ember__command_host_arg(ctx, args, 1, host, sizeof(host)) < 0 ||
        cert_paths(ctx, host, cert, key, sizeof(cert), pending) < 0)
        goto fail;
    if (key_pem == NULL) {
        if ((own_key = pending_key(pending, &rc)) == NULL) {
            ember__command_donef(ctx, EMBER_EINVAL, rc == EMBER_ENOENT
                                 ? "no key given, and no signing request "
                                   "waits for %s (cert-request)"
                                 : "the key of the signing request for %s "
                                   "cannot be read", host);
            goto fail;
        }
        key_pem = own_key;
    }
    if (ember__cert_check_pair(cert_pem, key_pem, host, warnings, &not_after,
                               err, sizeof(err)) < 0) {
        ember__command_donef(ctx, EMBER_EINVAL, "%s%s", err,
                             own_key != NULL ? " (with the key of the "
                             "pending signing request)" : "");
        goto fail;
    }
    /* Key first: a certificate never points at a key it does not match
     * for longer than the two renames. */
    if ((rc = ember__write_atomic(key, key_pem, strlen(key_pem), 0600, 0,
                                  err, sizeof(err))) < 0 ||
        (rc = ember__write_atomic(cert, cert_pem, strlen(cert_pem), 0644, 0,
                                  err, sizeof(err))) < 0) {
        ember__command_donef(ctx, rc, "%s", err);
        goto fail;
    }
    if (own_key != NULL) {
        unlink(pending);
        explicit_bzero(own_key, strlen(own_key));
        free(own_key);
    }
    cert_install(ctx, host, cert, key,
                 json_pack("{s:o, s:o}", "not_after", not_after,
                           "warnings", warnings));
    return;

fail:
    if (own_key != NULL) {
        explicit_bzero(own_key, strlen(own_key));
        free(own_key);
    }
    json_decref(warnings);
    json_decref(not_after);
}


/* A name for a certificate of host: host itself or a name under it. */
static int
name_of_host(const char *name, const char *host, char *out, size_t len)
{
    size_t n, h = strlen(host);

    if (ember__jid_prep_domain(name, out, len) < 0)
        return -1;
    n = strlen(out);
    return strcmp(out, host) == 0 ||
           (n > h + 1 && out[n - h - 1] == '.' &&
            strcmp(out + n - h, host) == 0) ? 0 : -1;
}


static void
cmd_cert_request(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    const char *more = ember__command_str(args, "names");
    char host[1024], cert[PATH_MAX], key[PATH_MAX], pending[PATH_MAX];
    char list[2048], *tok, *save, *names_buf[17], *csr = NULL;
    const char *names[18];
    json_t *out;
    size_t n = 0, i;
    int rc;

    if (ember__command_host_arg(ctx, args, 1, host, sizeof(host)) < 0 ||
        cert_paths(ctx, host, cert, key, sizeof(cert), pending) < 0)
        return;
    names[n++] = host;
    snprintf(list, sizeof(list), "%s", more != NULL ? more : "");
    for (tok = strtok_r(list, ", \t", &save); tok != NULL;
         tok = strtok_r(NULL, ", \t", &save)) {
        if (n == 17) {
            ember__command_donef(ctx, EMBER_EINVAL, "names: at most 16");
            goto out;
        }
        if ((names_buf[n] = malloc(1024)) == NULL) {
            ember__command_done(ctx, EMBER_ENOMEM, NULL, NULL);
            goto out;
        }
        names[n] = names_buf[n];
        n++;
        if (name_of_host(tok, host, names_buf[n - 1], 1024) < 0) {
            ember__command_donef(ctx, EMBER_EINVAL, "names: '%s' is not %s "
                                 "nor a name under it", tok, host);
            goto out;
        }
    }
    names[n] = NULL;
    if ((rc = ember__cert_request(pending, names, &csr)) < 0) {
        ember__command_donef(ctx, rc, "cannot make a signing request for "
                             "%s: %s", host, ember_strerror(rc));
        goto out;
    }
    out = json_pack("{s:s, s:[]}", "csr", csr, "names");
    for (i = 0; i < n; i++)
        json_array_append_new(json_object_get(out, "names"),
                              json_string(names[i]));
    ember__command_done(ctx, 0, out, NULL);
out:
    for (i = 1; i < n; i++)
        free(names_buf[i]);
    free(csr);
}


static void
cmd_cert_generate(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    char host[1024], cert[PATH_MAX], key[PATH_MAX];
    const char *names[2];
    json_t *info = NULL, *not_after;
    int rc;

    if (ember__command_host_arg(ctx, args, 1, host, sizeof(host)) < 0 ||
        cert_paths(ctx, host, cert, key, sizeof(cert), NULL) < 0)
        return;
    names[0] = host;
    names[1] = NULL;
    if ((rc = ember__cert_generate(cert, key, names, CERT_DAYS)) < 0) {
        ember__command_donef(ctx, rc,
                             "cannot write a certificate for %s at %s: %s",
                             host, cert, ember_strerror(rc));
        return;
    }
    ember__cert_info(cert, &info);
    not_after = json_object_get(info, "not_after");
    cert_install(ctx, host, cert, key,
                 json_pack("{s:O}", "not_after",
                           not_after != NULL ? not_after : json_null()));
    json_decref(info);
}


/* ---- settings: the typed fields of ember.xml ---- */

static const char *const kind_names[] = {
    [EMBER_SET_INT] = "int", [EMBER_SET_DURATION] = "duration",
    [EMBER_SET_BOOL] = "bool", [EMBER_SET_TEXT] = "text",
    [EMBER_SET_FILE] = "file", [EMBER_SET_SECRET] = "secret",
    [EMBER_SET_CHOICE] = "choice", [EMBER_SET_ADDRESS] = "address",
    [EMBER_SET_DOMAIN] = "domain",
};


/* ---- repeated elements (<listen>, <component>, <tls>): one form each ---- */

typedef struct {
    xmlNodePtr node;
    char *id;
} instance_t;

typedef struct {
    instance_t *v;
    size_t n;
} instances_t;


static void
instances_free(instances_t *in)
{
    size_t i;

    for (i = 0; i < in->n; i++)
        free(in->v[i].id);
    free(in->v);
    in->v = NULL;
    in->n = 0;
}


static int
instance_add(instances_t *in, xmlNodePtr node, const char *id)
{
    instance_t *grown = realloc(in->v, (in->n + 1) * sizeof(*grown));

    if (grown == NULL)
        return EMBER_ENOMEM;
    in->v = grown;
    if ((in->v[in->n].id = strdup(id)) == NULL)
        return EMBER_ENOMEM;
    in->v[in->n++].node = node;
    return 0;
}


/* Every instance of g in doc, in document order. */
static int
group_instances(xmlDocPtr doc, const ember_setting_group_t *g,
                instances_t *in)
{
    xmlNodePtr root = xmlDocGetRootElement(doc), k, t;
    char num[32], *v;
    size_t index = 0;
    int rc = 0;

    in->v = NULL;
    in->n = 0;
    for (k = root->children; k != NULL && rc == 0; k = k->next) {
        if (k->type != XML_ELEMENT_NODE)
            continue;
        if (g->in_host && strcmp((const char *) k->name, "host") == 0) {
            t = ember__dom_child(k, g->element, NULL, NULL, 0);
            v = (char *) xmlGetNoNsProp(k, BAD_CAST "name");
            if (t != NULL)
                rc = instance_add(in, t, v != NULL ? v : "?");
            xmlFree(v);
            continue;
        }
        if (strcmp((const char *) k->name, g->element) != 0)
            continue;
        if (g->in_host) {
            rc = instance_add(in, k, "");
        } else if (g->key != NULL) {
            v = (char *) xmlGetNoNsProp(k, BAD_CAST g->key);
            rc = instance_add(in, k, v != NULL ? v : "");
            xmlFree(v);
        } else {
            snprintf(num, sizeof(num), "%zu", index++);
            rc = instance_add(in, k, num);
        }
    }
    if (rc < 0)
        instances_free(in);
    return rc;
}


/* The descriptor of g's attribute attr, or NULL. */
static const ember_setting_t *
group_field(const ember_setting_group_t *g, const char *attr)
{
    const ember_setting_t *s;
    size_t n, i;

    s = ember__settings(&n);
    for (i = 0; i < n; i++)
        if (strcmp(s[i].element, g->element) == 0 &&
            strcmp(s[i].attr, attr) == 0)
            return &s[i];
    return NULL;
}


/* The instance of g named id in `in`, or NULL; key domains compare
 * prepared. */
static xmlNodePtr
instance_find(const instances_t *in, const ember_setting_group_t *g,
              const char *id)
{
    const ember_setting_t *key = g->key != NULL ? group_field(g, g->key)
                                                : NULL;
    char a[1024], b[1024];
    size_t i;

    for (i = 0; i < in->n; i++) {
        if (strcmp(in->v[i].id, id) == 0)
            return in->v[i].node;
        if (key != NULL && key->kind == EMBER_SET_DOMAIN &&
            ember__jid_prep_domain(in->v[i].id, a, sizeof(a)) == 0 &&
            ember__jid_prep_domain(id, b, sizeof(b)) == 0 &&
            strcmp(a, b) == 0)
            return in->v[i].node;
    }
    return NULL;
}


static json_t *
field_describe(const ember_setting_group_t *g, const ember_setting_t *s)
{
    json_t *choices = NULL;
    const char *w;
    size_t len;

    if (s->kind == EMBER_SET_CHOICE && (choices = json_array()) != NULL)
        for (w = s->choices; *w != '\0'; w += len) {
            w += strspn(w, " ");
            len = strcspn(w, " ");
            if (len > 0)
                json_array_append_new(choices, json_stringn(w, len));
        }
    return json_pack("{s:s, s:s, s:o, s:o?, s:o?, s:s, s:b, s:b, s:b, "
                     "s:o?}", "attr", s->attr,
                     "kind", kind_names[s->kind],
                     /* Other defaults of a group depend on the instance
                      * (a listener's type). */
                     "default", s->kind == EMBER_SET_BOOL
                                    ? json_boolean(s->def) : json_null(),
                     "min", s->kind == EMBER_SET_INT ? json_integer(s->lo)
                                                     : NULL,
                     "max", s->kind == EMBER_SET_INT ? json_integer(s->hi)
                                                     : NULL,
                     "help", s->help,
                     "read_only", s->kind == EMBER_SET_FILE || g->fixed,
                     "write_only", s->kind == EMBER_SET_SECRET,
                     "required", s->required != 0, "choices", choices);
}


/* An instance's attributes as the file has them, typed; secrets left
 * out (only whether one is set). */
static json_t *
instance_values(const ember_setting_group_t *g, xmlNodePtr node)
{
    const ember_setting_t *s;
    json_t *values = json_object();
    long long x;
    char *v;
    size_t n, i;

    s = ember__settings(&n);
    for (i = 0; values != NULL && i < n; i++) {
        if (strcmp(s[i].element, g->element) != 0)
            continue;
        v = (char *) xmlGetNoNsProp(node, BAD_CAST s[i].attr);
        json_object_set_new(values, s[i].attr,
            v == NULL ? json_null()
            : s[i].kind == EMBER_SET_SECRET ? json_true()
            : s[i].kind == EMBER_SET_BOOL && ember__parse_bool(v) >= 0
                ? json_boolean(ember__parse_bool(v))
            : s[i].kind == EMBER_SET_INT && ember__parse_int(v, &x) == 0
                ? json_integer(x)
            : json_string(v));
        xmlFree(v);
    }
    return values;
}


/* {"element", "title", "key", "fixed", "fields", "instances": [{"id",
 * "line", "values"}]}; a secret's value is true when set. */
static json_t *
group_describe(xmlDocPtr doc, const ember_setting_group_t *g)
{
    const ember_setting_t *s;
    json_t *fields = json_array(), *list = json_array();
    instances_t in;
    size_t n, i;

    s = ember__settings(&n);
    for (i = 0; fields != NULL && i < n; i++)
        if (strcmp(s[i].element, g->element) == 0)
            json_array_append_new(fields, field_describe(g, &s[i]));
    if (list != NULL && group_instances(doc, g, &in) == 0) {
        for (i = 0; i < in.n; i++)
            json_array_append_new(list, json_pack("{s:s, s:I, s:o}",
                "id", in.v[i].id,
                "line", (json_int_t) xmlGetLineNo(in.v[i].node),
                "values", instance_values(g, in.v[i].node)));
        instances_free(&in);
    }
    return json_pack("{s:s, s:s, s:s?, s:b, s:o, s:o}", "element",
                     g->element, "title", g->title, "key", g->key,
                     "fixed", g->fixed, "fields", fields, "instances", list);
}


/* ---- settings-set ---- */

typedef struct {
    xmlNodePtr *gone;          /* instances to remove once all is checked */
    size_t ngone;
    xmlNodePtr *secret;        /* instances whose secret this sets */
    size_t nsecret;
} edit_t;


/* A JSON value as attribute text into *text (NULL: unset). */
static int
value_text(json_t *v, char *num, size_t numlen, const char **text)
{
    if (json_is_null(v) || (json_is_string(v) && json_string_length(v) == 0))
        *text = NULL;
    else if (json_is_string(v))
        *text = json_string_value(v);
    else if (json_is_boolean(v))
        *text = json_is_true(v) ? "true" : "false";
    else if (json_is_integer(v))
        *text = (snprintf(num, numlen, "%lld",
                          (long long) json_integer_value(v)), num);
    else
        return EMBER_EINVAL;
    return 0;
}


/* Split "ELEMENT[ID]" or "ELEMENT[ID]/ATTR" (in buf) into its parts. */
static int
instance_key(char *buf, char **element, char **id, char **attr)
{
    char *open = strchr(buf, '['), *close;

    if (open == NULL || (close = strchr(open, ']')) == NULL)
        return EMBER_EINVAL;
    *open = '\0';
    *close = '\0';
    *element = buf;
    *id = open + 1;
    if (close[1] == '\0')
        *attr = NULL;
    else if (close[1] == '/' && close[2] != '\0')
        *attr = close + 2;
    else
        return EMBER_EINVAL;
    return 0;
}


/* Set (or unset, v null) attribute s of the instance `where` at node. */
static int
field_set(ember_cmd_ctx_t *ctx, edit_t *ed, const char *where,
          xmlNodePtr node, const ember_setting_t *s, json_t *v)
{
    char num[32], msg[512];
    const char *text;

    if (s->kind == EMBER_SET_FILE) {
        ember__command_donef(ctx, EMBER_EPERM, "%s/%s names a file: only "
                             "the file on disk may change it", where,
                             s->attr);
        return EMBER_EPERM;
    }
    if (value_text(v, num, sizeof(num), &text) < 0) {
        ember__command_donef(ctx, EMBER_EINVAL, "%s/%s: a string, number "
                             "or boolean", where, s->attr);
        return EMBER_EINVAL;
    }
    if (text == NULL && s->required) {
        ember__command_donef(ctx, EMBER_EINVAL, "%s/%s: required", where,
                             s->attr);
        return EMBER_EINVAL;
    }
    if (text != NULL && ember__setting_check(s, text, msg, sizeof(msg)) < 0) {
        ember__command_donef(ctx, EMBER_EINVAL, "%s/%s", where, msg);
        return EMBER_EINVAL;
    }
    if (text == NULL)
        xmlUnsetProp(node, BAD_CAST s->attr);
    else
        xmlSetProp(node, BAD_CAST s->attr, BAD_CAST text);
    if (s->kind == EMBER_SET_SECRET)
        ed->secret[ed->nsecret++] = node;
    return 0;
}


/* Every member of the object v as an attribute of the instance. */
static int
fields_set(ember_cmd_ctx_t *ctx, edit_t *ed, const char *where,
           const ember_setting_group_t *g, xmlNodePtr node, json_t *v)
{
    const ember_setting_t *s;
    const char *attr;
    json_t *x;
    int rc;

    json_object_foreach(v, attr, x) {
        if ((s = group_field(g, attr)) == NULL) {
            ember__command_donef(ctx, EMBER_EINVAL, "%s/%s: no such setting "
                                 "(`settings` lists them)", where, attr);
            return EMBER_EINVAL;
        }
        if ((rc = field_set(ctx, ed, where, node, s, x)) < 0)
            return rc;
    }
    return 0;
}


/*
 * One member of settings-set's values naming an instance: "E[ID]/ATTR":
 * value sets one attribute; "E[ID]": {attr: value ...} sets several, and
 * adds the instance when no instance is named ID (the key attribute
 * takes ID); "E[ID]": null removes it.  Removals wait in ed until every
 * member is checked, so that places ("listen[2]") keep naming what
 * `settings` listed.
 */
static int
instance_apply(ember_cmd_ctx_t *ctx, edit_t *ed, xmlDocPtr doc,
               const char *key, json_t *v)
{
    const ember_setting_group_t *g;
    const ember_setting_t *s, *all;
    char buf[1100], where[1100], *element, *id, *attr;
    xmlNodePtr node, root = xmlDocGetRootElement(doc);
    instances_t in;
    json_t *idv;
    size_t n, i;
    int rc;

    if (strlen(key) >= sizeof(buf) ||
        instance_key(strcpy(buf, key), &element, &id, &attr) < 0 ||
        (g = ember__setting_group(element)) == NULL) {
        ember__command_donef(ctx, EMBER_EINVAL, "%s: no such setting "
                             "(`settings` lists them)", key);
        return EMBER_EINVAL;
    }
    snprintf(where, sizeof(where), "%s[%s]", element, id);
    if ((rc = group_instances(doc, g, &in)) < 0) {
        ember__command_done(ctx, rc, NULL, NULL);
        return rc;
    }
    node = instance_find(&in, g, id);
    instances_free(&in);
    if (attr != NULL || json_is_null(v)) {
        if (node == NULL) {
            ember__command_donef(ctx, EMBER_ENOENT, "%s: no such %s "
                                 "(`settings` lists them)", where, element);
            return EMBER_ENOENT;
        }
        if (attr != NULL && (s = group_field(g, attr)) == NULL) {
            ember__command_donef(ctx, EMBER_EINVAL, "%s/%s: no such setting "
                                 "(`settings` lists them)", where, attr);
            return EMBER_EINVAL;
        }
        if (attr != NULL)
            return field_set(ctx, ed, where, node, s, v);
        if (g->fixed) {
            ember__command_donef(ctx, EMBER_EPERM, "%s names files: only "
                                 "the file on disk may remove it", where);
            return EMBER_EPERM;
        }
        ed->gone[ed->ngone++] = node;
        return 0;
    }
    if (!json_is_object(v)) {
        ember__command_donef(ctx, EMBER_EINVAL, "%s: an object of "
                             "attributes, or null to remove it", where);
        return EMBER_EINVAL;
    }
    if (node != NULL)
        return fields_set(ctx, ed, where, g, node, v);
    if (g->fixed) {
        ember__command_donef(ctx, EMBER_EPERM, "%s names files: only the "
                             "file on disk may add one", where);
        return EMBER_EPERM;
    }
    if ((node = xmlNewNode(NULL, BAD_CAST g->element)) == NULL) {
        ember__command_done(ctx, EMBER_ENOMEM, NULL, NULL);
        return EMBER_ENOMEM;
    }
    ember__dom_insert(root, node);
    if (g->key != NULL && json_object_get(v, g->key) == NULL) {
        idv = json_string(id);
        rc = field_set(ctx, ed, where, node, group_field(g, g->key), idv);
        json_decref(idv);
        if (rc < 0)
            return rc;
    }
    if ((rc = fields_set(ctx, ed, where, g, node, v)) < 0)
        return rc;
    all = ember__settings(&n);
    for (i = 0; i < n; i++)
        if (strcmp(all[i].element, g->element) == 0 && all[i].required &&
            !xmlHasProp(node, BAD_CAST all[i].attr)) {
            ember__command_donef(ctx, EMBER_EINVAL, "%s/%s: required for a "
                                 "new %s", where, all[i].attr, element);
            return EMBER_EINVAL;
        }
    return 0;
}


/* Every secret in doc replaced by "(secret)", or "(new secret)" on the
 * instances ed sets one of: what a dry run shows. */
static void
secrets_mask(xmlDocPtr doc, const edit_t *ed)
{
    const ember_setting_group_t *g;
    const ember_setting_t *s;
    instances_t in;
    size_t ng, n, i, j, k;
    int fresh;

    g = ember__setting_groups(&ng);
    s = ember__settings(&n);
    for (i = 0; i < ng; i++) {
        if (group_instances(doc, &g[i], &in) < 0)
            continue;
        for (j = 0; j < in.n; j++) {
            fresh = 0;
            for (k = 0; ed != NULL && k < ed->nsecret; k++)
                fresh |= ed->secret[k] == in.v[j].node;
            for (k = 0; k < n; k++)
                if (s[k].kind == EMBER_SET_SECRET &&
                    strcmp(s[k].element, g[i].element) == 0 &&
                    xmlHasProp(in.v[j].node, BAD_CAST s[k].attr))
                    xmlSetProp(in.v[j].node, BAD_CAST s[k].attr,
                               BAD_CAST (fresh ? "(new secret)"
                                               : "(secret)"));
        }
        instances_free(&in);
    }
}


/* values with every secret it sets as "(secret)": for the audit log. */
static json_t *
secrets_hidden(json_t *args)
{
    json_t *copy = json_deep_copy(args), *values, *v, *x;
    const ember_setting_group_t *g;
    const ember_setting_t *s;
    const char *key, *attr;
    char buf[1100], *element, *id, *a;

    values = json_object_get(copy, "values");
    json_object_foreach(values, key, v) {
        if (strlen(key) >= sizeof(buf) ||
            instance_key(strcpy(buf, key), &element, &id, &a) < 0 ||
            (g = ember__setting_group(element)) == NULL)
            continue;
        if (a != NULL && (s = group_field(g, a)) != NULL &&
            s->kind == EMBER_SET_SECRET && !json_is_null(v))
            json_object_set_new(values, key, json_string("(secret)"));
        if (a == NULL && json_is_object(v))
            json_object_foreach(v, attr, x)
                if ((s = group_field(g, attr)) != NULL &&
                    s->kind == EMBER_SET_SECRET && !json_is_null(x))
                    json_object_set_new(v, attr, json_string("(secret)"));
    }
    return copy;
}


/* The file as a dry run shows it: secrets masked. */
static char *
masked_text(xmlDocPtr doc, const edit_t *ed)
{
    xmlChar *buf = NULL;
    char *out;
    int len = 0;

    secrets_mask(doc, ed);
    xmlDocDumpMemoryEnc(doc, &buf, &len, "UTF-8");
    out = buf != NULL ? strdup((const char *) buf) : NULL;
    xmlFree(buf);
    return out;
}


static void
cmd_settings(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    const ember_config_t *cfg = ember__config();
    const ember_setting_group_t *g;
    const ember_setting_t *s;
    json_t *list = json_array(), *def;
    char err[1024];
    xmlDocPtr doc;
    size_t n, i;

    if ((doc = ember__dom_load(err, sizeof(err))) == NULL) {
        json_decref(list);
        ember__command_donef(ctx, EMBER_EIO, "%s", err);
        return;
    }
    s = ember__settings(&n);
    for (i = 0; list != NULL && i < n; i++) {
        if (ember__setting_group(s[i].element) != NULL)
            continue;
        def = s[i].size == 0 ? json_null()
            : s[i].kind == EMBER_SET_BOOL ? json_boolean(s[i].def)
            : json_integer(s[i].def);
        json_array_append_new(list, json_pack(
            "{s:s, s:s, s:s, s:o, s:o, s:o?, s:o?, s:s, s:b}",
            "element", s[i].element, "attr", s[i].attr,
            "kind", kind_names[s[i].kind],
            "value", ember__setting_value(cfg, &s[i]), "default", def,
            "min", s[i].size > 0 && s[i].kind != EMBER_SET_BOOL
                       ? json_integer(s[i].lo) : NULL,
            "max", s[i].size > 0 && s[i].kind != EMBER_SET_BOOL
                       ? json_integer(s[i].hi) : NULL,
            "help", s[i].help, "read_only", s[i].kind == EMBER_SET_FILE));
    }
    g = ember__setting_groups(&n);
    for (i = 0; list != NULL && i < n; i++)
        json_array_append_new(list, group_describe(doc, &g[i]));
    xmlFreeDoc(doc);
    ember__command_done(ctx, list != NULL ? 0 : EMBER_ENOMEM, list, NULL);
}


/* "element/attr" of an element that appears once, or NULL. */
static const ember_setting_t *
setting_named(const char *key)
{
    const ember_setting_t *s;
    const char *slash = strchr(key, '/');
    size_t n, i;

    s = ember__settings(&n);
    for (i = 0; slash != NULL && i < n; i++)
        if (strlen(s[i].element) == (size_t) (slash - key) &&
            strncmp(s[i].element, key, (size_t) (slash - key)) == 0 &&
            strcmp(s[i].attr, slash + 1) == 0 &&
            ember__setting_group(s[i].element) == NULL)
            return &s[i];
    return NULL;
}


/* Set one attribute in doc (NULL text: back to the default). */
static int
setting_apply(xmlDocPtr doc, const ember_setting_t *s, const char *text,
              char *msg, size_t msglen)
{
    xmlNodePtr root = xmlDocGetRootElement(doc), el;

    if (text != NULL && ember__setting_check(s, text, msg, msglen) < 0)
        return EMBER_EINVAL;
    if ((el = ember__dom_child(root, s->element, NULL, NULL, 0)) == NULL) {
        if (text == NULL)
            return 0;
        if ((el = xmlNewNode(NULL, BAD_CAST s->element)) == NULL)
            return EMBER_ENOMEM;
        ember__dom_insert(root, el);
    }
    if (text == NULL)
        xmlUnsetProp(el, BAD_CAST s->attr);
    else
        xmlSetProp(el, BAD_CAST s->attr, BAD_CAST text);
    return 0;
}


/* A member "element/attr" of settings-set's values. */
static int
single_apply(ember_cmd_ctx_t *ctx, xmlDocPtr doc, const char *key,
             json_t *v)
{
    const ember_setting_t *s;
    char num[32], msg[512];
    const char *text;
    int rc;

    if ((s = setting_named(key)) == NULL) {
        ember__command_donef(ctx, EMBER_EINVAL, "%s: no such setting "
                             "(`settings` lists them)", key);
        return EMBER_EINVAL;
    }
    if (s->kind == EMBER_SET_FILE) {
        ember__command_donef(ctx, EMBER_EPERM, "%s names a file: only "
                             "the file on disk may change it", key);
        return EMBER_EPERM;
    }
    if (value_text(v, num, sizeof(num), &text) < 0) {
        ember__command_donef(ctx, EMBER_EINVAL, "%s: a string, number "
                             "or boolean", key);
        return EMBER_EINVAL;
    }
    if ((rc = setting_apply(doc, s, text, msg, sizeof(msg))) < 0)
        ember__command_donef(ctx, rc, "%s/%s", s->element, msg);
    return rc;
}


static void
cmd_settings_set(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    json_t *values = json_object_get(args, "values"), *v;
    int dry = json_is_true(json_object_get(args, "dry_run"));
    char err[1024], msg[512], *shown = NULL, *before = NULL;
    edit_t ed = { NULL, 0, NULL, 0 };
    xmlDocPtr doc, old;
    xmlChar *buf = NULL;
    const char *key;
    long line = 0;
    int len = 0, rc = 0;
    size_t i, j;

    if (!json_is_object(values)) {
        ember__command_done(ctx, EMBER_EINVAL, NULL, "values: a JSON object "
                            "{\"element/attr\": value, \"element[id]/attr\": "
                            "value, \"element[id]\": {...} or null}");
        return;
    }
    ember__command_audit_args(ctx, secrets_hidden(args));
    if ((doc = ember__dom_load(err, sizeof(err))) == NULL) {
        ember__command_donef(ctx, EMBER_EIO, "%s", err);
        return;
    }
    ed.gone = calloc(json_object_size(values) + 1, sizeof(*ed.gone));
    ed.secret = calloc(json_object_size(values) + 1, sizeof(*ed.secret));
    if (ed.gone == NULL || ed.secret == NULL) {
        ember__command_done(ctx, EMBER_ENOMEM, NULL, NULL);
        goto out;
    }
    json_object_foreach(values, key, v)
        if ((rc = strchr(key, '[') != NULL
                  ? instance_apply(ctx, &ed, doc, key, v)
                  : single_apply(ctx, doc, key, v)) < 0)
            goto out;
    for (i = 0; i < ed.ngone; i++) {
        for (j = 0; j < ed.nsecret; j++)
            if (ed.secret[j] == ed.gone[i])
                ed.secret[j] = NULL;
        ember__dom_remove(ed.gone[i]);
    }
    if (!dry) {
        ember__dom_commit(ctx, doc, NULL);
        doc = NULL;
        goto out;
    }
    xmlDocDumpMemoryEnc(doc, &buf, &len, "UTF-8");
    if (buf == NULL) {
        ember__command_done(ctx, EMBER_ENOMEM, NULL, NULL);
        goto out;
    }
    rc = ember__config_check_text((const char *) buf, 1, &line, msg,
                                  sizeof(msg));
    xmlFree(buf);
    shown = masked_text(doc, &ed);
    if ((old = ember__dom_load(err, sizeof(err))) != NULL) {
        before = masked_text(old, NULL);
        xmlFreeDoc(old);
    }
    if (shown == NULL || before == NULL)
        ember__command_done(ctx, EMBER_ENOMEM, NULL, NULL);
    else
        ember__command_done(ctx, 0, json_pack("{s:s, s:s, s:b, s:s?, s:I}",
                            "text", shown, "before", before, "ok", rc == 0,
                            "message", rc == 0 ? NULL : msg,
                            "line", (json_int_t) line), NULL);
out:
    free(shown);
    free(before);
    free(ed.gone);
    free(ed.secret);
    xmlFreeDoc(doc);
}


/* ---- the table ---- */

static const ember_cmd_arg_t args_bare[] = {
    { "jid", EMBER_ARG_JID, 1, "the account, user@host" },
    { NULL, 0, 0, NULL }
};
static const ember_cmd_arg_t args_text[] = {
    { "text", EMBER_ARG_STRING, 1, "the whole config file" },
    { NULL, 0, 0, NULL }
};
static const ember_cmd_arg_t args_module[] = {
    { "name", EMBER_ARG_STRING, 1, "module name" },
    { "host", EMBER_ARG_STRING, 0, "virtual host (absent: global)" },
    { NULL, 0, 0, NULL }
};
static const ember_cmd_arg_t args_configure[] = {
    { "name", EMBER_ARG_STRING, 1, "module name" },
    { "options", EMBER_ARG_JSON, 1, "{\"option\": value, ...}; null "
      "restores the default" },
    { "host", EMBER_ARG_STRING, 0, "virtual host (absent: global)" },
    { NULL, 0, 0, NULL }
};
static const ember_cmd_arg_t args_upload[] = {
    { "host", EMBER_ARG_STRING, 1, "a virtual host of the config" },
    { "cert", EMBER_ARG_STRING, 1, "PEM certificate, leaf first (chain "
      "allowed)" },
    { "key", EMBER_ARG_SECRET, 0, "PEM private key, unencrypted "
      "(absent: the key of the host's pending cert-request)" },
    { NULL, 0, 0, NULL }
};
static const ember_cmd_arg_t args_request[] = {
    { "host", EMBER_ARG_STRING, 1, "a virtual host of the config" },
    { "names", EMBER_ARG_STRING, 0, "more names under the host, comma "
      "separated (conference.HOST, upload.HOST ...)" },
    { NULL, 0, 0, NULL }
};
static const ember_cmd_arg_t args_settings_set[] = {
    { "values", EMBER_ARG_JSON, 1, "{\"limits/idle-timeout\": \"10m\", "
      "\"s2s/bidi\": false, \"listen[0]/port\": 5300, \"component[irc."
      "example.org]\": {\"secret\": \"...\"}, \"listen[1]\": null, ...}; "
      "null or \"\" restores the default, an object adds or changes an "
      "instance, null removes it" },
    { "dry_run", EMBER_ARG_BOOL, 0, "only return the new config text and "
      "whether it checks, write nothing" },
    { NULL, 0, 0, NULL }
};
static const ember_cmd_arg_t args_host[] = {
    { "host", EMBER_ARG_STRING, 1, "a virtual host of the config" },
    { NULL, 0, 0, NULL }
};

/* config-get and module-options show secrets as they are written
 * (component secrets, a conninfo password, a TURN secret): permission
 * "admin" rather than "read" puts each reading in the audit log. */
static const ember_command_t config_commands[] = {
    { "config-get", "The config file as it is on disk", NULL, "admin",
      cmd_config_get },
    { "config-check", "Check config text without writing it", args_text,
      "read", cmd_config_check },
    { "config-set", "Check, write (FILE.bak kept) and reload the config",
      args_text, "admin", cmd_config_set },
    { "module-options", "A module's options: type, default, current value",
      args_module, "admin", cmd_module_options },
    { "module-configure", "Set a module's options in the config, reload",
      args_configure, "admin", cmd_module_configure },
    { "module-enable", "Enable a module in the config, reload", args_module,
      "admin", cmd_module_enable },
    { "module-disable", "Remove a module from the config, reload",
      args_module, "admin", cmd_module_disable },
    { "module-reload", "Unload and load one module instance again",
      args_module, "admin", cmd_module_reload },
    { "admins", "The admin JIDs of the config", NULL, "read", cmd_admins },
    { "admin-add", "Make a JID an admin (config), reload", args_bare,
      "admin", cmd_admin_add },
    { "admin-remove", "Remove an admin JID (config), reload", args_bare,
      "admin", cmd_admin_remove },
    { "cert-upload", "Install a host's certificate and key, reload",
      args_upload, "admin", cmd_cert_upload },
    { "cert-generate", "New self-signed certificate for a host, reload",
      args_host, "admin", cmd_cert_generate },
    { "settings", "The typed settings of the config: <limits>, <s2s>, and "
      "each listener, component and certificate (type, value, default, "
      "range, help)", NULL, "read", cmd_settings },
    { "settings-set", "Change, add or remove settings and instances in the "
      "config (a dry run shows the new text), reload", args_settings_set,
      "admin", cmd_settings_set },
    { "cert-request", "New key and a signing request (CSR) for a host's "
      "certificate; cert-upload then takes the CA's certificate alone",
      args_request, "admin", cmd_cert_request },
};


void
ember__commands_config_init(const ember__server_ops_t *ops)
{
    size_t i;
    int rc;

    ember__config_edit_init(ops);
    for (i = 0; i < sizeof(config_commands) / sizeof(config_commands[0]);
         i++)
        if ((rc = ember__command_register(NULL, &config_commands[i], NULL))
            < 0 && rc != EMBER_EEXIST)
            LOG_E("command %s: %s", config_commands[i].name,
                  ember_strerror(rc));
}
