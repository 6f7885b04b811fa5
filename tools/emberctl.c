/* tools/emberctl.c -- administer Ember: accounts, config checks, status. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <uv.h>
#include <jansson.h>
#include <libxml/xmlstring.h>
#include <libxml/entities.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "ember_config.h"
#include "ctl_migrate.h"
#include "ctl_storage.h"
#include "admin/control.h"
#include "net/certgen.h"
#include "runtime/commands.h"
#include "base/config.h"
#include "base/jid.h"
#include "base/log.h"
#include "base/privileges.h"
#include "runtime/modules.h"
#include "server.h"

#ifndef EMBER_SYSCONFDIR
#define EMBER_SYSCONFDIR "/usr/local/etc"
#endif
#ifndef EMBER_PLUGINDIR
#define EMBER_PLUGINDIR "/usr/local/lib/ember/modules"
#endif

#define EXIT_CMD 1
#define EXIT_USAGE 2
#define CERT_DAYS 3650

/* Core commands that only make sense against a running emberd. */
static const char *const needs_server[] = {
    "reload", "status", "sessions", "kick", "components", "export", "import",
    NULL
};

static const char usage_text[] =
    "usage: emberctl [-c FILE] [--json] COMMAND [ARGS...]\n"
    "\n"
    "  init DIR [--domain D] [--ports BASE] [--plugins DIR]\n"
    "                          write a new configuration in DIR\n"
    "  adduser USER@HOST [PASSWORD]   create an account (password from stdin\n"
    "                          when absent)\n"
    "  passwd USER@HOST [PASSWORD]    change a password\n"
    "  deluser USER@HOST       delete an account and all its data\n"
    "  lock USER@HOST          lock an account (its sessions are closed)\n"
    "  unlock USER@HOST        unlock an account\n"
    "  users HOST              list the accounts of a host\n"
    "  check                   validate the config file\n"
    "  modules                 modules: version, ABI, host, state, error\n"
    "  plugins                 plugin files, loaded or not (their manifests)\n"
    "  plugin install FILE [--host=H] [--no-enable]\n"
    "                          copy mod_NAME.so (+ mod_NAME.json) into the\n"
    "                          plugin directory, enable it, reload\n"
    "  certs                   TLS certificates: names and validity\n"
    "  cert-install HOST CERT [KEY]\n"
    "                          install a host's certificate (PEM chain) and\n"
    "                          key from files, reload; without KEY, the key\n"
    "                          of its cert-request (for certbot's deploy hook)\n"
    "  reload                  re-read the config (needs a running emberd)\n"
    "  status                  server status (needs a running emberd)\n"
    "  sessions [HOST]         client sessions (needs a running emberd)\n"
    "  kick USER@HOST          close an account's sessions (needs emberd)\n"
    "  components              external components (needs a running emberd)\n"
    "  batch                   run commands read from stdin, one per line\n"
    "  export FILE [HOST...]   accounts and their data as XEP-0227 XML\n"
    "                          (needs a running emberd)\n"
    "  import FILE [--force] [--skip-unknown] [--host=H]\n"
    "                          read a XEP-0227 or Openfire user file\n"
    "                          (needs a running emberd; doc/migration.md)\n"
    "  users-import-csv FILE   create accounts from CSV rows\n"
    "                          jid,password[,name[,email]] (FILE - is stdin);\n"
    "                          exit 1 when a row failed\n"
    "  commands                every command the server knows, with args\n"
    "  migrate-storage --to=CONFIG [--force] [--batch=N]\n"
    "                          copy every stored record into the storage\n"
    "                          CONFIG names (emberd stopped)\n"
    "\n"
    "Arguments go by position or as --name=value.  FILE defaults to\n"
    "$EMBER_CONFIG, else " EMBER_SYSCONFDIR "/ember/ember.xml.\n"
    "Exit status: 0 success, 1 command error, 2 usage error.\n";

typedef struct ctl_s {
    const char *config_path;
    int json_out;
    int batch;
    ember_config_t *cfg;      /* online: ours; offline: the server's */
    int fd;                   /* control socket, -1 offline */
    FILE *in;                 /* reading side of fd */
    int offline;              /* the in-process server is running */
    json_t *commands;         /* the command list, as the server has it */
} ctl_t;

/* What one command ended with. */
typedef struct ctl_reply_s {
    int done;
    int status;
    json_t *result;
    char error[32];
    char *message;
} ctl_reply_t;


static void
die_usage(const char *fmt, ...)
{
    va_list ap;

    fputs("emberctl: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\n(emberctl help for usage)\n", stderr);
    exit(EXIT_USAGE);
}


static void
reply_clear(ctl_reply_t *r)
{
    json_decref(r->result);
    free(r->message);
    memset(r, 0, sizeof(*r));
}


static void
reply_set_error(ctl_reply_t *r, int status, const char *message)
{
    r->done = 1;
    r->status = status < 0 ? status : EMBER_EIO;
    snprintf(r->error, sizeof(r->error), "%s", ember_err_name(r->status));
    r->message = strdup(message != NULL ? message
                                        : ember_strerror(r->status));
}


/* ---- talking to a running emberd ---- */


/* 0 connected, 1 nobody listens there, -1 error (printed). */
static int
ctl_connect(ctl_t *c, const char *path)
{
    struct sockaddr_un sa;
    int fd;

    if (strlen(path) >= sizeof(sa.sun_path)) {
        fprintf(stderr, "emberctl: control socket path too long: %s\n",
                path);
        return -1;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, strlen(path) + 1);
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
        perror("emberctl: socket");
        return -1;
    }
    if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
        int e = errno;

        close(fd);
        if (e == ENOENT || e == ECONNREFUSED)
            return 1;
        fprintf(stderr, "emberctl: %s: %s%s\n", path, strerror(e),
                e == EACCES ? " (run emberctl as the user emberd runs as)"
                            : "");
        return -1;
    }
    c->fd = fd;
    if ((c->in = fdopen(dup(fd), "r")) == NULL) {
        close(fd);
        c->fd = -1;
        perror("emberctl: fdopen");
        return -1;
    }
    return 0;
}


