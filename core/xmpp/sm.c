/* core/xmpp/sm.c -- XEP-0198 stream management: acknowledgements both
 * ways, and sessions that outlive their connection.  A resumable session
 * whose connection drops keeps its place in the routing tables and its
 * stanzas for <limits resume-timeout>; a client that authenticates on a
 * new connection and sends <resume/> gets the old session back, and the
 * stanzas it had not acknowledged again.  When nobody resumes, the
 * messages it had not acknowledged are routed again as if it had never
 * been there: to the account's other resources, or offline storage. */
#include <gnutls/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "base/hmap.h"
#include "base/log.h"
#include "base/process.h"
#include "xmpp/router.h"
#include "xmpp/session_int.h"
#include "xmpp/stanza.h"
#include "xmpp/xmlstream.h"

#define NS_SM "urn:xmpp:sm:3"
#define NS_STANZAS "urn:ietf:params:xml:ns:xmpp-stanzas"
/* We ask the client for an acknowledgement with the stanza that makes
 * this many since the last request (fewer when <limits max-unacked> is
 * small), or with the first stanza after a sweep found some not asked
 * for, or alone on the sweep after that when nothing else went out: each
 * <r/> costs the client's <a/>, a read and a parse, and one of its own a
 * write.  Unacknowledged stanzas are kept either way. */
#define ASK_EVERY 32
#define ASK_SWEEP_MS 1000
/* <r/>s of the client waiting for what they cover to be stored; past
 * this, the oldest is answered at once with what is stored so far. */
#define A_WAITING_MAX 4

/* A stanza sent and not yet acknowledged, kept as written: resent as it
 * is, parsed again only when a session that was never resumed hands its
 * messages back to the router. */
typedef struct sm_item_s {
    struct sm_item_s *next;
    size_t len;
    char xml[];
} sm_item_t;

/* The holds on a stanza another node handed us (ember__hold_group_begin):
 * done runs when the last is released. */
struct ember_hold_group_s {
    unsigned count;
    void (*done)(void *ud);
    void *ud;
};

/* A stanza of the client whose effects are not all stored yet: one for
 * every hold taken on it, counted, so that neither taking nor releasing
 * looks the session up.  A hold of a group is one hold, not counted. */
struct ember_hold_s {
    struct ember_hold_s *next; /* in its session's list, by seq */
    ember_sm_t *sm;            /* NULL once the session is gone */
    ember_hold_group_t *group; /* not NULL: one of the group's holds */
    uint32_t seq;
    unsigned count;
};

struct ember_sm_s {
    ember_session_t *s;
    char id[33];               /* resumption id, "" when not resumable */
    unsigned r_pending : 1;    /* an <r/> waits for its <a/> */
    unsigned ask_listed : 1;   /* in `to_ask` */
    unsigned ask_due : 1;      /* a sweep found stanzas not asked for */
    uint32_t unasked;          /* sent since our last <r/> */
    unsigned replaying : 1;    /* resending after a resume: not queued */
    unsigned given_up : 1;     /* resumed elsewhere: no hibernation */
    uint32_t in;               /* stanzas received from the client */
    ember_hold_t *unsettled;   /* by seq, oldest first */
    ember_hold_t *newest;      /* its last entry */
    uint32_t a_wanted[A_WAITING_MAX]; /* h each waiting <r/> needs */
    unsigned a_waiting;        /* how many, oldest first */
    uint32_t acked;            /* of ours, acknowledged by the client */
    /* Stanzas we sent while the client's <enable/> was on its way: a
     * client that counts from its <enable/> (as the XEP says) counted
     * them, we did not.  Its h is that much ahead, once. */
    uint32_t crossed, offset;
    sm_item_t *head, **tail;   /* sent, not acknowledged, oldest first */
    size_t queued;
    uv_timer_t *wait;          /* while hibernating, or to free */
};

