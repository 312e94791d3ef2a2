/*
 * rdp_priv.h - private types shared by the RDP backend's files:
 *   rdp_backend.c  gw_backend_ops on the loop thread: parse browser input, queue it
 *   rdp_session.c  the session thread: FreeRDP connect, event loop, input injection
 *   rdp_display.c  dirty regions -> Guacamole drawing (fills, PNG, JPEG), flow control
 *   rdp_image.c    PNG (libpng) and JPEG (libjpeg-turbo) encoders
 *   rdp_keymap.c   X11 keysym -> RDP scancode / Unicode
 *   rdp_error.c    FreeRDP failures -> sentences and Guacamole status codes
 *
 * Threads: struct rdp_session is shared by the loop thread and its session thread. The
 * loop thread only touches the fields marked (loop) or (locked); the session thread owns
 * the rest. The tunnel pointer is cleared under the lock before the tunnel goes away, so
 * the session thread never posts to a dead tunnel.
 */
#ifndef PT_GATEWAY_RDP_PRIV_H
#define PT_GATEWAY_RDP_PRIV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/str.h"
#include "rdp.h"

/* --- input queue (loop thread -> session thread) ------------------------------------ */

enum rdp_input_type {
    RDP_IN_MOUSE,     /* a = x, b = y, c = button mask */
    RDP_IN_KEY,       /* a = keysym, b = pressed */
    RDP_IN_SIZE,      /* a = width, b = height */
    RDP_IN_CLIPBOARD, /* text in clip (owned) */
    RDP_IN_SYNC,      /* a = timestamp echoed by the browser (process mode wire only) */
};

struct rdp_in_event {
    enum rdp_input_type type;
    int64_t a, b, c;
    char *clip;
    size_t clip_len;
};

#define RDP_INPUT_MAX 512 /* events queued; mouse moves coalesce, overflow closes */

/* --- error mapping ------------------------------------------------------------------- */

struct rdp_failure {
    int guac_status;  /* enum guac_status */
    char reason[200]; /* a sentence for a person */
};

/* rdp_error_describe() - map FreeRDP's last error (@last_error, freerdp_get_last_error())
 * and the server's disconnect reason (@error_info, freerdp_error_info()) to a sentence and
 * a status. @host/@port are named in the sentence. Thread: any. */
void rdp_error_describe(uint32_t last_error, uint32_t error_info, const char *host, int port,
                        struct rdp_failure *out);

/* rdp_error_refine_reachable() - after a transport failure, when the desktop's port is
 * known to accept connections: replace "cannot be reached" by what it then means. */
void rdp_error_refine_reachable(uint32_t last_error, bool had_credentials, const char *host,
                                int port, struct rdp_failure *f);

/* --- keyboard and mouse -------------------------------------------------------------- */

struct rdp_input; /* FreeRDP's rdpInput */
struct rdp_session;
/* rdp_input_inject() - send one mouse or key event to the server. Session thread. */
void rdp_input_inject(struct rdp_session *s, struct rdp_input *in, const struct rdp_in_event *ev);

/* rdp_keysym_to_scancode() - the RDP scancode (RDP_SCANCODE_*: extended flag in bit 8)
 * for X11 @keysym on a US layout, or 0 if none. */
uint32_t rdp_keysym_to_scancode(uint32_t keysym);
/* rdp_keysym_to_unicode() - the Unicode code point @keysym types, or 0. */
uint32_t rdp_keysym_to_unicode(uint32_t keysym);

/* --- image encoders ------------------------------------------------------------------ */

/* rdp_png_encode() / rdp_jpeg_encode() - encode @w x @h pixels of BGRX32 (@stride bytes
 * per row) into @out (appended). PNG is paletted when @palette (n colours, 0xRRGGBB) is
 * given, else RGB(A when @alpha). Return 0 or -1 (library failure). Thread: any. */
int rdp_png_encode(struct pt_buf *out, const uint8_t *px, int stride, int w, int h, bool alpha,
                   const uint32_t *palette, int ncolors);
int rdp_jpeg_encode(struct pt_buf *out, const uint8_t *px, int stride, int w, int h, int quality);

/* --- display encoder (session thread) ------------------------------------------------ */

struct rdp_rect {
    int x, y, w, h;
};

#define RDP_TILE 64

enum rdp_tile_kind {
    RDP_TILE_SAME,  /* identical to what the browser has */
    RDP_TILE_SOLID, /* one colour: rect + cfill */
    RDP_TILE_PNG,   /* few colours: lossless paletted PNG */
    RDP_TILE_JPEG,  /* many colours: lossy */
};

