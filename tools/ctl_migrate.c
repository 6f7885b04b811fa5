/* tools/ctl_migrate.c -- emberctl export and import: accounts and their
 * modules' data as XEP-0227 (Portable Import/Export Format), and
 * Openfire's user import file.  The file is read and written here, in
 * emberctl, never by emberd: the server sees commands with the data in
 * their arguments (doc/migration.md). */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <gsasl.h>
#include <jansson.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xinclude.h>
#include <libxml/xmlsave.h>

#include "ctl_migrate.h"
#include "base/jid.h"

#define NS_PIE "urn:xmpp:pie:0"
#define NS_SCRAM "urn:xmpp:pie:0#scram"
#define NS_EMBER_PIE "urn:ember:pie:0"
#define NS_XINCLUDE "http://www.w3.org/2001/XInclude"
#define NS_ROSTER "jabber:iq:roster"
#define NS_CLIENT "jabber:client"
#define NS_VCARD "vcard-temp"
#define EXPORT_PREFIX "pie-export-"
#define IMPORT_PREFIX "pie-import-"
#define HOST_EXPORT_PREFIX "pie-host-export-"
#define HOST_IMPORT_PREFIX "pie-host-import-"

#define EXIT_OK 0
#define EXIT_CMD 1
#define EXIT_USAGE 2

/* One user of the file, checked before anything is written; or, name
 * NULL and jid the host, what a <host/> holds besides users (rooms). */
typedef struct mig_user_s {
    char *host, *name, *jid;
    const char *file;         /* where it was read, for messages */
    long line;
    char *password;           /* plain, or NULL */
    json_t *secrets;          /* for account-import, or NULL */
    json_t *elements;         /* serialized children for the modules */
    json_t *lines;            /* line of each element */
    json_t *owner;            /* command taking each element, or null */
    int exists;
    struct mig_user_s *next;
} mig_user_t;

typedef struct mig_s {
    const ctl_mig_ops_t *ops;
    const char *path;
    int force, skip_unknown;
    const char *openfire_host;
    json_t *hosts;            /* the server's hosts */
    mig_user_t *users, **tail;
    mig_user_t *hostdata, **htail;
    int errors;
} mig_t;


static void
mig_err(mig_t *m, const char *file, long line, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "emberctl: %s", file != NULL ? file : m->path);
    if (line > 0)
        fprintf(stderr, ":%ld", line);
    fputs(": ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    m->errors++;
}


static int
call(const ctl_mig_ops_t *ops, const char *name, json_t *args,
     json_t **result, char *errname, size_t namelen, char *msg,
     size_t msglen)
{
    int rc = ops->call(ops->ud, name, args, result, errname, namelen, msg,
                       msglen);

    json_decref(args);
    return rc;
}


/* The names of the server's commands starting with prefix served on
 * host (or on every host). */
static json_t *
commands_for(const ctl_mig_ops_t *ops, const char *prefix, const char *host)
{
    json_t *out = json_array(), *e;
    const char *name, *h;
    size_t i;

    json_array_foreach(ops->commands, i, e) {
        name = json_string_value(json_object_get(e, "name"));
        h = json_string_value(json_object_get(e, "host"));
        if (name == NULL || strncmp(name, prefix, strlen(prefix)) != 0 ||
            (h != NULL && strcmp(h, host) != 0))
            continue;
        json_array_append_new(out, json_string(name));
    }
    return out;
}


static json_t *
server_hosts(const ctl_mig_ops_t *ops)
{
    json_t *st = NULL, *hosts;
    char en[32], msg[512];

    if (call(ops, "status", json_object(), &st, en, sizeof(en), msg,
             sizeof(msg)) < 0) {
        fprintf(stderr, "emberctl: status: %s\n", msg);
        return NULL;
    }
    hosts = json_incref(json_object_get(st, "hosts"));
    json_decref(st);
    return hosts;
}


static int
host_known(json_t *hosts, const char *host)
{
    json_t *h;
    size_t i;

    json_array_foreach(hosts, i, h)
        if (strcmp(json_string_value(h), host) == 0)
            return 1;
    return 0;
}


/* ---- export ---- */

static int
add_text_child(xmlNodePtr parent, xmlNsPtr ns, const char *name,
               const char *text)
{
    return xmlNewTextChild(parent, ns, BAD_CAST name, BAD_CAST text) != NULL
               ? 0 : -1;
}


static int
export_scram(xmlNodePtr user, json_t *acc, const char *key,
             const char *mech)
{
    json_t *k = json_object_get(acc, key);
    xmlNodePtr sc;
    xmlNsPtr ns;
    char iter[32];

    if (!json_is_object(k))
        return 0;
    snprintf(iter, sizeof(iter), "%" JSON_INTEGER_FORMAT,
             json_integer_value(json_object_get(acc, "iterations")));
    if ((sc = xmlNewChild(user, NULL, BAD_CAST "scram-credentials",
                          NULL)) == NULL ||
        (ns = xmlNewNs(sc, BAD_CAST NS_SCRAM, NULL)) == NULL)
        return -1;
    xmlSetNs(sc, ns);
    xmlNewProp(sc, BAD_CAST "mechanism", BAD_CAST mech);
    if (add_text_child(sc, ns, "iter-count", iter) < 0 ||
        add_text_child(sc, ns, "salt",
                       json_string_value(json_object_get(acc, "salt"))) < 0 ||
        add_text_child(sc, ns, "server-key",
                       json_string_value(json_object_get(k, "server_key")))
            < 0 ||
        add_text_child(sc, ns, "stored-key",
                       json_string_value(json_object_get(k, "stored_key")))
            < 0)
        return -1;
    return 0;
}


/* Parse one serialized element from a module and append it to parent. */
static int
append_xml(xmlNodePtr parent, const char *xml)
{
    xmlDocPtr d = xmlReadMemory(xml, (int) strlen(xml), NULL, "UTF-8",
                                XML_PARSE_NONET | XML_PARSE_NOERROR |
                                XML_PARSE_NOWARNING);
    xmlNodePtr copy;

    if (d == NULL || xmlDocGetRootElement(d) == NULL) {
        xmlFreeDoc(d);
        return -1;
    }
    copy = xmlDocCopyNode(xmlDocGetRootElement(d), parent->doc, 1);
    xmlFreeDoc(d);
    if (copy == NULL || xmlAddChild(parent, copy) == NULL) {
        xmlFreeNode(copy);
        return -1;
    }
    return 0;
}


