/* core/http/parse.c -- HTTP/1.1 requests through http-parser, with limits,
 * path normalisation and query decoding.  No I/O: see server.c. */
#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/http.h"

/* Where the head's last callback left us, to join split names/values. */
enum { H_NONE = 0, H_FIELD = 1, H_VALUE = 2 };


static int
hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}


static int
head_grow(ember_http_in_t *in, size_t len)
{
    in->head_bytes += len;
    if (in->head_bytes > EMBER_HTTP_MAX_HEAD) {
        in->fail = 431;
        return 1;
    }
    return 0;
}


static int
on_url(http_parser *p, const char *at, size_t len)
{
    ember_http_in_t *in = p->data;

    if (in->msg.url.len + len > EMBER_HTTP_MAX_URL) {
        in->fail = 414;
        return 1;
    }
    if (head_grow(in, len) ||
        ember__buf_append(&in->msg.url, at, len) < 0)
        return 1;
    return 0;
}


static int
on_field(http_parser *p, const char *at, size_t len)
{
    ember_http_in_t *in = p->data;
    ember_buf_t *h = &in->msg.heads;
    size_t start;

    if (head_grow(in, len))
        return 1;
    if (in->last_was_value != H_FIELD) {
        if (in->last_was_value == H_VALUE &&
            ember__buf_append(h, "", 1) < 0)
            return 1;
        if (++in->msg.nheaders > EMBER_HTTP_MAX_HEADERS) {
            in->fail = 431;
            return 1;
        }
        in->last_was_value = H_FIELD;
    }
    start = h->len;
    if (ember__buf_append(h, at, len) < 0)
        return 1;
    for (; start < h->len; start++)
        h->data[start] = (char) tolower((unsigned char) h->data[start]);
    return 0;
}


static int
on_value(http_parser *p, const char *at, size_t len)
{
    ember_http_in_t *in = p->data;

    if (head_grow(in, len))
        return 1;
    if (in->last_was_value == H_FIELD) {
        if (ember__buf_append(&in->msg.heads, "", 1) < 0)
            return 1;
        in->last_was_value = H_VALUE;
    }
    return ember__buf_append(&in->msg.heads, at, len) < 0;
}


/* Split the target into path and query and normalise the path. */
static void
parse_target(ember_http_in_t *in)
{
    ember_http_msg_t *msg = &in->msg;
    struct http_parser_url u;
    const char *path = "/";
    size_t plen = 1;
    char *q;

    http_parser_url_init(&u);
    if (msg->url.len == 0 ||
        http_parser_parse_url(msg->url.data, msg->url.len,
                              in->p.method == HTTP_CONNECT, &u) != 0) {
        msg->status = 400;
        return;
    }
    if (u.field_set & (1 << UF_PATH)) {
        path = msg->url.data + u.field_data[UF_PATH].off;
        plen = u.field_data[UF_PATH].len;
    }
    if (ember__http_normalize(path, plen, &msg->path) != 0) {
        msg->status = 400;
        return;
    }
    if (u.field_set & (1 << UF_QUERY)) {
        q = msg->url.data + u.field_data[UF_QUERY].off;
        q[u.field_data[UF_QUERY].len] = '\0';
        msg->query = q;
    }
}


static int
on_headers_complete(http_parser *p)
{
    ember_http_in_t *in = p->data;
    ember_http_msg_t *msg = &in->msg;
    const char *v;
    int rc;

    if (in->last_was_value == H_FIELD &&
        ember__buf_append(&msg->heads, "", 1) < 0)
        return -1;
    if (in->last_was_value != H_NONE &&
        ember__buf_append(&msg->heads, "", 1) < 0)
        return -1;
    in->last_was_value = H_NONE;
    in->head_done = 1;
    msg->method = http_method_str((enum http_method) p->method);
    msg->http_major = p->http_major;
    msg->http_minor = p->http_minor;
    msg->keep_alive = http_should_keep_alive(p);
    msg->upgrade = p->upgrade;
    v = ember__http_msg_header(msg, "expect");
    msg->expect_continue = v != NULL && strcasecmp(v, "100-continue") == 0;
    parse_target(in);
    if (in->on_head != NULL && (rc = in->on_head(in->ud, msg)) != 0) {
        in->fail = rc;
        return -1;
    }
    if (!(p->flags & F_CHUNKED) && p->content_length != ULLONG_MAX &&
        p->content_length > msg->max_body && msg->status == 0) {
        in->fail = 413;
        return -1;
    }
    /* The route sees the head first and says where the body goes. */
    if (msg->stream_body && msg->status == 0) {
        in->head_ready = 1;
        http_parser_pause(p, 1);
    }
    return 0;
}


