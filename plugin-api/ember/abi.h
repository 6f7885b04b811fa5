/* ember/abi.h -- ABI versioning of the Ember plugin interface. */
#ifndef EMBER_ABI_H
#define EMBER_ABI_H

#include <stddef.h>
#include <stdint.h>

/*
 * EMBER_ABI_MAJOR changes when anything is removed, reordered or changes
 * meaning: every module must be rebuilt.  EMBER_API_MINOR grows when fields
 * are appended to ember_api_t or ember_plugin_t: modules built against an
 * older minor keep working.  See ABI-CHANGES for what arrived in which minor.
 */
#define EMBER_ABI_MAJOR 1
#define EMBER_API_MINOR 10

#if defined(__GNUC__)
#define EMBER_MODULE_EXPORT __attribute__((visibility("default")))
#define EMBER_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define EMBER_MODULE_EXPORT
#define EMBER_PRINTF(a, b)
#endif

/*
 * Fills the version fields of a descriptor.  The module then requires a
 * core of at least the minor it was compiled against; a module that guards
 * newer calls with EMBER_API_HAS() uses EMBER_MODULE_HEADER_MIN(n) instead.
 */
#define EMBER_MODULE_HEADER_MIN(min_minor)                                   \
    .abi_major = EMBER_ABI_MAJOR, .api_minor = EMBER_API_MINOR,              \
    .min_api_minor = (min_minor), .desc_size = sizeof(ember_plugin_t)
#define EMBER_MODULE_HEADER EMBER_MODULE_HEADER_MIN(EMBER_API_MINOR)

/* True when the running core's table has the function `fn` and it is set. */
#define EMBER_API_HAS(api, fn)                                               \
    (offsetof(ember_api_t, fn) + sizeof((api)->fn) <= (api)->size &&         \
     (api)->fn != NULL)

#endif
