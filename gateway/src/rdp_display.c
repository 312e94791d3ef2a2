/*
 * rdp_display.c - turn FreeRDP's drawn surface into Guacamole drawing instructions.
 *
 * How it works: the surface is cut into 64x64 tiles. FreeRDP's paint callbacks only mark
 * tiles dirty (rdp_display_mark); when the session decides to send a frame, every dirty
 * tile is compared with a copy of what the browser already shows, so a server that
 * repaints more than it changed costs a memcmp, not an image. Each changed tile is then
 * classified by counting its exact colours (stopping at 257): one colour becomes a
 * rect+cfill, up to 256 colours (text, UI) a paletted PNG, more (photos, video) a JPEG
 * whose quality the session lowers while the browser lags. Horizontal runs of tiles of
 * the same kind in a row are sent as one image to keep the instruction count down.
 *
 * Build to lossless: a tile sent as JPEG that then stays unchanged for RDP_LOSSLESS_MS is
 * sent again as PNG, a bounded number per frame and only while the browser keeps up, so
 * whatever stops moving ends up exact on the screen (text over a photo included).
 *
 * Scrolling: before the tiles, a large dirty area is checked for a vertical shift of
 * what the browser already has (row hashes vote for an offset). If most rows moved, one
 * "copy" moves them in the browser and in our copy, and only the rows that are really
 * new (the fresh line of a terminal) are encoded: RDP servers that send plain bitmaps
 * (freerdp-shadow, xrdp over VNC) never tell us about the scroll themselves.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/mem.h"
#include "guac_proto.h"
#include "rdp_priv.h"

enum {
    TILE_CLEAN = 0,
    TILE_DIRTY = 1,
    TILE_FORCE = 2
};

static uint64_t
now_us(void)
{
    struct timespec ts;

    /* CPU time of this thread: wall time would count other processes' turns too */
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int64_t
mono_now_ms(const struct rdp_display *d)
{
    struct timespec ts;

    if (d->now_ms)
        return d->now_ms;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + 1; /* never 0: 0 = exact */
}

void
rdp_display_init(struct rdp_display *d, int jpeg_quality)
{
    memset(d, 0, sizeof(*d));
    d->jpeg_quality = d->jpeg_quality_max = jpeg_quality;
    d->refresh_ms = RDP_LOSSLESS_MS;
}

void
rdp_display_fini(struct rdp_display *d)
{
    free(d->sent);
    free(d->dirty);
    free(d->lossy_ms);
    d->sent = NULL;
    d->dirty = NULL;
    d->lossy_ms = NULL;
}

void
rdp_display_resize(struct rdp_display *d, int w, int h, struct pt_buf *out)
{
    free(d->sent);
    free(d->dirty);
    free(d->lossy_ms);
    d->width = w;
    d->height = h;
    d->sent = pt_xcalloc((size_t)w * (size_t)h, 4);
    d->tiles_x = (w + RDP_TILE - 1) / RDP_TILE;
    d->tiles_y = (h + RDP_TILE - 1) / RDP_TILE;
    d->dirty = pt_xmalloc((size_t)d->tiles_x * (size_t)d->tiles_y);
    d->lossy_ms = pt_xcalloc((size_t)d->tiles_x * (size_t)d->tiles_y, sizeof(*d->lossy_ms));
    memset(d->dirty, TILE_FORCE, (size_t)d->tiles_x * (size_t)d->tiles_y);
    guac_enc(out, "size", "iii", 0LL, (long long)w, (long long)h);
}

void
rdp_display_mark(struct rdp_display *d, int x, int y, int w, int h)
{
    int x1 = x + w, y1 = y + h;

    if (x < 0)
        x = 0;
    if (y < 0)
        y = 0;
    if (x1 > d->width)
        x1 = d->width;
    if (y1 > d->height)
        y1 = d->height;
    if (x >= x1 || y >= y1)
        return;
    for (int ty = y / RDP_TILE; ty <= (y1 - 1) / RDP_TILE; ty++)
        for (int tx = x / RDP_TILE; tx <= (x1 - 1) / RDP_TILE; tx++)
            if (d->dirty[ty * d->tiles_x + tx] == TILE_CLEAN)
                d->dirty[ty * d->tiles_x + tx] = TILE_DIRTY;
}

/* Lossy tiles may be refreshed now: refreshing is on and the browser is not lagging (the
 * session lowers JPEG quality while it lags). */
static bool
refresh_allowed(const struct rdp_display *d)
{
    return d->refresh_ms > 0 && d->lossy_ms && d->jpeg_quality >= d->jpeg_quality_max;
}

static bool
refresh_due(const struct rdp_display *d, size_t i, int64_t now)
{
    return d->lossy_ms[i] && now - d->lossy_ms[i] >= d->refresh_ms;
}

