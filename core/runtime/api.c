/* core/api.c -- the ember_api_t table handed to every module.  Append
 * only: new entries go at the end of the initializer at the bottom. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ember_config.h"
#include "store/accounts.h"
#include "store/audit.h"
#include "runtime/commands.h"
#include "base/hooks.h"
#include "http/http.h"
#include "base/jid.h"
#include "base/log.h"
#include "runtime/modules.h"
#include "xmpp/errors.h"
#include "xmpp/router.h"
#include "xmpp/xmlstream.h"
#include "base/process.h"
#include "xmpp/services.h"
#include "base/tasks.h"
#include "xmpp/disco.h"
#include "xmpp/iq_defer.h"
#include "xmpp/iq_track.h"
#include "xmpp/session.h"
#include "xmpp/stanza.h"
#include "store/storage.h"


static void
api_log(ember_module_t *m, int level, const char *fmt, ...)
{
    va_list ap;

    if (level > ember__log_level())
        return;
    va_start(ap, fmt);
    ember__vlog(level, ember__module_name(m), fmt, ap);
    va_end(ap);
}


static const char *
api_module_host(ember_module_t *m)
{
    return ember__module_host(m);
}


static int
api_hook(ember_module_t *m, const char *event, ember_hook_cb cb,
         int priority, void *ud)
{
    return ember__hook(m, ember__module_host(m), event, cb, priority, ud);
}


static int
api_unhook(ember_module_t *m, const char *event, ember_hook_cb cb, void *ud)
{
    return ember__unhook(m, ember__module_host(m), event, cb, ud);
}


static int
api_fire(ember_module_t *m, const char *event, ember_stanza_t *st,
         void *data)
{
    ember_event_t ev;

    memset(&ev, 0, sizeof(ev));
    ev.stanza = st;
    ev.data = data;
    return ember__fire(ember__module_host(m), event, &ev);
}


static int
api_route(ember_module_t *m, ember_stanza_t *root)
{
    if (root == NULL)
        return EMBER_EINVAL;
    if (ember__stanza_attr(root, "from") == NULL) {
        ember__stanza_free(root);
        return EMBER_EINVAL;
    }
    return ember__route_stanza(root, NULL);
}


static void
api_free(void *p)
{
    free(p);
}


static const ember_jid_t *
api_session_jid(ember_session_t *s)
{
    return ember__session_jid(s);
}


/*
 * Account calls finish after hashing on the thread pool: the module may
 * have been unloaded by then, so its callback goes through a record that
 * unloading cancels.
 */
typedef struct account_call_s {
    ember_module_t *m;
    ember_store_cb cb;
    void *ud;
    int exists_only;
    struct account_call_s *prev, *next;
} account_call_t;

static account_call_t *account_calls;

/*
 * A command a module runs may outlive the module (it can disable or
 * reload the module itself): the reply goes through a record that
 * unloading clears.  The command starts on a later loop turn, once the
 * module's code is off the stack: unloading from under a caller that
 * is still running would return into unmapped code.
 */
typedef struct command_call_s {
    ember_module_t *m;
    ember_command_reply_cb reply;
    void *ud;
    struct command_call_s *prev, *next;
    /* Until it starts: */
    char *name, *actor, *origin;
    json_t *args;
    struct command_call_s *next_queued;
} command_call_t;

static command_call_t *command_calls;
static command_call_t *queued_head, **queued_tail = &queued_head;
static ember_timer_t *queue_timer;

static void command_queue_drop_gone(void);


static void
account_call_unlink(account_call_t *c)
{
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        account_calls = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
}


static void
account_call_done(int status, json_t *result, void *arg)
{
    account_call_t *c = arg;
    json_t *exists = NULL;

    account_call_unlink(c);
    if (c->m != NULL) {
        /* Modules learn whether an account exists, never its secrets. */
        if (c->exists_only && status == 0)
            result = exists = json_pack("{s:b}", "exists", 1);
        c->cb(status, result, c->ud);
    }
    json_decref(exists);
    free(c);
}


