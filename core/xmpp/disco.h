/* core/xmpp/disco.h -- the registry behind XEP-0030 answers. */
#ifndef EMBER_CORE_DISCO_H
#define EMBER_CORE_DISCO_H

#include <ember/plugin.h>

int ember__disco_add_feature(ember_module_t *m, const char *var);
int ember__disco_add_identity(ember_module_t *m, const char *category,
                              const char *type, const char *name);
int ember__disco_add_form(ember_module_t *m, const ember_stanza_t *form);
int ember__disco_add_item(ember_module_t *m, const char *jid,
                          const char *name);
int ember__disco_foreach(ember_module_t *m, int what,
                         void (*cb)(const char *a, const char *b,
                                    const char *c, void *ud),
                         void *ud);
void ember__disco_module_gone(ember_module_t *m);

#endif
