/*
 * rdp_session.c - one FreeRDP 2 client on its own thread, per tunnel.
 *
 * How it works: the thread connects (TLS/NLA/RDP as the server offers), draws into
 * FreeRDP's software GDI surface (BGRX32) and waits in WaitForMultipleObjects on
 * FreeRDP's sockets plus one event the loop thread sets when it queues input or wants
 * the session to stop. Paint callbacks only mark tiles dirty; a frame is encoded and
 * posted to the tunnel (gw_tunnel_post) when at least RDP_FRAME_MS passed since the
 * last one AND the browser keeps up: every frame ends with "sync,<ms>", the browser echoes
 * it once drawn, and while too many frames/bytes are unechoed the dirty tiles simply
 * accumulate (frames combine), JPEG quality drops, and nothing queues without bound.
 *
 * Teardown order: the loop clears s->tunnel under the lock (no more posts), sets stop
 * and the event, aborts a pending connect, joins for a bounded time; the last of loop
 * and thread to drop its reference frees the session.
 */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <freerdp/addin.h>
#include <freerdp/client/channels.h>
#include <freerdp/codec/color.h>
#include <freerdp/freerdp.h>
#include <freerdp/gdi/gdi.h>
#include <freerdp/graphics.h>
#include <freerdp/input.h>
#include <freerdp/primitives.h>
#include <freerdp/settings.h>
#include <winpr/synch.h>
#include <winpr/wlog.h>

#include "common/log.h"
#include "common/mem.h"
#include "guac_proto.h"
#include "rdp_priv.h"

#define RDP_FRAME_MS       15 /* at most ~66 frames per second */
#define RDP_UNECHOED_MAX   6  /* frames in flight before we hold */
#define RDP_UNECHOED_BYTES (6 << 20)
#define RDP_POST_CHUNK     (64 * 1024)
#define RDP_JOIN_MS        3000

struct rdp_ctx {
    rdpContext base; /* first: FreeRDP allocates ContextSize bytes */
    struct rdp_session *s;
};

static int64_t
mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static pthread_once_t rdp_once = PTHREAD_ONCE_INIT;

/* Count here, or in a worker process send the delta to the gateway, which counts. */
static void
report(struct rdp_session *s, const struct rdp_metric_delta *d)
{
    bool sent = false;

    pthread_mutex_lock(&s->lock);
    if (s->sink_fd >= 0)
        sent = rdp_sink_send(s->sink_fd, RDP_SINK_METRICS, d, sizeof(*d)) == 0;
    pthread_mutex_unlock(&s->lock);
    if (!sent && s->sink_fd < 0)
        rdp_metrics_apply(d);
}

static void
rdp_global_init(void)
{
    /* skip AUTODETECT's ~300 ms primitives benchmark on the first connection */
    primitives_set_hints(PRIMITIVES_ONLY_CPU);
    /* channels (cliprdr, drdynvc) are built into libfreerdp-client: find them there */
    freerdp_register_addin_provider(freerdp_channels_load_static_addin_entry, 0);
    if (!getenv("WLOG_LEVEL"))
        WLog_SetLogLevel(WLog_GetRoot(), WLOG_FATAL);
}

/* --- references and posting ---------------------------------------------------------- */

static void
session_unref(struct rdp_session *s)
{
    if (atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->in_len; i++)
        pt_free_secret(s->in[(s->in_head + i) % RDP_INPUT_MAX].clip);
    pthread_mutex_unlock(&s->lock);
    if (s->in_event)
        CloseHandle(s->in_event);
    pthread_mutex_destroy(&s->lock);
    rdp_clip_fini(s);
    free(s->user);
    pt_free_secret(s->password);
    free(s->domain);
    free(s);
}

