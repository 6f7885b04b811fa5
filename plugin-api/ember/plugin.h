/*
 * ember/plugin.h -- everything a module may use from Ember.
 *
 * A module exports exactly one symbol, `ember_module`, an ember_plugin_t,
 * and reaches the core only through the ember_api_t table handed to load().
 * Every callback runs on the core thread: modules need no locks.
 */
#ifndef EMBER_PLUGIN_H
#define EMBER_PLUGIN_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <ember/abi.h>
#include <ember/errno.h>
#include <ember/types.h>
#include <ember/events.h>
#include <ember/auth.h>

typedef struct ember_api_s ember_api_t;

/* Descriptor flags. */
#define EMBER_MODULE_GLOBAL 0x1u /* loaded once for the server, not per host */

/*
 * The exported descriptor.  The core reads only desc_size bytes of it,
 * refuses it when abi_major differs or min_api_minor is newer than the
 * core, when a `requires` capability or a `depends` module is missing, and
 * when reserved[] is not zero.
 */
typedef struct ember_plugin_s {
    uint32_t abi_major;
    uint32_t api_minor;
    uint32_t min_api_minor;
    uint32_t desc_size;
    const char *name;        /* config name; the file is mod_<name>.so */
    const char *version;
    const char *description;
    const char *const *depends;  /* NULL-terminated module names, or NULL */
    const char *const *requires; /* NULL-terminated core capabilities */
    size_t conf_size;            /* size of the struct the options fill */
    const ember_option_t *options;
    /* Once per host the module is enabled on (once if GLOBAL).  A negative
     * return makes the core release everything registered, then close it. */
    int (*load)(ember_module_t *m, const ember_api_t *api);
    /* Optional: the core releases hooks, timers, features, stores anyway. */
    void (*unload)(ember_module_t *m);
    uint32_t flags;
    uintptr_t reserved[8];
} ember_plugin_t;

/*
 * Capabilities a descriptor may list in `requires` (minor 0): "hooks",
 * "stanzas", "storage", "storage-backend", "timers", "commands", "forms",
 * "rsm", "sessions", "accounts", "disco", "iq", "threads"; minor 1 adds
 * "ifaces" and "preauth" (the stream-features-unauth and iq/unauth
 * events).
 */

/*
 * The table of core functions.  Append-only: a field is never moved,
 * removed or retyped within an ABI major.  `size` is sizeof in the running
 * core; use EMBER_API_HAS(api, field) before calling a field newer than the
 * module's min_api_minor.
 */
struct ember_api_s {
    uint32_t abi_major;
    uint32_t api_minor;
    uint32_t size;
    /* ---- minor 0 ---- */

    /* The core's version string, e.g. "0.1.0". */
    const char *core_version;

    /* Log a line prefixed with the module name and host. */
    void (*log)(ember_module_t *m, int level, const char *fmt, ...)
        EMBER_PRINTF(3, 4);
    /* Text of an EMBER_E* error. */
    const char *(*strerror)(int err);

    /* -- the module instance -- */

    /* Virtual host of this instance, or NULL for a GLOBAL module. */
    const char *(*module_host)(ember_module_t *m);
    /* The options struct (conf_size bytes) filled from the config. */
    void *(*module_conf)(ember_module_t *m);
    /* One pointer of per-instance state, freed by nobody but the module. */
    void (*module_set_data)(ember_module_t *m, void *data);
    void *(*module_data)(ember_module_t *m);

    /* -- events -- */

    /*
     * Call cb for `event` (see events.h) on this instance's host, highest
     * priority first.  The same cb may be hooked to many events.
     */
    int (*hook)(ember_module_t *m, const char *event, ember_hook_cb cb,
                int priority, void *ud);
    int (*unhook)(ember_module_t *m, const char *event, ember_hook_cb cb,
                  void *ud);
    /*
     * Fire a module event on this instance's host.  Returns
     * EMBER_HOOK_HANDLED when a handler took it, else EMBER_HOOK_PASS.
     */
    int (*fire)(ember_module_t *m, const char *event, ember_stanza_t *st,
                void *data);

    /* -- stanzas: a tree of elements; children belong to their root -- */

