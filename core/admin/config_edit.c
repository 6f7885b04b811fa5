/* core/admin/config_edit.c -- the one path every config change takes:
 * edit the text (or its DOM), check it as `emberctl check` would, write
 * it atomically keeping FILE.bak, reload. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

#include "admin/config_edit.h"
#include "base/config.h"
#include "base/options.h"
#include "base/jid.h"
#include "base/log.h"
#include "base/process.h"
#include "runtime/commands.h"
#include "runtime/modules.h"

#define CONFIG_MAX_SIZE (1 << 20)

static const ember__server_ops_t *server_ops;


void
ember__config_edit_init(const ember__server_ops_t *ops)
{
    server_ops = ops;
}


/* The running config's file, whole; NULL with a message in err. */
char *
ember__config_read(size_t *len, char *err, size_t errlen)
{
    const ember_config_t *cfg = ember__config();
    char *text = NULL;
    FILE *f;
    long n = 0;

    if (cfg == NULL) {
        snprintf(err, errlen, "no configuration loaded");
        return NULL;
    }
    if ((f = fopen(cfg->path, "rb")) == NULL) {
        snprintf(err, errlen, "%s: %s", cfg->path, strerror(errno));
        return NULL;
    }
    if (fseek(f, 0, SEEK_END) < 0 || (n = ftell(f)) < 0 ||
        n > CONFIG_MAX_SIZE || fseek(f, 0, SEEK_SET) < 0 ||
        (text = malloc((size_t) n + 1)) == NULL ||
        fread(text, 1, (size_t) n, f) != (size_t) n) {
        snprintf(err, errlen, "%s: cannot read (%s)", cfg->path,
                 n > CONFIG_MAX_SIZE ? "too large" : strerror(errno));
        free(text);
        fclose(f);
        return NULL;
    }
    fclose(f);
    text[n] = '\0';
    *len = (size_t) n;
    return text;
}


/*
 * Check config text as `check` checks a file: written to a temporary file
 * next to the running one (so relative paths mean the same), loaded,
 * every module opened.  0, or EMBER_EINVAL with *line and msg (the
 * message without the file name), or another error with msg.
 */
static int
same_text(const char *a, const char *b)
{
    return (a == NULL && b == NULL) ||
           (a != NULL && b != NULL && strcmp(a, b) == 0);
}


/* A host's certificate path: unchanged, or the one cert-upload and
 * cert-generate write in the data directory. */
static int
host_cert_ok(const ember_config_t *cfg, const char *host, const char *was,
             const char *now, const char *ext)
{
    char own[PATH_MAX];

    snprintf(own, sizeof(own), "%s/tls/%s.%s", cfg->data_dir, host, ext);
    return same_text(was, now) || (now != NULL && strcmp(now, own) == 0);
}


/*
 * What of the options that name files or load code differs between the
 * running config and new, in what; 0 when nothing.  Only the file on
 * disk may change them: through an admin command, a console admin could
 * read or write any file of the server's user, or run code.
 */
static int
guarded_change(const ember_config_t *old, const ember_config_t *new,
               char *what, size_t len)
{
    const ember_host_conf_t *h, *was;
    size_t i;

    if (!same_text(old->log_file, new->log_file))
        return snprintf(what, len, "<log file>"), 1;
    if (!same_text(old->data_dir, new->data_dir))
        return snprintf(what, len, "<paths data>"), 1;
    if (!same_text(old->control_socket, new->control_socket))
        return snprintf(what, len, "<paths control-socket>"), 1;
    for (i = 0; old->plugin_dirs[i] != NULL || new->plugin_dirs[i] != NULL;
         i++)
        if (!same_text(old->plugin_dirs[i], new->plugin_dirs[i]))
            return snprintf(what, len, "<plugins dir>"), 1;
    if (!same_text(old->cert_file, new->cert_file) ||
        !same_text(old->key_file, new->key_file))
        return snprintf(what, len, "<tls cert key>"), 1;
    if (!same_text(old->run_user, new->run_user) ||
        !same_text(old->run_group, new->run_group))
        return snprintf(what, len, "<run-as>"), 1;
    if (!same_text(old->s2s.ca_file, new->s2s.ca_file))
        return snprintf(what, len, "<s2s ca-file>"), 1;
    if (old->s2s.dane != new->s2s.dane ||
        !same_text(old->s2s.trust_anchor, new->s2s.trust_anchor))
        return snprintf(what, len, "<s2s dane trust-anchor>"), 1;
    for (h = new->hosts; h != NULL; h = h->next) {
        was = ember__config_host((ember_config_t *) old, h->name);
        if (!host_cert_ok(old, h->name, was != NULL ? was->cert_file : NULL,
                          h->cert_file, "pem") ||
            !host_cert_ok(old, h->name, was != NULL ? was->key_file : NULL,
                          h->key_file, "key"))
            return snprintf(what, len, "<tls cert key> of host %s",
                            h->name), 1;
    }
    return 0;
}