struct rdp_display_stats {
    uint64_t frames, bytes, pixels_changed, encode_us;
    uint64_t tiles_solid, tiles_png, tiles_jpeg, tiles_same, copies;
    uint64_t tiles_refreshed; /* lossy tiles sent again losslessly once they settled */
};

/* A JPEG tile left unchanged this long is sent again as PNG ("build to lossless"), so a
 * photo or a page that stops moving ends up exact; tiles that keep changing (video) are
 * never refreshed. RDP_LOSSLESS_BUDGET tiles at most per frame keep the burst small. */
#define RDP_LOSSLESS_MS     1000
#define RDP_LOSSLESS_BUDGET 64

struct rdp_display {
    int width, height;
    uint8_t *sent;  /* what the browser shows, BGRX32, width*4 stride */
    uint8_t *dirty; /* one byte per tile */
    int tiles_x, tiles_y;
    int next_stream;
    int jpeg_quality, jpeg_quality_max;
    int64_t *lossy_ms; /* per tile: when it was last sent lossy (monotonic ms); 0 = exact */
    int refresh_ms;    /* RDP_LOSSLESS_MS; 0 = never refresh */
    int64_t now_ms;    /* tests pin the clock here; 0 = CLOCK_MONOTONIC */
    struct rdp_display_stats st;
};

void rdp_display_init(struct rdp_display *d, int jpeg_quality);
void rdp_display_fini(struct rdp_display *d);
/* rdp_display_resize() - new surface size: appends "size" to @out and marks all dirty. */
void rdp_display_resize(struct rdp_display *d, int w, int h, struct pt_buf *out);
void rdp_display_mark(struct rdp_display *d, int x, int y, int w, int h);
/* rdp_display_pending() - true if a tile changed, or a lossy tile is due a lossless
 * refresh (only while JPEG quality is at its maximum: not while the browser lags). */
bool rdp_display_pending(const struct rdp_display *d);
/* rdp_display_classify() - what a tile should become; exposed for unit tests. @pal
 * receives up to 256 colours (0xRRGGBB) and *@npal their count for RDP_TILE_PNG. */
enum rdp_tile_kind rdp_display_classify(const uint8_t *px, int stride, int w, int h, uint32_t *pal,
                                        int *npal);
/* rdp_display_flush() - encode every dirty tile of @fb (BGRX32, @stride) that differs
 * from what was sent into @out, and remember it as sent; then refresh settled lossy
 * tiles (at most RDP_LOSSLESS_BUDGET). Returns changed pixels (refreshes not counted). */
uint64_t rdp_display_flush(struct rdp_display *d, const uint8_t *fb, int stride,
                           struct pt_buf *out);

/* --- metrics ------------------------------------------------------------------------- */

/* A change to the process-wide counters (rdp.h struct gw_rdp_metrics); a worker process
 * sends these to the gateway, which applies them. */
struct rdp_metric_delta {
    uint64_t frames, held, bytes, px, enc_us;
    int64_t lag;
    int32_t connecting, connected, failed;
};
void rdp_metrics_apply(const struct rdp_metric_delta *d);

/* --- clipboard (rdp_clip.c) ----------------------------------------------------------- */

struct rdp_clip {
    pthread_mutex_t lock; /* the cliprdr channel thread and the session thread */
    void *cliprdr;        /* CliprdrClientContext *, while the channel is connected */
    bool ready;           /* the server's MonitorReady arrived */
    uint32_t requested;   /* format we asked the server for, 0 = none */
    char *local;          /* UTF-8 text from the browser (owned, wiped), NUL-terminated */
    size_t local_len;
};

struct rdp_session;
/* rdp_ctx_session() - the session of FreeRDP context @rdp_context (rdpContext *). */
struct rdp_session *rdp_ctx_session(void *rdp_context);
/* rdp_pointer_register() - PostConnect: draw the desktop's cursor shapes in the browser
 * (rdp_pointer.c). @rdp_context is the rdpContext *. */
void rdp_pointer_register(void *rdp_context);
/* rdp_channels_load() - PreConnect: subscribe to channel events and load the static and
 * dynamic channel add-ins the settings ask for (cliprdr, drdynvc + disp). 0 or -1. */
int rdp_channels_load(struct rdp_session *s, void *rdp_context);

/* rdp_put_utf8() - append code point @cp (<= U+10FFFF) to @b as UTF-8. */
void rdp_put_utf8(struct pt_buf *b, uint32_t cp);
/* rdp_utf16le_to_utf8() - append @len bytes of UTF-16LE (up to a NUL) to @out as UTF-8,
 * at most @max bytes, cut at a character boundary; lone surrogates become U+FFFD.
 * Returns bytes appended. */