static int
export_user(const ctl_mig_ops_t *ops, xmlNodePtr hnode, const char *host,
            const char *name, json_t *mods)
{
    char jid[2048], en[32], msg[512];
    json_t *acc = NULL, *res, *e, *m;
    xmlNodePtr user;
    xmlNsPtr ens;
    size_t i, k;
    int rc = 0;

    snprintf(jid, sizeof(jid), "%s@%s", name, host);
    if (call(ops, "account-export", json_pack("{s:s}", "jid", jid), &acc,
             en, sizeof(en), msg, sizeof(msg)) < 0) {
        fprintf(stderr, "emberctl: %s: %s\n", jid, msg);
        return -1;
    }
    if ((user = xmlNewChild(hnode, hnode->ns, BAD_CAST "user", NULL)) ==
        NULL) {
        json_decref(acc);
        return -1;
    }
    xmlNewProp(user, BAD_CAST "name", BAD_CAST name);
    if (json_is_true(json_object_get(acc, "locked")) &&
        (ens = xmlNewNs(user, BAD_CAST NS_EMBER_PIE, BAD_CAST "ember")) !=
            NULL)
        xmlNewNsProp(user, ens, BAD_CAST "locked", BAD_CAST "true");
    if (export_scram(user, acc, "sha1", "SCRAM-SHA-1") < 0 ||
        export_scram(user, acc, "sha256", "SCRAM-SHA-256") < 0)
        rc = -1;
    json_decref(acc);
    json_array_foreach(mods, i, m) {
        res = NULL;
        if (rc < 0)
            break;
        if (call(ops, json_string_value(m),
                 json_pack("{s:s, s:s}", "jid", jid, "host", host), &res,
                 en, sizeof(en), msg, sizeof(msg)) < 0) {
            fprintf(stderr, "emberctl: %s: %s: %s\n", jid,
                    json_string_value(m), msg);
            rc = -1;
            break;
        }
        json_array_foreach(json_object_get(res, "elements"), k, e)
            if (!json_is_string(e) ||
                append_xml(user, json_string_value(e)) < 0) {
                fprintf(stderr, "emberctl: %s: %s gave a malformed "
                        "element\n", jid, json_string_value(m));
                rc = -1;
                break;
            }
        json_decref(res);
    }
    return rc;
}


/* What the host's modules keep outside the users (rooms), after them. */
static int
export_host(const ctl_mig_ops_t *ops, xmlNodePtr hnode, const char *host)
{
    json_t *mods = commands_for(ops, HOST_EXPORT_PREFIX, host), *m, *res, *e;
    char en[32], msg[512];
    size_t i, k;
    int rc = 0;

    json_array_foreach(mods, i, m) {
        res = NULL;
        if (call(ops, json_string_value(m), json_pack("{s:s}", "host", host),
                 &res, en, sizeof(en), msg, sizeof(msg)) < 0) {
            fprintf(stderr, "emberctl: %s: %s: %s\n", host,
                    json_string_value(m), msg);
            rc = -1;
            break;
        }
        json_array_foreach(json_object_get(res, "elements"), k, e)
            if (!json_is_string(e) ||
                append_xml(hnode, json_string_value(e)) < 0) {
                fprintf(stderr, "emberctl: %s: %s gave a malformed "
                        "element\n", host, json_string_value(m));
                rc = -1;
                break;
            }
        json_decref(res);
        if (rc < 0)
            break;
    }
    json_decref(mods);
    return rc;
}


/* Write doc to path ("-": stdout), readable by its owner only: an
 * export holds every account's secrets (XEP-0227 section 9). */
static int
save_doc(xmlDocPtr doc, const char *path)
{
    xmlOutputBufferPtr out;
    int fd, rc;

    fd = strcmp(path, "-") == 0
             ? dup(STDOUT_FILENO)
             : open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        perror(path);
        return -1;
    }
    if (strcmp(path, "-") != 0)
        fchmod(fd, 0600);
    if ((out = xmlOutputBufferCreateFd(fd, NULL)) == NULL) {
        close(fd);
        return -1;
    }
    rc = xmlSaveFormatFileTo(out, doc, "UTF-8", 1);
    if (rc >= 0 && strcmp(path, "-") != 0 && fsync(fd) < 0)
        rc = -1;
    if (close(fd) < 0)
        rc = -1;
    return rc < 0 ? -1 : 0;
}


int
ctl_export(const ctl_mig_ops_t *ops, int argc, char **argv)
{
    json_t *hosts = NULL, *users, *mods, *h, *u;
    char en[32], msg[512];
    xmlDocPtr doc;
    xmlNodePtr root, hnode;
    xmlNsPtr ns;
    size_t i, k, nusers = 0;
    int k2, rc = EXIT_OK;

    if (argc < 1) {
        fputs("emberctl: usage: export FILE [HOST...]\n", stderr);
        return EXIT_USAGE;
    }
    if (argc > 1) {
        hosts = json_array();
        for (k2 = 1; k2 < argc; k2++)
            json_array_append_new(hosts, json_string(argv[k2]));
    } else if ((hosts = server_hosts(ops)) == NULL) {
        return EXIT_CMD;
    }
    doc = xmlNewDoc(BAD_CAST "1.0");
    root = xmlNewNode(NULL, BAD_CAST "server-data");
    ns = xmlNewNs(root, BAD_CAST NS_PIE, NULL);
    xmlSetNs(root, ns);
    xmlDocSetRootElement(doc, root);
    json_array_foreach(hosts, i, h) {
        users = NULL;
        if (call(ops, "users", json_pack("{s:s}", "host",
                                         json_string_value(h)),
                 &users, en, sizeof(en), msg, sizeof(msg)) < 0) {
            fprintf(stderr, "emberctl: %s: %s\n", json_string_value(h), msg);
            rc = EXIT_CMD;
            break;
        }
        hnode = xmlNewChild(root, ns, BAD_CAST "host", NULL);
        xmlNewProp(hnode, BAD_CAST "jid", BAD_CAST json_string_value(h));
        mods = commands_for(ops, EXPORT_PREFIX, json_string_value(h));
        json_array_foreach(users, k, u) {
            if (export_user(ops, hnode, json_string_value(h),
                            json_string_value(u), mods) < 0) {
                rc = EXIT_CMD;
                break;
            }
            nusers++;
        }
        json_decref(mods);
        if (rc == EXIT_OK && export_host(ops, hnode,
                                         json_string_value(h)) < 0)
            rc = EXIT_CMD;
        json_decref(users);
        if (rc != EXIT_OK)
            break;
    }
    if (rc == EXIT_OK && save_doc(doc, argv[0]) < 0) {
        fprintf(stderr, "emberctl: writing %s failed\n", argv[0]);
        rc = EXIT_CMD;
    }
    if (rc == EXIT_OK)
        fprintf(stderr, "exported %zu users of %zu hosts to %s\n", nusers,
                json_array_size(hosts), argv[0]);
    xmlFreeDoc(doc);
    json_decref(hosts);
    return rc;
}


