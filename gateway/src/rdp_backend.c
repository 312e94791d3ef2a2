/*
 * rdp_backend.c - the RDP backend's gw_backend_ops, on the gateway's loop thread.
 *
 * open() starts a session thread (rdp_session.c) for the ticket's endpoint with the
 * unsealed credentials; client_rx() runs every browser message through the strict
 * Guacamole parser and turns it into queued input, a sync echo for flow control, or a
 * tunnel-level ping reply. Anything malformed or unexpected closes the tunnel, after an
 * "error" instruction that tells guacamole-common-js why (its Guacamole.Status).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/mem.h"
#include "guac_proto.h"
#include "rdp_priv.h"

/* A tunnel's session runs either in a worker process (p) or in a thread here (s). */
struct rdp_tunnel {
    struct rdp_proc *p;
    struct rdp_session *s;
    struct guac_parser parser;
    int64_t clip_stream; /* the browser's open clipboard stream, or -1 */
    struct pt_buf clip;
    size_t clip_max; /* this tunnel's clipboard limit (gateway config and ticket) */
};

static struct gw_rdp_conf rdp_conf;
static bool rdp_conf_set;

void
gw_rdp_conf_defaults(struct gw_rdp_conf *c)
{
    memset(c, 0, sizeof(*c));
    c->ignore_cert = true;
    c->width = 1280;
    c->height = 800;
    c->jpeg_quality = 80;
    c->max_lag_ms = 1000;
    c->connect_timeout_ms = 10000;
    c->clipboard_max = 256 * 1024;
    c->process_per_session = true;
}

void
gw_rdp_configure(const struct gw_rdp_conf *c)
{
    struct pt_err err;

    if (c)
        rdp_conf = *c;
    else
        gw_rdp_conf_defaults(&rdp_conf);
    rdp_conf_set = true;
    if (rdp_conf.process_per_session && rdp_zygote_start(&err) < 0)
        pt_log(LOG_ERR, "event=rdp_launcher_failed %s", err.msg);
}

static int
link_input(struct rdp_tunnel *rt, const struct rdp_in_event *ev, struct pt_err *err)
{
    return rt->p ? rdp_proc_input(rt->p, ev, err) : rdp_session_input(rt->s, ev, err);
}

static bool
link_finished(struct rdp_tunnel *rt, struct rdp_failure *f)
{
    return rt->p ? rdp_proc_finished(rt->p, f) : rdp_session_finished(rt->s, f);
}

int
rdp_backend_worker_pid(struct gw_tunnel *t)
{
    struct rdp_tunnel *rt = gw_tunnel_backend_data(t);

    return rt && rt->p ? rdp_proc_pid(rt->p) : -1;
}

static int
rdp_open(struct gw_tunnel *t, const struct auth_ticket_claims *claims, const char *secret,
         struct pt_err *err)
{
    struct rdp_tunnel *rt;
    struct gw_rdp_conf conf;
    static const char *const dir_names[] = {"both", "to-desktop", "from-desktop", "none"};

    if (!rdp_conf_set)
        gw_rdp_configure(NULL);
    /* the pool's policy from the ticket on top of the gateway's own: the stricter wins */
    conf = rdp_conf;
    gw_rdp_conf_apply_ticket(&conf, claims);
    pt_log(LOG_INFO,
           "event=rdp_policy desktop=%s ticket_version=%d pool_clipboard=%s pool_clipboard_max=%u "
           "clipboard=%s clipboard_max=%zu pool_audio=%d credentials=%s",
           claims->desktop, claims->version, dir_names[(unsigned)claims->clip_dir & 3],
           claims->clip_max, dir_names[conf.clipboard_dir & 3], conf.clipboard_max, claims->audio,
           secret ? "sealed" : "none");
    rt = pt_xcalloc(1, sizeof(*rt));
    rt->clip_stream = -1;
    rt->clip_max = conf.clipboard_max;
    if (rdp_conf.process_per_session) {
        rt->p = rdp_proc_open(t, claims->host, claims->port, secret, &conf, err);
        if (!rt->p) {
            free(rt);
            return -1;
        }
        gw_tunnel_set_backend_data(t, rt);
        return 0;
    }
    rt->s = rdp_session_new(t, claims->host, claims->port, secret, &conf, err);
    if (!rt->s) {
        free(rt);
        return -1;
    }
    if (rdp_session_start(rt->s, err) < 0) {
        rdp_session_detach(rt->s);
        free(rt);
        return -1;
    }
    gw_tunnel_set_backend_data(t, rt);
    return 0;
}

/* The tunnel closes with err->msg as its WebSocket close reason. WebSocketTunnel reads
 * the Guacamole status from that reason with parseInt(), so lead with the number. */
static int
with_status(struct pt_err *err, int status)
{
    char msg[sizeof(err->msg)];

    snprintf(msg, sizeof(msg), "%d %.240s", status, err->msg);
    pt_strlcpy(err->msg, msg, sizeof(err->msg));
    return -1;
}

/* Refuse the message: tell the browser why (Guacamole "error"), then close. */
static int
refuse(struct gw_tunnel *t, struct pt_err *err, int status)
{
    struct pt_buf b = PT_BUF_INIT;

    guac_enc(&b, "error", "si", err->msg, (long long)status);
    gw_tunnel_send(t, b.data, b.len, false);
    pt_buf_fini(&b);
    return with_status(err, status);
}

