/* core/control.c -- JSON lines over a unix socket, for emberctl. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <uv.h>
#include <jansson.h>

#include "runtime/commands.h"
#include "admin/control.h"
#include "base/log.h"
#include "base/process.h"

#define CTL_BUF_SIZE (EMBER_CONTROL_LINE_MAX + 1)

/*
 * One client.  Requests run one at a time, so replies come back in request
 * order; lines that arrive meanwhile wait in buf.  The struct outlives its
 * handle while a command is pending: the reply is then dropped.
 */
typedef struct ctl_conn_s {
    uv_pipe_t pipe;
    char buf[CTL_BUF_SIZE];
    size_t len;
    unsigned busy : 1;        /* a command is running */
    unsigned reading : 1;
    unsigned eof : 1;         /* the client sent all it will send */
    unsigned discarding : 1;  /* skipping the rest of a too long line */
    unsigned in_process : 1;
    unsigned shutting : 1;
    unsigned closing : 1;     /* uv_close called */
    unsigned closed : 1;      /* close callback ran */
    char actor[40];           /* "emberctl (uid N)", for the audit log */
    struct ctl_conn_s *prev, *next;
} ctl_conn_t;

typedef struct ctl_write_s {
    uv_write_t req;
    ctl_conn_t *conn;
    char *data;
} ctl_write_t;

static uv_pipe_t ctl_server;
static int ctl_running;
static char *ctl_path;
static ctl_conn_t *ctl_conns;

static void conn_process(ctl_conn_t *c);


static void
conn_free_if_done(ctl_conn_t *c)
{
    if (c->closed && !c->busy)
        free(c);
}


static void
on_conn_closed(uv_handle_t *h)
{
    ctl_conn_t *c = h->data;

    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        ctl_conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    c->closed = 1;
    conn_free_if_done(c);
}


static void
conn_close(ctl_conn_t *c)
{
    if (c->closing)
        return;
    c->closing = 1;
    uv_close((uv_handle_t *) &c->pipe, on_conn_closed);
}


static void
on_written(uv_write_t *req, int status)
{
    ctl_write_t *w = (ctl_write_t *) req;

    if (status < 0 && status != UV_ECANCELED)
        conn_close(w->conn);
    free(w->data);
    free(w);
}


/* Send one reply line; takes the reference to reply. */
static void
conn_send(ctl_conn_t *c, json_t *reply)
{
    ctl_write_t *w;
    uv_buf_t b;
    char *s;
    size_t n;

    s = reply != NULL ? json_dumps(reply, JSON_COMPACT) : NULL;
    json_decref(reply);
    if (s == NULL)
        s = strdup("{\"ok\":false,\"error\":\"ENOMEM\","
                   "\"message\":\"cannot encode the reply\"}");
    if (s == NULL || c->closing || (w = calloc(1, sizeof(*w))) == NULL) {
        free(s);
        return;
    }
    /* json_dumps never emits a raw newline, so one line per reply holds. */
    n = strlen(s);
    if ((w->data = realloc(s, n + 2)) == NULL) {
        free(s);
        free(w);
        return;
    }
    w->data[n] = '\n';
    w->data[n + 1] = '\0';
    w->conn = c;
    b = uv_buf_init(w->data, (unsigned) (n + 1));
    if (uv_write(&w->req, (uv_stream_t *) &c->pipe, &b, 1, on_written) < 0) {
        free(w->data);
        free(w);
        conn_close(c);
    }
}


static void
conn_send_error(ctl_conn_t *c, int status, const char *message)
{
    conn_send(c, json_pack("{s:b, s:s, s:s}", "ok", 0,
                           "error", ember_err_name(status),
                           "message", message != NULL
                                          ? message
                                          : ember_strerror(status)));
}


static void
on_reply(int status, json_t *result, const char *message, void *ud)
{
    ctl_conn_t *c = ud;

    c->busy = 0;
    if (c->closed) {
        conn_free_if_done(c);
        return;
    }
    if (status < 0)
        conn_send_error(c, status, message);
    else
        conn_send(c, json_pack("{s:b, s:O}", "ok", 1, "result",
                               result != NULL ? result : json_null()));
    /* A reply given synchronously lands inside conn_process's loop. */
    if (!c->in_process)
        conn_process(c);
}


