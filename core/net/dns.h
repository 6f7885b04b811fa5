/* core/net/dns.h -- asynchronous DNS on the loop, for server-to-server
 * links: SRV records and addresses through c-ares; with a trust anchor,
 * everything through libunbound, validated (DNSSEC), TLSA records too. */
#ifndef EMBER_CORE_DNS_H
#define EMBER_CORE_DNS_H

#include <stddef.h>
#include <sys/socket.h>

typedef struct ember_dns_req_s ember_dns_req_t;

typedef struct ember_dns_srv_s {
    char target[256];
    int port, priority, weight;
} ember_dns_srv_t;

/* What DNSSEC validation said of an answer (RFC 4035 4.3); without a
 * trust anchor every answer is insecure.  A bogus answer comes with no
 * records. */
typedef enum {
    EMBER_DNS_INSECURE = 0,
    EMBER_DNS_SECURE,
    EMBER_DNS_BOGUS
} ember_dns_sec_t;

/*
 * SRV records of name, in the order to try them (RFC 2782: priority,
 * then weight).  status 0 with n == 0: the name has no such records;
 * EMBER_ENOENT: the name does not exist; other negatives: the lookup
 * failed (no answer, a server error).
 */
typedef void (*ember_dns_srv_cb)(void *ud, int status, ember_dns_sec_t sec,
                                 const ember_dns_srv_t *srv, size_t n);
/* sec: of the A and AAAA answers together (secure only when both are). */
typedef void (*ember_dns_addr_cb)(void *ud, int status, ember_dns_sec_t sec,
                                  const struct sockaddr_storage *addrs,
                                  size_t n);
/* TLSA RDATA as on the wire (RFC 6698 2.1), valid during the call. */
typedef void (*ember_dns_tlsa_cb)(void *ud, int status, ember_dns_sec_t sec,
                                  char *const *rdata, const int *len,
                                  size_t n);

/*
 * servers: "ip[:port],..." or NULL for the system's resolv.conf.
 * trust_anchor: NULL, or a file of DS or DNSKEY records (zone file
 * format): then answers are validated in-process, servers (if any) are
 * forwarders asked with the DO bit, and without servers the resolver
 * recurses from the root itself.
 */
int ember__dns_init(const char *servers, const char *trust_anchor, char *err,
                    size_t errlen);
/* Answers carry a validation status (ember__dns_init had a trust
 * anchor). */
int ember__dns_validating(void);
void ember__dns_cleanup(void);

/* The callback runs once, from the loop, never before this returns; the
 * handle cancels the request until then. */
ember_dns_req_t *ember__dns_srv(const char *name, ember_dns_srv_cb cb,
                                void *ud);
/* IPv4 and IPv6 addresses of host with port set in each. */
ember_dns_req_t *ember__dns_addr(const char *host, int port,
                                 ember_dns_addr_cb cb, void *ud);
/* TLSA records of name ("_port._tcp.host"); EMBER_ESTATE without
 * validation. */
ember_dns_req_t *ember__dns_tlsa(const char *name, ember_dns_tlsa_cb cb,
                                 void *ud);
/* The callback will not run. */
void ember__dns_cancel(ember_dns_req_t *req);

#endif
