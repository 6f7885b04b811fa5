/* ember-load -- XMPP c2s load generator: logins, held sessions, chat pairs.
 *
 * One libuv loop drives every session; only PBKDF2 for a SCRAM salt not yet
 * seen runs on the libuv thread pool, and each salt is derived once per run
 * (or once ever, with --scram-cache).  Server output is framed by a small
 * scanner that tracks element depth: it trusts the local server under test
 * and only looks for the few elements a client needs.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <gsasl.h>
#include <uv.h>

#define NS_SASL     "urn:ietf:params:xml:ns:xmpp-sasl"
#define NS_BIND     "urn:ietf:params:xml:ns:xmpp-bind"
#define NS_SESSION  "urn:ietf:params:xml:ns:xmpp-session"
#define NS_REGISTER "jabber:iq:register"
#define NS_SM       "urn:xmpp:sm:3"
#define READ_SIZE   65536
#define HIST_SUB    64
#define HIST_SIZE   (HIST_SUB * 2 + 58 * HIST_SUB)

enum mode { MODE_HOLD, MODE_PAIRS, MODE_REGISTER };

enum state {
    S_IDLE,
    S_CONNECTING,
    S_FEATURES1,
    S_AUTH,
    S_DERIVING,
    S_FEATURES2,
    S_BIND,
    S_SESSION,
    S_REGISTER,
    S_ONLINE,
    S_DONE,
    S_DEAD
};

enum err {
    E_CONNECT,
    E_IO,
    E_CLOSED,
    E_STREAM,
    E_AUTH,
    E_BIND,
    E_REGISTER,
    E_MESSAGE,
    E_TIMEOUT,
    E_COUNT
};

static const char *const err_names[E_COUNT] = {
    "connect", "io", "closed", "stream", "auth", "bind", "register",
    "message", "timeout"
};

typedef struct {
    uint64_t count[HIST_SIZE];
    uint64_t n;
    uint64_t max;
} hist_t;

typedef struct client_s client_t;

struct client_s {
    uv_tcp_t tcp;
    uv_connect_t conn;
    uv_work_t work;
    int idx;
    enum state state;
    int in_stream;
    int session_needed;
    int sasl_done;
    int dirty;
    char *in;                   /* bytes of an element split across reads */
    size_t in_len, in_cap;
    char *out;                  /* pending output, flushed once per turn */
    size_t out_len, out_cap;
    Gsasl_session *sasl;
    char *challenge;            /* kept while its salt is derived */
    char *salt;                 /* decoded salt and result, for the worker */
    char *salt_key;
    size_t salt_len;
    unsigned iter;
    char derived[2 * GSASL_HASH_MAX_SIZE + 1];
    char *jid;
    client_t *peer;
    client_t *next_dirty;
    uint64_t t_start;
    uint64_t seq;
    unsigned inflight;
    uint32_t sm_received;       /* stanzas since <enable/>: our h */
    unsigned sm_unasked;        /* messages sent since our last <r/> */
};

typedef struct {
    char *key;                  /* "<iter>,<base64 salt>" */
    char hex[2 * GSASL_HASH_MAX_SIZE + 1];
} cache_ent_t;

static struct {
    const char *host;
    int port;
    const char *domain;
    const char *prefix;
    int users;
    int first;
    const char *password;
    const char *mech;
    enum mode mode;
    int window;
    double rate;
    double duration;
    double warmup;
    double settle;
    double connect_rate;
    int concurrency;
    int body;
    int server_pid;
    int port2;              /* odd sessions here (a second node) */
    int more_pids[3];       /* more processes that serve (other nodes) */
    const char *cache_file;
    double timeout;
    const char *label;
    unsigned max_inflight;
    unsigned sm_ask;        /* XEP-0198 on: an <r/> after this many sent */
} opt = {
    .host = "127.0.0.1", .port = 5222, .domain = "localhost",
    .prefix = "u", .users = 100, .password = "pw", .mech = "SCRAM-SHA-1",
    .mode = MODE_HOLD, .window = 4, .duration = 10, .warmup = 1,
    .settle = 2, .concurrency = 100, .body = 32, .timeout = 300,
    .label = "", .max_inflight = 10000
};

static uv_loop_t *loop;
static Gsasl *gsasl;
static struct sockaddr_storage addr, addr2;
static client_t *clients;
static client_t *dirty_head;
static char read_buf[READ_SIZE];
static uv_timer_t tick_timer, phase_timer, watchdog;
static uv_check_t flusher;
static cache_ent_t *cache;
static size_t cache_cap, cache_used;
static int cache_dirty;

static struct {
    uint64_t t_begin;           /* first connect */
    uint64_t t_logins;          /* last login done */
    int launched, pending, online, failed, done;
    hist_t login_lat;
    uint64_t errors[E_COUNT];
    int derivations;
    double cpu0, cpu_logins;
    long rss0, rss1;
    int messaging, measuring;
    uint64_t t_msg_start, t_win0, t_win1;
    uint64_t sent, delivered, skipped;
    uint64_t win_sent, win_delivered;
    double cpu_win0, cpu_win1;
    hist_t msg_lat;
    int rr;
    int finished;
} st;

static void client_fail(client_t *c, enum err e, const char *why);
static void launch_more(void);
static void logins_complete(void);


/* Log-linear histogram of nanoseconds, about 1.5 % resolution. */
static size_t
hist_bucket(uint64_t v)
{
    int e;

    if (v < 2 * HIST_SUB)
        return (size_t) v;
    e = 63 - __builtin_clzll(v) - 6;
    return 2 * HIST_SUB + (size_t) (e - 1) * HIST_SUB +
           (size_t) ((v >> e) - HIST_SUB);
}

static uint64_t
hist_value(size_t b)
{
    size_t e;

    if (b < 2 * HIST_SUB)
        return b;
    e = (b - 2 * HIST_SUB) / HIST_SUB + 1;
    return (((b - 2 * HIST_SUB) % HIST_SUB + HIST_SUB) << e) +
           ((uint64_t) 1 << (e - 1));
}

static void
hist_add(hist_t *h, uint64_t v)
{
    size_t b = hist_bucket(v);

    if (b >= HIST_SIZE)
        b = HIST_SIZE - 1;
    h->count[b]++;
    h->n++;
    if (v > h->max)
        h->max = v;
}

static double
hist_pct_ms(const hist_t *h, double pct)
{
    uint64_t want, seen = 0;
    size_t b;

    if (h->n == 0)
        return 0;
    want = (uint64_t) ceil(h->n * pct / 100.0);
    if (want == 0)
        want = 1;
    for (b = 0; b < HIST_SIZE; b++) {
        seen += h->count[b];
        if (seen >= want)
            return hist_value(b) / 1e6;
    }
    return h->max / 1e6;
}

static double
secs(uint64_t from, uint64_t to)
{
    return (double) (to - from) / 1e9;
}

static void *
xmalloc(size_t n)
{
    void *p = malloc(n);

    if (p == NULL) {
        fprintf(stderr, "ember-load: out of memory\n");
        exit(1);
    }
    return p;
}

