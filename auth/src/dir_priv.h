/*
 * dir_priv.h - internals of the directory client shared by dir_conf.c, ldap_conn.c and
 * ldap_user.c. LDAP types appear only as forward declarations: <ldap.h> itself is included
 * by auth/src/ldap*.c alone.
 */
#ifndef PT_AUTH_DIR_PRIV_H
#define PT_AUTH_DIR_PRIV_H

#include "auth/directory.h"

struct ldap;    /* LDAP */
struct ldapmsg; /* LDAPMessage */
struct dir_sock;

#define DIR_MAX_LOGIN_ATTRS 4

struct auth_dir {
    struct auth_dir_conf conf; /* deep copy */
    char *login_attrs[DIR_MAX_LOGIN_ATTRS];
    int n_login_attrs;
};

struct auth_dir_conn {
    const struct auth_dir *dir;
    struct ldap *ld_search;    /* bound as the service account (or anonymous) */
    struct ldap *ld_bind;      /* used to check user passwords; its bind state is throwaway */
    int preferred;             /* index of the URI that answered last */
    const char *server;        /* borrowed from dir->conf.uris */
    bool search_as_user;       /* template mode: search on ld_bind, bound as the user */
    struct dir_sock *socks[2]; /* socket of ld_search, ld_bind (ldap_conn.c) */
};

/* Called per search result entry; return 0 to go on, -1 (with @err) to stop. */
typedef int dir_entry_fn(struct ldap *ld, struct ldapmsg *entry, void *opaque, struct pt_err *err);

/*
 * dir_search() - a search on the service connection (connected on demand, failing over),
 * paged when @paged (RFC 2696), bounded by op_timeout per page and @max_entries in total
 * (PT_E_LIMIT past it). Retried once on the next server when a server fails before any
 * entry was delivered. @attrs is NULL-terminated.
 */
int dir_search(struct auth_dir_conn *c, const char *base, const char *filter, char **attrs,
               bool paged, size_t max_entries, dir_entry_fn *fn, void *opaque, struct pt_err *err);
/* dir_user_bind() - check @dn/@password on the bind connection: 0, or -1 (PT_E_AUTH for
 * invalid credentials, PT_E_UNAVAILABLE when no server answers). */
int dir_user_bind(struct auth_dir_conn *c, const char *dn, const char *password,
                  struct pt_err *err);
/* dir_ldap_init_once() - initialise libldap's process-wide state exactly once: its lazy
 * initialisation on the first handle is not thread-safe (TSan shows the race when
 * several workers open their first handles at once). */
void dir_ldap_init_once(void);
/* dir_filter_escape() - RFC 4515 escaping of @value (ldap_bv2escaped_filter_value).
 * Returns new (free()). */
char *dir_filter_escape(const char *value);
/* dir_dn_value_escape() - RFC 4514 escaping of an attribute value for use inside a DN.
 * Returns new. */
char *dir_dn_value_escape(const char *value);

#endif
