/*
 * directory.h - sign-in against an LDAP directory (OpenLDAP or Active Directory), group
 * membership and the entitlements that follow from it.
 *
 * One struct auth_dir holds the validated configuration (shared, immutable, any thread).
 * A struct auth_dir_conn holds up to two LDAP connections (one bound as the service
 * account for searches, one for checking user passwords), opened lazily, failing over
 * across the configured servers in order. It is used by one thread at a time: one per
 * worker, or checked out of a pool and handed back (nothing in it is tied to a thread).
 *
 * EVERY auth_dir_conn_* CALL BLOCKS on the network (bounded by the configured connect and
 * operation timeouts, times the number of servers). Never call them on an event loop
 * thread: run them in a worker (broker/src/jobs.c) and post the result back.
 *
 * Errors (struct pt_err codes):
 *   PT_E_AUTH        wrong user name or password, empty password (no bind is attempted),
 *                    unknown or ambiguous user; the message never says which, to callers
 *                    that show it to users use auth_dir_user_message()
 *   PT_E_FORBIDDEN   the account is disabled in the directory
 *   PT_E_UNAVAILABLE no configured server answered in time ("directory unavailable: ...")
 *   PT_E_INVALID     bad configuration (auth_dir_new) or an oversized user name
 *   PT_E_LIMIT       a result passed AUTH_DIR_MAX_GROUPS
 *   PT_E_INTERNAL    an unexpected LDAP error (its text is in the message)
 */
#ifndef PT_AUTH_DIRECTORY_H
#define PT_AUTH_DIRECTORY_H

#include <stdbool.h>
#include <stddef.h>

#include "common/conf.h"
#include "common/err.h"

#define AUTH_DIR_MAX_URIS    8
#define AUTH_DIR_MAX_LOGIN   256  /* bytes of a user name as typed */
#define AUTH_DIR_MAX_GROUPS  1024 /* groups of one user, all depths */
#define AUTH_DIR_MAX_POOLMAP 256

enum auth_dir_bind_mode {
    AUTH_DIR_BIND_SEARCH,   /* bind as bind_dn/bind_pw (or anonymously if bind_dn is
                               empty), search the user, then bind as the user's DN */
    AUTH_DIR_BIND_TEMPLATE, /* bind directly as bind_dn_template with %s = the escaped
                               user name, e.g. "uid=%s,ou=people,dc=example,dc=org" */
};

/* Group membership sources; any combination (bit flags). */
enum auth_dir_group_mode {
    AUTH_DIR_GROUPS_MEMBER = 1 << 0,        /* groupOfNames member=<user DN> */
    AUTH_DIR_GROUPS_UNIQUE_MEMBER = 1 << 1, /* groupOfUniqueNames uniqueMember=<user DN> */
    AUTH_DIR_GROUPS_MEMBER_OF = 1 << 2,     /* the user's memberOf attribute (AD, overlay) */
    AUTH_DIR_GROUPS_MEMBER_UID = 1 << 3,    /* posixGroup memberUid=<login> */
};

enum auth_dir_disabled_mode {
    AUTH_DIR_DISABLED_NONE,
    AUTH_DIR_DISABLED_PRESENT, /* disabled if @disabled_attr has any value
                                  (OpenLDAP ppolicy: pwdAccountLockedTime) */
    AUTH_DIR_DISABLED_BITMASK, /* disabled if integer @disabled_attr & @disabled_mask
                                  (AD: userAccountControl, mask 2 = ACCOUNTDISABLE) */
    AUTH_DIR_DISABLED_EQUALS,  /* disabled if @disabled_attr equals @disabled_value */
};

/* One entitlement rule: members of @group (a cn or a full DN, case-insensitive) may
 * launch desktops of @pool. */
struct auth_dir_pool_rule {
    char *group;
    char *pool;
};

/*
 * Configuration: owned strings (auth_dir_conf_fini() frees them; the service password is
 * wiped). auth_dir_conf_init() sets the defaults named in the comments.
 */
struct auth_dir_conf {
    char *uris[AUTH_DIR_MAX_URIS]; /* ldap:// or ldaps://, tried in order */
    int n_uris;
    bool starttls;          /* StartTLS on ldap:// URIs (required: failure is an error) */
    char *ca_file;          /* CA bundle for ldaps:// and StartTLS; certificates always checked */
    int connect_timeout_ms; /* 3000: TCP connect (LDAP_OPT_NETWORK_TIMEOUT) */
    int op_timeout_ms;      /* 5000: each bind/search/StartTLS round trip */

    enum auth_dir_bind_mode bind_mode; /* AUTH_DIR_BIND_SEARCH */
    char *bind_dn;                     /* service account; NULL/"" = anonymous search */
    char *bind_pw;
    char *bind_dn_template;

    char *user_base;    /* required */
    char *user_filter;  /* "(objectClass=inetOrgPerson)"; AD: "(objectClass=user)" */
    char *login_attrs;  /* "uid"; AD: "sAMAccountName userPrincipalName" (any may match) */
    char *display_attr; /* "displayName" */
    /* the desktop login for single sign-on pools (e.g. AD "sAMAccountName"); NULL/"" = the
     * name the user signed in with */
    char *sso_user_attr;