    /* A new root element; xmlns may be NULL. */
    ember_stanza_t *(*stanza_new)(const char *name, const char *xmlns);
    /* Parse one element with the hardened stream parser; NULL if invalid. */
    ember_stanza_t *(*stanza_parse)(const char *xml, size_t len);
    /* Free a root and its whole tree (never a child). */
    void (*stanza_free)(ember_stanza_t *root);
    /* Deep copy as a new root. */
    ember_stanza_t *(*stanza_copy)(const ember_stanza_t *st);
    const char *(*stanza_name)(const ember_stanza_t *st);
    /* Namespace of the element (inherited ones resolved). */
    const char *(*stanza_xmlns)(const ember_stanza_t *st);
    /* Attribute value or NULL. */
    const char *(*stanza_attr)(const ember_stanza_t *st, const char *name);
    /* Set (value non-NULL) or remove (NULL) an attribute. */
    int (*stanza_set_attr)(ember_stanza_t *st, const char *name,
                           const char *value);
    /* Append a child element; xmlns NULL inherits.  NULL on ENOMEM. */
    ember_stanza_t *(*stanza_add_child)(ember_stanza_t *st, const char *name,
                                        const char *xmlns);
    /* Append text (escaped on output). */
    int (*stanza_add_text)(ember_stanza_t *st, const char *text);
    /* Append a deep copy of `child` (any element, of any tree). */
    int (*stanza_append)(ember_stanza_t *st, const ember_stanza_t *child);
    /* Detach a child from its parent (it stays in the root's memory). */
    void (*stanza_remove)(ember_stanza_t *child);
    /* First element child with this name and namespace (NULL = any). */
    ember_stanza_t *(*stanza_child)(const ember_stanza_t *st,
                                    const char *name, const char *xmlns);
    /* Element children, in order. */
    ember_stanza_t *(*stanza_first)(const ember_stanza_t *st);
    ember_stanza_t *(*stanza_next)(const ember_stanza_t *st);
    ember_stanza_t *(*stanza_parent)(const ember_stanza_t *st);
    /* Concatenated direct text, "" when none; lives as long as the tree. */
    const char *(*stanza_text)(const ember_stanza_t *st);
    /* Serialized XML, malloc'ed: release with api->free. */
    char *(*stanza_serialize)(const ember_stanza_t *st, size_t *len);
    void (*free)(void *p);

    /* -- JIDs, prepared with nodeprep/nameprep/resourceprep -- */

    /* NULL when malformed. */
    ember_jid_t *(*jid_parse)(const char *s);
    void (*jid_free)(ember_jid_t *j);
    ember_jid_t *(*jid_copy)(const ember_jid_t *j);
    const char *(*jid_node)(const ember_jid_t *j);     /* NULL if none */
    const char *(*jid_domain)(const ember_jid_t *j);
    const char *(*jid_resource)(const ember_jid_t *j); /* NULL if none */
    const char *(*jid_full)(const ember_jid_t *j);
    const char *(*jid_bare)(const ember_jid_t *j);
    int (*jid_equal)(const ember_jid_t *a, const ember_jid_t *b);

    /* -- routing and replies -- */

    /*
     * Route a stanza from the server (its 'from' must be set) as the core
     * routes any stanza: hooks, then delivery.  Takes ownership of root.
     */
    int (*route)(ember_module_t *m, ember_stanza_t *root);
    /* Answer the event's iq with a result holding payload (may be NULL);
     * takes ownership of payload. */
    int (*iq_result)(const ember_event_t *ev, ember_stanza_t *payload);
    /* Answer the event's stanza with an error of RFC 6120 condition. */
    int (*stanza_error)(const ember_event_t *ev, ember_cond_t cond,
                        const char *text);
    /* A new error reply to `st`: to/from swapped, type='error'. */
    ember_stanza_t *(*error_reply)(const ember_stanza_t *st,
                                   ember_cond_t cond, const char *text);
    /*
     * Send an iq get/set from the server and get the reply (or a timeout)
     * in cb.  Sets the id.  Takes ownership of root.  Still waiting when
     * the module unloads: cb gets NULL, as for a timeout, just before the
     * module's unload runs.
     */
    int (*iq_send)(ember_module_t *m, ember_stanza_t *root,
                   unsigned timeout_ms, ember_iq_cb cb, void *ud);

    /* -- client sessions -- */

