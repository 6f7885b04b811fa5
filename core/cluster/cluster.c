/* core/cluster/cluster.c -- the cluster's shared state in Redis: each
 * node's lease, its bound sessions, a mirror of the other nodes' sessions
 * that keeps the router's lookups synchronous, and a channel per node
 * that carries stanzas between nodes.  Redis does the coordination (key
 * expiry, pub/sub); nothing here votes or gossips. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#include <hiredis/adapters/libuv.h>

#include "base/buf.h"
#include "base/hmap.h"
#include "base/hooks.h"
#include "base/jid.h"
#include "base/log.h"
#include "base/process.h"
#include "cluster/cluster.h"
#include "xmpp/errors.h"
#include "xmpp/router.h"
#include "xmpp/services.h"
#include "xmpp/session.h"
#include "xmpp/stanza.h"
#include "xmpp/xmlstream.h"

#define LOG "cluster"
#define KEY_NODES "ember:nodes"             /* set of node names */
#define KEY_LEASE_PREFIX "ember:node:"
#define KEY_LEASE KEY_LEASE_PREFIX "%s"      /* expires with the node */
#define KEY_SESSIONS "ember:sessions:%s"    /* hash: full JID -> "a p" */
#define CH_REGISTRY "ember:registry"        /* session changes, notices */
#define CH_BUS "ember:bus:%s"               /* stanzas for one node */
#define KEY_OWNERS "ember:owners"           /* hash: entity -> node */
#define KEY_OWNED "ember:owned:%s"          /* set: a node's entities */
#define MAX_TARGETS 256
#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 5000
/* hiredis 0.14's libuv adapter drops a socket error (a refused connect
 * seen as POLLERR): such an attempt never ends by itself. */
#define CONNECT_TIMEOUT_MS 3000

typedef struct cnode_s cnode_t;

/* A session of another node, as its node published it. */
typedef struct rsess_s {
    char *full, *bare;
    cnode_t *node;
    int available, priority;
    char *marks;            /* as ember__session_marks, NULL for "" */
    /* Local accounts this session's available presence was delivered to:
     * they are told it is unavailable when its node dies. */
    char **targets;
    size_t ntargets;
    struct rsess_s *user_prev, *user_next;   /* same bare JID */
    struct rsess_s *node_prev, *node_next;   /* same node */
} rsess_t;

struct cnode_s {
    char *name;
    rsess_t *sessions;
    size_t count;
    /* Redis handed it nothing we published: its connection is gone (it
     * died, its lease not yet run out, or it lost Redis).  Its users are
     * routed as if offline until it speaks again. */
    int unreachable;
    struct cnode_s *next;
};

/* A command handed to another node, until its answer. */
typedef struct rcmd_s {
    uint64_t seq;
    char *node;
    ember_route_cmd_reply_cb reply;
    void *ud;
    struct rcmd_s *next;
} rcmd_t;

/* A stanza for an entity whose owner is being asked of Redis. */
typedef struct claim_wait_s {
    ember_stanza_t *st;
    ember_hold_t *hold;
    struct claim_wait_s *next;
} claim_wait_t;

/* Who serves an entity of a service (a room): its node, NULL for this
 * one, while that node's lease lives. */
typedef struct owner_s {
    char *entity;
    char *node;
    int claiming;           /* asked Redis; stanzas wait */
    claim_wait_t *waiting, **waiting_tail;
} owner_t;

/* A stanza handed to another node, kept until that node says it routed
 * it and stored what it had to (a client's acknowledgement waits), or
 * until Redis says nobody got it. */
typedef struct fwd_s {
    ember_stanza_t *st;
    ember_hold_t *hold;
    int whole;              /* routed there, not delivered to one session */
    int service;            /* for an entity that node owns */
    int copy;               /* for that session or nobody (a carbon) */
    uint64_t seq;           /* 0: no client waits, Redis's word will do */
    char *node;
    int published;          /* Redis handed it to the node */
    int confirmed;          /* the node's confirmation came first */
    struct fwd_s *prev, *next;
} fwd_t;

static struct {
    int on;                 /* clustered (a reload neither joins nor leaves) */
    char *host, *node;
    char *user, *password;  /* Redis AUTH; password NULL: none */
    int auth_refused;       /* said so; not again until accepted */
    int port;
    int lease_ms;
    redisAsyncContext *cmd, *sub;
    int cmd_up, sub_up;     /* connected; sub_up: subscribed too */
    int ready;              /* both up and the mirror loaded once */
    int stopping;
    uint64_t backoff;
    uv_timer_t tick, retry;
    int timers_on;
    char incarnation[40];
    char ch_bus[128], key_lease[128], key_sessions[128], key_owned[128];
    cnode_t *nodes;
    ember_hmap_t by_full, by_bare;
    ember_hmap_t owners;        /* entity -> owner_t */
    ember_buf_t out;
    fwd_t *waiting, *waiting_tail;  /* for a confirmation, oldest first */
    uint64_t fwd_seq;
    struct rcmd_s *cmds;        /* commands run on other nodes */
    uint64_t cmd_seq;
} cl;

static void connect_redis(void);
static void attempt_done(void);
static void cmds_fail(const char *node, int status, const char *why);
static void republish(void);
static void fwd_fail_node(const char *name);
static void owners_forget(const char *node);


/* ---- the mirror ---- */

static cnode_t *
node_get(const char *name, int create)
{
    cnode_t *n;

    for (n = cl.nodes; n != NULL; n = n->next)
        if (strcmp(n->name, name) == 0)
            return n;
    if (!create || (n = calloc(1, sizeof(*n))) == NULL)
        return NULL;
    if ((n->name = strdup(name)) == NULL) {
        free(n);
        return NULL;
    }
    n->next = cl.nodes;
    cl.nodes = n;
    return n;
}


static void
rsess_free(rsess_t *r)
{
    size_t i;

    for (i = 0; i < r->ntargets; i++)
        free(r->targets[i]);
    free(r->targets);
    free(r->marks);
    free(r->full);
    free(r->bare);
    free(r);
}


/* Off every list.  dead: its node died without a word, so the local
 * accounts that saw it available hear that it is not. */
static void
rsess_remove(rsess_t *r, int dead)
{
    rsess_t *head;
    ember_stanza_t *p;
    size_t i;

    ember__hmap_del(&cl.by_full, r->full);
    if (r->user_prev != NULL) {
        r->user_prev->user_next = r->user_next;
    } else if ((head = r->user_next) != NULL) {
        ember__hmap_put(&cl.by_bare, head->bare, head);
    } else {
        ember__hmap_del(&cl.by_bare, r->bare);
    }
    if (r->user_next != NULL)
        r->user_next->user_prev = r->user_prev;
    if (r->node_prev != NULL)
        r->node_prev->node_next = r->node_next;
    else
        r->node->sessions = r->node_next;
    if (r->node_next != NULL)
        r->node_next->node_prev = r->node_prev;
    r->node->count--;
    for (i = 0; dead && r->available && i < r->ntargets; i++) {
        if ((p = ember__stanza_new("presence", NULL)) == NULL)
            break;
        ember__stanza_set_attr(p, "from", r->full);
        ember__stanza_set_attr(p, "to", r->targets[i]);
        ember__stanza_set_attr(p, "type", "unavailable");
        ember__route_from_node(p, 1);
    }
    rsess_free(r);
}


static void
node_clear(cnode_t *n, int dead)
{
    while (n->sessions != NULL)
        rsess_remove(n->sessions, dead);
}


/* A node gone (dead: without a word). */
static void
node_forget(const char *name, int dead)
{
    cnode_t **pp, *n;

    /* What it did not confirm is routed again without it. */
    if ((n = node_get(name, 0)) != NULL)
        n->unreachable = 1;
    owners_forget(name);
    fwd_fail_node(name);
    cmds_fail(name, EMBER_EIO, "its node left or died before answering");
    for (pp = &cl.nodes; (n = *pp) != NULL; pp = &n->next)
        if (strcmp(n->name, name) == 0) {
            node_clear(n, dead);
            *pp = n->next;
            free(n->name);
            free(n);
            return;
        }
}


static void
mirror_clear(void)
{
    cnode_t *n;

    while ((n = cl.nodes) != NULL) {
        cl.nodes = n->next;
        node_clear(n, 0);
        free(n->name);
        free(n);
    }
}