static int
send_all(int fd, const char *s, size_t n)
{
    ssize_t w;

    while (n > 0) {
        w = send(fd, s, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        s += w;
        n -= (size_t) w;
    }
    return 0;
}


static void
call_online(ctl_t *c, const char *name, json_t *args, ctl_reply_t *r)
{
    json_t *req, *reply;
    json_error_t jerr;
    char *line = NULL, *s;
    size_t cap = 0;
    ssize_t n;

    memset(r, 0, sizeof(*r));
    req = args != NULL
              ? json_pack("{s:s, s:O}", "command", name, "args", args)
              : json_pack("{s:s, s:{}}", "command", name, "args");
    s = req != NULL ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    if (s == NULL) {
        reply_set_error(r, EMBER_ENOMEM, NULL);
        return;
    }
    /* emberd would drop the line and answer that it is too long. */
    if (strlen(s) > EMBER_CONTROL_LINE_MAX) {
        free(s);
        reply_set_error(r, EMBER_EINVAL, "request too long for the control "
                        "socket (at most 65536 bytes): split it, or use "
                        "the REST API");
        return;
    }
    if (send_all(c->fd, s, strlen(s)) < 0 || send_all(c->fd, "\n", 1) < 0) {
        free(s);
        reply_set_error(r, EMBER_EIO, "lost the connection to emberd");
        return;
    }
    free(s);
    if ((n = getline(&line, &cap, c->in)) <= 0) {
        free(line);
        reply_set_error(r, EMBER_EIO, "emberd closed the connection");
        return;
    }
    reply = json_loadb(line, (size_t) n, 0, &jerr);
    free(line);
    if (!json_is_object(reply)) {
        json_decref(reply);
        reply_set_error(r, EMBER_EPROTO, "emberd sent a malformed reply");
        return;
    }
    r->done = 1;
    if (json_is_true(json_object_get(reply, "ok"))) {
        r->status = 0;
        r->result = json_incref(json_object_get(reply, "result"));
    } else {
        r->status = EMBER_EIO;
        snprintf(r->error, sizeof(r->error), "%s",
                 json_string_value(json_object_get(reply, "error")) != NULL
                     ? json_string_value(json_object_get(reply, "error"))
                     : "EUNKNOWN");
        s = (char *) json_string_value(json_object_get(reply, "message"));
        r->message = strdup(s != NULL ? s : r->error);
    }
    json_decref(reply);
}


/* ---- running commands in-process, when emberd is not running ---- */


static void
offline_reply(int status, json_t *result, const char *message, void *ud)
{
    ctl_reply_t *r = ud;

    if (status < 0) {
        reply_set_error(r, status, message);
        return;
    }
    r->done = 1;
    r->status = 0;
    r->result = json_incref(result);
}


static void
call_offline(ctl_t *c, const char *name, json_t *args, ctl_reply_t *r)
{
    char actor[40];

    snprintf(actor, sizeof(actor), "emberctl (uid %u)",
             (unsigned) getuid());
    ember__command_run(name, args, EMBER_CALLER_LOCAL, actor,
                       "command line, server stopped", offline_reply, r);
    while (!r->done)
        if (uv_run(ember__loop(), UV_RUN_ONCE) == 0 && !r->done) {
            reply_set_error(r, EMBER_ESTATE, "the command never finished");
            break;
        }
}


static int
offline_start(ctl_t *c)
{
    char err[1024];
    int rc;

    ember__log_open(EMBER_LOG_WARN, NULL);
    err[0] = '\0';
    rc = ember__server_start(c->cfg, EMBER_SERVER_OFFLINE, err, sizeof(err));
    c->cfg = NULL;          /* the server owns it, failed or not */
    if (rc < 0) {
        fprintf(stderr, "emberctl: %s\n",
                err[0] != '\0' ? err : ember_strerror(rc));
        ember__server_cleanup();
        return -1;
    }
    /* ember__server_start registered the core commands. */
    c->offline = 1;
    return 0;
}


static void
offline_stop(ctl_t *c)
{
    if (!c->offline)
        return;
    ember__server_stop();
    uv_run(ember__loop(), UV_RUN_DEFAULT);
    ember__server_cleanup();
    c->offline = 0;
}


static void
call(ctl_t *c, const char *name, json_t *args, ctl_reply_t *r)
{
    memset(r, 0, sizeof(*r));
    if (c->fd >= 0)
        call_online(c, name, args, r);
    else
        call_offline(c, name, args, r);
}


static json_t *
find_command(ctl_t *c, const char *name)
{
    size_t i;
    json_t *e;

    json_array_foreach(c->commands, i, e)
        if (strcmp(json_string_value(json_object_get(e, "name")), name) == 0)
            return e;
    return NULL;
}


static int
is_needs_server(const char *name)
{
    size_t i;

    for (i = 0; needs_server[i] != NULL; i++)
        if (strcmp(needs_server[i], name) == 0)
            return 1;
    return 0;
}


/* ---- passwords ---- */


static char *
read_line_noecho(const char *prompt)
{
    struct termios old, quiet;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int tty = isatty(STDIN_FILENO);

    if (tty) {
        fputs(prompt, stderr);
        fflush(stderr);
        tcgetattr(STDIN_FILENO, &old);
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t) ECHO;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    n = getline(&line, &cap, stdin);
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        fputc('\n', stderr);
    }
    if (n <= 0) {
        free(line);
        return NULL;
    }
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    return line;
}


static char *
read_password(const char *what)
{
    char prompt[256], *pw, *again;

    snprintf(prompt, sizeof(prompt), "Password for %s: ", what);
    if ((pw = read_line_noecho(prompt)) == NULL || pw[0] == '\0') {
        free(pw);
        return NULL;
    }
    if (!isatty(STDIN_FILENO))
        return pw;
    again = read_line_noecho("Again: ");
    if (again == NULL || strcmp(again, pw) != 0) {
        fputs("emberctl: the passwords differ\n", stderr);
        free(again);
        explicit_bzero(pw, strlen(pw));
        free(pw);
        return NULL;
    }
    explicit_bzero(again, strlen(again));
    free(again);
    return pw;
}


static void
secret_free(json_t *args, json_t *cmd)
{
    size_t i;
    json_t *a, *v;

    /* The password copy in args is wiped before it is freed. */
    json_array_foreach(json_object_get(cmd, "args"), i, a) {
        if (strcmp(json_string_value(json_object_get(a, "type")),
                   "secret") != 0)
            continue;
        v = json_object_get(args, json_string_value(json_object_get(a,
                                                                    "name")));
        if (json_is_string(v))
            explicit_bzero((char *) json_string_value(v),
                           json_string_length(v));
    }
    json_decref(args);
}


/*
 * Build the args object of cmd from words: --name=value pairs, a bare
 * --name for booleans, the rest by position in the command's table.  A
 * missing secret is asked for on stdin (not in batch mode).  NULL with a
 * message in err on a usage error.
 */
static json_t *
build_args(ctl_t *c, json_t *cmd, int argc, char **argv, char *err,
           size_t errlen)
{
    json_t *table = json_object_get(cmd, "args"), *args, *a = NULL;
    const char *cname = json_string_value(json_object_get(cmd, "name"));
    const char *aname, *type, *eq;
    char key[128], *pw;
    size_t i, pos = 0;
    int k;

    if ((args = json_object()) == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    for (k = 0; k < argc; k++) {
        if (strncmp(argv[k], "--", 2) == 0 && argv[k][2] != '\0') {
            eq = strchr(argv[k], '=');
            snprintf(key, sizeof(key), "%.*s",
                     (int) (eq != NULL ? (size_t) (eq - argv[k] - 2)
                                       : strlen(argv[k] + 2)),
                     argv[k] + 2);
            json_array_foreach(table, i, a)
                if (strcmp(json_string_value(json_object_get(a, "name")),
                           key) == 0)
                    break;
            if (i == json_array_size(table)) {
                snprintf(err, errlen, "%s: unknown option --%s", cname, key);
                goto fail;
            }
            type = json_string_value(json_object_get(a, "type"));
            if (eq == NULL && strcmp(type, "bool") != 0) {
                snprintf(err, errlen, "%s: --%s needs a value (--%s=...)",
                         cname, key, key);
                goto fail;
            }
            json_object_set_new(args, key,
                                json_string(eq != NULL ? eq + 1 : "true"));
            continue;
        }
        /* The next argument of the table not given by name. */
        while (pos < json_array_size(table) &&
               json_object_get(args, json_string_value(json_object_get(
                   json_array_get(table, pos), "name"))) != NULL)
            pos++;
        if (pos >= json_array_size(table)) {
            snprintf(err, errlen, "%s: too many arguments", cname);
            goto fail;
        }
        aname = json_string_value(json_object_get(json_array_get(table, pos),
                                                  "name"));
        json_object_set_new(args, aname, json_string(argv[k]));
        pos++;
    }
    json_array_foreach(table, i, a) {
        aname = json_string_value(json_object_get(a, "name"));
        type = json_string_value(json_object_get(a, "type"));
        if (json_object_get(args, aname) != NULL ||
            !json_is_true(json_object_get(a, "required")))
            continue;
        if (strcmp(type, "secret") != 0 || c->batch) {
            snprintf(err, errlen, "%s: missing %s", cname, aname);
            goto fail;
        }
        pw = read_password(json_string_value(json_object_get(args, "jid"))
                               != NULL
                               ? json_string_value(json_object_get(args,
                                                                   "jid"))
                               : aname);
        if (pw == NULL) {
            snprintf(err, errlen, "%s: no %s given", cname, aname);
            goto fail;
        }
        json_object_set_new(args, aname, json_string(pw));
        explicit_bzero(pw, strlen(pw));
        free(pw);
    }
    return args;

fail:
    secret_free(args, cmd);
    return NULL;
}


/* ---- output ---- */


/* A table cell: strings as they are, "-" for null. */
static char *
cell(json_t *v)
{
    char buf[64];

    if (v == NULL || json_is_null(v))
        return strdup("-");
    if (json_is_string(v))
        return strdup(json_string_value(v));
    if (json_is_integer(v)) {
        snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT,
                 json_integer_value(v));
        return strdup(buf);
    }
    if (json_is_real(v)) {
        snprintf(buf, sizeof(buf), "%.2f", json_real_value(v));
        return strdup(buf);
    }
    if (json_is_boolean(v))
        return strdup(json_is_true(v) ? "yes" : "no");
    return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}


static void
print_table(json_t *rows, const char *const *keys, const char *const *heads)
{
    size_t ncol, i, k, w[16];
    json_t *row;
    char *s;

    for (ncol = 0; keys[ncol] != NULL && ncol < 16; ncol++)
        w[ncol] = strlen(heads[ncol]);
    json_array_foreach(rows, i, row)
        for (k = 0; k < ncol; k++) {
            s = cell(json_object_get(row, keys[k]));
            if (s != NULL && strlen(s) > w[k])
                w[k] = strlen(s);
            free(s);
        }
    for (k = 0; k < ncol; k++)
        printf(k + 1 < ncol ? "%-*s  " : "%-.*s\n", (int) w[k], heads[k]);
    json_array_foreach(rows, i, row)
        for (k = 0; k < ncol; k++) {
            s = cell(json_object_get(row, keys[k]));
            if (k + 1 < ncol)
                printf("%-*s  ", (int) w[k], s != NULL ? s : "?");
            else
                printf("%s\n", s != NULL ? s : "?");
            free(s);
        }
}


