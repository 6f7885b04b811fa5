/* tools/ctl_storage.c -- emberctl migrate-storage: every record of the
 * config's storage backend copied into the backend another config names,
 * identities kept (archive ids, SCRAM secrets are keyval records like any
 * other).  Two processes, each with one backend loaded in-process as the
 * offline emberctl does: this one reads pages of the source and writes
 * them as JSON lines into a pipe, a child writes each line into the
 * destination in one transaction.  The pipe bounds what is in memory. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include <jansson.h>
#include <libxml/tree.h>
#include <uv.h>

#include "ctl_storage.h"
#include "base/log.h"
#include "base/options.h"
#include "base/process.h"
#include "store/storage.h"

#define EXIT_CMD 1
#define EXIT_USAGE 2
#define BATCH_DEFAULT 500
#define BATCH_MAX 100000

static const struct {
    ember_store_kind_t kind;
    const char *name;
} kinds[] = {
    { EMBER_STORE_KEYVAL, "keyval" },
    { EMBER_STORE_MAP, "map" },
    { EMBER_STORE_ARCHIVE, "archive" },
};
#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))

/* One storage request, waited for on the loop. */
typedef struct wait_s {
    int done, status;
    json_t *result;
} wait_t;


static void
wait_cb(int status, json_t *result, void *ud)
{
    wait_t *w = ud;

    w->done = 1;
    w->status = status;
    w->result = json_incref(result);
}


/* rc: what the call returned; then the request's own status. */
static int
wait_for(wait_t *w, int rc)
{
    if (rc < 0)
        return rc;
    while (!w->done)
        if (uv_run(ember__loop(), UV_RUN_ONCE) == 0 && !w->done)
            return EMBER_ESTATE;
    return w->status;
}


static void
wait_clear(wait_t *w)
{
    json_decref(w->result);
    memset(w, 0, sizeof(*w));
}


static int
dump_page(ember_store_kind_t kind, json_t *after, int max, wait_t *w)
{
    memset(w, 0, sizeof(*w));
    return wait_for(w, ember__store_dump(kind, after, max, wait_cb, w));
}


static int
load_rows(ember_store_kind_t kind, json_t *rows, json_int_t seq)
{
    wait_t w;
    int rc;

    memset(&w, 0, sizeof(w));
    rc = wait_for(&w, ember__store_load(kind, rows, seq, wait_cb, &w));
    wait_clear(&w);
    return rc;
}


/* A record named for the operator: its kind, owner and key or id. */
static void
describe(char *buf, size_t len, ember_store_kind_t kind, json_t *row)
{
    const char *host = json_string_value(json_array_get(row, 0));
    const char *store = json_string_value(json_array_get(row, 1));
    const char *user = json_string_value(json_array_get(row, 2));

    if (kind == EMBER_STORE_ARCHIVE)
        snprintf(buf, len, "archive item %" JSON_INTEGER_FORMAT
                 " of host '%s' store '%s' user '%s'",
                 json_integer_value(json_array_get(row, 3)),
                 host ? host : "?", store ? store : "?", user ? user : "?");
    else if (kind == EMBER_STORE_MAP)
        snprintf(buf, len, "map record of host '%s' store '%s' user '%s' "
                 "key '%s'", host ? host : "?", store ? store : "?",
                 user ? user : "?",
                 json_string_value(json_array_get(row, 3)) != NULL
                     ? json_string_value(json_array_get(row, 3)) : "?");
    else
        snprintf(buf, len, "keyval record of host '%s' store '%s' user '%s'",
                 host ? host : "?", store ? store : "?", user ? user : "?");
}


/*
 * What the backend names `storage`: the module and what tells one of its
 * databases from another (storage_sqlite: its file; others: their
 * options).  NULL when the config has no storage module.
 */
static char *
storage_identity(const ember_config_t *cfg)
{
    const ember_module_conf_t *m;
    xmlAttrPtr a;
    char *id = NULL, *more, *path, real[PATH_MAX];
    const char *file;
    xmlChar *v;

    for (m = cfg->global_modules; m != NULL; m = m->next)
        if (strncmp(m->name, "storage_", 8) == 0)
            break;
    if (m == NULL)
        return NULL;
    if (strcmp(m->name, "storage_sqlite") == 0) {
        file = ember__xml_attr(m->node, "path");
        path = ember__path_abs(cfg->data_dir, file != NULL ? file
                                                           : "ember.db");
        if (path == NULL)
            return NULL;
        if (asprintf(&id, "storage_sqlite %s",
                     realpath(path, real) != NULL ? real : path) < 0)
            id = NULL;
        free(path);
        return id;
    }
    if ((id = strdup(m->name)) == NULL)
        return NULL;
    for (a = m->node->properties; a != NULL; a = a->next) {
        v = xmlNodeGetContent((xmlNodePtr) a);
        if (asprintf(&more, "%s %s=%s", id, (const char *) a->name,
                     v != NULL ? (const char *) v : "") < 0)
            more = NULL;
        xmlFree(v);
        free(id);
        if ((id = more) == NULL)
            return NULL;
    }
    return id;
}