/* ---- reading the file ---- */

static int
is_el(xmlNodePtr n, const char *name, const char *ns)
{
    return n->type == XML_ELEMENT_NODE &&
           strcmp((const char *) n->name, name) == 0 &&
           (ns == NULL ? n->ns == NULL
                       : n->ns != NULL &&
                             strcmp((const char *) n->ns->href, ns) == 0);
}


/* The file a node came from: XInclude marks included trees with
 * xml:base. */
static const char *
node_file(mig_t *m, xmlNodePtr n)
{
    static char buf[4096];
    xmlChar *base;

    for (; n != NULL && n->type == XML_ELEMENT_NODE; n = n->parent) {
        if ((base = xmlGetNsProp(n, BAD_CAST "base",
                                 XML_XML_NAMESPACE)) != NULL) {
            snprintf(buf, sizeof(buf), "%s", (const char *) base);
            xmlFree(base);
            return buf;
        }
    }
    return m->path;
}


static void
el_name(xmlNodePtr n, char *buf, size_t len)
{
    if (n->ns != NULL)
        snprintf(buf, len, "<%s xmlns='%s'>", n->name, n->ns->href);
    else
        snprintf(buf, len, "<%s>", n->name);
}


/* Text of a child element, NULL when missing. */
static xmlChar *
child_text(xmlNodePtr n, const char *name, const char *ns)
{
    for (n = n->children; n != NULL; n = n->next)
        if (is_el(n, name, ns))
            return xmlNodeGetContent(n);
    return NULL;
}


/* Only whitespace between elements: text elsewhere is an error. */
static int
is_blank(xmlNodePtr n)
{
    return n->type == XML_COMMENT_NODE || n->type == XML_PI_NODE ||
           ((n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE)
            && xmlIsBlankNode(n));
}


/* Serialize n as a standalone element (its namespaces declared on it). */
static char *
serialize(xmlNodePtr n)
{
    xmlDocPtr d = xmlNewDoc(BAD_CAST "1.0");
    xmlBufferPtr buf = xmlBufferCreate();
    xmlNodePtr copy;
    char *s = NULL;

    if (d != NULL && buf != NULL &&
        (copy = xmlDocCopyNode(n, d, 1)) != NULL) {
        xmlDocSetRootElement(d, copy);
        xmlReconciliateNs(d, copy);
        if (xmlNodeDump(buf, d, copy, 0, 0) >= 0)
            s = strdup((const char *) xmlBufferContent(buf));
    }
    xmlBufferFree(buf);
    xmlFreeDoc(d);
    return s;
}


/* The record of what host holds besides users. */
static mig_user_t *
host_rec(mig_t *m, xmlNodePtr at, const char *host)
{
    mig_user_t *u;

    for (u = m->hostdata; u != NULL; u = u->next)
        if (strcmp(u->host, host) == 0)
            return u;
    if ((u = calloc(1, sizeof(*u))) == NULL)
        return NULL;
    u->host = strdup(host);
    u->jid = strdup(host);
    u->elements = json_array();
    u->lines = json_array();
    u->file = node_file(m, at) == m->path ? m->path : strdup(node_file(m,
                                                                   at));
    u->line = xmlGetLineNo(at);
    *m->htail = u;
    m->htail = &u->next;
    return u;
}


static mig_user_t *
user_new(mig_t *m, xmlNodePtr at, const char *host, const char *name)
{
    mig_user_t *u = calloc(1, sizeof(*u));
    mig_user_t *o;
    size_t n;

    if (u == NULL)
        return NULL;
    n = strlen(name) + strlen(host) + 2;
    u->host = strdup(host);
    u->name = strdup(name);
    u->jid = malloc(n);
    u->elements = json_array();
    u->lines = json_array();
    u->file = node_file(m, at) == m->path ? m->path : strdup(node_file(m,
                                                                   at));
    u->line = xmlGetLineNo(at);
    if (u->jid != NULL)
        snprintf(u->jid, n, "%s@%s", name, host);
    for (o = m->users; o != NULL; o = o->next)
        if (u->jid != NULL && strcmp(o->jid, u->jid) == 0)
            mig_err(m, u->file, u->line, "user %s appears twice (first at "
                    "line %ld)", u->jid, o->line);
    *m->tail = u;
    m->tail = &u->next;
    return u;
}


static void
user_free(mig_t *m, mig_user_t *u)
{
    free(u->host);
    free(u->name);
    free(u->jid);
    if (u->file != m->path)
        free((char *) u->file);
    if (u->password != NULL)
        explicit_bzero(u->password, strlen(u->password));
    free(u->password);
    json_decref(u->secrets);
    json_decref(u->elements);
    json_decref(u->lines);
    json_decref(u->owner);
    free(u);
}


static int
add_element(mig_user_t *u, xmlNodePtr n)
{
    char *s = serialize(n);

    if (s == NULL)
        return -1;
    json_array_append_new(u->elements, json_string(s));
    json_array_append_new(u->lines, json_integer(xmlGetLineNo(n)));
    free(s);
    return 0;
}


/* The bytes base64 text stands for (malloc'ed, NUL-terminated, in *out
 * when out is not NULL) and their count; -1 when it is not base64. */
static long
b64_bytes(const char *in, char **out)
{
    char *raw, *copy;
    size_t len;

    if (in == NULL || in[0] == '\0' ||
        gsasl_base64_from(in, strlen(in), &raw, &len) != GSASL_OK)
        return -1;
    if (out != NULL && (copy = malloc(len + 1)) != NULL) {
        memcpy(copy, raw, len);
        copy[len] = '\0';
        *out = copy;
    } else if (out != NULL) {
        len = 0;
        *out = NULL;
    }
    gsasl_free(raw);
    return (long) len;
}


/*
 * ejabberd (23.01 at least) writes its SCRAM salt and keys base64-encoded
 * twice: it encodes what it already stores encoded.  A key of the right
 * size once decoded a second time is taken as that; the salt then too.
 * Each of *sk, *st, *salt is replaced (xmlFree'd) when unwrapped.
 * 0, or -1 when the keys are not base64 of size bytes either way.
 */