/* Resumable sessions by resumption id. */
static ember_hmap_t by_id;
/* Sessions owed an <r/> at the next sweep. */
static ember_session_ref_t *to_ask;
static size_t to_ask_len, to_ask_cap;
static uv_timer_t ask_timer;
static int ask_timer_on;
/* The client stanza being handled (routing, and the events it fires):
 * the session routing it, or the holds on it (taken, or entered). */
static ember_sm_t *cur_sm;
static uint32_t cur_seq;
static ember_hold_t *cur_hold;
static ember_hold_group_t *cur_group;


/* An element of urn:xmpp:sm:3 written as it is: no tree, and not a
 * stanza (not counted, not kept). */
static void
write_nonza(ember_session_t *s, const char *xml, size_t len)
{
    if (s->t != NULL)
        s->tops->send(s->t, xml, len);
}


/* <failed/> with a stanza error condition. */
static void
write_failed(ember_session_t *s, const char *condition)
{
    ember_stanza_t *el = ember__stanza_new("failed", NS_SM);

    if (el == NULL)
        return;
    ember__stanza_add_child(el, condition, NS_STANZAS);
    ember__session_write_stanza(s, el);
    ember__stanza_free(el);
}


/* The h a client may be told: every stanza up to it handled, and what
 * it caused that must be stored, stored.  The stanza being routed is not
 * handled yet: a hold released before its routing ends may not be its
 * last. */
static uint32_t
settled(const ember_sm_t *sm)
{
    uint32_t h = sm->unsettled != NULL ? sm->unsettled->seq - 1 : sm->in;

    if (sm == cur_sm && h >= cur_seq)
        h = cur_seq - 1;
    return h;
}


static void
write_a(ember_session_t *s)
{
    char a[64];
    int n = snprintf(a, sizeof(a), "<a xmlns='" NS_SM "' h='%u'/>",
                     settled(s->sm));

    write_nonza(s, a, (size_t) n);
}


/* Every waiting <r/> whose stanzas are settled gets its <a/> (XEP-0198
 * section 4: every <r/> gets one), or the oldest one when `all`.  Answers
 * written in one loop turn leave in one write. */
static void
answer_settled(ember_session_t *s, int all)
{
    ember_sm_t *sm = s->sm;
    uint32_t h = settled(sm);
    unsigned n = 0;

    while (n < sm->a_waiting && (h >= sm->a_wanted[n] || (all && n == 0))) {
        write_a(s);
        n++;
    }
    if (n == 0)
        return;
    sm->a_waiting -= n;
    memmove(sm->a_wanted, sm->a_wanted + n,
            sm->a_waiting * sizeof(sm->a_wanted[0]));
}


/* An <r/>: answered once everything received before it is settled. */
static void
answer_r(ember_session_t *s)
{
    ember_sm_t *sm = s->sm;

    if (sm->a_waiting == A_WAITING_MAX)
        answer_settled(s, 1);
    sm->a_wanted[sm->a_waiting++] = sm->in;
    answer_settled(s, 0);
}


static void
request_ack(ember_session_t *s)
{
    static const char r[] = "<r xmlns='" NS_SM "'/>";

    if (s->t == NULL || s->sm->r_pending)
        return;
    s->sm->r_pending = 1;
    s->sm->unasked = 0;
    s->sm->ask_due = 0;
    write_nonza(s, r, sizeof(r) - 1);
}


static void ask_soon(ember_session_t *s);


/* Stanzas not asked for since the last sweep: asked for with the next
 * stanza, or now when none went out since the sweep before. */
static void
ask_sweep(uv_timer_t *t)
{
    size_t i, n = to_ask_len;
    ember_session_t *s;
    ember_sm_t *sm;

    (void) t;
    /* Sessions listed again below land at indices already walked. */
    to_ask_len = 0;
    for (i = 0; i < n; i++) {
        if ((s = ember__session_get(to_ask[i])) == NULL ||
            (sm = s->sm) == NULL)
            continue;
        sm->ask_listed = 0;
        if (sm->queued == 0 || sm->unasked == 0 || sm->r_pending)
            continue;
        if (sm->ask_due) {
            request_ack(s);
        } else {
            sm->ask_due = 1;
            ask_soon(s);
        }
    }
}


