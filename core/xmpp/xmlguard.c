/* core/xmpp/xmlguard.c -- what RFC 6120 section 11.1 restricts: every
 * SAX event for a DTD, an entity, a comment or a processing instruction
 * refuses the stream, before libxml2 acts on it. */
#include <libxml/parser.h>

#include "xmpp/xmlguard.h"

static void (*refuse)(void *ud, const char *what);


static void
on_internal_subset(void *ud, const xmlChar *name, const xmlChar *eid,
                   const xmlChar *sid)
{
    refuse(ud, "document type declarations are not allowed");
}


static void
on_entity_decl(void *ud, const xmlChar *name, int type, const xmlChar *pid,
               const xmlChar *sid, xmlChar *content)
{
    refuse(ud, "entity declarations are not allowed");
}


static xmlEntityPtr
on_get_entity(void *ud, const xmlChar *name)
{
    /* The five predefined entities never get here. */
    refuse(ud, "entity references are not allowed");
    return NULL;
}


static xmlParserInputPtr
on_resolve_entity(void *ud, const xmlChar *pid, const xmlChar *sid)
{
    refuse(ud, "external entities are not allowed");
    return NULL;
}


static void
on_reference(void *ud, const xmlChar *name)
{
    refuse(ud, "entity references are not allowed");
}


static void
on_comment(void *ud, const xmlChar *value)
{
    refuse(ud, "comments are not allowed");
}


static void
on_pi(void *ud, const xmlChar *target, const xmlChar *data)
{
    refuse(ud, "processing instructions are not allowed");
}


static void
on_notation_decl(void *ud, const xmlChar *name, const xmlChar *pid,
                 const xmlChar *sid)
{
    refuse(ud, "notation declarations are not allowed");
}


static void
on_attribute_decl(void *ud, const xmlChar *elem, const xmlChar *fullname,
                  int type, int def, const xmlChar *defaultValue,
                  xmlEnumerationPtr tree)
{
    xmlFreeEnumeration(tree);
    refuse(ud, "attribute declarations are not allowed");
}


static void
on_element_decl(void *ud, const xmlChar *name, int type,
                xmlElementContentPtr content)
{
    refuse(ud, "element declarations are not allowed");
}


static void
on_unparsed_decl(void *ud, const xmlChar *name, const xmlChar *pid,
                 const xmlChar *sid, const xmlChar *notation)
{
    refuse(ud, "entity declarations are not allowed");
}


void
ember__xml_guard(xmlSAXHandler *sax, void (*refuse_cb)(void *ud,
                                                        const char *what))
{
    refuse = refuse_cb;
    sax->internalSubset = on_internal_subset;
    sax->externalSubset = on_internal_subset;
    sax->getEntity = on_get_entity;
    sax->getParameterEntity = on_get_entity;
    sax->resolveEntity = on_resolve_entity;
    sax->entityDecl = on_entity_decl;
    sax->notationDecl = on_notation_decl;
    sax->attributeDecl = on_attribute_decl;
    sax->elementDecl = on_element_decl;
    sax->unparsedEntityDecl = on_unparsed_decl;
    sax->reference = on_reference;
    sax->comment = on_comment;
    sax->processingInstruction = on_pi;
}
