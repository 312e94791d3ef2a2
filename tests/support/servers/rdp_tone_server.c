/*
 * rdp_tone_server.c - TEST SERVER: a minimal RDP server, built on FreeRDP 2's server
 * library, that plays a known tone over rdpsnd. It exists because no packaged RDP
 * server here can play sound: xrdp needs pulseaudio-module-xrdp to feed its chansrv
 * (not in Debian 12), and freerdp-shadow's X11 subsystem captures no audio (its rdpsnd
 * server part only negotiates formats). Everything on the client side of the wire is the
 * real thing; this server stands in for a desktop that plays a sound.
 *
 * What it does, per connection: TLS security (RSA key and certificate from the command
 * line), no picture, the static rdpsnd channel through FreeRDP's rdpsnd server (format
 * list, training, Wave PDUs), offering PCM 44.1 kHz stereo and 22.05 kHz mono, 16-bit;
 * once the client answered, a Training PDU, then a sine of FREQ Hz in real time. It
 * writes what it saw to LOG, one line each, for the test to read:
 *   listening / channels <names> / client_formats <n> / selected <rate>/<channels>/<bits>
 *   training_confirm <ts> / wave_confirms <n> (every 10th) / closed
 *
 *   rdp_tone_server PORT CERT.pem KEY.pem LOG [FREQ]
 */
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <freerdp/channels/channels.h>
#include <freerdp/channels/wtsvc.h>
#include <freerdp/freerdp.h>
#include <freerdp/listener.h>
#include <freerdp/server/rdpsnd.h>
#include <freerdp/settings.h>
#include <winpr/crt.h>
#include <winpr/ssl.h>
#include <winpr/synch.h>
#include <winpr/sysinfo.h>
#include <winpr/wtsapi.h>

#ifndef WAVE_FORMAT_PCM
#define WAVE_FORMAT_PCM 1
#endif

static const char *cert_path, *key_path;
static FILE *log_file;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static double tone_hz = 1000.0;

static AUDIO_FORMAT formats[] = {
    {WAVE_FORMAT_PCM, 2, 44100, 176400, 4, 16, 0, NULL},
    {WAVE_FORMAT_PCM, 1, 22050, 44100, 2, 16, 0, NULL},
};

struct tone_ctx {
    rdpContext base; /* first: FreeRDP allocates ContextSize bytes */
    HANDLE vcm;
    RdpsndServerContext *snd;
    atomic_int selected; /* index into formats + 1 once the client answered */
    int format_no;       /* the client's index of that format */
    atomic_int confirms;
};

static void
logf_(const char *fmt, ...)
{
    va_list ap;

    pthread_mutex_lock(&log_lock);
    va_start(ap, fmt);
    vfprintf(log_file, fmt, ap);
    va_end(ap);
    fputc('\n', log_file);
    fflush(log_file);
    pthread_mutex_unlock(&log_lock);
}

static int64_t
mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
snd_activated(RdpsndServerContext *snd)
{
    struct tone_ctx *c = snd->data;
    BYTE probe[1024] = {0};

    logf_("client_formats %u", (unsigned)snd->num_client_formats);
    for (UINT16 i = 0; i < snd->num_client_formats; i++) {
        const AUDIO_FORMAT *f = &snd->client_formats[i];

        if (f->wFormatTag != WAVE_FORMAT_PCM || f->wBitsPerSample != 16)
            continue;
        for (size_t k = 0; k < sizeof(formats) / sizeof(formats[0]); k++) {
            if (f->nSamplesPerSec == formats[k].nSamplesPerSec &&
                f->nChannels == formats[k].nChannels) {
                snd->src_format = &formats[k];
                snd->SelectFormat(snd, i);
                c->format_no = i;
                logf_("selected %u/%u/%u", (unsigned)f->nSamplesPerSec, (unsigned)f->nChannels,
                      (unsigned)f->wBitsPerSample);
                snd->Training(snd, (UINT16)GetTickCount(), sizeof(probe), probe);
                atomic_store(&c->selected, (int)k + 1);
                return;
            }
        }
    }
    logf_("selected none");
}

