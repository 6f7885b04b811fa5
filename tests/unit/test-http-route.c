/* tests/unit/test-http-route.c -- route matching and route tables of the
 * HTTP server as doc/http.md describes them: exact, prefix and parameter
 * routes, HEAD reaching GET, 404 against 405, decoded parameters, clashes,
 * and a table's auth hook naming who asks for the handler. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "http/http_int.h"

/* Opaque to the HTTP server: only compared. */
static ember_module_t *const mod_a = (ember_module_t *) &mod_a;
static ember_module_t *const mod_b = (ember_module_t *) &mod_b;

static int handler_a(ember_module_t *m, ember_http_req_t *req, void *ud);
static int handler_b(ember_module_t *m, ember_http_req_t *req, void *ud);


static int
handler_a(ember_module_t *m, ember_http_req_t *req, void *ud)
{
    return 0;
}


static int
handler_b(ember_module_t *m, ember_http_req_t *req, void *ud)
{
    return 0;
}


static int
add(ember_module_t *m, const char *method, const char *path,
    unsigned flags, ember_http_cb h)
{
    ember_http_route_t r = { .size = sizeof(r), .set = "client",
                             .method = method, .path = path,
                             .flags = flags, .handler = h };

    return ember__http_route(m, &r, NULL);
}


static void
drop(void **state)
{
    ember__http_module_gone(mod_a);
    ember__http_module_gone(mod_b);
}


static int
teardown(void **state)
{
    drop(state);
    return 0;
}


/* The route for method and path, its status, and its parameters. */
static route_t *
match(const char *method, const char *path, int *status, ember_buf_t *p)
{
    *status = 0;
    if (p != NULL)
        ember__buf_reset(p);
    return ember__http_route_match("client", method, path, status, p);
}


/* The value of parameter name in a match's "name\0value\0" list. */
static const char *
param(const ember_buf_t *p, const char *name)
{
    const char *s = p->data, *end = s + p->len, *v;

    while (s != NULL && s < end) {
        v = s + strlen(s) + 1;
        if (strcmp(s, name) == 0)
            return v;
        s = v + strlen(v) + 1;
    }
    return NULL;
}


static void
test_exact_and_prefix(void **state)
{
    route_t *r;
    int st;

    assert_int_equal(add(mod_a, "GET", "/files/", EMBER_HTTP_PREFIX,
                         handler_a), 0);
    assert_int_equal(add(mod_a, "GET", "/files/special", 0, handler_b), 0);
    assert_int_equal(add(mod_a, "GET", "/files/deep/", EMBER_HTTP_PREFIX,
                         handler_b), 0);
    /* An exact route wins over a prefix; the longest prefix wins. */
    r = match("GET", "/files/special", &st, NULL);
    assert_non_null(r);
    assert_ptr_equal(r->handler, handler_b);
    r = match("GET", "/files/other", &st, NULL);
    assert_non_null(r);
    assert_ptr_equal(r->handler, handler_a);
    r = match("GET", "/files/deep/x/y", &st, NULL);
    assert_non_null(r);
    assert_ptr_equal(r->handler, handler_b);
    /* A prefix matches itself. */
    assert_non_null(match("GET", "/files/", &st, NULL));
    /* Exact routes match nothing below them. */
    r = match("GET", "/files/special/x", &st, NULL);
    assert_non_null(r);
    assert_ptr_equal(r->handler, handler_a);
    assert_null(match("GET", "/file", &st, NULL));
    assert_int_equal(st, 404);
}


static void
test_head_reaches_get(void **state)
{
    route_t *r;
    int st;

    assert_int_equal(add(mod_a, "GET", "/page", 0, handler_a), 0);
    r = match("HEAD", "/page", &st, NULL);
    assert_non_null(r);
    assert_string_equal(r->method, "GET");
    /* A HEAD route of its own wins over GET for HEAD. */
    assert_int_equal(add(mod_a, "HEAD", "/page", 0, handler_b), 0);
    r = match("HEAD", "/page", &st, NULL);
    assert_non_null(r);
    assert_string_equal(r->method, "HEAD");
    /* POST does not reach GET. */
    assert_null(match("POST", "/page", &st, NULL));
    assert_int_equal(st, 405);
}


