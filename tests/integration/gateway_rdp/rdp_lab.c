/*
 * rdp_lab.c - RDP endpoints for the backend's tests over tsupport's fixtures, and X
 * clients run against their display (see rdp_lab.h).
 */
#include "rdp_lab.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/mem.h"
#include "common/str.h"

int
lab_shadow_start(struct lab_shadow *s, int w, int h, struct pt_err *err)
{
    memset(s, 0, sizeof(*s));
    s->rdp = tf_rdp_shadow_start(w, h, err);
    if (!s->rdp)
        return -1;
    s->port = tf_rdp_port(s->rdp);
    pt_strlcpy(s->display_str, tf_rdp_display(s->rdp), sizeof(s->display_str));
    return 0;
}

int
lab_xrdp_start(struct lab_shadow *s, int w, int h, struct pt_err *err)
{
    int vnc_port = 0;

    memset(s, 0, sizeof(*s));
    s->xvnc = tf_xvnc_start(w, h, &vnc_port, err);
    if (!s->xvnc)
        return -1;
    s->rdp = tf_rdp_xrdp_vnc_start(vnc_port, err);
    if (!s->rdp) {
        tf_xvnc_stop(s->xvnc);
        s->xvnc = NULL;
        return -1;
    }
    s->port = tf_rdp_port(s->rdp);
    pt_strlcpy(s->display_str, tf_xvnc_display(s->xvnc), sizeof(s->display_str));
    return 0;
}

static int
run_to_file(char *const argv[], const char *out_path)
{
    pid_t pid = fork();
    int st = 0;

    if (pid == 0) {
        int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0)
            dup2(fd, 1);
        execvp(argv[0], argv);
        _exit(127);
    }
    if (pid < 0 || waitpid(pid, &st, 0) < 0)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int
lab_shadow_nla_start(struct lab_shadow *s, int w, int h, const char *user, const char *password,
                     struct pt_err *err)
{
    char geom[32], sock[64], lock[64], port[32], sam[600], samarg[640], home[512];
    char homeenv[600], dispenv[40];
    int n;

    memset(s, 0, sizeof(*s));
    snprintf(sam, sizeof(sam), "%s/sam-%d.txt", tf_tmpdir(), getpid());
    {
        char *hargv[] = {"winpr-hash",     "-u", (char *)user, "-p",
                         (char *)password, "-f", "sam",        NULL};
        if (run_to_file(hargv, sam) != 0)
            return pt_err_set(err, PT_E_UNAVAILABLE, "winpr-hash failed (package winpr-utils)");
    }
    /* a display nobody uses: no lock file and no socket */
    for (n = 600 + getpid() % 300;; n++) {
        snprintf(lock, sizeof(lock), "/tmp/.X%d-lock", n);
        snprintf(sock, sizeof(sock), "/tmp/.X11-unix/X%d", n);
        if (access(lock, F_OK) != 0 && access(sock, F_OK) != 0)
            break;
    }
    snprintf(s->display_str, sizeof(s->display_str), ":%d", n);
    snprintf(geom, sizeof(geom), "%dx%dx24", w, h);
    {
        char *xargv[] = {"Xvfb",      s->display_str, "-screen",  "0", geom,
                         "-nolisten", "tcp",          "-noreset", NULL};
        if (tf_proc_spawn(&s->xvfb, "xvfb-nla", xargv, NULL, err) < 0)
            return -1;
    }
    for (int i = 0; access(sock, F_OK) != 0; i++) {
        if (i > 250 || !tf_proc_alive(&s->xvfb)) {
            lab_shadow_stop(s);
            return pt_err_set(err, PT_E_TIMEOUT, "Xvfb %s did not start", s->display_str);
        }
        usleep(20000);
    }
    s->port = tf_free_port();
    snprintf(port, sizeof(port), "/port:%d", s->port);
    snprintf(samarg, sizeof(samarg), "/sam-file:%s", sam);
    snprintf(home, sizeof(home), "%s/shadow-nla-home-%d", tf_tmpdir(), n);
    mkdir(home, 0700);
    snprintf(homeenv, sizeof(homeenv), "HOME=%s", home);
    snprintf(dispenv, sizeof(dispenv), "DISPLAY=%s", s->display_str);
    {
        char *sargv[] = {
            "freerdp-shadow-cli", "/bind-address:127.0.0.1", port, "/sec:nla", samarg, NULL};
        char *envp[] = {homeenv, dispenv, "PATH=/usr/bin:/bin", NULL};
        if (tf_proc_spawn(&s->shadow, "shadow-nla", sargv, envp, err) < 0) {
            lab_shadow_stop(s);
            return -1;
        }
    }
    if (tf_wait_port(s->port, 10000) < 0) {
        lab_shadow_stop(s);
        return pt_err_set(err, PT_E_TIMEOUT, "NLA shadow did not listen on %d", s->port);
    }
    return 0;
}