typedef int (*account_fn)(const char *host, const char *user,
                          const char *password, ember_store_cb cb, void *ud);

static int
account_call(ember_module_t *m, int which, const char *user,
             const char *password, ember_store_cb cb, void *ud)
{
    const char *host = ember__module_host(m);
    account_call_t *c;
    int rc;

    if (host == NULL || cb == NULL)
        return EMBER_EINVAL;
    if ((c = calloc(1, sizeof(*c))) == NULL)
        return EMBER_ENOMEM;
    c->m = m;
    c->cb = cb;
    c->ud = ud;
    c->exists_only = which == 'e';
    c->next = account_calls;
    if (account_calls != NULL)
        account_calls->prev = c;
    account_calls = c;
    switch (which) {
    case 'e':
        rc = ember__account_get(host, user, account_call_done, c);
        break;
    case 'c':
        rc = ember__account_create(host, user, password, account_call_done,
                                   c);
        break;
    case 'p':
        rc = ember__account_set_password(host, user, password,
                                         account_call_done, c);
        break;
    default:
        rc = ember__account_delete(host, user, account_call_done, c);
        break;
    }
    if (rc < 0) {
        account_call_unlink(c);
        free(c);
    }
    return rc;
}


static int
api_account_login(ember_module_t *m, const char *bare_jid,
                  const char *password, const char *peer_ip,
                  ember_store_cb cb, void *ud)
{
    ember_jid_t *j;
    account_call_t *c;
    int rc;

    if (m == NULL || bare_jid == NULL || cb == NULL)
        return EMBER_EINVAL;
    if ((j = ember__jid_parse(bare_jid)) == NULL ||
        ember__jid_node(j) == NULL || ember__jid_resource(j) != NULL) {
        ember__jid_free(j);
        return EMBER_EINVAL;
    }
    if ((c = calloc(1, sizeof(*c))) == NULL) {
        ember__jid_free(j);
        return EMBER_ENOMEM;
    }
    c->m = m;
    c->cb = cb;
    c->ud = ud;
    c->next = account_calls;
    if (account_calls != NULL)
        account_calls->prev = c;
    account_calls = c;
    rc = ember__account_verify(ember__jid_domain(j), ember__jid_node(j),
                               password, peer_ip, ember__module_name(m),
                               account_call_done, c);
    if (rc < 0) {
        account_call_unlink(c);
        free(c);
    }
    ember__jid_free(j);
    return rc;
}


static int
api_account_verify(ember_module_t *m, const char *bare_jid,
                   const char *password, ember_store_cb cb, void *ud)
{
    return api_account_login(m, bare_jid, password, NULL, cb, ud);
}


/* ---- interfaces between modules ---- */

typedef struct iface_entry_s {
    ember_module_t *m;
    char *name;
    const void *iface;
    struct iface_entry_s *next;
} iface_entry_t;

static iface_entry_t *ifaces;


/* A provider serves m when it is global or on m's host. */
static int
iface_visible(const iface_entry_t *e, ember_module_t *m)
{
    const char *ph = ember__module_host(e->m);
    const char *mh = ember__module_host(m);

    return ph == NULL || (mh != NULL && strcmp(ph, mh) == 0);
}


static const void *
api_iface_get(ember_module_t *m, const char *name)
{
    iface_entry_t *e;

    if (name == NULL)
        return NULL;
    for (e = ifaces; e != NULL; e = e->next)
        if (strcmp(e->name, name) == 0 && iface_visible(e, m))
            return e->iface;
    return NULL;
}


static int
api_iface_provide(ember_module_t *m, const char *name, const void *iface)
{
    const char *host = ember__module_host(m);
    iface_entry_t *e;

    if (m == NULL || name == NULL || name[0] == '\0' || iface == NULL)
        return EMBER_EINVAL;
    for (e = ifaces; e != NULL; e = e->next) {
        const char *eh = ember__module_host(e->m);

        if (strcmp(e->name, name) == 0 &&
            (eh == NULL || host == NULL || strcmp(eh, host) == 0))
            return EMBER_EEXIST;
    }
    if ((e = calloc(1, sizeof(*e))) == NULL ||
        (e->name = strdup(name)) == NULL) {
        free(e);
        return EMBER_ENOMEM;
    }
    e->m = m;
    e->iface = iface;
    e->next = ifaces;
    ifaces = e;
    return 0;
}


