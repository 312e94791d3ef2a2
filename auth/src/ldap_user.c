/*
 * ldap_user.c - signing a user in: find the entry, refuse disabled accounts, check the
 * password, collect groups (with how each was found) and derive entitlements.
 *
 * Every value typed by the user reaches a filter only through dir_filter_escape()
 * (RFC 4515, ldap_bv2escaped_filter_value), and DNs placed inside filters are escaped the
 * same way (a DN such as uid=o*brien,... holds filter metacharacters). The bind template
 * gets the RFC 4514 DN escaping instead. So "*)(uid=*" is looked up literally and matches
 * nobody.
 *
 * Group collection: one search for the direct groups (groupOfNames member,
 * groupOfUniqueNames uniqueMember, posixGroup memberUid, OR-ed into one paged search), the
 * user's memberOf values, then breadth-first nesting up to nest_depth levels, one search
 * per group found at the previous level, so each nested group names the group it was
 * reached through. Groups are de-duplicated by DN (case-insensitive), which also ends
 * cycles.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <lber.h>
#include <ldap.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/str.h"
#include "dir_priv.h"

struct user_ctx {
    const struct auth_dir *d;
    struct auth_dir_user *u;
    int found;
    char *uid_value;  /* the first login attribute's value, for memberUid */
    char **member_of; /* values of member_of_attr */
    size_t n_member_of;
};

static char *
first_value(LDAP *ld, LDAPMessage *e, const char *attr)
{
    struct berval **vals;
    char *s = NULL;

    if (!attr || !*attr)
        return NULL;
    vals = ldap_get_values_len(ld, e, attr);
    if (vals && vals[0])
        s = pt_xstrndup(vals[0]->bv_val, vals[0]->bv_len);
    ldap_value_free_len(vals);
    return s;
}

static bool
is_disabled(const struct auth_dir_conf *conf, LDAP *ld, LDAPMessage *e)
{
    struct berval **vals;
    bool off = false;

    if (conf->disabled_mode == AUTH_DIR_DISABLED_NONE)
        return false;
    vals = ldap_get_values_len(ld, e, conf->disabled_attr);
    for (size_t i = 0; vals && vals[i] && !off; i++) {
        char *v = pt_xstrndup(vals[i]->bv_val, vals[i]->bv_len);
        switch (conf->disabled_mode) {
        case AUTH_DIR_DISABLED_PRESENT:
            off = true;
            break;
        case AUTH_DIR_DISABLED_BITMASK: {
            int64_t n = 0;
            off = pt_parse_i64(v, INT64_MIN, INT64_MAX, &n) == 0 && (n & conf->disabled_mask);
            break;
        }
        case AUTH_DIR_DISABLED_EQUALS:
            off = strcasecmp(v, conf->disabled_value) == 0;
            break;
        case AUTH_DIR_DISABLED_NONE:
            break;
        }
        free(v);
    }
    ldap_value_free_len(vals);
    return off;
}

static int
user_entry(LDAP *ld, LDAPMessage *e, void *opaque, struct pt_err *err)
{
    struct user_ctx *x = opaque;
    const struct auth_dir_conf *conf = &x->d->conf;
    char *dn;

    if (++x->found > 1)
        return pt_err_set(err, PT_E_AUTH, "ambiguous user name: more than one entry matches");
    dn = ldap_get_dn(ld, e);
    if (!dn)
        return pt_err_set(err, PT_E_INTERNAL, "ldap: entry without a DN");
    x->u->dn = pt_xstrdup(dn);
    ldap_memfree(dn);
    x->u->display = first_value(ld, e, conf->display_attr);
    if (conf->sso_user_attr && *conf->sso_user_attr)
        x->u->sso_user = first_value(ld, e, conf->sso_user_attr);
    x->uid_value = first_value(ld, e, x->d->login_attrs[0]);
    x->u->disabled = is_disabled(conf, ld, e);
    if (conf->group_modes & AUTH_DIR_GROUPS_MEMBER_OF) {
        struct berval **vals = ldap_get_values_len(ld, e, conf->member_of_attr);
        size_t n = 0;
        while (vals && vals[n])
            n++;
        if (n > AUTH_DIR_MAX_GROUPS) {
            ldap_value_free_len(vals);
            return pt_err_set(err, PT_E_LIMIT, "ldap: more than %d groups in %s",
                              AUTH_DIR_MAX_GROUPS, conf->member_of_attr);
        }
        x->member_of = pt_xcalloc(n + 1, sizeof(char *));
        for (size_t i = 0; i < n; i++)
            x->member_of[i] = pt_xstrndup(vals[i]->bv_val, vals[i]->bv_len);
        x->n_member_of = n;
        ldap_value_free_len(vals);
    }
    return 0;
}

