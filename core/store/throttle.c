/* core/store/throttle.c -- failed password checks per address, network and
 * account, in a fixed-size set-associative table. */
#include <arpa/inet.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gnutls/crypto.h>

#include "base/log.h"
#include "base/process.h"
#include "store/throttle.h"

#define BUCKETS 4096
#define WAYS 8
#define HALF_LIFE_S 900.0
#define NETWORK_FACTOR 4

typedef struct slot_s {
    uint64_t key;      /* 0: free */
    double score;      /* failures, decayed to `last` */
    double last;       /* seconds of uptime at the last failure */
} slot_t;

typedef enum { KEY_ADDRESS, KEY_NETWORK, KEY_ACCOUNT, KEY_KINDS } key_kind_t;

static slot_t *table;
static unsigned char hash_key[32];
static ember_throttle_limits_t limits;
static int limits_set;


void
ember__throttle_set_limits(const ember_throttle_limits_t *l)
{
    limits_set = l != NULL;
    if (l != NULL)
        limits = *l;
}


/* <limits login-...> of the configuration in force, unless set. */
static void
refresh_limits(void)
{
    const ember_config_t *cfg = ember__config();

    if (limits_set)
        return;
    if (cfg == NULL) {
        limits = (ember_throttle_limits_t) { 5, 10, 300 };
        return;
    }
    limits.per_address = cfg->limits.login_failures_per_ip;
    limits.per_account = cfg->limits.login_failures_per_account;
    limits.max_delay = cfg->limits.login_max_delay;
}


static int
table_ready(void)
{
    if (table != NULL)
        return 0;
    if (gnutls_rnd(GNUTLS_RND_KEY, hash_key, sizeof(hash_key)) < 0)
        return -1;
    table = calloc((size_t) BUCKETS * WAYS, sizeof(*table));
    return table != NULL ? 0 : -1;
}


void
ember__throttle_reset(void)
{
    if (table != NULL)
        memset(table, 0, (size_t) BUCKETS * WAYS * sizeof(*table));
}


static double
now_s(void)
{
    return (double) ember__uptime_ms() / 1000.0;
}


/* Keyed, so nobody can aim a flood of keys at one bucket. */
static uint64_t
key_of(key_kind_t kind, const char *text)
{
    unsigned char digest[32];
    uint64_t k;
    char tag = (char) ('a' + kind);
    gnutls_hmac_hd_t h;

    if (gnutls_hmac_init(&h, GNUTLS_MAC_SHA256, hash_key,
                         sizeof(hash_key)) < 0)
        return 0;
    gnutls_hmac(h, &tag, 1);
    gnutls_hmac(h, text, strlen(text));
    gnutls_hmac_deinit(h, digest);
    memcpy(&k, digest, sizeof(k));
    return k | 1;
}


/* "a.b.c.0/24" or the first 64 bits of an IPv6 address; "" if neither. */
static void
network_of(const char *addr, char *out, size_t outlen)
{
    unsigned char b[16];

    out[0] = '\0';
    if (inet_pton(AF_INET, addr, b) == 1) {
        snprintf(out, outlen, "%u.%u.%u.0/24", b[0], b[1], b[2]);
    } else if (inet_pton(AF_INET6, addr, b) == 1) {
        if (memcmp(b, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0)
            snprintf(out, outlen, "%u.%u.%u.0/24", b[12], b[13], b[14]);
        else
            snprintf(out, outlen, "%02x%02x:%02x%02x:%02x%02x:%02x%02x::/64",
                     b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]);
    }
}


static double
decayed(const slot_t *s, double now)
{
    return s->score * exp2(-(now - s->last) / HALF_LIFE_S);
}


static slot_t *
find(uint64_t key)
{
    slot_t *b = table + (key % BUCKETS) * WAYS;
    int i;

    for (i = 0; i < WAYS; i++)
        if (b[i].key == key)
            return &b[i];
    return NULL;
}


/*
 * A slot for a new key: a free one, else the one of fewest decayed
 * failures if it has no more than the newcomer's one.  A full bucket of
 * heavier keys keeps them and leaves the newcomer out: a flood of light
 * keys never pushes out a heavy guesser, and the newcomer's other keys
 * (network, account) live in other buckets.
 */
