/* core/cmd_admin.c -- the commands behind the admin console's REST API:
 * accounts, sessions, logs, config edits, modules, admins, certificates.
 * Every config change goes through one path: edit the text (or its DOM),
 * check it as `check` would, write it atomically, reload. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <jansson.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

#include "store/accounts.h"
#include "net/certgen.h"
#include "admin/cmd_admin.h"
#include "runtime/commands.h"
#include "base/config.h"
#include "base/jid.h"
#include "base/log.h"
#include "runtime/modules.h"
#include "xmpp/router.h"
#include "base/process.h"
#include "xmpp/session.h"
#include "xmpp/stanza.h"

#define SEARCH_DEFAULT_LIMIT 50
#define SEARCH_MAX_LIMIT 500
#define LOGS_DEFAULT_LIMIT 200
#define LOGS_MAX_LIMIT 2000
#define CONFIG_MAX_SIZE (1 << 20)
#define CERT_DAYS 3650

/* A user-search in flight: one account read per user of the page. */
typedef struct search_s {
    ember_cmd_ctx_t *ctx;
    json_t *result;            /* {"total", "users"} */
    size_t pending;
    int failed;
} search_t;

typedef struct search_item_s {
    search_t *search;
    json_t *user;              /* borrowed from search->result */
} search_item_t;

typedef struct info_call_s {
    ember_cmd_ctx_t *ctx;
    char host[1024];
    char bare[2048];
} info_call_t;


static const char *
arg_str(json_t *args, const char *name)
{
    return json_string_value(json_object_get(args, name));
}


/* Commands that act on the running server refuse emberctl's offline one. */
static int
need_online(ember_cmd_ctx_t *ctx, const char *name)
{
    if (ember__config() != NULL && !ember__server_offline())
        return 0;
    ember__command_donef(ctx, EMBER_ESTATE, "%s: emberd is not running", name);
    return EMBER_ESTATE;
}


/* An integer argument within lo..hi (def when absent), or finish. */
static int
int_arg(ember_cmd_ctx_t *ctx, json_t *args, const char *name, long long def,
        long long lo, long long hi, long long *out)
{
    json_t *v = json_object_get(args, name);

    *out = v != NULL ? json_integer_value(v) : def;
    if (*out < lo || *out > hi) {
        ember__command_donef(ctx, EMBER_EINVAL,
                             "argument '%s': %lld out of range %lld..%lld",
                             name, *out, lo, hi);
        return EMBER_EINVAL;
    }
    return 0;
}


/* Bound sessions of a bare JID: how many. */
static int
online_count(const char *bare)
{
    ember_session_t *s;
    int n = 0;

    for (s = ember__session_first_of(bare); s != NULL;
         s = ember__session_next_of(s))
        n++;
    return n;
}


/* ---- user-search, user-info ---- */

static void
search_finish(search_t *se)
{
    if (se->failed < 0)
        ember__command_donef(se->ctx, se->failed, "reading the accounts: %s",
                             ember_strerror(se->failed));
    else
        ember__command_done(se->ctx, 0, json_incref(se->result), NULL);
    json_decref(se->result);
    free(se);
}


static void
search_got(int status, json_t *doc, void *ud)
{
    search_item_t *it = ud;
    search_t *se = it->search;

    if (status == 0)
        json_object_set_new(it->user, "locked",
                            json_boolean(json_is_true(
                                json_object_get(doc, "locked"))));
    else if (status != EMBER_ENOENT && se->failed == 0)
        se->failed = status;
    free(it);
    if (--se->pending == 0)
        search_finish(se);
}


typedef struct search_call_s {
    ember_cmd_ctx_t *ctx;
    char *q;
    long long offset, limit;
    char host[1024];
} search_call_t;


static void
search_listed(int status, json_t *names, void *ud)
{
    search_call_t *call = ud;
    search_t *se = NULL;
    search_item_t *it;
    json_t *v, *users, *u;
    const char *name;
    char bare[2048];
    size_t i, total = 0;
    int rc;

    if (status < 0 && status != EMBER_ENOENT) {
        ember__command_donef(call->ctx, status, "users of %s: %s", call->host,
                             ember_strerror(status));
        goto out;
    }
    if ((se = calloc(1, sizeof(*se))) == NULL ||
        (users = json_array()) == NULL ||
        (se->result = json_pack("{s:i, s:o}", "total", 0, "users",
                                users)) == NULL) {
        free(se);
        ember__command_done(call->ctx, EMBER_ENOMEM, NULL, NULL);
        goto out;
    }
    se->ctx = call->ctx;
    se->pending = 1;           /* held until every read is started */
    json_array_foreach(status == 0 ? names : NULL, i, v) {
        name = json_string_value(v);
        if (name == NULL ||
            (call->q != NULL && strcasestr(name, call->q) == NULL))
            continue;
        total++;
        if ((long long) total <= call->offset ||
            (long long) json_array_size(users) >= call->limit)
            continue;
        snprintf(bare, sizeof(bare), "%s@%s", name, call->host);
        u = json_pack("{s:s, s:b, s:i}", "jid", bare, "locked", 0,
                      "online", online_count(bare));
        if (u == NULL || json_array_append_new(users, u) < 0 ||
            (it = calloc(1, sizeof(*it))) == NULL) {
            se->failed = EMBER_ENOMEM;
            continue;
        }
        it->search = se;
        it->user = u;
        se->pending++;
        if ((rc = ember__account_get(call->host, name, search_got, it)) < 0) {
            se->pending--;
            free(it);
            if (se->failed == 0)
                se->failed = rc;
        }
    }
    json_object_set_new(se->result, "total", json_integer((json_int_t) total));
    if (--se->pending == 0)
        search_finish(se);
out:
    free(call->q);
    free(call);
}


