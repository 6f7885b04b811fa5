/* mod_upload.c -- XEP-0363 HTTP File Upload on upload.HOST: slots with
 * size, type and quota checks, records kept in the store, files under the
 * data directory, expiry. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "upload.h"

#define NS_DISCO_INFO "http://jabber.org/protocol/disco#info"
#define NS_DISCO_ITEMS "http://jabber.org/protocol/disco#items"
#define MAX_NAME 255
#define MAX_TYPE 255

const ember_api_t *api;

static const ember_option_t up_options[] = {
    EMBER_OPT("domain", EMBER_OPT_STRING, up_conf_t, domain, "", 0, 1023,
              "the upload service's address; empty: upload.HOST"),
    EMBER_OPT("max-file-size", EMBER_OPT_STRING, up_conf_t, max_file_size,
              "100M", 1, 32, "largest file (bytes, or with K, M, G)"),
    EMBER_OPT("allowed-types", EMBER_OPT_STRING, up_conf_t, allowed_types,
              "", 0, 4096, "Content-Types a file may have, separated by "
              "spaces (image/* for all images); empty: any"),
    EMBER_OPT("quota-per-user", EMBER_OPT_STRING, up_conf_t, quota_user,
              "1G", 1, 32, "bytes one account may keep (K, M, G); 0: any"),
    EMBER_OPT("quota-total", EMBER_OPT_STRING, up_conf_t, quota_total,
              "10G", 1, 32, "bytes all accounts may keep (K, M, G, T); "
              "0: any"),
    EMBER_OPT("expire-after", EMBER_OPT_DURATION, up_conf_t, expire_after,
              "30d", 0, 315360000, "files are deleted this long after "
              "their upload; 0: kept"),
    EMBER_OPT("slot-ttl", EMBER_OPT_DURATION, up_conf_t, slot_ttl, "5m", 1,
              86400, "how long a slot waits for its upload"),
    EMBER_OPT("url-base", EMBER_OPT_STRING, up_conf_t, url_base, "", 0, 900,
              "URL the files are under, as clients reach it (a proxy "
              "in front, say); empty: this server's first https (else "
              "http) listener, /upload/HOST"),
    EMBER_OPT("path", EMBER_OPT_PATH, up_conf_t, path, "upload", 1, 4096,
              "the files' directory"),
    EMBER_OPT_END
};


/* ---- sizes ---- */

/* "100", "512K", "100M", "1G", "2T" (powers of 1024). */
static int
parse_size(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;
    int shift = 0;

    errno = 0;
    if (!isdigit((unsigned char) *s))
        return EMBER_EINVAL;
    v = strtoull(s, &end, 10);
    if (errno != 0)
        return EMBER_EINVAL;
    switch (toupper((unsigned char) *end)) {
    case '\0': break;
    case 'K': shift = 10; end++; break;
    case 'M': shift = 20; end++; break;
    case 'G': shift = 30; end++; break;
    case 'T': shift = 40; end++; break;
    default: return EMBER_EINVAL;
    }
    if (toupper((unsigned char) *end) == 'B' || toupper((unsigned char) *end) == 'I')
        end++;
    if (*end != '\0' || (shift > 0 && v > (UINT64_MAX >> shift)))
        return EMBER_EINVAL;
    *out = (uint64_t) v << shift;
    return 0;
}


/* ---- records ---- */

static unsigned
hash(const char *s)
{
    unsigned h = 2166136261u;

    while (*s != '\0')
        h = (h ^ (unsigned char) *s++) * 16777619u;
    return h;
}


up_file_t *
up_find(up_t *u, const char *id)
{
    up_file_t *f;

    if (u->nbuckets == 0 || strlen(id) != UP_ID_LEN)
        return NULL;
    for (f = u->files[hash(id) & (u->nbuckets - 1)]; f != NULL; f = f->hnext)
        if (strcmp(f->id, id) == 0)
            return f;
    return NULL;
}


