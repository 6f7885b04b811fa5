/* upload_http.c -- the files over HTTP: PUT into a slot (streamed to
 * disk), GET and HEAD with ranges, CORS for browser clients.  An uploaded
 * file never runs as a page of the server's origin: active types are sent
 * as downloads, with nosniff and a sandboxing CSP. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "upload.h"

#define CSP "default-src 'none'; sandbox; frame-ancestors 'none'"

static up_t *route_owner(ember_http_req_t *req);


static int
answer(ember_http_req_t *req, int status, const char *text)
{
    const char *h[] = { "Content-Type", "text/plain; charset=utf-8",
                        "Access-Control-Allow-Origin", "*",
                        "X-Content-Type-Options", "nosniff", NULL };
    char body[256];

    snprintf(body, sizeof(body), "%s\n", text);
    return api->http_respond(req, status, h, body, strlen(body));
}


/* The record a request's path names, or NULL. */
static up_file_t *
file_of(up_t *u, ember_http_req_t *req)
{
    const char *id = api->http_param(req, "id");
    const char *name = api->http_param(req, "name");
    up_file_t *f;

    if (u == NULL || id == NULL || name == NULL ||
        strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                   "0123456789-_") != UP_ID_LEN || id[UP_ID_LEN] != '\0' ||
        (f = up_find(u, id)) == NULL || strcmp(f->name, name) != 0)
        return NULL;
    return f;
}


/* ---- PUT ---- */

static void
put_closed(ember_http_req_t *req, void *ud)
{
    up_file_t *f = ud;
    up_t *u = route_owner(req);
    char *part;

    /* The client left before the answer: the slot may be used again. */
    f->put = NULL;
    if (f->state == UP_WRITING) {
        f->state = UP_SLOT;
        if (u != NULL && (part = up_path(u, f, 1)) != NULL) {
            unlink(part);
            free(part);
        }
    }
}


typedef struct {
    up_t *u;
    char id[UP_ID_LEN + 1];
} put_ctx_t;


static void
put_saved(int status, json_t *result, void *ud)
{
    put_ctx_t *p = ud;
    up_file_t *f = up_find(p->u, p->id);

    (void) result;
    if (f == NULL || f->put == NULL) {
        free(p);
        return;
    }
    api->http_on_closed(f->put, NULL, NULL);
    if (status < 0) {
        api->log(p->u->m, EMBER_LOG_WARN, "upload %s: cannot store its "
                 "record: %s", f->id, api->strerror(status));
        answer(f->put, 500, "the upload could not be recorded");
    } else {
        const char *h[] = { "Access-Control-Allow-Origin", "*", NULL };

        api->log(p->u->m, EMBER_LOG_INFO, "upload %s stored for %s: %llu "
                 "bytes", f->id, f->owner, (unsigned long long) f->size);
        api->http_respond(f->put, 201, h, NULL, 0);
    }
    f->put = NULL;
    free(p);
}


static void
put_done(ember_http_req_t *req, int status, uint64_t bytes, void *ud)
{
    up_file_t *f = ud;
    up_t *u = route_owner(req);
    char *part = u != NULL ? up_path(u, f, 1) : NULL;
    char *path = u != NULL ? up_path(u, f, 0) : NULL;
    char text[160];
    put_ctx_t *p;

    if (part == NULL || path == NULL || status < 0 || bytes != f->size ||
        rename(part, path) != 0) {
        if (part != NULL)
            unlink(part);
        f->state = UP_SLOT;
        f->put = NULL;
        api->http_on_closed(req, NULL, NULL);
        if (status < 0 || part == NULL || path == NULL)
            answer(req, 500, "the file could not be written");
        else if (bytes != f->size) {
            snprintf(text, sizeof(text), "the body has %llu bytes, the slot "
                     "is for %llu", (unsigned long long) bytes,
                     (unsigned long long) f->size);
            answer(req, 400, text);
        } else
            answer(req, 500, "the file could not be kept");
        free(part);
        free(path);
        return;
    }
    free(part);
    free(path);
    f->state = UP_STORED;
    f->stored = time(NULL);
    if ((p = calloc(1, sizeof(*p))) == NULL) {
        put_saved(EMBER_ENOMEM, NULL, NULL);
        return;
    }
    p->u = u;
    memcpy(p->id, f->id, sizeof(p->id));
    if (up_save(u, f, put_saved, p) < 0)
        put_saved(EMBER_EIO, NULL, p);
}


