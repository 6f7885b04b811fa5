/* core/config.h -- etc/ember.xml: parsed, validated against ember.rng. */
#ifndef EMBER_CORE_CONFIG_H
#define EMBER_CORE_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <libxml/tree.h>

#include <ember/plugin.h>

typedef enum {
    EMBER_LISTEN_C2S = 1,      /* STARTTLS (required unless allowed off) */
    EMBER_LISTEN_C2S_TLS = 2,  /* direct TLS, XEP-0368 */
    EMBER_LISTEN_HTTP = 3,     /* HTTP, route set "client" */
    EMBER_LISTEN_HTTPS = 4,    /* HTTPS, route set "client" */
    EMBER_LISTEN_ADMIN = 5,    /* HTTP, route set "admin", loopback unless
                                  public="true" */
    EMBER_LISTEN_ADMIN_TLS = 6, /* HTTPS, route set "admin" */
    EMBER_LISTEN_S2S = 7,      /* server-to-server, STARTTLS */
    EMBER_LISTEN_S2S_TLS = 8,  /* server-to-server, direct TLS (XEP-0368) */
    EMBER_LISTEN_COMPONENT = 9 /* XEP-0114 external components, loopback
                                  unless public="true" */
} ember_listen_type_t;

typedef struct ember_listener_conf_s {
    ember_listen_type_t type;
    char *address;             /* default "0.0.0.0" */
    int port;
    int require_tls;           /* c2s only; 0 only allowed on loopback */
    int public;                /* admin, component: allowed off loopback */
    uint64_t rate, burst;      /* bytes/s a connection may send; 0: any */
    char *host_names;          /* admin: Host names served besides loopback
                                  names, addresses, hosts (space-separated) */
    char *allowed_origins;     /* http, https: browser origins WebSocket and
                                  BOSH take (space-separated); NULL: any */
    int line;
    struct ember_listener_conf_s *next;
} ember_listener_conf_t;

typedef struct ember_module_conf_s {
    char *name;
    xmlNodePtr node;           /* the <module> element; options are its
                                  attributes other than name */
    int line;
    struct ember_module_conf_s *next;
} ember_module_conf_t;

typedef struct ember_host_conf_s {
    char *name;                /* nameprep'ed */
    char *cert_file, *key_file; /* NULL: the global certificate */
    ember_module_conf_t *modules;
    int line;
    struct ember_host_conf_s *next;
} ember_host_conf_t;

/* <component domain secret name>: an external component (XEP-0114). */
typedef struct ember_component_conf_s {
    char *domain;              /* nameprep'ed; never a <host> */
    char *secret;              /* the shared secret of its handshake */
    char *name;                /* shown in disco#items, or NULL */
    int line;
    struct ember_component_conf_s *next;
} ember_component_conf_t;

typedef struct ember_limits_s {
    size_t max_stanza_size;    /* bytes, default 262144 */
    int max_depth;             /* default 64 */
    int max_attributes;        /* per element, default 64 */
    int idle_timeout;          /* seconds without data, default 600 */
    int max_connections_per_ip; /* default 100; 0 = no limit */
    int auth_timeout;          /* seconds to authenticate, default 60 */
    size_t http_max_body;      /* bytes of a request body, default 1 MiB */
    int http_request_timeout;  /* seconds to send a request, default 30 */
    int http_keepalive_timeout; /* idle seconds between requests, 60 */
    int login_failures_per_ip; /* free failures before a delay, 5 */
    int login_failures_per_account; /* 10 */
    int login_max_delay;       /* seconds, 300 */
    int connections_per_second_per_ip; /* new ones, default 10; 0 = any */
    size_t http_buffer_per_ip; /* request bytes buffered, 8 MiB; 0 = any */
    size_t http_buffer_total;  /* for every address, 64 MiB; 0 = any */
    int resume_timeout;        /* seconds a session waits for its client
                                  to resume it (XEP-0198), 300; 0 = no
                                  resumption */
    int max_unacked;           /* stanzas a session keeps for its client
                                  to acknowledge, 10000 */
} ember_limits_t;

/* <s2s><limit domain ...>: what one remote domain may use; -1 where the
 * general setting applies. */
typedef struct ember_s2s_limit_s {
    char *domain;
    long long rate, burst;     /* bytes/s read from each of its links once
                                  authenticated; 0: any */
    int links;                 /* inbound links at once */
    int max_queue;
} ember_s2s_limit_t;

/* <s2s>: server-to-server links (RFC 6120, XEP-0220, XEP-0178). */
typedef struct ember_s2s_conf_s {
    int dialback;              /* offer and use XEP-0220, default 1 */
    int require_tls;           /* default 1 */
    char *resolver;            /* "ip[:port],..." for c-ares; NULL: the
                                  system's resolv.conf */
    char *ca_file;             /* more trust anchors for peers'
                                  certificates; absolute */
    int connect_timeout;       /* seconds for a link to come up, 30 */
    int idle_timeout;          /* seconds, 600 */
    int max_queue;             /* stanzas waiting for a link, 1000 */
    char **blocked;            /* domains refused both ways */
    int bidi;                  /* offer and use XEP-0288, default 1 */
    int domain_links;          /* inbound links one remote domain may hold
                                  at once, 16 */
    ember_s2s_limit_t *limits;
    size_t nlimits;
    int line;
    int dane;                  /* RFC 7673 for outbound links, default 0 */
    char *trust_anchor;        /* absolute; set when dane is on */
} ember_s2s_conf_t;

