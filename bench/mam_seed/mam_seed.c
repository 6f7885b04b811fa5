/*
 * mam_seed -- fill a storage_sqlite database with archived messages for
 * bench/mam_archive.py, through mod_storage_sqlite's own code: the file is
 * opened (and created, migrated) by sq_db_open and every item is written
 * by sq_db_run's EMBER_SOP_ARCHIVE_APPEND, the path the module's storage
 * thread runs, in transactions of 50,000 items.  The rows therefore have
 * whatever schema the module of this tree writes.
 *
 * Built by bench/mam_archive.py from the module's sources
 * (modules/storage_sqlite) and this file; not by the Makefile, and not
 * part of ember-load:
 *
 *   mam_seed DB HOST MESSAGES [--user NODE] [--room JID] [--others N]
 *            [--contacts N] [--end-us T] [--step-us S] [--samples N]
 *            [--plans]
 *
 * MESSAGES items in all, in one time line ending at --end-us (default:
 * now) with --step-us (default 100) between neighbours, dealt out at
 * random (fixed seed): 45 % to the account NODE (default "alice", store
 * "mam", peers c0..c{contacts-1}@HOST), 45 % to the room JID (default
 * "bench@conference.HOST", occupants JID/n0..n19), 10 % to --others
 * (default 1000) other accounts.  Prints one JSON line: for the account
 * and the room, the item count, first and last time, and --samples
 * (default 2000) times of random items (item times are mod_mam's ids).
 *
 * --plans: then run every shape of archive query and delete the module can
 * make (with, start, end, after, before, id, reverse, max: 256 of each) on
 * the account's and the room's archive, in a transaction rolled back, and
 * print each statement's plan as the module checked it (SQLite's EXPLAIN
 * QUERY PLAN); exit 3 when the module found one that reads a whole table
 * or sorts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "storage_sqlite.h"

#define BATCH 50000

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t
rng(void)
{
    uint64_t x = rng_state;

    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

typedef struct {
    const char *name;
    long count;
    int64_t first, last;
    int64_t *samples;
    long nsamples, cap;
} arch_t;

static void
sample(arch_t *a, int64_t t)
{
    /* Reservoir sampling: every item equally likely. */
    if (a->nsamples < a->cap)
        a->samples[a->nsamples++] = t;
    else if ((long) (rng() % (uint64_t) a->count) < a->cap)
        a->samples[rng() % (uint64_t) a->cap] = t;
}

static void
die(const char *what, const char *msg)
{
    fprintf(stderr, "mam_seed: %s: %s\n", what, msg != NULL ? msg : "?");
    exit(1);
}

static void
print_arch(const arch_t *a, int comma)
{
    long i;

    printf("\"%s\": {\"count\": %ld, \"first\": %lld, \"last\": %lld, "
           "\"samples\": [", a->name, a->count, (long long) a->first,
           (long long) a->last);
    for (i = 0; i < a->nsamples; i++)
        printf("%s%lld", i ? ", " : "", (long long) a->samples[i]);
    printf("]}%s", comma ? ", " : "");
}

/* The store id of an item of `user`: the oldest, or the newest. */
static void
item_id(sq_db_t *db, ember_store_req_t *req, int newest, char *out,
        size_t len, int64_t *time)
{
    ember_archive_query_t q;
    json_t *res = NULL, *it;
    char *msg = NULL;

    memset(&q, 0, sizeof(q));
    q.size = sizeof(q);
    q.max = 1;
    q.reverse = newest;
    req->op = EMBER_SOP_ARCHIVE_QUERY;
    req->query = &q;
    if (sq_db_run(db, req, &res, &msg) < 0
        || (it = json_array_get(json_object_get(res, "items"), 0)) == NULL)
        die("plans", msg != NULL ? msg : "empty archive");
    snprintf(out, len, "%s", json_string_value(json_object_get(it, "id")));
    *time = json_integer_value(json_object_get(it, "time"));
    json_decref(res);
}


/* Every query and delete shape on the archive of user (peer: a `with`
 * of it); 0, or the number of plans the module found bad. */
