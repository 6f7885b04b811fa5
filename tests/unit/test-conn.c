/* Unit tests: the connection layer (core/net/conn.c) over real loopback
 * sockets, driven by the libuv loop: what conn.h promises its owners. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <uv.h>

#include <ember/errno.h>

#include "base/process.h"
#include "net/conn.h"

/* One accepted connection, as its owner sees it. */
typedef struct owner_s {
    ember_conn_t *conn;
    char got[256];
    size_t got_len;
    int timeouts[3];          /* by ember_conn_timeout_t */
    int hangups, closed;
    char order[16];           /* 'h' hangup, 'c' closed */
} owner_t;

/* The peer: a plain libuv client. */
typedef struct peer_s {
    uv_tcp_t tcp;
    uv_connect_t req;
    int connected, eof, closed;
    char got[256];
    size_t got_len;
} peer_t;

static uv_tcp_t server;
static int port;
static ember_conn_opts_t opts;
static owner_t *owners[8];
static int n_owners;
static int accept_rc[8];


static void
on_data(void *ud, const char *data, size_t len)
{
    owner_t *o = ud;

    if (o->got_len + len < sizeof(o->got)) {
        memcpy(o->got + o->got_len, data, len);
        o->got_len += len;
    }
}


static void
on_timeout(void *ud, ember_conn_timeout_t what)
{
    owner_t *o = ud;

    o->timeouts[what]++;
    ember__conn_close(o->conn);
}


static void
on_hangup(void *ud)
{
    owner_t *o = ud;

    o->hangups++;
    strcat(o->order, "h");
}


static void
on_closed(void *ud)
{
    owner_t *o = ud;

    o->closed++;
    strcat(o->order, "c");
    o->conn = NULL;
}


static const ember_conn_events_t events = {
    .data = on_data,
    .timeout = on_timeout,
    .hangup = on_hangup,
    .closed = on_closed,
};


static void
on_connection(uv_stream_t *s, int status)
{
    owner_t *o = calloc(1, sizeof(*o));

    assert_int_equal(status, 0);
    assert_non_null(o);
    accept_rc[n_owners] = ember__conn_accept(s, &opts, &events, o, &o->conn);
    owners[n_owners++] = o;
}


static void
peer_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    static char b[65536];

    *buf = uv_buf_init(b, sizeof(b));
}


static void
peer_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    peer_t *p = s->data;

    if (n < 0) {
        p->eof = 1;
        return;
    }
    if (p->got_len + (size_t) n < sizeof(p->got)) {
        memcpy(p->got + p->got_len, buf->base, (size_t) n);
        p->got_len += (size_t) n;
    }
}


static void
peer_connected(uv_connect_t *req, int status)
{
    peer_t *p = req->data;

    assert_int_equal(status, 0);
    p->connected = 1;
}


static void
peer_connect(peer_t *p, int reading)
{
    struct sockaddr_in sa;

    memset(p, 0, sizeof(*p));
    uv_tcp_init(ember__loop(), &p->tcp);
    p->tcp.data = p;
    p->req.data = p;
    uv_ip4_addr("127.0.0.1", port, &sa);
    assert_int_equal(uv_tcp_connect(&p->req, &p->tcp,
                                    (const struct sockaddr *) &sa,
                                    peer_connected), 0);
    if (reading)
        uv_read_start((uv_stream_t *) &p->tcp, peer_alloc, peer_read);
}


static void
peer_closed(uv_handle_t *h)
{
    ((peer_t *) h->data)->closed = 1;
}


static void
peer_close(peer_t *p)
{
    if (!uv_is_closing((uv_handle_t *) &p->tcp))
        uv_close((uv_handle_t *) &p->tcp, peer_closed);
}


static void
peer_send(peer_t *p, const char *text)
{
    uv_buf_t b = uv_buf_init((char *) text, (unsigned) strlen(text));

    assert_int_equal(uv_try_write((uv_stream_t *) &p->tcp, &b, 1),
                     (int) strlen(text));
}


/* Run the loop until cond holds or ms pass; 1 when it held. */
static int
run_until(int (*cond)(void *), void *ud, uint64_t ms)
{
    uint64_t end;

    uv_update_time(ember__loop());
    end = uv_now(ember__loop()) + ms;
    while (!cond(ud)) {
        uv_run(ember__loop(), UV_RUN_NOWAIT);
        uv_sleep(2);
        uv_update_time(ember__loop());
        if (uv_now(ember__loop()) > end)
            return cond(ud);
    }
    return 1;
}