static int
scram_unwrap(xmlChar **sk, xmlChar **st, xmlChar **salt, long size,
             int *unwrapped)
{
    char *isk = NULL, *ist = NULL, *isalt = NULL;
    int rc = -1;

    *unwrapped = 0;
    if (b64_bytes((const char *) *sk, NULL) == size &&
        b64_bytes((const char *) *st, NULL) == size)
        return 0;
    if (b64_bytes((const char *) *sk, &isk) > 0 &&
        b64_bytes((const char *) *st, &ist) > 0 &&
        b64_bytes((const char *) *salt, &isalt) > 0 &&
        b64_bytes(isk, NULL) == size && b64_bytes(ist, NULL) == size &&
        b64_bytes(isalt, NULL) > 0) {
        xmlFree(*sk);
        xmlFree(*st);
        xmlFree(*salt);
        *sk = xmlStrdup(BAD_CAST isk);
        *st = xmlStrdup(BAD_CAST ist);
        *salt = xmlStrdup(BAD_CAST isalt);
        *unwrapped = 1;
        rc = *sk != NULL && *st != NULL && *salt != NULL ? 0 : -1;
    }
    free(isk);
    free(ist);
    free(isalt);
    return rc;
}


/* One <scram-credentials/> into u->secrets. */
static void
take_scram(mig_t *m, mig_user_t *u, xmlNodePtr n)
{
    xmlChar *mech = xmlGetProp(n, BAD_CAST "mechanism");
    xmlChar *iter = child_text(n, "iter-count", NS_SCRAM);
    xmlChar *salt = child_text(n, "salt", NS_SCRAM);
    xmlChar *sk = child_text(n, "server-key", NS_SCRAM);
    xmlChar *st = child_text(n, "stored-key", NS_SCRAM);
    const char *key = NULL;
    json_t *old_it, *old_salt;
    char *end = NULL;
    int unwrapped = 0;
    long it = iter != NULL ? strtol((const char *) iter, &end, 10) : 0;

    if (mech != NULL && strcmp((const char *) mech, "SCRAM-SHA-1") == 0)
        key = "sha1";
    else if (mech != NULL &&
             strcmp((const char *) mech, "SCRAM-SHA-256") == 0)
        key = "sha256";
    if (key == NULL) {
        /* Another hash (SCRAM-SHA-512): its secrets are of no use here. */
        fprintf(stderr, "emberctl: %s:%ld: warning: %s: SCRAM mechanism "
                "%s skipped\n", node_file(m, n), xmlGetLineNo(n), u->jid,
                mech != NULL ? (const char *) mech : "(none)");
        goto out;
    }
    if (iter == NULL || salt == NULL || sk == NULL || st == NULL ||
        end == NULL || *end != '\0' || it <= 0 || iter[0] == '0' ||
        b64_bytes((const char *) salt, NULL) <= 0) {
        mig_err(m, node_file(m, n), xmlGetLineNo(n), "%s: %s credentials "
                "need iter-count (a positive integer), salt (base64), "
                "server-key and stored-key", u->jid, mech);
        goto out;
    }
    if (scram_unwrap(&sk, &st, &salt, strcmp(key, "sha1") == 0 ? 20 : 32,
                     &unwrapped) < 0) {
        mig_err(m, node_file(m, n), xmlGetLineNo(n), "%s: %s server-key "
                "and stored-key must be base64 of %d bytes", u->jid, mech,
                strcmp(key, "sha1") == 0 ? 20 : 32);
        goto out;
    }
    if (unwrapped)
        fprintf(stderr, "emberctl: %s:%ld: note: %s: %s credentials were "
                "base64-encoded twice (as ejabberd writes them): decoded "
                "once more\n", node_file(m, n), xmlGetLineNo(n), u->jid,
                mech);
    if (u->secrets == NULL)
        u->secrets = json_pack("{s:I, s:s}", "iterations", (json_int_t) it,
                               "salt", (const char *) salt);
    old_it = json_object_get(u->secrets, "iterations");
    old_salt = json_object_get(u->secrets, "salt");
    if (json_object_get(u->secrets, key) != NULL) {
        /* The same twice (Prosody repeats them when it exports into an
         * existing file) says nothing new; different ones are a puzzle. */
        if (json_integer_value(old_it) != it ||
            strcmp(json_string_value(old_salt), (const char *) salt) != 0 ||
            strcmp(json_string_value(json_object_get(json_object_get(
                       u->secrets, key), "stored_key")),
                   (const char *) st) != 0 ||
            strcmp(json_string_value(json_object_get(json_object_get(
                       u->secrets, key), "server_key")),
                   (const char *) sk) != 0)
            mig_err(m, node_file(m, n), xmlGetLineNo(n), "%s: two different "
                    "%s credentials", u->jid, mech);
        goto out;
    } else if (json_integer_value(old_it) != it ||
               strcmp(json_string_value(old_salt), (const char *) salt)
                   != 0) {
        /* One salt and count per account: SHA-256 wins, the other hash
         * cannot be kept (SCRAM with it fails; PLAIN still works). */
        fprintf(stderr, "emberctl: %s:%ld: warning: %s: SCRAM-SHA-1 and "
                "-SHA-256 differ in salt or iteration count; only "
                "SCRAM-SHA-256 is kept\n", node_file(m, n),
                xmlGetLineNo(n), u->jid);
        if (strcmp(key, "sha256") == 0) {
            json_object_del(u->secrets, "sha1");
            json_object_set_new(u->secrets, "iterations",
                                json_integer(it));
            json_object_set_new(u->secrets, "salt",
                                json_string((const char *) salt));
        } else {
            goto out;
        }
    }
    json_object_set_new(u->secrets, key,
                        json_pack("{s:s, s:s}", "stored_key",
                                  (const char *) st, "server_key",
                                  (const char *) sk));
out:
    xmlFree(mech);
    xmlFree(iter);
    xmlFree(salt);
    xmlFree(sk);
    xmlFree(st);
}


/* 1 when jid is user@host with a user that prepares (nodeprep). */
static int
valid_account(const char *jid)
{
    ember_jid_t *j = ember__jid_parse(jid);
    int ok = j != NULL && ember__jid_node(j) != NULL &&
             ember__jid_resource(j) == NULL;

    ember__jid_free(j);
    return ok;
}


