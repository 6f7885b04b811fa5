/* core/server.c -- start, reload and stop the whole server. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "ember_config.h"
#include "runtime/commands.h"
#include "admin/cmd_admin.h"
#include "store/accounts.h"
#include "admin/control.h"
#include "cluster/cluster.h"
#include "base/hooks.h"
#include "http/http.h"
#include "net/listen.h"
#include "base/log.h"
#include "base/options.h"
#include "runtime/modules.h"
#include "base/privileges.h"
#include "web/websocket.h"
#include "base/process.h"
#include "xmpp/sasl.h"
#include "server.h"
#include "xmpp/services.h"
#include "base/tasks.h"
#include "xmpp/disco.h"
#include "xmpp/iq_defer.h"
#include "xmpp/iq_track.h"
#include "xmpp/session.h"
#include "store/storage.h"
#include "net/conn.h"
#include "net/tls.h"
#include "xmpp/c2s.h"
#include "xmpp/s2s.h"
#include "xmpp/component.h"
#include "xmpp/stream.h"

/* How long a shutdown waits for streams to flush their closing bytes. */
#define SHUTDOWN_GRACE_MS 2000

static struct {
    ember_config_t *cfg;
    unsigned flags;
    uv_signal_t sighup, sigterm, sigint;
    uv_timer_t stop_timer;
    int signals_on;
    int stopping;
    int tls_on, control_on, sessions_on;
    uint64_t stop_deadline;
} srv;


static void
on_signal(uv_signal_t *h, int signum)
{
    char err[1024];

    if (signum == SIGHUP) {
        ember__log(EMBER_LOG_INFO, "core", "SIGHUP: reloading %s",
                   srv.cfg->path);
        if (ember__server_reload(err, sizeof(err)) < 0)
            ember__log(EMBER_LOG_ERROR, "core", "reload failed: %s", err);
        return;
    }
    ember__log(EMBER_LOG_INFO, "core", "%s: shutting down",
               signum == SIGTERM ? "SIGTERM" : "SIGINT");
    ember__server_stop();
}


static void
signals_start(void)
{
    uv_signal_init(ember__loop(), &srv.sighup);
    uv_signal_init(ember__loop(), &srv.sigterm);
    uv_signal_init(ember__loop(), &srv.sigint);
    uv_signal_start(&srv.sighup, on_signal, SIGHUP);
    uv_signal_start(&srv.sigterm, on_signal, SIGTERM);
    uv_signal_start(&srv.sigint, on_signal, SIGINT);
    srv.signals_on = 1;
}


static void
revoke_streams(const char *host, const char *user)
{
    ember__sessions_close_user(host, user, EMBER_STREAM_NOT_AUTHORIZED);
}


static int
accept_connection(uv_stream_t *server, const ember_listener_conf_t *lc)
{
    switch (lc->type) {
    case EMBER_LISTEN_C2S:
    case EMBER_LISTEN_C2S_TLS:
        return ember__c2s_accept(server, lc);
    case EMBER_LISTEN_S2S:
    case EMBER_LISTEN_S2S_TLS:
        return ember__s2s_accept(server, lc);
    case EMBER_LISTEN_COMPONENT:
        return ember__component_accept(server, lc);
    default:
        return ember__http_accept(server, lc);
    }
}


static const ember__server_ops_t server_ops = {
    .reload = ember__server_reload,
    .status = ember__server_status,
};


/* Listening, with privileges dropped, signals handled, and what the
 * modules read at start in memory. */
static void
say_ready(void)
{
    ember__log(EMBER_LOG_INFO, "core", "emberd ready (version %s, plugin "
               "ABI %d.%d)", EMBER_VERSION, EMBER_ABI_MAJOR, EMBER_API_MINOR);
}