static UINT
snd_training_confirm(RdpsndServerContext *snd, UINT16 ts, UINT16 packsize)
{
    (void)snd;
    logf_("training_confirm %u %u", (unsigned)ts, (unsigned)packsize);
    return CHANNEL_RC_OK;
}

static UINT
snd_confirm_block(RdpsndServerContext *snd, BYTE block, UINT16 ts)
{
    struct tone_ctx *c = snd->data;
    int n = atomic_fetch_add(&c->confirms, 1) + 1;

    (void)block, (void)ts;
    if (n == 1 || n % 10 == 0)
        logf_("wave_confirms %d", n);
    return CHANNEL_RC_OK;
}

static BOOL
peer_post_connect(freerdp_peer *client)
{
    struct tone_ctx *c = (struct tone_ctx *)client->context;
    rdpSettings *st = client->settings;
    static const char *const known[] = {"rdpsnd", "rdpdr", "cliprdr", "drdynvc", NULL};
    char names[256] = "";

    (void)st;
    for (int i = 0; known[i]; i++) {
        if (!WTSVirtualChannelManagerIsChannelJoined(c->vcm, known[i]))
            continue;
        strncat(names, " ", sizeof(names) - strlen(names) - 1);
        strncat(names, known[i], sizeof(names) - strlen(names) - 1);
    }
    logf_("channels%s", names);
    if (!WTSVirtualChannelManagerIsChannelJoined(c->vcm, "rdpsnd"))
        return TRUE;
    c->snd = rdpsnd_server_context_new(c->vcm);
    if (!c->snd)
        return FALSE;
    c->snd->rdpcontext = &c->base;
    c->snd->data = c;
    c->snd->server_formats = formats;
    c->snd->num_server_formats = sizeof(formats) / sizeof(formats[0]);
    c->snd->src_format = &formats[0];
    c->snd->latency = 50;
    c->snd->Activated = snd_activated;
    c->snd->TrainingConfirm = snd_training_confirm;
    c->snd->ConfirmBlock = snd_confirm_block;
    return c->snd->Initialize(c->snd, TRUE) == CHANNEL_RC_OK;
}

static BOOL
peer_activate(freerdp_peer *client)
{
    (void)client;
    return TRUE;
}

/* Send the tone up to now, in 20 ms Wave2 PDUs of raw PCM: real time, so the client's
 * confirms pace like a desktop's. (SendSamples would pass the PCM through FreeRDP's
 * dsp encoder, which with Debian's FFmpeg build shifts 16-bit samples; SendSamples2
 * sends them as they are.) */
static void
pump_tone(struct tone_ctx *c, int64_t start, uint64_t *sent)
{
    int k = atomic_load(&c->selected) - 1;
    const AUDIO_FORMAT *f;
    uint64_t due, chunk;
    int16_t buf[2 * 882];

    if (k < 0)
        return;
    f = &formats[k];
    chunk = f->nSamplesPerSec / 50;
    due = (uint64_t)(mono_ms() - start) * f->nSamplesPerSec / 1000;
    while (*sent + chunk <= due) {
        UINT16 ts = (UINT16)GetTickCount();

        for (size_t i = 0; i < chunk; i++) {
            double t = (double)(*sent + i) / f->nSamplesPerSec;
            int16_t v = (int16_t)(10000.0 * sin(2.0 * M_PI * tone_hz * t));

            for (int ch = 0; ch < f->nChannels; ch++)
                buf[i * f->nChannels + ch] = v;
        }
        if (c->snd->SendSamples2(c->snd, (UINT16)c->format_no, buf,
                                 chunk * f->nChannels * sizeof(int16_t), ts,
                                 (UINT32)GetTickCount()) != CHANNEL_RC_OK)
            return;
        *sent += chunk;
    }
}