static void *
xrealloc(void *p, size_t n)
{
    p = realloc(p, n);
    if (p == NULL) {
        fprintf(stderr, "ember-load: out of memory\n");
        exit(1);
    }
    return p;
}

/* ---- server process figures (/proc) ---- */

static double proc_cpu(int pid);

/* Every process that serves: the server, or a cluster's nodes and Redis. */
static double
server_cpu(void)
{
    double sum, c;
    int i;

    if ((sum = proc_cpu(opt.server_pid)) < 0)
        return -1;
    for (i = 0; i < 3 && opt.more_pids[i] > 0; i++) {
        if ((c = proc_cpu(opt.more_pids[i])) < 0)
            return -1;
        sum += c;
    }
    return sum;
}


static double
proc_cpu(int pid)
{
    char path[64], buf[1024], *p;
    unsigned long ut = 0, stt = 0;
    FILE *f;
    size_t n;

    if (pid <= 0)
        return -1;
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    if ((f = fopen(path, "r")) == NULL)
        return -1;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    if ((p = strrchr(buf, ')')) == NULL)
        return -1;
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
               &ut, &stt) != 2)
        return -1;
    return (double) (ut + stt) / (double) sysconf(_SC_CLK_TCK);
}

static long
server_rss_kib(void)
{
    char path[64], line[256];
    long kib = -1;
    FILE *f;

    if (opt.server_pid <= 0)
        return -1;
    snprintf(path, sizeof(path), "/proc/%d/status", opt.server_pid);
    if ((f = fopen(path, "r")) == NULL)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "VmRSS: %ld", &kib) == 1)
            break;
    fclose(f);
    return kib;
}

/* Earlier phases leave the server closing thousands of sessions: wait until
 * it is idle so their cleanup is not billed to this run. */
static void
server_wait_quiet(void)
{
    double a, b;
    int i;

    if (opt.server_pid <= 0)
        return;
    for (i = 0; i < 60; i++) {
        a = server_cpu();
        usleep(250000);
        b = server_cpu();
        if (a < 0 || b < 0 || b - a <= 0.0101)
            return;
    }
}

/* ---- SCRAM salted-password cache ---- */

static uint64_t
fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ULL;

    while (*s)
        h = (h ^ (unsigned char) *s++) * 1099511628211ULL;
    return h;
}

static cache_ent_t *
cache_slot(const char *key)
{
    size_t i;

    if (cache_cap == 0)
        return NULL;
    for (i = fnv1a(key) & (cache_cap - 1); cache[i].key;
         i = (i + 1) & (cache_cap - 1))
        if (strcmp(cache[i].key, key) == 0)
            return &cache[i];
    return &cache[i];
}

static const char *
cache_get(const char *key)
{
    cache_ent_t *e = cache_slot(key);

    return e && e->key ? e->hex : NULL;
}

static void
cache_put(const char *key, const char *hex)
{
    cache_ent_t *old = cache, *e;
    size_t i, oldcap = cache_cap;

    if (2 * (cache_used + 1) > cache_cap) {
        cache_cap = cache_cap ? 2 * cache_cap : 64;
        cache = calloc(cache_cap, sizeof(*cache));
        if (cache == NULL) {
            fprintf(stderr, "ember-load: out of memory\n");
            exit(1);
        }
        for (i = 0; i < oldcap; i++)
            if (old[i].key)
                *cache_slot(old[i].key) = old[i];
        free(old);
    }
    e = cache_slot(key);
    if (e->key == NULL) {
        e->key = strdup(key);
        cache_used++;
    }
    snprintf(e->hex, sizeof(e->hex), "%s", hex);
    cache_dirty = 1;
}

static void
cache_load(void)
{
    char key[512], hex[sizeof(((cache_ent_t *) 0)->hex)];
    FILE *f;

    if (opt.cache_file == NULL || (f = fopen(opt.cache_file, "r")) == NULL)
        return;
    while (fscanf(f, "%511s %64s", key, hex) == 2)
        cache_put(key, hex);
    fclose(f);
    cache_dirty = 0;
}

static void
cache_save(void)
{
    char tmp[4096];
    FILE *f;
    size_t i;

    if (opt.cache_file == NULL || !cache_dirty)
        return;
    snprintf(tmp, sizeof(tmp), "%s.tmp", opt.cache_file);
    if ((f = fopen(tmp, "w")) == NULL)
        return;
    for (i = 0; i < cache_cap; i++)
        if (cache[i].key)
            fprintf(f, "%s %s\n", cache[i].key, cache[i].hex);
    if (fclose(f) == 0)
        rename(tmp, opt.cache_file);
}

/* ---- output ---- */

static void
flush_client(client_t *c);

static void
on_flush(uv_check_t *h)
{
    client_t *c;

    while ((c = dirty_head) != NULL) {
        dirty_head = c->next_dirty;
        c->dirty = 0;
        flush_client(c);
    }
}

typedef struct {
    uv_write_t req;
    char data[];
} wreq_t;

static void
on_written(uv_write_t *req, int status)
{
    client_t *c = req->handle->data;

    free(req);
    if (status < 0 && status != UV_ECANCELED)
        client_fail(c, E_IO, uv_strerror(status));
}

static void
flush_client(client_t *c)
{
    uv_buf_t b;
    wreq_t *w;
    int n, err;

    if (c->out_len == 0 || c->state == S_DEAD || c->state == S_DONE ||
        c->state == S_IDLE)
        return;
    b = uv_buf_init(c->out, (unsigned) c->out_len);
    n = uv_try_write((uv_stream_t *) &c->tcp, &b, 1);
    if (n < 0 && n != UV_EAGAIN) {
        client_fail(c, E_IO, uv_strerror(n));
        return;
    }
    if (n < 0)
        n = 0;
    if ((size_t) n < c->out_len) {
        w = xmalloc(sizeof(*w) + c->out_len - (size_t) n);
        memcpy(w->data, c->out + n, c->out_len - (size_t) n);
        b = uv_buf_init(w->data, (unsigned) (c->out_len - (size_t) n));
        err = uv_write(&w->req, (uv_stream_t *) &c->tcp, &b, 1, on_written);
        if (err < 0) {
            free(w);
            client_fail(c, E_IO, uv_strerror(err));
            return;
        }
    }
    c->out_len = 0;
}

static void
out_reserve(client_t *c, size_t n)
{
    if (c->out_len + n + 1 > c->out_cap) {
        c->out_cap = c->out_len + n + 1 > 2 * c->out_cap ?
                     c->out_len + n + 256 : 2 * c->out_cap;
        c->out = xrealloc(c->out, c->out_cap);
    }
    if (!c->dirty) {
        c->dirty = 1;
        c->next_dirty = dirty_head;
        dirty_head = c;
    }
}

static void
send_fmt(client_t *c, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    out_reserve(c, (size_t) n);
    va_start(ap, fmt);
    vsnprintf(c->out + c->out_len, (size_t) n + 1, fmt, ap);
    va_end(ap);
    c->out_len += (size_t) n;
}

