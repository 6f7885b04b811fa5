/* core/jid.c -- JIDs: split, prepared with libidn's stringprep profiles,
 * kept in one allocation. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include <stringprep.h>

#include <ember/errno.h>

#include "base/jid.h"

#define PART_MAX 1023
/* Input parts may shrink under prep (mapped-to-nothing characters) and
 * grow (case folding); anything longer cannot fit once prepared. */
#define PREP_BUF 4096

enum { PREP_NODE, PREP_DOMAIN, PREP_RESOURCE };


/*
 * For ASCII the three profiles reduce to: nodeprep and nameprep map A-Z to
 * a-z (table B.2), resourceprep maps nothing; nodeprep prohibits controls,
 * space and "&'/:<>@ (C.1.1, C.2.1 and its own table), resourceprep
 * prohibits controls (C.2.1); nameprep prohibits no ASCII character (the
 * label check does that).  No ASCII character is unassigned, changed by
 * NFKC or right-to-left, so such input needs no call into libidn.
 */
static int
prep_ascii(int profile, const char *in, size_t n, char *out)
{
    size_t i;
    unsigned char c;

    for (i = 0; i < n; i++) {
        c = (unsigned char) in[i];
        if (profile != PREP_DOMAIN && (c < 0x20 || c == 0x7f))
            return EMBER_EINVAL;
        if (profile == PREP_NODE && strchr(" \"&'/:<>@", c) != NULL)
            return EMBER_EINVAL;
        if (profile != PREP_RESOURCE && c >= 'A' && c <= 'Z')
            c = (unsigned char) (c - 'A' + 'a');
        out[i] = (char) c;
    }
    out[n] = '\0';
    return 0;
}


static int
is_ascii(const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if ((unsigned char) s[i] >= 0x80)
            return 0;
    return 1;
}


static int
prep_slow(int profile, const char *in, size_t n, char *out, size_t outlen)
{
    int rc;

    memcpy(out, in, n);
    out[n] = '\0';
    switch (profile) {
    case PREP_NODE:
        rc = stringprep_xmpp_nodeprep(out, outlen);
        break;
    case PREP_DOMAIN:
        rc = stringprep_nameprep(out, outlen);
        break;
    default:
        rc = stringprep_xmpp_resourceprep(out, outlen);
        break;
    }
    return rc == STRINGPREP_OK ? 0 : EMBER_EINVAL;
}


/* Labels of a prepared domain: non-empty, at most 63 bytes, and in ASCII
 * only letters, digits, '-' (not at either end) and '_'. */
static int
check_domain(const char *d, size_t n)
{
    char addr[64];
    unsigned char in6[16];
    size_t i, start = 0;
    unsigned char c;

    if (n >= 2 && d[0] == '[' && d[n - 1] == ']') {
        if (n - 2 >= sizeof(addr))
            return EMBER_EINVAL;
        memcpy(addr, d + 1, n - 2);
        addr[n - 2] = '\0';
        return inet_pton(AF_INET6, addr, in6) == 1 ? 0 : EMBER_EINVAL;
    }
    for (i = 0; i <= n; i++) {
        if (i == n || d[i] == '.') {
            if (i == start || i - start > 63)
                return EMBER_EINVAL;
            if (d[start] == '-' || d[i - 1] == '-')
                return EMBER_EINVAL;
            start = i + 1;
            continue;
        }
        c = (unsigned char) d[i];
        if (c >= 0x80)
            continue;
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'
              || c == '_'))
            return EMBER_EINVAL;
    }
    return 0;
}


static int
prep(int profile, const char *in, size_t n, char *out, size_t outlen)
{
    size_t len;
    int err;

    if (n == 0 || n >= PREP_BUF || outlen < PREP_BUF)
        return EMBER_EINVAL;
    if (profile == PREP_DOMAIN && in[n - 1] == '.') {
        if (--n == 0)
            return EMBER_EINVAL;
    }
    /* IP literals are kept as written, but in lowercase for comparison. */
    if (profile == PREP_DOMAIN && in[0] == '[')
        err = is_ascii(in, n) ? prep_ascii(PREP_DOMAIN, in, n, out)
                              : EMBER_EINVAL;
    else if (is_ascii(in, n))
        err = prep_ascii(profile, in, n, out);
    else
        err = prep_slow(profile, in, n, out, outlen);
    if (err < 0)
        return err;
    len = strlen(out);
    if (len == 0 || len > PART_MAX)
        return EMBER_EINVAL;
    if (profile == PREP_DOMAIN)
        return check_domain(out, len);
    return 0;
}


static int
prep_into(int profile, const char *in, char *out, size_t outlen)
{
    char tmp[PREP_BUF];
    size_t len;
    int err;

    if (in == NULL || out == NULL)
        return EMBER_EINVAL;
    if ((err = prep(profile, in, strlen(in), tmp, sizeof(tmp))) < 0)
        return err;
    len = strlen(tmp);
    if (len + 1 > outlen)
        return EMBER_EINVAL;
    memcpy(out, tmp, len + 1);
    return 0;
}


