/* Unit tests: named events (core/base/hooks.c) as core/base/hooks.h and
 * plugin.h promise them: highest priority first, registration order among
 * equals, PASS goes on and HANDLED stops, host handlers next to global
 * ones, unhook, and changes made by a handler while its event fires. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <ember/plugin.h>

#include "base/hooks.h"
#include "base/owner.h"

static ember__owner_t owner_a = { "a", "a.test", "a@a.test" };
static ember__owner_t owner_b = { "b", NULL, "b" };
#define MOD_A ((ember_module_t *) (void *) &owner_a)
#define MOD_B ((ember_module_t *) (void *) &owner_b)

/* What ran, in order: each handler's ud is a tag (a short string). */
static char trace[256];

typedef struct {
    const char *tag;
    int ret;
    /* Done the first time the handler runs, then cleared. */
    void (*action)(void);
} tag_t;


static int
h_tag(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    tag_t *t = ud;
    void (*action)(void) = t->action;

    strcat(trace, t->tag);
    t->action = NULL;
    if (action != NULL)
        action();
    return t->ret;
}


static void
reset(void)
{
    trace[0] = '\0';
}


static int
fire(const char *host, const char *event)
{
    ember_event_t ev;

    memset(&ev, 0, sizeof(ev));
    reset();
    return ember__fire(host, event, &ev);
}


static void
test_priority_order(void **state)
{
    tag_t a = { "a", 0, NULL }, b = { "b", 0, NULL }, c = { "c", 0, NULL },
          d = { "d", 0, NULL }, e = { "e", 0, NULL };

    (void) state;
    assert_int_equal(ember__hook(MOD_A, NULL, "prio", h_tag, 0, &a), 0);
    assert_int_equal(ember__hook(MOD_A, NULL, "prio", h_tag, 10, &b), 0);
    assert_int_equal(ember__hook(MOD_B, NULL, "prio", h_tag, -5, &c), 0);
    assert_int_equal(ember__hook(MOD_B, NULL, "prio", h_tag, 10, &d), 0);
    assert_int_equal(ember__hook(MOD_A, NULL, "prio", h_tag, 5, &e), 0);
    assert_int_equal(fire("x.test", "prio"), EMBER_HOOK_PASS);
    /* Equal priorities keep their registration order. */
    assert_string_equal(trace, "bdeac");
    ember__hooks_module_gone(MOD_A);
    ember__hooks_module_gone(MOD_B);
    assert_int_equal(fire("x.test", "prio"), EMBER_HOOK_PASS);
    assert_string_equal(trace, "");
}


static void
test_pass_handled_and_errors(void **state)
{
    tag_t a = { "a", EMBER_HOOK_PASS, NULL },
          b = { "b", EMBER_EINVAL, NULL },   /* logged, then passes */
          c = { "c", EMBER_HOOK_HANDLED, NULL },
          d = { "d", EMBER_HOOK_PASS, NULL };

    (void) state;
    assert_int_equal(fire("x.test", "nobody-hooked-this"), EMBER_HOOK_PASS);
    ember__hook(MOD_A, NULL, "ph", h_tag, 3, &a);
    ember__hook(MOD_A, NULL, "ph", h_tag, 2, &b);
    ember__hook(MOD_A, NULL, "ph", h_tag, 1, &c);
    ember__hook(MOD_A, NULL, "ph", h_tag, 0, &d);
    assert_int_equal(fire("x.test", "ph"), EMBER_HOOK_HANDLED);
    assert_string_equal(trace, "abc");
    c.ret = EMBER_HOOK_PASS;
    assert_int_equal(fire("x.test", "ph"), EMBER_HOOK_PASS);
    assert_string_equal(trace, "abcd");
    ember__hooks_module_gone(MOD_A);
}


static int
h_fields(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    assert_ptr_equal(m, MOD_B);
    assert_int_equal(ev->size, sizeof(ember_event_t));
    assert_string_equal(ev->name, "fields");
    assert_string_equal(ev->host, "x.test");
    assert_ptr_equal(ev->origin, (ember_session_t *) ud);
    assert_string_equal((const char *) ev->data, "payload");
    assert_null(ev->stanza);
    strcat(trace, "f");
    return EMBER_HOOK_PASS;
}


