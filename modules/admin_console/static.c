/*
 * static.c -- the console's files: every regular file directly in web-root
 * (found at load) gets an exact route "/<name>", and "/" serves index.html.
 * These paths are the allow-list of public files: nothing else is served,
 * so no request path, however written, can reach another file.  The files
 * are read here rather than with http_send_file so that they carry the
 * console's security headers.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "console.h"

#define AC_MAX_FILES 256
#define AC_MAX_FILE (8u << 20)

static char **files;
static size_t nfiles;

static const struct {
    const char *ext, *type;
} ctypes[] = {
    { "html", "text/html; charset=utf-8" },
    { "js", "text/javascript; charset=utf-8" },
    { "mjs", "text/javascript; charset=utf-8" },
    { "css", "text/css; charset=utf-8" },
    { "json", "application/json" },
    { "map", "application/json" },
    { "svg", "image/svg+xml" },
    { "png", "image/png" },
    { "jpg", "image/jpeg" },
    { "gif", "image/gif" },
    { "webp", "image/webp" },
    { "ico", "image/x-icon" },
    { "woff", "font/woff" },
    { "woff2", "font/woff2" },
    { "txt", "text/plain; charset=utf-8" },
    { "xml", "application/xml" },
    { "wasm", "application/wasm" },
    { NULL, NULL }
};


static const char *
content_type(const char *name)
{
    const char *dot = strrchr(name, '.');
    size_t i;

    for (i = 0; dot != NULL && ctypes[i].ext != NULL; i++)
        if (strcasecmp(dot + 1, ctypes[i].ext) == 0)
            return ctypes[i].type;
    return "application/octet-stream";
}


/* A name that is served: no hidden files, nothing to escape. */
static int
name_ok(const char *name)
{
    const char *p;

    if (name[0] == '.' || name[0] == '\0' || strlen(name) > 200)
        return 0;
    for (p = name; *p != '\0'; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
              (*p >= '0' && *p <= '9') || *p == '.' || *p == '-' ||
              *p == '_'))
            return 0;
    return 1;
}


int
ac_static_allowed(const char *path)
{
    size_t i;

    if (strcmp(path, "/") == 0)
        return 1;
    for (i = 0; i < nfiles; i++)
        if (path[0] == '/' && strcmp(path + 1, files[i]) == 0)
            return 1;
    return 0;
}


static int
serve(ember_module_t *m, ember_http_req_t *req, void *ud)
{
    const char *path = ac_api->http_path(req);
    const char *name = strcmp(path, "/") == 0 ? "index.html" : path + 1;
    const char *inm = ac_api->http_header(req, "If-None-Match");
    char full[4400], etag[64], lastmod[64], *buf = NULL;
    struct stat st;
    struct tm tm;
    ssize_t n;
    size_t got = 0;
    int fd, rc;

    if (!ac_static_allowed(path) || !name_ok(name))
        return ac_error(req, 404, "not_found", "no such file");
    snprintf(full, sizeof(full), "%s/%s", ac_conf->web_root, name);
    fd = open(full, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return ac_error(req, 404, "not_found", "no such file");
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
        (size_t) st.st_size > AC_MAX_FILE) {
        close(fd);
        return ac_error(req, 404, "not_found", "no such file");
    }
    snprintf(etag, sizeof(etag), "\"%llx-%llx%09ld\"",
             (unsigned long long) st.st_size,
             (unsigned long long) st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    gmtime_r(&st.st_mtim.tv_sec, &tm);
    strftime(lastmod, sizeof(lastmod), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (inm != NULL && (strstr(inm, etag) != NULL || strcmp(inm, "*") == 0)) {
        close(fd);
        return ac_respond(req, 304, NULL, "", 0,
                          (const char *const[]){ "ETag", etag,
                          "Cache-Control", "no-cache", NULL });
    }
    if ((buf = malloc((size_t) st.st_size + 1)) == NULL) {
        close(fd);
        return ac_error(req, 500, "internal", "out of memory");
    }
    while (got < (size_t) st.st_size) {
        n = read(fd, buf + got, (size_t) st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t) n;
    }
    close(fd);
    rc = ac_respond(req, 200, content_type(name), buf, got,
                    (const char *const[]){ "ETag", etag, "Last-Modified",
                    lastmod, "Cache-Control", "no-cache", NULL });
    free(buf);
    return rc;
}


static int
route_file(const char *path)
{
    ember_http_route_t r;

    memset(&r, 0, sizeof(r));
    r.size = sizeof(r);
    r.set = "admin";
    r.method = "GET";
    r.path = path;
    r.handler = serve;
    return ac_api->http_route(ac_mod, &r, NULL);
}


int
ac_static_init(void)
{
    char full[4400], path[260];
    struct dirent *de;
    struct stat st;
    DIR *d;
    int rc;

    if ((rc = route_file("/")) < 0)
        return rc;
    if ((d = opendir(ac_conf->web_root)) == NULL) {
        ac_api->log(ac_mod, EMBER_LOG_WARN, "web-root %s: %s: the console "
                    "pages are not served", ac_conf->web_root,
                    strerror(errno));
        return 0;
    }
    if ((files = calloc(AC_MAX_FILES, sizeof(*files))) == NULL) {
        closedir(d);
        return EMBER_ENOMEM;
    }
    while ((de = readdir(d)) != NULL && nfiles < AC_MAX_FILES) {
        if (!name_ok(de->d_name))
            continue;
        snprintf(full, sizeof(full), "%s/%s", ac_conf->web_root, de->d_name);
        /* Symbolic links could point anywhere: they are not served. */
        if (lstat(full, &st) < 0 || !S_ISREG(st.st_mode))
            continue;
        snprintf(path, sizeof(path), "/%s", de->d_name);
        /* A file named like a route of the API stays unserved. */
        if (strcmp(de->d_name, "metrics") == 0 ||
            strcmp(de->d_name, "api") == 0)
            continue;
        if ((files[nfiles] = strdup(de->d_name)) == NULL) {
            closedir(d);
            return EMBER_ENOMEM;
        }
        nfiles++;
        if ((rc = route_file(path)) < 0) {
            closedir(d);
            return rc;
        }
    }
    closedir(d);
    return 0;
}


void
ac_static_done(void)
{
    size_t i;

    for (i = 0; i < nfiles; i++)
        free(files[i]);
    free(files);
    files = NULL;
    nfiles = 0;
}
