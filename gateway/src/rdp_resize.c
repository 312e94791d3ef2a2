/*
 * rdp_resize.c - the browser's "size" changes the desktop's size.
 *
 * Browsers send "size" continuously while a window is dragged, so requests are debounced
 * (RDP_RESIZE_QUIET_MS without a newer one) and clamped. The change is then made by
 * reconnecting with the new desktop size (freerdp_reconnect): servers that size the
 * session to the client (xrdp resizes a TigerVNC Xvnc; Windows) come back at the new size,
 * and the browser gets "size" through the DesktopResize path. When the server offers
 * the display-control dynamic channel (disp, via drdynvc) and has sent its caps, a
 * monitor layout is sent instead and the server resizes in place (DesktopResize).
 *
 * A server may answer a layout with another size than asked: xrdp in front of a VNC
 * server that cannot resize (QEMU) refuses ("Invalid screen layout") and resizes the
 * client back to the VNC screen. That answer is accepted (the browser gets "size" at the
 * server's size), the same request is not sent again, and a server that kept its size for
 * a layout inside its caps is not asked again at all (like the reconnect path's
 * resize_fixed): each request costs a deactivation-reactivation. A request in the first
 * RDP_DISP_WAIT_MS after connect waits for the disp caps rather than reconnecting. After any resize
 * that changed the size, the session asks the server for the whole screen (Refresh Rect): the new
 * GDI surface is black, and a VNC screen that does not change sends nothing by itself.
 *
 * A reconnect needs the password again: the session keeps its copy for its lifetime
 * (wiped at the end) instead of wiping it right after the first connect. Session thread.
 */
#include <string.h>

#include <freerdp/client/disp.h>
#include <freerdp/freerdp.h>
#include <freerdp/gdi/gdi.h>
#include <freerdp/settings.h>

#include "common/log.h"
#include "rdp_priv.h"

#define RDP_RESIZE_QUIET_MS 300
#define RDP_SIZE_MIN        200
#define RDP_SIZE_MAX        8192
#define RDP_DISP_ANSWER_MS  3000 /* a layout unanswered this long counts as refused */
#define RDP_DISP_SETTLE_MS  1000 /* the asked size arrived: a revert may still follow */
#define RDP_DISP_WAIT_MS    2000 /* after connect, the disp caps may still be on the way */
#define RDP_REFRESH_MS      150  /* after a resize, before asking for the whole screen */

static UINT
cb_disp_caps(DispClientContext *dc, UINT32 max_monitors, UINT32 factor_a, UINT32 factor_b)
{
    struct rdp_session *s = dc->custom;

    pt_debug("%s event=disp_caps max_monitors=%u area=%ux%u", s->log_id, (unsigned)max_monitors,
             (unsigned)factor_a, (unsigned)factor_b);
    s->disp_max_w = (int)factor_a;
    s->disp_max_h = (int)factor_b;
    atomic_store(&s->disp_ready, true);
    return CHANNEL_RC_OK;
}

void
rdp_resize_channel(struct rdp_session *s, const char *name, void *iface)
{
    DispClientContext *dc = iface;

    if (strcmp(name, DISP_DVC_CHANNEL_NAME) != 0)
        return;
    pthread_mutex_lock(&s->lock);
    s->disp_ctx = dc;
    if (dc) {
        dc->custom = s;
        dc->DisplayControlCaps = cb_disp_caps;
    } else {
        atomic_store(&s->disp_ready, false);
    }
    pthread_mutex_unlock(&s->lock);
}

/* Ask the server to resize in place. Returns 0 when the layout was sent. */
static int
send_layout(struct rdp_session *s, int w, int h)
{
    DISPLAY_CONTROL_MONITOR_LAYOUT m;
    DispClientContext *dc;
    UINT rc = ERROR_NOT_READY;

    memset(&m, 0, sizeof(m));
    m.Flags = DISPLAY_CONTROL_MONITOR_PRIMARY;
    m.Width = (UINT32)w;
    m.Height = (UINT32)h;
    m.Orientation = ORIENTATION_LANDSCAPE;
    m.DesktopScaleFactor = 100;
    m.DeviceScaleFactor = 100;
    pthread_mutex_lock(&s->lock);
    dc = atomic_load(&s->disp_ready) ? s->disp_ctx : NULL;
    if (dc)
        rc = dc->SendMonitorLayout(dc, 1, &m);
    pthread_mutex_unlock(&s->lock);
    return rc == CHANNEL_RC_OK ? 0 : -1;
}

void
rdp_resize_request(struct rdp_session *s, int64_t w, int64_t h, int64_t now_ms)
{
    w = w < RDP_SIZE_MIN ? RDP_SIZE_MIN : w > RDP_SIZE_MAX ? RDP_SIZE_MAX : w;
    h = h < RDP_SIZE_MIN ? RDP_SIZE_MIN : h > RDP_SIZE_MAX ? RDP_SIZE_MAX : h;
    s->resize_w = (int)(w & ~1); /* even widths: some servers refuse odd ones */
    s->resize_h = (int)h;
    s->resize_at = now_ms + RDP_RESIZE_QUIET_MS;
}

/* The server's answer to a layout is final: @w x @h is what it gave. */
static void
disp_settle(struct rdp_session *s, int w, int h)
{
    s->disp_settle_at = 0;
    if (w == s->disp_ask_w && h == s->disp_ask_h)
        return;
    /* the server's size wins; asking again would only fight it */
    s->disp_refused_w = s->disp_ask_w;
    s->disp_refused_h = s->disp_ask_h;
    if (s->disp_ask_w <= s->disp_max_w && s->disp_ask_h <= s->disp_max_h && w == s->disp_from_w &&
        h == s->disp_from_h)
        s->disp_fixed = true; /* it keeps its size for a layout its caps allow */
    pt_log(LOG_INFO, "%s event=rdp_resize_refused_by_server asked=%dx%d got=%dx%d fixed=%d",
           s->log_id, s->disp_ask_w, s->disp_ask_h, w, h, s->disp_fixed ? 1 : 0);
}

