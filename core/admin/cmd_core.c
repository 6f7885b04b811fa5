/* core/cmd_core.c -- the core's own admin commands (emberctl, console). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <csv.h>
#include <jansson.h>

#include "store/accounts.h"
#include "net/certgen.h"
#include "admin/cmd_admin.h"
#include "runtime/commands.h"
#include "base/config.h"
#include "base/jid.h"
#include "base/log.h"
#include "runtime/modules.h"
#include "base/process.h"
#include "cluster/cluster.h"
#include "xmpp/component.h"
#include "xmpp/s2s.h"
#include "xmpp/session.h"

static const ember__server_ops_t *server_ops;

/*
 * Stream error sent to the sessions that `kick` closes: RFC 6120 4.9.3.14
 * policy-violation ("the entity has violated some local service policy"),
 * the condition meant for an administrator's decision.  Deleted or locked
 * accounts get not-authorized from core/accounts.c instead.
 */

/* An account command in flight: the JID is kept for the messages. */
typedef struct acct_call_s {
    ember_cmd_ctx_t *ctx;
    const char *verb;
    char jid[];
} acct_call_t;


/* Why an account operation on jid failed, in the operator's words. */
static void
account_error_text(int status, const char *jid, char *out, size_t outlen)
{
    switch (status) {
    case EMBER_EEXIST:
        snprintf(out, outlen, "user %s already exists", jid);
        break;
    case EMBER_ENOENT:
        snprintf(out, outlen, "no such user %s", jid);
        break;
    case EMBER_EBUSY:
        snprintf(out, outlen, "another change of %s is in progress", jid);
        break;
    case EMBER_ENOTSUP:
        snprintf(out, outlen, "no storage backend is loaded (add <module "
                 "name=\"storage_sqlite\"/> to the config)");
        break;
    case EMBER_EPERM:
        snprintf(out, outlen, "%s: the passwords of its host are kept by an "
                 "authentication provider (change them there)", jid);
        break;
    case EMBER_EINVAL:
        snprintf(out, outlen, "invalid user name or password for %s", jid);
        break;
    default:
        snprintf(out, outlen, "%s: %s", jid, ember_strerror(status));
        break;
    }
}


static void
done_account_error(ember_cmd_ctx_t *ctx, int status, const char *jid)
{
    char msg[2300];

    account_error_text(status, jid, msg, sizeof(msg));
    ember__command_done(ctx, status, NULL, msg);
}


/*
 * s as an account's JID on a configured host, or NULL with why in err
 * (made for the operator).
 */
static ember_jid_t *
account_jid_parse(const char *s, char *err, size_t errlen)
{
    ember_jid_t *j;

    if (s == NULL || (j = ember__jid_parse(s)) == NULL) {
        snprintf(err, errlen, "malformed JID");
        return NULL;
    }
    if (ember__jid_node(j) == NULL || ember__jid_resource(j) != NULL) {
        snprintf(err, errlen, "%s: expected user@host", s);
        goto fail;
    }
    if (!ember__host_exists(ember__jid_domain(j))) {
        snprintf(err, errlen, "%s: unknown host %s", s, ember__jid_domain(j));
        goto fail;
    }
    return j;

fail:
    ember__jid_free(j);
    return NULL;
}


/*
 * Split the checked JID argument into account name and host.  On failure
 * the command is finished and NULL returned.
 */
static ember_jid_t *
account_jid(ember_cmd_ctx_t *ctx, json_t *args)
{
    char err[2300];
    ember_jid_t *j;

    j = account_jid_parse(json_string_value(json_object_get(args, "jid")),
                          err, sizeof(err));
    if (j == NULL)
        ember__command_done(ctx, EMBER_EINVAL, NULL, err);
    return j;
}


static void
account_done(int status, json_t *result, void *ud)
{
    acct_call_t *call = ud;

    if (status < 0)
        done_account_error(call->ctx, status, call->jid);
    else
        ember__command_done(call->ctx, 0,
                            json_pack("{s:s, s:s}", "jid", call->jid,
                                      "done", call->verb),
                            NULL);
    free(call);
}