static void
send_stream_header(client_t *c)
{
    send_fmt(c, "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
             "xmlns:stream='http://etherx.jabber.org/streams' to='%s' "
             "version='1.0'>", opt.domain);
    c->in_stream = 0;
}

/* ---- tiny element helpers (the server is trusted, see the top) ---- */

static const char *
find(const char *p, size_t n, const char *s)
{
    return memmem(p, n, s, strlen(s));
}

/* Local name of the element starting at p ('<'), prefix stripped. */
static int
name_is(const char *p, size_t n, const char *local)
{
    size_t i = 1, start = 1, len = strlen(local);

    while (i < n && p[i] != ' ' && p[i] != '>' && p[i] != '/' &&
           p[i] != '\t' && p[i] != '\r' && p[i] != '\n') {
        if (p[i] == ':')
            start = i + 1;
        i++;
    }
    return i - start == len && memcmp(p + start, local, len) == 0;
}

/* Value of attribute `name` in the start tag at p, or NULL. */
static const char *
attr(const char *p, size_t n, const char *name, size_t *len)
{
    const char *end = memchr(p, '>', n), *a, *v, *q;
    size_t nl = strlen(name);

    if (end == NULL)
        return NULL;
    for (a = p; (a = memmem(a, (size_t) (end - a), name, nl)) != NULL;
         a += nl) {
        if (a == p || (a[-1] != ' ' && a[-1] != '\t' && a[-1] != '\n' &&
                       a[-1] != '\r'))
            continue;
        v = a + nl;
        while (v < end && (*v == ' ' || *v == '='))
            v++;
        if (v >= end || (*v != '\'' && *v != '"') || v == a + nl)
            continue;
        q = memchr(v + 1, *v, (size_t) (end - v - 1));
        if (q == NULL)
            return NULL;
        *len = (size_t) (q - v - 1);
        return v + 1;
    }
    return NULL;
}

static int
attr_is(const char *p, size_t n, const char *name, const char *val)
{
    size_t len;
    const char *v = attr(p, n, name, &len);

    return v && len == strlen(val) && memcmp(v, val, len) == 0;
}

/* Character data between the first start tag's end and the next '<'. */
static char *
text_after(const char *p, size_t n, const char *open)
{
    const char *s = open ? find(p, n, open) : p, *e;
    char *r;

    if (s == NULL || (s = memchr(s, '>', n - (size_t) (s - p))) == NULL)
        return NULL;
    if (s > p && s[-1] == '/')
        return strdup("");
    s++;
    if ((e = memchr(s, '<', n - (size_t) (s - p))) == NULL)
        return NULL;
    r = xmalloc((size_t) (e - s) + 1);
    memcpy(r, s, (size_t) (e - s));
    r[e - s] = '\0';
    return r;
}

/* ---- session life cycle ---- */

static void
on_closed(uv_handle_t *h)
{
    client_t *c = h->data;

    free(c->in);
    free(c->out);
    c->in = c->out = NULL;
    c->in_len = c->in_cap = c->out_len = c->out_cap = 0;
}

static void
client_close(client_t *c, enum state final)
{
    if (c->state == S_DEAD || c->state == S_DONE || c->state == S_IDLE)
        return;
    if (c->sasl) {
        gsasl_finish(c->sasl);
        c->sasl = NULL;
    }
    if (c->state == S_DERIVING) {
        /* the worker still uses the client; after_derive closes it */
        c->state = final;
        return;
    }
    c->state = final;
    if (!uv_is_closing((uv_handle_t *) &c->tcp))
        uv_close((uv_handle_t *) &c->tcp, on_closed);
}

static void
login_finished(client_t *c, int ok)
{
    uint64_t now = uv_hrtime();

    st.pending--;
    if (ok) {
        st.online++;
        hist_add(&st.login_lat, now - c->t_start);
        st.t_logins = now;
    } else {
        st.failed++;
    }
    if (st.online + st.failed == opt.users)
        logins_complete();
    else
        launch_more();
}

static void
client_fail(client_t *c, enum err e, const char *why)
{
    enum state was = c->state;

    if (was == S_DEAD || was == S_DONE || was == S_IDLE)
        return;
    st.errors[e]++;
    if (st.errors[e] <= 3)
        fprintf(stderr, "ember-load: %s%d: %s error: %s\n", opt.prefix,
                opt.first + c->idx, err_names[e], why);
    client_close(c, S_DEAD);
    if (was != S_ONLINE)
        login_finished(c, 0);
}

static void
go_online(client_t *c)
{
    c->state = S_ONLINE;
    if (opt.sm_ask > 0)
        send_fmt(c, "<enable xmlns='" NS_SM "'/>");
    send_fmt(c, "<presence/>");
    login_finished(c, 1);
}

static int
on_sasl_cb(Gsasl *ctx, Gsasl_session *s, Gsasl_property prop)
{
    const char *salt, *iter, *hex;
    char key[512];

    if (prop != GSASL_SCRAM_SALTED_PASSWORD)
        return GSASL_NO_CALLBACK;
    salt = gsasl_property_fast(s, GSASL_SCRAM_SALT);
    iter = gsasl_property_fast(s, GSASL_SCRAM_ITER);
    if (salt == NULL || iter == NULL)
        return GSASL_NO_CALLBACK;
    snprintf(key, sizeof(key), "%s,%s", iter, salt);
    if ((hex = cache_get(key)) == NULL)
        return GSASL_NO_CALLBACK;
    return gsasl_property_set(s, GSASL_SCRAM_SALTED_PASSWORD, hex);
}

static void
sasl_answer(client_t *c, const char *b64)
{
    char *out = NULL;
    int rc;

    rc = gsasl_step64(c->sasl, b64, &out);
    if (rc != GSASL_OK && rc != GSASL_NEEDS_MORE) {
        client_fail(c, E_AUTH, gsasl_strerror(rc));
        return;
    }
    c->sasl_done = rc == GSASL_OK;
    send_fmt(c, "<response xmlns='" NS_SASL "'>%s</response>",
             out && *out ? out : "");
    gsasl_free(out);
}

static void
derive_work(uv_work_t *w)
{
    client_t *c = w->data;
    char salted[GSASL_HASH_MAX_SIZE], ck[GSASL_HASH_MAX_SIZE];
    char sk[GSASL_HASH_MAX_SIZE], stk[GSASL_HASH_MAX_SIZE];
    size_t i, n = gsasl_hash_length(GSASL_HASH_SHA1);

    c->derived[0] = '\0';
    if (gsasl_scram_secrets_from_password(GSASL_HASH_SHA1, opt.password,
                                          c->iter, c->salt, c->salt_len,
                                          salted, ck, sk, stk) != GSASL_OK)
        return;
    for (i = 0; i < n; i++)
        sprintf(c->derived + 2 * i, "%02x", (unsigned char) salted[i]);
}