int
ember__server_start(ember_config_t *cfg, unsigned flags, char *err,
                    size_t errlen)
{
    const ember_host_conf_t *h;
    int rc;

    srv.cfg = cfg;
    srv.flags = flags;
    ember__config_set_current(cfg);
    ember__process_start((flags & EMBER_SERVER_OFFLINE) != 0);
    if ((rc = ember__tasks_init()) < 0 || (rc = ember__sasl_init()) < 0) {
        snprintf(err, errlen, "core initialisation failed: %s",
                 ember_strerror(rc));
        return rc;
    }
    ember__commands_core_init(&server_ops);
    ember__commands_admin_init();
    ember__commands_migrate_init();
    ember__commands_config_init(&server_ops);
    ember__accounts_on_revoke(revoke_streams);
    if (ember__modules_load_global(cfg) > 0)
        ember__log(EMBER_LOG_WARN, "core", "some global modules failed to "
                   "load: see above");
    if (flags & EMBER_SERVER_OFFLINE)
        return 0;
    if ((rc = ember__tls_init(cfg, err, errlen)) < 0)
        return rc;
    srv.tls_on = 1;
    for (h = cfg->hosts; h != NULL; h = h->next)
        ember__modules_load_host(cfg, h);
    ember__conns_init();
    srv.sessions_on = 1;
    if ((rc = ember__s2s_start(cfg, err, errlen)) < 0)
        return rc;
    ember__listeners_set_acceptor(accept_connection);
    if ((rc = ember__websocket_start()) < 0 ||
        (rc = ember__bosh_start()) < 0 ||
        (rc = ember__hostmeta_start()) < 0) {
        snprintf(err, errlen, "cannot serve /xmpp-websocket, /http-bind or host-meta: %s",
                 ember_strerror(rc));
        return rc;
    }
    if ((rc = ember__listeners_start(cfg, err, errlen)) < 0)
        return rc;
    ember__commands_serve_nodes();
    if ((rc = ember__cluster_start(cfg)) < 0) {
        snprintf(err, errlen, "cannot start the cluster: %s",
                 ember_strerror(rc));
        return rc;
    }
    if ((rc = ember__control_start(cfg->control_socket)) < 0) {
        snprintf(err, errlen, "cannot open the control socket %s: %s",
                 cfg->control_socket, ember_strerror(rc));
        return rc;
    }
    srv.control_on = 1;
    if ((rc = ember__privileges_drop(cfg, err, errlen)) < 0)
        return rc;
    signals_start();
    ember__storage_when_started(say_ready);
    return 0;
}


int
ember__server_reload(char *err, size_t errlen)
{
    ember_config_t *cfg, *old = srv.cfg;
    const ember_host_conf_t *h;
    char lerr[512];
    int rc, failed, lrc;

    if ((rc = ember__config_load(old->path, &cfg, err, errlen)) < 0)
        return rc;
    /* Certificates first: when they cannot load, nothing else changes. */
    if (srv.tls_on && (rc = ember__tls_reload(cfg, err, errlen)) < 0) {
        ember__config_free(cfg);
        ember__config_use_data_dir(old->data_dir);
        return rc;
    }
    if (cfg->log_level != old->log_level ||
        (cfg->log_file == NULL) != (old->log_file == NULL) ||
        (cfg->log_file != NULL && strcmp(cfg->log_file, old->log_file) != 0))
        ember__log_open(cfg->log_level, cfg->log_file);
    srv.cfg = cfg;
    ember__config_set_current(cfg);
    failed = ember__modules_sync(cfg);
    for (h = cfg->hosts; h != NULL; h = h->next)
        if (ember__config_host(old, h->name) == NULL)
            ember__fire_simple(h->name, EMBER_EV_HOST_ACTIVATED, NULL, NULL);
    lrc = 0;
    if (!(srv.flags & EMBER_SERVER_OFFLINE)) {
        lrc = ember__listeners_sync(cfg, lerr, sizeof(lerr));
        ember__sessions_close_gone_hosts();
        ember__components_sync();
    }
    ember__config_free(old);
    ember__log(EMBER_LOG_INFO, "core", "configuration reloaded%s",
               failed > 0 || lrc < 0 ? " (with errors: see above)" : "");
    if (failed > 0) {
        snprintf(err, errlen, "%d module(s) failed to load: see "
                 "`emberctl modules`%s%s", failed, lrc < 0 ? "; " : "",
                 lrc < 0 ? lerr : "");
        return EMBER_EIO;
    }
    if (lrc < 0) {
        snprintf(err, errlen, "%s", lerr);
        return lrc;
    }
    return 0;
}


static void
close_handle(uv_handle_t *h, void *arg)
{
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}


static void
stop_poll(uv_timer_t *t)
{
    size_t n = ember__sessions_count(NULL) + ember__http_count() +
               ember__components_count();

    if (n > 0 && uv_now(ember__loop()) < srv.stop_deadline)
        return;
    uv_timer_stop(t);
    uv_close((uv_handle_t *) t, NULL);
    ember__cluster_cleanup();
    ember__modules_unload_all();
    ember__http_cleanup();
    ember__storage_flush();
    ember__tasks_close();
    if (srv.sessions_on) {
        ember__sessions_cleanup();
        ember__streams_cleanup();
        ember__components_cleanup();
        ember__conns_cleanup();
        srv.sessions_on = 0;
    }
    uv_walk(ember__loop(), close_handle, NULL);
}


