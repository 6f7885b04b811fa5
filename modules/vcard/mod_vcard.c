/* mod_vcard.c -- XEP-0054 vcard-temp: users store their vCard, anyone reads
 * it; XEP-0153: the SHA-1 of the vCard photo goes into the user's
 * available presence when the client did not put one there. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>
#include <jansson.h>
#include <ember/plugin.h>

#define NS_VCARD "vcard-temp"
#define NS_UPDATE "vcard-temp:x:update"

/* Before the modules that deliver or keep presence (they hook at 0), so
 * that what they send carries the hash; after filters such as blocking. */
#define VCARD_PRESENCE_PRIO 50

typedef struct {
    int max_size;
} vcard_conf_t;

static const ember_option_t vcard_options[] = {
    EMBER_OPT("max-size", EMBER_OPT_INT, vcard_conf_t, max_size, "65536",
              1024, 16777216, "largest vCard, in bytes of serialized XML"),
    EMBER_OPT_END
};

/*
 * `photos` maps every user whose vCard has a photo to its hash.  It is
 * read whole from the `index` store at load, so that the first presence
 * of a session already gets the hash (a per-session load would race with
 * it).  Presence sent in the instant before that read completes goes
 * out without the server's hash.
 */
/* A vcard-get command waiting for the store. */
typedef struct vcard_cmd_s {
    ember_module_t *m;
    ember_cmd_ctx_t *ctx;
    char *jid;
    struct vcard_cmd_s *prev, *next;
} vcard_cmd_t;

typedef struct vcard_state_s {
    ember_store_t *store;
    ember_store_t *index;
    json_t *photos;
    vcard_cmd_t *cmds;
} vcard_state_t;

static const ember_api_t *api;


/* ---- XEP-0153 photo hash ---- */

/*
 * Lower-case hex SHA-1 of the decoded PHOTO/BINVAL into hex[41]: "" when
 * there is no photo.  EMBER_EINVAL when BINVAL is not base64.
 */