static void
cmd_user_search(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    search_call_t *call;
    const char *q = arg_str(args, "q");
    long long offset, limit;
    int rc;

    if (int_arg(ctx, args, "offset", 0, 0, INT_MAX, &offset) < 0 ||
        int_arg(ctx, args, "limit", SEARCH_DEFAULT_LIMIT, 1,
                SEARCH_MAX_LIMIT, &limit) < 0)
        return;
    if ((call = calloc(1, sizeof(*call))) == NULL) {
        ember__command_done(ctx, EMBER_ENOMEM, NULL, NULL);
        return;
    }
    if (ember__command_host_arg(ctx, args, 1, call->host,
                                sizeof(call->host)) < 0) {
        free(call);
        return;
    }
    call->ctx = ctx;
    call->offset = offset;
    call->limit = limit;
    if (q != NULL && *q != '\0' && (call->q = strdup(q)) == NULL) {
        free(call);
        ember__command_done(ctx, EMBER_ENOMEM, NULL, NULL);
        return;
    }
    if ((rc = ember__account_list(call->host, search_listed, call)) < 0) {
        ember__command_donef(ctx, rc, "users of %s: %s", call->host,
                             ember_strerror(rc));
        free(call->q);
        free(call);
    }
}


/* The entries of `sessions` that belong to bare. */
static json_t *
sessions_of(const char *host, const char *bare)
{
    json_t *all = ember__sessions_describe(host), *mine = json_array(), *v;
    const char *jid;
    size_t i, n = strlen(bare);

    json_array_foreach(all, i, v) {
        jid = json_string_value(json_object_get(v, "jid"));
        if (jid != NULL && strncmp(jid, bare, n) == 0 && jid[n] == '/')
            json_array_append(mine, v);
    }
    json_decref(all);
    return mine;
}


static void
info_got(int status, json_t *doc, void *ud)
{
    info_call_t *call = ud;
    json_t *created;

    if (status == EMBER_ENOENT) {
        ember__command_donef(call->ctx, status, "no such user %s", call->bare);
    } else if (status < 0) {
        ember__command_donef(call->ctx, status, "%s: %s", call->bare,
                             ember_strerror(status));
    } else {
        created = json_object_get(doc, "created");
        ember__command_done(call->ctx, 0, json_pack(
            "{s:s, s:b, s:O, s:o}", "jid", call->bare,
            "locked", json_is_true(json_object_get(doc, "locked")),
            "created", created != NULL ? created : json_null(),
            "sessions", sessions_of(call->host, call->bare)), NULL);
    }
    free(call);
}


static void
cmd_user_info(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    ember_jid_t *j = ember__jid_parse(arg_str(args, "jid"));
    info_call_t *call = NULL;
    int rc;

    if (j == NULL || ember__jid_node(j) == NULL ||
        ember__jid_resource(j) != NULL) {
        ember__command_donef(ctx, EMBER_EINVAL, "%s: expected user@host",
                             arg_str(args, "jid"));
        goto out;
    }
    if (!ember__host_exists(ember__jid_domain(j))) {
        ember__command_donef(ctx, EMBER_EINVAL, "%s: unknown host %s",
                             ember__jid_bare(j), ember__jid_domain(j));
        goto out;
    }
    if ((call = calloc(1, sizeof(*call))) == NULL) {
        ember__command_done(ctx, EMBER_ENOMEM, NULL, NULL);
        goto out;
    }
    call->ctx = ctx;
    snprintf(call->host, sizeof(call->host), "%s", ember__jid_domain(j));
    snprintf(call->bare, sizeof(call->bare), "%s", ember__jid_bare(j));
    if ((rc = ember__account_get(call->host, ember__jid_node(j), info_got,
                                 call)) < 0) {
        if (rc == EMBER_ENOENT)
            ember__command_donef(ctx, rc, "no such user %s", call->bare);
        else
            ember__command_donef(ctx, rc, "%s: %s", call->bare,
                                 ember_strerror(rc));
        free(call);
    }
out:
    ember__jid_free(j);
}


/* ---- kick-session, message ---- */

static void
cmd_kick_session(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    const char *full = arg_str(args, "jid");
    ember_jid_t *j = ember__jid_parse(full);
    ember_session_t *s;

    if (need_online(ctx, "kick-session") < 0)
        goto out;
    if (j == NULL || ember__jid_resource(j) == NULL) {
        ember__command_donef(ctx, EMBER_EINVAL,
                             "%s: expected a full JID (user@host/resource)",
                             full);
        goto out;
    }
    if ((s = ember__session_by_full(ember__jid_full(j))) == NULL) {
        ember__command_donef(ctx, EMBER_ENOENT, "no session %s",
                             ember__jid_full(j));
        goto out;
    }
    ember__session_close(s, EMBER_KICK_CONDITION);
    ember__command_done(ctx, 0, json_pack("{s:b}", "ok", 1), NULL);
out:
    ember__jid_free(j);
}


