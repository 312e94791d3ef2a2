/*
 * pool_spec_rdp.c - a pool's RDP session keys: which credentials the gateway presents to
 * the desktop (none, fixed from a file the broker reads, or the user's own sign-in), and
 * the session policy the ticket carries (clipboard direction and size, audio).
 *
 * The user name and domain end up inside "user\npassword\ndomain", the secret the gateway
 * splits on newlines, and in FreeRDP settings: no control characters, bounded. The
 * password file's path is only a path here; the file is read (and its ownership and mode
 * checked) by the broker at each launch, so the password is never in the spec, the store
 * or the admin API.
 */
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "common/str.h"
#include "pool_priv.h"

static const char *const creds_names[] = {"none", "fixed", "sso"};
static const char *const clip_names[] = {"both", "to-desktop", "from-desktop", "none"};

const char *
pool_rdp_creds_str(enum pool_rdp_creds c)
{
    return (unsigned)c < 3 ? creds_names[c] : "?";
}

const char *
pool_clip_str(enum pool_clip c)
{
    return (unsigned)c < 4 ? clip_names[c] : "?";
}

/* text_ok() - @max bytes at most, no control characters (a newline would split the
 * gateway's "user\npassword\ndomain" secret). */
static bool
text_ok(const char *v, size_t max)
{
    size_t n = strlen(v);

    if (n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
            return false;
    return true;
}

static int
set_text(char **field, const char *key, const char *value, size_t max, struct pt_err *err)
{
    if (!text_ok(value, max))
        return pt_err_set(err, PT_E_INVALID,
                          "%s must be at most %zu bytes without control characters", key, max);
    free(*field);
    *field = *value ? pt_xstrdup(value) : NULL;
    return 0;
}

static int
pick(const char *key, const char *value, const char *const *names, int n, int *out,
     struct pt_err *err)
{
    for (int i = 0; i < n; i++) {
        if (strcmp(value, names[i]) == 0) {
            *out = i;
            return 0;
        }
    }
    return n == 3 ? pt_err_set(err, PT_E_INVALID, "%s must be none, fixed or sso, not '%s'", key,
                               value)
                  : pt_err_set(err, PT_E_INVALID,
                               "%s must be both, to-desktop, from-desktop or none, not '%s'", key,
                               value);
}

int
pool_spec_set_rdp(struct pool_spec *s, const char *key, const char *value, struct pt_err *err)
{
    int v;
    int64_t n;

    if (strcmp(key, "rdp_credentials") == 0) {
        if (pick(key, value, creds_names, 3, &v, err) < 0)
            return -1;
        s->rdp_credentials = (enum pool_rdp_creds)v;
        return 0;
    }
    if (strcmp(key, "rdp_username") == 0)
        return set_text(&s->rdp_username, key, value, POOL_RDP_USER_MAX, err);
    if (strcmp(key, "rdp_domain") == 0)
        return set_text(&s->rdp_domain, key, value, POOL_RDP_USER_MAX, err);
    if (strcmp(key, "rdp_password_file") == 0) {
        if (*value && value[0] != '/')
            return pt_err_set(err, PT_E_INVALID,
                              "rdp_password_file must be an absolute path, not '%s'", value);
        return set_text(&s->rdp_password_file, key, value, 1023, err);
    }
    if (strcmp(key, "clipboard") == 0) {
        if (pick(key, value, clip_names, 4, &v, err) < 0)
            return -1;
        s->clipboard = (enum pool_clip)v;
        return 0;
    }
    if (strcmp(key, "clipboard_max") == 0) {
        if (pt_parse_i64(value, 0, POOL_CLIPBOARD_MAX_CAP, &n) < 0)
            return pt_err_set(err, PT_E_INVALID,
                              "clipboard_max must be a number of bytes from 0 (the gateway's "
                              "limit) to %d, not '%s'",
                              POOL_CLIPBOARD_MAX_CAP, value);
        s->clipboard_max = (int)n;
        return 0;
    }
    if (strcmp(key, "audio") == 0) {
        if (strcmp(value, "yes") == 0 || strcmp(value, "true") == 0)
            s->audio = true;
        else if (strcmp(value, "no") == 0 || strcmp(value, "false") == 0)
            s->audio = false;
        else
            return pt_err_set(err, PT_E_INVALID, "audio must be yes or no, not '%s'", value);
        return 0;
    }
    return 1;
}

int
pool_spec_check_rdp(const struct pool_spec *s, struct pt_err *err)
{
    if (s->rdp_credentials != POOL_RDP_CREDS_NONE && !(s->protocols & POOL_PROTO_RDP))
        return pt_err_set(err, PT_E_INVALID,
                          "pool '%s': rdp_credentials = %s needs rdp in protocols", s->name,
                          pool_rdp_creds_str(s->rdp_credentials));
    if (s->rdp_credentials == POOL_RDP_CREDS_FIXED && (!s->rdp_username || !s->rdp_password_file))
        return pt_err_set(err, PT_E_INVALID,
                          "pool '%s': rdp_credentials = fixed needs rdp_username and "
                          "rdp_password_file",
                          s->name);
    if (s->rdp_credentials != POOL_RDP_CREDS_FIXED && (s->rdp_username || s->rdp_password_file))
        return pt_err_set(err, PT_E_INVALID,
                          "pool '%s': rdp_username and rdp_password_file are used only with "
                          "rdp_credentials = fixed (it is %s)",
                          s->name, pool_rdp_creds_str(s->rdp_credentials));
    return 0;
}

void
pool_spec_format_rdp(const struct pool_spec *s, struct pt_buf *b)
{
    if (s->rdp_credentials != POOL_RDP_CREDS_NONE)
        pt_buf_appendf(b, "rdp_credentials = %s\n", pool_rdp_creds_str(s->rdp_credentials));
    if (s->rdp_username)
        pt_buf_appendf(b, "rdp_username = %s\n", s->rdp_username);
    if (s->rdp_domain)
        pt_buf_appendf(b, "rdp_domain = %s\n", s->rdp_domain);
    if (s->rdp_password_file)
        pt_buf_appendf(b, "rdp_password_file = %s\n", s->rdp_password_file);
    pt_buf_appendf(b, "clipboard = %s\nclipboard_max = %d\naudio = %s\n",
                   pool_clip_str(s->clipboard), s->clipboard_max, s->audio ? "yes" : "no");
}
