/* core/xmpp/sessions.c -- the registry of client sessions: every stream,
 * bound ones by full and bare JID, refs that outlive them, and what
 * modules keep per session. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/hmap.h"
#include "base/hooks.h"
#include "base/owner.h"
#include "base/process.h"
#include "xmpp/session_int.h"
#include "xmpp/stanza.h"

typedef struct slot_dtor_s {
    ember_module_t *m;
    void (*dtor)(void *);
    struct slot_dtor_s *next;
} slot_dtor_t;

static ember_session_t *sessions;
static size_t session_count, bound_count;
static uint64_t total_in, total_out;     /* stanzas since the start */
static ember_hmap_t by_full, by_bare, by_ref;
static ember_session_ref_t last_ref;
static slot_dtor_t *slot_dtors;
static ember_buf_t wire;
static void (*observer)(ember_session_t *s, int bound);

#define NS_CLIENT "jabber:client"


/* ---- a session's life ---- */

void
ember__sessions_add(ember_session_t *s)
{
    s->next = sessions;
    if (sessions != NULL)
        sessions->prev = s;
    sessions = s;
    session_count++;
    snprintf(s->refkey, sizeof(s->refkey), "%llu",
             (unsigned long long) ++last_ref);
    if (ember__hmap_put(&by_ref, s->refkey, s) < 0)
        s->refkey[0] = '\0';
}


int
ember__sessions_bind(ember_session_t *s)
{
    ember_session_t *head = ember__hmap_get(&by_bare, s->jid->bare), *t;

    if (ember__hmap_put(&by_full, s->jid->full, s) < 0)
        return EMBER_ENOMEM;
    if (head == NULL) {
        if (ember__hmap_put(&by_bare, s->jid->bare, s) < 0) {
            ember__hmap_del(&by_full, s->jid->full);
            return EMBER_ENOMEM;
        }
    } else {
        for (t = head; t->user_next != NULL; t = t->user_next)
            ;
        t->user_next = s;
        s->user_prev = t;
    }
    bound_count++;
    if (observer != NULL)
        observer(s, 1);
    return 0;
}


void
ember__sessions_observe(void (*cb)(ember_session_t *s, int bound))
{
    observer = cb;
}


void
ember__sessions_unbind(ember_session_t *s)
{
    ember_session_t *head;

    if (ember__hmap_get(&by_full, s->jid->full) == s)
        ember__hmap_del(&by_full, s->jid->full);
    if (s->user_prev != NULL) {
        s->user_prev->user_next = s->user_next;
    } else {
        head = s->user_next;
        if (head != NULL)
            ember__hmap_put(&by_bare, head->jid->bare, head);
        else
            ember__hmap_del(&by_bare, s->jid->bare);
    }
    if (s->user_next != NULL)
        s->user_next->user_prev = s->user_prev;
    s->user_prev = s->user_next = NULL;
    bound_count--;
    if (observer != NULL)
        observer(s, 0);
}


void
ember__sessions_forget_ref(ember_session_t *s)
{
    if (s->refkey[0] != '\0' && ember__hmap_get(&by_ref, s->refkey) == s)
        ember__hmap_del(&by_ref, s->refkey);
}


static void
slots_free(ember_session_t *s)
{
    session_slot_t *sl;
    slot_dtor_t *d;

    while ((sl = s->slots) != NULL) {
        s->slots = sl->next;
        for (d = slot_dtors; d != NULL; d = d->next)
            if (d->m == sl->m && sl->value != NULL)
                d->dtor(sl->value);
        free(sl);
    }
}


void
ember__sessions_remove(ember_session_t *s)
{
    ember__sessions_forget_ref(s);
    if (s->prev != NULL)
        s->prev->next = s->next;
    else
        sessions = s->next;
    if (s->next != NULL)
        s->next->prev = s->prev;
    session_count--;
    slots_free(s);
}


ember_session_t *
ember__sessions_first(void)
{
    return sessions;
}


void
ember__sessions_count_in(ember_session_t *s)
{
    s->stanzas_in++;
    total_in++;
}


void
ember__sessions_count_out(ember_session_t *s)
{
    s->stanzas_out++;
    total_out++;
}


/* ---- output ---- */

int
ember__session_secure(const ember_session_t *s)
{
    return (s->t != NULL && s->tops->tls(s->t) != NULL) || !s->require_tls;
}


/*
 * RFC 7395: each message is a document of its own, so a stanza of the
 * stream's default namespace declares jabber:client itself.
 */
