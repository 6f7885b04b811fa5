/* libFuzzer target: the stream parser fed arbitrary bytes in arbitrary
 * pieces, with small limits, idling (pooling) and restarts in between. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "xmpp/stanza.h"
#include "xmpp/xmlstream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
    ember_xml_t *x;
    ember_buf_t out;
    char ns[64];
    int closed, failed;
    unsigned restart_every;
    unsigned count;
} state_t;

static void
on_open(void *ud, ember_stanza_t *hdr, const char *name, const char *ns)
{
    state_t *s = ud;
    const char *d = ember__stanza_xmlns(hdr);

    strncpy(s->ns, d ? d : "", sizeof(s->ns) - 1);
    ember__stanza_free(hdr);
}

static void
on_stanza(void *ud, ember_stanza_t *st)
{
    state_t *s = ud;
    ember_stanza_t *copy, *back;
    char *xml;
    size_t len;

    /* Whatever was parsed serializes to XML that parses again. */
    ember__buf_reset(&s->out);
    if (ember__stanza_write(st, s->ns, &s->out) != 0)
        abort();
    xml = ember__stanza_serialize(st, &len);
    back = ember__stanza_parse(xml, len);
    if (back == NULL)
        abort();
    copy = ember__stanza_copy(st);
    ember__stanza_append(copy, back);
    (void) ember__stanza_text(copy);
    ember__stanza_free(back);
    ember__stanza_free(copy);
    free(xml);
    ember__stanza_free(st);
    if (s->restart_every && ++s->count % s->restart_every == 0)
        ember__xml_restart(s->x);
}

static void
on_close(void *ud)
{
    ((state_t *) ud)->closed = 1;
}

static void
on_error(void *ud, ember_stream_cond_t cond, const char *text)
{
    ((state_t *) ud)->failed = 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const ember_xml_cbs_t cbs = { on_open, on_stanza, on_close,
                                         on_error };
    ember_xml_limits_t lim = { 2048, 8, 8 };
    state_t s;
    size_t i, n;
    unsigned step;

    if (size < 2)
        return 0;
    /* First two bytes: piece size and options. */
    step = 1 + data[0] % 64;
    memset(&s, 0, sizeof(s));
    s.restart_every = (data[1] >> 4) & 3;
    lim.max_stanza_size = 64 + (size_t) (data[1] & 15) * 256;
    s.x = ember__xml_new(&cbs, &s, &lim);
    data += 2;
    size -= 2;
    for (i = 0; i < size; i += n) {
        n = size - i < step ? size - i : step;
        if (ember__xml_feed(s.x, (const char *) data + i, n) < 0)
            break;
        if (data[i] & 1)
            ember__xml_idle(s.x);
    }
    ember__xml_free(s.x);
    ember__buf_free(&s.out);
    return 0;
}
