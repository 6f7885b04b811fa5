/* muc_config.c -- room configuration (XEP-0045 10.1-10.2, muc#roomconfig
 * data forms), room destruction (10.9) and the room's disco (6.4). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "muc.h"

#define F_NAME "muc#roomconfig_roomname"
#define F_DESC "muc#roomconfig_roomdesc"
#define F_PERSISTENT "muc#roomconfig_persistentroom"
#define F_PUBLIC "muc#roomconfig_publicroom"
#define F_MEMBERS "muc#roomconfig_membersonly"
#define F_MODERATED "muc#roomconfig_moderatedroom"
#define F_PWPROT "muc#roomconfig_passwordprotectedroom"
#define F_SECRET "muc#roomconfig_roomsecret"
#define F_MAXUSERS "muc#roomconfig_maxusers"
#define F_WHOIS "muc#roomconfig_whois"
#define F_HISTORY "muc#maxhistoryfetch"
#define F_INVITES "muc#roomconfig_allowinvites"
#define F_SUBJECT "muc#roomconfig_changesubject"
#define F_PM "muc#roomconfig_allowpm"
#define F_BCAST "muc#roomconfig_presencebroadcast"
/* Prosody's name, which clients (Conversations, Gajim) fill in; they
 * send ejabberd's "mam" and "muc#roomconfig_mam" too. */
#define F_ARCHIVE "muc#roomconfig_enablearchiving"

static const char *const pm_names[] = {
    "anyone", "participants", "moderators", "none"
};


void
muc_rconf_defaults(muc_t *mu, muc_rconf_t *c)
{
    memset(c, 0, sizeof(*c));
    c->name = strdup("");
    c->desc = strdup("");
    c->password = strdup("");
    c->persistent = mu->o->default_persistent;
    c->public_ = mu->o->default_public;
    c->members_only = mu->o->default_members_only;
    c->moderated = mu->o->default_moderated;
    c->whois_anyone = mu->o->default_whois_anyone;
    c->max_users = mu->o->default_max_users < mu->o->max_occupants ?
                   mu->o->default_max_users : mu->o->max_occupants;
    c->history_len = mu->o->default_history < mu->o->max_history ?
                     mu->o->default_history : mu->o->max_history;
    c->allow_invites = 0;
    c->change_subject = 0;
    c->allow_pm = PM_ANYONE;
    c->archiving = mu->o->default_archiving;
    c->broadcast = MUC_BROADCAST_ALL;
}


void
muc_rconf_free(muc_rconf_t *c)
{
    free(c->name);
    free(c->desc);
    free(c->password);
    c->name = c->desc = c->password = NULL;
}


static int
rconf_copy(muc_rconf_t *dst, const muc_rconf_t *src)
{
    *dst = *src;
    dst->name = muc_strdup(src->name);
    dst->desc = muc_strdup(src->desc);
    dst->password = muc_strdup(src->password);
    if (dst->name == NULL || dst->desc == NULL || dst->password == NULL) {
        muc_rconf_free(dst);
        return EMBER_ENOMEM;
    }
    return 0;
}


static int
bad(char *err, size_t errlen, const char *var, const char *what)
{
    snprintf(err, errlen, "%s: %s", var, what);
    return EMBER_EINVAL;
}


static int
set_bool(int *dst, const char *const *vals, size_t n, const char *var,
         char *err, size_t errlen)
{
    if (n != 1 || muc_bool(vals[0], dst) < 0)
        return bad(err, errlen, var, "must be a boolean");
    return 0;
}


static int
set_int(int *dst, const char *const *vals, size_t n, int min, int max,
        const char *var, char *err, size_t errlen)
{
    char *end;
    long v;

    if (n != 1)
        return bad(err, errlen, var, "must be one number");
    v = strtol(vals[0], &end, 10);
    if (end == vals[0] || *end != '\0' || v < min || v > max) {
        snprintf(err, errlen, "%s: must be a number from %d to %d", var,
                 min, max);
        return EMBER_EINVAL;
    }
    *dst = (int) v;
    return 0;
}


