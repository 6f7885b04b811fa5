/* core/xmpp/errors.c -- condition tables from plugin-api/ember/errno.h. */
#include <string.h>

#include "xmpp/errors.h"

static const char *const cond_names[] = {
#define COND_NAME(name, wire, type) wire,
    EMBER_COND_MAP(COND_NAME)
#undef COND_NAME
};

static const char *const cond_types[] = {
#define COND_TYPE(name, wire, type) type,
    EMBER_COND_MAP(COND_TYPE)
#undef COND_TYPE
};

/*
 * XEP-0086 legacy codes, by condition in EMBER_COND_MAP order ("" for
 * policy-violation, which came after it).  Deprecated, but clients still
 * read them: Profanity 0.13 starts OMEMO only on an item-not-found that
 * says code="404".
 */
static const char *const cond_codes[] = {
    "400", "409", "501", "403", "302", "500", "404", "400", "406", "405",
    "401", "", "404", "302", "407", "404", "504", "500", "503", "407",
    "500", "400",
};
_Static_assert(sizeof(cond_codes) / sizeof(cond_codes[0]) == EMBER_COND_COUNT,
               "one legacy code per condition");

static const char *const stream_cond_names[] = {
#define STREAM_COND_NAME(name, wire) wire,
    EMBER_STREAM_COND_MAP(STREAM_COND_NAME)
#undef STREAM_COND_NAME
};


const char *
ember__cond_name_or_null(ember_cond_t cond)
{
    return (unsigned) cond < EMBER_COND_COUNT ? cond_names[cond] : NULL;
}


const char *
ember__cond_name(ember_cond_t cond)
{
    const char *name = ember__cond_name_or_null(cond);

    return name != NULL ? name : cond_names[EMBER_COND_UNDEFINED_CONDITION];
}


const char *
ember__cond_type(ember_cond_t cond)
{
    if ((unsigned) cond >= EMBER_COND_COUNT)
        cond = EMBER_COND_UNDEFINED_CONDITION;
    return cond_types[cond];
}


const char *
ember__cond_legacy_code(ember_cond_t cond)
{
    if ((unsigned) cond >= EMBER_COND_COUNT)
        cond = EMBER_COND_UNDEFINED_CONDITION;
    return cond_codes[cond][0] != '\0' ? cond_codes[cond] : NULL;
}


const char *
ember__stream_cond_name_or_null(ember_stream_cond_t cond)
{
    return (unsigned) cond < EMBER_STREAM_COND_COUNT ? stream_cond_names[cond]
                                                     : NULL;
}


const char *
ember__stream_cond_name(ember_stream_cond_t cond)
{
    const char *name = ember__stream_cond_name_or_null(cond);

    return name != NULL ? name
                        : stream_cond_names[EMBER_STREAM_UNDEFINED_CONDITION];
}


ember_stream_cond_t
ember__stream_cond_parse(const char *name)
{
    int i;

    for (i = 0; i < EMBER_STREAM_COND_COUNT; i++)
        if (strcmp(stream_cond_names[i], name) == 0)
            return (ember_stream_cond_t) i;
    return EMBER_STREAM_UNDEFINED_CONDITION;
}
