/*
 * Test-only module for tests/integration/test_migrate.py: a part of an
 * import that passes the check and fails the write, as a storage error
 * would.  pie-import-fail takes <fail xmlns='urn:ember:test:pie'/>:
 * with check true it says so; without, it fails with EMBER_EIO.
 */
#include <string.h>
#include <jansson.h>

#include <ember/pie.h>
#include <ember/plugin.h>

#define NS_TEST "urn:ember:test:pie"

static const ember_api_t *api;


static void
fail_import(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    json_t *taken = json_array(), *v;
    ember_stanza_t *st;
    const char *xml;
    size_t i;

    (void) ud;
    json_array_foreach(json_object_get(args, "elements"), i, v) {
        xml = json_string_value(v);
        st = xml != NULL ? api->stanza_parse(xml, strlen(xml)) : NULL;
        if (st != NULL && strcmp(api->stanza_name(st), "fail") == 0 &&
            strcmp(api->stanza_xmlns(st), NS_TEST) == 0)
            json_array_append_new(taken, json_integer((json_int_t) i));
        api->stanza_free(st);
    }
    if (json_is_true(json_object_get(args, "check")) ||
        json_array_size(taken) == 0) {
        api->command_done(ctx, 0, json_pack("{s:o}", "taken", taken), NULL);
        return;
    }
    json_decref(taken);
    api->command_done(ctx, EMBER_EIO, NULL, "the store failed (test)");
}


static const ember_cmd_arg_t import_args[] = { EMBER_PIE_IMPORT_ARGS };

static const ember_command_t fail_cmd = {
    "pie-import-fail", "test: fails the write of an import", import_args,
    "local", fail_import
};


static int
fail_load(ember_module_t *m, const ember_api_t *a)
{
    api = a;
    return api->command_register(m, &fail_cmd, NULL);
}


EMBER_MODULE_EXPORT const ember_plugin_t ember_module = {
    EMBER_MODULE_HEADER,
    .name = "pie_fail",
    .version = "1.0",
    .description = "test: an import part that fails when written",
    .load = fail_load,
};
