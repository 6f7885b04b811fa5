/* core/buf.c -- growable byte buffer and the escaping writer behind it. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ember/errno.h>

#include "base/buf.h"

/*
 * Byte classes for the escaping scan.  0: copied as is.  1: replaced by a
 * reference.  2: not an XML character, replaced by U+FFFD.  3: first byte
 * of a multi-byte sequence, validated.  4: whitespace that attribute value
 * normalisation would turn into a space, so it is escaped in attributes.
 */
enum { C_PLAIN, C_REF, C_BAD, C_MB, C_WS };

static const unsigned char esc_class[256] = {
    2, 2, 2, 2, 2, 2, 2, 2, 2, 4, 4, 2, 2, 1, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    0, 0, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
};

static const char replacement[] = "\xef\xbf\xbd";


static int
buf_grow(ember_buf_t *b, size_t need)
{
    size_t cap;
    char *p;

    if (need < b->len || need == SIZE_MAX)
        return EMBER_ENOMEM;
    if (need + 1 <= b->cap)
        return 0;
    cap = b->cap ? b->cap : 64;
    while (cap < need + 1) {
        if (cap > SIZE_MAX / 2)
            return EMBER_ENOMEM;
        cap *= 2;
    }
    p = realloc(b->data, cap);
    if (p == NULL)
        return EMBER_ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}


int
ember__buf_reserve(ember_buf_t *b, size_t n)
{
    return buf_grow(b, b->len + n);
}


int
ember__buf_append(ember_buf_t *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap && buf_grow(b, b->len + n) < 0)
        return EMBER_ENOMEM;
    if (n > 0)
        memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}


int
ember__buf_puts(ember_buf_t *b, const char *s)
{
    return ember__buf_append(b, s, strlen(s));
}


int
ember__buf_printf(ember_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (buf_grow(b, b->len + 128) < 0)
        return EMBER_ENOMEM;
    va_start(ap, fmt);
    n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0)
        return EMBER_EINVAL;
    if ((size_t) n >= b->cap - b->len) {
        if (buf_grow(b, b->len + (size_t) n) < 0)
            return EMBER_ENOMEM;
        va_start(ap, fmt);
        vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
    }
    b->len += (size_t) n;
    return 0;
}


/*
 * Length of the valid UTF-8 sequence of an XML character at s (s[0] >=
 * 0x80), or 0 when it is malformed, a surrogate, U+FFFE or U+FFFF.
 */
static size_t
utf8_char_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];

    if (c >= 0xc2 && c <= 0xdf) {
        if (n < 2 || (s[1] & 0xc0) != 0x80)
            return 0;
        return 2;
    }
    if (c >= 0xe0 && c <= 0xef) {
        if (n < 3 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
            return 0;
        if (c == 0xe0 && s[1] < 0xa0)
            return 0;
        if (c == 0xed && s[1] >= 0xa0)
            return 0;
        if (c == 0xef && s[1] == 0xbf && (s[2] == 0xbe || s[2] == 0xbf))
            return 0;
        return 3;
    }
    if (c >= 0xf0 && c <= 0xf4) {
        if (n < 4 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80
            || (s[3] & 0xc0) != 0x80)
            return 0;
        if (c == 0xf0 && s[1] < 0x90)
            return 0;
        if (c == 0xf4 && s[1] >= 0x90)
            return 0;
        return 4;
    }
    return 0;
}


/* Escape in runs: plain bytes are copied in one memcpy per run. */
static int
escape(ember_buf_t *b, const char *str, size_t n, int attr)
{
    const unsigned char *s = (const unsigned char *) str;
    const char *ref;
    size_t i = 0, run = 0, k;

    /* Most text needs no escaping: reserve once, grow rarely. */
    if (buf_grow(b, b->len + n) < 0)
        return EMBER_ENOMEM;
    while (i < n) {
        switch (esc_class[s[i]]) {
        case C_PLAIN:
            i++;
            continue;
        case C_MB:
            k = utf8_char_len(s + i, n - i);
            if (k > 0) {
                i += k;
                continue;
            }
            ref = replacement;
            k = 1;
            break;
        case C_BAD:
            ref = replacement;
            k = 1;
            break;
        case C_WS:
            if (!attr) {
                i++;
                continue;
            }
            ref = s[i] == '\t' ? "&#9;" : "&#10;";
            k = 1;
            break;
        default:
            switch (s[i]) {
            case '&': ref = "&amp;"; break;
            case '<': ref = "&lt;"; break;
            case '>': ref = "&gt;"; break;
            case '"': ref = "&quot;"; break;
            case '\'': ref = "&apos;"; break;
            default: ref = "&#13;"; break;
            }
            k = 1;
            break;
        }
        if (ember__buf_append(b, (const char *) s + run, i - run) < 0
            || ember__buf_puts(b, ref) < 0)
            return EMBER_ENOMEM;
        i += k;
        run = i;
    }
    return ember__buf_append(b, (const char *) s + run, i - run);
}


int
ember__buf_escape(ember_buf_t *b, const char *s, size_t n)
{
    return escape(b, s, n, 1);
}


int
ember__buf_escape_text(ember_buf_t *b, const char *s, size_t n)
{
    return escape(b, s, n, 0);
}


void
ember__buf_consume(ember_buf_t *b, size_t n)
{
    if (n >= b->len) {
        ember__buf_reset(b);
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
    b->data[b->len] = '\0';
}


void
ember__buf_reset(ember_buf_t *b)
{
    b->len = 0;
    if (b->data != NULL)
        b->data[0] = '\0';
}


void
ember__buf_free(ember_buf_t *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}
