/* mod_vcard.c -- XEP-0054 vcard-temp: users store their vCard, anyone reads
 * it; XEP-0153: the SHA-1 of the vCard photo goes into the user's
 * available presence when the client did not put one there; XEP-0398:
 * a XEP-0084 avatar published on PEP becomes the vCard's PHOTO, and a
 * vCard PHOTO is published as the PEP avatar (the "pubsub" interface). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <gnutls/gnutls.h>
#include <gnutls/crypto.h>
#include <jansson.h>
#include <ember/plugin.h>
#include <ember/pie.h>
#include <ember/pubsub.h>

#define NS_VCARD "vcard-temp"
#define NS_UPDATE "vcard-temp:x:update"
#define NS_AVATAR_DATA "urn:xmpp:avatar:data"
#define NS_AVATAR_META "urn:xmpp:avatar:metadata"
#define NS_CONVERSION "urn:xmpp:pep-vcard-conversion:0"

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
    char *user;
    char hex[41];   /* pie-import: the photo hash stored */
    int taken;      /* pie-import: which element */
    struct vcard_cmd_s *prev, *next;
} vcard_cmd_t;

/* An avatar on its way between PEP and the vCard (XEP-0398). */
typedef struct vcard_conv_s {
    ember_module_t *m;
    char *account;  /* bare JID */
    char *id;       /* SHA-1 of the image, hex */
    char *type;     /* its MIME type */
    char *b64;      /* the image, base64 */
    size_t bytes;
    int stage;      /* vCard to PEP: see conv_publish */
    struct vcard_conv_s *prev, *next;
} vcard_conv_t;

typedef struct vcard_state_s {
    ember_store_t *store;
    ember_store_t *index;
    json_t *photos;
    vcard_cmd_t *cmds;
    vcard_conv_t *convs;
    ember_pubsub_opts_t opts;
} vcard_state_t;

static const ember_api_t *api;


/* ---- XEP-0153 photo hash ---- */

/*
 * Lower-case hex SHA-1 into hex[41] of the image in `text` (base64, with
 * or without line breaks), and its size in *bytes: "" when text is empty.
 * EMBER_EINVAL when it is not base64.
 */
/* The image without the whitespace base64Binary allows (line breaks
 * every 76 characters are not part of the data); malloc'ed. */
static char *
b64_compact(const char *text)
{
    char *out = malloc(strlen(text) + 1);
    size_t n = 0;

    if (out == NULL)
        return NULL;
    for (; *text != '\0'; text++)
        if (!isspace((unsigned char) *text))
            out[n++] = *text;
    out[n] = '\0';
    return out;
}


static int
b64_hash(const char *text, char *hex, size_t *bytes)
{
    gnutls_datum_t in, out = { NULL, 0 };
    unsigned char md[20];
    char *b64;
    size_t i, n;
    int rc = 0;

    hex[0] = '\0';
    if (bytes != NULL)
        *bytes = 0;
    if ((b64 = b64_compact(text)) == NULL)
        return EMBER_ENOMEM;
    if ((n = strlen(b64)) == 0)
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
    if (bytes != NULL)
        *bytes = out.size;
done:
    gnutls_free(out.data);
    free(b64);
    return rc;
}


static const char *
photo_b64(const ember_stanza_t *vcard)
{
    ember_stanza_t *photo = api->stanza_child(vcard, "PHOTO", NS_VCARD);
    ember_stanza_t *bin = api->stanza_child(photo, "BINVAL", NS_VCARD);

    return bin != NULL ? api->stanza_text(bin) : "";
}


/* The hash of the vCard's PHOTO/BINVAL ("" without one). */
static int
photo_hash(const ember_stanza_t *vcard, char *hex)
{
    return b64_hash(photo_b64(vcard), hex, NULL);
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
 * Available presence from a client, broadcast or directed (a MUC join
 * too): put the known hash in, unless the client announced one itself.
 * An absent <x/> and an empty <x/> ("not ready yet") are filled in; the
 * server's copy of the vCard is what contacts will download, so its hash
 * is the right one.  An empty <photo/> ("no avatar to advertise") is left
 * as the client sent it (XEP-0398 section 4).
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
    if (photo != NULL)
        return EMBER_HOOK_PASS;
    if (x == NULL && (x = api->stanza_add_child(ev->stanza, "x", NS_UPDATE))
                     == NULL)
        return EMBER_ENOMEM;
    if ((photo = api->stanza_add_child(x, "photo", NULL)) == NULL)
        return EMBER_ENOMEM;
    api->stanza_add_text(photo, hash);
    return EMBER_HOOK_PASS;
}