static int
same_type(const char *a, const char *b)
{
    size_t la = strcspn(a, "; \t"), lb = strcspn(b, "; \t");

    return la == lb && strncasecmp(a, b, la) == 0;
}


static int
on_put(ember_module_t *m, ember_http_req_t *req, void *ud)
{
    up_t *u = ud;
    up_file_t *f = file_of(u, req);
    const char *len = api->http_header(req, "content-length");
    const char *type = api->http_header(req, "content-type");
    char *part;
    int fd, rc;

    (void) m;
    if (u->loading)
        return up_http_wait(u, req, on_put);
    if (f == NULL)
        return answer(req, 403, "no such upload slot");
    if (f->state != UP_SLOT)
        return answer(req, 409, "this slot was used already");
    if (time(NULL) > f->created + u->conf->slot_ttl)
        return answer(req, 403, "the upload slot expired: ask for another");
    if (len != NULL && strtoull(len, NULL, 10) != f->size)
        return answer(req, strtoull(len, NULL, 10) > f->size ? 413 : 400,
                      "Content-Length is not the slot's size");
    if (f->type[0] != '\0' && (type == NULL || !same_type(type, f->type)))
        return answer(req, 415, "Content-Type is not the slot's type");
    if ((part = up_path(u, f, 1)) == NULL)
        return answer(req, 500, "out of memory");
    fd = open(part, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
              0640);
    if (fd < 0 && errno == EEXIST && unlink(part) == 0)
        fd = open(part, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
                  0640);
    if (fd < 0) {
        api->log(u->m, EMBER_LOG_WARN, "cannot create %s: %s", part,
                 strerror(errno));
        free(part);
        return answer(req, 500, "the file could not be created");
    }
    free(part);
    f->state = UP_WRITING;
    f->put = req;
    api->http_on_closed(req, put_closed, f);
    if ((rc = api->http_body_to_fd(req, fd, put_done, f)) < 0) {
        f->state = UP_SLOT;
        f->put = NULL;
        if (rc != EMBER_ECANCELED) {
            api->http_on_closed(req, NULL, NULL);
            return answer(req, 500, "the upload could not start");
        }
    }
    return 0;
}


/* ---- GET and HEAD ---- */

/* Types a browser shows inline without running anything. */
static int
passive_inline(const char *type)
{
    static const char *const ok[] = {
        "image/png", "image/jpeg", "image/gif", "image/webp", "image/avif",
        "image/heic", "image/heif", "image/bmp",
    };
    size_t i, n = strcspn(type, "; \t");

    if (strncasecmp(type, "audio/", 6) == 0 ||
        strncasecmp(type, "video/", 6) == 0)
        return 1;
    for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        if (n == strlen(ok[i]) && strncasecmp(type, ok[i], n) == 0)
            return 1;
    return 0;
}


/* Types a browser may run as a document or script: never sent as such. */
static int
active(const char *type)
{
    static const char *const bad[] = {
        "text/html", "application/xhtml+xml", "image/svg+xml", "text/xml",
        "application/xml", "text/javascript", "application/javascript",
        "application/ecmascript", "text/ecmascript", "application/x-"
        "javascript", "text/xsl", "application/pdf", "multipart/",
        "application/wasm",
    };
    size_t i, n = strcspn(type, "; \t");

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (strncasecmp(type, bad[i], strlen(bad[i])) == 0 &&
            (bad[i][strlen(bad[i]) - 1] == '/' || n == strlen(bad[i])))
            return 1;
    return strcasestr(type, "+xml") != NULL || strcasestr(type, "html") != NULL;
}


