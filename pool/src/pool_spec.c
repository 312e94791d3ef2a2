/*
 * pool_spec.c - a pool's desired shape: defaults, one setter per config key (shared by
 * the INI loader, the admin API and the store, which keeps the spec as the same
 * `key = value` text), cross-field checks, and the [pool "x"] / [host "y"] loader.
 * One parser for all three paths means a spec that loads from the store is always one
 * the config file could have said.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/mem.h"
#include "common/str.h"
#include "pool_priv.h"

#define SPEC_INT_MAX 100000

static const char *const day_names[7] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};

static bool
name_ok(const char *s)
{
    size_t n = 0;

    for (; s[n]; n++)
        if (!isalnum((unsigned char)s[n]) && s[n] != '-' && s[n] != '_')
            return false;
    return n > 0 && n < POOL_NAME_MAX;
}

struct pool_spec *
pool_spec_new(const char *name, struct pt_err *err)
{
    struct pool_spec *s;

    if (!name || !name_ok(name)) {
        pt_err_set(err, PT_E_INVALID, "pool name '%s' must be 1 to %d letters, digits, '-' or '_'",
                   name ? name : "", POOL_NAME_MAX - 1);
        return NULL;
    }
    s = pt_xcalloc(1, sizeof(*s));
    s->name = pt_xstrdup(name);
    s->image_version = pt_xstrdup("1");
    s->vcpus = 1;
    s->memory_mib = 1024;
    s->protocols = POOL_PROTO_SPICE | POOL_PROTO_VNC;
    s->rdp_port = 3389;
    s->max_size = 10;
    s->warm = 1;
    s->assignment = POOL_ASSIGN_FLOATING;
    s->on_logoff = POOL_LOGOFF_REFRESH;
    s->audio = true;
    return s;
}

void
pool_spec_free(struct pool_spec *s)
{
    if (!s)
        return;
    free(s->name);
    free(s->image);
    free(s->image_version);
    free(s->template_path);
    free(s->domain_type);
    free(s->groups);
    free(s->hosts);
    free(s->schedules);
    free(s->rdp_username);
    free(s->rdp_domain);
    free(s->rdp_password_file);
    free(s);
}

static char *
dup_opt(const char *s)
{
    return s ? pt_xstrdup(s) : NULL;
}

struct pool_spec *
pool_spec_dup(const struct pool_spec *s)
{
    struct pool_spec *d = pt_xmalloc(sizeof(*d));

    *d = *s;
    d->name = dup_opt(s->name);
    d->image = dup_opt(s->image);
    d->image_version = dup_opt(s->image_version);
    d->template_path = dup_opt(s->template_path);
    d->domain_type = dup_opt(s->domain_type);
    d->groups = dup_opt(s->groups);
    d->hosts = dup_opt(s->hosts);
    d->rdp_username = dup_opt(s->rdp_username);
    d->rdp_domain = dup_opt(s->rdp_domain);
    d->rdp_password_file = dup_opt(s->rdp_password_file);
    d->schedules = NULL;
    if (s->nschedules) {
        d->schedules = pt_xcalloc(s->nschedules, sizeof(*d->schedules));
        memcpy(d->schedules, s->schedules, s->nschedules * sizeof(*d->schedules));
    }
    return d;
}

static int
set_str(char **field, const char *value)
{
    free(*field);
    *field = *value ? pt_xstrdup(value) : NULL;
    return 0;
}

static int
set_int(int *field, const char *key, const char *value, int64_t min, int64_t max,
        struct pt_err *err)
{
    int64_t v;

    if (pt_parse_i64(value, min, max, &v) < 0)
        return pt_err_set(err, PT_E_INVALID,
                          "%s must be a whole number from %lld to %lld, not '%s'", key,
                          (long long)min, (long long)max, value);
    *field = (int)v;
    return 0;
}

static int
set_duration(int64_t *field, const char *key, const char *value, struct pt_err *err)
{
    int64_t v;

    if (pt_parse_duration_ms(value, &v) < 0 || v < 0 || v > 366LL * 24 * 3600 * 1000)
        return pt_err_set(err, PT_E_INVALID,
                          "%s must be a duration such as 30s, 15m or 12h (0 = never), not '%s'",
                          key, value);
    *field = v;
    return 0;
}

static int
parse_protocols(const char *value, unsigned *out, struct pt_err *err)
{
    char buf[128], *save = NULL, *tok;
    unsigned bits = 0;

    if (pt_strlcpy(buf, value, sizeof(buf)) >= sizeof(buf))
        return pt_err_set(err, PT_E_INVALID, "protocols: list too long");
    for (tok = strtok_r(buf, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
        if (strcasecmp(tok, "spice") == 0)
            bits |= POOL_PROTO_SPICE;
        else if (strcasecmp(tok, "vnc") == 0)
            bits |= POOL_PROTO_VNC;
        else if (strcasecmp(tok, "rdp") == 0)
            bits |= POOL_PROTO_RDP;
        else
            return pt_err_set(err, PT_E_INVALID, "protocols: '%s' is not one of spice, vnc, rdp",
                              tok);
    }
    if (!bits)
        return pt_err_set(err, PT_E_INVALID, "protocols: name at least one of spice, vnc, rdp");
    *out = bits;
    return 0;
}

/* "mon-fri", "sat,sun", "daily" or "mon" into a day mask. */
static int
parse_days(const char *s, unsigned *out)
{
    char buf[64], *save = NULL, *tok;
    unsigned mask = 0;

    if (strcmp(s, "daily") == 0 || strcmp(s, "*") == 0) {
        *out = 0x7f;
        return 0;
    }
    if (pt_strlcpy(buf, s, sizeof(buf)) >= sizeof(buf))
        return -1;
    for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *dash = strchr(tok, '-');
        int a = -1, b = -1;

        if (dash)
            *dash = '\0';
        for (int i = 0; i < 7; i++) {
            if (strcasecmp(tok, day_names[i]) == 0)
                a = i;
            if (dash && strcasecmp(dash + 1, day_names[i]) == 0)
                b = i;
        }
        if (a < 0 || (dash && b < 0))
            return -1;
        if (!dash)
            b = a;
        for (int i = a;; i = (i + 1) % 7) {
            mask |= 1u << i;
            if (i == b)
                break;
        }
    }
    *out = mask;
    return mask ? 0 : -1;
}

