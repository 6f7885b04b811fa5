/* core/xmlstream.c -- hardened XMPP stream parser on libxml2's SAX2 push
 * interface, with a process-wide pool of idle parser contexts. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/dict.h>

#include <ember/errno.h>

#include "base/buf.h"
#include "xmpp/stanza.h"
#include "xmpp/xmlguard.h"
#include "xmpp/xmlstream.h"


#define DEFAULT_MAX_STANZA (1024 * 1024)
#define DEFAULT_MAX_DEPTH 64
#define DEFAULT_MAX_ATTRS 64
/* A stream header needs a few hundred bytes; a client sends one before it
 * has authenticated, so it gets no more than this. */
#define MAX_HEADER 4096

/* Idle contexts kept for reuse; a context costs about 10 KB. */
#define POOL_MAX 64
/* A context whose dictionary (names, namespaces) grew past this many
 * entries is freed, not pooled: a reset keeps the dictionary. */
#define POOL_MAX_DICT 2048

struct ember_xml_s {
    xmlParserCtxtPtr ctxt; /* NULL while the stream is idle and pooled */
    ember_xml_cbs_t cbs;
    void *ud;
    ember_xml_limits_t lim;
    int depth;             /* open elements, the stream root included */
    ember_stanza_t *top;   /* stanza being built */
    ember_stanza_t *cur;   /* its innermost open element */
    ember_buf_t text;      /* character data not yet attached to cur */
    ember_buf_t scratch;   /* prefixed attribute names */
    size_t fed;            /* bytes pushed since the context was reset */
    size_t boundary;       /* offset in fed where the next stanza begins */
    size_t push_end;       /* offset in fed of the parser's input end */
    /* The stream header as re-declared when priming a pooled context,
     * then NUL and the stream's default namespace (or a second NUL). */
    char *header;
    size_t header_len;
    const char *stream_ns;
    /* The root declared prefixes the synthetic header leaves out, so the
     * context is never pooled (priming could not restore them). */
    unsigned keep_ctxt : 1;
    unsigned failed : 1;   /* error reported; dead until a restart */
    unsigned stopped : 1;  /* ember__xml_stop: dead until a restart */
    unsigned restart : 1;  /* fresh document at the next feed */
    unsigned priming : 1;  /* pushing the synthetic header */
    unsigned standalone : 1;
    unsigned feeding : 1;  /* inside xmlParseChunk */
    ember_stanza_t *result; /* standalone: the parsed element */
};

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static xmlParserCtxtPtr pool[POOL_MAX];
static int pool_len;

static const ember_xml_limits_t default_limits = {
    DEFAULT_MAX_STANZA, DEFAULT_MAX_DEPTH, DEFAULT_MAX_ATTRS
};


static int
dead(const ember_xml_t *x)
{
    return x->failed || x->stopped || x->restart;
}


static void
drop_stanza(ember_xml_t *x)
{
    ember__stanza_free(x->top);
    x->top = NULL;
    x->cur = NULL;
    ember__buf_reset(&x->text);
}


static void
fail(ember_xml_t *x, ember_stream_cond_t cond, const char *text)
{
    if (dead(x))
        return;
    x->failed = 1;
    if (x->ctxt != NULL)
        xmlStopParser(x->ctxt);
    drop_stanza(x);
    if (x->cbs.error != NULL)
        x->cbs.error(x->ud, cond, text);
}


/* After a callback into the session: honour stop/restart at once. */
static void
after_callback(ember_xml_t *x)
{
    if ((x->stopped || x->restart) && x->ctxt != NULL
        && x->ctxt->instate != XML_PARSER_EOF)
        xmlStopParser(x->ctxt);
}


static void
on_error(void *ud, xmlErrorPtr err)
{
    ember_xml_t *x = ud;
    char msg[160];
    size_t n;

    if (err == NULL || err->level < XML_ERR_ERROR)
        return;
    snprintf(msg, sizeof(msg), "%s", err->message ? err->message : "");
    n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        msg[--n] = '\0';
    switch (err->code) {
    case XML_ERR_UNSUPPORTED_ENCODING:
    case XML_ERR_UNKNOWN_ENCODING:
        fail(x, EMBER_STREAM_UNSUPPORTED_ENCODING, msg);
        break;
    default:
        fail(x, EMBER_STREAM_NOT_WELL_FORMED, msg);
        break;
    }
}


