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


/* ---- settings: <limits> and <s2s> as typed fields ---- */

static const char *const kind_names[] = {
    [EMBER_SET_INT] = "int", [EMBER_SET_DURATION] = "duration",
    [EMBER_SET_BOOL] = "bool", [EMBER_SET_TEXT] = "text",
    [EMBER_SET_FILE] = "file",
};


static void
cmd_settings(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    const ember_config_t *cfg = ember__config();
    const ember_setting_t *s;
    json_t *list = json_array(), *def;
    size_t n, i;

    s = ember__settings(&n);
    for (i = 0; list != NULL && i < n; i++) {
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
    ember__command_done(ctx, list != NULL ? 0 : EMBER_ENOMEM, list, NULL);
}


/* "element/attr" of the table, or NULL. */
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
            strcmp(s[i].attr, slash + 1) == 0)
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


static void
cmd_settings_set(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    json_t *values = json_object_get(args, "values"), *v;
    int dry = json_is_true(json_object_get(args, "dry_run"));
    const ember_setting_t *s;
    char err[1024], num[32], msg[512];
    const char *key, *text;
    xmlChar *buf = NULL;
    xmlDocPtr doc;
    long line = 0;
    int len = 0, rc;

    if (!json_is_object(values)) {
        ember__command_done(ctx, EMBER_EINVAL, NULL, "values: a JSON object "
                            "{\"element/attr\": value}");
        return;
    }
    if ((doc = ember__dom_load(err, sizeof(err))) == NULL) {
        ember__command_donef(ctx, EMBER_EIO, "%s", err);
        return;
    }
    json_object_foreach(values, key, v) {
        if ((s = setting_named(key)) == NULL) {
            ember__command_donef(ctx, EMBER_EINVAL, "%s: no such setting "
                                 "(`settings` lists them)", key);
            goto fail;
        }
        if (s->kind == EMBER_SET_FILE) {
            ember__command_donef(ctx, EMBER_EPERM, "%s names a file: only "
                                 "the file on disk may change it", key);
            goto fail;
        }
        if (json_is_null(v) || (json_is_string(v) &&
                                json_string_length(v) == 0))
            text = NULL;
        else if (json_is_string(v))
            text = json_string_value(v);
        else if (json_is_boolean(v))
            text = json_is_true(v) ? "true" : "false";
        else if (json_is_integer(v))
            text = (snprintf(num, sizeof(num), "%lld",
                             (long long) json_integer_value(v)), num);
        else {
            ember__command_donef(ctx, EMBER_EINVAL, "%s: a string, number "
                                 "or boolean", key);
            goto fail;
        }
        if ((rc = setting_apply(doc, s, text, msg, sizeof(msg))) < 0) {
            ember__command_donef(ctx, rc, "%s/%s", s->element, msg);
            goto fail;
        }
    }
    if (!dry) {
        ember__dom_commit(ctx, doc, NULL);
        return;
    }
    xmlDocDumpMemoryEnc(doc, &buf, &len, "UTF-8");
    xmlFreeDoc(doc);
    if (buf == NULL) {
        ember__command_done(ctx, EMBER_ENOMEM, NULL, NULL);
        return;
    }
    rc = ember__config_check_text((const char *) buf, 1, &line, msg,
                                  sizeof(msg));
    ember__command_done(ctx, 0, json_pack("{s:s, s:b, s:s?, s:I}",
                        "text", (const char *) buf, "ok", rc == 0,
                        "message", rc == 0 ? NULL : msg,
                        "line", (json_int_t) line), NULL);
    xmlFree(buf);
    return;
fail:
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
      "\"s2s/bidi\": false, ...}; null or \"\" restores the default" },
    { "dry_run", EMBER_ARG_BOOL, 0, "only return the new config text and "
      "whether it checks, write nothing" },
    { NULL, 0, 0, NULL }
};
static const ember_cmd_arg_t args_host[] = {
    { "host", EMBER_ARG_STRING, 1, "a virtual host of the config" },
    { NULL, 0, 0, NULL }
};

static const ember_command_t config_commands[] = {
    { "config-get", "The config file as it is on disk", NULL, "read",
      cmd_config_get },
    { "config-check", "Check config text without writing it", args_text,
      "read", cmd_config_check },
    { "config-set", "Check, write (FILE.bak kept) and reload the config",
      args_text, "admin", cmd_config_set },
    { "module-options", "A module's options: type, default, current value",
      args_module, "read", cmd_module_options },
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
    { "settings", "The settings of <limits> and <s2s>: type, value, "
      "default, range, help", NULL, "read", cmd_settings },
    { "settings-set", "Change settings of <limits> and <s2s> in the config "
      "(a dry run shows the new text), reload", args_settings_set, "admin",
      cmd_settings_set },
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