/* Ask later; when the list cannot grow, ask now. */
static void
ask_soon(ember_session_t *s)
{
    ember_session_ref_t *grown;
    size_t cap;

    if (s->sm->ask_listed)
        return;
    if (to_ask_len == to_ask_cap) {
        cap = to_ask_cap != 0 ? 2 * to_ask_cap : 64;
        if ((grown = realloc(to_ask, cap * sizeof(*grown))) == NULL) {
            request_ack(s);
            return;
        }
        to_ask = grown;
        to_ask_cap = cap;
    }
    if (!ask_timer_on) {
        uv_timer_init(ember__loop(), &ask_timer);
        uv_unref((uv_handle_t *) &ask_timer);
        ask_timer_on = 1;
    }
    if (to_ask_len == 0)
        uv_timer_start(&ask_timer, ask_sweep, ASK_SWEEP_MS, 0);
    to_ask[to_ask_len++] = ember__session_ref(s);
    s->sm->ask_listed = 1;
}


/* The client says it handled h of ours: forget them.  -1 when it claims
 * more than were sent. */
static int
ack(ember_sm_t *sm, uint32_t h)
{
    uint32_t n = h - sm->offset - sm->acked;
    sm_item_t *it;

    if (n > sm->queued && n - sm->queued <= sm->crossed) {
        sm->offset += n - (uint32_t) sm->queued;
        n = (uint32_t) sm->queued;
    }
    sm->crossed = 0;
    if (n > sm->queued)
        return -1;
    while (n-- > 0 && (it = sm->head) != NULL) {
        sm->head = it->next;
        if (sm->head == NULL)
            sm->tail = &sm->head;
        free(it);
        sm->queued--;
        sm->acked++;
    }
    return 0;
}


static int
parse_h(const ember_stanza_t *el, uint32_t *h)
{
    const char *v = ember__stanza_attr(el, "h");
    char *end;
    unsigned long x;

    if (v == NULL || *v < '0' || *v > '9')
        return -1;
    x = strtoul(v, &end, 10);
    if (*end != '\0' || x > 0xffffffffUL)
        return -1;
    *h = (uint32_t) x;
    return 0;
}


/* ---- the session's end ---- */

static void
timer_freed(uv_handle_t *h)
{
    free(h);
}


static void reroute_unacked(const char *bare, sm_item_t *items);

/* The session ends: what its client did not acknowledge is delivered as
 * if it had not been there (XEP-0198 section 4: like a stanza sent to an
 * unavailable resource), whatever ended it: a clean close, a kick, a lost
 * connection without resumption. */
void
ember__sm_free(ember_session_t *s)
{
    ember_sm_t *sm = s->sm;
    sm_item_t *unacked;

    if (sm == NULL)
        return;
    if (sm->id[0] != '\0' && ember__hmap_get(&by_id, sm->id) == s)
        ember__hmap_del(&by_id, sm->id);
    unacked = sm->head;
    sm->head = NULL;
    sm->tail = &sm->head;
    sm->queued = 0;
    /* Holds outlive the session: their last release frees them. */
    while (sm->unsettled != NULL) {
        ember_hold_t *h = sm->unsettled;

        sm->unsettled = h->next;
        h->next = NULL;
        h->sm = NULL;
    }
    sm->newest = NULL;
    if (cur_sm == sm)
        cur_sm = NULL;
    if (sm->wait != NULL)
        uv_close((uv_handle_t *) sm->wait, timer_freed);
    free(sm);
    s->sm = NULL;
    /* <enable/> is taken only on a bound stream: s->jid is there. */
    reroute_unacked(s->jid->bare, unacked);
}


