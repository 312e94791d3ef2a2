/*
 * dir_conf.c - configuration of the directory client: defaults, the INI [ldap] section,
 * validation and the immutable struct auth_dir the workers share.
 *
 * Validation happens once here so that the LDAP code can trust its configuration: at
 * least one ldap:// or ldaps:// URI, a user base, a bind template with exactly one %s,
 * sane timeouts and page size, a known disabled mode with its attribute.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/mem.h"
#include "common/str.h"
#include "dir_priv.h"

#define DUP(s) ((s) ? pt_xstrdup(s) : NULL)

void
auth_dir_conf_init(struct auth_dir_conf *c)
{
    memset(c, 0, sizeof(*c));
    c->connect_timeout_ms = 3000;
    c->op_timeout_ms = 5000;
    c->bind_mode = AUTH_DIR_BIND_SEARCH;
    c->user_filter = pt_xstrdup("(objectClass=inetOrgPerson)");
    c->login_attrs = pt_xstrdup("uid");
    c->display_attr = pt_xstrdup("displayName");
    c->group_modes = AUTH_DIR_GROUPS_MEMBER | AUTH_DIR_GROUPS_UNIQUE_MEMBER;
    c->group_name_attr = pt_xstrdup("cn");
    c->member_of_attr = pt_xstrdup("memberOf");
    c->page_size = 200;
    c->disabled_mode = AUTH_DIR_DISABLED_NONE;
}

void
auth_dir_conf_fini(struct auth_dir_conf *c)
{
    for (int i = 0; i < c->n_uris; i++)
        free(c->uris[i]);
    free(c->ca_file);
    free(c->bind_dn);
    pt_free_secret(c->bind_pw);
    free(c->bind_dn_template);
    free(c->user_base);
    free(c->user_filter);
    free(c->login_attrs);
    free(c->display_attr);
    free(c->sso_user_attr);
    free(c->group_base);
    free(c->group_name_attr);
    free(c->member_of_attr);
    free(c->disabled_attr);
    free(c->disabled_value);
    free(c->admin_group);
    for (int i = 0; i < c->n_pools; i++) {
        free(c->pools[i].group);
        free(c->pools[i].pool);
    }
    memset(c, 0, sizeof(*c));
}

int
auth_dir_conf_add_uri(struct auth_dir_conf *c, const char *uri, struct pt_err *err)
{
    if (c->n_uris >= AUTH_DIR_MAX_URIS)
        return pt_err_set(err, PT_E_INVALID, "ldap: more than %d server URIs", AUTH_DIR_MAX_URIS);
    c->uris[c->n_uris++] = pt_xstrdup(uri);
    return 0;
}

int
auth_dir_conf_add_pool(struct auth_dir_conf *c, const char *group, const char *pool,
                       struct pt_err *err)
{
    if (c->n_pools >= AUTH_DIR_MAX_POOLMAP)
        return pt_err_set(err, PT_E_INVALID, "ldap: more than %d pool rules", AUTH_DIR_MAX_POOLMAP);
    if (!*group || !*pool)
        return pt_err_set(err, PT_E_INVALID, "ldap: pool rule needs a group and a pool");
    c->pools[c->n_pools].group = pt_xstrdup(group);
    c->pools[c->n_pools].pool = pt_xstrdup(pool);
    c->n_pools++;
    return 0;
}

static void
set_str(char **dst, const char *v)
{
    free(*dst);
    *dst = pt_xstrdup(v);
}

static int
parse_groups(const char *v, unsigned *out)
{
    char *copy = pt_xstrdup(v), *save = NULL;
    unsigned m = 0;
    int rc = 0;

    for (char *t = strtok_r(copy, " ,", &save); t; t = strtok_r(NULL, " ,", &save)) {
        if (strcmp(t, "member") == 0)
            m |= AUTH_DIR_GROUPS_MEMBER;
        else if (strcmp(t, "unique_member") == 0)
            m |= AUTH_DIR_GROUPS_UNIQUE_MEMBER;
        else if (strcmp(t, "member_of") == 0)
            m |= AUTH_DIR_GROUPS_MEMBER_OF;
        else if (strcmp(t, "member_uid") == 0)
            m |= AUTH_DIR_GROUPS_MEMBER_UID;
        else
            rc = -1;
    }
    free(copy);
    *out = m;
    return rc;
}

int
auth_dir_conf_apply(struct auth_dir_conf *c, const struct pt_conf_entry *e, struct pt_err *err)
{
    static const struct {
        const char *key;
        size_t off;
    } strs[] = {
        {"ca_file", offsetof(struct auth_dir_conf, ca_file)},
        {"bind_dn", offsetof(struct auth_dir_conf, bind_dn)},
        {"bind_dn_template", offsetof(struct auth_dir_conf, bind_dn_template)},
        {"user_base", offsetof(struct auth_dir_conf, user_base)},
        {"user_filter", offsetof(struct auth_dir_conf, user_filter)},
        {"login_attrs", offsetof(struct auth_dir_conf, login_attrs)},
        {"display_attr", offsetof(struct auth_dir_conf, display_attr)},
        {"sso_user_attr", offsetof(struct auth_dir_conf, sso_user_attr)},
        {"group_base", offsetof(struct auth_dir_conf, group_base)},
        {"group_name_attr", offsetof(struct auth_dir_conf, group_name_attr)},
        {"member_of_attr", offsetof(struct auth_dir_conf, member_of_attr)},
        {"disabled_attr", offsetof(struct auth_dir_conf, disabled_attr)},
        {"disabled_value", offsetof(struct auth_dir_conf, disabled_value)},
        {"admin_group", offsetof(struct auth_dir_conf, admin_group)},
    };
    const char *k = e->key, *v = e->value;
    int64_t n;
    bool b;

    if (!k)
        return 0; /* section header */
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
        if (strcmp(k, strs[i].key) == 0) {
            set_str((char **)((char *)c + strs[i].off), v);
            return 0;
        }
    }
    if (strcmp(k, "bind_pw") == 0) {
        pt_free_secret(c->bind_pw);
        c->bind_pw = pt_xstrdup(v);
        return 0;
    }
    if (strcmp(k, "uri") == 0) {
        struct pt_err why = {0};
        if (auth_dir_conf_add_uri(c, v, &why) < 0)
            return pt_conf_errorf(err, e, "%s", why.msg);
        return 0;
    }
    if (strcmp(k, "pool") == 0) {
        const char *colon = strrchr(v, ':');
        struct pt_err why = {0};
        char *group;
        int rc;
        if (!colon)
            return pt_conf_errorf(err, e, "pool: write <group>:<pool>");
        group = pt_xstrndup(v, (size_t)(colon - v));
        rc = auth_dir_conf_add_pool(c, group, colon + 1, &why);
        free(group);
        return rc < 0 ? pt_conf_errorf(err, e, "%s", why.msg) : 0;
    }
    if (strcmp(k, "starttls") == 0) {
        if (pt_parse_bool(v, &b) < 0)
            return pt_conf_errorf(err, e, "starttls: expected yes or no");
        c->starttls = b;
        return 0;
    }
    if (strcmp(k, "connect_timeout") == 0 || strcmp(k, "op_timeout") == 0) {
        if (pt_parse_duration_ms(v, &n) < 0 || n < 10 || n > 600000)
            return pt_conf_errorf(err, e, "%s: a duration between 10ms and 10m", k);
        *(k[0] == 'c' ? &c->connect_timeout_ms : &c->op_timeout_ms) = (int)n;
        return 0;
    }
    if (strcmp(k, "nest_depth") == 0 || strcmp(k, "page_size") == 0) {
        bool depth = k[0] == 'n';
        if (pt_parse_i64(v, depth ? 0 : 1, depth ? 16 : 10000, &n) < 0)
            return pt_conf_errorf(err, e, "%s: out of range", k);
        *(depth ? &c->nest_depth : &c->page_size) = (int)n;
        return 0;
    }
    if (strcmp(k, "disabled_mask") == 0) {
        if (pt_parse_i64(v, 1, INT32_MAX, &n) < 0)
            return pt_conf_errorf(err, e, "disabled_mask: a positive integer");
        c->disabled_mask = (long)n;
        return 0;
    }
    if (strcmp(k, "bind") == 0) {
        if (strcmp(v, "search") == 0)
            c->bind_mode = AUTH_DIR_BIND_SEARCH;
        else if (strcmp(v, "template") == 0)
            c->bind_mode = AUTH_DIR_BIND_TEMPLATE;
        else
            return pt_conf_errorf(err, e, "bind: search or template");
        return 0;
    }
    if (strcmp(k, "groups") == 0) {
        if (parse_groups(v, &c->group_modes) < 0)
            return pt_conf_errorf(err, e,
                                  "groups: any of member unique_member member_of member_uid");
        return 0;
    }
    if (strcmp(k, "disabled") == 0) {
        static const char *names[] = {"none", "present", "bitmask", "equals"};
        for (int i = 0; i < 4; i++) {
            if (strcmp(v, names[i]) == 0) {
                c->disabled_mode = (enum auth_dir_disabled_mode)i;
                return 0;
            }
        }
        return pt_conf_errorf(err, e, "disabled: none, present, bitmask or equals");
    }
    return pt_conf_errorf(err, e, "unknown key \"%s\" in [ldap]", k);
}

