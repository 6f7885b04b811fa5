/* core/net/dns.h -- asynchronous DNS on the loop (c-ares): SRV records
 * and addresses, for server-to-server links. */
#ifndef EMBER_CORE_DNS_H
#define EMBER_CORE_DNS_H

#include <stddef.h>
#include <sys/socket.h>

typedef struct ember_dns_req_s ember_dns_req_t;

typedef struct ember_dns_srv_s {
    char target[256];
    int port, priority, weight;
} ember_dns_srv_t;

/*
 * SRV records of name, in the order to try them (RFC 2782: priority,
 * then weight).  status 0 with n == 0: the name has no such records;
 * EMBER_ENOENT: the name does not exist; other negatives: the lookup
 * failed (no answer, a server error).
 */
typedef void (*ember_dns_srv_cb)(void *ud, int status,
                                 const ember_dns_srv_t *srv, size_t n);
typedef void (*ember_dns_addr_cb)(void *ud, int status,
                                  const struct sockaddr_storage *addrs,
                                  size_t n);

/* servers: "ip[:port],..." or NULL for the system's resolv.conf. */
int ember__dns_init(const char *servers, char *err, size_t errlen);
void ember__dns_cleanup(void);

/* The callback runs once, from the loop, never before this returns; the
 * handle cancels the request until then. */
ember_dns_req_t *ember__dns_srv(const char *name, ember_dns_srv_cb cb,
                                void *ud);
/* IPv4 and IPv6 addresses of host with port set in each. */
ember_dns_req_t *ember__dns_addr(const char *host, int port,
                                 ember_dns_addr_cb cb, void *ud);
/* The callback will not run. */
void ember__dns_cancel(ember_dns_req_t *req);

#endif