static void
cmd_message(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    static unsigned long seq;
    const char *subject = arg_str(args, "subject");
    const char *from_s = arg_str(args, "from");
    ember_jid_t *to = ember__jid_parse(arg_str(args, "to")), *from = NULL;
    ember_stanza_t *msg = NULL, *c;
    char id[64];
    int rc;

    if (need_online(ctx, "message") < 0)
        goto out;
    if (to == NULL) {
        ember__command_donef(ctx, EMBER_EINVAL, "argument 'to': malformed JID");
        goto out;
    }
    if (from_s == NULL && !ember__host_exists(ember__jid_domain(to))) {
        ember__command_donef(ctx, EMBER_EINVAL,
                             "argument 'to': %s is not a local "
                             "host: give 'from'", ember__jid_domain(to));
        goto out;
    }
    from = ember__jid_parse(from_s != NULL ? from_s : ember__jid_domain(to));
    if (from == NULL || !ember__host_exists(ember__jid_domain(from))) {
        ember__command_donef(ctx, EMBER_EINVAL,
                             "argument 'from': %s is not a JID of "
                             "a local host", from_s);
        goto out;
    }
    snprintf(id, sizeof(id), "admin-%lx-%lu",
             (unsigned long) ember__uptime_ms(), ++seq);
    if ((msg = ember__stanza_new("message", NULL)) == NULL ||
        ember__stanza_set_attr(msg, "from", ember__jid_full(from)) < 0 ||
        ember__stanza_set_attr(msg, "to", ember__jid_full(to)) < 0 ||
        ember__stanza_set_attr(msg, "type", "normal") < 0 ||
        ember__stanza_set_attr(msg, "id", id) < 0 ||
        (subject != NULL &&
         ((c = ember__stanza_add_child(msg, "subject", NULL)) == NULL ||
          ember__stanza_add_text(c, subject) < 0)) ||
        (c = ember__stanza_add_child(msg, "body", NULL)) == NULL ||
        ember__stanza_add_text(c, arg_str(args, "body")) < 0) {
        ember__stanza_free(msg);
        ember__command_done(ctx, EMBER_ENOMEM, NULL, NULL);
        goto out;
    }
    if ((rc = ember__route_stanza(msg, NULL)) < 0)
        ember__command_donef(ctx, rc, "routing to %s: %s", ember__jid_full(to),
                             ember_strerror(rc));
    else
        ember__command_done(ctx, 0, json_pack("{s:b}", "ok", 1), NULL);
out:
    ember__jid_free(to);
    ember__jid_free(from);
}


/* ---- logs ---- */

static void
cmd_logs(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    const char *level_s = arg_str(args, "level");
    long long since, limit;
    uint64_t next;
    json_t *lines;
    int level = EMBER_LOG_DEBUG;

    if (int_arg(ctx, args, "since", 0, 0, LLONG_MAX, &since) < 0 ||
        int_arg(ctx, args, "limit", LOGS_DEFAULT_LIMIT, 1, LOGS_MAX_LIMIT,
                &limit) < 0)
        return;
    if (level_s != NULL && (level = ember__log_level_parse(level_s)) < 0) {
        ember__command_donef(ctx, EMBER_EINVAL,
                             "argument 'level': unknown level "
                             "'%s' (error, warn, info, debug)", level_s);
        return;
    }
    if ((lines = ember__log_recent((uint64_t) since, level, (size_t) limit,
                                   &next)) == NULL) {
        ember__command_done(ctx, EMBER_ENOMEM, NULL, NULL);
        return;
    }
    ember__command_done(ctx, 0, json_pack("{s:o, s:I}", "lines", lines,
                                          "next", (json_int_t) next), NULL);
}


/* ---- the config file ---- */

/* The running config's file, whole; NULL with a message in err. */
static char *
config_read(size_t *len, char *err, size_t errlen)
{
    const ember_config_t *cfg = ember__config();
    char *text = NULL;
    FILE *f;
    long n;

    if (cfg == NULL) {
        snprintf(err, errlen, "no configuration loaded");
        return NULL;
    }
    if ((f = fopen(cfg->path, "rb")) == NULL) {
        snprintf(err, errlen, "%s: %s", cfg->path, strerror(errno));
        return NULL;
    }
    if (fseek(f, 0, SEEK_END) < 0 || (n = ftell(f)) < 0 ||
        n > CONFIG_MAX_SIZE || fseek(f, 0, SEEK_SET) < 0 ||
        (text = malloc((size_t) n + 1)) == NULL ||
        fread(text, 1, (size_t) n, f) != (size_t) n) {
        snprintf(err, errlen, "%s: cannot read (%s)", cfg->path,
                 n > CONFIG_MAX_SIZE ? "too large" : strerror(errno));
        free(text);
        fclose(f);
        return NULL;
    }
    fclose(f);
    text[n] = '\0';
    *len = (size_t) n;
    return text;
}


/*
 * Check config text as `check` checks a file: written to a temporary file
 * next to the running one (so relative paths mean the same), loaded,
 * every module opened.  0, or EMBER_EINVAL with *line and msg (the
 * message without the file name), or another error with msg.
 */
static int
config_check_text(const char *text, long *line, char *msg, size_t msglen)
{
    const ember_config_t *cfg = ember__config();
    char tmp[PATH_MAX], err[1024], *end;
    const char *p;
    size_t tlen;
    int fd, rc;

    *line = 0;
    msg[0] = '\0';
    if (cfg == NULL) {
        snprintf(msg, msglen, "no configuration loaded");
        return EMBER_ESTATE;
    }
    if (strlen(text) > CONFIG_MAX_SIZE) {
        snprintf(msg, msglen, "config text larger than %d bytes",
                 CONFIG_MAX_SIZE);
        return EMBER_EINVAL;
    }
    snprintf(tmp, sizeof(tmp), "%s/.ember-check-XXXXXX", cfg->dir);
    if ((fd = mkstemp(tmp)) < 0) {
        snprintf(msg, msglen, "cannot create a temporary file in %s: %s",
                 cfg->dir, strerror(errno));
        return EMBER_EIO;
    }
    rc = ember__write_all(fd, text, strlen(text));
    if (close(fd) < 0 || rc < 0) {
        snprintf(msg, msglen, "cannot write %s: %s", tmp, strerror(errno));
        unlink(tmp);
        return EMBER_EIO;
    }
    err[0] = '\0';
    rc = ember__modules_check_file(tmp, err, sizeof(err));
    unlink(tmp);
    /* The check loaded another config: paths stay the running one's. */
    ember__config_use_data_dir(cfg->data_dir);
    if (rc == 0)
        return 0;
    p = err;
    tlen = strlen(tmp);
    if (strncmp(p, tmp, tlen) == 0 && p[tlen] == ':') {
        p += tlen + 1;
        *line = strtol(p, &end, 10);
        if (end != p && *end == ':') {
            p = end + 1;
            while (*p == ' ')
                p++;
        } else {
            *line = 0;
        }
    }
    snprintf(msg, msglen, "%s", *p != '\0' ? p : ember_strerror(rc));
    return rc == EMBER_ENOMEM ? rc : EMBER_EINVAL;
}