static void
rsess_set_marks(rsess_t *r, const char *marks)
{
    char *copy = NULL;

    if (marks[0] != '\0' && (r->marks == NULL || strcmp(r->marks, marks)) &&
        (copy = strdup(marks)) == NULL)
        return;
    if (copy != NULL || marks[0] == '\0') {
        free(r->marks);
        r->marks = copy;
    }
}


static void
rsess_put(const char *node, const char *full, int available, int priority,
          const char *marks)
{
    cnode_t *n;
    rsess_t *r, *t;
    ember_jid_t *j;

    if (strcmp(node, cl.node) == 0 || (n = node_get(node, 1)) == NULL)
        return;
    n->unreachable = 0;
    if ((r = ember__hmap_get(&cl.by_full, full)) != NULL) {
        if (r->node == n) {
            r->available = available;
            r->priority = priority;
            rsess_set_marks(r, marks);
            return;
        }
        /* The same resource bound again elsewhere: the newest holds it. */
        rsess_remove(r, 0);
    }
    if ((j = ember__jid_parse(full)) == NULL || j->resource == NULL ||
        (r = calloc(1, sizeof(*r))) == NULL) {
        ember__jid_free(j);
        return;
    }
    r->full = strdup(j->full);
    r->bare = strdup(j->bare);
    ember__jid_free(j);
    if (r->full == NULL || r->bare == NULL ||
        ember__hmap_put(&cl.by_full, r->full, r) < 0) {
        rsess_free(r);
        return;
    }
    if ((t = ember__hmap_get(&cl.by_bare, r->bare)) == NULL) {
        if (ember__hmap_put(&cl.by_bare, r->bare, r) < 0) {
            ember__hmap_del(&cl.by_full, r->full);
            rsess_free(r);
            return;
        }
    } else {
        while (t->user_next != NULL)
            t = t->user_next;
        t->user_next = r;
        r->user_prev = t;
    }
    r->node = n;
    r->available = available;
    r->priority = priority;
    rsess_set_marks(r, marks);
    r->node_next = n->sessions;
    if (n->sessions != NULL)
        n->sessions->node_prev = r;
    n->sessions = r;
    n->count++;
}


static void
rsess_drop(const char *node, const char *full)
{
    rsess_t *r = ember__hmap_get(&cl.by_full, full);

    if (r != NULL && strcmp(r->node->name, node) == 0)
        rsess_remove(r, 0);
}


/* Remember who saw r's available presence; forget on unavailable. */
static void
note_presence(const ember_stanza_t *st)
{
    const char *from = ember__stanza_attr(st, "from");
    const char *to = ember__stanza_attr(st, "to");
    const char *type = ember__stanza_attr(st, "type");
    rsess_t *r;
    ember_jid_t *j;
    const char *target;
    size_t i;
    char **grown;

    if (from == NULL || to == NULL ||
        (r = ember__hmap_get(&cl.by_full, from)) == NULL ||
        (type != NULL && strcmp(type, "unavailable") != 0) ||
        (j = ember__jid_parse(to)) == NULL)
        return;
    /* An occupant of a room is its nick there: the room hears that it
     * left from that JID. */
    target = ember__service_exists(j->domain) ? j->full : j->bare;
    for (i = 0; i < r->ntargets; i++)
        if (strcmp(r->targets[i], target) == 0)
            break;
    if (type != NULL && i < r->ntargets) {
        free(r->targets[i]);
        r->targets[i] = r->targets[--r->ntargets];
    } else if (type == NULL && i == r->ntargets && i < MAX_TARGETS &&
               (grown = realloc(r->targets, (i + 1) * sizeof(*grown))) !=
                   NULL) {
        r->targets = grown;
        if ((r->targets[i] = strdup(target)) != NULL)
            r->ntargets++;
    }
    ember__jid_free(j);
}


/* ---- handing stanzas to other nodes ---- */

static void
fwd_unlink(fwd_t *f)
{
    if (f->seq == 0)
        return;
    if (f->prev != NULL)
        f->prev->next = f->next;
    else
        cl.waiting = f->next;
    if (f->next != NULL)
        f->next->prev = f->prev;
    else
        cl.waiting_tail = f->prev;
    f->prev = f->next = NULL;
    f->seq = 0;
}


static void
fwd_free(fwd_t *f)
{
    fwd_unlink(f);
    ember__hold_release(f->hold);
    ember__stanza_free(f->st);
    free(f->node);
    free(f);
}


/* Its node is gone, or never got it: the local rules, here (its node is
 * unreachable or forgotten, so they do not choose it again): a message
 * is stored offline rather than bounced.  A node that died after storing
 * it but before confirming makes this a second copy: at least once,
 * never lost. */
static void
fwd_fail(fwd_t *f)
{
    ember_hold_ctx_t saved;
    int is_message = strcmp(ember__stanza_name(f->st), "message") == 0;

    ember__log(EMBER_LOG_WARN, LOG, "a %s for %s was not confirmed by node "
               "%s: %s", ember__stanza_name(f->st),
               ember__stanza_attr(f->st, "to"), f->node,
               f->copy ? "dropped" : f->service ? "routed again"
               : f->whole ? "routed here"
               : is_message ? "routed as if that session had not been"
                            : "bounced");
    fwd_unlink(f);
    ember__hold_enter(f->hold, &saved);
    if (f->service) {
        /* Its entity's owner again: a new one if that node is gone. */
        ember__route_stanza(f->st, NULL);
        f->st = NULL;
    } else if (f->whole) {
        ember__route_from_node(f->st, 1);
        f->st = NULL;
    } else if (is_message && !f->copy) {
        /* Routed here already (archived, copied): only the delivery to
         * that session failed. */
        ember__route_undelivered(f->st);
        f->st = NULL;
    } else if (!f->copy) {
        ember__bounce(f->st, EMBER_COND_SERVICE_UNAVAILABLE, NULL);
    }
    ember__hold_leave(&saved);
    fwd_free(f);
}


/* Those handed to a node that died (or left): what Redis handed it may
 * have died with it. */
static void
fwd_fail_node(const char *name)
{
    fwd_t *f, *next;

    for (f = cl.waiting; f != NULL; f = next) {
        next = f->next;
        if (f->published && strcmp(f->node, name) == 0)
            fwd_fail(f);
    }
}


/* Without Redis, or leaving, nothing will be confirmed: those Redis has
 * not answered for yet fail when it does. */
static void
fwd_fail_all(void)
{
    fwd_t *f, *next;

    for (f = cl.waiting; f != NULL; f = next) {
        next = f->next;
        if (f->published)
            fwd_fail(f);
    }
}


/* PUBLISH answers how many subscribers got it: none means the node is
 * gone (its connection closed) before its lease ran out. */
static void
fwd_done(redisAsyncContext *ac, void *reply, void *ud)
{
    fwd_t *f = ud;
    redisReply *r = reply;
    cnode_t *n;

    if (r != NULL && r->type == REDIS_REPLY_INTEGER && r->integer == 0 &&
        (n = node_get(f->node, 0)) != NULL)
        n->unreachable = 1;
    if (r == NULL || r->type != REDIS_REPLY_INTEGER || r->integer <= 0) {
        fwd_fail(f);
    } else if (f->seq == 0 || f->confirmed) {
        fwd_free(f);
    } else if (cl.stopping || node_get(f->node, 0) == NULL) {
        /* Forgotten meanwhile: no confirmation will come. */
        fwd_fail(f);
    } else {
        f->published = 1;
    }
}


/* "A<seq>": the node routed what we handed it with that number. */
static void
fwd_confirmed(const char *data, size_t len)
{
    unsigned long long seq;
    char num[24];
    fwd_t *f;

    if (len < 2 || len - 1 >= sizeof(num))
        return;
    memcpy(num, data + 1, len - 1);
    num[len - 1] = '\0';
    seq = strtoull(num, NULL, 10);
    /* Confirmations come nearly in order: the oldest first. */
    for (f = cl.waiting; f != NULL; f = f->next)
        if (f->seq == seq) {
            if (f->published)
                fwd_free(f);
            else
                f->confirmed = 1;
            return;
        }
}


/* "[W<seq> <node>\n]R\n<xml>": route it there; "[...]D<full>\n<xml>":
 * deliver to that session, or route it as for a missing resource when it
 * is gone; "E<full>": deliver, or nothing.  The W line asks for "A<seq>"
 * on our channel once it is routed and stored: a client waits for its
 * acknowledgement. */
