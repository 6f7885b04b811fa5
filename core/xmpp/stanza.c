/* core/stanza.c -- element trees in one arena per root, and their writer. */
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <ember/errno.h>

#include "base/buf.h"
#include "xmpp/stanza.h"

#define INLINE_ARENA 512
#define CHUNK_MIN 1024
#define CHUNK_MAX (64 * 1024)
#define ALIGN 8

enum { NODE_ELEM = 1, NODE_TEXT = 2 };

typedef struct node_s node_t;

struct node_s {
    node_t *next, *prev;
    ember_stanza_t *parent;
    int kind;
};

typedef struct text_s {
    node_t n;
    size_t len;
    char s[];
} text_t;

typedef struct attr_s attr_t;

struct attr_s {
    attr_t *next;
    const char *name;
    char *value;
    size_t cap; /* bytes available at value, for overwriting in place */
};

typedef struct chunk_s chunk_t;

struct chunk_s {
    chunk_t *next;
    size_t size;
};

typedef struct arena_s {
    char *ptr, *end;
    chunk_t *chunks;
    size_t next_size;
    size_t total;
} arena_t;

struct ember_stanza_s {
    node_t n;
    arena_t *arena;
    const char *name;
    const char *ns; /* NULL: inherits the context's (trees without one) */
    attr_t *attrs, *attrs_last;
    node_t *first, *last;
    const char *text; /* cached concatenation of direct text, or NULL */
    size_t ntext;     /* direct text children */
};

typedef struct root_s {
    ember_stanza_t el;
    arena_t arena;
    alignas(max_align_t) char inline_mem[INLINE_ARENA];
} root_t;

#define CHUNK_HDR ((sizeof(chunk_t) + ALIGN - 1) & ~(size_t) (ALIGN - 1))


static void *
arena_alloc(arena_t *a, size_t n)
{
    chunk_t *c;
    size_t size;
    void *p;

    n = (n + ALIGN - 1) & ~(size_t) (ALIGN - 1);
    if ((size_t) (a->end - a->ptr) >= n) {
        p = a->ptr;
        a->ptr += n;
        return p;
    }
    if (n > SIZE_MAX / 2)
        return NULL;
    /* A large block gets a chunk of its own so the current one goes on. */
    if (n > a->next_size / 4) {
        c = malloc(CHUNK_HDR + n);
        if (c == NULL)
            return NULL;
        c->size = CHUNK_HDR + n;
        c->next = a->chunks;
        a->chunks = c;
        a->total += c->size;
        return (char *) c + CHUNK_HDR;
    }
    size = a->next_size;
    c = malloc(size);
    if (c == NULL)
        return NULL;
    c->size = size;
    c->next = a->chunks;
    a->chunks = c;
    a->total += size;
    if (a->next_size < CHUNK_MAX)
        a->next_size *= 2;
    a->ptr = (char *) c + CHUNK_HDR + n;
    a->end = (char *) c + size;
    return (char *) c + CHUNK_HDR;
}


static char *
arena_strndup(arena_t *a, const char *s, size_t n)
{
    char *p = arena_alloc(a, n + 1);

    if (p == NULL)
        return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}


static void
link_child(ember_stanza_t *parent, node_t *n)
{
    n->parent = parent;
    n->next = NULL;
    n->prev = parent->last;
    if (parent->last != NULL)
        parent->last->next = n;
    else
        parent->first = n;
    parent->last = n;
}


/*
 * Namespace string for a new element under parent: the parent's pointer
 * when equal (the common case costs no memory), else a copy.
 */
static const char *
ns_for(arena_t *a, const ember_stanza_t *parent, const char *xmlns)
{
    if (xmlns == NULL)
        return parent != NULL ? parent->ns : NULL;
    if (parent != NULL && parent->ns != NULL
        && (parent->ns == xmlns || strcmp(parent->ns, xmlns) == 0))
        return parent->ns;
    return arena_strndup(a, xmlns, strlen(xmlns));
}


