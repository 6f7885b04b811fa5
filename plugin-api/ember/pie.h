/*
 * ember/pie.h -- what a module needs to take part in `emberctl export`
 * and `import` (XEP-0227, Portable Import/Export Format; doc/migration.md).
 *
 * No new entry of the API table: a module registers admin commands named
 * by a convention, permission "local" ("local-read" for the exports,
 * which change nothing: minor 9), and emberctl finds them in the command
 * list:
 *
 *   pie-export-NAME {jid}            -> {"elements": [XML, ...]}
 *   pie-import-NAME {jid, elements, check}
 *                                    -> {"taken": [index, ...]}
 *   pie-host-export-NAME {host}      -> {"elements": [...]}
 *   pie-host-import-NAME {host, elements, check} -> {"taken": [...]}
 *
 * `elements` holds every child of the file's <user/> (or the host's
 * children other than users), each serialized with its namespace; the
 * command takes the ones it owns, checks all of them first, writes
 * nothing when `check` is true, and refuses a bad one with EMBER_EINVAL
 * and a message starting "element INDEX: ".
 */
#ifndef EMBER_PIE_H
#define EMBER_PIE_H

#include <string.h>
#include <ember/plugin.h>

#define EMBER_NS_PIE "urn:xmpp:pie:0"

/*
 * The account a pie-* command names (its "jid" argument, s) when it is a
 * bare JID of m's host: a new JID to release with api->jid_free, else
 * NULL (the command should end with EMBER_EINVAL).
 */
static inline ember_jid_t *
ember_pie_account(const ember_api_t *api, ember_module_t *m, const char *s)
{
    ember_jid_t *j = s != NULL ? api->jid_parse(s) : NULL;

    if (j != NULL && api->jid_node(j) != NULL &&
        api->jid_resource(j) == NULL && api->module_host(m) != NULL &&
        strcmp(api->jid_domain(j), api->module_host(m)) == 0)
        return j;
    api->jid_free(j);
    return NULL;
}

/*
 * Append to parent a copy of st, a stanza as a module stores it (in no
 * namespace of its own: the stream's), as the same element in
 * jabber:client, which a file must say or st would fall into parent's
 * namespace.  The new element, or NULL on ENOMEM.
 */
static inline ember_stanza_t *
ember_pie_client_copy(const ember_api_t *api, ember_stanza_t *parent,
                      const ember_stanza_t *st)
{
    static const char *const attrs[] = {
        "from", "to", "type", "id", "xml:lang", NULL
    };
    ember_stanza_t *e = api->stanza_add_child(parent, api->stanza_name(st),
                                              "jabber:client");
    const ember_stanza_t *c;
    size_t i;

    if (e == NULL)
        return NULL;
    for (i = 0; attrs[i] != NULL; i++)
        if (api->stanza_attr(st, attrs[i]) != NULL)
            api->stanza_set_attr(e, attrs[i], api->stanza_attr(st, attrs[i]));
    for (c = api->stanza_first(st); c != NULL; c = api->stanza_next(c))
        if (api->stanza_append(e, c) < 0)
            return NULL;
    return e;
}

/* Argument tables, each a complete ember_cmd_arg_t initializer list. */
#define EMBER_PIE_EXPORT_ARGS                                                \
    { "jid", EMBER_ARG_JID, 1, "the account, user@host" },                   \
    { NULL, (ember_arg_type_t) 0, 0, NULL }

#define EMBER_PIE_IMPORT_ARGS                                                \
    { "jid", EMBER_ARG_JID, 1, "the account, user@host" },                   \
    { "elements", EMBER_ARG_JSON, 1,                                         \
      "the <user/> element's children, each serialized" },                   \
    { "check", EMBER_ARG_BOOL, 0, "only say which elements are taken" },     \
    { NULL, (ember_arg_type_t) 0, 0, NULL }

#define EMBER_PIE_HOST_EXPORT_ARGS                                           \
    { "host", EMBER_ARG_STRING, 1, "the virtual host" },                     \
    { NULL, (ember_arg_type_t) 0, 0, NULL }

#define EMBER_PIE_HOST_IMPORT_ARGS                                           \
    { "host", EMBER_ARG_STRING, 1, "the virtual host" },                     \
    { "elements", EMBER_ARG_JSON, 1,                                         \
      "the <host/> element's children other than users, each serialized" },  \
    { "check", EMBER_ARG_BOOL, 0, "only say which elements are taken" },     \
    { NULL, (ember_arg_type_t) 0, 0, NULL }

#endif