/* ---- XEP-0398: the avatar between PEP (XEP-0084) and the vCard ---- */

static const char open_form[] =
    "<x xmlns='jabber:x:data' type='submit'>"
    "<field var='FORM_TYPE' type='hidden'><value>"
    "http://jabber.org/protocol/pubsub#publish-options</value></field>"
    "<field var='pubsub#access_model'><value>open</value></field></x>";


static const ember_pubsub_iface_t *
engine(ember_module_t *m)
{
    const ember_pubsub_iface_t *pi = api->iface_get(m, EMBER_PUBSUB_IFACE);

    return pi != NULL && EMBER_PUBSUB_HAS(pi, publish) ? pi : NULL;
}


static void
conv_free(vcard_conv_t *c)
{
    vcard_state_t *vs = api->module_data(c->m);

    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        vs->convs = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    free(c->account);
    free(c->id);
    free(c->type);
    free(c->b64);
    free(c);
}


static vcard_conv_t *
conv_new(ember_module_t *m, const char *account, const char *id,
         const char *type)
{
    vcard_state_t *vs = api->module_data(m);
    vcard_conv_t *c = calloc(1, sizeof(*c));

    if (c == NULL)
        return NULL;
    c->m = m;
    if ((c->next = vs->convs) != NULL)
        c->next->prev = c;
    vs->convs = c;
    if ((c->account = strdup(account)) == NULL ||
        (id != NULL && (c->id = strdup(id)) == NULL) ||
        (type != NULL && (c->type = strdup(type)) == NULL)) {
        conv_free(c);
        return NULL;
    }
    return c;
}


/*
 * vCard to PEP (XEP-0398 section 3.2): the image goes to the data node
 * (item id: its SHA-1), then one <info/> describing it to the metadata
 * node, whose subscribers and the user's contacts are notified.  The
 * vCard can be read by anyone, so the nodes are created open; a node the
 * user configured otherwise keeps its access model (the publish is tried
 * again without publish-options).  Stages: 0 data with options, 1 data,
 * 2 metadata with options, 3 metadata.  A vCard without a photo publishes
 * an empty <metadata/>: the avatar is disabled (XEP-0084 section 4.5).
 */
static void conv_publish(vcard_conv_t *c);

static void
conv_published(int status, ember_cond_t cond, const char *app, void *ud)
{
    vcard_conv_t *c = ud;

    (void) app;
    if (status == EMBER_EPROTO && cond == EMBER_COND_CONFLICT &&
        c->stage % 2 == 0) {
        c->stage++;
        conv_publish(c);
        return;
    }
    if (status < 0 || c->stage >= 2) {
        if (status < 0 && status != EMBER_ECANCELED)
            api->log(c->m, EMBER_LOG_WARN, "avatar of %s not published on "
                     "PEP: %s", c->account, api->cond_name(cond));
        conv_free(c);
        return;
    }
    c->stage = 2;
    conv_publish(c);
}


