/*
 * rdp_clip.c - clipboard both ways between the browser (Guacamole "clipboard" streams of
 * base64 UTF-8 text) and the desktop (FreeRDP 2's cliprdr static virtual channel).
 *
 * Desktop -> browser: the server announces a format list; we answer it and, when the
 * policy allows, ask for CF_UNICODETEXT (CF_TEXT as a fallback); the data response is
 * UTF-16LE (or Latin-1), becomes UTF-8, is cut to clipboard_max bytes at a character
 * boundary, and goes to the browser as clipboard + blob... + end on stream
 * RDP_CLIP_STREAM.
 * Browser -> desktop: the decoded text is kept (it is the user's data: wiped when
 * replaced or at the end) and announced with a format list holding CF_UNICODETEXT; the
 * server fetches it with a format data request, which we answer in UTF-16LE.
 *
 * Threads: cliprdr calls its Server* callbacks on the channel's own thread; the session
 * thread offers browser text. Both go through clip->lock; output reaches the tunnel via
 * rdp_session_post(), which is thread-safe and posts whole instructions.
 */
#include <stdlib.h>
#include <string.h>

#include <freerdp/channels/channels.h>
#include <freerdp/client/channels.h>
#include <freerdp/client/cliprdr.h>
#include <freerdp/client/cmdline.h>
#include <freerdp/event.h>
#include <freerdp/freerdp.h>
#include <winpr/user.h>

#include "common/log.h"
#include "common/mem.h"
#include "guac_proto.h"
#include "rdp_priv.h"

#define RDP_CLIP_STREAM 128 /* display images use 0..63, the cursor 64..127 */

/* --- cliprdr callbacks (channel thread) ----------------------------------------------- */

static struct rdp_session *
clip_session(CliprdrClientContext *cc)
{
    return cc->custom;
}

static bool
may_send_to_browser(const struct rdp_session *s)
{
    return s->conf.clipboard_dir == GW_RDP_CLIP_BOTH ||
           s->conf.clipboard_dir == GW_RDP_CLIP_FROM_DESKTOP;
}

/* Announce what we hold: CF_UNICODETEXT when the browser gave us text, else nothing. */
static UINT
send_format_list(CliprdrClientContext *cc, bool have_text)
{
    CLIPRDR_FORMAT fmt = {.formatId = CF_UNICODETEXT, .formatName = NULL};
    CLIPRDR_FORMAT_LIST fl;

    memset(&fl, 0, sizeof(fl));
    fl.msgType = CB_FORMAT_LIST;
    fl.numFormats = have_text ? 1 : 0;
    fl.formats = have_text ? &fmt : NULL;
    return cc->ClientFormatList(cc, &fl);
}

static UINT
cb_monitor_ready(CliprdrClientContext *cc, const CLIPRDR_MONITOR_READY *mr)
{
    struct rdp_session *s = clip_session(cc);
    CLIPRDR_GENERAL_CAPABILITY_SET gen;
    CLIPRDR_CAPABILITIES caps;
    bool have;
    UINT rc;

    (void)mr;
    memset(&gen, 0, sizeof(gen));
    gen.capabilitySetType = CB_CAPSTYPE_GENERAL;
    gen.capabilitySetLength = 12;
    gen.version = CB_CAPS_VERSION_2;
    gen.generalFlags = CB_USE_LONG_FORMAT_NAMES;
    memset(&caps, 0, sizeof(caps));
    caps.cCapabilitiesSets = 1;
    caps.capabilitySets = (CLIPRDR_CAPABILITY_SET *)&gen;
    rc = cc->ClientCapabilities(cc, &caps);
    if (rc != CHANNEL_RC_OK)
        return rc;
    pthread_mutex_lock(&s->clip.lock);
    s->clip.ready = true;
    have = s->clip.local != NULL;
    pthread_mutex_unlock(&s->clip.lock);
    pt_debug("%s event=cliprdr_ready", s->log_id);
    return send_format_list(cc, have);
}

static UINT
cb_server_caps(CliprdrClientContext *cc, const CLIPRDR_CAPABILITIES *caps)
{
    (void)cc, (void)caps;
    return CHANNEL_RC_OK;
}