static ember_config_t *
config_load(const char *path)
{
    ember_config_t *cfg = NULL;
    char err[1024];
    int rc;

    err[0] = '\0';
    if ((rc = ember__config_load(path, &cfg, err, sizeof(err))) < 0) {
        fprintf(stderr, "emberctl: %s\n",
                err[0] != '\0' ? err : ember_strerror(rc));
        return NULL;
    }
    return cfg;
}


/* ---- the destination (the child) ---- */


/*
 * 1 when the destination holds records (what, in `what`), 0 when empty,
 * -1 when it cannot be read (printed).
 */
static int
dest_contents(const char *dest, char *what, size_t len)
{
    char rec[512];
    size_t i, n = 0;
    wait_t w;
    int rc, found = 0;

    what[0] = '\0';
    for (i = 0; i < NKINDS; i++) {
        rc = dump_page(kinds[i].kind, NULL, 1, &w);
        if (rc < 0) {
            if (rc == EMBER_ENOTSUP)
                fprintf(stderr, "emberctl: migrate-storage: the storage of "
                        "%s did not start (see above)\n", dest);
            else
                fprintf(stderr, "emberctl: migrate-storage: cannot read "
                        "the storage of %s: %s\n", dest, ember_strerror(rc));
            wait_clear(&w);
            return -1;
        }
        if (json_array_size(json_object_get(w.result, "rows")) > 0) {
            describe(rec, sizeof(rec), kinds[i].kind,
                     json_array_get(json_object_get(w.result, "rows"), 0));
            n += (size_t) snprintf(what + n, n < len ? len - n : 0, "%s%s",
                                   found ? ", " : "", rec);
            found = 1;
        }
        wait_clear(&w);
    }
    return found;
}


/* A batch failed: load its rows one by one to name the one refused. */
static void
name_bad_row(ember_store_kind_t kind, json_t *rows, int status)
{
    char rec[512];
    json_t *one, *row;
    size_t i;
    int rc;

    json_array_foreach(rows, i, row) {
        one = json_pack("[O]", row);
        rc = one != NULL ? load_rows(kind, one, 0) : EMBER_ENOMEM;
        json_decref(one);
        if (rc < 0) {
            describe(rec, sizeof(rec), kind, row);
            fprintf(stderr, "emberctl: migrate-storage: the destination "
                    "refused the %s: %s (see above); what came before it "
                    "is stored: run again with --force to start over\n",
                    rec, ember_strerror(rc));
            return;
        }
    }
    fprintf(stderr, "emberctl: migrate-storage: the destination refused a "
            "batch of %zu %s records: %s\n", json_array_size(rows),
            kind == EMBER_STORE_ARCHIVE ? "archive"
            : kind == EMBER_STORE_MAP ? "map" : "keyval",
            ember_strerror(status));
}


/* Count each row under "KIND STORE". */
static int
count_rows(json_t *counts, const char *kind, json_t *rows)
{
    char key[600];
    json_t *row, *c;
    size_t i;

    json_array_foreach(rows, i, row) {
        snprintf(key, sizeof(key), "%s %s", kind,
                 json_string_value(json_array_get(row, 1)));
        c = json_object_get(counts, key);
        if (json_object_set_new(counts, key, json_integer(
                c != NULL ? json_integer_value(c) + 1 : 1)) < 0)
            return -1;
    }
    return 0;
}


static void
print_counts(json_t *counts)
{
    const char *key;
    json_t *v;
    json_int_t total = 0;

    printf("%-8s %-24s %s\n", "kind", "store", "records");
    json_object_foreach(counts, key, v) {
        const char *sp = strchr(key, ' ');

        printf("%-8.*s %-24s %" JSON_INTEGER_FORMAT "\n", (int) (sp - key),
               key, sp + 1, json_integer_value(v));
        total += json_integer_value(v);
    }
    printf("total: %" JSON_INTEGER_FORMAT " records copied\n", total);
}


