/*
 * Test-only module: needs an API minor newer than the core provides.  The
 * core must refuse it before calling load, log why and keep serving.
 * Should the check be missing, load publishes a disco feature the
 * integration test looks for.
 */
#include <ember/plugin.h>

static int
abi_newer_minor_load(ember_module_t *m, const ember_api_t *api)
{
    return api->disco_add_feature(m, "urn:ember:test:abi-newer-minor");
}


EMBER_MODULE_EXPORT const ember_plugin_t ember_module = {
    .abi_major = EMBER_ABI_MAJOR,
    .api_minor = EMBER_API_MINOR + 1,
    .min_api_minor = EMBER_API_MINOR + 1,
    .desc_size = sizeof(ember_plugin_t),
    .name = "abi_newer_minor",
    .version = "1.0",
    .description = "Test: needs a newer API minor, must be refused",
    .load = abi_newer_minor_load,
};