int
rdp_sink_send(int fd, char type, const void *data, size_t len)
{
    struct iovec iov[2] = {{&type, 1}, {(void *)data, len}};
    struct msghdr mh;
    ssize_t n;

    memset(&mh, 0, sizeof(mh));
    mh.msg_iov = iov;
    mh.msg_iovlen = 2;
    do
        n = sendmsg(fd, &mh, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    return n == (ssize_t)(len + 1) ? 0 : -1;
}

int
rdp_session_post(struct rdp_session *s, const struct pt_buf *b)
{
    size_t off = 0;
    int rc = 0;

    pthread_mutex_lock(&s->lock);
    if (!s->tunnel && s->sink_fd < 0)
        rc = -1;
    /* cut at instruction ends so each WebSocket message holds whole instructions */
    while (rc == 0 && off < b->len) {
        size_t n = b->len - off;
        if (n > RDP_POST_CHUNK) {
            const char *semi = memrchr(b->data + off, ';', RDP_POST_CHUNK);
            n = semi ? (size_t)(semi - (b->data + off)) + 1 : n;
        }
        if (s->sink_fd >= 0) /* worker process: to the gateway over the session socket */
            rc = rdp_sink_send(s->sink_fd, RDP_SINK_GUAC, b->data + off, n);
        else
            rc = gw_tunnel_post(s->tunnel, b->data + off, n, false);
        off += n;
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

/* Post the instructions gathered in s->out (resize, cursor) and clear it. */
static int
post_pending(struct rdp_session *s)
{
    int rc = 0;

    if (s->out.len) {
        rc = rdp_session_post(s, &s->out);
        pt_buf_reset(&s->out);
    }
    return rc;
}

static void
post_failure(struct rdp_session *s, const struct rdp_failure *f)
{
    struct pt_buf b = PT_BUF_INIT;

    /* finished first: a browser that reacts to the error must find the session over */
    pthread_mutex_lock(&s->lock);
    s->failure = *f;
    s->finished = true;
    pthread_mutex_unlock(&s->lock);
    /* worker process: the gateway learns why before the browser does, too */
    pthread_mutex_lock(&s->lock);
    if (s->sink_fd >= 0)
        rdp_sink_send(s->sink_fd, RDP_SINK_FAILURE, f, sizeof(*f));
    pthread_mutex_unlock(&s->lock);
    if (f->guac_status == GUAC_STATUS_SUCCESS)
        guac_enc(&b, "disconnect", "");
    else
        guac_enc(&b, "error", "si", f->reason, (long long)f->guac_status);
    rdp_session_post(s, &b);
    pt_buf_fini(&b);
}

/* --- FreeRDP callbacks (session thread) ---------------------------------------------- */

static struct rdp_session *
ctx_session(rdpContext *c)
{
    return ((struct rdp_ctx *)c)->s;
}

struct rdp_session *
rdp_ctx_session(void *rdp_context)
{
    return ctx_session(rdp_context);
}

static BOOL
cb_begin_paint(rdpContext *c)
{
    HGDI_WND w = c->gdi->primary->hdc->hwnd;

    w->invalid->null = TRUE;
    w->ninvalid = 0;
    return TRUE;
}

static BOOL
cb_end_paint(rdpContext *c)
{
    struct rdp_session *s = ctx_session(c);
    HGDI_WND w = c->gdi->primary->hdc->hwnd;

    if (w->invalid->null)
        return TRUE;
    if (w->ninvalid > 0) {
        for (INT32 i = 0; i < w->ninvalid; i++)
            rdp_display_mark(&s->disp, w->cinvalid[i].x, w->cinvalid[i].y, w->cinvalid[i].w,
                             w->cinvalid[i].h);
    } else {
        rdp_display_mark(&s->disp, w->invalid->x, w->invalid->y, w->invalid->w, w->invalid->h);
    }
    w->invalid->null = TRUE;
    w->ninvalid = 0;
    return TRUE;
}

static BOOL
cb_desktop_resize(rdpContext *c)
{
    struct rdp_session *s = ctx_session(c);
    UINT32 w = freerdp_settings_get_uint32(c->settings, FreeRDP_DesktopWidth);
    UINT32 h = freerdp_settings_get_uint32(c->settings, FreeRDP_DesktopHeight);
    int old_w = s->disp.width, old_h = s->disp.height;

    /* gdi_resize() to another size makes a new, black surface: rdp_display_resize() sends
     * "size" and forces every tile, rdp_resize_answered() asks the server to repaint */
    if (!gdi_resize(c->gdi, w, h))
        return FALSE;
    pt_log(LOG_INFO, "%s event=rdp_desktop_resize from=%dx%d to=%ux%u", s->log_id, old_w, old_h,
           (unsigned)w, (unsigned)h);
    rdp_display_resize(&s->disp, (int)w, (int)h, &s->out);
    rdp_resize_answered(s, old_w, old_h, (int)w, (int)h, mono_ms());
    return TRUE;
}

static BOOL
cb_pre_connect(freerdp *instance)
{
    return rdp_channels_load(ctx_session(instance->context), instance->context) == 0;
}

static BOOL
cb_post_connect(freerdp *instance)
{
    rdpContext *c = instance->context;
    struct rdp_session *s = ctx_session(c);

    if (!gdi_init(instance, PIXEL_FORMAT_BGRX32))
        return FALSE;
    rdp_pointer_register(c);
    instance->update->BeginPaint = cb_begin_paint;
    instance->update->EndPaint = cb_end_paint;
    instance->update->DesktopResize = cb_desktop_resize;
    rdp_display_resize(&s->disp, (int)c->gdi->width, (int)c->gdi->height, &s->out);
    return TRUE;
}

/* --- input (session thread) ---------------------------------------------------------- */

static void
drain_input(struct rdp_session *s, rdpInput *in)
{
    for (;;) {
        struct rdp_in_event ev;

        pthread_mutex_lock(&s->lock);
        if (s->in_len == 0) {
            ResetEvent(s->in_event);
            pthread_mutex_unlock(&s->lock);
            return;
        }
        ev = s->in[s->in_head];
        s->in_head = (s->in_head + 1) % RDP_INPUT_MAX;
        s->in_len--;
        pthread_mutex_unlock(&s->lock);
        switch (ev.type) {
        case RDP_IN_MOUSE:
        case RDP_IN_KEY:
            rdp_input_inject(s, in, &ev);
            break;
        case RDP_IN_SIZE:
            rdp_resize_request(s, ev.a, ev.b, mono_ms());
            break;
        case RDP_IN_CLIPBOARD:
            rdp_clip_from_browser(s, ev.clip, ev.clip_len);
            pt_free_secret(ev.clip);
            break;
        case RDP_IN_SYNC: /* handled where it arrives (echo_ts) */
            break;
        }
    }
}

/* --- frames and flow control --------------------------------------------------------- */

static void
flow_update(struct rdp_session *s, int64_t now, int64_t *lag, size_t *nflight, size_t *bytes)
{
    int64_t echo = atomic_load(&s->echo_ts);
    size_t keep = 0;

    *bytes = 0;
    for (size_t i = 0; i < s->nflight; i++) {
        if (s->flight[i].ts <= echo)
            continue; /* drawn by the browser */
        s->flight[keep++] = s->flight[i];
        *bytes += s->flight[i].bytes;
    }
    s->nflight = keep;
    *nflight = keep;
    *lag = keep ? now - s->flight[0].ts : 0;
}

/* Encode and post one frame if one is due and the browser keeps up. Returns -1 if the
 * tunnel is gone. *@wait_ms is set to when to look again. */
static int
maybe_flush(struct rdp_session *s, rdpGdi *gdi, int *wait_ms)
{
    int64_t now = mono_ms(), lag;
    size_t nflight, bytes;
    struct pt_buf frame = PT_BUF_INIT;
    uint64_t enc_us, px;
    int rc;

    *wait_ms = 100;
    if (post_pending(s) < 0)
        return -1;
    if (!rdp_display_pending(&s->disp)) {
        if (s->disp.jpeg_quality >= s->disp.jpeg_quality_max)
            return 0;
        /* idle after lagging: recover the quality here too, or the lossless refresh of
         * settled tiles (which waits for full quality) would never come */
        flow_update(s, now, &lag, &nflight, &bytes);
        if (lag >= 100)
            return 0;
        s->disp.jpeg_quality += 5;
        if (s->disp.jpeg_quality > s->disp.jpeg_quality_max)
            s->disp.jpeg_quality = s->disp.jpeg_quality_max;
        if (!rdp_display_pending(&s->disp))
            return 0;
    }
    if (now - s->last_flush_ms < RDP_FRAME_MS) {
        *wait_ms = (int)(RDP_FRAME_MS - (now - s->last_flush_ms));
        return 0;
    }
    flow_update(s, now, &lag, &nflight, &bytes);
    if (lag > s->lag_reported) {
        struct rdp_metric_delta d = {.lag = lag};
        report(s, &d);
        s->lag_reported = lag;
    }
    if (lag > s->conf.max_lag_ms / 2 && s->disp.jpeg_quality > 30)
        s->disp.jpeg_quality -= 10; /* lagging: cheaper frames */
    else if (lag < 100 && s->disp.jpeg_quality < s->disp.jpeg_quality_max)
        s->disp.jpeg_quality += 5;

    if (nflight >= RDP_UNECHOED_MAX || bytes >= RDP_UNECHOED_BYTES || lag > s->conf.max_lag_ms) {
        s->held_frames++;
        {
            struct rdp_metric_delta d = {.held = 1};
            report(s, &d);
        }
        *wait_ms = 10; /* hold: dirty tiles keep accumulating and combine */
        return 0;
    }
    enc_us = s->disp.st.encode_us;
    px = rdp_display_flush(&s->disp, gdi->primary_buffer, (int)gdi->stride, &frame);
    enc_us = s->disp.st.encode_us - enc_us;
    s->last_flush_ms = now;
    if (frame.len == 0) { /* everything dirty was unchanged */
        pt_buf_fini(&frame);
        return 0;
    }
    if (now <= s->last_sync_sent)
        now = s->last_sync_sent + 1; /* sync timestamps must differ to be echoed */
    guac_enc(&frame, "sync", "i", (long long)now);
    s->last_sync_sent = now;
    if (s->nflight < sizeof(s->flight) / sizeof(s->flight[0])) {
        s->flight[s->nflight].ts = now;
        s->flight[s->nflight++].bytes = frame.len;
    }
    s->disp.st.frames++;
    s->disp.st.bytes += frame.len;
    {
        struct rdp_metric_delta d = {.frames = 1, .bytes = frame.len, .px = px, .enc_us = enc_us};
        report(s, &d);
    }
    rc = rdp_session_post(s, &frame);
    pt_buf_fini(&frame);
    return rc;
}

/* --- the thread ---------------------------------------------------------------------- */

static void
configure(struct rdp_session *s, rdpSettings *st)
{
    bool creds = s->password && s->password[0];

    freerdp_settings_set_string(st, FreeRDP_ServerHostname, s->host);
    freerdp_settings_set_uint32(st, FreeRDP_ServerPort, (UINT32)s->port);
    if (s->user)
        freerdp_settings_set_string(st, FreeRDP_Username, s->user);
    if (creds)
        freerdp_settings_set_string(st, FreeRDP_Password, s->password);
    if (s->domain)
        freerdp_settings_set_string(st, FreeRDP_Domain, s->domain);
    freerdp_settings_set_uint32(st, FreeRDP_DesktopWidth, (UINT32)s->conf.width);
    freerdp_settings_set_uint32(st, FreeRDP_DesktopHeight, (UINT32)s->conf.height);
    freerdp_settings_set_uint32(st, FreeRDP_ColorDepth, 32);
    freerdp_settings_set_bool(st, FreeRDP_SoftwareGdi, TRUE);
    freerdp_settings_set_bool(st, FreeRDP_IgnoreCertificate, s->conf.ignore_cert);
    freerdp_settings_set_bool(st, FreeRDP_AutoLogonEnabled, creds);
    /* offer every security protocol; NLA needs credentials to be worth offering */
    freerdp_settings_set_bool(st, FreeRDP_TlsSecurity, TRUE);
    freerdp_settings_set_bool(st, FreeRDP_RdpSecurity, TRUE);
    freerdp_settings_set_bool(st, FreeRDP_NlaSecurity, creds);
    freerdp_settings_set_uint32(st, FreeRDP_TcpConnectTimeout, (UINT32)s->conf.connect_timeout_ms);
    /* no RemoteFX/NSCodec: servers then send lossless bitmaps, which decode cheaply and
     * let the display encoder see exact pixels (unchanged tiles, scrolls). Measured with
     * bench/rdp: RemoteFX cost 2-6x the frame rate on scrolling text. */
    freerdp_settings_set_bool(st, FreeRDP_RemoteFxCodec, FALSE);
    freerdp_settings_set_bool(st, FreeRDP_NSCodec, FALSE);
    /* Channels: only those we serve. FreeRDP 2.11 fails the connection when a server
     * that disallows channels (xrdp without allow_channels) joins fewer than requested,
     * so nothing is asked for that has no use here (encomsp/remdesk are on by default).
     * cliprdr's add-in is loaded in PreConnect (rdp_channels_load). */
    freerdp_settings_set_bool(st, FreeRDP_EncomspVirtualChannel, FALSE);
    freerdp_settings_set_bool(st, FreeRDP_RemdeskVirtualChannel, FALSE);
    freerdp_settings_set_bool(st, FreeRDP_AudioPlayback, FALSE);
    /* drdynvc + disp: resize in place where the server offers it (rdp_resize.c) */
    freerdp_settings_set_bool(st, FreeRDP_SupportDynamicChannels, !s->conf.resize_by_reconnect);
    freerdp_settings_set_bool(st, FreeRDP_SupportDisplayControl, !s->conf.resize_by_reconnect);
    freerdp_settings_set_bool(st, FreeRDP_RedirectClipboard,
                              s->conf.clipboard_dir != GW_RDP_CLIP_NONE);
}

void
rdp_wipe_settings_password(void *rdp_settings)
{
    rdpSettings *st = rdp_settings;
    const char *p = freerdp_settings_get_string(st, FreeRDP_Password);

    if (p)
        pt_wipe((void *)p, strlen(p));
    freerdp_settings_set_string(st, FreeRDP_Password, NULL);
}

static void
wipe_password(struct rdp_session *s, rdpSettings *st)
{
    rdp_wipe_settings_password(st);
    pt_free_secret(s->password);
    s->password = NULL;
}

/* Does @host:@port accept a TCP connection within 2 s? (after FreeRDP failed) */
static bool
tcp_reachable(const char *host, int port)
{
    struct addrinfo hints, *res = NULL;
    char portstr[16];
    bool ok = false;

    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    snprintf(portstr, sizeof(portstr), "%d", port);
    if (getaddrinfo(host, portstr, &hints, &res) != 0)
        return false;
    for (struct addrinfo *a = res; a && !ok; a = a->ai_next) {
        int fd = socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        struct pollfd pfd = {fd, POLLOUT, 0};
        int e = 0;
        socklen_t el = sizeof(e);

        if (fd < 0)
            continue;
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0 ||
            (errno == EINPROGRESS && poll(&pfd, 1, 2000) == 1 &&
             getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) == 0 && e == 0))
            ok = true;
        close(fd);
    }
    freeaddrinfo(res);
    return ok;
}

static void
post_uuid(struct rdp_session *s)
{
    unsigned char r[16];
    char uuid[37];
    struct pt_buf b = PT_BUF_INIT;

    if (getrandom(r, sizeof(r), 0) != sizeof(r))
        memset(r, 0x5A, sizeof(r));
    r[6] = (r[6] & 0x0F) | 0x40;
    r[8] = (r[8] & 0x3F) | 0x80;
    snprintf(uuid, sizeof(uuid),
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", r[0], r[1],
             r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13], r[14],
             r[15]);
    /* WebSocketTunnel: the first instruction, opcode "", carries the tunnel's UUID */
    guac_enc(&b, "", "s", uuid);
    rdp_session_post(s, &b);
    pt_buf_fini(&b);
}

