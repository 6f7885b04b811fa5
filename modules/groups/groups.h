/* groups.h -- shared between the files of mod_groups. */
#ifndef MOD_GROUPS_H
#define MOD_GROUPS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <ember/plugin.h>
#include <ember/roster.h>

#define GROUP_ID_MAX 64
#define GROUP_NAME_MAX 1023

/* Who a group is shown to: its own members (see_self) and the members of
 * the groups listed in show (ids, sorted). */
typedef struct {
    char *id, *name;
    char **members;         /* bare JIDs, sorted */
    size_t nmembers, capm;
    char **show;            /* group ids, sorted */
    size_t nshow;
    int see_self;
    uint64_t gen;           /* moves on with every change: versions */
} group_t;

typedef struct {
    ember_roster_shared_iface_t iface; /* first: the interface points here */
    ember_module_t *m;
    ember_store_t *st;
    group_t **g;            /* sorted by id */
    size_t n, cap;
    int loaded;
    const char **scratch;   /* lookup() answers */
    size_t scap;
    char ver[24];
} groups_t;

/* One contact related to a user, and what it is shown under (NULL: the
 * user is shown to the contact, not the contact to the user). */
typedef struct {
    const char *contact;
    const char *name;
} grel_t;

typedef ember_roster_shared_cb grel_cb;

extern const ember_api_t *api;

/* the model (groups_model.c) */
groups_t *groups_of(ember_module_t *m);
group_t *group_find(groups_t *gs, const char *id);
int group_is_member(const group_t *g, const char *bare);
/* Does `bare` see the members of g? */
int group_seen_by(groups_t *gs, const group_t *g, const char *bare);
group_t *group_new(const char *id, const char *name);
void group_free(group_t *g);
int groups_insert(groups_t *gs, group_t *g);
void groups_remove(groups_t *gs, group_t *g);
/* Sorted sets of strings: 1 added/removed, 0 already so, or an error. */
int strset_add(char ***set, size_t *n, size_t *cap, const char *s);
int strset_del(char **set, size_t *n, const char *s);
json_t *group_json(const group_t *g);
group_t *group_parse(const char *id, json_t *o);
/* What `bare` is shown of `contact` (see the interface's lookup). */
int groups_lookup(groups_t *gs, const char *bare, const char *contact,
                  const char *const **groups, size_t *ngroups);
/* Walk what `bare` is related to, one call per contact. */
int groups_related(groups_t *gs, const char *bare, grel_cb cb, void *ud);
void groups_iface_init(groups_t *gs);
int group_id_ok(const char *id);

/* changes and their pushes (groups_push.c) */
typedef struct gchange_s gchange_t;
/* Note what the online users concerned by g (and `extra`, a bare JID,
 * may be NULL) are shown before a change.  With `focus` (a bare JID, may
 * be NULL) only what concerns it changes: the others' view of it alone
 * is compared, the focus's own view whole. */
gchange_t *gchange_begin(groups_t *gs, const group_t *g, const char *extra,
                         const char *focus);
/* Add the users concerned by g after the change. */
void gchange_also(gchange_t *c, const group_t *g);
/* After the change: roster pushes and presence for what differs. */
void gchange_end(gchange_t *c);
/* Store g under id (g NULL: delete it); cb NULL: errors are logged. */
int groups_store(groups_t *gs, const char *id, const group_t *g,
                 ember_store_cb cb, void *ud);

/* admin commands (groups_cmd.c) */
int groups_cmd_init(groups_t *gs);

#endif
