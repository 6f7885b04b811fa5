/* core/stanza.h -- arena-allocated element trees and their serializer. */
#ifndef EMBER_CORE_STANZA_H
#define EMBER_CORE_STANZA_H

#include <stddef.h>
#include <ember/plugin.h>

#include "base/buf.h"

/*
 * A root owns an arena; every child, attribute and text of the tree is
 * allocated from it and freed with the root.  Namespaces: each element
 * stores its resolved namespace URI; stanza_xmlns() never returns NULL for
 * an element of a parsed stream ("jabber:client" for stanzas).  An element
 * built with xmlns NULL inherits its parent's namespace; a root built with
 * xmlns NULL has none and inherits the stream's when written.
 */

/* The functions behind the api table's stanza_* entries. */
ember_stanza_t *ember__stanza_new(const char *name, const char *xmlns);
void ember__stanza_free(ember_stanza_t *root);
ember_stanza_t *ember__stanza_copy(const ember_stanza_t *st);
const char *ember__stanza_name(const ember_stanza_t *st);
/* message, presence or iq: what XEP-0198 counts and routing delivers. */
int ember__stanza_is_stanza(const ember_stanza_t *st);
const char *ember__stanza_xmlns(const ember_stanza_t *st);
const char *ember__stanza_attr(const ember_stanza_t *st, const char *name);
int ember__stanza_set_attr(ember_stanza_t *st, const char *name,
                           const char *value);
ember_stanza_t *ember__stanza_add_child(ember_stanza_t *st, const char *name,
                                        const char *xmlns);
int ember__stanza_add_text(ember_stanza_t *st, const char *text);
int ember__stanza_append(ember_stanza_t *st, const ember_stanza_t *child);
void ember__stanza_remove(ember_stanza_t *child);
ember_stanza_t *ember__stanza_child(const ember_stanza_t *st,
                                    const char *name, const char *xmlns);
ember_stanza_t *ember__stanza_first(const ember_stanza_t *st);
ember_stanza_t *ember__stanza_next(const ember_stanza_t *st);
ember_stanza_t *ember__stanza_parent(const ember_stanza_t *st);
const char *ember__stanza_text(const ember_stanza_t *st);
char *ember__stanza_serialize(const ember_stanza_t *st, size_t *len);

/* Root of the tree st belongs to. */
ember_stanza_t *ember__stanza_root(const ember_stanza_t *st);
/* Append an attribute without looking for a duplicate (the parser's path:
 * libxml2 already refused duplicates). */
int ember__stanza_add_attrn(ember_stanza_t *st, const char *name,
                            const char *value, size_t vlen);
/* Add text of explicit length (the parser's path; no NUL needed). */
int ember__stanza_add_textn(ember_stanza_t *st, const char *text, size_t n);

/*
 * Append the XML of st to out.  The xmlns attribute of st is written only
 * when its namespace differs from context_ns (the stream's default
 * namespace for a root stanza, e.g. "jabber:client"); children get it
 * only where their namespace differs from their parent's.  Text and
 * attribute values are escaped.
 */
int ember__stanza_write(const ember_stanza_t *st, const char *context_ns,
                        ember_buf_t *out);

/* Every element of the tree in namespace `from` moves to `to`: a stanza of
 * another stream's default namespace (jabber:component:accept) becomes
 * one of jabber:client for the router. */
int ember__stanza_rename_ns(ember_stanza_t *root, const char *from,
                            const char *to);

/* Bytes of the arena behind a root (for limits and statistics). */
size_t ember__stanza_size(const ember_stanza_t *root);

/* XEP-0004 data forms and XEP-0059 result sets (api table entries). */
ember_stanza_t *ember__form_new(ember_stanza_t *parent, const char *type,
                                const char *title, const char *form_type);
ember_stanza_t *ember__form_add_field(ember_stanza_t *form, const char *var,
                                      const char *type, const char *label,
                                      const char *const *values);
const char *ember__form_value(const ember_stanza_t *form, const char *var);
size_t ember__form_values(const ember_stanza_t *form, const char *var,
                          const char **out, size_t max);
int ember__rsm_parse(const ember_stanza_t *parent, ember_rsm_t *out);
ember_stanza_t *ember__rsm_add(ember_stanza_t *parent, const char *first,
                               const char *last, long count,
                               long first_index);

#endif