static void *
session_main(void *arg)
{
    struct rdp_session *s = arg;
    freerdp *inst = NULL;
    struct rdp_failure f;
    int64_t t0 = mono_ms();
    bool connected = false, had_creds = false;

    pthread_once(&rdp_once, rdp_global_init);
    report(s, &(struct rdp_metric_delta){.connecting = 1});
    post_uuid(s);
    inst = freerdp_new();
    inst->PreConnect = cb_pre_connect;
    inst->PostConnect = cb_post_connect;
    inst->ContextSize = sizeof(struct rdp_ctx);
    if (!freerdp_context_new(inst)) {
        freerdp_free(inst);
        inst = NULL;
        report(s, &(struct rdp_metric_delta){.connecting = -1, .failed = 1});
        rdp_error_describe(0xFFFFFFFF, 0, s->host, s->port, &f);
        post_failure(s, &f);
        goto out;
    }
    ((struct rdp_ctx *)inst->context)->s = s;
    had_creds = s->password && s->password[0];
    configure(s, inst->settings);
    rdp_trust_configure(s, inst);
    pthread_mutex_lock(&s->lock);
    s->instance = inst;
    pthread_mutex_unlock(&s->lock);

    if (atomic_load(&s->stop) || !freerdp_connect(inst)) {
        uint32_t code = freerdp_get_last_error(inst->context);

        report(s, &(struct rdp_metric_delta){.connecting = -1, .failed = 1});
        wipe_password(s, inst->settings);
        rdp_error_describe(code, freerdp_error_info(inst), s->host, s->port, &f);
        if (!atomic_load(&s->stop) && tcp_reachable(s->host, s->port))
            rdp_error_refine_reachable(code, had_creds, s->host, s->port, &f);
        if (s->cert_changed)
            rdp_trust_describe_change(s, &f);
        pt_log(LOG_NOTICE, "%s event=rdp_connect_failed after_ms=%lld code=0x%08x reason=\"%s\"",
               s->log_id, (long long)(mono_ms() - t0), code, f.reason);
        post_failure(s, &f);
        goto out;
    }
    /* FreeRDP's copy goes now; ours stays for a resize reconnect (rdp_resize.c) and is
     * wiped when the session ends */
    rdp_wipe_settings_password(inst->settings);
    report(s, &(struct rdp_metric_delta){.connecting = -1, .connected = 1});
    connected = true;
    s->connected_at = mono_ms();
    pt_log(LOG_INFO, "%s event=rdp_connected after_ms=%lld size=%dx%d", s->log_id,
           (long long)(mono_ms() - t0), s->disp.width, s->disp.height);

    while (!atomic_load(&s->stop) && !freerdp_shall_disconnect(inst)) {
        HANDLE h[MAXIMUM_WAIT_OBJECTS];
        DWORD n;
        int wait_ms = 100, resize_wait = 100;

        if (rdp_resize_due(s, inst, mono_ms(), &resize_wait) < 0) {
            rdp_error_describe(freerdp_get_last_error(inst->context), freerdp_error_info(inst),
                               s->host, s->port, &f);
            post_failure(s, &f);
            break;
        }
        n = freerdp_get_event_handles(inst->context, h, MAXIMUM_WAIT_OBJECTS - 1);
        if (n == 0)
            break;
        h[n++] = s->in_event;
        if (maybe_flush(s, inst->context->gdi, &wait_ms) < 0)
            break;
        if (resize_wait < wait_ms)
            wait_ms = resize_wait;
        WaitForMultipleObjects(n, h, FALSE, (DWORD)wait_ms);
        drain_input(s, inst->input);
        if (!freerdp_check_event_handles(inst->context)) {
            if (!atomic_load(&s->stop)) {
                rdp_error_describe(freerdp_get_last_error(inst->context), freerdp_error_info(inst),
                                   s->host, s->port, &f);
                post_failure(s, &f);
            }
            break;
        }
    }
    if (!atomic_load(&s->stop) && freerdp_shall_disconnect(inst) && !s->finished) {
        rdp_error_describe(freerdp_get_last_error(inst->context), freerdp_error_info(inst), s->host,
                           s->port, &f);
        post_failure(s, &f);
    }
    pt_log(LOG_INFO,
           "%s event=rdp_end frames=%llu bytes=%llu changed_px=%llu encode_ms=%llu held=%llu "
           "tiles_solid=%llu tiles_png=%llu tiles_jpeg=%llu tiles_same=%llu copies=%llu",
           s->log_id, (unsigned long long)s->disp.st.frames, (unsigned long long)s->disp.st.bytes,
           (unsigned long long)s->disp.st.pixels_changed,
           (unsigned long long)(s->disp.st.encode_us / 1000), (unsigned long long)s->held_frames,
           (unsigned long long)s->disp.st.tiles_solid, (unsigned long long)s->disp.st.tiles_png,
           (unsigned long long)s->disp.st.tiles_jpeg, (unsigned long long)s->disp.st.tiles_same,
           (unsigned long long)s->disp.st.copies);
    freerdp_disconnect(inst);
out:
    if (connected)
        report(s, &(struct rdp_metric_delta){.connected = -1});
    pthread_mutex_lock(&s->lock);
    s->instance = NULL;
    s->finished = true;
    pthread_mutex_unlock(&s->lock);
    if (inst) {
        if (inst->context && inst->context->gdi)
            gdi_free(inst);
        freerdp_context_free(inst);
        freerdp_free(inst);
    }
    rdp_display_fini(&s->disp);
    pt_buf_fini(&s->out);
    session_unref(s);
    return NULL;
}

