/* core/http/files.c -- http_send_file: a file under a directory the
 * module names, with ETag, Last-Modified, 304 and a type by extension. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http/http_int.h"
#include "base/log.h"

/* Largest file http_send_file serves (it is read into memory). */
#define HTTP_MAX_FILE (32 << 20)


static const char *
content_type(const char *path)
{
    static const char *const types[][2] = {
        { "html", "text/html; charset=utf-8" },
        { "htm", "text/html; charset=utf-8" },
        { "css", "text/css; charset=utf-8" },
        { "js", "text/javascript; charset=utf-8" },
        { "mjs", "text/javascript; charset=utf-8" },
        { "json", "application/json" },
        { "map", "application/json" },
        { "svg", "image/svg+xml" },
        { "png", "image/png" },
        { "jpg", "image/jpeg" },
        { "jpeg", "image/jpeg" },
        { "gif", "image/gif" },
        { "webp", "image/webp" },
        { "ico", "image/x-icon" },
        { "woff2", "font/woff2" },
        { "woff", "font/woff" },
        { "txt", "text/plain; charset=utf-8" },
        { "xml", "application/xml" },
        { "wasm", "application/wasm" },
    };
    const char *slash = strrchr(path, '/');
    const char *dot = strrchr(slash != NULL ? slash : path, '.');
    size_t i;

    if (dot != NULL)
        for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
            if (strcasecmp(dot + 1, types[i][0]) == 0)
                return types[i][1];
    return "application/octet-stream";
}


/* relpath as given by a module: no "." or ".." segment, NUL or '\\'. */
static int
relpath_ok(const char *p)
{
    const char *s = p;

    if (strchr(p, '\\') != NULL)
        return 0;
    for (;;) {
        size_t n = strcspn(s, "/");

        if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
            return 0;
        if (s[n] == '\0')
            return 1;
        s += n + 1;
    }
}


static int
etag_matches(const char *inm, const char *etag)
{
    const char *p = inm;
    size_t elen = strlen(etag);

    while (*p != '\0') {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        if (*p == '*')
            return 1;
        if (strncmp(p, "W/", 2) == 0)
            p += 2;
        if (strncmp(p, etag, elen) == 0 &&
            (p[elen] == '\0' || p[elen] == ',' || p[elen] == ' '))
            return 1;
        p += strcspn(p, ",");
    }
    return 0;
}


int
ember__http_send_file(ember_http_req_t *req, const char *dir,
                      const char *relpath, const char *cache_control)
{
    const char *inm, *ims, *hdr[10];
    char etag[64], lm[64], *path = NULL, *data = NULL;
    struct stat st;
    int fd = -1, status = 404, rc;
    size_t got = 0;
    ssize_t n;

    if (req == NULL || dir == NULL || relpath == NULL)
        return EMBER_EINVAL;
    if (req->c == NULL || req->kind != RQ_PENDING)
        return ember__http_respond(req, 404, NULL, NULL, 0);
    while (*relpath == '/')
        relpath++;
    if (!relpath_ok(relpath))
        goto answer;
    if (asprintf(&path, "%s/%s%s", dir, relpath,
                 relpath[0] == '\0' || relpath[strlen(relpath) - 1] == '/'
                 ? "index.html" : "") < 0) {
        path = NULL;
        status = 500;
        goto answer;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        goto answer;
    if (st.st_size > HTTP_MAX_FILE) {
        ember__log(EMBER_LOG_WARN, "http", "%s: larger than %d bytes, not "
                   "served", path, HTTP_MAX_FILE);
        status = 500;
        goto answer;
    }
    snprintf(etag, sizeof(etag), "\"%llx-%llx\"",
             (unsigned long long) st.st_size,
             (unsigned long long) st.st_mtim.tv_sec * 1000000000ull +
             (unsigned long long) st.st_mtim.tv_nsec);
    ember__http_date(st.st_mtim.tv_sec, lm, sizeof(lm));
    hdr[0] = "ETag", hdr[1] = etag;
    hdr[2] = "Last-Modified", hdr[3] = lm;
    hdr[4] = "Cache-Control";
    hdr[5] = cache_control != NULL ? cache_control : "no-cache";
    hdr[6] = "Content-Type", hdr[7] = content_type(path);
    hdr[8] = NULL;
    inm = ember__http_header(req, "if-none-match");
    ims = ember__http_header(req, "if-modified-since");
    if ((inm != NULL && etag_matches(inm, etag)) ||
        (inm == NULL && ims != NULL && strcmp(ims, lm) == 0)) {
        hdr[6] = NULL;
        close(fd);
        free(path);
        return ember__http_respond(req, 304, hdr, NULL, 0);
    }
    if ((data = malloc((size_t) st.st_size + 1)) == NULL) {
        status = 500;
        goto answer;
    }
    while (got < (size_t) st.st_size) {
        n = pread(fd, data + got, (size_t) st.st_size - got, (off_t) got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t) n;
    }
    close(fd);
    free(path);
    rc = ember__http_respond(req, 200, hdr, data, got);
    free(data);
    return rc;
answer:
    if (fd >= 0)
        close(fd);
    free(path);
    {
        const char *th[] = { "Content-Type", "text/plain; charset=utf-8",
                             NULL };
        char body[64];

        snprintf(body, sizeof(body), "%d %s\n", status,
                 ember__http_reason(status));
        return ember__http_respond(req, status, th, body, strlen(body));
    }
}