static int
api_is_admin(ember_module_t *m, const char *bare_jid)
{
    return bare_jid != NULL &&
           (ember__is_admin(bare_jid) || ember__auth_is_admin(bare_jid));
}


static int
api_user_remote_sessions(ember_module_t *m, const char *user)
{
    const char *host = ember__module_host(m);
    char bare[2048];

    if (host == NULL || user == NULL)
        return 0;
    snprintf(bare, sizeof(bare), "%s@%s", user, host);
    return ember__route_remote_sessions(bare);
}


static int
api_session_mark(ember_module_t *m, ember_session_t *s, const char *mark,
                 int on)
{
    return ember__session_mark(s, mark, on);
}


static int
api_user_remote_walk(ember_module_t *m, const char *user, const char *mark,
                     ember_remote_session_cb cb, void *ud)
{
    const char *host = ember__module_host(m);
    char bare[2048];

    if (host == NULL || cb == NULL)
        return 0;
    snprintf(bare, sizeof(bare), "%s@%s", user != NULL ? user : "", host);
    return ember__route_remote_walk(user != NULL ? bare : NULL, host, mark,
                                    cb, ud);
}


static int
api_remote_send(ember_module_t *m, const char *full, const ember_stanza_t *st)
{
    return st != NULL ? ember__route_remote_deliver(full, st) : 0;
}


static void
api_cluster_notify(ember_module_t *m, const char *key)
{
    const char *host = ember__module_host(m);

    if (host != NULL && key != NULL && strchr(key, '\t') == NULL)
        ember__route_notice(host, ember__module_plugin(m), key);
}


static int
api_auth_provide(ember_module_t *m, const ember_auth_provider_t *p)
{
    return ember__auth_provide(m, ember__module_host(m), p);
}


void
ember__api_module_gone(ember_module_t *m)
{
    account_call_t *c;
    iface_entry_t **pe, *e;

    command_call_t *cc;

    ember__auth_module_gone(m);
    for (c = account_calls; c != NULL; c = c->next)
        if (c->m == m)
            c->m = NULL;
    for (cc = command_calls; cc != NULL; cc = cc->next)
        if (cc->m == m)
            cc->m = NULL;
    command_queue_drop_gone();
    for (pe = &ifaces; (e = *pe) != NULL;) {
        if (e->m == m) {
            *pe = e->next;
            free(e->name);
            free(e);
        } else {
            pe = &e->next;
        }
    }
}


static int
api_user_exists(ember_module_t *m, const char *user, ember_store_cb cb,
                void *ud)
{
    return account_call(m, 'e', user, NULL, cb, ud);
}


static int
api_user_create(ember_module_t *m, const char *user, const char *password,
                ember_store_cb cb, void *ud)
{
    return account_call(m, 'c', user, password, cb, ud);
}


static int
api_user_set_password(ember_module_t *m, const char *user,
                      const char *password, ember_store_cb cb, void *ud)
{
    return account_call(m, 'p', user, password, cb, ud);
}


static int
api_user_delete(ember_module_t *m, const char *user, ember_store_cb cb,
                void *ud)
{
    return account_call(m, 'd', user, NULL, cb, ud);
}


static int
api_domain_is_local(const char *domain)
{
    return domain != NULL &&
           (ember__host_exists(domain) || ember__service_exists(domain));
}


static int
api_iq_send(ember_module_t *m, ember_stanza_t *root, unsigned timeout_ms,
            ember_iq_cb cb, void *ud)
{
    int rc = ember__iq_track(m, root, timeout_ms, cb, ud);

    return rc < 0 ? rc : ember__route_stanza(root, NULL);
}


static json_t *
api_command_list(ember_module_t *m)
{
    return ember__command_list();
}


