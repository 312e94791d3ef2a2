/*
 * gw_metrics.c - Prometheus text exposition of the gateway's counters.
 *
 * The counters live in one struct owned by the loop thread and are only read there, so
 * rendering needs no locks. Names follow Prometheus conventions (portico_gateway_*,
 * _total for counters, labels for protocol and refusal reason). The RDP backend keeps its
 * own counters (gw_rdp_metrics_get(), summed over its worker processes); gw.c passes a
 * snapshot to gw_metrics_render_rdp() when the backend is linked in.
 */
#include <inttypes.h>

#include "common/str.h"
#include "gw_priv.h"
#include "rdp.h" /* struct gw_rdp_metrics only: rendering needs no RDP code linked */

static const char *const refusal_names[GW_REFUSE_COUNT_] = {
    [GW_REFUSE_NO_TICKET] = "no_ticket",
    [GW_REFUSE_MALFORMED] = "malformed_ticket",
    [GW_REFUSE_SIGNATURE] = "bad_signature",
    [GW_REFUSE_EXPIRED] = "expired",
    [GW_REFUSE_AUDIENCE] = "wrong_audience",
    [GW_REFUSE_REPLAYED] = "replayed",
    [GW_REFUSE_ORIGIN] = "origin",
    [GW_REFUSE_ADDR_LIMIT] = "addr_limit",
    [GW_REFUSE_FULL] = "gateway_full",
    [GW_REFUSE_PROTOCOL] = "protocol_unavailable",
    [GW_REFUSE_BACKEND] = "desktop_unreachable",
    [GW_REFUSE_MESSAGE_SIZE] = "message_too_big",
};

const char *
gw_refusal_str(enum gw_refusal r)
{
    return (unsigned)r < GW_REFUSE_COUNT_ ? refusal_names[r] : "unknown";
}

static void
per_proto(struct pt_buf *b, const char *name, const char *help, const char *type,
          const uint64_t v[3])
{
    pt_buf_appendf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
    for (int p = AUTH_PROTO_RDP; p <= AUTH_PROTO_VNC; p++)
        pt_buf_appendf(b, "%s{protocol=\"%s\"} %" PRIu64 "\n", name,
                       auth_proto_str((enum auth_proto)p), v[p]);
}

void
gw_metrics_render(const struct gw_metrics *m, struct pt_buf *b, bool event_lib)
{
    per_proto(b, "portico_gateway_tunnels", "Open tunnels (WebSockets carrying a desktop).",
              "gauge", m->tunnels_open);
    per_proto(b, "portico_gateway_tunnels_opened_total", "Tunnels opened since start.", "counter",
              m->tunnels_total);
    per_proto(b, "portico_gateway_bytes_down_total", "Bytes desktop to browser.", "counter",
              m->bytes_down);
    per_proto(b, "portico_gateway_bytes_up_total", "Bytes browser to desktop.", "counter",
              m->bytes_up);
    pt_buf_appends(b, "# HELP portico_gateway_refusals_total Connections refused, by reason.\n"
                      "# TYPE portico_gateway_refusals_total counter\n");
    for (int r = 0; r < GW_REFUSE_COUNT_; r++)
        pt_buf_appendf(b, "portico_gateway_refusals_total{reason=\"%s\"} %" PRIu64 "\n",
                       refusal_names[r], m->refusals[r]);
    pt_buf_appendf(b,
                   "# HELP portico_gateway_queue_bytes Bytes queued in the gateway, by direction.\n"
                   "# TYPE portico_gateway_queue_bytes gauge\n"
                   "portico_gateway_queue_bytes{direction=\"down\"} %" PRIu64 "\n"
                   "portico_gateway_queue_bytes{direction=\"up\"} %" PRIu64 "\n",
                   m->queue_down_bytes, m->queue_up_bytes);
    pt_buf_appendf(b,
                   "# HELP portico_gateway_backpressure_pauses_total Times a side was paused "
                   "because its peer was slow.\n"
                   "# TYPE portico_gateway_backpressure_pauses_total counter\n"
                   "portico_gateway_backpressure_pauses_total %" PRIu64 "\n",
                   m->backpressure_pauses);
    pt_buf_appendf(b,
                   "# HELP portico_gateway_reports_total Tunnel reports to the broker.\n"
                   "# TYPE portico_gateway_reports_total counter\n"
                   "portico_gateway_reports_total{result=\"sent\"} %" PRIu64 "\n"
                   "portico_gateway_reports_total{result=\"failed\"} %" PRIu64 "\n"
                   "portico_gateway_reports_total{result=\"dropped\"} %" PRIu64 "\n"
                   "# HELP portico_gateway_reports_pending Reports waiting for the broker.\n"
                   "# TYPE portico_gateway_reports_pending gauge\n"
                   "portico_gateway_reports_pending %" PRIu64 "\n",
                   m->reports_sent, m->reports_failed, m->reports_dropped, m->reports_pending);
    pt_buf_appendf(b,
                   "# HELP portico_gateway_reloads_total Config re-reads on SIGHUP.\n"
                   "# TYPE portico_gateway_reloads_total counter\n"
                   "portico_gateway_reloads_total{result=\"ok\"} %" PRIu64 "\n"
                   "portico_gateway_reloads_total{result=\"failed\"} %" PRIu64 "\n",
                   m->reloads_ok, m->reloads_failed);
    pt_buf_appendf(b,
                   "# HELP portico_gateway_event_loop 1 for the libev loop, 0 for poll().\n"
                   "# TYPE portico_gateway_event_loop gauge\n"
                   "portico_gateway_event_loop{impl=\"%s\"} 1\n",
                   event_lib ? "libev" : "poll");
}

