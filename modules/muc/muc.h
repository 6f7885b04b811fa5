/* muc.h -- shared between the files of mod_muc (XEP-0045). */
#ifndef MUC_H
#define MUC_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <ember/plugin.h>

#define NS_MUC "http://jabber.org/protocol/muc"
#define NS_MUC_USER NS_MUC "#user"
#define NS_MUC_ADMIN NS_MUC "#admin"
#define NS_MUC_OWNER NS_MUC "#owner"
#define NS_MUC_CONFIG NS_MUC "#roomconfig"
#define NS_MUC_INFO NS_MUC "#roominfo"
#define NS_MUC_REQUEST NS_MUC "#request"
#define NS_DISCO_INFO "http://jabber.org/protocol/disco#info"
#define NS_DISCO_ITEMS "http://jabber.org/protocol/disco#items"
#define NS_DATA "jabber:x:data"
#define NS_DELAY "urn:xmpp:delay"
#define NS_PING "urn:xmpp:ping"
#define NS_CONFERENCE "jabber:x:conference"
#define NS_STANZA_ID "urn:xmpp:sid:0"
#define NS_REGISTER "jabber:iq:register"
#define NS_MUC_REGISTER NS_MUC "#register"

#define MUC_NCOMMANDS 7          /* muc_cmd.c */

/* Fired on the host for each registered member (ev->data: its bare JID)
 * not in the room whose reserved nickname a groupchat message names
 * (ev->stanza, as the room broadcast it). */
#define MUC_EV_MENTION "muc-mention"

/* Ordered: a higher value is a higher privilege. */
enum { ROLE_NONE, ROLE_VISITOR, ROLE_PARTICIPANT, ROLE_MODERATOR };
enum { AFF_OUTCAST, AFF_NONE, AFF_MEMBER, AFF_ADMIN, AFF_OWNER };
enum { PM_ANYONE, PM_PARTICIPANTS, PM_MODERATORS, PM_NONE };

typedef struct {
    char *domain;
    char *create_rooms;     /* anyone | admins | local */
    int max_rooms_per_user;
    int max_occupants;
    int max_history;
    int default_history;
    int message_rate;       /* per occupant and second, 0 = no limit */
    int message_burst;
    int default_persistent;
    int default_public;
    int default_members_only;
    int default_moderated;
    int default_whois_anyone;
    int default_max_users;
    int default_archiving;
    int archive_retention;  /* seconds; 0: kept */
} muc_opts_t;

typedef struct muc_sess_s {
    struct muc_sess_s *next;
    char *jid;              /* full JID of one client session */
} muc_sess_t;

typedef struct muc_occ_s {
    struct muc_occ_s *next;
    char *nick;
    char *bare;             /* real bare JID */
    muc_sess_t *sessions;   /* several with multi-session nicks */
    int role;
    unsigned announced : 1; /* others were told of its presence (its role is
                               in the room's presencebroadcast) */
    ember_stanza_t *pres;   /* last presence, addressing and <x/> removed */
    double tokens;          /* message rate bucket */
    uint64_t tokens_ms;
} muc_occ_t;

typedef struct muc_aff_s {
    struct muc_aff_s *next;
    char *jid;              /* bare JID (or a domain) */
    int aff;
    char *reason;
    char *nick;             /* reserved nickname (7.10, 9.3), or NULL */
} muc_aff_t;

typedef struct {
    char *xml;              /* the message as broadcast, from room/nick */
    char *id;               /* its archive id once stored, or NULL */
    int64_t us;             /* time of the message */
    size_t chars;
} muc_hist_t;

typedef struct {
    char *name, *desc, *password;
    int persistent, public_, members_only, moderated, password_protected;
    int max_users, whois_anyone, history_len, allow_invites;
    int change_subject, allow_pm;
    int archiving;          /* XEP-0313: the room keeps an archive */
    unsigned broadcast;     /* 1 << role whose presence others receive */
} muc_rconf_t;

#define MUC_BROADCAST_ALL \
    ((1u << ROLE_MODERATOR) | (1u << ROLE_PARTICIPANT) | (1u << ROLE_VISITOR))

typedef struct muc_s muc_t;