/* key: value lines, nested objects and arrays flattened with dots. */
static void
print_kv(const char *prefix, json_t *v)
{
    const char *key;
    char name[256], *s;
    json_t *item;
    size_t i;
    int scalars = 1;

    if (json_is_object(v)) {
        json_object_foreach(v, key, item) {
            snprintf(name, sizeof(name), "%s%s%s", prefix,
                     prefix[0] != '\0' ? "." : "", key);
            print_kv(name, item);
        }
        return;
    }
    if (json_is_array(v)) {
        json_array_foreach(v, i, item)
            if (json_is_object(item) || json_is_array(item))
                scalars = 0;
        if (!scalars) {
            json_array_foreach(v, i, item) {
                snprintf(name, sizeof(name), "%s[%zu]", prefix, i);
                print_kv(name, item);
            }
            return;
        }
        printf("%s: ", prefix);
        json_array_foreach(v, i, item) {
            s = cell(item);
            printf("%s%s", i > 0 ? ", " : "", s != NULL ? s : "?");
            free(s);
        }
        putchar('\n');
        return;
    }
    s = cell(v);
    printf("%s%s%s\n", prefix, prefix[0] != '\0' ? ": " : "",
           s != NULL ? s : "?");
    free(s);
}


static void
print_result(const char *name, json_t *r)
{
    static const char *const mod_keys[] = {
        "name", "version", "abi", "host", "state", "error", NULL
    };
    static const char *const mod_heads[] = {
        "NAME", "VERSION", "ABI", "HOST", "STATE", "ERROR", NULL
    };
    static const char *const csv_keys[] = { "line", "jid", "result", NULL };
    static const char *const csv_heads[] = { "LINE", "JID", "RESULT", NULL };
    static const char *const sess_keys[] = {
        "jid", "ip", "tls", "mechanism", "idle_ms", "in", "out", NULL
    };
    static const char *const sess_heads[] = {
        "JID", "IP", "TLS", "MECHANISM", "IDLE_MS", "IN", "OUT", NULL
    };
    /* A cluster's nodes each list their sessions: one more column. */
    static const char *const csess_keys[] = {
        "jid", "node", "ip", "tls", "mechanism", "idle_ms", "in", "out", NULL
    };
    static const char *const csess_heads[] = {
        "JID", "NODE", "IP", "TLS", "MECHANISM", "IDLE_MS", "IN", "OUT", NULL
    };
    static const char *const comp_keys[] = {
        "domain", "connected", "address", "stanzas_in", "stanzas_out", NULL
    };
    static const char *const comp_heads[] = {
        "DOMAIN", "CONNECTED", "ADDRESS", "IN", "OUT", NULL
    };
    static const char *const plug_keys[] = {
        "name", "version", "abi", "state", "enabled", "description", NULL
    };
    static const char *const plug_heads[] = {
        "NAME", "VERSION", "ABI", "STATE", "ENABLED", "DESCRIPTION", NULL
    };
    static const char *const cmd_keys[] = {
        "name", "permission", "module", "summary", NULL
    };
    static const char *const cmd_heads[] = {
        "COMMAND", "PERMISSION", "MODULE", "SUMMARY", NULL
    };
    static const char *const user_keys[] = {
        "jid", "locked", "online", NULL
    };
    static const char *const user_heads[] = {
        "JID", "LOCKED", "ONLINE", NULL
    };
    static const char *const opt_keys[] = {
        "name", "type", "value", "default", "min", "max", "help", NULL
    };
    static const char *const opt_heads[] = {
        "OPTION", "TYPE", "VALUE", "DEFAULT", "MIN", "MAX", "HELP", NULL
    };
    const char *jid = json_string_value(json_object_get(r, "jid"));
    json_t *e;
    size_t i;

    if (strcmp(name, "logs") == 0 && json_is_object(r)) {
        /* Like the log file, so that it reads (and greps) the same. */
        json_array_foreach(json_object_get(r, "lines"), i, e) {
            json_int_t ms = json_integer_value(json_object_get(e, "time"));
            time_t t = (time_t) (ms / 1000);
            struct tm tm;
            char stamp[32];

            gmtime_r(&t, &tm);
            strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
            printf("%s.%03dZ %-5s [%s] %s\n", stamp, (int) (ms % 1000),
                   json_string_value(json_object_get(e, "level")),
                   json_string_value(json_object_get(e, "source")),
                   json_string_value(json_object_get(e, "text")));
        }
        return;
    }
    if (strcmp(name, "user-search") == 0 && json_is_object(r)) {
        print_table(json_object_get(r, "users"), user_keys, user_heads);
        printf("(%" JSON_INTEGER_FORMAT " matching)\n",
               json_integer_value(json_object_get(r, "total")));
        return;
    }
    if (strcmp(name, "config-get") == 0 && json_is_object(r) &&
        json_is_string(json_object_get(r, "text"))) {
        fputs(json_string_value(json_object_get(r, "text")), stdout);
        return;
    }
    if (strcmp(name, "vcard-get") == 0 && json_is_object(r) &&
        json_is_string(json_object_get(r, "vcard"))) {
        puts(json_string_value(json_object_get(r, "vcard")));
        return;
    }
    if (strcmp(name, "module-options") == 0 && json_is_array(r)) {
        if (json_array_size(r) == 0)
            puts("no options");
        else
            print_table(r, opt_keys, opt_heads);
        return;
    }
    if (strcmp(name, "modules") == 0 && json_is_array(r)) {
        print_table(r, mod_keys, mod_heads);
    } else if (strcmp(name, "users-import-csv") == 0 && json_is_array(r)) {
        print_table(r, csv_keys, csv_heads);
    } else if (strcmp(name, "plugins") == 0 && json_is_array(r)) {
        print_table(r, plug_keys, plug_heads);
    } else if (strcmp(name, "sessions") == 0 && json_is_array(r)) {
        if (json_array_size(r) == 0)
            puts("no sessions");
        else if (json_object_get(json_array_get(r, 0), "node") != NULL)
            print_table(r, csess_keys, csess_heads);
        else
            print_table(r, sess_keys, sess_heads);
    } else if (strcmp(name, "components") == 0 && json_is_array(r)) {
        if (json_array_size(r) == 0)
            puts("no components");
        else
            print_table(r, comp_keys, comp_heads);
    } else if (strcmp(name, "commands") == 0 && json_is_array(r)) {
        print_table(r, cmd_keys, cmd_heads);
    } else if ((strcmp(name, "users") == 0 || strcmp(name, "admins") == 0)
               && json_is_array(r)) {
        json_array_foreach(r, i, e)
            if (json_is_string(e))
                puts(json_string_value(e));
    } else if (strcmp(name, "kick") == 0 && jid != NULL) {
        printf("%s: %" JSON_INTEGER_FORMAT " session(s) closed\n", jid,
               json_integer_value(json_object_get(r, "closed")));
    } else if (jid != NULL && json_is_string(json_object_get(r, "done"))) {
        printf("%s: %s\n", jid,
               json_string_value(json_object_get(r, "done")));
    } else if (strcmp(name, "certs") == 0 && json_is_array(r)) {
        json_array_foreach(r, i, e) {
            if (i > 0)
                putchar('\n');
            print_kv("", e);
        }
    } else if (r == NULL || json_is_null(r) ||
               (json_is_object(r) && json_object_size(r) == 1 &&
                json_is_true(json_object_get(r, "ok")))) {
        puts("ok");
    } else {
        print_kv("", r);
    }
}


/* One line for batch mode. */
static void
print_batch_line(ctl_t *c, const char *name, ctl_reply_t *r)
{
    json_t *o;
    char *s;

    if (c->json_out) {
        o = r->status == 0
                ? json_pack("{s:b, s:O}", "ok", 1, "result",
                            r->result != NULL ? r->result : json_null())
                : json_pack("{s:b, s:s, s:s}", "ok", 0, "error", r->error,
                            "message", r->message != NULL ? r->message : "");
        s = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
        puts(s != NULL ? s : "{\"ok\":false}");
        free(s);
        json_decref(o);
    } else if (r->status < 0) {
        printf("error: %s: %s\n", r->error,
               r->message != NULL ? r->message : "");
    } else if (json_is_string(json_object_get(r->result, "jid")) &&
               json_is_string(json_object_get(r->result, "done"))) {
        printf("ok: %s: %s\n",
               json_string_value(json_object_get(r->result, "jid")),
               json_string_value(json_object_get(r->result, "done")));
    } else {
        s = r->result != NULL
                ? json_dumps(r->result, JSON_COMPACT | JSON_ENCODE_ANY)
                : NULL;
        printf("ok%s%s\n", s != NULL ? ": " : "", s != NULL ? s : "");
        free(s);
    }
    fflush(stdout);
}