static void
counter(struct pt_buf *b, const char *name, const char *help, unsigned long long v)
{
    pt_buf_appendf(b, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name, name, v);
}

void
gw_metrics_render_rdp(const struct gw_rdp_metrics *r, struct pt_buf *b)
{
    /* Upper edges of rdp_metrics.c's buckets, in seconds; the last bucket is +Inf. */
    static const char *const le[GW_RDP_ENCODE_BUCKETS] = {"0.001", "0.002", "0.005", "0.01",
                                                          "0.02",  "0.05",  "0.1",   "+Inf"};
    unsigned long long cum = 0;

    counter(b, "portico_gateway_rdp_frames_total",
            "RDP frames sent to browsers (each ends "
            "with a Guacamole sync).",
            r->frames);
    counter(b, "portico_gateway_rdp_frames_held_total",
            "RDP flushes deferred because the "
            "browser lagged.",
            r->frames_held);
    counter(b, "portico_gateway_rdp_bytes_total", "Guacamole bytes the RDP backend sent.",
            r->bytes);
    counter(b, "portico_gateway_rdp_changed_pixels_total", "Pixels sent as fills or images.",
            r->changed_px);
    pt_buf_appends(b, "# HELP portico_gateway_rdp_frame_encode_seconds Time to encode one "
                      "RDP frame for the browser.\n"
                      "# TYPE portico_gateway_rdp_frame_encode_seconds histogram\n");
    for (int i = 0; i < GW_RDP_ENCODE_BUCKETS; i++) {
        cum += r->encode_hist[i];
        pt_buf_appendf(b, "portico_gateway_rdp_frame_encode_seconds_bucket{le=\"%s\"} %llu\n",
                       le[i], cum);
    }
    pt_buf_appendf(b,
                   "portico_gateway_rdp_frame_encode_seconds_sum %llu.%06llu\n"
                   "portico_gateway_rdp_frame_encode_seconds_count %llu\n",
                   r->encode_us / 1000000, r->encode_us % 1000000, cum);
    pt_buf_appendf(b,
                   "# HELP portico_gateway_rdp_sessions RDP sessions, by state.\n"
                   "# TYPE portico_gateway_rdp_sessions gauge\n"
                   "portico_gateway_rdp_sessions{state=\"connecting\"} %llu\n"
                   "portico_gateway_rdp_sessions{state=\"connected\"} %llu\n",
                   r->sessions_connecting, r->sessions_connected);
    counter(b, "portico_gateway_rdp_session_failures_total",
            "RDP sessions that failed to "
            "connect.",
            r->sessions_failed);
    pt_buf_appendf(b,
                   "# HELP portico_gateway_rdp_lag_max_seconds Worst browser lag seen (sync "
                   "echo), since start.\n"
                   "# TYPE portico_gateway_rdp_lag_max_seconds gauge\n"
                   "portico_gateway_rdp_lag_max_seconds %lld.%03lld\n",
                   r->lag_ms_max / 1000, r->lag_ms_max % 1000);
    counter(b, "portico_gateway_rdp_audio_streams_total",
            "Audio streams opened in browsers (one per session and sound format).",
            r->audio_streams);
    counter(b, "portico_gateway_rdp_audio_bytes_total", "PCM bytes sent to browsers.",
            r->audio_bytes);
    counter(b, "portico_gateway_rdp_audio_drops_total",
            "Audio packets dropped because the browser lagged.", r->audio_drops);
    counter(b, "portico_gateway_rdp_channel_retries_total",
            "RDP connects retried without optional channels (the server joined fewer).",
            r->channel_retries);
}
