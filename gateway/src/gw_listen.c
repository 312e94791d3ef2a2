/*
 * gw_listen.c - a worker's own listening socket (`workers` > 1).
 *
 * Each worker listens on the configured address with SO_REUSEPORT, so the kernel spreads
 * new connections over the workers by their address hash and a worker that dies takes
 * only its own accept queue with it. lws 4.1.6 cannot do that itself: its
 * LWS_SERVER_OPTION_ALLOW_LISTEN_SHARE did not set SO_REUSEPORT (the second worker's bind
 * failed with EADDRINUSE, measured). So the vhost is created without a listener
 * (CONTEXT_PORT_NO_LISTEN_SERVER), the socket made here is adopted into the loop as a
 * raw descriptor, and each connection it accepts is handed to lws_adopt_socket_vhost(),
 * the same path lws's own listener takes (HTTP, TLS when configured, then the upgrade).
 * A single-process gateway keeps lws's listener.
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "common/str.h"
#include "gw_priv.h"

#define GW_LISTEN_BACKLOG 4096
#define GW_ACCEPT_BURST   64 /* per wake-up, so one busy listener cannot starve tunnels */

static int
listen_socket(const char *listen_addr, struct pt_err *err)
{
    struct addrinfo hints, *ai = NULL;
    char host[256], port_s[16];
    int port = 0, one = 1, fd = -1, rc;

    pt_parse_hostport(listen_addr, host, sizeof(host), &port);
    snprintf(port_s, sizeof(port_s), "%d", port);
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = strchr(host, ':') ? AF_INET6 : AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    bool any = strcmp(host, "0.0.0.0") == 0 || strcmp(host, "*") == 0 || !host[0];
    rc = getaddrinfo(any ? NULL : host, port_s, &hints, &ai);
    if (rc != 0) {
        pt_err_set(err, PT_E_INVALID, "cannot resolve listen address %s: %s", listen_addr,
                   gai_strerror(rc));
        return -1;
    }
    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, GW_LISTEN_BACKLOG) < 0) {
        pt_err_set(err, PT_E_UNAVAILABLE,
                   "cannot listen on %s: %s (port in use by another program?)", listen_addr,
                   strerror(errno));
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    return fd;
}

int
gw_listen_start(struct gw *g, struct pt_err *err)
{
    lws_sock_file_fd_type u;
    int fd = listen_socket(g->conf->listen, err);

    if (fd < 0)
        return -1;
    u.filefd = (lws_filefd_type)fd;
    if (!lws_adopt_descriptor_vhost(g->vhost, LWS_ADOPT_RAW_FILE_DESC, u, "gw-listen", NULL)) {
        close(fd);
        return pt_err_set(err, PT_E_INTERNAL, "cannot add the listening socket to the loop");
    }
    return 0;
}

int
gw_listen_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                   size_t len)
{
    (void)user;
    (void)in;
    (void)len;
    if (reason != LWS_CALLBACK_RAW_RX_FILE)
        return 0;
    struct gw *g = lws_context_user(lws_get_context(wsi));
    int lfd = lws_get_socket_fd(wsi);

    for (int i = 0; i < GW_ACCEPT_BURST; i++) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            int64_t now = pt_time_mono_ms();
            if ((errno == EMFILE || errno == ENFILE) && now - g->accept_warned_ms > 10000) {
                g->accept_warned_ms = now;
                pt_log(LOG_WARNING, "event=accept_failed %s: raise RLIMIT_NOFILE or add workers",
                       strerror(errno));
            }
            break; /* EAGAIN: queue drained */
        }
        /* Closes fd itself on failure. */
        if (!lws_adopt_socket_vhost(g->vhost, fd))
            pt_log(LOG_WARNING, "event=adopt_failed a new connection was dropped");
    }
    return 0;
}