/* Content-Disposition with an ASCII fallback and the RFC 8187 name. */
static char *
disposition(const up_file_t *f, int inl)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(f->name), i, a = 0, e = 0;
    char *ascii = malloc(n + 1), *enc = malloc(n * 3 + 1), *out = NULL;

    if (ascii == NULL || enc == NULL)
        goto done;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char) f->name[i];

        ascii[a++] = c < 0x20 || c >= 0x7f || c == '"' || c == '\\' ||
                     c == ';' ? '_' : (char) c;
        if (isalnum(c) || strchr("!#$&+-.^_`|~", c) != NULL) {
            enc[e++] = (char) c;
        } else {
            enc[e++] = '%';
            enc[e++] = hex[c >> 4];
            enc[e++] = hex[c & 15];
        }
    }
    ascii[a] = enc[e] = '\0';
    if (asprintf(&out, "%s; filename=\"%s\"; filename*=UTF-8''%s",
                 inl ? "inline" : "attachment", ascii, enc) < 0)
        out = NULL;
done:
    free(ascii);
    free(enc);
    return out;
}


/*
 * One range of "bytes=a-b", "bytes=a-" or "bytes=-n" (RFC 9110 14.1.2):
 * 1 with *off, *len; 0 to send the whole (none, or several ranges); -1
 * when it cannot be satisfied.
 */
static int
parse_range(const char *h, uint64_t size, uint64_t *off, uint64_t *len)
{
    unsigned long long a, b;
    char *end;

    if (h == NULL || strncasecmp(h, "bytes=", 6) != 0 ||
        strchr(h, ',') != NULL)
        return 0;
    h += 6;
    while (*h == ' ')
        h++;
    errno = 0;
    if (*h == '-') {
        if (!isdigit((unsigned char) h[1]))
            return 0;
        b = strtoull(h + 1, &end, 10);
        if (errno != 0 || *end != '\0')
            return 0;
        if (b == 0 || size == 0)
            return -1;
        if (b > size)
            b = size;
        *off = size - b;
        *len = b;
        return 1;
    }
    if (!isdigit((unsigned char) *h))
        return 0;
    a = strtoull(h, &end, 10);
    if (errno != 0 || *end != '-')
        return 0;
    h = end + 1;
    if (*h == '\0') {
        b = size > 0 ? size - 1 : 0;
    } else {
        if (!isdigit((unsigned char) *h))
            return 0;
        b = strtoull(h, &end, 10);
        if (errno != 0 || *end != '\0' || b < a)
            return 0;
    }
    if (a >= size)
        return -1;
    if (b >= size)
        b = size - 1;
    *off = a;
    *len = b - a + 1;
    return 1;
}


static int
on_get(ember_module_t *m, ember_http_req_t *req, void *ud)
{
    up_t *u = ud;
    up_file_t *f = file_of(u, req);
    const char *inm = api->http_header(req, "if-none-match");
    const char *type;
    char etag[UP_ID_LEN + 3], range[96], lm[64], cache[64], *path, *disp;
    const char *h[24];
    uint64_t off = 0, len;
    struct stat st;
    struct tm tm;
    int fd, r, n = 0, status = 200, inl;

    (void) m;
    if (u->loading)
        return up_http_wait(u, req, on_get);
    if (f == NULL || f->state != UP_STORED)
        return answer(req, 404, "no such file");
    if ((path = up_path(u, f, 0)) == NULL)
        return answer(req, 500, "out of memory");
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    free(path);
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        return answer(req, 404, "no such file");
    }
    len = (uint64_t) st.st_size;
    snprintf(etag, sizeof(etag), "\"%s\"", f->id);
    gmtime_r(&f->stored, &tm);
    strftime(lm, sizeof(lm), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    snprintf(cache, sizeof(cache), "public, max-age=%d, immutable",
             u->conf->expire_after > 0 && u->conf->expire_after < 31536000
             ? u->conf->expire_after : 31536000);
    type = f->type[0] != '\0' && !active(f->type) ? f->type
                                                  : "application/octet-stream";
    inl = passive_inline(type);
    if ((disp = disposition(f, inl)) == NULL) {
        close(fd);
        return answer(req, 500, "out of memory");
    }
    h[n++] = "Content-Type", h[n++] = type;
    h[n++] = "Content-Disposition", h[n++] = disp;
    h[n++] = "Content-Security-Policy", h[n++] = CSP;
    h[n++] = "X-Content-Type-Options", h[n++] = "nosniff";
    h[n++] = "Cross-Origin-Resource-Policy", h[n++] = "cross-origin";
    h[n++] = "Access-Control-Allow-Origin", h[n++] = "*";
    h[n++] = "Cache-Control", h[n++] = cache;
    h[n++] = "ETag", h[n++] = etag;
    h[n++] = "Last-Modified", h[n++] = lm;
    h[n++] = "Accept-Ranges", h[n++] = "bytes";
    if (inm != NULL && strstr(inm, etag) != NULL) {
        h[n] = NULL;
        close(fd);
        r = api->http_respond(req, 304, h, NULL, 0);
        free(disp);
        return r;
    }
    r = parse_range(api->http_header(req, "range"), len, &off, &len);
    if (r < 0) {
        snprintf(range, sizeof(range), "bytes */%llu",
                 (unsigned long long) st.st_size);
        h[n++] = "Content-Range", h[n++] = range;
        h[n] = NULL;
        close(fd);
        r = api->http_respond(req, 416, h, NULL, 0);
        free(disp);
        return r;
    }
    if (r == 1) {
        status = 206;
        snprintf(range, sizeof(range), "bytes %llu-%llu/%llu",
                 (unsigned long long) off,
                 (unsigned long long) (off + len - 1),
                 (unsigned long long) st.st_size);
        h[n++] = "Content-Range", h[n++] = range;
    }
    h[n] = NULL;
    r = api->http_respond_fd(req, status, h, fd, off, len);
    free(disp);
    return r == EMBER_ECANCELED ? 0 : r;
}