    /* Full JID once bound, else NULL. */
    const ember_jid_t *(*session_jid)(ember_session_t *s);
    /* Write a stanza on this session's stream; does not take ownership. */
    int (*session_send)(ember_session_t *s, const ember_stanza_t *st);
    /* Close the stream with an RFC 6120 stream error condition. */
    void (*session_close)(ember_session_t *s, const char *condition);
    /* Milliseconds since the session last received data. */
    uint64_t (*session_idle_ms)(ember_session_t *s);
    /* Presence priority; available = sent initial presence. */
    int (*session_priority)(ember_session_t *s, int *available);
    /* One pointer per module instance and session. */
    void **(*session_slot)(ember_module_t *m, ember_session_t *s);
    /* Called with each slot value when a session ends or the module goes. */
    int (*session_slot_destructor)(ember_module_t *m, void (*dtor)(void *));
    /* Bound sessions of one user (bare JID) on the module's host. */
    int (*user_sessions)(ember_module_t *m, const char *user,
                         ember_session_cb cb, void *ud);
    /* Every bound session of the module's host. */
    int (*host_sessions)(ember_module_t *m, ember_session_cb cb, void *ud);

    /* -- timers -- */

    /* Fire after `ms`, then every `repeat_ms` if non-zero. */
    ember_timer_t *(*timer_start)(ember_module_t *m, uint64_t ms,
                                  uint64_t repeat_ms, ember_timer_cb cb,
                                  void *ud);
    void (*timer_stop)(ember_module_t *m, ember_timer_t *t);

    /* -- service discovery (XEP-0030) registry -- */

    int (*disco_add_feature)(ember_module_t *m, const char *var);
    int (*disco_add_identity)(ember_module_t *m, const char *category,
                              const char *type, const char *name);
    /* An item of the host's disco#items (a service such as conference.). */
    int (*disco_add_item)(ember_module_t *m, const char *jid,
                          const char *name);
    /*
     * Walk what every module of `host` (and every global module)
     * registered.  what: 'f' features (a = var), 'i' identities (a, b, c =
     * category, type, name), 't' items (a, b = jid, name), 'x' extended
     * information forms (minor 5: a = XML, b = FORM_TYPE).
     */
    int (*disco_foreach)(ember_module_t *m, int what,
                         void (*cb)(const char *a, const char *b,
                                    const char *c, void *ud),
                         void *ud);

    /* -- storage: host-scoped stores, async, completion on core thread -- */

    ember_store_t *(*store_open)(ember_module_t *m, const char *name,
                                 ember_store_kind_t kind);
    int (*keyval_get)(ember_store_t *st, const char *user, ember_store_cb cb,
                      void *ud);
    /* doc NULL deletes; doc is borrowed. */
    int (*keyval_set)(ember_store_t *st, const char *user, json_t *doc,
                      ember_store_cb cb, void *ud);
    int (*map_get)(ember_store_t *st, const char *user, const char *key,
                   ember_store_cb cb, void *ud);
    int (*map_set)(ember_store_t *st, const char *user, const char *key,
                   json_t *value, ember_store_cb cb, void *ud);
    int (*map_all)(ember_store_t *st, const char *user, ember_store_cb cb,
                   void *ud);
    /* result {"id": "...", "time": microseconds} */
    int (*archive_append)(ember_store_t *st, const char *user,
                          const char *with, const char *data,
                          ember_store_cb cb, void *ud);
    /* result {"items": [{"id","with","time","data"}], "complete": bool} */
    int (*archive_query)(ember_store_t *st, const char *user,
                         const ember_archive_query_t *q, ember_store_cb cb,
                         void *ud);
    int (*archive_delete)(ember_store_t *st, const char *user,
                          const ember_archive_query_t *q, ember_store_cb cb,
                          void *ud);
    /* Users that have data in this store; result: array of names. */
    int (*store_users)(ember_store_t *st, ember_store_cb cb, void *ud);
    /* For backend modules: become the storage of the server. */
    int (*storage_provide)(ember_module_t *m,
                           const ember_storage_driver_t *driver);
    /* For backend modules: finish a request (result borrowed). */
    void (*store_done)(ember_store_req_t *req, int status, json_t *result);
    /*
     * Run fn(ud) on the core thread soon.  The one entry of this table that
     * may be called from any thread (a module's worker thread, say).
     * Pending calls of a module that unloads still run: its unload must
     * join its threads first.
     */
    int (*call_on_core)(ember_module_t *m, void (*fn)(void *ud), void *ud);

    /* -- accounts (SCRAM secrets only; hashing runs off the loop) --
     * user_exists answers 0 with {"exists": true}, or EMBER_ENOENT. */