static ember_stanza_t *
elem_new(arena_t *a, const ember_stanza_t *parent, const char *name,
         const char *xmlns)
{
    ember_stanza_t *e = arena_alloc(a, sizeof(*e));

    if (e == NULL)
        return NULL;
    memset(e, 0, sizeof(*e));
    e->n.kind = NODE_ELEM;
    e->arena = a;
    if ((e->name = arena_strndup(a, name, strlen(name))) == NULL)
        return NULL;
    if (xmlns != NULL && (e->ns = ns_for(a, parent, xmlns)) == NULL)
        return NULL;
    if (xmlns == NULL && parent != NULL)
        e->ns = parent->ns;
    return e;
}


ember_stanza_t *
ember__stanza_new(const char *name, const char *xmlns)
{
    root_t *r;

    if (name == NULL || *name == '\0')
        return NULL;
    r = malloc(sizeof(*r));
    if (r == NULL)
        return NULL;
    memset(&r->el, 0, sizeof(r->el));
    r->arena.ptr = r->inline_mem;
    r->arena.end = r->inline_mem + sizeof(r->inline_mem);
    r->arena.chunks = NULL;
    r->arena.next_size = CHUNK_MIN;
    r->arena.total = sizeof(*r);
    r->el.n.kind = NODE_ELEM;
    r->el.arena = &r->arena;
    r->el.name = arena_strndup(&r->arena, name, strlen(name));
    if (xmlns != NULL)
        r->el.ns = arena_strndup(&r->arena, xmlns, strlen(xmlns));
    if (r->el.name == NULL || (xmlns != NULL && r->el.ns == NULL)) {
        ember__stanza_free(&r->el);
        return NULL;
    }
    return &r->el;
}


static int
is_root(const ember_stanza_t *st)
{
    const root_t *r = (const root_t *) ((const char *) st->arena
                                        - offsetof(root_t, arena));

    return &r->el == st;
}


void
ember__stanza_free(ember_stanza_t *root)
{
    root_t *r;
    chunk_t *c, *next;

    if (root == NULL || !is_root(root))
        return;
    r = (root_t *) root;
    for (c = r->arena.chunks; c != NULL; c = next) {
        next = c->next;
        free(c);
    }
    free(r);
}


ember_stanza_t *
ember__stanza_root(const ember_stanza_t *st)
{
    root_t *r;

    if (st == NULL)
        return NULL;
    r = (root_t *) ((char *) st->arena - offsetof(root_t, arena));
    return &r->el;
}


size_t
ember__stanza_size(const ember_stanza_t *root)
{
    return root != NULL ? root->arena->total : 0;
}


const char *
ember__stanza_name(const ember_stanza_t *st)
{
    return st != NULL ? st->name : NULL;
}


const char *
ember__stanza_xmlns(const ember_stanza_t *st)
{
    return st != NULL ? st->ns : NULL;
}


static attr_t *
attr_find(const ember_stanza_t *st, const char *name, attr_t **prev)
{
    attr_t *a, *p = NULL;

    for (a = st->attrs; a != NULL; p = a, a = a->next)
        if (strcmp(a->name, name) == 0)
            break;
    if (prev != NULL)
        *prev = p;
    return a;
}


const char *
ember__stanza_attr(const ember_stanza_t *st, const char *name)
{
    attr_t *a;

    if (st == NULL || name == NULL)
        return NULL;
    if (strcmp(name, "xmlns") == 0)
        return st->ns;
    a = attr_find(st, name, NULL);
    return a != NULL ? a->value : NULL;
}


static int
attr_append(ember_stanza_t *st, const char *name, size_t nlen,
            const char *value, size_t vlen)
{
    attr_t *a = arena_alloc(st->arena, sizeof(*a));

    if (a == NULL)
        return EMBER_ENOMEM;
    a->next = NULL;
    a->name = arena_strndup(st->arena, name, nlen);
    a->value = arena_strndup(st->arena, value, vlen);
    if (a->name == NULL || a->value == NULL)
        return EMBER_ENOMEM;
    a->cap = vlen + 1;
    if (st->attrs_last != NULL)
        st->attrs_last->next = a;
    else
        st->attrs = a;
    st->attrs_last = a;
    return 0;
}


/* The parser's path: libxml2 already refused duplicate attributes. */
int
ember__stanza_add_attrn(ember_stanza_t *st, const char *name,
                        const char *value, size_t vlen)
{
    return attr_append(st, name, strlen(name), value, vlen);
}


