/*
 * rdp_audio.c - the desktop's sound (rdpsnd) to the browser as a Guacamole audio stream.
 *
 * How it works: FreeRDP 2's rdpsnd client channel speaks the protocol (format list,
 * training and wave confirms, Wave/Wave2 PDUs); we give it a device plugin of our own,
 * subsystem "portico", found through the add-in provider registered at start
 * (rdp_audio_register_provider: ours for rdpsnd/portico, FreeRDP's static table for the
 * rest). The channel is loaded with "format:1", so only PCM formats are offered to the
 * server and the server converts; our FormatSupported() narrows that to what
 * guacamole-common-js's RawAudioPlayer plays: 8/16-bit, 1-2 channels, 8-48 kHz.
 *
 * Play() runs on the channel's thread: it copies the PCM into a buffer of at most
 * RDP_AUDIO_BUFFER_MS and wakes the session thread; a packet that does not fit is
 * dropped (counted). The session thread (rdp_audio_flush) sends what is buffered as
 * "audio,<stream>,audio/L16;rate=R,channels=C" once per format, then "blob"s, and "end"
 * when the server closes the device or changes format. When the browser lags, buffered
 * sound is dropped instead of sent: a gap in the sound, never a queue (display frames
 * are combined, not dropped, so audio goes first).
 *
 * Threads: struct rdp_audio's (locked) fields are shared by the channel thread and the
 * session thread through audio->lock; the rest belongs to the session thread.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <freerdp/addin.h>
#include <freerdp/channels/channels.h>
#include <freerdp/client/channels.h>
#include <freerdp/client/cmdline.h>
#include <freerdp/client/rdpsnd.h>
#include <freerdp/codec/audio.h>
#include <winpr/synch.h>

#include "common/log.h"
#include "common/mem.h"
#include "guac_proto.h"
#include "rdp_priv.h"

#define RDP_AUDIO_SUBSYSTEM "portico"
#define RDP_AUDIO_BUFFER_MS 250 /* PCM held for the session thread; more is dropped */

struct audio_device {
    rdpsndDevicePlugin dev; /* first: FreeRDP hands it back to our callbacks */
    struct rdp_session *s;
};

static struct rdp_audio *
dev_audio(rdpsndDevicePlugin *dev)
{
    return &((struct audio_device *)dev)->s->audio;
}

/* --- device plugin (rdpsnd channel thread) -------------------------------------------- */

bool
rdp_audio_format_playable(unsigned tag, unsigned channels, unsigned rate, unsigned bits)
{
    return tag == WAVE_FORMAT_PCM && (bits == 8 || bits == 16) && channels >= 1 && channels <= 2 &&
           rate >= 8000 && rate <= 48000;
}

static BOOL
dev_format_supported(rdpsndDevicePlugin *dev, const AUDIO_FORMAT *f)
{
    (void)dev;
    return rdp_audio_format_playable(f->wFormatTag, f->nChannels, f->nSamplesPerSec,
                                     f->wBitsPerSample);
}

static BOOL
dev_open(rdpsndDevicePlugin *dev, const AUDIO_FORMAT *f, UINT32 latency)
{
    struct rdp_audio *a = dev_audio(dev);
    size_t cap;

    (void)latency;
    if (!dev_format_supported(dev, f))
        return FALSE;
    cap = (size_t)f->nSamplesPerSec * f->nChannels * (f->wBitsPerSample / 8) * RDP_AUDIO_BUFFER_MS /
          1000;
    pthread_mutex_lock(&a->lock);
    if (cap > a->cap) {
        a->pcm = pt_xrealloc(a->pcm, cap);
        a->cap = cap;
    }
    a->len = 0;
    a->open = true;
    a->rate = (int)f->nSamplesPerSec;
    a->channels = f->nChannels;
    a->bits = f->wBitsPerSample;
    pthread_mutex_unlock(&a->lock);
    return TRUE;
}

static UINT
dev_play(rdpsndDevicePlugin *dev, const BYTE *data, size_t size)
{
    struct rdp_audio *a = dev_audio(dev);
    UINT queued_ms = 0;

    pthread_mutex_lock(&a->lock);
    if (a->open && size > 0) {
        if (size > a->cap - a->len) {
            a->drops++;
        } else {
            memcpy(a->pcm + a->len, data, size);
            a->len += size;
            SetEvent(a->event);
        }
        /* what waits here is latency the server should count in its confirms */
        queued_ms = (UINT)(a->len * 1000 / ((size_t)a->rate * a->channels * (a->bits / 8)));
    }
    pthread_mutex_unlock(&a->lock);
    return queued_ms;
}

static void
dev_close(rdpsndDevicePlugin *dev)
{
    struct rdp_audio *a = dev_audio(dev);

    pthread_mutex_lock(&a->lock);
    a->open = false; /* the session thread sends what is left, then "end" */
    SetEvent(a->event);
    pthread_mutex_unlock(&a->lock);
}

static BOOL
dev_set_volume(rdpsndDevicePlugin *dev, UINT32 value)
{
    (void)dev, (void)value; /* the browser's own volume applies */
    return TRUE;
}

static UINT32
dev_get_volume(rdpsndDevicePlugin *dev)
{
    (void)dev;
    return 0xFFFFFFFF; /* full, both channels */
}

static void
dev_free(rdpsndDevicePlugin *dev)
{
    free(dev);
}

/* rdpsnd's entry for subsystem "portico": the session comes in the channel's own
 * arguments ("dev:<address>", set by rdp_audio_channel_add). */