static int
on_body(http_parser *p, const char *at, size_t len)
{
    ember_http_in_t *in = p->data;

    if (in->msg.status != 0)
        return 0;
    if (in->body_bytes + len > in->msg.max_body) {
        in->fail = 413;
        return 1;
    }
    in->body_bytes += len;
    if (in->sink != NULL) {
        if (in->sink(in->sink_ud, at, len))
            http_parser_pause(p, 1);
        return 0;
    }
    return ember__buf_append(&in->msg.body, at, len) < 0;
}


static int
on_message_complete(http_parser *p)
{
    ember_http_in_t *in = p->data;

    in->done = 1;
    /* One request at a time: the next waits until this one is answered. */
    http_parser_pause(p, 1);
    return 0;
}


static const http_parser_settings settings = {
    .on_url = on_url,
    .on_header_field = on_field,
    .on_header_value = on_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};


void
ember__http_in_init(ember_http_in_t *in, ember_http_head_cb on_head,
                    void *ud)
{
    memset(in, 0, sizeof(*in));
    http_parser_init(&in->p, HTTP_REQUEST);
    in->p.data = in;
    in->on_head = on_head;
    in->ud = ud;
}


int
ember__http_in_feed(ember_http_in_t *in, const char *data, size_t len,
                    size_t *used)
{
    enum http_errno e;
    size_t n;

    *used = 0;
    if (in->done)
        return EMBER_HTTP_IN_DONE;
    if (in->head_ready && in->sink == NULL)
        return EMBER_HTTP_IN_HEAD;
    if (len == 0)
        return EMBER_HTTP_IN_MORE;
    if (HTTP_PARSER_ERRNO(&in->p) == HPE_PAUSED)
        http_parser_pause(&in->p, 0);
    n = http_parser_execute(&in->p, &settings, data, len);
    *used = n;
    e = HTTP_PARSER_ERRNO(&in->p);
    if (in->done && (e == HPE_PAUSED || e == HPE_OK))
        return EMBER_HTTP_IN_DONE;
    if (e == HPE_PAUSED && in->head_ready && in->sink == NULL)
        return EMBER_HTTP_IN_HEAD;
    if (e == HPE_PAUSED && in->sink != NULL)
        return EMBER_HTTP_IN_FULL;
    if (e == HPE_OK && n == len)
        return EMBER_HTTP_IN_MORE;
    if (in->fail != 0)
        return -in->fail;
    return e == HPE_HEADER_OVERFLOW ? -431 : -400;
}


void
ember__http_in_next(ember_http_in_t *in)
{
    ember_http_msg_t *msg = &in->msg;

    ember__buf_reset(&msg->url);
    ember__buf_reset(&msg->heads);
    ember__buf_reset(&msg->body);
    ember__buf_reset(&msg->params);
    free(msg->path);
    msg->path = NULL;
    msg->query = NULL;
    msg->method = NULL;
    msg->nheaders = 0;
    msg->status = 0;
    msg->max_body = 0;
    msg->keep_alive = msg->upgrade = msg->expect_continue = 0;
    in->head_bytes = 0;
    in->last_was_value = H_NONE;
    msg->stream_body = 0;
    in->fail = 0;
    in->done = 0;
    in->head_done = 0;
    in->head_ready = 0;
    in->body_bytes = 0;
    in->sink = NULL;
    in->sink_ud = NULL;
    http_parser_pause(&in->p, 0);
}


void
ember__http_in_free(ember_http_in_t *in)
{
    ember__buf_free(&in->msg.url);
    ember__buf_free(&in->msg.heads);
    ember__buf_free(&in->msg.body);
    ember__buf_free(&in->msg.params);
    free(in->msg.path);
    in->msg.path = NULL;
}