/*
 * The stanza st, written in a jabber:client stream as w, as an element
 * that stands alone: its root declares jabber:client (a WebSocket message;
 * stream management's copy, parsed again alone when it is rerouted).
 * Writes to out when not NULL; the length either way.
 */
size_t
ember__session_standalone(const ember_stanza_t *st, const ember_buf_t *w,
                          char *out)
{
    static const char decl[] = " xmlns='" NS_CLIENT "'";
    const char *ns = ember__stanza_xmlns(st);
    size_t head = 1 + strlen(ember__stanza_name(st));

    if ((ns != NULL && strcmp(ns, NS_CLIENT) != 0) || w->len < head) {
        if (out != NULL)
            memcpy(out, w->data, w->len);
        return w->len;
    }
    if (out != NULL) {
        memcpy(out, w->data, head);
        memcpy(out + head, decl, sizeof(decl) - 1);
        memcpy(out + head + sizeof(decl) - 1, w->data + head, w->len - head);
    }
    return w->len + sizeof(decl) - 1;
}


static int
send_as_message(ember_session_t *s, const ember_stanza_t *st,
                const ember_buf_t *w)
{
    static ember_buf_t msg;
    size_t n = ember__session_standalone(st, w, NULL);

    ember__buf_reset(&msg);
    if (ember__buf_reserve(&msg, n) < 0)
        return EMBER_ENOMEM;
    ember__session_standalone(st, w, msg.data);
    return s->tops->send(s->t, msg.data, n);
}


int
ember__session_write_stanza(ember_session_t *s, const ember_stanza_t *st)
{
    int rc;

    if (s->t == NULL && !s->hibernating)
        return EMBER_ESTATE;
    ember__buf_reset(&wire);
    if ((rc = ember__stanza_write(st, NS_CLIENT, &wire)) < 0)
        return rc;
    /* Kept for the client to acknowledge; a hibernating session keeps
     * what it would have sent until its client resumes. */
    if (s->sm != NULL && (rc = ember__sm_sent(s, st, &wire)) < 0) {
        if (rc == EMBER_ELIMIT)
            ember__session_end(s, EMBER_STREAM_POLICY_VIOLATION, "too many "
                               "stanzas not acknowledged");
        return rc;
    }
    if (s->t == NULL) {
        if (s->jid != NULL && ember__stanza_is_stanza(st)) {
            ember_event_t ev;

            memset(&ev, 0, sizeof(ev));
            ev.stanza = (ember_stanza_t *) st;
            ev.origin = s;
            ev.to = s->jid;
            ember__fire(s->jid->domain, EMBER_EV_STANZA_HIBERNATED, &ev);
        }
        return 0;
    }
    if (s->tops->framing == EMBER_FRAMING_MESSAGES)
        rc = send_as_message(s, st, &wire);
    else
        rc = s->tops->send(s->t, wire.data, wire.len);
    if (rc == 0 && s->sm != NULL)
        ember__sm_after_send(s);
    return rc;
}


/* A stanza kept by stream management, sent again as it was kept. */
int
ember__session_write_kept(ember_session_t *s, const char *xml, size_t len)
{
    if (s->t == NULL)
        return EMBER_ESTATE;
    return s->tops->send(s->t, xml, len);
}


/* Bound sessions take any stanza; a stream not yet authenticated only the
 * answers of pre-auth modules (in-band registration), once it is secure. */
int
ember__session_deliver(ember_session_t *s, const ember_stanza_t *st)
{
    if (s->state != ST_BOUND &&
        !(s->state == ST_OPEN && ember__session_secure(s)))
        return EMBER_ESTATE;
    ember__sessions_count_out(s);
    if (s->state == ST_BOUND && ember__csi_hold(s, st))
        return 0;
    return ember__session_write_stanza(s, st);
}


/* ---- lookup ---- */

ember_session_t *
ember__session_by_full(const char *full)
{
    return ember__hmap_get(&by_full, full);
}


ember_session_t *
ember__session_first_of(const char *bare)
{
    return ember__hmap_get(&by_bare, bare);
}


ember_session_t *
ember__session_next_of(ember_session_t *s)
{
    return s->user_next;
}


ember_session_ref_t
ember__session_ref(ember_session_t *s)
{
    return s != NULL && s->refkey[0] != '\0'
               ? (ember_session_ref_t) strtoull(s->refkey, NULL, 10) : 0;
}


ember_session_t *
ember__session_get(ember_session_ref_t ref)
{
    char key[24];

    if (ref == 0)
        return NULL;
    snprintf(key, sizeof(key), "%llu", (unsigned long long) ref);
    return ember__hmap_get(&by_ref, key);
}


