/* ember/types.h -- opaque handles and the small structs passed to modules. */
#ifndef EMBER_TYPES_H
#define EMBER_TYPES_H

#include <stddef.h>
#include <stdint.h>

/* Core objects are opaque: reach them only through ember_api_t. */
typedef struct ember_module_s ember_module_t;   /* one loaded instance */
typedef struct ember_session_s ember_session_t; /* a client stream */
typedef struct ember_stanza_s ember_stanza_t;   /* an element, root or child */
typedef struct ember_jid_s ember_jid_t;         /* a prepared JID */
typedef struct ember_store_s ember_store_t;     /* an open store */
typedef struct ember_timer_s ember_timer_t;
typedef struct ember_cmd_ctx_s ember_cmd_ctx_t; /* one running command */
typedef struct ember_store_req_s ember_store_req_t;
typedef struct ember_iq_s ember_iq_t;           /* a deferred iq (minor 3) */

/*
 * A session reference that outlives the session (minor 3): session_get
 * turns it back into the session, or NULL once that session is gone, so a
 * module keeps refs, never session pointers, across async calls.  0 is no
 * session.
 */
typedef uint64_t ember_session_ref_t;

/*
 * jansson values cross the boundary as json_t pointers (modules link
 * libjansson themselves; core and modules share the one library).
 */
typedef struct json_t json_t;

enum {
    EMBER_LOG_ERROR = 0,
    EMBER_LOG_WARN = 1,
    EMBER_LOG_INFO = 2,
    EMBER_LOG_DEBUG = 3
};

/* What a hook handler returns.  A negative EMBER_E* is logged and passes. */
enum {
    EMBER_HOOK_PASS = 0,
    EMBER_HOOK_HANDLED = 1
};

/*
 * Handed to every hook handler.  Starts with its size: fields are only
 * appended.  `from` and `to` are the prepared addresses of the stanza (NULL
 * for events without a stanza); `host` is the virtual host the event is
 * dispatched on; `data` is the event's payload as documented in
 * doc/events.md.
 */
typedef struct ember_event_s {
    uint32_t size;
    const char *name;
    ember_stanza_t *stanza;
    ember_session_t *origin;
    const ember_jid_t *from;
    const ember_jid_t *to;
    const char *host;
    void *data;
    /* Minor 10: EMBER_EV_AGAIN ...; test with EMBER_EVENT_HAS(ev, flags)
     * (a core before minor 10 has no such field). */
    uint32_t flags;
} ember_event_t;

/* Whether the core that fired ev has that field of ember_event_t. */
#define EMBER_EVENT_HAS(ev, field)                                          \
    (offsetof(ember_event_t, field) + sizeof((ev)->field) <= (ev)->size)

typedef int (*ember_hook_cb)(ember_module_t *m, const ember_event_t *ev,
                             void *ud);
typedef void (*ember_timer_cb)(ember_module_t *m, ember_timer_t *t, void *ud);

/*
 * Storage completion.  status is 0, EMBER_ENOENT or another negative error;
 * result is borrowed for the duration of the call (json_incref to keep).
 */
typedef void (*ember_store_cb)(int status, json_t *result, void *ud);

/* Result of an iq the module sent: reply is NULL when it timed out. */
typedef void (*ember_iq_cb)(ember_module_t *m, ember_stanza_t *reply,
                            void *ud);

typedef void (*ember_session_cb)(ember_session_t *s, void *ud);

/* This node became the owner of jid, an entity of a service (minor 10). */
typedef void (*ember_service_claim_cb)(ember_module_t *m, const char *jid,
                                       void *ud);

/* A session on another node of the cluster (minor 10): its full JID,
 * whether it sent available presence, and its priority. */
typedef void (*ember_remote_session_cb)(const char *full, int available,
                                        int priority, void *ud);

/* End of a command run by a module (minor 2): status 0 and result, or an
 * error and a message for the operator.  result is borrowed for the call. */
typedef void (*ember_command_reply_cb)(int status, json_t *result,
                                       const char *message, void *ud);

/* Typed configuration options, validated by the core at load. */
typedef enum {
    EMBER_OPT_INT = 1,    /* int field; min/max inclusive */
    EMBER_OPT_BOOL = 2,   /* int field, 0 or 1; "true"/"false"/"1"/"0" */
    EMBER_OPT_STRING = 3, /* char * field, owned by the core; max = length */
    EMBER_OPT_DURATION = 4, /* int field in seconds; "90", "15m", "2h", "1d" */
    EMBER_OPT_PATH = 5,    /* char * field; relative to the data directory */
    EMBER_OPT_GUARDED = 6  /* minor 8: a char * field like STRING that only
                              the config file on disk may change, as PATH:
                              it says where secrets go (a directory's
                              address), so the console must not */
} ember_opt_type_t;

