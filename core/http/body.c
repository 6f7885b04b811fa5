/* core/http/body.c -- bodies too large for memory: a request body written
 * to a file as it arrives (http_body_to_fd) and an answer read from a
 * file as the client takes it (http_respond_fd).  The disk is reached
 * through libuv's thread pool: a slow disk holds back its socket, never
 * the loop. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http/http_int.h"
#include "base/log.h"
#include "base/process.h"

/* Bytes gathered before a write; the socket is not read while a write is
 * out and this much more has arrived. */
#define SPOOL_CHUNK (256 * 1024)
/* An answer's next read waits until its output queue is under this. */
#define FILEOUT_QUEUE (1024 * 1024)
#define FILEOUT_CHUNK (64 * 1024)

struct spool_s {
    uv_fs_t fs;
    conn_t *c;                 /* NULL once the connection is gone */
    ember_http_req_t *req;
    int fd;
    ember_buf_t fill;          /* arriving */
    ember_buf_t out;           /* being written at `off` */
    uint64_t off;
    unsigned writing : 1;      /* fs is out (a write or the fsync) */
    unsigned complete : 1;     /* the parser saw the end of the body */
    unsigned failed : 1;
    ember_http_body_cb done;
    void *ud;
};

struct fileout_s {
    uv_fs_t fs;
    conn_t *c;
    int fd;
    uint64_t off, left;
    unsigned reading : 1;
    char buf[FILEOUT_CHUNK];
};


/* ---- request bodies to a file ---- */

static void
spool_free(spool_t *s)
{
    if (s->fd >= 0)
        close(s->fd);
    ember__buf_free(&s->fill);
    ember__buf_free(&s->out);
    free(s);
}


static int spool_kick(spool_t *s);


static void
spool_finish(spool_t *s, int status)
{
    conn_t *c = s->c;
    ember_http_body_cb done = s->done;
    ember_http_req_t *req = s->req;
    void *ud = s->ud;
    uint64_t bytes = s->off;

    c->spool = NULL;
    c->in.sink = NULL;
    ember__conn_hold_back(c->conn, 0);
    if (status != 0)
        c->close_after = 1;
    spool_free(s);
    done(req, status, bytes, ud);
}


static void
spool_synced(uv_fs_t *fs)
{
    spool_t *s = fs->data;
    int failed = fs->result < 0;

    uv_fs_req_cleanup(fs);
    s->writing = 0;
    if (s->c == NULL) {
        spool_free(s);
        return;
    }
    if (failed)
        ember__log(EMBER_LOG_WARN, "http", "%s: syncing an upload failed: "
                   "%s", ember__http_ip(s->c), uv_strerror((int) fs->result));
    spool_finish(s, failed ? EMBER_EIO : 0);
}


static void
spool_written(uv_fs_t *fs)
{
    spool_t *s = fs->data;
    ssize_t n = fs->result;
    conn_t *c;

    uv_fs_req_cleanup(fs);
    s->writing = 0;
    if (s->c == NULL) {
        spool_free(s);
        return;
    }
    if (n <= 0) {
        ember__log(EMBER_LOG_WARN, "http", "%s: writing an upload failed: "
                   "%s", ember__http_ip(s->c),
                   n < 0 ? uv_strerror((int) n) : "no space");
        s->failed = 1;
        spool_finish(s, EMBER_EIO);
        return;
    }
    s->off += (uint64_t) n;
    ember__buf_consume(&s->out, (size_t) n);
    c = s->c;
    if (spool_kick(s) < 0)
        return;
    if (!s->complete && !c->processing)
        ember__http_process(c);
}


/* Start the next write, or the fsync once everything is written: -1
 * when that failed and s is gone. */