    int (*user_exists)(ember_module_t *m, const char *user,
                       ember_store_cb cb, void *ud);
    int (*user_create)(ember_module_t *m, const char *user,
                       const char *password, ember_store_cb cb, void *ud);
    int (*user_set_password)(ember_module_t *m, const char *user,
                             const char *password, ember_store_cb cb,
                             void *ud);
    int (*user_delete)(ember_module_t *m, const char *user,
                       ember_store_cb cb, void *ud);

    /* -- admin commands -- */

    int (*command_register)(ember_module_t *m, const ember_command_t *cmd,
                            void *ud);
    /* End a command: status 0 with result (stolen, may be NULL) or an
     * error with a message for the operator. */
    void (*command_done)(ember_cmd_ctx_t *ctx, int status, json_t *result,
                         const char *message);

    /* -- data forms (XEP-0004) -- */

    /* A jabber:x:data element of type (form, submit, result), appended to
     * parent when parent is not NULL.  form_type adds the FORM_TYPE field. */
    ember_stanza_t *(*form_new)(ember_stanza_t *parent, const char *type,
                                const char *title, const char *form_type);
    /* A field with zero or more values (NULL-terminated list). */
    ember_stanza_t *(*form_add_field)(ember_stanza_t *form, const char *var,
                                      const char *type, const char *label,
                                      const char *const *values);
    /* First value of a field, NULL when the field is missing. */
    const char *(*form_value)(const ember_stanza_t *form, const char *var);
    /* Up to max values of a field; returns how many there are. */
    size_t (*form_values)(const ember_stanza_t *form, const char *var,
                          const char **out, size_t max);

    /* -- result set management (XEP-0059) -- */

    /* 0 when parent has a valid <set/>, EMBER_ENOENT when it has none,
     * EMBER_EINVAL when it is malformed.  Strings point into parent. */
    int (*rsm_parse)(const ember_stanza_t *parent, ember_rsm_t *out);
    /* Append <set/> with first (and its index when >= 0), last, count. */
    ember_stanza_t *(*rsm_add)(ember_stanza_t *parent, const char *first,
                               const char *last, long count,
                               long first_index);

    /* ---- minor 1 ---- */

    /*
     * Named interfaces between modules: a struct of functions (its first
     * field a uint32_t size) published under a name on the provider's host
     * (a global provider: on every host).  Withdrawn when the provider
     * unloads, so look it up when needed and never keep the pointer past
     * the current callback.  EMBER_EEXIST when the name is taken.
     */
    int (*iface_provide)(ember_module_t *m, const char *name,
                         const void *iface);
    /* The interface `name` seen from m's host, or NULL. */
    const void *(*iface_get)(ember_module_t *m, const char *name);
    /* The peer's IP address as text ("127.0.0.1", "::1"). */
    const char *(*session_ip)(ember_session_t *s);
    /* 1 when bare_jid is an <admin/> of the server, else 0. */
    int (*is_admin)(ember_module_t *m, const char *bare_jid);
    /* Milliseconds since emberd started. */
    uint64_t (*uptime_ms)(void);

    /* -- HTTP (capability "http"; doc/http.md).  Every call on the core
     * thread; strings handed in are copied. -- */

