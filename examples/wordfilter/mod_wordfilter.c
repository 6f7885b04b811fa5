/* mod_wordfilter.c -- refuse messages from local clients whose body or
 * subject contains a blocked word, with a policy-violation error. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <ember/plugin.h>

typedef struct {
    char *words;    /* "spam, eggs": the core owns the string */
    char *reason;   /* the error's <text/> */
    int log;        /* log each refusal */
} wf_conf_t;

static const ember_option_t wf_options[] = {
    EMBER_OPT("words", EMBER_OPT_STRING, wf_conf_t, words, "", 0, 4096,
              "blocked words, separated by commas or blanks; matched as "
              "whole words, ignoring ASCII case"),
    EMBER_OPT("reason", EMBER_OPT_STRING, wf_conf_t, reason,
              "Your message contains a blocked word", 0, 256,
              "text sent back with the policy-violation error"),
    EMBER_OPT("log", EMBER_OPT_BOOL, wf_conf_t, log, "false", 0, 1,
              "log who sent a refused message"),
    EMBER_OPT_END
};

/* Per instance (one per host): the words, split once at load. */
typedef struct {
    size_t count;
    char **words;
    char *storage;
} wf_list_t;

static const ember_api_t *api;

static const char *const wf_events[] = {
    "pre-message/bare", "pre-message/full", "pre-message/host",
    "pre-message/self"
};


static void
wf_list_free(wf_list_t *l)
{
    if (l == NULL)
        return;
    free(l->words);
    free(l->storage);
    free(l);
}


static int
wf_is_sep(char c)
{
    return c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r';
}


static wf_list_t *
wf_list_new(const char *spec)
{
    wf_list_t *l = calloc(1, sizeof(*l));
    char *p;
    size_t n = 0;

    if (l == NULL || (l->storage = strdup(spec)) == NULL)
        goto fail;
    /* At most one word per separator plus one. */
    for (p = l->storage; *p != '\0'; p++)
        n += wf_is_sep(*p);
    if ((l->words = calloc(n + 1, sizeof(*l->words))) == NULL)
        goto fail;
    for (p = l->storage; *p != '\0';) {
        while (wf_is_sep(*p))
            *p++ = '\0';
        if (*p == '\0')
            break;
        l->words[l->count++] = p;
        while (*p != '\0' && !wf_is_sep(*p))
            p++;
    }
    return l;

fail:
    wf_list_free(l);
    return NULL;
}


/* Bytes of multi-byte UTF-8 characters count as letters, so that a word
 * is never matched inside a longer non-ASCII word. */
static int
wf_is_word_char(unsigned char c)
{
    return isalnum(c) || c >= 0x80 || c == '_';
}


static int
wf_contains_word(const char *text, const char *word)
{
    size_t wl = strlen(word), tl = strlen(text), i;

    if (wl == 0 || wl > tl)
        return 0;
    for (i = 0; i + wl <= tl; i++) {
        if (strncasecmp(text + i, word, wl) != 0)
            continue;
        if ((i == 0 || !wf_is_word_char((unsigned char) text[i - 1])) &&
            !wf_is_word_char((unsigned char) text[i + wl]))
            return 1;
    }
    return 0;
}


static const char *
wf_match(const wf_list_t *l, const ember_stanza_t *msg)
{
    static const char *const parts[] = { "body", "subject" };
    const ember_stanza_t *el;
    size_t i, k;

    for (k = 0; k < sizeof(parts) / sizeof(parts[0]); k++) {
        if ((el = api->stanza_child(msg, parts[k], NULL)) == NULL)
            continue;
        for (i = 0; i < l->count; i++)
            if (wf_contains_word(api->stanza_text(el), l->words[i]))
                return l->words[i];
    }
    return NULL;
}


static int
wf_on_message(ember_module_t *m, const ember_event_t *ev, void *ud)
{
    wf_conf_t *conf = api->module_conf(m);
    const wf_list_t *l = api->module_data(m);
    const char *type = api->stanza_attr(ev->stanza, "type");
    const char *word;

    /* Errors are never answered with errors (RFC 6120 8.3.1). */
    if (type != NULL && strcmp(type, "error") == 0)
        return EMBER_HOOK_PASS;
    if ((word = wf_match(l, ev->stanza)) == NULL)
        return EMBER_HOOK_PASS;
    if (conf->log)
        api->log(m, EMBER_LOG_INFO, "refused a message from %s: '%s'",
                 ev->from != NULL ? api->jid_full(ev->from) : "?", word);
    /* HANDLED stops the stanza: nobody else sees it, nothing delivers it. */
    api->stanza_error(ev, EMBER_COND_POLICY_VIOLATION, conf->reason);
    return EMBER_HOOK_HANDLED;
}


static int
wf_load(ember_module_t *m, const ember_api_t *a)
{
    wf_conf_t *conf = a->module_conf(m);
    wf_list_t *l;
    size_t i;
    int err;

    api = a;
    if ((l = wf_list_new(conf->words)) == NULL)
        return EMBER_ENOMEM;
    api->module_set_data(m, l);
    if (l->count == 0)
        api->log(m, EMBER_LOG_WARN, "no words configured: nothing is "
                 "filtered (set words=\"...\" on its <module/>)");
    /* A high priority: the filter runs before modules that store or
     * forward messages. */
    for (i = 0; i < sizeof(wf_events) / sizeof(wf_events[0]); i++)
        if ((err = api->hook(m, wf_events[i], wf_on_message, 100,
                             NULL)) < 0)
            return err;     /* the core calls unload, which frees l */
    return 0;
}


static void
wf_unload(ember_module_t *m)
{
    wf_list_free(api->module_data(m));
    api->module_set_data(m, NULL);
}


EMBER_MODULE_EXPORT const ember_plugin_t ember_module = {
    EMBER_MODULE_HEADER,
    .name = "wordfilter",
    .version = "1.0.0",
    .description = "Refuses messages containing blocked words "
                   "(policy-violation)",
    .requires = (const char *const[]){ "hooks", "stanzas", NULL },
    .conf_size = sizeof(wf_conf_t),
    .options = wf_options,
    .load = wf_load,
    .unload = wf_unload,
};
