/* mod_mam.c -- XEP-0313 Message Archive Management (urn:xmpp:mam:2) for
 * accounts: every message a user sends or receives that a person would
 * read goes into the user's archive, and each received one carries a
 * XEP-0359 stanza id naming its archive item.  Ids are the items' times
 * in microseconds, made unique here, so a message is named before its
 * write completes; the sender's acknowledgement waits for that write
 * (api->stanza_hold). */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ember/roster.h>

#include "mam.h"

#define NS_HINTS "urn:xmpp:hints"
#define NS_CARBONS "urn:xmpp:carbons:2"
#define NS_CHATSTATES "http://jabber.org/protocol/chatstates"

const ember_api_t *api;

static const ember_option_t mam_options[] = {
    EMBER_OPT("default", EMBER_OPT_STRING, mam_conf_t, default_pref,
              "always", 1, 16, "what is archived for an account that set "
              "no preference: always, roster (contacts only) or never"),
    EMBER_OPT("retention", EMBER_OPT_DURATION, mam_conf_t, retention,
              "365d", 0, 315360000, "archived messages are deleted this "
              "long after they were sent; 0: kept"),
    EMBER_OPT("max-page", EMBER_OPT_INT, mam_conf_t, max_page, "100", 1,
              1000, "most messages one query returns"),
    EMBER_OPT_END
};


/* ---- ids and times ---- */

int64_t
mam_id_parse(const char *s)
{
    char *end;
    long long v;

    if (s == NULL || *s < '1' || *s > '9')
        return 0;
    v = strtoll(s, &end, 10);
    return *end == '\0' && v > 0 ? (int64_t) v : 0;
}


void
mam_id_format(int64_t us, char *out, size_t len)
{
    snprintf(out, len, "%lld", (long long) us);
}


int64_t
mam_time_parse(const char *s)
{
    struct tm tm;
    const char *p;
    long frac = 0, scale = 1000000, off = 0;
    time_t t;

    if (s == NULL)
        return 0;
    memset(&tm, 0, sizeof(tm));
    if ((p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)) == NULL)
        return 0;
    if (*p == '.') {
        for (p++; *p >= '0' && *p <= '9'; p++)
            if (scale > 1) {
                scale /= 10;
                frac += (*p - '0') * scale;
            }
    }
    if (*p == 'Z') {
        p++;
    } else if ((*p == '+' || *p == '-') && p[1] >= '0' && p[3] == ':') {
        off = ((p[1] - '0') * 10 + (p[2] - '0')) * 3600 +
              ((p[4] - '0') * 10 + (p[5] - '0')) * 60;
        if (*p == '-')
            off = -off;
        p += 6;
    } else {
        return 0;
    }
    if (*p != '\0' || (t = timegm(&tm)) == (time_t) -1)
        return 0;
    return ((int64_t) t - off) * 1000000 + frac;
}


void
mam_time_format(int64_t us, char *out, size_t len)
{
    time_t t = (time_t) (us / 1000000);
    struct tm tm;
    char base[32];

    gmtime_r(&t, &tm);
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, len, "%s.%06lldZ", base, (long long) (us % 1000000));
}


