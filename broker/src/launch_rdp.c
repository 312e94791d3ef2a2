/*
 * launch_rdp.c - the RDP part of a launch: the credentials the gateway presents to the
 * desktop and the pool's session policy, both carried in the ticket.
 *
 * Three steps, split by thread: prepare (loop: copy what the pool says, open the single
 * sign-on password kept sealed in the session with the request's cookie), load (worker:
 * read the fixed password file, which may block), seal (loop: "user\npassword[\ndomain]"
 * sealed for the gateway with the ticket id as associated data, and the policy claims).
 * Every copy of a password lives in struct broker_rdp_launch and is wiped by
 * broker_rdp_launch_wipe(); none is logged.
 *
 * The password file is trusted only if it lies directly in [broker] rdp_password_dir (a
 * directory owned by the broker's user that group and others cannot write), is a regular
 * file (not a link) owned by the broker's user and not readable or writable by group or
 * others (like ssh's private keys), one line of at most AUTH_SESSION_PW_MAX bytes (a
 * trailing newline is dropped). The directory rule keeps a pool admin from pointing a
 * pool at any other secret the broker can read (its gateway secret, a key) and having it
 * sent to a desktop they control; the one-line rule is a second fence for PEM keys.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app_priv.h"
#include "common/mem.h"
#include "common/str.h"

#ifdef PORTICO_HAVE_POOL
#include "launch_rdp.h"

static enum auth_clip_dir
clip_of(enum pool_clip c)
{
    switch (c) {
    case POOL_CLIP_BOTH:
        return AUTH_CLIP_BOTH;
    case POOL_CLIP_TO_DESKTOP:
        return AUTH_CLIP_TO_DESKTOP;
    case POOL_CLIP_FROM_DESKTOP:
        return AUTH_CLIP_FROM_DESKTOP;
    case POOL_CLIP_NONE:
        return AUTH_CLIP_NONE;
    }
    return AUTH_CLIP_NONE; /* unknown: the strictest */
}

int
broker_rdp_launch_prepare(struct broker_rdp_launch *l, const struct pool_spec *spec,
                          const struct broker_sess *s, struct pt_err *err)
{
    struct pt_err perr = {0};

    memset(l, 0, sizeof(*l));
    pt_strlcpy(l->pool, spec->name, sizeof(l->pool));
    l->mode = spec->rdp_credentials;
    l->clip = clip_of(spec->clipboard);
    l->clip_max = (uint32_t)spec->clipboard_max;
    l->audio = spec->audio;
    if (spec->rdp_domain)
        pt_strlcpy(l->domain, spec->rdp_domain, sizeof(l->domain));
    if (l->mode == POOL_RDP_CREDS_FIXED) {
        pt_strlcpy(l->user, spec->rdp_username ? spec->rdp_username : "", sizeof(l->user));
        pt_strlcpy(l->pw_file, spec->rdp_password_file ? spec->rdp_password_file : "",
                   sizeof(l->pw_file));
    } else if (l->mode == POOL_RDP_CREDS_SSO) {
        pt_strlcpy(l->user, s->a.sso_user[0] ? s->a.sso_user : s->a.user, sizeof(l->user));
        if (auth_session_password(s->token, &s->a, l->password, sizeof(l->password), &perr) < 0) {
            broker_rdp_launch_wipe(l);
            l->sso_missing = true;
            return pt_err_set(err, PT_E_AUTH,
                              "pool %s signs you in to its desktop with your own password, "
                              "which this session does not hold (%s); sign in again",
                              spec->name, perr.msg);
        }
    }
    return 0;
}

/* Open @path's file if it lies directly in @dir, a directory only the broker's user can
 * change. Returns the fd, or -1 with @why. */
static int
open_in_dir(const char *path, const char *dir, char *why, size_t whyn)
{
    const char *base = strrchr(path, '/');
    size_t dlen = strlen(dir);
    struct stat st;
    int dfd, fd;

    while (dlen > 1 && dir[dlen - 1] == '/')
        dlen--;
    if (!base || (size_t)(base - path) != dlen || strncmp(path, dir, dlen) != 0 || !base[1] ||
        !strcmp(base + 1, ".") || !strcmp(base + 1, "..")) {
        snprintf(why, whyn, "it is not a file directly in rdp_password_dir");
        return -1;
    }
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        snprintf(why, whyn, "rdp_password_dir cannot be opened: %s", strerror(errno));
        return -1;
    }
    if (fstat(dfd, &st) < 0 || st.st_uid != geteuid() || (st.st_mode & 022)) {
        snprintf(why, whyn,
                 "rdp_password_dir must be owned by the broker's user and not "
                 "writable by group or others");
        close(dfd);
        return -1;
    }
    fd = openat(dfd, base + 1, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0)
        snprintf(why, whyn, "cannot open it: %s", strerror(errno));
    close(dfd);
    return fd;
}