/* Messages the client never acknowledged, as if its session had not
 * existed (ember__route_undelivered).  Takes items. */
static void
reroute_unacked(const char *bare, sm_item_t *items)
{
    unsigned n = 0;
    sm_item_t *it;

    while ((it = items) != NULL) {
        ember_stanza_t *st = ember__stanza_parse(it->xml, it->len);

        items = it->next;
        free(it);
        if (st == NULL)
            ember__log(EMBER_LOG_WARN, "c2s", "%s: a kept stanza does not "
                       "parse again; not delivered again", bare);
        else
            n += ember__route_undelivered(st);
    }
    if (n > 0)
        ember__log(EMBER_LOG_INFO, "c2s", "%s: %u unacknowledged messages "
                   "delivered again", bare, n);
}


static void
hibernation_over(uv_timer_t *t)
{
    ember_session_t *s = t->data;

    ember__log(EMBER_LOG_INFO, "c2s", "%s: not resumed in time, ended",
               s->jid->full);
    ember__stream_finish(s);
}


/* ---- hooks from the stream ---- */

void
ember__sm_features(ember_session_t *s, ember_stanza_t *features)
{
    (void) s;
    ember__stanza_add_child(features, "sm", NS_SM);
}


void
ember__sm_count_in(ember_session_t *s)
{
    if (s->sm != NULL)
        s->sm->in++;
}


int
ember__sm_sent(ember_session_t *s, const ember_stanza_t *st,
               const ember_buf_t *wire)
{
    ember_sm_t *sm = s->sm;
    const ember_config_t *cfg = ember__config();
    size_t len;
    sm_item_t *it;

    if (sm == NULL || sm->replaying || !ember__stanza_is_stanza(st))
        return 0;
    len = ember__session_standalone(st, wire, NULL);
    if ((it = malloc(sizeof(*it) + len)) == NULL)
        return EMBER_ENOMEM;
    ember__session_standalone(st, wire, it->xml);
    it->len = len;
    it->next = NULL;
    *sm->tail = it;
    sm->tail = &it->next;
    sm->unasked++;
    if (++sm->queued > (size_t) cfg->limits.max_unacked)
        return EMBER_ELIMIT;
    return 0;
}


/* Well under <limits max-unacked>, so that a client that only answers
 * our <r/> is never cut off. */
static uint32_t
ask_every(void)
{
    const ember_config_t *cfg = ember__config();
    int n = cfg != NULL ? cfg->limits.max_unacked / 4 : ASK_EVERY;

    return n < 1 ? 1 : n > ASK_EVERY ? ASK_EVERY : (uint32_t) n;
}


void
ember__sm_after_send(ember_session_t *s)
{
    ember_sm_t *sm = s->sm;

    if (sm == NULL || sm->queued == 0 || sm->replaying || sm->r_pending)
        return;
    if (sm->ask_due || sm->unasked >= ask_every())
        request_ack(s);
    else
        ask_soon(s);
}


int
ember__sm_resumable(const ember_session_t *s)
{
    return s->sm != NULL && s->sm->id[0] != '\0' && s->state == ST_BOUND;
}


int
ember__sm_hibernate(ember_session_t *s)
{
    ember_sm_t *sm = s->sm;
    const ember_config_t *cfg = ember__config();

    if (!ember__sm_resumable(s) || s->hibernating || cfg == NULL ||
        cfg->limits.resume_timeout <= 0)
        return 0;
    if (sm->wait == NULL && (sm->wait = malloc(sizeof(*sm->wait))) != NULL) {
        uv_timer_init(ember__loop(), sm->wait);
        sm->wait->data = s;
    }
    if (sm->wait == NULL)
        return 0;
    s->t = NULL;
    s->hibernating = 1;
    sm->r_pending = 0;
    if (s->xml != NULL) {
        ember__xml_free(s->xml);
        s->xml = NULL;
    }
    uv_timer_start(sm->wait, hibernation_over, sm->given_up ? 0
                   : (uint64_t) cfg->limits.resume_timeout * 1000, 0);
    if (!sm->given_up)
        ember__log(EMBER_LOG_INFO, "c2s", "%s: connection lost, waiting %d "
                   "s for the client to resume (%zu stanzas kept)",
                   s->jid->full, cfg->limits.resume_timeout, sm->queued);
    return 1;
}


