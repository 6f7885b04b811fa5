/* core/base/config.c -- etc/ember.xml: libxml2 parse, RelaxNG, semantic checks. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <fcntl.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <libxml/parser.h>
#include <libxml/relaxng.h>
#include <libxml/xmlerror.h>

#include "base/config.h"
#include "base/jid.h"
#include "base/log.h"
#include "base/options.h"

/* tools/embed.sh compiles etc/ember.rng into build/gen/ember_rng.c. */
extern const char ember_rng[];
extern const unsigned long ember_rng_len;

#define CFG_MAX_XML_ERRORS 8

typedef struct {
    int code;
    long line;
    xmlNodePtr node;
    char s1[128], s2[128], msg[256];
} cfg_xml_error_t;

typedef struct {
    const char *file;          /* as the caller spelled it, for messages */
    char *err;
    size_t errlen;
    int failed;
    long doctype_line;
    int nxml;
    cfg_xml_error_t xml[CFG_MAX_XML_ERRORS];
} cfg_ctx_t;

/* Attributes the schema requires, to name the one missing in messages. */
static const char *const cfg_required[][2] = {
    { "plugins", "dir" }, { "tls", "cert" }, { "tls", "key" },
    { "admin", "jid" }, { "listen", "type" }, { "module", "name" },
    { "host", "name" }, { "component", "domain" },
    { "component", "secret" },
};


static int
cfg_fail(cfg_ctx_t *cx, long line, const char *fmt, ...)
{
    va_list ap;

    if (cx->failed++)
        return EMBER_EINVAL;
    va_start(ap, fmt);
    ember__verror_at(cx->err, cx->errlen, cx->file, line, fmt, ap);
    va_end(ap);
    return EMBER_EINVAL;
}


static int
is_element(xmlNodePtr n, const char *name)
{
    return n->type == XML_ELEMENT_NODE
        && (name == NULL || strcmp((const char *) n->name, name) == 0);
}


/* Keeps the first few libxml2 errors; the most telling one is picked later. */
static void
cfg_on_xml_error(void *ud, xmlErrorPtr e)
{
    cfg_ctx_t *cx = ud;
    cfg_xml_error_t *x;
    size_t n;

    if (cx->nxml >= CFG_MAX_XML_ERRORS || e->level == XML_ERR_WARNING)
        return;
    x = &cx->xml[cx->nxml++];
    x->code = e->code;
    x->node = e->domain == XML_FROM_RELAXNGV ? e->node : NULL;
    x->line = e->line > 0 ? e->line
            : x->node != NULL ? xmlGetLineNo(x->node) : 0;
    snprintf(x->s1, sizeof(x->s1), "%s", e->str1 ? e->str1 : "");
    snprintf(x->s2, sizeof(x->s2), "%s", e->str2 ? e->str2 : "");
    snprintf(x->msg, sizeof(x->msg), "%s", e->message ? e->message : "?");
    n = strlen(x->msg);
    while (n > 0 && (x->msg[n - 1] == '\n' || x->msg[n - 1] == ' '))
        x->msg[--n] = '\0';
}


/* Parser SAX hook: a DOCTYPE could declare entities; refuse it outright. */
static void
cfg_on_doctype(void *ctx, const xmlChar *name, const xmlChar *ext_id,
               const xmlChar *sys_id)
{
    xmlParserCtxtPtr p = ctx;
    cfg_ctx_t *cx = p->_private;

    cx->doctype_line = p->input != NULL ? p->input->line : 1;
    xmlStopParser(p);
}


/* First element below `root` named `name` that lacks a required attribute. */
static const char *
cfg_missing_attr(xmlNodePtr root, const char *name, xmlNodePtr *at)
{
    xmlNodePtr n;
    const char *miss;
    size_t i;

    for (n = root; n != NULL; n = n->next) {
        if (!is_element(n, NULL))
            continue;
        for (i = 0; i < sizeof(cfg_required) / sizeof(cfg_required[0]); i++)
            if (strcmp((const char *) n->name, cfg_required[i][0]) == 0
                && strcmp(name, cfg_required[i][0]) == 0
                && ember__xml_attr(n, cfg_required[i][1]) == NULL) {
                *at = n;
                return cfg_required[i][1];
            }
        if ((miss = cfg_missing_attr(n->children, name, at)) != NULL)
            return miss;
    }
    return NULL;
}


/* Turn the collected schema errors into one "FILE:LINE: message". */
static int
cfg_schema_error(cfg_ctx_t *cx, xmlDocPtr doc)
{
    cfg_xml_error_t *x = NULL;
    xmlNodePtr at = NULL;
    const char *miss;
    long line = 0;
    int i;

    /* libxml2 follows the precise error with generic "failed to validate
     * content" ones; those (and ones without a line) come last. */
    for (i = 0; i < cx->nxml && x == NULL; i++)
        if (cx->xml[i].code != XML_RELAXNG_ERR_CONTENTVALID
            && cx->xml[i].code != XML_RELAXNG_ERR_ATTRVALID)
            x = &cx->xml[i];
    for (i = 0; i < cx->nxml && x == NULL; i++)
        if (cx->xml[i].code == XML_RELAXNG_ERR_ATTRVALID)
            x = &cx->xml[i];
    if (x == NULL && cx->nxml > 0)
        x = &cx->xml[0];
    if (x == NULL)
        return cfg_fail(cx, 0, "does not match the schema");
    for (i = 0; i < cx->nxml && line == 0; i++)
        line = cx->xml[i].line;
    if (x->line > 0)
        line = x->line;

    switch (x->code) {
    case XML_RELAXNG_ERR_ELEMWRONG:
        return cfg_fail(cx, line, "element '%s' not expected", x->s1);
    case XML_RELAXNG_ERR_EXTRACONTENT:
        return cfg_fail(cx, line, "element '%s' not expected in <%s>",
                        x->s2, x->s1);
    case XML_RELAXNG_ERR_TEXTWRONG:
        return cfg_fail(cx, line, "%s: text content not allowed", x->s1);
    case XML_RELAXNG_ERR_ELEMNAME:
        return cfg_fail(cx, line, "expected element '%s', got '%s'",
                        x->s1, x->s2);
    case XML_RELAXNG_ERR_INVALIDATTR:
        return cfg_fail(cx, line, "%s: unknown attribute '%s'", x->s2,
                        x->s1);
    case XML_RELAXNG_ERR_ATTRVALID:
        miss = cfg_missing_attr(x->node != NULL ? x->node
                                : xmlDocGetRootElement(doc), x->s1, &at);
        if (miss != NULL)
            return cfg_fail(cx, xmlGetLineNo(at),
                            "%s: missing attribute '%s'", x->s1, miss);
        return cfg_fail(cx, line, "%s: invalid attributes", x->s1);
    default:
        return cfg_fail(cx, line, "%s", x->msg);
    }
}