static int
on_options(ember_module_t *m, ember_http_req_t *req, void *ud)
{
    const char *h[] = {
        "Access-Control-Allow-Origin", "*",
        "Access-Control-Allow-Methods", "GET, HEAD, PUT, OPTIONS",
        "Access-Control-Allow-Headers", "Content-Type",
        "Access-Control-Max-Age", "86400",
        "Allow", "GET, HEAD, PUT, OPTIONS", NULL
    };

    (void) m;
    (void) ud;
    return api->http_respond(req, 204, h, NULL, 0);
}


/* ---- while the records load ---- */

static void
wait_closed(ember_http_req_t *req, void *ud)
{
    up_wait_t *w = ud;

    up_wait_unlink(route_owner(req), w);
    free(w);
}


int
up_http_wait(up_t *u, ember_http_req_t *req, ember_http_cb handler)
{
    up_wait_t *w;

    if (u->nwaiting >= UP_MAX_WAITING || (w = calloc(1, sizeof(*w))) == NULL)
        return answer(req, 503, "starting up: try again in a moment");
    w->req = req;
    w->handler = handler;
    up_wait_link(u, w);
    api->http_on_closed(req, wait_closed, w);
    return 0;
}


/* ---- routes ---- */

/* Each instance serves its own path; the table's data leads back. */
static up_t *
route_owner(ember_http_req_t *req)
{
    return (up_t *) api->http_route_data(req);
}


int
up_http_start(up_t *u)
{
    char path[2100];
    ember_http_route_t routes[3];
    ember_http_table_t table;
    int rc;

    snprintf(path, sizeof(path), "%s/{id}/{name}", u->route);
    memset(routes, 0, sizeof(routes));
    routes[0] = (ember_http_route_t){ sizeof(ember_http_route_t), NULL,
                                      "PUT", path, EMBER_HTTP_STREAM_BODY,
                                      (size_t) u->max_size, on_put, u };
    routes[1] = (ember_http_route_t){ sizeof(ember_http_route_t), NULL,
                                      "GET", path, 0, 0, on_get, u };
    routes[2] = (ember_http_route_t){ sizeof(ember_http_route_t), NULL,
                                      "OPTIONS", path, 0, 0, on_options, u };
    table = (ember_http_table_t){ sizeof(table), "client", NULL, routes, 3 };
    if ((rc = api->http_routes(u->m, &table, u)) < 0)
        api->log(u->m, EMBER_LOG_ERROR, "cannot serve %s: %s", path,
                 api->strerror(rc) );
    return rc;
}