/* user_attrs() - the attributes to read from a user entry; fills @a (size >= 6). */
static void
user_attrs(const struct auth_dir *d, char **a)
{
    int n = 0;

    a[n++] = d->login_attrs[0];
    if (d->conf.display_attr && *d->conf.display_attr)
        a[n++] = d->conf.display_attr;
    if (d->conf.sso_user_attr && *d->conf.sso_user_attr)
        a[n++] = d->conf.sso_user_attr;
    if (d->conf.group_modes & AUTH_DIR_GROUPS_MEMBER_OF)
        a[n++] = d->conf.member_of_attr;
    if (d->conf.disabled_mode != AUTH_DIR_DISABLED_NONE)
        a[n++] = d->conf.disabled_attr;
    a[n] = NULL;
}

static int
find_user(struct auth_dir_conn *c, const char *login, struct user_ctx *x, struct pt_err *err)
{
    const struct auth_dir *d = c->dir;
    char *esc = dir_filter_escape(login), *attrs[6];
    struct pt_buf f = PT_BUF_INIT;
    int rc;

    pt_buf_appendf(&f, "(&%s(|", d->conf.user_filter ? d->conf.user_filter : "");
    for (int i = 0; i < d->n_login_attrs; i++)
        pt_buf_appendf(&f, "(%s=%s)", d->login_attrs[i], esc);
    pt_buf_appends(&f, "))");
    user_attrs(d, attrs);
    rc = dir_search(c, d->conf.user_base, f.data, attrs, false, 4, user_entry, x, err);
    if (rc == 0 && x->found == 0)
        rc = pt_err_set(err, PT_E_AUTH, "no such user");
    free(esc);
    pt_buf_fini(&f);
    return rc;
}

/* read_entry() - the user entry at a known DN (template mode). */
static int
read_entry(struct auth_dir_conn *c, const char *dn, struct user_ctx *x, struct pt_err *err)
{
    char *attrs[6];
    int rc;

    user_attrs(c->dir, attrs);
    rc = dir_search(c, dn, "(objectClass=*)", attrs, false, 4, user_entry, x, err);
    if (rc == 0 && x->found == 0)
        rc = pt_err_set(err, PT_E_AUTH, "no entry at %s", dn);
    return rc;
}

/* --- groups ------------------------------------------------------------------------ */

static bool
has_group(const struct auth_dir_user *u, const char *dn)
{
    for (size_t i = 0; i < u->n_groups; i++) {
        if (strcasecmp(u->groups[i].dn, dn) == 0)
            return true;
    }
    return false;
}

/* rdn_value() - the value of the first RDN of @dn ("cn=staff,ou=..." → "staff"). */
static char *
rdn_value(const char *dn)
{
    LDAPDN parsed = NULL;
    char *s = NULL;

    if (ldap_str2dn(dn, &parsed, LDAP_DN_FORMAT_LDAP) == LDAP_SUCCESS && parsed && parsed[0] &&
        parsed[0][0])
        s = pt_xstrndup(parsed[0][0]->la_value.bv_val, parsed[0][0]->la_value.bv_len);
    ldap_dnfree(parsed);
    return s ? s : pt_xstrdup(dn);
}

static int
group_add(struct auth_dir_user *u, const char *dn, char *name, enum auth_dir_via via, int depth,
          const char *parent, struct pt_err *err)
{
    struct auth_dir_group *g;

    if (has_group(u, dn)) {
        free(name);
        return 0;
    }
    if (u->n_groups >= AUTH_DIR_MAX_GROUPS) {
        free(name);
        return pt_err_set(err, PT_E_LIMIT, "ldap: %s is in more than %d groups", u->dn,
                          AUTH_DIR_MAX_GROUPS);
    }
    u->groups = pt_xreallocarray(u->groups, u->n_groups + 1, sizeof(*u->groups));
    g = &u->groups[u->n_groups++];
    g->dn = pt_xstrdup(dn);
    g->name = name ? name : rdn_value(dn);
    g->via = via;
    g->depth = depth;
    g->parent = parent ? pt_xstrdup(parent) : NULL;
    return 0;
}

struct group_ctx {
    const struct auth_dir *d;
    struct auth_dir_user *u;
    int depth;
    const char *parent;
};

static enum auth_dir_via
via_of(LDAP *ld, LDAPMessage *e)
{
    struct berval **oc = ldap_get_values_len(ld, e, "objectClass");
    enum auth_dir_via via = AUTH_DIR_VIA_MEMBER;

    for (size_t i = 0; oc && oc[i]; i++) {
        if (oc[i]->bv_len == 18 && strncasecmp(oc[i]->bv_val, "groupOfUniqueNames", 18) == 0)
            via = AUTH_DIR_VIA_UNIQUE_MEMBER;
        else if (oc[i]->bv_len == 10 && strncasecmp(oc[i]->bv_val, "posixGroup", 10) == 0)
            via = AUTH_DIR_VIA_MEMBER_UID;
    }
    ldap_value_free_len(oc);
    return via;
}