/* Silences libxml2's printf-style channel; on_error sees everything. */
static void
on_vararg_error(void *ud, const char *fmt, ...)
{
    (void) ud;
    (void) fmt;
}


/*
 * Offset (in bytes fed) of position p of the parser's input.  Counted
 * back from the end of what was pushed: xmlByteConsumed drifts by a few
 * bytes when the document starts in tiny chunks.
 */
static size_t
input_offset(ember_xml_t *x, const xmlChar *p)
{
    xmlParserInputPtr in = x->ctxt->input;

    if (in == NULL || in->end == NULL || p > in->end)
        return x->push_end;
    return x->push_end - (size_t) (in->end - p);
}


static void
on_characters(void *ud, const xmlChar *ch, int len)
{
    ember_xml_t *x = ud;
    xmlParserInputPtr in;
    size_t pos;

    if (dead(x) || len <= 0)
        return;
    if (x->depth >= 2) {
        if (ember__buf_append(&x->text, (const char *) ch, (size_t) len) < 0)
            fail(x, EMBER_STREAM_RESOURCE_CONSTRAINT, "out of memory");
        return;
    }
    /* Whitespace between stanzas belongs to no stanza's size. */
    in = x->ctxt->input;
    if (in == NULL || ch < in->base || ch + len > in->end)
        return;
    pos = input_offset(x, ch + len);
    if (pos > x->boundary)
        x->boundary = pos;
}


static int
flush_text(ember_xml_t *x)
{
    int err;

    if (x->text.len == 0 || x->cur == NULL)
        return 0;
    err = ember__stanza_add_textn(x->cur, x->text.data, x->text.len);
    ember__buf_reset(&x->text);
    return err;
}


/*
 * libxml2 hands attribute values and namespace names over with '&' kept
 * as "&#38;" when entities are not substituted (every other reference is
 * already replaced), so that is the one sequence to decode.  Returns v
 * itself when there is nothing to decode, else b's data; NULL on ENOMEM.
 */
static const char *
amp_decode(ember_buf_t *b, const char *v, size_t n, size_t *len)
{
    const char *amp;
    size_t i;
    int err;

    *len = n;
    if (v == NULL || (amp = memchr(v, '&', n)) == NULL)
        return v;
    ember__buf_reset(b);
    err = ember__buf_append(b, v, (size_t) (amp - v));
    for (i = (size_t) (amp - v); i < n && err == 0; i++) {
        err = ember__buf_append(b, v + i, 1);
        if (v[i] == '&' && i + 5 <= n && memcmp(v + i, "&#38;", 5) == 0)
            i += 4;
    }
    if (err < 0)
        return NULL;
    *len = b->len;
    return b->data;
}


static int
add_attr(ember_xml_t *x, ember_stanza_t *el, const char *name,
         const char *v, size_t n)
{
    if ((v = amp_decode(&x->scratch, v, n, &n)) == NULL)
        return EMBER_ENOMEM;
    return ember__stanza_add_attrn(el, name, v, n);
}


/*
 * The stream header: remember the root's namespace declarations so a
 * pooled context can be primed with an equivalent one, and hand the
 * session a header element.
 */