static json_t *
api_command_info(ember_module_t *m, const char *name)
{
    return name != NULL ? ember__command_info(name, ember__module_host(m))
                        : NULL;
}


static void
command_call_unlink(command_call_t *c)
{
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        command_calls = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
}


static void
command_call_free(command_call_t *c)
{
    free(c->name);
    free(c->actor);
    free(c->origin);
    json_decref(c->args);
    free(c);
}


static void
command_call_done(int status, json_t *result, const char *message, void *ud)
{
    command_call_t *c = ud;

    command_call_unlink(c);
    if (c->m != NULL)
        c->reply(status, result, message, c->ud);
    command_call_free(c);
}


static void
command_queue_run(ember_module_t *unused, ember_timer_t *t, void *ud)
{
    command_call_t *c;
    char *name, *actor, *origin;
    json_t *args;

    queue_timer = NULL;
    /* Commands queued by these ones wait for the next turn. */
    c = queued_head;
    queued_head = NULL;
    queued_tail = &queued_head;
    while (c != NULL) {
        command_call_t *next = c->next_queued;

        name = c->name;
        actor = c->actor;
        origin = c->origin;
        args = c->args;
        c->name = c->actor = c->origin = NULL;
        c->args = NULL;
        ember__command_run(name, args, EMBER_CALLER_ADMIN, actor, origin,
                           command_call_done, c);
        free(name);
        free(actor);
        free(origin);
        json_decref(args);
        c = next;
    }
}


/* Queued commands of a module that is gone never start. */
static void
command_queue_drop_gone(void)
{
    command_call_t **p = &queued_head, *c;

    while ((c = *p) != NULL) {
        if (c->m != NULL) {
            p = &c->next_queued;
            continue;
        }
        *p = c->next_queued;
        command_call_unlink(c);
        command_call_free(c);
    }
    queued_tail = p;
}


static char *
strdup_or_null(const char *s, int *failed)
{
    char *d;

    if (s == NULL)
        return NULL;
    if ((d = strdup(s)) == NULL)
        *failed = 1;
    return d;
}


static void
api_command_run_as(ember_module_t *m, const char *name, json_t *args,
                   const char *actor, const char *origin,
                   ember_command_reply_cb reply, void *ud)
{
    command_call_t *c;
    int failed = 0;

    if (reply == NULL)
        return;
    if (m == NULL || name == NULL) {
        reply(EMBER_EINVAL, NULL, NULL, ud);
        return;
    }
    if ((c = calloc(1, sizeof(*c))) != NULL) {
        c->name = strdup_or_null(name, &failed);
        c->actor = strdup_or_null(actor, &failed);
        c->origin = strdup_or_null(origin, &failed);
        if (queue_timer == NULL && !failed &&
            (queue_timer = ember__timer_start(NULL, 0, 0, command_queue_run,
                                              NULL)) == NULL)
            failed = 1;
    }
    if (c == NULL || failed) {
        if (c != NULL)
            command_call_free(c);
        reply(EMBER_ENOMEM, NULL, NULL, ud);
        return;
    }
    c->m = m;
    c->reply = reply;
    c->ud = ud;
    c->args = json_incref(args);
    c->next = command_calls;
    if (command_calls != NULL)
        command_calls->prev = c;
    command_calls = c;
    *queued_tail = c;
    queued_tail = &c->next_queued;
}


static void
api_command_run(ember_module_t *m, const char *name, json_t *args,
                ember_command_reply_cb reply, void *ud)
{
    api_command_run_as(m, name, args, NULL, NULL, reply, ud);
}


static void
api_audit(ember_module_t *m, const char *actor, const char *origin,
          const char *action, json_t *detail, int status)
{
    if (m == NULL || actor == NULL || action == NULL)
        return;
    ember__audit_record(actor, origin != NULL ? origin : "", action, detail,
                        status < 0 ? status : 0, NULL);
}


static ember_hold_t *
api_stanza_hold(ember_module_t *m)
{
    (void) m;
    return ember__hold_take();
}


