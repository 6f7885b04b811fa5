/* upload.h -- XEP-0363 HTTP File Upload: what the files of the module
 * share.  mod_upload.c holds the records and answers slot requests,
 * upload_http.c the PUT and GET of the files, upload_cmd.c the admin
 * commands. */
#ifndef EMBER_MOD_UPLOAD_H
#define EMBER_MOD_UPLOAD_H

#include <stdint.h>
#include <time.h>
#include <jansson.h>
#include <ember/plugin.h>

#define NS_UPLOAD "urn:xmpp:http:upload:0"

/* Characters of a file id: 16 random bytes in base64url. */
#define UP_ID_LEN 22

typedef enum {
    UP_SLOT = 0,               /* handed out, waiting for its PUT */
    UP_WRITING = 1,            /* its PUT is arriving */
    UP_STORED = 2              /* on disk, served */
} up_state_t;

typedef struct up_file_s {
    char id[UP_ID_LEN + 1];
    char *owner;               /* bare JID */
    char *name;                /* the file name in its URLs */
    char *type;                /* declared Content-Type, "" if none */
    uint64_t size;
    time_t created;            /* the slot was handed out */
    time_t stored;             /* the PUT completed; 0 before */
    up_state_t state;
    ember_http_req_t *put;     /* the PUT being answered, or NULL */
    struct up_file_s *hnext;   /* in its bucket */
    struct up_file_s *prev, *next;
} up_file_t;

typedef struct up_user_s {
    char *owner;
    uint64_t bytes;            /* slots and stored files */
    unsigned files;
    struct up_user_s *hnext;
} up_user_t;

typedef struct {
    char *domain, *max_file_size, *allowed_types, *quota_user, *quota_total;
    char *url_base, *path;
    int expire_after, slot_ttl;
} up_conf_t;

/* A request that came while the records were loading: it is answered
 * once they are in, as a restart should not fail a download. */
typedef struct up_wait_s {
    ember_http_req_t *req;     /* an HTTP request, with its handler, or */
    ember_http_cb handler;
    ember_iq_t *iq;            /* a slot request */
    struct up_wait_s *prev, *next;
} up_wait_t;

/* Requests that wait for the records, at most; more get a 503. */
#define UP_MAX_WAITING 256

typedef struct {
    ember_module_t *m;
    const up_conf_t *conf;
    char domain[1024];
    char base[2048];           /* URLs start with this, no '/' at the end */
    char route[2048];          /* the path part of base */
    uint64_t max_size, quota_user, quota_total, total;
    ember_store_t *st;         /* NULL: records are not kept */
    up_file_t **files;         /* hash of id */
    size_t nbuckets, nfiles;
    up_file_t *all;
    up_user_t *users[256];
    ember_timer_t *purge;
    int loading;
    up_wait_t *waiting, *waiting_last;   /* oldest first */
    unsigned nwaiting;
} up_t;

extern const ember_api_t *api;

up_file_t *up_find(up_t *u, const char *id);
/* Forget a record: its file, its stored row, its quota. */
void up_remove(up_t *u, up_file_t *f);
/* Store the record (after a change); cb may be NULL. */
int up_save(up_t *u, up_file_t *f, ember_store_cb cb, void *ud);
/* Path of the file (part = 1: while it arrives), malloc'ed. */
char *up_path(const up_t *u, const up_file_t *f, int part);
up_user_t *up_user(up_t *u, const char *owner, int create);
/* URL of the file: base/id/percent-encoded name, malloc'ed. */
char *up_url(const up_t *u, const up_file_t *f);

int up_http_start(up_t *u);
/* Park req until the records are in (up_wait_t); answered 503 when too
 * many wait. */
int up_http_wait(up_t *u, ember_http_req_t *req, ember_http_cb handler);
/* Put w last on u's waiting list, take it off. */
void up_wait_link(up_t *u, up_wait_t *w);
void up_wait_unlink(up_t *u, up_wait_t *w);
int up_cmd_register(up_t *u);

#endif
