/*
 * rdp_lab.h - Xvfb + freerdp-shadow-cli for the RDP backend's tests, the LAB.md way.
 * Stands in until tsupport's tf_rdp_shadow_start() lands; same behaviour (real servers,
 * free port and display, stopped by PID).
 */
#ifndef PT_TEST_RDP_LAB_H
#define PT_TEST_RDP_LAB_H

#include "tsupport/fixture.h"

struct lab_shadow {
    struct tf_proc xvfb, shadow;
    int display, port;
    char display_str[16];
};

/* lab_shadow_start() - 0 or -1 with @err. */
int lab_shadow_start(struct lab_shadow *s, int w, int h, struct pt_err *err);
void lab_shadow_stop(struct lab_shadow *s);
/* lab_x() - run an X client (argv[0] is looked up in PATH) on @s's display, wait for it,
 * and return its exit status; its stdout goes to @out_path when not NULL. */
int lab_x(const struct lab_shadow *s, const char *out_path, char *const argv[]);

#endif