/* "ok", or why the reload failed (a new JSON string). */
static json_t *
reload_now(void)
{
    char err[1024];

    if (ember__server_offline())
        return json_string("emberd is not running: the file is written, "
                           "it applies at the next start");
    err[0] = '\0';
    if (ember__server_ops_reload(err, sizeof(err)) < 0)
        return json_string(err[0] != '\0' ? err : "reload failed");
    return json_string("ok");
}


/*
 * Check text, write it over the config file (the previous one kept as
 * FILE.bak), reload, and finish ctx with {"ok": true, "reload": ...}
 * plus the members of extra (stolen).
 */
static void
config_commit(ember_cmd_ctx_t *ctx, const char *text, json_t *extra)
{
    const ember_config_t *cfg = ember__config();
    char msg[1024], err[1024];
    json_t *res;
    long line;
    int rc;

    if ((rc = config_check_text(text, &line, msg, sizeof(msg))) < 0) {
        if (rc == EMBER_EINVAL && line > 0)
            ember__command_donef(ctx, rc, "line %ld: %s", line, msg);
        else
            ember__command_donef(ctx, rc, "%s", msg);
        goto out;
    }
    if ((rc = ember__write_atomic(cfg->path, text, strlen(text), -1, 1, err,
                                  sizeof(err))) < 0) {
        ember__command_donef(ctx, rc, "%s", err);
        goto out;
    }
    ember__log(EMBER_LOG_INFO, "core", "%s rewritten by an admin command "
               "(previous version in %s.bak)", cfg->path, cfg->path);
    res = json_pack("{s:b, s:o}", "ok", 1, "reload", reload_now());
    if (res != NULL && extra != NULL)
        json_object_update(res, extra);
    ember__command_done(ctx, res != NULL ? 0 : EMBER_ENOMEM, res, NULL);
out:
    json_decref(extra);
}


static void
cmd_config_get(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    char err[1024], *text;
    size_t len;

    if ((text = config_read(&len, err, sizeof(err))) == NULL) {
        ember__command_donef(ctx, EMBER_EIO, "%s", err);
        return;
    }
    ember__command_done(ctx, 0, json_pack("{s:s, s:s%}", "path",
                                          ember__config()->path, "text",
                                          text, len), NULL);
    free(text);
}


static void
cmd_config_check(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    char msg[1024];
    json_t *errors = json_array();
    long line;
    int rc;

    rc = config_check_text(arg_str(args, "text"), &line, msg, sizeof(msg));
    if (rc < 0 && rc != EMBER_EINVAL) {
        json_decref(errors);
        ember__command_donef(ctx, rc, "%s", msg);
        return;
    }
    if (rc < 0)
        json_array_append_new(errors, json_pack("{s:i, s:s}", "line",
                                                (int) line, "message", msg));
    ember__command_done(ctx, 0, json_pack("{s:b, s:o}", "ok", rc == 0,
                                          "errors", errors), NULL);
}


static void
cmd_config_set(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    config_commit(ctx, arg_str(args, "text"), NULL);
}


/* ---- DOM edits of the config ---- */

static void
dom_quiet(void *ud, xmlErrorPtr e)
{
}


/* The running config file as a DOM, or NULL with a message. */
static xmlDocPtr
dom_load(char *err, size_t errlen)
{
    xmlStructuredErrorFunc old_fn = xmlStructuredError;
    void *old_ud = xmlStructuredErrorContext;
    xmlDocPtr doc;
    xmlNodePtr root;
    size_t len;
    char *text;

    if ((text = config_read(&len, err, errlen)) == NULL)
        return NULL;
    xmlSetStructuredErrorFunc(NULL, dom_quiet);
    doc = xmlReadMemory(text, (int) len, ember__config()->path, NULL,
                        XML_PARSE_NONET | XML_PARSE_NOERROR |
                        XML_PARSE_NOWARNING | XML_PARSE_BIG_LINES);
    xmlSetStructuredErrorFunc(old_ud, old_fn);
    free(text);
    root = doc != NULL ? xmlDocGetRootElement(doc) : NULL;
    if (root == NULL || strcmp((const char *) root->name, "ember") != 0) {
        snprintf(err, errlen, "%s: not an Ember config (edit it with "
                 "config-set)", ember__config()->path);
        xmlFreeDoc(doc);
        return NULL;
    }
    return doc;
}


static int
dom_is(xmlNodePtr n, const char *name)
{
    return n->type == XML_ELEMENT_NODE &&
           strcmp((const char *) n->name, name) == 0;
}


/* Attribute `attr` of n equals value (after prep when prep_domain). */
static int
dom_attr_is(xmlNodePtr n, const char *attr, const char *value, int kind)
{
    xmlChar *v = xmlGetNoNsProp(n, (const xmlChar *) attr);
    char prepped[1024];
    ember_jid_t *j;
    int same = 0;

    if (v == NULL)
        return 0;
    if (kind == 1 && ember__jid_prep_domain((const char *) v, prepped,
                                            sizeof(prepped)) == 0)
        same = strcmp(prepped, value) == 0;
    else if (kind == 2 && (j = ember__jid_parse((const char *) v)) != NULL) {
        same = strcmp(ember__jid_full(j), value) == 0;
        ember__jid_free(j);
    } else if (kind == 0)
        same = strcmp((const char *) v, value) == 0;
    xmlFree(v);
    return same;
}