/* --- loop-thread API ----------------------------------------------------------------- */

struct rdp_session *
rdp_session_new(struct gw_tunnel *t, const char *host, int port, const char *secret,
                const struct gw_rdp_conf *conf, struct pt_err *err)
{
    struct rdp_session *s;
    const char *nl1 = NULL, *nl2 = NULL;

    if (!host || !host[0] || strlen(host) >= sizeof(s->host) || port <= 0 || port > 65535) {
        pt_err_set(err, PT_E_INVALID, "RDP endpoint '%s:%d' is not valid", host ? host : "", port);
        return NULL;
    }
    if (secret && strlen(secret) > RDP_SECRET_MAX) {
        pt_err_set(err, PT_E_INVALID, "RDP credentials longer than %d bytes", RDP_SECRET_MAX);
        return NULL;
    }
    s = pt_xcalloc(1, sizeof(*s));
    pthread_mutex_init(&s->lock, NULL);
    rdp_clip_init(s);
    atomic_init(&s->refs, 1);
    s->tunnel = t;
    s->sink_fd = -1;
    pt_strlcpy(s->host, host, sizeof(s->host));
    s->port = port;
    s->conf = *conf;
    snprintf(s->log_id, sizeof(s->log_id), "rdp=%s:%d", host, port);
    rdp_display_init(&s->disp, conf->jpeg_quality);
    if (secret && secret[0]) {
        nl1 = strchr(secret, '\n');
        nl2 = nl1 ? strchr(nl1 + 1, '\n') : NULL;
        s->user = pt_xstrndup(secret, nl1 ? (size_t)(nl1 - secret) : strlen(secret));
        if (nl1)
            s->password = pt_xstrndup(nl1 + 1, nl2 ? (size_t)(nl2 - nl1 - 1) : strlen(nl1 + 1));
        if (nl2 && nl2[1])
            s->domain = pt_xstrdup(nl2 + 1);
    }
    s->in_event = CreateEvent(NULL, TRUE, FALSE, NULL);
    if (!s->in_event) {
        pt_err_set(err, PT_E_INTERNAL, "cannot create the RDP session's event");
        session_unref(s);
        return NULL;
    }
    return s;
}