static slot_t *
claim(uint64_t key, double now)
{
    slot_t *b = table + (key % BUCKETS) * WAYS, *least = NULL;
    double least_score = 0;
    int i;

    for (i = 0; i < WAYS; i++) {
        if (b[i].key == 0) {
            b[i] = (slot_t) { key, 0, now };
            return &b[i];
        }
        if (least == NULL || decayed(&b[i], now) < least_score) {
            least = &b[i];
            least_score = decayed(&b[i], now);
        }
    }
    if (least_score > 1)
        return NULL;
    *least = (slot_t) { key, 0, now };
    return least;
}


static int
free_failures(key_kind_t kind)
{
    switch (kind) {
    case KEY_ADDRESS:
        return limits.per_address;
    case KEY_NETWORK:
        return limits.per_address * NETWORK_FACTOR;
    default:
        return limits.per_account;
    }
}


static double
wait_of(const slot_t *s, key_kind_t kind, double now)
{
    double over = s->score - free_failures(kind), delay;

    if (over <= 0)
        return 0;
    delay = over >= 30 ? limits.max_delay : exp2(over - 1);
    if (delay > limits.max_delay)
        delay = limits.max_delay;
    return s->last + delay - now;
}


static int
keys_of(const char *addr, const char *account, uint64_t keys[KEY_KINDS])
{
    char net[64];

    if (table_ready() < 0)
        return -1;
    refresh_limits();
    memset(keys, 0, sizeof(uint64_t) * KEY_KINDS);
    if (addr != NULL && addr[0] != '\0') {
        keys[KEY_ADDRESS] = key_of(KEY_ADDRESS, addr);
        network_of(addr, net, sizeof(net));
        if (net[0] != '\0')
            keys[KEY_NETWORK] = key_of(KEY_NETWORK, net);
    }
    if (account != NULL && account[0] != '\0')
        keys[KEY_ACCOUNT] = key_of(KEY_ACCOUNT, account);
    return 0;
}


int
ember__throttle_wait(const char *addr, const char *account)
{
    uint64_t keys[KEY_KINDS];
    double now = now_s(), w, most = 0;
    slot_t *s;
    int k;

    if (keys_of(addr, account, keys) < 0)
        return 1;
    for (k = 0; k < KEY_KINDS; k++) {
        if (keys[k] == 0 || (s = find(keys[k])) == NULL)
            continue;
        if ((w = wait_of(s, (key_kind_t) k, now)) > most)
            most = w;
    }
    return (int) ceil(most);
}


/* The account as logged: control characters cannot fake a log line. */
static void
printable(const char *in, char *out, size_t outlen)
{
    size_t i;

    for (i = 0; in[i] != '\0' && i + 1 < outlen; i++)
        out[i] = (unsigned char) in[i] < 0x20 || in[i] == 0x7f ? '?' : in[i];
    out[i] = '\0';
}


void
ember__throttle_failed(const char *addr, const char *account,
                       const char *door)
{
    uint64_t keys[KEY_KINDS];
    double now = now_s();
    char shown[512];
    slot_t *s;
    int k;

    printable(account != NULL ? account : "(unknown)", shown, sizeof(shown));
    ember__log(EMBER_LOG_WARN, "auth", "authentication failed from %s "
               "for %s (%s)", addr != NULL && addr[0] != '\0' ? addr : "-",
               shown, door);
    if (keys_of(addr, account, keys) < 0)
        return;
    for (k = 0; k < KEY_KINDS; k++) {
        if (keys[k] == 0)
            continue;
        if ((s = find(keys[k])) == NULL && (s = claim(keys[k], now)) == NULL)
            continue;
        s->score = decayed(s, now) + 1;
        s->last = now;
    }
}


void
ember__throttle_succeeded(const char *account)
{
    uint64_t keys[KEY_KINDS];
    slot_t *s;

    if (keys_of(NULL, account, keys) < 0)
        return;
    if (keys[KEY_ACCOUNT] != 0 && (s = find(keys[KEY_ACCOUNT])) != NULL)
        s->key = 0;
}
