/* core/buf.h -- a growable byte buffer, the serializer's output. */
#ifndef EMBER_CORE_BUF_H
#define EMBER_CORE_BUF_H

#include <stddef.h>

typedef struct ember_buf_s {
    char *data;
    size_t len, cap;
} ember_buf_t;

/* 0 or EMBER_ENOMEM.  data stays NUL-terminated after every append. */
int ember__buf_append(ember_buf_t *b, const char *s, size_t n);
int ember__buf_puts(ember_buf_t *b, const char *s);
/* Room for n more bytes (and the NUL) at data + len, len unchanged. */
int ember__buf_reserve(ember_buf_t *b, size_t n);
int ember__buf_printf(ember_buf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Append s with &, <, >, ' and " escaped, and tab, newline and CR as
 * character references (attribute safe); characters XML cannot carry and
 * invalid UTF-8 become U+FFFD. */
int ember__buf_escape(ember_buf_t *b, const char *s, size_t n);
/* The same for character data: tab and newline stay literal. */
int ember__buf_escape_text(ember_buf_t *b, const char *s, size_t n);
/* Drop the first n bytes. */
void ember__buf_consume(ember_buf_t *b, size_t n);
void ember__buf_reset(ember_buf_t *b);
void ember__buf_free(ember_buf_t *b);

#endif