static int
files_grow(up_t *u)
{
    size_t n = u->nbuckets != 0 ? u->nbuckets * 2 : 256, i;
    up_file_t **t = calloc(n, sizeof(*t)), *f, *next;

    if (t == NULL)
        return EMBER_ENOMEM;
    for (i = 0; i < u->nbuckets; i++)
        for (f = u->files[i]; f != NULL; f = next) {
            next = f->hnext;
            f->hnext = t[hash(f->id) & (n - 1)];
            t[hash(f->id) & (n - 1)] = f;
        }
    free(u->files);
    u->files = t;
    u->nbuckets = n;
    return 0;
}


up_user_t *
up_user(up_t *u, const char *owner, int create)
{
    up_user_t **b = &u->users[hash(owner) & 255], *p;

    for (p = *b; p != NULL; p = p->hnext)
        if (strcmp(p->owner, owner) == 0)
            return p;
    if (!create || (p = calloc(1, sizeof(*p))) == NULL)
        return NULL;
    if ((p->owner = strdup(owner)) == NULL) {
        free(p);
        return NULL;
    }
    p->hnext = *b;
    *b = p;
    return p;
}


static void
user_drop(up_t *u, up_user_t *p)
{
    up_user_t **b = &u->users[hash(p->owner) & 255];

    while (*b != p)
        b = &(*b)->hnext;
    *b = p->hnext;
    free(p->owner);
    free(p);
}


static void
file_free(up_file_t *f)
{
    free(f->owner);
    free(f->name);
    free(f->type);
    free(f);
}


/* Count f in its owner's and the total usage, and index it. */
static int
file_add(up_t *u, up_file_t *f)
{
    up_user_t *p;
    unsigned h;

    if (up_find(u, f->id) != NULL)
        return EMBER_EEXIST;
    if ((u->nfiles + 1 > u->nbuckets * 2 && files_grow(u) < 0) ||
        (p = up_user(u, f->owner, 1)) == NULL)
        return EMBER_ENOMEM;
    h = hash(f->id) & (u->nbuckets - 1);
    f->hnext = u->files[h];
    u->files[h] = f;
    f->next = u->all;
    if (u->all != NULL)
        u->all->prev = f;
    u->all = f;
    u->nfiles++;
    p->bytes += f->size;
    p->files++;
    u->total += f->size;
    return 0;
}


static void
file_unlink_index(up_t *u, up_file_t *f)
{
    up_file_t **b = &u->files[hash(f->id) & (u->nbuckets - 1)];
    up_user_t *p = up_user(u, f->owner, 0);

    while (*b != NULL && *b != f)
        b = &(*b)->hnext;
    if (*b == f)
        *b = f->hnext;
    if (f->prev != NULL)
        f->prev->next = f->next;
    else
        u->all = f->next;
    if (f->next != NULL)
        f->next->prev = f->prev;
    u->nfiles--;
    u->total -= f->size;
    if (p != NULL) {
        p->bytes -= f->size;
        if (--p->files == 0)
            user_drop(u, p);
    }
}


char *
up_path(const up_t *u, const up_file_t *f, int part)
{
    char *p;

    if (asprintf(&p, "%s/%s%s", u->conf->path, f->id, part ? ".part" : "")
        < 0)
        return NULL;
    return p;
}


static json_t *
file_doc(const up_file_t *f)
{
    return json_pack("{s:s,s:s,s:s,s:I,s:I,s:I}", "owner", f->owner,
                     "name", f->name, "type", f->type,
                     "size", (json_int_t) f->size,
                     "created", (json_int_t) f->created,
                     "stored", (json_int_t) f->stored);
}


int
up_save(up_t *u, up_file_t *f, ember_store_cb cb, void *ud)
{
    json_t *doc;
    int rc;

    if (u->st == NULL) {
        if (cb != NULL)
            cb(0, NULL, ud);
        return 0;
    }
    if ((doc = file_doc(f)) == NULL)
        return EMBER_ENOMEM;
    rc = api->map_set(u->st, NULL, f->id, doc, cb, ud);
    json_decref(doc);
    return rc;
}


static void
removed(int status, json_t *result, void *ud)
{
    up_t *u = ud;

    (void) result;
    if (status < 0)
        api->log(u->m, EMBER_LOG_WARN, "cannot delete an upload's record: "
                 "%s", api->strerror(status));
}