int
lab_xrdp_strict_start(struct lab_shadow *s, int w, int h, struct pt_err *err)
{
    int vnc_port = 0, n = getpid();
    char dir[512], cmd[1200], ini_path[600];
    char *argv[] = {"xrdp", "--nodaemon", "--config", ini_path, NULL};

    memset(s, 0, sizeof(*s));
    s->xvnc = tf_xvnc_start(w, h, &vnc_port, err);
    if (!s->xvnc)
        return -1;
    snprintf(dir, sizeof(dir), "%s/xrdp-strict-%d-%d", tf_tmpdir(), n, vnc_port);
    mkdir(dir, 0700);
    mkdir("/run/xrdp", 0755);
    mkdir("/run/xrdp/sockdir", 01777);
    snprintf(cmd, sizeof(cmd),
             "cd '%s' && openssl req -x509 -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
             "-days 2 -subj /CN=127.0.0.1 -keyout key.pem -out cert.pem 2>/dev/null",
             dir);
    if (system(cmd) != 0) {
        lab_shadow_stop(s);
        return pt_err_set(err, PT_E_IO, "openssl could not make xrdp's certificate");
    }
    s->port = tf_free_port();
    snprintf(ini_path, sizeof(ini_path), "%s/xrdp.ini", dir);
    /* allow_channels=false: xrdp then joins no channel at all */
    if (tf_xrdp_ini_write(ini_path, dir, s->port, vnc_port, NULL, false, err) < 0) {
        lab_shadow_stop(s);
        return -1;
    }
    if (tf_proc_spawn(&s->shadow, "xrdp-strict", argv, NULL, err) < 0) {
        lab_shadow_stop(s);
        return -1;
    }
    if (tf_wait_port(s->port, 10000) < 0) {
        lab_shadow_stop(s);
        return pt_err_set(err, PT_E_TIMEOUT, "xrdp (no channels) did not listen on %d", s->port);
    }
    pt_strlcpy(s->display_str, tf_xvnc_display(s->xvnc), sizeof(s->display_str));
    return 0;
}

void
lab_shadow_stop(struct lab_shadow *s)
{
    tf_proc_stop(&s->shadow, 2000);
    tf_proc_stop(&s->xvfb, 2000);
    tf_rdp_stop(s->rdp);
    s->rdp = NULL;
    tf_xvnc_stop(s->xvnc);
    s->xvnc = NULL;
}

