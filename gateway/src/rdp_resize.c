/*
 * rdp_resize.c - the browser's "size" changes the desktop's size.
 *
 * Browsers send "size" continuously while a window is dragged, so requests are debounced
 * (RDP_RESIZE_QUIET_MS without a newer one) and clamped. The change is then made by
 * reconnecting with the new desktop size (freerdp_reconnect): servers that size the
 * session to the client (xrdp resizes a TigerVNC Xvnc; Windows) come back at the new size,
 * and the browser gets "size" through the DesktopResize path. The display-control
 * dynamic channel (disp, via drdynvc) would avoid the reconnect; no server on this
 * machine offers it (xrdp 0.9.21 only for xorgxrdp sessions, freerdp-shadow not at all),
 * so it is not wired yet (docs/rdp.md).
 *
 * A reconnect needs the password again: the session keeps its copy for its lifetime
 * (wiped at the end) instead of wiping it right after the first connect. Session thread.
 */
#include <string.h>

#include <freerdp/freerdp.h>
#include <freerdp/gdi/gdi.h>
#include <freerdp/settings.h>

#include "common/log.h"
#include "rdp_priv.h"

#define RDP_RESIZE_QUIET_MS 300
#define RDP_SIZE_MIN        200
#define RDP_SIZE_MAX        8192

void
rdp_resize_request(struct rdp_session *s, int64_t w, int64_t h, int64_t now_ms)
{
    w = w < RDP_SIZE_MIN ? RDP_SIZE_MIN : w > RDP_SIZE_MAX ? RDP_SIZE_MAX : w;
    h = h < RDP_SIZE_MIN ? RDP_SIZE_MIN : h > RDP_SIZE_MAX ? RDP_SIZE_MAX : h;
    s->resize_w = (int)(w & ~1); /* even widths: some servers refuse odd ones */
    s->resize_h = (int)h;
    s->resize_at = now_ms + RDP_RESIZE_QUIET_MS;
}

int
rdp_resize_due(struct rdp_session *s, void *instance, int64_t now_ms, int *wait_ms)
{
    freerdp *inst = instance;
    rdpContext *c = inst->context;
    rdpSettings *st = c->settings;
    int w = s->resize_w, h = s->resize_h;

    if (!s->resize_at)
        return 0;
    if (now_ms < s->resize_at) {
        if (*wait_ms > s->resize_at - now_ms)
            *wait_ms = (int)(s->resize_at - now_ms);
        return 0;
    }
    s->resize_at = 0;
    if (w == s->disp.width && h == s->disp.height)
        return 0;
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
    w = (int)freerdp_settings_get_uint32(st, FreeRDP_DesktopWidth);
    h = (int)freerdp_settings_get_uint32(st, FreeRDP_DesktopHeight);
    if (!gdi_resize(c->gdi, (UINT32)w, (UINT32)h))
        return -1;
    rdp_display_resize(&s->disp, w, h, &s->out);
    return 0;
}