/* First child element of parent named `name` whose `attr` is value. */
static xmlNodePtr
dom_child(xmlNodePtr parent, const char *name, const char *attr,
          const char *value, int kind)
{
    xmlNodePtr n;

    for (n = parent->children; n != NULL; n = n->next)
        if (dom_is(n, name) &&
            (attr == NULL || dom_attr_is(n, attr, value, kind)))
            return n;
    return NULL;
}


/* The element that holds modules: <ember>, or <host> when host is set. */
static xmlNodePtr
dom_scope(xmlDocPtr doc, const char *host)
{
    xmlNodePtr root = xmlDocGetRootElement(doc);

    if (host == NULL || *host == '\0')
        return root;
    return dom_child(root, "host", "name", host, 1);
}


static int
blank_text(xmlNodePtr n)
{
    return n != NULL && n->type == XML_TEXT_NODE && xmlIsBlankNode(n);
}


/* Append node as the last element of parent, indented like its siblings. */
static void
dom_insert(xmlNodePtr parent, xmlNodePtr node)
{
    xmlNodePtr last = NULL, k, ws;
    char indent[64], child[80];

    for (k = parent->children; k != NULL; k = k->next)
        if (k->type == XML_ELEMENT_NODE)
            last = k;
    if (last != NULL) {
        ws = xmlNewText(blank_text(last->prev) ? last->prev->content
                                               : (const xmlChar *) "\n  ");
        xmlAddNextSibling(last, node);
        /* Before node, not after last: libxml2 merges adjacent text. */
        if (ws != NULL)
            xmlAddPrevSibling(node, ws);
        return;
    }
    snprintf(indent, sizeof(indent), "%s",
             blank_text(parent->prev) ? (const char *) parent->prev->content
                                      : "\n");
    snprintf(child, sizeof(child), "%s  ", indent);
    xmlAddChild(parent, xmlNewText(BAD_CAST child));
    xmlAddChild(parent, node);
    xmlAddChild(parent, xmlNewText(BAD_CAST indent));
}


static void
dom_remove(xmlNodePtr node)
{
    xmlNodePtr ws = node->prev;

    if (blank_text(ws)) {
        xmlUnlinkNode(ws);
        xmlFreeNode(ws);
    }
    xmlUnlinkNode(node);
    xmlFreeNode(node);
}


/* Serialize doc and commit it (config_commit); frees doc. */
static void
dom_commit(ember_cmd_ctx_t *ctx, xmlDocPtr doc, json_t *extra)
{
    xmlChar *buf = NULL;
    int len = 0;

    xmlDocDumpMemoryEnc(doc, &buf, &len, "UTF-8");
    xmlFreeDoc(doc);
    if (buf == NULL) {
        json_decref(extra);
        ember__command_done(ctx, EMBER_ENOMEM, NULL, NULL);
        return;
    }
    config_commit(ctx, (const char *) buf, extra);
    xmlFree(buf);
}


/*
 * The DOM and the module-holding element for args' "host" (the top level
 * without one), or finish the command.
 */
static xmlDocPtr
dom_for_host(ember_cmd_ctx_t *ctx, json_t *args, char *host, size_t hostlen,
             xmlNodePtr *scope)
{
    char err[1024];
    xmlDocPtr doc;

    if (ember__command_host_arg(ctx, args, 0, host, hostlen) < 0)
        return NULL;
    if ((doc = dom_load(err, sizeof(err))) == NULL) {
        ember__command_donef(ctx, EMBER_EIO, "%s", err);
        return NULL;
    }
    if ((*scope = dom_scope(doc, host)) == NULL) {
        xmlFreeDoc(doc);
        ember__command_donef(ctx, EMBER_ENOENT, "host %s is not in %s", host,
                             ember__config()->path);
        return NULL;
    }
    return doc;
}


static const char *
where(const char *host)
{
    return *host != '\0' ? host : "the top level (global)";
}


/* ---- modules ---- */

static int
module_name_ok(ember_cmd_ctx_t *ctx, const char *name)
{
    const char *p;

    for (p = name; *p != '\0'; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '-' || (*p >= 'A' && *p <= 'Z')))
            break;
    if (*name != '\0' && *p == '\0')
        return 0;
    ember__command_donef(ctx, EMBER_EINVAL,
                         "argument 'name': '%s' is not a module name", name);
    return EMBER_EINVAL;
}


static void
cmd_module_options(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    const char *name = arg_str(args, "name");
    char host[1024], err[1024];
    json_t *list;
    int rc;

    if (module_name_ok(ctx, name) < 0 ||
        ember__command_host_arg(ctx, args, 0, host, sizeof(host)) < 0)
        return;
    err[0] = '\0';
    rc = ember__module_options(ember__config(), name,
                               *host != '\0' ? host : NULL, &list, err,
                               sizeof(err));
    if (rc < 0)
        ember__command_donef(ctx, rc, "%s",
                             err[0] != '\0' ? err : ember_strerror(rc));
    else
        ember__command_done(ctx, 0, list, NULL);
}


/* An option value from JSON as the text of an attribute; NULL if bad. */
static char *
option_text(json_t *v)
{
    char *s;

    if (json_is_string(v))
        return strdup(json_string_value(v));
    if (json_is_boolean(v))
        return strdup(json_is_true(v) ? "true" : "false");
    if (json_is_integer(v) &&
        asprintf(&s, "%" JSON_INTEGER_FORMAT, json_integer_value(v)) >= 0)
        return s;
    return NULL;
}


