/* core/jid.h -- JIDs prepared with libidn (RFC 6122/7622 via stringprep). */
#ifndef EMBER_CORE_JID_H
#define EMBER_CORE_JID_H

#include <ember/plugin.h>

/*
 * One allocation holds the struct and every string.  Parts are prepared
 * (nodeprep, nameprep + lowercase, resourceprep); each part is 1..1023
 * bytes; domain may carry a trailing dot in input, which is removed.
 */
struct ember_jid_s {
    const char *node;     /* NULL if none */
    const char *domain;
    const char *resource; /* NULL if none */
    const char *bare;     /* node@domain or domain */
    const char *full;     /* bare/resource or bare */
};

ember_jid_t *ember__jid_parse(const char *s);
/* Build from parts (each prepared); node/resource may be NULL. */
ember_jid_t *ember__jid_make(const char *node, const char *domain,
                             const char *resource);
void ember__jid_free(ember_jid_t *j);
ember_jid_t *ember__jid_copy(const ember_jid_t *j);
const char *ember__jid_node(const ember_jid_t *j);
const char *ember__jid_domain(const ember_jid_t *j);
const char *ember__jid_resource(const ember_jid_t *j);
const char *ember__jid_full(const ember_jid_t *j);
const char *ember__jid_bare(const ember_jid_t *j);
int ember__jid_equal(const ember_jid_t *a, const ember_jid_t *b);

/* Prepare one part into out (NUL-terminated); 0 or EMBER_EINVAL. */
int ember__jid_prep_node(const char *in, char *out, size_t outlen);
int ember__jid_prep_domain(const char *in, char *out, size_t outlen);
int ember__jid_prep_resource(const char *in, char *out, size_t outlen);

#endif