static int
handle(struct gw_tunnel *t, struct rdp_tunnel *rt, const struct guac_msg *m, struct pt_err *err)
{
    struct rdp_in_event ev;
    struct pt_buf b = PT_BUF_INIT;

    memset(&ev, 0, sizeof(ev));
    switch (m->op) {
    case GUAC_OP_INTERNAL:
        /* WebSocketTunnel pings every 500 ms and counts silence as instability: echo */
        if (m->argc == 2 && strcmp(m->argv[0], "ping") == 0) {
            guac_enc(&b, "", "si", "ping", (long long)m->num[1]);
            gw_tunnel_send(t, b.data, b.len, false);
            pt_buf_fini(&b);
            return 0;
        }
        pt_err_set(err, PT_E_INVALID, "unknown tunnel instruction");
        return refuse(t, err, GUAC_STATUS_CLIENT_BAD_REQUEST);
    case GUAC_OP_SYNC:
        if (rt->s) {
            atomic_store(&rt->s->echo_ts, (long long)m->num[0]);
            return 0;
        }
        ev.type = RDP_IN_SYNC;
        ev.a = m->num[0];
        break;
    case GUAC_OP_MOUSE:
        ev.type = RDP_IN_MOUSE;
        ev.a = m->num[0];
        ev.b = m->num[1];
        ev.c = m->num[2];
        break;
    case GUAC_OP_KEY:
        ev.type = RDP_IN_KEY;
        ev.a = m->num[0];
        ev.b = m->num[1];
        break;
    case GUAC_OP_SIZE:
        ev.type = RDP_IN_SIZE;
        ev.a = m->num[0];
        ev.b = m->num[1];
        break;
    case GUAC_OP_CLIPBOARD:
        if (strcmp(m->argv[1], "text/plain") != 0) {
            guac_enc(&b, "ack", "isi", (long long)m->num[0], "only text/plain",
                     (long long)GUAC_STATUS_CLIENT_BAD_TYPE);
            gw_tunnel_send(t, b.data, b.len, false);
            pt_buf_fini(&b);
            return 0;
        }
        rt->clip_stream = m->num[0];
        pt_buf_reset(&rt->clip);
        return 0;
    case GUAC_OP_BLOB:
        if (m->num[0] != rt->clip_stream)
            return 0; /* a stream we refused or never opened */
        if (rt->clip.len + m->argl[1] / 4 * 3 > rt->clip_max) {
            pt_err_set(err, PT_E_LIMIT, "clipboard text over %zu bytes", rt->clip_max);
            return refuse(t, err, GUAC_STATUS_CLIENT_OVERRUN);
        }
        pt_buf_append(&rt->clip, m->argv[1], m->argl[1]); /* decoded when the stream ends */
        return 0;
    case GUAC_OP_END:
        if (m->num[0] != rt->clip_stream)
            return 0;
        rt->clip_stream = -1;
        ev.type = RDP_IN_CLIPBOARD; /* base64 text; cliprdr not wired yet (docs/rdp.md) */
        ev.clip = pt_buf_steal(&rt->clip);
        ev.clip_len = strlen(ev.clip);
        break;
    case GUAC_OP_DISCONNECT:
        pt_err_set(err, PT_E_OK, "the browser disconnected");
        return -1;
    case GUAC_OP_ACK:
    case GUAC_OP_NOP:
    case GUAC_OP_TOUCH:
        return 0;
    }
    if (link_input(rt, &ev, err) < 0)
        return refuse(t, err, GUAC_STATUS_CLIENT_TOO_MANY);
    return 0;
}

static int
rdp_client_rx(struct gw_tunnel *t, const void *data, size_t len, bool binary, struct pt_err *err)
{
    struct rdp_tunnel *rt = gw_tunnel_backend_data(t);
    struct rdp_failure f;
    size_t off = 0;

    if (!rt)
        return pt_err_set(err, PT_E_INTERNAL, "RDP tunnel has no session");
    if (rt->p)
        rdp_proc_flush(rt->p);
    if (link_finished(rt, &f)) {
        /* the desktop ended the session; the "error" instruction already went out */
        pt_err_set(err, f.guac_status == GUAC_STATUS_SUCCESS ? PT_E_OK : PT_E_UNAVAILABLE, "%s",
                   f.reason);
        return with_status(err, f.guac_status);
    }
    if (binary) {
        pt_err_set(err, PT_E_INVALID, "binary message on a Guacamole tunnel");
        return refuse(t, err, GUAC_STATUS_CLIENT_BAD_REQUEST);
    }
    /* guacamole-common-js sends whole instructions per message; so must everyone */
    while (off < len) {
        struct guac_msg m;
        size_t used = 0;
        int rc = guac_parser_next(&rt->parser, (const char *)data + off, len - off, &used, &m, err);

        if (rc == 0)
            pt_err_set(err, PT_E_INVALID, "message ends inside an instruction");
        if (rc <= 0) {
            pt_err_prefix(err, "bad Guacamole instruction");
            return refuse(t, err,
                          err->code == PT_E_LIMIT ? GUAC_STATUS_CLIENT_OVERRUN
                                                  : GUAC_STATUS_CLIENT_BAD_REQUEST);
        }
        off += used;
        if (handle(t, rt, &m, err) < 0)
            return -1;
    }
    return 0;
}

static void
rdp_close(struct gw_tunnel *t)
{
    struct rdp_tunnel *rt = gw_tunnel_backend_data(t);

    if (!rt)
        return;
    gw_tunnel_set_backend_data(t, NULL);
    if (rt->p)
        rdp_proc_close(rt->p);
    else
        rdp_session_detach(rt->s);
    if (rt->clip.data)
        pt_wipe(rt->clip.data, rt->clip.len);
    pt_buf_fini(&rt->clip);
    free(rt);
}

static const struct gw_backend_ops rdp_ops = {
    .name = "rdp",
    .open = rdp_open,
    .client_rx = rdp_client_rx,
    .client_writable = NULL,
    .close = rdp_close,
};

const struct gw_backend_ops *
gw_rdp_backend(void)
{
    return &rdp_ops;
}