static int
spool_kick(spool_t *s)
{
    ember_buf_t t;
    uv_buf_t b;
    int rc;

    if (s->writing || s->failed)
        return 0;
    if (s->out.len == 0 && (s->fill.len >= SPOOL_CHUNK ||
                            (s->complete && s->fill.len > 0))) {
        t = s->out;
        s->out = s->fill;
        s->fill = t;
    }
    s->fs.data = s;
    if (s->out.len > 0) {
        b = uv_buf_init(s->out.data, (unsigned) s->out.len);
        rc = uv_fs_write(ember__loop(), &s->fs, s->fd, &b, 1,
                         (int64_t) s->off, spool_written);
    } else if (s->complete) {
        rc = uv_fs_fsync(ember__loop(), &s->fs, s->fd, spool_synced);
    } else {
        return 0;
    }
    if (rc < 0) {
        s->failed = 1;
        spool_finish(s, EMBER_EIO);
        return -1;
    }
    s->writing = 1;
    return 0;
}


static int
spool_sink(void *ud, const char *data, size_t len)
{
    spool_t *s = ud;

    if (ember__buf_append(&s->fill, data, len) < 0) {
        s->failed = 1;
        return 1;
    }
    if (s->fill.len < SPOOL_CHUNK)
        return 0;
    spool_kick(s);
    return s->fill.len >= SPOOL_CHUNK;
}


int
ember__http_body_to_fd(ember_http_req_t *req, int fd,
                       ember_http_body_cb done, void *ud)
{
    const char *cont = "HTTP/1.1 100 Continue\r\n\r\n";
    const ember_config_t *cfg = ember__config();
    conn_t *c = req != NULL ? req->c : NULL;
    spool_t *s;

    if (req == NULL || fd < 0 || done == NULL) {
        if (fd >= 0)
            close(fd);
        return EMBER_EINVAL;
    }
    if (c == NULL || c->closing) {
        close(fd);
        return EMBER_ECANCELED;
    }
    if (req->kind != RQ_PENDING || c->req != req || !c->in.head_ready ||
        c->spool != NULL) {
        close(fd);
        return EMBER_ESTATE;
    }
    if ((s = calloc(1, sizeof(*s))) == NULL) {
        close(fd);
        return EMBER_ENOMEM;
    }
    s->c = c;
    s->req = req;
    s->fd = fd;
    s->done = done;
    s->ud = ud;
    c->spool = s;
    c->in.sink = spool_sink;
    c->in.sink_ud = s;
    c->close_after = !c->in.msg.keep_alive || c->in.msg.upgrade;
    /* No bytes for a request timeout ends it; the whole may take long. */
    ember__conn_set_idle(c->conn, cfg != NULL ? (uint64_t)
                         cfg->limits.http_request_timeout * 1000 : 30000);
    if (c->in.msg.expect_continue && !c->sent_continue) {
        c->sent_continue = 1;
        ember__http_write(c, cont, strlen(cont));
    }
    if (!c->processing)
        ember__http_process(c);
    return 0;
}


void
ember__http_spool_fed(conn_t *c, int rc)
{
    spool_t *s = c->spool;

    if (s == NULL)
        return;
    if (s->failed && !s->writing) {
        spool_finish(s, EMBER_EIO);
        return;
    }
    if (rc == EMBER_HTTP_IN_DONE && !s->complete) {
        s->complete = 1;
        ember__conn_set_idle(c->conn, 0);
    }
    spool_kick(s);
}


int
ember__http_spool_waits(const conn_t *c)
{
    const spool_t *s = c->spool;

    return s != NULL && (s->complete || s->failed ||
                         s->fill.len >= SPOOL_CHUNK);
}


void
ember__http_spool_throttle(conn_t *c)
{
    if (c->spool != NULL)
        ember__conn_hold_back(c->conn, c->inbuf.len >= SPOOL_CHUNK);
}


size_t
ember__http_spool_held(const conn_t *c)
{
    return c->spool != NULL ? c->spool->fill.len + c->spool->out.len : 0;
}


void
ember__http_spool_drop(conn_t *c)
{
    spool_t *s = c->spool;

    if (s == NULL)
        return;
    c->spool = NULL;
    c->in.sink = NULL;
    s->c = NULL;
    s->req = NULL;
    if (!s->writing)
        spool_free(s);
}