/* Start one accounts.h operation on the command's JID. */
static void
account_op(ember_cmd_ctx_t *ctx, json_t *args, const char *verb)
{
    const char *password = json_string_value(json_object_get(args,
                                                             "password"));
    const char *host, *user;
    acct_call_t *call;
    ember_jid_t *j;
    size_t len;
    int err;

    if ((j = account_jid(ctx, args)) == NULL)
        return;
    host = ember__jid_domain(j);
    user = ember__jid_node(j);
    len = strlen(ember__jid_bare(j)) + 1;
    if ((call = malloc(sizeof(*call) + len)) == NULL) {
        ember__jid_free(j);
        ember__command_done(ctx, EMBER_ENOMEM, NULL, NULL);
        return;
    }
    call->ctx = ctx;
    call->verb = verb;
    memcpy(call->jid, ember__jid_bare(j), len);
    if (strcmp(verb, "created") == 0)
        err = ember__account_create(host, user, password, account_done,
                                    call);
    else if (strcmp(verb, "password changed") == 0)
        err = ember__account_set_password(host, user, password,
                                          account_done, call);
    else if (strcmp(verb, "deleted") == 0)
        err = ember__account_delete(host, user, account_done, call);
    else
        err = ember__account_lock(host, user, strcmp(verb, "locked") == 0,
                                  ember__command_str(args, "reason"),
                                  account_done, call);
    ember__jid_free(j);
    if (err < 0) {
        done_account_error(ctx, err, call->jid);
        free(call);
    }
}


static void
cmd_adduser(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    account_op(ctx, args, "created");
}


static void
cmd_passwd(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    account_op(ctx, args, "password changed");
}


static void
cmd_deluser(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    account_op(ctx, args, "deleted");
}


static void
cmd_lock(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    account_op(ctx, args, "locked");
}


static void
cmd_unlock(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    account_op(ctx, args, "unlocked");
}


static void
users_done(int status, json_t *result, void *ud)
{
    ember_cmd_ctx_t *ctx = ud;

    if (status == EMBER_ENOENT)
        ember__command_done(ctx, 0, json_array(), NULL);
    else if (status < 0)
        done_account_error(ctx, status, "users");
    else
        ember__command_done(ctx, 0, json_incref(result), NULL);
}


static void
cmd_users(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    char host[1024];
    int err;

    if (ember__command_host_arg(ctx, args, 1, host, sizeof(host)) < 0)
        return;
    if ((err = ember__account_list(host, users_done, ctx)) < 0)
        done_account_error(ctx, err, host);
}


static void
cmd_check(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    const char *path = json_string_value(json_object_get(args, "path"));
    const ember_config_t *running = ember__config();
    char err[1024];
    int rc;

    /* Another file would name plugin directories to open code from. */
    if (path != NULL && ember__command_caller(ctx) != EMBER_CALLER_LOCAL &&
        (running == NULL || strcmp(path, running->path) != 0)) {
        ember__command_donef(ctx, EMBER_EPERM, "check: another file than "
                             "the running config only through the control "
                             "socket (emberctl)");
        return;
    }
    if (path == NULL && running != NULL)
        path = running->path;
    if (path == NULL) {
        ember__command_donef(ctx, EMBER_EINVAL, "no config file to check");
        return;
    }
    err[0] = '\0';
    if ((rc = ember__modules_check_file(path, err, sizeof(err))) < 0) {
        ember__command_done(ctx, rc, NULL, err[0] != '\0' ? err : NULL);
        return;
    }
    ember__command_done(ctx, 0,
                        json_pack("{s:b, s:s}", "ok", 1, "path", path), NULL);
}


static void
cmd_modules(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    ember__command_done(ctx, 0, ember__modules_describe(), NULL);
}


static void
cmd_plugins(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    const ember_config_t *cfg = ember__config();
    json_t *list;

    if (cfg == NULL) {
        ember__command_donef(ctx, EMBER_ESTATE, "no configuration loaded");
        return;
    }
    if ((list = ember__plugins_available(cfg)) == NULL) {
        ember__command_donef(ctx, EMBER_ENOMEM, "out of memory");
        return;
    }
    ember__command_done(ctx, 0, list, NULL);
}


