/* libFuzzer target: JID parsing; prepared JIDs are fixed points. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/jid.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ember_jid_t *j, *k, *m;
    char *s;

    s = malloc(size + 1);
    if (s == NULL)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    j = ember__jid_parse(s);
    free(s);
    if (j == NULL)
        return 0;
    if (j->domain == NULL || *j->domain == '\0' || strlen(j->domain) > 1023)
        abort();
    if ((j->node && (!*j->node || strlen(j->node) > 1023))
        || (j->resource && (!*j->resource || strlen(j->resource) > 1023)))
        abort();
    /* Preparing again changes nothing. */
    k = ember__jid_parse(j->full);
    if (k == NULL || !ember__jid_equal(j, k) || strcmp(j->bare, k->bare))
        abort();
    m = ember__jid_make(j->node, j->domain, j->resource);
    if (m == NULL || !ember__jid_equal(j, m))
        abort();
    ember__jid_free(m);
    m = ember__jid_copy(j);
    if (!ember__jid_equal(m, j))
        abort();
    ember__jid_free(m);
    ember__jid_free(k);
    ember__jid_free(j);
    return 0;
}