static void
after_derive(uv_work_t *w, int status)
{
    client_t *c = w->data;
    char *challenge = c->challenge;

    c->challenge = NULL;
    st.derivations++;
    if (c->derived[0])
        cache_put(c->salt_key, c->derived);
    free(c->salt_key);
    free(c->salt);
    c->salt = c->salt_key = NULL;
    if (c->state != S_DERIVING) {
        /* failed or timed out meanwhile: finish the deferred close */
        enum state final = c->state;
        c->state = S_AUTH;
        client_close(c, final);
    } else {
        c->state = S_AUTH;
        sasl_answer(c, challenge);
    }
    free(challenge);
}

/* A SCRAM server-first message: derive the salted password off the loop the
 * first time a salt is seen, so thousands of logins don't serialize on it. */
static void
on_challenge(client_t *c, char *b64)
{
    char *plain = NULL, *s, *salt64 = NULL, *iter = NULL, key[512];
    size_t len;

    if (strncmp(opt.mech, "SCRAM-", 6) != 0 ||
        gsasl_base64_from(b64, strlen(b64), &plain, &len) != GSASL_OK) {
        sasl_answer(c, b64);
        gsasl_free(plain);
        return;
    }
    plain = xrealloc(plain, len + 1);
    plain[len] = '\0';
    for (s = strtok(plain, ","); s; s = strtok(NULL, ","))
        if (s[0] == 's' && s[1] == '=')
            salt64 = s + 2;
        else if (s[0] == 'i' && s[1] == '=')
            iter = s + 2;
    if (salt64 == NULL || iter == NULL) {
        sasl_answer(c, b64);
        free(plain);
        return;
    }
    /* same spelling as the ITER and SALT properties gsasl sets */
    snprintf(key, sizeof(key), "%lu,%s", strtoul(iter, NULL, 10), salt64);
    if (cache_get(key) ||
        gsasl_base64_from(salt64, strlen(salt64), &c->salt, &c->salt_len) !=
            GSASL_OK) {
        sasl_answer(c, b64);
        free(plain);
        return;
    }
    c->iter = (unsigned) strtoul(iter, NULL, 10);
    c->challenge = strdup(b64);
    c->salt_key = strdup(key);
    c->state = S_DERIVING;
    c->work.data = c;
    free(plain);
    if (uv_queue_work(loop, &c->work, derive_work, after_derive) < 0) {
        c->state = S_AUTH;
        sasl_answer(c, c->challenge);
        free(c->challenge);
        free(c->salt);
        free(c->salt_key);
        c->challenge = c->salt = c->salt_key = NULL;
    }
}

static void
start_auth(client_t *c, const char *st_p, size_t n)
{
    char mech[80], user[256], *out = NULL;
    int rc;

    snprintf(mech, sizeof(mech), ">%s<", opt.mech);
    if (find(st_p, n, mech) == NULL) {
        client_fail(c, E_AUTH, "mechanism not offered");
        return;
    }
    rc = gsasl_client_start(gsasl, opt.mech, &c->sasl);
    if (rc != GSASL_OK) {
        client_fail(c, E_AUTH, gsasl_strerror(rc));
        return;
    }
    snprintf(user, sizeof(user), "%s%d", opt.prefix, opt.first + c->idx);
    gsasl_session_hook_set(c->sasl, c);
    gsasl_property_set(c->sasl, GSASL_AUTHID, user);
    gsasl_property_set(c->sasl, GSASL_PASSWORD, opt.password);
    rc = gsasl_step64(c->sasl, "", &out);
    if (rc != GSASL_OK && rc != GSASL_NEEDS_MORE) {
        client_fail(c, E_AUTH, gsasl_strerror(rc));
        return;
    }
    c->sasl_done = rc == GSASL_OK;
    send_fmt(c, "<auth xmlns='" NS_SASL "' mechanism='%s'>%s</auth>",
             opt.mech, out && *out ? out : "=");
    gsasl_free(out);
    c->state = S_AUTH;
}

static void
on_auth_reply(client_t *c, const char *p, size_t n)
{
    char *data, *out = NULL;
    int rc;

    if (name_is(p, n, "challenge")) {
        if ((data = text_after(p, n, NULL)) == NULL) {
            client_fail(c, E_AUTH, "bad challenge");
            return;
        }
        on_challenge(c, data);
        free(data);
    } else if (name_is(p, n, "success")) {
        data = text_after(p, n, NULL);
        if (!c->sasl_done) {
            /* SCRAM's server-final arrives with success: verify it */
            rc = gsasl_step64(c->sasl, data && strcmp(data, "=") ? data : "",
                              &out);
            gsasl_free(out);
            if (rc != GSASL_OK) {
                free(data);
                client_fail(c, E_AUTH, "server signature not verified");
                return;
            }
        }
        free(data);
        gsasl_finish(c->sasl);
        c->sasl = NULL;
        c->state = S_FEATURES2;
        send_stream_header(c);
    } else if (name_is(p, n, "failure")) {
        client_fail(c, E_AUTH, "not-authorized");
    }
}

static void
on_features2(client_t *c, const char *p, size_t n)
{
    const char *s = find(p, n, NS_SESSION);

    /* RFC 6121 made <session/> a no-op; send it only where still required */
    c->session_needed = s && !find(s, n - (size_t) (s - p), "optional");
    c->state = S_BIND;
    send_fmt(c, "<iq type='set' id='b1'><bind xmlns='" NS_BIND "'/></iq>");
}

static void
on_bind(client_t *c, const char *p, size_t n)
{
    char *jid, *q, *w;

    if (!name_is(p, n, "iq") || !attr_is(p, n, "id", "b1"))
        return;
    if (!attr_is(p, n, "type", "result") ||
        (jid = text_after(p, n, "<jid")) == NULL || *jid == '\0') {
        client_fail(c, E_BIND, "bind refused");
        return;
    }
    /* the JID goes into single-quoted attributes */
    c->jid = xmalloc(strlen(jid) * 6 + 1);
    for (q = jid, w = c->jid; *q; q++)
        if (*q == '\'')
            w += sprintf(w, "&apos;");
        else
            *w++ = *q;
    *w = '\0';
    free(jid);
    if (c->session_needed) {
        c->state = S_SESSION;
        send_fmt(c, "<iq type='set' id='s1'><session xmlns='" NS_SESSION
                 "'/></iq>");
    } else {
        go_online(c);
    }
}

static void
send_message(client_t *c)
{
    client_t *to = c->peer;
    int i;

    send_fmt(c, "<message to='%s' type='chat' id='m%" PRIu64 "'><body>t=%"
             PRIu64 " ", to->jid, c->seq++, uv_hrtime());
    out_reserve(c, (size_t) opt.body);
    for (i = 0; i < opt.body; i++)
        c->out[c->out_len++] = 'x';
    send_fmt(c, "</body></message>");
    if (opt.sm_ask > 0 && ++c->sm_unasked >= opt.sm_ask) {
        send_fmt(c, "<r xmlns='" NS_SM "'/>");
        c->sm_unasked = 0;
    }
    c->inflight++;
    st.sent++;
    if (st.measuring)
        st.win_sent++;
}