/*
 * EMBER_EPERM with msg when the file at tmp changes a guarded option (the
 * modules' own path options with modules, once their plugins checked),
 * else 0; a file that does not load is left to the check to report.
 */
static int
check_guarded(const ember_config_t *cfg, const char *tmp, int modules,
              char *msg, size_t msglen)
{
    ember_config_t *new;
    char err[512], what[256];
    int changed;

    if (ember__config_load(tmp, &new, err, sizeof(err)) < 0)
        return 0;
    what[0] = '\0';
    changed = modules ? ember__module_paths_changed(cfg, new, what,
                                                    sizeof(what))
                      : guarded_change(cfg, new, what, sizeof(what));
    ember__config_free(new);
    if (!changed)
        return 0;
    snprintf(msg, msglen, "%s names files or code: it changes only in the "
             "config file %s on disk, not through an admin command", what,
             cfg->path);
    return EMBER_EPERM;
}


int
ember__config_check_text(const char *text, int guarded, long *line,
                         char *msg, size_t msglen)
{
    const ember_config_t *cfg = ember__config();
    char tmp[PATH_MAX], err[1024], *end;
    const char *p;
    size_t tlen;
    int fd, rc;

    *line = 0;
    msg[0] = '\0';
    if (cfg == NULL) {
        snprintf(msg, msglen, "no configuration loaded");
        return EMBER_ESTATE;
    }
    if (strlen(text) > CONFIG_MAX_SIZE) {
        snprintf(msg, msglen, "config text larger than %d bytes",
                 CONFIG_MAX_SIZE);
        return EMBER_EINVAL;
    }
    snprintf(tmp, sizeof(tmp), "%s/.ember-check-XXXXXX", cfg->dir);
    if ((fd = mkstemp(tmp)) < 0) {
        snprintf(msg, msglen, "cannot create a temporary file in %s: %s",
                 cfg->dir, strerror(errno));
        return EMBER_EIO;
    }
    rc = ember__write_all(fd, text, strlen(text));
    if (close(fd) < 0 || rc < 0) {
        snprintf(msg, msglen, "cannot write %s: %s", tmp, strerror(errno));
        unlink(tmp);
        return EMBER_EIO;
    }
    err[0] = '\0';
    /* Before the check opens the plugins the new text names. */
    if (guarded && (rc = check_guarded(cfg, tmp, 0, msg, msglen)) != 0) {
        unlink(tmp);
        ember__config_use_data_dir(cfg->data_dir);
        return rc;
    }
    rc = ember__modules_check_file(tmp, err, sizeof(err));
    if (rc == 0 && guarded)
        rc = check_guarded(cfg, tmp, 1, msg, msglen);
    unlink(tmp);
    if (rc == EMBER_EPERM) {
        ember__config_use_data_dir(cfg->data_dir);
        return rc;
    }
    /* The check loaded another config: paths stay the running one's. */
    ember__config_use_data_dir(cfg->data_dir);
    if (rc == 0)
        return 0;
    p = err;
    tlen = strlen(tmp);
    if (strncmp(p, tmp, tlen) == 0 && p[tlen] == ':') {
        p += tlen + 1;
        *line = strtol(p, &end, 10);
        if (end != p && *end == ':') {
            p = end + 1;
            while (*p == ' ')
                p++;
        } else {
            *line = 0;
        }
    }
    snprintf(msg, msglen, "%s", *p != '\0' ? p : ember_strerror(rc));
    return rc == EMBER_ENOMEM ? rc : EMBER_EINVAL;
}