static int
owners_at_least(void *ud)
{
    return n_owners >= *(int *) ud;
}


static int
owner_got(void *ud)
{
    owner_t *o = ud;

    return o->got_len > 0;
}


static int
peer_got(void *ud)
{
    peer_t *p = ud;

    return p->got_len > 0;
}


static int
owner_closed(void *ud)
{
    return ((owner_t *) ud)->closed > 0;
}


static int
peer_eof(void *ud)
{
    return ((peer_t *) ud)->eof;
}


static int
setup(void **state)
{
    struct sockaddr_in sa;
    struct sockaddr_storage bound;
    int len = sizeof(bound);

    (void) state;
    memset(&opts, 0, sizeof(opts));
    opts.pool = EMBER_CONN_POOL_C2S;
    memset(owners, 0, sizeof(owners));
    n_owners = 0;
    ember__conns_init();
    uv_tcp_init(ember__loop(), &server);
    uv_ip4_addr("127.0.0.1", 0, &sa);
    assert_int_equal(uv_tcp_bind(&server, (const struct sockaddr *) &sa, 0),
                     0);
    assert_int_equal(uv_listen((uv_stream_t *) &server, 16, on_connection),
                     0);
    uv_tcp_getsockname(&server, (struct sockaddr *) &bound, &len);
    port = ntohs(((struct sockaddr_in *) &bound)->sin_port);
    return 0;
}


static int
all_closed(void *ud)
{
    int i;

    (void) ud;
    for (i = 0; i < n_owners; i++)
        if (owners[i]->conn != NULL)
            return 0;
    return 1;
}


static int
teardown(void **state)
{
    int i;

    (void) state;
    for (i = 0; i < n_owners; i++)
        if (owners[i]->conn != NULL)
            ember__conn_abort(owners[i]->conn);
    run_until(all_closed, NULL, 1000);
    for (i = 0; i < n_owners; i++)
        free(owners[i]);
    uv_close((uv_handle_t *) &server, NULL);
    ember__conns_cleanup();
    for (i = 0; i < 10; i++)
        uv_run(ember__loop(), UV_RUN_NOWAIT);
    return 0;
}


/* Bytes reach the owner; what the owner writes reaches the peer; the
 * address is the peer's. */
static void
test_data_both_ways(void **state)
{
    static peer_t p;
    int one = 1;

    (void) state;
    peer_connect(&p, 1);
    assert_true(run_until(owners_at_least, &one, 2000));
    assert_int_equal(accept_rc[0], 0);
    assert_string_equal(ember__conn_ip(owners[0]->conn), "127.0.0.1");
    assert_int_equal(ember__conn_secure(owners[0]->conn), 0);
    assert_null(ember__conn_tls(owners[0]->conn));
    peer_send(&p, "hello");
    assert_true(run_until(owner_got, owners[0], 2000));
    assert_memory_equal(owners[0]->got, "hello", 5);
    assert_int_equal(ember__conn_write(owners[0]->conn, "world", 5), 0);
    assert_true(run_until(peer_got, &p, 2000));
    assert_memory_equal(p.got, "world", 5);
    assert_int_equal(ember__conns_count(EMBER_CONN_POOL_C2S), 1);
    peer_close(&p);
    assert_true(run_until(owner_closed, owners[0], 2000));
    assert_int_equal(ember__conns_count(EMBER_CONN_POOL_C2S), 0);
}


/* The peer goes away: the owner hears hangup first, then closed, once. */
static void
test_hangup_then_closed(void **state)
{
    static peer_t p;
    int one = 1;

    (void) state;
    peer_connect(&p, 0);
    assert_true(run_until(owners_at_least, &one, 2000));
    peer_close(&p);
    assert_true(run_until(owner_closed, owners[0], 2000));
    assert_string_equal(owners[0]->order, "hc");
}


/* Over max_per_ip the conn still comes back, not reading, for a refusal;
 * the count is per pool and drops when a connection closes. */
