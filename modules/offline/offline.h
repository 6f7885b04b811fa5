/* offline.h -- shared between the files of mod_offline. */
#ifndef MOD_OFFLINE_H
#define MOD_OFFLINE_H

#include <stddef.h>
#include <ember/plugin.h>

typedef enum { OP_STORE, OP_DELIVER, OP_COUNT, OP_CLEAR } off_op_kind_t;

/* Work waiting for a user, done in order. */
typedef struct off_op_s {
    struct off_op_s *next;
    off_op_kind_t kind;
    ember_stanza_t *st;     /* OP_STORE: the message as it will be stored */
    ember_session_ref_t sess; /* OP_DELIVER */
    ember_cmd_ctx_t *ctx;   /* OP_COUNT, OP_CLEAR */
    ember_hold_t *hold;     /* OP_STORE: the sender's ack waits for it */
} off_op_t;

typedef struct off_user_s {
    struct off_user_s *next; /* hash chain */
    struct off_inst_s *inst;
    char *name;             /* node part */
    long stored;            /* confirmed items in the store; -1: unknown */
    long inflight;          /* appends not yet confirmed */
    int counting;           /* the count query is running */
    int busy;               /* a delivery or a clear is running */
    int stale;              /* another node changed the store: count again */
    off_op_t *ops, **ops_tail;
    ember_session_ref_t deliv; /* session of the running delivery */
    ember_cmd_ctx_t *clearing; /* command of the running clear */
    int more;               /* the delivered page was not the last */
} off_user_t;

/* An append in flight (kept listed so that an unload can free it). */
typedef struct off_append_s {
    struct off_append_s *prev, *next;
    off_user_t *u;
    ember_stanza_t *st;
    ember_hold_t *hold;
} off_append_t;

typedef struct off_inst_s {
    ember_module_t *m;
    ember_store_t *store;
    int max_messages;
    off_user_t **tab;       /* users with state, chained hash */
    size_t tab_size, n_users;
    off_append_t *appends;
} off_inst_t;

extern const ember_api_t *api;

/* mod_offline.c: XEP-0082 date-time, UTC, with milliseconds. */
void off_stamp(char *buf, size_t len);

/* offline_migrate.c: pie-export-offline, pie-import-offline. */
int off_migrate_init(off_inst_t *in);

/* offline_queue.c */
off_user_t *off_user_get(off_inst_t *in, const char *name, int create);
void off_user_maybe_free(off_user_t *u);
int off_enqueue(off_user_t *u, off_op_kind_t kind, ember_stanza_t *st,
                ember_session_ref_t sess, ember_cmd_ctx_t *ctx,
                ember_hold_t *hold);
void off_pump(off_user_t *u);
/* Another node of a cluster changed name's stored messages. */
void off_changed_elsewhere(off_inst_t *in, const char *name);
void off_inst_free(off_inst_t *in);

#endif