void
up_remove(up_t *u, up_file_t *f)
{
    char *path = up_path(u, f, 0), *part = up_path(u, f, 1);

    /* The file goes first: a record without its file is a 404, a file
     * without its record would never be purged. */
    if (path != NULL)
        unlink(path);
    if (part != NULL)
        unlink(part);
    free(path);
    free(part);
    if (u->st != NULL)
        api->map_set(u->st, NULL, f->id, NULL, removed, u);
    file_unlink_index(u, f);
    file_free(f);
}


static char *
pct_encode(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(s), i, o = 0;
    char *out = malloc(n * 3 + 1);

    if (out == NULL)
        return NULL;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char) s[i];

        if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
            out[o++] = (char) c;
        } else {
            out[o++] = '%';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    out[o] = '\0';
    return out;
}


char *
up_url(const up_t *u, const up_file_t *f)
{
    char *name = pct_encode(f->name), *url;

    if (name == NULL)
        return NULL;
    if (asprintf(&url, "%s/%s/%s", u->base, f->id, name) < 0)
        url = NULL;
    free(name);
    return url;
}


/* ---- slot requests ---- */

/* The name in a URL path segment: no '/', '\\', '%', control characters,
 * "." or "..", valid UTF-8 left alone.  The core refuses an encoded '/'
 * and a '%' that still encodes after decoding (double-decoding tricks),
 * so those are replaced rather than encoded. */
static char *
url_name(const char *s)
{
    char *n = strdup(s), *p;

    if (n == NULL)
        return NULL;
    for (p = n; *p != '\0'; p++)
        if (*p == '/' || *p == '\\' || *p == '%' ||
            (unsigned char) *p < 0x20 || *p == 0x7f)
            *p = '_';
    if (strcmp(n, ".") == 0 || strcmp(n, "..") == 0)
        n[0] = '_';
    return n;
}


static int
type_valid(const char *t)
{
    const char *slash = strchr(t, '/');
    size_t i;

    if (slash == NULL || slash == t || slash[1] == '\0' ||
        strlen(t) > MAX_TYPE)
        return 0;
    for (i = 0; t[i] != '\0'; i++)
        if ((unsigned char) t[i] < 0x20 || (unsigned char) t[i] >= 0x7f)
            return 0;
    return 1;
}


/* Whether type (its media type, parameters aside) is in the list. */
static int
type_allowed(const char *list, const char *type)
{
    size_t tl = strcspn(type, "; \t"), n;
    const char *p = list;

    if (*list == '\0')
        return 1;
    while (*p != '\0') {
        p += strspn(p, " \t\n,");
        n = strcspn(p, " \t\n,");
        if (n == 0)
            break;
        if ((n == tl && strncasecmp(p, type, n) == 0) ||
            (n >= 2 && p[n - 1] == '*' && p[n - 2] == '/' &&
             tl > n - 1 && strncasecmp(p, type, n - 1) == 0) ||
            (n == 3 && strncmp(p, "*/*", 3) == 0))
            return 1;
        p += n;
    }
    return 0;
}


static void
random_id(char *out)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuv"
                              "wxyz0123456789-_";
    unsigned char r[UP_ID_LEN];
    size_t i;

    /* 22 characters of 6 bits: 132 bits of the key generator. */
    gnutls_rnd(GNUTLS_RND_KEY, r, sizeof(r));
    for (i = 0; i < UP_ID_LEN; i++)
        out[i] = b64[r[i] & 63];
    out[UP_ID_LEN] = '\0';
}


static void
fail_with(ember_iq_t *iq, ember_cond_t cond, const char *text,
          ember_stanza_t *app)
{
    api->iq_fail_app(iq, cond, text, app);
    api->stanza_free(app);
}


typedef struct {
    up_t *u;
    ember_iq_t *iq;
    char id[UP_ID_LEN + 1];
} slot_req_t;