static int
stream_opened(ember_xml_t *x, const xmlChar *localname,
              const xmlChar *prefix, const xmlChar *URI, int nb_ns,
              const xmlChar **ns, int nb_attrs, const xmlChar **attrs)
{
    ember_buf_t b = { NULL, 0, 0 };
    ember_stanza_t *hdr = NULL;
    const char *v, *defns = NULL, *rootns;
    char name[256];
    int i, err = 0, def = -1;
    size_t n;

    err |= ember__buf_append(&b, "<", 1);
    if (prefix != NULL) {
        err |= ember__buf_puts(&b, (const char *) prefix);
        err |= ember__buf_append(&b, ":", 1);
    }
    err |= ember__buf_puts(&b, (const char *) localname);
    x->keep_ctxt = 0;
    for (i = 0; i < nb_ns && err == 0; i++) {
        if (ns[2 * i] != NULL && (prefix == NULL
                                  || !xmlStrEqual(ns[2 * i], prefix))) {
            x->keep_ctxt = 1;
            continue;
        }
        v = (const char *) ns[2 * i + 1];
        if ((v = amp_decode(&x->scratch, v, strlen(v), &n)) == NULL)
            goto fail;
        if (ns[2 * i] == NULL)
            def = i;
        err |= ember__buf_puts(&b, ns[2 * i] ? " xmlns:" : " xmlns");
        if (ns[2 * i] != NULL)
            err |= ember__buf_puts(&b, (const char *) ns[2 * i]);
        err |= ember__buf_append(&b, "='", 2);
        err |= ember__buf_escape(&b, v, n);
        err |= ember__buf_append(&b, "'", 1);
    }
    err |= ember__buf_append(&b, ">", 1);
    x->header_len = b.len;
    if (def >= 0) {
        v = (const char *) ns[2 * def + 1];
        if ((v = amp_decode(&x->scratch, v, strlen(v), &n)) == NULL)
            goto fail;
        err |= ember__buf_append(&b, "", 1);
        err |= ember__buf_append(&b, v, n);
    }
    err |= ember__buf_append(&b, "", 1);
    if (err != 0)
        goto fail;
    free(x->header);
    x->header = b.data;
    x->stream_ns = def >= 0 ? x->header + x->header_len + 1 : NULL;
    defns = x->stream_ns;

    if (x->cbs.stream_open == NULL)
        return 0;
    if ((hdr = ember__stanza_new((const char *) localname, defns)) == NULL)
        return EMBER_ENOMEM;
    for (i = 0; i < nb_attrs; i++) {
        const xmlChar **a = attrs + 5 * i;

        if (a[1] != NULL)
            snprintf(name, sizeof(name), "%s:%s", a[1], a[0]);
        else
            snprintf(name, sizeof(name), "%s", a[0]);
        if (add_attr(x, hdr, name, (const char *) a[3],
                     (size_t) (a[4] - a[3])) < 0)
            goto fail_hdr;
    }
    rootns = (const char *) URI;
    if (rootns != NULL && (rootns = amp_decode(&x->scratch, rootns,
                                               strlen(rootns), &n)) == NULL)
        goto fail_hdr;
    x->cbs.stream_open(x->ud, hdr, (const char *) localname, rootns);
    return 0;

fail_hdr:
    ember__stanza_free(hdr);
    return EMBER_ENOMEM;

fail:
    ember__buf_free(&b);
    return EMBER_ENOMEM;
}


static int
add_attrs(ember_xml_t *x, ember_stanza_t *el, int nb_attrs,
          const xmlChar **attrs)
{
    char name[512], decl[512];
    const char *nm;
    int i, err;

    for (i = 0; i < nb_attrs; i++) {
        const xmlChar **a = attrs + 5 * i;
        const char *local = (const char *) a[0];
        const char *pfx = (const char *) a[1];

        nm = local;
        if (pfx != NULL) {
            if ((size_t) snprintf(name, sizeof(name), "%s:%s", pfx, local)
                >= sizeof(name))
                return EMBER_EINVAL;
            nm = name;
            /* Keep the prefix bound where the element is written. */
            if (strcmp(pfx, "xml") != 0 && a[2] != NULL) {
                snprintf(decl, sizeof(decl), "xmlns:%s", pfx);
                if (ember__stanza_attr(el, decl) == NULL
                    && (err = add_attr(x, el, decl, (const char *) a[2],
                                       strlen((const char *) a[2]))) < 0)
                    return err;
            }
        }
        err = add_attr(x, el, nm, (const char *) a[3],
                       (size_t) (a[4] - a[3]));
        if (err < 0)
            return err;
    }
    return 0;
}