/* Debian's dns-root-data: the root zone's DS and DNSKEY records. */
#define EMBER_ROOT_ANCHOR "/usr/share/dns/root.key"
/* <cluster redis node lease-ms user password-file/>: redis_host NULL
 * when not clustered. */
typedef struct ember_cluster_conf_s {
    char *redis_host;
    int redis_port;
    char *redis_user;          /* NULL: Redis's default user */
    char *redis_password;      /* password-file's first line, or NULL */
    char *node;                /* this node's name, unique in the cluster */
    int lease_ms;              /* a silent node is dead after this, 5000 */
    int line;
} ember_cluster_conf_t;

typedef struct ember_config_s {
    xmlDocPtr doc;             /* kept: module nodes point into it */
    char *path;                /* absolute path of the file */
    char *dir;                 /* relative paths are resolved against it */
    int log_level;             /* EMBER_LOG_*, default INFO */
    char *log_file;            /* NULL: stderr */
    char **plugin_dirs;        /* absolute, NULL-terminated */
    char *control_socket;      /* absolute; default <data>/emberd.sock */
    char *data_dir;            /* absolute; default <dir>/data */
    char *cert_file, *key_file; /* absolute; default <data>/tls/cert.pem ... */
    char **admins;             /* bare JIDs, NULL-terminated */
    char *run_user;            /* started as root: run as, default "ember" */
    char *run_group;           /* NULL: the user's own group */
    ember_limits_t limits;
    ember_s2s_conf_t s2s;
    ember_cluster_conf_t cluster;
    ember_listener_conf_t *listeners;
    ember_module_conf_t *global_modules; /* <module> directly under <ember> */
    ember_host_conf_t *hosts;
    ember_component_conf_t *components;
} ember_config_t;

/*
 * Parse and validate the file at `path` (RelaxNG from ember.rng plus the
 * checks the schema cannot express: duplicate hosts or ports, plaintext
 * c2s off loopback ...).  On error returns a negative EMBER_E* and writes
 * "FILE:LINE: message" to err.
 */
int ember__config_load(const char *path, ember_config_t **out, char *err,
                       size_t errlen);
void ember__config_free(ember_config_t *c);

/* "c2s", "c2s-tls", "http", "https", "admin", "admin-tls", "s2s",
 * "s2s-tls", "component". */
const char *ember__listen_type_name(ember_listen_type_t type);

/* The host block named `name`, or NULL. */
ember_host_conf_t *ember__config_host(ember_config_t *c, const char *name);

/* The <component> of `domain` (prepared), or NULL. */
const ember_component_conf_t *ember__config_component(const ember_config_t *c,
                                                      const char *domain);

/*
 * Replace the file at path with data: a temporary file in the same
 * directory, fsync, rename, so that readers see the old or the new file,
 * never a half one.  mode -1 keeps the current file's mode (0644 for a
 * new file).  backup: the previous file stays as path.bak.  Negative
 * EMBER_E* with a message in err.
 */
int ember__write_atomic(const char *path, const char *data, size_t len,
                        int mode, int backup, char *err, size_t errlen);
/* Write all of data to fd (EINTR retried): 0, or -1 with errno. */
int ember__write_all(int fd, const char *data, size_t len);

/*
 * The settings of ember.xml as typed descriptors: those of <limits> and
 * <s2s> the parser reads through this table; the attributes of the
 * repeated elements (a group: <listen>, <component>, <tls>) are parsed by
 * their element's own code.  The console draws its forms from it.  A FILE
 * setting names a file: only the file on disk may change it; a SECRET is
 * written, never shown back.
 */
typedef enum {
    EMBER_SET_INT = 1,
    EMBER_SET_DURATION = 2,  /* seconds; "30s", "10m", "2h" accepted */
    EMBER_SET_BOOL = 3,
    EMBER_SET_TEXT = 4,
    EMBER_SET_FILE = 5,
    EMBER_SET_SECRET = 6,
    EMBER_SET_CHOICE = 7,    /* one of the words of `choices` */
    EMBER_SET_ADDRESS = 8,   /* an IPv4 or IPv6 address */
    EMBER_SET_DOMAIN = 9
} ember_setting_kind_t;

typedef struct ember_setting_s {
    const char *element, *attr;
    ember_setting_kind_t kind;
    long long lo, hi, def;     /* INT, DURATION, BOOL (0/1) */
    size_t offset, size;       /* the field in ember_config_t; size 0:
                                  parsed by its element's own code */
    const char *help;
    const char *choices;       /* CHOICE: space-separated */
    int required;              /* a new instance of a group needs it */
} ember_setting_t;

/*
 * An element that may appear several times.  Each instance is named by
 * its `key` attribute, or, key NULL, by its place among its like ("0",
 * "1" ...); in_host: the one directly under <ember> is "" and each
 * <host> may hold one, named by the host.  fixed: instances are neither
 * added nor removed by command (their attributes name files).
 */
typedef struct ember_setting_group_s {
    const char *element, *key;
    int in_host, fixed;
    const char *title;
} ember_setting_group_t;

const ember_setting_t *ember__settings(size_t *n);
const ember_setting_group_t *ember__setting_groups(size_t *n);
/* The group of element, or NULL (an element that appears once). */
const ember_setting_group_t *ember__setting_group(const char *element);
/* Its value in c as JSON (null when unset). */
json_t *ember__setting_value(const ember_config_t *c,
                             const ember_setting_t *s);
/* Check text as a value of s: 0, or EMBER_EINVAL with why in msg. */
int ember__setting_check(const ember_setting_t *s, const char *text,
                         char *msg, size_t msglen);

#endif