/* End a hibernating session now (shutdown, a kick): not from inside a
 * walk of the sessions, so after the current callbacks. */
void
ember__sm_end_hibernating(ember_session_t *s)
{
    if (s->sm != NULL && s->sm->wait != NULL)
        uv_timer_start(s->sm->wait, hibernation_over, 0, 0);
}


/* ---- what the client sends ---- */

static void
enable(ember_session_t *s, const ember_stanza_t *el)
{
    const ember_config_t *cfg = ember__config();
    const char *resume = ember__stanza_attr(el, "resume");
    ember_stanza_t *ok;
    char max[16];

    if (s->state != ST_BOUND || s->sm != NULL) {
        write_failed(s, "unexpected-request");
        return;
    }
    if ((s->sm = calloc(1, sizeof(*s->sm))) == NULL) {
        write_failed(s, "internal-server-error");
        return;
    }
    s->sm->s = s;
    s->sm->tail = &s->sm->head;
    s->sm->crossed = (uint32_t) s->stanzas_out - s->out_mark_prev;
    if ((ok = ember__stanza_new("enabled", NS_SM)) == NULL)
        return;
    if (resume != NULL && (strcmp(resume, "true") == 0 ||
                           strcmp(resume, "1") == 0) &&
        cfg->limits.resume_timeout > 0) {
        ember__nonce_hex(s->sm->id, 16);
        if (ember__hmap_put(&by_id, s->sm->id, s) < 0) {
            s->sm->id[0] = '\0';
        } else {
            snprintf(max, sizeof(max), "%d", cfg->limits.resume_timeout);
            ember__stanza_set_attr(ok, "id", s->sm->id);
            ember__stanza_set_attr(ok, "resume", "true");
            ember__stanza_set_attr(ok, "max", max);
        }
    }
    ember__session_write_stanza(s, ok);
    ember__stanza_free(ok);
}


/*
 * The client of a lost (or still open) session o authenticated again on
 * stream n: o takes n's transport and parser, n is left to be freed by
 * the stream feeding it.
 */
static void
take_over(ember_session_t *o, ember_session_t *n)
{
    const ember_config_t *cfg = ember__config();

    if (o->t != NULL) {
        if (o->tops->rebind != NULL)
            o->tops->rebind(o->t, NULL);
        o->tops->close(o->t);
        o->t = NULL;
    }
    if (o->xml != NULL)
        ember__xml_free(o->xml);
    if (o->sm->wait != NULL)
        uv_timer_stop(o->sm->wait);
    o->hibernating = 0;
    o->tops = n->tops;
    o->t = n->t;
    o->xml = n->xml;
    o->require_tls = n->require_tls;
    o->header_sent = n->header_sent;
    o->mechanism = n->mechanism;
    memcpy(o->id, n->id, sizeof(o->id));
    ember__xml_set_owner(o->xml, o);
    o->tops->rebind(o->t, o);
    o->tops->timeouts(o->t, 0, (uint64_t) cfg->limits.idle_timeout * 1000);
    n->t = NULL;
    n->xml = NULL;
    n->merged = 1;
}