bool
rdp_display_pending(const struct rdp_display *d)
{
    size_t n = (size_t)d->tiles_x * (size_t)d->tiles_y;
    int64_t now;

    if (!d->dirty)
        return false;
    if (memchr(d->dirty, TILE_DIRTY, n) || memchr(d->dirty, TILE_FORCE, n))
        return true;
    if (!refresh_allowed(d))
        return false;
    now = mono_now_ms(d);
    for (size_t i = 0; i < n; i++)
        if (refresh_due(d, i, now))
            return true;
    return false;
}

enum rdp_tile_kind
rdp_display_classify(const uint8_t *px, int stride, int w, int h, uint32_t *pal, int *npal)
{
    uint32_t key[512];
    bool used[512];
    int n = 0;

    memset(used, 0, sizeof(used));
    for (int y = 0; y < h; y++) {
        const uint32_t *row = (const uint32_t *)(px + (size_t)y * (size_t)stride);
        uint32_t last = ~0u;
        for (int x = 0; x < w; x++) {
            uint32_t c = row[x] & 0xFFFFFF, hsh;
            if (c == last) /* runs are the common case in UI and text */
                continue;
            last = c;
            hsh = (c * 2654435761u) >> 23;
            while (used[hsh] && key[hsh] != c)
                hsh = (hsh + 1) & 511;
            if (used[hsh])
                continue;
            if (n == 256)
                return RDP_TILE_JPEG;
            used[hsh] = true;
            key[hsh] = c;
            if (pal)
                pal[n] = c;
            n++;
        }
    }
    if (npal)
        *npal = n;
    return n <= 1 ? RDP_TILE_SOLID : RDP_TILE_PNG;
}

static bool
tile_same(const struct rdp_display *d, const uint8_t *fb, int stride, int x, int y, int w, int h)
{
    for (int r = 0; r < h; r++)
        if (memcmp(fb + (size_t)(y + r) * (size_t)stride + (size_t)x * 4,
                   d->sent + ((size_t)(y + r) * (size_t)d->width + (size_t)x) * 4,
                   (size_t)w * 4) != 0)
            return false;
    return true;
}

static void
remember(struct rdp_display *d, const uint8_t *fb, int stride, int x, int y, int w, int h)
{
    for (int r = 0; r < h; r++)
        memcpy(d->sent + ((size_t)(y + r) * (size_t)d->width + (size_t)x) * 4,
               fb + (size_t)(y + r) * (size_t)stride + (size_t)x * 4, (size_t)w * 4);
}

static void
emit_image(struct rdp_display *d, const uint8_t *fb, int stride, enum rdp_tile_kind kind, int x,
           int y, int w, int h, struct pt_buf *out)
{
    struct pt_buf img = PT_BUF_INIT;
    const uint8_t *px = fb + (size_t)y * (size_t)stride + (size_t)x * 4;
    uint32_t pal[256];
    int npal = 0;
    int rc;

    if (kind == RDP_TILE_PNG) {
        /* a merged run may hold more colours than each of its tiles */
        if (rdp_display_classify(px, stride, w, h, pal, &npal) == RDP_TILE_JPEG)
            rc = rdp_png_encode(&img, px, stride, w, h, false, NULL, 0);
        else
            rc = rdp_png_encode(&img, px, stride, w, h, false, pal, npal < 2 ? 2 : npal);
    } else {
        rc = rdp_jpeg_encode(&img, px, stride, w, h, d->jpeg_quality);
    }
    if (rc == 0) {
        guac_enc_image(out, d->next_stream, GUAC_MASK_OVER, 0,
                       kind == RDP_TILE_PNG ? "image/png" : "image/jpeg", x, y, img.data, img.len);
        d->next_stream = (d->next_stream + 1) % 64;
    }
    pt_buf_fini(&img);
}

static void
emit_solid(const uint8_t *px, int x, int y, int w, int h, struct pt_buf *out)
{
    guac_enc(out, "rect", "iiiii", 0LL, (long long)x, (long long)y, (long long)w, (long long)h);
    guac_enc(out, "cfill", "iiiiii", (long long)GUAC_MASK_OVER, 0LL, (long long)px[2],
             (long long)px[1], (long long)px[0], 255LL);
}

static uint64_t
row_hash(const uint8_t *p, size_t n)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a over 8-byte words */

    for (size_t i = 0; i + 8 <= n; i += 8) {
        uint64_t v;
        memcpy(&v, p + i, 8);
        h = (h ^ v) * 1099511628211ull;
    }
    return h;
}