/* "mon-fri 08:00 warm=20 min=2 max=40" */
int
pool_schedule_parse(const char *value, struct pool_schedule *out, struct pt_err *err)
{
    char buf[256], *save = NULL, *tok;
    int hh, mm, n = 0, i = 0;

    if (pt_strlcpy(buf, value, sizeof(buf)) >= sizeof(buf))
        return pt_err_set(err, PT_E_INVALID, "schedule: rule too long");
    out->warm = out->min_size = out->max_size = -1;
    for (tok = strtok_r(buf, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save), i++) {
        if (i == 0) {
            if (parse_days(tok, &out->days) < 0)
                return pt_err_set(err, PT_E_INVALID,
                                  "schedule: '%s' is not a day list like mon-fri or sat,sun", tok);
        } else if (i == 1) {
            if (sscanf(tok, "%2d:%2d%n", &hh, &mm, &n) != 2 || tok[n] || hh < 0 || hh > 23 ||
                mm < 0 || mm > 59)
                return pt_err_set(err, PT_E_INVALID, "schedule: '%s' is not a time like 08:00",
                                  tok);
            out->minute = hh * 60 + mm;
        } else {
            char *eq = strchr(tok, '=');
            int *f = NULL;

            if (eq)
                *eq = '\0';
            if (eq && strcmp(tok, "warm") == 0)
                f = &out->warm;
            else if (eq && strcmp(tok, "min") == 0)
                f = &out->min_size;
            else if (eq && strcmp(tok, "max") == 0)
                f = &out->max_size;
            if (!f)
                return pt_err_set(err, PT_E_INVALID,
                                  "schedule: expected warm=N, min=N or max=N, not '%s'", tok);
            if (set_int(f, tok, eq + 1, 0, SPEC_INT_MAX, err) < 0)
                return pt_err_prefix(err, "schedule");
        }
    }
    if (i < 3)
        return pt_err_set(err, PT_E_INVALID,
                          "schedule: write days, a time and at least one of warm=, min=, max= "
                          "(e.g. 'mon-fri 08:00 warm=20')");
    return 0;
}