static int
receive(FILE *in, const char *dest, int force)
{
    char *line = NULL, what[2048];
    size_t cap = 0, i;
    ssize_t n;
    json_t *msg, *counts = json_object(), *rows, *sent;
    json_int_t per_kind[NKINDS] = { 0 };
    wait_t w;
    int rc = EXIT_CMD, k;

    if (counts == NULL)
        return EXIT_CMD;
    if ((k = dest_contents(dest, what, sizeof(what))) < 0)
        goto out;
    if (k > 0 && !force) {
        fprintf(stderr, "emberctl: migrate-storage: the storage of %s is not "
                "empty: it holds %s ...; --force removes everything it "
                "holds first\n", dest, what);
        goto out;
    }
    if (k > 0) {
        memset(&w, 0, sizeof(w));
        if ((k = wait_for(&w, ember__store_clear(wait_cb, &w))) < 0) {
            fprintf(stderr, "emberctl: migrate-storage: cannot empty the "
                    "storage of %s: %s\n", dest, ember_strerror(k));
            wait_clear(&w);
            goto out;
        }
        printf("removed %" JSON_INTEGER_FORMAT " records from the storage "
               "of %s\n", json_integer_value(json_object_get(w.result,
                                                             "deleted")),
               dest);
        wait_clear(&w);
    }
    while ((n = getline(&line, &cap, in)) > 0) {
        msg = json_loadb(line, (size_t) n, 0, NULL);
        if ((sent = json_object_get(msg, "end")) != NULL) {
            for (i = 0; i < NKINDS; i++)
                if (json_integer_value(json_object_get(sent, kinds[i].name))
                    != per_kind[i]) {
                    fprintf(stderr, "emberctl: migrate-storage: %s: %"
                            JSON_INTEGER_FORMAT " records sent, %"
                            JSON_INTEGER_FORMAT " stored\n", kinds[i].name,
                            json_integer_value(json_object_get(
                                sent, kinds[i].name)), per_kind[i]);
                    json_decref(msg);
                    goto out;
                }
            json_decref(msg);
            print_counts(counts);
            rc = 0;
            goto out;
        }
        rows = json_object_get(msg, "rows");
        for (i = 0; i < NKINDS; i++)
            if (json_is_string(json_object_get(msg, "kind"))
                && strcmp(json_string_value(json_object_get(msg, "kind")),
                          kinds[i].name) == 0)
                break;
        if (i == NKINDS || !json_is_array(rows)) {
            fprintf(stderr, "emberctl: migrate-storage: a malformed batch "
                    "came from the source\n");
            json_decref(msg);
            goto out;
        }
        if ((k = load_rows(kinds[i].kind, rows, json_integer_value(
                               json_object_get(msg, "seq")))) < 0) {
            name_bad_row(kinds[i].kind, rows, k);
            json_decref(msg);
            goto out;
        }
        per_kind[i] += (json_int_t) json_array_size(rows);
        if (count_rows(counts, kinds[i].name, rows) < 0) {
            json_decref(msg);
            goto out;
        }
        json_decref(msg);
    }
    fprintf(stderr, "emberctl: migrate-storage: the source stopped before "
            "the end; what came is stored: run again with --force to start "
            "over\n");
out:
    free(line);
    json_decref(counts);
    return rc;
}


/* ---- the source (this process) ---- */


static int
send_line(FILE *out, json_t *msg)
{
    int rc = json_dumpf(msg, out, JSON_COMPACT) < 0 || fputc('\n', out) == EOF
             || fflush(out) == EOF ? -1 : 0;

    json_decref(msg);
    return rc;
}


static int
send_all(FILE *out, const char *src, int batch)
{
    json_t *after = NULL, *sent = json_object(), *rows;
    json_int_t count, seq = 0;
    size_t i;
    wait_t w;
    int rc;

    if (sent == NULL)
        return EXIT_CMD;
    for (i = 0; i < NKINDS; i++) {
        count = 0;
        do {
            if ((rc = dump_page(kinds[i].kind, after, batch, &w)) < 0) {
                fprintf(stderr, "emberctl: migrate-storage: cannot read the "
                        "%s records of %s (%" JSON_INTEGER_FORMAT " read): "
                        "%s%s\n", kinds[i].name, src, count,
                        ember_strerror(rc), rc == EMBER_ENOTSUP
                        ? ": its storage did not start (see above)" : "");
                goto fail;
            }
            rows = json_object_get(w.result, "rows");
            seq = json_integer_value(json_object_get(w.result, "seq"));
            /* An archive batch goes even when empty: it carries the
             * newest id ever handed out. */
            if ((json_array_size(rows) > 0
                 || kinds[i].kind == EMBER_STORE_ARCHIVE)
                && send_line(out, json_pack("{s:s, s:O, s:I}", "kind",
                                            kinds[i].name, "rows", rows,
                                            "seq", seq)) < 0) {
                /* The destination stopped; it said why. */
                goto fail;
            }
            count += (json_int_t) json_array_size(rows);
            json_decref(after);
            after = json_incref(json_object_get(w.result, "next"));
            if (json_is_null(after)) {
                json_decref(after);
                after = NULL;
            }
            wait_clear(&w);
        } while (after != NULL);
        json_object_set_new(sent, kinds[i].name, json_integer(count));
    }
    if (send_line(out, json_pack("{s:O}", "end", sent)) < 0) {
        json_decref(sent);
        return EXIT_CMD;
    }
    json_decref(sent);
    return 0;

fail:
    wait_clear(&w);
    json_decref(after);
    json_decref(sent);
    return EXIT_CMD;
}