static void
cmd_module_configure(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    const char *name = arg_str(args, "name"), *key;
    json_t *opts = json_object_get(args, "options"), *v;
    xmlNodePtr scope, mod;
    xmlDocPtr doc;
    char host[1024], *text;

    if (module_name_ok(ctx, name) < 0)
        return;
    if (!json_is_object(opts)) {
        ember__command_donef(ctx, EMBER_EINVAL,
                             "argument 'options' must be a JSON "
                             "object of option names and values");
        return;
    }
    if ((doc = dom_for_host(ctx, args, host, sizeof(host), &scope)) == NULL)
        return;
    if ((mod = dom_child(scope, "module", "name", name, 0)) == NULL) {
        xmlFreeDoc(doc);
        ember__command_donef(ctx, EMBER_ENOENT,
                             "module %s is not enabled at %s", name,
                             where(host));
        return;
    }
    json_object_foreach(opts, key, v) {
        if (strcmp(key, "name") == 0 || *key == '\0' ||
            xmlValidateNCName(BAD_CAST key, 0) != 0) {
            xmlFreeDoc(doc);
            ember__command_donef(ctx, EMBER_EINVAL,
                                 "option '%s': not an option name", key);
            return;
        }
        if (json_is_null(v)) {
            xmlUnsetProp(mod, BAD_CAST key);   /* back to the default */
            continue;
        }
        if ((text = option_text(v)) == NULL) {
            xmlFreeDoc(doc);
            ember__command_donef(ctx, EMBER_EINVAL,
                                 "option '%s': the value must be "
                                 "a string, an integer, a boolean or null",
                                 key);
            return;
        }
        xmlSetProp(mod, BAD_CAST key, BAD_CAST text);
        free(text);
    }
    /* The check applies the module's option table: type, range and
     * unknown names are refused there, naming the option. */
    dom_commit(ctx, doc, NULL);
}


static void
cmd_module_enable(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    const char *name = arg_str(args, "name");
    xmlNodePtr scope, mod;
    xmlDocPtr doc;
    char host[1024];

    if (module_name_ok(ctx, name) < 0)
        return;
    if (!ember__plugin_exists(ember__config(), name)) {
        ember__command_donef(ctx, EMBER_ENOENT,
                             "no plugin mod_%s.so in the plugin directories",
                             name);
        return;
    }
    if ((doc = dom_for_host(ctx, args, host, sizeof(host), &scope)) == NULL)
        return;
    if (dom_child(scope, "module", "name", name, 0) != NULL) {
        xmlFreeDoc(doc);
        ember__command_donef(ctx, EMBER_EEXIST,
                             "module %s is already enabled at %s", name,
                             where(host));
        return;
    }
    if ((mod = xmlNewNode(NULL, BAD_CAST "module")) == NULL) {
        xmlFreeDoc(doc);
        ember__command_done(ctx, EMBER_ENOMEM, NULL, NULL);
        return;
    }
    xmlSetProp(mod, BAD_CAST "name", BAD_CAST name);
    dom_insert(scope, mod);
    dom_commit(ctx, doc, NULL);
}


static void
cmd_module_disable(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    const char *name = arg_str(args, "name");
    xmlNodePtr scope, mod;
    xmlDocPtr doc;
    char host[1024];

    if (module_name_ok(ctx, name) < 0)
        return;
    if ((doc = dom_for_host(ctx, args, host, sizeof(host), &scope)) == NULL)
        return;
    if ((mod = dom_child(scope, "module", "name", name, 0)) == NULL) {
        xmlFreeDoc(doc);
        ember__command_donef(ctx, EMBER_ENOENT,
                             "module %s is not enabled at %s", name,
                             where(host));
        return;
    }
    dom_remove(mod);
    dom_commit(ctx, doc, NULL);
}


static void
cmd_module_reload(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    const char *name = arg_str(args, "name");
    const ember_config_t *cfg = ember__config();
    char host[1024], err[1024];
    int rc;

    if (module_name_ok(ctx, name) < 0 || need_online(ctx, "module-reload") < 0
        || ember__command_host_arg(ctx, args, 0, host, sizeof(host)) < 0)
        return;
    err[0] = '\0';
    rc = ember__module_load(cfg, name, *host != '\0' ? host : NULL, err,
                            sizeof(err));
    /* Unloading took the modules that depend on it along: back they come. */
    ember__modules_sync(cfg);
    if (rc < 0)
        ember__command_donef(ctx, rc == EMBER_ENOENT ? rc : EMBER_EIO, "%s",
                             err[0] != '\0' ? err : ember_strerror(rc));
    else
        ember__command_done(ctx, 0, json_pack("{s:b}", "ok", 1), NULL);
}


/* ---- admins ---- */

static void
cmd_admins(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    const ember_config_t *cfg = ember__config();
    json_t *list = json_array();
    size_t i;

    for (i = 0; cfg != NULL && cfg->admins != NULL && cfg->admins[i] != NULL;
         i++)
        json_array_append_new(list, json_string(cfg->admins[i]));
    ember__command_done(ctx, 0, list, NULL);
}


/* The prepared bare JID of args' "jid" into out, or finish. */
static int
admin_jid(ember_cmd_ctx_t *ctx, json_t *args, char *out, size_t outlen)
{
    ember_jid_t *j = ember__jid_parse(arg_str(args, "jid"));

    if (j == NULL || ember__jid_resource(j) != NULL ||
        ember__jid_node(j) == NULL) {
        ember__command_donef(ctx, EMBER_EINVAL,
                             "%s: expected a bare JID user@host",
                             arg_str(args, "jid"));
        ember__jid_free(j);
        return EMBER_EINVAL;
    }
    snprintf(out, outlen, "%s", ember__jid_bare(j));
    ember__jid_free(j);
    return 0;
}


