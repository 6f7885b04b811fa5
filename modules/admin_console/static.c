/*
 * static.c -- the console's files: every regular file directly in web-root
 * (found at load) gets an exact route "/<name>", and "/" serves index.html.
 * These paths are the allow-list of public files: nothing else is served,
 * so no request path, however written, can reach another file.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "console.h"

#define AC_MAX_FILES 256

static char **files;
static size_t nfiles;

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

    if (!ac_static_allowed(path) || !name_ok(name))
        return ac_error(req, 404, "not_found", "no such file");
    return ac_api->http_send_file(req, ac_conf->web_root, name, "no-cache");
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