static void
conv_publish(vcard_conv_t *c)
{
    vcard_state_t *vs = api->module_data(c->m);
    const ember_pubsub_iface_t *pi = engine(c->m);
    int meta = c->stage >= 2 || c->b64 == NULL;
    ember_stanza_t *payload, *opts = NULL, *info;
    char n[32];
    int err = EMBER_ENOMEM;

    if (meta && c->stage < 2)
        c->stage = 2;
    payload = api->stanza_new(meta ? "metadata" : "data",
                              meta ? NS_AVATAR_META : NS_AVATAR_DATA);
    if (payload == NULL || pi == NULL)
        goto fail;
    if (!meta) {
        if (api->stanza_add_text(payload, c->b64) < 0)
            goto fail;
    } else if (c->b64 != NULL) {
        snprintf(n, sizeof(n), "%zu", c->bytes);
        if ((info = api->stanza_add_child(payload, "info", NULL)) == NULL ||
            api->stanza_set_attr(info, "id", c->id) < 0 ||
            api->stanza_set_attr(info, "bytes", n) < 0 ||
            api->stanza_set_attr(info, "type", c->type) < 0)
            goto fail;
    }
    if (c->stage % 2 == 0 &&
        (opts = api->stanza_parse(open_form, sizeof(open_form) - 1)) == NULL)
        goto fail;
    err = pi->publish(pi, c->account, meta ? NS_AVATAR_META : NS_AVATAR_DATA,
                      c->b64 != NULL ? c->id : "current", payload, opts,
                      conv_published, c, &vs->opts);
fail:
    api->stanza_free(payload);
    api->stanza_free(opts);
    if (err < 0)
        conv_free(c);
}


static void
to_pep(ember_module_t *m, const char *account, const ember_stanza_t *vcard,
       const char *hex)
{
    ember_stanza_t *photo = api->stanza_child(vcard, "PHOTO", NS_VCARD);
    ember_stanza_t *type = api->stanza_child(photo, "TYPE", NS_VCARD);
    const char *t = type != NULL ? api->stanza_text(type) : "";
    vcard_conv_t *c;

    if (engine(m) == NULL ||
        (c = conv_new(m, account, hex, t[0] != '\0' ? t : "image/png")) ==
            NULL)
        return;
    if (hex[0] != '\0' &&
        ((c->b64 = b64_compact(photo_b64(vcard))) == NULL ||
         b64_hash(c->b64, c->id, &c->bytes) < 0)) {
        conv_free(c);
        return;
    }
    conv_publish(c);
}


/*
 * PEP to vCard (XEP-0398 section 3.1): the metadata names the image, the
 * data node holds it; the vCard's PHOTO becomes that image and its hash
 * the one presence carries.
 */
static void
photo_stored(int status, json_t *result, void *ud)
{
    vcard_conv_t *c = ud;
    const char *at = strchr(c->account, '@');
    char user[1024];

    (void) result;
    if (status < 0) {
        api->log(c->m, EMBER_LOG_WARN, "avatar of %s not copied to the "
                 "vCard: %s", c->account, api->strerror(status));
    } else if (at != NULL && (size_t) (at - c->account) < sizeof(user)) {
        memcpy(user, c->account, (size_t) (at - c->account));
        user[at - c->account] = '\0';
        photo_known(c->m, user, c->b64 != NULL ? c->id : "");
    }
    conv_free(c);
}


static void
vcard_for_photo(int status, json_t *doc, void *ud)
{
    vcard_conv_t *c = ud;
    vcard_state_t *vs = api->module_data(c->m);
    vcard_conf_t *conf = api->module_conf(c->m);
    const char *xml = json_string_value(json_object_get(doc, "xml"));
    ember_stanza_t *v = NULL, *e, *next, *photo;
    json_t *nd = NULL;
    char *out = NULL, *user = NULL;
    size_t len;

    if (status < 0 && status != EMBER_ENOENT)
        goto done;
    if (status == 0 && xml != NULL)
        v = api->stanza_parse(xml, strlen(xml));
    if (v == NULL && (v = api->stanza_new("vCard", NS_VCARD)) == NULL)
        goto done;
    for (e = api->stanza_first(v); e != NULL; e = next) {
        next = api->stanza_next(e);
        if (strcmp(api->stanza_name(e), "PHOTO") == 0)
            api->stanza_remove(e);
    }
    if (c->b64 != NULL &&
        ((photo = api->stanza_add_child(v, "PHOTO", NULL)) == NULL ||
         (e = api->stanza_add_child(photo, "TYPE", NULL)) == NULL ||
         api->stanza_add_text(e, c->type) < 0 ||
         (e = api->stanza_add_child(photo, "BINVAL", NULL)) == NULL ||
         api->stanza_add_text(e, c->b64) < 0))
        goto done;
    if ((out = api->stanza_serialize(v, &len)) == NULL)
        goto done;
    if (len > (size_t) conf->max_size) {
        api->log(c->m, EMBER_LOG_INFO, "avatar of %s not copied: the vCard "
                 "would pass max-size", c->account);
        goto done;
    }
    if (api->stanza_first(v) != NULL &&
        (nd = json_pack("{s:s, s:s}", "xml", out, "photo",
                        c->b64 != NULL ? c->id : "")) == NULL)
        goto done;
    if ((user = strdup(c->account)) == NULL)
        goto done;
    *strchr(user, '@') = '\0';
    if (api->keyval_set(vs->store, user, nd, photo_stored, c) == 0)
        c = NULL;
done:
    free(user);
    json_decref(nd);
    api->free(out);
    api->stanza_free(v);
    if (c != NULL)
        conv_free(c);
}