size_t rdp_utf16le_to_utf8(struct pt_buf *out, const uint8_t *in, size_t len, size_t max);
/* rdp_utf8_to_utf16le() - append @len bytes of UTF-8 as UTF-16LE plus a NUL. Returns 0,
 * or -1 on invalid UTF-8 (or NUL). */
int rdp_utf8_to_utf16le(struct pt_buf *out, const char *in, size_t len);
/* rdp_base64_decode() - append the bytes of @len base64 chars (quads padded one by one,
 * so concatenated blobs decode). Returns 0 or -1. */
int rdp_base64_decode(struct pt_buf *out, const char *in, size_t len);
void rdp_clip_init(struct rdp_session *s);
void rdp_clip_fini(struct rdp_session *s);
/* rdp_clip_from_browser() - base64 text of a finished browser clipboard stream: keep it
 * and announce it to the desktop (policy permitting). Session thread. */
void rdp_clip_from_browser(struct rdp_session *s, const char *b64, size_t len);

/* --- the session --------------------------------------------------------------------- */

struct gw_tunnel;

struct rdp_session {
    pthread_mutex_t lock;
    struct gw_tunnel *tunnel; /* (locked) NULL once the tunnel closed */
    int sink_fd;              /* (locked) worker process: the session socket, else -1 */
    atomic_int refs;          /* loop + thread */
    atomic_bool stop;
    atomic_llong echo_ts; /* last sync timestamp echoed by the browser (loop writes) */

    /* (locked) input queue */
    struct rdp_in_event in[RDP_INPUT_MAX];
    size_t in_head, in_len;
    void *in_event; /* winpr HANDLE, set when input is queued or on stop */

    pthread_t thread;
    bool thread_started;

    /* connection parameters (copied at open; the password is wiped when the session ends,
     * kept until then for a resize reconnect) */
    char host[256];
    int port;
    char *user, *password, *domain;
    struct gw_rdp_conf conf;
    char log_id[64];

    void *instance;             /* (locked) freerdp *, NULL when not connected */
    bool finished;              /* (locked) the thread ended the session */
    struct rdp_failure failure; /* (locked) why, when finished */

    /* session thread only */
    struct rdp_display disp;
    struct pt_buf out; /* instructions outside frames (size, cursor) */
    int64_t last_sync_sent, last_flush_ms;
    struct {
        int64_t ts;
        size_t bytes;
    } flight[32];
    size_t nflight;
    uint64_t held_frames;
    int64_t lag_reported;
    int last_mouse_mask;
    struct rdp_clip clip;
    int resize_w, resize_h; /* the browser's newest size request */
    int64_t resize_at;      /* when to act on it (debounced), 0 = none */
    bool resize_fixed;      /* a resize reconnect came back at the old size: stop trying */
    /* a layout sent over disp awaits the server's DesktopResize: what we asked, from what */
    int disp_ask_w, disp_ask_h, disp_from_w, disp_from_h;
    int64_t disp_settle_at;             /* until then DesktopResizes answer it (0 = none awaited) */
    int disp_refused_w, disp_refused_h; /* a size the server answered otherwise: not again */
    bool disp_fixed;            /* the server kept its size for a layout it allows: stop asking */
    int disp_max_w, disp_max_h; /* the server's display-control caps (largest area) */
    int64_t connected_at;       /* mono ms of the connect: the disp channel comes up after it */
    int64_t refresh_at;     /* ask the server for the whole screen then (0 = no): after a resize */
    bool cert_changed;      /* TOFU refused the server's certificate (rdp_trust.c) */
    void *disp_ctx;         /* (locked) DispClientContext * while the disp channel is up */
    atomic_bool disp_ready; /* the server sent its display-control caps */
};

/* rdp_session_new() - a session for @t; does not start it. Returns new (1 ref). */
struct rdp_session *rdp_session_new(struct gw_tunnel *t, const char *host, int port,
                                    const char *secret, const struct gw_rdp_conf *conf,
                                    struct pt_err *err);
/* rdp_session_start() - spawn the session thread (takes a ref). Returns 0 or -1. */
int rdp_session_start(struct rdp_session *s, struct pt_err *err);
/* rdp_session_input() - queue one input event (loop thread). Returns 0, or -1 with @err
 * when the queue is full of events that cannot be coalesced. Takes ownership of clip. */
int rdp_session_input(struct rdp_session *s, const struct rdp_in_event *ev, struct pt_err *err);
/* rdp_session_detach() - the tunnel is closing: stop posting, stop the thread, join it
 * (bounded wait; a hung thread is left to free itself) and drop the loop's ref. */
void rdp_session_detach(struct rdp_session *s);
/* rdp_session_finished() - true once the session thread ended the session; @f (may be
 * NULL) receives why. Loop thread. */