static void
cmd_reload(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    char err[1024];
    int rc;

    err[0] = '\0';
    if ((rc = server_ops->reload(err, sizeof(err))) < 0)
        ember__command_done(ctx, rc, NULL, err[0] != '\0' ? err : NULL);
    else
        ember__command_done(ctx, 0, json_pack("{s:b}", "ok", 1), NULL);
}


static void
cmd_status(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    json_t *st;

    if (ember__command_need_online(ctx, "status") < 0)
        return;
    if ((st = server_ops != NULL ? server_ops->status() : NULL) == NULL)
        ember__command_done(ctx, EMBER_ENOMEM, NULL, NULL);
    else
        ember__command_done(ctx, 0, st, NULL);
}


static void
cmd_sessions(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    char host[1024];
    json_t *list, *cl, *node, *o, *remote;
    size_t i;

    if (json_object_get(args, "host") != NULL &&
        ember__command_host_arg(ctx, args, 1, host, sizeof(host)) < 0)
        return;
    list = ember__sessions_describe(json_object_get(args, "host") != NULL
                                        ? host : NULL);
    /* Clustered: this node's sessions say so, the others' follow (from
     * the mirror of the registry). */
    if (list != NULL && (cl = ember__cluster_describe()) != NULL) {
        node = json_object_get(cl, "node");
        json_array_foreach(list, i, o)
            json_object_set(o, "node", node);
        json_array_extend(list, remote = ember__cluster_sessions(
                                    json_object_get(args, "host") != NULL
                                        ? host : NULL));
        json_decref(remote);
        json_decref(cl);
    }
    ember__command_done(ctx, 0, list != NULL ? list : json_array(), NULL);
}


static void
cmd_components(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    json_t *list;

    if (ember__command_need_online(ctx, "components") < 0)
        return;
    list = ember__components_describe();
    ember__command_done(ctx, list != NULL ? 0 : EMBER_ENOMEM, list, NULL);
}


static void
cmd_kick(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    ember_jid_t *j;
    int rc;

    if ((j = account_jid(ctx, args)) == NULL)
        return;
    rc = ember__sessions_close_user(ember__jid_domain(j), ember__jid_node(j),
                                    EMBER_KICK_CONDITION);
    if (rc < 0)
        ember__command_donef(ctx, rc, "%s: %s", ember__jid_bare(j),
                             ember_strerror(rc));
    else
        ember__command_done(ctx, 0,
                            json_pack("{s:s, s:i}", "jid", ember__jid_bare(j),
                                      "closed", rc),
                            NULL);
    ember__jid_free(j);
}


static json_t *
cert_entry(const char *host, const char *cert)
{
    json_t *info = NULL;
    int rc;

    if (cert == NULL)
        return NULL;
    if ((rc = ember__cert_info(cert, &info)) < 0)
        info = json_pack("{s:s}", "error", ember_strerror(rc));
    if (info == NULL)
        return NULL;
    json_object_set_new(info, "host", host != NULL ? json_string(host)
                                                   : json_null());
    json_object_set_new(info, "file", json_string(cert));
    return info;
}


static void
cmd_certs(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    const ember_config_t *cfg = ember__config();
    const ember_host_conf_t *h;
    json_t *list, *e;

    if (cfg == NULL) {
        ember__command_donef(ctx, EMBER_ESTATE, "no configuration loaded");
        return;
    }
    if ((list = json_array()) == NULL) {
        ember__command_done(ctx, EMBER_ENOMEM, NULL, NULL);
        return;
    }
    if ((e = cert_entry(NULL, cfg->cert_file)) != NULL)
        json_array_append_new(list, e);
    for (h = cfg->hosts; h != NULL; h = h->next)
        if ((e = cert_entry(h->name, h->cert_file)) != NULL)
            json_array_append_new(list, e);
    ember__command_done(ctx, 0, list, NULL);
}