static void
test_event_fields(void **state)
{
    static int fake_session;
    ember_session_t *s = (ember_session_t *) (void *) &fake_session;

    (void) state;
    ember__hook(MOD_B, NULL, "fields", h_fields, 0, s);
    reset();
    assert_int_equal(ember__fire_simple("x.test", "fields", s, "payload"),
                     EMBER_HOOK_PASS);
    assert_string_equal(trace, "f");
    ember__hooks_module_gone(MOD_B);
}


static void
test_host_and_global_handlers(void **state)
{
    tag_t g = { "g", 0, NULL }, a1 = { "1", 0, NULL }, a2 = { "2", 0, NULL },
          b1 = { "3", 0, NULL };

    (void) state;
    ember__hook(MOD_A, "a.test", "hg", h_tag, 5, &a1);
    ember__hook(MOD_B, NULL, "hg", h_tag, 3, &g);
    ember__hook(MOD_A, "b.test", "hg", h_tag, 7, &b1);
    ember__hook(MOD_A, "a.test", "hg", h_tag, 0, &a2);
    /* The host's handlers and the global ones, in one priority order. */
    fire("a.test", "hg");
    assert_string_equal(trace, "1g2");
    fire("b.test", "hg");
    assert_string_equal(trace, "3g");
    fire("c.test", "hg");
    assert_string_equal(trace, "g");
    fire(NULL, "hg");
    assert_string_equal(trace, "g");
    ember__hooks_module_gone(MOD_A);
    fire("a.test", "hg");
    assert_string_equal(trace, "g");
    ember__hooks_module_gone(MOD_B);
}


static void
test_unhook(void **state)
{
    tag_t a = { "a", 0, NULL }, b = { "b", 0, NULL };

    (void) state;
    assert_int_equal(ember__hook(MOD_A, NULL, NULL, h_tag, 0, &a),
                     EMBER_EINVAL);
    assert_int_equal(ember__hook(MOD_A, NULL, "uh", NULL, 0, &a),
                     EMBER_EINVAL);
    assert_int_equal(ember__unhook(MOD_A, NULL, "never-hooked", h_tag, &a),
                     EMBER_ENOENT);
    /* The same function twice, told apart by ud. */
    ember__hook(MOD_A, "a.test", "uh", h_tag, 0, &a);
    ember__hook(MOD_A, "a.test", "uh", h_tag, 0, &b);
    assert_int_equal(ember__unhook(MOD_A, "b.test", "uh", h_tag, &a),
                     EMBER_ENOENT);
    assert_int_equal(ember__unhook(MOD_A, NULL, "uh", h_tag, &a),
                     EMBER_ENOENT);
    assert_int_equal(ember__unhook(MOD_B, "a.test", "uh", h_tag, &a),
                     EMBER_ENOENT);
    assert_int_equal(ember__unhook(MOD_A, "a.test", "uh", h_tag, &a), 0);
    assert_int_equal(ember__unhook(MOD_A, "a.test", "uh", h_tag, &a),
                     EMBER_ENOENT);
    fire("a.test", "uh");
    assert_string_equal(trace, "b");
    /* Hooked again after an unhook: runs again. */
    ember__hook(MOD_A, "a.test", "uh", h_tag, 1, &a);
    fire("a.test", "uh");
    assert_string_equal(trace, "ab");
    ember__hooks_module_gone(MOD_A);
}


/* ---- changes made while the event fires ---- */

static tag_t self_a = { "a", 0, NULL }, self_b = { "b", 0, NULL },
             self_c = { "c", 0, NULL };


static void
unhook_self(void)
{
    assert_int_equal(ember__unhook(MOD_A, NULL, "self", h_tag, &self_a), 0);
}


static void
test_unhook_self_while_firing(void **state)
{
    (void) state;
    ember__hook(MOD_A, NULL, "self", h_tag, 10, &self_a);
    ember__hook(MOD_A, NULL, "self", h_tag, 5, &self_b);
    ember__hook(MOD_A, NULL, "self", h_tag, 0, &self_c);
    self_a.action = unhook_self;
    /* The handlers after it still run, each once. */
    fire(NULL, "self");
    assert_string_equal(trace, "abc");
    fire(NULL, "self");
    assert_string_equal(trace, "bc");
    ember__hooks_module_gone(MOD_A);
}


static tag_t later_a = { "a", 0, NULL }, later_b = { "b", 0, NULL },
             later_c = { "c", 0, NULL };


static void
unhook_later(void)
{
    assert_int_equal(ember__unhook(MOD_A, NULL, "later", h_tag, &later_b),
                     0);
}