static void
test_404_and_405(void **state)
{
    int st;

    assert_int_equal(add(mod_a, "POST", "/things", 0, handler_a), 0);
    assert_int_equal(add(mod_a, "DELETE", "/things/{id}", 0, handler_a), 0);
    assert_null(match("GET", "/things", &st, NULL));
    assert_int_equal(st, 405);
    assert_null(match("GET", "/things/7", &st, NULL));
    assert_int_equal(st, 405);
    assert_null(match("DELETE", "/things/7/x", &st, NULL));
    assert_int_equal(st, 404);
    assert_null(match("GET", "/nothing", &st, NULL));
    assert_int_equal(st, 404);
    /* Another set does not see these routes. */
    st = 0;
    assert_null(ember__http_route_match("admin", "POST", "/things", &st,
                                        NULL));
    assert_int_equal(st, 404);
}


static void
test_params(void **state)
{
    ember_buf_t p = { 0 };
    route_t *r;
    int st;

    assert_int_equal(add(mod_a, "GET", "/users/{jid}", 0, handler_a), 0);
    assert_int_equal(add(mod_a, "GET", "/users/{jid}/roster", 0, handler_a),
                     0);
    assert_int_equal(add(mod_a, "GET", "/users/{jid}/items/{item}", 0,
                         handler_a), 0);
    assert_int_equal(add(mod_a, "DELETE", "/sessions/{full*}", 0, handler_a),
                     0);
    r = match("GET", "/users/alice@example.org", &st, &p);
    assert_non_null(r);
    assert_string_equal(r->path, "/users/{jid}");
    assert_string_equal(param(&p, "jid"), "alice@example.org");
    r = match("GET", "/users/bob/roster", &st, &p);
    assert_non_null(r);
    assert_string_equal(r->path, "/users/{jid}/roster");
    assert_string_equal(param(&p, "jid"), "bob");
    r = match("GET", "/users/bob/items/42", &st, &p);
    assert_non_null(r);
    assert_string_equal(param(&p, "jid"), "bob");
    assert_string_equal(param(&p, "item"), "42");
    /* {name} is one non-empty segment. */
    assert_null(match("GET", "/users/", &st, &p));
    assert_null(match("GET", "/users/bob/other", &st, &p));
    assert_int_equal(st, 404);
    /* {name*} takes the non-empty rest, slashes included. */
    r = match("DELETE", "/sessions/alice@example.org/phone/1", &st, &p);
    assert_non_null(r);
    assert_string_equal(param(&p, "full"), "alice@example.org/phone/1");
    assert_null(match("DELETE", "/sessions/", &st, &p));
    ember__buf_free(&p);
}


static void
test_literal_beats_param(void **state)
{
    ember_buf_t p = { 0 };
    route_t *r;
    int st;

    assert_int_equal(add(mod_a, "GET", "/stats/{name}", 0, handler_a), 0);
    assert_int_equal(add(mod_a, "GET", "/stats/stream", 0, handler_b), 0);
    assert_int_equal(add(mod_a, "GET", "/x/{rest*}", 0, handler_a), 0);
    assert_int_equal(add(mod_a, "GET", "/x/{one}/y", 0, handler_b), 0);
    assert_int_equal(add(mod_a, "GET", "/", EMBER_HTTP_PREFIX, handler_a),
                     0);
    r = match("GET", "/stats/stream", &st, &p);
    assert_ptr_equal(r->handler, handler_b);
    assert_int_equal(p.len, 0);
    r = match("GET", "/stats/other", &st, &p);
    assert_ptr_equal(r->handler, handler_a);
    /* One segment before the rest; a parameter before a prefix. */
    r = match("GET", "/x/a/y", &st, &p);
    assert_ptr_equal(r->handler, handler_b);
    r = match("GET", "/x/a/z", &st, &p);
    assert_ptr_equal(r->handler, handler_a);
    assert_string_equal(param(&p, "rest"), "a/z");
    ember__buf_free(&p);
}