static void
handle_line(ctl_conn_t *c, const char *line, size_t len)
{
    json_error_t jerr;
    json_t *req, *args;
    const char *name;
    char msg[256];

    while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' ' ||
                       line[len - 1] == '\t'))
        len--;
    if (len == 0)
        return;
    if ((req = json_loadb(line, len, 0, &jerr)) == NULL) {
        snprintf(msg, sizeof(msg), "bad JSON: %s (column %d)", jerr.text,
                 jerr.column);
        conn_send_error(c, EMBER_EINVAL, msg);
        return;
    }
    name = json_string_value(json_object_get(req, "command"));
    args = json_object_get(req, "args");
    if (name == NULL) {
        conn_send_error(c, EMBER_EINVAL,
                        "a request is {\"command\": NAME, \"args\": {...}}");
    } else if (strcmp(name, "commands") == 0) {
        conn_send(c, json_pack("{s:b, s:o}", "ok", 1, "result",
                               ember__command_list()));
    } else {
        LOG_D("control: %s", name);
        c->busy = 1;
        ember__command_run(name, args, EMBER_CALLER_LOCAL, c->actor,
                           "control socket", on_reply, c);
    }
    json_decref(req);
}


static void
on_shutdown(uv_shutdown_t *req, int status)
{
    ctl_conn_t *c = req->data;

    free(req);
    conn_close(c);
}


static void
conn_finish(ctl_conn_t *c)
{
    uv_shutdown_t *req;

    if (c->shutting || c->closing)
        return;
    c->shutting = 1;
    /* Shutdown waits for queued replies, where close would drop them. */
    if ((req = calloc(1, sizeof(*req))) == NULL) {
        conn_close(c);
        return;
    }
    req->data = c;
    if (uv_shutdown(req, (uv_stream_t *) &c->pipe, on_shutdown) < 0) {
        free(req);
        conn_close(c);
    }
}


static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);


static void
conn_process(ctl_conn_t *c)
{
    char *nl;
    size_t n;

    c->in_process = 1;
    while (!c->busy && !c->closing) {
        if ((nl = memchr(c->buf, '\n', c->len)) != NULL) {
            n = (size_t) (nl - c->buf);
            handle_line(c, c->buf, n);
            memmove(c->buf, nl + 1, c->len - n - 1);
            c->len -= n + 1;
        } else if (c->len == sizeof(c->buf)) {
            c->len = 0;
            c->discarding = 1;
            conn_send_error(c, EMBER_EINVAL, "request line too long "
                            "(limit 65536 bytes)");
        } else if (c->eof && c->len > 0) {
            n = c->len;
            c->len = 0;
            handle_line(c, c->buf, n);
        } else {
            if (c->eof)
                conn_finish(c);
            break;
        }
    }
    c->in_process = 0;
    if (c->closing || c->eof)
        return;
    /* Stop reading while a full buffer waits for a running command. */
    if (c->len == sizeof(c->buf) && c->reading) {
        uv_read_stop((uv_stream_t *) &c->pipe);
        c->reading = 0;
    } else if (c->len < sizeof(c->buf) && !c->reading) {
        if (uv_read_start((uv_stream_t *) &c->pipe, on_alloc, on_read) == 0)
            c->reading = 1;
        else
            conn_close(c);
    }
}


static void
on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    ctl_conn_t *c = h->data;

    *buf = uv_buf_init(c->buf + c->len, (unsigned) (sizeof(c->buf) - c->len));
}


static void
on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    ctl_conn_t *c = s->data;
    char *nl;
    size_t n;

    if (nread == UV_EOF) {
        uv_read_stop(s);
        c->reading = 0;
        c->eof = 1;
        if (c->discarding)
            c->len = 0;
        conn_process(c);
        return;
    }
    if (nread < 0) {
        conn_close(c);
        return;
    }
    if (nread == 0)
        return;
    if (c->discarding) {
        /* The new bytes sit at buf[len]: keep what follows a newline. */
        nl = memchr(c->buf + c->len, '\n', (size_t) nread);
        if (nl == NULL)
            return;
        n = (size_t) (c->buf + c->len + nread - (nl + 1));
        memmove(c->buf + c->len, nl + 1, n);
        nread = (ssize_t) n;
        c->discarding = 0;
    }
    c->len += (size_t) nread;
    conn_process(c);
}