ember_session_t *
ember__session_by_jid(const char *full_jid)
{
    ember_jid_t *j;
    ember_session_t *s = NULL;

    if (full_jid == NULL || (j = ember__jid_parse(full_jid)) == NULL)
        return NULL;
    if (j->resource != NULL)
        s = ember__hmap_get(&by_full, j->full);
    ember__jid_free(j);
    return s;
}


/* ---- what a session is ---- */

const ember_jid_t *
ember__session_jid(ember_session_t *s)
{
    return s->state == ST_BOUND ? s->jid : NULL;
}


void
ember__session_set_presence(ember_session_t *s, int available, int priority)
{
    int changed = s->available != (available != 0) ||
                  s->priority != priority;

    s->available = available != 0;
    s->priority = priority;
    if (changed && observer != NULL && s->state == ST_BOUND)
        observer(s, 1);
}


int
ember__session_available(ember_session_t *s, int *priority)
{
    if (priority != NULL)
        *priority = s->priority;
    return s->available;
}


int
ember__session_priority(ember_session_t *s, int *available)
{
    if (available != NULL)
        *available = s->available;
    return s->priority;
}


const char *
ember__session_host(ember_session_t *s)
{
    return s->host;
}


const char *
ember__session_ip(ember_session_t *s)
{
    return s->t != NULL ? s->tops->peer_ip(s->t) : "";
}


uint64_t
ember__session_idle_ms(ember_session_t *s)
{
    return s->t != NULL ? s->tops->idle_ms(s->t) : 0;
}


int
ember__session_set_client(ember_session_t *s, const char *software)
{
    char *copy;

    if (s == NULL || software == NULL)
        return EMBER_EINVAL;
    if ((copy = strdup(software)) == NULL)
        return EMBER_ENOMEM;
    free(s->client);
    s->client = copy;
    return 0;
}


int
ember__marks_have(const char *marks, const char *mark)
{
    const char *p;
    size_t n = strlen(mark);

    for (p = marks != NULL ? strstr(marks, mark) : NULL; p != NULL;
         p = strstr(p + 1, mark))
        if (p > marks && p[-1] == ',' && p[n] == ',')
            return 1;
    return 0;
}


static int
mark_valid(const char *mark)
{
    size_t i, n = strlen(mark);

    if (n == 0 || n > 31)
        return 0;
    for (i = 0; i < n; i++)
        if (!((mark[i] >= 'a' && mark[i] <= 'z') ||
              (mark[i] >= 'A' && mark[i] <= 'Z') ||
              (mark[i] >= '0' && mark[i] <= '9') || mark[i] == '-' ||
              mark[i] == '_'))
            return 0;
    return 1;
}


int
ember__session_mark(ember_session_t *s, const char *mark, int on)
{
    size_t have, n;
    char *p, *grown;

    if (s == NULL || mark == NULL || !mark_valid(mark))
        return EMBER_EINVAL;
    if (ember__marks_have(s->marks, mark) == (on != 0))
        return 0;
    n = strlen(mark);
    if (on) {
        have = s->marks != NULL ? strlen(s->marks) : 1;
        if (have + n + 1 > EMBER__MARKS_MAX)
            return EMBER_ELIMIT;
        if ((grown = realloc(s->marks, have + n + 2)) == NULL)
            return EMBER_ENOMEM;
        if (s->marks == NULL)
            grown[0] = ',';
        memcpy(grown + have, mark, n);
        memcpy(grown + have + n, ",", 2);
        s->marks = grown;
    } else {
        for (p = strstr(s->marks, mark);
             !(p[-1] == ',' && p[n] == ','); p = strstr(p + 1, mark))
            ;
        memmove(p, p + n + 1, strlen(p + n + 1) + 1);
        if (strcmp(s->marks, ",") == 0) {
            free(s->marks);
            s->marks = NULL;
        }
    }
    if (observer != NULL && s->state == ST_BOUND)
        observer(s, 1);
    return 0;
}


json_t *
ember__marks_json(const char *marks)
{
    json_t *arr = json_array();
    const char *p, *end;

    for (p = marks != NULL ? marks + 1 : ""; *p != '\0'; p = end + 1) {
        if ((end = strchr(p, ',')) == NULL)
            break;
        json_array_append_new(arr, json_stringn(p, (size_t) (end - p)));
    }
    return arr;
}