int
pool_spec_set(struct pool_spec *s, const char *key, const char *value, struct pt_err *err)
{
    int rc;

    if (!key || !value)
        return pt_err_set(err, PT_E_INVALID, "pool '%s': key and value required", s->name);
    rc = pool_spec_set_rdp(s, key, value, err);
    if (rc <= 0)
        return rc;
    if (strcmp(key, "image") == 0)
        return set_str(&s->image, value);
    if (strcmp(key, "image_version") == 0) {
        if (!*value || strlen(value) >= 64)
            return pt_err_set(err, PT_E_INVALID, "image_version must be 1 to 63 characters");
        return set_str(&s->image_version, value);
    }
    if (strcmp(key, "template") == 0)
        return set_str(&s->template_path, value);
    if (strcmp(key, "domain_type") == 0)
        return set_str(&s->domain_type, value);
    if (strcmp(key, "vcpus") == 0)
        return set_int(&s->vcpus, key, value, 1, 256, err);
    if (strcmp(key, "memory") == 0)
        return set_int(&s->memory_mib, key, value, 16, 4 * 1024 * 1024, err);
    if (strcmp(key, "protocols") == 0)
        return parse_protocols(value, &s->protocols, err);
    if (strcmp(key, "rdp_port") == 0)
        return set_int(&s->rdp_port, key, value, 1, 65535, err);
    if (strcmp(key, "min") == 0)
        return set_int(&s->min_size, key, value, 0, SPEC_INT_MAX, err);
    if (strcmp(key, "max") == 0)
        return set_int(&s->max_size, key, value, 0, SPEC_INT_MAX, err);
    if (strcmp(key, "warm") == 0)
        return set_int(&s->warm, key, value, 0, SPEC_INT_MAX, err);
    if (strcmp(key, "parked") == 0)
        return set_int(&s->parked, key, value, 0, SPEC_INT_MAX, err);
    if (strcmp(key, "assignment") == 0) {
        if (strcmp(value, "floating") == 0)
            s->assignment = POOL_ASSIGN_FLOATING;
        else if (strcmp(value, "dedicated") == 0)
            s->assignment = POOL_ASSIGN_DEDICATED;
        else
            return pt_err_set(err, PT_E_INVALID,
                              "assignment must be floating or dedicated, not '%s'", value);
        return 0;
    }
    if (strcmp(key, "on_logoff") == 0) {
        if (strcmp(value, "keep") == 0)
            s->on_logoff = POOL_LOGOFF_KEEP;
        else if (strcmp(value, "refresh") == 0)
            s->on_logoff = POOL_LOGOFF_REFRESH;
        else if (strcmp(value, "recreate") == 0)
            s->on_logoff = POOL_LOGOFF_RECREATE;
        else
            return pt_err_set(err, PT_E_INVALID,
                              "on_logoff must be keep, refresh or recreate, not '%s'", value);
        return 0;
    }
    if (strcmp(key, "drain") == 0) {
        if (strcmp(value, "retire") == 0)
            s->drain = POOL_DRAIN_RETIRE;
        else if (strcmp(value, "migrate") == 0)
            s->drain = POOL_DRAIN_MIGRATE;
        else
            return pt_err_set(err, PT_E_INVALID, "drain must be retire or migrate, not '%s'",
                              value);
        return 0;
    }
    if (strcmp(key, "idle_timeout") == 0)
        return set_duration(&s->idle_timeout_ms, key, value, err);
    if (strcmp(key, "disconnected_timeout") == 0)
        return set_duration(&s->disconnected_timeout_ms, key, value, err);
    if (strcmp(key, "max_session") == 0)
        return set_duration(&s->max_session_ms, key, value, err);
    if (strcmp(key, "groups") == 0)
        return set_str(&s->groups, value);
    if (strcmp(key, "hosts") == 0)
        return set_str(&s->hosts, value);
    if (strcmp(key, "schedule") == 0) {
        struct pool_schedule r;

        if (s->nschedules >= 64)
            return pt_err_set(err, PT_E_LIMIT, "pool '%s': at most 64 schedule rules", s->name);
        if (pool_schedule_parse(value, &r, err) < 0)
            return -1;
        s->schedules = pt_xreallocarray(s->schedules, s->nschedules + 1, sizeof(r));
        s->schedules[s->nschedules++] = r;
        return 0;
    }
    return pt_err_set(err, PT_E_INVALID, "unknown key '%s' in section [pool \"%s\"]", key, s->name);
}