static void
read_user(mig_t *m, xmlNodePtr un, const char *host)
{
    xmlChar *name = xmlGetProp(un, BAD_CAST "name");
    xmlChar *pw = xmlGetProp(un, BAD_CAST "password");
    xmlChar *locked = xmlGetNsProp(un, BAD_CAST "locked",
                                   BAD_CAST NS_EMBER_PIE);
    mig_user_t *u;
    xmlNodePtr n;

    if (name == NULL || name[0] == '\0') {
        mig_err(m, node_file(m, un), xmlGetLineNo(un),
                "<user/> without a name");
        goto out;
    }
    if ((u = user_new(m, un, host, (const char *) name)) == NULL) {
        mig_err(m, NULL, 0, "out of memory");
        goto out;
    }
    if (!valid_account(u->jid))
        mig_err(m, u->file, u->line, "user name '%s' is not the node of a "
                "JID", (const char *) name);
    if (pw != NULL && pw[0] != '\0')
        u->password = strdup((const char *) pw);
    for (n = un->children; n != NULL; n = n->next) {
        if (is_blank(n))
            continue;
        if (n->type != XML_ELEMENT_NODE)
            mig_err(m, node_file(m, n), xmlGetLineNo(n), "%s: text in "
                    "<user/>", u->jid);
        else if (is_el(n, "scram-credentials", NS_SCRAM))
            take_scram(m, u, n);
        else if (add_element(u, n) < 0)
            mig_err(m, NULL, 0, "out of memory");
    }
    if (u->secrets != NULL && locked != NULL &&
        strcmp((const char *) locked, "true") == 0)
        json_object_set_new(u->secrets, "locked", json_true());
    if (u->password == NULL && u->secrets == NULL)
        mig_err(m, u->file, u->line, "%s: neither a password nor SCRAM "
                "credentials (SCRAM-SHA-1 or -SHA-256)", u->jid);
out:
    if (pw != NULL)
        explicit_bzero(pw, strlen((const char *) pw));
    xmlFree(pw);
    xmlFree(name);
    xmlFree(locked);
}


/* An element nobody takes: an error, or a warning with --skip-unknown
 * (XEP-0227 section 4: notify the operator, and offer to stop). */
static void
unknown(mig_t *m, xmlNodePtr n, const char *where)
{
    char what[512];

    el_name(n, what, sizeof(what));
    if (m->skip_unknown) {
        fprintf(stderr, "emberctl: %s:%ld: warning: unknown element %s in "
                "%s skipped\n", node_file(m, n), xmlGetLineNo(n), what,
                where);
        return;
    }
    mig_err(m, node_file(m, n), xmlGetLineNo(n), "unknown element %s in %s "
            "(--skip-unknown to leave such data behind)", what, where);
}


/* XInclude (XEP-0227 section 7): only an <include/> that is a child of
 * <server-data/> or <host/>, with a relative href and nothing else. */
static void
xinclude_one(mig_t *m, xmlNodePtr n)
{
    xmlChar *href = xmlGetProp(n, BAD_CAST "href");
    xmlChar *parse = xmlGetProp(n, BAD_CAST "parse");
    xmlChar *xp = xmlGetProp(n, BAD_CAST "xpointer");

    int before = m->errors;

    if (href == NULL || href[0] == '/' || strstr((const char *) href, ":")
        != NULL || parse != NULL || xp != NULL)
        mig_err(m, node_file(m, n), xmlGetLineNo(n), "<include/>: only a "
                "relative href is supported, without parse or xpointer");
    else if (xmlXIncludeProcessTreeFlags(n, XML_PARSE_NONET |
                                                XML_PARSE_NOXINCNODE) < 0 &&
             m->errors == before)
        mig_err(m, node_file(m, n), xmlGetLineNo(n), "<include href='%s'/> "
                "could not be read", href);
    /* Reported once: the include is not data to look at again. */
    if (m->errors > before) {
        xmlUnlinkNode(n);
        xmlFreeNode(n);
    }
    xmlFree(href);
    xmlFree(parse);
    xmlFree(xp);
}


/* The includes among parent's children, each replaced by what it names
 * (a failed one is reported and dropped). */
static void
xinclude(mig_t *m, xmlNodePtr parent)
{
    xmlNodePtr n, *list = NULL, *grown;
    size_t k = 0, i;

    for (n = parent->children; n != NULL; n = n->next) {
        if (!is_el(n, "include", NS_XINCLUDE))
            continue;
        if ((grown = realloc(list, (k + 1) * sizeof(*list))) == NULL) {
            mig_err(m, NULL, 0, "out of memory");
            break;
        }
        list = grown;
        list[k++] = n;
    }
    for (i = 0; i < k; i++)
        xinclude_one(m, list[i]);
    free(list);
}


static void
read_host(mig_t *m, xmlNodePtr hn)
{
    xmlChar *jid = xmlGetProp(hn, BAD_CAST "jid");
    mig_user_t *h;
    xmlNodePtr n;

    if (jid == NULL || !host_known(m->hosts, (const char *) jid)) {
        mig_err(m, node_file(m, hn), xmlGetLineNo(hn), "host '%s' is not "
                "a host of this server (add it to the config first)",
                jid != NULL ? (const char *) jid : "");
        xmlFree(jid);
        return;
    }
    xinclude(m, hn);
    for (n = hn->children; n != NULL; n = n->next) {
        if (is_blank(n))
            continue;
        if (is_el(n, "user", NS_PIE))
            read_user(m, n, (const char *) jid);
        else if (is_el(n, "include", NS_XINCLUDE))
            unknown(m, n, "<host/>");   /* one that could not be read */
        else if (n->type == XML_ELEMENT_NODE) {
            /* The host's modules say whether they take it (rooms). */
            if ((h = host_rec(m, n, (const char *) jid)) == NULL ||
                add_element(h, n) < 0)
                mig_err(m, NULL, 0, "out of memory");
        } else
            mig_err(m, node_file(m, n), xmlGetLineNo(n), "text in <host/>");
    }
    xmlFree(jid);
}


static void
read_pie(mig_t *m, xmlNodePtr root)
{
    xmlNodePtr n;

    xinclude(m, root);
    for (n = root->children; n != NULL; n = n->next) {
        if (is_blank(n))
            continue;
        if (is_el(n, "host", NS_PIE))
            read_host(m, n);
        else if (n->type == XML_ELEMENT_NODE)
            unknown(m, n, "<server-data/>");
        else
            mig_err(m, node_file(m, n), xmlGetLineNo(n),
                    "text in <server-data/>");
    }
}


/* ---- Openfire's user import file ---- */

/* Openfire's numbers: substatus -1 remove, 0 none, 1 to, 2 from, 3 both;
 * askstatus 0 subscribe; recvstatus 1 subscribe. */