static int
set_str(char **dst, const char *const *vals, size_t n, size_t max,
        const char *var, char *err, size_t errlen)
{
    const char *v = n > 0 ? vals[0] : "";

    if (n > 1)
        return bad(err, errlen, var, "takes one value");
    if (strlen(v) > max)
        return bad(err, errlen, var, "is too long");
    muc_set(dst, v);
    return *dst != NULL ? 0 : EMBER_ENOMEM;
}


int
muc_rconf_set(muc_room_t *r, muc_rconf_t *c, const char *var,
              const char *const *vals, size_t n, char *err, size_t errlen)
{
    muc_opts_t *o = r->muc->o;
    size_t i;

    if (strcmp(var, "FORM_TYPE") == 0)
        return 0;
    if (strcmp(var, F_NAME) == 0)
        return set_str(&c->name, vals, n, 256, var, err, errlen);
    if (strcmp(var, F_DESC) == 0)
        return set_str(&c->desc, vals, n, 2048, var, err, errlen);
    if (strcmp(var, F_SECRET) == 0)
        return set_str(&c->password, vals, n, 256, var, err, errlen);
    if (strcmp(var, F_PERSISTENT) == 0)
        return set_bool(&c->persistent, vals, n, var, err, errlen);
    if (strcmp(var, F_PUBLIC) == 0)
        return set_bool(&c->public_, vals, n, var, err, errlen);
    if (strcmp(var, F_MEMBERS) == 0)
        return set_bool(&c->members_only, vals, n, var, err, errlen);
    if (strcmp(var, F_MODERATED) == 0)
        return set_bool(&c->moderated, vals, n, var, err, errlen);
    if (strcmp(var, F_PWPROT) == 0)
        return set_bool(&c->password_protected, vals, n, var, err, errlen);
    if (strcmp(var, F_INVITES) == 0)
        return set_bool(&c->allow_invites, vals, n, var, err, errlen);
    if (strcmp(var, F_SUBJECT) == 0)
        return set_bool(&c->change_subject, vals, n, var, err, errlen);
    if (strcmp(var, F_ARCHIVE) == 0 || strcmp(var, "mam") == 0 ||
        strcmp(var, "muc#roomconfig_mam") == 0)
        return set_bool(&c->archiving, vals, n, var, err, errlen);
    if (strcmp(var, F_MAXUSERS) == 0)
        return set_int(&c->max_users, vals, n, 1, o->max_occupants, var,
                       err, errlen);
    if (strcmp(var, F_HISTORY) == 0)
        return set_int(&c->history_len, vals, n, 0, o->max_history, var,
                       err, errlen);
    if (strcmp(var, F_WHOIS) == 0) {
        if (n == 1 && strcmp(vals[0], "anyone") == 0)
            c->whois_anyone = 1;
        else if (n == 1 && strcmp(vals[0], "moderators") == 0)
            c->whois_anyone = 0;
        else
            return bad(err, errlen, var, "must be anyone or moderators");
        return 0;
    }
    if (strcmp(var, F_PM) == 0) {
        for (i = 0; n == 1 && i < 4; i++)
            if (strcmp(vals[0], pm_names[i]) == 0) {
                c->allow_pm = (int) i;
                return 0;
            }
        return bad(err, errlen, var,
                   "must be anyone, participants, moderators or none");
    }
    if (strcmp(var, F_BCAST) == 0) {
        unsigned roles = 0;
        int role;

        for (i = 0; i < n; i++) {
            role = muc_role_parse(vals[i]);
            if (role != ROLE_MODERATOR && role != ROLE_PARTICIPANT &&
                role != ROLE_VISITOR)
                return bad(err, errlen, var, "takes moderator, participant "
                           "and visitor");
            roles |= 1u << role;
        }
        c->broadcast = roles;
        return 0;
    }
    bad(err, errlen, var, "is not a field of this form");
    return EMBER_ENOENT;
}


/* The roles of c->broadcast as a JSON array. */
static json_t *
broadcast_json(const muc_rconf_t *c)
{
    static const int roles[] = { ROLE_MODERATOR, ROLE_PARTICIPANT,
                                 ROLE_VISITOR };
    json_t *a = json_array();
    size_t i;

    for (i = 0; a != NULL && i < 3; i++)
        if (c->broadcast & (1u << roles[i]))
            json_array_append_new(a, json_string(muc_role_name(roles[i])));
    return a;
}