static void
store_photo(vcard_conv_t *c)
{
    vcard_state_t *vs = api->module_data(c->m);
    char *user = strdup(c->account);

    if (user != NULL)
        *strchr(user, '@') = '\0';
    if (user == NULL ||
        api->keyval_get(vs->store, user, vcard_for_photo, c) < 0)
        conv_free(c);
    free(user);
}


static void
got_avatar_data(int status, ember_cond_t cond, ember_stanza_t *items,
                const ember_stanza_t *config, void *ud)
{
    vcard_conv_t *c = ud;
    ember_stanza_t *it, *data = NULL;
    const char *id, *model;
    char hex[41];

    /* The vCard is world-readable: only an avatar that is too is copied
     * (XEP-0398 section 7, the access model of the data node). */
    model = config != NULL ? api->form_value(config, "pubsub#access_model")
                           : NULL;
    if (status == 0 && (model == NULL || strcmp(model, "open") != 0)) {
        conv_free(c);
        return;
    }
    for (it = status == 0 ? api->stanza_first(items) : NULL; it != NULL;
         it = api->stanza_next(it))
        if ((id = api->stanza_attr(it, "id")) != NULL &&
            strcmp(id, c->id) == 0)
            data = api->stanza_child(it, "data", NS_AVATAR_DATA);
    /* The image must be the one the id names (SHA-1, XEP-0084). */
    if (data == NULL || (c->b64 = b64_compact(api->stanza_text(data))) ==
                            NULL ||
        b64_hash(c->b64, hex, &c->bytes) < 0 || strcmp(hex, c->id) != 0) {
        if (status != EMBER_ECANCELED)
            api->log(c->m, EMBER_LOG_INFO, "avatar %s of %s: no matching "
                     "image in %s", c->id, c->account, NS_AVATAR_DATA);
        conv_free(c);
        return;
    }
    store_photo(c);
}


static int
vcard_on_pep_item(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    const ember_pubsub_event_t *pe = ev->data;
    vcard_state_t *vs = api->module_data(m);
    const ember_pubsub_iface_t *pi = engine(m);
    const ember_stanza_t *info = NULL, *e;
    vcard_conv_t *c;

    (void) ud;
    if (pe == NULL || pi == NULL || pe->by_module || pe->retracted ||
        pe->payload == NULL || strcmp(pe->node, NS_AVATAR_META) != 0 ||
        strchr(pe->account, '@') == NULL)
        return EMBER_HOOK_PASS;
    /* The one <info/> the vCard can hold: an image stored here, not at an
     * external URL. */
    for (e = api->stanza_first(pe->payload); e != NULL && info == NULL;
         e = api->stanza_next(e))
        if (strcmp(api->stanza_name(e), "info") == 0 &&
            api->stanza_attr(e, "url") == NULL &&
            api->stanza_attr(e, "id") != NULL)
            info = e;
    if (info == NULL && api->stanza_first(pe->payload) != NULL)
        return EMBER_HOOK_PASS;
    c = conv_new(m, pe->account,
                 info != NULL ? api->stanza_attr(info, "id") : NULL,
                 info != NULL && api->stanza_attr(info, "type") != NULL
                     ? api->stanza_attr(info, "type") : "image/png");
    if (c == NULL)
        return EMBER_HOOK_PASS;
    if (info == NULL)
        store_photo(c);
    else if (pi->items(pi, c->account, NS_AVATAR_DATA, 0, got_avatar_data, c,
                       &vs->opts) < 0)
        conv_free(c);
    return EMBER_HOOK_PASS;
}