static void
test_unhook_later_handler_while_firing(void **state)
{
    (void) state;
    ember__hook(MOD_A, NULL, "later", h_tag, 10, &later_a);
    ember__hook(MOD_A, NULL, "later", h_tag, 5, &later_b);
    ember__hook(MOD_A, NULL, "later", h_tag, 0, &later_c);
    later_a.action = unhook_later;
    fire(NULL, "later");
    assert_string_equal(trace, "ac");
    fire(NULL, "later");
    assert_string_equal(trace, "ac");
    ember__hooks_module_gone(MOD_A);
}


static tag_t gone_a = { "a", 0, NULL }, gone_b = { "b", 0, NULL },
             gone_c = { "c", 0, NULL };


static void
module_b_gone(void)
{
    ember__hooks_module_gone(MOD_B);
}


static void
test_module_gone_while_firing(void **state)
{
    (void) state;
    ember__hook(MOD_A, NULL, "gone", h_tag, 10, &gone_a);
    ember__hook(MOD_B, NULL, "gone", h_tag, 5, &gone_b);
    ember__hook(MOD_A, NULL, "gone", h_tag, 0, &gone_c);
    gone_a.action = module_b_gone;
    fire(NULL, "gone");
    assert_string_equal(trace, "ac");
    ember__hooks_module_gone(MOD_A);
}


static tag_t add_a = { "a", 0, NULL }, add_b = { "b", 0, NULL },
             add_c = { "c", 0, NULL }, add_d = { "d", 0, NULL }, add_n[16];


static void
hook_more(void)
{
    size_t i;

    /* Enough new handlers to move the array under the running fire. */
    assert_int_equal(ember__hook(MOD_A, NULL, "add", h_tag, 20, &add_c), 0);
    assert_int_equal(ember__hook(MOD_A, NULL, "add", h_tag, 0, &add_d), 0);
    for (i = 0; i < 16; i++) {
        add_n[i].tag = "";
        assert_int_equal(ember__hook(MOD_A, NULL, "add", h_tag, -10,
                                     &add_n[i]), 0);
    }
}


static void
test_hook_while_firing(void **state)
{
    (void) state;
    ember__hook(MOD_A, NULL, "add", h_tag, 10, &add_a);
    ember__hook(MOD_A, NULL, "add", h_tag, 0, &add_b);
    add_a.action = hook_more;
    /* A handler hooked by a running one waits for the next fire. */
    fire(NULL, "add");
    assert_string_equal(trace, "ab");
    fire(NULL, "add");
    ember__hooks_module_gone(MOD_A);
    /* Then it takes its place by priority, after those of equal priority
     * hooked before it, like any other. */
    assert_string_equal(trace, "cabd");
}


static int depth;
static tag_t nest_b = { "b", 0, NULL };


static int
h_nest(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    ember_event_t inner;

    strcat(trace, "[");
    if (depth == 0) {
        depth++;
        memset(&inner, 0, sizeof(inner));
        ember__fire(NULL, "nest", &inner);
        /* The inner fire unhooked b; the outer one must not run it. */
        assert_int_equal(ember__unhook(MOD_A, NULL, "nest", h_tag, &nest_b),
                         EMBER_ENOENT);
    } else if (depth == 1) {
        depth++;
        assert_int_equal(ember__unhook(MOD_A, NULL, "nest", h_tag, &nest_b),
                         0);
    }
    strcat(trace, "]");
    return EMBER_HOOK_PASS;
}


static void
test_nested_fire(void **state)
{
    (void) state;
    ember__hook(MOD_A, NULL, "nest", h_nest, 10, NULL);
    ember__hook(MOD_A, NULL, "nest", h_tag, 0, &nest_b);
    fire(NULL, "nest");
    assert_string_equal(trace, "[[]]");
    fire(NULL, "nest");
    assert_string_equal(trace, "[]");
    ember__hooks_module_gone(MOD_A);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_priority_order),
        cmocka_unit_test(test_pass_handled_and_errors),
        cmocka_unit_test(test_event_fields),
        cmocka_unit_test(test_host_and_global_handlers),
        cmocka_unit_test(test_unhook),
        cmocka_unit_test(test_unhook_self_while_firing),
        cmocka_unit_test(test_unhook_later_handler_while_firing),
        cmocka_unit_test(test_module_gone_while_firing),
        cmocka_unit_test(test_hook_while_firing),
        cmocka_unit_test(test_nested_fire),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