static void
resume(ember_session_t *n, const ember_stanza_t *el)
{
    const char *previd = ember__stanza_attr(el, "previd");
    ember_session_t *o = previd != NULL ? ember__hmap_get(&by_id, previd)
                                        : NULL;
    ember_stanza_t *ok;
    sm_item_t *it;
    uint32_t h;
    char hs[16];

    if (n->state != ST_AUTHED || n->sm != NULL) {
        write_failed(n, "unexpected-request");
        return;
    }
    if (o == NULL || o->state != ST_BOUND || o->jid == NULL ||
        strcmp(o->jid->bare, n->jid->bare) != 0) {
        ember__log(EMBER_LOG_INFO, "c2s", "%s: %s asked to resume a session "
                   "that is not there", ember__session_ip(n), n->jid->bare);
        write_failed(n, "item-not-found");
        if (o == NULL && previd != NULL)
            ember__route_resume_failed(n->jid->bare, previd);
        return;
    }
    if (n->tops->rebind == NULL) {
        write_failed(n, "feature-not-implemented");
        return;
    }
    if (parse_h(el, &h) < 0 || ack(o->sm, h) < 0) {
        write_failed(n, "unexpected-request");
        return;
    }
    take_over(o, n);
    ember__log(EMBER_LOG_INFO, "c2s", "%s: %s resumed (%zu stanzas sent "
               "again)", ember__session_ip(o), o->jid->full, o->sm->queued);
    o->sm->replaying = 1;
    if ((ok = ember__stanza_new("resumed", NS_SM)) != NULL) {
        snprintf(hs, sizeof(hs), "%u", settled(o->sm));
        ember__stanza_set_attr(ok, "previd", o->sm->id);
        ember__stanza_set_attr(ok, "h", hs);
        ember__session_write_stanza(o, ok);
        ember__stanza_free(ok);
    }
    for (it = o->sm->head; it != NULL; it = it->next)
        ember__session_write_kept(o, it->xml, it->len);
    o->sm->replaying = 0;
    o->sm->r_pending = 0;
    ember__sm_after_send(o);
}


void
ember__sm_give_up(const char *bare, const char *previd)
{
    ember_session_t *o = ember__hmap_get(&by_id, previd);

    if (o == NULL || o->state != ST_BOUND || o->jid == NULL ||
        strcmp(o->jid->bare, bare) != 0)
        return;
    ember__log(EMBER_LOG_INFO, "c2s", "%s: its client could not resume it "
               "on another node: ended", o->jid->full);
    o->sm->given_up = 1;
    if (o->hibernating)
        ember__sm_end_hibernating(o);
    else if (o->t != NULL)
        o->tops->close(o->t);
}


int
ember__sm_nonza(ember_session_t *s, const ember_stanza_t *el)
{
    const char *name = ember__stanza_name(el);
    uint32_t h;

    if (strcmp(name, "enable") == 0) {
        enable(s, el);
    } else if (strcmp(name, "resume") == 0) {
        resume(s, el);
    } else if (s->sm == NULL) {
        return EMBER_ESTATE;
    } else if (strcmp(name, "r") == 0) {
        answer_r(s);
    } else if (strcmp(name, "a") == 0) {
        if (parse_h(el, &h) < 0)
            return EMBER_EPROTO;
        s->sm->r_pending = 0;
        if (ack(s->sm, h) < 0)
            return EMBER_ELIMIT;
        /* What went out while our <r/> waited is asked for in turn. */
        if (s->sm->unasked > 0 && s->sm->queued > 0)
            ask_soon(s);
    } else {
        return EMBER_EPROTO;
    }
    return 0;
}


/* ---- holds: acknowledged only once stored ---- */

void
ember__sm_routing(ember_session_t *s)
{
    cur_sm = s != NULL ? s->sm : NULL;
    cur_seq = cur_sm != NULL ? cur_sm->in : 0;
    cur_hold = NULL;
}