/* users-import-csv ran, but some row did not become an account as asked. */
static int
import_failed(const char *name, json_t *result)
{
    json_t *row;
    size_t i;

    if (strcmp(name, "users-import-csv") != 0)
        return 0;
    json_array_foreach(result, i, row)
        if (strcmp(json_string_value(json_object_get(row, "result")) != NULL
                       ? json_string_value(json_object_get(row, "result"))
                       : "", "created") != 0)
            return 1;
    return 0;
}


static void
print_cmd_usage(json_t *cmd)
{
    json_t *a;
    size_t i;
    int req;

    fprintf(stderr, "usage: emberctl %s",
            json_string_value(json_object_get(cmd, "name")));
    json_array_foreach(json_object_get(cmd, "args"), i, a) {
        req = json_is_true(json_object_get(a, "required")) &&
              strcmp(json_string_value(json_object_get(a, "type")),
                     "secret") != 0;
        fprintf(stderr, " %s%s%s", req ? "" : "[",
                json_string_value(json_object_get(a, "name")),
                req ? "" : "]");
    }
    fprintf(stderr, "\n");
}


/*
 * Run one command line.  Returns the exit status it deserves; in batch
 * mode usage errors are reported like command errors, on one line.
 */
static int
run_words(ctl_t *c, int argc, char **argv)
{
    const char *name = argv[0];
    json_t *cmd, *args;
    ctl_reply_t r;
    char err[512], *s;
    int status;

    if (strcmp(name, "commands") == 0) {
        memset(&r, 0, sizeof(r));
        r.done = 1;
        r.result = json_incref(c->commands);
    } else if ((cmd = find_command(c, name)) == NULL ||
               (c->fd < 0 && is_needs_server(name))) {
        if (c->fd < 0 && is_needs_server(name))
            snprintf(err, sizeof(err), "%s: emberd is not running", name);
        else if (strcmp(name, "init") == 0 || strcmp(name, "batch") == 0)
            snprintf(err, sizeof(err), "%s: not allowed here", name);
        else
            snprintf(err, sizeof(err), "unknown command '%s'%s", name,
                     c->fd < 0 ? " (emberd is not running: module "
                                 "commands need it)" : "");
        memset(&r, 0, sizeof(r));
        reply_set_error(&r, c->fd < 0 && is_needs_server(name)
                                ? EMBER_ESTATE : EMBER_EINVAL, err);
        if (c->batch) {
            print_batch_line(c, name, &r);
            reply_clear(&r);
            return EXIT_CMD;
        }
        fprintf(stderr, "emberctl: %s\n", err);
        reply_clear(&r);
        return c->fd < 0 && is_needs_server(name) ? EXIT_CMD : EXIT_USAGE;
    } else if ((args = build_args(c, cmd, argc - 1, argv + 1, err,
                                  sizeof(err))) == NULL) {
        memset(&r, 0, sizeof(r));
        reply_set_error(&r, EMBER_EINVAL, err);
        if (c->batch) {
            print_batch_line(c, name, &r);
            reply_clear(&r);
            return EXIT_CMD;
        }
        fprintf(stderr, "emberctl: %s\n", err);
        print_cmd_usage(cmd);
        reply_clear(&r);
        return EXIT_USAGE;
    } else {
        call(c, name, args, &r);
        secret_free(args, cmd);
    }

    if (c->batch) {
        print_batch_line(c, name, &r);
    } else if (r.status < 0) {
        if (c->json_out)
            print_batch_line(c, name, &r);
        fprintf(stderr, "emberctl: %s\n",
                r.message != NULL ? r.message : r.error);
    } else if (c->json_out) {
        s = json_dumps(r.result != NULL ? r.result : json_null(),
                       JSON_INDENT(2) | JSON_ENCODE_ANY);
        puts(s != NULL ? s : "null");
        free(s);
    } else {
        print_result(name, r.result);
    }
    status = r.status < 0 || import_failed(name, r.result) ? EXIT_CMD : 0;
    reply_clear(&r);
    return status;
}


/* ---- export, import (tools/ctl_migrate.c) ---- */


static int
mig_call(void *ud, const char *name, json_t *args, json_t **result,
         char *errname, size_t namelen, char *msg, size_t msglen)
{
    ctl_t *c = ud;
    ctl_reply_t r;
    int status;

    call(c, name, args, &r);
    status = r.status;
    *result = status == 0 ? json_incref(r.result) : NULL;
    snprintf(errname, namelen, "%s", r.error);
    snprintf(msg, msglen, "%s", r.message != NULL ? r.message : r.error);
    reply_clear(&r);
    return status;
}


static int
run_migrate(ctl_t *c, int argc, char **argv)
{
    ctl_mig_ops_t ops = { mig_call, c, c->commands };

    if (c->fd < 0) {
        /* Modules hold the data, and only a running emberd loads them. */
        fprintf(stderr, "emberctl: %s: emberd is not running\n", argv[0]);
        return EXIT_CMD;
    }
    return strcmp(argv[0], "export") == 0
               ? ctl_export(&ops, argc - 1, argv + 1)
               : ctl_import(&ops, argc - 1, argv + 1);
}


/* ---- batch ---- */


/*
 * Split a line like a shell would, minus expansions: blanks separate
 * words, '...' and "..." quote, backslash escapes the next character.
 * Returns the word count, -1 on an unterminated quote.
 */
static int
split_words(char *line, char **words, int max)
{
    char *r = line, *w = line, quote;
    int n = 0;

    for (;;) {
        while (*r == ' ' || *r == '\t' || *r == '\n' || *r == '\r')
            r++;
        if (*r == '\0' || *r == '#')
            return n;
        if (n == max)
            return -1;
        words[n++] = w;
        quote = 0;
        while (*r != '\0') {
            if (quote != 0 && *r == quote) {
                quote = 0;
                r++;
            } else if (quote == 0 && (*r == '\'' || *r == '"')) {
                quote = *r++;
            } else if (quote == 0 && (*r == ' ' || *r == '\t' ||
                                      *r == '\n' || *r == '\r')) {
                break;
            } else if (*r == '\\' && quote != '\'' && r[1] != '\0') {
                *w++ = r[1];
                r += 2;
            } else {
                *w++ = *r++;
            }
        }
        if (quote != 0)
            return -1;
        if (*r != '\0')
            r++;
        *w++ = '\0';
    }
}


static int
run_batch(ctl_t *c)
{
    char *line = NULL, *words[64];
    size_t cap = 0;
    int n, rc, status = 0;
    ctl_reply_t r;

    c->batch = 1;
    while (getline(&line, &cap, stdin) > 0) {
        n = split_words(line, words, 64);
        if (n == 0)
            continue;
        if (n < 0) {
            memset(&r, 0, sizeof(r));
            reply_set_error(&r, EMBER_EINVAL, "unterminated quote");
            print_batch_line(c, "", &r);
            reply_clear(&r);
            status = EXIT_CMD;
            continue;
        }
        if ((rc = run_words(c, n, words)) != 0)
            status = rc;
    }
    if (line != NULL)
        explicit_bzero(line, cap);
    free(line);
    return status;
}


/* ---- check ---- */


static int
do_check(ctl_t *c)
{
    char err[1024];
    int rc;

    err[0] = '\0';
    rc = ember__modules_check_file(c->config_path, err, sizeof(err));
    if (rc < 0) {
        if (c->json_out)
            printf("{\"ok\": false, \"error\": \"%s\"}\n",
                   ember_err_name(rc));
        fprintf(stderr, "emberctl: %s\n",
                err[0] != '\0' ? err : ember_strerror(rc));
        return EXIT_CMD;
    }
    if (c->json_out)
        printf("{\"ok\": true}\n");
    else
        printf("%s: OK\n", c->config_path);
    return 0;
}


/* ---- init ---- */


typedef struct init_opts_s {
    const char *dir;
    const char *domain;
    int ports;
    const char *plugins;
} init_opts_t;


static int
mkdir_p(const char *path, mode_t mode)
{
    char buf[PATH_MAX];
    char *p;

    if (snprintf(buf, sizeof(buf), "%s", path) >= (int) sizeof(buf))
        return -1;
    for (p = buf + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char save = *p;

            *p = '\0';
            if (mkdir(buf, mode) < 0 && errno != EEXIST)
                return -1;
            *p = save;
            if (save == '\0')
                return 0;
        }
    }
}