static xmlDocPtr
cfg_read(cfg_ctx_t *cx, const char *path)
{
    xmlParserCtxtPtr p;
    xmlDocPtr doc;

    if ((p = xmlNewParserCtxt()) == NULL) {
        cfg_fail(cx, 0, "out of memory");
        return NULL;
    }
    p->_private = cx;
    p->sax->internalSubset = cfg_on_doctype;
    doc = xmlCtxtReadFile(p, path, NULL, XML_PARSE_NONET
                          | XML_PARSE_BIG_LINES | XML_PARSE_NOWARNING);
    xmlFreeParserCtxt(p);
    if (cx->doctype_line > 0 || (doc != NULL && doc->intSubset != NULL)) {
        cfg_fail(cx, cx->doctype_line, "DOCTYPE not allowed");
        xmlFreeDoc(doc);
        return NULL;
    }
    /* Recoverable errors (an undeclared namespace prefix) still fail. */
    if (doc == NULL || cx->nxml > 0) {
        cfg_fail(cx, cx->nxml ? cx->xml[0].line : 0, "%s",
                 cx->nxml ? cx->xml[0].msg : "cannot parse");
        xmlFreeDoc(doc);
        return NULL;
    }
    return doc;
}


static int
cfg_validate(cfg_ctx_t *cx, xmlDocPtr doc)
{
    xmlRelaxNGParserCtxtPtr pc;
    xmlRelaxNGValidCtxtPtr vc = NULL;
    xmlRelaxNGPtr schema = NULL;
    int rc = EMBER_ENOMEM;

    pc = xmlRelaxNGNewMemParserCtxt(ember_rng, (int) ember_rng_len);
    if (pc == NULL)
        goto fail;
    schema = xmlRelaxNGParse(pc);
    xmlRelaxNGFreeParserCtxt(pc);
    if (schema == NULL) {
        cfg_fail(cx, 0, "built-in schema: %s",
                 cx->nxml ? cx->xml[0].msg : "invalid");
        return EMBER_EINVAL;
    }
    cx->nxml = 0;
    if ((vc = xmlRelaxNGNewValidCtxt(schema)) == NULL)
        goto fail;
    xmlRelaxNGSetValidStructuredErrors(vc, cfg_on_xml_error, cx);
    rc = xmlRelaxNGValidateDoc(vc, doc) == 0 ? 0 : cfg_schema_error(cx, doc);
fail:
    if (rc == EMBER_ENOMEM)
        cfg_fail(cx, 0, "out of memory");
    xmlRelaxNGFreeValidCtxt(vc);
    xmlRelaxNGFree(schema);
    return rc;
}


/* Integer or duration attribute `name` of n into *out, within lo..hi. */
static int
cfg_number(cfg_ctx_t *cx, xmlNodePtr n, const char *name, int duration,
           long long lo, long long hi, long long *out)
{
    const char *v = ember__xml_attr(n, name);
    long long x;

    if (v == NULL)
        return 0;
    if ((duration ? ember__parse_duration(v, &x) : ember__parse_int(v, &x)) < 0)
        return cfg_fail(cx, xmlGetLineNo(n), "%s: %s '%s' is not a %s",
                        n->name, name, v, duration ? "duration" : "number");
    if (x < lo || x > hi)
        return cfg_fail(cx, xmlGetLineNo(n), "%s: %s %s out of range "
                        "%lld..%lld", n->name, name, v, lo, hi);
    *out = x;
    return 0;
}


#define FIELD(e, f) offsetof(ember_config_t, e.f), \
    sizeof(((ember_config_t *) 0)->e.f)
#define LIMIT(a, k, lo, hi, def, f, help) \
    { "limits", a, k, lo, hi, def, FIELD(limits, f), help, NULL, 0 }
#define S2S(a, k, lo, hi, def, f, help) \
    { "s2s", a, k, lo, hi, def, FIELD(s2s, f), help, NULL, 0 }