ember_hold_t *
ember__hold_take(void)
{
    ember_hold_t *h;

    if (cur_group != NULL) {
        if ((h = calloc(1, sizeof(*h))) == NULL)
            return NULL;
        h->group = cur_group;
        cur_group->count++;
        return h;
    }
    if (cur_hold != NULL) {
        cur_hold->count++;
        return cur_hold;
    }
    if (cur_sm == NULL || (h = calloc(1, sizeof(*h))) == NULL)
        return NULL;
    /* Only the stanza being routed gets a new entry: the newest. */
    h->sm = cur_sm;
    h->seq = cur_seq;
    h->count = 1;
    if (cur_sm->newest != NULL)
        cur_sm->newest->next = h;
    else
        cur_sm->unsettled = h;
    cur_sm->newest = h;
    cur_hold = h;
    return h;
}


static void
group_unref(ember_hold_group_t *g)
{
    if (--g->count == 0) {
        g->done(g->ud);
        free(g);
    }
}


void
ember__hold_release(ember_hold_t *h)
{
    ember_sm_t *sm;
    ember_hold_t **p, *prev = NULL;

    if (h == NULL)
        return;
    if (h->group != NULL) {
        group_unref(h->group);
        free(h);
        return;
    }
    if (--h->count > 0)
        return;
    if (cur_hold == h)
        cur_hold = NULL;
    if ((sm = h->sm) != NULL) {
        /* Stores commit in order: nearly always the oldest. */
        for (p = &sm->unsettled; *p != h; p = &(*p)->next)
            prev = *p;
        *p = h->next;
        if (sm->newest == h)
            sm->newest = prev;
    }
    free(h);
    if (sm != NULL && sm->a_waiting > 0)
        answer_settled(sm->s, 0);
}


/* A session may end inside a context entered during its routing: the
 * saved context names it by ref. */
static void
save_ctx(ember_hold_ctx_t *saved)
{
    saved->ref = cur_sm != NULL ? ember__session_ref(cur_sm->s) : 0;
    saved->seq = cur_seq;
    saved->hold = cur_sm == NULL ? cur_hold : NULL;
    saved->group = cur_group;
}


void
ember__hold_enter(const ember_hold_t *h, ember_hold_ctx_t *saved)
{
    save_ctx(saved);
    cur_sm = NULL;
    cur_seq = 0;
    cur_hold = h != NULL && h->group == NULL ? (ember_hold_t *) h : NULL;
    cur_group = h != NULL ? h->group : NULL;
}


void
ember__hold_leave(const ember_hold_ctx_t *saved)
{
    ember_session_t *s = ember__session_get(saved->ref);

    cur_sm = s != NULL ? s->sm : NULL;
    cur_seq = saved->seq;
    /* An entered hold is held by whoever entered it; the routed stanza's
     * may have been released meanwhile. */
    if (cur_sm == NULL)
        cur_hold = saved->hold;
    else if (cur_sm->newest != NULL && cur_sm->newest->seq == cur_seq)
        cur_hold = cur_sm->newest;
    else
        cur_hold = NULL;
    cur_group = saved->group;
}


int
ember__hold_group_begin(void (*done)(void *ud), void *ud,
                        ember_hold_ctx_t *saved)
{
    ember_hold_group_t *g = calloc(1, sizeof(*g));

    if (g == NULL)
        return EMBER_ENOMEM;
    /* The routing itself counts as one hold, released by _end. */
    g->count = 1;
    g->done = done;
    g->ud = ud;
    save_ctx(saved);
    cur_sm = NULL;
    cur_seq = 0;
    cur_hold = NULL;
    cur_group = g;
    return 0;
}


void
ember__hold_group_end(const ember_hold_ctx_t *saved)
{
    ember_hold_group_t *g = cur_group;

    ember__hold_leave(saved);
    if (g != NULL)
        group_unref(g);
}


void
ember__sm_cleanup(void)
{
    ember__hmap_free(&by_id);
    free(to_ask);
    to_ask = NULL;
    to_ask_len = to_ask_cap = 0;
    if (ask_timer_on) {
        uv_timer_stop(&ask_timer);
        uv_close((uv_handle_t *) &ask_timer, NULL);
        ask_timer_on = 0;
    }
}