static void *
peer_main(void *arg)
{
    freerdp_peer *client = arg;
    struct tone_ctx *c;
    rdpSettings *st;
    int64_t start = 0;
    uint64_t sent = 0;

    client->ContextSize = sizeof(struct tone_ctx);
    if (!freerdp_peer_context_new(client))
        goto out;
    c = (struct tone_ctx *)client->context;
    st = client->settings;
    freerdp_settings_set_string(st, FreeRDP_CertificateFile, cert_path);
    freerdp_settings_set_string(st, FreeRDP_PrivateKeyFile, key_path);
    freerdp_settings_set_string(st, FreeRDP_RdpKeyFile, key_path);
    freerdp_settings_set_bool(st, FreeRDP_RdpSecurity, FALSE);
    freerdp_settings_set_bool(st, FreeRDP_TlsSecurity, TRUE);
    freerdp_settings_set_bool(st, FreeRDP_NlaSecurity, FALSE);
    freerdp_settings_set_uint32(st, FreeRDP_ColorDepth, 32);
    client->PostConnect = peer_post_connect;
    client->Activate = peer_activate;
    if (!client->Initialize(client))
        goto out;
    c->vcm = WTSOpenServerA((LPSTR)client->context);
    if (!c->vcm || c->vcm == INVALID_HANDLE_VALUE)
        goto out;
    for (;;) {
        HANDLE h[32];
        DWORD n = client->GetEventHandles(client, h, 30);

        if (n == 0)
            break;
        h[n++] = WTSVirtualChannelManagerGetEventHandle(c->vcm);
        WaitForMultipleObjects(n, h, FALSE, 10);
        if (!client->CheckFileDescriptor(client) ||
            !WTSVirtualChannelManagerCheckFileDescriptor(c->vcm))
            break;
        if (atomic_load(&c->selected) && start == 0)
            start = mono_ms();
        if (start)
            pump_tone(c, start, &sent);
    }
    logf_("closed");
    if (c->snd) {
        c->snd->Stop(c->snd);
        rdpsnd_server_context_free(c->snd);
    }
    WTSCloseServer(c->vcm);
    client->Disconnect(client);
out:
    freerdp_peer_context_free(client);
    freerdp_peer_free(client);
    return NULL;
}

static BOOL
peer_accepted(freerdp_listener *l, freerdp_peer *client)
{
    pthread_t t;

    (void)l;
    if (pthread_create(&t, NULL, peer_main, client) != 0)
        return FALSE;
    pthread_detach(t);
    return TRUE;
}

int
main(int argc, char **argv)
{
    freerdp_listener *l;

    if (argc < 5) {
        fprintf(stderr, "usage: rdp_tone_server PORT CERT.pem KEY.pem LOG [FREQ]\n");
        return 2;
    }
    cert_path = argv[2];
    key_path = argv[3];
    log_file = fopen(argv[4], "a");
    if (!log_file)
        return 1;
    if (argc > 5)
        tone_hz = atof(argv[5]);
    signal(SIGPIPE, SIG_IGN);
    winpr_InitializeSSL(WINPR_SSL_INIT_DEFAULT);
    WTSRegisterWtsApiFunctionTable(FreeRDP_InitWtsApi());
    l = freerdp_listener_new();
    if (!l)
        return 1;
    l->PeerAccepted = peer_accepted;
    if (!l->Open(l, "127.0.0.1", (UINT16)atoi(argv[1]))) {
        logf_("listen_failed");
        return 1;
    }
    logf_("listening");
    for (;;) {
        HANDLE h[32];
        DWORD n = l->GetEventHandles(l, h, 32);

        if (n == 0)
            break;
        WaitForMultipleObjects(n, h, FALSE, INFINITE);
        if (!l->CheckFileDescriptor(l))
            break;
    }
    l->Close(l);
    freerdp_listener_free(l);
    return 0;
}