typedef struct muc_room_s {
    struct muc_room_s *next;
    muc_t *muc;
    char *node;
    char *jid;              /* node@domain */
    char *creator;          /* bare JID, for the rooms-per-user limit */
    muc_rconf_t c;
    char *subject, *subject_nick;
    muc_aff_t *affs;
    muc_occ_t *occs;
    int nocc;
    muc_hist_t *hist;       /* ring of c.history_len slots */
    int hist_cap, hist_start, hist_n;
    struct muc_regreq_s *regs; /* registrations awaiting an admin (9.9) */
    int locked;             /* created, waiting for its configuration */
    int destroyed;
} muc_room_t;

typedef struct muc_pending_s {
    struct muc_pending_s *next;
    ember_stanza_t *st;
} muc_pending_t;

struct muc_s {
    ember_module_t *m;
    muc_opts_t *o;
    char *domain;
    muc_room_t *rooms;
    int nrooms;
    ember_store_t *st_rooms, *st_hist;
    struct muc_req_s *reqs; /* store requests in flight (freed at unload) */
    struct muc_invchk_s *invchks; /* invitations awaiting an account check */
    struct muc_fwd_s *fwds; /* iqs forwarded to occupants (muc_iq.c) */
    int nfwd;
    uint64_t fwd_seq;
    int loading;            /* rooms come from the store: queue stanzas */
    struct muc_s *cmd_ud[MUC_NCOMMANDS]; /* each command's ud: itself */
    muc_pending_t *pending, **pending_tail;
};

/* How an occupant's presence goes out: status codes for everyone and for
 * the occupant's own sessions (110 is added), and the optional parts. */
typedef struct {
    const char *type;       /* NULL or "unavailable" */
    int all[4], nall;
    int self[4], nself;
    const char *actor, *reason, *new_nick;
    const char *destroy_jid, *destroy_reason;
    int destroyed;          /* item role and affiliation 'none' */
    const char *only;       /* send to this session only */
} muc_pinfo_t;

extern const ember_api_t *api;

/* muc.c */
char *muc_strdup(const char *s);
void muc_set(char **dst, const char *s);
ember_stanza_t *muc_stanza(const char *name, const char *from,
                           const char *to, const char *type);
void muc_add_text(ember_stanza_t *parent, const char *name,
                  const char *text);
void muc_send(muc_t *mu, ember_stanza_t *st);
int muc_bool(const char *v, int *out);

/* muc_room.c */
muc_room_t *muc_room_find(muc_t *mu, const char *node);
void muc_shutdown_notice(muc_t *mu);
muc_room_t *muc_room_new(muc_t *mu, const char *node, const char *creator);
void muc_room_free(muc_room_t *r);
void muc_room_maybe_gc(muc_room_t *r);
/* Out of memory, left as it is in storage. */
void muc_room_forget(muc_room_t *r);
muc_occ_t *muc_occ_by_nick(muc_room_t *r, const char *nick);
muc_occ_t *muc_occ_by_jid(muc_room_t *r, const char *full);
muc_occ_t *muc_occ_by_bare(muc_room_t *r, const char *bare);
int muc_aff_get(muc_room_t *r, const char *bare);
int muc_aff_set(muc_room_t *r, const char *jid, int aff,
                const char *reason);
int muc_owner_count(muc_room_t *r);
muc_aff_t *muc_aff_entry(muc_room_t *r, const char *jid);
muc_aff_t *muc_nick_holder(muc_room_t *r, const char *nick);
int muc_nick_reserve(muc_room_t *r, const char *jid, const char *nick);
int muc_nick_taken(muc_room_t *r, const char *nick, const char *bare);
char *muc_nick_prep(muc_room_t *r, const char *nick);
int muc_rooms_of(muc_t *mu, const char *bare);
const char *muc_role_name(int role);
const char *muc_aff_name(int aff);
int muc_role_parse(const char *s);
int muc_aff_parse(const char *s);
int muc_default_role(muc_room_t *r, int aff);
void muc_pres_broadcast(muc_room_t *r, muc_occ_t *o, const muc_pinfo_t *pi);
void muc_occ_remove(muc_room_t *r, muc_occ_t *o, const muc_pinfo_t *pi);
int muc_rate_ok(muc_t *mu, muc_occ_t *o);
void muc_broadcast_msg(muc_room_t *r, ember_stanza_t *msg, int keep);
void muc_status_message(muc_room_t *r, const int *codes, int ncodes);
int muc_on_presence(muc_t *mu, const ember_event_t *ev, muc_room_t *r);
int muc_on_message(muc_t *mu, const ember_event_t *ev, muc_room_t *r);