static int
group_entry(LDAP *ld, LDAPMessage *e, void *opaque, struct pt_err *err)
{
    struct group_ctx *g = opaque;
    char *dn = ldap_get_dn(ld, e);
    int rc;

    if (!dn)
        return pt_err_set(err, PT_E_INTERNAL, "ldap: group entry without a DN");
    rc = group_add(g->u, dn, first_value(ld, e, g->d->conf.group_name_attr),
                   g->parent ? AUTH_DIR_VIA_NESTED : via_of(ld, e), g->depth, g->parent, err);
    ldap_memfree(dn);
    return rc;
}

static int
direct_groups(struct auth_dir_conn *c, struct user_ctx *x, struct pt_err *err)
{
    const struct auth_dir_conf *conf = &c->dir->conf;
    char *dn = dir_filter_escape(x->u->dn);
    char *uid = dir_filter_escape(x->uid_value ? x->uid_value : x->u->login);
    char *attrs[] = {(char *)"objectClass", conf->group_name_attr, NULL};
    struct group_ctx g = {c->dir, x->u, 0, NULL};
    struct pt_buf f = PT_BUF_INIT;
    int rc = 0;

    pt_buf_appends(&f, "(|");
    if (conf->group_modes & AUTH_DIR_GROUPS_MEMBER)
        pt_buf_appendf(&f, "(&(objectClass=groupOfNames)(member=%s))", dn);
    if (conf->group_modes & AUTH_DIR_GROUPS_UNIQUE_MEMBER)
        pt_buf_appendf(&f, "(&(objectClass=groupOfUniqueNames)(uniqueMember=%s))", dn);
    if (conf->group_modes & AUTH_DIR_GROUPS_MEMBER_UID)
        pt_buf_appendf(&f, "(&(objectClass=posixGroup)(memberUid=%s))", uid);
    pt_buf_appends(&f, ")");
    if (f.len > 3)
        rc = dir_search(c, conf->group_base, f.data, attrs, true, AUTH_DIR_MAX_GROUPS, group_entry,
                        &g, err);
    for (size_t i = 0; rc == 0 && i < x->n_member_of; i++)
        rc = group_add(x->u, x->member_of[i], NULL, AUTH_DIR_VIA_MEMBER_OF, 0, NULL, err);
    free(dn);
    free(uid);
    pt_buf_fini(&f);
    return rc;
}

/* memberof_entry() - nesting without a group base (AD-style): the group's own memberOf. */
static int
memberof_entry(LDAP *ld, LDAPMessage *e, void *opaque, struct pt_err *err)
{
    struct group_ctx *g = opaque;
    struct berval **vals = ldap_get_values_len(ld, e, g->d->conf.member_of_attr);
    int rc = 0;

    for (size_t i = 0; rc == 0 && vals && vals[i]; i++) {
        char *dn = pt_xstrndup(vals[i]->bv_val, vals[i]->bv_len);
        rc = group_add(g->u, dn, NULL, AUTH_DIR_VIA_NESTED, g->depth, g->parent, err);
        free(dn);
    }
    ldap_value_free_len(vals);
    return rc;
}

static int
nested_groups(struct auth_dir_conn *c, struct auth_dir_user *u, struct pt_err *err)
{
    const struct auth_dir_conf *conf = &c->dir->conf;
    char *attrs[] = {(char *)"objectClass", conf->group_name_attr, NULL};
    char *mo_attrs[] = {conf->member_of_attr, NULL};
    size_t level_start = 0;

    for (int depth = 1; depth <= conf->nest_depth; depth++) {
        size_t level_end = u->n_groups;
        if (level_start == level_end)
            break;
        for (size_t i = level_start; i < level_end; i++) {
            /* copy: group_add() may move u->groups */
            char *child = pt_xstrdup(u->groups[i].dn);
            struct group_ctx g = {c->dir, u, depth, child};
            int rc;
            if (conf->group_base && *conf->group_base) {
                char *esc = dir_filter_escape(child);
                char *f = pt_xasprintf("(|(&(objectClass=groupOfNames)(member=%s))"
                                       "(&(objectClass=groupOfUniqueNames)(uniqueMember=%s)))",
                                       esc, esc);
                rc = dir_search(c, conf->group_base, f, attrs, true, AUTH_DIR_MAX_GROUPS,
                                group_entry, &g, err);
                free(f);
                free(esc);
            } else {
                rc = dir_search(c, child, "(objectClass=*)", mo_attrs, false, 1, memberof_entry, &g,
                                err);
            }
            free(child);
            if (rc < 0)
                return -1;
        }
        level_start = level_end;
    }
    return 0;
}