/* Both configs usable, neither server running, not one storage twice. */
static int
preflight(const ctl_store_ops_t *ops, const char *from, const char *to)
{
    const char *paths[2] = { from, to };
    char *ids[2] = { NULL, NULL };
    ember_config_t *cfg;
    int i, rc = -1, k;

    for (i = 0; i < 2; i++) {
        if ((cfg = config_load(paths[i])) == NULL)
            goto out;
        k = ops->server_answers(cfg->control_socket);
        if (k == 1)
            fprintf(stderr, "emberctl: migrate-storage: emberd is running "
                    "(it answers on %s): stop it first\n",
                    cfg->control_socket);
        else if (k == 0 && (ids[i] = storage_identity(cfg)) == NULL)
            fprintf(stderr, "emberctl: migrate-storage: %s names no storage "
                    "module (storage_sqlite, storage_pgsql ...)\n",
                    cfg->path);
        ember__config_free(cfg);
        if (ids[i] == NULL)
            goto out;
    }
    if (strcmp(ids[0], ids[1]) == 0) {
        fprintf(stderr, "emberctl: migrate-storage: %s and %s name the same "
                "storage (%s)\n", from, to, ids[0]);
        goto out;
    }
    rc = 0;
out:
    free(ids[0]);
    free(ids[1]);
    return rc;
}


int
ctl_migrate_storage(const ctl_store_ops_t *ops, const char *from_path,
                    int argc, char **argv)
{
    const char *to = NULL;
    int force = 0, batch = BATCH_DEFAULT, pfd[2], status, rc, i;
    ember_config_t *cfg;
    FILE *f;
    pid_t pid;
    char *end;
    long v;

    for (i = 0; i < argc; i++) {
        if (strncmp(argv[i], "--to=", 5) == 0 && argv[i][5] != '\0') {
            to = argv[i] + 5;
        } else if (strcmp(argv[i], "--force") == 0) {
            force = 1;
        } else if (strncmp(argv[i], "--batch=", 8) == 0) {
            v = strtol(argv[i] + 8, &end, 10);
            if (*end != '\0' || v < 1 || v > BATCH_MAX) {
                fprintf(stderr, "emberctl: migrate-storage: --batch is 1 .. "
                        "%d\n", BATCH_MAX);
                return EXIT_USAGE;
            }
            batch = (int) v;
        } else {
            fprintf(stderr, "emberctl: migrate-storage --to=CONFIG [--force] "
                    "[--batch=N]: unknown argument %s\n", argv[i]);
            return EXIT_USAGE;
        }
    }
    if (to == NULL) {
        fprintf(stderr, "emberctl: migrate-storage: --to=CONFIG names the "
                "config whose storage receives the records\n");
        return EXIT_USAGE;
    }
    if (preflight(ops, from_path, to) < 0)
        return EXIT_CMD;
    fflush(stdout);
    fflush(stderr);
    if (pipe(pfd) < 0) {
        perror("emberctl: pipe");
        return EXIT_CMD;
    }
    if ((pid = fork()) < 0) {
        perror("emberctl: fork");
        close(pfd[0]);
        close(pfd[1]);
        return EXIT_CMD;
    }
    if (pid == 0) {
        /* Loaded again here: path options resolve against the data
         * directory of the config loaded last. */
        close(pfd[1]);
        f = fdopen(pfd[0], "r");
        rc = EXIT_CMD;
        if (f != NULL && (cfg = config_load(to)) != NULL
            && ops->start(cfg) == 0) {
            rc = receive(f, to, force);
            ops->stop();
        }
        if (f != NULL)
            fclose(f);
        fflush(stdout);
        exit(rc);
    }
    close(pfd[0]);
    /* A destination that stops closes the pipe: a write error here. */
    signal(SIGPIPE, SIG_IGN);
    rc = EXIT_CMD;
    if ((f = fdopen(pfd[1], "w")) == NULL)
        close(pfd[1]);
    else if ((cfg = config_load(from_path)) != NULL && ops->start(cfg) == 0) {
        rc = send_all(f, from_path, batch);
        ops->stop();
    }
    if (f != NULL)
        fclose(f);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        rc = EXIT_CMD;
    return rc;
}