static void
on_message(client_t *c, const char *p, size_t n, uint64_t now)
{
    const char *b = find(p, n, "<body>t=");
    client_t *from;
    uint64_t t;

    if (attr_is(p, n, "type", "error")) {
        st.errors[E_MESSAGE]++;
        from = c;
    } else if (b == NULL) {
        return;
    } else {
        from = c->peer;
        t = strtoull(b + 8, NULL, 10);
        st.delivered++;
        if (st.measuring) {
            st.win_delivered++;
            hist_add(&st.msg_lat, now > t ? now - t : 0);
        }
    }
    if (from == NULL || from->inflight == 0)
        return;
    from->inflight--;
    if (st.messaging && opt.rate <= 0 && from->state == S_ONLINE &&
        from->peer->state == S_ONLINE)
        send_message(from);
}

static void
on_online_stanza(client_t *c, const char *p, size_t n, uint64_t now)
{
    size_t len;
    const char *id, *type;

    if (opt.sm_ask > 0) {
        if (name_is(p, n, "r")) {
            send_fmt(c, "<a xmlns='" NS_SM "' h='%" PRIu32 "'/>",
                     c->sm_received);
            return;
        }
        if (name_is(p, n, "message") || name_is(p, n, "presence") ||
            name_is(p, n, "iq"))
            c->sm_received++;
    }
    if (name_is(p, n, "message")) {
        on_message(c, p, n, now);
    } else if (name_is(p, n, "iq")) {
        type = attr(p, n, "type", &len);
        if (type == NULL || len != 3 ||
            (memcmp(type, "get", 3) != 0 && memcmp(type, "set", 3) != 0))
            return;
        /* answer server pings and the like so the session stays healthy */
        if ((id = attr(p, n, "id", &len)) == NULL)
            return;
        send_fmt(c, "<iq type='result' id='%.*s'/>", (int) len, id);
    }
}

static void
on_register_reply(client_t *c, const char *p, size_t n)
{
    if (!name_is(p, n, "iq") || !attr_is(p, n, "id", "r1"))
        return;
    if (attr_is(p, n, "type", "result") || find(p, n, "<conflict")) {
        send_fmt(c, "</stream:stream>");
        flush_client(c);
        client_close(c, S_DONE);
        login_finished(c, 1);
    } else {
        client_fail(c, E_REGISTER, "registration refused");
    }
}

static void
on_stanza(client_t *c, const char *p, size_t n, uint64_t now)
{
    if (name_is(p, n, "error")) {
        client_fail(c, E_STREAM, "stream error");
        return;
    }
    switch (c->state) {
    case S_FEATURES1:
        if (!name_is(p, n, "features"))
            return;
        if (opt.mode == MODE_REGISTER) {
            c->state = S_REGISTER;
            send_fmt(c, "<iq type='set' id='r1'><query xmlns='" NS_REGISTER
                     "'><username>%s%d</username><password>%s</password>"
                     "</query></iq>", opt.prefix, opt.first + c->idx,
                     opt.password);
        } else {
            start_auth(c, p, n);
        }
        break;
    case S_AUTH:
        on_auth_reply(c, p, n);
        break;
    case S_FEATURES2:
        if (name_is(p, n, "features"))
            on_features2(c, p, n);
        break;
    case S_BIND:
        on_bind(c, p, n);
        break;
    case S_SESSION:
        if (name_is(p, n, "iq") && attr_is(p, n, "id", "s1")) {
            if (attr_is(p, n, "type", "result"))
                go_online(c);
            else
                client_fail(c, E_BIND, "session refused");
        }
        break;
    case S_REGISTER:
        on_register_reply(c, p, n);
        break;
    case S_ONLINE:
        on_online_stanza(c, p, n, now);
        break;
    default:
        break;
    }
}

/* Frames the stream: the header, then each complete depth-1 element.
 * Returns how many bytes were consumed; the rest is an incomplete element
 * that is scanned again once more bytes arrive. */
static size_t
scan(client_t *c, const char *p, size_t n, uint64_t now)
{
    size_t i = 0, j, consumed = 0, start = 0;
    int depth = c->in_stream ? 1 : 0;
    const char *lt;
    char q;

    while (i < n) {
        if ((lt = memchr(p + i, '<', n - i)) == NULL) {
            i = n;
            break;
        }
        i = (size_t) (lt - p);
        for (j = i + 1, q = 0; j < n; j++) {
            if (q) {
                if (p[j] == q)
                    q = 0;
            } else if (p[j] == '"' || p[j] == '\'') {
                q = p[j];
            } else if (p[j] == '>') {
                break;
            }
        }
        if (j >= n)
            break;
        if (p[i + 1] == '?' || p[i + 1] == '!') {
            if (depth == 0)
                consumed = j + 1;
        } else if (p[i + 1] == '/') {
            if (--depth <= 0) {
                client_fail(c, E_CLOSED, "stream closed by server");
                return n;
            }
            if (depth == 1) {
                on_stanza(c, p + start, j + 1 - start, now);
                consumed = j + 1;
            }
        } else if (depth == 0) {
            c->in_stream = 1;
            consumed = j + 1;
        } else if (p[j - 1] == '/') {
            if (depth == 1) {
                on_stanza(c, p + i, j + 1 - i, now);
                consumed = j + 1;
            }
        } else {
            if (depth == 1)
                start = i;
            depth++;
        }
        if (c->state == S_DEAD || c->state == S_DONE)
            return n;
        if (depth <= 1)
            depth = c->in_stream ? 1 : 0;
        i = j + 1;
    }
    if (depth <= 1 && consumed < i)
        consumed = i;
    return consumed;
}

static void
on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    *b = uv_buf_init(read_buf, sizeof(read_buf));
}

static void
on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    client_t *c = s->data;
    const char *p;
    size_t n, used;
    uint64_t now;

    if (nread == 0)
        return;
    if (nread < 0) {
        client_fail(c, nread == UV_EOF ? E_CLOSED : E_IO,
                    uv_strerror((int) nread));
        return;
    }
    now = uv_hrtime();
    if (c->in_len) {
        if (c->in_len + (size_t) nread > c->in_cap) {
            c->in_cap = c->in_len + (size_t) nread;
            c->in = xrealloc(c->in, c->in_cap);
        }
        memcpy(c->in + c->in_len, b->base, (size_t) nread);
        c->in_len += (size_t) nread;
        p = c->in;
        n = c->in_len;
    } else {
        p = b->base;
        n = (size_t) nread;
    }
    used = scan(c, p, n, now);
    if (c->state == S_DEAD || c->state == S_DONE)
        return;
    if (used < n) {
        if (p == c->in) {
            memmove(c->in, c->in + used, n - used);
        } else {
            if (n - used > c->in_cap) {
                c->in_cap = n - used;
                c->in = xrealloc(c->in, c->in_cap);
            }
            memcpy(c->in, p + used, n - used);
        }
    }
    c->in_len = n - used;
}

