/*
 * tests/abi/abi-check.c -- the plugin ABI of today's plugin-api/ against
 * the frozen first release, tests/abi/v1.0/.
 *
 * tools/abi-check.sh copies the frozen headers with every EMBER_ name
 * prefixed V10_, the frozen struct and enum definitions renamed v10_...,
 * and includes that copy after the current headers.  References inside the
 * frozen structs are not renamed, so a frozen field typed `ember_hook_cb`
 * is compared against today's ember_hook_cb, and a frozen callback typedef
 * that differs from today's fails to compile as a conflicting typedef.
 *
 * Compiling this file proves, per field of every public struct: same
 * offset, same size, compatible type.  A removed field fails to compile
 * ("has no member named"); a reordered one moves; a retyped one is no
 * longer compatible.  Running it compares the string constants.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <ember/plugin.h>
#include <v10/ember/plugin.h>

#define V10(tag) struct v10_##tag
#define CUR(tag) struct tag
#define FIELD_TYPE(s, f) __typeof__(((s *) 0)->f)

#define SAME_FIELD(tag, f)                                                   \
    _Static_assert(offsetof(V10(tag), f) == offsetof(CUR(tag), f),           \
                   #tag "." #f ": moved (fields were reordered, inserted "   \
                   "or removed before it)");                                 \
    _Static_assert(sizeof(FIELD_TYPE(V10(tag), f)) ==                        \
                   sizeof(FIELD_TYPE(CUR(tag), f)),                          \
                   #tag "." #f ": changed size");                            \
    _Static_assert(__builtin_types_compatible_p(FIELD_TYPE(V10(tag), f),     \
                                                FIELD_TYPE(CUR(tag), f)),    \
                   #tag "." #f ": changed type");

/* The last frozen field ends the frozen struct: no field left unlisted. */
#define LAST_FIELD(tag, f)                                                   \
    _Static_assert(sizeof(V10(tag)) - offsetof(V10(tag), f) -                \
                   sizeof(FIELD_TYPE(V10(tag), f)) < sizeof(void *),         \
                   #tag ": the frozen field list of abi-check.c is short");

/* Tables a module hands over as arrays, or without a size field, cannot
 * grow within a major: the core would read past an old module's entries. */
#define SAME_SIZE(tag)                                                       \
    _Static_assert(sizeof(V10(tag)) == sizeof(CUR(tag)),                     \
                   #tag ": size changed; it has no size field to grow by");
#define NOT_SMALLER(tag)                                                     \
    _Static_assert(sizeof(V10(tag)) <= sizeof(CUR(tag)),                     \
                   #tag ": shrank");

#define PLUGIN_FIELDS(X)                                                     \
    X(ember_plugin_s, abi_major) X(ember_plugin_s, api_minor)                \
    X(ember_plugin_s, min_api_minor) X(ember_plugin_s, desc_size)            \
    X(ember_plugin_s, name) X(ember_plugin_s, version)                       \
    X(ember_plugin_s, description) X(ember_plugin_s, depends)                \
    X(ember_plugin_s, requires) X(ember_plugin_s, conf_size)                 \
    X(ember_plugin_s, options) X(ember_plugin_s, load)                       \
    X(ember_plugin_s, unload) X(ember_plugin_s, flags)                       \
    X(ember_plugin_s, reserved)

#define API_FIELDS(X)                                                        \
    X(ember_api_s, abi_major) X(ember_api_s, api_minor)                      \
    X(ember_api_s, size) X(ember_api_s, core_version) X(ember_api_s, log)    \
    X(ember_api_s, strerror) X(ember_api_s, module_host)                     \
    X(ember_api_s, module_conf) X(ember_api_s, module_set_data)              \
    X(ember_api_s, module_data) X(ember_api_s, hook) X(ember_api_s, unhook)  \
    X(ember_api_s, fire) X(ember_api_s, stanza_new)                          \
    X(ember_api_s, stanza_parse) X(ember_api_s, stanza_free)                 \
    X(ember_api_s, stanza_copy) X(ember_api_s, stanza_name)                  \
    X(ember_api_s, stanza_xmlns) X(ember_api_s, stanza_attr)                 \
    X(ember_api_s, stanza_set_attr) X(ember_api_s, stanza_add_child)         \
    X(ember_api_s, stanza_add_text) X(ember_api_s, stanza_append)            \
    X(ember_api_s, stanza_remove) X(ember_api_s, stanza_child)               \
    X(ember_api_s, stanza_first) X(ember_api_s, stanza_next)                 \
    X(ember_api_s, stanza_parent) X(ember_api_s, stanza_text)                \
    X(ember_api_s, stanza_serialize) X(ember_api_s, free)                    \
    X(ember_api_s, jid_parse) X(ember_api_s, jid_free)                       \
    X(ember_api_s, jid_copy) X(ember_api_s, jid_node)                        \
    X(ember_api_s, jid_domain) X(ember_api_s, jid_resource)                  \
    X(ember_api_s, jid_full) X(ember_api_s, jid_bare)                        \
    X(ember_api_s, jid_equal) X(ember_api_s, route)                          \
    X(ember_api_s, iq_result) X(ember_api_s, stanza_error)                   \
    X(ember_api_s, error_reply) X(ember_api_s, iq_send)                      \
    X(ember_api_s, session_jid) X(ember_api_s, session_send)                 \
    X(ember_api_s, session_close) X(ember_api_s, session_idle_ms)            \
    X(ember_api_s, session_priority) X(ember_api_s, session_slot)            \
    X(ember_api_s, session_slot_destructor)                                  \
    X(ember_api_s, user_sessions) X(ember_api_s, host_sessions)              \
    X(ember_api_s, timer_start) X(ember_api_s, timer_stop)                   \
    X(ember_api_s, disco_add_feature) X(ember_api_s, disco_add_identity)     \
    X(ember_api_s, disco_add_item) X(ember_api_s, disco_foreach)             \
    X(ember_api_s, store_open) X(ember_api_s, keyval_get)                    \
    X(ember_api_s, keyval_set) X(ember_api_s, map_get)                       \
    X(ember_api_s, map_set) X(ember_api_s, map_all)                          \
    X(ember_api_s, archive_append) X(ember_api_s, archive_query)             \
    X(ember_api_s, archive_delete) X(ember_api_s, store_users)               \
    X(ember_api_s, storage_provide) X(ember_api_s, store_done)               \
    X(ember_api_s, call_on_core) X(ember_api_s, user_exists)                 \
    X(ember_api_s, user_create) X(ember_api_s, user_set_password)            \
    X(ember_api_s, user_delete) X(ember_api_s, command_register)             \
    X(ember_api_s, command_done) X(ember_api_s, form_new)                    \
    X(ember_api_s, form_add_field) X(ember_api_s, form_value)                \
    X(ember_api_s, form_values) X(ember_api_s, rsm_parse)                    \
    X(ember_api_s, rsm_add)

#define EVENT_FIELDS(X)                                                      \
    X(ember_event_s, size) X(ember_event_s, name) X(ember_event_s, stanza)   \
    X(ember_event_s, origin) X(ember_event_s, from) X(ember_event_s, to)     \
    X(ember_event_s, host) X(ember_event_s, data)

#define STORE_REQ_FIELDS(X)                                                  \
    X(ember_store_req_s, size) X(ember_store_req_s, op)                      \
    X(ember_store_req_s, kind) X(ember_store_req_s, host)                    \
    X(ember_store_req_s, store) X(ember_store_req_s, user)                   \
    X(ember_store_req_s, key) X(ember_store_req_s, value)                    \
    X(ember_store_req_s, query)

#define DRIVER_FIELDS(X)                                                     \
    X(ember_storage_driver_s, size) X(ember_storage_driver_s, name)          \
    X(ember_storage_driver_s, submit) X(ember_storage_driver_s, flush)       \
    X(ember_storage_driver_s, ud)

#define QUERY_FIELDS(X)                                                      \
    X(ember_archive_query_s, size) X(ember_archive_query_s, with)            \
    X(ember_archive_query_s, start) X(ember_archive_query_s, end)            \
    X(ember_archive_query_s, after_id) X(ember_archive_query_s, before_id)   \
    X(ember_archive_query_s, id) X(ember_archive_query_s, max)               \
    X(ember_archive_query_s, reverse)

#define RSM_FIELDS(X)                                                        \
    X(ember_rsm_s, size) X(ember_rsm_s, max) X(ember_rsm_s, after)           \
    X(ember_rsm_s, before) X(ember_rsm_s, index)

#define COMMAND_FIELDS(X)                                                    \
    X(ember_command_s, name) X(ember_command_s, summary)                     \
    X(ember_command_s, args) X(ember_command_s, permission)                  \
    X(ember_command_s, run)

#define CMD_ARG_FIELDS(X)                                                    \
    X(ember_cmd_arg_s, name) X(ember_cmd_arg_s, type)                        \
    X(ember_cmd_arg_s, required) X(ember_cmd_arg_s, help)

#define OPTION_FIELDS(X)                                                     \
    X(ember_option_s, name) X(ember_option_s, type)                          \
    X(ember_option_s, offset) X(ember_option_s, default_value)               \
    X(ember_option_s, min) X(ember_option_s, max) X(ember_option_s, help)

PLUGIN_FIELDS(SAME_FIELD)
LAST_FIELD(ember_plugin_s, reserved)
NOT_SMALLER(ember_plugin_s)
API_FIELDS(SAME_FIELD)
LAST_FIELD(ember_api_s, rsm_add)
NOT_SMALLER(ember_api_s)
EVENT_FIELDS(SAME_FIELD)
LAST_FIELD(ember_event_s, data)
NOT_SMALLER(ember_event_s)
STORE_REQ_FIELDS(SAME_FIELD)
LAST_FIELD(ember_store_req_s, query)
NOT_SMALLER(ember_store_req_s)
DRIVER_FIELDS(SAME_FIELD)
LAST_FIELD(ember_storage_driver_s, ud)
NOT_SMALLER(ember_storage_driver_s)
QUERY_FIELDS(SAME_FIELD)
LAST_FIELD(ember_archive_query_s, reverse)
NOT_SMALLER(ember_archive_query_s)
RSM_FIELDS(SAME_FIELD)
LAST_FIELD(ember_rsm_s, index)
NOT_SMALLER(ember_rsm_s)
COMMAND_FIELDS(SAME_FIELD)
LAST_FIELD(ember_command_s, run)
SAME_SIZE(ember_command_s)
CMD_ARG_FIELDS(SAME_FIELD)
LAST_FIELD(ember_cmd_arg_s, help)
SAME_SIZE(ember_cmd_arg_s)
OPTION_FIELDS(SAME_FIELD)
LAST_FIELD(ember_option_s, help)
SAME_SIZE(ember_option_s)

/* The enums a module compiles in keep their values and their size. */
#define SAME_ENUM_SIZE(t)                                                    \
    _Static_assert(sizeof(v10_##t) == sizeof(t), #t ": changed size");
SAME_ENUM_SIZE(ember_cond_t)
SAME_ENUM_SIZE(ember_opt_type_t)
SAME_ENUM_SIZE(ember_store_kind_t)
SAME_ENUM_SIZE(ember_arg_type_t)
SAME_ENUM_SIZE(ember_store_op_t)

#define SAME_VALUE(n)                                                        \
    _Static_assert((long long) V10_##n == (long long) n,                     \
                   #n ": changed value");
SAME_VALUE(EMBER_ABI_MAJOR)
_Static_assert(EMBER_API_MINOR >= V10_EMBER_API_MINOR,
               "EMBER_API_MINOR went down");
SAME_VALUE(EMBER_MODULE_GLOBAL)
SAME_VALUE(EMBER_LOG_ERROR) SAME_VALUE(EMBER_LOG_WARN)
SAME_VALUE(EMBER_LOG_INFO) SAME_VALUE(EMBER_LOG_DEBUG)
SAME_VALUE(EMBER_HOOK_PASS) SAME_VALUE(EMBER_HOOK_HANDLED)
SAME_VALUE(EMBER_OPT_INT) SAME_VALUE(EMBER_OPT_BOOL)
SAME_VALUE(EMBER_OPT_STRING) SAME_VALUE(EMBER_OPT_DURATION)
SAME_VALUE(EMBER_OPT_PATH)
SAME_VALUE(EMBER_STORE_KEYVAL) SAME_VALUE(EMBER_STORE_MAP)
SAME_VALUE(EMBER_STORE_ARCHIVE)
SAME_VALUE(EMBER_ARG_STRING) SAME_VALUE(EMBER_ARG_INT)
SAME_VALUE(EMBER_ARG_BOOL) SAME_VALUE(EMBER_ARG_JID)
SAME_VALUE(EMBER_ARG_SECRET)
SAME_VALUE(EMBER_SOP_KEYVAL_GET) SAME_VALUE(EMBER_SOP_KEYVAL_SET)
SAME_VALUE(EMBER_SOP_MAP_GET) SAME_VALUE(EMBER_SOP_MAP_SET)
SAME_VALUE(EMBER_SOP_MAP_ALL) SAME_VALUE(EMBER_SOP_ARCHIVE_APPEND)
SAME_VALUE(EMBER_SOP_ARCHIVE_QUERY) SAME_VALUE(EMBER_SOP_ARCHIVE_DELETE)
SAME_VALUE(EMBER_SOP_USERS) SAME_VALUE(EMBER_SOP_PURGE_USER)

/* Every frozen error keeps its name and number. */
#define SAME_ERRNO(name, val, msg)                                           \
    _Static_assert(EMBER_##name == (val), "EMBER_" #name ": changed value");
V10_EMBER_ERRNO_MAP(SAME_ERRNO)

/* Every frozen condition keeps its number. */
#define SAME_COND(name, wire, type)                                          \
    _Static_assert((int) V10_EMBER_COND_##name == (int) EMBER_COND_##name,   \
                   "EMBER_COND_" #name ": changed value");
V10_EMBER_COND_MAP(SAME_COND)

/* The descriptor header macro still fills the same four fields. */
static const struct v10_ember_plugin_s frozen_header = {
    V10_EMBER_MODULE_HEADER
};


static int
same_string(const char *what, const char *frozen, const char *now)
{
    if (strcmp(frozen, now) == 0)
        return 0;
    fprintf(stderr, "abi-check: %s changed: \"%s\" in 1.0, now \"%s\"\n",
            what, frozen, now);
    return 1;
}


int
main(void)
{
    int bad = 0;

#define SAME_STR(n) bad += same_string(#n, V10_##n, n);
    SAME_STR(EMBER_EV_SESSION_BOUND)
    SAME_STR(EMBER_EV_SESSION_CLOSED)
    SAME_STR(EMBER_EV_STREAM_FEATURES)
    SAME_STR(EMBER_EV_MESSAGE_OFFLINE)
    SAME_STR(EMBER_EV_USER_CREATED)
    SAME_STR(EMBER_EV_USER_DELETED)
    SAME_STR(EMBER_EV_HOST_ACTIVATED)
#define SAME_WIRE(name, wire, type)                                          \
    bad += same_string("condition " #name, wire,                             \
                       cond_wire[EMBER_COND_##name]);
    {
        static const char *const cond_wire[] = {
#define WIRE_ENTRY(name, wire, type) [EMBER_COND_##name] = wire,
            EMBER_COND_MAP(WIRE_ENTRY)
        };

        V10_EMBER_COND_MAP(SAME_WIRE)
    }
    if (frozen_header.abi_major != EMBER_ABI_MAJOR ||
        frozen_header.desc_size != sizeof(struct v10_ember_plugin_s)) {
        fprintf(stderr, "abi-check: EMBER_MODULE_HEADER of 1.0 is broken\n");
        bad++;
    }
    if (bad != 0)
        return 1;
    printf("abi-check: plugin ABI %d.%d keeps every field of %d.%d\n",
           EMBER_ABI_MAJOR, EMBER_API_MINOR, V10_EMBER_ABI_MAJOR,
           V10_EMBER_API_MINOR);
    return 0;
}