const char *
ember__http_msg_header(const ember_http_msg_t *msg, const char *name)
{
    const char *p = msg->heads.data, *end;
    size_t i;

    /* No header at all: nothing to offset from (NULL + 0 is undefined). */
    if (p == NULL)
        return NULL;
    end = p + msg->heads.len;

    for (i = 0; i < msg->nheaders && p != NULL && p < end; i++) {
        const char *v = p + strlen(p) + 1;

        if (v >= end)
            break;
        if (strcasecmp(p, name) == 0)
            return v;
        p = v + strlen(v) + 1;
    }
    return NULL;
}


int
ember__http_normalize(const char *path, size_t len, char **out)
{
    char *o, *seg;
    size_t i, n = 0;
    int c, h1, h2;

    *out = NULL;
    if (len == 0 || path[0] != '/')
        return 400;
    if ((o = malloc(len + 1)) == NULL)
        return 500;
    for (i = 0; i < len; i++) {
        c = (unsigned char) path[i];
        if (c == '%') {
            if (i + 2 >= len)
                goto bad;
            if ((h1 = hexval(path[i + 1])) < 0 ||
                (h2 = hexval(path[i + 2])) < 0)
                goto bad;
            c = h1 * 16 + h2;
            i += 2;
            /* An encoded separator would bypass the segment checks. */
            if (c == '/' || c == '\\')
                goto bad;
        }
        if (c < 0x20 || c == 0x7f || c == '\\')
            goto bad;
        if (c == '/' && n > 0 && o[n - 1] == '/')
            continue;
        o[n++] = (char) c;
    }
    o[n] = '\0';
    for (i = 0; i + 2 < n; i++)
        if (o[i] == '%' && hexval(o[i + 1]) >= 0 && hexval(o[i + 2]) >= 0)
            goto bad;   /* double encoding: "%252e" decoded once */
    for (seg = o; seg != NULL; seg = strchr(seg + 1, '/')) {
        const char *s = seg + 1;

        if ((s[0] == '.' && (s[1] == '/' || s[1] == '\0')) ||
            (s[0] == '.' && s[1] == '.' && (s[2] == '/' || s[2] == '\0')))
            goto bad;
    }
    *out = o;
    return 0;
bad:
    free(o);
    return 400;
}


/* Decode a query component of n bytes ('+' is a space) into a new string. */
static char *
query_decode(const char *s, size_t n)
{
    char *o = malloc(n + 1);
    size_t i, k = 0;
    int h1, h2;

    if (o == NULL)
        return NULL;
    for (i = 0; i < n; i++) {
        if (s[i] == '+') {
            o[k++] = ' ';
        } else if (s[i] == '%' && i + 2 < n &&
                   (h1 = hexval(s[i + 1])) >= 0 &&
                   (h2 = hexval(s[i + 2])) >= 0) {
            o[k++] = (char) (h1 * 16 + h2);
            i += 2;
        } else {
            o[k++] = s[i];
        }
    }
    o[k] = '\0';
    return o;
}


char *
ember__http_query_get(const char *query, const char *name)
{
    const char *p = query, *amp, *eq;
    size_t klen;
    char *key;
    int match;

    while (p != NULL && *p != '\0') {
        amp = strchr(p, '&');
        if (amp == NULL)
            amp = p + strlen(p);
        eq = memchr(p, '=', (size_t) (amp - p));
        klen = (size_t) ((eq != NULL ? eq : amp) - p);
        if ((key = query_decode(p, klen)) == NULL)
            return NULL;
        match = strcmp(key, name) == 0;
        free(key);
        if (match)
            return eq != NULL ? query_decode(eq + 1, (size_t) (amp - eq - 1))
                              : strdup("");
        p = *amp != '\0' ? amp + 1 : NULL;
    }
    return NULL;
}


int
ember__http_has_token(const char *value, const char *token)
{
    size_t tlen = strlen(token), n;
    const char *p = value, *end;

    while (p != NULL && *p != '\0') {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        end = p + strcspn(p, ",");
        n = (size_t) (end - p);
        while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
            n--;
        if (n == tlen && strncasecmp(p, token, tlen) == 0)
            return 1;
        p = end;
    }
    return 0;
}