static int
vcard_on_account_info(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    (void) ud;
    if (engine(m) != NULL)
        api->stanza_set_attr(api->stanza_add_child(ev->stanza, "feature",
                                                   NULL), "var",
                             NS_CONVERSION);
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
    vcard_state_t *vs = api->module_data(api->iq_module(ud));
    const char *user = api->jid_node(ev->to);
    const char *old = json_string_value(json_object_get(vs->photos, user));
    int changed = strcmp(old != NULL ? old : "", hex) != 0;

    photo_known(api->iq_module(ud), user, hex);
    if (changed)
        to_pep(api->iq_module(ud), api->jid_bare(ev->to),
               api->stanza_first(ev->stanza), hex);
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
    free(c->user);
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


/* Check the account argument and start a command on it, reading its
 * vCard into cb when cb is not NULL; NULL when the command has ended. */
static vcard_cmd_t *
cmd_start(ember_cmd_ctx_t *ctx, json_t *args, ember_module_t *m,
          ember_store_cb cb)
{
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
        (c->jid = strdup(api->jid_bare(j))) == NULL ||
        (c->user = strdup(api->jid_node(j))) == NULL) {
        if (c != NULL)
            free(c->jid);
        free(c);
        c = NULL;
        api->command_done(ctx, EMBER_ENOMEM, NULL, NULL);
        goto out;
    }
    c->m = m;
    c->ctx = ctx;
    c->next = vs->cmds;
    if (vs->cmds != NULL)
        vs->cmds->prev = c;
    vs->cmds = c;
    if (cb != NULL && api->keyval_get(vs->store, c->user, cb, c) < 0) {
        api->command_done(ctx, EMBER_EIO, NULL, "cannot read the store");
        cmd_free(c);
        c = NULL;
    }
out:
    api->jid_free(j);
    return c;
}


static void
vcard_cmd_get(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    cmd_start(ctx, args, ud, cmd_got_vcard);
}


/* ---- pie-export-vcard, pie-import-vcard: emberctl export and import
 * (XEP-0227 3.3; doc/migration.md) ---- */

static void
pie_got_vcard(int status, json_t *doc, void *ud)
{
    vcard_cmd_t *c = ud;
    const char *xml = json_string_value(json_object_get(doc, "xml"));
    json_t *els = json_array();

    if (status < 0 && status != EMBER_ENOENT) {
        json_decref(els);
        api->command_done(c->ctx, status, NULL, api->strerror(status));
    } else {
        if (status == 0 && xml != NULL)
            json_array_append_new(els, json_string(xml));
        api->command_done(c->ctx, 0, json_pack("{s:o}", "elements", els),
                          NULL);
    }
    cmd_free(c);
}


static void
vcard_pie_export(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    cmd_start(ctx, args, ud, pie_got_vcard);
}


static void
pie_saved(int status, json_t *result, void *ud)
{
    vcard_cmd_t *c = ud;

    if (status < 0) {
        api->command_done(c->ctx, status, NULL, "storing the vCard failed");
    } else {
        photo_known(c->m, c->user, c->hex);
        api->command_done(c->ctx, 0, json_pack("{s:[i]}", "taken",
                                               c->taken), NULL);
    }
    cmd_free(c);
}


