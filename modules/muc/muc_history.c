/* muc_history.c -- discussion history (XEP-0045 7.2.14-7.2.15): a ring of
 * the last messages per room, replayed on join with XEP-0203 delays. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/time.h>

#include "muc.h"


int64_t
muc_now_us(void)
{
    struct timeval tv;

    gettimeofday(&tv, NULL);
    return (int64_t) tv.tv_sec * 1000000 + tv.tv_usec;
}


static muc_hist_t *
hist_at(muc_room_t *r, int i)
{
    return &r->hist[(r->hist_start + i) % r->hist_cap];
}


/* Keep the newest min(n, cap) items in a ring of cap slots. */
void
muc_hist_resize(muc_room_t *r, int cap)
{
    muc_hist_t *nh = NULL;
    int i, keep, drop;

    if (cap == r->hist_cap)
        return;
    if (cap > 0 && (nh = calloc((size_t) cap, sizeof(*nh))) == NULL)
        return;
    keep = r->hist_n < cap ? r->hist_n : cap;
    drop = r->hist_n - keep;
    for (i = 0; i < r->hist_n; i++) {
        if (i < drop) {
            free(hist_at(r, i)->xml);
            free(hist_at(r, i)->id);
        }
        else
            nh[i - drop] = *hist_at(r, i);
    }
    free(r->hist);
    r->hist = nh;
    r->hist_cap = cap;
    r->hist_start = 0;
    r->hist_n = keep;
}


static void
hist_push(muc_room_t *r, char *xml, int64_t us)
{
    muc_hist_t *h;

    if (r->hist_cap == 0) {
        free(xml);
        return;
    }
    if (r->hist_n == r->hist_cap) {
        h = hist_at(r, 0);
        free(h->xml);
        free(h->id);
        r->hist_start = (r->hist_start + 1) % r->hist_cap;
        r->hist_n--;
    }
    h = hist_at(r, r->hist_n++);
    h->xml = xml;
    h->id = NULL;
    h->us = us;
    h->chars = strlen(xml);
}


void
muc_hist_add(muc_room_t *r, const ember_stanza_t *msg, int64_t us,
             int store)
{
    char *xml = api->stanza_serialize(msg, NULL), *own;
    const char *from = api->stanza_attr(msg, "from");
    const char *slash = from != NULL ? strchr(from, '/') : NULL;

    if (xml == NULL)
        return;
    if ((own = strdup(xml)) != NULL)
        hist_push(r, own, us);
    if (store && r->c.persistent && r->hist_cap > 0)
        muc_store_hist_append(r, slash != NULL ? slash + 1 : "", xml, us);
    api->free(xml);
}


muc_hist_t *
muc_hist_oldest(muc_room_t *r)
{
    return r->hist_n > 0 ? hist_at(r, 0) : NULL;
}


/* The store answered an append: remember the item's id. */
void
muc_hist_set_id(muc_room_t *r, int64_t us, const char *id)
{
    muc_hist_t *h;
    int i;

    for (i = r->hist_n - 1; i >= 0; i--) {
        h = hist_at(r, i);
        if (h->us == us && h->id == NULL) {
            h->id = muc_strdup(id);
            return;
        }
    }
}


static int64_t
parse_stamp(const char *s)
{
    struct tm tm;
    const char *end;

    memset(&tm, 0, sizeof(tm));
    if (s == NULL || (end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)) == NULL)
        return -1;
    return (int64_t) timegm(&tm) * 1000000;
}


static long
attr_num(const ember_stanza_t *h, const char *name)
{
    const char *v = h != NULL ? api->stanza_attr(h, name) : NULL;
    char *end;
    long n;

    if (v == NULL)
        return -1;
    n = strtol(v, &end, 10);
    return end == v || *end != '\0' || n < 0 ? -1 : n;
}


/* Replay to `to` what <history/> (may be NULL) asks for. */
void
muc_hist_send(muc_room_t *r, const char *to, const ember_stanza_t *hreq)
{
    long maxst = attr_num(hreq, "maxstanzas");
    long maxch = attr_num(hreq, "maxchars");
    long secs = attr_num(hreq, "seconds");
    int64_t since = hreq != NULL ?
                    parse_stamp(api->stanza_attr(hreq, "since")) : -1;
    int64_t now = muc_now_us();
    ember_stanza_t *m, *d;
    muc_hist_t *h;
    char stamp[64];
    size_t chars = 0;
    time_t t;
    struct tm tm;
    int i, first = 0;

    /* Walk back from the newest to find the oldest item to send. */
    for (i = r->hist_n - 1; i >= 0; i--) {
        h = hist_at(r, i);
        if (maxst >= 0 && r->hist_n - i > maxst)
            break;
        if (secs >= 0 && h->us < now - (int64_t) secs * 1000000)
            break;
        if (since >= 0 && h->us < since)
            break;
        chars += h->chars;
        if (maxch >= 0 && chars > (size_t) maxch)
            break;
    }
    first = i + 1;
    for (i = first; i < r->hist_n; i++) {
        h = hist_at(r, i);
        if ((m = api->stanza_parse(h->xml, h->chars)) == NULL)
            continue;
        api->stanza_set_attr(m, "to", to);
        t = (time_t) (h->us / 1000000);
        gmtime_r(&t, &tm);
        strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
        if ((d = api->stanza_add_child(m, "delay", NS_DELAY)) != NULL) {
            api->stanza_set_attr(d, "stamp", stamp);
            api->stanza_set_attr(d, "from", r->jid);
        }
        muc_send(r->muc, m);
    }
}


/* An item read back from the store. */
void
muc_hist_add_raw(muc_room_t *r, const char *xml, int64_t us,
                 const char *id)
{
    char *own = strdup(xml);

    if (own == NULL)
        return;
    hist_push(r, own, us);
    if (r->hist_n > 0)
        hist_at(r, r->hist_n - 1)->id = muc_strdup(id);
}