json_t *
muc_rconf_json(const muc_rconf_t *c)
{
    return json_pack("{s:s,s:s,s:b,s:b,s:b,s:b,s:b,s:s,s:i,s:s,s:i,s:b,"
                     "s:b,s:s,s:b,s:o}",
                     F_NAME, c->name, F_DESC, c->desc,
                     F_PERSISTENT, c->persistent, F_PUBLIC, c->public_,
                     F_MEMBERS, c->members_only, F_MODERATED, c->moderated,
                     F_PWPROT, c->password_protected, F_SECRET, c->password,
                     F_MAXUSERS, c->max_users,
                     F_WHOIS, c->whois_anyone ? "anyone" : "moderators",
                     F_HISTORY, c->history_len,
                     F_INVITES, c->allow_invites,
                     F_SUBJECT, c->change_subject,
                     F_PM, pm_names[c->allow_pm],
                     F_ARCHIVE, c->archiving,
                     F_BCAST, broadcast_json(c));
}


/* Apply a JSON object {var: value or [values]} to r, all or nothing for
 * the plain settings. */
int
muc_rconf_from_json(muc_room_t *r, json_t *cfg, int ignore_unknown,
                    char *err, size_t errlen)
{
    muc_rconf_t nc, old;
    const char *var, *vals[64];
    char num[32];
    json_t *v, *e;
    size_t n, i;
    int rc = 0;

    if (!json_is_object(cfg))
        return bad(err, errlen, "config", "must be a JSON object");
    if (rconf_copy(&nc, &r->c) < 0)
        return EMBER_ENOMEM;
    json_object_foreach(cfg, var, v) {
        n = 0;
        if (json_is_array(v)) {
            json_array_foreach(v, i, e) {
                if (n == 64 || !json_is_string(e)) {
                    rc = bad(err, errlen, var, n == 64 ? "has too many "
                             "values" : "holds a non-string value");
                    goto done;
                }
                vals[n++] = json_string_value(e);
            }
        } else if (json_is_string(v)) {
            vals[n++] = json_string_value(v);
        } else if (json_is_boolean(v)) {
            vals[n++] = json_is_true(v) ? "1" : "0";
        } else if (json_is_integer(v)) {
            snprintf(num, sizeof(num), "%lld",
                     (long long) json_integer_value(v));
            vals[n++] = num;
        } else {
            rc = bad(err, errlen, var, "has a value of the wrong type");
            goto done;
        }
        rc = muc_rconf_set(r, &nc, var, vals, n, err, errlen);
        /* XEP-0004 3.1: a field the form did not define is ignored. */
        if (rc == EMBER_ENOENT && ignore_unknown)
            rc = 0;
        if (rc < 0)
            goto done;
    }
    if (nc.password_protected && nc.password[0] == '\0') {
        rc = bad(err, errlen, F_SECRET, "a protected room needs a password");
        goto done;
    }
    old = r->c;
    r->c = nc;
    muc_config_changed(r, &old);
    muc_rconf_free(&old);
    return 0;

done:
    muc_rconf_free(&nc);
    return rc;
}


/* After r->c changed from old: history size, roles, notices, storage. */
int
muc_config_changed(muc_room_t *r, const muc_rconf_t *old)
{
    int codes[4], n = 0;
    muc_occ_t *o, *next;
    muc_pinfo_t pi;
    int aff, role;

    muc_hist_resize(r, r->c.history_len);
    if (old->whois_anyone != r->c.whois_anyone)
        codes[n++] = r->c.whois_anyone ? 172 : 173;
    else
        codes[n++] = 104;
    for (o = r->occs; o != NULL; o = next) {
        next = o->next;
        aff = muc_aff_get(r, o->bare);
        if (r->c.members_only && aff < AFF_MEMBER) {
            memset(&pi, 0, sizeof(pi));
            pi.all[pi.nall++] = 322;    /* removed: now members-only */
            muc_occ_remove(r, o, &pi);
            continue;
        }
        role = o->role;
        if (old->moderated != r->c.moderated && aff < AFF_MEMBER &&
            o->role != ROLE_MODERATOR)
            role = r->c.moderated ? ROLE_VISITOR : ROLE_PARTICIPANT;
        if (role != o->role) {
            o->role = role;
            muc_pres_broadcast(r, o, NULL);
        }
    }
    if (!r->locked)
        muc_status_message(r, codes, n);
    if (r->c.persistent)
        muc_store_save(r);
    else if (old->persistent)
        muc_store_forget(r);
    return 0;
}