/* The modules directory of a development build, else the installed one. */
static void
default_plugins(char *out, size_t outlen)
{
    char exe[PATH_MAX], *slash;
    struct stat st;
    ssize_t n;

    n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        exe[n] = '\0';
        if ((slash = strrchr(exe, '/')) != NULL) {
            *slash = '\0';
            if (snprintf(out, outlen, "%s/modules", exe) < (int) outlen &&
                stat(out, &st) == 0 && S_ISDIR(st.st_mode))
                return;
        }
    }
    snprintf(out, outlen, "%s", EMBER_PLUGINDIR);
}


/* What init learns from a module's descriptor without loading it. */
enum { MOD_SKIP = 0, MOD_HOST = 1, MOD_GLOBAL = 2 };

static int
module_kind(const char *path, const char *name)
{
    ember_plugin_info_t info;
    char err[1024];

    if (ember__plugin_inspect(path, &info, err, sizeof(err)) < 0) {
        fprintf(stderr, "emberctl: skipping %s: %s\n", name, err);
        return MOD_SKIP;
    }
    json_decref(info.manifest);
    /* Options without a default need a value only the operator knows. */
    if (info.no_default[0] != '\0') {
        fprintf(stderr, "emberctl: not enabling %s: option '%s' has no "
                "default\n", name, info.no_default);
        return MOD_SKIP;
    }
    return info.global ? MOD_GLOBAL : MOD_HOST;
}


static char *
xml_escape(const char *s)
{
    xmlChar *e = xmlEncodeSpecialChars(NULL, (const xmlChar *) s);

    return (char *) e;
}


/*
 * The console's files are installed next to the modules; a development
 * build (modules in the source tree's build dir) serves the tree's web/.
 */
static void
console_line(const char *dir, FILE *out)
{
    char probe[PATH_MAX], web[PATH_MAX];
    char *esc;

    if (snprintf(probe, sizeof(probe), "%s/../../plugin-api/ember/plugin.h",
                 dir) < (int) sizeof(probe) && access(probe, R_OK) == 0 &&
        snprintf(probe, sizeof(probe), "%s/../../web", dir) <
            (int) sizeof(probe) &&
        realpath(probe, web) != NULL && (esc = xml_escape(web)) != NULL) {
        fprintf(out, "  <module name=\"admin_console\" web-root=\"%s\"/>\n",
                esc);
        xmlFree(esc);
        return;
    }
    fprintf(out, "  <module name=\"admin_console\"/>\n");
}


/*
 * The <module/> lines for the modules found in dir, host and global ones
 * apart.  storage_* are backends: the config names one explicitly.
 */
static int
scan_modules(const char *dir, FILE *host_out, FILE *global_out,
             int *have_sqlite)
{
    struct dirent **list;
    char path[PATH_MAX], name[256];
    int n, i, kind, rc;

    *have_sqlite = 0;
    if ((n = scandir(dir, &list, ember__plugin_file_filter, alphasort)) < 0) {
        fprintf(stderr, "emberctl: warning: %s: %s (no modules enabled)\n",
                dir, strerror(errno));
        return 0;
    }
    for (i = 0; i < n; i++) {
        snprintf(name, sizeof(name), "%.*s",
                 (int) (strlen(list[i]->d_name) - 7), list[i]->d_name + 4);
        rc = snprintf(path, sizeof(path), "%s/%s", dir, list[i]->d_name);
        free(list[i]);
        if (rc >= (int) sizeof(path))
            continue;
        if (strcmp(name, "storage_sqlite") == 0)
            *have_sqlite = 1;
        if (strncmp(name, "storage_", 8) == 0)
            continue;
        kind = module_kind(path, name);
        if (kind == MOD_HOST)
            fprintf(host_out, "    <module name=\"%s\"/>\n", name);
        else if (kind == MOD_GLOBAL && strcmp(name, "admin_console") == 0)
            console_line(dir, global_out);
        else if (kind == MOD_GLOBAL)
            fprintf(global_out, "  <module name=\"%s\"/>\n", name);
    }
    free(list);
    return 0;
}