static void
test_decoded_params(void **state)
{
    ember_buf_t p = { 0 };
    char *path = NULL;
    const char *raw = "/users/al%40ice%20smith";
    int st;

    assert_int_equal(add(mod_a, "GET", "/users/{jid}", 0, handler_a), 0);
    /* Requests are matched in their normalised, decoded form. */
    assert_int_equal(ember__http_normalize(raw, strlen(raw), &path), 0);
    assert_non_null(match("GET", path, &st, &p));
    assert_string_equal(param(&p, "jid"), "al@ice smith");
    free(path);
    /* An encoded slash never splits or joins segments: refused first. */
    raw = "/users/a%2fb";
    assert_int_equal(ember__http_normalize(raw, strlen(raw), &path), 400);
    ember__buf_free(&p);
}


static void
test_clash(void **state)
{
    ember_http_route_t rows[] = {
        { .size = sizeof(ember_http_route_t), .method = "GET",
          .path = "/t/one", .handler = handler_a },
        { .size = sizeof(ember_http_route_t), .method = "GET",
          .path = "/t/{id}", .handler = handler_a },
    };
    ember_http_table_t t = { .size = sizeof(t), .set = "client",
                             .routes = rows, .nroutes = 2 };
    route_t *r;
    int st;

    assert_int_equal(add(mod_a, "GET", "/a", 0, handler_a), 0);
    assert_int_equal(add(mod_b, "GET", "/a", 0, handler_b), EMBER_EEXIST);
    assert_int_equal(add(mod_b, "POST", "/a", 0, handler_b), 0);
    /* Parameter names do not make routes different. */
    assert_int_equal(add(mod_a, "GET", "/u/{x}", 0, handler_a), 0);
    assert_int_equal(add(mod_b, "GET", "/u/{y}", 0, handler_b),
                     EMBER_EEXIST);
    /* A table clashing with one route adds none of its routes. */
    assert_int_equal(add(mod_a, "GET", "/t/{name}", 0, handler_a), 0);
    assert_int_equal(ember__http_routes(mod_b, &t, NULL), EMBER_EEXIST);
    r = match("GET", "/t/one", &st, NULL);
    assert_non_null(r);
    assert_string_equal(r->path, "/t/{name}");
    /* Nor one clashing within itself. */
    drop(state);
    rows[1].path = "/t/one";
    assert_int_equal(ember__http_routes(mod_b, &t, NULL), EMBER_EEXIST);
    assert_null(match("GET", "/t/one", &st, NULL));
}


static void
test_bad_paths(void **state)
{
    static const char *const bad[] = {
        "/a/{", "/a/{}", "/a/x{id}", "/a/{id}x", "/a/{rest*}/b",
        "/a/{id}/{id}", "/a/{i d}", "/a/../b", "a", NULL
    };
    size_t i;

    for (i = 0; bad[i] != NULL; i++)
        assert_int_equal(add(mod_a, "GET", bad[i], 0, handler_a),
                         EMBER_EINVAL);
    /* A prefix takes no parameters. */
    assert_int_equal(add(mod_a, "GET", "/a/{id}/", EMBER_HTTP_PREFIX,
                         handler_a), EMBER_EINVAL);
}


/* ---- the auth hook and the handler, on one request ---- */

static const char *seen_principal, *seen_param;
static const void *seen_data;
static int auth_calls, handler_calls;


static int
auth_ok(ember_module_t *m, ember_http_req_t *req, void *ud)
{
    auth_calls++;
    return ember__http_set_principal(req, "alice@example.org");
}


static int
auth_silent(ember_module_t *m, ember_http_req_t *req, void *ud)
{
    auth_calls++;
    return 0;                   /* lets through without naming anyone */
}


static int
auth_refuses(ember_module_t *m, ember_http_req_t *req, void *ud)
{
    auth_calls++;
    return EMBER_EPERM;
}


static int
record(ember_module_t *m, ember_http_req_t *req, void *ud)
{
    const char *p = ember__http_principal(req);
    const char *v = ember__http_param(req, "id");

    handler_calls++;
    seen_principal = p != NULL ? strdup(p) : NULL;
    seen_param = v != NULL ? strdup(v) : NULL;
    seen_data = ember__http_route_data(req);
    return 0;
}