int
ember__stanza_set_attr(ember_stanza_t *st, const char *name,
                       const char *value)
{
    attr_t *a, *prev;
    size_t vlen;
    char *v;

    if (st == NULL || name == NULL || *name == '\0')
        return EMBER_EINVAL;
    if (strcmp(name, "xmlns") == 0) {
        /* Setting the namespace; NULL falls back to inheriting. */
        if (value == NULL) {
            st->ns = st->n.parent != NULL ? st->n.parent->ns : NULL;
            return 0;
        }
        v = arena_strndup(st->arena, value, strlen(value));
        if (v == NULL)
            return EMBER_ENOMEM;
        st->ns = v;
        return 0;
    }
    a = attr_find(st, name, &prev);
    if (value == NULL) {
        if (a == NULL)
            return 0;
        if (prev != NULL)
            prev->next = a->next;
        else
            st->attrs = a->next;
        if (st->attrs_last == a)
            st->attrs_last = prev;
        return 0;
    }
    vlen = strlen(value);
    if (a == NULL)
        return attr_append(st, name, strlen(name), value, vlen);
    if (vlen < a->cap) {
        memmove(a->value, value, vlen + 1);
        return 0;
    }
    if ((v = arena_strndup(st->arena, value, vlen)) == NULL)
        return EMBER_ENOMEM;
    a->value = v;
    a->cap = vlen + 1;
    return 0;
}


ember_stanza_t *
ember__stanza_add_child(ember_stanza_t *st, const char *name,
                        const char *xmlns)
{
    ember_stanza_t *e;

    if (st == NULL || name == NULL || *name == '\0')
        return NULL;
    if ((e = elem_new(st->arena, st, name, xmlns)) == NULL)
        return NULL;
    link_child(st, &e->n);
    return e;
}


int
ember__stanza_add_textn(ember_stanza_t *st, const char *text, size_t n)
{
    text_t *t;

    if (st == NULL || (text == NULL && n > 0))
        return EMBER_EINVAL;
    if (n == 0)
        return 0;
    if (n > SIZE_MAX - sizeof(*t) - 1)
        return EMBER_ENOMEM;
    t = arena_alloc(st->arena, sizeof(*t) + n + 1);
    if (t == NULL)
        return EMBER_ENOMEM;
    t->n.kind = NODE_TEXT;
    t->len = n;
    memcpy(t->s, text, n);
    t->s[n] = '\0';
    link_child(st, &t->n);
    st->ntext++;
    st->text = NULL;
    return 0;
}


int
ember__stanza_add_text(ember_stanza_t *st, const char *text)
{
    if (text == NULL)
        return EMBER_EINVAL;
    return ember__stanza_add_textn(st, text, strlen(text));
}


/*
 * Detached deep copy of src into arena a, to be linked under dst_parent:
 * an element without a namespace takes the parent's.  Recursion is bounded
 * by the tree's depth, which the parser limits.
 */
static ember_stanza_t *
copy_tree(arena_t *a, const ember_stanza_t *src,
          const ember_stanza_t *dst_parent)
{
    ember_stanza_t *e;
    const node_t *n;
    const attr_t *at;
    const text_t *t;
    ember_stanza_t *c;

    e = elem_new(a, dst_parent, src->name, src->ns);
    if (e == NULL)
        return NULL;
    for (at = src->attrs; at != NULL; at = at->next)
        if (attr_append(e, at->name, strlen(at->name), at->value,
                        strlen(at->value)) < 0)
            return NULL;
    for (n = src->first; n != NULL; n = n->next) {
        if (n->kind == NODE_TEXT) {
            t = (const text_t *) n;
            if (ember__stanza_add_textn(e, t->s, t->len) < 0)
                return NULL;
            continue;
        }
        c = copy_tree(a, (const ember_stanza_t *) n, e);
        if (c == NULL)
            return NULL;
        link_child(e, &c->n);
    }
    return e;
}