int
rdp_session_start(struct rdp_session *s, struct pt_err *err)
{
    atomic_fetch_add(&s->refs, 1);
    if (pthread_create(&s->thread, NULL, session_main, s) != 0) {
        atomic_fetch_sub(&s->refs, 1);
        return pt_err_set(err, PT_E_INTERNAL, "cannot start the RDP session thread");
    }
    s->thread_started = true;
    return 0;
}

int
rdp_session_input(struct rdp_session *s, const struct rdp_in_event *ev, struct pt_err *err)
{
    int rc = 0;

    pthread_mutex_lock(&s->lock);
    if (ev->type == RDP_IN_MOUSE && s->in_len > 0) {
        /* a move with the same buttons replaces the last queued move */
        struct rdp_in_event *last = &s->in[(s->in_head + s->in_len - 1) % RDP_INPUT_MAX];
        if (last->type == RDP_IN_MOUSE && last->c == ev->c) {
            *last = *ev;
            goto out;
        }
    }
    if (s->in_len == RDP_INPUT_MAX) {
        rc = pt_err_set(err, PT_E_LIMIT,
                        "more than %d input events pending: the desktop does "
                        "not keep up",
                        RDP_INPUT_MAX);
        goto out;
    }
    s->in[(s->in_head + s->in_len) % RDP_INPUT_MAX] = *ev;
    s->in_len++;
    SetEvent(s->in_event);
out:
    pthread_mutex_unlock(&s->lock);
    if (rc < 0 && ev->clip)
        pt_free_secret(ev->clip);
    return rc;
}

bool
rdp_session_finished(struct rdp_session *s, struct rdp_failure *f)
{
    bool done;

    pthread_mutex_lock(&s->lock);
    done = s->finished;
    if (done && f)
        *f = s->failure;
    pthread_mutex_unlock(&s->lock);
    return done;
}

void
rdp_session_detach(struct rdp_session *s)
{
    struct timespec dl;

    pthread_mutex_lock(&s->lock);
    s->tunnel = NULL;
    s->sink_fd = -1;
    atomic_store(&s->stop, true);
    SetEvent(s->in_event);
    if (s->instance)
        freerdp_abort_connect(s->instance);
    pthread_mutex_unlock(&s->lock);
    if (s->thread_started) {
        clock_gettime(CLOCK_REALTIME, &dl);
        dl.tv_sec += RDP_JOIN_MS / 1000;
        if (pthread_timedjoin_np(s->thread, NULL, &dl) != 0) {
            /* FreeRDP is stuck (e.g. in a blocking TLS read): leave it; the thread drops
             * its reference, and frees the session, whenever it returns */
            pt_log(LOG_WARNING, "%s event=rdp_thread_stuck detached", s->log_id);
            pthread_detach(s->thread);
        }
    }
    session_unref(s);
}