    /*
     * Serve route->method route->path on the listeners of route->set.
     * EMBER_EEXIST when that method and path are taken on the set (by any
     * module); the route goes when the module unloads.
     */
    int (*http_route)(ember_module_t *m, const ember_http_route_t *route,
                      void *ud);
    /* "GET", "POST" ... ("HEAD" reaches GET routes). */
    const char *(*http_method)(ember_http_req_t *req);
    /* The percent-decoded, checked path: no "..", "//", NUL or '\'. */
    const char *(*http_path)(ember_http_req_t *req);
    /* Decoded value of a query parameter ("" when present without '='),
     * NULL when absent. */
    const char *(*http_query)(ember_http_req_t *req, const char *name);
    /* A request header by name (any case), NULL when absent. */
    const char *(*http_header)(ember_http_req_t *req, const char *name);
    /* The request body (chunked bodies already joined), NUL-terminated. */
    const char *(*http_body)(ember_http_req_t *req, size_t *len);
    /* The client's IP address as text. */
    const char *(*http_peer_ip)(ember_http_req_t *req);
    /* 1 when the request came over TLS (https, admin-tls). */
    int (*http_is_tls)(ember_http_req_t *req);
    /*
     * Answer: status, headers as a NULL-terminated list of name, value
     * pairs (may be NULL; Date, Content-Length and Connection are the
     * core's), body copied.  Releases req.  EMBER_ECANCELED when the
     * client went away meanwhile (req released as well), EMBER_EINVAL for a
     * bad status or a header with CR or LF (req still valid).
     */
    int (*http_respond)(ember_http_req_t *req, int status,
                        const char *const *headers, const char *body,
                        size_t len);
    /*
     * Answer with the file `relpath` under `dir` (relpath "" or ending in
     * '/' serves index.html): ETag and Last-Modified, 304 for a matching
     * If-None-Match, Content-Type by extension, cache_control (NULL:
     * "no-cache"); 404 when missing or not a regular file.  Releases req.
     */
    int (*http_send_file)(ember_http_req_t *req, const char *dir,
                          const char *relpath, const char *cache_control);
    /* Be told when the client leaves first (see ember_http_closed_cb). */
    void (*http_on_closed)(ember_http_req_t *req, ember_http_closed_cb cb,
                           void *ud);
    /* Answer 200 text/event-stream and keep the connection open. */
    int (*http_sse_start)(ember_http_req_t *req);
    /* One event: `event` may be NULL; each line of data gets "data: ". */
    int (*http_sse_send)(ember_http_req_t *req, const char *event,
                         const char *data);
    /*
     * Accept a WebSocket upgrade (routes flagged EMBER_HTTP_WEBSOCKET):
     * the 101 answer, with Sec-WebSocket-Protocol when protocol is not
     * NULL.  Messages then arrive in on_message; pings are answered.
     */
    int (*ws_accept)(ember_http_req_t *req, const char *protocol,
                     ember_ws_message_cb on_message, void *ud);
    /* Send one message (EMBER_WS_TEXT or EMBER_WS_BINARY). */
    int (*ws_send)(ember_http_req_t *req, int type, const char *data,
                   size_t len);
    /*
     * End an event stream or a WebSocket (close code 1000), or drop a
     * request without answering it: the connection closes and req is
     * released; the closed callback does not run.
     */
    void (*http_close)(ember_http_req_t *req);

    /* ---- minor 2 ---- */

    /*
     * Serve a subdomain such as conference.HOST (capability "services"):
     * every stanza whose 'to' has this domain, with any node or resource,
     * goes to cb with ev->from, ev->to, ev->stanza (ev->origin when a local
     * client sent it).  cb returns EMBER_HOOK_HANDLED, or PASS for the
     * default: an iq get/set or a message gets service-unavailable.  The
     * service sends with api->route, 'from' in its domain.  EMBER_EEXIST
     * when the domain is a host or already served; withdrawn when the
     * module unloads.
     */
    int (*service_add)(ember_module_t *m, const char *domain,
                       ember_hook_cb cb, void *ud);
    /* 1 when domain is one of the server's hosts or services, else 0. */
    int (*domain_is_local)(const char *domain);
    /*
     * The command registry as a new JSON array, one object per command:
     * name, summary, permission ("admin" or "local"), module (or null),
     * host (or null), args [{name, type, required, help}].
     */
    json_t *(*command_list)(ember_module_t *m);
    /*
     * Run a command for a server admin (capability "commands"): "local"
     * ones end with EMBER_EPERM.  args (an object, borrowed) are checked as
     * for emberctl.  reply runs exactly once, perhaps before this returns.
     */
    void (*command_run)(ember_module_t *m, const char *name, json_t *args,
                        ember_command_reply_cb reply, void *ud);
    /* Note the client software of a session ("Gajim 1.8 / Linux", from
     * XEP-0092), shown by the sessions command. */
    int (*session_set_client)(ember_session_t *s, const char *software);
    /*
     * Check the password of an account of any host (PBKDF2 off the loop),
     * for doors other than XMPP such as the console: cb gets 0,
     * EMBER_EAUTH (wrong password or no such account) or EMBER_EPERM
     * (right password, locked account); since minor 4 also EMBER_ELIMIT
     * when the login throttle holds the account back (see account_login,
     * which a door that knows the client's address should use).
     */
    int (*account_verify)(ember_module_t *m, const char *bare_jid,
                          const char *password, ember_store_cb cb, void *ud);
    /*
     * Guard a whole route set (capability "http"): gate sees every request
     * of `set` before its route does, and those no route serves (404,
     * 405), so no route of any module is reachable past it.  It returns 0
     * to let the request go on (leaving req unanswered: it is released
     * and the route gets its own), or answers req (e.g. 401) and returns
     * 1.  One gate per set (EMBER_EEXIST); gone with the module.  The
     * admin console guards "admin".
     */
    int (*http_gate)(ember_module_t *m, const char *set, ember_http_cb gate,
                     void *ud);
    /*
     * Headers (name, value, ..., NULL; copied) that every answer of the
     * set carries, the core's own answers and files included, unless the
     * answer names the header itself: security headers for a whole door.
     * One list per set (EMBER_EEXIST); gone with the module.
     */
    int (*http_set_headers)(ember_module_t *m, const char *set,
                            const char *const *headers);

