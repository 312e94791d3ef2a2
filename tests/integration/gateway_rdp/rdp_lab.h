/*
 * rdp_lab.h - the RDP endpoints of the backend's tests and benchmark, over tsupport's
 * fixtures (tf_rdp_shadow_start: Xvfb + freerdp-shadow-cli; tf_rdp_xrdp_vnc_start: xrdp
 * in front of an Xvnc), plus running X clients on their display.
 */
#ifndef PT_TEST_RDP_LAB_H
#define PT_TEST_RDP_LAB_H

#include <stdbool.h>
#include <stddef.h>

#include "tsupport/fixture.h"

struct lab_shadow {
    struct tf_rdp *rdp;
    struct tf_proc *xvnc;        /* xrdp variant: the VNC server behind it */
    struct tf_proc xvfb, shadow; /* NLA variant: started here, not by tsupport */
    int port;
    char display_str[16];
};

/* lab_shadow_start() - Xvfb + freerdp-shadow-cli at @w x @h. 0 or -1 with @err. */
int lab_shadow_start(struct lab_shadow *s, int w, int h, struct pt_err *err);
/* lab_shadow_nla_start() - Xvfb + freerdp-shadow-cli that only speaks NLA and knows one
 * account, @user / @password (an NTLM SAM file made with winpr-hash). tsupport's shadow
 * fixture has no option for that. */
int lab_shadow_nla_start(struct lab_shadow *s, int w, int h, const char *user, const char *password,
                         struct pt_err *err);
/* lab_xrdp_start() - Xvnc at @w x @h behind xrdp (any credentials, AutoLogon). */
int lab_xrdp_start(struct lab_shadow *s, int w, int h, struct pt_err *err);
/* lab_xrdp_strict_start() - the same behind an xrdp with allow_channels=false, which
 * joins none of the channels a client asks for (tsupport's fixture allows them). */
int lab_xrdp_strict_start(struct lab_shadow *s, int w, int h, struct pt_err *err);
void lab_shadow_stop(struct lab_shadow *s);

/* The TEST SERVER tests/support/servers/rdp_tone_server.c (@binary): an RDP server that
 * plays a sine of @hz over rdpsnd and logs what it saw to @log. */
struct lab_tone {
    struct tf_proc proc;
    int port;
    char log[512];
};
int lab_tone_start(struct lab_tone *tn, const char *binary, int hz, struct pt_err *err);
void lab_tone_stop(struct lab_tone *tn);
/* lab_tone_log_line() - true once the tone server's log holds a line starting with
 * @prefix (waiting up to @timeout_ms); the last such line goes to @line_out (may be NULL). */
bool lab_tone_log_line(const struct lab_tone *tn, const char *prefix, char *line_out, size_t n,
                       int timeout_ms);
/* lab_x() - run an X client (argv[0] is looked up in PATH) on @s's display, wait for it,
 * and return its exit status; its output goes to @out_path when not NULL. */
int lab_x(const struct lab_shadow *s, const char *out_path, char *const argv[]);
/* lab_clip_copy() - set @s's CLIPBOARD selection to @text (xclip forks and serves it
 * until the X server ends). Returns xclip's exit status. */
int lab_clip_copy(const struct lab_shadow *s, const char *text);
/* lab_clip_wait() - @s's CLIPBOARD selection as text ("" if none), polled until it
 * equals @want or @timeout_ms passes. Returns what was read last (new, free()). */
char *lab_clip_wait(const struct lab_shadow *s, const char *want, int timeout_ms);
/* lab_server_pid() - pid of the process listening on 127.0.0.1:@port, or -1. */
int lab_server_pid(int port);

#endif