static const char *
of_sub(const xmlChar *s)
{
    static const char *const names[] = { "none", "to", "from", "both" };
    long v = s != NULL ? strtol((const char *) s, NULL, 10) : 0;

    return v >= 0 && v <= 3 ? names[v] : NULL;
}


static void
of_roster(mig_t *m, mig_user_t *u, xmlNodePtr roster, xmlNodePtr query)
{
    xmlNodePtr n, g, item, p;
    xmlChar *jid, *name, *sub, *ask, *recv, *t;

    for (n = roster->children; n != NULL; n = n->next) {
        if (is_blank(n))
            continue;
        if (!is_el(n, "Item", NULL)) {
            unknown(m, n, "<Roster/>");
            continue;
        }
        jid = xmlGetProp(n, BAD_CAST "jid");
        name = xmlGetProp(n, BAD_CAST "name");
        sub = xmlGetProp(n, BAD_CAST "substatus");
        ask = xmlGetProp(n, BAD_CAST "askstatus");
        recv = xmlGetProp(n, BAD_CAST "recvstatus");
        if (jid == NULL || of_sub(sub) == NULL) {
            mig_err(m, NULL, xmlGetLineNo(n), "%s: <Item/> needs a jid and "
                    "a substatus of 0..3", u->jid);
        } else {
            item = xmlNewChild(query, query->ns, BAD_CAST "item", NULL);
            xmlNewProp(item, BAD_CAST "jid", jid);
            xmlNewProp(item, BAD_CAST "subscription", BAD_CAST of_sub(sub));
            if (name != NULL && name[0] != '\0')
                xmlNewProp(item, BAD_CAST "name", name);
            if (ask != NULL && strcmp((const char *) ask, "0") == 0)
                xmlNewProp(item, BAD_CAST "ask", BAD_CAST "subscribe");
            for (g = n->children; g != NULL; g = g->next) {
                if (is_blank(g))
                    continue;
                if (!is_el(g, "Group", NULL)) {
                    unknown(m, g, "<Item/>");
                    continue;
                }
                t = xmlNodeGetContent(g);
                if (t != NULL && t[0] != '\0')
                    xmlNewTextChild(item, query->ns, BAD_CAST "group", t);
                xmlFree(t);
            }
            if (recv != NULL && strcmp((const char *) recv, "1") == 0) {
                p = xmlNewDocNode(query->doc, NULL, BAD_CAST "presence",
                                  NULL);
                xmlSetNs(p, xmlNewNs(p, BAD_CAST NS_CLIENT, NULL));
                xmlNewProp(p, BAD_CAST "from", jid);
                xmlNewProp(p, BAD_CAST "type", BAD_CAST "subscribe");
                if (add_element(u, p) < 0)
                    mig_err(m, NULL, 0, "out of memory");
                xmlFreeNode(p);
            }
        }
        xmlFree(jid);
        xmlFree(name);
        xmlFree(sub);
        xmlFree(ask);
        xmlFree(recv);
    }
}


static void
of_user(mig_t *m, xmlNodePtr un, xmlDocPtr scratch)
{
    xmlChar *name = child_text(un, "Username", NULL);
    xmlChar *pw = child_text(un, "Password", NULL);
    xmlChar *full = child_text(un, "Name", NULL);
    xmlChar *email = child_text(un, "Email", NULL);
    xmlNodePtr n, query, vcard, e;
    mig_user_t *u;

    if (name == NULL || name[0] == '\0') {
        mig_err(m, NULL, xmlGetLineNo(un), "<User/> without a <Username/>");
        goto out;
    }
    if ((u = user_new(m, un, m->openfire_host, (const char *) name)) ==
        NULL)
        goto out;
    if (pw == NULL || pw[0] == '\0')
        mig_err(m, NULL, u->line, "%s: no <Password/> (an encrypted one "
                "cannot be imported)", u->jid);
    else
        u->password = strdup((const char *) pw);
    query = xmlNewDocNode(scratch, NULL, BAD_CAST "query", NULL);
    xmlSetNs(query, xmlNewNs(query, BAD_CAST NS_ROSTER, NULL));
    for (n = un->children; n != NULL; n = n->next) {
        if (is_blank(n) || is_el(n, "Username", NULL) ||
            is_el(n, "Password", NULL) || is_el(n, "Name", NULL) ||
            is_el(n, "Email", NULL) || is_el(n, "CreationDate", NULL) ||
            is_el(n, "ModifiedDate", NULL))
            continue;
        if (is_el(n, "Roster", NULL))
            of_roster(m, u, n, query);
        else
            unknown(m, n, "<User/>");
    }
    if (query->children != NULL && add_element(u, query) < 0)
        mig_err(m, NULL, 0, "out of memory");
    xmlFreeNode(query);
    /* Name and Email are what Openfire shows of a user: a vCard. */
    if ((full != NULL && full[0] != '\0') ||
        (email != NULL && email[0] != '\0')) {
        vcard = xmlNewDocNode(scratch, NULL, BAD_CAST "vCard", NULL);
        xmlSetNs(vcard, xmlNewNs(vcard, BAD_CAST NS_VCARD, NULL));
        if (full != NULL && full[0] != '\0')
            xmlNewTextChild(vcard, vcard->ns, BAD_CAST "FN", full);
        if (email != NULL && email[0] != '\0') {
            e = xmlNewChild(vcard, vcard->ns, BAD_CAST "EMAIL", NULL);
            xmlNewChild(e, vcard->ns, BAD_CAST "INTERNET", NULL);
            xmlNewTextChild(e, vcard->ns, BAD_CAST "USERID", email);
        }
        if (add_element(u, vcard) < 0)
            mig_err(m, NULL, 0, "out of memory");
        xmlFreeNode(vcard);
    }
out:
    if (pw != NULL)
        explicit_bzero(pw, strlen((const char *) pw));
    xmlFree(pw);
    xmlFree(name);
    xmlFree(full);
    xmlFree(email);
}


static void
read_openfire(mig_t *m, xmlNodePtr root)
{
    xmlDocPtr scratch = xmlNewDoc(BAD_CAST "1.0");
    xmlNodePtr n;

    if (m->openfire_host == NULL) {
        if (json_array_size(m->hosts) != 1) {
            mig_err(m, NULL, 0, "an Openfire file names no domain: say "
                    "which host with --host=H");
            xmlFreeDoc(scratch);
            return;
        }
        m->openfire_host = json_string_value(json_array_get(m->hosts, 0));
    } else if (!host_known(m->hosts, m->openfire_host)) {
        mig_err(m, NULL, 0, "--host=%s is not a host of this server",
                m->openfire_host);
        xmlFreeDoc(scratch);
        return;
    }
    for (n = root->children; n != NULL; n = n->next) {
        if (is_blank(n))
            continue;
        if (is_el(n, "User", NULL))
            of_user(m, n, scratch);
        else
            unknown(m, n, "<Openfire/>");
    }
    xmlFreeDoc(scratch);
}