static void
test_per_address_limit(void **state)
{
    static peer_t a, b, c;
    int two = 2, three = 3;

    (void) state;
    opts.max_per_ip = 1;
    peer_connect(&a, 1);
    peer_connect(&b, 1);
    assert_true(run_until(owners_at_least, &two, 2000));
    assert_int_equal(accept_rc[0], 0);
    assert_int_equal(accept_rc[1], EMBER_ELIMIT);
    assert_non_null(owners[1]->conn);
    assert_int_equal(ember__conn_write(owners[1]->conn, "busy", 4), 0);
    ember__conn_close(owners[1]->conn);
    assert_true(run_until(peer_got, &b, 2000));
    assert_memory_equal(b.got, "busy", 4);
    assert_true(run_until(peer_eof, &b, 2000));
    assert_true(run_until(owner_closed, owners[1], 2000));
    /* Another pool is counted apart. */
    opts.pool = EMBER_CONN_POOL_HTTP;
    peer_connect(&c, 1);
    assert_true(run_until(owners_at_least, &three, 2000));
    assert_int_equal(accept_rc[2], 0);
    peer_close(&a);
    peer_close(&b);
    peer_close(&c);
}


/* Idle: nothing received for idle ms; deadline: the owner's, whatever
 * arrives.  Each calls the timeout event with its kind. */
static void
test_timeouts(void **state)
{
    static peer_t a, b;
    int two = 2;

    (void) state;
    peer_connect(&a, 1);
    peer_connect(&b, 1);
    assert_true(run_until(owners_at_least, &two, 2000));
    ember__conn_set_idle(owners[0]->conn, 100);
    ember__conn_set_deadline(owners[1]->conn, 300);
    assert_true(run_until(owner_closed, owners[0], 3000));
    assert_int_equal(owners[0]->timeouts[EMBER_CONN_IDLE], 1);
    assert_int_equal(owners[0]->timeouts[EMBER_CONN_DEADLINE], 0);
    /* Traffic does not move a deadline. */
    peer_send(&b, "x");
    assert_true(run_until(owner_closed, owners[1], 3000));
    assert_int_equal(owners[1]->timeouts[EMBER_CONN_DEADLINE], 1);
    assert_int_equal(owners[1]->timeouts[EMBER_CONN_IDLE], 0);
    peer_close(&a);
    peer_close(&b);
}


/* A peer that reads nothing while output piles up past max_backlog is
 * dropped: the write that crosses it fails with ELIMIT and the owner
 * hears hangup, then closed. */
static void
test_write_backlog(void **state)
{
    static char chunk[256 * 1024];
    static peer_t p;
    int one = 1, i, rc = 0;

    (void) state;
    opts.max_backlog = 512 * 1024;
    peer_connect(&p, 0);
    assert_true(run_until(owners_at_least, &one, 2000));
    memset(chunk, 'x', sizeof(chunk));
    for (i = 0; i < 256 && rc == 0; i++)
        rc = ember__conn_write(owners[0]->conn, chunk, sizeof(chunk));
    assert_int_equal(rc, EMBER_ELIMIT);
    assert_int_equal(owners[0]->hangups, 1);
    assert_true(run_until(owner_closed, owners[0], 3000));
    assert_string_equal(owners[0]->order, "hc");
    peer_close(&p);
}


/* A close waits for queued output, but not for ever: a peer that stopped
 * reading loses what is still queued after the grace period. */
static void
test_close_gives_up_on_a_peer_that_does_not_read(void **state)
{
    static char chunk[256 * 1024];
    static peer_t p;
    int one = 1, i;

    (void) state;
    opts.max_backlog = 64u << 20;
    peer_connect(&p, 0);
    assert_true(run_until(owners_at_least, &one, 2000));
    memset(chunk, 'y', sizeof(chunk));
    for (i = 0; i < 32; i++)
        assert_int_equal(ember__conn_write(owners[0]->conn, chunk,
                                           sizeof(chunk)), 0);
    ember__conn_close(owners[0]->conn);
    assert_true(ember__conn_closing(owners[0]->conn));
    assert_false(run_until(owner_closed, owners[0], 1000));
    assert_true(run_until(owner_closed, owners[0], 8000));
    assert_int_equal(owners[0]->hangups, 0);
    peer_close(&p);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_data_both_ways, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_hangup_then_closed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_per_address_limit, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_timeouts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_backlog, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_close_gives_up_on_a_peer_that_does_not_read, setup,
            teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