static const ember_setting_t settings[] = {
    LIMIT("max-stanza-size", EMBER_SET_INT, 1024, 64 << 20, 262144,
          max_stanza_size, "bytes of one stanza; a bigger one ends the "
          "stream with policy-violation"),
    LIMIT("max-depth", EMBER_SET_INT, 4, 1024, 64, max_depth,
          "nesting of elements in a stanza"),
    LIMIT("max-attributes", EMBER_SET_INT, 1, 1024, 64, max_attributes,
          "attributes of one element"),
    LIMIT("idle-timeout", EMBER_SET_DURATION, 1, 604800, 600, idle_timeout,
          "a connection that sends nothing this long is closed"),
    LIMIT("auth-timeout", EMBER_SET_DURATION, 1, 3600, 60, auth_timeout,
          "time to authenticate before the stream ends"),
    LIMIT("max-connections-per-ip", EMBER_SET_INT, 0, 1000000, 100,
          max_connections_per_ip, "open connections from one address; 0: "
          "no limit"),
    LIMIT("http-max-body", EMBER_SET_INT, 0, 1 << 30, 1 << 20, http_max_body,
          "bytes of one HTTP request body"),
    LIMIT("http-request-timeout", EMBER_SET_DURATION, 1, 3600, 30,
          http_request_timeout, "time to send one HTTP request"),
    LIMIT("http-keepalive-timeout", EMBER_SET_DURATION, 1, 86400, 60,
          http_keepalive_timeout, "idle time between HTTP requests"),
    LIMIT("login-failures-per-ip", EMBER_SET_INT, 0, 1000, 5,
          login_failures_per_ip, "failed logins from an address before "
          "each next one waits"),
    LIMIT("login-failures-per-account", EMBER_SET_INT, 0, 1000, 10,
          login_failures_per_account, "failed logins of an account before "
          "each next one waits"),
    LIMIT("login-max-delay", EMBER_SET_DURATION, 1, 86400, 300,
          login_max_delay, "the longest wait after failed logins"),
    LIMIT("connections-per-second-per-ip", EMBER_SET_INT, 0, 100000, 10,
          connections_per_second_per_ip, "new connections a second from "
          "one address; 0: any"),
    LIMIT("http-buffer-per-ip", EMBER_SET_INT, 0, 1LL << 40, 8 << 20,
          http_buffer_per_ip, "HTTP request bytes held for one address; "
          "0: any"),
    LIMIT("http-buffer-total", EMBER_SET_INT, 0, 1LL << 40, 64 << 20,
          http_buffer_total, "HTTP request bytes held for every address; "
          "0: any"),
    LIMIT("resume-timeout", EMBER_SET_DURATION, 0, 86400, 300,
          resume_timeout, "how long a dropped session waits to be resumed "
          "(XEP-0198); 0: no resumption"),
    LIMIT("max-unacked", EMBER_SET_INT, 16, 1000000, 10000, max_unacked,
          "stanzas a session keeps for its client to acknowledge"),
    S2S("dialback", EMBER_SET_BOOL, 0, 1, 1, dialback,
        "offer and use dialback (XEP-0220) when certificates prove nothing"),
    S2S("require-tls", EMBER_SET_BOOL, 0, 1, 1, require_tls,
        "refuse links without TLS, both ways"),
    S2S("bidi", EMBER_SET_BOOL, 0, 1, 1, bidi,
        "one connection both ways (XEP-0288)"),
    S2S("connect-timeout", EMBER_SET_DURATION, 1, 3600, 30, connect_timeout,
        "time for a new link to come up"),
    S2S("idle-timeout", EMBER_SET_DURATION, 1, 604800, 600, idle_timeout,
        "a link idle this long closes"),
    S2S("max-queue", EMBER_SET_INT, 1, 1000000, 1000, max_queue,
        "stanzas waiting for a link"),
    S2S("domain-links", EMBER_SET_INT, 1, 100000, 16, domain_links,
        "inbound links one remote domain may hold"),
    { "s2s", "resolver", EMBER_SET_TEXT, 0, 0, 0, 0, 0,
      "DNS servers, ip[:port],...; empty: /etc/resolv.conf", NULL, 0 },
    { "s2s", "ca-file", EMBER_SET_FILE, 0, 0, 0, 0, 0,
      "certificates trusted to vouch for other servers", NULL, 0 },
    S2S("dane", EMBER_SET_BOOL, 0, 1, 0, dane,
        "check outbound peers against DNSSEC-validated TLSA records "
        "(RFC 7673); all s2s DNS is then validated"),
    { "s2s", "trust-anchor", EMBER_SET_FILE, 0, 0, 0, 0, 0,
      "DNSSEC trust anchor (DS or DNSKEY records) for dane; default "
      EMBER_ROOT_ANCHOR, NULL, 0 },
    { "listen", "type", EMBER_SET_CHOICE, 0, 0, 0, 0, 0,
      "what the port serves: c2s (STARTTLS), c2s-tls (direct TLS), http "
      "and https (WebSocket, BOSH, uploads), admin and admin-tls (the "
      "console), s2s, s2s-tls, component (XEP-0114)",
      "c2s c2s-tls http https admin admin-tls s2s s2s-tls component", 1 },
    { "listen", "address", EMBER_SET_ADDRESS, 0, 0, 0, 0, 0,
      "IPv4 or IPv6 address; default 0.0.0.0, 127.0.0.1 for admin and "
      "component", NULL, 0 },
    { "listen", "port", EMBER_SET_INT, 1, 65535, 0, 0, 0,
      "default by type: 5222, 5223, 7070, 7443, 9090, 9091, 5269, 5270, "
      "5275", NULL, 0 },
    { "listen", "require-tls", EMBER_SET_BOOL, 0, 1, 1, 0, 0,
      "c2s: no login before STARTTLS; off only on a loopback address",
      NULL, 0 },
    { "listen", "public", EMBER_SET_BOOL, 0, 1, 0, 0, 0,
      "admin, component: allowed off loopback although not encrypted",
      NULL, 0 },
    { "listen", "rate", EMBER_SET_INT, 0, 1LL << 40, 0, 0, 0,
      "bytes a second one connection may send; 0: any (default 16384 for "
      "streams, 1 MiB for s2s, 0 for admin)", NULL, 0 },
    { "listen", "burst", EMBER_SET_INT, 0, 1LL << 40, 0, 0, 0,
      "bytes above the rate allowed at once (at least 1024 with a rate)",
      NULL, 0 },
    { "listen", "host-names", EMBER_SET_TEXT, 0, 0, 0, 0, 0,
      "admin, admin-tls: more Host names the console answers, "
      "space-separated", NULL, 0 },
    { "listen", "allowed-origins", EMBER_SET_TEXT, 0, 0, 0, 0, 0,
      "http, https: browser origins WebSocket and BOSH take, "
      "space-separated; empty: any", NULL, 0 },
    { "component", "domain", EMBER_SET_DOMAIN, 0, 0, 0, 0, 0,
      "the domain the component serves; not a host of this server",
      NULL, 1 },
    { "component", "secret", EMBER_SET_SECRET, 0, 0, 0, 0, 0,
      "the shared secret of its handshake; never shown", NULL, 1 },
    { "component", "name", EMBER_SET_TEXT, 0, 0, 0, 0, 0,
      "shown in service discovery", NULL, 0 },
    { "tls", "cert", EMBER_SET_FILE, 0, 0, 0, 0, 0,
      "the certificate (PEM, leaf first); the Certificates page installs "
      "new ones", NULL, 1 },
    { "tls", "key", EMBER_SET_FILE, 0, 0, 0, 0, 0,
      "its private key (PEM)", NULL, 1 },
};

static const ember_setting_group_t groups[] = {
    { "listen", NULL, 0, 0, "Listeners and HTTP transports" },
    { "component", "domain", 0, 0, "External components" },
    { "tls", NULL, 1, 1, "TLS certificates" },
};


const ember_setting_group_t *
ember__setting_groups(size_t *n)
{
    *n = sizeof(groups) / sizeof(groups[0]);
    return groups;
}


const ember_setting_group_t *
ember__setting_group(const char *element)
{
    size_t i;

    for (i = 0; i < sizeof(groups) / sizeof(groups[0]); i++)
        if (strcmp(groups[i].element, element) == 0)
            return &groups[i];
    return NULL;
}


const ember_setting_t *
ember__settings(size_t *n)
{
    *n = sizeof(settings) / sizeof(settings[0]);
    return settings;
}


static long long
setting_get(const ember_config_t *c, const ember_setting_t *s)
{
    const char *p = (const char *) c + s->offset;

    if (s->size == sizeof(size_t) && s->size != sizeof(int))
        return (long long) *(const size_t *) p;
    return *(const int *) p;
}


static void
setting_put(ember_config_t *c, const ember_setting_t *s, long long v)
{
    char *p = (char *) c + s->offset;

    if (s->size == sizeof(size_t) && s->size != sizeof(int))
        *(size_t *) p = (size_t) v;
    else
        *(int *) p = (int) v;
}


json_t *
ember__setting_value(const ember_config_t *c, const ember_setting_t *s)
{
    const char *text = NULL;

    if (s->size > 0)
        return s->kind == EMBER_SET_BOOL ? json_boolean(setting_get(c, s))
                                         : json_integer(setting_get(c, s));
    if (strcmp(s->attr, "resolver") == 0)
        text = c->s2s.resolver;
    else if (strcmp(s->attr, "ca-file") == 0)
        text = c->s2s.ca_file;
    else if (strcmp(s->attr, "trust-anchor") == 0)
        text = c->s2s.trust_anchor;
    return text != NULL ? json_string(text) : json_null();
}