static int
forward(const cnode_t *n, const char *kind, const char *full,
        const ember_stanza_t *st, int service)
{
    char ch[128], line[160];
    fwd_t *f;

    if (!cl.ready || (f = calloc(1, sizeof(*f))) == NULL)
        return 0;
    f->copy = kind[0] == 'E';
    /* A copy is not what the client's stanza is acknowledged for. */
    f->hold = f->copy ? NULL : ember__hold_take();
    if (f->hold != NULL)
        f->seq = ++cl.fwd_seq;
    ember__buf_reset(&cl.out);
    snprintf(line, sizeof(line), "W%llu %s\n", (unsigned long long) f->seq,
             cl.node);
    if ((f->st = ember__stanza_copy(st)) == NULL ||
        (f->node = strdup(n->name)) == NULL ||
        (f->seq != 0 && ember__buf_puts(&cl.out, line) < 0) ||
        ember__buf_puts(&cl.out, kind) < 0 ||
        (full != NULL && ember__buf_puts(&cl.out, full) < 0) ||
        ember__buf_puts(&cl.out, "\n") < 0 ||
        ember__stanza_write(st, NULL, &cl.out) < 0) {
        f->seq = 0;
        fwd_free(f);
        return 0;
    }
    f->whole = full == NULL;
    f->service = service;
    if (f->seq != 0) {
        f->prev = cl.waiting_tail;
        if (cl.waiting_tail != NULL)
            cl.waiting_tail->next = f;
        else
            cl.waiting = f;
        cl.waiting_tail = f;
    }
    snprintf(ch, sizeof(ch), CH_BUS, n->name);
    if (redisAsyncCommand(cl.cmd, fwd_done, f, "PUBLISH %s %b", ch,
                          cl.out.data, cl.out.len) != REDIS_OK) {
        fwd_free(f);
        return 0;
    }
    return 1;
}


static int
c_to_full(const char *full, const ember_stanza_t *st)
{
    rsess_t *r = cl.ready ? ember__hmap_get(&cl.by_full, full) : NULL;

    return r != NULL && !r->node->unreachable &&
           forward(r->node, "R", NULL, st, 0);
}


static int
c_to_bare(const char *bare, const ember_stanza_t *st)
{
    rsess_t *r, *pick = NULL;

    if (!cl.ready)
        return 0;
    for (r = ember__hmap_get(&cl.by_bare, bare); r != NULL; r = r->user_next)
        if (!r->node->unreachable &&
            (pick == NULL || (r->available && (!pick->available ||
                                               r->priority >
                                                   pick->priority))))
            pick = r;
    return pick != NULL && forward(pick->node, "R", NULL, st, 0);
}


static int
c_best(const char *bare)
{
    rsess_t *r;
    int best = -129;

    if (!cl.ready)
        return best;
    for (r = ember__hmap_get(&cl.by_bare, bare); r != NULL; r = r->user_next)
        if (r->available && !r->node->unreachable && r->priority > best)
            best = r->priority;
    return best;
}


static int
c_deliver(const char *bare, const ember_stanza_t *st, int lo, int hi)
{
    rsess_t *r;
    int n = 0;

    if (!cl.ready)
        return 0;
    for (r = ember__hmap_get(&cl.by_bare, bare); r != NULL; r = r->user_next)
        if (r->available && !r->node->unreachable && r->priority >= lo &&
            r->priority <= hi)
            n += forward(r->node, "D", r->full, st, 0);
    return n;
}


static int
walk_one(rsess_t *r, const char *mark,
         void (*cb)(const char *full, int available, int priority, void *ud),
         void *ud)
{
    if (r->node->unreachable ||
        (mark != NULL && !ember__marks_have(r->marks, mark)))
        return 0;
    cb(r->full, r->available, r->priority, ud);
    return 1;
}


static int
c_walk(const char *bare, const char *host, const char *mark,
       void (*cb)(const char *full, int available, int priority, void *ud),
       void *ud)
{
    rsess_t *r;
    cnode_t *nd;
    const char *at;
    int n = 0;

    /* cb does not change the mirror: it only reads and routes. */
    if (!cl.ready)
        return 0;
    if (bare != NULL) {
        for (r = ember__hmap_get(&cl.by_bare, bare); r != NULL;
             r = r->user_next)
            n += walk_one(r, mark, cb, ud);
        return n;
    }
    for (nd = cl.nodes; nd != NULL; nd = nd->next)
        for (r = nd->sessions; r != NULL; r = r->node_next) {
            at = strchr(r->bare, '@');
            if (host == NULL ||
                strcmp(at != NULL ? at + 1 : r->bare, host) == 0)
                n += walk_one(r, mark, cb, ud);
        }
    return n;
}


static int
c_deliver_to(const char *full, const ember_stanza_t *st)
{
    rsess_t *r = cl.ready ? ember__hmap_get(&cl.by_full, full) : NULL;

    return r != NULL && !r->node->unreachable &&
           forward(r->node, "E", full, st, 0);
}


/* ---- who serves a room: one owner per entity ---- */

/* The owner stays while its node's lease lives: a claim takes an entity
 * whose owner is gone.  Lua runs atomically in Redis, so two nodes that
 * claim at once hear the same answer. */
static const char claim_lua[] =
    "local o = redis.call('HGET', KEYS[1], ARGV[1]) "
    "if o and o ~= ARGV[2] and "
    "redis.call('EXISTS', ARGV[3] .. o) == 1 then return o end "
    "redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) "
    "redis.call('SADD', KEYS[2], ARGV[1]) "
    "return ARGV[2]";

/* Free a node's entities (it left or died): the next stanza to one
 * makes the node that routes it the owner. */
static const char release_lua[] =
    "for _, k in ipairs(redis.call('SMEMBERS', KEYS[2])) do "
    "if redis.call('HGET', KEYS[1], k) == ARGV[1] then "
    "redis.call('HDEL', KEYS[1], k) end end "
    "return redis.call('DEL', KEYS[2])";


static void
release_owned(const char *node)
{
    char key[128];

    snprintf(key, sizeof(key), KEY_OWNED, node);
    redisAsyncCommand(cl.cmd, NULL, NULL, "EVAL %s 2 " KEY_OWNERS " %s %s",
                      release_lua, key, node);
}


static void
owner_free(owner_t *o)
{
    free(o->entity);
    free(o->node);
    free(o);
}


/* What waited for the owner: served here (node NULL), handed to it, or
 * answered with an error. */
static void
owner_flush(owner_t *o, const cnode_t *n, ember_cond_t cond)
{
    claim_wait_t *w;
    ember_hold_ctx_t saved;

    while ((w = o->waiting) != NULL) {
        o->waiting = w->next;
        ember__hold_enter(w->hold, &saved);
        if (cond != EMBER_COND_NONE) {
            ember__bounce(w->st, cond, NULL);
            ember__stanza_free(w->st);
        } else if (n == NULL) {
            ember__route_from_node(w->st, 0);
        } else {
            if (!forward(n, "R", NULL, w->st, 1))
                ember__bounce(w->st, EMBER_COND_SERVICE_UNAVAILABLE, NULL);
            ember__stanza_free(w->st);
        }
        ember__hold_leave(&saved);
        ember__hold_release(w->hold);
        free(w);
    }
    o->waiting_tail = &o->waiting;
}


static void
on_claim(redisAsyncContext *ac, void *reply, void *ud)
{
    redisReply *r = reply;
    char *entity = ud;
    owner_t *o = ember__hmap_get(&cl.owners, entity);
    cnode_t *n = NULL;

    free(entity);
    if (o == NULL)
        return;
    o->claiming = 0;
    if (r == NULL || r->type != REDIS_REPLY_STRING || cl.stopping) {
        /* Without Redis each node serves alone (doc/cluster.md). */
        ember__hmap_del(&cl.owners, o->entity);
        owner_flush(o, NULL, EMBER_COND_NONE);
        owner_free(o);
        return;
    }
    free(o->node);
    o->node = NULL;
    if (strcmp(r->str, cl.node) != 0 &&
        ((o->node = strdup(r->str)) == NULL ||
         (n = node_get(o->node, 1)) == NULL)) {
        ember__hmap_del(&cl.owners, o->entity);
        owner_flush(o, NULL, EMBER_COND_RESOURCE_CONSTRAINT);
        owner_free(o);
        return;
    }
    if (n == NULL) {
        ember__log(EMBER_LOG_DEBUG, LOG, "node %s serves %s", cl.node,
                   o->entity);
        ember__service_claimed(o->entity);
    }
    owner_flush(o, n, EMBER_COND_NONE);
}