static void
cmd_s2s(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    const ember_config_t *cfg = ember__config();
    json_t *blocked = json_array();
    char **b;

    for (b = cfg->s2s.blocked; b != NULL && *b != NULL; b++)
        json_array_append_new(blocked, json_string(*b));
    ember__command_done(ctx, 0,
                        json_pack("{s:o, s:o, s:o}", "links",
                                  ember__s2s_links(), "failures",
                                  ember__s2s_failures(), "blocked", blocked),
                        NULL);
}


static void
cmd_s2s_close(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    const char *domain = json_string_value(json_object_get(args, "domain"));
    char prepped[1024];

    if (domain == NULL ||
        ember__jid_prep_domain(domain, prepped, sizeof(prepped)) < 0) {
        ember__command_donef(ctx, EMBER_EINVAL, "'%s' is not a domain",
                             domain != NULL ? domain : "");
        return;
    }
    ember__command_done(ctx, 0,
                        json_pack("{s:s, s:i}", "domain", prepped, "closed",
                                  ember__s2s_close_domain(prepped)),
                        NULL);
}


/* ---- users-import-csv: accounts from RFC 4180 text ---- */

#define CSV_MAX_BYTES (1u << 20)
#define CSV_MAX_ROWS 10000
/* jid, password, name, email */
#define CSV_COLUMNS 4

typedef struct csv_row_s {
    unsigned line;             /* where the record starts, from 1 */
    size_t nfields;            /* as found, even past CSV_COLUMNS */
    char *field[CSV_COLUMNS];
} csv_row_t;

/* One import: parsed completely first, then one account at a time. */
typedef struct csv_import_s {
    ember_cmd_ctx_t *ctx;
    csv_row_t *rows;
    size_t nrows, cap;
    csv_row_t cur;
    unsigned line;             /* the line of the byte being parsed */
    int in_record, records, failed;
    size_t next;               /* the row to start next */
    size_t created;
    int waiting, stepping;     /* an account call is out; in csv_step */
    char jid[3072];            /* the running row's account, for messages */
    char host[1024], user[1024];
    json_t *results;
} csv_import_t;


static void
csv_row_clear(csv_row_t *row)
{
    size_t i;

    for (i = 0; i < CSV_COLUMNS; i++) {
        if (row->field[i] != NULL) {
            explicit_bzero(row->field[i], strlen(row->field[i]));
            free(row->field[i]);
        }
    }
    memset(row, 0, sizeof(*row));
}


static void
csv_import_free(csv_import_t *imp)
{
    size_t i;

    for (i = 0; i < imp->nrows; i++)
        csv_row_clear(&imp->rows[i]);
    csv_row_clear(&imp->cur);
    free(imp->rows);
    json_decref(imp->results);
    free(imp);
}


static void
csv_on_field(void *s, size_t len, void *ud)
{
    csv_import_t *imp = ud;
    csv_row_t *row = &imp->cur;

    if (row->nfields < CSV_COLUMNS &&
        (row->field[row->nfields] = strndup(s != NULL ? s : "", len))
            == NULL)
        imp->failed = 1;
    row->nfields++;
}


static void
csv_on_record(int terminator, void *ud)
{
    csv_import_t *imp = ud;
    csv_row_t *row = &imp->cur, *grown;

    imp->in_record = 0;
    /* Blanks only (RFC 4180 keeps them) is a blank line; a first field
     * of exactly "jid" on the first line that is not blank is the
     * header. */
    if (row->nfields == 0 ||
        (row->nfields == 1 && strspn(row->field[0], " \t") ==
                                  strlen(row->field[0])) ||
        (imp->records++ == 0 && strcmp(row->field[0], "jid") == 0)) {
        csv_row_clear(row);
        return;
    }
    if (imp->nrows == imp->cap) {
        size_t cap = imp->cap != 0 ? imp->cap * 2 : 64;

        if ((grown = realloc(imp->rows, cap * sizeof(*grown))) == NULL) {
            imp->failed = 1;
            csv_row_clear(row);
            return;
        }
        imp->rows = grown;
        imp->cap = cap;
    }
    imp->rows[imp->nrows++] = *row;
    memset(row, 0, sizeof(*row));
}


/* RFC 4180: spaces belong to the field. */
static int
csv_no_space(unsigned char c)
{
    return 0;
}