/* Who is at the other end: the kernel says (SO_PEERCRED). */
static void
peer_actor(ctl_conn_t *c)
{
    struct ucred cred;
    socklen_t len = sizeof(cred);
    uv_os_fd_t fd;

    snprintf(c->actor, sizeof(c->actor), "emberctl");
    if (uv_fileno((uv_handle_t *) &c->pipe, &fd) < 0 ||
        getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
        return;
    /* No user name: getpwuid may ask a directory and block the loop. */
    snprintf(c->actor, sizeof(c->actor), "emberctl (uid %u)",
             (unsigned) cred.uid);
}


static void
on_connection(uv_stream_t *server, int status)
{
    ctl_conn_t *c;

    if (status < 0) {
        LOG_W("control socket: %s", uv_strerror(status));
        return;
    }
    if ((c = calloc(1, sizeof(*c))) == NULL)
        return;
    uv_pipe_init(ember__loop(), &c->pipe, 0);
    c->pipe.data = c;
    c->next = ctl_conns;
    if (ctl_conns != NULL)
        ctl_conns->prev = c;
    ctl_conns = c;
    if (uv_accept(server, (uv_stream_t *) &c->pipe) < 0) {
        conn_close(c);
        return;
    }
    peer_actor(c);
    conn_process(c);
}


/*
 * A socket file left by a crashed emberd is removed; one that somebody
 * answers on belongs to a running emberd and is left alone.
 */
static int
clear_stale(const char *path)
{
    struct sockaddr_un sa;
    struct stat st;
    int fd, rc;

    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : EMBER_EIO;
    if (!S_ISSOCK(st.st_mode)) {
        LOG_E("control socket %s: exists and is not a socket", path);
        return EMBER_EEXIST;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, strlen(path) + 1);
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
        return EMBER_EIO;
    rc = connect(fd, (struct sockaddr *) &sa, sizeof(sa));
    close(fd);
    if (rc == 0) {
        LOG_E("control socket %s: another emberd is running", path);
        return EMBER_EBUSY;
    }
    if (unlink(path) < 0 && errno != ENOENT) {
        LOG_E("control socket %s: %s", path, strerror(errno));
        return EMBER_EIO;
    }
    return 0;
}


int
ember__control_start(const char *path)
{
    struct sockaddr_un sa;
    char *dir, *slash;
    mode_t old;
    int rc;

    if (ctl_running)
        return EMBER_ESTATE;
    if (path == NULL || strlen(path) >= sizeof(sa.sun_path)) {
        LOG_E("control socket path too long (%zu bytes max): %s",
              sizeof(sa.sun_path) - 1, path != NULL ? path : "");
        return EMBER_EINVAL;
    }
    if ((ctl_path = strdup(path)) == NULL || (dir = strdup(path)) == NULL) {
        free(ctl_path);
        ctl_path = NULL;
        return EMBER_ENOMEM;
    }
    if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
        *slash = '\0';
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
            LOG_W("control socket: mkdir %s: %s", dir, strerror(errno));
    }
    free(dir);
    if ((rc = clear_stale(path)) < 0)
        goto fail;
    uv_pipe_init(ember__loop(), &ctl_server, 0);
    /* No moment where another local user could connect: born 0600. */
    old = umask(0177);
    rc = uv_pipe_bind(&ctl_server, path);
    umask(old);
    if (rc < 0 || (rc = uv_listen((uv_stream_t *) &ctl_server, 16,
                                  on_connection)) < 0) {
        LOG_E("control socket %s: %s", path, uv_strerror(rc));
        uv_close((uv_handle_t *) &ctl_server, NULL);
        rc = rc == UV_EADDRINUSE ? EMBER_EBUSY : EMBER_EIO;
        goto fail;
    }
    chmod(path, 0600);
    ctl_running = 1;
    return 0;

fail:
    free(ctl_path);
    ctl_path = NULL;
    return rc;
}


void
ember__control_stop(void)
{
    ctl_conn_t *c;

    if (!ctl_running)
        return;
    ctl_running = 0;
    uv_close((uv_handle_t *) &ctl_server, NULL);
    unlink(ctl_path);
    free(ctl_path);
    ctl_path = NULL;
    for (c = ctl_conns; c != NULL; c = c->next)
        conn_close(c);
}
