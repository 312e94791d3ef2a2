/*
 * rdp_metrics.c - the RDP backend's process-wide counters (rdp.h gw_rdp_metrics).
 *
 * Sessions add to them through rdp_metrics_apply(); a session in a worker process sends
 * its deltas to the gateway instead (rdp_proc.c), so the gateway's figures cover every
 * worker. Relaxed atomics: these are counters, not synchronisation.
 */
#include <stdatomic.h>

#include "rdp_priv.h"

/* Process-wide metrics (gw_rdp_metrics_get); relaxed atomics are enough for counters. */
static struct {
    atomic_ullong frames, frames_held, bytes, changed_px, encode_us;
    atomic_ullong encode_hist[GW_RDP_ENCODE_BUCKETS];
    atomic_ullong connecting, connected, failed;
    atomic_llong lag_ms_max;
    atomic_ullong audio_streams, audio_bytes, audio_drops, channel_retries;
} m;

void
gw_rdp_metrics_get(struct gw_rdp_metrics *out)
{
    out->frames = atomic_load(&m.frames);
    out->frames_held = atomic_load(&m.frames_held);
    out->bytes = atomic_load(&m.bytes);
    out->changed_px = atomic_load(&m.changed_px);
    out->encode_us = atomic_load(&m.encode_us);
    for (int i = 0; i < GW_RDP_ENCODE_BUCKETS; i++)
        out->encode_hist[i] = atomic_load(&m.encode_hist[i]);
    out->sessions_connecting = atomic_load(&m.connecting);
    out->sessions_connected = atomic_load(&m.connected);
    out->sessions_failed = atomic_load(&m.failed);
    out->lag_ms_max = atomic_load(&m.lag_ms_max);
    out->audio_streams = atomic_load(&m.audio_streams);
    out->audio_bytes = atomic_load(&m.audio_bytes);
    out->audio_drops = atomic_load(&m.audio_drops);
    out->channel_retries = atomic_load(&m.channel_retries);
}

void
rdp_metrics_apply(const struct rdp_metric_delta *d)
{
    static const uint64_t edge_ms[GW_RDP_ENCODE_BUCKETS - 1] = {1, 2, 5, 10, 20, 50, 100};
    int b = 0;

    if (d->frames) {
        while (b < GW_RDP_ENCODE_BUCKETS - 1 && d->enc_us >= edge_ms[b] * 1000)
            b++;
        atomic_fetch_add(&m.encode_hist[b], d->frames);
    }
    atomic_fetch_add(&m.frames, d->frames);
    atomic_fetch_add(&m.frames_held, d->held);
    atomic_fetch_add(&m.bytes, d->bytes);
    atomic_fetch_add(&m.changed_px, d->px);
    atomic_fetch_add(&m.encode_us, d->enc_us);
    atomic_fetch_add(&m.connecting, (unsigned long long)(long long)d->connecting);
    atomic_fetch_add(&m.connected, (unsigned long long)(long long)d->connected);
    atomic_fetch_add(&m.failed, (unsigned long long)(long long)d->failed);
    atomic_fetch_add(&m.audio_streams, d->audio_streams);
    atomic_fetch_add(&m.audio_bytes, d->audio_bytes);
    atomic_fetch_add(&m.audio_drops, d->audio_drops);
    atomic_fetch_add(&m.channel_retries, d->channel_retries);
    if (d->lag > atomic_load(&m.lag_ms_max))
        atomic_store(&m.lag_ms_max, d->lag);
}
