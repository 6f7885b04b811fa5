/* core/net/conn.h -- one accepted TCP connection: socket, TLS, write
 * backlog, per-address limits, timeouts and the close sequence.  Every
 * protocol (c2s streams, HTTP) runs on it and never sees the socket. */
#ifndef EMBER_CORE_CONN_H
#define EMBER_CORE_CONN_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "net/tls.h"

typedef struct ember_conn_s ember_conn_t;

/* Connections are counted per address within a pool, each pool with its
 * own limit (<limits max-connections-per-ip>). */
typedef enum {
    EMBER_CONN_POOL_C2S = 0,
    EMBER_CONN_POOL_HTTP = 1,
    EMBER_CONN_POOL_S2S = 2,
    EMBER_CONN_POOL_COUNT
} ember_conn_pool_t;

typedef enum {
    EMBER_CONN_IDLE = 1,     /* nothing received (nor touched) for idle ms */
    EMBER_CONN_DEADLINE = 2  /* the owner's deadline passed */
} ember_conn_timeout_t;

typedef struct ember_conn_events_s {
    /* Bytes from the peer, decrypted once TLS is on. */
    void (*data)(void *owner, const char *data, size_t len);
    /* A timeout: the owner answers and closes, or moves its limits.
     * NULL: the connection just closes. */
    void (*timeout)(void *owner, ember_conn_timeout_t what);
    /* The peer hung up, or the connection failed (read error, TLS error,
     * write backlog): the close follows.  May be NULL. */
    void (*hangup)(void *owner);
    /* The TLS handshake finished (may be NULL). */
    void (*secure)(void *owner);
    /* The socket is closed: the owner lets go of the conn, which is
     * freed when this returns. */
    void (*closed)(void *owner);
    /* Queued output fell under what ember__conn_when_drained asked. */
    void (*drained)(void *owner);
    /* ember__conn_connect finished: status 0, or negative and `closed`
     * follows. */
    void (*connected)(void *owner, int status);
} ember_conn_events_t;

typedef struct ember_conn_opts_s {
    ember_conn_pool_t pool;
    int max_per_ip;           /* 0: no limit */
    int direct_tls;           /* TLS from the first byte */
    const char *alpn;         /* ALPN to offer (XEP-0368), static */
    const char *server_name;  /* outbound: we are the TLS client and send
                                 this name (SNI) */
    int peer_cert;            /* inbound TLS asks for the peer's
                                 certificate (s2s) */
    size_t max_backlog;       /* queued output past which the peer is
                               * dropped; 0: 4 MiB */
    uint64_t rate, burst;     /* bytes/s the peer may send; 0: any */
    int connects_per_second;  /* new connections per address; 0: any */
} ember_conn_opts_t;

/*
 * Accept one connection from server.  On EMBER_ELIMIT (over max_per_ip or
 * connects_per_second)
 * *out is still set and not reading: the owner may write a refusal, then
 * must call ember__conn_close.  Other errors: *out is NULL.
 */
int ember__conn_accept(uv_stream_t *server, const ember_conn_opts_t *opts,
                       const ember_conn_events_t *ev, void *owner,
                       ember_conn_t **out);
/*
 * Connect to addr; `connected` reports the outcome.  *out is the
 * connection from now on (its `closed` comes in any case once started).
 */
int ember__conn_connect(const struct sockaddr *addr,
                        const ember_conn_opts_t *opts,
                        const ember_conn_events_t *ev, void *owner,
                        ember_conn_t **out);
/* Through TLS once its handshake is done; EMBER_ELIMIT (and the close
 * begins) when the peer reads too slowly for the write backlog. */
int ember__conn_write(ember_conn_t *c, const char *data, size_t len);
/* STARTTLS: bytes from now on are TLS records. */
int ember__conn_start_tls(ember_conn_t *c);
/* Flush, close_notify, shutdown, close; `closed` follows.  Idempotent.
 * Output the peer has not taken after a few seconds is dropped. */
void ember__conn_close(ember_conn_t *c);
/* Close at once, dropping what is queued. */
void ember__conn_abort(ember_conn_t *c);
int ember__conn_closing(const ember_conn_t *c);

/* Shape what the peer sends (rate 0: not at all), e.g. lifted for an
 * admin once logged in.  Over the rate, the connection is not read until
 * it is back within it. */
void ember__conn_set_rate(ember_conn_t *c, uint64_t rate, uint64_t burst);

/* Stop reading from the peer (on = 1) until told to go on (on = 0), say
 * while what it sent is being written to disk.  The kernel's buffers,
 * then TCP flow control, hold the sender back. */
void ember__conn_hold_back(ember_conn_t *c, int on);
/* 1 when less than `below` bytes of output are queued; else 0, and the
 * `drained` event comes once they are (once per call). */
int ember__conn_when_drained(ember_conn_t *c, size_t below);

/*
 * What the owner buffers of the peer's input, counted per address and per
 * pool: 0, or EMBER_ELIMIT (and nothing changes) when growing to `bytes`
 * would put the address past per_ip_cap or the pool past pool_cap (0: no
 * cap).  Shrinking always succeeds; the close releases it.
 */
int ember__conn_hold(ember_conn_t *c, size_t bytes, size_t per_ip_cap,
                     size_t pool_cap);
size_t ember__conns_held(ember_conn_pool_t pool);

/* 0 turns a timeout off. */
void ember__conn_set_idle(ember_conn_t *c, uint64_t ms);
void ember__conn_set_deadline(ember_conn_t *c, uint64_t ms_from_now);
/* Count as activity for the idle timeout (an answer was sent). */
void ember__conn_touch(ember_conn_t *c);
uint64_t ember__conn_idle_ms(const ember_conn_t *c);

const char *ember__conn_ip(const ember_conn_t *c);
/* 127.0.0.0/8, ::1 or ::ffff:127.x.x.x: a peer on this machine (a TLS
 * proxy, say). */
int ember__conn_ip_loopback(const char *ip);
/* The TLS session (NULL on plain TCP). */
ember_tls_t *ember__conn_tls(const ember_conn_t *c);
int ember__conn_secure(const ember_conn_t *c);

/* Connections of a pool, and the whole layer's start and end. */
size_t ember__conns_count(ember_conn_pool_t pool);
int ember__conns_init(void);
void ember__conns_cleanup(void);

#endif
