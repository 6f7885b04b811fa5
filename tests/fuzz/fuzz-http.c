/* libFuzzer target: the HTTP request path of core/http/parse.c fed
 * arbitrary bytes in arbitrary pieces, pipelined requests included, with
 * every accessor the routes use run on what comes out. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
on_head(void *ud, ember_http_msg_t *msg)
{
    unsigned *calls = ud;

    (*calls)++;
    msg->max_body = 4096;
    /* A path that passed must be canonical: normalising it again is a
     * no-op, and it holds no "..", "\\" or NUL. */
    if (msg->status == 0) {
        char *again = NULL;

        if (msg->path == NULL || msg->path[0] != '/' ||
            strstr(msg->path, "/../") != NULL ||
            strchr(msg->path, '\\') != NULL)
            abort();
        if (ember__http_normalize(msg->path, strlen(msg->path), &again) ==
            0 && strcmp(again, msg->path) != 0 && strchr(msg->path, '%') ==
            NULL)
            abort();
        free(again);
    }
    return (*calls % 7) == 6 ? 413 : 0;
}


static void
use_message(const ember_http_msg_t *msg)
{
    static const char *const names[] = { "host", "content-type", "x",
                                         "connection", "" };
    size_t i;
    char *v;

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        (void) ember__http_msg_header(msg, names[i]);
    if (msg->query != NULL) {
        for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
            v = ember__http_query_get(msg->query, names[i]);
            free(v);
        }
    }
    if (msg->body.len > msg->max_body)
        abort();
    (void) ember__http_has_token(ember__http_msg_header(msg, "connection")
                                 ? ember__http_msg_header(msg, "connection")
                                 : "", "upgrade");
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ember_http_in_t in;
    unsigned calls = 0;
    size_t pos = 0, piece, used;
    char *path = NULL, *q;
    int rc = 0, upgrade;

    /* The first byte chooses the piece size; the rest is the stream. */
    if (size == 0)
        return 0;
    piece = (size_t) data[0] % 64 + 1;
    data++;
    size--;

    if (ember__http_normalize((const char *) data, size, &path) == 0 &&
        (path == NULL || path[0] != '/'))
        abort();
    free(path);
    if ((q = malloc(size + 1)) != NULL) {
        memcpy(q, data, size);
        q[size] = '\0';
        free(ember__http_query_get(q, "a"));
        free(q);
    }

    ember__http_in_init(&in, on_head, &calls);
    while (pos < size && rc >= 0) {
        size_t n = size - pos < piece ? size - pos : piece;

        rc = ember__http_in_feed(&in, (const char *) data + pos, n, &used);
        if (used > n)
            abort();
        pos += used;
        if (rc == 1) {
            use_message(&in.msg);
            /* After an upgrade the bytes are another protocol's. */
            upgrade = in.msg.upgrade;
            ember__http_in_next(&in);
            rc = 0;
            if (upgrade)
                break;
        }
    }
    ember__http_in_free(&in);
    return 0;
}