int
lab_x(const struct lab_shadow *s, const char *out_path, char *const argv[])
{
    pid_t pid = fork();
    int st = 0;

    if (pid == 0) {
        int fd = open(out_path ? out_path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        setenv("DISPLAY", s->display_str, 1);
        execvp(argv[0], argv);
        _exit(127);
    }
    if (pid < 0 || waitpid(pid, &st, 0) < 0)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int
lab_clip_copy(const struct lab_shadow *s, const char *text)
{
    char *cmd = pt_xasprintf("printf '%%s' '%s' | xclip -selection clipboard -i", text);
    char *argv[] = {"sh", "-c", cmd, NULL};
    int rc = lab_x(s, NULL, argv);

    free(cmd);
    return rc;
}

char *
lab_clip_wait(const struct lab_shadow *s, const char *want, int timeout_ms)
{
    char path[] = "/tmp/rdplab-clip-XXXXXX";
    int fd = mkstemp(path);
    char *argv[] = {"xclip", "-selection", "clipboard", "-o", NULL};
    char *got = NULL;

    if (fd < 0)
        return pt_xstrdup("");
    close(fd);
    for (int waited = 0; waited <= timeout_ms; waited += 200) {
        char buf[4096];
        size_t n = 0;
        FILE *f;

        free(got);
        lab_x(s, path, argv);
        f = fopen(path, "r");
        if (f) {
            n = fread(buf, 1, sizeof(buf) - 1, f);
            fclose(f);
        }
        buf[n] = 0;
        got = pt_xstrdup(buf);
        if (!strcmp(got, want))
            break;
        usleep(200000);
    }
    unlink(path);
    return got;
}

/* The inode of the socket listening on @port, from /proc/net/tcp. */
static unsigned long
listen_inode(int port)
{
    FILE *f = fopen("/proc/net/tcp", "r");
    char line[512];
    unsigned long inode = 0;

    if (!f)
        return 0;
    while (fgets(line, sizeof(line), f)) {
        unsigned lport, st;
        unsigned long ino;
        if (sscanf(line, " %*d: %*x:%x %*x:%*x %x %*x:%*x %*x:%*x %*x %*d %*d %lu", &lport, &st,
                   &ino) == 3 &&
            (int)lport == port && st == 0x0A) {
            inode = ino;
            break;
        }
    }
    fclose(f);
    return inode;
}

int
lab_server_pid(int port)
{
    unsigned long inode = listen_inode(port);
    char want[64];
    DIR *proc;
    struct dirent *de;
    int found = -1;

    if (!inode)
        return -1;
    snprintf(want, sizeof(want), "socket:[%lu]", inode);
    proc = opendir("/proc");
    while (proc && found < 0 && (de = readdir(proc))) {
        char fdpath[300];
        DIR *fds;
        struct dirent *fe;

        if (de->d_name[0] < '0' || de->d_name[0] > '9')
            continue;
        snprintf(fdpath, sizeof(fdpath), "/proc/%s/fd", de->d_name);
        fds = opendir(fdpath);
        while (fds && found < 0 && (fe = readdir(fds))) {
            char link[600], target[64];
            ssize_t n;
            snprintf(link, sizeof(link), "%s/%s", fdpath, fe->d_name);
            n = readlink(link, target, sizeof(target) - 1);
            if (n > 0) {
                target[n] = '\0';
                if (strcmp(target, want) == 0)
                    found = atoi(de->d_name);
            }
        }
        if (fds)
            closedir(fds);
    }
    if (proc)
        closedir(proc);
    return found;
}

int
lab_tone_start(struct lab_tone *tn, const char *binary, int hz, struct pt_err *err)
{
    const char *dir = tf_tmpdir();
    char key[600], cert[600], cmd[1400], port[16], hzs[16];
    char *argv[] = {(char *)binary, port, cert, key, tn->log, hzs, NULL};

    memset(tn, 0, sizeof(*tn));
    snprintf(key, sizeof(key), "%s/tone-key.pem", dir);
    snprintf(cert, sizeof(cert), "%s/tone-cert.pem", dir);
    /* FreeRDP 2's server TLS loads the key as RSA */
    if (access(key, R_OK) != 0) {
        snprintf(cmd, sizeof(cmd),
                 "openssl req -x509 -nodes -newkey rsa:2048 -days 2 -subj /CN=127.0.0.1 "
                 "-keyout '%s' -out '%s' 2>/dev/null",
                 key, cert);
        if (system(cmd) != 0)
            return pt_err_set(err, PT_E_IO, "openssl could not make the tone server's key");
    }
    tn->port = tf_free_port();
    snprintf(port, sizeof(port), "%d", tn->port);
    snprintf(hzs, sizeof(hzs), "%d", hz);
    snprintf(tn->log, sizeof(tn->log), "%s/tone-%d.log", dir, tn->port);
    if (tf_proc_spawn(&tn->proc, "rdp_tone_server", argv, NULL, err) < 0)
        return -1;
    if (tf_wait_port(tn->port, 10000) < 0) {
        lab_tone_stop(tn);
        return pt_err_set(err, PT_E_TIMEOUT, "the tone server did not listen on %d", tn->port);
    }
    return 0;
}

void
lab_tone_stop(struct lab_tone *tn)
{
    tf_proc_stop(&tn->proc, 1000);
}

bool
lab_tone_log_line(const struct lab_tone *tn, const char *prefix, char *line_out, size_t n,
                  int timeout_ms)
{
    for (int waited = 0; waited <= timeout_ms; waited += 100) {
        FILE *f = fopen(tn->log, "r");
        char line[512];
        bool found = false;

        while (f && fgets(line, sizeof(line), f)) {
            if (strncmp(line, prefix, strlen(prefix)) == 0) {
                found = true;
                if (line_out)
                    pt_strlcpy(line_out, line, n);
            }
        }
        if (f)
            fclose(f);
        if (found)
            return true;
        usleep(100000);
    }
    return false;
}