static int
plans(sq_db_t *db, const char *host, const char *user, const char *peer)
{
    ember_store_req_t req;
    ember_archive_query_t q;
    char first[32], last[32], *msg = NULL;
    int64_t t0, t1;
    json_t *res;
    int mask, del, bad = 0, shapes = 0;

    memset(&req, 0, sizeof(req));
    req.size = sizeof(req);
    req.kind = EMBER_STORE_ARCHIVE;
    req.host = host;
    req.store = "mam";
    req.user = user;
    item_id(db, &req, 0, first, sizeof(first), &t0);
    item_id(db, &req, 1, last, sizeof(last), &t1);
    if (sq_db_begin(db, &msg) < 0)
        die("begin", msg);
    for (del = 0; del < 2; del++)
        for (mask = 0; mask < 256; mask++) {
            memset(&q, 0, sizeof(q));
            q.size = sizeof(q);
            q.with = mask & 1 ? peer : NULL;
            q.start = mask & 2 ? t0 + (t1 - t0) / 3 : 0;
            q.end = mask & 4 ? t1 - (t1 - t0) / 3 : 0;
            q.after_id = mask & 8 ? first : NULL;
            q.before_id = mask & 16 ? last : NULL;
            q.id = mask & 32 ? last : NULL;
            q.reverse = (mask & 64) != 0;
            q.max = mask & 128 ? 50 : 0;
            /* A delete of everything would take the anchors with it. */
            if (del && (mask & 127) == 0)
                continue;
            req.op = del ? EMBER_SOP_ARCHIVE_DELETE : EMBER_SOP_ARCHIVE_QUERY;
            req.query = &q;
            res = NULL;
            if (sq_db_run(db, &req, &res, &msg) < 0)
                die("plans", msg);
            json_decref(res);
            if (db->plan != NULL) {
                shapes++;
                printf("%s\n", db->plan);
                free(db->plan);
                db->plan = NULL;
            }
            if (db->note != NULL) {
                bad++;
                fprintf(stderr, "mam_seed: %s\n", db->note);
                free(db->note);
                db->note = NULL;
            }
            /* Deletes undone: the next shapes find the same items. */
            if (del) {
                sq_db_rollback(db);
                if (sq_db_begin(db, &msg) < 0)
                    die("begin", msg);
            }
        }
    sq_db_rollback(db);
    fprintf(stderr, "mam_seed: %s: %d statements, %d read a whole table or "
            "sort\n", user, shapes, bad);
    return bad;
}