static int64_t
next_time(mam_t *mm)
{
    struct timespec ts;
    int64_t now;

    clock_gettime(CLOCK_REALTIME, &ts);
    now = (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
    if (now <= mm->last_us)
        now = mm->last_us + 1;
    mm->last_us = now;
    return now;
}


/* ---- what is archived ---- */

static int
listed(json_t *list, const char *bare)
{
    size_t i;

    for (i = 0; i < json_array_size(list); i++)
        if (strcmp(json_string_value(json_array_get(list, i)), bare) == 0)
            return 1;
    return 0;
}


static int
in_roster(mam_t *mm, const char *user, const char *peer)
{
    const ember_roster_iface_t *ri = api->iface_get(mm->m,
                                                    EMBER_ROSTER_IFACE);
    ember_roster_item_t it;
    ember_roster_t *r;

    if (ri == NULL || (r = ri->cached(ri, user)) == NULL)
        return 0;
    memset(&it, 0, sizeof(it));
    it.size = sizeof(it);
    return ri->item(ri, r, peer, &it) == 0;
}


/* XEP-0313 section 6: the account's rules for this peer. */
static int
wanted(mam_t *mm, const char *user, const char *peer)
{
    mam_prefs_t *p = mam_prefs_of(mm, user);
    mam_default_t def;

    if (p != NULL && listed(p->never, peer))
        return 0;
    if (p != NULL && listed(p->always, peer))
        return 1;
    def = p != NULL ? p->def
        : strcmp(mm->conf->default_pref, "never") == 0 ? PREF_NEVER
        : strcmp(mm->conf->default_pref, "roster") == 0 ? PREF_ROSTER
        : PREF_ALWAYS;
    return def == PREF_ALWAYS ||
           (def == PREF_ROSTER && in_roster(mm, user, peer));
}


/* A message a person reads (XEP-0313 section 5.1.1): a body, or an
 * encrypted payload; not errors, headlines, groupchat (the room keeps
 * those), chat states, carbon copies, archive results, or what the
 * sender asked not to store. */
static int
archivable(const ember_stanza_t *st)
{
    const char *type = api->stanza_attr(st, "type");
    const ember_stanza_t *c;
    int content = 0;

    if (type != NULL && strcmp(type, "chat") != 0 &&
        strcmp(type, "normal") != 0)
        return 0;
    if (api->stanza_child(st, "no-store", NS_HINTS) != NULL ||
        api->stanza_child(st, "no-permanent-store", NS_HINTS) != NULL ||
        api->stanza_child(st, "sent", NS_CARBONS) != NULL ||
        api->stanza_child(st, "received", NS_CARBONS) != NULL ||
        api->stanza_child(st, "result", NS_MAM) != NULL)
        return 0;
    if (api->stanza_child(st, "store", NS_HINTS) != NULL)
        return 1;
    for (c = api->stanza_first(st); c != NULL; c = api->stanza_next(c)) {
        const char *n = api->stanza_name(c), *ns = api->stanza_xmlns(c);

        if (strcmp(n, "body") == 0 ||
            (ns != NULL && (strcmp(ns, "eu.siacs.conversations.axolotl")
                                == 0 ||
                            strcmp(ns, "urn:xmpp:omemo:2") == 0 ||
                            strcmp(ns, "urn:xmpp:openpgp:0") == 0)))
            content = 1;
    }
    return content;
}


typedef struct mam_append_s {
    struct mam_append_s *prev, *next;
    mam_t *mm;
    ember_hold_t *hold;
} append_t;


static void
append_unlink(append_t *a)
{
    if (a->prev != NULL)
        a->prev->next = a->next;
    else
        a->mm->appends = a->next;
    if (a->next != NULL)
        a->next->prev = a->prev;
}


static void
appended(int status, json_t *result, void *ud)
{
    append_t *a = ud;

    (void) result;
    append_unlink(a);
    if (status < 0)
        api->log(a->mm->m, EMBER_LOG_ERROR, "cannot archive a message: %s",
                 api->strerror(status));
    api->stanza_release(a->hold);
    free(a);
}


/* Archive st for user (a node of this host, or the bare JID of another
 * entity's archive) with peer: the item's id, or 0 when it was not
 * stored. */
static int64_t
archive(mam_t *mm, const char *user, const char *peer,
        const ember_stanza_t *st)
{
    append_t *a;
    char *xml;
    int64_t t;

    if (mm->st == NULL || (a = calloc(1, sizeof(*a))) == NULL)
        return 0;
    if ((xml = api->stanza_serialize(st, NULL)) == NULL) {
        free(a);
        return 0;
    }
    a->mm = mm;
    a->hold = api->stanza_hold(mm->m);
    t = next_time(mm);
    if (api->archive_append_at(mm->st, user, peer, xml, t, appended, a)
        < 0) {
        api->stanza_release(a->hold);
        free(a);
        t = 0;
    } else {
        a->next = mm->appends;
        if (a->next != NULL)
            a->next->prev = a;
        mm->appends = a;
    }
    api->free(xml);
    return t;
}


/* XEP-0359 section 4: a stanza-id claiming to be ours is a forgery. */
static void
strip_ids(ember_stanza_t *st, const char *by)
{
    ember_stanza_t *c, *next;

    for (c = api->stanza_first(st); c != NULL; c = next) {
        const char *b = api->stanza_attr(c, "by");

        next = api->stanza_next(c);
        if (strcmp(api->stanza_name(c), "stanza-id") == 0 &&
            api->stanza_xmlns(c) != NULL &&
            strcmp(api->stanza_xmlns(c), NS_SID) == 0 && b != NULL &&
            strcasecmp(b, by) == 0)
            api->stanza_remove(c);
    }
}


static int
on_inbound(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    mam_t *mm = ud;
    const char *user = api->jid_node(ev->to);
    const char *to_bare = api->jid_bare(ev->to);
    ember_stanza_t *sid;
    char id[32];
    int64_t t;

    (void) m;
    if (user == NULL || ev->from == NULL)
        return EMBER_HOOK_PASS;
    /* Archived the first time: it carries our stanza-id from then. */
    if (EMBER_EVENT_HAS(ev, flags) && (ev->flags & EMBER_EV_AGAIN))
        return EMBER_HOOK_PASS;
    strip_ids(ev->stanza, to_bare);
    /* One's own message to oneself is archived once, as sent. */
    if (strcmp(api->jid_bare(ev->from), to_bare) == 0 ||
        !archivable(ev->stanza) ||
        !wanted(mm, user, api->jid_bare(ev->from)))
        return EMBER_HOOK_PASS;
    if ((t = archive(mm, user, api->jid_bare(ev->from), ev->stanza)) == 0)
        return EMBER_HOOK_PASS;
    mam_id_format(t, id, sizeof(id));
    if ((sid = api->stanza_add_child(ev->stanza, "stanza-id", NS_SID))
        != NULL) {
        api->stanza_set_attr(sid, "id", id);
        api->stanza_set_attr(sid, "by", to_bare);
    }
    return EMBER_HOOK_PASS;
}


static int
on_outbound(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    mam_t *mm = ud;
    const char *user = ev->from != NULL ? api->jid_node(ev->from) : NULL;

    (void) m;
    if (user == NULL || ev->to == NULL || ev->origin == NULL ||
        !archivable(ev->stanza) ||
        !wanted(mm, user, api->jid_bare(ev->to)))
        return EMBER_HOOK_PASS;
    archive(mm, user, api->jid_bare(ev->to), ev->stanza);
    return EMBER_HOOK_PASS;
}


static int
on_account_info(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    static const char *const features[] = { NS_MAM, NS_MAM_EXT, NS_SID };
    size_t i;

    (void) m;
    (void) ud;
    for (i = 0; i < sizeof(features) / sizeof(features[0]); i++)
        api->stanza_set_attr(api->stanza_add_child(ev->stanza, "feature",
                                                   NULL), "var",
                             features[i]);
    return EMBER_HOOK_PASS;
}


/* ---- the "mam" interface: archives of other entities ---- */

static mam_t *
iface_mam(const ember_mam_iface_t *self)
{
    return (mam_t *) (void *) ((char *) (uintptr_t) self -
                               offsetof(mam_t, iface));
}


/* Other entities' archives are named by bare JIDs, which no account's
 * node can be: the '@' keeps them apart in the store. */
static int
other_archive(const char *jid)
{
    return jid != NULL && strchr(jid, '@') != NULL &&
           strchr(jid, '/') == NULL;
}


static int
iface_append(const ember_mam_iface_t *self, const char *jid,
             const char *with, const ember_stanza_t *msg, char *id,
             size_t idlen)
{
    mam_t *mm = iface_mam(self);
    int64_t t;

    if (!other_archive(jid) || idlen < EMBER_MAM_ID_MAX)
        return EMBER_EINVAL;
    if ((t = archive(mm, jid, with, msg)) == 0)
        return EMBER_EIO;
    mam_id_format(t, id, idlen);
    return 0;
}


static int
iface_answer(const ember_mam_iface_t *self, const ember_event_t *ev,
             const char *jid, unsigned flags)
{
    int rc;

    if (!other_archive(jid))
        return EMBER_EINVAL;
    rc = mam_answer(iface_mam(self), ev, jid, jid, flags);
    return rc < 0 ? rc : 0;
}


static void
removed(int status, json_t *result, void *ud)
{
    mam_t *mm = ud;

    (void) result;
    if (status < 0)
        api->log(mm->m, EMBER_LOG_WARN, "cannot delete archived messages: "
                 "%s", api->strerror(status));
}


static int
iface_remove(const ember_mam_iface_t *self, const char *jid,
             int64_t before_us)
{
    mam_t *mm = iface_mam(self);
    ember_archive_query_t q;

    if (!other_archive(jid))
        return EMBER_EINVAL;
    memset(&q, 0, sizeof(q));
    q.size = sizeof(q);
    if (before_us > 0)
        q.end = before_us - 1;
    return api->archive_delete(mm->st, jid, &q, removed, mm);
}


/* ---- retention ---- */

static void
purged(int status, json_t *result, void *ud)
{
    mam_t *mm = ud;

    if (status < 0)
        api->log(mm->m, EMBER_LOG_WARN, "archive purge failed: %s",
                 api->strerror(status));
    else if (json_integer_value(json_object_get(result, "deleted")) > 0)
        api->log(mm->m, EMBER_LOG_INFO, "%lld archived messages expired",
                 (long long) json_integer_value(json_object_get(result,
                                                                "deleted")));
}


static void
purge_users(int status, json_t *result, void *ud)
{
    mam_t *mm = ud;
    ember_archive_query_t q;
    size_t i;

    if (status < 0)
        return;
    memset(&q, 0, sizeof(q));
    q.size = sizeof(q);
    q.end = next_time(mm) - (int64_t) mm->conf->retention * 1000000;
    /* Other entities keep their archives for as long as they say. */
    for (i = 0; i < json_array_size(result); i++)
        if (!other_archive(json_string_value(json_array_get(result, i))))
            api->archive_delete(mm->st, json_string_value(json_array_get(
                                    result, i)), &q, purged, mm);
}


static void
purge(ember_module_t *m, ember_timer_t *t, void *ud)
{
    mam_t *mm = ud;

    (void) m;
    (void) t;
    if (mm->st != NULL && mm->conf->retention > 0)
        api->store_users(mm->st, purge_users, mm);
}


/* ---- loading ---- */

static void
prefs_free(mam_prefs_t *p)
{
    free(p->user);
    json_decref(p->always);
    json_decref(p->never);
    free(p);
}


typedef struct {
    mam_t *mm;
    char *user;
} prefs_load_t;


static void
prefs_loaded(int status, json_t *doc, void *ud)
{
    prefs_load_t *l = ud;
    mam_t *mm = l->mm;
    const char *def = json_string_value(json_object_get(doc, "default"));
    mam_prefs_t *p;

    if (status == 0 && def != NULL && mam_prefs_of(mm, l->user) == NULL &&
        (p = calloc(1, sizeof(*p))) != NULL) {
        p->user = l->user;
        l->user = NULL;
        p->def = strcmp(def, "never") == 0 ? PREF_NEVER
               : strcmp(def, "roster") == 0 ? PREF_ROSTER : PREF_ALWAYS;
        p->always = json_incref(json_object_get(doc, "always"));
        p->never = json_incref(json_object_get(doc, "never"));
        p->next = mm->prefs;
        mm->prefs = p;
    }
    free(l->user);
    free(l);
}


static void
prefs_users(int status, json_t *result, void *ud)
{
    mam_t *mm = ud;
    prefs_load_t *l;
    size_t i;

    for (i = 0; status == 0 && i < json_array_size(result); i++) {
        if ((l = calloc(1, sizeof(*l))) == NULL ||
            (l->user = strdup(json_string_value(json_array_get(result, i))))
                == NULL) {
            free(l);
            continue;
        }
        l->mm = mm;
        if (api->keyval_get(mm->st_prefs, l->user, prefs_loaded, l) < 0) {
            free(l->user);
            free(l);
        }
    }
}


static int
on_user_deleted(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    mam_t *mm = ud;
    mam_prefs_t **pp, *p;

    (void) m;
    for (pp = &mm->prefs; ev->data != NULL && (p = *pp) != NULL;
         pp = &p->next)
        if (strcmp(p->user, ev->data) == 0) {
            *pp = p->next;
            prefs_free(p);
            break;
        }
    return EMBER_HOOK_PASS;
}

static void
mam_unload(ember_module_t *m)
{
    mam_t *mm = api->module_data(m);
    mam_prefs_t *p;

    if (mm == NULL)
        return;
    if (mm->purge != NULL)
        api->timer_stop(m, mm->purge);
    /* Storage callbacks never come after an unload. */
    while (mm->appends != NULL) {
        append_t *a = mm->appends;

        mm->appends = a->next;
        api->stanza_release(a->hold);
        free(a);
    }
    while ((p = mm->prefs) != NULL) {
        mm->prefs = p->next;
        prefs_free(p);
    }
    free(mm);
    api->module_set_data(m, NULL);
}


static int
mam_load(ember_module_t *m, const ember_api_t *a)
{
    static const char *const inbound[] = { "message/bare", "message/full" };
    /* A message to one's own bare JID fires pre-message/self alone. */
    static const char *const outbound[] = {
        "pre-message/bare", "pre-message/full", "pre-message/self",
    };
    const mam_conf_t *conf;
    uint64_t every;
    mam_t *mm;
    size_t i;
    int err;

    api = a;
    conf = api->module_conf(m);
    if (strcmp(conf->default_pref, "always") != 0 &&
        strcmp(conf->default_pref, "never") != 0 &&
        strcmp(conf->default_pref, "roster") != 0) {
        api->log(m, EMBER_LOG_ERROR, "default: always, roster or never, "
                 "not '%s'", conf->default_pref);
        return EMBER_EINVAL;
    }
    if ((mm = calloc(1, sizeof(*mm))) == NULL)
        return EMBER_ENOMEM;
    mm->m = m;
    mm->conf = conf;
    api->module_set_data(m, mm);
    mm->st = api->store_open(m, "mam", EMBER_STORE_ARCHIVE);
    mm->st_prefs = api->store_open(m, "mam_prefs", EMBER_STORE_KEYVAL);
    if (mm->st == NULL)
        api->log(m, EMBER_LOG_WARN, "no storage: nothing is archived");
    /* Above carbons (10) and offline storage: the copies they make carry
     * the stanza id. */
    for (i = 0; i < 2; i++)
        if ((err = api->hook(m, inbound[i], on_inbound, 50, mm)) < 0)
            goto fail;
    /* Below every filter (blocking, carbons): what is archived as sent
     * was sent. */
    for (i = 0; i < 3; i++)
        if ((err = api->hook(m, outbound[i], on_outbound, -200, mm)) < 0)
            goto fail;
    if ((err = api->hook(m, "iq-set/self/" NS_MAM ":query", mam_on_own, 0,
                         mm)) < 0 ||
        (err = api->hook(m, "iq-get/self/" NS_MAM ":query", mam_on_own, 0,
                         mm)) < 0 ||
        (err = api->hook(m, "iq-get/self/" NS_MAM ":metadata", mam_on_own, 0,
                         mm)) < 0 ||
        (err = api->hook(m, "iq-get/self/" NS_MAM ":prefs", mam_on_prefs, 0,
                         mm)) < 0 ||
        (err = api->hook(m, "iq-set/self/" NS_MAM ":prefs", mam_on_prefs, 0,
                         mm)) < 0 ||
        (err = api->hook(m, EMBER_EV_ACCOUNT_DISCO_INFO, on_account_info, 0,
                         mm)) < 0 ||
        (err = api->hook(m, EMBER_EV_USER_DELETED, on_user_deleted, 0,
                         mm)) < 0 ||
        (err = api->disco_add_feature(m, NS_MAM)) < 0 ||
        (err = mam_cmd_register(mm)) < 0 ||
        (err = mam_migrate_register(mm)) < 0)
        goto fail;
    if (mm->st != NULL) {
        mm->iface.size = sizeof(mm->iface);
        mm->iface.append = iface_append;
        mm->iface.answer = iface_answer;
        mm->iface.remove = iface_remove;
        if ((err = api->iface_provide(m, EMBER_MAM_IFACE, &mm->iface)) < 0)
            goto fail;
    }
    if (mm->st_prefs != NULL)
        api->store_users(mm->st_prefs, prefs_users, mm);
    if (conf->retention > 0) {
        every = (uint64_t) conf->retention * 1000 / 10;
        if (every > 3600 * 1000)
            every = 3600 * 1000;
        if (every < 1000)
            every = 1000;
        mm->purge = api->timer_start(m, every, every, purge, mm);
    }
    return 0;

fail:
    mam_unload(m);
    return err;
}


EMBER_MODULE_EXPORT const ember_plugin_t ember_module = {
    EMBER_MODULE_HEADER_MIN(6),
    .name = "mam",
    .version = "1.0",
    .description = "XEP-0313: message archives of accounts, with XEP-0359 "
                   "stanza ids, preferences and retention",
    .requires = (const char *const[]){ "hooks", "stanzas", "storage", "iq",
                                       "disco", "timers", "commands",
                                       "forms", "rsm", "ifaces", NULL },
    .conf_size = sizeof(mam_conf_t),
    .options = mam_options,
    .load = mam_load,
    .unload = mam_unload,
};
