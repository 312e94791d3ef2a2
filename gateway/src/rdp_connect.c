/*
 * rdp_connect.c - FreeRDP settings for one connection, and the retry without optional
 * channels.
 *
 * FreeRDP 2.11 fails the whole connection when the server joins fewer static channels
 * than the client asked for ("requested N channels, got 0 instead" in the MCS Connect
 * Response): xrdp does that without allow_channels=true, and so may any server whose
 * administrator disabled clipboard or sound redirection. A session that asked for
 * optional channels (cliprdr, rdpsnd + rdpdr, drdynvc + disp) and failed in the MCS
 * phase is therefore tried once more without them. FreeRDP reports that failure only as
 * "transport failed" (as it does a hang-up during sign-in), so the cause is read from its
 * own log line (logger com.freerdp.core.gcc, "requested N channels, got M instead"),
 * which a callback appender turns into a per-thread flag. The browser is told which features
 * are off with "channels-off,<feature>..." (an instruction the stock client ignores; a
 * viewer may show it), and the log says so.
 */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <freerdp/error.h>
#include <freerdp/freerdp.h>
#include <freerdp/settings.h>
#include <winpr/wlog.h>

#include "common/log.h"
#include "common/mem.h"
#include "guac_proto.h"
#include "rdp_priv.h"

/* Set by FreeRDP's gcc logger on the thread whose connect saw fewer channels joined.
 * Thread-local, not session state, because the logger has no user pointer; each session
 * connects on its own thread and clears it before each connect. */
static _Thread_local bool channels_refused;

static BOOL
gcc_log_message(const wLogMessage *msg)
{
    if (msg->TextString && strstr(msg->TextString, " channels, got "))
        channels_refused = true;
    return TRUE;
}

void
rdp_connect_log_hook(void)
{
    static const wLogCallbacks cb = {.message = gcc_log_message};
    wLog *log = WLog_Get("com.freerdp.core.gcc");

    if (!log)
        return;
    WLog_SetLogLevel(log, WLOG_ERROR);
    if (WLog_SetLogAppenderType(log, WLOG_APPENDER_CALLBACK))
        WLog_ConfigureAppender(WLog_GetLogAppender(log), "callbacks", (void *)&cb);
}

void
rdp_connect_begin(void)
{
    channels_refused = false;
}

static bool
want_clipboard(const struct rdp_session *s)
{
    return !s->channels_off && s->conf.clipboard_dir != GW_RDP_CLIP_NONE;
}

static bool
want_dynamic(const struct rdp_session *s)
{
    return !s->channels_off && !s->conf.resize_by_reconnect;
}

bool
rdp_connect_want_audio(const struct rdp_session *s)
{
    return !s->channels_off && s->conf.audio;
}

void
rdp_connect_configure(struct rdp_session *s, void *rdp_settings)
{
    rdpSettings *st = rdp_settings;
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
    /* Channels: only those we serve (each one more is a reason for a strict server to
     * refuse, see above); encomsp/remdesk are on by default. AudioPlayback stays off:
     * it would also load the dynamic rdpsnd with FreeRDP's default device; the static
     * rdpsnd with ours is added in PreConnect (rdp_audio_channel_add), and FreeRDP then
     * adds rdpdr, which servers want before they send sound. */
    freerdp_settings_set_bool(st, FreeRDP_EncomspVirtualChannel, FALSE);
    freerdp_settings_set_bool(st, FreeRDP_RemdeskVirtualChannel, FALSE);
    freerdp_settings_set_bool(st, FreeRDP_AudioPlayback, FALSE);
    /* FreeRDP adds rdpdr for heartbeats, network auto-detection and multitransport, and a
     * "fake" rdpsnd beside any rdpdr: a server would then stream sound nobody hears, and
     * a strict server sees two more channels to refuse. Without audio, none of them. */
    freerdp_settings_set_bool(st, FreeRDP_DeviceRedirection, FALSE);
    if (!rdp_connect_want_audio(s)) {
        freerdp_settings_set_bool(st, FreeRDP_NetworkAutoDetect, FALSE);
        freerdp_settings_set_bool(st, FreeRDP_SupportHeartbeatPdu, FALSE);
        freerdp_settings_set_bool(st, FreeRDP_SupportMultitransport, FALSE);
    }
    /* drdynvc + disp: resize in place where the server offers it (rdp_resize.c) */
    freerdp_settings_set_bool(st, FreeRDP_SupportDynamicChannels, want_dynamic(s));
    freerdp_settings_set_bool(st, FreeRDP_SupportDisplayControl, want_dynamic(s));
    freerdp_settings_set_bool(st, FreeRDP_RedirectClipboard, want_clipboard(s));
}

bool
rdp_tcp_reachable(const char *host, int port)
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

bool
rdp_connect_retry_without_channels(struct rdp_session *s, uint32_t last_error)
{
    bool asked = want_clipboard(s) || want_dynamic(s) || rdp_connect_want_audio(s);

    /* the channel count is checked in the MCS Connect Response; FreeRDP 2.11 then fails
     * the channel join and reports "transport failed" (other versions: MCS or a bare
     * connect failure). Its log line says which it was. */
    if (!asked || !channels_refused || s->cert_changed || atomic_load(&s->stop))
        return false;
    return last_error == FREERDP_ERROR_CONNECT_TRANSPORT_FAILED ||
           last_error == FREERDP_ERROR_MCS_CONNECT_INITIAL_ERROR ||
           last_error == FREERDP_ERROR_CONNECT_FAILED;
}

void
rdp_connect_channels_off(struct rdp_session *s, uint32_t last_error, struct pt_buf *out)
{
    const char *off[4];
    size_t n = 0;

    if (want_clipboard(s))
        off[n++] = "clipboard";
    if (rdp_connect_want_audio(s))
        off[n++] = "audio";
    if (want_dynamic(s))
        off[n++] = "display-control";
    s->channels_off = true;
    pt_log(LOG_NOTICE,
           "%s event=rdp_channels_refused code=0x%08x retry=without_channels off=%s%s%s%s%s",
           s->log_id, last_error, n > 0 ? off[0] : "", n > 1 ? "," : "", n > 1 ? off[1] : "",
           n > 2 ? "," : "", n > 2 ? off[2] : "");
    guac_enc_op(out, "channels-off", strlen("channels-off"));
    for (size_t i = 0; i < n; i++)
        guac_enc_str(out, off[i], strlen(off[i]));
    guac_enc_end(out);
}