    unsigned group_modes;  /* AUTH_DIR_GROUPS_MEMBER | AUTH_DIR_GROUPS_UNIQUE_MEMBER */
    char *group_base;      /* required unless group_modes is MEMBER_OF alone */
    char *group_name_attr; /* "cn" */
    char *member_of_attr;  /* "memberOf" */
    int nest_depth;        /* 0: direct groups only; N: follow groups in groups N levels */
    int page_size;         /* 200: RFC 2696 page size for group searches */

    enum auth_dir_disabled_mode disabled_mode; /* AUTH_DIR_DISABLED_NONE */
    char *disabled_attr;
    char *disabled_value;
    long disabled_mask;

    char *admin_group; /* cn or DN; members are admins */
    struct auth_dir_pool_rule pools[AUTH_DIR_MAX_POOLMAP];
    int n_pools;
};

void auth_dir_conf_init(struct auth_dir_conf *c);
void auth_dir_conf_fini(struct auth_dir_conf *c);
/* auth_dir_conf_add_uri() / auth_dir_conf_add_pool() - append (copies). 0, or -1 when full. */
int auth_dir_conf_add_uri(struct auth_dir_conf *c, const char *uri, struct pt_err *err);
int auth_dir_conf_add_pool(struct auth_dir_conf *c, const char *group, const char *pool,
                           struct pt_err *err);
/*
 * auth_dir_conf_apply() - one key of an INI [ldap] section (conf.h callback style):
 * uri (repeatable), starttls, ca_file, connect_timeout, op_timeout, bind (search|template),
 * bind_dn, bind_pw, bind_dn_template, user_base, user_filter, login_attrs, display_attr,
 * sso_user_attr,
 * groups (space separated: member unique_member member_of member_uid), group_base,
 * group_name_attr, member_of_attr, nest_depth, page_size, disabled (none|present|bitmask|
 * equals), disabled_attr, disabled_value, disabled_mask, admin_group,
 * pool (repeatable: "<group> = <pool>" written as  pool = engineers:eng-pool).
 * Returns 0, or -1 with a file:line error.
 */
int auth_dir_conf_apply(struct auth_dir_conf *c, const struct pt_conf_entry *e, struct pt_err *err);

struct auth_dir;      /* validated configuration, immutable: share across threads */
struct auth_dir_conn; /* one worker's connections: one thread at a time */

/* auth_dir_new() - validate and copy @conf. Returns new, or NULL (PT_E_INVALID). */
struct auth_dir *auth_dir_new(const struct auth_dir_conf *conf, struct pt_err *err);
void auth_dir_free(struct auth_dir *d); /* after every conn of it was freed */

/* auth_dir_conn_new() - returns new; connects on first use. */
struct auth_dir_conn *auth_dir_conn_new(const struct auth_dir *d);
void auth_dir_conn_free(struct auth_dir_conn *c);

enum auth_dir_via {
    AUTH_DIR_VIA_MEMBER,        /* groupOfNames member */
    AUTH_DIR_VIA_UNIQUE_MEMBER, /* groupOfUniqueNames uniqueMember */
    AUTH_DIR_VIA_MEMBER_OF,     /* the user's memberOf */
    AUTH_DIR_VIA_MEMBER_UID,    /* posixGroup memberUid */
    AUTH_DIR_VIA_NESTED,        /* contains a group listed earlier (see parent) */
};
const char *auth_dir_via_str(enum auth_dir_via v); /* "member", ..., "nested" */

struct auth_dir_group {
    char *dn;
    char *name; /* group_name_attr value, or the first RDN value of dn */
    enum auth_dir_via via;
    int depth;    /* 0 direct, 1.. nested */
    char *parent; /* for NESTED: DN of the member group through which it was found */
};

/* A signed-in or resolved user: returns new from the calls below, free with
 * auth_dir_user_free(). */
struct auth_dir_user {
    char *dn;
    char *login;    /* as typed (the directory matched it, case-insensitively) */
    char *display;  /* display_attr, or NULL */
    char *sso_user; /* sso_user_attr's value, or NULL (then the desktop login is ->login) */
    bool disabled;
    struct auth_dir_group *groups;
    size_t n_groups;
    char **pools; /* entitled pools, de-duplicated, in rule order */
    size_t n_pools;
    bool admin;
};
void auth_dir_user_free(struct auth_dir_user *u);

/*
 * auth_dir_conn_login() - check @password for @login and load groups and entitlements.
 * Empty passwords are refused before any network I/O. Returns 0 and *@out (new), or -1.
 */
int auth_dir_conn_login(struct auth_dir_conn *c, const char *login, const char *password,
                        struct auth_dir_user **out, struct pt_err *err);
/*
 * auth_dir_conn_resolve() - the same lookup without a password (search mode only: needs
 * the service account or anonymous search), for admins debugging a sign-in. Reports a
 * disabled account in ->disabled instead of failing. Returns 0 and *@out (new), or -1.
 */
int auth_dir_conn_resolve(struct auth_dir_conn *c, const char *login, struct auth_dir_user **out,
                          struct pt_err *err);

/* auth_dir_conn_server() - borrowed: URI of the server currently connected, or NULL. */
const char *auth_dir_conn_server(const struct auth_dir_conn *c);

/* auth_dir_user_message() - a message fit to show to the person signing in for @err's
 * code (never says whether the account exists). */
const char *auth_dir_user_message(const struct pt_err *err);

#endif