static void
on_connect(uv_connect_t *req, int status)
{
    client_t *c = req->data;

    if (c->state != S_CONNECTING)
        return;
    if (status < 0) {
        client_fail(c, E_CONNECT, uv_strerror(status));
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    c->state = S_FEATURES1;
    if (uv_read_start((uv_stream_t *) &c->tcp, on_alloc, on_read) < 0) {
        client_fail(c, E_IO, "read_start");
        return;
    }
    send_stream_header(c);
}

static void
client_start(client_t *c)
{
    int err;

    c->t_start = uv_hrtime();
    c->state = S_CONNECTING;
    st.pending++;
    uv_tcp_init(loop, &c->tcp);
    c->tcp.data = c;
    c->conn.data = c;
    err = uv_tcp_connect(&c->conn, &c->tcp,
                         (struct sockaddr *) (opt.port2 > 0 && (c->idx & 1)
                                                  ? &addr2 : &addr),
                         on_connect);
    if (err < 0)
        client_fail(c, E_CONNECT, uv_strerror(err));
}

static void
launch_more(void)
{
    double allowed;

    if (st.finished)
        return;
    while (st.launched < opt.users && st.pending < opt.concurrency) {
        if (opt.connect_rate > 0) {
            allowed = secs(st.t_begin, uv_hrtime()) * opt.connect_rate + 1;
            if (st.launched >= allowed)
                break;
        }
        client_start(&clients[st.launched++]);
    }
}

/* ---- phases ---- */

static void
print_results(void)
{
    double login_s = st.t_logins > st.t_begin ? secs(st.t_begin, st.t_logins)
                                              : 0;
    double lps = login_s > 0 ? st.online / login_s : 0;
    double cpu_login = -1, rss_per = -1, win = 0, mps = 0;
    double cpu_win = -1, per_cpu = -1;
    uint64_t errs = 0;
    struct rusage ru;
    double gen_cpu;
    int i;

    for (i = 0; i < E_COUNT; i++)
        errs += st.errors[i];
    getrusage(RUSAGE_SELF, &ru);
    gen_cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
              ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
    if (st.cpu0 >= 0 && st.cpu_logins >= 0 && st.online > 0)
        cpu_login = (st.cpu_logins - st.cpu0) * 1000.0 / st.online;
    if (st.rss0 > 0 && st.rss1 > 0 && st.online > 0)
        rss_per = (double) (st.rss1 - st.rss0) / st.online;

    printf("ember-load%s%s: %s %d/%d %s in %.2f s: %.0f/s, login p50 %.2f "
           "ms p99 %.2f ms, %" PRIu64 " errors",
           *opt.label ? " " : "", opt.label,
           opt.mode == MODE_REGISTER ? "registered" : "logged in",
           st.online, opt.users,
           opt.mode == MODE_REGISTER ? "accounts" : opt.mech, login_s, lps,
           hist_pct_ms(&st.login_lat, 50), hist_pct_ms(&st.login_lat, 99),
           errs);
    for (i = 0; i < E_COUNT; i++)
        if (st.errors[i])
            printf(" %s=%" PRIu64, err_names[i], st.errors[i]);
    printf("\n");
    if (cpu_login >= 0)
        printf("  server CPU %.3f ms per login\n", cpu_login);
    if (rss_per >= 0)
        printf("  server RSS %ld KiB -> %ld KiB: %.1f KiB per session\n",
               st.rss0, st.rss1, rss_per);
    if (opt.mode == MODE_PAIRS && st.t_win1 > st.t_win0) {
        win = secs(st.t_win0, st.t_win1);
        mps = st.win_delivered / win;
        if (st.cpu_win0 >= 0 && st.cpu_win1 >= 0) {
            cpu_win = st.cpu_win1 - st.cpu_win0;
            per_cpu = cpu_win > 0 ? st.win_delivered / cpu_win : 0;
        }
        printf("  %s loop, %d sessions, %.1f s: %.0f msgs/s delivered "
               "(%" PRIu64 " sent), latency p50 %.3f p90 %.3f p99 %.3f "
               "max %.3f ms\n",
               opt.rate > 0 ? "open" : "closed", st.online, win, mps,
               st.win_sent, hist_pct_ms(&st.msg_lat, 50),
               hist_pct_ms(&st.msg_lat, 90), hist_pct_ms(&st.msg_lat, 99),
               st.msg_lat.max / 1e6);
        if (per_cpu >= 0)
            printf("  server CPU %.2f s (%.0f %% of a core): %.0f msgs per "
                   "CPU-second\n", cpu_win, 100 * cpu_win / win, per_cpu);
        if (st.skipped)
            printf("  %" PRIu64 " sends skipped: sender backlog over %u\n",
                   st.skipped, opt.max_inflight);
    }
    printf("  generator CPU %.2f s, %d salts derived\n", gen_cpu,
           st.derivations);

    printf("{\"label\":\"%s\",\"mode\":\"%s\",\"mech\":\"%s\",\"users\":%d,"
           "\"online\":%d,\"errors\":%" PRIu64 ",\"login_s\":%.3f,"
           "\"logins_per_s\":%.1f,\"login_p50_ms\":%.3f,\"login_p99_ms\":%.3f,"
           "\"cpu_ms_per_login\":%.4f,\"rss_kib_before\":%ld,"
           "\"rss_kib_after\":%ld,\"rss_kib_per_session\":%.2f,",
           opt.label,
           opt.mode == MODE_PAIRS ? (opt.rate > 0 ? "open" : "closed") :
           opt.mode == MODE_REGISTER ? "register" : "hold",
           opt.mech, opt.users, st.online, errs, login_s, lps,
           hist_pct_ms(&st.login_lat, 50), hist_pct_ms(&st.login_lat, 99),
           cpu_login, st.rss0, st.rss1, rss_per);
    printf("\"sm_ask\":%u,", opt.sm_ask);
    printf("\"window\":%d,\"rate\":%.0f,\"measure_s\":%.3f,"
           "\"sent\":%" PRIu64 ",\"delivered\":%" PRIu64 ","
           "\"msgs_per_s\":%.1f,\"p50_ms\":%.4f,\"p90_ms\":%.4f,"
           "\"p99_ms\":%.4f,\"max_ms\":%.4f,\"server_cpu_s\":%.3f,"
           "\"server_cores\":%.3f,\"msgs_per_cpu_s\":%.1f,"
           "\"skipped\":%" PRIu64 ",\"gen_cpu_s\":%.3f}\n",
           opt.rate > 0 ? 0 : opt.window, opt.rate, win, st.win_sent,
           st.win_delivered, mps, hist_pct_ms(&st.msg_lat, 50),
           hist_pct_ms(&st.msg_lat, 90), hist_pct_ms(&st.msg_lat, 99),
           st.msg_lat.max / 1e6, cpu_win,
           cpu_win >= 0 && win > 0 ? cpu_win / win : -1, per_cpu, st.skipped,
           gen_cpu);
    fflush(stdout);
}

static void
finish(void)
{
    if (st.finished)
        return;
    st.finished = 1;
    st.messaging = 0;
    st.measuring = 0;
    print_results();
    cache_save();
    /* closing ~19,000 sockets one by one teaches nothing: the kernel does it */
    exit(0);
}

static void
on_watchdog(uv_timer_t *t)
{
    int i, launched;

    if (st.online + st.failed >= opt.users)
        return;
    fprintf(stderr, "ember-load: logins still pending after %.0f s\n",
            opt.timeout);
    launched = st.launched;
    st.failed += opt.users - launched;
    st.errors[E_TIMEOUT] += (uint64_t) (opt.users - launched);
    st.launched = opt.users;
    if (st.pending == 0) {
        logins_complete();
        return;
    }
    /* the last of these completes the login phase */
    for (i = 0; i < launched; i++)
        if (clients[i].state != S_ONLINE && clients[i].state != S_DONE &&
            clients[i].state != S_DEAD)
            client_fail(&clients[i], E_TIMEOUT, "login timed out");
}

static void
on_open_tick(uv_timer_t *t)
{
    uint64_t due;
    int tries;
    client_t *c = NULL;

    due = (uint64_t) (secs(st.t_msg_start, uv_hrtime()) * opt.rate);
    while (st.sent + st.skipped < due) {
        for (tries = 0; tries < opt.users; tries++) {
            c = &clients[st.rr];
            st.rr = (st.rr + 1) % opt.users;
            if (c->state == S_ONLINE && c->peer &&
                c->peer->state == S_ONLINE)
                break;
        }
        if (tries == opt.users) {
            st.skipped = due - st.sent;
            break;
        }
        if (c->inflight >= opt.max_inflight)
            st.skipped++;
        else
            send_message(c);
    }
    on_flush(NULL);
}

static void
on_window_end(uv_timer_t *t)
{
    st.t_win1 = uv_hrtime();
    st.cpu_win1 = server_cpu();
    finish();
}

static void
on_window_start(uv_timer_t *t)
{
    st.t_win0 = uv_hrtime();
    st.cpu_win0 = server_cpu();
    st.measuring = 1;
    uv_timer_start(&phase_timer, on_window_end,
                   (uint64_t) (opt.duration * 1000), 0);
}

static void
start_messages(void)
{
    int i, w;
    client_t *c;

    st.messaging = 1;
    st.t_msg_start = uv_hrtime();
    if (opt.rate > 0) {
        uv_timer_start(&tick_timer, on_open_tick, 1, 1);
    } else {
        for (i = 0; i < opt.users; i++) {
            c = &clients[i];
            if (c->state != S_ONLINE || c->peer == NULL ||
                c->peer->state != S_ONLINE)
                continue;
            for (w = 0; w < opt.window; w++)
                send_message(c);
        }
        on_flush(NULL);
    }
    uv_timer_start(&phase_timer, on_window_start,
                   (uint64_t) (opt.warmup * 1000), 0);
}

static void
on_hold_end(uv_timer_t *t)
{
    finish();
}

static void
on_settled(uv_timer_t *t)
{
    double rest;

    st.cpu_logins = server_cpu();
    st.rss1 = server_rss_kib();
    printf("ember-load%s%s: %d online, %d failed after %.2f s\n",
           *opt.label ? " " : "", opt.label, st.online, st.failed,
           secs(st.t_begin, st.t_logins > st.t_begin ? st.t_logins
                                                      : uv_hrtime()));
    fflush(stdout);
    if (opt.mode == MODE_PAIRS) {
        start_messages();
        return;
    }
    rest = opt.mode == MODE_HOLD ? opt.duration : 0;
    uv_timer_start(&phase_timer, on_hold_end, (uint64_t) (rest * 1000), 0);
}

static void
logins_complete(void)
{
    uv_timer_stop(&watchdog);
    uv_timer_stop(&tick_timer);
    if (st.t_logins == 0)
        st.t_logins = uv_hrtime();
    /* give the server time to finish what the last logins queued */
    uv_timer_start(&phase_timer, on_settled,
                   opt.mode == MODE_REGISTER ? 0 :
                   (uint64_t) (opt.settle * 1000), 0);
}

static void
on_launch_tick(uv_timer_t *t)
{
    launch_more();
    on_flush(NULL);
}

/* ---- command line ---- */

static void
usage(FILE *f)
{
    fprintf(f,
"usage: ember-load [options]\n"
"  --host ADDR          server address (127.0.0.1)\n"
"  --port N             c2s port, plain TCP (5222)\n"
"  --domain D           XMPP domain (localhost)\n"
"  --users N            sessions (100); user names PREFIX0..PREFIX{N-1}\n"
"  --prefix P           user name prefix (u)\n"
"  --first N            index of the first user (0)\n"
"  --password PW        password of every user (pw)\n"
"  --mech M             SCRAM-SHA-1 | SCRAM-SHA-256 | PLAIN (SCRAM-SHA-1)\n"
"  --hold               log users in, hold them --duration s (default)\n"
"  --pairs              sessions 2k and 2k+1 chat with each other\n"
"  --register           create the accounts in-band (XEP-0077) and quit\n"
"  --window W           closed loop: messages in flight per sender (4)\n"
"  --rate R             open loop: R messages/s in total (0 = closed loop)\n"
"  --duration S         hold time / measured window in s (10)\n"
"  --warmup S           messages sent before the window opens (1)\n"
"  --settle S           pause after the last login before measuring (2)\n"
"  --connect-rate R     at most R new connections/s (0 = no cap)\n"
"  --concurrency C      at most C logins in progress (100)\n"
"  --body N             body padding in bytes (32)\n"
"  --sm N               XEP-0198: <enable/> after bind, answer the server's\n"
"                       <r/>, ask <r/> after every N messages sent (0: off)\n"
"  --server-pid PID     sample the server's CPU and RSS from /proc\n"
"  --port2 N            sessions 2k+1 connect to this port (another node of\n"
"                       a cluster): --pairs chat across nodes\n"
"  --more-pids P,...    up to 3 more processes whose CPU counts as the\n"
"                       server's (other nodes, Redis)\n"
"  --scram-cache FILE   keep SCRAM salted passwords across runs\n"
"  --timeout S          give up on logins after S s (300)\n"
"  --label L            name printed with the results\n"
"  --scram-secrets SALT ITER  print StoredKey and ServerKey (hex, SHA-1)\n"
"                       for --password, then exit\n");
}

static int
print_secrets(const char *salt, const char *iter)
{
    char sp[GSASL_HASH_MAX_SIZE], ck[GSASL_HASH_MAX_SIZE];
    char sk[GSASL_HASH_MAX_SIZE], stk[GSASL_HASH_MAX_SIZE];
    size_t i, n = gsasl_hash_length(GSASL_HASH_SHA1);

    if (gsasl_scram_secrets_from_password(GSASL_HASH_SHA1, opt.password,
                                          (unsigned) atoi(iter), salt,
                                          strlen(salt), sp, ck, sk, stk) !=
        GSASL_OK)
        return 1;
    for (i = 0; i < n; i++)
        printf("%02x", (unsigned char) stk[i]);
    printf(" ");
    for (i = 0; i < n; i++)
        printf("%02x", (unsigned char) sk[i]);
    printf("\n");
    return 0;
}

static void
raise_nofile(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
        rl.rlim_cur < (rlim_t) opt.users + 64)
        fprintf(stderr, "ember-load: open-file limit %lu is below %d "
                "sessions\n", (unsigned long) rl.rlim_cur, opt.users);
}