/* ---- answers from a file ---- */

static void fileout_next(fileout_t *f);


static void
fileout_free(fileout_t *f)
{
    if (f->fd >= 0)
        close(f->fd);
    free(f);
}


static void
fileout_end(fileout_t *f, int ok)
{
    conn_t *c = f->c;

    c->fileout = NULL;
    fileout_free(f);
    if (ok)
        ember__http_answer_done(c);
    else
        ember__http_conn_close(c);
}


static void
fileout_read(uv_fs_t *fs)
{
    fileout_t *f = fs->data;
    ssize_t n = fs->result;

    uv_fs_req_cleanup(fs);
    f->reading = 0;
    if (f->c == NULL) {
        fileout_free(f);
        return;
    }
    if (n <= 0) {
        /* The file shrank under us: the length is sent, the client must
         * see the answer end short rather than wait. */
        ember__log(EMBER_LOG_WARN, "http", "%s: reading a file to send "
                   "failed: %s", ember__http_ip(f->c),
                   n < 0 ? uv_strerror((int) n) : "end of file");
        fileout_end(f, 0);
        return;
    }
    if ((uint64_t) n > f->left)
        n = (ssize_t) f->left;
    f->off += (uint64_t) n;
    f->left -= (uint64_t) n;
    ember__conn_touch(f->c->conn);
    if (ember__http_write(f->c, f->buf, (size_t) n) < 0) {
        fileout_end(f, 0);
        return;
    }
    if (f->left == 0) {
        fileout_end(f, 1);
        return;
    }
    if (ember__conn_when_drained(f->c->conn, FILEOUT_QUEUE) == 1)
        fileout_next(f);
}


static void
fileout_next(fileout_t *f)
{
    uv_buf_t b;
    size_t n = f->left < sizeof(f->buf) ? (size_t) f->left : sizeof(f->buf);

    if (f->reading)
        return;
    f->fs.data = f;
    b = uv_buf_init(f->buf, (unsigned) n);
    if (uv_fs_read(ember__loop(), &f->fs, f->fd, &b, 1, (int64_t) f->off,
                   fileout_read) < 0) {
        fileout_end(f, 0);
        return;
    }
    f->reading = 1;
}


void
ember__http_fileout_drained(conn_t *c)
{
    if (c->fileout != NULL)
        fileout_next(c->fileout);
}


void
ember__http_fileout_drop(conn_t *c)
{
    fileout_t *f = c->fileout;

    if (f == NULL)
        return;
    c->fileout = NULL;
    f->c = NULL;
    if (!f->reading)
        fileout_free(f);
}


int
ember__http_respond_fd(ember_http_req_t *req, int status,
                       const char *const *headers, int fd, uint64_t offset,
                       uint64_t length)
{
    const char *method;
    fileout_t *f;
    conn_t *c;

    if (req == NULL || fd < 0 || status < 200 || status > 599 ||
        !ember__http_headers_valid(headers)) {
        if (fd >= 0)
            close(fd);
        return EMBER_EINVAL;
    }
    if (req->kind != RQ_PENDING || (req->c != NULL && req->c->spool != NULL)) {
        close(fd);
        return EMBER_ESTATE;
    }
    c = ember__http_req_detach(req);
    ember__http_req_free(req);
    if (c == NULL || c->closing) {
        close(fd);
        return EMBER_ECANCELED;
    }
    method = c->in.msg.method;
    ember__http_write_head(c, status, headers, NULL, length);
    if (length == 0 || status == 204 || status == 304 ||
        (method != NULL && strcmp(method, "HEAD") == 0)) {
        close(fd);
        ember__http_answer_done(c);
        return 0;
    }
    if ((f = calloc(1, sizeof(*f))) == NULL) {
        close(fd);
        ember__http_conn_close(c);
        return EMBER_ENOMEM;
    }
    f->c = c;
    f->fd = fd;
    f->off = offset;
    f->left = length;
    c->fileout = f;
    fileout_next(f);
    return 0;
}