static void
claim(owner_t *o)
{
    char *copy = strdup(o->entity);

    if (copy == NULL || redisAsyncCommand(cl.cmd, on_claim, copy,
                                          "EVAL %s 2 " KEY_OWNERS " %s %s %s "
                                          KEY_LEASE_PREFIX, claim_lua,
                                          cl.key_owned, o->entity, cl.node)
                            != REDIS_OK) {
        free(copy);
        return;
    }
    o->claiming = 1;
}


static int
c_to_service(const char *entity, const ember_stanza_t *st)
{
    owner_t *o;
    cnode_t *n;
    claim_wait_t *w;

    if (!cl.ready)
        return 0;
    if ((o = ember__hmap_get(&cl.owners, entity)) != NULL && !o->claiming) {
        if (o->node == NULL)
            return 0;
        /* A node forgotten meanwhile: claimed again below. */
        if ((n = node_get(o->node, 0)) != NULL && n->unreachable) {
            /* Until its lease runs out and the entity moves. */
            ember__bounce(st, EMBER_COND_RECIPIENT_UNAVAILABLE,
                          "its node is down; it moves to another soon");
            return 1;
        }
        if (n != NULL) {
            if (!forward(n, "R", NULL, st, 1))
                ember__bounce(st, EMBER_COND_SERVICE_UNAVAILABLE, NULL);
            return 1;
        }
    }
    if (o == NULL) {
        if ((o = calloc(1, sizeof(*o))) == NULL ||
            (o->entity = strdup(entity)) == NULL ||
            ember__hmap_put(&cl.owners, o->entity, o) < 0) {
            if (o != NULL)
                owner_free(o);
            ember__bounce(st, EMBER_COND_RESOURCE_CONSTRAINT, NULL);
            return 1;
        }
        o->waiting_tail = &o->waiting;
    }
    if ((w = calloc(1, sizeof(*w))) == NULL ||
        (w->st = ember__stanza_copy(st)) == NULL) {
        free(w);
        ember__bounce(st, EMBER_COND_RESOURCE_CONSTRAINT, NULL);
        return 1;
    }
    w->hold = ember__hold_take();
    *o->waiting_tail = w;
    o->waiting_tail = &w->next;
    if (!o->claiming)
        claim(o);
    if (!o->claiming) {
        ember__hmap_del(&cl.owners, o->entity);
        owner_flush(o, NULL, EMBER_COND_NONE);
        owner_free(o);
    }
    return 1;
}


/* Who serves an entity, without claiming it: this node's memory, else
 * Redis (an owner whose node's lease is gone serves nothing). */
static const char locate_lua[] =
    "local o = redis.call('HGET', KEYS[1], ARGV[1]) "
    "if o and redis.call('EXISTS', ARGV[2] .. o) == 1 then return o end "
    "return ''";

typedef struct locate_s {
    ember_route_locate_cb cb;
    void *ud;
} locate_t;


static void
on_locate(redisAsyncContext *ac, void *reply, void *ud)
{
    redisReply *r = reply;
    locate_t *l = ud;

    if (cl.stopping)
        l->cb(EMBER_ECANCELED, NULL, l->ud);
    else if (r == NULL || r->type != REDIS_REPLY_STRING)
        /* Without Redis each node serves alone (doc/cluster.md). */
        l->cb(0, NULL, l->ud);
    else
        l->cb(0, r->str[0] == '\0' || strcmp(r->str, cl.node) == 0 ? NULL
                                                                  : r->str,
              l->ud);
    free(l);
}


static void
c_locate(const char *entity, ember_route_locate_cb cb, void *ud)
{
    owner_t *o;
    cnode_t *n;
    locate_t *l;

    if (!cl.ready) {
        cb(0, NULL, ud);
        return;
    }
    if ((o = ember__hmap_get(&cl.owners, entity)) != NULL && !o->claiming) {
        if (o->node == NULL) {
            cb(0, NULL, ud);
            return;
        }
        if ((n = node_get(o->node, 0)) != NULL) {
            if (n->unreachable)
                cb(EMBER_EBUSY, o->node, ud);
            else
                cb(0, o->node, ud);
            return;
        }
    }
    if ((l = malloc(sizeof(*l))) == NULL) {
        cb(EMBER_ENOMEM, NULL, ud);
        return;
    }
    l->cb = cb;
    l->ud = ud;
    if (redisAsyncCommand(cl.cmd, on_locate, l, "EVAL %s 1 " KEY_OWNERS
                          " %s " KEY_LEASE_PREFIX, locate_lua, entity) !=
            REDIS_OK) {
        free(l);
        cb(EMBER_EIO, NULL, ud);
    }
}


/* ---- commands run on another node ---- */