static void
vcard_pie_import(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    ember_module_t *m = ud;
    vcard_conf_t *conf = api->module_conf(m);
    vcard_state_t *vs = api->module_data(m);
    json_t *elements = json_object_get(args, "elements"), *v, *doc = NULL;
    ember_stanza_t *st;
    const char *xml, *why = NULL;
    char msg[256], hex[41] = "";
    size_t i, found = 0;
    int have = 0, empty = 0;
    vcard_cmd_t *c;

    json_array_foreach(elements, i, v) {
        xml = json_string_value(v);
        st = xml != NULL ? api->stanza_parse(xml, strlen(xml)) : NULL;
        if (st == NULL || strcmp(api->stanza_name(st), "vCard") != 0 ||
            strcmp(api->stanza_xmlns(st), NS_VCARD) != 0) {
            api->stanza_free(st);
            continue;
        }
        if (have)
            why = "a second vCard";
        else if (strlen(xml) > (size_t) conf->max_size)
            why = "larger than the vcard module's max-size";
        else if (photo_hash(st, hex) < 0)
            why = "PHOTO/BINVAL is not base64";
        empty = api->stanza_first(st) == NULL;
        api->stanza_free(st);
        if (why != NULL) {
            snprintf(msg, sizeof(msg), "element %zu: vcard: %s", i, why);
            api->command_done(ctx, EMBER_EINVAL, NULL, msg);
            return;
        }
        have = 1;
        found = i;
    }
    if (!have || json_is_true(json_object_get(args, "check")) || empty) {
        api->command_done(ctx, 0, have ? json_pack("{s:[i]}", "taken",
                                                   (int) found)
                                       : json_pack("{s:[]}", "taken"),
                          NULL);
        return;
    }
    if ((c = cmd_start(ctx, args, m, NULL)) == NULL)
        return;
    c->taken = (int) found;
    memcpy(c->hex, hex, sizeof(hex));
    xml = json_string_value(json_array_get(elements, found));
    if ((doc = json_pack("{s:s, s:s}", "xml", xml, "photo", hex)) == NULL ||
        api->keyval_set(vs->store, c->user, doc, pie_saved, c) < 0) {
        api->command_done(ctx, EMBER_EIO, NULL, "cannot write the store");
        cmd_free(c);
    }
    json_decref(doc);
}


static const ember_cmd_arg_t vcard_get_args[] = {
    { "jid", EMBER_ARG_JID, 1, "the account, user@host" },
    { NULL, 0, 0, NULL }
};

static const ember_cmd_arg_t pie_import_args[] = { EMBER_PIE_IMPORT_ARGS };

static const ember_command_t vcard_commands[] = {
    { "vcard-get", "An account's vCard (XEP-0054) as XML", vcard_get_args,
      "read", vcard_cmd_get },
    { "pie-export-vcard", "a user's vCard as a XEP-0227 element",
      vcard_get_args, "local-read", vcard_pie_export },
    { "pie-import-vcard", "import a user's XEP-0227 vCard",
      pie_import_args, "local", vcard_pie_import },
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
    { EMBER_PUBSUB_EV_ITEM, vcard_on_pep_item, 0 },
    { EMBER_EV_ACCOUNT_DISCO_INFO, vcard_on_account_info, 0 },
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
    vs->opts.size = sizeof(vs->opts);
    if ((vs->photos = json_object()) == NULL ||
        (vs->store = api->store_open(m, "vcard", EMBER_STORE_KEYVAL)) ==
            NULL ||
        (vs->index = api->store_open(m, "vcard_photo", EMBER_STORE_MAP)) ==
            NULL)
        return EMBER_ENOMEM;
    if ((err = api->disco_add_feature(m, NS_VCARD)) < 0)
        return err;
    for (i = 0; i < sizeof(vcard_commands) / sizeof(vcard_commands[0]); i++)
        if ((err = api->command_register(m, &vcard_commands[i], m)) < 0)
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
    const ember_pubsub_iface_t *pi;

    if (vs == NULL)
        return;
    /* The core answers their callers (ECANCELED) as the module goes. */
    while (vs->cmds != NULL)
        cmd_free(vs->cmds);
    if ((pi = engine(m)) != NULL)
        pi->cancel(pi, got_avatar_data, conv_published);
    while (vs->convs != NULL)
        conv_free(vs->convs);
    json_decref(vs->photos);
    free(vs);
    api->module_set_data(m, NULL);
}


EMBER_MODULE_EXPORT const ember_plugin_t ember_module = {
    EMBER_MODULE_HEADER,
    .name = "vcard",
    .version = "1.1",
    .description = "XEP-0054: vcard-temp, with XEP-0153 avatar hashes and "
                   "XEP-0398 conversion to and from PEP avatars",
    .requires = (const char *const[]){ "hooks", "disco", "storage",
                                       "sessions", "ifaces", NULL },
    .conf_size = sizeof(vcard_conf_t),
    .options = vcard_options,
    .load = vcard_load,
    .unload = vcard_unload,
};