static int
validate(const struct auth_dir_conf *c, struct pt_err *err)
{
    if (c->n_uris == 0)
        return pt_err_set(err, PT_E_INVALID, "ldap: no server URI configured");
    for (int i = 0; i < c->n_uris; i++) {
        if (!pt_str_has_prefix(c->uris[i], "ldap://") && !pt_str_has_prefix(c->uris[i], "ldaps://"))
            return pt_err_set(err, PT_E_INVALID, "ldap: URI %s is not ldap:// or ldaps://",
                              c->uris[i]);
    }
    if (!c->user_base || !*c->user_base)
        return pt_err_set(err, PT_E_INVALID, "ldap: user_base is required");
    if (!c->login_attrs || !*c->login_attrs)
        return pt_err_set(err, PT_E_INVALID, "ldap: login_attrs is required");
    if (c->bind_mode == AUTH_DIR_BIND_TEMPLATE) {
        const char *p = c->bind_dn_template ? strstr(c->bind_dn_template, "%s") : NULL;
        if (!p || strstr(p + 2, "%s") || strchr(c->bind_dn_template, '%') != p)
            return pt_err_set(err, PT_E_INVALID,
                              "ldap: bind_dn_template needs exactly one %%s and no other %%");
    }
    if (c->connect_timeout_ms < 10 || c->op_timeout_ms < 10)
        return pt_err_set(err, PT_E_INVALID, "ldap: timeouts must be at least 10 ms");
    if (c->page_size < 1 || c->nest_depth < 0 || c->nest_depth > 16)
        return pt_err_set(err, PT_E_INVALID, "ldap: page_size >= 1 and nest_depth 0..16");
    if ((c->group_modes & ~(unsigned)AUTH_DIR_GROUPS_MEMBER_OF) &&
        (!c->group_base || !*c->group_base))
        return pt_err_set(err, PT_E_INVALID, "ldap: group_base is required for group searches");
    if (c->disabled_mode != AUTH_DIR_DISABLED_NONE && (!c->disabled_attr || !*c->disabled_attr))
        return pt_err_set(err, PT_E_INVALID, "ldap: disabled mode needs disabled_attr");
    if (c->disabled_mode == AUTH_DIR_DISABLED_EQUALS && !c->disabled_value)
        return pt_err_set(err, PT_E_INVALID, "ldap: disabled = equals needs disabled_value");
    if (c->disabled_mode == AUTH_DIR_DISABLED_BITMASK && c->disabled_mask <= 0)
        return pt_err_set(err, PT_E_INVALID, "ldap: disabled = bitmask needs disabled_mask");
    return 0;
}