/*
 * Offset just past the start tag being reported: libxml2 calls
 * startElementNs with the input still on its closing '>' or "/>".
 */
static size_t
start_tag_end(ember_xml_t *x)
{
    xmlParserInputPtr in = x->ctxt->input;

    if (in == NULL || in->cur == NULL)
        return x->push_end;
    if (in->cur < in->end && *in->cur == '>')
        return input_offset(x, in->cur + 1);
    if (in->cur + 1 < in->end && in->cur[0] == '/' && in->cur[1] == '>')
        return input_offset(x, in->cur + 2);
    return input_offset(x, in->cur);
}


static void
on_start(void *ud, const xmlChar *localname, const xmlChar *prefix,
         const xmlChar *URI, int nb_ns, const xmlChar **ns, int nb_attrs,
         int nb_defaulted, const xmlChar **attrs)
{
    ember_xml_t *x = ud;
    xmlParserInputPtr in;
    const char *ctxns, *elns;
    ember_stanza_t *el;
    size_t n;
    int err;

    if (dead(x))
        return;
    if (x->depth == 0) {
        x->depth = 1;
        if (x->priming)
            return;
        if (nb_attrs + nb_ns > x->lim.max_attributes) {
            fail(x, EMBER_STREAM_POLICY_VIOLATION,
                 "too many attributes in the stream header");
            return;
        }
        in = x->ctxt->input;
        if (in != NULL && ((in->buf != NULL && in->buf->encoder != NULL)
                           || (in->encoding != NULL
                               && strcasecmp((const char *) in->encoding,
                                             "UTF-8") != 0))) {
            fail(x, EMBER_STREAM_UNSUPPORTED_ENCODING, "only UTF-8 is supported");
            return;
        }
        if (stream_opened(x, localname, prefix, URI, nb_ns, ns, nb_attrs,
                          attrs) < 0)
            fail(x, EMBER_STREAM_RESOURCE_CONSTRAINT, "out of memory");
        after_callback(x);
        x->boundary = start_tag_end(x);
        return;
    }
    if (x->depth > x->lim.max_depth) {
        fail(x, EMBER_STREAM_POLICY_VIOLATION, "elements nested too deeply");
        return;
    }
    if (nb_attrs + nb_ns > x->lim.max_attributes) {
        fail(x, EMBER_STREAM_POLICY_VIOLATION, "too many attributes");
        return;
    }
    if (flush_text(x) < 0)
        goto nomem;
    /* No namespace: inherit when none is in scope, else it is explicit. */
    ctxns = x->depth == 1 ? x->stream_ns : ember__stanza_xmlns(x->cur);
    elns = (const char *) URI;
    if (elns != NULL
        && (elns = amp_decode(&x->scratch, elns, strlen(elns), &n)) == NULL)
        goto nomem;
    if (elns == NULL)
        elns = ctxns != NULL && *ctxns != '\0' ? "" : NULL;
    if (x->depth == 1) {
        el = ember__stanza_new((const char *) localname, elns);
        x->top = el;
    } else {
        el = ember__stanza_add_child(x->cur, (const char *) localname, elns);
    }
    if (el == NULL)
        goto nomem;
    x->cur = el;
    x->depth++;
    if ((err = add_attrs(x, el, nb_attrs, attrs)) < 0) {
        if (err == EMBER_EINVAL)
            fail(x, EMBER_STREAM_POLICY_VIOLATION, "attribute name too long");
        else
            goto nomem;
    }
    return;

nomem:
    fail(x, EMBER_STREAM_RESOURCE_CONSTRAINT, "out of memory");
}