int
ember__jid_prep_node(const char *in, char *out, size_t outlen)
{
    return prep_into(PREP_NODE, in, out, outlen);
}


int
ember__jid_prep_domain(const char *in, char *out, size_t outlen)
{
    return prep_into(PREP_DOMAIN, in, out, outlen);
}


int
ember__jid_prep_resource(const char *in, char *out, size_t outlen)
{
    return prep_into(PREP_RESOURCE, in, out, outlen);
}


/*
 * Layout of the one allocation: the struct, then full ("node@domain/res"),
 * bare, node and domain, each NUL-terminated; resource points into full.
 */
static ember_jid_t *
build(const char *node, size_t nl, const char *domain, size_t dl,
      const char *res, size_t rl)
{
    ember_jid_t *j;
    size_t bare_len = (node ? nl + 1 : 0) + dl;
    size_t full_len = bare_len + (res ? rl + 1 : 0);
    size_t size;
    char *p, *full, *bare;

    size = sizeof(*j) + full_len + 1 + (res ? bare_len + 1 : 0)
           + (node ? nl + 1 : 0) + dl + 1;
    if ((j = malloc(size)) == NULL)
        return NULL;
    p = full = (char *) (j + 1);
    if (node != NULL) {
        memcpy(p, node, nl);
        p += nl;
        *p++ = '@';
    }
    memcpy(p, domain, dl);
    p += dl;
    if (res != NULL) {
        *p++ = '/';
        memcpy(p, res, rl);
        j->resource = p;
        p += rl;
        *p++ = '\0';
        bare = p;
        memcpy(bare, full, bare_len);
        p += bare_len;
        *p++ = '\0';
    } else {
        j->resource = NULL;
        *p++ = '\0';
        bare = full;
    }
    j->full = full;
    j->bare = bare;
    if (node != NULL) {
        memcpy(p, node, nl);
        p[nl] = '\0';
        j->node = p;
        p += nl + 1;
    } else {
        j->node = NULL;
    }
    memcpy(p, domain, dl);
    p[dl] = '\0';
    j->domain = p;
    return j;
}


static ember_jid_t *
make_n(const char *node, size_t nl, const char *domain, size_t dl,
       const char *res, size_t rl)
{
    char pn[PREP_BUF], pd[PREP_BUF], pr[PREP_BUF];

    if (domain == NULL)
        return NULL;
    if (node != NULL && prep(PREP_NODE, node, nl, pn, sizeof(pn)) < 0)
        return NULL;
    if (prep(PREP_DOMAIN, domain, dl, pd, sizeof(pd)) < 0)
        return NULL;
    if (res != NULL && prep(PREP_RESOURCE, res, rl, pr, sizeof(pr)) < 0)
        return NULL;
    return build(node ? pn : NULL, node ? strlen(pn) : 0, pd, strlen(pd),
                 res ? pr : NULL, res ? strlen(pr) : 0);
}


ember_jid_t *
ember__jid_parse(const char *s)
{
    const char *slash, *at, *dom;
    size_t len;

    if (s == NULL)
        return NULL;
    len = strlen(s);
    slash = memchr(s, '/', len);
    at = memchr(s, '@', slash ? (size_t) (slash - s) : len);
    dom = at ? at + 1 : s;
    return make_n(at ? s : NULL, at ? (size_t) (at - s) : 0,
                  dom, (size_t) ((slash ? slash : s + len) - dom),
                  slash ? slash + 1 : NULL,
                  slash ? (size_t) (s + len - slash - 1) : 0);
}


ember_jid_t *
ember__jid_make(const char *node, const char *domain, const char *resource)
{
    if (domain == NULL)
        return NULL;
    return make_n(node, node ? strlen(node) : 0, domain, strlen(domain),
                  resource, resource ? strlen(resource) : 0);
}


void
ember__jid_free(ember_jid_t *j)
{
    free(j);
}


ember_jid_t *
ember__jid_copy(const ember_jid_t *j)
{
    if (j == NULL)
        return NULL;
    return build(j->node, j->node ? strlen(j->node) : 0, j->domain,
                 strlen(j->domain), j->resource,
                 j->resource ? strlen(j->resource) : 0);
}


const char *
ember__jid_node(const ember_jid_t *j)
{
    return j != NULL ? j->node : NULL;
}


const char *
ember__jid_domain(const ember_jid_t *j)
{
    return j != NULL ? j->domain : NULL;
}


const char *
ember__jid_resource(const ember_jid_t *j)
{
    return j != NULL ? j->resource : NULL;
}


const char *
ember__jid_full(const ember_jid_t *j)
{
    return j != NULL ? j->full : NULL;
}


const char *
ember__jid_bare(const ember_jid_t *j)
{
    return j != NULL ? j->bare : NULL;
}


int
ember__jid_equal(const ember_jid_t *a, const ember_jid_t *b)
{
    if (a == b)
        return 1;
    if (a == NULL || b == NULL)
        return 0;
    return strcmp(a->full, b->full) == 0;
}