static void
admin_edit(ember_cmd_ctx_t *ctx, json_t *args, int add)
{
    xmlNodePtr root, n;
    xmlDocPtr doc;
    char jid[2048], err[1024];

    if (admin_jid(ctx, args, jid, sizeof(jid)) < 0)
        return;
    if ((doc = dom_load(err, sizeof(err))) == NULL) {
        ember__command_donef(ctx, EMBER_EIO, "%s", err);
        return;
    }
    root = xmlDocGetRootElement(doc);
    n = dom_child(root, "admin", "jid", jid, 2);
    if (add && n != NULL) {
        xmlFreeDoc(doc);
        ember__command_donef(ctx, EMBER_EEXIST, "%s is already an admin", jid);
        return;
    }
    if (!add && n == NULL) {
        xmlFreeDoc(doc);
        ember__command_donef(ctx, EMBER_ENOENT, "%s is not an admin", jid);
        return;
    }
    if (add) {
        if ((n = xmlNewNode(NULL, BAD_CAST "admin")) == NULL) {
            xmlFreeDoc(doc);
            ember__command_done(ctx, EMBER_ENOMEM, NULL, NULL);
            return;
        }
        xmlSetProp(n, BAD_CAST "jid", BAD_CAST jid);
        dom_insert(root, n);
    } else {
        /* Every spelling of that JID goes. */
        do
            dom_remove(n);
        while ((n = dom_child(root, "admin", "jid", jid, 2)) != NULL);
    }
    dom_commit(ctx, doc, NULL);
}


static void
cmd_admin_add(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    admin_edit(ctx, args, 1);
}


static void
cmd_admin_remove(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    admin_edit(ctx, args, 0);
}


/* ---- certificates ---- */

/* <data>/tls/HOST.pem and .key, the directory created (0700). */
static int
cert_paths(ember_cmd_ctx_t *ctx, const char *host, char *cert, char *key,
           size_t len)
{
    const ember_config_t *cfg = ember__config();
    char dir[PATH_MAX];

    snprintf(dir, sizeof(dir), "%s/tls", cfg->data_dir);
    if (mkdir(cfg->data_dir, 0700) < 0 && errno != EEXIST) {
        ember__command_donef(ctx, EMBER_EIO, "mkdir %s: %s", cfg->data_dir,
                             strerror(errno));
        return EMBER_EIO;
    }
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        ember__command_donef(ctx, EMBER_EIO, "mkdir %s: %s", dir,
                             strerror(errno));
        return EMBER_EIO;
    }
    if ((size_t) snprintf(cert, len, "%s/%s.pem", dir, host) >= len ||
        (size_t) snprintf(key, len, "%s/%s.key", dir, host) >= len) {
        ember__command_donef(ctx, EMBER_EINVAL, "%s: path too long", dir);
        return EMBER_EINVAL;
    }
    return 0;
}


/* Point host's <tls> at cert and key, write, reload, finish. */
static void
cert_install(ember_cmd_ctx_t *ctx, const char *host, const char *cert,
             const char *key, json_t *extra)
{
    xmlNodePtr scope, tls;
    xmlDocPtr doc;
    char err[1024];

    if ((doc = dom_load(err, sizeof(err))) == NULL) {
        json_decref(extra);
        ember__command_donef(ctx, EMBER_EIO, "%s", err);
        return;
    }
    if ((scope = dom_scope(doc, host)) == NULL) {
        xmlFreeDoc(doc);
        json_decref(extra);
        ember__command_donef(ctx, EMBER_ENOENT, "host %s is not in %s", host,
                             ember__config()->path);
        return;
    }
    if ((tls = dom_child(scope, "tls", NULL, NULL, 0)) == NULL) {
        if ((tls = xmlNewNode(NULL, BAD_CAST "tls")) == NULL) {
            xmlFreeDoc(doc);
            json_decref(extra);
            ember__command_done(ctx, EMBER_ENOMEM, NULL, NULL);
            return;
        }
        dom_insert(scope, tls);
    }
    xmlSetProp(tls, BAD_CAST "cert", BAD_CAST cert);
    xmlSetProp(tls, BAD_CAST "key", BAD_CAST key);
    dom_commit(ctx, doc, extra);
}


static void
cmd_cert_upload(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    const char *cert_pem = arg_str(args, "cert"), *key_pem = arg_str(args,
                                                                    "key");
    char host[1024], cert[PATH_MAX], key[PATH_MAX], err[1024];
    json_t *warnings = json_array(), *not_after = NULL;
    int rc;

    if (ember__command_host_arg(ctx, args, 1, host, sizeof(host)) < 0)
        goto fail;
    if (ember__cert_check_pair(cert_pem, key_pem, host, warnings, &not_after,
                               err, sizeof(err)) < 0) {
        ember__command_donef(ctx, EMBER_EINVAL, "%s", err);
        goto fail;
    }
    if (cert_paths(ctx, host, cert, key, sizeof(cert)) < 0)
        goto fail;
    /* Key first: a certificate never points at a key it does not match
     * for longer than the two renames. */
    if ((rc = ember__write_atomic(key, key_pem, strlen(key_pem), 0600, 0,
                                  err, sizeof(err))) < 0 ||
        (rc = ember__write_atomic(cert, cert_pem, strlen(cert_pem), 0644, 0,
                                  err, sizeof(err))) < 0) {
        ember__command_donef(ctx, rc, "%s", err);
        goto fail;
    }
    cert_install(ctx, host, cert, key,
                 json_pack("{s:o, s:o}", "not_after", not_after,
                           "warnings", warnings));
    return;

fail:
    json_decref(warnings);
    json_decref(not_after);
}