static void
on_end(void *ud, const xmlChar *localname, const xmlChar *prefix,
       const xmlChar *URI)
{
    ember_xml_t *x = ud;
    ember_stanza_t *st;

    if (dead(x))
        return;
    if (x->depth <= 1) {
        x->depth = 0;
        if (x->cbs.stream_close != NULL)
            x->cbs.stream_close(x->ud);
        after_callback(x);
        return;
    }
    if (flush_text(x) < 0) {
        fail(x, EMBER_STREAM_RESOURCE_CONSTRAINT, "out of memory");
        return;
    }
    x->depth--;
    if (x->depth > 1) {
        x->cur = ember__stanza_parent(x->cur);
        return;
    }
    st = x->top;
    x->top = NULL;
    x->cur = NULL;
    x->boundary = input_offset(x, x->ctxt->input != NULL
                                   ? x->ctxt->input->cur : NULL);
    if (x->standalone) {
        x->result = st;
        return;
    }
    if (x->cbs.stanza != NULL)
        x->cbs.stanza(x->ud, st);
    else
        ember__stanza_free(st);
    after_callback(x);
}


static void
on_restricted(void *ud, const char *what)
{
    fail(ud, EMBER_STREAM_RESTRICTED_XML, what);
}


static pthread_once_t sax_once = PTHREAD_ONCE_INIT;
static xmlSAXHandler sax_handler = {
    .characters = on_characters,
    .ignorableWhitespace = on_characters,
    .cdataBlock = on_characters,
    .warning = on_vararg_error,
    .error = on_vararg_error,
    .fatalError = on_vararg_error,
    .initialized = XML_SAX2_MAGIC,
    .startElementNs = on_start,
    .endElementNs = on_end,
    .serror = on_error,
};


static void
sax_init(void)
{
    ember__xml_guard(&sax_handler, on_restricted);
}


static void
ctxt_setup(ember_xml_t *x, xmlParserCtxtPtr ctxt)
{
    xmlCtxtUseOptions(ctxt, XML_PARSE_NONET);
    /* A reset context assumes UTF-8; a new one looks at the first bytes
     * (byte order marks, UTF-16).  Reused ones must behave as new ones. */
    ctxt->charset = XML_CHAR_ENCODING_NONE;
    ctxt->userData = x;
    ctxt->_private = x;
    x->ctxt = ctxt;
    x->fed = 0;
    x->boundary = 0;
}


/* A reset context from the pool, or a new one. */
static int
ctxt_take(ember_xml_t *x)
{
    xmlParserCtxtPtr ctxt = NULL;

    pthread_mutex_lock(&pool_lock);
    if (pool_len > 0)
        ctxt = pool[--pool_len];
    pthread_mutex_unlock(&pool_lock);
    if (ctxt != NULL) {
        if (xmlCtxtResetPush(ctxt, NULL, 0, NULL, NULL) != 0) {
            xmlFreeParserCtxt(ctxt);
            ctxt = NULL;
        }
    }
    if (ctxt == NULL) {
        pthread_once(&sax_once, sax_init);
        ctxt = xmlCreatePushParserCtxt(&sax_handler, x, NULL, 0, NULL);
        if (ctxt == NULL)
            return EMBER_ENOMEM;
    }
    ctxt_setup(x, ctxt);
    return 0;
}


static void
ctxt_give(ember_xml_t *x)
{
    xmlParserCtxtPtr ctxt = x->ctxt;

    x->ctxt = NULL;
    if (ctxt == NULL)
        return;
    /* A reset drops the input buffers; the context keeps its dictionary,
     * so one that grew large (many distinct names) is not kept. */
    xmlCtxtReset(ctxt);
    ctxt->userData = NULL;
    if (ctxt->dict != NULL && xmlDictSize(ctxt->dict) <= POOL_MAX_DICT) {
        pthread_mutex_lock(&pool_lock);
        if (pool_len < POOL_MAX) {
            pool[pool_len++] = ctxt;
            ctxt = NULL;
        }
        pthread_mutex_unlock(&pool_lock);
    }
    if (ctxt != NULL)
        xmlFreeParserCtxt(ctxt);
}