/*
 * Parse text into imp->rows, every record with the line it starts on.
 * 0, or an error with why in err: nothing is created from text that is
 * not CSV throughout.
 */
static int
csv_parse_all(csv_import_t *imp, const char *text, size_t len, char *err,
              size_t errlen)
{
    struct csv_parser p;
    unsigned start = 1;
    size_t i;
    int rc = 0;

    if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL) != 0)
        return EMBER_ENOMEM;
    csv_set_space_func(&p, csv_no_space);
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        i = 3;
    else
        i = 0;
    /* A byte at a time: libcsv tells where a record ends, not where it
     * starts, and the operator needs the line. */
    for (imp->line = 1; i < len && rc == 0; i++) {
        if (!imp->in_record && text[i] != '\r' && text[i] != '\n') {
            imp->in_record = 1;
            start = imp->line;
        }
        if (csv_parse(&p, text + i, 1, csv_on_field, csv_on_record, imp)
            != 1)
            rc = EMBER_EINVAL;
        else if (imp->in_record)
            imp->cur.line = start;
        if (text[i] == '\n')
            imp->line++;
        if (imp->nrows > CSV_MAX_ROWS)
            break;
    }
    if (rc == 0 && imp->nrows <= CSV_MAX_ROWS &&
        csv_fini(&p, csv_on_field, csv_on_record, imp) != 0)
        rc = EMBER_EINVAL;
    if (rc < 0 && imp->in_record)
        snprintf(err, errlen, "line %u: %s (the record starting there)",
                 start, csv_error(&p) == CSV_EPARSE && i >= len
                            ? "unterminated quote"
                            : "malformed quoting: a quote inside an "
                              "unquoted field or text after a closing "
                              "quote");
    else if (rc < 0)
        snprintf(err, errlen, "line %u: %s", imp->line,
                 csv_strerror(csv_error(&p)));
    csv_free(&p);
    if (rc == 0 && imp->nrows > CSV_MAX_ROWS) {
        snprintf(err, errlen, "more than %u rows: split the file",
                 CSV_MAX_ROWS);
        rc = EMBER_EINVAL;
    }
    if (rc == 0 && imp->failed)
        rc = EMBER_ENOMEM;
    return rc;
}


static void csv_step(csv_import_t *imp);


static void
csv_row_result(csv_import_t *imp, const csv_row_t *row, const char *result)
{
    json_array_append_new(imp->results,
                          json_pack("{s:I, s:s, s:s}", "line",
                                    (json_int_t) row->line, "jid",
                                    row->field[0] != NULL ? row->field[0]
                                                          : "",
                                    "result", result));
}


/* The running row (imp->next - 1) ended with result. */
static void
csv_row_done(csv_import_t *imp, const char *result)
{
    csv_row_result(imp, &imp->rows[imp->next - 1], result);
    imp->waiting = 0;
    if (!imp->stepping)
        csv_step(imp);
}


static void
csv_info_saved(int status, json_t *result, void *ud)
{
    csv_import_t *imp = ud;
    char msg[1024];

    if (status < 0) {
        snprintf(msg, sizeof(msg), "created; name and email not saved: %s",
                 ember_strerror(status));
        csv_row_done(imp, msg);
    } else {
        csv_row_done(imp, "created");
    }
}


/* The running row's account exists: its name and email next. */
static void
csv_created(int status, json_t *result, void *ud)
{
    csv_import_t *imp = ud;
    const csv_row_t *row = &imp->rows[imp->next - 1];
    json_t *fields;
    char msg[2300];
    int rc;

    if (status < 0) {
        account_error_text(status, imp->jid, msg, sizeof(msg));
        csv_row_done(imp, msg);
        return;
    }
    imp->created++;
    if ((row->nfields < 3 || row->field[2][0] == '\0') &&
        (row->nfields < 4 || row->field[3][0] == '\0')) {
        csv_row_done(imp, "created");
        return;
    }
    fields = json_object();
    if (row->nfields >= 3 && row->field[2][0] != '\0')
        json_object_set_new(fields, "name", json_string(row->field[2]));
    if (row->nfields >= 4 && row->field[3][0] != '\0')
        json_object_set_new(fields, "email", json_string(row->field[3]));
    rc = ember__account_set_info(imp->host, imp->user, fields,
                                 csv_info_saved, imp);
    json_decref(fields);
    if (rc < 0)
        csv_info_saved(rc, NULL, imp);
}