static UINT
cb_server_format_list(CliprdrClientContext *cc, const CLIPRDR_FORMAT_LIST *fl)
{
    struct rdp_session *s = clip_session(cc);
    CLIPRDR_FORMAT_LIST_RESPONSE resp;
    CLIPRDR_FORMAT_DATA_REQUEST req;
    UINT32 want = 0;
    UINT rc;

    memset(&resp, 0, sizeof(resp));
    resp.msgType = CB_FORMAT_LIST_RESPONSE;
    resp.msgFlags = CB_RESPONSE_OK;
    rc = cc->ClientFormatListResponse(cc, &resp);
    if (rc != CHANNEL_RC_OK || !may_send_to_browser(s))
        return rc;
    for (UINT32 i = 0; i < fl->numFormats; i++) {
        if (fl->formats[i].formatId == CF_UNICODETEXT)
            want = CF_UNICODETEXT;
        else if (fl->formats[i].formatId == CF_TEXT && want == 0)
            want = CF_TEXT;
    }
    pt_debug("%s event=cliprdr_server_formats n=%u text_format=%u", s->log_id,
             (unsigned)fl->numFormats, (unsigned)want);
    if (want == 0)
        return CHANNEL_RC_OK;
    pthread_mutex_lock(&s->clip.lock);
    s->clip.requested = want;
    pthread_mutex_unlock(&s->clip.lock);
    memset(&req, 0, sizeof(req));
    req.msgType = CB_FORMAT_DATA_REQUEST;
    req.requestedFormatId = want;
    return cc->ClientFormatDataRequest(cc, &req);
}

static UINT
cb_server_format_data_response(CliprdrClientContext *cc, const CLIPRDR_FORMAT_DATA_RESPONSE *r)
{
    struct rdp_session *s = clip_session(cc);
    struct pt_buf text = PT_BUF_INIT, b = PT_BUF_INIT;
    UINT32 fmt;

    pthread_mutex_lock(&s->clip.lock);
    fmt = s->clip.requested;
    s->clip.requested = 0;
    pthread_mutex_unlock(&s->clip.lock);
    if (fmt == 0 || !(r->msgFlags & CB_RESPONSE_OK) || !r->requestedFormatData)
        return CHANNEL_RC_OK;
    if (fmt == CF_UNICODETEXT) {
        rdp_utf16le_to_utf8(&text, r->requestedFormatData, r->dataLen, s->conf.clipboard_max);
    } else { /* CF_TEXT: treat as Latin-1 */
        for (UINT32 i = 0; i < r->dataLen && r->requestedFormatData[i]; i++) {
            size_t before = text.len;
            rdp_put_utf8(&text, r->requestedFormatData[i]);
            if (text.len > s->conf.clipboard_max) {
                text.len = before;
                break;
            }
        }
    }
    guac_enc(&b, "clipboard", "is", (long long)RDP_CLIP_STREAM, "text/plain");
    for (size_t off = 0; off < text.len; off += GUAC_BLOB_MAX) {
        size_t n = text.len - off < GUAC_BLOB_MAX ? text.len - off : GUAC_BLOB_MAX;
        guac_enc_op(&b, "blob", 4);
        guac_enc_int(&b, RDP_CLIP_STREAM);
        guac_enc_base64(&b, text.data + off, n);
        guac_enc_end(&b);
    }
    guac_enc(&b, "end", "i", (long long)RDP_CLIP_STREAM);
    pt_debug("%s event=clipboard_to_browser bytes=%zu", s->log_id, text.len);
    rdp_session_post(s, &b);
    if (text.data)
        pt_wipe(text.data, text.len);
    pt_buf_fini(&text);
    if (b.data)
        pt_wipe(b.data, b.len);
    pt_buf_fini(&b);
    return CHANNEL_RC_OK;
}

static UINT
cb_server_format_data_request(CliprdrClientContext *cc, const CLIPRDR_FORMAT_DATA_REQUEST *rq)
{
    struct rdp_session *s = clip_session(cc);
    CLIPRDR_FORMAT_DATA_RESPONSE resp;
    struct pt_buf u16 = PT_BUF_INIT;
    UINT rc;

    memset(&resp, 0, sizeof(resp));
    resp.msgType = CB_FORMAT_DATA_RESPONSE;
    resp.msgFlags = CB_RESPONSE_FAIL;
    pthread_mutex_lock(&s->clip.lock);
    if (s->clip.local && rq->requestedFormatId == CF_UNICODETEXT &&
        rdp_utf8_to_utf16le(&u16, s->clip.local, s->clip.local_len) == 0) {
        resp.msgFlags = CB_RESPONSE_OK;
        resp.dataLen = (UINT32)u16.len;
        resp.requestedFormatData = (const BYTE *)u16.data;
    }
    pthread_mutex_unlock(&s->clip.lock);
    pt_debug("%s event=clipboard_to_desktop format=%u bytes=%u", s->log_id,
             (unsigned)rq->requestedFormatId, (unsigned)resp.dataLen);
    rc = cc->ClientFormatDataResponse(cc, &resp);
    if (u16.data)
        pt_wipe(u16.data, u16.len);
    pt_buf_fini(&u16);
    return rc;
}