static void
field(ember_stanza_t *x, const char *var, const char *type,
      const char *label, const char *value)
{
    const char *vals[2] = { value, NULL };

    api->form_add_field(x, var, type, label, value != NULL ? vals : NULL);
}


static void
option(ember_stanza_t *f, const char *label, const char *value)
{
    ember_stanza_t *o = api->stanza_add_child(f, "option", NULL);

    if (o != NULL) {
        api->stanza_set_attr(o, "label", label);
        muc_add_text(o, "value", value);
    }
}


ember_stanza_t *
muc_config_form(muc_room_t *r)
{
    ember_stanza_t *q = api->stanza_new("query", NS_MUC_OWNER), *x, *f;
    const muc_rconf_t *c = &r->c;
    char num[32];
    size_t i;

    if (q == NULL)
        return NULL;
    x = api->form_new(q, "form", "Configuration of the room", NS_MUC_CONFIG);
    if (x == NULL)
        return q;
    field(x, F_NAME, "text-single", "Name", c->name);
    field(x, F_DESC, "text-single", "Description", c->desc);
    field(x, F_PERSISTENT, "boolean", "Persistent", c->persistent ? "1" : "0");
    field(x, F_PUBLIC, "boolean", "Listed in the directory",
          c->public_ ? "1" : "0");
    field(x, F_MEMBERS, "boolean", "Members only",
          c->members_only ? "1" : "0");
    field(x, F_MODERATED, "boolean", "Moderated", c->moderated ? "1" : "0");
    field(x, F_PWPROT, "boolean", "Password protected",
          c->password_protected ? "1" : "0");
    field(x, F_SECRET, "text-private", "Password", c->password);
    snprintf(num, sizeof(num), "%d", c->max_users);
    field(x, F_MAXUSERS, "text-single", "Maximum number of occupants", num);
    f = api->form_add_field(x, F_WHOIS, "list-single", "Who may see real JIDs",
                            NULL);
    if (f != NULL) {
        muc_add_text(f, "value", c->whois_anyone ? "anyone" : "moderators");
        option(f, "Moderators", "moderators");
        option(f, "Anyone", "anyone");
    }
    snprintf(num, sizeof(num), "%d", c->history_len);
    field(x, F_HISTORY, "text-single", "Messages of history", num);
    field(x, F_INVITES, "boolean", "Occupants may invite",
          c->allow_invites ? "1" : "0");
    field(x, F_SUBJECT, "boolean", "Occupants may change the subject",
          c->change_subject ? "1" : "0");
    f = api->form_add_field(x, F_PM, "list-single",
                            "Who may send private messages", NULL);
    if (f != NULL) {
        muc_add_text(f, "value", pm_names[c->allow_pm]);
        for (i = 0; i < 4; i++)
            option(f, pm_names[i], pm_names[i]);
    }
    if (muc_mam_available(r->muc))
        field(x, F_ARCHIVE, "boolean", "Archive the messages (XEP-0313)",
              c->archiving ? "1" : "0");
    f = api->form_add_field(x, F_BCAST, "list-multi",
                            "Roles whose presence is broadcast", NULL);
    if (f != NULL) {
        static const int roles[] = { ROLE_MODERATOR, ROLE_PARTICIPANT,
                                     ROLE_VISITOR };

        for (i = 0; i < 3; i++)
            if (c->broadcast & (1u << roles[i]))
                muc_add_text(f, "value", muc_role_name(roles[i]));
        for (i = 0; i < 3; i++)
            option(f, muc_role_name(roles[i]), muc_role_name(roles[i]));
    }
    return q;
}


