/*
 * console_static.c -- the console's files: every regular file directly in
 * web-root (found at load) gets an exact public route "/<name>" whose data
 * is the file's name, and "/" serves index.html.  Nothing else is served,
 * so no request path, however written, can reach another file.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "console.h"

#define MAX_FILES 256

/* "/" and "index.html", then "/<name>" and "<name>" for each file. */
static char *paths[MAX_FILES + 1], *names[MAX_FILES + 1];
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


static int
serve(ember_module_t *m, ember_http_req_t *req, void *ud)
{
    return api->http_send_file(req, conf->web_root,
                               api->http_route_data(req), "no-cache");
}


static int
file_add(const char *path, const char *name)
{
    if ((paths[nfiles] = strdup(path)) == NULL ||
        (names[nfiles] = strdup(name)) == NULL) {
        free(paths[nfiles]);
        return EMBER_ENOMEM;
    }
    nfiles++;
    return 0;
}


/* The regular files of web-root, not links, not named like the API. */
static int
files_find(void)
{
    char full[4400], path[260];
    struct dirent *de;
    struct stat st;
    DIR *d;
    int rc = 0;

    if ((d = opendir(conf->web_root)) == NULL) {
        api->log(mod, EMBER_LOG_WARN, "web-root %s: %s: the console pages "
                 "are not served", conf->web_root, strerror(errno));
        return 0;
    }
    while (rc == 0 && (de = readdir(d)) != NULL && nfiles <= MAX_FILES) {
        if (!name_ok(de->d_name) || strcmp(de->d_name, "metrics") == 0 ||
            strcmp(de->d_name, "api") == 0)
            continue;
        snprintf(full, sizeof(full), "%s/%s", conf->web_root, de->d_name);
        if (lstat(full, &st) < 0 || !S_ISREG(st.st_mode))
            continue;
        snprintf(path, sizeof(path), "/%s", de->d_name);
        rc = file_add(path, de->d_name);
    }
    closedir(d);
    return rc;
}


int
console_static_init(void)
{
    ember_http_route_t routes[MAX_FILES + 1];
    ember_http_table_t t = { .size = sizeof(t), .set = "admin",
                             .routes = routes };
    size_t i;
    int rc;

    if ((rc = file_add("/", "index.html")) < 0 || (rc = files_find()) < 0)
        return rc;
    memset(routes, 0, sizeof(routes));
    for (i = 0; i < nfiles; i++) {
        routes[i].size = sizeof(routes[i]);
        routes[i].method = "GET";
        routes[i].path = paths[i];
        routes[i].flags = EMBER_HTTP_PUBLIC;
        routes[i].handler = serve;
        routes[i].data = names[i];
    }
    t.nroutes = nfiles;
    return api->http_routes(mod, &t, NULL);
}


void
console_static_done(void)
{
    size_t i;

    for (i = 0; i < nfiles; i++) {
        free(paths[i]);
        free(names[i]);
    }
    nfiles = 0;
}