/* ---- checking with the server, then importing ---- */

/* Ask every module's import command which elements it takes (nothing is
 * written); every element needs exactly one taker. */
static void
check_user(mig_t *m, mig_user_t *u, json_t *mods)
{
    json_t *res, *t, *cmd;
    char en[32], msg[512];
    size_t i, k, idx;
    long line;

    u->owner = json_array();
    for (i = 0; i < json_array_size(u->elements); i++)
        json_array_append_new(u->owner, json_null());
    json_array_foreach(mods, k, cmd) {
        res = NULL;
        if (json_array_size(u->elements) == 0)
            break;
        if (call(m->ops, json_string_value(cmd),
                 u->name != NULL
                     ? json_pack("{s:s, s:s, s:O, s:b}", "jid", u->jid,
                                 "host", u->host, "elements", u->elements,
                                 "check", 1)
                     : json_pack("{s:s, s:O, s:b}", "host", u->host,
                                 "elements", u->elements, "check", 1),
                 &res, en, sizeof(en), msg, sizeof(msg)) < 0) {
            /* "element N: why": name the line of element N. */
            line = u->line;
            if (strncmp(msg, "element ", 8) == 0 &&
                (idx = strtoul(msg + 8, NULL, 10)) <
                    json_array_size(u->elements)) {
                line = (long) json_integer_value(json_array_get(u->lines,
                                                                idx));
                /* Refused by its owner: not unknown as well. */
                json_array_set(u->owner, idx, cmd);
            }
            mig_err(m, u->file, line, "%s: %s", u->jid, msg);
            continue;
        }
        json_array_foreach(json_object_get(res, "taken"), i, t) {
            idx = (size_t) json_integer_value(t);
            if (idx >= json_array_size(u->elements))
                continue;
            if (!json_is_null(json_array_get(u->owner, idx)))
                mig_err(m, u->file, (long) json_integer_value(
                            json_array_get(u->lines, idx)),
                        "%s: element taken by both %s and %s", u->jid,
                        json_string_value(json_array_get(u->owner, idx)),
                        json_string_value(cmd));
            else
                json_array_set(u->owner, idx, cmd);
        }
        json_decref(res);
    }
}


/* Report the elements no module took (their lines, from the file). */
static void
check_unknown(mig_t *m, mig_user_t *u)
{
    xmlDocPtr d;
    const char *xml;
    char what[512];
    size_t i;

    for (i = 0; i < json_array_size(u->elements); i++) {
        if (!json_is_null(json_array_get(u->owner, i)))
            continue;
        xml = json_string_value(json_array_get(u->elements, i));
        d = xmlReadMemory(xml, (int) strlen(xml), NULL, "UTF-8",
                          XML_PARSE_NONET);
        if (d != NULL && xmlDocGetRootElement(d) != NULL)
            el_name(xmlDocGetRootElement(d), what, sizeof(what));
        else
            snprintf(what, sizeof(what), "(element)");
        xmlFreeDoc(d);
        if (m->skip_unknown)
            fprintf(stderr, "emberctl: %s:%" JSON_INTEGER_FORMAT ": warning: "
                    "%s: no module takes %s: skipped\n", u->file,
                    json_integer_value(json_array_get(u->lines, i)), u->jid,
                    what);
        else
            mig_err(m, u->file, (long) json_integer_value(
                        json_array_get(u->lines, i)),
                    "%s: no enabled module takes %s (--skip-unknown to "
                    "leave it behind)", u->jid, what);
    }
}


static void
check_exists(mig_t *m, mig_user_t *u)
{
    json_t *res = NULL;
    char en[32], msg[512];

    if (call(m->ops, "account-export", json_pack("{s:s}", "jid", u->jid),
             &res, en, sizeof(en), msg, sizeof(msg)) == 0) {
        u->exists = 1;
        if (!m->force)
            mig_err(m, u->file, u->line, "user %s already exists (--force "
                    "replaces it: its account and all its data are deleted "
                    "first)", u->jid);
    } else if (strcmp(en, "ENOENT") != 0) {
        mig_err(m, u->file, u->line, "%s: %s", u->jid, msg);
    }
    json_decref(res);
}


static int run_modules(mig_t *m, mig_user_t *u);

static int
import_user(mig_t *m, mig_user_t *u)
{
    json_t *res;
    char en[32], msg[512];
    int rc = 0;

    res = NULL;
    if (u->exists &&
        call(m->ops, "deluser", json_pack("{s:s}", "jid", u->jid), &res, en,
             sizeof(en), msg, sizeof(msg)) < 0) {
        fprintf(stderr, "emberctl: %s: replacing: %s\n", u->jid, msg);
        return -1;
    }
    json_decref(res);
    res = NULL;
    if (u->password != NULL)
        rc = call(m->ops, "adduser",
                  json_pack("{s:s, s:s}", "jid", u->jid, "password",
                            u->password),
                  &res, en, sizeof(en), msg, sizeof(msg));
    else
        rc = call(m->ops, "account-import",
                  json_pack("{s:s, s:O}", "jid", u->jid, "secrets",
                            u->secrets),
                  &res, en, sizeof(en), msg, sizeof(msg));
    json_decref(res);
    if (rc < 0) {
        fprintf(stderr, "emberctl: %s: %s\n", u->jid, msg);
        return -1;
    }
    rc = run_modules(m, u);
    if (rc < 0) {
        /* No half-written user: the account goes, and with it whatever
         * modules stored of it. */
        res = NULL;
        if (call(m->ops, "deluser", json_pack("{s:s}", "jid", u->jid), &res,
                 en, sizeof(en), msg, sizeof(msg)) < 0)
            fprintf(stderr, "emberctl: %s: removing the partial import "
                    "failed: %s\n", u->jid, msg);
        else
            fprintf(stderr, "emberctl: %s: not imported (removed again)\n",
                    u->jid);
        json_decref(res);
        return -1;
    }
    return 0;
}