int
pool_spec_check(const struct pool_spec *s, struct pt_err *err)
{
    if (!s->image)
        return pt_err_set(err, PT_E_INVALID, "pool '%s': set image = <golden disk>", s->name);
    if (s->min_size > s->max_size)
        return pt_err_set(err, PT_E_INVALID, "pool '%s': min (%d) is larger than max (%d)", s->name,
                          s->min_size, s->max_size);
    if (s->warm + s->parked > s->max_size)
        return pt_err_set(err, PT_E_INVALID,
                          "pool '%s': warm (%d) + parked (%d) is larger than max (%d)", s->name,
                          s->warm, s->parked, s->max_size);
    return pool_spec_check_rdp(s, err);
}

static void
format_days(struct pt_buf *b, unsigned days)
{
    bool first = true;

    if (days == 0x7f) {
        pt_buf_appends(b, "daily");
        return;
    }
    for (int i = 0; i < 7; i++) {
        if (!(days & (1u << i)))
            continue;
        pt_buf_appendf(b, "%s%s", first ? "" : ",", day_names[i]);
        first = false;
    }
}

char *
pool_spec_format(const struct pool_spec *s)
{
    static const char *const assign[] = {"floating", "dedicated"};
    static const char *const logoff[] = {"keep", "refresh", "recreate"};
    struct pt_buf b = PT_BUF_INIT;

    if (s->image)
        pt_buf_appendf(&b, "image = %s\n", s->image);
    pt_buf_appendf(&b, "image_version = %s\n", s->image_version);
    if (s->template_path)
        pt_buf_appendf(&b, "template = %s\n", s->template_path);
    if (s->domain_type)
        pt_buf_appendf(&b, "domain_type = %s\n", s->domain_type);
    pt_buf_appendf(&b, "vcpus = %d\nmemory = %d\nprotocols = %s%s%s\nrdp_port = %d\n", s->vcpus,
                   s->memory_mib, s->protocols & POOL_PROTO_SPICE ? "spice," : "",
                   s->protocols & POOL_PROTO_VNC ? "vnc," : "",
                   s->protocols & POOL_PROTO_RDP ? "rdp" : "", s->rdp_port);
    pt_buf_appendf(&b, "min = %d\nmax = %d\nwarm = %d\nparked = %d\n", s->min_size, s->max_size,
                   s->warm, s->parked);
    pt_buf_appendf(&b, "assignment = %s\non_logoff = %s\ndrain = %s\n", assign[s->assignment],
                   logoff[s->on_logoff], s->drain == POOL_DRAIN_MIGRATE ? "migrate" : "retire");
    pt_buf_appendf(&b,
                   "idle_timeout = %lldms\ndisconnected_timeout = %lldms\nmax_session = %lldms\n",
                   (long long)s->idle_timeout_ms, (long long)s->disconnected_timeout_ms,
                   (long long)s->max_session_ms);
    if (s->groups)
        pt_buf_appendf(&b, "groups = %s\n", s->groups);
    if (s->hosts)
        pt_buf_appendf(&b, "hosts = %s\n", s->hosts);
    for (size_t i = 0; i < s->nschedules; i++) {
        char *r = pool_schedule_format(&s->schedules[i]);

        pt_buf_appendf(&b, "schedule = %s\n", r);
        free(r);
    }
    pool_spec_format_rdp(s, &b);
    return pt_buf_steal(&b);
}