static void
slot_saved(int status, json_t *result, void *ud)
{
    slot_req_t *r = ud;
    up_t *u = r->u;
    up_file_t *f = up_find(u, r->id);
    ember_stanza_t *slot = NULL, *put, *get;
    char *url = NULL;

    (void) result;
    if (status < 0 || f == NULL) {
        api->log(u->m, EMBER_LOG_WARN, "cannot store an upload slot: %s",
                 api->strerror(status));
        if (f != NULL)
            up_remove(u, f);
        api->iq_fail(r->iq, EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
        free(r);
        return;
    }
    if ((url = up_url(u, f)) == NULL ||
        (slot = api->stanza_new("slot", NS_UPLOAD)) == NULL ||
        (put = api->stanza_add_child(slot, "put", NULL)) == NULL ||
        (get = api->stanza_add_child(slot, "get", NULL)) == NULL ||
        api->stanza_set_attr(put, "url", url) < 0 ||
        api->stanza_set_attr(get, "url", url) < 0) {
        api->stanza_free(slot);
        api->iq_fail(r->iq, EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
    } else {
        api->log(u->m, EMBER_LOG_INFO, "upload slot %s for %s: %s, %llu "
                 "bytes", f->id, f->owner, f->name,
                 (unsigned long long) f->size);
        api->iq_answer(r->iq, slot);
    }
    free(url);
    free(r);
}


static ember_stanza_t *
too_large(uint64_t max)
{
    ember_stanza_t *e = api->stanza_new("file-too-large", NS_UPLOAD), *m;
    char n[32];

    snprintf(n, sizeof(n), "%llu", (unsigned long long) max);
    if (e != NULL && (m = api->stanza_add_child(e, "max-file-size", NULL))
        != NULL)
        api->stanza_add_text(m, n);
    return e;
}


static ember_stanza_t *
retry_at(time_t when)
{
    ember_stanza_t *e = api->stanza_new("retry", NS_UPLOAD);
    char stamp[32];
    struct tm tm;

    gmtime_r(&when, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (e != NULL)
        api->stanza_set_attr(e, "stamp", stamp);
    return e;
}


/* When the first of owner's files (or anyone's) expires, or 0. */
static time_t
first_expiry(const up_t *u, const char *owner)
{
    const up_file_t *f;
    time_t first = 0, t;

    if (u->conf->expire_after == 0)
        return 0;
    for (f = u->all; f != NULL; f = f->next) {
        if (f->state != UP_STORED ||
            (owner != NULL && strcmp(f->owner, owner) != 0))
            continue;
        t = f->stored + u->conf->expire_after;
        if (first == 0 || t < first)
            first = t;
    }
    return first;
}


/* The request's iq is deferred: its event lives as long as the handle. */
static void
slot_request(up_t *u, ember_iq_t *iq)
{
    const ember_event_t *ev = api->iq_event(iq);
    ember_stanza_t *q = api->stanza_first(ev->stanza);
    const char *name = api->stanza_attr(q, "filename");
    const char *size_s = api->stanza_attr(q, "size");
    const char *type = api->stanza_attr(q, "content-type");
    const char *owner = api->jid_bare(ev->from);
    up_user_t *usage = up_user(u, owner, 0);
    unsigned long long size;
    slot_req_t *r;
    up_file_t *f;
    char text[160], *end;
    int rc;

    errno = 0;
    size = size_s != NULL && isdigit((unsigned char) size_s[0])
           ? strtoull(size_s, &end, 10) : 0;
    if (name == NULL || name[0] == '\0' || strlen(name) > MAX_NAME ||
        size_s == NULL || !isdigit((unsigned char) size_s[0]) ||
        errno != 0 || *end != '\0') {
        api->iq_fail(iq, EMBER_COND_BAD_REQUEST, "a request needs a "
                     "filename (up to 255 bytes) and a size in bytes");
        return;
    }
    if (type != NULL && type[0] != '\0' && !type_valid(type)) {
        api->iq_fail(iq, EMBER_COND_BAD_REQUEST, "content-type is not a "
                     "media type");
        return;
    }
    if (size > u->max_size) {
        snprintf(text, sizeof(text), "the file is larger than the %llu "
                 "bytes allowed", (unsigned long long) u->max_size);
        fail_with(iq, EMBER_COND_NOT_ACCEPTABLE, text,
                  too_large(u->max_size));
        return;
    }
    if (!type_allowed(u->conf->allowed_types,
                      type != NULL && type[0] != '\0' ? type
                                                      : "application/"
                                                        "octet-stream")) {
        snprintf(text, sizeof(text), "files of type %.60s are not taken "
                 "here", type != NULL && type[0] != '\0' ? type
                                                         : "(none given)");
        api->iq_fail(iq, EMBER_COND_NOT_ACCEPTABLE, text);
        return;
    }
    if (u->quota_user != 0 &&
        (usage != NULL ? usage->bytes : 0) + size > u->quota_user) {
        snprintf(text, sizeof(text), "over your upload quota of %llu "
                 "bytes", (unsigned long long) u->quota_user);
        fail_with(iq, EMBER_COND_RESOURCE_CONSTRAINT, text,
                  first_expiry(u, owner) != 0
                  ? retry_at(first_expiry(u, owner)) : NULL);
        return;
    }
    if (u->quota_total != 0 && u->total + size > u->quota_total) {
        fail_with(iq, EMBER_COND_RESOURCE_CONSTRAINT, "the server's "
                  "upload space is full",
                  first_expiry(u, NULL) != 0
                  ? retry_at(first_expiry(u, NULL)) : NULL);
        return;
    }
    if ((f = calloc(1, sizeof(*f))) == NULL ||
        (f->owner = strdup(owner)) == NULL ||
        (f->name = url_name(name)) == NULL ||
        (f->type = strdup(type != NULL ? type : "")) == NULL ||
        (r = calloc(1, sizeof(*r))) == NULL) {
        if (f != NULL)
            file_free(f);
        api->iq_fail(iq, EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
        return;
    }
    do
        random_id(f->id);
    while (up_find(u, f->id) != NULL);
    f->size = size;
    f->created = time(NULL);
    if ((rc = file_add(u, f)) < 0) {
        file_free(f);
        free(r);
        api->iq_fail(iq, EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
        return;
    }
    r->u = u;
    r->iq = iq;
    memcpy(r->id, f->id, sizeof(r->id));
    if (up_save(u, f, slot_saved, r) < 0)
        slot_saved(EMBER_EIO, NULL, r);
}


/* ---- while the records load ---- */

void
up_wait_link(up_t *u, up_wait_t *w)
{
    w->prev = u->waiting_last;
    w->next = NULL;
    if (u->waiting_last != NULL)
        u->waiting_last->next = w;
    else
        u->waiting = w;
    u->waiting_last = w;
    u->nwaiting++;
}


void
up_wait_unlink(up_t *u, up_wait_t *w)
{
    if (w->prev != NULL)
        w->prev->next = w->next;
    else
        u->waiting = w->next;
    if (w->next != NULL)
        w->next->prev = w->prev;
    else
        u->waiting_last = w->prev;
    u->nwaiting--;
}


/* The records are in: answer what waited for them, oldest first. */
static void
waiting_resume(up_t *u)
{
    up_wait_t *w;

    while ((w = u->waiting) != NULL) {
        up_wait_unlink(u, w);
        if (w->req != NULL) {
            api->http_on_closed(w->req, NULL, NULL);
            w->handler(u->m, w->req, u);
        } else {
            slot_request(u, w->iq);
        }
        free(w);
    }
}


static void
on_request(up_t *u, const ember_event_t *ev)
{
    ember_iq_t *iq;
    up_wait_t *w;

    if ((iq = api->iq_defer(u->m, ev)) == NULL) {
        api->stanza_error(ev, EMBER_COND_INTERNAL_SERVER_ERROR, NULL);
        return;
    }
    if (api->jid_node(ev->from) == NULL ||
        strcmp(api->jid_domain(ev->from), api->module_host(u->m)) != 0) {
        api->iq_fail(iq, EMBER_COND_FORBIDDEN, "only accounts of this "
                     "server may upload");
        return;
    }
    if (!u->loading) {
        slot_request(u, iq);
        return;
    }
    if (u->nwaiting >= UP_MAX_WAITING ||
        (w = calloc(1, sizeof(*w))) == NULL) {
        api->iq_fail(iq, EMBER_COND_RESOURCE_CONSTRAINT, "starting up: "
                     "try again in a moment");
        return;
    }
    w->iq = iq;
    up_wait_link(u, w);
}


static ember_stanza_t *
disco_info(up_t *u)
{
    ember_stanza_t *q = api->stanza_new("query", NS_DISCO_INFO), *id, *x;
    char n[32];

    if (q == NULL)
        return NULL;
    id = api->stanza_add_child(q, "identity", NULL);
    api->stanza_set_attr(id, "category", "store");
    api->stanza_set_attr(id, "type", "file");
    api->stanza_set_attr(id, "name", "HTTP File Upload");
    api->stanza_set_attr(api->stanza_add_child(q, "feature", NULL), "var",
                         NS_UPLOAD);
    api->stanza_set_attr(api->stanza_add_child(q, "feature", NULL), "var",
                         NS_DISCO_INFO);
    if ((x = api->form_new(q, "result", NULL, NS_UPLOAD)) != NULL) {
        const char *v[] = { n, NULL };

        snprintf(n, sizeof(n), "%llu", (unsigned long long) u->max_size);
        api->form_add_field(x, "max-file-size", NULL, NULL, v);
    }
    return q;
}


static int
up_dispatch(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    up_t *u = ud;
    const char *type = api->stanza_attr(ev->stanza, "type");
    ember_stanza_t *q = api->stanza_first(ev->stanza);
    const char *ns = q != NULL ? api->stanza_xmlns(q) : NULL;

    (void) m;
    if (strcmp(api->stanza_name(ev->stanza), "iq") != 0 || type == NULL ||
        strcmp(type, "get") != 0 || ns == NULL ||
        api->jid_node(ev->to) != NULL || api->jid_resource(ev->to) != NULL)
        return EMBER_HOOK_PASS;
    if (strcmp(ns, NS_DISCO_INFO) == 0 &&
        api->stanza_attr(q, "node") == NULL) {
        api->iq_result(ev, disco_info(u));
        return EMBER_HOOK_HANDLED;
    }
    if (strcmp(ns, NS_DISCO_ITEMS) == 0 &&
        api->stanza_attr(q, "node") == NULL) {
        api->iq_result(ev, api->stanza_new("query", NS_DISCO_ITEMS));
        return EMBER_HOOK_HANDLED;
    }
    if (strcmp(ns, NS_UPLOAD) == 0 &&
        strcmp(api->stanza_name(q), "request") == 0) {
        on_request(u, ev);
        return EMBER_HOOK_HANDLED;
    }
    return EMBER_HOOK_PASS;
}


/* ---- expiry ---- */

static void purge(ember_module_t *m, ember_timer_t *t, void *ud);


static void
purge_schedule(up_t *u)
{
    uint64_t every = u->conf->expire_after > 0
                     ? (uint64_t) u->conf->expire_after * 1000 / 2 : 0;
    uint64_t slots = (uint64_t) u->conf->slot_ttl * 1000;

    if (every == 0 || every > slots)
        every = slots;
    if (every > 3600 * 1000)
        every = 3600 * 1000;
    if (every < 1000)
        every = 1000;
    u->purge = api->timer_start(u->m, every, every, purge, u);
}


static void
purge(ember_module_t *m, ember_timer_t *t, void *ud)
{
    up_t *u = ud;
    time_t now = time(NULL);
    up_file_t *f, *next;
    unsigned n = 0;

    (void) m;
    (void) t;
    for (f = u->all; f != NULL; f = next) {
        next = f->next;
        if ((f->state == UP_STORED && u->conf->expire_after > 0 &&
             now >= f->stored + u->conf->expire_after) ||
            (f->state == UP_SLOT && now > f->created + u->conf->slot_ttl)) {
            n += f->state == UP_STORED;
            up_remove(u, f);
        }
    }
    if (n > 0)
        api->log(u->m, EMBER_LOG_INFO, "%u uploaded files expired", n);
}


/* ---- accounts ---- */

static int
on_user_deleted(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    up_t *u = ud;
    up_file_t *f, *next;
    char *owner;

    (void) m;
    if (ev->data == NULL ||
        asprintf(&owner, "%s@%s", (const char *) ev->data,
                 api->module_host(u->m)) < 0)
        return EMBER_HOOK_PASS;
    for (f = u->all; f != NULL; f = next) {
        next = f->next;
        if (strcmp(f->owner, owner) == 0 && f->put == NULL)
            up_remove(u, f);
    }
    free(owner);
    return EMBER_HOOK_PASS;
}


/* ---- loading ---- */

static void
loaded(int status, json_t *result, void *ud)
{
    up_t *u = ud;
    const char *id;
    json_t *doc;
    up_file_t *f;
    struct stat sb;
    char *path;

    u->loading = 0;
    if (status < 0 && status != EMBER_ENOENT)
        api->log(u->m, EMBER_LOG_ERROR, "cannot read the uploads' records: "
                 "%s", api->strerror(status));
    if (status == 0)
        json_object_foreach(result, id, doc) {
            const char *o = json_string_value(json_object_get(doc, "owner"));
            const char *n = json_string_value(json_object_get(doc, "name"));
            const char *t = json_string_value(json_object_get(doc, "type"));

            if (o == NULL || n == NULL || t == NULL ||
                strlen(id) != UP_ID_LEN || (f = calloc(1, sizeof(*f))) == NULL)
                continue;
            memcpy(f->id, id, UP_ID_LEN + 1);
            f->owner = strdup(o);
            f->name = strdup(n);
            f->type = strdup(t);
            f->size = (uint64_t) json_integer_value(json_object_get(doc,
                                                                    "size"));
            f->created = (time_t) json_integer_value(json_object_get(
                             doc, "created"));
            f->stored = (time_t) json_integer_value(json_object_get(
                            doc, "stored"));
            f->state = f->stored != 0 ? UP_STORED : UP_SLOT;
            if (f->owner == NULL || f->name == NULL || f->type == NULL ||
                file_add(u, f) < 0) {
                file_free(f);
                continue;
            }
            /* A slot's upload was cut by the stop: the client asks again. */
            if ((path = up_path(u, f, 1)) != NULL) {
                unlink(path);
                free(path);
                path = NULL;
            }
            if (f->state == UP_STORED &&
                ((path = up_path(u, f, 0)) == NULL || stat(path, &sb) != 0 ||
                 (uint64_t) sb.st_size != f->size)) {
                api->log(u->m, EMBER_LOG_WARN, "upload %s: its file is "
                         "missing, forgotten", f->id);
                up_remove(u, f);
            }
            free(path);
        }
    purge_schedule(u);
    waiting_resume(u);
}


static int
mkdirs(const char *path)
{
    char *p = strdup(path), *s;
    int rc = 0;

    if (p == NULL)
        return -1;
    for (s = p + 1; rc == 0 && *s != '\0'; s++)
        if (*s == '/') {
            *s = '\0';
            if (mkdir(p, 0750) != 0 && errno != EEXIST)
                rc = -1;
            *s = '/';
        }
    if (rc == 0 && mkdir(p, 0750) != 0 && errno != EEXIST)
        rc = -1;
    free(p);
    return rc;
}


/* base and route from url-base, or from the server's listeners. */
static int
url_setup(up_t *u)
{
    const char *b = u->conf->url_base, *path;
    char host[512];
    size_t n;
    int rc;

    if (b[0] == '\0') {
        if ((rc = api->http_url(u->m, host, sizeof(host))) < 0)
            return rc;
        snprintf(u->base, sizeof(u->base), "%s/upload/%s", host,
                 api->module_host(u->m));
    } else {
        if (strncmp(b, "https://", 8) != 0 && strncmp(b, "http://", 7) != 0)
            return EMBER_EINVAL;
        snprintf(u->base, sizeof(u->base), "%s", b);
    }
    n = strlen(u->base);
    while (n > 0 && u->base[n - 1] == '/')
        u->base[--n] = '\0';
    path = strchr(strstr(u->base, "://") + 3, '/');
    snprintf(u->route, sizeof(u->route), "%s", path != NULL ? path : "");
    return 0;
}


static void
up_unload(ember_module_t *m)
{
    up_t *u = api->module_data(m);
    up_wait_t *w;
    up_file_t *f;
    size_t i;

    if (u == NULL)
        return;
    if (u->purge != NULL)
        api->timer_stop(m, u->purge);
    /* The core answers the requests and iqs a module leaves behind. */
    while ((w = u->waiting) != NULL) {
        up_wait_unlink(u, w);
        free(w);
    }
    while ((f = u->all) != NULL) {
        u->all = f->next;
        file_free(f);
    }
    for (i = 0; i < 256; i++)
        while (u->users[i] != NULL)
            user_drop(u, u->users[i]);
    free(u->files);
    free(u);
    api->module_set_data(m, NULL);
}


static int
up_load(ember_module_t *m, const ember_api_t *a)
{
    const up_conf_t *conf;
    up_t *u;
    int err;

    api = a;
    conf = api->module_conf(m);
    if ((u = calloc(1, sizeof(*u))) == NULL)
        return EMBER_ENOMEM;
    u->m = m;
    u->conf = conf;
    api->module_set_data(m, u);
    if (parse_size(conf->max_file_size, &u->max_size) < 0 ||
        parse_size(conf->quota_user, &u->quota_user) < 0 ||
        parse_size(conf->quota_total, &u->quota_total) < 0) {
        api->log(m, EMBER_LOG_ERROR, "max-file-size, quota-per-user and "
                 "quota-total are bytes, with K, M, G or T after them");
        err = EMBER_EINVAL;
        goto fail;
    }
    if ((err = url_setup(u)) < 0) {
        api->log(m, EMBER_LOG_ERROR, err == EMBER_ENOENT
                 ? "no http or https listener serves the files: add one, "
                   "or set url-base to the URL of a proxy in front"
                 : "url-base must be an http:// or https:// URL");
        goto fail;
    }
    if (mkdirs(conf->path) != 0) {
        api->log(m, EMBER_LOG_ERROR, "cannot create %s: %s", conf->path,
                 strerror(errno));
        err = EMBER_EIO;
        goto fail;
    }
    if (conf->domain[0] != '\0')
        snprintf(u->domain, sizeof(u->domain), "%s", conf->domain);
    else
        snprintf(u->domain, sizeof(u->domain), "upload.%s",
                 api->module_host(m));
    if ((err = files_grow(u)) < 0 ||
        (err = api->service_add(m, u->domain, up_dispatch, u)) < 0 ||
        (err = api->disco_add_item(m, u->domain, "HTTP File Upload")) < 0 ||
        (err = api->hook(m, EMBER_EV_USER_DELETED, on_user_deleted, 0,
                         u)) < 0 ||
        (err = up_http_start(u)) < 0 ||
        (err = up_cmd_register(u)) < 0)
        goto fail;
    u->st = api->store_open(m, "upload_files", EMBER_STORE_MAP);
    if (u->st == NULL) {
        api->log(m, EMBER_LOG_WARN, "no storage: uploads are forgotten at "
                 "the next start");
        purge_schedule(u);
        return 0;
    }
    u->loading = 1;
    if ((err = api->map_all(u->st, NULL, loaded, u)) < 0)
        goto fail;
    return 0;

fail:
    up_unload(m);
    return err;
}


EMBER_MODULE_EXPORT const ember_plugin_t ember_module = {
    EMBER_MODULE_HEADER_MIN(6),
    .name = "upload",
    .version = "1.0",
    .description = "XEP-0363 HTTP File Upload: files shared in chats, "
                   "kept under the data directory with quotas and expiry",
    .requires = (const char *const[]){ "hooks", "disco", "iq", "services",
                                       "http", "storage", "timers",
                                       "commands", "forms", NULL },
    .conf_size = sizeof(up_conf_t),
    .options = up_options,
    .load = up_load,
    .unload = up_unload,
};