/* Check the next row and start creating its account. */
static void
csv_row_start(csv_import_t *imp)
{
    csv_row_t *row = &imp->rows[imp->next++];
    ember_jid_t *j;
    char msg[2300];
    int rc;

    if (row->nfields < 2 || row->nfields > CSV_COLUMNS) {
        snprintf(msg, sizeof(msg), "wrong number of fields: %zu (expected "
                 "jid,password[,name[,email]])", row->nfields);
        csv_row_result(imp, row, msg);
        return;
    }
    /* Checked before creating: no account is left without what its row
     * asked for. */
    if (row->nfields == 4 && row->field[3][0] != '\0' &&
        !ember__email_valid(row->field[3])) {
        snprintf(msg, sizeof(msg), "email: '%s' is not an address (not "
                 "created)", row->field[3]);
        csv_row_result(imp, row, msg);
        return;
    }
    if ((j = account_jid_parse(row->field[0], msg, sizeof(msg))) == NULL) {
        csv_row_result(imp, row, msg);
        return;
    }
    snprintf(imp->jid, sizeof(imp->jid), "%s", ember__jid_bare(j));
    snprintf(imp->host, sizeof(imp->host), "%s", ember__jid_domain(j));
    snprintf(imp->user, sizeof(imp->user), "%s", ember__jid_node(j));
    ember__jid_free(j);
    imp->waiting = 1;
    if ((rc = ember__account_create(imp->host, imp->user, row->field[1],
                                    csv_created, imp)) < 0) {
        imp->waiting = 0;
        account_error_text(rc, imp->jid, msg, sizeof(msg));
        csv_row_result(imp, row, msg);
    }
}


/* Rows one after another, as adduser would run them; then the answer. */
static void
csv_step(csv_import_t *imp)
{
    imp->stepping = 1;
    while (!imp->waiting && imp->next < imp->nrows)
        csv_row_start(imp);
    imp->stepping = 0;
    if (imp->waiting)
        return;
    ember__command_audit_args(imp->ctx, json_pack(
        "{s:I, s:I}", "rows", (json_int_t) imp->nrows, "created",
        (json_int_t) imp->created));
    ember__command_done(imp->ctx, 0, imp->results, NULL);
    imp->results = NULL;
    csv_import_free(imp);
}


static void
cmd_users_import_csv(ember_cmd_ctx_t *ctx, json_t *args, void *ud)
{
    json_t *csv = json_object_get(args, "csv");
    const char *text = json_string_value(csv);
    size_t len = json_string_length(csv);
    csv_import_t *imp;
    char err[256];
    int rc;

    /* The text holds passwords: the audit log keeps its size, then the
     * counts. */
    ember__command_audit_args(ctx, json_pack("{s:I}", "bytes",
                                             (json_int_t) len));
    if (len > CSV_MAX_BYTES) {
        ember__command_donef(ctx, EMBER_EINVAL, "csv: %zu bytes, at most %u: "
                             "split the file", len, CSV_MAX_BYTES);
        return;
    }
    if (memchr(text, '\0', len) != NULL) {
        ember__command_donef(ctx, EMBER_EINVAL, "csv: contains a NUL byte");
        return;
    }
    if ((imp = calloc(1, sizeof(*imp))) == NULL ||
        (imp->results = json_array()) == NULL) {
        free(imp);
        ember__command_done(ctx, EMBER_ENOMEM, NULL, NULL);
        return;
    }
    imp->ctx = ctx;
    if ((rc = csv_parse_all(imp, text, len, err, sizeof(err))) < 0) {
        ember__command_done(ctx, rc, NULL, rc == EMBER_ENOMEM
                                               ? "out of memory" : err);
        csv_import_free(imp);
        return;
    }
    if (imp->nrows == 0) {
        ember__command_donef(ctx, EMBER_EINVAL, "csv: no rows (expected "
                             "jid,password[,name[,email]] lines)");
        csv_import_free(imp);
        return;
    }
    csv_step(imp);
}