char *
pool_schedule_format(const struct pool_schedule *r)
{
    struct pt_buf b = PT_BUF_INIT;

    format_days(&b, r->days);
    pt_buf_appendf(&b, " %02d:%02d", r->minute / 60, r->minute % 60);
    if (r->warm >= 0)
        pt_buf_appendf(&b, " warm=%d", r->warm);
    if (r->min_size >= 0)
        pt_buf_appendf(&b, " min=%d", r->min_size);
    if (r->max_size >= 0)
        pt_buf_appendf(&b, " max=%d", r->max_size);
    return pt_buf_steal(&b);
}

/* list_has() - true if the comma/space separated @list holds @item. */
bool
pool_list_has(const char *list, const char *item)
{
    size_t n = strlen(item);
    const char *p = list;

    while (p && *p) {
        p += strspn(p, ", ");
        if (strncmp(p, item, n) == 0 && (p[n] == '\0' || p[n] == ',' || p[n] == ' '))
            return true;
        p += strcspn(p, ", ");
    }
    return false;
}

bool
pool_spec_entitled(const struct pool_spec *s, const char *const *groups, size_t n)
{
    if (!s->groups || !*s->groups)
        return true;
    for (size_t i = 0; i < n; i++)
        if (groups[i] && pool_list_has(s->groups, groups[i]))
            return true;
    return false;
}

/* --- the config loader --------------------------------------------------------------- */

struct conf_host {
    char *name, *uri, *storage_pool;
    int max_desktops;
    int64_t mem_reserve_mib;
};

struct pool_conf {
    struct pool_spec **pools;
    size_t npools;
    struct conf_host *hosts;
    size_t nhosts;
};

struct pool_conf *
pool_conf_new(void)
{
    return pt_xcalloc(1, sizeof(struct pool_conf));
}

void
pool_conf_free(struct pool_conf *pc)
{
    if (!pc)
        return;
    for (size_t i = 0; i < pc->npools; i++)
        pool_spec_free(pc->pools[i]);
    for (size_t i = 0; i < pc->nhosts; i++) {
        free(pc->hosts[i].name);
        free(pc->hosts[i].uri);
        free(pc->hosts[i].storage_pool);
    }
    free(pc->pools);
    free(pc->hosts);
    free(pc);
}