static UINT
audio_device_entry(PFREERDP_RDPSND_DEVICE_ENTRY_POINTS ep)
{
    struct audio_device *d;
    void *p = NULL;

    for (int i = 0; ep->args && i < ep->args->argc; i++)
        if (strncmp(ep->args->argv[i], "dev:", 4) == 0 &&
            sscanf(ep->args->argv[i] + 4, "%p", &p) != 1)
            p = NULL;
    if (!p)
        return CHANNEL_RC_INITIALIZATION_ERROR;
    d = pt_xcalloc(1, sizeof(*d));
    d->s = p;
    d->dev.rdpsnd = ep->rdpsnd;
    d->dev.FormatSupported = dev_format_supported;
    d->dev.Open = dev_open;
    d->dev.Play = dev_play;
    d->dev.Close = dev_close;
    d->dev.SetVolume = dev_set_volume;
    d->dev.GetVolume = dev_get_volume;
    d->dev.Free = dev_free;
    ep->pRegisterRdpsndDevice(ep->rdpsnd, &d->dev);
    return CHANNEL_RC_OK;
}

static PVIRTUALCHANNELENTRY
addin_provider(LPCSTR name, LPCSTR subsystem, LPCSTR type, DWORD flags)
{
    if (name && subsystem && strcmp(name, "rdpsnd") == 0 &&
        strcmp(subsystem, RDP_AUDIO_SUBSYSTEM) == 0)
        return (PVIRTUALCHANNELENTRY)(void *)audio_device_entry;
    return freerdp_channels_load_static_addin_entry(name, subsystem, type, flags);
}

void
rdp_audio_register_provider(void)
{
    /* one provider per process: ours answers rdpsnd/portico and hands every other
     * channel (cliprdr, drdynvc, disp, rdpdr, rdpsnd itself) to FreeRDP's built-in table */
    freerdp_register_addin_provider(addin_provider, 0);
}

int
rdp_audio_channel_add(struct rdp_session *s, void *rdp_settings)
{
    char dev[40];
    const char *argv[] = {"rdpsnd", "sys:" RDP_AUDIO_SUBSYSTEM, "format:1", dev};

    snprintf(dev, sizeof(dev), "dev:%p", (void *)s);
    return freerdp_client_add_static_channel(rdp_settings, 4, (char **)argv) ? 0 : -1;
}

/* --- session thread ------------------------------------------------------------------- */

int
rdp_audio_init(struct rdp_audio *a)
{
    memset(a, 0, sizeof(*a));
    pthread_mutex_init(&a->lock, NULL);
    a->event = CreateEvent(NULL, TRUE, FALSE, NULL);
    return a->event ? 0 : -1;
}

void
rdp_audio_fini(struct rdp_audio *a)
{
    if (a->event)
        CloseHandle(a->event);
    free(a->pcm);
    pt_buf_fini(&a->take);
    pthread_mutex_destroy(&a->lock);
    memset(a, 0, sizeof(*a));
}

void
rdp_audio_mimetype(char *out, size_t n, int rate, int channels, int bits)
{
    snprintf(out, n, "audio/L%d;rate=%d,channels=%d", bits, rate, channels);
}

static void
stream_end(struct rdp_audio *a, struct pt_buf *out)
{
    guac_enc(out, "end", "i", (long long)RDP_AUDIO_STREAM);
    a->stream_open = false;
}

uint64_t
rdp_audio_flush(struct rdp_audio *a, struct pt_buf *out, bool drop, struct rdp_metric_delta *d)
{
    int rate, channels, bits;
    bool open;
    uint64_t drops;
    size_t frame, off = 0;

    pthread_mutex_lock(&a->lock);
    ResetEvent(a->event);
    pt_buf_reset(&a->take);
    if (a->len)
        pt_buf_append(&a->take, a->pcm, a->len);
    a->len = 0;
    open = a->open, rate = a->rate, channels = a->channels, bits = a->bits;
    drops = a->drops;
    a->drops = 0;
    pthread_mutex_unlock(&a->lock);

    d->audio_drops += drops;
    if (a->take.len && drop) { /* the browser lags: a gap in the sound, not a queue */
        d->audio_drops++;
        a->take.len = 0;
    }
    frame = (size_t)channels * (size_t)(bits / 8);
    if (a->take.len && frame) {
        if (a->stream_open &&
            (rate != a->stream_rate || channels != a->stream_channels || bits != a->stream_bits))
            stream_end(a, out);
        if (!a->stream_open) {
            char mime[64];

            rdp_audio_mimetype(mime, sizeof(mime), rate, channels, bits);
            guac_enc(out, "audio", "is", (long long)RDP_AUDIO_STREAM, mime);
            a->stream_open = true;
            a->stream_rate = rate, a->stream_channels = channels, a->stream_bits = bits;
            d->audio_streams++;
        }
        if (bits == 8) /* RDP's 8-bit PCM is unsigned, audio/L8 signed */
            for (size_t i = 0; i < a->take.len; i++)
                a->take.data[i] = (char)((uint8_t)a->take.data[i] ^ 0x80);
        a->take.len -= a->take.len % frame; /* whole frames only */
        while (off < a->take.len) {
            size_t n = a->take.len - off;

            if (n > GUAC_BLOB_MAX)
                n = GUAC_BLOB_MAX - GUAC_BLOB_MAX % frame;
            guac_enc_op(out, "blob", 4);
            guac_enc_int(out, RDP_AUDIO_STREAM);
            guac_enc_base64(out, a->take.data + off, n);
            guac_enc_end(out);
            off += n;
        }
        d->audio_bytes += off;
    }
    if (!open && a->stream_open)
        stream_end(a, out);
    return off;
}
