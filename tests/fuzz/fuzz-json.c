/* libFuzzer target: a REST body as the admin console reads it (jansson,
 * duplicate keys refused, an object required) handed to the command
 * registry of core/runtime/commands.c, which checks it against a
 * command's argument table before the command runs.  Checked: a parsed
 * body prints and parses back equal; every caller gets exactly one
 * reply, an error with a message or the run; and a command only ever
 * sees the arguments of its table, required ones present, each of its
 * declared type (a JID prepared, a number an integer ...). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/jid.h"
#include "runtime/commands.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
    json_t *args;   /* what the caller sent */
    int runs;
    int replies;
    int status;
} run_t;

static run_t *current;

static void run_cb(ember_cmd_ctx_t *ctx, json_t *args, void *ud);

static const ember_cmd_arg_t all_args[] = {
    { "name", EMBER_ARG_STRING, 0, NULL },
    { "count", EMBER_ARG_INT, 0, NULL },
    { "enabled", EMBER_ARG_BOOL, 0, NULL },
    { "jid", EMBER_ARG_JID, 0, NULL },
    { "password", EMBER_ARG_SECRET, 0, NULL },
    { "options", EMBER_ARG_JSON, 0, NULL },
    { NULL, 0, 0, NULL }
};
static const ember_cmd_arg_t user_args[] = {
    { "jid", EMBER_ARG_JID, 1, "account" },
    { "password", EMBER_ARG_SECRET, 1, "its password" },
    { "host", EMBER_ARG_STRING, 0, NULL },
    { NULL, 0, 0, NULL }
};
static const ember_cmd_arg_t local_args[] = {
    { "config", EMBER_ARG_JSON, 1, NULL },
    { "force", EMBER_ARG_BOOL, 0, NULL },
    { NULL, 0, 0, NULL }
};
static const ember_command_t commands[] = {
    { "fuzz-all", "every argument type", all_args, NULL, run_cb },
    { "fuzz-user", "required arguments", user_args, "admin", run_cb },
    { "fuzz-local", "control socket only", local_args, "local", run_cb },
    { "fuzz-none", "no arguments", NULL, "admin", run_cb },
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))


static const ember_cmd_arg_t *
table_arg(const ember_cmd_arg_t *table, const char *name)
{
    for (; table != NULL && table->name != NULL; table++)
        if (strcmp(table->name, name) == 0)
            return table;
    return NULL;
}


static const char *const true_words[] = { "true", "1", "yes", NULL };
static const char *const false_words[] = { "false", "0", "no", NULL };


static int
is_word(const char *s, const char *const *words)
{
    for (; *words != NULL; words++)
        if (strcmp(s, *words) == 0)
            return 1;
    return 0;
}


/* A checked value v of type t, from what the caller sent, in. */
static void
check_value(ember_arg_type_t t, json_t *v, json_t *in)
{
    ember_jid_t *j;
    char *end;

    switch (t) {
    case EMBER_ARG_STRING:
    case EMBER_ARG_SECRET:
        if (!json_is_string(v) || !json_equal(v, in))
            abort();
        break;
    case EMBER_ARG_INT:
        /* A string (from a command line) is the number in decimal. */
        if (!json_is_integer(v)
            || (json_is_integer(in) && !json_equal(v, in))
            || (!json_is_integer(in) && !json_is_string(in)))
            abort();
        if (json_is_string(in)
            && strtoll(json_string_value(in), &end, 10)
                   != json_integer_value(v))
            abort();
        break;
    case EMBER_ARG_BOOL:
        if (!json_is_boolean(v)
            || (json_is_boolean(in) && !json_equal(v, in))
            || (!json_is_boolean(in) && !json_is_string(in)))
            abort();
        if (json_is_string(in)
            && !is_word(json_string_value(in), json_is_true(v)
                                                ? true_words : false_words))
            abort();
        break;
    case EMBER_ARG_JID:
        /* Prepared: parsing it again changes nothing. */
        if (!json_is_string(v) || !json_is_string(in)
            || (j = ember__jid_parse(json_string_value(v))) == NULL)
            abort();
        if (strcmp(ember__jid_full(j), json_string_value(v)) != 0)
            abort();
        ember__jid_free(j);
        break;
    case EMBER_ARG_JSON:
        if ((!json_is_object(v) && !json_is_array(v))
            || ((json_is_object(in) || json_is_array(in))
                && !json_equal(v, in))
            || (!json_is_object(in) && !json_is_array(in)
                && !json_is_string(in)))
            abort();
        break;
    default:
        abort();
    }
}