/* "ok", or why the reload failed (a new JSON string). */
static json_t *
reload_now(void)
{
    char err[1024];

    if (ember__server_offline())
        return json_string("emberd is not running: the file is written, "
                           "it applies at the next start");
    err[0] = '\0';
    if (server_ops->reload(err, sizeof(err)) < 0)
        return json_string(err[0] != '\0' ? err : "reload failed");
    return json_string("ok");
}


/*
 * Check text, write it over the config file (the previous one kept as
 * FILE.bak), reload, and finish ctx with {"ok": true, "reload": ...}
 * plus the members of extra (stolen).
 */
void
ember__config_commit(ember_cmd_ctx_t *ctx, const char *text, json_t *extra)
{
    const ember_config_t *cfg = ember__config();
    char msg[1024], err[1024];
    json_t *res;
    long line;
    int rc;

    if ((rc = ember__config_check_text(text, ember__command_caller(ctx) !=
                                       EMBER_CALLER_LOCAL, &line, msg,
                                       sizeof(msg))) < 0) {
        if (rc == EMBER_EINVAL && line > 0)
            ember__command_donef(ctx, rc, "line %ld: %s", line, msg);
        else
            ember__command_donef(ctx, rc, "%s", msg);
        goto out;
    }
    if ((rc = ember__write_atomic(cfg->path, text, strlen(text), -1, 1, err,
                                  sizeof(err))) < 0) {
        ember__command_donef(ctx, rc, "%s", err);
        goto out;
    }
    ember__log(EMBER_LOG_INFO, "core", "%s rewritten by an admin command "
               "(previous version in %s.bak)", cfg->path, cfg->path);
    res = json_pack("{s:b, s:o}", "ok", 1, "reload", reload_now());
    if (res != NULL && extra != NULL)
        json_object_update(res, extra);
    ember__command_done(ctx, res != NULL ? 0 : EMBER_ENOMEM, res, NULL);
out:
    json_decref(extra);
}


static void
dom_quiet(void *ud, xmlErrorPtr e)
{
}


/* The running config file as a DOM, or NULL with a message. */
xmlDocPtr
ember__dom_load(char *err, size_t errlen)
{
    xmlStructuredErrorFunc old_fn = xmlStructuredError;
    void *old_ud = xmlStructuredErrorContext;
    xmlDocPtr doc;
    xmlNodePtr root;
    size_t len;
    char *text;

    if ((text = ember__config_read(&len, err, errlen)) == NULL)
        return NULL;
    xmlSetStructuredErrorFunc(NULL, dom_quiet);
    doc = xmlReadMemory(text, (int) len, ember__config()->path, NULL,
                        XML_PARSE_NONET | XML_PARSE_NOERROR |
                        XML_PARSE_NOWARNING | XML_PARSE_BIG_LINES);
    xmlSetStructuredErrorFunc(old_ud, old_fn);
    free(text);
    root = doc != NULL ? xmlDocGetRootElement(doc) : NULL;
    if (root == NULL || strcmp((const char *) root->name, "ember") != 0) {
        snprintf(err, errlen, "%s: not an Ember config (edit it with "
                 "config-set)", ember__config()->path);
        xmlFreeDoc(doc);
        return NULL;
    }
    return doc;
}


static int
dom_is(xmlNodePtr n, const char *name)
{
    return n->type == XML_ELEMENT_NODE &&
           strcmp((const char *) n->name, name) == 0;
}


/* Attribute `attr` of n equals value (after prep when prep_domain). */
static int
dom_attr_is(xmlNodePtr n, const char *attr, const char *value, int kind)
{
    xmlChar *v = xmlGetNoNsProp(n, (const xmlChar *) attr);
    char prepped[1024];
    ember_jid_t *j;
    int same = 0;

    if (v == NULL)
        return 0;
    if (kind == 1 && ember__jid_prep_domain((const char *) v, prepped,
                                            sizeof(prepped)) == 0)
        same = strcmp(prepped, value) == 0;
    else if (kind == 2 && (j = ember__jid_parse((const char *) v)) != NULL) {
        same = strcmp(ember__jid_full(j), value) == 0;
        ember__jid_free(j);
    } else if (kind == 0)
        same = strcmp((const char *) v, value) == 0;
    xmlFree(v);
    return same;
}