    /* ---- minor 3 ---- */

    /*
     * Answer an iq get/set later, after a storage call or an iq of the
     * module's own: the handler calls iq_defer and returns
     * EMBER_HOOK_HANDLED, then ends the handle exactly once with iq_answer
     * or iq_fail.  The reply goes to the iq's sender, from the address it
     * was sent to (its bare JID when it had no 'to'), or onto the stream
     * itself before authentication.  A handle still open when its module
     * unloads is answered service-unavailable.  NULL on ENOMEM or when ev
     * is not an iq get/set (answer it directly then).
     */
    ember_iq_t *(*iq_defer)(ember_module_t *m, const ember_event_t *ev);
    /* The event as it was, with copies that live as long as the handle:
     * stanza, from, to, host, name; origin is NULL (see iq_origin). */
    const ember_event_t *(*iq_event)(const ember_iq_t *iq);
    /* The session that sent the iq, while it lasts. */
    ember_session_ref_t (*iq_origin)(const ember_iq_t *iq);
    /* Result with payload (may be NULL; taken); ends the handle. */
    int (*iq_answer)(ember_iq_t *iq, ember_stanza_t *payload);
    /* Stanza error of RFC 6120 condition; ends the handle. */
    int (*iq_fail)(ember_iq_t *iq, ember_cond_t cond, const char *text);

    /* A reference to s (see ember_session_ref_t); 0 for NULL. */
    ember_session_ref_t (*session_ref)(ember_session_t *s);
    /* The session of ref, NULL once it has gone. */
    ember_session_t *(*session_get)(ember_session_ref_t ref);
    /* The bound session of a full JID on any local host, or NULL. */
    ember_session_t *(*session_by_jid)(const char *full_jid);
    /* Close the stream with a stream error (text may be NULL). */
    void (*session_end)(ember_session_t *s, ember_stream_cond_t cond,
                        const char *text);
    /* Wire names: "item-not-found", "host-gone"; NULL when out of range. */
    const char *(*cond_name)(ember_cond_t cond);
    const char *(*stream_cond_name)(ember_stream_cond_t cond);

    /*
     * Serve a table of routes (see ember_http_table_t), all or none:
     * EMBER_EEXIST when a method and path is taken on the set.
     */
    int (*http_routes)(ember_module_t *m, const ember_http_table_t *table,
                       void *ud);
    /* The decoded value of a path parameter of the matched route. */
    const char *(*http_param)(ember_http_req_t *req, const char *name);
    /* For a table's auth hook: who asks (copied), e.g. a bare JID. */
    int (*http_set_principal)(ember_http_req_t *req, const char *principal);
    /* What the auth hook set, NULL for a public route. */
    const char *(*http_principal)(ember_http_req_t *req);
    /* The matched route's `data`. */
    const void *(*http_route_data)(ember_http_req_t *req);

    /* One command of the registry as command_list describes it (the entry
     * of m's host when several hosts serve it), or NULL; a new object. */
    json_t *(*command_info)(ember_module_t *m, const char *name);
    /*
     * iq_fail with an application condition besides the RFC 6120 one
     * (XEP-0060's <nodeid-required/>, XEP-0050's <bad-action/>): a copy
     * of app goes into <error/> after the defined condition.  Ends the
     * handle.
     */
    int (*iq_fail_app)(ember_iq_t *iq, ember_cond_t cond, const char *text,
                       const ember_stanza_t *app);
    /* The module instance that deferred the iq (its data, its host). */
    ember_module_t *(*iq_module)(const ember_iq_t *iq);

    /* ---- minor 4 ---- */