static bool
group_matches(const struct auth_dir_user *u, const char *want)
{
    for (size_t i = 0; i < u->n_groups; i++) {
        if (strcasecmp(u->groups[i].name, want) == 0 || strcasecmp(u->groups[i].dn, want) == 0)
            return true;
    }
    return false;
}

static void
entitlements(const struct auth_dir_conf *conf, struct auth_dir_user *u)
{
    u->admin = conf->admin_group && *conf->admin_group && group_matches(u, conf->admin_group);
    for (int i = 0; i < conf->n_pools; i++) {
        bool dup = false;
        if (!group_matches(u, conf->pools[i].group))
            continue;
        for (size_t k = 0; k < u->n_pools && !dup; k++)
            dup = strcmp(u->pools[k], conf->pools[i].pool) == 0;
        if (dup)
            continue;
        u->pools = pt_xreallocarray(u->pools, u->n_pools + 1, sizeof(char *));
        u->pools[u->n_pools++] = pt_xstrdup(conf->pools[i].pool);
    }
}

static void
ctx_fini(struct user_ctx *x)
{
    for (size_t i = 0; i < x->n_member_of; i++)
        free(x->member_of[i]);
    free(x->member_of);
    free(x->uid_value);
}

/* lookup() - shared by login and resolve. @password NULL: resolve (no bind). */
static int
lookup(struct auth_dir_conn *c, const char *login, const char *password, struct auth_dir_user **out,
       struct pt_err *err)
{
    const struct auth_dir_conf *conf = &c->dir->conf;
    struct auth_dir_user *u = pt_xcalloc(1, sizeof(*u));
    struct user_ctx x = {c->dir, u, 0, NULL, NULL, 0};
    int rc = -1;

    *out = NULL;
    u->login = pt_xstrdup(login);
    if (password && conf->bind_mode == AUTH_DIR_BIND_TEMPLATE) {
        char *esc = dir_dn_value_escape(login);
        const char *p = strstr(conf->bind_dn_template, "%s");
        char *dn = pt_xasprintf("%.*s%s%s", (int)(p - conf->bind_dn_template),
                                conf->bind_dn_template, esc, p + 2);
        free(esc);
        rc = dir_user_bind(c, dn, password, err);
        if (rc == 0) {
            c->search_as_user = true;
            rc = read_entry(c, dn, &x, err);
        }
        free(dn);
        if (rc < 0)
            goto out;
        if (u->disabled) { /* the bind worked; the directory still says no */
            rc = pt_err_set(err, PT_E_FORBIDDEN, "account %s is disabled", u->dn);
            goto out;
        }
    } else {
        if (find_user(c, login, &x, err) < 0)
            goto out;
        if (password && u->disabled) { /* refused before its password is even tried */
            rc = pt_err_set(err, PT_E_FORBIDDEN, "account %s is disabled", u->dn);
            goto out;
        }
        if (password && dir_user_bind(c, u->dn, password, err) < 0)
            goto out;
    }
    rc = direct_groups(c, &x, err);
    if (rc == 0)
        rc = nested_groups(c, u, err);
    if (rc == 0)
        entitlements(conf, u);
out:
    c->search_as_user = false;
    ctx_fini(&x);
    if (rc < 0) {
        auth_dir_user_free(u);
        return -1;
    }
    *out = u;
    return 0;
}

int
auth_dir_conn_login(struct auth_dir_conn *c, const char *login, const char *password,
                    struct auth_dir_user **out, struct pt_err *err)
{
    *out = NULL;
    if (!password || !*password) /* an empty simple bind is an anonymous bind: it succeeds */
        return pt_err_set(err, PT_E_AUTH, "empty password refused");
    if (!login || !*login)
        return pt_err_set(err, PT_E_AUTH, "empty user name refused");
    if (strlen(login) > AUTH_DIR_MAX_LOGIN)
        return pt_err_set(err, PT_E_INVALID, "user name longer than %d bytes", AUTH_DIR_MAX_LOGIN);
    return lookup(c, login, password, out, err);
}

int
auth_dir_conn_resolve(struct auth_dir_conn *c, const char *login, struct auth_dir_user **out,
                      struct pt_err *err)
{
    *out = NULL;
    if (!login || !*login || strlen(login) > AUTH_DIR_MAX_LOGIN)
        return pt_err_set(err, PT_E_INVALID, "user name empty or longer than %d bytes",
                          AUTH_DIR_MAX_LOGIN);
    return lookup(c, login, NULL, out, err);
}