static const ember_cmd_arg_t args_domain[] = {
    { "domain", EMBER_ARG_STRING, 1, "a remote domain" },
    { NULL, 0, 0, NULL }
};
static const ember_cmd_arg_t args_jid_password[] = {
    { "jid", EMBER_ARG_JID, 1, "the account, user@host" },
    { "password", EMBER_ARG_SECRET, 1, "the new password" },
    { NULL, 0, 0, NULL }
};
static const ember_cmd_arg_t args_jid[] = {
    { "jid", EMBER_ARG_JID, 1, "the account, user@host" },
    { NULL, 0, 0, NULL }
};
static const ember_cmd_arg_t args_lock[] = {
    { "jid", EMBER_ARG_JID, 1, "the account, user@host" },
    { "reason", EMBER_ARG_STRING, 0, "why, kept for the admins" },
    { NULL, 0, 0, NULL }
};
static const ember_cmd_arg_t args_host[] = {
    { "host", EMBER_ARG_STRING, 1, "a virtual host of the config" },
    { NULL, 0, 0, NULL }
};
static const ember_cmd_arg_t args_host_opt[] = {
    { "host", EMBER_ARG_STRING, 0, "only this virtual host" },
    { NULL, 0, 0, NULL }
};
static const ember_cmd_arg_t args_csv[] = {
    { "csv", EMBER_ARG_STRING, 1, "CSV text (RFC 4180), a row per account: "
      "jid,password[,name[,email]]; a first row starting with jid is a "
      "header" },
    { NULL, 0, 0, NULL }
};
static const ember_cmd_arg_t args_check[] = {
    { "path", EMBER_ARG_STRING, 0, "config file (default: the running one)" },
    { NULL, 0, 0, NULL }
};

static const ember_command_t core_commands[] = {
    { "adduser", "Create an account", args_jid_password, "admin",
      cmd_adduser },
    { "passwd", "Set an account's password", args_jid_password, "admin",
      cmd_passwd },
    { "deluser", "Delete an account and all its data", args_jid, "admin",
      cmd_deluser },
    { "users-import-csv", "Create accounts from CSV rows, each on its own: "
      "one result a row", args_csv, "admin", cmd_users_import_csv },
    { "users", "List the accounts of a host", args_host, "read",
      cmd_users },
    { "lock", "Lock an account: it cannot log in, its sessions close",
      args_lock, "admin", cmd_lock },
    { "unlock", "Unlock an account", args_jid, "admin", cmd_unlock },
    { "check", "Validate a config file", args_check, "read", cmd_check },
    { "modules", "Loaded modules: version, ABI, host, state, error", NULL,
      "read", cmd_modules },
    { "plugins", "Plugins in the plugin directories, loaded or not",
      NULL, "read", cmd_plugins },
    { "reload", "Re-read the config file", NULL, "admin", cmd_reload },
    { "status", "Server status", NULL, "read", cmd_status },
    { "sessions", "Connected client sessions", args_host_opt, "read",
      cmd_sessions },
    { "components", "External components (XEP-0114): connected, address, "
      "stanzas", NULL, "read", cmd_components },
    { "kick", "Close every session of an account (policy-violation)",
      args_jid, "admin", cmd_kick },
    { "certs", "TLS certificates in use: names and validity", NULL, "read",
      cmd_certs },
    { "s2s", "Server-to-server links, failed attempts, blocked domains",
      NULL, "read", cmd_s2s },
    { "s2s-close", "Close every link with a remote domain", args_domain,
      "admin", cmd_s2s_close },
};


void
ember__commands_core_init(const ember__server_ops_t *ops)
{
    size_t i;
    int rc;

    server_ops = ops;
    for (i = 0; i < sizeof(core_commands) / sizeof(core_commands[0]); i++)
        if ((rc = ember__command_register(NULL, &core_commands[i], NULL)) < 0
            && rc != EMBER_EEXIST)
            LOG_E("command %s: %s", core_commands[i].name,
                  ember_strerror(rc));
}