/* First child element of parent named `name` whose `attr` is value. */
xmlNodePtr
ember__dom_child(xmlNodePtr parent, const char *name, const char *attr,
                 const char *value, int kind)
{
    xmlNodePtr n;

    for (n = parent->children; n != NULL; n = n->next)
        if (dom_is(n, name) &&
            (attr == NULL || dom_attr_is(n, attr, value, kind)))
            return n;
    return NULL;
}


/* The element that holds modules: <ember>, or <host> when host is set. */
xmlNodePtr
ember__dom_scope(xmlDocPtr doc, const char *host)
{
    xmlNodePtr root = xmlDocGetRootElement(doc);

    if (host == NULL || *host == '\0')
        return root;
    return ember__dom_child(root, "host", "name", host, 1);
}


static int
blank_text(xmlNodePtr n)
{
    return n != NULL && n->type == XML_TEXT_NODE && xmlIsBlankNode(n);
}


/* Append node as the last element of parent, indented like its siblings. */
void
ember__dom_insert(xmlNodePtr parent, xmlNodePtr node)
{
    xmlNodePtr last = NULL, k, ws;
    char indent[64], child[80];

    for (k = parent->children; k != NULL; k = k->next)
        if (k->type == XML_ELEMENT_NODE)
            last = k;
    if (last != NULL) {
        ws = xmlNewText(blank_text(last->prev) ? last->prev->content
                                               : (const xmlChar *) "\n  ");
        xmlAddNextSibling(last, node);
        /* Before node, not after last: libxml2 merges adjacent text. */
        if (ws != NULL)
            xmlAddPrevSibling(node, ws);
        return;
    }
    snprintf(indent, sizeof(indent), "%s",
             blank_text(parent->prev) ? (const char *) parent->prev->content
                                      : "\n");
    snprintf(child, sizeof(child), "%s  ", indent);
    xmlAddChild(parent, xmlNewText(BAD_CAST child));
    xmlAddChild(parent, node);
    xmlAddChild(parent, xmlNewText(BAD_CAST indent));
}


void
ember__dom_remove(xmlNodePtr node)
{
    xmlNodePtr ws = node->prev;

    if (blank_text(ws)) {
        xmlUnlinkNode(ws);
        xmlFreeNode(ws);
    }
    xmlUnlinkNode(node);
    xmlFreeNode(node);
}


/* Serialize doc and commit it (config_commit); frees doc. */
void
ember__dom_commit(ember_cmd_ctx_t *ctx, xmlDocPtr doc, json_t *extra)
{
    xmlChar *buf = NULL;
    int len = 0;

    xmlDocDumpMemoryEnc(doc, &buf, &len, "UTF-8");
    xmlFreeDoc(doc);
    if (buf == NULL) {
        json_decref(extra);
        ember__command_done(ctx, EMBER_ENOMEM, NULL, NULL);
        return;
    }
    ember__config_commit(ctx, (const char *) buf, extra);
    xmlFree(buf);
}


/*
 * The DOM and the module-holding element for args' "host" (the top level
 * without one), or finish the command.
 */
xmlDocPtr
ember__dom_for_host(ember_cmd_ctx_t *ctx, json_t *args, char *host,
                    size_t hostlen, xmlNodePtr *scope)
{
    char err[1024];
    xmlDocPtr doc;

    if (ember__command_host_arg(ctx, args, 0, host, hostlen) < 0)
        return NULL;
    if ((doc = ember__dom_load(err, sizeof(err))) == NULL) {
        ember__command_donef(ctx, EMBER_EIO, "%s", err);
        return NULL;
    }
    if ((*scope = ember__dom_scope(doc, host)) == NULL) {
        xmlFreeDoc(doc);
        ember__command_donef(ctx, EMBER_ENOENT, "host %s is not in %s", host,
                             ember__config()->path);
        return NULL;
    }
    return doc;
}


const char *
ember__config_scope_name(const char *host)
{
    return *host != '\0' ? host : "the top level (global)";
}