struct auth_dir *
auth_dir_new(const struct auth_dir_conf *conf, struct pt_err *err)
{
    struct auth_dir *d;
    struct auth_dir_conf *c;
    char *save = NULL, *attrs;

    if (validate(conf, err) < 0)
        return NULL;
    dir_ldap_init_once(); /* here, normally on the main thread before any worker starts */
    d = pt_xcalloc(1, sizeof(*d));
    c = &d->conf;
    *c = *conf; /* scalars; every string is re-copied below */
    for (int i = 0; i < conf->n_uris; i++)
        c->uris[i] = pt_xstrdup(conf->uris[i]);
    c->ca_file = DUP(conf->ca_file);
    c->bind_dn = DUP(conf->bind_dn);
    c->bind_pw = DUP(conf->bind_pw);
    c->bind_dn_template = DUP(conf->bind_dn_template);
    c->user_base = DUP(conf->user_base);
    c->user_filter = DUP(conf->user_filter);
    c->login_attrs = DUP(conf->login_attrs);
    c->display_attr = DUP(conf->display_attr);
    c->sso_user_attr = DUP(conf->sso_user_attr);
    c->group_base = DUP(conf->group_base);
    c->group_name_attr = pt_xstrdup(conf->group_name_attr ? conf->group_name_attr : "cn");
    c->member_of_attr = pt_xstrdup(conf->member_of_attr ? conf->member_of_attr : "memberOf");
    c->disabled_attr = DUP(conf->disabled_attr);
    c->disabled_value = DUP(conf->disabled_value);
    c->admin_group = DUP(conf->admin_group);
    for (int i = 0; i < conf->n_pools; i++) {
        c->pools[i].group = pt_xstrdup(conf->pools[i].group);
        c->pools[i].pool = pt_xstrdup(conf->pools[i].pool);
    }
    attrs = pt_xstrdup(c->login_attrs);
    for (char *t = strtok_r(attrs, " ,", &save); t; t = strtok_r(NULL, " ,", &save)) {
        if (d->n_login_attrs == DIR_MAX_LOGIN_ATTRS) {
            free(attrs);
            auth_dir_free(d);
            pt_err_set(err, PT_E_INVALID, "ldap: at most %d login_attrs", DIR_MAX_LOGIN_ATTRS);
            return NULL;
        }
        d->login_attrs[d->n_login_attrs++] = pt_xstrdup(t);
    }
    free(attrs);
    return d;
}