static void
rcmd_end(rcmd_t *c, int status, json_t *result, const char *message)
{
    rcmd_t **pp;

    for (pp = &cl.cmds; *pp != NULL; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    c->reply(status, result, message, c->ud);
    free(c->node);
    free(c);
}


static void
cmds_fail(const char *node, int status, const char *why)
{
    rcmd_t *c, *next;
    char msg[256];

    for (c = cl.cmds; c != NULL; c = next) {
        next = c->next;
        if (node == NULL || strcmp(c->node, node) == 0) {
            snprintf(msg, sizeof(msg), "node %s: %s", c->node, why);
            rcmd_end(c, status, NULL, msg);
            /* A reply may end others: start again. */
            next = cl.cmds;
        }
    }
}


static void
rcmd_published(redisAsyncContext *ac, void *reply, void *ud)
{
    redisReply *r = reply;
    uint64_t seq = (uint64_t) (uintptr_t) ud;
    rcmd_t *c;

    if (r != NULL && r->type == REDIS_REPLY_INTEGER && r->integer > 0)
        return;
    for (c = cl.cmds; c != NULL; c = c->next)
        if (c->seq == seq) {
            rcmd_end(c, EMBER_EIO, NULL, "that node is not connected");
            return;
        }
}


/* "C<seq> <node>\n<json>": run it, answer "c<seq>\n<json>" to node. */
static int
c_command(const char *node, json_t *req, ember_route_cmd_reply_cb reply,
          void *ud)
{
    rcmd_t *c;
    char *text, ch[128], head[160];
    int rc;

    if (!cl.ready)
        return EMBER_ESTATE;
    if ((c = calloc(1, sizeof(*c))) == NULL ||
        (c->node = strdup(node)) == NULL ||
        (text = json_dumps(req, JSON_COMPACT)) == NULL) {
        if (c != NULL)
            free(c->node);
        free(c);
        return EMBER_ENOMEM;
    }
    c->seq = ++cl.cmd_seq;
    c->reply = reply;
    c->ud = ud;
    snprintf(ch, sizeof(ch), CH_BUS, node);
    snprintf(head, sizeof(head), "C%llu %s\n", (unsigned long long) c->seq,
             cl.node);
    ember__buf_reset(&cl.out);
    rc = ember__buf_puts(&cl.out, head) < 0 ||
                 ember__buf_puts(&cl.out, text) < 0
             ? REDIS_ERR
             : redisAsyncCommand(cl.cmd, rcmd_published,
                                 (void *) (uintptr_t) c->seq, "PUBLISH %s %b",
                                 ch, cl.out.data, cl.out.len);
    free(text);
    if (rc != REDIS_OK) {
        free(c->node);
        free(c);
        return EMBER_EIO;
    }
    c->next = cl.cmds;
    cl.cmds = c;
    return 0;
}


/* "c<seq>\n{"status","result","message"}" */
static void
command_answered(const char *data, size_t len)
{
    const char *nl = memchr(data, '\n', len);
    unsigned long long seq = strtoull(data + 1, NULL, 10);
    json_t *ans;
    rcmd_t *c;

    for (c = cl.cmds; c != NULL && c->seq != seq; c = c->next)
        ;
    if (c == NULL || nl == NULL ||
        (ans = json_loadb(nl + 1, len - (size_t) (nl + 1 - data), 0,
                          NULL)) == NULL)
        return;
    rcmd_end(c, (int) json_integer_value(json_object_get(ans, "status")),
             json_object_get(ans, "result"),
             json_string_value(json_object_get(ans, "message")));
    json_decref(ans);
}


typedef struct answer_s {
    unsigned long long seq;
    char node[];
} answer_t;


static void
command_done_here(int status, json_t *result, const char *message, void *ud)
{
    answer_t *a = ud;
    json_t *ans = json_pack("{s:i, s:O?, s:s?}", "status", status, "result",
                            result, "message", message);
    char *text = ans != NULL ? json_dumps(ans, JSON_COMPACT) : NULL;
    char ch[128];

    if (text != NULL && cl.cmd_up && !cl.stopping) {
        snprintf(ch, sizeof(ch), CH_BUS, a->node);
        redisAsyncCommand(cl.cmd, NULL, NULL, "PUBLISH %s c%llu\n%s", ch,
                          a->seq, text);
    }
    free(text);
    json_decref(ans);
    free(a);
}


static void
command_asked(const char *data, size_t len)
{
    const char *nl = memchr(data, '\n', len), *sp;
    answer_t *a;
    json_t *req;
    size_t nlen;

    if (nl == NULL || (sp = memchr(data, ' ', (size_t) (nl - data))) == NULL ||
        (nlen = (size_t) (nl - sp - 1)) == 0 ||
        (a = malloc(sizeof(*a) + nlen + 1)) == NULL)
        return;
    a->seq = strtoull(data + 1, NULL, 10);
    memcpy(a->node, sp + 1, nlen);
    a->node[nlen] = '\0';
    if ((req = json_loadb(nl + 1, len - (size_t) (nl + 1 - data), 0,
                          NULL)) == NULL) {
        command_done_here(EMBER_EINVAL, NULL, "malformed command", a);
        return;
    }
    ember__route_run_command(req, command_done_here, a);
    json_decref(req);
}


/* node (NULL: every other node) is gone or Redis forgot: its entities
 * are claimed again by the next stanza.  This node's own stay. */
static void
owners_forget(const char *node)
{
    owner_t *o;
    size_t pos = 0;
    const char *key;

    while ((o = ember__hmap_next(&cl.owners, &pos, &key)) != NULL)
        if (!o->claiming && o->node != NULL &&
            (node == NULL || strcmp(o->node, node) == 0)) {
            ember__hmap_del(&cl.owners, key);
            owner_free(o);
        }
}


/* After a reconnection Redis may have forgotten what this node serves. */
static void
reclaim_own(void)
{
    owner_t *o;
    size_t pos = 0;
    const char *key;

    while ((o = ember__hmap_next(&cl.owners, &pos, &key)) != NULL)
        if (!o->claiming && o->node == NULL)
            claim(o);
}


static void
owners_clear(void)
{
    owner_t *o;
    claim_wait_t *w;
    size_t pos = 0;
    const char *key;

    while ((o = ember__hmap_next(&cl.owners, &pos, &key)) != NULL) {
        while ((w = o->waiting) != NULL) {
            o->waiting = w->next;
            ember__hold_release(w->hold);
            ember__stanza_free(w->st);
            free(w);
        }
        owner_free(o);
    }
    ember__hmap_free(&cl.owners);
}


static void
ask_close(const cnode_t *n, const char *jid, ember_stream_cond_t cond)
{
    char ch[128], msg[3100];

    snprintf(ch, sizeof(ch), CH_BUS, n->name);
    snprintf(msg, sizeof(msg), "K%d %s", (int) cond, jid);
    redisAsyncCommand(cl.cmd, NULL, NULL, "PUBLISH %s %s", ch, msg);
}


static int
c_close(const char *jid, ember_stream_cond_t cond)
{
    rsess_t *r, *t;
    int n = 0;

    if (!cl.ready)
        return 0;
    if (strchr(jid, '/') != NULL) {
        if ((r = ember__hmap_get(&cl.by_full, jid)) == NULL)
            return 0;
        ask_close(r->node, jid, cond);
        return 1;
    }
    for (r = ember__hmap_get(&cl.by_bare, jid); r != NULL; r = r->user_next) {
        n++;
        /* Once per node: it closes all of the account's there. */
        for (t = ember__hmap_get(&cl.by_bare, jid); t != r; t = t->user_next)
            if (t->node == r->node)
                break;
        if (t == r)
            ask_close(r->node, jid, cond);
    }
    return n;
}


static int c_count(const char *bare);


/* "N<node>\t<host>\t<module>\t<key>" to every node. */
static void
c_notice(const char *host, const char *module, const char *key)
{
    if (!cl.ready || strchr(host, '\t') != NULL ||
        strchr(module, '\t') != NULL)
        return;
    ember__buf_reset(&cl.out);
    if (ember__buf_puts(&cl.out, "N") < 0 ||
        ember__buf_puts(&cl.out, cl.node) < 0 ||
        ember__buf_puts(&cl.out, "\t") < 0 ||
        ember__buf_puts(&cl.out, host) < 0 ||
        ember__buf_puts(&cl.out, "\t") < 0 ||
        ember__buf_puts(&cl.out, module) < 0 ||
        ember__buf_puts(&cl.out, "\t") < 0 ||
        ember__buf_puts(&cl.out, key) < 0)
        return;
    redisAsyncCommand(cl.cmd, NULL, NULL, "PUBLISH " CH_REGISTRY " %b",
                      cl.out.data, cl.out.len);
}


/* "G<bare> <previd>" to each node with a session of bare. */
static void
c_resume_failed(const char *bare, const char *previd)
{
    rsess_t *r, *t;
    size_t i;
    char ch[128];

    if (!cl.ready || strlen(previd) > 64)
        return;
    for (i = 0; previd[i] != '\0'; i++)
        if (!isxdigit((unsigned char) previd[i]))
            return;
    ember__buf_reset(&cl.out);
    if (ember__buf_puts(&cl.out, "G") < 0 ||
        ember__buf_puts(&cl.out, bare) < 0 ||
        ember__buf_puts(&cl.out, " ") < 0 ||
        ember__buf_puts(&cl.out, previd) < 0)
        return;
    for (r = ember__hmap_get(&cl.by_bare, bare); r != NULL; r = r->user_next) {
        for (t = ember__hmap_get(&cl.by_bare, bare); t != r; t = t->user_next)
            if (t->node == r->node)
                break;
        if (t != r)
            continue;
        snprintf(ch, sizeof(ch), CH_BUS, r->node->name);
        redisAsyncCommand(cl.cmd, NULL, NULL, "PUBLISH %s %b", ch,
                          cl.out.data, cl.out.len);
    }
}


/* "G<bare> <previd>": bare's client failed to resume previd elsewhere. */
static void
resume_failed_heard(const char *data, size_t len)
{
    char bare[3072], previd[65];
    const char *sp = memchr(data, ' ', len);
    size_t blen, plen;

    if (sp == NULL || (blen = (size_t) (sp - data - 1)) == 0 ||
        blen >= sizeof(bare) || (plen = len - blen - 2) == 0 ||
        plen >= sizeof(previd))
        return;
    memcpy(bare, data + 1, blen);
    bare[blen] = '\0';
    memcpy(previd, sp + 1, plen);
    previd[plen] = '\0';
    ember__sm_give_up(bare, previd);
}


/* Another node's module told its peers that key changed. */
static void
notice_heard(const char *rest)
{
    const char *t1 = strchr(rest, '\t'), *t2;
    char host[1024], event[160];
    ember_event_t ev;

    if (t1 == NULL || (size_t) (t1 - rest) >= sizeof(host) ||
        (t2 = strchr(t1 + 1, '\t')) == NULL)
        return;
    memcpy(host, rest, (size_t) (t1 - rest));
    host[t1 - rest] = '\0';
    snprintf(event, sizeof(event), "cluster-notice/%.*s",
             (int) (t2 - t1 - 1), t1 + 1);
    memset(&ev, 0, sizeof(ev));
    ev.data = (void *) (t2 + 1);
    ember__fire(host, event, &ev);
}

static const ember_route_cluster_t route_ops = {
    .to_full = c_to_full,
    .to_bare = c_to_bare,
    .best = c_best,
    .deliver = c_deliver,
    .count = c_count,
    .to_service = c_to_service,
    .close = c_close,
    .walk = c_walk,
    .deliver_to = c_deliver_to,
    .locate = c_locate,
    .command = c_command,
    .notice = c_notice,
    .resume_failed = c_resume_failed,
};


/* The other node waits for our word on what it handed us. */
typedef struct confirm_s {
    unsigned long long seq;
    char node[];
} confirm_t;


static void
send_confirmation(void *ud)
{
    confirm_t *c = ud;
    char ch[128];

    if (cl.cmd_up && !cl.stopping) {
        snprintf(ch, sizeof(ch), CH_BUS, c->node);
        redisAsyncCommand(cl.cmd, NULL, NULL, "PUBLISH %s A%llu", ch,
                          c->seq);
    }
    free(c);
}


/* R, D or E (after the W line, if any). */
static void
bus_route(const char *data, size_t len)
{
    const char *nl = memchr(data, '\n', len);
    ember_stanza_t *st;
    ember_session_t *s;
    char full[3072];
    size_t flen;

    if (nl == NULL || (data[0] != 'R' && data[0] != 'D' && data[0] != 'E') ||
        (st = ember__stanza_parse(nl + 1, len - (size_t) (nl + 1 - data)))
            == NULL) {
        ember__log(EMBER_LOG_WARN, LOG, "dropped a malformed message of "
                   "%zu bytes on %s", len, cl.ch_bus);
        return;
    }
    if (strcmp(ember__stanza_name(st), "presence") == 0)
        note_presence(st);
    if (data[0] == 'R') {
        ember__route_from_node(st, 0);
        return;
    }
    flen = (size_t) (nl - data - 1);
    if (flen >= sizeof(full))
        flen = sizeof(full) - 1;
    memcpy(full, data + 1, flen);
    full[flen] = '\0';
    /* Gone meanwhile: a message is routed as if that session had not
     * been (the node that handed it over routed it already), other
     * stanzas by the rules for a missing resource; a copy goes nowhere. */
    if ((s = ember__session_by_full(full)) == NULL) {
        if (data[0] == 'E')
            ember__stanza_free(st);
        else if (strcmp(ember__stanza_name(st), "message") == 0)
            ember__route_undelivered(st);
        else
            ember__route_from_node(st, 1);
        return;
    }
    ember__session_deliver(s, st);
    ember__stanza_free(st);
}


/* "K<cond> <jid>": an admin or the accounts on another node close jid's
 * sessions here (a kick, a deleted or locked account). */
static void
close_asked(const char *data, size_t len)
{
    char jid[3072];
    const char *sp = memchr(data, ' ', len);
    size_t jlen;

    if (sp == NULL || (jlen = len - (size_t) (sp + 1 - data)) == 0 ||
        jlen >= sizeof(jid))
        return;
    memcpy(jid, sp + 1, jlen);
    jid[jlen] = '\0';
    ember__sessions_close_here(jid, (ember_stream_cond_t) atoi(data + 1));
}


/* A message on our channel: a stanza from another node, a node's
 * confirmation of one we handed it, or a request to close sessions. */
static void
bus_message(const char *data, size_t len)
{
    const char *nl, *sp;
    confirm_t *c;
    ember_hold_ctx_t saved;
    size_t nlen;

    switch (len > 0 ? data[0] : '\0') {
    case 'A':
        fwd_confirmed(data, len);
        return;
    case 'K':
        close_asked(data, len);
        return;
    case 'G':
        resume_failed_heard(data, len);
        return;
    case 'C':
        command_asked(data, len);
        return;
    case 'c':
        command_answered(data, len);
        return;
    case 'W':
        break;
    default:
        bus_route(data, len);
        return;
    }
    if ((nl = memchr(data, '\n', len)) == NULL ||
        (sp = memchr(data, ' ', (size_t) (nl - data))) == NULL ||
        sp + 1 == nl) {
        ember__log(EMBER_LOG_WARN, LOG, "dropped a malformed message of "
                   "%zu bytes on %s", len, cl.ch_bus);
        return;
    }
    nlen = (size_t) (nl - sp - 1);
    if ((c = malloc(sizeof(*c) + nlen + 1)) == NULL) {
        bus_route(nl + 1, len - (size_t) (nl + 1 - data));
        return;
    }
    c->seq = strtoull(data + 1, NULL, 10);
    memcpy(c->node, sp + 1, nlen);
    c->node[nlen] = '\0';
    if (ember__hold_group_begin(send_confirmation, c, &saved) < 0) {
        bus_route(nl + 1, len - (size_t) (nl + 1 - data));
        send_confirmation(c);
        return;
    }
    bus_route(nl + 1, len - (size_t) (nl + 1 - data));
    ember__hold_group_end(&saved);
}


/* ---- publishing this node's sessions ---- */

static void
publish_session(ember_session_t *s, int bound)
{
    const ember_jid_t *j = ember__session_jid(s);
    const char *marks;
    int available, prio;
    char val[320];

    if (!cl.sub_up || cl.cmd == NULL || j == NULL)
        return;
    if (bound) {
        available = ember__session_available(s, &prio);
        marks = ember__session_marks(s);
        snprintf(val, sizeof(val), "%d %d %s", available, prio, marks);
        redisAsyncCommand(cl.cmd, NULL, NULL, "HSET %s %s %s",
                          cl.key_sessions, j->full, val);
        redisAsyncCommand(cl.cmd, NULL, NULL, "PUBLISH " CH_REGISTRY
                          " +%s\t%d\t%d\t%s\t%s", cl.node, available, prio,
                          marks, j->full);
    } else {
        redisAsyncCommand(cl.cmd, NULL, NULL, "HDEL %s %s", cl.key_sessions,
                          j->full);
        redisAsyncCommand(cl.cmd, NULL, NULL, "PUBLISH " CH_REGISTRY
                          " -%s\t%s", cl.node, j->full);
    }
}


static void
on_session(ember_session_t *s, int bound)
{
    publish_session(s, bound);
}


static void
republish_one(ember_session_t *s, void *ud)
{
    publish_session(s, 1);
}


/* After a (re)connection or a lost lease: Redis may have forgotten us. */
static void
republish(void)
{
    redisAsyncCommand(cl.cmd, NULL, NULL, "SET %s %s PX %d", cl.key_lease,
                      cl.incarnation, cl.lease_ms);
    redisAsyncCommand(cl.cmd, NULL, NULL, "SADD " KEY_NODES " %s", cl.node);
    redisAsyncCommand(cl.cmd, NULL, NULL, "DEL %s", cl.key_sessions);
    ember__host_sessions(NULL, republish_one, NULL);
    redisAsyncCommand(cl.cmd, NULL, NULL, "PUBLISH " CH_REGISTRY " *%s",
                      cl.node);
    reclaim_own();
}


/* ---- loading the mirror ---- */

static void
on_hgetall(redisAsyncContext *ac, void *reply, void *ud)
{
    char *name = ud;
    redisReply *r = reply;
    cnode_t *n;
    size_t i;
    int a, p, at;

    if (r != NULL && r->type == REDIS_REPLY_ARRAY && !cl.stopping &&
        cl.cmd_up && (n = node_get(name, 1)) != NULL) {
        node_clear(n, 0);
        n->unreachable = 0;
        for (i = 0; i + 1 < r->elements; i += 2)
            if (r->element[i]->type == REDIS_REPLY_STRING &&
                r->element[i + 1]->type == REDIS_REPLY_STRING &&
                sscanf(r->element[i + 1]->str, "%d %d %n", &a, &p, &at) ==
                    2)
                rsess_put(name, r->element[i]->str, a != 0, p,
                          r->element[i + 1]->str + at);
    }
    free(name);
}


static void
load_node(const char *name)
{
    char key[128];
    char *copy;

    if (strcmp(name, cl.node) == 0 || (copy = strdup(name)) == NULL)
        return;
    snprintf(key, sizeof(key), KEY_SESSIONS, name);
    if (redisAsyncCommand(cl.cmd, on_hgetall, copy, "HGETALL %s", key) !=
        REDIS_OK)
        free(copy);
}


/* A node whose lease ran out: its sessions are gone everywhere.  Every
 * node that notices does the same, which is harmless. */
static void
node_dead(const char *name)
{
    cnode_t *n = node_get(name, 0);
    char key[128];

    ember__log(EMBER_LOG_WARN, LOG, "node %s: lease expired, its %zu "
               "session(s) removed", name, n != NULL ? n->count : 0);
    node_forget(name, 1);
    snprintf(key, sizeof(key), KEY_SESSIONS, name);
    redisAsyncCommand(cl.cmd, NULL, NULL, "DEL %s", key);
    redisAsyncCommand(cl.cmd, NULL, NULL, "SREM " KEY_NODES " %s", name);
    release_owned(name);
    redisAsyncCommand(cl.cmd, NULL, NULL, "PUBLISH " CH_REGISTRY " !%s",
                      name);
}


static void
on_exists(redisAsyncContext *ac, void *reply, void *ud)
{
    char *name = ud;
    redisReply *r = reply;

    if (r != NULL && r->type == REDIS_REPLY_INTEGER && r->integer == 0 &&
        !cl.stopping && cl.cmd_up)
        node_dead(name);
    free(name);
}


/* Every node's lease, and the nodes to load the first time. */
static void
on_members(redisAsyncContext *ac, void *reply, void *ud)
{
    redisReply *r = reply;
    char key[128], *copy;
    size_t i;
    int first = ud != NULL;

    if (r == NULL || r->type != REDIS_REPLY_ARRAY || cl.stopping)
        return;
    for (i = 0; i < r->elements; i++) {
        if (r->element[i]->type != REDIS_REPLY_STRING ||
            strcmp(r->element[i]->str, cl.node) == 0)
            continue;
        if (first) {
            load_node(r->element[i]->str);
            continue;
        }
        if ((copy = strdup(r->element[i]->str)) == NULL)
            continue;
        snprintf(key, sizeof(key), KEY_LEASE, copy);
        if (redisAsyncCommand(cl.cmd, on_exists, copy, "EXISTS %s", key) !=
            REDIS_OK)
            free(copy);
    }
    if (first) {
        cl.ready = 1;
        ember__log(EMBER_LOG_INFO, LOG, "node %s joined the cluster (Redis "
                   "%s:%d)", cl.node, cl.host, cl.port);
    }
}


/* SET XX answers nil when our lease had expired meanwhile. */
static void
on_lease(redisAsyncContext *ac, void *reply, void *ud)
{
    redisReply *r = reply;

    if (r != NULL && r->type == REDIS_REPLY_NIL && !cl.stopping &&
        cl.cmd_up) {
        ember__log(EMBER_LOG_WARN, LOG, "node %s: our lease had expired "
                   "(a pause or Redis restarted): publishing our sessions "
                   "again", cl.node);
        republish();
    }
}


static void
on_tick(uv_timer_t *t)
{
    if (!cl.ready)
        return;
    redisAsyncCommand(cl.cmd, on_lease, NULL, "SET %s %s PX %d XX",
                      cl.key_lease, cl.incarnation, cl.lease_ms);
    redisAsyncCommand(cl.cmd, on_members, NULL, "SMEMBERS " KEY_NODES);
}


/* ---- the subscription ---- */

static void
registry_message(const char *m)
{
    char node[80], marks[256];
    const char *tab = strchr(m + 1, '\t');
    const char *p, *full;
    size_t len;
    int a, prio;

    len = tab != NULL ? (size_t) (tab - m - 1) : strlen(m + 1);
    if (len == 0 || len >= sizeof(node))
        return;
    memcpy(node, m + 1, len);
    node[len] = '\0';
    if (strcmp(node, cl.node) == 0)
        return;
    switch (m[0]) {
    case '+':
        /* +node a prio marks full, by tabs */
        if (tab != NULL && sscanf(tab + 1, "%d\t%d", &a, &prio) == 2 &&
            (p = strchr(tab + 1, '\t')) != NULL &&
            (p = strchr(p + 1, '\t')) != NULL &&
            (full = strchr(p + 1, '\t')) != NULL &&
            (size_t) (full - p - 1) < sizeof(marks)) {
            memcpy(marks, p + 1, (size_t) (full - p - 1));
            marks[full - p - 1] = '\0';
            rsess_put(node, full + 1, a != 0, prio, marks);
        }
        break;
    case '-':
        if (tab != NULL)
            rsess_drop(node, tab + 1);
        break;
    case '*':
        load_node(node);
        break;
    case '!':
        node_forget(node, 1);
        break;
    case 'N':
        if (tab != NULL)
            notice_heard(tab + 1);
        break;
    }
}


static void
on_sub(redisAsyncContext *ac, void *reply, void *ud)
{
    redisReply *r = reply, *kind, *ch, *msg;

    if (r != NULL && r->type == REDIS_REPLY_ERROR)
        ember__log(EMBER_LOG_DEBUG, LOG, "subscriber got %s", r->str);
    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements < 3 ||
        cl.stopping)
        return;
    kind = r->element[0];
    ch = r->element[1];
    msg = r->element[2];
    if (kind->type != REDIS_REPLY_STRING || ch->type != REDIS_REPLY_STRING)
        return;
    if (strcmp(kind->str, "subscribe") == 0)
        ember__log(EMBER_LOG_DEBUG, LOG, "subscribed to %s (%lld)", ch->str,
                   msg->type == REDIS_REPLY_INTEGER ? msg->integer : -1LL);
    if (strcmp(kind->str, "subscribe") == 0) {
        /* Both channels: changes from now on are seen, so load. */
        if (msg->type == REDIS_REPLY_INTEGER && msg->integer == 2 &&
            !cl.sub_up) {
            cl.sub_up = 1;
            cl.auth_refused = 0;
            attempt_done();
            cl.backoff = 0;
            republish();
            redisAsyncCommand(cl.cmd, on_members, &cl, "SMEMBERS "
                              KEY_NODES);
        }
        return;
    }
    if (strcmp(kind->str, "message") != 0 || msg->type != REDIS_REPLY_STRING)
        return;
    if (strcmp(ch->str, cl.ch_bus) == 0)
        bus_message(msg->str, msg->len);
    else
        registry_message(msg->str);
}