int
ember__setting_check(const ember_setting_t *s, const char *text,
                     char *msg, size_t msglen)
{
    unsigned char bin[16];
    char prepped[1024];
    const char *w;
    size_t len = strlen(text);
    long long x;

    switch (s->kind) {
    case EMBER_SET_CHOICE:
        for (w = s->choices; w != NULL && *w != '\0'; w += strcspn(w, " ")) {
            w += strspn(w, " ");
            if (strncmp(w, text, len) == 0 && (w[len] == ' ' ||
                                               w[len] == '\0'))
                return 0;
        }
        snprintf(msg, msglen, "%s: '%s' is not one of %s", s->attr, text,
                 s->choices);
        return EMBER_EINVAL;
    case EMBER_SET_ADDRESS:
        if (inet_pton(strchr(text, ':') != NULL ? AF_INET6 : AF_INET, text,
                      bin) == 1)
            return 0;
        snprintf(msg, msglen, "%s: '%s' is not an IPv4 or IPv6 address",
                 s->attr, text);
        return EMBER_EINVAL;
    case EMBER_SET_DOMAIN:
        if (ember__jid_prep_domain(text, prepped, sizeof(prepped)) == 0)
            return 0;
        snprintf(msg, msglen, "%s: '%s' is not a valid domain", s->attr,
                 text);
        return EMBER_EINVAL;
    case EMBER_SET_SECRET:
        if (len > 0)
            return 0;
        snprintf(msg, msglen, "%s: empty", s->attr);
        return EMBER_EINVAL;
    case EMBER_SET_BOOL:
        if (ember__parse_bool(text) < 0)
            goto bad;
        return 0;
    case EMBER_SET_INT:
    case EMBER_SET_DURATION:
        if ((s->kind == EMBER_SET_DURATION ? ember__parse_duration(text, &x)
                                           : ember__parse_int(text, &x)) < 0)
            goto bad;
        if (x < s->lo || x > s->hi) {
            snprintf(msg, msglen, "%s: %s is out of range %lld..%lld",
                     s->attr, text, s->lo, s->hi);
            return EMBER_EINVAL;
        }
        return 0;
    default:
        return 0;
    }
bad:
    snprintf(msg, msglen, "%s: '%s' is not a %s", s->attr, text,
             s->kind == EMBER_SET_BOOL ? "boolean (true, false)"
             : s->kind == EMBER_SET_DURATION ? "duration" : "number");
    return EMBER_EINVAL;
}


/* The table's settings of element `name` from n into c, all or none. */
static int
cfg_settings(cfg_ctx_t *cx, xmlNodePtr n, const char *name,
             ember_config_t *c)
{
    long long v[sizeof(settings) / sizeof(settings[0])];
    const char *text;
    size_t i;

    for (i = 0; i < sizeof(settings) / sizeof(settings[0]); i++) {
        const ember_setting_t *s = &settings[i];

        if (strcmp(s->element, name) != 0 || s->size == 0)
            continue;
        v[i] = setting_get(c, s);
        if (s->kind == EMBER_SET_BOOL) {
            if ((text = ember__xml_attr(n, s->attr)) == NULL)
                continue;
            if ((v[i] = ember__parse_bool(text)) < 0)
                return cfg_fail(cx, xmlGetLineNo(n), "%s: %s '%s' is not a "
                                "boolean (true, false)", name, s->attr, text);
        } else if (cfg_number(cx, n, s->attr, s->kind == EMBER_SET_DURATION,
                              s->lo, s->hi, &v[i]) < 0) {
            return EMBER_EINVAL;
        }
    }
    for (i = 0; i < sizeof(settings) / sizeof(settings[0]); i++)
        if (strcmp(settings[i].element, name) == 0 && settings[i].size > 0)
            setting_put(c, &settings[i], v[i]);
    return 0;
}


static void
cfg_settings_defaults(ember_config_t *c)
{
    size_t i;

    for (i = 0; i < sizeof(settings) / sizeof(settings[0]); i++)
        if (settings[i].size > 0)
            setting_put(c, &settings[i], settings[i].def);
}


static const struct {
    const char *name;
    ember_listen_type_t type;
    int port;
    const char *address;
} listen_types[] = {
    { "c2s", EMBER_LISTEN_C2S, 5222, "0.0.0.0" },
    { "c2s-tls", EMBER_LISTEN_C2S_TLS, 5223, "0.0.0.0" },
    { "http", EMBER_LISTEN_HTTP, 7070, "0.0.0.0" },
    { "https", EMBER_LISTEN_HTTPS, 7443, "0.0.0.0" },
    { "admin", EMBER_LISTEN_ADMIN, 9090, "127.0.0.1" },
    { "admin-tls", EMBER_LISTEN_ADMIN_TLS, 9091, "0.0.0.0" },
    { "s2s", EMBER_LISTEN_S2S, 5269, "0.0.0.0" },
    { "s2s-tls", EMBER_LISTEN_S2S_TLS, 5270, "0.0.0.0" },
    { "component", EMBER_LISTEN_COMPONENT, 5275, "127.0.0.1" },
};


const char *
ember__listen_type_name(ember_listen_type_t type)
{
    size_t i;

    for (i = 0; i < sizeof(listen_types) / sizeof(listen_types[0]); i++)
        if (listen_types[i].type == type)
            return listen_types[i].name;
    return "?";
}