/* A copy may have moved lossy pixels anywhere in [x0,x1) x [y0,y1): if any tile there was
 * lossy, count them all as lossy (a refresh of an exact tile only costs a small PNG). */
static void
mark_moved_lossy(struct rdp_display *d, int x0, int y0, int x1, int y1)
{
    int64_t newest = 0;

    for (int ty = y0 / RDP_TILE; ty <= (y1 - 1) / RDP_TILE; ty++)
        for (int tx = x0 / RDP_TILE; tx <= (x1 - 1) / RDP_TILE; tx++)
            if (d->lossy_ms[ty * d->tiles_x + tx] > newest)
                newest = d->lossy_ms[ty * d->tiles_x + tx];
    if (!newest)
        return;
    for (int ty = y0 / RDP_TILE; ty <= (y1 - 1) / RDP_TILE; ty++)
        for (int tx = x0 / RDP_TILE; tx <= (x1 - 1) / RDP_TILE; tx++)
            d->lossy_ms[ty * d->tiles_x + tx] = newest;
}

/* Send settled lossy tiles again as PNG, at most RDP_LOSSLESS_BUDGET per frame. */
static void
refresh_lossy(struct rdp_display *d, const uint8_t *fb, int stride, int64_t now, struct pt_buf *out)
{
    int budget = RDP_LOSSLESS_BUDGET;

    if (!refresh_allowed(d))
        return;
    for (int ty = 0; ty < d->tiles_y && budget > 0; ty++) {
        int y = ty * RDP_TILE, h = d->height - y < RDP_TILE ? d->height - y : RDP_TILE;

        for (int tx = 0; tx < d->tiles_x && budget > 0; tx++) {
            int x = tx * RDP_TILE, w = d->width - x < RDP_TILE ? d->width - x : RDP_TILE;

            if (!refresh_due(d, (size_t)(ty * d->tiles_x + tx), now))
                continue;
            emit_image(d, fb, stride, RDP_TILE_PNG, x, y, w, h, out);
            d->lossy_ms[ty * d->tiles_x + tx] = 0;
            d->st.tiles_refreshed++;
            budget--;
        }
    }
}

/* Find dy such that the new row y equals the sent row y + dy over most of
 * [x0,x1) x [y0,y1); emit "copy" and apply it to d->sent. Returns true if it did. */
static bool
detect_scroll(struct rdp_display *d, const uint8_t *fb, int stride, int x0, int y0, int x1, int y1,
              struct pt_buf *out)
{
    int h = y1 - y0, best_dy = 0, best_votes = 0;
    size_t rowb = (size_t)(x1 - x0) * 4;
    uint64_t *hn, *ho;

    if (h < 4 * RDP_TILE / 2 || x1 - x0 < 2 * RDP_TILE)
        return false;
    hn = pt_xmalloc((size_t)h * sizeof(*hn));
    ho = pt_xmalloc((size_t)h * sizeof(*ho));
    for (int y = 0; y < h; y++) {
        hn[y] = row_hash(fb + (size_t)(y0 + y) * (size_t)stride + (size_t)x0 * 4, rowb);
        ho[y] = row_hash(d->sent + ((size_t)(y0 + y) * (size_t)d->width + (size_t)x0) * 4, rowb);
    }
    /* candidate offsets from a few sample rows that changed and are not blank-alike */
    for (int k = 1; k <= 8; k++) {
        int ys = h * k / 9, dy;
        if (hn[ys] == ho[ys] || (ys > 0 && hn[ys] == hn[ys - 1]))
            continue;
        for (int y = 0; y < h; y++) {
            int votes = 0;
            if (ho[y] != hn[ys])
                continue;
            dy = y - ys;
            if (dy == 0 || dy == best_dy)
                continue;
            for (int r = 0; r < h; r++)
                if (r + dy >= 0 && r + dy < h && hn[r] == ho[r + dy])
                    votes++;
            if (votes > best_votes) {
                best_votes = votes;
                best_dy = dy;
            }
        }
    }
    free(hn);
    free(ho);
    if (best_dy == 0 || best_votes < h / 2)
        return false;
    {
        int dst = best_dy > 0 ? y0 : y0 - best_dy, src = dst + best_dy;
        int n = h - (best_dy > 0 ? best_dy : -best_dy);

        guac_enc(out, "copy", "iiiiiiiii", 0LL, (long long)x0, (long long)src, (long long)(x1 - x0),
                 (long long)n, (long long)GUAC_MASK_OVER, 0LL, (long long)x0, (long long)dst);
        /* same move in our copy; row order keeps overlapping rows intact */
        if (best_dy > 0) {
            for (int r = 0; r < n; r++)
                memmove(d->sent + ((size_t)(dst + r) * (size_t)d->width + (size_t)x0) * 4,
                        d->sent + ((size_t)(src + r) * (size_t)d->width + (size_t)x0) * 4, rowb);
        } else {
            for (int r = n - 1; r >= 0; r--)
                memmove(d->sent + ((size_t)(dst + r) * (size_t)d->width + (size_t)x0) * 4,
                        d->sent + ((size_t)(src + r) * (size_t)d->width + (size_t)x0) * 4, rowb);
        }
        d->st.copies++;
        mark_moved_lossy(d, x0, y0, x1, y1);
    }
    return true;
}