const char *
ember__session_marks(const ember_session_t *s)
{
    return s->marks != NULL ? s->marks : "";
}


/* ---- module slots ---- */

void **
ember__session_slot(ember_module_t *m, ember_session_t *s)
{
    session_slot_t *sl;

    for (sl = s->slots; sl != NULL; sl = sl->next)
        if (sl->m == m)
            return &sl->value;
    if ((sl = calloc(1, sizeof(*sl))) == NULL)
        return NULL;
    sl->m = m;
    sl->next = s->slots;
    s->slots = sl;
    return &sl->value;
}


int
ember__session_slot_destructor(ember_module_t *m, void (*dtor)(void *))
{
    slot_dtor_t *d;

    for (d = slot_dtors; d != NULL; d = d->next)
        if (d->m == m) {
            d->dtor = dtor;
            return 0;
        }
    if ((d = calloc(1, sizeof(*d))) == NULL)
        return EMBER_ENOMEM;
    d->m = m;
    d->dtor = dtor;
    d->next = slot_dtors;
    slot_dtors = d;
    return 0;
}


void
ember__sessions_module_gone(ember_module_t *m)
{
    ember_session_t *s;
    session_slot_t **pp, *sl;
    slot_dtor_t **dp, *d, *mine = NULL;

    for (dp = &slot_dtors; (d = *dp) != NULL; dp = &d->next)
        if (d->m == m) {
            *dp = d->next;
            mine = d;
            break;
        }
    for (s = sessions; s != NULL; s = s->next)
        for (pp = &s->slots; (sl = *pp) != NULL;) {
            if (sl->m == m) {
                *pp = sl->next;
                if (mine != NULL && sl->value != NULL)
                    mine->dtor(sl->value);
                free(sl);
            } else {
                pp = &sl->next;
            }
        }
    free(mine);
}


/* ---- walks ---- */

int
ember__user_sessions(ember_module_t *m, const char *user,
                     ember_session_cb cb, void *ud)
{
    const char *host = ember__module_host(m);
    ember_session_t *s, *n;
    char bare[2048];

    if (host == NULL || user == NULL)
        return EMBER_EINVAL;
    snprintf(bare, sizeof(bare), "%s@%s", user, host);
    for (s = ember__session_first_of(bare); s != NULL; s = n) {
        n = s->user_next;
        cb(s, ud);
    }
    return 0;
}


int
ember__host_sessions(ember_module_t *m, ember_session_cb cb, void *ud)
{
    const char *host = ember__module_host(m);
    ember_session_t *s, *n;

    for (s = sessions; s != NULL; s = n) {
        n = s->next;
        if (s->state == ST_BOUND &&
            (host == NULL || strcmp(s->jid->domain, host) == 0))
            cb(s, ud);
    }
    return 0;
}


size_t
ember__sessions_count(size_t *bound)
{
    if (bound != NULL)
        *bound = bound_count;
    return session_count;
}


void
ember__sessions_stanza_totals(uint64_t *in, uint64_t *out)
{
    *in = total_in;
    *out = total_out;
}


json_t *
ember__sessions_describe(const char *host)
{
    json_t *arr = json_array(), *o;
    ember_session_t *s;
    ember_tls_t *tls;

    for (s = sessions; s != NULL; s = s->next) {
        if (s->state != ST_BOUND ||
            (host != NULL && strcmp(s->jid->domain, host) != 0))
            continue;
        tls = s->t != NULL ? s->tops->tls(s->t) : NULL;
        o = json_pack("{s:s, s:s, s:s, s:s?, s:s, s:s?, s:I, s:I, s:I, "
                      "s:b, s:i}",
                      "jid", s->jid->full, "ip", ember__session_ip(s),
                      "transport", s->tops != NULL ? s->tops->name : "?",
                      "client", s->client,
                      "tls", tls != NULL ? ember__tls_version(tls) : "none",
                      "mechanism", s->mechanism,
                      "idle_ms", (json_int_t) ember__session_idle_ms(s),
                      "in", (json_int_t) s->stanzas_in,
                      "out", (json_int_t) s->stanzas_out,
                      "available", (int) s->available,
                      "priority", s->priority);
        if (o != NULL) {
            json_object_set_new(o, "marks", ember__marks_json(s->marks));
            json_array_append_new(arr, o);
        }
    }
    return arr;
}


void
ember__sessions_cleanup(void)
{
    ember__hmap_free(&by_full);
    ember__hmap_free(&by_bare);
    ember__hmap_free(&by_ref);
    ember__buf_free(&wire);
}
