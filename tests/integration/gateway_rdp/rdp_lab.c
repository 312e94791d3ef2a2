/*
 * rdp_lab.c - start Xvfb and freerdp-shadow-cli on a free display and port (see
 * rdp_lab.h and LAB.md section 2), and run X clients against that display.
 */
#include "rdp_lab.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void
sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

int
lab_shadow_start(struct lab_shadow *s, int w, int h, struct pt_err *err)
{
    char geom[32], sock[64], lock[64], port[32], home[512], homeenv[600], dispenv[40];
    char *xargv[] = {"Xvfb",      s->display_str, "-screen",  "0", geom,
                     "-nolisten", "tcp",          "-noreset", NULL};
    int n;

    memset(s, 0, sizeof(*s));
    for (n = 300 + getpid() % 400;; n++) {
        snprintf(lock, sizeof(lock), "/tmp/.X%d-lock", n);
        snprintf(sock, sizeof(sock), "/tmp/.X11-unix/X%d", n);
        if (access(lock, F_OK) != 0 && access(sock, F_OK) != 0)
            break;
    }
    s->display = n;
    snprintf(s->display_str, sizeof(s->display_str), ":%d", n);
    snprintf(geom, sizeof(geom), "%dx%dx24", w, h);
    if (tf_proc_spawn(&s->xvfb, "xvfb", xargv, NULL, err) < 0)
        return -1;
    for (int i = 0; access(sock, F_OK) != 0; i++) {
        if (i > 250 || !tf_proc_alive(&s->xvfb)) {
            lab_shadow_stop(s);
            return pt_err_set(err, PT_E_TIMEOUT, "Xvfb %s did not start (log %s)", s->display_str,
                              s->xvfb.log_path);
        }
        sleep_ms(20);
    }
    s->port = tf_free_port();
    snprintf(port, sizeof(port), "/port:%d", s->port);
    /* shadow writes its self-signed certificate under $HOME */
    snprintf(home, sizeof(home), "%s/shadow-home-%d", tf_tmpdir(), n);
    mkdir(home, 0700);
    snprintf(homeenv, sizeof(homeenv), "HOME=%s", home);
    snprintf(dispenv, sizeof(dispenv), "DISPLAY=%s", s->display_str);
    {
        char *sargv[] = {"freerdp-shadow-cli", "/bind-address:127.0.0.1", port, "-auth", NULL};
        char *envp[] = {homeenv, dispenv, "PATH=/usr/bin:/bin", NULL};
        if (tf_proc_spawn(&s->shadow, "shadow", sargv, envp, err) < 0) {
            lab_shadow_stop(s);
            return -1;
        }
    }
    if (tf_wait_port(s->port, 10000) < 0) {
        lab_shadow_stop(s);
        return pt_err_set(err, PT_E_TIMEOUT, "freerdp-shadow-cli did not listen on %d", s->port);
    }
    return 0;
}

void
lab_shadow_stop(struct lab_shadow *s)
{
    tf_proc_stop(&s->shadow, 2000);
    tf_proc_stop(&s->xvfb, 2000);
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