void
rdp_resize_answered(struct rdp_session *s, int old_w, int old_h, int w, int h, int64_t now_ms)
{
    /* xrdp -> QEMU VNC first resizes the client to the layout, then, when the VNC server
     * refuses, back to the VNC screen's size (within ms): the asked size is watched a
     * little longer before it counts as granted */
    if (s->disp_settle_at) {
        if (w == s->disp_ask_w && h == s->disp_ask_h)
            s->disp_settle_at = now_ms + RDP_DISP_SETTLE_MS;
        else
            disp_settle(s, w, h);
    }
    if (w != old_w || h != old_h)
        s->refresh_at = now_ms + RDP_REFRESH_MS;
}

/* The whole screen again from the server (Refresh Rect PDU). */
static void
refresh_all(struct rdp_session *s, rdpContext *c)
{
    RECTANGLE_16 r = {0, 0, (UINT16)s->disp.width, (UINT16)s->disp.height};

    pt_debug("%s event=rdp_refresh size=%dx%d", s->log_id, s->disp.width, s->disp.height);
    if (c->update && c->update->RefreshRect)
        c->update->RefreshRect(c, 1, &r);
}

int
rdp_resize_due(struct rdp_session *s, void *instance, int64_t now_ms, int *wait_ms)
{
    freerdp *inst = instance;
    rdpContext *c = inst->context;
    rdpSettings *st = c->settings;
    int w = s->resize_w, h = s->resize_h;

    if (s->refresh_at) {
        if (now_ms >= s->refresh_at) {
            s->refresh_at = 0;
            refresh_all(s, c);
        } else if (*wait_ms > s->refresh_at - now_ms) {
            *wait_ms = (int)(s->refresh_at - now_ms);
        }
    }
    if (s->disp_settle_at && now_ms >= s->disp_settle_at)
        disp_settle(s, s->disp.width, s->disp.height);
    if (!s->resize_at)
        return 0;
    if (now_ms < s->resize_at) {
        if (*wait_ms > s->resize_at - now_ms)
            *wait_ms = (int)(s->resize_at - now_ms);
        return 0;
    }
    if (s->disp_settle_at) { /* one layout at a time: wait for the server's answer */
        s->resize_at = now_ms + 100;
        return 0;
    }
    s->resize_at = 0;
    if (w == s->disp.width && h == s->disp.height)
        return 0;
    if (s->resize_fixed && !atomic_load(&s->disp_ready))
        return 0; /* a reconnect already showed the server keeps its size */
    if (!atomic_load(&s->disp_ready) && !s->conf.resize_by_reconnect &&
        now_ms < s->connected_at + RDP_DISP_WAIT_MS) {
        /* the browser sends its size at once; the disp caps come a moment after connect:
         * a reconnect now would cost seconds and race the channel (demo: xrdp -> QEMU) */
        s->resize_at = s->connected_at + RDP_DISP_WAIT_MS;
        return 0;
    }
    if (atomic_load(&s->disp_ready) &&
        (s->disp_fixed || (w == s->disp_refused_w && h == s->disp_refused_h)))
        return 0; /* the server answered this (or every) layout with its own size */
    if (send_layout(s, w, h) == 0) {
        pt_log(LOG_INFO, "%s event=rdp_resize_disp from=%dx%d to=%dx%d", s->log_id, s->disp.width,
               s->disp.height, w, h);
        s->disp_ask_w = w;
        s->disp_ask_h = h;
        s->disp_from_w = s->disp.width;
        s->disp_from_h = s->disp.height;
        s->disp_settle_at = now_ms + RDP_DISP_ANSWER_MS;
        return 0; /* the server resizes: DesktopResize follows */
    }
    pt_log(LOG_INFO, "%s event=rdp_resize_reconnect from=%dx%d to=%dx%d", s->log_id, s->disp.width,
           s->disp.height, w, h);
    freerdp_settings_set_uint32(st, FreeRDP_DesktopWidth, (UINT32)w);
    freerdp_settings_set_uint32(st, FreeRDP_DesktopHeight, (UINT32)h);
    if (s->password && s->password[0])
        freerdp_settings_set_string(st, FreeRDP_Password, s->password);
    if (!freerdp_reconnect(inst)) {
        rdp_wipe_settings_password(st);
        return -1;
    }
    rdp_wipe_settings_password(st);
    /* the server answers with its size (ours, or what it could do): draw at that */
    if ((int)freerdp_settings_get_uint32(st, FreeRDP_DesktopWidth) != w ||
        (int)freerdp_settings_get_uint32(st, FreeRDP_DesktopHeight) != h) {
        /* e.g. freerdp-shadow: its screen is what it is; do not reconnect per drag */
        pt_log(LOG_INFO, "%s event=rdp_resize_ignored_by_server asked=%dx%d", s->log_id, w, h);
        s->resize_fixed = true;
    }
    w = (int)freerdp_settings_get_uint32(st, FreeRDP_DesktopWidth);
    h = (int)freerdp_settings_get_uint32(st, FreeRDP_DesktopHeight);
    if (!gdi_resize(c->gdi, (UINT32)w, (UINT32)h))
        return -1;
    s->refresh_at = now_ms + RDP_REFRESH_MS; /* a new connection: the whole screen again */
    rdp_display_resize(&s->disp, w, h, &s->out);
    return 0;
}