ember_xml_t *
ember__xml_new(const ember_xml_cbs_t *cbs, void *ud,
               const ember_xml_limits_t *limits)
{
    ember_xml_t *x;

    xmlInitParser();
    x = calloc(1, sizeof(*x));
    if (x == NULL)
        return NULL;
    if (cbs != NULL)
        x->cbs = *cbs;
    x->ud = ud;
    x->lim = limits != NULL ? *limits : default_limits;
    if (x->lim.max_stanza_size == 0)
        x->lim.max_stanza_size = default_limits.max_stanza_size;
    if (x->lim.max_depth <= 0)
        x->lim.max_depth = default_limits.max_depth;
    if (x->lim.max_attributes <= 0)
        x->lim.max_attributes = default_limits.max_attributes;
    return x;
}


/* Back to "expect a stream header" with the same context, if any. */
static int
reset_document(ember_xml_t *x)
{
    drop_stanza(x);
    x->depth = 0;
    x->failed = 0;
    x->stopped = 0;
    x->restart = 0;
    free(x->header);
    x->header = NULL;
    x->header_len = 0;
    x->stream_ns = NULL;
    if (x->ctxt != NULL) {
        if (xmlCtxtResetPush(x->ctxt, NULL, 0, NULL, NULL) != 0) {
            xmlFreeParserCtxt(x->ctxt);
            x->ctxt = NULL;
            return EMBER_ENOMEM;
        }
        ctxt_setup(x, x->ctxt);
    }
    return 0;
}


static int
push(ember_xml_t *x, const char *data, size_t len, int terminate)
{
    /* libxml2 holds back a final CR until it sees what follows. */
    x->push_end = x->fed + len
                  - (len > 0 && !terminate && data[len - 1] == '\r');
    x->feeding = 1;
    xmlParseChunk(x->ctxt, data, (int) len, terminate);
    x->feeding = 0;
    x->fed += len;
    if (!dead(x) && !x->ctxt->wellFormed)
        fail(x, EMBER_STREAM_NOT_WELL_FORMED, "malformed XML");
    return dead(x) ? -1 : 0;
}


/* Make a context from the pool continue the stream where it paused. */
static int
prime(ember_xml_t *x)
{
    int rc;

    x->depth = 0;
    x->priming = 1;
    rc = push(x, x->header, x->header_len, 0);
    x->priming = 0;
    if (rc < 0 || x->depth != 1) {
        fail(x, EMBER_STREAM_INTERNAL_SERVER_ERROR, "cannot resume the stream");
        return EMBER_EPROTO;
    }
    x->boundary = x->fed;
    return 0;
}


/*
 * A UTF-8 document starts with '<', whitespace or a UTF-8 byte order
 * mark.  Anything libxml2 would take for UTF-16, UCS-4 or EBCDIC is
 * refused before it switches decoders (whose errors go to stderr).
 */
static int
sniff_encoding(ember_xml_t *x, const char *data, size_t len)
{
    size_t i;
    unsigned char c;

    for (i = x->fed; i < 2 && i - x->fed < len; i++) {
        c = (unsigned char) data[i - x->fed];
        if (c == 0x00 || (i == 0 && (c == 0xfe || c == 0xff || c == 0x4c))) {
            fail(x, EMBER_STREAM_UNSUPPORTED_ENCODING, "only UTF-8 is supported");
            return EMBER_EPROTO;
        }
    }
    return 0;
}