typedef struct ember_option_s {
    const char *name;
    ember_opt_type_t type;
    size_t offset;
    const char *default_value; /* NULL: required */
    long long min, max;
    const char *help;
} ember_option_t;

#define EMBER_OPT(name, type, conf_type, field, def, min, max, help)         \
    { (name), (type), offsetof(conf_type, field), (def), (min), (max),       \
      (help) }
#define EMBER_OPT_END { NULL, 0, 0, NULL, 0, 0, NULL }

typedef enum {
    EMBER_STORE_KEYVAL = 1,  /* (store, user) -> JSON document */
    EMBER_STORE_MAP = 2,     /* (store, user, key) -> JSON value */
    EMBER_STORE_ARCHIVE = 3  /* (store, user) -> time-ordered items */
} ember_store_kind_t;

/*
 * Archive selection, every field optional (NULL / 0).  Times are
 * microseconds since the epoch.  Items come oldest first unless `reverse`;
 * `max` 0 means no limit.  after_id/before_id are exclusive bounds.
 */
typedef struct ember_archive_query_s {
    uint32_t size;
    const char *with;
    int64_t start, end;
    const char *after_id, *before_id;
    const char *id;
    int max;
    int reverse;
} ember_archive_query_t;

/* XEP-0059 result set request, as parsed by api->rsm_parse. */
typedef struct ember_rsm_s {
    uint32_t size;
    int max;             /* -1 when absent */
    const char *after;   /* NULL when absent */
    const char *before;  /* NULL when absent; "" means "last page" */
    int index;           /* -1 when absent */
} ember_rsm_t;

/* Admin commands: one registry for emberctl, REST and ad-hoc commands. */
typedef enum {
    EMBER_ARG_STRING = 1,
    EMBER_ARG_INT = 2,
    EMBER_ARG_BOOL = 3,
    EMBER_ARG_JID = 4,
    EMBER_ARG_SECRET = 5, /* like a string, never logged or echoed */
    EMBER_ARG_JSON = 6    /* minor 2: an object or array (emberctl: JSON
                             text, parsed) */
} ember_arg_type_t;

typedef struct ember_cmd_arg_s {
    const char *name;
    ember_arg_type_t type;
    int required;
    const char *help;
} ember_cmd_arg_t;

/*
 * `permission` is "admin" (a server admin, from any door), "read" (minor
 * 8: the same, for a command that changes nothing, so the audit log leaves
 * it out), "local" (only through the control socket, i.e. the machine's
 * operator) or "local-read" (minor 9: "local" for a command that changes
 * nothing, left out of the audit log like "read").  run() must end
 * with api->command_done(), now or later.  args is an object whose members
 * are already checked against `args` (types converted, required present);
 * it stays valid until command_done.
 */
typedef struct ember_command_s {
    const char *name;
    const char *summary;
    const ember_cmd_arg_t *args; /* terminated by { NULL } */
    const char *permission;
    void (*run)(ember_cmd_ctx_t *ctx, json_t *args, void *ud);
} ember_command_t;

/* Storage backends: see api->storage_provide. */
typedef enum {
    EMBER_SOP_KEYVAL_GET = 1,
    EMBER_SOP_KEYVAL_SET,     /* value NULL deletes */
    EMBER_SOP_MAP_GET,
    EMBER_SOP_MAP_SET,        /* value NULL deletes */
    EMBER_SOP_MAP_ALL,        /* result: object key -> value */
    EMBER_SOP_ARCHIVE_APPEND, /* value {"with","data","time"};
                                 result {"id","time"} */
    EMBER_SOP_ARCHIVE_QUERY,  /* result {"items":[...], "complete": bool} */
    EMBER_SOP_ARCHIVE_DELETE, /* deletes what query selects; result {"deleted"} */
    EMBER_SOP_USERS,          /* result: sorted array of users in the store */
    EMBER_SOP_PURGE_USER,     /* removes the user from every store of host */
    /*
     * Minor 9, for emberctl migrate-storage (doc/storage.md): every record
     * of one kind, whatever its host, store and user.  DUMP: value
     * {"after": cursor|null, "max": n}; result {"rows": [...], "next":
     * cursor|null, "seq": newest archive id ever handed out (archives)}.
     * LOAD: value {"rows": [...], "seq": n}, written as given, archive ids
     * included; result {"loaded": n}.  CLEAR: every record of every kind
     * (the archive id sequence stays); result {"deleted": n}.  A backend
     * that predates them answers EMBER_ENOTSUP.
     */
    EMBER_SOP_DUMP,
    EMBER_SOP_LOAD,
    EMBER_SOP_CLEAR,
    EMBER_SOP_COUNT_
} ember_store_op_t;