static int
conf_host_set(struct pool_conf *pc, const struct pt_conf_entry *e, struct pt_err *err)
{
    struct conf_host *h;
    int64_t v;

    if (!e->key) {
        if (!e->name || !name_ok(e->name))
            return pt_conf_errorf(err, e,
                                  "write [host \"name\"] with a name of letters, "
                                  "digits, '-' or '_'");
        for (size_t i = 0; i < pc->nhosts; i++)
            if (strcmp(pc->hosts[i].name, e->name) == 0)
                return pt_conf_errorf(err, e, "host '%s' is defined twice", e->name);
        pc->hosts = pt_xreallocarray(pc->hosts, pc->nhosts + 1, sizeof(*pc->hosts));
        h = &pc->hosts[pc->nhosts++];
        memset(h, 0, sizeof(*h));
        h->name = pt_xstrdup(e->name);
        return 0;
    }
    h = &pc->hosts[pc->nhosts - 1];
    if (strcmp(e->key, "uri") == 0)
        return set_str(&h->uri, e->value);
    if (strcmp(e->key, "storage_pool") == 0)
        return set_str(&h->storage_pool, e->value);
    if (strcmp(e->key, "max_desktops") == 0) {
        if (pt_parse_i64(e->value, 0, SPEC_INT_MAX, &v) < 0)
            return pt_conf_errorf(err, e, "max_desktops must be 0 to %d", SPEC_INT_MAX);
        h->max_desktops = (int)v;
        return 0;
    }
    if (strcmp(e->key, "mem_reserve") == 0) {
        if (pt_parse_i64(e->value, 0, INT64_C(1) << 40, &v) < 0)
            return pt_conf_errorf(err, e, "mem_reserve must be a number of MiB");
        h->mem_reserve_mib = v;
        return 0;
    }
    return pt_conf_errorf(err, e, "unknown key '%s' in section [host \"%s\"]", e->key, h->name);
}

int
pool_conf_set(struct pool_conf *pc, const struct pt_conf_entry *e, struct pt_err *err)
{
    struct pt_err sub;

    if (strcmp(e->section, "host") == 0)
        return conf_host_set(pc, e, err);
    if (strcmp(e->section, "pool") != 0)
        return pt_conf_errorf(err, e, "section [%s] does not belong to pools", e->section);
    if (!e->key) {
        struct pool_spec *s;

        for (size_t i = 0; e->name && i < pc->npools; i++)
            if (strcmp(pc->pools[i]->name, e->name) == 0)
                return pt_conf_errorf(err, e, "pool '%s' is defined twice", e->name);
        s = pool_spec_new(e->name, &sub);
        if (!s)
            return pt_conf_errorf(err, e, "%s", sub.msg);
        pc->pools = pt_xreallocarray(pc->pools, pc->npools + 1, sizeof(*pc->pools));
        pc->pools[pc->npools++] = s;
        return 0;
    }
    pt_err_clear(&sub);
    if (pool_spec_set(pc->pools[pc->npools - 1], e->key, e->value, &sub) < 0)
        return pt_conf_errorf(err, e, "%s", sub.msg);
    return 0;
}

int
pool_conf_finish(struct pool_conf *pc, struct pt_err *err)
{
    for (size_t i = 0; i < pc->nhosts; i++)
        if (!pc->hosts[i].uri)
            return pt_err_set(err, PT_E_INVALID, "host '%s': set uri = <libvirt URI>",
                              pc->hosts[i].name);
    for (size_t i = 0; i < pc->npools; i++)
        if (pool_spec_check(pc->pools[i], err) < 0)
            return -1;
    return 0;
}

size_t
pool_conf_npools(const struct pool_conf *pc)
{
    return pc->npools;
}

const struct pool_spec *
pool_conf_pool(const struct pool_conf *pc, size_t i)
{
    return i < pc->npools ? pc->pools[i] : NULL;
}

int
pool_ctx_apply_conf(struct pool_ctx *ctx, const struct pool_conf *pc, struct pt_err *err)
{
    for (size_t i = 0; i < pc->nhosts; i++) {
        const struct conf_host *h = &pc->hosts[i];

        struct hv_host_conf hc = {.name = h->name,
                                  .uri = h->uri,
                                  .max_desktops = h->max_desktops,
                                  .mem_reserve_mib = h->mem_reserve_mib,
                                  .storage_pool = h->storage_pool};

        if (hv_host_add(ctx->hv, &hc, err) < 0)
            return -1;
    }
    for (size_t i = 0; i < pc->npools; i++)
        if (pool_ctx_pool_put(ctx, pc->pools[i], err) < 0)
            return -1;
    return pool_hosts_refresh(ctx, err);
}