int
ember__xml_feed(ember_xml_t *x, const char *data, size_t len)
{
    size_t room, n, limit;
    int paused;

    if (x == NULL || (data == NULL && len > 0))
        return EMBER_EINVAL;
    if (x->restart && reset_document(x) < 0) {
        fail(x, EMBER_STREAM_RESOURCE_CONSTRAINT, "out of memory");
        return EMBER_ENOMEM;
    }
    if (x->failed || x->stopped)
        return EMBER_ESTATE;
    if (len == 0)
        return 0;
    if (x->ctxt == NULL) {
        paused = x->depth == 1 && x->header != NULL;
        if (ctxt_take(x) < 0) {
            fail(x, EMBER_STREAM_RESOURCE_CONSTRAINT, "out of memory");
            return EMBER_ENOMEM;
        }
        if (paused && prime(x) < 0)
            return EMBER_EPROTO;
    }
    if (x->fed < 2 && sniff_encoding(x, data, len) < 0)
        return EMBER_EPROTO;
    /*
     * Never push more than the current stanza may still take, so an
     * oversized stanza fails as soon as it passes the limit, without
     * buffering the rest of it.
     */
    while (len > 0) {
        limit = x->lim.max_stanza_size;
        if (x->depth == 0 && limit > MAX_HEADER)
            limit = MAX_HEADER;
        if (x->fed - x->boundary >= limit) {
            fail(x, EMBER_STREAM_POLICY_VIOLATION, x->depth == 0
                 ? "stream header too large" : "stanza too large");
            return EMBER_ELIMIT;
        }
        room = x->boundary + limit - x->fed;
        n = len < room ? len : room;
        if (n > INT32_MAX)
            n = INT32_MAX;
        if (push(x, data, n, 0) < 0)
            break;
        data += n;
        len -= n;
    }
    if (x->failed)
        return EMBER_EPROTO;
    return 0;
}


void
ember__xml_restart(ember_xml_t *x)
{
    if (x == NULL)
        return;
    x->restart = 1;
    if (x->ctxt != NULL && x->ctxt->instate != XML_PARSER_EOF)
        xmlStopParser(x->ctxt);
}


void
ember__xml_stop(ember_xml_t *x)
{
    if (x == NULL)
        return;
    x->stopped = 1;
    if (x->ctxt != NULL && x->ctxt->instate != XML_PARSER_EOF)
        xmlStopParser(x->ctxt);
}


void
ember__xml_free(ember_xml_t *x)
{
    if (x == NULL)
        return;
    drop_stanza(x);
    /* A closing session's healthy context serves the next one. */
    if (x->ctxt != NULL && !x->failed)
        ctxt_give(x);
    if (x->ctxt != NULL)
        xmlFreeParserCtxt(x->ctxt);
    ember__buf_free(&x->text);
    ember__buf_free(&x->scratch);
    free(x->header);
    free(x);
}


/* Only whitespace left unparsed: nothing of a stanza is buffered. */
static int
input_is_blank(xmlParserCtxtPtr ctxt)
{
    const xmlChar *p;

    if (ctxt->input == NULL)
        return 1;
    for (p = ctxt->input->cur; p < ctxt->input->end; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
            return 0;
    return 1;
}


void
ember__xml_idle(ember_xml_t *x)
{
    if (x == NULL || x->ctxt == NULL || dead(x) || x->standalone
        || x->feeding)
        return;
    if (x->depth != 1 || x->top != NULL || x->header == NULL || x->keep_ctxt
        || x->ctxt->instate != XML_PARSER_CONTENT
        || !input_is_blank(x->ctxt))
        return;
    ctxt_give(x);
    ember__buf_free(&x->text);
    ember__buf_free(&x->scratch);
}


ember_stanza_t *
ember__xml_parse_element(const char *xml, size_t len,
                         const ember_xml_limits_t *limits)
{
    ember_xml_t *x;
    ember_stanza_t *st = NULL;

    if (xml == NULL || len == 0 || len > INT32_MAX)
        return NULL;
    if ((x = ember__xml_new(NULL, NULL, limits)) == NULL)
        return NULL;
    if (len > x->lim.max_stanza_size)
        goto done;
    x->standalone = 1;
    /* The element stands where a stanza would: one level below a root. */
    x->depth = 1;
    x->priming = 0;
    if (ctxt_take(x) < 0)
        goto done;
    if (push(x, xml, len, 1) == 0 && x->result != NULL
        && x->depth == 1)
        st = x->result;
    else
        ember__stanza_free(x->result);
    x->result = NULL;

done:
    ember__xml_free(x);
    return st;
}


ember_stanza_t *
ember__stanza_parse(const char *xml, size_t len)
{
    return ember__xml_parse_element(xml, len, NULL);
}


void
ember__xml_set_owner(ember_xml_t *x, void *ud)
{
    x->ud = ud;
}