static int
cfg_listener(cfg_ctx_t *cx, ember_config_t *c, xmlNodePtr n)
{
    const char *type = ember__xml_attr(n, "type"), *addr = ember__xml_attr(n, "address");
    const char *req = ember__xml_attr(n, "require-tls");
    const char *pub = ember__xml_attr(n, "public");
    const char *names = ember__xml_attr(n, "host-names");
    const char *origins = ember__xml_attr(n, "allowed-origins");
    ember_listener_conf_t *l, **tail;
    long long rate, burst;
    ember_listen_type_t t;
    unsigned char bin[16];
    char text[INET6_ADDRSTRLEN];
    long line = xmlGetLineNo(n);
    long long port;
    size_t i;
    int v6, loop;

    for (i = 0; i < sizeof(listen_types) / sizeof(listen_types[0]); i++)
        if (strcmp(type, listen_types[i].name) == 0)
            break;
    if (i == sizeof(listen_types) / sizeof(listen_types[0]))
        return cfg_fail(cx, line, "listen: unknown type '%s' (c2s, c2s-tls, "
                        "http, https, admin, admin-tls, s2s, s2s-tls, "
                        "component)", type);
    t = listen_types[i].type;
    port = listen_types[i].port;
    /* Streams are shaped by default, XMPP over WebSocket included; HTTP
     * requests have their own limits. */
    rate = t == EMBER_LISTEN_ADMIN || t == EMBER_LISTEN_ADMIN_TLS ? 0
         : t == EMBER_LISTEN_S2S || t == EMBER_LISTEN_S2S_TLS ? 1 << 20
         : 16384;
    burst = t == EMBER_LISTEN_S2S || t == EMBER_LISTEN_S2S_TLS ? 4 << 20
          : rate > 0 ? 262144 : 0;
    if (cfg_number(cx, n, "port", 0, 1, 65535, &port) < 0
        || cfg_number(cx, n, "rate", 0, 0, 1LL << 40, &rate) < 0
        || cfg_number(cx, n, "burst", 0, 0, 1LL << 40, &burst) < 0)
        return EMBER_EINVAL;
    if (rate > 0 && burst < 1024)
        return cfg_fail(cx, line, "listen: burst %lld is too small for a "
                        "rate (at least 1024 bytes)", burst);
    if (addr == NULL)
        addr = listen_types[i].address;
    v6 = strchr(addr, ':') != NULL;
    if (inet_pton(v6 ? AF_INET6 : AF_INET, addr, bin) != 1)
        return cfg_fail(cx, line, "listen: address '%s' is not an IPv4 or "
                        "IPv6 address", addr);
    inet_ntop(v6 ? AF_INET6 : AF_INET, bin, text, sizeof(text));
    /* 127.0.0.0/8, ::1 and IPv4-mapped 127.0.0.0/8. */
    loop = !v6 ? bin[0] == 127
         : memcmp(bin, in6addr_loopback.s6_addr, 16) == 0
           || (memcmp(bin, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0
               && bin[12] == 127);
    if (req != NULL && t != EMBER_LISTEN_C2S && t != EMBER_LISTEN_C2S_TLS)
        return cfg_fail(cx, line, "listen: require-tls is only for c2s "
                        "listeners, not %s", type);
    if (req != NULL && ember__parse_bool(req) < 0)
        return cfg_fail(cx, line, "listen: require-tls '%s' is not a boolean"
                        " (true, false)", req);
    if (req != NULL && !ember__parse_bool(req) && t == EMBER_LISTEN_C2S_TLS)
        return cfg_fail(cx, line, "listen: require-tls=\"%s\" is meaningless"
                        " on a c2s-tls listener", req);
    if (req != NULL && !ember__parse_bool(req) && !loop)
        return cfg_fail(cx, line, "listen: require-tls=\"%s\" only allowed on"
                        " a loopback address (127.x.x.x, ::1), not %s", req,
                        text);
    if (pub != NULL && t != EMBER_LISTEN_ADMIN && t != EMBER_LISTEN_COMPONENT)
        return cfg_fail(cx, line, "listen: public is only for admin and "
                        "component listeners, not %s", type);
    if (pub != NULL && ember__parse_bool(pub) < 0)
        return cfg_fail(cx, line, "listen: public '%s' is not a boolean "
                        "(true, false)", pub);
    if (origins != NULL && t != EMBER_LISTEN_HTTP && t != EMBER_LISTEN_HTTPS)
        return cfg_fail(cx, line, "listen: allowed-origins is only for http "
                        "and https listeners, not %s", type);
    if (names != NULL && t != EMBER_LISTEN_ADMIN && t != EMBER_LISTEN_ADMIN_TLS)
        return cfg_fail(cx, line, "listen: host-names is only for admin and "
                        "admin-tls listeners, not %s", type);
    /* The console without TLS sends passwords and cookies in clear. */
    if (t == EMBER_LISTEN_ADMIN && !loop && (pub == NULL || !ember__parse_bool(pub)))
        return cfg_fail(cx, line, "listen: an admin listener without TLS "
                        "must be on a loopback address (127.x.x.x, ::1), not "
                        "%s; use admin-tls, or set public=\"true\"", text);
    /* Component streams have no TLS: stanzas would cross the network in
     * clear. */
    if (t == EMBER_LISTEN_COMPONENT && !loop &&
        (pub == NULL || !ember__parse_bool(pub)))
        return cfg_fail(cx, line, "listen: a component listener must be on "
                        "a loopback address (127.x.x.x, ::1), not %s, since "
                        "its streams are not encrypted; set public=\"true\" "
                        "to accept that", text);
    for (tail = &c->listeners; *tail != NULL; tail = &(*tail)->next)
        if ((*tail)->port == port && strcmp((*tail)->address, text) == 0)
            return cfg_fail(cx, line, "listen: %s%s%s:%lld already used at "
                            "line %d", v6 ? "[" : "", text, v6 ? "]" : "",
                            port, (*tail)->line);
    if ((l = calloc(1, sizeof(*l))) == NULL
        || (l->address = strdup(text)) == NULL
        || (names != NULL && (l->host_names = strdup(names)) == NULL)
        || (origins != NULL &&
            (l->allowed_origins = strdup(origins)) == NULL)) {
        if (l != NULL) {
            free(l->address);
            free(l->host_names);
            free(l->allowed_origins);
        }
        free(l);
        return EMBER_ENOMEM;
    }
    l->type = t;
    l->port = (int) port;
    l->require_tls = t == EMBER_LISTEN_C2S ? req == NULL || ember__parse_bool(req)
                                           : t != EMBER_LISTEN_C2S_TLS ? 0 : 1;
    l->public = pub != NULL && ember__parse_bool(pub) == 1;
    l->rate = (uint64_t) rate;
    l->burst = (uint64_t) burst;
    l->line = (int) line;
    *tail = l;
    return 0;
}


/* Append the <module> n to *list, refusing a name already there. */
static int
cfg_module(cfg_ctx_t *cx, ember_module_conf_t **list, xmlNodePtr n,
           const char *where)
{
    const char *name = ember__xml_attr(n, "name");
    ember_module_conf_t *m;

    for (; *list != NULL; list = &(*list)->next)
        if (strcmp((*list)->name, name) == 0)
            return cfg_fail(cx, xmlGetLineNo(n), "module: '%s' already "
                            "enabled %s at line %d", name, where,
                            (*list)->line);
    if (*name == '\0')
        return cfg_fail(cx, xmlGetLineNo(n), "module: empty name");
    if ((m = calloc(1, sizeof(*m))) == NULL
        || (m->name = strdup(name)) == NULL) {
        free(m);
        return EMBER_ENOMEM;
    }
    m->node = n;
    m->line = (int) xmlGetLineNo(n);
    *list = m;
    return 0;
}


static int
cfg_tls(cfg_ctx_t *cx, const char *dir, xmlNodePtr n, char **cert,
        char **key)
{
    free(*cert);
    free(*key);
    *cert = ember__path_abs(dir, ember__xml_attr(n, "cert"));
    *key = ember__path_abs(dir, ember__xml_attr(n, "key"));
    return *cert == NULL || *key == NULL ? EMBER_ENOMEM : 0;
}


static int
cfg_host(cfg_ctx_t *cx, ember_config_t *c, xmlNodePtr n)
{
    char name[1024], where[1100];
    ember_host_conf_t *h, **tail;
    xmlNodePtr k;
    int rc;

    if (ember__jid_prep_domain(ember__xml_attr(n, "name"), name, sizeof(name)) < 0)
        return cfg_fail(cx, xmlGetLineNo(n), "host: invalid host name '%s'",
                        ember__xml_attr(n, "name"));
    for (tail = &c->hosts; *tail != NULL; tail = &(*tail)->next)
        if (strcmp((*tail)->name, name) == 0)
            return cfg_fail(cx, xmlGetLineNo(n), "host: '%s' already "
                            "defined at line %d", name, (*tail)->line);
    if ((h = calloc(1, sizeof(*h))) == NULL)
        return EMBER_ENOMEM;
    *tail = h;
    h->line = (int) xmlGetLineNo(n);
    if ((h->name = strdup(name)) == NULL)
        return EMBER_ENOMEM;
    snprintf(where, sizeof(where), "in host %s", name);
    for (k = n->children; k != NULL; k = k->next) {
        if (is_element(k, "tls") && h->cert_file != NULL)
            return cfg_fail(cx, xmlGetLineNo(k), "element 'tls' repeated in "
                            "host %s", name);
        if (is_element(k, "tls"))
            rc = cfg_tls(cx, c->dir, k, &h->cert_file, &h->key_file);
        else if (is_element(k, "module"))
            rc = cfg_module(cx, &h->modules, k, where);
        else
            continue;
        if (rc < 0)
            return rc;
    }
    return 0;
}


/* <component domain secret name>: one a domain; hosts are checked once
 * every <host> is read. */
static int
cfg_component(cfg_ctx_t *cx, ember_config_t *c, xmlNodePtr n)
{
    const char *domain = ember__xml_attr(n, "domain");
    const char *secret = ember__xml_attr(n, "secret");
    const char *name = ember__xml_attr(n, "name");
    ember_component_conf_t *k, **tail;
    long line = xmlGetLineNo(n);
    char prepped[1024];

    if (ember__jid_prep_domain(domain, prepped, sizeof(prepped)) < 0)
        return cfg_fail(cx, line, "component: invalid domain '%s'", domain);
    if (*secret == '\0')
        return cfg_fail(cx, line, "component: empty secret for %s", prepped);
    for (tail = &c->components; *tail != NULL; tail = &(*tail)->next)
        if (strcmp((*tail)->domain, prepped) == 0)
            return cfg_fail(cx, line, "component: '%s' already defined at "
                            "line %d", prepped, (*tail)->line);
    if ((k = calloc(1, sizeof(*k))) == NULL)
        return EMBER_ENOMEM;
    *tail = k;
    k->line = (int) line;
    if ((k->domain = strdup(prepped)) == NULL ||
        (k->secret = strdup(secret)) == NULL ||
        (name != NULL && (k->name = strdup(name)) == NULL))
        return EMBER_ENOMEM;
    return 0;
}


/* Append a copy of s to the NULL-terminated vector *v of *count strings. */
static int
cfg_strv_add(char ***v, size_t *count, char *s)
{
    char **a;

    if (s == NULL || (a = realloc(*v, (*count + 2) * sizeof(*a))) == NULL) {
        free(s);
        return EMBER_ENOMEM;
    }
    a[(*count)++] = s;
    a[*count] = NULL;
    *v = a;
    return 0;
}


static int
cfg_admin(cfg_ctx_t *cx, ember_config_t *c, xmlNodePtr n, size_t *count)
{
    const char *s = ember__xml_attr(n, "jid");
    ember_jid_t *j = ember__jid_parse(s);
    int rc;

    if (j == NULL || ember__jid_resource(j) != NULL) {
        ember__jid_free(j);
        return cfg_fail(cx, xmlGetLineNo(n), "admin: '%s' is not a valid "
                        "bare JID", s);
    }
    rc = cfg_strv_add(&c->admins, count, strdup(ember__jid_bare(j)));
    ember__jid_free(j);
    return rc;
    return 0;
}


/* <limit domain rate burst links max-queue/> inside <s2s>. */
static int
cfg_s2s_limit(cfg_ctx_t *cx, ember_s2s_conf_t *s, xmlNodePtr k)
{
    long long v[4] = { -1, -1, -1, -1 };
    ember_s2s_limit_t *lim, *grown;
    char name[1024];
    size_t i;

    if (ember__jid_prep_domain(ember__xml_attr(k, "domain"), name,
                               sizeof(name)) < 0)
        return cfg_fail(cx, xmlGetLineNo(k), "limit: invalid domain '%s'",
                        ember__xml_attr(k, "domain"));
    for (i = 0; i < s->nlimits; i++)
        if (strcmp(s->limits[i].domain, name) == 0)
            return cfg_fail(cx, xmlGetLineNo(k), "limit: domain '%s' has a "
                            "limit already", name);
    if (cfg_number(cx, k, "rate", 0, 0, 1LL << 40, &v[0]) < 0
        || cfg_number(cx, k, "burst", 0, 1024, 1LL << 40, &v[1]) < 0
        || cfg_number(cx, k, "links", 0, 0, 100000, &v[2]) < 0
        || cfg_number(cx, k, "max-queue", 0, 0, 1000000, &v[3]) < 0)
        return EMBER_EINVAL;
    if (v[0] > 0 && v[1] < 0)
        v[1] = v[0] * 4 > 1024 ? v[0] * 4 : 1024;
    grown = realloc(s->limits, (s->nlimits + 1) * sizeof(*grown));
    if (grown == NULL)
        return EMBER_ENOMEM;
    s->limits = grown;
    lim = &s->limits[s->nlimits];
    *lim = (ember_s2s_limit_t) { .rate = v[0], .burst = v[1],
                                 .links = (int) v[2],
                                 .max_queue = (int) v[3] };
    if ((lim->domain = strdup(name)) == NULL)
        return EMBER_ENOMEM;
    s->nlimits++;
    return 0;
}


/* <s2s dialback require-tls resolver ca-file ...>, <block domain/>,
 * <limit domain .../>. */
static int
cfg_s2s(cfg_ctx_t *cx, ember_config_t *c, xmlNodePtr n)
{
    ember_s2s_conf_t *s = &c->s2s;
    const char *res = ember__xml_attr(n, "resolver");
    const char *ca = ember__xml_attr(n, "ca-file");
    const char *ta = ember__xml_attr(n, "trust-anchor");
    char name[1024];
    size_t nblocked = 0;
    xmlNodePtr k;
    int rc;

    s->line = (int) xmlGetLineNo(n);
    if ((rc = cfg_settings(cx, n, "s2s", c)) < 0)
        return rc;
    if (res != NULL && *res != '\0' && (s->resolver = strdup(res)) == NULL)
        return EMBER_ENOMEM;
    if (ca != NULL && (s->ca_file = ember__path_abs(c->dir, ca)) == NULL)
        return EMBER_ENOMEM;
    if (ta != NULL && *ta == '\0')
        return cfg_fail(cx, s->line, "s2s: trust-anchor is empty");
    if (s->dane &&
        (s->trust_anchor = ember__path_abs(c->dir, ta != NULL
                                                        ? ta
                                                        : EMBER_ROOT_ANCHOR))
            == NULL)
        return EMBER_ENOMEM;
    for (k = n->children; k != NULL; k = k->next) {
        if (is_element(k, "limit")) {
            if ((rc = cfg_s2s_limit(cx, s, k)) < 0)
                return rc;
            continue;
        }
        if (!is_element(k, "block"))
            continue;
        if (ember__jid_prep_domain(ember__xml_attr(k, "domain"), name,
                                   sizeof(name)) < 0)
            return cfg_fail(cx, xmlGetLineNo(k), "block: invalid domain "
                            "'%s'", ember__xml_attr(k, "domain"));
        if ((rc = cfg_strv_add(&s->blocked, &nblocked, strdup(name))) < 0)
            return rc;
    }
    return 0;
}


/* <run-as user group>: names checked against the system when emberd
 * starts as root, not here (a config is checked on other machines). */
static int
cfg_run_as(cfg_ctx_t *cx, ember_config_t *c, xmlNodePtr n)
{
    const char *user = ember__xml_attr(n, "user");
    const char *group = ember__xml_attr(n, "group");

    if (user != NULL && (*user == '\0' || strchr(user, ':') != NULL))
        return cfg_fail(cx, xmlGetLineNo(n), "run-as: user '%s' is not a "
                        "user name", user);
    if (group != NULL && (*group == '\0' || strchr(group, ':') != NULL))
        return cfg_fail(cx, xmlGetLineNo(n), "run-as: group '%s' is not a "
                        "group name", group);
    free(c->run_user);
    c->run_user = NULL;
    if ((user != NULL && (c->run_user = strdup(user)) == NULL) ||
        (group != NULL && (c->run_group = strdup(group)) == NULL))
        return EMBER_ENOMEM;
    return 0;
}


/* Redis's password: the first line of the file (read before the
 * privileges drop, so it may be root's alone). */
static int
cfg_cluster_password(cfg_ctx_t *cx, ember_config_t *c, long line,
                     const char *file)
{
    char *path = ember__path_abs(c->dir, file), buf[1024];
    FILE *f = path != NULL ? fopen(path, "re") : NULL;
    int err = errno;

    free(path);
    if (f == NULL)
        return cfg_fail(cx, line, "cluster: cannot read password-file "
                        "'%s': %s", file, strerror(err));
    if (fgets(buf, sizeof(buf), f) == NULL)
        buf[0] = '\0';
    fclose(f);
    buf[strcspn(buf, "\r\n")] = '\0';
    if (buf[0] == '\0')
        return cfg_fail(cx, line, "cluster: password-file '%s' has no "
                        "password on its first line", file);
    if ((c->cluster.redis_password = strdup(buf)) == NULL)
        return EMBER_ENOMEM;
    explicit_bzero(buf, sizeof(buf));
    return 0;
}


/* <cluster redis="host:port" node="name" lease-ms user password-file/>:
 * names go into Redis keys and channels, so they stay plain. */
static int
cfg_cluster(cfg_ctx_t *cx, ember_config_t *c, xmlNodePtr n)
{
    ember_cluster_conf_t *cl = &c->cluster;
    const char *redis = ember__xml_attr(n, "redis");
    const char *node = ember__xml_attr(n, "node");
    const char *lease = ember__xml_attr(n, "lease-ms");
    const char *user = ember__xml_attr(n, "user");
    const char *pwfile = ember__xml_attr(n, "password-file");
    const char *colon, *p;
    char *end;
    long port, ms = 5000;
    long line = xmlGetLineNo(n);

    cl->line = (int) line;
    colon = redis != NULL ? strrchr(redis, ':') : NULL;
    if (colon == NULL || colon == redis || colon[1] == '\0')
        return cfg_fail(cx, line, "cluster: redis '%s' is not host:port",
                        redis != NULL ? redis : "");
    errno = 0;
    port = strtol(colon + 1, &end, 10);
    if (*end != '\0' || errno != 0 || port < 1 || port > 65535)
        return cfg_fail(cx, line, "cluster: redis port '%s' is not a port "
                        "(1-65535)", colon + 1);
    if (node == NULL || *node == '\0' || strlen(node) > 64)
        return cfg_fail(cx, line, "cluster: node name '%s' must have 1 to "
                        "64 characters", node != NULL ? node : "");
    for (p = node; *p != '\0'; p++)
        if (!isalnum((unsigned char) *p) && strchr("._-", *p) == NULL)
            return cfg_fail(cx, line, "cluster: node name '%s' may hold "
                            "only letters, digits, '.', '_' and '-'", node);
    if (lease != NULL) {
        errno = 0;
        ms = strtol(lease, &end, 10);
        if (*lease == '\0' || *end != '\0' || errno != 0 || ms < 1000 ||
            ms > 600000)
            return cfg_fail(cx, line, "cluster: lease-ms '%s' is out of "
                            "range (1000-600000)", lease);
    }
    /* [v6]:port */
    if (redis[0] == '[' && colon[-1] == ']')
        cl->redis_host = strndup(redis + 1, (size_t) (colon - redis - 2));
    else
        cl->redis_host = strndup(redis, (size_t) (colon - redis));
    cl->redis_port = (int) port;
    cl->lease_ms = (int) ms;
    if (cl->redis_host == NULL || (cl->node = strdup(node)) == NULL)
        return EMBER_ENOMEM;
    if (user != NULL && (*user == '\0' || strpbrk(user, " \t\r\n") != NULL))
        return cfg_fail(cx, line, "cluster: user '%s' must be one word",
                        user);
    if (user != NULL && (cl->redis_user = strdup(user)) == NULL)
        return EMBER_ENOMEM;
    if (pwfile != NULL)
        return cfg_cluster_password(cx, c, line, pwfile);
    if (user != NULL)
        return cfg_fail(cx, line, "cluster: user needs password-file");
    return 0;
}


/* A component owns its domain: a local host cannot be one. */
static int
cfg_components_check(cfg_ctx_t *cx, ember_config_t *c)
{
    const ember_component_conf_t *k;
    const ember_host_conf_t *h;

    for (k = c->components; k != NULL; k = k->next)
        for (h = c->hosts; h != NULL; h = h->next)
            if (strcmp(k->domain, h->name) == 0)
                return cfg_fail(cx, k->line, "component: '%s' is a host of "
                                "this server (line %d); a component needs a "
                                "domain of its own", k->domain, h->line);
    return 0;
}


/* Settings of <ember>'s children, in document order. */
static int
cfg_build(cfg_ctx_t *cx, ember_config_t *c, xmlNodePtr root)
{
    static const char *const once[] = { "log", "paths", "tls", "limits",
                                        "run-as", "s2s", "cluster" };
    struct sockaddr_un su;
    long seen[7] = { 0 };
    size_t nadmins = 0, ndirs = 0, i;
    xmlNodePtr n, paths = NULL, log = NULL;
    const char *v;
    int rc = 0;

    for (n = root->children; n != NULL && rc == 0; n = n->next) {
        if (!is_element(n, NULL))
            continue;
        for (i = 0; i < 7; i++)
            if (is_element(n, once[i]) && seen[i] > 0)
                return cfg_fail(cx, xmlGetLineNo(n), "element '%s' repeated"
                                " (first at line %ld)", once[i], seen[i]);
            else if (is_element(n, once[i]))
                seen[i] = xmlGetLineNo(n);
        if (is_element(n, "log"))
            log = n;
        else if (is_element(n, "paths"))
            paths = n;
        else if (is_element(n, "plugins"))
            rc = cfg_strv_add(&c->plugin_dirs, &ndirs,
                              ember__path_abs(c->dir, ember__xml_attr(n, "dir")));
        else if (is_element(n, "tls"))
            rc = cfg_tls(cx, c->dir, n, &c->cert_file, &c->key_file);
        else if (is_element(n, "limits"))
            rc = cfg_settings(cx, n, "limits", c);
        else if (is_element(n, "run-as"))
            rc = cfg_run_as(cx, c, n);
        else if (is_element(n, "s2s"))
            rc = cfg_s2s(cx, c, n);
        else if (is_element(n, "cluster"))
            rc = cfg_cluster(cx, c, n);
        else if (is_element(n, "admin"))
            rc = cfg_admin(cx, c, n, &nadmins);
        else if (is_element(n, "listen"))
            rc = cfg_listener(cx, c, n);
        else if (is_element(n, "module"))
            rc = cfg_module(cx, &c->global_modules, n, "globally");
        else if (is_element(n, "host"))
            rc = cfg_host(cx, c, n);
        else if (is_element(n, "component"))
            rc = cfg_component(cx, c, n);
    }
    if (rc < 0)
        return rc;
    if (c->hosts == NULL)
        return cfg_fail(cx, xmlGetLineNo(root), "ember: no <host> element; "
                        "at least one virtual host is required");
    if ((rc = cfg_components_check(cx, c)) < 0)
        return rc;
    if (log != NULL && (v = ember__xml_attr(log, "level")) != NULL
        && (c->log_level = ember__log_level_parse(v)) < 0)
        return cfg_fail(cx, xmlGetLineNo(log), "log: unknown level '%s' "
                        "(error, warn, info, debug)", v);
    if (log != NULL && (v = ember__xml_attr(log, "file")) != NULL
        && (c->log_file = ember__path_abs(c->dir, v)) == NULL)
        return EMBER_ENOMEM;

    v = paths != NULL ? ember__xml_attr(paths, "data") : NULL;
    c->data_dir = ember__path_abs(c->dir, v != NULL ? v : "data");
    v = paths != NULL ? ember__xml_attr(paths, "control-socket") : NULL;
    c->control_socket = v != NULL ? ember__path_abs(c->dir, v)
                      : ember__path_abs(c->data_dir, "emberd.sock");
    if (c->cert_file == NULL) {
        c->cert_file = ember__path_abs(c->data_dir, "tls/cert.pem");
        c->key_file = ember__path_abs(c->data_dir, "tls/key.pem");
    }
#ifdef EMBER_PLUGINDIR
    if (ndirs == 0 && cfg_strv_add(&c->plugin_dirs, &ndirs,
                                   strdup(EMBER_PLUGINDIR)) < 0)
        return EMBER_ENOMEM;
#endif
    if (c->run_user == NULL && (c->run_user = strdup("ember")) == NULL)
        return EMBER_ENOMEM;
    if (c->data_dir == NULL || c->control_socket == NULL
        || c->cert_file == NULL || c->key_file == NULL
        || (c->admins == NULL
            && (c->admins = calloc(1, sizeof(char *))) == NULL)
        || (c->plugin_dirs == NULL
            && (c->plugin_dirs = calloc(1, sizeof(char *))) == NULL))
        return EMBER_ENOMEM;
    if (strlen(c->control_socket) >= sizeof(su.sun_path))
        return cfg_fail(cx, paths != NULL ? xmlGetLineNo(paths) : 0,
                        "paths: control-socket '%s' longer than %zu bytes",
                        c->control_socket, sizeof(su.sun_path) - 1);
    return 0;
}


int
ember__config_load(const char *path, ember_config_t **out, char *err,
                   size_t errlen)
{
    cfg_ctx_t *cx;
    ember_config_t *c = NULL;
    xmlStructuredErrorFunc old_fn = xmlStructuredError;
    void *old_ud = xmlStructuredErrorContext;
    char *slash;
    int rc = EMBER_ENOMEM;

    *out = NULL;
    if ((cx = calloc(1, sizeof(*cx))) == NULL)
        return EMBER_ENOMEM;
    cx->file = path;
    cx->err = err;
    cx->errlen = errlen;
    /* Every libxml2 message (parser, I/O, schema) lands in cx, not stderr. */
    xmlSetStructuredErrorFunc(cx, cfg_on_xml_error);
    if ((c = calloc(1, sizeof(*c))) == NULL)
        goto fail;
    c->log_level = EMBER_LOG_INFO;
    cfg_settings_defaults(c);
    if ((c->path = realpath(path, NULL)) == NULL) {
        rc = errno == ENOMEM ? EMBER_ENOMEM
           : errno == ENOENT ? EMBER_ENOENT : EMBER_EIO;
        cfg_fail(cx, 0, "%s", strerror(errno));
        goto fail;
    }
    if ((c->dir = strdup(c->path)) == NULL)
        goto fail;
    slash = strrchr(c->dir, '/');
    slash[slash == c->dir ? 1 : 0] = '\0';
    rc = EMBER_EINVAL;
    if ((c->doc = cfg_read(cx, c->path)) == NULL
        || (rc = cfg_validate(cx, c->doc)) < 0
        || (rc = cfg_build(cx, c, xmlDocGetRootElement(c->doc))) < 0)
        goto fail;
    ember__config_use_data_dir(c->data_dir);
    *out = c;
    c = NULL;
    rc = 0;
fail:
    if (rc == EMBER_ENOMEM)
        cfg_fail(cx, 0, "out of memory");
    xmlSetStructuredErrorFunc(old_ud, old_fn);
    ember__config_free(c);
    free(cx);
    return rc;
}


static void
cfg_free_modules(ember_module_conf_t *m)
{
    ember_module_conf_t *next;

    for (; m != NULL; m = next) {
        next = m->next;
        free(m->name);
        free(m);
    }
}


static void
cfg_free_components(ember_component_conf_t *k)
{
    ember_component_conf_t *next;

    for (; k != NULL; k = next) {
        next = k->next;
        free(k->domain);
        free(k->secret);
        free(k->name);
        free(k);
    }
}


void
ember__config_free(ember_config_t *c)
{
    ember_listener_conf_t *l;
    ember_host_conf_t *h;
    char **s;
    size_t i;

    if (c == NULL)
        return;
    while ((l = c->listeners) != NULL) {
        c->listeners = l->next;
        free(l->address);
        free(l->host_names);
        free(l->allowed_origins);
        free(l);
    }
    while ((h = c->hosts) != NULL) {
        c->hosts = h->next;
        cfg_free_modules(h->modules);
        free(h->name);
        free(h->cert_file);
        free(h->key_file);
        free(h);
    }
    cfg_free_modules(c->global_modules);
    cfg_free_components(c->components);
    for (s = c->plugin_dirs; s != NULL && *s != NULL; s++)
        free(*s);
    for (s = c->admins; s != NULL && *s != NULL; s++)
        free(*s);
    for (s = c->s2s.blocked; s != NULL && *s != NULL; s++)
        free(*s);
    free(c->s2s.blocked);
    for (i = 0; i < c->s2s.nlimits; i++)
        free(c->s2s.limits[i].domain);
    free(c->s2s.limits);
    free(c->s2s.resolver);
    free(c->s2s.ca_file);
    free(c->s2s.trust_anchor);
    free(c->cluster.redis_host);
    free(c->cluster.node);
    free(c->cluster.redis_user);
    if (c->cluster.redis_password != NULL) {
        explicit_bzero(c->cluster.redis_password,
                       strlen(c->cluster.redis_password));
        free(c->cluster.redis_password);
    }
    free(c->plugin_dirs);
    free(c->admins);
    free(c->run_user);
    free(c->run_group);
    free(c->path);
    free(c->dir);
    free(c->log_file);
    free(c->control_socket);
    free(c->data_dir);
    free(c->cert_file);
    free(c->key_file);
    xmlFreeDoc(c->doc);
    free(c);
}


ember_host_conf_t *
ember__config_host(ember_config_t *c, const char *name)
{
    ember_host_conf_t *h;
    char prepped[1024];

    if (c == NULL || name == NULL
        || ember__jid_prep_domain(name, prepped, sizeof(prepped)) < 0)
        return NULL;
    for (h = c->hosts; h != NULL; h = h->next)
        if (strcmp(h->name, prepped) == 0)
            return h;
    return NULL;
}


const ember_component_conf_t *
ember__config_component(const ember_config_t *c, const char *domain)
{
    const ember_component_conf_t *k;

    for (k = c != NULL && domain != NULL ? c->components : NULL; k != NULL;
         k = k->next)
        if (strcmp(k->domain, domain) == 0)
            return k;
    return NULL;
}