/* --- channel plumbing (session thread) ----------------------------------------------- */

static void
on_channel_connected(void *context, ChannelConnectedEventArgs *e)
{
    struct rdp_session *s = rdp_ctx_session(context);
    CliprdrClientContext *cc;

    if (strcmp(e->name, CLIPRDR_SVC_CHANNEL_NAME) != 0) {
        rdp_resize_channel(s, e->name, e->pInterface);
        return;
    }
    cc = e->pInterface;
    cc->custom = s;
    cc->MonitorReady = cb_monitor_ready;
    cc->ServerCapabilities = cb_server_caps;
    cc->ServerFormatList = cb_server_format_list;
    cc->ServerFormatDataResponse = cb_server_format_data_response;
    cc->ServerFormatDataRequest = cb_server_format_data_request;
    pthread_mutex_lock(&s->clip.lock);
    s->clip.cliprdr = cc;
    pthread_mutex_unlock(&s->clip.lock);
}

static void
on_channel_disconnected(void *context, ChannelDisconnectedEventArgs *e)
{
    struct rdp_session *s = rdp_ctx_session(context);

    if (strcmp(e->name, CLIPRDR_SVC_CHANNEL_NAME) == 0) {
        pthread_mutex_lock(&s->clip.lock);
        s->clip.cliprdr = NULL;
        s->clip.ready = false;
        pthread_mutex_unlock(&s->clip.lock);
    } else {
        rdp_resize_channel(s, e->name, NULL);
    }
}

int
rdp_channels_load(struct rdp_session *s, void *rdp_context)
{
    rdpContext *c = rdp_context;

    (void)s;
    PubSub_SubscribeChannelConnected(c->pubSub, on_channel_connected);
    PubSub_SubscribeChannelDisconnected(c->pubSub, on_channel_disconnected);
    return freerdp_client_load_addins(c->channels, c->settings) ? 0 : -1;
}

void
rdp_clip_init(struct rdp_session *s)
{
    pthread_mutex_init(&s->clip.lock, NULL);
}

void
rdp_clip_fini(struct rdp_session *s)
{
    pt_free_secret(s->clip.local);
    s->clip.local = NULL;
    pthread_mutex_destroy(&s->clip.lock);
}

void
rdp_clip_from_browser(struct rdp_session *s, const char *b64, size_t len)
{
    struct pt_buf text = PT_BUF_INIT, check = PT_BUF_INIT;
    CliprdrClientContext *cc = NULL;

    if (s->conf.clipboard_dir == GW_RDP_CLIP_NONE ||
        s->conf.clipboard_dir == GW_RDP_CLIP_FROM_DESKTOP) {
        pt_debug("%s event=clipboard_from_browser dropped=policy", s->log_id);
        return;
    }
    if (rdp_base64_decode(&text, b64, len) < 0 || text.len > s->conf.clipboard_max ||
        rdp_utf8_to_utf16le(&check, text.data ? text.data : "", text.len) < 0) {
        pt_log(LOG_NOTICE, "%s event=clipboard_from_browser dropped=invalid bytes=%zu", s->log_id,
               text.len);
        goto out;
    }
    pt_buf_append(&text, "", 1); /* NUL-terminate; local_len excludes it */
    pthread_mutex_lock(&s->clip.lock);
    pt_free_secret(s->clip.local);
    s->clip.local_len = text.len - 1;
    s->clip.local = pt_buf_steal(&text);
    if (s->clip.ready)
        cc = s->clip.cliprdr;
    pthread_mutex_unlock(&s->clip.lock);
    pt_debug("%s event=clipboard_from_browser bytes=%zu announced=%d", s->log_id, s->clip.local_len,
             cc != NULL);
    if (cc) /* not ready yet: MonitorReady announces it */
        send_format_list(cc, true);
out:
    if (text.data)
        pt_wipe(text.data, text.len);
    pt_buf_fini(&text);
    if (check.data)
        pt_wipe(check.data, check.len);
    pt_buf_fini(&check);
}