/* Each module in turn, with the elements it said it takes. */
static int
run_modules(mig_t *m, mig_user_t *u)
{
    json_t *res, *cmd, *els, *done = json_array();
    char en[32], msg[512];
    size_t i, k;
    int rc = 0;

    json_array_foreach(u->owner, i, cmd) {
        if (json_is_null(cmd))
            continue;
        json_array_foreach(done, k, res)
            if (json_equal(res, cmd))
                break;
        if (k < json_array_size(done))
            continue;
        json_array_append(done, cmd);
        els = json_array();
        for (k = i; k < json_array_size(u->owner); k++)
            if (json_equal(json_array_get(u->owner, k), cmd))
                json_array_append(els, json_array_get(u->elements, k));
        res = NULL;
        rc = call(m->ops, json_string_value(cmd),
                  u->name != NULL
                      ? json_pack("{s:s, s:s, s:o}", "jid", u->jid, "host",
                                  u->host, "elements", els)
                      : json_pack("{s:s, s:o}", "host", u->host, "elements",
                                  els),
                  &res, en, sizeof(en), msg, sizeof(msg));
        json_decref(res);
        if (rc < 0) {
            fprintf(stderr, "emberctl: %s: %s: %s\n", u->jid,
                    json_string_value(cmd), msg);
            break;
        }
    }
    json_decref(done);
    return rc < 0 ? -1 : 0;
}


/* SAX: a DTD could declare entities that read files or grow without
 * bound; the parse stops at its first line. */
static void
refuse_dtd(void *ctx, const xmlChar *name, const xmlChar *ext_id,
           const xmlChar *sys_id)
{
    xmlParserCtxtPtr c = ctx;

    (void) name;
    (void) ext_id;
    (void) sys_id;
    mig_err(c->_private, NULL, c->input != NULL ? c->input->line : 0,
            "a DTD is not allowed in an import file");
    xmlStopParser(c);
}


static void
parse_error(void *ud, xmlErrorPtr e)
{
    mig_t *m = ud;

    if (e->level < XML_ERR_ERROR || e->code == XML_ERR_USER_STOP ||
        m->errors > 0)
        return;     /* the first error names the line; the rest follow */
    mig_err(m, e->file, e->line, "%s", e->message != NULL ? e->message
                                                          : "bad XML");
}


int
ctl_import(const ctl_mig_ops_t *ops, int argc, char **argv)
{
    mig_t m;
    xmlParserCtxtPtr ctxt;
    xmlDocPtr doc = NULL;
    xmlNodePtr root;
    mig_user_t *u, *next;
    json_t *mods;
    size_t nusers = 0, done = 0;
    int k, rc = EXIT_CMD;

    memset(&m, 0, sizeof(m));
    m.ops = ops;
    m.tail = &m.users;
    m.htail = &m.hostdata;
    for (k = 0; k < argc; k++) {
        if (strcmp(argv[k], "--force") == 0)
            m.force = 1;
        else if (strcmp(argv[k], "--skip-unknown") == 0)
            m.skip_unknown = 1;
        else if (strncmp(argv[k], "--host=", 7) == 0)
            m.openfire_host = argv[k] + 7;
        else if (argv[k][0] == '-' && argv[k][1] != '\0')
            break;
        else if (m.path == NULL)
            m.path = argv[k];
        else
            break;
    }
    if (k < argc || m.path == NULL) {
        fputs("emberctl: usage: import FILE [--force] [--skip-unknown] "
              "[--host=H]\n", stderr);
        return EXIT_USAGE;
    }
    if ((m.hosts = server_hosts(ops)) == NULL)
        return EXIT_CMD;
    /* No network, no entity expansion, no DTD: the file is data. */
    if ((ctxt = xmlNewParserCtxt()) == NULL)
        goto out;
    ctxt->_private = &m;
    ctxt->sax->internalSubset = refuse_dtd;
    xmlSetStructuredErrorFunc(&m, parse_error);
    /* NOBLANKS: the indentation of a pretty-printed file is not part of
     * the data it carries (whitespace-only text alone in an element, a
     * <body> </body>, stays). */
    doc = xmlCtxtReadFile(ctxt, m.path, NULL,
                          XML_PARSE_NONET | XML_PARSE_NOCDATA |
                          XML_PARSE_NOBLANKS);
    xmlFreeParserCtxt(ctxt);
    if (doc == NULL || m.errors > 0) {
        if (m.errors == 0)
            mig_err(&m, NULL, 0, "cannot read the file");
        goto out;
    }
    if (doc->intSubset != NULL) {
        mig_err(&m, NULL, xmlGetLineNo((xmlNodePtr) doc->intSubset),
                "a DTD is not allowed in an import file");
        goto out;
    }
    root = xmlDocGetRootElement(doc);
    if (root != NULL && is_el(root, "server-data", NS_PIE))
        read_pie(&m, root);
    else if (root != NULL && is_el(root, "Openfire", NULL))
        read_openfire(&m, root);
    else
        mig_err(&m, NULL, root != NULL ? xmlGetLineNo(root) : 0,
                "expected <server-data xmlns='" NS_PIE "'> (XEP-0227) or "
                "<Openfire> (Openfire's user import)");
    for (u = m.users; u != NULL; u = u->next) {
        nusers++;
        if (!valid_account(u->jid))
            continue;       /* said already; the server could not name it */
        mods = commands_for(ops, IMPORT_PREFIX, u->host);
        check_user(&m, u, mods);
        check_unknown(&m, u);
        check_exists(&m, u);
        json_decref(mods);
    }
    for (u = m.hostdata; u != NULL; u = u->next) {
        mods = commands_for(ops, HOST_IMPORT_PREFIX, u->host);
        check_user(&m, u, mods);
        check_unknown(&m, u);
        json_decref(mods);
    }
    if (m.errors > 0) {
        fprintf(stderr, "emberctl: %d error%s: nothing imported\n",
                m.errors, m.errors == 1 ? "" : "s");
        goto out;
    }
    for (u = m.users; u != NULL; u = u->next) {
        if (import_user(&m, u) < 0)
            break;
        done++;
    }
    fprintf(stderr, "imported %zu of %zu users from %s\n", done, nusers,
            m.path);
    rc = done == nusers ? EXIT_OK : EXIT_CMD;
    /* Rooms and the like after the users they may name. */
    for (u = m.hostdata; rc == EXIT_OK && u != NULL; u = u->next)
        if (run_modules(&m, u) < 0)
            rc = EXIT_CMD;
out:
    xmlSetStructuredErrorFunc(NULL, NULL);
    for (u = m.users; u != NULL; u = next) {
        next = u->next;
        user_free(&m, u);
    }
    for (u = m.hostdata; u != NULL; u = next) {
        next = u->next;
        user_free(&m, u);
    }
    xmlFreeDoc(doc);
    json_decref(m.hosts);
    return rc;
}
