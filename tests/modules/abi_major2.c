/*
 * Test-only module: a descriptor claiming the next ABI major.  The core
 * must refuse it before calling load, log why and keep serving.  The
 * header is written out by hand because EMBER_MODULE_HEADER would stamp
 * the current major.  Should the check be missing, load publishes a disco
 * feature the integration test looks for.
 */
#include <ember/plugin.h>

static int
abi_major2_load(ember_module_t *m, const ember_api_t *api)
{
    return api->disco_add_feature(m, "urn:ember:test:abi-major2");
}


EMBER_MODULE_EXPORT const ember_plugin_t ember_module = {
    .abi_major = EMBER_ABI_MAJOR + 1,
    .api_minor = EMBER_API_MINOR,
    .min_api_minor = 0,
    .desc_size = sizeof(ember_plugin_t),
    .name = "abi_major2",
    .version = "1.0",
    .description = "Test: built for another ABI major, must be refused",
    .load = abi_major2_load,
};