    /*
     * account_verify for a login door that knows the client's address
     * (peer_ip, e.g. from http_peer_ip): the check goes through the
     * server's login throttle, shared with SASL, which counts failures
     * per address, network and account and logs each one for fail2ban.
     * cb gets 0, EMBER_EAUTH (wrong or over-long password, or no such
     * account: indistinguishable, in time too), EMBER_EPERM (right
     * password, locked account) or EMBER_ELIMIT with result
     * {"retry_after": seconds} (held back; nothing was checked).
     * account_verify is this with no address: the account is throttled.
     */
    int (*account_login)(ember_module_t *m, const char *bare_jid,
                         const char *password, const char *peer_ip,
                         ember_store_cb cb, void *ud);

    /* ---- minor 5 ---- */

    /*
     * A XEP-0128 extended-information form (<x xmlns='jabber:x:data'
     * type='result'> with a hidden FORM_TYPE) in the host's disco#info,
     * XEP-0157 contact addresses say; copied; one per FORM_TYPE and
     * module; gone when the module unloads.  disco_foreach with what 'x'
     * walks them (a = the form serialized, b = its FORM_TYPE), so entity
     * capabilities hash them too.
     */
    int (*disco_add_form)(ember_module_t *m, const ember_stanza_t *form);

    /* ---- minor 6 ---- */

    /*
     * For a route flagged EMBER_HTTP_STREAM_BODY, whose handler runs once
     * the head is in and before any of the body is read: write the body
     * to fd, from offset 0, up to the route's max_body (more is a 413 and
     * the connection closes).  The core owns fd from this call on and
     * closes it.  The socket is not read while the disk is behind, so a
     * body of any size costs a few hundred KiB.  done runs on the core
     * thread once the body is written and fsync'ed (status 0, bytes), or
     * when writing failed (EMBER_EIO); it then answers req.  A client
     * that leaves first is reported through http_on_closed, not done.  A
     * handler that answers without calling this refuses the body, and
     * the connection closes after its answer.
     */
    int (*http_body_to_fd)(ember_http_req_t *req, int fd,
                           ember_http_body_cb done, void *ud);
    /*
     * Answer with `length` bytes of fd from `offset`, read off the loop
     * and sent as fast as the client takes them (a 206 with its
     * Content-Range header, say).  The core owns fd and closes it; the
     * body is left out for HEAD.  Releases req.
     */
    int (*http_respond_fd)(ember_http_req_t *req, int status,
                           const char *const *headers, int fd,
                           uint64_t offset, uint64_t length);
    /*
     * The base of the URLs a module hands out for its "client" routes,
     * into buf: "https://HOST[:PORT]" of the first https listener, else
     * "http://..." of the first http one, HOST being the module's host.
     * EMBER_ENOENT without such a listener, EMBER_ELIMIT when len is too
     * small.  Behind a proxy the operator names the URL instead.
     */
    int (*http_url)(ember_module_t *m, char *buf, size_t len);
    /*
     * While handling an event a client's stanza caused, promise work the
     * client must not be told is done before it is: storing it (offline
     * storage, an archive).  The client's XEP-0198 acknowledgement of that
     * stanza, and of every later one, waits until stanza_release.  NULL
     * when nothing waits (no client sent it, or its client does not
     * acknowledge); stanza_release(NULL) does nothing.  Release each hold
     * once, whether the work succeeded or not.
     */
    ember_hold_t *(*stanza_hold)(ember_module_t *m);
    void (*stanza_release)(ember_hold_t *h);
    /*
     * archive_append with the item's time (microseconds since 1970) given
     * by the caller instead of taken now: a module that must name an item
     * before the write completes (a XEP-0359 stanza-id on a message being
     * delivered) makes its times unique and uses them as names, finding
     * items again with the query's start and end.  Items keep the order
     * of the requests whatever their times.
     */
    int (*archive_append_at)(ember_store_t *st, const char *user,
                             const char *with, const char *data,
                             int64_t time_us, ember_store_cb cb, void *ud);

