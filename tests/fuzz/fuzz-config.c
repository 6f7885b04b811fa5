/* libFuzzer target: ember__config_load (core/base/config.c) on arbitrary
 * file contents: libxml2 parse, the compiled-in RelaxNG schema and the
 * checks after it.  A refused file gets a message "FILE:LINE: text"
 * naming it; an accepted one holds only what those checks promise
 * (prepared, unique hosts; valid, unique listeners; bare admin JIDs;
 * absolute paths; limits in range). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/un.h>

#include "base/config.h"
#include "base/jid.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[] = "/tmp/fuzz-config-XXXXXX";
static int fd = -1;


static void
remove_file(void)
{
    unlink(path);
}


/* Message "PATH:LINE: text" with a line number and some text. */
static void
check_error(const char *err)
{
    size_t n = strlen(path);
    const char *p = err + n + 1;

    if (strncmp(err, path, n) != 0 || err[n] != ':')
        abort();
    if (*p < '0' || *p > '9')
        abort();
    while (*p >= '0' && *p <= '9')
        p++;
    if (p[0] != ':' || p[1] != ' ' || p[2] == '\0')
        abort();
}


static void
check_abs(const char *s)
{
    if (s == NULL || s[0] != '/')
        abort();
}


static void
check_modules(const ember_module_conf_t *m)
{
    const ember_module_conf_t *k;

    for (; m != NULL; m = m->next) {
        if (m->name == NULL || m->name[0] == '\0' || m->node == NULL)
            abort();
        for (k = m->next; k != NULL; k = k->next)
            if (strcmp(k->name, m->name) == 0)
                abort();
    }
}


static void
check_config(ember_config_t *c)
{
    const ember_limits_t *l = &c->limits;
    const ember_listener_conf_t *li, *lk;
    ember_host_conf_t *h;
    unsigned char bin[16];
    struct sockaddr_un su;
    char prepped[1024];
    ember_jid_t *j;
    char **s;

    if (c->doc == NULL || c->hosts == NULL || c->admins == NULL
        || c->plugin_dirs == NULL || c->run_user == NULL)
        abort();
    if (strcmp(c->path, path) != 0 || strcmp(c->dir, "/tmp") != 0)
        abort();
    check_abs(c->data_dir);
    check_abs(c->control_socket);
    check_abs(c->cert_file);
    check_abs(c->key_file);
    if (c->log_file != NULL)
        check_abs(c->log_file);
    if (strlen(c->control_socket) >= sizeof(su.sun_path))
        abort();
    if (c->log_level < EMBER_LOG_ERROR || c->log_level > EMBER_LOG_DEBUG)
        abort();
    for (s = c->plugin_dirs; *s != NULL; s++)
        check_abs(*s);
    for (s = c->admins; *s != NULL; s++) {
        j = ember__jid_parse(*s);
        if (j == NULL || ember__jid_resource(j) != NULL
            || strcmp(ember__jid_bare(j), *s) != 0)
            abort();
        ember__jid_free(j);
    }
    if (l->max_stanza_size < 1024 || l->max_depth < 4 || l->max_depth > 1024
        || l->max_attributes < 1 || l->idle_timeout < 1
        || l->auth_timeout < 1 || l->http_request_timeout < 1
        || l->http_keepalive_timeout < 1 || l->login_max_delay < 1
        || l->max_connections_per_ip < 0
        || l->connections_per_second_per_ip < 0)
        abort();
    for (li = c->listeners; li != NULL; li = li->next) {
        if (li->port < 1 || li->port > 65535
            || strcmp(ember__listen_type_name(li->type), "?") == 0
            || inet_pton(strchr(li->address, ':') ? AF_INET6 : AF_INET,
                         li->address, bin) != 1
            || (li->rate > 0 && li->burst < 1024))
            abort();
        for (lk = li->next; lk != NULL; lk = lk->next)
            if (lk->port == li->port && strcmp(lk->address, li->address) == 0)
                abort();
    }
    check_modules(c->global_modules);
    for (h = c->hosts; h != NULL; h = h->next) {
        if (ember__jid_prep_domain(h->name, prepped, sizeof(prepped)) != 0
            || strcmp(prepped, h->name) != 0
            || ember__config_host(c, h->name) != h)
            abort();
        if ((h->cert_file == NULL) != (h->key_file == NULL))
            abort();
        if (h->cert_file != NULL) {
            check_abs(h->cert_file);
            check_abs(h->key_file);
        }
        check_modules(h->modules);
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static ember_config_t sentinel;
    ember_config_t *c = &sentinel;
    char err[1024];
    int rc;

    /* One file for the whole run, rewritten in place each time. */
    if (fd < 0) {
        if ((fd = mkstemp(path)) < 0)
            abort();
        atexit(remove_file);
    }
    if (ftruncate(fd, 0) != 0
        || (size > 0 && pwrite(fd, data, size, 0) != (ssize_t) size))
        abort();
    err[0] = '\0';
    rc = ember__config_load(path, &c, err, sizeof(err));
    if (rc < 0) {
        if (c != NULL)
            abort();
        check_error(err);
        return 0;
    }
    if (rc != 0 || c == NULL)
        abort();
    check_config(c);
    ember__config_free(c);
    return 0;
}