/* muc_config.c */
void muc_rconf_defaults(muc_t *mu, muc_rconf_t *c);
void muc_rconf_free(muc_rconf_t *c);
int muc_rconf_set(muc_room_t *r, muc_rconf_t *c, const char *var,
                  const char *const *vals, size_t n, char *err,
                  size_t errlen);
json_t *muc_rconf_json(const muc_rconf_t *c);
int muc_rconf_from_json(muc_room_t *r, json_t *cfg, int ignore_unknown,
                        char *err, size_t errlen);
int muc_config_changed(muc_room_t *r, const muc_rconf_t *old);
/* The owner's configuration form of r (XEP-0045 10.2: a muc#owner
 * <query/> with labels and options), and a submitted one applied to r,
 * every field checked first. */
ember_stanza_t *muc_config_form(muc_room_t *r);
int muc_config_submit(muc_room_t *r, ember_stanza_t *x, char *err,
                      size_t errlen);
int muc_owner_iq(muc_t *mu, const ember_event_t *ev, muc_room_t *r);
void muc_room_destroy(muc_room_t *r, const char *alt, const char *reason);
void muc_disco_room(muc_t *mu, const ember_event_t *ev, muc_room_t *r);

/* muc_iq.c */
int muc_iq_forward(muc_t *mu, const ember_event_t *ev, muc_room_t *r,
                   const muc_occ_t *from, const muc_occ_t *to);
void muc_iq_answer(muc_t *mu, const ember_event_t *ev);
void muc_iq_cleanup(muc_t *mu);

/* muc_admin.c */
int muc_admin_iq(muc_t *mu, const ember_event_t *ev, muc_room_t *r);
void muc_invite_cleanup(muc_t *mu);
int muc_invite(muc_t *mu, const ember_event_t *ev, muc_room_t *r,
               muc_occ_t *from, ember_stanza_t *x);
int muc_voice_request(muc_t *mu, const ember_event_t *ev, muc_room_t *r,
                      muc_occ_t *from, ember_stanza_t *form);
void muc_apply_aff(muc_room_t *r, const char *jid, int aff,
                   const char *actor, const char *reason);

/* muc_register.c */
int muc_register_iq(muc_t *mu, const ember_event_t *ev, muc_room_t *r);
int muc_register_answer(muc_t *mu, const ember_event_t *ev, muc_room_t *r,
                        ember_stanza_t *form);
void muc_register_forget(muc_room_t *r, const char *bare);
void muc_register_free(muc_room_t *r);

/* muc_history.c */
void muc_hist_resize(muc_room_t *r, int cap);
void muc_hist_add(muc_room_t *r, const ember_stanza_t *msg, int64_t us,
                  int store);
void muc_hist_send(muc_room_t *r, const char *to,
                   const ember_stanza_t *hreq);
void muc_hist_add_raw(muc_room_t *r, const char *xml, int64_t us,
                      const char *id);
muc_hist_t *muc_hist_oldest(muc_room_t *r);
void muc_hist_set_id(muc_room_t *r, int64_t us, const char *id);
int64_t muc_now_us(void);

/* muc_store.c */
void muc_store_save(muc_room_t *r);
/* Save r, then end ctx with result (taken), or with the write's error:
 * a command's answer means another node can read the room. */
void muc_store_save_then(muc_room_t *r, ember_cmd_ctx_t *ctx,
                         json_t *result);
void muc_store_forget(muc_room_t *r);
int muc_store_load(muc_t *mu);
/* Read room node from storage again, queueing the service's stanzas
 * meanwhile: on a cluster another node may have changed it.  A room with
 * occupants here is kept as it is. */
void muc_store_reload(muc_t *mu, const char *node);
void muc_store_close(muc_t *mu);
void muc_store_hist_append(muc_room_t *r, const char *nick,
                           const char *xml, int64_t us);

/* muc_mam.c */
int muc_mam_available(muc_t *mu);
int muc_mam_enabled(muc_room_t *r);
void muc_mam_stamp(muc_room_t *r, muc_occ_t *o, const char *real,
                   ember_stanza_t *m);
int muc_mam_iq(muc_t *mu, const ember_event_t *ev, muc_room_t *r);
void muc_mam_features(muc_room_t *r, ember_stanza_t *q);
void muc_mam_forget(muc_room_t *r);
int muc_mam_start(muc_t *mu);

/* muc_cmd.c */
int muc_commands_register(muc_t *mu);
/* muc_migrate.c: pie-host-export-muc, pie-host-import-muc */
int muc_migrate_register(muc_t *mu);

#endif