int
main(int argc, char **argv)
{
    enum {
        O_HOST = 256, O_PORT, O_DOMAIN, O_USERS, O_PREFIX, O_FIRST,
        O_PASSWORD, O_MECH, O_HOLD, O_PAIRS, O_REGISTER, O_WINDOW, O_RATE,
        O_DURATION, O_WARMUP, O_SETTLE, O_CRATE, O_CONC, O_BODY, O_PID,
        O_CACHE, O_TIMEOUT, O_LABEL, O_SECRETS, O_HELP, O_PORT2, O_MORE, O_SM
    };
    static const struct option longopts[] = {
        { "host", 1, 0, O_HOST }, { "port", 1, 0, O_PORT },
        { "domain", 1, 0, O_DOMAIN }, { "users", 1, 0, O_USERS },
        { "prefix", 1, 0, O_PREFIX }, { "first", 1, 0, O_FIRST },
        { "password", 1, 0, O_PASSWORD }, { "mech", 1, 0, O_MECH },
        { "hold", 0, 0, O_HOLD }, { "pairs", 0, 0, O_PAIRS },
        { "register", 0, 0, O_REGISTER }, { "window", 1, 0, O_WINDOW },
        { "rate", 1, 0, O_RATE }, { "duration", 1, 0, O_DURATION },
        { "warmup", 1, 0, O_WARMUP }, { "settle", 1, 0, O_SETTLE },
        { "connect-rate", 1, 0, O_CRATE }, { "concurrency", 1, 0, O_CONC },
        { "body", 1, 0, O_BODY }, { "server-pid", 1, 0, O_PID },
        { "scram-cache", 1, 0, O_CACHE }, { "timeout", 1, 0, O_TIMEOUT },
        { "label", 1, 0, O_LABEL }, { "scram-secrets", 1, 0, O_SECRETS },
        { "help", 0, 0, O_HELP }, { "port2", 1, 0, O_PORT2 },
        { "more-pids", 1, 0, O_MORE }, { "sm", 1, 0, O_SM },
        { 0, 0, 0, 0 }
    };
    const char *secrets_salt = NULL;
    int ch, i, rc;

    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (ch) {
        case O_HOST: opt.host = optarg; break;
        case O_PORT: opt.port = atoi(optarg); break;
        case O_DOMAIN: opt.domain = optarg; break;
        case O_USERS: opt.users = atoi(optarg); break;
        case O_PREFIX: opt.prefix = optarg; break;
        case O_FIRST: opt.first = atoi(optarg); break;
        case O_PASSWORD: opt.password = optarg; break;
        case O_MECH: opt.mech = optarg; break;
        case O_HOLD: opt.mode = MODE_HOLD; break;
        case O_PAIRS: opt.mode = MODE_PAIRS; break;
        case O_REGISTER: opt.mode = MODE_REGISTER; break;
        case O_WINDOW: opt.window = atoi(optarg); break;
        case O_RATE: opt.rate = atof(optarg); break;
        case O_SM: opt.sm_ask = (unsigned) atoi(optarg); break;
        case O_DURATION: opt.duration = atof(optarg); break;
        case O_WARMUP: opt.warmup = atof(optarg); break;
        case O_SETTLE: opt.settle = atof(optarg); break;
        case O_CRATE: opt.connect_rate = atof(optarg); break;
        case O_CONC: opt.concurrency = atoi(optarg); break;
        case O_BODY: opt.body = atoi(optarg); break;
        case O_PID: opt.server_pid = atoi(optarg); break;
        case O_CACHE: opt.cache_file = optarg; break;
        case O_TIMEOUT: opt.timeout = atof(optarg); break;
        case O_LABEL: opt.label = optarg; break;
        case O_SECRETS: secrets_salt = optarg; break;
        case O_PORT2: opt.port2 = atoi(optarg); break;
        case O_MORE:
            sscanf(optarg, "%d,%d,%d", &opt.more_pids[0], &opt.more_pids[1],
                   &opt.more_pids[2]);
            break;
        case O_HELP: usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if ((rc = gsasl_init(&gsasl)) != GSASL_OK) {
        fprintf(stderr, "ember-load: gsasl_init: %s\n", gsasl_strerror(rc));
        return 1;
    }
    if (secrets_salt) {
        if (optind >= argc) {
            usage(stderr);
            return 2;
        }
        return print_secrets(secrets_salt, argv[optind]);
    }
    if (optind != argc || opt.users <= 0 || opt.concurrency <= 0 ||
        opt.window <= 0 || opt.body < 0 || opt.duration < 0 ||
        (opt.mode == MODE_PAIRS && opt.users % 2)) {
        fprintf(stderr, "ember-load: bad arguments (--pairs needs an even "
                "--users)\n");
        usage(stderr);
        return 2;
    }
    if (uv_ip4_addr(opt.host, opt.port, (struct sockaddr_in *) &addr) < 0 &&
        uv_ip6_addr(opt.host, opt.port, (struct sockaddr_in6 *) &addr) < 0) {
        fprintf(stderr, "ember-load: --host must be a numeric address\n");
        return 2;
    }
    if (opt.port2 > 0 &&
        uv_ip4_addr(opt.host, opt.port2, (struct sockaddr_in *) &addr2) < 0 &&
        uv_ip6_addr(opt.host, opt.port2, (struct sockaddr_in6 *) &addr2) < 0)
        return 2;
    gsasl_callback_set(gsasl, on_sasl_cb);
    raise_nofile();
    cache_load();

    clients = calloc((size_t) opt.users, sizeof(*clients));
    if (clients == NULL) {
        fprintf(stderr, "ember-load: out of memory\n");
        return 1;
    }
    for (i = 0; i < opt.users; i++) {
        clients[i].idx = i;
        if (opt.mode == MODE_PAIRS)
            clients[i].peer = &clients[i ^ 1];
    }
    loop = uv_default_loop();
    uv_timer_init(loop, &tick_timer);
    uv_timer_init(loop, &phase_timer);
    uv_timer_init(loop, &watchdog);
    uv_check_init(loop, &flusher);
    uv_check_start(&flusher, on_flush);

    server_wait_quiet();
    st.cpu0 = server_cpu();
    st.rss0 = server_rss_kib();
    st.cpu_win0 = st.cpu_win1 = -1;
    st.t_begin = uv_hrtime();
    uv_timer_start(&watchdog, on_watchdog, (uint64_t) (opt.timeout * 1000),
                   0);
    uv_timer_start(&tick_timer, on_launch_tick, 1, 1);
    launch_more();
    on_flush(NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    finish();
    return 0;
}