static int
api_http_url(ember_module_t *m, char *buf, size_t len)
{
    const ember_config_t *cfg = ember__config();
    const ember_listener_conf_t *l, *best = NULL;
    const char *host = ember__module_host(m);
    char port[16] = "";
    int tls, n;

    if (buf == NULL || len == 0 || host == NULL)
        return EMBER_EINVAL;
    for (l = cfg != NULL ? cfg->listeners : NULL; l != NULL; l = l->next)
        if ((l->type == EMBER_LISTEN_HTTPS &&
             (best == NULL || best->type != EMBER_LISTEN_HTTPS)) ||
            (l->type == EMBER_LISTEN_HTTP && best == NULL))
            best = l;
    if (best == NULL)
        return EMBER_ENOENT;
    tls = best->type == EMBER_LISTEN_HTTPS;
    if (best->port != (tls ? 443 : 80))
        snprintf(port, sizeof(port), ":%d", best->port);
    n = snprintf(buf, len, "%s://%s%s", tls ? "https" : "http", host, port);
    return n < 0 || (size_t) n >= len ? EMBER_ELIMIT : 0;
}


const ember_api_t ember__api = {
    .abi_major = EMBER_ABI_MAJOR,
    .api_minor = EMBER_API_MINOR,
    .size = sizeof(ember_api_t),
    /* minor 0 */
    .core_version = EMBER_VERSION,
    .log = api_log,
    .strerror = ember_strerror,
    .module_host = api_module_host,
    .module_conf = ember__module_conf,
    .module_set_data = ember__module_set_data,
    .module_data = ember__module_data,
    .hook = api_hook,
    .unhook = api_unhook,
    .fire = api_fire,
    .stanza_new = ember__stanza_new,
    .stanza_parse = ember__stanza_parse,
    .stanza_free = ember__stanza_free,
    .stanza_copy = ember__stanza_copy,
    .stanza_name = ember__stanza_name,
    .stanza_xmlns = ember__stanza_xmlns,
    .stanza_attr = ember__stanza_attr,
    .stanza_set_attr = ember__stanza_set_attr,
    .stanza_add_child = ember__stanza_add_child,
    .stanza_add_text = ember__stanza_add_text,
    .stanza_append = ember__stanza_append,
    .stanza_remove = ember__stanza_remove,
    .stanza_child = ember__stanza_child,
    .stanza_first = ember__stanza_first,
    .stanza_next = ember__stanza_next,
    .stanza_parent = ember__stanza_parent,
    .stanza_text = ember__stanza_text,
    .stanza_serialize = ember__stanza_serialize,
    .free = api_free,
    .jid_parse = ember__jid_parse,
    .jid_free = ember__jid_free,
    .jid_copy = ember__jid_copy,
    .jid_node = ember__jid_node,
    .jid_domain = ember__jid_domain,
    .jid_resource = ember__jid_resource,
    .jid_full = ember__jid_full,
    .jid_bare = ember__jid_bare,
    .jid_equal = ember__jid_equal,
    .route = api_route,
    .iq_result = ember__iq_result,
    .stanza_error = ember__stanza_error,
    .error_reply = ember__error_reply,
    .iq_send = api_iq_send,
    .session_jid = api_session_jid,
    .session_send = ember__session_deliver,
    .session_close = ember__session_close,
    .session_idle_ms = ember__session_idle_ms,
    .session_priority = ember__session_priority,
    .session_slot = ember__session_slot,
    .session_slot_destructor = ember__session_slot_destructor,
    .user_sessions = ember__user_sessions,
    .host_sessions = ember__host_sessions,
    .timer_start = ember__timer_start,
    .timer_stop = ember__timer_stop,
    .disco_add_feature = ember__disco_add_feature,
    .disco_add_identity = ember__disco_add_identity,
    .disco_add_item = ember__disco_add_item,
    .disco_foreach = ember__disco_foreach,
    .store_open = ember__api_store_open,
    .keyval_get = ember__keyval_get,
    .keyval_set = ember__keyval_set,
    .map_get = ember__map_get,
    .map_set = ember__map_set,
    .map_all = ember__map_all,
    .archive_append = ember__archive_append,
    .archive_query = ember__archive_query,
    .archive_delete = ember__archive_delete,
    .store_users = ember__store_users,
    .storage_provide = ember__storage_provide,
    .store_done = ember__store_done,
    .call_on_core = ember__call_on_core,
    .user_exists = api_user_exists,
    .user_create = api_user_create,
    .user_set_password = api_user_set_password,
    .user_delete = api_user_delete,
    .command_register = ember__command_register,
    .command_done = ember__command_done,
    .form_new = ember__form_new,
    .form_add_field = ember__form_add_field,
    .form_value = ember__form_value,
    .form_values = ember__form_values,
    .rsm_parse = ember__rsm_parse,
    .rsm_add = ember__rsm_add,
    /* minor 1 */
    .iface_provide = api_iface_provide,
    .iface_get = api_iface_get,
    .session_ip = ember__session_ip,
    .is_admin = api_is_admin,
    .uptime_ms = ember__uptime_ms,
    .http_route = ember__http_route,
    .http_method = ember__http_method,
    .http_path = ember__http_path,
    .http_query = ember__http_query,
    .http_header = ember__http_header,
    .http_body = ember__http_body,
    .http_peer_ip = ember__http_peer_ip,
    .http_is_tls = ember__http_is_tls,
    .http_respond = ember__http_respond,
    .http_send_file = ember__http_send_file,
    .http_on_closed = ember__http_on_closed,
    .http_sse_start = ember__http_sse_start,
    .http_sse_send = ember__http_sse_send,
    .ws_accept = ember__ws_accept,
    .ws_send = ember__ws_send,
    .http_close = ember__http_close,
    /* minor 2 */
    .service_add = ember__service_add,
    .domain_is_local = api_domain_is_local,
    .command_list = api_command_list,
    .command_run = api_command_run,
    .session_set_client = ember__session_set_client,
    .account_verify = api_account_verify,
    .http_gate = ember__http_gate,
    .http_set_headers = ember__http_set_headers,
    /* minor 3 */
    .iq_defer = ember__iq_defer,
    .iq_event = ember__iq_event,
    .iq_origin = ember__iq_origin,
    .iq_answer = ember__iq_answer,
    .iq_fail = ember__iq_fail,
    .session_ref = ember__session_ref,
    .session_get = ember__session_get,
    .session_by_jid = ember__session_by_jid,
    .session_end = ember__session_end,
    .cond_name = ember__cond_name_or_null,
    .stream_cond_name = ember__stream_cond_name_or_null,
    .http_routes = ember__http_routes,
    .http_param = ember__http_param,
    .http_set_principal = ember__http_set_principal,
    .http_principal = ember__http_principal,
    .http_route_data = ember__http_route_data,
    .command_info = api_command_info,
    .iq_fail_app = ember__iq_fail_app,
    .iq_module = ember__iq_module,
    /* minor 4 */
    .account_login = api_account_login,
    /* minor 5 */
    .disco_add_form = ember__disco_add_form,
    /* minor 6 */
    .http_body_to_fd = ember__http_body_to_fd,
    .http_respond_fd = ember__http_respond_fd,
    .http_url = api_http_url,
    .stanza_hold = api_stanza_hold,
    .stanza_release = ember__hold_release,
    .archive_append_at = ember__archive_append_at,
    /* minor 8 */
    .command_run_as = api_command_run_as,
    .audit = api_audit,
    .auth_provide = api_auth_provide,
    .auth_done = ember__auth_done,
    /* minor 9 */
    .user_remote_sessions = api_user_remote_sessions,
    /* minor 10 */
    .service_on_claim = ember__service_on_claim,
    .session_mark = api_session_mark,
    .user_remote_walk = api_user_remote_walk,
    .remote_send = api_remote_send,
    .command_at_owner = ember__command_at_owner,
    .cluster_notify = api_cluster_notify,
};