static void
run_cb(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    const ember_command_t *cmd = ud;
    const ember_cmd_arg_t *a;
    const char *key;
    json_t *v, *in;

    if (current == NULL || !json_is_object(args))
        abort();
    current->runs++;
    json_object_foreach(args, key, v) {
        if (table_arg(cmd->args, key) == NULL)
            abort();
    }
    for (a = cmd->args; a != NULL && a->name != NULL; a++) {
        v = json_object_get(args, a->name);
        in = json_object_get(current->args, a->name);
        if (in != NULL && json_is_null(in))
            in = NULL;
        if ((v == NULL && (a->required || in != NULL))
            || (v != NULL && in == NULL))
            abort();
        if (v != NULL)
            check_value(a->type, v, in);
    }
    ember__command_done(ctx, 0, json_pack("{s:b}", "ok", 1), NULL);
}


static void
on_reply(int status, json_t *result, const char *message, void *ud)
{
    run_t *r = ud;

    r->replies++;
    r->status = status;
    if (status == 0 && (result == NULL || message != NULL))
        abort();
    if (status < 0 && (result != NULL || message == NULL
                       || message[0] == '\0'))
        abort();
}


/* The registry lists a command with its table's arguments. */
static void
check_info(const ember_command_t *cmd)
{
    json_t *info = ember__command_info(cmd->name, NULL), *args;
    size_t n = 0;

    while (cmd->args != NULL && cmd->args[n].name != NULL)
        n++;
    args = json_object_get(info, "args");
    if (!json_is_array(args) || json_array_size(args) != n)
        abort();
    json_decref(info);
}


/* A parsed body prints as JSON that parses back to an equal value. */
static void
check_print(json_t *doc)
{
    json_error_t e;
    json_t *back;
    char *text;

    if ((text = json_dumps(doc, JSON_COMPACT | JSON_ENCODE_ANY)) == NULL)
        return;
    back = json_loads(text, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &e);
    if (back == NULL || !json_equal(back, doc))
        abort();
    json_decref(back);
    free(text);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int registered;
    const ember_command_t *cmd;
    ember_caller_t who;
    json_error_t e;
    json_t *doc;
    run_t r;
    size_t i;

    if (!registered) {
        for (i = 0; i < NCOMMANDS; i++)
            if (ember__command_register(NULL, &commands[i],
                                        (void *) &commands[i]) != 0)
                abort();
        registered = 1;
    }
    /* First byte: the command and who calls it; the rest is the body. */
    if (size == 0)
        return 0;
    cmd = &commands[data[0] % NCOMMANDS];
    who = (data[0] >> 4) & 1 ? EMBER_CALLER_LOCAL : EMBER_CALLER_ADMIN;
    data++;
    size--;

    doc = json_loadb((const char *) data, size, JSON_REJECT_DUPLICATES, &e);
    if (doc == NULL) {
        if (e.text[0] == '\0')
            abort();
        return 0;
    }
    check_print(doc);
    if (!json_is_object(doc)) {
        json_decref(doc);
        return 0;
    }
    memset(&r, 0, sizeof(r));
    r.args = doc;
    current = &r;
    ember__command_run(cmd->name, doc, who, NULL, NULL, on_reply, &r);
    current = NULL;
    if (r.replies != 1 || r.runs > 1 || (r.runs == 1) != (r.status == 0))
        abort();
    /* "local" commands answer only the control socket. */
    if (r.runs && cmd->permission != NULL
        && strcmp(cmd->permission, "local") == 0 && who != EMBER_CALLER_LOCAL)
        abort();
    check_info(cmd);
    json_decref(doc);
    return 0;
}
