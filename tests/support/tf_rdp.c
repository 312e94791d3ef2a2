/*
 * tf_rdp.c - display servers for the gateway tests (LAB.md section 2): Xvfb +
 * freerdp-shadow-cli (RDP without login, showing the Xvfb screen), xrdp fronting a VNC
 * server (RDP -> VNC, any credentials with AutoLogon), and a bare tigervnc Xvnc.
 *
 * X servers pick their own free display with -displayfd (no guessing of :N, no races
 * with other tests' X servers); RDP/VNC ports come from tf_free_port() and a start is
 * retried on fresh ports if another process took the port in between.
 *
 * xrdp runs with --nodaemon and a generated ini (keymaps and rsakeys still come from
 * /etc/xrdp) and fork=false, so every connection is a thread of the pid we hold and
 * PR_SET_PDEATHSIG covers it. Its compiled-in pid file /run/xrdp/xrdp.pid is only
 * written when it daemonizes, so parallel instances do not collide.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/mem.h"
#include "common/str.h"
#include "tf_priv.h"
#include "tsupport/fixture.h"

struct tf_rdp {
    struct tf_proc xserver; /* Xvfb for shadow; unused for xrdp */
    struct tf_proc server;  /* freerdp-shadow-cli or xrdp */
    char display[16];
    char *dir;
    int port;
};

/*
 * Start an X server (@argv must hold "-displayfd" "3") and read the display number it
 * picked. Returns 0 with @display set to ":N", or -1 with @err.
 */
