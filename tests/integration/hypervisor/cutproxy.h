/*
 * cutproxy.h - a unix-socket forwarder in front of libvirtd's socket, whose cable the
 * test can cut (close every connection and stop listening) and mend (listen again). It
 * stands in for a network between the broker and a remote host; libvirtd is real.
 */
#ifndef PT_TESTS_CUTPROXY_H
#define PT_TESTS_CUTPROXY_H

struct cutproxy;

/* cutproxy_start() - listen on @path, forwarding each connection to @target. */
struct cutproxy *cutproxy_start(const char *path, const char *target);
void cutproxy_cut(struct cutproxy *p); /* drop all connections, stop listening */
/* cutproxy_freeze() - stop listening and forwarding, but keep connections open: a host
 * that hangs (only keepalive can tell). cutproxy_mend() drops the frozen ones. */
void cutproxy_freeze(struct cutproxy *p);
/* cutproxy_hold() - accept connections but never answer nor forward them: a host whose
 * port is open and whose daemon is stuck. cutproxy_mend() closes the held ones. */
void cutproxy_hold(struct cutproxy *p);
int cutproxy_mend(struct cutproxy *p);  /* listen again on the same path */
void cutproxy_stop(struct cutproxy *p); /* NULL-safe; joins the thread, frees */

#endif