/* Match method path on a connection of no socket and run its route. */
static int
run(conn_t *c, const char *method, const char *path)
{
    route_t *rt;
    ember_http_req_t *r;
    int st, rc;

    free((void *) seen_principal);
    free((void *) seen_param);
    seen_principal = seen_param = NULL;
    seen_data = NULL;
    auth_calls = handler_calls = 0;
    c->in.msg.path = (char *) path;
    rt = match(method, path, &st, &c->in.msg.params);
    assert_non_null(rt);
    r = ember__http_req_start(c, rt->m);
    assert_non_null(r);
    rc = ember__http_route_call(rt, r);
    /* Nothing answered: the request is still ours to drop. */
    assert_ptr_equal(c->req, r);
    ember__http_req_detach(r);
    ember__http_req_free(r);
    return rc;
}


static void
test_auth_hook(void **state)
{
    static const int secret_data = 7, open_data = 8;
    const ember_http_route_t rows[] = {
        { .size = sizeof(ember_http_route_t), .method = "GET",
          .path = "/k/{id}", .handler = record, .data = &secret_data },
        { .size = sizeof(ember_http_route_t), .method = "GET",
          .path = "/open", .flags = EMBER_HTTP_PUBLIC, .handler = record,
          .data = &open_data },
    };
    ember_http_table_t t = { .size = sizeof(t), .set = "client",
                             .auth = auth_ok, .routes = rows,
                             .nroutes = 2 };
    conn_t c;

    memset(&c, 0, sizeof(c));
    c.set = "client";
    assert_int_equal(ember__http_routes(mod_a, &t, NULL), 0);
    assert_int_equal(run(&c, "GET", "/k/a%b"), 0);
    assert_int_equal(auth_calls, 1);
    assert_int_equal(handler_calls, 1);
    assert_string_equal(seen_principal, "alice@example.org");
    assert_string_equal(seen_param, "a%b");
    assert_ptr_equal(seen_data, &secret_data);
    /* A public route: no auth, no principal. */
    assert_int_equal(run(&c, "GET", "/open"), 0);
    assert_int_equal(auth_calls, 0);
    assert_int_equal(handler_calls, 1);
    assert_null(seen_principal);
    assert_ptr_equal(seen_data, &open_data);
    drop(state);

    /* An auth hook that fails, or lets through without a principal,
     * never reaches the handler. */
    t.auth = auth_refuses;
    assert_int_equal(ember__http_routes(mod_a, &t, NULL), 0);
    assert_int_equal(run(&c, "GET", "/k/1"), EMBER_EPERM);
    assert_int_equal(handler_calls, 0);
    drop(state);
    t.auth = auth_silent;
    assert_int_equal(ember__http_routes(mod_a, &t, NULL), 0);
    assert_true(run(&c, "GET", "/k/1") < 0);
    assert_int_equal(auth_calls, 1);
    assert_int_equal(handler_calls, 0);
    drop(state);
    free((void *) seen_principal);
    free((void *) seen_param);
    seen_principal = seen_param = NULL;
    ember__buf_free(&c.in.msg.params);
}


/* A route as a module built before minor 3 writes it: no `data`. */
static void
test_old_route_size(void **state)
{
    ember_http_route_t r = { .size = offsetof(ember_http_route_t, data),
                             .set = "client", .method = "GET",
                             .path = "/old", .handler = handler_a,
                             .data = &r };
    route_t *rt;
    int st;

    assert_int_equal(ember__http_route(mod_a, &r, NULL), 0);
    rt = match("GET", "/old", &st, NULL);
    assert_non_null(rt);
    assert_null(rt->data);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_exact_and_prefix, teardown),
        cmocka_unit_test_teardown(test_head_reaches_get, teardown),
        cmocka_unit_test_teardown(test_404_and_405, teardown),
        cmocka_unit_test_teardown(test_params, teardown),
        cmocka_unit_test_teardown(test_literal_beats_param, teardown),
        cmocka_unit_test_teardown(test_decoded_params, teardown),
        cmocka_unit_test_teardown(test_clash, teardown),
        cmocka_unit_test_teardown(test_bad_paths, teardown),
        cmocka_unit_test_teardown(test_auth_hook, teardown),
        cmocka_unit_test_teardown(test_old_route_size, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
