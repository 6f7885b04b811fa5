/* core/xmpp/xmlguard.h -- the restricted XML of RFC 6120 section 11.1. */
#ifndef EMBER_CORE_XMLGUARD_H
#define EMBER_CORE_XMLGUARD_H

#include <libxml/parser.h>

/* Point every restricted event of sax at refuse_cb(ctxt user data, why). */
void ember__xml_guard(xmlSAXHandler *sax,
                      void (*refuse_cb)(void *ud, const char *what));

#endif