/* ---- the connections ---- */

static void lost(const redisAsyncContext *ac, const char *why);


/* Both connections up: the attempt's deadline is off. */
static void
attempt_done(void)
{
    if (cl.cmd_up && cl.sub_up)
        uv_timer_stop(&cl.retry);
}


/* Time to connect, or an attempt that did not finish in time. */
static void
retry_cb(uv_timer_t *t)
{
    redisAsyncContext *c;

    if (cl.stopping)
        return;
    if ((c = cl.cmd != NULL ? cl.cmd : cl.sub) == NULL) {
        connect_redis();
        return;
    }
    /* lost() frees the other connection and sets the next try. */
    lost(c, "no answer in time");
    redisAsyncFree(c);
}


/* Either connection lost: drop both and the mirror, serve local users
 * alone, try again later. */
static void
lost(const redisAsyncContext *ac, const char *why)
{
    redisAsyncContext *other;
    int was = cl.ready;

    if (ac == cl.cmd) {
        cl.cmd = NULL;
        other = cl.sub;
        cl.sub = NULL;
    } else if (ac == cl.sub) {
        cl.sub = NULL;
        other = cl.cmd;
        cl.cmd = NULL;
    } else {
        return;
    }
    cl.cmd_up = cl.sub_up = cl.ready = 0;
    ember__log(EMBER_LOG_DEBUG, LOG, "Redis connections closed (%s)", why);
    if (other != NULL)
        redisAsyncFree(other);
    fwd_fail_all();
    cmds_fail(NULL, EMBER_EIO, "the connection to Redis was lost");
    mirror_clear();
    owners_forget(NULL);
    if (cl.stopping)
        return;
    if (was)
        ember__log(EMBER_LOG_ERROR, LOG, "lost Redis at %s:%d (%s): serving "
                   "this node's users only until it is back", cl.host,
                   cl.port, why);
    cl.backoff = cl.backoff == 0 ? BACKOFF_MIN_MS
                 : cl.backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS
                 : cl.backoff * 2;
    if (!was && cl.backoff == BACKOFF_MIN_MS)
        ember__log(EMBER_LOG_ERROR, LOG, "cannot reach Redis at %s:%d (%s):"
                   " retrying", cl.host, cl.port, why);
    uv_timer_start(&cl.retry, retry_cb, cl.backoff, 0);
}