/* read_pw_file() - the checks in the header comment; @why says what is wrong. */
static int
read_pw_file(const char *path, const char *dir, char *out, size_t cap, char *why, size_t whyn)
{
    char buf[AUTH_SESSION_PW_MAX + 3];
    struct stat st;
    ssize_t n;
    int fd, rc = -1;

    fd = open_in_dir(path, dir, why, whyn);
    if (fd < 0)
        return -1;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        snprintf(why, whyn, "it is not a regular file");
        goto out;
    }
    if (st.st_uid != geteuid()) {
        snprintf(why, whyn, "it is owned by uid %u, not by the broker's user (uid %u)",
                 (unsigned)st.st_uid, (unsigned)geteuid());
        goto out;
    }
    if (st.st_mode & 077) {
        snprintf(why, whyn, "its mode %03o lets group or others access it (chmod 600)",
                 (unsigned)(st.st_mode & 0777));
        goto out;
    }
    n = read(fd, buf, sizeof(buf) - 1);
    if (n < 0) {
        snprintf(why, whyn, "cannot read it: %s", strerror(errno));
        goto out;
    }
    buf[n] = '\0';
    if (n > 0 && buf[n - 1] == '\n')
        buf[--n] = '\0';
    if (n > 0 && buf[n - 1] == '\r')
        buf[--n] = '\0';
    if (n == 0) {
        snprintf(why, whyn, "it is empty");
        goto out;
    }
    if ((size_t)n > AUTH_SESSION_PW_MAX || (size_t)n >= cap) {
        snprintf(why, whyn, "it is longer than one line of at most %d bytes", AUTH_SESSION_PW_MAX);
        goto out;
    }
    for (ssize_t i = 0; i < n; i++) {
        if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f) {
            snprintf(why, whyn,
                     "it must hold the password alone on one line (no control "
                     "characters or further lines)");
            goto out;
        }
    }
    memcpy(out, buf, (size_t)n + 1);
    rc = 0;
out:
    pt_wipe(buf, sizeof(buf));
    close(fd);
    return rc;
}

int
broker_rdp_launch_load(struct broker_rdp_launch *l, const char *pw_dir, struct pt_err *err)
{
    char why[200];

    if (l->mode != POOL_RDP_CREDS_FIXED)
        return 0;
    if (read_pw_file(l->pw_file, pw_dir, l->password, sizeof(l->password), why, sizeof(why)) < 0) {
        pt_log(LOG_ERR,
               "event=rdp_password_file_refused pool=%s path=%s rdp_password_dir=%s "
               "reason=\"%s\"",
               l->pool, l->pw_file, pw_dir, why);
        return pt_err_set(err, PT_E_UNAVAILABLE,
                          "pool %s cannot sign in to its desktops: its RDP password file is "
                          "missing or refused (%s). An administrator must fix rdp_password_file "
                          "(a file owned by the broker's user, mode 600, holding the password "
                          "on one line)",
                          l->pool, why);
    }
    return 0;
}

int
broker_rdp_launch_seal(const struct broker_rdp_launch *l, const struct auth_sealer *sealer,
                       struct auth_ticket_claims *tc, struct pt_err *err)
{
    char secret[AUTH_SECRET_MAX + 2];
    size_t need, n;
    int rc = -1;

    tc->clip_dir = l->clip;
    tc->clip_max = l->clip_max;
    tc->audio = l->audio;
    if (l->mode == POOL_RDP_CREDS_NONE)
        return 0;
    if (!sealer)
        return pt_err_set(err, PT_E_UNAVAILABLE,
                          "pool %s passes credentials to its desktops, but this broker has no "
                          "gateway_seal_key_file to seal them with; an administrator must set it "
                          "in [broker]",
                          l->pool);
    need = strlen(l->user) + 1 + strlen(l->password) + (l->domain[0] ? 1 + strlen(l->domain) : 0);
    if (need > AUTH_SECRET_MAX)
        return pt_err_set(err, PT_E_LIMIT,
                          "the RDP credentials of pool %s take %zu bytes (user, password and "
                          "domain); at most %d fit in a ticket: shorten the user name or domain",
                          l->pool, need, AUTH_SECRET_MAX);
    n = strlen(l->user);
    memcpy(secret, l->user, n);
    secret[n++] = '\n';
    memcpy(secret + n, l->password, strlen(l->password));
    n += strlen(l->password);
    if (l->domain[0]) {
        secret[n++] = '\n';
        memcpy(secret + n, l->domain, strlen(l->domain));
        n += strlen(l->domain);
    }
    secret[n] = '\0';
    rc = auth_ticket_seal_secret(sealer, tc, secret, err);
    pt_wipe(secret, sizeof(secret));
    return rc;
}

void
broker_rdp_launch_wipe(struct broker_rdp_launch *l)
{
    pt_wipe(l->password, sizeof(l->password));
}

#else
typedef int broker_launch_rdp_unused; /* ISO C: no empty translation unit */
#endif