void
ember__server_stop(void)
{
    const ember_host_conf_t *h;

    if (srv.stopping)
        return;
    srv.stopping = 1;
    if (srv.control_on) {
        ember__control_stop();
        srv.control_on = 0;
    }
    ember__listeners_stop();
    if (srv.sessions_on && srv.cfg != NULL)
        for (h = srv.cfg->hosts; h != NULL; h = h->next)
            ember__fire_simple(h->name, EMBER_EV_SERVER_STOPPING, NULL,
                               NULL);
    ember__sessions_close_all(EMBER_STREAM_SYSTEM_SHUTDOWN);
    ember__cluster_stop();
    ember__s2s_stop();
    ember__components_close_all(EMBER_STREAM_SYSTEM_SHUTDOWN);
    ember__http_close_all();
    ember__bosh_stop();
    if (srv.signals_on) {
        uv_close((uv_handle_t *) &srv.sighup, NULL);
        uv_close((uv_handle_t *) &srv.sigterm, NULL);
        uv_close((uv_handle_t *) &srv.sigint, NULL);
        srv.signals_on = 0;
    }
    srv.stop_deadline = uv_now(ember__loop()) + SHUTDOWN_GRACE_MS;
    uv_timer_init(ember__loop(), &srv.stop_timer);
    uv_timer_start(&srv.stop_timer, stop_poll, 0, 20);
}


void
ember__server_cleanup(void)
{
    uv_walk(ember__loop(), close_handle, NULL);
    uv_run(ember__loop(), UV_RUN_DEFAULT);
    ember__s2s_cleanup();
    if (srv.tls_on)
        ember__tls_cleanup();
    ember__sasl_cleanup();
    uv_loop_close(ember__loop());
    ember__config_free(srv.cfg);
    srv.cfg = NULL;
}


static long
rss_kib(void)
{
    long pages = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");

    if (f != NULL) {
        if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
            rss = 0;
        fclose(f);
    }
    return rss * (sysconf(_SC_PAGESIZE) / 1024);
}


/* Bytes of the regular files directly in dir (the database and its
 * journal; the control socket and subdirectories do not count). */
static uint64_t
dir_bytes(const char *dir)
{
    char path[4096];
    struct dirent *e;
    struct stat st;
    uint64_t sum = 0;
    DIR *d = opendir(dir);

    if (d == NULL)
        return 0;
    while ((e = readdir(d)) != NULL) {
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (lstat(path, &st) == 0 && S_ISREG(st.st_mode))
            sum += (uint64_t) st.st_size;
    }
    closedir(d);
    return sum;
}


json_t *
ember__server_status(void)
{
    json_t *hosts = json_array(), *st, *cl;
    const ember_host_conf_t *h;
    size_t total, bound;
    uint64_t in, out;
    int loaded, failed;

    for (h = srv.cfg->hosts; h != NULL; h = h->next)
        json_array_append_new(hosts, json_string(h->name));
    total = ember__sessions_count(&bound);
    st = json_pack("{s:s, s:s, s:I, s:o, s:o, s:I, s:I, s:I, s:I, s:s}",
                     "version", EMBER_VERSION,
                     "abi", EMBER_ABI_MAJOR == 1 ? "1.0" : "?",
                     "uptime_s",
                     (json_int_t) (ember__uptime_ms() / 1000),
                     "hosts", hosts,
                     "listeners", ember__listeners_describe(),
                     "connections", (json_int_t) total,
                     "sessions", (json_int_t) bound,
                     "rss_kib", (json_int_t) rss_kib(),
                     "storage_pending", (json_int_t) ember__storage_pending(),
                     "config", srv.cfg->path);
    if (st == NULL)
        return NULL;
    ember__sessions_stanza_totals(&in, &out);
    ember__modules_counts(&loaded, &failed);
    json_object_set_new(st, "uptime_ms", json_integer((json_int_t)
                                                      ember__uptime_ms()));
    json_object_set_new(st, "stanzas_in", json_integer((json_int_t) in));
    json_object_set_new(st, "stanzas_out", json_integer((json_int_t) out));
    json_object_set_new(st, "memory_rss",
                        json_integer((json_int_t) rss_kib() * 1024));
    json_object_set_new(st, "storage_bytes",
                        json_integer((json_int_t)
                                     dir_bytes(srv.cfg->data_dir)));
    json_object_set_new(st, "modules_loaded", json_integer(loaded));
    json_object_set_new(st, "modules_failed", json_integer(failed));
    json_object_set_new(st, "components", ember__components_describe());
    json_object_set_new(st, "s2s", ember__s2s_links());
    if ((cl = ember__cluster_describe()) != NULL)
        json_object_set_new(st, "cluster", cl);
    return st;
}