/* A submitted form: every field checked before anything changes. */
static int
config_submit(muc_room_t *r, ember_stanza_t *x, char *err, size_t errlen)
{
    json_t *cfg = json_object(), *arr;
    const char *vals[64];
    ember_stanza_t *f, *v;
    const char *var;
    size_t n;
    int rc;

    if (cfg == NULL)
        return EMBER_ENOMEM;
    for (f = api->stanza_first(x); f != NULL; f = api->stanza_next(f)) {
        if (strcmp(api->stanza_name(f), "field") != 0 ||
            (var = api->stanza_attr(f, "var")) == NULL)
            continue;
        n = 0;
        for (v = api->stanza_first(f); v != NULL && n < 64;
             v = api->stanza_next(v))
            if (strcmp(api->stanza_name(v), "value") == 0)
                vals[n++] = api->stanza_text(v);
        if ((arr = json_array()) == NULL) {
            json_decref(cfg);
            return EMBER_ENOMEM;
        }
        while (n > 0)
            json_array_insert_new(arr, 0, json_string(vals[--n]));
        json_object_set_new(cfg, var, arr);
    }
    rc = muc_rconf_from_json(r, cfg, 1, err, errlen);
    json_decref(cfg);
    return rc;
}


int
muc_config_submit(muc_room_t *r, ember_stanza_t *x, char *err,
                  size_t errlen)
{
    return config_submit(r, x, err, errlen);
}


void
muc_room_destroy(muc_room_t *r, const char *alt, const char *reason)
{
    muc_pinfo_t pi;

    memset(&pi, 0, sizeof(pi));
    pi.destroyed = 1;
    pi.destroy_jid = alt;
    pi.destroy_reason = reason;
    r->destroyed = 1;
    while (r->occs != NULL)
        muc_occ_remove(r, r->occs, &pi);
    muc_store_forget(r);
    muc_room_maybe_gc(r);
}


int
muc_owner_iq(muc_t *mu, const ember_event_t *ev, muc_room_t *r)
{
    const char *type = api->stanza_attr(ev->stanza, "type");
    ember_stanza_t *q = api->stanza_first(ev->stanza), *x, *d, *reason;
    char err[512];
    int rc;

    if (muc_aff_get(r, api->jid_bare(ev->from)) != AFF_OWNER) {
        api->stanza_error(ev, EMBER_COND_FORBIDDEN, "only owners may do that");
        return EMBER_HOOK_HANDLED;
    }
    if (strcmp(type, "get") == 0) {
        api->iq_result(ev, muc_config_form(r));
        return EMBER_HOOK_HANDLED;
    }
    if ((d = api->stanza_child(q, "destroy", NULL)) != NULL) {
        reason = api->stanza_child(d, "reason", NULL);
        api->iq_result(ev, NULL);
        muc_room_destroy(r, api->stanza_attr(d, "jid"),
                         reason != NULL ? api->stanza_text(reason) : NULL);
        return EMBER_HOOK_HANDLED;
    }
    if ((x = api->stanza_child(q, "x", NS_DATA)) == NULL) {
        api->stanza_error(ev, EMBER_COND_BAD_REQUEST, "expected a data form");
        return EMBER_HOOK_HANDLED;
    }
    type = api->stanza_attr(x, "type");
    if (type != NULL && strcmp(type, "cancel") == 0) {
        api->iq_result(ev, NULL);
        /* Canceling the first configuration abandons the room (10.1.3). */
        if (r->locked)
            muc_room_destroy(r, NULL, NULL);
        return EMBER_HOOK_HANDLED;
    }
    if (type == NULL || strcmp(type, "submit") != 0) {
        api->stanza_error(ev, EMBER_COND_BAD_REQUEST,
                          "expected a submit form");
        return EMBER_HOOK_HANDLED;
    }
    if ((rc = config_submit(r, x, err, sizeof(err))) < 0) {
        api->stanza_error(ev, rc == EMBER_EINVAL ? EMBER_COND_NOT_ACCEPTABLE :
                          EMBER_COND_RESOURCE_CONSTRAINT, rc == EMBER_EINVAL ?
                  err : NULL);
        return EMBER_HOOK_HANDLED;
    }
    if (r->locked) {
        /* Configured, or accepted as an instant room (10.1.2). */
        r->locked = 0;
        if (r->c.persistent)
            muc_store_save(r);
    }
    api->iq_result(ev, NULL);
    /* Members-only may have emptied it, or it stopped being persistent. */
    muc_room_maybe_gc(r);
    return EMBER_HOOK_HANDLED;
}