void
auth_dir_free(struct auth_dir *d)
{
    if (!d)
        return;
    auth_dir_conf_fini(&d->conf);
    for (int i = 0; i < d->n_login_attrs; i++)
        free(d->login_attrs[i]);
    free(d);
}

const char *
auth_dir_via_str(enum auth_dir_via v)
{
    switch (v) {
    case AUTH_DIR_VIA_MEMBER:
        return "member";
    case AUTH_DIR_VIA_UNIQUE_MEMBER:
        return "unique_member";
    case AUTH_DIR_VIA_MEMBER_OF:
        return "member_of";
    case AUTH_DIR_VIA_MEMBER_UID:
        return "member_uid";
    case AUTH_DIR_VIA_NESTED:
        return "nested";
    }
    return "?";
}

const char *
auth_dir_user_message(const struct pt_err *err)
{
    switch (err ? err->code : PT_E_OK) {
    case PT_E_OK:
        return "Signed in.";
    case PT_E_AUTH:
    case PT_E_INVALID:
        return "Wrong user name or password.";
    case PT_E_FORBIDDEN:
        return "This account is disabled. Ask your administrator.";
    case PT_E_UNAVAILABLE:
    case PT_E_TIMEOUT:
        return "The directory is unavailable. Try again in a few minutes.";
    case PT_E_LIMIT:
        return "Too many failed sign-ins. Wait a few minutes and try again.";
    default:
        return "Sign-in failed because of an internal error. Try again later.";
    }
}

void
auth_dir_user_free(struct auth_dir_user *u)
{
    if (!u)
        return;
    free(u->dn);
    free(u->login);
    free(u->display);
    free(u->sso_user);
    for (size_t i = 0; i < u->n_groups; i++) {
        free(u->groups[i].dn);
        free(u->groups[i].name);
        free(u->groups[i].parent);
    }
    free(u->groups);
    for (size_t i = 0; i < u->n_pools; i++)
        free(u->pools[i]);
    free(u->pools);
    free(u);
}

char *
dir_dn_value_escape(const char *v)
{
    struct pt_buf b = PT_BUF_INIT;
    size_t n = strlen(v);

    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)v[i];
        if (strchr(",+\"\\<>;=", ch) || (ch == '#' && i == 0) ||
            (ch == ' ' && (i == 0 || i == n - 1)))
            pt_buf_appendf(&b, "\\%c", ch);
        else if (ch < 0x20 || ch == 0x7f)
            pt_buf_appendf(&b, "\\%02X", ch);
        else
            pt_buf_append(&b, &v[i], 1);
    }
    pt_buf_reserve(&b, 1);
    return pt_buf_steal(&b);
}