static int
xserver_start(struct tf_proc *p, const char *name, char *const argv[], char *display, size_t n,
              int timeout_ms, struct pt_err *err)
{
    int fds[2];
    char buf[32];
    size_t got = 0;
    int64_t deadline = pt_time_mono_ms() + timeout_ms;

    if (pipe2(fds, O_CLOEXEC) < 0)
        return pt_err_set(err, PT_E_IO, "pipe: %s", strerror(errno));
    if (tf_proc_spawn_fd(p, name, argv, NULL, fds[1], err) < 0) {
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    close(fds[1]);
    while (got < sizeof(buf) - 1 && !memchr(buf, '\n', got)) {
        struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
        int left = (int)(deadline - pt_time_mono_ms());
        ssize_t r;

        if (left <= 0 || poll(&pfd, 1, left) <= 0)
            break;
        r = read(fds[0], buf + got, sizeof(buf) - 1 - got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fds[0]);
    buf[got] = '\0';
    if (!memchr(buf, '\n', got)) {
        tf_proc_print_log(p, 30);
        tf_proc_stop(p, 0);
        return pt_err_set(err, PT_E_TIMEOUT, "%s did not report its display within %d ms", name,
                          timeout_ms);
    }
    snprintf(display, n, ":%d", atoi(buf));
    return 0;
}

static void
rdp_free(struct tf_rdp *r)
{
    free(r->dir);
    free(r);
}

void
tf_rdp_stop(struct tf_rdp *r)
{
    if (!r)
        return;
    tf_proc_stop(&r->server, 500);
    tf_proc_stop(&r->xserver, 500);
    rdp_free(r);
}

int
tf_rdp_port(const struct tf_rdp *r)
{
    return r->port;
}

const char *
tf_rdp_display(const struct tf_rdp *r)
{
    return r->display[0] ? r->display : NULL;
}

/* Copy @src to @dst (small files). */
static int
file_copy(const char *src, const char *dst, int mode, struct pt_err *err)
{
    char buf[8192];
    FILE *in = fopen(src, "re"), *out;
    size_t n;

    if (!in)
        return pt_err_set(err, PT_E_IO, "cannot read %s: %s", src, strerror(errno));
    out = fopen(dst, "we");
    if (!out) {
        fclose(in);
        return pt_err_set(err, PT_E_IO, "cannot create %s: %s", dst, strerror(errno));
    }
    while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
        fwrite(buf, 1, n, out);
    fclose(in);
    if (fclose(out) != 0)
        return pt_err_set(err, PT_E_IO, "cannot write %s: %s", dst, strerror(errno));
    chmod(dst, (mode_t)mode);
    return 0;
}

/*
 * freerdp-shadow makes an RSA 2048 certificate in $HOME/.config/freerdp/shadow on first
 * start, 0.6 s of the fixture's start. Make one per machine in $PORTICO_STATE (renamed
 * into place, so parallel tests never see half of it) and copy it into @home.
 */
static int
shadow_cert_seed(const char *home, struct pt_err *err)
{
    char cache[600], tmp[700], hex[9], crt[800], key[800], dst[800];
    PT_AUTOFREE char *cmd = NULL;

    snprintf(cache, sizeof(cache), "%s/shadow-cert", tf_state_dir());
    snprintf(crt, sizeof(crt), "%s/shadow.crt", cache);
    snprintf(key, sizeof(key), "%s/shadow.key", cache);
    if (access(crt, R_OK) != 0 || access(key, R_OK) != 0) {
        tf_random_hex(hex, sizeof(hex));
        snprintf(tmp, sizeof(tmp), "%s.%s", cache, hex);
        if (tf_mkdir_p(tmp, err) < 0)
            return -1;
        cmd = pt_xasprintf("cd '%s' && openssl req -x509 -nodes -newkey rsa:2048 -days 3650 "
                           "-subj /CN=127.0.0.1 -keyout shadow.key -out shadow.crt",
                           tmp);
        {
            char *sh[] = {(char *)"sh", (char *)"-c", cmd, NULL};

            if (tf_run("openssl", sh, NULL, 30000, err) < 0)
                return -1;
        }
        /* the first one to rename wins; a loser's copy is just removed */
        if (rename(tmp, cache) < 0) {
            snprintf(dst, sizeof(dst), "%s/shadow.crt", tmp);
            unlink(dst);
            snprintf(dst, sizeof(dst), "%s/shadow.key", tmp);
            unlink(dst);
            rmdir(tmp);
        }
    }
    snprintf(dst, sizeof(dst), "%s/.config/freerdp/shadow", home);
    if (tf_mkdir_p(dst, err) < 0)
        return -1;
    snprintf(dst, sizeof(dst), "%s/.config/freerdp/shadow/shadow.crt", home);
    if (file_copy(crt, dst, 0644, err) < 0)
        return -1;
    snprintf(dst, sizeof(dst), "%s/.config/freerdp/shadow/shadow.key", home);
    return file_copy(key, dst, 0600, err);
}

/* Wait for @p to listen on @port; on failure tell whether the port was taken meanwhile
 * (PT_E_CONFLICT: retry on another port). */
static int
wait_listen(struct tf_proc *p, int port, int timeout_ms, const char *busy_text, struct pt_err *err)
{
    if (tf_proc_wait_ready(p, port, timeout_ms, err) == 0)
        return 0;
    if (!tf_proc_alive(p) && tf_file_contains(p->log_path, busy_text))
        err->code = PT_E_CONFLICT;
    tf_proc_stop(p, 0);
    return -1;
}

struct tf_rdp *
tf_rdp_shadow_start(int width, int height, struct pt_err *err)
{
    struct tf_rdp *r = pt_xcalloc(1, sizeof(*r));
    struct pt_err local = {0};
    char screen[64], home[600], disp_env[64], port_arg[32];
    char *xargv[] = {
        (char *)"Xvfb", (char *)"-displayfd", (char *)"3",   (char *)"-screen",  (char *)"0",
        screen,         (char *)"-nolisten",  (char *)"tcp", (char *)"-noreset", NULL};
    char *sargv[] = {(char *)"freerdp-shadow-cli", (char *)"/bind-address:127.0.0.1", port_arg,
                     (char *)"-auth", NULL};
    char *senv[8];
    int rc = -1;

    if (!err)
        err = &local;
    if (width < 64 || height < 64 || width > 8192 || height > 8192) {
        pt_err_set(err, PT_E_INVALID, "shadow: %dx%d is not a sane screen size", width, height);
        goto out;
    }
    if (tf_need(err, "Xvfb", "xvfb") < 0 ||
        tf_need(err, "freerdp-shadow-cli", "freerdp2-shadow-x11") < 0)
        goto out;
    r->dir = tf_subdir("shadow", err);
    if (!r->dir)
        goto out;
    snprintf(screen, sizeof(screen), "%dx%dx24", width, height);
    if (xserver_start(&r->xserver, "xvfb", xargv, r->display, sizeof(r->display), 10000, err) < 0)
        goto out;
    if (shadow_cert_seed(r->dir, err) < 0)
        goto out;
    snprintf(home, sizeof(home), "HOME=%s", r->dir);
    snprintf(disp_env, sizeof(disp_env), "DISPLAY=%s", r->display);
    senv[0] = home;
    senv[1] = disp_env;
    senv[2] = (char *)"PATH=/usr/local/bin:/usr/bin:/bin";
    senv[3] = (char *)"WLOG_LEVEL=WARN";
    senv[4] = NULL;
    for (int attempt = 0; attempt < 3; attempt++) {
        pt_err_clear(err);
        r->port = tf_free_port();
        snprintf(port_arg, sizeof(port_arg), "/port:%d", r->port);
        if (tf_proc_spawn(&r->server, "freerdp-shadow", sargv, senv, err) < 0)
            goto out;
        if (wait_listen(&r->server, r->port, 15000, "Address already in use", err) == 0) {
            rc = 0;
            break;
        }
        if (err->code != PT_E_CONFLICT)
            break;
    }
out:
    if (rc < 0) {
        pt_err_prefix(err, "freerdp-shadow fixture");
        tf_rdp_stop(r);
        return NULL;
    }
    return r;
}

int
tf_xrdp_ini_write(const char *path, const char *dir, int rdp_port, int vnc_port,
                  const char *vnc_password, bool channels, struct pt_err *err)
{
    PT_AUTOFREE char *tmpl = pt_xasprintf("%s/scripts/fixtures/xrdp-vnc.ini.in", tf_source_dir());
    struct pt_buf out = PT_BUF_INIT;
    char line[1024], num[2][16];
    FILE *f = fopen(tmpl, "r");
    int rc;

    if (!f)
        return pt_err_set(err, PT_E_IO, "cannot read %s", tmpl);
    snprintf(num[0], sizeof(num[0]), "%d", rdp_port);
    snprintf(num[1], sizeof(num[1]), "%d", vnc_port);
    while (fgets(line, sizeof(line), f)) {
        const struct {
            const char *key, *value;
        } subst[] = {{"@RDP_PORT@", num[0]},
                     {"@VNC_PORT@", num[1]},
                     {"@DIR@", dir},
                     {"@VNC_PASSWORD@", vnc_password ? vnc_password : ""},
                     {"@CHANNELS@", channels ? "true" : "false"}};
        const char *p = line;

        if (line[0] == ';')
            continue; /* the template's own comments */
        while (*p) {
            size_t k = 0;

            for (; k < sizeof(subst) / sizeof(subst[0]); k++)
                if (strncmp(p, subst[k].key, strlen(subst[k].key)) == 0)
                    break;
            if (k < sizeof(subst) / sizeof(subst[0])) {
                pt_buf_appends(&out, subst[k].value);
                p += strlen(subst[k].key);
            } else {
                pt_buf_append(&out, p++, 1);
            }
        }
    }
    fclose(f);
    pt_buf_append(&out, "", 0);
    rc = tf_file_write(path, out.data, 0600, err);
    pt_buf_fini(&out);
    return rc;
}

struct tf_rdp *
tf_rdp_xrdp_vnc_start(int vnc_port, struct pt_err *err)
{
    struct tf_rdp *r = pt_xcalloc(1, sizeof(*r));
    struct pt_err local = {0};
    PT_AUTOFREE char *ini = NULL;
    PT_AUTOFREE char *certcmd = NULL;
    char *argv[] = {(char *)"xrdp", (char *)"--nodaemon", (char *)"--config", NULL, NULL};
    int rc = -1;

    if (!err)
        err = &local;
    if (vnc_port <= 0 || vnc_port > 65535) {
        pt_err_set(err, PT_E_INVALID, "xrdp: VNC port %d is out of range", vnc_port);
        goto out;
    }
    if (tf_need(err, "xrdp", "xrdp") < 0 || tf_need(err, "openssl", "openssl") < 0)
        goto out;
    r->dir = tf_subdir("xrdp", err);
    if (!r->dir || tf_mkdir_p("/run/xrdp/sockdir", err) < 0)
        goto out;
    certcmd = pt_xasprintf("cd '%s' && openssl req -x509 -nodes -newkey ec -pkeyopt "
                           "ec_paramgen_curve:P-256 -days 2 -subj /CN=127.0.0.1 "
                           "-keyout key.pem -out cert.pem",
                           r->dir);
    {
        char *sh[] = {(char *)"sh", (char *)"-c", certcmd, NULL};

        if (tf_run("openssl", sh, NULL, 30000, err) < 0)
            goto out;
    }
    ini = pt_xasprintf("%s/xrdp.ini", r->dir);
    argv[3] = ini;
    for (int attempt = 0; attempt < 3; attempt++) {
        pt_err_clear(err);
        r->port = tf_free_port();
        if (tf_xrdp_ini_write(ini, r->dir, r->port, vnc_port, NULL, true, err) < 0 ||
            tf_proc_spawn(&r->server, "xrdp", argv, NULL, err) < 0)
            goto out;
        if (wait_listen(&r->server, r->port, 10000, "in use", err) == 0) {
            rc = 0;
            break;
        }
        if (err->code != PT_E_CONFLICT)
            break;
    }
out:
    if (rc < 0) {
        pt_err_prefix(err, "xrdp fixture");
        tf_rdp_stop(r);
        return NULL;
    }
    return r;
}

/* The display of each running Xvnc, by pid: struct tf_proc has no room for it. */
static struct {
    pid_t pid;
    char display[16];
} xvncs[32];

const char *
tf_xvnc_display(const struct tf_proc *p)
{
    for (int i = 0; p && i < 32; i++)
        if (xvncs[i].pid == p->pid && p->pid > 0)
            return xvncs[i].display;
    return NULL;
}

struct tf_proc *
tf_xvnc_start(int width, int height, int *port, struct pt_err *err)
{
    struct tf_proc *p = pt_xcalloc(1, sizeof(*p));
    struct pt_err local = {0};
    char geometry[32], rfbport[16], display[16];
    char *argv[] = {(char *)"Xvnc",
                    (char *)"-displayfd",
                    (char *)"3",
                    (char *)"-geometry",
                    geometry,
                    (char *)"-depth",
                    (char *)"24",
                    (char *)"-rfbport",
                    rfbport,
                    (char *)"-localhost",
                    (char *)"-SecurityTypes",
                    (char *)"None",
                    (char *)"-nolisten",
                    (char *)"tcp",
                    (char *)"-noreset",
                    NULL};
    int rc = -1;

    if (!err)
        err = &local;
    if (width < 64 || height < 64 || width > 8192 || height > 8192) {
        pt_err_set(err, PT_E_INVALID, "Xvnc: %dx%d is not a sane screen size", width, height);
        goto out;
    }
    if (tf_need(err, "Xvnc", "tigervnc-standalone-server") < 0)
        goto out;
    snprintf(geometry, sizeof(geometry), "%dx%d", width, height);
    for (int attempt = 0; attempt < 3; attempt++) {
        int vport = tf_free_port();

        pt_err_clear(err);
        snprintf(rfbport, sizeof(rfbport), "%d", vport);
        if (xserver_start(p, "xvnc", argv, display, sizeof(display), 10000, err) < 0)
            goto out;
        if (wait_listen(p, vport, 10000, "in use", err) == 0) {
            if (port)
                *port = vport;
            for (int i = 0; i < 32; i++) {
                if (xvncs[i].pid == 0 || !tf_proc_alive(&(struct tf_proc){.pid = xvncs[i].pid})) {
                    xvncs[i].pid = p->pid;
                    pt_strlcpy(xvncs[i].display, display, sizeof(xvncs[i].display));
                    break;
                }
            }
            rc = 0;
            break;
        }
        if (err->code != PT_E_CONFLICT)
            break;
    }
out:
    if (rc < 0) {
        pt_err_prefix(err, "Xvnc fixture");
        tf_proc_stop(p, 0);
        free(p);
        return NULL;
    }
    return p;
}

void
tf_xvnc_stop(struct tf_proc *p)
{
    if (!p)
        return;
    for (int i = 0; i < 32; i++)
        if (xvncs[i].pid == p->pid)
            xvncs[i].pid = 0;
    tf_proc_stop(p, 500);
    free(p);
}