static void
on_connect(const redisAsyncContext *ac, int status)
{
    ember__log(EMBER_LOG_DEBUG, LOG, "%s connection to Redis: %s",
               ac == cl.cmd ? "command" : ac == cl.sub ? "subscriber" : "old",
               status == REDIS_OK ? "up" : ac->errstr);
    if (status != REDIS_OK) {
        lost(ac, ac->errstr);
        return;
    }
    if (ac == cl.cmd) {
        cl.cmd_up = 1;
        attempt_done();
    }
}


static void
on_disconnect(const redisAsyncContext *ac, int status)
{
    lost(ac, status == REDIS_OK ? "closed" : ac->errstr);
}


/* A refused password: the connection is closed, and tried again later. */
static void
on_auth(redisAsyncContext *ac, void *reply, void *ud)
{
    redisReply *r = reply;

    if (r == NULL || r->type != REDIS_REPLY_ERROR)
        return;
    /* Once until it is accepted: retries come every few seconds. */
    if (!cl.auth_refused)
        ember__log(EMBER_LOG_ERROR, LOG, "Redis at %s:%d refused the "
                   "cluster's password (user %s): %s; retrying", cl.host,
                   cl.port, cl.user != NULL ? cl.user : "default", r->str);
    cl.auth_refused = 1;
    redisAsyncDisconnect(ac);
}


