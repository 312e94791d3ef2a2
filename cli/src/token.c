/*
 * token.c - the saved sign-in: broker URL, trust settings, session cookie and CSRF token,
 * as a small JSON file readable only by its owner (mode 0600 in a 0700 directory). A file
 * someone else can read is refused, since it is as good as the user's session.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "common/mem.h"

const char *
cli_token_path(void)
{
    static char path[1024];
    const char *f = getenv("PORTICO_TOKEN_FILE");
    const char *xdg = getenv("XDG_CONFIG_HOME");
    const char *home = getenv("HOME");

    if (f && f[0])
        snprintf(path, sizeof(path), "%s", f);
    else if (xdg && xdg[0])
        snprintf(path, sizeof(path), "%s/portico/token", xdg);
    else
        snprintf(path, sizeof(path), "%s/.config/portico/token", home ? home : ".");
    return path;
}

static void
copy(json_t *o, const char *k, char *out, size_t n)
{
    const char *v = json_string_value(json_object_get(o, k));

    if (v)
        snprintf(out, n, "%s", v);
}

int
cli_token_load(struct cli_conf *c, struct pt_err *err)
{
    const char *path = cli_token_path();
    struct stat st;
    json_error_t je;
    json_t *j;

    if (stat(path, &st) < 0)
        return pt_err_set(err, PT_E_AUTH, "not signed in (no %s): run porticoctl login", path);
    if (st.st_mode & 0077)
        return pt_err_set(err, PT_E_FORBIDDEN, "%s is readable by others: chmod 600 it", path);
    j = json_load_file(path, 0, &je);
    if (!j)
        return pt_err_set(err, PT_E_INVALID, "%s: %s; run porticoctl login again", path, je.text);
    copy(j, "url", c->url, sizeof(c->url));
    copy(j, "ca", c->ca, sizeof(c->ca));
    copy(j, "cookie", c->cookie, sizeof(c->cookie));
    copy(j, "csrf", c->csrf, sizeof(c->csrf));
    copy(j, "user", c->user, sizeof(c->user));
    c->insecure = json_is_true(json_object_get(j, "insecure"));
    json_decref(j);
    return 0;
}

static int
mkdirs(const char *path)
{
    char dir[1024];

    snprintf(dir, sizeof(dir), "%s", path);
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return 0;
}

int
cli_token_save(const struct cli_conf *c, struct pt_err *err)
{
    const char *path = cli_token_path();
    char tmp[1100];
    json_t *j;
    char *s;
    int fd, rc = -1;

    if (mkdirs(path) < 0)
        return pt_err_set(err, PT_E_IO, "cannot create the directory of %s: %s", path,
                          strerror(errno));
    j = json_pack("{s:s,s:s,s:b,s:s,s:s,s:s}", "url", c->url, "ca", c->ca, "insecure", c->insecure,
                  "cookie", c->cookie, "csrf", c->csrf, "user", c->user);
    s = json_dumps(j, JSON_INDENT(2));
    json_decref(j);
    snprintf(tmp, sizeof(tmp), "%s.%d", path, (int)getpid());
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        pt_err_set(err, PT_E_IO, "cannot write %s: %s", tmp, strerror(errno));
        goto out;
    }
    if (write(fd, s, strlen(s)) != (ssize_t)strlen(s) || fchmod(fd, 0600) < 0 ||
        rename(tmp, path) < 0) {
        pt_err_set(err, PT_E_IO, "cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
        goto out;
    }
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    pt_free_secret(s);
    return rc;
}

int
cli_token_remove(void)
{
    return unlink(cli_token_path());
}