static void
feature(ember_stanza_t *q, const char *var)
{
    ember_stanza_t *f = api->stanza_add_child(q, "feature", NULL);

    if (f != NULL)
        api->stanza_set_attr(f, "var", var);
}


void
muc_disco_room(muc_t *mu, const ember_event_t *ev, muc_room_t *r)
{
    ember_stanza_t *p = api->stanza_first(ev->stanza), *q, *c, *x;
    const char *node = api->stanza_attr(p, "node");
    muc_aff_t *a;
    char num[32];

    (void) mu;
    if (strcmp(api->stanza_xmlns(p), NS_DISCO_ITEMS) == 0) {
        /* Occupants stay private: the list is empty (6.5). */
        api->iq_result(ev, api->stanza_new("query", NS_DISCO_ITEMS));
        return;
    }
    if (node != NULL) {
        /* 7.12: the asker's reserved nickname, or an empty answer; other
         * nodes (muc#traffic, 18.1.1) are not served. */
        if (strcmp(node, "x-roomuser-item") != 0) {
            api->stanza_error(ev, EMBER_COND_FEATURE_NOT_IMPLEMENTED, NULL);
            return;
        }
        a = muc_aff_entry(r, api->jid_bare(ev->from));
        if ((q = api->stanza_new("query", NS_DISCO_INFO)) != NULL) {
            api->stanza_set_attr(q, "node", node);
            if (a != NULL && a->nick != NULL &&
                (c = api->stanza_add_child(q, "identity", NULL)) != NULL) {
                api->stanza_set_attr(c, "category", "conference");
                api->stanza_set_attr(c, "name", a->nick);
                api->stanza_set_attr(c, "type", "text");
            }
        }
        api->iq_result(ev, q);
        return;
    }
    if ((q = api->stanza_new("query", NS_DISCO_INFO)) == NULL)
        return;
    if ((c = api->stanza_add_child(q, "identity", NULL)) != NULL) {
        api->stanza_set_attr(c, "category", "conference");
        api->stanza_set_attr(c, "type", "text");
        api->stanza_set_attr(c, "name", r->c.name[0] ? r->c.name : r->node);
    }
    feature(q, NS_MUC);
    feature(q, NS_MUC "#self-ping-optimization");
    /* Message ids are reflected as sent (7.4). */
    feature(q, NS_MUC "#stable_id");
    feature(q, NS_PING);
    feature(q, NS_CONFERENCE);
    feature(q, NS_REGISTER);
    feature(q, r->c.persistent ? "muc_persistent" : "muc_temporary");
    feature(q, r->c.members_only ? "muc_membersonly" : "muc_open");
    feature(q, r->c.moderated ? "muc_moderated" : "muc_unmoderated");
    feature(q, r->c.whois_anyone ? "muc_nonanonymous" : "muc_semianonymous");
    feature(q, r->c.password_protected ? "muc_passwordprotected" :
            "muc_unsecured");
    feature(q, r->c.public_ ? "muc_public" : "muc_hidden");
    muc_mam_features(r, q);
    if ((x = api->form_new(q, "result", NULL, NS_MUC_INFO)) != NULL) {
        field(x, "muc#roominfo_description", NULL, "Description",
              r->c.desc);
        snprintf(num, sizeof(num), "%d", r->nocc);
        field(x, "muc#roominfo_occupants", NULL, "Number of occupants", num);
        field(x, "muc#roominfo_subject", NULL, "Subject",
              r->subject != NULL ? r->subject : "");
        field(x, "muc#roominfo_subjectmod", NULL, "Occupants may change "
              "the subject", r->c.change_subject ? "1" : "0");
        field(x, F_NAME, NULL, "Name", r->c.name);
        snprintf(num, sizeof(num), "%d", r->c.max_users);
        field(x, F_MAXUSERS, NULL, "Maximum number of occupants", num);
    }
    api->iq_result(ev, q);
}