int
main(int argc, char **argv)
{
    const char *path, *host, *user = "alice", *room = NULL;
    long total, others = 1000, contacts = 100, nsamples = 2000, i;
    int64_t end_us = 0, step = 100, t;
    char roombuf[512], userjid[512], with[600], data[2048], err[512];
    char *msg = NULL;
    arch_t au = { .name = "user" }, ar = { .name = "room" };
    ember_store_req_t req;
    sq_opts_t o;
    sq_db_t *db;
    json_t *v, *res;
    int rc, check = 0;

    if (argc < 4) {
        fprintf(stderr, "usage: mam_seed DB HOST MESSAGES [--user NODE] "
                "[--room JID] [--others N] [--contacts N] [--end-us T] "
                "[--step-us S] [--samples N] [--plans]\n");
        return 2;
    }
    path = argv[1];
    host = argv[2];
    total = atol(argv[3]);
    for (i = 4; i < argc; i += 2) {
        if (strcmp(argv[i], "--plans") == 0) {
            check = 1;
            i--;
        } else if (i + 1 == argc)
            die(argv[i], "needs a value");
        else if (strcmp(argv[i], "--user") == 0)
            user = argv[i + 1];
        else if (strcmp(argv[i], "--room") == 0)
            room = argv[i + 1];
        else if (strcmp(argv[i], "--others") == 0)
            others = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--contacts") == 0)
            contacts = atol(argv[i + 1]);
        else if (strcmp(argv[i], "--end-us") == 0)
            end_us = atoll(argv[i + 1]);
        else if (strcmp(argv[i], "--step-us") == 0)
            step = atoll(argv[i + 1]);
        else if (strcmp(argv[i], "--samples") == 0)
            nsamples = atol(argv[i + 1]);
        else
            die(argv[i], "unknown option");
    }
    if (total <= 0 || others <= 0 || contacts <= 0 || step <= 0
        || nsamples <= 0)
        die("arguments", "counts must be positive");
    if (room == NULL) {
        snprintf(roombuf, sizeof(roombuf), "bench@conference.%s", host);
        room = roombuf;
    }
    snprintf(userjid, sizeof(userjid), "%s@%s", user, host);
    if (end_us == 0) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        end_us = (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
    }
    au.cap = ar.cap = nsamples;
    if ((au.samples = calloc((size_t) nsamples, sizeof(int64_t))) == NULL
        || (ar.samples = calloc((size_t) nsamples, sizeof(int64_t))) == NULL)
        die("memory", "out of memory");

    memset(&o, 0, sizeof(o));
    o.path = path;
    o.cache_kb = 262144;
    if (sq_db_open(&db, &o, err, sizeof(err)) < 0)
        die("open", err);
    /* A bench file: no fsync, and the WAL folded back less often.  What is
     * written is the module's own. */
    if (sqlite3_exec(db->db, "PRAGMA synchronous=OFF;"
                     " PRAGMA wal_autocheckpoint=100000", NULL, NULL,
                     NULL) != SQLITE_OK)
        die("pragma", sqlite3_errmsg(db->db));
    memset(&req, 0, sizeof(req));
    req.size = sizeof(req);
    req.op = EMBER_SOP_ARCHIVE_APPEND;
    req.kind = EMBER_STORE_ARCHIVE;
    req.host = host;
    req.store = "mam";
    for (i = 0; i < total; i++) {
        unsigned r = (unsigned) (rng() % 100);
        char other[64];

        t = end_us - (int64_t) (total - i) * step;
        if (i % BATCH == 0 && sq_db_begin(db, &msg) < 0)
            die("begin", msg);
        if (r < 45) {
            long c = (long) (rng() % (uint64_t) contacts);

            snprintf(with, sizeof(with), "c%ld@%s", c, host);
            snprintf(data, sizeof(data), "<message xmlns=\"jabber:client\" "
                     "from=\"%s/phone\" to=\"%s\" type=\"chat\" "
                     "id=\"m%ld\"><body>message %ld of the bench, long "
                     "enough to look like chat</body></message>", with,
                     userjid, i, i);
            req.user = user;
            au.count++;
            if (au.first == 0)
                au.first = t;
            au.last = t;
            sample(&au, t);
        } else if (r < 90) {
            long n = (long) (rng() % 20);

            snprintf(with, sizeof(with), "%s/n%ld", room, n);
            snprintf(data, sizeof(data), "<message xmlns=\"jabber:client\" "
                     "type=\"groupchat\" from=\"%s\" xml:lang=\"en\"><body>"
                     "message %ld of the bench, long enough to look like "
                     "chat</body><x xmlns=\"http://jabber.org/protocol/"
                     "muc#user\"><item jid=\"p%ld@%s/0123456789abcdef\" "
                     "affiliation=\"member\" role=\"participant\"/></x>"
                     "</message>", with, i, n, host);
            req.user = room;
            ar.count++;
            if (ar.first == 0)
                ar.first = t;
            ar.last = t;
            sample(&ar, t);
        } else {
            snprintf(other, sizeof(other), "o%lu",
                     (unsigned long) (rng() % (uint64_t) others));
            snprintf(with, sizeof(with), "c0@%s", host);
            snprintf(data, sizeof(data), "<message xmlns=\"jabber:client\" "
                     "from=\"%s/phone\" to=\"%s@%s\" type=\"chat\" "
                     "id=\"m%ld\"><body>message %ld of the bench</body>"
                     "</message>", with, other, host, i, i);
            req.user = other;
        }
        if ((v = json_pack("{s:s, s:s, s:I}", "with", with, "data", data,
                           "time", (json_int_t) t)) == NULL)
            die("json", "out of memory");
        req.value = v;
        res = NULL;
        if ((rc = sq_db_run(db, &req, &res, &msg)) < 0)
            die("append", msg);
        json_decref(res);
        json_decref(v);
        if ((i + 1) % BATCH == 0 || i + 1 == total) {
            if (sq_db_commit(db, &msg) < 0)
                die("commit", msg);
            if ((i + 1) % 1000000 == 0)
                fprintf(stderr, "mam_seed: %ld\n", i + 1);
        }
    }
    if (check) {
        snprintf(with, sizeof(with), "c1@%s", host);
        rc = plans(db, host, user, with);
        snprintf(with, sizeof(with), "%s/n1", room);
        rc += plans(db, host, room, with);
        sq_db_close(db);
        return rc > 0 ? 3 : 0;
    }
    sq_db_close(db);
    printf("{");
    print_arch(&au, 1);
    print_arch(&ar, 0);
    printf("}\n");
    free(au.samples);
    free(ar.samples);
    return 0;
}
