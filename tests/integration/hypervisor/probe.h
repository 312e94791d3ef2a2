/*
 * probe.h - minimal VNC and SPICE clients for display tests (127.0.0.1 only).
 */
#ifndef PT_TESTS_PROBE_H
#define PT_TESTS_PROBE_H

/* probe_vnc_banner() - the server's first 12 bytes ("RFB 003.008\n"). Returns 0 or -1. */
int probe_vnc_banner(int port, char out[13]);

struct probe_vnc {
    int ntypes;
    int types[8]; /* security types offered: 1 None, 2 VNC authentication */
    int result;   /* SecurityResult: 0 OK, 1 failed; -1 if not reached */
};
/* probe_vnc_auth() - RFB 3.8 handshake; with @password, authenticate (VNC auth if offered). */
int probe_vnc_auth(int port, const char *password, struct probe_vnc *out);

struct probe_spice {
    char magic[5];   /* "REDQ" */
    int link_error;  /* SpiceLinkReply error, 0 OK */
    int auth_result; /* after the ticket: 0 OK, 7 permission denied; -1 if not sent */
};
/* probe_spice() - link the main channel; with @password, send it as the ticket. */
int probe_spice(int port, const char *password, struct probe_spice *out);

#endif