bool rdp_session_finished(struct rdp_session *s, struct rdp_failure *f);
/* rdp_session_post() - session thread: hand @b's bytes to the tunnel. Returns 0, or -1
 * if the tunnel is gone (the thread should stop). */
int rdp_session_post(struct rdp_session *s, const struct pt_buf *b);

/* --- resize (rdp_resize.c, session thread) ------------------------------------------- */

/* rdp_resize_request() - the browser asked for @w x @h (clamped, debounced). */
void rdp_resize_request(struct rdp_session *s, int64_t w, int64_t h, int64_t now_ms);
/* rdp_resize_channel() - channel @name connected (@iface) or went away (NULL): keeps
 * the display-control channel. Any thread (FreeRDP's channel events). */
void rdp_resize_channel(struct rdp_session *s, const char *name, void *iface);
/* rdp_resize_due() - act on a settled request: reconnect @instance (freerdp *) at the new
 * size. Lowers *@wait_ms to when to look again. Returns 0, or -1 if the reconnect failed
 * (FreeRDP's last error says why). */
int rdp_resize_due(struct rdp_session *s, void *instance, int64_t now_ms, int *wait_ms);
/* rdp_resize_answered() - the server's DesktopResize to @w x @h arrived (reactivation or
 * resize): settles a pending disp request (a different size than asked is accepted and that
 * request not repeated) and schedules a full-screen refresh when the size changed, because
 * the new GDI surface is black and a server with a still screen (VNC) sends nothing. */
void rdp_resize_answered(struct rdp_session *s, int old_w, int old_h, int w, int h, int64_t now_ms);
/* rdp_wipe_settings_password() - wipe and drop the password in rdpSettings *. */
void rdp_wipe_settings_password(void *rdp_settings);

/* --- certificate trust on first use (rdp_trust.c, session thread) -------------------- */

/* rdp_trust_configure() - before connect: hand certificate checks of @instance (freerdp *)
 * to the TOFU store when conf.cert_trust_dir is set and ignore_cert is false. */
void rdp_trust_configure(struct rdp_session *s, void *instance);
/* rdp_trust_path() - the store file of @s's scope and endpoint into @out. 0 or -1. */
int rdp_trust_path(const struct rdp_session *s, char *out, size_t len);
/* rdp_trust_describe_change() - the refusal when s->cert_changed, in words. */
void rdp_trust_describe_change(const struct rdp_session *s, struct rdp_failure *f);

/* --- process isolation (rdp_proc.c) ------------------------------------------------- */

/* Worker -> gateway messages on the session socket (SOCK_SEQPACKET): one type byte, then
 * Guacamole text (RDP_SINK_GUAC) or a struct rdp_failure (RDP_SINK_FAILURE, last). */
#define RDP_SINK_GUAC    'G'
#define RDP_SINK_FAILURE 'F'
#define RDP_SINK_METRICS 'M' /* a struct rdp_metric_delta */
int rdp_sink_send(int fd, char type, const void *data, size_t len);

/* Gateway -> worker: one struct rdp_wire per input event, clipboard text appended. */
struct rdp_wire {
    uint32_t type; /* enum rdp_input_type */
    int64_t a, b, c;
};

struct rdp_proc;

/* rdp_zygote_start() - fork the session launcher now, while the process has one thread.
 * Idempotent. Returns 0 or -1 with @err. Thread: main, before any other thread exists. */
int rdp_zygote_start(struct pt_err *err);
/* rdp_proc_open() - a worker process for @t (via the zygote), plus the relay thread that
 * posts its output to @t. Returns new, or NULL with @err. Loop thread. */
struct rdp_proc *rdp_proc_open(struct gw_tunnel *t, const char *host, int port, const char *secret,
                               const struct gw_rdp_conf *conf, struct pt_err *err);
/* rdp_proc_input() - forward one event (a SYNC too). Returns 0 or -1 with @err. Loop. */
int rdp_proc_input(struct rdp_proc *p, const struct rdp_in_event *ev, struct pt_err *err);
bool rdp_proc_finished(struct rdp_proc *p, struct rdp_failure *f);
/* rdp_proc_flush() - retry input that waited for room on the socket. Loop thread. */
void rdp_proc_flush(struct rdp_proc *p);
/* rdp_proc_close() - hang up (the worker sees EOF and ends its session), join the relay
 * thread, free. Loop thread. */
void rdp_proc_close(struct rdp_proc *p);
/* rdp_proc_pid() - the worker's pid (tests kill it to prove isolation). */
int rdp_proc_pid(const struct rdp_proc *p);
/* rdp_backend_worker_pid() - the worker pid of tunnel @t, or -1 in thread mode. */
int rdp_backend_worker_pid(struct gw_tunnel *t);

#endif