static redisAsyncContext *
open_one(void)
{
    redisAsyncContext *ac = redisAsyncConnect(cl.host, cl.port);

    if (ac == NULL)
        return NULL;
    if (ac->err != 0 || redisLibuvAttach(ac, ember__loop()) != REDIS_OK) {
        redisAsyncFree(ac);
        return NULL;
    }
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    /* First on the connection: what follows runs authenticated. */
    if (cl.password != NULL && cl.user != NULL)
        redisAsyncCommand(ac, on_auth, NULL, "AUTH %s %s", cl.user,
                          cl.password);
    else if (cl.password != NULL)
        redisAsyncCommand(ac, on_auth, NULL, "AUTH %s", cl.password);
    return ac;
}


static void
connect_redis(void)
{
    ember__log(EMBER_LOG_DEBUG, LOG, "connecting to Redis at %s:%d",
               cl.host, cl.port);
    if ((cl.cmd = open_one()) == NULL || (cl.sub = open_one()) == NULL) {
        if (cl.cmd != NULL) {
            redisAsyncContext *c = cl.cmd;

            cl.cmd = NULL;
            redisAsyncFree(c);
        }
        cl.backoff = BACKOFF_MAX_MS;
        uv_timer_start(&cl.retry, retry_cb, cl.backoff, 0);
        return;
    }
    redisAsyncCommand(cl.sub, on_sub, NULL, "SUBSCRIBE " CH_REGISTRY " %s",
                      cl.ch_bus);
    uv_timer_start(&cl.retry, retry_cb, CONNECT_TIMEOUT_MS, 0);
}


/* ---- start, stop, what admins see ---- */

int
ember__cluster_start(const ember_config_t *cfg)
{
    const ember_cluster_conf_t *c = &cfg->cluster;
    unsigned long long r;

    if (c->redis_host == NULL || cl.on)
        return 0;
    cl.on = 1;
    cl.port = c->redis_port;
    if ((cl.host = strdup(c->redis_host)) == NULL ||
        (cl.node = strdup(c->node)) == NULL ||
        (c->redis_user != NULL && (cl.user = strdup(c->redis_user)) == NULL) ||
        (c->redis_password != NULL &&
         (cl.password = strdup(c->redis_password)) == NULL))
        return EMBER_ENOMEM;
    cl.lease_ms = c->lease_ms;
    r = (unsigned long long) ember__now_us() ^
        ((unsigned long long) getpid() << 32);
    snprintf(cl.incarnation, sizeof(cl.incarnation), "%llx", r);
    snprintf(cl.ch_bus, sizeof(cl.ch_bus), CH_BUS, cl.node);
    snprintf(cl.key_lease, sizeof(cl.key_lease), KEY_LEASE, cl.node);
    snprintf(cl.key_sessions, sizeof(cl.key_sessions), KEY_SESSIONS,
             cl.node);
    snprintf(cl.key_owned, sizeof(cl.key_owned), KEY_OWNED, cl.node);
    uv_timer_init(ember__loop(), &cl.tick);
    uv_timer_init(ember__loop(), &cl.retry);
    cl.timers_on = 1;
    uv_timer_start(&cl.tick, on_tick, (uint64_t) cl.lease_ms / 3,
                   (uint64_t) cl.lease_ms / 3);
    ember__sessions_observe(on_session);
    ember__router_set_cluster(&route_ops);
    connect_redis();
    return 0;
}


void
ember__cluster_stop(void)
{
    redisAsyncContext *c;

    if (!cl.on || cl.stopping)
        return;
    ember__router_set_cluster(NULL);
    ember__sessions_observe(NULL);
    fwd_fail_all();
    cmds_fail(NULL, EMBER_ECANCELED, "this node is stopping");
    if (cl.ready) {
        redisAsyncCommand(cl.cmd, NULL, NULL, "DEL %s %s", cl.key_sessions,
                          cl.key_lease);
        redisAsyncCommand(cl.cmd, NULL, NULL, "SREM " KEY_NODES " %s",
                          cl.node);
        release_owned(cl.node);
        redisAsyncCommand(cl.cmd, NULL, NULL, "PUBLISH " CH_REGISTRY " !%s",
                          cl.node);
    }
    cl.stopping = 1;
    if (cl.timers_on) {
        uv_timer_stop(&cl.tick);
        uv_timer_stop(&cl.retry);
    }
    if ((c = cl.sub) != NULL) {
        cl.sub = NULL;
        redisAsyncFree(c);
    }
    /* Sends what is queued, then closes (and on_disconnect forgets it);
     * a connection not made yet ends here. */
    if (cl.cmd != NULL && cl.cmd_up) {
        redisAsyncDisconnect(cl.cmd);
    } else if ((c = cl.cmd) != NULL) {
        cl.cmd = NULL;
        redisAsyncFree(c);
    }
}


void
ember__cluster_cleanup(void)
{
    redisAsyncContext *c;

    if (!cl.on)
        return;
    cl.stopping = 1;
    /* First: freeing the connections answers pending claims, whose
     * stanzas must not be routed any more. */
    owners_clear();
    if ((c = cl.sub) != NULL) {
        cl.sub = NULL;
        redisAsyncFree(c);
    }
    if ((c = cl.cmd) != NULL) {
        cl.cmd = NULL;
        redisAsyncFree(c);
    }
    if (cl.timers_on) {
        uv_close((uv_handle_t *) &cl.tick, NULL);
        uv_close((uv_handle_t *) &cl.retry, NULL);
        cl.timers_on = 0;
    }
    while (cl.waiting != NULL)
        fwd_free(cl.waiting);
    mirror_clear();
    ember__hmap_free(&cl.by_full);
    ember__hmap_free(&cl.by_bare);
    ember__buf_free(&cl.out);
    free(cl.host);
    free(cl.node);
    free(cl.user);
    if (cl.password != NULL)
        explicit_bzero(cl.password, strlen(cl.password));
    free(cl.password);
    cl.host = cl.node = cl.user = cl.password = NULL;
    /* The timers are closing: their memory stays as it is. */
    cl.on = 0;
}


json_t *
ember__cluster_describe(void)
{
    json_t *nodes, *o;
    cnode_t *n;
    size_t bound;

    if (!cl.on)
        return NULL;
    nodes = json_array();
    ember__sessions_count(&bound);
    json_array_append_new(nodes, json_pack("{s:s, s:I, s:b}", "name",
                                           cl.node, "sessions",
                                           (json_int_t) bound, "self", 1));
    for (n = cl.nodes; n != NULL; n = n->next)
        json_array_append_new(nodes, json_pack("{s:s, s:I, s:b}", "name",
                                               n->name, "sessions",
                                               (json_int_t) n->count,
                                               "self", 0));
    o = json_pack("{s:s, s:s, s:i, s:b, s:o}", "node", cl.node,
                  "redis_host", cl.host, "redis_port", cl.port,
                  "connected", cl.ready, "nodes", nodes);
    return o;
}


json_t *
ember__cluster_sessions(const char *host)
{
    json_t *arr = json_array(), *o;
    const char *at;
    cnode_t *n;
    rsess_t *r;

    for (n = cl.nodes; n != NULL; n = n->next)
        for (r = n->sessions; r != NULL; r = r->node_next) {
            at = strchr(r->bare, '@');
            if (host != NULL &&
                strcmp(at != NULL ? at + 1 : r->bare, host) != 0)
                continue;
            o = json_pack("{s:s, s:s, s:b, s:i}", "jid", r->full, "node",
                          n->name, "available", r->available, "priority",
                          r->priority);
            if (o != NULL) {
                json_object_set_new(o, "marks", ember__marks_json(r->marks));
                json_array_append_new(arr, o);
            }
        }
    return arr;
}


static int
c_count(const char *bare)
{
    rsess_t *r;
    int n = 0;

    if (!cl.ready)
        return 0;
    for (r = ember__hmap_get(&cl.by_bare, bare); r != NULL; r = r->user_next)
        n += !r->node->unreachable;
    return n;
}
