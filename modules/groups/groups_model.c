/* groups_model.c -- shared roster groups in memory: members, who sees
 * whom, their stored form, and the "roster-shared" interface over them
 * (ember/roster.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "groups.h"

groups_t *
groups_of(ember_module_t *m)
{
    return api->module_data(m);
}


/* ---- sorted string sets ---- */

/* Binary search in a sorted array of n things whose key(arr, i) are
 * strings: where s is, or where it would go. */
static size_t
sorted_pos(const void *arr, size_t n, const char *(*key)(const void *,
                                                         size_t),
           const char *s, int *found)
{
    size_t lo = 0, hi = n, mid;
    int c;

    *found = 0;
    while (lo < hi) {
        mid = (lo + hi) / 2;
        if ((c = strcmp(key(arr, mid), s)) == 0) {
            *found = 1;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}


static const char *
str_key(const void *arr, size_t i)
{
    return ((char *const *) arr)[i];
}


static const char *
group_key(const void *arr, size_t i)
{
    return ((group_t *const *) arr)[i]->id;
}


static size_t
strset_pos(char *const *set, size_t n, const char *s, int *found)
{
    return sorted_pos(set, n, str_key, s, found);
}


int
strset_add(char ***set, size_t *n, size_t *cap, const char *s)
{
    size_t i, ncap;
    char **b, *copy;
    int found;

    i = strset_pos(*set, *n, s, &found);
    if (found)
        return 0;
    if (*n >= *cap) {
        ncap = *cap < 8 ? 8 : *cap * 2;
        if ((b = realloc(*set, ncap * sizeof(*b))) == NULL)
            return EMBER_ENOMEM;
        *set = b;
        *cap = ncap;
    }
    if ((copy = strdup(s)) == NULL)
        return EMBER_ENOMEM;
    memmove(*set + i + 1, *set + i, (*n - i) * sizeof(**set));
    (*set)[i] = copy;
    (*n)++;
    return 1;
}


int
strset_del(char **set, size_t *n, const char *s)
{
    size_t i;
    int found;

    i = strset_pos(set, *n, s, &found);
    if (!found)
        return 0;
    free(set[i]);
    memmove(set + i, set + i + 1, (*n - i - 1) * sizeof(*set));
    (*n)--;
    return 1;
}


/* ---- groups ---- */

int
group_id_ok(const char *id)
{
    size_t n = 0;

    for (; id != NULL && id[n] != '\0'; n++)
        if (!((id[n] >= 'a' && id[n] <= 'z') ||
              (id[n] >= 'A' && id[n] <= 'Z') ||
              (id[n] >= '0' && id[n] <= '9') || id[n] == '-' ||
              id[n] == '_' || id[n] == '.'))
            return 0;
    return n > 0 && n <= GROUP_ID_MAX;
}


group_t *
group_new(const char *id, const char *name)
{
    group_t *g = calloc(1, sizeof(*g));

    if (g == NULL || (g->id = strdup(id)) == NULL ||
        (g->name = strdup(name)) == NULL) {
        group_free(g);
        return NULL;
    }
    return g;
}


void
group_free(group_t *g)
{
    size_t i;

    if (g == NULL)
        return;
    for (i = 0; i < g->nmembers; i++)
        free(g->members[i]);
    for (i = 0; i < g->nshow; i++)
        free(g->show[i]);
    free(g->members);
    free(g->show);
    free(g->id);
    free(g->name);
    free(g);
}


static size_t
groups_pos(groups_t *gs, const char *id, int *found)
{
    return sorted_pos(gs->g, gs->n, group_key, id, found);
}


group_t *
group_find(groups_t *gs, const char *id)
{
    size_t i;
    int found;

    if (id == NULL)
        return NULL;
    i = groups_pos(gs, id, &found);
    return found ? gs->g[i] : NULL;
}


int
groups_insert(groups_t *gs, group_t *g)
{
    size_t i, ncap;
    group_t **b;
    int found;

    i = groups_pos(gs, g->id, &found);
    if (found)
        return EMBER_EEXIST;
    if (gs->n >= gs->cap) {
        ncap = gs->cap < 16 ? 16 : gs->cap * 2;
        if ((b = realloc(gs->g, ncap * sizeof(*b))) == NULL)
            return EMBER_ENOMEM;
        gs->g = b;
        gs->cap = ncap;
    }
    memmove(gs->g + i + 1, gs->g + i, (gs->n - i) * sizeof(*gs->g));
    gs->g[i] = g;
    gs->n++;
    return 0;
}


/* Take g out of the list (not freed). */
void
groups_remove(groups_t *gs, group_t *g)
{
    size_t i;
    int found;

    i = groups_pos(gs, g->id, &found);
    if (!found || gs->g[i] != g)
        return;
    memmove(gs->g + i, gs->g + i + 1, (gs->n - i - 1) * sizeof(*gs->g));
    gs->n--;
}


int
group_is_member(const group_t *g, const char *bare)
{
    int found;

    strset_pos(g->members, g->nmembers, bare, &found);
    return found;
}


int
group_seen_by(groups_t *gs, const group_t *g, const char *bare)
{
    const group_t *h;
    size_t i;

    if (g->see_self && group_is_member(g, bare))
        return 1;
    for (i = 0; i < g->nshow; i++)
        if ((h = group_find(gs, g->show[i])) != NULL &&
            group_is_member(h, bare))
            return 1;
    return 0;
}


json_t *
group_json(const group_t *g)
{
    json_t *o = json_pack("{s:s, s:b, s:I, s:[], s:[]}", "name", g->name,
                          "see_self", g->see_self, "gen",
                          (json_int_t) g->gen, "members", "show");
    json_t *mem = json_object_get(o, "members");
    json_t *show = json_object_get(o, "show");
    size_t i;

    for (i = 0; o != NULL && i < g->nmembers; i++)
        json_array_append_new(mem, json_string(g->members[i]));
    for (i = 0; o != NULL && i < g->nshow; i++)
        json_array_append_new(show, json_string(g->show[i]));
    return o;
}


group_t *
group_parse(const char *id, json_t *o)
{
    const char *name = json_string_value(json_object_get(o, "name"));
    json_t *e;
    group_t *g;
    size_t i, cap = 0;

    if (!group_id_ok(id) || name == NULL || (g = group_new(id, name)) ==
        NULL)
        return NULL;
    g->see_self = json_is_true(json_object_get(o, "see_self"));
    g->gen = (uint64_t) json_integer_value(json_object_get(o, "gen"));
    json_array_foreach(json_object_get(o, "members"), i, e)
        if (json_is_string(e) &&
            strset_add(&g->members, &g->nmembers, &g->capm,
                       json_string_value(e)) < 0)
            goto fail;
    json_array_foreach(json_object_get(o, "show"), i, e)
        if (json_is_string(e) &&
            strset_add(&g->show, &g->nshow, &cap, json_string_value(e)) < 0)
            goto fail;
    return g;
fail:
    group_free(g);
    return NULL;
}


/* ---- who is related to whom ---- */

typedef struct {
    grel_t *r;
    size_t n, cap;
    int err;
} grels_t;


static void
grels_add(grels_t *rs, const char *contact, const char *name)
{
    grel_t *b;
    size_t cap;

    if (rs->err < 0)
        return;
    if (rs->n >= rs->cap) {
        cap = rs->cap < 32 ? 32 : rs->cap * 2;
        if ((b = realloc(rs->r, cap * sizeof(*b))) == NULL) {
            rs->err = EMBER_ENOMEM;
            return;
        }
        rs->r = b;
        rs->cap = cap;
    }
    rs->r[rs->n].contact = contact;
    rs->r[rs->n].name = name;
    rs->n++;
}


static int
grel_cmp(const void *a, const void *b)
{
    return strcmp(((const grel_t *) a)->contact,
                  ((const grel_t *) b)->contact);
}


/* Everyone but `bare` in g, shown under `name` (NULL: related only). */
static void
grels_members(grels_t *rs, const group_t *g, const char *bare,
              const char *name)
{
    size_t i;

    for (i = 0; i < g->nmembers; i++)
        if (strcmp(g->members[i], bare) != 0)
            grels_add(rs, g->members[i], name);
}


int
groups_related(groups_t *gs, const char *bare, grel_cb cb, void *ud)
{
    grels_t rs;
    const group_t *g, *h;
    const char **names = NULL;
    size_t i, j, k, n;
    int err = 0;

    memset(&rs, 0, sizeof(rs));
    for (i = 0; i < gs->n; i++) {
        g = gs->g[i];
        if (group_seen_by(gs, g, bare))
            grels_members(&rs, g, bare, g->name);
        if (!group_is_member(g, bare))
            continue;
        /* Whoever sees g sees `bare`: presence flows both ways. */
        if (g->see_self)
            grels_members(&rs, g, bare, NULL);
        for (j = 0; j < g->nshow; j++)
            if ((h = group_find(gs, g->show[j])) != NULL)
                grels_members(&rs, h, bare, NULL);
    }
    if (rs.err < 0) {
        free(rs.r);
        return rs.err;
    }
    if (rs.n > 1)
        qsort(rs.r, rs.n, sizeof(*rs.r), grel_cmp);
    if (rs.n > 0 && (names = malloc(rs.n * sizeof(*names))) == NULL) {
        free(rs.r);
        return EMBER_ENOMEM;
    }
    for (i = 0; i < rs.n; i = j) {
        n = 0;
        for (j = i; j < rs.n && strcmp(rs.r[j].contact, rs.r[i].contact) ==
                                    0; j++) {
            if (rs.r[j].name == NULL)
                continue;
            for (k = 0; k < n && strcmp(names[k], rs.r[j].name) != 0; k++)
                ;
            if (k == n)
                names[n++] = rs.r[j].name;
        }
        if (cb(rs.r[i].contact, names, n, ud) != 0)
            break;
    }
    free(names);
    free(rs.r);
    return err;
}


/* ---- the "roster-shared" interface ---- */

static void
bare_of(groups_t *gs, const char *user, char *buf, size_t len)
{
    snprintf(buf, len, "%s@%s", user, api->module_host(gs->m));
}


int
groups_lookup(groups_t *gs, const char *bare, const char *contact,
              const char *const **groups, size_t *ngroups)
{
    const group_t *g;
    const char **b;
    size_t i, k, n = 0;
    int related = 0;

    *groups = NULL;
    *ngroups = 0;
    if (strcmp(bare, contact) == 0)
        return 0;
    for (i = 0; i < gs->n; i++) {
        g = gs->g[i];
        if (group_is_member(g, contact) && group_seen_by(gs, g, bare)) {
            if (n >= gs->scap) {
                k = gs->scap < 8 ? 8 : gs->scap * 2;
                if ((b = realloc(gs->scratch, k * sizeof(*b))) == NULL)
                    break;
                gs->scratch = b;
                gs->scap = k;
            }
            for (k = 0; k < n && strcmp(gs->scratch[k], g->name) != 0; k++)
                ;
            if (k == n)
                gs->scratch[n++] = g->name;
        } else if (!related && group_is_member(g, bare) &&
                   group_seen_by(gs, g, contact)) {
            related = 1;
        }
    }
    *groups = gs->scratch;
    *ngroups = n;
    return n > 0 || related;
}


static int
if_lookup(const ember_roster_shared_iface_t *self, const char *user,
          const char *contact, const char *const **groups, size_t *ngroups)
{
    groups_t *gs = (groups_t *) self;
    char bare[1100];

    *groups = NULL;
    *ngroups = 0;
    if (user == NULL || contact == NULL)
        return 0;
    bare_of(gs, user, bare, sizeof(bare));
    return groups_lookup(gs, bare, contact, groups, ngroups);
}


typedef struct {
    ember_roster_shared_cb cb;
    void *ud;
    size_t n;
} gcount_t;


static int
count_one(const char *contact, const char *const *names, size_t n,
          void *ud)
{
    gcount_t *cw = ud;

    cw->n++;
    return cw->cb(contact, names, n, cw->ud);
}


static size_t
if_foreach(const ember_roster_shared_iface_t *self, const char *user,
           ember_roster_shared_cb cb, void *ud)
{
    groups_t *gs = (groups_t *) self;
    gcount_t cw;
    char bare[1100];

    if (user == NULL || cb == NULL)
        return 0;
    bare_of(gs, user, bare, sizeof(bare));
    cw.cb = cb;
    cw.ud = ud;
    cw.n = 0;
    groups_related(gs, bare, count_one, &cw);
    return cw.n;
}


/* FNV-1a over the id and generation of every group the user sees: any
 * change of those groups, or of which groups he sees, moves it on. */
static const char *
if_version(const ember_roster_shared_iface_t *self, const char *user)
{
    groups_t *gs = (groups_t *) self;
    uint64_t h = 14695981039346656037ull, gen;
    const unsigned char *p;
    size_t i, k, seen = 0;
    char bare[1100];

    if (user == NULL)
        return "";
    bare_of(gs, user, bare, sizeof(bare));
    for (i = 0; i < gs->n; i++) {
        if (!group_seen_by(gs, gs->g[i], bare))
            continue;
        seen++;
        for (p = (const unsigned char *) gs->g[i]->id; ; p++) {
            h = (h ^ *p) * 1099511628211ull;
            if (*p == '\0')
                break;
        }
        gen = gs->g[i]->gen;
        for (k = 0; k < 8; k++, gen >>= 8)
            h = (h ^ (gen & 0xff)) * 1099511628211ull;
    }
    if (seen == 0)
        return "";
    snprintf(gs->ver, sizeof(gs->ver), "g%016llx", (unsigned long long) h);
    return gs->ver;
}


void
groups_iface_init(groups_t *gs)
{
    gs->iface.size = sizeof(gs->iface);
    gs->iface.lookup = if_lookup;
    gs->iface.foreach = if_foreach;
    gs->iface.version = if_version;
}