    /* -- minor 8: the audit log -- */
    /*
     * command_run on behalf of a person: `actor` (an admin's JID, an API
     * key's name) and `origin` (an IP address, "xmpp") go into the audit
     * log with the command, its arguments (secrets left out) and how it
     * ended, unless the command's permission is "read".
     */
    void (*command_run_as)(ember_module_t *m, const char *name, json_t *args,
                           const char *actor, const char *origin,
                           ember_command_reply_cb reply, void *ud);
    /*
     * An admin action that is not a command (a console login, an API key
     * made or revoked) into the audit log: detail (borrowed, may be NULL)
     * says what; status 0 or the error it ended with.
     */
    void (*audit)(ember_module_t *m, const char *actor, const char *origin,
                  const char *action, json_t *detail, int status);

    /* -- minor 8: authentication providers -- */
    /*
     * Take over the passwords of m's host (of every host for a GLOBAL
     * module): see ember/auth.h.  EMBER_EEXIST when the host has a
     * provider already, EMBER_EINVAL when p lacks check or exists.  p is
     * borrowed until the module unloads, which withdraws it; questions
     * still pending then end with EMBER_ECANCELED.
     */
    int (*auth_provide)(ember_module_t *m, const ember_auth_provider_t *p);
    /* The answer to a provider question, on the core thread, once per
     * call; an id the core no longer waits for is ignored. */
    void (*auth_done)(ember_auth_call_t call, int status);

    /* -- minor 9: clusters (doc/cluster.md) -- */
    /* Sessions of user@(m's host) bound on the cluster's other nodes,
     * which user_sessions does not walk: a stanza routed to the user
     * reaches them.  0 on a one-node server. */
    int (*user_remote_sessions)(ember_module_t *m, const char *user);

    /* -- minor 10: services and sessions across a cluster -- */
    /*
     * On a cluster each entity of a service (a JID with a node, such as a
     * room, and the service's own JID) lives on one node at a time:
     * stanzas to it are handed to its owner, and it moves when that node
     * dies.  claimed runs when this node becomes the owner of jid, before
     * the stanzas that made it so are dispatched: what m keeps in memory
     * for jid may be stale (another node owned it and changed shared
     * storage), so reload it, queueing its stanzas meanwhile.  Never runs
     * on a one-node server.  EMBER_ENOENT when m does not serve domain.
     */
    int (*service_on_claim)(ember_module_t *m, const char *domain,
                            ember_service_claim_cb claimed, void *ud);
    /*
     * Set (on) or clear a mark on s that the cluster's other nodes see
     * with the session, such as "carbons" for a session that asked for
     * copies: letters, digits, '-' and '_', 1 to 31 bytes, 255 bytes of
     * marks per session (EMBER_ELIMIT past that).  Marks are shared by
     * every module: name them after what they mean.  Nothing to see on
     * a one-node server, where it still succeeds.
     */
    int (*session_mark)(ember_module_t *m, ember_session_t *s,
                        const char *mark, int on);
    /*
     * cb for each of user@(m's host)'s sessions on other nodes (user
     * NULL: every session of m's host there), those with mark only when
     * mark is not NULL; how many (0 on one node).  What the cluster last
     * heard of them: a session may be gone.  cb may route and send.
     */
    int (*user_remote_walk)(ember_module_t *m, const char *user,
                            const char *mark, ember_remote_session_cb cb,
                            void *ud);
    /*
     * Write st (borrowed) to a session of another node, as session_send
     * does to a local one: no events, not routed again, and nothing when
     * that session is gone meanwhile.  1 when handed to its node, 0 when
     * full is no session of another node.
     */
    int (*remote_send)(ember_module_t *m, const char *full,
                       const ember_stanza_t *st);
    /*
     * For a command acting on jid, an entity of m's service (a room):
     * run(ctx, args, ud) here when this node serves jid, when no node
     * does, and on a one-node server, possibly before this returns.  On
     * a cluster whose other node serves it, the command (its name,
     * arguments and who runs it) runs there instead and that node's
     * answer ends ctx: an admin changes the room its occupants see.
     */
    void (*command_at_owner)(ember_cmd_ctx_t *ctx, const char *jid,
                             void (*run)(ember_cmd_ctx_t *ctx, json_t *args,
                                         void *ud),
                             void *ud);
    /*
     * Tell this module's instances (same name, same host) on the
     * cluster's other nodes that key (no tab) changed in shared storage,
     * so that they drop what they keep of it: they get the event
     * EMBER_EV_CLUSTER_NOTICE "<module name>" with ev->data the key.  At
     * most once, in order from one node, after what was sent before; not
     * to this node.  Nothing on a one-node server.
     */
    void (*cluster_notify)(ember_module_t *m, const char *key);
};

#endif