static const char config_template[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<!--\n"
    "  Ember configuration written by emberctl init.  Check it with\n"
    "  `emberctl -c %s check`, apply changes to a running\n"
    "  server with `emberctl -c ... reload`.  Relative paths are taken from\n"
    "  this file's directory (module paths from the data directory).\n"
    "-->\n"
    "<ember>\n"
    "  <log level=\"info\"/>\n"
    "  <paths data=\"data\"/>\n"
    "  <plugins dir=\"%s\"/>\n"
    "  <tls cert=\"data/tls/cert.pem\" key=\"data/tls/key.pem\"/>\n"
    "\n"
    "  <listen type=\"c2s\" address=\"%s\" port=\"%d\" require-tls=\"true\"/>\n"
    "  <listen type=\"c2s-tls\" address=\"%s\" port=\"%d\"/>\n"
    "  <listen type=\"http\" address=\"%s\" port=\"%d\"/>\n"
    "  <listen type=\"https\" address=\"%s\" port=\"%d\"/>\n"
    "  <!-- The console: plain HTTP on loopback only, TLS from anywhere. -->\n"
    "  <listen type=\"admin\" address=\"127.0.0.1\" port=\"%d\"/>\n"
    "  <listen type=\"admin-tls\" address=\"%s\" port=\"%d\"/>\n"
    "\n"
    "  <module name=\"storage_sqlite\" path=\"ember.db\"/>\n"
    "%s"
    "\n"
    "  <host name=\"%s\">\n"
    "%s"
    "  </host>\n"
    "</ember>\n";


static int
write_config(const char *path, const init_opts_t *o, const char *plugins,
             const char *hostmods, const char *globalmods)
{
    char *e_path = xml_escape(path), *e_plugins = xml_escape(plugins);
    const char *addr = o->ports > 0 ? "127.0.0.1" : "0.0.0.0";
    int c2s = o->ports > 0 ? o->ports : 5222;
    int c2s_tls = o->ports > 0 ? o->ports + 1 : 5223;
    FILE *f = NULL;
    int rc = -1;

    if (e_path == NULL || e_plugins == NULL)
        goto out;
    if ((f = fopen(path, "wx")) == NULL) {
        fprintf(stderr, "emberctl: %s: %s\n", path, strerror(errno));
        goto out;
    }
    fprintf(f, config_template, e_path, e_plugins, addr, c2s, addr, c2s_tls,
            addr, o->ports > 0 ? o->ports + 4 : 7070,
            addr, o->ports > 0 ? o->ports + 5 : 7443,
            o->ports > 0 ? o->ports + 6 : 9090,
            addr, o->ports > 0 ? o->ports + 7 : 9091,
            globalmods, o->domain, hostmods);
    if (fclose(f) != 0) {
        fprintf(stderr, "emberctl: %s: %s\n", path, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    xmlFree(e_path);
    xmlFree(e_plugins);
    return rc;
}


static void
parse_init(int argc, char **argv, init_opts_t *o)
{
    const char *v;
    char *end;
    long n;
    int k;

    memset(o, 0, sizeof(*o));
    o->domain = "localhost";
    for (k = 0; k < argc; k++) {
        const char *a = argv[k];
        const char *opts[] = { "--domain", "--ports", "--plugins" };
        size_t i, len;

        v = NULL;
        for (i = 0; i < 3; i++) {
            len = strlen(opts[i]);
            if (strncmp(a, opts[i], len) != 0 ||
                (a[len] != '\0' && a[len] != '='))
                continue;
            if (a[len] == '=')
                v = a + len + 1;
            else if (k + 1 < argc)
                v = argv[++k];
            else
                die_usage("init: %s needs a value", opts[i]);
            break;
        }
        if (i == 0) {
            o->domain = v;
        } else if (i == 1) {
            n = strtol(v, &end, 10);
            if (*v == '\0' || *end != '\0' || n < 1 || n > 65528)
                die_usage("init: --ports takes a port from 1 to 65528");
            o->ports = (int) n;
        } else if (i == 2) {
            o->plugins = v;
        } else if (a[0] == '-' && a[1] != '\0') {
            die_usage("init: unknown option %s", a);
        } else if (o->dir == NULL) {
            o->dir = a;
        } else {
            die_usage("init: too many arguments");
        }
    }
    if (o->dir == NULL)
        die_usage("init: which directory?");
}


static int
do_init(int argc, char **argv)
{
    init_opts_t o;
    char dir[PATH_MAX], plugins[PATH_MAX], cfgpath[PATH_MAX];
    char cert[PATH_MAX], key[PATH_MAX], data[PATH_MAX], domain[1024];
    char *hostmods = NULL, *globalmods = NULL, err[1024];
    size_t hlen = 0, glen = 0;
    FILE *hf, *gf;
    ember_config_t *cfg = NULL;
    const char *names[2];
    int have_sqlite, rc;
    struct stat st;

    parse_init(argc, argv, &o);
    if (ember__jid_prep_domain(o.domain, domain, sizeof(domain)) < 0)
        die_usage("init: '%s' is not a valid domain", o.domain);
    if (mkdir_p(o.dir, 0755) < 0 || realpath(o.dir, dir) == NULL) {
        fprintf(stderr, "emberctl: %s: %s\n", o.dir, strerror(errno));
        return EXIT_CMD;
    }
    if (o.plugins != NULL) {
        if (realpath(o.plugins, plugins) == NULL) {
            fprintf(stderr, "emberctl: %s: %s\n", o.plugins,
                    strerror(errno));
            return EXIT_CMD;
        }
    } else {
        default_plugins(plugins, sizeof(plugins));
    }
    if (snprintf(cfgpath, sizeof(cfgpath), "%s/ember.xml", dir) >=
            (int) sizeof(cfgpath) ||
        snprintf(data, sizeof(data), "%s/data", dir) >= (int) sizeof(data) ||
        snprintf(cert, sizeof(cert), "%s/data/tls/cert.pem", dir) >=
            (int) sizeof(cert) ||
        snprintf(key, sizeof(key), "%s/data/tls/key.pem", dir) >=
            (int) sizeof(key)) {
        fprintf(stderr, "emberctl: %s: path too long\n", dir);
        return EXIT_CMD;
    }
    if (stat(cfgpath, &st) == 0) {
        fprintf(stderr, "emberctl: %s already exists\n", cfgpath);
        return EXIT_CMD;
    }
    if (mkdir(data, 0700) < 0 && errno != EEXIST) {
        fprintf(stderr, "emberctl: %s: %s\n", data, strerror(errno));
        return EXIT_CMD;
    }

    hf = open_memstream(&hostmods, &hlen);
    gf = open_memstream(&globalmods, &glen);
    if (hf == NULL || gf == NULL) {
        perror("emberctl");
        return EXIT_CMD;
    }
    scan_modules(plugins, hf, gf, &have_sqlite);
    fclose(hf);
    fclose(gf);
    o.domain = domain;
    rc = write_config(cfgpath, &o, plugins, hostmods, globalmods);
    free(hostmods);
    free(globalmods);
    if (rc < 0)
        return EXIT_CMD;
    printf("wrote %s\n", cfgpath);

    if (stat(cert, &st) != 0) {
        names[0] = domain;
        names[1] = NULL;
        if ((rc = ember__cert_generate(cert, key, names, CERT_DAYS)) < 0) {
            fprintf(stderr, "emberctl: certificate: %s\n",
                    ember_strerror(rc));
            return EXIT_CMD;
        }
        printf("wrote %s (self-signed for %s, %d days) and %s\n", cert,
               domain, CERT_DAYS, key);
    }

    err[0] = '\0';
    if ((rc = ember__config_load(cfgpath, &cfg, err, sizeof(err))) < 0) {
        fprintf(stderr, "emberctl: the new config does not load: %s\n",
                err[0] != '\0' ? err : ember_strerror(rc));
        return EXIT_CMD;
    }
    if (!have_sqlite) {
        fprintf(stderr, "emberctl: warning: no mod_storage_sqlite.so in %s: "
                "the database will be created on first start\n", plugins);
        ember__config_free(cfg);
    } else {
        /* One offline start creates the database and its tables. */
        ember__log_open(EMBER_LOG_WARN, NULL);
        err[0] = '\0';
        rc = ember__server_start(cfg, EMBER_SERVER_OFFLINE, err,
                                 sizeof(err));
        if (rc == 0) {
            ember__server_stop();
            uv_run(ember__loop(), UV_RUN_DEFAULT);
        }
        ember__server_cleanup();
        if (rc < 0) {
            fprintf(stderr, "emberctl: creating the database: %s\n",
                    err[0] != '\0' ? err : ember_strerror(rc));
            return EXIT_CMD;
        }
        printf("created the database in %s\n", data);
    }
    printf("\nnext:\n  emberctl -c %s adduser alice@%s\n"
           "  emberd -c %s\n", cfgpath, domain, cfgpath);
    return 0;
}


/* ---- plugin install ---- */


/* Copy from to dir/base through a temporary name: a running emberd keeps
 * its mapping of the file it replaces. */
/* Put data at dir/base whole or not at all (no .bak: a plugin file). */
static int
install_file(const char *dir, const char *base, const char *data,
             size_t len)
{
    char dst[PATH_MAX], err[1024];
    int rc;

    if (snprintf(dst, sizeof(dst), "%s/%s", dir, base) >= (int) sizeof(dst)) {
        fprintf(stderr, "emberctl: %s: path too long\n", dir);
        return -1;
    }
    if ((rc = ember__write_atomic(dst, data, len, 0644, 0, err,
                                  sizeof(err))) < 0) {
        fprintf(stderr, "emberctl: %s\n", err);
        return -1;
    }
    return 0;
}


/* All of stdin, malloc'ed; NULL with a message. */
static char *
read_stdin(size_t *len)
{
    char *data = NULL, *grown;
    size_t cap = 0, n;

    *len = 0;
    do {
        if (cap - *len < 4096) {
            cap = cap != 0 ? cap * 2 : 65536;
            if ((grown = realloc(data, cap + 1)) == NULL) {
                fprintf(stderr, "emberctl: out of memory\n");
                free(data);
                return NULL;
            }
            data = grown;
        }
        n = fread(data + *len, 1, cap - *len, stdin);
        *len += n;
    } while (n > 0);
    if (ferror(stdin)) {
        fprintf(stderr, "emberctl: stdin: %s\n", strerror(errno));
        free(data);
        return NULL;
    }
    return data;
}


/* The whole file ("-": stdin), malloc'ed; NULL with a message. */
static char *
read_file(const char *path, size_t *len)
{
    char *data = NULL;
    FILE *f;
    long n;

    if (strcmp(path, "-") == 0)
        return read_stdin(len);
    if ((f = fopen(path, "rb")) == NULL || fseek(f, 0, SEEK_END) < 0 ||
        (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) < 0 ||
        (data = malloc((size_t) n + 1)) == NULL ||
        fread(data, 1, (size_t) n, f) != (size_t) n) {
        fprintf(stderr, "emberctl: %s: %s\n", path, strerror(errno));
        free(data);
        if (f != NULL)
            fclose(f);
        return NULL;
    }
    fclose(f);
    *len = (size_t) n;
    return data;
}


/*
 * cert-install HOST CERT [KEY] is cert-upload with the files' contents,
 * read here, by the operator's emberctl: the server reads no file a
 * command names.
 */
static char *install_words[4];

static void
install_words_free(void)
{
    size_t i;

    for (i = 0; i < sizeof(install_words) / sizeof(install_words[0]); i++)
        free(install_words[i]);
}


/* "--name=" followed by data, kept in install_words[k]; NULL when short
 * of memory. */
static char *
option_word(int k, const char *opt, const char *data, size_t len)
{
    char *w;

    if ((w = malloc(strlen(opt) + len + 1)) == NULL) {
        fprintf(stderr, "emberctl: out of memory\n");
        return NULL;
    }
    memcpy(w, opt, strlen(opt));
    memcpy(w + strlen(opt), data, len);
    w[strlen(opt) + len] = '\0';
    return install_words[k] = w;
}


static int
cert_install_words(int *n, char **words)
{
    static const char *const opt[] = { "--host=", "--cert=", "--key=" };
    char *data;
    size_t len;
    int k;

    if (*n < 3 || *n > 4)
        die_usage("cert-install HOST CERTFILE [KEYFILE]");
    atexit(install_words_free);
    words[0] = "cert-upload";
    for (k = 1; k < *n; k++) {
        if (k == 1) {
            data = strdup(words[k]);
            len = strlen(words[k]);
        } else if ((data = read_file(words[k], &len)) == NULL) {
            return -1;
        }
        if (data == NULL ||
            (words[k] = option_word(k, opt[k - 1], data, len)) == NULL) {
            free(data);
            return -1;
        }
        free(data);
    }
    return 0;
}


/* users-import-csv FILE sends the file's text, read here like
 * cert-install's files. */
static int
import_csv_words(int n, char **words)
{
    json_t *probe;
    char *data;
    size_t len;

    if (n != 2)
        die_usage("users-import-csv FILE (- reads stdin)");
    atexit(install_words_free);
    if ((data = read_file(words[1], &len)) == NULL)
        return -1;
    /* The command's argument is a JSON string: UTF-8, no NUL. */
    if ((probe = json_stringn(data, len)) == NULL ||
        memchr(data, '\0', len) != NULL) {
        fprintf(stderr, "emberctl: %s: not UTF-8 text (save the CSV as "
                "UTF-8)\n", words[1]);
        json_decref(probe);
        free(data);
        return -1;
    }
    json_decref(probe);
    words[1] = option_word(1, "--csv=", data, len);
    free(data);
    return words[1] != NULL ? 0 : -1;
}


/* Copy src to dst, which must not exist yet (no link followed there). */
static int
copy_new(const char *src, const char *dst, char *err, size_t errlen)
{
    char buf[65536];
    ssize_t n;
    int in, out, rc = 0;

    if ((in = open(src, O_RDONLY | O_CLOEXEC)) < 0) {
        snprintf(err, errlen, "%s: %s", src, strerror(errno));
        return -1;
    }
    if ((out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                    0644)) < 0) {
        snprintf(err, errlen, "%s: %s", dst, strerror(errno));
        close(in);
        return -1;
    }
    while (rc == 0 && (n = read(in, buf, sizeof(buf))) != 0)
        if (n < 0 || write(out, buf, (size_t) n) != n) {
            snprintf(err, errlen, "copying %s: %s", src, strerror(errno));
            rc = -1;
        }
    close(in);
    if (close(out) < 0 && rc == 0) {
        snprintf(err, errlen, "%s: %s", dst, strerror(errno));
        rc = -1;
    }
    return rc;
}


/* The child's side: inspect, answer one JSON object on fd, exit. */
static void
inspect_child(const ember_config_t *cfg, const char *path, int fd)
{
    const char *user = cfg->run_user != NULL &&
                       strcmp(cfg->run_user, "root") != 0 ? cfg->run_user
                                                          : "nobody";
    struct rlimit cpu = { 10, 10 };
    ember_plugin_info_t info;
    char err[1024];
    json_t *doc;
    char *text;

    alarm(30);
    setrlimit(RLIMIT_CPU, &cpu);
    err[0] = '\0';
    if (ember__privileges_become(user, cfg->run_group, err, sizeof(err)) < 0)
        doc = json_pack("{s:s}", "error", err);
    else if (ember__plugin_inspect(path, &info, err, sizeof(err)) < 0)
        doc = json_pack("{s:s}", "error", err);
    else
        doc = json_pack("{s:s, s:b, s:s, s:o}", "name", info.name,
                        "global", info.global, "no_default", info.no_default,
                        "manifest", info.manifest);
    text = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;
    if (text != NULL && write(fd, text, strlen(text)) < 0)
        _exit(1);
    _exit(text != NULL ? 0 : 1);
}


/*
 * ember__plugin_inspect in a child that is not root: dlopen runs the
 * plugin's constructors, code nobody has vetted yet.  The child sees a
 * copy (mod_NAME.so and its manifest) in a fresh directory, and sends
 * back only the descriptor's facts.
 */
static int
inspect_apart(const ember_config_t *cfg, const char *file,
              ember_plugin_info_t *info, char *err, size_t errlen)
{
    const char *base = strrchr(file, '/') != NULL ? strrchr(file, '/') + 1
                                                  : file;
    char dir[] = "/tmp/ember-inspect-XXXXXX", so[PATH_MAX], json[PATH_MAX];
    char man_src[PATH_MAX], out[1 << 16];
    size_t len = 0, blen = strlen(base);
    ssize_t n;
    json_error_t je;
    json_t *doc = NULL;
    int p[2], status, rc = -1;
    pid_t pid;

    memset(info, 0, sizeof(*info));
    if (blen <= 7 || strncmp(base, "mod_", 4) != 0 ||
        strcmp(base + blen - 3, ".so") != 0) {
        snprintf(err, errlen, "%s: a plugin file is named mod_NAME.so", file);
        return -1;
    }
    if (mkdtemp(dir) == NULL || chmod(dir, 0755) < 0) {
        snprintf(err, errlen, "mkdtemp: %s", strerror(errno));
        return -1;
    }
    snprintf(so, sizeof(so), "%s/%s", dir, base);
    snprintf(json, sizeof(json), "%s/%.*s.json", dir, (int) (blen - 3), base);
    snprintf(man_src, sizeof(man_src), "%.*s.json",
             (int) (strlen(file) - 3), file);
    if (copy_new(file, so, err, errlen) < 0 ||
        (access(man_src, F_OK) == 0 &&
         copy_new(man_src, json, err, errlen) < 0))
        goto out;
    if (pipe(p) < 0 || (pid = fork()) < 0) {
        snprintf(err, errlen, "fork: %s", strerror(errno));
        goto out;
    }
    if (pid == 0) {
        close(p[0]);
        inspect_child(cfg, so, p[1]);
    }
    close(p[1]);
    while (len < sizeof(out) - 1 &&
           ((n = read(p[0], out + len, sizeof(out) - 1 - len)) > 0 ||
            (n < 0 && errno == EINTR)))
        if (n > 0)
            len += (size_t) n;
    out[len] = '\0';
    close(p[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (WIFSIGNALED(status)) {
        snprintf(err, errlen, "%s: the plugin killed the process that "
                 "opened it (signal %d): not installed", file,
                 WTERMSIG(status));
        goto out;
    }
    if ((doc = json_loads(out, 0, &je)) == NULL) {
        snprintf(err, errlen, "%s: the plugin's inspection gave no answer "
                 "(exit %d): not installed", file,
                 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        goto out;
    }
    if (json_string_value(json_object_get(doc, "error")) != NULL) {
        snprintf(err, errlen, "%s", json_string_value(json_object_get(doc,
                 "error")));
        goto out;
    }
    snprintf(info->name, sizeof(info->name), "%s",
             json_string_value(json_object_get(doc, "name")));
    snprintf(info->no_default, sizeof(info->no_default), "%s",
             json_string_value(json_object_get(doc, "no_default")));
    info->global = json_is_true(json_object_get(doc, "global"));
    info->manifest = json_incref(json_object_get(doc, "manifest"));
    rc = 0;
out:
    json_decref(doc);
    unlink(so);
    unlink(json);
    rmdir(dir);
    return rc;
}


/*
 * Enable the plugin through the core's module-enable command (the running
 * emberd's, else an in-process one): the same edit, check, atomic write
 * and reload as the console's.  Globally, on one host, or on every host.
 */
static int
plugin_enable(ctl_t *c, const ember_config_t *cfg, const char *name,
              int global, const char *host)
{
    const ember_host_conf_t *h = cfg->hosts;
    const char *reload;
    ctl_reply_t r;
    json_t *args;
    int rc = 0;

    do {
        const char *on = global ? NULL : host != NULL ? host : h->name;

        args = on != NULL ? json_pack("{s:s, s:s}", "name", name, "host", on)
                          : json_pack("{s:s}", "name", name);
        call(c, "module-enable", args, &r);
        json_decref(args);
        if (r.status == EMBER_EEXIST || strcmp(r.error, "EEXIST") == 0) {
            printf("%s is already enabled %s%s\n", name,
                   on != NULL ? "on " : "globally", on != NULL ? on : "");
        } else if (r.status < 0) {
            fprintf(stderr, "emberctl: enabling %s: %s\n", name,
                    r.message != NULL ? r.message : r.error);
            rc = -1;
        } else {
            printf("enabled %s %s%s in %s\n", name,
                   on != NULL ? "on " : "globally", on != NULL ? on : "",
                   cfg->path);
            reload = json_string_value(json_object_get(r.result, "reload"));
            if (reload != NULL && strcmp(reload, "ok") == 0)
                printf("emberd reloaded\n");
            else if (reload != NULL)
                printf("%s\n", reload);
        }
        reply_clear(&r);
    } while (rc == 0 && !global && host == NULL && h != NULL &&
             (h = h->next) != NULL);
    return rc;
}


static int
do_plugin(ctl_t *c, int argc, char **argv)
{
    const char *file = NULL, *host = NULL;
    char name[256], base[300], err[1024], *s, *so;
    size_t len;
    ember_plugin_info_t info;
    json_t *man = NULL;
    ember_config_t *cfg = NULL;
    int k, enable = 1, global = 0, rc = EXIT_CMD;

    if (argc < 1 || strcmp(argv[0], "install") != 0)
        die_usage("plugin install FILE [--host=HOST] [--no-enable] "
                  "(`emberctl plugins` lists them)");
    for (k = 1; k < argc; k++) {
        if (strncmp(argv[k], "--host=", 7) == 0 && argv[k][7] != '\0')
            host = argv[k] + 7;
        else if (strcmp(argv[k], "--no-enable") == 0)
            enable = 0;
        else if (argv[k][0] == '-')
            die_usage("plugin install: unknown option %s", argv[k]);
        else if (file == NULL)
            file = argv[k];
        else
            die_usage("plugin install: one FILE at a time");
    }
    if (file == NULL)
        die_usage("plugin install: which mod_NAME.so?");
    err[0] = '\0';
    if ((k = ember__config_load(c->config_path, &cfg, err,
                                sizeof(err))) < 0) {
        fprintf(stderr, "emberctl: %s\n",
                err[0] != '\0' ? err : ember_strerror(k));
        return EXIT_CMD;
    }
    if (cfg->plugin_dirs == NULL || cfg->plugin_dirs[0] == NULL) {
        fprintf(stderr, "emberctl: %s has no <plugins dir=...>\n",
                cfg->path);
        goto out;
    }
    if (inspect_apart(cfg, file, &info, err, sizeof(err)) < 0) {
        fprintf(stderr, "emberctl: %s\n", err);
        goto out;
    }
    snprintf(name, sizeof(name), "%s", info.name);
    global = info.global;
    man = info.manifest;
    if (global && host != NULL) {
        fprintf(stderr, "emberctl: %s is a global module: --host does not "
                "apply\n", name);
        goto out;
    }
    /* The manifest first: a listing never shows a .so without it. */
    snprintf(base, sizeof(base), "mod_%s.json", name);
    if ((s = json_dumps(man, JSON_INDENT(2) | JSON_PRESERVE_ORDER)) == NULL) {
        fprintf(stderr, "emberctl: out of memory\n");
        goto out;
    }
    k = install_file(cfg->plugin_dirs[0], base, s, strlen(s));
    free(s);
    if (k < 0)
        goto out;
    snprintf(base, sizeof(base), "mod_%s.so", name);
    if ((so = read_file(file, &len)) == NULL)
        goto out;
    k = install_file(cfg->plugin_dirs[0], base, so, len);
    free(so);
    if (k < 0)
        goto out;
    printf("installed %s %s into %s\n", name,
           json_string_value(json_object_get(man, "version")) != NULL
               ? json_string_value(json_object_get(man, "version")) : "",
           cfg->plugin_dirs[0]);
    if (!enable) {
        rc = 0;
        goto out;
    }
    if ((k = ctl_connect(c, cfg->control_socket)) < 0)
        goto out;
    if (k == 1) {
        /* No emberd: an in-process one runs the command on its own copy
         * of the config. */
        err[0] = '\0';
        if ((k = ember__config_load(c->config_path, &c->cfg, err,
                                    sizeof(err))) < 0) {
            fprintf(stderr, "emberctl: %s\n",
                    err[0] != '\0' ? err : ember_strerror(k));
            goto out;
        }
        if (offline_start(c) < 0)
            goto out;
    }
    if (plugin_enable(c, cfg, name, global, host) == 0)
        rc = 0;
    if (k == 1)
        offline_stop(c);
out:
    json_decref(man);
    ember__config_free(cfg);
    return rc;
}


/* ---- migrate-storage: its own two offline servers ---- */


static ctl_t store_ctl;


static int
store_server_answers(const char *path)
{
    ctl_t t;
    int rc;

    memset(&t, 0, sizeof(t));
    t.fd = -1;
    if ((rc = ctl_connect(&t, path)) != 0)
        return rc == 1 ? 0 : -1;
    fclose(t.in);
    close(t.fd);
    return 1;
}


static int
store_start(ember_config_t *cfg)
{
    memset(&store_ctl, 0, sizeof(store_ctl));
    store_ctl.fd = -1;
    store_ctl.cfg = cfg;
    return offline_start(&store_ctl);
}


static void
store_stop(void)
{
    offline_stop(&store_ctl);
}


/* ---- main ---- */


int
main(int argc, char **argv)
{
    ctl_t c;
    char *words[256];
    int k, n = 0, rc;
    const char *cmdname = NULL;

    memset(&c, 0, sizeof(c));
    c.fd = -1;
    c.config_path = getenv("EMBER_CONFIG");
    if (c.config_path == NULL || c.config_path[0] == '\0')
        c.config_path = EMBER_SYSCONFDIR "/ember/ember.xml";

    for (k = 1; k < argc; k++) {
        const char *a = argv[k];

        if (cmdname == NULL && (strcmp(a, "-c") == 0 ||
                                strcmp(a, "--config") == 0)) {
            if (++k >= argc)
                die_usage("%s needs a file", a);
            c.config_path = argv[k];
        } else if (cmdname == NULL && strncmp(a, "--config=", 9) == 0) {
            c.config_path = a + 9;
        } else if (strcmp(a, "--json") == 0) {
            c.json_out = 1;
        } else if (cmdname == NULL && (strcmp(a, "-h") == 0 ||
                                       strcmp(a, "--help") == 0)) {
            fputs(usage_text, stdout);
            return 0;
        } else if (cmdname == NULL && strcmp(a, "--version") == 0) {
            printf("emberctl %s\n", EMBER_VERSION);
            return 0;
        } else if (cmdname == NULL && a[0] == '-' && a[1] != '\0') {
            die_usage("unknown option %s", a);
        } else if (cmdname == NULL) {
            cmdname = a;
            words[n++] = argv[k];
        } else if (n < 256) {
            words[n++] = argv[k];
        } else {
            die_usage("too many arguments");
        }
    }
    if (cmdname == NULL) {
        fputs(usage_text, stderr);
        return EXIT_USAGE;
    }
    if (strcmp(cmdname, "help") == 0) {
        fputs(usage_text, stdout);
        return 0;
    }
    if (strcmp(cmdname, "init") == 0)
        return do_init(n - 1, words + 1);
    if (strcmp(cmdname, "check") == 0) {
        if (n > 2)
            die_usage("check: too many arguments");
        if (n == 2)
            c.config_path = words[1];
        return do_check(&c);
    }
    if (strcmp(cmdname, "plugin") == 0)
        return do_plugin(&c, n - 1, words + 1);
    if (strcmp(cmdname, "migrate-storage") == 0) {
        ctl_store_ops_t ops = { store_server_answers, store_start,
                                store_stop };

        return ctl_migrate_storage(&ops, c.config_path, n - 1, words + 1);
    }
    if (strcmp(cmdname, "cert-install") == 0) {
        if (cert_install_words(&n, words) < 0)
            return EXIT_CMD;
        cmdname = words[0];
    }
    if (strcmp(cmdname, "users-import-csv") == 0 &&
        import_csv_words(n, words) < 0)
        return EXIT_CMD;
    if (strcmp(cmdname, "batch") == 0 && n > 1)
        die_usage("batch takes no arguments (commands come on stdin)");

    {
        char err[1024];

        err[0] = '\0';
        if ((rc = ember__config_load(c.config_path, &c.cfg, err,
                                     sizeof(err))) < 0) {
            fprintf(stderr, "emberctl: %s\n",
                    err[0] != '\0' ? err : ember_strerror(rc));
            return EXIT_CMD;
        }
    }
    rc = ctl_connect(&c, c.cfg->control_socket);
    if (rc < 0) {
        ember__config_free(c.cfg);
        return EXIT_CMD;
    }
    if (rc == 0) {
        ctl_reply_t r;

        ember__config_free(c.cfg);
        c.cfg = NULL;
        call_online(&c, "commands", NULL, &r);
        if (r.status < 0 || !json_is_array(r.result)) {
            fprintf(stderr, "emberctl: emberd: %s\n",
                    r.message != NULL ? r.message : "no command list");
            reply_clear(&r);
            return EXIT_CMD;
        }
        c.commands = json_incref(r.result);
        reply_clear(&r);
    } else {
        if (is_needs_server(cmdname)) {
            fprintf(stderr, "emberctl: %s: emberd is not running\n",
                    cmdname);
            ember__config_free(c.cfg);
            return EXIT_CMD;
        }
        if (offline_start(&c) < 0)
            return EXIT_CMD;
        c.commands = ember__command_list();
    }

    if (strcmp(cmdname, "batch") == 0)
        rc = run_batch(&c);
    else if (strcmp(cmdname, "export") == 0 ||
             strcmp(cmdname, "import") == 0)
        rc = run_migrate(&c, n, words);
    else
        rc = run_words(&c, n, words);

    json_decref(c.commands);
    if (c.in != NULL)
        fclose(c.in);
    if (c.fd >= 0)
        close(c.fd);
    offline_stop(&c);
    return rc;
}