static int
photo_hash(const ember_stanza_t *vcard, char *hex)
{
    ember_stanza_t *photo = api->stanza_child(vcard, "PHOTO", NS_VCARD);
    ember_stanza_t *bin = api->stanza_child(photo, "BINVAL", NS_VCARD);
    const char *text = bin != NULL ? api->stanza_text(bin) : "";
    gnutls_datum_t in, out = { NULL, 0 };
    unsigned char md[20];
    char *b64;
    size_t i, n = 0;
    int rc = 0;

    hex[0] = '\0';
    if ((b64 = malloc(strlen(text) + 1)) == NULL)
        return EMBER_ENOMEM;
    /* base64Binary: whitespace (line breaks every 76 characters) is not
     * part of the data. */
    for (i = 0; text[i] != '\0'; i++)
        if (!isspace((unsigned char) text[i]))
            b64[n++] = text[i];
    b64[n] = '\0';
    if (n == 0)
        goto done;
    in.data = (unsigned char *) b64;
    in.size = (unsigned) n;
    if (gnutls_base64_decode2(&in, &out) < 0) {
        rc = EMBER_EINVAL;
        goto done;
    }
    if (gnutls_hash_fast(GNUTLS_DIG_SHA1, out.data, out.size, md) < 0) {
        rc = EMBER_EIO;
        goto done;
    }
    for (i = 0; i < sizeof(md); i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
done:
    gnutls_free(out.data);
    free(b64);
    return rc;
}


static void
index_saved(int status, json_t *result, void *ud)
{
}


/* Remember `user`'s photo hash ("" when none), in memory and the index. */
static void
photo_known(ember_module_t *m, const char *user, const char *hash)
{
    vcard_state_t *vs = api->module_data(m);
    const char *cur = json_string_value(json_object_get(vs->photos, user));
    json_t *v = NULL;

    if (cur != NULL ? strcmp(cur, hash) == 0 : hash[0] == '\0')
        return;
    if (hash[0] == '\0') {
        json_object_del(vs->photos, user);
    } else if ((v = json_string(hash)) == NULL ||
               json_object_set(vs->photos, user, v) < 0) {
        json_decref(v);
        return;
    }
    if (api->map_set(vs->index, NULL, user, v, index_saved, NULL) < 0)
        api->log(m, EMBER_LOG_WARN, "could not index the photo of %s",
                 user);
    json_decref(v);
}


static void
index_loaded(int status, json_t *all, void *ud)
{
    ember_module_t *m = ud;
    vcard_state_t *vs = api->module_data(m);
    const char *user;
    json_t *v;

    if (status < 0 && status != EMBER_ENOENT) {
        api->log(m, EMBER_LOG_WARN, "photo hashes not loaded: %s",
                 api->strerror(status));
        return;
    }
    /* Sets that completed meanwhile are newer than what was read. */
    json_object_foreach(all, user, v)
        if (json_is_string(v) && json_object_get(vs->photos, user) == NULL)
            json_object_set(vs->photos, user, v);
}


static int
vcard_on_deleted(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    if (ev->data != NULL)
        photo_known(m, ev->data, "");
    return EMBER_HOOK_PASS;
}


/*
 * Available presence from a client: put the known hash in, unless the
 * client announced one itself.  An absent <x/>, an empty <x/> ("not ready
 * yet") and an empty <photo/> are filled in; the server's copy of the vCard
 * is what contacts will download, so its hash is the right one.
 */
static int
vcard_on_presence(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    vcard_state_t *vs = api->module_data(m);
    ember_stanza_t *x, *photo;
    const char *hash;

    if (ev->from == NULL || api->jid_node(ev->from) == NULL ||
        api->stanza_attr(ev->stanza, "type") != NULL)
        return EMBER_HOOK_PASS;
    hash = json_string_value(json_object_get(vs->photos,
                                             api->jid_node(ev->from)));
    if (hash == NULL || hash[0] == '\0')
        return EMBER_HOOK_PASS;
    x = api->stanza_child(ev->stanza, "x", NS_UPDATE);
    photo = x != NULL ? api->stanza_child(x, "photo", NS_UPDATE) : NULL;
    if (photo != NULL && api->stanza_text(photo)[0] != '\0')
        return EMBER_HOOK_PASS;
    if (photo != NULL)
        api->stanza_remove(photo);
    if (x == NULL && (x = api->stanza_add_child(ev->stanza, "x", NS_UPDATE))
                     == NULL)
        return EMBER_ENOMEM;
    if ((photo = api->stanza_add_child(x, "photo", NULL)) == NULL)
        return EMBER_ENOMEM;
    api->stanza_add_text(photo, hash);
    return EMBER_HOOK_PASS;
}


/* ---- vCard get and set ---- */

static int
is_self(const ember_event_t *ev)
{
    return ev->from != NULL && api->jid_node(ev->from) != NULL &&
           strcmp(api->jid_bare(ev->from), api->jid_bare(ev->to)) == 0;
}


static void
got_vcard(int status, json_t *doc, void *ud)
{
    const char *xml = json_string_value(json_object_get(doc, "xml"));
    ember_stanza_t *v;

    if (status < 0 && status != EMBER_ENOENT) {
        api->iq_fail(ud, EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
        return;
    }
    v = status == 0 && xml != NULL ? api->stanza_parse(xml, strlen(xml))
                                   : NULL;
    /*
     * XEP-0054 1.3: no vCard of one's own is an empty <vCard/>; no vCard
     * of someone else, or no such account, is service-unavailable, the
     * same in both cases so that accounts cannot be harvested.
     */
    if (v == NULL && is_self(api->iq_event(ud)) &&
        (v = api->stanza_new("vCard", NS_VCARD)) == NULL)
        api->iq_fail(ud, EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
    else if (v == NULL)
        api->iq_fail(ud, EMBER_COND_SERVICE_UNAVAILABLE, NULL);
    else
        api->iq_answer(ud, v);
}


/* Stored: the hash of the photo the request carried is now the user's. */
static void
vcard_saved(int status, json_t *result, void *ud)
{
    const ember_event_t *ev = api->iq_event(ud);
    char hex[41];

    if (status < 0 ||
        photo_hash(api->stanza_first(ev->stanza), hex) < 0) {
        api->iq_fail(ud, EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
        return;
    }
    photo_known(api->iq_module(ud), api->jid_node(ev->to), hex);
    api->iq_answer(ud, NULL);
}


static int
vcard_on_get(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    vcard_state_t *vs = api->module_data(m);
    ember_iq_t *iq = api->iq_defer(m, ev);

    if (iq == NULL)
        return EMBER_ENOMEM;
    if (api->keyval_get(vs->store, api->jid_node(ev->to), got_vcard, iq) < 0)
        api->iq_fail(iq, EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
    return EMBER_HOOK_HANDLED;
}


static int
vcard_on_set(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    vcard_conf_t *conf = api->module_conf(m);
    vcard_state_t *vs = api->module_data(m);
    ember_stanza_t *v = api->stanza_first(ev->stanza);
    json_t *doc = NULL;
    ember_iq_t *iq;
    char hex[41], *xml;
    size_t len;
    int err;

    if (!is_self(ev)) {
        api->stanza_error(ev, EMBER_COND_FORBIDDEN,
                          "only the owner may change a vCard");
        return EMBER_HOOK_HANDLED;
    }
    if ((xml = api->stanza_serialize(v, &len)) == NULL)
        return EMBER_ENOMEM;
    if (len > (size_t) conf->max_size) {
        api->free(xml);
        api->stanza_error(ev, EMBER_COND_POLICY_VIOLATION,
                          "vCard too large");
        return EMBER_HOOK_HANDLED;
    }
    if ((err = photo_hash(v, hex)) < 0) {
        api->free(xml);
        if (err != EMBER_EINVAL)
            return err;
        api->stanza_error(ev, EMBER_COND_BAD_REQUEST,
                          "PHOTO/BINVAL is not base64");
        return EMBER_HOOK_HANDLED;
    }
    /* An empty <vCard/> removes the vCard. */
    if (api->stanza_first(v) != NULL &&
        (doc = json_pack("{s:s, s:s}", "xml", xml, "photo", hex)) == NULL) {
        api->free(xml);
        api->stanza_error(ev, EMBER_COND_BAD_REQUEST, "vCard is not UTF-8");
        return EMBER_HOOK_HANDLED;
    }
    api->free(xml);
    if ((iq = api->iq_defer(m, ev)) == NULL) {
        json_decref(doc);
        return EMBER_ENOMEM;
    }
    if (api->keyval_set(vs->store, api->jid_node(ev->to), doc, vcard_saved,
                        iq) < 0)
        api->iq_fail(iq, EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
    json_decref(doc);
    return EMBER_HOOK_HANDLED;
}


/* ---- the vcard-get command (console, emberctl) ---- */

static void
cmd_free(vcard_cmd_t *c)
{
    vcard_state_t *vs = api->module_data(c->m);

    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        vs->cmds = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    free(c->jid);
    free(c);
}


static void
cmd_got_vcard(int status, json_t *doc, void *ud)
{
    vcard_cmd_t *c = ud;
    const char *xml = json_string_value(json_object_get(doc, "xml"));
    char msg[1200];

    if (status < 0 && status != EMBER_ENOENT) {
        snprintf(msg, sizeof(msg), "%s: %s", c->jid, api->strerror(status));
        api->command_done(c->ctx, status, NULL, msg);
    } else if (status == EMBER_ENOENT || xml == NULL) {
        snprintf(msg, sizeof(msg), "no vCard for %s", c->jid);
        api->command_done(c->ctx, EMBER_ENOENT, NULL, msg);
    } else {
        api->command_done(c->ctx, 0, json_pack("{s:s, s:s}", "jid", c->jid,
                                               "vcard", xml), NULL);
    }
    cmd_free(c);
}


static void
vcard_cmd_get(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    ember_module_t *m = ud;
    vcard_state_t *vs = api->module_data(m);
    const char *s = json_string_value(json_object_get(args, "jid"));
    ember_jid_t *j = api->jid_parse(s);
    vcard_cmd_t *c = NULL;
    char msg[1200];

    if (j == NULL || api->jid_node(j) == NULL ||
        api->jid_resource(j) != NULL ||
        strcmp(api->jid_domain(j), api->module_host(m)) != 0) {
        snprintf(msg, sizeof(msg), "argument 'jid': %s is not an account "
                 "of %s (user@%s)", s, api->module_host(m),
                 api->module_host(m));
        api->command_done(ctx, EMBER_EINVAL, NULL, msg);
        goto out;
    }
    if ((c = calloc(1, sizeof(*c))) == NULL ||
        (c->jid = strdup(api->jid_bare(j))) == NULL) {
        free(c);
        api->command_done(ctx, EMBER_ENOMEM, NULL, NULL);
        goto out;
    }
    c->m = m;
    c->ctx = ctx;
    c->next = vs->cmds;
    if (vs->cmds != NULL)
        vs->cmds->prev = c;
    vs->cmds = c;
    if (api->keyval_get(vs->store, api->jid_node(j), cmd_got_vcard, c) < 0) {
        api->command_done(ctx, EMBER_EIO, NULL, "cannot read the store");
        cmd_free(c);
    }
out:
    api->jid_free(j);
}


static const ember_cmd_arg_t vcard_get_args[] = {
    { "jid", EMBER_ARG_JID, 1, "the account, user@host" },
    { NULL, 0, 0, NULL }
};

static const ember_command_t vcard_get_command = {
    "vcard-get", "An account's vCard (XEP-0054) as XML", vcard_get_args,
    "admin", vcard_cmd_get
};


static const struct {
    const char *event;
    ember_hook_cb cb;
    int priority;
} vcard_hooks[] = {
    { "iq-get/bare/" NS_VCARD ":vCard", vcard_on_get, 0 },
    { "iq-set/bare/" NS_VCARD ":vCard", vcard_on_set, 0 },
    { EMBER_EV_USER_DELETED, vcard_on_deleted, 0 },
    { "pre-presence/self", vcard_on_presence, VCARD_PRESENCE_PRIO },
    { "pre-presence/bare", vcard_on_presence, VCARD_PRESENCE_PRIO },
    { "pre-presence/full", vcard_on_presence, VCARD_PRESENCE_PRIO },
};


static int
vcard_load(ember_module_t *m, const ember_api_t *a)
{
    vcard_state_t *vs;
    size_t i;
    int err;

    api = a;
    if ((vs = calloc(1, sizeof(*vs))) == NULL)
        return EMBER_ENOMEM;
    api->module_set_data(m, vs);
    if ((vs->photos = json_object()) == NULL ||
        (vs->store = api->store_open(m, "vcard", EMBER_STORE_KEYVAL)) ==
            NULL ||
        (vs->index = api->store_open(m, "vcard_photo", EMBER_STORE_MAP)) ==
            NULL)
        return EMBER_ENOMEM;
    if ((err = api->disco_add_feature(m, NS_VCARD)) < 0 ||
        (err = api->command_register(m, &vcard_get_command, m)) < 0)
        return err;
    for (i = 0; i < sizeof(vcard_hooks) / sizeof(vcard_hooks[0]); i++)
        if ((err = api->hook(m, vcard_hooks[i].event, vcard_hooks[i].cb,
                             vcard_hooks[i].priority, NULL)) < 0)
            return err;
    if ((err = api->map_all(vs->index, NULL, index_loaded, m)) < 0)
        return err;
    return 0;
}


static void
vcard_unload(ember_module_t *m)
{
    vcard_state_t *vs = api->module_data(m);

    if (vs == NULL)
        return;
    /* The core answers their callers (ECANCELED) as the module goes. */
    while (vs->cmds != NULL)
        cmd_free(vs->cmds);
    json_decref(vs->photos);
    free(vs);
    api->module_set_data(m, NULL);
}


EMBER_MODULE_EXPORT const ember_plugin_t ember_module = {
    EMBER_MODULE_HEADER,
    .name = "vcard",
    .version = "1.0",
    .description = "XEP-0054: vcard-temp, with XEP-0153 avatar hashes",
    .requires = (const char *const[]){ "hooks", "disco", "storage",
                                       "sessions", NULL },
    .conf_size = sizeof(vcard_conf_t),
    .options = vcard_options,
    .load = vcard_load,
    .unload = vcard_unload,
};