ember_stanza_t *
ember__stanza_copy(const ember_stanza_t *st)
{
    ember_stanza_t *root;
    ember_stanza_t *c;
    const node_t *n;
    const attr_t *at;
    const text_t *t;

    if (st == NULL)
        return NULL;
    if ((root = ember__stanza_new(st->name, st->ns)) == NULL)
        return NULL;
    for (at = st->attrs; at != NULL; at = at->next)
        if (attr_append(root, at->name, strlen(at->name), at->value,
                        strlen(at->value)) < 0)
            goto fail;
    for (n = st->first; n != NULL; n = n->next) {
        if (n->kind == NODE_TEXT) {
            t = (const text_t *) n;
            if (ember__stanza_add_textn(root, t->s, t->len) < 0)
                goto fail;
            continue;
        }
        if ((c = copy_tree(root->arena, (const ember_stanza_t *) n,
                           root)) == NULL)
            goto fail;
        link_child(root, &c->n);
    }
    return root;

fail:
    ember__stanza_free(root);
    return NULL;
}


int
ember__stanza_append(ember_stanza_t *st, const ember_stanza_t *child)
{
    ember_stanza_t *c;

    if (st == NULL || child == NULL)
        return EMBER_EINVAL;
    /* Copied detached first: child may be st itself or one of its own. */
    if ((c = copy_tree(st->arena, child, st)) == NULL)
        return EMBER_ENOMEM;
    link_child(st, &c->n);
    return 0;
}


void
ember__stanza_remove(ember_stanza_t *child)
{
    ember_stanza_t *p;

    if (child == NULL || (p = child->n.parent) == NULL)
        return;
    if (child->n.prev != NULL)
        child->n.prev->next = child->n.next;
    else
        p->first = child->n.next;
    if (child->n.next != NULL)
        child->n.next->prev = child->n.prev;
    else
        p->last = child->n.prev;
    child->n.next = child->n.prev = NULL;
    child->n.parent = NULL;
}


static ember_stanza_t *
next_elem(const node_t *n)
{
    for (; n != NULL; n = n->next)
        if (n->kind == NODE_ELEM)
            return (ember_stanza_t *) n;
    return NULL;
}


ember_stanza_t *
ember__stanza_child(const ember_stanza_t *st, const char *name,
                    const char *xmlns)
{
    ember_stanza_t *c;

    if (st == NULL)
        return NULL;
    for (c = next_elem(st->first); c != NULL; c = next_elem(c->n.next)) {
        if (name != NULL && strcmp(c->name, name) != 0)
            continue;
        if (xmlns != NULL && (c->ns == NULL || strcmp(c->ns, xmlns) != 0))
            continue;
        return c;
    }
    return NULL;
}


ember_stanza_t *
ember__stanza_first(const ember_stanza_t *st)
{
    return st != NULL ? next_elem(st->first) : NULL;
}


ember_stanza_t *
ember__stanza_next(const ember_stanza_t *st)
{
    return st != NULL ? next_elem(st->n.next) : NULL;
}


ember_stanza_t *
ember__stanza_parent(const ember_stanza_t *st)
{
    return st != NULL ? st->n.parent : NULL;
}


const char *
ember__stanza_text(const ember_stanza_t *st)
{
    ember_stanza_t *w = (ember_stanza_t *) st;
    const node_t *n;
    const text_t *t;
    size_t len = 0;
    char *p, *q;

    if (st == NULL)
        return NULL;
    if (st->text != NULL)
        return st->text;
    if (st->ntext == 0)
        return "";
    for (n = st->first; n != NULL; n = n->next)
        if (n->kind == NODE_TEXT) {
            t = (const text_t *) n;
            if (st->ntext == 1)
                return w->text = t->s;
            len += t->len;
        }
    if ((p = arena_alloc(st->arena, len + 1)) == NULL)
        return NULL;
    for (q = p, n = st->first; n != NULL; n = n->next)
        if (n->kind == NODE_TEXT) {
            t = (const text_t *) n;
            memcpy(q, t->s, t->len);
            q += t->len;
        }
    *q = '\0';
    return w->text = p;
}