uint64_t
rdp_display_flush(struct rdp_display *d, const uint8_t *fb, int stride, struct pt_buf *out)
{
    uint64_t t0 = now_us(), changed = 0;
    int64_t now = mono_now_ms(d);
    enum rdp_tile_kind kinds[512];
    uint32_t colour[512];
    int bx0 = d->tiles_x, by0 = d->tiles_y, bx1 = -1, by1 = -1, ndirty = 0;

    /* bounding box of the dirty tiles: where a scroll may have happened */
    for (int ty = 0; ty < d->tiles_y; ty++)
        for (int tx = 0; tx < d->tiles_x; tx++)
            if (d->dirty[ty * d->tiles_x + tx] == TILE_DIRTY) {
                ndirty++;
                bx0 = tx < bx0 ? tx : bx0;
                bx1 = tx > bx1 ? tx : bx1;
                by0 = ty < by0 ? ty : by0;
                by1 = ty > by1 ? ty : by1;
            }
    if (ndirty >= 8) {
        int x1 = (bx1 + 1) * RDP_TILE, y1 = (by1 + 1) * RDP_TILE;
        detect_scroll(d, fb, stride, bx0 * RDP_TILE, by0 * RDP_TILE, x1 < d->width ? x1 : d->width,
                      y1 < d->height ? y1 : d->height, out);
    }

    for (int ty = 0; ty < d->tiles_y; ty++) {
        int y = ty * RDP_TILE, h = d->height - y < RDP_TILE ? d->height - y : RDP_TILE;

        /* classify the row */
        for (int tx = 0; tx < d->tiles_x && tx < 512; tx++) {
            int x = tx * RDP_TILE, w = d->width - x < RDP_TILE ? d->width - x : RDP_TILE;
            uint8_t st = d->dirty[ty * d->tiles_x + tx];

            kinds[tx] = RDP_TILE_SAME;
            if (st == TILE_CLEAN || (st == TILE_DIRTY && tile_same(d, fb, stride, x, y, w, h))) {
                if (st != TILE_CLEAN)
                    d->st.tiles_same++;
                continue;
            }
            kinds[tx] = rdp_display_classify(fb + (size_t)y * (size_t)stride + (size_t)x * 4,
                                             stride, w, h, NULL, NULL);
            colour[tx] =
                *(const uint32_t *)(fb + (size_t)y * (size_t)stride + (size_t)x * 4) & 0xFFFFFF;
            changed += (uint64_t)w * (uint64_t)h;
        }
        /* emit runs of equal kind (and equal colour for fills) */
        for (int tx = 0; tx < d->tiles_x && tx < 512;) {
            int end = tx + 1, x = tx * RDP_TILE, xe, w;

            if (kinds[tx] == RDP_TILE_SAME) {
                tx++;
                continue;
            }
            while (end < d->tiles_x && end < 512 && kinds[end] == kinds[tx] &&
                   (kinds[tx] != RDP_TILE_SOLID || colour[end] == colour[tx]))
                end++;
            xe = end * RDP_TILE < d->width ? end * RDP_TILE : d->width;
            w = xe - x;
            for (int k = tx; k < end; k++)
                d->lossy_ms[ty * d->tiles_x + k] = kinds[tx] == RDP_TILE_JPEG ? now : 0;
            if (kinds[tx] == RDP_TILE_SOLID) {
                emit_solid(fb + (size_t)y * (size_t)stride + (size_t)x * 4, x, y, w, h, out);
                d->st.tiles_solid += (uint64_t)(end - tx);
            } else {
                emit_image(d, fb, stride, kinds[tx], x, y, w, h, out);
                if (kinds[tx] == RDP_TILE_PNG)
                    d->st.tiles_png += (uint64_t)(end - tx);
                else
                    d->st.tiles_jpeg += (uint64_t)(end - tx);
            }
            remember(d, fb, stride, x, y, w, h);
            tx = end;
        }
    }
    memset(d->dirty, TILE_CLEAN, (size_t)d->tiles_x * (size_t)d->tiles_y);
    refresh_lossy(d, fb, stride, now, out);
    d->st.pixels_changed += changed;
    d->st.encode_us += now_us() - t0;
    return changed;
}
