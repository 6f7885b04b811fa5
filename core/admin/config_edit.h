/* core/admin/config_edit.h -- changing the config file: its text or a
 * DOM of it, checked, written atomically (FILE.bak kept), reloaded. */
#ifndef EMBER_CORE_CONFIG_EDIT_H
#define EMBER_CORE_CONFIG_EDIT_H

#include <stddef.h>
#include <jansson.h>
#include <libxml/tree.h>
#include <ember/plugin.h>

#include "admin/cmd_admin.h"

void ember__config_edit_init(const ember__server_ops_t *ops);

/* The running config's file, whole; NULL with a message in err. */
char *ember__config_read(size_t *len, char *err, size_t errlen);
/*
 * Check config text as `check` checks a file.  0, or EMBER_EINVAL with
 * *line and msg (without the file name), or another error with msg.
 * guarded: EMBER_EPERM when the text changes an option that names files
 * or loads code (doc/config.md), which only the file on disk may.
 */
int ember__config_check_text(const char *text, int guarded, long *line,
                             char *msg, size_t msglen);
/* Check, write, reload; finish ctx with {"ok", "reload"} and extra's
 * members (stolen). */
void ember__config_commit(ember_cmd_ctx_t *ctx, const char *text,
                          json_t *extra);

/* The running config file as a DOM, or NULL with a message. */
xmlDocPtr ember__dom_load(char *err, size_t errlen);
/* First child element `name` of parent whose `attr` is value: kind 0
 * compares the text, 1 prepared domains, 2 prepared JIDs. */
xmlNodePtr ember__dom_child(xmlNodePtr parent, const char *name,
                           const char *attr, const char *value, int kind);
/* The element that holds modules: <ember>, or <host> when host is set. */
xmlNodePtr ember__dom_scope(xmlDocPtr doc, const char *host);
/* Append node as parent's last element, indented like its siblings. */
void ember__dom_insert(xmlNodePtr parent, xmlNodePtr node);
void ember__dom_remove(xmlNodePtr node);
/* Serialize doc and ember__config_commit it; frees doc. */
void ember__dom_commit(ember_cmd_ctx_t *ctx, xmlDocPtr doc, json_t *extra);
/* The DOM and the module-holding element for args' "host", or finish the
 * command and return NULL. */
xmlDocPtr ember__dom_for_host(ember_cmd_ctx_t *ctx, json_t *args,
                              char *host, size_t hostlen, xmlNodePtr *scope);
/* "example.org", or "the top level (global)" for "". */
const char *ember__config_scope_name(const char *host);

#endif