static void
cmd_cert_generate(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    char host[1024], cert[PATH_MAX], key[PATH_MAX];
    const char *names[2];
    json_t *info = NULL, *not_after;
    int rc;

    if (ember__command_host_arg(ctx, args, 1, host, sizeof(host)) < 0 ||
        cert_paths(ctx, host, cert, key, sizeof(cert)) < 0)
        return;
    names[0] = host;
    names[1] = NULL;
    if ((rc = ember__cert_generate(cert, key, names, CERT_DAYS)) < 0) {
        ember__command_donef(ctx, rc,
                             "cannot write a certificate for %s at %s: %s",
                             host, cert, ember_strerror(rc));
        return;
    }
    ember__cert_info(cert, &info);
    not_after = json_object_get(info, "not_after");
    cert_install(ctx, host, cert, key,
                 json_pack("{s:O}", "not_after",
                           not_after != NULL ? not_after : json_null()));
    json_decref(info);
}


/* ---- the table ---- */

static const ember_cmd_arg_t args_search[] = {
    { "host", EMBER_ARG_STRING, 1, "a virtual host of the config" },
    { "q", EMBER_ARG_STRING, 0, "only names containing this" },
    { "offset", EMBER_ARG_INT, 0, "skip this many matches (default 0)" },
    { "limit", EMBER_ARG_INT, 0, "at most this many (default 50, max 500)" },
    { NULL, 0, 0, NULL }
};
static const ember_cmd_arg_t args_bare[] = {
    { "jid", EMBER_ARG_JID, 1, "the account, user@host" },
    { NULL, 0, 0, NULL }
};
static const ember_cmd_arg_t args_full[] = {
    { "jid", EMBER_ARG_JID, 1, "the session, user@host/resource" },
    { NULL, 0, 0, NULL }
};
static const ember_cmd_arg_t args_message[] = {
    { "to", EMBER_ARG_JID, 1, "the recipient" },
    { "body", EMBER_ARG_STRING, 1, "the text" },
    { "subject", EMBER_ARG_STRING, 0, "a subject line" },
    { "from", EMBER_ARG_JID, 0, "sender (default: the recipient's host)" },
    { NULL, 0, 0, NULL }
};
static const ember_cmd_arg_t args_logs[] = {
    { "since", EMBER_ARG_INT, 0, "only lines after this id (default 0)" },
    { "level", EMBER_ARG_STRING, 0, "minimum level: error, warn, info, "
      "debug" },
    { "limit", EMBER_ARG_INT, 0, "at most this many (default 200)" },
    { NULL, 0, 0, NULL }
};
static const ember_cmd_arg_t args_text[] = {
    { "text", EMBER_ARG_STRING, 1, "the whole config file" },
    { NULL, 0, 0, NULL }
};
static const ember_cmd_arg_t args_module[] = {
    { "name", EMBER_ARG_STRING, 1, "module name" },
    { "host", EMBER_ARG_STRING, 0, "virtual host (absent: global)" },
    { NULL, 0, 0, NULL }
};
static const ember_cmd_arg_t args_configure[] = {
    { "name", EMBER_ARG_STRING, 1, "module name" },
    { "options", EMBER_ARG_JSON, 1, "{\"option\": value, ...}; null "
      "restores the default" },
    { "host", EMBER_ARG_STRING, 0, "virtual host (absent: global)" },
    { NULL, 0, 0, NULL }
};
static const ember_cmd_arg_t args_upload[] = {
    { "host", EMBER_ARG_STRING, 1, "a virtual host of the config" },
    { "cert", EMBER_ARG_STRING, 1, "PEM certificate, leaf first (chain "
      "allowed)" },
    { "key", EMBER_ARG_SECRET, 1, "PEM private key, unencrypted" },
    { NULL, 0, 0, NULL }
};
static const ember_cmd_arg_t args_host[] = {
    { "host", EMBER_ARG_STRING, 1, "a virtual host of the config" },
    { NULL, 0, 0, NULL }
};

static const ember_command_t admin_commands[] = {
    { "user-search", "Accounts of a host matching a substring, by page",
      args_search, "admin", cmd_user_search },
    { "user-info", "One account: locked, created, sessions", args_bare,
      "admin", cmd_user_info },
    { "kick-session", "Close one session (policy-violation)", args_full,
      "admin", cmd_kick_session },
    { "message", "Send a message from the server", args_message, "admin",
      cmd_message },
    { "logs", "Recent log lines", args_logs, "admin", cmd_logs },
    { "config-get", "The config file as it is on disk", NULL, "admin",
      cmd_config_get },
    { "config-check", "Check config text without writing it", args_text,
      "admin", cmd_config_check },
    { "config-set", "Check, write (FILE.bak kept) and reload the config",
      args_text, "admin", cmd_config_set },
    { "module-options", "A module's options: type, default, current value",
      args_module, "admin", cmd_module_options },
    { "module-configure", "Set a module's options in the config, reload",
      args_configure, "admin", cmd_module_configure },
    { "module-enable", "Enable a module in the config, reload", args_module,
      "admin", cmd_module_enable },
    { "module-disable", "Remove a module from the config, reload",
      args_module, "admin", cmd_module_disable },
    { "module-reload", "Unload and load one module instance again",
      args_module, "admin", cmd_module_reload },
    { "admins", "The admin JIDs of the config", NULL, "admin", cmd_admins },
    { "admin-add", "Make a JID an admin (config), reload", args_bare,
      "admin", cmd_admin_add },
    { "admin-remove", "Remove an admin JID (config), reload", args_bare,
      "admin", cmd_admin_remove },
    { "cert-upload", "Install a host's certificate and key, reload",
      args_upload, "admin", cmd_cert_upload },
    { "cert-generate", "New self-signed certificate for a host, reload",
      args_host, "admin", cmd_cert_generate },
};


void
ember__commands_admin_init(void)
{
    size_t i;
    int rc;

    for (i = 0; i < sizeof(admin_commands) / sizeof(admin_commands[0]); i++)
        if ((rc = ember__command_register(NULL, &admin_commands[i], NULL)) < 0
            && rc != EMBER_EEXIST)
            LOG_E("command %s: %s", admin_commands[i].name,
                  ember_strerror(rc));
}