static int
write_open(const ember_stanza_t *e, const char *ctx, ember_buf_t *out)
{
    const attr_t *a;
    int err = 0;

    err |= ember__buf_append(out, "<", 1);
    err |= ember__buf_puts(out, e->name);
    if (e->ns != NULL && e->ns != ctx
        && strcmp(e->ns, ctx != NULL ? ctx : "") != 0) {
        err |= ember__buf_append(out, " xmlns=\"", 8);
        err |= ember__buf_escape(out, e->ns, strlen(e->ns));
        err |= ember__buf_append(out, "\"", 1);
    }
    for (a = e->attrs; a != NULL; a = a->next) {
        err |= ember__buf_append(out, " ", 1);
        err |= ember__buf_puts(out, a->name);
        err |= ember__buf_append(out, "=\"", 2);
        err |= ember__buf_escape(out, a->value, strlen(a->value));
        err |= ember__buf_append(out, "\"", 1);
    }
    if (e->first == NULL)
        err |= ember__buf_append(out, "/>", 2);
    else
        err |= ember__buf_append(out, ">", 1);
    return err != 0 ? EMBER_ENOMEM : 0;
}


static int
write_close(const ember_stanza_t *e, ember_buf_t *out)
{
    int err = 0;

    err |= ember__buf_append(out, "</", 2);
    err |= ember__buf_puts(out, e->name);
    err |= ember__buf_append(out, ">", 1);
    return err != 0 ? EMBER_ENOMEM : 0;
}


/*
 * Iterative walk over parent links, so a deep tree built by a module
 * cannot exhaust the stack.  An element without a namespace only occurs
 * under ancestors without one, so its effective namespace is context_ns.
 */
int
ember__stanza_write(const ember_stanza_t *st, const char *context_ns,
                    ember_buf_t *out)
{
    const ember_stanza_t *cur, *e;
    const node_t *n;
    const text_t *t;

    if (st == NULL || out == NULL)
        return EMBER_EINVAL;
    if (write_open(st, context_ns, out) < 0)
        return EMBER_ENOMEM;
    if (st->first == NULL)
        return 0;
    cur = st;
    n = st->first;
    for (;;) {
        while (n != NULL) {
            if (n->kind == NODE_TEXT) {
                t = (const text_t *) n;
                if (ember__buf_escape_text(out, t->s, t->len) < 0)
                    return EMBER_ENOMEM;
                n = n->next;
                continue;
            }
            e = (const ember_stanza_t *) n;
            if (write_open(e, cur->ns != NULL ? cur->ns : context_ns,
                           out) < 0)
                return EMBER_ENOMEM;
            if (e->first != NULL) {
                cur = e;
                n = e->first;
            } else {
                n = n->next;
            }
        }
        if (write_close(cur, out) < 0)
            return EMBER_ENOMEM;
        if (cur == st)
            return 0;
        n = cur->n.next;
        cur = cur->n.parent;
    }
}


char *
ember__stanza_serialize(const ember_stanza_t *st, size_t *len)
{
    ember_buf_t b = { NULL, 0, 0 };

    if (ember__stanza_write(st, NULL, &b) < 0) {
        ember__buf_free(&b);
        return NULL;
    }
    if (len != NULL)
        *len = b.len;
    return b.data;
}


int
ember__stanza_is_stanza(const ember_stanza_t *st)
{
    const char *n = ember__stanza_name(st);

    return strcmp(n, "message") == 0 || strcmp(n, "presence") == 0 ||
           strcmp(n, "iq") == 0;
}


int
ember__stanza_rename_ns(ember_stanza_t *root, const char *from,
                        const char *to)
{
    ember_stanza_t *cur = root;
    const char *moved = NULL;
    node_t *n;

    if (root == NULL || from == NULL || to == NULL)
        return EMBER_EINVAL;
    /* Iterative, as the writer: the depth is the parser's limit. */
    for (;;) {
        if (cur->ns != NULL && strcmp(cur->ns, from) == 0) {
            if (moved == NULL &&
                (moved = arena_strndup(root->arena, to, strlen(to))) == NULL)
                return EMBER_ENOMEM;
            cur->ns = moved;
        }
        for (n = cur->first; n != NULL && n->kind != NODE_ELEM; n = n->next)
            ;
        while (n == NULL) {
            if (cur == root)
                return 0;
            for (n = cur->n.next; n != NULL && n->kind != NODE_ELEM;
                 n = n->next)
                ;
            if (n == NULL)
                cur = cur->n.parent;
        }
        cur = (ember_stanza_t *) n;
    }
}
