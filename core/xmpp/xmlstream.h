/* core/xmlstream.h -- hardened XML stream parser on libxml2's SAX2 push
 * interface, producing ember_stanza_t trees. */
#ifndef EMBER_CORE_XMLSTREAM_H
#define EMBER_CORE_XMLSTREAM_H

#include <stddef.h>
#include <ember/plugin.h>

typedef struct ember_xml_s ember_xml_t;

typedef struct ember_xml_limits_s {
    size_t max_stanza_size; /* bytes of one top-level stanza's XML */
    int max_depth;          /* element depth counted from the stream root */
    int max_attributes;     /* per element */
} ember_xml_limits_t;

typedef struct ember_xml_cbs_s {
    /* The stream root opened; header is a childless root with the
     * attributes (to, from, version, xml:lang, id) and xmlns = the stream's
     * default namespace.  The callee owns it. */
    void (*stream_open)(void *ud, ember_stanza_t *header, const char *name,
                        const char *ns);
    /* A complete top-level child of the stream; the callee owns it. */
    void (*stanza)(void *ud, ember_stanza_t *root);
    /* </stream:stream>. */
    void (*stream_close)(void *ud);
    /* Fatal: condition is an RFC 6120 stream error condition name
     * ("not-well-formed", "policy-violation", "restricted-xml",
     * "bad-format", "unsupported-encoding", "invalid-namespace").  No other
     * callback follows until a restart. */
    void (*error)(void *ud, ember_stream_cond_t cond, const char *text);
} ember_xml_cbs_t;

/*
 * DTDs, entity declarations and references other than the five predefined
 * ones, processing instructions and comments are refused with
 * restricted-xml; depth, attributes and stanza size over the limits with
 * policy-violation; anything libxml2 rejects with not-well-formed.  The
 * parser never loads anything from the network or the disk.
 */
ember_xml_t *ember__xml_new(const ember_xml_cbs_t *cbs, void *ud,
                            const ember_xml_limits_t *limits);
/* 0, or a negative error after the error callback ran. */
int ember__xml_feed(ember_xml_t *x, const char *data, size_t len);
/*
 * Expect a new stream header next (after STARTTLS or SASL success).  May
 * be called from inside a callback: the rest of the current feed is
 * dropped and the next feed starts a fresh document.
 */
void ember__xml_restart(ember_xml_t *x);
/* Stop delivering callbacks for the rest of the current feed call. */
void ember__xml_stop(ember_xml_t *x);
/* Never from inside a callback. */
void ember__xml_free(ember_xml_t *x);
/* Callbacks go to ud from now on (may be called from inside one). */
void ember__xml_set_owner(ember_xml_t *x, void *ud);
/*
 * Hint that the stream sits idle between stanzas: the parser may give its
 * libxml2 context back to a shared pool and take one again at the next
 * feed (keeps the memory of idle sessions small).
 */
void ember__xml_idle(ember_xml_t *x);

/* One standalone element (api->stanza_parse); NULL when invalid. */
ember_stanza_t *ember__xml_parse_element(const char *xml, size_t len,
                                         const ember_xml_limits_t *limits);

/* One element with the default limits (api->stanza_parse). */
ember_stanza_t *ember__stanza_parse(const char *xml, size_t len);

#endif