/*
 * One request to a backend.  Every string is valid until the backend calls
 * api->store_done(req, ...), which it must do exactly once, on the core
 * thread.  `value` is borrowed likewise.
 */
struct ember_store_req_s {
    uint32_t size;
    ember_store_op_t op;
    ember_store_kind_t kind;
    const char *host;
    const char *store;
    const char *user;
    const char *key;
    json_t *value;
    const ember_archive_query_t *query;
};

typedef struct ember_storage_driver_s {
    uint32_t size;
    const char *name;
    /* Queue req; return 0, or an error (then store_done is not called). */
    int (*submit)(void *ud, ember_store_req_t *req);
    /* Block until every queued request is durable (used at shutdown). */
    void (*flush)(void *ud);
    void *ud;
} ember_storage_driver_t;

/* ---- HTTP (minor 1): the core's HTTP/1.1 server, see doc/http.md ---- */

/*
 * One request (and, after sse_start or ws_accept, its stream).  Valid from
 * the handler call until the module answers it (http_respond,
 * http_send_file), or, for a stream, until http_close or its closed
 * callback; see ember_http_closed_cb for a connection that goes first.
 */
typedef struct ember_http_req_s ember_http_req_t;

/* Route flags. */
#define EMBER_HTTP_PREFIX 0x1u    /* path matches itself and what follows */
#define EMBER_HTTP_WEBSOCKET 0x2u /* GET with Upgrade: websocket */

/* WebSocket message types (the RFC 6455 opcodes). */
#define EMBER_WS_TEXT 1
#define EMBER_WS_BINARY 2

/*
 * A request arrived.  Return 0 when it was answered, or will be later (the
 * request stays valid until answered); a negative EMBER_E* makes the core
 * answer for the module when it has not: EINVAL 400, EPERM 403, ENOENT 404,
 * EBUSY 503, anything else 500.
 */
typedef int (*ember_http_cb)(ember_module_t *m, ember_http_req_t *req,
                             void *ud);
/*
 * The client went away before the module answered, or its event stream or
 * WebSocket closed.  The handle is released when this returns.
 */
typedef void (*ember_http_closed_cb)(ember_http_req_t *req, void *ud);
/* A complete WebSocket message (type EMBER_WS_TEXT or EMBER_WS_BINARY). */
typedef void (*ember_ws_message_cb)(ember_http_req_t *req, int type,
                                    const char *data, size_t len, void *ud);

typedef struct ember_http_route_s {
    uint32_t size;           /* sizeof(ember_http_route_t) */
    const char *set;         /* "client" (http, https) or "admin" */
    const char *method;      /* "GET", "POST" ...; GET also answers HEAD */
    const char *path;        /* "/x/y", normalised; a prefix ends in '/' */
    unsigned flags;          /* EMBER_HTTP_PREFIX, EMBER_HTTP_WEBSOCKET */
    size_t max_body;         /* 0: <limits http-max-body> */
    ember_http_cb handler;
    /* minor 3 */
    const void *data;        /* handed back by http_route_data */
} ember_http_route_t;

/* Route flag (minor 3): served without the table's auth hook. */
#define EMBER_HTTP_PUBLIC 0x4u
/* Route flag (minor 6): the handler runs on the head, and takes the body
 * with http_body_to_fd or refuses it (uploads of any size). */
#define EMBER_HTTP_STREAM_BODY 0x8u

/* A promise about a client's stanza (minor 6, api->stanza_hold). */
typedef struct ember_hold_s ember_hold_t;

/* The end of a body written by http_body_to_fd: status 0 or EMBER_EIO. */
typedef void (*ember_http_body_cb)(ember_http_req_t *req, int status,
                                   uint64_t bytes, void *ud);

/*
 * A table of routes with one auth hook (minor 3, http_routes).  Paths may
 * hold parameters: "{name}" matches one segment, "{name*}" (last) the
 * rest of the path; http_param gives their decoded values.  Before a route
 * not flagged EMBER_HTTP_PUBLIC runs, auth decides who asks: it returns 0
 * after http_set_principal (the route then runs and reads http_principal),
 * or answers req itself (401, 403, 429 ...) and returns 1, or returns a
 * negative EMBER_E* as a handler would.  auth NULL: every route public.
 */
typedef struct ember_http_table_s {
    uint32_t size;                   /* sizeof(ember_http_table_t) */
    const char *set;                 /* overrides each route's set */
    ember_http_cb auth;
    const ember_http_route_t *routes;
    size_t nroutes;
} ember_http_table_t;

#endif
